/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Long-term pins from userspace through gup_test's PIN_LONGTERM_TEST_*
 * ioctls, for the forkpin selftests.
 *
 * mm/gup_test.h is not a uapi header, so the definitions are carried here,
 * guarded, with the numbers and layout mainline uses: the tests build
 * against any tree and run on any kernel that has the ioctls (mainline, or
 * 6.1 with forkpin's gup_test patch).
 */
#ifndef __FORKPIN_PIN_UTIL_H
#define __FORKPIN_PIN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#include "mem_util.h"

#ifndef PIN_LONGTERM_TEST_START
struct pin_longterm_test {
	__u64 addr;
	__u64 size;
	__u32 flags;
};
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, __u64)
#define PIN_LONGTERM_TEST_FLAG_USE_WRITE	1
#define PIN_LONGTERM_TEST_FLAG_USE_FAST		2
#endif

#define GUP_TEST_FILE "/sys/kernel/debug/gup_test"

/*
 * pin_open - open gup_test and check it has the long-term pin ioctls.
 *
 * Returns 0, or -1 with *why set to a sentence naming what is missing and
 * how to get it (the caller skips with it).
 */
int pin_open(const char **why);

/* Pin [mem, mem + size) long-term; flags are PIN_LONGTERM_TEST_FLAG_*. */
int pin_start(void *mem, size_t size, unsigned int flags);
/* Copy what the kernel sees through the pins into buf (size bytes). */
int pin_read(void *buf);
/* Drop the pins. */
int pin_stop(void);

/* A test case that needs gup_test pins; fn sets *why when it skips. */
struct pin_case {
	const char *desc;
	enum result (*fn)(const char **why);
};

/*
 * run_pin_cases - the whole kselftest run of a table of pin cases: header,
 * plan, one result line per case (every case skipped, saying why, where
 * the kernel lacks the ioctls). Returns the kselftest exit code.
 */
int run_pin_cases(const struct pin_case *cases, unsigned int nr);

#endif /* __FORKPIN_PIN_UTIL_H */
