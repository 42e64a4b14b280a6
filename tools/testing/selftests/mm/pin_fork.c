// SPDX-License-Identifier: GPL-2.0
/*
 * pin_fork - a page pinned long-term stays the parent's page across fork().
 *
 * A device (RDMA, vfio, io_uring fixed buffers) that holds a FOLL_LONGTERM
 * pin on a process's memory keeps reading and writing the pinned pages,
 * not whatever the process's page tables point to later. fork() write-
 * protects private anonymous memory for COW; if the parent then wrote to
 * a pinned page, a COW fault would move the parent to a new page and the
 * device and the parent would silently disagree from then on. Since
 * v5.8/v5.9 (commits 008cfe4418b3 "mm: Introduce mm_struct.has_pinned",
 * 70e806e4e645 "mm: Do early cow for pinned pages during fork() for
 * ptes") fork() copies possibly-pinned pages for the child up front, so
 * the parent keeps the pinned page.
 *
 * Each case pins the memory with gup_test's PIN_LONGTERM_TEST_START, forks,
 * lets the parent or the child write, and reads the page back through the
 * pin (PIN_LONGTERM_TEST_READ), as the device would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "pin_util.h"

static size_t pagesize;

/* How the memory is pinned. */
struct pin_kind {
	const char *desc;
	unsigned int flags;
};

static const struct pin_kind pin_kinds[] = {
	{ "R/W long-term pin", PIN_LONGTERM_TEST_FLAG_USE_WRITE },
	{ "R/W GUP-fast long-term pin",
	  PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST },
};

/* Who writes after fork(). */
enum writer { PARENT_WRITES, CHILD_WRITES };

struct test_case {
	const char *desc;
	enum writer writer;
};

static const struct test_case test_cases[] = {
	/* The parent's write must land in the page the device sees. */
	{ "parent write after fork() is visible through the pin", PARENT_WRITES },
	/* The child's write must reach neither the parent nor the device. */
	{ "child write after fork() reaches neither parent nor pin", CHILD_WRITES },
};

/* Memory backends; only anonymous base pages so far. */
struct backend {
	const char *desc;
	char *(*alloc)(size_t size);
};

static char *alloc_anon_base_page(size_t size)
{
	char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return NULL;
	/* Base pages, even where THP is "always". */
	madvise(mem, size, MADV_NOHUGEPAGE);
	return mem;
}

static const struct backend backends[] = {
	{ "anonymous base page", alloc_anon_base_page },
};

static bool all_bytes(const char *mem, size_t size, char val)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (mem[i] != val)
			return false;
	return true;
}

/*
 * Fill with 0x11, pin, fork. The child waits for the parent's go and then
 * either checks it still sees 0x11 (PARENT_WRITES: the parent wrote 0x22
 * meanwhile) or writes 0x33 (CHILD_WRITES). Afterwards the parent and the
 * pin must agree on the parent's data.
 */
static bool run_case(const struct backend *b, const struct pin_kind *k,
		     const struct test_case *t)
{
	size_t size = pagesize;
	char expect, *mem, *through_pin;
	bool ok = false;
	int go[2], status;
	pid_t pid;

	mem = b->alloc(size);
	through_pin = malloc(size);
	if (!mem || !through_pin || pipe(go)) {
		ksft_print_msg("setup failed: %s\n", strerror(errno));
		goto out;
	}
	memset(mem, 0x11, size);

	if (pin_start(mem, size, k->flags)) {
		ksft_print_msg("PIN_LONGTERM_TEST_START failed: %s\n",
			       strerror(errno));
		goto out_pipe;
	}

	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out_unpin;
	}
	if (!pid) {
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		if (t->writer == CHILD_WRITES) {
			memset(mem, 0x33, size);
			_exit(0);
		}
		/* The parent's write must not show through in the child. */
		_exit(all_bytes(mem, size, 0x11) ? 0 : 1);
	}

	if (t->writer == PARENT_WRITES)
		memset(mem, 0x22, size);
	if (write(go[1], "g", 1) != 1)
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		ksft_print_msg("child failed (status %#x): it %s\n", status,
			       t->writer == PARENT_WRITES ?
			       "saw the parent's write" : "could not write");
		goto out_unpin;
	}

	expect = t->writer == PARENT_WRITES ? 0x22 : 0x11;
	if (!all_bytes(mem, size, expect)) {
		ksft_print_msg("the parent's memory changed under it\n");
		goto out_unpin;
	}
	if (pin_read(through_pin)) {
		ksft_print_msg("PIN_LONGTERM_TEST_READ failed: %s\n",
			       strerror(errno));
		goto out_unpin;
	}
	if (!all_bytes(through_pin, size, expect)) {
		ksft_print_msg("the pin sees %#x, the parent %#x: the pinned page is no longer the parent's\n",
			       through_pin[0], expect);
		goto out_unpin;
	}

	/* And the pin still follows the parent's later writes. */
	memset(mem, 0x44, size);
	if (pin_read(through_pin) || !all_bytes(through_pin, size, 0x44)) {
		ksft_print_msg("a later parent write did not reach the pinned page\n");
		goto out_unpin;
	}
	ok = true;
