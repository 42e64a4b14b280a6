// SPDX-License-Identifier: GPL-2.0
/*
 * fork_batch - fork() of PTE-mapped large folios in mixed states.
 *
 * With the forkpin series, fork() copies the PTEs of a PTE-mapped THP in
 * batches: one reference, one rmap dup and one pass over the PTEs for a
 * run of pages of one folio mapped alike. A batch must leave every PTE
 * exactly as the per-page copy does. This test builds PTE-mapped THPs in
 * mixed states, forks, and checks in parent and child:
 *
 *  - the content of every page, and that holes stay holes;
 *  - pagemap: present, swapped and soft-dirty bits as in the parent
 *    before fork(), and PM_MMAP_EXCLUSIVE (the page's mapcount is 1): a
 *    page shared with the child must not be exclusive in either process,
 *    a copied (early-COW) page must be exclusive in both;
 *  - COW in both directions: the parent's writes after fork() do not
 *    reach the child and the child's do not reach the parent.
 *
 * It passes on 6.1 as it is and guards the batching: a batch that forgot
 * to write-protect its last PTE, or to dup the rmap of one of its pages,
 * fails here.
 *
 * The anonymous THPs, in page-table order:
 *   A  soft-dirty cleared, then pages 64..127 written (soft-dirty, writable
 *      and dirty again); holes at 8..15; pages 24..31 read-only by mprotect
 *   B  one page pinned (FOLL_LONGTERM, R/W) in the pin cases: the whole
 *      folio may be pinned, so fork() copies every exclusive page of it
 *   C  the last 8 pages swapped out (this splits the folio)
 *   D  untouched: one batch of a whole page table
 *   E  MADV_FREE, then the first half written: the second half's PTEs are
 *      clean and read-only, the first half's dirty and writable
 *
 * The batch takes file folios too: the shmem cases map two shmem THPs
 * (pagecache pages, mem_util's map_shmem_thps()) MAP_PRIVATE, PTE-mapped,
 * one page past a PMD boundary, so each folio's PTEs span two page tables.
 * fork() copies the page tables of a private file mapping once it has
 * anonymous pages (an anon_vma); a MAP_SHARED mapping it never copies
 * (the child faults), so the batch never sees one. Right after fork() the
 * pagecache pages are mapped by both processes, so none is exclusive.
 *   A  soft-dirty cleared, then pages 64..127 written: COWed to
 *      anonymous pages amid the folio's PTEs; holes at 8..15 (they read
 *      the file again); pages 24..31 read-only by mprotect; pages
 *      160..191 PROT_NONE, whose PTEs hold their PFN inverted on x86
 *      (L1TF): both processes make them readable after the pagemap check
 *   B  untouched; in the pin cases page 40 is pinned R/W, which COWs it
 *      to an anonymous page that fork() copies for the child
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>

#include "mem_util.h"
#include "pin_util.h"

enum { THP_A, THP_B, THP_C, THP_D, THP_E, NR_THPS };
#define PINNED_PAGE	40	/* in THP B */

/* Per-page state of the test region. */
enum state { MAPPED, HOLE, READONLY, LAZYFREE, PROTNONE };

static size_t nr_per_thp;	/* pages per THP */
static size_t nr;		/* pages in the region */
static char *mem;
static enum state *st;
static uint64_t *pm_before;	/* the parent's pagemap before fork() */
static uint64_t *pm_now;
static bool have_swap;
static bool shmem;		/* the shmem layout: holes read the file */
static size_t pinned;		/* the page pinned in the pin cases */
static struct region r;

static char pattern(size_t i)
{
	return (char)(i % 251 + 1);
}

static char later(size_t i)
{
	return (char)~pattern(i);
}

static char *page(size_t i)
{
	return mem + i * pagesize;
}

static size_t thp(int t, size_t i)
{
	return t * nr_per_thp + i;
}

static void write_pages(size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		memset(page(i), pattern(i), pagesize);
}

