// SPDX-License-Identifier: MIT
/*
 * The NBD transmission phase: request headers, error values, transmission
 * flags, and the reply parser against crafted reply streams, fed whole, in
 * odd pieces, a byte at a time and exactly nbd_reply_need() at a time.
 */
#include <errno.h>
#include <stddef.h>

#include "nbd_stream.h"

#define NR_REQS		4
#define REQ_BUF		(64 << 10)

/* A request in flight, as the nbd target will keep one per tag. */
struct treq {
	struct nbd_req r;
	uint64_t cookie;
	int busy, completed, result;
	uint8_t buf[REQ_BUF];
};

static struct treq armed[NR_REQS], reqs[NR_REQS];
static struct nbd_reply_parser p;
static struct stream srv;
static uint8_t data1[REQ_BUF], data2[REQ_BUF];

static const size_t chunks[] = { 0, 1, 3, 16, 29, 1 << 20 };
#define FOR_EACH_CHUNKING(i)	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)

static int lookup(void *ctx, uint64_t cookie, struct nbd_req **req)
{
	struct treq *t = ctx;
	int i;

	for (i = 0; i < NR_REQS; i++) {
		if (t[i].busy && t[i].cookie == cookie) {
			*req = &t[i].r;
			return 0;
		}
	}
	return -ENOENT;
}

static void arm(int i, uint16_t type, uint64_t cookie, uint64_t off, uint32_t len)
{
	REQUIRE(type != NBD_CMD_READ || len <= REQ_BUF);
	nbd_req_set(&armed[i].r, type, off, len);
	armed[i].cookie = cookie;
	armed[i].busy = 1;
	memset(armed[i].buf, 0xaa, REQ_BUF);
}

static void disarm(void)
{
	memset(armed, 0, sizeof(armed));
	srv.len = 0;
}

/*
 * Feed srv to a fresh parser @chunk bytes at a time (0: what
 * nbd_reply_need() says), acting on its events as the nbd target will.
 * Returns 0 at the end of srv, or the parser's error.
 */
static int run(int structured, size_t chunk)
{
	struct nbd_reply_ev ev;
	size_t pos = 0, n;
	struct treq *t;
	int ret;

	memcpy(reqs, armed, sizeof(reqs));
	nbd_reply_init(&p, structured, REQ_BUF, lookup, reqs);
	while (pos < srv.len) {
		n = chunk ? chunk : nbd_reply_need(&p);
		REQUIRE(n > 0);
		n = n < srv.len - pos ? n : srv.len - pos;
		ret = nbd_reply_feed(&p, srv.buf + pos, n, &ev);
		if (ret < 0) {
			CHECK_EQ(ev.what, 0);
			CHECK(p.err[0]);
			CHECK_EQ(nbd_reply_feed(&p, srv.buf, 1, &ev), ret);
			return ret;
		}
		CHECK(ret == (int)n || ev.what);
		CHECK(chunk || ret == (int)n);
		pos += (size_t)ret;
		if (!ev.what)
			continue;
		t = (struct treq *)((char *)ev.req - offsetof(struct treq, r));
		CHECK_EQ(ev.cookie, t->cookie);
		CHECK(t->busy);
		if (ev.what & (NBD_EV_DATA | NBD_EV_ZERO))
			REQUIRE(ev.len && ev.off + ev.len <= t->r.len);
		if (ev.what & NBD_EV_DATA) {
			REQUIRE(pos + ev.len <= srv.len);
			memcpy(t->buf + ev.off, srv.buf + pos, ev.len);
			pos += ev.len;
		}
		if (ev.what & NBD_EV_ZERO)
			memset(t->buf + ev.off, 0, ev.len);
		if (ev.what & NBD_EV_DONE) {
			t->result = ev.result;
			t->completed++;
			t->busy = 0;
		}
	}
	CHECK_EQ(nbd_reply_need(&p), 16);	/* between replies */
	return 0;
}

