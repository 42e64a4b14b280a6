// SPDX-License-Identifier: GPL-2.0
/*
 * pin_fork_events - what happens around fork() to pinned memory.
 *
 * pin_fork checks the page contents for every memory backend and pin
 * kind; this program checks the events and the bookkeeping around it:
 * MADV_DONTFORK / MADV_WIPEONFORK, clone3(CLONE_INTO_CGROUP), GUP-fast
 * racing fork() (mm->write_protect_seq), early COW that cannot be charged
 * or allocated (fork() must fail cleanly, mainline 70e806e4e645 made it
 * fail rather than share the page), the sticky has-pinned flag
 * (MMF_HAS_PINNED, mainline a458b76a4183) and that pins are released
 * exactly once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>

#include "mem_util.h"
#include "pin_util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define CGROOT "/sys/fs/cgroup"


/* ---- small helpers ---- */

/*
 * Pins held in the whole system, by /proc/vmstat's counters; -1 if there
 * are none. Per-CPU deltas are folded first (vm.stat_refresh), or small
 * changes would not show.
 */
static long pins_held(void)
{
	long acq, rel;
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			ksft_print_msg("vm.stat_refresh failed: %s\n", strerror(errno));
		close(fd);
	}
	if (!read_key("/proc/vmstat", "nr_foll_pin_acquired", &acq) ||
	    !read_key("/proc/vmstat", "nr_foll_pin_released", &rel))
		return -1;
	return acq - rel;
}

/* A number from a file (/proc/sys, cgroup), -1 if it cannot be read. */
static long read_long(const char *path)
{
	long val;

	return read_key(path, NULL, &val) ? val : -1;
}

/* A page of private anonymous memory filled with val; says why if not. */
static char *anon_page(char val)
{
	char *mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap() of a page failed: %s\n", strerror(errno));
		return NULL;
	}
	madvise(mem, pagesize, MADV_NOHUGEPAGE);
	memset(mem, val, pagesize);
	return mem;
}

/* The pin sees val, and keeps following the parent's writes. */
static bool pin_follows(char *mem, size_t size, char val)
{
	if (!pin_holds(size, val)) {
		ksft_print_msg("the pin does not see the parent's data\n");
		return false;
	}
	memset(mem, 0x44, size);
	if (!pin_holds(size, 0x44)) {
		ksft_print_msg("the pin does not follow the parent's later write\n");
		return false;
	}
	return true;
}

/* The child's wait status, or -1 (said why) if it cannot be had. */
static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("waitpid(%d) failed: %s\n", pid, strerror(errno));
		return -1;
	}
	return status;
}

/* fork() failed: says so. */
static bool fork_failed(pid_t pid)
{
	if (pid < 0)
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
	return pid < 0;
}

/* ---- the cases ---- */

/* MADV_DONTFORK: the child has no mapping there; parent and pin unchanged. */
static enum result dontfork(const char **why)
{
	char *mem = anon_page(0x11);
	enum result res = FAIL;
	int status;
	pid_t pid;

	if (!mem || pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	if (madvise(mem, pagesize, MADV_DONTFORK)) {
		ksft_print_msg("madvise(MADV_DONTFORK) failed: %s\n", strerror(errno));
		goto out_unpin;
	}
	pid = fork();
	if (!pid) {
		/* Must fault: the range is not inherited. */
		(void)*(volatile char *)mem;
		_exit(0);
	}
	if (fork_failed(pid))
		goto out_unpin;
	status = wait_child(pid);
	if (status == -1)
		goto out_unpin;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		ksft_print_msg("the child could access a MADV_DONTFORK range (status %#x), expected SIGSEGV\n",
			       status);
		goto out_unpin;
	}
	memset(mem, 0x22, pagesize);
	if (pin_follows(mem, pagesize, 0x22))
		res = PASS;
out_unpin:
	pin_stop();
out:
	if (mem)
		munmap(mem, pagesize);
	return res;
}

/* MADV_WIPEONFORK: the child sees zeroes; parent and pin keep their data. */
static enum result wipeonfork(const char **why)
{
	char *mem = anon_page(0x11);
	enum result res = FAIL;
	int status;
	pid_t pid;

