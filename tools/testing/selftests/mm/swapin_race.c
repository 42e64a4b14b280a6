// SPDX-License-Identifier: GPL-2.0
/*
 * swapin_race - a swap-in fault that finds its swap PTE changed backs off
 * cleanly, and the retried access reads the right data.
 *
 * do_swap_page() starts by asking pte_unmap_same() whether the swap PTE
 * the fault was taken for is still there. If another thread changed it,
 * the fault must return 0 - no error and no VM_FAULT_ bit - so that the
 * access is simply retried and finds whatever the other thread left,
 * usually the page, swapped in. On 6.1 the recheck only runs on 32-bit
 * kernels with 64-bit PTEs (x86 PAE, ARM LPAE); on x86_64 it folds to
 * "unchanged" at compile time and nothing runs the "changed" path. The
 * forkpin series adds a fault-injection attribute for it (test-support
 * patch, CONFIG_FAIL_PTE_UNMAP_SAME, debugfs fail_pte_unmap_same/): with
 * /proc/thread-self/fail-nth one swap-in of the calling thread takes the
 * "changed" path on any architecture. A later patch of the series turns
 * the result into an enum, with no functional change; mainline last
 * reworked this contract in 2ca99358671a ("mm: clear vmf->pte after
 * pte_unmap_same() returns").
 *
 * Were "changed" to leak out of do_swap_page() as a VM_FAULT_ bit, this
 * test sees it: VM_FAULT_OOM makes the fault handler log "Huh VM_FAULT_OOM
 * leaked out to the #PF handler" (a splat for scripts/verdict.py);
 * VM_FAULT_COMPLETED (0x4000, where a speculative-fault style "retry" bit
 * would land on 6.1) or VM_FAULT_RETRY leave mmap_lock held: lockdep's
 * "WARNING: lock held when returning to user space!", and a process that
 * can no longer munmap(); VM_FAULT_SIGBUS or SIGSEGV kill the process.
 *
 * Each case runs in a process of its own, under alarm(), and ends by
 * unmapping its memory, which takes mmap_lock for write; the main process
 * waits for it with a timeout, so a lock left held fails the case instead
 * of hanging the run. The invariant, per case: every byte of every page
 * reads back as written, the case process finishes and can still take
 * mmap_lock for write, and the kernel logs no splat meanwhile. Cases:
 *  - injected: 64 swapped-out pages, each faulted in right after
 *    "fail-nth = 1": the injection fired (fail-nth reads 0 again and the
 *    attribute's "times" went down by one), and the retried access swapped
 *    the page in (present, contents intact). Skips when the kernel lacks
 *    the knob or CONFIG_FAULT_INJECTION.
 *  - race: one thread per online CPU reads the same swapped-out pages
 *    while another swaps them out again and again with MADV_PAGEOUT: real
 *    concurrent swap-ins of one entry, which on zram (a synchronous device,
 *    no swap cache) take the swapcache_prepare() back-off of 13ddaf26be32
 *    ("mm/swap: fix race when skipping swapcache", in 6.1.y) and the
 *    "PTE changed" exits of do_swap_page(). A run that swapped nothing in
 *    (/proc/vmstat pswpin, or the process's major faults on a kernel
 *    without VM event counters) fails: it proved nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include "mem_util.h"
#include "report.h"

#define NR_PAGES	64
/*
 * Seconds a case process may take, setup and cleanup included (QEMU/TCG
 * needs a few), on top of the race's run time of RACE_SECONDS x scale.
 */
#define CASE_TIMEOUT	60
#define RACE_SECONDS	2
/* Threads faulting in the race, at most. */
#define MAX_FAULTERS	64

#define FAIL_DIR	"/sys/kernel/debug/fail_pte_unmap_same"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
/* What the injected case sets the attribute's "times" to: it counts down. */
#define INJECT_TIMES	1000000

/* ---- memory with a pattern that names every word's offset ---- */

static uint64_t pattern(size_t off)
{
	return 0xa5c3a5c300000000ULL ^ (off * 0x9e3779b97f4a7c15ULL);
}

