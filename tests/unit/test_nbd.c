// SPDX-License-Identifier: MIT
/*
 * The nbd target's I/O path on a real ring against a scripted server on a
 * unix socket, here in the test: the server's side is read and written by
 * hand, the target's ring pumped in between.  What the e2e tests cannot
 * see: a flush waits for the replies of the writes before it, replies
 * out of order and split into pieces, structured chunks and holes, server
 * errors, a reply that breaks the protocol (reconnect, resend), a write
 * larger than the socket takes at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fake_queue.h"
#include "../../backend/nbd_target.h"

#define SIZE		(64ULL << 20)
#define TFLAGS		(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | \
			 NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES)

static char path[108];
static int listen_fd = -1;
static int structured = 1;	/* the server offers structured replies */
static int hs_done;		/* the handshake thread is through */

static void xwrite(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		REQUIRE(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void xread(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		REQUIRE(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* ---- the server's handshake, in a thread while the target connects ---- */

static void opt_reply(int fd, uint32_t opt, uint32_t type, const void *data,
		      uint32_t len)
{
	uint8_t h[20];

	nbd_put64(h, NBD_REP_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, type);
	nbd_put32(h + 16, len);
	xwrite(fd, h, sizeof(h));
	if (len)
		xwrite(fd, data, len);
}

static void *serve_handshake(void *arg)
{
	uint8_t b[4200], info[12];
	uint32_t opt, len;
	int fd = accept(listen_fd, NULL, NULL);

	REQUIRE(fd >= 0);
	nbd_put64(b, NBD_MAGIC);
	nbd_put64(b + 8, NBD_IHAVEOPT);
	nbd_put16(b + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	xwrite(fd, b, 18);
	xread(fd, b, 4);
	for (;;) {
		xread(fd, b, 16);
		opt = nbd_get32(b + 8);
		len = nbd_get32(b + 12);
		REQUIRE(len <= sizeof(b));
		xread(fd, b, len);
		if (opt == NBD_OPT_STRUCTURED_REPLY) {
			opt_reply(fd, opt, structured ? NBD_REP_ACK : NBD_REP_ERR_UNSUP,
				  NULL, 0);
			continue;
		}
		REQUIRE(opt == NBD_OPT_GO);
		nbd_put16(info, NBD_INFO_EXPORT);
		nbd_put64(info + 2, SIZE);
		nbd_put16(info + 10, TFLAGS);
		opt_reply(fd, opt, NBD_REP_INFO, info, 12);
		opt_reply(fd, opt, NBD_REP_ACK, NULL, 0);
		break;
	}
	__atomic_store_n(&hs_done, 1, __ATOMIC_RELEASE);
	return (void *)(intptr_t)fd;
}

static pthread_t hs_thread;

static void accept_start(void)
{
	hs_done = 0;
	REQUIRE(pthread_create(&hs_thread, NULL, serve_handshake, NULL) == 0);
}

static void pump(void);

/* The server's end of the connection, once the handshake is done. */
static int accept_end(int pumping)
{
	void *ret;
	int i;

	/* a reconnection runs on the target's ring: pump it meanwhile */
	for (i = 0; pumping && i < 2500 && !__atomic_load_n(&hs_done, __ATOMIC_ACQUIRE); i++)
		pump();
	REQUIRE(pthread_join(hs_thread, &ret) == 0);
	return (int)(intptr_t)ret;
}

/* ---- the target's side ---- */

static struct backend b;
static struct ublk_queue q;

/* Submit what the target queued and hand every CQE that came to it. */
static void pump(void)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	b.ops->queue_submit(&b, &q);	/* as the thread does before it enters */
	REQUIRE(uring_submit(&q.ring) >= 0);
	usleep(2000);
	uring_for_each_cqe(&q.ring, head, cqe) {
		REQUIRE(user_data_tag(cqe->user_data) == UBLK_TGT_NO_TAG);
		CHECK_EQ(b.ops->tgt_event(&b, &q, cqe), 0);
		n++;
	}
	uring_cq_advance(&q.ring, n);
}

/* Pump until request @tag completed (at most 5 s); its result. */
static int wait_done(unsigned tag)
{
	int i;

	for (i = 0; i < 2500 && !q.completed[tag]; i++)
		pump();
	REQUIRE(q.completed[tag]);
	q.serving[tag] = 0;
	return q.result[tag];
}

static void issue(unsigned tag, unsigned op_flags, uint64_t off, uint32_t len,
		  void *buf)
{
	const struct ublksrv_io_desc *iod = fake_iod(&q, tag, op_flags, off >> 9,
						     len >> 9);

	q.serving[tag] = 1;
	q.completed[tag] = 0;
	CHECK_EQ(b.ops->queue_io(&b, &q, tag, iod, buf), BACKEND_QUEUED);
}

/* ---- the server's side of the transmission ---- */

struct req {
	uint16_t flags, type;
	uint64_t cookie, off;
	uint32_t len;
};

/* Is something to read on @fd within @ms, pumping the target meanwhile? */
static int readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int i;

	for (i = 0; i <= ms / 2; i++) {
		pump();
		if (poll(&p, 1, 0) > 0)
			return 1;
	}
	return 0;
}

/* The next request, its payload (if a write) into @data. */
static struct req srv_req(int fd, void *data)
{
	uint8_t h[NBD_REQ_SIZE], *p = data;
	struct req r;
	ssize_t n;
	uint32_t got = 0;

	REQUIRE(readable(fd, 5000));
	xread(fd, h, sizeof(h));
	CHECK_EQ(nbd_get32(h), NBD_REQUEST_MAGIC);
	r.flags = nbd_get16(h + 4);
	r.type = nbd_get16(h + 6);
	r.cookie = nbd_get64(h + 8);
	r.off = nbd_get64(h + 16);
	r.len = nbd_get32(h + 24);
	/* a large payload comes as the target's sends go on: pump meanwhile */
	while (r.type == NBD_CMD_WRITE && got < r.len) {
		REQUIRE(readable(fd, 5000));
		n = read(fd, p + got, r.len - got);
		REQUIRE(n > 0);
		got += (uint32_t)n;
	}
	return r;
}

static void srv_simple(int fd, uint64_t cookie, uint32_t err, const void *data,
		       uint32_t len)
{
	uint8_t h[16];

	nbd_put32(h, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(h + 4, err);
	nbd_put64(h + 8, cookie);
	xwrite(fd, h, sizeof(h));
	if (len)
		xwrite(fd, data, len);
}

/* A structured chunk: OFFSET_DATA (@data, @len), or a hole of @len with data NULL. */
static void srv_chunk(int fd, uint64_t cookie, int done, uint64_t off,
		      const void *data, uint32_t len)
{
	uint8_t h[32];
	uint32_t n = 20;

	nbd_put32(h, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(h + 4, done ? NBD_REPLY_FLAG_DONE : 0);
	nbd_put16(h + 6, data ? NBD_REPLY_TYPE_OFFSET_DATA : NBD_REPLY_TYPE_OFFSET_HOLE);
	nbd_put64(h + 8, cookie);
	nbd_put32(h + 16, data ? 8 + len : 12);
	nbd_put64(h + 20, off);
	n += 8;
	if (!data) {
		nbd_put32(h + 28, len);
		n += 4;
	}
	xwrite(fd, h, n);
	if (data)
		xwrite(fd, data, len);
}

/* ---- the cases ---- */

static uint8_t *bufs[FAKE_QUEUE_DEPTH];
static uint8_t pattern[4 << 20], got[4 << 20];

/* A flush goes out only once the writes before it have their replies. */
static void test_flush_order(int fd)
{
	struct req w1, w2, f;

	fill(bufs[1], 4096, 1);
	fill(bufs[2], 8192, 2);
	issue(1, UBLK_IO_OP_WRITE, 0, 4096, bufs[1]);
	issue(2, UBLK_IO_OP_WRITE | UBLK_IO_F_FUA, 1 << 20, 8192, bufs[2]);
	issue(3, UBLK_IO_OP_FLUSH, 0, 0, bufs[3]);
	w1 = srv_req(fd, got);
	CHECK_EQ(w1.type, NBD_CMD_WRITE);
	CHECK_EQ(w1.off, 0);
	CHECK(!memcmp(got, bufs[1], 4096));
	w2 = srv_req(fd, got);
	CHECK_EQ(w2.type, NBD_CMD_WRITE);
	CHECK_EQ(w2.flags, NBD_CMD_FLAG_FUA);
	CHECK(!memcmp(got, bufs[2], 8192));
	CHECK(!readable(fd, 100));		/* the flush waits */
	srv_simple(fd, w2.cookie, 0, NULL, 0);	/* out of order */
	CHECK_EQ(wait_done(2), 8192);
	CHECK(!readable(fd, 100));		/* still: w1 is not answered */
	CHECK(!q.completed[3]);
	srv_simple(fd, w1.cookie, 0, NULL, 0);
	CHECK_EQ(wait_done(1), 4096);
	f = srv_req(fd, NULL);
	CHECK_EQ(f.type, NBD_CMD_FLUSH);
	CHECK_EQ(f.len, 0);
	srv_simple(fd, f.cookie, 0, NULL, 0);
	CHECK_EQ(wait_done(3), 0);
}

/* Structured reads: chunks out of order, a hole, replies in pieces. */
static void test_reads_split(int fd)
{
	uint8_t chunk[64];
	struct req r1, r2;
	uint32_t i;

	memset(bufs[4], 0xaa, 65536);
	memset(bufs[5], 0xbb, 4096);
	fill(pattern, 65536, 7);
	issue(4, UBLK_IO_OP_READ, 8 << 20, 65536, bufs[4]);
	issue(5, UBLK_IO_OP_READ, 4096, 4096, bufs[5]);
	r1 = srv_req(fd, NULL);
	r2 = srv_req(fd, NULL);
	CHECK_EQ(r1.type, NBD_CMD_READ);
	CHECK_EQ(r1.len, 65536);
	CHECK_EQ(r2.len, 4096);

	/* r2 first, its chunk header a byte at a time */
	nbd_put32(chunk, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(chunk + 4, NBD_REPLY_FLAG_DONE);
	nbd_put16(chunk + 6, NBD_REPLY_TYPE_OFFSET_DATA);
	nbd_put64(chunk + 8, r2.cookie);
	nbd_put32(chunk + 16, 8 + 4096);
	nbd_put64(chunk + 20, r2.off);
	for (i = 0; i < 28; i++) {
		xwrite(fd, chunk + i, 1);
		pump();
	}
	xwrite(fd, pattern, 1000);
	pump();
	xwrite(fd, pattern + 1000, 3096);
	CHECK_EQ(wait_done(5), 4096);
	CHECK(!memcmp(bufs[5], pattern, 4096));

	/* r1: its second half first, then a hole, then data, then DONE */
	srv_chunk(fd, r1.cookie, 0, r1.off + 32768, pattern + 32768, 32768);
	srv_chunk(fd, r1.cookie, 0, r1.off + 4096, NULL, 12288);
	srv_chunk(fd, r1.cookie, 0, r1.off, pattern, 4096);
	pump();
	CHECK(!q.completed[4]);		/* 16384..32767 not covered yet */
	srv_chunk(fd, r1.cookie, 1, r1.off + 16384, pattern + 16384, 16384);
	CHECK_EQ(wait_done(4), 65536);
	memset(pattern + 4096, 0, 12288);	/* the hole */
	CHECK(!memcmp(bufs[4], pattern, 65536));
}

/* The server's errors become the request's, the connection stays. */
static void test_errors(int fd)
{
	struct req r;

	issue(6, UBLK_IO_OP_WRITE, 0, 4096, bufs[6]);
	r = srv_req(fd, got);
	srv_simple(fd, r.cookie, NBD_ENOSPC, NULL, 0);
	CHECK_EQ(wait_done(6), -ENOSPC);
	issue(6, UBLK_IO_OP_DISCARD, 0, 1 << 20, bufs[6]);
	r = srv_req(fd, NULL);
	CHECK_EQ(r.type, NBD_CMD_TRIM);
	CHECK_EQ(r.len, 1 << 20);
	srv_simple(fd, r.cookie, NBD_EIO, NULL, 0);
	CHECK_EQ(wait_done(6), -EIO);
	issue(6, UBLK_IO_OP_WRITE_ZEROES | UBLK_IO_F_NOUNMAP, 0, 1 << 20, bufs[6]);
	r = srv_req(fd, NULL);
	CHECK_EQ(r.type, NBD_CMD_WRITE_ZEROES);
	CHECK_EQ(r.flags, NBD_CMD_FLAG_NO_HOLE);
	srv_simple(fd, r.cookie, 0, NULL, 0);
	CHECK_EQ(wait_done(6), 0);
}

/* A write larger than the socket takes at once goes out in pieces. */
static void test_big_write(int fd)
{
	struct req r;

	fill(bufs[7], 4 << 20, 9);
	issue(7, UBLK_IO_OP_WRITE, 16 << 20, 4 << 20, bufs[7]);
	r = srv_req(fd, got);
	CHECK_EQ(r.len, 4 << 20);
	CHECK(!memcmp(got, bufs[7], 4 << 20));
	srv_simple(fd, r.cookie, 0, NULL, 0);
	CHECK_EQ(wait_done(7), 4 << 20);
}

/*
 * A send may first go without waiting (MSG_DONTWAIT): one that meets a
 * full socket sends nothing, and the request goes again by a plain send,
 * which waits for the server to read.
 */
static void test_full_socket(int fd)
{
	struct nbd_conn *c = &((struct nbd_dev *)b.priv)->queues[0]->conns[0];
	uint8_t h[NBD_REQ_SIZE];
	uint32_t have = 0;
	socklen_t sl = sizeof(int);
	int sndbuf, tiny = 1;
	unsigned at_submit;
	struct req r;
	ssize_t n;
	int i;

	fill(bufs[10], 4 << 20, 5);
	issue(10, UBLK_IO_OP_WRITE, 0, 4 << 20, bufs[10]);
	pump();
	CHECK(c->wait_next);		/* the socket took a part at once */
	REQUIRE(readable(fd, 5000));
	xread(fd, h, sizeof(h));
	/* read until the rest of it went by the plain send, no further */
	for (i = 0; i < 2500 && c->sending; i++) {
		n = recv(fd, got + have, 16 << 10, MSG_DONTWAIT);
		if (n > 0)
			have += (uint32_t)n;
		pump();
	}
	REQUIRE(!c->sending);
	/* the socket, as it holds more than this, is full */
	REQUIRE(getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) == 0);
	REQUIRE(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &tiny, sizeof(tiny)) == 0);
	fill(bufs[11], 4096, 6);
	at_submit = q.cqes_at_submit;
	issue(11, UBLK_IO_OP_WRITE, 8 << 20, 4096, bufs[11]);
	pump();
	CHECK_EQ(q.cqes_at_submit, at_submit + 1);	/* it went MSG_DONTWAIT ... */
	CHECK(c->wait_next && c->head == 11);	/* ... and nothing went */
	sndbuf /= 2;			/* the kernel doubles what it is given */
	REQUIRE(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == 0);
	while (have < (4u << 20)) {
		REQUIRE(readable(fd, 5000));
		n = read(fd, got + have, (4u << 20) - have);
		REQUIRE(n > 0);
		have += (uint32_t)n;
	}
	CHECK(!memcmp(got, bufs[10], 4 << 20));
	r = srv_req(fd, pattern);
	CHECK_EQ(r.type, NBD_CMD_WRITE);
	CHECK_EQ(r.len, 4096);
	CHECK(!memcmp(pattern, bufs[11], 4096));
	srv_simple(fd, nbd_get64(h + 8), 0, NULL, 0);
	srv_simple(fd, r.cookie, 0, NULL, 0);
	CHECK_EQ(wait_done(10), 4 << 20);
	CHECK_EQ(wait_done(11), 4096);
	CHECK(!c->wait_next);		/* the next send may try again */
}

/*
 * A reply that breaks the protocol: the target drops the connection,
 * connects again and sends the request again.
 */
static int test_reconnect(int fd)
{
	struct req r;
	uint8_t junk[16] = { 0xde, 0xad };

	memset(bufs[8], 0, 4096);
	fill(pattern, 4096, 3);
	issue(8, UBLK_IO_OP_READ, 12288, 4096, bufs[8]);
	r = srv_req(fd, NULL);
	accept_start();
	xwrite(fd, junk, sizeof(junk));		/* bad magic */
	while (readable(fd, 2000)) {		/* the target hangs up */
		if (read(fd, junk, 1) <= 0)
			break;
	}
	close(fd);
	fd = accept_end(1);			/* and comes back */
	r = srv_req(fd, NULL);
	CHECK_EQ(r.type, NBD_CMD_READ);
	CHECK_EQ(r.off, 12288);
	srv_chunk(fd, r.cookie, 1, r.off, pattern, 4096);
	CHECK_EQ(wait_done(8), 4096);
	CHECK(!memcmp(bufs[8], pattern, 4096));
	return fd;
}

int main(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned i;
	int fd;

	skip_without_uring();
	signal(SIGPIPE, SIG_IGN);	/* the target hangs up on the server */
	snprintf(path, sizeof(path), "/tmp/sublk-test-nbd-%d.sock", (int)getpid());
	memcpy(sun.sun_path, path, strlen(path) + 1);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(listen_fd >= 0);
	unlink(path);
	REQUIRE(bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	REQUIRE(listen(listen_fd, 4) == 0);
	for (i = 0; i < FAKE_QUEUE_DEPTH; i++)
		bufs[i] = xalloc(4 << 20);

	b.ops = &backend_nbd_ops;
	b.fd = -1;
	b.conf.type = "nbd";
	b.conf.nbd_unix = path;
	b.conf.lbs_shift = 9;
	b.conf.nr_queues = 1;
	accept_start();
	REQUIRE(b.ops->open(&b) == 0);
	fd = accept_end(0);
	CHECK_EQ(b.size, SIZE);
	CHECK(b.attrs & UBLK_ATTR_VOLATILE_CACHE);
	CHECK(b.attrs & UBLK_ATTR_FUA);
	CHECK(b.max_discard_sectors && b.max_write_zeroes_sectors);
	REQUIRE(uring_init(&q.ring, 64, 0) == 0);
	REQUIRE(b.ops->queue_init(&b, &q) == 0);

	test_flush_order(fd);
	test_reads_split(fd);
	test_errors(fd);
	test_big_write(fd);
	test_full_socket(fd);
	fd = test_reconnect(fd);

	/* the ring goes first: nothing of the target's is in flight after */
	uring_exit(&q.ring);
	b.ops->queue_exit(&b, &q);
	b.ops->close(&b);
	close(fd);
	close(listen_fd);
	unlink(path);
	for (i = 0; i < FAKE_QUEUE_DEPTH; i++)
		free(bufs[i]);
	return unit_done();
}
