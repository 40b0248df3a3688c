// SPDX-License-Identifier: MIT
/*
 * The server threads: each has one ring and serves a set of (queue, tag)
 * pairs: by default all the tags of one queue, with per-I/O threads
 * (PER_IO_DAEMON) a share of every queue's tags, with batch I/O the tags
 * its FETCHes bring from one queue or more.  A thread sets its ring
 * up, arms its tags (queue.c, or batch.c for batch I/O), then reaps CQEs
 * until the kernel holds no command of its and no target I/O is left.
 *
 * The layers of the I/O path call downwards only: dev.c starts threads
 * here; this file hands each CQE to batch.c or queue.c; batch.c serves
 * what it fetches through queue.c, which calls back up only through
 * t->commit.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <sys/prctl.h>

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER	57	/* Linux 5.6 */
#endif

#include "internal.h"

/* The lowest layer that dies at a setup point, so that dev.c calls down. */
void ublk_test_die_point(const struct ublk_dev *d, const char *point)
{
	if (d->sw.die_at && !strcmp(d->sw.die_at, point)) {
		log_err("test switch die_at=%s: dying", point);
		raise(SIGKILL);
	}
}

/* user_data op of the cancel that ends the target's SQEs of no tag */
#define THREAD_OP_CANCEL	0xff
/* user_data op of ublk_dev_threads_leave's wake-up */
#define THREAD_OP_WAKE		0xfe

static void thread_reap(struct ublk_thread *t)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	t->reaping = uring_cq_ready(&t->ring);
	uring_for_each_cqe(&t->ring, head, cqe) {
		uint64_t ud = cqe->user_data;
		unsigned op = user_data_op(ud);

		if (user_data_is_tgt(ud))
			queue_handle_cqe(t, cqe);
		else if (batch_is_cmd(op))
			batch_handle_cqe(t, cqe);
		else if (op == THREAD_OP_CANCEL)
			log_debug("thread %u: cancelled %d", t->idx, cqe->res);
		else if (op == THREAD_OP_WAKE)
			log_debug("thread %u: told to leave", t->idx);
		else
			queue_handle_cqe(t, cqe);
		n++;
	}
	uring_cq_advance(&t->ring, n);
}

/*
 * The target's per-queue state of the queues @t is first of (q->thread),
 * once their tags are armed.
 */
static int thread_queues_init(struct ublk_thread *t)
{
	struct ublk_dev *d = t->dev;
	struct backend *b = d->backend;
	unsigned i;
	int ret;

	for (i = 0; b->ops->queue_init && i < d->nr_queues; i++) {
		struct ublk_queue *q = &d->queues[i];

		if (q->thread != t)
			continue;
		ret = b->ops->queue_init(b, q);
		if (ret < 0) {
			log_err("queue %u: %s backend setup: %s", q->q_id,
				b->ops->name, strerror(-ret));
			return ret;
		}
		q->tgt_ready = 1;
	}
	return 0;
}

/*
 * After their last target CQE; on a failed setup, what queue_init queued
 * was never submitted.
 */
static void thread_queues_exit(struct ublk_thread *t)
{
	struct ublk_dev *d = t->dev;
	struct backend *b = d->backend;
	unsigned i;

	for (i = 0; b->ops->queue_exit && i < d->nr_queues; i++)
		if (d->queues[i].thread == t && d->queues[i].tgt_ready)
			b->ops->queue_exit(b, &d->queues[i]);
}