static void fill(char *mem, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += sizeof(uint64_t))
		*(uint64_t *)(mem + i) = pattern(i);
}

/* The offset of the first wrong word of page @nr of mem, or -1. */
static long page_bad_word(const char *mem, size_t nr)
{
	size_t i;

	for (i = nr * pagesize; i < (nr + 1) * pagesize; i += sizeof(uint64_t))
		if (*(const volatile uint64_t *)(mem + i) != pattern(i))
			return i;
	return -1;
}

/*
 * Swap all @pages pages at mem out. Returns NULL, or why not (a skip).
 * A page still in another CPU's LRU batch cannot be isolated: retry.
 */
static const char *swap_out(char *mem, size_t pages)
{
	static char why[160];
	uint64_t *ent = calloc(pages, sizeof(*ent));
	size_t i, in = pages;
	int try;

	if (!ent)
		return "calloc() failed";
	for (try = 0; try < 10 && in; try++) {
		if (madvise(mem, pages * pagesize, MADV_PAGEOUT)) {
			free(ent);
			return "MADV_PAGEOUT failed (needs Linux 5.4 or later)";
		}
		if (!read_pagemap(mem, pages, ent)) {
			free(ent);
			return "cannot read /proc/self/pagemap";
		}
		for (i = 0, in = 0; i < pages; i++)
			in += !(ent[i] & PM_SWAP);
	}
	free(ent);
	if (!in)
		return NULL;
	snprintf(why, sizeof(why),
		 "MADV_PAGEOUT left %zu of %zu pages unswapped after 10 tries (need swap, e.g. zram: see /proc/swaps)",
		 in, pages);
	return why;
}

/*
 * What fail-nth holds, read at offset 0 of the fd the thread opened before
 * arming it (see injected()). Other files: read_key().
 */
static bool read_nth(int fd, long *val)
{
	char buf[32];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return sscanf(buf, "%ld", val) == 1;
}

static bool write_num(const char *path, long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", val);
	return write_file(path, buf);
}

/*
 * Swap-ins so far: /proc/vmstat pswpin if the kernel counts VM events
 * (CONFIG_VM_EVENT_COUNTERS), else this process's major faults - a
 * swap-in that reads the swap device is one, and nothing else in a race
 * of anonymous memory is.
 */
static bool swapins(unsigned long *val, const char **what)
{
	struct rusage ru;
	long n;

	if (read_key("/proc/vmstat", "pswpin", &n)) {
		*val = n;
		*what = "/proc/vmstat pswpin";
		return true;
	}
	if (getrusage(RUSAGE_SELF, &ru))
		return false;
	*val = ru.ru_majflt;
	*what = "major faults (no pswpin: CONFIG_VM_EVENT_COUNTERS is off)";
	return true;
}

/* ---- the injected "PTE changed" ---- */

static enum result injected(struct region *r, const char **why)
{
	size_t i, pages = NR_PAGES;
	enum result res = FAIL;
	long left, t0, t1;
	uint64_t ent;
	int nth;

