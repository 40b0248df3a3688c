/* SPDX-License-Identifier: MIT */
/*
 * The nbd target's own state, private to backend/nbd.c (the backend_ops),
 * nbd_conn.c (connections on a queue's ring), nbd_io.c (what they carry)
 * and nbd_sock.c (sockets and the blocking handshake of open()).  The protocol itself, without I/O,
 * is nbd.h's.
 *
 * Each queue has its own connections (--connections of them, 1 by
 * default), created and handed the handshake in open(), then driven on
 * the queue's ring: one recv and at most one sendmsg in flight on each,
 * and, while one is down, a connect and the handshake, all as SQEs of no
 * tag (UBLK_TGT_NO_TAG) whose CQEs come to tgt_event.  A timer SQE ticks
 * while the queue holds requests or a connection is down.
 *
 * Zero copy (-z): a write's payload goes by IORING_OP_WRITE_FIXED, linked
 * after the sendmsg of its header, and a read's data comes by
 * IORING_OP_READ_FIXED on the socket, from and to the request's pages
 * that the kernel registered on the ring.  Userspace cannot
 * touch those pages, so no read's data may be staged: while reads are
 * out, replies are received exactly as the parser needs them, and
 * structured replies (whose holes would have to be zeroed) are not asked
 * for.  While none is and other requests are sent, every reply is a bare
 * header: one receive takes as many as came ("wide"), and reads wait on
 * the send list until it is in.
 *
 * A request not answered within --timeout of its arrival fails with EIO,
 * however often it was resent: a connection up that leaves one
 * unanswered that long is dropped, one down fails it.
 */
#ifndef SUBLK_NBD_TARGET_H
#define SUBLK_NBD_TARGET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "internal.h"
#include "nbd.h"
#include "../uring/uring.h"

#define NBD_TIMEOUT_DEFAULT	30	/* --timeout, seconds */
#define NBD_TICK_MS		100	/* the queue's timer while it is needed */
#define NBD_RETRY_MIN_MS	50	/* reconnect backoff: doubles ... */
#define NBD_RETRY_MAX_MS	1000	/* ... up to this */
#define NBD_ATTEMPT_MAX_MS	5000	/* one connect + handshake at most */
#define NBD_STOP_GRACE_MS	2000	/* a stopping device waits this for replies */
#define NBD_RX_SIZE		(64 << 10)	/* staging buffer of replies */
#define NBD_RX_BIG		(16 << 10)	/* a read this large ... */
#define NBD_RX_SMALL		(4 << 10)	/* ... keeps the staging to this */
#define NBD_SEND_BATCH		32	/* requests in one sendmsg */
#define NBD_NO_TAG		0xffff	/* end of a request list */

/* user_data op of each SQE of no tag; tgt_data is the connection's index */
enum {
	NBD_OP_SEND = 1,	/* sendmsg of requests, or a handshake send */
	NBD_OP_RECV,		/* replies, or the handshake's */
	NBD_OP_CONNECT,
	NBD_OP_CANCEL,		/* cancel of what is in flight on a socket */
	NBD_OP_TIMER,
};

/* Where a request is (nbd_io.state). */
enum {
	NBD_IO_IDLE,		/* not with the target */
	NBD_IO_QUEUED,		/* on its connection's send list */
	NBD_IO_PARKED,		/* a flush waiting for earlier writes' replies */
	NBD_IO_SENT,		/* all sent, awaiting its reply */
};

/* A request the queue holds, indexed by tag. */
struct nbd_io {
	struct nbd_req req;	/* what the reply parser checks replies against */
	uint64_t cookie;	/* (sequence << 16) | tag */
	uint64_t wseq;		/* a write's number; a flush's last covered write */
	int64_t start_ms;	/* arrival: unanswered after --timeout, it fails */
	uint8_t *buf;		/* the request's data; NULL in zero copy */
	uint32_t off;		/* bytes of header and payload sent */
	uint32_t plan;		/* bytes of it in the send in flight */
	uint16_t next;		/* the send list or parked list */
	uint8_t state;		/* NBD_IO_* */
	uint8_t conn;		/* index of its connection in the queue */
	uint8_t in_batch;	/* in the sendmsg in flight */
	uint8_t replied;	/* its reply came while in_batch: result holds it */
	int result;
	uint8_t hdr[NBD_REQ_SIZE];
};

