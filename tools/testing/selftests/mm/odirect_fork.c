// SPDX-License-Identifier: GPL-2.0
/*
 * odirect_fork - direct I/O in flight across fork() must land in the
 * parent's memory, on every path that maps user pages for block I/O.
 *
 * A read in flight holds the pages it maps. If fork() shares such a page
 * COW, the parent's next write to it - anywhere in the page, not where the
 * read goes - moves the parent to a copy, and the device writes the old
 * page, now the child's: the parent never sees its data. fork() copies a
 * page for the child up front instead when the page may be pinned
 * (MMF_HAS_PINNED and page_maybe_dma_pinned(); mainline's "mm: Do early
 * cow for pinned pages during fork() for ptes"), so the parent keeps the
 * page the device writes; plain references (FOLL_GET) are invisible to it.
 * 6.1's block layer maps user pages with references (iov_iter_get_pages2())
 * on every path, so base loses the data. The series makes them pin pages
 * (FOLL_PIN) for user-backed iterators (ITER_IOVEC, ITER_UBUF), as
 * mainline v6.5 did, and fixes it on:
 *  - bio_iov_iter_get_pages(): raw block devices and iomap filesystems
 *    such as ext4 ("block: Convert bio_iov_iter_get_pages to use
 *    iov_iter_extract_pages");
 *  - bio_map_user_iov(): SG_IO and other passthrough ("block: convert
 *    bio_map_user_iov to use iov_iter_extract_pages"), with "block: fix
 *    pin count management when merging same-page segments": two segments
 *    in one page merge into one bvec, and only one pin may stay;
 *  - fs/direct-io.c, still used by ext2 ("block: Use
 *    iov_iter_extract_pages() and page pinning in direct-io.c").
 * Kernel-backed iterators (ITER_BVEC, ITER_PIPE, ...) keep references.
 *
 * The cases (base / patched: expected result):
 *  1. raw device, AIO read, no fork(): the data lands (pass / pass, the
 *     control).
 *  2. raw device, AIO read in flight across fork(), the parent writes the
 *     page's second half: the parent has the data (fail / pass).
 *  3. the same with MADV_DONTFORK on the buffer, the documented
 *     workaround (pass / pass).
 *  4. raw device, pread() sleeping in a thread while the main thread
 *     forks and writes (fail / pass).
 *  5. raw device, one readv() of 2 MiB (the first half of each of 1024
 *     pages: several bios of BIO_MAX_VECS), the parent writes every page's
 *     second half: every page has its data (fail / pass).
 *  6. raw device, io_uring IORING_OP_READ (fail / pass).
 *  7. raw device, io_uring IORING_OP_READ_FIXED into a registered buffer,
 *     long-term pinned on both kernels: fork() copies it for the child
 *     (pass / pass, the control).
 *  8. a file on ext4 (iomap direct I/O), AIO O_DIRECT read (fail / pass).
 *  9. a file on ext2 (fs/direct-io.c), AIO O_DIRECT read (fail / pass).
 * 10. SG_IO READ(10) of 4 sectors into two iovecs in one page, [0, 1024)
 *     and [1024, 2048), the parent writes [2048, 4096): the parent has the
 *     data, and once it completed the pins are balanced again: the
 *     same-page merge (fail / pass).
 * 11. ITER_PIPE guard: splice() and sendfile() from an O_DIRECT-opened
 *     ext4 file (6.1 reads it through a pipe iterator) to a pipe and to a
 *     file, within the file, across EOF (the file is not a multiple of
 *     the page size) and from past EOF: exactly the file's bytes, and no
 *     kernel splat - KASAN, in the debug kernel, catches a use-after-free
 *     (pass / pass).
 * 12. O_DIRECT writes, the other direction of the same paths: the pages
 *     are the source, pinned read-only (from read-only mappings here, so
 *     that a pin for writing would fail). The raw device: an AIO write of
 *     a page of a pattern, and a write from the shared zero page (an
 *     anonymous page read, never written), read back from the RAM disk
 *     under it. An ext4 and an ext2 file: an AIO overwrite of a block
 *     with the pattern, a write from the shared zero page, and a 512-byte
 *     write at 512 into a new block past EOF, after a hole, that the
 *     filesystem must zero around (fs/direct-io.c's dio_zero_block() adds
 *     the zero page to the bio for it, iomap's iomap_dio_zero() too); read
 *     back through the file with O_DIRECT and, for the zeroed block's part
 *     past EOF, from the RAM disk (FIBMAP). The disks are filled with DATA
 *     before mke2fs, so a block that is allocated and not zeroed shows it.
 *     After each write completed the pins are balanced again (pass / pass).
 * 13. pin accounting while an I/O is in flight: nr_foll_pin_acquired in
 *     /proc/vmstat (vm.stat_refresh first) has risen by at least the pages
 *     the I/O maps, on each path of cases 1-10 and 12 but the registered
 *     buffer, which pins nothing per read (fail / pass: base pins nothing).
 * 14. pin accounting after each I/O of cases 1-12 completed:
 *     nr_foll_pin_acquired - nr_foll_pin_released is back where it was
 *     before the I/O (polled for a while: unpinning may follow the
 *     completion) (pass / pass).
 * Cases 13 and 14 sum up what the earlier cases measured, one line per
 * path, and name the paths that are off.
 *
 * Determinism: the fork() and the parent's write must come after the read
 * mapped its pages and before the device wrote a byte, every time, or
 * base would pass by chance. The raw and filesystem reads go to a
 * dm-delay target over a RAM disk (brd), whose table delays reads by
 * DELAY_MS and writes not at all (so that setup, mkfs and mounting are
 * fast; case 12 swaps in a write delay of DELAY_MS for its AIO writes);
 * dm-delay's status counts the reads and writes it holds, and one held
 * there has its pages mapped (before submit_bio()) and nothing copied
 * (brd copies when the bio reaches it). scsi_debug writes the data when the
 * command is dispatched and delays only the completion, so the SG_IO read
 * is held before dispatch: the disk's queue depth is 1 and a first command
 * (a delayed READ into another buffer) holds the slot, while the measured
 * SG_IO thread sleeps in blk_execute_rq(), its pages mapped. Each fork
 * case waits for the read to be held (and a reading thread to sleep, state
 * D), forks, writes, and then checks that the read is still held: if not,
 * the round tested nothing and fails, saying so.
 *
 * Needs root, brd (/dev/ram0-2), dm-delay, a scsi_debug disk for case 10,
 * ext4 and ext2 and a mke2fs (busybox's will do) for cases 8, 9 and 11;
 * what is missing skips the cases that need it, saying so. Everything it
 * sets up (mounts, dm devices, scsi_debug's delay and queue depth) is
 * undone at exit, on a timeout too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/aio_abi.h>
#include <linux/dm-ioctl.h>
#include <linux/kernel-page-flags.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "mem_util.h"
#include "report.h"

#define DELAY_MS	300
/* The small reads: into the start of the page. */
#define IO_SIZE		512
/* The large read: one iovec per page (UIO_MAXIOV is 1024). */
#define LARGE_PAGES	1024
/* FORKPIN_SCALE=N (mem_util's scale): N times as many rounds. */
#define ROUNDS		(3 * scale)
/* Bounds: a read held, a read completed, pins released, a case. */
#define HELD_MS		5000
#define DONE_MS		10000
#define UNPIN_MS	3000
#define CASE_TIMEOUT	120

#define DATA		0x55	/* on the devices */
#define OLD		0x11	/* the buffer before the read */
#define PARENT		0x22	/* the parent's write after fork() */

/* mkfs_ext()'s block size: a page on x86 (case 12's sub-block write needs both). */
#define FS_BLOCK	4096
/* <linux/fs.h> clashes with <sys/mount.h>: the file's block on its device. */
#ifndef FIBMAP
#define FIBMAP		_IO(0x00, 1)
#endif

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- pins, as /proc/vmstat counts them ---- */

static bool pin_counters = true;

/* nr_foll_pin_acquired and _released, per-CPU deltas folded first. */
static bool pin_counts(long *acq, long *rel)
{
	long a, r;

	if (!pin_counters)
		return false;
	if (!write_file("/proc/sys/vm/stat_refresh", "1"))
		ksft_print_msg("vm.stat_refresh failed: %s\n", strerror(errno));
	if (!read_key("/proc/vmstat", "nr_foll_pin_acquired", &a) ||
	    !read_key("/proc/vmstat", "nr_foll_pin_released", &r)) {
		ksft_print_msg("no nr_foll_pin_acquired/released in /proc/vmstat\n");
		pin_counters = false;
		return false;
	}
	if (acq)
		*acq = a;
	if (rel)
		*rel = r;
	return true;
}

