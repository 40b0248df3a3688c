// SPDX-License-Identifier: MIT
/*
 * The NBD client handshake without I/O (see nbd.h): fixed newstyle,
 * NBD_OPT_STRUCTURED_REPLY, then NBD_OPT_GO or, on servers without it,
 * NBD_OPT_EXPORT_NAME.
 *
 * The machine collects `want` bytes into `in`, then throws `discard` bytes
 * away, then calls the handler of `state`, which sets up the next
 * collection or a message to send.  Only the first bytes of a long reply
 * are kept, so no length from the server sizes a buffer.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include "nbd.h"

enum {	/* nbd_hs.state: what the bytes being collected are */
	HS_GREET_MAGIC, HS_GREET_STYLE, HS_GREET_FLAGS,
	HS_REP_HDR, HS_REP_BODY, HS_EXPORT_REPLY, HS_ABORT, HS_END,
};

static const char *opt_name(uint32_t opt)
{
	switch (opt) {
	case NBD_OPT_GO:		return "NBD_OPT_GO";
	case NBD_OPT_STRUCTURED_REPLY:	return "NBD_OPT_STRUCTURED_REPLY";
	case NBD_OPT_EXPORT_NAME:	return "NBD_OPT_EXPORT_NAME";
	case NBD_OPT_ABORT:		return "NBD_OPT_ABORT";
	default:			return "an unknown option";
	}
}

static void hs_expect(struct nbd_hs *hs, int state, uint32_t want,
		      uint32_t discard)
{
	hs->state = state;
	hs->want = want;
	hs->in_len = 0;
	hs->discard = discard;
}

/* Append option @opt to what goes out next, and await its answer. */
static void hs_send_opt(struct nbd_hs *hs, uint32_t opt)
{
	uint8_t *p = hs->out + hs->out_len;
	uint32_t n = hs->name_len, len = 0;

	if (opt == NBD_OPT_GO) {
		len = 4 + n + 2 + 2;
		nbd_put32(p + 16, n);
		memcpy(p + 20, hs->name, n);
		nbd_put16(p + 20 + n, 1);		/* one information request */
		nbd_put16(p + 22 + n, NBD_INFO_BLOCK_SIZE);
	} else if (opt == NBD_OPT_EXPORT_NAME) {
		len = n;
		memcpy(p + 16, hs->name, n);
	}
	nbd_put64(p, NBD_IHAVEOPT);
	nbd_put32(p + 8, opt);
	nbd_put32(p + 12, len);
	hs->out_len += 16 + len;
	hs->opt = opt;
	hs->nr_replies = 0;
	hs->step = NBD_HS_SEND;
	if (opt == NBD_OPT_EXPORT_NAME)
		hs_expect(hs, HS_EXPORT_REPLY, 10, hs->no_zeroes ? 0 : 124);
	else if (opt == NBD_OPT_ABORT)
		hs_expect(hs, HS_ABORT, 0, 0);
	else
		hs_expect(hs, HS_REP_HDR, 20, 0);
}

static void hs_next_opt(struct nbd_hs *hs, uint32_t opt)
{
	hs->out_len = hs->out_off = 0;
	hs_send_opt(hs, opt);
}

/*
 * Fail with a line in hs->err.  While options are being haggled the
 * disconnect is a soft one: NBD_OPT_ABORT goes out first.
 */
__attribute__((format(printf, 3, 4)))
static int hs_fail(struct nbd_hs *hs, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nbd_vfmt(hs->err, sizeof(hs->err), fmt, ap);
	va_end(ap);
	hs->error = ret;
	if (hs->state == HS_REP_HDR || hs->state == HS_REP_BODY) {
		hs_next_opt(hs, NBD_OPT_ABORT);
	} else {
		hs->state = HS_END;
		hs->step = NBD_HS_FAILED;
	}
	return ret;
}

