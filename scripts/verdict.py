#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/verdict.py FLAVOR... - judge the runs and print the summary table.

Reads, for each FLAVOR (base, patched, host), $BUILD/FLAVOR/run/{results.tap,
console.log,status}, plus patches/expectations and, when present, the
harness checks in $BUILD/harness.tap. Prints one table - a row per test
case, a column per flavor - and exits 0 only if every case ended as
expected on every flavor and no console shows a splat other than the base
kernel's in a case declared to fail on base (see below).

Expectations: a case must pass on both kernels unless patches/expectations
says otherwise. A declared base bug ("fail pass") must fail on base - a
test that cannot fail proves nothing - and pass when patched. A case the
test itself reports as an expected failure (kselftest's XFAIL) must be
declared "xfail" there.

Kernel splats: a console splat is attributed to the case it happened in
(the markers below) - "PROG: DESC", the name the table and the
expectations use. On base, a splat in a case declared to fail on base is
part of that declared bug and is listed; any other splat fails the run,
and on patched or the host every splat does, declared or not.

Also a module, in three parts as kunit's kunit_parser / kunit.py: parse
(parse_tap, parse_console_cases, load_runs), judge (judge) and render
(render, write_results); bench-report.py imports it. And
"verdict.py check-run RUN PROG..." (check-series.sh): whether each PROG
passed in the run directory RUN and its console has no splat.
"""
from collections import namedtuple
from dataclasses import dataclass, field
import fnmatch
import json
import os
import re
import sys
from typing import Optional

BUILD = os.environ.get("BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build")
PATCHES = os.environ.get("PATCHES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "patches")

# The marker grammar: what scripts/run-tests.sh (the runner, in the guest
# and under run-host.sh) and the test programs write, and all that the
# parsers below, boot.sh's progress count and check-series.sh (through
# check-run) rely on.
#
# results.tap, the runner's TAP (the guest's ttyS1; run-host's file):
#   TAP version 13
#   # forkpin guest|host: <uname -r>, <n> cpus, <MemTotal>
#   # hugepages: <nr_hugepages>, swap: <device size>, ...
#   1..<programs in tests.list>
#   then per program PROG, i = 1, 2, ...:
#   # forkpin-begin: PROG
#   # <every line PROG printed, stdout and stderr, as it ran>
#   # forkpin-end: PROG rc=<exit status> seconds=<wall time>
#   ok <i> selftests: forkpin: PROG                      exit 0
#   ok <i> selftests: forkpin: PROG # SKIP               exit 4 (KSFT_SKIP)
#   not ok <i> selftests: forkpin: PROG # TIMEOUT <t>s   killed at its timeout (137)
#   not ok <i> selftests: forkpin: PROG # exit=<rc>      any other exit
#   and from guest-init.sh, last: "forkpin-guest-status: <0|1|2>" or
#   "forkpin-guest-setup-failed: <what>".
# A program's own output (kselftest.h), between its begin and end lines:
#   1..<cases>                       its plan
#   ok <n> <desc>                    pass
#   not ok <n> <desc>                fail
#   ok <n> # SKIP <desc (reason)>    skip (6.1's ksft_test_result_skip)
#   ok <n> # XFAIL <desc>            expected failure (ksft_test_result_xfail)
#   ok <n> <desc> # XFAIL <reason>   the same; "# SKIP" and "# TODO" likewise
#   # <note>                         kept: the last three before a result
#                                    explain it in the table's failures
# Kernel log (/dev/kmsg: console.log in the guest, dmesg under run-host):
#   forkpin: begin PROG              the runner, before PROG starts
#   forkpin: case DESC               PROG, before each case
#                                    (kmsg_mark_case() in mem_util.c)
#   forkpin: end PROG rc=<rc>        the runner, after PROG ended
#   forkpin: setup failed: <what>    guest-init.sh
# A splat after "case DESC" and before the next marker belongs to the case
# "PROG: DESC"; after "begin PROG" but before its first case marker, to
# PROG; outside any program, to "boot" or "between tests".
BEGIN_END = re.compile(r"^# forkpin-(begin|end): (\S+)(?: rc=(\d+))?")
MARK = re.compile(r"forkpin: (begin|end) (\S+)")
CASE = re.compile(r"forkpin: case (.*\S)")
RESULT = re.compile(r"^(not ok|ok) (\d+)\s*(.*)$")
# "# DIRECTIVE desc" (kselftest 6.1) or "desc # DIRECTIVE reason".
DIRECTIVE_FIRST = re.compile(r"^#\s*(SKIP|XFAIL|XPASS|error)\s*(.*)$", re.I)
DIRECTIVE_LAST = re.compile(r"^(.*?)\s+#\s*(SKIP|XFAIL|TODO)\b\s*(.*)$", re.I)
# Kernel reports that fail a run, whatever the TAP says (mem_util.c's
# kmsg_splat_since() uses the same patterns).
SPLAT = re.compile(
    r"(BUG:|WARNING:|Oops|kernel BUG at|general protection fault|"
    r"Kernel panic|UBSAN:|KASAN:|KFENCE:|possible circular locking|"
    r"inconsistent lock state|INFO: task .* blocked for more than|"
    r"rcu: INFO: .*detected stalls|Unable to handle kernel|"
    r"Huh VM_FAULT_OOM leaked out to the #PF handler|"
    # the debug flavor's kmemleak scan after the tests (guest-init.sh)
    r"kmemleak: \d+ new suspected memory leak)")
STATUSES = ("pass", "fail", "skip", "xfail")

# One case of a program: status (pass, fail, skip, xfail, xpass, error),
# its description, the notes printed before its result.
Case = namedtuple("Case", "status desc notes")
# A kernel splat: the case "PROG: DESC" it happened in (None outside any
# case), where (that case, a program or a phase), the log line.
Splat = namedtuple("Splat", "case where line")


@dataclass
class Program:
    """One program's run, from results.tap."""
    rc: Optional[int] = None     # None: no end marker (the kernel died?)
    plan: Optional[int] = None
    cases: dict = field(default_factory=dict)   # number -> Case
    tail: list = field(default_factory=list)    # notes after the last case


@dataclass
class Run:
    """One flavor's run directory."""
    status: str
    splats: list      # [Splat]
    progs: dict       # name -> Program
    judged: list = field(default_factory=list)  # [(where, line, declared)]


# --- parse -----------------------------------------------------------------

def read_lines(path):
    try:
        return open(path, errors="replace").read().splitlines()
    except OSError:
        return []


def parse_result(inner):
    """Case for a program's "ok N ..." / "not ok N ..." line, with its
    number; None for any other line."""
    m = RESULT.match(inner)
    if not m:
        return None
    ok, num, rest = m.group(1) == "ok", int(m.group(2)), m.group(3)
    desc, status = rest, "pass" if ok else "fail"
    d = DIRECTIVE_FIRST.match(rest)
    if d:
        status = d.group(1).lower()
        desc = d.group(2)
    else:
        d = DIRECTIVE_LAST.match(rest)
        if d:
            desc = d.group(1)
            status = "skip" if d.group(2).upper() == "SKIP" else "xfail"
    return num, Case(status, desc.strip(), [])


def parse_tap(path):
    """{prog: Program} from the runner's results.tap."""
    progs, cur, notes = {}, None, []
    for line in read_lines(path):
        m = BEGIN_END.match(line)
        if m and m.group(1) == "begin":
            cur = progs.setdefault(m.group(2), Program())
            notes = []
            continue
        if m and m.group(3) is not None and cur is not None:
            cur.rc = int(m.group(3))
            cur = None
            continue
        if cur is None or not line.startswith("#"):
            continue
        inner = line[2:] if line.startswith("# ") else line[1:]
        m = re.match(r"^1\.\.(\d+)", inner)
        if m:
            cur.plan = int(m.group(1))
            continue
        result = parse_result(inner)
        if not result:
            if inner.startswith("# ") and not inner.startswith("# Totals"):
                notes.append(inner[2:])
                cur.tail = notes[-3:]
            continue
        num, case = result
        cur.cases[num] = case._replace(notes=notes[-3:])
        notes = []
        cur.tail = []
    return progs


def parse_console_cases(path):
    """[Splat]: the case is "PROG: DESC" from the last "forkpin: case DESC"
    marker in PROG, or None outside any case (boot, between tests, a
    program before its first marker)."""
    found, where, prog, case = [], "boot", None, None
    for line in read_lines(path):
        m = MARK.search(line)
        if m:
            prog = m.group(2) if m.group(1) == "begin" else None
            where, case = prog or "between tests", None
            continue
        m = CASE.search(line)
        if m:
            if prog:
                where = case = f"{prog}: {m.group(1)}"
            continue
        if SPLAT.search(line):
            found.append(Splat(case, where, line.strip()))
    return found


def parse_console(path):
    """[(test case or test or phase, splat line)]"""
    return [(s.where, s.line) for s in parse_console_cases(path)]


def load_expectations():
    """[(glob, {"base": s, "patched": s}, reason)]"""
    rules = []
    path = os.path.join(PATCHES, "expectations")
    if not os.path.exists(path):
        return rules
    for n, line in enumerate(open(path), 1):
        line = line.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        body, _, reason = line.partition(" -- ")
        parts = body.split(None, 2)
        if len(parts) < 3 or parts[0] not in STATUSES or parts[1] not in STATUSES:
            sys.exit(f"forkpin: error: {path}:{n}: expected '<base> <patched> <case glob> -- reason', statuses {', '.join(STATUSES)}")
        rules.append((parts[2].strip(), {"base": parts[0], "patched": parts[1]},
                      reason.strip()))
    return rules


def expected(rules, name, flavor):
    for glob, exp, reason in rules:
        if fnmatch.fnmatchcase(name, glob):
            return exp[flavor], reason
    return "pass", ""


def load_run(run_dir):
    try:
        status = open(os.path.join(run_dir, "status")).read().strip()
    except OSError:
        status = "error=never booted"
    return Run(status, parse_console_cases(os.path.join(run_dir, "console.log")),
               parse_tap(os.path.join(run_dir, "results.tap")))


def load_runs(flavors):
    """{flavor: Run}, and the programs that should have run: each
    flavor's tests.list, in order."""
    runs = {fl: load_run(os.path.join(BUILD, fl, "run")) for fl in flavors}
    programs = []
    for fl in flavors:
        for line in read_lines(os.path.join(BUILD, fl, "tests.list")):
            if line.split() and line.split()[0] not in programs:
                programs.append(line.split()[0])
    return runs, programs


def program_problem(p):
    """Why a program's run is broken beyond its cases, or None."""
    got = len(p.cases)
    if p.rc is None:
        problem = "did not finish (kernel died?)"
        if p.tail:
            problem += ": " + " / ".join(p.tail)
        return problem
    if p.rc == 137:
        return "killed by the per-test timeout"
    if p.plan is not None and got < p.plan:
        return f"exit {p.rc} after {got} of {p.plan} cases"
    if p.rc not in (0, 1, 4):
        return f"exit {p.rc}"
    if p.rc == 1 and not any(c.status == "fail" for c in p.cases.values()):
        return "exit 1 without a failing case"
    return None


def collect_rows(flavors, runs, programs):
    """[(key, name, {flavor: (status, note)})], a row per case and one
    "(program)" row, key (prog, 0), per program with a problem."""
    rows, order = {}, []

    def row(key, name):
        if key not in rows:
            rows[key] = {"name": name, "res": {}}
            order.append(key)
        elif rows[key]["name"].endswith(")") and not name.endswith(")"):
            rows[key]["name"] = name  # prefer a description without a skip reason
        return rows[key]["res"]

    for prog in programs:
        for fl in flavors:
            p = runs[fl].progs.get(prog)
            if p is None:
                row((prog, 0), f"{prog}: (program)")[fl] = ("error", "did not run: " + (runs[fl].status.partition("error=")[2] or "no result"))
                continue
            for num, case in sorted(p.cases.items()):
                row((prog, num), f"{prog}: {case.desc}")[fl] = (case.status, " / ".join(case.notes))
            problem = program_problem(p)
            if problem:
                row((prog, 0), f"{prog}: (program)")[fl] = ("error", problem)
    return [(key, rows[key]["name"], rows[key]["res"]) for key in order]


def read_harness(flavors):
    """[(ok, description)] of $BUILD/harness.tap, for make check only."""
    if flavors != ["base", "patched"]:
        return []
    found = []
    for line in read_lines(os.path.join(BUILD, "harness.tap")):
        m = RESULT.match(line.strip())
        if m:
            found.append((m.group(1) == "ok", m.group(3)))
    return found


# --- judge -----------------------------------------------------------------

@dataclass
class Verdict:
    table: list = field(default_factory=list)     # [(cells, name)]
    failures: list = field(default_factory=list)  # one line each
    declared: dict = field(default_factory=dict)  # reason -> {flavor}
    passed: int = 0
    skipped: int = 0
    xfailed: int = 0
    splat_fails: int = 0

    @property
    def failed(self):
        return len(self.table) - self.passed - self.skipped - self.xfailed + self.splat_fails


def judge_cell(v, fl, key, name, res, rules):
    """(cell, good) of one flavor's result in one row."""
    # A program row exists only where something went wrong; a flavor
    # without an entry there had no problem.
    got, note = res.get(fl, ("no error", "") if key[1] == 0 else ("missing", "no result"))
    exp, reason = expected(rules, name, "patched" if fl == "host" else fl)
    if key[1] == 0:
        exp = "no error"
    good = got == exp
    cell = got.upper()
    if fl == "host":
        # The host kernel is whatever it is: a skip says why (in its
        # name), and a declared bug may be fixed there.
        if got == "skip":
            return cell, True
        if exp in ("fail", "xfail") and got == "pass":
            good, exp = True, "pass"
    if not good:
        why = f"expected {exp}"
        if fl == "base" and exp == "fail" and got == "pass":
            why = "declared base bug did not reproduce"
        v.failures.append(f"{fl}: {name}: got {got}, {why}" + (f" ({note})" if note else ""))
        return cell + "!", False
    if exp in ("fail", "xfail"):
        # A declared bug or limitation showing as declared: an expected failure.
        v.declared.setdefault(reason or "declared in patches/expectations", set()).add(fl)
        return "XFAIL", True
    if reason and exp != "pass":
        v.declared.setdefault(reason, set()).add(fl)
        return cell + "*", True
    return cell, True


def judge_splats(v, fl, run, rules):
    """Splats: on base, one in a case declared to fail there belongs to
    that declared bug; every other splat fails the run."""
    run.judged = [
        (s.where, s.line, fl == "base" and s.case is not None
         and expected(rules, s.case, "base")[0] == "fail")
        for s in run.splats]
    bad = [(where, line) for where, line, declared_bug in run.judged if not declared_bug]
    if bad:
        v.splat_fails += 1
        for where, line in bad[:10]:
            v.failures.append(f"{fl}: kernel splat during {where}: {line}")
        if len(bad) > 10:
            v.failures.append(f"{fl}: ... {len(bad) - 10} more kernel splats (console.log)")


def judge(flavors, runs, rows, rules, harness):
    """Verdict of the rows, the harness checks and the splats."""
    v = Verdict()
    for key, name, res in rows:
        cells, ok_row = [], True
        for fl in flavors:
            cell, good = judge_cell(v, fl, key, name, res, rules)
            cells.append(cell)
            ok_row = ok_row and good
        if not ok_row:
            pass
        elif all(c.startswith("SKIP") for c in cells):
            v.skipped += 1
        elif any(c == "XFAIL" for c in cells) and not any(c.startswith("PASS") for c in cells):
            v.xfailed += 1
        else:
            v.passed += 1
        v.table.append((cells, name))
    # Harness checks (make check): TAP written by scripts/check-harness.sh.
    for ok, desc in harness:
        v.table.append(([("PASS" if ok else "FAIL!")] + [""] * (len(flavors) - 1), "harness: " + desc))
        v.passed += ok
        if not ok:
            v.failures.append("harness: " + desc)
    for fl in flavors:
        judge_splats(v, fl, runs[fl], rules)
    return v


def judge_debug(v, run, programs):
    """The debug flavor (KASAN, kmemleak; the patched series): the same
    tests, judged by what its kernel says, not by the A/B table. Every
    program ran to its end (a KASAN report that kills a test or the kernel
    shows as a missing end marker or a broken program), the guest scanned
    for leaks after the tests, and there is no splat, kmemleak's included."""
    judge_splats(v, "debug", run, [])
    for prog in programs:
        p = run.progs.get(prog)
        problem = "did not run" if p is None else program_problem(p)
        if problem:
            v.failures.append(f"debug: {prog}: {problem}")
            v.splat_fails += 1
    if not any("forkpin: kmemleak scan done" in l for l in
               read_lines(os.path.join(BUILD, "debug", "run", "console.log"))):
        v.failures.append("debug: the guest did not scan for leaks after the tests "
                          "(no CONFIG_DEBUG_KMEMLEAK, or the guest died first)")
        v.splat_fails += 1


# --- render ----------------------------------------------------------------

def render_splats(fl, judged):
    """The splat lines of one flavor: a count, then one line per place
    with its first splat and how many more."""
    ndecl = sum(1 for _, _, d in judged if d)
    line = f"kernel splats, {fl}: {len(judged)}"
    if judged and ndecl == len(judged):
        line += " (all in cases declared to fail on base)"
    elif judged:
        line += f" ({len(judged) - ndecl} fail the run" + (f", {ndecl} in cases declared to fail on base" if ndecl else "") + ")"
    out = [line]
    groups = {}
    for where, l, d in judged:
        groups.setdefault((where, d), []).append(l)
    for n, ((where, d), ls) in enumerate(groups.items()):
        if n == 8:
            out.append(f"    ... in {len(groups) - n} more places")
            break
        more = f" (+{len(ls) - 1} more)" if len(ls) > 1 else ""
        out.append(f"    during {where}{' [declared base bug]' if d else ''}: {ls[0]}{more}")
    return out


def render(flavors, runs, v, kv, debug=None):
    """The summary: header, table, splats, declared bugs, failures, verdict."""
    w = 9
    out = ["", f"forkpin results, Linux {kv}: " + ", ".join(
        f"{fl} [{runs[fl].status}]" for fl in flavors)]
    out.append("  ".join(f"{fl:<{w}}" for fl in flavors) + "  test case")
    out.append("  ".join("-" * w for _ in flavors) + "  " + "-" * 60)
    for cells, name in v.table:
        out.append("  ".join(f"{c:<{w}}" for c in cells) + "  " + name)
    out.append("")
    for fl in flavors:
        out.extend(render_splats(fl, runs[fl].judged))
    if debug is not None:
        done = sum(1 for p in debug.progs.values() if p.rc is not None)
        out.append(f"debug kernel (KASAN, kmemleak) [{debug.status}]: {done} programs ran "
                   "to their end; judged by its console only")
        out.extend(render_splats("debug", debug.judged))
    if v.declared:
        out.append("XFAIL, * = as declared in patches/expectations:")
        for reason, fls in sorted(v.declared.items()):
            out.append(f"  {reason} ({', '.join(sorted(fls))})")
    if v.failures:
        out.append("")
        out.append("unexpected:")
        out.extend("  " + f for f in v.failures)
    out.append("")
    if v.xfailed:
        out.append(f"known bugs, failing as declared (XFAIL): {v.xfailed}")
    out.append(f"verdict: {v.passed} passed, {v.failed} failed, {v.skipped} skipped")
    return "\n".join(out)


def write_results(flavors, runs, v, kv, text):
    """$BUILD/summary-FLAVORS.txt (the text) and results-FLAVORS.json."""
    name = "-".join(flavors)
    with open(os.path.join(BUILD, f"summary-{name}.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(BUILD, f"results-{name}.json"), "w") as f:
        json.dump({"kernel": kv, "flavors": flavors, "rows": [{"name": n, "cells": c} for c, n in v.table],
                   "failures": v.failures, "status": {fl: runs[fl].status for fl in flavors},
                   "splats": {fl: [{"during": w, "line": l, "declared_base_bug": d}
                                   for w, l, d in runs[fl].judged] for fl in flavors}},
                  f, indent=1)


# --- commands --------------------------------------------------------------

def check_run(run_dir, names):
    """Problems of one run directory, a line each: a program of names that
    did not exit 0, a kernel splat anywhere on its console."""
    progs = parse_tap(os.path.join(run_dir, "results.tap"))
    problems = []
    for name in names:
        p = progs.get(name)
        if p is None or p.rc != 0:
            why = "did not run" if p is None else program_problem(p) or f"exit {p.rc}"
            failed = [c.desc for c in (p.cases.values() if p else []) if c.status == "fail"]
            problems.append(f"{name}: {why}" + (f"; failed: {' / '.join(failed)}" if failed else ""))
    problems += [f"kernel splat during {s.where}: {s.line}"
                 for s in parse_console_cases(os.path.join(run_dir, "console.log"))]
    return problems


def main(argv):
    if argv[:1] == ["check-run"] and len(argv) >= 3:
        problems = check_run(argv[1], argv[2:])
        print("\n".join(problems), end="\n" if problems else "")
        return 1 if problems else 0
    flavors = [f for f in argv if f in ("base", "patched", "host")]
    if not flavors:
        sys.exit("usage: verdict.py base|patched|host [patched] [debug]\n"
                 "       verdict.py check-run RUN_DIR PROG...")
    runs, programs = load_runs(flavors)
    rules = load_expectations()
    v = judge(flavors, runs, collect_rows(flavors, runs, programs), rules,
              read_harness(flavors))
    debug = None
    if "debug" in argv:
        debug = load_run(os.path.join(BUILD, "debug", "run"))
        _, debug_programs = load_runs(["debug"])
        judge_debug(v, debug, debug_programs)
    kv = ""
    try:
        kv = open(os.path.join(BUILD, flavors[-1], "kversion")).read().strip()
    except OSError:
        pass
    text = render(flavors, runs, v, kv, debug)
    print(text)
    write_results(flavors, runs, v, kv, text)
    return 1 if v.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
