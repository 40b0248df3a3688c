#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/harness-selftest.sh: checks the test VM harness itself, on the host.
#  - a server that never commits a request (SUBLK_TEST_NO_COMMIT=1, in
#    tests/e2e/selftest/hang.sh) fails within its time limit instead of
#    hanging the suite, and the next test still passes;
#  - a device left behind (tests/e2e/selftest/leftover.sh, only its
#    /sys/class/ublk-char entry left) fails that test and is torn down;
#  - tools/vm/run passes the command's exit code through, exits 124 past
#    --timeout, and boots again when the guest dies before the command runs.
# Needs a built ./sublk.  Exits 0 when every check holds.

set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1
run=tools/vm/run
out=$(mktemp -d /tmp/sublk-harness.XXXXXX)
failures=0

passes=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then
		echo "ok $what"
		passes=$((passes + 1))
	else
		echo "FAIL $what"
		failures=$((failures + 1))
	fi
}


# 1. The hang, a device left behind, then a test that must still pass.
vm_timeout=300
start=$SECONDS
rc=0
$run --timeout "$vm_timeout" -- tests/e2e/runner selftest/hang.sh \
	selftest/leftover 00-harness-smoke > "$out/hang.out" 2>&1 || rc=$?
took=$((SECONDS - start))
sed 's/^/    /' "$out/hang.out"
check "hang: runner exits 1" [ "$rc" = 1 ]
check "hang: reported as a timeout" grep -q '^FAIL hang: timed out' "$out/hang.out"
check "leftover: fails on /sys/class/ublk-char/ublkcN" \
	grep -q '^FAIL leftover: left behind ublk devices left: /sys/class/ublk-char/ublkc[0-9]' \
	"$out/hang.out"
check "hang, leftover: next test passes" grep -q -x 'ok 00-harness-smoke' "$out/hang.out"
check "hang, leftover: closing line" grep -q -x '1 passed, 2 failed, 0 skipped' "$out/hang.out"
check "hang: done in $took s, well before the VM's $vm_timeout s" \
	[ "$took" -lt $((vm_timeout / 2)) ]

# 2. Exit codes.
rc=0
$run -- sh -c 'exit 7' > "$out/exit.out" 2>&1 || rc=$?
check "exit code 7 passes through (got $rc)" [ "$rc" = 7 ]
rc=0
$run --timeout 20 -- sleep 600 > "$out/timeout.out" 2>&1 || rc=$?
check "--timeout 20 exits 124 (got $rc)" [ "$rc" = 124 ]

# 3. A guest that dies before the command starts is booted again (twice).
rc=0
SUBLK_VM_APPEND=rdinit=/nonexistent $run -- true > "$out/panic.out" 2>&1 || rc=$?
check "early death: fails (got $rc)" [ "$rc" = 1 ]
check "early death: booted again twice" \
	[ "$(grep -c 'booting again' "$out/panic.out")" = 2 ]

[ "$failures" = 0 ] && rm -rf "$out" || echo "outputs in $out"
echo "harness: $passes passed, $failures failed"
[ "$failures" = 0 ]
