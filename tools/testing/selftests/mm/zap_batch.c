// SPDX-License-Identifier: GPL-2.0
/*
 * zap_batch - zapping PTE-mapped large folios keeps every count, every
 * dirty bit and every PTE bit exact.
 *
 * Mainline v6.9 zaps the PTEs of a large folio in batches ("mm/memory:
 * optimize unmap/zap with PTE-mapped THP", on "mm/rmap: introduce
 * folio_remove_rmap_ptes()" (v6.8) and "mm/mmu_gather: add
 * __tlb_remove_folio_pages()"): zap_present_ptes() takes a run of PTEs
 * that map consecutive pages of one folio (folio_pte_batch()), clears
 * them together, gathers their dirty and young bits for the folio, does
 * one rss update, one rmap removal and one mmu_gather entry for the run.
 * 6.1's zap_pte_range() handles one page at a time. A batch that forgets
 * the dirty bit of one of its PTEs, one rss decrement, one mapcount or
 * one reference, or that runs past the end of the range or over a PTE
 * that differs, breaks one of the invariants below. The test passes on
 * 6.1 as it is and guards the batching: every case must pass on both.
 * The mixes of dirty and clean, soft-dirty and clean, protected and
 * unprotected PTEs under one zap also guard a batch that would take such
 * PTEs together (mainline's ignores dirty and soft-dirty differences).
 *
 * The memory (2 THPs, 4 MiB, per case):
 *  - anon THPs mapped by PTEs: MADV_HUGEPAGE, written, then each PMD split
 *    (mprotect() of one page R/O and back: the folio stays large);
 *  - anon THPs mapped by PMDs, and order-0 anon pages (MADV_NOHUGEPAGE):
 *    the controls, the huge-PMD path and the per-page path;
 *  - shmem THPs mapped by PTEs, MAP_SHARED and MAP_PRIVATE: a file of
 *    their own on a private tmpfs mounted with huge=always, mapped one
 *    page past a PMD boundary (no PMD can map them: every fault maps
 *    PTEs, and each folio's PTEs span two page tables). In the shared
 *    mapping some pages are written through it; in the private one the
 *    same pages are COWed, anonymous pages amid the folio's PTEs.
 * Each page holds its own pattern.
 *
 * The zaps: munmap() of the whole region, of the first half of a THP and
 * of a chunk inside a THP whose ends are not batch-aligned; MADV_DONTNEED
 * of the whole region and of a range across the two THPs; the exit of a
 * child process that mapped and wrote the memory.
 *
 * What each accounting case ("<memory>: <zap>") asserts:
 *  - rss: /proc/self/status RssAnon, RssShmem, RssFile and VmSwap, in
 *    pages, moved by exactly the pages the setup mapped and then back by
 *    exactly the pages zapped (no tolerance). 6.1 caches rss deltas of
 *    faults per task; the test flushes that cache before each read (a
 *    zap of a page of its own syncs it) and touches all its memory
 *    before the first read, so nothing else moves the counters.
 *  - vmstat: nr_anon_pages, nr_mapped, nr_shmem and
 *    nr_anon_transparent_hugepages (after vm.stat_refresh) moved by the
 *    same exact numbers. Other activity could move them: a case whose
 *    only difference is there runs again, up to 3 times, so a
 *    systematic difference fails.
 *  - pagemap: the zapped pages are gone (neither present nor swapped),
 *    every other page is present with the PFN it had before.
 *  - freeing: a THP zapped entirely is freed right away (its head PFN no
 *    longer reads as a THP in /proc/kpageflags: a reference left behind
 *    keeps it); one zapped in part is still a THP; once the region is
 *    unmapped and the file closed, every counter is back where it was
 *    before the setup and no THP of the region is left.
 *  - data: every page left holds its pattern; after MADV_DONTNEED an
 *    anonymous page reads zero, a file page the file's data; the shmem
 *    file holds what was written through the shared mapping and nothing
 *    of the private mapping's COWed pages.
 *  - deferred split (anon THPs zapped in part): a partly mapped THP must
 *    be queued for deferred split. The guest kernel may count no
 *    thp_deferred_split_page (no CONFIG_VM_EVENT_COUNTERS), so the queue
 *    is proven by its effect: vm.drop_caches=2 runs the deferred-split
 *    shrinker, after which the pages still mapped are no longer part of
 *    a THP, keep their PFNs and data; a THP of the region the zap did
 *    not touch stays a THP (6.1 queues a THP only once a page of it was
 *    unmapped). Where /proc/vmstat has thp_deferred_split_page, it must
 *    also have risen by one per partly mapped THP.
 *  - the exit case: the child checks its own counters after the setup;
 *    after its exit, the vmstat counters are back to their values before
 *    fork() and its THPs are freed. 6.1 also checks the rss counters of
 *    every mm it frees ("BUG: Bad rss-counter state"): every case runs in
 *    a process of its own and fails on a kernel splat logged meanwhile.
 *
 * "dirty: ..." cases: a PTE dirty bit must reach the folio when the PTE
 * is zapped (shmem maps pages writable on a read fault, so a write sets
 * only the PTE's dirty bit; a folio left clean is dropped by reclaim, its
 * data lost). shmem THPs allocated by read faults (clean folios), mapped
 * by PTEs MAP_SHARED and read: clean, writable PTEs; then written through
 * a few PTEs - never the first of a folio's run, one alone in the second
 * page table of its folio - and the folios checked clean still
 * (KPF_DIRTY); after munmap(), MADV_DONTNEED or the exit of the process
 * that wrote them, every written folio must be dirty, still the folio in
 * the file (its PFN), and the file must hold the data. The same on an
 * order-0 tmpfs file (every written page dirty). An ext4 file on a RAM
 * disk is the control of the data path: written through MAP_SHARED,
 * munmap(), fdatasync(), read back with O_DIRECT (from the disk). 6.1's
 * ext4 page cache has no large folios, and a writable ext4 mapping
 * dirties its page on the write fault (page_mkwrite), so this one passes
 * whatever the zap does with the dirty bit.
 *
 * smaps shows the premise: no dirty page before the writes, exactly the
 * written ones after.
 *
 * "accessed: ..." cases: the same for the young bit, the one bit a batch
 * of this series' folio_pte_batch() may mix (it compares the PTEs but
 * for the accessed bit; dirty, soft-dirty and uffd-wp differences end a
 * batch). shmem THPs mapped by PTEs; clear_refs 1 makes every PTE old
 * and every folio unreferenced (and, as 6.1 flushes no TLB for it,
 * mprotect() flushes); one PTE of each of two folios - never the first
 * of its batch - is made young by a read (smaps Referenced: exactly
 * those two pages). After munmap() or MADV_DONTNEED both folios must be
 * marked accessed (KPF_REFERENCED, or activated), the third folio, all
 * old, not.
 *
 * "soft-dirty: ..." clears soft-dirty bits (clear_refs 4), writes some
 * pages of PTE-mapped THPs, and zaps a range across written and clean
 * PTEs with MADV_DONTNEED: the zapped pages read zero and are gone from
 * pagemap; every other page keeps its PFN, its data and its soft-dirty
 * bit exactly as written; RssAnon drops by the pages zapped.
 *
 * "uffd-wp: ..." registers PTE-mapped THPs for userfaultfd
 * write-protection, protects a part and zaps a range across protected
 * and unprotected PTEs with MADV_DONTNEED. Anonymous: the zapped pages
 * are gone (no marker: 6.1 keeps none for anonymous memory), read zero,
 * and a write to them raises no uffd-wp fault; the pages left keep
 * their protection bit exactly (PM_UFFD_WP), and a write to a protected
 * one raises one fault. shmem (UFFD_FEATURE_WP_HUGETLBFS_SHMEM): a
 * zapped protected PTE leaves a uffd-wp marker (not present, PM_UFFD_WP),
 * a zapped unprotected one nothing; a read maps the file's page again,
 * protected where the marker was; a write raises one uffd-wp fault per
 * protected page and none elsewhere. A monitor thread resolves the
 * faults, and the case has a deadline: nothing can hang.
 *
 * "swap: ..." swaps out one page in the middle of a PTE-mapped THP
 * (MADV_PAGEOUT; 6.1 splits that THP to do it, so the swap entry sits
 * among order-0 pages, next to a THP that stays large), then zaps the
 * whole region: RssAnon and VmSwap back exactly, nr_anon_pages back,
 * the THP freed. SwapFree (/proc/meminfo) comes back too, but freed swap
 * slots go through a per-CPU cache first (64 slots each, as allocated
 * ones do), so it is checked within that cache's size only.
 *
 * Needs root (PFNs, tmpfs mounts, vm.stat_refresh, vm.drop_caches), THP,
 * /dev/kmsg, and for some cases swap (zram), userfaultfd, a RAM disk
 * (/dev/ram4, CONFIG_BLK_DEV_RAM) with mke2fs and ext4; what is missing
 * skips, saying so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>
#include <linux/userfaultfd.h>

#include "mem_util.h"
#include "report.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif

#define NR_THPS		2	/* per region */
#define DIRTY_THPS	3	/* in the dirty cases' file */
#define SMALL_FILE_PAGES 64	/* the order-0 tmpfs and ext4 files */
#define CASE_TIMEOUT	60	/* s, one case in its own process */
#define CHILD_MS	30000	/* the exit cases' child */
#define ATTEMPTS	3	/* runs of a case whose vmstat deltas are off */
#define SPLIT_ROUNDS	5	/* vm.drop_caches=2 until the split is done */
#define RAMDISK		"/dev/ram4"

/* ---- the region and its pages ---- */

/* Where a page of the region is: what the counters must count. */
enum pstate {
	P_NONE,		/* not mapped */
	P_ANON,		/* an anonymous page */
	P_FILE,		/* a shmem page of the file */
	P_SWAP,		/* a swap entry */
};

