/* SPDX-License-Identifier: MIT */
/*
 * sublk's minimal io_uring layer: one ring, raw syscalls, no liburing.
 *
 * Functions return 0 or a count on success and -errno on failure.
 * Pointers into memory shared with the kernel carry a 'k' prefix; the
 * unprefixed fields are this process's cached copies.
 */
#ifndef SUBLK_URING_H
#define SUBLK_URING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "abi.h"
#include "barrier.h"

struct uring_sq {
	unsigned *khead;
	unsigned *ktail;
	unsigned *kflags;
	unsigned *kdropped;
	unsigned *karray;
	struct io_uring_sqe *sqes;
	unsigned sqe_tail;	/* next SQE handed out to the caller */
	unsigned ring_mask;
	unsigned ring_entries;
	size_t ring_sz;
	void *ring_ptr;
	size_t sqes_sz;
};

struct uring_cq {
	unsigned *khead;
	unsigned *ktail;
	unsigned *koverflow;
	struct io_uring_cqe *cqes;
	unsigned ring_mask;
	unsigned ring_entries;
	size_t ring_sz;
	void *ring_ptr;
};

struct uring {
	struct uring_sq sq;
	struct uring_cq cq;
	unsigned flags;		/* setup flags the kernel accepted */
	unsigned features;	/* IORING_FEAT_* */
	unsigned sqe_shift;	/* 1 with SQE128: an SQE is 64 << sqe_shift bytes */
	unsigned cqe_shift;	/* 1 with CQE32: a CQE is 16 << cqe_shift bytes */
	unsigned enter_flags;	/* IORING_ENTER_REGISTERED_RING once registered */
	int ring_fd;		/* the real fd, for register and close */
	int enter_fd;		/* what io_uring_enter takes: fd or registered index */
	int reg_tid;		/* thread whose ring-fd table holds enter_fd */
};

/* Setup flags that only make the ring faster; dropped one by one when refused. */
#define URING_SETUP_OPTIONAL (IORING_SETUP_DEFER_TASKRUN | \
			      IORING_SETUP_SINGLE_ISSUER | \
			      IORING_SETUP_COOP_TASKRUN)

/*
 * uring_init - create a ring of @entries SQEs with setup @flags.
 * Bits of URING_SETUP_OPTIONAL in @flags are tried and dropped when the
 * kernel refuses them; r->flags says what was kept.
 */
int uring_init(struct uring *r, unsigned entries, unsigned flags);
void uring_exit(struct uring *r);

/*
 * Register the ring fd so io_uring_enter skips the fd lookup.  The
 * registration belongs to the calling thread: only it may enter the ring
 * by the registered index, and uring_exit() drops it only when called
 * from that thread (otherwise it goes when that thread exits).
 */
int uring_register_ring_fd(struct uring *r);
int uring_register_files(struct uring *r, const int *fds, unsigned nr);
int uring_register_buffers_sparse(struct uring *r, unsigned nr);

/*
 * A provided-buffer ring (group @bgid) of @entries (a power of two) slots,
 * for multishot commands that pick their own buffer.  Buffers go in with
 * uring_buf_ring_add() and become visible with uring_buf_ring_publish().
 */
struct uring_buf_ring {
	struct io_uring_buf *bufs;	/* page-aligned ring memory */
	size_t size;
	unsigned mask;
	uint16_t tail;			/* ours, published on publish() */
	uint16_t bgid;
};

int uring_buf_ring_setup(struct uring *r, struct uring_buf_ring *br,
			 unsigned entries, uint16_t bgid);
void uring_buf_ring_free(struct uring *r, struct uring_buf_ring *br);

static inline void uring_buf_ring_add(struct uring_buf_ring *br, void *addr,
				      unsigned len, uint16_t bid)
{
	struct io_uring_buf *b = &br->bufs[br->tail & br->mask];

	b->addr = (uint64_t)(uintptr_t)addr;
	b->len = len;
	b->bid = bid;	/* never b->resv: in entry 0 that is the kernel's tail */
	br->tail++;
}

/* release: the entries are written before the kernel sees the new tail */
static inline void uring_buf_ring_publish(struct uring_buf_ring *br)
{
	uring_store_release(&br->bufs[0].resv, br->tail);
}

/*
 * uring_submit_and_wait - hand every queued SQE to the kernel and wait for
 * @wait_nr completions.  Returns the number submitted or -errno; -EINTR is
 * retried, -EBUSY/-EAGAIN (completions must be reaped first) return 0 when
 * CQEs are ready so the caller reaps and comes back.
 */
int uring_submit_and_wait(struct uring *r, unsigned wait_nr);

static inline int uring_submit(struct uring *r)
{
	return uring_submit_and_wait(r, 0);
}

/* SQEs handed out but not yet consumed by the kernel. */
static inline unsigned uring_sq_pending(const struct uring *r)
{
	return r->sq.sqe_tail - uring_load_acquire(r->sq.khead);
}

static inline unsigned uring_sq_space(const struct uring *r)
{
	return r->sq.ring_entries - uring_sq_pending(r);
}

/*
 * uring_get_sqe - a zeroed SQE, or NULL when the SQ is full even after
 * submitting what is queued.
 */
struct io_uring_sqe *uring_get_sqe(struct uring *r);

