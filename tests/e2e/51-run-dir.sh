#!/bin/bash
# SPDX-License-Identifier: MIT
# The run directory cannot be turned against its user: one owned by
# someone else, writable by others or a symlink is refused before any
# device is made; planted symlinks are never written through; paths with
# newlines, quotes or 3 KiB of name are saved and listed as valid JSON and
# recovered exactly.
# timeout: 240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd jq

# expect_refused DIR WORDS: add with SUBLK_RUN_DIR=DIR fails, says WORDS
expect_refused() {
	local out
	out=$(SUBLK_RUN_DIR=$1 timeout 30 "$SUBLK" add -t null 2>&1) &&
		fail "add with run dir $1 succeeded"
	case $out in *"$2"*) ;; *) fail "run dir $1: said '$out', expected '$2'" ;; esac
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "more than one line: $out"
	assert_no_ublk_devices
	echo "ok: run dir $1 refused: $out"
}

mkdir -m 0700 "$TEST_TMP/theirs" && chown 65534:65534 "$TEST_TMP/theirs"
expect_refused "$TEST_TMP/theirs" "owned by uid 65534"
mkdir "$TEST_TMP/open" && chmod 0777 "$TEST_TMP/open"
expect_refused "$TEST_TMP/open" "writable by"
mkdir -m 0700 "$TEST_TMP/real" && ln -s "$TEST_TMP/real" "$TEST_TMP/link"
expect_refused "$TEST_TMP/link" "symlink"

# planted symlinks: the saves replace them, never write through them
run=$TEST_TMP/run
mkdir -m 0700 "$run"
echo precious > "$TEST_TMP/victim"
chmod 0644 "$TEST_TMP/victim"
for n in 7.json 7.dump daemon.log 7.json.tmp 7.dump.tmp; do
	ln -s "$TEST_TMP/victim" "$run/$n"
done
export SUBLK_RUN_DIR=$run
id=$(sublk_add -t null -n 7) || fail "add -n 7 failed"
"$SUBLK" dump -n 7 > /dev/null || fail "dump failed"
[ "$(cat "$TEST_TMP/victim")" = precious ] || fail "a save wrote through a planted symlink"
[ -f "$run/7.json" ] && [ ! -L "$run/7.json" ] || fail "7.json is not a regular file"
sublk_del "$id"
[ "$(cat "$TEST_TMP/victim")" = precious ] || fail "del wrote through a planted symlink"
echo "ok planted symlinks left the victim alone"

# hostile and long file names: list -v is one valid JSON document
evil=$TEST_TMP/$'img\n"type": "mem", "x\\\\": [\t'
long=$TEST_TMP
while [ ${#long} -lt 3000 ]; do long=$long/ddddddddddddddddddddddddddddddddddddddddddddddddd; done
mkdir -p "$long"
long=$long/disk.img
truncate -s 16M "$evil" "$long"
[ "$("$SUBLK" list -v | jq length)" = 0 ] || fail "list -v without devices is not []"
a=$(sublk_add -t loop -f "$evil" -r 1) || fail "add with a newline in the path failed"
b=$(sublk_add -t loop -f "$long") || fail "add with a 3000-byte path failed"
"$SUBLK" list -v > "$TEST_TMP/list.json"
jq -e . "$TEST_TMP/list.json" > /dev/null || fail "list -v is not valid JSON: $(head -c 600 "$TEST_TMP/list.json")"
[ "$(jq length "$TEST_TMP/list.json")" = 2 ] || fail "list -v does not list 2 devices"
[ "$(jq -r ".[] | select(.dev_id == $a) | .target.backing_file" "$TEST_TMP/list.json")" = "$evil" ] ||
	fail "list -v does not give the hostile path back exactly"
[ "$(jq -r ".[] | select(.dev_id == $b) | .target.backing_file" "$TEST_TMP/list.json")" = "$long" ] ||
	fail "list -v does not give the long path back exactly"
echo "ok list -v: valid JSON with hostile and long paths"

# recover opens exactly the saved file
head -c 1M /dev/urandom > "$TEST_TMP/data"
dd if="$TEST_TMP/data" of=/dev/ublkb"$a" bs=1M oflag=direct status=none || fail "write failed"
pid=$(daemon_pid "$a")
kill -9 "$pid"
wait_pid_gone "$pid" 10 || fail "daemon survived kill -9"
wait_state "$a" QUIESCED 10 || fail "device not QUIESCED"
(cd / && timeout 60 "$SUBLK" recover -n "$a") || fail "recover failed"
cmp -n 1048576 "$TEST_TMP/data" "$evil" || fail "the data is not in the hostile-named file"
cmp -n 1048576 "$TEST_TMP/data" /dev/ublkb"$a" || fail "the recovered device reads other data"
sublk_del "$a"
sublk_del "$b"
echo "ok recover served the hostile-named file"
