// SPDX-License-Identifier: GPL-2.0
/* Memory backends and page-state probes; see mem_util.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>

#include "../kselftest.h"
#include "mem_util.h"

size_t pagesize, thpsize, hugetlbsize;
unsigned int scale = 1;

/* The number after "@key:" or "@key " at the start of @line. */
static bool key_value(const char *line, const char *key, long *val)
{
	size_t len = strlen(key);

	if (strncmp(line, key, len))
		return false;
	line += len;
	if (*line == ':')
		line++;
	else if (*line != ' ' && *line != '\t')
		return false;
	return sscanf(line, "%ld", val) == 1;
}

bool read_key(const char *path, const char *key, long *val)
{
	FILE *f = fopen(path, "r");
	bool found = false;
	char line[512];

	if (!f)
		return false;
	if (!key)
		found = fscanf(f, "%ld", val) == 1;
	while (key && !found && fgets(line, sizeof(line), f))
		found = key_value(line, key, val);
	fclose(f);
	return found;
}

bool write_file(const char *path, const char *val)
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

static bool sysfs_has(const char *path, const char *word)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	bool ret;

	if (!f)
		return false;
	ret = fgets(buf, sizeof(buf), f) && strstr(buf, word);
	fclose(f);
	return ret;
}

size_t free_hugetlb_pages(void)
{
	long n;

	return read_key("/proc/meminfo", "HugePages_Free", &n) && n > 0 ? n : 0;
}

void mem_init(void)
{
	const char *env = getenv("FORKPIN_SCALE");
	long val;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (env && atoi(env) > 0)
		scale = atoi(env);
	pagesize = getpagesize();
	thpsize = read_key("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", NULL, &val) &&
		  val > 0 ? val : 0;
	hugetlbsize = 2 * 1024 * 1024;
}

bool read_pagemap(const void *addr, size_t pages, uint64_t *ent)
{
	ssize_t want = pages * sizeof(*ent);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, ent, want, (uintptr_t)addr / pagesize * sizeof(*ent)) == want;
	close(fd);
	return ok;
}

uint64_t pagemap_entry(const void *addr)
{
	uint64_t ent;

	return read_pagemap(addr, 1, &ent) ? ent : 0;
}

bool split_pmd(void *addr)
{
	return !mprotect(addr, pagesize, PROT_READ) &&
	       !mprotect(addr, pagesize, PROT_READ | PROT_WRITE);
}

/* Kernel reports that fail a case: scripts/verdict.py's SPLAT, keep in sync. */
static const char splat_re[] =
	"(BUG:|WARNING:|Oops|kernel BUG at|general protection fault|"
	"Kernel panic|UBSAN:|KASAN:|KFENCE:|possible circular locking|"
	"inconsistent lock state|INFO: task .* blocked for more than|"
	"rcu: INFO: .*detected stalls|Unable to handle kernel|"
	"Huh VM_FAULT_OOM leaked out to the #PF handler)";

int kmsg_mark_case(const char *desc)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK), w;
	char marker[512];
	size_t len;

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	snprintf(marker, sizeof(marker), "forkpin: case %s\n", desc);
	len = strlen(marker);
	/* A writer per marker: /dev/kmsg rate-limits each open file. */
	w = open("/dev/kmsg", O_WRONLY);
	if (w >= 0) {
		if (write(w, marker, len) != (ssize_t)len)
			fprintf(stderr, "writing the case marker to /dev/kmsg failed\n");
		close(w);
	}
	return fd;
}

const char *kmsg_unreadable(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return "cannot read the kernel log /dev/kmsg (need root, CONFIG_PRINTK)";
	close(fd);
	return NULL;
}

bool kmsg_splat_since(int fd, char *line, size_t size)
{
	static regex_t splat;
	static bool compiled;
	char rec[8192], *msg, *end;
	ssize_t n;

	if (fd < 0)
		return false;
	if (!compiled) {
		if (regcomp(&splat, splat_re, REG_EXTENDED | REG_NOSUB))
			return false;
		compiled = true;
	}
	/* One record per read: "prio,seq,usec,flags;message\n" + " KEY=val" lines. */
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten under us: read on */
		if (n <= 0)
			return false;	/* EAGAIN: nothing more logged */
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		end = strchr(msg, '\n');
		if (end)
			*end = 0;
		/* The markers name cases, whatever their words. */
		if (!strncmp(msg, "forkpin: ", 9))
			continue;
		if (!regexec(&splat, msg, 0, NULL, 0)) {
			snprintf(line, size, "%s", msg);
			return true;
		}
	}
}

