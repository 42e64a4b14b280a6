#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/verdict.py FLAVOR... - judge the runs and print the summary table.

Reads, for each FLAVOR (base, patched), $BUILD/FLAVOR/run/{results.tap,
console.log,status}, plus patches/expectations and, when present, the
harness checks in $BUILD/harness.tap. Prints one table - a row per test
case, a column per flavor - and exits 0 only if every case ended as
expected on every flavor and no console shows a splat other than the base
kernel's in a case declared to fail on base (see below).

Expectations: a case must pass on both kernels unless patches/expectations
says otherwise. A declared base bug ("fail pass") must fail on base - a
test that cannot fail proves nothing - and pass when patched.

Kernel splats: the guest marks the kernel log around each program
("forkpin: begin/end PROG") and the programs mark each case they start
("forkpin: case DESC"), so a console splat is attributed to the case
"PROG: DESC" it happened in - the name the table and the expectations use.
On base, a splat in a case declared to fail on base is part of that
declared bug and is listed; any other splat fails the run, and on patched
or the host every splat does, declared or not.
"""
import fnmatch
import json
import os
import re
import sys

BUILD = os.environ.get("BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build")
PATCHES = os.environ.get("PATCHES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "patches")

# Kernel reports that fail a run, whatever the TAP says.
SPLAT = re.compile(
    r"(BUG:|WARNING:|Oops|kernel BUG at|general protection fault|"
    r"Kernel panic|UBSAN:|KASAN:|KFENCE:|possible circular locking|"
    r"inconsistent lock state|INFO: task .* blocked for more than|"
    r"rcu: INFO: .*detected stalls|Unable to handle kernel|"
    r"Huh VM_FAULT_OOM leaked out to the #PF handler)")
MARK = re.compile(r"forkpin: (begin|end) (\S+)")
CASE = re.compile(r"forkpin: case (.*\S)")
RESULT = re.compile(r"^(not ok|ok) (\d+)\s*(.*)$")
STATUSES = ("pass", "fail", "skip", "xfail")


def parse_tap(path):
    """{prog: {"rc", "cases": {num: (status, desc, notes)}, "plan"}}"""
    progs, cur, notes = {}, None, []
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return progs
    for line in lines:
        m = re.match(r"^# forkpin-begin: (\S+)", line)
        if m:
            cur = progs.setdefault(m.group(1), {"rc": None, "cases": {}, "plan": None})
            notes = []
            continue
        m = re.match(r"^# forkpin-end: (\S+) rc=(\d+)", line)
        if m and cur is not None:
            cur["rc"] = int(m.group(2))
            cur = None
            continue
        if cur is None or not line.startswith("#"):
            continue
        inner = line[2:] if line.startswith("# ") else line[1:]
        m = re.match(r"^1\.\.(\d+)", inner)
        if m:
            cur["plan"] = int(m.group(1))
            continue
        m = RESULT.match(inner)
        if not m:
            if inner.startswith("# ") and not inner.startswith("# Totals"):
                notes.append(inner[2:])
                cur["tail"] = notes[-3:]
            continue
        ok, num, rest = m.group(1) == "ok", int(m.group(2)), m.group(3)
        desc, status = rest, "pass" if ok else "fail"
        d = re.match(r"^#\s*(SKIP|XFAIL|XPASS|error)\s*(.*)$", rest, re.I)
        if d:
            status = {"skip": "skip", "xfail": "xfail", "xpass": "xpass",
                      "error": "error"}[d.group(1).lower()]
            desc = d.group(2)
        else:
            d = re.match(r"^(.*?)\s+#\s*(SKIP|XFAIL|TODO)\b\s*(.*)$", rest, re.I)
            if d:
                desc = d.group(1)
                status = "skip" if d.group(2).upper() == "SKIP" else "xfail"
        cur["cases"][num] = (status, desc.strip(), notes[-3:])
        notes = []
        cur["tail"] = []
    return progs


def parse_console_cases(path):
    """[(test case, test or phase, splat line)]: the case is "PROG: DESC"
    from the last "forkpin: case DESC" marker in PROG, or None outside
    any case (boot, between tests, a program before its first marker)."""
    found, where, prog, case = [], "boot", None, None
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return found
    for line in lines:
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
            found.append((case, where, line.strip()))
    return found


def parse_console(path):
    """[(test case or test or phase, splat line)]"""
    return [(where, line) for _, where, line in parse_console_cases(path)]


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


def main():
    flavors = [f for f in sys.argv[1:] if f in ("base", "patched", "host")]
    if not flavors:
        sys.exit("usage: verdict.py base|patched|host [patched]")
    rules = load_expectations()
    runs, rows, order = {}, {}, []
    for fl in flavors:
        run = os.path.join(BUILD, fl, "run")
        status = ""
        try:
            status = open(os.path.join(run, "status")).read().strip()
        except OSError:
            status = "error=never booted"
        runs[fl] = {"status": status,
                    "splats": parse_console_cases(os.path.join(run, "console.log")),
                    "progs": parse_tap(os.path.join(run, "results.tap"))}

    # The programs that should have run: tests.list of each flavor.
    programs = []
    for fl in flavors:
        try:
            for line in open(os.path.join(BUILD, fl, "tests.list")):
                if line.split() and line.split()[0] not in programs:
                    programs.append(line.split()[0])
        except OSError:
            pass

    def row(key, name):
        if key not in rows:
            rows[key] = {"name": name, "res": {}}
            order.append(key)
        elif rows[key]["name"].endswith(")") and not name.endswith(")"):
            rows[key]["name"] = name  # prefer a description without a skip reason
        return rows[key]

    for prog in programs:
        for fl in flavors:
            p = runs[fl]["progs"].get(prog)
            if p is None:
                row((prog, 0), f"{prog}: (program)")["res"][fl] = ("error", "did not run: " + (runs[fl]["status"].partition("error=")[2] or "no result"))
                continue
            for num, (status, desc, notes) in sorted(p["cases"].items()):
                r = row((prog, num), f"{prog}: {desc}")
                r["res"][fl] = (status, " / ".join(notes))
            got = len(p["cases"])
            problem = None
            if p["rc"] is None:
                problem = "did not finish (kernel died?)"
                if p.get("tail"):
                    problem += ": " + " / ".join(p["tail"])
            elif p["rc"] == 137:
                problem = "killed by the per-test timeout"
            elif p["plan"] is not None and got < p["plan"]:
                problem = f"exit {p['rc']} after {got} of {p['plan']} cases"
            elif p["rc"] not in (0, 1, 4):
                problem = f"exit {p['rc']}"
            elif p["rc"] == 1 and not any(c[0] == "fail" for c in p["cases"].values()):
                problem = "exit 1 without a failing case"
            if problem:
                row((prog, 0), f"{prog}: (program)")["res"][fl] = ("error", problem)

    # Judge.
    failures, passed, skipped, xfailed = [], 0, 0, 0
    declared = {}
    table = []
    for key in order:
        r = rows[key]
        cells, ok_row = [], True
        for fl in flavors:
            # A program row exists only where something went wrong; a
            # flavor without an entry there had no problem.
            got, note = r["res"].get(fl, ("no error", "") if key[1] == 0 else ("missing", "no result"))
            exp, reason = expected(rules, r["name"], "patched" if fl == "host" else fl)
            if key[1] == 0:
                exp = "no error"
            good = got == exp
            cell = got.upper()
            if fl == "host":
                # The host kernel is whatever it is: a skip says why (in
                # its name), and a declared bug may be fixed there.
                if got == "skip":
                    cells.append(cell)
                    continue
                elif exp == "fail" and got == "pass":
                    good, exp = True, "pass"
            if not good:
                ok_row = False
                cell += "!"
                why = f"expected {exp}"
                if fl == "base" and exp == "fail" and got == "pass":
                    why = "declared base bug did not reproduce"
                failures.append(f"{fl}: {r['name']}: got {got}, {why}" + (f" ({note})" if note else ""))
            elif exp == "fail":
                # A declared bug showing as declared: an expected failure.
                cell = "XFAIL"
                declared.setdefault(reason or "declared in patches/expectations", set()).add(fl)
            elif reason and exp != "pass":
                cell += "*"
                declared.setdefault(reason, set()).add(fl)
            cells.append(cell)
        if not ok_row:
            pass
        elif all(c.startswith("SKIP") for c in cells):
            skipped += 1
        elif any(c == "XFAIL" for c in cells) and not any(c.startswith("PASS") for c in cells):
            xfailed += 1
        else:
            passed += 1
        table.append((cells, r["name"]))

    # Harness checks (make check): TAP written by scripts/check-harness.sh.
    htap = os.path.join(BUILD, "harness.tap")
    if flavors == ["base", "patched"] and os.path.exists(htap):
        for line in open(htap):
            m = RESULT.match(line.strip())
            if m:
                ok = m.group(1) == "ok"
                table.append(([("PASS" if ok else "FAIL!")] + [""] * (len(flavors) - 1), "harness: " + m.group(3)))
                passed += ok
                if not ok:
                    failures.append("harness: " + m.group(3))

    # Splats: on base, one in a case declared to fail there belongs to that
    # declared bug; every other splat fails the run.
    splat_fails = 0
    for fl in flavors:
        judged = runs[fl]["judged"] = [
            (where, line, fl == "base" and case is not None
             and expected(rules, case, "base")[0] == "fail")
            for case, where, line in runs[fl]["splats"]]
        bad = [(where, line) for where, line, declared_bug in judged if not declared_bug]
        if bad:
            splat_fails += 1
            for where, line in bad[:10]:
                failures.append(f"{fl}: kernel splat during {where}: {line}")
            if len(bad) > 10:
                failures.append(f"{fl}: ... {len(bad) - 10} more kernel splats (console.log)")

    # Print.
    kv = ""
    try:
        kv = open(os.path.join(BUILD, flavors[-1], "kversion")).read().strip()
    except OSError:
        pass
    out = []
    out.append("")
    out.append(f"forkpin results, Linux {kv}: " + ", ".join(
        f"{fl} [{runs[fl]['status']}]" for fl in flavors))
    w = 9
    out.append("  ".join(f"{fl:<{w}}" for fl in flavors) + "  test case")
    out.append("  ".join("-" * w for _ in flavors) + "  " + "-" * 60)
    for cells, name in table:
        out.append("  ".join(f"{c:<{w}}" for c in cells) + "  " + name)
    out.append("")
    for fl in flavors:
        s = runs[fl]["judged"]
        ndecl = sum(1 for _, _, d in s if d)
        line = f"kernel splats, {fl}: {len(s)}"
        if s and ndecl == len(s):
            line += " (all in cases declared to fail on base)"
        elif s:
            line += f" ({len(s) - ndecl} fail the run" + (f", {ndecl} in cases declared to fail on base" if ndecl else "") + ")"
        out.append(line)
        # One line per place: its first splat and how many more.
        groups = {}
        for where, l, d in s:
            groups.setdefault((where, d), []).append(l)
        for n, ((where, d), ls) in enumerate(groups.items()):
            if n == 8:
                out.append(f"    ... in {len(groups) - n} more places")
                break
            more = f" (+{len(ls) - 1} more)" if len(ls) > 1 else ""
            out.append(f"    during {where}{' [declared base bug]' if d else ''}: {ls[0]}{more}")
    if declared:
        out.append("XFAIL, * = as declared in patches/expectations:")
        for reason, fls in sorted(declared.items()):
            out.append(f"  {reason} ({', '.join(sorted(fls))})")
    if failures:
        out.append("")
        out.append("unexpected:")
        out.extend("  " + f for f in failures)
    out.append("")
    nfail = len(table) - passed - skipped - xfailed + splat_fails
    if xfailed:
        out.append(f"known bugs, failing as declared (XFAIL): {xfailed}")
    out.append(f"verdict: {passed} passed, {nfail} failed, {skipped} skipped")
    text = "\n".join(out)
    print(text)
    name = "summary-" + "-".join(flavors) + ".txt"
    with open(os.path.join(BUILD, name), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(BUILD, "results-" + "-".join(flavors) + ".json"), "w") as f:
        json.dump({"kernel": kv, "flavors": flavors, "rows": [{"name": n, "cells": c} for c, n in table],
                   "failures": failures, "status": {fl: runs[fl]["status"] for fl in flavors},
                   "splats": {fl: [{"during": w, "line": l, "declared_base_bug": d}
                                   for w, l, d in runs[fl]["judged"]] for fl in flavors}},
                  f, indent=1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
