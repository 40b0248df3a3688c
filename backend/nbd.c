// SPDX-License-Identifier: MIT
/*
 * nbd: a block device served by an NBD server (nbdkit, qemu-nbd,
 * qemu-storage-daemon, nbd-server), over a unix socket or TCP.
 *
 * open() resolves the server, connects and negotiates the export (fixed
 * newstyle, structured replies where offered, the server's block sizes),
 * one connection per queue, or --connections per queue when the server
 * allows several (NBD_FLAG_CAN_MULTI_CONN); what the export offers sets
 * the device's limits and attributes.  Each queue's thread then takes its
 * connections over (queue_init) and serves requests on its ring alone:
 * nbd_conn.c sends, receives and reconnects, this file turns requests
 * into NBD commands and finishes them.
 *
 * A flush goes out only once every write that came before it has its
 * reply: NBD_CMD_FLUSH covers the writes the server has answered.
 * Zero copy (-z) moves the data between the socket and the request's
 * pages (nbd_target.h), without structured replies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "nbd_target.h"
#include "../ublk/log.h"

static void nbd_dev_free(struct nbd_dev *dev)
{
	unsigned i, n = dev->nr_queues * dev->conns_per_queue;

	for (i = 0; dev->fds && i < n; i++)
		if (dev->fds[i] >= 0)
			close(dev->fds[i]);
	free(dev->fds);
	free(dev->queues);
	free(dev);
}

/* The device's limits and attributes from what the export offers. */
static int nbd_set_params(struct backend *b, struct nbd_dev *dev)
{
	const struct nbd_export *e = &dev->exp;
	const struct nbd_caps *c = &dev->caps;
	uint32_t min = e->min_bs < 512 ? 512 : e->min_bs, lbs;
	uint64_t size = e->size;
	unsigned shift = 9;

	if (min > 4096)
		return nbd_fail(b->err, sizeof(b->err), -EINVAL,
				"nbd: %s: the export's minimum block size %u is above 4096, the largest a ublk device takes",
				dev->where, min);
	while ((1U << shift) < min)
		shift++;
	if (b->conf.lbs_shift < shift)
		b->conf.lbs_shift = shift;
	lbs = 1U << b->conf.lbs_shift;

	if (b->conf.size > size)
		return nbd_fail(b->err, sizeof(b->err), -EINVAL,
				"nbd: --size %llu is larger than the export (%llu bytes)",
				(unsigned long long)b->conf.size, (unsigned long long)size);
	if (b->conf.size)
		size = b->conf.size;
	if (size & (lbs - 1))
		log_warn("nbd: the export's %llu bytes are not a multiple of %u: the last %u are left out",
			 (unsigned long long)size, lbs, (unsigned)(size & (lbs - 1)));
	size &= ~(uint64_t)(lbs - 1);
	if (!size)
		return nbd_fail(b->err, sizeof(b->err), -EINVAL,
				"nbd: %s: the export is empty", dev->where);
	b->size = b->max_size = size;

	/* reads and writes no larger than the server takes, nor than ublk's */
	dev->max_io = e->max_bs < (1U << UBLK_IO_BUF_BITS) ? e->max_bs :
		      1U << UBLK_IO_BUF_BITS;
	dev->max_io &= ~(lbs - 1);
	if (dev->max_io < 4096)
		return nbd_fail(b->err, sizeof(b->err), -EINVAL,
				"nbd: %s: the export's maximum payload of %u bytes is below a page",
				dev->where, e->max_bs);
	b->max_io_bytes = dev->max_io;

	b->attrs = 0;
	if (c->read_only || b->conf.read_only)
		b->attrs |= UBLK_ATTR_READ_ONLY;
	if (c->flush)
		b->attrs |= UBLK_ATTR_VOLATILE_CACHE;
	if (c->fua)
		b->attrs |= UBLK_ATTR_FUA;
	if (c->rotational)
		b->attrs |= UBLK_ATTR_ROTATIONAL;
	if (!(b->attrs & UBLK_ATTR_READ_ONLY) && (c->trim || c->write_zeroes)) {
		b->discard_granularity = lbs;
		b->max_discard_sectors = c->trim ? BACKEND_MAX_DISCARD_SECTORS : 0;
		b->max_write_zeroes_sectors = c->write_zeroes ?
					      BACKEND_MAX_DISCARD_SECTORS : 0;
	}
	return 0;
}