	if (!mem || pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	if (madvise(mem, pagesize, MADV_WIPEONFORK)) {
		*why = "MADV_WIPEONFORK not supported";
		res = SKIP;
		goto out_unpin;
	}
	pid = fork();
	if (!pid)
		_exit(expect_bytes("the child's MADV_WIPEONFORK page", mem, pagesize, 0) ? 0 : 1);
	if (fork_failed(pid))
		goto out_unpin;
	status = wait_child(pid);
	if (status == -1)
		goto out_unpin;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child did not see a wiped page (status %#x)\n", status);
		goto out_unpin;
	}
	if (!expect_bytes("the parent's page after fork()", mem, pagesize, 0x11))
		goto out_unpin;
	memset(mem, 0x22, pagesize);
	if (pin_follows(mem, pagesize, 0x22))
		res = PASS;
out_unpin:
	pin_stop();
out:
	if (mem)
		munmap(mem, pagesize);
	return res;
}

/* clone3(CLONE_INTO_CGROUP): same guarantees as fork(). */
static enum result clone3_cgroup(const char **why)
{
	const char *cg = CGROOT "/forkpin-clone3";
	struct clone_args args = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	char *mem = anon_page(0x11);
	struct comm_pipes p;
	enum result res = FAIL;
	int cgfd, status;
	pid_t pid;

	if (!mem)
		return FAIL;
	if (!comm_pipes_setup(&p)) {
		munmap(mem, pagesize);
		return FAIL;
	}
	if (mkdir(cg, 0755) && errno != EEXIST) {
		*why = "need cgroup2 mounted at " CGROOT;
		comm_pipes_close(&p);
		munmap(mem, pagesize);
		return SKIP;
	}
	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	args.cgroup = cgfd;
	if (cgfd < 0) {
		ksft_print_msg("cannot open the cgroup %s: %s\n", cg, strerror(errno));
		goto out;
	}
	if (pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid < 0) {
		*why = errno == ENOSYS ? "clone3() not supported" : "clone3(CLONE_INTO_CGROUP) failed";
		res = SKIP;
		goto out_unpin;
	}
	if (!pid) {
		comm_pipes_keep(&p, true);
		if (!comm_hear(p.to_child[0], -1))
			_exit(2);
		_exit(expect_bytes("the child's page", mem, pagesize, 0x11) ? 0 : 1);
	}
	comm_pipes_keep(&p, false);
	memset(mem, 0x22, pagesize);
	if (!comm_tell(p.to_child[1], 'g'))
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
	status = wait_child(pid);
	if (status == -1)
		goto out_unpin;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child %s (status %#x)\n",
			       WIFEXITED(status) && WEXITSTATUS(status) == 1 ?
			       "saw the parent's write" : "failed", status);
		goto out_unpin;
	}
	if (pin_follows(mem, pagesize, 0x22))
		res = PASS;
out_unpin:
	pin_stop();
out:
	comm_pipes_close(&p);
	if (cgfd >= 0)
		close(cgfd);
	rmdir(cg);
	munmap(mem, pagesize);
	return res;
}

/*
 * GUP-fast pins racing fork(): fork() holds mm->write_protect_seq while it
 * write-protects the parent's PTEs, and GUP-fast backs off while it
 * changes, so a pin cannot land between fork()'s "is it pinned?" check
 * and the write-protection. If it could, the parent's next write would
 * move it away from the pinned page.
 */
#define RACE_ROUNDS (200 * scale)

static struct {
	pthread_barrier_t start, pinned, written;
	char *mem;
	char val;
	int pin_errors, fork_errors, pin_errno;
	/* The first pin that saw something else than the parent's write. */
	bool failed;
	char failure[160];
} race;

static void race_pinner_round(char *buf, int i)
{
	size_t off;

	if (race.failed)
		return;
	if (!buf) {
		snprintf(race.failure, sizeof(race.failure), "malloc() failed");
	} else if (pin_read(buf)) {
		snprintf(race.failure, sizeof(race.failure),
			 "round %d: PIN_LONGTERM_TEST_READ failed: %s", i, strerror(errno));
	} else {
		for (off = 0; off < pagesize && buf[off] == race.val; off++)
			;
		if (off == pagesize)
			return;
		snprintf(race.failure, sizeof(race.failure),
			 "round %d: the pin sees %#x at byte %zu, the parent wrote %#x",
			 i, buf[off] & 0xff, off, race.val & 0xff);
	}
	race.failed = true;
}

static void *race_pinner(void *arg)
{
	char *buf = malloc(pagesize);
	int i;

	for (i = 0; i < (int)RACE_ROUNDS; i++) {
		bool pinned;

		pthread_barrier_wait(&race.start);
		/* Failures are counted and reported once, below. */
		pinned = !pin_try_start(race.mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE |
					PIN_LONGTERM_TEST_FLAG_USE_FAST);
		if (!pinned && !race.pin_errors++)
			race.pin_errno = errno;
		pthread_barrier_wait(&race.pinned);
		pthread_barrier_wait(&race.written);
		if (!pinned)
			continue;
		race_pinner_round(buf, i);
		pin_stop();
	}
	free(buf);
	return NULL;
}

