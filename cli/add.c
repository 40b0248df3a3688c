// SPDX-License-Identifier: MIT
/*
 * sublk add: check everything that can be checked here, then detach a
 * daemon and wait for it to say the device is LIVE (or why it is not).
 * Whatever happens, the caller is not left waiting and no half-made
 * device is left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "cli.h"

#define ADD_TIMEOUT_MS	60000	/* TCG guests are slow; a real host takes ms */

/* Refuse flags the running driver lacks, naming them and their kernel. */
static void check_features(const struct ublk_ctrl *c, uint64_t flags)
{
	uint64_t missing = flags & ~c->features;
	unsigned bit;

	if (!missing)
		return;
	bit = (unsigned)__builtin_ctzll(missing);
	die("this kernel's ublk driver lacks %s (needs Linux %s or newer)",
	    ublk_feature_name(bit) ? ublk_feature_name(bit) : "an unknown feature",
	    ublk_feature_since(bit));
}

/*
 * No data path asked for: the fastest the target declares (auto_path)
 * that the driver reports (GET_FEATURES: a driver without it is given
 * none).  None where the kernel forbids it (unprivileged devices), after
 * -g 1 (a step of the copy path), or with the legacy command numbers
 * (they have no buffer registration).  The pick is saved with the other
 * options (-z, --usercopy or --copy), so recover keeps it.
 */
#define DATA_PATHS	(UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_USER_COPY)

/* The driver's features that the pick may use. */
static uint64_t pick_features(const struct add_opts *o, uint64_t features)
{
	if (o->copy || (o->flags & (UBLK_F_NEED_GET_DATA | UBLK_F_UNPRIVILEGED_DEV)))
		return 0;
	return features;
}

/* Zero copy, for a target that declares it its fastest path? */
static int pick_zero_copy(const struct add_opts *o, uint64_t features)
{
	return !(o->flags & DATA_PATHS) &&
	       (pick_features(o, features) & UBLK_F_SUPPORT_ZERO_COPY) &&
	       !cli_env()->legacy_cmds;
}

static void pick_data_path(struct add_opts *o, const struct backend *b,
			   uint64_t features)
{
	int zc = pick_zero_copy(o, features);

	if (o->flags & DATA_PATHS)
		return;
	features = pick_features(o, features);
	if ((b->auto_path & BACKEND_AUTO_ZERO_COPY) && b->zero_copy && zc)
		o->flags |= UBLK_F_SUPPORT_ZERO_COPY;
	else if ((b->auto_path & BACKEND_AUTO_USER_COPY) &&
		 (features & UBLK_F_USER_COPY))
		o->flags |= UBLK_F_USER_COPY;
	if (!(o->flags & DATA_PATHS))
		o->copy = 1;
}

/* The daemon's side of the fork: detach, then serve. */
static void __attribute__((noreturn)) daemon_child(struct add_opts *o,
						   struct backend *b, int wfd)
{
	int fd;

	setsid();
	signal(SIGPIPE, SIG_IGN);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir("/") < 0)
		_exit(1);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		log_set_sink(LOG_SINK_KMSG, fd);
	} else {
		fd = openat(cli_rundir(1), "daemon.log", O_WRONLY | O_CREAT |
			    O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
		log_set_sink(LOG_SINK_FILE, fd >= 0 ? fd : 2);
	}
	/* the fds of the command that forked it: only the status pipe stays */
	cli_rundir_close();
	cli_lock_forget();
	daemon_isolate(o);
	_exit(daemon_run(o, b, wfd));
}

/* Read the daemon's status lines until "ok", an error, EOF or timeout. */
static int read_status(int rfd, int *dev_id, char *why, size_t whylen)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	char buf[1024], *line, *nl;
	size_t have = 0;
	ssize_t n;
	int ret;

	snprintf(why, whylen, "daemon exited during setup");
	for (;;) {
		ret = poll(&pfd, 1, ADD_TIMEOUT_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret == 0) {
			snprintf(why, whylen, "daemon not ready after %d s",
				 ADD_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		n = read(rfd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		have += (size_t)n;
		buf[have] = 0;
		line = buf;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!strncmp(line, "id ", 3))
				*dev_id = atoi(line + 3);
			else if (!strcmp(line, "ok"))
				return 0;
			else if (!strncmp(line, "err ", 4)) {
				snprintf(why, whylen, "%s", line + 4);
				return -EIO;
			}
			line = nl + 1;
		}
		have = strlen(line);
		memmove(buf, line, have);
	}
}

