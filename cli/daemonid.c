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

static int rundir_fd = -1;
static int lock_fd = -1;

int cli_rundir(int create)
{
	int fd = rundir_fd;
	char why[320];

	if (fd >= 0)
		return fd;
	fd = rundir_open(cli_env()->run_dir, create, why, sizeof(why));
	if (fd == -ENOENT && !create)
		return -1;
	if (fd < 0)
		die("%s", why);
	rundir_fd = fd;
	return fd;
}

void cli_rundir_close(void)
{
	if (rundir_fd >= 0)
		close(rundir_fd);
	rundir_fd = -1;
}

void cli_lock(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int ret;

	if (lock_fd >= 0)
		return;
	lock_fd = openat(cli_rundir(1), ".lock", O_RDWR | O_CREAT | O_NOFOLLOW |
			 O_CLOEXEC, 0600);
	if (lock_fd < 0)
		die("cannot open %s/.lock: %s", cli_env()->run_dir, strerror(errno));
	do
		ret = fcntl(lock_fd, F_SETLKW, &fl);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		die("cannot lock %s/.lock: %s", cli_env()->run_dir, strerror(errno));
}

void cli_lock_forget(void)
{
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
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
