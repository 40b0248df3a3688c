#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: the copy mode (the kernel copies into the tag buffers), forced
# with --copy since add picks zero copy for loop where the kernel has it.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
datapath_suite copy --copy

# The tag buffers take huge pages only once a large request comes: the
# partition scan and 4 KiB I/O must not cost 2 MiB each.
anon_huge() { awk '/^AnonHugePages:/ { print $2 }' "/proc/$1/smaps_rollup"; }
img=$TEST_TMP/thp.img
truncate -s 256M "$img"
id=$(sublk_add -t loop -f "$img" -q 1 -d 128 --copy) || fail "thp: add failed"
pid=$(daemon_pid "$id")
rss=$(awk '/^Rss:/ { print $2 }' "/proc/$pid/smaps_rollup")
[ "$(anon_huge "$pid")" = 0 ] && [ "$rss" -lt 1024 ] ||
	fail "thp: after add the daemon holds $rss KiB, $(anon_huge "$pid") KiB in huge pages"
fio --name=thp-4k --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
	--rw=randread --bs=4k --iodepth=128 --io_size=16M > /dev/null 2>&1 || fail "thp: fio 4k failed"
[ "$(anon_huge "$pid")" = 0 ] || fail "thp: 4 KiB reads took huge pages ($(anon_huge "$pid") KiB)"
fio --name=thp-512k --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
	--rw=read --bs=512k --iodepth=32 --io_size=64M > /dev/null 2>&1 || fail "thp: fio 512k failed"
if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled 2> /dev/null ||
   [ ! -e /sys/kernel/mm/transparent_hugepage/enabled ]; then
	echo "note thp: the kernel gives no huge pages; 512 KiB reads not checked for them"
else
	[ "$(anon_huge "$pid")" -gt 0 ] || fail "thp: 512 KiB reads took no huge pages"
fi
echo "ok thp: $rss KiB after add, no huge page for 4 KiB reads, $(anon_huge "$pid") KiB after 512 KiB reads"
sublk_del "$id"
assert_no_ublk_devices
