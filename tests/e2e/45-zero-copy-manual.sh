#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: zero copy (-z) with explicit REGISTER_IO_BUF / UNREGISTER_IO_BUF per request (AUTO_BUF_REG turned off).
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
need_feature ZERO_COPY 6.15
export SUBLK_NO_AUTO_BUF_REG=1
datapath_suite zero-copy-manual -z
