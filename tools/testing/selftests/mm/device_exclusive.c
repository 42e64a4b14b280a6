// SPDX-License-Identifier: GPL-2.0
/*
 * device_exclusive - anonymous memory a device holds atomically
 * (device-exclusive entries) stays accounted, reclaimable and migratable,
 * page by page.
 *
 * A driver that needs atomic access to an anonymous page (nouveau's SVM
 * atomics) calls make_device_exclusive(): the CPU's PTE becomes a
 * non-present "device-exclusive" entry, the device programs its own page
 * table under an MMU notifier, and a CPU access restores the PTE, the
 * notifier revoking the device's access. lib/test_hmm (CONFIG_TEST_HMM,
 * /dev/hmm_dmirror0) plays the device: HMM_DMIRROR_EXCLUSIVE makes a
 * range device-exclusive (EBUSY if any page of it could not be),
 * HMM_DMIRROR_CHECK_EXCLUSIVE fails with EPERM while a page of the range
 * is still atomic on the device, so 0 there means "the device lost
 * access".
 *
 * The invariants: the page behind a device-exclusive entry is still
 * mapped - it keeps its mapcount (pagemap PM_MMAP_EXCLUSIVE,
 * /proc/kpagecount 1) and its reference - so reclaim and migration can
 * unmap it like any mapped page, the device losing its access when they
 * do; one request converts exactly the PTE of the page asked for, so a
 * THP stays a THP and each of its pages can be made exclusive; a folio
 * lock held elsewhere (reclaim) is waited for, not answered with EBUSY;
 * and no data is ever lost.
 *
 * Mainline fixed this with David Hildenbrand's series "mm: fixes for
 * device-exclusive entries (hmm)" (v6.15; with his "mm: device exclusive
 * memory cleanups" before it). Linux 6.1.192 has the bugs, which the
 * forkpin series fixes:
 *  1. page_make_device_exclusive_one() calls page_remove_rmap() but keeps
 *     the reference: with folio_mapped() false and a raised refcount,
 *     reclaim writes the page to swap and cannot free it (memcg
 *     memory.reclaim frees nothing), migration fails (soft offline:
 *     EBUSY), pagemap lacks PM_MMAP_EXCLUSIVE, /proc/kpagecount is 0.
 *  2. The whole folio is converted: the head page of a PTE-mapped THP
 *     converts all its PTEs, a tail page is refused, so test_hmm answers
 *     EBUSY on any THP (and leaves its PTEs device-exclusive).
 *  3. folio_trylock(): a contended folio lock (reclaim) gives EBUSY.
 *
 * The cases (each asserts on the state a fixed kernel must show):
 *  - memcg reclaim: 16 MiB of exclusive order-0 pages in a cgroup of
 *    their own, memory.reclaim: half or more must leave Rss, every page
 *    reclaim unmapped is lost to the device, the data reads back (bug 1).
 *  - pagemap while exclusive: 6.1's pte_to_pagemap_entry() reports the
 *    non-present entry as PM_SWAP with the PFN as its swap offset, and
 *    sets PM_MMAP_EXCLUSIVE for any entry whose page has mapcount 1; so
 *    the PFN, PM_MMAP_EXCLUSIVE and /proc/kpagecount 1 (bug 1).
 *  - soft offline of an exclusive page: it migrates (bug 1).
 *  - all 512 pages of a THP exclusive: success, still a THP (bug 2).
 *  - soft offline of a page of a partly exclusive THP, and exclusive
 *    requests racing MADV_PAGEOUT (no EBUSY, bug 3): only where a probe
 *    shows that one page of a THP can be made exclusive (the fixed
 *    kernel), as 6.1's rmap walkers (try_to_migrate_one() in the split
 *    and the migration) take a device-exclusive entry for a present PTE.
 *  - guards, passing on 6.1 already: fork(), R/W long-term pin and
 *    fork(), munmap(), MADV_DONTNEED, exit, UFFDIO_WRITEPROTECT and
 *    clear_refs soft-dirty clear while exclusive.
 * On 6.1 the cases that show the bugs fail in ways that cannot crash it:
 * the PTEs of the THP are restored right after the EBUSY, and nothing
 * makes an rmap walker meet a device-exclusive entry. Every case runs in
 * its own process with a deadline, marks its start in the kernel log and
 * fails on a kernel splat logged meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>
#include <linux/userfaultfd.h>

#include "../../../../lib/test_hmm_uapi.h"
#include "mem_util.h"
#include "pin_util.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define DMIRROR		"/dev/hmm_dmirror0"
#define SOFT_OFFLINE	"/sys/devices/system/memory/soft_offline_page"
#define CG_NAME		"forkpin-device-exclusive"

#define CASE_TIMEOUT	40	/* s, one case in its own process (plus the race) */
#define RACE_SECONDS	(3 * scale)
#define EBUSY_TRIES	10	/* exclusive requests where EBUSY is not the point */
#define RECLAIM_MB	16
#define GUARD_PAGES	4

#define VAL_INIT	0x11
#define VAL_PARENT	0x22
#define VAL_CHILD	0x33

/* pagemap of a swap-type PTE: bits 0-4 the type, 5-54 the offset (the PFN here). */
#define SWP_TYPE_BITS	5

static const char *gup_missing;		/* why gup_test pins are unavailable */
static const char *uffd_missing;	/* why uffd-wp is unavailable */
static const char *thp_single_missing;	/* why one page of a THP cannot be exclusive */

/* ---- the device: test_hmm ---- */

struct dev {
	int fd;
	char *buf;		/* what the device read, HMM_DMIRROR_EXCLUSIVE's ptr */
	size_t buf_pages;
};

/* Opens the device for this process (test_hmm mirrors the opener's mm). */
static bool dev_open(struct dev *d)
{
	d->buf = NULL;
	d->buf_pages = 0;
	d->fd = open(DMIRROR, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		ksft_print_msg("cannot open %s: %s\n", DMIRROR, strerror(errno));
	return d->fd >= 0;
}

static void dev_close(struct dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	if (d->buf)
		munmap(d->buf, d->buf_pages * pagesize);
	d->fd = -1;
	d->buf = NULL;
}

/* A buffer for the device's copy of @npages, faulted in now. */
static bool dev_buf(struct dev *d, size_t npages)
{
	if (d->buf_pages >= npages)
		return true;
	if (d->buf)
		munmap(d->buf, d->buf_pages * pagesize);
	d->buf_pages = 0;
	d->buf = mmap(NULL, npages * pagesize, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->buf == MAP_FAILED) {
		d->buf = NULL;
		ksft_print_msg("mmap() of the device buffer failed: %s\n", strerror(errno));
		return false;
	}
	madvise(d->buf, npages * pagesize, MADV_NOHUGEPAGE);
	memset(d->buf, 0, npages * pagesize);
	d->buf_pages = npages;
	return true;
}

/*
 * One HMM_DMIRROR_EXCLUSIVE request for @npages at @mem: 0 or the errno.
 * On success the device's copy of the pages is in d->buf.
 */
static int dev_exclusive_once(struct dev *d, void *mem, size_t npages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)mem,
		.npages = npages,
	};

	if (!dev_buf(d, npages))
		return ENOMEM;
	cmd.ptr = (uintptr_t)d->buf;
	if (ioctl(d->fd, HMM_DMIRROR_EXCLUSIVE, &cmd))
		return errno;
	if (cmd.cpages != npages) {
		ksft_print_msg("HMM_DMIRROR_EXCLUSIVE: the device read %llu pages of %zu\n",
			       (unsigned long long)cmd.cpages, npages);
		return EIO;
	}
	return 0;
}

