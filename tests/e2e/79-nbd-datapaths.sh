#!/bin/bash
# SPDX-License-Identifier: MIT
# The nbd target on every data path the kernel has: add's pick (zero
# copy where the driver has ZERO_COPY, else copy), copy (--copy),
# NEED_GET_DATA (-g 1), COMP_IN_TASK (-u 1), USER_COPY (--usercopy) and
# batch I/O (-b, Linux 7.0): a finished request goes back through
# ublk_queue_complete however the queue commits.  Per-I/O threads are
# refused: a connection is served by its queue's one thread.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit fio

sock=$TEST_TMP/dp.sock
nbdkit_unix "$sock" memory 128M
# add options, and the flag `list` must then show (copy: none of them);
# with no option add picks zero copy where the driver has it
auto=
has_feature ZERO_COPY && auto=ZERO_COPY
paths=("--copy" "" "-g 1" "-u 1" "--usercopy")
flags=("" "$auto" NEED_GET_DATA "URING_CMD_COMP_IN_TASK $auto" USER_COPY)
if has_feature BATCH_IO; then
	paths+=("-b" "-b --usercopy")
	flags+=("BATCH_IO $auto" "BATCH_IO USER_COPY")
else
	echo "skip -b and -b --usercopy: needs Linux 7.0 (BATCH_IO)"
fi
for i in "${!paths[@]}"; do
	p=${paths[$i]}
	# shellcheck disable=SC2086
	id=$(sublk_add -t nbd --unix "$sock" -q 2 $p) || fail "add ${p:-(auto)} failed"
	fl=$("$SUBLK" list -n "$id" | sed -n 's/.*flags 0x[0-9a-f]* \[\(.*\)\]/\1/p')
	for f in ${flags[$i]:-}; do
		grep -qw "$f" <<< "$fl" || fail "${p}: list shows flags [$fl], not $f"
	done
	if [ -z "${flags[$i]}" ]; then
		grep -Eqw 'NEED_GET_DATA|USER_COPY|BATCH_IO|ZERO_COPY' <<< "$fl" &&
			fail "${p:-auto}: copy mode, but list shows flags [$fl]"
	fi
	# the pick is made before the handshake: zero copy asks for no
	# structured replies (it could not zero their holes), copy does
	v=$("$SUBLK" list -v -n "$id")
	if [ -z "$p" ] && [ -n "$auto" ]; then
		"$SUBLK" list -n "$id" | grep -q 'data path: zero copy' ||
			fail "auto: list does not say zero copy"
		grep -q '"structured_replies":0' <<< "$v" ||
			fail "auto: zero copy with structured replies: $v"
	elif [ "$p" = --copy ]; then
		grep -q '"structured_replies":1' <<< "$v" ||
			fail "--copy: no structured replies: $v"
	fi
	fio --name=dp --filename=/dev/ublkb$id --ioengine=io_uring --direct=1 \
		--rw=randrw --bsrange=512-256k --size=32M --iodepth=32 --numjobs=2 \
		--offset_increment=32M --verify=crc32c --verify_fatal=1 \
		--output="$TEST_TMP/dp.out" > /dev/null 2>&1 ||
		{ tail -n 15 "$TEST_TMP/dp.out" >&2; fail "fio verify with ${p:-auto} failed"; }
	sublk_del "$id"
	echo "ok ${p:-auto (${auto:-copy})}: fio verify"
done
expect_add_error "serves each queue's connections from one thread" \
	-t nbd --unix "$sock" --per_io_tasks --nthreads 2
nbd_kill "$NBD_PID"
assert_no_ublk_devices
