# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# tests/e2e/lib.sh: helpers for the end-to-end tests, which run as root inside
# the test VM (tools/vm/run -- tests/e2e/runner).  A test is
# tests/e2e/NN-name.sh, a bash script that starts with
#
#	#!/bin/bash
#	# timeout: 60            (optional, seconds; the runner's default is 180)
#	. "$(dirname "$0")/lib.sh"
#
# and exits 0 to pass, 77 to skip (skip "reason") or anything else to fail
# (fail "reason").  Sourcing this file sets no shell options (tests check
# with "|| fail ..."), makes TEST_TMP (a scratch directory) and installs an
# EXIT trap that deletes every device the test made with sublk_add,
# nullb_create and loop_create, even from a $(...) subshell.  A test that
# needs more cleanup defines a function named test_cleanup; it runs first.
#
# The runner sources this file with SUBLK_LIB_MODE=runner to get the checks
# and teardown_all without the test setup.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUBLK=${SUBLK_BIN:-$TOP/sublk}
SUBLK_RUN_DIR=${SUBLK_RUN_DIR:-/run/sublk}

# What this test made, one per line, for the EXIT trap.  Files rather than
# arrays: helpers are usually called as id=$(sublk_add ...), in a subshell.
_made() { echo "${TEST_TMP:-/tmp}/.made-$1"; }

_record() {
	echo "$2" >> "$(_made "$1")"
}

_forget() {
	local f
	f=$(_made "$1")
	[ -f "$f" ] || return 0
	grep -v -x -F -e "$2" "$f" > "$f.new"
	mv "$f.new" "$f"
}

_recorded() {
	local f
	f=$(_made "$1")
	[ -f "$f" ] && cat "$f"
	return 0
}

# The runner reads the reason of a fail or skip from here when it can.
_reason() {
	[ -n "${SUBLK_TEST_REASON:-}" ] && echo "$*" > "$SUBLK_TEST_REASON"
	return 0
}

fail() {
	echo "FAIL: $*" >&2
	_reason "$*"
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	_reason "$*"
	exit 77
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" > /dev/null || skip "$c not installed"
	done
}

need_sublk() {
	[ -x "$SUBLK" ] || skip "no sublk binary at $SUBLK (make first)"
}

# wait_for_path PATH [TIMEOUT_S]: wait until PATH exists (a device node:
# devtmpfs makes it, no udev involved).  Returns 1 after TIMEOUT_S (10).
wait_for_path() {
	local path=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 10; i++)); do
		[ -e "$path" ] && return 0
		sleep 0.1
	done
	echo "$path did not appear within $limit s" >&2
	return 1
}

# wait_gone PATH [TIMEOUT_S]: wait until PATH no longer exists.
wait_gone() {
	local path=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 10; i++)); do
		[ -e "$path" ] || return 0
		sleep 0.1
	done
	return 1
}

# wait_pid_gone PID [TIMEOUT_S]: wait until process PID has exited and
# been reaped.  Returns 1 after TIMEOUT_S (10).
wait_pid_gone() {
	local pid=$1 limit=${2:-10} i
	for ((i = 0; i < limit * 10; i++)); do
		[ -e "/proc/$pid" ] || return 0
		sleep 0.1
	done
	echo "process $pid still there after $limit s" >&2
	return 1
}

# sublk_add ARGS...: run "sublk add ARGS", print the new device id.  The
# output goes to a file, not a pipe: a daemon that kept the pipe open would
# hang a $(...).
sublk_add() {
	local out id rc=0
	need_sublk
	out=$(mktemp)
	timeout 60 "$SUBLK" add "$@" > "$out" 2>&1 || rc=$?
	cat "$out" >&2
	id=$(sed -n 's/^dev id \([0-9][0-9]*\):.*/\1/p' "$out" | head -n 1)
	rm -f "$out"
	[ -n "$id" ] && _record devs "$id"
	[ "$rc" = 0 ] || fail "sublk add $* exited with status $rc"
	[ -n "$id" ] || fail "sublk add $*: no 'dev id N:' line in its output"
	echo "$id"
}

# daemon_pid ID: print the pid of the daemon serving device ID, as the
# kernel says (the second line of sublk list: "max rq size M daemon pid P").
daemon_pid() {
	local pid
	pid=$("$SUBLK" list -n "$1" 2> /dev/null |
		sed -n 's/.*daemon pid \(-\{0,1\}[0-9][0-9]*\).*/\1/p' | head -n 1)
	[ -n "$pid" ] && [ "$pid" -gt 0 ] ||
		{ echo "no daemon pid for device $1" >&2; return 1; }
	echo "$pid"
}

