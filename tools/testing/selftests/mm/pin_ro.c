// SPDX-License-Identifier: GPL-2.0
/*
 * pin_ro - what a R/O long-term pin guarantees, beyond fork().
 *
 * pin_fork checks that a R/O long-term pin follows the process's writes in
 * every kind of COW mapping. This program checks what that must not cost
 * or break:
 *  - a R/O pin of a MAP_SHARED mapping never copies: the pin stays on the
 *    pagecache page, so writes through any mapping of the file are seen;
 *  - unsharing in a private file mapping never writes to the file;
 *  - a R/O pin of a never-written anonymous region (shared zeropage or
 *    huge zeropage) allocates only the pages it pins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/kernel-page-flags.h>

#include "mem_util.h"
#include "pin_util.h"

/* MAP_SHARED: no copy, the pin sees writes made through the mapping. */
static enum result shared_no_copy(unsigned int flags)
{
	int fd = memfd_create("forkpin-shared", 0);
	enum result res = FAIL;
	char *mem, *buf = NULL;

	if (fd < 0 || ftruncate(fd, pagesize)) {
		ksft_print_msg("cannot create a one-page memfd: %s\n", strerror(errno));
		goto out_close;
	}
	mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap(MAP_SHARED) of the memfd failed: %s\n", strerror(errno));
		goto out_close;
	}
	memset(mem, 0x11, pagesize);
	if (pin_start(mem, pagesize, flags))
		goto out_unmap;
	if (page_has_kflag(mem, KPF_ANON)) {
		ksft_print_msg("the pin replaced the shared page by an anonymous copy\n");
		goto out_unpin;
	}
	memset(mem, 0x22, pagesize);
	if (!pin_holds(pagesize, 0x22)) {
		ksft_print_msg("the pin does not see a write through the shared mapping\n");
		goto out_unpin;
	}
	buf = malloc(pagesize);
	if (!buf) {
		ksft_print_msg("malloc() failed\n");
		goto out_unpin;
	}
	memset(buf, 0x33, pagesize);
	if (pwrite(fd, buf, pagesize, 0) != (ssize_t)pagesize)
		ksft_print_msg("write() to the memfd failed: %s\n", strerror(errno));
	else if (!pin_holds(pagesize, 0x33))
		ksft_print_msg("the pin does not see a write() to the file\n");
	else
		res = PASS;
out_unpin:
	pin_stop();
out_unmap:
	munmap(mem, pagesize);
out_close:
	free(buf);
	if (fd >= 0)
		close(fd);
	return res;
}

static enum result shared_slow(const char **why)
{
	return shared_no_copy(0);
}

static enum result shared_fast(const char **why)
{
	return shared_no_copy(PIN_LONGTERM_TEST_FLAG_USE_FAST);
}

/* Unsharing a private file page copies it; the file is never written. */
static enum result private_file_untouched(const char **why)
{
	int fd = memfd_create("forkpin-private", 0);
	enum result res = FAIL;
	char *mem, *buf = malloc(pagesize);

	if (fd < 0 || !buf || ftruncate(fd, pagesize)) {
		ksft_print_msg("cannot create a one-page memfd: %s\n", strerror(errno));
		goto out;
	}
	memset(buf, 0x11, pagesize);
	if (pwrite(fd, buf, pagesize, 0) != (ssize_t)pagesize) {
		ksft_print_msg("write() to the memfd failed: %s\n", strerror(errno));
		goto out;
	}
	mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap(MAP_PRIVATE) of the memfd failed: %s\n", strerror(errno));
		goto out;
	}
	if (!pin_start(mem, pagesize, 0)) {
		memset(mem, 0x22, pagesize);
		if (pread(fd, buf, pagesize, 0) != (ssize_t)pagesize)
			ksft_print_msg("read() of the memfd failed: %s\n", strerror(errno));
		else if (!expect_bytes("the file after a write to its private mapping", buf,
				       pagesize, 0x11))
			ksft_print_msg("a write to a private mapping reached the file\n");
		else if (!pin_holds(pagesize, 0x22))
			ksft_print_msg("the pin does not follow the private mapping\n");
		else
			res = PASS;
		pin_stop();
	}
	munmap(mem, pagesize);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return res;
}

/* This process's RssAnon in kB, or -1 (said why). */
static long rss_anon_kb(void)
{
	long kb;

	if (read_key("/proc/self/status", "RssAnon", &kb))
		return kb;
	ksft_print_msg("no RssAnon in /proc/self/status\n");
	return -1;
}

/*
 * Pin 1 MiB R/O in the middle of a never-written 64 MiB anonymous region
 * (THP-aligned, so reads map the huge zeropage where it is on): at most
 * what is pinned may be allocated.
 */
#define RO_REGION	(64UL << 20)
#define RO_PINNED	(1UL << 20)

static enum result zeropage_only_pinned(const char **why)
{
	size_t align = thpsize ? thpsize : pagesize;
	char *map, *mem;
	enum result res = FAIL;
	long before, after;

	map = mmap(NULL, RO_REGION + align, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		ksft_print_msg("mmap() of %lu MiB failed: %s\n", RO_REGION >> 20, strerror(errno));
		return FAIL;
	}
	mem = (char *)(((uintptr_t)map + align - 1) & ~(align - 1));
	madvise(mem, RO_REGION, MADV_HUGEPAGE);
	/* Reads map the (huge) zeropage; nothing is allocated yet. */
	if (!expect_bytes("the never-written region", mem, RO_REGION, 0))
		goto out;
	before = rss_anon_kb();
	if (before < 0 || pin_start(mem + RO_REGION / 2, RO_PINNED, 0))
		goto out;
	after = rss_anon_kb();
	if (after < 0)
		goto out_unpin;
	if (after - before > (long)(RO_PINNED / 1024) + 256)
		ksft_print_msg("pinning %lu KiB R/O allocated %ld KiB, expected at most %lu\n",
			       RO_PINNED / 1024, after - before, RO_PINNED / 1024 + 256);
	else if (!pin_holds(RO_PINNED, 0))
		ksft_print_msg("the pin does not see zeroes\n");
	else
		res = PASS;
out_unpin:
	pin_stop();
out:
	munmap(map, RO_REGION + align);
	return res;
}

static const struct test_case cases[] = {
	{ "R/O long-term pin, MAP_SHARED memfd: no copy, writes by the mapping and write() are seen",
	  shared_slow },
	{ "R/O GUP-fast long-term pin, MAP_SHARED memfd: no copy, writes by the mapping and write() are seen",
	  shared_fast },
	{ "R/O long-term pin, private memfd mapping: the process's writes never reach the file",
	  private_file_untouched },
	{ "R/O long-term pin of a never-written anonymous region allocates only what it pins",
	  zeropage_only_pinned },
};

int main(void)
{
	mem_init();
	run_pin_cases(cases, ARRAY_SIZE(cases));
}
