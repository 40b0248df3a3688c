# SPDX-License-Identifier: MIT
# sublk: a static, dependency-free ublk server.
#   make            static, size-optimised ./sublk (musl-gcc when installed)
#   make test       host unit tests (no ublk driver needed)
#   make check      unit tests + end-to-end suite in the test VM (newest kernel)
#   make check-kernels   the e2e suite on every supported kernel series
#   make size       stripped size of the binary
#   make V=1        show the commands

VERSION := 0.1.0
PREFIX  ?= /usr/local
DESTDIR ?=
ARCH    ?= $(shell uname -m)

MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
ifeq ($(origin CC),default)
CC := $(if $(MUSL_GCC),musl-gcc,gcc)
endif
HOSTCC  ?= gcc
STRIP   ?= strip

WARN    := -Wall -Wextra -Wno-unused-parameter
CFLAGS  ?= -Os -g
CFLAGS  += $(WARN) -std=gnu11 -D_GNU_SOURCE -DSUBLK_VERSION=\"$(VERSION)\" \
	   -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
	   -fno-stack-protector
LDFLAGS ?=
LDFLAGS += -static -Wl,--gc-sections -pthread

URING_SRC   := uring/uring.c
UBLK_SRC    := ublk/ctrl.c ublk/dev.c ublk/queue.c ublk/log.c
BACKEND_SRC := backend/backend.c backend/null.c backend/mem.c backend/loop.c backend/fault.c
CLI_SRC     := main.c cli/add.c cli/daemon.c cli/del.c cli/list.c cli/features.c cli/rundir.c cli/opts.c cli/ctl.c
SRC := $(URING_SRC) $(UBLK_SRC) $(BACKEND_SRC) $(CLI_SRC)
OBJ := $(SRC:%.c=build/%.o)
HDR := $(wildcard */*.h *.h)

UNIT_TESTS := $(patsubst tests/unit/%.c,build/tests/%,$(wildcard tests/unit/test_*.c))
TEST_CFLAGS := -O1 -g $(WARN) -std=gnu11 -D_GNU_SOURCE -fsanitize=address,undefined \
	       -fno-omit-frame-pointer
TEST_LIB_SRC := $(URING_SRC) $(BACKEND_SRC) ublk/log.c cli/opts.c tests/unit/queue_stub.c

ifeq ($(V),1)
Q :=
else
Q := @
endif

all: sublk

sublk: $(OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDFLAGS)

build/%.o: %.c $(HDR) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

build/tests/%: tests/unit/%.c $(TEST_LIB_SRC) $(HDR) tests/unit/unit.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOSTCC) $(TEST_CFLAGS) -o $@ $< $(TEST_LIB_SRC) -pthread

test: $(UNIT_TESTS)
	$(Q)tests/unit/run $(UNIT_TESTS)

check: test sublk
	$(Q)tools/vm/run --cpus 4 -- tests/e2e/runner

check-kernels: sublk
	$(Q)for k in 6.12 6.16 7.0 newest; do \
		echo "=== kernel $$k"; \
		tools/vm/run --cpus 4 --kernel $$k -- tests/e2e/runner || exit 1; \
	done

vm-shell: sublk
	tools/vm/run --console -- bash

size: sublk
	$(Q)$(STRIP) -o build/sublk.stripped sublk
	$(Q)printf 'sublk (%s, static, stripped): %s bytes\n' $(ARCH) \
		$$(stat -c %s build/sublk.stripped)

install: sublk
	install -D -m 0755 sublk $(DESTDIR)$(PREFIX)/sbin/sublk

clean:
	rm -rf build sublk

.PHONY: all test check check-kernels vm-shell size install clean