static int nbd_open(struct backend *b)
{
	const struct backend_conf *conf = &b->conf;
	struct nbd_export e;
	struct nbd_dev *dev;
	unsigned i, n;
	int ret;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return backend_fail(b, -ENOMEM, "nbd: out of memory");
	dev->export_name = conf->nbd_export ? conf->nbd_export : "";
	dev->timeout_ms = (conf->nbd_timeout ? conf->nbd_timeout : NBD_TIMEOUT_DEFAULT) * 1000;
	dev->nr_queues = conf->nr_queues ? conf->nr_queues : 1;
	dev->conns_per_queue = conf->nbd_conns ? conf->nbd_conns : 1;
	/* add's pick is made before the handshake: it depends on it */
	dev->zero_copy = conf->zero_copy || conf->auto_zero_copy;
	dev->hs_flags = dev->zero_copy ? NBD_HS_F_NO_STRUCTURED : 0;
	n = dev->nr_queues * dev->conns_per_queue;
	dev->fds = malloc(n * sizeof(*dev->fds));
	dev->queues = calloc(dev->nr_queues, sizeof(*dev->queues));
	if (!dev->fds || !dev->queues) {
		ret = backend_fail(b, -ENOMEM, "nbd: out of memory");
		goto err;
	}
	for (i = 0; i < n; i++)
		dev->fds[i] = -1;
	ret = nbd_sock_resolve(b, dev);
	if (ret < 0)
		goto err;
	ret = dev->fds[0] = nbd_sock_open(b, dev, 1, &dev->exp);
	if (ret < 0)
		goto err;
	dev->caps = nbd_tflags_caps(dev->exp.tflags, dev->exp.structured);
	if (n > 1 && !dev->caps.multi_conn) {
		ret = nbd_fail(b->err, sizeof(b->err), -EINVAL,
			       "nbd: %s: export '%.64s' allows one connection only (no NBD_FLAG_CAN_MULTI_CONN), and -q %u --connections %u need %u: use -q 1 --connections 1",
			       dev->where, dev->export_name, dev->nr_queues,
			       dev->conns_per_queue, n);
		goto err;
	}
	for (i = 1; i < n; i++) {
		ret = dev->fds[i] = nbd_sock_open(b, dev, 0, &e);
		if (ret < 0)
			goto err;
		if (e.size != dev->exp.size || e.tflags != dev->exp.tflags ||
		    e.structured != dev->exp.structured) {
			ret = nbd_fail(b->err, sizeof(b->err), -EIO,
				       "nbd: %s: export '%.64s' changed between two connections",
				       dev->where, dev->export_name);
			goto err;
		}
	}
	ret = nbd_set_params(b, dev);
	if (ret < 0)
		goto err;
	b->fd = -1;
	b->zero_copy = 1;	/* WRITE_FIXED and READ_FIXED on the socket */
	/* no copy at all, the socket I/O on the requests' pages */
	b->auto_path = BACKEND_AUTO_ZERO_COPY;
	b->priv = dev;
	return 0;
err:
	nbd_dev_free(dev);
	return ret;
}

static void nbd_close(struct backend *b)
{
	if (!b->priv)
		return;
	nbd_dev_free(b->priv);
	b->priv = NULL;
}

static void nbd_stop(struct backend *b)
{
	struct nbd_dev *dev = b->priv;

	if (dev)
		__atomic_store_n(&dev->stopping, 1, __ATOMIC_RELAXED);
}

/* ---- the queues ---- */

static void nbd_queue_free(struct nbd_queue *nq)
{
	unsigned i;

	for (i = 0; nq->conns && i < nq->nr_conns; i++) {
		free(nq->conns[i].rx);
		free(nq->conns[i].hs);
	}
	free(nq->conns);
	free(nq->ios);
	free(nq);
}