static size_t n;		/* pages per THP */
static size_t npages;		/* pages in the region */
static size_t maxpages;		/* the largest region (the dirty cases' file) */
static char *mem;
static struct region r;
static enum pstate *st;
static uint64_t *pm0, *pm1;	/* pagemap before and after a zap */
static char *pagebuf;
static char *sync_page;		/* zapped to flush the rss cache */
static char procbuf[64 << 10];

static char pattern(size_t i)
{
	return (char)(i % 251 + 1);
}

/* What a write through the mapping leaves: never 0, never pattern(). */
static char later(size_t i)
{
	return (char)~pattern(i);
}

static char *page(size_t i)
{
	return mem + i * pagesize;
}

static uint64_t pfn_of(uint64_t ent)
{
	return ent & PM_PRESENT ? ent & PM_PFN_MASK : 0;
}

static char *pmd_align(char *addr)
{
	return (char *)(((uintptr_t)addr + thpsize - 1) & ~(thpsize - 1));
}

/* /proc/kpageflags of a PFN; 0 if unknown. */
static uint64_t kflags(uint64_t pfn)
{
	uint64_t flags = 0;
	int fd;

	if (!pfn)
		return 0;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		flags = 0;
	close(fd);
	return flags;
}

static bool sysfs_says(const char *path, const char *word)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY);
	ssize_t k;

	if (fd < 0)
		return false;
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return k > 0 && strstr(buf, word);
}

/* Page @i holds @want entirely, or say where not. */
static bool page_holds(const char *who, const char *p, size_t i, char want)
{
	size_t b;

	for (b = 0; b < pagesize; b++) {
		if (p[b] != want) {
			ksft_print_msg("%s: page %zu (THP %zu, page %zu), byte %zu is %#x, expected %#x\n",
				       who, i, i / n, i % n, b, p[b] & 0xff, want & 0xff);
			return false;
		}
	}
	return true;
}

/* The file's page @i holds @want. */
static bool file_page_holds(const char *who, int fd, size_t i, char want)
{
	if (pread(fd, pagebuf, pagesize, i * pagesize) != (ssize_t)pagesize) {
		ksft_print_msg("%s: pread() of page %zu failed: %s\n", who, i, strerror(errno));
		return false;
	}
	return page_holds(who, pagebuf, i, want);
}

/* ---- counters ---- */

struct counters {
	/* /proc/self/status, in pages */
	long rss_anon, rss_file, rss_shmem, vm_swap;
	/* /proc/vmstat, after vm.stat_refresh */
	long nr_anon, nr_mapped, nr_shmem, nr_thps;
	long deferred;		/* thp_deferred_split_page, -1 if not counted */
	long swap_free;		/* /proc/meminfo, in pages */
};

/* A /proc file into procbuf: no allocation, nothing faulted. */
static bool slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t k = 0;

	if (fd < 0)
		return false;
	while (got < sizeof(procbuf) - 1 &&
	       (k = read(fd, procbuf + got, sizeof(procbuf) - 1 - got)) > 0)
		got += k;
	close(fd);
	procbuf[got] = 0;
	return k >= 0;
}

/* The number after "@key:" or "@key " at the start of a line of procbuf; -1 if none. */
static long key_of(const char *key)
{
	size_t len = strlen(key);
	const char *p = procbuf;

	while (p && *p) {
		if (!strncmp(p, key, len) && (p[len] == ':' || p[len] == ' '))
			return strtol(p + len + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static long kb_pages(long kb)
{
	return kb < 0 ? kb : kb / (long)(pagesize / 1024);
}

/*
 * 6.1 counts the rss changes of faults in a per-task cache and adds them
 * to the mm's counters every 64 faults, or when the task zaps: a fault
 * and a zap of a page of our own flush it, and leave nothing.
 */
static void rss_sync(void)
{
	*(volatile char *)sync_page = 1;
	madvise(sync_page, pagesize, MADV_DONTNEED);
}

static bool snapshot(struct counters *c)
{
	rss_sync();
	if (!slurp("/proc/self/status")) {
		ksft_print_msg("cannot read /proc/self/status\n");
		return false;
	}
	c->rss_anon = kb_pages(key_of("RssAnon"));
	c->rss_file = kb_pages(key_of("RssFile"));
	c->rss_shmem = kb_pages(key_of("RssShmem"));
	c->vm_swap = kb_pages(key_of("VmSwap"));
	if (!write_file("/proc/sys/vm/stat_refresh", "1")) {
		ksft_print_msg("writing vm.stat_refresh failed: %s (need root)\n", strerror(errno));
		return false;
	}
	if (!slurp("/proc/vmstat")) {
		ksft_print_msg("cannot read /proc/vmstat\n");
		return false;
	}
	c->nr_anon = key_of("nr_anon_pages");
	c->nr_mapped = key_of("nr_mapped");
	c->nr_shmem = key_of("nr_shmem");
	c->nr_thps = key_of("nr_anon_transparent_hugepages");
	c->deferred = key_of("thp_deferred_split_page");
	if (!slurp("/proc/meminfo")) {
		ksft_print_msg("cannot read /proc/meminfo\n");
		return false;
	}
	c->swap_free = kb_pages(key_of("SwapFree"));
	if (c->rss_anon < 0 || c->rss_file < 0 || c->rss_shmem < 0 || c->vm_swap < 0 ||
	    c->nr_anon < 0 || c->nr_mapped < 0 || c->nr_shmem < 0 || c->nr_thps < 0 ||
	    c->swap_free < 0) {
		ksft_print_msg("a counter is missing from /proc/self/status, /proc/vmstat or /proc/meminfo\n");
		return false;
	}
	return true;
}

/* What the counters must have moved by since the first snapshot. */
struct expect {
	long anon, file, swap;	/* pages: from st[] */
	long shmem;		/* pages of our file in the page cache */
	long thps;		/* PMD-mapped anon THPs */
};

static void expect_now(struct expect *e, long shmem, long thps)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < npages; i++) {
		e->anon += st[i] == P_ANON;
		e->file += st[i] == P_FILE;
		e->swap += st[i] == P_SWAP;
	}
	e->shmem = shmem;
	e->thps = thps;
}

static void eq(const char *when, const char *what, long got, long want, bool *bad)
{
	if (got == want)
		return;
	ksft_print_msg("%s: %s moved by %ld, expected %ld\n", when, what, got, want);
	*bad = true;
}

/*
 * @now - @base against @e: the rss counters exactly (*hard); with
 * @global, the vmstat ones too (*noise: another process may move them).
 */
static void check_counts(const char *when, const struct counters *base,
			 const struct counters *now, const struct expect *e,
			 bool global, bool *hard, bool *noise)
{
	eq(when, "RssAnon (pages)", now->rss_anon - base->rss_anon, e->anon, hard);
	eq(when, "RssShmem (pages)", now->rss_shmem - base->rss_shmem, e->file, hard);
	eq(when, "RssFile (pages)", now->rss_file - base->rss_file, 0, hard);
	eq(when, "VmSwap (pages)", now->vm_swap - base->vm_swap, e->swap, hard);
	if (!global)
		return;
	eq(when, "nr_anon_pages", now->nr_anon - base->nr_anon, e->anon, noise);
	eq(when, "nr_mapped", now->nr_mapped - base->nr_mapped, e->file, noise);
	eq(when, "nr_shmem", now->nr_shmem - base->nr_shmem, e->shmem, noise);
	eq(when, "nr_anon_transparent_hugepages", now->nr_thps - base->nr_thps, e->thps, noise);
}

/* ---- a quiet process ---- */

static void __attribute__((noinline)) grow_stack(void)
{
	volatile char buf[256 << 10];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 512)
		buf[i] = 0;
}

/*
 * Reads every page of every readable mapping and writes to every page of
 * every writable one, so that nothing is faulted in the middle of a
 * measurement: fork() copies no PTEs of file mappings, so the child
 * faults in the program's text (on a tmpfs root: shmem pages, 16 at a
 * time by fault-around) and the vDSO as it first runs some code; and a
 * page written for the first time after fork() is copied, a new anon
 * page in nr_anon_pages. The stack is grown in advance.
 */
static void touch_mappings(void)
{
	unsigned long start, end, a;
	char perms[8], *line, *next;

	grow_stack();
	if (!slurp("/proc/self/maps"))
		return;
	for (line = procbuf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		/* Not [vvar]: some of its pages may not be there (SIGBUS). */
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 ||
		    perms[0] != 'r' || strstr(line, "[vvar]"))
			continue;
		for (a = start; a < end; a += pagesize) {
			volatile char *p = (char *)a;

			if (perms[1] == 'w')
				*p = *p;
			else
				(void)*p;
		}
	}
}

/* Start of a case process (or of its child): nothing left to fault in later. */
static bool quiet_start(void)
{
	struct counters c;

	touch_mappings();
	if (!sync_page) {
		sync_page = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (sync_page == MAP_FAILED) {
			sync_page = NULL;
			ksft_print_msg("mmap() failed\n");
			return false;
		}
		madvise(sync_page, pagesize, MADV_NOHUGEPAGE);
	}
	/* The helpers' buffers (stdio's among them), allocated once. */
	smaps_kb(sync_page, "Rss");
	page_has_kflag(sync_page, KPF_THP);
	return snapshot(&c) && snapshot(&c);
}

/* ---- memory ---- */

enum kind { K_PTE, K_PMD, K_SMALL, K_SHM_SHARED, K_SHM_PRIVATE, NR_KINDS };

static const char *const kind_desc[NR_KINDS] = {
	[K_PTE] = "PTE-mapped anon THPs",
	[K_PMD] = "PMD-mapped anon THPs (control)",
	[K_SMALL] = "order-0 anon pages (control)",
	[K_SHM_SHARED] = "PTE-mapped shmem THPs, MAP_SHARED, some pages written",
	[K_SHM_PRIVATE] = "PTE-mapped shmem THPs, MAP_PRIVATE, some pages COWed",
};

static bool anon_thp_kind(enum kind k)
{
	return k == K_PTE || k == K_PMD;
}

static bool shmem_kind(enum kind k)
{
	return k == K_SHM_SHARED || k == K_SHM_PRIVATE;
}

