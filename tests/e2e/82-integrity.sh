#!/bin/bash
# SPDX-License-Identifier: MIT
# Integrity (INTEGRITY, Linux 7.0): --metadata_size and company give the
# disk a protection-information profile that sysfs shows; the block layer
# then generates PI on every write and checks it on every read, so data
# that reads back through it proves mem kept each block's metadata beside
# it.  The fault target's corrupt_pi flips one block's guard tag: reading
# that block fails with the block layer's integrity error, every other
# block reads back intact, and with read_verify off the block itself does.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio
need_feature INTEGRITY 7.0

# profile ID FILE VALUE: /sys/block/ublkbID/integrity/FILE reads VALUE
profile() {
	local got
	got=$(cat "/sys/block/ublkb$1/integrity/$2" 2> /dev/null)
	[ "$got" = "$3" ] || fail "device $1: integrity/$2 is '$got', not '$3'"
}

# verify_io ID NAME: fio verify (writes, then reads checked) at 4k and mixed sizes
verify_io() {
	fio_verify /dev/ublkb"$1" 0 32M "$2-4k" ||
		{ tail -n 15 "$TEST_TMP/$2-4k.out" >&2; fail "$2: fio verify (4k) failed"; }
	fio_verify /dev/ublkb"$1" 32M 32M "$2-mixed" --bsrange=512-256k --rw=randrw ||
		{ tail -n 15 "$TEST_TMP/$2-mixed.out" >&2; fail "$2: fio verify (mixed) failed"; }
}

# 1. Type 1 (CRC guard, reference tag): the kernel's PI round-trips through mem.
id=$(sublk_add -t mem -s 64M -q 2 --metadata_size 8 --csum_type t10dif \
	--integrity_reftag) || fail "add mem with a T10-DIF type 1 profile failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
profile "$id" format T10-DIF-TYPE1-CRC
profile "$id" tag_size 0
profile "$id" protection_interval_bytes 512
profile "$id" device_is_integrity_capable 0
profile "$id" read_verify 1
profile "$id" write_generate 1
"$SUBLK" list -n "$id" | grep -q INTEGRITY || fail "device $id lacks the INTEGRITY flag"
grep -q '"--metadata_size","8"' "$SUBLK_RUN_DIR/$id.json" ||
	fail "the run state does not keep --metadata_size"
verify_io "$id" type1
head -c 4M /dev/urandom > "$TEST_TMP/data"
dd if="$TEST_TMP/data" of=/dev/ublkb"$id" bs=1M seek=8 oflag=direct status=none ||
	fail "type1: dd write failed"
cmp "$TEST_TMP/data" <(dd if=/dev/ublkb"$id" bs=1M skip=8 count=4 iflag=direct status=none) ||
	fail "type1: data read back differs"
sublk_del "$id"
echo "ok type 1 CRC profile in sysfs; fio verify and dd+cmp through the kernel's PI checks"

# 2. 4 KiB blocks, CRC64 (NVMe) PI with an 8-byte tag, in 16 bytes of
# metadata; batch I/O commands, whose requests take the same copy path.
if has_feature BATCH_IO; then batch=-b; else batch=; fi
id=$(sublk_add -t mem -s 64M --logical_block_size 4096 --metadata_size 16 \
	--csum_type nvme --tag_size 8 $batch) || fail "add mem with a CRC64 profile ($batch) failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
profile "$id" format EXT-DIF-TYPE3-CRC64
profile "$id" tag_size 8
profile "$id" protection_interval_bytes 4096
fio_verify /dev/ublkb"$id" 0 32M crc64 --bsrange=4k-256k ||
	{ tail -n 15 "$TEST_TMP/crc64.out" >&2; fail "crc64: fio verify failed"; }
sublk_del "$id"

# 3. PI at the end of 64 bytes of metadata (IP checksum), the device "capable".
id=$(sublk_add -t mem -s 64M --metadata_size 64 --pi_offset 56 --csum_type ip \
	--integrity_capable) || fail "add mem with an IP-checksum profile failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
profile "$id" format T10-DIF-TYPE3-IP
profile "$id" device_is_integrity_capable 1
sublk_del "$id"

