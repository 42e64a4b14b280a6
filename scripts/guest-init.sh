#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# /init of the forkpin test guest (busybox). Sets the machine up, runs
# each selftest in /forkpin/tests.list with its timeout and writes
# kselftest-style TAP to the second serial port (/dev/ttyS1), which the
# host saves as results.tap. The kernel console stays on ttyS0; before
# and after each test a marker goes to /dev/kmsg so the host can tell
# which test a kernel splat belongs to. At the end the guest reports its
# status to the host through QEMU's isa-debug-exit port:
#   0 all tests ran and passed, 1 some failed, 2 setup failed.
PATH=/bin:/sbin
/bin/busybox mkdir -p /sbin /proc /sys /dev /tmp /mnt
/bin/busybox --install -s /bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mkdir -p /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup

out=/dev/ttyS1
kmsg() { echo "$*" >/dev/kmsg; }

report() {
	# isa-debug-exit at 0xf4: QEMU exits with (value << 1) | 1.
	echo "forkpin-guest-status: $1" >"$out"
	printf "\\$(printf '%03o' "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	# Only reached without isa-debug-exit (bare metal, other VMMs).
	sync
	reboot -f
}

setup_failed() {
	echo "forkpin-guest-setup-failed: $*" >"$out"
	kmsg "forkpin: setup failed: $*"
	report 2
}

# forkpin.scale=N on the command line: FORKPIN_SCALE for the tests;
# forkpin.bench_mb=N, forkpin.bench_runs=N: the benchmark's size and runs.
for arg in $(cat /proc/cmdline); do
	case $arg in
	forkpin.scale=*) export FORKPIN_SCALE=${arg#forkpin.scale=} ;;
	forkpin.bench_mb=*) export FORKPIN_BENCH_MB=${arg#forkpin.bench_mb=} ;;
	forkpin.bench_runs=*) export FORKPIN_BENCH_RUNS=${arg#forkpin.bench_runs=} ;;
	esac
done

# Swap on zram, for the swap-out cases (MADV_PAGEOUT).
if [ -e /sys/block/zram0/disksize ]; then
	echo "${FORKPIN_ZRAM:-256M}" >/sys/block/zram0/disksize &&
	mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 ||
		setup_failed "zram swap"
fi
# Memory controller for the tests' cgroups.
echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
cd /tmp || setup_failed "no /tmp"

n=$(grep -c . /forkpin/tests.list)
{
	echo "TAP version 13"
	echo "# forkpin guest: $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
	echo "# hugepages: $(cat /proc/sys/vm/nr_hugepages), swap: $(awk 'NR > 1 { print $1 " " $3 " kB" }' /proc/swaps)"
	echo "1..$n"
} >"$out"

i=0
status=0
while read -r name timeout; do
	[ -n "$name" ] || continue
	i=$((i + 1))
	kmsg "forkpin: begin $name"
	echo "# forkpin-begin: $name" >"$out"
	start=$(date +%s)
	# Streamed as it runs: if the kernel dies mid-test, the host still
	# has everything the test printed.
	{
		timeout -s KILL "$timeout" "/forkpin/tests/$name" 2>&1 </dev/null
		echo $? >/tmp/rc
	} | sed 's/^/# /' >"$out"
	rc=$(cat /tmp/rc)
	secs=$(($(date +%s) - start))
	kmsg "forkpin: end $name rc=$rc"
	echo "# forkpin-end: $name rc=$rc seconds=$secs" >"$out"
	case $rc in
	0) echo "ok $i selftests: forkpin: $name" ;;
	4) echo "ok $i selftests: forkpin: $name # SKIP" ;;
	137) echo "not ok $i selftests: forkpin: $name # TIMEOUT ${timeout}s"; status=1 ;;
	*) echo "not ok $i selftests: forkpin: $name # exit=$rc"; status=1 ;;
	esac >"$out"
done </forkpin/tests.list

report $status