static bool pins_held(long *held)
{
	long acq, rel;

	if (!pin_counts(&acq, &rel))
		return false;
	*held = acq - rel;
	return true;
}

/* What the cases measured, per path, for the pin accounting cases. */
enum path {
	P_RAW_AIO, P_RAW_PREAD, P_RAW_LARGE, P_URING, P_URING_FIXED,
	P_EXT4, P_EXT2, P_SG_IO, P_RAW_WRITE, P_EXT4_WRITE, P_EXT2_WRITE, P_PIPE,
	NR_PATHS
};

static struct path_stats {
	const char *name;
	/* Each I/O pins the pages it maps (not a registered buffer, not a pipe). */
	bool pins;
	unsigned int measured, short_reads;
	long expected, fewest;
	unsigned int checked, unbalanced;
	long worst_left;
} paths[NR_PATHS] = {
	[P_RAW_AIO]	= { "raw device, AIO (bio_iov_iter_get_pages)", true },
	[P_RAW_PREAD]	= { "raw device, pread() (bio_iov_iter_get_pages)", true },
	[P_RAW_LARGE]	= { "raw device, 2 MiB readv (bio_iov_iter_get_pages, several bios)", true },
	[P_URING]	= { "raw device, io_uring READ (bio_iov_iter_get_pages)", true },
	[P_URING_FIXED]	= { "raw device, io_uring READ_FIXED (registered buffer)", false },
	[P_EXT4]	= { "ext4 file, AIO (iomap)", true },
	[P_EXT2]	= { "ext2 file, AIO (fs/direct-io.c)", true },
	[P_SG_IO]	= { "SG_IO, two iovecs in one page (bio_map_user_iov)", true },
	[P_RAW_WRITE]	= { "raw device, O_DIRECT writes (bio_iov_iter_get_pages)", true },
	[P_EXT4_WRITE]	= { "ext4 file, O_DIRECT writes (iomap)", true },
	[P_EXT2_WRITE]	= { "ext2 file, O_DIRECT writes incl. dio_zero_block() (fs/direct-io.c)", true },
	[P_PIPE]	= { "splice()/sendfile() from an O_DIRECT ext4 file (ITER_PIPE)", false },
};

static void note_pinned(enum path p, long pinned, long expected)
{
	struct path_stats *s = &paths[p];

	if (!s->measured || pinned < s->fewest)
		s->fewest = pinned;
	s->expected = expected;
	s->measured++;
	if (pinned < expected)
		s->short_reads++;
}

/*
 * Polls until the pins held in the system are back at @before, for at most
 * UNPIN_MS; counts the outcome for @p. False if they are not (said).
 */
static bool pins_balanced(enum path p, long before)
{
	long long end = now_ms() + UNPIN_MS;
	long held;

	if (!pins_held(&held))
		return true;	/* nothing to check: counted as not measured */
	while (held != before && now_ms() < end) {
		usleep(20000);
		if (!pins_held(&held))
			return true;
	}
	paths[p].checked++;
	if (held == before)
		return true;
	paths[p].unbalanced++;
	if (labs(held - before) > labs(paths[p].worst_left))
		paths[p].worst_left = held - before;
	ksft_print_msg("%s: %ld pins (acquired - released) left %d ms after the I/O completed\n",
		       paths[p].name, held - before, UNPIN_MS);
	return false;
}

/* ---- dm-delay over a RAM disk ---- */

#define DM_BUF	16384

struct ddev {
	const char *name;	/* the dm device's */
	const char *ram;	/* the RAM disk under it */
	dev_t ram_dev;
	unsigned long long sectors;
	char node[64];		/* /dev/dm-N */
	bool created;
	bool tried;
	const char *why;
	char why_buf[160];
};

static int dm_ctl = -1;

/*
 * One DM ioctl on device @name, with a dm-delay table of @params if set;
 * the whole answer into @out (DM_BUF bytes) if set.
 */
static int dm_ioctl(const char *name, unsigned long cmd, unsigned int flags,
		    unsigned long long sectors, const char *params, void *out)
{
	char buf[DM_BUF] __attribute__((aligned(8))) = { 0 };
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	struct dm_target_spec *spec = (struct dm_target_spec *)(io + 1);

	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = sizeof(buf);
	io->data_start = sizeof(*io);
	io->flags = flags;
	snprintf(io->name, sizeof(io->name), "%s", name);
	if (params) {
		io->target_count = 1;
		spec->sector_start = 0;
		spec->length = sectors;
		snprintf(spec->target_type, sizeof(spec->target_type), "delay");
		snprintf((char *)(spec + 1), 256, "%s", params);
		spec->next = 0;
	}
	if (ioctl(dm_ctl, cmd, io))
		return -1;
	if (out)
		memcpy(out, buf, sizeof(buf));
	return 0;
}

/*
 * Loads and activates the table: reads from the RAM disk delayed by
 * @read_ms, writes (and flushes) by @write_ms (0: not delayed). On a live
 * device this swaps the table (without freezing a filesystem on it).
 */
static bool dm_load(struct ddev *d, int read_ms, int write_ms)
{
	char params[128];

	snprintf(params, sizeof(params), "%u:%u 0 %d %u:%u 0 %d",
		 major(d->ram_dev), minor(d->ram_dev), read_ms,
		 major(d->ram_dev), minor(d->ram_dev), write_ms);
	return !dm_ioctl(d->name, DM_TABLE_LOAD, 0, d->sectors, params, NULL) &&
	       !dm_ioctl(d->name, DM_DEV_SUSPEND, DM_SKIP_LOCKFS_FLAG, 0, NULL, NULL);
}

/*
 * The reads, or with @writes the writes, dm-delay holds now (its status:
 * "reads writes flushes"), -1 if unknown.
 */
static long dm_held(struct ddev *d, bool writes)
{
	char buf[DM_BUF] __attribute__((aligned(8)));
	struct dm_ioctl *io = (struct dm_ioctl *)buf;
	struct dm_target_spec *spec;
	long reads, nr_writes;

	if (dm_ioctl(d->name, DM_TABLE_STATUS, 0, 0, NULL, buf) || io->target_count < 1)
		return -1;
	spec = (struct dm_target_spec *)(buf + io->data_start);
	if (sscanf((char *)(spec + 1), "%ld %ld", &reads, &nr_writes) != 2)
		return -1;
	return writes ? nr_writes : reads;
}

static void dm_destroy(struct ddev *d)
{
	if (!d->created)
		return;
	d->created = false;
	/* Still open (a timeout): removed when the last user closes it. */
	if (dm_ioctl(d->name, DM_DEV_REMOVE, 0, 0, NULL, NULL))
		dm_ioctl(d->name, DM_DEV_REMOVE, DM_DEFERRED_REMOVE, 0, NULL, NULL);
}

/*
 * A dm-delay device over d->ram, reads delayed by @read_ms; with @fill,
 * the RAM disk is first filled with DATA. NULL, or why not.
 */
