#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: zero copy (-z) with AUTO_BUF_REG where the kernel has it: loop does its backing I/O on the request pages.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
need_feature ZERO_COPY 6.15
datapath_suite zero-copy -z
