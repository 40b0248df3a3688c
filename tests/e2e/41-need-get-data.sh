#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: NEED_GET_DATA (-g 1): a write first asks for its buffer.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
datapath_suite need-get-data -g 1
"$SUBLK" list | grep -q NEED_GET_DATA || true
