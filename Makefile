# SPDX-License-Identifier: GPL-2.0
# forkpin: fork() and pinned memory on Linux 6.1 LTS.
#
# This Makefile only wires the pipeline steps in scripts/ (one script per
# step, each usable alone) and documents them: see `make help`.

S := scripts

# User variables (all optional; see make help).
KERNEL_SRC ?=
ifneq ($(O),)
BUILD := $(abspath $(O))
endif
BUILD ?= $(CURDIR)/build
ACCEL ?= auto
QEMU_MEM ?= 2G
QEMU_CPUS ?= 2
TESTS ?=
JOBS ?= $(shell nproc)
FLAVOR ?= patched
BOOT_TIMEOUT ?= 1200
export KERNEL_SRC BUILD ACCEL QEMU_MEM QEMU_CPUS TESTS JOBS BOOT_TIMEOUT
export TEST_TIMEOUT HUGEPAGES CCACHE_DIR EXTRA_KCONFIG KVM_WATCHDOG FORKPIN_SCALE
export FORKPIN_ZRAM BUSYBOX CCACHE CCACHE_SIZE PROGRESS_EVERY
export CHECK_SERIES_BOOT CHECK_SERIES_CONFIGS HARNESS_BOOT
export BENCH_MB BENCH_RUNS BENCH_ROUNDS BENCH_CPUS BENCH_NO_PLOT BENCH_CLOCK

# The steps from a patched tree to a booted, tested kernel, for one flavor.
define kernel_steps
$(S)/apply.sh $(1)
$(S)/config.sh $(1)
$(S)/build.sh $(1)
$(S)/selftests.sh $(1)
$(S)/initramfs.sh $(1)
endef

.PHONY: all check bench run-host help deps base apply config build selftests \
	initramfs boot verdict check-apply check-series check-w1 check-harness clean \
	distclean

# The main job: base -> apply -> build -> boot -> selftests -> verdict.
all:
	@$(S)/deps.sh run
	@$(S)/base.sh
	@$(call kernel_steps,$(FLAVOR))
	@$(S)/boot.sh $(FLAVOR)
	@$(S)/verdict.py $(FLAVOR)

# The test suite (what .ci/run calls): A/B of base and patched kernels,
# built with the same config, plus the harness's own checks.
# make check stays under 45 minutes from a fresh clone on a 2-core
# machine by leaving out check-series' two whole-series bzImage builds in
# other configs (no THP, no hugetlb: about 15 minutes cold). CI turns them
# on (.ci/run), as does `make check CHECK_SERIES_CONFIGS=1`; `make
# check-series` alone always builds them.
check: export CHECK_SERIES_CONFIGS ?= 0
check:
	@$(S)/deps.sh run
	@$(S)/base.sh
	@$(call kernel_steps,base)
	@$(S)/boot.sh base || echo "[forkpin] boot base failed: recorded, the verdict will show it"
	@$(call kernel_steps,patched)
	@$(S)/boot.sh patched || echo "[forkpin] boot patched failed: the verdict will show it"
ifneq ($(CHECK_DEBUG),0)
	@$(call kernel_steps,debug)
	@$(S)/boot.sh debug || echo "[forkpin] boot debug failed: the verdict will show it"
endif
	@$(S)/check-harness.sh || true
	@$(S)/verdict.py base patched $(if $(filter 0,$(CHECK_DEBUG)),,debug)

# fork() latency of base and patched kernels in one run: a benchmark,
# never part of make check. BENCH_CONFIG=prod (default): the bench-base and
# bench-patched kernels, built from base's and patched's applied trees in
# the production config (scripts/kconfig/bench.config: make check's config
# without the bug catchers) into build directories of their own, so that
# make check's kernels are never rebuilt; BENCH_CONFIG=check: make check's
# base and patched kernels.
BENCH_CONFIG ?= prod
export BENCH_CONFIG
# The production steps of one bench kernel: TREE (base, patched), FLAVOR.
define bench_steps
$(S)/apply.sh $(1)
$(S)/bench.sh config $(2)
$(S)/build.sh $(2)
$(S)/selftests.sh $(2)
endef
bench:
	@case '$(BENCH_CONFIG)' in prod|check) ;; *) echo "forkpin: error: BENCH_CONFIG=$(BENCH_CONFIG): expected prod or check" >&2; exit 1 ;; esac
	@$(S)/deps.sh bench
	@$(S)/base.sh
ifeq ($(BENCH_CONFIG),check)
	@$(call kernel_steps,base)
	@$(call kernel_steps,patched)
else
	@$(call bench_steps,base,bench-base)
	@$(call bench_steps,patched,bench-patched)
endif
	@$(S)/bench.sh

# The selftests on the running kernel (real hardware, bare metal).
run-host:
	@$(S)/deps.sh host
	@$(S)/run-host.sh

deps:
	@$(S)/deps.sh run
base:
	@$(S)/base.sh
apply config build selftests initramfs boot:
	@$(S)/$@.sh $(FLAVOR)
verdict:
	@$(S)/verdict.py $(FLAVOR)
check-apply:
	@$(S)/check-apply.sh
check-series:
	@$(S)/check-series.sh
check-w1:
	@$(S)/check-w1.sh
check-harness:
	@$(S)/check-harness.sh

