#!/bin/bash
# SPDX-License-Identifier: MIT
# A server that breaks the protocol (nbd-bad-server.py): a reply with a bad
# magic, an unknown cookie, a data chunk longer than the read, a read left
# partly uncovered, a connection closed halfway through the data.  Each
# time sublk logs what was wrong and drops the connection, the broken
# read fails with EIO within --timeout while other I/O goes on, nothing
# hangs, and del works at once.  On the copy path (--copy): the broken
# chunks are structured replies, which add's pick (zero copy) does not
# ask for.
# timeout: 400
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd python3

server=$(dirname "$0")/nbd-bad-server.py
sock=$TEST_TMP/bad.sock

# log_has WORDS: the daemon logged WORDS (to the kernel log) since the mark
log_has() {
	dmesg | sed -n "/sublk-test-mark-$mark/,\$p" | grep -q "$1"
}

for mode in magic:"bad reply magic" cookie:"unknown cookie" \
	    oversized:"exceeds the maximum\|lies beyond" \
	    short:"covers" hangup:"closed the connection"; do
	words=${mode#*:}
	mode=${mode%%:*}
	mark=$mode-$RANDOM
	echo "sublk-test-mark-$mark" > /dev/kmsg
	nbd_start "$sock" python3 "$server" "$sock" "$mode"
	id=$(sublk_add -t nbd --unix "$sock" --timeout 4 --copy) || fail "$mode: add failed"
	dev=/dev/ublkb$id
	dd if=$dev of=/dev/null bs=4k count=16 iflag=direct status=none ||
		fail "$mode: a good read failed"
	start=$SECONDS
	timeout 30 dd if=$dev of=/dev/null bs=4k count=1 skip=$((63 * 256)) \
		iflag=direct status=none 2> "$TEST_TMP/dd.err"
	rc=$?
	took=$((SECONDS - start))
	[ $rc -ne 124 ] || fail "$mode: the broken read hung"
	[ $rc -ne 0 ] || fail "$mode: the broken read succeeded"
	grep -q "Input/output error" "$TEST_TMP/dd.err" ||
		fail "$mode: the broken read did not fail with EIO: $(cat "$TEST_TMP/dd.err")"
	[ $took -le 15 ] || fail "$mode: the broken read took $took s to fail (--timeout 4)"
	log_has "$words" || { dmesg | tail -n 20 >&2; fail "$mode: the log does not say '$words'"; }
	# the device is still up: good reads (and writes) go on
	dd if=/dev/urandom of=$dev bs=4k count=8 oflag=direct status=none ||
		fail "$mode: a write after the broken read failed"
	dd if=$dev of=/dev/null bs=4k count=16 iflag=direct status=none ||
		fail "$mode: a read after the broken read failed"
	start=$SECONDS
	sublk_del "$id"
	[ $((SECONDS - start)) -le 10 ] || fail "$mode: del took $((SECONDS - start)) s"
	nbd_kill "$NBD_PID"
	echo "ok $mode: EIO in $took s, device still serving; logged:"
	dmesg | sed -n "/sublk-test-mark-$mark/,\$p" | grep -m 1 "nbd:"
done
# Zero copy, writes only: no read is out, so one receive takes every
# reply header that came (the "wide" receive).  A broken reply to a write
# arrives there and must be refused the same way.
for mode in wmagic:"bad reply magic" wcookie:"unknown cookie"; do
	words=${mode#*:}
	mode=${mode%%:*}
	mark=$mode-$RANDOM
	echo "sublk-test-mark-$mark" > /dev/kmsg
	nbd_start "$sock" python3 "$server" "$sock" "$mode"
	id=$(sublk_add -t nbd --unix "$sock" --timeout 4) || fail "$mode: add failed"
	dev=/dev/ublkb$id
	if ! "$SUBLK" list -n "$id" | grep -q "data path: zero copy"; then
		echo "$mode: add picked $("$SUBLK" list -n "$id" | sed -n 's/.*data path: //p'), not zero copy: the wide receive is not used here"
		sublk_del "$id"
		nbd_kill "$NBD_PID"
		continue
	fi
	dd if=/dev/urandom of=$dev bs=4k count=16 oflag=direct status=none ||
		fail "$mode: a good write failed"
	start=$SECONDS
	timeout 30 dd if=/dev/urandom of=$dev bs=4k count=1 seek=$((63 * 256)) \
		oflag=direct status=none 2> "$TEST_TMP/dd.err"
	rc=$?
	took=$((SECONDS - start))
	[ $rc -ne 124 ] || fail "$mode: the broken write hung"
	[ $rc -ne 0 ] || fail "$mode: the broken write succeeded"
	grep -q "Input/output error" "$TEST_TMP/dd.err" ||
		fail "$mode: the broken write did not fail with EIO: $(cat "$TEST_TMP/dd.err")"
	[ $took -le 15 ] || fail "$mode: the broken write took $took s to fail (--timeout 4)"
	log_has "$words" || { dmesg | tail -n 20 >&2; fail "$mode: the log does not say '$words'"; }
	dd if=/dev/urandom of=$dev bs=4k count=8 oflag=direct status=none ||
		fail "$mode: a write after the broken write failed"
	dd if=$dev of=/dev/null bs=4k count=16 iflag=direct status=none ||
		fail "$mode: a read after the broken write failed"
	sublk_del "$id"
	nbd_kill "$NBD_PID"
	echo "ok $mode (zero copy): EIO in $took s, device still serving"
done
assert_no_dstate
assert_no_ublk_devices
