#!/bin/bash
# SPDX-License-Identifier: MIT
# The zoned target (UBLK_F_ZONED, Linux 6.6): the kernel sees the zone
# geometry and limits; blkzone report / open / close / finish / reset agree
# with the zone model; writes off the write pointer, into a full zone and
# past the open and active limits fail with the errors the block layer
# names; fio --zonemode=zbd write + verify; f2fs (metadata in conventional
# zones) takes files, passes its fsck and reads them back after a remount.
# btrfs, which writes data by zone append: 81-zoned-btrfs.sh.
# timeout: 1500
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd blkzone fio dd cmp
need_feature ZONED 6.6
need_feature USER_COPY 6.5

mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
test_cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	return 0
}

ZS=8192		# 4 MiB zones, in sectors

# zone DEV I: "TYPE COND WP" of zone I, WP in sectors from the zone's start
# (blkzone prints 0 for a conventional zone).
zone() {
	local line t c w
	line=$(blkzone report -o $(($2 * ZS)) -c 1 "$1") || return 1
	read -r t c w < <(echo "$line" |
		sed -nE 's/.*wptr 0x([0-9a-f]+).*zcond: *([0-9]+).*type: *([0-9]+).*/\3 \2 \1/p')
	[ -n "$w" ] || { echo "unreadable report: $line" >&2; return 1; }
	echo "$t $c $((16#$w))"
}

# expect DEV I "TYPE COND WP" WHAT
expect() {
	local got
	got=$(zone "$1" "$2")
	[ "$got" = "$3" ] || fail "$4: zone $2 is '$got', not '$3' (type cond wp)"
}

# wr DEV SECTOR KIB [FILE]: a direct write of KIB KiB at SECTOR (from FILE).
wr() {
	dd if="${4:-$TEST_TMP/pat}" of="$1" bs=1k count="$3" seek=$(($2 * 512)) \
		oflag=direct,seek_bytes conv=notrunc status=none 2> "$TEST_TMP/dd.err"
}

# zop OP DEV I: blkzone OP on zone I, its stderr kept.
zop() {
	blkzone "$1" -o $(($3 * ZS)) -c 1 "$2" 2> "$TEST_TMP/zop.err"
}

head -c 4M /dev/urandom > "$TEST_TMP/pat"

# ---- the model: 16 zones, 2 conventional, 3 open, 4 active at most ----
id=$(sublk_add -t zoned -s 64M --zone_size 4M --conv_zones 2 \
	--max_open_zones 3 --max_active_zones 4 -q 2) || fail "add zoned failed"
dev=/dev/ublkb$id
wait_for_path "$dev" 10 || fail "no $dev"
q=/sys/block/ublkb$id/queue
[ "$(cat $q/zoned)" = host-managed ] || fail "queue/zoned is '$(cat $q/zoned)'"
[ "$(cat $q/chunk_sectors)" = $ZS ] || fail "chunk_sectors $(cat $q/chunk_sectors)"
[ "$(cat $q/nr_zones)" = 16 ] || fail "nr_zones $(cat $q/nr_zones)"
[ "$(cat $q/max_open_zones)" = 3 ] || fail "max_open_zones $(cat $q/max_open_zones)"
[ "$(cat $q/max_active_zones)" = 4 ] || fail "max_active_zones $(cat $q/max_active_zones)"
[ "$(cat $q/zone_append_max_bytes)" -gt 0 ] || fail "no zone append"
"$SUBLK" list -n "$id" | grep -q ZONED || fail "list does not show the ZONED flag"
[ "$(blkzone report "$dev" | wc -l)" = 16 ] || fail "blkzone report has not 16 zones"
expect "$dev" 0 "1 0 0" "fresh"
expect "$dev" 1 "1 0 0" "fresh"
for i in 2 9 15; do expect "$dev" $i "2 1 0" "fresh"; done
echo "ok zoned: geometry, limits and a fresh report"

