#!/bin/bash
# SPDX-License-Identifier: MIT
# The data path add picks when none is asked for, from what the driver
# reports: loop gets zero copy (AUTO_BUF_REG from 6.16, REGISTER_IO_BUF on
# 6.15), mem and null get user copy (6.5: null then moves no data at
# all), older kernels the copy path;
# `list` and `list -v` say which, and fio verify passes on each.  --copy
# forces the copy path, an explicit option is honoured or refused with
# the reason, recover keeps the pick, an unprivileged device gets none.
# The disks of null, mem and loop get no I/O scheduler.
# (nbd, which gets zero copy too, made before its handshake: 79.)
# timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio setpriv

img=$TEST_TMP/auto.img
truncate -s 128M "$img"

# data_path ID: the "data path:" line of list, checked against list -v.
data_path() {
	local line json
	line=$("$SUBLK" list -n "$1" | sed -n 's/^[[:space:]]*data path: //p')
	json=$("$SUBLK" list -n "$1" -v | grep -o '"data_path":"[^"]*"' | cut -d'"' -f4)
	[ "$line" = "$json" ] || fail "device $1: list says '$line', list -v '$json'"
	echo "$line"
}

# expect ID PATH WHAT: list names PATH for device ID.
expect() {
	local got
	got=$(data_path "$1")
	[ "$got" = "$2" ] || fail "$3: list says data path '$got', expected '$2'"
}

# verify ID NAME: fio random writes of 512 B to 512 KiB, verified.
verify() {
	fio --name="$2" --filename=/dev/ublkb$1 --ioengine=io_uring --direct=1 \
		--rw=randwrite --bsrange=512-512k --size=32M --iodepth=32 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output="$TEST_TMP/$2.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/$2.out" >&2; fail "$2: fio verify failed"; }
	grep -q "err= 0" "$TEST_TMP/$2.out" || fail "$2: fio saw errors"
}

# what this kernel should give each target
if has_feature AUTO_BUF_REG; then
	loop_path="zero copy (auto buffer registration)"
elif has_feature ZERO_COPY; then
	loop_path="zero copy"
else
	loop_path="copy"
fi
mem_path=copy
has_feature USER_COPY && mem_path="user copy"
echo "kernel $(uname -r): loop -> $loop_path, mem -> $mem_path, null -> ${mem_path}"

# no_sched ID WHAT: the disk has no I/O scheduler, as add sets for
# null, mem, loop, stripe and nbd (a 1-queue disk otherwise gets
# mq-deadline)
no_sched() {
	local s
	s=$(cat "/sys/block/ublkb$1/queue/scheduler") || fail "$2: no scheduler file"
	case $s in *"[none]"*) ;; *) fail "$2: I/O scheduler is not none: $s" ;; esac
}

# defaults
id=$(sublk_add -t loop -f "$img") || fail "add loop failed"
expect "$id" "$loop_path" "default loop"
no_sched "$id" "default loop"
verify "$id" auto-loop
grep -q '"-z"' "$SUBLK_RUN_DIR/$id.json" || [ "$loop_path" = copy ] ||
	fail "the run state of loop does not record -z"
sublk_del "$id"
echo "ok default loop: $loop_path, fio verify"

id=$(sublk_add -t mem -s 64M) || fail "add mem failed"
expect "$id" "$mem_path" "default mem"
no_sched "$id" "default mem"
verify "$id" auto-mem
sublk_del "$id"
echo "ok default mem: $mem_path, fio verify"

# null moves no data on user copy: an O_DIRECT read of the device leaves
# the reader's buffer as it was; on the copy path the tag buffer (zeros)
# lands in it.
null_read_keeps() {
	python3 - "/dev/ublkb$1" << 'PY'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 65536)
buf.write(b"\xa5" * 65536)
n = os.preadv(fd, [buf], 1 << 20)
os.close(fd)
sys.exit(0 if n == 65536 and buf[:] == b"\xa5" * 65536 else 1)
PY
}
null_path=copy
has_feature USER_COPY && null_path="user copy"
id=$(sublk_add -t null) || fail "add null failed"
expect "$id" "$null_path" "default null"
no_sched "$id" "default null"
if [ "$null_path" = "user copy" ]; then
	null_read_keeps "$id" || fail "default null: a read changed the reader's buffer"