/*
 * dev_exclusive - make @npages at @mem device-exclusive, asking again on
 * EBUSY up to @tries times (where a spurious EBUSY is not what the case
 * is about). Returns 0 or the last errno, after saying what failed.
 */
static int dev_exclusive(struct dev *d, void *mem, size_t npages, unsigned int tries)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < tries; i++) {
		err = dev_exclusive_once(d, mem, npages);
		if (err != EBUSY)
			break;
	}
	if (err)
		ksft_print_msg("HMM_DMIRROR_EXCLUSIVE of %zu pages at %p failed: %s%s\n",
			       npages, mem, strerror(err),
			       err == EBUSY ? " (every try)" : "");
	return err;
}

/*
 * HMM_DMIRROR_CHECK_EXCLUSIVE: 0 if the device lost access to every page,
 * else the errno (EPERM: a page is still atomic on the device).
 */
static int dev_check(struct dev *d, void *mem, size_t npages)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)mem,
		.npages = npages,
	};

	return ioctl(d->fd, HMM_DMIRROR_CHECK_EXCLUSIVE, &cmd) ? errno : 0;
}

/* The device still holds the pages (EPERM); says what was seen if not. */
static bool dev_holds(struct dev *d, void *mem, size_t npages, const char *when)
{
	int err = dev_check(d, mem, npages);

	if (err == EPERM)
		return true;
	ksft_print_msg("%s: HMM_DMIRROR_CHECK_EXCLUSIVE returned %s, expected EPERM (the device holds the pages)\n",
		       when, err ? strerror(err) : "0");
	return false;
}

/* The device lost access to the pages (0); says what was seen if not. */
static bool dev_lost(struct dev *d, void *mem, size_t npages, const char *when)
{
	int err = dev_check(d, mem, npages);

	if (!err)
		return true;
	ksft_print_msg("%s: HMM_DMIRROR_CHECK_EXCLUSIVE returned %s, expected 0 (the device lost access)\n",
		       when,
		       err == EPERM ? "EPERM (the device still holds a page)" : strerror(err));
	return false;
}

/* ---- data ---- */

/* Word @w of page @p of a pattern: page and word numbers, so moved or lost pages show. */
static uint64_t pat_word(uint8_t seed, size_t p, size_t w)
{
	return ((uint64_t)seed << 56) | ((uint64_t)p << 20) | w;
}

/* Pages [first, first + n) of the pattern, at @mem (page @first's address). */
static void pat_fill(char *mem, size_t first, size_t n, uint8_t seed)
{
	size_t words = pagesize / 8, p, w;

	for (p = 0; p < n; p++) {
		uint64_t *page = (uint64_t *)(mem + p * pagesize);

		for (w = 0; w < words; w++)
			page[w] = pat_word(seed, first + p, w);
	}
}

static bool pat_check(const char *what, const char *mem, size_t first, size_t n, uint8_t seed)
{
	size_t words = pagesize / 8, p, w;

	for (p = 0; p < n; p++) {
		const volatile uint64_t *page = (const uint64_t *)(mem + p * pagesize);

		for (w = 0; w < words; w++) {
			uint64_t v = page[w], want = pat_word(seed, first + p, w);

			if (v != want) {
				ksft_print_msg("%s: page %zu word %zu is %#llx, expected %#llx\n",
					       what, first + p, w, (unsigned long long)v,
					       (unsigned long long)want);
				return false;
			}
		}
	}
	return true;
}

/* Reads a byte of every page: restores device-exclusive PTEs (the CPU takes the pages back). */
static void touch(const char *mem, size_t n)
{
	size_t p;

	for (p = 0; p < n; p++)
		(void)*(const volatile char *)(mem + p * pagesize);
}

/* ---- page state ---- */

/* An entry of /proc/kpagecount or /proc/kpageflags. */
static bool kpage_read(const char *file, uint64_t pfn, uint64_t *val)
{
	int fd = open(file, O_RDONLY);
	bool ok;

	if (fd < 0) {
		ksft_print_msg("cannot open %s: %s\n", file, strerror(errno));
		return false;
	}
	ok = pread(fd, val, sizeof(*val), pfn * sizeof(*val)) == sizeof(*val);
	if (!ok)
		ksft_print_msg("cannot read %s at PFN %#llx\n", file, (unsigned long long)pfn);
	close(fd);
	return ok;
}

/* The PFN of a present page (root), 0 if none. */
static uint64_t present_pfn(const void *addr)
{
	uint64_t ent = pagemap_entry(addr);

	return ent & PM_PRESENT ? ent & PM_PFN_MASK : 0;
}

/*
 * A device-exclusive entry is a swap-type PTE: pagemap (6.1 and mainline)
 * reports it PM_SWAP, not PM_PRESENT, with the PFN as its swap offset.
 * True if @ent is that entry for @pfn.
 */
static bool is_exclusive_entry(uint64_t ent, uint64_t pfn)
{
	return !(ent & PM_PRESENT) && (ent & PM_SWAP) &&
	       ((ent & PM_PFN_MASK) >> SWP_TYPE_BITS) == pfn;
}

/* The PFNs of @n present pages; says why if one is not present. */
static bool read_pfns(const char *mem, size_t n, uint64_t *pfn)
{
	size_t p;

	if (!read_pagemap(mem, n, pfn)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		return false;
	}
	for (p = 0; p < n; p++) {
		if (!(pfn[p] & PM_PRESENT) || !(pfn[p] & PM_PFN_MASK)) {
			ksft_print_msg("page %zu is not present or has no PFN (pagemap %#llx; need root)\n",
				       p, (unsigned long long)pfn[p]);
			return false;
		}
		pfn[p] &= PM_PFN_MASK;
	}
	return true;
}

/* ---- memory ---- */

