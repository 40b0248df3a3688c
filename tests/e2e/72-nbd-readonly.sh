#!/bin/bash
# SPDX-License-Identifier: MIT
# Read-only: an export the server offers read-only (nbdkit -r) and a
# writable one added with --read_only both make a read-only device
# (blockdev --getro is 1): reads return the data, writes fail.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit

sock=$TEST_TMP/ro.sock
img=$TEST_TMP/ro.img
head -c $((8 * 1024 * 1024)) /dev/urandom > "$img"
truncate -s 64M "$img"

check_ro() { # ID NAME
	local dev=/dev/ublkb$1
	[ "$(blockdev --getro "$dev")" = 1 ] || fail "$2: blockdev --getro is not 1"
	"$SUBLK" list -n "$1" | grep -q '"read_only":1' || fail "$2: list does not say read_only"
	cmp -n $((8 * 1024 * 1024)) "$img" <(dd if="$dev" bs=1M count=8 iflag=direct status=none) ||
		fail "$2: reads do not return the data"
	dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct status=none 2> /dev/null &&
		fail "$2: a write succeeded"
	cmp -n 4096 "$img" "$dev" || fail "$2: the data changed"
	echo "ok $2: read-only, reads work, writes fail"
}

nbdkit_unix "$sock" -r file "$img"
id=$(sublk_add -t nbd --unix "$sock") || fail "add of a read-only export failed"
check_ro "$id" "server read-only"
sublk_del "$id"
nbd_kill "$NBD_PID"

nbdkit_unix "$sock" file "$img"
id=$(sublk_add -t nbd --unix "$sock" --read_only) || fail "add --read_only failed"
check_ro "$id" "--read_only"
sublk_del "$id"
nbd_kill "$NBD_PID"
assert_no_ublk_devices
