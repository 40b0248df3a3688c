# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# tests/e2e/lib-nbd.sh: NBD servers for the nbd target's tests, sourced
# after lib.sh.  The servers (nbdkit, qemu-nbd, qemu-storage-daemon,
# nbd-server) come from the host's root, which the VM shares.  Every
# server started here is killed and reaped when the test exits; a test
# with a test_cleanup of its own calls nbd_stop_all there.

NBD_PIDS=$TEST_TMP/.nbd-pids

# TCP to 127.0.0.1 needs the loopback interface, which the VM leaves down.
ip link set lo up 2> /dev/null

# tcp_listening PORT: something listens on 127.0.0.1:PORT or [::1]:PORT
# (or any address)
tcp_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	grep -Eq "^ *[0-9]+: (0100007F|00000000):$hex [0-9A-F:]+ 0A " /proc/net/tcp ||
		grep -Eq "^ *[0-9]+: (0{24}01000000|0{32}):$hex [0-9A-F:]+ 0A " \
			/proc/net/tcp6 2> /dev/null
}

# nbd_start READY CMD...: run CMD (a server in the foreground) in the
# background and wait until it is ready (20 s): READY is its socket or pid
# file, or tcp:PORT for a listening TCP port.  Sets NBD_PID.  Not from a
# $(...): the server must be this shell's child, which reaps it.
nbd_start() {
	local ready=$1 log=$TEST_TMP/nbd-server.log i
	shift
	case $ready in tcp:*) ;; *) rm -f "$ready" ;; esac
	"$@" < /dev/null >> "$log" 2>&1 &
	NBD_PID=$!
	# bash still reaps it, but does not report "Killed" when it dies
	disown "$NBD_PID"
	echo "$NBD_PID" >> "$NBD_PIDS"
	if [ "${ready#tcp:}" != "$ready" ]; then
		for ((i = 0; i < 200; i++)); do
			tcp_listening "${ready#tcp:}" && break
			sleep 0.1
		done
		tcp_listening "${ready#tcp:}" ||
			{ tail -n 5 "$log" >&2; fail "NBD server $1 does not listen on ${ready#tcp:}"; }
	else
		wait_for_path "$ready" 20 ||
			{ tail -n 5 "$log" >&2; fail "NBD server $1 did not start"; }
	fi
	kill -0 "$NBD_PID" 2> /dev/null ||
		{ tail -n 5 "$log" >&2; fail "NBD server $1 exited"; }
}

# nbd_kill PID [SIGNAL]: stop a server started by nbd_start and reap it.
nbd_kill() {
	kill "-${2:-TERM}" "$1" 2> /dev/null
	wait_pid_gone "$1" 10 || { kill -9 "$1" 2> /dev/null; wait_pid_gone "$1" 5; }
	return 0
}

nbd_stop_all() {
	local pid
	[ -f "$NBD_PIDS" ] || return 0
	while read -r pid; do
		nbd_kill "$pid" KILL
	done < "$NBD_PIDS"
	rm -f "$NBD_PIDS"
}

# nbdkit_unix SOCK PLUGIN-ARGS...: nbdkit on a unix socket; sets NBD_PID.
nbdkit_unix() {
	local sock=$1
	shift
	nbd_start "$sock" nbdkit -f -U "$sock" "$@"
}

# nbdkit_tcp PORT PLUGIN-ARGS...: nbdkit on 127.0.0.1:PORT; sets NBD_PID.
nbdkit_tcp() {
	local port=$1 pidf=$TEST_TMP/nbdkit-$1.pid
	shift
	nbd_start "$pidf" nbdkit -f -i 127.0.0.1 -p "$port" -P "$pidf" "$@"
}

# expect_add_error WORDS ARGS...: `sublk add ARGS` fails with one line
# that contains WORDS, and leaves no device, daemon or run file.
expect_add_error() {
	local words=$1 out rc
	shift
	out=$(timeout 60 "$SUBLK" add "$@" 2>&1 > /dev/null)
	rc=$?
	[ $rc -ne 0 ] || fail "'sublk add $*' succeeded"
	[ $rc -ne 124 ] || fail "'sublk add $*' hung"
	case $out in
	*"$words"*) ;;
	*) fail "'sublk add $*' said '$out', expected '$words'" ;;
	esac
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] ||
		fail "'sublk add $*' said more than one line: $out"
	assert_no_ublk_devices
	[ -z "$(ls "$SUBLK_RUN_DIR" 2> /dev/null | grep -v daemon.log)" ] ||
		fail "run files left after 'sublk add $*'"
	pgrep -x sublk > /dev/null && fail "a sublk process is left after 'sublk add $*'"
	echo "ok: sublk add $* -> $out"
}

# max_io_bytes ID: the device's largest request, in bytes.
max_io_bytes() {
	echo $(($(cat "/sys/block/ublkb$1/queue/max_hw_sectors_kb") * 1024))
}

declare -F test_cleanup > /dev/null || test_cleanup() { nbd_stop_all; }