# 4. Metadata without PI: nothing to check, but it still travels.
id=$(sublk_add -t null --metadata_size 8) || fail "add null with metadata only failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
profile "$id" format nop
dd if=/dev/ublkb"$id" of=/dev/null bs=1M count=4 iflag=direct status=none ||
	fail "null: reading with metadata failed"
sublk_del "$id"
echo "ok CRC64 / 4 KiB, IP at pi_offset 56, nop profiles; fio verify on CRC64"

# 5. An injected PI corruption: the read of that block fails, the rest is intact.
id=$(sublk_add -t fault -s 64M --metadata_size 8 --csum_type t10dif \
	--integrity_reftag --fault corrupt_pi=100) || fail "add fault with corrupt_pi failed"
wait_for_path /dev/ublkb"$id" 10 || fail "no /dev/ublkb$id"
head -c 1M /dev/urandom > "$TEST_TMP/data"
dd if="$TEST_TMP/data" of=/dev/ublkb"$id" bs=1M oflag=direct status=none ||
	fail "fault: dd write failed"
if dd if=/dev/ublkb"$id" of="$TEST_TMP/bad" bs=512 skip=100 count=1 iflag=direct \
	2> "$TEST_TMP/dd.err"; then
	fail "fault: reading the block with corrupted PI succeeded"
fi
grep -q -e "Invalid or incomplete multibyte" -e "Input/output error" "$TEST_TMP/dd.err" ||
	{ cat "$TEST_TMP/dd.err" >&2; fail "fault: the read failed, but not with EILSEQ or EIO"; }
echo "read of block 100: $(head -n 1 "$TEST_TMP/dd.err")"
dmesg | grep -q "ublkb$id: guard tag error at sector 100 " ||
	fail "fault: the kernel did not report a guard tag error at sector 100"
dd if=/dev/ublkb"$id" of=/dev/null bs=1M count=1 iflag=direct status=none 2> /dev/null &&
	fail "fault: a 1 MiB read covering the corrupted block succeeded"
cmp -n $((100 * 512)) "$TEST_TMP/data" \
	<(dd if=/dev/ublkb"$id" bs=512 count=100 iflag=direct status=none) ||
	fail "fault: blocks 0..99 do not read back intact"
cmp -i $((101 * 512)):0 "$TEST_TMP/data" \
	<(dd if=/dev/ublkb"$id" bs=512 skip=101 count=1947 iflag=direct status=none) ||
	fail "fault: blocks 101.. do not read back intact"
# the data of the block is fine: only the check failed it
echo 0 > /sys/block/ublkb"$id"/integrity/read_verify || fail "cannot turn read_verify off"
cmp "$TEST_TMP/data" <(dd if=/dev/ublkb"$id" bs=1M count=1 iflag=direct status=none) ||
	fail "fault: with read_verify off the data does not read back intact"
sublk_del "$id"
echo "ok corrupt_pi: the read of block 100 fails, the rest reads back; unchecked, block 100 too"

# 6. What the kernel would refuse is refused before it is asked.
"$SUBLK" add -t loop -f /dev/null --metadata_size 8 2> "$TEST_TMP/err" &&
	fail "--metadata_size was taken with -t loop"
grep -q "needs --metadata_file PATH" "$TEST_TMP/err" || fail "loop: $(cat "$TEST_TMP/err")"
"$SUBLK" add -t mem -s 1M --metadata_size 8 --csum_type nvme 2> "$TEST_TMP/err" &&
	fail "a 16-byte PI in 8 bytes of metadata was taken"
grep -q "does not fit" "$TEST_TMP/err" || fail "pi size: $(cat "$TEST_TMP/err")"
"$SUBLK" add -t fault -s 1M --fault corrupt_pi=1 2> "$TEST_TMP/err" &&
	fail "corrupt_pi was taken without an integrity profile"
grep -q "no integrity profile" "$TEST_TMP/err" || fail "corrupt_pi: $(cat "$TEST_TMP/err")"
assert_no_ublk_devices
echo "ok bad integrity options refused"
