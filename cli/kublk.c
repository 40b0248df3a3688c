// SPDX-License-Identifier: MIT
/*
 * sublk as `kublk`, the server of the kernel's own ublk selftests
 * (tools/testing/selftests/ublk): taken when argv[0] ends in "kublk".
 *
 * kublk's commands and options are translated into sublk's: an `add`
 * command line for opts_parse_add (so every check of sublk's own add
 * applies), or the argv of sublk's stop, quiesce, update_size and del.
 * What the selftest scripts read is printed as kublk prints it: the
 * "dev id N:" line after add and recover and in list (its 11th field the
 * state, the 7th the daemon's pid), and one line per driver feature.
 * set_params (ADD_DEV, SET_PARAMS, DEL_DEV without a daemon) is the only
 * command with no sublk counterpart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kublk.h"

enum {
	KO_DEBUG_MASK = 256, KO_QUIET, KO_FOREGROUND, KO_AUTO_ZC,
	KO_AUTO_ZC_FALLBACK, KO_NTHREADS, KO_PER_IO, KO_NO_FIXED_FD,
	KO_SAFE, KO_ROTATE, KO_NO_PART_SCAN, KO_SHMEM_ZC, KO_HTLB,
	KO_RDONLY_SHMEM, KO_IO_DESC_SIZE, KO_ZONED, KO_PARAM_TYPES,
	KO_DELAY_US, KO_DIE_DURING_FETCH, KO_CHUNK_SIZE,
	/* integrity: handed on to add under the same name */
	KO_INTEG_CAPABLE, KO_INTEG_REFTAG, KO_METADATA_SIZE, KO_PI_OFFSET,
	KO_CSUM_TYPE, KO_TAG_SIZE,
	/* set_params: one field of struct ublk_params each */
	KO_LBS_SHIFT, KO_PBS_SHIFT, KO_IO_MIN_SHIFT, KO_IO_OPT_SHIFT,
	KO_MAX_SECTORS, KO_CHUNK_SECTORS, KO_DEV_SECTORS, KO_ZONE_APPEND,
	KO_MAX_OPEN, KO_MAX_ACTIVE,
};

