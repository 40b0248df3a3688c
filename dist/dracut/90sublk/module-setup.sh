#!/bin/bash
# SPDX-License-Identifier: MIT
#
# dracut module for sublk (man sublktab(5)): the entries of /etc/sublktab
# (or $SUBLK_TABLE) marked x-initramfs become the image's /etc/sublktab,
# with the static sublk, the ublk_drv module and the udev rule that links
# /dev/sublk/NAME.  sublk-up.sh brings them up from dracut's initqueue,
# sublk-finished.sh holds the initqueue until their links exist.

# called by dracut
check() {
	require_binaries @SBINDIR@/sublk || return 1
	# Included wherever the table marks entries for the initramfs; on
	# request (dracut --add sublk) otherwise.
	[[ -n "$(@LIBDIR@/initramfs-table 2> /dev/null)" ]] && return 0
	return 255
}

# called by dracut
depends() {
	echo udev-rules
	return 0
}

# called by dracut
installkernel() {
	instmods ublk_drv
}

# called by dracut; initdir and moddir are dracut's
# shellcheck disable=SC2154
install() {
	local entries

	entries=$(@LIBDIR@/initramfs-table) || {
		derror "sublk: cannot read the table ${SUBLK_TABLE:-/etc/sublktab}"
		return 1
	}
	inst_simple @SBINDIR@/sublk
	inst_rules @UDEVDIR@/rules.d/60-sublk.rules
	inst_simple @UDEVDIR@/sublk-owner
	inst_multiple sed
	{
		echo "# The entries of ${SUBLK_TABLE:-/etc/sublktab} marked x-initramfs."
		[[ -z $entries ]] || echo "$entries"
	} > "${initdir}/etc/sublktab"
	inst_hook initqueue 50 "$moddir/sublk-up.sh"
	inst_hook initqueue/finished 50 "$moddir/sublk-finished.sh"
}
