#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 120
#
# The test VM gives the tests what they rely on: the ublk driver, configfs,
# tracefs, a writable /tmp and results dir, fio and mke2fs from the host,
# null_blk devices made through configfs, modprobe, and a PID 1 that reaps
# orphans.

. "$(dirname "$0")/lib.sh"

[ -c /dev/ublk-control ] || fail "/dev/ublk-control missing (ublk_drv not loaded?)"
grep -q ' /sys/kernel/config configfs ' /proc/mounts || fail "configfs not mounted"
grep -q ' /sys/kernel/tracing tracefs ' /proc/mounts || fail "tracefs not mounted"
[ -d /sys/kernel/config/nullb ] || fail "null_blk not loaded with configfs support"
for d in /sys/block/nullb*; do
	[ -e "$d" ] && fail "null_blk made ${d##*/} by itself (nr_devices=0 missing?)"
done
modprobe -n ublk_drv || fail "modprobe cannot find the kernel's modules"

echo hello > "$TEST_TMP/f" && [ "$(cat "$TEST_TMP/f")" = hello ] ||
	fail "/tmp not writable"
if [ -n "${RESULTS:-}" ]; then
	echo probe > "$RESULTS/.smoke-probe" || fail "results dir $RESULTS not writable"
	rm -f "$RESULTS/.smoke-probe"
fi

need_cmd fio mkfs.ext4 dd cmp
fio --version || fail "fio does not run"
mkfs.ext4 -V || fail "mkfs.ext4 does not run"

# A null_blk device: a pattern written with O_DIRECT reads back.
dev=$(nullb_create nullb1 64) || fail "cannot create null_blk device nullb1"
[ -b "$dev" ] || fail "$dev is not a block device"
head -c $((4 << 20)) /dev/urandom > "$TEST_TMP/pattern"
dd if="$TEST_TMP/pattern" of="$dev" bs=1M oflag=direct status=none ||
	fail "dd to $dev failed"
dd if="$dev" of="$TEST_TMP/back" bs=1M count=4 iflag=direct status=none ||
	fail "dd from $dev failed"
cmp_bytes "$TEST_TMP/pattern" "$TEST_TMP/back"
[ "$(sha "$TEST_TMP/pattern")" = "$(sha "$TEST_TMP/back")" ] || fail "sha differs"

# ext4 on it, and a short fio run with io_uring.
mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4 $dev failed"
mkdir "$TEST_TMP/mnt"
mount -t ext4 "$dev" "$TEST_TMP/mnt" || fail "mount ext4 failed"
cp "$TEST_TMP/pattern" "$TEST_TMP/mnt/"
umount "$TEST_TMP/mnt" || fail "umount failed"
mount -t ext4 -o ro "$dev" "$TEST_TMP/mnt" || fail "ro mount ext4 failed"
cmp_bytes "$TEST_TMP/pattern" "$TEST_TMP/mnt/pattern"
umount "$TEST_TMP/mnt" || fail "umount failed"
fio --name=smoke --filename="$dev" --rw=randrw --bs=4k --size=8M \
	--direct=1 --ioengine=io_uring --iodepth=8 --runtime=2 --time_based \
	--output="$TEST_TMP/fio.out" ||
	fail "fio with io_uring failed: $(tail -n 3 "$TEST_TMP/fio.out")"

nullb_remove nullb1 || fail "cannot remove nullb1"
wait_gone "$dev" 5 || fail "$dev still there after removal"

# Orphans are reparented to PID 1, which must reap them.
(sleep 1 &)
(sleep 30 & echo $! > "$TEST_TMP/sleeper")
sleeper=$(cat "$TEST_TMP/sleeper")
ppid=$(awk '{ print $4 }' "/proc/$sleeper/stat")
[ "$ppid" = 1 ] || fail "orphan's parent is $ppid, not 1"
kill "$sleeper"
sleep 2
assert_no_zombies
assert_no_dstate
assert_no_ublk_devices
echo "harness smoke: all good"
