// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the NBD reply parser against any reply stream.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=gnu11 \
 *		tests/fuzz/fuzz_nbd_reply.c backend/nbd_*.c
 *
 * Input byte 0 picks simple or structured replies and how the stream is
 * cut into feeds; the rest is what the server says.  Eight requests are in
 * flight, cookies 0 to 7, each read with a buffer of exactly its length, so
 * any data or hole the parser places outside it is an ASan report.  Events
 * are acted on as the nbd target will: data taken out of the stream into
 * the buffer, holes zeroed, a completed request no longer in flight.
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "../../backend/nbd.h"

#define NR_REQS		8
#define MAX_PAYLOAD	(64 << 10)

struct freq {
	struct nbd_req r;
	int busy;
	uint8_t *buf;
};

static const struct { uint16_t type; uint64_t off; uint32_t len; } table[NR_REQS] = {
	{ NBD_CMD_READ, 0, 4096 },
	{ NBD_CMD_READ, 1 << 20, MAX_PAYLOAD },
	{ NBD_CMD_WRITE, 512, 512 },
	{ NBD_CMD_FLUSH, 0, 0 },
	{ NBD_CMD_READ, UINT64_MAX - 4095, 4096 },
	{ NBD_CMD_TRIM, 0, 1U << 30 },
	{ NBD_CMD_READ, 4096, 1 },
	{ NBD_CMD_WRITE_ZEROES, 1 << 20, 1 << 20 },
};

static const size_t cuts[] = { 0, 1, 2, 5, 16, 20, 4096, SIZE_MAX };

static int lookup(void *ctx, uint64_t cookie, struct nbd_req **req)
{
	struct freq *reqs = ctx;

	if (cookie >= NR_REQS || !reqs[cookie].busy)
		return -ENOENT;
	*req = &reqs[cookie].r;
	return 0;
}

static void play(const uint8_t *srv, size_t len, int structured, size_t cut,
		 struct freq *reqs)
{
	struct nbd_reply_parser p;
	struct nbd_reply_ev ev;
	struct freq *f;
	size_t pos = 0, n;
	int ret;

	nbd_reply_init(&p, structured, MAX_PAYLOAD, lookup, reqs);
	while (pos < len) {
		n = cut ? cut : nbd_reply_need(&p);
		if (!n)
			abort();
		n = n < len - pos ? n : len - pos;
		ret = nbd_reply_feed(&p, srv + pos, n, &ev);
		if (ret < 0) {
			if (ev.what || p.err[0] == '\0')
				abort();
			fuzz_check_line(p.err, sizeof(p.err));
			if (nbd_reply_feed(&p, srv, 1, &ev) != ret)
				abort();
			return;
		}
		if ((size_t)ret > n || (!ret && !ev.what))
			abort();	/* no progress */
		pos += (size_t)ret;
		if (!ev.what)
			continue;
		f = (struct freq *)ev.req;
		if (f < reqs || f >= reqs + NR_REQS || !f->busy ||
		    ev.cookie != (uint64_t)(f - reqs))
			abort();
		if (ev.what & NBD_EV_DATA) {
			n = ev.len < len - pos ? ev.len : len - pos;
			memcpy(f->buf + ev.off, srv + pos, n);
			pos += n;
		}
		if (ev.what & NBD_EV_ZERO)
			memset(f->buf + ev.off, 0, ev.len);
		if (ev.what & NBD_EV_DONE) {
			if (ev.result > 0)
				abort();
			f->busy = 0;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct freq reqs[NR_REQS];
	int i;

	if (!size)
		return 0;
	for (i = 0; i < NR_REQS; i++) {
		nbd_req_set(&reqs[i].r, table[i].type, table[i].off, table[i].len);
		reqs[i].busy = 1;
		reqs[i].buf = table[i].type == NBD_CMD_READ ? malloc(table[i].len) : NULL;
	}
	play(data + 1, size - 1, data[0] & 1, cuts[(data[0] >> 1) & 7], reqs);
	for (i = 0; i < NR_REQS; i++)
		free(reqs[i].buf);
	return 0;
}
