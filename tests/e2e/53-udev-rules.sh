#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped udev rule (dist/udev/60-sublk.rules) under a real
# systemd-udevd: the nodes of an unprivileged device go to its owner, so
# that nobody's `sublk add --unprivileged` succeeds with no help but the
# rule (test 47 chowns by hand instead), and a device brought up from the
# table gets /dev/sublk/NAME, which goes with the device.  udevd runs for
# this test only, with the rule in /run/udev/rules.d.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_feature UNPRIVILEGED_DEV 6.3
need_cmd setpriv udevadm
udevd=/usr/lib/systemd/systemd-udevd
[ -x "$udevd" ] || udevd=/lib/systemd/systemd-udevd
[ -x "$udevd" ] || skip "no systemd-udevd"
[ ! -e /run/udev/control ] || skip "a udevd runs already"

uid=65534
run=$TEST_TMP/run-nobody
bin=$TEST_TMP/bin
mkdir -p "$run" "$bin" "$TEST_TMP/udev" /run/udev/rules.d
chmod 0755 "$TEST_TMP"
chown $uid:$uid "$run"

# TEST-ONLY STUB, never installed: `sublk name` comes with the table
# commands.  Until then this wrapper answers `name ublkbN` for the one
# device the test names, and runs the real sublk for everything else.
# TODO(up): once `sublk up` and `sublk name` exist, bring the device up
# from a table (SUBLK_TABLE) and point the rule at $SUBLK itself.
cat > "$bin/sublk" << EOF
#!/bin/sh
# TEST-ONLY stub for tests/e2e/53-udev-rules.sh
if [ "\$1" = name ]; then
	[ -s "$TEST_TMP/named" ] && [ "\$2" = "ublkb\$(cat "$TEST_TMP/named")" ] || exit 1
	echo e2e-udev
	exit 0
fi
exec "$SUBLK" "\$@"
EOF
chmod 755 "$bin/sublk"
subst() {
	sed -e "s|@SBINDIR@|$bin|g" -e "s|@UDEVDIR@|$TEST_TMP/udev|g" "$1" > "$2"
}
subst "$TOP/dist/udev/sublk-owner" "$TEST_TMP/udev/sublk-owner"
chmod 755 "$TEST_TMP/udev/sublk-owner"
subst "$TOP/dist/udev/60-sublk.rules" /run/udev/rules.d/60-sublk.rules

chmod 0666 /dev/ublk-control
# The VM runs its command in a chroot, where udevd would do nothing.
export SYSTEMD_IGNORE_CHROOT=1
"$udevd" --daemon || fail "systemd-udevd did not start"
test_cleanup() {
	udevadm control --exit 2> /dev/null
	rm -rf /run/udev
	chmod 0600 /dev/ublk-control
}
udevadm control --ping || fail "udevd does not answer"

as_nobody() {
	setpriv --reuid=$uid --regid=$uid --clear-groups --inh-caps=-all \
		env SUBLK_RUN_DIR="$run" "$@"
}

# nobody's device: only the rule can give it /dev/ublkcN in time.
out=$(as_nobody timeout 60 "$SUBLK" add -t null --unprivileged 2>&1) ||
	fail "unprivileged add under udev failed: $out"
id=$(echo "$out" | sed -n 's/^dev id \([0-9]*\):.*/\1/p')
[ -n "$id" ] || fail "no device id in: $out"
_record devs "$id"
udevadm settle -t 10
for n in /dev/ublkc$id /dev/ublkb$id; do
	[ "$(stat -c %u:%g "$n")" = "$uid:$uid" ] ||
		fail "$n is $(stat -c %U:%G "$n"), not nobody's"
done
[ ! -e /dev/sublk/e2e-udev ] || fail "a /dev/sublk link for a device without a name"
as_nobody timeout 30 "$SUBLK" del -n "$id" || fail "nobody cannot delete its device"
_forget devs "$id"
echo "ok unprivileged: udev gave /dev/ublkc$id and /dev/ublkb$id to uid $uid, add and del worked"

# root's device with a table name: /dev/sublk/NAME, nodes left as they are.
id=$(sublk_add -t null) || fail "root's add failed"
echo "$id" > "$TEST_TMP/named"
udevadm trigger --action=change --settle "/sys/class/block/ublkb$id" ||
	fail "udevadm trigger failed"
[ "$(readlink /dev/sublk/e2e-udev)" = "../ublkb$id" ] ||
	fail "/dev/sublk/e2e-udev is '$(readlink /dev/sublk/e2e-udev)', not ../ublkb$id"
[ "$(stat -c %u "/dev/ublkb$id")" = 0 ] || fail "root's /dev/ublkb$id changed owner"
sublk_del "$id"
udevadm settle -t 10
[ ! -e /dev/sublk/e2e-udev ] && [ ! -L /dev/sublk/e2e-udev ] ||
	fail "/dev/sublk/e2e-udev outlived its device"
echo "ok name: /dev/sublk/e2e-udev -> ../ublkb$id while the device lived"