bool page_is_swapped(const void *addr)
{
	return pagemap_entry(addr) & PM_SWAP;
}

bool page_is_exclusive(const void *addr)
{
	return pagemap_entry(addr) & PM_MMAP_EXCLUSIVE;
}

bool page_has_kflag(const void *addr, int kpf)
{
	uint64_t ent = pagemap_entry(addr), flags = 0;
	int fd;

	if (!(ent & PM_PRESENT) || !(ent & PM_PFN_MASK))
		return false;	/* not present, or no PFNs for non-root */
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0)
		return false;
	if (pread(fd, &flags, sizeof(flags), (ent & PM_PFN_MASK) * sizeof(flags)) != sizeof(flags))
		flags = 0;
	close(fd);
	return flags & (1ULL << kpf);
}

long smaps_kb(const void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long start, end;
	bool in = false;
	char line[512];
	long val = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* "start-end perms offset dev inode path" opens a mapping's entry. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			if (in)
				break;
			in = start <= (uintptr_t)addr && (uintptr_t)addr < end;
			continue;
		}
		if (in && key_value(line, field, &val))
			break;
	}
	fclose(f);
	return val;
}

bool all_bytes(const char *mem, size_t size, char val)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (mem[i] != val)
			return false;
	return true;
}

bool expect_bytes(const char *what, const char *mem, size_t size, char val)
{
	size_t i;

	for (i = 0; i < size; i++) {
		if (mem[i] != val) {
			ksft_print_msg("%s: byte %zu of %zu is %#x, expected %#x\n",
				       what, i, size, mem[i] & 0xff, val & 0xff);
			return false;
		}
	}
	return true;
}

void kill_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

bool comm_pipes_setup(struct comm_pipes *p)
{
	p->to_parent[0] = p->to_parent[1] = p->to_child[0] = p->to_child[1] = -1;
	if (!pipe(p->to_parent) && !pipe(p->to_child))
		return true;
	ksft_print_msg("pipe() failed: %s\n", strerror(errno));
	comm_pipes_close(p);
	return false;
}

void comm_pipes_keep(struct comm_pipes *p, bool child)
{
	close_fd(child ? &p->to_parent[0] : &p->to_parent[1]);
	close_fd(child ? &p->to_child[1] : &p->to_child[0]);
}

void comm_pipes_close(struct comm_pipes *p)
{
	close_fd(&p->to_parent[0]);
	close_fd(&p->to_parent[1]);
	close_fd(&p->to_child[0]);
	close_fd(&p->to_child[1]);
}

bool comm_send(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len;
}

