// SPDX-License-Identifier: MIT
/*
 * The NBD transmission phase without I/O (see nbd.h): the request encoder,
 * the reply parser, the error and flag mappings; and the message
 * formatter every nbd_*.c file uses, since none of them may use stdio.
 *
 * The reply parser reads like the handshake (nbd_handshake.c): collect
 * `want` bytes into `in`, then throw `discard` bytes away, then call the
 * handler of `state`, which sets up the next collection.  Only the first
 * bytes of anything long are kept, so no length from the server sizes a
 * buffer.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "nbd.h"

/* ---- Messages ---- */

struct fmt_out {
	char *buf;
	size_t size, pos;
};

static void fmt_putc(struct fmt_out *o, char c)
{
	if (o->pos + 1 < o->size)
		o->buf[o->pos++] = c;
}

static void fmt_num(struct fmt_out *o, unsigned long long v, unsigned base,
		    int width)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	for (; width > n; width--)
		fmt_putc(o, '0');
	while (n)
		fmt_putc(o, digits[--n]);
}

void nbd_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, size, 0 };
	const unsigned char *s;
	int width, prec, ll;
	long long d;

	if (!size)
		return;
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			fmt_putc(&o, *fmt);
			continue;
		}
		for (width = 0, fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + *fmt - '0';	/* zeros, for numbers */
		prec = -1;
		if (fmt[0] == '.' && fmt[1] == '*') {
			prec = va_arg(ap, int);
			fmt += 2;
		} else if (fmt[0] == '.') {
			for (prec = 0, fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + *fmt - '0';
		}
		for (ll = 0; *fmt == 'l'; fmt++)
			ll = 1;
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const unsigned char *);
			for (; *s && prec; s++, prec--)
				fmt_putc(&o, *s >= 0x20 && *s < 0x7f ? (char)*s : '?');
			break;
		case 'd':
			d = ll ? va_arg(ap, long long) : va_arg(ap, int);
			if (d < 0)
				fmt_putc(&o, '-');
			fmt_num(&o, d < 0 ? -(unsigned long long)d : (unsigned long long)d,
				10, width);
			break;
		case 'u':
		case 'x':
			fmt_num(&o, ll ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned),
				*fmt == 'x' ? 16 : 10, width);
			break;
		case '\0':
			fmt--;
			break;
		default:
			fmt_putc(&o, *fmt);
		}
	}
	buf[o.pos] = '\0';
}

