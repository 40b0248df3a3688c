#!/bin/bash
# SPDX-License-Identifier: MIT
# State dump for hangs: a write stalled by the fault backend shows up in
# `sublk dump` (SIGUSR1) as the tag being served by the backend, with its
# op, sector and length, next to the per-queue counters.
# timeout: 120
. "$(dirname "$0")/lib.sh"

id=$(sublk_add -t fault -s 16M --fault stall_nth=1,stall_op=write) || fail "add failed"
pid=$(daemon_pid "$id")
dd if=/dev/zero of=/dev/ublkb$id bs=4k seek=10 count=1 oflag=direct status=none 2> /dev/null &
dd_pid=$!
sleep 2
kill -0 $dd_pid 2> /dev/null || fail "the stalled write completed"
out=$("$SUBLK" dump -n "$id") || fail "sublk dump failed"
echo "$out" | grep -v 'waiting in the kernel'
echo "$out" | grep -Eq "tag [0-9]+: being served by the backend: op write sector 80 len 4096" ||
	fail "dump does not name the stalled tag"
echo "$out" | grep -q "requests: read [0-9]* write 1 " || fail "dump has no request counters"
[ "$(echo "$out" | grep -c 'waiting in the kernel')" -ge 1 ] || fail "dump lists no idle tags"
kill -9 "$pid"
timeout 20 tail --pid=$dd_pid -f /dev/null || fail "dd still stuck after the daemon died"
wait $dd_pid && fail "the stalled write succeeded"
sublk_del "$id"
[ ! -e "$SUBLK_RUN_DIR/$id.dump" ] || fail "del left $SUBLK_RUN_DIR/$id.dump behind"
assert_no_dstate
echo "ok dump names the stalled tag"
