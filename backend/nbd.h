/* SPDX-License-Identifier: MIT */
/*
 * The NBD protocol, client side, without I/O: byte buffers in, byte buffers
 * out, so that all of it runs (and is fuzzed) on the host.  Private to the
 * nbd target (backend/nbd*.c) and its tests: nbd_handshake.c, nbd_proto.c
 * (transmission, and the message formatter) and nbd_uri.c implement it.
 *
 * Facts from the protocol document (NetworkBlockDevice/nbd doc/proto.md)
 * and the URI document (doc/uri.md).  Every number on the wire is big
 * endian.  Functions return 0 or a count, or -errno; those that fail for a
 * reason worth telling leave one printable line in an err buffer.
 */
#ifndef SUBLK_NBD_H
#define SUBLK_NBD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Handshake ---- */

#define NBD_MAGIC		0x4e42444d41474943ULL	/* "NBDMAGIC" */
#define NBD_IHAVEOPT		0x49484156454f5054ULL	/* "IHAVEOPT": newstyle */
#define NBD_CLISERV_MAGIC	0x0000420281861253ULL	/* oldstyle */
#define NBD_REP_MAGIC		0x0003e889045565a9ULL	/* option reply */

#define NBD_FLAG_FIXED_NEWSTYLE		(1 << 0)	/* handshake flags */
#define NBD_FLAG_NO_ZEROES		(1 << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE	(1 << 0)	/* client flags */
#define NBD_FLAG_C_NO_ZEROES		(1 << 1)

#define NBD_OPT_EXPORT_NAME		1
#define NBD_OPT_ABORT			2
#define NBD_OPT_GO			7
#define NBD_OPT_STRUCTURED_REPLY	8

#define NBD_REP_ACK			1
#define NBD_REP_SERVER			2
#define NBD_REP_INFO			3
#define NBD_REP_FLAG_ERROR		(1U << 31)
#define NBD_REP_ERR_UNSUP		(NBD_REP_FLAG_ERROR | 1)
#define NBD_REP_ERR_POLICY		(NBD_REP_FLAG_ERROR | 2)
#define NBD_REP_ERR_INVALID		(NBD_REP_FLAG_ERROR | 3)
#define NBD_REP_ERR_PLATFORM		(NBD_REP_FLAG_ERROR | 4)
#define NBD_REP_ERR_TLS_REQD		(NBD_REP_FLAG_ERROR | 5)
#define NBD_REP_ERR_UNKNOWN		(NBD_REP_FLAG_ERROR | 6)
#define NBD_REP_ERR_SHUTDOWN		(NBD_REP_FLAG_ERROR | 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD	(NBD_REP_FLAG_ERROR | 8)
#define NBD_REP_ERR_TOO_BIG		(NBD_REP_FLAG_ERROR | 9)

#define NBD_INFO_EXPORT			0
#define NBD_INFO_NAME			1
#define NBD_INFO_DESCRIPTION		2
#define NBD_INFO_BLOCK_SIZE		3

/* Transmission flags: what the server offers for this export */
#define NBD_FLAG_HAS_FLAGS		(1 << 0)
#define NBD_FLAG_READ_ONLY		(1 << 1)
#define NBD_FLAG_SEND_FLUSH		(1 << 2)
#define NBD_FLAG_SEND_FUA		(1 << 3)
#define NBD_FLAG_ROTATIONAL		(1 << 4)
#define NBD_FLAG_SEND_TRIM		(1 << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES	(1 << 6)
#define NBD_FLAG_SEND_DF		(1 << 7)
#define NBD_FLAG_CAN_MULTI_CONN		(1 << 8)
#define NBD_FLAG_SEND_CACHE		(1 << 10)
#define NBD_FLAG_SEND_FAST_ZERO		(1 << 11)

/* Strings (export names, messages) are at most this long on the wire. */
#define NBD_MAX_STRING		4096
/* Longest option reply the handshake accepts, skipped data included. */
#define NBD_HS_REPLY_MAX	(64 << 10)
/* Replies to one option before the server is deemed to babble. */
#define NBD_HS_MAX_REPLIES	64
/* How much of a server's error message the handshake keeps. */
#define NBD_HS_MSG_MAX		128
/* Client flags and the largest option: NBD_OPT_GO with a 4096-byte name. */
#define NBD_HS_OUT_MAX		(4 + 16 + 4 + NBD_MAX_STRING + 2 + 2)