/* ": what the server said", when it said something. */
static void hs_append_msg(struct nbd_hs *hs, uint32_t len)
{
	size_t at = strlen(hs->err);

	while (len && hs->in[len - 1] <= ' ')
		len--;
	if (len)
		nbd_fail(hs->err + at, sizeof(hs->err) - at, 0, ": %.*s",
			(int)len, (const char *)hs->in);
}

static int hs_greeting(struct nbd_hs *hs)
{
	uint64_t magic = nbd_get64(hs->in);
	uint16_t flags;

	switch (hs->state) {
	case HS_GREET_MAGIC:
		if (magic != NBD_MAGIC)
			return hs_fail(hs, -EPROTO, "not an NBD server (bad magic 0x%016llx)",
				       (unsigned long long)magic);
		hs_expect(hs, HS_GREET_STYLE, 8, 0);
		return 0;
	case HS_GREET_STYLE:
		if (magic == NBD_CLISERV_MAGIC)
			return hs_fail(hs, -EPROTONOSUPPORT,
				       "server speaks the oldstyle handshake, which is not supported");
		if (magic != NBD_IHAVEOPT)
			return hs_fail(hs, -EPROTO, "not an NBD server (bad magic 0x%016llx)",
				       (unsigned long long)magic);
		hs_expect(hs, HS_GREET_FLAGS, 2, 0);
		return 0;
	}
	flags = nbd_get16(hs->in);
	if (!(flags & NBD_FLAG_FIXED_NEWSTYLE))
		return hs_fail(hs, -EPROTONOSUPPORT,
			       "server does not offer fixed newstyle negotiation (too old)");
	hs->no_zeroes = !!(flags & NBD_FLAG_NO_ZEROES);
	nbd_put32(hs->out, NBD_FLAG_C_FIXED_NEWSTYLE |
		       (hs->no_zeroes ? NBD_FLAG_C_NO_ZEROES : 0));
	hs->out_len = 4;
	hs->out_off = 0;
	hs_send_opt(hs, hs->flags & NBD_HS_F_NO_STRUCTURED ?
			NBD_OPT_GO : NBD_OPT_STRUCTURED_REPLY);
	return 0;
}

static int hs_reply_header(struct nbd_hs *hs)
{
	uint64_t magic = nbd_get64(hs->in);
	uint32_t opt = nbd_get32(hs->in + 8), type = nbd_get32(hs->in + 12);
	uint32_t len = nbd_get32(hs->in + 16), keep;

	if (magic != NBD_REP_MAGIC)
		return hs_fail(hs, -EPROTO, "bad option reply magic 0x%016llx",
			       (unsigned long long)magic);
	if (opt != hs->opt)
		return hs_fail(hs, -EPROTO, "server replied to option %u, not to %s",
			       opt, opt_name(hs->opt));
	if (len > NBD_HS_REPLY_MAX)
		return hs_fail(hs, -EPROTO, "reply of %u bytes to %s is too long",
			       len, opt_name(opt));
	if (++hs->nr_replies > NBD_HS_MAX_REPLIES)
		return hs_fail(hs, -EPROTO, "more than %u replies to %s",
			       NBD_HS_MAX_REPLIES, opt_name(opt));
	if (type & NBD_REP_FLAG_ERROR)
		keep = NBD_HS_MSG_MAX;		/* the start of the message */
	else if (type == NBD_REP_INFO && opt == NBD_OPT_GO)
		keep = 14;			/* the longest info we read */
	else if (type == NBD_REP_ACK)
		keep = 0;
	else
		return hs_fail(hs, -EPROTO, "unexpected reply type %u to %s",
			       type, opt_name(opt));
	keep = (uint32_t)nbd_min(keep, len);
	hs->rep_type = type;
	hs->rep_len = len;
	hs_expect(hs, HS_REP_BODY, keep, len - keep);
	return 0;
}