static int nbd_queue_init(struct backend *b, struct ublk_queue *q)
{
	struct nbd_dev *dev = b->priv;
	unsigned q_id = ublk_queue_id(q), i;
	struct nbd_queue *nq;
	int *fds;

	if (q_id >= dev->nr_queues) {
		log_err("nbd: queue %u has no connection (open made %u)", q_id,
			dev->nr_queues);
		return -EINVAL;
	}
	nq = calloc(1, sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	nq->dev = dev;
	nq->q = q;
	nq->q_id = q_id;
	nq->depth = ublk_queue_depth(q);
	nq->nr_conns = dev->conns_per_queue;
	nq->parked = NBD_NO_TAG;
	nq->ios = calloc(nq->depth, sizeof(*nq->ios));
	nq->conns = calloc(nq->nr_conns, sizeof(*nq->conns));
	if (!nq->ios || !nq->conns || nq->depth > NBD_NO_TAG)
		goto err;
	for (i = 0; i < nq->nr_conns; i++) {
		nq->conns[i].rx = malloc(NBD_RX_SIZE);
		nq->conns[i].hs = malloc(sizeof(struct nbd_hs));
		if (!nq->conns[i].rx || !nq->conns[i].hs)
			goto err;
	}
	/* the sockets are the queue's now */
	fds = dev->fds + (size_t)q_id * nq->nr_conns;
	for (i = 0; i < nq->nr_conns; i++) {
		nbd_conn_init(&nq->conns[i], nq, i, fds[i]);
		fds[i] = -1;
	}
	dev->queues[q_id] = nq;
	return 0;
err:
	nbd_queue_free(nq);
	return -ENOMEM;
}

static void nbd_queue_exit(struct backend *b, struct ublk_queue *q)
{
	struct nbd_dev *dev = b->priv;
	struct nbd_queue *nq = dev->queues[ublk_queue_id(q)];
	uint8_t disc[NBD_REQ_SIZE];
	struct nbd_conn *c;
	unsigned i;

	if (!nq)
		return;
	nbd_req_encode(disc, NBD_CMD_DISC, 0, 0, 0, 0);
	for (i = 0; i < nq->nr_conns; i++) {
		c = &nq->conns[i];
		if (c->fd < 0)
			continue;
		/* a soft disconnect: the server finishes and closes */
		if (c->state == NBD_CONN_UP &&
		    send(c->fd, disc, sizeof(disc), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("nbd: queue %u: NBD_CMD_DISC not sent", nq->q_id);
		close(c->fd);
	}
	dev->queues[nq->q_id] = NULL;
	nbd_queue_free(nq);
}

void nbd_queue_arm(struct nbd_queue *nq)
{
	struct io_uring_sqe *sqe;
	unsigned i, needed = nq->held;

	for (i = 0; i < nq->nr_conns && !needed; i++)
		needed = nq->conns[i].state != NBD_CONN_UP;
	if (!needed || nq->timer_armed)
		return;
	sqe = ublk_queue_get_sqe(nq->q, UBLK_TGT_NO_TAG, NBD_OP_TIMER, 0);
	if (!sqe)
		return;
	nq->tick.tv_sec = 0;
	nq->tick.tv_nsec = NBD_TICK_MS * 1000000L;
	uring_prep_timeout(sqe, &nq->tick);
	nq->timer_armed = 1;
}

static void nbd_queue_tick(struct nbd_queue *nq)
{
	int64_t now = nbd_now_ms();
	unsigned i;

	if (nbd_stopping(nq->dev) && !nq->stop_ms)
		nq->stop_ms = now;
	for (i = 0; i < nq->nr_conns; i++)
		nbd_conn_tick(&nq->conns[i], now);
	nbd_queue_arm(nq);
}

/* Send the parked flushes that no unanswered write comes before. */
static void nbd_release_flushes(struct nbd_queue *nq)
{
	uint64_t oldest = UINT64_MAX;
	uint16_t tag, next, *link;
	struct nbd_io *io;
	unsigned t;

	for (t = 0; nq->writes && t < nq->depth; t++) {
		io = &nq->ios[t];
		if (io->state != NBD_IO_IDLE && io->state != NBD_IO_PARKED &&
		    io->req.type == NBD_CMD_WRITE && io->wseq < oldest)
			oldest = io->wseq;
	}
	for (link = &nq->parked; (tag = *link) != NBD_NO_TAG; ) {
		io = &nq->ios[tag];
		next = io->next;
		if (io->wseq >= oldest) {
			link = &io->next;
			continue;
		}
		*link = next;
		nbd_conn_queue(&nq->conns[io->conn], io);
	}
}

void nbd_io_finish(struct nbd_queue *nq, struct nbd_io *io, int nbd_result)
{
	unsigned tag = nbd_io_tag(nq, io);
	int type = io->req.type, res = nbd_result, ret;

	if (!res && (type == NBD_CMD_READ || type == NBD_CMD_WRITE))
		res = (int)io->req.len;
	if (io->state == NBD_IO_SENT)
		nq->conns[io->conn].nr_sent--;
	if (type == NBD_CMD_READ) {
		nq->conns[io->conn].nr_reads--;
		nq->conns[io->conn].nr_big_reads -= io->req.len > NBD_RX_BIG;
	}
	io->state = NBD_IO_IDLE;
	nq->conns[io->conn].nr_reqs--;
	nq->held--;
	ret = ublk_queue_complete(nq->q, tag, res);
	if (ret < 0)
		log_err("nbd: queue %u tag %u: cannot complete: %s", nq->q_id, tag,
			strerror(-ret));
	if (type == NBD_CMD_WRITE) {
		nq->writes--;
		if (nq->parked != NBD_NO_TAG)
			nbd_release_flushes(nq);
	}
}

/*
 * The NBD command for a request, or -errno to finish it with at once (a
 * flush without a cache is no command: the caller finishes it).
 */
static int nbd_cmd(const struct backend *b, const struct ublksrv_io_desc *iod,
		   uint16_t *flags)
{
	const struct nbd_dev *dev = b->priv;
	unsigned op = ublksrv_get_op(iod);
	int ro = !!(b->attrs & UBLK_ATTR_READ_ONLY);

	*flags = 0;
	if ((iod->op_flags & UBLK_IO_F_FUA) && dev->caps.fua)
		*flags |= NBD_CMD_FLAG_FUA;
	switch (op) {
	case UBLK_IO_OP_READ:
		return NBD_CMD_READ;
	case UBLK_IO_OP_WRITE:
		return ro ? -EROFS : NBD_CMD_WRITE;
	case UBLK_IO_OP_FLUSH:
		return NBD_CMD_FLUSH;
	case UBLK_IO_OP_DISCARD:
		return ro ? -EROFS : dev->caps.trim ? NBD_CMD_TRIM : -EOPNOTSUPP;
	case UBLK_IO_OP_WRITE_ZEROES:
		if (iod->op_flags & UBLK_IO_F_NOUNMAP)
			*flags |= NBD_CMD_FLAG_NO_HOLE;
		return ro ? -EROFS : dev->caps.write_zeroes ? NBD_CMD_WRITE_ZEROES :
		       -EOPNOTSUPP;
	default:
		return -EOPNOTSUPP;
	}
}

static int nbd_queue_io(struct backend *b, struct ublk_queue *q, unsigned tag,
			const struct ublksrv_io_desc *iod, void *buf)
{
	struct nbd_dev *dev = b->priv;
	struct nbd_queue *nq = dev->queues[ublk_queue_id(q)];
	uint64_t off = iod->start_sector << 9;
	uint32_t len = iod->nr_sectors << 9;
	struct nbd_io *io = &nq->ios[tag];
	struct nbd_conn *c;
	uint16_t flags;
	int type;

	type = nbd_cmd(b, iod, &flags);
	if (type < 0)
		return type;
	if ((buf == NULL) != dev->zero_copy &&
	    (type == NBD_CMD_READ || type == NBD_CMD_WRITE))
		return -EIO;	/* the queue's data path is not open()'s */
	if (type == NBD_CMD_FLUSH && !dev->caps.flush)
		return 0;	/* no cache, nothing to flush */
	if (type == NBD_CMD_FLUSH) {
		off = 0;
		len = 0;
	} else if (off > b->size || len > b->size - off ||
		   ((type == NBD_CMD_READ || type == NBD_CMD_WRITE) &&
		    len > dev->max_io)) {
		return -EIO;
	}
	c = &nq->conns[tag % nq->nr_conns];
	/* no server for long enough, or a device going away: no waiting */
	if (c->state != NBD_CONN_UP && (c->failing || nbd_stopping(dev)))
		return -EIO;

	io->cookie = ++nq->gen << 16 | tag;
	nbd_req_set(&io->req, (uint16_t)type, off, len);
	nbd_req_encode(io->hdr, (uint16_t)type, flags, io->cookie, off, len);
	io->buf = buf;
	io->off = 0;
	io->start_ms = nbd_now_ms();
	io->in_batch = io->replied = 0;
	io->conn = (uint8_t)c->idx;
	c->nr_reqs++;
	c->nr_reads += type == NBD_CMD_READ;
	c->nr_big_reads += type == NBD_CMD_READ && len > NBD_RX_BIG;
	nq->held++;
	if (type == NBD_CMD_WRITE) {
		io->wseq = ++nq->write_seq;
		nq->writes++;
	} else if (type == NBD_CMD_FLUSH && nq->writes) {
		/* after the replies of the writes before it */
		io->wseq = nq->write_seq;
		io->state = NBD_IO_PARKED;
		io->next = nq->parked;
		nq->parked = (uint16_t)tag;
		nbd_queue_arm(nq);
		return BACKEND_QUEUED;
	}
	nbd_conn_queue(c, io);
	nbd_queue_arm(nq);
	return BACKEND_QUEUED;
}

/*
 * Every CQE of the round is handled: what came in it (new requests, the
 * rest of a short send) goes out in one send per connection.
 */
static void nbd_queue_submit(struct backend *b, struct ublk_queue *q)
{
	struct nbd_dev *dev = b->priv;
	struct nbd_queue *nq = dev->queues[ublk_queue_id(q)];
	unsigned i;

	for (i = 0; nq && i < nq->nr_conns; i++)
		nbd_send_kick(&nq->conns[i]);
}

static int nbd_tgt_event(struct backend *b, struct ublk_queue *q,
			 const struct io_uring_cqe *cqe)
{
	struct nbd_dev *dev = b->priv;
	struct nbd_queue *nq = dev->queues[ublk_queue_id(q)];
	unsigned op = user_data_op(cqe->user_data);
	unsigned idx = user_data_tgt_data(cqe->user_data);

	if (!nq)
		return -EINVAL;
	if (op == NBD_OP_TIMER) {
		nq->timer_armed = 0;
		if (cqe->res != -ECANCELED)
			nbd_queue_tick(nq);
		return 0;
	}
	if (idx >= nq->nr_conns)
		return -EINVAL;
	nbd_conn_event(&nq->conns[idx], op, cqe->res);
	return 0;
}

static int nbd_json(const struct backend *b, char *buf, size_t len)
{
	const struct nbd_dev *dev = b->priv;
	const struct backend_conf *conf = &b->conf;
	size_t n = 0;
	int m;

#define PUT(...) do {							\
	m = snprintf(buf + n, len - n, __VA_ARGS__);			\
	if (m < 0 || (size_t)m >= len - n)				\
		return -ENOSPC;						\
	n += (size_t)m;							\
} while (0)
#define STR(s) do {							\
	m = backend_json_str(buf + n, len - n, (s));			\
	if (m < 0)							\
		return m;						\
	n += (size_t)m;							\
} while (0)
	if (conf->nbd_unix) {
		PUT("\"unix\":");
		STR(conf->nbd_unix);
	} else {
		PUT("\"host\":");
		STR(conf->nbd_host);
		PUT(",\"port\":");
		STR(conf->nbd_port ? conf->nbd_port : NBD_DEFAULT_PORT);
	}
	PUT(",\"export_name\":");
	STR(dev->export_name);
	PUT(",\"size\":%llu,\"transmission_flags\":%u,\"structured_replies\":%d"
	    ",\"connections\":%u,\"timeout\":%u,\"read_only\":%d",
	    (unsigned long long)b->size, dev->exp.tflags, dev->exp.structured,
	    dev->nr_queues * dev->conns_per_queue, dev->timeout_ms / 1000,
	    !!(b->attrs & UBLK_ATTR_READ_ONLY));
#undef STR
#undef PUT
	return (int)n;
}

const struct backend_ops backend_nbd_ops = {
	.name = "nbd",
	.no_scheduler = 1,
	.open = nbd_open,
	.close = nbd_close,
	.queue_io = nbd_queue_io,
	.queue_init = nbd_queue_init,
	.queue_exit = nbd_queue_exit,
	.tgt_event = nbd_tgt_event,
	.queue_submit = nbd_queue_submit,
	.stop = nbd_stop,
	.json = nbd_json,
};
