# SPDX-License-Identifier: MIT
# tests/e2e/lib-dev.sh: device-state helpers for the lifecycle tests,
# sourced after lib.sh.

# dev_state ID: the state `sublk list` reports (LIVE, QUIESCED, ...).
dev_state() {
	"$SUBLK" list -n "$1" 2> /dev/null | sed -n 's/.* state \([A-Z_]*\)$/\1/p'
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

# need_feature NAME VERSION: skip unless the driver reports feature NAME.
need_feature() {
	"$SUBLK" features | grep -qw "$1" || skip "needs Linux $2 ($1)"
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
