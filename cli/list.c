// SPDX-License-Identifier: MIT
/*
 * sublk list: the same lines as ublksrv's `ublk list`, from the kernel's
 * view of each device plus what the run directory adds (queue threads,
 * target settings).  -v prints one JSON object per device instead.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The char devices name every device, started or not: sysfs, else /dev. */
int cli_dev_ids(unsigned *ids, int max)
{
	DIR *dir = opendir("/sys/class/ublk-char");
	struct dirent *de;
	int n = 0;

	if (!dir)
		dir = opendir("/dev");
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max)
		if (!strncmp(de->d_name, "ublkc", 5))
			ids[n++] = (unsigned)atoi(de->d_name + 5);
	closedir(dir);
	qsort(ids, (size_t)n, sizeof(*ids), cmp_uint);
	return n;
}

static void flag_names(uint64_t flags, char *buf, size_t len)
{
	size_t n = 0;
	unsigned bit;

	buf[0] = 0;
	for (bit = 0; bit < 64 && n + 1 < len; bit++) {
		const char *name;

		if (!(flags & (1ULL << bit)))
			continue;
		name = ublk_feature_name(bit);
		if (name)
			n += snprintf(buf + n, len - n, "%s%s", n ? " " : "", name);
		else
			n += snprintf(buf + n, len - n, "%sbit%u", n ? " " : "", bit);
	}
}

/* Daemon pid as the kernel says, or the run directory when it says none. */
static pid_t dev_daemon(const struct ublksrv_ctrl_dev_info *info, unsigned id,
			int *stale)
{
	pid_t pid = info->ublksrv_pid > 0 ? info->ublksrv_pid : rundir_pid(id);

	*stale = pid > 0 && !pid_alive(pid);
	return pid > 0 ? pid : -1;
}

static void list_json(const struct ublksrv_ctrl_dev_info *info,
		      const struct ublk_params *p, unsigned id)
{
	char target[1024] = "{}", q[600];
	int stale;
	pid_t pid = dev_daemon(info, id, &stale);
	unsigned i;

	rundir_get(id, "target", target, sizeof(target));
	printf("{\"dev_id\":%u,\"nr_hw_queues\":%u,\"queue_depth\":%u,"
	       "\"block_size\":%u,\"dev_capacity\":%llu,\"max_io_buf_bytes\":%u,"
	       "\"daemon_pid\":%d,\"daemon_alive\":%s,\"flags\":%llu,\"state\":\"%s\","
	       "\"ublkc\":\"%u:%u\",\"ublkb\":\"%u:%u\",\"owner\":\"%u:%u\","
	       "\"queues\":[",
	       id, info->nr_hw_queues, info->queue_depth,
	       1U << p->basic.logical_bs_shift,
	       (unsigned long long)p->basic.dev_sectors, info->max_io_buf_bytes,
	       (int)pid, (pid > 0 && !stale) ? "true" : "false",
	       (unsigned long long)info->flags, ublk_state_name(info->state),
	       p->devt.char_major, p->devt.char_minor, p->devt.disk_major,
	       p->devt.disk_minor, info->owner_uid, info->owner_gid);
	for (i = 0; i < info->nr_hw_queues; i++) {
		char key[32], *cpus;
		int tid = -1;

		snprintf(key, sizeof(key), "queue %u", i);
		cpus = q;
		if (rundir_get(id, key, q, sizeof(q)) == 0) {
			tid = atoi(q);
			cpus = strchr(q, ' ');
			cpus = cpus ? cpus + 1 : q + strlen(q);
		} else {
			q[0] = 0;
		}
		printf("%s{\"id\":%u,\"tid\":%d,\"affinity\":[", i ? "," : "", i, tid);
		for (char *t = strtok(cpus, " "), *sep = ""; t; t = strtok(NULL, " "), sep = ",")
			printf("%s%s", sep, t);
		printf("]}");
	}
	printf("],\"target\":%s}\n", target);
}

int cli_list_dev(struct ublk_ctrl *c, unsigned id, int verbose)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char names[600], buf[1024];
	unsigned i;
	pid_t pid;
	int ret, stale;

	ret = ublk_ctrl_get_info(c, id, &info);
	if (ret < 0)
		return ret;
	ret = ublk_ctrl_get_params(c, id, &p);
	if (ret < 0)
		memset(&p, 0, sizeof(p));
	if (verbose) {
		list_json(&info, &p, id);
		return 0;
	}
	pid = dev_daemon(&info, id, &stale);
	flag_names(info.flags, names, sizeof(names));
	printf("dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity %llu\n",
	       id, info.nr_hw_queues, info.queue_depth,
	       1U << p.basic.logical_bs_shift,
	       (unsigned long long)p.basic.dev_sectors);
	printf("\tmax rq size %u daemon pid %d%s flags 0x%llx [%s] state %s\n",
	       info.max_io_buf_bytes, (int)pid, stale ? " (gone)" : "",
	       (unsigned long long)info.flags, names,
	       ublk_state_name(info.state));
	printf("\tublkc: %u:%u ublkb: %u:%u owner: %u:%u\n",
	       p.devt.char_major, p.devt.char_minor, p.devt.disk_major,
	       p.devt.disk_minor, info.owner_uid, info.owner_gid);
	for (i = 0; i < info.nr_hw_queues; i++) {
		char key[32], *cpus;

		snprintf(key, sizeof(key), "queue %u", i);
		if (stale || rundir_get(id, key, buf, sizeof(buf)) < 0)
			continue;
		cpus = strchr(buf, ' ');
		printf("\tqueue %u: tid %d affinity(%s)\n", i, atoi(buf),
		       cpus ? cpus + 1 : "");
	}
	if (rundir_get(id, "target", buf, sizeof(buf)) == 0)
		printf("\ttarget %s\n", buf);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "number", 1, NULL, 'n' },
		{ "verbose", 0, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned ids[1024];
	unsigned long id;
	int verbose = 0, one = -1, n, i, c;
	struct ublk_ctrl ctrl;

	optind = 0;
	while ((c = getopt_long(argc, argv, "n:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (opts_parse_uint(optarg, UBLK_MAX_UBLKS - 1, &id) < 0)
				die("list: bad device id '%s'", optarg);
			one = (int)id;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			die("usage: sublk list [-n ID] [-v]");
		}
	}
	cli_ctrl_open(&ctrl);
	if (one >= 0) {
		if (cli_list_dev(&ctrl, (unsigned)one, verbose) < 0)
			die("list: device %d does not exist", one);
	} else {
		n = cli_dev_ids(ids, 1024);
		for (i = 0; i < n; i++)
			cli_list_dev(&ctrl, ids[i], verbose);
	}
	ublk_ctrl_close(&ctrl);
	return 0;
}