	*why = map_anon(r, pages * pagesize, 0, 0);
	if (*why)
		return SKIP;
	/* Base pages: THP is enabled=always in the guest. */
	madvise(r->mem, r->size, MADV_NOHUGEPAGE);
	fill(r->mem, r->size);
	*why = swap_out(r->mem, pages);
	if (*why)
		return SKIP;
	/* Open before arming: nothing may run should_fail() in between. */
	nth = open(FAIL_NTH, O_RDWR);
	if (nth < 0) {
		ksft_print_msg("cannot open %s: %s\n", FAIL_NTH, strerror(errno));
		return FAIL;
	}
	for (i = 0; i < pages; i++) {
		char *page = r->mem + i * pagesize;
		long bad;

		if (!page_is_swapped(page)) {
			ksft_print_msg("page %zu was swapped in before its access\n", i);
			goto out;
		}
		if (!read_key(FAIL_DIR "/times", NULL, &t0)) {
			ksft_print_msg("cannot read %s/times\n", FAIL_DIR);
			goto out;
		}
		/* The next should_fail() of this thread fails: the swap-in's. */
		if (pwrite(nth, "1", 1, 0) != 1) {
			ksft_print_msg("writing 1 to %s failed: %s\n", FAIL_NTH, strerror(errno));
			goto out;
		}
		(void)*(volatile char *)page;
		if (!read_nth(nth, &left)) {
			ksft_print_msg("cannot read %s\n", FAIL_NTH);
			goto out;
		}
		if (left) {
			ksft_print_msg("page %zu: %s still reads %ld after its swap-in: the fault did not go through pte_unmap_same()'s injection\n",
				       i, FAIL_NTH, left);
			goto out;
		}
		if (!read_key(FAIL_DIR "/times", NULL, &t1)) {
			ksft_print_msg("cannot read %s/times\n", FAIL_DIR);
			goto out;
		}
		if (t1 != t0 - 1) {
			ksft_print_msg("page %zu: %s/times went from %ld to %ld, not down by one: the failure injected was not pte_unmap_same()'s\n",
				       i, FAIL_DIR, t0, t1);
			goto out;
		}
		bad = page_bad_word(r->mem, i);
		if (bad >= 0) {
			ksft_print_msg("page %zu: wrong contents at offset %#lx after the retried swap-in\n",
				       i, bad);
			goto out;
		}
		ent = pagemap_entry(page);
		if (!(ent & PM_PRESENT)) {
			ksft_print_msg("page %zu is not present after the retried swap-in (pagemap %#llx)\n",
				       i, (unsigned long long)ent);
			goto out;
		}
	}
	res = PASS;
out:
	if (pwrite(nth, "0", 1, 0) != 1) {
		ksft_print_msg("writing 0 to %s failed: %s\n", FAIL_NTH, strerror(errno));
		res = FAIL;
	}
	close(nth);
	return res;
}

/* ---- threads faulting while another swaps out ---- */

struct race {
	char *mem;
	size_t pages;
	bool stop;			/* __atomic */
	unsigned long passes;		/* __atomic: full passes of a faulter */
	unsigned long rounds;		/* MADV_PAGEOUT rounds */
	pthread_mutex_t lock;
	char failure[160];		/* the first one, under lock */
};

static bool race_stopped(struct race *rc)
{
	return __atomic_load_n(&rc->stop, __ATOMIC_RELAXED);
}

static void __attribute__((format(printf, 2, 3)))
race_fail(struct race *rc, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rc->lock);
	if (!rc->failure[0]) {
		va_start(ap, fmt);
		vsnprintf(rc->failure, sizeof(rc->failure), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&rc->lock);
	__atomic_store_n(&rc->stop, true, __ATOMIC_RELAXED);
}

