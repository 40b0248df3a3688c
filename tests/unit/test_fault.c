// SPDX-License-Identifier: MIT
/*
 * The fault backend against a fake queue: --fault parsing, mem's data
 * path, and each fault: delay, fail_nth / fail_op, fail_all, stall_nth,
 * die_nth.  Also backend_json_str(), which fault and loop share.
 */
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "fake_queue.h"
#include "../../backend/internal.h"

static struct backend fault_backend(const char *spec, uint64_t size)
{
	return (struct backend){
		.ops = &backend_fault_ops,
		.fd = -1,
		.conf = { .type = "fault", .size = size, .fault = spec },
	};
}

static void test_parse(void)
{
	static const char *const good[] = {
		"delay_ms=5",
		"delay_ms=0",
		"fail_nth=1,fail_op=write_zeroes",
		"fail_all=1,fail_op=flush,delay_ms=1000",
		"fail_all=0",
		"stall_nth=4294967295",
		"die_nth=7,fail_nth=2,fail_op=read,fail_op=discard",
	};
	static const struct {
		const char *spec, *err;
	} bad[] = {
		{ "bogus=1", "'bogus=1': no such fault" },
		{ "delay_ms=5,fail_nth=x", "'fail_nth=x': not a number" },
		{ "fail_nth=0", "'fail_nth=0': not a number from 1 to" },
		{ "stall_nth=0", "'stall_nth=0'" },
		{ "die_nth=-1", "'die_nth=-1'" },
		{ "fail_nth=", "'fail_nth='" },
		{ "fail_nth= 1", "'fail_nth= 1'" },
		{ "fail_nth=4294967296", "'fail_nth=4294967296'" },
		{ "delay_ms=99999999999", "'delay_ms=99999999999'" },
		{ "fail_all=2", "'fail_all=2': not a number from 0 to 1" },
		{ "delay_ms", "'delay_ms': not KEY=VALUE" },
		{ "fail_nth=1,", "'': not KEY=VALUE" },
		{ ",fail_nth=1", "'': not KEY=VALUE" },
		{ "fail_nth=1,fail_op=trim", "'fail_op=trim': not read, write" },
		{ "fail_op=write_same,fail_all=1", "'fail_op=write_same'" },
		{ "fail_op=read", "'fail_op=read': without fail_nth or fail_all" },
		{ "fail_nth=1=2", "'fail_nth=1=2'" },
		{ "corrupt_pi=0", "'corrupt_pi=0': the device has no integrity profile" },
		{ "corrupt_pi=x", "'corrupt_pi=x': not a number from 0" },
	};
	struct backend b;
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		b = fault_backend(good[i], 0);
		CHECK_EQ(b.ops->open(&b), 0);
		if (b.err[0])
			fprintf(stderr, "%s: %s\n", good[i], b.err);
		b.ops->close(&b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = fault_backend(bad[i].spec, 0);
		CHECK_EQ(b.ops->open(&b), -EINVAL);
		CHECK(b.priv == NULL);
		CHECK(strstr(b.err, "fault: bad --fault item ") == b.err);
		if (!strstr(b.err, bad[i].err)) {
			fprintf(stderr, "%s: got \"%s\"\n", bad[i].spec, b.err);
			CHECK(!"error names the item");
		}
	}

	/* the size, as mem's */
	b = fault_backend(NULL, 4096 + 512);
	b.conf.lbs_shift = 12;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "fault: size 4608 is not a multiple"));
	b = fault_backend("", 1 * MiB);
	CHECK_EQ(b.ops->open(&b), 0);
	CHECK_EQ(b.size, 1 * MiB);
	CHECK_EQ(b.max_size, 1 * MiB);
	b.ops->close(&b);
	CHECK(b.priv == NULL);
	b.ops->close(&b);	/* harmless twice */
}

