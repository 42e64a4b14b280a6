// SPDX-License-Identifier: GPL-2.0
/*
 * hugetlb_split - splitting a hugetlb VMA keeps its memory and takes the
 * locks it must.
 *
 * A hugetlb VMA split at an address that is not PUD-aligned loses the
 * PUD alignment PMD page table sharing needs, so the split must first
 * unshare the shared PMD tables around that address, with the mmap lock,
 * the VMA lock and the file rmap lock (i_mmap_rwsem) held for write: no
 * page fault of ours and no rmap walk of another process may share the
 * table again before the split is done. Mainline does it in
 * hugetlb_split(), from the VMA split path, since 081056dc00a2
 * ("mm/hugetlb: unshare page tables during VMA split, not before",
 * CVE-2025-38084). The 6.1 backport (6.1.142 and later, up to 6.1.192
 * at least) calls hugetlb_split() from __vma_adjust() before it takes
 * i_mmap_lock_write(): the unshare runs without the rmap lock, and every
 * split of a hugetlb VMA trips hugetlb_split()'s lockdep assertion
 * (a WARNING at include/linux/fs.h i_mmap_assert_write_locked(), not a
 * _ONCE one: it repeats at each split).
 *
 * The invariant, per case: the memory keeps its contents through the
 * split and the kernel logs no splat while the case runs. Each case reads
 * the kernel log itself (/dev/kmsg) and marks its start there
 * ("forkpin: case ..."), so the host can tie console splats to it too.
 * Cases: a MAP_SHARED (hugetlb memfd) and a MAP_PRIVATE (anonymous
 * MAP_HUGETLB) mapping split by mprotect() of the first huge page, by
 * munmap() of the last, and by UFFDIO_REGISTER of one in the middle; and
 * a PMD table shared by two processes (x86-64 shares it for MAP_SHARED
 * hugetlb mappings spanning a whole PUD-aligned 1 GiB) with one process
 * splitting its mapping while the other reads: the contents stay, and the
 * splitting process no longer shares the table afterwards.
 *
 * On 6.1 the bug shows only as that lockdep warning: every case skips
 * unless /proc/lockdep_stats says debug_locks 1 (CONFIG_PROVE_LOCKING,
 * lockdep not yet turned off by an earlier splat).
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/userfaultfd.h>

#include "mem_util.h"
#include "report.h"

#define HPAGE		(2UL << 20)
#define MAP_LEN		(4 * HPAGE)
#define PUD_LEN		(1UL << 30)
/* Huge pages the PMD-sharing case touches before the split. */
#define SHARED_TOUCHED	6
/* The page the splitting process touches after it. */
#define SHARED_AFTER	8
/* Free huge pages it needs: those it touches, and one to spare. */
#define SHARED_NEEDED	(SHARED_TOUCHED + 1 + 1)

/* ---- memory with a pattern that names every word's offset ---- */

static uint64_t pattern(size_t off)
{
	return 0x5a5a5a5a00000000ULL ^ (off * 0x9e3779b97f4a7c15ULL);
}

/* Fill [mem + off, mem + off + len) of a mapping at mem. */
static void fill(char *mem, size_t off, size_t len)
{
	size_t i;

	for (i = off; i < off + len; i += sizeof(uint64_t))
		*(uint64_t *)(mem + i) = pattern(i);
}

static bool intact(const char *mem, size_t off, size_t len, const char *what)
{
	size_t i;

	for (i = off; i < off + len; i += sizeof(uint64_t)) {
		if (*(const uint64_t *)(mem + i) != pattern(i)) {
			ksft_print_msg("%s: wrong contents at offset %#zx\n", what, i);
			return false;
		}
	}
	return true;
}

/* The shared case's file through read(): hugetlbfs has read_iter. */
static bool file_intact(int fd, size_t len)
{
	char *buf = malloc(len);
	bool ok = false;

	if (!buf)
		return false;
	if (pread(fd, buf, len, 0) != (ssize_t)len)
		ksft_print_msg("read() of the hugetlb memfd failed: %s\n", strerror(errno));
	else
		ok = intact(buf, 0, len, "the file");
	free(buf);
	return ok;
}

/* ---- one mapping, split three ways ---- */

enum split_how { BY_MPROTECT, BY_MUNMAP, BY_UFFD };

