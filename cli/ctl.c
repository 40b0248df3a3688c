// SPDX-License-Identifier: MIT
/*
 * Commands that act on a running device: stop, quiesce, update_size, dump.
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
};

enum { OPT_SAFE = 256 };

static void parse_ctl(int argc, char **argv, struct ctl_args *a, int want_size)
{
	static const struct option longopts[] = {
		{ "number", 1, NULL, 'n' },
		{ "size", 1, NULL, 's' },
		{ "safe", 0, NULL, OPT_SAFE },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->id = -1;
	while ((c = cli_getopt(argc, argv, want_size ? ":n:s:h" : ":n:h",
			       longopts)) != -1) {
		switch (c) {
		case 'n':
			a->id = (long)cli_dev_id(optarg);
			break;
		case 's':
			if (!want_size)
				die_usage("unknown option '--size'");
			if (opts_parse_size(optarg, &a->size) < 0 || !a->size)
				die("bad size '%s' (e.g. 512M, 4G)", optarg);
			break;
		case OPT_SAFE:
			if (strcmp(argv[0], "stop"))
				die_usage("unknown option '--safe'");
			a->safe = 1;
			break;
		}
	}
	cli_no_args(argc, argv);
	if (a->id < 0)
		die_usage("-n ID is required");
	if (want_size && !a->size)
		die_usage("-s SIZE is required");
}

static void need_feature(const struct ublk_ctrl *c, uint64_t flag,
			 const char *what)
{
	unsigned bit = (unsigned)__builtin_ctzll(flag);

	if (!(c->features & flag))
		die("%s needs the driver feature %s (Linux %s or newer)", what,
		    ublk_feature_name(bit), ublk_feature_since(bit));
}

/* Wait (bounded) for the device's daemon to leave after its queues ended. */
static void wait_daemon(unsigned id, pid_t pid)
{
	int pidfd = cli_daemon_pidfd(id, pid);

	if (pidfd < 0)
		return;
	cli_pidfd_wait(pidfd, 10000);
	close(pidfd);
}

int cmd_stop(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ctl_args a;
	struct ublk_ctrl c;
	int ret;

	parse_ctl(argc, argv, &a, 0);
	cli_ctrl_open(&c);
	if (a.safe)
		need_feature(&c, UBLK_F_SAFE_STOP_DEV, "stop --safe");
	cli_get_info(&c, (unsigned)a.id, &info);
	if (a.safe) {
		ret = ublk_ctrl_try_stop_dev(&c, (unsigned)a.id);
		if (ret == -EBUSY)
			die("device %ld is open (mounted or in use); not stopping it", a.id);
	} else {
		/* as del: the daemon lets go of requests it would hold long */
		int pidfd = cli_daemon_pidfd((unsigned)a.id, info.ublksrv_pid);

		if (pidfd >= 0) {
			cli_pidfd_signal(pidfd, SIGUSR2);
			close(pidfd);
		}
		ret = ublk_ctrl_stop_dev(&c, (unsigned)a.id);
	}
	if (ret < 0)
		die("device %ld: %s", a.id, strerror(-ret));
	wait_daemon((unsigned)a.id, info.ublksrv_pid);
	ublk_ctrl_close(&c);
	return 0;
}

int cmd_quiesce(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ctl_args a;
	struct ublk_ctrl c;
	int ret;

	parse_ctl(argc, argv, &a, 0);
	cli_ctrl_open(&c);
	need_feature(&c, UBLK_F_QUIESCE, "quiesce");
	cli_get_info(&c, (unsigned)a.id, &info);
	if (!(info.flags & UBLK_F_QUIESCE))
		die("device %ld was not added with user recovery (-r 1)", a.id);
	ret = ublk_ctrl_quiesce(&c, (unsigned)a.id, 10000);
	if (ret < 0)
		die("device %ld: %s", a.id, strerror(-ret));
	wait_daemon((unsigned)a.id, info.ublksrv_pid);
	ublk_ctrl_close(&c);
	return 0;
}

/*
 * A loop device's regular backing file must be as large as the device.
 * The path comes from the run state, and is only touched when the
 * device's daemon, proven ours, holds that very file open.
 */
