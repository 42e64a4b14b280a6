// SPDX-License-Identifier: GPL-2.0
/*
 * fork_stress - fork() racing writers, long-term pins and page-table churn
 * on memory of every kind at once, for a bounded time.
 *
 * The other forkpin tests check fork() and pins one state at a time, with
 * nothing else running. Here the same invariants must hold while threads
 * on every CPU write, pin, unmap, remap, swap out, collapse and split the
 * memory that fork() is copying: the races of fork() with GUP-fast
 * (mainline 57efa1fe5957 "mm/gup: prevent gup_fast from racing with COW
 * during fork", mm->write_protect_seq), the early COW of possibly-pinned
 * pages (70e806e4e645 "mm: Do early cow for pinned pages during fork() for
 * ptes" and its THP sibling; PageAnonExclusive since 5.19), and, with the
 * forkpin series, the batched copy of PTE-mapped large folios.
 *
 * One region, in one reserved address range, of five parts: anonymous base
 * pages (A), a PMD-mapped THP (B), a PTE-mapped THP (C: MADV_HUGEPAGE, the
 * PMD split by mprotect() of one page), a MAP_SHARED memfd (D, shmem) and a
 * MAP_PRIVATE memfd (E, a private file mapping). Every 8-byte word of a
 * page holds the page's tag: who wrote it (the parent, a child, or the
 * file's own content), the page's index and the number of the operation
 * that wrote it, so a torn page (two writers' words), a stale one (an
 * older operation's words) or a misplaced one (another page's) shows in
 * any single word.
 *
 * A control area shared by the parent and its children (MAP_SHARED) keeps
 * per page a lock, flags (read-only, pinned), a sequence count and the tag
 * of the last completed operation. Every operation that changes a page's
 * content - a writer's whole-page write, MADV_DONTNEED, a MAP_FIXED remap -
 * runs under the page's lock: sequence count odd, the change, the new tag,
 * sequence count even. An operation's number is its sequence count / 2.
 * A reset (MADV_DONTNEED, remap) leaves zeroes, or in the private file
 * mapping the file's content; a bit per operation in the control area
 * says whether it was a reset.
 *
 * Threads of the parent, for RUN_SECONDS x FORKPIN_SCALE seconds:
 *  - writers (one per online CPU, at least two): lock a random page, check
 *    it holds exactly the tag of its last operation, write a new tag over
 *    the whole page (read-only pages: only the check);
 *  - forker: fork(); the child checks every page, writes its own tag to
 *    some private pages and reads them back; after waitpid() the parent
 *    checks every page under its lock (no child tag may show);
 *  - pinner (second case): gup_test long-term pins (PIN_LONGTERM_TEST_*,
 *    the one set of pins of the system: only this thread uses them) of 4
 *    pages of B, C or D, R/W and R/O, GUP-fast and not, in turn; while the
 *    pin is held, PIN_LONGTERM_TEST_READ must return what the parent's
 *    mapping holds, under the pages' locks;
 *  - churn: MADV_DONTNEED of random pages, MAP_FIXED remap of a range of
 *    A, mprotect() of a range of A read-only and back, MADV_PAGEOUT (zram),
 *    MADV_COLLAPSE of B and C, PMD splits (mprotect() of one page of C; a
 *    MAP_FIXED remap of B's tail, which splits the THP as a partial munmap
 *    does without leaving a hole that a reader would fault on); khugepaged
 *    scans every 10 ms meanwhile.
 *
 * The invariants, and why nothing legitimate can break them:
 *  - Parent: a page read under its lock holds exactly the tag of its last
 *    operation, every word. Only lock holders change content; everything
 *    else (fork, pins, swap, collapse, splits, khugepaged) must preserve
 *    it.
 *  - Child, private parts: fork() copies each page at some instant between
 *    the parent's two snapshots of the sequence counts, one taken just
 *    before fork() and one as fork() returns (fork() flushes the parent's
 *    TLB before it returns: no parent store reaches a page shared with
 *    the child after that). From the first snapshot, op lo is the last
 *    completed operation; from the second, op hi the last started one.
 *    If lo == hi, no operation ran in between: every word must be op lo's
 *    tag. Otherwise a write may have been in flight while fork() copied:
 *    each word may come from any operation lo..hi (a mix is allowed), or
 *    be the reset content if one of them was a reset - never a tag older
 *    than lo, newer than hi ("from the future": a parent write after
 *    fork() reached the child), of another page, or not a tag at all.
 *  - Child, shared part: the parent's live page, read under the sequence
 *    count (retried while a write is in flight): every word the tag that
 *    goes with that count.
 *  - The child's own writes read back in the child and never show in the
 *    parent.
 *  - Pins: the pinned pages, read through the pin, are the parent's pages:
 *    the same content as the parent's mapping and its last tag. Churn
 *    never resets a pinned page (the pin would legitimately keep the old
 *    page) nor makes it read-only; the pinner writes each page before it
 *    pins it, so the pin never lands on the zeropage or a pagecache page
 *    (a R/O pin of those stays behind on 6.1: pin_fork's known failures).
 *  - No kernel splat meanwhile, and the run did something: at least
 *    MIN_FORKS forks and, with pins, MIN_PINS pins (the run goes on for up
 *    to another RUN_SECONDS x FORKPIN_SCALE to get them, then fails).
 *
 * Each case runs in a process of its own under alarm(): a hang fails it.
 * Children die with the thread that forked them (PR_SET_PDEATHSIG) and
 * under an alarm() of their own. At the end the program prints how many
 * operations of each kind ran, and their rate.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>

#include "mem_util.h"
#include "pin_util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

/* Seconds of stress per case, x FORKPIN_SCALE. */
#define RUN_SECONDS	5
#define MIN_FORKS	10
#define MIN_PINS	10
/* Seconds a case process may take beyond twice its run time. */
#define CASE_SLACK	30
/* Seconds a child may take to check the region. */
#define CHILD_TIMEOUT	20

