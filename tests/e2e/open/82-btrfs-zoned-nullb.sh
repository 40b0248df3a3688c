#!/bin/bash
# SPDX-License-Identifier: MIT
# The kernel half of 81-zoned-btrfs, without sublk: btrfs -O zoned on a
# zoned null_blk whose zone appends are at most 32 KiB, so that one
# ordered extent goes out as several appends.  Where btrfs checksums data
# writes in its worker threads (a CPU without a fast crc32c: QEMU's default
# qemu64 under TCG) files read back with whole ranges of their blocks
# rotated, on a device that wrote every block where it said; see README.
# Up to 3 rounds (mkfs each); the first that differs fails the test.
# timeout: 1200
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-dev.sh"
need_cmd mkfs.btrfs btrfs python3
modprobe btrfs 2> /dev/null || skip "no btrfs module"
modprobe null_blk nr_devices=0 2> /dev/null || skip "no null_blk module"
modprobe configfs 2> /dev/null
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config

mnt=$TEST_TMP/mnt
orig=$TEST_TMP/orig
mkdir -p "$mnt" "$orig"
test_cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	return 0
}
for i in 1 2 3 4 5 6; do
	head -c $((i * 1500 * 1024 + 77)) /dev/urandom > "$orig/f$i" ||
		fail "cannot make the test files"
done

grep -qw sse4_2 /proc/cpuinfo && echo "note: this CPU has sse4_2 (fast crc32c): btrfs checksums inline and this may pass"
for round in 1 2 3; do
	dev=$(nullb_create nullb1 1024 zoned=1 zone_size=8 zone_append_max_sectors=64 submit_queues=2)
	mkfs.btrfs -f -O zoned "$dev" > "$TEST_TMP/mkfs.out" 2>&1 ||
		{ cat "$TEST_TMP/mkfs.out" >&2; fail "mkfs.btrfs -O zoned on null_blk failed"; }
	mount -t btrfs "$dev" "$mnt" || fail "mount btrfs on null_blk failed"
	cp "$orig"/f* "$mnt/" || fail "copying files to btrfs failed"
	sync
	echo 3 > /proc/sys/vm/drop_caches
	if ! python3 "$(dirname "$0")/btrfs-misplaced.py" "$orig" "$mnt" "$dev"; then
		btrfs scrub start -B "$mnt" > "$TEST_TMP/scrub.out" 2>&1 &&
			echo "btrfs scrub: no errors (the checksums agree with the misplaced blocks)"
		fail "round $round: btrfs files on zoned null_blk read back different"
	fi
	umount "$mnt" || fail "umount failed"
	nullb_remove nullb1 || fail "cannot remove null_blk"
	echo "round $round: files read back right"
done
echo "ok btrfs -O zoned on null_blk: 3 rounds, files read back right"
