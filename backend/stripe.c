// SPDX-License-Identifier: MIT
/*
 * stripe: RAID-0 over two or more regular files or block devices.
 *
 * The device is cut into chunks (--chunk_size, a power of two); chunk i
 * lives on member i % N, at chunk i / N of that member.  A read or write
 * becomes one SQE per chunk it touches, on the queue's own ring, each
 * reading or writing its slice of the request's buffer (or, in zero copy,
 * of the request's registered pages: the fixed buffer's addr is an offset
 * into them).  A flush is an fsync of every member.  A discard or
 * write-zeroes needs no buffer, and what it covers on each member is one
 * contiguous range, so it is one fallocate per member.
 *
 * The request completes when all its SQEs have: the first error wins.  A
 * short piece is passed on as loop passes a short read or write: the
 * result is the bytes done from the start of the request up to the first
 * piece that fell short, and the driver requeues the rest (reading or
 * writing a piece twice is harmless).  Only 0 bytes becomes -EIO.
 *
 * Members are opened O_DIRECT unless --buffered_io, as loop's file is.
 * They are plain (not registered) files on the rings: the rings register
 * one backing file only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "../uring/uring.h"
#include "../ublk/log.h"

#define STRIPE_CHUNK_DEFAULT	(64U << 10)	/* as kublk */
#define STRIPE_CHUNK_MIN	(4U << 10)
#define STRIPE_CHUNK_MAX	(1U << 20)

/* tgt_data of a write-zeroes SQE retried as a hole punch: member | this */
#define STRIPE_RETRY		0x8000

struct stripe_member {
	int fd;
	int is_blkdev;
};

/* What a request in flight has gathered from its pieces. */
struct stripe_tag {
	int result;		/* the first error, or 0 */
	unsigned pending;	/* SQEs in flight */
	uint32_t done;		/* read / write: bytes done from the start */
};

struct stripe {
	unsigned nr;		/* members */
	unsigned shift;		/* log2 of the chunk size */
	int direct_io;		/* every member opened O_DIRECT */
	int discard;		/* every member a regular file */
	unsigned nr_queues;
	struct stripe_tag *tags;	/* [queue][UBLK_MAX_QUEUE_DEPTH] */
	struct stripe_member m[BACKEND_MAX_FILES];
};

/* Where device byte @off lives: member index and offset in it. */
static unsigned stripe_map(const struct stripe *s, uint64_t off, uint64_t *moff)
{
	uint64_t chunk = off >> s->shift;

	*moff = (chunk / s->nr) << s->shift | (off & ((1ULL << s->shift) - 1));
	return (unsigned)(chunk % s->nr);
}

/*
 * The offset in member @m of the first device byte at or after @off that
 * member @m holds.  The bytes of [a, b) on member @m are then the member's
 * range [stripe_member_off(a, m), stripe_member_off(b, m)).
 */
static uint64_t stripe_member_off(const struct stripe *s, uint64_t off,
				  unsigned m)
{
	uint64_t moff;
	unsigned first = stripe_map(s, off, &moff);

	if (m == first)
		return moff;
	moff >>= s->shift;	/* the row */
	return (m < first ? moff + 1 : moff) << s->shift;
}

static struct stripe_tag *stripe_tag(struct stripe *s, struct ublk_queue *q,
				     unsigned tag)
{
	unsigned qid = ublk_queue_id(q);

	if (qid >= s->nr_queues || tag >= UBLK_MAX_QUEUE_DEPTH)
		return NULL;
	return &s->tags[(size_t)qid * UBLK_MAX_QUEUE_DEPTH + tag];
}

/* ---- open and close ---- */

/* Open member @i of @b: its fd and size; -errno with b->err set. */
static int stripe_open_member(struct backend *b, struct stripe *s, unsigned i,
			      struct stat *st, uint64_t *size)
{
	const char *file = b->conf.files[i];
	int direct = !b->conf.buffered_io;
	int fd, ssz = 0;

