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
 * simplification"), so the pipe's reference forces a copy. Anonymous
 * hugetlb still decides by mapcount (hugetlb_wp() reuses a page mapped
 * once): a known limitation, in mainline too, whose exact symptom - the
 * pipe holds the other process's later write, every byte of it - is
 * reported as an expected failure (XFAIL, as mainline's cow.c does). Any
 * other wrong content, on hugetlb too, fails.
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
#include <linux/kernel-page-flags.h>

#include "mem_util.h"
#include "report.h"

/* What a pipe held. */
enum pipe_holds {
	HOLDS_OLD,	/* the data spliced: correct */
	HOLDS_LEAK,	/* exactly the later write: the known hugetlb symptom */
	HOLDS_OTHER,	/* anything else, or too little: said why */
};

/*
 * Read size bytes from the pipe: all the spliced value @old, all the
 * value @leak written later, or something else (said what).
 */
static enum pipe_holds pipe_holds(int fd, size_t size, char old, char leak)
{
	enum pipe_holds res = HOLDS_OTHER;
	char *buf = malloc(size);
	size_t done = 0;

	if (!buf) {
		ksft_print_msg("malloc() failed\n");
		return HOLDS_OTHER;
	}
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n <= 0)
			break;
		done += n;
	}
	if (done < size)
		ksft_print_msg("the pipe held %zu bytes, expected %zu\n", done, size);
	else if (all_bytes(buf, size, old))
		res = HOLDS_OLD;
	else if (all_bytes(buf, size, leak))
		res = HOLDS_LEAK;
	else if (!expect_bytes("the pipe", buf, size, old))
		ksft_print_msg("the pipe holds neither the spliced data (%#x) nor exactly the later write (%#x)\n",
			       old & 0xff, leak & 0xff);
	free(buf);
	return res;
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

/* Anonymous hugetlb: a write fault reuses a page mapped once (by mapcount). */
static bool reuses_by_mapcount(const struct backend *b, const struct region *r)
{
	return b->anon && page_has_kflag(r->mem, KPF_HUGE);
}

/*
 * The result for what the pipe held: the known hugetlb symptom is an
 * expected failure where the memory is anonymous hugetlb, a failure
 * anywhere else.
 */
static enum result judge(enum pipe_holds got, bool by_mapcount, const char *leak,
			 const char **why)
{
	if (got == HOLDS_OLD)
		return PASS;
	if (got == HOLDS_LEAK) {
		ksft_print_msg("%s\n", leak);
		if (by_mapcount) {
			*why = "anonymous hugetlb decides COW reuse by mapcount, not by reference count (as mainline)";
			return XFAIL;
		}
	}
	return FAIL;
}

/* What a case works with. */
struct splice_case {
	struct region r;
	int p[2];		/* the pipe the pages go through */
	struct comm_pipes cp;	/* parent and child take turns */
	bool by_mapcount;	/* anonymous hugetlb */
};

/*
 * The memory of backend @b and the pipes. PASS when done; SKIP (*why
 * says why) or FAIL (said why) if not. splice_cleanup() after, whatever
 * it returned.
 */
static enum result splice_setup(struct splice_case *s, const struct backend *b,
				const char **why)
{
	s->r = (struct region){ .fd = -1 };
	s->p[0] = s->p[1] = -1;
	s->cp = (struct comm_pipes){ { -1, -1 }, { -1, -1 } };
	*why = b->setup(&s->r);
	if (*why)
		return SKIP;
	s->by_mapcount = reuses_by_mapcount(b, &s->r);
	if (!comm_pipes_setup(&s->cp))
		return FAIL;
	if (pipe(s->p)) {
		ksft_print_msg("pipe() failed: %s\n", strerror(errno));
		s->p[0] = s->p[1] = -1;
		return FAIL;
	}
	return PASS;
}

static void splice_cleanup(struct splice_case *s)
{
	if (s->p[0] >= 0) {
		close(s->p[0]);
		close(s->p[1]);
	}
	comm_pipes_close(&s->cp);
	region_free(&s->r);
}

