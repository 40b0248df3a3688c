#!/bin/bash
# SPDX-License-Identifier: MIT
# fio random writes verified with crc32c, then a verify-only pass, on mem
# and loop, with 1, 2 and 4 queues and depths 1, 32 and 128, block sizes
# from 512 B to the maximum I/O size.
# timeout: 900
. "$(dirname "$0")/lib.sh"
need_cmd fio

img=/tmp/fio-loop.img
truncate -s 64M "$img"
max_io=$((512 * 1024))

run_fio() { # run_fio DEV DEPTH NAME
	fio --name="$3" --filename="$1" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bsrange=512-$max_io \
		--size=24M --iodepth="$2" --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=1 --output=/tmp/fio.out \
		--verify_dump=0 >/dev/null 2>/tmp/fio.err ||
		{ tail -n 20 /tmp/fio.out /tmp/fio.err >&2; return 1; }
	grep -q "err= 0" /tmp/fio.out || { cat /tmp/fio.out >&2; return 1; }
}

queues="1 2 4"
[ "$(nproc)" -ge 4 ] || fail "this test needs 4 CPUs in the VM for -q 4 (have $(nproc))"

for target in mem loop; do
	for q in $queues; do
		for depth in 1 32 128; do
			if [ $target = mem ]; then
				id=$(sublk_add -t mem -s 32M -q $q -d $depth) ||
					fail "add mem q=$q d=$depth failed"
			else
				id=$(sublk_add -t loop -f "$img" -q $q -d $depth) ||
					fail "add loop q=$q d=$depth failed"
			fi
			wait_for_path /dev/ublkb$id 10 || fail "no /dev/ublkb$id"
			run_fio /dev/ublkb$id $depth "$target-q$q-d$depth" ||
				fail "fio verify failed: $target q=$q depth=$depth"
			echo "ok fio $target q=$q depth=$depth"
			sublk_del "$id" || fail "del $id failed"
		done
	done
done
rm -f "$img"
assert_no_ublk_devices
