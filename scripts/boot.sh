#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/boot.sh FLAVOR - boot FLAVOR's kernel and initramfs in QEMU and
# collect the results.
#
# Writes $BUILD/FLAVOR/run/: console.log (ttyS0, the kernel's console),
# results.tap (ttyS1, the guest's TAP) and status (what the guest reported,
# or why it reported nothing). The guest reports its status explicitly
# through isa-debug-exit; no report - panic, reboot, hang - is an error.
#
# ACCEL=auto uses KVM when /dev/kvm is usable, but falls back to TCG when
# the guest prints no "Linux version" line within KVM_WATCHDOG seconds
# (on some hosts a KVM guest hangs right after the firmware).
#
# QEMU_ICOUNT=OPTS (TCG only; make bench BENCH_CLOCK=icount): QEMU's
# -icount OPTS, e.g. shift=0,sleep=off: the guest's clocks then advance
# by the instructions it executes (1 ns each at shift 0), not by host
# time, so a timed loop measures instructions, the same in every run.
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
# INITRAMFS_DIR: where initramfs.sh wrote the initramfs (default: $dir).
idir=${INITRAMFS_DIR:-$dir}
kernel=$dir/obj/arch/x86/boot/bzImage initrd=$idir/initramfs.cpio
run=${RUN:-$dir/run}
accel=${ACCEL:-auto}
mem=${QEMU_MEM:-2G} cpus=${QEMU_CPUS:-2}
whole=${BOOT_TIMEOUT:-1200} watchdog=${KVM_WATCHDOG:-20}
[ -f "$kernel" ] || die "no kernel at $kernel (run: make build FLAVOR=$flavor)"
[ -f "$initrd" ] || die "no initramfs at $initrd (run: make initramfs FLAVOR=$flavor)"
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
case $accel in auto|kvm|tcg) ;; *) die "ACCEL=$accel: expected auto, kvm or tcg" ;; esac
icount=${QEMU_ICOUNT:-}
if [ -n "$icount" ]; then
	[ "$accel" != kvm ] || die "QEMU_ICOUNT=$icount: instruction counting needs TCG, not ACCEL=kvm"
	accel=tcg
fi

mkdir -p "$run"
console=$run/console.log results=$run/results.tap

# An oops panics the guest: after one, the kernel's state is unreliable
# and the oopsing test may hold locks that hang every test after it.
append="console=ttyS0,115200 panic=-1 oops=panic hugepagesz=2M hugepages=${HUGEPAGES:-64}"
[ -z "${FORKPIN_SCALE:-}" ] || append+=" forkpin.scale=$FORKPIN_SCALE"
[ -z "${FORKPIN_ZRAM:-}" ] || append+=" forkpin.zram=$FORKPIN_ZRAM"
# Last: INIT= and APPEND= (which may end with "-- args for init").
user="${INIT:+rdinit=$INIT }${APPEND:-}"

# boot_once ACCEL: run the guest; sets $rc to QEMU's (or timeout's) exit
# code. Returns 2 if KVM printed no kernel line in time (caller retries).
boot_once() {
	local a=$1 cpu=max extra="" start=$SECONDS pid last=0 ndone
	if [ "$a" = kvm ]; then
		cpu=host
	else
		# Emulation is slow: no soft-lockup watchdog, patient RCU and
		# hung-task detectors, so slowness is not reported as a bug.
		extra=" nowatchdog rcupdate.rcu_cpu_stall_timeout=300 sysctl.kernel.hung_task_timeout_secs=1200"
	fi
	: >"$console"
	: >"$results"
	# In a subshell whose stderr is the QEMU log, so that a crashing QEMU
	# is an exit code and a line in that log, not a job message from bash.
	(timeout -k 5 "$whole" qemu-system-x86_64 -nodefaults -no-reboot \
		-display none -accel "$a" ${icount:+-icount "$icount"} -cpu "$cpu" -m "$mem" -smp "$cpus" \
		-kernel "$kernel" -initrd "$initrd" -append "$append$extra $user" \
		-serial "file:$console" -serial "file:$results" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		</dev/null >"$run/qemu.log" 2>&1; exit $?) 2>>"$run/qemu.log" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$a" = kvm ] && [ $((SECONDS - start)) -ge "$watchdog" ] &&
		   ! grep -q 'Linux version' "$console"; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null || true
			say "boot $flavor: KVM guest printed no kernel line in ${watchdog}s (hangs after the firmware?); falling back to TCG"
			return 2
		fi
		if [ $((SECONDS - last)) -ge "${PROGRESS_EVERY:-20}" ]; then
			last=$SECONDS
			# The runner's "# forkpin-end:" lines (the grammar: verdict.py).
			ndone=$(grep -c '^# forkpin-end:' "$results" 2>/dev/null || true)
			say "boot $flavor ($a): $(elapsed $((SECONDS - start))), $ndone/$(wc -l <"$idir/tests.list") tests done"
		fi
		sleep 1
	done
	rc=0
	{ wait "$pid"; } 2>/dev/null || rc=$?
	if [ "$a" = kvm ] && ! grep -q 'Linux version' "$console"; then
		say "boot $flavor: KVM guest stopped (QEMU exit $rc: $(head -n 1 "$run/qemu.log")) before the kernel printed; falling back to TCG"
		return 2
	fi
	return 0
}

used=$accel
if [ "$accel" != tcg ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	used=kvm
elif [ "$accel" = kvm ]; then
	die "ACCEL=kvm but /dev/kvm is missing or not accessible"
else
	used=tcg
fi
say "boot $flavor: $(basename "$kernel") $(cat "$dir/kversion")$(flavor_localversion "$flavor"), $used${icount:+ -icount $icount}, $cpus cpus, $mem"
if ! boot_once "$used"; then
	[ "$accel" = kvm ] && die "ACCEL=kvm: the guest printed no kernel line in ${watchdog}s"
	used=tcg
	boot_once tcg
fi

tail_log() {
	echo "--- last lines of $console:" >&2
	tail -n 25 "$console" >&2
}
# isa-debug-exit: QEMU exits with (status << 1) | 1.
case $rc in
1|3)
	echo "accel=$used guest-status=$((rc >> 1))" >"$run/status"
	say "boot $flavor: guest finished, status $((rc >> 1)) ($(grep -c '^# forkpin-end:' "$results") tests run); console: $console"
	;;
5)
	echo "accel=$used error=guest setup failed" >"$run/status"
	tail_log
	die "boot $flavor: guest setup failed: $(sed -n 's/^forkpin-guest-setup-failed: //p' "$results")"
	;;
124|137)
	echo "accel=$used error=timed out after ${whole}s" >"$run/status"
	tail_log
	die "boot $flavor: guest did not finish within ${whole}s (BOOT_TIMEOUT); killed"
	;;
*)
	why="exited without reporting a status (QEMU exit $rc)"
	grep -q 'Kernel panic' "$console" && why="panicked: $(grep -m1 -o 'Kernel panic.*' "$console")"
	echo "accel=$used error=$why" >"$run/status"
	tail_log
	die "boot $flavor: guest $why"
	;;
esac
