// SPDX-License-Identifier: MIT
/*
 * The stripe backend against a fake queue: its checks, the RAID-0 layout
 * in the member files, discard and write-zeroes per member, short pieces.
 */
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fake_queue.h"

static char *member(const char *name, uint64_t size, unsigned seed)
{
	char path[256];
	unsigned char *buf;
	int fd;

	snprintf(path, sizeof(path), "/tmp/sublk-test-%d-%s", (int)getpid(), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, (off_t)size) == 0);
	if (seed && size) {
		buf = xalloc(size);
		fill(buf, size, seed);
		REQUIRE(pwrite(fd, buf, size, 0) == (ssize_t)size);
		free(buf);
	}
	close(fd);
	return strdup(path);
}

static void set_members(struct backend *b, char **paths, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		b->conf.files[i] = paths[i];
	b->conf.file = paths[0];
	b->conf.nr_files = n;
}

static void test_stripe_errors(void)
{
	struct backend b = { .ops = &backend_stripe_ops, .fd = -1 };
	char *p[3];

	p[0] = member("e0", 1 * MiB, 0);
	p[1] = member("e1", 1 * MiB, 0);
	p[2] = member("e2", 1000, 0);

	set_members(&b, p, 1);
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "two or more members"));
	CHECK(b.priv == NULL);

	set_members(&b, p, 2);
	b.conf.chunk_size = 12288;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "--chunk_size 12288 is not a power of two"));
	b.conf.chunk_size = 2048;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	b.conf.chunk_size = 2 << 20;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	b.conf.chunk_size = 0;

	b.conf.files[1] = "/tmp/sublk-test-does-not-exist";
	CHECK_EQ(b.ops->open(&b), -ENOENT);
	CHECK(!strcmp(b.err, "stripe: cannot open /tmp/sublk-test-does-not-exist: "
		      "No such file or directory"));
	CHECK(b.priv == NULL);

	b.conf.files[1] = p[0];
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "are the same file"));

	b.conf.files[1] = p[2];		/* smaller than one 64 KiB chunk */
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "smaller than one 65536-byte chunk"));

	b.conf.files[1] = p[1];
	b.conf.size = 4 * MiB;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "larger than the 2 members hold"));
	b.conf.size = 0;
	CHECK_EQ(b.ops->open(&b), 0);
	CHECK_EQ(b.size, 2 * MiB);
	b.ops->close(&b);
	CHECK(b.priv == NULL);

	for (unsigned i = 0; i < 3; i++) {
		unlink(p[i]);
		free(p[i]);
	}
}

/* Device byte @off of a @n-member stripe with @chunk-byte chunks: where. */
static unsigned where(uint64_t off, unsigned n, uint64_t chunk, uint64_t *moff)
{
	uint64_t c = off / chunk;

	*moff = c / n * chunk + off % chunk;
	return (unsigned)(c % n);
}

/* Every byte of @want, written at device offset @off, is where RAID-0 puts it. */
static void check_layout(char **p, unsigned n, uint64_t chunk, uint64_t off,
			 const unsigned char *want, size_t len)
{
	int fds[BACKEND_MAX_FILES];
	unsigned char c;
	uint64_t moff;
	size_t i;
	unsigned m;

	for (m = 0; m < n; m++)
		REQUIRE((fds[m] = open(p[m], O_RDONLY)) >= 0);
	for (i = 0; i < len; i += 509) {	/* a prime stride reaches every chunk */
		m = where(off + i, n, chunk, &moff);
		REQUIRE(pread(fds[m], &c, 1, (off_t)moff) == 1);
		if (c != want[i]) {
			CHECK_EQ(c, want[i]);
			break;
		}
	}
	for (m = 0; m < n; m++)
		close(fds[m]);
}