static const char *dm_setup(struct ddev *d, int read_ms, bool fill)
{
	struct dm_ioctl io;
	char buf[DM_BUF] __attribute__((aligned(8)));
	struct stat st;
	off_t size, off;
	char *data;
	int fd, i;

	fd = open(d->ram, O_RDWR | O_DIRECT | O_EXCL);
	if (fd < 0 && errno == EBUSY) {
		snprintf(d->why_buf, sizeof(d->why_buf), "%s is in use", d->ram);
		return d->why_buf;
	}
	if (fd < 0) {
		snprintf(d->why_buf, sizeof(d->why_buf),
			 "need RAM disk %s (CONFIG_BLK_DEV_RAM=y, or modprobe brd rd_nr=3)", d->ram);
		return d->why_buf;
	}
	size = lseek(fd, 0, SEEK_END);
	if (fstat(fd, &st) || size < (off_t)(LARGE_PAGES * pagesize / 2)) {
		close(fd);
		snprintf(d->why_buf, sizeof(d->why_buf), "%s is smaller than %zu KiB",
			 d->ram, LARGE_PAGES * pagesize / 2 / 1024);
		return d->why_buf;
	}
	d->ram_dev = st.st_rdev;
	d->sectors = size / 512;
	data = fill ? aligned_alloc(pagesize, 1 << 20) : NULL;
	if (data)
		memset(data, DATA, 1 << 20);
	for (off = 0; data && off + (1 << 20) <= size; off += 1 << 20) {
		if (pwrite(fd, data, 1 << 20, off) != 1 << 20) {
			free(data);
			close(fd);
			return "cannot write the RAM disk";
		}
	}
	free(data);
	close(fd);
	if (fill && !data)
		return "aligned_alloc() failed";

	if (dm_ctl < 0)
		dm_ctl = open("/dev/mapper/control", O_RDWR);
	if (dm_ctl < 0)
		return "need device-mapper (CONFIG_BLK_DEV_DM, /dev/mapper/control)";
	/* A leftover of an earlier run. */
	dm_ioctl(d->name, DM_DEV_REMOVE, 0, 0, NULL, NULL);
	if (dm_ioctl(d->name, DM_DEV_CREATE, 0, 0, NULL, buf)) {
		snprintf(d->why_buf, sizeof(d->why_buf), "DM_DEV_CREATE %s failed: %s",
			 d->name, strerror(errno));
		return d->why_buf;
	}
	d->created = true;
	memcpy(&io, buf, sizeof(io));
	if (!dm_load(d, read_ms, 0))
		return "cannot load a dm-delay table (need CONFIG_DM_DELAY)";
	snprintf(d->node, sizeof(d->node), "/dev/dm-%u", minor(io.dev));
	/* devtmpfs creates the node; give it a moment. */
	for (i = 0; i < 200 && access(d->node, F_OK); i++)
		usleep(10000);
	if (access(d->node, F_OK))
		return "no device node for the dm-delay target (need devtmpfs)";
	return NULL;
}

/* ---- filesystems on dm-delay ---- */

struct fs {
	const char *type;
	struct ddev dev;
	char mnt[64];
	bool mounted;
	bool tried;
	const char *why;
	char why_buf[160];
};

static struct ddev raw = { .name = "forkpin-delay", .ram = "/dev/ram0" };
static struct fs ext4 = { .type = "ext4", .dev = { .name = "forkpin-ext4", .ram = "/dev/ram1" } };
static struct fs ext2 = { .type = "ext2", .dev = { .name = "forkpin-ext2", .ram = "/dev/ram2" } };

/* The splice case's file: not a multiple of the page size. */
static size_t pipe_file_size(void)
{
	return 3 * pagesize + 1000;
}

static char pattern(size_t i)
{
	return (char)(i % 251 + 1);
}

static bool create_file(const char *dir, const char *name, const char *data, size_t size)
{
	char path[128];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return false;
	ok = write(fd, data, size) == (ssize_t)size && !fsync(fd);
	close(fd);
	return ok;
}

/*
 * An ext2 image (mke2fs) on a dm-delay device, mounted as f->type, with
 * "data" (a page of DATA) and "splice" (pattern(), pipe_file_size()
 * bytes); the reads delayed only once they are written. The RAM disk is
 * filled with DATA first: a block allocated later and neither written nor
 * zeroed reads back DATA, not the zeros of a fresh RAM disk. NULL, or why
 * not.
 */
static const char *fs_setup(struct fs *f)
{
	size_t size = pipe_file_size(), i;
	const char *why;
	char *buf;
	int ret;

	if (f->tried)
		return f->why;
	f->tried = true;
	why = dm_setup(&f->dev, 0, true);
	if (why)
		return f->why = why;
	ret = mkfs_ext(f->dev.node);
	if (ret == 127)
		return f->why = "need mke2fs in PATH (busybox or e2fsprogs)";
	if (ret) {
		snprintf(f->why_buf, sizeof(f->why_buf), "mke2fs %s failed (%d)", f->dev.node, ret);
		return f->why = f->why_buf;
	}
	snprintf(f->mnt, sizeof(f->mnt), "/tmp/odirect_fork-%s-XXXXXX", f->type);
	if (!mkdtemp(f->mnt)) {
		f->mnt[0] = 0;
		return f->why = "cannot create a mount point in /tmp";
	}
	if (mount(f->dev.node, f->mnt, f->type, MS_NOATIME, NULL)) {
		snprintf(f->why_buf, sizeof(f->why_buf), "mount -t %s failed: %s (need CONFIG_%s_FS=y)",
			 f->type, strerror(errno), f->type == ext4.type ? "EXT4" : "EXT2");
		return f->why = f->why_buf;
	}
	f->mounted = true;
	buf = malloc(size > pagesize ? size : pagesize);
	if (!buf)
		return f->why = "malloc() failed";
	memset(buf, DATA, pagesize);
	ret = create_file(f->mnt, "data", buf, pagesize);
	for (i = 0; i < size; i++)
		buf[i] = pattern(i);
	ret = ret && create_file(f->mnt, "splice", buf, size);
	free(buf);
	if (!ret)
		return f->why = "cannot write the test files";
	if (!dm_load(&f->dev, DELAY_MS, 0))
		return f->why = "cannot reload the dm-delay table with the read delay";
	return f->why = NULL;
}

static void fs_cleanup(struct fs *f)
{
	if (f->mounted) {
		f->mounted = false;
		if (umount(f->mnt))
			umount2(f->mnt, MNT_DETACH);
	}
	if (f->mnt[0]) {
		rmdir(f->mnt);
		f->mnt[0] = 0;
	}
	dm_destroy(&f->dev);
}

/* ---- a scsi_debug disk ---- */

#define SDEBUG	"/sys/bus/pseudo/drivers/scsi_debug"
#define SG_DELAY_NS	"300000000"

static struct {
	bool tried;
	const char *why;
	char node[64];
	char busy[PATH_MAX], qdepth[PATH_MAX];
	long old_delay, old_ndelay, old_qdepth;
	bool delay_set, qdepth_set;
} sd;