/* Size constraints when the server states none (proto.md, Size constraints) */
#define NBD_DEFAULT_MIN_BS	1U
#define NBD_DEFAULT_PREF_BS	4096U
#define NBD_DEFAULT_MAX_BS	(32U << 20)

/* What the handshake learnt about the export. */
struct nbd_export {
	uint64_t size;		/* bytes */
	uint16_t tflags;	/* NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY, ... */
	uint32_t min_bs;	/* NBD_INFO_BLOCK_SIZE, or the defaults above; */
	uint32_t pref_bs;	/* after a GO that asked for them the client */
	uint32_t max_bs;	/* MUST keep to them (0xffffffff: no limit) */
	int structured;		/* structured replies were negotiated */
};

/* What the caller does next (nbd_hs_step()). */
enum nbd_hs_step {
	NBD_HS_SEND = 1,	/* send nbd_hs_out(), report it with nbd_hs_sent() */
	NBD_HS_RECV,		/* receive up to nbd_hs_need() bytes, nbd_hs_feed() them */
	NBD_HS_DONE,		/* hs->exp holds the export: transmission phase */
	NBD_HS_FAILED,		/* hs->err says why; close the connection */
};

#define NBD_HS_F_NO_STRUCTURED	(1 << 0)	/* do not ask for structured replies */

/*
 * The client handshake, fixed newstyle only, as a state machine fed by the
 * caller.  It sends the client flags and NBD_OPT_STRUCTURED_REPLY, then
 * NBD_OPT_GO asking for NBD_INFO_BLOCK_SIZE, and falls back to
 * NBD_OPT_EXPORT_NAME when the server does not know GO.
 *
 *	nbd_hs_init(&hs, name, 0);
 *	while (nbd_hs_step(&hs) == NBD_HS_SEND || nbd_hs_step(&hs) == NBD_HS_RECV)
 *		SEND: n = send(nbd_hs_out(&hs, &buf)), nbd_hs_sent(&hs, n);
 *		RECV: n = recv(buf, nbd_hs_need(&hs)), n ? nbd_hs_feed(&hs, buf, n)
 *						     : nbd_hs_eof(&hs);
 *
 * A refusal after option haggling began first queues an NBD_OPT_ABORT
 * (step NBD_HS_SEND) so the disconnect is a soft one; after it is sent the
 * step is NBD_HS_FAILED and nbd_hs_error() tells the -errno: -ENOENT no
 * such export, -EACCES refused by policy, -EOPNOTSUPP TLS required,
 * -ESHUTDOWN server shutting down, -EPROTONOSUPPORT oldstyle or plain
 * newstyle server, -ECONNRESET hung up, -EPROTO anything else (not NBD,
 * a reply that breaks the protocol or the limits above).  The struct
 * holds everything (about 9 KiB); nothing is allocated.
 */
struct nbd_hs {
	struct nbd_export exp;		/* valid at NBD_HS_DONE */
	char err[256];			/* one line, at NBD_HS_FAILED */

	/* private to nbd_handshake.c */
	int step, state, error;
	unsigned flags;
	int no_zeroes, have_export;
	uint32_t opt, rep_type, rep_len, nr_replies;
	uint32_t want, in_len, discard;	/* collect want bytes, then discard */
	uint8_t in[NBD_HS_MSG_MAX];
	uint32_t out_len, out_off;
	uint8_t out[NBD_HS_OUT_MAX];
	uint32_t name_len;
	char name[NBD_MAX_STRING + 1];
};

/* -EINVAL with hs->err set if @export_name is longer than NBD_MAX_STRING. */
int nbd_hs_init(struct nbd_hs *hs, const char *export_name, unsigned flags);
static inline enum nbd_hs_step nbd_hs_step(const struct nbd_hs *hs)
{
	return (enum nbd_hs_step)hs->step;
}
/* The bytes still to send at NBD_HS_SEND (0 at any other step). */
size_t nbd_hs_out(const struct nbd_hs *hs, const void **buf);
/* @n of them went out; -EINVAL if that is more than nbd_hs_out() offered. */
int nbd_hs_sent(struct nbd_hs *hs, size_t n);
/* Bytes the handshake is sure to read before it decides anything. */
size_t nbd_hs_need(const struct nbd_hs *hs);
/*
 * nbd_hs_feed - received bytes.  Returns how many it took (it stops where
 * its current step ends: the rest belongs to the next step, or after
 * NBD_HS_DONE to the transmission phase), or the -errno of a failure.
 */
