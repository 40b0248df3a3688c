#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 10
#
# The first time it runs with this results dir, stops the runner (SIGSTOP)
# so the guest makes no more progress, as if it hung; passes the next time.
# Not part of the suite: tests/harness-selftest.sh checks that tools/vm/run
# sees the runner's watchdog expire (10 s + SUBLK_VM_WATCHDOG_GRACE), kills
# the VM and resumes the suite in a fresh boot that reruns this test.  Give
# it a fresh results dir (tools/vm/run --results): the mark stays there.

. "$(dirname "$0")/../lib.sh"

[ -n "${SUBLK_VM:-}" ] || skip "stops the runner: only in the test VM"
[ -n "${RESULTS:-}" ] || skip "no results dir"
mark=$RESULTS/selftest-stall-once.done
if [ -e "$mark" ]; then
	echo "$mark is there: the guest was stopped in an earlier boot; passing"
	exit 0
fi
grep -q runner "/proc/$PPID/cmdline" || fail "parent $PPID is not the runner"
echo "stopped the runner in boot $(cat /proc/sys/kernel/random/boot_id)" > "$mark"
echo "stopping the runner (pid $PPID)"
kill -STOP "$PPID"
sleep 600
