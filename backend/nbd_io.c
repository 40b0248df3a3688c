// SPDX-License-Identifier: MIT
/*
 * The nbd target's transmission on a connection that is up (see
 * nbd_target.h and nbd_conn.c): requests out, replies in.
 *
 * Sending: a connection's requests wait on its send list; one sendmsg at a
 * time carries the first NBD_SEND_BATCH of them (header, and a write's
 * payload straight from the request's buffer; in zero copy the payload
 * follows by itself, WRITE_FIXED).  A short send leaves the rest at the
 * head of the list for the next one.  A request leaves the list once all
 * of it went out; a reply that comes before its send's CQE is kept until
 * then, so no request is finished while a send in flight still points
 * into it.
 *
 * Receiving: one recv at a time, into the connection's staging buffer,
 * fed through the reply parser.  A read's data that is already staged is
 * copied out; the rest is received straight into the request's buffer at
 * the offset the parser gives (READ_FIXED into its pages in zero copy),
 * then feeding goes on.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "nbd_target.h"
#include "../ublk/log.h"

/* ---- sending ---- */

static uint32_t io_wire_len(const struct nbd_io *io)
{
	return NBD_REQ_SIZE + (io->req.type == NBD_CMD_WRITE ? io->req.len : 0);
}

/*
 * Zero copy: the rest of write @io's payload, from its registered pages,
 * as the connection's one send.
 */
static void send_fixed(struct nbd_conn *c, struct io_uring_sqe *sqe,
		       struct nbd_io *io)
{
	uint32_t done = io->off - NBD_REQ_SIZE;

	io->plan = io->req.len - done;
	/* a socket takes offset 0; addr is the offset in the buffer */
	uring_prep_rw(sqe, IORING_OP_WRITE_FIXED, c->fd,
		      (const void *)(uintptr_t)done, io->plan, 0);
	sqe->buf_index = (uint16_t)ublk_queue_buf_index(c->nq->q,
							nbd_io_tag(c->nq, io));
	io->in_batch = 1;
	c->batch = 1;
}

/* Start a send of the head of the send list, unless one is in flight. */
void nbd_send_kick(struct nbd_conn *c)
{
	struct nbd_queue *nq = c->nq;
	int zc = nq->dev->zero_copy;
	struct io_uring_sqe *sqe;
	unsigned n = 0, batch = 0;
	struct nbd_io *io;
	uint16_t tag;
	uint32_t done;

	if (c->state != NBD_CONN_UP || c->sending || c->head == NBD_NO_TAG)
		return;
	sqe = nbd_conn_sqe(c, NBD_OP_SEND);
	if (!sqe)
		return;		/* the ring is full: the next tick tries again */
	c->sending = 1;
	io = &nq->ios[c->head];
	if (zc && io->off >= NBD_REQ_SIZE) {
		send_fixed(c, sqe, io);
		return;
	}
	for (tag = c->head; tag != NBD_NO_TAG && batch < NBD_SEND_BATCH;
	     tag = io->next) {
		io = &nq->ios[tag];
		io->plan = 0;
		if (io->off < NBD_REQ_SIZE) {
			c->iov[n].iov_base = io->hdr + io->off;
			c->iov[n++].iov_len = NBD_REQ_SIZE - io->off;
			io->plan = NBD_REQ_SIZE - io->off;
		}
		io->in_batch = 1;
		batch++;
		if (io->req.type != NBD_CMD_WRITE)
			continue;
		if (zc)
			break;	/* its payload goes next, by itself */
		done = io->off > NBD_REQ_SIZE ? io->off - NBD_REQ_SIZE : 0;
		c->iov[n].iov_base = io->buf + done;
		c->iov[n++].iov_len = io->req.len - done;
		io->plan += io->req.len - done;
	}
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = n;
	uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	c->batch = batch;
}

/* The send of @c's first c->batch requests sent @res bytes. */
void nbd_send_done(struct nbd_conn *c, int res)
{
	struct nbd_queue *nq = c->nq;
	uint32_t left = (uint32_t)res;
	uint16_t tag = c->head, next;
	struct nbd_io *io;
	unsigned i, early = 0;

	/* c->sending stays set: a finished write may queue a flush on @c */
	for (i = 0; i < c->batch; i++, tag = next) {
		io = &nq->ios[tag];
		next = io->next;
		io->in_batch = 0;
		if (left < io->plan || io->off + io->plan < io_wire_len(io)) {
			/* sent in part (or, in zero copy, a write's header
			 * only): this and the rest wait for the next send */
			io->off += left < io->plan ? left : io->plan;
			left -= left < io->plan ? left : io->plan;
			early |= io->replied;
			continue;
		}
		left -= io->plan;
		io->off += io->plan;
		/* all sent: off the list, whose head it is */
		c->head = next;
		if (next == NBD_NO_TAG)
			c->tail = NBD_NO_TAG;
		io->state = NBD_IO_SENT;
		if (io->replied)
			nbd_io_finish(nq, io, io->result);
	}
	c->batch = 0;
	c->sending = 0;
	if (early) {
		nbd_conn_lost(c, LOG_WARN, "the server replied to a request it had not all received");
		return;
	}
	nbd_send_kick(c);
}

void nbd_conn_queue(struct nbd_conn *c, struct nbd_io *io)
{
	if (c->state != NBD_CONN_UP && (c->failing || nbd_stopping(c->nq->dev))) {
		nbd_io_finish(c->nq, io, -EIO);
		return;
	}
	io->state = NBD_IO_QUEUED;
	nbd_list_append(c->nq, &c->head, &c->tail, io);
	nbd_send_kick(c);
}

