// SPDX-License-Identifier: MIT
/*
 * Batch I/O (UBLK_F_BATCH_IO, Linux 7.0): three per-queue commands replace
 * FETCH_REQ / COMMIT_AND_FETCH_REQ.
 *
 *   PREP_IO_CMDS	once at setup: every tag, with its buffer address in
 *			copy mode; a tag is then the kernel's to hand out.
 *   FETCH_IO_CMDS	multishot, one per queue: each CQE names a provided
 *			buffer holding the u16 tags of new requests.  It ends
 *			with -ENODEV when the queue stops, and with -ENOBUFS
 *			when we ran out of buffers: then it is sent again.
 *   COMMIT_IO_CMDS	results of many tags at once; re-arms them.  Its
 *			result is the bytes of elements handled: it stops at
 *			the first bad one and leaves the rest undone.
 *
 * Several threads may FETCH from one queue, and one thread from several
 * queues (batch_serves).  The kernel hands a queue's requests to one of
 * its FETCHes at a time, the oldest; another takes over when that one
 * ends.  Any thread may commit any tag, but here the thread whose FETCH
 * brought a request serves and commits it: with AUTO_BUF_REG the kernel
 * registers the request's buffer in that ring and unregisters it at a
 * commit from that ring only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FETCH_BUFS	32	/* provided buffers; a CQE uses up one */
#define FETCH_TAGS	128	/* tags per buffer: the most a CQE carries */
#define COMMIT_BUFS	4	/* one gathering, the rest in flight */

/* A queue the thread fetches from, and the results it gathers for it. */
struct batch_queue {
	struct ublk_queue *q;
	char *elems;			/* COMMIT_BUFS x depth elements */
	unsigned nr[COMMIT_BUFS];	/* elements in each buffer */
	int busy[COMMIT_BUFS];		/* sent, CQE not yet seen */
	unsigned cur;			/* the buffer results gather in */
};

struct ublk_batch {
	struct uring_buf_ring ring;	/* shared by the thread's FETCHes */
	uint16_t *tags;			/* FETCH_BUFS x FETCH_TAGS */
	uint16_t flags;			/* UBLK_BATCH_F_* of PREP and COMMIT */
	unsigned elem_bytes;
	unsigned nr_bufs;		/* FETCH_BUFS, or 1 (d->sw.one_fetch_buf) */
	unsigned nr_queues;
	struct batch_queue bq[];	/* by batch_slot() of the queue */
};

int batch_is_cmd(unsigned op)
{
	return op == UBLK_IO_PREP_IO_CMDS || op == UBLK_IO_COMMIT_IO_CMDS ||
	       op == UBLK_IO_FETCH_IO_CMDS;
}

/*
 * Threads and queues are dealt round robin both ways: with at least as
 * many threads as queues thread t fetches from queue t mod Q (several
 * threads share a queue), with fewer thread t fetches from every queue q
 * with q mod N == t (one thread, several queues).  Either way a thread's
 * queues, or a queue's threads, are one.
 */
int batch_serves(const struct ublk_dev *d, unsigned t, unsigned q)
{
	if (d->nr_threads >= d->nr_queues)
		return t % d->nr_queues == q;
	return q % d->nr_threads == t;
}

/* Queue @q's place among its threads' queues: the same in each of them. */
static unsigned batch_slot(const struct ublk_dev *d, unsigned q)
{
	return q / d->nr_threads;
}

/*
 * Where the kernel registers (AUTO_BUF_REG) a request of @q's @tag: in
 * the ring of whichever thread fetches it, so one index for all of them.
 */
unsigned batch_buf_index(const struct ublk_dev *d, unsigned q, unsigned tag)
{
	return batch_slot(d, q) * d->queues[q].depth + tag;
}

/* The queue @q_id of @t's, or NULL: @q_id may come from a CQE. */
static struct batch_queue *batch_queue(const struct ublk_thread *t,
				       unsigned q_id)
{
	struct ublk_batch *b = t->batch;
	unsigned slot = q_id / t->dev->nr_threads;

	if (slot >= b->nr_queues || b->bq[slot].q->q_id != q_id)
		return NULL;
	return &b->bq[slot];
}

