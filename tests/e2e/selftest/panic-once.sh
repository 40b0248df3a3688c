#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 60
#
# Panics the guest kernel (sysrq c) the first time it runs with this results
# dir, and passes the next time.  Not part of the suite:
# tests/harness-selftest.sh checks that tools/vm/run and the runner resume
# the suite in a fresh boot, rerun this test once and end green.  Give it a
# fresh results dir (tools/vm/run --results): the mark stays there.

. "$(dirname "$0")/../lib.sh"

[ -n "${SUBLK_VM:-}" ] || skip "panics the kernel: only in the test VM"
[ -n "${RESULTS:-}" ] || skip "no results dir"
mark=$RESULTS/selftest-panic-once.done
if [ -e "$mark" ]; then
	echo "$mark is there: the kernel panicked in an earlier boot; passing"
	exit 0
fi
# The mark is on the host (9p writes through) before the kernel goes.
echo "panicked in boot $(cat /proc/sys/kernel/random/boot_id)" > "$mark"
echo "panicking the guest kernel"
echo 1 > /proc/sys/kernel/sysrq
echo c > /proc/sysrq-trigger
sleep 10
fail "the kernel did not panic on sysrq c"