/* @n order-0 anonymous pages, their own VMA (PROT_NONE guard pages around it). */
static char *map_pages(size_t n)
{
	char *res = mmap(NULL, (n + 2) * pagesize, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (res == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return NULL;
	}
	if (mprotect(res + pagesize, n * pagesize, PROT_READ | PROT_WRITE)) {
		ksft_print_msg("mprotect() failed: %s\n", strerror(errno));
		munmap(res, (n + 2) * pagesize);
		return NULL;
	}
	madvise(res + pagesize, n * pagesize, MADV_NOHUGEPAGE);
	return res + pagesize;
}

static void unmap_pages(char *mem, size_t n)
{
	if (mem)
		munmap(mem - pagesize, (n + 2) * pagesize);
}

/* A PMD-aligned THP filled with the pattern; NULL and *why if none. */
static char *map_thp(struct region *r, uint8_t seed, const char **why)
{
	if (!thpsize) {
		*why = "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
		return NULL;
	}
	if (map_anon(r, thpsize, thpsize, 0)) {
		*why = "mmap() failed";
		return NULL;
	}
	madvise(r->mem, thpsize, MADV_HUGEPAGE);
	pat_fill(r->mem, 0, thpsize / pagesize, seed);
	if (!page_has_kflag(r->mem, KPF_THP)) {
		*why = "could not get a THP (THP disabled or memory fragmented?)";
		return NULL;
	}
	return r->mem;
}

/* ---- soft offline ---- */

/* Soft-offlines the page at PFN @pfn: 0 or the errno of the write. */
static int soft_offline(uint64_t pfn)
{
	char val[32];
	int fd, err = 0;
	ssize_t len;

	snprintf(val, sizeof(val), "0x%llx", (unsigned long long)(pfn * pagesize));
	fd = open(SOFT_OFFLINE, O_WRONLY);
	if (fd < 0)
		return errno;
	len = strlen(val);
	if (write(fd, val, len) != len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

static const char *soft_offline_missing(void)
{
	return access(SOFT_OFFLINE, W_OK) ?
	       "no " SOFT_OFFLINE " (needs CONFIG_MEMORY_FAILURE and root)" : NULL;
}

/* ---- memcg ---- */

/*
 * A child cgroup of ours with the memory controller and memory.reclaim,
 * in @cg; NULL or why not (a skip).
 */
static const char *cg_create(const char *parent, char *cg, size_t size)
{
	char path[700];
	const char *why = memcg_create(parent, CG_NAME, cg, size);

	if (why)
		return why;
	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	if (access(path, W_OK)) {
		rmdir(cg);
		cg[0] = 0;
		return "no memory.reclaim in a child cgroup (need CONFIG_MEMCG, v5.19+)";
	}
	return NULL;
}

/* Writes @val to memory.reclaim: 0 or the errno (EAGAIN: less was reclaimed). */
static int cg_reclaim(const char *cg, const char *val)
{
	char path[600];
	ssize_t len = strlen(val);
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, val, len) != len)
		err = errno;
	close(fd);
	return err;
}

/* ---- the cases ---- */

/*
 * memcg reclaim of device-exclusive order-0 pages: reclaim must unmap
 * them (the device loses access) and free them; on 6.1 it writes them
 * to swap and frees nothing (bug 1).
 */
static enum result memcg_reclaim(const char **why)
{
	const size_t n = (RECLAIM_MB << 20) / pagesize;
	char parent[512], cg[600] = "", *mem = NULL;
	size_t p, changed = 0, changed_held = 0, first_held = 0;
	long rss_before, rss_after = -1, cur_before, cur_after, swap_before, swap_after;
	uint64_t *ent = NULL, *now = NULL;
	enum result res = FAIL;
	bool joined = false;
	int err = 0, tries;
	struct dev d;

	if (!dev_open(&d))
		return FAIL;
	if (!cg_self(parent, sizeof(parent))) {
		*why = "no cgroup2 line in /proc/self/cgroup (need cgroup2)";
		res = SKIP;
		goto out;
	}
	*why = cg_create(parent, cg, sizeof(cg));
	if (*why) {
		cg[0] = 0;
		res = SKIP;
		goto out;
	}
	/* Charged to the parent: only the region is charged to the cgroup. */
	ent = malloc(n * sizeof(*ent));
	now = malloc(n * sizeof(*now));
	if (!ent || !now || !dev_buf(&d, n)) {
		ksft_print_msg("malloc() failed\n");
		goto out;
	}
	memset(ent, 0, n * sizeof(*ent));
	memset(now, 0, n * sizeof(*now));
	if (!cg_join(cg))
		goto out;
	joined = true;
	mem = map_pages(n);
	if (!mem)
		goto out;
	pat_fill(mem, 0, n, 0xa1);
	if (dev_exclusive(&d, mem, n, EBUSY_TRIES))
		goto out;
	if (!pat_check("the device's copy", d.buf, 0, n, 0xa1) ||
	    !dev_holds(&d, mem, n, "after HMM_DMIRROR_EXCLUSIVE"))
		goto out;
	if (!read_pagemap(mem, n, ent)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		goto out;
	}
	rss_before = smaps_kb(mem, "Rss");
	cur_before = cg_kb(cg, "memory.current");
	swap_before = cg_kb(cg, "memory.swap.current");
	/* Up to three rounds: EAGAIN says less than asked was reclaimed. */
	for (tries = 1; tries <= 3; tries++) {
		err = cg_reclaim(cg, "16M");
		if (err && err != EAGAIN) {
			ksft_print_msg("writing 16M to memory.reclaim failed: %s\n", strerror(err));
			goto out;
		}
		rss_after = smaps_kb(mem, "Rss");
		if (rss_after >= 0 && rss_after <= (RECLAIM_MB << 10) / 2)
			break;
	}
	cur_after = cg_kb(cg, "memory.current");
	swap_after = cg_kb(cg, "memory.swap.current");
	if (!read_pagemap(mem, n, now)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		goto out;
	}
	/* A page whose entry changed was unmapped: the device must have lost it. */
	for (p = 0; p < n; p++) {
		if (now[p] == ent[p])
			continue;
		changed++;
		if (dev_check(&d, mem + p * pagesize, 1) && !changed_held++)
			first_held = p;
	}
	/* What happened: swapped out and freed, or written to swap and kept (6.1). */
	ksft_print_msg("memory.reclaim (%d round%s, last %s): Rss of the %d MiB exclusive region %ld kB before, %ld kB after; memory.current %ld kB -> %ld kB, memory.swap.current %ld kB -> %ld kB; %zu pages unmapped, %zu of them still held by the device\n",
		       tries > 3 ? 3 : tries, tries == 1 ? "" : "s", err ? strerror(err) : "ok",
		       RECLAIM_MB, rss_before, rss_after, cur_before, cur_after, swap_before,
		       swap_after, changed, changed_held);
	res = PASS;
	if (rss_after < 0 || rss_after > (RECLAIM_MB << 10) / 2) {
		ksft_print_msg("reclaim left %ld kB of the %d MiB region resident, expected at most %d kB (half or more reclaimed)\n",
			       rss_after, RECLAIM_MB, (RECLAIM_MB << 10) / 2);
		res = FAIL;
	}
	if (changed_held) {
		ksft_print_msg("reclaim unmapped %zu pages the device still holds (first: page %zu): the device must lose access\n",
			       changed_held, first_held);
		res = FAIL;
	}
	if (!pat_check("the region after reclaim", mem, 0, n, 0xa1))
		res = FAIL;
	else if (!dev_lost(&d, mem, n, "after the CPU read the region"))
		res = FAIL;
out:
	unmap_pages(mem, n);
	if (joined && !cg_join(parent))
		res = FAIL;
	if (cg[0] && rmdir(cg)) {
		ksft_print_msg("cannot remove the cgroup %s: %s\n", cg, strerror(errno));
		res = FAIL;
	}
	free(ent);
	free(now);
	dev_close(&d);
	return res;
}

/*
 * While exclusive, the page is still mapped: pagemap reports the
 * device-exclusive entry (not present, PM_SWAP, the PFN as its offset)
 * with PM_MMAP_EXCLUSIVE (6.1's pagemap sets it for any entry with a
 * page whose mapcount is 1), and /proc/kpagecount reads 1. On 6.1 the
 * mapcount was dropped: no PM_MMAP_EXCLUSIVE, kpagecount 0 (bug 1).
 */
static enum result pagemap_kpagecount(const char **why)
{
	const size_t n = GUARD_PAGES;
	uint64_t pfn[GUARD_PAGES], ent[GUARD_PAGES], count;
	enum result res = FAIL;
	char *mem = NULL;
	struct dev d;
	size_t p;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(n);
	if (!mem)
		goto out;
	pat_fill(mem, 0, n, 0xb2);
	if (!read_pfns(mem, n, pfn) || dev_exclusive(&d, mem, n, EBUSY_TRIES))
		goto out;
	/* Reading pagemap does not fault: the pages stay exclusive. */
	if (!read_pagemap(mem, n, ent)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		goto out;
	}
	if (!dev_holds(&d, mem, n, "after reading pagemap"))
		goto out;
	res = PASS;
	for (p = 0; p < n; p++) {
		if (!is_exclusive_entry(ent[p], pfn[p])) {
			ksft_print_msg("page %zu: pagemap %#llx, expected a device-exclusive entry (not present, PM_SWAP, offset = PFN %#llx)\n",
				       p, (unsigned long long)ent[p], (unsigned long long)pfn[p]);
			res = FAIL;
			continue;
		}
		if (!(ent[p] & PM_MMAP_EXCLUSIVE)) {
			ksft_print_msg("page %zu: pagemap %#llx lacks PM_MMAP_EXCLUSIVE: the page lost its mapcount while exclusive\n",
				       p, (unsigned long long)ent[p]);
			res = FAIL;
		}
		if (!kpage_read("/proc/kpagecount", pfn[p], &count)) {
			res = FAIL;
		} else if (count != 1) {
			ksft_print_msg("page %zu: /proc/kpagecount of PFN %#llx is %llu while exclusive, expected 1 (mapped once)\n",
				       p, (unsigned long long)pfn[p], (unsigned long long)count);
			res = FAIL;
		}
	}
	if (!pat_check("the pages after exclusive access", mem, 0, n, 0xb2) ||
	    !dev_lost(&d, mem, n, "after the CPU read the pages"))
		res = FAIL;
	/* Restored: mapped once, exclusive. */
	for (p = 0; p < n; p++) {
		uint64_t e = pagemap_entry(mem + p * pagesize);

		if (!(e & PM_PRESENT) || (e & PM_PFN_MASK) != pfn[p] || !(e & PM_MMAP_EXCLUSIVE)) {
			ksft_print_msg("page %zu after the CPU access: pagemap %#llx, expected present, PFN %#llx, PM_MMAP_EXCLUSIVE\n",
				       p, (unsigned long long)e, (unsigned long long)pfn[p]);
			res = FAIL;
		}
	}
out:
	unmap_pages(mem, n);
	dev_close(&d);
	return res;
}

/*
 * The mlock state goes with the mapping: a page made device-exclusive in
 * an mlock()ed range stays mlocked (6.1 munlocked it when it dropped the
 * mapcount, so reclaim could write an mlocked page to swap), munlock()
 * while it is exclusive reaches it, and so does mlock() (which then faults
 * it back in, populating the range). 32 pages: more than a per-CPU mlock
 * batch, so that what 6.1 does at conversion shows in kpageflags.
 */
#define MLOCK_PAGES 32
/* Exported by /proc/kpageflags, but not in the uapi header. */
#ifndef KPF_MLOCKED
#define KPF_MLOCKED 33
#endif

static bool expect_mlocked(const uint64_t *pfn, size_t n, bool want, const char *when)
{
	size_t p, wrong = 0;
	uint64_t flags;

	for (p = 0; p < n; p++) {
		if (!kpage_read("/proc/kpageflags", pfn[p], &flags))
			return false;
		if (!!(flags & (1ULL << KPF_MLOCKED)) != want)
			wrong++;
	}
	if (wrong)
		ksft_print_msg("%s: %zu of %zu pages have KPF_MLOCKED %s, expected %s\n",
			       when, wrong, n, want ? "clear" : "set", want ? "set" : "clear");
	return !wrong;
}

static enum result mlock_state(const char **why)
{
	const size_t n = MLOCK_PAGES;
	uint64_t pfn[MLOCK_PAGES];
	enum result res = FAIL;
	char *mem = NULL;
	struct dev d;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(n);
	if (!mem)
		goto out;
	pat_fill(mem, 0, n, 0xc4);
	if (mlock(mem, n * pagesize)) {
		ksft_print_msg("mlock: %s\n", strerror(errno));
		goto out;
	}
	if (!read_pfns(mem, n, pfn) || !expect_mlocked(pfn, n, true, "after mlock()") ||
	    dev_exclusive(&d, mem, n, EBUSY_TRIES))
		goto out;
	res = PASS;
	if (!expect_mlocked(pfn, n, true, "exclusive in an mlock()ed range"))
		res = FAIL;
	if (munlock(mem, n * pagesize)) {
		ksft_print_msg("munlock: %s\n", strerror(errno));
		res = FAIL;
		goto out;
	}
	/* munlock() does not fault: the pages must still be exclusive. */
	if (!dev_holds(&d, mem, n, "after munlock()") ||
	    !expect_mlocked(pfn, n, false, "after munlock() while exclusive"))
		res = FAIL;
	if (mlock(mem, n * pagesize)) {
		ksft_print_msg("mlock: %s\n", strerror(errno));
		res = FAIL;
		goto out;
	}
	if (!expect_mlocked(pfn, n, true, "after mlock() while exclusive") ||
	    !pat_check("the pages", mem, 0, n, 0xc4))
		res = FAIL;
	munlock(mem, n * pagesize);
out:
	unmap_pages(mem, n);
	dev_close(&d);
	return res;
}

/*
 * Soft offline migrates the page away: migration must unmap the
 * device-exclusive entry (the device loses access) and move the data to
 * a new page. On 6.1 it fails with EBUSY (bug 1).
 */
static enum result soft_offline_order0(const char **why)
{
	uint64_t pfn, after;
	enum result res = FAIL;
	char *mem = NULL;
	struct dev d;
	int err;

	*why = soft_offline_missing();
	if (*why)
		return SKIP;
	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(1);
	if (!mem)
		goto out;
	pat_fill(mem, 0, 1, 0xc3);
	if (!read_pfns(mem, 1, &pfn) || dev_exclusive(&d, mem, 1, EBUSY_TRIES) ||
	    !dev_holds(&d, mem, 1, "after HMM_DMIRROR_EXCLUSIVE"))
		goto out;
	err = soft_offline(pfn);
	res = PASS;
	if (err) {
		ksft_print_msg("soft offline of the device-exclusive page (PFN %#llx) failed: %s, expected success (the page migrated)\n",
			       (unsigned long long)pfn, strerror(err));
		res = FAIL;
	} else if (!dev_lost(&d, mem, 1, "after soft offline")) {
		res = FAIL;
	}
	if (!pat_check("the page after soft offline", mem, 0, 1, 0xc3))
		res = FAIL;
	after = present_pfn(mem);
	if (!err && after == pfn) {
		ksft_print_msg("the page still has PFN %#llx after a successful soft offline\n",
			       (unsigned long long)pfn);
		res = FAIL;
	}
out:
	unmap_pages(mem, 1);
	dev_close(&d);
	return res;
}

/*
 * All 512 pages of a THP exclusive: one request per page converts one
 * PTE, so the request succeeds and the folio stays a THP (the PMD is
 * split, the folio is not). On 6.1 the head page converts all 512 PTEs,
 * the tail pages are refused: EBUSY (bug 2). The PTEs left
 * device-exclusive then are restored right away.
 */
static enum result thp_all_pages(const char **why)
{
	const size_t n = thpsize / pagesize;
	struct region r = { .fd = -1 };
	uint64_t *pfn = NULL, *ent = NULL, flags;
	enum result res = FAIL;
	size_t p, bad = 0;
	struct dev d;
	int err;

	if (!dev_open(&d))
		return FAIL;
	if (!map_thp(&r, 0xd4, why)) {
		res = SKIP;
		goto out;
	}
	pfn = malloc(n * sizeof(*pfn));
	ent = malloc(n * sizeof(*ent));
	if (!pfn || !ent || !read_pfns(r.mem, n, pfn))
		goto out;
	err = dev_exclusive_once(&d, r.mem, n);
	if (err) {
		/* 6.1: the PTEs of the whole folio are device-exclusive now. */
		touch(r.mem, n);
		ksft_print_msg("HMM_DMIRROR_EXCLUSIVE of the 512 pages of a THP failed: %s, expected success (one PTE per page)\n",
			       strerror(err));
		pat_check("the THP after the failed request", r.mem, 0, n, 0xd4);
		goto out;
	}
	res = PASS;
	if (!pat_check("the device's copy", d.buf, 0, n, 0xd4))
		res = FAIL;
	if (!read_pagemap(r.mem, n, ent)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		res = FAIL;
		goto touch;
	}
	for (p = 0; p < n; p++) {
		if (!is_exclusive_entry(ent[p], pfn[p])) {
			if (!bad++)
				ksft_print_msg("page %zu of the THP: pagemap %#llx, expected the device-exclusive entry of PFN %#llx\n",
					       p, (unsigned long long)ent[p],
					       (unsigned long long)pfn[p]);
			continue;
		}
		if (!kpage_read("/proc/kpageflags", pfn[p], &flags)) {
			bad++;
		} else if (!(flags & (1ULL << KPF_THP))) {
			if (!bad++)
				ksft_print_msg("page %zu of the THP (PFN %#llx) is no longer part of a THP (kpageflags %#llx)\n",
					       p, (unsigned long long)pfn[p],
					       (unsigned long long)flags);
		}
	}
	if (bad) {
		ksft_print_msg("%zu of the %zu pages are not device-exclusive pages of the THP\n", bad, n);
		res = FAIL;
	}
	if (!dev_holds(&d, r.mem, n, "after reading pagemap and kpageflags"))
		res = FAIL;
touch:
	if (!pat_check("the THP after exclusive access", r.mem, 0, n, 0xd4) ||
	    !dev_lost(&d, r.mem, n, "after the CPU read the THP"))
		res = FAIL;
	if (!page_has_kflag(r.mem, KPF_THP) ||
	    !page_has_kflag(r.mem + thpsize - pagesize, KPF_THP)) {
		ksft_print_msg("the THP was split after the CPU took its pages back\n");
		res = FAIL;
	}
out:
	free(pfn);
	free(ent);
	region_free(&r);
	dev_close(&d);
	return res;
}

/*
 * Soft offline of an exclusive page inside a partly exclusive THP: the
 * THP is split (its device-exclusive entries unmapped and restored) and
 * the page migrated. Only where one page of a THP can be made exclusive:
 * 6.1 would walk the device-exclusive entries as present PTEs.
 */
static enum result thp_soft_offline(const char **why)
{
	const size_t first = 8, nr = 8, target = 12;
	struct region r = { .fd = -1 };
	enum result res = FAIL;
	uint64_t pfn, after;
	struct dev d;
	int err;

	*why = soft_offline_missing();
	if (*why)
		return SKIP;
	if (!dev_open(&d))
		return FAIL;
	if (!map_thp(&r, 0xe5, why)) {
		res = SKIP;
		goto out;
	}
	if (!read_pfns(r.mem + target * pagesize, 1, &pfn) ||
	    dev_exclusive(&d, r.mem + first * pagesize, nr, EBUSY_TRIES))
		goto out;
	if (!pat_check("the device's copy", d.buf, first, nr, 0xe5) ||
	    !dev_holds(&d, r.mem + first * pagesize, nr, "after HMM_DMIRROR_EXCLUSIVE"))
		goto out;
	err = soft_offline(pfn);
	res = PASS;
	if (err) {
		ksft_print_msg("soft offline of exclusive page %zu of a THP (PFN %#llx) failed: %s, expected success\n",
			       target, (unsigned long long)pfn, strerror(err));
		res = FAIL;
	} else if (!dev_lost(&d, r.mem + target * pagesize, 1, "after soft offline")) {
		res = FAIL;
	}
	if (!pat_check("the THP after soft offline", r.mem, 0, thpsize / pagesize, 0xe5) ||
	    !dev_lost(&d, r.mem, thpsize / pagesize, "after the CPU read the THP"))
		res = FAIL;
	after = present_pfn(r.mem + target * pagesize);
	if (!err && after == pfn) {
		ksft_print_msg("page %zu still has PFN %#llx after a successful soft offline\n",
			       target, (unsigned long long)pfn);
		res = FAIL;
	}
out:
	region_free(&r);
	dev_close(&d);
	return res;
}

/* The reclaim thread of the race: MADV_PAGEOUT until told to stop. */
struct pageout {
	char *mem;
	size_t size;
	volatile bool stop;
	unsigned long rounds;
	int err;
};

static void *pageout_fn(void *arg)
{
	struct pageout *po = arg;

	while (!po->stop) {
		if (madvise(po->mem, po->size, MADV_PAGEOUT)) {
			po->err = errno;
			break;
		}
		po->rounds++;
	}
	return NULL;
}

/*
 * Exclusive requests racing reclaim: reclaim holds the folio lock while
 * it writes a page out; make_device_exclusive() must wait for it, not
 * answer EBUSY (bug 3; the 6.1 code's folio_trylock()). Only where one
 * page of a THP can be made exclusive (the fixed code).
 */
static enum result race_reclaim(const char **why)
{
	const size_t n = 64 * scale;
	struct pageout po = { 0 };
	unsigned long requests = 0, ebusy = 0, lost = 0;
	enum result res = FAIL;
	bool data_ok = true;
	char *mem = NULL;
	pthread_t thread;
	struct dev d;
	time_t end;
	int err = 0;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(n);
	if (!mem || !dev_buf(&d, n))
		goto out;
	pat_fill(mem, 0, n, 0xf6);
	po.mem = mem;
	po.size = n * pagesize;
	if (pthread_create(&thread, NULL, pageout_fn, &po)) {
		ksft_print_msg("cannot start the reclaim thread\n");
		goto out;
	}
	end = time(NULL) + RACE_SECONDS;
	while (time(NULL) < end && data_ok) {
		err = dev_exclusive_once(&d, mem, n);
		requests++;
		if (err == EBUSY) {
			ebusy++;
		} else if (err == ENOENT) {
			/*
			 * Every page was made exclusive, but reclaim unmapped
			 * one before test_hmm read the range back through the
			 * device (its read-back finds no device mapping): the
			 * device lost it, as it must. Not an error.
			 */
			lost++;
			err = 0;
		} else if (err) {
			ksft_print_msg("HMM_DMIRROR_EXCLUSIVE failed: %s\n", strerror(err));
			break;
		} else {
			data_ok = pat_check("the device's copy", d.buf, 0, n, 0xf6);
		}
		/* The CPU takes the pages back (swapping in what reclaim wrote out). */
		if (data_ok)
			data_ok = pat_check("the pages", mem, 0, n, 0xf6);
	}
	po.stop = true;
	pthread_join(thread, NULL);
	ksft_print_msg("%lu exclusive requests of %zu pages in %u s, %lu EBUSY, %lu lost to reclaim before the read-back; %lu MADV_PAGEOUT rounds\n",
		       requests, n, RACE_SECONDS, ebusy, lost, po.rounds);
	res = PASS;
	if (po.err) {
		ksft_print_msg("MADV_PAGEOUT failed: %s\n", strerror(po.err));
		res = FAIL;
	}
	if (err && err != EBUSY)
		res = FAIL;
	if (!requests) {
		ksft_print_msg("no exclusive request was made\n");
		res = FAIL;
	}
	if (ebusy) {
		ksft_print_msg("%lu of %lu exclusive requests failed with EBUSY racing reclaim, expected none (the folio lock is waited for)\n",
			       ebusy, requests);
		res = FAIL;
	}
	if (!data_ok || !pat_check("the pages after the race", mem, 0, n, 0xf6))
		res = FAIL;
out:
	unmap_pages(mem, n);
	dev_close(&d);
	return res;
}

/* ---- guards ---- */

/* Fills @n pages with @val, makes them exclusive and checks the device holds them. */
static bool exclusive_bytes(struct dev *d, char *mem, size_t n, char val)
{
	memset(mem, val, n * pagesize);
	if (dev_exclusive(d, mem, n, EBUSY_TRIES))
		return false;
	if (!expect_bytes("the device's copy", d->buf, n * pagesize, val))
		return false;
	return dev_holds(d, mem, n, "after HMM_DMIRROR_EXCLUSIVE");
}

/* A child of a case process dies with it. */
static void case_child(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(CASE_TIMEOUT);
}

static int wait_status(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid ? status : -1;
}

/* fork() while exclusive: both see the data, then COW both ways. */
static enum result guard_fork(const char **why)
{
	const size_t n = GUARD_PAGES, size = n * pagesize;
	struct comm_pipes cp;
	enum result res = FAIL;
	char *mem = NULL;
	struct dev d;
	int status;
	pid_t pid;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(n);
	if (!mem || !exclusive_bytes(&d, mem, n, VAL_INIT) || !comm_pipes_setup(&cp))
		goto out;
	fflush(stdout);
	pid = fork();
	if (!pid) {
		case_child();
		comm_pipes_keep(&cp, true);
		if (!expect_bytes("the child's memory after fork()", mem, size, VAL_INIT))
			_exit(1);
		memset(mem, VAL_CHILD, size);
		if (!comm_tell(cp.to_parent[1], 'w') || !comm_hear(cp.to_child[0], 10000))
			_exit(2);
		_exit(expect_bytes("the child's memory after the parent's write", mem, size,
				   VAL_CHILD) ? 0 : 3);
	}
	comm_pipes_keep(&cp, false);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		comm_pipes_close(&cp);
		goto out;
	}
	res = PASS;
	if (comm_hear(cp.to_parent[0], 10000) != 'w') {
		ksft_print_msg("the child did not write within 10 s\n");
		res = FAIL;
	} else if (!expect_bytes("the parent's memory after the child's write", mem, size,
				 VAL_INIT)) {
		res = FAIL;
	}
	memset(mem, VAL_PARENT, size);
	if (!comm_tell(cp.to_child[1], 'g'))
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
	status = wait_status(pid);
	comm_pipes_close(&cp);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child failed (status %#x; 1: did not see the data, 3: saw the parent's write)\n",
			       status);
		res = FAIL;
	}
	if (!expect_bytes("the parent's memory after its write", mem, size, VAL_PARENT))
		res = FAIL;
