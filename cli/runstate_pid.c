// SPDX-License-Identifier: MIT
/*
 * Is the saved pid still our daemon?  A pid is reused once its process is
 * gone, so a pid alone may name anyone: signal it only if the process has
 * the start time saved with the pid and holds the device's /dev/ublkcN.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "runstate.h"

/* the same on every architecture since Linux 5.1 */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal	424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif

#define STAT_STARTTIME	22	/* field of /proc/PID/stat, proc(5) */

/* /proc/@pid/stat's state letter and start time. */
static int proc_stat(int pid, char *state, uint64_t *start)
{
	char path[32], buf[1024], *p, *end;
	uint64_t v = 0;
	int fd, field;
	ssize_t n;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* one read: the kernel makes the whole line at once */
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	end = buf + n;
	*end = 0;
	/* comm (field 2) may hold anything but NUL: it ends at the last ')' */
	for (p = end; p > buf && p[-1] != ')'; p--)
		;
	if (p == buf || end - p < 2 || p[0] != ' ')
		return -EINVAL;
	*state = p[1];
	for (field = 3; field < STAT_STARTTIME; field++) {
		p = memchr(p + 1, ' ', (size_t)(end - p - 1));
		if (!p)
			return -EINVAL;
	}
	for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == end || *p != ' ' || p[-1] == ' ')
		return -EINVAL;
	*start = v;
	return 0;
}

int proc_start_time(int pid, uint64_t *start)
{
	char state;

	return proc_stat(pid, &state, start);
}

/* A char device is the same device under any node; anything else, the same inode. */
static int same_file(const struct stat *a, const struct stat *b)
{
	if (S_ISCHR(a->st_mode))
		return S_ISCHR(b->st_mode) && a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int proc_holds_path(int pid, const char *path)
{
	char dir[32], link[PATH_MAX];
	size_t len = strlen(path);
	struct stat want, st;
	struct dirent *de;
	int fd, ret = 0;
	ssize_t n;
	DIR *d;

	if (pid <= 0)
		return -EINVAL;
	if (stat(path, &want) < 0)
		return -errno;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/*
		 * The name first: it costs no call into the file's filesystem
		 * (a stat of a hung FUSE file would hang); then the file itself,
		 * so that another file of that name does not pass.  The name
		 * may end in @path only: a daemon in a mount namespace of its
		 * own, seen from a chroot, holds "/CHROOT/dev/ublkcN".
		 */
		n = readlinkat(fd, de->d_name, link, sizeof(link));
		if (n < 0 || (size_t)n < len || memcmp(link + n - len, path, len) ||
		    ((size_t)n > len && path[0] != '/'))
			continue;
		if (fstatat(fd, de->d_name, &st, 0) == 0 && same_file(&want, &st)) {
			ret = 1;
			break;
		}
	}
	closedir(d);
	return ret;
}

static int is_ours(const struct run_state *s, char *state, uint64_t *start)
{
	return proc_stat(s->pid, state, start) == 0 && *start == s->pid_start &&
	       *state != 'Z' && *state != 'X' && *state != 'x';
}

int rs_daemon_is_ours_path(const struct run_state *s, const char *path)
{
	uint64_t start;
	char state;

	if (!is_ours(s, &state, &start) || proc_holds_path(s->pid, path) != 1)
		return 0;
	/* the fds read were its own only if it is still the same process */
	return is_ours(s, &state, &start);
}

int rs_daemon_is_ours(const struct run_state *s)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/ublkc%u", s->dev_id);
	return rs_daemon_is_ours_path(s, path);
}

int rs_pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int rs_daemon_pidfd_path(const struct run_state *s, const char *path)
{
	int fd;

	if (s->pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (fd < 0)
		/* EINVAL: a thread's id, not a process's */
		return errno == EINVAL ? -ESRCH : -errno;
	/*
	 * The pidfd names the process that had the pid before the checks; if
	 * it still exists after them, the pid was never freed meanwhile, so
	 * the checks were of that process.
	 */
	if (!rs_daemon_is_ours_path(s, path) || rs_pidfd_signal(fd, 0) < 0) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int rs_daemon_pidfd(const struct run_state *s)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/ublkc%u", s->dev_id);
	return rs_daemon_pidfd_path(s, path);
}
