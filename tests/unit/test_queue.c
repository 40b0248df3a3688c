// SPDX-License-Identifier: MIT
/*
 * ublk/queue.c, batch.c and thread.c on the host, without the ublk driver:
 * a device built by hand, a fake target, and CQEs that are either made up
 * or come from plain io_uring operations (NOPs, pipe reads) standing in
 * for the kernel's.  Commands meant for /dev/ublkcN are taken off the SQ
 * unsubmitted and checked; in the thread test they go to a temporary
 * file, which fails them as a stopping driver would.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "unit.h"
#include "../../ublk/internal.h"

#define DEPTH	8

/* What the fake target saw and does. */
static struct fake_target {
	int queue_io_ret;		/* what queue_io returns */
	unsigned served[16];		/* tags queue_io got, in order */
	unsigned nr_served;
	int event_res[4];		/* res of each CQE tgt_event got */
	unsigned nr_events;
	int complete_tag;		/* tgt_event finishes it, if >= 0 */
	int complete_ret;		/* ... and ublk_queue_complete said */
	int pipe[2];			/* queue_init reads from pipe[0] */
	char rbuf[8];
	int inited, exited;
	unsigned notag_at_exit;		/* tagless SQEs in flight at queue_exit */
	void *buf;			/* the buffer queue_io got last */
} ft;

static int fake_queue_io(struct backend *b, struct ublk_queue *q, unsigned tag,
			 const struct ublksrv_io_desc *iod, void *buf)
{
	if (ft.nr_served < 16)
		ft.served[ft.nr_served++] = tag;
	ft.buf = buf;
	return ft.queue_io_ret;
}

static int fake_io_done(struct backend *b, struct ublk_queue *q, unsigned tag,
			const struct io_uring_cqe *cqe)
{
	return cqe->res;
}

static int fake_tgt_event(struct backend *b, struct ublk_queue *q,
			  const struct io_uring_cqe *cqe)
{
	if (ft.nr_events < 4)
		ft.event_res[ft.nr_events++] = cqe->res;
	if (ft.complete_tag >= 0)
		ft.complete_ret = ublk_queue_complete(q, (unsigned)ft.complete_tag, 512);
	return 0;
}

/* A receive that waits for ever: only the queue's stop ends it. */
static int fake_queue_init(struct backend *b, struct ublk_queue *q)
{
	struct io_uring_sqe *sqe = ublk_queue_get_sqe(q, UBLK_TGT_NO_TAG, 1, 7);

	if (!sqe)
		return -EBUSY;
	uring_prep_rw(sqe, IORING_OP_READ, ft.pipe[0], ft.rbuf, sizeof(ft.rbuf), 0);
	ft.inited++;
	return 0;
}

static void fake_queue_exit(struct backend *b, struct ublk_queue *q)
{
	ft.exited++;
	ft.notag_at_exit = q->thread->tgt_notag_inflight;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.queue_io = fake_queue_io,
	.io_done = fake_io_done,
	.tgt_event = fake_tgt_event,
	.queue_init = fake_queue_init,
	.queue_exit = fake_queue_exit,
};

/* A target of the old kind: no hooks beyond queue_io and io_done. */
static const struct backend_ops plain_ops = {
	.name = "plain",
	.queue_io = fake_queue_io,
	.io_done = fake_io_done,
};

/* One queue of DEPTH tags served by one thread, as dev.c would set it up. */
static struct fixture {
	struct ublk_ctrl ctrl;
	struct ublk_dev d;
	struct ublk_queue q;
	struct ublk_thread t;
	struct backend b;
	struct ublksrv_io_desc descs[DEPTH];
	struct ublk_io ios[DEPTH];
	char bufs[DEPTH][512];
} f;

static void fixture_init(const struct backend_ops *ops, unsigned mode, int ring)
{
	unsigned tag;

	memset(&f, 0, sizeof(f));
	memset(&ft, 0, sizeof(ft));
	ft.complete_tag = -1;
	ft.pipe[0] = ft.pipe[1] = -1;
	f.b.ops = ops;
	f.b.fd = -1;
	f.d.ctrl = &f.ctrl;
	f.d.backend = &f.b;
	f.d.queues = &f.q;
	f.d.nr_queues = 1;
	f.d.threads = &f.t;
	f.d.nr_threads = 1;
	f.d.cdev_fd = f.d.event_fd = f.d.trace_fd = -1;
	f.q.dev = &f.d;
	f.q.backend = &f.b;
	f.q.descs = f.descs;
	f.q.desc_size = sizeof(f.descs[0]);
	f.q.ios = f.ios;
	f.q.depth = DEPTH;
	f.q.mode = mode;
	f.q.trace_fd = -1;
	f.q.thread = &f.t;
	f.t.dev = &f.d;
	f.t.nr_ios = DEPTH;
	for (tag = 0; tag < DEPTH; tag++) {
		f.ios[tag].t = &f.t;
		f.ios[tag].buf = f.bufs[tag];
		f.ios[tag].buf_index = tag;
		f.ios[tag].flags = UBLK_IO_IN_KERNEL;
	}
	if (ring)
		REQUIRE(uring_init(&f.t.ring, 4 * DEPTH, 0) == 0);
}

