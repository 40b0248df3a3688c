#!/bin/bash
# SPDX-License-Identifier: MIT
# The device table: up brings a mem, a null and a loop entry up, up again
# changes nothing (same devices, same daemons), status shows them, the
# /dev/sublk/NAME links (made by sublk: the VM has no udev) lead to the
# right disk, down leaves a mounted disk alone until --force or umount,
# and leaves no link and no run file; a bad table gives one line naming
# the file and the line.
# timeout: 300
. "$(dirname "$0")/lib.sh"
need_sublk
need_cmd mkfs.ext4 truncate cmp

[ -e /run/udev/control ] && skip "udev runs here: the links are its rule's to make"

mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
test_cleanup() {
	mountpoint -q "$mnt" && umount -l "$mnt"
	SUBLK_TABLE=$TEST_TMP/sublktab timeout 30 "$SUBLK" down --force > /dev/null 2>&1
	rm -f /dev/sublk/hostile /dev/sublk/evil
}

img=$TEST_TMP/data.img
truncate -s 64M "$img"
tab=$TEST_TMP/sublktab
cat > "$tab" << EOF
# sublk's table for test 60
scratch   mem    -s 64M
nothing   "null" -s 1G   # a comment
data      loop   -f "$img" -q 2 x-initramfs
EOF
export SUBLK_TABLE=$tab

# ids[NAME], from "NAME: up, device N (/dev/ublkbN)"
declare -A ids pids
parse_ids() {
	local line re='^([^:]+): (up|already up|recovered), device ([0-9]+) '
	while read -r line; do
		[[ $line =~ $re ]] || continue
		ids[${BASH_REMATCH[1]}]=${BASH_REMATCH[3]}
		_record devs "${BASH_REMATCH[3]}"
	done <<< "$1"
}

out=$(timeout 120 "$SUBLK" up 2>&1) || fail "up failed: $out"
echo "$out"
parse_ids "$out"
[ "${#ids[@]}" = 3 ] || fail "up did not bring 3 devices up: $out"
for n in scratch nothing data; do
	[ -n "${ids[$n]:-}" ] || fail "no device for $n: $out"
	pids[$n]=$(daemon_pid "${ids[$n]}") || fail "no daemon for $n"
	[ "$(readlink "/dev/sublk/$n")" = "../ublkb${ids[$n]}" ] ||
		fail "/dev/sublk/$n -> '$(readlink "/dev/sublk/$n")', not ../ublkb${ids[$n]}"
	"$SUBLK" list -n "${ids[$n]}" | grep -qx "	name $n" || fail "list does not name $n"
	[ "$("$SUBLK" name "ublkb${ids[$n]}")" = "$n" ] || fail "sublk name ublkb${ids[$n]} is not $n"
done
"$SUBLK" list -v -n "${ids[data]}" | grep -q '"name":"data"' || fail "list -v has no name"
echo "ok up: 3 devices, their links and names"

# up again: nothing changes
out=$(timeout 60 "$SUBLK" up 2>&1) || fail "second up failed: $out"
echo "$out"
[ "$(grep -c ': already up, device' <<< "$out")" = 3 ] || fail "second up did not leave 3 alone: $out"
for n in scratch nothing data; do
	grep -q "^$n: already up, device ${ids[$n]} " <<< "$out" || fail "$n moved: $out"
	[ "$(daemon_pid "${ids[$n]}")" = "${pids[$n]}" ] || fail "$n has a new daemon"
done
[ "$(ls /sys/class/ublk-char | wc -l)" = 3 ] || fail "devices after a second up: $(ls /sys/class/ublk-char)"
echo "ok up again is a no-op"

out=$("$SUBLK" status) || fail "status of an all-up table exited $?: $out"
echo "$out"
for n in scratch nothing data; do
	grep -Eq "^$n +[a-z]+ +${ids[$n]} +up +/dev/sublk/$n\$" <<< "$out" || fail "status line of $n: $out"
