#!/bin/bash
# SPDX-License-Identifier: MIT
# What the export's transmission flags make of the device.  Read-only: an
# export the server offers read-only (nbdkit -r) and a writable one added
# with --read_only both make a read-only device (blockdev --getro is 1):
# reads return the data, writes fail.  The rest: only what the server
# can do is advertised to the kernel (flush -> write back cache, FUA,
# trim -> discard, write-zeroes), checked in sysfs for a server with all
# of them, one without FUA and write-zeroes, and one with none (nbdkit's
# eval plugin with only pread and pwrite), whose device still moves data
# and zeroes a range by writing zeros.
# timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit blkdiscard

sock=$TEST_TMP/ro.sock
img=$TEST_TMP/ro.img
head -c $((8 * 1024 * 1024)) /dev/urandom > "$img"
truncate -s 64M "$img"

check_ro() { # ID NAME
	local dev=/dev/ublkb$1
	[ "$(blockdev --getro "$dev")" = 1 ] || fail "$2: blockdev --getro is not 1"
	"$SUBLK" list -n "$1" | grep -q '"read_only":1' || fail "$2: list does not say read_only"
	cmp -n $((8 * 1024 * 1024)) "$img" <(dd if="$dev" bs=1M count=8 iflag=direct status=none) ||
		fail "$2: reads do not return the data"
	dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2> /dev/null &&
		fail "$2: a write succeeded"
	cmp -n 4096 "$img" "$dev" || fail "$2: the data changed"
	echo "ok $2: read-only, reads work, writes fail"
}

nbdkit_unix "$sock" -r file "$img"
id=$(sublk_add -t nbd --unix "$sock") || fail "add of a read-only export failed"
check_ro "$id" "server read-only"
sublk_del "$id"
nbd_kill "$NBD_PID"

nbdkit_unix "$sock" file "$img"
id=$(sublk_add -t nbd --unix "$sock" --read_only) || fail "add --read_only failed"
check_ro "$id" "--read_only"
sublk_del "$id"
nbd_kill "$NBD_PID"

# caps ID NAME WRITE_CACHE FUA DISCARD WRITE_ZEROES: the queue's sysfs
# says so (DISCARD and WRITE_ZEROES: 1 if their max bytes are not 0)
caps() {
	local q=/sys/block/ublkb$1/queue got
	got="$(cat $q/write_cache) $(cat $q/fua)"
	got="$got $([ "$(cat $q/discard_max_bytes)" -gt 0 ] && echo 1 || echo 0)"
	got="$got $([ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ] && echo 1 || echo 0)"
	[ "$got" = "$3 $4 $5 $6" ] ||
		fail "$2: write_cache, fua, discard, write-zeroes are '$got', not '$3 $4 $5 $6'"
	echo "ok $2: write cache '$3', fua $4, discard $5, write-zeroes $6"
}

nbdkit_unix "$sock" memory 64M
id=$(sublk_add -t nbd --unix "$sock") || fail "add (all flags) failed"
caps "$id" "every flag" "write back" 1 1 1
sublk_del "$id"
nbd_kill "$NBD_PID"

nbdkit_unix "$sock" --filter=fua --filter=nozero memory 64M zeromode=none
id=$(sublk_add -t nbd --unix "$sock") || fail "add (no FUA, no zeroes) failed"
caps "$id" "no FUA, no write-zeroes" "write back" 0 1 0
sublk_del "$id"
nbd_kill "$NBD_PID"

f=$TEST_TMP/plain.img
truncate -s 16M "$f"
nbdkit_unix "$sock" --filter=nozero eval zeromode=none get_size='echo 16777216' \
	pread="dd if=$f skip=\$4 count=\$3 iflag=skip_bytes,count_bytes status=none" \
	pwrite="dd of=$f seek=\$4 oflag=seek_bytes conv=notrunc status=none"
id=$(sublk_add -t nbd --unix "$sock") || fail "add (no flags) failed"
dev=/dev/ublkb$id
caps "$id" "no flags" "write through" 0 0 0
head -c $((1024 * 1024)) /dev/urandom > "$TEST_TMP/data"
dd if="$TEST_TMP/data" of=$dev bs=64k oflag=direct,sync status=none || fail "no flags: write failed"
cmp "$TEST_TMP/data" <(dd if=$dev bs=64k count=16 iflag=direct status=none) ||
	fail "no flags: the data does not read back"
cmp -n $((1024 * 1024)) "$TEST_TMP/data" "$f" || fail "no flags: the data is not in the server's file"
blkdiscard -f $dev 2> /dev/null && fail "no flags: a discard succeeded"
blkdiscard -f -z -o 65536 -l 65536 $dev || fail "no flags: zeroing by writes failed"
cmp -n 65536 <(dd if=$dev bs=64k skip=1 count=1 iflag=direct status=none) /dev/zero ||
	fail "no flags: the zeroed range does not read back as zeros"
echo "ok no flags: data moves, discard refused, zeroing by writing zeros works"
sublk_del "$id"
nbd_kill "$NBD_PID"
assert_no_ublk_devices
