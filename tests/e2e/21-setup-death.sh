#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon dies (SIGKILL) at each point of its setup: the caller of add
# gets an error at once and the half-made device is removed.  Then a queue
# thread of a LIVE device is killed: I/O fails, del works.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"

for point in after_add queue_setup before_start; do
	out=$(SUBLK_TEST_DIE_AT=$point timeout 60 "$SUBLK" add -t null -q 2 2>&1)
	rc=$?
	[ $rc -ne 124 ] || fail "add hung when the daemon died at $point"
	[ $rc -ne 0 ] || fail "add succeeded although the daemon died at $point"
	case $out in
	*"daemon exited during setup"*) ;;
	*) fail "die at $point: unexpected message '$out'" ;;
	esac
	assert_no_ublk_devices
	assert_no_zombies
	echo "ok die at $point: '$out', nothing left"
done

# kill -9 one queue thread of a live device (SIGKILL takes the process)
id=$(sublk_add -t null -q 2) || fail "add failed"
tid=$("$SUBLK" list -n "$id" | sed -n 's/.*queue 1: tid \([0-9]*\).*/\1/p')
[ -n "$tid" ] || fail "no queue 1 tid in list"
pid=$(daemon_pid "$id")
kill -9 "$tid"
wait_pid_gone "$pid" 10 || fail "daemon survived kill -9 of its queue thread"
timeout 10 dd if=/dev/ublkb$id of=/dev/null bs=4k count=1 iflag=direct status=none 2> /dev/null &&
	fail "I/O succeeded after the queue thread was killed"
sublk_del "$id" || fail "del after queue thread kill failed"
assert_no_dstate
assert_no_ublk_devices
echo "ok kill -9 of a queue thread: I/O failed, del worked"
