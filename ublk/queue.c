// SPDX-License-Identifier: MIT
/*
 * Per-tag serving, the lowest layer of the I/O path: a request's way from
 * its fetch through the target to its commit, and what a queue offers its
 * target (target.h).  batch.c and thread.c call in; this file calls
 * neither: a thread that gathers commits (batch I/O) gives t->commit.
 *
 * Every tag always has exactly one command outstanding in the kernel,
 * except while its request is being served: FETCH_REQ at start, then
 * COMMIT_AND_FETCH_REQ after each request.  A commit has no CQE of its
 * own; the next CQE for the tag is its next request, or -ENODEV when the
 * queue is being torn down, after which the tag is never re-issued.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "internal.h"

/*
 * One line per request event into ftrace's trace_marker, so sublk's view
 * sits between the kernel's block and io_uring events.  A test of an int
 * when tracing is off.
 */
static void __attribute__((format(printf, 2, 3)))
queue_trace(const struct ublk_queue *q, const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (write(q->trace_fd, buf, (size_t)n) < 0)
		return;
}

#define TRACE(q, ...) do { if ((q)->trace_fd >= 0) queue_trace((q), __VA_ARGS__); } while (0)

static uint32_t io_cmd_op(const struct ublk_queue *q, unsigned nr)
{
	if (q->dev->ctrl->legacy)
		return nr;
	return UBLK_IO_IOWR(nr);
}

#define STAT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q, unsigned tag,
					unsigned op, unsigned tgt_data)
{
	int notag = tag == UBLK_TGT_NO_TAG;
	struct ublk_thread *t = notag ? q->thread : q->ios[tag].t;
	struct io_uring_sqe *sqe;

	/* no tag: for tgt_event, on the queue's one thread, until it stops */
	if (notag && (!t || t->tgt_stopping || !q->backend->ops->tgt_event))
		return NULL;
	sqe = uring_get_sqe(&t->ring);
	if (!sqe)
		return NULL;
	if (notag) {
		t->tgt_notag_inflight++;
	} else {
		t->tgt_inflight++;
		q->ios[tag].tgt_inflight++;
	}
	sqe->user_data = ublk_user_data(q->q_id, tag, op, tgt_data, 1);
	return sqe;
}

unsigned ublk_queue_sq_space(const struct ublk_queue *q)
{
	return q->thread ? uring_sq_space(&q->thread->ring) : 0;
}

void ublk_queue_cqe_at_submit(struct ublk_queue *q)
{
	if (q->thread)
		q->thread->submit_cqes++;
}

unsigned ublk_queue_id(const struct ublk_queue *q)
{
	return q->q_id;
}

unsigned ublk_queue_depth(const struct ublk_queue *q)
{
	return q->depth;
}

unsigned ublk_queue_buf_bytes(const struct ublk_queue *q)
{
	return q->dev->info.max_io_buf_bytes;
}

void ublk_queue_set_zone_lba(struct ublk_queue *q, unsigned tag,
			     uint64_t sector)
{
	q->ios[tag].zone_lba = sector;
}

unsigned ublk_queue_buf_index(const struct ublk_queue *q, unsigned tag)
{
	return q->ios[tag].buf_index;
}

/* Integrity: the metadata that goes with @bytes of a request's data. */
static size_t meta_bytes(const struct ublk_queue *q, uint64_t bytes)
{
	const struct backend_conf *conf = &q->backend->conf;

	return (size_t)(bytes >> conf->lbs_shift) * conf->integrity.metadata_size;
}

void *ublk_queue_meta(const struct ublk_queue *q, unsigned tag, size_t *len)
{
	const struct ublksrv_io_desc *iod = ublk_queue_desc(q, tag);

	if (!q->ios[tag].meta || !(iod->op_flags & UBLK_IO_F_INTEGRITY))
		return NULL;
	*len = meta_bytes(q, (uint64_t)iod->nr_sectors << 9);
	return q->ios[tag].meta;
}

const struct ublksrv_io_desc *ublk_queue_iod(const struct ublk_queue *q,
					     unsigned tag)
{
	return ublk_queue_desc(q, tag);
}

