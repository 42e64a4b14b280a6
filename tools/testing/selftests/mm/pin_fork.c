// SPDX-License-Identifier: GPL-2.0
/*
 * pin_fork - a pinned page stays the parent's page across fork().
 *
 * A device (RDMA, vfio, io_uring fixed buffers) that holds a long-term pin
 * on a process's memory keeps using the pinned pages, not whatever the
 * process's page tables point to later. fork() write-protects private
 * memory for COW; if a later write fault gave the parent a new page, the
 * device and the parent would silently disagree from then on. Since v5.9
 * (mainline 70e806e4e645 "mm: Do early cow for pinned pages during fork()
 * for ptes", d042035eaf5f for THP, 4eae4efa2c29 for hugetlb) fork()
 * copies possibly-pinned anonymous pages for the child up front, and since
 * v5.19 GUP unshares possibly-shared anonymous pages before a R/O pin.
 *
 * The matrix: every memory backend (mem_util.c) x every pin kind x who
 * writes after fork(). After fork(), whatever the case:
 *  - the parent sees its own writes and the device's writes, the child
 *    sees neither;
 *  - the device (read back through the pin) sees the parent's data;
 *  - the child's writes reach neither the parent nor the device.
 * Without a pin the same cases check plain COW semantics. A MAP_SHARED
 * backend (shmem THP) has no COW: fork() shares its pages and copies
 * nothing, so parent, child and device all see every write - the child's
 * too - and the pin keeps following the parent's page.
 *
 * Each case runs in a process of its own under alarm(CASE_TIMEOUT): a
 * pin that never completes (a GUP retry loop that makes no progress)
 * fails its case instead of hanging the whole matrix.
 *
 * Pins come from gup_test's PIN_LONGTERM_TEST_* ioctls (pin_util.c) or
 * from io_uring fixed buffers (FOLL_PIN | FOLL_LONGTERM), whose device
 * side is a fixed-buffer read or write of a file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "mem_util.h"
#include "pin_util.h"

static const char *gup_missing;		/* why gup_test pins are unavailable */

/*
 * Seconds a case may take, setup and cleanup included: QEMU/TCG runs one
 * in well under a second.
 */
#define CASE_TIMEOUT	20

/*
 * In a case process: its pipes to the main process, which take its
 * verdict to it (to_parent) and the go-ahead back (to_child).
 */
static struct comm_pipes *verdict_pipes;

/*
 * A child of a case process dies with it, and does not keep the main
 * process waiting for a verdict that never comes.
 */
static void case_child(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	comm_pipes_close(verdict_pipes);
}

/* ---- pin kinds ---- */

/* What must hold before the pin is taken. */
enum prep {
	PREP_NONE,
	/* The anon page is shared with a live child when pinned: GUP unshares. */
	PREP_SHARED,
	/* ... was shared with a child that has exited: maybe not exclusive. */
	PREP_PREV_SHARED,
};

struct pin;

struct pin_kind {
	const char *desc;
	enum prep prep;
	unsigned int flags;		/* PIN_LONGTERM_TEST_FLAG_* */
	bool anon_only;
	bool io_uring;
	bool none;
};

static const struct pin_kind pin_kinds[] = {
	{ .desc = "no pin (plain COW)", .none = true },
	{ .desc = "R/W long-term pin", .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE },
	{ .desc = "R/W GUP-fast long-term pin",
	  .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST },
	{ .desc = "R/O long-term pin" },
	{ .desc = "R/O GUP-fast long-term pin", .flags = PIN_LONGTERM_TEST_FLAG_USE_FAST },
	{ .desc = "R/O long-term pin of a shared page", .prep = PREP_SHARED, .anon_only = true },
	{ .desc = "R/O long-term pin of a previously shared page", .prep = PREP_PREV_SHARED,
	  .anon_only = true },
	{ .desc = "io_uring fixed buffer (R/W)", .io_uring = true },
};

