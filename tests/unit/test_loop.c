// SPDX-License-Identifier: MIT
/*
 * The loop backend against a fake queue: regular files (O_DIRECT, buffered,
 * tmpfs, the buffered fallback on ramfs) and, when one can be made, a loop
 * block device.
 */
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/loop.h>

#include "fake_queue.h"

static char *tmp_file(const char *dir, const char *name, uint64_t size,
		      int filled)
{
	static char path[256];
	unsigned char *buf;
	uint64_t off;
	int fd;

	snprintf(path, sizeof(path), "%s/sublk-test-%d-%s", dir, (int)getpid(),
		 name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, (off_t)size) == 0);
	if (filled) {
		buf = xalloc(1 * MiB);
		for (off = 0; off < size; off += 1 * MiB) {
			uint64_t n = size - off < 1 * MiB ? size - off : 1 * MiB;

			fill(buf, n, (unsigned)(off >> 20) + 100);
			REQUIRE(pwrite(fd, buf, n, (off_t)off) == (ssize_t)n);
		}
		REQUIRE(fsync(fd) == 0);
		free(buf);
	}
	close(fd);
	return strdup(path);
}

static long file_blocks(const char *path)
{
	struct stat st;

	REQUIRE(stat(path, &st) == 0);
	return (long)st.st_blocks;
}

static void test_loop_errors(void)
{
	struct backend b = { .ops = &backend_loop_ops, .fd = -1 };
	char *path;

	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(!strcmp(b.err, "loop: -f FILE is required"));

	b.conf.file = "/tmp/sublk-test-does-not-exist";
	CHECK_EQ(b.ops->open(&b), -ENOENT);
	CHECK(!strcmp(b.err, "loop: cannot open /tmp/sublk-test-does-not-exist: "
		      "No such file or directory"));

	path = tmp_file("/tmp", "empty", 0, 0);
	b.conf.file = path;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, path) && strstr(b.err, "empty"));
	unlink(path);
	free(path);

	path = tmp_file("/tmp", "ragged", 8192 + 100, 0);
	b.conf.file = path;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "not a multiple of the 512-byte logical block size"));
	b.conf.size = 8192;	/* a size that fits is fine */
	CHECK_EQ(b.ops->open(&b), 0);
	CHECK_EQ(b.size, 8192);
	b.ops->close(&b);
	CHECK_EQ(b.fd, -1);
	b.conf.size = 16384;	/* larger than the file */
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "--size 16384 is larger than"));
	unlink(path);
	free(path);

	path = tmp_file("/tmp", "lbs", 4096 * 3 + 512, 0);
	b.conf = (struct backend_conf){ .file = path, .lbs_shift = 12 };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "4096-byte"));
	unlink(path);
	free(path);

	b.conf = (struct backend_conf){ .file = "/tmp" };
	CHECK_EQ(b.ops->open(&b), -EISDIR);
	CHECK(!strcmp(b.err, "loop: cannot open /tmp: Is a directory"));
	b.conf = (struct backend_conf){ .file = "/dev/null" };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(!strcmp(b.err, "loop: /dev/null is not a regular file or block device"));

	if (geteuid()) {
		path = tmp_file("/tmp", "ro", 4096, 0);
		chmod(path, 0400);
		b.conf = (struct backend_conf){ .file = path };
		CHECK_EQ(b.ops->open(&b), -EACCES);
		CHECK(strstr(b.err, "Permission denied") && strstr(b.err, path));
		unlink(path);
		free(path);
	}
}

