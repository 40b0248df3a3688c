/* SPDX-License-Identifier: MIT */
/*
 * Byte streams for the NBD tests: what a server (or a client) would put on
 * the wire, built field by field, big endian.
 */
#ifndef SUBLK_TEST_NBD_STREAM_H
#define SUBLK_TEST_NBD_STREAM_H

#include "unit.h"
#include "../../backend/nbd.h"

struct stream {
	uint8_t buf[256 << 10];
	size_t len;
};

static inline void s_bytes(struct stream *s, const void *p, size_t n)
{
	REQUIRE(s->len + n <= sizeof(s->buf));
	if (n)
		memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static inline void s_zeros(struct stream *s, size_t n)
{
	REQUIRE(s->len + n <= sizeof(s->buf));
	memset(s->buf + s->len, 0, n);
	s->len += n;
}

static inline void s16(struct stream *s, uint16_t v)
{
	uint8_t b[2];

	nbd_put16(b, v);
	s_bytes(s, b, 2);
}

static inline void s32(struct stream *s, uint32_t v)
{
	uint8_t b[4];

	nbd_put32(b, v);
	s_bytes(s, b, 4);
}

static inline void s64(struct stream *s, uint64_t v)
{
	uint8_t b[8];

	nbd_put64(b, v);
	s_bytes(s, b, 8);
}

static inline void s_str(struct stream *s, const char *str)
{
	s_bytes(s, str, strlen(str));
}

#endif
