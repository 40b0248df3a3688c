#!/bin/bash
# SPDX-License-Identifier: MIT
# User recovery on a loop device: kill -9 of the daemon, the device holds
# I/O (QUIESCED) or fails it (FAIL_IO), `sublk recover` brings it back and
# verifying fio workloads complete.
# timeout: 420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio

img=$TEST_TMP/rec.img
truncate -s 128M "$img"

# -r 1: the daemon dies while idle; I/O issued while it is dead waits and
# completes once `recover` has run; data written before survives.
id=$(sublk_add -t loop -f "$img" -r 1) || fail "add -r 1 failed"
dev=/dev/ublkb$id
fio_verify $dev 0 16M before || fail "first workload failed"
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "-r 1: device not QUIESCED after kill -9"
fio_verify $dev 32M 16M during &
fio_pid=$!
sleep 3
kill -0 $fio_pid 2> /dev/null || fail "-r 1: I/O did not wait for the daemon"
"$SUBLK" recover -n "$id" > /dev/null || fail "recover -n $id failed"
[ "$(dev_state "$id")" = LIVE ] || fail "-r 1: not LIVE after recover"
wait $fio_pid || fail "-r 1: workload issued while the daemon was dead failed"
fio --name=check --filename=$dev --ioengine=io_uring --direct=1 --rw=randwrite \
	--bs=4k --offset=0 --size=16M --verify=crc32c --verify_only=1 \
	--verify_fatal=1 --output="$TEST_TMP/check.out" > /dev/null 2>&1 ||
	fail "-r 1: data written before the crash does not verify"
echo "ok -r 1: QUIESCED, I/O waited, recovered, data verified"
sublk_del "$id"

# -r 1 -i 1: the daemon dies in the middle of a verifying workload; the
# requests it held are reissued to the new daemon and the verify passes.
id=$(sublk_add -t loop -f "$img" -r 1 -i 1 -q 2) || fail "add -r 1 -i 1 failed"
dev=/dev/ublkb$id
fio_verify $dev 0 64M reissue --iodepth=32 --rate_iops=800 &
fio_pid=$!
sleep 4
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "-i 1: device not QUIESCED after kill -9"
kill -0 $fio_pid 2> /dev/null || { wait $fio_pid; echo "fio status $?" >&2; tail -n 20 "$TEST_TMP/reissue.out" >&2; fail "-i 1: workload ended while the daemon was dead"; }
"$SUBLK" recover -n "$id" > /dev/null || fail "recover -n $id (-i 1) failed"
wait $fio_pid || { tail -n 20 "$TEST_TMP/reissue.out" >&2; fail "-i 1: verifying workload failed across the crash"; }
echo "ok -r 1 -i 1: killed during I/O, reissued, verify passed"
sublk_del "$id"

# -r 1 -e 1: while the daemon is gone, I/O fails at once
if has_feature USER_RECOVERY_FAIL_IO; then
	id=$(sublk_add -t loop -f "$img" -r 1 -e 1) || fail "add -e 1 failed"
	dev=/dev/ublkb$id
	kill -9 "$(daemon_pid "$id")"
	wait_state "$id" FAIL_IO 15 || fail "-e 1: device not FAIL_IO after kill -9"
	timeout 10 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct status=none 2> /dev/null
	rc=$?
	[ $rc -ne 124 ] || fail "-e 1: I/O hung instead of failing"
	[ $rc -ne 0 ] || fail "-e 1: I/O succeeded with no daemon"
	"$SUBLK" recover -n "$id" > /dev/null || fail "recover (-e 1) failed"
	dd if=$dev of=/dev/null bs=4k count=1 iflag=direct status=none || fail "-e 1: I/O fails after recover"
	echo "ok -r 1 -e 1: I/O failed promptly, recovered"
	sublk_del "$id"
else
	echo "-e 1 not tested: needs Linux 6.13 (USER_RECOVERY_FAIL_IO)"
fi

# no recovery: pending and new I/O fail, nothing hangs, del works
id=$(sublk_add -t loop -f "$img" -q 2) || fail "add failed"
dev=/dev/ublkb$id
fio_verify $dev 0 64M norec --iodepth=32 --rate_iops=800 &
fio_pid=$!
sleep 3
kill -9 "$(daemon_pid "$id")"
timeout 30 tail --pid=$fio_pid -f /dev/null || fail "no -r: fio hung after kill -9"
wait $fio_pid && fail "no -r: fio did not see errors"
timeout 10 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct status=none 2> /dev/null &&
	fail "no -r: new I/O succeeded with no daemon"
sublk_del "$id" || fail "del after kill -9 failed"
assert_no_dstate
assert_no_ublk_devices
echo "ok no recovery: I/O failed, del worked"
