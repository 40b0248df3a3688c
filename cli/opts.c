// SPDX-License-Identifier: MIT
/*
 * Options of `add`, spelled as ublksrv spells them so scripts carry over.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../backend/nbd.h"

/* Past the end when the last option's value was missing: that option. */
const char *opts_culprit(int argc, char **argv)
{
	return argv[optind - 1 < argc ? optind - 1 : argc - 1];
}

int opts_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int opts_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)	/* accept "1GiB" and "1Gi" too */
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

enum {
	OPT_MAX_IO_BUF = 256,
	OPT_FOREGROUND,
	OPT_DEBUG_MASK,
	OPT_BUFFERED_IO,
	OPT_LBS,
	OPT_FAULT,
	OPT_TRACE,
	OPT_USERCOPY,
	OPT_COPY,
	OPT_UNPRIV,
	OPT_NTHREADS,
	OPT_PER_IO,
	OPT_NO_PART_SCAN,
	OPT_ROOT_STORAGE,
	OPT_NBD_UNIX,
	OPT_NBD_HOST,
	OPT_NBD_PORT,
	OPT_NBD_EXPORT,
	OPT_NBD_URI,
	OPT_NBD_CONNS,
	OPT_NBD_TIMEOUT,
	OPT_READ_ONLY,
	OPT_CHUNK_SIZE,
	OPT_INTEGRITY_CAPABLE,
	OPT_INTEGRITY_REFTAG,
	OPT_METADATA_SIZE,
	OPT_PI_OFFSET,
	OPT_CSUM_TYPE,
	OPT_TAG_SIZE,
	OPT_METADATA_FILE,
	OPT_ZONE_SIZE,
	OPT_CONV_ZONES,
	OPT_MAX_OPEN,
	OPT_MAX_ACTIVE,
	OPT_DMA_ALIGN,
	OPT_MAX_SEGS,
	OPT_MAX_SEG_SIZE,
	OPT_SEG_BOUNDARY,
	OPT_IO_DESC_SIZE,
	OPT_SHMEM_ZC,
	OPT_HTLB,
	OPT_RDONLY_SHMEM,
};