int nbd_hs_feed(struct nbd_hs *hs, const void *buf, size_t len);
/* The server closed the connection: fails the handshake, says when. */
void nbd_hs_eof(struct nbd_hs *hs);
/* 0, or the -errno the handshake failed with. */
static inline int nbd_hs_error(const struct nbd_hs *hs)
{
	return hs->error;
}

/* ---- Transmission ---- */

#define NBD_REQUEST_MAGIC		0x25609513
#define NBD_SIMPLE_REPLY_MAGIC		0x67446698
#define NBD_STRUCTURED_REPLY_MAGIC	0x668e33ef
#define NBD_REQ_SIZE			28	/* request header */

#define NBD_CMD_READ		0
#define NBD_CMD_WRITE		1
#define NBD_CMD_DISC		2
#define NBD_CMD_FLUSH		3
#define NBD_CMD_TRIM		4
#define NBD_CMD_CACHE		5
#define NBD_CMD_WRITE_ZEROES	6

#define NBD_CMD_FLAG_FUA	(1 << 0)
#define NBD_CMD_FLAG_NO_HOLE	(1 << 1)
#define NBD_CMD_FLAG_DF		(1 << 2)
#define NBD_CMD_FLAG_FAST_ZERO	(1 << 4)

#define NBD_REPLY_FLAG_DONE		(1 << 0)
#define NBD_REPLY_TYPE_NONE		0
#define NBD_REPLY_TYPE_OFFSET_DATA	1
#define NBD_REPLY_TYPE_OFFSET_HOLE	2
#define NBD_REPLY_TYPE_BLOCK_STATUS	5
#define NBD_REPLY_TYPE_ERROR_BIT	(1 << 15)
#define NBD_REPLY_TYPE_ERROR		(NBD_REPLY_TYPE_ERROR_BIT | 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET	(NBD_REPLY_TYPE_ERROR_BIT | 2)

/* Longest structured chunk that carries no read data. */
#define NBD_REPLY_META_MAX	(64 << 10)

/* Error values (proto.md, Error values) */
#define NBD_EPERM	1
#define NBD_EIO		5
#define NBD_ENOMEM	12
#define NBD_EINVAL	22
#define NBD_ENOSPC	28
#define NBD_EOVERFLOW	75
#define NBD_ENOTSUP	95
#define NBD_ESHUTDOWN	108

/* A 28-byte request header at @buf. */
void nbd_req_encode(uint8_t *buf, uint16_t type, uint16_t flags,
		    uint64_t cookie, uint64_t offset, uint32_t len);

/* An NBD error value as -errno: 0 stays 0, an unknown one is -EIO. */
int nbd_errno(uint32_t nbd_err);

/* A request in flight, in the caller's per-request state. */
struct nbd_req {
	uint64_t offset;	/* as sent */
	uint32_t len;
	uint16_t type;		/* NBD_CMD_* */
	/* the reply parser's: zero them when the request is sent */
	uint16_t chunks;	/* structured chunks seen (saturates) */
	uint32_t covered;	/* read bytes given as data or hole */
	int error;		/* first error chunk's -errno */
};

static inline void nbd_req_set(struct nbd_req *r, uint16_t type,
			       uint64_t offset, uint32_t len)
{
	*r = (struct nbd_req){ .offset = offset, .len = len, .type = type };
}

/*
 * The caller's table of requests in flight: point *req at the request
 * sent with @cookie, or return -ENOENT if none is.
 */
typedef int nbd_lookup_fn(void *ctx, uint64_t cookie, struct nbd_req **req);

/* What a reply asks of the caller, in this order: */
#define NBD_EV_DATA	(1 << 0)	/* the stream's next len bytes go to the
					 * request's buffer at off: take them
					 * out of the stream, then feed on */
#define NBD_EV_ZERO	(1 << 1)	/* zero len bytes at off */
#define NBD_EV_DONE	(1 << 2)	/* complete the request with result */

