#!/bin/bash
# SPDX-License-Identifier: MIT
# ftrace alongside: a dd to a device whose daemon runs with --trace-marker
# shows, for the same sectors and in this order, block_rq_issue, sublk's
# fetch and commit markers, and block_rq_complete.
# timeout: 120
. "$(dirname "$0")/lib.sh"
[ -e /sys/kernel/tracing/trace_marker ] || skip "tracefs not mounted"

id=$(sublk_add -t mem -s 16M --trace-marker) || fail "add failed"
trace=$TEST_TMP/trace
"$TOP/tools/trace" -n "$id" -o "$trace" -- \
	dd if=/dev/zero of=/dev/ublkb$id bs=4k seek=100 count=1 oflag=direct status=none ||
	fail "tools/trace failed"
sed -n '1,40p' "$trace"

# the first line of each kind for sector 800 (4 KiB block 100), 8 sectors
issue=$(grep -n 'block_rq_issue:.* 800 + 8 ' "$trace" | head -n 1 | cut -d: -f1)
fetch=$(grep -n "sublk: dev $id q [0-9]* tag [0-9]* fetch op 1 sector 800 len 4096" "$trace" | head -n 1 | cut -d: -f1)
commit=$(grep -n "sublk: dev $id q [0-9]* tag [0-9]* commit op 1 sector 800 len 4096 res 4096" "$trace" | head -n 1 | cut -d: -f1)
complete=$(grep -n 'block_rq_complete:.* 800 + 8 ' "$trace" | head -n 1 | cut -d: -f1)
[ -n "$issue" ] || fail "no block_rq_issue for sector 800"
[ -n "$fetch" ] || fail "no sublk fetch marker for sector 800"
[ -n "$commit" ] || fail "no sublk commit marker for sector 800"
[ -n "$complete" ] || fail "no block_rq_complete for sector 800"
[ "$issue" -lt "$fetch" ] && [ "$fetch" -lt "$commit" ] && [ "$commit" -lt "$complete" ] ||
	fail "events out of order: issue $issue fetch $fetch commit $commit complete $complete"
echo "ok trace order: issue@$issue fetch@$fetch commit@$commit complete@$complete"
sublk_del "$id"