/* The pages the shmem kinds write through their mapping: none is a THP's first or last. */
static bool written(size_t i)
{
	size_t o = i % n;

	return (o >= 64 && o < 80) || (o >= n - 120 && o < n - 100);
}

static void state_reset(void)
{
	size_t i;

	for (i = 0; i < maxpages; i++)
		st[i] = P_NONE;
	r = (struct region){ .fd = -1 };
	mem = NULL;
	npages = NR_THPS * n;
}

static void teardown(void)
{
	region_free(&r);
	mem = NULL;
}

static const char *thp_missing(void)
{
	if (sysfs_says("/sys/kernel/mm/transparent_hugepage/enabled", "[never]"))
		return "THP is disabled (transparent_hugepage/enabled is never)";
	return NULL;
}

/* NR_THPS THPs' worth of anonymous memory of kind @k, each page its pattern. */
static const char *setup_anon(enum kind k)
{
	long want = k == K_PMD ? (long)(npages * pagesize / 1024) : 0;
	const char *why = k == K_SMALL ? NULL : thp_missing();
	size_t i, t;

	if (why)
		return why;
	if (map_anon(&r, npages * pagesize, thpsize, 0))
		return "mmap() failed";
	mem = r.mem;
	if (madvise(mem, r.size, k == K_SMALL ? MADV_NOHUGEPAGE : MADV_HUGEPAGE))
		return "madvise(MADV_HUGEPAGE) failed (THP disabled?)";
	for (i = 0; i < npages; i++) {
		memset(page(i), pattern(i), pagesize);
		st[i] = P_ANON;
	}
	if (k == K_SMALL)
		return page_has_kflag(mem, KPF_THP) ? "MADV_NOHUGEPAGE memory got a THP" : NULL;
	for (t = 0; t < NR_THPS; t++)
		if (!page_has_kflag(page(t * n), KPF_THP))
			return "could not get THPs (memory fragmented?)";
	if (k == K_PTE) {
		for (t = 0; t < NR_THPS; t++)
			if (!split_pmd(page(t * n + 1)))
				return "mprotect() failed";
		for (t = 0; t < NR_THPS; t++)
			if (!page_has_kflag(page(t * n), KPF_THP) ||
			    !page_has_kflag(page(t * n + n - 1), KPF_THP))
				return "a THP did not survive the PMD split";
	}
	if (smaps_kb(mem, "AnonHugePages") != want)
		return k == K_PMD ? "the THPs are not PMD-mapped (AnonHugePages in smaps)" :
		       "a PMD still maps a THP after the split (AnonHugePages in smaps)";
	return NULL;
}

/*
 * A shmem file of @pages in r.fd: on a tmpfs of its own mounted with
 * huge=always (root), detached at once (the open file keeps it); else a
 * memfd, which follows transparent_hugepage/shmem_enabled.
 */
