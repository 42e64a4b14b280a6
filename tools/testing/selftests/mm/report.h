/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How a forkpin selftest reports its cases and ends: one TAP line per case
 * (pass; fail, after messages that say what was expected and what was
 * seen; skip, with what is missing and how to get it; xfail, for the exact
 * symptom of a known limitation the test declares itself), and one exit
 * code for the whole program (finish()).
 *
 * 6.1's kselftest.h keeps its counters and its plan in static variables,
 * so every file that includes it has a set of its own: a function in
 * mem_util.c or pin_util.c that called ksft_test_result_*() would count
 * into a set that the program's ksft_print_cnts() and exit code never
 * read. Whatever counts results or reads the counts is therefore a static
 * inline function here, compiled into the program that printed the plan.
 * ksft_print_msg() counts nothing: the .c helpers use it freely.
 */
#ifndef __FORKPIN_REPORT_H
#define __FORKPIN_REPORT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../kselftest.h"
#include "mem_util.h"

/* What a test case found. */
enum result {
	PASS,
	FAIL,
	SKIP,
	/* The failure of a known limitation, declared by the test (why says which). */
	XFAIL,
};

/* A result sent from a case process to the process that reports it. */
struct verdict {
	enum result res;
	char why[200];
};

/*
 * report_result - the TAP line of one case, described by @fmt: "ok",
 * "not ok", "ok # SKIP <desc> (<why>)" or, for XFAIL, a message with @why
 * (the known limitation) and "ok # XFAIL <desc>". The description is the
 * case's name: the same whatever the result.
 */
static inline void __attribute__((format(printf, 3, 4)))
report_result(enum result res, const char *why, const char *fmt, ...)
{
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	switch (res) {
	case PASS:
		ksft_test_result_pass("%s\n", desc);
		break;
	case SKIP:
		ksft_test_result_skip("%s (%s)\n", desc, why ? why : "no reason given");
		break;
	case XFAIL:
		ksft_print_msg("expected failure: %s\n", why ? why : "no reason given");
		ksft_test_result_xfail("%s\n", desc);
		break;
	case FAIL:
	default:
		ksft_test_result_fail("%s\n", desc);
		break;
	}
}

/*
 * finish - print the totals and end the program with the one exit code
 * convention of the forkpin tests: KSFT_FAIL if a case failed, if fewer
 * or more results than planned were reported, or if @failed (a problem
 * outside any case, said before); else KSFT_SKIP if every case skipped
 * (nothing was tested: the kernel or the system lacks what the cases
 * need, as their skip lines say); else KSFT_PASS, expected failures
 * (XFAIL) included.
 */
static inline void __attribute__((noreturn)) finish(bool failed)
{
	ksft_print_cnts();
	if (failed || ksft_get_fail_cnt() || ksft_get_error_cnt() ||
	    ksft_test_num() != ksft_plan)
		exit(KSFT_FAIL);
	if (ksft_get_xskip_cnt() == (int)ksft_plan)
		exit(KSFT_SKIP);
	exit(KSFT_PASS);
}

/* A test case; fn sets *why when it skips or fails as a known limitation. */
struct test_case {
	const char *desc;
	enum result (*fn)(const char **why);
};

/*
 * run_cases - the whole kselftest run of a table of cases: header, plan,
 * one result line per case, finish().
 *  @missing: if set, every case skips with it (what the program lacks).
 *  @kmsg: each case marks its start in the kernel log (kmsg_mark_case())
 *	and fails on a kernel splat logged while it ran; where /dev/kmsg
 *	cannot be read, every case skips.
 *  @timeout: if not 0, seconds a case may take: alarm() around it, whose
 *	SIGALRM ends the program (for cases that do not bound themselves).
 */
static inline void __attribute__((noreturn))
run_cases(const struct test_case *cases, unsigned int nr, const char *missing,
	  bool kmsg, unsigned int timeout)
{
	unsigned int i;

	ksft_print_header();
	ksft_set_plan(nr);
	if (!missing && kmsg)
		missing = kmsg_unreadable();
	for (i = 0; i < nr; i++) {
		const char *why = NULL;
		enum result res;
		char splat[256];
		int fd = -1;

		if (missing) {
			report_result(SKIP, missing, "%s", cases[i].desc);
			continue;
		}
		if (kmsg)
			fd = kmsg_mark_case(cases[i].desc);
		if (timeout)
			alarm(timeout);
		res = cases[i].fn(&why);
		if (timeout)
			alarm(0);
		/* A splat fails the case, whatever else it found. */
		if (kmsg_splat_since(fd, splat, sizeof(splat))) {
			ksft_print_msg("kernel splat during the case: %s\n", splat);
			res = FAIL;
		}
		if (fd >= 0)
			close(fd);
		report_result(res, why, "%s", cases[i].desc);
	}
	finish(false);
}

#endif /* __FORKPIN_REPORT_H */
