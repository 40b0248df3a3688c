// SPDX-License-Identifier: MIT
/*
 * Ring setup, teardown, registration and submission.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "uring.h"
#include "syscall.h"

static void uring_unmap(struct uring *r)
{
	if (r->sq.sqes && r->sq.sqes != MAP_FAILED)
		munmap(r->sq.sqes, r->sq.sqes_sz);
	if (r->cq.ring_ptr && r->cq.ring_ptr != MAP_FAILED &&
	    r->cq.ring_ptr != r->sq.ring_ptr)
		munmap(r->cq.ring_ptr, r->cq.ring_sz);
	if (r->sq.ring_ptr && r->sq.ring_ptr != MAP_FAILED)
		munmap(r->sq.ring_ptr, r->sq.ring_sz);
}

static int uring_map(struct uring *r, const struct io_uring_params *p)
{
	struct uring_sq *sq = &r->sq;
	struct uring_cq *cq = &r->cq;
	const int prot = PROT_READ | PROT_WRITE;
	const int mflags = MAP_SHARED | MAP_POPULATE;
	unsigned i;

	sq->ring_sz = p->sq_off.array + p->sq_entries * sizeof(unsigned);
	cq->ring_sz = p->cq_off.cqes +
		((size_t)p->cq_entries << (4 + r->cqe_shift));
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		if (cq->ring_sz > sq->ring_sz)
			sq->ring_sz = cq->ring_sz;
		cq->ring_sz = sq->ring_sz;
	}

	sq->ring_ptr = mmap(NULL, sq->ring_sz, prot, mflags, r->ring_fd,
			    IORING_OFF_SQ_RING);
	if (sq->ring_ptr == MAP_FAILED)
		return -errno;
	if (p->features & IORING_FEAT_SINGLE_MMAP) {
		cq->ring_ptr = sq->ring_ptr;
	} else {
		cq->ring_ptr = mmap(NULL, cq->ring_sz, prot, mflags,
				    r->ring_fd, IORING_OFF_CQ_RING);
		if (cq->ring_ptr == MAP_FAILED)
			return -errno;
	}

	sq->sqes_sz = (size_t)p->sq_entries << (6 + r->sqe_shift);
	sq->sqes = mmap(NULL, sq->sqes_sz, prot, mflags, r->ring_fd,
			IORING_OFF_SQES);
	if (sq->sqes == MAP_FAILED)
		return -errno;

	sq->khead = (unsigned *)((char *)sq->ring_ptr + p->sq_off.head);
	sq->ktail = (unsigned *)((char *)sq->ring_ptr + p->sq_off.tail);
	sq->kflags = (unsigned *)((char *)sq->ring_ptr + p->sq_off.flags);
	sq->kdropped = (unsigned *)((char *)sq->ring_ptr + p->sq_off.dropped);
	sq->karray = (unsigned *)((char *)sq->ring_ptr + p->sq_off.array);
	sq->ring_mask = *(unsigned *)((char *)sq->ring_ptr + p->sq_off.ring_mask);
	sq->ring_entries =
		*(unsigned *)((char *)sq->ring_ptr + p->sq_off.ring_entries);
	sq->sqe_tail = *sq->ktail;

	cq->khead = (unsigned *)((char *)cq->ring_ptr + p->cq_off.head);
	cq->ktail = (unsigned *)((char *)cq->ring_ptr + p->cq_off.tail);
	cq->koverflow = (unsigned *)((char *)cq->ring_ptr + p->cq_off.overflow);
	cq->cqes = (struct io_uring_cqe *)((char *)cq->ring_ptr + p->cq_off.cqes);
	cq->ring_mask = *(unsigned *)((char *)cq->ring_ptr + p->cq_off.ring_mask);
	cq->ring_entries =
		*(unsigned *)((char *)cq->ring_ptr + p->cq_off.ring_entries);

	/* SQ index i always names SQE i: the array is filled once, here. */
	for (i = 0; i < sq->ring_entries; i++)
		sq->karray[i] = i;
	return 0;
}

/* The order in which optional setup flags are given up. */
static const unsigned drop_order[] = {
	IORING_SETUP_DEFER_TASKRUN,	/* 6.1 */
	IORING_SETUP_SINGLE_ISSUER,	/* 6.0 */
	IORING_SETUP_COOP_TASKRUN,	/* 5.19 */
};

int uring_init(struct uring *r, unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	unsigned i = 0;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	for (;;) {
		memset(&p, 0, sizeof(p));
		p.flags = flags;
		fd = sys_io_uring_setup(entries, &p);
		if (fd != -EINVAL || i == sizeof(drop_order) / sizeof(drop_order[0]))
			break;
		/* DEFER_TASKRUN is only valid together with SINGLE_ISSUER */
		flags &= ~drop_order[i++];
		if (!(flags & IORING_SETUP_SINGLE_ISSUER))
			flags &= ~IORING_SETUP_DEFER_TASKRUN;
	}
	if (fd < 0)
		return fd;

	r->ring_fd = fd;
	r->enter_fd = fd;
	r->flags = p.flags;
	r->features = p.features;
	r->sqe_shift = (p.flags & IORING_SETUP_SQE128) ? 1 : 0;
	r->cqe_shift = (p.flags & IORING_SETUP_CQE32) ? 1 : 0;

	ret = uring_map(r, &p);
	if (ret < 0)
		goto err_unmap;
	return 0;

err_unmap:
	uring_unmap(r);
	close(fd);
	memset(r, 0, sizeof(*r));
	return ret;
}