bool comm_recv(int fd, void *buf, size_t len, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = poll(&pfd, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			return false;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

bool comm_tell(int fd, char c)
{
	return comm_send(fd, &c, 1);
}

char comm_hear(int fd, int ms)
{
	char c;

	return comm_recv(fd, &c, 1, ms) ? c : 0;
}

void region_free(struct region *r)
{
	if (r->map && r->map != MAP_FAILED)
		munmap(r->map, r->map_size);
	if (r->fd >= 0)
		close(r->fd);
	r->map = NULL;
	r->fd = -1;
}

const char *map_anon(struct region *r, size_t size, size_t align, int flags)
{
	r->map_size = size + align;
	r->map = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return "mmap() failed";
	}
	r->mem = align ? (char *)(((uintptr_t)r->map + align - 1) & ~(align - 1)) : r->map;
	r->size = size;
	return NULL;
}

/* Touch every page for reading: maps the shared zeropage where it can. */
static void read_fault(struct region *r)
{
	size_t i;

	for (i = 0; i < r->size; i += pagesize)
		(void)*(volatile char *)(r->mem + i);
}

static const char *setup_base(struct region *r)
{
	const char *why = map_anon(r, scale * pagesize, 0, 0);

	if (why)
		return why;
	madvise(r->mem, r->size, MADV_NOHUGEPAGE);
	r->init = 0x11;
	memset(r->mem, r->init, r->size);
	return NULL;
}

static const char *setup_swapped(struct region *r)
{
	const char *why = setup_base(r);

	if (why)
		return why;
	if (madvise(r->mem, r->size, MADV_PAGEOUT))
		return "MADV_PAGEOUT failed (kernel older than 5.4?)";
	if (!page_is_swapped(r->mem))
		return "MADV_PAGEOUT did not swap the page out (need swap, e.g. zram)";
	return NULL;
}

static const char *setup_thp(struct region *r)
{
	const char *why;

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	if (sysfs_has("/sys/kernel/mm/transparent_hugepage/enabled", "[never]"))
		return "THP is disabled (transparent_hugepage/enabled is never)";
	why = map_anon(r, thpsize, thpsize, 0);
	if (why)
		return why;
	madvise(r->mem, r->size, MADV_HUGEPAGE);
	r->init = 0x11;
	memset(r->mem, r->init, r->size);
	if (!page_has_kflag(r->mem, KPF_THP))
		return "could not get a THP (memory fragmented?)";
	return NULL;
}

/* Split the PMD mapping; the THP stays, mapped by PTEs. */
static const char *setup_pte_thp(struct region *r)
{
	const char *why = setup_thp(r);

	if (why)
		return why;
	if (!split_pmd(r->mem + pagesize))
		return "mprotect() failed";
	if (!page_has_kflag(r->mem, KPF_THP))
		return "the THP did not survive the PMD split";
	return NULL;
}

/* Only the first PTE of a THP left mapped. */
static const char *setup_single_pte_thp(struct region *r)
{
	const char *why = setup_pte_thp(r);

	if (why)
		return why;
	if (madvise(r->mem + pagesize, thpsize - pagesize, MADV_DONTNEED))
		return "MADV_DONTNEED failed";
	r->size = pagesize;
	if (!page_has_kflag(r->mem, KPF_THP))
		return "the remaining PTE no longer maps a THP";
	return NULL;
}

static const char *setup_hugetlb(struct region *r)
{
	if (free_hugetlb_pages() < 2)
		return "need 2 free 2 MiB huge pages (hugepages=N on the command line or /proc/sys/vm/nr_hugepages)";
	if (map_anon(r, hugetlbsize, 0, MAP_HUGETLB))
		return "mmap(MAP_HUGETLB) failed (no 2 MiB huge pages?)";
	r->init = 0x11;
	memset(r->mem, r->init, r->size);
	return NULL;
}

static const char *setup_ksm(struct region *r)
{
	const char *run = "/sys/kernel/mm/ksm/run";
	bool restored;
	long was;
	char old;
	int i, fd;

	if (access(run, W_OK))
		return "need KSM (CONFIG_KSM) and root";
	/* Two identical pages: KSM merges them into one. */
	if (map_anon(r, 2 * pagesize, 0, 0))
		return "mmap() failed";
	madvise(r->mem, r->size, MADV_NOHUGEPAGE);
	r->init = 0x11;
	memset(r->mem, r->init, r->size);
	if (madvise(r->mem, r->size, MADV_MERGEABLE))
		return "MADV_MERGEABLE failed";
	/* Run ksmd until the pages are merged, then leave it as it was. */
	if (!read_key(run, NULL, &was))
		was = 0;
	fd = open(run, O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		if (fd >= 0)
			close(fd);
		return "cannot start ksmd";
	}
	for (i = 0; i < 500 && !page_has_kflag(r->mem, KPF_KSM); i++)
		usleep(10000);
	old = '0' + was;
	restored = was == 1 || pwrite(fd, &old, 1, 0) == 1;
	close(fd);
	if (!restored)
		return "cannot restore /sys/kernel/mm/ksm/run";
	r->size = pagesize;
	if (!page_has_kflag(r->mem, KPF_KSM))
		return "KSM did not merge the page within 5 s";
	return NULL;
}

static const char *map_file_private(struct region *r, int fd, size_t size)
{
	char *buf;

	r->fd = fd;
	r->init = 0x11;
	buf = malloc(size);
	if (!buf)
		return "malloc() failed";
	memset(buf, r->init, size);
	if (ftruncate(fd, size) || pwrite(fd, buf, size, 0) != (ssize_t)size) {
		free(buf);
		return "cannot fill the file";
	}
	free(buf);
	r->map_size = r->size = size;
	r->map = r->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return "mmap(MAP_PRIVATE) of the file failed";
	}
	read_fault(r);
	return NULL;
}

