// SPDX-License-Identifier: MIT
/*
 * fault: a RAM disk that misbehaves on purpose, for testing what sits
 * above it (the driver, the daemon, filesystems, the e2e suite), in the
 * manner of the kernel selftests' fault_inject target.
 *
 * Data is served by an inner mem backend, so it reads back exactly as
 * mem's does; the device cannot grow (max_size is size).  The default
 * size is 256 MiB.  --fault takes a comma-separated list of KEY=VALUE:
 *
 *   delay_ms=N    every request completes N ms late (0: no delay); the
 *                 data is moved at once, then an IORING_OP_TIMEOUT on the
 *                 queue ring holds the completion back
 *   fail_nth=N    the Nth request fails with -EIO
 *   fail_all=1    every request fails with -EIO
 *   fail_op=OP    fail_nth / fail_all count and fail only requests of OP:
 *                 read, write, flush, discard or write_zeroes
 *   stall_nth=N   the Nth request is never completed: the daemon must be
 *                 killed, or the device stopped, to get past it
 *   stall_op=OP   stall_nth counts only requests of OP
 *   die_nth=N     the daemon kills itself (SIGKILL) when the Nth arrives
 *   corrupt_pi=B  integrity: every read of logical block B (from 0) gets
 *                 its protection information with the guard tag flipped,
 *                 as if the stored copy had rotted, so the block layer's
 *                 check fails the read; other blocks read back intact.
 *                 Blocks never written carry the escape tag, which the
 *                 block layer does not check, nor does it check a
 *                 profile without a checksum (csum_type none)
 *
 * N counts from 1 across all queues, in the order requests reach the
 * daemon.  stall_nth and die_nth count every request, fail_nth only
 * those of fail_op.  A failed request moves no data.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../uring/uring.h"
#include "../ublk/log.h"

#define FAULT_DEFAULT_SIZE	(256ULL << 20)

struct fault {
	struct backend mem;		/* what serves the data */
	struct uring_timespec delay;	/* read-only: every timeout SQE points here */
	int fail_op;			/* UBLK_IO_OP_*, or -1 for all */
	int stall_op;			/* the same for stall_nth */
	/* as --fault gives them; an _nth of 0 is off */
	uint32_t delay_ms;
	uint32_t fail_all;
	uint32_t fail_nth;
	uint32_t stall_nth;
	uint32_t die_nth;
	uint32_t corrupt_pi;		/* a logical block, if corrupt_pi_set */
	int corrupt_pi_set;
	uint64_t nr_reqs;		/* requests seen, by every queue */
	uint64_t nr_fail_reqs;		/* those of them of fail_op */
	uint64_t nr_stall_reqs;		/* those of them of stall_op */
};

/* The numeric keys of --fault and the values they take. */
static const struct fault_key {
	const char *name;
	size_t offset;
	uint32_t min, max;
} fault_keys[] = {
	{ "delay_ms", offsetof(struct fault, delay_ms), 0, UINT32_MAX },
	{ "fail_nth", offsetof(struct fault, fail_nth), 1, UINT32_MAX },
	{ "fail_all", offsetof(struct fault, fail_all), 0, 1 },
	{ "stall_nth", offsetof(struct fault, stall_nth), 1, UINT32_MAX },
	{ "die_nth", offsetof(struct fault, die_nth), 1, UINT32_MAX },
	{ "corrupt_pi", offsetof(struct fault, corrupt_pi), 0, UINT32_MAX },
};

static const char *const fault_op_names[] = {
	[UBLK_IO_OP_READ] = "read",
	[UBLK_IO_OP_WRITE] = "write",
	[UBLK_IO_OP_FLUSH] = "flush",
	[UBLK_IO_OP_DISCARD] = "discard",
	[UBLK_IO_OP_WRITE_ZEROES] = "write_zeroes",
};

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

static int word_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && !memcmp(p, word, n);
}

