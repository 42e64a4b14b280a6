// SPDX-License-Identifier: GPL-2.0
/*
 * hugetlb_uffd_wp - userfaultfd write-protection (uffd-wp) of private
 * hugetlb pages survives unsharing and fork(), and fork() keeps a
 * read-only private hugetlb page read-only in the child.
 *
 * A uffd-wp monitor (live snapshotting, CRIU-style tracking) relies on one
 * invariant: a page it write-protected with UFFDIO_WRITEPROTECT stays
 * protected until the monitor lifts the protection, whatever the kernel
 * does to the page table entry meanwhile, so the process's next write
 * raises a uffd-wp fault. Two kernel paths replace a private hugetlb page
 * and built the new entry from scratch on 6.1, dropping (or inventing)
 * the uffd-wp bit where the PTE and PMD paths carry it over:
 *
 *  - Unsharing (mainline "mm/hugetlb: fix uffd-wp bit lost when unsharing
 *    happens"): a R/O long-term pin of a page the process may not keep
 *    (an anon page shared with a child after fork(); with R/O pins that
 *    unshare non-anonymous pages, also a hugetlb pagecache page) takes an
 *    UNSHARE fault, and hugetlb_wp() installs the copy with make_huge_pte()
 *    without the uffd-wp bit. The process's next write is not trapped.
 *    "unshare, ..." cases: write-protect, R/O long-term pin, write; the
 *    write must raise exactly one uffd-wp fault (a monitor thread resolves
 *    it) and the page must still read as uffd-wp in /proc/self/pagemap
 *    after the pin; an anon page shared with a child must have been
 *    replaced by the pin (its PFN changes, where PFNs are readable).
 *
 *  - fork() (mainline "mm/hugetlb: fix uffd-wp during fork()"):
 *    copy_hugetlb_page_range() gives the child the parent's uffd-wp bit
 *    even where the child's VMA has no uffd-wp (no UFFD_FEATURE_EVENT_FORK:
 *    the child's write then loops forever, hugetlb_wp() refusing to COW a
 *    uffd-wp entry), and early COW of a pinned page installs the child's
 *    copy writable and without uffd-wp although the child's VMA keeps
 *    uffd-wp (EVENT_FORK). "fork, ..." cases: populate, write-protect,
 *    optionally long-term pin (R/W before, R/O after write-protecting: a
 *    R/W pin would itself trap), fork(); the child's page must read as
 *    uffd-wp in its pagemap and its write must trap on the child's uffd
 *    (handed over by the UFFD_EVENT_FORK message) exactly when EVENT_FORK
 *    is on; otherwise the write completes without a fault. The parent
 *    stays protected and keeps its data (MAP_PRIVATE).
 *
 * Anonymous base pages, PMD-mapped THP and shmem run the same cases as
 * guards: their PTE/PMD paths handle uffd-wp on 6.1 already.
 *
 * The early-COW path has a second 6.1 bug, under the uffd-wp one (mainline
 * v6.13 "mm/hugetlb: don't map folios writable without VM_WRITE when
 * copying during fork()"; the 6.1 bug dates from 4eae4efa2c29 "hugetlb: do
 * early cow when page pinned on src mm"): hugetlb_install_page() maps the
 * child's copy of a possibly pinned page writable whatever the VMA allows.
 * The invariant is mprotect()'s: a process cannot write to memory it made
 * read-only. "fork, ..., mprotect(PROT_READ)" cases: populate with the
 * parent's data, R/W long-term pin (the early COW), mprotect(PROT_READ),
 * fork(); in the child the page must read the parent's data, a write to
 * it must raise SIGSEGV (SEGV_ACCERR at its address) and leave it
 * unchanged. The child's page must be its own copy exactly when pinned
 * (PFNs, where readable), and the parent's page, seen directly and through
 * the pin, keeps the parent's data. Guards: an anonymous base page and a
 * PMD-mapped THP (fork() splits a pinned THP's PMD and copies its pages by
 * the PTE path, which respects VM_WRITE on 6.1), and hugetlb without a pin
 * (no early COW: the page is shared read-only).
 *
 * Every case runs in its own process with a deadline, so a looping or
 * stuck fault cannot hang the run; the child's write in the fork cases
 * has a deadline of its own. Each case marks its start in the kernel log
 * ("forkpin: case ...") and fails on a kernel splat logged while it ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>
#include <linux/userfaultfd.h>

#include "mem_util.h"
#include "pin_util.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif

#define CASE_TIMEOUT		30	/* s, one case in its own process */
#define CHILD_WRITE_TIMEOUT	5	/* s, the fork() child's write */
#define FORK_EVENT_TIMEOUT_MS	10000
#define MONITOR_TIMEOUT_MS	20000