static const char *sd_setup(void)
{
	char *name;
	glob_t g;
	char *buf;
	long val;
	bool ok;
	int fd;

	if (sd.tried)
		return sd.why;
	sd.tried = true;
	if (glob(SDEBUG "/adapter*/host*/target*/*/block/*", 0, NULL, &g) || !g.gl_pathc) {
		globfree(&g);
		return sd.why = "need a scsi_debug disk (CONFIG_SCSI_DEBUG=y, or modprobe scsi_debug)";
	}
	name = strrchr(g.gl_pathv[0], '/') + 1;
	snprintf(sd.node, sizeof(sd.node), "/dev/%s", name);
	snprintf(sd.busy, sizeof(sd.busy), "/sys/block/%s/device/device_busy", name);
	snprintf(sd.qdepth, sizeof(sd.qdepth), "/sys/block/%s/device/queue_depth", name);
	globfree(&g);
	if (!read_key(SDEBUG "/delay", NULL, &sd.old_delay) ||
	    !read_key(SDEBUG "/ndelay", NULL, &sd.old_ndelay) ||
	    !read_key(sd.qdepth, NULL, &sd.old_qdepth) || !read_key(sd.busy, NULL, &val))
		return sd.why = "cannot read scsi_debug's delay, ndelay or the disk's queue_depth, device_busy";

	/* The data, written before the delay. */
	fd = open(sd.node, O_RDWR | O_DIRECT);
	buf = aligned_alloc(pagesize, pagesize);
	ok = fd >= 0 && buf;
	if (ok) {
		memset(buf, DATA, pagesize);
		ok = pwrite(fd, buf, pagesize, 0) == (ssize_t)pagesize;
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	if (!ok)
		return sd.why = "cannot write the scsi_debug disk";

	sd.qdepth_set = true;
	if (!write_file(sd.qdepth, "1") || !read_key(sd.qdepth, NULL, &val) || val != 1)
		return sd.why = "cannot set the scsi_debug disk's queue_depth to 1";
	sd.delay_set = true;
	if (!write_file(SDEBUG "/ndelay", SG_DELAY_NS))
		return sd.why = "cannot set scsi_debug's ndelay";
	return sd.why = NULL;
}

static void sd_cleanup(void)
{
	char num[32];

	if (sd.delay_set) {
		sd.delay_set = false;
		/* ndelay, when set, overrides delay (jiffies); writing delay clears ndelay. */
		if (sd.old_ndelay > 0) {
			snprintf(num, sizeof(num), "%ld", sd.old_ndelay);
			write_file(SDEBUG "/ndelay", num);
		} else {
			snprintf(num, sizeof(num), "%ld", sd.old_delay);
			write_file(SDEBUG "/delay", num);
		}
	}
	if (sd.qdepth_set) {
		sd.qdepth_set = false;
		snprintf(num, sizeof(num), "%ld", sd.old_qdepth);
		write_file(sd.qdepth, num);
	}
}

static void cleanup(void)
{
	fs_cleanup(&ext4);
	fs_cleanup(&ext2);
	dm_destroy(&raw);
	sd_cleanup();
}

static void on_alarm(int sig)
{
	static const char msg[] = "# odirect_fork: a case timed out; cleaning up\n";

	(void)!write(1, msg, sizeof(msg) - 1);
	cleanup();
	_exit(KSFT_FAIL);
}

/* ---- a reading thread: pread() or SG_IO ---- */

struct reader {
	pthread_t thread;
	bool started;
	bool sg;
	int fd;
	void *buf;
	size_t len;
	struct sg_io_hdr hdr;
	unsigned char cdb[10], sense[32];
	int tid, done;		/* set by the thread (atomics) */
	long long res;
	int err;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	__atomic_store_n(&r->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (r->sg)
		r->res = ioctl(r->fd, SG_IO, &r->hdr);
	else
		r->res = pread(r->fd, r->buf, r->len, 0);
	r->err = errno;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static bool reader_start(struct reader *r)
{
	errno = pthread_create(&r->thread, NULL, reader_fn, r);
	r->started = !errno;
	if (!r->started)
		ksft_print_msg("pthread_create() failed: %s\n", strerror(errno));
	return r->started;
}

static bool reader_done(struct reader *r)
{
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

/* The thread's state letter in /proc ('D': uninterruptible sleep), 0 if unknown. */
static char reader_state(struct reader *r)
{
	int tid = __atomic_load_n(&r->tid, __ATOMIC_ACQUIRE);
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (!tid)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Waits (DONE_MS) for the thread to end; false if it does not (it is left running). */
static bool reader_join(struct reader *r)
{
	long long end = now_ms() + DONE_MS;

	if (!r->started)
		return true;
	while (!reader_done(r) && now_ms() < end)
		usleep(1000);
	if (!reader_done(r)) {
		ksft_print_msg("the reading thread did not finish in %d ms\n", DONE_MS);
		return false;
	}
	pthread_join(r->thread, NULL);
	r->started = false;
	return true;
}

/* READ(10) of @blocks sectors at 0 into @iovcnt iovecs at @data (or one buffer). */
static void sg_read10(struct reader *r, void *data, unsigned int len, int iovcnt,
		      unsigned int blocks)
{
	memset(&r->hdr, 0, sizeof(r->hdr));
	memset(r->cdb, 0, sizeof(r->cdb));
	r->cdb[0] = 0x28;
	r->cdb[7] = blocks >> 8;
	r->cdb[8] = blocks;
	r->hdr.interface_id = 'S';
	r->hdr.dxfer_direction = SG_DXFER_FROM_DEV;
	r->hdr.cmd_len = sizeof(r->cdb);
	r->hdr.cmdp = r->cdb;
	r->hdr.mx_sb_len = sizeof(r->sense);
	r->hdr.sbp = r->sense;
	r->hdr.dxferp = data;
	r->hdr.dxfer_len = len;
	r->hdr.iovec_count = iovcnt;
	r->hdr.timeout = DONE_MS;
	r->sg = true;
}

/* The SG_IO's outcome: the bytes transferred, or -1 (said why). */
static long long sg_result(struct reader *r, const char *what)
{
	if (r->res) {
		ksft_print_msg("%s: SG_IO failed: %s\n", what, strerror(r->err));
		return -1;
	}
	if (r->hdr.status || r->hdr.host_status || r->hdr.driver_status) {
		ksft_print_msg("%s: SG_IO status %#x, host %#x, driver %#x\n", what,
			       r->hdr.status, r->hdr.host_status, r->hdr.driver_status);
		return -1;
	}
	return (long long)r->hdr.dxfer_len - r->hdr.resid;
}

/* ---- one read across fork() ---- */

enum target { RAW, EXT4, EXT2, SCSI };
enum method { AIO, PREAD_THREAD, URING, URING_FIXED, SG_IO_QUEUED };

struct read_case {
	const char *desc;
	enum target target;
	enum method method;
	enum path path;
	size_t pages;		/* buffer pages; more than one: one iovec per page */
	size_t len;		/* bytes read into the start of each page (0: pagesize / 2) */
	bool do_fork, dontfork;
	bool one_round;		/* expensive and deterministic: one round */
};

struct io {
	const struct read_case *c;
	struct ddev *dm;	/* the delaying device (not SCSI) */
	char *buf;
	size_t size, len;
	int fd;
	struct iovec iov[LARGE_PAGES];
	int iovcnt;
	aio_context_t ctx;
#ifdef HAVE_LIBURING
	struct io_uring ring;
	bool ring_up, registered;
#endif
	struct reader rd, blocker;
	char *blockbuf;
};

/*
 * The buffer (OLD), its iovecs and the file to read; NULL, or why the
 * case cannot run (a skip). A failure is said and returns "".
 */
static const char *io_open(struct io *io)
{
	const struct read_case *c = io->c;
	char path[128];
	size_t i;

	io->fd = -1;
	io->size = c->pages * pagesize;
	io->len = c->len ? c->len : pagesize / 2;
	io->buf = mmap(NULL, io->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (io->buf == MAP_FAILED) {
		io->buf = NULL;
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return "";
	}
	madvise(io->buf, io->size, MADV_NOHUGEPAGE);
	if (c->dontfork)
		madvise(io->buf, io->size, MADV_DONTFORK);
	memset(io->buf, OLD, io->size);
	if (c->pages > 1) {
		for (i = 0; i < c->pages; i++) {
			io->iov[i].iov_base = io->buf + i * pagesize;
			io->iov[i].iov_len = io->len;
		}
		io->iovcnt = c->pages;
	} else if (c->method == SG_IO_QUEUED) {
		/* Two iovecs in one page: merged into one bvec, pinned twice. */
		io->iov[0].iov_base = io->buf;
		io->iov[0].iov_len = io->len / 2;
		io->iov[1].iov_base = io->buf + io->len / 2;
		io->iov[1].iov_len = io->len / 2;
		io->iovcnt = 2;
	}

	switch (c->target) {
	case RAW:
		io->dm = &raw;
		io->fd = open(raw.node, O_RDONLY | O_DIRECT);
		break;
	case EXT4:
	case EXT2:
		io->dm = c->target == EXT4 ? &ext4.dev : &ext2.dev;
		snprintf(path, sizeof(path), "%s/data",
			 c->target == EXT4 ? ext4.mnt : ext2.mnt);
		io->fd = open(path, O_RDONLY | O_DIRECT);
		break;
	case SCSI:
		io->fd = open(sd.node, O_RDWR);
		break;
	}
	if (io->fd < 0) {
		ksft_print_msg("open() failed: %s\n", strerror(errno));
		return "";
	}

	switch (c->method) {
	case AIO:
		if (syscall(__NR_io_setup, 1, &io->ctx)) {
			io->ctx = 0;
			return "io_setup() failed (need CONFIG_AIO)";
		}
		break;
	case URING:
	case URING_FIXED:
#ifdef HAVE_LIBURING
		if (io_uring_queue_init(4, &io->ring, 0))
			return "io_uring_queue_init() failed (need CONFIG_IO_URING)";
		io->ring_up = true;
		if (c->method == URING_FIXED) {
			struct iovec iov = { io->buf, io->size };
			int ret = io_uring_register_buffers(&io->ring, &iov, 1);

			if (ret) {
				ksft_print_msg("io_uring_register_buffers() failed: %s\n",
					       strerror(-ret));
				return "";
			}
			io->registered = true;
		}
		break;
#else
		return "built without liburing (apt-get install liburing-dev)";
#endif
	case SG_IO_QUEUED:
		io->blockbuf = aligned_alloc(pagesize, pagesize);
		if (!io->blockbuf) {
			ksft_print_msg("aligned_alloc() failed\n");
			return "";
		}
		break;
	case PREAD_THREAD:
		break;
	}
	return NULL;
}

/* The device has not written a byte of the read yet. */
static bool io_held(struct io *io)
{
	long busy;

	if (io->c->method == SG_IO_QUEUED)
		/* Queue depth 1: nothing is dispatched while the first command is out. */
		return !reader_done(&io->blocker) && read_key(sd.busy, NULL, &busy) && busy >= 1;
	return dm_held(io->dm, false) > 0;
}

/*
 * Waits (HELD_MS) until the read has mapped its pages and the device
 * holds it: a reading thread sleeps (D) in it, and it is held.
 */
static bool io_wait_held(struct io *io, struct reader *r)
{
	long long end = now_ms() + HELD_MS;

	do {
		if ((!r || reader_state(r) == 'D') && io_held(io))
			return true;
		usleep(1000);
	} while (now_ms() < end);
	ksft_print_msg("the read was never seen held at the device (%d ms)\n", HELD_MS);
	return false;
}

/*
 * Submits the read; *acq: nr_foll_pin_acquired just before the read itself
 * was submitted (after the SG_IO case's first command). True once the
 * read is held at the device with its pages mapped.
 */
static bool io_start(struct io *io, long *acq, bool *counted)
{
	const struct read_case *c = io->c;

	*counted = pin_counts(acq, NULL);
	switch (c->method) {
	case AIO: {
		struct iocb cb = { 0 }, *cbs[1] = { &cb };

		cb.aio_fildes = io->fd;
		if (io->iovcnt) {
			cb.aio_lio_opcode = IOCB_CMD_PREADV;
			cb.aio_buf = (unsigned long)io->iov;
			cb.aio_nbytes = io->iovcnt;
		} else {
			cb.aio_lio_opcode = IOCB_CMD_PREAD;
			cb.aio_buf = (unsigned long)io->buf;
			cb.aio_nbytes = io->len;
		}
		if (syscall(__NR_io_submit, io->ctx, 1, cbs) != 1) {
			ksft_print_msg("io_submit() failed: %s\n", strerror(errno));
			return false;
		}
		return io_wait_held(io, NULL);
	}
	case PREAD_THREAD:
		io->rd.fd = io->fd;
		io->rd.buf = io->buf;
		io->rd.len = io->len;
		return reader_start(&io->rd) && io_wait_held(io, &io->rd);
	case URING:
	case URING_FIXED: {
#ifdef HAVE_LIBURING
		struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);

		if (!sqe) {
			ksft_print_msg("io_uring_get_sqe() failed\n");
			return false;
		}
		if (c->method == URING_FIXED)
			io_uring_prep_read_fixed(sqe, io->fd, io->buf, io->len, 0, 0);
		else
			io_uring_prep_read(sqe, io->fd, io->buf, io->len, 0);
		if (io_uring_submit(&io->ring) != 1) {
			ksft_print_msg("io_uring_submit() failed\n");
			return false;
		}
		/* Maybe retried from an io-wq worker (dm-delay has no REQ_NOWAIT). */
		return io_wait_held(io, NULL);
#else
		return false;
#endif
	}
	case SG_IO_QUEUED:
		/* The first command: holds the disk's one slot for SG_DELAY_NS. */
		io->blocker.fd = io->fd;
		sg_read10(&io->blocker, io->blockbuf, 512, 0, 1);
		if (!reader_start(&io->blocker))
			return false;
		{
			long long end = now_ms() + HELD_MS;
			long busy = 0;

			while ((reader_state(&io->blocker) != 'D' || !read_key(sd.busy, NULL, &busy) ||
				busy < 1) && now_ms() < end)
				usleep(1000);
			if (busy < 1) {
				ksft_print_msg("the first SG_IO command was never seen at the disk\n");
				return false;
			}
		}
		*counted = pin_counts(acq, NULL);
		/* The read: pages mapped, then queued behind the first command. */
		io->rd.fd = io->fd;
		sg_read10(&io->rd, io->iov, io->len, io->iovcnt, io->len / 512);
		return reader_start(&io->rd) && io_wait_held(io, &io->rd);
	}
	return false;
}

/* Waits (DONE_MS) for the read; its result (bytes, or -errno), false if it never came. */
static bool io_finish(struct io *io, long long *res)
{
	switch (io->c->method) {
	case AIO: {
		struct timespec ts = { DONE_MS / 1000, 0 };
		struct io_event ev = { 0 };

		if (syscall(__NR_io_getevents, io->ctx, 1, 1, &ev, &ts) != 1) {
			ksft_print_msg("the AIO read did not complete in %d ms\n", DONE_MS);
			return false;
		}
		*res = ev.res;
		return true;
	}
	case PREAD_THREAD:
		if (!reader_join(&io->rd))
			return false;
		*res = io->rd.res < 0 ? -io->rd.err : io->rd.res;
		return true;
	case URING:
	case URING_FIXED: {
#ifdef HAVE_LIBURING
		struct __kernel_timespec ts = { DONE_MS / 1000, 0 };
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe_timeout(&io->ring, &cqe, &ts)) {
			ksft_print_msg("the io_uring read did not complete in %d ms\n", DONE_MS);
			return false;
		}
		*res = cqe->res;
		io_uring_cqe_seen(&io->ring, cqe);
		return true;
#else
		return false;
#endif
	}
	case SG_IO_QUEUED:
		if (!reader_join(&io->blocker) || !reader_join(&io->rd))
			return false;
		if (sg_result(&io->blocker, "the first command") < 0)
			*res = -EIO;
		else
			*res = sg_result(&io->rd, "the read");
		return true;
	}
	return false;
}

/* Undoes io_open(); a thread still running keeps its buffer (a timeout follows). */
static void io_close(struct io *io)
{
	bool threads_done = reader_join(&io->blocker) && reader_join(&io->rd);

	if (io->ctx)
		syscall(__NR_io_destroy, io->ctx);
#ifdef HAVE_LIBURING
	if (io->registered)
		io_uring_unregister_buffers(&io->ring);
	if (io->ring_up)
		io_uring_queue_exit(&io->ring);
#endif
	if (!threads_done)
		return;
	if (io->fd >= 0)
		close(io->fd);
	free(io->blockbuf);
	if (io->buf)
		munmap(io->buf, io->size);
}

/* Every page's read part has DATA and, after fork(), its second half PARENT. */
static bool has_data(struct io *io)
{
	size_t i, lost = 0, overwritten = 0, first = 0;

	for (i = 0; i < io->c->pages; i++) {
		char *page = io->buf + i * pagesize;

		if (!all_bytes(page, io->len, DATA) && !lost++)
			first = i;
		if (io->c->do_fork && !all_bytes(page + pagesize / 2, pagesize / 2, PARENT))
			overwritten++;
	}
	if (lost) {
		ksft_print_msg("%zu of %zu pages lack the data, the first page %zu:\n",
			       lost, io->c->pages, first);
		expect_bytes("its read part", io->buf + first * pagesize, io->len, DATA);
		ksft_print_msg("the read went to a page the parent no longer has\n");
	}
	if (overwritten)
		ksft_print_msg("%zu pages lost the parent's own write to their second half\n",
			       overwritten);
	return !lost && !overwritten;
}

static enum result read_round(const struct read_case *c, const char **why)
{
	long held = 0, acq0 = 0, acq1;
	bool held_counted, acq_counted, ok = false;
	struct io *io;
	long long res = 0;
	pid_t pid = 0;
	size_t i;

	io = calloc(1, sizeof(*io));
	if (!io) {
		ksft_print_msg("calloc() failed\n");
		return FAIL;
	}
	io->c = c;
	held_counted = pins_held(&held);
	*why = io_open(io);
	if (*why) {
		enum result r = **why ? SKIP : FAIL;

		io_close(io);
		free(io);
		return r;
	}
	if (!io_start(io, &acq0, &acq_counted))
		goto out;
	if (acq_counted && pin_counts(&acq1, NULL))
		note_pinned(c->path, acq1 - acq0, c->pages);

	if (c->do_fork) {
		pid = fork();
		if (pid < 0) {
			ksft_print_msg("fork() failed: %s\n", strerror(errno));
			goto out;
		}
		if (!pid) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			pause();
			_exit(0);
		}
		/* Elsewhere in the same pages: a COW fault where they are shared. */
		for (i = 0; i < c->pages; i++)
			memset(io->buf + i * pagesize + pagesize / 2, PARENT, pagesize / 2);
		if (!io_held(io)) {
			ksft_print_msg("the read was no longer held after fork() and the parent's write: this round tested nothing (too slow a machine? raise DELAY_MS)\n");
			io_finish(io, &res);
			goto out;
		}
	}
	if (!io_finish(io, &res))
		goto out;
	if (res != (long long)(io->len * c->pages)) {
		ksft_print_msg("the read returned %lld, expected %zu\n", res, io->len * c->pages);
		goto out;
	}
	ok = has_data(io);
out:
	kill_child(pid);
	io_close(io);
	free(io);
	/* The SG_IO case asserts its own balance: the same-page merge. */
	if (held_counted && !pins_balanced(c->path, held) && c->method == SG_IO_QUEUED)
		ok = false;
	return ok ? PASS : FAIL;
}

static const struct read_case read_cases[] = {
	{ "raw dm-delay device, AIO read, no fork(): the data lands",
	  RAW, AIO, P_RAW_AIO, 1, IO_SIZE, false, false, false },
	{ "raw dm-delay device, AIO read in flight across fork(), parent writes the page: the parent gets the data",
	  RAW, AIO, P_RAW_AIO, 1, IO_SIZE, true, false, false },
	{ "raw dm-delay device, AIO read across fork() with MADV_DONTFORK: the parent gets the data",
	  RAW, AIO, P_RAW_AIO, 1, IO_SIZE, true, true, false },
	{ "raw dm-delay device, pread() sleeping in a thread across fork(), parent writes the page: the parent gets the data",
	  RAW, PREAD_THREAD, P_RAW_PREAD, 1, IO_SIZE, true, false, false },
	{ "raw dm-delay device, one 2 MiB readv over 1024 pages in flight across fork(), parent writes every page: all data lands",
	  RAW, AIO, P_RAW_LARGE, LARGE_PAGES, 0, true, false, true },
	{ "raw dm-delay device, io_uring READ in flight across fork(), parent writes the page: the parent gets the data",
	  RAW, URING, P_URING, 1, IO_SIZE, true, false, false },
	{ "raw dm-delay device, io_uring READ_FIXED (registered buffer) across fork(), parent writes the page: the parent gets the data",
	  RAW, URING_FIXED, P_URING_FIXED, 1, IO_SIZE, true, false, false },
	{ "ext4 file (iomap), AIO O_DIRECT read in flight across fork(), parent writes the page: the parent gets the data",
	  EXT4, AIO, P_EXT4, 1, IO_SIZE, true, false, false },
	{ "ext2 file (fs/direct-io.c), AIO O_DIRECT read in flight across fork(), parent writes the page: the parent gets the data",
	  EXT2, AIO, P_EXT2, 1, IO_SIZE, true, false, false },
	{ "scsi_debug SG_IO READ(10), two iovecs in one page, queued across fork(), parent writes the page: the parent gets the data, pins balanced",
	  SCSI, SG_IO_QUEUED, P_SG_IO, 1, 0, true, false, false },
};

#define NR_READ_CASES	(sizeof(read_cases) / sizeof(read_cases[0]))

static enum result read_case(unsigned int n, const char **why)
{
	const struct read_case *c = &read_cases[n];
	unsigned int r, rounds = c->one_round ? 1 : ROUNDS;
	enum result res = PASS;

	switch (c->target) {
	case RAW:
		if (!raw.tried) {
			raw.tried = true;
			raw.why = dm_setup(&raw, DELAY_MS, true);
		}
		*why = raw.why;
		break;
	case EXT4:
		*why = fs_setup(&ext4);
		break;
	case EXT2:
		*why = fs_setup(&ext2);
		break;
	case SCSI:
		*why = sd_setup();
		break;
	}
	if (*why)
		return SKIP;
	/* Every round must deliver: one loss is the bug. */
	for (r = 0; r < rounds && res == PASS; r++)
		res = read_round(c, why);
	if (res == FAIL && r > 1)
		ksft_print_msg("failed in round %u of %u\n", r, rounds);
	return res;
}

#define READ_CASE(n) \
	static enum result read_case_##n(const char **why) { return read_case(n, why); }
READ_CASE(0) READ_CASE(1) READ_CASE(2) READ_CASE(3) READ_CASE(4)
READ_CASE(5) READ_CASE(6) READ_CASE(7) READ_CASE(8) READ_CASE(9)

static enum result (*const read_case_fns[])(const char **) = {
	read_case_0, read_case_1, read_case_2, read_case_3, read_case_4,
	read_case_5, read_case_6, read_case_7, read_case_8, read_case_9,
};

/* ---- ITER_PIPE: splice() and sendfile() from an O_DIRECT file ---- */

enum xfer { SPLICE_TO_PIPE, SENDFILE_TO_PIPE, SENDFILE_TO_FILE };
static const char *const xfer_name[] = { "splice() to a pipe", "sendfile() to a pipe",
					 "sendfile() to a file" };

/* Everything the pipe holds into @buf (at most @size bytes); -1 on error. */
static ssize_t drain(int fd, char *buf, size_t size)
{
	size_t done = 0;
	ssize_t n;

	while ((n = read(fd, buf + done, size - done)) > 0)
		done += n;
	if (n < 0 && errno != EAGAIN)
		return -1;
	return done;
}

/*
 * Moves @len bytes of the file @in from @off to a pipe or a file: what
 * arrives must be exactly the file's bytes there, up to EOF, and nothing
 * else.
 */
static bool xfer_check(enum xfer how, int in, off_t off, size_t len, size_t fsize)
{
	size_t expect = (size_t)off >= fsize ? 0 : fsize - off < len ? fsize - off : len;
	size_t done = 0, got = 0, room = len + 2 * pagesize, i;
	int p[2] = { -1, -1 }, out = -1, calls;
	loff_t pos = off;
	bool ok = false;
	char *buf;
	ssize_t n;

	buf = malloc(room);
	if (!buf || pipe2(p, O_NONBLOCK)) {
		ksft_print_msg("malloc() or pipe2() failed\n");
		goto out;
	}
	out = how == SENDFILE_TO_FILE ? memfd_create("odirect_fork", 0) : p[1];
	if (out < 0) {
		ksft_print_msg("memfd_create() failed: %s\n", strerror(errno));
		goto out;
	}
	/* Until EOF or all of it; a short transfer goes on where it ended. */
	for (calls = 0; calls < 8 && done < len; calls++) {
		if (how == SPLICE_TO_PIPE)
			n = splice(in, &pos, p[1], NULL, len - done, 0);
		else
			n = sendfile(out, in, &pos, len - done);
		if (n < 0) {
			ksft_print_msg("%s of [%lld, +%zu) at %lld: %s\n", xfer_name[how],
				       (long long)off, len, (long long)pos, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		done += n;
		if (how != SENDFILE_TO_FILE) {
			n = drain(p[0], buf + got, room - got);
			if (n < 0) {
				ksft_print_msg("reading the pipe failed: %s\n", strerror(errno));
				goto out;
			}
			got += n;
		}
		if (done >= expect)
			break;
	}
	if (how == SENDFILE_TO_FILE) {
		n = pread(out, buf, room, 0);
		got = n < 0 ? 0 : n;
	}
	if (done != expect || got != done || pos != off + (loff_t)done) {
		ksft_print_msg("%s of [%lld, +%zu) of a %zu-byte file: %zu bytes reported, %zu arrived, offset now %lld; expected %zu and %lld\n",
			       xfer_name[how], (long long)off, len, fsize, done, got,
			       (long long)pos, expect, (long long)(off + expect));
		goto out;
	}
	for (i = 0; i < got; i++) {
		if (buf[i] != pattern(off + i)) {
			ksft_print_msg("%s of [%lld, +%zu): byte %zu of the file is %#x, expected %#x\n",
				       xfer_name[how], (long long)off, len, off + i,
				       buf[i] & 0xff, pattern(off + i) & 0xff);
			goto out;
		}
	}
	ok = true;
out:
	if (out >= 0 && out != p[1])
		close(out);
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	free(buf);
	return ok;
}

/* Reads the dm device completed (its /sys/block/dm-N/stat), -1 if unknown. */
static long device_reads(struct ddev *d)
{
	char path[96];
	long reads;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", d->node + strlen("/dev/"));
	return read_key(path, NULL, &reads) ? reads : -1;
}

static enum result pipe_case(const char **why)
{
	size_t fsize = pipe_file_size(), ps = pagesize;
	const struct {
		enum xfer how;
		off_t off;
		size_t len;
	} steps[] = {
		{ SPLICE_TO_PIPE, 0, 2 * ps },		/* within the file */
		{ SPLICE_TO_PIPE, 0, 4 * ps },		/* across EOF */
		{ SPLICE_TO_PIPE, 2 * ps, 2 * ps },	/* across EOF, from the middle */
		{ SPLICE_TO_PIPE, 4 * ps, ps },		/* past EOF: nothing */
		{ SENDFILE_TO_PIPE, 0, 4 * ps },
		{ SENDFILE_TO_FILE, 0, 4 * ps },
		{ SENDFILE_TO_FILE, 4 * ps, ps },
	};
	char path[128];
	bool ok = true, counted;
	long held = 0, reads;
	unsigned int i;
	int fd;

	*why = fs_setup(&ext4);
	if (*why)
		return SKIP;
	snprintf(path, sizeof(path), "%s/splice", ext4.mnt);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		ksft_print_msg("open(O_DIRECT) failed: %s\n", strerror(errno));
		return FAIL;
	}
	counted = pins_held(&held);
	reads = device_reads(&ext4.dev);
	for (i = 0; i < ARRAY_SIZE(steps); i++)
		ok &= xfer_check(steps[i].how, fd, steps[i].off, steps[i].len, fsize);
	close(fd);
	/* What went to the disk (direct I/O) rather than the page cache: said, not asserted. */
	if (reads >= 0)
		ksft_print_msg("%ld reads reached the device\n", device_reads(&ext4.dev) - reads);
	if (counted)
		pins_balanced(P_PIPE, held);
	return ok ? PASS : FAIL;
}

/* ---- O_DIRECT writes: the pages are the source ---- */

/* @len bytes at @buf are pattern() of the offsets from @off; says where not. */
static bool expect_pattern(const char *what, const char *buf, size_t len, off_t off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != pattern(off + i)) {
			ksft_print_msg("%s: byte %zu is %#x, expected %#x\n", what, i,
				       buf[i] & 0xff, pattern(off + i) & 0xff);
			return false;
		}
	}
	return true;
}

/*
 * A page of anonymous private memory, read-only: with @fill, pattern() of
 * the offsets from @off first; else read once, which maps the shared zero
 * page. A write's source: a pin for writing (FOLL_WRITE) fails on it. NULL
 * on failure (said).
 */
static char *source_page(bool fill, off_t off)
{
	char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED) {
		ksft_print_msg("mmap() failed: %s\n", strerror(errno));
		return NULL;
	}
	madvise(p, pagesize, MADV_NOHUGEPAGE);
	if (fill) {
		for (i = 0; i < pagesize; i++)
			p[i] = pattern(off + i);
	} else {
		(void)*(volatile char *)p;
	}
	mprotect(p, pagesize, PROT_READ);
	return p;
}

/*
 * One AIO O_DIRECT write of a page of pattern() to @fd at @off while @dm
 * delays writes: held there (its pages mapped), nr_foll_pin_acquired must
 * have risen by the page (counted for @p, case 13); once it completed,
 * the pins are back (counted, and asserted here). False, said, if the
 * write failed, was never seen held or left pins behind.
 */
static bool aio_write_held(int fd, off_t off, struct ddev *dm, enum path p)
{
	struct iocb cb = { 0 }, *cbs[1] = { &cb };
	struct timespec ts = { DONE_MS / 1000, 0 };
	struct io_event ev = { 0 };
	long held = 0, acq0 = 0, acq1;
	bool held_counted, acq_counted, seen = false, done = false, ok = false;
	aio_context_t ctx = 0;
	long long end;
	char *src;

	src = source_page(true, off);
	if (!src)
		return false;
	if (syscall(__NR_io_setup, 1, &ctx)) {
		ctx = 0;
		ksft_print_msg("io_setup() failed: %s\n", strerror(errno));
		goto out;
	}
	if (!dm_load(dm, DELAY_MS, DELAY_MS)) {
		ksft_print_msg("cannot load a dm-delay table with a write delay: %s\n",
			       strerror(errno));
		goto out;
	}
	held_counted = pins_held(&held);
	acq_counted = pin_counts(&acq0, NULL);
	cb.aio_fildes = fd;
	cb.aio_lio_opcode = IOCB_CMD_PWRITE;
	cb.aio_buf = (unsigned long)src;
	cb.aio_nbytes = pagesize;
	cb.aio_offset = off;
	if (syscall(__NR_io_submit, ctx, 1, cbs) != 1) {
		ksft_print_msg("%s: io_submit() failed: %s\n", paths[p].name, strerror(errno));
		goto restore;
	}
	end = now_ms() + HELD_MS;
	while (!(seen = dm_held(dm, true) > 0) && now_ms() < end)
		usleep(1000);
	if (seen && acq_counted && pin_counts(&acq1, NULL))
		note_pinned(p, acq1 - acq0, 1);
	if (!seen)
		ksft_print_msg("%s: the AIO write was never seen held at the device (%d ms): io_submit() waited for it?\n",
			       paths[p].name, HELD_MS);
	done = syscall(__NR_io_getevents, ctx, 1, 1, &ev, &ts) == 1;
	if (!done)
		ksft_print_msg("%s: the AIO write did not complete in %d ms\n", paths[p].name, DONE_MS);
	else if (ev.res != (long long)pagesize)
		ksft_print_msg("%s: the AIO write returned %lld, expected %zu\n", paths[p].name,
			       (long long)ev.res, pagesize);
	else
		ok = seen;
restore:
	/* Completes what is still held; the write delay off again. */
	if (!dm_load(dm, DELAY_MS, 0)) {
		ksft_print_msg("cannot load the dm-delay table back without the write delay\n");
		ok = false;
	}
	if (held_counted && !pins_balanced(p, held))
		ok = false;
out:
	if (ctx)
		syscall(__NR_io_destroy, ctx);
	munmap(src, pagesize);
	return ok;
}

/*
 * A synchronous O_DIRECT pwrite() to @fd at @off: a page from the shared
 * zero page (@zero), or @len bytes of pattern() of the file's offsets.
 * Pinning the zero page takes no pin and unpinning it releases none: the
 * pins are back after it (counted for @p, and asserted here).
 */
static bool direct_write(int fd, off_t off, size_t len, bool zero, enum path p)
{
	char *src = source_page(!zero, off);
	bool ok = false, counted;
	long held = 0;
	ssize_t n;

	if (!src)
		return false;
	if (zero && !page_has_kflag(src, KPF_ZERO_PAGE))
		ksft_print_msg("%s: a read fault did not map the shared zero page (or no /proc/kpageflags): the write from it is tested as a plain one\n",
			       paths[p].name);
	counted = pins_held(&held);
	n = pwrite(fd, src, len, off);
	if (n != (ssize_t)len)
		ksft_print_msg("%s: pwrite() of %zu bytes at %lld%s returned %zd: %s\n", paths[p].name,
			       len, (long long)off, zero ? " from the zero page" : "", n,
			       n < 0 ? strerror(errno) : "short");
	else
		ok = true;
	if (counted && !pins_balanced(p, held))
		ok = false;
	munmap(src, pagesize);
	return ok;
}

/* @len bytes at @off of the device @dev with O_DIRECT into @buf; false if not (said). */
static bool read_device(const char *dev, char *buf, size_t len, off_t off)
{
	ssize_t n = -1;
	int fd;

	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd >= 0) {
		n = pread(fd, buf, len, off);
		close(fd);
	}
	if (n != (ssize_t)len) {
		ksft_print_msg("reading %zu bytes at %lld of %s failed: %s\n", len, (long long)off,
			       dev, n < 0 ? strerror(errno) : "short");
		return false;
	}
	return true;
}

