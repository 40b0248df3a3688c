#!/bin/bash
# SPDX-License-Identifier: MIT
# blkdiscard and blkdiscard -z read back as zeros on mem and loop; a
# discarded mem range gives its memory back; a discarded loop range is a
# hole in the backing file.
# timeout: 180
. "$(dirname "$0")/lib.sh"
need_cmd blkdiscard

img=/tmp/discard.img
mib=$((1024 * 1024))

fill_and_discard() { # DEV: fill 16 MiB at 8 MiB, discard parts, check zeros
	local dev=$1
	dd if=/dev/urandom of="$dev" bs=1M seek=8 count=16 oflag=direct status=none ||
		fail "fill $dev failed"
	blkdiscard -o $((8 * mib)) -l $((4 * mib)) "$dev" || fail "blkdiscard on $dev failed"
	blkdiscard -z -o $((12 * mib)) -l $((4 * mib)) "$dev" || fail "blkdiscard -z on $dev failed"
	cmp -n $((8 * mib)) <(dd if="$dev" bs=1M skip=8 count=8 iflag=direct status=none) \
		/dev/zero || fail "discarded range of $dev does not read back as zeros"
	# the rest of the data is untouched
	[ "$(dd if="$dev" bs=1M skip=16 count=8 iflag=direct status=none | tr -d '\0' | head -c 1 | wc -c)" = 1 ] ||
		fail "data after the discarded range was lost on $dev"
}

# Rss of the mem backend's reservation: the mapping of 64 MiB + 1 GiB
# (or, where that could not be reserved, of the 64 MiB).  Not the whole
# process, whose per-tag I/O buffers the reads blkdiscard makes while
# probing for signatures can fault in; not merely the largest mapping,
# which under ASan is its shadow memory.
rss_kb() {
	awk '/^Size:/ { size = $2 } /^Rss:/ && (size == 1114112 || size == 65536) && size > big { big = size; rss = $2 }
	     END { print rss + 0 }' /proc/$1/smaps
}

id=$(sublk_add -t mem -s 64M) || fail "add mem failed"
wait_for_path /dev/ublkb$id 10 || fail "no /dev/ublkb$id"
[ "$(cat /sys/block/ublkb$id/queue/discard_max_bytes)" -gt 0 ] || fail "mem device does not advertise discard"
fill_and_discard /dev/ublkb$id
pid=$(daemon_pid "$id")
dd if=/dev/urandom of=/dev/ublkb$id bs=1M seek=32 count=32 oflag=direct status=none
before=$(rss_kb "$pid")
blkdiscard -o $((32 * mib)) -l $((32 * mib)) /dev/ublkb$id || fail "blkdiscard 32 MiB failed"
after=$(rss_kb "$pid")
echo "mem backing Rss: $before kB before discard, $after kB after"
[ $((before - after)) -ge $((24 * 1024)) ] ||
	fail "discarding 32 MiB freed only $((before - after)) kB of the daemon's memory"
sublk_del "$id" || fail "del mem failed"

truncate -s 64M "$img"
id=$(sublk_add -t loop -f "$img") || fail "add loop failed"
wait_for_path /dev/ublkb$id 10 || fail "no /dev/ublkb$id"
fill_and_discard /dev/ublkb$id
blocks_before=$(stat -c %b "$img")
blkdiscard -o 0 -l $((64 * mib)) /dev/ublkb$id || fail "blkdiscard whole loop failed"
blocks_after=$(stat -c %b "$img")
echo "loop backing file: $blocks_before blocks before discard, $blocks_after after"
[ "$blocks_after" -lt "$blocks_before" ] || fail "discard did not punch a hole in the backing file"
sublk_del "$id" || fail "del loop failed"
rm -f "$img"
assert_no_ublk_devices
