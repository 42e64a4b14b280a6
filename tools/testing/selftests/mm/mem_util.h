/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory backends and page-state probes for the forkpin selftests: each
 * backend maps some memory in one well-defined state (anonymous base page,
 * swapped out, PMD- or PTE-mapped THP, hugetlb, KSM, private file mapping,
 * shared zeropage, ...) and says why when it cannot.
 */
#ifndef __FORKPIN_MEM_UTIL_H
#define __FORKPIN_MEM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a test case found. */
enum result { PASS, FAIL, SKIP };

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
};

extern const struct backend backends[];
extern const unsigned int nr_backends;

/* Call once: page sizes, THP and hugetlb availability. */
void mem_init(void);
void region_free(struct region *r);
/* Private anonymous memory of @size at an @align boundary (0: any). */
const char *map_anon(struct region *r, size_t size, size_t align, int flags);

/* /proc/self/pagemap bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_SOFT_DIRTY		(1ULL << 55)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_SWAP			(1ULL << 62)
#define PM_PRESENT		(1ULL << 63)

/* /proc/self/pagemap and /proc/kpageflags probes; false if unknown. */
bool read_pagemap(const void *addr, size_t pages, uint64_t *ent);
uint64_t pagemap_entry(const void *addr);
bool page_is_swapped(const void *addr);
bool page_is_exclusive(const void *addr);
bool page_has_kflag(const void *addr, int kpf);

bool all_bytes(const char *mem, size_t size, char val);

/*
 * Splits the PMD that maps the THP at @addr by making one page of it
 * read-only and writable again; the THP stays, mapped by PTEs.
 */
bool split_pmd(void *addr);

#endif /* __FORKPIN_MEM_UTIL_H */