# state_pid ID: the daemon pid saved in the run directory (N.json).
state_pid() {
	local f=$SUBLK_RUN_DIR/$1.json
	[ -f "$f" ] || return 1
	grep -o '"pid":[0-9]*' "$f" | head -n 1 | cut -d: -f2
}

# forget_devices: the test deleted its devices itself (sublk del -a); the
# EXIT trap should not try again.
forget_devices() {
	rm -f "$(_made devs)"
}

# _del_force ID: delete device ID; if sublk del fails or hangs for 10 s,
# kill -9 its daemon and try again.  Returns non-zero if it stays.
_del_force() {
	local id=$1 pid
	timeout -k 1 10 "$SUBLK" del -n "$id" && return 0
	echo "sublk del -n $id failed; killing its daemon" >&2
	pid=$(state_pid "$id") && kill -9 "$pid" 2> /dev/null
	sleep 0.5
	timeout -k 1 10 "$SUBLK" del -n "$id"
}

# sublk_del ID: delete a device made by sublk_add; fails the test if that
# does not work within 60 s (TCG on a busy machine is slow; a real hang is
# the runner's to catch).
sublk_del() {
	local id=$1 rc=0
	timeout -k 1 60 "$SUBLK" del -n "$id" || rc=$?
	case $rc in
	0) ;;
	124 | 137) fail "sublk del -n $id did not finish in 60 s" ;;
	*) fail "sublk del -n $id failed (exit status $rc)" ;;
	esac
	_forget devs "$id"
}

# nullb_create NAME SIZE_MB [ATTR=VALUE...]: make a memory-backed null_blk
# device through configfs and print its /dev path.  Use names like nullb1:
# newer kernels name the disk after the configfs directory, older ones
# nullb<index>.
nullb_create() {
	local name=$1 size=$2 d=/sys/kernel/config/nullb/$1 kv dev
	shift 2
	[ -d /sys/kernel/config/nullb ] || skip "null_blk has no configfs support"
	mkdir "$d" || fail "cannot create $d"
	_record nullbs "$name"
	echo "$size" > "$d/size"
	echo 1 > "$d/memory_backed"
	for kv in "$@"; do
		echo "${kv#*=}" > "$d/${kv%%=*}" || fail "nullb $name: cannot set $kv"
	done
	echo 1 > "$d/power" || fail "nullb $name: cannot power on"
	dev=/dev/$name
	[ -e "$dev" ] || [ ! -f "$d/index" ] || dev=/dev/nullb$(cat "$d/index")
	wait_for_path "$dev" 10
	echo "$dev"
}

nullb_remove() {
	local name=$1 d=/sys/kernel/config/nullb/$1
	if [ -d "$d" ]; then
		echo 0 > "$d/power" 2> /dev/null
		rmdir "$d" || return 1
	fi
	_forget nullbs "$name"
}

# loop_create FILE [LOSETUP_ARGS...]: attach FILE to a loop device, print it.
loop_create() {
	local dev
	dev=$(losetup --show -f "$@") || fail "losetup $* failed"
	_record loops "$dev"
	echo "$dev"
}

loop_remove() {
	losetup -d "$1" || return 1
	_forget loops "$1"
}

# cmp_bytes FILE1 FILE2 [BYTES]: fail unless equal (in the first BYTES).
cmp_bytes() {
	local out
	out=$(cmp ${3:+-n "$3"} -- "$1" "$2" 2>&1) || fail "$1 and $2 differ: $out"
}

sha() {
	sha256sum < "$1" | cut -d' ' -f1
}

