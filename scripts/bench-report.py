#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/bench-report.py DIR - the latency table and plot of a make bench
run: DIR/{base,patched}/run-N/ hold each boot's results.tap (fork_bench's
"bench ..." lines), console.log and status; DIR/config (bench.sh) names
the kernels' config. The medians are over all the samples of a kernel,
from all its boots.

Prints, per case, the medians, the patched/base ratio, the range of the
per-round ratios (boot k of base against boot k of patched) and how far
each kernel's per-boot medians spread; then the pinned fork() against its
memcpy() floor, per kernel. Writes DIR/bench.txt (the table), DIR/bench.dat
and DIR/bench.png (gnuplot). Reports, never asserts a time: the exit
status is non-zero only if a run or a case is missing or broken, or a
kernel splat is on a console. BENCH_NO_PLOT=1: no plot (and no gnuplot
needed), the table only. "bench-report.py --cases": the case names, one a
line."""
from collections import namedtuple
import glob
import os
import re
from statistics import median
import subprocess
import sys

from verdict import parse_console

FLAVORS = ("base", "patched")
# The table's sections: a title, then (case, label, target) rows. Targets
# are the issue's, reported and never asserted; "~1.00": the same within
# the noise (the per-round column).
KINDS = [
    ("order0", "order-0 pages", "~1.00"),
    ("thp-pmd", "PMD-mapped THP", "~1.00"),
    ("thp-pte", "PTE-mapped THP", ""),
    ("pinned", "io_uring-pinned", ""),
    ("shmem-thp", "shmem THP, MAP_SHARED", ""),
]
TARGETS = {
    "thp-pte": "<= 0.60",
    "thp-pte-cycle": "<= 0.60",
    "thp-pte-munmap": "<= 0.60",
    "pinned": "<= 1.3x memcpy",
}


def _section(op):
    suffix = f"-{op}" if op else ""
    # fork() copies the pinned pages for the child: say so where it is timed.
    return [(kind + suffix,
             label + (" (early COW)" if kind == "pinned" and op != "munmap" and op != "dontneed" else ""),
             TARGETS.get(kind + suffix, target))
            for kind, label, target in KINDS]


SECTIONS = [
    ("fork(): the call, in the parent (the child's exit not timed)",
     _section("") + [("memcpy", "memcpy, floor of the pinned case", "")]),
    ("fork() + the child's exit + waitpid(), as one (-cycle)", _section("cycle")),
    ("the child's exit alone, from 'go' to waitpid() (-exit)", _section("exit")),
    ("munmap() of the whole region (-munmap)", _section("munmap")),
    ("MADV_DONTNEED of the whole region (-dontneed)", _section("dontneed")),
    ("not fork(): block direct I/O pins its pages on patched (0034)", [
        ("odirect-4k", "O_DIRECT read 4 KiB x1024, brd", "<= 1.05"),
        ("odirect-1m", "O_DIRECT read 1 MiB x16, brd", "<= 1.05"),
    ]),
]
CASES = [row for _, rows in SECTIONS for row in rows]
# The pinned fork() against its floor, per kernel (a target of its own).
PINNED_FLOOR = 1.3
CONFIGS = {
    "prod": "production config (make check's without DEBUG_VM, lockdep, "
            "page_table_check, fault injection)",
    "check": "make check config (DEBUG_VM, lockdep, page_table_check, "
             "fault injection)",
}
# BENCH_CLOCK=icount: the figures are instructions, and the table says so.
ICOUNT_NOTE = ("clock: QEMU -icount shift=0: the guest's time counts executed "
               "instructions, 1 ms = 10^6 instructions (not time: a cache miss is one)")
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


def run_number(path):
    m = re.search(r"run-(\d+)$", path)
    return int(m.group(1)) if m else 0


def load(flavor_dir):
    """Flavor of flavor_dir's run-*/, in round order."""
    res, skips, size, accels, splats, per_boot = {}, {}, None, set(), [], []
    boots = sorted(glob.glob(os.path.join(flavor_dir, "run-*")), key=run_number)
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


def load_config(out):
    """{config, clock, base, patched} from DIR/config (bench.sh); {} if none."""
    conf = {}
    try:
        for line in open(os.path.join(out, "config")):
            key, _, val = line.strip().partition("=")
            if key:
                conf[key] = val
    except OSError:
        pass
    return conf


def boot_medians(fl, case):
    return [b[case] for b in fl.per_boot if case in b]


def spread(meds):
    """How far a kernel's per-boot medians spread: (max - min) / median."""
    if len(meds) < 2 or not median(meds):
        return None
    return (max(meds) - min(meds)) / median(meds)


def pct(x):
    return "-" if x is None else f"{100 * x:.0f}%"


