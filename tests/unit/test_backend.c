// SPDX-License-Identifier: MIT
/*
 * The backend table and the backends that need no ring: null and mem.
 */
#include <pthread.h>
#include <unistd.h>

#include "fake_queue.h"

static void test_table(void)
{
	CHECK(backend_find("null") == &backend_null_ops);
	CHECK(backend_find("mem") == &backend_mem_ops);
	CHECK(backend_find("loop") == &backend_loop_ops);
	CHECK(backend_find("fault") == &backend_fault_ops);
	CHECK(backend_find("nbd") == &backend_nbd_ops);
	CHECK(backend_find("stripe") == &backend_stripe_ops);
	CHECK(backend_find("nbdx") == NULL);
	CHECK(backend_find("") == NULL);
	CHECK(backend_find(NULL) == NULL);
	CHECK(!strcmp(backend_names(), "null mem loop fault nbd stripe zoned"));
	CHECK(!strcmp(backend_null_ops.name, "null"));
	CHECK(!strcmp(backend_mem_ops.name, "mem"));
	CHECK(!strcmp(backend_loop_ops.name, "loop"));
}

/* ---- null ---- */

static void test_null(void)
{
	struct backend b = { .ops = &backend_null_ops };
	unsigned char *buf = xalloc(64 << 10), *copy = xalloc(64 << 10);
	char js[64];

	CHECK_EQ(b.ops->open(&b), 0);
	CHECK_EQ(b.size, 250ULL << 30);
	CHECK_EQ(b.conf.lbs_shift, 9);
	CHECK_EQ(b.attrs, 0);
	CHECK_EQ(b.fd, -1);
	CHECK(b.discard_granularity >= 512);
	CHECK(b.max_discard_sectors > 0);
	CHECK(b.max_write_zeroes_sectors > 0);

	/* reads leave the buffer alone; no ring is needed */
	fill(buf, 64 << 10, 3);
	memcpy(copy, buf, 64 << 10);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 4096, 64 << 10, buf), 64 << 10);
	CHECK(!memcmp(buf, copy, 64 << 10));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 0, 512, buf), 512);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_DISCARD, 0, 1 * MiB, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_ZEROES, 0, 1 * MiB, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_SAME, 0, 512, buf), -EOPNOTSUPP);
	CHECK_EQ(io(&b, NULL, 10, 0, 512, NULL), -EOPNOTSUPP);	/* zoned */

	CHECK_EQ(json(&b, js, sizeof(js)), 19);
	CHECK(!strcmp(js, "\"size\":268435456000"));
	CHECK_EQ(b.ops->json(&b, js, 19), -ENOSPC);
	b.ops->close(&b);

	b = (struct backend){ .ops = &backend_null_ops,
			      .conf = { .size = 1 * MiB, .lbs_shift = 12 } };
	CHECK_EQ(b.ops->open(&b), 0);
	CHECK_EQ(b.size, 1 * MiB);
	b.ops->close(&b);

	b = (struct backend){ .ops = &backend_null_ops,
			      .conf = { .size = 4096 + 512, .lbs_shift = 12 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "null: ") == b.err);
	CHECK(strstr(b.err, "4096-byte"));

	b = (struct backend){ .ops = &backend_null_ops, .conf = { .lbs_shift = 13 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(b.err[0]);
	free(buf);
	free(copy);
}

/* ---- mem ---- */

static long rss_pages(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	REQUIRE(f);
	REQUIRE(fscanf(f, "%ld %ld", &size, &rss) == 2);
	fclose(f);
	return rss;
}

struct mem_worker {
	struct backend *b;
	uint64_t base;
	int fails;
};

static void *mem_worker(void *arg)
{
	struct mem_worker *w = arg;
	unsigned char *wbuf = xalloc(16384), *rbuf = xalloc(16384);
	int i;

	for (i = 0; i < 200; i++) {
		uint64_t off = w->base + (uint64_t)(i % 16) * 16384;

		fill(wbuf, 16384, (unsigned)(w->base >> 20) + i);
		w->fails += io(w->b, NULL, UBLK_IO_OP_WRITE, off, 16384, wbuf) != 16384;
		w->fails += io(w->b, NULL, UBLK_IO_OP_READ, off, 16384, rbuf) != 16384;
		w->fails += memcmp(wbuf, rbuf, 16384) != 0;
	}
	free(wbuf);
	free(rbuf);
	return NULL;
}

static void test_mem(void)
{
	const size_t big = 64 * MiB;
	struct backend b = { .ops = &backend_mem_ops };
	unsigned char *wbuf = xalloc(big), *rbuf = xalloc(big);
	struct mem_worker w[4];
	pthread_t t[4];
	long rss0, rss1;
	char js[64];
	int i;

	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(!strcmp(b.err, "mem: --size is required"));
	CHECK(b.priv == NULL);

	b = (struct backend){ .ops = &backend_mem_ops,
			      .conf = { .size = 3 * 4096 + 512, .lbs_shift = 12 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "mem: size 12800 is not a multiple"));

	b = (struct backend){ .ops = &backend_mem_ops,
			      .conf = { .size = 256 * MiB } };
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(b.size, 256 * MiB);
	CHECK_EQ(b.attrs, 0);
	CHECK_EQ(b.fd, -1);
	CHECK_EQ(b.discard_granularity, 4096);
	CHECK(b.max_discard_sectors >= 8);
	CHECK(b.max_write_zeroes_sectors >= 8);
	CHECK_EQ(json(&b, js, sizeof(js)), 16);
	CHECK(!strcmp(js, "\"size\":268435456"));

	/* never written: reads zeros */
	memset(rbuf, 0xff, 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 100 * MiB, 4096, rbuf), 4096);
	CHECK(is_zero(rbuf, 4096));

	/* patterns at the start, the middle and the very end */
	fill(wbuf, 1 * MiB, 1);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 1 * MiB, wbuf), 1 * MiB);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 77 * 512,
		    8 * 512, wbuf + 4096), 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 256 * MiB - 512, 512, wbuf), 512);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 77 * 512));
	CHECK(!memcmp(rbuf + 77 * 512, wbuf + 4096, 4096));
	CHECK(!memcmp(rbuf + 85 * 512, wbuf + 85 * 512, 1 * MiB - 85 * 512));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 256 * MiB - 512, 512, rbuf), 512);
	CHECK(!memcmp(rbuf, wbuf, 512));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);

	/* out of range: past the room kept for update_size */
	CHECK(b.max_size >= b.size);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, b.max_size, 512, rbuf), -EIO);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, b.max_size - 512, 1024, wbuf), -EIO);
	CHECK_EQ(run_io(&b, NULL, 0, UBLK_IO_OP_READ, UINT64_MAX >> 9, 1, rbuf), -EIO);
	CHECK_EQ(run_io(&b, NULL, 0, UBLK_IO_OP_READ, UINT64_MAX, 1, rbuf), -EIO);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_DISCARD, b.max_size - MiB, 2 * MiB, NULL), -EIO);
	/* grown by update_size: the room past the old end works */
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 256 * MiB, 4096, wbuf), 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 256 * MiB, 4096, rbuf), 4096);
	CHECK(!memcmp(rbuf, wbuf, 4096));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_SAME, 0, 512, wbuf), -EOPNOTSUPP);

	/* a discard with ragged edges: zeros inside, data kept outside */
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_DISCARD, 3 * 512, 20000 & ~511, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 3 * 512));
	CHECK(is_zero(rbuf + 3 * 512, 20000 & ~511));
	CHECK(!memcmp(rbuf + 3 * 512 + (20000 & ~511),
		      wbuf + 3 * 512 + (20000 & ~511), 17920));
	/* write-zeroes inside one page, with and without NOUNMAP */
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_ZEROES, 600 * 1024, 1024, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP,
		    700 * 1024, 8192, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(is_zero(rbuf + 600 * 1024, 1024));
	CHECK(is_zero(rbuf + 700 * 1024, 8192));
	CHECK(!memcmp(rbuf + 601 * 1024, wbuf + 601 * 1024, 99 * 1024));
	CHECK(!memcmp(rbuf + 708 * 1024, wbuf + 708 * 1024, 4096));

	/* memory comes back: write 64 MiB, discard it, watch the RSS */
	fill(wbuf, big, 5);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 128 * MiB, big, wbuf), (int)big);
	rss0 = rss_pages();
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_DISCARD, 128 * MiB, big, NULL), 0);
	rss1 = rss_pages();
	CHECK(rss0 - rss1 >= (long)(big / 4096 * 3 / 4));
	fprintf(stderr, "note: mem discard of 64 MiB freed %ld KiB\n",
		(rss0 - rss1) * (sysconf(_SC_PAGESIZE) >> 10));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 128 * MiB, big, rbuf), (int)big);
	CHECK(is_zero(rbuf, big));

	/* queue threads on disjoint ranges at once */
	for (i = 0; i < 4; i++) {
		w[i] = (struct mem_worker){ .b = &b, .base = (uint64_t)(i + 2) * MiB };
		REQUIRE(pthread_create(&t[i], NULL, mem_worker, &w[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].fails, 0);
	}

	b.ops->close(&b);
	CHECK(b.priv == NULL);
	b.ops->close(&b);	/* harmless twice */
	free(wbuf);
	free(rbuf);
}