#define VAL_INIT	0x11
#define VAL_PARENT	0x22
#define VAL_CHILD	0x33

static const char *gup_missing;		/* why gup_test pins are unavailable */
static const char *uffd_missing;	/* why uffd-wp is unavailable */
static uint64_t uffd_features;		/* what UFFDIO_API offers */

/* ---- memory ---- */

enum mem_kind {
	HUGETLB_ANON,
	HUGETLB_MEMFD,
	ANON_BASE,
	ANON_THP,
	SHMEM_SHARED,
	SHMEM_PRIVATE,
};

static const struct mem_type {
	const char *desc;
	bool hugetlb, shmem, shared;
} mem_types[] = {
	[HUGETLB_ANON]	= { "hugetlb MAP_PRIVATE anon", .hugetlb = true },
	[HUGETLB_MEMFD]	= { "hugetlb MAP_PRIVATE memfd", .hugetlb = true },
	[ANON_BASE]	= { "anonymous base page" },
	[ANON_THP]	= { "PMD-mapped THP" },
	[SHMEM_SHARED]	= { "shmem MAP_SHARED memfd", .shmem = true, .shared = true },
	[SHMEM_PRIVATE]	= { "shmem MAP_PRIVATE memfd", .shmem = true },
};

/* Fill a new memfd of @size with VAL_INIT: its pagecache. */
static const char *memfd_fill(struct region *r, size_t size, bool hugetlb)
{
	char *shared;

	r->fd = memfd_create("hugetlb_uffd_wp", hugetlb ? MFD_HUGETLB : 0);
	if (r->fd < 0)
		return hugetlb ? "memfd_create(MFD_HUGETLB) failed" : "memfd_create() failed";
	if (ftruncate(r->fd, size))
		return "ftruncate() of the memfd failed";
	/* hugetlbfs has no write(): fill through a shared mapping. */
	shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (shared == MAP_FAILED)
		return "mmap(MAP_SHARED) of the memfd failed";
	memset(shared, VAL_INIT, size);
	munmap(shared, size);
	return NULL;
}

static const char *map_memfd(struct region *r, size_t size, int flags)
{
	r->map_size = r->size = size;
	r->map = r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return "mmap() of the memfd failed";
	}
	return NULL;
}

/*
 * Map one page (base, THP or hugetlb) of @kind. With @write the process
 * writes it (an anon page in private mappings: the VMA gets an anon_vma);
 * without, a private file mapping only reads it (its pagecache page is
 * mapped R/O). Returns NULL, or why it cannot (a skip).
 */
static const char *setup_mem(struct region *r, enum mem_kind kind, bool write)
{
	const char *why = NULL;

	r->fd = -1;
	r->init = VAL_INIT;
	switch (kind) {
	case HUGETLB_ANON:
	case HUGETLB_MEMFD:
		/* The page, a copy (early COW or unshare) and a COW copy. */
		if (free_hugetlb_pages() < 4)
			return "need 4 free 2 MiB huge pages (hugepages=N or /proc/sys/vm/nr_hugepages)";
		if (kind == HUGETLB_ANON) {
			if (map_anon(r, hugetlbsize, 0, MAP_HUGETLB))
				return "mmap(MAP_HUGETLB) failed (no 2 MiB huge pages?)";
			break;
		}
		why = memfd_fill(r, hugetlbsize, true);
		if (!why)
			why = map_memfd(r, hugetlbsize, MAP_PRIVATE);
		break;
	case ANON_BASE:
		if (map_anon(r, pagesize, 0, 0))
			return "mmap() failed";
		madvise(r->mem, r->size, MADV_NOHUGEPAGE);
		break;
	case ANON_THP:
		if (!thpsize)
			return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
		if (map_anon(r, thpsize, thpsize, 0))
			return "mmap() failed";
		madvise(r->mem, r->size, MADV_HUGEPAGE);
		break;
	case SHMEM_SHARED:
		why = memfd_fill(r, pagesize, false);
		if (!why)
			why = map_memfd(r, pagesize, MAP_SHARED);
		break;
	case SHMEM_PRIVATE:
		why = memfd_fill(r, pagesize, false);
		if (!why)
			why = map_memfd(r, pagesize, MAP_PRIVATE);
		break;
	}
	if (why)
		return why;
	if (write || kind == HUGETLB_ANON || kind == ANON_BASE || kind == ANON_THP)
		memset(r->mem, VAL_INIT, r->size);
	else
		(void)*(volatile char *)r->mem;
	if (kind == ANON_THP && !page_has_kflag(r->mem, KPF_THP))
		return "could not get a THP (THP disabled or memory fragmented?)";
	return NULL;
}