static const struct option kublk_longopts[] = {
	{ "all", 0, NULL, 'a' },
	{ "type", 1, NULL, 't' },
	{ "number", 1, NULL, 'n' },
	{ "queues", 1, NULL, 'q' },
	{ "depth", 1, NULL, 'd' },
	{ "zero_copy", 0, NULL, 'z' },
	{ "recovery", 1, NULL, 'r' },
	{ "recovery_fail_io", 1, NULL, 'e' },
	{ "recovery_reissue", 1, NULL, 'i' },
	{ "get_data", 0, NULL, 'g' },
	{ "user_copy", 0, NULL, 'u' },
	{ "size", 1, NULL, 's' },
	{ "batch", 0, NULL, 'b' },
	{ "debug_mask", 1, NULL, KO_DEBUG_MASK },
	{ "quiet", 0, NULL, KO_QUIET },
	{ "foreground", 0, NULL, KO_FOREGROUND },
	{ "auto_zc", 0, NULL, KO_AUTO_ZC },
	{ "auto_zc_fallback", 0, NULL, KO_AUTO_ZC_FALLBACK },
	{ "nthreads", 1, NULL, KO_NTHREADS },
	{ "per_io_tasks", 0, NULL, KO_PER_IO },
	{ "no_ublk_fixed_fd", 0, NULL, KO_NO_FIXED_FD },
	{ "safe", 0, NULL, KO_SAFE },
	{ "rotate_auto_buf", 0, NULL, KO_ROTATE },
	{ "no_auto_part_scan", 0, NULL, KO_NO_PART_SCAN },
	{ "shmem_zc", 0, NULL, KO_SHMEM_ZC },
	{ "htlb", 1, NULL, KO_HTLB },
	{ "rdonly_shmem_buf", 0, NULL, KO_RDONLY_SHMEM },
	{ "io_desc_size", 1, NULL, KO_IO_DESC_SIZE },
	{ "zoned", 0, NULL, KO_ZONED },
	{ "param_types", 1, NULL, KO_PARAM_TYPES },
	{ "delay_us", 1, NULL, KO_DELAY_US },
	{ "die_during_fetch", 1, NULL, KO_DIE_DURING_FETCH },
	{ "chunk_size", 1, NULL, KO_CHUNK_SIZE },
	{ "integrity_capable", 0, NULL, KO_INTEG_CAPABLE },
	{ "integrity_reftag", 0, NULL, KO_INTEG_REFTAG },
	{ "metadata_size", 1, NULL, KO_METADATA_SIZE },
	{ "pi_offset", 1, NULL, KO_PI_OFFSET },
	{ "csum_type", 1, NULL, KO_CSUM_TYPE },
	{ "tag_size", 1, NULL, KO_TAG_SIZE },
	{ "logical_bs_shift", 1, NULL, KO_LBS_SHIFT },
	{ "physical_bs_shift", 1, NULL, KO_PBS_SHIFT },
	{ "io_min_shift", 1, NULL, KO_IO_MIN_SHIFT },
	{ "io_opt_shift", 1, NULL, KO_IO_OPT_SHIFT },
	{ "max_sectors", 1, NULL, KO_MAX_SECTORS },
	{ "chunk_sectors", 1, NULL, KO_CHUNK_SECTORS },
	{ "dev_sectors", 1, NULL, KO_DEV_SECTORS },
	{ "max_zone_append_sectors", 1, NULL, KO_ZONE_APPEND },
	{ "max_open_zones", 1, NULL, KO_MAX_OPEN },
	{ "max_active_zones", 1, NULL, KO_MAX_ACTIVE },
	{ "help", 0, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char kublk_usage[] =
	"COMMAND [OPTIONS]   (sublk run as kublk, for the kernel's ublk selftests)";
static const char kublk_help[] =
	"The command line of the kernel's selftest server kublk\n"
	"(tools/testing/selftests/ublk), translated into sublk's:\n"
	"  add -t null|loop|stripe|fault_inject [-q N] [-d N] [-n ID] [-z] [--auto_zc]\n"
	"      [--auto_zc_fallback] [-u] [-g] [-b] [-r 0|1] [-e 0|1] [-i 0|1]\n"
	"      [--nthreads N] [--per_io_tasks] [--no_auto_part_scan] [--foreground]\n"
	"      [--io_desc_size N] [--delay_us US] [--chunk_size BYTES]\n"
	"      [--shmem_zc --htlb FILE [--rdonly_shmem_buf]]\n"
	"      [integrity options] [FILE...]\n"
	"  recover -n ID [the add options]   (sublk recovers from its saved options)\n"
	"  del -n ID | -a, stop -n ID [--safe], quiesce -n ID,\n"
	"  update_size -n ID -s BYTES, list [-n ID], features,\n"
	"  set_params [-q N] [-d N] [-u] [--zoned] [--param_types basic[,zoned]|none]\n"
	"      [--logical_bs_shift N ...]   ADD_DEV, SET_PARAMS, DEL_DEV; no daemon\n"
	"Accepted without effect: --quiet, --no_ublk_fixed_fd, --rotate_auto_buf.\n"
	"Refused: --shmem_zc without --htlb (no memfd socket).\n";

static struct cli_cmd kublk_cmd = { "kublk", NULL, kublk_usage, kublk_help };

unsigned long kublk_num(const char *s, unsigned long max, const char *what)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > max)
		die("bad %s '%s'", what, s);
	return v;
}

static int kublk_switch(const char *s, const char *what)
{
	return kublk_num(s, ~0UL, what) != 0;
}

static void param_types(struct kublk_args *a, const char *s)
{
	a->param_none = !strcmp(s, "none");
	if (a->param_none)
		a->params.types = 0;
	else if (!strcmp(s, "basic"))
		a->params.types = UBLK_PARAM_TYPE_BASIC;
	else if (!strcmp(s, "basic,zoned") || !strcmp(s, "zoned,basic"))
		a->params.types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_ZONED;
	else
		die("bad --param_types '%s' (basic, basic,zoned or none)", s);
}