	fd = backend_open_data(file, &direct);
	if (fd < 0)
		return backend_fail(b, -errno, "stripe: cannot open %s: %s", file,
				    strerror(errno));
	s->m[i].fd = fd;	/* stripe_close() closes it from here on */
	if (fstat(fd, st))
		return backend_fail(b, -errno, "stripe: cannot stat %s: %s",
				    file, strerror(errno));
	if (direct != !b->conf.buffered_io) {
		log_warn("stripe: %s refuses O_DIRECT: using buffered I/O", file);
		s->direct_io = 0;
	}
	if (S_ISBLK(st->st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) || ioctl(fd, BLKSSZGET, &ssz))
			return backend_fail(b, -errno,
					    "stripe: cannot get the size of %s: %s",
					    file, strerror(errno));
		backend_raise_lbs(b, (uint64_t)ssz, "stripe", file);
		s->m[i].is_blkdev = 1;
		s->discard = 0;
	} else if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		if (direct)
			backend_raise_lbs(b, backend_sysfs_queue(st->st_dev,
								 "logical_block_size"),
					  "stripe", file);
	} else {
		return backend_fail(b, -EINVAL,
				    "stripe: %s is not a regular file or block device",
				    file);
	}
	return 0;
}

static int stripe_check_conf(struct backend *b)
{
	unsigned chunk = b->conf.chunk_size;

	if (b->conf.nr_files < 2)
		return backend_fail(b, -EINVAL,
				    "stripe: needs two or more members (-f FILE -f FILE ...)");
	if (b->conf.nr_files > BACKEND_MAX_FILES)
		return backend_fail(b, -EINVAL, "stripe: at most %u members",
				    BACKEND_MAX_FILES);
	if (chunk < STRIPE_CHUNK_MIN || chunk > STRIPE_CHUNK_MAX ||
	    (chunk & (chunk - 1)))
		return backend_fail(b, -EINVAL,
				    "stripe: --chunk_size %u is not a power of two from %u to %u",
				    chunk, STRIPE_CHUNK_MIN, STRIPE_CHUNK_MAX);
	return 0;
}

static void stripe_close(struct backend *b)
{
	struct stripe *s = b->priv;
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < s->nr; i++)
		if (s->m[i].fd >= 0)
			close(s->m[i].fd);
	free(s->tags);
	free(s);
	b->priv = NULL;
}

/* The members' sizes: the device's, or -errno with b->err set. */
static int stripe_open_members(struct backend *b, struct stripe *s,
			       uint64_t *smallest)
{
	struct stat st[BACKEND_MAX_FILES];
	uint64_t size;
	unsigned i, j;
	int ret;

	*smallest = UINT64_MAX;
	for (i = 0; i < s->nr; i++) {
		ret = stripe_open_member(b, s, i, &st[i], &size);
		if (ret)
			return ret;
		for (j = 0; j < i; j++)
			if (st[j].st_mode == st[i].st_mode &&
			    (S_ISBLK(st[i].st_mode) ? st[j].st_rdev == st[i].st_rdev :
			     st[j].st_dev == st[i].st_dev && st[j].st_ino == st[i].st_ino))
				return backend_fail(b, -EINVAL,
						    "stripe: %s and %s are the same %s",
						    b->conf.files[j], b->conf.files[i],
						    S_ISBLK(st[i].st_mode) ? "device" : "file");
		if (size >> s->shift == 0)
			return backend_fail(b, -EINVAL,
					    "stripe: %s (%llu bytes) is smaller than one %u-byte chunk",
					    b->conf.files[i], (unsigned long long)size,
					    1U << s->shift);
		if (size < *smallest)
			*smallest = size;
	}
	*smallest &= ~((1ULL << s->shift) - 1);
	return 0;
}