/* ---- userfaultfd ---- */

static int uffd_new(void)
{
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	/* Without privilege (vm.unprivileged_userfaultfd=0): user faults only. */
	if (fd < 0 && errno == EPERM)
		fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd;
}

/* What UFFDIO_API offers, or why uffd-wp cannot be used at all. */
static void uffd_probe(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_new();

	if (fd < 0) {
		uffd_missing = errno == ENOSYS ? "no userfaultfd() (need CONFIG_USERFAULTFD)" :
			       "userfaultfd() failed (need root or vm.unprivileged_userfaultfd=1)";
		return;
	}
	if (ioctl(fd, UFFDIO_API, &api))
		uffd_missing = "UFFDIO_API failed";
	else if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		uffd_missing = "no uffd-wp (kernel without CONFIG_HAVE_ARCH_USERFAULTFD_WP)";
	uffd_features = api.features;
	close(fd);
}

/* Why uffd-wp with @ef cannot be used on @mt, or NULL. */
static const char *uffd_unsupported(const struct mem_type *mt, bool ef)
{
	if (uffd_missing)
		return uffd_missing;
	if ((mt->hugetlb || mt->shmem) && !(uffd_features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM))
		return "uffd-wp on hugetlb/shmem needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM (CONFIG_PTE_MARKER_UFFD_WP, v5.19+)";
	if (ef && !(uffd_features & UFFD_FEATURE_EVENT_FORK))
		return "no UFFD_FEATURE_EVENT_FORK";
	return NULL;
}

/*
 * A uffd with uffd-wp (and EVENT_FORK if @ef) registered in WP mode over
 * @r and write-protecting it. Returns the fd, or -1 with *why set if the
 * case must skip, or -1 with *why NULL if it failed.
 */
static int uffd_protect(struct region *r, const struct mem_type *mt, bool ef,
			const char **why)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)r->mem, .len = r->size },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)r->mem, .len = r->size },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	int fd = uffd_new();

	if (mt->hugetlb || mt->shmem)
		api.features |= UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	if (ef)
		api.features |= UFFD_FEATURE_EVENT_FORK;
	if (fd < 0) {
		ksft_print_msg("userfaultfd() failed: %s\n", strerror(errno));
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		if (errno == EPERM && ef)
			*why = "UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE";
		else
			ksft_print_msg("UFFDIO_API failed: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		ksft_print_msg("UFFDIO_REGISTER (WP) failed: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
		ksft_print_msg("UFFDIO_WRITEPROTECT failed: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (!(pagemap_entry(r->mem) & PM_UFFD_WP)) {
		ksft_print_msg("UFFDIO_WRITEPROTECT did not mark the page uffd-wp in pagemap (%#llx)\n",
			       (unsigned long long)pagemap_entry(r->mem));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The monitor: a thread that reads a uffd, counts the uffd-wp faults in
 * [mem, mem + size) and resolves each by lifting the protection (which
 * wakes the faulting thread). With @expect_fork it first waits for the
 * UFFD_EVENT_FORK message and then watches the child's uffd it carries.
 * Every wait is bounded; stop() ends it.
 */
struct monitor {
	pthread_t thread;
	int uffd, stop[2];
	bool expect_fork;
	char *mem;
	size_t size;
	/* results */
	int child_uffd;
	bool got_fork;
	int wp_faults, other_msgs, errors;
};

/* Whether @fd became readable before a stop request or @ms passed. */
static bool monitor_wait(struct monitor *m, int fd, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = m->stop[0], .events = POLLIN },
	};

	for (;;) {
		int n = poll(pfd, 2, ms);

		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 && !pfd[1].revents && (pfd[0].revents & POLLIN);
	}
}

static void *monitor_fn(void *arg)
{
	struct monitor *m = arg;
	struct uffd_msg msg;
	int fd = m->uffd;
	ssize_t n;

	if (m->expect_fork) {
		if (!monitor_wait(m, fd, FORK_EVENT_TIMEOUT_MS))
			return NULL;
		if (read(fd, &msg, sizeof(msg)) != sizeof(msg)) {
			ksft_print_msg("reading the uffd failed: %s\n", strerror(errno));
			m->errors++;
			return NULL;
		}
		if (msg.event != UFFD_EVENT_FORK) {
			ksft_print_msg("uffd message %#x, expected UFFD_EVENT_FORK\n", msg.event);
			m->other_msgs++;
			return NULL;
		}
		m->got_fork = true;
		fd = m->child_uffd = msg.arg.fork.ufd;
	}
	while (monitor_wait(m, fd, MONITOR_TIMEOUT_MS)) {
		struct uffdio_writeprotect wp = {
			.range = { .start = (uintptr_t)m->mem, .len = m->size },
			.mode = 0,
		};
		uint64_t addr;

		n = read(fd, &msg, sizeof(msg));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n != sizeof(msg)) {
			ksft_print_msg("reading the uffd failed: %s\n", strerror(errno));
			m->errors++;
			break;
		}
		addr = msg.arg.pagefault.address;
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) ||
		    addr < (uintptr_t)m->mem || addr >= (uintptr_t)m->mem + m->size) {
			ksft_print_msg("unexpected uffd message: event %#x flags %#llx address %#llx\n",
				       msg.event, (unsigned long long)msg.arg.pagefault.flags,
				       (unsigned long long)addr);
			m->other_msgs++;
			break;
		}
		m->wp_faults++;
		if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
			ksft_print_msg("resolving the uffd-wp fault failed: %s\n", strerror(errno));
			m->errors++;
			break;
		}
	}
	return NULL;
}