/* A connection's state (nbd_conn.state). */
enum {
	NBD_CONN_UP,		/* transmission: requests out, replies in */
	NBD_CONN_DOWN,		/* waiting for the next attempt (retry_ms) */
	NBD_CONN_CONNECTING,	/* IORING_OP_CONNECT in flight */
	NBD_CONN_HANDSHAKE,	/* nbd_hs driven by sends and recvs */
	NBD_CONN_CLOSING,	/* shut down: waiting for its SQEs to end */
};

struct nbd_queue;

struct nbd_conn {
	struct nbd_queue *nq;
	int fd;
	int state;		/* NBD_CONN_* */
	unsigned idx;		/* in nq->conns */
	unsigned inflight;	/* SQEs in flight on fd */
	uint8_t sending, receiving;
	uint8_t failing;	/* down for --timeout: new requests fail at once */
	uint8_t rx_wide;	/* zero copy: the receive in flight takes any
				   number of headers, so no read is sent */
	unsigned nr_reqs;	/* requests on it, in any state but idle */
	unsigned nr_reads;	/* ... of them reads */
	unsigned nr_big_reads;	/* ... of them over NBD_RX_BIG */
	unsigned nr_sent;	/* ... all sent, unanswered (NBD_IO_SENT) */

	/*
	 * The send list: requests not (all) sent yet, oldest first.  The
	 * send in flight is a chain of linked SQEs (one sendmsg in the copy
	 * path; in zero copy a sendmsg of headers before each write's
	 * WRITE_FIXED), which the kernel runs in order and cuts at the
	 * first that falls short: the bytes sent are the sum of what the
	 * chain's SQEs sent.
	 */
	uint16_t head, tail;
	unsigned batch;		/* requests in the send in flight */
	unsigned chain;		/* its SQEs whose CQE has not come */
	uint32_t chain_sent;	/* bytes its SQEs sent so far */
	int chain_err;		/* one of them failed (-errno), or 0 */
	int nowait;		/* the send in flight is MSG_DONTWAIT ... */
	int wait_next;		/* ... and the next must not be: it fell short */
	struct msghdr msg[NBD_SEND_BATCH + 1];
	struct iovec iov[2 * NBD_SEND_BATCH];

	/* replies */
	struct nbd_reply_parser parser;
	uint8_t *rx;		/* NBD_RX_SIZE bytes */
	uint32_t rx_len, rx_off;
	struct nbd_io *dst_io;	/* a read's data goes straight to its buffer ... */
	uint32_t dst_off;	/* ... at this offset ... */
	uint32_t dst_left;	/* ... this many bytes more */
	struct nbd_io *done_io;	/* finished once its data is in */
	int done_result;

	/* reconnection */
	struct nbd_hs *hs;
	int64_t down_ms;	/* since when it is down; 0: up */
	int64_t retry_ms;	/* next attempt at */
	int64_t attempt_ms;	/* this attempt gives up at */
	unsigned backoff_ms, attempts;
};

struct nbd_dev;

struct nbd_queue {
	struct nbd_dev *dev;
	struct ublk_queue *q;
	unsigned q_id, depth, nr_conns;
	struct nbd_conn *conns;
	struct nbd_io *ios;
	unsigned held;		/* requests with the target */
	uint64_t gen;		/* cookie sequence */
	uint64_t write_seq;	/* writes numbered as they come */
	unsigned writes;	/* writes with the target */
	uint16_t parked;	/* flushes waiting for writes, a list */
	int timer_armed;
	struct uring_timespec tick;
	int64_t stop_ms;	/* when the queue saw dev->stopping; 0: not yet */
};

/* The export and how to reach it, set by open(); shared by the queues. */
#define NBD_MAX_ADDRS	4	/* of a host name, tried in order */