static int stripe_open(struct backend *b)
{
	uint64_t smallest, total;
	struct stripe *s;
	unsigned i;
	int ret;

	if (!b->conf.chunk_size)
		b->conf.chunk_size = STRIPE_CHUNK_DEFAULT;
	ret = stripe_check_conf(b);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return backend_fail(b, -ENOMEM, "stripe: out of memory");
	s->nr = b->conf.nr_files;
	for (i = 0; i < s->nr; i++)
		s->m[i].fd = -1;
	s->shift = (unsigned)__builtin_ctz(b->conf.chunk_size);
	s->direct_io = !b->conf.buffered_io;
	s->discard = 1;
	s->nr_queues = b->conf.nr_queues ? b->conf.nr_queues : 1;
	b->priv = s;

	/* untouched pages of it cost nothing: only the tags in use are */
	s->tags = calloc((size_t)s->nr_queues * UBLK_MAX_QUEUE_DEPTH,
			 sizeof(*s->tags));
	if (!s->tags) {
		ret = backend_fail(b, -ENOMEM, "stripe: out of memory");
		goto err;
	}
	ret = stripe_open_members(b, s, &smallest);
	if (ret)
		goto err;
	total = smallest * s->nr;
	if (b->conf.size > total) {
		ret = backend_fail(b, -EINVAL,
				   "stripe: --size %llu is larger than the %u members hold (%llu bytes)",
				   (unsigned long long)b->conf.size, s->nr,
				   (unsigned long long)total);
		goto err;
	}
	ret = backend_set_size(b, "stripe", b->conf.size ? b->conf.size : total);
	if (ret)
		goto err;
	b->max_size = b->size;
	b->attrs = UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA;
	b->max_write_zeroes_sectors = BACKEND_MAX_DISCARD_SECTORS;
	if (s->discard) {
		/* a hole is punched a filesystem block at a time */
		b->discard_granularity = 4096;
		b->max_discard_sectors = BACKEND_MAX_DISCARD_SECTORS;
	}
	b->fd = -1;
	b->zero_copy = 1;	/* READ_FIXED / WRITE_FIXED at an offset */
	b->auto_path = BACKEND_AUTO_ZERO_COPY;	/* as loop: no copy at all */
	return 0;
err:
	stripe_close(b);
	return ret;
}

/* ---- I/O ---- */

/* An SQE for @tag counted in @st, or NULL (then @st has failed). */
static struct io_uring_sqe *stripe_sqe(struct ublk_queue *q, unsigned tag,
				       unsigned op, unsigned tgt_data,
				       struct stripe_tag *st)
{
	struct io_uring_sqe *sqe = ublk_queue_get_sqe(q, tag, op, tgt_data);

	if (!sqe) {
		if (!st->result)
			st->result = -EBUSY;
		return NULL;
	}
	st->pending++;
	return sqe;
}

/* Where piece @k of a read or write starts in the request, and its length. */
static uint32_t stripe_piece(const struct stripe *s,
			     const struct ublksrv_io_desc *iod, unsigned k,
			     uint32_t *len)
{
	const uint32_t chunk = 1U << s->shift;
	const uint32_t total = iod->nr_sectors << 9;
	uint32_t first = chunk - (uint32_t)((iod->start_sector << 9) & (chunk - 1));
	uint32_t pos = k ? first + (k - 1) * chunk : 0;

	*len = k ? chunk : first;
	if (*len > total - pos)
		*len = total - pos;
	return pos;
}

