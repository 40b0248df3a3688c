#!/bin/bash
# SPDX-License-Identifier: MIT
# 50 cycles over three devices at once: add, I/O, then at random kill -9
# (and recover) or del.  At the end no device, daemon, fd, thread, zombie
# or D-state task is left.
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"

cycles=${SUBLK_CYCLES:-50}
RANDOM=42
for n in 0 1 2; do
	truncate -s 32M "$TEST_TMP/c$n.img"
done
declare -A devs
fds_before=$(ls /proc/self/fd | wc -l)

for ((c = 0; c < cycles; c++)); do
	n=$((c % 3))
	if [ -z "${devs[$n]:-}" ]; then
		devs[$n]=$(sublk_add -t loop -f "$TEST_TMP/c$n.img" -r 1 -q $((1 + RANDOM % 2)) -d $((1 + RANDOM % 64))) ||
			fail "cycle $c: add failed"
	fi
	id=${devs[$n]}
	dd if=/dev/urandom of="$TEST_TMP/w" bs=64k count=4 status=none
	off=$((RANDOM % 128))
	dd if="$TEST_TMP/w" of=/dev/ublkb$id bs=64k seek=$off oflag=direct status=none ||
		fail "cycle $c: write to ublkb$id failed"
	cmp -n 262144 "$TEST_TMP/w" <(dd if=/dev/ublkb$id bs=64k skip=$off count=4 iflag=direct status=none) ||
		fail "cycle $c: ublkb$id read back differs"
	case $((RANDOM % 3)) in
	0)	pid=$(daemon_pid "$id")
		kill -9 "$pid"
		wait_pid_gone "$pid" 10 || fail "cycle $c: daemon survived kill -9"
		wait_state "$id" QUIESCED 15 || fail "cycle $c: not QUIESCED"
		"$SUBLK" recover -n "$id" > /dev/null || fail "cycle $c: recover failed"
		;;
	1)	sublk_del "$id" || fail "cycle $c: del failed"
		unset "devs[$n]"
		;;
	2)	;;
	esac
done
for n in 0 1 2; do
	[ -n "${devs[$n]:-}" ] && sublk_del "${devs[$n]}"
done
fds_after=$(ls /proc/self/fd | wc -l)
[ "$fds_after" -le "$fds_before" ] || fail "the test shell leaks fds: $fds_before -> $fds_after"
pgrep -x sublk > /dev/null && fail "sublk daemons left: $(pgrep -x sublk)"
[ -z "$(ls "$SUBLK_RUN_DIR" 2> /dev/null | grep -v daemon.log)" ] || fail "run files left: $(ls "$SUBLK_RUN_DIR")"
assert_no_ublk_devices
assert_no_zombies
assert_no_dstate
echo "ok $cycles cycles"