def gp_string(s):
    """s as a gnuplot double-quoted string (escapes, a newline as \\n)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main():
    if sys.argv[1:] == ["--cases"]:
        print("\n".join(case for case, _, _ in CASES))
        return
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    runs = {fl: load(os.path.join(out, fl)) for fl in FLAVORS}
    conf = load_config(out)
    problems = []
    for fl in FLAVORS:
        for where, line in runs[fl].splats:
            problems.append(f"{fl}: kernel splat during {where}: {line}")
        if runs[fl].size is None:
            problems.append(f"{fl}: fork_bench printed nothing (see {out}/{fl}/run-*/results.tap)")
    if runs["base"].boots != runs["patched"].boots:
        problems.append(f"{runs['base'].boots} base boots but {runs['patched'].boots} patched boots")
    size = runs["patched"].size or runs["base"].size or (0, 0)
    accel = "/".join(sorted(runs["base"].accels | runs["patched"].accels))
    boots = runs["base"].boots
    config = conf.get("config", "?")
    icount = conf.get("clock") == "icount"
    kernels = (f"{conf['base']} vs {conf['patched']}"
               if conf.get("base") and conf.get("patched") else "base vs patched")

    title = (f"fork(), exit and unmap latency, {size[0]} MiB, median of {boots} boots "
             f"x {size[1]} runs, {accel.upper()} guest"
             + (", instructions (icount)" if icount else ""))
    table = [title,
             f"config: {CONFIGS.get(config, 'unknown (no ' + os.path.join(out, 'config') + ')')}",
             f"kernels: {kernels}"] + ([ICOUNT_NOTE] if icount else []) + ["",
             f"{'case':<34} {'base ms':>10} {'patched ms':>11} {'patched/base':>13}"
             f"  {'per round':>11}  {'boots b/p':>11}  target"]
    rows = []
    for section, cases in SECTIONS:
        table.append(f"-- {section}")
        for case, label, target in cases:
            b, p = runs["base"].samples.get(case), runs["patched"].samples.get(case)
            if not b or not p:
                why = runs["patched"].skips.get(case) or runs["base"].skips.get(case) or "no result"
                table.append(f"{label:<34} {'-':>10} {'-':>11} {'-':>13}  skipped: {why}")
                problems.append(f"{case}: {why}")
                continue
            bm, pm = median(b), median(p)
            ratio = pm / bm if bm else float("nan")
            # The same ratio per round (base boot k vs patched boot k): the
            # spread shows how far the emulator's noise goes.
            per = [pb[case] / bb[case]
                   for bb, pb in zip(runs["base"].per_boot, runs["patched"].per_boot)
                   if case in bb and case in pb and bb[case]]
            rounds = f"{min(per):.2f}..{max(per):.2f}" if per else "-"
            bmeds, pmeds = boot_medians(runs["base"], case), boot_medians(runs["patched"], case)
            bs, ps = spread(bmeds), spread(pmeds)
            rows.append((case, bm / 1000, pm / 1000, ratio, b, p,
                         min(per) if per else ratio, max(per) if per else ratio,
                         bmeds, pmeds, bs, ps))
            table.append(f"{label:<34} {bm / 1000:>10.2f} {pm / 1000:>11.2f} "
                         f"{ratio:>13.2f}  {rounds:>11}  {pct(bs) + '/' + pct(ps):>11}  {target}")
    table.append("")
    # pinned fork() / memcpy floor, per kernel.
    floor = []
    for fl in FLAVORS:
        pin, cpy = runs[fl].samples.get("pinned"), runs[fl].samples.get("memcpy")
        if pin and cpy and median(cpy):
            floor.append(f"{fl} {median(pin) / median(cpy):.2f}x")
    if floor:
        # Under icount rep movs counts once per iteration: the floor is a
        # wall-time goal.
        table.append(f"pinned fork() / memcpy: {', '.join(floor)} in instructions "
                     f"(the {PINNED_FLOOR}x floor is a goal in wall time: make bench "
                     f"BENCH_CLOCK=wall)" if icount else
                     f"pinned fork() / memcpy floor: {', '.join(floor)} "
                     f"(target <= {PINNED_FLOOR}x)")
        table.append("")
    table += [
        "medians over all samples of a kernel; 'per round': the range of the",
        "ratios of each base/patched pair of boots; 'boots b/p': how far each",
        "kernel's per-boot medians spread, (max - min) / median; targets are",
        "reported, not asserted; per-sample and per-boot min/max in bench.dat",
    ]
    text = "\n".join(table)
    print(text)
    with open(os.path.join(out, "bench.txt"), "w") as f:
        f.write(text + "\n")

    dat = os.path.join(out, "bench.dat")
    with open(dat, "w") as f:
        f.write("# case base_ms patched_ms ratio base_min base_max patched_min patched_max "
                "round_ratio_min round_ratio_max base_boot_min base_boot_max "
                "patched_boot_min patched_boot_max\n")
        for case, b, p, ratio, bb, pp, rmin, rmax, bmeds, pmeds, _, _ in rows:
            f.write(f"{case} {b:.3f} {p:.3f} {ratio:.3f} {min(bb) / 1000:.3f} "
                    f"{max(bb) / 1000:.3f} {min(pp) / 1000:.3f} {max(pp) / 1000:.3f} "
                    f"{rmin:.3f} {rmax:.3f} {min(bmeds) / 1000:.3f} {max(bmeds) / 1000:.3f} "
                    f"{min(pmeds) / 1000:.3f} {max(pmeds) / 1000:.3f}\n")
    png = os.path.join(out, "bench.png")
    # Two panels, every case on the x axis in table order: the ratio with
    # the per-round range as error bars, and both kernels' medians.
    script = f"""
set terminal pngcairo size 1500,900 noenhanced font ",9"
set output '{png}'
set multiplot layout 2,1 title {gp_string(title + chr(10) + CONFIGS.get(config, "config unknown"))}
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35
set rmargin 12
set grid ytics
set ylabel 'patched / base'
set title 'ratio of the medians, bars: range of the per-round ratios (lower is better)'
set yrange [0:*]
set style histogram errorbars gap 1 lw 1
plot '{dat}' using 4:9:10:xtic(1) title 'patched/base' lc rgb '#4477aa', \\
     1.0 title '1.00' lw 2 lc rgb '#999999', 0.6 title '0.60' dt 2 lc rgb '#cc6677'
set style histogram clustered gap 1
set logscale y
set yrange [*:*]
set ylabel 'median, ms (log)'
set title 'median latency'
plot '{dat}' using 2:xtic(1) title 'base', '' using 3 title 'patched'
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
