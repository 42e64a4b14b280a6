// SPDX-License-Identifier: GPL-2.0
/*
 * vmsplice_fork - page references taken with FOLL_GET (vmsplice() into a
 * pipe) across fork() must not leak data between parent and child.
 *
 * CVE-2020-29374: a child vmsplice()s its view of memory shared COW with
 * the parent into a pipe and unmaps it; if the parent's next write then
 * reused the page instead of copying it, the child would read the parent's
 * new data through the pipe. 6.1 decides reuse in do_wp_page() by the
 * page's reference count (mainline 09854ba94c6a "mm: do_wp_page()
 * simplification"), so the pipe's reference forces a copy. hugetlb still
 * decides by mapcount and is a known limitation, in mainline too.
 *
 * It runs on every backend with COW semantics: anonymous memory and
 * private file mappings (memfd, tmpfile, shmem THP, hugetlb), where the
 * page in the pipe may be a pagecache page that a write must copy, never
 * reuse. A MAP_SHARED mapping has no COW: the pipe sees later writes by
 * design, so the shared backends do not apply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "mem_util.h"

/* Read size bytes from the pipe; true if all are val. */
static bool pipe_holds(int fd, size_t size, char val)
{
	char *buf = malloc(size);
	size_t done = 0;
	bool ok;

	if (!buf)
		return false;
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n <= 0)
			break;
		done += n;
	}
	ok = done == size && all_bytes(buf, size, val);
	free(buf);
	return ok;
}

/*
 * The part of the region that goes through the pipe: the default pipe
 * holds 16 pages, and a reference to any page of a large folio is a
 * reference to the folio.
 */
#define SPLICE_MAX (16 * 4096UL)

static size_t splice_size(const struct region *r)
{
	return r->size < SPLICE_MAX ? r->size : SPLICE_MAX;
}

static int splice_all(int fd, char *mem, size_t size)
{
	struct iovec iov = { mem, size };

	return vmsplice(fd, &iov, 1, 0) == (ssize_t)size ? 0 : -1;
}

static void close_pipes(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* The child vmsplice()s and unmaps; the parent's write must not leak. */
static enum result splice_in_child(const struct backend *b, const char **why)
{
	int fds[6] = { -1, -1, -1, -1, -1, -1 }, *p = fds, *ready = fds + 2, *go = fds + 4;
	struct region r = { .fd = -1 };
	enum result res = FAIL;
	int status;
	pid_t pid;
	char c;

	*why = b->setup(&r);
	if (*why) {
		region_free(&r);
		return SKIP;
	}
	if (pipe(p) || pipe(ready) || pipe(go))
		goto out;
	pid = fork();
	if (!pid) {
		if (splice_all(p[1], r.mem, splice_size(&r)))
			_exit(2);
		munmap(r.map, r.map_size);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		_exit(pipe_holds(p[0], splice_size(&r), r.init) ? 0 : 1);
	}
	/* Only the child writes these: its exit must end our reads. */
	close(ready[1]);
	ready[1] = -1;
	if (read(ready[0], &c, 1) != 1) {
		ksft_print_msg("vmsplice() in the child failed\n");
		waitpid(pid, NULL, 0);
		goto out;
	}
	memset(r.mem, 0x22, r.size);
	if (write(go[1], "g", 1) != 1)
		goto out;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		res = PASS;
	else
		ksft_print_msg("the child read the parent's later write through its pipe (status %#x)\n",
			       status);
out:
	close_pipes(fds, 6);
	region_free(&r);
	return res;
}

/* The parent vmsplice()s before fork() and unmaps; the child's write must not leak. */
static enum result splice_before_fork(const struct backend *b, const char **why)
{
	struct region r = { .fd = -1 };
	int p[2] = { -1, -1 }, status;
	enum result res = FAIL;
	pid_t pid;

	*why = b->setup(&r);
	if (*why) {
		region_free(&r);
		return SKIP;
	}
	if (pipe(p) || splice_all(p[1], r.mem, splice_size(&r))) {
		ksft_print_msg("vmsplice() failed: %s\n", strerror(errno));
		goto out;
	}
	pid = fork();
	if (!pid) {
		memset(r.mem, 0x33, r.size);
		_exit(0);
	}
	munmap(r.map, r.map_size);
	r.map = NULL;
	waitpid(pid, &status, 0);
	if (pipe_holds(p[0], splice_size(&r), r.init))
		res = PASS;
	else
		ksft_print_msg("the pipe shows the child's write\n");
out:
	close_pipes(p, 2);
	region_free(&r);
	return res;
}

static const struct {
	const char *desc;
	enum result (*fn)(const struct backend *b, const char **why);
} cases[] = {
	{ "vmsplice() in the child, child unmaps, parent writes: the pipe keeps the old data",
	  splice_in_child },
	{ "vmsplice() before fork(), parent unmaps, child writes: the pipe keeps the old data",
	  splice_before_fork },
};

int main(void)
{
	unsigned int b, c, plan = 0;

	/* Line-buffered: a test that crashes the kernel keeps its output. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	mem_init();
	for (b = 0; b < nr_backends; b++)
		plan += backends[b].shared ? 0 : ARRAY_SIZE(cases);
	ksft_print_header();
	ksft_set_plan(plan);
	for (b = 0; b < nr_backends; b++) {
		if (backends[b].shared)
			continue;
		for (c = 0; c < ARRAY_SIZE(cases); c++) {
			const char *why = NULL;

			switch (cases[c].fn(&backends[b], &why)) {
			case PASS:
				ksft_test_result_pass("%s: %s\n", backends[b].desc, cases[c].desc);
				break;
			case FAIL:
				ksft_test_result_fail("%s: %s\n", backends[b].desc, cases[c].desc);
				break;
			case SKIP:
				ksft_test_result_skip("%s: %s (%s)\n", backends[b].desc,
						      cases[c].desc, why);
				break;
			}
		}
	}
	if (ksft_get_fail_cnt())
		ksft_exit_fail();
	ksft_finished();
}