done
grep -Eq '^data +loop ' <<< "$out" || fail "status does not show data's target"
out=$("$SUBLK" status --initramfs)
[ "$(wc -l <<< "$out")" = 1 ] && grep -q '^data ' <<< "$out" || fail "status --initramfs: $out"
echo "ok status"

# the link leads to the loop file
head -c 4M /dev/urandom > "$TEST_TMP/rand"
dd if="$TEST_TMP/rand" of=/dev/sublk/data bs=1M oflag=direct status=none || fail "write through /dev/sublk/data failed"
cmp -n 4194304 "$TEST_TMP/rand" "$img" || fail "the data written through /dev/sublk/data is not in $img"
echo "ok data through /dev/sublk/data is in the loop file"

# a device without a name has none
id=$(sublk_add -t null) || fail "add failed"
out=$("$SUBLK" name "ublkb$id") && fail "name of an unnamed device succeeded: '$out'"
[ -z "$out" ] || fail "name of an unnamed device printed '$out'"
sublk_del "$id"

# down leaves a mounted disk alone
mkfs.ext4 -q -F /dev/sublk/scratch || fail "mkfs on /dev/sublk/scratch failed"
mount /dev/sublk/scratch "$mnt" || fail "mount failed"
echo hello > "$mnt/f"
out=$(timeout 60 "$SUBLK" down scratch 2>&1) && fail "down of a mounted disk succeeded: $out"
echo "$out"
[ "$out" = "sublk: down: device ${ids[scratch]} (scratch) is in use; not taking it down" ] ||
	fail "down of a mounted disk said: $out"
[ "$(daemon_pid "${ids[scratch]}")" = "${pids[scratch]}" ] || fail "the refused down touched the daemon"
"$SUBLK" list -n "${ids[scratch]}" | grep -q "state LIVE" || fail "the refused down changed the state"
[ "$(cat "$mnt/f")" = hello ] || fail "the filesystem is not readable after the refused down"
echo "ok down refuses a mounted disk: $out"

# down of everything: the others go, scratch stays
out=$(timeout 60 "$SUBLK" down 2>&1) && fail "down with a mounted disk exited 0: $out"
echo "$out"
grep -q "^data: down, was device ${ids[data]}\$" <<< "$out" || fail "down did not take data down: $out"
grep -q "^nothing: down, was device ${ids[nothing]}\$" <<< "$out" || fail "down did not take nothing down: $out"
grep -q "(scratch) is in use" <<< "$out" || fail "down did not say scratch is in use: $out"
for n in data nothing; do
	[ ! -e "/dev/ublkb${ids[$n]}" ] && [ ! -e "/dev/ublkc${ids[$n]}" ] || fail "$n's device is still there"
	[ ! -L "/dev/sublk/$n" ] || fail "/dev/sublk/$n is still there"
	[ ! -e "$SUBLK_RUN_DIR/${ids[$n]}.json" ] || fail "$n's run state is still there"
	_forget devs "${ids[$n]}"
done
[ -L /dev/sublk/scratch ] || fail "the refused down removed /dev/sublk/scratch"
out=$("$SUBLK" status)
echo "$out"
grep -Eq '^data +loop +- +down +-$' <<< "$out" || fail "status after down: $out"

# after umount it goes
umount "$mnt" || fail "umount failed"
out=$(timeout 60 "$SUBLK" down scratch 2>&1) || fail "down after umount failed: $out"
[ "$out" = "scratch: down, was device ${ids[scratch]}" ] || fail "down after umount said: $out"
_forget devs "${ids[scratch]}"
echo "ok down after umount"

# --force takes it down from under its user
out=$(timeout 120 "$SUBLK" up scratch 2>&1) || fail "up scratch failed: $out"
parse_ids "$out"
mount /dev/sublk/scratch "$mnt" 2> /dev/null || { mkfs.ext4 -q -F /dev/sublk/scratch && mount /dev/sublk/scratch "$mnt"; } ||
	fail "mount failed"
