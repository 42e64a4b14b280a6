/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory backends and page-state probes for the forkpin selftests: each
 * backend maps some memory in one well-defined state (anonymous base page,
 * swapped out, PMD- or PTE-mapped THP, hugetlb, KSM, private file mapping,
 * shmem THP in a shared or private mapping, shared zeropage, ...) and says
 * why when it cannot. Also the small helpers every test program needs:
 * /proc and sysfs values, pipes between a parent and its child, the
 * kernel log. How a case reports its result: report.h.
 */
#ifndef __FORKPIN_MEM_UTIL_H
#define __FORKPIN_MEM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

/* Older C libraries: the values are the kernel's uapi ones. */
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

extern size_t pagesize, thpsize, hugetlbsize;

/*
 * FORKPIN_SCALE=N (default 1) makes the runs N times larger: more pages
 * per base-page case, more race rounds, more memory under the memcg limit.
 * The default is sized for QEMU/TCG; use 16 or more on real hardware.
 */
extern unsigned int scale;

/* The memory under test. */
struct region {
	char *map;		/* what to munmap() */
	size_t map_size;
	char *mem;		/* the part the test uses */
	size_t size;
	int fd;			/* backing file, or -1 */
	char init;		/* the content it starts with */
};

struct backend {
	const char *desc;
	/* Returns NULL, or why the backend cannot be set up (a skip). */
	const char *(*setup)(struct region *r);
	/* Private anonymous memory (the R/O pin variants on shared anon apply). */
	bool anon;
	/*
	 * A MAP_SHARED mapping: fork() shares it, nothing is copied, and
	 * every write - the parent's, the child's, a device's through a
	 * pin - is seen by all of them.
	 */
	bool shared;
};

extern const struct backend backends[];
extern const unsigned int nr_backends;

/*
 * Call once, first: page sizes, THP and hugetlb availability, FORKPIN_SCALE;
 * stdout line-buffered, so that a test that crashes the kernel keeps its
 * output.
 */
void mem_init(void);
/* HugePages_Free from /proc/meminfo (0 if unknown). */
size_t free_hugetlb_pages(void);

/*
 * read_key - the number after @key in a "key: value" or "key value" file
 * (/proc/meminfo, /proc/vmstat, /proc/self/status, ...), or with @key NULL
 * the number a file holds (sysfs, debugfs, /proc/sys, cgroup files): the
 * one reader of /proc and sysfs values. False if the file or key is
 * missing.
 */
bool read_key(const char *path, const char *key, long *val);
/* Writes @val to the file @path (sysfs, /proc/sys, cgroup files); false if not all of it. */
bool write_file(const char *path, const char *val);
void region_free(struct region *r);
/* Private anonymous memory of @size at an @align boundary (0: any). */
const char *map_anon(struct region *r, size_t size, size_t align, int flags);

/* /proc/self/pagemap bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_SOFT_DIRTY		(1ULL << 55)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_UFFD_WP		(1ULL << 57)
#define PM_SWAP			(1ULL << 62)
#define PM_PRESENT		(1ULL << 63)

/* /proc/self/pagemap and /proc/kpageflags probes; false if unknown. */
bool read_pagemap(const void *addr, size_t pages, uint64_t *ent);
uint64_t pagemap_entry(const void *addr);
bool page_is_swapped(const void *addr);
bool page_is_exclusive(const void *addr);
bool page_has_kflag(const void *addr, int kpf);
/*
 * The "<field>: N kB" value of the /proc/self/smaps entry of the mapping
 * that contains @addr (e.g. "ShmemPmdMapped"); -1 if unknown.
 */
long smaps_kb(const void *addr, const char *field);

bool all_bytes(const char *mem, size_t size, char val);
/*
 * expect_bytes - all_bytes(), and where not, says what differs: "<what>:
 * byte N is X, expected Y".
 */
bool expect_bytes(const char *what, const char *mem, size_t size, char val);

/* SIGKILL and reap a child; nothing for pid <= 0 (no child, or fork() failed). */
void kill_child(pid_t pid);

