#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon's boot hardening: its own mount namespace (a filesystem
# mounted from its disk never reaches it, so SIGTERM with the disk mounted
# ends it cleanly and the image passes e2fsck), no open file but what it
# serves with, argv[0] '@' with --root-storage (systemd spares it at
# switch_root), PR_SET_IO_FLUSHER on the threads that serve I/O, and a
# recovering daemon does not take the mounts of its own disk into its
# namespace.
# timeout: 300
. "$(dirname "$0")/lib.sh"
need_sublk
need_cmd mkfs.ext4 e2fsck fsfreeze mountpoint

mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
test_cleanup() {
	fsfreeze -u "$mnt" 2> /dev/null
	mountpoint -q "$mnt" && umount -l "$mnt"
}

# majmin ID: "MAJ:MIN" of /dev/ublkbID
majmin() {
	cat "/sys/block/ublkb$1/dev"
}

# check_fds PID ID FILE: the daemon holds /dev/ublkcID, FILE, kmsg, the
# control device, /dev/null and anonymous inodes; nothing else.
check_fds() {
	local pid=$1 id=$2 file=$3 fd link odd=
	for fd in /proc/"$pid"/fd/*; do
		link=$(readlink "$fd") || continue
		case $link in
		*/dev/ublkc"$id" | *"$file" | */dev/kmsg | */dev/ublk-control | */dev/null) ;;
		anon_inode:*) ;;
		*) odd="$odd ${fd##*/}->$link" ;;
		esac
	done
	[ -z "$odd" ] || fail "daemon $pid holds more than it serves with:$odd"
	echo "ok daemon $pid fds: $(for fd in /proc/"$pid"/fd/*; do readlink "$fd"; done | sort | uniq -c | tr -s ' \n' ' ')"
}

# task_flags PID TID: field 9 of /proc/PID/task/TID/stat, the task's PF_*
# flags (the comm before it may hold blanks: count from the last ')').
task_flags() {
	local stat rest
	read -r stat < "/proc/$1/task/$2/stat" || return 1
	rest=${stat##*) }
	set -- $rest
	echo "$7"
}

# PR_SET_IO_FLUSHER sets PF_MEMALLOC_NOIO and PF_LOCAL_THROTTLE on the
# task; no prctl reads another task's, but its stat shows the flags.
PF_MEMALLOC_NOIO=$((0x00080000))
check_io_flusher() {
	local pid=$1 id=$2 tid flags served=0
	flags=$(task_flags "$pid" "$pid") || fail "no stat for $pid"
	[ $((flags & PF_MEMALLOC_NOIO)) = 0 ] ||
		fail "the daemon's main thread is an I/O flusher (flags $flags)"
	# the serving threads as list shows them (others: io_uring workers)
	for tid in $("$SUBLK" list -n "$id" | sed -n 's/^	queue [0-9]*: tid \([0-9]*\) .*/\1/p'); do
		flags=$(task_flags "$pid" "$tid") || fail "no thread $tid in daemon $pid"
		[ $((flags & PF_MEMALLOC_NOIO)) != 0 ] ||
			fail "serving thread $tid of $pid is not an I/O flusher (flags $flags)"
		served=$((served + 1))
	done
	[ "$served" -gt 0 ] || fail "list shows no serving thread of daemon $pid"
	echo "ok PR_SET_IO_FLUSHER on the $served serving threads of $pid, not on its main thread"
}

img=$TEST_TMP/fs.img
truncate -s 128M "$img"
id=$(sublk_add -t loop -f "$img" -q 2) || fail "add failed"
pid=$(daemon_pid "$id")
check_io_flusher "$pid" "$id"

ns_daemon=$(readlink "/proc/$pid/ns/mnt")
ns_test=$(readlink /proc/self/ns/mnt)
[ "$ns_daemon" != "$ns_test" ] || fail "the daemon shares the test's mount namespace ($ns_test)"
echo "ok own mount namespace: daemon $ns_daemon, test $ns_test"
# the checks that prove a pid is the daemon work across namespaces
"$SUBLK" list -n "$id" | grep -q "daemon gone" && fail "list does not recognise the daemon in its namespace"
"$SUBLK" list -v -n "$id" | grep -q '"daemon_alive":true' || fail "list -v: daemon not alive"
check_fds "$pid" "$id" "$img"
case $(head -c 1 "/proc/$pid/cmdline") in @) fail "a plain add's daemon has argv[0] '@'" ;; esac

