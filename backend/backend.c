// SPDX-License-Identifier: MIT
/*
 * The backend table and the helpers every backend shares.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const struct backend_ops *const backends[] = {
	&backend_null_ops,
	&backend_mem_ops,
	&backend_loop_ops,
	&backend_fault_ops,
	&backend_nbd_ops,
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
	return "null mem loop fault nbd zoned";
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