static const struct option add_longopts[] = {
	{ "type",			1, NULL, 't' },
	{ "number",			1, NULL, 'n' },
	{ "queues",			1, NULL, 'q' },
	{ "depth",			1, NULL, 'd' },
	{ "uring_comp",			1, NULL, 'u' },
	{ "need_get_data",		1, NULL, 'g' },
	{ "user_recovery",		1, NULL, 'r' },
	{ "user_recovery_reissue",	1, NULL, 'i' },
	{ "user_recovery_fail_io",	1, NULL, 'e' },
	{ "size",			1, NULL, 's' },
	{ "file",			1, NULL, 'f' },
	{ "verbose",			0, NULL, 'v' },
	{ "max_io_buf_bytes",		1, NULL, OPT_MAX_IO_BUF },
	{ "foreground",			0, NULL, OPT_FOREGROUND },
	{ "debug_mask",			1, NULL, OPT_DEBUG_MASK },
	{ "buffered_io",		0, NULL, OPT_BUFFERED_IO },
	{ "logical_block_size",		1, NULL, OPT_LBS },
	{ "fault",			1, NULL, OPT_FAULT },
	{ "trace-marker",		0, NULL, OPT_TRACE },
	{ "usercopy",			0, NULL, OPT_USERCOPY },
	{ "copy",			0, NULL, OPT_COPY },
	{ "unprivileged",		0, NULL, OPT_UNPRIV },
	{ "zerocopy",			0, NULL, 'z' },
	{ "batch-io",			0, NULL, 'b' },
	{ "nthreads",			1, NULL, OPT_NTHREADS },
	{ "per_io_tasks",		0, NULL, OPT_PER_IO },
	{ "no_auto_part_scan",		0, NULL, OPT_NO_PART_SCAN },
	{ "root-storage",		0, NULL, OPT_ROOT_STORAGE },
	{ "unix",			1, NULL, OPT_NBD_UNIX },
	{ "host",			1, NULL, OPT_NBD_HOST },
	{ "port",			1, NULL, OPT_NBD_PORT },
	{ "export_name",		1, NULL, OPT_NBD_EXPORT },
	{ "uri",			1, NULL, OPT_NBD_URI },
	{ "connections",		1, NULL, OPT_NBD_CONNS },
	{ "timeout",			1, NULL, OPT_NBD_TIMEOUT },
	{ "read_only",			0, NULL, OPT_READ_ONLY },
	{ "chunk_size",			1, NULL, OPT_CHUNK_SIZE },
	{ "integrity_capable",		0, NULL, OPT_INTEGRITY_CAPABLE },
	{ "integrity_reftag",		0, NULL, OPT_INTEGRITY_REFTAG },
	{ "metadata_size",		1, NULL, OPT_METADATA_SIZE },
	{ "pi_offset",			1, NULL, OPT_PI_OFFSET },
	{ "csum_type",			1, NULL, OPT_CSUM_TYPE },
	{ "tag_size",			1, NULL, OPT_TAG_SIZE },
	{ "metadata_file",		1, NULL, OPT_METADATA_FILE },
	{ "zone_size",			1, NULL, OPT_ZONE_SIZE },
	{ "conv_zones",			1, NULL, OPT_CONV_ZONES },
	{ "max_open_zones",		1, NULL, OPT_MAX_OPEN },
	{ "max_active_zones",		1, NULL, OPT_MAX_ACTIVE },
	{ "dma_alignment",		1, NULL, OPT_DMA_ALIGN },
	{ "max_segments",		1, NULL, OPT_MAX_SEGS },
	{ "max_segment_size",		1, NULL, OPT_MAX_SEG_SIZE },
	{ "seg_boundary_mask",		1, NULL, OPT_SEG_BOUNDARY },
	{ "io_desc_size",		1, NULL, OPT_IO_DESC_SIZE },
	{ "shmem_zc",			0, NULL, OPT_SHMEM_ZC },
	{ "htlb",			1, NULL, OPT_HTLB },
	{ "rdonly_shmem_buf",		0, NULL, OPT_RDONLY_SHMEM },
	{ "help",			0, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* A 0|1 switch that turns a feature flag on or off. */
static int opt_flag(const char *arg, uint64_t bit, uint64_t *flags)
{
	unsigned long v;

	if (opts_parse_uint(arg, 1, &v) < 0)
		return -EINVAL;
	if (v)
		*flags |= bit;
	else
		*flags &= ~bit;
	return 0;
}

static const char *opt_name(int c)
{
	const struct option *o;

	for (o = add_longopts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

#define opt_err(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* Copy @s into @buf (@size bytes), or fail naming option @what. */
static int opt_copy(char *buf, size_t size, const char *s, const char *what,
		    char *err, size_t errlen)
{
	if (strlen(s) >= size)
		return opt_err("%s is longer than %u bytes", what, (unsigned)size - 1);
	strcpy(buf, s);
	return 0;
}

/* --uri: the address and export it names, as if given one by one. */
static int opt_nbd_uri(struct add_opts *o, const char *uri, char *err,
		       size_t errlen)
{
	static struct nbd_addr a;	/* 4.5 KiB: not on the stack */
	char why[256];

	if (nbd_uri_parse(uri, &a, why, sizeof(why)) < 0)
		return opt_err("bad --uri: %s", why);
	o->nbd_unix[0] = o->nbd_host[0] = o->nbd_port[0] = 0;
	if (a.unix_path[0] && opt_copy(o->nbd_unix, sizeof(o->nbd_unix),
				       a.unix_path, "the socket path", err, errlen))
		return -EINVAL;
	if (a.host[0] && (opt_copy(o->nbd_host, sizeof(o->nbd_host), a.host,
				   "the host", err, errlen) ||
			  opt_copy(o->nbd_port, sizeof(o->nbd_port), a.port,
				   "the port", err, errlen)))
		return -EINVAL;
	strcpy(o->nbd_export, a.export_name);	/* shorter than NBD_MAX_STRING */
	o->conf.nbd_unix = a.unix_path[0] ? o->nbd_unix : NULL;
	o->conf.nbd_host = a.host[0] ? o->nbd_host : NULL;
	o->conf.nbd_port = a.host[0] ? o->nbd_port : NULL;
	o->conf.nbd_export = o->nbd_export;
	return 0;
}

/* A TCP port, 1..65535, kept as its decimal string. */
static int opt_nbd_port(struct add_opts *o, const char *s, char *err,
			size_t errlen)
{
	unsigned long v;

	if (opts_parse_uint(s, 65535, &v) < 0 || !v)
		return opt_err("bad --port '%s' (1 to 65535)", s);
	snprintf(o->nbd_port, sizeof(o->nbd_port), "%u", (unsigned)(v & 0xffff));
	o->conf.nbd_port = o->nbd_port;
	return 0;
}

static int opts_check_nbd(struct add_opts *o, char *err, size_t errlen)
{
	unsigned g = o->nbd_given;

	if ((g & OPTS_NBD_URI) &&
	    (g & (OPTS_NBD_UNIX | OPTS_NBD_HOST | OPTS_NBD_PORT | OPTS_NBD_EXPORT)))
		return opt_err("--uri names the server and the export: no --unix, --host, --port or --export_name with it");
	if ((g & OPTS_NBD_PORT) && !(g & OPTS_NBD_HOST))
		return opt_err("--port goes with --host");
	if ((g & OPTS_NBD_UNIX) && (g & OPTS_NBD_HOST))
		return opt_err("--unix and --host exclude each other");
	if (!o->conf.nbd_unix && !o->conf.nbd_host)
		return opt_err("-t nbd needs --unix PATH, --host HOST or --uri URI");
	if (o->per_io)
		return opt_err("-t nbd serves each queue's connections from one thread: no --per_io_tasks");
	return 0;
}

static int opts_check_stripe(const struct add_opts *o, char *err, size_t errlen)
{
	unsigned chunk = o->conf.chunk_size;

	if (strcmp(o->conf.type, "stripe")) {
		if (chunk)
			return opt_err("--chunk_size goes with -t stripe");
		if (o->conf.nr_files > 1)
			return opt_err("-f given %u times: only -t stripe takes more than one",
				       o->conf.nr_files);
		return 0;
	}
	if (o->conf.nr_files < 2)
		return opt_err("-t stripe needs two or more members: -f FILE -f FILE ...");
	/* kublk takes 4 KiB to 512 KiB; 1 MiB too here */
	if (chunk && (chunk < 4096 || chunk > (1U << 20) || (chunk & (chunk - 1))))
		return opt_err("--chunk_size %u is not a power of two from 4096 to 1048576",
			       chunk);
	return 0;
}

/*
 * -t zoned: the kernel takes zoned devices only with user copy (6.6),
 * which it then asks of every request; the rest of the data paths have
 * no way to hand over a zone report or an append's sector.
 */
static int opts_check_zoned(struct add_opts *o, char *err, size_t errlen)
{
	if (strcmp(o->conf.type, "zoned")) {
		if (o->zoned_given)
			return opt_err("--zone_size, --conv_zones, --max_open_zones and --max_active_zones go with -t zoned");
		return 0;
	}
	if (o->flags & (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_NEED_GET_DATA |
			UBLK_F_UNPRIVILEGED_DEV))
		return opt_err("-t zoned serves with user copy (the kernel's rule for zoned devices): no -z, -g 1 or --unprivileged");
	o->flags |= UBLK_F_ZONED | UBLK_F_USER_COPY;
	return 0;
}

/*
 * --shmem_zc serves requests in place from the buffer --htlb names, which
 * clients map too; without it there would be nothing to share.  A new
 * daemon (recover) could not learn the index the driver gave the buffer.
 */
static int opts_check_shmem(const struct add_opts *o, char *err, size_t errlen)
{
	if (!(o->flags & UBLK_F_SHMEM_ZC)) {
		if (o->htlb || o->rdonly_shmem)
			return opt_err("--htlb and --rdonly_shmem_buf go with --shmem_zc");
		return 0;
	}
	if (!o->htlb)
		return opt_err("--shmem_zc needs --htlb FILE: the hugetlbfs or tmpfs file clients map to share their buffers");
	if (o->flags & UBLK_F_USER_RECOVERY)
		return opt_err("--shmem_zc and user recovery (-r 1) cannot be combined: a new daemon cannot take over the registered buffer");
	return 0;
}

/*
 * --nthreads: per-I/O threads and batch I/O take any count up to the tags
 * there are; otherwise one thread serves each queue.
 */
static int opts_check_threads(struct add_opts *o, char *err, size_t errlen)
{
	int batch = !!(o->flags & UBLK_F_BATCH_IO);

	if (!o->per_io && !batch) {
		if (o->nr_threads && o->nr_threads != o->nr_queues)
			return opt_err("--nthreads %u differs from the %u queues: threads that share queues need --per_io_tasks or -b",
				       o->nr_threads, o->nr_queues);
		return 0;
	}
	if (!o->nr_threads && o->per_io)
		o->nr_threads = o->nr_queues;
	if (o->nr_threads > o->nr_queues * o->depth)
		return opt_err("--nthreads %u is more than the %u tags there are to serve",
			       o->nr_threads, o->nr_queues * o->depth);
	if (batch && o->nr_threads > o->nr_queues && !strcmp(o->conf.type, "nbd"))
		return opt_err("-t nbd serves each queue's connections from one thread: no more --nthreads than queues (%u)",
			       o->nr_queues);
	if (o->per_io)
		o->flags |= UBLK_F_PER_IO_DAEMON;
	return 0;
}

static int opts_check(struct add_opts *o, char *err, size_t errlen)
{
	uint64_t lbs = 1ULL << o->conf.lbs_shift;

	if (!o->conf.type)
		return opt_err("-t TYPE is required (one of: %s)",
			       backend_names());
	if (!backend_find(o->conf.type))
		return opt_err("unknown target type '%s' (one of: %s)",
			       o->conf.type, backend_names());
	if (o->conf.size % lbs)
		return opt_err("size %llu is not a multiple of the %llu-byte block size",
			       (unsigned long long)o->conf.size,
			       (unsigned long long)lbs);
	if (opts_check_integrity(o, err, errlen) ||
	    opts_check_zoned(o, err, errlen))
		return -EINVAL;
	if ((o->flags & UBLK_F_UNPRIVILEGED_DEV) &&
	    (o->flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_USER_RECOVERY)))
		return opt_err("--unprivileged devices cannot use --usercopy, --zerocopy or -r (the kernel refuses them)");
	if ((o->flags & UBLK_F_USER_COPY) && (o->flags & UBLK_F_SUPPORT_ZERO_COPY))
		return opt_err("--usercopy and --zerocopy exclude each other");
	if (o->copy && (o->flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY)))
		return opt_err("--copy excludes --usercopy and --zerocopy: each picks the data path");
	if (o->conf.fault && strcmp(o->conf.type, "fault"))
		return opt_err("--fault goes with -t fault");
	if (opts_check_stripe(o, err, errlen) || opts_check_shmem(o, err, errlen))
		return -EINVAL;
	if (!strcmp(o->conf.type, "nbd")) {
		if (opts_check_nbd(o, err, errlen))
			return -EINVAL;
	} else if (o->nbd_given) {
		return opt_err("--unix, --host, --port, --export_name, --uri, --connections, --timeout and --read_only go with -t nbd");
	}
	if ((o->flags & UBLK_F_USER_RECOVERY) &&
	    (!strcmp(o->conf.type, "mem") || !strcmp(o->conf.type, "zoned")))
		return opt_err("a %s device's data dies with its daemon: user recovery (-r 1) cannot keep it",
			       o->conf.type);
	if ((o->flags & UBLK_F_USER_RECOVERY_REISSUE) &&
	    (o->flags & UBLK_F_USER_RECOVERY_FAIL_IO))
		return opt_err("-i 1 and -e 1 cannot be combined");
	if ((o->flags & (UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_USER_RECOVERY_FAIL_IO)) &&
	    !(o->flags & UBLK_F_USER_RECOVERY))
		return opt_err("-i and -e need user recovery (-r 1)");
	if ((o->flags & UBLK_F_BATCH_IO) && (o->flags & UBLK_F_NEED_GET_DATA))
		return opt_err("-b (batch I/O) has no get-data step: drop -g 1");
	if ((o->flags & UBLK_F_BATCH_IO) && o->per_io)
		return opt_err("-b (batch I/O) deals the queues to the threads itself: drop --per_io_tasks");
	return opts_check_threads(o, err, errlen);
}

/* The request limits (DMA alignment, segments), as the kernel checks them. */
static int opt_limit(struct add_opts *o, int c, const char *arg, char *err,
		     size_t errlen)
{
	unsigned long v;

	if (opts_parse_uint(arg, 0xffffffffUL, &v) < 0 || !v)
		return opt_err("bad --%s '%s'", opt_name(c), arg);
	switch (c) {
	case OPT_DMA_ALIGN:
		if (v >= 4096 || (v & (v + 1)))
			return opt_err("--dma_alignment is an address mask below 4096: 511, 4095, ...");
		o->conf.dma_align = (uint32_t)v;
		break;
	case OPT_MAX_SEGS:
		if (v > 0xffff)
			return opt_err("--max_segments is at most 65535");
		o->conf.max_segments = (uint32_t)v;
		break;
	case OPT_MAX_SEG_SIZE:
		if (v < 4096)
			return opt_err("--max_segment_size is at least 4096");
		o->conf.max_segment_size = (uint32_t)v;
		break;
	case OPT_SEG_BOUNDARY:
		if (v < 4095 || (v & (v + 1)))
			return opt_err("--seg_boundary_mask is a mask of at least 4095: 4095, 65535, ...");
		o->conf.seg_boundary_mask = v;
		break;
	}
	return 0;
}

int opts_parse_add(int argc, char **argv, struct add_opts *o,
		   char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned long v;
	uint64_t size;
	int c;

	memset(o, 0, sizeof(*o));
	o->dev_id = -1;
	o->nr_queues = 1;
	o->depth = UBLK_DEFAULT_DEPTH;
	o->max_io_buf_bytes = UBLK_DEFAULT_IO_BUF;
	o->conf.lbs_shift = 9;
	if (ncpu < 1)
		ncpu = 1;

	optind = 0;	/* full reset, for glibc and musl alike */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:n:q:d:u:g:r:i:e:s:f:vzbh",
				add_longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->conf.type = optarg;
			break;
		case 'n':
			if (opts_parse_uint(optarg, UBLK_MAX_UBLKS - 1, &v) < 0)
				return opt_err("bad device id '%s'", optarg);
			o->dev_id = (int)v;
			break;
		case 'q':
			if (opts_parse_uint(optarg, ~0UL, &v) < 0 || v == 0)
				return opt_err("bad queue count '%s'", optarg);
			if (v > UBLK_MAX_NR_QUEUES)
				return opt_err("too many queues: %lu (ublk has at most %u)",
					       v, UBLK_MAX_NR_QUEUES);
			/* as the kernel and ublksrv: one queue per CPU at most */
			o->queues_asked = (unsigned)v;
			o->nr_queues = v > (unsigned long)ncpu ? (unsigned)ncpu : (unsigned)v;
			break;
		case 'd':
			if (opts_parse_uint(optarg, ~0UL, &v) < 0)
				return opt_err("bad queue depth '%s'", optarg);
			if (v < 1 || v > UBLK_MAX_QUEUE_DEPTH)
				return opt_err("queue depth %lu is out of range 1..%d",
					       v, UBLK_MAX_QUEUE_DEPTH);
			o->depth = (unsigned)v;
			break;
		case 'u':
			if (opt_flag(optarg, UBLK_F_URING_CMD_COMP_IN_TASK, &o->flags))
				goto bad_switch;
			break;
		case 'g':
			if (opt_flag(optarg, UBLK_F_NEED_GET_DATA, &o->flags))
				goto bad_switch;
			break;
		case 'r':
			if (opt_flag(optarg, UBLK_F_USER_RECOVERY, &o->flags))
				goto bad_switch;
			break;
		case 'i':
			if (opt_flag(optarg, UBLK_F_USER_RECOVERY_REISSUE, &o->flags))
				goto bad_switch;
			break;
		case 'e':
			if (opt_flag(optarg, UBLK_F_USER_RECOVERY_FAIL_IO, &o->flags))
				goto bad_switch;
			break;
		case 's':
			if (opts_parse_size(optarg, &size) < 0 || size == 0)
				return opt_err("bad size '%s' (e.g. 512M, 4G)", optarg);
			o->conf.size = size;
			break;
		case 'f':
			if (o->conf.nr_files >= BACKEND_MAX_FILES)
				return opt_err("more than %u -f", BACKEND_MAX_FILES);
			if (strlen(optarg) >= sizeof(o->file_buf[0]))
				return opt_err("file name too long");
			strcpy(o->file_buf[o->conf.nr_files], optarg);
			o->conf.files[o->conf.nr_files] = o->file_buf[o->conf.nr_files];
			o->conf.nr_files++;
			o->conf.file = o->file_buf[0];
			break;
		case OPT_CHUNK_SIZE:
			if (opts_parse_size(optarg, &size) < 0 || size > UINT32_MAX)
				return opt_err("bad --chunk_size '%s' (e.g. 65536, 64K)", optarg);
			o->conf.chunk_size = (unsigned)size;
			break;
		case 'v':
			o->debug = 1;
			break;
		case OPT_MAX_IO_BUF:
			if (opts_parse_size(optarg, &size) < 0 || size < 4096 ||
			    size > UBLK_MAX_IO_BUF || size % 4096)
				return opt_err("--max_io_buf_bytes must be a multiple of 4096 from 4096 to %u",
					       UBLK_MAX_IO_BUF);
			o->max_io_buf_bytes = (unsigned)size;
			break;
		case OPT_FOREGROUND:
			o->foreground = 1;
			break;
		case OPT_DEBUG_MASK:
			if (opts_parse_uint(optarg, ~0UL, &v) < 0)
				return opt_err("bad --debug_mask '%s'", optarg);
			o->debug = v != 0;
			break;
		case OPT_BUFFERED_IO:
			o->conf.buffered_io = 1;
			break;
		case OPT_LBS:
			if (opts_parse_uint(optarg, 4096, &v) < 0 || v < 512 ||
			    (v & (v - 1)))
				return opt_err("--logical_block_size must be 512, 1024, 2048 or 4096");
			o->conf.lbs_shift = (unsigned)__builtin_ctzl(v);
			break;
		case OPT_UNPRIV:
			o->flags |= UBLK_F_UNPRIVILEGED_DEV;
			break;
		case OPT_USERCOPY:
			o->flags |= UBLK_F_USER_COPY;
			break;
		case OPT_COPY:
			o->copy = 1;
			break;
		case 'z':
			o->flags |= UBLK_F_SUPPORT_ZERO_COPY;
			break;
		case 'b':
			o->flags |= UBLK_F_BATCH_IO;
			break;
		case OPT_TRACE:
			o->trace = 1;
			break;
		case OPT_NTHREADS:
			if (opts_parse_uint(optarg, UBLK_MAX_QUEUE_DEPTH, &v) < 0 || v == 0)
				return opt_err("bad thread count '%s' (1..%d)",
					       optarg, UBLK_MAX_QUEUE_DEPTH);
			o->nr_threads = (unsigned)v;
			break;
		case OPT_PER_IO:
			o->per_io = 1;
			break;
		case OPT_NO_PART_SCAN:
			o->flags |= UBLK_F_NO_AUTO_PART_SCAN;
			break;
		case OPT_ROOT_STORAGE:
			o->root_storage = 1;
			break;
		case OPT_NBD_UNIX:
			if (opt_copy(o->nbd_unix, sizeof(o->nbd_unix), optarg,
				     "--unix", err, errlen))
				return -EINVAL;
			if (!o->nbd_unix[0])
				return opt_err("--unix needs a socket path");
			o->conf.nbd_unix = o->nbd_unix;
			o->nbd_given |= OPTS_NBD_UNIX;
			break;
		case OPT_NBD_HOST:
			if (opt_copy(o->nbd_host, sizeof(o->nbd_host), optarg,
				     "--host", err, errlen))
				return -EINVAL;
			if (!o->nbd_host[0])
				return opt_err("--host needs a name or an address");
			o->conf.nbd_host = o->nbd_host;
			o->nbd_given |= OPTS_NBD_HOST;
			break;
		case OPT_NBD_PORT:
			if (opt_nbd_port(o, optarg, err, errlen))
				return -EINVAL;
			o->nbd_given |= OPTS_NBD_PORT;
			break;
		case OPT_NBD_EXPORT:
			if (opt_copy(o->nbd_export, sizeof(o->nbd_export), optarg,
				     "--export_name", err, errlen))
				return -EINVAL;
			o->conf.nbd_export = o->nbd_export;
			o->nbd_given |= OPTS_NBD_EXPORT;
			break;
		case OPT_NBD_URI:
			if (opt_nbd_uri(o, optarg, err, errlen))
				return -EINVAL;
			o->nbd_given |= OPTS_NBD_URI;
			break;
		case OPT_NBD_CONNS:
			if (opts_parse_uint(optarg, 16, &v) < 0 || !v)
				return opt_err("bad --connections '%s' (1 to 16 per queue)",
					       optarg);
			o->conf.nbd_conns = (unsigned)v;
			o->nbd_given |= OPTS_NBD_OTHER;
			break;
		case OPT_NBD_TIMEOUT:
			if (opts_parse_uint(optarg, 3600, &v) < 0 || !v)
				return opt_err("bad --timeout '%s' (1 to 3600 seconds)",
					       optarg);
			o->conf.nbd_timeout = (unsigned)v;
			o->nbd_given |= OPTS_NBD_OTHER;
			break;
		case OPT_READ_ONLY:
			o->conf.read_only = 1;
			o->nbd_given |= OPTS_NBD_OTHER;
			break;
		case OPT_INTEGRITY_CAPABLE:
		case OPT_INTEGRITY_REFTAG:
		case OPT_METADATA_SIZE:
		case OPT_PI_OFFSET:
		case OPT_TAG_SIZE:
		case OPT_CSUM_TYPE:
			if (opts_integrity_opt(&o->conf.integrity, opt_name(c), optarg,
					       err, errlen))
				return -EINVAL;
			break;
		case OPT_METADATA_FILE:
			if (opt_copy(o->meta_file_buf, sizeof(o->meta_file_buf), optarg,
				     "--metadata_file", err, errlen))
				return -EINVAL;
			o->conf.meta_file = o->meta_file_buf;
			break;
		case OPT_ZONE_SIZE:
			if (opts_parse_size(optarg, &size) < 0 || size == 0)
				return opt_err("bad --zone_size '%s' (e.g. 4M, 256M)", optarg);
			o->conf.zone_size = size;
			o->zoned_given = 1;
			break;
		case OPT_CONV_ZONES:
		case OPT_MAX_OPEN:
		case OPT_MAX_ACTIVE:
			if (opts_parse_uint(optarg, 1U << 20, &v) < 0)
				return opt_err("bad --%s '%s' (0 to %u)", opt_name(c),
					       optarg, 1U << 20);
			*(c == OPT_CONV_ZONES ? &o->conf.conv_zones :
			  c == OPT_MAX_OPEN ? &o->conf.max_open_zones :
			  &o->conf.max_active_zones) = (unsigned)v;
			o->zoned_given = 1;
			break;
		case OPT_FAULT:
			if (strlen(optarg) >= sizeof(o->fault_buf))
				return opt_err("--fault spec too long");
			strcpy(o->fault_buf, optarg);
			o->conf.fault = o->fault_buf;
			break;
		case OPT_DMA_ALIGN:
		case OPT_MAX_SEGS:
		case OPT_MAX_SEG_SIZE:
		case OPT_SEG_BOUNDARY:
			if (opt_limit(o, c, optarg, err, errlen))
				return -EINVAL;
			break;
		case OPT_IO_DESC_SIZE:
			/* the kernel's bounds: 24 to 256, a multiple of 8 */
			if (opts_parse_uint(optarg, 256, &v) < 0 || v < 24 || v % 8)
				return opt_err("--io_desc_size must be a multiple of 8 from 24 to 256");
			o->io_desc_size = (unsigned)v;
			o->flags |= UBLK_F_IO_DESC_SIZE;
			break;
		case OPT_SHMEM_ZC:
			o->flags |= UBLK_F_SHMEM_ZC;
			break;
		case OPT_HTLB:
			if (opt_copy(o->htlb_buf, sizeof(o->htlb_buf), optarg,
				     "--htlb", err, errlen))
				return -EINVAL;
			if (!o->htlb_buf[0])
				return opt_err("--htlb needs a file");
			o->htlb = o->htlb_buf;
			break;
		case OPT_RDONLY_SHMEM:
			o->rdonly_shmem = 1;
			break;
		case 'h':
			return 1;
		case ':':
			return opt_err("option '%s' needs a value",
				       opts_culprit(argc, argv));
		default:
			if (optopt && optopt != '?')
				return opt_err("unknown option '-%c'", optopt);
			return opt_err("unknown option '%s'", opts_culprit(argc, argv));
		}
	}
	if (optind < argc)
		return opt_err("unexpected argument '%s'", argv[optind]);
	o->conf.nr_queues = o->nr_queues;
	o->conf.zero_copy = !!(o->flags & UBLK_F_SUPPORT_ZERO_COPY);
	return opts_check(o, err, errlen);

bad_switch:
	return opt_err("--%s takes 0 or 1, not '%s'", opt_name(c), optarg);
}

