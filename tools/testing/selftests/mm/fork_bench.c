// SPDX-License-Identifier: GPL-2.0
/*
 * fork_bench - fork(), exit and unmap latency for memory in different states.
 *
 * A benchmark, not a test: built with the selftests (TEST_GEN_FILES) but
 * not run by kselftest. `make bench` in forkpin runs it on the base and
 * the patched kernel and compares; it reports times and asserts none.
 * What it is about: the fork() copy of PTE-mapped large folios in batches
 * (patches 0011-0015, after mainline v6.9's "mm/memory: optimize fork()
 * with PTE-mapped THP"), and the other half of a fork()'s cost, the
 * unmapping when the child exits, munmap()s or MADV_DONTNEEDs (mainline
 * v6.9's "mm/memory: optimize unmap/zap with PTE-mapped THP"); order-0
 * pages and PMD-mapped THPs must not get slower, and the pinned case's
 * early COW copy should stay near the memcpy() of the same size.
 *
 * For each kind of memory, maps FORKPIN_BENCH_MB MiB (default 256), fills
 * it and times one operation on it, FORKPIN_BENCH_RUNS times (default 11)
 * after one warm-up; prints
 *
 *   bench <case> samples_us=<t1>,<t2>,...
 *
 * or "bench <case> skip <why>". The kinds of memory:
 *   order0     base pages (MADV_NOHUGEPAGE)
 *   thp-pmd    PMD-mapped THPs
 *   thp-pte    PTE-mapped THPs (every PMD split, the THPs kept)
 *   pinned     base pages registered as io_uring fixed buffers: fork()
 *              copies every page for the child (early COW)
 *   shmem-thp  shmem THPs in a MAP_SHARED mapping (a file of their own on
 *              a huge=always tmpfs, or a memfd), PMD-mapped: fork() copies
 *              no page table of a shared file mapping (the child faults
 *              them in), so its fork, cycle and exit are the fixed cost of
 *              the process; munmap and dontneed zap the PMDs, and the
 *              pages stay in the page cache
 * The operations, "<kind>-<op>" (the plain fork() keeps the kind's name):
 *   <kind>           fork(), timed in the parent from the call to its
 *                    return; the child waits for the parent's clock, then
 *                    exits and is reaped outside the timed part
 *   <kind>-cycle     fork() + the child's _exit() + the parent's waitpid(),
 *                    timed as one
 *   <kind>-exit      the child's exit alone: the child says it is ready
 *                    and waits; the parent takes the time, tells it to go
 *                    (one pipe write) and stops the clock when waitpid()
 *                    returns. On one CPU a child that signalled right
 *                    before its _exit() might run its whole exit before the
 *                    parent reads the signal; this way the clock always
 *                    runs first
 *   <kind>-munmap    munmap() of the whole region; mapped and filled
 *                    (split, pinned) again before each sample, untimed
 *   <kind>-dontneed  MADV_DONTNEED of the whole region; filled (pinned)
 *                    again before each sample, untimed (thp-pte: mapped,
 *                    filled and split again, as MADV_DONTNEED leaves the
 *                    page tables and a refault would map base pages)
 * and, not fork():
 *   memcpy     memcpy() of the same size, the floor for "pinned"
 *   odirect-4k, odirect-1m
 *              O_DIRECT pread()s of 4 KiB (1024 per sample) or 1 MiB (16
 *              per sample) from a RAM disk (brd) into one buffer, the cost
 *              of block direct I/O taking its pages (pinned on the patched
 *              kernel, referenced on base)
 *
 * Arguments: case names or fnmatch() patterns, comma-separated or one per
 * argument ("thp-pte", "thp-pte*", "*-exit,memcpy"); none: every case.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
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

/* How long the parent waits for its child's "ready" (ms); TCG needs well under 1 s. */
#define READY_MS 60000

static size_t size;
static unsigned int runs = 11;
/* Why the last sample failed: the case's skip reason. */
static const char *fail;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

enum kind { ORDER0, THP_PMD, THP_PTE, PINNED, SHMEM_THP };

/* The memory of one case: the region, and for PINNED its registration. */
struct mem {
	enum kind kind;
	struct region r;
	bool pinned;
};

#ifdef HAVE_LIBURING
/* One ring for the whole run: the pinned kind registers its region in it. */
static struct io_uring ring;
static bool ring_up;
#endif