static void fixture_exit(void)
{
	uring_exit(&f.t.ring);
	batch_teardown(&f.t);
	if (ft.pipe[0] >= 0) {
		close(ft.pipe[0]);
		close(ft.pipe[1]);
	}
}

/* Tag @tag holds a request of @op, @sectors long, that the target has. */
static void with_target(unsigned tag, unsigned op, unsigned sectors)
{
	f.descs[tag] = (struct ublksrv_io_desc){ .op_flags = op, .nr_sectors = sectors };
	f.ios[tag].flags = UBLK_IO_IN_BACKEND;
}

/* Take what was queued since the last submit off the SQ, unsubmitted. */
static unsigned take_sqes(struct io_uring_sqe *out, unsigned max)
{
	struct uring *r = &f.t.ring;
	unsigned n = 0, tail = *r->sq.ktail;

	for (; tail != r->sq.sqe_tail; tail++) {
		REQUIRE(n < max);
		out[n++] = *(struct io_uring_sqe *)((char *)r->sq.sqes +
			((size_t)(tail & r->sq.ring_mask) << 6));
	}
	r->sq.sqe_tail = *r->sq.ktail;
	return n;
}

static unsigned drop_sqes(void)
{
	struct io_uring_sqe sqes[4 * DEPTH];

	return take_sqes(sqes, 4 * DEPTH);
}

/* A made-up CQE for queue_handle_cqe (or batch_handle_cqe). */
static void cqe_in(uint64_t ud, int res, unsigned flags)
{
	struct io_uring_cqe cqe = { .user_data = ud, .res = res, .flags = flags };

	if (!user_data_is_tgt(ud) && batch_is_cmd(user_data_op(ud)))
		batch_handle_cqe(&f.t, &cqe);
	else
		queue_handle_cqe(&f.t, &cqe);
}

/* Submit, and hand the CQEs to queue_handle_cqe until @want came. */
static void reap(unsigned want)
{
	struct io_uring_cqe *cqe;
	unsigned head, got = 0, n;

	while (got < want) {
		REQUIRE(uring_submit_and_wait(&f.t.ring, 1) >= 0);
		n = 0;
		uring_for_each_cqe(&f.t.ring, head, cqe) {
			queue_handle_cqe(&f.t, cqe);
			n++;
		}
		uring_cq_advance(&f.t.ring, n);
		got += n;
	}
}

/* ---- the log, where refused CQEs are reported ---- */

static int log_pipe[2];

static void log_capture(void)
{
	REQUIRE(pipe2(log_pipe, O_NONBLOCK | O_CLOEXEC) == 0);
	log_set_sink(LOG_SINK_STDERR, log_pipe[1]);
}

/* How often @what was logged since the last call (the log is emptied). */
static unsigned logged(const char *what)
{
	static char buf[1 << 16];
	unsigned count = 0;
	ssize_t n = read(log_pipe[0], buf, sizeof(buf) - 1);
	const char *p = buf;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	fputs(buf, stderr);		/* shown when a check fails */
	while ((p = strstr(p, what))) {
		count++;
		p += strlen(what);
	}
	return count;
}

/* ---- the target interface ---- */