fi
dd if=/dev/zero of="/dev/ublkb$id" bs=64k count=16 oflag=direct status=none ||
	fail "default null: writes failed"
sublk_del "$id"
id=$(sublk_add -t null --copy) || fail "add null --copy failed"
expect "$id" copy "null --copy"
null_read_keeps "$id" && fail "null --copy: a read left the buffer as it was (no copy?)"
sublk_del "$id"
echo "ok default null: $null_path, moves no data; --copy: copy"

# --copy forces the copy path on both
id=$(sublk_add -t loop -f "$img" --copy) || fail "add loop --copy failed"
expect "$id" copy "loop --copy"
verify "$id" copy-loop
grep -q '"--copy"' "$SUBLK_RUN_DIR/$id.json" || fail "the run state does not record --copy"
sublk_del "$id"
id=$(sublk_add -t mem -s 64M --copy) || fail "add mem --copy failed"
expect "$id" copy "mem --copy"
verify "$id" copy-mem
sublk_del "$id"
echo "ok --copy: loop and mem on the copy path, fio verify"

# -g 1 is a step of the copy path: no pick
id=$(sublk_add -t loop -f "$img" -g 1) || fail "add loop -g 1 failed"
expect "$id" copy "loop -g 1"
sublk_del "$id"
echo "ok -g 1: copy"

# explicit options: honoured exactly, or refused with the reason
out=$("$SUBLK" add -t loop -f "$img" --copy -z 2>&1) && fail "--copy -z was accepted"
case $out in *"--copy excludes"*) ;; *) fail "--copy -z: no reason: $out" ;; esac
out=$("$SUBLK" add -t mem -s 64M -z 2>&1) && fail "mem -z was accepted"
# a driver without ZERO_COPY says so first; one with it, that mem cannot
case $out in *"needs the data in memory"* | *"lacks ZERO_COPY (needs Linux 6.15"*) ;;
*) fail "mem -z: no reason: $out" ;; esac
if has_feature USER_COPY; then
	id=$(sublk_add -t loop -f "$img" --usercopy) || fail "add loop --usercopy failed"
	expect "$id" "user copy" "loop --usercopy"
	sublk_del "$id"
fi
if ! has_feature ZERO_COPY; then
	out=$("$SUBLK" add -t loop -f "$img" -z 2>&1) && fail "-z accepted without ZERO_COPY"
	case $out in *"needs Linux 6.15"*) ;; *) fail "-z on $(uname -r): no reason: $out" ;; esac
fi
assert_no_ublk_devices
echo "ok explicit options honoured or refused"

# recover keeps the path the device was made with
id=$(sublk_add -t loop -f "$img" -r 1) || fail "add loop -r 1 failed"
expect "$id" "$loop_path" "loop -r 1"
kill -9 "$(daemon_pid "$id")"
wait_state "$id" QUIESCED 15 || fail "device not QUIESCED after kill -9"
"$SUBLK" recover -n "$id" > /dev/null || fail "recover -n $id failed"
wait_state "$id" LIVE 15 || fail "not LIVE after recover"
expect "$id" "$loop_path" "loop after recover"
no_sched "$id" "loop after recover"
verify "$id" recovered-loop
sublk_del "$id"
echo "ok recover keeps $loop_path"

# unprivileged: the kernel forbids zero and user copy, so no pick
if has_feature UNPRIVILEGED_DEV; then
	unpriv_setup
	for t in "mem -s 64M" "null"; do
		out=$(as_nobody timeout 60 "$SUBLK" add -t $t --unprivileged 2>&1) ||
			fail "unprivileged add -t $t failed: $out"
		id=$(echo "$out" | sed -n 's/^dev id \([0-9]*\):.*/\1/p')
		[ -n "$id" ] || fail "no device id in: $out"
		_record devs "$id"
		got=$(echo "$out" | sed -n 's/^[[:space:]]*data path: //p')
		[ "$got" = copy ] || fail "unprivileged $t: data path '$got', not copy"
		[ "${t%% *}" = mem ] && verify "$id" unpriv-mem
		as_nobody timeout 30 "$SUBLK" del -n "$id" || fail "nobody cannot delete $id"
		_forget devs "$id"
	done
	echo "ok unprivileged mem and null: copy, fio verify"
else
	echo "note: no UNPRIVILEGED_DEV (Linux 6.3): unprivileged case not run"
fi
assert_no_ublk_devices
