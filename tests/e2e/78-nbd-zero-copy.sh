#!/bin/bash
# SPDX-License-Identifier: MIT
# Zero copy (-z) on the nbd target: a write's payload leaves by WRITE_FIXED
# and a read's data arrives by READ_FIXED on the socket, from and to the
# request's registered pages; with the kernel's own buffer registration
# and with REGISTER_IO_BUF per request.  fio verify (unix and TCP, 2
# queues, 512 bytes to the largest request), ext4 with checksums, and a
# server killed and restarted under fio.
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit fio mkfs.ext4 e2fsck
need_feature ZERO_COPY 6.15

sock=$TEST_TMP/zc.sock
img=$TEST_TMP/zc.img
mib=$((1024 * 1024))
truncate -s 256M "$img"

zc_suite() { # NAME
	local name=$1 id bs max
	nbdkit_unix "$sock" file "$img"
	id=$(sublk_add -t nbd --unix "$sock" -z -q 2) || fail "$name: add -z failed"
	"$SUBLK" list -n "$id" | grep -q "data path: zero copy" || fail "$name: not zero copy"
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
	mkfs.ext4 -q -F /dev/ublkb$id || fail "$name: mkfs.ext4 failed"
	mkdir -p "$TEST_TMP/mnt"
	mount /dev/ublkb$id "$TEST_TMP/mnt" || fail "$name: mount failed"
	head -c $((5 * mib + 123)) /dev/urandom > "$TEST_TMP/mnt/f"
	sum=$(sha "$TEST_TMP/mnt/f")
	umount "$TEST_TMP/mnt" && mount /dev/ublkb$id "$TEST_TMP/mnt" || fail "$name: remount failed"
	[ "$(sha "$TEST_TMP/mnt/f")" = "$sum" ] || fail "$name: checksum differs after remount"
	umount "$TEST_TMP/mnt"
	e2fsck -fn /dev/ublkb$id > "$TEST_TMP/fsck.out" 2>&1 ||
		{ cat "$TEST_TMP/fsck.out" >&2; fail "$name: e2fsck failed"; }
	fio_verify /dev/ublkb$id 0 32M "$name-restart" --iodepth=32 --rate_iops=400 &
	fio_pid=$!
	sleep 3
	nbd_kill "$NBD_PID" KILL
	sleep 1
	nbdkit_unix "$sock" file "$img"
	wait $fio_pid || { tail -n 15 "$TEST_TMP/$name-restart.out" >&2; fail "$name: fio failed across a server restart"; }
	sublk_del "$id"
	nbd_kill "$NBD_PID"
	echo "ok $name: fio verify 512 to $max, mixed, ext4, server restart under fio"
}

zc_suite zero-copy
if has_feature AUTO_BUF_REG; then
	SUBLK_NO_AUTO_BUF_REG=1 zc_suite zero-copy-manual-reg
else
	echo "skip the kernel's own buffer registration: needs Linux 6.16 (AUTO_BUF_REG); done per request above"
fi

nbdkit_tcp 10813 memory 128M
id=$(sublk_add -t nbd --host 127.0.0.1 --port 10813 -z) || fail "add -z over TCP failed"
fio_verify /dev/ublkb$id 0 64M zc-tcp --iodepth=32 --bsrange=512-512k ||
	{ tail -n 15 "$TEST_TMP/zc-tcp.out" >&2; fail "fio verify -z over TCP failed"; }
sublk_del "$id"
nbd_kill "$NBD_PID"
echo "ok zero copy over TCP"
assert_no_ublk_devices