/* The backend's view and the file's own must agree. */
static void check_file(const char *path, uint64_t off, const void *want,
		       size_t len)
{
	unsigned char *buf = malloc(len);
	int fd = open(path, O_RDONLY);

	REQUIRE(buf && fd >= 0);
	CHECK_EQ(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	CHECK(!memcmp(buf, want, len));
	close(fd);
	free(buf);
}

static void loop_io(const char *dir, int buffered)
{
	const uint64_t size = 8 * MiB;
	char *path = tmp_file(dir, buffered ? "buffered" : "direct", size, 1);
	struct backend b = {
		.ops = &backend_loop_ops,
		.conf = { .file = path, .buffered_io = buffered },
	};
	unsigned char *wbuf = xalloc(1 * MiB), *rbuf = xalloc(1 * MiB);
	struct ublk_queue q;
	char js[512], want[512];
	int direct_ok, fd, ret;
	long blocks0, blocks1;

	fd = open(path, O_RDWR | O_DIRECT);
	direct_ok = fd >= 0;
	if (fd >= 0)
		close(fd);

	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(b.size, size);
	CHECK_EQ(b.attrs, UBLK_ATTR_VOLATILE_CACHE | UBLK_ATTR_FUA);
	CHECK(b.fd >= 0);
	CHECK(b.discard_granularity >= 512);
	CHECK(b.max_discard_sectors > 0 && b.max_write_zeroes_sectors > 0);
	CHECK_EQ(b.conf.lbs_shift, 9);
	ret = json(&b, js, sizeof(js));
	snprintf(want, sizeof(want),
		 "\"backing_file\":\"%s\",\"direct_io\":%d,\"size\":%llu",
		 path, !buffered && direct_ok, (unsigned long long)size);
	CHECK(ret > 0 && !strcmp(js, want));
	if (!buffered)
		fprintf(stderr, "note: %s: O_DIRECT %s\n", dir,
			direct_ok ? "used" : "refused: buffered fallback");
	queue_init(&q, &b);

	/* write, read back, and the file itself holds it */
	fill(wbuf, 1 * MiB, 1);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 4096, 64 << 10, wbuf), 64 << 10);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 4096, 64 << 10, rbuf), 64 << 10);
	CHECK(!memcmp(rbuf, wbuf, 64 << 10));
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, size - 1 * MiB,
		    1 * MiB, wbuf), 1 * MiB);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	memset(rbuf, 0, 1 * MiB);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, size - 1 * MiB, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 1 * MiB));
	check_file(path, size - 1 * MiB, wbuf, 1 * MiB);
	check_file(path, 4096, wbuf, 64 << 10);
	/* a 512-byte write at an odd sector */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 7 * 512, 512, wbuf + 8192), 512);
	check_file(path, 7 * 512, wbuf + 8192, 512);

	/* discard punches a hole that reads back as zeros */
	blocks0 = file_blocks(path);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 2 * MiB, 1 * MiB, NULL), 0);
	blocks1 = file_blocks(path);
	CHECK(blocks0 - blocks1 >= (long)(1 * MiB / 512));
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 2 * MiB, 1 * MiB, rbuf), 1 * MiB);
	CHECK(is_zero(rbuf, 1 * MiB));

	/* write-zeroes, unmapping allowed (a hole) or not (ZERO_RANGE) */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_ZEROES, 4 * MiB, 64 << 10, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 4 * MiB - 4096, 72 << 10, rbuf), 72 << 10);
	CHECK(!is_zero(rbuf, 4096));
	CHECK(is_zero(rbuf + 4096, 64 << 10));
	CHECK(!is_zero(rbuf + 4096 + (64 << 10), 4096));
	ret = io(&b, &q, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP,
		 5 * MiB, 64 << 10, NULL);
	if (ret == -EOPNOTSUPP) {
		/* tmpfs has no ZERO_RANGE: the kernel falls back to writing zeros */
		fprintf(stderr, "note: %s: no FALLOC_FL_ZERO_RANGE\n", dir);
	} else {
		CHECK_EQ(ret, 0);
		CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 5 * MiB, 64 << 10, rbuf), 64 << 10);
		CHECK(is_zero(rbuf, 64 << 10));
	}

	/* out of range (a regular file may grow by update_size), unsupported */
	CHECK(b.max_size >= b.size);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, b.max_size, 512, rbuf), -EIO);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, b.max_size - 512, 1024, wbuf), -EIO);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, b.max_size - 4096, 8192, NULL), -EIO);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_SAME, 0, 512, wbuf), -EOPNOTSUPP);
	CHECK_EQ(io(&b, &q, 12, 0, 512, NULL), -EOPNOTSUPP);
	CHECK_EQ(uring_sq_pending(&q.ring), 0);	/* none of those took an SQE */

	CHECK_EQ(b.ops->flush(&b), 0);
	uring_exit(&q.ring);
	b.ops->close(&b);
	unlink(path);
	free(path);
	free(wbuf);
	free(rbuf);
}

