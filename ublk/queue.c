// SPDX-License-Identifier: MIT
/*
 * The per-queue I/O loop: one thread and one ring per queue.
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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "ublk.h"

#define CDEV_FIXED_FD	0	/* /dev/ublkcN is fixed file 0 on the ring */

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) & ~(pg - 1);
}

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

struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q)
{
	struct io_uring_sqe *sqe = uring_get_sqe(&q->ring);

	if (sqe)
		q->tgt_inflight++;
	return sqe;
}

const struct ublksrv_io_desc *ublk_queue_iod(const struct ublk_queue *q,
					     unsigned tag)
{
	return &q->descs[tag];
}

/* Where the kernel copies a request's data from and to. */
static uint64_t io_cmd_addr(const struct ublk_queue *q, unsigned tag)
{
	if (q->mode & (UBLK_QMODE_USER_COPY | UBLK_QMODE_ZERO_COPY))
		return 0;
	return (uint64_t)(uintptr_t)q->ios[tag].buf;
}

/* Queue an io command (fetch, commit, get-data, buffer (un)register). */
static struct io_uring_sqe *queue_io_cmd(struct ublk_queue *q, unsigned tag,
					 unsigned nr, int result)
{
	struct io_uring_sqe *sqe;
	struct ublksrv_io_cmd *cmd;

	sqe = uring_get_sqe(&q->ring);
	if (!sqe) {
		log_err("queue %u: no SQE for tag %u", q->q_id, tag);
		return NULL;
	}
	cmd = uring_prep_cmd(sqe, CDEV_FIXED_FD, io_cmd_op(q, nr));
	sqe->flags |= IOSQE_FIXED_FILE;
	cmd->q_id = (uint16_t)q->q_id;
	cmd->tag = (uint16_t)tag;
	cmd->result = result;
	sqe->user_data = ublk_user_data(tag, nr, 0, 0);
	if (nr == UBLK_IO_REGISTER_IO_BUF || nr == UBLK_IO_UNREGISTER_IO_BUF) {
		cmd->addr = tag;	/* the buffer-table slot: one per tag */
		/* an unregister posts no CQE on success: only a register counts */
		if (nr == UBLK_IO_REGISTER_IO_BUF)
			q->aux_inflight++;
		return sqe;
	}
	cmd->addr = io_cmd_addr(q, tag);
	/* auto registration: the kernel puts the next request's buffer in slot tag */
	if (q->mode & UBLK_QMODE_AUTO_REG)
		sqe->addr = tag | (uint64_t)UBLK_AUTO_BUF_REG_FALLBACK << 16;
	q->ios[tag].flags = UBLK_IO_IN_KERNEL;
	q->cmd_inflight++;
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

static void queue_commit(struct ublk_queue *q, unsigned tag, int result)
{
	const struct ublksrv_io_desc *iod = &q->descs[tag];
	struct ublk_io *io = &q->ios[tag];
	unsigned op = ublksrv_get_op(iod);
	struct io_uring_sqe *sqe;
	ssize_t n;

	log_debug("q%u tag %u commit op %u sector %llu len %u res %d", q->q_id,
		  tag, op, (unsigned long long)iod->start_sector,
		  iod->nr_sectors << 9, result);
	TRACE(q, "sublk: dev %u q %u tag %u commit op %u sector %llu len %u res %d\n",
	      q->dev->info.dev_id, q->q_id, tag, op,
	      (unsigned long long)iod->start_sector, iod->nr_sectors << 9, result);

	/* USER_COPY: hand the read data to the kernel before committing */
	if ((q->mode & UBLK_QMODE_USER_COPY) && op == UBLK_IO_OP_READ &&
	    result > 0) {
		n = pwrite(q->dev->cdev_fd, io->buf, (size_t)result,
			   user_copy_off(q, tag));
		if (n != result)
			result = n < 0 ? -errno : -EIO;
	}
	if (result < 0)
		q->stats.errors[op & 7]++;
	else if (has_data(op))
		q->stats.bytes += (unsigned)result;
	if (q->no_commit)
		return;
	/* a buffer we registered must go before the request can complete */
	if (io->flags & UBLK_IO_BUF_REGISTERED) {
		sqe = queue_io_cmd(q, tag, UBLK_IO_UNREGISTER_IO_BUF, 0);
		if (sqe)
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	queue_io_cmd(q, tag, UBLK_IO_COMMIT_AND_FETCH_REQ, result);
}

/* Hand request @tag to the backend, its data reachable. */
static void queue_serve_backend(struct ublk_queue *q, unsigned tag)
{
	const struct ublksrv_io_desc *iod = &q->descs[tag];
	struct ublk_io *io = &q->ios[tag];
	struct backend *b = q->backend;
	unsigned before;
	int ret;

	io->flags = (io->flags & UBLK_IO_BUF_REGISTERED) | UBLK_IO_IN_BACKEND;
	before = q->tgt_inflight;
	ret = b->ops->queue_io(b, q, tag, iod,
			       (q->mode & UBLK_QMODE_ZERO_COPY) ? NULL : io->buf);
	io->tgt_inflight += q->tgt_inflight - before;
	if (q->tgt_inflight != before)
		TRACE(q, "sublk: dev %u q %u tag %u backend issue %u sqe\n",
		      q->dev->info.dev_id, q->q_id, tag, q->tgt_inflight - before);
	if (ret != BACKEND_QUEUED)
		queue_commit(q, tag, ret);
}

/* A request arrived for @tag: make its data reachable, then serve it. */
static void queue_serve(struct ublk_queue *q, unsigned tag)
{
	const struct ublksrv_io_desc *iod = &q->descs[tag];
	struct ublk_io *io = &q->ios[tag];
	unsigned op = ublksrv_get_op(iod);
	unsigned len = iod->nr_sectors << 9;
	ssize_t n;

	log_debug("q%u tag %u fetched op %u sector %llu len %u flags 0x%x",
		  q->q_id, tag, op, (unsigned long long)iod->start_sector,
		  len, iod->op_flags >> 8);
	TRACE(q, "sublk: dev %u q %u tag %u fetch op %u sector %llu len %u\n",
	      q->dev->info.dev_id, q->q_id, tag, op,
	      (unsigned long long)iod->start_sector, len);
	q->stats.reqs[op & 7]++;
	io->flags = UBLK_IO_IN_BACKEND;

	if ((q->mode & UBLK_QMODE_USER_COPY) && op == UBLK_IO_OP_WRITE) {
		n = pread(q->dev->cdev_fd, io->buf, len, user_copy_off(q, tag));
		if (n != (ssize_t)len) {
			queue_commit(q, tag, n < 0 ? -errno : -EIO);
			return;
		}
	}
	/*
	 * Zero copy: the request's pages go into the ring's buffer table
	 * (slot tag) for the backend's fixed-buffer I/O: by the kernel
	 * itself with AUTO_BUF_REG, unless it asks us to (NEED_REG_BUF).
	 */
	if ((q->mode & UBLK_QMODE_ZERO_COPY) && has_data(op) &&
	    (!(q->mode & UBLK_QMODE_AUTO_REG) ||
	     (iod->op_flags & UBLK_IO_F_NEED_REG_BUF))) {
		if (!queue_io_cmd(q, tag, UBLK_IO_REGISTER_IO_BUF, 0))
			queue_commit(q, tag, -EBUSY);
		return;		/* served when the registration completes */
	}
	queue_serve_backend(q, tag);
}

static void queue_handle_cqe(struct ublk_queue *q, uint64_t ud, int res,
			     const struct io_uring_cqe *cqe)
{
	unsigned tag = user_data_tag(ud), op = user_data_op(ud);
	struct backend *b = q->backend;
	int ret;

	if (tag >= q->depth) {
		log_err("queue %u: CQE for bad tag %u", q->q_id, tag);
		return;
	}
	if (user_data_is_tgt(ud)) {
		q->tgt_inflight--;
		q->ios[tag].tgt_inflight--;
		TRACE(q, "sublk: dev %u q %u tag %u backend done res %d\n",
		      q->dev->info.dev_id, q->q_id, tag, res);
		ret = b->ops->io_done(b, q, tag, cqe);
		log_debug("q%u tag %u backend op %u done res %d", q->q_id, tag,
			  op, res);
		if (ret != BACKEND_QUEUED)
			queue_commit(q, tag, ret);
		return;
	}
	if (op == UBLK_IO_REGISTER_IO_BUF) {
		q->aux_inflight--;
		if (res < 0) {
			log_err("queue %u tag %u: REGISTER_IO_BUF: %s", q->q_id,
				tag, strerror(-res));
			queue_commit(q, tag, res);
			return;
		}
		q->ios[tag].flags |= UBLK_IO_BUF_REGISTERED;
		queue_serve_backend(q, tag);
		return;
	}
	if (op == UBLK_IO_UNREGISTER_IO_BUF) {
		/* only a failure posts a CQE (CQE_SKIP_SUCCESS) */
		log_err("queue %u tag %u: UNREGISTER_IO_BUF: %s", q->q_id, tag,
			strerror(-res));
		return;
	}

	q->cmd_inflight--;
	if (res == UBLK_IO_RES_OK) {
		queue_serve(q, tag);
	} else if (res == UBLK_IO_RES_NEED_GET_DATA) {
		queue_io_cmd(q, tag, UBLK_IO_NEED_GET_DATA, 0);
	} else {
		/* -ENODEV: the queue is going away; anything else is fatal too */
		if (res != -ENODEV)
			log_err("queue %u tag %u: io command failed: %s", q->q_id,
				tag, strerror(-res));
		q->ios[tag].flags = UBLK_IO_DONE;
		log_debug("q%u tag %u aborted (%d)", q->q_id, tag, res);
	}
}

static void queue_reap(struct ublk_queue *q)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	uring_for_each_cqe(&q->ring, head, cqe) {
		queue_handle_cqe(q, cqe->user_data, cqe->res, cqe);
		n++;
	}
	uring_cq_advance(&q->ring, n);
}

static int queue_setup(struct ublk_queue *q)
{
	struct ublk_dev *d = q->dev;
	int fds[2] = { d->cdev_fd, q->backend->fd };
	size_t desc_off;
	unsigned i;
	int ret;

	/* The ring's entries: one command per tag plus backend SQEs. */
	ret = uring_init(&q->ring, 2 * q->depth, URING_SETUP_OPTIONAL);
	if (ret < 0)
		return ret;
	ret = uring_register_files(&q->ring, fds, fds[1] >= 0 ? 2 : 1);
	if (ret < 0)
		return ret;
	if (q->mode & UBLK_QMODE_ZERO_COPY) {
		ret = uring_register_buffers_sparse(&q->ring, q->depth);
		if (ret < 0)
			return ret;
	}
	ret = uring_register_ring_fd(&q->ring);
	if (ret < 0)
		log_debug("queue %u: no registered ring fd (%d)", q->q_id, ret);

	desc_off = (size_t)q->q_id *
		page_round(UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc));
	q->descs_sz = page_round(q->depth * sizeof(struct ublksrv_io_desc));
	q->descs = mmap(NULL, q->descs_sz, PROT_READ, MAP_SHARED | MAP_POPULATE,
			d->cdev_fd, (off_t)desc_off);
	if (q->descs == MAP_FAILED) {
		q->descs = NULL;
		return -errno;
	}

	/* page-aligned per-tag buffers; zero copy needs none */
	if (!(q->mode & UBLK_QMODE_ZERO_COPY)) {
		q->bufs_sz = (size_t)q->depth * d->info.max_io_buf_bytes;
		q->bufs = mmap(NULL, q->bufs_sz, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q->bufs == MAP_FAILED) {
			q->bufs = NULL;
			return -errno;
		}
	}
	q->ios = calloc(q->depth, sizeof(*q->ios));
	if (!q->ios)
		return -ENOMEM;
	for (i = 0; i < q->depth; i++) {
		if (q->bufs)
			q->ios[i].buf = (char *)q->bufs +
					(size_t)i * d->info.max_io_buf_bytes;
		if (!queue_io_cmd(q, i, UBLK_IO_FETCH_REQ, -1))
			return -EBUSY;
	}
	ret = uring_submit(&q->ring);
	ublk_test_die_point("queue_setup");
	return ret < 0 ? ret : 0;
}