static bool monitor_start(struct monitor *m, int uffd, bool expect_fork, struct region *r)
{
	memset(m, 0, sizeof(*m));
	m->uffd = uffd;
	m->expect_fork = expect_fork;
	m->mem = r->mem;
	m->size = r->size;
	m->child_uffd = -1;
	if (pipe(m->stop))
		return false;
	if (pthread_create(&m->thread, NULL, monitor_fn, m)) {
		close(m->stop[0]);
		close(m->stop[1]);
		return false;
	}
	return true;
}

static void monitor_stop(struct monitor *m)
{
	if (write(m->stop[1], "s", 1) != 1)
		ksft_print_msg("cannot stop the monitor: %s\n", strerror(errno));
	pthread_join(m->thread, NULL);
	close(m->stop[0]);
	close(m->stop[1]);
	if (m->child_uffd >= 0)
		close(m->child_uffd);
}

/* ---- the cases ---- */

enum pin_mode { PIN_NONE, PIN_RO, PIN_RW };

static const char *const pin_descs[] = {
	[PIN_NONE] = "no pin",
	[PIN_RO] = "R/O pin",
	[PIN_RW] = "R/W pin",
};

struct tcase {
	char desc[200];
	enum result (*fn)(const struct tcase *c, const char **why);
	enum mem_kind kind;
	/* unshare cases: a pagecache page mapped R/O, not an anon page */
	bool pagecache;
	/* fork cases */
	bool ef;
	enum pin_mode pin;
};

/*
 * Write-protect, R/O long-term pin (unshares the page where it is shared
 * with a child, and on kernels that unshare non-anonymous pages in COW
 * mappings also a pagecache page), then write: the protection must hold.
 */
static enum result unshare_case(const struct tcase *c, const char **why)
{
	const struct mem_type *mt = &mem_types[c->kind];
	struct region r = { .fd = -1 };
	enum result res = FAIL;
	uint64_t before, after;
	bool pinned = false;
	struct monitor m;
	pid_t child = -1;
	int uffd = -1;