void opts_dev_info(const struct add_opts *o, struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	info->nr_hw_queues = (uint16_t)o->nr_queues;
	info->queue_depth = (uint16_t)o->depth;
	info->max_io_buf_bytes = o->max_io_buf_bytes;
	info->dev_id = (uint32_t)o->dev_id;
	info->flags = o->flags;
	info->io_desc_size = (uint16_t)o->io_desc_size;
}

/* Options that are 0|1 switches of a feature flag, as ublksrv spells them. */
static const struct { char opt[3]; uint64_t flag; } flag_opts[] = {
	{ "-u", UBLK_F_URING_CMD_COMP_IN_TASK },
	{ "-g", UBLK_F_NEED_GET_DATA },
	{ "-r", UBLK_F_USER_RECOVERY },
	{ "-i", UBLK_F_USER_RECOVERY_REISSUE },
	{ "-e", UBLK_F_USER_RECOVERY_FAIL_IO },
};

int opts_to_args(const struct add_opts *o, char bufs[OPTS_NUM_BUFS][24], char **args,
		 int max)
{
	int n = 0, nb = 0;
	unsigned i;

#define ARG(s) do { if (n >= max) return -E2BIG; args[n++] = (char *)(s); } while (0)
#define NUM(fmt, v) do { if (nb >= OPTS_NUM_BUFS) return -E2BIG; snprintf(bufs[nb], 24, fmt, v); \
			ARG(bufs[nb]); nb++; } while (0)
	ARG("-t");
	ARG(o->conf.type);
	ARG("-q");
	NUM("%u", o->nr_queues);
	ARG("-d");
	NUM("%u", o->depth);
	ARG("--max_io_buf_bytes");
	NUM("%u", o->max_io_buf_bytes);
	ARG("--logical_block_size");
	NUM("%u", 1U << o->conf.lbs_shift);
	if (o->conf.size) {
		ARG("-s");
		NUM("%llu", (unsigned long long)o->conf.size);
	}
	for (i = 0; i < sizeof(flag_opts) / sizeof(flag_opts[0]); i++) {
		if (!(o->flags & flag_opts[i].flag))
			continue;
		ARG(flag_opts[i].opt);
		ARG("1");
	}
	if (o->flags & UBLK_F_USER_COPY)
		ARG("--usercopy");
	if (o->flags & UBLK_F_SUPPORT_ZERO_COPY)
		ARG("-z");
	if (o->copy)
		ARG("--copy");
	if (o->flags & UBLK_F_BATCH_IO)
		ARG("-b");
	if (o->flags & UBLK_F_UNPRIVILEGED_DEV)
		ARG("--unprivileged");
	if (o->flags & UBLK_F_NO_AUTO_PART_SCAN)
		ARG("--no_auto_part_scan");
	if (o->flags & UBLK_F_SHMEM_ZC)
		ARG("--shmem_zc");
	if (o->htlb) {
		ARG("--htlb");
		ARG(o->htlb);
	}
	if (o->rdonly_shmem)
		ARG("--rdonly_shmem_buf");
	if (o->per_io)
		ARG("--per_io_tasks");
	if (o->nr_threads) {
		ARG("--nthreads");
		NUM("%u", o->nr_threads);
	}
	for (i = 0; i < o->conf.nr_files; i++) {
		ARG("-f");
		ARG(o->conf.files[i]);
	}
	if (o->conf.chunk_size) {
		ARG("--chunk_size");
		NUM("%u", o->conf.chunk_size);
	}
	if (o->conf.buffered_io)
		ARG("--buffered_io");
	if (o->conf.fault) {
		ARG("--fault");
		ARG(o->conf.fault);
	}
	if (o->conf.nbd_unix) {
		ARG("--unix");
		ARG(o->conf.nbd_unix);
	}
	if (o->conf.nbd_host) {
		ARG("--host");
		ARG(o->conf.nbd_host);
	}
	if (o->conf.nbd_port) {
		ARG("--port");
		ARG(o->conf.nbd_port);
	}
	if (o->conf.nbd_export && o->conf.nbd_export[0]) {
		ARG("--export_name");
		ARG(o->conf.nbd_export);
	}
	if (o->conf.nbd_conns) {
		ARG("--connections");
		NUM("%u", o->conf.nbd_conns);
	}
	if (o->conf.nbd_timeout) {
		ARG("--timeout");
		NUM("%u", o->conf.nbd_timeout);
	}
	if (o->conf.read_only)
		ARG("--read_only");
	if (o->conf.integrity.metadata_size) {
		const struct backend_integrity *in = &o->conf.integrity;

		ARG("--metadata_size");
		NUM("%u", in->metadata_size);
		ARG("--pi_offset");
		NUM("%u", in->pi_offset);
		ARG("--tag_size");
		NUM("%u", in->tag_size);
		ARG("--csum_type");
		ARG(opts_csum_name(in->csum_type));
		if (in->flags & LBMD_PI_CAP_INTEGRITY)
			ARG("--integrity_capable");
		if (in->flags & LBMD_PI_CAP_REFTAG)
			ARG("--integrity_reftag");
	}
	if (o->conf.meta_file) {
		ARG("--metadata_file");
		ARG(o->conf.meta_file);
	}
	if (o->conf.zone_size) {
		ARG("--zone_size");
		NUM("%llu", (unsigned long long)o->conf.zone_size);
	}
	if (o->conf.conv_zones) {
		ARG("--conv_zones");
		NUM("%u", o->conf.conv_zones);
	}
	if (o->conf.max_open_zones) {
		ARG("--max_open_zones");
		NUM("%u", o->conf.max_open_zones);
	}
	if (o->conf.max_active_zones) {
		ARG("--max_active_zones");
		NUM("%u", o->conf.max_active_zones);
	}
	if (o->io_desc_size) {
		ARG("--io_desc_size");
		NUM("%u", o->io_desc_size);
	}
	if (o->conf.dma_align) {
		ARG("--dma_alignment");
		NUM("%u", o->conf.dma_align);
	}
	if (o->conf.max_segments) {
		ARG("--max_segments");
		NUM("%u", o->conf.max_segments);
	}
	if (o->conf.max_segment_size) {
		ARG("--max_segment_size");
		NUM("%u", o->conf.max_segment_size);
	}
	if (o->conf.seg_boundary_mask) {
		ARG("--seg_boundary_mask");
		NUM("%llu", (unsigned long long)o->conf.seg_boundary_mask);
	}
	if (o->trace)
		ARG("--trace-marker");
	if (o->root_storage)
		ARG("--root-storage");
