// SPDX-License-Identifier: MIT
/*
 * The command line of `add` (and of `recover`, which re-reads saved
 * options): arbitrary argument lists, NUL-separated in the input.  When
 * they parse, the canonical form must parse back to the same settings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/cli.h"

#define MAX_ARGS 40

static int same(const struct add_opts *a, const struct add_opts *b)
{
	return a->nr_queues == b->nr_queues && a->depth == b->depth &&
	       a->max_io_buf_bytes == b->max_io_buf_bytes &&
	       a->flags == b->flags && a->nr_threads == b->nr_threads &&
	       a->per_io == b->per_io && a->conf.size == b->conf.size &&
	       a->conf.lbs_shift == b->conf.lbs_shift &&
	       a->conf.buffered_io == b->conf.buffered_io &&
	       a->trace == b->trace && a->root_storage == b->root_storage &&
	       !strcmp(a->conf.type, b->conf.type) &&
	       !a->conf.file == !b->conf.file &&
	       (!a->conf.file || !strcmp(a->conf.file, b->conf.file)) &&
	       !a->conf.fault == !b->conf.fault &&
	       (!a->conf.fault || !strcmp(a->conf.fault, b->conf.fault));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct add_opts o, o2;
	char *argv[MAX_ARGS + 2], *args[RS_MAX_ARGS + 1], bufs[OPTS_NUM_BUFS][24], err[320];
	char *text = malloc(size + 1);
	int argc = 1, n, ret;
	size_t i = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	argv[0] = "add";
	while (i < size && argc < MAX_ARGS + 1) {
		argv[argc++] = text + i;
		i += strlen(text + i) + 1;
	}
	argv[argc] = NULL;
	ret = opts_parse_add(argc, argv, &o, err, sizeof(err));
	if (ret == 0) {
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		if (n < 0)
			abort();
		args[0] = "add";
		if (opts_parse_add(n + 1, args, &o2, err, sizeof(err)) != 0)
			abort();
		if (!same(&o, &o2))
			abort();
	}
	free(text);
	return 0;
}