static const char *setup_memfd(struct region *r)
{
	int fd = memfd_create("forkpin", 0);

	if (fd < 0)
		return "memfd_create() failed";
	return map_file_private(r, fd, pagesize);
}

static const char *setup_tmpfile(struct region *r)
{
	int fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);

	if (fd < 0)
		return "open(/tmp, O_TMPFILE) failed";
	return map_file_private(r, fd, pagesize);
}

static const char *setup_hugetlb_memfd(struct region *r)
{
	char *shared;
	int fd;

	if (free_hugetlb_pages() < 2)
		return "need 2 free 2 MiB huge pages (hugepages=N on the command line or /proc/sys/vm/nr_hugepages)";
	fd = memfd_create("forkpin-hugetlb", MFD_HUGETLB);
	if (fd < 0)
		return "memfd_create(MFD_HUGETLB) failed";
	r->fd = fd;
	if (ftruncate(fd, hugetlbsize))
		return "ftruncate() of the hugetlb memfd failed";
	/* hugetlbfs has no write(): fill it through a shared mapping. */
	shared = mmap(NULL, hugetlbsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shared == MAP_FAILED)
		return "mmap(MAP_SHARED) of the hugetlb memfd failed";
	r->init = 0x11;
	memset(shared, r->init, hugetlbsize);
	munmap(shared, hugetlbsize);
	r->map_size = r->size = hugetlbsize;
	r->map = r->mem = mmap(NULL, hugetlbsize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return "mmap(MAP_PRIVATE) of the hugetlb memfd failed";
	}
	read_fault(r);
	return NULL;
}

#define SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

static char *pmd_align(char *addr)
{
	return (char *)(((uintptr_t)addr + thpsize - 1) & ~(thpsize - 1));
}

/*
 * A shmem file of @size in r->fd: on a tmpfs of its own mounted with
 * huge=always (root), so no global setting changes; else a memfd, which
 * follows transparent_hugepage/shmem_enabled.
 */
static const char *shmem_thp_file(struct region *r, size_t size)
{
	char dir[] = "/tmp/forkpin-shmem-XXXXXX", path[64];

	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	if (sysfs_has(SHMEM_ENABLED, "[deny]"))
		return "shmem THPs are off (transparent_hugepage/shmem_enabled is deny)";
	if (mkdtemp(dir)) {
		if (!mount("tmpfs", dir, "tmpfs", 0, "huge=always")) {
			snprintf(path, sizeof(path), "%s/thp", dir);
			r->fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
			unlink(path);
			/* The open file keeps the detached tmpfs alive. */
			umount2(dir, MNT_DETACH);
		}
		rmdir(dir);
	}
	if (r->fd < 0) {
		if (sysfs_has(SHMEM_ENABLED, "[never]"))
			return "no shmem THPs: cannot mount a tmpfs with huge=always (need root) and transparent_hugepage/shmem_enabled is never";
		r->fd = memfd_create("forkpin-shmem-thp", 0);
		if (r->fd < 0)
			return "memfd_create() failed";
	}
	if (ftruncate(r->fd, size))
		return "ftruncate() of the shmem file failed";
	return NULL;
}

/* Puts the file's THPs in the page cache: written through a PMD-aligned shared mapping. */
static const char *shmem_thp_fill(struct region *r, size_t size)
{
	size_t len = size + thpsize, i;
	const char *why = NULL;
	char *res, *mem;

	res = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return "mmap() failed";
	mem = pmd_align(res);
	if (mmap(mem, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, r->fd, 0) == MAP_FAILED) {
		why = "mmap(MAP_SHARED) of the shmem file failed";
	} else {
		madvise(mem, size, MADV_HUGEPAGE);
		memset(mem, r->init, size);
		for (i = 0; i < size && !why; i += thpsize)
			if (!page_has_kflag(mem + i, KPF_THP))
				why = "no shmem THP: kernel built with BASE_SMALL (MAX_PAGECACHE_ORDER below the PMD order), or memory fragmented";
	}
	munmap(res, len);
	return why;
}

