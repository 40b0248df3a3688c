// SPDX-License-Identifier: MIT
/*
 * The daemon: brings one device up, serves it until it is stopped or told
 * to go, and takes it down.  It reports its progress to whoever started it
 * through a status pipe: "id N" once the device exists, then "ok" once it
 * is LIVE, or "err REASON" if it failed (and removed what it had made).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/signalfd.h>

#include "cli.h"

#define RECOVER_BUSY_MS	10000
#define QUEUE_END_GRACE_MS	1000

static void status_send(int fd, const char *fmt, ...)
{
	char buf[320];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(fd, buf, n) < 0)
		log_warn("cannot report status: %s", strerror(errno));
}

static int signals_block(sigset_t *set)
{
	sigset_t pipe;

	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	/* queue threads inherit this mask: only the main thread takes signals */
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -errno;
	/*
	 * Not for the signalfd: a socket the peer closed is an EPIPE for the
	 * target (nbd), not the death of a daemon in the foreground.
	 */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &pipe, NULL) < 0)
		return -errno;
	return 0;
}

/*
 * The run directory, opened for each use: the daemon holds no fd on it
 * while it serves.  Its mount namespace is its own from the start, so
 * the path reaches the directory the fd would: the /run that was there
 * when it started (a tmpfs that switch_root moves keeps it the real one).
 */
static int daemon_rundir(void)
{
	char why[320];
	int fd = rundir_open(cli_env()->run_dir, 1, why, sizeof(why));

	if (fd < 0)
		log_err("%s", why);
	return fd;
}

/* SIGUSR1: what every queue and tag is doing, to RUNDIR/N.dump. */
static void daemon_dump(const struct ublk_dev *d)
{
	char name[32], *buf = NULL;
	off_t len;
	int fd, ret = -ENOMEM;

	snprintf(name, sizeof(name), "%u.dump", d->info.dev_id);
	fd = memfd_create("sublk-dump", MFD_CLOEXEC);
	if (fd < 0) {
		log_err("dev %u: dump: memfd: %s", d->info.dev_id, strerror(errno));
		return;
	}
	ublk_dev_dump(d, fd);
	len = lseek(fd, 0, SEEK_CUR);
	if (len > 0 && (buf = malloc((size_t)len)) &&
	    pread(fd, buf, (size_t)len, 0) == len) {
		int dfd = daemon_rundir();

		ret = dfd < 0 ? dfd : rundir_write(dfd, name, buf, (size_t)len);
		if (dfd >= 0)
			close(dfd);
	}
	free(buf);
	close(fd);
	if (ret < 0)
		log_err("dev %u: cannot write %s/%s: %s", d->info.dev_id,
			cli_env()->run_dir, name, strerror(-ret));
	else
		log_info("dev %u: state dumped to %s/%s", d->info.dev_id,
			 cli_env()->run_dir, name);
}

/* How the requests' data moves, for list. */
static const char *data_path_name(uint64_t flags)
{
	if (flags & UBLK_F_AUTO_BUF_REG)
		return "zero copy (auto buffer registration)";
	if (flags & UBLK_F_SUPPORT_ZERO_COPY)
		return "zero copy";
	if (flags & UBLK_F_USER_COPY)
		return "user copy";
	return "copy";
}

/*
 * A target that wants no I/O scheduler (its backend_ops say why): the
 * disk exists once START_DEV is done, and the switch only waits for what
 * its partition scan still reads.  Where sysfs may not be written (an
 * unprivileged device), the disk keeps the kernel's, which only costs time.
 */
static void daemon_no_scheduler(unsigned id)
{
	int ret = disk_set_scheduler(id, "none");

	if (ret < 0)
		log_debug("dev %u: cannot set its I/O scheduler to none: %s", id,
			  strerror(-ret));
}