out:
	unmap_pages(mem, n);
	dev_close(&d);
	return res;
}

/* R/W long-term pin, exclusive, fork(): the parent keeps the pinned page. */
static enum result guard_pin_fork(const char **why)
{
	enum result res = FAIL;
	bool pinned = false;
	char *mem = NULL;
	struct dev d;
	int status;
	pid_t pid;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(1);
	if (!mem)
		goto out;
	memset(mem, VAL_INIT, pagesize);
	if (pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	pinned = true;
	if (!exclusive_bytes(&d, mem, 1, VAL_INIT))
		goto out;
	fflush(stdout);
	pid = fork();
	if (!pid) {
		case_child();
		if (!expect_bytes("the child's memory after fork()", mem, pagesize, VAL_INIT))
			_exit(1);
		memset(mem, VAL_CHILD, pagesize);
		_exit(0);
	}
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	status = wait_status(pid);
	res = PASS;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child failed (status %#x)\n", status);
		res = FAIL;
	}
	if (!expect_bytes("the parent's memory after the child's write", mem, pagesize, VAL_INIT))
		res = FAIL;
	if (!pin_holds(pagesize, VAL_INIT)) {
		ksft_print_msg("the child's write reached the pinned page\n");
		res = FAIL;
	}
	memset(mem, VAL_PARENT, pagesize);
	if (!pin_holds(pagesize, VAL_PARENT)) {
		ksft_print_msg("the parent's write after fork() did not reach the pinned page: the parent lost it\n");
		res = FAIL;
	}
out:
	if (pinned)
		pin_stop();
	unmap_pages(mem, 1);
	dev_close(&d);
	return res;
}

/* munmap() while exclusive: the device loses access. */
static enum result guard_munmap(const char **why)
{
	enum result res = FAIL;
	char *mem;
	struct dev d;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(GUARD_PAGES);
	if (mem && exclusive_bytes(&d, mem, GUARD_PAGES, VAL_INIT)) {
		unmap_pages(mem, GUARD_PAGES);
		res = dev_lost(&d, mem, GUARD_PAGES, "after munmap()") ? PASS : FAIL;
		mem = NULL;
	}
	unmap_pages(mem, GUARD_PAGES);
	dev_close(&d);
	return res;
}

/* MADV_DONTNEED while exclusive: the device loses access, the range reads zero. */
static enum result guard_dontneed(const char **why)
{
	const size_t size = GUARD_PAGES * pagesize;
	enum result res = FAIL;
	char *mem;
	struct dev d;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(GUARD_PAGES);
	if (mem && exclusive_bytes(&d, mem, GUARD_PAGES, VAL_INIT)) {
		if (madvise(mem, size, MADV_DONTNEED)) {
			ksft_print_msg("MADV_DONTNEED failed: %s\n", strerror(errno));
		} else {
			res = PASS;
			if (!dev_lost(&d, mem, GUARD_PAGES, "after MADV_DONTNEED") ||
			    !expect_bytes("the range after MADV_DONTNEED", mem, size, 0))
				res = FAIL;
		}
	}
	unmap_pages(mem, GUARD_PAGES);
	dev_close(&d);
	return res;
}

/* A process exits while its memory is exclusive (its own device file still open). */
static enum result guard_exit(const char **why)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (!pid) {
		struct dev d;
		char *mem;