/*
 * The raw dm-delay device's last two pages (the reads use its first 2 MiB):
 * an AIO write of pattern(), then a write from the zero page; read back
 * from the RAM disk under it.
 */
static bool raw_writes(void)
{
	off_t off = raw.sectors * 512 - 2 * pagesize;
	bool ok = false;
	char *back;
	int fd;

	fd = open(raw.node, O_RDWR | O_DIRECT);
	back = aligned_alloc(pagesize, 2 * pagesize);
	if (fd < 0 || !back) {
		ksft_print_msg("open() or aligned_alloc() failed: %s\n", strerror(errno));
		goto out;
	}
	ok = aio_write_held(fd, off, &raw, P_RAW_WRITE);
	ok &= direct_write(fd, off + pagesize, pagesize, true, P_RAW_WRITE);
	if (read_device(raw.ram, back, 2 * pagesize, off)) {
		ok &= expect_pattern("raw device, the AIO-written page", back, pagesize, off);
		ok &= expect_bytes("raw device, the page written from the zero page",
				   back + pagesize, pagesize, 0);
	} else {
		ok = false;
	}
out:
	if (fd >= 0)
		close(fd);
	free(back);
	return ok;
}

/*
 * The file "write" on @f, in blocks: 0 and 1 written (OLD) and synced,
 * then 0 overwritten by an AIO O_DIRECT write of pattern() (held at the
 * write delay) and 1 by an O_DIRECT write from the zero page; 2 left a
 * hole; 3, past EOF, gets IO_SIZE bytes of pattern() at IO_SIZE, so that
 * the filesystem allocates it and must zero the rest: on ext2 that is
 * dio_zero_block(), which adds the zero page to the bio. Read back
 * through the file with O_DIRECT, up to EOF in block 3, and block 3 as a
 * whole from the RAM disk (FIBMAP): zeros but for the pattern where it
 * was written (the disk had DATA there, fs_setup()).
 */
