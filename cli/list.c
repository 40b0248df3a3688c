// SPDX-License-Identifier: MIT
/*
 * sublk list: the lines of ublksrv 1.8's `ublk list`, from the kernel's
 * view of each device plus what the run directory adds (queue threads,
 * target settings, data path).  -v prints one JSON array of objects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

struct list_dev {
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	struct run_state s;
	int have_state;
	int alive;		/* the saved daemon is running and proven ours */
};

static int list_load(struct ublk_ctrl *c, unsigned id, struct list_dev *d)
{
	int ret = ublk_ctrl_get_info(c, id, &d->info);
	int pidfd;

	if (ret < 0)
		return ret;
	if (ublk_ctrl_get_params(c, id, &d->p) < 0)
		memset(&d->p, 0, sizeof(d->p));
	d->have_state = cli_state_load(id, &d->s) == 0;
	pidfd = d->have_state ? cli_daemon_pidfd(id, d->info.ublksrv_pid) : -1;
	d->alive = pidfd >= 0;
	if (pidfd >= 0)
		close(pidfd);
	return 0;
}

static void print_cpus(const struct rs_queue *q, const char *sep)
{
	const char *s = "";
	unsigned cpu;

	for (cpu = 0; cpu < 1024; cpu++) {
		if (!(q->cpus[cpu / 64] & (1ULL << (cpu % 64))))
			continue;
		printf("%s%u", s, cpu);
		s = sep;
	}
}

/* The server threads, from the saved --nthreads: one per queue unless given. */
static unsigned list_threads(const struct list_dev *d)
{
	unsigned i;

	for (i = 0; i + 1 < d->s.nr_args; i++)
		if (!strcmp(d->s.args[i], "--nthreads"))
			return (unsigned)strtoul(d->s.args[i + 1], NULL, 10);
	return d->s.nr_queues;
}

/* How the threads share the queues, when not one per queue; or NULL. */
static const char *list_sharing(const struct list_dev *d, unsigned n)
{
	if (n == d->s.nr_queues)
		return NULL;
	if (!(d->info.flags & UBLK_F_BATCH_IO))
		return "per-I/O: each queue's tags dealt out among them";
	if (n > d->s.nr_queues)
		return "batch: each queue shared, its tid is its first thread";
	return "batch: each serves several queues";
}

static void list_json(const struct list_dev *d, unsigned id)
{
	const struct ublksrv_ctrl_dev_info *info = &d->info;
	const struct ublk_params *p = &d->p;
	unsigned i;

	printf("{\"dev_id\":%u,\"nr_hw_queues\":%u,\"queue_depth\":%u,"
	       "\"block_size\":%u,\"dev_capacity\":%llu,\"max_io_buf_bytes\":%u,"
	       "\"daemon_pid\":%d,\"daemon_alive\":%s,\"flags\":%llu,\"state\":\"%s\","
	       "\"ublkc\":\"%u:%u\",\"ublkb\":\"%u:%u\",\"owner\":\"%u:%u\","
	       "\"data_path\":",
	       id, info->nr_hw_queues, info->queue_depth,
	       1U << p->basic.logical_bs_shift,
	       (unsigned long long)p->basic.dev_sectors, info->max_io_buf_bytes,
	       (int)info->ublksrv_pid, d->alive ? "true" : "false",
	       (unsigned long long)info->flags, ublk_state_name(info->state),
	       p->devt.char_major, p->devt.char_minor, p->devt.disk_major,
	       p->devt.disk_minor, info->owner_uid, info->owner_gid);
	if (d->have_state && d->s.data_path)
		cli_json_str(d->s.data_path);
	else
		printf("null");
	printf(",\"queues\":[");
	for (i = 0; d->have_state && i < d->s.nr_queues; i++) {
		printf("%s{\"id\":%u,\"tid\":%d,\"affinity\":[", i ? "," : "", i,
		       d->s.queues[i].tid);
		print_cpus(&d->s.queues[i], ",");
		printf("]}");
	}
	printf("],\"threads\":");
	if (d->have_state)
		printf("%u", list_threads(d));
	else
		printf("null");
	printf(",\"target\":%s,\"name\":",
	       d->have_state && d->s.target ? d->s.target : "{}");
	if (d->have_state && d->s.name)
		cli_json_str(d->s.name);
	else
		printf("null");
	printf("}");
}

