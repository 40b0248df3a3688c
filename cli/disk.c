// SPDX-License-Identifier: MIT
/*
 * The disk /dev/ublkbN as the rest of the system sees it: its name link
 * /dev/sublk/NAME (made here where no udev runs; a udev rule calling
 * `sublk name %k` makes the same link where one does), and who holds it
 * (mounts and stacked devices), for kernels without TRY_STOP_DEV.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cli.h"

#define DISK_MAX_PARTS	64	/* partitions looked at per disk */

int disk_udev_running(void)
{
	return access("/run/udev/control", F_OK) == 0;
}

/* Write @value to attribute @attr of the disk's sysfs directory. */
static int disk_write_attr(unsigned id, const char *attr, const char *value)
{
	char path[80];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/class/block/ublkb%u/%s", id, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int disk_uevent(unsigned id, const char *action)
{
	return disk_write_attr(id, "uevent", action);
}

int disk_set_scheduler(unsigned id, const char *name)
{
	return disk_write_attr(id, "queue/scheduler", name);
}

/* The device a link names if it is one of ours ("../ublkbN"), or -1. */
static long link_dev(const char *target)
{
	unsigned long id;

	if (strncmp(target, "../ublkb", 8) ||
	    opts_parse_uint(target + 8, UBLK_MAX_UBLKS - 1, &id) < 0)
		return -1;
	return (long)id;
}

/*
 * /dev/sublk as an fd, if it is a directory that only its owner, the
 * caller, can change; made when @create.
 */
static int link_dir(int create)
{
	struct stat st;
	int fd;

	if (create && mkdir(DISK_LINK_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(DISK_LINK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* The device of our link @name; -ENOENT: none; -EEXIST: something else is there. */
static long read_link(int dfd, const char *name)
{
	char target[64];
	ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
	long id;

	if (n < 0)
		return errno == EINVAL ? -EEXIST : -errno;	/* EINVAL: not a link */
	target[n] = 0;
	id = link_dev(target);
	return id < 0 ? -EEXIST : id;
}

long disk_link_read(const char *name)
{
	int dfd = open(DISK_LINK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	long id;

	if (dfd < 0)
		return -1;
	id = read_link(dfd, name);
	close(dfd);
	return id < 0 ? -1 : id;
}

int disk_link_make(const char *name, unsigned id)
{
	char target[32], tmp[RS_MAX_NAME + 32];
	int dfd, ret, try;
	long now;

	if (!rs_name_valid(name, strlen(name)))
		return -EINVAL;
	dfd = link_dir(1);
	if (dfd < 0)
		return dfd;
	now = read_link(dfd, name);
	if (now == (long)id) {
		ret = 0;
		goto out;
	}
	/* anything but our own link to another device is not ours to replace */
	if (now < 0 && now != -ENOENT) {
		ret = (int)now;
		goto out;
	}
	snprintf(target, sizeof(target), "../ublkb%u", id);
	for (try = 0;; try++) {
		snprintf(tmp, sizeof(tmp), ".%s.%d.%d", name, (int)getpid(), try);
		if (symlinkat(target, dfd, tmp) == 0)
			break;
		if (errno != EEXIST || try == 16) {
			ret = -errno;
			goto out;
		}
	}
	/* rename replaces our old link in one step and never follows it */
	ret = renameat(dfd, tmp, dfd, name) < 0 ? -errno : 0;
	if (ret < 0)
		unlinkat(dfd, tmp, 0);
out:
	close(dfd);
	return ret;
}

int disk_link_remove(const char *name, unsigned id)
{
	int dfd, ret = 0;

	if (!rs_name_valid(name, strlen(name)))
		return -EINVAL;
	dfd = link_dir(0);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	if (read_link(dfd, name) == (long)id && unlinkat(dfd, name, 0) < 0 &&
	    errno != ENOENT)
		ret = -errno;
	close(dfd);
	return ret;
}

/* "MAJ:MIN" at @s (sysfs, mountinfo), then @end; 0 if it is not one. */
static dev_t parse_devt(const char *s, char end)
{
	unsigned long maj, min;
	char *p;

	if (*s < '0' || *s > '9')
		return 0;
	maj = strtoul(s, &p, 10);
	if (*p != ':' || p[1] < '0' || p[1] > '9')
		return 0;
	min = strtoul(p + 1, &p, 10);
	return *p == end ? makedev(maj, min) : 0;
}

/* "MAJ:MIN\n" from sysfs; 0 if it cannot be read. */
static dev_t read_devt(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return parse_devt(buf, '\n');
}

/* 1 if the directory @path has an entry but . and .. */
static int dir_has_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int ret = 0;

	if (!d)
		return 0;
	while (!ret && (de = readdir(d)))
		ret = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return ret;
}

/*
 * The disk's dev_t and its partitions' in @devs; the count, 0 when there
 * is no disk.  With @held set to 1 if one of them has holders (dm, md).
 */
static int disk_devs(unsigned id, dev_t *devs, int max, int *held)
{
	char dir[48], path[320];
	struct dirent *de;
	int n = 0;
	DIR *d;

	*held = 0;
	snprintf(dir, sizeof(dir), "/sys/block/ublkb%u", id);
	snprintf(path, sizeof(path), "%s/dev", dir);
	devs[0] = read_devt(path);
	if (!devs[0])
		return 0;
	n = 1;
	snprintf(path, sizeof(path), "%s/holders", dir);
	*held = dir_has_entries(path);
	d = opendir(dir);
	if (!d)
		return n;
	/* partitions are subdirectories named ublkbNpM */
	snprintf(path, sizeof(path), "ublkb%up", id);
	while (n < max && (de = readdir(d))) {
		char part[320];

		if (strncmp(de->d_name, path, strlen(path)))
			continue;
		snprintf(part, sizeof(part), "%s/%.64s/dev", dir, de->d_name);
		devs[n] = read_devt(part);
		if (!devs[n])
			continue;
		n++;
		snprintf(part, sizeof(part), "%s/%.64s/holders", dir, de->d_name);
		*held |= dir_has_entries(part);
	}
	closedir(d);
	return n;
}

/* mountinfo escapes blanks, newlines and backslashes as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* All of a /proc file, whose size is not known before; malloc'd, NUL-ended. */
static char *read_proc(const char *path)
{
	size_t cap = 16384, len = 0;
	char *buf = NULL, *nb;
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		if (!buf || cap - len < 2) {
			nb = realloc(buf, buf ? cap *= 2 : cap);
			if (!nb)
				break;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf || n != 0) {
		free(buf);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

int disk_mounts(unsigned id, void (*fn)(const char *mnt, void *ctx), void *ctx)
{
	dev_t devs[1 + DISK_MAX_PARTS];
	char *text, *line, *next, *p, *mnt;
	int n, held, i, found = 0;
	dev_t dev;

	n = disk_devs(id, devs, 1 + DISK_MAX_PARTS, &held);
	if (!n)
		return 0;
	text = read_proc("/proc/self/mountinfo");
	if (!text)
		return -EIO;
	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		p = line;
		for (i = 0; i < 2 && p; i++)
			p = strchr(p + 1, ' ');
		if (!p || !(dev = parse_devt(p + 1, ' ')))
			continue;
		for (i = 0; i < n && devs[i] != dev; i++)
			;
		if (i == n)
			continue;
		p = strchr(p + 1, ' ');
		mnt = p ? strchr(p + 1, ' ') : NULL;
		if (!mnt)
			continue;
		mnt++;
		p = strchr(mnt, ' ');
		if (p)
			*p = 0;
		unescape(mnt);
		found++;
		if (fn)
			fn(mnt, ctx);
	}
	free(text);
	return found;
}

int disk_in_use(unsigned id)
{
	dev_t devs[1 + DISK_MAX_PARTS];
	int held;

	if (!disk_devs(id, devs, 1 + DISK_MAX_PARTS, &held))
		return 0;
	return held || disk_mounts(id, NULL, NULL) > 0;
}