const char *map_shmem_thps(struct region *r, unsigned int nr, bool shared, bool pte)
{
	size_t size = nr * thpsize, pages = size / pagesize, i;
	const char *why = shmem_thp_file(r, size);
	uint64_t *ent;
	long pmd_kb;

	if (why)
		return why;
	r->init = 0x11;
	why = shmem_thp_fill(r, size);
	if (why)
		return why;
	r->map_size = size + 2 * thpsize;
	r->map = mmap(NULL, r->map_size, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return "mmap() failed";
	}
	r->mem = pmd_align(r->map) + (pte ? pagesize : 0);
	r->size = size;
	if (mmap(r->mem, r->size, PROT_READ | PROT_WRITE,
		 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, r->fd, 0) == MAP_FAILED)
		return "mmap() of the shmem file failed";
	if (!pte)
		madvise(r->mem, r->size, MADV_HUGEPAGE);
	if (shared)
		memset(r->mem, r->init, r->size);
	else
		read_fault(r);

	for (i = 0; i < size; i += thpsize)
		if (!page_has_kflag(r->mem + i, KPF_THP) ||
		    !page_has_kflag(r->mem + i + thpsize - pagesize, KPF_THP))
			return "the mapping does not map the shmem THPs (split since?)";
	pmd_kb = smaps_kb(r->mem, "ShmemPmdMapped");
	if (pmd_kb < 0)
		return "no ShmemPmdMapped in /proc/self/smaps (need CONFIG_PROC_PAGE_MONITOR)";
	if (!pte)
		return pmd_kb == (long)(size >> 10) ? NULL :
		       "the shmem THP is not PMD-mapped (ShmemPmdMapped in /proc/self/smaps)";
	if (pmd_kb)
		return "a shmem THP is PMD-mapped at a misaligned address";
	ent = malloc(pages * sizeof(*ent));
	if (!ent || !read_pagemap(r->mem, pages, ent)) {
		free(ent);
		return "cannot read /proc/self/pagemap";
	}
	for (i = 0; i < pages && (ent[i] & PM_PRESENT); i++)
		;
	free(ent);
	return i == pages ? NULL : "a page of the shmem THP is not mapped by a PTE";
}

static const char *setup_shmem_thp(struct region *r, bool shared, bool pte)
{
	return map_shmem_thps(r, 1, shared, pte);
}

/* Only the first PTE of a shmem THP left mapped. */
static const char *setup_shmem_single_pte(struct region *r, bool shared)
{
	const char *why = setup_shmem_thp(r, shared, true);

	if (why)
		return why;
	if (madvise(r->mem + pagesize, thpsize - pagesize, MADV_DONTNEED))
		return "MADV_DONTNEED failed";
	r->size = pagesize;
	if (pagemap_entry(r->mem + pagesize) & PM_PRESENT)
		return "MADV_DONTNEED left the second PTE mapped";
	if (!page_has_kflag(r->mem, KPF_THP))
		return "the remaining PTE no longer maps a shmem THP";
	return NULL;
}

static const char *setup_shmem_thp_shared(struct region *r)
{
	return setup_shmem_thp(r, true, false);
}

static const char *setup_shmem_pte_thp_shared(struct region *r)
{
	return setup_shmem_thp(r, true, true);
}

static const char *setup_shmem_single_pte_shared(struct region *r)
{
	return setup_shmem_single_pte(r, true);
}

static const char *setup_shmem_thp_private(struct region *r)
{
	return setup_shmem_thp(r, false, false);
}

static const char *setup_shmem_pte_thp_private(struct region *r)
{
	return setup_shmem_thp(r, false, true);
}

static const char *setup_shmem_single_pte_private(struct region *r)
{
	return setup_shmem_single_pte(r, false);
}

static const char *setup_zeropage(struct region *r)
{
	if (map_anon(r, pagesize, 0, 0))
		return "mmap() failed";
	madvise(r->mem, r->size, MADV_NOHUGEPAGE);
	r->init = 0;
	read_fault(r);
	if (!page_has_kflag(r->mem, KPF_ZERO_PAGE))
		return "a read fault did not map the shared zeropage";
	return NULL;
}

