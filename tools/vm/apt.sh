# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# tools/vm/apt.sh: sourced by tools/vm/kernel and tools/vm/fetch-debs.
#
# apt-get with a private sources list (Debian trixie and trixie-backports,
# main) and a private state directory per architecture, so the machine's
# apt configuration is never read or written.  The caller sets $cache and
# defines note(), then calls apt_init ARCH (amd64, arm64).

# Lists older than this (minutes) are refreshed when the network allows.
lists_max_age=1440

# Set aptdir and apt_opts for Debian architecture $1.
# shellcheck disable=SC2154 # cache: the caller's
apt_init() {
	local arch=$1

	# amd64 keeps the directory it had before there were others.
	if [ "$arch" = amd64 ]; then
		aptdir=$cache/apt
	else
		aptdir=$cache/apt-$arch
	fi
	apt_opts=(
		-o "Dir::Etc::SourceList=$aptdir/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$aptdir/lists"
		-o Dir::State::Status=/dev/null
		-o "Dir::Cache=$aptdir/cache"
		-o Debug::NoLocking=1
		-o "APT::Architecture=$arch"
		-o "APT::Architectures=$arch"
		-o Acquire::Languages=none
	)
	# apt drops to the _apt user for downloads, which cannot write our
	# dirs.
	[ "$(id -u)" -eq 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
	return 0
}

apt_setup() {
	mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
	local key=/usr/share/keyrings/debian-archive-keyring.gpg
	local suite
	: > "$aptdir/sources.list.new"
	for suite in trixie trixie-backports; do
		echo "deb [signed-by=$key] http://deb.debian.org/debian $suite main" \
			>> "$aptdir/sources.list.new"
	done
	mv "$aptdir/sources.list.new" "$aptdir/sources.list"
}

# True if we have package lists at all / lists younger than lists_max_age.
lists_present() {
	compgen -G "$aptdir/lists/*_Packages*" > /dev/null
}

# apt keeps the server's dates on the lists: the stamp records our update.
lists_fresh() {
	lists_present && [ -f "$aptdir/updated" ] &&
	[ -z "$(find "$aptdir/updated" -mmin +"$lists_max_age")" ]
}

apt_update() {
	note "updating package lists (private apt state in $aptdir)"
	timeout 300 apt-get "${apt_opts[@]}" -q update --error-on=any \
		> "$aptdir/update.log" 2>&1 || {
		note "apt-get update failed, see $aptdir/update.log"
		return 1
	}
	touch "$aptdir/updated"
}
