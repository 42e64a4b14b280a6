// SPDX-License-Identifier: GPL-2.0
/*
 * gup_test_abi - bad input to gup_test's long-term pin ioctls fails
 * cleanly, with the documented errno, and never leaks a pin.
 *
 * PIN_LONGTERM_TEST_START/_STOP/_READ (forkpin patch 0001, the interface
 * of mainline c77369b437f9 "mm/gup_test: start/stop/read functionality
 * for PIN LONGTERM test", v6.2) hold FOLL_LONGTERM pins across system
 * calls, which every pin test of forkpin relies on. Those tests only ever
 * pass good arguments; this program checks the rest of the contract:
 *
 *  - START refuses a bad range or unknown flags with EINVAL before it
 *    allocates or pins anything: an unaligned address or size, size 0, a
 *    range that wraps around the end of the address space (mainline has
 *    no check and fails later, with EFAULT or EOVERFLOW depending on the
 *    GUP path), a size whose page array kvmalloc() would refuse with a
 *    warning from userspace (above 1 TiB, up to ~0);
 *  - there is one set of pins in the system: START while it is held
 *    fails with EINVAL (mainline's errno; EBUSY would say it better, but
 *    the point of 0001 is mainline's ABI) and leaves it as it was; of two
 *    threads starting at once exactly one wins, the other gets EINVAL;
 *  - STOP with nothing held is a no-op that succeeds (the probe every
 *    forkpin test uses to find the ioctls); READ with nothing held fails
 *    with EINVAL: there is nothing to copy and no size to copy it with;
 *    both as in mainline;
 *  - READ into a buffer it cannot write (read-only, partly unmapped) or
 *    through an unreadable argument fails with EFAULT and keeps the pins;
 *  - the pins belong to the open file that started them: close() of that
 *    file drops them, close() of another gup_test file does not (mainline
 *    drops them at any release, without the mutex; STOP and READ still act
 *    on the one set from any file, as in mainline); a child that inherits
 *    the file shares it: its READ reads the parent's pinned pages, its
 *    STOP drops the pins for both, and the pins stay until the last
 *    close of the file, whoever makes it.
 *
 * No case may leave a pin behind: the system's pinned-page count
 * (nr_foll_pin_acquired - nr_foll_pin_released in /proc/vmstat, after
 * vm.stat_refresh) is back where it was when the case started, and is
 * exactly that plus the pinned pages while a set is held. A kernel splat
 * logged during a case fails it. The ioctls are issued on explicit gup_test
 * files (gfd, or one a case opens) with exact __u64 arguments, since which
 * open file does what is the point here; pin_util.c provides the
 * definitions and the probe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "mem_util.h"
#include "pin_util.h"

/* Pages per pinned range: small, QEMU/TCG pins them in well under a second. */
#define NR_PAGES	4
/* Seconds a case may take (SIGALRM ends the program). */
#define CASE_TIMEOUT	30
/* An unpin at the last fput() may come a little after close() or exit(). */
#define SETTLE_MS	500
/* How long a process waits for the other side of a fork() case. */
#define HANDSHAKE_MS	10000
/* Rounds of the two-thread START race. */
#define RACE_ROUNDS	16

/* The gup_test file most cases use; a case that needs another opens it. */
static int gfd = -1;

/* ---- the ioctls, on an explicit file: 0 or -errno ---- */

static int lt_start(int fd, __u64 addr, __u64 size, __u32 flags)
{
	struct pin_longterm_test args = {
		.addr = addr,
		.size = size,
		.flags = flags,
	};

	return ioctl(fd, PIN_LONGTERM_TEST_START, &args) ? -errno : 0;
}

static int lt_read(int fd, const void *buf)
{
	__u64 addr = (uintptr_t)buf;

	return ioctl(fd, PIN_LONGTERM_TEST_READ, &addr) ? -errno : 0;
}

static int lt_stop(int fd)
{
	return ioctl(fd, PIN_LONGTERM_TEST_STOP) ? -errno : 0;
}

static const char *err_name(int ret)
{
	static char buf[32];

	switch (-ret) {
	case 0: return "success";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case EINTR: return "EINTR";
	case EBUSY: return "EBUSY";
	case ENOTTY: return "ENOTTY";
	case EOVERFLOW: return "EOVERFLOW";
	}
	snprintf(buf, sizeof(buf), "errno %d", -ret);
	return buf;
}

