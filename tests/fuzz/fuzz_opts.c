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

/* Strings that may be absent; "" and absent are the same export name. */
static int same_str(const char *a, const char *b, int empty_is_null)
{
	if (empty_is_null) {
		a = a && *a ? a : NULL;
		b = b && *b ? b : NULL;
	}
	return !a == !b && (!a || !strcmp(a, b));
}

static int same_files(const struct add_opts *a, const struct add_opts *b)
{
	unsigned i;

	if (a->conf.nr_files != b->conf.nr_files ||
	    a->conf.chunk_size != b->conf.chunk_size)
		return 0;
	for (i = 0; i < a->conf.nr_files; i++)
		if (strcmp(a->conf.files[i], b->conf.files[i]))
			return 0;
	return same_str(a->conf.meta_file, b->conf.meta_file, 0);
}

/* The options added with zoned, integrity, --copy, kublk's limits and shmem. */
static int same_more(const struct add_opts *a, const struct add_opts *b)
{
	const struct backend_integrity *x = &a->conf.integrity, *y = &b->conf.integrity;

	return a->copy == b->copy && a->io_desc_size == b->io_desc_size &&
	       a->conf.zone_size == b->conf.zone_size &&
	       a->conf.conv_zones == b->conf.conv_zones &&
	       a->conf.max_open_zones == b->conf.max_open_zones &&
	       a->conf.max_active_zones == b->conf.max_active_zones &&
	       x->flags == y->flags && x->metadata_size == y->metadata_size &&
	       x->pi_offset == y->pi_offset && x->csum_type == y->csum_type &&
	       x->tag_size == y->tag_size &&
	       a->conf.dma_align == b->conf.dma_align &&
	       a->conf.max_segments == b->conf.max_segments &&
	       a->conf.max_segment_size == b->conf.max_segment_size &&
	       a->conf.seg_boundary_mask == b->conf.seg_boundary_mask &&
	       same_str(a->htlb, b->htlb, 0) && a->rdonly_shmem == b->rdonly_shmem;
}

static int same(const struct add_opts *a, const struct add_opts *b)
{
	return same_files(a, b) && a->nr_queues == b->nr_queues && a->depth == b->depth &&
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
	       (!a->conf.fault || !strcmp(a->conf.fault, b->conf.fault)) &&
	       same_str(a->conf.nbd_unix, b->conf.nbd_unix, 0) &&
	       same_str(a->conf.nbd_host, b->conf.nbd_host, 0) &&
	       same_str(a->conf.nbd_port, b->conf.nbd_port, 0) &&
	       same_str(a->conf.nbd_export, b->conf.nbd_export, 1) &&
	       a->conf.nbd_conns == b->conf.nbd_conns &&
	       a->conf.nbd_timeout == b->conf.nbd_timeout &&
	       a->conf.read_only == b->conf.read_only &&
	       a->conf.nr_queues == b->conf.nr_queues &&
	       same_more(a, b);
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