/* Setup failed: make sure the device is gone and the daemon reaped. */
static void cleanup_failed(pid_t child, int dev_id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl c;
	int status, i;

	/* give a failing daemon a moment to remove its device itself */
	for (i = 0; child > 0 && i < 100 &&
		    waitpid(child, &status, WNOHANG) == 0; i++)
		usleep(50000);
	if (child > 0 && i == 100) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	if (dev_id < 0 || ublk_ctrl_open(&c) < 0)
		return;
	if (ublk_ctrl_get_info(&c, (unsigned)dev_id, &info) == 0) {
		ublk_ctrl_stop_dev(&c, (unsigned)dev_id);
		ublk_ctrl_del_dev(&c, (unsigned)dev_id);
	}
	if (cli_rundir(0) >= 0)
		rundir_unlink(cli_rundir(0), (unsigned)dev_id);
	ublk_ctrl_close(&c);
}

/*
 * Bring the device up in a detached daemon; 0 once it is LIVE, with its
 * id in *@id.  In the foreground, the daemon's exit status.
 */
static int spawn_daemon(struct add_opts *o, struct backend *b, unsigned *id)
{
	struct ublk_ctrl c;
	char why[320];
	int pfd[2], dev_id = o->dev_id, ret;
	pid_t child;

	/* a run directory that cannot be used fails here, before any device */
	cli_rundir(1);
	if (o->foreground)
		return daemon_run(o, b, -1);

	/*
	 * ADD_DEV here, not in the daemon: whatever happens to the daemon,
	 * this process knows which device to remove.
	 */
	if (!o->recover) {
		struct ublksrv_ctrl_dev_info info;
		struct ublk_dev d;

		opts_dev_info(o, &info);
		cli_ctrl_open(&c);
		ret = ublk_dev_add(&d, &c, b, &info);
		ublk_ctrl_close(&c);
		if (ret < 0)
			die("%s", d.err);
		o->dev_id = dev_id = (int)d.info.dev_id;
		o->attach = 1;
	}

	fflush(stdout);
	if (pipe2(pfd, O_CLOEXEC) < 0 || (child = fork()) < 0) {
		ret = errno;
		cleanup_failed(-1, o->recover ? -1 : dev_id);
		die("cannot start the daemon: %s", strerror(ret));
	}
	if (child == 0) {
		close(pfd[0]);
		daemon_child(o, b, pfd[1]);
	}
	close(pfd[1]);
	if (b->ops->close)
		b->ops->close(b);

	ret = read_status(pfd[0], &dev_id, why, sizeof(why));
	close(pfd[0]);
	if (ret < 0) {
		/* a failed recovery keeps the device for another try */
		cleanup_failed(child, o->recover ? -1 : dev_id);
		die("%s", why);
	}
	*id = (unsigned)dev_id;
	return 0;
}

/* The device as list shows it. */
static void print_dev(unsigned id)
{
	struct ublk_ctrl c;

	cli_ctrl_open(&c);
	cli_list_dev(&c, id, 0);
	ublk_ctrl_close(&c);
}

static void open_backend(struct backend *b, const struct add_opts *o)
{
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->ops = backend_find(o->conf.type);
	if (!b->ops)
		die("unknown target type '%s'", o->conf.type);
	b->conf = o->conf;
	ret = b->ops->open(b);
	if (ret < 0)
		die("%s", b->err[0] ? b->err : strerror(-ret));
}

/* Make *@path absolute in @buf; left as it is if it is not there. */
static void absolute_path(const char **path, char *buf, size_t size)
{
	char *abs;

	if ((*path)[0] == '/')
		return;
	abs = realpath(*path, NULL);
	if (!abs)	/* the backend's open names the problem */
		return;
	if (strlen(abs) >= size)
		die("file name too long: %s", abs);
	strcpy(buf, abs);
	*path = buf;
	free(abs);
}

