#!/bin/bash
# SPDX-License-Identifier: MIT
# A lost server: nbdkit (file plugin) killed under a verifying fio and
# restarted on the same address, over a unix socket with 2 queues (add's
# pick of data path) and over TCP (--copy): the requests in flight are
# resent and fio verifies.  With the
# server gone, I/O fails with EIO within --timeout and new I/O fails at
# once; the device serves again once the server is back.  `del` while
# requests wait for a server that is gone returns at once.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit fio

img=$TEST_TMP/disk.img
sock=$TEST_TMP/file.sock
truncate -s 128M "$img"

# restart_under_fio NAME ID START-SERVER...: kill -9 the server 3 s into a
# verifying fio, restart it 2 s later; fio must verify.
restart_under_fio() {
	local name=$1 id=$2 fio_pid mark=sublk-test-mark-$RANDOM
	shift 2
	echo "$mark" > /dev/kmsg
	fio_verify /dev/ublkb$id 0 48M "$name" --iodepth=32 --rate_iops=400 &
	fio_pid=$!
	sleep 3
	kill -0 $fio_pid 2> /dev/null || { wait $fio_pid; fail "$name: fio ended before the kill"; }
	nbd_kill "$NBD_PID" KILL
	sleep 2
	kill -0 $fio_pid 2> /dev/null || { wait $fio_pid; fail "$name: fio ended while the server was gone"; }
	"$@"
	wait $fio_pid || { tail -n 20 "$TEST_TMP/$name.out" >&2; fail "$name: fio failed across the restart"; }
	dmesg | sed -n "/$mark/,\$p" | grep "reconnected after" ||
		fail "$name: no reconnection logged"
	echo "ok $name: server killed under fio and restarted, fio verified"
}

nbdkit_unix "$sock" file "$img"
id=$(sublk_add -t nbd --unix "$sock" -q 2) || fail "add over unix failed"
restart_under_fio unix "$id" nbdkit_unix "$sock" file "$img"
sublk_del "$id"
nbd_kill "$NBD_PID"

nbdkit_tcp 10811 file "$img"
id=$(sublk_add -t nbd --host 127.0.0.1 --port 10811 --copy) || fail "add over TCP failed"
restart_under_fio tcp "$id" nbdkit_tcp 10811 file "$img"

# the server gone: EIO within --timeout, then at once; back: I/O works
sublk_del "$id"
id=$(sublk_add -t nbd --host 127.0.0.1 --port 10811 --timeout 8) || fail "add --timeout 8 failed"
dev=/dev/ublkb$id
dd if=/dev/urandom of="$TEST_TMP/data" bs=64k count=16 status=none
dd if="$TEST_TMP/data" of=$dev bs=64k oflag=direct status=none || fail "write failed"
nbd_kill "$NBD_PID" KILL
start=$SECONDS
timeout 30 dd if=$dev of=/dev/null bs=4k count=1 skip=4096 iflag=direct status=none 2> "$TEST_TMP/dd.err"
rc=$?
took=$((SECONDS - start))
[ $rc -ne 124 ] || fail "I/O hung with the server gone"
[ $rc -ne 0 ] || fail "I/O succeeded with the server gone"
grep -q "Input/output error" "$TEST_TMP/dd.err" || fail "not EIO: $(cat "$TEST_TMP/dd.err")"
[ $took -ge 7 ] && [ $took -le 16 ] || fail "I/O failed after $took s, not about --timeout 8"
start=$SECONDS
timeout 30 dd if=$dev of=/dev/null bs=4k count=1 skip=8192 iflag=direct status=none 2> /dev/null &&
	fail "new I/O succeeded with the server gone"
# at once: well before another --timeout (a loaded TCG guest starts dd slowly)
[ $((SECONDS - start)) -le 4 ] || fail "new I/O took $((SECONDS - start)) s to fail, not at once"
echo "ok server gone: EIO after $took s (--timeout 8), new I/O fails at once"
nbdkit_tcp 10811 file "$img"
for ((i = 0; i < 50; i++)); do
	dd if=$dev of="$TEST_TMP/back" bs=64k count=16 iflag=direct status=none 2> /dev/null && break
	sleep 0.2
done
cmp "$TEST_TMP/data" "$TEST_TMP/back" || fail "the data does not read back once the server is back"
echo "ok server back: I/O serves again, the data reads back"
sublk_del "$id"

# del while a request waits for a server that is gone (--timeout 30)
id=$(sublk_add -t nbd --host 127.0.0.1 --port 10811) || fail "add failed"
dev=/dev/ublkb$id
nbd_kill "$NBD_PID" KILL
dd if=$dev of=/dev/null bs=4k count=1 skip=100 iflag=direct status=none 2> /dev/null &
dd_pid=$!
sleep 2
kill -0 $dd_pid 2> /dev/null || fail "the read did not wait for the server"
start=$SECONDS
sublk_del "$id"
took=$((SECONDS - start))
[ $took -le 8 ] || fail "del took $took s with a request waiting (--timeout 30)"
timeout 10 tail --pid=$dd_pid -f /dev/null || fail "the waiting read still hangs after del"
wait $dd_pid && fail "the waiting read succeeded"
echo "ok del with a request waiting for the server: $took s"
assert_no_dstate
assert_no_ublk_devices