static bool file_writes(struct fs *f, enum path p)
{
	off_t sub = 3 * FS_BLOCK + IO_SIZE;
	size_t size = sub + IO_SIZE;
	char path[128], what[160];
	bool ok = false;
	char *back;
	int fd = -1, blk = 3;
	ssize_t n;

	back = aligned_alloc(pagesize, 4 * FS_BLOCK);
	if (!back) {
		ksft_print_msg("aligned_alloc() failed\n");
		return false;
	}
	memset(back, OLD, 2 * FS_BLOCK);
	snprintf(path, sizeof(path), "%s/write", f->mnt);
	if (!create_file(f->mnt, "write", back, 2 * FS_BLOCK)) {
		ksft_print_msg("%s: cannot write the file: %s\n", f->type, strerror(errno));
		goto out;
	}
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		ksft_print_msg("%s: open(O_DIRECT) failed: %s\n", f->type, strerror(errno));
		goto out;
	}
	ok = aio_write_held(fd, 0, &f->dev, p);
	ok &= direct_write(fd, FS_BLOCK, FS_BLOCK, true, p);
	ok &= direct_write(fd, sub, IO_SIZE, false, p);

	memset(back, OLD, 4 * FS_BLOCK);
	n = pread(fd, back, 4 * FS_BLOCK, 0);
	if (n != (ssize_t)size) {
		ksft_print_msg("%s: reading the file back returned %zd, expected %zu (its size)\n",
			       f->type, n, size);
		ok = false;
	} else {
		snprintf(what, sizeof(what), "%s: block 0, AIO-written", f->type);
		ok &= expect_pattern(what, back, FS_BLOCK, 0);
		snprintf(what, sizeof(what), "%s: block 1, written from the zero page", f->type);
		ok &= expect_bytes(what, back + FS_BLOCK, FS_BLOCK, 0);
		snprintf(what, sizeof(what), "%s: block 2, a hole", f->type);
		ok &= expect_bytes(what, back + 2 * FS_BLOCK, FS_BLOCK, 0);
		snprintf(what, sizeof(what), "%s: block 3 before the sub-block write", f->type);
		ok &= expect_bytes(what, back + 3 * FS_BLOCK, IO_SIZE, 0);
		snprintf(what, sizeof(what), "%s: the sub-block write in block 3", f->type);
		ok &= expect_pattern(what, back + sub, IO_SIZE, sub);
	}

	/* Block 3 past EOF: on the disk only. */
	if (ioctl(fd, FIBMAP, &blk) || blk <= 0) {
		ksft_print_msg("%s: FIBMAP of block 3 failed (%s, block %d): cannot check its rest on the disk\n",
			       f->type, strerror(errno), blk);
		ok = false;
	} else if (!read_device(f->dev.ram, back, FS_BLOCK, (off_t)blk * FS_BLOCK)) {
		ok = false;
	} else {
		snprintf(what, sizeof(what), "%s: block 3 on the disk, before the write", f->type);
		ok &= expect_bytes(what, back, IO_SIZE, 0);
		snprintf(what, sizeof(what), "%s: block 3 on the disk, the write", f->type);
		ok &= expect_pattern(what, back + IO_SIZE, IO_SIZE, sub);
		snprintf(what, sizeof(what), "%s: block 3 on the disk, after the write (past EOF)",
			 f->type);
		ok &= expect_bytes(what, back + 2 * IO_SIZE, FS_BLOCK - 2 * IO_SIZE, 0);
	}
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(back);
	return ok;
}

