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
 * The THPs, in page-table order:
 *   A  soft-dirty cleared, then pages 64..127 written (soft-dirty, writable
 *      and dirty again); holes at 8..15; pages 24..31 read-only by mprotect
 *   B  one page pinned (FOLL_LONGTERM, R/W) in the pin cases: the whole
 *      folio may be pinned, so fork() copies every exclusive page of it
 *   C  the last 8 pages swapped out (this splits the folio)
 *   D  untouched: one batch of a whole page table
 *   E  MADV_FREE, then the first half written: the second half's PTEs are
 *      clean and read-only, the first half's dirty and writable
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

#include "../kselftest.h"
#include "mem_util.h"
#include "pin_util.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
enum { THP_A, THP_B, THP_C, THP_D, THP_E, NR_THPS };
#define PINNED_PAGE	40	/* in THP B */

/* Per-page state of the test region. */
enum state { MAPPED, HOLE, READONLY, LAZYFREE };

static size_t nr_per_thp;	/* pages per THP */
static size_t nr;		/* pages in the region */
static char *mem;
static enum state *st;
static uint64_t *pm_before;	/* the parent's pagemap before fork() */
static uint64_t *pm_now;
static bool have_swap;
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

static const char *setup(void)
{
	const char *why;
	size_t i;
	int t, fd;

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	r = (struct region){ .fd = -1 };
	why = map_anon(&r, NR_THPS * thpsize, thpsize, 0);
	if (why)
		return why;
	mem = r.mem;
	nr_per_thp = thpsize / pagesize;
	nr = NR_THPS * nr_per_thp;
	free(st);
	free(pm_before);
	free(pm_now);
	st = calloc(nr, sizeof(*st));
	pm_before = calloc(nr, sizeof(*pm_before));
	pm_now = calloc(nr, sizeof(*pm_now));
	if (!st || !pm_before || !pm_now)
		return "out of memory";
	if (madvise(mem, r.size, MADV_HUGEPAGE))
		return "MADV_HUGEPAGE failed (THP disabled?)";
	write_pages(0, nr);
	for (t = 0; t < NR_THPS; t++)
		if (!page_has_kflag(page(thp(t, 0)), KPF_THP))
			return "could not get THPs (THP disabled or memory fragmented?)";

	/* Soft-dirty cleared everywhere: this write-protects every PMD. */
	fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0 || write(fd, "4", 1) != 1)
		return "cannot clear soft-dirty bits (need CONFIG_MEM_SOFT_DIRTY)";
	close(fd);
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

/* Every page as expected: holes zero, written pages later(), others pattern(). */
static bool content_ok(const char *who, bool written)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		char want = st[i] == HOLE ? 0 :
			    written && st[i] != READONLY ? later(i) : pattern(i);

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
		if (st[i] != HOLE && st[i] != READONLY)
			memset(page(i), later(i), pagesize);
}

/*
 * The pagemap right after fork(), in @who: present, swapped and soft-dirty
 * as before fork(); a present page exclusive only if fork() copied it
 * (the folio of a pinned page), shared otherwise.
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
		bool copied = pin && i / nr_per_thp == THP_B;
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
	char *pinned = page(thp(THP_B, PINNED_PAGE));
	int go[2], done[2], status;
	bool ok = true;
	size_t i;
	pid_t pid;
	char c;

	if (pipe(go) || pipe(done))
		return false;
	if (pin && pin_start(pinned, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE)) {
		ksft_print_msg("PIN_LONGTERM_TEST_START failed: %s\n", strerror(errno));
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
		if (!pagemap_ok("child", pin) || !content_ok("child", false))
			_exit(1);
		/* The parent's writes would make pages exclusive again. */
		if (write(done[1], "c", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		if (!parent_writes) {
			write_all();
			_exit(0);
		}
		_exit(content_ok("child after the parent's writes", false) ? 0 : 1);
	}

	close(done[1]);		/* a child that died early reads as EOF */
	done[1] = -1;
	ok = pagemap_ok("parent", pin);
	/* Until the child has looked, nobody writes: a COW ends the sharing. */
	if (read(done[0], &c, 1) != 1)
		ok = false;
	if (parent_writes)
		write_all();
	if (write(go[1], "g", 1) != 1)
		ok = false;
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
	close(go[0]);
	close(go[1]);
	close(done[0]);
	if (done[1] >= 0)
		close(done[1]);
	return ok;
}

static const struct {
	const char *desc;
	bool parent_writes, pin;
} cases[] = {
	{ "PTE-mapped THPs with holes, swap, R/O, clean and soft-dirty PTEs: parent writes after fork()",
	  true, false },
	{ "PTE-mapped THPs with holes, swap, R/O, clean and soft-dirty PTEs: child writes after fork()",
	  false, false },
	{ "same with a pinned page in one of the folios: parent writes after fork()", true, true },
	{ "same with a pinned page in one of the folios: child writes after fork()", false, true },
};

int main(void)
{
	const char *gup_missing = NULL;
	unsigned int c;

	/* Line-buffered: a test that crashes the kernel keeps its output. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	mem_init();
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(cases));
	pin_open(&gup_missing);
	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		const char *why = cases[c].pin ? gup_missing : NULL;

		if (!why)
			why = setup();
		if (why) {
			ksft_test_result_skip("%s (%s)\n", cases[c].desc, why);
		} else {
			if (!have_swap)
				ksft_print_msg("no swap: THP C keeps all its pages\n");
			ksft_test_result(fork_case(cases[c].parent_writes, cases[c].pin),
					 "%s\n", cases[c].desc);
		}
		region_free(&r);
	}
	if (ksft_get_fail_cnt())
		ksft_exit_fail();
	ksft_finished();
}
