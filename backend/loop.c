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
 *
 * Integrity (--metadata_size): each logical block's metadata lives in a
 * second file (--metadata_file), metadata_size bytes at block *
 * metadata_size, stored as the kernel hands it over, so the file is the
 * same as kublk's.  Once a read or write's data is done, its metadata
 * follows, read or written there from the request's metadata buffer
 * (which the queue moves by user copy); a flush syncs both files.
 * Blocks never written carry whatever the file holds: fill a new one
 * with 0xff bytes, the escape value whose PI the block layer does not
 * check.  Discard and write-zeroes are not offered: the block layer
 * writes zeros with PI instead.
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

/* tgt_data of an SQE: the write-zeroes retried as a hole punch; metadata */
#define LOOP_RETRY	1
#define LOOP_META	2

struct loop {
	int is_blkdev;
	int direct_io;
	int discard_unsupported;	/* set once, by any queue thread */
	int meta_fd;		/* integrity: --metadata_file, or -1 */
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

/* The size of @file (open at @fd, stat @st): a block device's or a regular file's. */
static int loop_file_size(struct backend *b, int fd, const char *file,
			  const struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (!S_ISBLK(st->st_mode))
		return backend_fail(b, -EINVAL,
				    "loop: %s is not a regular file or block device",
				    file);
	if (ioctl(fd, BLKGETSIZE64, size))
		return backend_fail(b, -errno, "loop: cannot get the size of %s: %s",
				    file, strerror(errno));
	return 0;
}

/* The least block size the data file takes: its sectors, or O_DIRECT's. */
static void loop_data_lbs(struct backend *b, int fd, const struct stat *st,
			  int direct)
{
	int ssz = 0;

	if (S_ISBLK(st->st_mode) && !ioctl(fd, BLKSSZGET, &ssz))
		backend_raise_lbs(b, (uint64_t)ssz, "loop", b->conf.file);
	else if (S_ISREG(st->st_mode) && direct)
		backend_raise_lbs(b, backend_sysfs_queue(st->st_dev,
							 "logical_block_size"),
				  "loop", b->conf.file);
}

/* Open the data file at b->fd and size the device; -errno with b->err set. */
static int loop_open_data(struct backend *b, struct loop *lo, struct stat *st)
{
	const char *file = b->conf.file;
	int direct = !b->conf.buffered_io;
	uint64_t size;
	int ret;

	b->fd = backend_open_data(file, &direct);
	if (b->fd < 0)
		return backend_fail(b, -errno, "loop: cannot open %s: %s", file,
				    strerror(errno));
	if (fstat(b->fd, st))
		return backend_fail(b, -errno, "loop: cannot stat %s: %s", file,
				    strerror(errno));
	ret = loop_file_size(b, b->fd, file, st, &size);
	if (ret)
		return ret;
	loop_data_lbs(b, b->fd, st, direct);
	if (!size)
		return backend_fail(b, -EINVAL, "loop: %s is empty", file);
	if (b->conf.size > size)
		return backend_fail(b, -EINVAL,
				    "loop: --size %llu is larger than %s (%llu bytes)",
				    (unsigned long long)b->conf.size, file,
				    (unsigned long long)size);
	ret = backend_set_size(b, "loop", b->conf.size ? b->conf.size : size);
	if (ret)
		return ret;
	if (direct != !b->conf.buffered_io)
		log_warn("loop: %s refuses O_DIRECT: using buffered I/O", file);
	lo->is_blkdev = S_ISBLK(st->st_mode);
	lo->direct_io = direct;
	/* a regular file grows with update_size; a block device cannot */
	b->max_size = lo->is_blkdev ? b->size : 1ULL << 62;
	return 0;
}

/*
 * Integrity: open the metadata file, which must hold the metadata of the
 * whole device; the device may grow only as far as it does.  Buffered:
 * a block's metadata is not aligned for O_DIRECT.
 */
static int loop_open_meta(struct backend *b, struct loop *lo,
			  const struct stat *data_st)
{
	const char *file = b->conf.meta_file;
	const unsigned msize = b->conf.integrity.metadata_size;
	const uint64_t need = (b->size >> b->conf.lbs_shift) * msize;
	struct stat st;
	uint64_t size;
	int ret;

	if (!file != !msize)
		return backend_fail(b, -EINVAL, file ?
				    "loop: --metadata_file needs --metadata_size" :
				    "loop: --metadata_size needs --metadata_file PATH");
	if (!file)
		return 0;
	lo->meta_fd = open(file, O_RDWR | O_CLOEXEC);
	if (lo->meta_fd < 0)
		return backend_fail(b, -errno, "loop: cannot open %s: %s", file,
				    strerror(errno));
	if (fstat(lo->meta_fd, &st))
		return backend_fail(b, -errno, "loop: cannot stat %s: %s", file,
				    strerror(errno));
	if (st.st_dev == data_st->st_dev && st.st_ino == data_st->st_ino)
		return backend_fail(b, -EINVAL, "loop: --metadata_file %s is the data file itself",
				    file);
	ret = loop_file_size(b, lo->meta_fd, file, &st, &size);
	if (ret)
		return ret;
	if (size < need)
		return backend_fail(b, -EINVAL,
				    "loop: metadata file %s has %llu bytes: the %llu-byte device needs %llu (%u a %u-byte block)",
				    file, (unsigned long long)size,
				    (unsigned long long)b->size,
				    (unsigned long long)need, msize, backend_lbs(b));
	if (b->max_size > (size / msize) << b->conf.lbs_shift)
		b->max_size = (size / msize) << b->conf.lbs_shift;
	/* a zeroed block needs PI made for it: the block layer writes zeros */
	b->discard_granularity = 0;
	b->max_discard_sectors = 0;
	b->max_write_zeroes_sectors = 0;
	return 0;
}

static int loop_open(struct backend *b)
{
	struct stat st;
	struct loop *lo;
	int ret;

	if (!b->conf.file || !*b->conf.file)
		return backend_fail(b, -EINVAL, "loop: -f FILE is required");
	lo = calloc(1, sizeof(*lo));
	if (!lo)
		return backend_fail(b, -ENOMEM, "loop: out of memory");
	lo->meta_fd = -1;
	ret = loop_open_data(b, lo, &st);
	if (ret)
		goto err;
	loop_set_discard(b, &st);
	ret = loop_open_meta(b, lo, &st);
	if (ret)
		goto err;
	b->attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	b->zero_copy = 1;	/* READ_FIXED / WRITE_FIXED on the request's pages */
	b->auto_path = BACKEND_AUTO_ZERO_COPY;	/* no copy at all; user copy saves none */
	b->priv = lo;
	return 0;

err:
	if (lo->meta_fd >= 0)
		close(lo->meta_fd);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	free(lo);
	return ret;
}

static void loop_close(struct backend *b)
{
	if (!b->priv)
		return;		/* never opened: b->fd may be a zeroed 0 */
	close(b->fd);
	if (((struct loop *)b->priv)->meta_fd >= 0)
		close(((struct loop *)b->priv)->meta_fd);
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

	if (op > UBLK_IO_OP_WRITE_ZEROES || op == UBLK_IO_OP_WRITE_SAME ||
	    (lo->meta_fd >= 0 && op > UBLK_IO_OP_FLUSH))
		return -EOPNOTSUPP;	/* with metadata: none advertised */
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
	/* a read or write done in full is the request's result */
	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		ublk_queue_link_commit(q, tag, sqe, (int)len);
	return BACKEND_QUEUED;
}

/*
 * Integrity: after the data of a read or write (@res bytes of it) or a
 * flush of the data file, the same for the metadata file: the metadata
 * of the whole blocks done, at metadata_size bytes a block.  A request
 * without metadata (the block layer's checks turned off) moves none.
 * BACKEND_QUEUED, or the request's result.
 */
static int loop_queue_meta(struct backend *b, struct ublk_queue *q,
			   unsigned tag, unsigned op, int res)
{
	const struct loop *lo = b->priv;
	const unsigned shift = b->conf.lbs_shift;
	const unsigned msize = b->conf.integrity.metadata_size;
	const struct ublksrv_io_desc *iod = q ? ublk_queue_iod(q, tag) : NULL;
	struct io_uring_sqe *sqe;
	size_t mlen;
	void *meta;

	if (res < 0 || lo->meta_fd < 0 || !iod)
		return res;
	meta = ublk_queue_meta(q, tag, &mlen);
	if (op != UBLK_IO_OP_FLUSH && !meta)
		return res;
	if (op != UBLK_IO_OP_FLUSH && !((unsigned)res >> shift))
		return -EIO;	/* not one whole block: nothing would be done */
	sqe = ublk_queue_get_sqe(q, tag, op, LOOP_META);
	if (!sqe)
		return -EBUSY;	/* rings are sized so that this cannot be */
	if (op == UBLK_IO_OP_FLUSH) {
		uring_prep_fsync(sqe, lo->meta_fd, IORING_FSYNC_DATASYNC);
		return BACKEND_QUEUED;
	}
	uring_prep_rw(sqe, op == UBLK_IO_OP_READ ? IORING_OP_READ : IORING_OP_WRITE,
		      lo->meta_fd, meta, ((unsigned)res >> shift) * msize,
		      ((iod->start_sector << 9) >> shift) * msize);
	if (op == UBLK_IO_OP_WRITE && (iod->op_flags & UBLK_IO_F_FUA))
		sqe->rw_flags = SUBLK_RWF_DSYNC;
	return BACKEND_QUEUED;
}

/* A metadata read or write of @res bytes: the data bytes it completes. */
static int loop_meta_done(const struct backend *b, int res)
{
	const unsigned msize = b->conf.integrity.metadata_size;

	if (res < 0)
		return res;
	/* short: the blocks whose metadata moved are done, the driver requeues the rest */
	if ((unsigned)res < msize)
		return -EIO;
	return (int)(((unsigned)res / msize) << b->conf.lbs_shift);
}

/* A CQE of WRITE_ZEROES: done, or (tmpfs) retried as a hole punch. */
static int loop_zeroes_done(struct backend *b, struct ublk_queue *q,
			    unsigned tag, const struct io_uring_cqe *cqe)
{
	const int res = cqe->res;
	const struct ublksrv_io_desc *iod;
	struct io_uring_sqe *sqe;

	/*
	 * A file system without ZERO_RANGE (tmpfs) can still punch a
	 * hole, which reads back as zeros: try that once.
	 */
	if (!q || res != -EOPNOTSUPP || user_data_tgt_data(cqe->user_data) ||
	    ((struct loop *)b->priv)->is_blkdev)
		return res < 0 ? res : 0;
	iod = ublk_queue_iod(q, tag);
	sqe = ublk_queue_get_sqe(q, tag, UBLK_IO_OP_WRITE_ZEROES, LOOP_RETRY);
	if (!sqe || !iod)
		return res;
	uring_prep_fallocate(sqe, BACKEND_FIXED_FD,
			     SUBLK_FALLOC_FL_PUNCH_HOLE | SUBLK_FALLOC_FL_KEEP_SIZE,
			     iod->start_sector << 9,
			     (uint64_t)iod->nr_sectors << 9);
	sqe->flags |= IOSQE_FIXED_FILE;
	return BACKEND_QUEUED;
}

static int loop_io_done(struct backend *b, struct ublk_queue *q, unsigned tag,
			const struct io_uring_cqe *cqe)
{
	const unsigned op = user_data_op(cqe->user_data);
	const int meta = user_data_tgt_data(cqe->user_data) == LOOP_META;
	const int res = cqe->res;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (meta)
			return loop_meta_done(b, res);
		return loop_queue_meta(b, q, tag, op, res ? res : -EIO);
	case UBLK_IO_OP_FLUSH:
		if (meta)
			return res < 0 ? res : 0;
		return loop_queue_meta(b, q, tag, op, res < 0 ? res : 0);
	case UBLK_IO_OP_DISCARD:
		return res < 0 ? loop_discard_result(b, res) : 0;
	case UBLK_IO_OP_WRITE_ZEROES:
		return loop_zeroes_done(b, q, tag, cqe);
	default:
		return res < 0 ? res : 0;
	}
}