/* The integrity options, spelled for sublk's add as kublk spells them. */
static void integ_opt(struct kublk_args *a, int c, const char *arg)
{
	static const char *const names[] = {
		[KO_INTEG_CAPABLE - KO_INTEG_CAPABLE] = "--integrity_capable",
		[KO_INTEG_REFTAG - KO_INTEG_CAPABLE] = "--integrity_reftag",
		[KO_METADATA_SIZE - KO_INTEG_CAPABLE] = "--metadata_size",
		[KO_PI_OFFSET - KO_INTEG_CAPABLE] = "--pi_offset",
		[KO_CSUM_TYPE - KO_INTEG_CAPABLE] = "--csum_type",
		[KO_TAG_SIZE - KO_INTEG_CAPABLE] = "--tag_size",
	};

	if (a->nr_integ == 6)
		die("integrity options given twice");
	a->integ[a->nr_integ][0] = names[c - KO_INTEG_CAPABLE];
	a->integ[a->nr_integ][1] = arg;
	a->nr_integ++;
	if (c == KO_METADATA_SIZE)
		a->metadata = 1;
}

/* set_params: the options that are fields of struct ublk_params. */
static void param_opt(struct ublk_params *p, int c, const char *arg)
{
	unsigned long v = kublk_num(arg, c == KO_DEV_SECTORS ? ~0UL : 0xffffffffUL,
				    "parameter");

	switch (c) {
	case KO_LBS_SHIFT: p->basic.logical_bs_shift = (uint8_t)v; break;
	case KO_PBS_SHIFT: p->basic.physical_bs_shift = (uint8_t)v; break;
	case KO_IO_MIN_SHIFT: p->basic.io_min_shift = (uint8_t)v; break;
	case KO_IO_OPT_SHIFT: p->basic.io_opt_shift = (uint8_t)v; break;
	case KO_MAX_SECTORS: p->basic.max_sectors = (uint32_t)v; break;
	case KO_CHUNK_SECTORS: p->basic.chunk_sectors = (uint32_t)v; break;
	case KO_DEV_SECTORS: p->basic.dev_sectors = v; break;
	case KO_ZONE_APPEND: p->zoned.max_zone_append_sectors = (uint32_t)v; break;
	case KO_MAX_OPEN: p->zoned.max_open_zones = (uint32_t)v; break;
	case KO_MAX_ACTIVE: p->zoned.max_active_zones = (uint32_t)v; break;
	}
}

static void kublk_opt(struct kublk_args *a, int c)
{
	switch (c) {
	case 'a': a->all = 1; break;
	case 't': a->type = optarg; break;
	case 'n': a->id = optarg; break;
	case 'q': a->queues = optarg; break;
	case 'd': a->depth = optarg; break;
	case 's': a->size = optarg; break;
	case 'z': a->zc = 1; break;
	case 'u': a->user_copy = 1; break;
	case 'g': a->get_data = 1; break;
	case 'b': a->batch = 1; break;
	case 'r': a->recovery |= kublk_switch(optarg, "-r"); break;
	case 'e': a->fail_io |= kublk_switch(optarg, "-e"); break;
	case 'i': a->reissue |= kublk_switch(optarg, "-i"); break;
	case KO_DEBUG_MASK: a->debug_mask = optarg; break;
	case KO_FOREGROUND: a->foreground = 1; break;
	case KO_AUTO_ZC: a->auto_zc = 1; break;
	case KO_AUTO_ZC_FALLBACK: a->auto_zc_fallback = 1; break;
	case KO_NTHREADS: a->nthreads = optarg; break;
	case KO_PER_IO: a->per_io = 1; break;
	case KO_SAFE: a->safe = 1; break;
	case KO_NO_PART_SCAN: a->no_part_scan = 1; break;
	case KO_DELAY_US: a->delay_us = optarg; break;
	case KO_DIE_DURING_FETCH:
		a->die_during_fetch = kublk_switch(optarg, "--die_during_fetch");
		break;
	case KO_CHUNK_SIZE: a->chunk_size = optarg; break;
	case KO_ZONED: a->flags |= UBLK_F_ZONED; break;
	case KO_PARAM_TYPES: param_types(a, optarg); break;
	case KO_QUIET: case KO_NO_FIXED_FD: case KO_ROTATE:
		break;	/* how kublk itself runs; sublk has no such choice */
	case KO_SHMEM_ZC: a->shmem_zc = 1; break;
	case KO_HTLB: a->htlb = optarg; break;
	case KO_RDONLY_SHMEM: a->rdonly_shmem = 1; break;
	case KO_IO_DESC_SIZE: a->io_desc_size = optarg; break;
	case KO_INTEG_CAPABLE: case KO_INTEG_REFTAG:
		integ_opt(a, c, NULL);
		break;
	case KO_METADATA_SIZE: case KO_PI_OFFSET: case KO_CSUM_TYPE: case KO_TAG_SIZE:
		integ_opt(a, c, optarg);
		break;
	default:
		param_opt(&a->params, c, optarg);
		break;
	}
}

