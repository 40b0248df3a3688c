// SPDX-License-Identifier: MIT
/*
 * The backend table and the helpers every backend shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "internal.h"
#include "../ublk/log.h"

static const struct backend_ops *const backends[] = {
	&backend_null_ops,
	&backend_mem_ops,
	&backend_loop_ops,
	&backend_fault_ops,
	&backend_nbd_ops,
	&backend_stripe_ops,
	&backend_zoned_ops,
};

const struct backend_ops *backend_find(const char *name)
{
	unsigned i;

	for (i = 0; name && i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

const char *backend_names(void)
{
	return "null mem loop fault nbd stripe zoned";
}

int backend_fail(struct backend *b, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
	return err;
}

int backend_set_size(struct backend *b, const char *name, uint64_t size)
{
	if (!b->conf.lbs_shift)
		b->conf.lbs_shift = 9;
	if (b->conf.lbs_shift < 9 || b->conf.lbs_shift > 12)
		return backend_fail(b, -EINVAL,
				    "%s: logical block size 2^%u is not 512..4096",
				    name, b->conf.lbs_shift);
	if (!size || size & (backend_lbs(b) - 1))
		return backend_fail(b, -EINVAL,
				    "%s: size %llu is not a multiple of the %u-byte logical block size",
				    name, (unsigned long long)size, backend_lbs(b));
	b->size = size;
	return 0;
}

int backend_json_size(const struct backend *b, char *buf, size_t len)
{
	int n = snprintf(buf, len, "\"size\":%llu",
			 (unsigned long long)b->size);

	return n >= 0 && (size_t)n < len ? n : -ENOSPC;
}

int backend_json_str(char *buf, size_t len, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = 1, esc;

	if (len < 3)
		return -ENOSPC;
	buf[0] = '"';
	for (; *s; s++) {
		esc = *s < 0x20 ? 6 : *s == '"' || *s == '\\' ? 2 : 1;
		if (n + esc + 2 > len)	/* then the closing quote and the NUL */
			return -ENOSPC;
		if (esc == 6) {
			n += (size_t)snprintf(buf + n, 7, "\\u%04x", *s);
			continue;
		}
		if (esc == 2)
			buf[n++] = '\\';
		buf[n++] = (char)*s;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return (int)n;
}

uint64_t backend_sysfs_queue(dev_t dev, const char *attr)
{
	char path[80], val[24];
	ssize_t n = -1;
	int fd, i;

	/* a partition has no queue/ of its own: its disk's is one level up */
	for (i = 0; i < 2 && n < 0; i++) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%squeue/%s",
			 major(dev), minor(dev), i ? "../" : "", attr);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, val, sizeof(val) - 1);
		close(fd);
	}
	if (n <= 0)
		return 0;
	val[n] = '\0';
	return strtoull(val, NULL, 10);
}

void backend_raise_lbs(struct backend *b, uint64_t bs, const char *name,
		       const char *file)
{
	unsigned shift = 9;

	while (shift < 12 && (1ULL << shift) < bs)
		shift++;
	if (b->conf.lbs_shift >= shift)
		return;
	if (b->conf.lbs_shift)
		log_info("%s: %s takes %u-byte blocks: logical block size raised",
			 name, file, 1U << shift);
	b->conf.lbs_shift = shift;
}

static int open_noatime(const char *file, int flags)
{
	int fd = open(file, flags | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = open(file, flags);
	return fd;
}

int backend_open_data(const char *file, int *direct)
{
	int fd = open_noatime(file, O_RDWR | O_CLOEXEC | (*direct ? O_DIRECT : 0));

	if (fd < 0 && errno == EINVAL && *direct) {
		*direct = 0;
		fd = open_noatime(file, O_RDWR | O_CLOEXEC);
	}
	return fd;
}
