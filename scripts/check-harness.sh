#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/check-harness.sh - test the harness and the series themselves:
# the series applies every way a kernel developer applies it, every patch
# is a proper kernel patch, and bad input (a bad KERNEL_SRC, a corrupted
# patch, a missing package, a guest that panics or hangs) gets one clear
# error line, a non-zero exit and loses nothing.
#
# Writes TAP to $BUILD/harness.tap (read by verdict.py). The guest checks
# need the patched kernel and initramfs built (make check does that first).
set -u
. "$(dirname "$0")/lib.sh"

tap=$BUILD/harness.tap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
mkdir -p "$BUILD"
: >"$tap"

# check DESCRIPTION CMD...: CMD's success is the check's.
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok $n $desc" >>"$tap"
		say "harness: ok: $desc"
	else
		echo "not ok $n $desc" >>"$tap"
		failed=$((failed + 1))
		say "harness: FAIL: $desc"
		sed 's/^/    /' "$tmp/out" >&2
	fi
}

# fails_with PATTERN CMD...: CMD exits non-zero and its stderr has one
# "forkpin: error:" line, matching PATTERN.
fails_with() {
	local pat=$1 rc=0
	shift
	"$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
	cat "$tmp/stderr"
	[ $rc -ne 0 ] || { echo "exit status 0"; return 1; }
	[ "$(grep -c '^forkpin: error:' "$tmp/stderr")" = 1 ] || { echo "not exactly one error line"; return 1; }
	grep '^forkpin: error:' "$tmp/stderr" | grep -q -- "$pat" || { echo "error line does not match: $pat"; return 1; }
}

series_applies() { "$SCRIPTS/check-apply.sh"; }

# make bench's report on fake guest output: medians over all boots, the
# ratio, a splat fails it, an icount run is labelled; and too few runs or
# an unknown clock are refused up front.
bench_report_judges() {
	local d=$tmp/bench fl k v
	for fl in base patched; do
		for k in 1 2; do
			mkdir -p "$d/$fl/run-$k"
			v=100 && [ $fl = patched ] && v=50
			{
				echo "# bench size_mb=8 runs=10"
				echo "# bench thp-pte samples_us=$(seq -s, $v $v $((10 * v)))"
				echo "# bench order0 samples_us=$(seq -s, 10 10 100)"
			} >"$d/$fl/run-$k/results.tap"
			echo "accel=tcg guest-status=0" >"$d/$fl/run-$k/status"
			: >"$d/$fl/run-$k/console.log"
		done
	done
	BENCH_NO_PLOT=1 "$SCRIPTS/bench-report.py" "$d" >"$tmp/bench-report1" 2>&1 && { echo "skipped cases must fail the report"; return 1; }
	grep -q '^PTE-mapped THP .* 0\.50 ' "$tmp/bench-report1" || { cat "$tmp/bench-report1"; echo "no 0.50 ratio for thp-pte"; return 1; }
	grep -q '^order-0 pages .* 1\.00 ' "$tmp/bench-report1" || { cat "$tmp/bench-report1"; echo "no 1.00 ratio for order0"; return 1; }
	for fl in base patched; do
		for k in 1 2; do
			for c in $("$SCRIPTS/bench-report.py" --cases); do
				case $c in thp-pte|order0) continue ;; esac
				echo "# bench $c samples_us=$(seq -s, 10 10 100)" >>"$d/$fl/run-$k/results.tap"
			done
		done
	done
	BENCH_NO_PLOT=1 "$SCRIPTS/bench-report.py" "$d" >"$tmp/bench-report2" 2>&1 || { cat "$tmp/bench-report2"; echo "a complete run must pass"; return 1; }
	echo "[   12.3] WARNING: CPU: 0 PID: 1 at mm/memory.c:1000 copy_present_ptes" >"$d/patched/run-2/console.log"
	BENCH_NO_PLOT=1 "$SCRIPTS/bench-report.py" "$d" >"$tmp/bench-report3" 2>&1 && { echo "a splat must fail the report"; return 1; }
	grep -q 'kernel splat' "$tmp/bench-report3" || { cat "$tmp/bench-report3"; echo "the splat is not named"; return 1; }
	# An icount run says that its figures are instructions.
	: >"$d/patched/run-2/console.log"
	printf 'config=prod\nclock=icount\n' >"$d/config"
	BENCH_NO_PLOT=1 "$SCRIPTS/bench-report.py" "$d" >"$tmp/bench-report4" 2>&1 || { cat "$tmp/bench-report4"; echo "an icount run must pass"; return 1; }
	grep -q '^clock: QEMU -icount' "$tmp/bench-report4" || { cat "$tmp/bench-report4"; echo "the icount clock is not named"; return 1; }
	fails_with 'BENCH_RUNS=5' env BENCH_RUNS=5 "$SCRIPTS/bench.sh"
	fails_with 'BENCH_CLOCK=cycles' env BENCH_CLOCK=cycles "$SCRIPTS/bench.sh"
}

