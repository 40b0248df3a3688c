// SPDX-License-Identifier: MIT
/*
 * The NBD client handshake against crafted server byte streams, each one
 * fed whole, in odd pieces and a byte at a time: what the client sends,
 * what it learns, and how it refuses.
 */
#include <errno.h>

#include "nbd_stream.h"

#define EXTRA	"TAIL"	/* transmission-phase bytes the handshake must leave */

struct client {
	struct nbd_hs hs;
	struct stream sent;	/* what the client sent */
	size_t taken;		/* server bytes the handshake took */
};

static struct client c;
static struct stream srv, want;

/* ---- What the server says ---- */

static void srv_greet(uint16_t flags)
{
	srv.len = 0;
	s64(&srv, NBD_MAGIC);
	s64(&srv, NBD_IHAVEOPT);
	s16(&srv, flags);
}

static void srv_rep(uint32_t opt, uint32_t type, const void *data, uint32_t len)
{
	s64(&srv, NBD_REP_MAGIC);
	s32(&srv, opt);
	s32(&srv, type);
	s32(&srv, len);
	s_bytes(&srv, data, len);
}

static void srv_err(uint32_t opt, uint32_t type, const char *msg)
{
	srv_rep(opt, type, msg, (uint32_t)strlen(msg));
}

static void srv_info_export(uint64_t size, uint16_t tflags)
{
	uint8_t b[12];

	nbd_put16(b, NBD_INFO_EXPORT);
	nbd_put64(b + 2, size);
	nbd_put16(b + 10, tflags);
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, b, sizeof(b));
}

static void srv_info_bs(uint32_t min, uint32_t pref, uint32_t max)
{
	uint8_t b[14];

	nbd_put16(b, NBD_INFO_BLOCK_SIZE);
	nbd_put32(b + 2, min);
	nbd_put32(b + 6, pref);
	nbd_put32(b + 10, max);
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, b, sizeof(b));
}

/* ---- What the client should say ---- */

static void want_flags(uint32_t flags)
{
	want.len = 0;
	s32(&want, flags);
}

static void want_opt(uint32_t opt, const char *data)
{
	s64(&want, NBD_IHAVEOPT);
	s32(&want, opt);
	s32(&want, (uint32_t)strlen(data));
	s_str(&want, data);
}

static void want_go(const char *name)
{
	s64(&want, NBD_IHAVEOPT);
	s32(&want, NBD_OPT_GO);
	s32(&want, 4 + (uint32_t)strlen(name) + 4);
	s32(&want, (uint32_t)strlen(name));
	s_str(&want, name);
	s16(&want, 1);
	s16(&want, NBD_INFO_BLOCK_SIZE);
}