	*why = setup_mem(&r, c->kind, !c->pagecache);
	if (*why) {
		res = SKIP;
		goto out;
	}
	/* An anon page is shared with a live child when pinned. */
	if (!c->pagecache) {
		fflush(stdout);
		child = fork();
		if (child < 0) {
			ksft_print_msg("fork() failed: %s\n", strerror(errno));
			goto out;
		}
		if (!child) {
			/* Hold the page shared until killed. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(CASE_TIMEOUT);
			pause();
			_exit(0);
		}
		if (page_is_exclusive(r.mem)) {
			ksft_print_msg("the page is not shared with the child after fork()\n");
			goto out;
		}
	}
	uffd = uffd_protect(&r, mt, false, why);
	if (uffd < 0) {
		res = *why ? SKIP : FAIL;
		goto out;
	}
	before = pagemap_entry(r.mem);
	if (pin_start(r.mem, pagesize, 0))
		goto out;
	pinned = true;
	after = pagemap_entry(r.mem);
	ksft_print_msg("%s: the R/O pin %s the page\n", mt->desc,
		       (before & PM_PFN_MASK) != (after & PM_PFN_MASK) ? "replaced (unshared)" :
		       "kept");
	if (!monitor_start(&m, uffd, false, &r)) {
		ksft_print_msg("cannot start the monitor thread\n");
		goto out;
	}
	*(volatile char *)r.mem = VAL_PARENT;
	monitor_stop(&m);

	res = PASS;
	if (!(after & PM_UFFD_WP)) {
		ksft_print_msg("the page lost its uffd-wp bit in the R/O pin (pagemap %#llx)\n",
			       (unsigned long long)after);
		res = FAIL;
	}
	if (m.wp_faults != 1) {
		ksft_print_msg("the write raised %d uffd-wp faults, expected 1\n", m.wp_faults);
		res = FAIL;
	}
	/*
	 * An anon page shared with a child: every 6.1 kernel must unshare
	 * it for a R/O pin, so where PFNs are known (root) the pin replaced
	 * it. Pagecache pages may be kept, depending on the kernel.
	 */
	if (!c->pagecache && (before & PM_PFN_MASK) &&
	    (before & PM_PFN_MASK) == (after & PM_PFN_MASK)) {
		ksft_print_msg("the R/O pin kept the page shared with the child (PFN %#llx): it did not unshare\n",
			       (unsigned long long)(before & PM_PFN_MASK));
		res = FAIL;
	}
	if (m.other_msgs || m.errors)
		res = FAIL;
	if (r.mem[0] != VAL_PARENT) {
		ksft_print_msg("the write did not land: %#x\n", r.mem[0]);
		res = FAIL;
	}
out:
	if (pinned)
		pin_stop();
	kill_child(child);
	if (uffd >= 0)
		close(uffd);
	region_free(&r);
	return res;
}

/* What the fork() child saw, in memory shared with the parent. */
struct child_report {
	bool have_pagemap, wrote;
	uint64_t pagemap;
};

static void fork_child(struct region *r, struct child_report *rep)
{
	alarm(CHILD_WRITE_TIMEOUT);
	rep->pagemap = pagemap_entry(r->mem);
	rep->have_pagemap = true;
	*(volatile char *)r->mem = VAL_CHILD;
	rep->wrote = *(volatile char *)r->mem == VAL_CHILD;
	_exit(0);
}

/*
 * Populate, write-protect, pin, fork(): the child is uffd-wp protected
 * exactly when its VMA keeps uffd-wp (EVENT_FORK).
 */
static enum result fork_case(const struct tcase *c, const char **why)
{
	const struct mem_type *mt = &mem_types[c->kind];
	struct child_report *rep = MAP_FAILED;
	struct region r = { .fd = -1 };
	enum result res = FAIL;
	bool pinned = false, child_wp;
	struct monitor m;
	int uffd = -1, status;
	uint64_t ent;
	char want;
	pid_t pid;

	*why = setup_mem(&r, c->kind, true);
	if (*why) {
		res = SKIP;
		goto out;
	}
	/* A R/W pin of a write-protected page would raise a uffd-wp fault. */
	if (c->pin == PIN_RW) {
		if (pin_start(r.mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
			goto out;
		pinned = true;
	}
	uffd = uffd_protect(&r, mt, c->ef, why);
	if (uffd < 0) {
		res = *why ? SKIP : FAIL;
		goto out;
	}
	if (c->pin == PIN_RO) {
		if (pin_start(r.mem, pagesize, 0))
			goto out;
		pinned = true;
	}
	if (c->kind == ANON_THP && !page_has_kflag(r.mem, KPF_THP)) {
		*why = "the THP was split before fork()";
		res = SKIP;
		goto out;
	}
	rep = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED) {
		ksft_print_msg("mmap() of the child's report failed: %s\n", strerror(errno));
		goto out;
	}
	memset(rep, 0, sizeof(*rep));
	if (!monitor_start(&m, uffd, c->ef, &r)) {
		ksft_print_msg("cannot start the monitor thread\n");
		goto out;
	}
	fflush(stdout);
	/* With EVENT_FORK, fork() returns once the monitor read the event. */
	pid = fork();
	if (!pid)
		fork_child(&r, rep);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		monitor_stop(&m);
		goto out;
	}
	/* The child's write has a deadline (SIGALRM). */
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	monitor_stop(&m);

	res = PASS;
	if (c->ef && !m.got_fork) {
		ksft_print_msg("no UFFD_EVENT_FORK message\n");
		res = FAIL;
	}
	child_wp = rep->pagemap & PM_UFFD_WP;
	if (!rep->have_pagemap) {
		ksft_print_msg("the child did not read its pagemap (status %#x)\n", status);
		res = FAIL;
	} else if (child_wp != c->ef) {
		ksft_print_msg("the child's page %s uffd-wp (pagemap %#llx), its VMA %s\n",
			       child_wp ? "is" : "is not", (unsigned long long)rep->pagemap,
			       c->ef ? "keeps uffd-wp (EVENT_FORK)" : "has no uffd-wp");
		res = FAIL;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		ksft_print_msg("the child's write did not complete within %d s\n",
			       CHILD_WRITE_TIMEOUT);
		res = FAIL;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) || !rep->wrote) {
		ksft_print_msg("the child's write failed (status %#x)\n", status);
		res = FAIL;
	}
	/*
	 * Without EVENT_FORK the monitor reads only the parent's uffd, so the
	 * child's write cannot count here: this check holds by construction.
	 * The real checks of that case are the child's write deadline (a
	 * write looping on a stale uffd-wp bit) and its pagemap (above).
	 */
	if (m.wp_faults != (c->ef ? 1 : 0)) {
		ksft_print_msg("the child's write raised %d uffd-wp faults, expected %d\n",
			       m.wp_faults, c->ef ? 1 : 0);
		res = FAIL;
	}
	if (m.other_msgs || m.errors)
		res = FAIL;
	ent = pagemap_entry(r.mem);
	if (!(ent & PM_UFFD_WP)) {
		ksft_print_msg("the parent's page lost uffd-wp in fork() (pagemap %#llx)\n",
			       (unsigned long long)ent);
		res = FAIL;
	}
	want = mt->shared && rep->wrote ? VAL_CHILD : VAL_INIT;
	if (r.mem[0] != want) {
		ksft_print_msg("the parent sees %#x, expected %#x\n", r.mem[0], want);
		res = FAIL;
	}
out:
	if (pinned)
		pin_stop();
	if (rep != MAP_FAILED)
		munmap(rep, pagesize);
	if (uffd >= 0)
		close(uffd);
	region_free(&r);
	return res;
}

/*
 * What the fork() child of an mprotect(PROT_READ) case saw, in memory
 * shared with the parent.
 */
struct ro_report {
	bool ran, read_ok, faulted, wrote, kept;
	char after;		/* the first byte after the write */
	int code;		/* the SIGSEGV's si_code and si_addr */
	uintptr_t addr;
	uint64_t pagemap;
};

static struct ro_report *ro_rep;
static sigjmp_buf ro_jmp;

static void ro_segv(int sig, siginfo_t *si, void *ctx)
{
	ro_rep->faulted = true;
	ro_rep->code = si->si_code;
	ro_rep->addr = (uintptr_t)si->si_addr;
	siglongjmp(ro_jmp, 1);
}

/* Read, try to write (catching the SIGSEGV), read again. */
static void fork_ro_child(struct region *r, struct ro_report *rep)
{
	struct sigaction sa = { .sa_sigaction = ro_segv, .sa_flags = SA_SIGINFO };

	alarm(CHILD_WRITE_TIMEOUT);
	ro_rep = rep;
	rep->pagemap = pagemap_entry(r->mem);
	rep->read_ok = all_bytes(r->mem, r->size, VAL_PARENT);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL))
		_exit(1);
	if (!sigsetjmp(ro_jmp, 1)) {
		*(volatile char *)r->mem = VAL_CHILD;
		rep->wrote = true;
	}
	rep->after = *(volatile char *)r->mem;
	rep->kept = all_bytes(r->mem, r->size, VAL_PARENT);
	rep->ran = true;
	_exit(0);
}