patches_are_kernel_patches() {
	local p cp ign pfx ok=0
	base_env
	cp=$PRISTINE/scripts/checkpatch.pl
	for p in $(series_patches patched); do
		# "mm/<file>: summary", or "<dir>/<file>: summary" for a file
		# outside mm/ (kernel/events/uprobes): a file the patch touches.
		pfx=$(sed -n 's/^Subject: \[PATCH\] \([a-z0-9_/.-]*\): .*/\1/p' "$PATCHES/$p")
		case $pfx in
		mm/*) ;;
		?*/*) grep -q "^+++ b/$pfx[./]" "$PATCHES/$p" || pfx= ;;
		*) pfx= ;;
		esac
		if [ -z "$pfx" ]; then
			echo "$p: Subject is not '[PATCH] mm/<file>: summary' (or <dir>/<file> of the file it changes outside mm/)"; ok=1
		fi
		grep -q '^Signed-off-by: ' "$PATCHES/$p" || { echo "$p: no Signed-off-by"; ok=1; }
		# A warning the patch notes justify: "checkpatch-ignore: TYPE,..."
		# below the "---" (git am drops it), with the reason next to it.
		ign=$(sed -n 's/^checkpatch-ignore: *//p' "$PATCHES/$p" | tr -d ' ')
		perl "$cp" --strict --no-tree -q ${ign:+--ignore "$ign"} "$PATCHES/$p" >"$tmp/cp" 2>&1 ||
			{ echo "$p: checkpatch --strict:"; cat "$tmp/cp"; ok=1; }
	done
	return $ok
}

bad_kernel_src() {
	fails_with 'KERNEL_SRC=/nonexistent' env KERNEL_SRC=/nonexistent BUILD="$tmp/b1" "$SCRIPTS/base.sh"
}

wrong_kernel_version() {
	mkdir -p "$tmp/linux-6.6/mm"
	printf 'VERSION = 6\nPATCHLEVEL = 6\nSUBLEVEL = 1\nEXTRAVERSION =\nNAME = x\n' >"$tmp/linux-6.6/Makefile"
	touch "$tmp/linux-6.6/mm/memory.c"
	fails_with 'Linux 6.6.1, but forkpin is a series for 6.1.y' env KERNEL_SRC="$tmp/linux-6.6" BUILD="$tmp/b2" "$SCRIPTS/base.sh"
}

