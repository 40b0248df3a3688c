// SPDX-License-Identifier: MIT
/*
 * The nbd target's connections, driven by SQEs of no tag on the ring of
 * the thread serving their queue (see nbd_target.h).
 *
 * Sending: a connection's requests wait on its send list; one sendmsg at a
 * time carries the first NBD_SEND_BATCH of them (header, and a write's
 * payload straight from the request's buffer).  A short send leaves the
 * rest at the head of the list for the next one.  A request leaves the
 * list once all of it went out; a reply that comes before its send's CQE
 * is kept until then, so no request is finished while a sendmsg in
 * flight still points into it.
 *
 * Receiving: one recv at a time, into the connection's staging buffer,
 * fed through the reply parser.  A read's data that is already staged is
 * copied out; the rest is received straight into the request's buffer at
 * the offset the parser gives, then feeding goes on.
 *
 * Losing a connection (EOF, an error, a reply that breaks the protocol,
 * no reply within --timeout): shutdown(), cancel what is in flight, and
 * once the last CQE is in, close it and put its unanswered requests back
 * on its send list.  Reconnecting is a connect SQE, then the handshake
 * state machine fed by send and recv SQEs, retried with backoff; once
 * the export is back, the requests go out again.  A request that waits
 * for longer than --timeout fails with EIO; down that long, the
 * connection fails new requests at once, until it is back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "nbd_target.h"
#include "../ublk/log.h"

__attribute__((format(printf, 3, 4)))
static void conn_log(const struct nbd_conn *c, int level, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	nbd_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ulog(level, "nbd: %s (queue %u connection %u): %s", c->nq->dev->where,
	     c->nq->q_id, c->idx, msg);
}

static struct io_uring_sqe *conn_sqe(struct nbd_conn *c, unsigned op)
{
	struct io_uring_sqe *sqe;

	sqe = ublk_queue_get_sqe(c->nq->q, UBLK_TGT_NO_TAG, op, c->idx);
	if (sqe)
		c->inflight++;
	return sqe;
}

static void list_append(struct nbd_queue *nq, uint16_t *head, uint16_t *tail,
			struct nbd_io *io)
{
	uint16_t tag = (uint16_t)nbd_io_tag(nq, io);

	io->next = NBD_NO_TAG;
	if (*head == NBD_NO_TAG)
		*head = tag;
	else
		nq->ios[*tail].next = tag;
	*tail = tag;
}

static void conn_maybe_closed(struct nbd_conn *c);

/*
 * The connection is lost: shut it down and cancel what is in flight on
 * it; conn_maybe_closed() takes over once the last CQE is in.
 */
__attribute__((format(printf, 3, 4)))
static void conn_lost(struct nbd_conn *c, int level, const char *fmt, ...)
{
	struct io_uring_sqe *sqe;
	char why[256];
	va_list ap;

	if (c->state == NBD_CONN_CLOSING || c->state == NBD_CONN_DOWN)
		return;
	va_start(ap, fmt);
	nbd_vfmt(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->state == NBD_CONN_UP)
		conn_log(c, level, "%s: reconnecting, %u requests to resend", why,
			 c->nr_reqs);
	else
		conn_log(c, level, "reconnection attempt %u: %s", c->attempts, why);
	/* a pending recv ends at once, a send fails; a connect is cancelled */
	shutdown(c->fd, SHUT_RDWR);
	if (c->inflight && (sqe = conn_sqe(c, NBD_OP_CANCEL)))
		uring_prep_cancel_fd(sqe, c->fd);
	c->state = NBD_CONN_CLOSING;
	conn_maybe_closed(c);
}

/* Back to the send list, every request of @c not answered yet. */
static void conn_requeue(struct nbd_conn *c)
{
	struct nbd_queue *nq = c->nq;
	struct nbd_io *io;
	unsigned tag;

	c->head = c->tail = NBD_NO_TAG;
	c->batch = 0;
	for (tag = 0; tag < nq->depth; tag++) {
		io = &nq->ios[tag];
		if (io->conn != c->idx ||
		    (io->state != NBD_IO_QUEUED && io->state != NBD_IO_SENT))
			continue;
		nbd_req_set(&io->req, io->req.type, io->req.offset, io->req.len);
		io->off = 0;
		io->in_batch = io->replied = 0;
		io->state = NBD_IO_QUEUED;
		list_append(nq, &c->head, &c->tail, io);
	}
}

static void conn_maybe_closed(struct nbd_conn *c)
{
	int64_t now;

	if (c->state != NBD_CONN_CLOSING || c->inflight)
		return;
	close(c->fd);
	c->fd = -1;
	conn_requeue(c);
	c->dst = NULL;
	c->dst_left = 0;
	c->done_io = NULL;
	now = nbd_now_ms();
	if (!c->down_ms)
		c->down_ms = now;
	c->retry_ms = now + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > NBD_RETRY_MAX_MS ? NBD_RETRY_MAX_MS :
			c->backoff_ms * 2;
	c->state = NBD_CONN_DOWN;
	nbd_queue_arm(c->nq);
}

