#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGTERM to the daemon of a loop device holding a mounted ext4 under
# write load: the daemon flushes, stops and deletes the device and exits
# 0; the backing file is a clean filesystem holding all that was fsynced.
# timeout: 240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd mkfs.ext4

img=$TEST_TMP/term.img
mnt=$TEST_TMP/mnt
mkdir -p "$mnt"
truncate -s 128M "$img"
mkfs.ext4 -q -F "$img" || fail "mkfs failed"

id=$(sublk_add -t loop -f "$img") || fail "add failed"
pid=$(daemon_pid "$id")
mount /dev/ublkb$id "$mnt" || fail "mount failed"
for i in 1 2 3 4; do
	head -c $((i * 512 * 1024)) /dev/urandom > "$mnt/synced$i"
done
sync -f "$mnt/synced1"
(cd "$mnt" && sha256sum synced*) > "$TEST_TMP/sums"
# keep writing while the signal arrives
(while :; do head -c 1M /dev/urandom > "$mnt/busy.$RANDOM" || break; done) 2> /dev/null &
writer=$!
sleep 2
kill -TERM "$pid"
wait_pid_gone "$pid" 30 || { dump_tasks "$pid"; fail "daemon did not exit on SIGTERM"; }
kill $writer 2> /dev/null
wait $writer 2> /dev/null
umount -l "$mnt" 2> /dev/null || umount -f "$mnt" 2> /dev/null
wait_gone /dev/ublkb$id 10 || fail "the device is still there after SIGTERM"
"$SUBLK" list -n "$id" > /dev/null 2>&1 && fail "device $id still exists after SIGTERM"
forget_devices

# a mount replays the journal; then the filesystem must be clean
mount -o loop "$img" "$mnt" || fail "backing file does not mount"
(cd "$mnt" && sha256sum -c --quiet "$TEST_TMP/sums") || fail "fsynced files lost or changed"
umount "$mnt"
losetup -D
e2fsck -fn "$img" > "$TEST_TMP/fsck.out" 2>&1 || { cat "$TEST_TMP/fsck.out" >&2; fail "backing file fails e2fsck -fn"; }
assert_no_dstate
echo "ok SIGTERM: device gone, filesystem clean, fsynced data kept"
