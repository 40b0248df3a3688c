#!/bin/bash
# SPDX-License-Identifier: MIT
# mkfs.ext4, mount, write files, umount, e2fsck clean, remount and compare
# checksums, on mem and loop; a loop device's data is still in its backing
# file after del.
# timeout: 300
. "$(dirname "$0")/lib.sh"
need_cmd mkfs.ext4
need_cmd e2fsck

img=/tmp/ext4-loop.img
mnt=/tmp/mnt-ext4
mkdir -p "$mnt"
truncate -s 128M "$img"

fs_cycle() { # fs_cycle DEV
	local dev=$1
	mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4 on $dev failed"
	mount "$dev" "$mnt" || fail "mount $dev failed"
	mkdir -p "$mnt/d"
	for i in 1 2 3 4 5; do
		head -c $((i * 700 * 1024 + 123)) /dev/urandom > "$mnt/d/f$i"
	done
	cp -r /usr/share/doc/fio "$mnt/tree" 2>/dev/null || true
	(cd "$mnt" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > /tmp/sums
	umount "$mnt" || fail "umount failed"
	e2fsck -fn "$dev" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out >&2; fail "e2fsck found problems on $dev"; }
	mount "$dev" "$mnt" || fail "remount $dev failed"
	(cd "$mnt" && sha256sum -c --quiet /tmp/sums) || fail "checksums differ after remount"
	umount "$mnt"
}

id=$(sublk_add -t mem -s 128M -q 2) || fail "add mem failed"
wait_for_path /dev/ublkb$id 10 || fail "no /dev/ublkb$id"
fs_cycle /dev/ublkb$id
sublk_del "$id" || fail "del mem failed"
echo "ok ext4 on mem"

id=$(sublk_add -t loop -f "$img" -q 2) || fail "add loop failed"
wait_for_path /dev/ublkb$id 10 || fail "no /dev/ublkb$id"
fs_cycle /dev/ublkb$id
sublk_del "$id" || fail "del loop failed"
echo "ok ext4 on loop"

# the data is in the backing file itself
e2fsck -fn "$img" > /tmp/fsck.out 2>&1 || { cat /tmp/fsck.out >&2; fail "backing file fails e2fsck after del"; }
mount -o loop,ro "$img" "$mnt" || fail "cannot mount the backing file"
(cd "$mnt" && sha256sum -c --quiet /tmp/sums) || { umount "$mnt"; fail "backing file content differs"; }
umount "$mnt"
losetup -D 2>/dev/null
rm -f "$img"
assert_no_ublk_devices
echo "ok backing file holds the filesystem"