static const char *shmem_file(size_t pages)
{
	char dir[] = "/tmp/zap_batch-XXXXXX", path[64];

	if (sysfs_says("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "[deny]"))
		return "shmem THPs are off (transparent_hugepage/shmem_enabled is deny)";
	if (mkdtemp(dir)) {
		if (!mount("tmpfs", dir, "tmpfs", 0, "huge=always")) {
			snprintf(path, sizeof(path), "%s/f", dir);
			r.fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
			unlink(path);
			umount2(dir, MNT_DETACH);
		}
		rmdir(dir);
	}
	if (r.fd < 0)
		r.fd = memfd_create("zap_batch", 0);
	if (r.fd < 0)
		return "memfd_create() failed";
	if (ftruncate(r.fd, pages * pagesize))
		return "ftruncate() of the shmem file failed";
	return NULL;
}

/*
 * The file mapped with @flags one page past a PMD boundary: file offset
 * and address disagree modulo the PMD size, so only PTEs map it. All its
 * pages read (read faults), so all are mapped.
 */
static const char *map_pte_layout(size_t pages, int prot, int flags)
{
	size_t i;

	r.map_size = pages * pagesize + 2 * thpsize;
	r.map = mmap(NULL, r.map_size, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r.map == MAP_FAILED) {
		r.map = NULL;
		return "mmap() failed";
	}
	mem = r.mem = pmd_align(r.map) + pagesize;
	r.size = pages * pagesize;
	if (mmap(mem, r.size, prot, flags | MAP_FIXED, r.fd, 0) == MAP_FAILED)
		return "mmap() of the shmem file failed";
	for (i = 0; i < pages; i++)
		(void)*(volatile char *)page(i);
	return NULL;
}

/* Each of the @thps THPs of the PTE layout is a shmem THP, mapped by PTEs only. */
static const char *check_shmem_thps(size_t thps)
{
	size_t t;

	for (t = 0; t < thps; t++)
		if (!page_has_kflag(page(t * n), KPF_THP) ||
		    !page_has_kflag(page(t * n + n - 1), KPF_THP))
			return "no shmem THPs: cannot mount a tmpfs with huge=always (need root) and transparent_hugepage/shmem_enabled gives none, or memory is fragmented";
	if (smaps_kb(mem, "ShmemPmdMapped") != 0)
		return "a shmem THP is PMD-mapped at a misaligned address";
	return NULL;
}

/*
 * NR_THPS shmem THPs, each page its pattern (written with pwrite()),
 * mapped by PTEs, shared or private; written() pages then written
 * through the mapping (COWed in the private one).
 */
static const char *setup_shmem(bool shared)
{
	const char *why = shmem_file(npages);
	size_t i;

	if (why)
		return why;
	for (i = 0; i < npages; i++) {
		memset(pagebuf, pattern(i), pagesize);
		if (pwrite(r.fd, pagebuf, pagesize, i * pagesize) != (ssize_t)pagesize)
			return "cannot write the shmem file";
	}
	why = map_pte_layout(npages, PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE);
	if (why)
		return why;
	for (i = 0; i < npages; i++)
		st[i] = P_FILE;
	for (i = 0; i < npages; i++) {
		if (!written(i))
			continue;
		memset(page(i), later(i), pagesize);
		if (!shared)
			st[i] = P_ANON;
	}
	why = check_shmem_thps(NR_THPS);
	if (why)
		return why;
	if (!shared && page_has_kflag(page(64), KPF_THP))
		return "a write to the private mapping did not COW the page";
	return NULL;
}

static const char *setup_kind(enum kind k)
{
	return shmem_kind(k) ? setup_shmem(k == K_SHM_SHARED) : setup_anon(k);
}

/* What page @i of the region must read while mapped. */
static char content(enum kind k, size_t i)
{
	return shmem_kind(k) && written(i) ? later(i) : pattern(i);
}

/* What the file's page @i must hold. */
static char file_content(enum kind k, size_t i)
{
	return k == K_SHM_SHARED && written(i) ? later(i) : pattern(i);
}

/* ---- the zaps ---- */

enum op {
	OP_MUNMAP,
	OP_MUNMAP_HALF,
	OP_MUNMAP_MIDDLE,
	OP_DONTNEED,
	OP_DONTNEED_PART,
	OP_EXIT,
	NR_OPS
};

static const char *const op_desc[NR_OPS] = {
	[OP_MUNMAP] = "munmap() of the whole region",
	[OP_MUNMAP_HALF] = "munmap() of the first half of a THP",
	[OP_MUNMAP_MIDDLE] = "munmap() of a chunk inside a THP, ends not batch-aligned",
	[OP_DONTNEED] = "MADV_DONTNEED of the whole region",
	[OP_DONTNEED_PART] = "MADV_DONTNEED of a range across both THPs",
	[OP_EXIT] = "exit of the process that mapped it",
};

/* The pages [*from, *to) that @op zaps. */
static void op_range(enum op op, size_t *from, size_t *to)
{
	*from = 0;
	*to = npages;
	switch (op) {
	case OP_MUNMAP_HALF:
		*to = n / 2;
		break;
	case OP_MUNMAP_MIDDLE:
		*from = n / 8 + 5;
		*to = n - n / 4 + 3;
		break;
	case OP_DONTNEED_PART:
		*from = n - n / 4 - 3;
		*to = n + n / 4 + 7;
		break;
	default:
		break;
	}
}

static bool is_munmap(enum op op)
{
	return op == OP_MUNMAP || op == OP_MUNMAP_HALF || op == OP_MUNMAP_MIDDLE;
}

static bool zap(enum op op, size_t from, size_t to)
{
	size_t len = (to - from) * pagesize;

	if (is_munmap(op)) {
		if (!munmap(page(from), len))
			return true;
		ksft_print_msg("munmap() failed: %s\n", strerror(errno));
	} else {
		if (!madvise(page(from), len, MADV_DONTNEED))
			return true;
		ksft_print_msg("madvise(MADV_DONTNEED) failed: %s\n", strerror(errno));
	}
	return false;
}

/* How many THPs of the region intersect [from, to), and how many lie inside it. */
static void thps_hit(size_t from, size_t to, size_t *hit, size_t *inside)
{
	size_t t;

	*hit = *inside = 0;
	for (t = 0; t < NR_THPS; t++) {
		if (from < (t + 1) * n && to > t * n)
			(*hit)++;
		if (from <= t * n && to >= (t + 1) * n)
			(*inside)++;
	}
}

/* pm1 after a zap of [from, to): gone there, the same PFN present elsewhere. */
static bool pagemap_after_zap(size_t from, size_t to)
{
	size_t i;

	for (i = 0; i < npages; i++) {
		bool zapped = i >= from && i < to;

		if (zapped && (pm1[i] & (PM_PRESENT | PM_SWAP))) {
			ksft_print_msg("page %zu was zapped, but pagemap reads %#llx\n",
				       i, (unsigned long long)pm1[i]);
			return false;
		}
		if (!zapped && (!(pm1[i] & PM_PRESENT) || pfn_of(pm1[i]) != pfn_of(pm0[i]))) {
			ksft_print_msg("page %zu was not zapped, but pagemap reads %#llx (before: %#llx)\n",
				       i, (unsigned long long)pm1[i], (unsigned long long)pm0[i]);
			return false;
		}
	}
	return true;
}

/* ---- deferred split ---- */

/* The first and last page of THP @t outside [from, to). */
static void remaining(size_t t, size_t from, size_t to, size_t *first, size_t *last)
{
	size_t a = t * n, b = (t + 1) * n - 1;

	*first = from <= a && to > a ? to : a;
	*last = to > b && from <= b ? from - 1 : b;
}

/*
 * After a zap of [from, to) that left THPs partly mapped: each must be on
 * the deferred-split queue, which vm.drop_caches=2 (the shrinker) splits;
 * a THP the zap did not touch stays one. PFNs, data and counters do not
 * change.
 */
static void deferred_split(enum kind k, size_t from, size_t to,
			   const struct counters *touched, const struct counters *after,
			   bool *hard, bool *noise)
{
	size_t t, i, first, last, partial = 0, done, round;
	struct counters split;
	struct expect e;

	for (t = 0; t < NR_THPS; t++) {
		bool hit = from < (t + 1) * n && to > t * n;
		bool inside = from <= t * n && to >= (t + 1) * n;

		if (!hit || inside)
			continue;
		partial++;
		remaining(t, from, to, &first, &last);
		if (!page_has_kflag(page(first), KPF_THP)) {
			ksft_print_msg("THP %zu, zapped in part, is no THP right after the zap (page %zu)\n",
				       t, first);
			*hard = true;
		}
	}
	if (!partial)
		return;
	if (after->deferred >= 0 && touched->deferred >= 0 &&
	    after->deferred - touched->deferred < (long)partial) {
		ksft_print_msg("thp_deferred_split_page rose by %ld, expected %zu or more\n",
			       after->deferred - touched->deferred, partial);
		*hard = true;
	}
	for (round = 0; round < SPLIT_ROUNDS; round++) {
		if (!write_file("/proc/sys/vm/drop_caches", "2")) {
			ksft_print_msg("writing vm.drop_caches failed: %s\n", strerror(errno));
			*hard = true;
			return;
		}
		done = 0;
		for (t = 0; t < NR_THPS; t++) {
			if (!(from < (t + 1) * n && to > t * n) ||
			    (from <= t * n && to >= (t + 1) * n))
				continue;
			remaining(t, from, to, &first, &last);
			done += !page_has_kflag(page(first), KPF_THP) &&
				!page_has_kflag(page(last), KPF_THP);
		}
		if (done == partial)
			break;
		usleep(100 * 1000);
	}
	if (done != partial) {
		ksft_print_msg("%zu of %zu partly mapped THPs still THPs after %d rounds of vm.drop_caches=2: not queued for deferred split\n",
			       partial - done, partial, SPLIT_ROUNDS);
		*hard = true;
	}
	for (t = 0; t < NR_THPS; t++) {
		if (from < (t + 1) * n && to > t * n)
			continue;
		if (!page_has_kflag(page(t * n), KPF_THP)) {
			ksft_print_msg("THP %zu, not zapped at all, was split by vm.drop_caches=2\n", t);
			*hard = true;
		}
	}
	if (!read_pagemap(mem, npages, pm1)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		*hard = true;
		return;
	}
	for (i = 0; i < npages; i++) {
		if (i >= from && i < to)
			continue;
		if (pfn_of(pm1[i]) != pfn_of(pm0[i])) {
			ksft_print_msg("after the split: page %zu has pagemap %#llx, before %#llx\n",
				       i, (unsigned long long)pm1[i], (unsigned long long)pm0[i]);
			*hard = true;
			break;
		}
		if (!page_holds("after the split", page(i), i, content(k, i))) {
			*hard = true;
			break;
		}
	}
	if (!snapshot(&split)) {
		*hard = true;
		return;
	}
	/* Nothing maps or unmaps a page: the counters stay where the zap left them. */
	memset(&e, 0, sizeof(e));
	check_counts("the deferred split", after, &split, &e, true, hard, noise);
}

/* ---- the accounting cases ---- */

struct tcase {
	char desc[200];
	enum result (*fn)(const struct tcase *c, const char **why);
	enum kind kind;
	enum op op;
};

static long thps_after(enum kind k, size_t from, size_t to)
{
	size_t hit, inside;

	if (k != K_PMD)
		return 0;
	thps_hit(from, to, &hit, &inside);
	return NR_THPS - hit;
}

/*
 * Once the region is unmapped and its file closed, every counter is back
 * at @base and no page of @heads is a THP any more.
 */
static void check_gone(const char *when, const struct counters *base, const uint64_t *heads,
		       size_t nheads, bool *hard, bool *noise)
{
	struct counters now;
	struct expect e;
	size_t t;

	if (!snapshot(&now)) {
		*hard = true;
		return;
	}
	memset(&e, 0, sizeof(e));
	check_counts(when, base, &now, &e, true, hard, noise);
	for (t = 0; t < nheads; t++) {
		if (heads[t] && (kflags(heads[t]) & (1ULL << KPF_THP))) {
			ksft_print_msg("%s: THP %zu (PFN %#llx) is still a THP: a reference or mapping left behind\n",
				       when, t, (unsigned long long)heads[t]);
			*hard = true;
		}
	}
}

static enum result account(const struct tcase *c, const char **why, bool *noise)
{
	bool hard = false, shmem = shmem_kind(c->kind), thp = c->kind != K_SMALL;
	struct counters base, touched, after;
	uint64_t heads[NR_THPS] = { 0 };
	size_t from, to, i, t, hit, inside;
	struct expect e;
	long file_pages;

	state_reset();
	file_pages = shmem ? (long)npages : 0;
	if (!snapshot(&base))
		return FAIL;
	*why = setup_kind(c->kind);
	if (*why) {
		teardown();
		return SKIP;
	}
	op_range(c->op, &from, &to);
	if (!snapshot(&touched) || !read_pagemap(mem, npages, pm0) || !zap(c->op, from, to) ||
	    !snapshot(&after) || !read_pagemap(mem, npages, pm1)) {
		teardown();
		return FAIL;
	}
	/* Everything measured: now say what differs. */
	for (t = 0; t < NR_THPS && thp; t++)
		heads[t] = pfn_of(pm0[t * n]);
	expect_now(&e, file_pages, c->kind == K_PMD ? NR_THPS : 0);
	check_counts("after the setup", &base, &touched, &e, true, &hard, noise);
	for (i = from; i < to; i++)
		st[i] = P_NONE;
	expect_now(&e, file_pages, thps_after(c->kind, from, to));
	check_counts("after the zap", &base, &after, &e, true, &hard, noise);
	if (!pagemap_after_zap(from, to))
		hard = true;

	/* A THP zapped entirely is freed; one zapped in part is still a THP. */
	thps_hit(from, to, &hit, &inside);
	for (t = 0; t < NR_THPS && thp; t++) {
		bool in = from <= t * n && to >= (t + 1) * n;
		size_t first, last;

		if (in && !shmem && (kflags(heads[t]) & (1ULL << KPF_THP))) {
			ksft_print_msg("THP %zu was zapped entirely but is not freed (PFN %#llx is still a THP)\n",
				       t, (unsigned long long)heads[t]);
			hard = true;
		}
		if (in)
			continue;
		remaining(t, from, to, &first, &last);
		if (!page_has_kflag(page(first), KPF_THP) || !page_has_kflag(page(last), KPF_THP)) {
			ksft_print_msg("THP %zu: pages %zu and %zu are left mapped but no longer part of a THP\n",
				       t, first, last);
			hard = true;
		}
	}

	/* The data left, and what a zapped page reads again. */
	for (i = 0; i < npages; i++) {
		bool zapped = i >= from && i < to;
		char want = content(c->kind, i);

		if (zapped && is_munmap(c->op))
			continue;
		if (zapped)
			want = shmem ? file_content(c->kind, i) : 0;
		if (!page_holds(zapped ? "a zapped page read again" : "a page left mapped",
				page(i), i, want)) {
			hard = true;
			break;
		}
	}
	for (i = 0; shmem && i < npages; i++) {
		if (!file_page_holds("the file", r.fd, i, file_content(c->kind, i))) {
			hard = true;
			break;
		}
	}

	if (anon_thp_kind(c->kind) && hit > inside)
		deferred_split(c->kind, from, to, &touched, &after, &hard, noise);

	teardown();
	check_gone("after munmap() of the rest and close()", &base, heads, thp ? NR_THPS : 0,
		   &hard, noise);
	/* Only a case whose sole difference is in vmstat runs again. */
	if (hard)
		*noise = false;
	return hard || *noise ? FAIL : PASS;
}

/* What the exit cases' child reports. */
struct child_report {
	const char *why;	/* a skip: a string of the binary, valid in the parent */
	bool ok, noise;
	uint64_t heads[NR_THPS];
};

/*
 * The child maps, writes, checks its counters and exits with everything
 * mapped; after it is reaped the global counters are back where they
 * were before fork() and its THPs (and file) are freed.
 */
static enum result account_exit(const struct tcase *c, const char **why, bool *noise)
{
	struct child_report rep = { .why = NULL };
	struct counters base;
	struct comm_pipes cp;
	bool hard = false;
	int status;
	pid_t pid;

	state_reset();
	if (!comm_pipes_setup(&cp))
		return FAIL;
	if (!snapshot(&base)) {
		comm_pipes_close(&cp);
		return FAIL;
	}
	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		comm_pipes_close(&cp);
		return FAIL;
	}
	if (!pid) {
		struct counters b, touched;
		struct expect e;
		size_t t;

		comm_pipes_keep(&cp, true);
		if (quiet_start() && snapshot(&b)) {
			rep.why = setup_kind(c->kind);
			if (!rep.why && snapshot(&touched) && read_pagemap(mem, npages, pm0)) {
				bool bad = false;

				for (t = 0; t < NR_THPS && c->kind != K_SMALL; t++)
					rep.heads[t] = pfn_of(pm0[t * n]);
				expect_now(&e, shmem_kind(c->kind) ? (long)npages : 0,
					   c->kind == K_PMD ? NR_THPS : 0);
				check_counts("the child after the setup", &b, &touched, &e, true,
					     &bad, &rep.noise);
				rep.ok = !bad;
			}
		}
		fflush(stdout);
		if (!comm_send(cp.to_parent[1], &rep, sizeof(rep)))
			_exit(1);
		comm_hear(cp.to_child[0], CHILD_MS);
		/* Exit with the memory mapped and the file open. */
		_exit(0);
	}
	comm_pipes_keep(&cp, false);
	if (!comm_recv(cp.to_parent[0], &rep, sizeof(rep), CHILD_MS)) {
		ksft_print_msg("no report from the child\n");
		hard = true;
	}
	comm_tell(cp.to_child[1], 'x');
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child failed (status %#x)\n", status);
		hard = true;
	}
	comm_pipes_close(&cp);
	if (rep.why) {
		*why = rep.why;
		return SKIP;
	}
	if (!rep.ok)
		hard = true;
	*noise = rep.noise;
	check_gone("after the child's exit", &base, rep.heads,
		   c->kind != K_SMALL ? NR_THPS : 0, &hard, noise);
	if (hard)
		*noise = false;
	return hard || *noise ? FAIL : PASS;
}

/* A case runs again while only the vmstat counters are off. */
static enum result again(enum result (*fn)(const struct tcase *c, const char **why, bool *noise),
			 const struct tcase *c, const char **why)
{
	enum result res = FAIL;
	int attempt;

	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		bool noise = false;

		res = fn(c, why, &noise);
		if (res != FAIL || !noise)
			return res;
		ksft_print_msg("attempt %d: only the vmstat counters were off%s\n", attempt,
			       attempt < ATTEMPTS ? ", maybe other activity: again" :
			       ", every time: a systematic difference");
	}
	return res;
}

