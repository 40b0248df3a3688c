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

uid=65534
run=$TEST_TMP/run-nobody
mkdir -p "$run"
chmod 0755 "$TEST_TMP"
chown $uid:$uid "$run"
chmod 0666 /dev/ublk-control
# the udev rule's job: owner of the new nodes = the device's owner
( while :; do
	for n in /dev/ublkc* /dev/ublkb*; do
		[ -e "$n" ] && [ "$(stat -c %u "$n")" != $uid ] && chown $uid:$uid "$n" 2> /dev/null
	done
	sleep 0.05
done ) &
chowner=$!
test_cleanup() {
	kill $chowner 2> /dev/null
	chmod 0600 /dev/ublk-control
}

as_nobody() {
	setpriv --reuid=$uid --regid=$uid --clear-groups --inh-caps=-all \
		env SUBLK_RUN_DIR="$run" "$@"
}

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
