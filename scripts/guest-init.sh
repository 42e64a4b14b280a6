#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# /init of the forkpin test guest (busybox). Sets the machine up and runs
# the selftests in /forkpin/tests.list with scripts/run-tests.sh (packed
# as /forkpin/run-tests.sh), whose TAP goes to the second serial port
# (/dev/ttyS1), which the host saves as results.tap; the kernel console,
# with the runner's markers, stays on ttyS0. At the end the guest reports
# its status to the host through QEMU's isa-debug-exit port:
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
	echo "forkpin: setup failed: $*" >/dev/kmsg
	report 2
}

# forkpin.scale=N on the command line: FORKPIN_SCALE for the tests;
# forkpin.bench_mb=N, forkpin.bench_runs=N: the benchmark's size and runs;
# forkpin.zram=SIZE: the zram swap (FORKPIN_ZRAM, default 256M).
for arg in $(cat /proc/cmdline); do
	case $arg in
	forkpin.scale=*) export FORKPIN_SCALE=${arg#forkpin.scale=} ;;
	forkpin.bench_mb=*) export FORKPIN_BENCH_MB=${arg#forkpin.bench_mb=} ;;
	forkpin.bench_runs=*) export FORKPIN_BENCH_RUNS=${arg#forkpin.bench_runs=} ;;
	forkpin.zram=*) FORKPIN_ZRAM=${arg#forkpin.zram=} ;;
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

status=0
/forkpin/run-tests.sh /forkpin/tests.list /forkpin/tests guest >"$out" || status=$?
[ "$status" -le 1 ] || setup_failed "run-tests.sh exited $status"
# kmemleak (the debug flavor): scan once every test has exited, twice as
# kmemleak advises (an object is reported only if unreferenced in both);
# a leak prints "kmemleak: N new suspected memory leaks" to the console,
# which the verdict counts as a splat, and its report follows.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo "forkpin: kmemleak scan" >/dev/kmsg
	echo scan >/sys/kernel/debug/kmemleak && sleep 2 &&
		echo scan >/sys/kernel/debug/kmemleak
	head -n 200 /sys/kernel/debug/kmemleak | while IFS= read -r l; do
		echo "kmemleak report: $l" >/dev/kmsg
	done
	echo "forkpin: kmemleak scan done" >/dev/kmsg
fi
report "$status"