		case_child();
		if (!dev_open(&d))
			_exit(1);
		mem = map_pages(GUARD_PAGES);
		if (!mem || !exclusive_bytes(&d, mem, GUARD_PAGES, VAL_INIT))
			_exit(2);
		/* No munmap(), no close(): exit tears it all down. */
		_exit(0);
	}
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		return FAIL;
	}
	status = wait_status(pid);
	if (status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		return PASS;
	ksft_print_msg("the process that made its memory exclusive failed (status %#x)\n", status);
	return FAIL;
}

/* ---- userfaultfd ---- */

static int uffd_new(void)
{
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == EPERM)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd;
}

static void uffd_probe(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_new();

	if (fd < 0) {
		uffd_missing = errno == ENOSYS ? "no userfaultfd() (need CONFIG_USERFAULTFD)" :
			       "userfaultfd() failed (need root or vm.unprivileged_userfaultfd=1)";
		return;
	}
	if (ioctl(fd, UFFDIO_API, &api))
		uffd_missing = "UFFDIO_API failed";
	else if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		uffd_missing = "no uffd-wp (kernel without CONFIG_HAVE_ARCH_USERFAULTFD_WP)";
	close(fd);
}

/* Reads uffd-wp faults at one page, resolves each by lifting the protection. */
struct wp_monitor {
	int uffd, stop[2];
	char *page;
	int faults, bad;
};

