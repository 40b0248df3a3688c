/* SPDX-License-Identifier: MIT */
/*
 * A fake ublk queue for backend tests: a bare ring standing in for the
 * queue, and helpers that drive one request to its end as the queue loop
 * would, CQEs of no tag (UBLK_TGT_NO_TAG) going to tgt_event and
 * ublk_queue_complete() finishing the request.  Include from exactly one
 * file per test program.
 */
#ifndef SUBLK_TEST_FAKE_QUEUE_H
#define SUBLK_TEST_FAKE_QUEUE_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "../../backend/backend.h"
#include "../../uring/uring.h"

#define FAKE_QUEUE_DEPTH	64

struct ublk_queue {
	struct uring ring;
	/* what the driver's shared descriptor area holds, one per tag */
	struct ublksrv_io_desc descs[FAKE_QUEUE_DEPTH];
	unsigned char serving[FAKE_QUEUE_DEPTH];	/* run_io is serving it */
	unsigned char completed[FAKE_QUEUE_DEPTH];	/* ublk_queue_complete'd ... */
	int result[FAKE_QUEUE_DEPTH];			/* ... with this */
	/* integrity: each tag's metadata buffer, or NULL */
	unsigned char *meta[FAKE_QUEUE_DEPTH];
	unsigned meta_size;				/* per 2^meta_shift bytes */
	unsigned meta_shift;
	/* user copy: the request's pages (NULL: not in user copy mode) */
	unsigned char *pages;
	size_t pages_len;
	size_t copy_short;	/* a copy moves this many bytes fewer */
	unsigned cqes_at_submit;	/* ublk_queue_cqe_at_submit calls */
	uint64_t zone_lba[FAKE_QUEUE_DEPTH];		/* ublk_queue_set_zone_lba */
};

struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q, unsigned tag,
					unsigned op, unsigned tgt_data)
{
	struct io_uring_sqe *sqe = uring_get_sqe(&q->ring);

	if (sqe)
		sqe->user_data = ublk_user_data(0, tag, op, tgt_data, 1);
	return sqe;
}

unsigned ublk_queue_buf_index(const struct ublk_queue *q, unsigned tag)
{
	return tag;
}

unsigned ublk_queue_sq_space(const struct ublk_queue *q)
{
	return uring_sq_space(&q->ring);
}

void ublk_queue_cqe_at_submit(struct ublk_queue *q)
{
	q->cqes_at_submit++;
}

#define FAKE_QUEUE_BUF_BYTES	(512U << 10)

unsigned ublk_queue_buf_bytes(const struct ublk_queue *q)
{
	return FAKE_QUEUE_BUF_BYTES;
}

void ublk_queue_set_zone_lba(struct ublk_queue *q, unsigned tag,
			     uint64_t sector)
{
	q->zone_lba[tag] = sector;
}

unsigned ublk_queue_id(const struct ublk_queue *q)
{
	return 0;
}

unsigned ublk_queue_depth(const struct ublk_queue *q)
{
	return FAKE_QUEUE_DEPTH;
}

const struct ublksrv_io_desc *ublk_queue_iod(const struct ublk_queue *q,
					     unsigned tag)
{
	return &q->descs[tag];
}

/* As the queue's: only for a request that carries metadata. */
void *ublk_queue_meta(const struct ublk_queue *q, unsigned tag, size_t *len)
{
	if (!q || !q->meta[tag] || !(q->descs[tag].op_flags & UBLK_IO_F_INTEGRITY))
		return NULL;
	*len = (size_t)(((uint64_t)q->descs[tag].nr_sectors << 9) >> q->meta_shift) *
	       q->meta_size;
	return q->meta[tag];
}

/* As the queue's: only a request being served, and once. */
int ublk_queue_complete(struct ublk_queue *q, unsigned tag, int result)
{
	if (tag >= FAKE_QUEUE_DEPTH || !q->serving[tag] || q->completed[tag])
		return -EINVAL;
	q->completed[tag] = 1;
	q->result[tag] = result;
	return 0;
}

/* User copy, as pread and pwrite on /dev/ublkcN: bounded by the request. */
static size_t fake_copy_len(const struct ublk_queue *q, size_t len)
{
	if (len > q->pages_len)
		len = q->pages_len;
	return len > q->copy_short ? len - q->copy_short : 0;
}

int ublk_queue_copy_in(struct ublk_queue *q, unsigned tag, void *data,
		       size_t len)
{
	if (!q || !q->pages || tag >= FAKE_QUEUE_DEPTH)
		return -EINVAL;
	len = fake_copy_len(q, len);
	memcpy(data, q->pages, len);
	return (int)len;
}

