#!/bin/bash
# SPDX-License-Identifier: MIT
# stop, stop --safe (refused while the disk is open), quiesce + recover
# (a daemon upgrade without losing the device), del --async.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"

# plain stop: the daemon exits, the device stays (DEAD) until del
id=$(sublk_add -t null) || fail "add failed"
pid=$(daemon_pid "$id")
"$SUBLK" stop -n "$id" || fail "stop failed"
wait_pid_gone "$pid" 10 || fail "daemon still running after stop"
[ "$(dev_state "$id")" = DEAD ] || fail "state after stop: $(dev_state "$id")"
sublk_del "$id" || fail "del after stop failed"
echo "ok stop"

if has_feature SAFE_STOP_DEV; then
	id=$(sublk_add -t null) || fail "add failed"
	exec 9< /dev/ublkb$id
	out=$("$SUBLK" stop -n "$id" --safe 2>&1) && fail "stop --safe succeeded on an open disk"
	case $out in *"is open"*) ;; *) fail "stop --safe: unclear error '$out'" ;; esac
	[ "$(dev_state "$id")" = LIVE ] || fail "refused stop --safe changed the state"
	exec 9<&-
	"$SUBLK" stop -n "$id" --safe || fail "stop --safe on a closed disk failed"
	sublk_del "$id"
	echo "ok stop --safe: refused while open ($out), done once closed"
else
	out=$("$SUBLK" stop -n 0 --safe 2>&1)
	case $out in *"needs the driver feature SAFE_STOP_DEV"*) ;; *) fail "stop --safe on an old kernel: '$out'" ;; esac
	echo "stop --safe not available: $out"
fi

if has_feature QUIESCE; then
	img=$TEST_TMP/q.img
	truncate -s 64M "$img"
	id=$(sublk_add -t loop -f "$img" -r 1) || fail "add -r 1 failed"
	head -c 4M /dev/urandom > "$TEST_TMP/data"
	dd if="$TEST_TMP/data" of=/dev/ublkb$id bs=1M oflag=direct status=none
	pid=$(daemon_pid "$id")
	"$SUBLK" quiesce -n "$id" || fail "quiesce failed"
	wait_pid_gone "$pid" 10 || fail "daemon still running after quiesce"
	wait_state "$id" QUIESCED 10 || fail "not QUIESCED after quiesce"
	"$SUBLK" recover -n "$id" > /dev/null || fail "recover after quiesce failed"
	cmp -n 4194304 "$TEST_TMP/data" /dev/ublkb$id || fail "data differs after quiesce + recover"
	sublk_del "$id"
	echo "ok quiesce + recover"

	# Quiesce while one queue's thread cannot run for 3 s (stopped by
	# ptrace, as a loaded machine may leave it unscheduled): the other
	# queue ends at once, and the daemon must wait for this one, not
	# stop the device after its grace period for a failed queue.
	if [ "$(nproc)" -ge 2 ]; then
		id=$(sublk_add -t loop -f "$img" -r 1 -q 2) || fail "add -r 1 -q 2 failed"
		dd if="$TEST_TMP/data" of=/dev/ublkb$id bs=1M oflag=direct status=none
		pid=$(daemon_pid "$id")
		tid=$("$SUBLK" list -n "$id" | sed -n 's/.*queue 1: tid \([0-9]*\).*/\1/p')
		[ -n "$tid" ] || fail "no tid for queue 1 in list"
		python3 - "$tid" 3 > "$TEST_TMP/ptrace.out" 2>&1 <<'PY' &
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long] * 2 + [ctypes.c_void_p] * 2
tid = int(sys.argv[1])
if libc.ptrace(0x4206, tid, None, None):	# PTRACE_SEIZE
    sys.exit("PTRACE_SEIZE: " + os.strerror(ctypes.get_errno()))
libc.ptrace(0x4207, tid, None, None)		# PTRACE_INTERRUPT
os.waitpid(tid, 0x40000000)			# __WALL
print("stopped", flush=True)
time.sleep(float(sys.argv[2]))
libc.ptrace(17, tid, None, None)		# PTRACE_DETACH
print("resumed", flush=True)
PY
		tracer=$!
		for _ in $(seq 100); do
			grep -q stopped "$TEST_TMP/ptrace.out" && break
			sleep 0.1
		done
		grep -q stopped "$TEST_TMP/ptrace.out" || fail "queue 1's thread not stopped: $(cat "$TEST_TMP/ptrace.out")"
		"$SUBLK" quiesce -n "$id" || fail "quiesce with a stopped queue thread failed"
		wait "$tracer"
		wait_pid_gone "$pid" 10 || fail "daemon still running after quiesce"
		state=$(dev_state "$id")
		[ "$state" = QUIESCED ] || fail "a queue thread late by 3 s: $state after quiesce, not QUIESCED"
		"$SUBLK" recover -n "$id" > /dev/null || fail "recover after the late quiesce failed"
		cmp -n 4194304 "$TEST_TMP/data" /dev/ublkb$id || fail "data differs after the late quiesce + recover"
		sublk_del "$id"
		echo "ok quiesce with a queue thread 3 s late: QUIESCED, recovered"
	fi
fi

# del --async
id=$(sublk_add -t null) || fail "add failed"
if "$SUBLK" del -n "$id" --async; then
	_forget devs "$id"
	wait_gone /dev/ublkc$id 10 || fail "del --async left /dev/ublkc$id"
	echo "ok del --async"
else
	fail "del --async failed"
fi
assert_no_ublk_devices