/* The stream breaks the protocol, in the words of @msg. */
static void expect_err(int structured, const char *msg)
{
	unsigned i;

	FOR_EACH_CHUNKING(i) {
		CHECK_EQ(run(structured, chunks[i]), -EPROTO);
		if (strcmp(p.err, msg))
			fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", p.err, msg);
		CHECK(!strcmp(p.err, msg));
	}
	disarm();
}

static void simple(uint64_t cookie, uint32_t error)
{
	s32(&srv, NBD_SIMPLE_REPLY_MAGIC);
	s32(&srv, error);
	s64(&srv, cookie);
}

static void chunk(uint64_t cookie, uint16_t flags, uint16_t type, uint32_t len)
{
	s32(&srv, NBD_STRUCTURED_REPLY_MAGIC);
	s16(&srv, flags);
	s16(&srv, type);
	s64(&srv, cookie);
	s32(&srv, len);
}

static void data_chunk(uint64_t cookie, uint16_t flags, uint64_t off,
		       const void *data, uint32_t len)
{
	chunk(cookie, flags, NBD_REPLY_TYPE_OFFSET_DATA, 8 + len);
	s64(&srv, off);
	s_bytes(&srv, data, len);
}

static void hole_chunk(uint64_t cookie, uint16_t flags, uint64_t off, uint32_t len)
{
	chunk(cookie, flags, NBD_REPLY_TYPE_OFFSET_HOLE, 12);
	s64(&srv, off);
	s32(&srv, len);
}

static void error_chunk(uint64_t cookie, uint16_t flags, uint16_t type,
			uint32_t error, const char *msg, uint64_t off)
{
	uint32_t n = (uint32_t)strlen(msg);

	chunk(cookie, flags, type, 6 + n + (type == NBD_REPLY_TYPE_ERROR_OFFSET ? 8 : 0));
	s32(&srv, error);
	s16(&srv, (uint16_t)n);
	s_str(&srv, msg);
	if (type == NBD_REPLY_TYPE_ERROR_OFFSET)
		s64(&srv, off);
}

static int is_fill(const uint8_t *b, size_t n, uint8_t v)
{
	while (n--)
		if (*b++ != v)
			return 0;
	return 1;
}

static void test_encode(void)
{
	static const uint8_t want[NBD_REQ_SIZE] = {
		0x25, 0x60, 0x95, 0x13,	0x00, 0x01, 0x00, 0x01,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
		0x00, 0x02, 0x00, 0x00,
	};
	uint8_t buf[NBD_REQ_SIZE + 1];

	buf[NBD_REQ_SIZE] = 0x5a;
	nbd_req_encode(buf, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 0x0102030405060708ULL,
		       (1ULL << 32) + 4096, 128 << 10);
	CHECK(!memcmp(buf, want, NBD_REQ_SIZE));
	CHECK_EQ(buf[NBD_REQ_SIZE], 0x5a);
}

static void test_errno_caps(void)
{
	struct nbd_caps c;

	CHECK_EQ(nbd_errno(0), 0);
	CHECK_EQ(nbd_errno(NBD_EPERM), -EPERM);
	CHECK_EQ(nbd_errno(NBD_EIO), -EIO);
	CHECK_EQ(nbd_errno(NBD_ENOMEM), -ENOMEM);
	CHECK_EQ(nbd_errno(NBD_EINVAL), -EINVAL);
	CHECK_EQ(nbd_errno(NBD_ENOSPC), -ENOSPC);
	CHECK_EQ(nbd_errno(NBD_EOVERFLOW), -EOVERFLOW);
	CHECK_EQ(nbd_errno(NBD_ENOTSUP), -EOPNOTSUPP);
	CHECK_EQ(nbd_errno(NBD_ESHUTDOWN), -ESHUTDOWN);
	CHECK_EQ(nbd_errno(2), -EIO);
	CHECK_EQ(nbd_errno(0xffffffff), -EIO);

	c = nbd_tflags_caps(0xffff & ~NBD_FLAG_HAS_FLAGS, 1);
	CHECK(!c.read_only && !c.flush && !c.trim && !c.multi_conn);
	c = nbd_tflags_caps(NBD_FLAG_HAS_FLAGS, 1);
	CHECK(!c.read_only && !c.flush && !c.fua && !c.trim && !c.write_zeroes &&
	      !c.fast_zero && !c.rotational && !c.df && !c.cache && !c.multi_conn);
	c = nbd_tflags_caps(0xffff, 1);
	CHECK(c.read_only && c.flush && c.fua && c.trim && c.write_zeroes &&
	      c.fast_zero && c.rotational && c.df && c.cache && c.multi_conn);
	c = nbd_tflags_caps(0xffff, 0);
	CHECK(!c.df && c.flush);
	c = nbd_tflags_caps(NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FUA |
			    NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_SEND_TRIM, 1);
	CHECK(!c.fua && !c.fast_zero && c.trim);
}

