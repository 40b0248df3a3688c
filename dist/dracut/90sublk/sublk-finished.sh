#!/bin/sh
# SPDX-License-Identifier: MIT
#
# dracut initqueue/finished hook of the sublk module, sourced in a subshell:
# done once sublk-up.sh brought its entries up and udev linked each
# /dev/sublk/NAME.

sublk_finished() {
	local name

	[ -s /etc/sublktab ] || return 0
	[ -e /tmp/sublk.up ] || return 1
	for name in $(cat /tmp/sublk.names); do
		[ -e "/dev/sublk/$name" ] || return 1
	done
}

sublk_finished
