// SPDX-License-Identifier: MIT
/*
 * The run directory and the files in it.  The directory is used only if
 * no other user could have put anything there, every file is reached
 * through its fd with O_NOFOLLOW, and every write goes to a new file of an
 * unguessable name made with O_EXCL that is then renamed into place: a
 * symlink planted in the directory is replaced, never written through.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "runstate.h"

#define TMP_SUFFIX_LEN	(1 + 16 + 4)	/* ".%016llx.tmp" */
#define TMP_TRIES	16

static int errmsg(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/*
 * Read all of @fd, a file of @size bytes, into @buf (@size + 1 bytes): one
 * byte more than its size is asked for, so a file that grew meanwhile is
 * refused (-EFBIG), not cut.  The bytes read, or -errno.
 */
ssize_t rs_read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got <= size) {
		n = read(fd, buf + got, size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		got += (size_t)n;
	}
	return got > size ? -EFBIG : (ssize_t)got;
}

/* Each missing parent 0755, then the directory itself 0700. */
static int mkdir_parents(char *path)
{
	char *p;

	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int rundir_open(const char *dir, int create, char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);
	struct stat st;
	int fd, ret;

	if (!len)
		return errmsg(err, errlen, -EINVAL, "run directory: empty path");
	if (len >= sizeof(path))
		return errmsg(err, errlen, -ENAMETOOLONG, "run directory: path too long");
	/* a trailing slash would make open() follow a symlink despite O_NOFOLLOW */
	while (len > 1 && dir[len - 1] == '/')
		len--;
	memcpy(path, dir, len);
	path[len] = 0;
	if (create) {
		ret = mkdir_parents(path);
		if (ret < 0)
			return errmsg(err, errlen, ret, "cannot create run directory %s: %s",
				      path, strerror(-ret));
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return errmsg(err, errlen, -EPERM,
				      "run directory %s is a symlink; not using it", path);
		return errmsg(err, errlen, ret, "cannot open run directory %s: %s",
			      path, strerror(-ret));
	}
	if (fstat(fd, &st) < 0) {
		ret = errmsg(err, errlen, -errno, "cannot stat run directory %s: %s",
			     path, strerror(errno));
		goto out_close;
	}
	if (st.st_uid != geteuid()) {
		ret = errmsg(err, errlen, -EPERM,
			     "run directory %s is owned by uid %u, not %u; not using it",
			     path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out_close;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ret = errmsg(err, errlen, -EPERM,
			     "run directory %s is writable by group or others (mode %04o); not using it",
			     path, (unsigned)(st.st_mode & 07777));
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
	return ret;
}

static uint64_t random_u64(void)
{
	struct timespec ts;
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* no entropy yet (early boot): O_EXCL still keeps the write safe */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL) ^
	       ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
}

static int name_valid(const char *name)
{
	size_t len = strlen(name);

	return len && len + 1 + TMP_SUFFIX_LEN <= NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

static int write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int rundir_write(int dirfd, const char *name, const void *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	int fd, ret, try;

	if (!name_valid(name))
		return -EINVAL;
	for (try = 0;; try++) {
		snprintf(tmp, sizeof(tmp), ".%s.%016llx.tmp", name,
			 (unsigned long long)random_u64());
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0644);
		if (fd >= 0)
			break;
		if (errno != EEXIST || try == TMP_TRIES)
			return -errno;
	}
	ret = write_all(fd, data, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	/* rename replaces whatever @name is, a symlink included, and never follows it */
	if (!ret && renameat(dirfd, tmp, dirfd, name) < 0)
		ret = -errno;
	if (ret < 0) {
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
	/* makes the rename durable; tmpfs (/run) ignores it, some filesystems refuse it */
	(void)fsync(dirfd);
	return 0;
}

int rs_save(int dirfd, const struct run_state *s)
{
	char name[32], *text;
	size_t len;
	int ret;

	ret = rs_format(s, &text, &len);
	if (ret < 0)
		return ret;
	snprintf(name, sizeof(name), "%u.json", s->dev_id);
	ret = len > RS_MAX_FILE ? -EFBIG : rundir_write(dirfd, name, text, len);
	free(text);
	return ret;
}

int rs_load(int dirfd, unsigned id, struct run_state *s)
{
	char name[32], *buf = NULL;
	size_t got = 0;
	struct stat st;
	int fd, ret;
	ssize_t n;

	memset(s, 0, sizeof(*s));
	snprintf(name, sizeof(name), "%u.json", id);
	/* O_NONBLOCK: a FIFO planted there must not hang the open */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	ret = !S_ISREG(st.st_mode) ? -EINVAL :
	      st.st_uid != geteuid() ? -EPERM :
	      st.st_size > RS_MAX_FILE ? -EFBIG : 0;
	if (ret < 0)
		goto out_close;
	/* one byte more than its size: a file that grew is refused, not cut */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	n = rs_read_all(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		ret = n == -EFBIG ? -EINVAL : (int)n;
		goto out_free;
	}
	got = (size_t)n;
	ret = rs_parse(buf, got, s);
	if (!ret && s->dev_id != id) {
		rs_free(s);
		ret = -EINVAL;
	}
out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

/* ".ID.*.tmp": a temp file rundir_write() left when its writer died. */
static int is_stale_tmp(const char *name, const char *prefix)
{
	size_t len = strlen(name), plen = strlen(prefix);

	return len > plen + TMP_SUFFIX_LEN && !strncmp(name, prefix, plen) &&
	       !strcmp(name + len - 4, ".tmp");
}

int rundir_unlink(int dirfd, unsigned id)
{
	static const char *const ext[] = { "json", "dump", "pid", "state" };
	char name[32], prefix[32];
	struct dirent *de;
	unsigned i;
	int fd, ret = 0;
	DIR *d;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(name, sizeof(name), "%u.%s", id, ext[i]);
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	}
	/* a directory stream of its own: readdir moves the file offset */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ret ? ret : -errno;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return ret ? ret : -e;
	}
	snprintf(prefix, sizeof(prefix), ".%u.", id);
	while ((de = readdir(d)))
		if (is_stale_tmp(de->d_name, prefix) &&
		    unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT && !ret)
			ret = -errno;
	closedir(d);
	return ret;
}