/* Do at least 90% of the region's THP-sized blocks start with a THP? */
static bool mostly_thp(struct region *r)
{
	size_t off, n = 0, total = 0;

	for (off = 0; off < r->size; off += thpsize, total++)
		n += page_has_kflag(r->mem + off, KPF_THP);
	return n * 10 >= total * 9;
}

static void mem_unpin(struct mem *m)
{
#ifdef HAVE_LIBURING
	if (m->pinned)
		io_uring_unregister_buffers(&ring);
#endif
	m->pinned = false;
}

static void mem_free(struct mem *m)
{
	mem_unpin(m);
	region_free(&m->r);
}

/*
 * Fill the mapped region: write every byte (faulting in what is not
 * mapped), then put it in the kind's state and check that state. The
 * pinned kind drops its old registration first (its pages may be gone)
 * and registers the filled region again.
 */
static const char *mem_fill(struct mem *m)
{
	struct region *r = &m->r;
	size_t off;

	mem_unpin(m);
	memset(r->mem, 0x5a, r->size);
	if ((m->kind == THP_PMD || m->kind == THP_PTE) && !mostly_thp(r))
		return "fewer than 90% THPs (THP disabled or memory fragmented?)";
	if (m->kind == THP_PTE) {
		for (off = 0; off < r->size; off += thpsize)
			if (!split_pmd(r->mem + off))
				return "mprotect() failed";
		if (!mostly_thp(r))
			return "the THPs did not survive the PMD split";
	}
	if (m->kind == SHMEM_THP && smaps_kb(r->mem, "ShmemPmdMapped") != (long)(r->size >> 10))
		return "the shmem THPs are not all PMD-mapped (ShmemPmdMapped in /proc/self/smaps)";
	if (m->kind == PINNED) {
#ifdef HAVE_LIBURING
		struct iovec iov[64];
		size_t chunk = r->size / 64;
		int i;

		for (i = 0; i < 64; i++)
			iov[i] = (struct iovec){ r->mem + i * chunk, chunk };
		if (io_uring_register_buffers(&ring, iov, 64))
			return "io_uring_register_buffers() failed (RLIMIT_MEMLOCK?)";
		m->pinned = true;
#else
		return "built without liburing (apt-get install liburing-dev)";
#endif
	}
	return NULL;
}

