#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: the legacy command encoding (raw opcodes), forced with SUBLK_LEGACY_CMDS=1.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
export SUBLK_LEGACY_CMDS=1
"$SUBLK" features | grep -q "command encoding: legacy" || fail "SUBLK_LEGACY_CMDS did not select the legacy encoding"
datapath_suite legacy-cmds