/* io_done's mapping of results, on made-up CQEs. */
static int done(struct backend *b, unsigned op, int res)
{
	const struct io_uring_cqe cqe = {
		.user_data = ublk_user_data(0, 3, op, 0, 1),
		.res = res,
	};

	return b->ops->io_done(b, NULL, 3, &cqe);
}

static void test_loop_io_done(void)
{
	char *path = tmp_file("/tmp", "done", 4096, 0);
	struct backend b = { .ops = &backend_loop_ops, .conf = { .file = path } };

	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(done(&b, UBLK_IO_OP_READ, 4096), 4096);
	CHECK_EQ(done(&b, UBLK_IO_OP_READ, 512), 512);	/* short: driver requeues */
	CHECK_EQ(done(&b, UBLK_IO_OP_READ, 0), -EIO);
	CHECK_EQ(done(&b, UBLK_IO_OP_WRITE, 0), -EIO);
	CHECK_EQ(done(&b, UBLK_IO_OP_WRITE, -ENOSPC), -ENOSPC);
	CHECK_EQ(done(&b, UBLK_IO_OP_FLUSH, -EIO), -EIO);
	CHECK_EQ(done(&b, UBLK_IO_OP_FLUSH, 0), 0);
	CHECK_EQ(done(&b, UBLK_IO_OP_DISCARD, -EOPNOTSUPP), 0);	/* advisory */
	CHECK_EQ(done(&b, UBLK_IO_OP_DISCARD, -EOPNOTSUPP), 0);
	CHECK_EQ(done(&b, UBLK_IO_OP_DISCARD, -EIO), -EIO);
	CHECK_EQ(done(&b, UBLK_IO_OP_WRITE_ZEROES, -EOPNOTSUPP), -EOPNOTSUPP);
	CHECK_EQ(done(&b, UBLK_IO_OP_WRITE_ZEROES, 0), 0);
	b.ops->close(&b);
	unlink(path);
	free(path);
}

static void test_loop_json_escape(void)
{
	char *path = tmp_file("/tmp", "q\"b\\s", 4096, 0);
	struct backend b = { .ops = &backend_loop_ops,
			     .conf = { .file = path, .buffered_io = 1 } };
	char js[512], want[512];
	int n;

	REQUIRE(b.ops->open(&b) == 0);
	n = json(&b, js, sizeof(js));
	snprintf(want, sizeof(want),
		 "\"backing_file\":\"/tmp/sublk-test-%d-q\\\"b\\\\s\","
		 "\"direct_io\":0,\"size\":4096", (int)getpid());
	CHECK(n > 0 && !strcmp(js, want));
	CHECK_EQ(b.ops->json(&b, js, (size_t)n), -ENOSPC);
	CHECK_EQ(b.ops->json(&b, js, 10), -ENOSPC);
	CHECK_EQ(b.ops->json(&b, js, (size_t)n + 1), n);
	b.ops->close(&b);
	unlink(path);
	free(path);
}

/* Integrity: the metadata file's checks, and the metadata landing in it. */
static void test_loop_meta_errors(const char *data)
{
	char *meta = tmp_file("/tmp", "meta-small", 8192 / 512 * 8 - 8, 0);
	struct backend b = { .ops = &backend_loop_ops, .fd = -1 };

	b.conf = (struct backend_conf){ .file = data, .meta_file = meta,
		.integrity = { .metadata_size = 8 } };
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "metadata file") && strstr(b.err, "has 120 bytes") &&
	      strstr(b.err, "needs 128 (8 a 512-byte block)"));
	CHECK_EQ(b.fd, -1);
	b.conf.meta_file = data;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "is the data file itself"));
	b.conf.meta_file = NULL;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(!strcmp(b.err, "loop: --metadata_size needs --metadata_file PATH"));
	b.conf.meta_file = "/tmp/sublk-test-does-not-exist";
	CHECK_EQ(b.ops->open(&b), -ENOENT);
	CHECK(strstr(b.err, "cannot open /tmp/sublk-test-does-not-exist"));
	b.conf.meta_file = "/dev/null";
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(strstr(b.err, "/dev/null is not a regular file or block device"));
	b.conf.meta_file = meta;
	b.conf.integrity.metadata_size = 0;
	CHECK_EQ(b.ops->open(&b), -EINVAL);
	CHECK(!strcmp(b.err, "loop: --metadata_file needs --metadata_size"));
	unlink(meta);
	free(meta);
}

