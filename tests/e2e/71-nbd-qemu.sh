#!/bin/bash
# SPDX-License-Identifier: MIT
# QEMU's and the reference NBD servers: a named export of qemu-storage-
# daemon holds what was written through sublk in its image file after
# del; a qcow2 image through qemu-nbd verifies, reads its unallocated
# clusters (holes) as zeros and stays consistent (qemu-img check, the data
# in the converted image); nbd-server (TCP,
# named export) passes a verifying fio.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd qemu-storage-daemon qemu-nbd qemu-img nbd-server fio

sock=$TEST_TMP/q.sock
img=$TEST_TMP/disk.raw
mib=$((1024 * 1024))
head -c $((16 * mib)) /dev/urandom > "$TEST_TMP/data"

# qemu-storage-daemon, export "disk0" of a raw file
truncate -s 128M "$img"
nbd_start "$sock" qemu-storage-daemon \
	--blockdev driver=file,node-name=file0,filename="$img" \
	--blockdev driver=raw,node-name=disk0,file=file0 \
	--nbd-server addr.type=unix,addr.path="$sock" \
	--export type=nbd,id=exp0,node-name=disk0,name=disk0,writable=on
id=$(sublk_add -t nbd --unix "$sock" --export_name disk0) || fail "add (qsd) failed"
"$SUBLK" list -n "$id" | grep -q '"export_name":"disk0"' || fail "list does not show export disk0"
fio_verify /dev/ublkb$id 64M 32M qsd --iodepth=32 ||
	{ tail -n 15 "$TEST_TMP/qsd.out" >&2; fail "fio verify on qsd failed"; }
dd if="$TEST_TMP/data" of=/dev/ublkb$id bs=1M seek=4 oflag=direct status=none ||
	fail "write through sublk failed"
sublk_del "$id"
nbd_kill "$NBD_PID"
cmp -n $((16 * mib)) "$TEST_TMP/data" <(dd if="$img" bs=1M skip=4 count=16 status=none) ||
	fail "the image file does not hold what was written through sublk"
echo "ok qemu-storage-daemon: named export, the data is in the image file after del"

# qemu-nbd, qcow2
q=$TEST_TMP/disk.qcow2
qemu-img create -q -f qcow2 "$q" 256M || fail "qemu-img create failed"
nbd_start "$sock" qemu-nbd -f qcow2 -k "$sock" -t "$q"
id=$(sublk_add -t nbd --unix "$sock") || fail "add (qemu-nbd qcow2) failed"
fio_verify /dev/ublkb$id 0 64M qcow2 --iodepth=32 --bsrange=4k-256k ||
	{ tail -n 15 "$TEST_TMP/qcow2.out" >&2; fail "fio verify on qcow2 failed"; }
dd if="$TEST_TMP/data" of=/dev/ublkb$id bs=1M seek=100 oflag=direct status=none ||
	fail "write to qcow2 failed"
# unallocated clusters come back as holes (structured replies): zeros,
# whatever the request buffers held from the reads and writes before
dd if=/dev/ublkb$id of=/dev/null bs=64k skip=1600 count=64 iflag=direct status=none
cmp -n $((4 * mib)) <(dd if=/dev/ublkb$id bs=64k skip=3072 count=64 iflag=direct status=none) \
	/dev/zero || fail "unallocated clusters do not read back as zeros"
sublk_del "$id"
nbd_kill "$NBD_PID"
qemu-img check -q "$q" || fail "qemu-img check finds the qcow2 image damaged"
qemu-img convert -f qcow2 -O raw "$q" "$TEST_TMP/q.raw" || fail "qemu-img convert failed"
cmp -n $((16 * mib)) "$TEST_TMP/data" <(dd if="$TEST_TMP/q.raw" bs=1M skip=100 count=16 status=none) ||
	fail "the qcow2 image does not hold what was written"
echo "ok qemu-nbd qcow2: fio verify, qemu-img check, the data in the image"

# nbd-server, TCP, export "ref"
cat > "$TEST_TMP/nbd-server.conf" << CONF
[generic]
	listenaddr = 127.0.0.1
	port = 10812
[ref]
	exportname = $img
CONF
nbd_start tcp:10812 nbd-server -d -C "$TEST_TMP/nbd-server.conf"
id=$(sublk_add -t nbd --uri nbd://127.0.0.1:10812/ref) || fail "add (nbd-server) failed"
fio_verify /dev/ublkb$id 0 32M ref --iodepth=16 ||
	{ tail -n 15 "$TEST_TMP/ref.out" >&2; fail "fio verify on nbd-server failed"; }
sublk_del "$id"
nbd_kill "$NBD_PID"
echo "ok nbd-server: fio verify"
assert_no_ublk_devices