static enum result gup_fast_race(const char **why)
{
	struct comm_pipes p;
	pthread_t thread;
	enum result res = FAIL;
	int i;

	race.mem = anon_page(0x11);
	if (!race.mem)
		return FAIL;
	if (!comm_pipes_setup(&p)) {
		munmap(race.mem, pagesize);
		return FAIL;
	}
	pthread_barrier_init(&race.start, NULL, 2);
	pthread_barrier_init(&race.pinned, NULL, 2);
	pthread_barrier_init(&race.written, NULL, 2);
	errno = pthread_create(&thread, NULL, race_pinner, NULL);
	if (errno) {
		ksft_print_msg("pthread_create() failed: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < (int)RACE_ROUNDS; i++) {
		pid_t pid;

		pthread_barrier_wait(&race.start);
		pid = fork();
		if (!pid) {
			/* Keep the pages shared until the parent has written. */
			_exit(comm_hear(p.to_child[0], -1) ? 0 : 1);
		}
		pthread_barrier_wait(&race.pinned);
		race.val = (char)(i + 1);
		memset(race.mem, race.val, pagesize);
		pthread_barrier_wait(&race.written);
		if (pid < 0 || !comm_tell(p.to_child[1], 'g')) {
			if (!race.fork_errors++)
				ksft_print_msg("round %d: %s failed: %s\n", i,
					       pid < 0 ? "fork()" : "waking the child", strerror(errno));
		}
		if (pid > 0)
			wait_child(pid);
	}
	pthread_join(thread, NULL);
	if (race.failed)
		ksft_print_msg("a pin taken while fork() ran ended up on a page the parent no longer uses: %s\n",
			       race.failure);
	else if (race.pin_errors)
		ksft_print_msg("%d of %d GUP-fast pins failed, the first with %s\n",
			       race.pin_errors, (int)RACE_ROUNDS, strerror(race.pin_errno));
	else if (race.fork_errors)
		ksft_print_msg("%d of %d rounds could not fork or wake the child\n",
			       race.fork_errors, (int)RACE_ROUNDS);
	else
		res = PASS;
out:
	comm_pipes_close(&p);
	munmap(race.mem, pagesize);
	return res;
}

/*
 * Early COW that cannot be charged: the child's copies of pinned pages are
 * charged to the parent's memcg; over its limit fork() must fail with
 * ENOMEM, leave the parent's data and pins alone, and give back what it
 * charged. oom_score_adj -1000 and no swap make the outcome ENOMEM, not
 * an OOM kill. The limit is set and lifted from outside the cgroup, so a
 * kernel that does not give the charge back cannot hang the test: the
 * process in the cgroup would loop in memcg OOM on its next COW fault.
 */
#define MEMCG_PIN_SIZE ((8UL << 20) * scale)
#define MEMCG_HEADROOM (MEMCG_PIN_SIZE / 4)

struct memcg_report {
	int fork_ret, fork_errno;
	bool data_ok, pin_ok;
};

/*
 * The process in the cgroup: pins its memory, says it is ready, forks on
 * the parent's word (under the limit the parent set meanwhile), reports
 * the fork() result, and on the next word (the limit lifted) whether its
 * data and pin are intact. Returns its exit code; says why where not 0.
 */
static int memcg_child(const char *cg, struct comm_pipes *p)
{
	struct memcg_report rep = { .fork_ret = 0 };
	char path[128], val[32], *mem;
	pid_t r;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(val, sizeof(val), "%d", getpid());
	if (!write_file(path, val) || !write_file("/proc/self/oom_score_adj", "-1000")) {
		ksft_print_msg("test process: cannot join %s or set oom_score_adj -1000: %s\n",
			       cg, strerror(errno));
		return 10;
	}
	/* Without swap accounting there is no such file: nothing to limit. */
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	write_file(path, "0");
	mem = mmap(NULL, MEMCG_PIN_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		ksft_print_msg("test process: mmap() failed: %s\n", strerror(errno));
		return 11;
	}
	madvise(mem, MEMCG_PIN_SIZE, MADV_NOHUGEPAGE);
	memset(mem, 0x11, MEMCG_PIN_SIZE);
	if (pin_start(mem, MEMCG_PIN_SIZE, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		return 12;
	if (!comm_tell(p->to_parent[1], 'r') || !comm_hear(p->to_child[0], -1)) {
		ksft_print_msg("test process: no word from the parent before fork()\n");
		return 13;
	}
	r = fork();
	if (!r)
		_exit(0);
	rep.fork_ret = r;
	rep.fork_errno = errno;
	/* Nothing that allocates until the limit is lifted. */
	if (!comm_send(p->to_parent[1], &rep, sizeof(rep)) || !comm_hear(p->to_child[0], -1))
		return 15;
	if (r > 0)
		wait_child(r);
	rep.data_ok = expect_bytes("test process: its pinned memory after fork()", mem,
				   MEMCG_PIN_SIZE, 0x11);
	rep.pin_ok = pin_follows(mem, MEMCG_PIN_SIZE, 0x11);
	pin_stop();
	return comm_send(p->to_parent[1], &rep, sizeof(rep)) ? 0 : 16;
}

/* Sets @cg's memory.max to @val; says why if it cannot. */
static bool memcg_max(const char *cg, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/memory.max", cg);
	if (write_file(path, val))
		return true;
	ksft_print_msg("cannot set %s to %s: %s\n", path, val, strerror(errno));
	return false;
}

static enum result memcg_enomem(const char **why)
{
	const char *cg = CGROOT "/forkpin-memcg";
	long pins_before = pins_held(), before = 0, after;
	struct memcg_report rep = { .fork_ret = 0 };
	bool forked = false, reported, lifted;
	enum result res = FAIL;
	char path[128], val[32];
	struct comm_pipes p;
	int status;
	pid_t pid;

	if (access(CGROOT "/cgroup.controllers", R_OK)) {
		*why = "need cgroup2 mounted at " CGROOT;
		return SKIP;
	}
	if (mkdir(cg, 0755) && errno != EEXIST) {
		*why = "cannot create a cgroup (need root)";
		return SKIP;
	}
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	if (access(path, W_OK)) {
		rmdir(cg);
		*why = "need the memory controller (CONFIG_MEMCG, +memory in cgroup.subtree_control)";
		return SKIP;
	}
	if (!comm_pipes_setup(&p)) {
		rmdir(cg);
		return FAIL;
	}
	pid = fork();
	if (!pid) {
		comm_pipes_keep(&p, true);
		_exit(memcg_child(cg, &p));
	}
	/* Only the child writes to us: its death ends our reads. */
	comm_pipes_keep(&p, false);
	if (fork_failed(pid)) {
		comm_pipes_close(&p);
		rmdir(cg);
		return FAIL;
	}
	/* Room for page tables, not for copies of the pinned pages. */
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	if (comm_hear(p.to_parent[0], 10000) == 'r') {
		before = read_long(path);
		snprintf(val, sizeof(val), "%ld", before + (long)MEMCG_HEADROOM);
		memcg_max(cg, val);
		if (!comm_tell(p.to_child[1], 'g'))
			ksft_print_msg("cannot wake the test process: %s\n", strerror(errno));
		/*
		 * fork() returns, or the process is stuck in memcg OOM
		 * because the failed fork() kept its charge.
		 */
		forked = comm_recv(p.to_parent[0], &rep, sizeof(rep), 5000);
		if (!forked)
			ksft_print_msg("no word from the test process within 5 s of fork()\n");
	} else {
		ksft_print_msg("the test process did not get ready within 10 s\n");
	}
	after = read_long(path);
	lifted = memcg_max(cg, "max");
	/* First the fork() result, then the checks done without the limit. */
	if (!forked)
		forked = comm_recv(p.to_parent[0], &rep, sizeof(rep), 10000);
	reported = forked && comm_tell(p.to_child[1], 'g') &&
		   comm_recv(p.to_parent[0], &rep, sizeof(rep), 60000);
	/* A process that did not report may be stuck: end it. */
	if (!reported)
		kill(pid, SIGKILL);
	status = wait_child(pid);
	comm_pipes_close(&p);
	if (rmdir(cg))
		ksft_print_msg("cannot remove the cgroup %s: %s\n", cg, strerror(errno));

	if (!lifted)
		ksft_print_msg("the memcg limit was not lifted (see above)\n");
	else if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) || !reported)
		ksft_print_msg("the test process failed (status %#x)%s\n", status,
			       reported ? "" : ": no report of its checks");
	else if (rep.fork_ret >= 0)
		ksft_print_msg("fork() succeeded although early COW could not be charged, expected ENOMEM\n");
	else if (rep.fork_errno != ENOMEM)
		ksft_print_msg("fork() failed with %s, expected ENOMEM\n", strerror(rep.fork_errno));
	else if (after > before + 64 * (long)pagesize)
		ksft_print_msg("the failed fork() kept its memcg charge: %ld bytes before, %ld after (at most %ld more expected)\n",
			       before, after, 64 * (long)pagesize);
	else if (!rep.data_ok || !rep.pin_ok)
		ksft_print_msg("the parent's %s changed (see above)\n",
			       !rep.data_ok ? "data" : "pin");
	else if (pins_held() != pins_before)
		ksft_print_msg("pins held: %ld before, %ld after\n", pins_before, pins_held());
	else
		res = PASS;
	return res;
}

/*
 * Early COW of a pinned hugetlb page with an empty pool: no page for the
 * child's copy, so fork() fails. alloc_huge_page() says ENOSPC, but
 * copy_mm() reports any failure of dup_mm() as ENOMEM, so that is what
 * fork() returns.
 */
static enum result hugetlb_empty_pool(const char **why)
{
	const char *nr = "/proc/sys/vm/nr_hugepages";
	long total = read_long(nr);
	enum result res = FAIL;
	char *mem, val[32];
	int status;
	pid_t pid;