/* @ret (0 or -errno) of @what is @want; says what it was if not. */
static bool expect_ret(int ret, int want, const char *what)
{
	if (ret == want)
		return true;
	ksft_print_msg("%s returned %s, expected %s\n", what, err_name(ret),
		       err_name(want));
	return false;
}

/* ---- pin accounting ---- */

/*
 * Pages pinned in the whole system, by /proc/vmstat's counters (per-CPU
 * deltas folded first by vm.stat_refresh, or small changes would not
 * show); -1 if the counters are missing.
 */
static long pins_held(void)
{
	static bool said;
	long acq, rel;

	if (!write_file("/proc/sys/vm/stat_refresh", "1") && !said) {
		ksft_print_msg("writing vm.stat_refresh failed: %s\n", strerror(errno));
		said = true;
	}
	if (!read_key("/proc/vmstat", "nr_foll_pin_acquired", &acq) ||
	    !read_key("/proc/vmstat", "nr_foll_pin_released", &rel))
		return -1;
	return acq - rel;
}

/*
 * pins_come_to - the pinned-page count reaches @want within SETTLE_MS;
 * if not, says what it is @when.
 */
static bool pins_come_to(long want, const char *when)
{
	long held = -1;
	int i;

	for (i = 0; i <= SETTLE_MS / 10; i++) {
		held = pins_held();
		if (held == want)
			return true;
		usleep(10 * 1000);
	}
	ksft_print_msg("%s: %ld pages pinned in the system, expected %ld\n",
		       when, held, want);
	return false;
}

/*
 * pins_stay - the pinned-page count is still @want after SETTLE_MS: a
 * release that should not happen has had the time to happen.
 */
static bool pins_stay(long want, const char *when)
{
	long held;

	usleep(SETTLE_MS * 1000);
	held = pins_held();
	if (held == want)
		return true;
	ksft_print_msg("%s: %ld pages pinned in the system, expected %ld\n",
		       when, held, want);
	return false;
}

/* The case's starting point; SKIP (*why set) if pins cannot be counted. */
static bool pins_base(long *base, const char **why)
{
	*base = pins_held();
	if (*base < 0)
		*why = "no nr_foll_pin_acquired/released in /proc/vmstat";
	return *base >= 0;
}

/* ---- memory ---- */

/* @pages pages of private anonymous memory, filled with @val, no THP. */
static char *anon_pages(size_t pages, char val)
{
	char *mem = mmap(NULL, pages * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap() of %zu pages failed: %s\n", pages, strerror(errno));
		return NULL;
	}
	madvise(mem, pages * pagesize, MADV_NOHUGEPAGE);
	memset(mem, val, pages * pagesize);
	return mem;
}

static void unmap_pages(void *mem, size_t pages)
{
	if (mem)
		munmap(mem, pages * pagesize);
}

/*
 * A READ buffer of @pages pages followed by an inaccessible guard page,
 * so that a READ of a larger set than expected fails (EFAULT) instead of
 * writing past the buffer. Unmap with unmap_pages(buf, pages + 1).
 */
static char *read_buf(size_t pages)
{
	char *buf = mmap(NULL, (pages + 1) * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED) {
		ksft_print_msg("mmap() of a READ buffer failed: %s\n", strerror(errno));
		return NULL;
	}
	if (mprotect(buf + pages * pagesize, pagesize, PROT_NONE)) {
		ksft_print_msg("mprotect() of the guard page failed: %s\n", strerror(errno));
		munmap(buf, (pages + 1) * pagesize);
		return NULL;
	}
	return buf;
}

/*
 * reads_back - READ through @fd succeeds and gives @pages pages of @val:
 * a set of @pages pages is held and still sees that data.
 */
static bool reads_back(int fd, size_t pages, char val, const char *when)
{
	char *buf = read_buf(pages);
	bool ok = false;
	int ret;

	if (!buf)
		return false;
	memset(buf, 0x5a, pages * pagesize);
	ret = lt_read(fd, buf);
	if (ret)
		ksft_print_msg("%s: READ returned %s, expected the pinned data\n",
			       when, err_name(ret));
	else if (!expect_bytes("through the pins", buf, pages * pagesize, val))
		ksft_print_msg("(%s)\n", when);
	else
		ok = true;
	unmap_pages(buf, pages + 1);
	return ok;
}