/* Where the kernel copies a request's data from and to. */
static uint64_t io_cmd_addr(const struct ublk_queue *q, unsigned tag)
{
	if (q->mode & (UBLK_QMODE_USER_COPY | UBLK_QMODE_ZERO_COPY))
		return 0;
	return (uint64_t)(uintptr_t)q->ios[tag].buf;
}

struct io_uring_sqe *queue_cmd_sqe(struct ublk_thread *t, unsigned q_id,
				    unsigned slot, unsigned nr, uint32_t cmd_op)
{
	struct io_uring_sqe *sqe = uring_get_sqe(&t->ring);

	if (!sqe) {
		log_err("queue %u: no SQE for command 0x%x (tag or slot %u)",
			q_id, nr, slot);
		return NULL;
	}
	uring_prep_cmd(sqe, CDEV_FIXED_FD, cmd_op);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = ublk_user_data(q_id, slot, nr, 0, 0);
	return sqe;
}

/* Queue an io command (fetch, commit, get-data, buffer (un)register). */
static struct io_uring_sqe *queue_io_cmd(struct ublk_queue *q, unsigned tag,
					 unsigned nr, int result)
{
	struct ublk_io *io = &q->ios[tag];
	struct ublk_thread *t = io->t;
	struct io_uring_sqe *sqe;
	struct ublksrv_io_cmd *cmd;

	sqe = queue_cmd_sqe(t, q->q_id, tag, nr, io_cmd_op(q, nr));
	if (!sqe)
		return NULL;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = (uint16_t)q->q_id;
	cmd->tag = (uint16_t)tag;
	cmd->result = result;
	if (nr == UBLK_IO_REGISTER_IO_BUF || nr == UBLK_IO_UNREGISTER_IO_BUF) {
		cmd->addr = io->buf_index;	/* its slot in the buffer table */
		/* an unregister posts no CQE on success: only a register counts */
		if (nr == UBLK_IO_REGISTER_IO_BUF)
			t->aux_inflight++;
		return sqe;
	}
	cmd->addr = io_cmd_addr(q, tag);
	/* a zone append's commit says where its data went */
	if (nr == UBLK_IO_COMMIT_AND_FETCH_REQ &&
	    ublksrv_get_op(ublk_queue_desc(q, tag)) == UBLK_IO_OP_ZONE_APPEND)
		cmd->zone_append_lba = io->zone_lba;
	/* auto registration: the kernel puts the next request's buffer there */
	if (q->mode & UBLK_QMODE_AUTO_REG)
		sqe->addr = io->buf_index |
			    (uint64_t)UBLK_AUTO_BUF_REG_FALLBACK << 16;
	io->flags = UBLK_IO_IN_KERNEL;
	t->cmd_inflight++;
	return sqe;
}

/* USER_COPY: the request's data lives at this offset of /dev/ublkcN. */
static off_t user_copy_off(const struct ublk_queue *q, unsigned tag)
{
	return (off_t)(UBLKSRV_IO_BUF_OFFSET +
		       ((uint64_t)q->q_id << UBLK_QID_OFF) +
		       ((uint64_t)tag << UBLK_TAG_OFF));
}

static int has_data(unsigned op)
{
	return op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE;
}

/* User copy through the queue: a target that moves the data itself does not. */
static int queue_copies(const struct ublk_queue *q)
{
	return (q->mode & UBLK_QMODE_USER_COPY) && !q->backend->user_copy;
}

/*
 * USER_COPY: move @len bytes of request @tag between @buf and the kernel,
 * its data or (@meta) its metadata: a read's to the kernel, a write's
 * from it.  The count moved, or -errno.
 */
static ssize_t user_move(struct ublk_queue *q, unsigned tag, int to_kernel,
			 void *buf, size_t len, int meta)
{
	off_t off = user_copy_off(q, tag);
	ssize_t n;

	if (meta)
		off = (off_t)((uint64_t)off | UBLKSRV_IO_INTEGRITY_FLAG);
	if (to_kernel)
		n = pwrite(q->dev->cdev_fd, buf, len, off);
	else
		n = pread(q->dev->cdev_fd, buf, len, off);
	return n < 0 ? -errno : n;
}

