// SPDX-License-Identifier: MIT
/*
 * The nbd target's transmission on a connection that is up (see
 * nbd_target.h and nbd_conn.c): requests out, replies in.
 *
 * Sending: a connection's requests wait on its send list; one send at a
 * time carries the first NBD_SEND_BATCH of them: a sendmsg of headers and
 * writes' payloads straight from the requests' buffers; in zero copy a
 * chain of linked SQEs, the sendmsg of the headers up to a write's then
 * its payload by WRITE_FIXED, and so on.  A send of one SQE goes with
 * MSG_DONTWAIT: it ends as the thread submits it, whose io_uring_enter
 * then sleeps on until the reply, with no sendmsg call or enter of its own
 * (randwrite 4 KiB at depth 32: +13%).  A short send leaves the rest at
 * the head of the list for the next one, a plain send that waits.  A
 * request leaves the list once all of it went out; a reply that comes
 * before its send's CQE is kept until then, so no request is finished
 * while a send in flight still points into it.
 *
 * Receiving: one recv at a time, into the connection's staging buffer,
 * fed through the reply parser.  A read's data that is already staged is
 * copied out; the rest is received straight into the request's buffer at
 * the offset the parser gives (READ_FIXED into its pages in zero copy),
 * then feeding goes on.  While a large read is out, a staging recv takes
 * no more than NBD_RX_SMALL: its data would be copied, when a second
 * recv can put it in place.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "nbd_target.h"
#include "../ublk/log.h"

/* ---- sending ---- */

/* The send chain being built by nbd_send_kick(). */
struct chain {
	struct io_uring_sqe *last;	/* its last SQE; NULL: none yet */
	unsigned first, n;		/* c->iov[first .. n): the next sendmsg's */
	unsigned nmsg;			/* c->msg used */
};

/* The chain's next SQE, linked after its last. */
static struct io_uring_sqe *chain_sqe(struct nbd_conn *c, struct chain *ch)
{
	struct io_uring_sqe *sqe = nbd_conn_sqe(c, NBD_OP_SEND);

	/* nbd_send_kick() made sure of the room: no NULL here */
	if (ch->last)
		ch->last->flags |= IOSQE_IO_LINK;
	ch->last = sqe;
	c->chain++;
	return sqe;
}

/*
 * The iovecs gathered since the chain's last sendmsg, as one more: all of
 * it, or a failure that cuts the chain (WAITALL).  Alone, it may go with
 * MSG_DONTWAIT instead: then it ends as it is submitted, with what the
 * socket took (not WAITALL: its -EAGAIN would hide a part sent), and the
 * thread's enter waits past its CQE for the reply.  What it leaves goes
 * by a plain send.
 */
static void chain_sendmsg(struct nbd_conn *c, struct chain *ch, int alone)
{
	struct msghdr *msg = &c->msg[ch->nmsg];
	int nowait = alone && !ch->last && !c->wait_next;

	if (ch->first == ch->n)
		return;
	ch->nmsg++;
	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = c->iov + ch->first;
	msg->msg_iovlen = ch->n - ch->first;
	uring_prep_sendmsg(chain_sqe(c, ch), c->fd, msg, MSG_NOSIGNAL |
			   (nowait ? MSG_DONTWAIT : MSG_WAITALL));
	ch->first = ch->n;
	c->nowait = nowait;
	c->wait_next = 0;
	if (nowait)
		ublk_queue_cqe_at_submit(c->nq->q);
}

/*
 * Zero copy: the rest of write @io's payload, from its registered pages
 * at offset @done, after its header in the chain.
 */
static void chain_fixed(struct nbd_conn *c, struct chain *ch,
			struct nbd_io *io, uint32_t done)
{
	struct io_uring_sqe *sqe;

	chain_sendmsg(c, ch, 0);
	sqe = chain_sqe(c, ch);
	/* a socket takes offset 0; addr is the offset in the buffer */
	uring_prep_rw(sqe, IORING_OP_WRITE_FIXED, c->fd,
		      (const void *)(uintptr_t)done, io->req.len - done, 0);
	sqe->buf_index = (uint16_t)ublk_queue_buf_index(c->nq->q,
							nbd_io_tag(c->nq, io));
}

/* Zero copy: a read is not sent while a wide receive is in flight. */
static int read_waits(const struct nbd_conn *c, const struct nbd_io *io)
{
	return c->rx_wide && io->req.type == NBD_CMD_READ;
}

/* Start a send of the head of the send list, unless one is in flight. */
void nbd_send_kick(struct nbd_conn *c)
{
	struct nbd_queue *nq = c->nq;
	int zc = nq->dev->zero_copy;
	struct chain ch = { 0 };
	unsigned batch = 0, max;
	struct nbd_io *io;
	uint16_t tag;
	uint32_t done;

	if (c->state != NBD_CONN_UP || c->sending || c->head == NBD_NO_TAG ||
	    read_waits(c, &nq->ios[c->head]))
		return;
	/*
	 * A chain must go to the kernel whole: each request takes an SQE
	 * or, a write in zero copy, two, and the last sendmsg one more.
	 */
	max = ublk_queue_sq_space(nq->q);
	max = zc ? (max ? (max - 1) / 2 : 0) : max ? NBD_SEND_BATCH : 0;
	if (max > NBD_SEND_BATCH)
		max = NBD_SEND_BATCH;
	if (!max)
		return;		/* the ring is full: the next tick tries again */
	c->sending = 1;
	c->chain = 0;
	c->chain_sent = 0;
	c->chain_err = 0;
	c->nowait = 0;
	for (tag = c->head; tag != NBD_NO_TAG && batch < max; tag = io->next) {
		io = &nq->ios[tag];
		if (read_waits(c, io))
			break;
		io->plan = 0;
		if (io->off < NBD_REQ_SIZE) {
			c->iov[ch.n].iov_base = io->hdr + io->off;
			c->iov[ch.n++].iov_len = NBD_REQ_SIZE - io->off;
			io->plan = NBD_REQ_SIZE - io->off;
		}
		io->in_batch = 1;
		batch++;
		if (io->req.type != NBD_CMD_WRITE)
			continue;
		done = io->off > NBD_REQ_SIZE ? io->off - NBD_REQ_SIZE : 0;
		io->plan += io->req.len - done;
		if (zc) {
			chain_fixed(c, &ch, io, done);
			continue;
		}
		c->iov[ch.n].iov_base = io->buf + done;
		c->iov[ch.n++].iov_len = io->req.len - done;
	}
	chain_sendmsg(c, &ch, 1);
	c->batch = batch;
}

