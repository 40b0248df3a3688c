#!/bin/bash
# SPDX-License-Identifier: MIT
# update_size grows a mem and a loop device while they are in use; the
# kernel sees the new size and data written past the old end reads back.
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_feature UPDATE_SIZE 6.16

grow() { # grow ID OLD NEW
	local id=$1 dev=/dev/ublkb$1
	exec 9< "$dev"		# keep it open: growing happens in use
	"$SUBLK" update_size -n "$id" -s "$3" || fail "update_size -n $id -s $3 failed"
	[ "$(blockdev --getsize64 "$dev")" = "$3" ] ||
		fail "size after update_size: $(blockdev --getsize64 "$dev"), want $3"
	head -c 1M /dev/urandom > "$TEST_TMP/tail"
	dd if="$TEST_TMP/tail" of="$dev" bs=1M seek=$(($3 / 1048576 - 1)) oflag=direct status=none ||
		fail "write past the old end failed"
	dd if="$dev" of="$TEST_TMP/back" bs=1M skip=$(($3 / 1048576 - 1)) iflag=direct status=none ||
		fail "read past the old end failed"
	cmp "$TEST_TMP/tail" "$TEST_TMP/back" || fail "data past the old end differs"
	exec 9<&-
	"$SUBLK" list -n "$id" | grep -q "dev_capacity $(($3 / 512))" || fail "list does not show the new size"
}

id=$(sublk_add -t mem -s 64M) || fail "add mem failed"
grow "$id" $((64 << 20)) $((128 << 20))
"$SUBLK" update_size -n "$id" -s 1T 2> "$TEST_TMP/err" && fail "mem grew past its reserve"
grep -q "at most" "$TEST_TMP/err" || fail "unclear error: $(cat "$TEST_TMP/err")"
sublk_del "$id"
echo "ok mem grown 64M -> 128M"

img=$TEST_TMP/grow.img
truncate -s 64M "$img"
id=$(sublk_add -t loop -f "$img") || fail "add loop failed"
grow "$id" $((64 << 20)) $((192 << 20))
[ "$(stat -c %s "$img")" -ge $((192 << 20)) ] || fail "backing file not grown"
sublk_del "$id"
echo "ok loop grown 64M -> 192M"

# a relative backing file is saved as an absolute path: update_size, run
# from another directory, grows that file and no other
mkdir -p "$TEST_TMP/rel" "$TEST_TMP/elsewhere"
truncate -s 64M "$TEST_TMP/rel/disk.img"
id=$(cd "$TEST_TMP/rel" && sublk_add -t loop -f disk.img) || fail "add loop -f disk.img failed"
"$SUBLK" list -v -n "$id" | grep -q "\"$TEST_TMP/rel/disk.img\"" ||
	fail "list -v does not show the absolute path: $("$SUBLK" list -v -n "$id")"
(cd "$TEST_TMP/elsewhere" && "$SUBLK" update_size -n "$id" -s 128M) || fail "update_size (relative file) failed"
[ "$(stat -c %s "$TEST_TMP/rel/disk.img")" = $((128 << 20)) ] || fail "the backing file was not grown"
[ ! -e "$TEST_TMP/elsewhere/disk.img" ] || fail "update_size made a new file in the current directory"
sublk_del "$id"
echo "ok relative backing file saved absolute"

# null has no reserve: the saved limit is its size, not garbage
id=$(sublk_add -t null -s 1G) || fail "add null failed"
"$SUBLK" update_size -n "$id" -s 2G 2> "$TEST_TMP/err" && fail "null grew past its size"
grep -q "1073741824 bytes at most" "$TEST_TMP/err" || fail "null: unclear error: $(cat "$TEST_TMP/err")"

# the saved size changes only once the kernel accepted the new one
pid=$(daemon_pid "$id")
kill -9 "$pid"
wait_pid_gone "$pid" 10 || fail "daemon survived kill -9"
before=$(grep -o '"size":[0-9]*' "$SUBLK_RUN_DIR/$id.json")
"$SUBLK" update_size -n "$id" -s 512M 2> "$TEST_TMP/err" && fail "update_size of a stopped device succeeded"
cat "$TEST_TMP/err"
after=$(grep -o '"size":[0-9]*' "$SUBLK_RUN_DIR/$id.json")
[ "$before" = "$after" ] || fail "saved size changed from $before to $after although the resize failed"
sublk_del "$id"
echo "ok refused resize leaves the saved size"