/* Completions waiting in the CQ. */
static inline unsigned uring_cq_ready(const struct uring *r)
{
	/* acquire: CQE contents are visible once we see the kernel's tail */
	return uring_load_acquire(r->cq.ktail) - *r->cq.khead;
}

static inline struct io_uring_cqe *uring_cqe_at(const struct uring *r,
						 unsigned idx)
{
	return (struct io_uring_cqe *)((char *)r->cq.cqes +
		((size_t)(idx & r->cq.ring_mask) << (4 + r->cqe_shift)));
}

/* Hand @nr CQE slots back to the kernel: call after their last use. */
static inline void uring_cq_advance(struct uring *r, unsigned nr)
{
	/* release: our reads of the CQEs happen before the kernel reuses them */
	uring_store_release(r->cq.khead, *r->cq.khead + nr);
}

/*
 * Iterate the ready CQEs without consuming them; follow with
 * uring_cq_advance(r, count) once, after the loop.
 */
#define uring_for_each_cqe(r, head, cqe)					\
	for ((head) = *(r)->cq.khead;					\
	     ((cqe) = ((head) != uring_load_acquire((r)->cq.ktail) ?	\
		       uring_cqe_at((r), (head)) : NULL));		\
	     (head)++)

/* ---- SQE preparation ---- */

static inline void uring_prep_rw(struct io_uring_sqe *sqe, int op, int fd,
				 const void *addr, unsigned len, uint64_t off)
{
	sqe->opcode = (uint8_t)op;
	sqe->fd = fd;
	sqe->addr = (uint64_t)(uintptr_t)addr;
	sqe->len = len;
	sqe->off = off;
}

static inline void uring_prep_nop(struct io_uring_sqe *sqe)
{
	sqe->opcode = IORING_OP_NOP;
}

static inline void uring_prep_fsync(struct io_uring_sqe *sqe, int fd,
				    unsigned fsync_flags)
{
	sqe->opcode = IORING_OP_FSYNC;
	sqe->fd = fd;
	sqe->fsync_flags = fsync_flags;
}

static inline void uring_prep_fallocate(struct io_uring_sqe *sqe, int fd,
					int mode, uint64_t off, uint64_t len)
{
	sqe->opcode = IORING_OP_FALLOCATE;
	sqe->fd = fd;
	sqe->off = off;
	sqe->addr = len;
	sqe->len = (unsigned)mode;
}

/*
 * Cancel every request in flight on the ring (Linux 5.19); its CQE's res
 * is how many were found, or -ENOENT.
 */
static inline void uring_prep_cancel_all(struct io_uring_sqe *sqe)
{
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->fd = -1;
	sqe->cancel_flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY;
}

/* Post a CQE of @user_data and @res on the ring of fd @ring_fd (5.18). */
static inline void uring_prep_msg_ring(struct io_uring_sqe *sqe, int ring_fd,
				       int res, uint64_t user_data)
{
	sqe->opcode = IORING_OP_MSG_RING;
	sqe->fd = ring_fd;
	sqe->len = (uint32_t)res;
	sqe->off = user_data;	/* IORING_MSG_DATA: addr 0 */
}

/*
 * Cancel every request in flight on file descriptor @fd (Linux 5.19); its
 * CQE's res is how many were found, or -ENOENT.
 */
static inline void uring_prep_cancel_fd(struct io_uring_sqe *sqe, int fd)
{
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->fd = fd;
	sqe->cancel_flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD;
}

/* A timer: its CQE comes after *@ts (relative) with res -ETIME. */
static inline void uring_prep_timeout(struct io_uring_sqe *sqe,
				      const struct uring_timespec *ts)
{
	sqe->opcode = IORING_OP_TIMEOUT;
	sqe->fd = -1;
	sqe->addr = (uint64_t)(uintptr_t)ts;
	sqe->len = 1;
}

/* Socket I/O: send, recv and sendmsg take MSG_* in sqe->msg_flags. */
static inline void uring_prep_send(struct io_uring_sqe *sqe, int fd,
				   const void *buf, unsigned len, unsigned flags)
{
	uring_prep_rw(sqe, IORING_OP_SEND, fd, buf, len, 0);
	sqe->msg_flags = flags;
}

static inline void uring_prep_recv(struct io_uring_sqe *sqe, int fd,
				   void *buf, unsigned len, unsigned flags)
{
	uring_prep_rw(sqe, IORING_OP_RECV, fd, buf, len, 0);
	sqe->msg_flags = flags;
}

/* @msg (a struct msghdr) must stay put until the SQE is submitted. */
static inline void uring_prep_sendmsg(struct io_uring_sqe *sqe, int fd,
				      const void *msg, unsigned flags)
{
	uring_prep_rw(sqe, IORING_OP_SENDMSG, fd, msg, 1, 0);
	sqe->msg_flags = flags;
}

/* @addr (a struct sockaddr of @len bytes) must stay put until submitted. */
static inline void uring_prep_connect(struct io_uring_sqe *sqe, int fd,
				      const void *addr, unsigned len)
{
	uring_prep_rw(sqe, IORING_OP_CONNECT, fd, addr, 0, len);
}

/*
 * uring_prep_cmd - an IORING_OP_URING_CMD SQE; returns its command area
 * (16 bytes in a 64-byte SQE, 80 with SQE128).
 */
static inline void *uring_prep_cmd(struct io_uring_sqe *sqe, int fd,
				   uint32_t cmd_op)
{
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	return sqe->cmd;
}

#endif
