// SPDX-License-Identifier: MIT
/*
 * Commands that act on a running device: stop, quiesce, update_size.
 * Each needs a driver feature; without it the error names the feature
 * and the kernel that has it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"

struct ctl_args {
	long id;
	int safe;
	uint64_t size;
	int has_size;
};

static void parse_ctl(int argc, char **argv, struct ctl_args *a, const char *usage)
{
	unsigned long v;
	int i;

	memset(a, 0, sizeof(*a));
	a->id = -1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			if (opts_parse_uint(argv[++i], UBLK_MAX_UBLKS - 1, &v) < 0)
				die("%s: bad device id '%s'", argv[0], argv[i]);
			a->id = (long)v;
		} else if (!strcmp(argv[i], "--safe")) {
			a->safe = 1;
		} else if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--size")) &&
			   i + 1 < argc) {
			if (opts_parse_size(argv[++i], &a->size) < 0 || !a->size)
				die("%s: bad size '%s'", argv[0], argv[i]);
			a->has_size = 1;
		} else {
			die("usage: %s", usage);
		}
	}
	if (a->id < 0)
		die("usage: %s", usage);
}

static void need_feature(const struct ublk_ctrl *c, uint64_t flag,
			 const char *what)
{
	unsigned bit = (unsigned)__builtin_ctzll(flag);

	if (!(c->features & flag))
		die("%s needs the driver feature %s (Linux %s or newer)", what,
		    ublk_feature_name(bit), ublk_feature_since(bit));
}

static void get_info(struct ublk_ctrl *c, long id,
		     struct ublksrv_ctrl_dev_info *info, const char *cmd)
{
	if (ublk_ctrl_get_info(c, (unsigned)id, info) < 0)
		die("%s: device %ld does not exist", cmd, id);
}

/* Wait (bounded) for the daemon to leave after its queues ended. */
static void wait_daemon(pid_t pid)
{
	int ms;

	for (ms = 0; pid > 0 && ms < 10000 && pid_alive(pid); ms += 20)
		usleep(20000);
}

int cmd_stop(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ctl_args a;
	struct ublk_ctrl c;
	int ret;

	parse_ctl(argc, argv, &a, "sublk stop -n ID [--safe]");
	cli_ctrl_open(&c);
	if (a.safe)
		need_feature(&c, UBLK_F_SAFE_STOP_DEV, "stop --safe");
	get_info(&c, a.id, &info, "stop");
	if (a.safe) {
		ret = ublk_ctrl_try_stop_dev(&c, (unsigned)a.id);
		if (ret == -EBUSY)
			die("stop: device %ld is open (mounted or in use); not stopping it", a.id);
	} else {
		ret = ublk_ctrl_stop_dev(&c, (unsigned)a.id);
	}
	if (ret < 0)
		die("stop: device %ld: %s", a.id, strerror(-ret));
	wait_daemon(info.ublksrv_pid);
	ublk_ctrl_close(&c);
	return 0;
}

int cmd_quiesce(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ctl_args a;
	struct ublk_ctrl c;
	int ret;

	parse_ctl(argc, argv, &a, "sublk quiesce -n ID");
	cli_ctrl_open(&c);
	need_feature(&c, UBLK_F_QUIESCE, "quiesce");
	get_info(&c, a.id, &info, "quiesce");
	if (!(info.flags & UBLK_F_QUIESCE))
		die("quiesce: device %ld was not added with user recovery (-r 1)", a.id);
	ret = ublk_ctrl_quiesce(&c, (unsigned)a.id, 10000);
	if (ret < 0)
		die("quiesce: device %ld: %s", a.id, strerror(-ret));
	wait_daemon(info.ublksrv_pid);
	ublk_ctrl_close(&c);
	return 0;
}

/* A loop device's regular backing file must be as large as the device. */
static void grow_backing_file(long id, uint64_t size)
{
	char type[32], file[4096];
	struct stat st;

	if (rundir_get((unsigned)id, "type", type, sizeof(type)) < 0 ||
	    strcmp(type, "loop") ||
	    rundir_get((unsigned)id, "file", file, sizeof(file)) < 0)
		return;
	if (stat(file, &st) < 0)
		die("update_size: backing file %s: %s", file, strerror(errno));
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < size &&
	    truncate(file, (off_t)size) < 0)
		die("update_size: cannot grow %s: %s", file, strerror(errno));
	if (S_ISBLK(st.st_mode))
		die("update_size: device %ld is backed by block device %s, whose size is fixed",
		    id, file);
}

int cmd_update_size(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	struct ctl_args a;
	struct ublk_ctrl c;
	int ret;

	parse_ctl(argc, argv, &a, "sublk update_size -n ID -s BYTES");
	if (!a.has_size)
		die("usage: sublk update_size -n ID -s BYTES");
	cli_ctrl_open(&c);
	need_feature(&c, UBLK_F_UPDATE_SIZE, "update_size");
	get_info(&c, a.id, &info, "update_size");
	if (ublk_ctrl_get_params(&c, (unsigned)a.id, &p) < 0)
		die("update_size: cannot read device %ld's parameters", a.id);
	if (a.size % (1ULL << p.basic.logical_bs_shift))
		die("update_size: %llu is not a multiple of the %u-byte block size",
		    (unsigned long long)a.size, 1U << p.basic.logical_bs_shift);
	{
		char max[32];

		if (rundir_get((unsigned)a.id, "max_size", max, sizeof(max)) == 0 &&
		    a.size > strtoull(max, NULL, 0))
			die("update_size: device %ld can grow to %s bytes at most (a mem device to 4 times its size)",
			    a.id, max);
	}
	if (rundir_set_size((unsigned)a.id, a.size) < 0)
		die("update_size: device %ld has no run state in %s", a.id, rundir());
	grow_backing_file(a.id, a.size);
	ret = ublk_ctrl_update_size(&c, (unsigned)a.id, a.size >> 9);
	if (ret < 0)
		die("update_size: device %ld: %s", a.id, strerror(-ret));
	ublk_ctrl_close(&c);
	return 0;
}

/* Ask the daemon for its state dump (SIGUSR1) and print it. */
int cmd_dump(int argc, char **argv)
{
	char path[4200], buf[4096];
	struct ctl_args a;
	ssize_t n;
	pid_t pid;
	int fd, ms;

	parse_ctl(argc, argv, &a, "sublk dump -n ID");
	pid = rundir_pid((unsigned)a.id);
	if (pid <= 0 || !pid_alive(pid))
		die("dump: device %ld has no running daemon", a.id);
	snprintf(path, sizeof(path), "%s/%ld.dump", rundir(), a.id);
	unlink(path);
	if (kill(pid, SIGUSR1) < 0)
		die("dump: cannot signal daemon %d: %s", (int)pid, strerror(errno));
	for (ms = 0; (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && ms < 5000; ms += 20)
		usleep(20000);
	if (fd < 0)
		die("dump: daemon %d wrote no dump to %s", (int)pid, path);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return 0;
}
