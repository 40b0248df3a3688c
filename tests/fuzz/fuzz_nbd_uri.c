// SPDX-License-Identifier: MIT
/*
 * libFuzzer: the NBD URI parser against any string.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=gnu11 \
 *		tests/fuzz/fuzz_nbd_uri.c backend/nbd_*.c
 *
 * A URI is either refused with one printable line and an empty address,
 * or gives a TCP address (host and port) or a socket, each field
 * NUL-terminated in its array, names free of control characters.
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "../../backend/nbd.h"

static void check_field(const char *s, size_t size, int may_be_empty)
{
	size_t i;

	for (i = 0; i < size && s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
	if (i == size || (!i && !may_be_empty))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char uri[16384];
	struct nbd_addr a;
	char err[160];
	int ret;

	if (size >= sizeof(uri))
		return 0;
	memcpy(uri, data, size);
	uri[size] = '\0';
	ret = nbd_uri_parse(uri, &a, err, sizeof(err));
	if (ret) {
		if (ret != -EINVAL && ret != -ENAMETOOLONG)
			abort();
		fuzz_check_line(err, sizeof(err));
		if (a.host[0] || a.port[0] || a.unix_path[0] || a.export_name[0])
			abort();
		return 0;
	}
	check_field(a.export_name, sizeof(a.export_name), 1);
	if (a.unix_path[0]) {
		check_field(a.unix_path, sizeof(a.unix_path), 0);
		if (a.host[0] || a.port[0])
			abort();
	} else {
		check_field(a.host, sizeof(a.host), 0);
		check_field(a.port, sizeof(a.port), 0);
		if (strspn(a.port, "0123456789") != strlen(a.port) || atoi(a.port) < 1 ||
		    atoi(a.port) > 65535)
			abort();
	}
	return 0;
}
