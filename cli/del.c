// SPDX-License-Identifier: MIT
/*
 * sublk del: STOP_DEV (every fetch is aborted, so the daemon's queues end
 * and it exits), wait for the daemon, then DEL_DEV.  With -a all devices
 * are stopped first and deleted after, so they go down together.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DAEMON_EXIT_WAIT_MS	10000

static pid_t del_stop(struct ublk_ctrl *c, unsigned id)
{
	struct ublksrv_ctrl_dev_info info;
	pid_t pid;
	int ret;

	ret = ublk_ctrl_get_info(c, id, &info);
	if (ret < 0)
		return ret;
	pid = info.ublksrv_pid > 0 ? info.ublksrv_pid : rundir_pid(id);
	ret = ublk_ctrl_stop_dev(c, id);
	if (ret < 0)
		fprintf(stderr, "sublk: del: dev %u: STOP_DEV: %s\n", id,
			strerror(-ret));
	return pid > 0 ? pid : 0;
}

/* The daemon exits once its queues end; one that hangs is killed. */
static void del_wait_daemon(unsigned id, pid_t pid)
{
	int ms;

	if (pid <= 0)
		return;
	for (ms = 0; ms < DAEMON_EXIT_WAIT_MS && pid_alive(pid); ms += 20)
		usleep(20000);
	if (!pid_alive(pid))
		return;
	fprintf(stderr, "sublk: del: dev %u: daemon %d did not exit; killing it\n",
		id, (int)pid);
	kill(pid, SIGKILL);
	for (ms = 0; ms < 5000 && pid_alive(pid); ms += 20)
		usleep(20000);
}

static int del_finish(struct ublk_ctrl *c, unsigned id, int async)
{
	int ret = async ? ublk_ctrl_del_dev_async(c, id) : ublk_ctrl_del_dev(c, id);

	if (ret == -EOPNOTSUPP && async)
		fprintf(stderr, "sublk: del: --async needs DEL_DEV_ASYNC (Linux 6.13 or newer)\n");
	else if (ret < 0)
		fprintf(stderr, "sublk: del: dev %u: DEL_DEV: %s\n", id,
			strerror(-ret));
	else
		rundir_remove(id);
	return ret;
}

int cmd_del(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "number", 1, NULL, 'n' },
		{ "all", 0, NULL, 'a' },
		{ "async", 0, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned ids[1024];
	pid_t pids[1024];
	unsigned long id;
	int all = 0, async = 0, n = 0, i, c, failed = 0;
	struct ublk_ctrl ctrl;

	optind = 0;
	while ((c = getopt_long(argc, argv, "n:a", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (opts_parse_uint(optarg, UBLK_MAX_UBLKS - 1, &id) < 0)
				die("del: bad device id '%s'", optarg);
			ids[n++] = (unsigned)id;
			break;
		case 'a':
			all = 1;
			break;
		case 'A':
			async = 1;
			break;
		default:
			die("usage: sublk del -n ID | -a [--async]");
		}
	}
	if (!all && !n)
		die("usage: sublk del -n ID | -a [--async]");

	cli_ctrl_open(&ctrl);
	if (all)
		n = cli_dev_ids(ids, 1024);
	for (i = 0; i < n; i++) {
		pids[i] = del_stop(&ctrl, ids[i]);
		if (pids[i] < 0) {
			ublk_ctrl_close(&ctrl);
			die("del: device %u does not exist", ids[i]);
		}
	}
	for (i = 0; i < n; i++)
		del_wait_daemon(ids[i], pids[i]);
	for (i = 0; i < n; i++)
		if (del_finish(&ctrl, ids[i], async) < 0)
			failed = 1;
	ublk_ctrl_close(&ctrl);
	return failed;
}
