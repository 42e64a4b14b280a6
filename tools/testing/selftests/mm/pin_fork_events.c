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
#include <poll.h>
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

#include "../kselftest.h"
#include "mem_util.h"
#include "pin_util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define CGROOT "/sys/fs/cgroup"


/* ---- small helpers ---- */

static long vmstat(const char *name)
{
	char key[64];
	long val;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

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
	acq = vmstat("nr_foll_pin_acquired");
	rel = vmstat("nr_foll_pin_released");
	return acq < 0 || rel < 0 ? -1 : acq - rel;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = -1;

	if (fd < 0)
		return -1;
	if (write(fd, val, strlen(val)) == (ssize_t)strlen(val))
		ret = 0;
	close(fd);
	return ret;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

static char *anon_page(char val)
{
	char *mem = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return NULL;
	madvise(mem, pagesize, MADV_NOHUGEPAGE);
	memset(mem, val, pagesize);
	return mem;
}

/* The pin sees val, and keeps following the parent's writes. */
static bool pin_follows(char *mem, size_t size, char val)
{
	char *buf = malloc(size);
	bool ok = buf && !pin_read(buf) && all_bytes(buf, size, val);

	if (ok) {
		memset(mem, 0x44, size);
		ok = !pin_read(buf) && all_bytes(buf, size, 0x44);
	}
	if (!ok)
		ksft_print_msg("the pin does not see the parent's data\n");
	free(buf);
	return ok;
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
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
	if (madvise(mem, pagesize, MADV_DONTFORK))
		goto out_unpin;
	pid = fork();
	if (!pid) {
		/* Must fault: the range is not inherited. */
		(void)*(volatile char *)mem;
		_exit(0);
	}
	status = wait_child(pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
		ksft_print_msg("the child could access a MADV_DONTFORK range (status %#x)\n", status);
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
		_exit(all_bytes(mem, pagesize, 0) ? 0 : 1);
	status = wait_child(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child did not see a wiped page\n");
		goto out_unpin;
	}
	if (!all_bytes(mem, pagesize, 0x11)) {
		ksft_print_msg("the parent's data changed\n");
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

/* clone3(CLONE_INTO_CGROUP): same guarantees as fork(). */
static enum result clone3_cgroup(const char **why)
{
	const char *cg = CGROOT "/forkpin-clone3";
	struct clone_args args = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	char *mem = anon_page(0x11);
	enum result res = FAIL;
	int cgfd, status, go[2];
	pid_t pid;

	if (!mem)
		return FAIL;
	if (mkdir(cg, 0755) && errno != EEXIST) {
		*why = "need cgroup2 mounted at " CGROOT;
		munmap(mem, pagesize);
		return SKIP;
	}
	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	args.cgroup = cgfd;
	if (cgfd < 0 || pipe(go) || pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid < 0) {
		*why = errno == ENOSYS ? "clone3() not supported" : "clone3(CLONE_INTO_CGROUP) failed";
		res = SKIP;
		goto out_unpin;
	}
	if (!pid) {
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(all_bytes(mem, pagesize, 0x11) ? 0 : 1);
	}
	memset(mem, 0x22, pagesize);
	if (write(go[1], "g", 1) != 1)
		ksft_print_msg("cannot wake the child\n");
	status = wait_child(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child saw the parent's write (status %#x)\n", status);
		goto out_unpin;
	}
	if (pin_follows(mem, pagesize, 0x22))
		res = PASS;
out_unpin:
	pin_stop();
	close(go[0]);
	close(go[1]);
out:
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
	int errors;
	bool failed;
} race;

static void *race_pinner(void *arg)
{
	char *buf = malloc(pagesize);
	int i;

	for (i = 0; i < (int)RACE_ROUNDS; i++) {
		bool pinned;

		pthread_barrier_wait(&race.start);
		pinned = !pin_start(race.mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE |
				    PIN_LONGTERM_TEST_FLAG_USE_FAST);
		pthread_barrier_wait(&race.pinned);
		pthread_barrier_wait(&race.written);
		if (!pinned) {
			race.errors++;
			continue;
		}
		if (!buf || pin_read(buf) || !all_bytes(buf, pagesize, race.val))
			race.failed = true;
		pin_stop();
	}
	free(buf);
	return NULL;
}

static enum result gup_fast_race(const char **why)
{
	pthread_t thread;
	enum result res = FAIL;
	int i, go[2];

	race.mem = anon_page(0x11);
	if (!race.mem || pipe(go))
		return FAIL;
	pthread_barrier_init(&race.start, NULL, 2);
	pthread_barrier_init(&race.pinned, NULL, 2);
	pthread_barrier_init(&race.written, NULL, 2);
	if (pthread_create(&thread, NULL, race_pinner, NULL))
		goto out;
	for (i = 0; i < (int)RACE_ROUNDS; i++) {
		pid_t pid;
		char c;

		pthread_barrier_wait(&race.start);
		pid = fork();
		if (!pid) {
			/* Keep the pages shared until the parent has written. */
			_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
		}
		pthread_barrier_wait(&race.pinned);
		race.val = (char)(i + 1);
		memset(race.mem, race.val, pagesize);
		pthread_barrier_wait(&race.written);
		if (write(go[1], "g", 1) != 1 || pid < 0)
			race.errors++;
		if (pid > 0)
			wait_child(pid);
	}
	pthread_join(thread, NULL);
	if (race.failed)
		ksft_print_msg("a pin taken while fork() ran ended up on a page the parent no longer uses\n");
	else if (race.errors)
		ksft_print_msg("%d rounds could not pin or fork\n", race.errors);
	else
		res = PASS;
out:
	close(go[0]);
	close(go[1]);
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

static int wait_readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms);
}

static enum result memcg_enomem(const char **why)
{
	const char *cg = CGROOT "/forkpin-memcg";
	long pins_before = pins_held(), before = 0, after;
	int status, ready[2], go[2], done[2];
	struct memcg_report rep = { .fork_ret = 0 };
	enum result res = FAIL;
	char path[128], val[32];
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
	if (pipe(ready) || pipe(go) || pipe(done))
		return FAIL;
	pid = fork();
	if (!pid) {
		char *mem, c;
		int r;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		snprintf(val, sizeof(val), "%d", getpid());
		if (write_file(path, val) || write_file("/proc/self/oom_score_adj", "-1000"))
			_exit(10);
		snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
		write_file(path, "0");
		mem = mmap(NULL, MEMCG_PIN_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			_exit(11);
		madvise(mem, MEMCG_PIN_SIZE, MADV_NOHUGEPAGE);
		memset(mem, 0x11, MEMCG_PIN_SIZE);
		if (pin_start(mem, MEMCG_PIN_SIZE, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
			_exit(12);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(13);
		r = fork();
		if (!r)
			_exit(0);
		rep.fork_ret = r;
		rep.fork_errno = errno;
		/* Nothing that allocates until the limit is lifted. */
		if (write(done[1], &rep, sizeof(rep)) != sizeof(rep) ||
		    read(go[0], &c, 1) != 1)
			_exit(15);
		if (r > 0)
			wait_child(r);
		rep.data_ok = all_bytes(mem, MEMCG_PIN_SIZE, 0x11);
		rep.pin_ok = pin_follows(mem, MEMCG_PIN_SIZE, 0x11);
		pin_stop();
		_exit(write(done[1], &rep, sizeof(rep)) == sizeof(rep) ? 0 : 16);
	}

	/* Only the child writes these: its death must end our reads. */
	close(ready[1]);
	close(done[1]);
	close(go[0]);
	/* Room for page tables, not for copies of the pinned pages. */
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	if (wait_readable(ready[0], 10000) == 1) {
		before = read_long(path);
		snprintf(val, sizeof(val), "%ld", before + (long)MEMCG_HEADROOM);
		snprintf(path, sizeof(path), "%s/memory.max", cg);
		write_file(path, val);
		if (write(go[1], "g", 1) != 1)
			ksft_print_msg("cannot wake the test process\n");
		/*
		 * fork() returns, or the process is stuck in memcg OOM
		 * because the failed fork() kept its charge.
		 */
		if (wait_readable(done[0], 5000) != 1)
			ksft_print_msg("no word from the test process within 5 s of fork()\n");
	}
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	after = read_long(path);
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	write_file(path, "max");
	/* First the fork() result, then the checks done without the limit. */
	if (read(done[0], &rep, sizeof(rep)) != sizeof(rep) || write(go[1], "g", 1) != 1 ||
	    read(done[0], &rep, sizeof(rep)) != sizeof(rep))
		memset(&rep, 0, sizeof(rep));
	status = wait_child(pid);
	close(ready[0]);
	close(go[1]);
	close(done[0]);
	rmdir(cg);

	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ksft_print_msg("the test process failed (status %#x)\n", status);
	else if (rep.fork_ret >= 0)
		ksft_print_msg("fork() succeeded although early COW could not be charged\n");
	else if (rep.fork_errno != ENOMEM)
		ksft_print_msg("fork() failed with %s, expected ENOMEM\n", strerror(rep.fork_errno));
	else if (after > before + 64 * (long)pagesize)
		ksft_print_msg("the failed fork() kept its memcg charge: %ld bytes before, %ld after\n",
			       before, after);
	else if (!rep.data_ok || !rep.pin_ok)
		ksft_print_msg("the parent's data or pin changed\n");
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
	long total = read_long(nr), fr;
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
	if (pin_start(mem, hugetlbsize, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	/* Shrink the pool to the pages in use: none left for the copy. */
	fr = total;
	{
		char line[128];
		FILE *f = fopen("/proc/meminfo", "r");

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "HugePages_Free: %ld", &fr) == 1)
				break;
		if (f)
			fclose(f);
	}
	snprintf(val, sizeof(val), "%ld", total - fr);
	if (write_file(nr, val)) {
		*why = "cannot shrink the huge page pool (need root)";
		res = SKIP;
		goto out_unpin;
	}
	pid = fork();
	if (!pid)
		_exit(0);
	if (pid > 0) {
		status = wait_child(pid);
		ksft_print_msg("fork() succeeded without a huge page for the copy (status %#x)\n",
			       status);
	} else if (errno != ENOMEM) {
		ksft_print_msg("fork() failed with %s, expected ENOMEM\n", strerror(errno));
	} else if (all_bytes(mem, hugetlbsize, 0x11) && pin_follows(mem, hugetlbsize, 0x11)) {
		res = PASS;
	}
out_unpin:
	pin_stop();
	snprintf(val, sizeof(val), "%ld", total);
	write_file(nr, val);
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
	int status, go[2];
	pid_t pid;

	if (!mem || pipe(go))
		return FAIL;
	if (pin_start(mem, pagesize, PIN_LONGTERM_TEST_FLAG_USE_WRITE) || pin_stop())
		goto out;
	pid = fork();
	if (!pid) {
		char c;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(all_bytes(mem, pagesize, 0x11) ? 0 : 1);
	}
	if (page_is_exclusive(mem)) {
		ksft_print_msg("fork() copied a page that is no longer pinned\n");
		kill(pid, SIGKILL);
	} else {
		memset(mem, 0x22, pagesize);
		if (write(go[1], "g", 1) == 1)
			res = PASS;
	}
	status = wait_child(pid);
	if (res == PASS && (!WIFEXITED(status) || WEXITSTATUS(status))) {
		ksft_print_msg("the child saw the parent's write\n");
		res = FAIL;
	}
out:
	close(go[0]);
	close(go[1]);
	munmap(mem, pagesize);
	return res;
}

/* An mm that never pinned shares its pages at fork(): no early copy. */
static enum result never_pinned_shares(const char **why)
{
	int status;
	pid_t pid = fork();

	if (!pid) {
		/* A fresh mm: MMF_HAS_PINNED is not inherited. */
		char *mem = anon_page(0x11);
		pid_t child;
		bool shared;

		if (!mem)
			_exit(2);
		child = fork();
		if (!child) {
			pause();
			_exit(0);
		}
		shared = !page_is_exclusive(mem);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		_exit(shared ? 0 : 1);
	}
	status = wait_child(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("fork() copied a page of an mm that never pinned (status %#x)\n",
			       status);
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
	if (!page_is_exclusive(mem))
		ksft_print_msg("the pinned page is shared with the child after fork()\n");
	else if (page_is_exclusive(other))
		ksft_print_msg("an unpinned page was copied too (it should stay shared)\n");
	else
		res = PASS;
	kill(pid, SIGKILL);
	wait_child(pid);
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
	long before = pins_held();
	enum result res = FAIL;
	char *mem;
	pid_t pid;

	if (before < 0) {
		*why = "no nr_foll_pin_* counters in /proc/vmstat";
		return SKIP;
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return FAIL;
	memset(mem, 0x11, size);
	if (pin_start(mem, size, PIN_LONGTERM_TEST_FLAG_USE_WRITE))
		goto out;
	pid = fork();
	if (!pid) {
		memset(mem, 0x33, size);
		_exit(0);
	}
	wait_child(pid);
	if (pins_held() != before + (long)(size / pagesize))
		ksft_print_msg("%ld pins held with %zu pages pinned\n",
			       pins_held() - before, size / pagesize);
	else if (pin_stop() || pins_held() != before)
		ksft_print_msg("%ld pins left after unpinning\n", pins_held() - before);
	else
		res = PASS;
	pin_stop();
out:
	munmap(mem, size);
	return res;
}

static const struct pin_case cases[] = {
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
	/* Line-buffered: a test that crashes the kernel keeps its output. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	mem_init();
	return run_pin_cases(cases, ARRAY_SIZE(cases));
}
