// SPDX-License-Identifier: MIT
/*
 * The io_uring layer against the running kernel: NOPs, file I/O, SQE128,
 * registration, optional setup flags and teardown without leaks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "unit.h"
#include "../../uring/uring.h"

/* Reap every ready CQE into @res / @ud (indexed by user_data); returns the count. */
static unsigned reap(struct uring *r, int *res, uint64_t max_ud, unsigned *seen)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	uring_for_each_cqe(r, head, cqe) {
		uint64_t ud = cqe->user_data;

		CHECK(ud < max_ud);
		if (ud < max_ud) {
			res[ud] = cqe->res;
			seen[ud]++;
		}
		n++;
	}
	uring_cq_advance(r, n);
	return n;
}

/* Submit what is queued and reap until @want CQEs have arrived. */
static void wait_for(struct uring *r, unsigned want, int *res, uint64_t max_ud,
		     unsigned *seen)
{
	unsigned got = 0;
	int ret;

	while (got < want) {
		ret = uring_submit_and_wait(r, 1);
		REQUIRE(ret >= 0);
		got += reap(r, res, max_ud, seen);
	}
}

static void nops(struct uring *r, unsigned nr)
{
	int res[64];
	unsigned seen[64] = { 0 }, i;

	REQUIRE(nr <= 64);
	for (i = 0; i < nr; i++) {
		struct io_uring_sqe *sqe = uring_get_sqe(r);

		REQUIRE(sqe);
		uring_prep_nop(sqe);
		sqe->user_data = i;
		res[i] = -1;
	}
	wait_for(r, nr, res, 64, seen);
	for (i = 0; i < nr; i++) {
		CHECK_EQ(seen[i], 1);
		CHECK_EQ(res[i], 0);
	}
	CHECK_EQ(uring_cq_ready(r), 0);
}

static void test_nop(void)
{
	struct uring r;

	REQUIRE(uring_init(&r, 8, 0) == 0);
	CHECK_EQ(r.sqe_shift, 0);
	CHECK(r.sq.ring_entries >= 8);
	nops(&r, 4);
	nops(&r, 8);
	uring_exit(&r);
	uring_exit(&r);		/* a second exit is harmless */
}

/* 100 NOPs through an 8-entry ring: get_sqe runs dry and must be handled. */
static void test_more_than_ring(void)
{
	enum { NR = 100 };
	int res[NR];
	unsigned seen[NR] = { 0 }, issued = 0, got = 0, i;
	struct uring r;

	REQUIRE(uring_init(&r, 8, 0) == 0);
	while (issued < NR) {
		struct io_uring_sqe *sqe = uring_get_sqe(&r);

		if (!sqe) {
			REQUIRE(uring_submit_and_wait(&r, 1) >= 0);
			got += reap(&r, res, NR, seen);
			continue;
		}
		uring_prep_nop(sqe);
		sqe->user_data = issued++;
		/* reap now and then, as a queue loop does */
		if (issued % 13 == 0)
			got += reap(&r, res, NR, seen);
	}
	wait_for(&r, NR - got, res, NR, seen);
	for (i = 0; i < NR; i++) {
		CHECK_EQ(seen[i], 1);
		CHECK_EQ(res[i], 0);
	}
	CHECK_EQ(uring_sq_pending(&r), 0);
	uring_exit(&r);
}

/* Reads waiting on an empty pipe: uring_prep_cancel_all ends them all. */
static void test_cancel_all(void)
{
	int res[3] = { 1, 1, 1 }, fds[2];
	unsigned seen[3] = { 0 }, i;
	char buf[2][8];
	struct uring r;

	REQUIRE(pipe(fds) == 0);
	REQUIRE(uring_init(&r, 8, 0) == 0);
	for (i = 0; i < 2; i++) {
		struct io_uring_sqe *sqe = uring_get_sqe(&r);

		REQUIRE(sqe);
		uring_prep_rw(sqe, IORING_OP_READ, fds[0], buf[i], sizeof(buf[i]), 0);
		sqe->user_data = i;
	}
	REQUIRE(uring_submit(&r) == 2);
	CHECK_EQ(uring_cq_ready(&r), 0);	/* nothing to read: they wait */
	{
		struct io_uring_sqe *sqe = uring_get_sqe(&r);

		REQUIRE(sqe);
		uring_prep_cancel_all(sqe);
		sqe->user_data = 2;
	}
	wait_for(&r, 3, res, 3, seen);
	for (i = 0; i < 3; i++)
		CHECK_EQ(seen[i], 1);
	CHECK_EQ(res[0], -ECANCELED);
	CHECK_EQ(res[1], -ECANCELED);
	CHECK_EQ(res[2], 2);
	uring_exit(&r);
	close(fds[0]);
	close(fds[1]);
}

