// SPDX-License-Identifier: GPL-2.0
/*
 * fork_bench - fork() latency for memory in different states.
 *
 * A benchmark, not a test: built with the selftests (TEST_GEN_FILES) but
 * not run by kselftest. `make bench` in forkpin runs it on the base and
 * the patched kernel and compares.
 *
 * For each kind of memory, maps FORKPIN_BENCH_MB MiB (default 256), fills
 * it, and times fork() in the parent, from the call to its return; the
 * child exits at once and the parent waits for it outside the timed part,
 * so the child's exit (unmapping everything) is not measured. One warm-up
 * fork, then FORKPIN_BENCH_RUNS (default 11) timed ones; prints
 *
 *   bench <case> samples_us=<t1>,<t2>,...
 *
 * or "bench <case> skip <why>". The cases:
 *   order0    base pages (MADV_NOHUGEPAGE)
 *   thp-pmd   PMD-mapped THPs
 *   thp-pte   PTE-mapped THPs (every PMD split, the THPs kept)
 *   pinned    base pages registered as io_uring fixed buffers: fork()
 *             copies every page for the child (early COW)
 *   memcpy    not a fork(): memcpy() of the same size, the floor for
 *             "pinned"
 *   odirect-4k, odirect-1m
 *             not a fork(): O_DIRECT pread()s of 4 KiB (1024 per sample)
 *             or 1 MiB (16 per sample) from a RAM disk (brd) into one
 *             buffer, the cost of block direct I/O taking its pages
 *             (pinned on the patched kernel, referenced on base)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "../kselftest.h"
#include "mem_util.h"

static size_t size;
static unsigned int runs = 11;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* One fork(), timed in the parent; false if fork() or the child failed. */
static bool timed_fork(double *us, void *unused)
{
	double start = now_us();
	int status;
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	*us = now_us() - start;
	if (pid < 0) {
		perror("fork");
		return false;
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status);
}

struct copy {
	char *dst, *src;
};

static bool timed_memcpy(double *us, void *arg)
{
	struct copy *c = arg;
	double start = now_us();

	memcpy(c->dst, c->src, size);
	*us = now_us() - start;
	return true;
}

/*
 * One warm-up, then @runs timed calls of @once; prints the samples (the
 * report takes the medians). False, and nothing printed, if a call failed.
 */
static bool measure(const char *name, bool (*once)(double *us, void *arg), void *arg)
{
	double *t = calloc(runs, sizeof(*t)), warm;
	unsigned int i;
	bool ok = t && once(&warm, arg);

	for (i = 0; ok && i < runs; i++)
		ok = once(&t[i], arg);
	if (ok) {
		printf("bench %s samples_us=", name);
		for (i = 0; i < runs; i++)
			printf("%s%.0f", i ? "," : "", t[i]);
		printf("\n");
	}
	free(t);
	return ok;
}

/* O_DIRECT reads of @io bytes each from a block device, at rotating offsets. */
struct odirect {
	int fd;
	char *buf;
	size_t io, span;
	unsigned int n;
};

static bool timed_reads(double *us, void *arg)
{
	struct odirect *o = arg;
	double start = now_us();
	unsigned int i;

	for (i = 0; i < o->n; i++) {
		off_t off = (off_t)((i * o->io) % o->span);

		if (pread(o->fd, o->buf, o->io, off) != (ssize_t)o->io) {
			perror("pread");
			return false;
		}
	}
	*us = now_us() - start;
	return true;
}

