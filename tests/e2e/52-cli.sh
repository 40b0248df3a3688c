#!/bin/bash
# SPDX-License-Identifier: MIT
# The command line: numbers are decimal (010 is ten, not eight), -q above
# the CPU count is clamped as ublksrv does, every command has --help,
# list has ublksrv 1.8's layout (scripts read the state as field 9), many
# -n do not overflow anything, and a kernel that refuses io_uring gets a
# message about io_uring, not "run as root".
# timeout: 180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"

for cmd in add del list recover stop quiesce update_size dump features up down status name help version; do
	out=$("$SUBLK" "$cmd" --help 2>&1) || fail "sublk $cmd --help failed: $out"
	case $out in "usage: sublk $cmd"*) ;; *) fail "sublk $cmd --help said: $out" ;; esac
done
echo "ok --help for every command"

id=$(sublk_add -t null -n 8 -s 010G) || fail "add -n 8 -s 010G failed"
"$SUBLK" list -n 8 | grep -q "dev_capacity $((10 << 21))" || fail "-s 010G is not 10 GiB: $("$SUBLK" list -n 8)"
out=$("$SUBLK" del -n 010 2>&1) && fail "del -n 010 succeeded: it must mean device 10"
case $out in *"device 10 does not exist"*) ;; *) fail "del -n 010 said: $out" ;; esac
"$SUBLK" list -n 8 > /dev/null || fail "del -n 010 deleted device 8"
echo "ok 010 is ten"

# ublksrv 1.8's list layout, read the way its tests/generic scripts do
"$SUBLK" list -n 8
state=$("$SUBLK" list -n 8 | awk 'NR == 2 { print $9 }')
[ "$state" = LIVE ] || fail "field 9 of list's second line is '$state', not LIVE"
pid=$("$SUBLK" list -n 8 | awk 'NR == 2 { print $7 }')
[ "$pid" = "$(daemon_pid 8)" ] || fail "field 7 of the second line is '$pid'"
"$SUBLK" list -n 8 | sed -n 3p | grep -q '^	flags 0x[0-9a-f]* \[ .* \]$' || fail "line 3 is not 'flags 0x... [ NAMES ]'"
sublk_del 8
echo "ok list layout"

ncpu=$(nproc --all)
out=$(timeout 60 "$SUBLK" add -t null -q $((ncpu + 3)) 2>&1) || fail "add -q $((ncpu + 3)) failed: $out"
echo "$out"
id=$(echo "$out" | sed -n 's/^dev id \([0-9]*\):.*/\1/p')
_record devs "$id"
echo "$out" | grep -q "nr_hw_queues $ncpu " || fail "queues not clamped to $ncpu"
[ "$(echo "$out" | grep -c "CPUs")" = 1 ] || fail "no single line about the clamp"
sublk_del "$id"
echo "ok -q clamped to $ncpu CPUs"

args=()
for ((i = 1; i <= 1100; i++)); do args+=(-n $((i + 5000))); done
out=$("$SUBLK" del "${args[@]}" 2>&1)
rc=$?
[ $rc = 1 ] || fail "del of 1100 missing devices exited $rc"
[ "$(printf '%s\n' "$out" | grep -c "does not exist")" = 1100 ] || fail "del of 1100 devices: $(printf '%s\n' "$out" | tail -n 2)"
echo "ok del of 1100 ids"

if [ -w /proc/sys/kernel/io_uring_disabled ]; then
	old=$(cat /proc/sys/kernel/io_uring_disabled)
	echo 2 > /proc/sys/kernel/io_uring_disabled
	out=$("$SUBLK" list 2>&1)
	rc=$?
	echo "$old" > /proc/sys/kernel/io_uring_disabled
	[ $rc != 0 ] || fail "list with io_uring disabled succeeded"
	case $out in *"io_uring is disabled"*) ;; *) fail "io_uring disabled: said '$out'" ;; esac
	echo "ok io_uring disabled -> $out"
else
	echo "kernel has no io_uring_disabled (before 6.6): that check skipped"
fi
