/* SPDX-License-Identifier: MIT */
/*
 * The io_uring kernel ABI: the subset sublk uses, defined here so the build
 * never depends on the age of the installed kernel headers.
 * Layouts and values follow include/uapi/linux/io_uring.h.
 */
#ifndef SUBLK_URING_ABI_H
#define SUBLK_URING_ABI_H

#include <stdint.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter	426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif

struct io_uring_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t ioprio;
	int32_t fd;
	union {
		uint64_t off;
		uint64_t addr2;
		struct {
			uint32_t cmd_op;
			uint32_t __pad1;
		};
	};
	union {
		uint64_t addr;
		uint64_t splice_off_in;
	};
	uint32_t len;
	union {
		uint32_t rw_flags;
		uint32_t fsync_flags;
		uint32_t uring_cmd_flags;
		uint32_t cancel_flags;
		uint32_t msg_flags;	/* send, recv, sendmsg: MSG_* */
		uint32_t timeout_flags;
	};
	uint64_t user_data;
	union {
		uint16_t buf_index;
		uint16_t buf_group;
	} __attribute__((packed));
	uint16_t personality;
	union {
		int32_t splice_fd_in;
		uint32_t file_index;
	};
	union {
		struct {
			uint64_t addr3;
			uint64_t __pad2[1];
		};
		/* URING_CMD payload: 16 bytes here, 80 with SQE128 */
		uint8_t cmd[0];
	};
};

/* struct __kernel_timespec: what an IORING_OP_TIMEOUT SQE's addr points at */
struct uring_timespec {
	int64_t tv_sec;
	int64_t tv_nsec;
};

struct io_uring_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
	/* 16 more bytes follow with IORING_SETUP_CQE32 */
};

struct io_sqring_offsets {
	uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array;
	uint32_t resv1;
	uint64_t user_addr;
};

struct io_cqring_offsets {
	uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags;
	uint32_t resv1;
	uint64_t user_addr;
};

struct io_uring_params {
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint32_t flags;
	uint32_t sq_thread_cpu;
	uint32_t sq_thread_idle;
	uint32_t features;
	uint32_t wq_fd;
	uint32_t resv[3];
	struct io_sqring_offsets sq_off;
	struct io_cqring_offsets cq_off;
};

struct io_uring_rsrc_update {
	uint32_t offset;
	uint32_t resv;
	uint64_t data;
};

struct io_uring_rsrc_register {
	uint32_t nr;
	uint32_t flags;
	uint64_t resv2;
	uint64_t data;
	uint64_t tags;
};

/* sqe->flags */
#define IOSQE_FIXED_FILE	(1U << 0)
#define IOSQE_IO_DRAIN		(1U << 1)
#define IOSQE_IO_LINK		(1U << 2)
#define IOSQE_IO_HARDLINK	(1U << 3)
#define IOSQE_ASYNC		(1U << 4)
#define IOSQE_BUFFER_SELECT	(1U << 5)
#define IOSQE_CQE_SKIP_SUCCESS	(1U << 6)

/* io_uring_setup() flags */
#define IORING_SETUP_IOPOLL		(1U << 0)
#define IORING_SETUP_SQPOLL		(1U << 1)
#define IORING_SETUP_CQSIZE		(1U << 3)
#define IORING_SETUP_CLAMP		(1U << 4)
#define IORING_SETUP_SUBMIT_ALL		(1U << 7)
#define IORING_SETUP_COOP_TASKRUN	(1U << 8)
#define IORING_SETUP_TASKRUN_FLAG	(1U << 9)
#define IORING_SETUP_SQE128		(1U << 10)
#define IORING_SETUP_CQE32		(1U << 11)
#define IORING_SETUP_SINGLE_ISSUER	(1U << 12)
#define IORING_SETUP_DEFER_TASKRUN	(1U << 13)
#define IORING_SETUP_NO_SQARRAY		(1U << 16)

