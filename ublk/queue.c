// SPDX-License-Identifier: MIT
/*
 * The I/O loop: each thread has one ring and serves a set of (queue, tag)
 * pairs: by default all the tags of one queue, with per-I/O threads
 * (PER_IO_DAEMON) a share of every queue's tags.
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
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER	57	/* Linux 5.6 */
#endif

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
	struct ublk_thread *t = q->ios[tag].t;
	struct io_uring_sqe *sqe = uring_get_sqe(&t->ring);

	if (!sqe)
		return NULL;
	t->tgt_inflight++;
	q->ios[tag].tgt_inflight++;
	sqe->user_data = ublk_user_data(q->q_id, tag, op, tgt_data, 1);
	return sqe;
}

unsigned ublk_queue_buf_index(const struct ublk_queue *q, unsigned tag)
{
	return q->ios[tag].buf_index;
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

struct io_uring_sqe *thread_cmd_sqe(struct ublk_thread *t, unsigned q_id,
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

	sqe = thread_cmd_sqe(t, q->q_id, tag, nr, io_cmd_op(q, nr));
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
	      q->dev->dev_id, q->q_id, tag, op,
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
		STAT_ADD(q->stats.errors[op & 7], 1);
	else if (has_data(op))
		STAT_ADD(q->stats.bytes, (unsigned)result);
	if (q->no_commit)
		return;
	/* a buffer we registered must go before the request can complete */
	if (io->flags & UBLK_IO_BUF_REGISTERED) {
		sqe = queue_io_cmd(q, tag, UBLK_IO_UNREGISTER_IO_BUF, 0);
		if (sqe)
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	}
	if (q->mode & UBLK_QMODE_BATCH)
		batch_commit(io->t, q, tag, result);
	else
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
	before = io->tgt_inflight;
	ret = b->ops->queue_io(b, q, tag, iod,
			       (q->mode & UBLK_QMODE_ZERO_COPY) ? NULL : io->buf);
	if (io->tgt_inflight != before)
		TRACE(q, "sublk: dev %u q %u tag %u backend issue %u sqe\n",
		      q->dev->dev_id, q->q_id, tag, io->tgt_inflight - before);
	if (ret != BACKEND_QUEUED)
		queue_commit(q, tag, ret);
}

void queue_serve(struct ublk_queue *q, unsigned tag)
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
	      q->dev->dev_id, q->q_id, tag, op,
	      (unsigned long long)iod->start_sector, len);
	STAT_ADD(q->stats.reqs[op & 7], 1);
	STAT_ADD(io->t->served, 1);
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