static void test_simple(void)
{
	unsigned i;

	arm(0, NBD_CMD_WRITE, 1, 0, 4096);
	arm(1, NBD_CMD_READ, 2, 8192, 4096);
	arm(2, NBD_CMD_READ, 3, 0, 512);
	arm(3, NBD_CMD_FLUSH, 4, 0, 0);
	simple(2, 0);
	s_bytes(&srv, data1, 4096);
	simple(1, NBD_ENOSPC);
	simple(3, NBD_EIO);	/* no data after an error */
	simple(4, 99);
	FOR_EACH_CHUNKING(i) {
		CHECK_EQ(run(0, chunks[i]), 0);
		CHECK(reqs[0].completed == 1 && reqs[0].result == -ENOSPC);
		CHECK(reqs[1].completed == 1 && reqs[1].result == 0);
		CHECK(!memcmp(reqs[1].buf, data1, 4096));
		CHECK(reqs[2].completed == 1 && reqs[2].result == -EIO);
		CHECK(is_fill(reqs[2].buf, REQ_BUF, 0xaa));
		CHECK(reqs[3].completed == 1 && reqs[3].result == -EIO);
	}
	/* simple replies may answer anything but reads, structured or not */
	srv.len = 0;
	simple(1, 0);
	simple(4, 0);
	FOR_EACH_CHUNKING(i) {
		CHECK_EQ(run(1, chunks[i]), 0);
		CHECK(reqs[0].completed == 1 && reqs[0].result == 0);
		CHECK(reqs[3].completed == 1 && reqs[3].result == 0);
	}
	disarm();
}