static void test_json(void)
{
	struct backend b = fault_backend("fail_nth=3,fail_op=write", 0);
	const char *want = "\"size\":268435456,\"fault\":\"fail_nth=3,fail_op=write\"";
	char js[128];
	int n;

	REQUIRE(b.ops->open(&b) == 0);
	n = json(&b, js, sizeof(js));
	CHECK_EQ(n, strlen(want));
	CHECK(!strcmp(js, want));
	CHECK_EQ(b.ops->json(&b, js, (size_t)n), -ENOSPC);
	CHECK_EQ(b.ops->json(&b, js, 10), -ENOSPC);
	CHECK_EQ(b.ops->json(&b, js, (size_t)n + 1), n);
	b.ops->close(&b);

	b = fault_backend(NULL, 0);
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(json(&b, js, sizeof(js)), 27);
	CHECK(!strcmp(js, "\"size\":268435456,\"fault\":\"\""));
	b.ops->close(&b);

	/* the escaping loop's backing_file goes through too */
	CHECK_EQ(backend_json_str(js, sizeof(js), "a\"b\\c\x01"), 15);
	CHECK(!strcmp(js, "\"a\\\"b\\\\c\\u0001\""));
	CHECK_EQ(backend_json_str(js, 16, "a\"b\\c\x01"), 15);
	CHECK_EQ(backend_json_str(js, 15, "a\"b\\c\x01"), -ENOSPC);
	CHECK_EQ(backend_json_str(js, 3, ""), 2);
	CHECK(!strcmp(js, "\"\""));
	CHECK_EQ(backend_json_str(js, 2, ""), -ENOSPC);
}

/* No faults: mem's data path, in bounds of the device's size. */
static void test_data(void)
{
	struct backend b = fault_backend(NULL, 0);
	unsigned char *wbuf = xalloc(1 * MiB), *rbuf = xalloc(1 * MiB);

	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(b.size, 256 * MiB);
	CHECK_EQ(b.max_size, b.size);
	CHECK_EQ(b.fd, -1);
	CHECK_EQ(b.attrs, 0);
	CHECK_EQ(b.discard_granularity, 4096);
	CHECK(b.max_discard_sectors >= 8);
	CHECK(b.max_write_zeroes_sectors >= 8);

	memset(rbuf, 0xff, 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 100 * MiB, 4096, rbuf), 4096);
	CHECK(is_zero(rbuf, 4096));

	fill(wbuf, 1 * MiB, 9);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 1 * MiB, wbuf), 1 * MiB);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 256 * MiB - 512, 512, wbuf), 512);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 1 * MiB));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 256 * MiB - 512, 512, rbuf), 512);
	CHECK(!memcmp(rbuf, wbuf, 512));
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);

	/* no room to grow: the end of the device is the end */
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 256 * MiB, 512, rbuf), -EIO);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 256 * MiB - 512, 1024, wbuf), -EIO);
	CHECK_EQ(run_io(&b, NULL, 0, UBLK_IO_OP_READ, UINT64_MAX >> 9, 1, rbuf), -EIO);
	CHECK_EQ(run_io(&b, NULL, 0, UBLK_IO_OP_READ, UINT64_MAX, 1, rbuf), -EIO);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_SAME, 0, 512, wbuf), -EOPNOTSUPP);

	/* discard and write-zeroes zero their range only */
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_DISCARD, 3 * 512, 16384, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_ZEROES, 600 * 1024, 1024, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 3 * 512));
	CHECK(is_zero(rbuf + 3 * 512, 16384));
	CHECK(!memcmp(rbuf + 3 * 512 + 16384, wbuf + 3 * 512 + 16384,
		      600 * 1024 - 3 * 512 - 16384));
	CHECK(is_zero(rbuf + 600 * 1024, 1024));
	CHECK(!memcmp(rbuf + 601 * 1024, wbuf + 601 * 1024, 423 * 1024));

	b.ops->close(&b);
	free(wbuf);
	free(rbuf);
}