static void flag_names(uint64_t flags)
{
	unsigned bit;

	for (bit = 0; bit < 64; bit++) {
		const char *name = ublk_feature_name(bit);

		if (!(flags & (1ULL << bit)))
			continue;
		if (name)
			printf(" %s", name);
		else
			printf(" bit%u", bit);
	}
}

static void list_text(const struct list_dev *d, unsigned id)
{
	const struct ublksrv_ctrl_dev_info *info = &d->info;
	const struct ublk_params *p = &d->p;
	unsigned i;

	printf("dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity %llu\n",
	       id, info->nr_hw_queues, info->queue_depth,
	       1U << p->basic.logical_bs_shift,
	       (unsigned long long)p->basic.dev_sectors);
	printf("\tmax rq size %u daemon pid %d state %s%s\n",
	       info->max_io_buf_bytes, (int)info->ublksrv_pid,
	       ublk_state_name(info->state),
	       d->have_state && !d->alive ? " (daemon gone)" : "");
	printf("\tflags 0x%llx [", (unsigned long long)info->flags);
	flag_names(info->flags);
	printf(" ]\n");
	printf("\tublkc: %u:%u ublkb: %u:%u owner: %u:%u\n",
	       p->devt.char_major, p->devt.char_minor, p->devt.disk_major,
	       p->devt.disk_minor, info->owner_uid, info->owner_gid);
	for (i = 0; d->alive && i < d->s.nr_queues; i++) {
		printf("\tqueue %u: tid %d affinity(", i, d->s.queues[i].tid);
		print_cpus(&d->s.queues[i], " ");
		printf(")\n");
	}
	if (d->alive && list_sharing(d, list_threads(d)))
		printf("\tthreads %u (%s)\n", list_threads(d),
		       list_sharing(d, list_threads(d)));
	if (d->have_state && d->s.target)
		printf("\ttarget %s\n", d->s.target);
	if (d->have_state && d->s.data_path)
		printf("\tdata path: %s\n", d->s.data_path);
	if (d->have_state && d->s.name)
		printf("\tname %s\n", d->s.name);
}

static void list_print(struct list_dev *d, unsigned id, int verbose)
{
	if (verbose)
		list_json(d, id);
	else
		list_text(d, id);
	if (d->have_state)
		rs_free(&d->s);
}

int cli_list_dev(struct ublk_ctrl *c, unsigned id, int verbose)
{
	struct list_dev d;
	int ret;

	memset(&d, 0, sizeof(d));
	ret = list_load(c, id, &d);
	if (ret == 0)
		list_print(&d, id, verbose);
	return ret;
}

int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "number", 1, NULL, 'n' },
		{ "verbose", 0, NULL, 'v' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int verbose = 0, one = -1, n, i, c, shown = 0;
	struct ublk_ctrl ctrl;
	unsigned *ids;

	while ((c = cli_getopt(argc, argv, ":n:vh", longopts)) != -1) {
		if (c == 'n')
			one = (int)cli_dev_id(optarg);
		else if (c == 'v')
			verbose = 1;
	}
	cli_no_args(argc, argv);
	cli_ctrl_open(&ctrl);
	if (one >= 0) {
		struct ublksrv_ctrl_dev_info info;

		cli_get_info(&ctrl, (unsigned)one, &info);
		ids = malloc(sizeof(*ids));
		if (!ids)
			die("out of memory");
		ids[0] = (unsigned)one;
		n = 1;
	} else {
		n = cli_dev_ids(&ids);
	}
	if (verbose)
		printf("[");
	for (i = 0; i < n; i++) {
		struct list_dev d;

		memset(&d, 0, sizeof(d));
		/* a device that vanished since the directory was read is gone */
		if (list_load(&ctrl, ids[i], &d) < 0)
			continue;
		if (verbose)
			printf("%s\n", shown ? "," : "");
		list_print(&d, ids[i], verbose);
		shown++;
	}
	if (verbose)
		printf("%s]\n", shown ? "\n" : "");
	free(ids);
	ublk_ctrl_close(&ctrl);
	return 0;
}
