// SPDX-License-Identifier: GPL-2.0
/*
 * fork_failnth - every allocation fork() makes can fail, one at a time,
 * and fork() either fails cleanly or succeeds: no memory of the parent
 * changes, a pin keeps referring to the parent's page, nothing leaks.
 *
 * fork() copies the parent's page tables and, for a possibly-pinned
 * anonymous page, the page itself (early COW: mainline 70e806e4e645 "mm:
 * Do early cow for pinned pages during fork() for ptes", d042035eaf5f for
 * THP, 4eae4efa2c29 for hugetlb; in 6.1 through page_try_dup_anon_rmap()
 * and, with the forkpin series, the folio rmap dup helpers and the batched
 * copy of PTE-mapped large folios). Each page copy is an allocation
 * (page_copy_prealloc()) in the middle of the page table walk, after the
 * parent's PTEs have been write-protected and the rmap duplicated for the
 * pages before it; its failure must unwind all of that. This is
 * syzkaller's systematic fault injection applied to fork(): for N = 1,
 * 2, ... the test writes N to /proc/thread-self/fail-nth, so that the
 * N-th fault-injection point of the calling thread (a slab allocation,
 * CONFIG_FAILSLAB, or a page allocation, CONFIG_FAIL_PAGE_ALLOC) fails,
 * and calls fork(); the sweep ends with the first fork() that succeeds
 * without using up the count, i.e. after every allocation of fork() has
 * been failed once.
 *
 * The invariants, for every N:
 *  - fork() fails with ENOMEM or EAGAIN, or succeeds; a failure without
 *    an injected fault, or any other errno, fails the case;
 *  - the parent's memory is intact, page by page (a per-page, per-word
 *    pattern and a per-page generation);
 *  - with a pin: after the parent writes a new generation to the pinned
 *    pages, reading them through the pin (PIN_LONGTERM_TEST_READ, or an
 *    io_uring write from the fixed buffer) returns it: the pin still
 *    refers to the parent's pages;
 *  - a child that was created sees the pre-fork data; its writes reach
 *    the parent only in a MAP_SHARED mapping, and the parent's later
 *    writes reach the child only there;
 * and once per case, after the sweep: memory.current of the test's own
 * memory cgroup is back to its value before the sweep within 64 pages
 * per CPU (the per-CPU charge batch), and once the pin is dropped
 * /proc/vmstat's nr_foll_pin_acquired equals nr_foll_pin_released; no
 * kernel splat was logged during the case. A case in which no injection
 * ever fired proved nothing and fails.
 *
 * Memory kinds: anonymous base pages, a PMD-mapped and a PTE-mapped THP,
 * hugetlb, a MAP_SHARED memfd, a MAP_PRIVATE memfd (half its pages
 * written, COWed to anonymous pages), swapped-out anonymous pages and
 * KSM-merged pages, each without a pin and with a R/W long-term pin of
 * part of it (gup_test's PIN_LONGTERM_TEST_START), plus anonymous pages
 * with an io_uring fixed buffer. A pinned PMD-mapped THP is split by the
 * first fork() that reaches it (copy_huge_pmd() splits a maybe-pinned
 * THP and copies it by PTEs), so later N run on the PTE-mapped THP.
 *
 * The defaults of both attributes skip every allocation fork() makes
 * (ignore-gfp-wait skips allocations that may reclaim, fail_page_alloc's
 * min-order 1 and ignore-gfp-highmem skip the order-0 user page copies):
 * __should_failslab() and __should_fail_alloc_page() apply them before
 * they call should_fail_ex(), which is where fail-nth is counted. The
 * program relaxes them for its duration (probability 0: only fail-nth
 * injects; verbose 0: no stack dump per injection) and restores them
 * when it ends, on a failure or a signal too.
 *
 * The count is per thread and every fault-injection point of the thread
 * consumes it, a page fault's allocation too. After a successful fork()
 * every private page of the parent is write-protected and shared with the
 * child, so any write of the parent - glibc's fork() wrapper, the stack,
 * the kernel writing the rseq area on the way back to user space - would
 * take a COW fault that allocates a page: a count left over by fork()
 * would fail that fault ("Huh VM_FAULT_OOM leaked out to the #PF
 * handler", or SIGSEGV from rseq). So the arming write, the clone()
 * (SIGCHLD, as glibc's _Fork()) and the read and reset of the count are
 * one assembly sequence that writes no memory but a page that fork() does
 * not copy (MADV_DONTFORK), and glibc's rseq registration is undone at
 * start. The child must then not use raise() or abort() (glibc's cached
 * TID is the parent's).
 *
 * Each case runs in a process of its own under alarm(CASE_TIMEOUT), with
 * a bound on N (MAX_N: reaching it fails the case) and on the sweep's
 * time (SWEEP_SECONDS, and PROGRAM_SECONDS for all sweeps together, so
 * that the program ends and restores the attributes before the runner's
 * timeout; a sweep cut short says so and passes on what it checked).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>
#include <linux/magic.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "mem_util.h"
#include "pin_util.h"

/* glibc 2.35+ registers an rseq area per thread (see rseq_unregister()). */
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 35)
#include <sys/rseq.h>
#define HAVE_GLIBC_RSEQ
#endif

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAIL_PAGE_ALLOC	"/sys/kernel/debug/fail_page_alloc"
#define CG_NAME		"forkpin-fork-failnth"
#define KSM_RUN		"/sys/kernel/mm/ksm/run"

/* Bounds of one sweep: N, and seconds. */
#define MAX_N		5000
#define SWEEP_SECONDS	40
/*
 * Seconds all the sweeps together may take: the runner kills the program
 * after 300 s (settings), which would leave the attributes relaxed.
 */
#define PROGRAM_SECONDS	200
/* Seconds a case process may take, setup, sweep and checks included. */
#define CASE_TIMEOUT	(SWEEP_SECONDS + 60)
/* Milliseconds a parent or child waits for the other's message. */
#define MSG_MS		20000
/* Pages pinned (or written by the parent after each fork()). */
#define PART_PAGES	16
/* The memcg's per-CPU charge batch (MEMCG_CHARGE_BATCH). */
#define CHARGE_BATCH	64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the fault-injection attributes ---- */