/* A pin in place: gup_test's or an io_uring registered buffer. */
struct pin {
	const struct pin_kind *kind;
	struct region *r;
#ifdef HAVE_LIBURING
	struct io_uring ring;
	int devfd;			/* the "device": a file for fixed I/O */
#endif
	bool held;
};

#ifdef HAVE_LIBURING
static int uring_fixed(struct pin *p, bool device_writes, off_t off)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&p->ring);
	int ret;

	if (device_writes)
		io_uring_prep_read_fixed(sqe, p->devfd, p->r->mem, p->r->size, off, 0);
	else
		io_uring_prep_write_fixed(sqe, p->devfd, p->r->mem, p->r->size, off, 0);
	ret = io_uring_submit(&p->ring);
	if (ret != 1)
		return -1;
	ret = io_uring_wait_cqe(&p->ring, &cqe);
	if (ret)
		return -1;
	ret = cqe->res;
	io_uring_cqe_seen(&p->ring, cqe);
	return ret == (int)p->r->size ? 0 : -1;
}
#endif

/* Returns NULL, or why this pin cannot be taken here (skip), or "" (failure, said). */
static const char *pin_take(struct pin *p)
{
	if (p->kind->none)
		return NULL;
	if (p->kind->io_uring) {
#ifdef HAVE_LIBURING
		struct iovec iov = { p->r->mem, p->r->size };
		int ret;

		p->devfd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (p->devfd < 0 || ftruncate(p->devfd, 2 * p->r->size))
			return "cannot create the io_uring target file in /tmp";
		if (io_uring_queue_init(4, &p->ring, 0)) {
			close(p->devfd);
			return "io_uring_queue_init() failed (need CONFIG_IO_URING)";
		}
		ret = io_uring_register_buffers(&p->ring, &iov, 1);
		if (ret) {
			io_uring_queue_exit(&p->ring);
			close(p->devfd);
			if (ret == -EOPNOTSUPP)
				return "io_uring refuses fixed buffers in this mapping on this kernel";
			/* -EFAULT included: the pin of a mapping it accepts failed. */
			ksft_print_msg("io_uring_register_buffers() failed: %s\n", strerror(-ret));
			return "";	/* not a skip: a failure */
		}
		p->held = true;
		return NULL;
#else
		return "built without liburing (apt-get install liburing-dev)";
#endif
	}
	if (gup_missing)
		return gup_missing;
	if (pin_start(p->r->mem, p->r->size, p->kind->flags))
		return "";	/* not a skip: a failure, said by pin_start() */
	p->held = true;
	return NULL;
}

/* What the device sees through the pin, into buf. */
static int pin_device_read(struct pin *p, char *buf)
{
#ifdef HAVE_LIBURING
	if (p->kind->io_uring) {
		if (uring_fixed(p, false, 0))
			return -1;
		return pread(p->devfd, buf, p->r->size, 0) == (ssize_t)p->r->size ? 0 : -1;
	}
#endif
	return pin_read(buf);
}

/* The device writes val through the pin (io_uring only). */
static int pin_device_write(struct pin *p, char val)
{
#ifdef HAVE_LIBURING
	char *buf = malloc(p->r->size);
	int ret = -1;

	if (!buf)
		return -1;
	memset(buf, val, p->r->size);
	if (pwrite(p->devfd, buf, p->r->size, p->r->size) == (ssize_t)p->r->size)
		ret = uring_fixed(p, true, p->r->size);
	free(buf);
	return ret;
#else
	return -1;
#endif
}

static void pin_drop(struct pin *p)
{
	if (!p->held)
		return;
	p->held = false;
#ifdef HAVE_LIBURING
	if (p->kind->io_uring) {
		io_uring_unregister_buffers(&p->ring);
		io_uring_queue_exit(&p->ring);
		close(p->devfd);
		return;
	}
#endif
	pin_stop();
}

/* ---- events after fork() ---- */

enum event { PARENT_WRITES, CHILD_WRITES, DEVICE_WRITES };

