#!/bin/bash
# SPDX-License-Identifier: MIT
# The stripe target (RAID-0): fio verify over 2, 3 and 4 members with chunk
# sizes from 4 KiB to 1 MiB; a pattern written through the device lies in
# the member files chunk by chunk as RAID-0 places it; discard reaches the
# members; user copy, get-data, per-I/O threads, batch I/O and zero copy
# (where the driver has them); list and recover; mkfs.ext4
# + fsck + mount; bad input refused in one line, nothing left behind.
# timeout: 1500
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4 e2fsck cmp dd blkdiscard

msize=$((32 << 20))

# members N: N files of 32 MiB (the second 5000 bytes more, which the
# device does not use), their names in $members, the -f options in $fopts
make_members() {
	local i
	members=() fopts=()
	for ((i = 0; i < $1; i++)); do
		members+=("$TEST_TMP/m$i.img")
		fopts+=(-f "$TEST_TMP/m$i.img")
		rm -f "$TEST_TMP/m$i.img"
		truncate -s $((i == 1 ? msize + 5000 : msize)) "$TEST_TMP/m$i.img"
	done
}

drop_members() {
	rm -f "${members[@]}"
}

# check_layout DEV N CHUNK: write ROWS rows of random chunks through DEV,
# then every chunk must be in member c % N at offset (c / N) * CHUNK.
check_layout() {
	local dev=$1 n=$2 chunk=$3 rows=4 c m pat=$TEST_TMP/pattern
	local count=$((rows * n))
	head -c $((count * chunk)) /dev/urandom > "$pat"
	dd if="$pat" of="$dev" bs=$((n * chunk)) oflag=direct status=none ||
		fail "stripe n=$n chunk=$chunk: writing the pattern failed"
	blockdev --flushbufs "$dev"
	for ((c = 0; c < count; c++)); do
		m=$((c % n))
		cmp -s <(dd if="$pat" bs="$chunk" skip=$c count=1 status=none) \
			<(dd if="${members[$m]}" bs="$chunk" skip=$((c / n)) count=1 \
				iflag=direct status=none) ||
			fail "stripe n=$n chunk=$chunk: chunk $c is not at member $m row $((c / n))"
	done
	# and reads through the device give it back
	cmp -s "$pat" <(dd if="$dev" bs=$((n * chunk)) count=$rows iflag=direct status=none) ||
		fail "stripe n=$n chunk=$chunk: the pattern does not read back"
}

# one_config N CHUNK [ADD ARGS]: size, layout, fio verify, discard
one_config() {
	local n=$1 chunk=$2 id dev size want
	shift 2
	make_members "$n"
	id=$(sublk_add -t stripe "${fopts[@]}" --chunk_size "$chunk" -q 2 "$@") ||
		fail "add stripe n=$n chunk=$chunk failed"
	dev=/dev/ublkb$id
	wait_for_path "$dev" 10 || fail "no $dev"
	size=$(blockdev --getsize64 "$dev")
	want=$((msize / chunk * chunk * n))
	[ "$size" = "$want" ] || fail "stripe n=$n chunk=$chunk: size $size, not $want"
	check_layout "$dev" "$n" "$chunk"
	fio --name="stripe-$n-$chunk" --filename="$dev" --ioengine=io_uring \
		--direct=1 --rw=randwrite --bsrange=512-512k --size=24M \
		--iodepth=32 --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$TEST_TMP/fio.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/fio.out" >&2; fail "stripe n=$n chunk=$chunk $*: fio verify failed"; }
	# a discard crossing every member reads back as zeros
	blkdiscard -o $((chunk / 2)) -l $((n * chunk * 2)) "$dev" ||
		fail "stripe n=$n chunk=$chunk: blkdiscard failed"
	cmp -s <(head -c $((n * chunk * 2)) /dev/zero) \
		<(dd if="$dev" bs=512 skip=$((chunk / 1024)) count=$((n * chunk * 4 / 1024)) \
			iflag=direct status=none) ||
		fail "stripe n=$n chunk=$chunk: discarded range does not read as zeros"
	sublk_del "$id" || fail "del $id failed"
	drop_members
	echo "ok stripe n=$n chunk=$chunk $*: size, layout, fio verify, discard"
}

one_config 2 4096
one_config 2 65536
one_config 3 524288
one_config 4 16384
one_config 4 1048576
# the other data paths and threadings loop has
one_config 3 32768 --usercopy
one_config 2 8192 -g 1
if has_feature PER_IO_DAEMON; then
	one_config 2 16384 --nthreads 3 --per_io_tasks