static int tmp_file(void)
{
	char path[] = "/tmp/sublk-uring-XXXXXX";
	int fd = mkstemp(path);

	REQUIRE(fd >= 0);
	unlink(path);
	return fd;
}

static void fill(char *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(seed * 31 + i * 7 + (i >> 9));
}

static void test_file_io(void)
{
	static char wbuf[3][4096], rbuf[3][4096], check[4096];
	int res[8], fd = tmp_file();
	unsigned seen[8] = { 0 }, i;
	struct io_uring_sqe *sqe;
	struct uring r;

	REQUIRE(uring_init(&r, 8, 0) == 0);
	for (i = 0; i < 3; i++) {
		fill(wbuf[i], sizeof(wbuf[i]), i + 1);
		sqe = uring_get_sqe(&r);
		REQUIRE(sqe);
		uring_prep_rw(sqe, IORING_OP_WRITE, fd, wbuf[i], 4096, i * 4096);
		sqe->user_data = i;
	}
	wait_for(&r, 3, res, 8, seen);
	for (i = 0; i < 3; i++)
		CHECK_EQ(res[i], 4096);

	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	sqe->user_data = 3;
	wait_for(&r, 1, res, 8, seen);
	CHECK_EQ(res[3], 0);

	/* what the ring wrote is what the file holds */
	CHECK_EQ(pread(fd, check, 4096, 4096), 4096);
	CHECK(!memcmp(check, wbuf[1], 4096));

	for (i = 0; i < 3; i++) {
		sqe = uring_get_sqe(&r);
		REQUIRE(sqe);
		/* read back in reverse order, into separate buffers */
		uring_prep_rw(sqe, IORING_OP_READ, fd, rbuf[i], 4096,
			      (2 - i) * 4096);
		sqe->user_data = 4 + i;
	}
	wait_for(&r, 3, res, 8, seen);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(res[4 + i], 4096);
		CHECK(!memcmp(rbuf[i], wbuf[2 - i], 4096));
	}

	/* a read past the end is short */
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, fd, rbuf[0], 4096, 3 * 4096 - 100);
	sqe->user_data = 7;
	wait_for(&r, 1, res, 8, seen);
	CHECK_EQ(res[7], 100);

	uring_exit(&r);
	close(fd);
}

static void test_sqe128(void)
{
	struct io_uring_sqe *sqe;
	struct uring r;
	unsigned i;

	REQUIRE(uring_init(&r, 8, IORING_SETUP_SQE128) == 0);
	CHECK(r.flags & IORING_SETUP_SQE128);
	CHECK_EQ(r.sqe_shift, 1);
	CHECK_EQ(r.sq.sqes_sz, (size_t)r.sq.ring_entries * 128);
	/* dirty every slot's command area, then wrap around the ring */
	for (i = 0; i < 3; i++)
		nops(&r, 8);
	for (i = 0; i < r.sq.ring_entries; i++)
		memset((char *)r.sq.sqes + i * 128, 0xa5, 128);
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	for (i = 0; i < 128; i++)
		if (((unsigned char *)sqe)[i])
			break;
	CHECK_EQ(i, 128);	/* all 128 bytes zeroed */
	uring_prep_nop(sqe);
	sqe->user_data = 5;
	{
		int res[8];
		unsigned seen[8] = { 0 };

		wait_for(&r, 1, res, 8, seen);
		CHECK_EQ(seen[5], 1);
		CHECK_EQ(res[5], 0);
	}
	uring_exit(&r);
}

static void test_bad_fd(void)
{
	unsigned seen[2] = { 0 };
	struct io_uring_sqe *sqe;
	struct uring r;
	char buf[16];
	int res[2], fd;

	REQUIRE(uring_init(&r, 4, 0) == 0);
	fd = dup(0);
	REQUIRE(fd >= 0);
	close(fd);		/* surely not open now */
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, fd, buf, sizeof(buf), 0);
	sqe->user_data = 1;
	wait_for(&r, 1, res, 2, seen);
	CHECK_EQ(res[1], -EBADF);

	/* a fixed-file slot that was never registered */
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, 0, buf, sizeof(buf), 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = 0;
	wait_for(&r, 1, res, 2, seen);
	CHECK_EQ(res[0], -EBADF);
	uring_exit(&r);
}

