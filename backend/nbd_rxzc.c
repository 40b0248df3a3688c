// SPDX-License-Identifier: MIT
/*
 * The nbd target's receiving in zero copy (-z; see nbd_target.h): a
 * read's data goes from the socket straight into the request's pages by
 * IORING_OP_READ_FIXED, which userspace cannot touch, so no data byte may
 * be received into the staging buffer.
 *
 * A receive with MSG_PEEK waits for replies and shows what came without
 * taking it.  The parser reads that copy; then one chain of linked SQEs
 * takes exactly those bytes off the socket: headers into the staging
 * buffer (their copy there is thrown away), each read's data by
 * READ_FIXED into its pages, and last the next MSG_PEEK.  The bytes are
 * all there already, so no step falls short; one that does anyway drops
 * the connection.  Replies without data are finished as they are parsed;
 * a read once its data step is in.  So a round of replies costs one
 * io_uring_enter, not two per read (header, then data).
 *
 * While no read is out and replies are due, every reply is a bare
 * header: a plain receive takes them all at once (rx_wide), without a
 * peek and without a chain; reads then wait on the send list.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "nbd_target.h"
#include "../ublk/log.h"

/* SQEs a round may still take: each reply at most two, the peek one */
#define ZC_SQE_RESERVE	5	/* a step, a data step, the peek, a commit + unregister */

/* The round's steps so far, and the bytes of headers not yet in one. */
struct round {
	uint32_t hdr;
	int full;	/* no room for more steps */
};

static void step_add(struct nbd_conn *c, uint32_t len, struct nbd_io *io,
		     uint32_t off, int done, int result)
{
	struct nbd_rx_step *s = &c->steps[c->nsteps++];

	s->len = len;
	s->tag = io ? (uint16_t)nbd_io_tag(c->nq, io) : NBD_NO_TAG;
	s->off = off;
	s->done = (uint8_t)done;
	s->result = result;
}

/* The header bytes gathered so far, as one step. */
static void step_hdr(struct nbd_conn *c, struct round *r)
{
	if (r->hdr)
		step_add(c, r->hdr, NULL, 0, 0, 0);
	r->hdr = 0;
}

/* A read's @len bytes of data at @off, next in the stream. */
static void step_data(struct nbd_conn *c, struct round *r, struct nbd_io *io,
		      uint32_t off, uint32_t len, int done, int result)
{
	step_hdr(c, r);
	step_add(c, len, io, off, done, result);
}

static int room(const struct nbd_conn *c)
{
	return c->nsteps + 2 <= NBD_RX_CHAIN &&
	       ublk_queue_sq_space(c->nq->q) >= c->nsteps + ZC_SQE_RESERVE;
}

/*
 * Parse the @n peeked bytes into the round's steps: 0, or -errno to drop
 * the connection (c->parser.err says why, or -ESHUTDOWN).
 */
static int zc_parse(struct nbd_conn *c, uint32_t n)
{
	struct round r = { 0 };
	struct nbd_reply_ev ev;
	struct nbd_io *io;
	uint32_t off = 0, k;
	int ret;

	c->nsteps = c->step = 0;
	if (c->dst_left) {	/* the rest of a read's data comes first */
		k = nbd_min(c->dst_left, n);
		io = c->dst_io;
		c->dst_left -= k;
		step_data(c, &r, io, c->dst_off, k, !c->dst_left && c->done_io,
			  c->done_result);
		c->dst_off += k;
		off = k;
		if (!c->dst_left)
			c->done_io = NULL;
	}
	while (off < n && !c->dst_left && room(c)) {
		ret = nbd_reply_feed(&c->parser, c->rx + off, n - off, &ev);
		if (ret < 0)
			return ret;
		off += (uint32_t)ret;
		r.hdr += (uint32_t)ret;
		if (!ev.what)
			continue;
		io = (struct nbd_io *)((char *)ev.req - offsetof(struct nbd_io, req));
		if (ev.what & NBD_EV_ZERO)	/* no structured replies asked for */
			return nbd_fail(c->parser.err, sizeof(c->parser.err), -EPROTO,
					"a hole in zero copy");
		if (ev.what & NBD_EV_DATA) {
			k = nbd_min(ev.len, n - off);
			if (k < ev.len) {	/* the rest in the next round */
				c->dst_io = io;
				c->dst_off = ev.off + k;
				c->dst_left = ev.len - k;
				c->done_io = (ev.what & NBD_EV_DONE) ? io : NULL;
				c->done_result = ev.result;
			}
			if (k)
				step_data(c, &r, io, ev.off, k,
					  !c->dst_left && (ev.what & NBD_EV_DONE), ev.result);
			off += k;
			continue;
		}
		if (ev.what & NBD_EV_DONE) {
			ret = nbd_reply_done(c, io, ev.result);
			if (ret < 0)
				return ret;
		}
	}
	step_hdr(c, &r);
	return 0;
}

