// SPDX-License-Identifier: MIT
/*
 * Device lifecycle, in the order that works (see ublk-notes.md):
 * ADD_DEV, SET_PARAMS, open /dev/ublkcN, queue threads FETCH every tag,
 * then START_DEV from a thread that serves no queue, since adding the disk
 * sends partition-scan reads that the queues must already be serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/eventfd.h>

#include "ublk.h"

#define dev_err(d, ...) snprintf((d)->err, sizeof((d)->err), __VA_ARGS__)

/*
 * Test switch: SUBLK_TEST_DIE_AT=POINT kills the daemon (SIGKILL, as a
 * crash would) when setup reaches POINT: after_add, queue_setup,
 * before_start.  Only the end-to-end tests set it.
 */
void ublk_test_die_point(const char *point)
{
	const char *want = getenv("SUBLK_TEST_DIE_AT");

	if (want && !strcmp(want, point)) {
		log_err("SUBLK_TEST_DIE_AT=%s: dying", point);
		raise(SIGKILL);
	}
}


static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void dev_init(struct ublk_dev *d, struct ublk_ctrl *c, struct backend *b)
{
	memset(d, 0, sizeof(*d));
	d->ctrl = c;
	d->backend = b;
	d->cdev_fd = -1;
	d->event_fd = -1;
	d->trace_fd = -1;
}

int ublk_dev_attach(struct ublk_dev *d, struct ublk_ctrl *c, struct backend *b,
		    unsigned id)
{
	int ret;

	int i;

	dev_init(d, c, b);
	/*
	 * An unprivileged device is named by /dev/ublkcN, which appears (and
	 * is given to its owner) a moment after ADD_DEV: retry briefly.
	 */
	for (i = 0; i < 300; i++) {
		ret = ublk_ctrl_get_info(c, id, &d->info);
		if (ret == 0 || ret == -ENODEV)
			break;
		sleep_ms(10);
	}
	if (ret < 0)
		dev_err(d, "device %u: %s", id, ret == -ENODEV ?
			"does not exist" : strerror(-ret));
	return ret;
}

int ublk_dev_add(struct ublk_dev *d, struct ublk_ctrl *c, struct backend *b,
		 const struct ublksrv_ctrl_dev_info *info)
{
	int ret;

	dev_init(d, c, b);
	d->info = *info;
	ret = ublk_ctrl_add_dev(c, &d->info);
	if (ret < 0) {
		if (ret == -EEXIST)
			dev_err(d, "device %d already exists", (int)info->dev_id);
		else
			dev_err(d, "ADD_DEV failed: %s", strerror(-ret));
		return ret;
	}
	log_debug("added dev %u: queues %u depth %u buf %u flags 0x%llx",
		  d->info.dev_id, d->info.nr_hw_queues, d->info.queue_depth,
		  d->info.max_io_buf_bytes, (unsigned long long)d->info.flags);
	return 0;
}

int ublk_dev_set_params(struct ublk_dev *d)
{
	const struct backend *b = d->backend;
	unsigned lbs = b->conf.lbs_shift;
	struct ublk_params *p = &d->params;
	int ret;

	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC;
	p->basic.attrs = b->attrs;
	p->basic.logical_bs_shift = (uint8_t)lbs;
	p->basic.physical_bs_shift = (uint8_t)(lbs > 12 ? lbs : 12);
	p->basic.io_min_shift = (uint8_t)lbs;
	p->basic.io_opt_shift = 12;
	p->basic.max_sectors = d->info.max_io_buf_bytes >> 9;
	p->basic.dev_sectors = b->size >> 9;
	if (b->discard_granularity) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = b->discard_granularity;
		p->discard.max_discard_sectors = b->max_discard_sectors;
		p->discard.max_write_zeroes_sectors = b->max_write_zeroes_sectors;
		p->discard.max_discard_segments = 1;
	}
	ret = ublk_ctrl_set_params(d->ctrl, d->info.dev_id, p);
	if (ret < 0)
		dev_err(d, "SET_PARAMS failed: %s", strerror(-ret));
	return ret;
}