else
	echo "note: --per_io_tasks needs Linux 6.16 (PER_IO_DAEMON): not tried"
fi
if has_feature BATCH_IO; then
	one_config 2 65536 -b
else
	echo "note: -b needs Linux 7.0 (BATCH_IO): not tried"
fi
if has_feature ZERO_COPY; then
	one_config 2 8192 -z
	one_config 4 131072 -z
	# the request's pages registered per request, not by the kernel
	SUBLK_NO_AUTO_BUF_REG=1 one_config 3 4096 -z
else
	echo "note: zero copy (-z) needs Linux 6.15 (ZERO_COPY): not tried"
fi

# list shows the members and the chunk size; recover brings the same back
make_members 2
id=$(sublk_add -t stripe "${fopts[@]}" --chunk_size 32K -r 1) || fail "add stripe -r 1 failed"
dev=/dev/ublkb$id
wait_for_path "$dev" 10 || fail "no $dev"
"$SUBLK" list -n "$id" > "$TEST_TMP/list.out"
grep -q "\"members\":\[\"${members[0]}\",\"${members[1]}\"\]" "$TEST_TMP/list.out" &&
	grep -q '"chunk_size":32768' "$TEST_TMP/list.out" ||
	{ cat "$TEST_TMP/list.out" >&2; fail "list does not show the members and chunk size"; }
fio_verify "$dev" 0 8M before --bsrange=4k-256k || fail "stripe -r 1: first workload failed"
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "stripe -r 1: not QUIESCED after kill -9"
"$SUBLK" recover -n "$id" > /dev/null || fail "recover -n $id failed"
[ "$(dev_state "$id")" = LIVE ] || fail "stripe: not LIVE after recover"
"$SUBLK" list -n "$id" | grep -q '"chunk_size":32768' || fail "recovered daemon lost the chunk size"
fio --name=check --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite \
	--bsrange=4k-256k --offset=0 --size=8M --verify=crc32c --verify_only=1 \
	--verify_fatal=1 --output="$TEST_TMP/check.out" > /dev/null 2>&1 ||
	fail "stripe: data written before the crash does not verify after recover"
sublk_del "$id" || fail "del $id failed"
drop_members
echo "ok stripe: list shows members and chunk size; kill -9, recover, data verified"

# a filesystem
make_members 4
id=$(sublk_add -t stripe "${fopts[@]}" -q 2) || fail "add stripe for ext4 failed"
dev=/dev/ublkb$id
wait_for_path "$dev" 10 || fail "no $dev"
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4 on stripe failed"
mount "$dev" "$mnt" || fail "mount stripe failed"
for i in 1 2 3 4; do
	head -c $((i * 900 * 1024 + 321)) /dev/urandom > "$mnt/f$i"
done
(cd "$mnt" && sha256sum f*) > "$TEST_TMP/sums"
umount "$mnt" || fail "umount failed"
e2fsck -fn "$dev" > "$TEST_TMP/fsck.out" 2>&1 ||
	{ cat "$TEST_TMP/fsck.out" >&2; fail "e2fsck found problems on stripe"; }
mount "$dev" "$mnt" || fail "remount stripe failed"
(cd "$mnt" && sha256sum -c --quiet "$TEST_TMP/sums") || { umount "$mnt"; fail "checksums differ after remount"; }
umount "$mnt"
sublk_del "$id" || fail "del $id failed"
drop_members
echo "ok stripe: mkfs.ext4, files, e2fsck clean, checksums after remount"

# bad input: one line, non-zero exit, nothing left behind
make_members 2
expect_error "two or more members" add -t stripe -f "${members[0]}"
expect_error "--chunk_size 12288 is not a power of two" add -t stripe "${fopts[@]}" --chunk_size 12288
expect_error "--chunk_size 2097152 is not a power of two from 4096 to 1048576" \
	add -t stripe "${fopts[@]}" --chunk_size 2M
expect_error "stripe: cannot open $TEST_TMP/missing.img" \
	add -t stripe "${fopts[@]}" -f "$TEST_TMP/missing.img"
expect_error "are the same file" add -t stripe -f "${members[0]}" -f "${members[0]}"
expect_error "only -t stripe takes more than one" add -t loop "${fopts[@]}"
drop_members
assert_no_ublk_devices
