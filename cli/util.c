// SPDX-License-Identifier: MIT
/*
 * What every command shares: the environment, read once; one message
 * format; one option parser; decimal numbers; the control device.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static struct cli_env env;
static const struct cli_cmd *current;
static const char *subject;

static const char *env_str(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void cli_env_load(char **argv)
{
	env.argv = argv;
	env.run_dir = env_str("SUBLK_RUN_DIR");
	if (!env.run_dir)
		env.run_dir = "/run/sublk";
	env.table = env_str("SUBLK_TABLE");
	if (!env.table)
		env.table = TABLE_PATH;
	env.legacy_cmds = env_str("SUBLK_LEGACY_CMDS") != NULL;
	env.no_auto_buf_reg = env_str("SUBLK_NO_AUTO_BUF_REG") != NULL;
	env.test_no_commit = env_str("SUBLK_TEST_NO_COMMIT") != NULL;
	env.test_die_at = env_str("SUBLK_TEST_DIE_AT");
	env.test_one_fetch_buf = env_str("SUBLK_TEST_ONE_FETCH_BUF") != NULL;
	env.bench_plain_ring = env_str("SUBLK_BENCH_PLAIN_RING") != NULL;
	env.bench_no_ring_fd = env_str("SUBLK_BENCH_NO_RING_FD") != NULL;
}

const struct cli_env *cli_env(void)
{
	return &env;
}

void cli_set_cmd(const struct cli_cmd *cmd)
{
	current = cmd;
}

const char *cli_cmd_name(void)
{
	return current ? current->name : NULL;
}

void cli_set_subject(const char *s)
{
	subject = s;
}

static void vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("sublk: ", stderr);
	if (current)
		fprintf(stderr, "%s: ", current->name);
	if (subject)
		fprintf(stderr, "%s: ", subject);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void die_usage(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (current)
		die("%s (see sublk %s --help)", msg, current->name);
	die("%s", msg);
}

void cli_help(void)
{
	printf("usage: sublk %s %s\n%s", current->name, current->usage,
	       current->help);
	exit(0);
}

int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == 'h')
		cli_help();
	if (c == '?') {
		if (optopt && optopt != '?')
			die_usage("unknown option '-%c'", optopt);
		die_usage("unknown option '%s'", opts_culprit(argc, argv));
	}
	if (c == ':')
		die_usage("option '%s' needs a value", opts_culprit(argc, argv));
	return c;
}

void cli_no_args(int argc, char **argv)
{
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
}

unsigned long cli_uint(const char *s, unsigned long min, unsigned long max,
		       const char *what)
{
	unsigned long v;

	if (opts_parse_uint(s, max, &v) < 0 || v < min)
		die("bad %s '%s' (a decimal number from %lu to %lu)", what, s,
		    min, max);
	return v;
}

unsigned cli_dev_id(const char *s)
{
	return (unsigned)cli_uint(s, 0, UBLK_MAX_UBLKS - 1, "device id");
}

/* Why io_uring cannot be used here, when /dev/ublk-control can be opened. */
static void die_no_uring(int err)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
	}
	if (buf[0] == '1' || buf[0] == '2')
		die("io_uring is disabled on this system (kernel.io_uring_disabled = %c); ublk needs it",
		    buf[0]);
	die("io_uring_setup failed: %s (blocked by a seccomp filter or a container runtime?); ublk needs io_uring",
	    strerror(err));
}

void cli_ctrl_open(struct ublk_ctrl *c)
{
	int ret = ublk_ctrl_open(c);
	int fd;

	if (ret == -ENOENT)
		die("%s not found: the ublk_drv module is not loaded "
		    "(run 'modprobe ublk_drv' as root)", UBLK_CONTROL_PATH);
	if (ret == -EACCES || ret == -EPERM || ret == -ENOSYS) {
		/* the control device opens: then io_uring is what is refused */
		fd = open(UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			die_no_uring(-ret);
		}
		if (ret != -ENOSYS)
			die("permission denied opening %s (run as root, or see --unprivileged)",
			    UBLK_CONTROL_PATH);
	}
	if (ret < 0)
		die("cannot open %s: %s", UBLK_CONTROL_PATH, strerror(-ret));
	if (env.legacy_cmds)
		ublk_ctrl_use_legacy(c);
}

void cli_get_info(struct ublk_ctrl *c, unsigned id,
		  struct ublksrv_ctrl_dev_info *info)
{
	int ret = ublk_ctrl_get_info(c, id, info);

	if (ret == -ENOENT || ret == -ENODEV)
		die("device %u does not exist", id);
	if (ret == -EPERM || ret == -EACCES)
		die("device %u: permission denied (another user's device?)", id);
	if (ret < 0)
		die("device %u: GET_DEV_INFO: %s", id, strerror(-ret));
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* The char devices name every device, started or not: sysfs, else /dev. */
int cli_dev_ids(unsigned **ids)
{
	DIR *dir = opendir("/sys/class/ublk-char");
	size_t n = 0, cap = 0;
	struct dirent *de;
	unsigned *v = NULL, *nv;
	unsigned long id;

	*ids = NULL;
	if (!dir)
		dir = opendir("/dev");
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "ublkc", 5) ||
		    opts_parse_uint(de->d_name + 5, UBLK_MAX_UBLKS - 1, &id) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				die("out of memory");
			v = nv;
		}
		v[n++] = (unsigned)id;
	}
	closedir(dir);
	if (n)
		qsort(v, n, sizeof(*v), cmp_uint);
	*ids = v;
	return (int)n;
}

void cli_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}