/*
 * Pipes between a test process and the child it forks (the handshake of
 * mainline's cow.c, comm_pipes): to_parent carries the child's messages
 * (ready, a step's outcome, a report or verdict), to_child the parent's
 * (go). After fork() each side keeps only the ends it uses
 * (comm_pipes_keep()): the other side's death then ends its reads (EOF)
 * instead of leaving it waiting.
 */
struct comm_pipes {
	int to_parent[2];
	int to_child[2];
};

/* Returns false, saying why and leaving nothing open, if a pipe cannot be made. */
bool comm_pipes_setup(struct comm_pipes *p);
/* After fork(): close the other side's ends (@child: we are the child). */
void comm_pipes_keep(struct comm_pipes *p, bool child);
/* Close whatever is still open; safe to call twice. */
void comm_pipes_close(struct comm_pipes *p);
/*
 * @len bytes over one pipe end; comm_recv() waits at most @ms ms for
 * each part (-1: no limit). False on error, EOF or timeout.
 */
bool comm_send(int fd, const void *buf, size_t len);
bool comm_recv(int fd, void *buf, size_t len, int ms);
/* One-byte messages (non-zero); comm_hear() returns 0 on EOF, error or timeout. */
bool comm_tell(int fd, char c);
char comm_hear(int fd, int ms);

/*
 * map_shmem_thps - @nr shmem THPs, mapped MAP_SHARED or MAP_PRIVATE.
 *
 * The THPs are the pages of a file of their own (r->fd) on a private
 * tmpfs mounted with huge=always (needs root; no global setting changes)
 * or else a memfd under transparent_hugepage/shmem_enabled, filled with
 * r->init (0x11) through a shared mapping. They are mapped PMD-mapped at
 * a PMD-aligned address or, with @pte, one page past one, where file
 * offset and address disagree modulo the PMD size: no PMD can map them
 * and every fault maps PTEs of the large folio (a split PMD of a file THP
 * is only zapped, so the next fault would map the PMD again). The mapping
 * is populated by writes if shared, by reads if private (a write would
 * COW). Verified: every THP is one (kpageflags) and smaps' ShmemPmdMapped
 * covers them all (PMD) or is 0 with every page mapped (@pte).
 * Returns NULL, or why the kernel cannot give them (a skip).
 */
const char *map_shmem_thps(struct region *r, unsigned int nr, bool shared, bool pte);

/*
 * Splits the PMD that maps the THP at @addr by making one page of it
 * read-only and writable again; the THP stays, mapped by PTEs.
 */
bool split_pmd(void *addr);

/*
 * The kernel log during a test case, through /dev/kmsg (needs root).
 * kmsg_mark_case() writes "forkpin: case <desc>" to the kernel log - the
 * host attributes console splats to the case by it - and returns a reader
 * of /dev/kmsg at the end of the log, or -1 if the log cannot be read.
 * kmsg_splat_since() reads the records logged since the marker (or since
 * its last call) and copies the first kernel splat - a record
 * scripts/verdict.py's SPLAT matches - into line; false if there is none.
 * Close the reader after. kmsg_unreadable() says why the log cannot be
 * read, or returns NULL.
 */
int kmsg_mark_case(const char *desc);
bool kmsg_splat_since(int fd, char *line, size_t size);
const char *kmsg_unreadable(void);

/*
 * cgroup2 for a test's own memory cgroup. cg_self: this process's cgroup2
 * directory into @path. memcg_create: the child @name of @parent with the
 * memory controller (cgroup2 mounted at /sys/fs/cgroup first if nothing
 * is there, +memory in @parent's subtree_control) into @cg; NULL, or why
 * not, naming what is missing (a skip). cg_join: moves this process into
 * @cg, or says why not. cg_kb: a cgroup file's value in kB, -1 if unknown.
 */
bool cg_self(char *path, size_t size);
const char *memcg_create(const char *parent, const char *name, char *cg, size_t size);
bool cg_join(const char *cg);
long cg_kb(const char *cg, const char *file);

/*
 * mkfs_ext - mke2fs -F -b 4096 @dev (busybox's or e2fsprogs', found in
 * PATH, quietly): its exit status, 127 if there is none, -1 if it could
 * not be run. An ext2 image, which ext4 mounts too.
 */
int mkfs_ext(const char *dev);

#endif /* __FORKPIN_MEM_UTIL_H */
