#!/bin/bash
# SPDX-License-Identifier: MIT
# Errors and slow replies from the server: nbdkit's error filter switched
# on and off (error-file): reads and writes fail with the server's errno
# (EIO, ENOSPC) while it is on, the device stays up and serves the same
# data once it is off; the delay filter's slow replies (reads slower than
# writes, so replies come out of order) complete and verify.
# timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit fio

sock=$TEST_TMP/e.sock
img=$TEST_TMP/e.img
errs=$TEST_TMP/errors-on
truncate -s 64M "$img"
head -c $((1024 * 1024)) /dev/urandom > "$TEST_TMP/data"

for e in EIO:"Input/output error" ENOSPC:"No space left on device"; do
	msg=${e#*:}
	e=${e%%:*}
	rm -f "$errs"
	nbdkit_unix "$sock" --filter=error file "$img" error=$e error-rate=100% error-file="$errs"
	# EIO on the copy path (a structured error chunk), ENOSPC on add's
	# pick (zero copy where the driver has it: a simple reply's error)
	copy=
	[ "$e" = EIO ] && copy=--copy
	# shellcheck disable=SC2086
	id=$(sublk_add -t nbd --unix "$sock" $copy) || fail "$e: add failed"
	dev=/dev/ublkb$id
	dd if="$TEST_TMP/data" of=$dev bs=64k oflag=direct status=none || fail "$e: write failed"
	touch "$errs"
	dd if=$dev of=/dev/null bs=64k count=1 iflag=direct status=none 2> "$TEST_TMP/dd.err" &&
		fail "$e: a read succeeded with errors on"
	grep -q "$msg" "$TEST_TMP/dd.err" || fail "$e: the read failed with: $(cat "$TEST_TMP/dd.err")"
	dd if=/dev/zero of=$dev bs=64k count=1 oflag=direct status=none 2> "$TEST_TMP/dd.err" &&
		fail "$e: a write succeeded with errors on"
	grep -q "$msg" "$TEST_TMP/dd.err" || fail "$e: the write failed with: $(cat "$TEST_TMP/dd.err")"
	rm -f "$errs"
	cmp "$TEST_TMP/data" <(dd if=$dev bs=64k count=16 iflag=direct status=none) ||
		fail "$e: the data does not read back once errors stop"
	"$SUBLK" list -n "$id" | grep -q "state LIVE" || fail "$e: the device is not LIVE"
	sublk_del "$id"
	nbd_kill "$NBD_PID"
	echo "ok $e: reads and writes fail with '$msg' while errors are on, then serve again"
done

nbdkit_unix "$sock" --filter=delay memory 64M delay-read=300ms delay-write=100ms
id=$(sublk_add -t nbd --unix "$sock") || fail "add (delay) failed"
start=$SECONDS
fio --name=delay --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
	--rw=randrw --bs=64k --size=8M --iodepth=16 --verify=crc32c \
	--verify_fatal=1 --output="$TEST_TMP/delay.out" > /dev/null 2>&1 ||
	{ tail -n 15 "$TEST_TMP/delay.out" >&2; fail "fio with slow replies failed"; }
echo "ok delay: slow, out-of-order replies verify ($((SECONDS - start)) s)"
sublk_del "$id"
nbd_kill "$NBD_PID"
assert_no_ublk_devices