out_unpin:
	if (pin_stop())
		ok = false;
out_pipe:
	close(go[0]);
	close(go[1]);
out:
	free(through_pin);
	if (mem)
		munmap(mem, size);
	return ok;
}

/* The ioctls' error paths: bad addresses fail cleanly and hold no pin. */
static bool abi_start_unmapped(void)
{
	char *mem = mmap(NULL, 2 * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (mem == MAP_FAILED)
		return false;
	/* The second page is a hole: START must fail and pin nothing. */
	munmap(mem + pagesize, pagesize);
	ok = pin_start(mem, 2 * pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE) &&
	     errno == EFAULT;
	if (!ok)
		ksft_print_msg("START over a hole did not fail with EFAULT\n");
	/* A second START succeeds only if the first left nothing held. */
	if (ok && pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE)) {
		ksft_print_msg("START after a failed START: %s\n", strerror(errno));
		ok = false;
	}
	if (ok && pin_stop())
		ok = false;
	munmap(mem, pagesize);
	return ok;
}

static bool abi_read_unmapped(void)
{
	char *mem = alloc_anon_base_page(pagesize);
	char *hole = mmap(NULL, pagesize, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (!mem || hole == MAP_FAILED)
		return false;
	memset(mem, 0x11, pagesize);
	munmap(hole, pagesize);
	ok = !pin_start(mem, pagesize, 0) && pin_read(hole) && errno == EFAULT;
	if (!ok)
		ksft_print_msg("READ into an unmapped buffer did not fail with EFAULT\n");
	if (pin_stop())
		ok = false;
	munmap(mem, pagesize);
	return ok;
}

static const struct {
	const char *desc;
	bool (*fn)(void);
} abi_cases[] = {
	{ "PIN_LONGTERM_TEST_START over an unmapped page fails with EFAULT and pins nothing",
	  abi_start_unmapped },
	{ "PIN_LONGTERM_TEST_READ into an unmapped buffer fails with EFAULT",
	  abi_read_unmapped },
};

int main(void)
{
	unsigned int plan = ARRAY_SIZE(backends) * ARRAY_SIZE(pin_kinds) *
			    ARRAY_SIZE(test_cases) + ARRAY_SIZE(abi_cases);
	const char *why = NULL;
	unsigned int b, k, t;

	pagesize = getpagesize();
	ksft_print_header();
	ksft_set_plan(plan);

	if (pin_open(&why)) {
		for (b = 0; b < ARRAY_SIZE(backends); b++)
			for (k = 0; k < ARRAY_SIZE(pin_kinds); k++)
				for (t = 0; t < ARRAY_SIZE(test_cases); t++)
					ksft_test_result_skip("%s, %s: %s (%s)\n",
							      pin_kinds[k].desc, backends[b].desc,
							      test_cases[t].desc, why);
		for (t = 0; t < ARRAY_SIZE(abi_cases); t++)
			ksft_test_result_skip("%s (%s)\n", abi_cases[t].desc, why);
		ksft_print_cnts();
		return KSFT_SKIP;
	}

	for (b = 0; b < ARRAY_SIZE(backends); b++)
		for (k = 0; k < ARRAY_SIZE(pin_kinds); k++)
			for (t = 0; t < ARRAY_SIZE(test_cases); t++)
				ksft_test_result(run_case(&backends[b], &pin_kinds[k],
							  &test_cases[t]),
						 "%s, %s: %s\n", pin_kinds[k].desc,
						 backends[b].desc, test_cases[t].desc);
	for (t = 0; t < ARRAY_SIZE(abi_cases); t++)
		ksft_test_result(abi_cases[t].fn(), "%s\n", abi_cases[t].desc);

	ksft_finished();
}
