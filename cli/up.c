// SPDX-License-Identifier: MIT
/*
 * The device table's commands: up (bring entries up, leaving those that
 * are up alone), down (take them down, not from under a user), status
 * (the table against the devices), name (a device's table name, for a
 * udev rule).  A device belongs to an entry by the name in its run state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli.h"

struct up_args {
	const char *table;	/* --table, $SUBLK_TABLE or /etc/sublktab */
	int initramfs;		/* only the entries marked x-initramfs */
	int force;		/* down: even a disk in use */
	int root_storage;	/* up --root-storage: every daemon it starts */
	char **names;
	int nr_names;
};

/* A device whose run state names a table entry, as it is now. */
struct named_dev {
	unsigned id;
	char name[RS_MAX_NAME + 1];
	char target[16];	/* the -t of its saved options */
	int state;		/* UBLK_S_DEV_* */
	int alive;		/* its saved daemon runs and is proven ours */
	pid_t pid;		/* the kernel's daemon pid */
	uint64_t flags;
};

struct reality {
	struct named_dev *devs;
	int nr;
};

enum { OPT_TABLE = 256, OPT_INITRAMFS, OPT_FORCE, OPT_ROOT_STORAGE };

static void parse_args(int argc, char **argv, struct up_args *a)
{
	static const struct option longopts[] = {
		{ "table", 1, NULL, OPT_TABLE },
		{ "initramfs", 0, NULL, OPT_INITRAMFS },
		{ "force", 0, NULL, OPT_FORCE },
		{ "root-storage", 0, NULL, OPT_ROOT_STORAGE },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i;

	memset(a, 0, sizeof(*a));
	a->table = cli_env()->table;
	while ((c = cli_getopt(argc, argv, ":h", longopts)) != -1) {
		if (c == OPT_TABLE)
			a->table = optarg;
		else if (c == OPT_INITRAMFS)
			a->initramfs = 1;
		else if (c == OPT_FORCE && !strcmp(argv[0], "down"))
			a->force = 1;
		else if (c == OPT_FORCE)
			die_usage("unknown option '--force'");
		else if (c == OPT_ROOT_STORAGE && !strcmp(argv[0], "up"))
			a->root_storage = 1;
		else if (c == OPT_ROOT_STORAGE)
			die_usage("unknown option '--root-storage'");
	}
	a->names = argv + optind;
	a->nr_names = argc - optind;
	for (i = 0; i < a->nr_names; i++)
		if (!rs_name_valid(a->names[i], strlen(a->names[i])))
			die_usage("bad name '%s'", a->names[i]);
	if (a->nr_names && a->initramfs)
		die_usage("give NAMEs or --initramfs, not both");
}

/* The table; with !@need a missing one is empty. */
static void load_table(const struct up_args *a, struct table *t, int need)
{
	char err[512];
	int ret = table_load(a->table, t, err, sizeof(err));

	if (ret == -ENOENT && !need)
		return;
	if (ret < 0)
		die("%s", err);
}

/* Is @name one the command line or --initramfs asks for? */
static int selected(const struct up_args *a, const char *name, int initramfs)
{
	int i;

	if (a->initramfs)
		return initramfs;
	if (!a->nr_names)
		return 1;
	for (i = 0; i < a->nr_names; i++)
		if (!strcmp(a->names[i], name))
			return 1;
	return 0;
}

/* Every NAME given must be in the table. */
static void check_names(const struct up_args *a, const struct table *t)
{
	int i;

	for (i = 0; i < a->nr_names; i++)
		if (!table_find(t, a->names[i]))
			die("no entry '%s' in %s", a->names[i], a->table);
}

static void scan(struct reality *r)
{
	struct ublksrv_ctrl_dev_info info;
	struct named_dev *d;
	struct ublk_ctrl c;
	struct run_state s;
	unsigned *ids;
	int n, i, pidfd;

	memset(r, 0, sizeof(*r));
	n = cli_dev_ids(&ids);
	if (!n)
		return;
	r->devs = calloc((size_t)n, sizeof(*r->devs));
	if (!r->devs)
		die("out of memory");
	cli_ctrl_open(&c);
	for (i = 0; i < n; i++) {
		if (ublk_ctrl_get_info(&c, ids[i], &info) < 0)
			continue;
		if (cli_state_load(ids[i], &s) < 0)
			continue;
		d = &r->devs[r->nr];
		if (s.name && s.dev_id == ids[i]) {
			d->id = ids[i];
			snprintf(d->name, sizeof(d->name), "%s", s.name);
			if (s.nr_args >= 2 && !strcmp(s.args[0], "-t"))
				snprintf(d->target, sizeof(d->target), "%s", s.args[1]);
			d->state = info.state;
			d->flags = info.flags;
			d->pid = (pid_t)info.ublksrv_pid;
			pidfd = cli_daemon_pidfd(ids[i], info.ublksrv_pid);
			d->alive = pidfd >= 0;
			if (pidfd >= 0)
				close(pidfd);
			r->nr++;
		}
		rs_free(&s);
	}
	/* no fd of the control device may reach the daemons forked later */
	ublk_ctrl_close(&c);
	free(ids);
}

static const struct named_dev *find_dev(const struct reality *r, const char *name)
{
	int i;

	for (i = 0; i < r->nr; i++)
		if (!strcmp(r->devs[i].name, name))
			return &r->devs[i];
	return NULL;
}

/* ---- up ---- */

/* A device that lost its daemon and can get a new one. */
static int recoverable(const struct named_dev *d)
{
	return (d->flags & UBLK_F_USER_RECOVERY) &&
	       (d->state == UBLK_S_DEV_QUIESCED || d->state == UBLK_S_DEV_FAIL_IO);
}

/* In a child, so that one entry's failure (die) does not stop the others. */
static void __attribute__((noreturn)) up_child(const struct table_entry *e,
					      const struct named_dev *d,
					      int root_storage)
{
	struct add_opts o;
	char why[320];
	unsigned id;

	cli_set_subject(e->name);
	if (d) {
		cli_recover_device(d->id, 0, 0);
		printf("%s: recovered, device %u (/dev/ublkb%u)\n", e->name, d->id, d->id);
		exit(0);
	}
	if (table_entry_opts(e, &o, why, sizeof(why)) < 0)
		die("%s", why);	/* checked when the table was read */
	o.root_storage |= root_storage;
	cli_add_device(&o, &id);
	printf("%s: up, device %u (/dev/ublkb%u)\n", e->name, id, id);
	exit(0);
}

/* A process's cgroup (v2: the "0::" line of /proc/PID/cgroup), in @buf. */
static int read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[48];
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(buf, (int)len, f))
		if (!strncmp(buf, "0::", 3)) {
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/*
 * Under Type=notify, an entry already up: its daemon becomes the main
 * process if it runs in this service's cgroup (a restart raced with it).
 * One started elsewhere (by the initramfs, by hand) is not adopted: the
 * service would kill it at stop.
 */
static int up_adopt(const struct table_entry *e, const struct named_dev *d)
{
	char mine[512], its[512];
	int ret;

	if (read_cgroup(getpid(), mine, sizeof(mine)) < 0 ||
	    read_cgroup(d->pid, its, sizeof(its)) < 0 || strcmp(mine, its)) {
		warn("%s: already up, device %u served by pid %d outside this service; not taking it over",
		     e->name, d->id, (int)d->pid);
		return 1;
	}
	ret = notify_ready(d->pid, d->id);
	if (ret < 0) {
		warn("%s: cannot tell the service manager (NOTIFY_SOCKET): %s",
		     e->name, strerror(-ret));
		return 1;
	}
	printf("%s: already up, device %u (/dev/ublkb%u)\n", e->name, d->id, d->id);
	return 0;
}

static int up_entry(const struct table_entry *e, const struct named_dev *d,
		    int root_storage)
{
	int status;
	pid_t pid;

	if (d && d->alive && getenv("NOTIFY_SOCKET"))
		return up_adopt(e, d);
	if (d && d->alive) {
		printf("%s: already up, device %u (/dev/ublkb%u)\n", e->name, d->id, d->id);
		return 0;
	}
	/*
	 * A device whose daemon died and that cannot be recovered is DEAD:
	 * no disk, nothing to lose.  It goes, and the entry comes up anew
	 * (systemctl start after a crash).  One in another state may still
	 * be held: that is for the administrator.
	 */
	if (d && !recoverable(d) && d->state == UBLK_S_DEV_DEAD) {
		if (cli_del(&d->id, 1, DEL_SAFE, NULL))
			return 1;
		printf("%s: device %u had lost its daemon (DEAD): removed\n", e->name, d->id);
		d = NULL;
	}
	if (d && !recoverable(d)) {
		warn("%s: device %u has no daemon (%s); take it down first (sublk down %s)",
		     e->name, d->id, ublk_state_name((unsigned)d->state), e->name);
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		up_child(e, d, root_storage);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	return !WIFEXITED(status) || WEXITSTATUS(status);
}

int cmd_up(int argc, char **argv)
{
	struct up_args a;
	struct reality r;
	struct table t;
	unsigned i, n;
	int failed = 0;

	parse_args(argc, argv, &a);
	load_table(&a, &t, 1);
	check_names(&a, &t);
	/* one service, one main process: systemd's sublk@NAME */
	for (i = 0, n = 0; i < t.nr; i++)
		n += selected(&a, t.entries[i].name, t.entries[i].initramfs);
	if (getenv("NOTIFY_SOCKET") && n != 1)
		die("under a service manager's Type=notify (NOTIFY_SOCKET), up takes exactly one NAME (here %u entries)",
		    n);
	cli_lock();
	scan(&r);
	for (i = 0; i < t.nr; i++) {
		const struct table_entry *e = &t.entries[i];

		if (selected(&a, e->name, e->initramfs))
			failed |= up_entry(e, find_dev(&r, e->name), a.root_storage);
	}
	free(r.devs);
	table_free(&t);
	return failed;
}

/* ---- down ---- */

int cmd_down(int argc, char **argv)
{
	const struct named_dev **devs;
	struct up_args a;
	struct reality r;
	struct table t;
	unsigned *ids;
	int i, n = 0, failed = 0, *failed_each;

	parse_args(argc, argv, &a);
	/* a device named on the command line goes down even if the table lost it */
	load_table(&a, &t, !a.nr_names);
	if (cli_rundir(0) >= 0)
		cli_lock();
	scan(&r);
	ids = calloc((size_t)r.nr + 1, sizeof(*ids));
	devs = calloc((size_t)r.nr + 1, sizeof(*devs));
	failed_each = calloc((size_t)r.nr + 1, sizeof(*failed_each));
	if (!ids || !devs || !failed_each)
		die("out of memory");
	for (i = 0; i < a.nr_names; i++) {
		const struct named_dev *d = find_dev(&r, a.names[i]);

		if (d)
			continue;
		if (table_find(&t, a.names[i])) {
			printf("%s: already down\n", a.names[i]);
		} else {
			warn("no device named '%s', and no such entry in %s",
			     a.names[i], a.table);
			failed = 1;
		}
	}
	for (i = 0; i < r.nr; i++) {
		const struct named_dev *d = &r.devs[i];
		const struct table_entry *e = table_find(&t, d->name);

		/* without NAMEs: every entry of the table that is up */
		if (a.nr_names ? selected(&a, d->name, 0) :
		    e && selected(&a, d->name, e->initramfs)) {
			devs[n] = d;
			ids[n++] = d->id;
		}
	}
	if (cli_del(ids, n, a.force ? DEL_FORCE : DEL_SAFE, failed_each))
		failed = 1;
	for (i = 0; i < n; i++)
		if (!failed_each[i])
			printf("%s: down, was device %u\n", devs[i]->name, ids[i]);
	free(failed_each);
	free(devs);
	free(ids);
	free(r.devs);
	table_free(&t);
	return failed;
}

/* ---- status ---- */

static const char *dev_state_word(const struct named_dev *d)
{
	if (!d)
		return "down";
	if (d->alive)
		return "up";
	if (d->state == UBLK_S_DEV_QUIESCED)
		return "quiesced";
	return "dead-daemon";
}

static void status_line(int width, const char *name, const char *target,
			const struct named_dev *d, const char *state)
{
	char id[16] = "-", link[RS_MAX_NAME + 16] = "-";

	if (d) {
		snprintf(id, sizeof(id), "%u", d->id);
		if (disk_link_read(name) == (long)d->id)
			snprintf(link, sizeof(link), "%s/%s", DISK_LINK_DIR, name);
	}
	printf("%-*s %-8s %-5s %-12s %s\n", width, name, target, id, state, link);
}

int cmd_status(int argc, char **argv)
{
	struct up_args a;
	struct reality r;
	struct table t;
	unsigned i;
	int width = 4, not_up = 0, j;

	parse_args(argc, argv, &a);
	load_table(&a, &t, 0);
	scan(&r);
	for (i = 0; i < t.nr; i++)
		if ((int)strlen(t.entries[i].name) > width)
			width = (int)strlen(t.entries[i].name);
	for (j = 0; j < r.nr; j++)
		if ((int)strlen(r.devs[j].name) > width)
			width = (int)strlen(r.devs[j].name);
	for (i = 0; i < t.nr; i++) {
		const struct table_entry *e = &t.entries[i];
		const struct named_dev *d = find_dev(&r, e->name);

		if (!selected(&a, e->name, e->initramfs))
			continue;
		status_line(width, e->name, e->target, d, dev_state_word(d));
		not_up |= !d || !d->alive;
	}
	/* devices named by a table entry that is gone */
	for (j = 0; j < r.nr; j++) {
		const struct named_dev *d = &r.devs[j];

		if (table_find(&t, d->name) || !selected(&a, d->name, 0) || a.initramfs)
			continue;
		status_line(width, d->name, d->target[0] ? d->target : "-", d,
			    "not-in-table");
	}
	for (j = 0; j < a.nr_names; j++)
		if (!table_find(&t, a.names[j]) && !find_dev(&r, a.names[j])) {
			warn("no entry '%s' in %s, and no device of that name",
			     a.names[j], a.table);
			not_up = 1;
		}
	free(r.devs);
	table_free(&t);
	return not_up ? 3 : 0;
}

/* ---- name ---- */

/*
 * sublk name ublkbN: the table name of the device, for a udev rule
 * (PROGRAM="/usr/sbin/sublk name %k", SYMLINK+="sublk/%c").  Nothing and
 * exit 1 when it has none, or when its run state is not its daemon's:
 * the kernel must know the saved pid as the daemon's (a daemon that died
 * with -r 1 keeps its name until it is recovered).
 */
int cmd_name(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl c;
	struct run_state s;
	const char *arg;
	unsigned long id;
	int ok;

	static const struct option longopts[] = {
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while (cli_getopt(argc, argv, ":h", longopts) != -1)
		;
	if (optind != argc - 1)
		die_usage("give one device: ublkbN");
	arg = argv[optind];
	if (!strncmp(arg, "/dev/", 5))
		arg += 5;
	if (strncmp(arg, "ublkb", 5) ||
	    opts_parse_uint(arg + 5, UBLK_MAX_UBLKS - 1, &id) < 0)
		die_usage("'%s' is not a ublk disk (ublkbN)", argv[optind]);
	if (cli_rundir(0) < 0 || rs_load(cli_rundir(0), (unsigned)id, &s) < 0)
		return 1;
	ok = s.name && rs_daemon_is_ours(&s);
	if (s.name && !ok && ublk_ctrl_open(&c) == 0) {
		ok = ublk_ctrl_get_info(&c, (unsigned)id, &info) == 0 &&
		     (int)info.ublksrv_pid == s.pid;
		ublk_ctrl_close(&c);
	}
	if (ok)
		printf("%s\n", s.name);
	rs_free(&s);
	return !ok;
}