/*
 * Populate, optionally R/W long-term pin, mprotect(PROT_READ), fork(): the
 * child's page - an early-COW copy where pinned, else the shared page -
 * holds the parent's data and the child's write to it faults (SIGSEGV,
 * SEGV_ACCERR). The parent and its pinned page keep their data.
 */
static enum result fork_ro_case(const struct tcase *c, const char **why)
{
	const struct mem_type *mt = &mem_types[c->kind];
	struct ro_report *rep = MAP_FAILED;
	struct region r = { .fd = -1 };
	uint64_t parent_pfn, after_pfn, child_pfn;
	enum result res = FAIL;
	bool pinned = false, copied;
	int status;
	pid_t pid;

	*why = setup_mem(&r, c->kind, true);
	if (*why) {
		res = SKIP;
		goto out;
	}
	/* The parent's data; for a memfd, not what its pagecache holds. */
	memset(r.mem, VAL_PARENT, r.size);
	if (c->pin == PIN_RW) {
		if (pin_start(r.mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
			goto out;
		pinned = true;
	}
	if (mprotect(r.mem, r.size, PROT_READ)) {
		ksft_print_msg("mprotect(PROT_READ) failed: %s\n", strerror(errno));
		goto out;
	}
	if (c->kind == ANON_THP && (!page_has_kflag(r.mem, KPF_THP) ||
				    smaps_kb(r.mem, "AnonHugePages") < (long)(thpsize >> 10))) {
		*why = "the THP is not PMD-mapped before fork()";
		res = SKIP;
		goto out;
	}
	parent_pfn = pagemap_entry(r.mem) & PM_PFN_MASK;
	rep = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED) {
		ksft_print_msg("mmap() of the child's report failed: %s\n", strerror(errno));
		goto out;
	}
	memset(rep, 0, sizeof(*rep));
	fflush(stdout);
	pid = fork();
	if (!pid)
		fork_ro_child(&r, rep);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	/* The child has a deadline (SIGALRM). */
	if (waitpid(pid, &status, 0) != pid)
		status = -1;

	res = PASS;
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !rep->ran) {
		ksft_print_msg("the child did not complete (status %#x%s)\n", status,
			       WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ?
			       ", deadline" : "");
		res = FAIL;
	}
	/* Where PFNs are known (root): early COW exactly where pinned. */
	child_pfn = rep->pagemap & PM_PFN_MASK;
	if (rep->ran && parent_pfn && child_pfn) {
		copied = child_pfn != parent_pfn;
		ksft_print_msg("%s: the child %s\n", mt->desc,
			       copied ? "got its own copy (early COW)" : "shares the parent's page");
		if (copied != (c->pin != PIN_NONE)) {
			ksft_print_msg("expected %s\n", c->pin != PIN_NONE ?
				       "an early-COW copy of the pinned page" :
				       "the page shared with the parent");
			res = FAIL;
		}
	}
	if (rep->ran && !rep->read_ok) {
		ksft_print_msg("the child does not read the parent's data\n");
		res = FAIL;
	}
	if (rep->wrote) {
		ksft_print_msg("the child's write to its PROT_READ mapping succeeded\n");
		res = FAIL;
	} else if (rep->ran && (!rep->faulted || rep->code != SEGV_ACCERR ||
				rep->addr != (uintptr_t)r.mem)) {
		ksft_print_msg("the child's write raised SIGSEGV code %d at %#lx, expected SEGV_ACCERR at %p\n",
			       rep->code, (unsigned long)rep->addr, r.mem);
		res = FAIL;
	}
	if (rep->ran && !rep->kept) {
		ksft_print_msg("the child's page no longer reads the parent's data after its write (%#x)\n",
			       rep->after);
		res = FAIL;
	}
	if (!all_bytes(r.mem, r.size, VAL_PARENT)) {
		ksft_print_msg("the parent's page changed: %#x\n", r.mem[0]);
		res = FAIL;
	}
	after_pfn = pagemap_entry(r.mem) & PM_PFN_MASK;
	if (parent_pfn && after_pfn != parent_pfn) {
		ksft_print_msg("the parent's page was replaced in fork()\n");
		res = FAIL;
	}
	if (pinned && !pin_holds(pagesize, VAL_PARENT)) {
		ksft_print_msg("the pinned page does not hold the parent's data\n");
		res = FAIL;
	}
out:
	if (pinned)
		pin_stop();
	if (rep != MAP_FAILED)
		munmap(rep, pagesize);
	region_free(&r);
	return res;
}