# conventional zones take writes anywhere
wr "$dev" 100 64 || fail "a write into a conventional zone failed: $(cat $TEST_TMP/dd.err)"
# sequential: at the write pointer, which moves; the zone opens implicitly
wr "$dev" $((2 * ZS)) 64 || fail "a write at the pointer failed: $(cat $TEST_TMP/dd.err)"
expect "$dev" 2 "2 2 128" "after 64K at the pointer"
dd if="$TEST_TMP/pat" of="$TEST_TMP/pat2" bs=1k skip=64 count=256 status=none
wr "$dev" $((2 * ZS + 128)) 256 "$TEST_TMP/pat2" || fail "a second write at the pointer failed"
expect "$dev" 2 "2 2 640" "after 320K"
dd if="$dev" of="$TEST_TMP/back" bs=1k skip=$((2 * ZS / 2)) count=320 iflag=direct status=none ||
	fail "read back failed"
cmp -n $((320 * 1024)) "$TEST_TMP/pat" "$TEST_TMP/back" || fail "zone 2 does not read back what was written"
# off the write pointer: behind it, ahead of it
wr "$dev" $((2 * ZS)) 4 && fail "a write behind the write pointer succeeded"
wr "$dev" $((3 * ZS + 8)) 4 && fail "a write ahead of the write pointer succeeded"
grep -q "Input/output error" "$TEST_TMP/dd.err" || fail "a write off the pointer: not EIO: $(cat $TEST_TMP/dd.err)"
expect "$dev" 2 "2 2 640" "after refused writes"
expect "$dev" 3 "2 1 0" "after a refused write"
echo "ok zoned: writes at the write pointer only (EIO off it), data reads back"

# explicit open, close (a zone with nothing written is empty again), finish
zop open "$dev" 4 || fail "open zone 4: $(cat $TEST_TMP/zop.err)"
expect "$dev" 4 "2 3 0" "explicit open"
zop close "$dev" 4 || fail "close zone 4: $(cat $TEST_TMP/zop.err)"
expect "$dev" 4 "2 1 0" "closing an untouched zone"
wr "$dev" $((4 * ZS)) 4 || fail "write zone 4"
zop close "$dev" 4 || fail "close zone 4: $(cat $TEST_TMP/zop.err)"
expect "$dev" 4 "2 4 8" "closing a written zone"
zop finish "$dev" 5 || fail "finish zone 5: $(cat $TEST_TMP/zop.err)"
expect "$dev" 5 "2 14 $ZS" "finish"
wr "$dev" $((5 * ZS + ZS - 8)) 4 && fail "a write into a full zone succeeded"
zop reset "$dev" 2 || fail "reset zone 2: $(cat $TEST_TMP/zop.err)"
expect "$dev" 2 "2 1 0" "reset"
dd if="$dev" bs=64k skip=$((2 * ZS / 128)) count=1 iflag=direct status=none |
	cmp -s - <(head -c 65536 /dev/zero) || fail "a reset zone does not read zeros"
echo "ok zoned: open, close, finish, reset as the model says"

# limits.  Active now: zone 4 (closed).  Open 6, 7, 8 explicitly: 3 open.
for i in 6 7 8; do zop open "$dev" $i || fail "open zone $i: $(cat $TEST_TMP/zop.err)"; done
zop reset "$dev" 4 || fail "reset zone 4"
zop open "$dev" 9 && fail "a fourth open zone was allowed (max 3)"
grep -qi "too many references" "$TEST_TMP/zop.err" ||
	fail "too many open zones: not ETOOMANYREFS: $(cat $TEST_TMP/zop.err)"
wr "$dev" $((9 * ZS)) 4 && fail "a write opening a fourth zone succeeded"
grep -qi "too many references" "$TEST_TMP/dd.err" ||
	fail "a write past the open limit: not ETOOMANYREFS: $(cat $TEST_TMP/dd.err)"
# close 8 with data in it: 2 open, 3 active; one more open makes 4 active
wr "$dev" $((8 * ZS)) 4 || fail "write zone 8"
zop close "$dev" 8 || fail "close zone 8"
zop open "$dev" 9 || fail "open zone 9 with room: $(cat $TEST_TMP/zop.err)"
zop open "$dev" 10 && fail "a fifth active zone was allowed (max 4)"
grep -qi "value too large" "$TEST_TMP/zop.err" ||
	fail "too many active zones: not EOVERFLOW: $(cat $TEST_TMP/zop.err)"