static void *wp_monitor_fn(void *arg)
{
	struct wp_monitor *m = arg;
	struct pollfd pfd[2] = {
		{ .fd = m->uffd, .events = POLLIN },
		{ .fd = m->stop[0], .events = POLLIN },
	};
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)m->page, .len = pagesize },
		.mode = 0,
	};
	struct uffd_msg msg;

	for (;;) {
		int n = poll(pfd, 2, 10000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pfd[1].revents)
			return NULL;
		if (read(m->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EAGAIN)
				continue;
			m->bad++;
			return NULL;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
		    (msg.arg.pagefault.address & ~(uint64_t)(pagesize - 1)) != (uintptr_t)m->page) {
			ksft_print_msg("unexpected uffd message: event %#x flags %#llx address %#llx\n",
				       msg.event, (unsigned long long)msg.arg.pagefault.flags,
				       (unsigned long long)msg.arg.pagefault.address);
			m->bad++;
			return NULL;
		}
		m->faults++;
		if (ioctl(m->uffd, UFFDIO_WRITEPROTECT, &wp)) {
			ksft_print_msg("lifting the protection failed: %s\n", strerror(errno));
			m->bad++;
			return NULL;
		}
	}
}

/* UFFDIO_WRITEPROTECT while exclusive: the next write raises a uffd-wp fault. */
static enum result guard_uffd_wp(const char **why)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	struct wp_monitor m = { .uffd = -1, .stop = { -1, -1 } };
	enum result res = FAIL;
	uint64_t pfn, ent;
	pthread_t thread;
	char *mem = NULL;
	struct dev d;

	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(1);
	if (!mem)
		goto out;
	memset(mem, VAL_INIT, pagesize);
	m.uffd = uffd_new();
	reg.range.start = wp.range.start = (uintptr_t)mem;
	reg.range.len = wp.range.len = pagesize;
	if (m.uffd < 0 || ioctl(m.uffd, UFFDIO_API, &api) || ioctl(m.uffd, UFFDIO_REGISTER, &reg)) {
		ksft_print_msg("userfaultfd setup (API, REGISTER in WP mode) failed: %s\n",
			       strerror(errno));
		goto out;
	}
	if (!read_pfns(mem, 1, &pfn) || !exclusive_bytes(&d, mem, 1, VAL_INIT))
		goto out;
	if (ioctl(m.uffd, UFFDIO_WRITEPROTECT, &wp)) {
		ksft_print_msg("UFFDIO_WRITEPROTECT failed: %s\n", strerror(errno));
		goto out;
	}
	ent = pagemap_entry(mem);
	if (!is_exclusive_entry(ent, pfn) || !(ent & PM_UFFD_WP)) {
		ksft_print_msg("after UFFDIO_WRITEPROTECT: pagemap %#llx, expected the device-exclusive entry of PFN %#llx with PM_UFFD_WP\n",
			       (unsigned long long)ent, (unsigned long long)pfn);
		goto out;
	}
	m.page = mem;
	if (pipe(m.stop) || pthread_create(&thread, NULL, wp_monitor_fn, &m)) {
		ksft_print_msg("cannot start the uffd monitor thread\n");
		goto out;
	}
	*(volatile char *)mem = VAL_PARENT;
	if (write(m.stop[1], "s", 1) != 1)
		ksft_print_msg("cannot stop the monitor: %s\n", strerror(errno));
	pthread_join(thread, NULL);
	res = PASS;
	if (m.faults != 1 || m.bad) {
		ksft_print_msg("the write raised %d uffd-wp faults (%d bad messages or errors), expected 1\n",
			       m.faults, m.bad);
		res = FAIL;
	}
	if (mem[0] != VAL_PARENT ||
	    !expect_bytes("the rest of the page", mem + 1, pagesize - 1, VAL_INIT)) {
		ksft_print_msg("the write did not land (%#x)\n", mem[0] & 0xff);
		res = FAIL;
	}