/* Nothing is held: READ fails with EINVAL (and the count is @base). */
static bool none_held(long base, const char *when)
{
	char *buf = read_buf(1);
	bool ok;

	if (!buf)
		return false;
	ok = expect_ret(lt_read(gfd, buf), -EINVAL, "READ with no pins held");
	unmap_pages(buf, 2);
	if (!ok)
		ksft_print_msg("(%s)\n", when);
	return pins_come_to(base, when) && ok;
}

/*
 * start_refused - START of [@addr, @addr + @size) with @flags fails with
 * @err and leaves nothing held (READ: EINVAL, count at @base).
 */
static bool start_refused(__u64 addr, __u64 size, __u32 flags, int err,
			  long base, const char *what)
{
	char desc[160];
	bool ok;

	snprintf(desc, sizeof(desc), "START of %s (addr %#llx, size %#llx, flags %#x)",
		 what, (unsigned long long)addr, (unsigned long long)size, flags);
	ok = expect_ret(lt_start(gfd, addr, size, flags), err, desc);
	if (!ok)
		lt_stop(gfd);	/* it pinned: do not leave the pins to the next case */
	return none_held(base, desc) && ok;
}

/* Drop whatever a failed case may hold; then the count must be @base. */
static bool cleanup(long base)
{
	bool ok = expect_ret(lt_stop(gfd), 0, "the final STOP");

	return pins_come_to(base, "after the final STOP") && ok;
}

/* ---- START: bad ranges and flags (EINVAL, nothing pinned) ---- */

/* The pinned range is in pages: an unaligned start is refused, not rounded. */
static enum result start_unaligned_addr(const char **why)
{
	char *mem = anon_pages(2, 0x11);
	bool ok;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		return FAIL;
	ok = start_refused((uintptr_t)mem + 1, pagesize, 0, -EINVAL, base,
			   "a page at an address + 1");
	ok &= start_refused((uintptr_t)mem + pagesize / 2, pagesize,
			    PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST,
			    -EINVAL, base, "a page at an address + half a page, R/W GUP-fast");
	ok &= cleanup(base);
	unmap_pages(mem, 2);
	return ok ? PASS : FAIL;
}

/* The size is a number of bytes of whole pages: a partial page is refused. */
static enum result start_unaligned_size(const char **why)
{
	char *mem = anon_pages(2, 0x11);
	bool ok;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		return FAIL;
	ok = start_refused((uintptr_t)mem, pagesize + 1, 0, -EINVAL, base,
			   "a page and a byte");
	ok &= start_refused((uintptr_t)mem, pagesize - 1, 0, -EINVAL, base,
			    "a page less a byte");
	ok &= start_refused((uintptr_t)mem, 2 * pagesize - 512,
			    PIN_LONGTERM_TEST_FLAG_USE_FAST, -EINVAL, base,
			    "two pages less 512 bytes, GUP-fast");
	ok &= cleanup(base);
	unmap_pages(mem, 2);
	return ok ? PASS : FAIL;
}

/*
 * addr + size past 2^64: refused as a bad range (EINVAL) up front. Without
 * 0001's check it would fail later with EFAULT: slow GUP finds no VMA,
 * and 6.1's GUP-fast returns 0 pages on the overflow, which 0001 turns
 * into EFAULT (mainline's START has neither check and retries a 0
 * return: it spins where GUP-fast returns 0 on overflow, as 6.1's does;
 * newer GUP-fast returns EOVERFLOW). So the errno tells the check ran.
 */
static enum result start_wraps(const char **why)
{
	char *mem = anon_pages(1, 0x11);
	__u64 top = -(__u64)pagesize;
	bool ok;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		return FAIL;
	ok = start_refused(top, 2 * pagesize, 0, -EINVAL, base,
			   "two pages from the last page of the address space");
	ok &= start_refused(top, 2 * pagesize, PIN_LONGTERM_TEST_FLAG_USE_FAST,
			    -EINVAL, base,
			    "two pages from the last page of the address space, GUP-fast");
	ok &= start_refused((uintptr_t)mem, -(__u64)(uintptr_t)mem + pagesize,
			    PIN_LONGTERM_TEST_FLAG_USE_WRITE, -EINVAL, base,
			    "a mapped page up to one page past 2^64");
	ok &= cleanup(base);
	unmap_pages(mem, 1);
	return ok ? PASS : FAIL;
}

