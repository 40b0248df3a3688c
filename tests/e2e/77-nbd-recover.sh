#!/bin/bash
# SPDX-License-Identifier: MIT
# User recovery of an nbd device (-r 1): the daemon is killed, the device
# holds I/O (QUIESCED), `recover` connects to the server again and the
# data written before, and a verifying fio after, are right.
# timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit fio

sock=$TEST_TMP/r.sock
img=$TEST_TMP/r.img
truncate -s 128M "$img"
nbdkit_unix "$sock" file "$img"
id=$(sublk_add -t nbd --unix "$sock" -r 1 --timeout 20) || fail "add -r 1 failed"
dev=/dev/ublkb$id
fio_verify $dev 0 16M before || fail "first workload failed"
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "not QUIESCED after kill -9"
fio_verify $dev 32M 16M during &
fio_pid=$!
sleep 2
kill -0 $fio_pid 2> /dev/null || fail "I/O did not wait for the daemon"
"$SUBLK" recover -n "$id" > /dev/null || fail "recover failed"
[ "$(dev_state "$id")" = LIVE ] || fail "not LIVE after recover"
"$SUBLK" list -n "$id" | grep -q '"timeout":20' || fail "recover lost the nbd settings"
wait $fio_pid || fail "the workload issued while the daemon was dead failed"
fio --name=check --filename=$dev --ioengine=io_uring --direct=1 --rw=randwrite \
	--bs=4k --offset=0 --size=16M --verify=crc32c --verify_only=1 \
	--verify_fatal=1 --output="$TEST_TMP/check.out" > /dev/null 2>&1 ||
	fail "data written before the crash does not verify"
echo "ok -r 1: killed, QUIESCED, recovered over a new connection, data verified"
sublk_del "$id"
nbd_kill "$NBD_PID"
assert_no_ublk_devices