/*
 * The chain of @c's first c->batch requests sent @res bytes.  1 if that
 * fell short of them all.
 */
static int send_done(struct nbd_conn *c, uint32_t res)
{
	struct nbd_queue *nq = c->nq;
	uint32_t left = res;
	uint16_t tag = c->head, next;
	struct nbd_io *io;
	unsigned i, early = 0, short_ = 0;

	/* c->sending stays set: a finished write may queue a flush on @c */
	for (i = 0; i < c->batch; i++, tag = next) {
		io = &nq->ios[tag];
		next = io->next;
		io->in_batch = 0;
		if (left < io->plan) {
			/* sent in part: this and the rest wait for the next send */
			io->off += left;
			left = 0;
			early |= io->replied;
			short_ = 1;
			continue;
		}
		left -= io->plan;
		io->off += io->plan;
		/* all sent: off the list, whose head it is */
		c->head = next;
		if (next == NBD_NO_TAG)
			c->tail = NBD_NO_TAG;
		io->state = NBD_IO_SENT;
		c->nr_sent++;
		if (io->replied)
			nbd_io_finish(nq, io, io->result);
	}
	c->batch = 0;
	c->sending = 0;
	if (early)
		nbd_conn_lost(c, LOG_WARN, "the server replied to a request it had not all received");
	/* the rest goes with this round's new requests: nbd_queue_submit() */
	return short_;
}

/*
 * An SQE of the chain is done.  Those after one that fell short end with
 * -ECANCELED; once the last is in, what was sent is the sum.
 */
void nbd_send_cqe(struct nbd_conn *c, int res)
{
	int nowait = c->nowait;

	c->nowait = 0;
	/* MSG_DONTWAIT met a full socket: nothing went, and that is no failure */
	if (nowait && res == -EAGAIN) {
		c->chain = 0;
		c->wait_next = send_done(c, 0);
		return;
	}
	if (res > 0)
		c->chain_sent += (uint32_t)res;
	else if (res != -ECANCELED && !c->chain_err)
		c->chain_err = res ? res : -EPIPE;
	if (--c->chain)
		return;
	if (c->chain_err || !c->chain_sent) {
		c->sending = 0;
		nbd_conn_lost(c, c->chain_err == -ECANCELED ? LOG_DEBUG : LOG_WARN,
			      "send: %s", c->chain_err ? strerror(-c->chain_err) :
			      "nothing sent");
		return;
	}
	/* MSG_DONTWAIT that took a part: the rest goes by a plain send */
	c->wait_next = send_done(c, c->chain_sent) && nowait;
}

void nbd_conn_queue(struct nbd_conn *c, struct nbd_io *io)
{
	if (c->state != NBD_CONN_UP && (c->failing || nbd_stopping(c->nq->dev))) {
		nbd_io_finish(c->nq, io, -EIO);
		return;
	}
	io->state = NBD_IO_QUEUED;
	nbd_list_append(c->nq, &c->head, &c->tail, io);
	/* sent with the others of this round, by nbd_queue_submit() */
}

/* ---- receiving ---- */

void nbd_recv_post(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe = nbd_conn_sqe(c, NBD_OP_RECV);
	int zc = c->nq->dev->zero_copy;

	if (!sqe) {
		nbd_conn_lost(c, LOG_DEBUG, "no SQE for a receive");
		return;
	}
	c->receiving = 1;
	if (!c->dst_left) {
		/*
		 * Zero copy: no byte past what the parser needs while a read
		 * is out; with none, and replies due, as many as came.
		 */
		c->rx_wide = zc && !c->nr_reads && c->nr_sent;
		uring_prep_recv(sqe, c->fd, c->rx, zc && !c->rx_wide ?
				(unsigned)nbd_reply_need(&c->parser) :
				c->nr_big_reads ? NBD_RX_SMALL : NBD_RX_SIZE, 0);
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
		/* zero copy stages no read's data, and has no holes */
		if (!io->buf && (ev.what & (NBD_EV_DATA | NBD_EV_ZERO)) &&
		    (c->rx_off < c->rx_len || (ev.what & NBD_EV_ZERO)))
			return nbd_fail(c->parser.err, sizeof(c->parser.err), -EPROTO,
					"read data staged in zero copy");
		if (ev.what & NBD_EV_DATA) {
			k = (uint32_t)nbd_min(ev.len, c->rx_len - c->rx_off);
			if (k)
				backend_copy(io->buf + ev.off, c->rx + c->rx_off, k);
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
			backend_zero(io->buf + ev.off, ev.len);
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

	c->rx_wide = 0;		/* reads may go again */
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