static void test_get_sqe(void)
{
	struct io_uring_sqe *sqe;

	fixture_init(&plain_ops, 0, 1);
	sqe = ublk_queue_get_sqe(&f.q, 3, UBLK_IO_OP_READ, 9);
	REQUIRE(sqe);
	CHECK_EQ(f.t.tgt_inflight, 1);
	CHECK_EQ(f.ios[3].tgt_inflight, 1);
	CHECK(user_data_is_tgt(sqe->user_data));
	CHECK_EQ(user_data_tag(sqe->user_data), 3);
	CHECK_EQ(user_data_op(sqe->user_data), UBLK_IO_OP_READ);
	CHECK_EQ(user_data_tgt_data(sqe->user_data), 9);
	/* no tgt_event to take its CQE: no SQE of no tag */
	CHECK(!ublk_queue_get_sqe(&f.q, UBLK_TGT_NO_TAG, 1, 0));
	CHECK_EQ(drop_sqes(), 1);
	fixture_exit();

	fixture_init(&fake_ops, 0, 1);
	sqe = ublk_queue_get_sqe(&f.q, UBLK_TGT_NO_TAG, 2, 5);
	REQUIRE(sqe);
	CHECK_EQ(user_data_tag(sqe->user_data), UBLK_TGT_NO_TAG);
	CHECK_EQ(user_data_op(sqe->user_data), 2);
	CHECK_EQ(user_data_tgt_data(sqe->user_data), 5);
	CHECK_EQ(f.t.tgt_notag_inflight, 1);
	CHECK_EQ(f.t.tgt_inflight, 0);
	/* none with per-I/O threads (no one thread), none once stopping */
	f.q.thread = NULL;
	CHECK(!ublk_queue_get_sqe(&f.q, UBLK_TGT_NO_TAG, 2, 5));
	f.q.thread = &f.t;
	f.t.tgt_stopping = 1;
	CHECK(!ublk_queue_get_sqe(&f.q, UBLK_TGT_NO_TAG, 2, 5));
	CHECK_EQ(f.t.tgt_notag_inflight, 1);
	CHECK_EQ(drop_sqes(), 1);
	fixture_exit();
}

/* tgt_event gets a tagless CQE and finishes tag 3: its commit is queued. */
static void test_tgt_event_completes(void)
{
	struct io_uring_sqe *sqe, sqes[4];
	const struct ublksrv_io_cmd *cmd;

	fixture_init(&fake_ops, 0, 1);
	with_target(3, UBLK_IO_OP_READ, 1);
	ft.complete_tag = 3;
	sqe = ublk_queue_get_sqe(&f.q, UBLK_TGT_NO_TAG, 1, 0);
	REQUIRE(sqe);
	uring_prep_nop(sqe);
	reap(1);
	CHECK_EQ(ft.nr_events, 1);
	CHECK_EQ(ft.event_res[0], 0);
	CHECK_EQ(ft.complete_ret, 0);
	CHECK_EQ(f.t.tgt_notag_inflight, 0);

	REQUIRE(take_sqes(sqes, 4) == 1);
	CHECK_EQ(sqes[0].opcode, IORING_OP_URING_CMD);
	CHECK_EQ(sqes[0].cmd_op, UBLK_IO_IOWR(UBLK_IO_COMMIT_AND_FETCH_REQ));
	CHECK_EQ(user_data_op(sqes[0].user_data), UBLK_IO_COMMIT_AND_FETCH_REQ);
	CHECK_EQ(user_data_tag(sqes[0].user_data), 3);
	CHECK(!user_data_is_tgt(sqes[0].user_data));
	cmd = (const struct ublksrv_io_cmd *)sqes[0].cmd;
	CHECK_EQ(cmd->tag, 3);
	CHECK_EQ(cmd->result, 512);
	CHECK_EQ(cmd->addr, (uint64_t)(uintptr_t)f.bufs[3]);
	CHECK_EQ(f.ios[3].flags, UBLK_IO_IN_KERNEL);
	CHECK_EQ(f.t.cmd_inflight, 1);
	CHECK_EQ(f.q.stats.bytes, 512);
	/* once committed it is no longer the target's to finish */
	CHECK_EQ(ublk_queue_complete(&f.q, 3, 512), -EINVAL);
	fixture_exit();
}

/* A multishot SQE of no tag stays in flight until its CQE without F_MORE. */
static void test_tgt_event_multishot(void)
{
	uint64_t ud = ublk_user_data(0, UBLK_TGT_NO_TAG, 1, 0, 1);

	fixture_init(&fake_ops, 0, 1);
	REQUIRE(ublk_queue_get_sqe(&f.q, UBLK_TGT_NO_TAG, 1, 0));
	CHECK_EQ(drop_sqes(), 1);
	cqe_in(ud, 100, IORING_CQE_F_MORE);
	cqe_in(ud, 200, IORING_CQE_F_MORE);
	CHECK_EQ(f.t.tgt_notag_inflight, 1);
	cqe_in(ud, -ENOBUFS, 0);
	CHECK_EQ(f.t.tgt_notag_inflight, 0);
	CHECK_EQ(ft.nr_events, 3);
	CHECK_EQ(ft.event_res[1], 200);
	CHECK_EQ(ft.event_res[2], -ENOBUFS);
	/* a CQE past the last is not the target's: nothing is in flight */
	cqe_in(ud, 0, 0);
	CHECK_EQ(ft.nr_events, 3);
	CHECK_EQ(logged("which it does not serve"), 1);
	fixture_exit();
}