/* A debugfs attribute the test sets, and what it held before. */
static struct knob {
	const char *path;
	const char *val;
	char saved[32];
	bool changed;
} knobs[] = {
#define KNOB(p, v) { .path = p, .val = v }
	/* Only fail-nth injects: no random failures, quiet. */
	KNOB(FAILSLAB "/probability", "0"),
	KNOB(FAILSLAB "/interval", "1"),
	KNOB(FAILSLAB "/times", "-1"),
	KNOB(FAILSLAB "/space", "0"),
	KNOB(FAILSLAB "/verbose", "0"),
	/* Checked before should_fail_ex(), which counts fail-nth. */
	KNOB(FAILSLAB "/ignore-gfp-wait", "N"),
	KNOB(FAILSLAB "/cache-filter", "N"),
	KNOB(FAIL_PAGE_ALLOC "/probability", "0"),
	KNOB(FAIL_PAGE_ALLOC "/interval", "1"),
	KNOB(FAIL_PAGE_ALLOC "/times", "-1"),
	KNOB(FAIL_PAGE_ALLOC "/space", "0"),
	KNOB(FAIL_PAGE_ALLOC "/verbose", "0"),
	KNOB(FAIL_PAGE_ALLOC "/ignore-gfp-wait", "N"),
	KNOB(FAIL_PAGE_ALLOC "/ignore-gfp-highmem", "N"),
	KNOB(FAIL_PAGE_ALLOC "/min-order", "0"),
};

/* Async-signal-safe: the signal handler restores the knobs too. */
static bool knob_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	size_t len = strlen(val);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, val, len) == (ssize_t)len;
	close(fd);
	return ok;
}

/* Puts back what the test changed, last first; false if one could not be. */
static bool knobs_restore(void)
{
	bool ok = true;
	int i;

	for (i = ARRAY_SIZE(knobs) - 1; i >= 0; i--) {
		if (!knobs[i].changed)
			continue;
		if (knob_write(knobs[i].path, knobs[i].saved))
			knobs[i].changed = false;
		else
			ok = false;
	}
	return ok;
}

static void knobs_restore_and_die(int sig)
{
	knobs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Sets every knob, saving its value first; NULL, or what failed. */
static const char *knobs_set(void)
{
	static char why[256];
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		struct knob *k = &knobs[i];

		fd = open(k->path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, k->saved, sizeof(k->saved) - 1);
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			snprintf(why, sizeof(why), "cannot read %s: %s", k->path,
				 n < 0 ? strerror(errno) : "empty");
			return why;
		}
		k->saved[n] = 0;
		k->saved[strcspn(k->saved, "\n")] = 0;
		if (!knob_write(k->path, k->val)) {
			snprintf(why, sizeof(why), "cannot write %s to %s: %s", k->val, k->path,
				 strerror(errno));
			return why;
		}
		k->changed = true;
	}
	return NULL;
}

/* ---- fork() with fail-nth armed ---- */

/*
 * What fail_fork() reads and writes: a page of its own, MADV_DONTFORK, so
 * that the parent's writes to it after fork() take no COW fault.
 */
struct nth_io {
	long fd;		/* 0: /proc/thread-self/fail-nth */
	const char *arm;	/* 8: "N" */
	long arm_len;		/* 16 */
	long armed;		/* 24: what the arming write() returned */
	long cloned;		/* 32: what clone() returned (parent) */
	long got;		/* 40: what the read of the count returned */
	long reset;		/* 48: what the write of "0" returned */
	char zero[8];		/* 56: "0" */
	char buf[64];		/* 64: the count left, as read */
	char num[32];		/* 128: the arming string */
};

_Static_assert(offsetof(struct nth_io, fd) == 0 && offsetof(struct nth_io, arm) == 8 &&
	       offsetof(struct nth_io, arm_len) == 16 && offsetof(struct nth_io, armed) == 24 &&
	       offsetof(struct nth_io, cloned) == 32 && offsetof(struct nth_io, got) == 40 &&
	       offsetof(struct nth_io, reset) == 48 && offsetof(struct nth_io, zero) == 56 &&
	       offsetof(struct nth_io, buf) == 64, "fail_fork() uses these offsets");

#define STR_(x) #x
#define STR(x) STR_(x)

#if defined(__x86_64__)
/*
 * long fail_fork(struct nth_io *io): pwrite(fd, arm, arm_len, 0); if all
 * of it was written, clone(SIGCHLD) and, in the parent (or on failure),
 * pread(fd, buf, 63, 0) and pwrite(fd, "0", 1, 0). Returns clone()'s
 * result (0 in the child, which touches nothing of *io), or -1 with
 * io->armed showing that the arming failed. Between the arming and the
 * reset only registers and *io are written.
 */
asm(".text\n"
	".type fail_fork, @function\n"
	"fail_fork:\n"
	"	push %rbx\n"
	"	mov %rdi, %rbx\n"
	"	mov $" STR(__NR_pwrite64) ", %eax\n"
	"	mov 0(%rbx), %rdi\n"
	"	mov 8(%rbx), %rsi\n"
	"	mov 16(%rbx), %rdx\n"
	"	xor %r10d, %r10d\n"
	"	syscall\n"
	"	mov %rax, 24(%rbx)\n"
	"	cmp 16(%rbx), %rax\n"
	"	jne 1f\n"
	"	mov $" STR(__NR_clone) ", %eax\n"
	"	mov $" STR(SIGCHLD) ", %edi\n"
	"	xor %esi, %esi\n"
	"	xor %edx, %edx\n"
	"	xor %r10d, %r10d\n"
	"	xor %r8d, %r8d\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 2f\n"
	"	mov %rax, 32(%rbx)\n"
	"	mov $" STR(__NR_pread64) ", %eax\n"
	"	mov 0(%rbx), %rdi\n"
	"	lea 64(%rbx), %rsi\n"
	"	mov $63, %edx\n"
	"	xor %r10d, %r10d\n"
	"	syscall\n"
	"	mov %rax, 40(%rbx)\n"
	"	mov $" STR(__NR_pwrite64) ", %eax\n"
	"	mov 0(%rbx), %rdi\n"
	"	lea 56(%rbx), %rsi\n"
	"	mov $1, %edx\n"
	"	xor %r10d, %r10d\n"
	"	syscall\n"
	"	mov %rax, 48(%rbx)\n"
	"	mov 32(%rbx), %rax\n"
	"	jmp 2f\n"
	"1:	mov $-1, %rax\n"
	"2:	pop %rbx\n"
	"	ret\n"
	".size fail_fork, .-fail_fork\n");
