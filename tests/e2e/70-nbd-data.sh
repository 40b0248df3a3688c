#!/bin/bash
# SPDX-License-Identifier: MIT
# The nbd target's data path against nbdkit's memory plugin: fio verify
# over a unix socket and over TCP (127.0.0.1, by name, IPv6), with 1 and 2
# queues (the plugin sets CAN_MULTI_CONN) and with 2 connections on one
# queue, block sizes from 512 bytes to the largest request; the server's block sizes
# (blocksize-policy filter) become the device's; ext4 made, checked and
# remounted with checksums; discard and write-zeroes read back zeros;
# `list` shows the server and the export; the disk has no I/O scheduler.
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit fio mkfs.ext4 e2fsck blkdiscard sha256sum

mib=$((1024 * 1024))

# verify_sizes ID NAME: fio verify at 512 bytes, 4k, 64k and the largest
# request the device takes, then a mixed-size verify with 2 jobs.
verify_sizes() {
	local id=$1 name=$2 max bs
	max=$(max_io_bytes "$id")
	for bs in 512 4096 65536 "$max"; do
		fio --name="$name-$bs" --filename=/dev/ublkb$id --ioengine=io_uring \
			--direct=1 --rw=randwrite --bs="$bs" --size=16M --iodepth=32 \
			--verify=crc32c --verify_fatal=1 --do_verify=1 \
			--output="$TEST_TMP/fio.out" > /dev/null 2>&1 ||
			{ tail -n 15 "$TEST_TMP/fio.out" >&2; fail "$name: fio verify bs=$bs failed"; }
	done
	fio --name="$name-mixed" --filename=/dev/ublkb$id --ioengine=io_uring \
		--direct=1 --rw=randrw --bsrange=512-"$max" --size=32M --iodepth=32 \
		--numjobs=2 --offset_increment=32M --verify=crc32c --verify_fatal=1 \
		--output="$TEST_TMP/fio.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/fio.out" >&2; fail "$name: fio mixed verify failed"; }
	echo "ok $name: fio verify 512 4k 64k $max, mixed with 2 jobs"
}

# unix socket, one queue
sock=$TEST_TMP/mem.sock
nbdkit_unix "$sock" memory 256M
id=$(sublk_add -t nbd --unix "$sock") || fail "add failed"
"$SUBLK" list -n "$id" | grep -q "\"unix\":\"$sock\"" || fail "list does not show the socket"
"$SUBLK" list -n "$id" | grep -q '"export_name":""' || fail "list does not show the export"
[ "$(blockdev --getsize64 /dev/ublkb$id)" = $((256 * mib)) ] || fail "wrong device size"
grep -q '\[none\]' /sys/block/ublkb$id/queue/scheduler ||
	fail "I/O scheduler $(cat /sys/block/ublkb$id/queue/scheduler), not none"
verify_sizes "$id" unix-q1
sublk_del "$id"
nbd_kill "$NBD_PID"

# TCP, two queues (one connection each), a 1 MiB request size
nbdkit_tcp 10810 memory 256M
id=$(sublk_add -t nbd --host 127.0.0.1 --port 10810 -q 2 --max_io_buf_bytes 1M) ||
	fail "add -q 2 over TCP failed"
"$SUBLK" list -n "$id" | grep -q '"host":"127.0.0.1","port":"10810"' ||
	fail "list does not show host and port"
"$SUBLK" list -n "$id" | grep -q '"connections":2' || fail "not 2 connections"
[ "$(max_io_bytes "$id")" = $mib ] || fail "max request is $(max_io_bytes "$id"), not 1 MiB"
verify_sizes "$id" tcp-q2
sublk_del "$id"

