# SPDX-License-Identifier: MIT
# sublk: a static, dependency-free ublk server.
#   make            static, size-optimised ./sublk (musl-gcc when installed)
#   make test       host unit tests (no ublk driver needed)
#   make check      unit tests, check-dist, end-to-end suite in the test VM
#                   (newest kernel), initramfs test on x86_64 and arm64
#   make check-kernels   the e2e suite on every supported kernel series
#   make check-selftests  the kernel's ublk selftests (Linux source from
#                   Debian) with sublk as their kublk server, in the VM
#   make check-initramfs  sublk in a bare busybox initramfs (also in check)
#   make check-boot the root file system on sublk: initramfs, switch_root, shutdown
#   make check-boot-initramfs-tools, check-boot-dracut  the same from an image
#                   built by mkinitramfs or dracut with the shipped files
#   make check-boot-nbd  the same with the root on an nbd device
#   make check-systemd  the systemd units with systemd as PID 1, two boots
#   make size       stripped size of the binary
#   make bench      fio against null_blk and kernel loop in the VM (tools/bench/README)
#   make ARCH=arm64 ./sublk-arm64, cross-built (or CROSS_COMPILE=aarch64-linux-gnu-)
#   make check-arm64     ./sublk-arm64 in the initramfs test on an arm64 VM
#   make fuzz       every libFuzzer harness for FUZZ_TIME seconds (default 60)
#   make check-asan the e2e suite with the daemon built with ASan and UBSan
#   make soak       1000 add / I/O / kill or del cycles in the VM (SOAK_CYCLES)
#   make install    the stripped binary and dist/ (man pages, completion, systemd
#                   units, udev rule, initramfs hooks) under $(DESTDIR)$(PREFIX)
#   make check-dist the shipped files: lint, units, install, initramfs images
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
else ifneq ($(MUSL_GCC),)
CC := musl-gcc
else
# Never silently an 800 KB glibc binary: say what to do instead.
CC = $(error musl-gcc not found: install musl-tools (apt-get install musl-tools), or build against glibc on purpose with 'make CC=gcc')
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
UBLK_SRC    := ublk/ctrl.c ublk/dev.c ublk/thread.c ublk/batch.c ublk/queue.c ublk/shmem.c ublk/log.c
BACKEND_SRC := backend/backend.c backend/null.c backend/mem.c backend/loop.c backend/stripe.c backend/fault.c \
	       backend/nbd_proto.c backend/nbd_handshake.c backend/nbd_uri.c \
	       backend/nbd.c backend/nbd_conn.c backend/nbd_io.c backend/nbd_sock.c backend/zoned.c
CLI_SRC     := main.c cli/kublk.c cli/kublk_cmds.c cli/add.c cli/daemon.c cli/del.c cli/list.c cli/features.c cli/opts.c cli/opts_integrity.c cli/ctl.c \
	       cli/util.c cli/daemonid.c cli/table.c cli/disk.c cli/up.c cli/notify.c