out:
	if (m.stop[0] >= 0) {
		close(m.stop[0]);
		close(m.stop[1]);
	}
	if (m.uffd >= 0)
		close(m.uffd);
	unmap_pages(mem, 1);
	dev_close(&d);
	return res;
}

/* clear_refs 4 (soft-dirty clear) while exclusive: a later write sets PM_SOFT_DIRTY. */
static enum result guard_soft_dirty(const char **why)
{
	enum result res = FAIL;
	uint64_t pfn, ent;
	char *mem = NULL;
	struct dev d;

	if (access("/proc/self/clear_refs", W_OK)) {
		*why = "no /proc/self/clear_refs (need CONFIG_PROC_PAGE_MONITOR)";
		return SKIP;
	}
	if (!dev_open(&d))
		return FAIL;
	mem = map_pages(1);
	if (!mem)
		goto out;
	memset(mem, VAL_INIT, pagesize);
	if (!read_pfns(mem, 1, &pfn) || !exclusive_bytes(&d, mem, 1, VAL_INIT))
		goto out;
	if (!write_file("/proc/self/clear_refs", "4")) {
		ksft_print_msg("writing 4 to /proc/self/clear_refs failed: %s\n", strerror(errno));
		goto out;
	}
	/* The notifier of the clear revokes the device; the entry stays. */
	ent = pagemap_entry(mem);
	if (!is_exclusive_entry(ent, pfn) || (ent & PM_SOFT_DIRTY)) {
		ksft_print_msg("after clear_refs 4: pagemap %#llx, expected the device-exclusive entry of PFN %#llx without PM_SOFT_DIRTY\n",
			       (unsigned long long)ent, (unsigned long long)pfn);
		goto out;
	}
	*(volatile char *)mem = VAL_PARENT;
	ent = pagemap_entry(mem);
	res = PASS;
	if (!(ent & PM_PRESENT) || !(ent & PM_SOFT_DIRTY)) {
		ksft_print_msg("after the write: pagemap %#llx, expected present and PM_SOFT_DIRTY\n",
			       (unsigned long long)ent);
		res = FAIL;
	}
	if (mem[0] != VAL_PARENT ||
	    !expect_bytes("the rest of the page", mem + 1, pagesize - 1, VAL_INIT))
		res = FAIL;
out:
	unmap_pages(mem, 1);
	dev_close(&d);
	return res;
}

