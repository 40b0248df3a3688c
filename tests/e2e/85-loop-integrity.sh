#!/bin/bash
# SPDX-License-Identifier: MIT
# Integrity on loop (INTEGRITY, Linux 7.0): --metadata_file keeps each
# block's metadata in a second file, 64 bytes a sector here with a CRC64
# type 1 PI tuple at byte 48 (test_integrity_03's profile).  The block
# layer generates PI on every write and checks it on every read, so data
# that reads back proves the metadata went to the file and came back; the
# file itself then holds each written sector's guard and reference tag at
# sector * 64 + 48, a corrupted reference tag there fails the read of
# that sector (EILSEQ), and the metadata outlives the device.
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio od
need_feature INTEGRITY 7.0

data=$TEST_TMP/data.img
meta=$TEST_TMP/meta.img
truncate -s 64M "$data" || fail "cannot make $data"
# 0xff: blocks never written carry the escape tag, which is not checked
head -c 8M /dev/zero | tr '\0' '\377' > "$meta" || fail "cannot make $meta"
profile=(--metadata_size 64 --pi_offset 48 --csum_type nvme
	 --integrity_reftag --integrity_capable)

# bytes FILE OFFSET COUNT: COUNT bytes of FILE at OFFSET, as hex
bytes() {
	od -A n -t x1 -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# 1. fio verify through the kernel's PI checks, at 4k and at mixed sizes.
id=$(sublk_add -t loop -f "$data" --metadata_file "$meta" "${profile[@]}") ||
	fail "add loop with a metadata file failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
format=$(cat /sys/block/ublkb"$id"/integrity/format)
[ "$format" = EXT-DIF-TYPE1-CRC64 ] || fail "integrity format is '$format'"
grep -q "\"--metadata_file\",\"$meta\"" "$SUBLK_RUN_DIR/$id.json" ||
	fail "the run state does not keep --metadata_file"
fio_verify /dev/ublkb"$id" 0 16M pi-4k ||
	{ tail -n 15 "$TEST_TMP/pi-4k.out" >&2; fail "fio verify (4k) failed"; }
fio_verify /dev/ublkb"$id" 16M 16M pi-mixed --bsrange=512-256k --rw=randrw ||
	{ tail -n 15 "$TEST_TMP/pi-mixed.out" >&2; fail "fio verify (mixed) failed"; }
echo "ok fio verify with CRC64 type 1 PI kept in $meta"

# 2. The metadata is in the file: each sector's guard (not the 0xff it
# was) and its reference tag, the sector number, at sector * 64 + 48.
head -c 1M /dev/urandom > "$TEST_TMP/rand"
dd if="$TEST_TMP/rand" of=/dev/ublkb"$id" bs=1M seek=40 oflag=direct,sync status=none ||
	fail "dd write failed"
cmp "$TEST_TMP/rand" <(dd if=/dev/ublkb"$id" bs=1M skip=40 count=1 iflag=direct status=none) ||
	fail "data read back differs"
cmp "$TEST_TMP/rand" <(dd if="$data" bs=1M skip=40 count=1 status=none) ||
	fail "the data file does not hold what was written"
first=$((40 << 11))	# sector of byte 40M
for s in $first $((first + 1)) $((first + 1000)) $((first + 2047)); do
	guard=$(bytes "$meta" $((s * 64 + 48)) 8)
	case $guard in
	0000000000000000 | ffffffffffffffff) fail "sector $s: guard tag $guard in the metadata file" ;;
	esac
	ref=$(bytes "$meta" $((s * 64 + 58)) 6)
	[ "$ref" = "$(printf '%012x' "$s")" ] ||
		fail "sector $s: reference tag $ref in the metadata file, not $s"
done
echo "ok guard and reference tags of sectors $first.. at sector * 64 + 48 in the file"

# 3. A corrupted reference tag fails the read of its sector, and only it.
bad=$((first + 5))
saved=$(bytes "$meta" $((bad * 64 + 58)) 6)
printf '\x12\x34\x56\x78\x9a\xbc' |
	dd of="$meta" bs=1 seek=$((bad * 64 + 58)) conv=notrunc status=none ||
	fail "cannot corrupt the reference tag of sector $bad"
if dd if=/dev/ublkb"$id" of=/dev/null bs=512 skip=$bad count=1 iflag=direct \
	2> "$TEST_TMP/dd.err"; then
	fail "reading sector $bad with a corrupted reference tag succeeded"
fi
grep -q "Invalid or incomplete multibyte" "$TEST_TMP/dd.err" ||
	{ cat "$TEST_TMP/dd.err" >&2; fail "the read of sector $bad failed, but not with EILSEQ"; }
echo "read of sector $bad: $(head -n 1 "$TEST_TMP/dd.err")"
cmp -n $((5 * 512)) "$TEST_TMP/rand" \
	<(dd if=/dev/ublkb"$id" bs=512 skip=$first count=5 iflag=direct status=none) ||
	fail "the sectors before $bad do not read back"
printf '%b' "$(printf '%s' "$saved" | sed 's/../\\x&/g')" |
	dd of="$meta" bs=1 seek=$((bad * 64 + 58)) conv=notrunc status=none ||
	fail "cannot restore the reference tag of sector $bad"
cmp "$TEST_TMP/rand" <(dd if=/dev/ublkb"$id" bs=1M skip=40 count=1 iflag=direct status=none) ||
	fail "with the reference tag restored, the data does not read back"
echo "ok corrupted reference tag: EILSEQ for sector $bad alone; restored, it reads back"

# 4. The metadata outlives the device: added again, the data still passes the checks.
sublk_del "$id"
id=$(sublk_add -t loop -f "$data" --metadata_file "$meta" "${profile[@]}") ||
	fail "add again failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
cmp "$TEST_TMP/rand" <(dd if=/dev/ublkb"$id" bs=1M skip=40 count=1 iflag=direct status=none) ||
	fail "after add again, the data does not read back through the PI checks"
dd if=/dev/ublkb"$id" of=/dev/null bs=1M count=32 iflag=direct status=none ||
	fail "after add again, what fio wrote fails the PI checks"
sublk_del "$id"
echo "ok the metadata file keeps the PI across devices"

# 5. Bad input: one line, nothing left behind.
head -c 1M /dev/zero > "$TEST_TMP/small"
expect_error "needs 8388608 (64 a 512-byte block)" add -t loop -f "$data" \
	--metadata_file "$TEST_TMP/small" "${profile[@]}"
expect_error "--metadata_size needs --metadata_file PATH" add -t loop -f "$data" "${profile[@]}"
expect_error "--metadata_file needs --metadata_size" add -t loop -f "$data" --metadata_file "$meta"
expect_error "--metadata_file goes with -t loop" add -t mem -s 64M --metadata_file "$meta" \
	"${profile[@]}"
expect_error "is the data file itself" add -t loop -f "$data" --metadata_file "$data" \
	"${profile[@]}"
assert_no_ublk_devices
echo "ok bad metadata files refused"
