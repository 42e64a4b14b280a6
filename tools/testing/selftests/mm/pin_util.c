// SPDX-License-Identifier: GPL-2.0
/* Long-term pins from userspace; see pin_util.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "../kselftest.h"
#include "pin_util.h"

static int gup_fd = -1;

int pin_open(const char **why)
{
	gup_fd = open(GUP_TEST_FILE, O_RDWR);
	if (gup_fd < 0) {
		if (errno == EACCES || errno == EPERM)
			*why = "need root to open " GUP_TEST_FILE;
		else
			*why = "no " GUP_TEST_FILE
			       " (need CONFIG_GUP_TEST=y and debugfs mounted)";
		return -1;
	}
	/*
	 * STOP with no pins held is a no-op where the ioctls exist; kernels
	 * without them answer EINVAL to the unknown command.
	 */
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP)) {
		*why = errno == EINVAL ?
		       "gup_test has no PIN_LONGTERM_TEST ioctls (kernel lacks forkpin gup_test patch)" :
		       "PIN_LONGTERM_TEST_STOP failed unexpectedly";
		close(gup_fd);
		gup_fd = -1;
		return -1;
	}
	return 0;
}

int pin_start(void *mem, size_t size, unsigned int flags)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem,
		.size = size,
		.flags = flags,
	};

	return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args);
}

int pin_read(void *buf)
{
	__u64 addr = (uintptr_t)buf;

	return ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &addr);
}

int pin_stop(void)
{
	return ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
}

int run_pin_cases(const struct pin_case *cases, unsigned int nr)
{
	const char *missing = NULL;
	unsigned int i;

	ksft_print_header();
	ksft_set_plan(nr);
	pin_open(&missing);
	for (i = 0; i < nr; i++) {
		const char *why = NULL;

		if (missing) {
			ksft_test_result_skip("%s (%s)\n", cases[i].desc, missing);
			continue;
		}
		switch (cases[i].fn(&why)) {
		case PASS:
			ksft_test_result_pass("%s\n", cases[i].desc);
			break;
		case FAIL:
			ksft_test_result_fail("%s\n", cases[i].desc);
			break;
		case SKIP:
			ksft_test_result_skip("%s (%s)\n", cases[i].desc, why);
			break;
		}
	}
	ksft_print_cnts();
	if (ksft_get_fail_cnt())
		return KSFT_FAIL;
	return missing ? KSFT_SKIP : KSFT_PASS;
}