# the same server by URI, two connections on one queue
id=$(sublk_add -t nbd --uri nbd://127.0.0.1:10810 --connections 2) ||
	fail "add --connections 2 failed"
"$SUBLK" list -n "$id" | grep -q '"connections":2' || fail "not 2 connections"
verify_sizes "$id" tcp-c2
sublk_del "$id"
nbd_kill "$NBD_PID"

# one queue, one connection, by name and by IPv6 address
nbdkit_tcp 10814 memory 64M
id=$(sublk_add -t nbd --host localhost --port 10814) || fail "add --host localhost failed"
fio_verify /dev/ublkb$id 0 32M tcp-name --iodepth=32 --bsrange=512-256k ||
	{ tail -n 15 "$TEST_TMP/tcp-name.out" >&2; fail "fio verify over TCP by name failed"; }
sublk_del "$id"
nbd_kill "$NBD_PID"
echo "ok tcp by name (localhost), one queue: fio verify"
if [ -e /proc/net/tcp6 ]; then
	nbd_start tcp:10815 nbdkit -f -i ::1 -p 10815 memory 64M
	id=$(sublk_add -t nbd --uri 'nbd://[::1]:10815') || fail "add nbd://[::1]:10815 failed"
	"$SUBLK" list -n "$id" | grep -q '"host":"::1","port":"10815"' ||
		fail "list does not show host ::1"
	fio_verify /dev/ublkb$id 0 32M tcp6 --iodepth=32 --bsrange=512-256k ||
		{ tail -n 15 "$TEST_TMP/tcp6.out" >&2; fail "fio verify over IPv6 failed"; }
	sublk_del "$id"
	nbd_kill "$NBD_PID"
	echo "ok tcp over IPv6 ([::1]): fio verify"
else
	echo "skip IPv6: the guest kernel has no IPv6"
fi

# the server's block sizes: 4 KiB minimum, 64 KiB maximum
nbdkit_unix "$sock" --filter=blocksize-policy memory 64M \
	blocksize-minimum=4096 blocksize-preferred=4096 blocksize-maximum=65536
id=$(sublk_add -t nbd --uri "nbd+unix:///?socket=$sock") || fail "add (block sizes) failed"
[ "$(blockdev --getss /dev/ublkb$id)" = 4096 ] ||
	fail "logical block size $(blockdev --getss /dev/ublkb$id), not the server's 4096"
[ "$(max_io_bytes "$id")" = 65536 ] ||
	fail "max request $(max_io_bytes "$id"), not the server's 65536"
fio --name=bs --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
	--rw=randwrite --bsrange=4k-256k --size=32M --iodepth=16 --verify=crc32c \
	--verify_fatal=1 --output="$TEST_TMP/fio.out" > /dev/null 2>&1 ||
	{ tail -n 15 "$TEST_TMP/fio.out" >&2; fail "fio with the server's block sizes failed"; }
echo "ok block sizes: logical 4096, max request 64 KiB, fio verify"
sublk_del "$id"
nbd_kill "$NBD_PID"

# ext4, remounted with checksums; discard and write-zeroes read back zeros
nbdkit_unix "$sock" memory 256M
# (the copy path: structured replies, read data staged; the rest of the
# file runs on add's pick, zero copy where the driver has it)
id=$(sublk_add -t nbd --unix "$sock" -q 2 --copy) || fail "add -q 2 over unix failed"
"$SUBLK" list -n "$id" | grep -q '"connections":2' || fail "not 2 connections"
verify_sizes "$id" unix-q2
dev=/dev/ublkb$id
mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4 failed"
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
mount "$dev" "$mnt" || fail "mount failed"
for i in 1 2 3 4; do
	head -c $((3 * mib + i * 4097)) /dev/urandom > "$mnt/f$i" || fail "write f$i failed"
done
(cd "$mnt" && sha256sum f*) > "$TEST_TMP/sums"
umount "$mnt" || fail "umount failed"
e2fsck -fn "$dev" > "$TEST_TMP/fsck.out" 2>&1 ||
	{ cat "$TEST_TMP/fsck.out" >&2; fail "e2fsck failed"; }
mount "$dev" "$mnt" || fail "remount failed"
(cd "$mnt" && sha256sum -c --quiet "$TEST_TMP/sums") || fail "checksums differ after remount"
umount "$mnt" || fail "second umount failed"
echo "ok ext4: mkfs, fsck, remount, checksums"

[ "$(cat /sys/block/ublkb$id/queue/discard_max_bytes)" -gt 0 ] || fail "no discard"
[ "$(cat /sys/block/ublkb$id/queue/write_zeroes_max_bytes)" -gt 0 ] || fail "no write-zeroes"
dd if=/dev/urandom of="$dev" bs=1M seek=8 count=16 oflag=direct status=none ||
	fail "fill failed"
blkdiscard -o $((8 * mib)) -l $((4 * mib)) "$dev" || fail "blkdiscard failed"
blkdiscard -z -o $((12 * mib)) -l $((4 * mib)) "$dev" || fail "blkdiscard -z failed"
cmp -n $((8 * mib)) <(dd if="$dev" bs=1M skip=8 count=8 iflag=direct status=none) \
	/dev/zero || fail "discarded and zeroed range does not read back as zeros"
[ "$(dd if="$dev" bs=1M skip=16 count=8 iflag=direct status=none | tr -d '\0' | head -c 1 | wc -c)" = 1 ] ||
	fail "data after the discarded range was lost"
echo "ok discard and write-zeroes read back zeros"
sublk_del "$id"
nbd_kill "$NBD_PID"
assert_no_ublk_devices