static void queue_teardown(struct ublk_queue *q)
{
	uring_exit(&q->ring);
	if (q->descs)
		munmap((void *)q->descs, q->descs_sz);
	if (q->bufs)
		munmap(q->bufs, q->bufs_sz);
	free(q->ios);
	q->descs = NULL;
	q->bufs = NULL;
	q->ios = NULL;
}

static void queue_notify(struct ublk_queue *q, int state)
{
	uint64_t one = 1;

	/* release: setup_ret and the queue's fields are visible to the reader */
	__atomic_store_n(&q->state, state, __ATOMIC_RELEASE);
	if (write(q->dev->event_fd, &one, sizeof(one)) < 0)
		log_err("queue %u: cannot notify: %s", q->q_id, strerror(errno));
}

static void *queue_thread(void *arg)
{
	struct ublk_queue *q = arg;
	int ret;

	q->tid = (pid_t)syscall(SYS_gettid);
	if (CPU_COUNT(&q->cpus) &&
	    sched_setaffinity(0, sizeof(q->cpus), &q->cpus) < 0)
		log_warn("queue %u: cannot pin to its CPUs: %s", q->q_id,
			 strerror(errno));

	q->setup_ret = queue_setup(q);
	queue_notify(q, q->setup_ret < 0 ? UBLK_QUEUE_EXITED : UBLK_QUEUE_RUNNING);
	if (q->setup_ret < 0)
		goto out;

	log_debug("queue %u: tid %d serving %u tags", q->q_id, q->tid, q->depth);
	while (q->cmd_inflight || q->tgt_inflight || q->aux_inflight) {
		ret = uring_submit_and_wait(&q->ring, 1);
		if (ret < 0 && ret != -EBUSY && ret != -EAGAIN) {
			log_err("queue %u: io_uring_enter: %s", q->q_id,
				strerror(-ret));
			break;
		}
		queue_reap(q);
	}
	log_debug("queue %u: exiting", q->q_id);
out:
	queue_teardown(q);
	queue_notify(q, UBLK_QUEUE_EXITED);
	return NULL;
}

int ublk_queue_start(struct ublk_queue *q)
{
	return -pthread_create(&q->thread, NULL, queue_thread, q);
}