static void kublk_parse(int argc, char **argv, struct kublk_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->cmd = argv[0];
	a->queues = KUBLK_QUEUES;
	a->depth = KUBLK_DEPTH;
	a->params.types = UBLK_PARAM_TYPE_BASIC;
	a->params.basic.logical_bs_shift = 9;
	a->params.basic.physical_bs_shift = 12;
	a->params.basic.io_min_shift = 9;
	a->params.basic.io_opt_shift = 12;
	a->params.basic.max_sectors = SP_IO_BUF_BYTES >> 9;
	a->params.basic.chunk_sectors = SP_ZONE_SECTORS;
	a->params.basic.dev_sectors = SP_DEV_SECTORS;
	a->params.zoned.max_zone_append_sectors = SP_ZONE_SECTORS;
	optind = 0;
	while ((c = cli_getopt(argc, argv, ":t:n:d:q:r:e:i:s:gazubh",
			       kublk_longopts)) != -1)
		kublk_opt(a, c);
	while (optind < argc) {
		if (a->nr_files == KUBLK_MAX_FILES)
			die("more than %d backing files", KUBLK_MAX_FILES);
		a->files[a->nr_files++] = argv[optind++];
	}
}


void kublk_arg(struct argbuf *b, const char *s)
{
	if (b->n >= KUBLK_MAX_ARGS - 1)
		die("too many options");
	b->v[b->n++] = (char *)s;
	b->v[b->n] = NULL;
}

static const char *num(struct argbuf *b, unsigned long long v)
{
	char *s = b->nums[b->nr_nums++];

	snprintf(s, sizeof(b->nums[0]), "%llu", v);
	return s;
}


/* Run sublk's own command @fn with the argument list @v (v[0] its name). */
static int run_sublk(int (*fn)(int, char **), struct argbuf *b)
{
	optind = 0;
	return fn(b->n, b->v);
}

static int kublk_ctl(const struct kublk_args *a, int (*fn)(int, char **))
{
	struct argbuf b = { .n = 0 };

	kublk_arg(&b, a->cmd);
	if (a->all) {
		kublk_arg(&b, "-a");
	} else {
		if (!a->id)
			die("-n ID is required");
		kublk_arg(&b, "-n");
		kublk_arg(&b, a->id);
	}
	if (a->safe)
		kublk_arg(&b, "--safe");
	if (a->size) {
		kublk_arg(&b, "-s");
		kublk_arg(&b, num(&b, kublk_num(a->size, ~0UL, "size")));
	}
	return run_sublk(fn, &b);
}

int kublk_main(int argc, char **argv)
{
	struct kublk_args a;
	const char *cmd = argc > 1 ? argv[1] : "help";
	static char name[32];

	cli_set_cmd(&kublk_cmd);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		cli_help();
	/* messages say "sublk: kublk add: ..." */
	snprintf(name, sizeof(name), "kublk %s", cmd);
	kublk_cmd.name = name;
	kublk_parse(argc - 1, argv + 1, &a);
	if (a.nr_files && strcmp(cmd, "add") && strcmp(cmd, "recover"))
		die("unexpected argument '%s'", a.files[0]);
	if (!strcmp(cmd, "add"))
		return kublk_add(&a, argv);
	if (!strcmp(cmd, "recover"))
		return kublk_recover(&a, argv);
	if (!strcmp(cmd, "del"))
		return kublk_ctl(&a, cmd_del);
	if (!strcmp(cmd, "stop"))
		return kublk_ctl(&a, cmd_stop);
	if (!strcmp(cmd, "quiesce"))
		return kublk_ctl(&a, cmd_quiesce);
	if (!strcmp(cmd, "update_size"))
		return kublk_ctl(&a, cmd_update_size);
	if (!strcmp(cmd, "list"))
		return kublk_list(&a);
	if (!strcmp(cmd, "features"))
		return kublk_features();
	if (!strcmp(cmd, "set_params"))
		return kublk_set_params(&a);
	die("unknown command '%s'", cmd);
}