/* ---- running ---- */

static struct tcase cases[64];
static unsigned int nr_cases;

static void add_unshare(enum mem_kind kind, bool pagecache)
{
	struct tcase *c = &cases[nr_cases++];

	c->fn = unshare_case;
	c->kind = kind;
	c->pagecache = pagecache;
	snprintf(c->desc, sizeof(c->desc),
		 "unshare, %s (%s): a write after a R/O long-term pin raises the uffd-wp fault",
		 mem_types[kind].desc, pagecache ? "pagecache page" : "shared with a child");
}

static void add_fork(enum mem_kind kind, bool ef, enum pin_mode pin)
{
	struct tcase *c = &cases[nr_cases++];

	c->fn = fork_case;
	c->kind = kind;
	c->ef = ef;
	c->pin = pin;
	snprintf(c->desc, sizeof(c->desc), "fork, %s, EVENT_FORK %s, %s: %s",
		 mem_types[kind].desc, ef ? "on" : "off", pin_descs[pin],
		 ef ? "the child's page is uffd-wp and its write traps" :
		      "the child's page is not uffd-wp and its write completes");
}

static void add_fork_ro(enum mem_kind kind, enum pin_mode pin)
{
	struct tcase *c = &cases[nr_cases++];

	c->fn = fork_ro_case;
	c->kind = kind;
	c->pin = pin;
	snprintf(c->desc, sizeof(c->desc),
		 "fork, %s, %s, mprotect(PROT_READ): the child's write faults",
		 mem_types[kind].desc, pin_descs[pin]);
}