int ublk_queue_copy_out(struct ublk_queue *q, unsigned tag, const void *data,
			size_t len)
{
	if (!q || !q->pages || tag >= FAKE_QUEUE_DEPTH)
		return -EINVAL;
	len = fake_copy_len(q, len);
	memcpy(q->pages, data, len);
	return (int)len;
}

/* Put a request in @q's descriptor for @tag, as the driver would. */
static inline const struct ublksrv_io_desc *
fake_iod(struct ublk_queue *q, unsigned tag, unsigned op_flags,
	 uint64_t sector, uint32_t nr)
{
	REQUIRE(tag < FAKE_QUEUE_DEPTH);
	q->descs[tag] = (struct ublksrv_io_desc){
		.op_flags = op_flags,
		.nr_sectors = nr,
		.start_sector = sector,
	};
	return &q->descs[tag];
}

#define MiB	(1ULL << 20)

/* Serve one request to the end, as a queue's loop would. */
static inline int run_io(struct backend *b, struct ublk_queue *q, unsigned tag,
		  unsigned op_flags, uint64_t sector, uint32_t nr, void *buf)
{
	const struct ublksrv_io_desc local = {
		.op_flags = op_flags,
		.nr_sectors = nr,
		.start_sector = sector,
	};
	/* with no queue, a backend that finishes later cannot be tested */
	const struct ublksrv_io_desc *iod = q ?
		fake_iod(q, tag, op_flags, sector, nr) : &local;
	int ret;

	if (q)
		q->serving[tag] = 1;
	ret = b->ops->queue_io(b, q, tag, iod, buf);
	while (ret == BACKEND_QUEUED) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		REQUIRE(q);
		if (q->completed[tag]) {
			ret = q->result[tag];
			break;
		}
		if (b->ops->queue_submit)	/* as the thread does */
			b->ops->queue_submit(b, q);
		REQUIRE(uring_submit_and_wait(&q->ring, 1) >= 0);
		uring_for_each_cqe(&q->ring, head, cqe) {
			CHECK(user_data_is_tgt(cqe->user_data));
			n++;
			if (user_data_tag(cqe->user_data) == UBLK_TGT_NO_TAG) {
				REQUIRE(b->ops->tgt_event);
				CHECK_EQ(b->ops->tgt_event(b, q, cqe), 0);
				continue;
			}
			REQUIRE(b->ops->io_done);
			CHECK_EQ(user_data_tag(cqe->user_data), tag);
			CHECK_EQ(user_data_op(cqe->user_data), op_flags & 0xff);
			if (ret == BACKEND_QUEUED)
				ret = b->ops->io_done(b, q, tag, cqe);
		}
		uring_cq_advance(&q->ring, n);
	}
	if (q)
		q->serving[tag] = q->completed[tag] = 0;
	return ret;
}

static inline int io(struct backend *b, struct ublk_queue *q, unsigned op_flags,
	      uint64_t off, uint64_t len, void *buf)
{
	return run_io(b, q, 7, op_flags, off >> 9, (uint32_t)(len >> 9), buf);
}

static inline void *xalloc(size_t len)
{
	void *p;

	REQUIRE(posix_memalign(&p, 4096, len) == 0);
	/* defined for valgrind, which cannot see io_uring reads fill it */
	memset(p, 0, len);
	return p;
}

static inline void fill(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 13 + (i >> 12));
}

static inline int is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static inline int json(const struct backend *b, char *out, size_t len)
{
	int n = b->ops->json(b, out, len);

	if (n >= 0)
		CHECK_EQ(strlen(out), n);
	return n;
}

/*
 * A zeroed fake queue whose ring has the backend's file as fixed file
 * BACKEND_FIXED_FD (its tags' state is read, so it must start clean).
 */
static inline void queue_init(struct ublk_queue *q, const struct backend *b)
{
	int fds[2] = { -1, b->fd };

	memset(q, 0, sizeof(*q));
	REQUIRE(uring_init(&q->ring, 32, 0) == 0);
	REQUIRE(uring_register_files(&q->ring, fds, 2) == 0);
}

static inline int skip_without_uring(void)
{
	struct uring r;
	int ret = uring_init(&r, 4, 0);

	if (ret == -ENOSYS || ret == -EPERM)
		UNIT_SKIP("io_uring is not available");
	REQUIRE(ret == 0);
	uring_exit(&r);
	return 0;
}

#endif
