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
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "internal.h"

#define dev_err(d, ...) snprintf((d)->err, sizeof((d)->err), __VA_ARGS__)

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
	for (i = 0; i < 1000; i++) {	/* 10 s: a loaded machine's udev is slow */
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

/* DMA alignment and segment limits, where asked for; the rest as the kernel's. */
static void dev_params_limits(struct ublk_params *p, const struct backend_conf *c)
{
	if (c->dma_align) {
		p->types |= UBLK_PARAM_TYPE_DMA_ALIGN;
		p->dma.alignment = c->dma_align;
	}
	if (!c->max_segments && !c->max_segment_size && !c->seg_boundary_mask)
		return;
	p->types |= UBLK_PARAM_TYPE_SEGMENT;
	p->seg.max_segments = (uint16_t)(c->max_segments ? c->max_segments : 0xffff);
	p->seg.max_segment_size = c->max_segment_size ? c->max_segment_size : 0xffffffffU;
	p->seg.seg_boundary_mask = c->seg_boundary_mask ? c->seg_boundary_mask : 0xffffffffULL;
}

/*
 * A driver keeps only the parameter types it knows (SET_PARAMS masks the
 * rest off without an error): the DMA alignment and segment limits came
 * in Linux 6.15.  Read the parameters back and refuse a limit asked for
 * that the driver dropped, rather than serve a device without it.
 */
static int dev_params_kept(struct ublk_dev *d)
{
	static const struct { unsigned type; const char *what; } need[] = {
		{ UBLK_PARAM_TYPE_DMA_ALIGN, "--dma_alignment" },
		{ UBLK_PARAM_TYPE_SEGMENT, "--max_segments, --max_segment_size and --seg_boundary_mask" },
	};
	struct ublk_params got;
	unsigned i;
	int ret;

	if (!(d->params.types & (UBLK_PARAM_TYPE_DMA_ALIGN | UBLK_PARAM_TYPE_SEGMENT)))
		return 0;
	ret = ublk_ctrl_get_params(d->ctrl, d->info.dev_id, &got);
	if (ret < 0) {
		dev_err(d, "GET_PARAMS failed: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if ((d->params.types & need[i].type) && !(got.types & need[i].type)) {
			dev_err(d, "%s need the driver of Linux 6.15 or newer", need[i].what);
			return -EOPNOTSUPP;
		}
	}
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
	if (b->max_io_bytes && b->max_io_bytes < d->info.max_io_buf_bytes)
		p->basic.max_sectors = b->max_io_bytes >> 9;
	p->basic.dev_sectors = b->size >> 9;
	if (b->discard_granularity) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = b->discard_granularity;
		p->discard.max_discard_sectors = b->max_discard_sectors;
		p->discard.max_write_zeroes_sectors = b->max_write_zeroes_sectors;
		p->discard.max_discard_segments = 1;
	}
	if (d->info.flags & UBLK_F_INTEGRITY) {
		const struct backend_integrity *in = &b->conf.integrity;

		p->types |= UBLK_PARAM_TYPE_INTEGRITY;
		p->integrity.flags = in->flags;
		p->integrity.interval_exp = (uint8_t)lbs;	/* one tuple a block */
		p->integrity.metadata_size = in->metadata_size;
		p->integrity.pi_offset = in->pi_offset;
		p->integrity.csum_type = in->csum_type;
		p->integrity.tag_size = in->tag_size;
	}
	if (b->zone_sectors) {
		p->types |= UBLK_PARAM_TYPE_ZONED;
		p->basic.chunk_sectors = b->zone_sectors;
		p->zoned.max_open_zones = b->max_open_zones;
		p->zoned.max_active_zones = b->max_active_zones;
		/* an append is one request, and it stays in its zone */
		p->zoned.max_zone_append_sectors =
			b->zone_sectors < p->basic.max_sectors ?
			b->zone_sectors : p->basic.max_sectors;
	}
	dev_params_limits(p, &b->conf);
	ret = ublk_ctrl_set_params(d->ctrl, d->info.dev_id, p);
	if (ret < 0) {
		dev_err(d, "SET_PARAMS failed: %s", strerror(-ret));
		return ret;
	}
	return dev_params_kept(d);
}