static void test_complete_checks(void)
{
	fixture_init(&fake_ops, 0, 1);
	with_target(2, UBLK_IO_OP_WRITE, 1);
	CHECK_EQ(ublk_queue_complete(&f.q, DEPTH, 0), -EINVAL);
	CHECK_EQ(ublk_queue_complete(&f.q, UBLK_TGT_NO_TAG, 0), -EINVAL);
	CHECK_EQ(ublk_queue_complete(&f.q, 1, 0), -EINVAL);	/* in the kernel */
	REQUIRE(ublk_queue_get_sqe(&f.q, 2, UBLK_IO_OP_WRITE, 0));
	CHECK_EQ(ublk_queue_complete(&f.q, 2, 512), -EBUSY);	/* its SQE is out */
	f.ios[2].tgt_inflight = 0;
	f.q.thread = NULL;					/* per-I/O threads */
	CHECK_EQ(ublk_queue_complete(&f.q, 2, 512), -EINVAL);
	CHECK_EQ(drop_sqes(), 1);				/* the target's, no commit */
	CHECK_EQ(f.t.cmd_inflight, 0);
	CHECK_EQ(f.ios[2].flags, UBLK_IO_IN_BACKEND);
	fixture_exit();
}

/* ---- CQEs: each value is checked before it indexes anything ---- */

static void test_cqe_checks(void)
{
	struct io_uring_sqe sqes[4];

	fixture_init(&fake_ops, 0, 1);
	f.t.cmd_inflight = DEPTH;	/* every tag fetched */
	f.ios[5].t = NULL;		/* another thread's */
	cqe_in(ublk_user_data(1, 0, UBLK_IO_FETCH_REQ, 0, 0), 0, 0);
	cqe_in(ublk_user_data(0xfff, 0, UBLK_IO_FETCH_REQ, 0, 0), 0, 0);
	cqe_in(ublk_user_data(0, DEPTH, UBLK_IO_FETCH_REQ, 0, 0), 0, 0);
	cqe_in(ublk_user_data(0, 0xffff, UBLK_IO_FETCH_REQ, 0, 0), 0, 0);
	cqe_in(ublk_user_data(0, 5, UBLK_IO_FETCH_REQ, 0, 0), 0, 0);
	/* target CQEs with nothing of the target's in flight */
	cqe_in(ublk_user_data(0, 2, UBLK_IO_OP_READ, 0, 1), 512, 0);
	cqe_in(ublk_user_data(0, UBLK_TGT_NO_TAG, 1, 0, 1), 0, 0);
	cqe_in(ublk_user_data(3, UBLK_TGT_NO_TAG, 1, 0, 1), 0, 0);
	CHECK_EQ(logged("which it does not serve"), 8);
	CHECK_EQ(f.t.cmd_inflight, DEPTH);
	CHECK_EQ(f.t.tgt_notag_inflight, 0);
	CHECK_EQ(ft.nr_served, 0);
	CHECK_EQ(ft.nr_events, 0);
	CHECK_EQ(drop_sqes(), 0);

	/* a request for tag 4: served, committed with the target's result */
	f.descs[4] = (struct ublksrv_io_desc){ .op_flags = UBLK_IO_OP_WRITE, .nr_sectors = 1 };
	ft.queue_io_ret = 512;
	cqe_in(ublk_user_data(0, 4, UBLK_IO_FETCH_REQ, 0, 0), UBLK_IO_RES_OK, 0);
	CHECK_EQ(ft.nr_served, 1);
	CHECK_EQ(ft.served[0], 4);
	REQUIRE(take_sqes(sqes, 4) == 1);
	CHECK_EQ(((const struct ublksrv_io_cmd *)sqes[0].cmd)->result, 512);
	CHECK_EQ(f.t.cmd_inflight, DEPTH);
	CHECK_EQ(f.q.stats.reqs[UBLK_IO_OP_WRITE], 1);
	/* the queue stops: tag 6 is aborted for good */
	cqe_in(ublk_user_data(0, 6, UBLK_IO_COMMIT_AND_FETCH_REQ, 0, 0), -ENODEV, 0);
	CHECK_EQ(f.ios[6].flags, UBLK_IO_DONE);
	CHECK_EQ(f.t.cmd_inflight, DEPTH - 1);
	CHECK_EQ(drop_sqes(), 0);
	fixture_exit();
}