out=$(timeout 60 "$SUBLK" down --force scratch 2>&1) || fail "down --force failed: $out"
echo "$out"
wait_gone "/dev/ublkc${ids[scratch]}" 10 || fail "down --force left /dev/ublkc${ids[scratch]}"
[ ! -L /dev/sublk/scratch ] || fail "down --force left /dev/sublk/scratch"
umount -l "$mnt"
_forget devs "${ids[scratch]}"
wait_gone "/dev/ublkb${ids[scratch]}" 10 || fail "/dev/ublkb${ids[scratch]} stays after umount"
echo "ok down --force"

# nothing left behind
left=$(ls -A "$SUBLK_RUN_DIR" 2> /dev/null | grep -v -e '^daemon.log$' -e '^\.lock$')
[ -z "$left" ] || fail "run files left: $left"
left=$(ls -A /dev/sublk 2> /dev/null)
[ -z "$left" ] || fail "links left in /dev/sublk: $left"
out=$("$SUBLK" status)
[ $? = 3 ] || fail "status of a down table did not exit 3"
[ "$(grep -c ' down  *-$' <<< "$out")" = 3 ] || fail "status after all down: $out"
echo "ok no run file and no link left"

# a device whose entry left the table, and one whose daemon died
out=$(timeout 120 "$SUBLK" up nothing data 2>&1) || fail "up nothing data failed: $out"
parse_ids "$out"
grep -v '^nothing' "$tab" > "$TEST_TMP/tab2"
out=$("$SUBLK" status --table "$TEST_TMP/tab2")
echo "$out"
grep -Eq "^nothing +null +${ids[nothing]} +not-in-table +/dev/sublk/nothing\$" <<< "$out" ||
	fail "status does not show nothing as not-in-table: $out"
pid=$(daemon_pid "${ids[data]}")
kill -9 "$pid"
wait_pid_gone "$pid" 10 || fail "the data daemon did not die"
out=$("$SUBLK" status data)
grep -Eq "^data +loop +${ids[data]} +dead-daemon " <<< "$out" || fail "status of a dead daemon: $out"
# its DEAD device (no recovery) is removed and the entry comes up anew
dead=${ids[data]}
out=$(timeout 60 "$SUBLK" up data 2>&1) || fail "up of an entry with a dead daemon failed: $out"
echo "$out"
grep -q "^data: device $dead had lost its daemon (DEAD): removed" <<< "$out" ||
	fail "up of a dead daemon said: $out"
parse_ids "$out"
[ -e "/sys/class/block/ublkb${ids[data]}" ] || fail "data did not come up anew: $out"
[ "${ids[data]}" = "$dead" ] || [ ! -e "/dev/ublkc$dead" ] || fail "the DEAD device $dead stayed"
"$SUBLK" status data | grep -Eq "^data +loop +${ids[data]} +up " || fail "status of data after up: $("$SUBLK" status data)"
[ "${ids[data]}" = "$dead" ] || _forget devs "$dead"
# down without names only takes the table's entries
out=$(timeout 60 "$SUBLK" down --table "$TEST_TMP/tab2" 2>&1) || fail "down --table tab2 failed: $out"
[ -e "/dev/ublkc${ids[nothing]}" ] || fail "down of tab2 took down 'nothing', which tab2 lacks"
out=$(timeout 60 "$SUBLK" down --table "$TEST_TMP/tab2" nothing 2>&1) || fail "down nothing failed: $out"
wait_gone "/dev/ublkc${ids[nothing]}" 10 || fail "down nothing left its device"
wait_gone "/dev/ublkc${ids[data]}" 10 || fail "down --table tab2 left data up"
_forget devs "${ids[nothing]}"
_forget devs "${ids[data]}"
echo "ok not-in-table and dead-daemon"

