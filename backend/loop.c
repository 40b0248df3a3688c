// SPDX-License-Identifier: MIT
/*
 * loop: a regular file or a block device behind the ublk device.
 *
 * Reads, writes, flushes, write-zeroes and a file's discards are SQEs on
 * the queue's own ring, against fixed file BACKEND_FIXED_FD, so a queue
 * thread never waits on the backing store.  O_DIRECT by default: the
 * page cache above the ublk device is enough.
 *
 * A short read or write is passed on as it is: the driver completes the
 * bytes done and requeues the rest as a new request (ublk_drv's
 * __ublk_complete_rq: blk_update_request, then blk_mq_requeue_request),
 * so no per-tag state is needed to resubmit a remainder.  Only a result
 * of 0 bytes is turned into -EIO, since it would be requeued forever.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "internal.h"
#include "../uring/uring.h"
#include "../ublk/log.h"

/* from <linux/fs.h>, which the build does not depend on */
#ifndef BLKDISCARD
#define BLKDISCARD	_IO(0x12, 119)
#endif

struct loop {
	int is_blkdev;
	int direct_io;
	int discard_unsupported;	/* set once, by any queue thread */
};

static void loop_set_discard(struct backend *b, const struct stat *st)
{
	uint64_t max = BACKEND_MAX_DISCARD_SECTORS;
	uint64_t gran;

	b->max_write_zeroes_sectors = BACKEND_MAX_DISCARD_SECTORS;
	if (S_ISREG(st->st_mode)) {
		/* a hole is punched a filesystem block at a time */
		gran = st->st_blksize ? (uint64_t)st->st_blksize : 4096;
	} else {
		max = backend_sysfs_queue(st->st_rdev, "discard_max_bytes") >> 9;
		gran = max ? backend_sysfs_queue(st->st_rdev, "discard_granularity") : 0;
		if (max > BACKEND_MAX_DISCARD_SECTORS)
			max = BACKEND_MAX_DISCARD_SECTORS;
	}
	if (max && gran < backend_lbs(b))
		gran = backend_lbs(b);
	b->discard_granularity = gran > UINT32_MAX ? 0 : (uint32_t)gran;
	b->max_discard_sectors = b->discard_granularity ? (uint32_t)max : 0;
}