/* ---- sending ---- */

static uint32_t io_wire_len(const struct nbd_io *io)
{
	return NBD_REQ_SIZE + (io->req.type == NBD_CMD_WRITE ? io->req.len : 0);
}

/* Start a sendmsg of the head of the send list, unless one is in flight. */
static void send_kick(struct nbd_conn *c)
{
	struct nbd_queue *nq = c->nq;
	struct io_uring_sqe *sqe;
	unsigned n = 0, batch = 0;
	struct nbd_io *io;
	uint16_t tag;
	uint32_t done;

	if (c->state != NBD_CONN_UP || c->sending || c->head == NBD_NO_TAG)
		return;
	sqe = conn_sqe(c, NBD_OP_SEND);
	if (!sqe)
		return;		/* the ring is full: the next tick tries again */
	for (tag = c->head; tag != NBD_NO_TAG && batch < NBD_SEND_BATCH;
	     tag = io->next) {
		io = &nq->ios[tag];
		if (io->off < NBD_REQ_SIZE) {
			c->iov[n].iov_base = io->hdr + io->off;
			c->iov[n++].iov_len = NBD_REQ_SIZE - io->off;
		}
		if (io->req.type == NBD_CMD_WRITE) {
			done = io->off > NBD_REQ_SIZE ? io->off - NBD_REQ_SIZE : 0;
			c->iov[n].iov_base = io->buf + done;
			c->iov[n++].iov_len = io->req.len - done;
		}
		io->in_batch = 1;
		batch++;
	}
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = n;
	uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
	c->sending = 1;
	c->batch = batch;
}

/* A sendmsg of @c's first c->batch requests sent @res bytes. */
static void send_done(struct nbd_conn *c, int res)
{
	struct nbd_queue *nq = c->nq;
	uint32_t left = (uint32_t)res, need;
	uint16_t tag = c->head, next;
	struct nbd_io *io;
	unsigned i, early = 0;

	/* c->sending stays set: a finished write may queue a flush on @c */
	for (i = 0; i < c->batch; i++, tag = next) {
		io = &nq->ios[tag];
		next = io->next;
		io->in_batch = 0;
		need = io_wire_len(io) - io->off;
		if (left < need) {	/* this and the rest wait for the next one */
			io->off += left;
			left = 0;
			early |= io->replied;
			continue;
		}
		left -= need;
		io->off += need;
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
		conn_lost(c, LOG_WARN, "the server replied to a request it had not all received");
		return;
	}
	send_kick(c);
}

void nbd_conn_queue(struct nbd_conn *c, struct nbd_io *io)
{
	if (c->state != NBD_CONN_UP && (c->failing || nbd_stopping(c->nq->dev))) {
		nbd_io_finish(c->nq, io, -EIO);
		return;
	}
	io->state = NBD_IO_QUEUED;
	list_append(c->nq, &c->head, &c->tail, io);
	send_kick(c);
}

/* ---- receiving ---- */

static void recv_post(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe = conn_sqe(c, NBD_OP_RECV);

	if (!sqe) {
		conn_lost(c, LOG_DEBUG, "no SQE for a receive");
		return;
	}
	if (c->dst_left)
		uring_prep_recv(sqe, c->fd, c->dst, c->dst_left, 0);
	else
		uring_prep_recv(sqe, c->fd, c->rx, NBD_RX_SIZE, 0);
	c->receiving = 1;
}