static void test_loop_meta(void)
{
	char *data = tmp_file("/tmp", "meta-data", 8192, 0);
	char *meta = tmp_file("/tmp", "meta", 8192 / 512 * 64 + 64 * 4, 0);
	struct backend b = { .ops = &backend_loop_ops, .fd = -1 };
	unsigned char *buf = xalloc(8192), *wmeta = xalloc(1024), *rmeta = xalloc(1024);
	struct ublk_queue q;
	char js[1024];

	test_loop_meta_errors(data);
	b.conf = (struct backend_conf){ .file = data, .meta_file = meta,
		.integrity = { .metadata_size = 64 } };
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(b.size, 8192);
	CHECK_EQ(b.max_size, 8192 + 4 * 512);	/* as far as the metadata reaches */
	CHECK_EQ(b.discard_granularity, 0);
	CHECK_EQ(b.max_write_zeroes_sectors, 0);
	CHECK(json(&b, js, sizeof(js)) > 0 && strstr(js, "\"metadata_file\":\"/tmp/"));
	queue_init(&q, &b);
	q.meta_size = 64;
	q.meta_shift = 9;

	/* a write's metadata lands at block * 64 in the file; a read brings it back */
	fill(buf, 4096, 5);
	fill(wmeta, 8 * 64, 9);
	q.meta[7] = wmeta;
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE | UBLK_IO_F_INTEGRITY | UBLK_IO_F_FUA,
		    2048, 4096, buf), 4096);
	check_file(meta, 4 * 64, wmeta, 8 * 64);
	check_file(data, 2048, buf, 4096);
	q.meta[7] = rmeta;
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ | UBLK_IO_F_INTEGRITY, 2560, 1024, buf), 1024);
	CHECK(!memcmp(rmeta, wmeta + 64, 2 * 64));
	/* without metadata (the checks turned off) the file is left alone */
	memset(rmeta, 0x5a, 64);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 0, 512, buf), 512);
	CHECK_EQ(rmeta[0], 0x5a);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	/* nothing to zero with: the block layer writes zeros with PI */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 0, 4096, NULL), -EOPNOTSUPP);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_ZEROES, 0, 4096, NULL), -EOPNOTSUPP);
	CHECK_EQ(b.ops->flush(&b), 0);
	uring_exit(&q.ring);
	b.ops->close(&b);
	unlink(meta);
	unlink(data);
	free(meta);
	free(data);
	free(buf);
	free(wmeta);
	free(rmeta);
}

/*
 * A block device: a loop device over a temp file, when we may make one.
 * 4096-byte sectors, so the backend must raise the logical block size.
 */
