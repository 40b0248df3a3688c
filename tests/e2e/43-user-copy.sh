#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: USER_COPY (--usercopy): data moves by pread/pwrite on /dev/ublkcN.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
need_feature USER_COPY 6.5
datapath_suite user-copy --usercopy
