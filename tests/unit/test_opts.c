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
	CHECK(P("-t", "null", "-d") < 0 && strstr(err, "option '-d' needs a value"));
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
	/* batch I/O: threads share queues, or one serves several */
	CHECK_EQ(P("-t", "null", "-b", "--nthreads", "4"), 0);
	CHECK_EQ(o.nr_threads, 4);
	CHECK(!(o.flags & UBLK_F_PER_IO_DAEMON));
	CHECK_EQ(P("-t", "null", "-b"), 0);
	CHECK_EQ(o.nr_threads, 0);	/* one per queue, as without -b */
	CHECK(P("-t", "null", "-b", "-d", "2", "--nthreads", "3") < 0);
	CHECK(strstr(err, "more than the 2 tags") != NULL);
	CHECK(P("-t", "nbd", "--unix", "/s", "-b", "--nthreads", "2") < 0);
	CHECK(strstr(err, "no more --nthreads than queues") != NULL);
	CHECK_EQ(P("-t", "nbd", "--unix", "/s", "-b", "--nthreads", "1"), 0);

	/* integrity: kublk's spellings; it turns on user copy */
	CHECK_EQ(P("-t", "mem", "-s", "1M", "--metadata_size", "64", "--pi_offset", "56",
		   "--csum_type", "ip", "--integrity_capable", "--tag_size", "2"), 0);
	CHECK(o.flags & UBLK_F_INTEGRITY);
	CHECK(o.flags & UBLK_F_USER_COPY);
	CHECK_EQ(o.conf.integrity.metadata_size, 64);
	CHECK_EQ(o.conf.integrity.pi_offset, 56);
	CHECK_EQ(o.conf.integrity.csum_type, LBMD_PI_CSUM_IP);
	CHECK_EQ(o.conf.integrity.tag_size, 2);
	CHECK_EQ(o.conf.integrity.flags, LBMD_PI_CAP_INTEGRITY);
	CHECK_EQ(P("-t", "fault", "--metadata_size", "16", "--csum_type", "crc64",
		   "--integrity_reftag"), 0);
	CHECK_EQ(o.conf.integrity.csum_type, LBMD_PI_CSUM_CRC64_NVME);
	CHECK_EQ(o.conf.integrity.flags, LBMD_PI_CAP_REFTAG);
	CHECK_EQ(P("-t", "null", "--metadata_size", "8"), 0);
	CHECK_EQ(o.conf.integrity.csum_type, LBMD_PI_CSUM_NONE);
	CHECK_EQ(P("-t", "null"), 0);
	CHECK(!(o.flags & (UBLK_F_INTEGRITY | UBLK_F_USER_COPY)));
	CHECK(P("-t", "loop", "-f", "/x", "--metadata_size", "8") < 0);
	CHECK(strstr(err, "--metadata_size needs --metadata_file PATH") != NULL);
	CHECK(P("-t", "stripe", "-f", "/x", "-f", "/y", "--metadata_size", "8") < 0);
	CHECK(strstr(err, "goes with -t mem, fault, null or loop") != NULL);
	/* loop keeps its metadata in a second file */
	CHECK_EQ(P("-t", "loop", "-f", "/x", "--metadata_size", "64", "--pi_offset", "48",
		   "--csum_type", "nvme", "--integrity_reftag",
		   "--metadata_file", "/m"), 0);
	CHECK(!strcmp(o.conf.meta_file, "/m"));
	CHECK(o.flags & UBLK_F_INTEGRITY);
	CHECK(o.flags & UBLK_F_USER_COPY);
	CHECK(P("-t", "loop", "-f", "/x", "--metadata_file", "/m") < 0);
	CHECK(strstr(err, "--metadata_file needs --metadata_size") != NULL);
	CHECK(P("-t", "loop", "-f", "/x", "--csum_type", "nvme", "--metadata_file", "/m") < 0);
	CHECK(strstr(err, "need --metadata_size") != NULL);
	CHECK(P("-t", "mem", "-s", "1M", "--metadata_size", "8", "--metadata_file", "/m") < 0);
	CHECK(strstr(err, "--metadata_file goes with -t loop") != NULL);
	CHECK(P("-t", "loop", "-f", "/x", "--metadata_size", "8", "--metadata_file", "/m", "-z") < 0);
	CHECK(strstr(err, "not with -z") != NULL);
	CHECK(P("-t", "mem", "-s", "1M", "--csum_type", "t10dif") < 0);
	CHECK(strstr(err, "need --metadata_size") != NULL);
	CHECK(P("-t", "mem", "-s", "1M", "--integrity_reftag") < 0);
	CHECK(P("-t", "mem", "-s", "1M", "--metadata_size", "8", "--integrity_reftag") < 0);
	CHECK(strstr(err, "--integrity_reftag needs a --csum_type") != NULL);
	CHECK(P("-t", "mem", "-s", "1M", "--metadata_size", "8", "--pi_offset", "1",
		"--csum_type", "t10dif") < 0);
	CHECK(strstr(err, "the 8-byte PI at --pi_offset 1 does not fit in --metadata_size 8") != NULL);
	CHECK_EQ(P("-t", "mem", "-s", "1M", "--metadata_size", "8", "--pi_offset", "8"), 0);
	CHECK(P("-t", "mem", "-s", "1M", "--metadata_size", "0") < 0);
	CHECK(P("-t", "mem", "-s", "1M", "--metadata_size", "256") < 0);
	CHECK(strstr(err, "1 to 255") != NULL);
	CHECK(P("-t", "mem", "-s", "1M", "--metadata_size", "8", "--csum_type", "crc") < 0);
	CHECK(strstr(err, "bad --csum_type 'crc'") != NULL);
	CHECK(P("-t", "null", "--metadata_size", "8", "-z") < 0);
	CHECK(strstr(err, "not with -z or --unprivileged") != NULL);
	CHECK(P("-t", "null", "--metadata_size", "8", "--unprivileged") < 0);
	CHECK(strstr(err, "not with -z or --unprivileged") != NULL);
	/* --copy: the copy path, not with another data path */
	CHECK_EQ(P("-t", "loop", "-f", "/x", "--copy"), 0);
	CHECK_EQ(o.copy, 1);
	CHECK(!(o.flags & (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_USER_COPY)));
	CHECK_EQ(P("-t", "mem", "-s", "1M", "--copy", "--unprivileged", "-g", "1"), 0);
	CHECK(P("-t", "loop", "-f", "/x", "--copy", "-z") < 0);
	CHECK(strstr(err, "--copy excludes") != NULL);
	CHECK(P("-t", "mem", "-s", "1M", "--usercopy", "--copy") < 0);
	{
		struct add_opts o2;
		char bufs[OPTS_NUM_BUFS][24], *args[RS_MAX_ARGS + 1];
		int n;

		CHECK_EQ(P("-t", "loop", "-f", "/x", "--copy"), 0);
		args[0] = "add";
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK_EQ(o2.copy, 1);
	}
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

		/* integrity, and every number buffer in use at once */
		CHECK_EQ(P("-t", "fault", "-q", "1", "-d", "64", "-s", "1G",
			   "--nthreads", "2", "--per_io_tasks",
			   "--metadata_size", "64", "--pi_offset", "48",
			   "--csum_type", "nvme", "--tag_size", "4",
			   "--integrity_capable", "--integrity_reftag"), 0);
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK_EQ(o2.flags, o.flags);
		CHECK(!memcmp(&o2.conf.integrity, &o.conf.integrity,
			      sizeof(o.conf.integrity)));
		CHECK_EQ(o2.conf.integrity.csum_type, LBMD_PI_CSUM_CRC64_NVME);
		CHECK_EQ(o2.conf.integrity.flags,
			 LBMD_PI_CAP_INTEGRITY | LBMD_PI_CAP_REFTAG);
		CHECK(o2.conf.meta_file == NULL);

		/* loop's metadata file */
		CHECK_EQ(P("-t", "loop", "-f", "/d", "--metadata_size", "64",
			   "--metadata_file", "/m e\ta"), 0);
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK(o2.conf.meta_file && !strcmp(o2.conf.meta_file, "/m e\ta"));
		CHECK(o2.conf.meta_file == o2.meta_file_buf);
		CHECK_EQ(o2.flags, o.flags);
	}
	/* stripe: repeatable -f, --chunk_size, and what goes with what */
	CHECK_EQ(P("-t", "stripe", "-f", "/a", "-f", "/b", "-f", "/c",
		   "--chunk_size", "128K"), 0);
	CHECK_EQ(o.conf.nr_files, 3);
	CHECK(!strcmp(o.conf.files[0], "/a") && !strcmp(o.conf.files[2], "/c"));
	CHECK(o.conf.file == o.conf.files[0]);
	CHECK_EQ(o.conf.chunk_size, 128 << 10);
	CHECK_EQ(P("-t", "stripe", "-f", "/a", "-f", "/b"), 0);
	CHECK_EQ(o.conf.chunk_size, 0);		/* the backend's default */
	CHECK(P("-t", "stripe", "-f", "/a") < 0);
	CHECK(strstr(err, "two or more members") != NULL);
	CHECK(P("-t", "stripe", "-f", "/a", "-f", "/b", "--chunk_size", "12288") < 0);
	CHECK(strstr(err, "--chunk_size 12288 is not a power of two") != NULL);
	CHECK(P("-t", "stripe", "-f", "/a", "-f", "/b", "--chunk_size", "2048") < 0);
	CHECK(P("-t", "stripe", "-f", "/a", "-f", "/b", "--chunk_size", "2M") < 0);
	CHECK(P("-t", "stripe", "-f", "/a", "-f", "/b", "--chunk_size", "x") < 0);
	CHECK(strstr(err, "bad --chunk_size 'x'") != NULL);
	CHECK(P("-t", "loop", "-f", "/a", "-f", "/b") < 0);
	CHECK(strstr(err, "only -t stripe takes more than one") != NULL);
	CHECK(P("-t", "loop", "-f", "/a", "--chunk_size", "4096") < 0);
	CHECK(strstr(err, "--chunk_size goes with -t stripe") != NULL);
	CHECK(P("-t", "stripe", "-f", "1", "-f", "2", "-f", "3", "-f", "4", "-f", "5",
		"-f", "6", "-f", "7", "-f", "8", "-f", "9") < 0);
	CHECK(strstr(err, "more than 8 -f") != NULL);
	/* nbd: ublksrv's options and a URI; every mix that makes no sense refused */
	CHECK_EQ(P("-t", "nbd", "--host", "example.org", "--port", "10810",
		   "--export_name", "disk", "--read_only", "--timeout", "5",
		   "--connections", "2"), 0);
	CHECK(!strcmp(o.conf.nbd_host, "example.org"));
	CHECK(!strcmp(o.conf.nbd_port, "10810"));
	CHECK(!strcmp(o.conf.nbd_export, "disk"));
	CHECK(o.conf.nbd_unix == NULL);
	CHECK_EQ(o.conf.read_only, 1);
	CHECK_EQ(o.conf.nbd_timeout, 5);
	CHECK_EQ(o.conf.nbd_conns, 2);
	CHECK_EQ(o.conf.nr_queues, 1);
	CHECK_EQ(P("-t", "nbd", "--unix", "/run/s.sock"), 0);
	CHECK(!strcmp(o.conf.nbd_unix, "/run/s.sock"));
	CHECK(o.conf.nbd_host == NULL && o.conf.nbd_port == NULL);
	CHECK_EQ(P("-t", "nbd", "--uri", "nbd://[::1]:10900/a%20b"), 0);
	CHECK(!strcmp(o.conf.nbd_host, "::1"));
	CHECK(!strcmp(o.conf.nbd_port, "10900"));
	CHECK(!strcmp(o.conf.nbd_export, "a b"));
	CHECK_EQ(P("-t", "nbd", "--uri", "nbd://h"), 0);
	CHECK(!strcmp(o.conf.nbd_port, "10809"));
	CHECK(!strcmp(o.conf.nbd_export, ""));
	CHECK_EQ(P("-t", "nbd", "--uri", "nbd+unix:///e?socket=/tmp/s"), 0);
	CHECK(!strcmp(o.conf.nbd_unix, "/tmp/s"));
	CHECK(!strcmp(o.conf.nbd_export, "e"));
	CHECK(o.conf.nbd_host == NULL);
	CHECK(P("-t", "nbd") < 0 && strstr(err, "needs --unix PATH, --host HOST or --uri URI"));
	CHECK(P("-t", "nbd", "--unix", "/s", "--host", "h") < 0 &&
	      strstr(err, "exclude each other"));
	CHECK(P("-t", "nbd", "--unix", "/s", "--port", "1") < 0 &&
	      strstr(err, "--port goes with --host"));
	CHECK(P("-t", "nbd", "--uri", "nbd://h/e", "--export_name", "e") < 0 &&
	      strstr(err, "--uri names the server"));
	CHECK(P("-t", "nbd", "--uri", "nbds://h") < 0 && strstr(err, "bad --uri: nbds: TLS"));
	CHECK(P("-t", "nbd", "--host", "h", "--port", "65536") < 0 && strstr(err, "bad --port"));
	CHECK(P("-t", "nbd", "--host", "h", "--port", "0") < 0 && strstr(err, "bad --port"));
	CHECK(P("-t", "nbd", "--host", "h", "--timeout", "0") < 0 && strstr(err, "bad --timeout"));
	CHECK(P("-t", "nbd", "--host", "h", "--connections", "17") < 0 &&
	      strstr(err, "bad --connections"));
	CHECK(P("-t", "nbd", "--host", "") < 0 && strstr(err, "--host needs"));
	CHECK(P("-t", "nbd", "--unix", "/s", "--per_io_tasks") < 0 &&
	      strstr(err, "no --per_io_tasks"));
	CHECK_EQ(P("-t", "nbd", "--unix", "/s", "-z"), 0);
	CHECK_EQ(o.conf.zero_copy, 1);
	CHECK(P("-t", "null", "--host", "h") < 0 && strstr(err, "go with -t nbd"));
	CHECK(P("-t", "loop", "-f", "/x", "--read_only") < 0 && strstr(err, "go with -t nbd"));
	{
		char longpath[200];

		memset(longpath, 'a', sizeof(longpath) - 1);
		longpath[0] = '/';
		longpath[sizeof(longpath) - 1] = 0;
		CHECK(P("-t", "nbd", "--unix", longpath) < 0 && strstr(err, "longer than 107"));
	}
	/* ... and its canonical form reads back the same */
	{
		struct add_opts o2;
		char bufs[OPTS_NUM_BUFS][24], *args[RS_MAX_ARGS + 1];
		int n;

		CHECK_EQ(P("-t", "nbd", "--uri", "nbd://10.0.0.1:777/x%2Fy", "-q", "1",
			   "--connections", "3", "--timeout", "9", "--read_only",
			   "-s", "1G", "--logical_block_size", "4096",
			   "--max_io_buf_bytes", "1M", "-d", "7", "-r", "1"), 0);
		args[0] = "add";
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK(!strcmp(o2.conf.nbd_host, "10.0.0.1"));
		CHECK(!strcmp(o2.conf.nbd_port, "777"));
		CHECK(!strcmp(o2.conf.nbd_export, "x/y"));
		CHECK(o2.conf.nbd_unix == NULL);
		CHECK_EQ(o2.conf.nbd_conns, 3);
		CHECK_EQ(o2.conf.nbd_timeout, 9);
		CHECK_EQ(o2.conf.read_only, 1);
		CHECK_EQ(o2.flags, o.flags);
		CHECK_EQ(P("-t", "nbd", "--unix", "/s.sock"), 0);
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK(!strcmp(o2.conf.nbd_unix, "/s.sock"));
		CHECK(o2.conf.nbd_export == NULL);
		CHECK(o2.conf.nbd_conns == 0 && o2.conf.nbd_timeout == 0);
	}

	{
		struct add_opts o2;
		char bufs[OPTS_NUM_BUFS][24], *args[RS_MAX_ARGS + 1];
		int n;

		CHECK_EQ(P("-t", "stripe", "-f", "/m0", "-f", "/m 1", "-f", "/m2",
			   "-f", "/m3", "--chunk_size", "4096", "-z", "-q", "1",
			   "--nthreads", "2", "--per_io_tasks", "-s", "1M"), 0);
		args[0] = "add";
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK_EQ(o2.conf.nr_files, 4);
		CHECK(!strcmp(o2.conf.files[1], "/m 1"));
		CHECK(!strcmp(o2.conf.files[3], "/m3"));
		CHECK_EQ(o2.conf.chunk_size, 4096);
		CHECK_EQ(o2.flags, o.flags);
		CHECK(!strcmp(o2.conf.type, "stripe"));
	}
	/* saved options: every member must be absolute */
	{
		char *args[] = { "-t", "stripe", "-f", "/a", "-f", "b",
				 "--chunk_size", "8192" };
		struct run_state rs = { .nr_args = 8 };
		unsigned i;

		for (i = 0; i < 8; i++)
			rs.args[i] = args[i];
		CHECK(opts_from_state(&rs, &o, err, sizeof(err)) < 0);
		CHECK(strstr(err, "backing file 'b' is not absolute") != NULL);
		rs.args[5] = "/b";
		CHECK_EQ(opts_from_state(&rs, &o, err, sizeof(err)), 0);
		CHECK_EQ(o.conf.nr_files, 2);
		CHECK_EQ(o.conf.chunk_size, 8192);
	}
	/* saved options: and loop's metadata file */
	{
		char *args[] = { "-t", "loop", "-f", "/a", "--metadata_size", "8",
				 "--metadata_file", "m" };
		struct run_state rs = { .nr_args = 8 };
		unsigned i;

		for (i = 0; i < 8; i++)
			rs.args[i] = args[i];
		CHECK(opts_from_state(&rs, &o, err, sizeof(err)) < 0);
		CHECK(strstr(err, "metadata file 'm' is not absolute") != NULL);
		rs.args[7] = "/m";
		CHECK_EQ(opts_from_state(&rs, &o, err, sizeof(err)), 0);
	}
	/* zoned: user copy always; its options round trip; not with others */
	{
		struct add_opts o2;
		char bufs[OPTS_NUM_BUFS][24], *args[RS_MAX_ARGS + 1];
		int n;

		CHECK_EQ(P("-t", "zoned", "-s", "64M", "--zone_size", "4M",
			   "--conv_zones", "2", "--max_open_zones", "3",
			   "--max_active_zones", "5", "-q", "1", "-d", "32",
			   "--nthreads", "1", "--logical_block_size", "4096"), 0);
		CHECK_EQ(o.flags, UBLK_F_ZONED | UBLK_F_USER_COPY);
		CHECK_EQ(o.conf.zone_size, 4 << 20);
		args[0] = "add";
		n = opts_to_args(&o, bufs, args + 1, RS_MAX_ARGS);
		REQUIRE(n > 0);
		CHECK_EQ(opts_parse_add(n + 1, args, &o2, err, sizeof(err)), 0);
		CHECK_EQ(o2.flags, o.flags);
		CHECK_EQ(o2.conf.size, 64 << 20);
		CHECK_EQ(o2.conf.zone_size, 4 << 20);
		CHECK_EQ(o2.conf.conv_zones, 2);
		CHECK_EQ(o2.conf.max_open_zones, 3);
		CHECK_EQ(o2.conf.max_active_zones, 5);
		CHECK_EQ(o2.conf.lbs_shift, 12);
		CHECK_EQ(o2.nr_threads, 1);
	}
	CHECK_EQ(P("-t", "zoned", "-s", "1G", "-b"), 0);
	CHECK_EQ(o.flags, UBLK_F_ZONED | UBLK_F_USER_COPY | UBLK_F_BATCH_IO);
	CHECK(P("-t", "zoned", "-s", "1G", "-r", "1") < 0 && strstr(err, "a zoned device's data dies"));
	CHECK(P("-t", "zoned", "-s", "1G", "-z") < 0 && strstr(err, "user copy"));
	CHECK(P("-t", "zoned", "-s", "1G", "-g", "1") < 0 && strstr(err, "user copy"));
	CHECK(P("-t", "mem", "-s", "1G", "--zone_size", "4M") < 0 &&
	      strstr(err, "go with -t zoned"));
	CHECK(P("-t", "zoned", "--zone_size", "0") < 0 && strstr(err, "bad --zone_size"));
	CHECK(P("-t", "zoned", "--max_open_zones", "x") < 0 &&
	      strstr(err, "bad --max_open_zones"));

	/* --help is not an error */
	CHECK_EQ(P("-t", "null", "--help"), 1);

	return unit_done();
}
