// SPDX-License-Identifier: MIT
/*
 * The run directory as the commands use it, and the one rule about
 * daemons: a pid is only signalled once it is proven to be the daemon of
 * the device (the saved start time, /dev/ublkcN held open), through a
 * pidfd opened before the proof, so the pid cannot be reused in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_rundir(int create)
{
	static int fd = -1;
	char why[320];

	if (fd >= 0)
		return fd;
	fd = rundir_open(cli_env()->run_dir, create, why, sizeof(why));
	if (fd == -ENOENT && !create)
		return -1;
	if (fd < 0) {
		fd = -1;
		die("%s", why);
	}
	return fd;
}

int cli_state_load(unsigned id, struct run_state *s)
{
	int dfd = cli_rundir(0);
	int ret;

	memset(s, 0, sizeof(*s));
	if (dfd < 0)
		return -ENOENT;
	ret = rs_load(dfd, id, s);
	if (ret < 0 && ret != -ENOENT)
		warn("device %u: ignoring its run state in %s: %s", id,
		     cli_env()->run_dir, strerror(-ret));
	return ret;
}

int cli_daemon_pidfd(unsigned id, pid_t pid)
{
	struct run_state s;
	int pidfd = -1;

	if (cli_state_load(id, &s) < 0)
		return -1;
	/* the kernel's pid, when it names one, must be the saved daemon */
	if ((pid <= 0 || pid == s.pid) && s.dev_id == id)
		pidfd = rs_daemon_pidfd(&s);
	rs_free(&s);
	return pidfd < 0 ? -1 : pidfd;
}

int cli_pidfd_signal(int pidfd, int sig)
{
	return rs_pidfd_signal(pidfd, sig);
}

int cli_pidfd_wait(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int ret;

	do
		ret = poll(&p, 1, ms);
	while (ret < 0 && errno == EINTR);
	return ret > 0;
}