/* corrupt_pi: reads of that block get its guard flipped, nothing else. */
static void test_corrupt_pi(void)
{
	struct backend b = fault_backend("corrupt_pi=5", 1 * MiB);
	unsigned char *buf = xalloc(8192), *wmeta = xalloc(128), *rmeta = xalloc(128);
	const unsigned w = UBLK_IO_OP_WRITE | UBLK_IO_F_INTEGRITY;
	const unsigned r = UBLK_IO_OP_READ | UBLK_IO_F_INTEGRITY;
	static struct ublk_queue q;

	b.conf.integrity = (struct backend_integrity){ .metadata_size = 8,
						       .pi_offset = 0,
						       .csum_type = LBMD_PI_CSUM_CRC16_T10DIF };
	REQUIRE(b.ops->open(&b) == 0);
	q.meta_size = 8;
	q.meta_shift = 9;
	fill(wmeta, 128, 1);
	q.meta[7] = wmeta;
	CHECK_EQ(io(&b, &q, w, 0, 8192, buf), 8192);	/* blocks 0..15 */
	q.meta[7] = rmeta;
	CHECK_EQ(io(&b, &q, r, 0, 8192, buf), 8192);
	CHECK(!memcmp(rmeta, wmeta, 5 * 8));
	CHECK_EQ(rmeta[5 * 8], (unsigned char)~wmeta[5 * 8]);
	CHECK(!memcmp(rmeta + 5 * 8 + 1, wmeta + 5 * 8 + 1, 128 - 5 * 8 - 1));
	/* again: the stored copy is not the one that changed */
	CHECK_EQ(io(&b, &q, r, 2048, 1024, buf), 1024);	/* blocks 4, 5 */
	CHECK(!memcmp(rmeta, wmeta + 4 * 8, 8));
	CHECK_EQ(rmeta[8], (unsigned char)~wmeta[5 * 8]);
	/* reads that miss block 5 are untouched */
	CHECK_EQ(io(&b, &q, r, 3072, 5120, buf), 5120);
	CHECK(!memcmp(rmeta, wmeta + 6 * 8, 80));
	b.ops->close(&b);

	/* past the end of the device: refused */
	b = fault_backend("corrupt_pi=2048", 1 * MiB);
	b.conf.integrity.metadata_size = 8;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "past the last block, 2047") != NULL);
	q.meta[7] = NULL;
	free(buf);
	free(wmeta);
	free(rmeta);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Wait for one CQE on @q and hand it to the backend. */
static int reap_one(struct backend *b, struct ublk_queue *q, unsigned *tag)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int ret = BACKEND_QUEUED;

	REQUIRE(uring_submit_and_wait(&q->ring, 1) >= 0);
	uring_for_each_cqe(&q->ring, head, cqe) {
		CHECK(user_data_is_tgt(cqe->user_data));
		CHECK_EQ(cqe->res, -ETIME);
		*tag = user_data_tag(cqe->user_data);
		ret = b->ops->io_done(b, q, *tag, cqe);
		n++;
		break;
	}
	uring_cq_advance(&q->ring, n);
	return ret;
}

static void test_delay(void)
{
	struct backend b = fault_backend("delay_ms=50", 0);
	unsigned char *wbuf = xalloc(8192), *rbuf = xalloc(8192);
	const struct ublksrv_io_desc *iod;
	static struct ublk_queue q;
	struct timespec t0;
	unsigned tag, seen = 0;
	long ms;
	int ret, i;

	REQUIRE(b.ops->open(&b) == 0);
	REQUIRE(uring_init(&q.ring, 32, 0) == 0);

	fill(wbuf, 8192, 4);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 1 * MiB, 8192, wbuf), 8192);
	CHECK(elapsed_ms(&t0) >= 40);

	/* a read: queued, done no sooner than the delay, with its bytes */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	iod = fake_iod(&q, 5, UBLK_IO_OP_READ, (1 * MiB) >> 9, 8);
	CHECK_EQ(b.ops->queue_io(&b, &q, 5, iod, rbuf), BACKEND_QUEUED);
	CHECK_EQ(uring_sq_pending(&q.ring), 1);
	ret = reap_one(&b, &q, &tag);
	ms = elapsed_ms(&t0);
	CHECK_EQ(tag, 5);
	CHECK_EQ(ret, 4096);
	CHECK(!memcmp(rbuf, wbuf, 4096));
	CHECK(ms >= 40);
	CHECK(ms < 5000);
	fprintf(stderr, "note: delay_ms=50 read took %ld ms\n", ms);

	/* two at once share the one timespec; errors wait too */
	iod = fake_iod(&q, 1, UBLK_IO_OP_READ, (1 * MiB + 4096) >> 9, 8);
	CHECK_EQ(b.ops->queue_io(&b, &q, 1, iod, rbuf + 4096), BACKEND_QUEUED);
	iod = fake_iod(&q, 2, UBLK_IO_OP_READ, b.size >> 9, 8);
	CHECK_EQ(b.ops->queue_io(&b, &q, 2, iod, rbuf), BACKEND_QUEUED);
	for (i = 0; i < 2; i++) {
		ret = reap_one(&b, &q, &tag);
		seen |= 1U << tag;
		CHECK_EQ(ret, tag == 1 ? 4096 : -EIO);
	}
	CHECK_EQ(seen, 6);
	CHECK(!memcmp(rbuf + 4096, wbuf + 4096, 4096));
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 1 * MiB, 4096, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 1 * MiB, 8192, rbuf), 8192);
	CHECK(is_zero(rbuf, 4096));
	CHECK(!memcmp(rbuf + 4096, wbuf + 4096, 4096));
	b.ops->close(&b);

	/* a delayed failure */
	b = fault_backend("delay_ms=1,fail_nth=2", 0);
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 4096, rbuf), -EIO);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	b.ops->close(&b);

	uring_exit(&q.ring);
	free(wbuf);
	free(rbuf);
}