/* The daemon runs in /: relative backing files are made absolute here. */
static void absolute_file(struct add_opts *o)
{
	unsigned i;

	for (i = 0; i < o->conf.nr_files; i++)
		absolute_path(&o->conf.files[i], o->file_buf[i],
			      sizeof(o->file_buf[i]));
	if (o->conf.nr_files)
		o->conf.file = o->conf.files[0];
	if (o->conf.meta_file)
		absolute_path(&o->conf.meta_file, o->meta_file_buf,
			      sizeof(o->meta_file_buf));
}

/* Likewise a relative socket path of nbd, which need not exist yet. */
static void absolute_socket(struct add_opts *o)
{
	char cwd[4096], path[sizeof(o->nbd_unix)];
	int n;

	if (!o->conf.nbd_unix || o->conf.nbd_unix[0] == '/')
		return;
	if (!getcwd(cwd, sizeof(cwd)))
		die("cannot make the socket path %s absolute: %s", o->conf.nbd_unix,
		    strerror(errno));
	n = snprintf(path, sizeof(path), "%s/%s", cwd, o->conf.nbd_unix);
	if (n < 0 || n >= (int)sizeof(path))
		die("socket path too long: %s/%s (a unix socket takes %u bytes)",
		    cwd, o->conf.nbd_unix, (unsigned)sizeof(path) - 1);
	memcpy(o->nbd_unix, path, (size_t)n + 1);
	o->conf.nbd_unix = o->nbd_unix;
}

/*
 * --htlb FILE: made absolute for the daemon, and checked to be what the
 * driver can pin for good: a hugetlbfs or tmpfs file with pages in it.
 */
#define HUGETLBFS_MAGIC	0x958458f6
#define TMPFS_MAGIC	0x01021994

