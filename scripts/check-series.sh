#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/check-series.sh - every prefix of the series builds.
#
# For each prefix 1..k of patches/series, apply it to a scratch copy of the
# base tree (scripts/apply.sh, so only what changes is rebuilt) and build,
# incrementally and through ccache, what the series touches: mm/,
# kernel/fork.o and fs/proc/ (where the rmap, GUP and page-table code and
# its users live), plus the object of every other .c file a patch touches.
# The whole series is built in full by the patched flavor of make check.
# Needs the patched flavor built (its config and objects are the start).
set -eu
. "$(dirname "$0")/lib.sh"

main_build=$BUILD
[ -f "$main_build/patched/obj/.config" ] || die "check-series: build the patched kernel first (make build)"
base_env
mapfile -t patches < <(series_patches patched)
scratch=$main_build/check-series
mkdir -p "$scratch/patched"
cp "$main_build/base.env" "$scratch/base.env"
if [ ! -f "$scratch/patched/obj/.config" ]; then
	say "check-series: copying the patched build tree as a starting point"
	rm -rf "$scratch/patched/obj"
	cp -a "$main_build/patched/obj" "$scratch/patched/obj"
fi

cc=gcc
command -v ccache >/dev/null && cc="ccache gcc"
export CCACHE_BASEDIR=$scratch
results=()
for ((k = 1; k <= ${#patches[@]}; k++)); do
	p=${patches[k - 1]}
	pdir=$scratch/patches-$k
	rm -rf "$pdir"
	mkdir -p "$pdir"
	{ echo "# == fixes and features =="; printf '%s\n' "${patches[@]:0:k}"; } >"$pdir/series"
	for q in "${patches[@]:0:k}"; do ln -s "$PATCHES/$q" "$pdir/$q"; done
	PATCHES=$pdir BUILD=$scratch "$SCRIPTS/apply.sh" patched >/dev/null 2>"$scratch/apply.log" ||
		{ cat "$scratch/apply.log" >&2; die "check-series: prefix $k ($p) does not apply"; }
	objs="mm/ kernel/fork.o fs/proc/"
	for c in $(sed -n 's|^+++ b/\(.*\)\.c$|\1.o|p' "$PATCHES/$p"); do
		case $c in mm/*|fs/proc/*) ;; *) objs+=" $c" ;; esac
	done
	start=$SECONDS
	if ! make -C "$scratch/patched/src" O="$scratch/patched/obj" -j"$JOBS" CC="$cc" \
		$objs >"$scratch/build-$k.log" 2>&1; then
		tail -n 20 "$scratch/build-$k.log" >&2
		die "check-series: the series up to $p does not build (log: $scratch/build-$k.log)"
	fi
	warn=$(grep -c 'warning:' "$scratch/build-$k.log" || true)
	[ "$warn" = 0 ] || { grep 'warning:' "$scratch/build-$k.log" >&2; die "check-series: warnings with the series up to $p"; }
	results+=("$(printf '%2d  %-75s builds (%s)' "$k" "$p" "$(elapsed $((SECONDS - start)))")")
	say "check-series: 1..$k ($p): builds"
done
printf '%s\n' "prefix  patch" "${results[@]}"
say "check-series: all ${#patches[@]} prefixes build"
