# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034
# Shared by every scripts/*.sh step: paths, logging, errors.
# Sourced, never run. Every variable can be set from the environment (the
# Makefile exports them); the defaults make each step usable alone.

FORKPIN=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS=$FORKPIN/scripts
BUILD=${BUILD:-$FORKPIN/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
PATCHES=${PATCHES:-$FORKPIN/patches}
SELFTESTS=$FORKPIN/tools/testing/selftests/mm
JOBS=${JOBS:-$(nproc)}
# The default base: Debian's linux-source-6.1 package.
DEBIAN_TARBALL=${DEBIAN_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/forkpin/ccache}

# One line on stderr: what happens now.
say() { printf '[forkpin] %s\n' "$*" >&2; }
# One line saying what went wrong and where, then exit non-zero.
die() { printf 'forkpin: error: %s\n' "$*" >&2; exit 1; }

# flavor_dir FLAVOR: the build directory of one kernel flavor.
#   base    = 6.1 + the "test support" section of patches/series
#   patched = 6.1 + the whole series
#   debug   = patched + scripts/kconfig/debug.config (KASAN, kmemleak):
#             the same tests, judged by kernel splats only
#   bench-base, bench-patched
#           = base and patched in make bench's production config
#             (scripts/kconfig/bench.config: no bug catchers), built from
#             base's and patched's applied trees (their src is a link, see
#             bench_tree) into objects of their own, so that make bench
#             never rebuilds make check's kernels
flavor_check() {
	case ${1:-} in
	base|patched|debug|bench-base|bench-patched) ;;
	*) die "unknown flavor '${1:-}' (expected base, patched or debug; bench-base, bench-patched for make bench)" ;;
	esac
}
flavor_dir() { flavor_check "$1"; echo "$BUILD/$1"; }
flavor_localversion() {
	case $1 in
	base) echo -base ;; debug) echo -forkpin-debug ;;
	bench-base) echo -base-bench ;; bench-patched) echo -forkpin-bench ;;
	*) echo -forkpin ;;
	esac
}
# bench_tree FLAVOR: the flavor whose applied tree FLAVOR builds (base for
# bench-base, patched for bench-patched; FLAVOR itself otherwise).
bench_tree() { flavor_check "$1"; echo "${1#bench-}"; }

# kernel_version DIR: "6.1.192" from a tree's top Makefile.
kernel_version() {
	awk -F' *= *' '
		$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 } $1 == "EXTRAVERSION" { e = $2 }
		$1 ~ /^NAME/ { exit }
		END { if (v != "") printf "%s.%s.%s%s\n", v, p, s, e }' "$1/Makefile"
}

# kernel_cc BASEDIR: the one choice of compiler for kernel builds, in
# $cc: "ccache gcc", or gcc with CCACHE=0 or without ccache. The cache
# lives in CCACHE_DIR, at most CCACHE_SIZE (default 8G); BASEDIR, the
# tree the build's paths start from, becomes CCACHE_BASEDIR, so that the
# keys do not depend on where the clone is.
kernel_cc() {
	cc=gcc
	if [ "${CCACHE:-1}" = 0 ] || ! command -v ccache >/dev/null; then
		return 0
	fi
	cc="ccache gcc"
	export CCACHE_BASEDIR=$1
	mkdir -p "$CCACHE_DIR"
	ccache -M "${CCACHE_SIZE:-8G}" >/dev/null
}

# elapsed SECONDS: "3m07s"
elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# run_with_progress LABEL LOG CMD...: run CMD with its output in LOG and a
# progress line every PROGRESS_EVERY seconds (compiled files and time).
# On failure, print the end of the log.
run_with_progress() {
	local label=$1 log=$2 start=$SECONDS pid rc n
	shift 2
	"$@" >"$log" 2>&1 &
	pid=$!
	while ! wait_timeout "$pid" "${PROGRESS_EVERY:-20}"; do
		n=$(grep -c -E '^  (CC|AS|LD|AR|HOSTCC)' "$log" 2>/dev/null)
		say "$label: ${n:-0} files built, $(elapsed $((SECONDS - start)))"
	done
	wait "$pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 30 "$log" >&2
		die "$label failed (exit $rc); full log: $log"
	fi
	say "$label: done in $(elapsed $((SECONDS - start)))"
}