/* ---- integrity: metadata kept beside the data ---- */

static int all_ones(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != 0xff)
			return 0;
	return 1;
}

static void test_mem_integrity(void)
{
	struct backend b = { .ops = &backend_mem_ops,
			     .conf = { .size = 16 * MiB, .lbs_shift = 12,
				       .integrity = { .metadata_size = 16 } } };
	unsigned char *buf = xalloc(64 << 10), *wmeta = xalloc(256),
		      *rmeta = xalloc(256);
	const unsigned w = UBLK_IO_OP_WRITE | UBLK_IO_F_INTEGRITY;
	const unsigned r = UBLK_IO_OP_READ | UBLK_IO_F_INTEGRITY;
	static struct ublk_queue q;

	q.meta_size = 16;
	q.meta_shift = 12;
	REQUIRE(b.ops->open(&b) == 0);

	/* never written: all ones, the escape value nothing checks */
	q.meta[7] = rmeta;
	memset(rmeta, 0, 256);
	CHECK_EQ(io(&b, &q, r, 8 * MiB, 64 << 10, buf), 64 << 10);
	CHECK(all_ones(rmeta, 256));

	/* 16 blocks' metadata goes in and comes back, block by block */
	fill(wmeta, 256, 3);
	q.meta[7] = wmeta;
	CHECK_EQ(io(&b, &q, w, 1 * MiB, 64 << 10, buf), 64 << 10);
	q.meta[7] = rmeta;
	CHECK_EQ(io(&b, &q, r, 1 * MiB, 64 << 10, buf), 64 << 10);
	CHECK(!memcmp(rmeta, wmeta, 256));
	CHECK_EQ(io(&b, &q, r, 1 * MiB + 4096 * 3, 8192, buf), 8192);
	CHECK(!memcmp(rmeta, wmeta + 3 * 16, 32));

	/* a read without metadata leaves the buffer alone */
	memset(rmeta, 0x5a, 256);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 1 * MiB, 64 << 10, buf), 64 << 10);
	CHECK_EQ(rmeta[0], 0x5a);

	/* discard, write-zeroes and a write without metadata forget it */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 1 * MiB, 4096, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_ZEROES, 1 * MiB + 8192, 4096, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 1 * MiB + 4 * 4096, 4096, buf), 4096);
	CHECK_EQ(io(&b, &q, r, 1 * MiB, 5 * 4096, buf), 5 * 4096);
	CHECK(all_ones(rmeta, 16));
	CHECK(!memcmp(rmeta + 16, wmeta + 16, 16));
	CHECK(all_ones(rmeta + 32, 16));
	CHECK(!memcmp(rmeta + 48, wmeta + 48, 16));
	CHECK(all_ones(rmeta + 64, 16));
	/* and the end of the device has its metadata too */
	q.meta[7] = wmeta;
	CHECK_EQ(io(&b, &q, w, 16 * MiB - 4096, 4096, buf), 4096);
	q.meta[7] = rmeta;
	CHECK_EQ(io(&b, &q, r, 16 * MiB - 4096, 4096, buf), 4096);
	CHECK(!memcmp(rmeta, wmeta, 16));
	b.ops->close(&b);
	CHECK(b.priv == NULL);

	/* null makes it up: all ones */
	b = (struct backend){ .ops = &backend_null_ops,
			      .conf = { .integrity = { .metadata_size = 16 } } };
	REQUIRE(b.ops->open(&b) == 0);
	memset(rmeta, 0, 256);
	CHECK_EQ(io(&b, &q, r, 0, 64 << 10, buf), 64 << 10);
	CHECK(all_ones(rmeta, 256));
	CHECK_EQ(io(&b, &q, w, 0, 4096, buf), 4096);
	b.ops->close(&b);
	q.meta[7] = NULL;
	free(buf);
	free(wmeta);
	free(rmeta);
}

