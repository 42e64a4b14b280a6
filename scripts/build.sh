#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/build.sh FLAVOR - build bzImage and the uapi headers of FLAVOR.
#
# Out of tree (O=$BUILD/FLAVOR/obj), incremental, through ccache (unless
# CCACHE=0; see kernel_cc in lib.sh). The cache lives outside the clone
# ($CCACHE_DIR, default ~/.cache/forkpin/ccache) and CCACHE_BASEDIR=$BUILD
# makes its keys independent of where the clone is, so base and patched
# builds, fresh clones and CI all share it.
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
src=$dir/src obj=$dir/obj
[ -f "$obj/.config" ] || die "no .config in $obj (run: make config FLAVOR=$flavor)"

kernel_cc "$BUILD"
[ "$cc" = gcc ] || ccache -z >/dev/null	# for the hit count below

say "build $flavor: Linux $(cat "$dir/kversion")$(flavor_localversion "$flavor"), make -j$JOBS, CC=\"$cc\""
run_with_progress "build $flavor" "$dir/build.log" \
	make -C "$src" O="$obj" -j"$JOBS" CC="$cc" \
	LOCALVERSION="$(flavor_localversion "$flavor")" \
	KBUILD_BUILD_USER=forkpin KBUILD_BUILD_HOST=forkpin \
	bzImage headers_install
[ "$cc" = gcc ] || say "build $flavor: ccache: $(ccache -s 2>/dev/null | awk '/^ *Hits:/ { print "hits " $2 "/" $4; exit }')"
grep -q '^CONFIG_GUP_TEST=y' "$obj/.config" || die "build $flavor: .config lost CONFIG_GUP_TEST"
