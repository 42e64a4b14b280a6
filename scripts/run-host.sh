#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/run-host.sh - run the selftests on the running kernel (real
# hardware, bare metal, any VM) instead of in QEMU.
#
# Builds the tests against the host's headers, with kselftest.h and lib.mk
# taken from the base tree (scripts/base.sh), runs them as root with the
# guest's runner (scripts/run-tests.sh: each with its timeout, the kernel
# log marked around each) and judges the results with verdict.py: no
# case may fail, every skip says why, and any kernel splat logged during
# the run fails it. Results in $BUILD/host/run, as boot.sh's.
set -eu
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "run-host: the tests pin memory and read debugfs: run as root"
base_env
dir=$BUILD/host run=$BUILD/host/run
tree=$dir/tree/tools/testing/selftests
rm -rf "$dir/tree" "$run"
mkdir -p "$tree" "$run" "$dir/selftests"
cp -r "$PRISTINE"/tools/testing/selftests/*.h \
	"$PRISTINE/tools/testing/selftests/lib.mk" \
	"$PRISTINE/tools/testing/selftests/kselftest" "$tree/"
cp -r "$SELFTESTS" "$tree/forkpin-mm"
make -C "$tree/forkpin-mm" OUTPUT="$dir/selftests" >"$dir/selftests.log" 2>&1 ||
	{ tail -n 20 "$dir/selftests.log" >&2; die "run-host: selftests build failed; log: $dir/selftests.log"; }
progs=$(selftest_programs "$tree/forkpin-mm")
[ -z "${TESTS:-}" ] || progs=${TESTS//,/ }

grep -q ' /sys/kernel/debug debugfs' /proc/mounts ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null ||
	say "run-host: debugfs not mounted and cannot be: gup_test cases will skip"

timeout=${TEST_TIMEOUT:-$(sed -n 's/^timeout=//p' "$SELFTESTS/settings")}
: >"$dir/tests.list"
for p in $progs; do
	[ -x "$dir/selftests/$p" ] || die "TESTS: no test program '$p'"
	echo "$p $timeout" >>"$dir/tests.list"
done
uname -r >"$dir/kversion"
mark="forkpin: host run $$ $(date +%s)"
echo "$mark" >/dev/kmsg
# The guest's runner, with the TAP into results.tap and each program's
# name on the terminal as it starts.
set +e
"$SCRIPTS/run-tests.sh" "$dir/tests.list" "$dir/selftests" host | tee "$run/results.tap" |
	while IFS= read -r line; do
		case $line in "# forkpin-begin: "*) say "run-host: ${line#*: }" ;; esac
	done
status=${PIPESTATUS[0]}
set -e
say "run-host: finished, status $status ($(grep -c '^# forkpin-end:' "$run/results.tap") tests run)"
# The kernel log from our mark on: splats during the run fail it.
dmesg | sed -n "/$mark/,\$p" >"$run/console.log"
echo "host $(uname -r) guest-status=$status" >"$run/status"
exec "$SCRIPTS/verdict.py" host
