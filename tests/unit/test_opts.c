// SPDX-License-Identifier: MIT
/* Option parsing of `add`: ublksrv's spellings, and clear refusals. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "../../cli/cli.h"

static int parse(struct add_opts *o, char *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	va_start(ap, err);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = 0;
	return opts_parse_add(argc, argv, o, err, 256);
}

#define P(...) parse(&o, err, "add", __VA_ARGS__, (char *)NULL)

int main(void)
{
	struct add_opts o;
	char err[256];
	uint64_t v;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);

	CHECK_EQ(opts_parse_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(opts_parse_size("512K", &v), 0);
	CHECK_EQ(v, 512 << 10);
	CHECK_EQ(opts_parse_size("2G", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(opts_parse_size("1GiB", &v), 0);
	CHECK_EQ(v, 1ULL << 30);
	CHECK(opts_parse_size("12X", &v) < 0);
	CHECK(opts_parse_size("-1", &v) < 0);
	CHECK(opts_parse_size("", &v) < 0);
	/* decimal only: 010 is ten, 0x10 is no number */
	CHECK_EQ(opts_parse_size("010G", &v), 0);
	CHECK_EQ(v, 10ULL << 30);
	CHECK(opts_parse_size("0x10", &v) < 0);
	CHECK(opts_parse_size(" 1", &v) < 0);
	CHECK(opts_parse_size("+1", &v) < 0);
	CHECK(opts_parse_size("17179869184T", &v) < 0);
	{
		unsigned long u;

		CHECK_EQ(opts_parse_uint("010", 100, &u), 0);
		CHECK_EQ(u, 10);
		CHECK(opts_parse_uint("0x1", 100, &u) < 0);
		CHECK(opts_parse_uint("101", 100, &u) == -ERANGE);
		CHECK(opts_parse_uint("-1", 100, &u) < 0);
		CHECK(opts_parse_uint("99999999999999999999999", ~0UL, &u) < 0);
	}

	/* defaults, as ublksrv */
	CHECK_EQ(P("-t", "null"), 0);
	CHECK_EQ(o.nr_queues, 1);
	CHECK_EQ(o.depth, 128);
	CHECK_EQ(o.max_io_buf_bytes, 512 << 10);
	CHECK_EQ(o.dev_id, -1);
	CHECK_EQ(o.flags, 0);
	CHECK(!strcmp(o.conf.type, "null"));

	CHECK_EQ(P("-t", "loop", "-f", "/tmp/x", "-n", "3", "-d", "64", "-u", "1",
		   "-g", "1", "--buffered_io", "--max_io_buf_bytes", "1M"), 0);
	CHECK(!strcmp(o.conf.file, "/tmp/x"));
	CHECK_EQ(o.dev_id, 3);
	CHECK_EQ(o.depth, 64);
	CHECK_EQ(o.conf.buffered_io, 1);
	CHECK_EQ(o.max_io_buf_bytes, 1 << 20);
	CHECK_EQ(o.flags, UBLK_F_URING_CMD_COMP_IN_TASK | UBLK_F_NEED_GET_DATA);

	CHECK_EQ(P("--type", "mem", "--size", "64M", "--queues", "1",
		   "--depth", "4096", "--foreground", "--logical_block_size", "4096"), 0);
	CHECK_EQ(o.conf.size, 64 << 20);
	CHECK_EQ(o.depth, 4096);
	CHECK_EQ(o.foreground, 1);
	CHECK_EQ(o.conf.lbs_shift, 12);

	CHECK_EQ(P("-t", "loop", "-f", "/x", "-r", "1", "-i", "1"), 0);
	CHECK_EQ(o.flags, UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE);

	/* refusals, each with words that name the problem */
	CHECK(P("-t", "nosuch") < 0 && strstr(err, "unknown target type 'nosuch'"));
	CHECK(P("-n", "1") < 0 && strstr(err, "-t TYPE is required"));
	CHECK(P("-t", "null", "-d", "0") < 0 && strstr(err, "depth 0 is out of range"));
	CHECK(P("-t", "null", "-d", "4097") < 0 && strstr(err, "out of range"));
	CHECK(P("-t", "null", "-d", "abc") < 0 && strstr(err, "bad queue depth"));
	CHECK(P("-t", "null", "-q", "100000") < 0 && strstr(err, "too many queues"));
	/* above the CPUs: clamped, as the kernel and ublksrv do */
	CHECK_EQ(P("-t", "null", "-q", "4096"), 0);
	CHECK_EQ(o.nr_queues, ncpu < 4096 ? ncpu : 4096);
	CHECK_EQ(o.queues_asked, 4096);
	CHECK(P("-t", "null", "-q", "0") < 0 && strstr(err, "bad queue count"));
	CHECK(P("-t", "mem", "-s", "1000") < 0 && strstr(err, "not a multiple"));
	CHECK(P("-t", "mem", "-s", "6144", "--logical_block_size", "4096") < 0 &&
	      strstr(err, "4096-byte block size"));
	CHECK(P("-t", "null", "-u", "2") < 0 && strstr(err, "--uring_comp takes 0 or 1"));
	CHECK(P("-t", "null", "--bogus") < 0 && strstr(err, "unknown option"));
	CHECK(P("-t", "null", "-d") < 0 && strstr(err, "needs a value"));
	CHECK(P("-t", "null", "extra") < 0 && strstr(err, "unexpected argument"));
	CHECK(P("-t", "mem", "-s", "1M", "-r", "1") < 0 && strstr(err, "dies with its daemon"));
	CHECK(P("-t", "null", "-i", "1") < 0 && strstr(err, "need user recovery"));
	CHECK(P("-t", "null", "--max_io_buf_bytes", "1000") < 0 &&
	      strstr(err, "multiple of 4096"));
	if (ncpu >= 1) {
		char q[24];

		snprintf(q, sizeof(q), "%ld", ncpu);
		CHECK_EQ(P("-t", "null", "-q", q), 0);
	}
	/* threads: per-I/O threads may differ from the queues, others not */
	CHECK_EQ(P("-t", "null", "-d", "8", "--nthreads", "3", "--per_io_tasks"), 0);
	CHECK_EQ(o.nr_threads, 3);
	CHECK_EQ(o.per_io, 1);
	CHECK(o.flags & UBLK_F_PER_IO_DAEMON);
	CHECK_EQ(P("-t", "null", "--per_io_tasks"), 0);
	CHECK_EQ(o.nr_threads, 1);	/* one per queue unless told */
	CHECK(P("-t", "null", "--nthreads", "2") < 0);
	CHECK(strstr(err, "need --per_io_tasks") != NULL);
	CHECK(P("-t", "null", "-d", "2", "--nthreads", "3", "--per_io_tasks") < 0);
	CHECK(strstr(err, "more than the 2 tags") != NULL);
	CHECK(P("-t", "null", "--nthreads", "0", "--per_io_tasks") < 0);

	/* batch I/O: not with get-data, not with per-I/O threads */
	CHECK_EQ(P("-t", "null", "-b"), 0);
	CHECK(o.flags & UBLK_F_BATCH_IO);
	CHECK_EQ(P("-t", "null", "--batch-io", "--usercopy"), 0);
	CHECK(P("-t", "null", "-b", "-g", "1") < 0);
	CHECK(strstr(err, "no get-data step") != NULL);
	CHECK(P("-t", "null", "-b", "--per_io_tasks") < 0);
	CHECK(strstr(err, "drop --per_io_tasks") != NULL);

	/* request limits, checked as the kernel checks them */
	CHECK_EQ(P("-t", "null", "--dma_alignment", "4095", "--max_segments", "32",
		   "--max_segment_size", "32768", "--seg_boundary_mask", "4095"), 0);
	CHECK_EQ(o.conf.dma_align, 4095);
	CHECK_EQ(o.conf.max_segments, 32);
	CHECK_EQ(o.conf.max_segment_size, 32768);
	CHECK_EQ(o.conf.seg_boundary_mask, 4095);
	CHECK(P("-t", "null", "--dma_alignment", "4096") < 0);
	CHECK(P("-t", "null", "--dma_alignment", "500") < 0);
	CHECK(P("-t", "null", "--max_segments", "65536") < 0);
	CHECK(P("-t", "null", "--max_segment_size", "512") < 0);
	CHECK(P("-t", "null", "--seg_boundary_mask", "511") < 0);
	CHECK(strstr(err, "at least 4095") != NULL);
	CHECK_EQ(P("-t", "null", "--io_desc_size", "64"), 0);
	CHECK(o.flags & UBLK_F_IO_DESC_SIZE);
	CHECK(P("-t", "null", "--io_desc_size", "20") < 0);
	CHECK(P("-t", "null", "--io_desc_size", "60") < 0);
	CHECK(P("-t", "null", "--io_desc_size", "264") < 0);

	/* the canonical form reads back to the same settings */
	{
		struct add_opts o2;
		char bufs[OPTS_NUM_BUFS][24], *args[RS_MAX_ARGS + 1];
		int n;

		CHECK_EQ(P("-t", "loop", "-f", "/a b\n\"c", "-q", "1", "-d", "64",
			   "-r", "1", "-e", "1", "--usercopy", "--buffered_io",
			   "--logical_block_size", "4096", "-s", "1G", "--root-storage",
			   "--dma_alignment", "511", "--max_segments", "8",
			   "--max_segment_size", "65536", "--seg_boundary_mask", "65535",
			   "--io_desc_size", "64"), 0);
		CHECK_EQ(o.root_storage, 1);
		args[0] = "add";
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK(!strcmp(o2.conf.file, "/a b\n\"c"));
		CHECK_EQ(o2.flags, o.flags);
		CHECK_EQ(o2.depth, 64);
		CHECK_EQ(o2.conf.size, 1ULL << 30);
		CHECK_EQ(o2.conf.lbs_shift, 12);
		CHECK_EQ(o2.conf.buffered_io, 1);
		CHECK_EQ(o2.root_storage, 1);
		CHECK_EQ(o2.conf.dma_align, 511);
		CHECK_EQ(o2.conf.max_segments, 8);
		CHECK_EQ(o2.conf.max_segment_size, 65536);
		CHECK_EQ(o2.conf.seg_boundary_mask, 65535);
		CHECK_EQ(o2.io_desc_size, 64);
		CHECK_EQ(opts_to_args(&o, bufs, args, 3), -E2BIG);
	}
	/* --help is not an error */
	CHECK_EQ(P("-t", "null", "--help"), 1);

	return unit_done();
}