static enum result account_case(const struct tcase *c, const char **why)
{
	return again(c->op == OP_EXIT ? account_exit : account, c, why);
}

/* ---- dirty bits ---- */

/* Written through the dirty cases' mapping: never a folio's first PTE. */
static bool dirty_written(size_t i)
{
	return i == n / 2 + 44 || i == n - 1 || i == n + 1;
}

/*
 * r.fd: a shmem file of DIRTY_THPS THPs allocated by read faults through
 * a PMD-aligned read-only mapping: clean folios, the file's holes (zero).
 */
static const char *clean_shmem_file(void)
{
	size_t size = DIRTY_THPS * thpsize, t;
	const char *why = shmem_file(DIRTY_THPS * n);
	char *res, *al;

	if (why)
		return why;
	res = mmap(NULL, size + thpsize, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return "mmap() failed";
	al = pmd_align(res);
	if (mmap(al, size, PROT_READ, MAP_SHARED | MAP_FIXED, r.fd, 0) == MAP_FAILED) {
		why = "mmap() of the shmem file failed";
	} else {
		madvise(al, size, MADV_HUGEPAGE);
		for (t = 0; t < DIRTY_THPS; t++)
			(void)*(volatile char *)(al + t * thpsize);
	}
	munmap(res, size + thpsize);
	return why;
}

struct dirty_report {
	const char *why;	/* a skip */
	bool ok;
	uint64_t heads[DIRTY_THPS];
};

/*
 * Maps the clean file by PTEs MAP_SHARED, reads it all (clean writable
 * PTEs), checks the folios clean, writes dirty_written() pages through
 * their PTEs and checks the folios still clean: only PTEs are dirty.
 */
static void dirty_map_and_write(struct dirty_report *rep)
{
	size_t i, t;

	rep->why = map_pte_layout(DIRTY_THPS * n, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (!rep->why)
		rep->why = check_shmem_thps(DIRTY_THPS);
	if (rep->why)
		return;
	if (!read_pagemap(mem, DIRTY_THPS * n, pm0)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		return;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		rep->heads[t] = pfn_of(pm0[t * n]);
		if (kflags(rep->heads[t]) & (1ULL << KPF_DIRTY)) {
			ksft_print_msg("THP %zu is dirty before any write: the case cannot see the zap's dirty transfer\n",
				       t);
			return;
		}
	}
	if (smaps_kb(mem, "Private_Dirty") + smaps_kb(mem, "Shared_Dirty") != 0) {
		ksft_print_msg("smaps counts dirty pages before any write\n");
		return;
	}
	for (i = 0; i < DIRTY_THPS * n; i++)
		if (dirty_written(i))
			memset(page(i), pattern(i), pagesize);
	/* Dirty: exactly the PTEs written (the folios are clean). */
	if (smaps_kb(mem, "Private_Dirty") + smaps_kb(mem, "Shared_Dirty") !=
	    (long)(3 * pagesize / 1024)) {
		ksft_print_msg("smaps counts %ld kB dirty after writing 3 pages, expected %zu\n",
			       smaps_kb(mem, "Private_Dirty") + smaps_kb(mem, "Shared_Dirty"),
			       3 * pagesize / 1024);
		return;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		if (kflags(rep->heads[t]) & (1ULL << KPF_DIRTY)) {
			ksft_print_msg("THP %zu became dirty on the write itself (a write fault?): the case cannot see the zap's dirty transfer\n",
				       t);
			return;
		}
	}
	rep->ok = true;
}

static enum result dirty_shmem(const struct tcase *c, const char **why)
{
	struct dirty_report rep = { .why = NULL };
	enum result res = PASS;
	size_t i, t;

	state_reset();
	*why = clean_shmem_file();
	if (*why) {
		teardown();
		return SKIP;
	}
	if (c->op == OP_EXIT) {
		struct comm_pipes cp;
		int status;
		pid_t pid;

		if (!comm_pipes_setup(&cp)) {
			teardown();
			return FAIL;
		}
		pid = fork();
		if (!pid) {
			comm_pipes_keep(&cp, true);
			dirty_map_and_write(&rep);
			fflush(stdout);
			if (!comm_send(cp.to_parent[1], &rep, sizeof(rep)))
				_exit(1);
			comm_hear(cp.to_child[0], CHILD_MS);
			_exit(0);
		}
		comm_pipes_keep(&cp, false);
		if (pid < 0 || !comm_recv(cp.to_parent[0], &rep, sizeof(rep), CHILD_MS)) {
			ksft_print_msg("no report from the child\n");
			rep.ok = false;
		}
		comm_tell(cp.to_child[1], 'x');
		if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
				WEXITSTATUS(status))) {
			ksft_print_msg("the child failed\n");
			rep.ok = false;
		}
		comm_pipes_close(&cp);
	} else {
		dirty_map_and_write(&rep);
		if (!rep.why && rep.ok) {
			size_t len = DIRTY_THPS * thpsize;

			if (c->op == OP_MUNMAP ? munmap(mem, len) : madvise(mem, len, MADV_DONTNEED)) {
				ksft_print_msg("the zap failed: %s\n", strerror(errno));
				rep.ok = false;
			}
		}
	}
	if (rep.why) {
		*why = rep.why;
		teardown();
		return SKIP;
	}
	if (!rep.ok) {
		teardown();
		return FAIL;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		bool dirty = kflags(rep.heads[t]) & (1ULL << KPF_DIRTY);

		if (t < 2 && !dirty) {
			ksft_print_msg("THP %zu (PFN %#llx) is clean after the zap although written through %s PTE: the dirty bit was lost\n",
				       t, (unsigned long long)rep.heads[t],
				       t ? "its second" : "a PTE in the middle and its last");
			res = FAIL;
		}
		if (t == 2)
			ksft_print_msg("THP 2, never written, is %s after the zap\n",
				       dirty ? "dirty" : "clean");
	}
	/* The folios checked are the file's: map it again and compare PFNs. */
	if (c->op == OP_DONTNEED) {
		for (i = 0; i < DIRTY_THPS * n; i++)
			(void)*(volatile char *)page(i);
	} else {
		if (r.map)
			munmap(r.map, r.map_size);
		r.map = NULL;
		if (map_pte_layout(DIRTY_THPS * n, PROT_READ, MAP_SHARED)) {
			teardown();
			return FAIL;
		}
	}
	if (!read_pagemap(mem, DIRTY_THPS * n, pm1)) {
		teardown();
		return FAIL;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		if (pfn_of(pm1[t * n]) != rep.heads[t]) {
			ksft_print_msg("THP %zu is now PFN %#llx, was %#llx: the folio was replaced, its dirty state unknown\n",
				       t, (unsigned long long)pfn_of(pm1[t * n]),
				       (unsigned long long)rep.heads[t]);
			res = FAIL;
		}
	}
	for (i = 0; i < DIRTY_THPS * n; i++) {
		if (!file_page_holds("the file", r.fd, i, dirty_written(i) ? pattern(i) : 0)) {
			res = FAIL;
			break;
		}
	}
	teardown();
	return res;
}

/* ---- accessed bits ---- */

/* Read in the accessed cases after clear_refs: one PTE per folio, never its first. */
static bool accessed_read(size_t i)
{
	return i == n / 2 + 44 || i == n + 1;
}

static bool referenced(uint64_t pfn)
{
	return kflags(pfn) & (1ULL << KPF_REFERENCED);
}

/*
 * shmem THPs mapped by PTEs; clear_refs 1 makes every PTE old and every
 * folio unreferenced, then one PTE of each of the first two folios is
 * made young by a read. The zap must mark those folios accessed
 * (referenced: one young PTE each) and leave the third alone.
 */
static enum result accessed_shmem(const struct tcase *c, const char **why)
{
	uint64_t heads[DIRTY_THPS];
	bool active[DIRTY_THPS];
	enum result res = PASS;
	size_t i, t;
	int err;