static void stripe_queue_rw(struct stripe *s, struct ublk_queue *q,
			    unsigned tag, const struct ublksrv_io_desc *iod,
			    char *buf, struct stripe_tag *st)
{
	const unsigned op = ublksrv_get_op(iod);
	const uint32_t total = iod->nr_sectors << 9;
	struct io_uring_sqe *sqe;
	uint32_t pos, len;
	uint64_t moff;
	unsigned k, m;
	int uop;

	if (buf)
		uop = op == UBLK_IO_OP_READ ? IORING_OP_READ : IORING_OP_WRITE;
	else
		uop = op == UBLK_IO_OP_READ ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
	for (k = 0, pos = 0; pos < total; k++, pos += len) {
		stripe_piece(s, iod, k, &len);
		m = stripe_map(s, (iod->start_sector << 9) + pos, &moff);
		sqe = stripe_sqe(q, tag, op, k, st);
		if (!sqe)
			return;
		/* zero copy: addr is an offset into the request's pages */
		uring_prep_rw(sqe, uop, s->m[m].fd,
			      buf ? buf + pos : (char *)(uintptr_t)pos, len, moff);
		if (!buf)
			sqe->buf_index = (uint16_t)ublk_queue_buf_index(q, tag);
		if (op == UBLK_IO_OP_WRITE && (iod->op_flags & UBLK_IO_F_FUA))
			sqe->rw_flags = SUBLK_RWF_DSYNC;
	}
}

/* The fallocate mode of a discard or write-zeroes on member @m. */
static int stripe_falloc_mode(const struct stripe *s, unsigned m,
			      const struct ublksrv_io_desc *iod, int retry)
{
	if (ublksrv_get_op(iod) == UBLK_IO_OP_DISCARD || retry)
		return SUBLK_FALLOC_FL_PUNCH_HOLE | SUBLK_FALLOC_FL_KEEP_SIZE;
	/* write-zeroes, as the kernel's loop driver does it */
	if (!s->m[m].is_blkdev && !(iod->op_flags & UBLK_IO_F_NOUNMAP))
		return SUBLK_FALLOC_FL_PUNCH_HOLE | SUBLK_FALLOC_FL_KEEP_SIZE;
	return SUBLK_FALLOC_FL_ZERO_RANGE | SUBLK_FALLOC_FL_KEEP_SIZE;
}

/* Member @m's share of a discard or write-zeroes (or a flush of it). */
static void stripe_queue_member(struct stripe *s, struct ublk_queue *q,
				unsigned tag, const struct ublksrv_io_desc *iod,
				unsigned m, int retry, struct stripe_tag *st)
{
	const unsigned op = ublksrv_get_op(iod);
	const uint64_t off = iod->start_sector << 9;
	const uint64_t end = off + ((uint64_t)iod->nr_sectors << 9);
	uint64_t from = stripe_member_off(s, off, m);
	uint64_t to = stripe_member_off(s, end, m);
	struct io_uring_sqe *sqe;

	if (op != UBLK_IO_OP_FLUSH && from >= to)
		return;		/* none of it on this member */
	sqe = stripe_sqe(q, tag, op, m | (retry ? STRIPE_RETRY : 0), st);
	if (!sqe)
		return;
	if (op == UBLK_IO_OP_FLUSH)
		uring_prep_fsync(sqe, s->m[m].fd, IORING_FSYNC_DATASYNC);
	else
		uring_prep_fallocate(sqe, s->m[m].fd,
				     stripe_falloc_mode(s, m, iod, retry),
				     from, to - from);
}

/* What a request whose pieces all completed returns to the kernel. */
static int stripe_result(const struct stripe_tag *st, unsigned op)
{
	if (st->result < 0)
		return st->result;
	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE)
		return 0;
	return st->done ? (int)st->done : -EIO;
}

static int stripe_queue_io(struct backend *b, struct ublk_queue *q,
			   unsigned tag, const struct ublksrv_io_desc *iod,
			   void *buf)
{
	struct stripe *s = b->priv;
	struct stripe_tag *st = stripe_tag(s, q, tag);
	const unsigned op = ublksrv_get_op(iod);
	const uint64_t off = iod->start_sector << 9;
	const uint64_t len = (uint64_t)iod->nr_sectors << 9;
	unsigned m;

	if (op > UBLK_IO_OP_WRITE_ZEROES || op == UBLK_IO_OP_WRITE_SAME ||
	    (op == UBLK_IO_OP_DISCARD && !s->discard))
		return -EOPNOTSUPP;
	if (!st)
		return -EIO;
	if (op != UBLK_IO_OP_FLUSH &&
	    (iod->start_sector > b->size >> 9 || len > b->size - off || !len))
		return -EIO;

	st->result = 0;
	st->pending = 0;
	st->done = (uint32_t)len;
	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		stripe_queue_rw(s, q, tag, iod, buf, st);
	else
		for (m = 0; m < s->nr && !st->result; m++)
			stripe_queue_member(s, q, tag, iod, m, 0, st);
	return st->pending ? BACKEND_QUEUED : stripe_result(st, op);
}