/* Nothing to pin is a bad argument, not an empty success. */
static enum result start_size_zero(const char **why)
{
	char *mem = anon_pages(1, 0x11);
	bool ok;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		return FAIL;
	ok = start_refused((uintptr_t)mem, 0, 0, -EINVAL, base, "0 bytes at a mapped page");
	ok &= start_refused(0, 0, PIN_LONGTERM_TEST_FLAG_USE_FAST, -EINVAL, base,
			    "0 bytes at address 0, GUP-fast");
	ok &= cleanup(base);
	unmap_pages(mem, 1);
	return ok ? PASS : FAIL;
}

/*
 * Sizes far past 1 TiB (pin_fork checks 1 TiB itself): refused with
 * EINVAL before kvmalloc() sees them (it would warn above INT_MAX bytes of
 * page array: a splat from userspace), whichever check catches them.
 */
static enum result start_huge_size(const char **why)
{
	static const struct {
		__u64 size;
		const char *desc;
	} sizes[] = {
		{ ~0ULL, "~0 bytes" },
		{ 1ULL << 63, "2^63 bytes" },
		{ 1ULL << 47, "128 TiB (the whole user address space)" },
		{ (1ULL << 40) + (1ULL << 30), "1 TiB + 1 GiB" },
	};
	char *mem = anon_pages(1, 0x11);
	bool ok = true;
	long base;
	unsigned int i;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		return FAIL;
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		ok &= start_refused((uintptr_t)mem, sizes[i].size, 0, -EINVAL, base,
				    sizes[i].desc);
	/* Page-aligned ~0: the largest size the alignment check lets through. */
	ok &= start_refused((uintptr_t)mem, ~0ULL & ~(__u64)(pagesize - 1),
			    PIN_LONGTERM_TEST_FLAG_USE_FAST, -EINVAL, base,
			    "2^64 - 1 page bytes, GUP-fast");
	ok &= cleanup(base);
	unmap_pages(mem, 1);
	return ok ? PASS : FAIL;
}

/* A flag this kernel does not know must not be ignored. */
static enum result start_unknown_flags(const char **why)
{
	static const __u32 flags[] = {
		4, 8, 1U << 31,
		PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST | 4,
	};
	char *mem = anon_pages(1, 0x11);
	bool ok = true;
	long base;
	unsigned int i;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		return FAIL;
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		ok &= start_refused((uintptr_t)mem, pagesize, flags[i], -EINVAL, base,
				    "a mapped page with an unknown flag");
	ok &= cleanup(base);
	unmap_pages(mem, 1);
	return ok ? PASS : FAIL;
}

/* ---- one set of pins in the system ---- */

/* A second START fails with EINVAL and leaves the first set as it was. */
static enum result start_twice(const char **why)
{
	char *a = anon_pages(NR_PAGES, 0x11), *b = anon_pages(NR_PAGES, 0x22);
	bool ok = false;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!a || !b)
		goto out;
	if (!expect_ret(lt_start(gfd, (uintptr_t)a, NR_PAGES * pagesize,
				 PIN_LONGTERM_TEST_FLAG_USE_WRITE), 0, "the first START") ||
	    !pins_come_to(base + NR_PAGES, "after the first START"))
		goto out;
	ok = expect_ret(lt_start(gfd, (uintptr_t)b, NR_PAGES * pagesize, 0), -EINVAL,
			"a second START of other pages");
	ok &= expect_ret(lt_start(gfd, (uintptr_t)a, NR_PAGES * pagesize,
				  PIN_LONGTERM_TEST_FLAG_USE_FAST), -EINVAL,
			 "a second START of the same pages, GUP-fast");
	/* The first set is intact: same pages, same count, same data. */
	ok &= pins_come_to(base + NR_PAGES, "after the refused STARTs");
	ok &= reads_back(gfd, NR_PAGES, 0x11, "after the refused STARTs");
	ok &= expect_ret(lt_stop(gfd), 0, "STOP");
	ok &= none_held(base, "after STOP");
out:
	ok &= cleanup(base);
	unmap_pages(a, NR_PAGES);
	unmap_pages(b, NR_PAGES);
	return ok ? PASS : FAIL;
}

struct racer {
	pthread_barrier_t *barrier;
	char *mem;
	int ret;
};

static void *race_start(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->ret = lt_start(gfd, (uintptr_t)r->mem, NR_PAGES * pagesize,
			  PIN_LONGTERM_TEST_FLAG_USE_WRITE);
	return NULL;
}

/*
 * Two threads START at the same moment, on ranges of their own: the mutex
 * lets exactly one pin, the other finds the set held (EINVAL); READ then
 * sees the winner's pages, and the loser pinned nothing.
 */
