// SPDX-License-Identifier: MIT
/*
 * sublk: a static, dependency-free ublk server, with the command line of
 * ublksrv's `ublk`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#ifndef SUBLK_VERSION
#define SUBLK_VERSION "dev"
#endif

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("sublk: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

int cli_ctrl_open(struct ublk_ctrl *c)
{
	int ret = ublk_ctrl_open(c);

	if (ret == -ENOENT)
		die("%s not found: the ublk_drv module is not loaded "
		    "(run 'modprobe ublk_drv' as root)", UBLK_CONTROL_PATH);
	if (ret == -EACCES || ret == -EPERM)
		die("permission denied opening %s (run as root)",
		    UBLK_CONTROL_PATH);
	if (ret < 0)
		die("cannot open %s: %s", UBLK_CONTROL_PATH, strerror(-ret));
	if (getenv("SUBLK_LEGACY_CMDS"))
		ublk_ctrl_use_legacy(c);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: sublk COMMAND [OPTIONS]\n"
"\n"
"  add -t TYPE [-n ID] [-q NR_QUEUES] [-d DEPTH] [-u 0|1] [-g 0|1]\n"
"      [-r 0|1] [-i 0|1] [-e 0|1] [--max_io_buf_bytes N] [--foreground]\n"
"      [--debug_mask N | -v] [--logical_block_size N] [--trace-marker]\n"
"      [-z|--zerocopy | --usercopy] [--unprivileged]\n"
"      [-b|--batch-io] [--nthreads N --per_io_tasks] [TARGET OPTIONS]\n"
"        TYPE null:  [-s SIZE]            (default 250G)\n"
"        TYPE mem:   -s SIZE              RAM disk, memory used only when written\n"
"        TYPE loop:  -f FILE [--buffered_io] [-s SIZE]\n"
"        TYPE fault: [-s SIZE] [--fault SPEC]  testing aid, see README\n"
"  del -n ID | -a [--async]\n"
"  recover -n ID [--foreground]   restart the daemon of a -r 1 device\n"
"  stop -n ID [--safe]            stop serving (--safe: refuse while open)\n"
"  quiesce -n ID                  park the device for a daemon upgrade\n"
"  update_size -n ID -s BYTES     grow a mem or loop device\n"
"  dump -n ID                     what every queue and tag is doing (SIGUSR1)\n"
"  list [-n ID] [-v]\n"
"  features\n"
"  help, --version\n"
"\n"
"Run directory: $SUBLK_RUN_DIR or /run/sublk.\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "help";

	if (!strcmp(cmd, "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(cmd, "del"))
		return cmd_del(argc - 1, argv + 1);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(cmd, "recover"))
		return cmd_recover(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "stop"))
		return cmd_stop(argc - 1, argv + 1);
	if (!strcmp(cmd, "quiesce"))
		return cmd_quiesce(argc - 1, argv + 1);
	if (!strcmp(cmd, "update_size"))
		return cmd_update_size(argc - 1, argv + 1);
	if (!strcmp(cmd, "features"))
		return cmd_features(argc - 1, argv + 1);
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("sublk %s\n", SUBLK_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "sublk: unknown command '%s'\n", cmd);
	usage(stderr);
	return 1;
}
