#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: batch I/O (-b) with a thread count other than the queue count:
# 4 threads FETCH from one queue (-q 1 --nthreads 4), one thread serves
# every queue (-q 4 --nthreads 1); fio verifies the data on loop in each
# copy mode, null runs without errors, and a killed daemon of 4 threads
# over one queue is recovered with its I/O reissued.
# timeout: 1500
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio

# the options are checked before the kernel is asked
expect_error "drop --per_io_tasks" add -t null -b --nthreads 2 --per_io_tasks
expect_error "more than the 2 tags" add -t null -b -d 2 --nthreads 3
expect_error "no more --nthreads than queues" add -t nbd --unix /nonexistent -b --nthreads 2
expect_error "need --per_io_tasks or -b" add -t null --nthreads 2
if ! has_feature BATCH_IO; then
	out=$("$SUBLK" add -t null -b --nthreads 2 2>&1) && fail "-b accepted without BATCH_IO"
	echo "$out" | grep -q "lacks BATCH_IO (needs Linux" || fail "unclear error: $out"
	assert_no_ublk_devices
	skip "needs Linux 7.0 (BATCH_IO)"
fi

# threads ID N: the daemon has main + N threads (io_uring's iou-* aside),
# and dump names N of them, each with the queues it fetches from.
threads() {
	local id=$1 n=$2 pid nthr dump
	pid=$(daemon_pid "$id") || fail "no daemon for $id"
	nthr=$(cat /proc/$pid/task/*/comm | grep -vc '^iou-')
	[ "$nthr" = $((n + 1)) ] || fail "daemon of $id has $nthr threads besides io_uring's, not main + $n"
	dump=$("$SUBLK" dump -n "$id") || fail "dump -n $id failed"
	echo "$dump" | grep -E '^thread|batch:'
	[ "$(echo "$dump" | grep -c '^thread [0-9]* tid [0-9]*:')" = "$n" ] ||
		fail "dump of $id does not show $n running threads"
	echo "$dump" | grep -q "threads $n (batch)" || fail "dump of $id: not 'threads $n (batch)'"
	DUMP=$dump
}

# verify NAME ID: fio verify over the device, one job pinned to each CPU
# so that every hardware queue gets requests.
verify() {
	local ncpu per
	ncpu=$(nproc)
	per=$((96 / ncpu))M
	fio --name="$1" --filename=/dev/ublkb$2 --ioengine=io_uring --direct=1 \
		--rw=randwrite --bsrange=512-128k --size="$per" --iodepth=64 \
		--numjobs="$ncpu" --offset_increment="$per" --cpus_allowed=0-$((ncpu - 1)) \
		--cpus_allowed_policy=split --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output="$TEST_TMP/$1.out" > /dev/null 2>&1 ||
		{ tail -n 20 "$TEST_TMP/$1.out" >&2; fail "$1: fio verify failed"; }
}

img=$TEST_TMP/bt.img
truncate -s 128M "$img"
# the automatic path (zero copy with AUTO_BUF_REG on 7.x), copy, user copy,
# zero copy, and zero copy with buffers registered by the fetching thread
for mode in auto copy usercopy zc zc-manual; do
	reg=
	case $mode in
	auto) opt= ;;
	copy) opt=--copy ;;
	usercopy) opt=--usercopy; has_feature USER_COPY || continue ;;
	zc) opt=-z; has_feature ZERO_COPY || continue ;;
	zc-manual) opt=-z reg=1; has_feature ZERO_COPY || continue ;;
	esac
	name=shared-$mode

	# 4 threads, one queue: each FETCHes from it.  The kernel hands the
	# requests to the oldest FETCH; with one buffer for the fetched tags
	# it ends under load, and another thread's FETCH takes over.
	id=$(SUBLK_NO_AUTO_BUF_REG=$reg SUBLK_TEST_ONE_FETCH_BUF=1 \
		sublk_add -t loop -f "$img" -b -q 1 --nthreads 4 $opt) ||
		fail "$name: add -q 1 --nthreads 4 failed"
	"$SUBLK" list -n "$id" | grep -q BATCH_IO || fail "$name: not in batch mode"
	[ "$mode" != zc-manual ] || "$SUBLK" list -n "$id" | grep -q "data path: zero copy$" ||
		fail "$name: not zero copy with registration by hand"
	verify "$name" "$id"
	threads "$id" 4
	[ "$(echo "$DUMP" | grep -c 'batch: .*; queues 0$')" = 4 ] ||
		fail "$name: not all 4 threads fetch from queue 0"
	busy=$(echo "$DUMP" | grep -c '^thread [0-9]* tid [0-9]*: [0-9]* tags, served [1-9]')
	[ "$busy" -ge 2 ] || fail "$name: $busy of 4 threads served requests, not several"
	sublk_del "$id"
	echo "ok $name: 4 threads on 1 queue, fio verify"

	# one thread, every queue
	name=one-$mode
	id=$(SUBLK_NO_AUTO_BUF_REG=$reg sublk_add -t loop -f "$img" -b -q 4 --nthreads 1 $opt) ||
		fail "$name: add -q 4 --nthreads 1 failed"
	nq=$("$SUBLK" list -n "$id" | sed -n 's/.*nr_hw_queues \([0-9]*\).*/\1/p')
	verify "$name" "$id"
	threads "$id" 1
	want=$(seq -s ' ' 0 $((nq - 1)))
	echo "$DUMP" | grep -q "batch: .*; queues $want\$" ||
		fail "$name: the thread does not fetch from all $nq queues"
	# every queue served requests (fio ran on each CPU)
	served=$(echo "$DUMP" | awk '/^  requests:/ { if ($3 + $5 > 0) n++ } END { print n + 0 }')
	[ "$served" = "$nq" ] || fail "$name: $served of $nq queues served requests"
	sublk_del "$id"
	echo "ok $name: 1 thread on $nq queues, fio verify"
done

# null: many threads on two queues, and one on two
for args in "-q 2 --nthreads 3" "-q 2 --nthreads 1"; do
	id=$(sublk_add -t null -b -d 128 $args) || fail "add null -b $args failed"
	fio --name=bt-null --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
		--rw=randrw --bsrange=512-256k --size=1G --io_size=128M --iodepth=128 \
		--numjobs=2 --group_reporting --output="$TEST_TMP/bt-null.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/bt-null.out" >&2; fail "null -b $args: fio failed"; }
	grep -q "err= 0" "$TEST_TMP/bt-null.out" || fail "null -b $args: fio saw errors"
	threads "$id" "${args##* }"
	sublk_del "$id"
	echo "ok null -b $args: fio randrw without errors"
done

# list: a queue's tid is one of the daemon's threads
id=$(sublk_add -t null -b -q 1 --nthreads 4) || fail "add null -q 1 --nthreads 4 failed"
pid=$(daemon_pid "$id")
tid=$("$SUBLK" list -n "$id" | sed -n 's/.*queue 0: tid \([0-9]*\).*/\1/p')
[ -n "$tid" ] && [ -d "/proc/$pid/task/$tid" ] || fail "list shows queue 0's tid '$tid', not a daemon thread"
"$SUBLK" list -n "$id" | grep -q "threads 4" || fail "list does not show the 4 threads"
sublk_del "$id"

# kill -9 of 4 threads sharing a queue: the new daemon PREPs and FETCHes
# again, and the I/O that waited is reissued
id=$(sublk_add -t loop -f "$img" -b -r 1 -i 1 -q 1 --nthreads 4) || fail "add -b -r 1 -i 1 --nthreads 4 failed"
fio_verify /dev/ublkb$id 0 64M bt-reissue --iodepth=32 --rate_iops=800 &
fio_pid=$!
sleep 4
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "device not QUIESCED after kill -9"
"$SUBLK" recover -n "$id" > /dev/null || fail "recover failed"
wait $fio_pid || { tail -n 20 "$TEST_TMP/bt-reissue.out" >&2; fail "verifying workload failed across the crash"; }
threads "$id" 4
sublk_del "$id"
echo "ok recovery: 4 threads on 1 queue killed during I/O, recovered, verify passed"
rm -f "$img"
assert_no_ublk_devices
