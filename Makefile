# SPDX-License-Identifier: MIT
# sublk: a static, dependency-free ublk server.
#   make            static, size-optimised ./sublk (musl-gcc when installed)
#   make test       host unit tests (no ublk driver needed)
#   make check      unit tests, end-to-end suite in the test VM (newest kernel),
#                   initramfs test on x86_64 and arm64
#   make check-kernels   the e2e suite on every supported kernel series
#   make check-initramfs  sublk in a bare busybox initramfs (also in check)
#   make size       stripped size of the binary
#   make bench      fio against null_blk and kernel loop in the VM (tools/bench/README)
#   make ARCH=arm64 ./sublk-arm64, cross-built (or CROSS_COMPILE=aarch64-linux-gnu-)
#   make check-arm64     ./sublk-arm64 in the initramfs test on an arm64 VM
#   make V=1        show the commands

VERSION := 0.1.0
PREFIX  ?= /usr/local
DESTDIR ?=
ARCH    ?= $(shell uname -m)

# Cross build for arm64 on another host: ./sublk-arm64 from build/arm64/,
# with Debian's gcc-aarch64-linux-gnu and Debian's arm64 musl, which
# tools/arm64-sysroot unpacks into the cache.
SUBLK_CACHE  ?= $(HOME)/.cache/sublk
ARM64_MUSL   ?= $(SUBLK_CACHE)/musl-arm64
ifneq ($(filter aarch64-%,$(CROSS_COMPILE)),)
CROSS_ARCH := arm64
else ifneq ($(filter arm64 aarch64,$(ARCH)),)
ifneq ($(shell uname -m),aarch64)
CROSS_ARCH := arm64
CROSS_COMPILE ?= aarch64-linux-gnu-
endif
endif
ifeq ($(CROSS_ARCH),arm64)
BIN        := sublk-arm64
BUILD      := build/arm64
ARCH_NAME  := arm64
else
BIN        := sublk
BUILD      := build
ARCH_NAME  := $(ARCH)
endif

MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
ifeq ($(origin CC),default)
ifeq ($(CROSS_ARCH),arm64)
CC := $(CROSS_COMPILE)gcc -specs=$(ARM64_MUSL)/musl-gcc.specs
LIBC_DEP := $(ARM64_MUSL)/musl-gcc.specs
else
CC := $(if $(MUSL_GCC),musl-gcc,gcc)
endif
endif
HOSTCC  ?= gcc
STRIP   ?= $(CROSS_COMPILE)strip

WARN    := -Wall -Wextra -Wno-unused-parameter
CFLAGS  ?= -Os -g
CFLAGS  += $(WARN) -std=gnu11 -D_GNU_SOURCE -DSUBLK_VERSION=\"$(VERSION)\" \
	   -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables \
	   -fno-stack-protector
LDFLAGS ?=
LDFLAGS += -static -Wl,--gc-sections -pthread
ifeq ($(CROSS_ARCH),arm64)
# musl gives a static binary no RELRO, and ld would pad the file to align
# it on a 64 KiB page: 12 KiB of zeros.
LDFLAGS += -Wl,-z,norelro
endif

# Debian's mirror has no installable 6.19, 7.0 or 7.1 (their modules packages
# are missing): 7.2 stands in between 6.16 and the newest.
KERNELS ?= 6.12 6.16 7.2 newest

URING_SRC   := uring/uring.c
UBLK_SRC    := ublk/ctrl.c ublk/dev.c ublk/queue.c ublk/batch.c ublk/log.c
BACKEND_SRC := backend/backend.c backend/null.c backend/mem.c backend/loop.c backend/fault.c
CLI_SRC     := main.c cli/add.c cli/daemon.c cli/del.c cli/list.c cli/features.c cli/rundir.c cli/opts.c cli/ctl.c
SRC := $(URING_SRC) $(UBLK_SRC) $(BACKEND_SRC) $(CLI_SRC)
OBJ := $(SRC:%.c=$(BUILD)/%.o)
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

all: $(BIN)

$(BIN): $(OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDFLAGS)

$(BUILD)/%.o: %.c $(HDR) Makefile | $(LIBC_DEP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

build/tests/%: tests/unit/%.c $(TEST_LIB_SRC) $(HDR) tests/unit/unit.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOSTCC) $(TEST_CFLAGS) -o $@ $< $(TEST_LIB_SRC) -pthread

$(ARM64_MUSL)/musl-gcc.specs: tools/arm64-sysroot
	@echo "  FETCH   arm64 musl"
	$(Q)tools/arm64-sysroot $(ARM64_MUSL)

test: $(UNIT_TESTS)
	$(Q)tests/unit/run $(UNIT_TESTS)

check: test sublk
	$(Q)tools/vm/run --cpus 4 --tcg-single --timeout 3600 -- tests/e2e/runner
	$(Q)tools/vm/initramfs-test
	$(Q)$(MAKE) --no-print-directory check-arm64

check-kernels: sublk
	$(Q)bad=; for k in $(KERNELS); do \
		echo "=== kernel $$k"; \
		tools/vm/run --cpus 4 --tcg-single --timeout 3600 --kernel $$k -- tests/e2e/runner -k $$k || bad="$$bad $$k"; \
	done; \
	if [ -n "$$bad" ]; then echo "check-kernels: failed on$$bad"; exit 1; fi

check-harness: sublk
	$(Q)tests/harness-selftest.sh

check-initramfs: $(BIN)
	$(Q)tools/vm/initramfs-test --arch $(ARCH_NAME)

check-arm64:
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 check-initramfs

vm-shell: sublk
	tools/vm/run --console -- bash

# make bench BENCH_ARGS="--quick" (or --rounds N, --out DIR: tools/bench/README)
bench: sublk
	$(Q)tools/bench/run $(BENCH_ARGS)

size: $(BIN)
	$(Q)$(STRIP) -o $(BUILD)/$(BIN).stripped $(BIN)
	$(Q)printf '$(BIN) (%s, static, stripped): %s bytes\n' $(ARCH_NAME) \
		$$(stat -c %s $(BUILD)/$(BIN).stripped)

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/sublk

clean:
	rm -rf build sublk sublk-arm64

.PHONY: all test check check-initramfs check-arm64 check-kernels check-harness vm-shell \
	size install clean