/* ---- receiving ---- */

void nbd_recv_post(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe = nbd_conn_sqe(c, NBD_OP_RECV);

	if (!sqe) {
		nbd_conn_lost(c, LOG_DEBUG, "no SQE for a receive");
		return;
	}
	c->receiving = 1;
	if (!c->dst_left) {
		/* zero copy: no byte past what the parser needs, see above */
		uring_prep_recv(sqe, c->fd, c->rx, c->nq->dev->zero_copy ?
				(unsigned)nbd_reply_need(&c->parser) : NBD_RX_SIZE, 0);
	} else if (c->dst_io->buf) {
		uring_prep_recv(sqe, c->fd, c->dst_io->buf + c->dst_off,
				c->dst_left, 0);
	} else {
		/* into the read's registered pages; a socket takes offset 0 */
		uring_prep_rw(sqe, IORING_OP_READ_FIXED, c->fd,
			      (void *)(uintptr_t)c->dst_off, c->dst_left, 0);
		sqe->buf_index = (uint16_t)ublk_queue_buf_index(c->nq->q,
						nbd_io_tag(c->nq, c->dst_io));
	}
}

/* The parser's view of the requests in flight on @ctx (a connection). */
int nbd_conn_lookup(void *ctx, uint64_t cookie, struct nbd_req **req)
{
	struct nbd_conn *c = ctx;
	struct nbd_queue *nq = c->nq;
	unsigned tag = (unsigned)(cookie & 0xffff);
	struct nbd_io *io;

	if (tag >= nq->depth)
		return -ENOENT;
	io = &nq->ios[tag];
	if (io->cookie != cookie || io->conn != c->idx || io->replied ||
	    (io->state != NBD_IO_SENT && !(io->state == NBD_IO_QUEUED && io->in_batch)))
		return -ENOENT;
	*req = &io->req;
	return 0;
}

/* A request's reply is all in: 0, or -ESHUTDOWN to drop the connection. */
static int reply_done(struct nbd_conn *c, struct nbd_io *io, int result)
{
	/* the server goes down: the request goes again once it is back */
	if (result == -ESHUTDOWN)
		return result;
	/* a server that answers: the next loss is retried soon again */
	c->backoff_ms = NBD_RETRY_MIN_MS;
	if (io->in_batch) {
		io->replied = 1;
		io->result = result;
		return 0;
	}
	nbd_io_finish(c->nq, io, result);
	return 0;
}

/* Feed the staged bytes to the parser and act on what it says. */
static int rx_process(struct nbd_conn *c)
{
	struct nbd_reply_ev ev;
	struct nbd_io *io;
	uint32_t k;
	int n, ret;

	while (c->rx_off < c->rx_len) {
		n = nbd_reply_feed(&c->parser, c->rx + c->rx_off,
				   c->rx_len - c->rx_off, &ev);
		if (n < 0)
			return n;
		c->rx_off += (uint32_t)n;
		if (!ev.what)
			continue;
		io = (struct nbd_io *)((char *)ev.req - offsetof(struct nbd_io, req));
		/* zero copy stages nothing past a header, and has no holes */
		if (!io->buf && (c->rx_off < c->rx_len || (ev.what & NBD_EV_ZERO)))
			return nbd_fail(c->parser.err, sizeof(c->parser.err), -EPROTO,
					"read data staged in zero copy");
		if (ev.what & NBD_EV_DATA) {
			k = (uint32_t)nbd_min(ev.len, c->rx_len - c->rx_off);
			if (k)
				memcpy(io->buf + ev.off, c->rx + c->rx_off, k);
			c->rx_off += k;
			if (k < ev.len) {	/* the rest straight to the request */
				c->dst_io = io;
				c->dst_off = ev.off + k;
				c->dst_left = ev.len - k;
				if (ev.what & NBD_EV_DONE) {
					c->done_io = io;
					c->done_result = ev.result;
				}
				break;
			}
		}
		if (ev.what & NBD_EV_ZERO)
			memset(io->buf + ev.off, 0, ev.len);
		if (ev.what & NBD_EV_DONE) {
			ret = reply_done(c, io, ev.result);
			if (ret < 0)
				return ret;
		}
	}
	c->rx_len = c->rx_off = 0;
	return 0;
}

void nbd_recv_done(struct nbd_conn *c, int res)
{
	struct nbd_io *io;
	int ret = 0;

	if (res <= 0) {
		if (res == -ECANCELED)	/* the queue stops */
			nbd_conn_lost(c, LOG_DEBUG, "receive cancelled");
		else if (res == 0)
			nbd_conn_lost(c, LOG_WARN, "the server closed the connection");
		else
			nbd_conn_lost(c, LOG_WARN, "receive: %s", strerror(-res));
		return;
	}
	if (c->dst_left) {
		c->dst_off += (uint32_t)res;
		c->dst_left -= (uint32_t)res;
		if (!c->dst_left && c->done_io) {
			io = c->done_io;
			c->done_io = NULL;
			ret = reply_done(c, io, c->done_result);
		}
	} else {
		c->rx_len = (uint32_t)res;
		c->rx_off = 0;
		ret = rx_process(c);
	}
	if (ret == -ESHUTDOWN) {
		nbd_conn_lost(c, LOG_WARN, "the server is shutting down");
		return;
	}
	if (ret < 0) {
		nbd_conn_lost(c, LOG_ERR, "bad reply: %s", c->parser.err);
		return;
	}
	nbd_recv_post(c);
}