	mem = mmap(NULL, hugetlbsize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (mem == MAP_FAILED) {
		*why = "need a free 2 MiB huge page (hugepages=N)";
		return SKIP;
	}
	memset(mem, 0x11, hugetlbsize);
	if (total < 0) {
		ksft_print_msg("cannot read %s\n", nr);
		goto out;
	}
	if (pin_start(mem, hugetlbsize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	/* Shrink the pool to the pages in use: none left for the copy. */
	snprintf(val, sizeof(val), "%ld", total - (long)free_hugetlb_pages());
	if (!write_file(nr, val)) {
		*why = "cannot shrink the huge page pool (need root)";
		res = SKIP;
		pin_stop();
		goto out;
	}
	pid = fork();
	if (!pid)
		_exit(0);
	if (pid > 0) {
		status = wait_child(pid);
		ksft_print_msg("fork() succeeded without a huge page for the copy (status %#x), expected ENOMEM\n",
			       status);
	} else if (errno != ENOMEM) {
		ksft_print_msg("fork() failed with %s, expected ENOMEM\n", strerror(errno));
	} else if (expect_bytes("the pinned huge page after the failed fork()", mem, hugetlbsize, 0x11) &&
		   pin_follows(mem, hugetlbsize, 0x11)) {
		res = PASS;
	}
	pin_stop();
	snprintf(val, sizeof(val), "%ld", total);
	if (!write_file(nr, val)) {
		ksft_print_msg("cannot restore %s to %ld: %s\n", nr, total, strerror(errno));
		res = FAIL;
	}
out:
	munmap(mem, hugetlbsize);
	return res;
}

/*
 * Pin, unpin, fork: MMF_HAS_PINNED stays set, but a page that is no
 * longer pinned is shared again (no early copy) and plain COW holds.
 */
static enum result pin_unpin_fork(const char **why)
{
	char *mem = anon_page(0x11);
	enum result res = FAIL;
	struct comm_pipes p;
	int status;
	pid_t pid;

	if (!mem)
		return FAIL;
	if (!comm_pipes_setup(&p))
		goto out_unmap;
	if (pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE) || pin_stop())
		goto out;
	pid = fork();
	if (!pid) {
		comm_pipes_keep(&p, true);
		if (!comm_hear(p.to_child[0], -1))
			_exit(2);
		_exit(expect_bytes("the child's page", mem, pagesize, 0x11) ? 0 : 1);
	}
	if (fork_failed(pid))
		goto out;
	comm_pipes_keep(&p, false);
	if (page_is_exclusive(mem)) {
		ksft_print_msg("fork() copied a page that is no longer pinned: it is exclusive, expected shared with the child\n");
		kill(pid, SIGKILL);
	} else {
		memset(mem, 0x22, pagesize);
		if (comm_tell(p.to_child[1], 'g'))
			res = PASS;
		else
			ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
	}
	status = wait_child(pid);
	if (res == PASS && (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status))) {
		ksft_print_msg("the child %s (status %#x)\n",
			       status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1 ?
			       "saw the parent's write" : "failed", status);
		res = FAIL;
	}
out:
	comm_pipes_close(&p);
out_unmap:
	munmap(mem, pagesize);
	return res;
}

/*
 * The process with a fresh mm: forks a child that keeps its page shared
 * and says whether it is (exit 0), or why not.
 */
static int never_pinned_child(void)
{
	/* A fresh mm: MMF_HAS_PINNED is not inherited. */
	char *mem = anon_page(0x11);
	pid_t child;
	bool shared;

	if (!mem)
		return 2;
	child = fork();
	if (!child) {
		pause();
		_exit(0);
	}
	if (fork_failed(child))
		return 3;
	shared = !page_is_exclusive(mem);
	kill_child(child);
	if (!shared)
		ksft_print_msg("fork() copied a page of an mm that never pinned: it is exclusive, expected shared with the child\n");
	return shared ? 0 : 1;
}

/* An mm that never pinned shares its pages at fork(): no early copy. */
static enum result never_pinned_shares(const char **why)
{
	int status;
	pid_t pid = fork();