/* Save what list, del and recover need: only once the device is LIVE. */
static int daemon_save(const struct add_opts *o, const struct ublk_dev *d)
{
	const struct backend *b = d->backend;
	char bufs[OPTS_NUM_BUFS][24], json[30000] = "", target[30100];
	struct run_state s;
	unsigned i;
	int n, ret, fd;

	memset(&s, 0, sizeof(s));
	s.dev_id = d->info.dev_id;
	s.name = (char *)o->name;
	s.pid = (int)getpid();
	ret = proc_start_time(s.pid, &s.pid_start);
	if (ret < 0)
		return ret;
	s.size = b->size;
	s.max_size = b->max_size ? b->max_size : b->size;
	n = opts_to_args(o, bufs, s.args, RS_MAX_ARGS);
	if (n < 0)
		return n;
	s.nr_args = (unsigned)n;
	if (b->ops->json && b->ops->json(b, json, sizeof(json)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(target, sizeof(target), "{\"dev_size\":%llu,\"name\":\"%s\"%s%s}",
		     (unsigned long long)b->size, b->ops->name,
		     json[0] ? "," : "", json);
	if (n < 0 || n >= (int)sizeof(target))
		return -ENAMETOOLONG;
	s.target = target;
	s.data_path = (char *)data_path_name(d->info.flags);
	s.nr_queues = d->info.nr_hw_queues;
	s.queues = calloc(s.nr_queues, sizeof(*s.queues));
	if (!s.queues)
		return -ENOMEM;
	for (i = 0; i < s.nr_queues; i++) {
		unsigned cpu;

		s.queues[i].tid = (int)ublk_dev_queue_tid(d, i);
		for (cpu = 0; cpu < 1024 && cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &d->queues[i].cpus))
				s.queues[i].cpus[cpu / 64] |= 1ULL << (cpu % 64);
	}
	fd = daemon_rundir();
	ret = fd < 0 ? fd : rs_save(fd, &s);
	if (fd >= 0)
		close(fd);
	free(s.queues);
	return ret;
}

/*
 * The link /dev/sublk/NAME: where udev runs, its rule makes it from
 * `sublk name`, which needs the run state just saved, so udev is asked
 * to look again; without udev, made here.
 */
static void daemon_name_link(const char *name, unsigned id)
{
	int ret;

	if (disk_udev_running()) {
		ret = disk_uevent(id, "change");
		if (ret < 0)
			log_warn("dev %u: cannot ask udev for %s/%s (uevent): %s", id,
				 DISK_LINK_DIR, name, strerror(-ret));
		return;
	}
	ret = disk_link_make(name, id);
	if (ret == -EEXIST)
		log_warn("dev %u: %s/%s exists and is not sublk's link; leaving it",
			 id, DISK_LINK_DIR, name);
	else if (ret < 0)
		log_warn("dev %u: cannot make %s/%s: %s", id, DISK_LINK_DIR, name,
			 strerror(-ret));
}

/*
 * Under systemd's Type=notify: ready, and this process is the service's
 * main one, whatever started it (`sublk up` forked it and exits), so
 * systemd sees the daemon itself die.  Sent before "ok" lets the starter
 * exit: systemd reads notifications before it reaps.
 */
static void daemon_notify(unsigned id)
{
	int ret;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	ret = notify_ready(getpid(), id);
	if (ret < 0)
		log_warn("dev %u: cannot tell the service manager it is ready (NOTIFY_SOCKET): %s",
			 id, strerror(-ret));
	unsetenv("NOTIFY_SOCKET");
}

/* --trace-marker: ftrace's marker file, wherever tracefs is mounted. */
static int open_trace_marker(void)
{
	int fd = open("/sys/kernel/tracing/trace_marker", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		fd = open("/sys/kernel/debug/tracing/trace_marker",
			  O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A stop is coming: a target holding requests lets them go (nbd). */
static void daemon_stopping(struct ublk_dev *d)
{
	struct backend *b = d->backend;

	if (b->ops->stop)
		b->ops->stop(b);
}

/* Serve until the device stops or a signal says to stop it; 1 if told to. */
static int daemon_serve(struct ublk_dev *d, int sfd)
{
	struct pollfd pfd[2] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = d->event_fd, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	int stopping = 0, told = 0, left = 0;
	uint64_t cnt;

	int timeout = -1, ret;

	while (ublk_dev_threads_alive(d)) {
		ret = poll(pfd, 2, timeout);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if ((pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGUSR1) {
				daemon_dump(d);
				continue;
			}
			/* SIGUSR2: del or stop is about to send STOP_DEV */
			if (si.ssi_signo == SIGUSR2) {
				log_info("dev %u: a stop is coming", d->info.dev_id);
				daemon_stopping(d);
				continue;
			}
			log_info("dev %u: signal %u: stopping", d->info.dev_id,
				 si.ssi_signo);
			told = 1;
		}
		if (pfd[1].revents & POLLIN)
			(void)!read(d->event_fd, &cnt, sizeof(cnt));
		/*
		 * Told to stop: STOP_DEV aborts every fetch, so all queues end.
		 * A thread that ended because the kernel aborted its commands
		 * (STOP_DEV, QUIESCE_DEV: the device is QUIESCED only once we
		 * close it) is followed by the others, however long a loaded
		 * machine takes; after a grace period they are told to leave
		 * once idle, for a fetch the kernel skipped when it cancelled.
		 * One that failed by itself is not followed: after the grace
		 * period the device is stopped to end the rest.
		 */
		if (stopping)
			continue;
		if (!told && ret == 0 && timeout >= 0 && !ublk_dev_threads_failed(d)) {
			log_info("dev %u: a queue ended; telling the others to end once idle",
				 d->info.dev_id);
			ret = ublk_dev_threads_leave(d);
			if (ret < 0)
				log_err("dev %u: cannot wake the queue threads: %s",
					d->info.dev_id, strerror(-ret));
			left = 1;
			timeout = -1;
		} else if (told || (ret == 0 && timeout >= 0)) {
			stopping = 1;
			daemon_stopping(d);
			ublk_ctrl_stop_dev(d->ctrl, d->info.dev_id);
		} else if (timeout < 0 && (!left || ublk_dev_threads_failed(d)) &&
			   ublk_dev_threads_alive(d) < (int)d->nr_threads) {
			timeout = QUEUE_END_GRACE_MS;
		}
	}
	return told;
}

/*
 * Recovery: the kernel holds the device QUIESCED (or FAIL_IO) since the
 * old daemon died.  START_USER_RECOVERY is refused with -EBUSY while the
 * kernel is still releasing the old daemon's /dev/ublkcN: retry a while.
 */
static int daemon_recover_begin(struct ublk_dev *d, struct ublk_ctrl *c,
				struct backend *b, unsigned id)
{
	int ret, ms;

	ret = ublk_dev_attach(d, c, b, id);
	if (ret < 0)
		return ret;
	if (!(d->info.flags & UBLK_F_USER_RECOVERY)) {
		snprintf(d->err, sizeof(d->err),
			 "device %u was not added with user recovery (-r 1)", id);
		return -EINVAL;
	}
	for (ms = 0; ; ms += 100) {
		ret = ublk_ctrl_start_recovery(c, id);
		if (ret != -EBUSY || ms >= RECOVER_BUSY_MS)
			break;
		usleep(100000);
	}
	if (ret < 0)
		snprintf(d->err, sizeof(d->err),
			 "START_USER_RECOVERY on device %u: %s (state %s)", id,
			 strerror(-ret), ublk_state_name(d->info.state));
	return ret;
}

/* What the device is now: -errno if it is gone. */
static int dev_state(struct ublk_ctrl *c, unsigned id)
{
	struct ublksrv_ctrl_dev_info info;
	int ret = ublk_ctrl_get_info(c, id, &info);

	return ret < 0 ? ret : info.state;
}

static void detach_mount(const char *mnt, void *ctx)
{
	unsigned id = *(const unsigned *)ctx;

	if (umount2(mnt, MNT_DETACH) < 0)
		log_warn("dev %u: cannot detach %s from the daemon's mounts: %s",
			 id, mnt, strerror(errno));
}

void daemon_isolate(const struct add_opts *o)
{
	unsigned id = (unsigned)o->dev_id;

	/*
	 * A mount namespace of its own.  Sharing one with the disk's users,
	 * the daemon could hold the last reference to a filesystem on its
	 * own disk; its exit would then unmount it, and that waits for I/O
	 * only the exiting daemon could serve.  Private, so that no mount
	 * made later (its disk's) reaches it; a recovering daemon's disk
	 * may be mounted already: those mounts are detached here.
	 */
	if (unshare(CLONE_NEWNS) < 0) {
		if (errno == EPERM && geteuid() != 0)
			log_info("dev %u: the daemon shares the mount namespace (unprivileged: %s)",
				 id, strerror(errno));
		else
			log_warn("dev %u: no mount namespace of its own: %s", id,
				 strerror(errno));
	} else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		log_warn("dev %u: cannot make the daemon's mounts private: %s", id,
			 strerror(errno));
	} else if (o->dev_id >= 0) {
		disk_mounts(id, detach_mount, &id);
	}
	/* systemd spares processes whose argv[0] starts with '@' at switch_root */
	if ((o->root_storage || access("/etc/initrd-release", F_OK) == 0) &&
	    cli_env()->argv && cli_env()->argv[0] && cli_env()->argv[0][0])
		cli_env()->argv[0][0] = '@';
}

/* --shmem_zc: map the --htlb file and register it, before the queues start. */
static int daemon_shmem(struct ublk_dev *d, const struct add_opts *o)
{
	int fd, ret;

	if (!o->htlb)
		return 0;
	fd = open(o->htlb, (o->rdonly_shmem ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(d->err, sizeof(d->err), "--htlb %s: %s", o->htlb,
			 strerror(errno));
		return ret;
	}
	ret = ublk_dev_shmem_add(d, fd, o->rdonly_shmem);
	close(fd);
	return ret;
}

int daemon_run(struct add_opts *o, struct backend *b, int status_fd)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl c;
	struct ublk_dev d;
	sigset_t set;
	int sfd = -1, ret, told, state;

	opts_dev_info(o, &info);
	ret = ublk_ctrl_open(&c);
	if (ret < 0) {
		status_send(status_fd, "err cannot open %s: %s",
			    UBLK_CONTROL_PATH, strerror(-ret));
		return 1;
	}
	if (cli_env()->legacy_cmds)
		ublk_ctrl_use_legacy(&c);
	ret = signals_block(&set);
	if (ret == 0) {
		sfd = signalfd(-1, &set, SFD_CLOEXEC);
		if (sfd < 0)
			ret = -errno;
	}
	if (ret < 0) {
		status_send(status_fd, "err signals: %s", strerror(-ret));
		goto err_ctrl;
	}

	if (o->recover)
		ret = daemon_recover_begin(&d, &c, b, (unsigned)o->dev_id);
	else if (o->attach)
		ret = ublk_dev_attach(&d, &c, b, (unsigned)o->dev_id);
	else
		ret = ublk_dev_add(&d, &c, b, &info);
	if (ret < 0) {
		status_send(status_fd, "err %s", d.err);
		goto err_ctrl;
	}
	status_send(status_fd, "id %u", d.info.dev_id);
	/* the test and benchmark switches, read once at start */
	d.sw.no_commit = cli_env()->test_no_commit;
	d.sw.plain_ring = cli_env()->bench_plain_ring;
	d.sw.no_ring_fd = cli_env()->bench_no_ring_fd;
	d.sw.die_at = cli_env()->test_die_at;
	d.sw.one_fetch_buf = cli_env()->test_one_fetch_buf;
	ublk_test_die_point(&d, "after_add");
	d.io_flusher = 1;
	d.nr_threads = o->nr_threads;
	d.per_io = o->per_io;
	if (o->trace) {
		d.trace_fd = open_trace_marker();
		if (d.trace_fd < 0)
			log_warn("dev %u: --trace-marker: no trace_marker (is tracefs mounted?): %s",
				 d.info.dev_id, strerror(-d.trace_fd));
	}

	if (o->recover) {
		ret = ublk_dev_start_queues(&d);
		if (ret == 0)
			ret = ublk_dev_end_recovery(&d);
	} else {
		ret = daemon_shmem(&d, o);
		if (ret == 0)
			ret = ublk_dev_set_params(&d);
		if (ret == 0)
			ret = ublk_dev_start_queues(&d);
		if (ret == 0)
			ret = ublk_dev_start(&d);
		if (ret == 0 && b->ops->no_scheduler)
			daemon_no_scheduler(d.info.dev_id);
	}
	if (ret < 0)
		goto err_dev;

	ret = daemon_save(o, &d);
	if (ret < 0)
		log_warn("dev %u: cannot save its state in %s: %s", d.info.dev_id,
			 cli_env()->run_dir, strerror(-ret));
	log_info("dev %u: %s, %u queues of depth %u, %s backend, %llu bytes",
		 d.info.dev_id, o->recover ? "recovered" : "LIVE",
		 d.info.nr_hw_queues, d.info.queue_depth,
		 b->ops->name, (unsigned long long)b->size);
	if (o->name && ret == 0)
		daemon_name_link(o->name, d.info.dev_id);
	daemon_notify(d.info.dev_id);
	status_send(status_fd, "ok");
	if (status_fd >= 0)
		close(status_fd);

	told = daemon_serve(&d, sfd);
	ublk_dev_join_queues(&d);
	/* every request is answered: make what was written durable */
	if (b->ops->flush && b->ops->flush(b) < 0)
		log_err("dev %u: backend flush failed", d.info.dev_id);
	if (told) {
		/*
		 * DEL_DEV waits until nobody holds the disk: a mounted
		 * filesystem would keep the daemon waiting.  The async form
		 * removes it the moment the last holder lets go.
		 */
		ret = ublk_ctrl_del_dev_async(&c, d.info.dev_id);
		if (ret == -EOPNOTSUPP || ret == -EINVAL)
			ret = ublk_ctrl_del_dev(&c, d.info.dev_id);
		if (ret < 0)
			log_err("dev %u: DEL_DEV: %s", d.info.dev_id, strerror(-ret));
	}
	/* a quiesced device waits for `recover`, which needs the settings */
	state = dev_state(&c, d.info.dev_id);
	if (state < 0 || state == UBLK_S_DEV_DEAD) {
		int dfd = daemon_rundir();

		if (dfd >= 0) {
			rundir_unlink(dfd, d.info.dev_id);
			close(dfd);
		}
		if (o->name)
			disk_link_remove(o->name, d.info.dev_id);
	}
	log_info("dev %u: daemon exits (device %s)", d.info.dev_id,
		 state < 0 ? "deleted" : ublk_state_name((unsigned)state));
	if (d.trace_fd >= 0)
		close(d.trace_fd);
	close(sfd);
	ublk_ctrl_close(&c);
	return 0;

err_dev:
	status_send(status_fd, "err %s", d.err);
	/*
	 * A failed recovery leaves the device for another try: the queue
	 * threads, still holding fetches, end with the process.
	 */
	if (!o->recover)
		ublk_dev_destroy(&d);
err_ctrl:
	if (sfd >= 0)
		close(sfd);
	ublk_ctrl_close(&c);
	return 1;
}