/* ---- shared-memory zero copy ---- */

/* A fetch CQE for @tag holding @op_flags at @addr; the one SQE it made. */
static struct io_uring_sqe shmem_fetch(unsigned tag, unsigned op_flags,
				       uint64_t addr)
{
	struct io_uring_sqe sqes[4];

	f.descs[tag] = (struct ublksrv_io_desc){
		.op_flags = op_flags, .nr_sectors = 2, .addr = addr,
	};
	cqe_in(ublk_user_data(0, tag, UBLK_IO_FETCH_REQ, 0, 0), UBLK_IO_RES_OK, 0);
	REQUIRE(take_sqes(sqes, 4) == 1);
	return sqes[0];
}

static int sqe_result(const struct io_uring_sqe *sqe)
{
	return ((const struct ublksrv_io_cmd *)sqe->cmd)->result;
}

static void test_shmem(void)
{
	static char shared[8192], rdonly[4096];
	const unsigned zc = UBLK_IO_F_SHMEM_ZC;
	struct io_uring_sqe sqe;

	/* zero copy: a request of the flag is served in place, unregistered */
	fixture_init(&fake_ops, UBLK_QMODE_ZERO_COPY, 1);
	f.d.shmem[0] = (struct ublk_shmem){ shared, sizeof(shared), 3, 0 };
	f.d.shmem[1] = (struct ublk_shmem){ rdonly, sizeof(rdonly), 4, 1 };
	f.d.nr_shmem = 2;
	f.t.cmd_inflight = DEPTH;
	ft.queue_io_ret = 1024;
	sqe = shmem_fetch(1, UBLK_IO_OP_WRITE | zc, 3ULL << 32 | 4096);
	CHECK(ft.buf == shared + 4096);
	CHECK_EQ(user_data_op(sqe.user_data), UBLK_IO_COMMIT_AND_FETCH_REQ);
	CHECK_EQ(sqe_result(&sqe), 1024);
	sqe = shmem_fetch(2, UBLK_IO_OP_WRITE | zc, 4ULL << 32);
	CHECK(ft.buf == rdonly);
	sqe = shmem_fetch(3, UBLK_IO_OP_READ | zc, 3ULL << 32 | 7168);	/* its last bytes */
	CHECK(ft.buf == shared + 7168);
	CHECK_EQ(sqe_result(&sqe), 1024);
	CHECK_EQ(f.q.stats.shmem, 3);
	CHECK_EQ(ft.nr_served, 3);

	/* past the end, no such buffer, reserved bits, a read into a read-only one */
	sqe = shmem_fetch(3, UBLK_IO_OP_WRITE | zc, 3ULL << 32 | 7680);
	CHECK_EQ(sqe_result(&sqe), -EIO);
	sqe = shmem_fetch(3, UBLK_IO_OP_WRITE | zc, 5ULL << 32);
	CHECK_EQ(sqe_result(&sqe), -EIO);
	sqe = shmem_fetch(3, UBLK_IO_OP_WRITE | zc, 1ULL << 48 | 3ULL << 32);
	CHECK_EQ(sqe_result(&sqe), -EIO);
	sqe = shmem_fetch(3, UBLK_IO_OP_READ | zc, 4ULL << 32);
	CHECK_EQ(sqe_result(&sqe), -EIO);
	CHECK_EQ(logged("holds no 1024 bytes"), 4);
	CHECK_EQ(ft.nr_served, 3);

	/* without the flag, the queue's own path: its pages registered first */
	sqe = shmem_fetch(5, UBLK_IO_OP_READ, 0);
	CHECK_EQ(user_data_op(sqe.user_data), UBLK_IO_REGISTER_IO_BUF);
	CHECK_EQ(ft.nr_served, 3);
	fixture_exit();
}

/* ---- batch I/O ---- */

static uint64_t commit_ud(unsigned buf)
{
	return ublk_user_data(0, buf, UBLK_IO_COMMIT_IO_CMDS, 0, 0);
}

