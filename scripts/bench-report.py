#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/bench-report.py DIR - the fork() latency table and plot of a
make bench run: DIR/{base,patched}/run-N/ hold each boot's results.tap
(fork_bench's "bench ..." lines), console.log and status. The medians are
over all the samples of a kernel, from all its boots.

Prints the medians and the patched/base ratios, writes DIR/bench.txt (the
table), DIR/bench.dat and DIR/bench.png (gnuplot). Reports, never asserts
a time: the exit status is non-zero only if a run is missing or broken,
or a kernel splat is on a console. BENCH_NO_PLOT=1: no plot (and no
gnuplot needed), the table only."""
from collections import namedtuple
import glob
import os
import re
from statistics import median
import subprocess
import sys

from verdict import parse_console

FLAVORS = ("base", "patched")
CASES = [
    # case, label, target ratio (reported, never asserted)
    ("order0", "order-0 pages", "<= 1.00"),
    ("thp-pmd", "PMD-mapped THP", "<= 1.00"),
    ("thp-pte", "PTE-mapped THP", "<= 0.70"),
    ("pinned", "io_uring-pinned (early COW)", ""),
    ("memcpy", "memcpy, floor of the pinned case", ""),
    # Not fork(): block direct I/O pins its pages on patched (0034).
    ("odirect-4k", "O_DIRECT read 4 KiB x1024, brd", "<= 1.05"),
    ("odirect-1m", "O_DIRECT read 1 MiB x16, brd", "<= 1.05"),
]
LINE = re.compile(r"^# bench (\S+) samples_us=([\d,]+)$")
SKIP = re.compile(r"^# bench (\S+) skip (.*)")
SIZE = re.compile(r"^# bench size_mb=(\d+) runs=(\d+)")


def die(msg):
    print(f"forkpin: error: {msg}", file=sys.stderr)
    sys.exit(2)


# All boots of one kernel: samples {case: [us]}, skips {case: why},
# size (MiB, runs) or None, accels {accel}, splats [(where, line)],
# boots (how many), per_boot [{case: median of that boot}].
Flavor = namedtuple("Flavor", "samples skips size accels splats boots per_boot")


def load(flavor_dir):
    """Flavor of flavor_dir's run-*/."""
    res, skips, size, accels, splats, per_boot = {}, {}, None, set(), [], []
    boots = sorted(glob.glob(os.path.join(flavor_dir, "run-*")))
    if not boots:
        die(f"no {flavor_dir}/run-*: the bench guests did not run (make bench)")
    for run in boots:
        tap = os.path.join(run, "results.tap")
        try:
            lines = open(tap, errors="replace").read().splitlines()
        except OSError:
            die(f"no {tap}: the bench guest did not run")
        per_boot.append({})
        for line in lines:
            m = LINE.match(line)
            if m:
                v = [int(x) for x in m.group(2).split(",")]
                res.setdefault(m.group(1), []).extend(v)
                per_boot[-1][m.group(1)] = median(v)
            m = SKIP.match(line)
            if m:
                skips[m.group(1)] = m.group(2)
            m = SIZE.match(line)
            if m:
                size = (int(m.group(1)), int(m.group(2)))
        try:
            status = open(os.path.join(run, "status")).read()
            accels.add(re.search(r"accel=(\S+)", status).group(1))
        except (OSError, AttributeError):
            accels.add("?")
        splats += [(f"{os.path.basename(run)}: {w}", line)
                   for w, line in parse_console(os.path.join(run, "console.log"))]
    return Flavor(res, skips, size, accels, splats, len(boots), per_boot)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    runs = {fl: load(os.path.join(out, fl)) for fl in FLAVORS}
    problems = []
    for fl in FLAVORS:
        for where, line in runs[fl].splats:
            problems.append(f"{fl}: kernel splat during {where}: {line}")
        if runs[fl].size is None:
            problems.append(f"{fl}: fork_bench printed nothing (see {out}/{fl}/run-*/results.tap)")
    size = runs["patched"].size or runs["base"].size or (0, 0)
    accel = "/".join(sorted(runs["base"].accels | runs["patched"].accels))
    boots = runs["base"].boots

    rows = []
    title = (f"fork() latency, {size[0]} MiB, median of {boots} boots x {size[1]} runs, "
             f"{accel.upper()} guest (child exit not timed)")
    table = [title, "",
             f"{'case':<34} {'base ms':>10} {'patched ms':>11} {'patched/base':>13}"
             f"  {'per round':>11}  target"]
    for case, label, target in CASES:
        b, p = runs["base"].samples.get(case), runs["patched"].samples.get(case)
        if not b or not p:
            why = runs["patched"].skips.get(case) or runs["base"].skips.get(case) or "no result"
            table.append(f"{label:<34} {'-':>10} {'-':>11} {'-':>13}  skipped: {why}")
            problems.append(f"{case}: {why}")
            continue
        bm, pm = median(b), median(p)
        ratio = pm / bm if bm else float("nan")
        rows.append((case, label, bm / 1000, pm / 1000, ratio))
        # The same ratio per round (base boot k vs patched boot k): the
        # spread shows how far the emulator's noise goes.
        per = [pb[case] / bb[case] for bb, pb in zip(runs["base"].per_boot, runs["patched"].per_boot)
               if case in bb and case in pb and bb[case]]
        spread = f"{min(per):.2f}..{max(per):.2f}" if per else "-"
        table.append(f"{label:<34} {bm / 1000:>10.2f} {pm / 1000:>11.2f} "
                     f"{ratio:>13.2f}  {spread:>11}  {target}")
    table.append("")
    table.append("medians over all samples of a kernel; 'per round' is the range of the")
    table.append("ratios of each base/patched pair of boots; targets are reported, not")
    table.append("asserted; min/max per sample in bench.dat")
    text = "\n".join(table)
    print(text)
    with open(os.path.join(out, "bench.txt"), "w") as f:
        f.write(text + "\n")

    dat = os.path.join(out, "bench.dat")
    with open(dat, "w") as f:
        f.write("# case base_ms patched_ms ratio base_min base_max patched_min patched_max\n")
        for case, label, b, p, ratio in rows:
            bb, pp = runs["base"].samples[case], runs["patched"].samples[case]
            f.write(f"{case} {b:.3f} {p:.3f} {ratio:.3f} {min(bb) / 1000:.3f} "
                    f"{max(bb) / 1000:.3f} {min(pp) / 1000:.3f} {max(pp) / 1000:.3f}\n")
    png = os.path.join(out, "bench.png")
    script = f"""
set terminal pngcairo size 1100,480 noenhanced font ",10"
set output '{png}'
set multiplot layout 1,2 title '{title}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -20
set grid ytics
set logscale y
set ylabel 'median fork() latency, ms (log)'
set title 'median latency'
plot '{dat}' using 2:xtic(1) title 'base', '' using 3 title 'patched'
unset logscale y
set ylabel 'patched / base'
set title 'ratio (lower is better)'
set yrange [0:*]
plot '{dat}' using 4:xtic(1) title 'patched/base' lc rgb '#4477aa', \\
     1.0 title '1.00' lw 2 lc rgb '#999999', 0.7 title '0.70' dt 2 lc rgb '#cc6677'
unset multiplot
"""
    if rows and os.environ.get("BENCH_NO_PLOT") != "1":
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True)
            print(f"\nplot: {png}\ntable: {os.path.join(out, 'bench.txt')}, data: {dat}")
        except (OSError, subprocess.CalledProcessError) as e:
            problems.append(f"gnuplot failed ({e}): apt-get install gnuplot-nox")
    for p in problems:
        print(f"bench: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