static void check_shmem_file(struct add_opts *o)
{
	struct statfs sfs;
	struct stat st;
	char *abs;
	int fd;

	if (!o->htlb)
		return;
	fd = open(o->htlb, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("--htlb %s: %s", o->htlb, strerror(errno));
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
		die("--htlb %s: %s", o->htlb, strerror(errno));
	close(fd);
	if (!S_ISREG(st.st_mode))
		die("--htlb %s: not a regular file", o->htlb);
	if ((unsigned long)sfs.f_type != HUGETLBFS_MAGIC &&
	    (unsigned long)sfs.f_type != TMPFS_MAGIC)
		die("--htlb %s: not on hugetlbfs or tmpfs (the driver pins only such shared pages)",
		    o->htlb);
	if (st.st_size <= 0)
		die("--htlb %s: empty: give it its size first (fallocate -l 4M %s)",
		    o->htlb, o->htlb);
	abs = realpath(o->htlb, NULL);
	if (!abs || strlen(abs) >= sizeof(o->htlb_buf))
		die("--htlb %s: cannot make the path absolute", o->htlb);
	strcpy(o->htlb_buf, abs);
	o->htlb = o->htlb_buf;
	free(abs);
}

int cli_add_device(struct add_opts *o, unsigned *id)
{
	struct backend b;
	struct ublk_ctrl c;
	uint64_t features;

	if (o->debug)
		log_level = LOG_DEBUG;
	if (o->queues_asked > o->nr_queues)
		warn("-q %u: this machine has %u CPUs, so %u queues (one per CPU at most)",
		     o->queues_asked, o->nr_queues, o->nr_queues);
	absolute_file(o);
	absolute_socket(o);

	/* the driver first: its absence is the likeliest problem */
	cli_ctrl_open(&c);
	check_features(&c, o->flags);
	check_shmem_file(o);
	/* a recoverable device can also be quiesced, where the driver can */
	if ((o->flags & UBLK_F_USER_RECOVERY) && (c.features & UBLK_F_QUIESCE))
		o->flags |= UBLK_F_QUIESCE;
	features = c.has_get_features ? c.features : 0;
	ublk_ctrl_close(&c);

	/* a target whose setup depends on the path (nbd) knows it in open */
	o->conf.auto_zero_copy = pick_zero_copy(o, features);
	open_backend(&b, o);
	if ((o->flags & UBLK_F_SUPPORT_ZERO_COPY) && !b.zero_copy) {
		if (b.ops->close)
			b.ops->close(&b);
		die("the %s backend needs the data in memory: zero copy (-z) works with null, loop, stripe and nbd%s",
		    b.ops->name, b.user_copy ? " (its fast path is --usercopy)" : "");
	}
	pick_data_path(o, &b, features);
	/* zero copy: the kernel registers the buffers itself where it can (6.16) */
	if ((o->flags & UBLK_F_SUPPORT_ZERO_COPY) &&
	    (features & UBLK_F_AUTO_BUF_REG) && !cli_env()->no_auto_buf_reg)
		o->flags |= UBLK_F_AUTO_BUF_REG;
	return spawn_daemon(o, &b, id);
}

int cmd_add(int argc, char **argv)
{
	struct add_opts o;
	char why[320];
	unsigned id;
	int ret;

	ret = opts_parse_add(argc, argv, &o, why, sizeof(why));
	if (ret > 0)
		cli_help();
	if (ret < 0)
		die_usage("%s", why);
	ret = cli_add_device(&o, &id);
	if (ret == 0 && !o.foreground)
		print_dev(id);
	return ret;
}

static unsigned parse_recover(int argc, char **argv, int *foreground,
			      int *debug)
{
	static const struct option longopts[] = {
		{ "number", 1, NULL, 'n' },
		{ "foreground", 0, NULL, 'F' },
		{ "verbose", 0, NULL, 'v' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long id = -1;
	int c;

	while ((c = cli_getopt(argc, argv, ":n:vh", longopts)) != -1) {
		if (c == 'n')
			id = (long)cli_dev_id(optarg);
		else if (c == 'F')
			*foreground = 1;
		else if (c == 'v')
			*debug = 1;
	}
	cli_no_args(argc, argv);
	if (id < 0)
		die_usage("-n ID is required");
	return (unsigned)id;
}

int cli_recover_device(unsigned id, int foreground, int debug)
{
	struct ublksrv_ctrl_dev_info info;
	struct run_state s;
	struct backend b;
	struct add_opts o;
	struct ublk_ctrl c;
	char why[320];
	int pidfd, ret;

	cli_ctrl_open(&c);
	cli_get_info(&c, id, &info);
	ublk_ctrl_close(&c);
	if (!(info.flags & UBLK_F_USER_RECOVERY))
		die("device %u was not added with user recovery (-r 1)", id);
	pidfd = cli_daemon_pidfd(id, info.ublksrv_pid);
	if (pidfd >= 0 && info.state == UBLK_S_DEV_LIVE)
		die("device %u is LIVE, served by pid %d", id, (int)info.ublksrv_pid);
	if (pidfd >= 0)
		close(pidfd);
	if (cli_state_load(id, &s) < 0)
		die("no saved settings for device %u in %s", id, cli_env()->run_dir);
	if (s.dev_id != id)
		die("the run state of device %u names device %u", id, s.dev_id);
	if (opts_from_state(&s, &o, why, sizeof(why)) < 0)
		die("device %u: %s", id, why);
	o.conf.size = s.size;	/* update_size may have changed it */
	o.name = s.name;	/* the table's name stays with the device */
	o.dev_id = (int)id;
	o.recover = 1;
	o.foreground = foreground;
	o.debug = debug;
	if (debug)
		log_level = LOG_DEBUG;
	open_backend(&b, &o);
	/* o points into s (the file name, the fault spec) */
	ret = spawn_daemon(&o, &b, &id);
	rs_free(&s);
	return ret;
}

int cmd_recover(int argc, char **argv)
{
	int foreground = 0, debug = 0, ret;
	unsigned id;

	id = parse_recover(argc, argv, &foreground, &debug);
	ret = cli_recover_device(id, foreground, debug);
	if (ret == 0 && !foreground)
		print_dev(id);
	return ret;
}