#define NR_ANON		64	/* pages of A, D and E */
#define RO_FIRST	16	/* A's pages that churn makes read-only */
#define RO_PAGES	16
#define REMAP_FIRST	40	/* A's pages that churn remaps */
#define REMAP_PAGES	8
#define SPLIT_PAGES	8	/* B's tail that churn remaps, splitting the THP */
#define C_SPLIT_PAGE	1	/* C's page that churn mprotect()s, splitting the PMD */
#define PIN_PAGES	4
#define PIN_CHECKS	4	/* reads through each pin */
#define CHILD_WRITES	16
#define MAX_WRITERS	64

enum part_id { PART_A, PART_B, PART_C, PART_D, PART_E, NR_PARTS };

static const char *const part_desc[NR_PARTS] = {
	"anonymous base pages", "PMD-mapped THP", "PTE-mapped THP",
	"MAP_SHARED memfd", "MAP_PRIVATE memfd",
};

struct part {
	char *mem;
	size_t first, nr;	/* its pages' indexes in the region */
};

/* ---- tags ---- */

#define TAG_MAGIC	0xa5ULL
enum who { WHO_PARENT = 1, WHO_CHILD = 2, WHO_FILE = 3 };

static uint64_t make_tag(enum who who, size_t page, uint32_t n)
{
	return TAG_MAGIC << 56 | (uint64_t)who << 48 | (uint64_t)(page & 0xffff) << 32 | n;
}

static bool tag_is(uint64_t t, enum who who, size_t page)
{
	return t >> 32 == make_tag(who, page, 0) >> 32;
}

static uint32_t tag_op(uint64_t t)
{
	return (uint32_t)t;
}

/* What a word means, for a failure message. */
static const char *tag_str(uint64_t t, char *buf, size_t size)
{
	static const char *const whos[] = { "?", "the parent's op", "the child of fork", "the file, op" };
	unsigned int who = (t >> 48) & 0xff;

	if (!t)
		snprintf(buf, size, "0 (zero: reset)");
	else if (t >> 56 != TAG_MAGIC || !who || who > WHO_FILE)
		snprintf(buf, size, "%#llx (not a tag)", (unsigned long long)t);
	else
		snprintf(buf, size, "%#llx (%s #%u, page %u)", (unsigned long long)t,
			 whos[who], tag_op(t), (unsigned int)(t >> 32) & 0xffff);
	return buf;
}

/* ---- the region and its control area ---- */

#define CTL_RO		1	/* mprotect()ed read-only: writers only check it */
#define CTL_PINNED	2	/* in the pinned range: churn must not reset it */

/* Per page, shared with the children (MAP_SHARED). */
struct ctl {
	uint32_t lock;
	uint32_t flags;		/* CTL_*, under lock */
	uint64_t seq;		/* odd while an operation runs */
	uint64_t tag;		/* the content of the last completed operation */
	uint64_t resets;	/* bit n % 64: operation n was a reset */
};

/* What the forker reads just after fork(), for the child (MAP_SHARED). */
struct after {
	uint64_t seq;
	uint64_t resets;
};

enum kind {
	K_FORK, K_CHILD_PAGE, K_CHILD_WINDOW, K_CHILD_SHARED, K_CHILD_BUSY, K_WRITE, K_RO_SKIP,
	K_PIN, K_PIN_FORK, K_PIN_READ, K_DONTNEED, K_REMAP, K_MPROTECT, K_PAGEOUT, K_COLLAPSE,
	K_COLLAPSE_FAIL, K_SPLIT, K_SNAP_BUSY, NR_KINDS
};

static struct {
	struct part part[NR_PARTS];
	size_t nr;			/* pages */
	char **page;			/* the address of each page */
	unsigned char *part_of;		/* the part of each page */
	struct ctl *ctl;		/* shared */
	struct after *after;		/* shared */
	uint64_t *before_seq, *before_tag;	/* the forker's, copied to the child */
	uint64_t *buf;			/* the child's copy of a shared page */
	size_t words;			/* per page */
	int shared_fd, file_fd;
	bool pins;

	bool stop;			/* __atomic */
	pthread_mutex_t fail_lock;
	unsigned int failures;		/* under fail_lock */
	unsigned long count[NR_KINDS];	/* __atomic */
} st = { .fail_lock = PTHREAD_MUTEX_INITIALIZER, .shared_fd = -1, .file_fd = -1 };

static bool stopped(void)
{
	return __atomic_load_n(&st.stop, __ATOMIC_RELAXED);
}

static void count(enum kind k, unsigned long n)
{
	__atomic_add_fetch(&st.count[k], n, __ATOMIC_RELAXED);
}

static unsigned long counted(enum kind k)
{
	return __atomic_load_n(&st.count[k], __ATOMIC_RELAXED);
}

/* A failure in the parent: said (the first few), and everything stops. */
static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&st.fail_lock);
	if (st.failures++ < 4) {
		char msg[600];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		ksft_print_msg("%s\n", msg);
	}
	pthread_mutex_unlock(&st.fail_lock);
	__atomic_store_n(&st.stop, true, __ATOMIC_RELAXED);
}

static bool failed(void)
{
	bool ret;

	pthread_mutex_lock(&st.fail_lock);
	ret = st.failures;
	pthread_mutex_unlock(&st.fail_lock);
	return ret;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "page 613 (PMD-mapped THP, page 101)" */
static const char *page_str(size_t i, char *buf, size_t size)
{
	const struct part *p = &st.part[st.part_of[i]];

	snprintf(buf, size, "page %zu (%s, page %zu)", i, part_desc[st.part_of[i]], i - p->first);
	return buf;
}

/* What a reset leaves in page @i: zeroes, or the file's content. */
static uint64_t reset_tag(size_t i)
{
	return st.part_of[i] == PART_E ? make_tag(WHO_FILE, i, 0) : 0;
}

static void page_lock(size_t i)
{
	uint32_t *lock = &st.ctl[i].lock;
	unsigned int spins = 0;

	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
			if (++spins % 32 == 0)
				sched_yield();
			else
				__asm__ __volatile__("" ::: "memory");
		}
	}
}

