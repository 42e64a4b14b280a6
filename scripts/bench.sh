#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench.sh - fork() latency on the base and the patched kernel, in
# one run, with the same config: tools/testing/selftests/mm/fork_bench in
# a guest of each kernel, then scripts/bench-report.py for the ratio table
# and the plot. A benchmark, not a test: nothing here asserts a time.
#
# BENCH_MB (default 256, sized for TCG; 1024 on real hardware),
# BENCH_RUNS (default 11, at least 10) timed forks per case and boot,
# BENCH_ROUNDS (default 3) boots of each kernel, alternating base and
# patched so that a slow spell of the host does not land on one kernel
# only, BENCH_CPUS (default 1) guest CPUs: on a small host an emulated
# CPU per host core keeps the numbers steadier. The medians are taken over
# all the samples of a kernel. BENCH_NO_PLOT=1: the table, no plot.
# Results in $BUILD/bench/.
set -eu
. "$(dirname "$0")/lib.sh"

mb=${BENCH_MB:-256} runs=${BENCH_RUNS:-11} rounds=${BENCH_ROUNDS:-3} cpus=${BENCH_CPUS:-1}
[[ $mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_MB=$mb: expected a size in MiB"
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 10 ]; then
	die "BENCH_RUNS=$runs: expected 10 or more (the median of at least 10 runs)"
fi
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS=$rounds: expected 1 or more"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "BENCH_CPUS=$cpus: expected 1 or more"
[ "${BENCH_NO_PLOT:-0}" = 1 ] || command -v gnuplot >/dev/null ||
	die "gnuplot not found: apt-get install gnuplot-nox (or BENCH_NO_PLOT=1: no plot)"

# The region, the child's copy of it (pinned case) and memcpy's two
# buffers at most, plus room for the kernel: 3x the size + 1 GiB.
need=$((3 * mb + 1024))
mem=${QEMU_MEM:-2G}
case $mem in *G) have=$((${mem%G} * 1024)) ;; *M) have=${mem%M} ;; *) have=0 ;; esac
[ "$have" -ge "$need" ] || mem=${need}M

out=$BUILD/bench
rm -rf "$out"
mkdir -p "$out"
for flavor in base patched; do
	dir=$(flavor_dir "$flavor")
	[ -x "$dir/selftests/fork_bench" ] ||
		die "no fork_bench built for $flavor (run: make bench, or make selftests FLAVOR=$flavor)"
	INITRAMFS_DIR=$out/$flavor TESTS=fork_bench TEST_TIMEOUT=${BOOT_TIMEOUT:-1200} \
		"$SCRIPTS/initramfs.sh" "$flavor"
done
for ((round = 1; round <= rounds; round++)); do
	for flavor in base patched; do
		say "bench $flavor, round $round/$rounds: ${mb} MiB, $runs forks per case, $cpus CPU(s), $mem"
		INITRAMFS_DIR=$out/$flavor RUN=$out/$flavor/run-$round HUGEPAGES=0 \
			QEMU_MEM=$mem QEMU_CPUS=$cpus \
			APPEND="forkpin.bench_mb=$mb forkpin.bench_runs=$runs ${APPEND:-}" \
			"$SCRIPTS/boot.sh" "$flavor"
	done
done
exec "$SCRIPTS/bench-report.py" "$out"