static enum result start_race(const char **why)
{
	pthread_barrier_t barrier;
	struct racer r[2] = {
		{ &barrier, anon_pages(NR_PAGES, 0x11), -1 },
		{ &barrier, anon_pages(NR_PAGES, 0x22), -1 },
	};
	unsigned int round, wins[2] = { 0, 0 };
	pthread_t t[2];
	bool ok = false;
	long base;
	int i;

	if (!pins_base(&base, why))
		return SKIP;
	if (!r[0].mem || !r[1].mem)
		goto out;
	if (pthread_barrier_init(&barrier, NULL, 2)) {
		ksft_print_msg("pthread_barrier_init() failed\n");
		goto out;
	}
	ok = true;
	for (round = 0; ok && round < RACE_ROUNDS; round++) {
		for (i = 0; i < 2; i++) {
			r[i].ret = -1;
			if (pthread_create(&t[i], NULL, race_start, &r[i])) {
				ksft_print_msg("pthread_create() failed\n");
				if (i) {
					/* Be the first thread's partner, then let it finish. */
					pthread_barrier_wait(&barrier);
					pthread_join(t[0], NULL);
				}
				ok = false;
				break;
			}
		}
		if (!ok)
			break;
		pthread_join(t[0], NULL);
		pthread_join(t[1], NULL);
		if (r[0].ret && r[1].ret) {
			ksft_print_msg("round %u: both STARTs failed: %s, %s\n", round,
				       err_name(r[0].ret), err_name(r[1].ret));
			ok = false;
			break;
		}
		if (!r[0].ret && !r[1].ret) {
			ksft_print_msg("round %u: both STARTs succeeded\n", round);
			ok = false;
			break;
		}
		i = r[0].ret ? 1 : 0;	/* the winner */
		wins[i]++;
		ok = expect_ret(r[!i].ret, -EINVAL, "the losing START");
		ok &= pins_come_to(base + NR_PAGES, "with the winner's pins held");
		ok &= reads_back(gfd, NR_PAGES, i ? 0x22 : 0x11, "with the winner's pins held");
		ok &= expect_ret(lt_stop(gfd), 0, "STOP");
		ok &= pins_come_to(base, "after STOP");
	}
	pthread_barrier_destroy(&barrier);
	if (ok)
		ksft_print_msg("%u rounds: thread 1 won %u, thread 2 won %u\n",
			       RACE_ROUNDS, wins[0], wins[1]);
out:
	ok &= cleanup(base);
	unmap_pages(r[0].mem, NR_PAGES);
	unmap_pages(r[1].mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

/* ---- STOP and READ without a set ---- */

/*
 * STOP with nothing held is a no-op that succeeds, as in mainline: it
 * means "hold no pins", and forkpin's probe (pin_open()) relies on it.
 * A STOP after a STOP drops nothing twice.
 */
static enum result stop_without_start(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11);
	bool ok = false;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		goto out;
	ok = expect_ret(lt_stop(gfd), 0, "STOP with nothing held");
	ok &= expect_ret(lt_stop(gfd), 0, "a second STOP with nothing held");
	ok &= none_held(base, "after STOP without START");
	/* The state is unchanged: a START works, and one STOP drops it all. */
	if (!expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize, 0), 0,
			"START after STOP without START")) {
		ok = false;
		goto out;
	}
	ok &= pins_come_to(base + NR_PAGES, "after START");
	ok &= expect_ret(lt_stop(gfd), 0, "STOP");
	ok &= pins_come_to(base, "after STOP");
	ok &= expect_ret(lt_stop(gfd), 0, "a STOP after that STOP");
	ok &= none_held(base, "after a STOP after STOP");
out:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

/*
 * READ with nothing held fails with EINVAL, as in mainline: there is no
 * data, and no size for the buffer. Checked before the argument is read,
 * and after a START/STOP (no stale page array).
 */
static enum result read_without_start(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11), *buf = read_buf(NR_PAGES);
	bool ok = false;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem || !buf)
		goto out;
	memset(buf, 0x5a, NR_PAGES * pagesize);
	ok = expect_ret(lt_read(gfd, buf), -EINVAL, "READ before any START");
	ok &= expect_ret(ioctl(gfd, PIN_LONGTERM_TEST_READ, NULL) ? -errno : 0, -EINVAL,
			 "READ with a NULL argument and nothing held");
	if (!expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize, 0), 0, "START") ||
	    !expect_ret(lt_stop(gfd), 0, "STOP")) {
		ok = false;
		goto out;
	}
	ok &= expect_ret(lt_read(gfd, buf), -EINVAL, "READ after START and STOP");
	ok &= expect_bytes("the buffer of the refused READs", buf, NR_PAGES * pagesize, 0x5a);
	ok &= pins_come_to(base, "after the READs");
out:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	unmap_pages(buf, NR_PAGES + 1);
	return ok ? PASS : FAIL;
}

/* ---- READ into a bad buffer: EFAULT, the pins stay ---- */

/* copy_to_user() into a PROT_READ mapping fails: EFAULT, pins kept. */
static enum result read_readonly_buffer(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11), *ro = NULL;
	bool ok = false;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	ro = mmap(NULL, NR_PAGES * pagesize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED) {
		ksft_print_msg("mmap(PROT_READ) failed: %s\n", strerror(errno));
		ro = NULL;
		goto out;
	}
	if (!mem || !expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize,
					 PIN_LONGTERM_TEST_FLAG_USE_WRITE), 0, "START"))
		goto out;
	ok = expect_ret(lt_read(gfd, ro), -EFAULT, "READ into a PROT_READ mapping");
	ok &= expect_bytes("the PROT_READ buffer", ro, NR_PAGES * pagesize, 0);
	ok &= pins_come_to(base + NR_PAGES, "after the failed READ");
	ok &= reads_back(gfd, NR_PAGES, 0x11, "after the failed READ");
	ok &= expect_ret(lt_stop(gfd), 0, "STOP");
	ok &= none_held(base, "after STOP");
out:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	unmap_pages(ro, NR_PAGES);
	return ok ? PASS : FAIL;
}

/*
 * A buffer whose second page is a hole (pin_fork checks a wholly unmapped
 * one): EFAULT when the copy reaches the hole, pins kept.
 */
static enum result read_partly_unmapped(const char **why)
{
	char *mem = anon_pages(2, 0x11), *buf = NULL;
	bool ok = false;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	buf = mmap(NULL, 2 * pagesize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		buf = NULL;
		goto out;
	}
	munmap(buf + pagesize, pagesize);
	if (!mem || !expect_ret(lt_start(gfd, (uintptr_t)mem, 2 * pagesize, 0), 0, "START"))
		goto out;
	ok = expect_ret(lt_read(gfd, buf), -EFAULT,
			"READ of two pages into a buffer whose second page is unmapped");
	ok &= pins_come_to(base + 2, "after the failed READ");
	ok &= reads_back(gfd, 2, 0x11, "after the failed READ");
	ok &= expect_ret(lt_stop(gfd), 0, "STOP");
	ok &= none_held(base, "after STOP");
out:
	ok &= cleanup(base);
	unmap_pages(mem, 2);
	unmap_pages(buf, 1);
	return ok ? PASS : FAIL;
}

/* An argument pointer that cannot be read: EFAULT, state unchanged. */
static enum result null_argument(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11);
	bool ok = false;
	long base;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem)
		goto out;
	ok = expect_ret(ioctl(gfd, PIN_LONGTERM_TEST_START, NULL) ? -errno : 0, -EFAULT,
			"START with a NULL argument");
	ok &= none_held(base, "after START with a NULL argument");
	if (!expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize, 0), 0, "START")) {
		ok = false;
		goto out;
	}
	ok &= expect_ret(ioctl(gfd, PIN_LONGTERM_TEST_READ, NULL) ? -errno : 0, -EFAULT,
			 "READ with a NULL argument and pins held");
	ok &= pins_come_to(base + NR_PAGES, "after READ with a NULL argument");
	ok &= reads_back(gfd, NR_PAGES, 0x11, "after READ with a NULL argument");
	ok &= expect_ret(lt_stop(gfd), 0, "STOP");
	ok &= none_held(base, "after STOP");
out:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

/* ---- who owns the pins: the open file ---- */

static int open_gup_test(void)
{
	int fd = open(GUP_TEST_FILE, O_RDWR);

	if (fd < 0)
		ksft_print_msg("open(%s) failed: %s\n", GUP_TEST_FILE, strerror(errno));
	return fd;
}

/*
 * A test that closes (or dies with) its file while holding pins leaks
 * none: release drops them.
 */