clean:
	rm -rf $(BUILD)/base $(BUILD)/patched $(BUILD)/debug $(BUILD)/host $(BUILD)/check-series \
		$(BUILD)/bench $(BUILD)/bench-base $(BUILD)/bench-patched \
		$(BUILD)/*.tap \
		$(BUILD)/summary-* $(BUILD)/results-*
distclean:
	rm -rf $(BUILD)

help:
	@echo 'forkpin: fork() and pinned memory on Linux 6.1 LTS'
	@echo
	@echo 'Main targets:'
	@echo '  make               apply the series, build, boot in QEMU, run the selftests,'
	@echo '                     print the summary (FLAVOR=patched by default)'
	@echo '  make check         the test suite: base and patched kernels (A/B), the'
	@echo '                     expectations in patches/expectations, the harness checks,'
	@echo '                     and the debug kernel (patched + KASAN + kmemleak: splats)'
	@echo '  make bench         fork(), exit and unmap latency, base vs patched kernel in'
	@echo '                     one run, production config (no bug catchers) by default:'
	@echo '                     ratio table and plot in BUILD/bench/ (a benchmark, not a test)'
	@echo '  make run-host      the selftests on the running kernel (bare metal)'
	@echo
	@echo 'Single steps (for FLAVOR):'
	@echo '  deps               install missing Debian packages (root) or print the line'
	@echo '  base               find the 6.1.y tree (KERNEL_SRC or Debian linux-source-6.1)'
	@echo '  apply              private copy of the tree + quilt push of the series'
	@echo '  config             tinyconfig + fragments, every requested option verified'
	@echo '  build              bzImage and uapi headers, O= build dir, ccache'
	@echo '  selftests          the selftests, static, against the uapi headers'
	@echo '  initramfs          busybox + selftests + scripts/guest-init.sh (/init) and'
	@echo '                     scripts/run-tests.sh (the runner, also used by run-host)'
	@echo '  boot               QEMU (KVM, falling back to TCG), results in BUILD/FLAVOR/run'
	@echo '  verdict            the summary table of the last boot'
	@echo '  check-apply        the series applies with git am and patch -p1 too'
	@echo '  check-series       every prefix of the series builds (mm/, fork, proc), and the'
	@echo '                     whole series without THP, hugetlb, block filesystems;'
	@echo '                     CHECK_SERIES_BOOT=1 boots every prefix too,'
	@echo '                     (CHECK_SERIES_CONFIGS=0 skips those two; make check skips them'
	@echo '                     unless CHECK_SERIES_CONFIGS=1, as CI sets it)'
	@echo '  check-w1           the series adds no W=1 or sparse warnings (both flavors built)'
	@echo '  check-harness      the harness error paths (bad input, panics, hangs);'
	@echo '                     HARNESS_BOOT=0: only the checks that need no built kernel'
	@echo '  clean / distclean  remove the flavors'"'"' trees and runs / all of BUILD'
	@echo
	@echo 'Variables:'
	@echo '  KERNEL_SRC=DIR     any 6.1.y tree, git or plain, never modified'
	@echo '                     (default: Debian'"'"'s linux-source-6.1 tarball)'
	@echo '  O=DIR, BUILD=DIR   build directory (default: ./build)'
	@echo '  FLAVOR=            patched (6.1 + whole series), base (6.1 + test support)'
	@echo '                     or debug (patched + KASAN + kmemleak); bench-base and'
	@echo '                     bench-patched are make bench'"'"'s production kernels'
	@echo '  CHECK_DEBUG=0      make check without the debug kernel'
	@echo '  ACCEL=             auto (KVM, else TCG), kvm, tcg (default: auto)'
	@echo '  KVM_WATCHDOG=S     ACCEL=auto: TCG after all if a KVM guest prints no kernel'
	@echo '                     line within S seconds (default: 20)'
	@echo '  QEMU_MEM=, QEMU_CPUS=  guest memory and CPUs (default: 2G, 2)'
	@echo '  TESTS="a b"        run only these selftest programs'
	@echo '  JOBS=N             parallel build jobs (default: nproc)'
	@echo '  BOOT_TIMEOUT=S     whole guest run limit in seconds (default: 1200)'
	@echo '  TEST_TIMEOUT=S     per-test limit (default: tools/testing/selftests/mm/settings)'
	@echo '  HUGEPAGES=N        2 MiB huge pages reserved in the guest (default: 64)'
	@echo '  FORKPIN_ZRAM=SIZE  the guest'"'"'s zram swap (default: 256M)'
	@echo '  BUSYBOX=FILE       static busybox for the guest (default: /bin/busybox)'
	@echo '  FORKPIN_SCALE=N    N times larger test runs (default 1, sized for TCG)'
	@echo '  EXTRA_KCONFIG=F    a kconfig fragment of your own, applied last'
	@echo '  CCACHE_DIR=DIR     compiler cache (default: ~/.cache/forkpin/ccache)'
	@echo '  CCACHE=0           build without ccache; CCACHE_SIZE= its limit (default: 8G)'
	@echo '  PROGRESS_EVERY=S   seconds between progress lines of builds and boots'
	@echo '                     (default: 20)'
	@echo '  BENCH_MB=N         make bench: MiB per case (default 256 for TCG; 1024 on'
	@echo '                     real hardware or KVM)'
	@echo '  BENCH_CONFIG=      make bench: prod (default: make check'"'"'s config without'
	@echo '                     DEBUG_VM, lockdep, page_table_check, fault injection; own'
	@echo '                     build dirs BUILD/bench-base, BUILD/bench-patched) or check'
	@echo '                     (make check'"'"'s kernels, as they are)'
	@echo '  BENCH_RUNS=N       make bench: timed samples per case and boot (default 11, >= 10)'
	@echo '  BENCH_ROUNDS=N     make bench: boots of each kernel, alternating (default 5)'
	@echo '  BENCH_CPUS=N       make bench: guest CPUs (default 1)'
	@echo '  BENCH_NO_PLOT=1    make bench: the table only, no gnuplot plot'
	@echo '  BENCH_CLOCK=       make bench: wall (default, the host'"'"'s clock) or icount'
	@echo '                     (TCG -icount: the guest clock counts instructions, 1 ns'
	@echo '                     each; deterministic, one round is enough)'