long fail_fork(struct nth_io *io);
#define HAVE_FAIL_FORK
#endif

/*
 * glibc (2.35+) registers an rseq area in the TCB, which the kernel writes
 * on the way back to user space after a preemption: after fork() that
 * write would take a COW fault in the parent (see the top). NULL, or why
 * it cannot be undone.
 */
static const char *rseq_unregister(void)
{
#ifdef HAVE_GLIBC_RSEQ
	void *area;

	if (!__rseq_size)
		return NULL;
	area = (char *)__builtin_thread_pointer() + __rseq_offset;
	/* The length registered: __rseq_size up to 2.39, 32 bytes after. */
	if (!syscall(__NR_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) ||
	    !syscall(__NR_rseq, area, 32, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return NULL;
	return "cannot unregister glibc's rseq area (run with GLIBC_TUNABLES=glibc.pthread.rseq=0)";
#else
	return NULL;
#endif
}

/* ---- the memory under test ---- */

/*
 * The pages under test. Word w of page i holds pattern(i, gen[i], w);
 * with period set, page i holds what page i % period holds (KSM's twins).
 * The part - PART_PAGES pages from page part - is what is pinned, and what
 * the parent writes a new generation to after each fork().
 */
struct mem {
	char *map;
	size_t map_size;
	char *mem;
	size_t pages;
	size_t period;
	size_t part;
	size_t part_pages;
	uint32_t *gen;
	int fd;
	bool shared;		/* MAP_SHARED: the child's writes are the parent's */
	bool swapped;		/* swap out what is not pinned again after each check */
};

struct kind {
	const char *desc;
	/* NULL, or why the memory cannot be had (a skip). */
	const char *(*setup)(struct mem *m);
	/* After the pin is taken; NULL or why not. */
	const char *(*settle)(struct mem *m, bool pinned);
};

#define WORDS	(pagesize / sizeof(uint64_t))
#define CHILD_MARK	0xc41dc41d00000000ULL

static inline uint64_t pattern(size_t page, uint32_t gen, size_t word)
{
	return 0x5a5a000000000000ULL ^ ((uint64_t)gen * 0x9e3779b97f4a7c15ULL) ^
	       ((uint64_t)page << 16) ^ word;
}

static uint64_t *page_words(const struct mem *m, size_t i)
{
	return (uint64_t *)(m->mem + i * pagesize);
}

static size_t pattern_page(const struct mem *m, size_t i)
{
	return m->period ? i % m->period : i;
}

static void fill_page(struct mem *m, size_t i, uint32_t gen)
{
	uint64_t *p = page_words(m, i);
	size_t w, pi = pattern_page(m, i);

	for (w = 0; w < WORDS; w++)
		p[w] = pattern(pi, gen, w);
	m->gen[i] = gen;
}

/*
 * check_pages - pages [from, from + nr) hold their generation's pattern,
 * word 0 being @mark ^ page if @mark is set (a child's write); else says
 * where not, as @what.
 */
static bool check_pages(const char *what, const struct mem *m, size_t from, size_t nr,
			uint64_t mark)
{
	size_t i, w;

	for (i = from; i < from + nr; i++) {
		const uint64_t *p = page_words(m, i);
		size_t pi = pattern_page(m, i);

		for (w = 0; w < WORDS; w++) {
			uint64_t want = w || !mark ? pattern(pi, m->gen[i], w) : mark ^ i;

			if (p[w] == want)
				continue;
			ksft_print_msg("%s: page %zu word %zu is %#llx, expected %#llx (generation %u%s)%s\n",
				       what, i, w, (unsigned long long)p[w],
				       (unsigned long long)want, m->gen[i],
				       mark && !w ? ", the child's mark" : "",
				       (p[w] & ~0xffffffffULL) == CHILD_MARK ? ": a child's write" : "");
			return false;
		}
	}
	return true;
}

static void mem_free(struct mem *m)
{
	if (m->map)
		munmap(m->map, m->map_size);
	if (m->fd >= 0)
		close(m->fd);
	free(m->gen);
	m->map = NULL;
	m->fd = -1;
	m->gen = NULL;
}

/* The region's bookkeeping; pages at mem, part from @part. */
static const char *mem_pages(struct mem *m, char *mem, size_t pages, size_t part)
{
	m->mem = mem;
	m->pages = pages;
	m->part = part;
	m->part_pages = PART_PAGES;
	if (part + PART_PAGES > pages)
		m->part_pages = pages - part;
	m->gen = calloc(pages, sizeof(*m->gen));
	return m->gen ? NULL : "malloc() failed";
}

static const char *map_anon_pages(struct mem *m, size_t pages, size_t align, int flags)
{
	m->map_size = pages * pagesize + align;
	m->map = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return flags & MAP_HUGETLB ? "mmap(MAP_HUGETLB) failed (no free 2 MiB huge pages?)" :
		       "mmap() failed";
	}
	return mem_pages(m, align ? (char *)(((uintptr_t)m->map + align - 1) & ~(align - 1)) :
			 m->map, pages, pages / 4);
}

static void fill_all(struct mem *m, uint32_t gen)
{
	size_t i;

	for (i = 0; i < m->pages; i++)
		fill_page(m, i, gen);
}

static const char *setup_anon(struct mem *m)
{
	const char *why = map_anon_pages(m, 256 * scale, 0, 0);

	if (why)
		return why;
	madvise(m->mem, m->pages * pagesize, MADV_NOHUGEPAGE);
	fill_all(m, 0);
	return NULL;
}

static bool thp_enabled(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strstr(buf, "[never]");
}

static const char *setup_thp_common(struct mem *m)
{
	const char *why;

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	if (!thp_enabled())
		return "THP is disabled (transparent_hugepage/enabled is never)";
	why = map_anon_pages(m, thpsize / pagesize, thpsize, 0);
	if (why)
		return why;
	madvise(m->mem, thpsize, MADV_HUGEPAGE);
	fill_all(m, 0);
	if (!page_has_kflag(m->mem, KPF_THP) ||
	    !page_has_kflag(m->mem + thpsize - pagesize, KPF_THP))
		return "could not get a THP (memory fragmented?)";
	return NULL;
}

static const char *setup_thp(struct mem *m)
{
	const char *why = setup_thp_common(m);

	if (why)
		return why;
	if (smaps_kb(m->mem, "AnonHugePages") != (long)(thpsize >> 10))
		return "the THP is not PMD-mapped (AnonHugePages in /proc/self/smaps)";
	return NULL;
}

static const char *setup_pte_thp(struct mem *m)
{
	const char *why = setup_thp_common(m);

	if (why)
		return why;
	if (!split_pmd(m->mem + pagesize))
		return "mprotect() failed";
	if (!page_has_kflag(m->mem, KPF_THP) || smaps_kb(m->mem, "AnonHugePages") != 0)
		return "the PMD split did not leave a PTE-mapped THP";
	return NULL;
}

static const char *setup_hugetlb(struct mem *m)
{
	const char *why;

	/* The parent's page, fork()'s copy of a pinned one, a child's COW. */
	if (free_hugetlb_pages() < 4)
		return "need 4 free 2 MiB huge pages (hugepages=N on the command line or /proc/sys/vm/nr_hugepages)";
	why = map_anon_pages(m, hugetlbsize / pagesize, 0, MAP_HUGETLB);
	if (why)
		return why;
	fill_all(m, 0);
	return NULL;
}

static const char *memfd_pages(struct mem *m, size_t pages, int flags)
{
	m->fd = memfd_create("forkpin-failnth", 0);
	if (m->fd < 0)
		return "memfd_create() failed";
	if (ftruncate(m->fd, pages * pagesize))
		return "ftruncate() of the memfd failed";
	m->map_size = pages * pagesize;
	m->map = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE, flags, m->fd, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return "mmap() of the memfd failed";
	}
	return mem_pages(m, m->map, pages, pages / 4);
}