corrupted_patch_applies_nothing() {
	local first b=$tmp/b3 p=$tmp/patches
	base_env
	first=$(series_patches patched | head -n 1)
	[ -n "$first" ] || return 0
	mkdir -p "$p" "$b"
	cp "$PATCHES"/series "$PATCHES"/*.patch "$p/"
	# Good series first: a working tree must survive the failed apply.
	printf 'PRISTINE=%s\nKVERSION=%s\nKERNEL_SRC=%s\n' "$PRISTINE" "$KVERSION" "${KERNEL_SRC:-}" >"$b/base.env"
	PATCHES=$p BUILD=$b "$SCRIPTS/apply.sh" patched || return 1
	local before; before=$(cat "$b/patched/.forkpin-apply")
	# Break the context of the first hunk of the first patch.
	awk '/^@@/ && !done { print; getline; sub(/[a-z]/, "X"); print; done = 1; next } { print }' \
		"$PATCHES/$first" >"$p/$first"
	fails_with "patch $first does not apply to Linux $KVERSION.*FAILED" \
		env PATCHES="$p" BUILD="$b" "$SCRIPTS/apply.sh" patched || return 1
	[ ! -e "$b/patched/src.new" ] || { echo "half-applied tree left at $b/patched/src.new"; return 1; }
	[ "$(cat "$b/patched/.forkpin-apply")" = "$before" ] || { echo "stamp changed"; return 1; }
	[ -z "$(find "$b/patched/src" -name '*.rej' | head -n 1)" ] || { echo "rejects left in the tree"; return 1; }
	grep -qx "$first" "$b/patched/src/.pc/applied-patches" || { echo "the good tree was lost"; return 1; }
}

missing_package_as_user() {
	mkdir -p "$tmp/bin"
	printf '#!/bin/sh\nexit 1\n' >"$tmp/bin/dpkg-query"
	printf '#!/bin/sh\necho 1000\n' >"$tmp/bin/id"
	chmod +x "$tmp/bin/dpkg-query" "$tmp/bin/id"
	local rc=0
	PATH=$tmp/bin:$PATH "$SCRIPTS/deps.sh" 2>"$tmp/err" || rc=$?
	cat "$tmp/err"
	[ $rc = 2 ] && grep -q '^forkpin: error: missing packages; as root run: apt-get install -y .*quilt' "$tmp/err"
}

guest_panic_is_reported() {
	fails_with 'boot patched: guest panicked' env INIT=/nonexistent-init RUN="$tmp/run-panic" \
		BOOT_TIMEOUT=300 "$SCRIPTS/boot.sh" patched || return 1
	grep -q 'last lines of' "$tmp/stderr" || { echo "no console tail shown"; return 1; }
}

guest_hang_is_killed() {
	# rdinit=/bin/busybox -- sleep: a guest that never reports.
	fails_with 'did not finish within 60s' env INIT=/bin/busybox APPEND="-- sleep 100000" \
		RUN="$tmp/run-hang" BOOT_TIMEOUT=60 "$SCRIPTS/boot.sh" patched
}

# fake_prog DIR NAME EXIT [LINE...]: a test program for run-tests.sh:
# prints the LINEs, appends DIR/NAME.klog (if there is one) to the kernel
# log ($KMSG) and exits EXIT, or with EXIT "hang" sleeps 5s.
fake_prog() {
	local f=$1/$2 end="exit $3"
	[ "$3" != hang ] || end="exec sleep 5"
	shift 3
	mkdir -p "${f%/*}"
	printf '%s\n' "$@" >"$f.out"
	printf '%s\n' "#!/bin/sh" "cat '$f.out'" \
		"[ ! -f '$f.klog' ] || cat '$f.klog' >>\"\$KMSG\"" "$end" >"$f"
	chmod +x "$f"
}

# fake_run DIR FLAVOR TAPLINE [KLOG]: a run of one program "demo" with
# one case, by the runner as the guest runs it, for testing verdict.py
# alone. KLOG: the kernel log lines the program writes (one or more,
# newline-separated: splats, case markers).
fake_run() {
	local d=$1/$2 rc=0
	mkdir -p "$d/run"
	echo "demo 60" >"$d/tests.list"
	case $3 in "not ok"*) rc=1 ;; esac
	fake_prog "$d/tests" demo $rc "TAP version 13" "1..1" "$3"
	[ -z "${4:-}" ] || printf '%s\n' "$4" >"$d/tests/demo.klog"
	KMSG=$d/run/console.log "$SCRIPTS/run-tests.sh" "$d/tests.list" "$d/tests" \
		>"$d/run/results.tap" || rc=$?
	echo "accel=tcg guest-status=$rc" >"$d/run/status"
}

# run_tests_writes SH: the runner under the shell SH (a busybox one too):
# the plan, each program's output between its begin and end lines, the
# ok / SKIP / exit / TIMEOUT lines, the kernel log markers and the status.
run_tests_writes() {
	local sh=$1 d=$tmp/runner$RANDOM rc=0 want
	mkdir -p "$d"
	fake_prog "$d/t" passes 0 "ok 1 the case"
	fake_prog "$d/t" skips 4 "ok 1 # SKIP the case (no gup_test)"
	fake_prog "$d/t" fails 1 "not ok 1 the case"
	fake_prog "$d/t" hangs hang "still here"
	echo "forkpin: case the case" >"$d/t/passes.klog"
	printf '%s\n' "passes 10" "skips 10" "" "fails 10" "hangs 1" >"$d/list"
	KMSG=$d/kmsg $sh "$SCRIPTS/run-tests.sh" "$d/list" "$d/t" host >"$d/tap" || rc=$?
	cat "$d/tap"
	[ $rc = 1 ] || { echo "runner exit $rc, wanted 1"; return 1; }
	want=("TAP version 13" "# forkpin host: $(uname -r), *" "# hugepages: *" "1..4"
		"# forkpin-begin: passes" "# ok 1 the case" "# forkpin-end: passes rc=0 seconds=*"
		"ok 1 selftests: forkpin: passes"
		"# forkpin-begin: skips" "# ok 1 # SKIP the case (no gup_test)"
		"# forkpin-end: skips rc=4 seconds=*" "ok 2 selftests: forkpin: skips # SKIP"
		"# forkpin-begin: fails" "# not ok 1 the case" "# forkpin-end: fails rc=1 seconds=*"
		"not ok 3 selftests: forkpin: fails # exit=1"
		"# forkpin-begin: hangs" "# still here" "# forkpin-end: hangs rc=137 seconds=*"
		"not ok 4 selftests: forkpin: hangs # TIMEOUT 1s")
	lines_in_order "$d/tap" "${want[@]}" || return 1
	lines_in_order "$d/kmsg" "forkpin: begin passes" "forkpin: case the case" \
		"forkpin: end passes rc=0" "forkpin: begin skips" "forkpin: end skips rc=4" \
		"forkpin: begin fails" "forkpin: end fails rc=1" "forkpin: begin hangs" \
		"forkpin: end hangs rc=137" || return 1
	printf '%s\n' "passes 10" "skips 10" >"$d/list"
	KMSG=$d/kmsg $sh "$SCRIPTS/run-tests.sh" "$d/list" "$d/t" >"$d/tap" ||
		{ echo "runner exit $?, wanted 0 (passes and skips only)"; return 1; }
}

# lines_in_order FILE PATTERN...: FILE has lines matching the glob
# PATTERNs, in that order (other lines between them allowed).
lines_in_order() {
	local f=$1 l
	shift
	while IFS= read -r l; do
		# shellcheck disable=SC2053
		[ $# -gt 0 ] && [[ $l == $1 ]] && shift
	done <"$f"
	[ $# = 0 ] || { echo "$f: no line '$1' where expected"; return 1; }
}

# The runner under sh, then as in the guest: busybox's sh and applets only.
runner_works() {
	local bb=${BUSYBOX:-/bin/busybox}
	run_tests_writes sh || return 1
	mkdir -p "$tmp/bb"
	"$bb" --install -s "$tmp/bb" || return 1
	PATH=$tmp/bb run_tests_writes "$tmp/bb/sh"
}

# verdict_says EXPECTATION WANT_RC PATTERN BASE PATCHED [BASE_KLOG [PATCHED_KLOG]]
verdict_says() {
	local d=$tmp/v$RANDOM rc=0
	mkdir -p "$d/patches"
	echo "$1" >"$d/patches/expectations"
	fake_run "$d" base "$4" "${6:-}"
	fake_run "$d" patched "$5" "${7:-}"
	BUILD=$d PATCHES=$d/patches "$SCRIPTS/verdict.py" base patched >"$d/out" 2>&1 || rc=$?
	cat "$d/out"
	[ "$rc" = "$2" ] || { echo "verdict exit $rc, wanted $2"; return 1; }
	grep -q -- "$3" "$d/out" || { echo "verdict output lacks: $3"; return 1; }
}

# verdict_debug RC PATTERN CONSOLE: base and patched pass "the case"; the
# debug flavor ran it too, and its kernel logged CONSOLE meanwhile.
verdict_debug() {
	local d=$tmp/v$RANDOM rc=0
	mkdir -p "$d/patches"
	: >"$d/patches/expectations"
	fake_run "$d" base "ok 1 the case"
	fake_run "$d" patched "ok 1 the case"
	fake_run "$d" debug "ok 1 the case" "$3"
	BUILD=$d PATCHES=$d/patches "$SCRIPTS/verdict.py" base patched debug >"$d/out" 2>&1 || rc=$?
	cat "$d/out"
	[ "$rc" = "$1" ] || { echo "verdict exit $rc, wanted $1"; return 1; }
	grep -q -- "$2" "$d/out" || { echo "verdict output lacks: $2"; return 1; }
}

verdict_judges() {
	local ok="ok 1 the case" bad="not ok 1 the case"
	local bug="fail pass demo: the case -- fixed by a patch"
	local warn="WARNING: CPU: 1 PID: 9 at include/linux/fs.h:509 hugetlb_split+0x9/0x90"
	local in_case="forkpin: case the case"$'\n'"$warn"
	verdict_says "" 0 "verdict: 1 passed, 0 failed" "$ok" "$ok" &&
	verdict_says "" 1 "patched: demo: the case: got fail" "$ok" "$bad" &&
	verdict_says "fail pass demo: the case -- fixed by a patch" 1 \
		"declared base bug did not reproduce" "$ok" "$ok" &&
	verdict_says "fail pass demo: the case -- fixed by a patch" 0 \
		"verdict: 1 passed, 0 failed" "$bad" "$ok" &&
	verdict_says "" 1 "kernel splat during demo: .*WARNING: CPU: 0" "$ok" "$ok" \
		"" "WARNING: CPU: 0 PID: 1 at mm/memory.c:1 x" &&
	verdict_says "" 1 "base: kernel splat during demo: .*BUG: Bad page state" "$ok" "$ok" \
		"BUG: Bad page state in process x" &&
	verdict_says "" 1 "patched: kernel splat during demo: .*Huh VM_FAULT_OOM leaked" "$ok" "$ok" \
		"" "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF" &&
	# Splats are the case's, by its "forkpin: case" marker: on base, one
	# in a case declared to fail there is that bug; any other fails.
	verdict_says "$bug" 0 "during demo: the case \[declared base bug\]: .*WARNING" \
		"$bad" "$ok" "$in_case" &&
	verdict_says "$bug" 0 "verdict: 1 passed, 0 failed" "$bad" "$ok" "$in_case" &&
	verdict_says "$bug" 1 "base: kernel splat during demo: .*WARNING" \
		"$bad" "$ok" "$warn" &&
	verdict_says "$bug" 1 "base: kernel splat during demo: another case: .*WARNING" \
		"$bad" "$ok" "forkpin: case another case"$'\n'"$warn" &&
	verdict_says "$bug" 1 "patched: kernel splat during demo: the case: .*WARNING" \
		"$bad" "$ok" "$in_case" "$in_case" &&
	verdict_says "" 1 "got skip, expected pass" "$ok" "ok 1 # SKIP the case (no gup_test)" &&
	# kselftest's XFAIL, both forms: an expected failure when declared
	# "xfail", a failure when not.
	verdict_says "xfail xfail demo: the case -- a known limitation" 0 \
		"^XFAIL  *XFAIL  *demo: the case\$" \
		"ok 1 the case # XFAIL a known limitation" "ok 1 # XFAIL the case" &&
	verdict_says "xfail xfail demo: the case -- a known limitation" 0 \
		"verdict: 0 passed, 0 failed, 0 skipped" "ok 1 # XFAIL the case" "ok 1 # XFAIL the case" &&
	verdict_says "" 1 "patched: demo: the case: got xfail, expected pass" \
		"$ok" "ok 1 the case # XFAIL a known limitation" &&
	verdict_says "xfail xfail demo: the case -- a known limitation" 1 \
		"base: demo: the case: got fail, expected xfail" "$bad" "ok 1 # XFAIL the case" &&
	# The debug kernel: judged by its console; the leak scan must have run.
	local scanned="forkpin: kmemleak scan done"
	verdict_debug 0 "verdict: 1 passed, 0 failed" "$scanned" &&
	verdict_debug 1 "debug: the guest did not scan for leaks" "" &&
	verdict_debug 1 "debug: kernel splat during demo: kmemleak: 2 new suspected" \
		"kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"$'\n'"$scanned" &&
	verdict_debug 1 "debug: kernel splat during demo: BUG: KASAN: use-after-free" \
		"BUG: KASAN: use-after-free in copy_page_range+0x1/0x2"$'\n'"$scanned"
}

tests_build_in_tree() {
	# A throwaway hard-link copy of the patched tree: kselftest's top
	# Makefile installs headers into the source tree itself.
	local t=$tmp/intree
	mkdir -p "$t"
	cp -al "$BUILD/patched/src/." "$t/" || return 1
	rm -rf "$t/tools/testing/selftests/forkpin-mm" "$t/.pc"
	cp -r "$SELFTESTS" "$t/tools/testing/selftests/forkpin-mm"
	env -u BUILD -u O make -C "$t/tools/testing/selftests" TARGETS=forkpin-mm \
		>"$tmp/intree.log" 2>&1 || { tail -n 20 "$tmp/intree.log"; return 1; }
	for p in $(cat "$BUILD/patched/selftests/.programs"); do
		[ -x "$t/tools/testing/selftests/forkpin-mm/$p" ] || { echo "$p not built in-tree"; return 1; }
	done
}

check "series applies with quilt, git am and patch -p1 alike" series_applies
check "every patch has a mm/<file> Subject, a Signed-off-by and is checkpatch --strict clean" patches_are_kernel_patches
check "KERNEL_SRC=/nonexistent: one error line, non-zero exit" bad_kernel_src
check "KERNEL_SRC of another version: one error line naming it" wrong_kernel_version
check "a corrupted patch is named, nothing half-applied, the old tree kept" corrupted_patch_applies_nothing
check "a missing package, not root: prints the apt-get line, exit 2" missing_package_as_user
check "run-tests.sh, under sh and busybox: plan, markers, ok / SKIP / exit / TIMEOUT lines" runner_works
check "verdict: failures, unreproduced base bugs, splats, skips, xfails, the debug kernel's KASAN and kmemleak reports are caught" verdict_judges
check "make bench: medians over boots, ratios, splats, the icount label, too few runs and an unknown clock caught" bench_report_judges
if [ -f "$BUILD/patched/initramfs.cpio" ] && [ "${HARNESS_BOOT:-1}" != 0 ]; then
	check "the tests build in-tree: make -C tools/testing/selftests TARGETS=forkpin-mm" tests_build_in_tree
	check "the series adds no W=1 warnings" "$SCRIPTS/check-w1.sh"
	check "every prefix of the series builds (make check-series)" "$SCRIPTS/check-series.sh"
	check "a guest that panics (bogus init): reported with the log tail" guest_panic_is_reported
	check "a guest that hangs: killed at BOOT_TIMEOUT, reported" guest_hang_is_killed
fi
say "harness: $((n - failed))/$n checks passed"
[ $failed -eq 0 ]