/* Queue the round's steps, then the next peek, as one linked chain. */
static void zc_chain(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe;
	const struct nbd_rx_step *s;
	unsigned i;

	for (i = 0; i < c->nsteps; i++) {
		s = &c->steps[i];
		sqe = nbd_conn_sqe(c, NBD_OP_RXSTEP);
		if (!sqe) {	/* room() made sure of it */
			nbd_conn_lost(c, LOG_WARN, "no SQE for a receive");
			return;
		}
		if (s->tag == NBD_NO_TAG) {
			uring_prep_recv(sqe, c->fd, c->rx, s->len, MSG_WAITALL);
		} else {
			/* into the read's registered pages; a socket takes offset 0 */
			uring_prep_rw(sqe, IORING_OP_READ_FIXED, c->fd,
				      (void *)(uintptr_t)s->off, s->len, 0);
			sqe->buf_index = (uint16_t)ublk_queue_buf_index(c->nq->q, s->tag);
		}
		sqe->flags |= IOSQE_IO_LINK;
	}
	nbd_zc_recv_post(c);
}

void nbd_zc_recv_post(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe = nbd_conn_sqe(c, NBD_OP_RECV);

	if (!sqe) {
		nbd_conn_lost(c, LOG_DEBUG, "no SQE for a receive");
		return;
	}
	c->receiving = 1;
	/* after a chain too: linked, it takes what comes after the chain's */
	c->rx_wide = !c->nr_reads && c->nr_sent && !c->dst_left;
	uring_prep_recv(sqe, c->fd, c->rx, NBD_RX_SIZE,
			c->rx_wide ? 0 : MSG_PEEK);
}

/* The peek (or the wide receive) brought @res bytes. */
static int zc_recv(struct nbd_conn *c, uint32_t res)
{
	if (c->rx_wide) {
		c->rx_wide = 0;
		c->rx_len = res;
		c->rx_off = 0;
		c->nsteps = c->step = 0;
		return nbd_rx_process(c);
	}
	return zc_parse(c, res);
}

void nbd_zc_recv_done(struct nbd_conn *c, unsigned op, int res)
{
	const struct nbd_rx_step *s;
	int ret;

	if (op == NBD_OP_RXSTEP) {
		s = &c->steps[c->step++];
		if (res != (int)s->len) {
			nbd_conn_lost(c, LOG_WARN, "receive: %s", res < 0 ?
				      strerror(-res) : "fell short");
			return;
		}
		if (s->done) {
			ret = nbd_reply_done(c, &c->nq->ios[s->tag], s->result);
			if (ret < 0)
				nbd_conn_lost(c, LOG_WARN, "the server is shutting down");
		}
		return;
	}
	if (res <= 0) {
		nbd_recv_failed(c, res);
		return;
	}
	ret = zc_recv(c, (uint32_t)res);
	if (ret == -ESHUTDOWN) {
		nbd_conn_lost(c, LOG_WARN, "the server is shutting down");
		return;
	}
	if (ret < 0) {
		nbd_conn_lost(c, LOG_ERR, "bad reply: %s", c->parser.err);
		return;
	}
	zc_chain(c);
}