static const char *setup_shared(struct mem *m)
{
	const char *why = memfd_pages(m, 256 * scale, MAP_SHARED);

	if (why)
		return why;
	m->shared = true;
	fill_all(m, 0);
	return NULL;
}

/*
 * A MAP_PRIVATE memfd mapping: the file holds generation 0, the even pages
 * are written through the mapping (generation 1: anonymous COW copies),
 * the odd ones stay the file's pagecache pages.
 */
static const char *setup_private_file(struct mem *m)
{
	const char *why = memfd_pages(m, 256 * scale, MAP_PRIVATE);
	uint64_t *buf;
	size_t i, w;

	if (why)
		return why;
	buf = malloc(pagesize);
	if (!buf)
		return "malloc() failed";
	for (i = 0; i < m->pages; i++) {
		for (w = 0; w < WORDS; w++)
			buf[w] = pattern(i, 0, w);
		if (pwrite(m->fd, buf, pagesize, i * pagesize) != (ssize_t)pagesize) {
			free(buf);
			return "cannot write the memfd";
		}
	}
	free(buf);
	for (i = 0; i < m->pages; i++) {
		(void)*(volatile char *)(m->mem + i * pagesize);
		if (!(i & 1))
			fill_page(m, i, 1);
	}
	return NULL;
}

static const char *setup_swapped(struct mem *m)
{
	const char *why = map_anon_pages(m, 64 * scale, 0, 0);

	if (why)
		return why;
	madvise(m->mem, m->pages * pagesize, MADV_NOHUGEPAGE);
	m->swapped = true;
	fill_all(m, 0);
	return NULL;
}

static bool in_part(const struct mem *m, size_t i, bool pinned)
{
	return pinned && i >= m->part && i < m->part + m->part_pages;
}

/* Pages not pinned and not swapped out; all of them if pagemap cannot tell. */
static size_t unswapped(const struct mem *m, bool pinned)
{
	uint64_t *ent = malloc(m->pages * sizeof(*ent));
	size_t i, in = 0;

	if (!ent || !read_pagemap(m->mem, m->pages, ent)) {
		free(ent);
		return m->pages;
	}
	for (i = 0; i < m->pages; i++)
		in += !in_part(m, i, pinned) && !(ent[i] & PM_SWAP);
	free(ent);
	return in;
}

/*
 * Swap out every page but the pinned ones, in up to @tries rounds (a page
 * still in another CPU's LRU batch cannot be isolated yet): the pages
 * left, or -1 if MADV_PAGEOUT fails.
 */
static long swap_out(struct mem *m, bool pinned, int tries)
{
	size_t in = 0;

	while (tries--) {
		if (madvise(m->mem, m->pages * pagesize, MADV_PAGEOUT))
			return -1;
		in = unswapped(m, pinned);
		if (!in)
			break;
	}
	return in;
}

static const char *settle_swapped(struct mem *m, bool pinned)
{
	static char why[160];
	long in = swap_out(m, pinned, 10);

	if (in < 0)
		return "MADV_PAGEOUT failed (kernel older than 5.4?)";
	if (!in)
		return NULL;
	snprintf(why, sizeof(why),
		 "MADV_PAGEOUT left %ld of %zu pages unswapped after 10 tries (need swap, e.g. zram)",
		 in, m->pages - (pinned ? m->part_pages : 0));
	return why;
}

/*
 * Two regions of 32 pages with the same contents, page by page: ksmd
 * merges each pair. ksmd runs until all are KSM pages (bounded) and is
 * then left as it was.
 */
static const char *setup_ksm(struct mem *m)
{
	const size_t half = 32 * scale;
	char old[8] = "", buf[8];
	size_t i, merged = 0;
	long shared = -1;
	const char *why;
	int fd, t;
	ssize_t n;

	if (access(KSM_RUN, W_OK))
		return "need KSM (CONFIG_KSM, " KSM_RUN ") and root";
	why = map_anon_pages(m, 2 * half, 0, 0);
	if (why)
		return why;
	m->period = half;
	m->part = half / 4;
	m->part_pages = half / 4;
	madvise(m->mem, m->pages * pagesize, MADV_NOHUGEPAGE);
	fill_all(m, 0);
	if (madvise(m->mem, m->pages * pagesize, MADV_MERGEABLE))
		return "MADV_MERGEABLE failed";
	fd = open(KSM_RUN, O_RDWR);
	if (fd < 0)
		return "cannot open " KSM_RUN;
	n = pread(fd, old, sizeof(old) - 1, 0);
	old[n > 0 ? n : 0] = 0;
	if (pwrite(fd, "1", 1, 0) != 1) {
		close(fd);
		return "cannot start ksmd";
	}
	for (t = 0; t < 1000; t++) {
		for (i = 0, merged = 0; i < m->pages; i++)
			merged += page_has_kflag(m->mem + i * pagesize, KPF_KSM);
		if (merged == m->pages)
			break;
		usleep(10000);
	}
	read_key("/sys/kernel/mm/ksm/pages_shared", NULL, &shared);
	buf[0] = old[0];
	if (old[0] && old[0] != '1' && pwrite(fd, buf, 1, 0) != 1) {
		close(fd);
		return "cannot restore " KSM_RUN;
	}
	close(fd);
	if (merged != m->pages) {
		static char reason[160];

		snprintf(reason, sizeof(reason),
			 "KSM merged %zu of %zu pages within 10 s (pages_shared %ld)",
			 merged, m->pages, shared);
		return reason;
	}
	ksft_print_msg("KSM: %zu pages merged, pages_shared %ld\n", merged, shared);
	return NULL;
}

