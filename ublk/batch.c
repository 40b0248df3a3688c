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
 * Any thread may commit any tag, but this server keeps one thread per
 * queue: that thread's ring owns the FETCH, so with AUTO_BUF_REG the
 * kernel registers request buffers in it and unregisters them at commit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FETCH_BUFS	32	/* provided buffers; a CQE uses up one */
#define FETCH_TAGS	128	/* tags per buffer: the most a CQE carries */
#define COMMIT_BUFS	4	/* one gathering, the rest in flight */

struct ublk_batch {
	struct ublk_queue *q;
	struct uring_buf_ring ring;
	uint16_t *tags;			/* FETCH_BUFS x FETCH_TAGS */
	uint16_t flags;			/* UBLK_BATCH_F_* of PREP and COMMIT */
	unsigned elem_bytes;
	char *elems;			/* COMMIT_BUFS x depth elements */
	unsigned nr[COMMIT_BUFS];	/* elements in each buffer */
	int busy[COMMIT_BUFS];		/* sent, CQE not yet seen */
	unsigned cur;			/* the buffer results gather in */
};

int batch_is_cmd(unsigned op)
{
	return op == UBLK_IO_PREP_IO_CMDS || op == UBLK_IO_COMMIT_IO_CMDS ||
	       op == UBLK_IO_FETCH_IO_CMDS;
}

static struct ublk_elem_header *elem_at(const struct ublk_batch *b,
					unsigned buf, unsigned i)
{
	return (struct ublk_elem_header *)(b->elems +
		((size_t)buf * b->q->depth + i) * b->elem_bytes);
}

