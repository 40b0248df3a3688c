// SPDX-License-Identifier: MIT
/*
 * null: a device that stores nothing and finishes every request at once.
 * Reads leave the buffer as it is, as ublksrv's null target and the
 * kernel's null_blk do: the point is measuring the ublk path, not memset.
 * Its fastest path is user copy, where the daemon moves no data and the
 * kernel copies none (user_copy: the target "moves" it, which here is
 * nothing); zero copy would register each request's pages for nothing.
 * With an integrity profile a read's metadata is all ones, the escape
 * value whose PI the block layer does not check.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define NULL_DEFAULT_SIZE	(250ULL << 30)

static int null_open(struct backend *b)
{
	int ret;

	ret = backend_set_size(b, "null",
			       b->conf.size ? b->conf.size : NULL_DEFAULT_SIZE);
	if (ret)
		return ret;
	b->attrs = 0;
	/* discard and write-zeroes "work" as trivially as everything else */
	b->discard_granularity = 4096;	/* >= every logical block size */
	b->max_discard_sectors = BACKEND_MAX_DISCARD_SECTORS;
	b->max_write_zeroes_sectors = BACKEND_MAX_DISCARD_SECTORS;
	b->fd = -1;
	b->zero_copy = 1;	/* never touches the data */
	b->user_copy = 1;	/* so there is none to move */
	b->auto_path = BACKEND_AUTO_USER_COPY;
	b->priv = NULL;
	return 0;
}

static void null_close(struct backend *b)
{
}

static int null_queue_io(struct backend *b, struct ublk_queue *q,
			 unsigned tag, const struct ublksrv_io_desc *iod,
			 void *buf)
{
	unsigned char *meta;
	size_t len;

	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		meta = ublk_queue_meta(q, tag, &len);
		if (meta)
			memset(meta, 0xff, len);
		return (int)(iod->nr_sectors << 9);
	case UBLK_IO_OP_WRITE:
		return (int)(iod->nr_sectors << 9);
	case UBLK_IO_OP_FLUSH:
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

const struct backend_ops backend_null_ops = {
	.name = "null",
	.no_scheduler = 1,
	.open = null_open,
	.close = null_close,
	.queue_io = null_queue_io,
	.json = backend_json_size,
};