void uring_exit(struct uring *r)
{
	struct io_uring_rsrc_update up = { .offset = (unsigned)r->enter_fd };

	if (!r->sq.ring_ptr)
		return;		/* never set up, or already torn down */
	/*
	 * A registered ring fd holds a reference on the ring and one of the
	 * thread's 16 slots.  The slot is per thread and the kernel drops
	 * whatever slot it is told to, so only the registering thread may.
	 */
	if ((r->enter_flags & IORING_ENTER_REGISTERED_RING) &&
	    r->reg_tid == (int)syscall(SYS_gettid))
		sys_io_uring_register(r->ring_fd, IORING_UNREGISTER_RING_FDS,
				      &up, 1);
	uring_unmap(r);
	close(r->ring_fd);
	memset(r, 0, sizeof(*r));
}

int uring_register_ring_fd(struct uring *r)
{
	struct io_uring_rsrc_update up = {
		.offset = -1U,	/* let the kernel pick the slot */
		.data = (uint64_t)r->ring_fd,
	};
	int ret;

	ret = sys_io_uring_register(r->ring_fd, IORING_REGISTER_RING_FDS,
				    &up, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EIO;
	r->enter_fd = (int)up.offset;
	r->enter_flags |= IORING_ENTER_REGISTERED_RING;
	r->reg_tid = (int)syscall(SYS_gettid);
	return 0;
}

int uring_register_files(struct uring *r, const int *fds, unsigned nr)
{
	return sys_io_uring_register(r->ring_fd, IORING_REGISTER_FILES,
				     fds, nr);
}

int uring_register_buffers_sparse(struct uring *r, unsigned nr)
{
	struct io_uring_rsrc_register reg = {
		.nr = nr,
		.flags = IORING_RSRC_REGISTER_SPARSE,
	};

	return sys_io_uring_register(r->ring_fd, IORING_REGISTER_BUFFERS2,
				     &reg, sizeof(reg));
}

int uring_submit_and_wait(struct uring *r, unsigned wait_nr)
{
	unsigned flags = r->enter_flags;
	unsigned to_submit;
	int ret;

	/* release: SQE contents are written before the kernel sees the tail */
	uring_store_release(r->sq.ktail, r->sq.sqe_tail);
	to_submit = uring_sq_pending(r);
	if (wait_nr || (r->flags & IORING_SETUP_DEFER_TASKRUN))
		flags |= IORING_ENTER_GETEVENTS;
	if (!to_submit && !(flags & IORING_ENTER_GETEVENTS))
		return 0;

	do {
		ret = sys_io_uring_enter(r->enter_fd, to_submit, wait_nr, flags);
	} while (ret == -EINTR);

	if ((ret == -EBUSY || ret == -EAGAIN) && uring_cq_ready(r))
		return 0;
	return ret;
}

struct io_uring_sqe *uring_get_sqe(struct uring *r)
{
	struct uring_sq *sq = &r->sq;
	struct io_uring_sqe *sqe;

	if (uring_sq_space(r) == 0) {
		uring_submit(r);
		if (uring_sq_space(r) == 0)
			return NULL;
	}
	sqe = (struct io_uring_sqe *)((char *)sq->sqes +
		((size_t)(sq->sqe_tail & sq->ring_mask) << (6 + r->sqe_shift)));
	memset(sqe, 0, (size_t)64 << r->sqe_shift);
	sq->sqe_tail++;
	return sqe;
}

int uring_buf_ring_setup(struct uring *r, struct uring_buf_ring *br,
			 unsigned entries, uint16_t bgid)
{
	struct io_uring_buf_reg reg;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *mem;
	int ret;

	memset(br, 0, sizeof(*br));
	if (!entries || (entries & (entries - 1)) || entries >= 65536)
		return -EINVAL;
	br->size = (entries * sizeof(struct io_uring_buf) + pg - 1) & ~(pg - 1);
	mem = mmap(NULL, br->size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = entries;
	reg.bgid = bgid;
	ret = sys_io_uring_register(r->ring_fd, IORING_REGISTER_PBUF_RING,
				    &reg, 1);
	if (ret < 0) {
		munmap(mem, br->size);
		return ret;
	}
	br->bufs = mem;
	br->mask = entries - 1;
	br->bgid = bgid;
	return 0;
}

void uring_buf_ring_free(struct uring *r, struct uring_buf_ring *br)
{
	struct io_uring_buf_reg reg;

	if (!br->bufs)
		return;
	memset(&reg, 0, sizeof(reg));
	reg.bgid = br->bgid;
	if (r->sq.ring_ptr)	/* else the ring is gone, and the group with it */
		sys_io_uring_register(r->ring_fd, IORING_UNREGISTER_PBUF_RING,
				      &reg, 1);
	munmap(br->bufs, br->size);
	br->bufs = NULL;
}
