/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the backends; private to backend/.
 */
#ifndef SUBLK_BACKEND_INTERNAL_H
#define SUBLK_BACKEND_INTERNAL_H

#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "backend.h"

/* from <linux/fs.h>, which the build does not depend on */
#ifndef BLKSSZGET
#define BLKSSZGET	_IO(0x12, 104)
#endif
#ifndef BLKGETSIZE64
#define BLKGETSIZE64	_IOR(0x12, 114, size_t)
#endif

/*
 * Largest discard / write-zeroes request any backend advertises: 2 GiB.
 * A request's length reaches the block layer as a 32-bit byte count, so
 * anything near 4 GiB gets cut at an odd boundary anyway; a power of two
 * stays aligned to every discard granularity up to 2 GiB.
 */
#define BACKEND_MAX_DISCARD_SECTORS	(1U << 22)

/* Leave a one-line reason in b->err; returns @err (a -errno). */
int backend_fail(struct backend *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * backend_set_size - check b->conf.lbs_shift (0 means 9) and @size against
 * it, then set b->size.  @name prefixes the message left on failure.
 */
int backend_set_size(struct backend *b, const char *name, uint64_t size);

/* The json hook of backends whose only setting is the size. */
int backend_json_size(const struct backend *b, char *buf, size_t len);

/*
 * backend_json_str - @str (NULL reads as "") as a JSON string, quotes
 * included, at @buf.  Returns its length, or -ENOSPC when it and the NUL
 * do not fit in @len bytes.
 */
int backend_json_str(char *buf, size_t len, const char *str);

/* A number in the sysfs queue directory of block device @dev; 0 if none. */
uint64_t backend_sysfs_queue(dev_t dev, const char *attr);

/*
 * Open a data file read-write, O_DIRECT if *@direct; where the filesystem
 * refuses O_DIRECT (tmpfs before 6.6, ramfs, some FUSE filesystems) it is
 * opened buffered and *@direct cleared.  O_NOATIME where allowed (its
 * owner, or CAP_FOWNER): each read then skips the atime check and update,
 * about 1% of the daemon's time per request on loop over a block device.
 * The fd, or -1 with errno set.
 */
int backend_open_data(const char *file, int *direct);

/*
 * Raise the logical block size to @bs, the least backing file @file takes;
 * @name (the backend's) prefixes the note.
 */
void backend_raise_lbs(struct backend *b, uint64_t bs, const char *name,
		       const char *file);

static inline uint32_t backend_lbs(const struct backend *b)
{
	return 1U << b->conf.lbs_shift;
}

/*
 * memcpy / memset of request data, whose size the compiler cannot see:
 * at -Os gcc inlines those as `rep movsb` / `rep stosb`, a byte per
 * iteration where the CPU has no fast strings (and one instruction per
 * byte under TCG), where libc's move words.  The volatile pointer keeps
 * the call.
 */
static inline void backend_copy(void *dst, const void *src, size_t len)
{
	void *(*volatile copy)(void *, const void *, size_t) = memcpy;

	copy(dst, src, len);
}

static inline void backend_zero(void *dst, size_t len)
{
	void *(*volatile fill)(void *, int, size_t) = memset;

	fill(dst, 0, len);
}

#endif