/* mem in user copy mode: the data moves once, between the request and the disk. */
static void test_mem_user_copy(void)
{
	struct backend b = { .ops = &backend_mem_ops, .conf = { .size = 16 * MiB } };
	unsigned char *wbuf = xalloc(512 << 10), *rbuf = xalloc(512 << 10);
	struct ublk_queue *q = calloc(1, sizeof(*q));

	REQUIRE(q);
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(b.user_copy, 1);
	CHECK_EQ(b.auto_path, BACKEND_AUTO_USER_COPY);
	CHECK_EQ(b.zero_copy, 0);

	/* a write reads the request's pages; a read fills them */
	fill(wbuf, 512 << 10, 11);
	q->pages = wbuf;
	q->pages_len = 512 << 10;
	CHECK_EQ(io(&b, q, UBLK_IO_OP_WRITE, 3 * MiB, 512 << 10, NULL), 512 << 10);
	memset(rbuf, 0, 512 << 10);
	q->pages = rbuf;
	CHECK_EQ(io(&b, q, UBLK_IO_OP_READ, 3 * MiB, 512 << 10, NULL), 512 << 10);
	CHECK(!memcmp(rbuf, wbuf, 512 << 10));
	/* the same data through the copy path's buffer */
	memset(rbuf, 0, 512 << 10);
	CHECK_EQ(io(&b, q, UBLK_IO_OP_READ, 3 * MiB + 4096, 64 << 10, rbuf), 64 << 10);
	CHECK(!memcmp(rbuf, wbuf + 4096, 64 << 10));

	/* a copy that moves less, or fails, fails the request */
	q->copy_short = 512;
	CHECK_EQ(io(&b, q, UBLK_IO_OP_WRITE, 0, 4096, NULL), -EIO);
	CHECK_EQ(io(&b, q, UBLK_IO_OP_READ, 0, 4096, NULL), -EIO);
	q->pages = NULL;
	CHECK_EQ(io(&b, q, UBLK_IO_OP_READ, 0, 4096, NULL), -EINVAL);
	b.ops->close(&b);
	free(q);
	free(wbuf);
	free(rbuf);
}

