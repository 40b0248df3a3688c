#!/bin/bash
# SPDX-License-Identifier: MIT
# Host checks of the build itself (part of make test):
# - without musl-gcc, `make` refuses with a line saying what to install,
#   instead of quietly building an 800 KB glibc binary;
# - `make install` installs a stripped binary, `make uninstall` removes it.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

fail() { echo "FAIL build: $*"; bad=1; }

# a PATH with everything but musl-gcc
mkdir "$tmp/bin"
for d in ${PATH//:/ }; do
	for f in "$d"/*; do
		n=${f##*/}
		[ "$n" = musl-gcc ] && continue
		[ -x "$f" ] && [ ! -e "$tmp/bin/$n" ] && ln -s "$f" "$tmp/bin/$n"
	done
done 2> /dev/null
out=$(PATH=$tmp/bin make -n BUILD=$tmp/obj BIN=$tmp/sublk-nomusl 2>&1) &&
	fail "make without musl-gcc succeeded"
case $out in
*"musl-gcc not found"*"musl-tools"*) echo "ok build: no musl-gcc -> $(grep -o 'musl-gcc not found[^)]*)' <<< "$out")" ;;
*) fail "make without musl-gcc said: $out" ;;
esac

if command -v musl-gcc > /dev/null; then
	make -s DESTDIR="$tmp/root" PREFIX=/usr install > /dev/null 2>&1 ||
		fail "make install failed"
	bin=$tmp/root/usr/sbin/sublk
	if [ ! -x "$bin" ]; then
		fail "make install installed no $bin"
	elif readelf -S "$bin" | grep -q '\.symtab'; then
		fail "make install installed an unstripped binary"
	else
		echo "ok build: make install -> stripped $(stat -c %s "$bin") bytes"
	fi
	make -s DESTDIR="$tmp/root" PREFIX=/usr uninstall > /dev/null 2>&1
	[ -e "$bin" ] && fail "make uninstall left $bin"
else
	fail "musl-gcc is not installed (apt-get install musl-tools)"
fi
exit $bad