	if (!pid)
		_exit(never_pinned_child());
	if (fork_failed(pid))
		return FAIL;
	status = wait_child(pid);
	if (status == -1)
		return FAIL;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the process with a fresh mm failed (status %#x)\n", status);
		return FAIL;
	}
	return PASS;
}

/* A pinned page is copied for the child: the parent's stays exclusive. */
static enum result pinned_is_copied(const char **why)
{
	char *mem = anon_page(0x11), *other = anon_page(0x11);
	enum result res = FAIL;
	pid_t pid;

	if (!mem || !other || pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	pid = fork();
	if (!pid) {
		pause();
		_exit(0);
	}
	if (fork_failed(pid))
		goto out_unpin;
	if (!page_is_exclusive(mem))
		ksft_print_msg("the pinned page is shared with the child after fork(), expected exclusive (copied for the child)\n");
	else if (page_is_exclusive(other))
		ksft_print_msg("an unpinned page was copied too: it is exclusive, expected shared with the child\n");
	else
		res = PASS;
	kill_child(pid);
out_unpin:
	pin_stop();
out:
	if (mem)
		munmap(mem, pagesize);
	if (other)
		munmap(other, pagesize);
	return res;
}

/* Pins taken before fork() are released once, by their owner. */
static enum result pins_released_once(const char **why)
{
	size_t size = 16 * pagesize;
	long before = pins_held(), held;
	enum result res = FAIL;
	char *mem;
	pid_t pid;