static void grow_backing_file(unsigned id, const struct run_state *s,
			      uint64_t size)
{
	struct add_opts o;
	char why[320];
	struct stat st;
	int fd;

	if (opts_from_state(s, &o, why, sizeof(why)) < 0)
		die("device %u: %s", id, why);
	if (strcmp(o.conf.type, "loop"))
		return;
	if (proc_holds_path(s->pid, o.conf.file) != 1 || rs_daemon_is_ours(s) != 1)
		die("device %u: its daemon does not hold %s open; not growing it",
		    id, o.conf.file);
	fd = open(o.conf.file, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("backing file %s: %s", o.conf.file, strerror(errno));
	if (S_ISBLK(st.st_mode))
		die("device %u is backed by block device %s, whose size is fixed",
		    id, o.conf.file);
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < size &&
	    ftruncate(fd, (off_t)size) < 0)
		die("cannot grow %s: %s", o.conf.file, strerror(errno));
	close(fd);
}

int cmd_update_size(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	struct run_state s;
	struct ctl_args a;
	struct ublk_ctrl c;
	unsigned id;
	int ret;

	parse_ctl(argc, argv, &a, 1);
	id = (unsigned)a.id;
	cli_ctrl_open(&c);
	need_feature(&c, UBLK_F_UPDATE_SIZE, "update_size");
	cli_get_info(&c, id, &info);
	/* a stopped device has no disk to resize (older kernels oops on it) */
	if (info.state != UBLK_S_DEV_LIVE && info.state != UBLK_S_DEV_QUIESCED)
		die("device %u is not running (state %s)", id,
		    ublk_state_name(info.state));
	if (ublk_ctrl_get_params(&c, id, &p) < 0)
		die("cannot read device %u's parameters", id);
	/* the kernel does not redo a zoned disk's zones on a new capacity */
	if (p.types & UBLK_PARAM_TYPE_ZONED)
		die("device %u is zoned: its zones are fixed, so is its size", id);
	if (a.size % (1ULL << p.basic.logical_bs_shift))
		die("%llu is not a multiple of the %u-byte block size",
		    (unsigned long long)a.size, 1U << p.basic.logical_bs_shift);
	if (cli_state_load(id, &s) < 0)
		die("device %u has no run state in %s", id, cli_env()->run_dir);
	if (a.size > s.max_size)
		die("device %u can grow to %llu bytes at most",
		    id, (unsigned long long)s.max_size);
	grow_backing_file(id, &s, a.size);
	ret = ublk_ctrl_update_size(&c, id, a.size >> 9);
	if (ret < 0)
		die("device %u: %s", id, strerror(-ret));
	/* the kernel took it: now the saved size follows */
	s.size = a.size;
	ret = rs_save(cli_rundir(0), &s);
	if (ret < 0)
		die("device %u resized, but its run state was not saved: %s", id,
		    strerror(-ret));
	rs_free(&s);
	ublk_ctrl_close(&c);
	return 0;
}

/* Ask the daemon for its state dump (SIGUSR1) and print it. */
int cmd_dump(int argc, char **argv)
{
	char name[32], buf[4096];
	struct ctl_args a;
	int pidfd, dfd, fd, ms, ret;
	ssize_t n;

	parse_ctl(argc, argv, &a, 0);
	pidfd = cli_daemon_pidfd((unsigned)a.id, 0);
	dfd = cli_rundir(0);
	if (pidfd < 0 || dfd < 0)
		die("device %ld has no running daemon of ours", a.id);
	snprintf(name, sizeof(name), "%ld.dump", a.id);
	unlinkat(dfd, name, 0);
	ret = cli_pidfd_signal(pidfd, SIGUSR1);
	if (ret < 0)
		die("cannot signal the daemon of device %ld: %s", a.id,
		    strerror(-ret));
	for (ms = 0; (fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 &&
		     ms < 5000; ms += 20)
		usleep(20000);
	if (fd < 0)
		die("the daemon of device %ld wrote no dump to %s/%s", a.id,
		    cli_env()->run_dir, name);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	close(pidfd);
	return 0;
}
