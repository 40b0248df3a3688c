// SPDX-License-Identifier: MIT
/*
 * mem: a RAM disk.  The whole device is one private anonymous mapping
 * made with MAP_NORESERVE, so memory is taken only when a block is first
 * written, and discard / write-zeroes hand it back.
 *
 * The mapping reserves address space for growth (update_size) beyond the
 * device's size; only the kernel's capacity limits what is used.
 *
 * With an integrity profile (--metadata_size) each logical block's
 * metadata lives in a second such mapping, stored inverted: memory never
 * written, or handed back by a discard, reads as all ones, the escape
 * value whose PI the block layer does not check, as an NVMe drive's
 * deallocated blocks read.
 *
 * Queue threads serve disjoint requests on the same mappings; the state,
 * their addresses, never changes after open().
 *
 * Its fast path is user copy: a request's data moves once, by pread and
 * pwrite on /dev/ublkcN straight between its pages and the RAM disk.  In
 * the copy path the kernel copies into the tag's buffer and mem copies
 * again.  Metadata still goes through the queue's per-tag buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "internal.h"

struct mem {
	char *data;		/* max_size bytes */
	char *meta;		/* integrity: metadata, inverted; or NULL */
	size_t meta_max;	/* its length: metadata of max_size bytes */
};

static void *mem_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The metadata of [0, max_size), beside the data. */
static int mem_map_meta(struct backend *b, struct mem *m)
{
	const unsigned msize = b->conf.integrity.metadata_size;

	if (!msize)
		return 0;
	m->meta_max = (size_t)(b->max_size >> b->conf.lbs_shift) * msize;
	m->meta = mem_map(m->meta_max);
	if (!m->meta)
		return backend_fail(b, -ENOMEM, "mem: cannot map %zu bytes of metadata",
				    m->meta_max);
	return 0;
}

static int mem_open(struct backend *b)
{
	struct mem *m;
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
	m = calloc(1, sizeof(*m));
	if (!m)
		return backend_fail(b, -ENOMEM, "mem: out of memory");
	m->data = mem_map(b->max_size);
	if (!m->data) {
		b->max_size = b->size;
		m->data = mem_map(b->size);
	}
	if (!m->data) {
		ret = -errno;
		free(m);
		return backend_fail(b, ret, "mem: cannot map %llu bytes: %s",
				    (unsigned long long)b->size, strerror(-ret));
	}
	ret = mem_map_meta(b, m);
	if (ret) {
		munmap(m->data, b->max_size);
		free(m);
		return ret;
	}

	b->priv = m;
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
	struct mem *m = b->priv;

	if (!m)
		return;
	munmap(m->data, b->max_size);
	if (m->meta)
		munmap(m->meta, m->meta_max);
	free(m);
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

/* Copy @len bytes of metadata, inverting them (see the top of the file). */
static void mem_meta_copy(unsigned char *dst, const unsigned char *src,
			  size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = (unsigned char)~src[i];
}

/*
 * Integrity: move the metadata of a read or write of @len bytes at @off
 * between the store and the request's metadata buffer; for discard and
 * write-zeroes forget it (back to all ones).
 */
static void mem_meta_io(struct backend *b, struct ublk_queue *q, unsigned tag,
			unsigned op, uint64_t off, uint64_t len)
{
	const struct mem *m = b->priv;
	const unsigned shift = b->conf.lbs_shift;
	const unsigned msize = b->conf.integrity.metadata_size;
	size_t moff = (size_t)(off >> shift) * msize;
	size_t mlen = (size_t)(len >> shift) * msize, have;
	unsigned char *meta;

	if (!m->meta)
		return;
	if (op == UBLK_IO_OP_DISCARD || op == UBLK_IO_OP_WRITE_ZEROES) {
		mem_zero(m->meta, moff, mlen);
		return;
	}
	meta = ublk_queue_meta(q, tag, &have);
	if (!meta || have < mlen) {
		/* a write without metadata leaves its blocks' unknown: all ones */
		if (op == UBLK_IO_OP_WRITE)
			mem_zero(m->meta, moff, mlen);
		return;
	}
	if (op == UBLK_IO_OP_READ)
		mem_meta_copy(meta, (unsigned char *)m->meta + moff, mlen);
	else
		mem_meta_copy((unsigned char *)m->meta + moff, meta, mlen);
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
	const struct mem *m = b->priv;
	char *base = m->data;
	int n;

	if (op == UBLK_IO_OP_FLUSH)
		return 0;
	if (iod->start_sector > b->max_size >> 9 || len > b->max_size - off)
		return -EIO;

	switch (op) {
	case UBLK_IO_OP_READ:
		if (!buf) {	/* user copy */
			n = mem_moved(ublk_queue_copy_out(q, tag, base + off, len), len);
			if (n < 0)
				return n;
		} else {
			memcpy(buf, base + off, len);
		}
		mem_meta_io(b, q, tag, op, off, len);
		return (int)len;
	case UBLK_IO_OP_WRITE:
		if (!buf) {
			n = mem_moved(ublk_queue_copy_in(q, tag, base + off, len), len);
			if (n < 0)
				return n;
		} else {
			memcpy(base + off, buf, len);
		}
		mem_meta_io(b, q, tag, op, off, len);
		return (int)len;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		mem_zero(base, off, len);
		mem_meta_io(b, q, tag, op, off, len);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

const struct backend_ops backend_mem_ops = {
	.name = "mem",
	.no_scheduler = 1,
	.open = mem_open,
	.close = mem_close,
	.queue_io = mem_queue_io,
	.json = backend_json_size,
};