static enum result close_with_pins(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11);
	bool ok = false;
	long base;
	int fd;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem || (fd = open_gup_test()) < 0)
		goto out;
	if (!expect_ret(lt_start(fd, (uintptr_t)mem, NR_PAGES * pagesize,
				 PIN_LONGTERM_TEST_FLAG_USE_WRITE), 0, "START") ||
	    !pins_come_to(base + NR_PAGES, "after START")) {
		close(fd);
		goto out;
	}
	close(fd);
	ok = pins_come_to(base, "after close() of the file holding the pins");
	ok &= none_held(base, "after close() of the file holding the pins");
	/* And a new set can be started: nothing is held any more. */
	ok &= expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize, 0), 0,
			 "START after the close()");
	ok &= pins_come_to(base + NR_PAGES, "after START");
out:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

/*
 * Another open file of gup_test (another test's probe, a shell's
 * redirection) comes and goes: its release must not drop pins it does
 * not own. Mainline's release drops them whoever closes, and without
 * the mutex.
 */
static enum result close_other_file(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11);
	bool ok = false;
	long base;
	int fd;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem || !expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize, 0), 0,
				"START"))
		goto out;
	fd = open_gup_test();
	if (fd < 0)
		goto out;
	close(fd);
	ok = pins_stay(base + NR_PAGES, "after close() of another gup_test file");
	ok &= reads_back(gfd, NR_PAGES, 0x11, "after close() of another gup_test file");
	ok &= expect_ret(lt_stop(gfd), 0, "STOP");
	ok &= none_held(base, "after STOP");
out:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

/* A child of a case: dies with the program, never outlives it. */
static void case_child(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* The child's exit status; false (said why) if it failed. */
static bool child_passed(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("waitpid() failed: %s\n", strerror(errno));
		return false;
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	ksft_print_msg("the child %s (status %#x)\n", what, status);
	return false;
}

/*
 * fork() with pins held: the child's gfd is the same open file. Its READ
 * reads the pinned pages - the parent's, not its own copy - and its STOP
 * drops the pins, for the parent too. Pins and page array go once.
 */
static enum result fork_child_uses_file(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11);
	struct comm_pipes cp;
	bool ok = false;
	long base;
	pid_t pid;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem || !comm_pipes_setup(&cp))
		goto out_unmap;
	if (!expect_ret(lt_start(gfd, (uintptr_t)mem, NR_PAGES * pagesize,
				 PIN_LONGTERM_TEST_FLAG_USE_WRITE), 0, "START") ||
	    !pins_come_to(base + NR_PAGES, "after START"))
		goto out;
	fflush(stdout);
	pid = fork();
	if (!pid) {
		bool cok;

		case_child();
		comm_pipes_keep(&cp, true);
		if (comm_hear(cp.to_child[0], HANDSHAKE_MS) != 'g')
			_exit(2);
		/* The parent wrote 0x22 to its pinned pages; ours are a copy. */
		cok = expect_bytes("the child's own memory", mem, NR_PAGES * pagesize, 0x11);
		cok &= reads_back(gfd, NR_PAGES, 0x22, "the child's READ");
		cok &= expect_ret(lt_stop(gfd), 0, "the child's STOP");
		cok &= expect_ret(lt_read(gfd, mem), -EINVAL, "the child's READ after its STOP");
		_exit(cok ? 0 : 1);
	}
	comm_pipes_keep(&cp, false);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	memset(mem, 0x22, NR_PAGES * pagesize);
	if (!comm_tell(cp.to_child[1], 'g')) {
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
		kill_child(pid);
		goto out;
	}
	ok = child_passed(pid, "did not read the parent's pages or could not STOP");
	ok &= none_held(base, "after the child's STOP");
	ok &= expect_ret(lt_stop(gfd), 0, "the parent's STOP after the child's");
out:
	comm_pipes_close(&cp);
out_unmap:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

/*
 * fork() with pins held on a file both then close: the pins stay while
 * either process still has the file open - the child can still READ them
 * after the parent closed - and go at the last close, whoever makes it.
 */
static enum result fork_last_close(const char **why)
{
	char *mem = anon_pages(NR_PAGES, 0x11);
	struct comm_pipes cp;
	bool ok = false;
	long base;
	pid_t pid = -1;
	int fd = -1;