/* The one COMMIT_IO_CMDS queued: its elements' tags into @tags. */
static unsigned sent_commit(unsigned *buf, uint16_t *tags, unsigned max)
{
	struct io_uring_sqe sqes[4];
	const struct ublk_batch_io *cmd;
	unsigned i, elem_bytes;

	REQUIRE(take_sqes(sqes, 4) == 1);
	CHECK_EQ(user_data_op(sqes[0].user_data), UBLK_IO_COMMIT_IO_CMDS);
	cmd = (const struct ublk_batch_io *)sqes[0].cmd;
	elem_bytes = cmd->elem_bytes;
	CHECK_EQ(elem_bytes, sizeof(struct ublk_elem_header) + sizeof(uint64_t));
	REQUIRE(cmd->nr_elem <= max);
	for (i = 0; i < cmd->nr_elem; i++)
		tags[i] = ((const struct ublk_elem_header *)(uintptr_t)
			   (sqes[0].addr + i * elem_bytes))->tag;
	*buf = user_data_tag(sqes[0].user_data);
	return cmd->nr_elem;
}

static void test_batch_commit(void)
{
	unsigned buf, elem = sizeof(struct ublk_elem_header) + sizeof(uint64_t);
	uint16_t tags[DEPTH];

	fixture_init(&fake_ops, UBLK_QMODE_BATCH, 1);
	REQUIRE(batch_init(&f.t) == 0);
	CHECK(f.t.commit != NULL);
	/* a result goes through batch_commit: gathered, sent at the flush */
	with_target(3, UBLK_IO_OP_READ, 1);
	CHECK_EQ(ublk_queue_complete(&f.q, 3, 512), 0);
	CHECK_EQ(f.ios[3].flags, UBLK_IO_IN_KERNEL);
	CHECK_EQ(drop_sqes(), 0);
	batch_flush(&f.t);
	REQUIRE(sent_commit(&buf, tags, DEPTH) == 1);
	CHECK_EQ(tags[0], 3);
	CHECK_EQ(f.t.cmd_inflight, 1);

	/*
	 * The CQE names the commit buffer: one out of range or not sent is
	 * refused before it indexes anything (it once read b->nr[buf] first).
	 */
	cqe_in(commit_ud(4), 0, 0);
	cqe_in(commit_ud(0xffff), 0, 0);
	cqe_in(commit_ud(buf + 1), 0, 0);
	CHECK_EQ(logged("unknown commit buffer"), 3);
	CHECK_EQ(f.t.cmd_inflight, 1);
	cqe_in(commit_ud(buf), (int)elem, 0);
	CHECK_EQ(f.t.cmd_inflight, 0);
	cqe_in(commit_ud(buf), (int)elem, 0);	/* not in flight any more */
	CHECK_EQ(logged("unknown commit buffer"), 1);

	/* a partial commit: the first refused fails, the rest go again */
	with_target(1, UBLK_IO_OP_WRITE, 1);
	with_target(2, UBLK_IO_OP_WRITE, 1);
	with_target(5, UBLK_IO_OP_WRITE, 1);
	CHECK_EQ(ublk_queue_complete(&f.q, 1, 512), 0);
	CHECK_EQ(ublk_queue_complete(&f.q, 2, 512), 0);
	CHECK_EQ(ublk_queue_complete(&f.q, 5, 512), 0);
	batch_flush(&f.t);
	REQUIRE(sent_commit(&buf, tags, DEPTH) == 3);
	cqe_in(commit_ud(buf), (int)elem, 0);	/* took tag 1 only */
	CHECK_EQ(logged("refused its result"), 1);
	CHECK_EQ(f.ios[2].flags, UBLK_IO_DONE);
	batch_flush(&f.t);
	REQUIRE(sent_commit(&buf, tags, DEPTH) == 1);
	CHECK_EQ(tags[0], 5);
	fixture_exit();
}

/*
 * Threads and queues dealt round robin: every queue has a thread, and
 * either each thread has one queue or each queue one thread; a tag's
 * buffer slot is the same for every thread and unique in each ring.
 */
static void test_batch_map(void)
{
	static const unsigned shapes[][2] = { { 4, 1 }, { 1, 4 }, { 3, 2 }, { 2, 3 },
					      { 2, 2 }, { 5, 3 } };
	struct ublk_queue qs[4];
	struct ublk_dev d;
	unsigned s, t, q, tag, nt, nq, per_q, per_t;

	memset(&d, 0, sizeof(d));
	memset(qs, 0, sizeof(qs));
	d.queues = qs;
	for (q = 0; q < 4; q++)
		qs[q].depth = 8;
	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		d.nr_threads = nt = shapes[s][0];
		d.nr_queues = nq = shapes[s][1];
		for (q = 0; q < nq; q++) {
			per_q = 0;
			for (t = 0; t < nt; t++)
				per_q += batch_serves(&d, t, q);
			CHECK(per_q >= 1);
			CHECK(batch_serves(&d, q % nt, q));	/* its first thread */
			for (tag = 0; tag < 8; tag++)
				CHECK_EQ(batch_buf_index(&d, q, tag) % 8, tag);
		}
		for (t = 0; t < nt; t++) {
			per_t = 0;
			for (q = 0; q < nq; q++) {
				if (!batch_serves(&d, t, q))
					continue;
				per_t++;
				/* the thread's k-th queue: slots 8k.., below its nr_ios */
				CHECK_EQ(batch_buf_index(&d, q, 0), 8 * (per_t - 1));
			}
			CHECK(per_t >= 1);
			CHECK(per_t == 1 || nt < nq);
		}
	}
}

