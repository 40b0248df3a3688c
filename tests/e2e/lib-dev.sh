# SPDX-License-Identifier: MIT
# tests/e2e/lib-dev.sh: device-state helpers for the lifecycle tests,
# sourced after lib.sh.

# dev_state ID: the state `sublk list` reports (LIVE, QUIESCED, ...).
dev_state() {
	"$SUBLK" list -n "$1" 2> /dev/null | sed -n 's/.* state \([A-Z_]*\).*/\1/p'
}

# wait_state ID STATE [TIMEOUT_S]
wait_state() {
	local i
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		[ "$(dev_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "device $1 is $(dev_state "$1"), not $2, after ${3:-10} s" >&2
	return 1
}

# has_feature NAME: the running driver reports feature NAME (sublk
# features: NAME BIT DRIVER SINCE SUBLK, one line per flag).
has_feature() {
	"$SUBLK" features | awk -v f="$1" '$1 == f && $3 == "yes" { ok = 1 } END { exit !ok }'
}

# need_feature NAME VERSION: skip unless the driver reports feature NAME.
need_feature() {
	has_feature "$1" || skip "needs Linux $2 ($1)"
}

# fio_verify DEV OFFSET SIZE NAME [extra fio args]: random writes with
# crc32c headers over [OFFSET, OFFSET+SIZE), then a verify pass.
fio_verify() {
	local dev=$1 off=$2 size=$3 name=$4
	shift 4
	fio --name="$name" --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --offset="$off" --size="$size" \
		--iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$TEST_TMP/$name.out" "$@" > /dev/null 2>&1
}

# dump_tasks PID: every thread's kernel stack, for a hang report.
dump_tasks() {
	local t
	for t in /proc/$1/task/*; do
		echo "== task ${t##*/} $(cat "$t/comm" 2> /dev/null) wchan $(cat "$t/wchan" 2> /dev/null)" >&2
		cat "$t/stack" >&2 2> /dev/null
	done
	ps -eo pid,stat,wchan:32,comm | awk '$2 ~ /D/' >&2
}

# datapath_suite NAME ADD-ARGS...: the data-path checks every copy mode
# must pass, on loop (fio verify with several block sizes, 2 queues,
# depth 128, then mkfs + fsck) and on null (fio with no errors).
# Environment given to the call reaches the daemon (SUBLK_LEGACY_CMDS...).
datapath_suite() {
	local name=$1 id img=$TEST_TMP/dp.img
	shift
	truncate -s 256M "$img"
	id=$(sublk_add -t loop -f "$img" -q 2 -d 128 "$@") || fail "$name: add loop failed"
	"$SUBLK" list -n "$id" | sed -n 2p
	for bs in 512 4k 64k 512k; do
		fio --name="$name-$bs" --filename=/dev/ublkb$id --ioengine=io_uring \
			--direct=1 --rw=randwrite --bs=$bs --size=32M --iodepth=128 \
			--numjobs=1 --verify=crc32c --verify_fatal=1 --do_verify=1 \
			--output="$TEST_TMP/fio-$bs.out" > /dev/null 2>&1 ||
			{ tail -n 15 "$TEST_TMP/fio-$bs.out" >&2; fail "$name: fio verify bs=$bs failed on loop"; }
	done
	fio --name="$name-mixed" --filename=/dev/ublkb$id --ioengine=io_uring \
		--direct=1 --rw=randrw --bsrange=512-512k --size=64M --iodepth=128 \
		--numjobs=2 --offset_increment=64M --verify=crc32c --verify_fatal=1 \
		--output="$TEST_TMP/fio-mixed.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/fio-mixed.out" >&2; fail "$name: fio mixed verify failed on loop"; }
	mkfs.ext4 -q -F /dev/ublkb$id || fail "$name: mkfs.ext4 failed"
	e2fsck -fn /dev/ublkb$id > "$TEST_TMP/fsck.out" 2>&1 ||
		{ cat "$TEST_TMP/fsck.out" >&2; fail "$name: e2fsck failed"; }
	sublk_del "$id"
	echo "ok $name: loop fio verify (512 4k 64k 512k, mixed), mkfs + fsck"

	id=$(sublk_add -t null -q 2 -d 128 "$@") || fail "$name: add null failed"
	fio --name="$name-null" --filename=/dev/ublkb$id --ioengine=io_uring \
		--direct=1 --rw=randrw --bsrange=512-512k --size=1G --io_size=256M \
		--iodepth=128 --numjobs=2 --group_reporting \
		--output="$TEST_TMP/fio-null.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/fio-null.out" >&2; fail "$name: fio on null failed"; }
	grep -q "err= 0" "$TEST_TMP/fio-null.out" || fail "$name: fio on null saw errors"
	sublk_del "$id"
	echo "ok $name: null fio randrw"
	assert_no_ublk_devices
}

# expect_error "WORDS" ARGS...: sublk ARGS fails within 30 s, saying WORDS in
# one line, and leaves no device and no run file behind.
expect_error() {
	local words=$1 out rc
	shift
	out=$(timeout 30 "$SUBLK" "$@" 2>&1 > /dev/null)
	rc=$?
	[ $rc -ne 0 ] || fail "'sublk $*' succeeded"
	[ $rc -ne 124 ] || fail "'sublk $*' hung"
	case $out in
	*"$words"*) ;;
	*) fail "'sublk $*' said '$out', expected '$words'" ;;
	esac
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "'sublk $*' said more than one line: $out"
	assert_no_ublk_devices
	[ -z "$(ls "$SUBLK_RUN_DIR" 2> /dev/null | grep -v daemon.log)" ] ||
		fail "run files left after 'sublk $*'"
	echo "ok: sublk $* -> $out"
}

# unpriv_setup: serve devices as nobody (uid 65534) with a run directory of
# its own: /dev/ublk-control opened to all, the udev rule's job done by a
# loop that gives each new /dev/ublkc* and /dev/ublkb* to nobody, and
# as_nobody CMD... to run a command as that user.  test_cleanup undoes it.
unpriv_setup() {
	uid=65534
	run=$TEST_TMP/run-nobody
	mkdir -p "$run"
	chmod 0755 "$TEST_TMP"
	chown $uid:$uid "$run"
	chmod 0666 /dev/ublk-control
	( while :; do
		for n in /dev/ublkc* /dev/ublkb*; do
			[ -e "$n" ] && [ "$(stat -c %u "$n" 2> /dev/null)" != $uid ] &&
				chown $uid:$uid "$n" 2> /dev/null
		done
		sleep 0.05
	done ) &
	chowner=$!
	test_cleanup() {
		kill $chowner 2> /dev/null
		chmod 0600 /dev/ublk-control
	}
}

as_nobody() {
	setpriv --reuid=$uid --regid=$uid --clear-groups --inh-caps=-all \
		env SUBLK_RUN_DIR="$run" "$@"
}