static int thread_setup(struct ublk_thread *t)
{
	struct ublk_dev *d = t->dev;
	struct backend *b = d->backend;
	int fds[2] = { d->cdev_fd, b->fd };
	int ret;

	/*
	 * The ring's entries: one command per tag plus backend SQEs.  The
	 * benchmark switches (d->sw) show what the setup flags and the
	 * registered ring fd pay.
	 */
	ret = uring_init(&t->ring, 2 * t->nr_ios,
			 d->sw.plain_ring ? 0 : URING_SETUP_OPTIONAL);
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
	ret = d->sw.no_ring_fd ? -EPERM : uring_register_ring_fd(&t->ring);
	if (ret < 0)
		log_debug("thread %u: no registered ring fd (%d)", t->idx, ret);

	if (d->queues[0].mode & UBLK_QMODE_BATCH)
		ret = batch_setup(t);
	else
		ret = queue_fetch_tags(t);
	if (ret < 0)
		return ret;
	ret = thread_queues_init(t);
	if (ret < 0)
		return ret;
	ret = uring_submit(&t->ring);
	ublk_test_die_point(d, "queue_setup");
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

/*
 * The kernel holds no command of ours and no request's SQE is left.  If
 * the kernel aborted commands, the queue is going away: cancel the
 * target's SQEs of no tag (a socket receive would wait forever) and keep
 * reaping until the last of them completed, so that queue_exit may free
 * what they point at.  If not, every tag is with the target, waiting for
 * what those SQEs bring: keep them.  Returns how many are in flight.
 */
static unsigned thread_stop_tgt(struct ublk_thread *t)
{
	struct io_uring_sqe *sqe;

	if (!t->tgt_notag_inflight || t->tgt_stopping || !t->aborted)
		return t->tgt_notag_inflight;
	sqe = uring_get_sqe(&t->ring);
	if (!sqe && uring_submit(&t->ring) >= 0)
		sqe = uring_get_sqe(&t->ring);
	if (sqe) {
		uring_prep_cancel_all(sqe);
		sqe->user_data = ublk_user_data(0, UBLK_TGT_NO_TAG,
						THREAD_OP_CANCEL, 0, 0);
		t->tgt_stopping = 1;
	}
	return t->tgt_notag_inflight;
}

/*
 * Told to leave (ublk_dev_threads_leave): the device's commands were
 * aborted, so what the kernel still holds of ours is fetches that would
 * never bring a request.  Ends like an abort, without waiting for them.
 */
static int thread_left(struct ublk_thread *t)
{
	if (!__atomic_load_n(&t->leave, __ATOMIC_RELAXED))
		return 0;
	t->aborted = 1;
	if (t->tgt_inflight || t->aux_inflight || thread_stop_tgt(t))
		return 0;
	(void)uring_submit(&t->ring);	/* commits gathered: the kernel has them */
	log_debug("thread %u: leaving, %u commands with the kernel", t->idx,
		  t->cmd_inflight);
	return 1;
}

/* The target's queue_submit hook of the queues @t serves, once per round. */
static void thread_tgt_submit(struct ublk_thread *t)
{
	struct ublk_dev *d = t->dev;
	struct backend *b = d->backend;
	unsigned i;

	if (!b->ops->queue_submit || t->tgt_stopping)
		return;
	for (i = 0; i < d->nr_queues; i++)
		if (d->queues[i].thread == t && d->queues[i].tgt_ready)
			b->ops->queue_submit(b, &d->queues[i]);
}

/*
 * How many CQEs to wait for.  A batch COMMIT completes as it is submitted
 * (t->submit_cqes of them this time): waiting for one CQE would end at
 * once, and a second enter would wait for what the thread is after, a new
 * request or a backend's answer.  So one enter waits for one more CQE, if
 * anything else is in flight to bring it.  Handling a COMMIT's CQE makes
 * no work that cannot wait for it, save the rest of a COMMIT the kernel
 * refused part of (it refuses only a tag it did not hand us).
 */
static unsigned thread_wait_nr(const struct ublk_thread *t)
{
	unsigned more = t->cmd_inflight + t->tgt_inflight + t->aux_inflight +
			t->tgt_notag_inflight - t->submit_cqes;

	return t->submit_cqes + (more || !t->submit_cqes);
}

/* Serve until the kernel holds no command of ours and no I/O is left. */
static void thread_serve(struct ublk_thread *t)
{
	int ret;

	log_debug("thread %u: tid %d serving %u tags", t->idx, t->tid, t->nr_ios);
	for (;;) {
		thread_tgt_submit(t);	/* what the target gathered this round */
		batch_flush(t);		/* batch I/O: the results gathered */
		if (!t->cmd_inflight && !t->tgt_inflight && !t->aux_inflight &&
		    !thread_stop_tgt(t))
			break;
		if (thread_left(t))
			break;
		ret = uring_submit_and_wait(&t->ring, thread_wait_nr(t));
		t->submit_cqes = 0;
		if (ret < 0 && ret != -EBUSY && ret != -EAGAIN) {
			log_err("thread %u: io_uring_enter: %s", t->idx,
				strerror(-ret));
			t->failed = 1;
			break;
		}
		thread_reap(t);
	}
	log_debug("thread %u: exiting", t->idx);
}

static void *thread_main(void *arg)
{
	struct ublk_thread *t = arg;

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
	if (t->setup_ret == 0)
		thread_serve(t);
	thread_queues_exit(t);
	uring_exit(&t->ring);
	batch_teardown(t);
	thread_notify(t, UBLK_THREAD_EXITED);
	return NULL;
}

int ublk_dev_threads_leave(struct ublk_dev *d)
{
	struct io_uring_sqe *sqe;
	struct uring r;
	unsigned i, n = 0;
	int ret;

	/* a ring with room for every thread's wake-up: one submission */
	ret = uring_init(&r, d->threads_started, 0);
	if (ret < 0)
		return ret;
	for (i = 0; i < d->threads_started; i++) {
		struct ublk_thread *t = &d->threads[i];

		if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != UBLK_THREAD_RUNNING)
			continue;
		__atomic_store_n(&t->leave, 1, __ATOMIC_RELAXED);
		sqe = uring_get_sqe(&r);
		if (!sqe)
			break;
		uring_prep_msg_ring(sqe, t->ring.ring_fd, 0,
				    ublk_user_data(0, 0, THREAD_OP_WAKE, 0, 0));
		n++;
	}
	if (n)
		ret = uring_submit_and_wait(&r, n);
	uring_exit(&r);
	return ret < 0 ? ret : 0;
}

int ublk_thread_start(struct ublk_thread *t)
{
	return -pthread_create(&t->thread, NULL, thread_main, t);
}