/* Note one piece's result in @st. */
static void stripe_piece_done(struct stripe *s, struct ublk_queue *q,
			      unsigned tag, struct stripe_tag *st,
			      const struct io_uring_cqe *cqe)
{
	const unsigned data = user_data_tgt_data(cqe->user_data);
	const struct ublksrv_io_desc *iod = ublk_queue_iod(q, tag);
	const int res = cqe->res;
	uint32_t pos, len;

	switch (user_data_op(cqe->user_data)) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (res < 0)
			break;
		pos = stripe_piece(s, iod, data, &len);
		if ((uint32_t)res < len && pos + (uint32_t)res < st->done)
			st->done = pos + (uint32_t)res;
		return;
	case UBLK_IO_OP_DISCARD:
		if (res == -EOPNOTSUPP)
			return;		/* advisory, as loop has it */
		break;
	case UBLK_IO_OP_WRITE_ZEROES:
		/*
		 * A file system without ZERO_RANGE (tmpfs) can still punch a
		 * hole, which reads back as zeros: try that once.
		 */
		if (res == -EOPNOTSUPP && !(data & STRIPE_RETRY) && !st->result &&
		    !s->m[data].is_blkdev) {
			stripe_queue_member(s, q, tag, iod, data, 1, st);
			return;
		}
		break;
	}
	if (res < 0 && !st->result)
		st->result = res;
}

static int stripe_io_done(struct backend *b, struct ublk_queue *q,
			  unsigned tag, const struct io_uring_cqe *cqe)
{
	struct stripe *s = b->priv;
	struct stripe_tag *st = stripe_tag(s, q, tag);

	if (!st || !st->pending)
		return -EIO;	/* cannot be: every SQE was counted */
	st->pending--;
	stripe_piece_done(s, q, tag, st, cqe);
	if (st->pending)
		return BACKEND_QUEUED;
	return stripe_result(st, user_data_op(cqe->user_data));
}

static int stripe_flush(struct backend *b)
{
	const struct stripe *s = b->priv;
	unsigned i;
	int ret = 0;

	for (i = 0; i < s->nr; i++)
		if (fdatasync(s->m[i].fd) && !ret)
			ret = -errno;
	return ret;
}

static int stripe_json(const struct backend *b, char *buf, size_t len)
{
	const struct stripe *s = b->priv;
	size_t n;
	unsigned i;
	int m;

	m = snprintf(buf, len, "\"members\":[");
	if (m < 0 || (size_t)m >= len)
		return -ENOSPC;
	n = (size_t)m;
	for (i = 0; i < s->nr; i++) {
		if (i) {
			if (n + 1 >= len)
				return -ENOSPC;
			buf[n++] = ',';
		}
		m = backend_json_str(buf + n, len - n, b->conf.files[i]);
		if (m < 0)
			return m;
		n += (size_t)m;
	}
	m = snprintf(buf + n, len - n,
		     "],\"chunk_size\":%u,\"direct_io\":%d,\"size\":%llu",
		     1U << s->shift, s->direct_io, (unsigned long long)b->size);
	if (m < 0 || (size_t)m >= len - n)
		return -ENOSPC;
	return (int)(n + (size_t)m);
}

const struct backend_ops backend_stripe_ops = {
	.name = "stripe",
	.no_scheduler = 1,
	.open = stripe_open,
	.close = stripe_close,
	.queue_io = stripe_queue_io,
	.io_done = stripe_io_done,
	.flush = stripe_flush,
	.json = stripe_json,
};