/* The parser's view of the requests in flight on @ctx (a connection). */
static int conn_lookup(void *ctx, uint64_t cookie, struct nbd_req **req)
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
		if (ev.what & NBD_EV_DATA) {
			k = (uint32_t)nbd_min(ev.len, c->rx_len - c->rx_off);
			memcpy(io->buf + ev.off, c->rx + c->rx_off, k);
			c->rx_off += k;
			if (k < ev.len) {	/* the rest straight to the request */
				c->dst = io->buf + ev.off + k;
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

static void recv_done(struct nbd_conn *c, int res)
{
	struct nbd_io *io;
	int ret = 0;

	if (res <= 0) {
		if (res == -ECANCELED)	/* the queue stops */
			conn_lost(c, LOG_DEBUG, "receive cancelled");
		else if (res == 0)
			conn_lost(c, LOG_WARN, "the server closed the connection");
		else
			conn_lost(c, LOG_WARN, "receive: %s", strerror(-res));
		return;
	}
	if (c->dst_left) {
		c->dst += res;
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
		conn_lost(c, LOG_WARN, "the server is shutting down");
		return;
	}
	if (ret < 0) {
		conn_lost(c, LOG_ERR, "bad reply: %s", c->parser.err);
		return;
	}
	recv_post(c);
}

/* ---- (re)connecting ---- */

/* The transmission phase begins: replies in, requests out. */
static void conn_start(struct nbd_conn *c)
{
	const struct nbd_dev *dev = c->nq->dev;

	c->state = NBD_CONN_UP;
	c->failing = 0;
	c->down_ms = 0;
	c->attempts = 0;
	nbd_reply_init(&c->parser, dev->exp.structured, dev->max_io, conn_lookup, c);
	c->rx_len = c->rx_off = 0;
	c->dst = NULL;
	c->dst_left = 0;
	c->done_io = NULL;
	recv_post(c);
	send_kick(c);
}

void nbd_conn_init(struct nbd_conn *c, struct nbd_queue *nq, unsigned idx,
		   int fd)
{
	c->nq = nq;
	c->idx = idx;
	c->fd = fd;
	c->head = c->tail = NBD_NO_TAG;
	c->backoff_ms = NBD_RETRY_MIN_MS;
	conn_start(c);
}

/* Is what the server offers now what the device was set up with? */
static const char *export_changed(const struct nbd_dev *dev,
				  const struct nbd_export *e)
{
	struct nbd_caps c = nbd_tflags_caps(e->tflags, e->structured);

	if (e->size != dev->exp.size)
		return "its size changed";
	if (e->structured != dev->exp.structured)
		return "structured replies changed";
	if (c.read_only != dev->caps.read_only || c.flush != dev->caps.flush ||
	    c.fua != dev->caps.fua || c.trim < dev->caps.trim ||
	    c.write_zeroes < dev->caps.write_zeroes)
		return "its flags changed";
	if (e->min_bs > dev->exp.min_bs || e->max_bs < dev->max_io)
		return "its block sizes changed";
	return NULL;
}

static void hs_drive(struct nbd_conn *c)
{
	struct nbd_hs *hs = c->hs;
	struct io_uring_sqe *sqe;
	const char *changed;
	const void *out;
	size_t len;

	switch (nbd_hs_step(hs)) {
	case NBD_HS_SEND:
		sqe = conn_sqe(c, NBD_OP_SEND);
		if (!sqe)
			break;
		len = nbd_hs_out(hs, &out);
		uring_prep_send(sqe, c->fd, out, (unsigned)len, MSG_NOSIGNAL);
		c->sending = 1;
		return;
	case NBD_HS_RECV:
		sqe = conn_sqe(c, NBD_OP_RECV);
		if (!sqe)
			break;
		/* no more than it needs: what follows is the transmission's */
		len = nbd_min(nbd_hs_need(hs), NBD_RX_SIZE);
		uring_prep_recv(sqe, c->fd, c->rx, (unsigned)len, 0);
		c->receiving = 1;
		return;
	case NBD_HS_DONE:
		changed = export_changed(c->nq->dev, &hs->exp);
		if (changed) {
			conn_lost(c, LOG_WARN, "export '%.64s' is back, but %s",
				  c->nq->dev->export_name, changed);
			return;
		}
		conn_log(c, LOG_INFO, "reconnected after %u attempts in %lld ms",
			 c->attempts, (long long)(nbd_now_ms() - c->down_ms));
		conn_start(c);
		return;
	default:
		conn_lost(c, LOG_DEBUG, "%s", hs->err);
		return;
	}
	conn_lost(c, LOG_DEBUG, "no SQE for the handshake");
}

static void hs_event(struct nbd_conn *c, unsigned op, int res)
{
	if (op == NBD_OP_SEND)
		c->sending = 0;
	else
		c->receiving = 0;
	if (res < 0) {
		conn_lost(c, LOG_DEBUG, "handshake %s: %s",
			  op == NBD_OP_SEND ? "send" : "receive", strerror(-res));
		return;
	}
	if (op == NBD_OP_SEND)
		nbd_hs_sent(c->hs, (size_t)res);
	else if (res == 0)
		nbd_hs_eof(c->hs);
	else
		nbd_hs_feed(c->hs, c->rx, (size_t)res);
	hs_drive(c);
}

static void conn_connect(struct nbd_conn *c, int64_t now)
{
	const struct nbd_dev *dev = c->nq->dev;
	struct io_uring_sqe *sqe;
	int fd;

	c->retry_ms = now + c->backoff_ms;	/* unless this one gets further */
	fd = nbd_sock_new(dev);
	if (fd < 0) {
		conn_log(c, LOG_WARN, "socket: %s", strerror(-fd));
		return;
	}
	sqe = conn_sqe(c, NBD_OP_CONNECT);
	if (!sqe) {
		close(fd);
		return;
	}
	c->fd = fd;
	uring_prep_connect(sqe, fd, &dev->addr, dev->addr_len);
	c->state = NBD_CONN_CONNECTING;
	c->attempts++;
	c->attempt_ms = now + (dev->timeout_ms < NBD_ATTEMPT_MAX_MS ?
			       dev->timeout_ms : NBD_ATTEMPT_MAX_MS);
}

static void connect_done(struct nbd_conn *c, int res)
{
	if (res < 0) {
		conn_lost(c, LOG_DEBUG, "connect: %s", strerror(-res));
		return;
	}
	if (nbd_hs_init(c->hs, c->nq->dev->export_name, 0) < 0) {
		conn_lost(c, LOG_ERR, "%s", c->hs->err);
		return;
	}
	c->state = NBD_CONN_HANDSHAKE;
	hs_drive(c);
}

void nbd_conn_event(struct nbd_conn *c, unsigned op, int res)
{
	c->inflight--;
	switch (c->state) {
	case NBD_CONN_UP:
		if (op == NBD_OP_RECV) {
			c->receiving = 0;
			recv_done(c, res);
		} else if (op == NBD_OP_SEND && res > 0) {
			send_done(c, res);
		} else if (op == NBD_OP_SEND) {
			c->sending = 0;
			conn_lost(c, res == -ECANCELED ? LOG_DEBUG : LOG_WARN,
				  "send: %s", res ? strerror(-res) : "nothing sent");
		}
		break;
	case NBD_CONN_CONNECTING:
		if (op == NBD_OP_CONNECT)
			connect_done(c, res);
		break;
	case NBD_CONN_HANDSHAKE:
		hs_event(c, op, res);
		break;
	case NBD_CONN_CLOSING:
		if (op == NBD_OP_SEND)
			c->sending = 0;
		else if (op == NBD_OP_RECV)
			c->receiving = 0;
		conn_maybe_closed(c);
		break;
	default:
		conn_log(c, LOG_ERR, "CQE of op %u (res %d) while down", op, res);
	}
}

/* ---- the timer ---- */

/*
 * Fail the requests waiting on @c (which is down) that arrived --timeout
 * or more before @now; all of them with @all.
 */
static void conn_fail_old(struct nbd_conn *c, int64_t now, int all)
{
	struct nbd_queue *nq = c->nq;
	uint16_t tag = c->head, next;
	struct nbd_io *io;

	/* detached: finishing a write may queue a flush on @c */
	c->head = c->tail = NBD_NO_TAG;
	for (; tag != NBD_NO_TAG; tag = next) {
		io = &nq->ios[tag];
		next = io->next;
		if (all || now - io->start_ms >= nq->dev->timeout_ms)
			nbd_io_finish(nq, io, -EIO);
		else
			list_append(nq, &c->head, &c->tail, io);
	}
}

/* When the oldest request on @c arrived, or 0 if it has none. */
static int64_t conn_oldest(const struct nbd_conn *c)
{
	const struct nbd_queue *nq = c->nq;
	const struct nbd_io *io;
	int64_t oldest = 0;
	unsigned tag;

	for (tag = 0; tag < nq->depth; tag++) {
		io = &nq->ios[tag];
		if (io->conn == c->idx &&
		    (io->state == NBD_IO_QUEUED || io->state == NBD_IO_SENT) &&
		    (!oldest || io->start_ms < oldest))
			oldest = io->start_ms;
	}
	return oldest;
}

void nbd_conn_tick(struct nbd_conn *c, int64_t now)
{
	struct nbd_queue *nq = c->nq;
	const struct nbd_dev *dev = nq->dev;
	int stopping = nbd_stopping(dev);
	int64_t oldest;

	if (c->state == NBD_CONN_UP) {
		oldest = c->nr_reqs ? conn_oldest(c) : 0;
		if (stopping && c->nr_reqs && now - nq->stop_ms >= NBD_STOP_GRACE_MS)
			conn_lost(c, LOG_WARN, "the device is stopping: %u requests not answered",
				  c->nr_reqs);
		else if (oldest && now - oldest >= dev->timeout_ms)
			conn_lost(c, LOG_WARN, "a request not answered within %u s",
				  dev->timeout_ms / 1000);
		else
			send_kick(c);	/* if the ring was full before */
		return;
	}
	if (c->state == NBD_CONN_CLOSING)
		return;
	if (!c->failing && now - c->down_ms >= dev->timeout_ms) {
		c->failing = 1;
		conn_log(c, LOG_WARN, "no connection for %u s: requests fail until it is back",
			 dev->timeout_ms / 1000);
	}
	if (c->head != NBD_NO_TAG)
		conn_fail_old(c, now, c->failing || stopping);
	if (c->state == NBD_CONN_DOWN && now >= c->retry_ms)
		conn_connect(c, now);
	else if (c->state != NBD_CONN_DOWN && now >= c->attempt_ms)
		conn_lost(c, LOG_DEBUG, "the connect and handshake take too long");
}