static int loop_open(struct backend *b)
{
	const char *file = b->conf.file;
	int direct = !b->conf.buffered_io;
	struct stat st;
	struct loop *lo;
	uint64_t size;
	int fd, ret;

	if (!file || !*file)
		return backend_fail(b, -EINVAL, "loop: -f FILE is required");
	lo = calloc(1, sizeof(*lo));
	if (!lo)
		return backend_fail(b, -ENOMEM, "loop: out of memory");

	fd = open(file, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	if (fd < 0 && errno == EINVAL && direct) {
		/* tmpfs before 6.6, ramfs, some FUSE filesystems */
		direct = 0;
		fd = open(file, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		ret = -errno;
		backend_fail(b, ret, "loop: cannot open %s: %s", file,
			     strerror(-ret));
		goto err_free;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		backend_fail(b, ret, "loop: cannot stat %s: %s", file,
			     strerror(-ret));
		goto err_close;
	}

	if (S_ISBLK(st.st_mode)) {
		int ssz = 0;

		if (ioctl(fd, BLKGETSIZE64, &size) ||
		    ioctl(fd, BLKSSZGET, &ssz)) {
			ret = -errno;
			backend_fail(b, ret, "loop: cannot get the size of %s: %s",
				     file, strerror(-ret));
			goto err_close;
		}
		backend_raise_lbs(b, (uint64_t)ssz, "loop", file);
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
		/* O_DIRECT takes the alignment of the filesystem's disk */
		if (direct)
			backend_raise_lbs(b, backend_sysfs_queue(st.st_dev,
								 "logical_block_size"),
					  "loop", file);
	} else {
		ret = backend_fail(b, -EINVAL,
				   "loop: %s is not a regular file or block device",
				   file);
		goto err_close;
	}

	if (!size) {
		ret = backend_fail(b, -EINVAL, "loop: %s is empty", file);
		goto err_close;
	}
	if (b->conf.size > size) {
		ret = backend_fail(b, -EINVAL,
				   "loop: --size %llu is larger than %s (%llu bytes)",
				   (unsigned long long)b->conf.size, file,
				   (unsigned long long)size);
		goto err_close;
	}
	ret = backend_set_size(b, "loop", b->conf.size ? b->conf.size : size);
	if (ret)
		goto err_close;

	if (direct != !b->conf.buffered_io)
		log_warn("loop: %s refuses O_DIRECT: using buffered I/O", file);
	loop_set_discard(b, &st);
	lo->is_blkdev = S_ISBLK(st.st_mode);
	/* a regular file grows with update_size; a block device cannot */
	b->max_size = lo->is_blkdev ? b->size : 1ULL << 62;
	lo->direct_io = direct;
	b->attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	b->fd = fd;
	b->zero_copy = 1;	/* READ_FIXED / WRITE_FIXED on the request's pages */
	b->auto_path = BACKEND_AUTO_ZERO_COPY;	/* no copy at all; user copy saves none */
	b->priv = lo;
	return 0;

err_close:
	close(fd);
err_free:
	free(lo);
	return ret;
}

static void loop_close(struct backend *b)
{
	if (!b->priv)
		return;		/* never opened: b->fd may be a zeroed 0 */
	close(b->fd);
	free(b->priv);
	b->fd = -1;
	b->priv = NULL;
}

/* A discard is advisory: a backing store that cannot do it is no error. */
static int loop_discard_result(struct backend *b, int res)
{
	struct loop *lo = b->priv;

	if (res != -EOPNOTSUPP)
		return res;
	if (!__atomic_exchange_n(&lo->discard_unsupported, 1, __ATOMIC_RELAXED))
		log_debug("loop: %s cannot discard: discards ignored",
			  b->conf.file);
	return 0;
}

/*
 * fallocate() on a block device writes zeroes rather than discarding, and
 * io_uring's discard command (BLOCK_URING_CMD_DISCARD) only arrived in
 * 6.12, older than which sublk also runs.  Discards are rare and large,
 * so BLKDISCARD runs synchronously on the queue thread.
 */
static int loop_blkdev_discard(struct backend *b, uint64_t off, uint64_t len)
{
	uint64_t range[2] = { off, len };

	if (ioctl(b->fd, BLKDISCARD, range))
		return loop_discard_result(b, -errno);
	return 0;
}

static int loop_queue_io(struct backend *b, struct ublk_queue *q, unsigned tag,
			 const struct ublksrv_io_desc *iod, void *buf)
{
	const struct loop *lo = b->priv;
	const unsigned op = ublksrv_get_op(iod);
	const uint64_t off = iod->start_sector << 9;
	const uint64_t len = (uint64_t)iod->nr_sectors << 9;
	struct io_uring_sqe *sqe;
	int mode;

	if (op > UBLK_IO_OP_WRITE_ZEROES || op == UBLK_IO_OP_WRITE_SAME)
		return -EOPNOTSUPP;
	if (op != UBLK_IO_OP_FLUSH &&
	    (iod->start_sector > b->max_size >> 9 || len > b->max_size - off))
		return -EIO;
	if (op == UBLK_IO_OP_DISCARD && lo->is_blkdev)
		return loop_blkdev_discard(b, off, len);

	sqe = ublk_queue_get_sqe(q, tag, op, 0);
	if (!sqe)
		return -EBUSY;	/* rings are sized so that this cannot be */

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (buf) {
			uring_prep_rw(sqe, op == UBLK_IO_OP_READ ? IORING_OP_READ :
				      IORING_OP_WRITE, BACKEND_FIXED_FD, buf,
				      (unsigned)len, off);
		} else {
			/* zero copy: the request's own pages, registered */
			uring_prep_rw(sqe, op == UBLK_IO_OP_READ ?
				      IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED,
				      BACKEND_FIXED_FD, NULL, (unsigned)len, off);
			sqe->buf_index = (uint16_t)ublk_queue_buf_index(q, tag);
		}
		if (op == UBLK_IO_OP_WRITE && (iod->op_flags & UBLK_IO_F_FUA))
			sqe->rw_flags = SUBLK_RWF_DSYNC;
		break;
	case UBLK_IO_OP_FLUSH:
		uring_prep_fsync(sqe, BACKEND_FIXED_FD, IORING_FSYNC_DATASYNC);
		break;
	case UBLK_IO_OP_DISCARD:
		uring_prep_fallocate(sqe, BACKEND_FIXED_FD,
				     SUBLK_FALLOC_FL_PUNCH_HOLE |
				     SUBLK_FALLOC_FL_KEEP_SIZE, off, len);
		break;
	default:	/* WRITE_ZEROES, as the kernel's loop driver does it */
		mode = SUBLK_FALLOC_FL_ZERO_RANGE;
		if (!lo->is_blkdev && !(iod->op_flags & UBLK_IO_F_NOUNMAP))
			mode = SUBLK_FALLOC_FL_PUNCH_HOLE;
		uring_prep_fallocate(sqe, BACKEND_FIXED_FD,
				     mode | SUBLK_FALLOC_FL_KEEP_SIZE, off, len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	return BACKEND_QUEUED;
}

static int loop_io_done(struct backend *b, struct ublk_queue *q, unsigned tag,
			const struct io_uring_cqe *cqe)
{
	const int res = cqe->res;

	const struct ublksrv_io_desc *iod;
	struct io_uring_sqe *sqe;

	switch (user_data_op(cqe->user_data)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		return res ? res : -EIO;
	case UBLK_IO_OP_DISCARD:
		return res < 0 ? loop_discard_result(b, res) : 0;
	case UBLK_IO_OP_WRITE_ZEROES:
		/*
		 * A file system without ZERO_RANGE (tmpfs) can still punch a
		 * hole, which reads back as zeros: try that once.
		 */
		if (!q || res != -EOPNOTSUPP || user_data_tgt_data(cqe->user_data) ||
		    ((struct loop *)b->priv)->is_blkdev)
			return res < 0 ? res : 0;
		iod = ublk_queue_iod(q, tag);
		sqe = ublk_queue_get_sqe(q, tag, UBLK_IO_OP_WRITE_ZEROES, 1);
		if (!sqe || !iod)
			return res;
		uring_prep_fallocate(sqe, BACKEND_FIXED_FD,
				     SUBLK_FALLOC_FL_PUNCH_HOLE | SUBLK_FALLOC_FL_KEEP_SIZE,
				     iod->start_sector << 9,
				     (uint64_t)iod->nr_sectors << 9);
		sqe->flags |= IOSQE_FIXED_FILE;
		return BACKEND_QUEUED;
	default:
		return res < 0 ? res : 0;
	}
}

static int loop_flush(struct backend *b)
{
	return fdatasync(b->fd) ? -errno : 0;
}

static int loop_json(const struct backend *b, char *buf, size_t len)
{
	const struct loop *lo = b->priv;
	size_t n;
	int m;

	m = snprintf(buf, len, "\"backing_file\":");
	if (m < 0 || (size_t)m >= len)
		return -ENOSPC;
	n = (size_t)m;
	m = backend_json_str(buf + n, len - n, b->conf.file);
	if (m < 0)
		return m;
	n += (size_t)m;
	m = snprintf(buf + n, len - n, ",\"direct_io\":%d,\"size\":%llu",
		     lo->direct_io, (unsigned long long)b->size);
	if (m < 0 || (size_t)m >= len - n)
		return -ENOSPC;
	return (int)(n + (size_t)m);
}

const struct backend_ops backend_loop_ops = {
	.name = "loop",
	.open = loop_open,
	.close = loop_close,
	.queue_io = loop_queue_io,
	.io_done = loop_io_done,
	.flush = loop_flush,
	.json = loop_json,
};