static struct ublk_elem_header *elem_at(const struct ublk_batch *b,
					const struct batch_queue *bq,
					unsigned buf, unsigned i)
{
	return (struct ublk_elem_header *)(bq->elems +
		((size_t)buf * bq->q->depth + i) * b->elem_bytes);
}

static void put_elem(struct ublk_batch *b, struct batch_queue *bq,
		     unsigned buf, unsigned tag, int result)
{
	struct ublk_elem_header *e = elem_at(b, bq, buf, bq->nr[buf]++);
	const struct ublk_io *io = &bq->q->ios[tag];
	uint64_t addr = (uint64_t)(uintptr_t)io->buf;

	e->tag = (uint16_t)tag;
	e->buf_index = (uint16_t)io->buf_index;
	e->result = result;
	/* copy mode: the kernel copies a read's data from here, every time */
	if (b->flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		memcpy(e + 1, &addr, sizeof(addr));
	/* zoned: then the sector a zone append wrote at (read for no other op) */
	if (b->flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		memcpy((char *)(e + 1) + (b->flags & UBLK_BATCH_F_HAS_BUF_ADDR ?
					  sizeof(addr) : 0),
		       &io->zone_lba, sizeof(io->zone_lba));
}

/* A batch command SQE for @bq's queue; @slot comes back in the CQE's tag. */
static struct io_uring_sqe *batch_cmd(struct ublk_thread *t,
				      const struct batch_queue *bq, unsigned nr,
				      unsigned slot, unsigned nr_elem)
{
	struct ublk_batch *b = t->batch;
	struct io_uring_sqe *sqe;
	struct ublk_batch_io *cmd;

	/* always ioctl-encoded: a driver with batch I/O takes nothing else */
	sqe = queue_cmd_sqe(t, bq->q->q_id, slot, nr, UBLK_IO_IOWR(nr));
	if (!sqe)
		return NULL;
	cmd = (struct ublk_batch_io *)sqe->cmd;
	cmd->q_id = (uint16_t)bq->q->q_id;
	cmd->nr_elem = (uint16_t)nr_elem;
	if (nr == UBLK_IO_FETCH_IO_CMDS) {
		cmd->elem_bytes = sizeof(uint16_t);
	} else {
		cmd->flags = b->flags;
		cmd->elem_bytes = (uint8_t)b->elem_bytes;
	}
	t->cmd_inflight++;
	return sqe;
}

/* Send @bq's commit buffer @buf as PREP or COMMIT. */
static int send_elems(struct ublk_thread *t, struct batch_queue *bq,
		      unsigned nr, unsigned buf)
{
	struct io_uring_sqe *sqe = batch_cmd(t, bq, nr, buf, bq->nr[buf]);

	if (!sqe)
		return -EBUSY;
	sqe->addr = (uint64_t)(uintptr_t)elem_at(t->batch, bq, buf, 0);
	sqe->len = bq->nr[buf] * t->batch->elem_bytes;
	bq->busy[buf] = 1;
	return 0;
}

static int send_fetch(struct ublk_thread *t, const struct batch_queue *bq)
{
	struct io_uring_sqe *sqe = batch_cmd(t, bq, UBLK_IO_FETCH_IO_CMDS, 0,
					     FETCH_TAGS);

	if (!sqe)
		return -EBUSY;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BATCH_FETCH_BGID;
	sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
	return 0;
}

static void give_back(struct ublk_batch *b, unsigned bid)
{
	uring_buf_ring_add(&b->ring, b->tags + (size_t)bid * FETCH_TAGS,
			   FETCH_TAGS * sizeof(uint16_t), (uint16_t)bid);
}

/* PREP every tag of @bq's queue and wait for it: its error is a setup error. */
static int prep_queue(struct ublk_thread *t, struct batch_queue *bq)
{
	struct io_uring_cqe *cqe;
	unsigned tag, head, n = 0;
	int ret, res = -EIO;

	for (tag = 0; tag < bq->q->depth; tag++) {
		put_elem(t->batch, bq, bq->cur, tag, 0);
		bq->q->ios[tag].flags = UBLK_IO_IN_KERNEL;
	}
	ret = send_elems(t, bq, UBLK_IO_PREP_IO_CMDS, bq->cur);
	if (ret < 0)
		return ret;
	ret = uring_submit_and_wait(&t->ring, 1);
	if (ret < 0)
		return ret;
	uring_for_each_cqe(&t->ring, head, cqe) {
		if (user_data_op(cqe->user_data) == UBLK_IO_PREP_IO_CMDS)
			res = cqe->res;
		n++;
	}
	uring_cq_advance(&t->ring, n);
	t->cmd_inflight--;
	bq->busy[bq->cur] = 0;
	bq->nr[bq->cur] = 0;
	if (res < 0)
		log_err("queue %u: PREP_IO_CMDS: %s", bq->q->q_id, strerror(-res));
	return res < 0 ? res : 0;
}

/* t->commit in batch I/O: @tag's result goes out with the next COMMIT_IO_CMDS. */
static void batch_commit(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned tag, int result)
{
	struct batch_queue *bq = batch_queue(t, q->q_id);

	if (!bq) {	/* only a thread that fetched the tag serves it */
		log_err("thread %u: queue %u tag %u: not a queue it fetches from",
			t->idx, q->q_id, tag);
		return;
	}
	put_elem(t->batch, bq, bq->cur, tag, result);
	q->ios[tag].flags = UBLK_IO_IN_KERNEL;
}

static unsigned batch_nr_queues(const struct ublk_thread *t)
{
	unsigned q, n = 0;

	for (q = 0; q < t->dev->nr_queues; q++)
		n += batch_serves(t->dev, t->idx, q);
	return n;
}

static uint16_t batch_flags(unsigned mode)
{
	uint16_t flags = 0;

	if (!(mode & (UBLK_QMODE_USER_COPY | UBLK_QMODE_ZERO_COPY)))
		flags |= UBLK_BATCH_F_HAS_BUF_ADDR;
	if (mode & UBLK_QMODE_AUTO_REG)
		flags |= UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK;
	if (mode & UBLK_QMODE_ZONED)
		flags |= UBLK_BATCH_F_HAS_ZONE_LBA;
	return flags;
}

/* The state of each queue @t fetches from, in batch_slot() order. */
static int batch_init_queues(struct ublk_thread *t)
{
	struct ublk_batch *b = t->batch;
	unsigned q, n = 0;

	for (q = 0; q < t->dev->nr_queues; q++) {
		struct batch_queue *bq = &b->bq[n];

		if (!batch_serves(t->dev, t->idx, q))
			continue;
		bq->q = &t->dev->queues[q];
		bq->elems = calloc((size_t)COMMIT_BUFS * bq->q->depth, b->elem_bytes);
		if (!bq->elems)
			return -ENOMEM;
		b->nr_queues = ++n;
	}
	return 0;
}

int batch_init(struct ublk_thread *t)
{
	unsigned n = batch_nr_queues(t), i;
	struct ublk_batch *b;
	int ret;

	b = calloc(1, sizeof(*b) + n * sizeof(b->bq[0]));
	if (!b)
		return -ENOMEM;
	t->batch = b;
	t->commit = batch_commit;
	b->flags = batch_flags(t->dev->queues[0].mode);
	b->elem_bytes = sizeof(struct ublk_elem_header) +
			(b->flags & UBLK_BATCH_F_HAS_BUF_ADDR ? sizeof(uint64_t) : 0) +
			(b->flags & UBLK_BATCH_F_HAS_ZONE_LBA ? sizeof(uint64_t) : 0);
	b->tags = calloc((size_t)FETCH_BUFS * FETCH_TAGS, sizeof(uint16_t));
	if (!b->tags)
		return -ENOMEM;
	ret = batch_init_queues(t);
	if (ret < 0)
		return ret;

	b->nr_bufs = t->dev->sw.one_fetch_buf ? 1 : FETCH_BUFS;
	ret = uring_buf_ring_setup(&t->ring, &b->ring, b->nr_bufs, BATCH_FETCH_BGID);
	if (ret < 0)
		return ret;
	for (i = 0; i < b->nr_bufs; i++)
		give_back(b, i);
	uring_buf_ring_publish(&b->ring);
	return 0;
}

/*
 * PREP the queues @t is the first thread of (q->thread); the others' first
 * threads did before this one started (dev.c), since the kernel takes a
 * FETCH only for a queue whose every tag is PREPped.  Then FETCH each.
 */
int batch_setup(struct ublk_thread *t)
{
	struct ublk_batch *b;
	unsigned i;
	int ret = batch_init(t);

	if (ret < 0)
		return ret;
	b = t->batch;
	for (i = 0; i < b->nr_queues; i++) {
		if (b->bq[i].q->thread != t)
			continue;
		ret = prep_queue(t, &b->bq[i]);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < b->nr_queues; i++) {
		ret = send_fetch(t, &b->bq[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Send @bq's gathered results, if any. */
static void flush_queue(struct ublk_thread *t, struct batch_queue *bq)
{
	unsigned i, next;

	if (!bq->nr[bq->cur])
		return;
	/* a free buffer to gather in next; if none, send later */
	for (i = 1; i < COMMIT_BUFS; i++) {
		next = (bq->cur + i) % COMMIT_BUFS;
		if (!bq->busy[next])
			break;
	}
	if (i == COMMIT_BUFS)
		return;
	if (send_elems(t, bq, UBLK_IO_COMMIT_IO_CMDS, bq->cur) < 0)
		return;
	t->submit_cqes++;	/* the kernel commits them as it submits */
	__atomic_fetch_add(&t->commits, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->committed, bq->nr[bq->cur], __ATOMIC_RELAXED);
	bq->cur = next;
}

void batch_flush(struct ublk_thread *t)
{
	unsigned i;

	for (i = 0; t->batch && i < t->batch->nr_queues; i++)
		flush_queue(t, &t->batch->bq[i]);
}

/*
 * A COMMIT finished: the elements past the first bad one go again.  @buf
 * and @res come from the CQE: @buf is checked before it indexes anything.
 */
static void committed(struct ublk_thread *t, struct batch_queue *bq,
		      unsigned buf, int res)
{
	struct ublk_batch *b = t->batch;
	struct ublk_elem_header *e;
	unsigned i, n, done;

	if (buf >= COMMIT_BUFS || !bq->busy[buf]) {
		log_err("queue %u: CQE for unknown commit buffer %u", bq->q->q_id, buf);
		return;
	}
	t->cmd_inflight--;
	n = bq->nr[buf];
	done = res > 0 ? (unsigned)res / b->elem_bytes : 0;
	if (done < n) {
		e = elem_at(b, bq, buf, done);
		log_err("queue %u tag %u: COMMIT_IO_CMDS refused its result %d: %s",
			bq->q->q_id, e->tag, e->result,
			res < 0 ? strerror(-res) : "partial commit");
		if (e->tag < bq->q->depth)
			bq->q->ios[e->tag].flags = UBLK_IO_DONE;
		/* each tag is in one buffer at most: the gathering one has room */
		for (i = done + 1; i < n && bq->nr[bq->cur] < bq->q->depth; i++)
			memcpy(elem_at(b, bq, bq->cur, bq->nr[bq->cur]++),
			       elem_at(b, bq, buf, i), b->elem_bytes);
	}
	bq->nr[buf] = 0;
	bq->busy[buf] = 0;
}

/* The tags a FETCH CQE carries, into @tags; its buffer goes back at once. */
static unsigned fetched_tags(struct ublk_batch *b, const struct io_uring_cqe *cqe,
			     uint16_t *tags)
{
	unsigned bid, n;

	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return 0;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (cqe->res <= 0 || bid >= b->nr_bufs)
		return 0;
	n = (unsigned)cqe->res / sizeof(uint16_t);
	if (n > FETCH_TAGS)
		n = FETCH_TAGS;
	memcpy(tags, b->tags + (size_t)bid * FETCH_TAGS, n * sizeof(uint16_t));
	give_back(b, bid);
	uring_buf_ring_publish(&b->ring);
	return n;
}

/*
 * The FETCH ended: sent again unless the queue is going away.  Then the
 * idle tags will never be handed out.  Threads that share the queue all
 * see its end; they mark the same tags alike.
 */
static void fetch_ended(struct ublk_thread *t, const struct batch_queue *bq,
			int res)
{
	struct ublk_queue *q = bq->q;
	unsigned i;

	t->cmd_inflight--;
	if (res >= 0 || res == -ENOBUFS) {
		log_debug("queue %u: FETCH_IO_CMDS ended (%d): again", q->q_id, res);
		send_fetch(t, bq);
		return;
	}
	if (res != -ENODEV) {
		log_err("queue %u: FETCH_IO_CMDS: %s", q->q_id, strerror(-res));
		t->failed = 1;
	}
	t->aborted = 1;
	for (i = 0; i < q->depth; i++)
		if (q->ios[i].flags == UBLK_IO_IN_KERNEL)
			q->ios[i].flags = UBLK_IO_DONE;
	log_debug("queue %u: fetch aborted (%d)", q->q_id, res);
}

static void fetched(struct ublk_thread *t, const struct batch_queue *bq,
		    const struct io_uring_cqe *cqe)
{
	struct ublk_queue *q = bq->q;
	uint16_t tags[FETCH_TAGS];
	unsigned n = fetched_tags(t->batch, cqe, tags), i;

	for (i = 0; i < n; i++) {
		/* only a tag the kernel holds can bring a request */
		if (tags[i] >= q->depth || q->ios[tags[i]].flags != UBLK_IO_IN_KERNEL) {
			log_err("queue %u: fetched bad tag %u", q->q_id, tags[i]);
			continue;
		}
		/*
		 * This thread serves and commits it: the kernel registered its
		 * buffer (AUTO_BUF_REG) in this ring, and unregisters it at a
		 * commit from this ring only.  dump reads it.
		 */
		__atomic_store_n(&q->ios[tags[i]].t, t, __ATOMIC_RELAXED);
		queue_serve(q, tags[i]);
	}
	if (!(cqe->flags & IORING_CQE_F_MORE))
		fetch_ended(t, bq, cqe->res);
}

void batch_handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe)
{
	unsigned op = user_data_op(cqe->user_data);
	unsigned q_id = user_data_q(cqe->user_data);
	struct batch_queue *bq;

	if (!t->batch) {
		log_err("thread %u: batch CQE op 0x%x without batch I/O", t->idx, op);
		return;
	}
	bq = batch_queue(t, q_id);
	if (!bq)
		log_err("thread %u: batch CQE op 0x%x for queue %u, which it does not fetch from",
			t->idx, op, q_id);
	else if (op == UBLK_IO_FETCH_IO_CMDS)
		fetched(t, bq, cqe);
	else if (op == UBLK_IO_COMMIT_IO_CMDS)
		committed(t, bq, user_data_tag(cqe->user_data), cqe->res);
	else
		log_err("queue %u: unexpected batch CQE op 0x%x res %d",
			q_id, op, cqe->res);
}

void batch_teardown(struct ublk_thread *t)
{
	struct ublk_batch *b = t->batch;
	unsigned i;

	if (!b)
		return;
	uring_buf_ring_free(&t->ring, &b->ring);
	for (i = 0; i < b->nr_queues; i++)
		free(b->bq[i].elems);
	free(b->tags);
	free(b);
	t->batch = NULL;
	t->commit = NULL;
}