/* opcodes */
enum {
	IORING_OP_NOP = 0,
	IORING_OP_READV = 1,
	IORING_OP_WRITEV = 2,
	IORING_OP_FSYNC = 3,
	IORING_OP_READ_FIXED = 4,
	IORING_OP_WRITE_FIXED = 5,
	IORING_OP_SENDMSG = 9,
	IORING_OP_TIMEOUT = 11,
	IORING_OP_ASYNC_CANCEL = 14,
	IORING_OP_CONNECT = 16,
	IORING_OP_FALLOCATE = 17,
	IORING_OP_READ = 22,
	IORING_OP_WRITE = 23,
	IORING_OP_SEND = 26,
	IORING_OP_RECV = 27,
	IORING_OP_MSG_RING = 40,
	IORING_OP_URING_CMD = 46,
};

#define IORING_FSYNC_DATASYNC	(1U << 0)

/* sqe->cancel_flags (Linux 5.19) */
#define IORING_ASYNC_CANCEL_ALL	(1U << 0)	/* every match, not the first */
#define IORING_ASYNC_CANCEL_FD	(1U << 1)	/* match the requests on sqe->fd */
#define IORING_ASYNC_CANCEL_ANY	(1U << 2)	/* match any request, not user_data */

/* sqe->uring_cmd_flags */
#define IORING_URING_CMD_FIXED	(1U << 0)
#define IORING_URING_CMD_MULTISHOT	(1U << 1)

/* cqe->flags */
#define IORING_CQE_F_BUFFER	(1U << 0)
#define IORING_CQE_F_MORE	(1U << 1)
#define IORING_CQE_BUFFER_SHIFT	16	/* the provided buffer's id */

/* magic mmap offsets */
#define IORING_OFF_SQ_RING	0ULL
#define IORING_OFF_CQ_RING	0x8000000ULL
#define IORING_OFF_SQES		0x10000000ULL

/* sq_ring->flags */
#define IORING_SQ_NEED_WAKEUP	(1U << 0)
#define IORING_SQ_CQ_OVERFLOW	(1U << 1)
#define IORING_SQ_TASKRUN	(1U << 2)

/* io_uring_enter() flags */
#define IORING_ENTER_GETEVENTS		(1U << 0)
#define IORING_ENTER_SQ_WAKEUP		(1U << 1)
#define IORING_ENTER_SQ_WAIT		(1U << 2)
#define IORING_ENTER_EXT_ARG		(1U << 3)
#define IORING_ENTER_REGISTERED_RING	(1U << 4)

/* io_uring_params->features */
#define IORING_FEAT_SINGLE_MMAP		(1U << 0)
#define IORING_FEAT_NODROP		(1U << 1)
#define IORING_FEAT_SUBMIT_STABLE	(1U << 2)
#define IORING_FEAT_RW_CUR_POS		(1U << 3)
#define IORING_FEAT_EXT_ARG		(1U << 8)

/* io_uring_register() opcodes */
enum {
	IORING_REGISTER_BUFFERS = 0,
	IORING_UNREGISTER_BUFFERS = 1,
	IORING_REGISTER_FILES = 2,
	IORING_UNREGISTER_FILES = 3,
	IORING_REGISTER_PROBE = 8,
	IORING_REGISTER_BUFFERS2 = 15,
	IORING_REGISTER_RING_FDS = 20,
	IORING_UNREGISTER_RING_FDS = 21,
	IORING_REGISTER_PBUF_RING = 22,
	IORING_UNREGISTER_PBUF_RING = 23,
};

/* A provided-buffer ring: buffers the kernel picks from (IOSQE_BUFFER_SELECT). */
struct io_uring_buf {
	uint64_t addr;
	uint32_t len;
	uint16_t bid;
	uint16_t resv;		/* in entry 0: the ring's tail */
};

struct io_uring_buf_reg {
	uint64_t ring_addr;
	uint32_t ring_entries;
	uint16_t bgid;
	uint16_t flags;
	uint64_t resv[3];
};

#define IORING_RSRC_REGISTER_SPARSE	(1U << 0)

/* fallocate modes used through IORING_OP_FALLOCATE */
#define SUBLK_FALLOC_FL_KEEP_SIZE	0x01
#define SUBLK_FALLOC_FL_PUNCH_HOLE	0x02
#define SUBLK_FALLOC_FL_ZERO_RANGE	0x10

/* preadv2/pwritev2 flags, as sqe->rw_flags */
#define SUBLK_RWF_DSYNC		0x00000002

#endif