# what sits at /dev/sublk/NAME and is not our link is left alone
mkdir -p /dev/sublk
echo keep > /dev/sublk/hostile
ln -s "$TEST_TMP/elsewhere" /dev/sublk/evil
printf 'hostile null\nevil null\n' > "$TEST_TMP/tab3"
out=$(timeout 120 "$SUBLK" up --table "$TEST_TMP/tab3" 2>&1) || fail "up of tab3 failed: $out"
parse_ids "$out"
[ -f /dev/sublk/hostile ] && [ "$(cat /dev/sublk/hostile)" = keep ] || fail "up replaced the file /dev/sublk/hostile"
[ "$(readlink /dev/sublk/evil)" = "$TEST_TMP/elsewhere" ] || fail "up replaced the foreign link /dev/sublk/evil"
[ ! -e "$TEST_TMP/elsewhere" ] || fail "up wrote through the foreign link"
dmesg | grep -q "/dev/sublk/hostile exists and is not sublk's link" || fail "no warning about /dev/sublk/hostile"
out=$("$SUBLK" status --table "$TEST_TMP/tab3")
grep -Eq "^hostile +null +${ids[hostile]} +up +-\$" <<< "$out" || fail "status of hostile: $out"
out=$(timeout 60 "$SUBLK" down --table "$TEST_TMP/tab3" 2>&1) || fail "down of tab3 failed: $out"
[ "$(cat /dev/sublk/hostile)" = keep ] && [ -L /dev/sublk/evil ] || fail "down removed what was not its link"
rm -f /dev/sublk/hostile /dev/sublk/evil
_forget devs "${ids[hostile]}"
_forget devs "${ids[evil]}"
echo "ok a file or a foreign link at /dev/sublk/NAME is left alone"

# bad tables: one line, naming file:line
bad() {
	local want=$1 out rc=0 ncmd
	shift
	printf '%s\n' "$@" > "$TEST_TMP/bad"
	chmod 644 "$TEST_TMP/bad"
	for ncmd in up status down; do
		out=$("$SUBLK" "$ncmd" --table "$TEST_TMP/bad" 2>&1) && rc=0 || rc=$?
		[ "$rc" != 0 ] || fail "$ncmd accepted a bad table ($want)"
		[ "$(wc -l <<< "$out")" = 1 ] || fail "$ncmd: more than one line for a bad table: $out"
		case $out in "sublk: $ncmd: $TEST_TMP/bad:$want"*) ;;
		*) fail "$ncmd: bad table said '$out', not '...bad:$want...'" ;;
		esac
	done
	echo "ok bad table: $out"
}
bad "3: unknown target type 'bogus'" "# c" "a null" "b bogus -s 1G"
bad "2: duplicate name 'a' (also on line 1)" "a null" "a mem -s 1G"
bad "1: a double quote that is not closed" 'a loop -f "/x y'
bad "1: line longer than 4096 bytes" "a null $(printf '%*s' 4100 '')"
bad "2: bad name 'a/b'" "ok null" "a/b null"
bad "1: bad size 'big' (e.g. 512M, 4G)" "a mem -s big"
bad "1: -f 'rel.img': a table names files by absolute path" "a loop -f rel.img"
chmod 666 "$TEST_TMP/bad"
out=$("$SUBLK" up --table "$TEST_TMP/bad" 2>&1) && fail "up accepted a world-writable table"
[ "$out" = "sublk: up: $TEST_TMP/bad is writable by group or others (mode 0666); not using it" ] ||
	fail "world-writable table: $out"
out=$(SUBLK_TABLE=$TEST_TMP/missing "$SUBLK" up 2>&1) && fail "up without a table succeeded"
[ "$out" = "sublk: up: cannot read $TEST_TMP/missing: No such file or directory" ] || fail "missing table: $out"
out=$("$SUBLK" up bogus 2>&1) && fail "up of an unknown name succeeded"
[ "$out" = "sublk: up: no entry 'bogus' in $tab" ] || fail "up bogus: $out"
echo "ok table errors"
assert_no_ublk_devices
