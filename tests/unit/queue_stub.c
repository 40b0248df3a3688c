// SPDX-License-Identifier: MIT
/*
 * What ublk/queue.c offers the backends, for unit tests that link the
 * backends without a queue.  Weak, so a test with a fake queue of its own
 * (test_backend.c) overrides it.
 */
#include <errno.h>
#include <stddef.h>

#include "../../backend/backend.h"

__attribute__((weak))
struct io_uring_sqe *ublk_queue_get_sqe(struct ublk_queue *q, unsigned tag,
					unsigned op, unsigned tgt_data)
{
	return NULL;
}

__attribute__((weak))
unsigned ublk_queue_id(const struct ublk_queue *q)
{
	return 0;
}

__attribute__((weak))
unsigned ublk_queue_depth(const struct ublk_queue *q)
{
	return 0;
}

__attribute__((weak))
unsigned ublk_queue_buf_index(const struct ublk_queue *q, unsigned tag)
{
	return tag;
}

__attribute__((weak))
const struct ublksrv_io_desc *ublk_queue_iod(const struct ublk_queue *q,
					     unsigned tag)
{
	return NULL;
}

__attribute__((weak))
int ublk_queue_complete(struct ublk_queue *q, unsigned tag, int result)
{
	return -EINVAL;
}

/* A queue that never links: the backend's SQE posts its CQE, as it did. */
__attribute__((weak))
int ublk_queue_link_commit(struct ublk_queue *q, unsigned tag,
			   struct io_uring_sqe *sqe, int result)
{
	return -EOPNOTSUPP;
}

__attribute__((weak))
void *ublk_queue_meta(const struct ublk_queue *q, unsigned tag, size_t *len)
{
	return NULL;
}

__attribute__((weak))
int ublk_queue_copy_in(struct ublk_queue *q, unsigned tag, void *data,
		       size_t len)
{
	return -EINVAL;
}

__attribute__((weak))
int ublk_queue_copy_out(struct ublk_queue *q, unsigned tag, const void *data,
			size_t len)
{
	return -EINVAL;
}

__attribute__((weak))
unsigned ublk_queue_buf_bytes(const struct ublk_queue *q)
{
	return 512U << 10;
}

__attribute__((weak))
void ublk_queue_set_zone_lba(struct ublk_queue *q, unsigned tag,
			     uint64_t sector)
{
}

__attribute__((weak))
unsigned ublk_queue_sq_space(const struct ublk_queue *q)
{
	return 0;
}

__attribute__((weak))
void ublk_queue_cqe_at_submit(struct ublk_queue *q)
{
}
