// SPDX-License-Identifier: MIT
/*
 * The kublk commands that are more than a sublk command's argv: add and
 * recover (kublk's targets, positional files and options as sublk's add
 * options), list and features (kublk's output, which the selftest scripts
 * parse) and set_params (ADD_DEV, SET_PARAMS, DEL_DEV: no daemon).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "kublk.h"

/*
 * kublk sets its null target's request limits whatever the kernel; a
 * driver before Linux 6.15 drops them, so they are asked for only where
 * they are kept (sublk refuses a limit the driver would drop).
 */
static int kernel_keeps_limits(void)
{
	struct utsname u;
	unsigned long major, minor;
	char *end;

	if (uname(&u))
		return 1;
	major = strtoul(u.release, &end, 10);
	minor = *end == '.' ? strtoul(end + 1, NULL, 10) : 0;
	return major > 6 || (major == 6 && minor >= 15);
}

/* The target and its files: kublk's name and positional files, sublk's options. */
static void add_target(struct argbuf *b, const struct kublk_args *a)
{
	int i, want = a->metadata ? 2 : 1;

	if (!a->type)
		die("-t TYPE is required");
	if (!strcmp(a->type, "null") || !strcmp(a->type, "fault_inject")) {
		if (a->nr_files)
			die("-t %s takes no backing file", a->type);
		kublk_arg(b, "-t");
		kublk_arg(b, a->type[0] == 'n' ? "null" : "fault");
		if (a->type[0] == 'n' && kernel_keeps_limits()) {
			/* the request limits kublk's null target sets */
			kublk_arg(b, "--dma_alignment");
			kublk_arg(b, "4095");
			kublk_arg(b, "--seg_boundary_mask");
			kublk_arg(b, "4095");
			kublk_arg(b, "--max_segment_size");
			kublk_arg(b, "32768");
			kublk_arg(b, "--max_segments");
			kublk_arg(b, "32");
		}
		return;
	}
	if (!strcmp(a->type, "loop")) {
		if (a->nr_files != want)
			die("-t loop takes %d backing file%s%s", want,
				  want > 1 ? "s" : "",
				  a->metadata ? " (data, then metadata)" : "");
		kublk_arg(b, "-t");
		kublk_arg(b, "loop");
		kublk_arg(b, "-f");
		kublk_arg(b, a->files[0]);
		if (a->metadata) {
			kublk_arg(b, "--metadata_file");
			kublk_arg(b, a->files[1]);
		}
		return;
	}
	if (!strcmp(a->type, "stripe")) {
		if (a->nr_files < 2)
			die("-t stripe takes two or more backing files");
		kublk_arg(b, "-t");
		kublk_arg(b, "stripe");
		for (i = 0; i < a->nr_files; i++) {
			kublk_arg(b, "-f");
			kublk_arg(b, a->files[i]);
		}
		return;
	}
	die("unknown target type '%s' (null, loop, stripe or fault_inject)",
		  a->type);
}

