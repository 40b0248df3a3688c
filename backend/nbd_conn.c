// SPDX-License-Identifier: MIT
/*
 * The nbd target's connections, driven by SQEs of no tag on the ring of
 * the thread serving their queue (see nbd_target.h): their life, losses
 * and reconnections, and the timer.  What they carry while they are up is
 * nbd_io.c's.
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

void nbd_conn_log(const struct nbd_conn *c, int level, const char *fmt, ...)
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

struct io_uring_sqe *nbd_conn_sqe(struct nbd_conn *c, unsigned op)
{
	struct io_uring_sqe *sqe;

	sqe = ublk_queue_get_sqe(c->nq->q, UBLK_TGT_NO_TAG, op, c->idx);
	if (sqe)
		c->inflight++;
	return sqe;
}

void nbd_list_append(struct nbd_queue *nq, uint16_t *head, uint16_t *tail,
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
void nbd_conn_lost(struct nbd_conn *c, int level, const char *fmt, ...)
{
	struct io_uring_sqe *sqe;
	char why[256];
	va_list ap;

	if (c->state == NBD_CONN_CLOSING || c->state == NBD_CONN_DOWN)
		return;
	va_start(ap, fmt);
	nbd_vfmt(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* a failed attempt is worth a line now and then, not each time */
	if (c->state != NBD_CONN_UP && level == LOG_DEBUG &&
	    (c->attempts == 1 || !(c->attempts % 20)))
		level = LOG_WARN;
	if (c->state == NBD_CONN_UP)
		nbd_conn_log(c, level, "%s: reconnecting, %u requests to resend", why,
			 c->nr_reqs);
	else
		nbd_conn_log(c, level, "reconnection attempt %u: %s", c->attempts, why);
	/* a pending recv ends at once, a send fails; a connect is cancelled */
	shutdown(c->fd, SHUT_RDWR);
	if (c->inflight && (sqe = nbd_conn_sqe(c, NBD_OP_CANCEL)))
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
	c->chain = 0;
	c->nr_sent = 0;
	c->rx_wide = 0;
	for (tag = 0; tag < nq->depth; tag++) {
		io = &nq->ios[tag];
		if (io->conn != c->idx ||
		    (io->state != NBD_IO_QUEUED && io->state != NBD_IO_SENT))
			continue;
		nbd_req_set(&io->req, io->req.type, io->req.offset, io->req.len);
		io->off = 0;
		io->in_batch = io->replied = 0;
		io->state = NBD_IO_QUEUED;
		nbd_list_append(nq, &c->head, &c->tail, io);
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
	c->dst_io = NULL;
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

/* ---- (re)connecting ---- */

/* The transmission phase begins: replies in, requests out. */
static void conn_start(struct nbd_conn *c)
{
	const struct nbd_dev *dev = c->nq->dev;

	c->state = NBD_CONN_UP;
	c->failing = 0;
	c->down_ms = 0;
	c->attempts = 0;
	nbd_reply_init(&c->parser, dev->exp.structured, dev->max_io, nbd_conn_lookup, c);
	c->rx_len = c->rx_off = 0;
	c->dst_io = NULL;
	c->dst_left = 0;
	c->done_io = NULL;
	nbd_recv_post(c);
	nbd_send_kick(c);
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
		sqe = nbd_conn_sqe(c, NBD_OP_SEND);
		if (!sqe)
			break;
		len = nbd_hs_out(hs, &out);
		uring_prep_send(sqe, c->fd, out, (unsigned)len, MSG_NOSIGNAL);
		c->sending = 1;
		return;
	case NBD_HS_RECV:
		sqe = nbd_conn_sqe(c, NBD_OP_RECV);
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
			nbd_conn_lost(c, LOG_DEBUG, "export '%.64s' is back, but %s",
				  c->nq->dev->export_name, changed);
			return;
		}
		nbd_conn_log(c, LOG_INFO, "reconnected after %u attempts in %lld ms",
			 c->attempts, (long long)(nbd_now_ms() - c->down_ms));
		conn_start(c);
		return;
	default:
		nbd_conn_lost(c, LOG_DEBUG, "%s", hs->err);
		return;
	}
	nbd_conn_lost(c, LOG_DEBUG, "no SQE for the handshake");
}

static void hs_event(struct nbd_conn *c, unsigned op, int res)
{
	if (op == NBD_OP_SEND)
		c->sending = 0;
	else
		c->receiving = 0;
	if (res < 0) {
		nbd_conn_lost(c, LOG_DEBUG, "handshake %s: %s",
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
		nbd_conn_log(c, LOG_WARN, "socket: %s", strerror(-fd));
		return;
	}
	sqe = nbd_conn_sqe(c, NBD_OP_CONNECT);
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
		nbd_conn_lost(c, LOG_DEBUG, "connect: %s", strerror(-res));
		return;
	}
	if (nbd_hs_init(c->hs, c->nq->dev->export_name, c->nq->dev->hs_flags) < 0) {
		nbd_conn_lost(c, LOG_ERR, "%s", c->hs->err);
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
			nbd_recv_done(c, res);
		} else if (op == NBD_OP_SEND) {
			nbd_send_cqe(c, res);
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
		/* the send is over once its chain's last CQE is in */
		if (op == NBD_OP_SEND && (!c->chain || !--c->chain))
			c->sending = 0;
		else if (op == NBD_OP_RECV)
			c->receiving = 0;
		conn_maybe_closed(c);
		break;
	default:
		nbd_conn_log(c, LOG_ERR, "CQE of op %u (res %d) while down", op, res);
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
			nbd_list_append(nq, &c->head, &c->tail, io);
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
			nbd_conn_lost(c, LOG_WARN, "the device is stopping: %u requests not answered",
				  c->nr_reqs);
		else if (oldest && now - oldest >= dev->timeout_ms)
			nbd_conn_lost(c, LOG_WARN, "a request not answered within %u s",
				  dev->timeout_ms / 1000);
		else
			nbd_send_kick(c);	/* if the ring was full before */
		return;
	}
	if (c->state == NBD_CONN_CLOSING)
		return;
	if (!c->failing && now - c->down_ms >= dev->timeout_ms) {
		c->failing = 1;
		nbd_conn_log(c, LOG_WARN, "no connection for %u s: requests fail until it is back",
			 dev->timeout_ms / 1000);
	}
	if (c->head != NBD_NO_TAG)
		conn_fail_old(c, now, c->failing || stopping);
	if (c->state == NBD_CONN_DOWN && now >= c->retry_ms)
		conn_connect(c, now);
	else if (c->state != NBD_CONN_DOWN && now >= c->attempt_ms)
		nbd_conn_lost(c, LOG_DEBUG, "the connect and handshake take too long");
}
