// SPDX-License-Identifier: MIT
/*
 * The run directory keeps, per device, the daemon's pid (N.pid) and its
 * settings (N.state: one "key value" per line) so that list, del and
 * recover know what the kernel does not.  Files are written whole to a
 * temporary name and renamed, so a reader never sees half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

const char *rundir(void)
{
	const char *d = getenv("SUBLK_RUN_DIR");

	return (d && *d) ? d : "/run/sublk";
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void run_path(char *buf, size_t len, unsigned id, const char *ext)
{
	snprintf(buf, len, "%s/%u.%s", rundir(), id, ext);
}

/* Write @text to the run file atomically. */
static int run_write(unsigned id, const char *ext, const char *text)
{
	char path[4200], tmp[4300];
	size_t len = strlen(text);
	int fd, ret = 0;

	run_path(path, sizeof(path), id, ext);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -EIO;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

static int cpus_str(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;
	int cpu;

	buf[0] = 0;
	for (cpu = 0; cpu < CPU_SETSIZE && n + 8 < len; cpu++)
		if (CPU_ISSET(cpu, set))
			n += snprintf(buf + n, len - n, "%d ", cpu);
	return (int)n;
}

int rundir_save(const struct add_opts *o, unsigned id, pid_t pid,
		const struct ublk_dev *d)
{
	const struct backend *b = d->backend;
	char text[8192], json[1024] = "", cpus[512];
	size_t n = 0;
	unsigned i;
	int ret;

	ret = mkdir_p(rundir());
	if (ret < 0)
		return ret;
	if (b->ops->json)
		b->ops->json(b, json, sizeof(json));

	n += snprintf(text + n, sizeof(text) - n,
		      "pid %d\ntype %s\nqueues %u\ndepth %u\nmax_io_buf_bytes %u\n"
		      "flags 0x%llx\nsize %llu\nmax_size %llu\nlbs_shift %u\n"
		      "buffered_io %d\nthreads %u\nper_io %d\n",
		      (int)pid, b->conf.type, d->info.nr_hw_queues,
		      d->info.queue_depth, d->info.max_io_buf_bytes,
		      (unsigned long long)o->flags,
		      (unsigned long long)b->size,
		      (unsigned long long)(b->max_size ? b->max_size : b->size),
		      b->conf.lbs_shift,
		      b->conf.buffered_io, o->nr_threads, o->per_io);
	if (b->conf.file)
		n += snprintf(text + n, sizeof(text) - n, "file %s\n", b->conf.file);
	if (b->conf.fault)
		n += snprintf(text + n, sizeof(text) - n, "fault %s\n", b->conf.fault);
	for (i = 0; i < d->info.nr_hw_queues && n < sizeof(text); i++) {
		cpus_str(&d->queues[i].cpus, cpus, sizeof(cpus));
		n += snprintf(text + n, sizeof(text) - n, "queue %u %d %s\n", i,
			      (int)ublk_dev_queue_tid(d, i), cpus);
	}
	if (n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - n,
			      "target {\"dev_size\":%llu,\"name\":\"%s\"%s%s}\n",
			      (unsigned long long)b->size, b->ops->name,
			      json[0] ? "," : "", json);
	if (n >= sizeof(text))
		return -ENAMETOOLONG;

	ret = run_write(id, "state", text);
	if (ret < 0)
		return ret;
	snprintf(text, sizeof(text), "%d\n", (int)pid);
	return run_write(id, "pid", text);
}

pid_t rundir_pid(unsigned id)
{
	char path[4200], buf[32] = "";
	ssize_t n;
	int fd;

	run_path(path, sizeof(path), id, "pid");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = 0;
	return (pid_t)atoi(buf);
}

int rundir_get(unsigned id, const char *key, char *buf, size_t len)
{
	char path[4200], line[4200];
	size_t klen = strlen(key);
	FILE *f;
	int ret = -ENOENT;

	run_path(path, sizeof(path), id, "state");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ' ')
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(buf, len, "%s", line + klen + 1);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static unsigned long long rundir_num(unsigned id, const char *key, int *ret)
{
	char buf[64];

	if (rundir_get(id, key, buf, sizeof(buf)) < 0) {
		*ret = -ENOENT;
		return 0;
	}
	return strtoull(buf, NULL, 0);
}

int rundir_load_opts(unsigned id, struct add_opts *o)
{
	static char type[32];
	int ret = 0;

	memset(o, 0, sizeof(*o));
	if (rundir_get(id, "type", type, sizeof(type)) < 0)
		return -ENOENT;
	o->conf.type = type;
	o->dev_id = (int)id;
	o->nr_queues = (unsigned)rundir_num(id, "queues", &ret);
	o->depth = (unsigned)rundir_num(id, "depth", &ret);
	o->max_io_buf_bytes = (unsigned)rundir_num(id, "max_io_buf_bytes", &ret);
	o->flags = rundir_num(id, "flags", &ret);
	o->conf.size = rundir_num(id, "size", &ret);
	o->conf.lbs_shift = (unsigned)rundir_num(id, "lbs_shift", &ret);
	o->conf.buffered_io = (int)rundir_num(id, "buffered_io", &ret);
	o->nr_threads = (unsigned)rundir_num(id, "threads", &ret);
	o->per_io = (int)rundir_num(id, "per_io", &ret);
	if (rundir_get(id, "file", o->file_buf, sizeof(o->file_buf)) == 0)
		o->conf.file = o->file_buf;
	if (rundir_get(id, "fault", o->fault_buf, sizeof(o->fault_buf)) == 0)
		o->conf.fault = o->fault_buf;
	return ret;
}

/* Rewrite the saved size, keeping every other line. */
int rundir_set_size(unsigned id, uint64_t size)
{
	char path[4200], line[4200], text[16384];
	size_t n = 0;
	FILE *f;

	run_path(path, sizeof(path), id, "state");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < sizeof(text)) {
		if (!strncmp(line, "size ", 5))
			n += snprintf(text + n, sizeof(text) - n, "size %llu\n",
				      (unsigned long long)size);
		else
			n += snprintf(text + n, sizeof(text) - n, "%s", line);
	}
	fclose(f);
	if (n >= sizeof(text))
		return -ENAMETOOLONG;
	return run_write(id, "state", text);
}

void rundir_remove(unsigned id)
{
	char path[4200];

	run_path(path, sizeof(path), id, "state");
	unlink(path);
	run_path(path, sizeof(path), id, "pid");
	unlink(path);
	run_path(path, sizeof(path), id, "dump");
	unlink(path);
}

int pid_alive(pid_t pid)
{
	char path[64], buf[256];
	ssize_t n;
	char *p;
	int fd;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	/* a zombie is not alive: it serves nothing */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return !(p && p[1] == ' ' && p[2] == 'Z');
}