static void page_unlock(size_t i)
{
	__atomic_store_n(&st.ctl[i].lock, 0, __ATOMIC_RELEASE);
}

static void lock_range(size_t first, size_t nr)
{
	size_t i;

	for (i = first; i < first + nr; i++)
		page_lock(i);
}

static void unlock_range(size_t first, size_t nr)
{
	size_t i;

	for (i = first; i < first + nr; i++)
		page_unlock(i);
}

/* Under the page's lock: an operation on page @i starts; returns its number. */
static uint64_t op_begin(size_t i, bool reset)
{
	struct ctl *c = &st.ctl[i];
	uint64_t n = c->seq / 2 + 1, bit = 1ULL << (n % 64);

	__atomic_store_n(&c->resets, reset ? c->resets | bit : c->resets & ~bit, __ATOMIC_RELAXED);
	__atomic_store_n(&c->seq, 2 * n - 1, __ATOMIC_RELEASE);
	/* The page changes only after the count is odd. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return n;
}

static void op_end(size_t i, uint64_t n, uint64_t tag)
{
	__atomic_store_n(&st.ctl[i].tag, tag, __ATOMIC_RELAXED);
	__atomic_store_n(&st.ctl[i].seq, 2 * n, __ATOMIC_RELEASE);
}

static void fill(size_t i, uint64_t tag)
{
	uint64_t *w = (uint64_t *)st.page[i];
	size_t k;

	for (k = 0; k < st.words; k++)
		w[k] = tag;
}

/* The first word of @w that is not @want, or -1. */
static long mismatch(const uint64_t *w, uint64_t want)
{
	size_t k;

	for (k = 0; k < st.words; k++)
		if (w[k] != want)
			return k;
	return -1;
}

/* In the parent, under the page's lock: page @i holds its last tag. */
static bool check_locked(size_t i, const char *who)
{
	uint64_t want = st.ctl[i].tag;
	long k = mismatch((uint64_t *)st.page[i], want);
	char pg[80], seen[80], exp[80];

	if (k < 0)
		return true;
	fail("%s: %s: word %ld is %s, expected its last operation's %s", who,
	     page_str(i, pg, sizeof(pg)), k,
	     tag_str(((uint64_t *)st.page[i])[k], seen, sizeof(seen)),
	     tag_str(want, exp, sizeof(exp)));
	return false;
}

/* Every page, under its lock, holds its last tag. */
static bool check_all(const char *who)
{
	size_t i;
	bool ok = true;

	for (i = 0; i < st.nr && ok; i++) {
		page_lock(i);
		ok = check_locked(i, who);
		page_unlock(i);
	}
	return ok;
}

/* ---- setup ---- */

static char *pmd_up(char *addr)
{
	return (char *)(((uintptr_t)addr + thpsize - 1) & ~(thpsize - 1));
}

static bool map_fixed(char *addr, size_t size, int flags, int fd)
{
	return mmap(addr, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0) == addr;
}

static const char *setup(void)
{
	size_t sizes[NR_PARTS], i, total, p;
	char *res, *buf;

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	sizes[PART_A] = sizes[PART_D] = sizes[PART_E] = NR_ANON * pagesize;
	sizes[PART_B] = sizes[PART_C] = thpsize;
	/* A, then B and C PMD-aligned, then D and E: one reserved range. */
	total = 2 * thpsize + sizes[PART_A] + 2 * thpsize + 2 * NR_ANON * pagesize;
	res = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return "mmap() of the reserved range failed";
	st.part[PART_B].mem = pmd_up(res + sizes[PART_A]);
	st.part[PART_A].mem = st.part[PART_B].mem - sizes[PART_A];
	st.part[PART_C].mem = st.part[PART_B].mem + thpsize;
	st.part[PART_D].mem = st.part[PART_C].mem + thpsize;
	st.part[PART_E].mem = st.part[PART_D].mem + sizes[PART_D];

	if (!map_fixed(st.part[PART_A].mem, sizes[PART_A], MAP_PRIVATE | MAP_ANONYMOUS, -1) ||
	    !map_fixed(st.part[PART_B].mem, 2 * thpsize, MAP_PRIVATE | MAP_ANONYMOUS, -1))
		return "mmap(MAP_FIXED) of the anonymous parts failed";
	madvise(st.part[PART_A].mem, sizes[PART_A], MADV_NOHUGEPAGE);
	if (madvise(st.part[PART_B].mem, 2 * thpsize, MADV_HUGEPAGE))
		return "MADV_HUGEPAGE failed (THP disabled?)";

	st.shared_fd = memfd_create("fork_stress-shared", 0);
	st.file_fd = memfd_create("fork_stress-file", 0);
	if (st.shared_fd < 0 || st.file_fd < 0)
		return "memfd_create() failed";
	if (ftruncate(st.shared_fd, sizes[PART_D]) || ftruncate(st.file_fd, sizes[PART_E]))
		return "ftruncate() of a memfd failed";

	for (p = 0, st.nr = 0; p < NR_PARTS; p++) {
		st.part[p].first = st.nr;
		st.part[p].nr = sizes[p] / pagesize;
		st.nr += st.part[p].nr;
	}
	/* The file's own content: what a reset of the private mapping reads. */
	st.words = pagesize / sizeof(uint64_t);
	buf = malloc(pagesize);
	if (!buf)
		return "malloc() failed";
	for (i = 0; i < st.part[PART_E].nr; i++) {
		uint64_t t = make_tag(WHO_FILE, st.part[PART_E].first + i, 0);
		size_t k;

		for (k = 0; k < st.words; k++)
			((uint64_t *)buf)[k] = t;
		if (pwrite(st.file_fd, buf, pagesize, i * pagesize) != (ssize_t)pagesize)
			break;
	}
	free(buf);
	if (i < st.part[PART_E].nr)
		return "cannot write the private memfd's content";
	if (!map_fixed(st.part[PART_D].mem, sizes[PART_D], MAP_SHARED, st.shared_fd) ||
	    !map_fixed(st.part[PART_E].mem, sizes[PART_E], MAP_PRIVATE, st.file_fd))
		return "mmap(MAP_FIXED) of a memfd failed";

	st.page = calloc(st.nr, sizeof(*st.page));
	st.part_of = calloc(st.nr, 1);
	st.before_seq = calloc(st.nr, sizeof(uint64_t));
	st.before_tag = calloc(st.nr, sizeof(uint64_t));
	st.buf = malloc(pagesize);
	st.ctl = mmap(NULL, st.nr * sizeof(struct ctl), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	st.after = mmap(NULL, st.nr * sizeof(struct after), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!st.page || !st.part_of || !st.before_seq || !st.before_tag || !st.buf ||
	    st.ctl == MAP_FAILED || st.after == MAP_FAILED)
		return "out of memory";
	for (p = 0; p < NR_PARTS; p++) {
		for (i = 0; i < st.part[p].nr; i++) {
			st.page[st.part[p].first + i] = st.part[p].mem + i * pagesize;
			st.part_of[st.part[p].first + i] = p;
		}
	}
	/* Operation 1 of every page: the parent's first tag. */
	for (i = 0; i < st.nr; i++) {
		uint64_t n = op_begin(i, false);

		fill(i, make_tag(WHO_PARENT, i, n));
		op_end(i, n, make_tag(WHO_PARENT, i, n));
	}
	if (!page_has_kflag(st.part[PART_B].mem, KPF_THP) ||
	    !page_has_kflag(st.part[PART_C].mem, KPF_THP))
		return "could not get two THPs (THP disabled or memory fragmented?)";
	if (!split_pmd(st.part[PART_C].mem + C_SPLIT_PAGE * pagesize))
		return "mprotect() failed";
	if (!page_has_kflag(st.part[PART_C].mem, KPF_THP))
		return "the THP did not survive the PMD split";
	return NULL;
}

/* ---- the child ---- */

/* The child's messages: write(2), nothing that another thread's lock could block. */
static void __attribute__((format(printf, 1, 2))) child_say(const char *fmt, ...)
{
	char msg[600] = "# child: ";
	size_t len = strlen(msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + len, sizeof(msg) - len - 1, fmt, ap);
	va_end(ap);
	len = strlen(msg);
	msg[len++] = '\n';
	if (write(1, msg, len) < 0)
		return;
}

struct child_stats {
	unsigned long pages, window, shared, busy;
};

/*
 * A private page in the child: every word from an operation between the
 * snapshots, all op lo's if none ran in between (see the top).
 */
static bool child_check_private(size_t i, unsigned long nfork, struct child_stats *cs)
{
	const uint64_t *w = (const uint64_t *)st.page[i];
	uint64_t lo = st.before_seq[i] / 2, hi = (st.after[i].seq + 1) / 2, n;
	uint64_t reset = reset_tag(i);
	char pg[80], seen[80], exp[80];
	bool reset_ok = false;
	long k;

	if (lo == hi) {
		k = mismatch(w, st.before_tag[i]);
		if (k < 0)
			return true;
		child_say("fork %lu: %s: word %ld is %s, expected %s: the parent ran no operation on it around fork()",
			  nfork, page_str(i, pg, sizeof(pg)), k, tag_str(w[k], seen, sizeof(seen)),
			  tag_str(st.before_tag[i], exp, sizeof(exp)));
		return false;
	}
	cs->window++;
	if (hi - lo >= 63)
		reset_ok = true;
	for (n = lo; n <= hi && !reset_ok; n++)
		reset_ok = st.after[i].resets & (1ULL << (n % 64));
	for (k = 0; k < (long)st.words; k++) {
		if (w[k] == reset && reset_ok)
			continue;
		if (tag_is(w[k], WHO_PARENT, i) && tag_op(w[k]) >= lo && tag_op(w[k]) <= hi)
			continue;
		child_say("fork %lu: %s: word %ld is %s, expected the parent's op #%llu..#%llu on it%s (ops in flight around fork())",
			  nfork, page_str(i, pg, sizeof(pg)), k, tag_str(w[k], seen, sizeof(seen)),
			  (unsigned long long)lo, (unsigned long long)hi,
			  reset_ok ? (reset ? " or the file's content" : " or zero") : "");
		return false;
	}
	return true;
}

/* A shared page: the parent's live page, read under its sequence count. */
static bool child_check_shared(size_t i, unsigned long nfork, struct child_stats *cs)
{
	struct ctl *c = &st.ctl[i];
	char pg[80], seen[80], exp[80];
	uint64_t s1, s2, tag;
	int try;
	long k;

	for (try = 0; try < 1000; try++) {
		s1 = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		memcpy(st.buf, st.page[i], pagesize);
		tag = __atomic_load_n(&c->tag, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
		if (s1 != s2)
			continue;
		cs->shared++;
		k = mismatch(st.buf, tag);
		if (k < 0)
			return true;
		child_say("fork %lu: shared %s: word %ld is %s, expected %s (the parent's last write, op #%llu)",
			  nfork, page_str(i, pg, sizeof(pg)), k, tag_str(st.buf[k], seen, sizeof(seen)),
			  tag_str(tag, exp, sizeof(exp)), (unsigned long long)s1 / 2);
		return false;
	}
	cs->busy++;		/* always being written: not checked */
	return true;
}

/* Pages the child may write: private, never made read-only by churn. */
static size_t child_pick(uint64_t *rs)
{
	static const enum part_id parts[] = { PART_A, PART_B, PART_C, PART_E };

	for (;;) {
		const struct part *p = &st.part[parts[rnd(rs) % 4]];
		size_t i = rnd(rs) % p->nr;

		if (p == &st.part[PART_A] && i >= RO_FIRST && i < RO_FIRST + RO_PAGES)
			continue;
		if (p == &st.part[PART_C] && i == C_SPLIT_PAGE)
			continue;
		return p->first + i;
	}
}

static void __attribute__((noreturn)) child(struct comm_pipes *cp, unsigned long nfork)
{
	struct child_stats cs = { 0 };
	size_t i, mine[CHILD_WRITES];
	uint64_t rs = 0x9e3779b97f4a7c15ULL ^ nfork;
	char pg[80], seen[80], exp[80];
	int k;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(CHILD_TIMEOUT);
	comm_pipes_keep(cp, true);
	if (comm_hear(cp->to_child[0], CHILD_TIMEOUT * 1000) != 'g')
		_exit(2);
	for (i = 0; i < st.nr; i++) {
		bool ok = st.part_of[i] == PART_D ? child_check_shared(i, nfork, &cs) :
			  child_check_private(i, nfork, &cs);

		if (!ok)
			_exit(1);
		cs.pages++;
	}
	/* Its own writes: seen here, never in the parent. */
	for (k = 0; k < CHILD_WRITES; k++) {
		mine[k] = child_pick(&rs);
		fill(mine[k], make_tag(WHO_CHILD, mine[k], nfork));
	}
	for (k = 0; k < CHILD_WRITES; k++) {
		uint64_t want = make_tag(WHO_CHILD, mine[k], nfork);
		const uint64_t *w = (const uint64_t *)st.page[mine[k]];
		long bad = mismatch(w, want);

		if (bad >= 0) {
			child_say("fork %lu: %s after the child's own write: word %ld is %s, expected %s",
				  nfork, page_str(mine[k], pg, sizeof(pg)), bad,
				  tag_str(w[bad], seen, sizeof(seen)), tag_str(want, exp, sizeof(exp)));
			_exit(1);
		}
	}
	_exit(comm_send(cp->to_parent[1], &cs, sizeof(cs)) ? 0 : 3);
}

/* ---- the forker ---- */

/* A consistent (sequence count, tag) of page @i; false if it never settles. */
static bool snapshot(size_t i, uint64_t *seq, uint64_t *tag, uint64_t *resets)
{
	struct ctl *c = &st.ctl[i];
	uint64_t s1, s2;
	int try;

	for (try = 0; try < 1000; try++) {
		s1 = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		*tag = __atomic_load_n(&c->tag, __ATOMIC_RELAXED);
		*resets = __atomic_load_n(&c->resets, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
		if (s1 == s2) {
			*seq = s1;
			return true;
		}
		if (try > 10)
			sched_yield();
	}
	return false;
}

static bool fork_once(unsigned long nfork)
{
	struct child_stats cs;
	struct comm_pipes cp;
	uint64_t tag, resets;
	int status = 0, t;
	bool ok = true, reaped = false;
	pid_t pid;
	size_t i;

	if (!comm_pipes_setup(&cp)) {
		fail("pipe() failed");
		return false;
	}
	for (i = 0; i < st.nr; i++) {
		if (!snapshot(i, &st.before_seq[i], &st.before_tag[i], &resets)) {
			/* Unknown: the child accepts any of the parent's ops. */
			st.before_seq[i] = 0;
			count(K_SNAP_BUSY, 1);
		}
	}
	pid = fork();
	if (!pid)
		child(&cp, nfork);
	for (i = 0; i < st.nr; i++) {
		if (!snapshot(i, &st.after[i].seq, &tag, &st.after[i].resets)) {
			st.after[i].seq = UINT32_MAX * 2ULL;
			st.after[i].resets = ~0ULL;
			count(K_SNAP_BUSY, 1);
		}
	}
	comm_pipes_keep(&cp, false);
	if (pid < 0) {
		fail("fork() failed: %s", strerror(errno));
		comm_pipes_close(&cp);
		return false;
	}
	count(K_FORK, 1);
	if (!comm_tell(cp.to_child[1], 'g') ||
	    !comm_recv(cp.to_parent[0], &cs, sizeof(cs), (CHILD_TIMEOUT + 5) * 1000)) {
		ok = false;
	} else {
		count(K_CHILD_PAGE, cs.pages);
		count(K_CHILD_WINDOW, cs.window);
		count(K_CHILD_SHARED, cs.shared);
		count(K_CHILD_BUSY, cs.busy);
	}
	comm_pipes_close(&cp);
	/* Bounded: a child stuck in the kernel never goes. */
	for (t = 0; t < 200 && !reaped; t++) {
		if (t == 100)
			kill(pid, SIGKILL);
		reaped = waitpid(pid, &status, WNOHANG) == pid;
		if (!reaped)
			sleep_us(t < 50 ? 1000 : 50000);
	}
	if (!reaped) {
		fail("fork %lu: the child (pid %d) does not go away, not even after SIGKILL",
		     nfork, pid);
		return false;
	}
	if (!ok || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			fail("fork %lu: the child's checks took over %d s", nfork, CHILD_TIMEOUT);
		else if (WIFSIGNALED(status))
			fail("fork %lu: the child died of signal %d (%s)", nfork, WTERMSIG(status),
			     strsignal(WTERMSIG(status)));
		else
			fail("fork %lu: the child failed (exit status %d, its message above)", nfork,
			     WEXITSTATUS(status));
		return false;
	}
	/* None of the child's writes may show here. */
	return check_all("parent after the child exited");
}

static void *forker(void *arg)
{
	unsigned long nfork;

	for (nfork = 1; !stopped(); nfork++)
		if (!fork_once(nfork))
			break;
	return NULL;
}

/* ---- writers ---- */

static void *writer(void *arg)
{
	uint64_t rs = 0x2545f4914f6cdd1dULL * ((uintptr_t)arg + 1);
	unsigned long writes = 0;

	while (!stopped()) {
		const struct part *p = &st.part[rnd(&rs) % NR_PARTS];
		size_t i = p->first + rnd(&rs) % p->nr;

		page_lock(i);
		if (!check_locked(i, "writer")) {
			page_unlock(i);
			break;
		}
		if (st.ctl[i].flags & CTL_RO) {
			count(K_RO_SKIP, 1);
		} else {
			uint64_t n = op_begin(i, false);

			fill(i, make_tag(WHO_PARENT, i, n));
			op_end(i, n, make_tag(WHO_PARENT, i, n));
			writes++;
		}
		page_unlock(i);
		/* Leave the forker and the pinner some CPU. */
		if (writes % 16 == 0)
			sleep_us(200);
	}
	count(K_WRITE, writes);
	return NULL;
}

/* ---- the pinner ---- */

static const struct {
	unsigned int flags;
	const char *desc;
} pin_kinds[] = {
	{ PIN_LONGTERM_TEST_FLAG_USE_WRITE, "R/W" },
	{ PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST, "R/W GUP-fast" },
	{ 0, "R/O" },
	{ PIN_LONGTERM_TEST_FLAG_USE_FAST, "R/O GUP-fast" },
};

/* Under the locks: the pages through the pin are the parent's pages. */
static bool pin_check(size_t first, const char *kind, uint64_t *buf)
{
	char pg[80], seen[80], mem[80], exp[80];
	size_t j;
	long k;

	if (pin_read(buf)) {
		fail("PIN_LONGTERM_TEST_READ failed: %s", strerror(errno));
		return false;
	}
	for (j = 0; j < PIN_PAGES; j++) {
		size_t i = first + j;
		const uint64_t *w = buf + j * st.words;
		uint64_t want = st.ctl[i].tag;

		if (!check_locked(i, "pinner"))
			return false;
		k = mismatch(w, want);
		if (k >= 0) {
			fail("%s pin of %s: word %ld through the pin is %s, the parent's page holds %s, its last tag is %s: the pin is not on the parent's page",
			     kind, page_str(i, pg, sizeof(pg)), k, tag_str(w[k], seen, sizeof(seen)),
			     tag_str(((uint64_t *)st.page[i])[k], mem, sizeof(mem)),
			     tag_str(want, exp, sizeof(exp)));
			return false;
		}
	}
	return true;
}

static void *pinner(void *arg)
{
	static const enum part_id parts[] = { PART_B, PART_C, PART_D };
	uint64_t *buf = malloc(PIN_PAGES * pagesize), rs = 0xdeadbeefcafef00dULL;
	unsigned int round;
	size_t i;
	int c;

	if (!buf) {
		fail("malloc() failed");
		return NULL;
	}
	for (round = 0; !stopped(); round++) {
		const struct part *p = &st.part[parts[rnd(&rs) % 3]];
		size_t lo = 0, hi = p->nr, first;
		unsigned int kind = round % 4;
		bool ok = true;

		/* Never B's remapped tail nor C's page that turns read-only. */
		if (p == &st.part[PART_B])
			hi -= SPLIT_PAGES;
		if (p == &st.part[PART_C])
			lo = C_SPLIT_PAGE + 1;
		first = p->first + lo + rnd(&rs) % (hi - lo - PIN_PAGES + 1);

		/* Written before the pin: an anonymous (or shmem) page, never the zeropage. */
		lock_range(first, PIN_PAGES);
		for (i = first; i < first + PIN_PAGES && ok; i++) {
			uint64_t n;

			st.ctl[i].flags |= CTL_PINNED;
			ok = check_locked(i, "pinner");
			if (!ok)
				break;
			n = op_begin(i, false);
			fill(i, make_tag(WHO_PARENT, i, n));
			op_end(i, n, make_tag(WHO_PARENT, i, n));
		}
		unlock_range(first, PIN_PAGES);

		if (ok && pin_start(st.page[first], PIN_PAGES * pagesize, pin_kinds[kind].flags)) {
			fail("%s pin of %zu pages at page %zu (%s) failed", pin_kinds[kind].desc,
			     (size_t)PIN_PAGES, first, part_desc[st.part_of[first]]);
			ok = false;
		} else if (ok) {
			unsigned long forks = counted(K_FORK);

			count(K_PIN, 1);
			for (c = 0; c < PIN_CHECKS && ok && !stopped(); c++) {
				if (c)
					sleep_us(20000);
				lock_range(first, PIN_PAGES);
				ok = pin_check(first, pin_kinds[kind].desc, buf);
				unlock_range(first, PIN_PAGES);
				count(K_PIN_READ, 1);
			}
			if (pin_stop()) {
				fail("cannot drop the pins");
				ok = false;
			}
			if (counted(K_FORK) != forks)
				count(K_PIN_FORK, 1);
		}
		lock_range(first, PIN_PAGES);
		for (i = first; i < first + PIN_PAGES; i++)
			st.ctl[i].flags &= ~CTL_PINNED;
		unlock_range(first, PIN_PAGES);
		if (!ok)
			break;
	}
	free(buf);
	return NULL;
}

/* ---- churn ---- */

/* Under the locks: pages @first.. are about to be reset (MADV_DONTNEED, remap). */
static void resets_begin(size_t first, size_t nr, uint64_t *ops)
{
	size_t j;

	for (j = 0; j < nr; j++)
		ops[j] = op_begin(first + j, true);
}

static void resets_end(size_t first, size_t nr, const uint64_t *ops)
{
	size_t j;

	for (j = 0; j < nr; j++)
		op_end(first + j, ops[j], reset_tag(first + j));
}

static bool churn_dontneed(uint64_t *rs)
{
	const struct part *p = &st.part[rnd(rs) % NR_PARTS];
	size_t nr = 1 + rnd(rs) % 4, first = p->first + rnd(rs) % (p->nr - nr + 1), j;
	uint64_t ops[4];
	bool pinned = false;
	int ret;

	if (p == &st.part[PART_D]) {
		/* Shared: the pages stay in the file, nothing changes. */
		ret = madvise(st.page[first], nr * pagesize, MADV_DONTNEED);
	} else {
		lock_range(first, nr);
		for (j = 0; j < nr; j++)
			pinned |= st.ctl[first + j].flags & CTL_PINNED;
		if (pinned) {
			unlock_range(first, nr);
			return true;
		}
		resets_begin(first, nr, ops);
		ret = madvise(st.page[first], nr * pagesize, MADV_DONTNEED);
		resets_end(first, nr, ops);
		unlock_range(first, nr);
	}
	if (ret) {
		fail("MADV_DONTNEED failed: %s", strerror(errno));
		return false;
	}
	count(K_DONTNEED, 1);
	return true;
}

/* A fresh anonymous mapping over @nr pages from @first (the old one goes in the same call). */
static bool churn_remap(size_t first, size_t nr, int advice, enum kind k)
{
	uint64_t ops[SPLIT_PAGES > REMAP_PAGES ? SPLIT_PAGES : REMAP_PAGES];
	bool ok;

	lock_range(first, nr);
	resets_begin(first, nr, ops);
	ok = map_fixed(st.page[first], nr * pagesize, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	/* The old VMA's THP advice, so that the VMAs merge again. */
	if (ok)
		madvise(st.page[first], nr * pagesize, advice);
	resets_end(first, nr, ops);
	unlock_range(first, nr);
	if (!ok) {
		fail("mmap(MAP_FIXED) over %zu pages at page %zu failed: %s", nr, first,
		     strerror(errno));
		return false;
	}
	count(k, 1);
	return true;
}

static bool churn_mprotect(void)
{
	size_t first = st.part[PART_A].first + RO_FIRST, j;
	bool ro;
	int ret;

	lock_range(first, RO_PAGES);
	ro = !(st.ctl[first].flags & CTL_RO);
	ret = mprotect(st.page[first], RO_PAGES * pagesize, ro ? PROT_READ : PROT_READ | PROT_WRITE);
	for (j = 0; j < RO_PAGES && !ret; j++) {
		if (ro)
			st.ctl[first + j].flags |= CTL_RO;
		else
			st.ctl[first + j].flags &= ~CTL_RO;
	}
	unlock_range(first, RO_PAGES);
	if (ret) {
		fail("mprotect() failed: %s", strerror(errno));
		return false;
	}
	count(K_MPROTECT, 1);
	return true;
}

static bool churn_pageout(uint64_t *rs)
{
	const struct part *p = &st.part[rnd(rs) % NR_PARTS];
	size_t nr = 1 + rnd(rs) % 32, first;

	if (nr > p->nr)
		nr = p->nr;
	first = p->first + rnd(rs) % (p->nr - nr + 1);
	if (madvise(st.page[first], nr * pagesize, MADV_PAGEOUT)) {
		fail("MADV_PAGEOUT failed: %s", strerror(errno));
		return false;
	}
	count(K_PAGEOUT, 1);
	return true;
}

static void churn_collapse(uint64_t *rs)
{
	const struct part *p = &st.part[rnd(rs) % 2 ? PART_B : PART_C];

	count(K_COLLAPSE, 1);
	/* EAGAIN (a pinned or busy page), EINVAL (a VMA split meanwhile), ENOMEM: fine. */
	if (madvise(p->mem, thpsize, MADV_COLLAPSE))
		count(K_COLLAPSE_FAIL, 1);
}

/* PTE-map C again (khugepaged or MADV_COLLAPSE made it PMD-mapped). */
static bool churn_split_pmd(void)
{
	size_t i = st.part[PART_C].first + C_SPLIT_PAGE;
	bool ok;

	page_lock(i);
	ok = split_pmd(st.page[i]);
	page_unlock(i);
	if (!ok) {
		fail("mprotect() of one page of the THP failed: %s", strerror(errno));
		return false;
	}
	count(K_SPLIT, 1);
	return true;
}

static void *churn(void *arg)
{
	uint64_t rs = 0x123456789abcdefULL;
	bool ok = true;

	while (ok && !stopped()) {
		switch (rnd(&rs) % 8) {
		case 0:
		case 1:
			ok = churn_dontneed(&rs);
			break;
		case 2:
			ok = churn_remap(st.part[PART_A].first + REMAP_FIRST, REMAP_PAGES,
					 MADV_NOHUGEPAGE, K_REMAP);
			break;
		case 3:
			ok = churn_mprotect();
			break;
		case 4:
			ok = churn_pageout(&rs);
			break;
		case 5:
			churn_collapse(&rs);
			break;
		case 6:
			ok = churn_split_pmd();
			break;
		default:
			/* Splits B's THP, as a partial munmap() would. */
			ok = churn_remap(st.part[PART_B].first + st.part[PART_B].nr - SPLIT_PAGES,
					 SPLIT_PAGES, MADV_HUGEPAGE, K_SPLIT);
			break;
		}
		sleep_us(2000);
	}
	return NULL;
}

/* ---- a case ---- */

static void report_counts(double secs, unsigned int writers)
{
	static const struct {
		enum kind k;
		const char *desc;
	} rows[] = {
		{ K_FORK, "forks" },
		{ K_CHILD_PAGE, "child page checks" },
		{ K_WRITE, "writes" },
		{ K_PIN, "long-term pins" },
		{ K_PIN_FORK, "... held across fork" },
		{ K_PIN_READ, "reads through a pin" },
		{ K_DONTNEED, "MADV_DONTNEED" },
		{ K_REMAP, "remaps" },
		{ K_MPROTECT, "mprotect toggles" },
		{ K_PAGEOUT, "MADV_PAGEOUT" },
		{ K_COLLAPSE, "MADV_COLLAPSE" },
		{ K_SPLIT, "THP/PMD splits" },
	};
	unsigned int r;
	long kb;

	ksft_print_msg("%.1f s, %u writers, %zu pages (A %zu, B %zu, C %zu, D %zu, E %zu):\n",
		       secs, writers, st.nr, st.part[PART_A].nr, st.part[PART_B].nr,
		       st.part[PART_C].nr, st.part[PART_D].nr, st.part[PART_E].nr);
	for (r = 0; r < ARRAY_SIZE(rows); r++)
		ksft_print_msg("  %-20s %8lu  %9.1f/s\n", rows[r].desc, counted(rows[r].k),
			       counted(rows[r].k) / secs);
	ksft_print_msg("  child pages checked across an operation in flight: %lu, shared pages read under the count: %lu (%lu always busy); read-only pages only checked by writers: %lu; MADV_COLLAPSE failures: %lu; snapshots that never settled: %lu\n",
		       counted(K_CHILD_WINDOW), counted(K_CHILD_SHARED), counted(K_CHILD_BUSY),
		       counted(K_RO_SKIP), counted(K_COLLAPSE_FAIL), counted(K_SNAP_BUSY));
	kb = smaps_kb(st.part[PART_B].mem, "AnonHugePages");
	if (kb >= 0)
		ksft_print_msg("  AnonHugePages of B and C at the end: %ld kB\n", kb);
}

static enum result stress(const char **why)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int writers = cpus < 2 ? 2 : cpus > MAX_WRITERS ? MAX_WRITERS : cpus;
	pthread_t threads[MAX_WRITERS + 3];
	unsigned int nr = 0, i;
	double run = RUN_SECONDS * scale, start, secs;
	bool short_run;

	if (st.pins && pin_open(why))
		return SKIP;
	*why = setup();
	if (*why)
		return SKIP;

	start = now();
	for (i = 0; i < writers + 3; i++) {
		void *(*fn)(void *) = i < writers ? writer : i == writers ? forker :
				      i == writers + 1 ? churn : pinner;

		if (fn == pinner && !st.pins)
			continue;
		errno = pthread_create(&threads[nr], NULL, fn, (void *)(uintptr_t)i);
		if (errno) {
			fail("pthread_create() failed: %s", strerror(errno));
			break;
		}
		nr++;
	}
	/* The run time, then more (as much again) until the minimum counts are reached. */
	for (;;) {
		secs = now() - start;
		short_run = counted(K_FORK) < MIN_FORKS || (st.pins && counted(K_PIN) < MIN_PINS);
		if (stopped() || secs >= 2 * run || (secs >= run && !short_run))
			break;
		sleep_us(50000);
	}
	__atomic_store_n(&st.stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < nr; i++)
		pthread_join(threads[i], NULL);
	secs = now() - start;

	if (!failed())
		check_all("parent at the end");
	report_counts(secs, writers);
	if (failed())
		return FAIL;
	if (counted(K_FORK) < MIN_FORKS || (st.pins && counted(K_PIN) < MIN_PINS)) {
		ksft_print_msg("only %lu forks and %lu pins in %.1f s, need %d forks and %d pins: the run proved too little\n",
			       counted(K_FORK), counted(K_PIN), secs, MIN_FORKS, st.pins ? MIN_PINS : 0);
		return FAIL;
	}
	return PASS;
}

/* ---- a case in a process of its own ---- */

static enum result run_case(bool pins, const char **why)
{
	static struct verdict v;
	unsigned int timeout = 2 * RUN_SECONDS * scale + CASE_SLACK;
	struct comm_pipes cp;
	enum result res;
	int status = 0, t;
	bool reaped = false;
	pid_t pid;

	if (!comm_pipes_setup(&cp))
		return FAIL;
	fflush(stdout);
	pid = fork();
	if (!pid) {
		comm_pipes_keep(&cp, true);
		alarm(timeout);
		st.pins = pins;
		v.res = stress(why);
		if (*why)
			snprintf(v.why, sizeof(v.why), "%s", *why);
		fflush(stdout);
		_exit(comm_send(cp.to_parent[1], &v, sizeof(v)) ? 0 : 1);
	}
	comm_pipes_keep(&cp, false);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		comm_pipes_close(&cp);
		return FAIL;
	}
	/* The case process's alarm() ends it first: this is the backstop. */
	if (!comm_recv(cp.to_parent[0], &v, sizeof(v), (timeout + 10) * 1000)) {
		ksft_print_msg("the case process gave no verdict (it died, or ran past %u s)\n", timeout);
		res = FAIL;
	} else {
		res = v.res;
		*why = v.why;
	}
	comm_pipes_close(&cp);
	for (t = 0; t < 100 && !reaped; t++) {
		if (t == 50)
			kill(pid, SIGKILL);
		reaped = waitpid(pid, &status, WNOHANG) == pid;
		if (!reaped)
			sleep_us(100000);
	}
	if (!reaped) {
		ksft_print_msg("the case process (pid %d) is stuck in the kernel, not even SIGKILL ends it\n", pid);
		res = FAIL;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			ksft_print_msg("the case process died of signal %d (%s)\n", WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status)));
		else
			ksft_print_msg("the case process exited with %d\n", WEXITSTATUS(status));
		res = FAIL;
	}
	return res;
}

static enum result no_pins_case(const char **why)
{
	return run_case(false, why);
}

static enum result pins_case(const char **why)
{
	return run_case(true, why);
}

static const struct test_case cases[] = {
	{ "fork() racing writers and churn (MADV_DONTNEED, remap, mprotect, MADV_PAGEOUT, MADV_COLLAPSE, THP splits, khugepaged) on anon, THP, PTE-mapped THP, shared and private memfd pages: every page consistent in parent and child, no child write in the parent, no kernel splat",
	  no_pins_case },
	{ "same with long-term pins (R/W, R/O, GUP-fast and not) held across fork(): each pin reads the parent's pages",
	  pins_case },
};

#define KHUGEPAGED_SLEEP "/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs"

static char khugepaged_old[32];

static void restore_khugepaged(void)
{
	if (khugepaged_old[0] && !write_file(KHUGEPAGED_SLEEP, khugepaged_old))
		ksft_print_msg("cannot restore %s to %s\n", KHUGEPAGED_SLEEP, khugepaged_old);
}

int main(void)
{
	long val;

	mem_init();
	/* khugepaged collapses C (and B after a split) while the stress runs. */
	if (read_key(KHUGEPAGED_SLEEP, NULL, &val) && write_file(KHUGEPAGED_SLEEP, "10")) {
		snprintf(khugepaged_old, sizeof(khugepaged_old), "%ld", val);
		atexit(restore_khugepaged);
	}
	/* Each case bounds itself (run_case()). */
	run_cases(cases, ARRAY_SIZE(cases), NULL, true, 0);
}