/* [p, p + n) as a decimal number up to UINT32_MAX; -1 if it is not one. */
static int64_t fault_number(const char *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	if (!n || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v > UINT32_MAX ? -1 : (int64_t)v;
}

/* One KEY=VALUE item, [item, item + n), into @f. */
static int fault_parse_item(struct backend *b, struct fault *f,
			    const char *item, size_t n)
{
	const char *eq = memchr(item, '=', n);
	const struct fault_key *k;
	size_t klen, vlen;
	const char *val;
	int64_t v;
	unsigned i;

	if (!eq)
		return backend_fail(b, -EINVAL,
				    "fault: bad --fault item '%.*s': not KEY=VALUE",
				    (int)n, item);
	klen = (size_t)(eq - item);
	val = eq + 1;
	vlen = n - klen - 1;

	if (word_is(item, klen, "fail_op") || word_is(item, klen, "stall_op")) {
		for (i = 0; i < ARRAY_LEN(fault_op_names); i++) {
			if (fault_op_names[i] &&
			    word_is(val, vlen, fault_op_names[i])) {
				*(item[0] == 'f' ? &f->fail_op : &f->stall_op) = (int)i;
				return 0;
			}
		}
		return backend_fail(b, -EINVAL,
				    "fault: bad --fault item '%.*s': not read, write, flush, discard or write_zeroes",
				    (int)n, item);
	}
	for (k = fault_keys; k < fault_keys + ARRAY_LEN(fault_keys); k++) {
		if (!word_is(item, klen, k->name))
			continue;
		v = fault_number(val, vlen);
		if (v < k->min || v > k->max)
			return backend_fail(b, -EINVAL,
					    "fault: bad --fault item '%.*s': not a number from %u to %u",
					    (int)n, item, k->min, k->max);
		*(uint32_t *)((char *)f + k->offset) = (uint32_t)v;
		if (k->offset == offsetof(struct fault, corrupt_pi))
			f->corrupt_pi_set = 1;
		return 0;
	}
	return backend_fail(b, -EINVAL,
			    "fault: bad --fault item '%.*s': no such fault (delay_ms fail_nth fail_all fail_op stall_nth stall_op die_nth corrupt_pi)",
			    (int)n, item);
}

static int fault_parse(struct backend *b, struct fault *f)
{
	const char *p = b->conf.fault, *end;
	int ret;

	f->fail_op = -1;
	f->stall_op = -1;
	if (!p || !*p)
		return 0;
	for (;;) {
		end = strchrnul(p, ',');
		ret = fault_parse_item(b, f, p, (size_t)(end - p));
		if (ret)
			return ret;
		if (!*end)
			break;
		p = end + 1;
	}
	if (f->fail_op >= 0 && !f->fail_nth && !f->fail_all)
		return backend_fail(b, -EINVAL,
				    "fault: bad --fault item 'fail_op=%s': without fail_nth or fail_all",
				    fault_op_names[f->fail_op]);
	if (f->corrupt_pi_set && !b->conf.integrity.metadata_size)
		return backend_fail(b, -EINVAL,
				    "fault: bad --fault item 'corrupt_pi=%u': the device has no integrity profile (--metadata_size)",
				    f->corrupt_pi);
	if (f->corrupt_pi_set && f->corrupt_pi >= b->size >> b->conf.lbs_shift)
		return backend_fail(b, -EINVAL,
				    "fault: bad --fault item 'corrupt_pi=%u': past the last block, %llu",
				    f->corrupt_pi,
				    (unsigned long long)(b->size >> b->conf.lbs_shift) - 1);
	return 0;
}

static int fault_open(struct backend *b)
{
	struct fault *f;
	int ret;

	ret = backend_set_size(b, "fault", b->conf.size ? b->conf.size :
				FAULT_DEFAULT_SIZE);
	if (ret)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return backend_fail(b, -ENOMEM, "fault: out of memory");
	ret = fault_parse(b, f);
	if (ret)
		goto err_free;

	f->mem = (struct backend){
		.ops = &backend_mem_ops,
		.conf = { .size = b->size, .lbs_shift = b->conf.lbs_shift,
			  .integrity = b->conf.integrity },
	};
	ret = backend_mem_ops.open(&f->mem);
	if (ret) {
		backend_fail(b, ret, "fault: %s", f->mem.err);
		goto err_free;
	}
	f->delay.tv_sec = f->delay_ms / 1000;
	f->delay.tv_nsec = (int64_t)(f->delay_ms % 1000) * 1000000;

	b->max_size = b->size;
	b->attrs = f->mem.attrs;
	b->discard_granularity = f->mem.discard_granularity;
	b->max_discard_sectors = f->mem.max_discard_sectors;
	b->max_write_zeroes_sectors = f->mem.max_write_zeroes_sectors;
	b->fd = -1;
	b->priv = f;
	return 0;

err_free:
	free(f);
	return ret;
}

static void fault_close(struct backend *b)
{
	struct fault *f = b->priv;

	if (!f)
		return;
	backend_mem_ops.close(&f->mem);
	free(f);
	b->priv = NULL;
}

/* Does a request of @op fail, by fail_nth or fail_all? */
static int fault_fails(struct fault *f, unsigned op, unsigned tag)
{
	uint64_t nr;

	if (f->fail_op >= 0 && op != (unsigned)f->fail_op)
		return 0;
	if (f->fail_all)
		return 1;
	if (!f->fail_nth)
		return 0;
	nr = __atomic_add_fetch(&f->nr_fail_reqs, 1, __ATOMIC_RELAXED);
	if (nr != f->fail_nth)
		return 0;
	log_info("fault: failing request %llu (tag %u)", (unsigned long long)nr,
		 tag);
	return 1;
}

/* corrupt_pi: flip block corrupt_pi's guard tag if this read returns it. */
static void fault_corrupt_pi(const struct backend *b, const struct fault *f,
			     struct ublk_queue *q, unsigned tag,
			     const struct ublksrv_io_desc *iod)
{
	const struct backend_integrity *in = &b->conf.integrity;
	const unsigned shift = b->conf.lbs_shift;
	const uint64_t first = (iod->start_sector << 9) >> shift;
	const uint64_t n = ((uint64_t)iod->nr_sectors << 9) >> shift;
	unsigned char *meta;
	size_t len, at;

	if (!f->corrupt_pi_set || f->corrupt_pi < first ||
	    f->corrupt_pi >= first + n)
		return;
	meta = ublk_queue_meta(q, tag, &len);
	at = (size_t)(f->corrupt_pi - first) * in->metadata_size + in->pi_offset;
	if (!meta || at >= len)
		return;
	meta[at] ^= 0xff;	/* the guard tag leads the PI tuple */
	log_info("fault: corrupting the PI of block %u (tag %u)", f->corrupt_pi,
		 tag);
}

static int fault_queue_io(struct backend *b, struct ublk_queue *q,
			  unsigned tag, const struct ublksrv_io_desc *iod,
			  void *buf)
{
	struct fault *f = b->priv;
	const unsigned op = ublksrv_get_op(iod);
	const uint64_t off = iod->start_sector << 9;
	const uint64_t len = (uint64_t)iod->nr_sectors << 9;
	struct io_uring_sqe *sqe;
	uint64_t nr;
	int ret;

	nr = __atomic_add_fetch(&f->nr_reqs, 1, __ATOMIC_RELAXED);
	if (nr == f->die_nth) {
		log_err("fault: killing the daemon at request %llu (tag %u)",
			(unsigned long long)nr, tag);
		raise(SIGKILL);
	}
	if (f->stall_nth && (f->stall_op < 0 || op == (unsigned)f->stall_op) &&
	    __atomic_add_fetch(&f->nr_stall_reqs, 1, __ATOMIC_RELAXED) == f->stall_nth) {
		log_warn("fault: stalling request %llu (tag %u)",
			 (unsigned long long)nr, tag);
		return BACKEND_QUEUED;
	}

	if (fault_fails(f, op, tag))
		ret = -EIO;
	else if (op != UBLK_IO_OP_FLUSH &&
		 (iod->start_sector > b->max_size >> 9 || len > b->max_size - off))
		ret = -EIO;
	else
		ret = backend_mem_ops.queue_io(&f->mem, q, tag, iod, buf);
	if (ret > 0 && op == UBLK_IO_OP_READ)
		fault_corrupt_pi(b, f, q, tag, iod);
	if (!f->delay_ms)
		return ret;

	/* the backend's 16 bits of user_data carry an error for io_done */
	sqe = ublk_queue_get_sqe(q, tag, op, ret < 0 ? (unsigned)-ret : 0);
	if (!sqe)
		return ret;	/* rings are sized so that this cannot be */
	uring_prep_rw(sqe, IORING_OP_TIMEOUT, -1, &f->delay, 1, 0);
	return BACKEND_QUEUED;
}

/* The delay is over: the result queue_io would have returned. */
static int fault_io_done(struct backend *b, struct ublk_queue *q, unsigned tag,
			 const struct io_uring_cqe *cqe)
{
	const struct ublksrv_io_desc *iod = ublk_queue_iod(q, tag);
	const unsigned err = user_data_tgt_data(cqe->user_data);

	if (cqe->res < 0 && cqe->res != -ETIME)
		return cqe->res;	/* e.g. -ECANCELED as the ring goes */
	if (err)
		return -(int)err;
	if (ublksrv_get_op(iod) <= UBLK_IO_OP_WRITE)
		return (int)((uint64_t)iod->nr_sectors << 9);
	return 0;
}

static int fault_json(const struct backend *b, char *buf, size_t len)
{
	int n, m;

	n = snprintf(buf, len, "\"size\":%llu,\"fault\":",
		     (unsigned long long)b->size);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	m = backend_json_str(buf + n, len - (size_t)n, b->conf.fault);
	return m < 0 ? m : n + m;
}

const struct backend_ops backend_fault_ops = {
	.name = "fault",
	.open = fault_open,
	.close = fault_close,
	.queue_io = fault_queue_io,
	.io_done = fault_io_done,
	.json = fault_json,
};
