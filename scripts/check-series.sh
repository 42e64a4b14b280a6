#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/check-series.sh - every prefix of the series builds.
#
# For each prefix 1..k of patches/series, apply it to a scratch copy of the
# base tree (scripts/apply.sh, so only what changes is rebuilt) and build,
# incrementally and through ccache, what the series touches: mm/,
# kernel/fork.o and fs/proc/ (where the rmap, GUP and page-table code and
# its users live), plus the object of every other .c file a patch touches.
# Every .c file a patch touches is also built on its own in a wider config
# (wide_config in lib.sh: the patched one plus what the harness kernel
# leaves out: DAMON, page_idle, uprobes, nouveau SVM), and
# a touched file that gives no object there fails the check: building a
# directory silently skips what the config disables.
# Then the whole series in full (bzImage) in the harness config without
# THP and without hugetlb (CHECK_SERIES_CONFIGS=0 skips these two); in the
# harness config itself it is built in full by the patched flavor.
# CHECK_SERIES_BOOT=1 boots every prefix too (see boot_prefix).
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

kernel_cc "$scratch"
results=()

# CHECK_SERIES_BOOT=1: also build each prefix's bzImage and boot it with
# the tests that must pass at every prefix (the R/O pin cases only pass
# from 0010 on): fork_batch and pin_fork_events, with the patched
# flavor's selftests. A failed test, a missing status or a kernel splat
# stops the check. Off by default: it costs a kernel link per prefix.
boot_tests="fork_batch pin_fork_events"
boot_prefix() {
	local k=$1 p=$2 run=$scratch/run-$1
	run_with_progress "check-series boot 1..$k: bzImage" "$scratch/bzimage-$k.log" \
		make -C "$scratch/patched/src" O="$scratch/patched/obj" -j"$JOBS" CC="$cc" bzImage
	cp "$main_build/patched/kversion" "$scratch/patched/kversion" 2>/dev/null || true
	INITRAMFS_DIR=$scratch/initramfs TESTS=$boot_tests "$SCRIPTS/initramfs.sh" patched >/dev/null
	BUILD=$scratch INITRAMFS_DIR=$scratch/initramfs RUN=$run "$SCRIPTS/boot.sh" patched >/dev/null ||
		die "check-series: the series up to $p does not boot (console: $run/console.log)"
	"$SCRIPTS/verdict.py" check-run "$run" $boot_tests >"$run/problems" ||
		{ cat "$run/problems" >&2; die "check-series: with the series up to $p: $(head -n 1 "$run/problems") (run: $run)"; }
}

wide=$scratch/config-wide

# Warnings, file and message without line numbers (patches move lines).
wnorm() { grep 'warning:' "$@" 2>/dev/null | sed -e 's|^[^ ]*/src/||' -e 's|^\([^: ]*\):[0-9]*:[0-9]*:|\1:|' | sort -u; }
# prefix_new_warnings LOG OBJS: 6.1 has warnings of its own in some files a
# patch touches (test_hmm.c's frame sizes). Compare with the base kernel's
# build log, and for OBJS the base tree built in the wide config: print
# what only the series has, fail if there is any.
prefix_new_warnings() {
	local log=$1 objs=$2 wbase=$scratch/config-wide-base new
	grep -q 'warning:' "$log" || return 0
	if [ -n "$objs" ] && [ -d "$main_build/base/src" ]; then
		mkdir -p "$wbase"
		cmp -s "$wide/.config" "$wbase/.config" || cp "$wide/.config" "$wbase/.config"
		for o in $objs; do rm -f "$wbase/$o"; done
		make -C "$main_build/base/src" O="$wbase" -j"$JOBS" CC="$cc" $objs \
			>"$scratch/build-wide-base.log" 2>&1 || true
	fi
	new=$(comm -23 <(wnorm "$log") <(wnorm "$main_build/base/build.log" "$scratch/build-wide-base.log"))
	[ -z "$new" ] && return 0
	printf '%s\n' "$new" >&2
	return 1
}