static void test_structured(void)
{
	const uint64_t mb = 1 << 20;
	unsigned i;

	arm(0, NBD_CMD_READ, 0x10, mb, 16384);
	arm(1, NBD_CMD_WRITE, 0x11, 0, 512);
	arm(2, NBD_CMD_READ, 0x12, 0, 4096);
	arm(3, NBD_CMD_FLUSH, 0x13, 0, 0);
	data_chunk(0x10, 0, mb + 8192, data1, 8192);
	hole_chunk(0x10, 0, mb, 4096);
	chunk(0x11, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
	data_chunk(0x10, 0, mb + 4096, data2, 4096);
	data_chunk(0x12, NBD_REPLY_FLAG_DONE | 0x8000, 0, data2, 4096);
	simple(0x13, 0);
	chunk(0x10, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
	FOR_EACH_CHUNKING(i) {
		CHECK_EQ(run(1, chunks[i]), 0);
		CHECK(reqs[0].completed == 1 && reqs[0].result == 0);
		CHECK(is_fill(reqs[0].buf, 4096, 0));
		CHECK(!memcmp(reqs[0].buf + 4096, data2, 4096));
		CHECK(!memcmp(reqs[0].buf + 8192, data1, 8192));
		CHECK(is_fill(reqs[0].buf + 16384, REQ_BUF - 16384, 0xaa));
		CHECK(reqs[1].completed == 1 && reqs[1].result == 0);
		CHECK(reqs[2].completed == 1 && reqs[2].result == 0);
		CHECK(!memcmp(reqs[2].buf, data2, 4096));
		CHECK(reqs[3].completed == 1 && reqs[3].result == 0);
	}
	disarm();

	/* the need of each step: header, then length and the fixed fields */
	arm(0, NBD_CMD_READ, 7, 0, 4096);
	nbd_reply_init(&p, 1, REQ_BUF, lookup, armed);
	CHECK_EQ(nbd_reply_need(&p), 16);
	data_chunk(7, NBD_REPLY_FLAG_DONE, 0, data1, 4096);
	{
		struct nbd_reply_ev ev;

		CHECK_EQ(nbd_reply_feed(&p, srv.buf, 16, &ev), 16);
		CHECK_EQ(ev.what, 0);
		CHECK_EQ(nbd_reply_need(&p), 12);
		CHECK_EQ(nbd_reply_feed(&p, srv.buf + 16, srv.len - 16, &ev), 12);
		CHECK_EQ(ev.what, NBD_EV_DATA | NBD_EV_DONE);
		CHECK(ev.off == 0 && ev.len == 4096 && ev.result == 0);
		CHECK(ev.req == &armed[0].r && ev.cookie == 7);
	}
	disarm();
}

static void test_error_chunks(void)
{
	unsigned i;

	arm(0, NBD_CMD_READ, 0x20, 0, 8192);
	arm(1, NBD_CMD_WRITE, 0x21, 4096, 4096);
	arm(2, NBD_CMD_READ, 0x22, 0, 512);
	arm(3, NBD_CMD_TRIM, 0x23, 0, 1 << 20);
	data_chunk(0x20, 0, 0, data1, 4096);
	error_chunk(0x20, 0, NBD_REPLY_TYPE_ERROR_OFFSET, NBD_EIO, "disk on fire", 4096);
	error_chunk(0x21, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, NBD_EPERM, "read-only", 0);
	chunk(0x22, 0, NBD_REPLY_TYPE_ERROR_BIT | 3, 6 + 2 + 3);	/* unknown error type */
	s32(&srv, NBD_ENOSPC);
	s16(&srv, 2);
	s_str(&srv, "hi" "xyz");
	error_chunk(0x22, 0, NBD_REPLY_TYPE_ERROR, NBD_EINVAL, "", 0);
	chunk(0x20, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
	error_chunk(0x23, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 0, "zero?", 0);
	chunk(0x22, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
	FOR_EACH_CHUNKING(i) {
		CHECK_EQ(run(1, chunks[i]), 0);
		CHECK(reqs[0].completed == 1 && reqs[0].result == -EIO);
		CHECK(reqs[1].completed == 1 && reqs[1].result == -EPERM);
		CHECK(reqs[2].completed == 1 && reqs[2].result == -ENOSPC);
		CHECK(reqs[3].completed == 1 && reqs[3].result == -EIO);
	}
	disarm();
}

static void test_broken_streams(void)
{
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	simple(0xdead, 0);
	expect_err(0, "reply with unknown cookie 0xdead");

	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	s32(&srv, 0x12345678);
	s_zeros(&srv, 12);
	expect_err(1, "bad reply magic 0x12345678");

	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	chunk(0x30, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
	expect_err(0, "structured reply chunk, but structured replies were not negotiated");

	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	simple(0x30, NBD_EINVAL);
	expect_err(1, "simple reply to read cookie 0x30, but structured replies were negotiated");

	arm(0, NBD_CMD_WRITE, 0x31, 0, 4096);
	error_chunk(0x31, 0, NBD_REPLY_TYPE_ERROR, NBD_EIO, "", 0);
	simple(0x31, 0);
	expect_err(1, "simple reply to cookie 0x31 after structured chunks");

	/* content outside the request */
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	data_chunk(0x30, 0, 6144, data1, 4096);
	expect_err(1, "chunk of 4096 bytes at 6144 lies beyond the request's 4096 bytes at 4096");
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	data_chunk(0x30, 0, 0, data1, 512);
	expect_err(1, "chunk of 512 bytes at 0 lies beyond the request's 4096 bytes at 4096");
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	data_chunk(0x30, 0, UINT64_MAX, data1, 1);
	expect_err(1, "chunk of 1 bytes at 18446744073709551615 lies beyond the request's 4096 bytes at 4096");
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	hole_chunk(0x30, 0, 4096, 0xffffffff);
	expect_err(1, "chunk of 4294967295 bytes at 4096 lies beyond the request's 4096 bytes at 4096");
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	hole_chunk(0x30, 0, 8192, 1);
	expect_err(1, "chunk of 1 bytes at 8192 lies beyond the request's 4096 bytes at 4096");
	arm(0, NBD_CMD_READ, 0x30, 4096, 4096);
	error_chunk(0x30, 0, NBD_REPLY_TYPE_ERROR_OFFSET, NBD_EIO, "x", 8192);
	expect_err(1, "error at 8192, outside the request's 4096 bytes at 4096");

	/* lengths beyond the limits, and inconsistent ones */
	arm(0, NBD_CMD_READ, 0x30, 0, REQ_BUF);
	chunk(0x30, 0, NBD_REPLY_TYPE_OFFSET_DATA, 8 + REQ_BUF + 1);
	s64(&srv, 0);
	expect_err(1, "data chunk of 65537 bytes exceeds the maximum of 65536");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_ERROR, NBD_REPLY_META_MAX + 1);
	s32(&srv, NBD_EIO);
	s16(&srv, 0);
	expect_err(1, "error chunk of length 65537 with a 0-byte message");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_ERROR, 6 + 10);
	s32(&srv, NBD_EIO);
	s16(&srv, 11);
	expect_err(1, "error chunk of length 16 with a 11-byte message");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_ERROR_OFFSET, 6 + 10);
	s32(&srv, NBD_EIO);
	s16(&srv, 3);
	expect_err(1, "error chunk of length 16 with a 3-byte message");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_OFFSET_DATA, 8);
	s64(&srv, 0);
	expect_err(1, "data chunk of length 8 carries no data");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	hole_chunk(0x30, 0, 0, 0);
	expect_err(1, "hole chunk of length 12 for 0 bytes");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_OFFSET_HOLE, 16);
	s_zeros(&srv, 16);
	expect_err(1, "hole chunk of length 16 for 0 bytes");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_NONE, 0);
	expect_err(1, "NBD_REPLY_TYPE_NONE chunk of 0 bytes, flags 0x0");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 4);
	s32(&srv, 0);
	expect_err(1, "NBD_REPLY_TYPE_NONE chunk of 4 bytes, flags 0x1");
	arm(0, NBD_CMD_READ, 0x30, 0, 4096);
	chunk(0x30, 0, NBD_REPLY_TYPE_BLOCK_STATUS, 12);
	expect_err(1, "unexpected reply chunk type 5 for cookie 0x30");

	/* content that a request cannot have, or not all of it */
	arm(0, NBD_CMD_WRITE, 0x30, 0, 4096);
	data_chunk(0x30, NBD_REPLY_FLAG_DONE, 0, data1, 4096);
	expect_err(1, "data chunk for cookie 0x30, which is not a read");
	arm(0, NBD_CMD_READ, 0x30, 0, 8192);
	data_chunk(0x30, 0, 4096, data1, 4096);
	chunk(0x30, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
	expect_err(1, "read reply for cookie 0x30 covers 4096 of its 8192 bytes");
	arm(0, NBD_CMD_READ, 0x30, 0, 8192);
	data_chunk(0x30, 0, 0, data1, 4096);
	hole_chunk(0x30, 0, 0, 4096);
	data_chunk(0x30, 0, 4096, data1, 4096);
	expect_err(1, "chunks for cookie 0x30 overlap");

	/* a reply after the request's last chunk */
	arm(0, NBD_CMD_FLUSH, 0x30, 0, 0);
	simple(0x30, 0);
	simple(0x30, 0);
	expect_err(1, "reply with unknown cookie 0x30");
}

int main(void)
{
	unsigned i;

	for (i = 0; i < REQ_BUF; i++) {
		data1[i] = (uint8_t)(i * 7 + 1);
		data2[i] = (uint8_t)(i * 13 + 5);
	}
	test_encode();
	test_errno_caps();
	test_simple();
	test_structured();
	test_error_chunks();
	test_broken_streams();
	fprintf(stderr, "%d checks\n", unit_checks);
	return unit_done();
}