struct nbd_reply_ev {
	unsigned what;		/* NBD_EV_*, 0: no event yet */
	struct nbd_req *req;
	uint64_t cookie;
	uint32_t off, len;	/* within the request's buffer */
	int result;		/* at NBD_EV_DONE: 0 (bytes all there) or -errno */
};

/*
 * The reply stream of one connection, decoded as it arrives.  The parser
 * never copies read data: NBD_EV_DATA tells where it goes, and the caller
 * receives it there itself.  A reply that breaks the protocol (bad magic,
 * unknown cookie, data outside the request, a length beyond the limits)
 * is an error with a line in p->err; the stream is then dead, the caller
 * must hard-disconnect.  An NBD_ESHUTDOWN result asks for NBD_CMD_DISC.
 */
struct nbd_reply_parser {
	char err[160];

	/* private to nbd_proto.c */
	nbd_lookup_fn *lookup;
	void *ctx;
	uint32_t max_payload;
	int structured, error, state;
	struct nbd_req *req;
	uint64_t cookie;
	uint16_t flags, type;
	uint32_t len, msg_len;
	int chunk_error;
	uint32_t want, in_len, discard;
	uint8_t in[16];
};

/* @max_payload: the largest data chunk accepted (the largest read sent). */
void nbd_reply_init(struct nbd_reply_parser *p, int structured,
		    uint32_t max_payload, nbd_lookup_fn *lookup, void *ctx);
/* Bytes the parser is sure to need before its next event. */
size_t nbd_reply_need(const struct nbd_reply_parser *p);
/*
 * nbd_reply_feed - received bytes.  Returns how many it took, stopping
 * right after an event (ev->what != 0) so the caller can act on it; or a
 * -errno (-EPROTO) when the stream breaks the protocol, every time after.
 */
int nbd_reply_feed(struct nbd_reply_parser *p, const void *buf, size_t len,
		   struct nbd_reply_ev *ev);

/* What the transmission flags let the device offer. */
struct nbd_caps {
	unsigned read_only:1;
	unsigned flush:1;	/* a volatile cache: NBD_CMD_FLUSH */
	unsigned fua:1;		/* NBD_CMD_FLAG_FUA (only with flush) */
	unsigned trim:1;
	unsigned write_zeroes:1;
	unsigned fast_zero:1;
	unsigned rotational:1;
	unsigned df:1;
	unsigned cache:1;
	unsigned multi_conn:1;	/* several connections see one cache */
};

/* Without NBD_FLAG_HAS_FLAGS no bit is trusted: nothing is offered. */
struct nbd_caps nbd_tflags_caps(uint16_t tflags, int structured);

/* ---- URIs (doc/uri.md) ---- */

#define NBD_DEFAULT_PORT	"10809"

struct nbd_addr {
	char host[256];		/* name or address, IPv6 without brackets */
	char port[8];		/* "10809" by default; "" for a socket */
	char unix_path[108];	/* nbd+unix: the socket; "" for TCP */
	char export_name[NBD_MAX_STRING];	/* percent-decoded */
};

/*
 * nbd_uri_parse - nbd://HOST[:PORT][/EXPORT] or
 * nbd+unix:///[EXPORT]?socket=PATH into @a.  Anything else, TLS schemes
 * included, is -EINVAL (-ENAMETOOLONG for what does not fit) with a line
 * in @err.
 */
int nbd_uri_parse(const char *uri, struct nbd_addr *a, char *err,
		  size_t err_len);

/* ---- Shared by backend/nbd_*.c ---- */

/*
 * The part of vsnprintf the nbd files need, without stdio: %s with an
 * optional precision (.N or .*), %d, %u, %x, %llu, %llx (a width pads
 * them with zeros: %016llx), %%.  A string's
 * bytes outside printable ASCII come out as '?', so nothing from the server
 * or the user can break the line.  Truncates; NUL-terminates a nonzero
 * @size.
 */
void nbd_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
/* nbd_vfmt() into @err; returns @ret. */
int nbd_fail(char *err, size_t size, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
	nbd_put16(p, (uint16_t)(v >> 16));
	nbd_put16(p + 2, (uint16_t)v);
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}

static inline uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
	return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

static inline size_t nbd_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

#endif
