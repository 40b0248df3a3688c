#!/bin/bash
# SPDX-License-Identifier: MIT
# Every way `add -t nbd` can be refused: one clear line, a non-zero exit,
# and nothing left behind (no device, no daemon, no run file).
# timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-nbd.sh"
need_cmd nbdkit qemu-nbd python3

sock=$TEST_TMP/s.sock

# the command line
expect_add_error "-t nbd needs --unix PATH, --host HOST or --uri URI" -t nbd
expect_add_error "--unix and --host exclude each other" -t nbd --unix "$sock" --host x
expect_add_error "--port goes with --host" -t nbd --unix "$sock" --port 10809
expect_add_error "bad --port '0'" -t nbd --host x --port 0
expect_add_error "--uri names the server and the export" -t nbd --uri nbd://x/e --export_name e
expect_add_error "bad --uri: 'http://x' is not an NBD URI" -t nbd --uri http://x
expect_add_error "bad --uri: nbds: TLS is not supported" -t nbd --uri nbds://x
expect_add_error "go with -t nbd" -t null --host x
expect_add_error "go with -t nbd" -t mem -s 16M --read_only
expect_add_error "bad --connections '0'" -t nbd --host x --connections 0

# the server
expect_add_error "cannot connect to $sock: No such file or directory" -t nbd --unix "$sock"
expect_add_error "cannot connect to 127.0.0.1:10899: Connection refused" \
	-t nbd --host 127.0.0.1 --port 10899
expect_add_error "cannot connect to [::1]:10899: " -t nbd --uri nbd://[::1]:10899
expect_add_error "cannot resolve 'no-such-host.invalid'" -t nbd --host no-such-host.invalid

bad=$(dirname "$0")/nbd-bad-server.py
nbd_start "$sock" python3 "$bad" "$sock" greeting
expect_add_error "$sock: not an NBD server (bad magic" -t nbd --unix "$sock"
nbd_kill "$NBD_PID"
nbd_start "$sock" python3 "$bad" "$sock" silent
expect_add_error "$sock: no answer to the handshake within 2 s (not an NBD server?)" \
	-t nbd --unix "$sock" --timeout 2
nbd_kill "$NBD_PID"

truncate -s 64M "$TEST_TMP/img"
nbd_start "$sock" qemu-nbd -f raw -x disk0 -k "$sock" -t "$TEST_TMP/img"
expect_add_error "server has no export 'nope'" -t nbd --unix "$sock" --export_name nope
expect_add_error "server has no export 'nope'" -t nbd --uri "nbd+unix:///nope?socket=$sock"
nbd_kill "$NBD_PID"

nbdkit_unix "$sock" --filter=multi-conn memory 64M multi-conn-mode=disable
expect_add_error "allows one connection only (no NBD_FLAG_CAN_MULTI_CONN)" \
	-t nbd --unix "$sock" --connections 2
# one connection per queue: two queues are two connections
[ "$(nproc)" -ge 2 ] &&
	expect_add_error "allows one connection only (no NBD_FLAG_CAN_MULTI_CONN)" \
		-t nbd --unix "$sock" -q 2
# ... while one connection is fine
id=$(sublk_add -t nbd --unix "$sock") || fail "one connection to it failed"
sublk_del "$id"
nbd_kill "$NBD_PID"
assert_no_ublk_devices