static void test_loop_blkdev(void)
{
	char *path, dev[32];
	int ctl, lfd = -1, ffd = -1, nr;
	struct loop_info64 info = { .lo_flags = LO_FLAGS_AUTOCLEAR };
	struct backend b = { .ops = &backend_loop_ops, .fd = -1 };
	unsigned char *wbuf = xalloc(1 * MiB), *rbuf = xalloc(1 * MiB);
	struct ublk_queue q;

	path = tmp_file("/tmp", "blkdev", 16 * MiB, 1);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	nr = ctl >= 0 ? ioctl(ctl, LOOP_CTL_GET_FREE) : -1;
	snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
	if (nr >= 0)
		lfd = open(dev, O_RDWR | O_CLOEXEC);
	ffd = open(path, O_RDWR | O_CLOEXEC);
	if (lfd < 0 || ffd < 0 || ioctl(lfd, LOOP_SET_FD, ffd)) {
		fprintf(stderr, "note: no loop device: block device path not tested\n");
		goto out;
	}
	ioctl(lfd, LOOP_SET_STATUS64, &info);
	if (ioctl(lfd, LOOP_SET_BLOCK_SIZE, 4096))
		fprintf(stderr, "note: loop device keeps 512-byte sectors\n");

	b.conf = (struct backend_conf){ .file = dev, .lbs_shift = 9 };
	REQUIRE(b.ops->open(&b) == 0);
	CHECK_EQ(b.size, 16 * MiB);
	CHECK_EQ(b.conf.lbs_shift, 12);
	fprintf(stderr, "note: %s: discard granularity %u, max %u sectors\n",
		dev, b.discard_granularity, b.max_discard_sectors);
	queue_init(&q, &b);

	fill(wbuf, 1 * MiB, 77);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 1 * MiB, 1 * MiB, wbuf), 1 * MiB);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 1 * MiB, 1 * MiB, rbuf), 1 * MiB);
	CHECK(!memcmp(rbuf, wbuf, 1 * MiB));
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	if (b.discard_granularity) {
		/* BLKDISCARD: a loop device punches a hole, so zeros come back */
		CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 1 * MiB, 256 << 10, NULL), 0);
		CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 1 * MiB, 256 << 10, rbuf), 256 << 10);
		CHECK(is_zero(rbuf, 256 << 10));
	}
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP,
		    1 * MiB + (256 << 10), 256 << 10, NULL), 0);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 1 * MiB + (256 << 10), 512 << 10, rbuf),
		 512 << 10);
	CHECK(is_zero(rbuf, 256 << 10));
	CHECK(!memcmp(rbuf + (256 << 10), wbuf + (512 << 10), 256 << 10));
	uring_exit(&q.ring);
	b.ops->close(&b);
	ioctl(lfd, LOOP_CLR_FD);
out:
	if (ffd >= 0)
		close(ffd);
	if (lfd >= 0)
		close(lfd);
	if (ctl >= 0)
		close(ctl);
	unlink(path);
	free(path);
	free(wbuf);
	free(rbuf);
}

/*
 * The buffered fallback on a regular file: ramfs refuses O_DIRECT.  Needs
 * root for a private mount namespace; the mount goes with the process.
 */
static void test_loop_fallback(void)
{
	char dir[] = "/tmp/sublk-ramfs-XXXXXX", js[512];
	unsigned char *wbuf = xalloc(64 << 10), *rbuf = xalloc(64 << 10);
	struct backend b = { .ops = &backend_loop_ops, .fd = -1 };
	struct ublk_queue q;
	char *path = NULL;

	REQUIRE(mkdtemp(dir));
	if (geteuid() || unshare(CLONE_NEWNS) ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) ||
	    mount("sublk", dir, "ramfs", 0, NULL)) {
		fprintf(stderr, "note: no ramfs: buffered fallback not tested\n");
		goto out;
	}
	path = tmp_file(dir, "ramfs", 1 * MiB, 1);
	b.conf = (struct backend_conf){ .file = path };
	REQUIRE(b.ops->open(&b) == 0);
	CHECK(json(&b, js, sizeof(js)) > 0);
	CHECK(strstr(js, "\"direct_io\":0"));
	queue_init(&q, &b);
	fill(wbuf, 64 << 10, 42);
	/* buffered I/O takes any alignment */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_WRITE, 512, 64 << 10, wbuf + 0), 64 << 10);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_READ, 512, 32 << 10, rbuf + 512), 32 << 10);
	CHECK(!memcmp(rbuf + 512, wbuf, 32 << 10));
	check_file(path, 512, wbuf, 64 << 10);
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_FLUSH, 0, 0, NULL), 0);
	/* ramfs cannot punch holes: an advisory discard still succeeds */
	CHECK_EQ(io(&b, &q, UBLK_IO_OP_DISCARD, 0, 4096, NULL), 0);
	uring_exit(&q.ring);
	b.ops->close(&b);
	unlink(path);
	umount2(dir, MNT_DETACH);	/* the ring drops its file lazily */
out:
	rmdir(dir);
	free(path);
	free(wbuf);
	free(rbuf);
}

int main(void)
{
	skip_without_uring();
	test_loop_errors();
	loop_io("/tmp", 0);
	loop_io("/tmp", 1);
	if (!access("/dev/shm", W_OK))
		loop_io("/dev/shm", 0);	/* tmpfs: O_DIRECT may be refused */
	test_loop_io_done();
	test_loop_json_escape();
	test_loop_meta();
	test_loop_blkdev();
	test_loop_fallback();	/* last: it leaves this process's mount namespace */
	return unit_done();
}
