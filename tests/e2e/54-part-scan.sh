#!/bin/bash
# SPDX-License-Identifier: MIT
# --no_auto_part_scan (NO_AUTO_PART_SCAN, Linux 7.0): the kernel does not
# scan a new disk's partition table, so a partition appears only when asked
# for (blockdev --rereadpt); without the option it appears by itself.
# Data written through the partition lands at its offset in the file.
# timeout: 120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_feature NO_AUTO_PART_SCAN 7.0

img=$TEST_TMP/parts.img
truncate -s 64M "$img"
# an MBR with one Linux partition: sectors 2048..67583
printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x00\x01\x00' |
	dd of="$img" bs=1 seek=446 conv=notrunc status=none || fail "cannot write the partition entry"
printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none || fail "cannot write the MBR signature"

id=$(sublk_add -t loop -f "$img") || fail "add failed"
wait_for_path /dev/ublkb"${id}"p1 10 || fail "partition 1 did not appear with the automatic scan"
sublk_del "$id"

id=$(sublk_add -t loop -f "$img" --no_auto_part_scan) || fail "add --no_auto_part_scan failed"
"$SUBLK" list -n "$id" | grep -q NO_AUTO_PART_SCAN || fail "device lacks NO_AUTO_PART_SCAN"
sleep 2
[ ! -e /dev/ublkb"${id}"p1 ] || fail "partition 1 appeared although the scan was off"
blockdev --rereadpt /dev/ublkb"$id" || fail "rereadpt failed"
wait_for_path /dev/ublkb"${id}"p1 10 || fail "partition 1 did not appear after rereadpt"
head -c 1M /dev/urandom > "$TEST_TMP/data"
dd if="$TEST_TMP/data" of=/dev/ublkb"${id}"p1 bs=1M oflag=direct status=none || fail "write to p1 failed"
cmp -n 1048576 "$TEST_TMP/data" /dev/ublkb"${id}"p1 || fail "p1 reads back other data"
sublk_del "$id"
cmp -n 1048576 -i 0:$((2048 * 512)) "$TEST_TMP/data" "$img" || fail "the data is not at the partition's offset in the file"
echo "ok partitions: scanned by default, only on request with --no_auto_part_scan"