static void add_flags(struct argbuf *b, const struct kublk_args *a)
{
	int i;

	if (a->auto_zc_fallback && !(a->zc && a->auto_zc))
		die("--auto_zc_fallback needs -z and --auto_zc");
	/*
	 * -z alone: the server registers each request's buffer itself;
	 * --auto_zc: the kernel does (AUTO_BUF_REG), which sublk's -z picks
	 * wherever the driver has it.
	 */
	if (a->zc || a->auto_zc)
		kublk_arg(b, "-z");
	if (a->user_copy)
		kublk_arg(b, "--usercopy");
	if (a->get_data) {
		kublk_arg(b, "-g");
		kublk_arg(b, "1");
	}
	if (a->batch)
		kublk_arg(b, "-b");
	/* kublk's -e 1 and -i 1 imply -r 1 */
	if (a->recovery || a->fail_io || a->reissue) {
		kublk_arg(b, "-r");
		kublk_arg(b, "1");
	}
	if (a->fail_io) {
		kublk_arg(b, "-e");
		kublk_arg(b, "1");
	}
	if (a->reissue) {
		kublk_arg(b, "-i");
		kublk_arg(b, "1");
	}
	if (a->nthreads) {
		kublk_arg(b, "--nthreads");
		kublk_arg(b, a->nthreads);
	}
	if (a->per_io)
		kublk_arg(b, "--per_io_tasks");
	if (a->no_part_scan)
		kublk_arg(b, "--no_auto_part_scan");
	if (a->foreground)
		kublk_arg(b, "--foreground");
	if (a->io_desc_size) {
		kublk_arg(b, "--io_desc_size");
		kublk_arg(b, a->io_desc_size);
	}
	if (a->shmem_zc)
		kublk_arg(b, "--shmem_zc");
	if (a->htlb) {
		kublk_arg(b, "--htlb");
		kublk_arg(b, a->htlb);
	}
	if (a->rdonly_shmem)
		kublk_arg(b, "--rdonly_shmem_buf");
	if (a->debug_mask && kublk_num(a->debug_mask, ~0UL, "--debug_mask"))
		kublk_arg(b, "-v");
	for (i = 0; i < a->nr_integ; i++) {
		kublk_arg(b, a->integ[i][0]);
		if (a->integ[i][1])
			kublk_arg(b, a->integ[i][1]);
	}
}

/* The target options kublk's targets take: fault_inject's delay, stripe's chunk. */
static void add_target_opts(struct argbuf *b, const struct kublk_args *a)
{
	static char fault[48];
	unsigned long us;

	if (a->delay_us) {
		if (strcmp(a->type, "fault_inject"))
			die("--delay_us goes with -t fault_inject");
		us = kublk_num(a->delay_us, 1000UL * 0xffffffffUL, "--delay_us");
		if (us) {
			/* sublk's fault target counts milliseconds */
			snprintf(fault, sizeof(fault), "delay_ms=%lu", (us + 999) / 1000);
			kublk_arg(b, "--fault");
			kublk_arg(b, fault);
		}
	}
	if (a->chunk_size) {
		if (strcmp(a->type, "stripe"))
			die("--chunk_size goes with -t stripe");
		kublk_arg(b, "--chunk_size");
		kublk_arg(b, a->chunk_size);
	}
}

/* Two lines as kublk prints a device: state is field 11, the pid field 7. */
static int kublk_dump(struct ublk_ctrl *c, unsigned id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	int ret;

	ret = ublk_ctrl_get_info(c, id, &info);
	if (ret < 0)
		return ret;
	if (ublk_ctrl_get_params(c, id, &p) < 0)
		memset(&p, 0, sizeof(p));
	printf("dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity %llu\n",
	       id, info.nr_hw_queues, info.queue_depth,
	       1U << p.basic.logical_bs_shift,
	       (unsigned long long)p.basic.dev_sectors);
	printf("\tmax rq size %u daemon pid %d flags 0x%llx state %s\n",
	       info.max_io_buf_bytes, (int)info.ublksrv_pid,
	       (unsigned long long)info.flags, ublk_state_name(info.state));
	fflush(stdout);
	return 0;
}

static void dump_one(unsigned id)
{
	struct ublk_ctrl c;

	cli_ctrl_open(&c);
	kublk_dump(&c, id);
	ublk_ctrl_close(&c);
}

int kublk_add(const struct kublk_args *a, char **argv0)
{
	struct argbuf b = { .n = 0 };
	struct add_opts o;
	char why[320];
	unsigned id;
	int ret;

	/* -z without --auto_zc: buffers registered by hand, as kublk does */
	if (a->zc && !a->auto_zc) {
		setenv("SUBLK_NO_AUTO_BUF_REG", "1", 1);
		cli_env_load(argv0);
	}
	kublk_arg(&b, "add");
	add_target(&b, a);
	kublk_arg(&b, "-q");
	kublk_arg(&b, a->queues);
	kublk_arg(&b, "-d");
	kublk_arg(&b, a->depth);
	if (a->id) {
		kublk_arg(&b, "-n");
		kublk_arg(&b, a->id);
	}
	add_flags(&b, a);
	add_target_opts(&b, a);
	ret = opts_parse_add(b.n, b.v, &o, why, sizeof(why));
	if (ret)
		die("%s", ret > 0 ? "no --help here" : why);
	ret = cli_add_device(&o, &id);
	if (ret == 0 && !o.foreground)
		dump_one(id);
	return ret;
}