	state_reset();
	*why = clean_shmem_file();
	if (!*why)
		*why = map_pte_layout(DIRTY_THPS * n, PROT_READ, MAP_SHARED);
	if (!*why)
		*why = check_shmem_thps(DIRTY_THPS);
	if (*why) {
		teardown();
		return SKIP;
	}
	/*
	 * clear_refs 1 clears the young bits without a TLB flush (6.1 flushes
	 * for soft-dirty only): a read through a cached translation would set
	 * none. mprotect() flushes, and keeps the accessed bits.
	 */
	if (!read_pagemap(mem, DIRTY_THPS * n, pm0) || !write_file("/proc/self/clear_refs", "1") ||
	    mprotect(mem, DIRTY_THPS * thpsize, PROT_NONE) ||
	    mprotect(mem, DIRTY_THPS * thpsize, PROT_READ)) {
		ksft_print_msg("cannot read pagemap, write clear_refs or mprotect(): %s\n",
			       strerror(errno));
		teardown();
		return FAIL;
	}
	if (smaps_kb(mem, "Referenced") != 0) {
		ksft_print_msg("smaps Referenced is %ld kB after clear_refs 1, expected 0\n",
			       smaps_kb(mem, "Referenced"));
		teardown();
		return FAIL;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		heads[t] = pfn_of(pm0[t * n]);
		active[t] = kflags(heads[t]) & (1ULL << KPF_ACTIVE);
		if (referenced(heads[t])) {
			ksft_print_msg("THP %zu is referenced after clear_refs 1: the case cannot see the zap's accessed transfer\n",
				       t);
			teardown();
			return FAIL;
		}
	}
	for (i = 0; i < DIRTY_THPS * n; i++)
		if (accessed_read(i))
			(void)*(volatile char *)page(i);
	/* Young: exactly the PTEs read. */
	if (smaps_kb(mem, "Referenced") != (long)(2 * pagesize / 1024)) {
		ksft_print_msg("smaps Referenced is %ld kB after reading 2 pages, expected %zu\n",
			       smaps_kb(mem, "Referenced"), 2 * pagesize / 1024);
		teardown();
		return FAIL;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		if (referenced(heads[t])) {
			ksft_print_msg("THP %zu became referenced on the read itself (a fault?): the case cannot see the zap's accessed transfer\n",
				       t);
			teardown();
			return FAIL;
		}
	}
	err = c->op == OP_MUNMAP ? munmap(mem, DIRTY_THPS * thpsize) :
	      madvise(mem, DIRTY_THPS * thpsize, MADV_DONTNEED);
	if (err) {
		ksft_print_msg("the zap failed: %s\n", strerror(errno));
		teardown();
		return FAIL;
	}
	for (t = 0; t < DIRTY_THPS; t++) {
		bool now_active = kflags(heads[t]) & (1ULL << KPF_ACTIVE);
		bool accessed = referenced(heads[t]) || (now_active && !active[t]);

		if (t < 2 && !accessed) {
			ksft_print_msg("THP %zu (PFN %#llx) is neither referenced nor activated after the zap although one of its PTEs (not the first) was young: the accessed bit was lost\n",
				       t, (unsigned long long)heads[t]);
			res = FAIL;
		}
		if (t == 2 && accessed) {
			ksft_print_msg("THP 2, whose PTEs were all old, was marked accessed by the zap\n");
			res = FAIL;
		}
	}
	teardown();
	return res;
}

/* Order-0 pages of a tmpfs file: every page written through the mapping dirty after munmap(). */
static enum result dirty_small_file(const struct tcase *c, const char **why)
{
	const size_t pages = SMALL_FILE_PAGES;
	enum result res = PASS;
	size_t i;

	state_reset();
	r.fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	if (r.fd < 0) {
		*why = "open(/tmp, O_TMPFILE) failed (need a tmpfs on /tmp)";
		return SKIP;
	}
	if (ftruncate(r.fd, pages * pagesize)) {
		ksft_print_msg("ftruncate() failed: %s\n", strerror(errno));
		teardown();
		return FAIL;
	}
	r.map_size = r.size = pages * pagesize;
	r.map = r.mem = mem = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (mem == MAP_FAILED) {
		r.map = NULL;
		ksft_print_msg("mmap() of the file failed: %s\n", strerror(errno));
		teardown();
		return FAIL;
	}
	for (i = 0; i < pages; i++)
		(void)*(volatile char *)page(i);
	if (!read_pagemap(mem, pages, pm0)) {
		teardown();
		return FAIL;
	}
	for (i = 0; i < pages; i++) {
		if (!pfn_of(pm0[i]) || (kflags(pfn_of(pm0[i])) & (1ULL << KPF_DIRTY))) {
			ksft_print_msg("page %zu is %s before any write: the case cannot see the zap's dirty transfer\n",
				       i, pfn_of(pm0[i]) ? "dirty" : "not mapped");
			teardown();
			return FAIL;
		}
	}
	for (i = 0; i < pages; i++)
		if (i % 3 == 1)
			memset(page(i), pattern(i), pagesize);
	for (i = 0; i < pages; i++) {
		if (kflags(pfn_of(pm0[i])) & (1ULL << KPF_DIRTY)) {
			ksft_print_msg("page %zu became dirty on the write itself: the case cannot see the zap's dirty transfer\n",
				       i);
			teardown();
			return FAIL;
		}
	}
	if (munmap(mem, r.size)) {
		teardown();
		return FAIL;
	}
	r.map = NULL;
	for (i = 0; i < pages; i++) {
		if (i % 3 == 1 && !(kflags(pfn_of(pm0[i])) & (1ULL << KPF_DIRTY))) {
			ksft_print_msg("page %zu (PFN %#llx) is clean after munmap() although written: the dirty bit was lost\n",
				       i, (unsigned long long)pfn_of(pm0[i]));
			res = FAIL;
		}
	}
	for (i = 0; i < pages; i++) {
		if (!file_page_holds("the file", r.fd, i, i % 3 == 1 ? pattern(i) : 0)) {
			res = FAIL;
			break;
		}
	}
	teardown();
	return res;
}

/*
 * The data path of a disk file (control): written through MAP_SHARED,
 * munmap(), fdatasync(), read back with O_DIRECT from the disk.
 */
static enum result dirty_ext4(const struct tcase *c, const char **why)
{
	const size_t pages = SMALL_FILE_PAGES, size = pages * pagesize;
	char dir[] = "/tmp/zap_batch-ext4-XXXXXX", path[64];
	enum result res = FAIL;
	bool mounted = false;
	char *map, *buf = NULL;
	int fd = -1, dfd = -1, ret;
	size_t i;