/* FETCH_IO_CMDS: the kernel fills a provided buffer with tags; a pipe read does it here. */
static void test_batch_fetch(void)
{
	const uint16_t list[4] = { 1, 99, 2, 1 };
	struct io_uring_cqe *kcqe, cqe;
	struct io_uring_sqe *sqe, sqes[4];
	unsigned head, n = 0, tag;
	int fds[2];

	fixture_init(&fake_ops, UBLK_QMODE_BATCH, 1);
	REQUIRE(batch_init(&f.t) == 0);
	REQUIRE(pipe(fds) == 0);
	REQUIRE(write(fds[1], list, sizeof(list)) == sizeof(list));
	sqe = uring_get_sqe(&f.t.ring);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, fds[0], NULL, 256, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BATCH_FETCH_BGID;
	REQUIRE(uring_submit_and_wait(&f.t.ring, 1) >= 0);
	uring_for_each_cqe(&f.t.ring, head, kcqe) {
		cqe = *kcqe;
		n++;
	}
	uring_cq_advance(&f.t.ring, n);
	REQUIRE(n == 1);
	REQUIRE(cqe.flags & IORING_CQE_F_BUFFER);
	CHECK_EQ(cqe.res, sizeof(list));

	/* as the FETCH's last CQE: tags 1 and 2 served, 99 and 1 again not */
	cqe.user_data = ublk_user_data(0, 0, UBLK_IO_FETCH_IO_CMDS, 0, 0);
	f.t.cmd_inflight = 1;
	ft.queue_io_ret = BACKEND_QUEUED;
	batch_handle_cqe(&f.t, &cqe);
	CHECK_EQ(ft.nr_served, 2);
	CHECK_EQ(ft.served[0], 1);
	CHECK_EQ(ft.served[1], 2);
	CHECK_EQ(logged("fetched bad tag"), 2);
	/* it ended without F_MORE: sent again */
	REQUIRE(take_sqes(sqes, 4) == 1);
	CHECK_EQ(user_data_op(sqes[0].user_data), UBLK_IO_FETCH_IO_CMDS);
	CHECK(sqes[0].flags & IOSQE_BUFFER_SELECT);
	CHECK_EQ(f.t.cmd_inflight, 1);

	/* a buffer id out of range brings no tags */
	cqe.flags = IORING_CQE_F_BUFFER | IORING_CQE_F_MORE | 1000U << IORING_CQE_BUFFER_SHIFT;
	batch_handle_cqe(&f.t, &cqe);
	CHECK_EQ(ft.nr_served, 2);
	/* the queue stops: the tags the kernel held are done */
	cqe.flags = 0;
	cqe.res = -ENODEV;
	batch_handle_cqe(&f.t, &cqe);
	CHECK_EQ(f.t.cmd_inflight, 0);
	for (tag = 0; tag < DEPTH; tag++)
		CHECK_EQ(f.ios[tag].flags, tag == 1 || tag == 2 ?
			 UBLK_IO_IN_BACKEND : UBLK_IO_DONE);
	CHECK_EQ(drop_sqes(), 0);
	close(fds[0]);
	close(fds[1]);
	fixture_exit();
}

/* ---- a whole thread ---- */

static void start_thread(int cdev_fd)
{
	f.d.cdev_fd = cdev_fd;
	f.d.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	REQUIRE(f.d.cdev_fd >= 0 && f.d.event_fd >= 0);
	REQUIRE(ublk_thread_start(&f.t) == 0);
}

static void join_thread(void)
{
	REQUIRE(pthread_join(f.t.thread, NULL) == 0);
	CHECK_EQ(f.t.setup_ret, 0);
	CHECK_EQ(f.t.state, UBLK_THREAD_EXITED);
	CHECK_EQ(f.t.cmd_inflight, 0);
	close(f.d.cdev_fd);
	close(f.d.event_fd);
}