/* /dev/ublkcN appears a moment after ADD_DEV: retry briefly. */
static int dev_open_cdev(struct ublk_dev *d)
{
	char path[64];
	int i, fd = -ENOENT;

	snprintf(path, sizeof(path), "/dev/ublkc%u", d->info.dev_id);
	for (i = 0; i < 300; i++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		fd = -errno;
		/* not there yet, or not yet given to its owner (udev) */
		if (fd != -ENOENT && fd != -EACCES)
			break;
		sleep_ms(10);
	}
	dev_err(d, "cannot open %s: %s", path, strerror(-fd));
	return fd;
}

static int queue_state(const struct ublk_queue *q)
{
	return __atomic_load_n(&q->state, __ATOMIC_ACQUIRE);
}

/* Wait until every started queue has left UBLK_QUEUE_STARTING. */
static void dev_wait_setup(struct ublk_dev *d)
{
	struct pollfd pfd = { .fd = d->event_fd, .events = POLLIN };
	uint64_t cnt;
	unsigned i;

	for (;;) {
		for (i = 0; i < d->queues_started; i++)
			if (queue_state(&d->queues[i]) == UBLK_QUEUE_STARTING)
				break;
		if (i == d->queues_started)
			return;
		if (poll(&pfd, 1, -1) > 0 &&
		    read(d->event_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			return;
	}
}

int ublk_dev_start_queues(struct ublk_dev *d)
{
	unsigned nr = d->info.nr_hw_queues, i;
	int ret;

	ret = dev_open_cdev(d);
	if (ret < 0)
		return ret;
	d->cdev_fd = ret;
	d->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->event_fd < 0) {
		ret = -errno;
		dev_err(d, "eventfd: %s", strerror(-ret));
		return ret;
	}
	d->queues = calloc(nr, sizeof(*d->queues));
	if (!d->queues) {
		dev_err(d, "out of memory");
		return -ENOMEM;
	}

	for (i = 0; i < nr; i++) {
		struct ublk_queue *q = &d->queues[i];

		q->dev = d;
		q->backend = d->backend;
		q->q_id = i;
		q->depth = d->info.queue_depth;
		q->no_commit = d->no_commit;
		if (d->info.flags & UBLK_F_USER_COPY)
			q->mode |= UBLK_QMODE_USER_COPY;
		if (d->info.flags & UBLK_F_SUPPORT_ZERO_COPY)
			q->mode |= UBLK_QMODE_ZERO_COPY;
		if (d->info.flags & UBLK_F_AUTO_BUF_REG)
			q->mode |= UBLK_QMODE_ZERO_COPY | UBLK_QMODE_AUTO_REG;
		q->trace_fd = d->trace_fd;
		if (ublk_ctrl_get_affinity(d->ctrl, d->info.dev_id, i, &q->cpus) < 0)
			CPU_ZERO(&q->cpus);
		ret = ublk_queue_start(q);
		if (ret < 0) {
			dev_err(d, "cannot start queue %u: %s", i, strerror(-ret));
			return ret;
		}
		d->queues_started++;
	}

	dev_wait_setup(d);
	for (i = 0; i < nr; i++) {
		if (d->queues[i].setup_ret < 0) {
			ret = d->queues[i].setup_ret;
			dev_err(d, "queue %u setup failed: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int ublk_dev_start(struct ublk_dev *d)
{
	int ret;

	ublk_test_die_point("before_start");
	ret = ublk_ctrl_start_dev(d->ctrl, d->info.dev_id, getpid());

	if (ret < 0) {
		dev_err(d, "START_DEV failed: %s", strerror(-ret));
		return ret;
	}
	return ublk_ctrl_get_info(d->ctrl, d->info.dev_id, &d->info);
}

int ublk_dev_end_recovery(struct ublk_dev *d)
{
	int ret = ublk_ctrl_end_recovery(d->ctrl, d->info.dev_id, getpid());

	if (ret < 0) {
		dev_err(d, "END_USER_RECOVERY failed: %s", strerror(-ret));
		return ret;
	}
	return ublk_ctrl_get_info(d->ctrl, d->info.dev_id, &d->info);
}

static const char *const op_names[8] = {
	"read", "write", "flush", "discard", "write_same", "write_zeroes",
	"op6", "op7",
};

static void dump_tag(const struct ublk_queue *q, unsigned tag, int fd)
{
	const struct ublk_io *io = &q->ios[tag];
	const struct ublksrv_io_desc *iod = &q->descs[tag];
	unsigned flags = __atomic_load_n(&io->flags, __ATOMIC_RELAXED);
	unsigned inflight = __atomic_load_n(&io->tgt_inflight, __ATOMIC_RELAXED);
	unsigned op = ublksrv_get_op(iod) & 7;

	if (flags & UBLK_IO_IN_KERNEL) {
		dprintf(fd, "  tag %u: waiting in the kernel for a request\n", tag);
		return;
	}
	if (flags & UBLK_IO_DONE) {
		dprintf(fd, "  tag %u: aborted (queue stopping)\n", tag);
		return;
	}
	dprintf(fd, "  tag %u: %s: op %s sector %llu len %u\n", tag,
		inflight ? "backend I/O in flight" : "being served by the backend",
		op_names[op], (unsigned long long)iod->start_sector,
		iod->nr_sectors << 9);
}

void ublk_dev_dump(const struct ublk_dev *d, int fd)
{
	unsigned i, t, op;

	dprintf(fd, "dev %u pid %d queues %u depth %u\n", d->info.dev_id,
		(int)getpid(), d->info.nr_hw_queues, d->info.queue_depth);
	for (i = 0; i < d->queues_started; i++) {
		const struct ublk_queue *q = &d->queues[i];

		if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) != UBLK_QUEUE_RUNNING) {
			dprintf(fd, "queue %u: not running\n", i);
			continue;
		}
		dprintf(fd, "queue %u tid %d: commands in kernel %u, backend I/O in flight %u\n",
			i, (int)q->tid, q->cmd_inflight, q->tgt_inflight);
		dprintf(fd, "  requests:");
		for (op = 0; op < 6; op++)
			dprintf(fd, " %s %llu", op_names[op],
				(unsigned long long)q->stats.reqs[op]);
		dprintf(fd, "\n  errors:");
		for (op = 0; op < 6; op++)
			dprintf(fd, " %s %llu", op_names[op],
				(unsigned long long)q->stats.errors[op]);
		dprintf(fd, "\n  bytes %llu\n", (unsigned long long)q->stats.bytes);
		for (t = 0; t < q->depth && q->ios; t++)
			dump_tag(q, t, fd);
	}
}

int ublk_dev_queues_alive(const struct ublk_dev *d)
{
	unsigned i, n = 0;

	for (i = 0; i < d->queues_started; i++)
		if (queue_state(&d->queues[i]) != UBLK_QUEUE_EXITED)
			n++;
	return (int)n;
}

void ublk_dev_join_queues(struct ublk_dev *d)
{
	unsigned i;

	for (i = 0; i < d->queues_started; i++)
		pthread_join(d->queues[i].thread, NULL);
	d->queues_started = 0;
	free(d->queues);
	d->queues = NULL;
	if (d->cdev_fd >= 0)
		close(d->cdev_fd);
	d->cdev_fd = -1;
	if (d->event_fd >= 0)
		close(d->event_fd);
	d->event_fd = -1;
}

void ublk_dev_destroy(struct ublk_dev *d)
{
	int ret;

	/* STOP_DEV aborts every outstanding fetch: the queue threads end. */
	if (d->queues_started)
		ublk_ctrl_stop_dev(d->ctrl, d->info.dev_id);
	ublk_dev_join_queues(d);
	ret = ublk_ctrl_del_dev(d->ctrl, d->info.dev_id);
	if (ret < 0 && ret != -ENOENT && ret != -ENODEV)
		log_err("cannot delete dev %u: %s", d->info.dev_id,
			strerror(-ret));
}
