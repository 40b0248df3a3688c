#!/bin/bash
# SPDX-License-Identifier: MIT
# The zoned target under btrfs -O zoned, which writes its data by zone
# append (the sector each append landed at goes back in its commit): mkfs,
# files, scrub, btrfs check, remount, checksums; with per-tag commands and,
# where the kernel has it (7.0), batch I/O.
# timeout: 1200
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-dev.sh"
need_cmd mkfs.btrfs btrfs
need_feature ZONED 6.6
need_feature USER_COPY 6.5

mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
test_cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	return 0
}

# fs_files MNT: files in, their sums kept in $TEST_TMP/sums, the random
# ones also in $TEST_TMP/orig (for btrfs-misplaced.py when they differ)
fs_files() {
	local i
	mkdir -p "$1/d" "$TEST_TMP/orig"
	for i in 1 2 3 4 5 6; do
		head -c $((i * 1500 * 1024 + 77)) /dev/urandom > "$TEST_TMP/orig/f$i" &&
			cp "$TEST_TMP/orig/f$i" "$1/d/" || return 1
	done
	cp -r /usr/share/doc/fio "$1/tree" 2> /dev/null
	sync
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$TEST_TMP/sums"
}

fs_check_sums() {
	(cd "$1" && sha256sum -c --quiet "$TEST_TMP/sums")
}

# ---- btrfs -O zoned: every zone sequential; data goes by zone append ----
# btrfs_run WHAT [ADD-ARGS]: mkfs, files, scrub, check, remount, sums.
btrfs_run() {
	local what=$1 id dev
	shift
	id=$(sublk_add -t zoned -s 1G --zone_size 8M -q 2 "$@") ||
		fail "$what: add zoned for btrfs failed"
	dev=/dev/ublkb$id
	mkfs.btrfs -f -O zoned "$dev" > "$TEST_TMP/mkfs.out" 2>&1 ||
		{ cat "$TEST_TMP/mkfs.out" >&2; fail "$what: mkfs.btrfs -O zoned failed"; }
	mount -t btrfs "$dev" "$mnt" || fail "$what: mount btrfs failed"
	fs_files "$mnt" || fail "$what: writing files to btrfs failed"
	"$SUBLK" dump -n "$id" > "$TEST_TMP/dump.out" || fail "dump failed"
	grep -qE "requests:.* zone_append [1-9]" "$TEST_TMP/dump.out" ||
		{ cat "$TEST_TMP/dump.out" >&2; fail "$what: btrfs wrote no data by zone append"; }
	btrfs scrub start -B "$mnt" > "$TEST_TMP/scrub.out" 2>&1 ||
		{ cat "$TEST_TMP/scrub.out" >&2; fail "$what: btrfs scrub found errors"; }
	umount "$mnt" || fail "$what: umount btrfs failed"
	btrfs check "$dev" > "$TEST_TMP/check.out" 2>&1 ||
		{ tail -n 20 "$TEST_TMP/check.out" >&2; fail "$what: btrfs check found problems"; }
	mount -t btrfs "$dev" "$mnt" || fail "$what: remount btrfs failed"
	if ! fs_check_sums "$mnt"; then
		# where the right data is: the device's fault or btrfs's (README)
		command -v python3 > /dev/null &&
			python3 "$(dirname "$0")/btrfs-misplaced.py" "$TEST_TMP/orig" "$mnt/d" "$dev"
		fail "$what: btrfs files differ after remount"
	fi
	umount "$mnt"
	grep -q '"zone_size":8388608' "$SUBLK_RUN_DIR/$id.json" ||
		fail "the run state does not keep the zone size"
	sublk_del "$id" || fail "del failed"
	echo "ok zoned: btrfs -O zoned (zone append) $what: mounts, takes files, scrub and check clean"
}

if command -v mkfs.btrfs > /dev/null && modprobe btrfs 2> /dev/null; then
	btrfs_run "per-tag commands"
	# batch I/O carries the append's sector in its commit elements
	if has_feature BATCH_IO; then
		btrfs_run "batch I/O (-b)" -b
	else
		echo "batch I/O: not in this kernel (needs Linux 7.0), not tested"
	fi
else
	fail "btrfs is needed (mkfs.btrfs: btrfs-progs; the btrfs module: tools/vm/kernel)"
fi
assert_no_ublk_devices
