/* SPDX-License-Identifier: MIT */
/* What every NBD fuzz harness checks of a message line. */
#ifndef SUBLK_FUZZ_COMMON_H
#define SUBLK_FUZZ_COMMON_H

#include <stdlib.h>
#include <string.h>

/* NUL-terminated inside @size bytes, printable ASCII, not empty. */
static inline void fuzz_check_line(const char *s, size_t size)
{
	size_t i;

	for (i = 0; i < size && s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
	if (i == size || i == 0)
		abort();
}

#endif