static const struct {
	const char *desc;
	enum event event;
} events[] = {
	/* The parent's write must land in the page the device uses. */
	{ "parent writes after fork()", PARENT_WRITES },
	/* The child's write must reach neither the parent nor the device. */
	{ "child writes after fork()", CHILD_WRITES },
	/* A device write must land in the parent's page, not the child's. */
	{ "device writes after fork()", DEVICE_WRITES },
};

static bool case_applies(unsigned int b, unsigned int k, unsigned int e)
{
	if (pin_kinds[k].anon_only && !backends[b].anon)
		return false;
	if (events[e].event == DEVICE_WRITES)
		return pin_kinds[k].io_uring;
	return true;
}

/* A child that keeps the pages shared until killed, or exits at once. */
static pid_t prep_child(struct region *r, enum prep prep)
{
	pid_t pid = fork();

	if (!pid) {
		case_child();
		if (prep == PREP_SHARED)
			pause();
		_exit(0);
	}
	if (pid > 0 && prep == PREP_PREV_SHARED) {
		waitpid(pid, NULL, 0);
		pid = 0;
	}
	return pid;
}

static void report(enum result res, const struct backend *b,
		   const struct pin_kind *k, unsigned int e, const char *why)
{
	report_result(res, why, "%s, %s: %s", k->desc, b->desc, events[e].desc);
}

/*
 * Reported before the cleanup, so that a kernel that crashes on unpinning
 * still shows which case found the problem: the main process prints the
 * result, then lets the case process go on.
 */
static void send_verdict(enum result res, const char *why)
{
	struct verdict v = { .res = res };

	snprintf(v.why, sizeof(v.why), "%s", why ? why : "");
	if (!comm_send(verdict_pipes->to_parent[1], &v, sizeof(v)) ||
	    !comm_hear(verdict_pipes->to_child[0], -1))
		ksft_print_msg("cannot report to the main process: %s\n", strerror(errno));
}

static void run_case(const struct backend *b, const struct pin_kind *k,
		     unsigned int e)
{
	enum event ev = events[e].event;
	struct region r = { .fd = -1 };
	struct pin p = { .kind = k, .r = &r };
	enum result res = FAIL;
	pid_t helper = 0, pid;
	char expect, child_sees, *buf = NULL;
	struct comm_pipes cp = { { -1, -1 }, { -1, -1 } };
	const char *why = NULL;
	int status;

	why = b->setup(&r);
	if (why) {
		res = SKIP;
		goto out;
	}
	buf = malloc(r.size);
	if (!buf) {
		ksft_print_msg("malloc() failed\n");
		goto out;
	}
	if (!comm_pipes_setup(&cp))
		goto out;
	if (k->prep != PREP_NONE) {
		helper = prep_child(&r, k->prep);
		if (helper < 0) {
			ksft_print_msg("fork() failed: %s\n", strerror(errno));
			goto out;
		}
	}
	why = pin_take(&p);
	if (why) {
		res = *why ? SKIP : FAIL;
		goto out;
	}

	/* What the parent and the pin end with, and what the child sees. */
	switch (ev) {
	case PARENT_WRITES:
		expect = 0x22;
		break;
	case DEVICE_WRITES:
		expect = 0x55;
		break;
	default:
		expect = b->shared ? 0x33 : r.init;
		break;
	}
	child_sees = b->shared ? expect : r.init;

	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	if (!pid) {
		case_child();
		comm_pipes_keep(&cp, true);
		if (!comm_hear(cp.to_child[0], -1))
			_exit(2);
		if (ev == CHILD_WRITES) {
			memset(r.mem, 0x33, r.size);
			_exit(0);
		}
		/*
		 * Neither the parent's nor the device's write may show here;
		 * in a shared mapping both must.
		 */
		_exit(expect_bytes("the child's memory", r.mem, r.size, child_sees) ? 0 : 1);
	}
	comm_pipes_keep(&cp, false);

	if (ev == PARENT_WRITES) {
		memset(r.mem, expect, r.size);
	} else if (ev == DEVICE_WRITES) {
		if (pin_device_write(&p, expect)) {
			ksft_print_msg("the device write (io_uring READ_FIXED) failed\n");
			kill_child(pid);
			goto out;
		}
	}
	if (!comm_tell(cp.to_child[1], 'g'))
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		ksft_print_msg("the child %s (status %#x)\n",
			       ev == CHILD_WRITES ? "could not write" :
			       b->shared ? "did not see a write to the shared mapping" :
			       "saw a write it must not see", status);
		goto out;
	}
	if (!expect_bytes("the parent's memory", r.mem, r.size, expect))
		goto out;
	if (p.held) {
		if (pin_device_read(&p, buf)) {
			ksft_print_msg("reading through the pin failed: %s\n", strerror(errno));
			goto out;
		}
		if (!expect_bytes("through the pin", buf, r.size, expect)) {
			ksft_print_msg("the pinned page is no longer the parent's\n");
			goto out;
		}
		/* And the pin keeps following the parent's writes. */
		memset(r.mem, 0x44, r.size);
		if (pin_device_read(&p, buf)) {
			ksft_print_msg("reading through the pin failed: %s\n", strerror(errno));
			goto out;
		}
		if (!expect_bytes("through the pin", buf, r.size, 0x44)) {
			ksft_print_msg("a later parent write did not reach the pinned page\n");
			goto out;
		}
	}
	res = PASS;
