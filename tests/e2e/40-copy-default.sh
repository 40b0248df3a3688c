#!/bin/bash
# SPDX-License-Identifier: MIT
# Data path: the copy mode (the kernel copies into the tag buffers), forced
# with --copy since add picks zero copy for loop where the kernel has it.
# timeout: 600
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dev.sh"
need_cmd fio mkfs.ext4
datapath_suite copy --copy
