#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/base.sh - find the Linux 6.1.y tree the series is applied to.
#
# KERNEL_SRC=DIR uses any 6.1.y tree, git or plain; it is only read: every
# later step works on a private hard-link copy. Without KERNEL_SRC, the
# tarball of Debian's linux-source-6.1 package is extracted once into
# $BUILD. Writes $BUILD/base.env (PRISTINE, KVERSION, KERNEL_SRC).
set -eu
. "$(dirname "$0")/lib.sh"

series_base=$(sed -n 's/^# base: *\([0-9.]*\).*/\1/p' "$PATCHES/series" | head -n 1)

if [ -n "${KERNEL_SRC:-}" ]; then
	src=$(cd "$KERNEL_SRC" 2>/dev/null && pwd) ||
		die "KERNEL_SRC=$KERNEL_SRC: no such directory"
	[ -f "$src/Makefile" ] && [ -f "$src/mm/memory.c" ] ||
		die "KERNEL_SRC=$KERNEL_SRC: not a Linux source tree (no Makefile or mm/memory.c)"
	origin=$src
else
	[ -f "$DEBIAN_TARBALL" ] ||
		die "$DEBIAN_TARBALL not found: apt-get install linux-source-6.1, or set KERNEL_SRC=<6.1.y tree>"
	src=$BUILD/linux-source-6.1
	key=$(stat -c '%s %Y' "$DEBIAN_TARBALL")
	if ! stamp_ok "$BUILD/.forkpin-extracted" "$key"; then
		say "base: extracting $DEBIAN_TARBALL (once)"
		mkdir -p "$BUILD"
		rm -rf "$src" "$src.tmp"
		mkdir "$src.tmp"
		tar -xf "$DEBIAN_TARBALL" -C "$src.tmp" --strip-components=1 ||
			{ rm -rf "$src.tmp"; die "cannot extract $DEBIAN_TARBALL"; }
		mv "$src.tmp" "$src"
		echo "$key" >"$BUILD/.forkpin-extracted"
	fi
	origin="$DEBIAN_TARBALL ($(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo 'version unknown'))"
fi

version=$(kernel_version "$src")
case $version in
6.1.*) ;;
*) die "KERNEL_SRC=${KERNEL_SRC:-$src}: Linux ${version:-of unknown version}, but forkpin is a series for 6.1.y" ;;
esac

mkdir -p "$BUILD"
cat >"$BUILD/base.env" <<EOT
KERNEL_SRC=${KERNEL_SRC:-}
PRISTINE=$src
KVERSION=$version
EOT
say "base: Linux $version from $origin"
if [ -n "$series_base" ] && [ "$series_base" != "$version" ]; then
	say "base: note: the series is made against $series_base; trying it on $version"
fi