	if (before < 0) {
		*why = "no nr_foll_pin_* counters in /proc/vmstat";
		return SKIP;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return FAIL;
	}
	memset(mem, 0x11, size);
	if (pin_start(mem, size, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	pid = fork();
	if (!pid) {
		memset(mem, 0x33, size);
		_exit(0);
	}
	if (fork_failed(pid))
		goto out_unpin;
	wait_child(pid);
	held = pins_held() - before;
	if (held != (long)(size / pagesize)) {
		ksft_print_msg("%ld pins held with %zu pages pinned, expected %zu\n",
			       held, size / pagesize, size / pagesize);
	} else if (!pin_stop()) {
		held = pins_held() - before;
		if (held)
			ksft_print_msg("%ld pins left after unpinning, expected 0\n", held);
		else
			res = PASS;
	}
out_unpin:
	pin_stop();
out:
	munmap(mem, size);
	return res;
}

static const struct test_case cases[] = {
	{ "MADV_DONTFORK: the child gets no mapping, the parent keeps the pinned page", dontfork },
	{ "MADV_WIPEONFORK: the child sees zeroes, the parent keeps the pinned page", wipeonfork },
	{ "clone3(CLONE_INTO_CGROUP): the parent keeps the pinned page", clone3_cgroup },
	{ "GUP-fast pins racing fork(): every pin stays on the parent's page", gup_fast_race },
	{ "fork() over the memcg limit: ENOMEM, data, charge and pins intact", memcg_enomem },
	{ "fork() with a pinned hugetlb page and an empty pool: ENOMEM, data and pin intact",
	  hugetlb_empty_pool },
	{ "pin, unpin, fork(): the unpinned page is shared again, plain COW", pin_unpin_fork },
	{ "an mm that never pinned shares its pages at fork()", never_pinned_shares },
	{ "a pinned page is copied at fork(), unpinned ones stay shared", pinned_is_copied },
	{ "pins taken before fork() are released once, by their owner", pins_released_once },
};

int main(void)
{
	mem_init();
	run_pin_cases(cases, ARRAY_SIZE(cases));
}