/*
 * A provided-buffer ring: reads that pick their own buffer get them in
 * the order published, say which one in the CQE, and a read with no
 * buffer left fails with -ENOBUFS until one is given back.
 */
static void test_buf_ring(void)
{
	static char bufs[4][64];
	struct uring_buf_ring br;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned head, n, i, bid;
	struct uring r;
	int p[2];

	REQUIRE(uring_init(&r, 8, 0) == 0);
	CHECK_EQ(uring_buf_ring_setup(&r, &br, 3, 8), -EINVAL);	/* not a power of 2 */
	REQUIRE(uring_buf_ring_setup(&r, &br, 4, 7) == 0);	/* Linux 5.19 */
	CHECK_EQ(uring_buf_ring_setup(&r, &(struct uring_buf_ring){ 0 }, 4, 7), -EEXIST);
	REQUIRE(pipe(p) == 0);
	for (i = 0; i < 2; i++)
		uring_buf_ring_add(&br, bufs[i], sizeof(bufs[i]), (uint16_t)i);
	uring_buf_ring_publish(&br);

	for (i = 0; i < 3; i++) {
		char msg[16];

		snprintf(msg, sizeof(msg), "msg%u", i);
		REQUIRE(write(p[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
		sqe = uring_get_sqe(&r);
		REQUIRE(sqe);
		uring_prep_rw(sqe, IORING_OP_READ, p[0], NULL, 64, (uint64_t)-1);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 7;
		sqe->user_data = i;
		REQUIRE(uring_submit_and_wait(&r, 1) >= 0);
		n = 0;
		uring_for_each_cqe(&r, head, cqe) {
			if (i < 2) {
				/* buffer i, holding what was written */
				CHECK_EQ(cqe->res, 4);
				CHECK(cqe->flags & IORING_CQE_F_BUFFER);
				bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				CHECK_EQ(bid, i);
				CHECK(bid < 2 && !memcmp(bufs[bid], msg, 4));
			} else {
				CHECK_EQ(cqe->res, -ENOBUFS);	/* both are in use */
			}
			n++;
		}
		CHECK_EQ(n, 1);
		uring_cq_advance(&r, n);
	}
	/* give buffer 0 back: the read that found none now succeeds */
	uring_buf_ring_add(&br, bufs[0], sizeof(bufs[0]), 0);
	uring_buf_ring_publish(&br);
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, p[0], NULL, 64, (uint64_t)-1);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 7;
	REQUIRE(uring_submit_and_wait(&r, 1) >= 0);
	cqe = uring_cqe_at(&r, *r.cq.khead);
	CHECK_EQ(cqe->res, 4);
	CHECK_EQ(cqe->flags >> IORING_CQE_BUFFER_SHIFT, 0);
	CHECK(!memcmp(bufs[0], "msg2", 4));
	uring_cq_advance(&r, 1);

	uring_buf_ring_free(&r, &br);
	CHECK(br.bufs == NULL);
	close(p[0]);
	close(p[1]);
	uring_exit(&r);
}

static void test_register_ring_fd(void)
{
	struct uring r;
	int ret;

	REQUIRE(uring_init(&r, 8, 0) == 0);
	ret = uring_register_ring_fd(&r);
	if (ret == -EINVAL) {
		fprintf(stderr, "note: ring fd registration unsupported\n");
	} else {
		CHECK_EQ(ret, 0);
		CHECK(r.enter_flags & IORING_ENTER_REGISTERED_RING);
		CHECK(r.enter_fd != r.ring_fd);
	}
	nops(&r, 8);
	nops(&r, 3);
	uring_exit(&r);
}

static void test_register_files(void)
{
	static char wbuf[4096], rbuf[4096];
	int res[2], fd = tmp_file(), fds[2] = { -1, fd };
	unsigned seen[2] = { 0 };
	struct io_uring_sqe *sqe;
	struct uring r;

	fill(wbuf, sizeof(wbuf), 9);
	REQUIRE(pwrite(fd, wbuf, sizeof(wbuf), 0) == sizeof(wbuf));
	REQUIRE(uring_init(&r, 8, 0) == 0);
	CHECK_EQ(uring_register_files(&r, fds, 2), 0);
	/* the ring holds its own reference: the fd may go */
	close(fd);

	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, 1, rbuf, sizeof(rbuf), 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = 1;
	wait_for(&r, 1, res, 2, seen);
	CHECK_EQ(res[1], 4096);
	CHECK(!memcmp(rbuf, wbuf, sizeof(rbuf)));

	/* slot 0 is empty */
	sqe = uring_get_sqe(&r);
	REQUIRE(sqe);
	uring_prep_rw(sqe, IORING_OP_READ, 0, rbuf, sizeof(rbuf), 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = 0;
	wait_for(&r, 1, res, 2, seen);
	CHECK_EQ(res[0], -EBADF);

	CHECK_EQ(uring_register_buffers_sparse(&r, 4), 0);
	uring_exit(&r);
}

static void test_optional_flags(void)
{
	struct uring r;

	REQUIRE(uring_init(&r, 16, URING_SETUP_OPTIONAL) == 0);
	/* only optional flags may have been dropped; nothing is added */
	CHECK(!(r.flags & ~URING_SETUP_OPTIONAL & ~IORING_SETUP_CLAMP));
	/* DEFER_TASKRUN never survives without SINGLE_ISSUER */
	if (r.flags & IORING_SETUP_DEFER_TASKRUN)
		CHECK(r.flags & IORING_SETUP_SINGLE_ISSUER);
	fprintf(stderr, "note: optional flags kept: %#x\n", r.flags);
	nops(&r, 16);
	nops(&r, 5);
	uring_exit(&r);

	/* with SQE128 and a registered ring, as the control ring is set up */
	REQUIRE(uring_init(&r, 4, URING_SETUP_OPTIONAL | IORING_SETUP_SQE128) == 0);
	CHECK(r.flags & IORING_SETUP_SQE128);
	uring_register_ring_fd(&r);
	nops(&r, 4);
	uring_exit(&r);
}

static void *register_in_thread(void *arg)
{
	struct uring *r = arg;

	REQUIRE(uring_init(r, 4, 0) == 0);
	CHECK_EQ(uring_register_ring_fd(r), 0);
	nops(r, 2);
	return NULL;
}

/*
 * A ring registered by a thread that has gone, torn down by another: the
 * other thread's own registration (likely the same slot) must survive.
 */
static void test_exit_other_thread(void)
{
	struct uring mine, theirs;
	pthread_t t;

	REQUIRE(uring_init(&mine, 4, 0) == 0);
	if (uring_register_ring_fd(&mine)) {
		uring_exit(&mine);
		return;
	}
	REQUIRE(pthread_create(&t, NULL, register_in_thread, &theirs) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
	CHECK_EQ(theirs.enter_fd, mine.enter_fd);	/* same slot number */
	uring_exit(&theirs);
	nops(&mine, 2);		/* still entered through its own slot */
	uring_exit(&mine);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	REQUIRE(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	REQUIRE(f);
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_teardown(void)
{
	static const unsigned flags[] = {
		0, IORING_SETUP_SQE128, URING_SETUP_OPTIONAL,
	};
	int fds0, maps0, fds1, maps1, i, reg_fails = 0;
	int files[2] = { -1, 0 };
	struct uring r;

	/* warm up: let the first ring's lazily made state exist already */
	REQUIRE(uring_init(&r, 8, 0) == 0);
	nops(&r, 1);
	uring_exit(&r);

	fds0 = count_fds();
	maps0 = count_maps();
	for (i = 0; i < 100; i++) {
		REQUIRE(uring_init(&r, 8 << (i % 3), flags[i % 3]) == 0);
		/* a leaked registered ring fd fills the task's 16 slots */
		reg_fails += uring_register_ring_fd(&r) != 0;
		CHECK_EQ(uring_register_files(&r, files, 2), 0);
		if (i % 10 == 0)
			nops(&r, 2);
		uring_exit(&r);
	}
	fds1 = count_fds();
	maps1 = count_maps();
	CHECK_EQ(fds1, fds0);
	CHECK_EQ(maps1, maps0);
	CHECK_EQ(reg_fails, 0);
}

int main(void)
{
	struct uring r;
	int ret = uring_init(&r, 4, 0);

	if (ret == -ENOSYS || ret == -EPERM)
		UNIT_SKIP("io_uring is not available");
	REQUIRE(ret == 0);
	uring_exit(&r);

	test_nop();
	test_more_than_ring();
	test_cancel_all();
	test_file_io();
	test_sqe128();
	test_bad_fd();
	test_buf_ring();
	test_register_ring_fd();
	test_register_files();
	test_optional_flags();
	test_exit_other_thread();
	test_teardown();
	return unit_done();
}
