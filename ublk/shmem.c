// SPDX-License-Identifier: MIT
/*
 * Shared-memory zero copy (UBLK_F_SHMEM_ZC, Linux 7.1).  The daemon maps a
 * file that a client maps too (a hugetlbfs or tmpfs file, MAP_SHARED) and
 * registers the mapping with REG_BUF: the driver pins its pages.  A request
 * whose pages all lie in one registered buffer (the client's O_DIRECT I/O
 * from that memory) then comes with UBLK_IO_F_SHMEM_ZC and the buffer's
 * index and offset instead of data copied into the tag's buffer: the
 * backend reads and writes it in place, through our own mapping.  Other
 * requests take the device's usual data path.
 *
 * The pages stay pinned until the device is deleted; the mapping goes
 * when the queues have stopped (ublk_dev_join_queues).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ublk.h"

#define dev_err(d, ...) snprintf((d)->err, sizeof((d)->err), __VA_ARGS__)

int ublk_dev_shmem_add(struct ublk_dev *d, int fd, int read_only)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct ublk_shmem *s;
	struct stat st;
	void *base;
	int ret;

	if (!(d->info.flags & UBLK_F_SHMEM_ZC)) {
		dev_err(d, "the device was added without SHMEM_ZC");
		return -EINVAL;
	}
	if (d->nr_shmem >= UBLK_SHMEM_MAX) {
		dev_err(d, "at most %d shared buffers", UBLK_SHMEM_MAX);
		return -ENOSPC;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		dev_err(d, "shared buffer: %s", strerror(errno));
		return ret;
	}
	/* hugetlbfs maps whole huge pages: st_blksize is its page size */
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size % pg || (st.st_blksize > 0 &&
	    (uint64_t)st.st_size % (uint64_t)st.st_blksize) ||
	    (uint64_t)st.st_size > UBLK_SHMEM_BUF_SIZE_MAX) {
		dev_err(d, "shared buffer: need a regular file of whole (huge) pages, at most 4 GiB; it has %lld bytes",
			(long long)st.st_size);
		return -EINVAL;
	}
	base = mmap(NULL, (size_t)st.st_size,
		    read_only ? PROT_READ : PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ret = -errno;
		dev_err(d, "shared buffer: mmap: %s", strerror(errno));
		return ret;
	}
	ret = ublk_ctrl_reg_buf(d->ctrl, d->info.dev_id, base,
				(uint64_t)st.st_size,
				read_only ? UBLK_SHMEM_BUF_READ_ONLY : 0);
	if (ret < 0) {
		dev_err(d, "REG_BUF (%lld bytes): %s", (long long)st.st_size,
			strerror(-ret));
		munmap(base, (size_t)st.st_size);
		return ret;
	}
	s = &d->shmem[d->nr_shmem++];
	s->base = base;
	s->len = (size_t)st.st_size;
	s->index = (unsigned)ret;
	s->read_only = read_only;
	log_debug("dev %u: shared buffer %u: %zu bytes%s", d->info.dev_id,
		  s->index, s->len, read_only ? ", read-only" : "");
	return 0;
}

void ublk_dev_shmem_release(struct ublk_dev *d)
{
	unsigned i;

	for (i = 0; i < d->nr_shmem; i++)
		munmap(d->shmem[i].base, d->shmem[i].len);
	d->nr_shmem = 0;
}