/* A R/W pin unshares the KSM pages it pins; the others must stay merged. */
static const char *settle_ksm(struct mem *m, bool pinned)
{
	size_t i;

	for (i = 0; i < m->pages; i++)
		if (!in_part(m, i, pinned) && !page_has_kflag(m->mem + i * pagesize, KPF_KSM))
			return "a page outside the pinned part is no longer a KSM page";
	return NULL;
}

static const struct kind kinds[] = {
	{ .desc = "anonymous base pages", .setup = setup_anon },
	{ .desc = "PMD-mapped THP", .setup = setup_thp },
	{ .desc = "PTE-mapped THP", .setup = setup_pte_thp },
	{ .desc = "hugetlb (2 MiB)", .setup = setup_hugetlb },
	{ .desc = "MAP_SHARED memfd", .setup = setup_shared },
	{ .desc = "MAP_PRIVATE memfd, half written", .setup = setup_private_file },
	{ .desc = "swapped-out anonymous pages", .setup = setup_swapped, .settle = settle_swapped },
	{ .desc = "KSM-merged pages", .setup = setup_ksm, .settle = settle_ksm },
};

/* ---- pins ---- */

enum pin_kind { PIN_NONE, PIN_GUP, PIN_URING };

static const char *const pin_desc[] = {
	[PIN_NONE] = "no pin",
	[PIN_GUP] = "R/W long-term pin",
	[PIN_URING] = "io_uring fixed buffer",
};

struct pin {
	enum pin_kind kind;
	char *mem;
	size_t size;
	bool held;
#ifdef HAVE_LIBURING
	struct io_uring ring;
	int devfd;
#endif
};

static const char *gup_missing;

