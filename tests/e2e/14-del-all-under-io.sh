#!/bin/bash
# SPDX-License-Identifier: MIT
# `del -a` while fio runs on two devices: both go away, fio gets errors,
# nothing hangs, nothing is left behind.
# timeout: 180
. "$(dirname "$0")/lib.sh"
need_cmd fio

img=/tmp/delall.img
truncate -s 64M "$img"
a=$(sublk_add -t mem -s 64M -q 2) || fail "add mem failed"
b=$(sublk_add -t loop -f "$img") || fail "add loop failed"
wait_for_path /dev/ublkb$a 10 && wait_for_path /dev/ublkb$b 10 || fail "device nodes missing"

for d in $a $b; do
	fio --name=bg$d --filename=/dev/ublkb$d --ioengine=io_uring --direct=1 \
		--rw=randrw --bs=4k --iodepth=32 --time_based --runtime=120 \
		--output=/tmp/fio-bg$d.out >/dev/null 2>&1 &
	eval fio$d=$!
done
sleep 5
timeout 60 "$SUBLK" del -a || fail "del -a failed or hung"
for d in $a $b; do
	eval p=\$fio$d
	timeout 30 tail --pid=$p -f /dev/null || fail "fio on ublkb$d did not end after del -a"
	wait $p && fail "fio on ublkb$d did not see an error"
done
forget_devices
[ ! -e /dev/ublkb$a ] && [ ! -e /dev/ublkb$b ] || fail "device nodes still exist"
rm -f "$img"
assert_no_ublk_devices
assert_no_zombies
assert_no_dstate
