// SPDX-License-Identifier: MIT
/*
 * mem: a RAM disk.  The whole device is one private anonymous mapping
 * made with MAP_NORESERVE, so memory is taken only when a block is first
 * written, and discard / write-zeroes hand it back.
 *
 * The mapping reserves address space for growth (update_size) beyond the
 * device's size; only the kernel's capacity limits what is used.
 *
 * Queue threads serve disjoint requests on the same mapping; the only
 * state, the mapping's address, never changes after open().
 *
 * Its fast path is user copy: a request's data moves once, by pread and
 * pwrite on /dev/ublkcN straight between its pages and the RAM disk.  In
 * the copy path the kernel copies into the tag's buffer and mem copies
 * again.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "internal.h"

static int mem_open(struct backend *b)
{
	void *base;
	int ret;

	if (!b->conf.size)
		return backend_fail(b, -EINVAL, "mem: --size is required");
	ret = backend_set_size(b, "mem", b->conf.size);
	if (ret)
		return ret;
	if ((size_t)b->size != b->size)
		return backend_fail(b, -EFBIG, "mem: --size %llu does not fit in memory",
				    (unsigned long long)b->size);

	/* room to grow 4 times, or by 1 GiB at least, where the VM allows */
	b->max_size = b->size * 4 > b->size + (1ULL << 30) ?
		      b->size * 4 : b->size + (1ULL << 30);
	if (b->max_size / 4 != b->size && b->max_size != b->size + (1ULL << 30))
		b->max_size = b->size;
	base = mmap(NULL, b->max_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		b->max_size = b->size;
		base = mmap(NULL, b->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (base == MAP_FAILED) {
		ret = -errno;
		return backend_fail(b, ret, "mem: cannot map %llu bytes: %s",
				    (unsigned long long)b->size, strerror(-ret));
	}

	b->priv = base;
	b->fd = -1;
	b->attrs = 0;	/* no volatile cache: a write is as durable as it gets */
	b->discard_granularity = 4096;
	b->max_discard_sectors = BACKEND_MAX_DISCARD_SECTORS;
	b->max_write_zeroes_sectors = BACKEND_MAX_DISCARD_SECTORS;
	b->user_copy = 1;
	b->auto_path = BACKEND_AUTO_USER_COPY;
	return 0;
}

static void mem_close(struct backend *b)
{
	if (b->priv)
		munmap(b->priv, b->max_size);
	b->priv = NULL;
}

/*
 * Zero [off, off + len): whole pages go back to the kernel (they read back
 * as zeros), the partial pages at either edge are cleared by hand.
 *
 * UBLK_IO_F_NOUNMAP is not honoured: with MAP_NORESERVE nothing is
 * reserved, so keeping the pages would promise nothing that handing them
 * back does not.
 */
static void mem_zero(char *base, uint64_t off, uint64_t len)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (off + page - 1) & ~(page - 1);
	uint64_t end = (off + len) & ~(page - 1);

	if (start >= end ||
	    madvise(base + start, end - start, MADV_DONTNEED)) {
		memset(base + off, 0, len);
		return;
	}
	memset(base + off, 0, start - off);
	memset(base + end, 0, off + len - end);
}

/* A request's result from what a user copy moved: all of it or an error. */
static int mem_moved(int n, uint64_t len)
{
	if (n < 0)
		return n;
	return (uint64_t)n == len ? n : -EIO;
}

static int mem_queue_io(struct backend *b, struct ublk_queue *q, unsigned tag,
			const struct ublksrv_io_desc *iod, void *buf)
{
	const unsigned op = ublksrv_get_op(iod);
	const uint64_t off = iod->start_sector << 9;
	const uint64_t len = (uint64_t)iod->nr_sectors << 9;
	char *base = b->priv;

	if (op == UBLK_IO_OP_FLUSH)
		return 0;
	if (iod->start_sector > b->max_size >> 9 || len > b->max_size - off)
		return -EIO;

	switch (op) {
	case UBLK_IO_OP_READ:
		if (!buf)	/* user copy */
			return mem_moved(ublk_queue_copy_out(q, tag, base + off, len), len);
		memcpy(buf, base + off, len);
		return (int)len;
	case UBLK_IO_OP_WRITE:
		if (!buf)
			return mem_moved(ublk_queue_copy_in(q, tag, base + off, len), len);
		memcpy(base + off, buf, len);
		return (int)len;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		mem_zero(base, off, len);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

const struct backend_ops backend_mem_ops = {
	.name = "mem",
	.open = mem_open,
	.close = mem_close,
	.queue_io = mem_queue_io,
	.json = backend_json_size,
};
