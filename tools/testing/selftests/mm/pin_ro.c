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

#include "../kselftest.h"
#include "mem_util.h"
#include "pin_util.h"

static bool pin_sees(size_t size, char val)
{
	char *buf = malloc(size);
	bool ok = buf && !pin_read(buf) && all_bytes(buf, size, val);

	free(buf);
	return ok;
}

/* MAP_SHARED: no copy, the pin sees writes made through the mapping. */
static enum result shared_no_copy(unsigned int flags)
{
	int fd = memfd_create("forkpin-shared", 0);
	enum result res = FAIL;
	char *mem, val = 0x11;

	if (fd < 0 || ftruncate(fd, pagesize))
		return FAIL;
	mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		goto out_close;
	memset(mem, val, pagesize);
	if (pin_start(mem, pagesize, flags))
		goto out_unmap;
	if (page_has_kflag(mem, KPF_ANON)) {
		ksft_print_msg("the pin replaced the shared page by an anonymous copy\n");
		goto out_unpin;
	}
	val = 0x22;
	memset(mem, val, pagesize);
	if (!pin_sees(pagesize, val)) {
		ksft_print_msg("the pin does not see a write through the shared mapping\n");
		goto out_unpin;
	}
	val = 0x33;
	{
		char *buf = malloc(pagesize);

		memset(buf, val, pagesize);
		if (pwrite(fd, buf, pagesize, 0) != (ssize_t)pagesize)
			val = 0x22;
		free(buf);
	}
	if (!pin_sees(pagesize, val))
		ksft_print_msg("the pin does not see a write() to the file\n");
	else
		res = PASS;
out_unpin:
	pin_stop();
out_unmap:
	munmap(mem, pagesize);
out_close:
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

	if (fd < 0 || !buf || ftruncate(fd, pagesize))
		goto out;
	memset(buf, 0x11, pagesize);
	if (pwrite(fd, buf, pagesize, 0) != (ssize_t)pagesize)
		goto out;
	mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (mem == MAP_FAILED)
		goto out;
	if (!pin_start(mem, pagesize, 0)) {
		memset(mem, 0x22, pagesize);
		if (pread(fd, buf, pagesize, 0) != (ssize_t)pagesize ||
		    !all_bytes(buf, pagesize, 0x11))
			ksft_print_msg("a write to a private mapping reached the file\n");
		else if (!pin_sees(pagesize, 0x22))
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

static long rss_anon_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
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
	if (map == MAP_FAILED)
		return FAIL;
	mem = (char *)(((uintptr_t)map + align - 1) & ~(align - 1));
	madvise(mem, RO_REGION, MADV_HUGEPAGE);
	/* Reads map the (huge) zeropage; nothing is allocated yet. */
	if (!all_bytes(mem, RO_REGION, 0))
		goto out;
	before = rss_anon_kb();
	if (pin_start(mem + RO_REGION / 2, RO_PINNED, 0))
		goto out;
	after = rss_anon_kb();
	if (after - before > (long)(RO_PINNED / 1024) + 256)
		ksft_print_msg("pinning %lu KiB R/O allocated %ld KiB\n",
			       RO_PINNED / 1024, after - before);
	else if (!pin_sees(RO_PINNED, 0))
		ksft_print_msg("the pin does not see zeroes\n");
	else
		res = PASS;
	pin_stop();
out:
	munmap(map, RO_REGION + align);
	return res;
}

static const struct pin_case cases[] = {
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
	/* Line-buffered: a test that crashes the kernel keeps its output. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	mem_init();
	return run_pin_cases(cases, ARRAY_SIZE(cases));
}