static void *faulter(void *arg)
{
	struct race *rc = arg;
	size_t i;
	long bad;

	while (!race_stopped(rc)) {
		for (i = 0; i < rc->pages && !race_stopped(rc); i++) {
			bad = page_bad_word(rc->mem, i);
			if (bad >= 0) {
				race_fail(rc, "page %zu: wrong contents at offset %#lx", i, bad);
				return NULL;
			}
		}
		__atomic_add_fetch(&rc->passes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *pager(void *arg)
{
	struct race *rc = arg;

	while (!race_stopped(rc)) {
		if (madvise(rc->mem, rc->pages * pagesize, MADV_PAGEOUT)) {
			race_fail(rc, "MADV_PAGEOUT failed: %s", strerror(errno));
			break;
		}
		rc->rounds++;
	}
	return NULL;
}

/* Sleep @secs seconds, whatever signals come. */
static void sleep_for(unsigned int secs)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR)
		;
}

static enum result race(struct region *r, const char **why)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int i, nr = 0, nr_faulters;
	pthread_t threads[MAX_FAULTERS + 1];
	unsigned long in0, in1;
	enum result res = FAIL;
	const char *counter;
	struct race rc = {
		.pages = NR_PAGES * scale,
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	long bad;
	size_t p;

	nr_faulters = cpus < 1 ? 1 : cpus > MAX_FAULTERS ? MAX_FAULTERS : cpus;
	*why = map_anon(r, rc.pages * pagesize, 0, 0);
	if (*why)
		return SKIP;
	rc.mem = r->mem;
	madvise(r->mem, r->size, MADV_NOHUGEPAGE);
	fill(r->mem, r->size);
	*why = swap_out(r->mem, rc.pages);
	if (*why)
		return SKIP;
	if (!swapins(&in0, &counter)) {
		ksft_print_msg("cannot count swap-ins: no pswpin in /proc/vmstat, getrusage() failed\n");
		return FAIL;
	}
	for (i = 0; i <= nr_faulters; i++) {
		errno = pthread_create(&threads[i], NULL, i ? faulter : pager, &rc);
		if (errno) {
			ksft_print_msg("pthread_create() failed: %s\n", strerror(errno));
			__atomic_store_n(&rc.stop, true, __ATOMIC_RELAXED);
			break;
		}
		nr++;
	}
	if (nr == nr_faulters + 1)
		sleep_for(RACE_SECONDS * scale);
	__atomic_store_n(&rc.stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < nr; i++)
		pthread_join(threads[i], NULL);
	if (nr != nr_faulters + 1)
		return FAIL;
	if (!swapins(&in1, &counter)) {
		ksft_print_msg("cannot count swap-ins: no pswpin in /proc/vmstat, getrusage() failed\n");
		return FAIL;
	}
	ksft_print_msg("race: %u faulting threads, %lu passes over %zu pages, %lu MADV_PAGEOUT rounds, %lu swap-ins (%s)\n",
		       nr_faulters, rc.passes, rc.pages, rc.rounds, in1 - in0, counter);
	if (rc.failure[0]) {
		ksft_print_msg("%s\n", rc.failure);
		return FAIL;
	}
	for (p = 0; p < rc.pages; p++) {
		bad = page_bad_word(r->mem, p);
		if (bad >= 0) {
			ksft_print_msg("page %zu: wrong contents at offset %#lx after the race\n", p, bad);
			return FAIL;
		}
	}
	if (in1 == in0)
		ksft_print_msg("nothing was swapped in during the race: it proved nothing\n");
	else
		res = PASS;
	return res;
}

/* ---- a case in a process of its own ---- */

/*
 * The case process: runs the case, sends its verdict, then unmaps its
 * memory - mmap_lock for write - and says 'D' when that is done. Its
 * output goes to /dev/null by then: a process stuck there must not keep
 * the harness's pipe open.
 */
static void case_process(enum result (*fn)(struct region *r, const char **why),
			 unsigned int timeout, int fd)
{
	struct region r = { .fd = -1 };
	struct verdict v = { 0 };
	const char *why = NULL;
	void *p;
	int null;

	alarm(timeout);
	v.res = fn(&r, &why);
	if (why)
		snprintf(v.why, sizeof(v.why), "%s", why);
	fflush(stdout);
	fflush(stderr);
	if (!comm_send(fd, &v, sizeof(v)))
		_exit(1);
	null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, 1);
		dup2(null, 2);
	}
	region_free(&r);
	p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, pagesize))
		_exit(1);
	if (!comm_tell(fd, 'D'))
		_exit(1);
	_exit(0);
}

