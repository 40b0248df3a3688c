#!/bin/bash
# SPDX-License-Identifier: MIT
# A daemon killed without recovery leaves a stale pid file: list says the
# daemon is gone, del cleans up the device and the run files.
# timeout: 120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"

id=$(sublk_add -t null) || fail "add failed"
pid=$(daemon_pid "$id")
[ -f "$SUBLK_RUN_DIR/$id.pid" ] || fail "no pid file in $SUBLK_RUN_DIR"
kill -9 "$pid"
wait_pid_gone "$pid" 10 || fail "daemon survived kill -9"
sleep 1
out=$("$SUBLK" list -n "$id") || fail "list of a device with a dead daemon failed"
echo "$out"
case $out in *"daemon pid $pid (gone)"*) ;; *) fail "list does not say the daemon is gone" ;; esac
"$SUBLK" list -v -n "$id" | grep -q '"daemon_alive":false' || fail "list -v does not say the daemon is gone"
sublk_del "$id" || fail "del of a device with a dead daemon failed"
[ ! -e "$SUBLK_RUN_DIR/$id.pid" ] && [ ! -e "$SUBLK_RUN_DIR/$id.state" ] || fail "run files left after del"
assert_no_ublk_devices
echo "ok stale pid file recognised and cleaned"
