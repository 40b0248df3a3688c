#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 60
#
# Leaves a ublk device behind on purpose, with its /dev nodes unlinked so
# that only /sys/class/ublk-char/ublkcN shows it.  Not part of the suite:
# tests/harness-selftest.sh checks that the runner's leftover check
# (assert_no_ublk_devices) fails this test and that the teardown removes the
# device, so the next test passes.

. "$(dirname "$0")/../lib.sh"

id=$(sublk_add -t null -s 16M) || fail "sublk add failed"
wait_for_path "/dev/ublkb$id" 10 || fail "no /dev/ublkb$id"
[ -e "/sys/class/ublk-char/ublkc$id" ] ||
	fail "no /sys/class/ublk-char/ublkc$id"
# Devtmpfs nodes can be unlinked; the device stays.
rm -f "/dev/ublkb$id" "/dev/ublkc$id"
forget_devices
echo "left device $id behind; only /sys/class/ublk-char/ublkc$id shows it"