/* NULL, or why the pin cannot be taken here (a skip), or "" (a failure, said). */
static const char *pin_take(struct pin *p)
{
	if (p->kind == PIN_NONE)
		return NULL;
	if (p->kind == PIN_URING) {
#ifdef HAVE_LIBURING
		struct iovec iov = { p->mem, p->size };
		int ret;

		p->devfd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (p->devfd < 0)
			return "cannot create the io_uring target file in /tmp";
		if (io_uring_queue_init(4, &p->ring, 0)) {
			close(p->devfd);
			return "io_uring_queue_init() failed (need CONFIG_IO_URING)";
		}
		ret = io_uring_register_buffers(&p->ring, &iov, 1);
		if (ret) {
			io_uring_queue_exit(&p->ring);
			close(p->devfd);
			ksft_print_msg("io_uring_register_buffers() failed: %s\n", strerror(-ret));
			return "";
		}
		p->held = true;
		return NULL;
#else
		return "built without liburing (apt-get install liburing-dev)";
#endif
	}
	if (gup_missing)
		return gup_missing;
	if (pin_start(p->mem, p->size, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		return "";
	p->held = true;
	return NULL;
}

/* What the device sees through the pin, into buf; false (said) on error. */
static bool pin_device_read(struct pin *p, void *buf)
{
#ifdef HAVE_LIBURING
	if (p->kind == PIN_URING) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
		struct io_uring_cqe *cqe;
		int ret;

		if (!sqe) {
			ksft_print_msg("io_uring_get_sqe() failed\n");
			return false;
		}
		io_uring_prep_write_fixed(sqe, p->devfd, p->mem, p->size, 0, 0);
		if (io_uring_submit(&p->ring) != 1 || io_uring_wait_cqe(&p->ring, &cqe)) {
			ksft_print_msg("io_uring WRITE_FIXED could not be submitted or waited for\n");
			return false;
		}
		ret = cqe->res;
		io_uring_cqe_seen(&p->ring, cqe);
		if (ret != (int)p->size) {
			ksft_print_msg("io_uring WRITE_FIXED returned %d, expected %zu\n", ret, p->size);
			return false;
		}
		if (pread(p->devfd, buf, p->size, 0) != (ssize_t)p->size) {
			ksft_print_msg("pread() of the io_uring target failed\n");
			return false;
		}
		return true;
	}
#endif
	if (pin_read(buf)) {
		ksft_print_msg("PIN_LONGTERM_TEST_READ failed: %s\n", strerror(errno));
		return false;
	}
	return true;
}

static bool pin_drop(struct pin *p)
{
	if (!p->held)
		return true;
	p->held = false;
#ifdef HAVE_LIBURING
	if (p->kind == PIN_URING) {
		int ret = io_uring_unregister_buffers(&p->ring);

		io_uring_queue_exit(&p->ring);
		close(p->devfd);
		if (ret)
			ksft_print_msg("io_uring_unregister_buffers() failed: %s\n", strerror(-ret));
		return !ret;
	}
#endif
	return !pin_stop();
}

/*
 * Pins held in the whole system by /proc/vmstat, per-CPU deltas folded
 * first (vm.stat_refresh); false if the counters are missing.
 */
static bool pins_held(long *held)
{
	long acq, rel;

	if (!write_file("/proc/sys/vm/stat_refresh", "1"))
		ksft_print_msg("vm.stat_refresh failed: %s\n", strerror(errno));
	if (!read_key("/proc/vmstat", "nr_foll_pin_acquired", &acq) ||
	    !read_key("/proc/vmstat", "nr_foll_pin_released", &rel))
		return false;
	*held = acq - rel;
	return true;
}

/* ---- memcg ---- */

static char cg_parent[600], cg_path[700];

/* A child cgroup of ours with the memory controller in cg_path; NULL or why not. */
static const char *cg_create(void)
{
	if (!cg_self(cg_parent, sizeof(cg_parent)))
		return "no cgroup2 line in /proc/self/cgroup (need cgroup2)";
	return memcg_create(cg_parent, CG_NAME, cg_path, sizeof(cg_path));
}

/* memory.current of cg_path in bytes, -1 if unknown. */
static long cg_current(void)
{
	long kb = cg_kb(cg_path, "memory.current");

	return kb < 0 ? -1 : kb << 10;
}

/* ---- the sweep ---- */

struct sweep_case {
	const struct kind *kind;	/* NULL: io_uring on anonymous base pages */
	enum pin_kind pin;
};

struct tally {
	unsigned int last_n;
	unsigned int enomem, eagain;
	unsigned int absorbed;		/* succeeded although an injection fired */
	unsigned int unaided;		/* succeeded, count left: the end */
	bool timed_out;
	size_t min_swapped;		/* the fewest pages swapped out at a fork() */
};

/* The generation the parent writes to the part after the fork() for @n. */
static uint32_t new_gen(unsigned int n)
{
	return n + 1;
}

/*
 * In the child of a successful fork(): it sees what the parent had, marks
 * every page (word 0), tells the parent, waits for the parent's write to
 * the part and checks again: its marks stay and the parent's write does
 * not show - or, in a MAP_SHARED mapping, does show. Never returns.
 */
static void __attribute__((noreturn))
child_run(struct mem *m, struct comm_pipes *cp, unsigned int n)
{
	size_t i;
	bool ok;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	comm_pipes_keep(cp, true);
	ok = check_pages("the child's memory right after fork()", m, 0, m->pages, 0);
	for (i = 0; i < m->pages; i++)
		page_words(m, i)[0] = CHILD_MARK ^ i;
	if (!comm_tell(cp->to_parent[1], 'w') || comm_hear(cp->to_child[0], MSG_MS) != 'p')
		_exit(2);
	if (m->shared) {
		/* The parent rewrote every page, and the part with a new generation. */
		for (i = m->part; i < m->part + m->part_pages; i++)
			m->gen[i] = new_gen(n);
		ok = check_pages("the child's view of the shared mapping after the parent's writes",
				 m, 0, m->pages, 0) && ok;
	} else {
		ok = check_pages("the child's memory after the parent's write", m, 0, m->pages,
				 CHILD_MARK) && ok;
	}
	_exit(ok ? 0 : 1);
}

/*
 * After the fork() for @n (a child @pid, or none): the parent's memory is
 * intact; the parent writes a new generation to the part, and the pin
 * sees it; a child sees what it must. False (said) if not.
 */
static bool check_round(struct mem *m, struct pin *p, struct comm_pipes *cp, pid_t pid,
			unsigned int n, uint64_t *buf)
{
	bool ok = true;
	int status;
	size_t i;

	if (pid > 0 && comm_hear(cp->to_parent[0], MSG_MS) != 'w') {
		ksft_print_msg("N=%u: the child did not report within %d s\n", n, MSG_MS / 1000);
		kill_child(pid);
		return false;
	}
	if (pid > 0 && m->shared) {
		/* Its marks are ours; then every page is ours again. */
		ok = check_pages("the parent's shared mapping after the child's writes", m, 0,
				 m->pages, CHILD_MARK);
		for (i = 0; i < m->pages; i++)
			fill_page(m, i, m->gen[i]);
	} else {
		ok = check_pages(pid > 0 ? "the parent's memory after the child's writes" :
				 "the parent's memory after the failed fork()", m, 0, m->pages, 0);
	}
	for (i = m->part; i < m->part + m->part_pages; i++)
		fill_page(m, i, new_gen(n));
	if (p->held) {
		if (!pin_device_read(p, buf)) {
			ok = false;
		} else {
			struct mem seen = *m;

			seen.mem = (char *)buf - m->part * pagesize;
			if (!check_pages("through the pin, after the parent's write", &seen, m->part,
					 m->part_pages, 0)) {
				ksft_print_msg("N=%u: the pinned pages are no longer the parent's\n", n);
				ok = false;
			}
		}
	}
	if (pid > 0) {
		if (!comm_tell(cp->to_child[1], 'p')) {
			ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
			ok = false;
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
			ksft_print_msg("N=%u: the child failed (status %#x)\n", n, status);
			ok = false;
		}
	}
	if (!ok)
		ksft_print_msg("N=%u: the check above failed after %s\n", n,
			       pid > 0 ? "a successful fork()" : "a failed fork()");
	return ok;
}

/* When the sweeps must end (CLOCK_MONOTONIC), set by main(). */
static double program_deadline;

/* The sweep: N = 1, 2, ... until fork() succeeds with the count left. */
static bool sweep(struct mem *m, struct pin *p, struct nth_io *io, uint64_t *buf,
		  struct tally *t)
{
	double deadline = now() + SWEEP_SECONDS;
	struct comm_pipes cp;
	unsigned int n;
	long left, pid;
	bool ok = true;
	char *end;

	if (deadline > program_deadline)
		deadline = program_deadline;
	for (n = 1; n <= MAX_N && ok; n++) {
		if (now() > deadline) {
			t->timed_out = true;
			break;
		}
		if (!comm_pipes_setup(&cp)) {
			ok = false;
			break;
		}
		snprintf(io->num, sizeof(io->num), "%u", n);
		io->arm = io->num;
		io->arm_len = strlen(io->num);
		io->armed = io->cloned = io->got = io->reset = -1;
		if (m->swapped) {
			size_t out = m->pages - (p->held ? m->part_pages : 0) - unswapped(m, p->held);

			if (n == 1 || out < t->min_swapped)
				t->min_swapped = out;
		}
		fflush(stdout);
		pid = fail_fork(io);
		if (!pid)
			child_run(m, &cp, n);
		comm_pipes_keep(&cp, false);
		t->last_n = n;
		if (io->armed != io->arm_len) {
			ksft_print_msg("writing %u to %s failed: %s\n", n, FAIL_NTH,
				       io->armed < 0 ? strerror(-io->armed) : "short write");
			comm_pipes_close(&cp);
			ok = false;
			break;
		}
		io->buf[io->got > 0 ? io->got : 0] = 0;
		left = strtol(io->buf, &end, 10);
		if (io->got <= 0 || end == io->buf || io->reset != 1) {
			ksft_print_msg("N=%u: reading back and resetting %s failed (read %ld, reset %ld)\n",
				       n, FAIL_NTH, io->got, io->reset);
			kill_child(pid);
			comm_pipes_close(&cp);
			ok = false;
			break;
		}
		if (pid < 0) {
			if (-pid != ENOMEM && -pid != EAGAIN) {
				ksft_print_msg("N=%u: fork() failed with %s, expected ENOMEM or EAGAIN\n",
					       n, strerror(-pid));
				ok = false;
			} else if (left) {
				ksft_print_msg("N=%u: fork() failed with %s although the injected fault did not fire (fail-nth still %ld)\n",
					       n, strerror(-pid), left);
				ok = false;
			}
			t->enomem += -pid == ENOMEM;
			t->eagain += -pid == EAGAIN;
		} else if (!left) {
			t->absorbed++;
		} else {
			t->unaided++;
		}
		if (!check_round(m, p, &cp, pid > 0 ? pid : 0, n, buf))
			ok = false;
		comm_pipes_close(&cp);
		/* What the check swapped in goes out again, as far as it can at once. */
		if (m->swapped)
			swap_out(m, p->held, 1);
		if (pid > 0 && left)
			break;
	}
	if (ok && n > MAX_N) {
		ksft_print_msg("fork() still used up the count at N=%u, the bound\n", MAX_N);
		ok = false;
	}
	return ok;
}

/* memory.current back to @base within the per-CPU charge batches, polled. */
static bool memcg_settled(long base, long *cur)
{
	long slack = CHARGE_BATCH * sysconf(_SC_NPROCESSORS_CONF) * (long)pagesize;
	int i;

	for (i = 0; i < 20; i++) {
		*cur = cg_current();
		if (*cur >= 0 && labs(*cur - base) <= slack)
			return true;
		usleep(100000);
	}
	ksft_print_msg("memory.current is %ld kB after the sweep, %ld kB before: more than %ld kB (%d pages per CPU) apart\n",
		       *cur >> 10, base >> 10, slack >> 10, CHARGE_BATCH);
	return false;
}

/* After the pin is dropped: every pin acquired is released, polled up to 1 s. */
static bool pins_balanced(void)
{
	long held = 0;
	int i;

	for (i = 0; i < 10; i++) {
		if (!pins_held(&held)) {
			ksft_print_msg("no nr_foll_pin_acquired/released in /proc/vmstat\n");
			return false;
		}
		if (!held)
			return true;
		usleep(100000);
	}
	ksft_print_msg("/proc/vmstat: nr_foll_pin_acquired - nr_foll_pin_released is %ld after the pin was dropped, expected 0\n",
		       held);
	return false;
}

static void case_name(const struct sweep_case *c, char *buf, size_t size)
{
	if (!c->kind)
		snprintf(buf, size, "anonymous base pages, io_uring fixed buffer of %d pages", PART_PAGES);
	else if (c->pin == PIN_NONE)
		snprintf(buf, size, "%s, no pin", c->kind->desc);
	else
		snprintf(buf, size, "%s, %s of part", c->kind->desc, pin_desc[c->pin]);
}

/* One case, in its own process. */
static enum result run_case(const struct sweep_case *c, const char **why)
{
	struct mem m = { .fd = -1 };
	struct pin p = { .kind = c->pin };
	struct tally t = { 0 };
	enum result res = FAIL;
	long base, cur = -1;
	uint64_t *buf = NULL;
	struct nth_io *io;
	char name[200];
	bool ok;

	case_name(c, name, sizeof(name));
	if (now() >= program_deadline) {
		*why = "the sweeps' time budget of " STR(PROGRAM_SECONDS) " s is used up (a slow machine?)";
		return SKIP;
	}
	io = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (io == MAP_FAILED || madvise(io, pagesize, MADV_DONTFORK)) {
		ksft_print_msg("mmap() or MADV_DONTFORK of a page failed: %s\n", strerror(errno));
		return FAIL;
	}
	memset(io, 0, pagesize);
	strcpy(io->zero, "0");
	io->fd = open(FAIL_NTH, O_RDWR);
	if (io->fd < 0) {
		ksft_print_msg("cannot open %s: %s\n", FAIL_NTH, strerror(errno));
		return FAIL;
	}
	if (!cg_join(cg_path))
		return FAIL;
	*why = (c->kind ? c->kind : &kinds[0])->setup(&m);
	if (*why) {
		res = SKIP;
		goto out;
	}
	p.mem = m.mem + m.part * pagesize;
	p.size = m.part_pages * pagesize;
	*why = pin_take(&p);
	if (*why) {
		res = **why ? SKIP : FAIL;
		if (!**why)
			*why = NULL;
		goto out;
	}
	if (c->kind && c->kind->settle) {
		*why = c->kind->settle(&m, p.held);
		if (*why) {
			res = SKIP;
			goto out;
		}
	}
	/* What the device reads through the pin lands here: faulted in before. */
	buf = malloc(m.part_pages * pagesize);
	if (!buf) {
		ksft_print_msg("malloc() failed\n");
		goto out;
	}
	memset(buf, 0, m.part_pages * pagesize);
	base = cg_current();
	if (base < 0) {
		ksft_print_msg("cannot read memory.current of %s\n", cg_path);
		goto out;
	}
	ok = sweep(&m, &p, io, buf, &t);
	ksft_print_msg("%s: swept N=1..%u, %u failed forks (%u ENOMEM, %u EAGAIN), %u success%s after an injected fault, %u without%s\n",
		       name, t.last_n, t.enomem + t.eagain, t.enomem, t.eagain, t.absorbed,
		       t.absorbed == 1 ? "" : "es", t.unaided,
		       t.timed_out ? "; stopped at the time limit before the end" : "");
	if (ok && !t.enomem && !t.eagain && !t.absorbed) {
		ksft_print_msg("no injected fault ever fired: the sweep tested nothing\n");
		ok = false;
	}
	if (ok && !t.timed_out && !t.unaided) {
		ksft_print_msg("the sweep did not end with a fork() that succeeded unaided\n");
		ok = false;
	}
	if (m.swapped)
		ksft_print_msg("at every fork() at least %zu of the %zu pages not pinned were swapped out\n",
			       t.min_swapped, m.pages - (p.held ? m.part_pages : 0));
	/* As before the sweep: what is not pinned is swapped out. */
	if (m.swapped && swap_out(&m, p.held, 10))
		ksft_print_msg("(MADV_PAGEOUT before reading memory.current did not swap out everything)\n");
	if (!memcg_settled(base, &cur))
		ok = false;
	else
		ksft_print_msg("memory.current: %ld kB before the sweep, %ld kB after\n", base >> 10,
			       cur >> 10);
	if (!pin_drop(&p) || !pins_balanced())
		ok = false;
	if (ok && !check_pages("the parent's memory at the end", &m, 0, m.pages, 0))
		ok = false;
	res = ok ? PASS : FAIL;
out:
	pin_drop(&p);
	free(buf);
	mem_free(&m);
	close(io->fd);
	munmap(io, pagesize);
	return res;
}

/* ---- running ---- */

static struct sweep_case cases[2 * ARRAY_SIZE(kinds) + 1];
static unsigned int nr_cases;

/* Shared with the case processes: the last one's verdict. */
static struct verdict *verdict;

static void run_bounded(const struct sweep_case *c, const char *missing)
{
	enum result res = FAIL;
	const char *why = NULL;
	char name[200], desc[400], splat[256];
	int status = 0, kfd;
	unsigned int i;
	bool reaped = false;
	pid_t pid;

	case_name(c, name, sizeof(name));
	snprintf(desc, sizeof(desc),
		 "fail-nth sweep of fork(), %s: ENOMEM/EAGAIN or success, memory and pin intact, memcg and pins balanced",
		 name);
	if (missing) {
		report_result(SKIP, missing, "%s", desc);
		return;
	}
	*verdict = (struct verdict){ .res = FAIL };
	kfd = kmsg_mark_case(desc);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (kfd >= 0)
			close(kfd);
		/* Only the main process restores the attributes. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		alarm(CASE_TIMEOUT);
		verdict->res = run_case(c, &why);
		snprintf(verdict->why, sizeof(verdict->why), "%s", why ? why : "");
		fflush(stdout);
		_exit(0);
	}
	/* The alarm() ends the case process first: this is the backstop. */
	for (i = 0; pid > 0 && i < (CASE_TIMEOUT + 20) * 10 && !reaped; i++) {
		if (i == (CASE_TIMEOUT + 10) * 10)
			kill(pid, SIGKILL);
		reaped = waitpid(pid, &status, WNOHANG) == pid;
		if (!reaped)
			usleep(100000);
	}
	if (pid < 0)
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
	else if (!reaped)
		ksft_print_msg("the case process (pid %d) is stuck in the kernel, not even SIGKILL ends it\n",
			       pid);
	else if (WIFEXITED(status) && !WEXITSTATUS(status))
		res = verdict->res;
	else if (WIFSIGNALED(status))
		ksft_print_msg("the case process died of signal %d%s\n", WTERMSIG(status),
			       WTERMSIG(status) == SIGALRM ? " (its time limit)" : "");
	else
		ksft_print_msg("the case process exited with %d\n", WEXITSTATUS(status));
	/* gup_test's pins are the file's, shared with the case process. */
	if (pid > 0 && c->pin == PIN_GUP && !gup_missing && !(WIFEXITED(status) && !WEXITSTATUS(status)))
		pin_stop();
	if (kmsg_splat_since(kfd, splat, sizeof(splat))) {
		ksft_print_msg("kernel splat during the case: %s\n", splat);
		res = FAIL;
	}
	if (kfd >= 0)
		close(kfd);
	report_result(res, verdict->why[0] ? verdict->why : NULL, "%s", desc);
}

/* NULL, or why no case can run (all skip). */
static const char *program_missing(void)
{
	static char why[300];
	struct statfs fs;
	const char *err;

#ifndef HAVE_FAIL_FORK
	return "needs x86_64: the arm-fork-reset sequence is written in assembly";
#endif
	if (access(FAIL_NTH, F_OK))
		return "kernel lacks /proc/thread-self/fail-nth (needs CONFIG_FAULT_INJECTION)";
	if (statfs("/sys/kernel/debug", &fs) || fs.f_type != DEBUGFS_MAGIC)
		return "debugfs is not mounted (mount -t debugfs none /sys/kernel/debug)";
	if (access(FAILSLAB, F_OK) || access(FAIL_PAGE_ALLOC, F_OK))
		return errno == EACCES ? "need root for debugfs (" FAILSLAB ")" :
		       "no " FAILSLAB " or " FAIL_PAGE_ALLOC
		       ": needs CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC (with CONFIG_FAULT_INJECTION_DEBUG_FS)";
	err = kmsg_unreadable();
	if (err)
		return err;
	err = rseq_unregister();
	if (err)
		return err;
	err = cg_create();
	if (err)
		return err;
	err = knobs_set();
	if (err) {
		snprintf(why, sizeof(why), "%s (need root)", err);
		return why;
	}
	return NULL;
}

int main(void)
{
	const char *missing;
	bool failed = false;
	unsigned int i;

	mem_init();
	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		cases[nr_cases++] = (struct sweep_case){ &kinds[i], PIN_NONE };
		cases[nr_cases++] = (struct sweep_case){ &kinds[i], PIN_GUP };
	}
	cases[nr_cases++] = (struct sweep_case){ NULL, PIN_URING };

	ksft_print_header();
	ksft_set_plan(nr_cases);
	program_deadline = now() + PROGRAM_SECONDS;
	signal(SIGTERM, knobs_restore_and_die);
	signal(SIGINT, knobs_restore_and_die);
	signal(SIGHUP, knobs_restore_and_die);
	missing = program_missing();
	if (missing)
		ksft_print_msg("%s\n", missing);
	if (pin_open(&gup_missing))
		ksft_print_msg("gup_test pins unavailable: %s\n", gup_missing);
	verdict = mmap(NULL, sizeof(*verdict), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (verdict == MAP_FAILED) {
		knobs_restore();
		ksft_exit_fail_msg("mmap() failed: %s\n", strerror(errno));
	}

	for (i = 0; i < nr_cases; i++)
		run_bounded(&cases[i], missing);

	if (!knobs_restore()) {
		ksft_print_msg("cannot restore the fault-injection attributes in %s and %s\n",
			       FAILSLAB, FAIL_PAGE_ALLOC);
		failed = true;
	}
	if (cg_path[0] && rmdir(cg_path)) {
		ksft_print_msg("cannot remove the cgroup %s: %s\n", cg_path, strerror(errno));
		failed = true;
	}
	finish(failed);
}