static enum result write_case(const char **why)
{
	static char missing[480];
	struct fs *fs[] = { &ext4, &ext2 };
	enum path fs_path[] = { P_EXT4_WRITE, P_EXT2_WRITE };
	const char *w;
	bool ok = true;
	size_t len = 0;
	unsigned int i;

	missing[0] = 0;
	if (pagesize != FS_BLOCK) {
		*why = "needs 4 KiB pages, the block size of the test filesystems";
		return SKIP;
	}
	if (!raw.tried) {
		raw.tried = true;
		raw.why = dm_setup(&raw, DELAY_MS, true);
	}
	if (raw.why)
		len += snprintf(missing + len, sizeof(missing) - len, "raw device: %s", raw.why);
	else
		ok &= raw_writes();
	for (i = 0; i < ARRAY_SIZE(fs); i++) {
		w = fs_setup(fs[i]);
		if (w && len < sizeof(missing))
			len += snprintf(missing + len, sizeof(missing) - len, "%s%s: %s",
					len ? "; " : "", fs[i]->type, w);
		else if (!w)
			ok &= file_writes(fs[i], fs_path[i]);
	}
	if (!ok)
		return FAIL;
	/* What ran passed; what did not run is not a pass. */
	if (missing[0]) {
		*why = missing;
		return SKIP;
	}
	return PASS;
}

