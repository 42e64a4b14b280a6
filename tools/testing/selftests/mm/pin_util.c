// SPDX-License-Identifier: GPL-2.0
/* Long-term pins from userspace; see pin_util.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

int pin_try_start(void *mem, size_t size, unsigned int flags)
{
	struct pin_longterm_test args = {
		.addr = (uintptr_t)mem,
		.size = size,
		.flags = flags,
	};

	return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args);
}

int pin_start(void *mem, size_t size, unsigned int flags)
{
	int ret = pin_try_start(mem, size, flags);

	if (ret)
		ksft_print_msg("PIN_LONGTERM_TEST_START of %zu bytes at %p (%s%s) failed: %s\n",
			       size, mem, flags & PIN_LONGTERM_TEST_FLAG_USE_WRITE ? "R/W" : "R/O",
			       flags & PIN_LONGTERM_TEST_FLAG_USE_FAST ? ", GUP-fast" : "",
			       strerror(errno));
	return ret;
}

int pin_read(void *buf)
{
	__u64 addr = (uintptr_t)buf;

	return ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &addr);
}

bool pin_holds(size_t size, char val)
{
	char *buf = malloc(size);
	bool ok = false;

	if (!buf)
		ksft_print_msg("malloc() of %zu bytes failed\n", size);
	else if (pin_read(buf))
		ksft_print_msg("PIN_LONGTERM_TEST_READ failed: %s\n", strerror(errno));
	else
		ok = expect_bytes("through the pin", buf, size, val);
	free(buf);
	return ok;
}

int pin_stop(void)
{
	int ret = ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);

	if (ret)
		ksft_print_msg("PIN_LONGTERM_TEST_STOP failed: %s\n", strerror(errno));
	return ret;
}