struct hmap {
	char *mem;
	size_t len;	/* still mapped from mem */
	int fd;		/* the memfd of a shared mapping, or -1 */
};

static const char *hmap_create(struct hmap *m, bool shared)
{
	m->mem = NULL;
	m->fd = -1;
	m->len = MAP_LEN;
	if (shared) {
		m->fd = memfd_create("forkpin-hugetlb-split", MFD_HUGETLB);
		if (m->fd < 0)
			return "memfd_create(MFD_HUGETLB) failed (need CONFIG_HUGETLBFS)";
		if (ftruncate(m->fd, MAP_LEN))
			return "ftruncate() of the hugetlb memfd failed";
		m->mem = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	} else {
		m->mem = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	}
	if (m->mem == MAP_FAILED) {
		m->mem = NULL;
		return "mmap() of 8 MiB of hugetlb failed (need 4 free 2 MiB huge pages: /proc/sys/vm/nr_hugepages)";
	}
	fill(m->mem, 0, MAP_LEN);
	return NULL;
}

static void hmap_free(struct hmap *m)
{
	if (m->mem)
		munmap(m->mem, m->len);
	if (m->fd >= 0)
		close(m->fd);
}

/* Register one huge page in the middle with userfaultfd (missing mode). */
static int uffd_split(char *mem, const char **why)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem + HPAGE, .len = HPAGE },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (uffd < 0) {
		*why = "userfaultfd() failed (need CONFIG_USERFAULTFD, root or vm.unprivileged_userfaultfd=1)";
		return -1;
	}
	if (ioctl(uffd, UFFDIO_API, &api)) {
		ksft_print_msg("UFFDIO_API failed after userfaultfd() succeeded: %s\n", strerror(errno));
		close(uffd);
		return -2;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		ksft_print_msg("UFFDIO_REGISTER of a hugetlb range failed: %s\n", strerror(errno));
		close(uffd);
		return -2;
	}
	return uffd;
}

static enum result split_case(bool shared, enum split_how how, const char **why)
{
	enum result res = FAIL;
	struct hmap m;
	int uffd = -1;

	*why = hmap_create(&m, shared);
	if (*why) {
		hmap_free(&m);
		return SKIP;
	}
	switch (how) {
	case BY_MPROTECT:
		/* [0, 2M) read-only, [2M, 8M) as it was. */
		if (mprotect(m.mem, HPAGE, PROT_READ)) {
			ksft_print_msg("mprotect() of the first huge page failed: %s\n", strerror(errno));
			goto out;
		}
		break;
	case BY_MUNMAP:
		if (munmap(m.mem + MAP_LEN - HPAGE, HPAGE)) {
			ksft_print_msg("munmap() of the last huge page failed: %s\n", strerror(errno));
			goto out;
		}
		m.len -= HPAGE;
		break;
	case BY_UFFD:
		uffd = uffd_split(m.mem, why);
		if (uffd == -1)
			res = SKIP;
		if (uffd < 0)
			goto out;
		break;
	}
	/* Every page is mapped: no access here can wait for userfaultfd. */
	if (!intact(m.mem, 0, m.len, "the mapping"))
		goto out;
	/* A shared mapping's file keeps all of it, the unmapped part too. */
	if (shared && !file_intact(m.fd, MAP_LEN))
		goto out;
	res = PASS;
out:
	if (uffd >= 0)
		close(uffd);	/* unregisters: merges the VMAs back */
	hmap_free(&m);
	return res;
}

static enum result shared_mprotect(const char **why) { return split_case(true, BY_MPROTECT, why); }
static enum result shared_munmap(const char **why) { return split_case(true, BY_MUNMAP, why); }
static enum result shared_uffd(const char **why) { return split_case(true, BY_UFFD, why); }
static enum result private_mprotect(const char **why) { return split_case(false, BY_MPROTECT, why); }
static enum result private_munmap(const char **why) { return split_case(false, BY_MUNMAP, why); }
static enum result private_uffd(const char **why) { return split_case(false, BY_UFFD, why); }

/* ---- a PMD table shared by two processes, one splits ---- */