static void stripe_io(unsigned n, unsigned chunk, int buffered)
{
	const uint64_t msize = 2 * MiB + 5000;	/* rounded down to chunks */
	struct backend b = { .ops = &backend_stripe_ops, .fd = -1 };
	unsigned char *wbuf = xalloc(1 * MiB), *rbuf = xalloc(1 * MiB);
	char *p[BACKEND_MAX_FILES], name[16], js[1024];
	struct ublk_queue q;
	uint64_t size;
	unsigned m;
	int ret;

	for (m = 0; m < n; m++) {
		snprintf(name, sizeof(name), "m%u", m);
		p[m] = member(name, m == 1 ? msize + 1 * MiB : msize, 50 + m);
	}
	set_members(&b, p, n);
	b.conf.chunk_size = chunk;
	b.conf.buffered_io = buffered;
	REQUIRE(b.ops->open(&b) == 0);
	size = (msize & ~(uint64_t)(chunk - 1)) * n;
	CHECK_EQ(b.size, size);
	CHECK_EQ(b.max_size, size);
	CHECK_EQ(b.fd, -1);
	CHECK(b.zero_copy);
	CHECK_EQ(b.attrs, UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA);
	CHECK(b.discard_granularity >= 512 && b.max_discard_sectors > 0);
	ret = json(&b, js, sizeof(js));
	CHECK(ret > 0 && strstr(js, "\"members\":[\"") && strstr(js, p[n - 1]));
	snprintf(name, sizeof(name), "%u", chunk);
	CHECK(strstr(js, "\"chunk_size\":") && strstr(js, name));
	queue_init(&q, &b);

	/* aligned, unaligned, crossing many chunks, the last bytes */
	fill(wbuf, 1 * MiB, 7);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 0, 1 * MiB, wbuf), 1 * MiB);
	check_layout(p, n, chunk, 0, wbuf, 1 * MiB);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 1 * MiB));

	fill(wbuf, 1 * MiB, 9);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, chunk - 512,
		    300 << 10, wbuf), 300 << 10);
	check_layout(p, n, chunk, chunk - 512, wbuf, 300 << 10);
	memset(rbuf, 0, 1 * MiB);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, chunk - 512, 300 << 10, rbuf), 300 << 10);
	CHECK(!memcmp(rbuf, wbuf, 300 << 10));

	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, size - 8192, 8192, wbuf), 8192);
	check_layout(p, n, chunk, size - 8192, wbuf, 8192);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);

	/* write-zeroes and discard reach every member's share, and no more */
	fill(wbuf, 1 * MiB, 11);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 0, 1 * MiB, wbuf), 1 * MiB);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_ZEROES, 4096, 512 << 10, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 4096));
	CHECK(is_zero(rbuf + 4096, 512 << 10));
	CHECK(!memcmp(rbuf + 4096 + (512 << 10), wbuf + 4096 + (512 << 10),
		      (1 * MiB) - 4096 - (512 << 10)));
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 8192, 256 << 10, NULL), 0);
	memset(wbuf + 8192, 0, 256 << 10);
	memset(wbuf + 4096, 0, 512 << 10);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 1 * MiB));

	/* out of range, unsupported: no SQE taken */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, size, 512, rbuf), -EIO);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, size - 512, 1024, wbuf), -EIO);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_SAME, 0, 512, wbuf), -EOPNOTSUPP);
	CHECK_EQ(io(&b, &q, 12, 0, 512, NULL), -EOPNOTSUPP);
	CHECK_EQ(uring_sq_pending(&q.ring), 0);

	CHECK_EQ(b.ops->flush(&b), 0);
	uring_exit(&q.ring);
	b.ops->close(&b);
	for (m = 0; m < n; m++) {
		unlink(p[m]);
		free(p[m]);
	}
	free(wbuf);
	free(rbuf);
}

/* A made-up CQE for piece @k of the request in tag 3. */
static int done(struct backend *b, struct ublk_queue *q, unsigned op,
		unsigned k, int res)
{
	const struct io_uring_cqe cqe = {
		.user_data = ublk_user_data(0, 3, op, k, 1),
		.res = res,
	};

	return b->ops->io_done(b, q, 3, &cqe);
}

/*
 * A 20 KiB read at device offset 2 KiB, 4 KiB chunks: pieces of 2, 4, 4,
 * 4, 4 and 2 KiB.  The result is what was done up to the first short one.
 */
static void test_stripe_short(void)
{
	static struct ublk_queue q;
	struct backend b = { .ops = &backend_stripe_ops, .fd = -1 };
	unsigned char *buf = xalloc(20 << 10);
	char *p[2];
	unsigned k;

	p[0] = member("s0", 1 * MiB, 0);
	p[1] = member("s1", 1 * MiB, 0);
	set_members(&b, p, 2);
	b.conf.chunk_size = 4096;
	REQUIRE(b.ops->open(&b) == 0);
	queue_init(&q, &b);

	q.serving[3] = 1;
	fake_iod(&q, 3, UBLK_IO_OP_READ, 4, 40);
	CHECK_EQ(b.ops->queue_io(&b, &q, 3, &q.descs[3], buf), BACKEND_QUEUED);
	CHECK_EQ(uring_sq_pending(&q.ring), 6);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 0, 2048), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 3, 1024), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 1, 4096), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 2, 4096), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 5, 0), BACKEND_QUEUED);
	/* piece 3 starts at 2 + 4 + 4 KiB */
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 4, 4096), (10 << 10) + 1024);

	/* a first piece of 0 bytes: nothing done, -EIO */
	CHECK_EQ(b.ops->queue_io(&b, &q, 3, &q.descs[3], buf), BACKEND_QUEUED);
	for (k = 1; k < 6; k++)
		CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, k, k == 5 ? 2048 : 4096),
			 BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 0, 0), -EIO);

	/* the first error wins */
	CHECK_EQ(b.ops->queue_io(&b, &q, 3, &q.descs[3], buf), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 0, -ENOSPC), BACKEND_QUEUED);
	for (k = 1; k < 5; k++)
		CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, k, -EIO), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_READ, 5, 2048), -ENOSPC);

	/* a flush is one fsync per member */
	fake_iod(&q, 3, UBLK_IO_OP_FLUSH, 0, 0);
	CHECK_EQ(b.ops->queue_io(&b, &q, 3, &q.descs[3], NULL), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_FLUSH, 0, 0), BACKEND_QUEUED);
	CHECK_EQ(done(&b, &q, UBLK_IO_OP_FLUSH, 1, -EIO), -EIO);

	/* the SQEs were never submitted: drop them with the ring */
	uring_exit(&q.ring);
	b.ops->close(&b);
	unlink(p[0]);
	unlink(p[1]);
	free(p[0]);
	free(p[1]);
	free(buf);
}

int main(void)
{
	skip_without_uring();
	test_stripe_errors();
	stripe_io(2, 4096, 0);
	stripe_io(3, 64 << 10, 0);
	stripe_io(4, 1 << 20, 1);
	stripe_io(2, 128 << 10, 1);
	test_stripe_short();
	return unit_done();
}