/* Greeting, structured replies acknowledged, and the client's GO for @name. */
static void start(const char *name)
{
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_rep(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	want_go(name);
}

/*
 * Run a handshake for @name against srv, feeding @chunk bytes at a time
 * (0: exactly what nbd_hs_need() asks) and sending @send_chunk at a time
 * (0: all).  When srv runs dry: nbd_hs_eof().  Returns the last step.
 */
static int play(const char *name, unsigned flags, size_t chunk, size_t send_chunk)
{
	const void *out;
	size_t n, need;
	int ret, i;

	c.sent.len = 0;
	c.taken = 0;
	REQUIRE(nbd_hs_init(&c.hs, name, flags) == 0);
	for (i = 0; i < 1000000; i++) {
		switch (nbd_hs_step(&c.hs)) {
		case NBD_HS_SEND:
			n = nbd_hs_out(&c.hs, &out);
			REQUIRE(n > 0 && out);
			n = send_chunk && send_chunk < n ? send_chunk : n;
			s_bytes(&c.sent, out, n);
			CHECK_EQ(nbd_hs_sent(&c.hs, n), 0);
			break;
		case NBD_HS_RECV:
			need = nbd_hs_need(&c.hs);
			REQUIRE(need > 0);
			if (c.taken == srv.len) {
				nbd_hs_eof(&c.hs);
				break;
			}
			n = chunk ? chunk : need;
			n = n < srv.len - c.taken ? n : srv.len - c.taken;
			ret = nbd_hs_feed(&c.hs, srv.buf + c.taken, n);
			if (ret < 0) {
				CHECK_EQ(ret, nbd_hs_error(&c.hs));
				CHECK(c.hs.err[0]);
				break;
			}
			/* it stops short only where its receiving ends */
			CHECK(ret == (int)n || nbd_hs_step(&c.hs) != NBD_HS_RECV);
			CHECK(chunk || ret == (int)n);
			c.taken += (size_t)ret;
			break;
		default:
			CHECK_EQ(nbd_hs_out(&c.hs, &out), 0);
			CHECK_EQ(nbd_hs_need(&c.hs), 0);
			return nbd_hs_step(&c.hs);
		}
	}
	REQUIRE(!"handshake loops");
	return 0;
}

static const size_t chunks[] = { 0, 1, 2, 7, 19, 1 << 20 };
#define NR_CHUNKS	(sizeof(chunks) / sizeof(chunks[0]))

/* The handshake succeeds, sends exactly `want` and leaves EXTRA unread. */
static void expect_done(const char *name, unsigned flags)
{
	unsigned i;

	s_str(&srv, EXTRA);
	for (i = 0; i < NR_CHUNKS; i++) {
		CHECK_EQ(play(name, flags, chunks[i], i == 1 ? 3 : 0), NBD_HS_DONE);
		CHECK_EQ(c.taken, srv.len - strlen(EXTRA));
		CHECK_EQ(c.sent.len, want.len);
		CHECK(!memcmp(c.sent.buf, want.buf, want.len));
		CHECK_EQ(nbd_hs_error(&c.hs), 0);
		CHECK_EQ(c.hs.err[0], 0);
		CHECK_EQ(nbd_hs_feed(&c.hs, "x", 1), 0);	/* takes no more */
	}
}

/*
 * The handshake fails with @err and the line @msg, having sent `want`
 * and, if @abort, NBD_OPT_ABORT after it.
 */
static void expect_fail(const char *name, int err, const char *msg, int abort)
{
	unsigned i;

	if (abort)
		want_opt(NBD_OPT_ABORT, "");
	for (i = 0; i < NR_CHUNKS; i++) {
		CHECK_EQ(play(name, 0, chunks[i], i == 1 ? 5 : 0), NBD_HS_FAILED);
		CHECK_EQ(nbd_hs_error(&c.hs), err);
		if (strcmp(c.hs.err, msg))
			fprintf(stderr, "got \"%s\"\nwant \"%s\"\n", c.hs.err, msg);
		CHECK(!strcmp(c.hs.err, msg));
		CHECK_EQ(c.sent.len, want.len);
		CHECK(!memcmp(c.sent.buf, want.buf, want.len));
		CHECK_EQ(nbd_hs_feed(&c.hs, "x", 1), err);
	}
}

static void test_go(void)
{
	uint8_t other[100] = { 0, 42 };	/* an info type nobody knows */

	srv_greet(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	srv_rep(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, "\0\1Disk", 6);	/* NBD_INFO_NAME */
	srv_info_export(1ULL << 40, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH);
	srv_info_bs(512, 4096, 1 << 20);
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, other, sizeof(other));
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	want_go("disk");
	expect_done("disk", 0);
	CHECK_EQ(c.hs.exp.size, 1ULL << 40);
	CHECK_EQ(c.hs.exp.tflags, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH);
	CHECK_EQ(c.hs.exp.min_bs, 512);
	CHECK_EQ(c.hs.exp.pref_bs, 4096);
	CHECK_EQ(c.hs.exp.max_bs, 1 << 20);
	CHECK_EQ(c.hs.exp.structured, 1);

	/* no structured replies on offer, no block sizes: the defaults */
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_err(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP, "what?");
	srv_info_export(4096, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY);
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	want_go("");
	expect_done("", 0);
	CHECK_EQ(c.hs.exp.size, 4096);
	CHECK_EQ(c.hs.exp.structured, 0);
	CHECK_EQ(c.hs.exp.min_bs, NBD_DEFAULT_MIN_BS);
	CHECK_EQ(c.hs.exp.pref_bs, NBD_DEFAULT_PREF_BS);
	CHECK_EQ(c.hs.exp.max_bs, NBD_DEFAULT_MAX_BS);

	/* not asking for structured replies at all */
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_info_export(8192, NBD_FLAG_HAS_FLAGS);
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_go("x");
	expect_done("x", NBD_HS_F_NO_STRUCTURED);
	CHECK_EQ(c.hs.exp.structured, 0);
}

static void test_export_name_fallback(void)
{
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_rep(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
	srv_rep(NBD_OPT_GO, NBD_REP_ERR_UNSUP, NULL, 0);
	s64(&srv, 123456789 * 512ULL);
	s16(&srv, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_TRIM);
	s_zeros(&srv, 124);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	want_go("old disk");
	want_opt(NBD_OPT_EXPORT_NAME, "old disk");
	expect_done("old disk", 0);
	CHECK_EQ(c.hs.exp.size, 123456789 * 512ULL);
	CHECK_EQ(c.hs.exp.tflags, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_TRIM);
	CHECK_EQ(c.hs.exp.structured, 1);
	CHECK_EQ(c.hs.exp.min_bs, NBD_DEFAULT_MIN_BS);

	/* NO_ZEROES: the 124 bytes do not come */
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	srv_rep(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_POLICY, NULL, 0);
	srv_err(NBD_OPT_GO, NBD_REP_ERR_UNSUP, "GO? never heard of it");
	s64(&srv, 1 << 20);
	s16(&srv, NBD_FLAG_HAS_FLAGS);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	want_go("");
	want_opt(NBD_OPT_EXPORT_NAME, "");
	expect_done("", 0);
	CHECK_EQ(c.hs.exp.size, 1 << 20);
	CHECK_EQ(c.hs.exp.structured, 0);

	/* an unknown export: the server hangs up */
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	srv_rep(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_POLICY, NULL, 0);
	srv_err(NBD_OPT_GO, NBD_REP_ERR_UNSUP, "GO? never heard of it");
	expect_fail("", -ECONNRESET,
		    "server closed the connection: it has no export '' or refuses it", 0);
}

static void test_refusals(void)
{
	char name[NBD_MAX_STRING + 2], msg[300];
	const char *cut = "server refuses export "
		"'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'";

	start("nope");
	srv_err(NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, "no such export\r\n");
	expect_fail("nope", -ENOENT, "server has no export 'nope': no such export", 1);

	/* the message is made printable; a long name is cut short */
	memset(name, 'n', 100);
	name[100] = '\0';
	start(name);
	srv_err(NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, "bad\x01\xffname\nhere");
	snprintf(msg, sizeof(msg), "server has no export '%.64s': bad??name?here", name);
	expect_fail(name, -ENOENT, msg, 1);

	/* other refusals of GO */
	start(name);
	srv_rep(NBD_OPT_GO, NBD_REP_ERR_POLICY, NULL, 0);
	snprintf(msg, sizeof(msg), "%s (policy)", cut);
	expect_fail(name, -EACCES, msg, 1);
	start(name);
	srv_rep(NBD_OPT_GO, NBD_REP_ERR_TOO_BIG, NULL, 0);
	snprintf(msg, sizeof(msg), "%s (error 0x80000009)", cut);
	expect_fail(name, -EPROTO, msg, 1);
	start("");
	srv_err(NBD_OPT_GO, NBD_REP_ERR_SHUTDOWN, "bye");
	expect_fail("", -ESHUTDOWN, "server is shutting down: bye", 1);
	start("");
	srv_rep(NBD_OPT_GO, NBD_REP_ERR_TLS_REQD, NULL, 0);
	expect_fail("", -EOPNOTSUPP, "server requires TLS, which is not supported", 1);

	/* ... and of structured replies: only these two end the handshake */
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_err(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_TLS_REQD, "TLS first");
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	expect_fail("x", -EOPNOTSUPP,
		    "server requires TLS, which is not supported: TLS first", 1);
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_rep(NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_SHUTDOWN, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	expect_fail("x", -ESHUTDOWN, "server is shutting down", 1);

	/* a name longer than the protocol allows */
	memset(name, 'n', NBD_MAX_STRING + 1);
	name[NBD_MAX_STRING + 1] = '\0';
	CHECK_EQ(nbd_hs_init(&c.hs, name, 0), -EINVAL);
	CHECK_EQ(nbd_hs_step(&c.hs), NBD_HS_FAILED);
	CHECK(!strcmp(c.hs.err, "export name of 4097 bytes is longer than 4096"));

	/* the longest name fits, with the client flags, in one message */
	name[NBD_MAX_STRING] = '\0';
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_info_export(512, NBD_FLAG_HAS_FLAGS);
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_go(name);
	expect_done(name, NBD_HS_F_NO_STRUCTURED);
	CHECK_EQ(want.len, NBD_HS_OUT_MAX);
}

static void test_not_nbd(void)
{
	want.len = 0;
	srv.len = 0;
	s_str(&srv, "SSH-2.0-OpenSSH_9.2p1\r\n");
	expect_fail("", -EPROTO, "not an NBD server (bad magic 0x5353482d322e302d)", 0);

	srv.len = 0;
	s_str(&srv, "NBD");
	expect_fail("", -ECONNRESET, "server closed the connection during the handshake", 0);
	srv.len = 0;
	expect_fail("", -ECONNRESET, "server closed the connection without a greeting", 0);

	srv.len = 0;
	s64(&srv, NBD_MAGIC);
	s64(&srv, NBD_CLISERV_MAGIC);
	s64(&srv, 1 << 20);
	expect_fail("", -EPROTONOSUPPORT,
		    "server speaks the oldstyle handshake, which is not supported", 0);

	srv.len = 8;
	s64(&srv, 0x0123456789abcdefULL);
	expect_fail("", -EPROTO, "not an NBD server (bad magic 0x0123456789abcdef)", 0);

	srv_greet(NBD_FLAG_NO_ZEROES);		/* plain newstyle */
	expect_fail("", -EPROTONOSUPPORT,
		    "server does not offer fixed newstyle negotiation (too old)", 0);
}

/* Replies that break the protocol: NBD_OPT_ABORT, then hang up. */
static void test_bad_replies(void)
{
	uint8_t big[NBD_HS_REPLY_MAX + 1] = { 0, 99 };
	int i;

	start("d");
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, big, sizeof(big));
	expect_fail("d", -EPROTO, "reply of 65537 bytes to NBD_OPT_GO is too long", 1);
	start("d");	/* the longest is skipped */
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, big, sizeof(big) - 1);
	srv_info_export(512, NBD_FLAG_HAS_FLAGS);
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	expect_done("d", 0);

	start("d");
	for (i = 0; i <= NBD_HS_MAX_REPLIES; i++)
		srv_info_export(512, NBD_FLAG_HAS_FLAGS);
	expect_fail("d", -EPROTO, "more than 64 replies to NBD_OPT_GO", 1);

	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	want_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
	want_opt(NBD_OPT_STRUCTURED_REPLY, "");
	expect_fail("d", -EPROTO, "server replied to option 7, not to NBD_OPT_STRUCTURED_REPLY", 1);

	start("d");
	srv_rep(NBD_OPT_GO, NBD_REP_SERVER, "\0\0\0\1d", 5);
	expect_fail("d", -EPROTO, "unexpected reply type 2 to NBD_OPT_GO", 1);

	start("d");
	s64(&srv, NBD_REP_MAGIC + 1);
	s_zeros(&srv, 12);
	expect_fail("d", -EPROTO, "bad option reply magic 0x0003e889045565aa", 1);

	start("d");
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, "\0", 1);
	expect_fail("d", -EPROTO, "NBD_REP_INFO of 1 bytes", 1);

	start("d");
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, "\0\0\0\0\0\0\0\0\0\0\0\0\0", 13);
	expect_fail("d", -EPROTO, "NBD_INFO_EXPORT of 13 bytes, not 12", 1);

	start("d");
	srv_rep(NBD_OPT_GO, NBD_REP_INFO, "\0\3\0\0\2\0\0\0\20\0", 10);
	expect_fail("d", -EPROTO, "NBD_INFO_BLOCK_SIZE of 10 bytes, not 14", 1);

	start("d");
	srv_info_bs(3, 4096, 1 << 20);
	expect_fail("d", -EPROTO,
		    "server's block sizes (minimum 3, preferred 4096, maximum 1048576) are invalid", 1);
	start("d");
	srv_info_bs(4096, 512, 1 << 20);
	expect_fail("d", -EPROTO,
		    "server's block sizes (minimum 4096, preferred 512, maximum 1048576) are invalid", 1);
	start("d");
	srv_info_bs(1, 4096, 4095);
	expect_fail("d", -EPROTO,
		    "server's block sizes (minimum 1, preferred 4096, maximum 4095) are invalid", 1);
	start("d");
	srv_info_bs(1 << 17, 1 << 17, 1 << 20);
	expect_fail("d", -EPROTO,
		    "server's block sizes (minimum 131072, preferred 131072, maximum 1048576) are invalid", 1);

	/* GO accepted, but no size: the server is past haggling, no abort */
	start("d");
	srv_info_bs(1, 4096, 0xffffffff);
	srv_rep(NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
	expect_fail("d", -EPROTO,
		    "server accepted NBD_OPT_GO without describing export 'd'", 0);

	/* the server hangs up while we haggle */
	start("d");
	srv_info_export(512, NBD_FLAG_HAS_FLAGS);
	srv.len -= 3;
	expect_fail("d", -ECONNRESET, "server closed the connection during the handshake", 0);
}