/* The per-page arrays for a region of @thps THPs at r.mem. */
static const char *alloc_state(int thps)
{
	mem = r.mem;
	nr_per_thp = thpsize / pagesize;
	nr = thps * nr_per_thp;
	free(st);
	free(pm_before);
	free(pm_now);
	st = calloc(nr, sizeof(*st));
	pm_before = calloc(nr, sizeof(*pm_before));
	pm_now = calloc(nr, sizeof(*pm_now));
	return st && pm_before && pm_now ? NULL : "out of memory";
}

static const char *clear_soft_dirty(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	bool ok = fd >= 0 && write(fd, "4", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? NULL : "cannot clear soft-dirty bits (need CONFIG_MEM_SOFT_DIRTY)";
}

static const char *setup(void)
{
	const char *why;
	size_t i;
	int t;

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	shmem = false;
	r = (struct region){ .fd = -1 };
	why = map_anon(&r, NR_THPS * thpsize, thpsize, 0);
	if (!why)
		why = alloc_state(NR_THPS);
	if (why)
		return why;
	pinned = thp(THP_B, PINNED_PAGE);
	if (madvise(mem, r.size, MADV_HUGEPAGE))
		return "MADV_HUGEPAGE failed (THP disabled?)";
	write_pages(0, nr);
	for (t = 0; t < NR_THPS; t++)
		if (!page_has_kflag(page(thp(t, 0)), KPF_THP))
			return "could not get THPs (THP disabled or memory fragmented?)";

	/* Soft-dirty cleared everywhere: this write-protects every PMD. */
	why = clear_soft_dirty();
	if (why)
		return why;
	/* B, C and D writable and soft-dirty again, still PMD-mapped. */
	write_pages(thp(THP_B, 0), thp(THP_E, 0));
	/* E: lazily freed, so its PMD is clean. */
	if (madvise(page(thp(THP_E, 0)), thpsize, MADV_FREE))
		return "MADV_FREE failed";

	for (t = 0; t < NR_THPS; t++)
		if (!split_pmd(page(thp(t, 1))))
			return "mprotect() failed";

	/* A */
	write_pages(thp(THP_A, 64), thp(THP_A, 128));
	if (madvise(page(thp(THP_A, 8)), 8 * pagesize, MADV_DONTNEED))
		return "MADV_DONTNEED failed";
	for (i = 8; i < 16; i++)
		st[thp(THP_A, i)] = HOLE;
	if (mprotect(page(thp(THP_A, 24)), 8 * pagesize, PROT_READ))
		return "mprotect() failed";
	for (i = 24; i < 32; i++)
		st[thp(THP_A, i)] = READONLY;

	/* C: swap out its tail, if there is swap. */
	have_swap = false;
	if (!madvise(page(thp(THP_C, nr_per_thp - 8)), 8 * pagesize, MADV_PAGEOUT) &&
	    page_is_swapped(page(thp(THP_C, nr_per_thp - 1))))
		have_swap = true;

	/* E: the first half written again, the second half stays clean. */
	write_pages(thp(THP_E, 0), thp(THP_E, nr_per_thp / 2));
	for (i = nr_per_thp / 2; i < nr_per_thp; i++)
		st[thp(THP_E, i)] = LAZYFREE;

	for (t = 0; t < NR_THPS; t++)
		if (t != THP_C && !page_has_kflag(page(thp(t, nr_per_thp - 1)), KPF_THP))
			return "a THP did not survive the PMD split";
	return NULL;
}

/*
 * Every page as expected: holes zero (the file's content in the shmem
 * layout), written pages later(), others pattern().
 */
static bool content_ok(const char *who, bool written)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		char want = st[i] == HOLE ? (shmem ? pattern(i) : 0) :
			    written && st[i] != READONLY && st[i] != PROTNONE ?
			    later(i) : pattern(i);

		if (!all_bytes(page(i), pagesize, want)) {
			ksft_print_msg("%s: page %zu (THP %c, page %zu) holds %#x, expected %#x%s\n",
				       who, i, 'A' + (int)(i / nr_per_thp), i % nr_per_thp,
				       page(i)[0] & 0xff, want & 0xff,
				       st[i] == LAZYFREE && !page(i)[0] ?
				       " (a clean MADV_FREE page reclaimed: memory pressure?)" : "");
			return false;
		}
	}
	return true;
}