/* /dev/ublkcN appears a moment after ADD_DEV: retry briefly. */
static int dev_open_cdev(struct ublk_dev *d)
{
	char path[64];
	int i, fd = -ENOENT;

	snprintf(path, sizeof(path), "/dev/ublkc%u", d->info.dev_id);
	for (i = 0; i < 1000; i++) {	/* 10 s: a loaded machine's udev is slow */
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

static int thread_state(const struct ublk_thread *t)
{
	return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
}

/* Wait until every started thread has left UBLK_THREAD_STARTING. */
static void dev_wait_setup(struct ublk_dev *d)
{
	struct pollfd pfd = { .fd = d->event_fd, .events = POLLIN };
	uint64_t cnt;
	unsigned i;

	for (;;) {
		for (i = 0; i < d->threads_started; i++)
			if (thread_state(&d->threads[i]) == UBLK_THREAD_STARTING)
				break;
		if (i == d->threads_started)
			return;
		if (poll(&pfd, 1, -1) > 0 &&
		    read(d->event_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			return;
	}
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) & ~(pg - 1);
}

/* Map queue @i's descriptors, give it buffers and tag state. */
static int dev_map_queue(struct ublk_dev *d, unsigned i)
{
	struct ublk_queue *q = &d->queues[i];
	size_t desc_off, meta_sz = 0;
	unsigned tag;

	q->dev = d;
	q->backend = d->backend;
	q->q_id = i;
	q->depth = d->info.queue_depth;
	q->trace_fd = d->trace_fd;
	if (d->info.flags & UBLK_F_USER_COPY)
		q->mode |= UBLK_QMODE_USER_COPY;
	if (d->info.flags & UBLK_F_SUPPORT_ZERO_COPY)
		q->mode |= UBLK_QMODE_ZERO_COPY;
	if (d->info.flags & UBLK_F_AUTO_BUF_REG)
		q->mode |= UBLK_QMODE_ZERO_COPY | UBLK_QMODE_AUTO_REG;
	if (d->info.flags & UBLK_F_BATCH_IO)
		q->mode |= UBLK_QMODE_BATCH;
	if (d->info.flags & UBLK_F_ZONED)
		q->mode |= UBLK_QMODE_ZONED;
	if (ublk_ctrl_get_affinity(d->ctrl, d->info.dev_id, i, &q->cpus) < 0)
		CPU_ZERO(&q->cpus);

	q->desc_size = sizeof(struct ublksrv_io_desc);
	if ((d->info.flags & UBLK_F_IO_DESC_SIZE) && d->info.io_desc_size)
		q->desc_size = d->info.io_desc_size;
	desc_off = (size_t)i * page_round(UBLK_MAX_QUEUE_DEPTH * q->desc_size);
	q->descs_sz = page_round(q->depth * q->desc_size);
	q->descs = mmap(NULL, q->descs_sz, PROT_READ, MAP_SHARED | MAP_POPULATE,
			d->cdev_fd, (off_t)desc_off);
	if (q->descs == MAP_FAILED) {
		q->descs = NULL;
		return -errno;
	}
	/* page-aligned per-tag buffers; zero copy needs none, nor a target that copies itself */
	if (!(q->mode & UBLK_QMODE_ZERO_COPY) &&
	    !((q->mode & UBLK_QMODE_USER_COPY) && d->backend->user_copy)) {
		q->bufs_sz = (size_t)q->depth * d->info.max_io_buf_bytes;
		q->bufs = mmap(NULL, q->bufs_sz, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q->bufs == MAP_FAILED) {
			q->bufs = NULL;
			return -errno;
		}
		/*
		 * Transparent huge pages: O_DIRECT I/O into them costs far
		 * less than into small pages (MADV_NOHUGEPAGE cut loop's
		 * 512 KiB copy-path reads by 36% in make bench), at the price
		 * of touched buffers counting in 2 MiB steps.  So not before
		 * the queue serves a large request (queue_bufs_huge()): the
		 * partition scan's reads, or 4 KiB I/O, would take 2 MiB each.
		 */
		madvise(q->bufs, q->bufs_sz, MADV_NOHUGEPAGE);
	}
	/* integrity: metadata_size bytes for each logical block a request can hold */
	if (d->info.flags & UBLK_F_INTEGRITY) {
		meta_sz = (size_t)(d->info.max_io_buf_bytes >>
				   d->backend->conf.lbs_shift) *
			  d->backend->conf.integrity.metadata_size;
		q->metas_sz = (size_t)q->depth * meta_sz;
		q->metas = mmap(NULL, q->metas_sz, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q->metas == MAP_FAILED) {
			q->metas = NULL;
			return -errno;
		}
	}
	q->ios = calloc(q->depth, sizeof(*q->ios));
	if (!q->ios)
		return -ENOMEM;
	for (tag = 0; tag < q->depth; tag++) {
		if (q->bufs)
			q->ios[tag].buf = (char *)q->bufs +
					  (size_t)tag * d->info.max_io_buf_bytes;
		if (q->metas)
			q->ios[tag].meta = (char *)q->metas + (size_t)tag * meta_sz;
	}
	return 0;
}

static void dev_unmap_queues(struct ublk_dev *d)
{
	unsigned i;

	for (i = 0; d->queues && i < d->nr_queues; i++) {
		struct ublk_queue *q = &d->queues[i];

		if (q->descs)
			munmap((void *)q->descs, q->descs_sz);
		if (q->bufs)
			munmap(q->bufs, q->bufs_sz);
		if (q->metas)
			munmap(q->metas, q->metas_sz);
		free(q->ios);
	}
	free(d->queues);
	d->queues = NULL;
	free(d->threads);
	d->threads = NULL;
}

/*
 * Batch I/O: thread n serves what its FETCHes bring from the queues
 * batch_serves() gives it; each queue's first thread, n = q mod N, PREPs
 * it and keeps the target's state of it.  A tag's buffer slot is the same
 * in every ring that may fetch it.
 */
static void dev_assign_batch(struct ublk_dev *d)
{
	unsigned i, n, tag;

	for (i = 0; i < d->nr_queues; i++) {
		struct ublk_queue *q = &d->queues[i];

		q->thread = &d->threads[i % d->nr_threads];
		for (tag = 0; tag < q->depth; tag++) {
			q->ios[tag].t = q->thread;
			q->ios[tag].buf_index = batch_buf_index(d, i, tag);
		}
		for (n = 0; n < d->nr_threads; n++) {
			struct ublk_thread *t = &d->threads[n];

			if (!batch_serves(d, n, i))
				continue;
			t->nr_ios += q->depth;
			CPU_OR(&t->cpus, &t->cpus, &q->cpus);
		}
	}
}

/*
 * Deal the tags out: thread i serves queue i, or with per-I/O threads tag
 * k of queue q goes to thread (q * depth + k) mod nr_threads, so that
 * neighbouring tags, which the kernel hands out together, land on
 * different threads.
 */
static void dev_assign_tags(struct ublk_dev *d)
{
	unsigned i, tag;

	if (d->info.flags & UBLK_F_BATCH_IO) {
		dev_assign_batch(d);
		return;
	}
	for (i = 0; i < d->nr_queues; i++) {
		struct ublk_queue *q = &d->queues[i];

		for (tag = 0; tag < q->depth; tag++) {
			unsigned n = d->per_io ? (i * q->depth + tag) % d->nr_threads : i;
			struct ublk_thread *t = &d->threads[n];

			q->ios[tag].t = t;
			q->ios[tag].buf_index = t->nr_ios++;
		}
	}
	if (!d->per_io)
		for (i = 0; i < d->nr_threads; i++) {
			d->queues[i].thread = &d->threads[i];
			d->threads[i].cpus = d->queues[i].cpus;
		}
}

/* Start threads @from to @to; returns once each has set up (fetched its tags). */
static int dev_start_threads(struct ublk_dev *d, unsigned from, unsigned to)
{
	unsigned i;
	int ret;

	for (i = from; i < to; i++) {
		struct ublk_thread *t = &d->threads[i];

		t->dev = d;
		t->idx = i;
		ret = ublk_thread_start(t);
		if (ret < 0) {
			dev_err(d, "cannot start thread %u: %s", i, strerror(-ret));
			return ret;
		}
		d->threads_started++;
	}

	dev_wait_setup(d);
	for (i = from; i < to; i++) {
		if (d->threads[i].setup_ret < 0) {
			ret = d->threads[i].setup_ret;
			dev_err(d, "thread %u setup failed: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * Batch I/O takes a queue's FETCH only once every tag of it is PREPped:
 * the queues' first threads (0 to Q - 1) set up before the others start.
 */
static int dev_start_all(struct ublk_dev *d)
{
	unsigned first = d->nr_threads;
	int ret;

	if ((d->info.flags & UBLK_F_BATCH_IO) && first > d->nr_queues)
		first = d->nr_queues;
	ret = dev_start_threads(d, 0, first);
	if (ret < 0 || first == d->nr_threads)
		return ret;
	return dev_start_threads(d, first, d->nr_threads);
}

/*
 * How many threads, and whether the target can have them: one whose
 * state is per queue (queue_init, tgt_event) needs each queue served by
 * one thread.
 */
static int dev_check_threads(struct ublk_dev *d)
{
	const struct backend_ops *ops = d->backend->ops;
	int batch = !!(d->info.flags & UBLK_F_BATCH_IO);

	if (!d->nr_threads || (!d->per_io && !batch))
		d->nr_threads = d->nr_queues;
	if (!(ops->queue_init || ops->tgt_event))
		return 0;
	if (d->per_io) {
		dev_err(d, "the %s target serves each queue from one thread: no per-I/O threads",
			ops->name);
		return -EINVAL;
	}
	if (batch && d->nr_threads > d->nr_queues) {
		dev_err(d, "the %s target serves each queue from one thread: no more threads (%u) than queues (%u)",
			ops->name, d->nr_threads, d->nr_queues);
		return -EINVAL;
	}
	return 0;
}

int ublk_dev_start_queues(struct ublk_dev *d)
{
	unsigned nr = d->info.nr_hw_queues, i;
	int ret;

	d->dev_id = d->info.dev_id;
	d->nr_queues = nr;
	ret = dev_check_threads(d);
	if (ret < 0)
		return ret;
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
	d->threads = calloc(d->nr_threads, sizeof(*d->threads));
	if (!d->queues || !d->threads) {
		dev_err(d, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		ret = dev_map_queue(d, i);
		if (ret < 0) {
			dev_err(d, "queue %u: cannot map it: %s", i, strerror(-ret));
			return ret;
		}
	}
	dev_assign_tags(d);
	return dev_start_all(d);
}

int ublk_dev_start(struct ublk_dev *d)
{
	int ret;

	ublk_test_die_point(d, "before_start");
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
	"zone_append", "zone_other",
};

static void dump_tag(const struct ublk_queue *q, unsigned tag, int fd)
{
	const struct ublk_io *io = &q->ios[tag];
	const struct ublksrv_io_desc *iod = ublk_queue_desc(q, tag);
	unsigned flags = __atomic_load_n(&io->flags, __ATOMIC_RELAXED);
	unsigned inflight = __atomic_load_n(&io->tgt_inflight, __ATOMIC_RELAXED);
	unsigned op = ublk_stat_slot(ublksrv_get_op(iod));

	if (flags & UBLK_IO_IN_KERNEL) {
		dprintf(fd, "  tag %u: waiting in the kernel for a request\n", tag);
		return;
	}
	if (flags & UBLK_IO_DONE) {
		dprintf(fd, "  tag %u: aborted (queue stopping)\n", tag);
		return;
	}
	dprintf(fd, "  tag %u: %s: op %s sector %llu len %u (thread %d)\n", tag,
		inflight ? "backend I/O in flight" : "being served by the backend",
		op_names[op], (unsigned long long)iod->start_sector,
		iod->nr_sectors << 9,
		(int)__atomic_load_n(&io->t, __ATOMIC_RELAXED)->tid);
}

static uint64_t stat_load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* Batch I/O: what thread @i's commits carried, and which queues it fetches from. */
static void dump_batch(const struct ublk_dev *d, unsigned i, int fd)
{
	const struct ublk_thread *th = &d->threads[i];
	unsigned q;

	dprintf(fd, "  batch: %llu commits carried %llu results; queues",
		(unsigned long long)stat_load(&th->commits),
		(unsigned long long)stat_load(&th->committed));
	for (q = 0; q < d->nr_queues; q++)
		if (batch_serves(d, i, q))
			dprintf(fd, " %u", q);
	dprintf(fd, "\n");
}

void ublk_dev_dump(const struct ublk_dev *d, int fd)
{
	unsigned i, t, op, nr_ops = d->info.flags & UBLK_F_ZONED ? 8 : 6;

	dprintf(fd, "dev %u pid %d queues %u depth %u threads %u%s\n",
		d->info.dev_id, (int)getpid(), d->info.nr_hw_queues,
		d->info.queue_depth, d->threads_started,
		d->per_io ? " (per-I/O)" :
		d->info.flags & UBLK_F_BATCH_IO ? " (batch)" : "");
	for (i = 0; i < d->threads_started; i++) {
		const struct ublk_thread *th = &d->threads[i];

		if (thread_state(th) != UBLK_THREAD_RUNNING) {
			dprintf(fd, "thread %u: not running\n", i);
			continue;
		}
		dprintf(fd, "thread %u tid %d: %u tags, served %llu, commands in kernel %u, backend I/O in flight %u\n",
			i, (int)th->tid, th->nr_ios,
			(unsigned long long)__atomic_load_n(&th->served, __ATOMIC_RELAXED),
			__atomic_load_n(&th->cmd_inflight, __ATOMIC_RELAXED),
			__atomic_load_n(&th->tgt_inflight, __ATOMIC_RELAXED));
		if (th->batch)
			dump_batch(d, i, fd);
	}
	for (i = 0; d->queues && i < d->nr_queues; i++) {
		const struct ublk_queue *q = &d->queues[i];

		if (!q->ios)
			continue;
		dprintf(fd, "queue %u:\n  requests:", i);
		for (op = 0; op < nr_ops; op++)
			dprintf(fd, " %s %llu", op_names[op],
				(unsigned long long)stat_load(&q->stats.reqs[op]));
		dprintf(fd, "\n  errors:");
		for (op = 0; op < nr_ops; op++)
			dprintf(fd, " %s %llu", op_names[op],
				(unsigned long long)stat_load(&q->stats.errors[op]));
		dprintf(fd, "\n  bytes %llu, in shared buffers %llu requests\n",
			(unsigned long long)stat_load(&q->stats.bytes),
			(unsigned long long)stat_load(&q->stats.shmem));
		for (t = 0; t < q->depth; t++)
			dump_tag(q, t, fd);
	}
}

/* Started threads still running (@failed 0), or ended by a failure (1). */
static int threads_count(const struct ublk_dev *d, int failed)
{
	const struct ublk_thread *t;
	unsigned i, n = 0;

	for (i = 0; i < d->threads_started; i++) {
		t = &d->threads[i];
		if (thread_state(t) != UBLK_THREAD_EXITED)
			n += !failed;
		else
			n += failed && (t->failed || t->setup_ret < 0);
	}
	return (int)n;
}

int ublk_dev_threads_alive(const struct ublk_dev *d)
{
	return threads_count(d, 0);
}

int ublk_dev_threads_failed(const struct ublk_dev *d)
{
	return threads_count(d, 1);
}

pid_t ublk_dev_queue_tid(const struct ublk_dev *d, unsigned q)
{
	if (!d->queues || q >= d->nr_queues || !d->queues[q].ios ||
	    !d->queues[q].ios[0].t)
		return -1;
	/* batch I/O: its first thread; a tag moves between those sharing it */
	if (d->queues[q].thread)
		return d->queues[q].thread->tid;
	return d->queues[q].ios[0].t->tid;
}

void ublk_dev_join_queues(struct ublk_dev *d)
{
	unsigned i;

	for (i = 0; i < d->threads_started; i++)
		pthread_join(d->threads[i].thread, NULL);
	d->threads_started = 0;
	dev_unmap_queues(d);
	ublk_dev_shmem_release(d);
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

	/* STOP_DEV aborts every outstanding fetch: the threads end. */
	if (d->threads_started)
		ublk_ctrl_stop_dev(d->ctrl, d->info.dev_id);
	ublk_dev_join_queues(d);
	ret = ublk_ctrl_del_dev(d->ctrl, d->info.dev_id);
	if (ret < 0 && ret != -ENOENT && ret != -ENODEV)
		log_err("cannot delete dev %u: %s", d->info.dev_id,
			strerror(-ret));
}