for ((k = 1; k <= ${#patches[@]}; k++)); do
	p=${patches[k - 1]}
	pdir=$scratch/patches-$k
	rm -rf "$pdir"
	mkdir -p "$pdir"
	{ echo "# == fixes and features =="; printf '%s\n' "${patches[@]:0:k}"; } >"$pdir/series"
	for q in "${patches[@]:0:k}"; do ln -s "$PATCHES/$q" "$pdir/$q"; done
	PATCHES=$pdir BUILD=$scratch "$SCRIPTS/apply.sh" patched >/dev/null 2>"$scratch/apply.log" ||
		{ cat "$scratch/apply.log" >&2; die "check-series: prefix $k ($p) does not apply"; }
	# The wide config needs a tree to run kconfig in: the first prefix's.
	[ "$k" -gt 1 ] || wide_config "$scratch/patched/src" "$wide" "$scratch/build-wide.log"
	objs="mm/ kernel/fork.o fs/proc/"
	touched=$(sed -n 's|^+++ b/\(.*\)\.c$|\1.o|p' "$PATCHES/$p")
	for c in $touched; do
		case $c in
		mm/*|fs/proc/*) ;;
		# built by the patched kernel: build it here too
		*) [ ! -f "$main_build/patched/obj/$c" ] || objs+=" $c" ;;
		esac
	done
	start=$SECONDS
	if ! make -C "$scratch/patched/src" O="$scratch/patched/obj" -j"$JOBS" CC="$cc" \
		$objs >"$scratch/build-$k.log" 2>&1; then
		tail -n 20 "$scratch/build-$k.log" >&2
		die "check-series: the series up to $p does not build (log: $scratch/build-$k.log)"
	fi
	if [ -n "$touched" ]; then
		for c in $touched; do rm -f "$wide/$c"; done
		make -C "$scratch/patched/src" O="$wide" -j"$JOBS" CC="$cc" $touched \
			>>"$scratch/build-$k.log" 2>&1 ||
			{ tail -n 20 "$scratch/build-$k.log" >&2; die "check-series: the series up to $p does not build in the wide config (log: $scratch/build-$k.log)"; }
		for c in $touched; do
			[ -f "$wide/$c" ] ||
				die "check-series: $p touches ${c%.o}.c, but no config here builds it (not even the wide one: $WIDE_OPTS)"
		done
	fi
	prefix_new_warnings "$scratch/build-$k.log" "$touched" ||
		die "check-series: the series up to $p adds the warnings above"
	if [ "${CHECK_SERIES_BOOT:-0}" = 1 ]; then
		boot_prefix "$k" "$p"
		results+=("$(printf '%2d  %-75s builds, boots, %s pass (%s)' "$k" "$p" "$boot_tests" "$(elapsed $((SECONDS - start)))")")
	else
		results+=("$(printf '%2d  %-75s builds (%s)' "$k" "$p" "$(elapsed $((SECONDS - start)))")")
	fi
	say "check-series: 1..$k ($p): builds"
done

# The whole series, built in full in configs that lack what the series
# has #ifdefs and stubs for: without THP (HPAGE_PMD_NR is a BUILD_BUG
# there) and without hugetlb. Each is the harness config minus that one
# feature, and the feature must really be gone after olddefconfig.
src=$scratch/patched/src

# new_warnings NAME OBJ: a config variant may hit warnings 6.1 has there
# already (frame sizes differ per config). Build the files that warned
# from the base tree in the same config: only warnings base lacks fail.
new_warnings() {
	local name=$1 vobj=$2 bobj=$scratch/config-$1-base files
	known=""
	grep -q 'warning:' "$scratch/build-$name.log" || return 0
	files=$(grep 'warning:' "$scratch/build-$name.log" | sed -n 's|^[^ ]*/src/\([^: ]*\)\.c:.*|\1.o|p' | sort -u)
	[ -d "$main_build/base/src" ] ||
		{ grep 'warning:' "$scratch/build-$name.log" >&2; die "check-series: warnings in the $name config, and no base tree to compare with (make apply FLAVOR=base)"; }
	mkdir -p "$bobj"
	cp "$vobj/.config" "$bobj/.config"
	make -C "$main_build/base/src" O="$bobj" olddefconfig >"$scratch/build-$name-base.log" 2>&1 &&
	make -C "$main_build/base/src" O="$bobj" -j"$JOBS" CC="$cc" $files \
		>>"$scratch/build-$name-base.log" 2>&1 ||
		{ tail -n 20 "$scratch/build-$name-base.log" >&2; die "check-series: cannot build $files from the base tree in the $name config"; }
	# Without line numbers: the series moves lines (test_hmm.c's 6.1
	# frame-size warnings are the same ones at other lines).
	if comm -23 <(wnorm "$scratch/build-$name.log") <(wnorm "$scratch/build-$name-base.log") | grep .; then
		die "check-series: the series adds the warnings above in the $name config"
	fi
	known=" ($(wnorm "$scratch/build-$name.log" | wc -l) warnings, as on base)"
}

variant() {	# NAME OPTION...: OPTIONs disabled, CONFIG_<check> must be unset
	local name=$1 vobj=$scratch/config-$1 start=$SECONDS o
	shift
	mkdir -p "$vobj"
	cp "$main_build/patched/obj/.config" "$vobj/.config.want"
	for o in "$@"; do
		"$src/scripts/config" --file "$vobj/.config.want" --disable "$o"
	done
	# Keep the old .config (and the objects) if nothing changed.
	cmp -s "$vobj/.config.want" "$vobj/.config.in" 2>/dev/null ||
		{ cp "$vobj/.config.want" "$vobj/.config"; cp "$vobj/.config.want" "$vobj/.config.in"; }
	make -C "$src" O="$vobj" olddefconfig >"$scratch/build-$name.log" 2>&1 ||
		{ tail -n 20 "$scratch/build-$name.log" >&2; die "check-series: kconfig failed for the $name config"; }
	for o in "$@"; do
		! grep -q "^CONFIG_$o=" "$vobj/.config" ||
			die "check-series: CONFIG_$o is still set in the $name config (selected by something else?)"
	done
	say "check-series: whole series, $name config: building bzImage"
	if ! run_with_progress "check-series $name" "$scratch/build-$name.log" \
		make -C "$src" O="$vobj" -j"$JOBS" CC="$cc" bzImage; then
		tail -n 20 "$scratch/build-$name.log" >&2
		die "check-series: the whole series does not build in the $name config (log: $scratch/build-$name.log)"
	fi
	new_warnings "$name" "$vobj"
	results+=("$(printf '%-6s %-75s builds (%s)' all "whole series, $name config (bzImage)$known" "$(elapsed $((SECONDS - start)))")")
}
if [ "${CHECK_SERIES_CONFIGS:-1}" != 0 ]; then
	variant no-thp TRANSPARENT_HUGEPAGE
	variant no-hugetlb HUGETLBFS HUGETLB_PAGE
	# No filesystem on a block device: no iomap, the block layer and
	# fs/direct-io.c on their own.
	variant no-blockfs EXT4_FS EXT2_FS FS_IOMAP
fi

printf '%s\n' "prefix  patch" "${results[@]}"
say "check-series: all ${#patches[@]} prefixes build; the whole series builds without THP, without hugetlb and without block filesystems"
