#!/bin/bash
# SPDX-License-Identifier: MIT
# The earlier server's failure table, as explicit cases: one 512 B write,
# one 4 KiB write, 64 KiB written as 64 x 1 KiB, each read back and
# compared; then a clean shutdown leaves no daemon, zombie, D-state task
# or device.
# timeout: 120
. "$(dirname "$0")/lib.sh"

id=$(sublk_add -t mem -s 16M) || fail "add mem failed"
dev=/dev/ublkb$id
wait_for_path "$dev" 10 || fail "$dev did not appear"
pid=$(daemon_pid "$id")

pattern() { # pattern FILE BYTES SEED
	head -c "$2" /dev/urandom > "$1"
}

# one 512-byte write at sector 7, read back
pattern /tmp/p512 512
dd if=/tmp/p512 of="$dev" bs=512 seek=7 count=1 oflag=direct status=none ||
	fail "512 B write failed"
dd if="$dev" of=/tmp/r512 bs=512 skip=7 count=1 iflag=direct status=none ||
	fail "512 B read failed"
cmp /tmp/p512 /tmp/r512 || fail "512 B write did not read back"

# one 4 KiB write at 1 MiB, read back
pattern /tmp/p4k 4096
dd if=/tmp/p4k of="$dev" bs=4096 seek=256 count=1 oflag=direct status=none ||
	fail "4 KiB write failed"
dd if="$dev" of=/tmp/r4k bs=4096 skip=256 count=1 iflag=direct status=none ||
	fail "4 KiB read failed"
cmp /tmp/p4k /tmp/r4k || fail "4 KiB write did not read back"

# 64 KiB written as 64 x 1 KiB direct writes, read back in one piece
pattern /tmp/p64k 65536
dd if=/tmp/p64k of="$dev" bs=1024 seek=4096 count=64 oflag=direct status=none ||
	fail "64 x 1 KiB writes failed"
dd if="$dev" of=/tmp/r64k bs=65536 skip=64 count=1 iflag=direct status=none ||
	fail "64 KiB read failed"
cmp /tmp/p64k /tmp/r64k || fail "64 x 1 KiB writes did not read back"

# the same through the page cache, flushed with fsync
dd if=/tmp/p64k of="$dev" bs=1024 seek=8192 count=64 conv=fsync status=none ||
	fail "buffered 1 KiB writes failed"
echo 3 > /proc/sys/vm/drop_caches
dd if="$dev" of=/tmp/r64k bs=65536 skip=128 count=1 iflag=direct status=none ||
	fail "buffered read back failed"
cmp /tmp/p64k /tmp/r64k || fail "buffered writes did not read back"

# clean shutdown
sublk_del "$id" || fail "del failed"
wait_pid_gone "$pid" 10 || fail "daemon $pid still running after del"
assert_no_ublk_devices
assert_no_zombies
assert_no_dstate
echo "failure table: all cases pass"
