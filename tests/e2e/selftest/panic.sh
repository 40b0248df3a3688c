#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 60
#
# Panics the guest kernel (sysrq c) every time it runs.  Not part of the
# suite: tests/harness-selftest.sh checks that the runner reruns it once in a
# fresh boot, then fails it (a second panic in the same test), and goes on
# with the tests after it.

. "$(dirname "$0")/../lib.sh"

[ -n "${SUBLK_VM:-}" ] || skip "panics the kernel: only in the test VM"
echo "panicking the guest kernel"
echo 1 > /proc/sys/kernel/sysrq
echo c > /proc/sysrq-trigger
sleep 10
fail "the kernel did not panic on sysrq c"
