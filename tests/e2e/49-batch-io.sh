#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: batch I/O (-b, BATCH_IO): PREP once, a multishot FETCH per
# queue, results committed many at a time; in the copy mode (--copy), with
# --usercopy and with zero copy.
# timeout: 1200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4

out=$("$SUBLK" add -t null -b -g 1 2>&1) && fail "-b with -g 1 was accepted"
echo "$out" | grep -q "no get-data step" || fail "unclear error for -b -g 1: $out"
if ! has_feature BATCH_IO; then
	out=$("$SUBLK" add -t null -b 2>&1) && fail "-b accepted without BATCH_IO"
	echo "$out" | grep -q "lacks BATCH_IO (needs Linux" || fail "unclear error: $out"
	assert_no_ublk_devices
	skip "needs Linux 7.0 (BATCH_IO)"
fi

# the device really runs in batch mode, and many requests go per command
id=$(sublk_add -t null -q 2 -b) || fail "add batch null failed"
"$SUBLK" list -n "$id" | grep -q "BATCH_IO" || fail "list does not show BATCH_IO"
dd if=/dev/urandom of=/dev/ublkb$id bs=4k count=256 oflag=direct status=none ||
	fail "dd to the batch device failed"
fio --name=batch --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
	--rw=randread --bs=4k --size=1G --io_size=64M --iodepth=128 --numjobs=2 \
	--iodepth_batch_submit=32 --group_reporting \
	--output="$TEST_TMP/fio-batch.out" > /dev/null 2>&1 ||
	{ tail -n 15 "$TEST_TMP/fio-batch.out" >&2; fail "fio on the batch null device failed"; }
dump=$("$SUBLK" dump -n "$id") || fail "dump failed"
echo "$dump" | grep 'batch:'
# at depth 128, commits must carry more than one result each on average
echo "$dump" | awk '/batch: [0-9]+ commits carried/ { c += $2; r += $5 }
	END { printf "results per commit: %.1f\n", c ? r / c : 0; exit !(c > 0 && r > 1.5 * c) }' ||
	fail "batch commits do not carry several results each"
sublk_del "$id"

# recovery: the new daemon PREPs every tag again; I/O that waited completes
img=$TEST_TMP/rec.img
truncate -s 128M "$img"
id=$(sublk_add -t loop -f "$img" -b -r 1 -i 1 -q 2) || fail "add -b -r 1 -i 1 failed"
fio_verify /dev/ublkb$id 0 64M batch-reissue --iodepth=32 --rate_iops=800 &
fio_pid=$!
sleep 4
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "-b -r 1: device not QUIESCED after kill -9"
"$SUBLK" recover -n "$id" > /dev/null || fail "recover of a batch device failed"
wait $fio_pid || { tail -n 20 "$TEST_TMP/batch-reissue.out" >&2; fail "-b -r 1 -i 1: verifying workload failed across the crash"; }
echo "ok batch: killed during I/O, recovered, reissued, verify passed"
sublk_del "$id"
rm -f "$img"

datapath_suite batch -b --copy
if has_feature USER_COPY; then
	datapath_suite batch-user-copy -b --usercopy
fi
if has_feature ZERO_COPY; then
	datapath_suite batch-zero-copy -b -z
fi