# Tasks whose state is $1 (D, Z), one per line: "PID PPID COMM".  The comm
# may contain spaces and parentheses: the state follows the last ')'.
_tasks_in_state() {
	local f stat rest pid comm
	for f in /proc/[0-9]*/stat; do
		read -r stat 2> /dev/null < "$f" || continue
		rest=${stat##*) }
		[ "${rest%% *}" = "$1" ] || continue
		pid=${stat%% *}
		comm=${stat#* (}
		comm=${comm%)*}
		rest=${rest#* }
		echo "$pid ${rest%% *} $comm"
	done
}

# assert_no_dstate [SECONDS]: fail if some task stays in D state (blocked,
# uninterruptible) for SECONDS (default 5); prints each one's wchan and
# kernel stack.
assert_no_dstate() {
	local limit=${1:-5} i tasks pid
	for ((i = 0; i <= limit * 5; i++)); do
		tasks=$(_tasks_in_state D)
		[ -z "$tasks" ] && return 0
		sleep 0.2
	done
	echo "tasks in D state for $limit s:" >&2
	while read -r pid _ comm; do
		echo "  $pid $comm wchan=$(cat "/proc/$pid/wchan" 2> /dev/null)" >&2
		sed 's/^/    /' "/proc/$pid/stack" >&2 2> /dev/null
	done <<< "$tasks"
	fail "tasks stuck in D state (pid/comm): $(awk '{ print $1 "/" $3 }' <<< "$tasks" | paste -s -d ' ')"
}

# assert_no_zombies: fail if a zombie stays for 2 s (PID 1 or a daemon is
# not reaping its children).
assert_no_zombies() {
	local i tasks
	for ((i = 0; i <= 10; i++)); do
		tasks=$(_tasks_in_state Z)
		[ -z "$tasks" ] && return 0
		sleep 0.2
	done
	fail "zombies (pid ppid comm): $(tr '\n' ';' <<< "$tasks")"
}

# Device nodes, and the ublk-char class entries (ublkcN) that stay even when
# a node was removed.
_ublk_leftovers() {
	local f
	for f in /dev/ublkb* /dev/ublkc* /sys/class/ublk-char/*; do
		[ -e "$f" ] && echo "$f"
	done
	return 0
}

# assert_no_ublk_devices: no ublk device nodes or char devices left (2 s
# grace for the kernel to finish removing them).
assert_no_ublk_devices() {
	local i left
	for ((i = 0; i <= 10; i++)); do
		left=$(_ublk_leftovers)
		[ -z "$left" ] && return 0
		sleep 0.2
	done
	fail "ublk devices left: $(tr '\n' ' ' <<< "$left")"
}

# Delete what this test made; runs from the EXIT trap.  Its messages go to
# stdout: the runner takes a failure's reason from the last stderr line.
_test_cleanup() {
	local rc=$? id name dev
	set +e
	declare -F test_cleanup > /dev/null && test_cleanup
	for id in $(_recorded devs); do
		echo "cleanup: sublk del -n $id"
		_del_force "$id" 2>&1 || echo "cleanup: cannot delete ublk device $id"
	done
	for dev in $(_recorded loops); do
		losetup -d "$dev" 2>&1 || echo "cleanup: cannot detach $dev"
	done
	for name in $(_recorded nullbs); do
		nullb_remove "$name" 2>&1 || echo "cleanup: cannot remove nullb $name"
	done
	[ -n "${TEST_TMP:-}" ] && rm -rf "$TEST_TMP"
	exit "$rc"
}

# teardown_all: leave the VM clean whatever a test did.  Kills every sublk
# daemon first: a task blocked on a device whose daemon stopped serving it
# only gets its I/O error once the daemon is gone.  Prints what it did.
teardown_all() {
	local f pid dir i dels=
	for f in "$SUBLK_RUN_DIR"/*.json; do
		[ -f "$f" ] || continue
		pid=$(grep -o '"pid":[0-9]*' "$f" | head -n 1 | cut -d: -f2)
		[ -n "$pid" ] || continue
		[ "$(cat /proc/"$pid"/comm 2> /dev/null)" = sublk ] || continue
		echo "teardown: kill -9 sublk daemon $pid ($f)"
		kill -9 "$pid" 2> /dev/null
	done
	for pid in $(pgrep -x sublk); do
		echo "teardown: kill -9 sublk process $pid"
		kill -9 "$pid" 2> /dev/null
	done
	# Unmount what lives on test devices so they can go away.
	awk '$1 ~ /^\/dev\/(ublkb|nullb|loop)/ { print $2 }' /proc/mounts |
		sort -r | while read -r dir; do
			echo "teardown: umount $dir"
			umount -l "$dir"
		done
	if [ -x "$SUBLK" ] && [ -n "$(_ublk_leftovers)" ]; then
		echo "teardown: $SUBLK del -a"
		"$SUBLK" del -a &
		dels=$!
		for ((i = 0; i < 100; i++)); do
			kill -0 "$dels" 2> /dev/null || break
			sleep 0.1
		done
		if kill -0 "$dels" 2> /dev/null; then
			echo "teardown: sublk del -a still running after 10 s"
		else
			wait "$dels"
		fi
	fi
	losetup -D 2> /dev/null
	for dir in /sys/kernel/config/nullb/*/; do
		[ -d "$dir" ] || continue
		echo "teardown: remove null_blk ${dir%/}"
		echo 0 > "$dir/power" 2> /dev/null
		rmdir "$dir"
	done
	rm -f "$SUBLK_RUN_DIR"/*.json "$SUBLK_RUN_DIR"/*.dump
	return 0
}

if [ "${SUBLK_LIB_MODE:-test}" = test ]; then
	TEST_TMP=$(mktemp -d /tmp/sublk-test.XXXXXX)
	trap _test_cleanup EXIT
fi