static const char *odirect_case(const char *name)
{
	struct odirect o = { .io = strcmp(name, "odirect-4k") ? 1UL << 20 : 4096 };
	const char *why = NULL;
	off_t end;

	o.n = o.io == 4096 ? 1024 : 16;
	o.fd = open("/dev/ram0", O_RDONLY | O_DIRECT);
	if (o.fd < 0)
		return "need a RAM disk /dev/ram0 (CONFIG_BLK_DEV_RAM=y, root)";
	end = lseek(o.fd, 0, SEEK_END);
	if (end < (off_t)o.io) {
		close(o.fd);
		return "the RAM disk is smaller than one read";
	}
	o.span = end - end % o.io;
	o.buf = mmap(NULL, o.io, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (o.buf == MAP_FAILED) {
		close(o.fd);
		return "mmap() failed";
	}
	memset(o.buf, 1, o.io);
	if (!measure(name, timed_reads, &o))
		why = "O_DIRECT read failed";
	munmap(o.buf, o.io);
	close(o.fd);
	return why;
}

static const char *map(struct region *r, bool thp)
{
	const char *why = map_anon(r, size, thp ? thpsize : 0, 0);

	if (why)
		return why;
	if (madvise(r->mem, r->size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) && thp)
		return "MADV_HUGEPAGE failed (no THP?)";
	memset(r->mem, 0x5a, r->size);
	return NULL;
}

/* Fraction of the region's THP-sized blocks that start with a THP. */
static bool mostly_thp(struct region *r)
{
	size_t off, n = 0, total = 0;

	for (off = 0; off < r->size; off += thpsize, total++)
		n += page_has_kflag(r->mem + off, KPF_THP);
	return n * 10 >= total * 9;
}

static const char *run_case(const char *name)
{
	struct region r = { .fd = -1 };
	const char *why = NULL;
	size_t off;

	if (!strncmp(name, "odirect-", 8))
		return odirect_case(name);
	if (!strcmp(name, "order0")) {
		why = map(&r, false);
	} else if (!strcmp(name, "thp-pmd") || !strcmp(name, "thp-pte")) {
		bool split = !strcmp(name, "thp-pte");

		if (!thpsize)
			return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
		why = map(&r, true);
		if (!why && !mostly_thp(&r))
			why = "fewer than 90% THPs (THP disabled or memory fragmented?)";
		for (off = 0; !why && split && off < r.size; off += thpsize)
			if (!split_pmd(r.mem + off))
				why = "mprotect() failed";
		if (!why && !mostly_thp(&r))
			why = "the THPs did not survive the PMD split";
	} else if (!strcmp(name, "pinned")) {
#ifdef HAVE_LIBURING
		static struct io_uring ring;
		struct iovec iov[64];
		size_t chunk = size / 64;
		int i, err;

		why = map(&r, false);
		if (!why && io_uring_queue_init(1, &ring, 0))
			why = "io_uring_queue_init() failed (CONFIG_IO_URING?)";
		for (i = 0; !why && i < 64; i++)
			iov[i] = (struct iovec){ r.mem + i * chunk, chunk };
		if (!why) {
			err = io_uring_register_buffers(&ring, iov, 64);
			if (err) {
				io_uring_queue_exit(&ring);
				why = "io_uring_register_buffers() failed (RLIMIT_MEMLOCK?)";
			}
		}
		if (!why) {
			if (!measure(name, timed_fork, NULL))
				why = "fork() failed";
			io_uring_queue_exit(&ring);
		}
		region_free(&r);
		return why;
#else
		return "built without liburing (apt-get install liburing-dev)";
#endif
	} else if (!strcmp(name, "memcpy")) {
		struct region src = { .fd = -1 };
		struct copy c;

		why = map(&r, false);
		if (!why)
			why = map(&src, false);
		c = (struct copy){ r.mem, src.mem };
		if (!why && !measure(name, timed_memcpy, &c))
			why = "out of memory";
		region_free(&src);
		region_free(&r);
		return why;
	} else {
		return "unknown case";
	}
	if (!why && !measure(name, timed_fork, NULL))
		why = "fork() failed";
	region_free(&r);
	return why;
}

int main(int argc, char **argv)
{
	static const char * const all[] = {
		"order0", "thp-pmd", "thp-pte", "pinned", "memcpy",
		"odirect-4k", "odirect-1m",
	};
	const char *env;
	unsigned int i;
	int n = 0;

	mem_init();
	env = getenv("FORKPIN_BENCH_MB");
	size = (env && atoi(env) > 0 ? atoi(env) : 256) * 1024UL * 1024;
	env = getenv("FORKPIN_BENCH_RUNS");
	if (env && atoi(env) >= 1)
		runs = atoi(env);
	printf("bench size_mb=%zu runs=%u\n", size >> 20, runs);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *why;

		if (argc > 1 && !strstr(argv[1], all[i]))
			continue;
		why = run_case(all[i]);
		if (why)
			printf("bench %s skip %s\n", all[i], why);
		else
			n++;
	}
	/* As a test whose every case skipped (report.h's finish()). */
	return n ? KSFT_PASS : KSFT_SKIP;
}
