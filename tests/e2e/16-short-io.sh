#!/bin/bash
# SPDX-License-Identifier: MIT
# loop: a read that finds nothing (its backing file truncated under it)
# fails the request with EIO instead of committing a wrong length or
# hanging; the counters show it, every tag is idle again afterwards and
# reads inside the file still work.
# timeout: 240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio

img=$TEST_TMP/short.img
truncate -s 16M "$img"
id=$(sublk_add -t loop -f "$img" -d 16) || fail "add loop failed"
dev=/dev/ublkb$id
fio_verify $dev 0 16M short-io --bsrange=4k-256k || fail "fio verify on loop failed"

truncate -s 8M "$img"
timeout 20 dd if=$dev of=/dev/null bs=4k skip=3072 count=1 iflag=direct status=none 2> "$TEST_TMP/dd.err"
rc=$?
[ $rc -ne 124 ] || fail "a read past the truncated backing file hung"
[ $rc -ne 0 ] || fail "a read past the truncated backing file succeeded"
grep -qi "input/output error" "$TEST_TMP/dd.err" || fail "short read did not fail with EIO: $(cat "$TEST_TMP/dd.err")"
timeout 20 dd if=$dev of=/dev/null bs=4k skip=1024 count=16 iflag=direct status=none ||
	fail "a read inside the backing file failed after the short one"
dump=$("$SUBLK" dump -n "$id") || fail "dump failed"
[ "$(echo "$dump" | grep -c 'waiting in the kernel')" = 16 ] ||
	{ echo "$dump"; fail "not every tag is idle after the failed request"; }
echo "$dump" | grep -q "errors: read 1 " || { echo "$dump"; fail "the failed read is not counted"; }
echo "ok short read failed with EIO, tags idle"
sublk_del "$id"
assert_no_ublk_devices