#undef NUM
#undef ARG
	return n;
}

int opts_from_state(const struct run_state *s, struct add_opts *o,
		    char *err, size_t errlen)
{
	char *argv[RS_MAX_ARGS + 2];
	unsigned i;
	int ret;

	argv[0] = "add";
	for (i = 0; i < s->nr_args && i < RS_MAX_ARGS; i++)
		argv[i + 1] = s->args[i];
	argv[i + 1] = NULL;
	ret = opts_parse_add((int)i + 1, argv, o, err, errlen);
	if (ret > 0)
		return opt_err("saved options ask for help");
	if (ret < 0) {
		/* prefix the reason: it is about a file, not a command line */
		char why[320];

		snprintf(why, sizeof(why), "%s", err);
		return opt_err("bad saved options: %s", why);
	}
	if (!o->conf.file && !strcmp(o->conf.type, "loop"))
		return opt_err("bad saved options: no backing file");
	for (i = 0; i < o->conf.nr_files; i++)
		if (o->conf.files[i][0] != '/')
			return opt_err("bad saved options: backing file '%s' is not absolute",
				       o->conf.files[i]);
	if (o->conf.meta_file && o->conf.meta_file[0] != '/')
		return opt_err("bad saved options: metadata file '%s' is not absolute",
			       o->conf.meta_file);
	if (o->conf.nbd_unix && o->conf.nbd_unix[0] != '/')
		return opt_err("bad saved options: socket '%s' is not absolute",
			       o->conf.nbd_unix);
	return 0;
}
