/* SPDX-License-Identifier: MIT */
/*
 * sublk as kublk: what kublk.c (options, dispatch) and kublk_cmds.c (the
 * commands with kublk's own translation or output) share.  Private to them.
 */
#ifndef SUBLK_CLI_KUBLK_H
#define SUBLK_CLI_KUBLK_H

#include "cli.h"

#define KUBLK_MAX_FILES		8
#define KUBLK_MAX_ARGS		64

/* kublk's defaults: two queues of 128 tags */
#define KUBLK_QUEUES		"2"
#define KUBLK_DEPTH		"128"

/* set_params: a device of 1 MiB in zones of 64 KiB, requests up to 1 MiB */
#define SP_IO_BUF_BYTES		(1U << 20)
#define SP_ZONE_SECTORS		128
#define SP_DEV_SECTORS		(SP_ZONE_SECTORS * 16)

struct kublk_args {
	const char *cmd;
	const char *type;		/* -t */
	const char *id;			/* -n */
	const char *queues, *depth;	/* -q, -d */
	const char *size;		/* -s (update_size) */
	const char *nthreads;
	const char *debug_mask;
	const char *delay_us;		/* fault_inject */
	const char *chunk_size;		/* stripe */
	const char *io_desc_size;
	const char *htlb;		/* --htlb (with --shmem_zc) */
	const char *files[KUBLK_MAX_FILES];
	int nr_files;
	int all, foreground, safe;
	int zc, auto_zc, auto_zc_fallback, user_copy, get_data, batch;
	int recovery, fail_io, reissue, per_io, no_part_scan;
	int shmem_zc, rdonly_shmem;
	int die_during_fetch;
	/* integrity, handed on as they are spelled */
	const char *integ[6][2];
	int nr_integ;
	int metadata;			/* --metadata_size given */
	/* set_params */
	uint64_t flags;			/* --zoned */
	struct ublk_params params;
	int param_none;
};


/* A sublk argument list being built (v[n] stays NULL). */
struct argbuf {
	char *v[KUBLK_MAX_ARGS];
	int n;
	char nums[4][24];
	int nr_nums;
};

void kublk_arg(struct argbuf *b, const char *s);
/* A number as strtoul with base 0 reads it, at most @max; dies otherwise. */
unsigned long kublk_num(const char *s, unsigned long max, const char *what);

int kublk_add(const struct kublk_args *a, char **argv0);
int kublk_recover(const struct kublk_args *a, char **argv0);
int kublk_list(const struct kublk_args *a);
int kublk_features(void);
int kublk_set_params(struct kublk_args *a);

#endif