int nbd_fail(char *err, size_t size, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nbd_vfmt(err, size, fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- Transmission ---- */

void nbd_req_encode(uint8_t *buf, uint16_t type, uint16_t flags,
		    uint64_t cookie, uint64_t offset, uint32_t len)
{
	nbd_put32(buf, NBD_REQUEST_MAGIC);
	nbd_put16(buf + 4, flags);
	nbd_put16(buf + 6, type);
	nbd_put64(buf + 8, cookie);
	nbd_put64(buf + 16, offset);
	nbd_put32(buf + 24, len);
}

int nbd_errno(uint32_t nbd_err)
{
	switch (nbd_err) {
	case 0:			return 0;
	case NBD_EPERM:		return -EPERM;
	case NBD_EIO:		return -EIO;
	case NBD_ENOMEM:	return -ENOMEM;
	case NBD_EINVAL:	return -EINVAL;
	case NBD_ENOSPC:	return -ENOSPC;
	case NBD_EOVERFLOW:	return -EOVERFLOW;
	case NBD_ENOTSUP:	return -EOPNOTSUPP;
	case NBD_ESHUTDOWN:	return -ESHUTDOWN;
	default:		return -EIO;
	}
}

struct nbd_caps nbd_tflags_caps(uint16_t f, int structured)
{
	struct nbd_caps c = { 0 };

	if (!(f & NBD_FLAG_HAS_FLAGS))
		return c;
	c.read_only = !!(f & NBD_FLAG_READ_ONLY);
	c.flush = !!(f & NBD_FLAG_SEND_FLUSH);
	c.fua = c.flush && (f & NBD_FLAG_SEND_FUA);	/* FUA means nothing without a cache */
	c.trim = !!(f & NBD_FLAG_SEND_TRIM);
	c.write_zeroes = !!(f & NBD_FLAG_SEND_WRITE_ZEROES);
	c.fast_zero = c.write_zeroes && (f & NBD_FLAG_SEND_FAST_ZERO);
	c.rotational = !!(f & NBD_FLAG_ROTATIONAL);
	c.df = structured && (f & NBD_FLAG_SEND_DF);
	c.cache = !!(f & NBD_FLAG_SEND_CACHE);
	c.multi_conn = !!(f & NBD_FLAG_CAN_MULTI_CONN);
	return c;
}

enum {	/* nbd_reply_parser.state */
	RP_HEADER, RP_CHUNK, RP_ERR_MSG, RP_ERR_END, RP_DEAD,
};

static void rp_expect(struct nbd_reply_parser *p, int state, uint32_t want,
		      uint32_t discard)
{
	p->state = state;
	p->want = want;
	p->in_len = 0;
	p->discard = discard;
}

__attribute__((format(printf, 2, 3)))
static int rp_fail(struct nbd_reply_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nbd_vfmt(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->error = -EPROTO;
	rp_expect(p, RP_DEAD, 0, 0);
	return p->error;
}

void nbd_reply_init(struct nbd_reply_parser *p, int structured,
		    uint32_t max_payload, nbd_lookup_fn *lookup, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->structured = structured;
	p->max_payload = max_payload;
	p->lookup = lookup;
	p->ctx = ctx;
	rp_expect(p, RP_HEADER, 16, 0);
}

size_t nbd_reply_need(const struct nbd_reply_parser *p)
{
	return (size_t)p->want - p->in_len + p->discard;
}

static void rp_event(struct nbd_reply_parser *p, struct nbd_reply_ev *ev,
		     unsigned what, uint32_t off, uint32_t len)
{
	ev->what |= what;
	ev->req = p->req;
	ev->cookie = p->cookie;
	if (what & (NBD_EV_DATA | NBD_EV_ZERO)) {
		ev->off = off;
		ev->len = len;
	}
}

/* The request's last chunk is in: its result goes to the caller. */
static int rp_done(struct nbd_reply_parser *p, struct nbd_reply_ev *ev)
{
	struct nbd_req *r = p->req;

	if (!r->error && r->type == NBD_CMD_READ && r->covered != r->len)
		return rp_fail(p, "read reply for cookie 0x%llx covers %u of its %u bytes",
			       (unsigned long long)p->cookie, r->covered, r->len);
	rp_event(p, ev, NBD_EV_DONE, 0, 0);
	ev->result = r->error;
	return 0;
}

static int rp_header(struct nbd_reply_parser *p, struct nbd_reply_ev *ev)
{
	uint32_t magic = nbd_get32(p->in), error = nbd_get32(p->in + 4), fixed;
	struct nbd_req *r = NULL;

	p->flags = nbd_get16(p->in + 4);
	p->type = nbd_get16(p->in + 6);
	p->cookie = nbd_get64(p->in + 8);
	if (magic != NBD_SIMPLE_REPLY_MAGIC && magic != NBD_STRUCTURED_REPLY_MAGIC)
		return rp_fail(p, "bad reply magic 0x%08x", magic);
	if (magic == NBD_STRUCTURED_REPLY_MAGIC && !p->structured)
		return rp_fail(p, "structured reply chunk, but structured replies were not negotiated");
	if (p->lookup(p->ctx, p->cookie, &r) < 0 || !r)
		return rp_fail(p, "reply with unknown cookie 0x%llx",
			       (unsigned long long)p->cookie);
	p->req = r;
	if (magic == NBD_SIMPLE_REPLY_MAGIC) {
		if (r->chunks)
			return rp_fail(p, "simple reply to cookie 0x%llx after structured chunks",
				       (unsigned long long)p->cookie);
		if (p->structured && r->type == NBD_CMD_READ)
			return rp_fail(p, "simple reply to read cookie 0x%llx, but structured replies were negotiated",
				       (unsigned long long)p->cookie);
		r->error = nbd_errno(error);
		rp_expect(p, RP_HEADER, 16, 0);
		if (!error && r->type == NBD_CMD_READ && r->len) {
			r->covered = r->len;
			rp_event(p, ev, NBD_EV_DATA, 0, r->len);
		}
		return rp_done(p, ev);
	}
	if (p->type == NBD_REPLY_TYPE_OFFSET_DATA)
		fixed = 8;		/* the offset */
	else if (p->type == NBD_REPLY_TYPE_OFFSET_HOLE)
		fixed = 12;		/* offset, hole size */
	else if (p->type & NBD_REPLY_TYPE_ERROR_BIT)
		fixed = 6;		/* error, message length */
	else if (p->type == NBD_REPLY_TYPE_NONE)
		fixed = 0;
	else
		return rp_fail(p, "unexpected reply chunk type %u for cookie 0x%llx",
			       p->type, (unsigned long long)p->cookie);
	if (r->chunks < UINT16_MAX)
		r->chunks++;
	rp_expect(p, RP_CHUNK, 4 + fixed, 0);	/* the length, then those */
	return 0;
}

static int rp_content(struct nbd_reply_parser *p, struct nbd_reply_ev *ev)
{
	struct nbd_req *r = p->req;
	uint64_t off = nbd_get64(p->in + 4), rel;
	uint32_t n;

	if (r->type != NBD_CMD_READ)
		return rp_fail(p, "data chunk for cookie 0x%llx, which is not a read",
			       (unsigned long long)p->cookie);
	if (p->type == NBD_REPLY_TYPE_OFFSET_DATA) {
		if (p->len < 9)
			return rp_fail(p, "data chunk of length %u carries no data", p->len);
		n = p->len - 8;
		if (n > p->max_payload)
			return rp_fail(p, "data chunk of %u bytes exceeds the maximum of %u",
				       n, p->max_payload);
	} else {
		n = nbd_get32(p->in + 12);
		if (p->len != 12 || !n)
			return rp_fail(p, "hole chunk of length %u for %u bytes", p->len, n);
	}
	rel = off - r->offset;
	if (off < r->offset || rel > r->len || n > r->len - rel)
		return rp_fail(p, "chunk of %u bytes at %llu lies beyond the request's %u bytes at %llu",
			       n, (unsigned long long)off, r->len,
			       (unsigned long long)r->offset);
	if (n > r->len - r->covered)
		return rp_fail(p, "chunks for cookie 0x%llx overlap", (unsigned long long)p->cookie);
	r->covered += n;
	rp_event(p, ev, p->type == NBD_REPLY_TYPE_OFFSET_DATA ? NBD_EV_DATA : NBD_EV_ZERO,
		 (uint32_t)rel, n);
	rp_expect(p, RP_HEADER, 16, 0);
	return p->flags & NBD_REPLY_FLAG_DONE ? rp_done(p, ev) : 0;
}

static int rp_chunk(struct nbd_reply_parser *p, struct nbd_reply_ev *ev)
{
	uint32_t tail = p->type == NBD_REPLY_TYPE_ERROR_OFFSET ? 8 : 0;

	p->len = nbd_get32(p->in);
	if (p->type & NBD_REPLY_TYPE_ERROR_BIT) {
		p->chunk_error = nbd_errno(nbd_get32(p->in + 4));
		p->msg_len = nbd_get16(p->in + 8);
		if (p->len < 6 + tail || p->len > NBD_REPLY_META_MAX ||
		    p->msg_len > p->len - 6 - tail)
			return rp_fail(p, "error chunk of length %u with a %u-byte message",
				       p->len, p->msg_len);
		if (!p->chunk_error)	/* an error chunk says error 0: still an error */
			p->chunk_error = -EIO;
		rp_expect(p, RP_ERR_MSG, 0, p->msg_len);
		return 0;
	}
	if (p->type != NBD_REPLY_TYPE_NONE)
		return rp_content(p, ev);
	if (p->len || !(p->flags & NBD_REPLY_FLAG_DONE))
		return rp_fail(p, "NBD_REPLY_TYPE_NONE chunk of %u bytes, flags 0x%x",
			       p->len, p->flags);
	rp_expect(p, RP_HEADER, 16, 0);
	return rp_done(p, ev);
}

static int rp_error_end(struct nbd_reply_parser *p, struct nbd_reply_ev *ev)
{
	struct nbd_req *r = p->req;
	uint64_t off = nbd_get64(p->in);

	if (p->type == NBD_REPLY_TYPE_ERROR_OFFSET &&
	    (off < r->offset || off - r->offset >= r->len))
		return rp_fail(p, "error at %llu, outside the request's %u bytes at %llu",
			       (unsigned long long)off, r->len,
			       (unsigned long long)r->offset);
	if (!r->error)
		r->error = p->chunk_error;
	rp_expect(p, RP_HEADER, 16, 0);
	return p->flags & NBD_REPLY_FLAG_DONE ? rp_done(p, ev) : 0;
}

static int rp_handle(struct nbd_reply_parser *p, struct nbd_reply_ev *ev)
{
	uint32_t rest;

	switch (p->state) {
	case RP_HEADER:
		return rp_header(p, ev);
	case RP_CHUNK:
		return rp_chunk(p, ev);
	case RP_ERR_MSG:	/* message skipped: the offset, the rest skipped */
		rest = p->len - 6 - p->msg_len;
		if (p->type == NBD_REPLY_TYPE_ERROR_OFFSET)
			rp_expect(p, RP_ERR_END, 8, rest - 8);
		else
			rp_expect(p, RP_ERR_END, 0, rest);
		return 0;
	case RP_ERR_END:
		return rp_error_end(p, ev);
	}
	return p->error;
}

int nbd_reply_feed(struct nbd_reply_parser *p, const void *buf, size_t len,
		   struct nbd_reply_ev *ev)
{
	const uint8_t *b = buf;
	size_t done = 0, n;
	int ret;

	memset(ev, 0, sizeof(*ev));
	if (p->error)
		return p->error;
	len = nbd_min(len, INT_MAX);
	while (!ev->what) {
		if (p->in_len < p->want) {
			if (done == len)
				break;
			n = nbd_min(p->want - p->in_len, len - done);
			memcpy(p->in + p->in_len, b + done, n);
			p->in_len += (uint32_t)n;
			done += n;
		} else if (p->discard) {
			if (done == len)
				break;
			n = nbd_min(p->discard, len - done);
			p->discard -= (uint32_t)n;
			done += n;
		} else {
			ret = rp_handle(p, ev);
			if (ret < 0) {
				memset(ev, 0, sizeof(*ev));
				return ret;
			}
		}
	}
	return (int)done;
}
