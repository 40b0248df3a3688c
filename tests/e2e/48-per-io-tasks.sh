#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: per-I/O threads (--nthreads N --per_io_tasks, PER_IO_DAEMON):
# 3 threads deal out the tags of 2 queues, and every one of them serves.
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4

# without --per_io_tasks the thread count must match the queues
out=$("$SUBLK" add -t null -q 2 --nthreads 3 2>&1) && fail "--nthreads 3 with 2 queues was accepted"
echo "$out" | grep -q "need --per_io_tasks" || fail "unclear error for --nthreads without --per_io_tasks: $out"
out=$("$SUBLK" add -t null -q 1 -d 2 --nthreads 3 --per_io_tasks 2>&1) &&
	fail "3 threads for 2 tags were accepted"
echo "$out" | grep -q "more than the 2 tags" || fail "unclear error for too many threads: $out"
assert_no_ublk_devices

if ! has_feature PER_IO_DAEMON; then
	out=$("$SUBLK" add -t null --per_io_tasks 2>&1) && fail "--per_io_tasks accepted without PER_IO_DAEMON"
	echo "$out" | grep -q "lacks PER_IO_DAEMON (needs Linux" || fail "unclear error: $out"
	assert_no_ublk_devices
	skip "needs Linux 6.16 (PER_IO_DAEMON)"
fi

# every thread serves requests, and the daemon has exactly those threads
id=$(sublk_add -t null -q 2 -d 64 --nthreads 3 --per_io_tasks) || fail "add per-io null failed"
pid=$(daemon_pid "$id")
fio --name=per-io --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
	--rw=randread --bs=4k --size=1G --io_size=64M --iodepth=64 --numjobs=2 \
	--group_reporting --output="$TEST_TMP/fio-perio.out" > /dev/null 2>&1 ||
	{ tail -n 15 "$TEST_TMP/fio-perio.out" >&2; fail "fio on per-io null failed"; }
dump=$("$SUBLK" dump -n "$id") || fail "dump failed"
echo "$dump" | grep '^thread'
[ "$(echo "$dump" | grep -c '^thread [0-9]* tid [0-9]*: [0-9]* tags, served [1-9]')" = 3 ] ||
	fail "not all 3 threads served requests"
# io_uring's own workers (iou-*) are threads of the process too
nthr=$(cat /proc/$pid/task/*/comm | grep -vc '^iou-')
[ "$nthr" = 4 ] || fail "daemon has $nthr threads besides io_uring's, not main + 3"
sublk_del "$id"

datapath_suite per-io --nthreads 3 --per_io_tasks --copy
if has_feature ZERO_COPY; then
	datapath_suite per-io-zc --nthreads 3 --per_io_tasks -z
fi