/* ---- running ---- */

enum need {
	NEED_NONE,
	NEED_THP_SINGLE,	/* one page of a THP can be made exclusive */
	NEED_PIN,
	NEED_UFFD,
};

static const struct dx_case {
	const char *desc;
	enum result (*fn)(const char **why);
	enum need need;
} cases[] = {
	{ "memcg reclaim of 16 MiB of device-exclusive order-0 pages: half or more leaves Rss, the device loses the reclaimed pages, data intact",
	  memcg_reclaim, NEED_NONE },
	{ "order-0 page while exclusive: pagemap has PM_MMAP_EXCLUSIVE and its PFN, /proc/kpagecount is 1",
	  pagemap_kpagecount, NEED_NONE },
	{ "mlock()ed order-0 pages: mlocked while exclusive, munlock() and mlock() while exclusive reach them",
	  mlock_state, NEED_NONE },
	{ "soft offline of a device-exclusive order-0 page: migrated to a new PFN, the device loses access, data intact",
	  soft_offline_order0, NEED_NONE },
	{ "2 MiB THP, all 512 pages exclusive: the request succeeds, the folio stays a THP, data intact",
	  thp_all_pages, NEED_NONE },
	{ "soft offline of an exclusive page inside a partly exclusive THP: succeeds, data intact",
	  thp_soft_offline, NEED_THP_SINGLE },
	{ "exclusive requests racing reclaim (MADV_PAGEOUT) of order-0 pages: no EBUSY, data intact",
	  race_reclaim, NEED_THP_SINGLE },
	{ "guard: fork() while exclusive: parent and child see the data, COW both ways",
	  guard_fork, NEED_NONE },
	{ "guard: R/W long-term pin, exclusive, fork(): the parent keeps the pinned page",
	  guard_pin_fork, NEED_PIN },
	{ "guard: munmap() while exclusive: the device loses access",
	  guard_munmap, NEED_NONE },
	{ "guard: MADV_DONTNEED while exclusive: the device loses access, the range reads zero",
	  guard_dontneed, NEED_NONE },
	{ "guard: a process exits while its memory is exclusive",
	  guard_exit, NEED_NONE },
	{ "guard: UFFDIO_WRITEPROTECT while exclusive: the next write raises a uffd-wp fault",
	  guard_uffd_wp, NEED_UFFD },
	{ "guard: clear_refs soft-dirty clear while exclusive: the next write sets PM_SOFT_DIRTY",
	  guard_soft_dirty, NEED_NONE },
};

/*
 * Whether one page of a THP can be made exclusive: a request for its
 * second page. 6.1 refuses a tail page before touching any PTE (EBUSY).
 */
static void thp_single_probe(void)
{
	static char reason[200];
	struct region r = { .fd = -1 };
	const char *why = NULL;
	struct dev d;
	int err;

	if (!dev_open(&d)) {
		thp_single_missing = "cannot open " DMIRROR " for the THP probe";
		return;
	}
	if (!map_thp(&r, 0x5a, &why)) {
		thp_single_missing = why;
	} else {
		err = dev_exclusive_once(&d, r.mem + pagesize, 1);
		touch(r.mem, thpsize / pagesize);
		if (err == EBUSY) {
			thp_single_missing = "this kernel cannot make one page of a THP exclusive (6.1 converts the whole folio)";
		} else if (err) {
			snprintf(reason, sizeof(reason),
				 "the THP probe (one page of a THP exclusive) failed: %s", strerror(err));
			thp_single_missing = reason;
		}
	}
	region_free(&r);
	dev_close(&d);
}

/* Shared with the case processes: the last one's verdict. */
static struct verdict *verdict;

static void run_case(const struct dx_case *c, const char *missing)
{
	enum result res = FAIL;
	const char *why = NULL;
	char splat[256];
	int status, kfd;
	pid_t pid;

	if (!missing && c->need == NEED_THP_SINGLE)
		missing = thp_single_missing;
	if (!missing && c->need == NEED_PIN)
		missing = gup_missing;
	if (!missing && c->need == NEED_UFFD)
		missing = uffd_missing;
	if (missing) {
		report_result(SKIP, missing, "%s", c->desc);
		return;
	}
	*verdict = (struct verdict){ .res = FAIL };
	kfd = kmsg_mark_case(c->desc);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (kfd >= 0)
			close(kfd);
		alarm(CASE_TIMEOUT + RACE_SECONDS);
		verdict->res = c->fn(&why);
		snprintf(verdict->why, sizeof(verdict->why), "%s", why ? why : "");
		fflush(stdout);
		_exit(0);
	}
	status = pid < 0 ? -1 : wait_status(pid);
	/* The pins are the gup_test file's: never leave any behind. */
	if (c->need == NEED_PIN)
		pin_stop();
	if (status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		res = verdict->res;
	else if (status != -1 && WIFSIGNALED(status))
		ksft_print_msg("the case process died of signal %d%s\n", WTERMSIG(status),
			       WTERMSIG(status) == SIGALRM ? " (deadline)" : "");
	else
		ksft_print_msg("the case process failed (status %#x): %s\n", status,
			       pid < 0 ? strerror(errno) : "");
	/* A case process killed by its deadline may leave its cgroup behind. */
	if (c->fn == memcg_reclaim) {
		char cg[600];

		if (cg_self(cg, sizeof(cg) - sizeof(CG_NAME) - 1)) {
			strcat(cg, "/" CG_NAME);
			rmdir(cg);
		}
	}
	/* A splat fails the case, whatever else it found. */
	if (kmsg_splat_since(kfd, splat, sizeof(splat))) {
		ksft_print_msg("kernel splat during the case: %s\n", splat);
		res = FAIL;
	}
	if (kfd >= 0)
		close(kfd);
	report_result(res, verdict->why[0] ? verdict->why : NULL, "%s", c->desc);
}

int main(void)
{
	const char *missing = NULL;
	unsigned int i;
	int fd;

	mem_init();
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(cases));
	if (access(DMIRROR, F_OK)) {
		missing = "no " DMIRROR ": needs CONFIG_TEST_HMM=y (or modprobe test_hmm)";
	} else {
		fd = open(DMIRROR, O_RDWR);
		if (fd < 0)
			missing = "cannot open " DMIRROR " (need root)";
		else
			close(fd);
	}
	if (!missing)
		missing = kmsg_unreadable();
	if (missing)
		ksft_print_msg("%s\n", missing);
	if (pin_open(&gup_missing))
		ksft_print_msg("gup_test pins unavailable: %s\n", gup_missing);
	uffd_probe();
	if (uffd_missing)
		ksft_print_msg("uffd-wp unavailable: %s\n", uffd_missing);
	if (!missing) {
		thp_single_probe();
		ksft_print_msg("THP probe: %s\n", thp_single_missing ?
			       thp_single_missing : "one page of a THP can be made exclusive");
	}
	verdict = mmap(NULL, sizeof(*verdict), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (verdict == MAP_FAILED)
		ksft_exit_fail_msg("mmap() failed: %s\n", strerror(errno));

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i], missing);
	finish(false);
}
