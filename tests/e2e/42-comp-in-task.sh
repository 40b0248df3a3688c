#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: URING_CMD_COMP_IN_TASK (-u 1).
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
datapath_suite comp-in-task -u 1 --copy