static int loop_flush(struct backend *b)
{
	const struct loop *lo = b->priv;

	if (fdatasync(b->fd))
		return -errno;
	return lo->meta_fd >= 0 && fdatasync(lo->meta_fd) ? -errno : 0;
}

/* ,"@key":"@path" (the comma unless first) at @buf + *@n; -ENOSPC if it does not fit. */
static int loop_json_path(char *buf, size_t len, size_t *n, const char *key,
			  const char *path)
{
	int m = snprintf(buf + *n, len - *n, "%s\"%s\":", *n ? "," : "", key);

	if (m < 0 || (size_t)m >= len - *n)
		return -ENOSPC;
	*n += (size_t)m;
	m = backend_json_str(buf + *n, len - *n, path);
	if (m < 0)
		return m;
	*n += (size_t)m;
	return 0;
}

static int loop_json(const struct backend *b, char *buf, size_t len)
{
	const struct loop *lo = b->priv;
	size_t n = 0;
	int m;

	if (!len)
		return -ENOSPC;
	if (loop_json_path(buf, len, &n, "backing_file", b->conf.file) ||
	    (b->conf.meta_file &&
	     loop_json_path(buf, len, &n, "metadata_file", b->conf.meta_file)))
		return -ENOSPC;
	m = snprintf(buf + n, len - n, ",\"direct_io\":%d,\"size\":%llu",
		     lo->direct_io, (unsigned long long)b->size);
	if (m < 0 || (size_t)m >= len - n)
		return -ENOSPC;
	return (int)(n + (size_t)m);
}

const struct backend_ops backend_loop_ops = {
	.name = "loop",
	.no_scheduler = 1,
	.open = loop_open,
	.close = loop_close,
	.queue_io = loop_queue_io,
	.io_done = loop_io_done,
	.flush = loop_flush,
	.json = loop_json,
};
