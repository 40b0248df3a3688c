// SPDX-License-Identifier: MIT
/*
 * sublk del: STOP_DEV (every fetch is aborted, so the daemon's queues end
 * and it exits), wait for the daemon, then DEL_DEV.  Several devices are
 * stopped first and deleted after, so they go down together.  A device
 * that fails does not stop the others; the exit status says one failed.
 * `down` comes here too, asking to leave a disk in use alone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DAEMON_EXIT_WAIT_MS	10000

#define TRY_STOP_BUSY_MS	1000	/* a brief open (blkid, udev) is not a user */

struct del_dev {
	unsigned id;
	int unpriv;		/* its commands carry /dev/ublkcN */
	int pidfd;		/* its daemon, proven ours; -1: none to wait for */
	int failed;
	char name[RS_MAX_NAME + 1];	/* the table's name, from its run state */
};

/* Commands on device @d: the control ring must know if it is unprivileged. */
static void del_target(struct ublk_ctrl *c, const struct del_dev *d)
{
	c->unpriv_id = d->unpriv ? (int)d->id : -1;
}

/*
 * STOP_DEV unless the disk is open: TRY_STOP_DEV where the driver has it
 * (it also keeps new openers out), else a look at its mounts and holders.
 * -EBUSY if it is in use.
 */
static int stop_unless_busy(struct ublk_ctrl *c, unsigned id)
{
	int ret, ms;

	if (!(c->features & UBLK_F_SAFE_STOP_DEV))
		return disk_in_use(id) ? -EBUSY : ublk_ctrl_stop_dev(c, id);
	for (ms = 0;; ms += 100) {
		ret = ublk_ctrl_try_stop_dev(c, id);
		if (ret != -EBUSY || ms >= TRY_STOP_BUSY_MS)
			break;
		usleep(100000);
	}
	/* no disk (never started, or stopped): nobody can hold it */
	return ret == -ENODEV ? ublk_ctrl_stop_dev(c, id) : ret;
}

static void del_stop(struct ublk_ctrl *c, struct del_dev *d, unsigned flags)
{
	struct ublksrv_ctrl_dev_info info;
	struct run_state s;
	int ret;

	d->pidfd = -1;
	ret = ublk_ctrl_get_info(c, d->id, &info);
	if (ret < 0) {
		/* with -a, a device that vanished meanwhile is simply gone */
		d->failed = !((flags & DEL_ALL) && (ret == -ENOENT || ret == -ENODEV));
		if (ret == -ENOENT || ret == -ENODEV) {
			if (!(flags & DEL_ALL))
				warn("device %u does not exist", d->id);
		} else if (ret == -EPERM || ret == -EACCES)
			warn("device %u: permission denied (another user's device?)", d->id);
		else
			warn("device %u: GET_DEV_INFO: %s", d->id, strerror(-ret));
		return;
	}
	if (cli_state_load(d->id, &s) == 0) {
		if (s.name)
			snprintf(d->name, sizeof(d->name), "%s", s.name);
		rs_free(&s);
	}
	d->unpriv = !!(info.flags & UBLK_F_UNPRIVILEGED_DEV);
	/* before the stop: the daemon, once stopped, lets go of /dev/ublkcN */
	d->pidfd = cli_daemon_pidfd(d->id, info.ublksrv_pid);
	del_target(c, d);
	/*
	 * STOP_DEV waits for every request the daemon holds: SIGUSR2 tells
	 * it to let go of those it would hold for long (an nbd server that
	 * is gone).
	 */
	if (d->pidfd >= 0)
		cli_pidfd_signal(d->pidfd, SIGUSR2);
	if ((flags & DEL_SAFE) && info.state != UBLK_S_DEV_DEAD) {
		ret = stop_unless_busy(c, d->id);
		if (ret == -EBUSY) {
			if (d->pidfd >= 0)
				close(d->pidfd);
			d->pidfd = -1;
			if (d->name[0])
				warn("device %u (%s) is in use; not taking it down",
				     d->id, d->name);
			else
				warn("device %u is in use; not taking it down", d->id);
			d->failed = 1;
			return;
		}
	} else {
		ret = ublk_ctrl_stop_dev(c, d->id);
	}
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

static void del_finish(struct ublk_ctrl *c, struct del_dev *d, unsigned flags)
{
	int async = !!(flags & (DEL_ASYNC | DEL_FORCE)), ret;

	if (d->pidfd >= 0)
		close(d->pidfd);
	if (d->failed)
		return;
	del_target(c, d);
	ret = async ? ublk_ctrl_del_dev_async(c, d->id) : ublk_ctrl_del_dev(c, d->id);
	/* forced, before 6.13: DEL_DEV, which waits for the disk's last user */
	if (ret == -EOPNOTSUPP && (flags & DEL_FORCE))
		ret = ublk_ctrl_del_dev(c, d->id);
	if (ret == -EOPNOTSUPP && async)
		warn("--async needs DEL_DEV_ASYNC (Linux 6.13 or newer)");
	else if (ret < 0 && ret != -ENOENT && ret != -ENODEV)
		warn("device %u: DEL_DEV: %s", d->id, strerror(-ret));
	if (ret < 0 && ret != -ENOENT && ret != -ENODEV) {
		d->failed = 1;
		return;
	}
	if (d->name[0])
		disk_link_remove(d->name, d->id);
	if (cli_rundir(0) >= 0)
		rundir_unlink(cli_rundir(0), d->id);
}

/* The -n ids, each once, in the order given. */
static int add_id(unsigned **ids, int n, unsigned id)
{
	unsigned *nids;
	int i;

	for (i = 0; i < n; i++)
		if ((*ids)[i] == id)
			return n;
	nids = realloc(*ids, (size_t)(n + 1) * sizeof(**ids));
	if (!nids)
		die("out of memory");
	nids[n] = id;
	*ids = nids;
	return n + 1;
}

int cli_del(const unsigned *ids, int n, unsigned flags, int *failed_each)
{
	struct del_dev *devs;
	struct ublk_ctrl ctrl;
	int i, failed = 0;

	if (!n)
		return 0;
	devs = calloc((size_t)n, sizeof(*devs));
	if (!devs)
		die("out of memory");
	for (i = 0; i < n; i++)
		devs[i].id = ids[i];
	cli_ctrl_open(&ctrl);
	for (i = 0; i < n; i++)
		del_stop(&ctrl, &devs[i], flags);
	for (i = 0; i < n; i++)
		del_wait_daemon(&devs[i]);
	for (i = 0; i < n; i++) {
		del_finish(&ctrl, &devs[i], flags);
		failed |= devs[i].failed;
		if (failed_each)
			failed_each[i] = devs[i].failed;
	}
	ublk_ctrl_close(&ctrl);
	free(devs);
	return failed;
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
	unsigned *ids = NULL, *all_ids;
	int all = 0, async = 0, n = 0, nr, i, c, ret;

	while ((c = cli_getopt(argc, argv, ":n:ah", longopts)) != -1) {
		if (c == 'n')
			n = add_id(&ids, n, cli_dev_id(optarg));
		else if (c == 'a')
			all = 1;
		else if (c == 'A')
			async = 1;
	}
	cli_no_args(argc, argv);
	if (all == !!n)
		die_usage("give -n ID or -a");
	if (all) {
		nr = cli_dev_ids(&all_ids);
		for (i = 0; i < nr; i++)
			n = add_id(&ids, n, all_ids[i]);
		free(all_ids);
	}
	ret = cli_del(ids, n, (all ? DEL_ALL : 0) | (async ? DEL_ASYNC : 0), NULL);
	free(ids);
	return ret;
}