static const char *setup_huge_zeropage(struct region *r)
{
	if (!thpsize)
		return "need THP (CONFIG_TRANSPARENT_HUGEPAGE)";
	if (!sysfs_has("/sys/kernel/mm/transparent_hugepage/use_zero_page", "1"))
		return "the huge zeropage is off (transparent_hugepage/use_zero_page)";
	if (map_anon(r, thpsize, thpsize, 0))
		return "mmap() failed";
	madvise(r->mem, r->size, MADV_HUGEPAGE);
	r->init = 0;
	read_fault(r);
	if (!page_has_kflag(r->mem, KPF_ZERO_PAGE) || !page_has_kflag(r->mem, KPF_THP))
		return "a read fault did not map the huge zeropage";
	return NULL;
}

const struct backend backends[] = {
	{ "anonymous base page", setup_base, true, false },
	{ "swapped-out anonymous page", setup_swapped, true, false },
	{ "PMD-mapped THP", setup_thp, true, false },
	{ "PTE-mapped THP", setup_pte_thp, true, false },
	{ "single PTE of a THP", setup_single_pte_thp, true, false },
	{ "hugetlb (2 MiB)", setup_hugetlb, true, false },
	{ "KSM-merged page", setup_ksm, true, false },
	{ "private memfd mapping", setup_memfd, false, false },
	{ "private tmpfile mapping", setup_tmpfile, false, false },
	{ "private hugetlb memfd mapping", setup_hugetlb_memfd, false, false },
	{ "shared zeropage", setup_zeropage, false, false },
	{ "huge zeropage", setup_huge_zeropage, false, false },
	{ "shared shmem THP mapping (PMD-mapped)", setup_shmem_thp_shared, false, true },
	{ "shared shmem THP mapping (PTE-mapped)", setup_shmem_pte_thp_shared, false, true },
	{ "shared shmem THP mapping (single PTE)", setup_shmem_single_pte_shared, false, true },
	{ "private shmem THP mapping (PMD-mapped)", setup_shmem_thp_private, false, false },
	{ "private shmem THP mapping (PTE-mapped)", setup_shmem_pte_thp_private, false, false },
	{ "private shmem THP mapping (single PTE)", setup_shmem_single_pte_private, false, false },
};

const unsigned int nr_backends = sizeof(backends) / sizeof(backends[0]);

#define CGROOT "/sys/fs/cgroup"

bool cg_self(char *path, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512], *nl;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		snprintf(path, size, "%s%s", CGROOT, strcmp(line + 3, "/") ? line + 3 : "");
		found = true;
	}
	fclose(f);
	return found;
}

const char *memcg_create(const char *parent, const char *name, char *cg, size_t size)
{
	char path[1024];

	cg[0] = 0;
	if (access(CGROOT "/cgroup.controllers", R_OK)) {
		mkdir(CGROOT, 0755);
		if (mount("cgroup2", CGROOT, "cgroup2", 0, NULL))
			return "need cgroup2 at " CGROOT " (mount -t cgroup2 none " CGROOT ")";
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
	/* Fails where it is on already or cannot be: memory.current tells. */
	write_file(path, "+memory");
	snprintf(cg, size, "%s/%s", parent, name);
	if (mkdir(cg, 0755) && errno != EEXIST) {
		cg[0] = 0;
		return "cannot create a cgroup (need root)";
	}
	snprintf(path, sizeof(path), "%s/memory.current", cg);
	if (access(path, R_OK)) {
		rmdir(cg);
		cg[0] = 0;
		return "no memory.current in a child cgroup (need CONFIG_MEMCG, +memory in the parent's cgroup.subtree_control)";
	}
	return NULL;
}

bool cg_join(const char *cg)
{
	char path[1024], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(path, pid))
		return true;
	ksft_print_msg("cannot move the process into %s: %s\n", cg, strerror(errno));
	return false;
}

long cg_kb(const char *cg, const char *file)
{
	char path[1024];
	long val;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return read_key(path, NULL, &val) ? val >> 10 : -1;
}

int mkfs_ext(const char *dev)
{
	int status, null;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("mke2fs", "mke2fs", "-F", "-b", "4096", dev, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}