static void build_cases(void)
{
	static const enum mem_kind fork_kinds[] = {
		HUGETLB_ANON, HUGETLB_MEMFD, ANON_BASE, ANON_THP, SHMEM_SHARED, SHMEM_PRIVATE,
	};
	unsigned int k, e, p;

	add_unshare(HUGETLB_MEMFD, true);
	add_unshare(HUGETLB_ANON, false);
	add_unshare(ANON_BASE, false);
	add_unshare(ANON_THP, false);
	add_unshare(SHMEM_PRIVATE, true);
	for (k = 0; k < ARRAY_SIZE(fork_kinds); k++)
		for (e = 0; e < 2; e++)
			for (p = PIN_NONE; p <= PIN_RW; p++)
				add_fork(fork_kinds[k], e, p);
	add_fork_ro(HUGETLB_ANON, PIN_RW);
	add_fork_ro(HUGETLB_MEMFD, PIN_RW);
	add_fork_ro(ANON_BASE, PIN_RW);
	add_fork_ro(ANON_THP, PIN_RW);
	add_fork_ro(HUGETLB_ANON, PIN_NONE);
	add_fork_ro(HUGETLB_MEMFD, PIN_NONE);
}

/* Why @c cannot run at all here, or NULL. */
static const char *case_unsupported(const struct tcase *c)
{
	const char *why = NULL;

	/* The mprotect(PROT_READ) cases use no uffd. */
	if (c->fn != fork_ro_case)
		why = uffd_unsupported(&mem_types[c->kind], c->ef);
	if (why)
		return why;
	if ((c->fn == unshare_case || c->pin != PIN_NONE) && gup_missing)
		return gup_missing;
	return NULL;
}

/* Shared with the case processes: the last one's verdict. */
static struct verdict *verdict;

/* One case in its own process, with a deadline. */
static void run_case(const struct tcase *c)
{
	const char *why = case_unsupported(c);
	enum result res = FAIL;
	char splat[256];
	int status, kfd;
	pid_t pid;

	if (why) {
		report_result(SKIP, why, "%s", c->desc);
		return;
	}
	*verdict = (struct verdict){ .res = FAIL };
	kfd = kmsg_mark_case(c->desc);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (kfd >= 0)
			close(kfd);
		alarm(CASE_TIMEOUT);
		why = NULL;
		verdict->res = c->fn(c, &why);
		snprintf(verdict->why, sizeof(verdict->why), "%s", why ? why : "");
		fflush(stdout);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("cannot run the case: %s\n", strerror(errno));
		status = -1;
	}
	/* The pins are system-wide: never leave any behind. */
	if (!gup_missing)
		pin_stop();
	if (status != -1 && WIFEXITED(status) && !WEXITSTATUS(status))
		res = verdict->res;
	else if (status != -1 && WIFSIGNALED(status))
		ksft_print_msg("the case process died of signal %d%s\n", WTERMSIG(status),
			       WTERMSIG(status) == SIGALRM ? " (deadline)" : "");
	else if (status != -1)
		ksft_print_msg("the case process exited with %d\n", WEXITSTATUS(status));
	/* A splat fails the case, whatever else it found. */
	if (kmsg_splat_since(kfd, splat, sizeof(splat))) {
		ksft_print_msg("kernel splat during the case: %s\n", splat);
		res = FAIL;
	}
	if (kfd >= 0)
		close(kfd);
	report_result(res, verdict->why[0] ? verdict->why : NULL, "%s", c->desc);
}

int main(void)
{
	unsigned int i;

	mem_init();
	build_cases();
	ksft_print_header();
	ksft_set_plan(nr_cases);
	if (pin_open(&gup_missing))
		ksft_print_msg("gup_test pins unavailable: %s\n", gup_missing);
	uffd_probe();
	if (uffd_missing)
		ksft_print_msg("uffd-wp unavailable: %s\n", uffd_missing);
	if (kmsg_unreadable())
		ksft_print_msg("no check for kernel splats: %s\n", kmsg_unreadable());
	verdict = mmap(NULL, sizeof(*verdict), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (verdict == MAP_FAILED)
		ksft_exit_fail_msg("mmap() failed: %s\n", strerror(errno));

	for (i = 0; i < nr_cases; i++)
		run_case(&cases[i]);
	finish(false);
}