static int hs_info(struct nbd_hs *hs)
{
	const uint8_t *in = hs->in;
	uint32_t min, pref, max;

	if (hs->rep_len < 2)
		return hs_fail(hs, -EPROTO, "NBD_REP_INFO of %u bytes", hs->rep_len);
	switch (nbd_get16(in)) {
	case NBD_INFO_EXPORT:
		if (hs->rep_len != 12)
			return hs_fail(hs, -EPROTO, "NBD_INFO_EXPORT of %u bytes, not 12",
				       hs->rep_len);
		hs->exp.size = nbd_get64(in + 2);
		hs->exp.tflags = nbd_get16(in + 10);
		hs->have_export = 1;
		break;
	case NBD_INFO_BLOCK_SIZE:
		if (hs->rep_len != 14)
			return hs_fail(hs, -EPROTO, "NBD_INFO_BLOCK_SIZE of %u bytes, not 14",
				       hs->rep_len);
		min = nbd_get32(in + 2);
		pref = nbd_get32(in + 6);
		max = nbd_get32(in + 10);
		/* powers of 2, min <= 64 KiB, max(min, 512) <= pref <= max */
		if (!min || min & (min - 1) || min > 65536 || pref & (pref - 1) ||
		    pref < min || pref < 512 || max < pref)
			return hs_fail(hs, -EPROTO,
				       "server's block sizes (minimum %u, preferred %u, maximum %u) are invalid",
				       min, pref, max);
		hs->exp.min_bs = min;
		hs->exp.pref_bs = pref;
		hs->exp.max_bs = max;
		break;
	}
	return 0;
}

static int hs_option_error(struct nbd_hs *hs, uint32_t msg_len)
{
	const char *name = hs->name;
	uint32_t type = hs->rep_type;
	int ret;

	if (type == NBD_REP_ERR_SHUTDOWN)
		ret = hs_fail(hs, -ESHUTDOWN, "server is shutting down");
	else if (type == NBD_REP_ERR_TLS_REQD)
		ret = hs_fail(hs, -EOPNOTSUPP, "server requires TLS, which is not supported");
	else if (hs->opt == NBD_OPT_STRUCTURED_REPLY)
		ret = 0;	/* UNSUP, POLICY, ...: simple replies it is */
	else if (type == NBD_REP_ERR_UNSUP)
		ret = 1;	/* no NBD_OPT_GO: the old way */
	else if (type == NBD_REP_ERR_UNKNOWN)
		ret = hs_fail(hs, -ENOENT, "server has no export '%.64s'", name);
	else if (type == NBD_REP_ERR_POLICY)
		ret = hs_fail(hs, -EACCES, "server refuses export '%.64s' (policy)", name);
	else
		ret = hs_fail(hs, -EPROTO, "server refuses export '%.64s' (error 0x%x)",
			      name, type);
	if (ret < 0) {
		hs_append_msg(hs, msg_len);
		return ret;
	}
	hs_next_opt(hs, ret ? NBD_OPT_EXPORT_NAME : NBD_OPT_GO);
	return 0;
}

static int hs_reply_body(struct nbd_hs *hs)
{
	uint32_t kept = hs->want;

	hs_expect(hs, HS_REP_HDR, 20, 0);	/* the next reply, unless ... */
	if (hs->rep_type & NBD_REP_FLAG_ERROR)
		return hs_option_error(hs, kept);
	if (hs->rep_type == NBD_REP_INFO)
		return hs_info(hs);
	if (hs->opt == NBD_OPT_STRUCTURED_REPLY) {
		hs->exp.structured = 1;
		hs_next_opt(hs, NBD_OPT_GO);
		return 0;
	}
	/* GO acknowledged: the server is in the transmission phase now */
	hs->state = HS_END;
	if (!hs->have_export)
		return hs_fail(hs, -EPROTO,
			       "server accepted NBD_OPT_GO without describing export '%.64s'",
			       hs->name);
	hs->step = NBD_HS_DONE;
	return 0;
}