static void thread_handle_cqe(struct ublk_thread *t, uint64_t ud, int res,
			      const struct io_uring_cqe *cqe)
{
	unsigned q_id = user_data_q(ud), tag = user_data_tag(ud);
	unsigned op = user_data_op(ud);
	struct ublk_queue *q;
	struct backend *b;
	int ret;

	if (!user_data_is_tgt(ud) && batch_is_cmd(op)) {
		batch_handle_cqe(t, cqe);
		return;
	}
	if (q_id >= t->dev->nr_queues ||
	    tag >= t->dev->queues[q_id].depth ||
	    t->dev->queues[q_id].ios[tag].t != t) {
		log_err("thread %u: CQE (op 0x%x res %d%s) for queue %u tag %u, which it does not serve",
			t->idx, op, res, user_data_is_tgt(ud) ? " backend" : "",
			q_id, tag);
		return;
	}
	q = &t->dev->queues[q_id];
	b = q->backend;
	if (user_data_is_tgt(ud)) {
		t->tgt_inflight--;
		q->ios[tag].tgt_inflight--;
		TRACE(q, "sublk: dev %u q %u tag %u backend done res %d\n",
		      q->dev->dev_id, q->q_id, tag, res);
		ret = b->ops->io_done(b, q, tag, cqe);
		log_debug("q%u tag %u backend op %u done res %d", q->q_id, tag,
			  op, res);
		if (ret != BACKEND_QUEUED)
			queue_commit(q, tag, ret);
		return;
	}
	if (op == UBLK_IO_REGISTER_IO_BUF) {
		t->aux_inflight--;
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

	t->cmd_inflight--;
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

static void thread_reap(struct ublk_thread *t)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	uring_for_each_cqe(&t->ring, head, cqe) {
		thread_handle_cqe(t, cqe->user_data, cqe->res, cqe);
		n++;
	}
	uring_cq_advance(&t->ring, n);
}

static int thread_setup(struct ublk_thread *t)
{
	struct ublk_dev *d = t->dev;
	int fds[2] = { d->cdev_fd, d->backend->fd };
	unsigned i, tag;
	int ret;

	/* The ring's entries: one command per tag plus backend SQEs. */
	/*
	 * Benchmark switches (tools/bench measures what each setting pays):
	 * SUBLK_BENCH_PLAIN_RING=1 drops SINGLE_ISSUER, DEFER_TASKRUN and
	 * COOP_TASKRUN; SUBLK_BENCH_NO_RING_FD=1 keeps the ring fd unregistered.
	 */
	ret = uring_init(&t->ring, 2 * t->nr_ios,
			 getenv("SUBLK_BENCH_PLAIN_RING") ? 0 : URING_SETUP_OPTIONAL);
	if (ret < 0)
		return ret;
	ret = uring_register_files(&t->ring, fds, fds[1] >= 0 ? 2 : 1);
	if (ret < 0)
		return ret;
	if (d->queues[0].mode & UBLK_QMODE_ZERO_COPY) {
		ret = uring_register_buffers_sparse(&t->ring, t->nr_ios);
		if (ret < 0)
			return ret;
	}
	ret = getenv("SUBLK_BENCH_NO_RING_FD") ? -EPERM :
	      uring_register_ring_fd(&t->ring);
	if (ret < 0)
		log_debug("thread %u: no registered ring fd (%d)", t->idx, ret);

	if (d->queues[0].mode & UBLK_QMODE_BATCH) {
		/* one queue per thread, thread i serving queue i */
		ret = batch_setup(t, &d->queues[t->idx]);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < d->nr_queues && !t->batch; i++) {
		struct ublk_queue *q = &d->queues[i];

		for (tag = 0; tag < q->depth; tag++)
			if (q->ios[tag].t == t &&
			    !queue_io_cmd(q, tag, UBLK_IO_FETCH_REQ, -1))
				return -EBUSY;
	}
	ret = uring_submit(&t->ring);
	ublk_test_die_point("queue_setup");
	return ret < 0 ? ret : 0;
}

static void thread_notify(struct ublk_thread *t, int state)
{
	uint64_t one = 1;

	/* release: setup_ret and the thread's fields are visible to the reader */
	__atomic_store_n(&t->state, state, __ATOMIC_RELEASE);
	if (write(t->dev->event_fd, &one, sizeof(one)) < 0)
		log_err("thread %u: cannot notify: %s", t->idx, strerror(errno));
}

static void *thread_main(void *arg)
{
	struct ublk_thread *t = arg;
	int ret;

	t->tid = (pid_t)syscall(SYS_gettid);
	if (CPU_COUNT(&t->cpus) &&
	    sched_setaffinity(0, sizeof(t->cpus), &t->cpus) < 0)
		log_warn("thread %u: cannot pin to its CPUs: %s", t->idx,
			 strerror(errno));
	/*
	 * Reclaim from this thread must not wait for I/O that it serves.
	 * Every thread fails alike (no CAP_SYS_RESOURCE): the first says so.
	 */
	if (t->dev->io_flusher && prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0 && !t->idx)
		log_warn("dev %u: PR_SET_IO_FLUSHER: %s", t->dev->dev_id,
			 strerror(errno));

	t->setup_ret = thread_setup(t);
	thread_notify(t, t->setup_ret < 0 ? UBLK_THREAD_EXITED : UBLK_THREAD_RUNNING);
	if (t->setup_ret < 0)
		goto out;

	log_debug("thread %u: tid %d serving %u tags", t->idx, t->tid, t->nr_ios);
	for (;;) {
		batch_flush(t);		/* batch I/O: the results gathered */
		if (!t->cmd_inflight && !t->tgt_inflight && !t->aux_inflight)
			break;
		ret = uring_submit_and_wait(&t->ring, 1);
		if (ret < 0 && ret != -EBUSY && ret != -EAGAIN) {
			log_err("thread %u: io_uring_enter: %s", t->idx,
				strerror(-ret));
			break;
		}
		thread_reap(t);
	}
	log_debug("thread %u: exiting", t->idx);
out:
	uring_exit(&t->ring);
	batch_teardown(t);
	thread_notify(t, UBLK_THREAD_EXITED);
	return NULL;
}

int ublk_thread_start(struct ublk_thread *t)
{
	return -pthread_create(&t->thread, NULL, thread_main, t);
}
