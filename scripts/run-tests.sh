#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scripts/run-tests.sh LIST DIR [MACHINE] - the one test runner: runs each
# program of LIST ("name timeout" a line) from DIR, in /tmp, killed after
# its timeout, and writes the run's TAP to stdout and its markers to the
# kernel log. guest-init.sh runs it in the guest (busybox ash: POSIX sh
# and busybox applets only), run-host.sh on the running kernel. MACHINE
# (guest, host) names the machine in the TAP header.
#
# What it writes is the marker grammar written down next to its parser,
# in scripts/verdict.py: a plan, each program's output between
# "# forkpin-begin/end" lines, one ok / not ok line per program, and
# "forkpin: begin/end PROG" in the kernel log (KMSG, default /dev/kmsg)
# around each program, so that a kernel splat can be tied to it.
# Exit status: 0 if every program passed or skipped, 1 otherwise, 2 if
# LIST cannot be read.
set -u
list=$1 dir=$2 machine=${3:-guest}
kmsg=${KMSG:-/dev/kmsg}
[ -r "$list" ] || { echo "run-tests.sh: cannot read the list $list" >&2; exit 2; }

kmsg() { echo "$*" >>"$kmsg"; }

echo "TAP version 13"
echo "# forkpin $machine: $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
echo "# hugepages: $(cat /proc/sys/vm/nr_hugepages), swap: $(awk 'NR > 1 { printf "%s%s %s kB", sep, $1, $3; sep = ", " }' /proc/swaps)"
echo "1..$(grep -c '[^[:space:]]' "$list")"

# fd 4: the TAP output, while the exit status of a test comes out of its
# pipeline on fd 3.
exec 4>&1
i=0
status=0
while read -r name timeout; do
	[ -n "$name" ] || continue
	i=$((i + 1))
	kmsg "forkpin: begin $name"
	echo "# forkpin-begin: $name"
	start=$(date +%s)
	# Streamed as it runs: if the kernel dies mid-test, the host still
	# has everything the test printed.
	rc=$({ {
		cd /tmp && timeout -s KILL "$timeout" "$dir/$name" </dev/null 2>&1 3>&- 4>&-
		echo $? >&3
	} | sed 's/^/# /' >&4; } 3>&1)
	secs=$(($(date +%s) - start))
	kmsg "forkpin: end $name rc=$rc"
	echo "# forkpin-end: $name rc=$rc seconds=$secs"
	case $rc in
	0) echo "ok $i selftests: forkpin: $name" ;;
	4) echo "ok $i selftests: forkpin: $name # SKIP" ;;
	137) echo "not ok $i selftests: forkpin: $name # TIMEOUT ${timeout}s"; status=1 ;;
	*) echo "not ok $i selftests: forkpin: $name # exit=$rc"; status=1 ;;
	esac
done <"$list"
exit $status