/* ---- pin accounting, summed up over the cases above ---- */

static enum result pins_in_flight_case(const char **why)
{
	unsigned int p, measured = 0, off = 0;

	if (!pin_counters) {
		*why = "no nr_foll_pin_acquired/released in /proc/vmstat";
		return SKIP;
	}
	for (p = 0; p < NR_PATHS; p++) {
		struct path_stats *s = &paths[p];

		if (!s->pins)
			continue;
		if (!s->measured) {
			ksft_print_msg("%s: not measured (its cases skipped or failed early)\n",
				       s->name);
			continue;
		}
		measured++;
		if (s->short_reads) {
			off++;
			ksft_print_msg("%s: OFF: %u of %u I/O(s) pinned fewer pages than the %ld they map, as few as %ld\n",
				       s->name, s->short_reads, s->measured, s->expected, s->fewest);
		} else {
			ksft_print_msg("%s: %u I/O(s), each pinned at least its %ld page(s)\n",
				       s->name, s->measured, s->expected);
		}
	}
	if (!measured) {
		*why = "no I/O was measured: every I/O case skipped";
		return SKIP;
	}
	return off ? FAIL : PASS;
}

static enum result pins_balanced_case(const char **why)
{
	unsigned int p, checked = 0, off = 0;

	if (!pin_counters) {
		*why = "no nr_foll_pin_acquired/released in /proc/vmstat";
		return SKIP;
	}
	for (p = 0; p < NR_PATHS; p++) {
		struct path_stats *s = &paths[p];

		if (!s->checked) {
			ksft_print_msg("%s: not checked (its cases skipped)\n", s->name);
			continue;
		}
		checked++;
		if (s->unbalanced) {
			off++;
			ksft_print_msg("%s: OFF: %u of %u I/O(s) left pins behind, as many as %ld\n",
				       s->name, s->unbalanced, s->checked, s->worst_left);
		} else {
			ksft_print_msg("%s: %u I/O(s), balanced\n", s->name, s->checked);
		}
	}
	if (!checked) {
		*why = "no I/O was checked: every I/O case skipped";
		return SKIP;
	}
	return off ? FAIL : PASS;
}

int main(void)
{
	struct test_case cases[NR_READ_CASES + 4];
	struct sigaction sa = { .sa_handler = on_alarm };
	unsigned int i, n = 0;

	mem_init();
	for (i = 0; i < NR_READ_CASES; i++) {
		cases[n].desc = read_cases[i].desc;
		cases[n++].fn = read_case_fns[i];
	}
	cases[n++] = (struct test_case){
		"ext4 O_DIRECT file, splice() and sendfile() to a pipe and a file, within, across and past EOF: exactly the file's bytes",
		pipe_case };
	cases[n++] = (struct test_case){
		"O_DIRECT writes (raw device, ext4, ext2 incl. a sub-block write past EOF after a hole, and from the zero page): the data reaches the device, pins balanced",
		write_case };
	cases[n++] = (struct test_case){
		"pin accounting: nr_foll_pin_acquired rises by the read's pages while it is in flight, on every path",
		pins_in_flight_case };
	cases[n++] = (struct test_case){
		"pin accounting: pins back to where they were after every read completed, on every path",
		pins_balanced_case };

	/* A timeout (run_cases' alarm()) undoes the setup too. */
	sigaction(SIGALRM, &sa, NULL);
	atexit(cleanup);
	run_cases(cases, n, geteuid() ? "need root (RAM disks, device-mapper, mount, SG_IO)" : NULL,
		  true, CASE_TIMEOUT);
}
