#!/bin/bash
# SPDX-License-Identifier: MIT
# Shared-memory zero copy (--shmem_zc --htlb FILE, Linux 7.1): sublk and
# fio map the same hugetlbfs file; fio's O_DIRECT I/O from it reaches the
# backend in place.  fio verify over mem (user copy), loop (each data
# path) and loop with --rdonly_shmem_buf (writes in place, reads copied);
# `sublk dump` counts the requests served from the shared buffer, which
# must be most of them; what loop wrote in place is in its backing file
# (checksums).  A tmpfs file serves too (a python client: fio would
# truncate it).  Bad input gets one line and leaves no device.
# timeout: 1200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio fallocate md5sum python3
need_feature SHMEM_ZC 7.1
grep -qw hugetlbfs /proc/filesystems || skip "no hugetlbfs in this kernel"

mnt=$TEST_TMP/htlb
buf=$mnt/buf
tmnt=$TEST_TMP/tmpfs
old_hp=$(cat /proc/sys/vm/nr_hugepages)

test_cleanup() {
	local id
	# the daemons map the file: they go before the mount
	for id in $(_recorded devs); do
		"$SUBLK" del -n "$id" 2> /dev/null
		_forget devs "$id"
	done
	rm -f "$buf" "$mnt/empty" "$tmnt/buf"
	mountpoint -q "$mnt" && umount "$mnt"
	mountpoint -q "$tmnt" && umount "$tmnt"
	echo "$old_hp" > /proc/sys/vm/nr_hugepages
}

echo 16 > /proc/sys/vm/nr_hugepages
[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 8 ] || fail "cannot reserve 8 huge pages"
mkdir -p "$mnt"
mount -t hugetlbfs none "$mnt" || fail "cannot mount hugetlbfs"
fallocate -l 16M "$buf" || fail "cannot give the hugetlbfs file 16 MiB"

# served ID: requests served from the shared buffer, over all queues.
served() {
	"$SUBLK" dump -n "$1" | grep -o 'in shared buffers [0-9]*' |
		awk '{ n += $4 } END { print n + 0 }'
}

# requests ID: reads and writes over all queues.
requests() {
	"$SUBLK" dump -n "$1" | sed -n 's/.*requests: read \([0-9]*\) write \([0-9]*\).*/\1 \2/p' |
		awk '{ n += $1 + $2 } END { print n + 0 }'
}

# shm_verify ID NAME [fio args]: random writes of 4 KiB to 256 KiB from
# the shared buffer, verified by reading back into it.
shm_verify() {
	local id=$1 name=$2
	shift 2
	fio --name="$name" --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
		--rw=randwrite --bsrange=4k-256k --size=48M --iodepth=16 \
		--mem=mmaphuge:"$buf" --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$TEST_TMP/$name.out" "$@" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/$name.out" >&2; fail "$name: fio verify failed"; }
	grep -q "err= 0" "$TEST_TMP/$name.out" || fail "$name: fio saw errors"
}

# in_place ID NAME MIN%: at least MIN% of the reads and writes were
# served from the shared buffer.
in_place() {
	local n total
	n=$(served "$1")
	total=$(requests "$1")
	echo "$2: $n of $total requests served in place"
	[ "$total" -gt 0 ] && [ $((n * 100)) -ge $((total * $3)) ] ||
		fail "$2: only $n of $total requests were served from the shared buffer"
}

# bad input: one line, non-zero, no device left
count_devs() { "$SUBLK" list 2> /dev/null | grep -c '^dev id'; }
before=$(count_devs)
touch "$mnt/empty"
for args in "--shmem_zc" "--htlb $buf" "--shmem_zc --htlb $TEST_TMP/none" \
	"--shmem_zc --htlb /proc/version" "--shmem_zc --htlb $mnt/empty" \
	"--shmem_zc --htlb $buf -r 1" "--rdonly_shmem_buf"; do
	# shellcheck disable=SC2086 # the words
	if "$SUBLK" add -t null $args > "$TEST_TMP/out" 2> "$TEST_TMP/err"; then
		fail "add -t null $args succeeded"
	fi
	[ "$(wc -l < "$TEST_TMP/err")" = 1 ] ||
		{ cat "$TEST_TMP/err" >&2; fail "add -t null $args: not one line of error"; }
	echo "refused $args: $(cat "$TEST_TMP/err")"
