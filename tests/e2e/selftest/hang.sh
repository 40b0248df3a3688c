#!/bin/bash
# SPDX-License-Identifier: MIT
# timeout: 20
#
# A deliberately broken server: with SUBLK_TEST_NO_COMMIT=1 the daemon never
# commits a request, so this read blocks (in D state) until the daemon is
# killed.  Not part of the suite (no NN- prefix): tests/harness-selftest.sh
# runs it to check that the runner turns a hang into a failure within the
# test's time limit, tears the device down, and goes on.

. "$(dirname "$0")/../lib.sh"

id=$(SUBLK_TEST_NO_COMMIT=1 sublk_add -t null -s 16M) ||
	fail "sublk add with SUBLK_TEST_NO_COMMIT=1 failed"
wait_for_path "/dev/ublkb$id" 10 || fail "no /dev/ublkb$id"
echo "reading /dev/ublkb$id; the runner should give up after 20 s"
dd if="/dev/ublkb$id" of=/dev/null bs=4k count=1 iflag=direct
fail "the read returned although the server never commits"