/* Writes every writable page with later(i); holes stay holes (no write). */
static void write_all(void)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (st[i] != HOLE && st[i] != READONLY && st[i] != PROTNONE)
			memset(page(i), later(i), pagesize);
}

/* The shmem layout (see the top): two PTE-mapped shmem THPs, private. */
static const char *setup_shmem(void)
{
	const char *why;
	char *buf;
	size_t i;

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	shmem = true;
	r = (struct region){ .fd = -1 };
	why = map_shmem_thps(&r, 2, false, true);
	if (!why)
		why = alloc_state(2);
	if (why)
		return why;
	pinned = thp(1, PINNED_PAGE);
	/* The file's content, seen through the PTEs that map it already. */
	buf = malloc(pagesize);
	if (!buf)
		return "out of memory";
	for (i = 0; i < nr; i++) {
		memset(buf, pattern(i), pagesize);
		if (pwrite(r.fd, buf, pagesize, i * pagesize) != (ssize_t)pagesize)
			break;
	}
	free(buf);
	if (i < nr)
		return "cannot write the shmem file";
	if (!content_ok("before fork()", false))
		return "the private mapping does not show the file's content";

	why = clear_soft_dirty();
	if (why)
		return why;
	/* COW: anonymous, soft-dirty pages amid the folio's PTEs. */
	write_pages(64, 128);
	if (madvise(page(8), 8 * pagesize, MADV_DONTNEED))
		return "MADV_DONTNEED failed";
	for (i = 8; i < 16; i++)
		st[i] = HOLE;
	if (mprotect(page(24), 8 * pagesize, PROT_READ))
		return "mprotect() failed";
	for (i = 24; i < 32; i++)
		st[i] = READONLY;
	if (mprotect(page(160), 32 * pagesize, PROT_NONE))
		return "mprotect() failed";
	for (i = 160; i < 192; i++)
		st[i] = PROTNONE;

	if (page_has_kflag(page(64), KPF_THP))
		return "a write did not COW the pagecache page";
	if (!page_has_kflag(page(63), KPF_THP) || !page_has_kflag(page(nr - 1), KPF_THP))
		return "a shmem THP did not stay large";
	return NULL;
}

/* PROT_NONE pages readable again, once the pagemap was checked. */
static bool unprotect(const char *who)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (st[i] == PROTNONE && mprotect(page(i), pagesize, PROT_READ)) {
			ksft_print_msg("%s: mprotect() failed: %s\n", who, strerror(errno));
			return false;
		}
	}
	return true;
}

/*
 * The pagemap right after fork(), in @who: present, swapped and soft-dirty
 * as before fork(); a present page exclusive only if fork() copied it
 * (the folio of a pinned page: the pinned THP, or the pinned base page
 * that a pin COWed in the shmem layout), shared otherwise.
 */
static bool pagemap_ok(const char *who, bool pin)
{
	const uint64_t same = PM_PRESENT | PM_SWAP | PM_SOFT_DIRTY;
	size_t i;

	if (!read_pagemap(mem, nr, pm_now)) {
		ksft_print_msg("%s: cannot read /proc/self/pagemap\n", who);
		return false;
	}
	for (i = 0; i < nr; i++) {
		bool copied = pin && (shmem ? i == pinned : i / nr_per_thp == THP_B);
		bool excl = pm_now[i] & PM_MMAP_EXCLUSIVE;

		if ((pm_now[i] ^ pm_before[i]) & same) {
			ksft_print_msg("%s: page %zu (THP %c, page %zu): pagemap %#llx, before fork() %#llx\n",
				       who, i, 'A' + (int)(i / nr_per_thp), i % nr_per_thp,
				       (unsigned long long)pm_now[i],
				       (unsigned long long)pm_before[i]);
			return false;
		}
		if ((pm_now[i] & PM_PRESENT) && excl != copied) {
			ksft_print_msg("%s: page %zu (THP %c, page %zu) is %s, expected %s\n",
				       who, i, 'A' + (int)(i / nr_per_thp), i % nr_per_thp,
				       excl ? "exclusive" : "shared",
				       copied ? "exclusive (copied for the child)" :
				       "shared with the child");
			return false;
		}
	}
	return true;
}