/* The same, all of it or an error: 0, or -errno (-EIO when short). */
static int user_copy(struct ublk_queue *q, unsigned tag, int to_kernel,
		     void *buf, size_t len, int meta)
{
	ssize_t n = user_move(q, tag, to_kernel, buf, len, meta);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? (int)n : -EIO;
}

int ublk_queue_copy_in(struct ublk_queue *q, unsigned tag, void *data,
		       size_t len)
{
	if (!(q->mode & UBLK_QMODE_USER_COPY) || tag >= q->depth)
		return -EINVAL;
	return (int)user_move(q, tag, 0, data, len, 0);
}

int ublk_queue_copy_out(struct ublk_queue *q, unsigned tag, const void *data,
			size_t len)
{
	if (!(q->mode & UBLK_QMODE_USER_COPY) || tag >= q->depth)
		return -EINVAL;
	return (int)user_move(q, tag, 1, (void *)data, len, 0);
}

/* USER_COPY: ops whose data we read from the request, or write into it */
static int takes_data(unsigned op)
{
	return op == UBLK_IO_OP_WRITE || op == UBLK_IO_OP_ZONE_APPEND;
}

static int gives_data(unsigned op)
{
	return op == UBLK_IO_OP_READ || op == UBLK_IO_OP_REPORT_ZONES;
}

/* What a commit of @result adds to the queue's counters. */
static void queue_count_result(struct ublk_queue *q, unsigned op, int result)
{
	if (result < 0)
		STAT_ADD(q->stats.errors[ublk_stat_slot(op)], 1);
	else if (has_data(op) || op == UBLK_IO_OP_ZONE_APPEND)
		STAT_ADD(q->stats.bytes, (unsigned)result);
}

