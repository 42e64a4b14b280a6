#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/check-w1.sh - the series adds no W=1 and no sparse warnings.
#
# Every .c file the series touches is compiled with W=1 and C=1 (sparse:
# __bitwise types such as vm_fault_t, address spaces, lock context) in
# the base and in the patched build tree; the patched file may not warn
# more than the base one (6.1 has warnings of its own). Files the harness
# config does not build (DAMON, page_idle, uprobes, nouveau SVM) are
# compiled in the wide config (lib.sh) instead, for both trees; a touched
# file that gives no object there either fails. Needs both trees built.
# Afterwards those files are rebuilt without W=1 by the next build.
set -eu
. "$(dirname "$0")/lib.sh"

for f in base patched; do
	[ -f "$BUILD/$f/obj/.config" ] || die "check-w1: $f is not built (run: make build FLAVOR=$f)"
done
files=$(cd "$PATCHES" && sed -n 's|^+++ b/\(.*\.c\)$|\1|p' $(series_patches patched) | sort -u)
command -v sparse >/dev/null || die "check-w1: sparse not found: apt-get install sparse"
kernel_cc "$BUILD"
bad=0
wide_ready=0
# set_where FILE.o: where=main if the harness config builds FILE.o (the
# patched build has its .cmd file), else where=wide (set up on first use).
set_where() {
	where=main
	[ ! -f "$BUILD/patched/obj/$(dirname "$1")/.$(basename "$1").cmd" ] || return 0
	where=wide
	[ $wide_ready = 0 ] || return 0
	say "check-w1: the wide config, for touched files the harness kernel does not build"
	wide_config "$BUILD/patched/src" "$BUILD/check-w1/wide-patched" "$BUILD/check-w1/wide-patched.log"
	wide_config "$BUILD/base/src" "$BUILD/check-w1/wide-base" "$BUILD/check-w1/wide-base.log"
	wide_ready=1
}
for c in $files; do
	o=${c%.c}.o
	declare -A warns=()
	declare -A dirs=()
	set_where "$o"
	for f in base patched; do
		if [ $where = main ]; then dirs[$f]=$BUILD/$f/obj; else dirs[$f]=$BUILD/check-w1/wide-$f; fi
		[ -f "$BUILD/$f/src/$c" ] || { warns[$f]=0; continue; }
		rm -f "${dirs[$f]}/$o"	# compile it now, with W=1
		warns[$f]=$(make -C "$BUILD/$f/src" O="${dirs[$f]}" W=1 C=1 CC="$cc" "$o" 2>&1 |
			grep -c 'warning:' || true)
		[ -f "${dirs[$f]}/$o" ] || die "check-w1: $c gave no object in ${dirs[$f]} ($f)"
	done
	if [ "${warns[patched]}" -gt "${warns[base]}" ]; then
		say "check-w1: $c: ${warns[patched]} W=1/sparse warnings patched, ${warns[base]} on base"
		rm -f "${dirs[patched]}/$o"
		make -C "$BUILD/patched/src" O="${dirs[patched]}" W=1 C=1 CC="$cc" "$o" 2>&1 | grep -A3 'warning:' >&2
		bad=1
	fi
	unset dirs
	unset warns
done
[ $bad = 0 ] || die "check-w1: the series adds W=1 or sparse warnings (above)"
say "check-w1: $(echo $files | wc -w) files the series touches: no new W=1 or sparse warnings"