static enum result run_bounded(enum result (*fn)(struct region *r, const char **why),
			       unsigned int timeout, const char **why)
{
	static struct verdict v;
	int status = 0, i;
	struct comm_pipes p;
	bool reaped = false;
	enum result res;
	pid_t pid;

	if (!comm_pipes_setup(&p))
		return FAIL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid) {
		comm_pipes_keep(&p, true);
		case_process(fn, timeout, p.to_parent[1]);
	}
	comm_pipes_keep(&p, false);
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		comm_pipes_close(&p);
		return FAIL;
	}
	/* The case process's alarm() ends it first: this is the backstop. */
	if (!comm_recv(p.to_parent[0], &v, sizeof(v), (timeout + 10) * 1000)) {
		ksft_print_msg("the case process gave no verdict (it died, or ran past %u s)\n", timeout);
		res = FAIL;
	} else {
		res = v.res;
		*why = v.why;
		if (comm_hear(p.to_parent[0], 20000) != 'D') {
			ksft_print_msg("the case process could not unmap its memory afterwards within 20 s (a fault left mmap_lock held?)\n");
			res = FAIL;
		}
	}
	comm_pipes_close(&p);
	/* Not an unbounded wait: a process stuck in the kernel never goes. */
	for (i = 0; i < 100 && !reaped; i++) {
		if (i == 50)
			kill(pid, SIGKILL);
		reaped = waitpid(pid, &status, WNOHANG) == pid;
		if (!reaped)
			usleep(100000);
	}
	if (!reaped) {
		ksft_print_msg("the case process (pid %d) is stuck in the kernel, not even SIGKILL ends it\n",
			       pid);
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

/* ---- the cases ---- */

static enum result injected_case(const char **why)
{
	long verbose, times, probability, interval;
	struct statfs fs;
	enum result res;

	if (statfs("/sys/kernel/debug", &fs) || fs.f_type != DEBUGFS_MAGIC) {
		*why = "debugfs is not mounted (mount -t debugfs none /sys/kernel/debug)";
		return SKIP;
	}
	if (access(FAIL_DIR, F_OK)) {
		if (errno == EACCES) {
			*why = "need root for debugfs (" FAIL_DIR ")";
			return SKIP;
		}
		if (errno == ENOENT) {
			*why = "kernel lacks CONFIG_FAIL_PTE_UNMAP_SAME (forkpin test-support patch 0002)";
			return SKIP;
		}
		ksft_print_msg("cannot access %s: %s\n", FAIL_DIR, strerror(errno));
		return FAIL;
	}
	if (access(FAIL_NTH, F_OK)) {
		*why = "kernel lacks /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)";
		return SKIP;
	}
	if (!read_key(FAIL_DIR "/verbose", NULL, &verbose) || !read_key(FAIL_DIR "/times", NULL, &times) ||
	    !read_key(FAIL_DIR "/probability", NULL, &probability) ||
	    !read_key(FAIL_DIR "/interval", NULL, &interval)) {
		ksft_print_msg("cannot read %s/verbose, times, probability and interval\n", FAIL_DIR);
		return FAIL;
	}
	/*
	 * Quiet (no stack dump per page), and counting the failures; only
	 * fail-nth injects (probability 0, every call: interval 1), so no
	 * other task's call consumes "times".
	 */
	if (!write_num(FAIL_DIR "/probability", 0) || !write_num(FAIL_DIR "/interval", 1) ||
	    !write_num(FAIL_DIR "/verbose", 0) || !write_num(FAIL_DIR "/times", INJECT_TIMES)) {
		ksft_print_msg("cannot write %s/probability, interval, verbose and times (need root)\n",
			       FAIL_DIR);
		res = FAIL;
	} else {
		res = run_bounded(injected, CASE_TIMEOUT, why);
	}
	if (!write_num(FAIL_DIR "/verbose", verbose) || !write_num(FAIL_DIR "/times", times) ||
	    !write_num(FAIL_DIR "/interval", interval) ||
	    !write_num(FAIL_DIR "/probability", probability)) {
		ksft_print_msg("cannot restore %s/verbose (%ld), times (%ld), interval (%ld) and probability (%ld)\n",
			       FAIL_DIR, verbose, times, interval, probability);
		res = FAIL;
	}
	return res;
}

static enum result race_case(const char **why)
{
	return run_bounded(race, CASE_TIMEOUT + RACE_SECONDS * scale, why);
}

static const struct test_case cases[] = {
	{ "injected: swap-in of 64 pages, each told by fail_pte_unmap_same that its PTE changed: the retried access swaps it in, contents intact, no kernel splat",
	  injected_case },
	{ "race: threads on every CPU fault the same pages while MADV_PAGEOUT swaps them out again: contents intact, pages swapped in, no kernel splat",
	  race_case },
};

int main(void)
{
	mem_init();
	/* Each case bounds itself (run_bounded()). */
	run_cases(cases, ARRAY_SIZE(cases), NULL, true, 0);
}