out:
	send_verdict(res, why);
	pin_drop(&p);
	kill_child(helper);
	comm_pipes_close(&cp);
	free(buf);
	region_free(&r);
}

static bool cleanup_failed;

/*
 * One case in a process of its own, under alarm(): SIGALRM's default
 * action is fatal, so it also ends a GUP loop in the kernel (GUP checks
 * fatal_signal_pending() each round). A case process that dies before its
 * verdict fails the case.
 */
static void run_case_bounded(const struct backend *b, const struct pin_kind *k,
			     unsigned int e)
{
	struct comm_pipes vp;
	struct verdict v;
	int status = 0;
	pid_t pid;

	if (!comm_pipes_setup(&vp)) {
		report(FAIL, b, k, e, NULL);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (!pid) {
		comm_pipes_keep(&vp, true);
		verdict_pipes = &vp;
		alarm(CASE_TIMEOUT);
		run_case(b, k, e);
		_exit(0);
	}
	comm_pipes_keep(&vp, false);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		report(FAIL, b, k, e, NULL);
	} else if (comm_recv(vp.to_parent[0], &v, sizeof(v), -1)) {
		report(v.res, b, k, e, v.why);
		if (!comm_tell(vp.to_child[1], 'a'))
			ksft_print_msg("cannot wake the case process: %s\n", strerror(errno));
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			ksft_print_msg("the cleanup after that case did not finish (status %#x%s)\n",
				       status, WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ?
				       ": timed out" : "");
			cleanup_failed = true;
		}
	} else {
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			ksft_print_msg("the case did not finish within %d s\n", CASE_TIMEOUT);
		else
			ksft_print_msg("the case process died (status %#x)\n", status);
		report(FAIL, b, k, e, NULL);
	}
	comm_pipes_close(&vp);
	/*
	 * gup_test's pins belong to the file, which the dead process shared
	 * with us: drop what it may have left.
	 */
	if (!gup_missing && pid > 0 && !WIFEXITED(status))
		pin_stop();
}

/* ---- the ioctls' error paths: bad addresses fail cleanly, pin nothing ---- */