	fd = open(RAMDISK, O_RDWR | O_EXCL);
	if (fd < 0) {
		*why = errno == EBUSY ? RAMDISK " is in use" :
		       "need the RAM disk " RAMDISK " (CONFIG_BLK_DEV_RAM=y, or modprobe brd rd_nr=5)";
		return SKIP;
	}
	close(fd);
	fd = -1;
	ret = mkfs_ext(RAMDISK);
	if (ret == 127) {
		*why = "need mke2fs in PATH (busybox or e2fsprogs)";
		return SKIP;
	}
	if (ret) {
		ksft_print_msg("mke2fs %s failed (%d)\n", RAMDISK, ret);
		return FAIL;
	}
	if (!mkdtemp(dir)) {
		ksft_print_msg("cannot create a mount point in /tmp\n");
		return FAIL;
	}
	if (mount(RAMDISK, dir, "ext4", MS_NOATIME, NULL)) {
		*why = "cannot mount ext4 (need CONFIG_EXT4_FS=y)";
		rmdir(dir);
		return SKIP;
	}
	mounted = true;
	snprintf(path, sizeof(path), "%s/f", dir);
	buf = aligned_alloc(pagesize, size);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (!buf || fd < 0) {
		ksft_print_msg("cannot create the file: %s\n", strerror(errno));
		goto out;
	}
	/* On disk first: 0x5a everywhere, so lost data does not read as anything written. */
	memset(buf, 0x5a, size);
	if (pwrite(fd, buf, size, 0) != (ssize_t)size || fsync(fd)) {
		ksft_print_msg("cannot write the file: %s\n", strerror(errno));
		goto out;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ksft_print_msg("mmap() of the file failed: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < pages; i++)
		memset(map + i * pagesize, pattern(i), pagesize);
	if (munmap(map, size) || fdatasync(fd)) {
		ksft_print_msg("munmap() or fdatasync() failed: %s\n", strerror(errno));
		goto out;
	}
	dfd = open(path, O_RDONLY | O_DIRECT);
	if (dfd < 0 || pread(dfd, buf, size, 0) != (ssize_t)size) {
		ksft_print_msg("O_DIRECT read of the file failed: %s\n", strerror(errno));
		goto out;
	}
	res = PASS;
	for (i = 0; i < pages; i++) {
		if (!page_holds("the disk", buf + i * pagesize, i, pattern(i))) {
			res = FAIL;
			break;
		}
	}
out:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (mounted && umount(dir))
		umount2(dir, MNT_DETACH);
	rmdir(dir);
	return res;
}

/* ---- soft-dirty ---- */

static bool sd_written(size_t i)
{
	return (i >= 64 && i < 128) || i == n / 2 + 44 || (i >= n && i < n + 10);
}

static enum result soft_dirty(const struct tcase *c, const char **why)
{
	size_t from = n / 8 + 36, to = n + 5, i;
	struct counters touched, after;
	bool hard = false, noise = false;
	enum result res = PASS;
	struct expect e;

	state_reset();
	*why = setup_anon(K_PTE);
	if (*why) {
		teardown();
		return SKIP;
	}
	if (!write_file("/proc/self/clear_refs", "4")) {
		*why = "cannot clear soft-dirty bits (need CONFIG_MEM_SOFT_DIRTY)";
		teardown();
		return SKIP;
	}
	for (i = 0; i < npages; i++)
		if (sd_written(i))
			memset(page(i), later(i), pagesize);
	if (!snapshot(&touched) || !read_pagemap(mem, npages, pm0) || !zap(OP_DONTNEED, from, to) ||
	    !snapshot(&after) || !read_pagemap(mem, npages, pm1)) {
		teardown();
		return FAIL;
	}
	memset(&e, 0, sizeof(e));
	e.anon = -(long)(to - from);
	check_counts("after the zap", &touched, &after, &e, false, &hard, &noise);
	if (hard)
		res = FAIL;
	/* Before the zap: soft-dirty exactly where written. */
	for (i = 0; i < npages; i++) {
		if (!(pm0[i] & PM_PRESENT) || !!(pm0[i] & PM_SOFT_DIRTY) != sd_written(i)) {
			ksft_print_msg("before the zap: page %zu has pagemap %#llx (written: %s)\n",
				       i, (unsigned long long)pm0[i], sd_written(i) ? "yes" : "no");
			res = FAIL;
			break;
		}
	}
	if (!pagemap_after_zap(from, to))
		res = FAIL;
	for (i = 0; i < npages; i++) {
		bool zapped = i >= from && i < to;

		if (zapped || !(pm1[i] & PM_PRESENT))
			continue;
		if (!!(pm1[i] & PM_SOFT_DIRTY) != sd_written(i)) {
			ksft_print_msg("page %zu, not zapped, has pagemap %#llx: soft-dirty %s, expected %s\n",
				       i, (unsigned long long)pm1[i],
				       pm1[i] & PM_SOFT_DIRTY ? "set" : "clear",
				       sd_written(i) ? "set" : "clear");
			res = FAIL;
			break;
		}
	}
	for (i = 0; i < npages; i++) {
		bool zapped = i >= from && i < to;
		char want = zapped ? 0 : sd_written(i) ? later(i) : pattern(i);

		if (!page_holds(zapped ? "a zapped page" : "a page left mapped", page(i), i, want)) {
			res = FAIL;
			break;
		}
	}
	teardown();
	return res;
}

/* ---- uffd-wp ---- */

static int uffd_new(void)
{
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	/* Without privilege (vm.unprivileged_userfaultfd=0): user faults only. */
	if (fd < 0 && errno == EPERM)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd;
}

/* A uffd with uffd-wp (on shmem too with @shmem); -1 and *why if it cannot be had. */
static int uffd_open(bool shmem, const char **why)
{
	struct uffdio_api api = { .api = UFFD_API };
	uint64_t want = UFFD_FEATURE_PAGEFAULT_FLAG_WP |
			(shmem ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
	int fd = uffd_new();

	if (fd < 0) {
		*why = errno == ENOSYS ? "no userfaultfd() (need CONFIG_USERFAULTFD)" :
		       "userfaultfd() failed (need root or vm.unprivileged_userfaultfd=1)";
		return -1;
	}
	/* What the kernel offers; UFFDIO_API once per uffd. */
	if (ioctl(fd, UFFDIO_API, &api) || (api.features & want) != want) {
		close(fd);
		*why = !(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) ?
		       "no uffd-wp (need CONFIG_HAVE_ARCH_USERFAULTFD_WP)" :
		       "no uffd-wp on shmem: needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM (CONFIG_PTE_MARKER_UFFD_WP, v5.19+)";
		return -1;
	}
	close(fd);
	fd = uffd_new();
	api = (struct uffdio_api){ .api = UFFD_API, .features = want };
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api)) {
		ksft_print_msg("userfaultfd()/UFFDIO_API failed: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool uffd_wp(int fd, size_t from, size_t to, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)page(from), .len = (to - from) * pagesize },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (!ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
		return true;
	ksft_print_msg("UFFDIO_WRITEPROTECT failed: %s\n", strerror(errno));
	return false;
}

/*
 * The monitor: a thread that counts the uffd-wp faults and resolves each
 * by lifting the protection of the faulting page (which wakes the
 * writer). Anything else it counts and leaves: the case's deadline ends
 * a writer that waits for it.
 */
struct monitor {
	pthread_t thread;
	int uffd, stop[2];
	int faults, others;
	uint64_t last;
};

static void *monitor_fn(void *arg)
{
	struct monitor *m = arg;
	struct pollfd pfd[2] = {
		{ .fd = m->uffd, .events = POLLIN },
		{ .fd = m->stop[0], .events = POLLIN },
	};
	struct uffd_msg msg;

	for (;;) {
		struct uffdio_writeprotect wp = { .mode = 0 };
		int k = poll(pfd, 2, -1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || pfd[1].revents)
			break;
		if (read(m->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;	/* EAGAIN */
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
			__atomic_add_fetch(&m->others, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		wp.range.start = msg.arg.pagefault.address & ~(uint64_t)(pagesize - 1);
		wp.range.len = pagesize;
		__atomic_store_n(&m->last, wp.range.start, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&m->faults, 1, __ATOMIC_SEQ_CST);
		if (ioctl(m->uffd, UFFDIO_WRITEPROTECT, &wp))
			__atomic_add_fetch(&m->others, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static bool monitor_start(struct monitor *m, int uffd)
{
	memset(m, 0, sizeof(*m));
	m->uffd = uffd;
	if (pipe(m->stop))
		return false;
	if (pthread_create(&m->thread, NULL, monitor_fn, m)) {
		close(m->stop[0]);
		close(m->stop[1]);
		return false;
	}
	return true;
}

static void monitor_stop(struct monitor *m)
{
	if (write(m->stop[1], "s", 1) != 1)
		ksft_print_msg("cannot stop the monitor: %s\n", strerror(errno));
	pthread_join(m->thread, NULL);
	close(m->stop[0]);
	close(m->stop[1]);
}

static int faults(struct monitor *m)
{
	return __atomic_load_n(&m->faults, __ATOMIC_SEQ_CST);
}

/*
 * Writes page @i with later(i) and checks that it raised @want uffd-wp
 * faults (0 or 1), the one at page @i.
 */
static bool write_expect(struct monitor *m, size_t i, int want)
{
	int before = faults(m), got;

	memset(page(i), later(i), pagesize);
	got = faults(m) - before;
	if (got != want) {
		ksft_print_msg("a write to page %zu raised %d uffd-wp faults, expected %d\n",
			       i, got, want);
		return false;
	}
	if (want && __atomic_load_n(&m->last, __ATOMIC_SEQ_CST) != (uintptr_t)page(i)) {
		ksft_print_msg("the uffd-wp fault of the write to page %zu was at %#llx\n",
			       i, (unsigned long long)__atomic_load_n(&m->last, __ATOMIC_SEQ_CST));
		return false;
	}
	return true;
}

static enum result uffd_case(const struct tcase *c, const char **why)
{
	/* Protected [wfrom, wto), zapped [from, to): across both, both ways. */
	size_t wfrom = n / 2 - 56, wto = n + n / 2 - 56, from = n / 4 + 22, to = n + 50, i;
	bool shmem = c->kind == K_SHM_SHARED;
	struct uffdio_register reg;
	enum result res = PASS;
	struct monitor m;
	int uffd;

	state_reset();
	uffd = uffd_open(shmem, why);
	if (uffd < 0)
		return *why ? SKIP : FAIL;
	*why = shmem ? setup_shmem(true) : setup_anon(K_PTE);
	if (*why) {
		close(uffd);
		teardown();
		return SKIP;
	}
	reg = (struct uffdio_register){
		.range = { .start = (uintptr_t)mem, .len = npages * pagesize },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		ksft_print_msg("UFFDIO_REGISTER (WP) failed: %s\n", strerror(errno));
		close(uffd);
		teardown();
		return FAIL;
	}
	if (!uffd_wp(uffd, wfrom, wto, true) || !read_pagemap(mem, npages, pm0) ||
	    !monitor_start(&m, uffd)) {
		close(uffd);
		teardown();
		return FAIL;
	}
	for (i = 0; i < npages; i++) {
		if (!!(pm0[i] & PM_UFFD_WP) != (i >= wfrom && i < wto)) {
			ksft_print_msg("before the zap: page %zu has pagemap %#llx\n",
				       i, (unsigned long long)pm0[i]);
			res = FAIL;
			goto out;
		}
	}
	if (!zap(OP_DONTNEED, from, to) || !read_pagemap(mem, npages, pm1)) {
		res = FAIL;
		goto out;
	}
	for (i = 0; i < npages; i++) {
		bool zapped = i >= from && i < to, prot = i >= wfrom && i < wto;
		bool ok;

		if (!zapped)
			ok = (pm1[i] & PM_PRESENT) && pfn_of(pm1[i]) == pfn_of(pm0[i]) &&
			     !!(pm1[i] & PM_UFFD_WP) == prot;
		else if (shmem && prot)
			/* A uffd-wp marker. */
			ok = !(pm1[i] & PM_PRESENT) && (pm1[i] & PM_UFFD_WP);
		else
			ok = !(pm1[i] & (PM_PRESENT | PM_SWAP | PM_UFFD_WP));
		if (!ok) {
			ksft_print_msg("after the zap: page %zu (%szapped, %sprotected) has pagemap %#llx (before %#llx)\n",
				       i, zapped ? "" : "not ", prot ? "" : "not ",
				       (unsigned long long)pm1[i], (unsigned long long)pm0[i]);
			res = FAIL;
			goto out;
		}
	}
	/* Reads raise no uffd-wp fault: zero, or the file's data. */
	for (i = 0; i < npages; i++) {
		bool zapped = i >= from && i < to;

		if (!page_holds(zapped ? "a zapped page" : "a page left mapped", page(i), i,
				zapped && !shmem ? 0 : content(c->kind, i))) {
			res = FAIL;
			goto out;
		}
	}
	if (faults(&m)) {
		ksft_print_msg("reads raised %d uffd-wp faults\n", faults(&m));
		res = FAIL;
		goto out;
	}
	if (shmem) {
		/* A read maps the page again: protected where the marker was. */
		if (!read_pagemap(mem, npages, pm1)) {
			res = FAIL;
			goto out;
		}
		for (i = from; i < to; i++) {
			bool prot = i >= wfrom && i < wto;

			if (!(pm1[i] & PM_PRESENT) || !!(pm1[i] & PM_UFFD_WP) != prot) {
				ksft_print_msg("after reading it, zapped page %zu (%sprotected) has pagemap %#llx\n",
					       i, prot ? "" : "not ", (unsigned long long)pm1[i]);
				res = FAIL;
				goto out;
			}
		}
	}
	/* Writes: a fault where (and only where) a protection is left. */
	if (!write_expect(&m, from, 0) || !write_expect(&m, wfrom - 1, 0) ||
	    !write_expect(&m, wfrom, shmem) || !write_expect(&m, n - 1, shmem) ||
	    !write_expect(&m, n, shmem) || !write_expect(&m, to - 1, shmem) ||
	    !write_expect(&m, from - 1, 0) || !write_expect(&m, to + 10, 1) ||
	    !write_expect(&m, wto, 0))
		res = FAIL;
	if (__atomic_load_n(&m.others, __ATOMIC_SEQ_CST)) {
		ksft_print_msg("%d other uffd messages or errors\n",
			       __atomic_load_n(&m.others, __ATOMIC_SEQ_CST));
		res = FAIL;
	}
	if (shmem) {
		size_t w[] = { from, wfrom - 1, wfrom, n - 1, n, to - 1, from - 1, to + 10, wto };

		for (i = 0; i < sizeof(w) / sizeof(w[0]) && res == PASS; i++)
			if (!file_page_holds("the file after the writes", r.fd, w[i], later(w[i])))
				res = FAIL;
	}
out:
	monitor_stop(&m);
	close(uffd);
	teardown();
	return res;
}

/* ---- swap ---- */

static enum result swap_zap(const struct tcase *c, const char **why, bool *noise)
{
	const long slack = 2 * 64 * sysconf(_SC_NPROCESSORS_ONLN);
	size_t swapped = n / 2 - 56, i;
	struct counters base, touched, after;
	bool hard = false;
	uint64_t head1;
	long total;
	struct expect e;

	state_reset();
	if (!read_key("/proc/meminfo", "SwapTotal", &total) || total <= 0) {
		*why = "no swap (swapon a zram device or a swap file)";
		return SKIP;
	}
	if (!snapshot(&base))
		return FAIL;
	*why = setup_anon(K_PTE);
	if (*why) {
		teardown();
		return SKIP;
	}
	if (madvise(page(swapped), pagesize, MADV_PAGEOUT) || !page_is_swapped(page(swapped))) {
		ksft_print_msg("MADV_PAGEOUT did not swap page %zu out: %s\n", swapped, strerror(errno));
		teardown();
		return FAIL;
	}
	st[swapped] = P_SWAP;
	/* The data swap left mapped, read before the zap. */
	for (i = 0; i < npages; i++) {
		if (i != swapped && !page_holds("before the zap", page(i), i, pattern(i))) {
			teardown();
			return FAIL;
		}
	}
	if (!snapshot(&touched) || !read_pagemap(mem, npages, pm0) ||
	    !zap(c->op, 0, npages) || !snapshot(&after) || !read_pagemap(mem, npages, pm1)) {
		teardown();
		return FAIL;
	}
	head1 = pfn_of(pm0[n]);
	expect_now(&e, 0, 0);
	check_counts("after the setup", &base, &touched, &e, true, &hard, noise);
	for (i = 0; i < npages; i++)
		st[i] = P_NONE;
	memset(&e, 0, sizeof(e));
	check_counts("after the zap", &base, &after, &e, true, &hard, noise);
	if (after.swap_free < base.swap_free - slack) {
		ksft_print_msg("SwapFree is %ld pages below its value before the swap-out (more than the %ld of the swap slot caches)\n",
			       base.swap_free - after.swap_free, slack);
		hard = true;
	}
	if (!pagemap_after_zap(0, npages))
		hard = true;
	if (kflags(head1) & (1ULL << KPF_THP)) {
		ksft_print_msg("THP 1 was zapped entirely but is not freed\n");
		hard = true;
	}
	for (i = 0; c->op == OP_DONTNEED && i < npages; i++) {
		if (!page_holds("a zapped page read again", page(i), i, 0)) {
			hard = true;
			break;
		}
	}
	teardown();
	if (hard)
		*noise = false;
	return hard || *noise ? FAIL : PASS;
}

static enum result swap_case(const struct tcase *c, const char **why)
{
	return again(swap_zap, c, why);
}

/* ---- running ---- */

#define MAX_CASES 48
static struct tcase cases[MAX_CASES];
static unsigned int nr_cases;

static void add(enum result (*fn)(const struct tcase *c, const char **why),
		enum kind kind, enum op op, const char *fmt, ...)
{
	struct tcase *c = &cases[nr_cases++];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->desc, sizeof(c->desc), fmt, ap);
	va_end(ap);
	c->fn = fn;
	c->kind = kind;
	c->op = op;
}

static void build_cases(void)
{
	int k, o;

	for (k = 0; k < NR_KINDS; k++)
		for (o = 0; o < NR_OPS; o++)
			add(account_case, k, o, "%s: %s", kind_desc[k], op_desc[o]);
	add(dirty_shmem, K_SHM_SHARED, OP_MUNMAP,
	    "dirty: PTE-mapped shmem THPs written through a few PTEs, munmap(): the folios are dirty, the file has the data");
	add(dirty_shmem, K_SHM_SHARED, OP_DONTNEED,
	    "dirty: PTE-mapped shmem THPs written through a few PTEs, MADV_DONTNEED: the folios are dirty, the file has the data");
	add(dirty_shmem, K_SHM_SHARED, OP_EXIT,
	    "dirty: PTE-mapped shmem THPs written through a few PTEs, exit of the writer: the folios are dirty, the file has the data");
	add(accessed_shmem, K_SHM_SHARED, OP_MUNMAP,
	    "accessed: PTE-mapped shmem THPs, PTEs made old (clear_refs 1), one read per folio, munmap(): the folios read are referenced, the other not");
	add(accessed_shmem, K_SHM_SHARED, OP_DONTNEED,
	    "accessed: PTE-mapped shmem THPs, PTEs made old (clear_refs 1), one read per folio, MADV_DONTNEED: the folios read are referenced, the other not");
	add(dirty_small_file, K_SMALL, OP_MUNMAP,
	    "dirty: order-0 tmpfs file written through every third PTE, munmap(): the pages are dirty, the file has the data");
	add(dirty_ext4, K_SMALL, OP_MUNMAP,
	    "dirty: ext4 file on a RAM disk written through MAP_SHARED, munmap(), fdatasync(): O_DIRECT reads the data (control)");
	add(soft_dirty, K_PTE, OP_DONTNEED_PART,
	    "soft-dirty: PTE-mapped anon THPs, some pages written after clear_refs, MADV_DONTNEED across written and clean PTEs: zapped pages read zero, the rest keep data and soft-dirty bits");
	add(uffd_case, K_PTE, OP_DONTNEED_PART,
	    "uffd-wp: PTE-mapped anon THPs, MADV_DONTNEED across protected and unprotected PTEs: zapped pages read zero and do not fault, the rest keep their protection");
	add(uffd_case, K_SHM_SHARED, OP_DONTNEED_PART,
	    "uffd-wp: PTE-mapped shmem THPs, MAP_SHARED, MADV_DONTNEED across protected and unprotected PTEs: markers where protected, a write there faults, elsewhere not");
	add(swap_case, K_PTE, OP_MUNMAP,
	    "swap: PTE-mapped anon THPs with a page swapped out in the middle, munmap() of the whole region");
	add(swap_case, K_PTE, OP_DONTNEED,
	    "swap: PTE-mapped anon THPs with a page swapped out in the middle, MADV_DONTNEED of the whole region");
}

/* Shared with the case processes: the last one's verdict. */
static struct verdict *verdict;

static void run_case(const struct tcase *c, const char *missing)
{
	enum result res = FAIL;
	const char *why = NULL;
	int status = 0, kfd;
	char splat[256];
	pid_t pid;

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
		alarm(CASE_TIMEOUT);
		if (quiet_start())
			verdict->res = c->fn(c, &why);
		snprintf(verdict->why, sizeof(verdict->why), "%s", why ? why : "");
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0)
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
	else if (waitpid(pid, &status, 0) != pid)
		ksft_print_msg("waitpid() failed: %s\n", strerror(errno));
	else if (WIFEXITED(status) && !WEXITSTATUS(status))
		res = verdict->res;
	else if (WIFSIGNALED(status))
		ksft_print_msg("the case process died of signal %d%s\n", WTERMSIG(status),
			       WTERMSIG(status) == SIGALRM ? " (deadline)" : "");
	else
		ksft_print_msg("the case process failed (status %#x)\n", status);
	/* A splat fails the case, whatever else it found. */
	if (kmsg_splat_since(kfd, splat, sizeof(splat))) {
		ksft_print_msg("kernel splat during the case: %s\n", splat);
		res = FAIL;
	}
	if (kfd >= 0)
		close(kfd);
	report_result(res, res == SKIP && verdict->why[0] ? verdict->why : NULL, "%s", c->desc);
}

int main(void)
{
	const char *missing = NULL;
	unsigned int i;

	mem_init();
	/* No heap trimming: a regrown heap would fault in the middle of a case. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	build_cases();
	ksft_print_header();
	ksft_set_plan(nr_cases);
	if (geteuid())
		missing = "need root (PFNs in pagemap, tmpfs mounts, vm.stat_refresh, vm.drop_caches)";
	else if (!thpsize)
		missing = "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	else
		missing = kmsg_unreadable();
	if (missing)
		ksft_print_msg("%s\n", missing);
	n = thpsize ? thpsize / pagesize : 1;
	maxpages = DIRTY_THPS * n;
	st = calloc(maxpages, sizeof(*st));
	pm0 = calloc(maxpages, sizeof(*pm0));
	pm1 = calloc(maxpages, sizeof(*pm1));
	pagebuf = malloc(pagesize);
	verdict = mmap(NULL, sizeof(*verdict), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!st || !pm0 || !pm1 || !pagebuf || verdict == MAP_FAILED)
		ksft_exit_fail_msg("out of memory\n");
	for (i = 0; i < nr_cases; i++)
		run_case(&cases[i], missing);
	finish(false);
}
