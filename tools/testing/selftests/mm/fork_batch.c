// SPDX-License-Identifier: GPL-2.0
/*
 * fork_batch - fork() of PTE-mapped large folios in mixed states.
 *
 * fork() copies a PTE-mapped THP page by page on 6.1; batching the copy
 * (one refcount add, one rmap call, one set of PTEs for a run of pages of
 * one folio) must leave every PTE exactly as the per-page copy does: the
 * parent's and the child's content, holes, swap entries, R/O PTEs,
 * soft-dirty bits, early COW of pinned pages, and COW in both directions.
 * A batch that forgot to write-protect one PTE would let the parent's
 * write reach the child: the cases below catch that.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)

/* Per-page layout of the test region (indices into the THP). */
enum state { MAPPED, HOLE, SWAPPED, READONLY, PINNED };

static size_t nr;		/* pages per THP */
static char *mem;		/* the PTE-mapped THP */
static enum state *st;
static uint64_t *pm_before;	/* parent's pagemap entries before fork() */
static bool have_swap;

static char pattern(size_t i)
{
	return (char)(i % 251 + 1);
}

static struct region r;

static const char *setup(void)
{
	const char *why;
	size_t i;

	r = (struct region){ .fd = -1 };
	why = backends[3].setup(&r);	/* PTE-mapped THP */
	if (why)
		return why;
	mem = r.mem;
	nr = r.size / pagesize;
	free(st);
	free(pm_before);
	st = calloc(nr, sizeof(*st));
	pm_before = calloc(nr, sizeof(*pm_before));
	if (!st || !pm_before)
		return "out of memory";
	for (i = 0; i < nr; i++)
		memset(mem + i * pagesize, pattern(i), pagesize);

	/* Clear soft-dirty everywhere, then dirty every other page again. */
	{
		int fd = open("/proc/self/clear_refs", O_WRONLY);

		if (fd < 0 || write(fd, "4", 1) != 1)
			return "cannot clear soft-dirty bits (need CONFIG_MEM_SOFT_DIRTY)";
		close(fd);
	}
	for (i = 0; i < nr; i += 2)
		mem[i * pagesize] = pattern(i);

	/* Holes: pages 8..15. */
	madvise(mem + 8 * pagesize, 8 * pagesize, MADV_DONTNEED);
	for (i = 8; i < 16; i++)
		st[i] = HOLE;
	/* R/O PTEs: pages 24..31. */
	if (mprotect(mem + 24 * pagesize, 8 * pagesize, PROT_READ))
		return "mprotect() failed";
	for (i = 24; i < 32; i++)
		st[i] = READONLY;
	/* Swap: the last 8 pages (this may split the folio's tail off). */
	if (!madvise(mem + (nr - 8) * pagesize, 8 * pagesize, MADV_PAGEOUT) &&
	    page_is_swapped(mem + (nr - 1) * pagesize)) {
		have_swap = true;
		for (i = nr - 8; i < nr; i++)
			if (page_is_swapped(mem + i * pagesize))
				st[i] = SWAPPED;
	}
	return NULL;
}

static char later(size_t i)
{
	return (char)~pattern(i);
}

/* Every page as expected: holes zero, written pages later(), others pattern(). */
static bool content_ok(const char *who, bool written)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		char want = st[i] == HOLE ? 0 :
			    written && st[i] != READONLY ? later(i) : pattern(i);

		if (!all_bytes(mem + i * pagesize, pagesize, want)) {
			ksft_print_msg("%s: page %zu holds %#x, expected %#x\n", who, i,
				       mem[i * pagesize], want);
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
			memset(mem + i * pagesize, later(i), pagesize);
}

/*
 * One fork: the child checks what it sees right after fork() (content,
 * pagemap bits vs the parent's before fork), then either waits for the
 * parent's writes and checks it still sees the old data, or writes itself.
 */
static bool fork_case(bool parent_writes, bool pin)
{
	int go[2], status;
	size_t i, pinned = 40;
	bool ok = true;
	pid_t pid;

	if (pipe(go))
		return false;
	if (pin && pin_start(mem + pinned * pagesize, pagesize,
			     PIN_LONGTERM_TEST_FLAG_USE_WRITE)) {
		ksft_print_msg("PIN_LONGTERM_TEST_START failed: %s\n", strerror(errno));
		return false;
	}
	for (i = 0; i < nr; i++)
		pm_before[i] = pagemap_entry(mem + i * pagesize);

	pid = fork();
	if (!pid) {
		char c;

		for (i = 0; i < nr; i++) {
			uint64_t now = pagemap_entry(mem + i * pagesize);

			/* Present, swapped and soft-dirty as in the parent. */
			if ((now ^ pm_before[i]) & (PM_PRESENT | PM_SWAP | PM_SOFT_DIRTY)) {
				ksft_print_msg("child: page %zu pagemap %#llx, parent had %#llx\n",
					       i, (unsigned long long)now,
					       (unsigned long long)pm_before[i]);
				_exit(1);
			}
		}
		if (!content_ok("child", false))
			_exit(1);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		if (!parent_writes) {
			write_all();
			_exit(0);
		}
		_exit(content_ok("child after the parent's writes", false) ? 0 : 1);
	}

	/* The parent's own bits must not change either. */
	for (i = 0; i < nr; i++) {
		uint64_t now = pagemap_entry(mem + i * pagesize);

		if ((now ^ pm_before[i]) & (PM_PRESENT | PM_SWAP | PM_SOFT_DIRTY)) {
			ksft_print_msg("parent: page %zu pagemap changed by fork()\n", i);
			ok = false;
		}
	}
	/* Only the pinned page is still exclusive to the parent. */
	if (pin && !page_is_exclusive(mem + pinned * pagesize)) {
		ksft_print_msg("the pinned page was not copied for the child\n");
		ok = false;
	}
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
		ok = content_ok("parent", parent_writes);
	if (pin)
		pin_stop();
	close(go[0]);
	close(go[1]);
	return ok;
}

static const struct {
	const char *desc;
	bool parent_writes, pin;
} cases[] = {
	{ "PTE-mapped THP with holes, swap, R/O PTEs, soft-dirty: parent writes after fork()",
	  true, false },
	{ "PTE-mapped THP with holes, swap, R/O PTEs, soft-dirty: child writes after fork()",
	  false, false },
	{ "same with a pinned page in the folio: parent writes after fork()", true, true },
	{ "same with a pinned page in the folio: child writes after fork()", false, true },
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
				ksft_print_msg("no swap: the swapped-out part is left out\n");
			ksft_test_result(fork_case(cases[c].parent_writes, cases[c].pin),
					 "%s\n", cases[c].desc);
		}
		region_free(&r);
	}
	if (ksft_get_fail_cnt())
		ksft_exit_fail();
	ksft_finished();
}