/* Exit codes of the child that vmsplice()s. */
enum { CHILD_OLD, CHILD_OTHER, CHILD_NO_SPLICE, CHILD_NO_WORD, CHILD_LEAK };

/* In the child: vmsplice(), unmap, and what the pipe holds after the parent's write. */
static int splicing_child(struct splice_case *s)
{
	size_t size = splice_size(&s->r);

	comm_pipes_keep(&s->cp, true);
	if (splice_all(s->p[1], s->r.mem, size)) {
		ksft_print_msg("vmsplice() in the child failed: %s\n", strerror(errno));
		return CHILD_NO_SPLICE;
	}
	munmap(s->r.map, s->r.map_size);
	if (!comm_tell(s->cp.to_parent[1], 'r') || !comm_hear(s->cp.to_child[0], -1))
		return CHILD_NO_WORD;
	switch (pipe_holds(s->p[0], size, s->r.init, 0x22)) {
	case HOLDS_OLD:
		return CHILD_OLD;
	case HOLDS_LEAK:
		return CHILD_LEAK;
	default:
		return CHILD_OTHER;
	}
}

/* The child vmsplice()s and unmaps; the parent's write must not leak. */
static enum result splice_in_child(const struct backend *b, const char **why)
{
	enum pipe_holds got = HOLDS_OTHER;
	struct splice_case s;
	enum result res;
	int status;
	pid_t pid;

	res = splice_setup(&s, b, why);
	if (res != PASS)
		goto out;
	res = FAIL;
	pid = fork();
	if (!pid)
		_exit(splicing_child(&s));
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	/* Only the child writes to us: its exit must end our reads. */
	comm_pipes_keep(&s.cp, false);
	if (comm_hear(s.cp.to_parent[0], -1) != 'r') {
		ksft_print_msg("the child did not get ready (see above)\n");
		waitpid(pid, NULL, 0);
		goto out;
	}
	memset(s.r.mem, 0x22, s.r.size);
	if (!comm_tell(s.cp.to_child[1], 'g')) {
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
		kill_child(pid);
		goto out;
	}
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OLD)
		got = HOLDS_OLD;
	else if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == CHILD_LEAK)
		got = HOLDS_LEAK;
	else
		ksft_print_msg("the child failed (status %#x)\n", status);
	res = judge(got, s.by_mapcount,
		    "the child read the parent's later write through its pipe", why);
out:
	splice_cleanup(&s);
	return res;
}

/* The parent vmsplice()s before fork() and unmaps; the child's write must not leak. */
static enum result splice_before_fork(const struct backend *b, const char **why)
{
	struct splice_case s;
	enum result res;
	int status;
	pid_t pid;

	res = splice_setup(&s, b, why);
	if (res != PASS)
		goto out;
	res = FAIL;
	if (splice_all(s.p[1], s.r.mem, splice_size(&s.r))) {
		ksft_print_msg("vmsplice() failed: %s\n", strerror(errno));
		goto out;
	}
	pid = fork();
	if (!pid) {
		/* Once the parent has unmapped: the child alone maps the page. */
		comm_pipes_keep(&s.cp, true);
		if (!comm_hear(s.cp.to_child[0], -1))
			_exit(1);
		memset(s.r.mem, 0x33, s.r.size);
		_exit(0);
	}
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	comm_pipes_keep(&s.cp, false);
	munmap(s.r.map, s.r.map_size);
	s.r.map = NULL;
	if (!comm_tell(s.cp.to_child[1], 'g')) {
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
		kill_child(pid);
		goto out;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("the child could not write (status %#x)\n", status);
		goto out;
	}
	res = judge(pipe_holds(s.p[0], splice_size(&s.r), s.r.init, 0x33), s.by_mapcount,
		    "the pipe shows the child's write", why);
out:
	splice_cleanup(&s);
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
			enum result res = cases[c].fn(&backends[b], &why);

			report_result(res, why, "%s: %s", backends[b].desc, cases[c].desc);
		}
	}
	finish(false);
}