static void queue_commit(struct ublk_queue *q, unsigned tag, int result)
{
	const struct ublksrv_io_desc *iod = ublk_queue_desc(q, tag);
	struct ublk_io *io = &q->ios[tag];
	unsigned op = ublksrv_get_op(iod);
	struct io_uring_sqe *sqe;
	size_t mlen;
	int ret;

	io->flags &= ~UBLK_IO_IN_BACKEND;
	log_debug("q%u tag %u commit op %u sector %llu len %u res %d", q->q_id,
		  tag, op, (unsigned long long)iod->start_sector,
		  iod->nr_sectors << 9, result);
	TRACE(q, "sublk: dev %u q %u tag %u commit op %u sector %llu len %u res %d\n",
	      q->dev->dev_id, q->q_id, tag, op,
	      (unsigned long long)iod->start_sector, iod->nr_sectors << 9, result);

	/* USER_COPY: hand the read data (and metadata) over before committing */
	if ((q->mode & UBLK_QMODE_USER_COPY) && gives_data(op) && result > 0) {
		ret = 0;
		if (queue_copies(q) && !(io->flags & UBLK_IO_SHMEM))
			ret = user_copy(q, tag, 1, io->buf, (size_t)result, 0);
		/* as much metadata as data: a short read has less */
		if (!ret && ublk_queue_meta(q, tag, &mlen))
			ret = user_copy(q, tag, 1, io->meta,
					meta_bytes(q, (unsigned)result), 1);
		if (ret)
			result = ret;
	}
	/*
	 * REPORT_ZONES: the kernel zeroed its buffer, and a zeroed entry ends
	 * the report, so the whole buffer is done.  Its size is not in the
	 * descriptor, but it is at most ours, and older kernels (6.12) requeue
	 * a report completed short of it; every kernel clamps a longer result.
	 */
	if (op == UBLK_IO_OP_REPORT_ZONES && result >= 0)
		result = (int)ublk_queue_buf_bytes(q);
	queue_count_result(q, op, result);
	if (q->dev->sw.no_commit)
		return;
	/* a buffer we registered must go before the request can complete */
	if (io->flags & UBLK_IO_BUF_REGISTERED) {
		sqe = queue_io_cmd(q, tag, UBLK_IO_UNREGISTER_IO_BUF, 0);
		if (sqe)
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	if (io->t->commit)
		io->t->commit(io->t, q, tag, result);	/* batch I/O gathers it */
	else
		queue_io_cmd(q, tag, UBLK_IO_COMMIT_AND_FETCH_REQ, result);
}

int ublk_queue_link_commit(struct ublk_queue *q, unsigned tag,
			   struct io_uring_sqe *sqe, int result)
{
	const struct ublksrv_io_desc *iod = ublk_queue_desc(q, tag);
	struct ublk_io *io = &q->ios[tag];
	struct ublk_thread *t = io->t;
	size_t mlen;

	/*
	 * Not where something must happen between the two: batch I/O
	 * gathers results, user copy hands the data over first, and so
	 * does integrity its metadata, a buffer we registered goes first.
	 * The commit must reach the kernel in the same submission, so it
	 * needs the SQE after @sqe: then no uring_get_sqe() submits between.
	 * And only for the thread's one request with the backend, from a
	 * reap of one CQE: then the link saves an io_uring_enter, as at
	 * depth 1 (loop over null_blk, daemon CPU per request 15.4 -> 15.0
	 * us).  With more, the CQE's enter is shared and the kernel's linked
	 * issue costs more than the CQE (depth 32: 9.4 -> 9.7 us).
	 */
	if (t->reaping != 1 || t->tgt_inflight != 1 || !io->tgt_inflight || result < 0 ||
	    !(io->flags & UBLK_IO_IN_BACKEND) || t->commit ||
	    (q->mode & UBLK_QMODE_USER_COPY) || ublk_queue_meta(q, tag, &mlen) ||
	    (io->flags & UBLK_IO_BUF_REGISTERED) || q->dev->sw.no_commit ||
	    uring_sq_space(&t->ring) < 1)
		return -EOPNOTSUPP;
	if (!queue_io_cmd(q, tag, UBLK_IO_COMMIT_AND_FETCH_REQ, result))
		return -EBUSY;
	/*
	 * In full, @sqe posts no CQE: the commit's, the tag's next request,
	 * stands for both.  Failed or short, it posts one, and the kernel
	 * drops the commit without one (queue_tgt_done).
	 */
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	t->tgt_inflight--;
	io->tgt_inflight--;
	io->flags |= UBLK_IO_LINKED;
	io->linked_res = result;
	queue_count_result(q, ublksrv_get_op(iod), result);
	log_debug("q%u tag %u commit op %u sector %llu len %u res %d, linked",
		  q->q_id, tag, ublksrv_get_op(iod),
		  (unsigned long long)iod->start_sector, iod->nr_sectors << 9,
		  result);
	TRACE(q, "sublk: dev %u q %u tag %u commit op %u sector %llu len %u res %d linked\n",
	      q->dev->dev_id, q->q_id, tag, ublksrv_get_op(iod),
	      (unsigned long long)iod->start_sector, iod->nr_sectors << 9, result);
	return 0;
}

/*
 * SHMEM_ZC: where in our mapping of a shared buffer request @tag's data
 * is, or NULL if the descriptor names no place the request fits in (or a
 * read-only buffer for data to be written into).
 */
static void *shmem_data(const struct ublk_queue *q,
			const struct ublksrv_io_desc *iod)
{
	const struct ublk_dev *d = q->dev;
	unsigned idx = ublk_shmem_zc_index(iod->addr), i;
	uint64_t off = ublk_shmem_zc_offset(iod->addr);
	uint64_t len = (uint64_t)iod->nr_sectors << 9;

	if (iod->addr >> 48 || !has_data(ublksrv_get_op(iod)))
		return NULL;
	for (i = 0; i < d->nr_shmem; i++) {
		const struct ublk_shmem *s = &d->shmem[i];

		if (s->index != idx)
			continue;
		if (off + len > s->len ||
		    (s->read_only && ublksrv_get_op(iod) != UBLK_IO_OP_WRITE))
			return NULL;
		return s->base + off;
	}
	return NULL;
}

/* What queue_io gets for @tag's data: its buffer, or NULL (see target.h). */
static void *queue_data_buf(const struct ublk_queue *q, unsigned tag)
{
	if ((q->mode & UBLK_QMODE_ZERO_COPY) ||
	    ((q->mode & UBLK_QMODE_USER_COPY) && q->backend->user_copy))
		return NULL;
	return q->ios[tag].buf;
}

/* Hand request @tag to the backend, its data reachable at @buf. */
static void queue_serve_backend(struct ublk_queue *q, unsigned tag, void *buf)
{
	const struct ublksrv_io_desc *iod = ublk_queue_desc(q, tag);
	struct ublk_io *io = &q->ios[tag];
	struct backend *b = q->backend;
	unsigned before;
	int ret;

	io->flags = (io->flags & (UBLK_IO_BUF_REGISTERED | UBLK_IO_SHMEM)) |
		    UBLK_IO_IN_BACKEND;
	before = io->tgt_inflight;
	ret = b->ops->queue_io(b, q, tag, iod, buf);
	if (io->tgt_inflight != before)
		TRACE(q, "sublk: dev %u q %u tag %u backend issue %u sqe\n",
		      q->dev->dev_id, q->q_id, tag, io->tgt_inflight - before);
	if (ret != BACKEND_QUEUED)
		queue_commit(q, tag, ret);
}

/*
 * The per-tag buffers take transparent huge pages from the queue's first
 * request of more than QUEUE_HUGE_MIN bytes on: below that they cost more
 * memory than they save (see dev_map_queue()).  What smaller requests
 * touched before is collapsed into huge pages now (Linux 6.1+; the kernel
 * leaves pages that I/O in flight holds), else khugepaged does it later.
 * Any thread of the queue may be first; a second call changes nothing.
 */
#define QUEUE_HUGE_MIN	(64u << 10)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

static void queue_bufs_huge(struct ublk_queue *q)
{
	if (__atomic_load_n(&q->bufs_huge, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&q->bufs_huge, 1, __ATOMIC_RELAXED))
		return;
	madvise(q->bufs, q->bufs_sz, MADV_HUGEPAGE);
	madvise(q->bufs, q->bufs_sz, MADV_COLLAPSE);
}

void queue_serve(struct ublk_queue *q, unsigned tag)
{
	const struct ublksrv_io_desc *iod = ublk_queue_desc(q, tag);
	struct ublk_io *io = &q->ios[tag];
	unsigned op = ublksrv_get_op(iod);
	unsigned len = iod->nr_sectors << 9;
	void *shm = NULL;
	size_t mlen;
	int ret;

	log_debug("q%u tag %u fetched op %u sector %llu len %u flags 0x%x",
		  q->q_id, tag, op, (unsigned long long)iod->start_sector,
		  len, iod->op_flags >> 8);
	TRACE(q, "sublk: dev %u q %u tag %u fetch op %u sector %llu len %u\n",
	      q->dev->dev_id, q->q_id, tag, op,
	      (unsigned long long)iod->start_sector, len);
	STAT_ADD(q->stats.reqs[ublk_stat_slot(op)], 1);
	STAT_ADD(io->t->served, 1);
	io->flags = 0;		/* ours; with the target once queue_io has it */
	if (len > QUEUE_HUGE_MIN && io->buf)
		queue_bufs_huge(q);

	/* SHMEM_ZC: the data is in a buffer we share, to be served in place */
	if (iod->op_flags & UBLK_IO_F_SHMEM_ZC) {
		shm = shmem_data(q, iod);
		if (!shm) {
			log_err("queue %u tag %u: shared buffer 0x%llx holds no %u bytes",
				q->q_id, tag, (unsigned long long)iod->addr, len);
			queue_commit(q, tag, -EIO);
			return;
		}
		io->flags = UBLK_IO_SHMEM;
		STAT_ADD(q->stats.shmem, 1);
	}
	if ((q->mode & UBLK_QMODE_USER_COPY) && takes_data(op)) {
		ret = 0;
		if (queue_copies(q) && !shm)
			ret = user_copy(q, tag, 0, io->buf, len, 0);
		if (!ret && ublk_queue_meta(q, tag, &mlen))
			ret = user_copy(q, tag, 0, io->meta, mlen, 1);
		if (ret) {
			queue_commit(q, tag, ret);
			return;
		}
	}
	/*
	 * Zero copy: the request's pages go into the ring's buffer table
	 * (slot tag) for the backend's fixed-buffer I/O: by the kernel
	 * itself with AUTO_BUF_REG, unless it asks us to (NEED_REG_BUF).
	 */
	if ((q->mode & UBLK_QMODE_ZERO_COPY) && has_data(op) && !shm &&
	    (!(q->mode & UBLK_QMODE_AUTO_REG) ||
	     (iod->op_flags & UBLK_IO_F_NEED_REG_BUF))) {
		if (!queue_io_cmd(q, tag, UBLK_IO_REGISTER_IO_BUF, 0))
			queue_commit(q, tag, -EBUSY);
		return;		/* served when the registration completes */
	}
	queue_serve_backend(q, tag, shm ? shm : queue_data_buf(q, tag));
}

int ublk_queue_complete(struct ublk_queue *q, unsigned tag, int result)
{
	struct ublk_io *io;

	/* the tag may come from the wire (a reply's handle): check it all */
	if (!q->thread || tag >= q->depth)
		return -EINVAL;
	io = &q->ios[tag];
	if (!(io->flags & UBLK_IO_IN_BACKEND))
		return -EINVAL;
	if (io->tgt_inflight)
		return -EBUSY;
	queue_commit(q, tag, result);
	return 0;
}

int queue_fetch_tags(struct ublk_thread *t)
{
	struct ublk_dev *d = t->dev;
	unsigned i, tag;

	for (i = 0; i < d->nr_queues; i++) {
		struct ublk_queue *q = &d->queues[i];

		for (tag = 0; tag < q->depth; tag++)
			if (q->ios[tag].t == t &&
			    !queue_io_cmd(q, tag, UBLK_IO_FETCH_REQ, -1))
				return -EBUSY;
	}
	return 0;
}

/* A CQE of an SQE the target queued for @tag. */
static void queue_tgt_done(struct ublk_queue *q, unsigned tag,
			   const struct io_uring_cqe *cqe)
{
	struct ublk_io *io = &q->ios[tag];
	struct backend *b = q->backend;
	int ret;

	/*
	 * A linked commit's SQE failed or came short: the kernel dropped the
	 * commit (no CQE: the SQE skipped its own on success), so the tag is
	 * with the target again, to commit what the CQE says.
	 */
	if (io->flags & UBLK_IO_LINKED) {
		io->flags = (io->flags & (UBLK_IO_BUF_REGISTERED | UBLK_IO_SHMEM)) |
			    UBLK_IO_IN_BACKEND;
		io->t->cmd_inflight--;
		io->t->tgt_inflight++;
		io->tgt_inflight++;
		if (io->linked_res > 0)		/* counted as done: it was not */
			STAT_ADD(q->stats.bytes, -(uint64_t)io->linked_res);
	}
	io->t->tgt_inflight--;
	io->tgt_inflight--;
	TRACE(q, "sublk: dev %u q %u tag %u backend done res %d\n",
	      q->dev->dev_id, q->q_id, tag, cqe->res);
	ret = b->ops->io_done(b, q, tag, cqe);
	log_debug("q%u tag %u backend op %u done res %d", q->q_id, tag,
		  user_data_op(cqe->user_data), cqe->res);
	if (ret != BACKEND_QUEUED)
		queue_commit(q, tag, ret);
}

/* A CQE of REGISTER_IO_BUF, or a failed UNREGISTER_IO_BUF, for @tag. */
static void queue_buf_cmd_done(struct ublk_queue *q, unsigned tag, unsigned op,
			       int res)
{
	struct ublk_io *io = &q->ios[tag];

	if (op == UBLK_IO_UNREGISTER_IO_BUF) {
		/* only a failure posts a CQE (CQE_SKIP_SUCCESS) */
		log_err("queue %u tag %u: UNREGISTER_IO_BUF: %s", q->q_id, tag,
			strerror(-res));
		return;
	}
	io->t->aux_inflight--;
	if (res < 0) {
		log_err("queue %u tag %u: REGISTER_IO_BUF: %s", q->q_id, tag,
			strerror(-res));
		queue_commit(q, tag, res);
		return;
	}
	io->flags |= UBLK_IO_BUF_REGISTERED;
	queue_serve_backend(q, tag, NULL);
}

/* A CQE of FETCH_REQ, COMMIT_AND_FETCH_REQ or NEED_GET_DATA for @tag. */
static void queue_fetch_done(struct ublk_queue *q, unsigned tag, int res)
{
	q->ios[tag].t->cmd_inflight--;
	if (res == UBLK_IO_RES_OK) {
		queue_serve(q, tag);
	} else if (res == UBLK_IO_RES_NEED_GET_DATA) {
		queue_io_cmd(q, tag, UBLK_IO_NEED_GET_DATA, 0);
	} else {
		/* -ENODEV: the queue is going away; anything else is fatal too */
		if (res != -ENODEV) {
			log_err("queue %u tag %u: io command failed: %s", q->q_id,
				tag, strerror(-res));
			q->ios[tag].t->failed = 1;
		}
		q->ios[tag].flags = UBLK_IO_DONE;
		q->ios[tag].t->aborted = 1;
		log_debug("q%u tag %u aborted (%d)", q->q_id, tag, res);
	}
}

/* A CQE of target I/O tied to no tag, for the target's tgt_event. */
static void queue_tgt_event(struct ublk_queue *q, const struct io_uring_cqe *cqe)
{
	struct backend *b = q->backend;
	int ret;

	/* a multishot SQE stays in flight until its last CQE */
	if (!(cqe->flags & IORING_CQE_F_MORE))
		q->thread->tgt_notag_inflight--;
	ret = b->ops->tgt_event(b, q, cqe);
	if (ret < 0)
		log_err("queue %u: backend event (op %u res %d): %s", q->q_id,
			user_data_op(cqe->user_data), cqe->res, strerror(-ret));
}

/* Does @t serve what a CQE's user_data names?  It is checked before use. */
static int queue_cqe_is_ours(const struct ublk_thread *t, uint64_t ud)
{
	unsigned q_id = user_data_q(ud), tag = user_data_tag(ud);
	const struct ublk_queue *q;

	if (q_id >= t->dev->nr_queues)
		return 0;
	q = &t->dev->queues[q_id];
	if (user_data_is_tgt(ud) && tag == UBLK_TGT_NO_TAG)
		return q->thread == t && t->tgt_notag_inflight;
	if (tag >= q->depth || q->ios[tag].t != t)
		return 0;
	/* target I/O: one of the tag's SQEs must be in flight */
	return !user_data_is_tgt(ud) || q->ios[tag].tgt_inflight ||
	       (q->ios[tag].flags & UBLK_IO_LINKED);
}

void queue_handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	unsigned q_id = user_data_q(ud), tag = user_data_tag(ud);
	unsigned op = user_data_op(ud);
	struct ublk_queue *q;

	if (!queue_cqe_is_ours(t, ud)) {
		log_err("thread %u: CQE (op 0x%x res %d%s) for queue %u tag %u, which it does not serve",
			t->idx, op, cqe->res, user_data_is_tgt(ud) ? " backend" : "",
			q_id, tag);
		return;
	}
	q = &t->dev->queues[q_id];
	if (user_data_is_tgt(ud) && tag == UBLK_TGT_NO_TAG)
		queue_tgt_event(q, cqe);
	else if (user_data_is_tgt(ud))
		queue_tgt_done(q, tag, cqe);
	else if (op == UBLK_IO_REGISTER_IO_BUF || op == UBLK_IO_UNREGISTER_IO_BUF)
		queue_buf_cmd_done(q, tag, op, cqe->res);
	else
		queue_fetch_done(q, tag, cqe->res);
}
