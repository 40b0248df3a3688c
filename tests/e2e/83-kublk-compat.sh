#!/bin/bash
# SPDX-License-Identifier: MIT
# sublk called through a link named kublk takes the command line of the
# kernel's selftest server (make check-selftests runs the selftests
# themselves): features, add of null and loop with positional backing
# files, the "dev id N:" and list lines the selftest scripts parse, data
# through the device (fio verify, the backing file's checksum), recover
# after kill -9, del; bad input fails with one line and leaves nothing.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio

kublk=$TEST_TMP/kublk
ln -s "$SUBLK" "$kublk"
img=$TEST_TMP/loop.img
truncate -s 64M "$img"

# kublk_add ARGS...: the device id, read as test_common.sh reads it.
kublk_add() {
	local out id
	out=$("$kublk" add "$@") || fail "kublk add $* failed"
	id=$(echo "$out" | grep "dev id" | awk -F '[ :]' '{print $3}')
	[[ "$id" =~ ^[0-9]+$ ]] || fail "kublk add $*: no 'dev id N:' in: $out"
	_record devs "$id"
	echo "$id"
}

# field N of kublk list's line that holds WORD (state: 11, pid: 7)
list_field() {
	"$kublk" list -n "$1" | grep "$2" | awk -v f="$3" '{print $f}'
}

# features: the driver's flags, named as kublk names them
"$kublk" features > "$TEST_TMP/features" || fail "kublk features failed"
grep -q '^ublk_drv features: 0x' "$TEST_TMP/features" || fail "no features line"
grep -q ': UBLK_F_CMD_IOCTL_ENCODE$' "$TEST_TMP/features" ||
	fail "features lacks CMD_IOCTL_ENCODE: $(cat "$TEST_TMP/features")"
! grep -q unknown "$TEST_TMP/features" || fail "a feature sublk cannot name"

# null: two queues by default, kublk's request limits, I/O without errors
id=$(kublk_add -t null)
[ "$(list_field "$id" state 11)" = LIVE ] || fail "list: state field is not LIVE"
pid=$(list_field "$id" pid 7)
kill -0 "$pid" 2> /dev/null || fail "list: pid field '$pid' is no process"
[ "$("$kublk" list -n "$id" | head -n 1 | awk '{print $5}')" = 2 ] ||
	fail "kublk's default of 2 queues not taken"
# the driver takes the DMA-alignment and segment parameters from Linux 6.15
kv=$(uname -r | awk -F '[.-]' '{ print $1 * 1000 + $2 }')
if [ "$kv" -ge 6015 ]; then
	[ "$(cat /sys/block/ublkb"$id"/queue/max_segments)" = 32 ] || fail "max_segments"
	[ "$(cat /sys/block/ublkb"$id"/queue/dma_alignment)" = 4095 ] || fail "dma_alignment"
else
	echo "note: Linux $(uname -r) has no ublk segment parameters (6.15): kublk's limits not asked for"
fi
fio --name=null --filename="/dev/ublkb$id" --ioengine=libaio --direct=1 \
	--rw=randrw --bs=4k --iodepth=16 --size=32M > /dev/null 2>&1 ||
	fail "fio on kublk's null device failed"
"$kublk" del -n "$id" || fail "kublk del -n $id failed"
_forget devs "$id"
# sublk's own limit options: taken from 6.15, refused (not dropped) before
if [ "$kv" -ge 6015 ]; then
	lid=$(sublk_add -t mem -s 64M -q 1 --max_segments 16 --max_segment_size 65536 --dma_alignment 511)
	[ "$(cat /sys/block/ublkb"$lid"/queue/max_segments)" = 16 ] || fail "--max_segments 16 not kept"
	[ "$(cat /sys/block/ublkb"$lid"/queue/max_segment_size)" = 65536 ] ||
		fail "--max_segment_size 65536 not kept"
	[ "$(cat /sys/block/ublkb"$lid"/queue/dma_alignment)" = 511 ] || fail "--dma_alignment 511 not kept"
	fio_verify "/dev/ublkb$lid" 0 16M seglimits --bs=128k || fail "fio verify with segment limits"
	sublk_del "$lid"
else
	expect_error "Linux 6.15" add -t null -q 1 --max_segments 16
	expect_error "Linux 6.15" add -t null -q 1 --dma_alignment 511
fi
echo "ok null: add, list, I/O, del"

# loop with a positional backing file, user copy, -r 1: data verified
id=$(kublk_add -t loop -q 2 -u -r 1 "$img")
fio_verify "/dev/ublkb$id" 0 32M kublk-loop ||
	fail "fio verify on kublk's loop device failed: $(tail -n 5 "$TEST_TMP/kublk-loop.out")"
dd if=/dev/urandom of="$TEST_TMP/pattern" bs=1M count=4 status=none
dd if="$TEST_TMP/pattern" of="/dev/ublkb$id" bs=1M seek=40 oflag=direct status=none ||
	fail "write to /dev/ublkb$id failed"
cmp <(dd if="$img" bs=1M skip=40 count=4 status=none) "$TEST_TMP/pattern" ||
	fail "the backing file does not hold what was written"
echo "ok loop: fio verify, data in the backing file"

# kill -9, QUIESCED, recover with kublk's command line, data still there
kill -9 "$(list_field "$id" pid 7)"
wait_state "$id" QUIESCED 20 || fail "not QUIESCED after kill -9"
out=$("$kublk" recover -n "$id" -t loop -q 2 -u -r 1 "$img") || fail "kublk recover failed"
echo "$out" | grep -q "dev id $id:" || fail "recover printed no 'dev id $id:': $out"
[ "$(list_field "$id" state 11)" = LIVE ] || fail "not LIVE after recover"
cmp <(dd if="/dev/ublkb$id" bs=1M skip=40 count=4 iflag=direct status=none) "$TEST_TMP/pattern" ||
	fail "data read after recover differs"
"$kublk" del -n "$id" || fail "kublk del after recover failed"
_forget devs "$id"
echo "ok recover after kill -9"

# bad input: one line, non-zero, nothing left
for args in "-t loop" "-t null $img" "-t bogus" "-t null --shmem_zc" "-t null -q x"; do
	# shellcheck disable=SC2086 # the words
	if "$kublk" add $args > "$TEST_TMP/out" 2> "$TEST_TMP/err"; then
		fail "kublk add $args succeeded"
	fi
	[ "$(wc -l < "$TEST_TMP/err")" = 1 ] || fail "kublk add $args: not one line: $(cat "$TEST_TMP/err")"
	grep -q '^sublk: kublk add: ' "$TEST_TMP/err" || fail "kublk add $args: $(cat "$TEST_TMP/err")"
done
"$kublk" bogus 2> /dev/null && fail "kublk bogus succeeded"
assert_no_ublk_devices
echo "ok bad input"