# wait_timeout PID SECONDS: true once PID has exited, false after SECONDS.
wait_timeout() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.2
	done
	! kill -0 "$1" 2>/dev/null
}

# stamp_ok FILE CONTENT: true if FILE holds CONTENT (step is up to date).
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# series_patches FLAVOR: FLAVOR's patch file names, in series order. The
# series is split into sections by "# == title ==" lines; the "base"
# flavor (and bench-base) takes only the section whose title says "test
# support".
series_patches() {
	[ -f "$PATCHES/series" ] || die "no series file at $PATCHES/series"
	awk -v flavor="${1#bench-}" '
		/^# == / { section = tolower($0); next }
		/^[ \t]*(#|$)/ { next }
		flavor != "base" || section ~ /test support/ { print $1 }
	' "$PATCHES/series"
}

# base_env: load what scripts/base.sh found (PRISTINE, KVERSION), running
# it first if needed.
base_env() {
	if [ ! -f "$BUILD/base.env" ] || [ "${KERNEL_SRC:-}" != "$(sed -n 's/^KERNEL_SRC=//p' "$BUILD/base.env")" ]; then
		"$SCRIPTS/base.sh" || exit 1
	fi
	. "$BUILD/base.env"
}

# Each make we start is a top-level make: nothing of the caller's make
# (its variables, -j, MAKELEVEL) leaks into kernel or kselftest builds.
unset MAKEFLAGS MAKEOVERRIDES MFLAGS MAKELEVEL

# selftest_list DIR VAR: the file names in VAR (TEST_GEN_PROGS: the tests;
# TEST_GEN_FILES: built, not run) of the selftests Makefile in DIR, a copy
# of tools/testing/selftests/mm inside a kselftest tree.
selftest_list() {
	make -s -C "$1" -f - print-list LIST="$2" <<'MK' | tr ' ' '\n' | sed 's|.*/||' | grep .
include Makefile
print-list: ; @echo $($(LIST))
MK
}
selftest_programs() { selftest_list "$1" TEST_GEN_PROGS; }

# The "wide" config, for build-only checks of files the series touches but
# the harness kernel does not build: the patched config plus DAMON (paddr),
# page_idle, uprobes and nouveau SVM. A directory build skips disabled
# objects without a word, so check-series and check-w1 build those files
# here, and fail if one still gives no object.
WIDE_OPTS="DAMON DAMON_PADDR PAGE_IDLE_FLAG IDLE_PAGE_TRACKING FTRACE PERF_EVENTS
	UPROBES UPROBE_EVENTS DRM STAGING DRM_NOUVEAU DRM_NOUVEAU_SVM"
# wide_config SRC OBJ LOG: OBJ/.config = the patched flavor's config plus
# WIDE_OPTS, through olddefconfig in SRC, every option verified. OBJ keeps
# its objects when the config did not change.
wide_config() {
	local src=$1 obj=$2 log=$3 o
	mkdir -p "$obj"
	cp "$BUILD/patched/obj/.config" "$obj/.config.want"
	for o in $WIDE_OPTS; do
		"$src/scripts/config" --file "$obj/.config.want" --enable "$o"
	done
	cmp -s "$obj/.config.want" "$obj/.config.in" 2>/dev/null ||
		{ cp "$obj/.config.want" "$obj/.config"; cp "$obj/.config.want" "$obj/.config.in"; }
	make -C "$src" O="$obj" olddefconfig >"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "wide config in $obj: kconfig failed (log: $log)"; }
	for o in $WIDE_OPTS; do
		grep -q "^CONFIG_$o=y" "$obj/.config" ||
			die "wide config in $obj: CONFIG_$o=y does not hold after olddefconfig"
	done
}