done
[ "$(count_devs)" = "$before" ] || fail "a refused add left a device behind"

# mem: user copy, except for what is in the buffer
id=$(sublk_add -t mem -s 64M --shmem_zc --htlb "$buf") || fail "add mem failed"
"$SUBLK" features | grep -Eq '^SHMEM_ZC +19 +yes +[0-9.]+ +used:' || fail "features does not say SHMEM_ZC is used"
shm_verify "$id" shm-mem
in_place "$id" shm-mem 90
sublk_del "$id"
echo "ok mem: fio verify from the shared buffer"

# loop: the path add picks (zero copy, the kernel registering buffers),
# zero copy with sublk registering them, user copy and the copy path; what
# was written in place must be in the backing file
img=$TEST_TMP/shm.img
for path in "" "-z" "--usercopy" "--copy"; do
	truncate -s 0 "$img"
	truncate -s 64M "$img"
	# -z: REGISTER_IO_BUF by sublk, not the kernel's automatic registration
	manual=
	[ "$path" = -z ] && manual=1
	# shellcheck disable=SC2086 # no word or one
	id=$(SUBLK_NO_AUTO_BUF_REG=$manual sublk_add -t loop -f "$img" --shmem_zc \
		--htlb "$buf" $path) || fail "add loop $path failed"
	shm_verify "$id" "shm-loop$path"
	in_place "$id" "shm-loop$path" 90
	sum=$(dd if=/dev/ublkb$id bs=1M iflag=direct status=none | md5sum)
	sublk_del "$id"
	[ "$(md5sum < "$img")" = "$sum" ] ||
		fail "loop $path: the backing file differs from what the device read"
	echo "ok loop ${path:-(default path)}: fio verify, backing file matches"
done

# read-only buffer: writes in place, reads copied into it by the kernel
truncate -s 0 "$img"
truncate -s 64M "$img"
id=$(sublk_add -t loop -f "$img" --shmem_zc --htlb "$buf" --rdonly_shmem_buf) ||
	fail "add loop --rdonly_shmem_buf failed"
shm_verify "$id" shm-rdonly
n=$(served "$id")
w=$("$SUBLK" dump -n "$id" | sed -n 's/.*requests: read [0-9]* write \([0-9]*\).*/\1/p' |
	awk '{ n += $1 } END { print n + 0 }')
echo "rdonly: $n requests in place, $w writes"
[ "$n" -gt 0 ] && [ "$n" -le "$w" ] ||
	fail "read-only buffer: $n requests in place for $w writes"
sublk_del "$id"
echo "ok loop --rdonly_shmem_buf: writes in place, reads copied, fio verify"

# tmpfs: a client of its own (fio would truncate the file) writes 1 MiB
# from the mapping with O_DIRECT and reads it back into another part
mkdir -p "$tmnt"
mount -t tmpfs none "$tmnt" || fail "cannot mount tmpfs"
fallocate -l 4M "$tmnt/buf" || fail "cannot give the tmpfs file 4 MiB"
id=$(sublk_add -t mem -s 16M --shmem_zc --htlb "$tmnt/buf") || fail "add mem on tmpfs failed"
python3 - "/dev/ublkb$id" "$tmnt/buf" <<'EOF' || fail "tmpfs: the data read back differs"
import mmap, os, random, sys

mib = 1 << 20
fd = os.open(sys.argv[2], os.O_RDWR)
mm = mmap.mmap(fd, 4 * mib, mmap.MAP_SHARED)
view = memoryview(mm)
dev = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
data = random.Random(85).randbytes(mib)
mm[0:mib] = data
assert os.pwritev(dev, [view[0:mib]], 4 * mib) == mib
mm[mib:2 * mib] = bytes(mib)
assert os.preadv(dev, [view[mib:2 * mib]], 4 * mib) == mib
sys.exit(0 if mm[mib:2 * mib] == data else 1)
EOF
n=$(served "$id")
echo "tmpfs: $n requests in place"
[ "$n" -ge 2 ] || fail "tmpfs: only $n requests served from the shared buffer"
sublk_del "$id"
echo "ok mem on tmpfs: 1 MiB written and read back in place"
