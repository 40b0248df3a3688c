#!/bin/bash
# SPDX-License-Identifier: MIT
# Unprivileged devices (--unprivileged): a non-root user (nobody) creates,
# uses and deletes a device.  The permissions a udev rule would give are
# given by hand, as README.md documents: /dev/ublk-control world-writable,
# and each /dev/ublkcN and /dev/ublkbN owned by the device's owner.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_feature UNPRIVILEGED_DEV 6.3
need_cmd setpriv

unpriv_setup

out=$(as_nobody timeout 60 "$SUBLK" add -t mem -s 64M --unprivileged 2>&1) ||
	fail "unprivileged add failed: $out"
echo "$out"
id=$(echo "$out" | sed -n 's/^dev id \([0-9]*\):.*/\1/p')
[ -n "$id" ] || fail "no device id in: $out"
_record devs "$id"
echo "$out" | grep -q "owner: $uid:$uid" || fail "device not owned by $uid"
echo "$out" | grep -q UNPRIVILEGED_DEV || fail "device lacks UNPRIVILEGED_DEV"
head -c 1M /dev/urandom > "$run/data"
chmod 0644 "$run/data"
as_nobody dd if="$run/data" of=/dev/ublkb$id bs=64k oflag=direct status=none ||
	fail "nobody cannot write its device"
as_nobody cmp -n 1048576 "$run/data" /dev/ublkb$id || fail "data read back as nobody differs"
as_nobody "$SUBLK" list -n "$id" > /dev/null || fail "nobody cannot list its device"
as_nobody timeout 30 "$SUBLK" del -n "$id" || fail "nobody cannot delete its device"
_forget devs "$id"
assert_no_ublk_devices
echo "ok unprivileged: add, I/O, list, del as uid $uid"

# several unprivileged devices in one del: each keeps its own path
ids=()
for n in 1 2 3; do
	out=$(as_nobody timeout 60 "$SUBLK" add -t null --unprivileged 2>&1) || fail "add $n: $out"
	ids+=("$(echo "$out" | sed -n 's/^dev id \([0-9]*\):.*/\1/p')")
	_record devs "${ids[-1]}"
done
as_nobody timeout 60 "$SUBLK" del -n "${ids[0]}" -n "${ids[1]}" -n "${ids[2]}" ||
	fail "nobody cannot delete 3 devices in one del"
for i in "${ids[@]}"; do _forget devs "$i"; done
assert_no_ublk_devices
echo "ok one del of 3 unprivileged devices"

# del -a as nobody: its own device goes, root's stays, and it says why
out=$(as_nobody timeout 60 "$SUBLK" add -t null --unprivileged 2>&1) || fail "add: $out"
mine=$(echo "$out" | sed -n 's/^dev id \([0-9]*\):.*/\1/p')
_record devs "$mine"
roots=$(sublk_add -t null) || fail "root's add failed"
out=$(as_nobody timeout 60 "$SUBLK" del -a 2>&1) && fail "del -a as nobody succeeded on root's device too"
echo "$out"
_forget devs "$mine"
[ ! -e /dev/ublkc"$mine" ] || fail "del -a as nobody did not delete its own device"
"$SUBLK" list -n "$roots" > /dev/null || fail "del -a as nobody deleted root's device"
case $out in *"device $roots"*) ;; *) fail "del -a did not name device $roots: $out" ;; esac
sublk_del "$roots"
echo "ok del -a as nobody: own device deleted, root's kept"