static int hs_handle(struct nbd_hs *hs)
{
	switch (hs->state) {
	case HS_REP_HDR:
		return hs_reply_header(hs);
	case HS_REP_BODY:
		return hs_reply_body(hs);
	case HS_EXPORT_REPLY:	/* the 124 zeros, if any, are discarded */
		hs->exp.size = nbd_get64(hs->in);
		hs->exp.tflags = nbd_get16(hs->in + 8);
		hs->state = HS_END;
		hs->step = NBD_HS_DONE;
		return 0;
	default:
		return hs_greeting(hs);
	}
}

int nbd_hs_init(struct nbd_hs *hs, const char *export_name, unsigned flags)
{
	size_t len = export_name ? strlen(export_name) : 0;

	memset(hs, 0, sizeof(*hs));
	hs->flags = flags;
	hs->exp.min_bs = NBD_DEFAULT_MIN_BS;
	hs->exp.pref_bs = NBD_DEFAULT_PREF_BS;
	hs->exp.max_bs = NBD_DEFAULT_MAX_BS;
	hs->step = NBD_HS_RECV;
	hs_expect(hs, HS_GREET_MAGIC, 8, 0);
	if (len > NBD_MAX_STRING)
		return hs_fail(hs, -EINVAL, "export name of %llu bytes is longer than %u",
			       (unsigned long long)len, NBD_MAX_STRING);
	if (len)
		memcpy(hs->name, export_name, len);
	hs->name_len = (uint32_t)len;
	return 0;
}

size_t nbd_hs_out(const struct nbd_hs *hs, const void **buf)
{
	if (hs->step != NBD_HS_SEND) {
		*buf = NULL;
		return 0;
	}
	*buf = hs->out + hs->out_off;
	return hs->out_len - hs->out_off;
}

int nbd_hs_sent(struct nbd_hs *hs, size_t n)
{
	if (hs->step != NBD_HS_SEND || n > hs->out_len - hs->out_off)
		return -EINVAL;
	hs->out_off += (uint32_t)n;
	if (hs->out_off == hs->out_len)
		hs->step = hs->state == HS_ABORT ? NBD_HS_FAILED : NBD_HS_RECV;
	return 0;
}

size_t nbd_hs_need(const struct nbd_hs *hs)
{
	if (hs->step != NBD_HS_RECV)
		return 0;
	return (size_t)hs->want - hs->in_len + hs->discard;
}

int nbd_hs_feed(struct nbd_hs *hs, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0, n;
	int ret;

	if (hs->step != NBD_HS_RECV)
		return hs->error;
	len = nbd_min(len, INT_MAX);
	while (hs->step == NBD_HS_RECV) {
		if (hs->in_len < hs->want) {
			if (done == len)
				break;
			n = nbd_min(hs->want - hs->in_len, len - done);
			memcpy(hs->in + hs->in_len, p + done, n);
			hs->in_len += (uint32_t)n;
			done += n;
		} else if (hs->discard) {
			if (done == len)
				break;
			n = nbd_min(hs->discard, len - done);
			hs->discard -= (uint32_t)n;
			done += n;
		} else {
			ret = hs_handle(hs);
			if (ret < 0)
				return ret;
		}
	}
	return (int)done;
}

void nbd_hs_eof(struct nbd_hs *hs)
{
	int state = hs->state;

	if (hs->step == NBD_HS_DONE || hs->step == NBD_HS_FAILED)
		return;
	hs->state = HS_END;		/* no one to send NBD_OPT_ABORT to */
	if (state == HS_ABORT)
		hs->step = NBD_HS_FAILED;
	else if (state == HS_GREET_MAGIC && !hs->in_len)
		hs_fail(hs, -ECONNRESET, "server closed the connection without a greeting");
	else if (state == HS_EXPORT_REPLY)
		hs_fail(hs, -ECONNRESET,
			"server closed the connection: it has no export '%.64s' or refuses it",
			hs->name);
	else
		hs_fail(hs, -ECONNRESET, "server closed the connection during the handshake");
}