/*
 * A temporary file for /dev/ublkcN has no uring_cmd: every fetch fails
 * (-EOPNOTSUPP) as a stopping queue aborts them, and the thread stops.
 */
static int failing_cdev(void)
{
	char path[] = "/tmp/sublk-test-queue-XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

static void test_thread_stops(void)
{
	unsigned tag;

	/* no hooks: it ends once the kernel holds no command */
	fixture_init(&plain_ops, 0, 0);
	start_thread(failing_cdev());
	join_thread();
	for (tag = 0; tag < DEPTH; tag++)
		CHECK_EQ(f.ios[tag].flags, UBLK_IO_DONE);
	CHECK_EQ(f.t.tgt_stopping, 0);
	CHECK_EQ(logged("io command failed"), DEPTH);
	fixture_exit();

	/* queue_init's receive waits for ever: cancelled, then queue_exit */
	fixture_init(&fake_ops, 0, 0);
	REQUIRE(pipe(ft.pipe) == 0);
	start_thread(failing_cdev());
	join_thread();
	CHECK_EQ(ft.inited, 1);
	CHECK_EQ(ft.nr_events, 1);
	CHECK_EQ(ft.event_res[0], -ECANCELED);
	CHECK_EQ(ft.exited, 1);
	CHECK_EQ(ft.notag_at_exit, 0);
	CHECK_EQ(f.t.tgt_stopping, 1);
	CHECK_EQ(logged("io command failed"), DEPTH);
	fixture_exit();
}

/* Does @fd complete a uring_cmd with 0?  /dev/null does on newer kernels. */
static int cmd_completes(int fd)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct uring r;
	unsigned head, n = 0;
	int res = -1;

	REQUIRE(uring_init(&r, 4, 0) == 0);
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_cmd(sqe, fd, UBLK_IO_IOWR(UBLK_IO_FETCH_REQ));
	REQUIRE(uring_submit_and_wait(&r, 1) >= 0);
	uring_for_each_cqe(&r, head, cqe) {
		res = cqe->res;
		n++;
	}
	uring_cq_advance(&r, n);
	uring_exit(&r);
	return res == 0;
}

/*
 * Every tag with the target, none in the kernel, nothing aborted: the
 * thread keeps serving, and the target's receive is not cancelled.
 * /dev/null completes each fetch at once with 0, a request for every tag;
 * the target keeps them (no SQE of theirs) until its receive brings data.
 */
static void test_thread_waits_for_target(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	unsigned i;

	REQUIRE(null >= 0);
	if (!cmd_completes(null)) {
		fprintf(stderr, "note: /dev/null refuses uring_cmd here: not run\n");
		close(null);
		return;
	}
	fixture_init(&fake_ops, 0, 0);
	ft.queue_io_ret = BACKEND_QUEUED;
	REQUIRE(pipe(ft.pipe) == 0);
	start_thread(null);
	for (i = 0; i < 500 && __atomic_load_n(&ft.nr_served, __ATOMIC_ACQUIRE) < DEPTH; i++)
		usleep(10000);
	CHECK_EQ(__atomic_load_n(&ft.nr_served, __ATOMIC_ACQUIRE), DEPTH);
	usleep(50000);		/* time enough for a wrong cancel */
	REQUIRE(write(ft.pipe[1], "reply", 5) == 5);
	/* its one receive done, nothing in flight: the thread ends */
	join_thread();
	CHECK_EQ(ft.nr_events, 1);
	CHECK_EQ(ft.event_res[0], 5);
	CHECK_EQ(f.t.tgt_stopping, 0);
	CHECK_EQ(ft.exited, 1);
	for (i = 0; i < DEPTH; i++)
		CHECK_EQ(f.ios[i].flags, UBLK_IO_IN_BACKEND);
	fixture_exit();
}

int main(void)
{
	struct uring r;
	int ret = uring_init(&r, 4, 0);

	if (ret == -ENOSYS || ret == -EPERM)
		UNIT_SKIP("io_uring is not available");
	REQUIRE(ret == 0);
	uring_exit(&r);
	log_capture();

	test_get_sqe();
	test_tgt_event_completes();
	test_tgt_event_multishot();
	test_complete_checks();
	test_cqe_checks();
	test_shmem();
	test_batch_commit();
	test_batch_fetch();
	test_batch_map();
	test_thread_stops();
	test_thread_waits_for_target();
	return unit_done();
}
