// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the NBD client handshake against any server byte stream.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=gnu11 \
 *		tests/fuzz/fuzz_nbd_handshake.c backend/nbd_*.c
 *
 * Input byte 0 picks the handshake flags, the export name and how the
 * stream is cut into feeds; the rest is what the server says.  The
 * handshake must end (done, or failed with one printable line), make
 * progress on every step, and never touch memory outside its struct.
 */
#include <stdint.h>

#include "fuzz_common.h"
#include "../../backend/nbd.h"

static const size_t cuts[] = { 0, 1, 2, 3, 7, 20, 4096, SIZE_MAX };

static void check_export(const struct nbd_export *e)
{
	if (!e->min_bs || e->min_bs & (e->min_bs - 1) || e->min_bs > 65536 ||
	    e->pref_bs < e->min_bs || e->pref_bs < 512 || e->max_bs < e->pref_bs)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nbd_hs hs;
	static char long_name[NBD_MAX_STRING + 1];
	const char *names[] = { "", "disk", "a b\x01", long_name };
	const uint8_t *srv = data + 1;
	size_t len, pos = 0, n, cut, sent = 0;
	unsigned ctl, sum = 0;
	const uint8_t *out;
	int ret, i;

	if (!size)
		return 0;
	ctl = data[0];
	len = size - 1;
	memset(long_name, 'n', NBD_MAX_STRING);
	cut = cuts[(ctl >> 1) & 7];
	if (nbd_hs_init(&hs, names[(ctl >> 4) & 3], ctl & 1 ? NBD_HS_F_NO_STRUCTURED : 0))
		abort();
	for (i = 0; i < 1000000; i++) {
		switch (nbd_hs_step(&hs)) {
		case NBD_HS_SEND:
			n = nbd_hs_out(&hs, (const void **)&out);
			if (!n || n > NBD_HS_OUT_MAX)
				abort();
			n = ctl & 0x40 ? 1 : n;		/* short sends */
			for (size_t k = 0; k < n; k++)
				sum += out[k];
			sent += n;
			if (nbd_hs_sent(&hs, n))
				abort();
			continue;
		case NBD_HS_RECV:
			if (!nbd_hs_need(&hs))
				abort();
			if (pos == len) {
				nbd_hs_eof(&hs);
				continue;
			}
			n = cut ? cut : nbd_hs_need(&hs);
			n = n < len - pos ? n : len - pos;
			ret = nbd_hs_feed(&hs, srv + pos, n);
			if (ret < 0) {
				if (ret != nbd_hs_error(&hs))
					abort();
				continue;
			}
			if ((size_t)ret > n ||
			    (!ret && nbd_hs_step(&hs) == NBD_HS_RECV))
				abort();	/* no progress */
			pos += (size_t)ret;
			continue;
		case NBD_HS_DONE:
			if (hs.error || hs.err[0])
				abort();
			check_export(&hs.exp);
			return 0;
		case NBD_HS_FAILED:
			if (hs.error >= 0)
				abort();
			fuzz_check_line(hs.err, sizeof(hs.err));
			return 0;
		default:
			abort();
		}
	}
	(void)sum;
	(void)sent;
	abort();	/* the handshake went round in circles */
}