/* Map FORKPIN_BENCH_MB MiB of m->kind, filled: NULL, or why not (nothing left mapped). */
static const char *mem_map(struct mem *m)
{
	bool thp = m->kind == THP_PMD || m->kind == THP_PTE;
	const char *why = NULL;

	m->r = (struct region){ .fd = -1 };
	m->pinned = false;
	if ((thp || m->kind == SHMEM_THP) && !thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	if (m->kind == SHMEM_THP) {
		if (size < thpsize)
			return "FORKPIN_BENCH_MB is smaller than one THP";
		why = map_shmem_thps(&m->r, size / thpsize, true, false);
	} else {
		why = map_anon(&m->r, size, thp ? thpsize : 0, 0);
		if (!why && madvise(m->r.mem, m->r.size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) && thp)
			why = "MADV_HUGEPAGE failed (no THP?)";
	}
#ifdef HAVE_LIBURING
	if (!why && m->kind == PINNED && !ring_up) {
		if (io_uring_queue_init(1, &ring, 0))
			why = "io_uring_queue_init() failed (CONFIG_IO_URING?)";
		ring_up = !why;
	}
#endif
	if (!why)
		why = mem_fill(m);
	if (why)
		mem_free(m);
	return why;
}

/*
 * One fork(), timed in the parent; false if fork() or the child failed.
 * The child waits for the parent's clock before it exits: on one CPU the
 * scheduler may run the new child before fork() returns in the parent,
 * and a child that exited at once would put its whole exit (unmapping
 * everything) into about half of the samples. It only closes a pipe end
 * and blocks in read() until the parent closes the other (EOF).
 */
static bool timed_fork(double *us, void *unused)
{
	int p[2], status;
	double start;
	pid_t pid;
	char c;

	if (pipe(p)) {
		fail = "pipe() failed";
		return false;
	}
	start = now_us();
	pid = fork();
	if (!pid) {
		close(p[1]);
		_exit(read(p[0], &c, 1) ? 1 : 0);
	}
	*us = now_us() - start;
	close(p[1]);
	close(p[0]);
	if (pid < 0) {
		fail = "fork() failed";
		return false;
	}
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	fail = "the child did not exit 0";
	return false;
}

/* fork(), the child's _exit() and the parent's waitpid(), timed as one. */
static bool timed_cycle(double *us, void *unused)
{
	double start = now_us();
	int status;
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	if (pid < 0) {
		fail = "fork() failed";
		return false;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fail = "the child did not exit 0";
		return false;
	}
	*us = now_us() - start;
	return true;
}

/*
 * The child's exit alone: from the parent's "go" to waitpid() returning.
 * The child is blocked in read() when the clock starts, its stack already
 * faulted in by its "ready".
 */
static bool timed_exit(double *us, void *unused)
{
	struct comm_pipes p;
	double start;
	int status;
	pid_t pid;

	if (!comm_pipes_setup(&p)) {
		fail = "pipe() failed";
		return false;
	}
	pid = fork();
	if (!pid) {
		comm_pipes_keep(&p, true);
		if (!comm_tell(p.to_parent[1], 'r'))
			_exit(1);
		/* 'g', or EOF if the parent died: exit either way. */
		_exit(comm_hear(p.to_child[0], -1) == 'g' ? 0 : 1);
	}
	if (pid < 0) {
		comm_pipes_close(&p);
		fail = "fork() failed";
		return false;
	}
	comm_pipes_keep(&p, false);
	if (comm_hear(p.to_parent[0], READY_MS) != 'r') {
		comm_pipes_close(&p);
		kill_child(pid);
		fail = "the child did not say it was ready";
		return false;
	}
	start = now_us();
	if (!comm_tell(p.to_child[1], 'g')) {
		comm_pipes_close(&p);
		kill_child(pid);
		fail = "cannot tell the child to exit";
		return false;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		comm_pipes_close(&p);
		fail = "the child did not exit 0";
		return false;
	}
	*us = now_us() - start;
	comm_pipes_close(&p);
	return true;
}

/* munmap() of a freshly mapped and filled region; the rest of the teardown untimed. */
static bool timed_munmap(double *us, void *arg)
{
	struct mem *m = arg;
	double start;
	int err;

	fail = mem_map(m);
	if (fail)
		return false;
	start = now_us();
	err = munmap(m->r.mem, m->r.size);
	*us = now_us() - start;
	mem_free(m);
	if (err)
		fail = "munmap() failed";
	return !err;
}

/*
 * MADV_DONTNEED of the region, filled again first (untimed) if a sample
 * emptied it. PTE-mapped THPs are mapped afresh instead: MADV_DONTNEED
 * leaves the page tables, and a fault under a PTE table maps base pages,
 * never a THP.
 */
struct dontneed {
	struct mem m;
	bool empty;
};

static bool timed_dontneed(double *us, void *arg)
{
	struct dontneed *d = arg;
	double start;
	int err;

	if (d->empty) {
		if (d->m.kind == THP_PTE) {
			mem_free(&d->m);
			fail = mem_map(&d->m);
		} else {
			fail = mem_fill(&d->m);
		}
		if (fail)
			return false;
	}
	start = now_us();
	err = madvise(d->m.r.mem, d->m.r.size, MADV_DONTNEED);
	*us = now_us() - start;
	d->empty = true;
	if (err)
		fail = "MADV_DONTNEED failed";
	return !err;
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
 * report takes the medians). False, and nothing printed, if a call failed
 * (it says why in fail).
 */
static bool measure(const char *name, bool (*once)(double *us, void *arg), void *arg)
{
	double *t = calloc(runs, sizeof(*t)), warm;
	unsigned int i;
	bool ok;

	fail = t ? NULL : "out of memory";
	ok = t && once(&warm, arg);
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
			fail = "O_DIRECT read failed";
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
		why = fail;
	munmap(o.buf, o.io);
	close(o.fd);
	return why;
}

enum op { FORK, CYCLE, EXIT, MUNMAP, DONTNEED, MEMCPY, ODIRECT };

static const struct bench_case {
	const char *name;
	enum op op;
	enum kind kind;
} cases[] = {
	{ "order0", FORK, ORDER0 },
	{ "thp-pmd", FORK, THP_PMD },
	{ "thp-pte", FORK, THP_PTE },
	{ "pinned", FORK, PINNED },
	{ "shmem-thp", FORK, SHMEM_THP },
	{ "memcpy", MEMCPY, ORDER0 },
	{ "order0-cycle", CYCLE, ORDER0 },
	{ "thp-pmd-cycle", CYCLE, THP_PMD },
	{ "thp-pte-cycle", CYCLE, THP_PTE },
	{ "pinned-cycle", CYCLE, PINNED },
	{ "shmem-thp-cycle", CYCLE, SHMEM_THP },
	{ "order0-exit", EXIT, ORDER0 },
	{ "thp-pmd-exit", EXIT, THP_PMD },
	{ "thp-pte-exit", EXIT, THP_PTE },
	{ "pinned-exit", EXIT, PINNED },
	{ "shmem-thp-exit", EXIT, SHMEM_THP },
	{ "order0-munmap", MUNMAP, ORDER0 },
	{ "thp-pmd-munmap", MUNMAP, THP_PMD },
	{ "thp-pte-munmap", MUNMAP, THP_PTE },
	{ "pinned-munmap", MUNMAP, PINNED },
	{ "shmem-thp-munmap", MUNMAP, SHMEM_THP },
	{ "order0-dontneed", DONTNEED, ORDER0 },
	{ "thp-pmd-dontneed", DONTNEED, THP_PMD },
	{ "thp-pte-dontneed", DONTNEED, THP_PTE },
	{ "pinned-dontneed", DONTNEED, PINNED },
	{ "shmem-thp-dontneed", DONTNEED, SHMEM_THP },
	{ "odirect-4k", ODIRECT, ORDER0 },
	{ "odirect-1m", ODIRECT, ORDER0 },
};

static const char *run_case(const struct bench_case *c)
{
	static bool (* const fork_ops[])(double *us, void *arg) = {
		[FORK] = timed_fork, [CYCLE] = timed_cycle, [EXIT] = timed_exit,
	};
	struct mem m = { .kind = c->kind };
	const char *why = NULL;

	switch (c->op) {
	case ODIRECT:
		return odirect_case(c->name);
	case MEMCPY: {
		struct mem src = { .kind = ORDER0 };
		struct copy cp;

		m.kind = ORDER0;
		why = mem_map(&m);
		if (!why)
			why = mem_map(&src);
		cp = (struct copy){ m.r.mem, src.r.mem };
		if (!why && !measure(c->name, timed_memcpy, &cp))
			why = fail;
		mem_free(&src);
		mem_free(&m);
		return why;
	}
	case MUNMAP:
		/* Every sample maps its own region. */
		return measure(c->name, timed_munmap, &m) ? NULL : fail;
	case DONTNEED: {
		struct dontneed d = { .m = { .kind = c->kind } };

		why = mem_map(&d.m);
		if (!why && !measure(c->name, timed_dontneed, &d))
			why = fail;
		mem_free(&d.m);
		return why;
	}
	case FORK:
	case CYCLE:
	case EXIT:
		why = mem_map(&m);
		if (!why && !measure(c->name, fork_ops[c->op], &m))
			why = fail;
		mem_free(&m);
		return why;
	}
	return "unknown case";
}

/* Is @name one of the comma-separated patterns of an argument? None: all. */
static bool selected(const char *name, int argc, char **argv)
{
	char pat[256], *tok, *save;
	int i;

	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++) {
		snprintf(pat, sizeof(pat), "%s", argv[i]);
		for (tok = strtok_r(pat, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
			if (!fnmatch(tok, name, 0))
				return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *env;
	unsigned int i;
	int n = 0;

	mem_init();
	/* A child gone early must fail a sample, not kill the run. */
	signal(SIGPIPE, SIG_IGN);
	env = getenv("FORKPIN_BENCH_MB");
	size = (env && atoi(env) > 0 ? atoi(env) : 256) * 1024UL * 1024;
	env = getenv("FORKPIN_BENCH_RUNS");
	if (env && atoi(env) >= 1)
		runs = atoi(env);
	printf("bench size_mb=%zu runs=%u\n", size >> 20, runs);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why;

		if (!selected(cases[i].name, argc, argv))
			continue;
		why = run_case(&cases[i]);
		if (why)
			printf("bench %s skip %s\n", cases[i].name, why);
		else
			n++;
	}
#ifdef HAVE_LIBURING
	if (ring_up)
		io_uring_queue_exit(&ring);
#endif
	/* As a test whose every case skipped (report.h's finish()). */
	return n ? KSFT_PASS : KSFT_SKIP;
}
