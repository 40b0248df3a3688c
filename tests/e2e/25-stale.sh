#!/bin/bash
# SPDX-License-Identifier: MIT
# A daemon killed without recovery leaves stale run state: list says the
# daemon is gone, del cleans up the device and the run files.  And when
# the dead daemon's pid is taken by an unrelated process (forced here with
# ns_last_pid), dump and del must not signal that process.
# timeout: 120
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"

id=$(sublk_add -t null) || fail "add failed"
pid=$(daemon_pid "$id")
[ -f "$SUBLK_RUN_DIR/$id.json" ] || fail "no run state in $SUBLK_RUN_DIR"
[ "$(state_pid "$id")" = "$pid" ] || fail "run state names pid $(state_pid "$id"), the kernel $pid"
kill -9 "$pid"
wait_pid_gone "$pid" 10 || fail "daemon survived kill -9"
sleep 1
out=$("$SUBLK" list -n "$id") || fail "list of a device with a dead daemon failed"
echo "$out"
case $out in *"(daemon gone)"*) ;; *) fail "list does not say the daemon is gone" ;; esac
"$SUBLK" list -v -n "$id" | grep -q '"daemon_alive":false' || fail "list -v does not say the daemon is gone"

# an unrelated process gets the dead daemon's pid
impostor=
for ((try = 0; try < 20; try++)); do
	echo $((pid - 1)) > /proc/sys/kernel/ns_last_pid || skip "cannot set ns_last_pid"
	sleep 300 &
	if [ $! = "$pid" ]; then
		impostor=$!
		break
	fi
	kill $! 2> /dev/null
	wait $! 2> /dev/null
done
[ -n "$impostor" ] || skip "could not get pid $pid reused in 20 tries"
echo "pid $pid now belongs to: $(tr '\0' ' ' < /proc/"$pid"/cmdline)"
out=$(timeout 30 "$SUBLK" dump -n "$id" 2>&1) && fail "dump of a dead daemon succeeded: $out"
echo "dump: $out"
case $out in *"no running daemon"*) ;; *) fail "dump said: $out" ;; esac
sleep 0.5
kill -0 "$impostor" 2> /dev/null || fail "dump signalled pid $pid, which is not a sublk daemon"
sublk_del "$id" || fail "del of a device with a dead daemon failed"
kill -0 "$impostor" 2> /dev/null || fail "del killed pid $pid, which is not a sublk daemon"
kill "$impostor"
wait "$impostor" 2> /dev/null
[ ! -e "$SUBLK_RUN_DIR/$id.json" ] || fail "run files left after del"
assert_no_ublk_devices
echo "ok stale run state recognised and cleaned; the reused pid was left alone"