/* 1 GiB of fd, MAP_SHARED at a 1 GiB boundary: PMD-shareable on x86-64. */
static char *map_pud_aligned(int fd)
{
	char *area, *mem;

	area = mmap(NULL, 2 * PUD_LEN, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	mem = (char *)(((uintptr_t)area + PUD_LEN - 1) & ~(PUD_LEN - 1));
	if (mem > area)
		munmap(area, mem - area);
	if (mem + PUD_LEN < area + 2 * PUD_LEN)
		munmap(mem + PUD_LEN, area + 2 * PUD_LEN - (mem + PUD_LEN));
	/* MAP_NORESERVE: only the touched huge pages are ever needed. */
	if (mmap(mem, PUD_LEN, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		munmap(mem, PUD_LEN);
		return NULL;
	}
	return mem;
}

static bool present(const char *addr)
{
	return pagemap_entry(addr) & PM_PRESENT;
}

/*
 * The reader: maps the file, faults one page in - which shares the
 * writer's PMD table - and says whether it did ('S': the writer's other
 * pages show up without a fault, or 'N'). Then it reads all of it in a
 * bounded loop while the writer splits, until told the split is done
 * ('D'), and checks that the page the writer touched after the split is
 * not in its table: the writer no longer shares it. Exits 0 if all held.
 */
static int reader(int fd, struct comm_pipes *p)
{
	size_t touched = SHARED_TOUCHED * HPAGE;
	int to_writer = p->to_parent[1], from_writer = p->to_child[0];
	unsigned int i, rounds = 0;
	bool done = false;
	char *mem;

	if (comm_hear(from_writer, 20000) != 'T') {
		ksft_print_msg("reader: no word from the writer within 20 s\n");
		return 1;
	}
	mem = map_pud_aligned(fd);
	if (!mem) {
		ksft_print_msg("reader: mmap() of 1 GiB at a 1 GiB boundary failed\n");
		comm_tell(to_writer, 'E');
		return 1;
	}
	(void)*(volatile char *)mem;
	for (i = 1; i < SHARED_TOUCHED && present(mem + i * HPAGE); i++)
		;
	comm_tell(to_writer, i == SHARED_TOUCHED ? 'S' : 'N');
	if (i != SHARED_TOUCHED)
		return 0;
	if (!intact(mem, 0, touched, "reader, before the split"))
		return 1;
	comm_tell(to_writer, 'R');
	/* Read while the writer splits: at most 100 rounds, then wait. */
	while (!done && rounds < 100) {
		if (!intact(mem, 0, touched, "reader, during the split"))
			return 1;
		rounds++;
		done = comm_hear(from_writer, 0) == 'D';
	}
	if (!done && comm_hear(from_writer, 20000) != 'D') {
		ksft_print_msg("reader: the writer did not finish its split\n");
		return 1;
	}
	if (!intact(mem, 0, touched, "reader, after the split"))
		return 1;
	if (present(mem + SHARED_AFTER * HPAGE)) {
		ksft_print_msg("the page the writer faulted after its split is in the reader's page table: the split did not unshare the PMD table\n");
		return 1;
	}
	return 0;
}

static enum result pmd_share_split(const char **why)
{
	int fd, status = -1;
	enum result res = FAIL;
	char *mem = NULL, c;
	struct comm_pipes p;
	pid_t pid = -1;
	size_t nfree;

	/*
	 * MAP_NORESERVE reserves nothing: a fault with no free huge page
	 * would be SIGBUS. Both processes fault the same pages of the file.
	 */
	nfree = free_hugetlb_pages();
	if (nfree < SHARED_NEEDED) {
		static char buf[160];

		snprintf(buf, sizeof(buf),
			 "need %d free 2 MiB huge pages, %zu free (/proc/sys/vm/nr_hugepages)",
			 SHARED_NEEDED, nfree);
		*why = buf;
		return SKIP;
	}
	fd = memfd_create("forkpin-pmd-share", MFD_HUGETLB);
	if (fd < 0) {
		*why = "memfd_create(MFD_HUGETLB) failed (need CONFIG_HUGETLBFS)";
		return SKIP;
	}
	if (ftruncate(fd, PUD_LEN)) {
		*why = "ftruncate() of a hugetlb memfd to 1 GiB failed";
		close(fd);
		return SKIP;
	}
	if (!comm_pipes_setup(&p)) {
		close(fd);
		return FAIL;
	}
	/* Before mapping: the reader must map the file itself, not inherit it. */
	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork() failed: %s\n", strerror(errno));
		goto out;
	}
	if (!pid) {
		/* Only the writer holds its ends: either side sees the other die. */
		comm_pipes_keep(&p, true);
		_exit(reader(fd, &p));
	}
	comm_pipes_keep(&p, false);

	mem = map_pud_aligned(fd);
	if (!mem) {
		*why = "mmap() of 1 GiB of hugetlb at a 1 GiB boundary failed";
		res = SKIP;
		goto out;
	}
	fill(mem, 0, SHARED_TOUCHED * HPAGE);
	comm_tell(p.to_child[1], 'T');
	c = comm_hear(p.to_parent[0], 20000);
	if (c == 'N') {
		*why = "the second mapping did not share the PMD page table (needs x86-64 with CONFIG_ARCH_WANT_HUGE_PMD_SHARE)";
		res = SKIP;
		goto out;
	}
	if (c != 'S') {
		ksft_print_msg("the reader did not say whether it shares the PMD table (see above)\n");
		goto out;
	}
	if (comm_hear(p.to_parent[0], 20000) != 'R') {
		ksft_print_msg("the reader did not finish its first read (see above)\n");
		goto out;
	}
	/*
	 * Split at 8 MiB and 10 MiB, inside the shared 1 GiB: both new
	 * boundaries lose the PUD alignment, so the split must unshare.
	 */
	if (mprotect(mem + 4 * HPAGE, HPAGE, PROT_READ)) {
		ksft_print_msg("mprotect() of a huge page in the middle failed: %s\n", strerror(errno));
		goto out;
	}
	/* After the split our faults fill a table of our own. */
	fill(mem, SHARED_AFTER * HPAGE, HPAGE);
	comm_tell(p.to_child[1], 'D');
	if (!intact(mem, 0, SHARED_TOUCHED * HPAGE, "writer, after the split"))
		goto out;
	if (waitpid(pid, &status, 0) != pid) {
		ksft_print_msg("waitpid() failed: %s\n", strerror(errno));
		goto out;
	}
	pid = -1;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		res = PASS;
	else
		ksft_print_msg("the reader failed (status %#x)\n", status);
out:
	kill_child(pid);
	if (mem)
		munmap(mem, PUD_LEN);
	comm_pipes_close(&p);
	close(fd);
	return res;
}

static const struct test_case cases[] = {
	{ "MAP_SHARED hugetlb memfd, mprotect() of the first 2 MiB splits it: contents intact, no kernel splat",
	  shared_mprotect },
	{ "MAP_SHARED hugetlb memfd, munmap() of the last 2 MiB splits it: contents intact, no kernel splat",
	  shared_munmap },
	{ "MAP_SHARED hugetlb memfd, UFFDIO_REGISTER of 2 MiB in the middle splits it: contents intact, no kernel splat",
	  shared_uffd },
	{ "MAP_PRIVATE hugetlb, mprotect() of the first 2 MiB splits it: contents intact, no kernel splat",
	  private_mprotect },
	{ "MAP_PRIVATE hugetlb, munmap() of the last 2 MiB splits it: contents intact, no kernel splat",
	  private_munmap },
	{ "MAP_PRIVATE hugetlb, UFFDIO_REGISTER of 2 MiB in the middle splits it: contents intact, no kernel splat",
	  private_uffd },
	{ "shared PMD table, one process splits its mapping off PUD alignment while another reads: contents intact, table unshared, no kernel splat",
	  pmd_share_split },
};

/*
 * On 6.1 the missing rmap lock shows only as hugetlb_split()'s lockdep
 * assertion (WARN_ON(debug_locks && ...)): without lockdep, or once
 * lockdep turned itself off, no case could fail.
 */
static const char *lockdep_missing(void)
{
	static const char *why =
		"needs lockdep (CONFIG_PROVE_LOCKING) with debug_locks 1: on 6.1 the bug shows only as a lockdep warning";
	FILE *f = fopen("/proc/lockdep_stats", "r");
	char line[256];
	int val = -1;

	if (!f)
		return why;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " debug_locks: %d", &val) == 1)
			break;
	fclose(f);
	return val == 1 ? NULL : why;
}

int main(void)
{
	mem_init();
	/* No case may block for long: SIGALRM ends the program. */
	run_cases(cases, ARRAY_SIZE(cases), lockdep_missing(), true, 120);
}