mkfs.ext4 -q -F "/dev/ublkb$id" || fail "mkfs failed"
mount "/dev/ublkb$id" "$mnt" || fail "mount failed"
head -c 8M /dev/urandom > "$mnt/data" || fail "write to the filesystem failed"
mkdir "$mnt/dir" && echo hello > "$mnt/dir/f"
grep -q " $(majmin "$id") " "/proc/$pid/mountinfo" &&
	fail "the mount of its own disk reached the daemon's namespace"
echo "ok the disk's mount is not in the daemon's namespace"

# SIGTERM with the disk mounted (frozen: clean on disk): the daemon goes
fsfreeze -f "$mnt" || fail "fsfreeze failed"
kill -TERM "$pid"
wait_pid_gone "$pid" 60 || fail "the daemon did not exit after SIGTERM with its disk mounted"
assert_no_dstate
fsfreeze -u "$mnt" 2> /dev/null
umount "$mnt" 2> /dev/null || umount -l "$mnt"
wait_gone "/dev/ublkc$id" 30 || fail "/dev/ublkc$id stays after SIGTERM and umount"
_forget devs "$id"
[ ! -e "$SUBLK_RUN_DIR/$id.json" ] || fail "the daemon left its run state"
out=$(e2fsck -fn "$img" 2>&1) || fail "e2fsck -fn of the image failed: $out"
echo "ok SIGTERM with the disk mounted: the daemon exits, e2fsck passes"

# --root-storage: argv[0] starts with '@'
id=$(sublk_add -t null --root-storage) || fail "add --root-storage failed"
pid=$(daemon_pid "$id")
c=$(head -c 1 "/proc/$pid/cmdline")
[ "$c" = @ ] || fail "argv[0] of a --root-storage daemon is '$(tr '\0' ' ' < "/proc/$pid/cmdline")'"
[ "$(cat "/proc/$pid/comm")" = sublk ] || fail "comm of a --root-storage daemon: $(cat "/proc/$pid/comm")"
echo "ok --root-storage: cmdline $(tr '\0' ' ' < "/proc/$pid/cmdline")"
sublk_del "$id"

# a recovering daemon leaves the mounts of its disk out of its namespace
if "$SUBLK" features | grep -qw USER_RECOVERY; then
	truncate -s 64M "$TEST_TMP/r.img"
	id=$(sublk_add -t loop -f "$TEST_TMP/r.img" -r 1 --root-storage) || fail "add -r 1 failed"
	mkfs.ext4 -q -F "/dev/ublkb$id" && mount "/dev/ublkb$id" "$mnt" || fail "mkfs/mount failed"
	echo before > "$mnt/f"
	sync
	pid=$(daemon_pid "$id")
	kill -9 "$pid"
	wait_pid_gone "$pid" 10 || fail "the killed daemon stays"
	out=$(timeout 60 "$SUBLK" recover -n "$id" 2>&1) || fail "recover failed: $out"
	pid=$(daemon_pid "$id")
	grep -q " $(majmin "$id") " "/proc/$pid/mountinfo" &&
		fail "the recovering daemon's namespace holds a mount of its own disk"
	[ "$(head -c 1 "/proc/$pid/cmdline")" = @ ] || fail "the recovered daemon lost its '@'"
	check_fds "$pid" "$id" "$TEST_TMP/r.img"
	check_io_flusher "$pid" "$id"
	[ "$(cat "$mnt/f")" = before ] || fail "the file is not readable after recover"
	echo after > "$mnt/f" && sync || fail "write after recover failed"
	umount "$mnt" || fail "umount failed"
	sublk_del "$id"
	e2fsck -fn "$TEST_TMP/r.img" > /dev/null 2>&1 || fail "e2fsck of the recovered image failed"
	echo "ok recover: the disk's mount detached from the new daemon's namespace"
fi
assert_no_ublk_devices