RUNSTATE_SRC := cli/runstate.c cli/runstate_dir.c cli/runstate_pid.c
CLI_SRC     += $(RUNSTATE_SRC)
SRC := $(URING_SRC) $(UBLK_SRC) $(BACKEND_SRC) $(CLI_SRC)
OBJ := $(SRC:%.c=$(BUILD)/%.o)
HDR := $(wildcard */*.h *.h)

UNIT_TESTS := $(patsubst tests/unit/%.c,build/tests/%,$(wildcard tests/unit/test_*.c))
TEST_CFLAGS := -O1 -g $(WARN) -std=gnu11 -D_GNU_SOURCE -fsanitize=address,undefined \
	       -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TEST_LIB_SRC := $(URING_SRC) $(BACKEND_SRC) ublk/log.c cli/opts.c cli/opts_integrity.c cli/table.c cli/notify.c \
		tests/unit/queue_stub.c
TEST_LIB_SRC += $(RUNSTATE_SRC)

# Fuzz harnesses (libFuzzer, clang): tests/fuzz/fuzz_NAME.c.  `make fuzz`
# runs each for FUZZ_TIME seconds; `make test` replays every saved input
# (tests/fuzz/regress/NAME/*, crashes found become files there) through
# the same harness built with gcc and the sanitizers.
FUZZ_TIME    ?= 60
FUZZ_CC      ?= clang
FUZZERS      := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined
REPLAYERS    := $(FUZZERS:%=build/tests/replay_%)

# test_queue runs the real I/O path; the other tests fake the queue
TEST_QUEUE_SRC := ublk/queue.c ublk/batch.c ublk/thread.c

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

build/tests/%: tests/unit/%.c $(TEST_LIB_SRC) $(HDR) tests/unit/unit.h tests/unit/fake_queue.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOSTCC) $(TEST_CFLAGS) -o $@ $< $(TEST_LIB_SRC) $(TEST_EXTRA_SRC) -pthread

build/tests/test_queue: TEST_EXTRA_SRC := $(TEST_QUEUE_SRC)
build/tests/test_queue: $(TEST_QUEUE_SRC)

build/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(TEST_LIB_SRC) $(HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOSTCC) $(TEST_CFLAGS) -o $@ $< tests/fuzz/replay.c $(TEST_LIB_SRC) -pthread

build/fuzz/%: tests/fuzz/fuzz_%.c $(TEST_LIB_SRC) $(HDR)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(TEST_LIB_SRC) -pthread

fuzz: $(FUZZERS:%=build/fuzz/%)
	$(Q)tests/fuzz/run $(FUZZ_TIME) $(FUZZERS)

# The daemon with ASan and UBSan (glibc, dynamic) through the e2e suite.
ASAN_BIN := build/asan/sublk
$(ASAN_BIN): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (ASan, UBSan)"
	$(Q)$(HOSTCC) -O1 -g $(WARN) -std=gnu11 -D_GNU_SOURCE -DSUBLK_VERSION=\"$(VERSION)-asan\" \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -o $@ $(SRC) -pthread

check-asan: $(ASAN_BIN)
	$(Q)tools/vm/run --cpus 4 --timeout 3600 -- tests/e2e/asan-run $(CURDIR)/$(ASAN_BIN)

# 1000 add / I/O / kill -9 or del cycles in the VM, then nothing left.
SOAK_CYCLES ?= 1000
soak: sublk
	$(Q)tools/vm/run --cpus 2 --timeout 7200 -- tests/soak $(SOAK_CYCLES)

$(ARM64_MUSL)/musl-gcc.specs: tools/arm64-sysroot
	@echo "  FETCH   arm64 musl"
	$(Q)tools/arm64-sysroot $(ARM64_MUSL)

test: $(UNIT_TESTS) $(REPLAYERS)
	$(Q)tests/unit/run $(UNIT_TESTS)
	$(Q)tests/fuzz/replay-all $(FUZZERS)
	$(Q)tests/build-test.sh

check: test sublk
	$(Q)$(MAKE) --no-print-directory check-dist
	$(Q)tools/vm/run --cpus 4 --tcg-single --timeout 3600 -- tests/e2e/runner
	$(Q)tools/vm/initramfs-test
	$(Q)$(MAKE) --no-print-directory check-arm64

check-kernels: sublk
	$(Q)bad=; for k in $(KERNELS); do \
		echo "=== kernel $$k"; \
		tools/vm/run --cpus 4 --tcg-single --timeout 3600 --kernel $$k -- tests/e2e/runner -k $$k || bad="$$bad $$k"; \
	done; \
	if [ -n "$$bad" ]; then echo "check-kernels: failed on$$bad"; exit 1; fi

# The kernel's own ublk selftests (Debian's linux-source of the newest
# kernel) with sublk as their kublk, in the VM: tools/vm/ublk-selftests.
# Not part of check.  SELFTESTS="null_01 loop_02" runs only those.
check-selftests: sublk
	$(Q)tools/vm/ublk-selftests $(SELFTESTS)

check-harness: sublk
	$(Q)tests/harness-selftest.sh

check-initramfs: $(BIN)
	$(Q)tools/vm/initramfs-test --arch $(ARCH_NAME)

# The root file system on a sublk loop device: an initramfs brings it up,
# switch_root, checks, a clean shutdown, e2fsck on the host (about a minute).
check-boot: sublk
	$(Q)tools/vm/boot-test

# The same from an image that Debian's mkinitramfs, or dracut, built with
# the shipped hook and scripts and udev rule (root: a mount namespace).
check-boot-initramfs-tools: sublk
	$(Q)tools/vm/boot-test --initramfs-tools

check-boot-dracut: sublk
	$(Q)tools/vm/boot-test --dracut

# The root on an nbd device: nbdkit in the initramfs serves the virtio disk.
check-boot-nbd: sublk
	$(Q)tools/vm/boot-test --nbd

# The units under systemd as PID 1 (the host's, on its root over 9p): start,
# stop and a killed daemon of sublk@NAME, sublk.service across a reboot.
check-systemd: sublk
	$(Q)tools/vm/systemd-test

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

# What a distribution ships (dist/, README.md "Installed files"), and
# where.  Distributions use PREFIX=/usr: initramfs-tools and dracut look
# nowhere under /usr/local.  @SBINDIR@, @UDEVDIR@ and @LIBDIR@ in the files
# become the paths below.
SBINDIR      ?= $(PREFIX)/sbin
MANDIR       ?= $(PREFIX)/share/man
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
UNITDIR      ?= $(PREFIX)/lib/systemd/system
UDEVDIR      ?= $(PREFIX)/lib/udev
SUBLKLIBDIR  ?= $(PREFIX)/lib/sublk
INITRAMFSDIR ?= $(PREFIX)/share/initramfs-tools
DRACUTDIR    ?= $(PREFIX)/lib/dracut/modules.d
# SOURCE:MODE:DESTINATION
DIST_FILES := \
	dist/man/sublk.8:0644:$(MANDIR)/man8/sublk.8 \
	dist/man/sublktab.5:0644:$(MANDIR)/man5/sublktab.5 \
	dist/bash-completion/sublk:0644:$(BASHCOMPDIR)/sublk \
	dist/systemd/sublk.service:0644:$(UNITDIR)/sublk.service \
	dist/systemd/sublk@.service:0644:$(UNITDIR)/sublk@.service \
	dist/systemd/sublk-net@.service:0644:$(UNITDIR)/sublk-net@.service \
	dist/udev/60-sublk.rules:0644:$(UDEVDIR)/rules.d/60-sublk.rules \
	dist/udev/sublk-owner:0755:$(UDEVDIR)/sublk-owner \
	dist/lib/initramfs-table:0755:$(SUBLKLIBDIR)/initramfs-table \
	dist/initramfs-tools/hooks/sublk:0755:$(INITRAMFSDIR)/hooks/sublk \
	dist/initramfs-tools/scripts/local-top/sublk:0755:$(INITRAMFSDIR)/scripts/local-top/sublk \
	dist/dracut/90sublk/module-setup.sh:0755:$(DRACUTDIR)/90sublk/module-setup.sh \
	dist/dracut/90sublk/sublk-up.sh:0755:$(DRACUTDIR)/90sublk/sublk-up.sh \
	dist/dracut/90sublk/sublk-finished.sh:0755:$(DRACUTDIR)/90sublk/sublk-finished.sh
DIST_SED := sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@UDEVDIR@|$(UDEVDIR)|g' \
	-e 's|@LIBDIR@|$(SUBLKLIBDIR)|g'

install: $(BIN)
	@mkdir -p $(BUILD)
	$(Q)$(STRIP) -o $(BUILD)/$(BIN).stripped $(BIN)
	install -D -m 0755 $(BUILD)/$(BIN).stripped $(DESTDIR)$(SBINDIR)/sublk
	$(Q)for f in $(DIST_FILES); do \
		src=$${f%%:*}; rest=$${f#*:}; mode=$${rest%%:*}; dest=$(DESTDIR)$${rest#*:}; \
		echo "  INSTALL $$dest"; \
		mkdir -p "$${dest%/*}" && $(DIST_SED) "$$src" > "$$dest" && \
			chmod "$$mode" "$$dest" || { rm -f "$$dest"; exit 1; }; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/sublk
	$(Q)for f in $(DIST_FILES); do \
		dest=$(DESTDIR)$${f#*:*:}; echo "  RM      $$dest"; rm -f "$$dest"; \
	done
	$(Q)rmdir $(DESTDIR)$(DRACUTDIR)/90sublk $(DESTDIR)$(SUBLKLIBDIR) 2> /dev/null || true

# The shipped files: man pages (mandoc lint, every command and option of
# the help), units (systemd-analyze verify), scripts (bash -n), install and
# uninstall, initramfs images built with mkinitramfs and dracut.
check-dist: $(BIN)
	$(Q)tests/dist/run

clean:
	rm -rf build sublk sublk-arm64

.PHONY: all test check check-selftests check-initramfs check-arm64 check-kernels check-harness vm-shell \
	size install uninstall clean fuzz check-asan soak check-dist check-boot \
	check-boot-initramfs-tools check-boot-dracut check-systemd check-boot-nbd