static bool abi_start_unmapped(void)
{
	char *mem = mmap(NULL, 2 * pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;
	int ret;

	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return false;
	}
	/* The second page is a hole: START must fail and pin nothing. */
	munmap(mem + pagesize, pagesize);
	ret = pin_try_start(mem, 2 * pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE);
	ok = ret && errno == EFAULT;
	if (!ok)
		ksft_print_msg("START over a hole returned %d (%s), expected EFAULT\n",
			       ret, ret ? strerror(errno) : "success");
	/* A second START succeeds only if the first left nothing held. */
	if (ok && pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE)) {
		ksft_print_msg("START after a failed START failed: the failed one left a pin\n");
		ok = false;
	}
	if (pin_stop())
		ok = false;
	munmap(mem, pagesize);
	return ok;
}

static bool abi_read_unmapped(void)
{
	char *mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *hole = mmap(NULL, pagesize, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok = false;
	int ret;

	if (mem == MAP_FAILED || hole == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return false;
	}
	memset(mem, 0x11, pagesize);
	munmap(hole, pagesize);
	if (!pin_start(mem, pagesize, 0)) {
		ret = pin_read(hole);
		ok = ret && errno == EFAULT;
		if (!ok)
			ksft_print_msg("READ into an unmapped buffer returned %d (%s), expected EFAULT\n",
				       ret, ret ? strerror(errno) : "success");
	}
	if (pin_stop())
		ok = false;
	munmap(mem, pagesize);
	return ok;
}

/*
 * A size that passes the range checks but needs a page array over
 * kvmalloc()'s INT_MAX bytes (1 TiB of 4 KiB pages): START must refuse
 * it with EINVAL, without the allocator's warning (a splat from
 * userspace) and without pinning anything. Nothing is mapped there:
 * the size check comes before any pinning.
 */
static bool abi_start_huge_size(void)
{
	const size_t size = 1ULL << 40;
	char line[512];
	bool ok;
	int ret, fd;
	void *mem;

	mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return false;
	}
	fd = kmsg_mark_case("pin_fork: PIN_LONGTERM_TEST_START of 1 TiB");
	ret = pin_try_start(mem, size, 0);
	ok = ret && errno == EINVAL;
	if (!ok)
		ksft_print_msg("START of 1 TiB returned %d (%s), expected EINVAL\n",
			       ret, ret ? strerror(errno) : "success");
	if (fd >= 0) {
		if (kmsg_splat_since(fd, line, sizeof(line))) {
			ksft_print_msg("kernel splat during START of 1 TiB: %s\n", line);
			ok = false;
		}
		close(fd);
	}
	/* A second START succeeds only if the first left nothing held. */
	if (ok && pin_start(mem, pagesize, 0)) {
		ksft_print_msg("START after the refused one failed: it left a pin\n");
		ok = false;
	}
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
	{ "PIN_LONGTERM_TEST_START of 1 TiB fails with EINVAL, no kernel warning, pins nothing",
	  abi_start_huge_size },
};

int main(void)
{
	unsigned int b, k, e, plan = ARRAY_SIZE(abi_cases);

	mem_init();
	for (b = 0; b < nr_backends; b++)
		for (k = 0; k < ARRAY_SIZE(pin_kinds); k++)
			for (e = 0; e < ARRAY_SIZE(events); e++)
				plan += case_applies(b, k, e);
	ksft_print_header();
	ksft_set_plan(plan);
	if (pin_open(&gup_missing))
		ksft_print_msg("gup_test pins unavailable: %s\n", gup_missing);

	for (b = 0; b < nr_backends; b++) {
		for (k = 0; k < ARRAY_SIZE(pin_kinds); k++) {
			for (e = 0; e < ARRAY_SIZE(events); e++) {
				if (!case_applies(b, k, e))
					continue;
				run_case_bounded(&backends[b], &pin_kinds[k], e);
			}
		}
	}
	for (e = 0; e < ARRAY_SIZE(abi_cases); e++)
		report_result(gup_missing ? SKIP : abi_cases[e].fn() ? PASS : FAIL, gup_missing,
			      "%s", abi_cases[e].desc);

	if (cleanup_failed)
		ksft_print_msg("a case process did not clean up (see above): failing\n");
	finish(cleanup_failed);
}