wr "$dev" $((10 * ZS)) 4 && fail "a write activating a fifth zone succeeded"
expect "$dev" 10 "2 1 0" "refused opens"
blkzone reset "$dev" || fail "reset of every zone failed"
for i in 2 4 5 6 7 8 9 10; do expect "$dev" $i "2 1 0" "reset of every zone"; done
expect "$dev" 0 "1 0 0" "reset of every zone"
echo "ok zoned: open limit (ETOOMANYREFS) and active limit (EOVERFLOW) enforced"

# fio: sequential and random zone writes with verify, within the limits
fio --name=zbd-seq --filename="$dev" --ioengine=io_uring --direct=1 \
	--zonemode=zbd --offset=$((2 * 4))M --size=56M --rw=write --bs=64k \
	--iodepth=8 --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output="$TEST_TMP/fio-seq.out" > /dev/null 2>&1 ||
	{ tail -n 20 "$TEST_TMP/fio-seq.out" >&2; fail "fio zbd sequential write + verify failed"; }
fio --name=zbd-rand --filename="$dev" --ioengine=io_uring --direct=1 \
	--zonemode=zbd --offset=$((2 * 4))M --size=56M --rw=randwrite --bs=16k \
	--io_size=32M --max_open_zones=3 --iodepth=4 --verify=crc32c \
	--verify_fatal=1 --do_verify=1 --output="$TEST_TMP/fio-rand.out" > /dev/null 2>&1 ||
	{ tail -n 20 "$TEST_TMP/fio-rand.out" >&2; fail "fio zbd random write + verify failed"; }
echo "ok zoned: fio --zonemode=zbd write and randwrite with verify"
sublk_del "$id" || fail "del failed"

# fs_files MNT: files in, their sums kept in $TEST_TMP/sums
fs_files() {
	local i
	mkdir -p "$1/d"
	for i in 1 2 3 4 5 6; do
		head -c $((i * 1500 * 1024 + 77)) /dev/urandom > "$1/d/f$i" || return 1
	done
	cp -r /usr/share/doc/fio "$1/tree" 2> /dev/null
	sync
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$TEST_TMP/sums"
}

fs_check_sums() {
	(cd "$1" && sha256sum -c --quiet "$TEST_TMP/sums")
}

# ---- f2fs: its metadata in the conventional zones ----
if command -v mkfs.f2fs > /dev/null && modprobe f2fs 2> /dev/null; then
	id=$(sublk_add -t zoned -s 512M --zone_size 4M --conv_zones 8 -q 2) ||
		fail "add zoned for f2fs failed"
	dev=/dev/ublkb$id
	mkfs.f2fs -f -m "$dev" > "$TEST_TMP/mkfs.out" 2>&1 ||
		{ cat "$TEST_TMP/mkfs.out" >&2; fail "mkfs.f2fs -m failed"; }
	mount -t f2fs "$dev" "$mnt" || fail "mount f2fs failed"
	fs_files "$mnt" || fail "writing files to f2fs failed"
	umount "$mnt" || fail "umount f2fs failed"
	fsck.f2fs -f "$dev" > "$TEST_TMP/fsck.out" 2>&1 ||
		{ tail -n 20 "$TEST_TMP/fsck.out" >&2; fail "fsck.f2fs found problems"; }
	mount -t f2fs "$dev" "$mnt" || fail "remount f2fs failed"
	fs_check_sums "$mnt" || fail "f2fs: files differ after remount"
	umount "$mnt"
	sublk_del "$id" || fail "del failed"
	echo "ok zoned: f2fs -m mounts, takes files, fsck clean, reads them back"
else
	fail "f2fs is needed (mkfs.f2fs: f2fs-tools; the f2fs module: tools/vm/kernel)"
fi

assert_no_ublk_devices
