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
#    --timeout, and boots again when the guest dies before the command runs
#    or starts it with a clock running too fast;
#  - a guest kernel that panics under the suite (selftest/panic-once.sh)
#    or hangs (selftest/stall-once.sh stops the runner) costs a fresh boot:
#    that test is rerun once, the tests before it are not, the tests after
#    it run, and the suite ends green; a test under which the kernel panics
#    twice (selftest/panic.sh) fails by name and the tests after it still run.
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

# 3b. A kernel that calibrated its TSC wrong (seen at load 16: 63 MHz for
# 2.3 GHz, a clock 36 times too fast) is caught at the start marker.
rc=0
SUBLK_VM_APPEND=tsc_early_khz=63000 $run -- true > "$out/clock.out" 2>&1 || rc=$?
check "fast clock: fails (got $rc)" [ "$rc" = 1 ]
check "fast clock: booted again twice" \
	[ "$(grep -c 'clock running too fast .* booting again' "$out/clock.out")" = 2 ]

# 4. A kernel panic in the middle of the suite: resumed, rerun once, green.
rc=0
$run --results "$out/panic-once" -- tests/e2e/runner 00-harness-smoke \
	selftest/panic-once 00-harness-smoke > "$out/panic-once.out" 2>&1 || rc=$?
grep -v '^\[' "$out/panic-once.out" | sed 's/^/    /'
check "panic once: suite passes (got $rc)" [ "$rc" = 0 ]
check "panic once: the console shows the panic" \
	grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$out/panic-once.out"
check "panic once: tools/vm/run boots again once to resume" \
	[ "$(grep -c 'guest kernel panicked while the command ran; booting again to resume it' \
		"$out/panic-once.out")" = 1 ]
check "panic once: the rerun is reported" grep -q -x \
	'guest kernel panicked during panic-once; rerunning panic-once and the 1 test after it in a fresh boot' \
	"$out/panic-once.out"
check "panic once: the test before it ran once, the one after it too" \
	[ "$(grep -c -x 'ok 00-harness-smoke' "$out/panic-once.out")" = 2 ]
check "panic once: rerun passes" [ "$(grep -c -x 'ok panic-once' "$out/panic-once.out")" = 1 ]
check "panic once: closing line counts each test once" \
	grep -q -x '3 passed, 0 failed, 0 skipped' "$out/panic-once.out"

# 5. The same test panics the kernel twice: it fails, the rest still runs.
rc=0
$run --results "$out/panic" -- tests/e2e/runner selftest/panic \
	00-harness-smoke > "$out/panic.out" 2>&1 || rc=$?
grep -v '^\[' "$out/panic.out" | sed 's/^/    /'
check "panic twice: suite fails (got $rc)" [ "$rc" = 1 ]
check "panic twice: rerun once" grep -q -x \
	'guest kernel panicked during panic; rerunning panic and the 1 test after it in a fresh boot' \
	"$out/panic.out"
check "panic twice: fails naming the test" \
	grep -q '^FAIL panic: guest kernel panicked during its rerun too' "$out/panic.out"
check "panic twice: two fresh boots, no third run" \
	[ "$(grep -c 'booting again to resume it' "$out/panic.out")" = 2 ]
check "panic twice: the test after it passes" grep -q -x 'ok 00-harness-smoke' "$out/panic.out"
check "panic twice: closing line" grep -q -x '1 passed, 1 failed, 0 skipped' "$out/panic.out"

# 6. A guest that makes no progress: the watchdog (10 s test limit + 20 s
# grace) kills it, the test is rerun in a fresh boot.
rc=0
start=$SECONDS
SUBLK_VM_WATCHDOG_GRACE=20 $run --results "$out/stall" -- tests/e2e/runner \
	selftest/stall-once 00-harness-smoke > "$out/stall.out" 2>&1 || rc=$?
took=$((SECONDS - start))
sed 's/^/    /' "$out/stall.out"
check "VM hang: suite passes (got $rc)" [ "$rc" = 0 ]
check "VM hang: seen by the watchdog" \
	grep -q 'guest hung: no progress for 30 s .*booting again to resume it' "$out/stall.out"
check "VM hang: the rerun is reported" grep -q -x \
	'guest hung during stall-once; rerunning stall-once and the 1 test after it in a fresh boot' \
	"$out/stall.out"
check "VM hang: closing line" grep -q -x '2 passed, 0 failed, 0 skipped' "$out/stall.out"
check "VM hang: done in $took s, well before the VM's 1200 s" [ "$took" -lt 400 ]

[ "$failures" = 0 ] && rm -rf "$out" || echo "outputs in $out"
echo "harness: $passes passed, $failures failed"
[ "$failures" = 0 ]