int kublk_recover(const struct kublk_args *a, char **argv0)
{
	unsigned id;
	int ret;

	if (!a->id)
		die("-n ID is required");
	id = cli_dev_id(a->id);
	/* fault_inject --die_during_fetch 1: SIGKILL once a queue's tags are fetched */
	if (a->die_during_fetch) {
		setenv("SUBLK_TEST_DIE_AT", "queue_setup", 1);
		cli_env_load(argv0);
	}
	ret = cli_recover_device(id, a->foreground, 0);
	if (ret == 0 && !a->foreground)
		dump_one(id);
	return ret;
}

int kublk_list(const struct kublk_args *a)
{
	struct ublk_ctrl c;
	unsigned *ids;
	int n, i, ret = 0;

	cli_ctrl_open(&c);
	if (a->id) {
		ret = kublk_dump(&c, cli_dev_id(a->id));
		if (ret < 0)
			warn("device %s: %s", a->id, strerror(-ret));
	} else {
		n = cli_dev_ids(&ids);
		for (i = 0; i < n; i++)
			kublk_dump(&c, ids[i]);
		free(ids);
	}
	ublk_ctrl_close(&c);
	return ret < 0;
}

/* Every flag the driver reports, named; "unknown" for one sublk cannot name. */
int kublk_features(void)
{
	struct ublk_ctrl c;
	unsigned bit;

	cli_ctrl_open(&c);
	if (!c.has_get_features)
		die("the driver has no GET_FEATURES (older than Linux 6.5)");
	printf("ublk_drv features: 0x%llx\n", (unsigned long long)c.features);
	for (bit = 0; bit < 64; bit++) {
		const char *name = ublk_feature_name(bit);

		if (!(c.features & (1ULL << bit)))
			continue;
		printf("0x%-16llx: %s%s\n", 1ULL << bit, name ? "UBLK_F_" : "",
		       name ? name : "unknown");
	}
	ublk_ctrl_close(&c);
	return 0;
}

/* ADD_DEV, SET_PARAMS, DEL_DEV: whether the driver takes these parameters. */
int kublk_set_params(struct kublk_args *a)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl c;
	int ret, del;

	memset(&info, 0, sizeof(info));
	info.dev_id = a->id ? cli_dev_id(a->id) : (uint32_t)-1;
	info.nr_hw_queues = (uint16_t)cli_uint(a->queues, 1, UBLK_MAX_NR_QUEUES, "queue count");
	info.queue_depth = (uint16_t)cli_uint(a->depth, 1, UBLK_MAX_QUEUE_DEPTH, "queue depth");
	info.max_io_buf_bytes = SP_IO_BUF_BYTES;
	info.flags = a->flags | (a->user_copy ? UBLK_F_USER_COPY : 0);
	a->params.len = sizeof(a->params);
	cli_ctrl_open(&c);
	ret = ublk_ctrl_add_dev(&c, &info);
	if (ret < 0)
		die("ADD_DEV failed: %s", strerror(-ret));
	ret = ublk_ctrl_set_params(&c, info.dev_id, &a->params);
	printf("SET_PARAMS returned %d\n", ret);
	del = ublk_ctrl_del_dev(&c, info.dev_id);
	if (del < 0)
		warn("DEL_DEV of device %u failed: %s", info.dev_id, strerror(-del));
	ublk_ctrl_close(&c);
	return ret < 0 || del < 0;
}