/* ---- a target answered off the request's own SQEs, on the fake queue ---- */

/* queue_io sends a tagless NOP naming the tag; its CQE finishes the request. */
static int deferred_queue_io(struct backend *b, struct ublk_queue *q,
			     unsigned tag, const struct ublksrv_io_desc *iod,
			     void *buf)
{
	struct io_uring_sqe *sqe = ublk_queue_get_sqe(q, UBLK_TGT_NO_TAG, 1, tag);

	if (!sqe)
		return -EBUSY;
	uring_prep_nop(sqe);
	return BACKEND_QUEUED;
}

static int deferred_tgt_event(struct backend *b, struct ublk_queue *q,
			      const struct io_uring_cqe *cqe)
{
	unsigned tag = user_data_tgt_data(cqe->user_data);

	return ublk_queue_complete(q, tag, (int)ublk_queue_iod(q, tag)->nr_sectors << 9);
}

static void test_deferred(void)
{
	static const struct backend_ops ops = {
		.name = "deferred",
		.queue_io = deferred_queue_io,
		.tgt_event = deferred_tgt_event,
	};
	struct backend b = { .ops = &ops, .fd = -1 };
	struct ublk_queue q;

	memset(&q, 0, sizeof(q));
	queue_init(&q, &b);
	CHECK_EQ(run_io(&b, &q, 5, UBLK_IO_OP_READ, 0, 8, NULL), 4096);
	CHECK_EQ(run_io(&b, &q, 6, UBLK_IO_OP_WRITE, 8, 1, NULL), 512);
	/* a tag that is not being served cannot be finished */
	CHECK_EQ(ublk_queue_complete(&q, 5, 0), -EINVAL);
	CHECK_EQ(ublk_queue_complete(&q, FAKE_QUEUE_DEPTH, 0), -EINVAL);
	uring_exit(&q.ring);
}

int main(void)
{
	skip_without_uring();
	test_table();
	test_null();
	test_mem();
	test_mem_integrity();
	test_mem_user_copy();
	test_deferred();
	return unit_done();
}