/*
 * One fork: the child checks what it sees right after fork() (content,
 * pagemap), then either waits for the parent's writes and checks it still
 * sees the old data, or writes itself.
 */
static bool fork_case(bool parent_writes, bool pin)
{
	struct comm_pipes cp;
	bool ok = true;
	int status;
	size_t i;
	pid_t pid;

	if (!comm_pipes_setup(&cp))
		return false;
	if (pin && pin_start(page(pinned), pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE)) {
		pin = false;
		ok = false;
		goto out;
	}
	if (!read_pagemap(mem, nr, pm_before)) {
		ksft_print_msg("cannot read /proc/self/pagemap\n");
		ok = false;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if ((pm_before[i] & PM_PRESENT) && !(pm_before[i] & PM_MMAP_EXCLUSIVE)) {
			ksft_print_msg("page %zu is not exclusive before fork()\n", i);
			ok = false;
			goto out;
		}
	}

	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	if (!pid) {
		if (!pagemap_ok("child", pin) || !unprotect("child") ||
		    !content_ok("child", false))
			_exit(1);
		/* The parent's writes would make pages exclusive again. */
		comm_pipes_keep(&cp, true);
		if (!comm_tell(cp.to_parent[1], 'c') || !comm_hear(cp.to_child[0], -1))
			_exit(2);
		if (!parent_writes) {
			write_all();
			_exit(0);
		}
		_exit(content_ok("child after the parent's writes", false) ? 0 : 1);
	}

	comm_pipes_keep(&cp, false);	/* a child that died early reads as EOF */
	ok = pagemap_ok("parent", pin) && unprotect("parent");
	/* Until the child has looked, nobody writes: a COW ends the sharing. */
	if (comm_hear(cp.to_parent[0], -1) != 'c') {
		ksft_print_msg("the child did not finish its checks after fork() (see below)\n");
		ok = false;
	}
	if (parent_writes)
		write_all();
	if (!comm_tell(cp.to_child[1], 'g')) {
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
		ok = false;
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child failed (status %#x)\n", status);
		ok = false;
	}
	if (ok)
		ok = content_ok(parent_writes ? "parent after its writes" :
				"parent after the child's writes", parent_writes);
out:
	if (pin)
		pin_stop();
	comm_pipes_close(&cp);
	return ok;
}

static const struct {
	const char *desc;
	bool parent_writes, pin, shmem;
} cases[] = {
	{ "PTE-mapped THPs with holes, swap, R/O, clean and soft-dirty PTEs: parent writes after fork()",
	  true, false, false },
	{ "PTE-mapped THPs with holes, swap, R/O, clean and soft-dirty PTEs: child writes after fork()",
	  false, false, false },
	{ "same with a pinned page in one of the folios: parent writes after fork()",
	  true, true, false },
	{ "same with a pinned page in one of the folios: child writes after fork()",
	  false, true, false },
	{ "PTE-mapped shmem THPs, private, with holes, COWed, R/O and PROT_NONE PTEs: parent writes after fork()",
	  true, false, true },
	{ "PTE-mapped shmem THPs, private, with holes, COWed, R/O and PROT_NONE PTEs: child writes after fork()",
	  false, false, true },
	{ "same shmem THPs with a pinned page amid a folio's PTEs: parent writes after fork()",
	  true, true, true },
	{ "same shmem THPs with a pinned page amid a folio's PTEs: child writes after fork()",
	  false, true, true },
};

int main(void)
{
	const char *gup_missing = NULL;
	unsigned int c;

	mem_init();
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(cases));
	pin_open(&gup_missing);
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		const char *why = cases[c].pin ? gup_missing : NULL;

		if (!why)
			why = cases[c].shmem ? setup_shmem() : setup();
		if (!why && !cases[c].shmem && !have_swap)
			ksft_print_msg("no swap: THP C keeps all its pages\n");
		report_result(why ? SKIP : fork_case(cases[c].parent_writes, cases[c].pin) ?
			      PASS : FAIL, why, "%s", cases[c].desc);
		region_free(&r);
	}
	finish(false);
}
