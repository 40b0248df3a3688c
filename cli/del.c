// SPDX-License-Identifier: MIT
/*
 * sublk del: STOP_DEV (every fetch is aborted, so the daemon's queues end
 * and it exits), wait for the daemon, then DEL_DEV.  Several devices are
 * stopped first and deleted after, so they go down together.  A device
 * that fails does not stop the others; the exit status says one failed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DAEMON_EXIT_WAIT_MS	10000

struct del_dev {
	unsigned id;
	int unpriv;		/* its commands carry /dev/ublkcN */
	int pidfd;		/* its daemon, proven ours; -1: none to wait for */
	int failed;
};

/* Commands on device @d: the control ring must know if it is unprivileged. */
static void del_target(struct ublk_ctrl *c, const struct del_dev *d)
{
	c->unpriv_id = d->unpriv ? (int)d->id : -1;
}

static void del_stop(struct ublk_ctrl *c, struct del_dev *d, int all)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	d->pidfd = -1;
	ret = ublk_ctrl_get_info(c, d->id, &info);
	if (ret < 0) {
		/* with -a, a device that vanished meanwhile is simply gone */
		d->failed = !(all && (ret == -ENOENT || ret == -ENODEV));
		if (ret == -ENOENT || ret == -ENODEV) {
			if (!all)
				warn("device %u does not exist", d->id);
		} else if (ret == -EPERM || ret == -EACCES)
			warn("device %u: permission denied (another user's device?)", d->id);
		else
			warn("device %u: GET_DEV_INFO: %s", d->id, strerror(-ret));
		return;
	}
	d->unpriv = !!(info.flags & UBLK_F_UNPRIVILEGED_DEV);
	d->pidfd = cli_daemon_pidfd(d->id, info.ublksrv_pid);
	del_target(c, d);
	/*
	 * STOP_DEV waits for every request the daemon holds: SIGUSR2 tells
	 * it to let go of those it would hold for long (an nbd server that
	 * is gone).
	 */
	if (d->pidfd >= 0)
		cli_pidfd_signal(d->pidfd, SIGUSR2);
	ret = ublk_ctrl_stop_dev(c, d->id);
	if (ret < 0) {
		warn("device %u: STOP_DEV: %s", d->id, strerror(-ret));
		d->failed = 1;
	}
}

/* The daemon exits once its queues end; one that hangs is killed. */
static void del_wait_daemon(struct del_dev *d)
{
	if (d->pidfd < 0 || cli_pidfd_wait(d->pidfd, DAEMON_EXIT_WAIT_MS))
		return;
	warn("device %u: its daemon did not exit; killing it", d->id);
	cli_pidfd_signal(d->pidfd, SIGKILL);
	cli_pidfd_wait(d->pidfd, 5000);
}

static void del_finish(struct ublk_ctrl *c, struct del_dev *d, int async)
{
	int ret;

	if (d->pidfd >= 0)
		close(d->pidfd);
	if (d->failed)
		return;
	del_target(c, d);
	ret = async ? ublk_ctrl_del_dev_async(c, d->id) : ublk_ctrl_del_dev(c, d->id);
	if (ret == -EOPNOTSUPP && async)
		warn("--async needs DEL_DEV_ASYNC (Linux 6.13 or newer)");
	else if (ret < 0 && ret != -ENOENT && ret != -ENODEV)
		warn("device %u: DEL_DEV: %s", d->id, strerror(-ret));
	if (ret < 0 && ret != -ENOENT && ret != -ENODEV) {
		d->failed = 1;
		return;
	}
	if (cli_rundir(0) >= 0)
		rundir_unlink(cli_rundir(0), d->id);
}

/* The -n ids, each once, in the order given. */
static int add_id(struct del_dev **devs, int n, unsigned id)
{
	struct del_dev *nd;
	int i;

	for (i = 0; i < n; i++)
		if ((*devs)[i].id == id)
			return n;
	nd = realloc(*devs, (size_t)(n + 1) * sizeof(**devs));
	if (!nd)
		die("out of memory");
	memset(&nd[n], 0, sizeof(nd[n]));
	nd[n].id = id;
	*devs = nd;
	return n + 1;
}

int cmd_del(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "number", 1, NULL, 'n' },
		{ "all", 0, NULL, 'a' },
		{ "async", 0, NULL, 'A' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct del_dev *devs = NULL;
	unsigned *ids;
	int all = 0, async = 0, n = 0, i, c, failed = 0;
	struct ublk_ctrl ctrl;

	while ((c = cli_getopt(argc, argv, ":n:ah", longopts)) != -1) {
		if (c == 'n')
			n = add_id(&devs, n, cli_dev_id(optarg));
		else if (c == 'a')
			all = 1;
		else if (c == 'A')
			async = 1;
	}
	cli_no_args(argc, argv);
	if (all == !!n)
		die_usage("give -n ID or -a");

	cli_ctrl_open(&ctrl);
	if (all) {
		int nr = cli_dev_ids(&ids);

		for (i = 0; i < nr; i++)
			n = add_id(&devs, n, ids[i]);
		free(ids);
	}
	for (i = 0; i < n; i++)
		del_stop(&ctrl, &devs[i], all);
	for (i = 0; i < n; i++)
		del_wait_daemon(&devs[i]);
	for (i = 0; i < n; i++) {
		del_finish(&ctrl, &devs[i], async);
		failed |= devs[i].failed;
	}
	ublk_ctrl_close(&ctrl);
	free(devs);
	return failed;
}