static void put_elem(struct ublk_batch *b, unsigned buf, unsigned tag,
		     int result)
{
	struct ublk_elem_header *e = elem_at(b, buf, b->nr[buf]++);
	const struct ublk_io *io = &b->q->ios[tag];
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

/* A batch command SQE for @b's queue; @slot comes back in the CQE's tag. */
static struct io_uring_sqe *batch_cmd(struct ublk_thread *t, unsigned nr,
				      unsigned slot, unsigned nr_elem)
{
	struct ublk_batch *b = t->batch;
	struct io_uring_sqe *sqe;
	struct ublk_batch_io *cmd;

	/* always ioctl-encoded: a driver with batch I/O takes nothing else */
	sqe = queue_cmd_sqe(t, b->q->q_id, slot, nr, UBLK_IO_IOWR(nr));
	if (!sqe)
		return NULL;
	cmd = (struct ublk_batch_io *)sqe->cmd;
	cmd->q_id = (uint16_t)b->q->q_id;
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

/* Send commit buffer @buf as PREP or COMMIT. */
static int send_elems(struct ublk_thread *t, unsigned nr, unsigned buf)
{
	struct ublk_batch *b = t->batch;
	struct io_uring_sqe *sqe = batch_cmd(t, nr, buf, b->nr[buf]);

	if (!sqe)
		return -EBUSY;
	sqe->addr = (uint64_t)(uintptr_t)elem_at(b, buf, 0);
	sqe->len = b->nr[buf] * b->elem_bytes;
	b->busy[buf] = 1;
	return 0;
}

static int send_fetch(struct ublk_thread *t)
{
	struct io_uring_sqe *sqe = batch_cmd(t, UBLK_IO_FETCH_IO_CMDS, 0,
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

/* PREP every tag and wait for it: its error is a setup error. */
static int prep_all(struct ublk_thread *t)
{
	struct ublk_batch *b = t->batch;
	struct io_uring_cqe *cqe;
	unsigned tag, head, n = 0;
	int ret, res = -EIO;

	for (tag = 0; tag < b->q->depth; tag++) {
		put_elem(b, b->cur, tag, 0);
		b->q->ios[tag].flags = UBLK_IO_IN_KERNEL;
	}
	ret = send_elems(t, UBLK_IO_PREP_IO_CMDS, b->cur);
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
	b->busy[b->cur] = 0;
	b->nr[b->cur] = 0;
	if (res < 0)
		log_err("queue %u: PREP_IO_CMDS: %s", b->q->q_id, strerror(-res));
	return res < 0 ? res : 0;
}

/* t->commit in batch I/O: @tag's result goes out with the next COMMIT_IO_CMDS. */
static void batch_commit(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned tag, int result)
{
	struct ublk_batch *b = t->batch;

	put_elem(b, b->cur, tag, result);
	q->ios[tag].flags = UBLK_IO_IN_KERNEL;
}

int batch_init(struct ublk_thread *t, struct ublk_queue *q)
{
	struct ublk_batch *b;
	unsigned i;
	int ret;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	t->batch = b;
	t->commit = batch_commit;
	b->q = q;
	if (!(q->mode & (UBLK_QMODE_USER_COPY | UBLK_QMODE_ZERO_COPY)))
		b->flags |= UBLK_BATCH_F_HAS_BUF_ADDR;
	if (q->mode & UBLK_QMODE_AUTO_REG)
		b->flags |= UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK;
	if (q->mode & UBLK_QMODE_ZONED)
		b->flags |= UBLK_BATCH_F_HAS_ZONE_LBA;
	b->elem_bytes = sizeof(struct ublk_elem_header) +
			(b->flags & UBLK_BATCH_F_HAS_BUF_ADDR ? sizeof(uint64_t) : 0) +
			(b->flags & UBLK_BATCH_F_HAS_ZONE_LBA ? sizeof(uint64_t) : 0);
	b->elems = calloc((size_t)COMMIT_BUFS * q->depth, b->elem_bytes);
	b->tags = calloc((size_t)FETCH_BUFS * FETCH_TAGS, sizeof(uint16_t));
	if (!b->elems || !b->tags)
		return -ENOMEM;

	ret = uring_buf_ring_setup(&t->ring, &b->ring, FETCH_BUFS, BATCH_FETCH_BGID);
	if (ret < 0)
		return ret;
	for (i = 0; i < FETCH_BUFS; i++)
		give_back(b, i);
	uring_buf_ring_publish(&b->ring);
	return 0;
}

int batch_setup(struct ublk_thread *t, struct ublk_queue *q)
{
	int ret = batch_init(t, q);

	if (ret < 0)
		return ret;
	ret = prep_all(t);
	if (ret < 0)
		return ret;
	return send_fetch(t);
}

void batch_flush(struct ublk_thread *t)
{
	struct ublk_batch *b = t->batch;
	unsigned i, next;

	if (!b || !b->nr[b->cur])
		return;
	/* a free buffer to gather in next; if none, send later */
	for (i = 1; i < COMMIT_BUFS; i++) {
		next = (b->cur + i) % COMMIT_BUFS;
		if (!b->busy[next])
			break;
	}
	if (i == COMMIT_BUFS)
		return;
	if (send_elems(t, UBLK_IO_COMMIT_IO_CMDS, b->cur) < 0)
		return;
	__atomic_fetch_add(&t->commits, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&t->committed, b->nr[b->cur], __ATOMIC_RELAXED);
	b->cur = next;
}

/*
 * A COMMIT finished: the elements past the first bad one go again.  @buf
 * and @res come from the CQE: @buf is checked before it indexes anything.
 */
static void committed(struct ublk_thread *t, unsigned buf, int res)
{
	struct ublk_batch *b = t->batch;
	struct ublk_elem_header *e;
	unsigned i, n, done;

	if (buf >= COMMIT_BUFS || !b->busy[buf]) {
		log_err("queue %u: CQE for unknown commit buffer %u", b->q->q_id, buf);
		return;
	}
	t->cmd_inflight--;
	n = b->nr[buf];
	done = res > 0 ? (unsigned)res / b->elem_bytes : 0;
	if (done < n) {
		e = elem_at(b, buf, done);
		log_err("queue %u tag %u: COMMIT_IO_CMDS refused its result %d: %s",
			b->q->q_id, e->tag, e->result,
			res < 0 ? strerror(-res) : "partial commit");
		if (e->tag < b->q->depth)
			b->q->ios[e->tag].flags = UBLK_IO_DONE;
		/* each tag is in one buffer at most: the gathering one has room */
		for (i = done + 1; i < n && b->nr[b->cur] < b->q->depth; i++)
			memcpy(elem_at(b, b->cur, b->nr[b->cur]++),
			       elem_at(b, buf, i), b->elem_bytes);
	}
	b->nr[buf] = 0;
	b->busy[buf] = 0;
}

static void fetched(struct ublk_thread *t, const struct io_uring_cqe *cqe)
{
	struct ublk_batch *b = t->batch;
	struct ublk_queue *q = b->q;
	uint16_t tags[FETCH_TAGS];
	unsigned bid, n = 0, i;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (cqe->res > 0 && bid < FETCH_BUFS) {
			n = (unsigned)cqe->res / sizeof(uint16_t);
			if (n > FETCH_TAGS)
				n = FETCH_TAGS;
			memcpy(tags, b->tags + (size_t)bid * FETCH_TAGS,
			       n * sizeof(uint16_t));
			give_back(b, bid);
			uring_buf_ring_publish(&b->ring);
		}
	}
	for (i = 0; i < n; i++) {
		/* only a tag the kernel holds can bring a request */
		if (tags[i] >= q->depth || q->ios[tags[i]].flags != UBLK_IO_IN_KERNEL) {
			log_err("queue %u: fetched bad tag %u", q->q_id, tags[i]);
			continue;
		}
		queue_serve(q, tags[i]);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;

	/* the FETCH ended */
	t->cmd_inflight--;
	if (cqe->res >= 0 || cqe->res == -ENOBUFS) {
		log_debug("queue %u: FETCH_IO_CMDS ended (%d): again", q->q_id,
			  cqe->res);
		send_fetch(t);
		return;
	}
	if (cqe->res != -ENODEV)
		log_err("queue %u: FETCH_IO_CMDS: %s", q->q_id, strerror(-cqe->res));
	/* the queue is going away: the idle tags will never be handed out */
	t->aborted = 1;
	for (i = 0; i < q->depth; i++)
		if (q->ios[i].flags == UBLK_IO_IN_KERNEL)
			q->ios[i].flags = UBLK_IO_DONE;
	log_debug("queue %u: fetch aborted (%d)", q->q_id, cqe->res);
}

void batch_handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe)
{
	unsigned op = user_data_op(cqe->user_data);

	if (!t->batch) {
		log_err("thread %u: batch CQE op 0x%x without batch I/O", t->idx, op);
		return;
	}
	if (op == UBLK_IO_FETCH_IO_CMDS)
		fetched(t, cqe);
	else if (op == UBLK_IO_COMMIT_IO_CMDS)
		committed(t, user_data_tag(cqe->user_data), cqe->res);
	else
		log_err("queue %u: unexpected batch CQE op 0x%x res %d",
			t->batch->q->q_id, op, cqe->res);
}

void batch_teardown(struct ublk_thread *t)
{
	struct ublk_batch *b = t->batch;

	if (!b)
		return;
	uring_buf_ring_free(&t->ring, &b->ring);
	free(b->elems);
	free(b->tags);
	free(b);
	t->batch = NULL;
	t->commit = NULL;
}