/* The caller's side of the contract. */
static void test_api(void)
{
	const void *out;

	REQUIRE(nbd_hs_init(&c.hs, "x", 0) == 0);
	CHECK_EQ(nbd_hs_step(&c.hs), NBD_HS_RECV);
	CHECK_EQ(nbd_hs_need(&c.hs), 8);
	CHECK_EQ(nbd_hs_out(&c.hs, &out), 0);
	CHECK(out == NULL);
	CHECK_EQ(nbd_hs_sent(&c.hs, 1), -EINVAL);
	CHECK_EQ(nbd_hs_feed(&c.hs, "", 0), 0);
	srv_greet(NBD_FLAG_FIXED_NEWSTYLE);
	CHECK_EQ(nbd_hs_feed(&c.hs, srv.buf, srv.len), 18);
	CHECK_EQ(nbd_hs_step(&c.hs), NBD_HS_SEND);
	CHECK_EQ(nbd_hs_out(&c.hs, &out), 20);
	CHECK_EQ(nbd_hs_sent(&c.hs, 21), -EINVAL);
	CHECK_EQ(nbd_hs_feed(&c.hs, "x", 1), 0);	/* not its turn */
	CHECK_EQ(nbd_hs_sent(&c.hs, 20), 0);
	CHECK_EQ(nbd_hs_need(&c.hs), 20);
	CHECK(nbd_hs_init(&c.hs, NULL, 0) == 0);	/* NULL: the default export */
	CHECK_EQ(c.hs.name_len, 0);
}

int main(void)
{
	test_go();
	test_export_name_fallback();
	test_refusals();
	test_not_nbd();
	test_bad_replies();
	test_api();
	fprintf(stderr, "%d checks\n", unit_checks);
	return unit_done();
}
