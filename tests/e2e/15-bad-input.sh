#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input: each gets a clear one-line error, a non-zero exit, and leaves
# no device, daemon or run file behind.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"


expect_error "unknown target type 'bogus'" add -t bogus
expect_error "-t TYPE is required" add -q 1
expect_error "loop: -f FILE is required" add -t loop
expect_error "/tmp/does-not-exist" add -t loop -f /tmp/does-not-exist
mkdir -p /tmp/adir
expect_error "/tmp/adir" add -t loop -f /tmp/adir
# the host root is read-only in the VM: a file there cannot back a device
expect_error "$(readlink -f "$SUBLK")" add -t loop -f "$(readlink -f "$SUBLK")"
: > /tmp/empty.img
expect_error "empty" add -t loop -f /tmp/empty.img
expect_error "depth 0 is out of range" add -t null -d 0
expect_error "depth 4097 is out of range" add -t null -d 4097
expect_error "too many queues" add -t null -q 5000
# the driver is asked first: without ZERO_COPY (before 6.15) that is the refusal
if has_feature ZERO_COPY; then
	expect_error "zero copy (-z) works with null, loop, stripe and nbd" add -t mem -s 64M -z
else
	expect_error "lacks ZERO_COPY (needs Linux 6.15 or newer)" add -t mem -s 64M -z
fi
expect_error "bad device id '-1'" del -n -1
expect_error "unknown option '--bogus'" list --bogus
expect_error "unexpected argument 'x'" list x
expect_error "not a multiple of the 512-byte block size" add -t mem -s 1000
expect_error "bad size" add -t mem -s lots
expect_error "device 999 does not exist" del -n 999
expect_error "device 999 does not exist" list -n 999

# an id that is taken
id=$(sublk_add -t null) || fail "add null failed"
out=$("$SUBLK" add -t null -n "$id" 2>&1 >/dev/null) && fail "add with a taken id succeeded"
case $out in *"already exists"*) ;; *) fail "taken id: '$out'" ;; esac
sublk_del "$id" || fail "del failed"
assert_no_ublk_devices

# the driver not loaded: the message says how to load it
modprobe -r ublk_drv || fail "cannot unload ublk_drv"
out=$("$SUBLK" add -t null 2>&1 >/dev/null) && { modprobe ublk_drv; fail "add without ublk_drv succeeded"; }
modprobe ublk_drv || modprobe -d "${SUBLK_MODDIR:-/}" ublk_drv
case $out in *"modprobe ublk_drv"*) ;; *) fail "driver missing: '$out'" ;; esac
echo "ok: driver missing -> $out"
wait_for_path /dev/ublk-control 10 || fail "ublk_drv did not come back"