static void test_fail_nth(void)
{
	struct backend b = fault_backend("fail_nth=3,fail_op=write", 0);
	unsigned char *wbuf = xalloc(4096), *rbuf = xalloc(4096);
	int i;

	REQUIRE(b.ops->open(&b) == 0);
	fill(wbuf, 4096, 1);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, wbuf), 4096);
	for (i = 0; i < 5; i++)
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 4096, 4096, wbuf), 4096);
	/* the 3rd write fails and writes nothing */
	fill(wbuf, 4096, 2);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, wbuf), -EIO);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	fill(wbuf, 4096, 1);
	CHECK(!memcmp(rbuf, wbuf, 4096));
	/* the 4th and later are fine */
	fill(wbuf, 4096, 3);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, wbuf), 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, wbuf), 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	CHECK(!memcmp(rbuf, wbuf, 4096));
	b.ops->close(&b);

	/* without fail_op, every request counts */
	b = fault_backend("fail_nth=2", 0);
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), -EIO);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, rbuf), 4096);
	b.ops->close(&b);
	free(wbuf);
	free(rbuf);
}

static void test_fail_all(void)
{
	struct backend b = fault_backend("fail_all=1", 0);
	unsigned char *buf = xalloc(4096);
	int i;

	REQUIRE(b.ops->open(&b) == 0);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, buf), -EIO);
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, buf), -EIO);
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), -EIO);
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_DISCARD, 0, 4096, NULL), -EIO);
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE_ZEROES, 0, 4096, NULL), -EIO);
	}
	b.ops->close(&b);

	b = fault_backend("fail_op=read,fail_all=1", 0);
	REQUIRE(b.ops->open(&b) == 0);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, buf), -EIO);
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, buf), 4096);
		CHECK_EQ(io(&b, NULL, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	}
	b.ops->close(&b);

	b = fault_backend("fail_all=0", 0);
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, buf), 4096);
	b.ops->close(&b);
	free(buf);
}

static void test_stall(void)
{
	struct backend b = fault_backend("stall_nth=2,delay_ms=1", 0);
	unsigned char *buf = xalloc(4096);
	const struct ublksrv_io_desc *iod;
	static struct ublk_queue q;

	REQUIRE(b.ops->open(&b) == 0);
	REQUIRE(uring_init(&q.ring, 32, 0) == 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 4096, buf), 4096);
	iod = fake_iod(&q, 9, UBLK_IO_OP_WRITE, 0, 8);
	CHECK_EQ(b.ops->queue_io(&b, &q, 9, iod, buf), BACKEND_QUEUED);
	CHECK_EQ(uring_sq_pending(&q.ring), 0);
	CHECK_EQ(uring_submit(&q.ring), 0);
	CHECK_EQ(uring_cq_ready(&q.ring), 0);
	/* the others go on */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 0, 4096, buf), 4096);
	CHECK_EQ(uring_cq_ready(&q.ring), 0);
	b.ops->close(&b);
	uring_exit(&q.ring);
	free(buf);
}

static void test_die(void)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (!pid) {
		struct backend b = fault_backend("die_nth=2", 0);
		static unsigned char buf[4096];

		if (b.ops->open(&b))
			_exit(2);
		if (io(&b, NULL, UBLK_IO_OP_READ, 0, 4096, buf) != 4096)
			_exit(3);
		io(&b, NULL, UBLK_IO_OP_WRITE, 0, 4096, buf);
		_exit(0);	/* still here: the fault did not fire */
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status));
	if (WIFSIGNALED(status))
		CHECK_EQ(WTERMSIG(status), SIGKILL);
	else
		fprintf(stderr, "die_nth: child exited %d\n", WEXITSTATUS(status));
}

int main(void)
{
	skip_without_uring();
	test_parse();
	test_json();
	test_data();
	test_corrupt_pi();
	test_delay();
	test_fail_nth();
	test_fail_all();
	test_stall();
	test_die();
	return unit_done();
}
