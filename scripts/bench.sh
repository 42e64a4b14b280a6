#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench.sh - fork(), exit and unmap latency on the base and the
# patched kernel, in one run, with the same config:
# tools/testing/selftests/mm/fork_bench in a guest of each kernel, then
# scripts/bench-report.py for the ratio table and the plot. A benchmark,
# not a test: nothing here asserts a time.
#
# scripts/bench.sh config FLAVOR (bench-base or bench-patched): the
# production config, before make bench builds those kernels. FLAVOR's
# src is a link to base's or patched's applied tree (make apply), its
# .config is make check's (tinyconfig, base.config, the selftests'
# config, harness.config) with scripts/kconfig/bench.config applied last
# (no bug catchers), then $EXTRA_KCONFIG. After olddefconfig every line
# of every fragment is verified, except the lines a later fragment
# overrides: an option bench.config turns off must not be set at all.
#
# BENCH_CONFIG: prod (default) runs the bench-base and bench-patched
# kernels (make bench builds them); check runs make check's base and
# patched kernels (DEBUG_VM, lockdep, page_table_check, fault injection).
# BENCH_MB (default 256, sized for TCG; 1024 on real hardware),
# BENCH_RUNS (default 11, at least 10) timed samples per case and boot,
# BENCH_ROUNDS (default 5) boots of each kernel, alternating base and
# patched so that a slow spell of the host does not land on one kernel
# only, BENCH_CPUS (default 1) guest CPUs: on a small host an emulated
# CPU per host core keeps the numbers steadier. The medians are taken over
# all the samples of a kernel; the report shows how far the rounds and
# the boots spread. BENCH_NO_PLOT=1: the table, no plot.
#
# BENCH_CLOCK: wall (default) times the guest by the host's clock, as a
# user would see it (under TCG, with the emulator's noise); icount runs
# the guests with QEMU's -icount shift=0,sleep=off (TCG only), so that
# the guest's clock counts executed instructions, 1 ns each: the same
# in every run to a fraction of a percent, which attributes a
# difference of a few percent that wall time cannot (one round is then
# enough). Instructions are not time: a cache miss costs one.
# Results in $BUILD/bench/.
set -eu
. "$(dirname "$0")/lib.sh"

bench_config=${BENCH_CONFIG:-prod}
case $bench_config in
prod) flavors=(bench-base bench-patched) ;;
check) flavors=(base patched) ;;
*) die "BENCH_CONFIG=$bench_config: expected prod (make check's config without the bug catchers) or check (make check's kernels)" ;;
esac

# bench_kconfig FLAVOR: FLAVOR's tree (a link to base's or patched's) and
# its verified .config (config.sh adds bench.config for bench flavors).
bench_kconfig() {
	local flavor=$1 dir tree src
	case $flavor in bench-base|bench-patched) ;;
	*) die "bench.sh config: expected bench-base or bench-patched, not '$flavor'" ;;
	esac
	dir=$(flavor_dir "$flavor")
	tree=$(bench_tree "$flavor")
	if [ ! -f "$BUILD/$tree/src/Makefile" ] || [ ! -f "$BUILD/$tree/kversion" ]; then
		die "no kernel tree at $BUILD/$tree/src (run: make apply FLAVOR=$tree)"
	fi
	mkdir -p "$dir"
	src=$dir/src
	# Relative: the link survives apply.sh swapping the tree in, and a
	# moved BUILD.
	if [ "$(readlink "$src" 2>/dev/null)" != "../$tree/src" ]; then
		[ ! -e "$src" ] || [ -L "$src" ] ||
			say "config $flavor: replacing the private tree $src by a link to $tree's"
		rm -rf "$src"
		ln -s "../$tree/src" "$src"
	fi
	cp "$BUILD/$tree/kversion" "$dir/kversion"
	"$SCRIPTS/config.sh" "$flavor"
}

if [ "${1:-}" = config ]; then
	bench_kconfig "${2:-}"
	exit 0
fi
[ $# -eq 0 ] || die "bench.sh: unknown arguments '$*' (expected none, or: config bench-base|bench-patched)"

mb=${BENCH_MB:-256} runs=${BENCH_RUNS:-11} rounds=${BENCH_ROUNDS:-5} cpus=${BENCH_CPUS:-1}
clock=${BENCH_CLOCK:-wall} icount=
case $clock in
wall) ;;
icount) icount=shift=0,sleep=off ;;
*) die "BENCH_CLOCK=$clock: expected wall (the host's clock) or icount (executed instructions)" ;;
esac
[[ $mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_MB=$mb: expected a size in MiB"
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 10 ]; then
	die "BENCH_RUNS=$runs: expected 10 or more (the median of at least 10 runs)"
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS=$rounds: expected 1 or more"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "BENCH_CPUS=$cpus: expected 1 or more"
[ "${BENCH_NO_PLOT:-0}" = 1 ] || command -v gnuplot >/dev/null ||
	die "gnuplot not found: apt-get install gnuplot-nox (or BENCH_NO_PLOT=1: no plot)"

# The region, the child's copy of it (pinned cases) and memcpy's two
# buffers at most, plus room for the kernel: 3x the size + 1 GiB.
need=$((3 * mb + 1024))
mem=${QEMU_MEM:-2G}
case $mem in *G) have=$((${mem%G} * 1024)) ;; *M) have=${mem%M} ;; *) have=0 ;; esac
[ "$have" -ge "$need" ] || mem=${need}M

for flavor in "${flavors[@]}"; do
	dir=$(flavor_dir "$flavor")
	[ -f "$dir/obj/arch/x86/boot/bzImage" ] ||
		die "no $flavor kernel built (run: make bench BENCH_CONFIG=$bench_config)"
	[ -x "$dir/selftests/fork_bench" ] ||
		die "no fork_bench built for $flavor (run: make bench BENCH_CONFIG=$bench_config, or make selftests FLAVOR=$flavor)"
done
out=$BUILD/bench
rm -rf "$out"
mkdir -p "$out"
# What the report says the kernels are: the config and each kernel's release.
{
	echo "config=$bench_config"
	echo "clock=$clock"
	echo "base=$(cat "$(flavor_dir "${flavors[0]}")/kversion")$(flavor_localversion "${flavors[0]}")"
	echo "patched=$(cat "$(flavor_dir "${flavors[1]}")/kversion")$(flavor_localversion "${flavors[1]}")"
} >"$out/config"
# $out/base and $out/patched, whichever config: what bench-report.py reads.
for flavor in "${flavors[@]}"; do
	INITRAMFS_DIR=$out/${flavor#bench-} TESTS=fork_bench TEST_TIMEOUT=${BOOT_TIMEOUT:-1200} \
		"$SCRIPTS/initramfs.sh" "$flavor"
done
for ((round = 1; round <= rounds; round++)); do
	for flavor in "${flavors[@]}"; do
		say "bench $flavor ($bench_config config, $clock clock), round $round/$rounds: ${mb} MiB, $runs samples per case, $cpus CPU(s), $mem"
		INITRAMFS_DIR=$out/${flavor#bench-} RUN=$out/${flavor#bench-}/run-$round HUGEPAGES=0 \
			QEMU_MEM=$mem QEMU_CPUS=$cpus QEMU_ICOUNT=$icount \
			APPEND="forkpin.bench_mb=$mb forkpin.bench_runs=$runs ${APPEND:-}" \
			"$SCRIPTS/boot.sh" "$flavor"
	done
done
exec "$SCRIPTS/bench-report.py" "$out"
