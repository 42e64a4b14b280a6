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

#include "report.h"

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

/*
 * Pin [mem, mem + size) long-term; flags are PIN_LONGTERM_TEST_FLAG_*.
 * pin_start() says what failed and why (errno kept); pin_try_start() is
 * silent, for a caller that expects the failure.
 */
int pin_start(void *mem, size_t size, unsigned int flags);
int pin_try_start(void *mem, size_t size, unsigned int flags);
/* Copy what the kernel sees through the pins into buf (size bytes). */
int pin_read(void *buf);
/*
 * pin_holds - whether the first @size bytes seen through the pins are all
 * @val; if not, says what is seen (or why it cannot be read).
 */
bool pin_holds(size_t size, char val);
/* Drop the pins (none held: a no-op); says why if it fails. */
int pin_stop(void);

/*
 * run_pin_cases - run_cases() for cases that need gup_test pins: every
 * case skips, saying why, where the kernel lacks the ioctls.
 */
static inline void __attribute__((noreturn))
run_pin_cases(const struct test_case *cases, unsigned int nr)
{
	const char *missing = NULL;

	pin_open(&missing);
	run_cases(cases, nr, missing, false, 0);
}

#endif /* __FORKPIN_PIN_UTIL_H */
