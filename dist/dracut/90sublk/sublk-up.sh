#!/bin/sh
# SPDX-License-Identifier: MIT
#
# dracut initqueue hook of the sublk module, sourced by the main loop until
# it succeeds: bring up the entries of the image's /etc/sublktab named by
# sublk=NAME[,NAME...] on the kernel command line, or all of them (the
# entries marked x-initramfs).  An entry that fails (an nbd server not yet
# reachable) is tried again on the next turn of the loop.  Their daemons
# stay running into the real system.

sublk_up() {
	local names

	names=$(getargs sublk=)
	if [ -n "$names" ]; then
		names=$(echo "$names" | sed 's/,/ /g')
	else
		names=$(sed -n 's/^[[:blank:]]*\([^#[:blank:]][^[:blank:]]*\).*/\1/p' /etc/sublktab)
	fi
	echo "$names" > /tmp/sublk.names
	if [ -n "$names" ]; then
		modprobe -q ublk_drv
		# shellcheck disable=SC2086 # one word per name
		@SBINDIR@/sublk up --root-storage $names || {
			warn "sublk up $names failed; trying again"
			return 1
		}
	fi
	: > /tmp/sublk.up
	# shellcheck disable=SC2154 # job: set by dracut's main loop
	rm -f -- "$job"
}

[ -s /etc/sublktab ] && sublk_up