struct nbd_dev {
	struct sockaddr_storage addr;	/* the server's address that answered */
	socklen_t addr_len;
	struct sockaddr_storage addrs[NBD_MAX_ADDRS];
	socklen_t addr_lens[NBD_MAX_ADDRS];
	unsigned nr_addrs;
	char where[300];	/* the server, for messages: a path or host:port */
	const char *export_name;
	struct nbd_export exp;	/* as the first handshake found it */
	struct nbd_caps caps;
	uint32_t max_io;	/* largest read or write sent */
	unsigned timeout_ms;
	unsigned nr_queues, conns_per_queue;
	int zero_copy;		/* -z: data in the requests' registered pages */
	unsigned hs_flags;	/* NBD_HS_F_*: no structured replies in zero copy */
	int *fds;		/* open()'s connections, nr_queues * conns_per_queue */
	struct nbd_queue **queues;	/* by queue id, set by queue_init */
	int stopping;		/* the stop hook ran (atomic) */
};

/* ---- nbd_sock.c: sockets, and open()'s blocking connect and handshake ---- */

/* Fill dev->addrs from the conf (getaddrinfo for a host): 0 or -errno. */
int nbd_sock_resolve(struct backend *b, struct nbd_dev *dev);
/* A stream socket for dev->addr, close-on-exec, TCP_NODELAY for TCP. */
int nbd_sock_new(const struct nbd_dev *dev);
/*
 * nbd_sock_open - connect to dev->addr (the @first connection: to each of
 * dev->addrs in turn, dev->addr becoming the one that answers) and
 * negotiate dev->export_name, within dev->timeout_ms: the connected
 * socket (blocking again), with the export in @exp; or -errno with a line
 * in b->err.
 */
int nbd_sock_open(struct backend *b, struct nbd_dev *dev, int first,
		  struct nbd_export *exp);

/* ---- nbd_conn.c: connections on the queue's ring ---- */

void nbd_conn_init(struct nbd_conn *c, struct nbd_queue *nq, unsigned idx,
		   int fd);
/* The CQE of one of the connection's SQEs. */
void nbd_conn_event(struct nbd_conn *c, unsigned op, int res);
/* Once per tick: reconnects, timeouts, what a stopping device gives up. */
void nbd_conn_tick(struct nbd_conn *c, int64_t now);
/*
 * nbd_conn_lost - drop the connection (saying why, at log @level): shut it
 * down, and once its SQEs are in, close it and put its requests back on
 * its send list for the next connection.
 */
void nbd_conn_lost(struct nbd_conn *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void nbd_conn_log(const struct nbd_conn *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An SQE of no tag for the connection's @op, counted in c->inflight. */
struct io_uring_sqe *nbd_conn_sqe(struct nbd_conn *c, unsigned op);
void nbd_list_append(struct nbd_queue *nq, uint16_t *head, uint16_t *tail,
		     struct nbd_io *io);

/* ---- nbd_io.c: what a connection that is up carries ---- */

/* A request goes out on its connection (or waits for it). */
void nbd_conn_queue(struct nbd_conn *c, struct nbd_io *io);
/* Start a send of the head of the send list, unless one is in flight. */
void nbd_send_kick(struct nbd_conn *c);
/* The CQE (@res) of an SQE of the send in flight. */
void nbd_send_cqe(struct nbd_conn *c, int res);
/* The next receive: replies, or a read's data straight to its buffer. */
void nbd_recv_post(struct nbd_conn *c);
void nbd_recv_done(struct nbd_conn *c, int res);
/* The reply parser's lookup of the requests in flight on connection @ctx. */
int nbd_conn_lookup(void *ctx, uint64_t cookie, struct nbd_req **req);

/* ---- nbd.c ---- */

/* Finish request @io with the reply's @nbd_result (0 or -errno). */
void nbd_io_finish(struct nbd_queue *nq, struct nbd_io *io, int nbd_result);
/* Keep the queue's timer running if it is needed. */
void nbd_queue_arm(struct nbd_queue *nq);

int64_t nbd_now_ms(void);

static inline unsigned nbd_io_tag(const struct nbd_queue *nq,
				  const struct nbd_io *io)
{
	return (unsigned)(io - nq->ios);
}

static inline int nbd_stopping(const struct nbd_dev *dev)
{
	return __atomic_load_n(&dev->stopping, __ATOMIC_RELAXED);
}

#endif