	if (!pins_base(&base, why))
		return SKIP;
	if (!mem || !comm_pipes_setup(&cp))
		goto out_unmap;
	fd = open_gup_test();
	if (fd < 0)
		goto out;
	if (!expect_ret(lt_start(fd, (uintptr_t)mem, NR_PAGES * pagesize, 0), 0, "START") ||
	    !pins_come_to(base + NR_PAGES, "after START"))
		goto out;
	fflush(stdout);
	pid = fork();
	if (!pid) {
		bool cok;

		case_child();
		comm_pipes_keep(&cp, true);
		/* 'r': read through the file the parent has closed. */
		if (comm_hear(cp.to_child[0], HANDSHAKE_MS) != 'r')
			_exit(2);
		cok = reads_back(fd, NR_PAGES, 0x11, "the child's READ after the parent's close()");
		if (!comm_tell(cp.to_parent[1], cok ? 'y' : 'n'))
			_exit(2);
		/* 'c': close it, the last reference. */
		if (comm_hear(cp.to_child[0], HANDSHAKE_MS) != 'c')
			_exit(2);
		close(fd);
		comm_tell(cp.to_parent[1], 'd');
		_exit(cok ? 0 : 1);
	}
	comm_pipes_keep(&cp, false);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	ok = pins_stay(base + NR_PAGES,
		       "after the parent's close(), the child still has the file open");
	if (!comm_tell(cp.to_child[1], 'r') || comm_hear(cp.to_parent[0], HANDSHAKE_MS) != 'y') {
		ksft_print_msg("the child could not READ the pins after the parent's close()\n");
		ok = false;
	}
	if (!comm_tell(cp.to_child[1], 'c') || comm_hear(cp.to_parent[0], HANDSHAKE_MS) != 'd') {
		ksft_print_msg("the child did not close the file\n");
		ok = false;
	}
	ok &= pins_come_to(base, "after the child's close(), the last one");
	ok &= child_passed(pid, "failed");
	pid = -1;
	ok &= none_held(base, "after both close()d the file");
out:
	kill_child(pid);
	if (fd >= 0)
		close(fd);
	comm_pipes_close(&cp);
out_unmap:
	ok &= cleanup(base);
	unmap_pages(mem, NR_PAGES);
	return ok ? PASS : FAIL;
}

static const struct test_case cases[] = {
	{ "PIN_LONGTERM_TEST_START at an unaligned address fails with EINVAL, pins nothing",
	  start_unaligned_addr },
	{ "PIN_LONGTERM_TEST_START of an unaligned size fails with EINVAL, pins nothing",
	  start_unaligned_size },
	{ "PIN_LONGTERM_TEST_START of a range that wraps past 2^64 fails with EINVAL, pins nothing",
	  start_wraps },
	{ "PIN_LONGTERM_TEST_START of size 0 fails with EINVAL, pins nothing",
	  start_size_zero },
	{ "PIN_LONGTERM_TEST_START of sizes up to ~0 fails with EINVAL, no kernel warning, pins nothing",
	  start_huge_size },
	{ "PIN_LONGTERM_TEST_START with unknown flags fails with EINVAL, pins nothing",
	  start_unknown_flags },
	{ "PIN_LONGTERM_TEST_START twice fails with EINVAL, the first pins stay and READ sees them",
	  start_twice },
	{ "two threads PIN_LONGTERM_TEST_START at once: exactly one pins, the other gets EINVAL",
	  start_race },
	{ "PIN_LONGTERM_TEST_STOP without START succeeds and changes nothing",
	  stop_without_start },
	{ "PIN_LONGTERM_TEST_READ without START fails with EINVAL",
	  read_without_start },
	{ "PIN_LONGTERM_TEST_READ into a PROT_READ buffer fails with EFAULT, the pins stay",
	  read_readonly_buffer },
	{ "PIN_LONGTERM_TEST_READ into a partly unmapped buffer fails with EFAULT, the pins stay",
	  read_partly_unmapped },
	{ "PIN_LONGTERM_TEST_START and READ with a NULL argument fail with EFAULT",
	  null_argument },
	{ "close() of the gup_test file holding pins releases them",
	  close_with_pins },
	{ "close() of another gup_test file leaves the pins held",
	  close_other_file },
	{ "fork() with pins held: the child's READ sees the parent's pages, its STOP drops them for both",
	  fork_child_uses_file },
	{ "fork() with pins held: the pins stay until the last close() of the shared file",
	  fork_last_close },
};

int main(void)
{
	const char *missing = NULL;

	mem_init();
	if (!pin_open(&missing)) {
		gfd = open(GUP_TEST_FILE, O_RDWR);
		if (gfd < 0)
			missing = "cannot open " GUP_TEST_FILE " a second time";
	}
	run_cases(cases, ARRAY_SIZE(cases), missing, true, CASE_TIMEOUT);
}
