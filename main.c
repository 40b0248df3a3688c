// SPDX-License-Identifier: MIT
/*
 * sublk: a static, dependency-free ublk server, with the command line of
 * ublksrv's `ublk`.  This file only dispatches: each command lives in cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef SUBLK_VERSION
#define SUBLK_VERSION "dev"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct cli_cmd commands[] = {
	{ "add", cmd_add,
	  "-t TYPE [OPTIONS] [TARGET OPTIONS]",
	  "Add a device and serve it from a detached daemon; prints the device.\n"
	  "  -t, --type TYPE          null, mem, loop, stripe, fault, nbd or zoned\n"
	  "  -n, --number ID          device id (default: the kernel picks)\n"
	  "  -q, --queues N           hardware queues (default 1; at most one per CPU)\n"
	  "  -d, --depth N            queue depth, 1..4096 (default 128)\n"
	  "  -u, --uring_comp 0|1     URING_CMD_COMP_IN_TASK\n"
	  "  -g, --need_get_data 0|1  NEED_GET_DATA\n"
	  "  -r, --user_recovery 0|1  keep the device when the daemon dies\n"
	  "  -i, --user_recovery_reissue 0|1, -e, --user_recovery_fail_io 0|1\n"
	  "  -z, --zerocopy           zero copy (Linux 6.15+; null, loop, stripe, nbd)\n"
	  "      --usercopy           user copy (Linux 6.5+)\n"
	  "      --copy               the copy path.  Without one of these three, the\n"
	  "                           fastest the driver offers: zero copy for loop,\n"
	  "                           user copy for mem, else copy (list shows it)\n"
	  "  -b, --batch-io           batch I/O commands (Linux 7.0+)\n"
	  "      --nthreads N --per_io_tasks   threads that share queues (6.16+)\n"
	  "      --unprivileged       a device its owner may use (Linux 6.3+)\n"
	  "      --no_auto_part_scan  no partition scan when the disk appears (7.0+)\n"
	  "      --shmem_zc --htlb FILE   serve in place the I/O whose buffers are\n"
	  "                           in FILE (hugetlbfs or tmpfs), mapped by clients\n"
	  "                           too (7.1+); --rdonly_shmem_buf: writes only\n"
	  "      --metadata_size N    integrity (7.0+; mem, fault, null, loop; user\n"
	  "                           copy): N bytes of metadata per block, kept beside it\n"
	  "      --csum_type none|ip|t10dif|nvme   its PI checksum (nvme: CRC64)\n"
	  "      --pi_offset N --tag_size N   where the PI starts; the tag size\n"
	  "      --integrity_reftag   PI with reference tag (type 1, not type 3)\n"
	  "      --integrity_capable  the device is said to check PI itself\n"
	  "      --max_io_buf_bytes N largest request (default 512K)\n"
	  "      --logical_block_size N   512, 1024, 2048 or 4096\n"
	  "      --dma_alignment MASK --max_segments N --max_segment_size N\n"
	  "      --seg_boundary_mask MASK   request limits the kernel keeps to\n"
	  "      --io_desc_size N     descriptor size, 24..256 (IO_DESC_SIZE, 7.3+)\n"
	  "      --foreground         serve in this process\n"
	  "      --trace-marker       annotate ftrace's trace_marker\n"
	  "      --root-storage       the daemon's argv[0] starts with '@', so systemd\n"
	  "                           spares it at switch_root and shutdown (always\n"
	  "                           so where /etc/initrd-release exists)\n"
	  "  -v, --verbose            log every request to kmsg\n"
	  "      --debug_mask N       the same, when N is not 0 (ublksrv's spelling)\n"
	  "Targets:\n"
	  "  null  [-s SIZE]          (default 250G)\n"
	  "  mem   -s SIZE            RAM disk, memory used only when written\n"
	  "  loop  -f FILE [--buffered_io] [-s SIZE] [--metadata_file FILE]\n"
	  "        integrity: the metadata, N bytes a block at block * N in FILE\n"
	  "  stripe -f FILE -f FILE [-f FILE]... [--chunk_size BYTES] [--buffered_io]\n"
	  "        RAID-0 over 2..8 files or block devices; chunk a power of two,\n"
	  "        4K..1M (default 64K)\n"
	  "  fault [-s SIZE] [--fault SPEC]   testing aid, see README (SPEC:\n"
	  "        delay_ms fail_nth fail_all fail_op stall_nth stall_op die_nth\n"
	  "        corrupt_pi=BLOCK)\n"
	  "  nbd   --unix PATH | --host HOST [--port PORT] | --uri URI\n"
	  "        [--export_name NAME] [--read_only] [--connections N]\n"
	  "        [--timeout SECONDS]   a client of any NBD server (see README)\n"
	  "  zoned -s SIZE [--zone_size SIZE] [--conv_zones N] [--max_open_zones N]\n"
	  "        [--max_active_zones N]   zoned RAM disk (Linux 6.6+, user copy);\n"
	  "        zones of 256M by default, the first N conventional, 0: no limit\n"
	  "SIZE: decimal bytes with an optional K, M, G or T (powers of 1024).\n" },
	{ "del", cmd_del, "-n ID [-n ID]... | -a [--async]",
	  "Stop devices, wait for their daemons, delete them.\n"
	  "  -n, --number ID   the device (repeat for several)\n"
	  "  -a, --all         every device\n"
	  "      --async       DEL_DEV_ASYNC: do not wait for the last opener\n" },
	{ "list", cmd_list, "[-n ID] [-v]",
	  "Show devices as ublksrv does; -v prints one JSON array.\n" },
	{ "recover", cmd_recover, "-n ID [--foreground] [-v]",
	  "Start a new daemon for a -r 1 device whose daemon died or was quiesced.\n" },
	{ "stop", cmd_stop, "-n ID [--safe]",
	  "Stop serving a device (--safe: refuse while it is open; Linux 7.0+).\n" },
	{ "quiesce", cmd_quiesce, "-n ID",
	  "Park a -r 1 device for a daemon upgrade; `recover` resumes it.\n" },
	{ "update_size", cmd_update_size, "-n ID -s SIZE",
	  "Change a device's size (mem: up to 4 times its size; loop: grows the file).\n" },
	{ "dump", cmd_dump, "-n ID",
	  "Print what every queue and tag of the device's daemon is doing.\n" },
	{ "features", cmd_features, "",
	  "What the running ublk driver supports, and what sublk uses.\n" },
	{ "up", cmd_up, "[--table PATH] [--root-storage] [NAME... | --initramfs]",
	  "Bring up the devices of the device table (all, or the NAMEs given), each\n"
	  "as `add` would with the entry's options; one that is up is left alone.\n"
	  "A device gets the link /dev/sublk/NAME (from sublk itself without udev,\n"
	  "from the udev rule that calls `sublk name` with it).\n"
	  "      --table PATH     the table (default $SUBLK_TABLE or /etc/sublktab)\n"
	  "      --initramfs      only the entries marked x-initramfs\n"
	  "      --root-storage   the daemons keep serving through switch_root and\n"
	  "                       shutdown (argv[0] '@'; for the initramfs)\n"
	  "Table: one device per line, NAME TARGET [add options], e.g.\n"
	  "  data  loop  -f /srv/data.img -q 2\n"
	  "  root  nbd   --host 10.0.0.1 --export_name root -r 1 x-initramfs\n"
	  "NAME: 1 to 32 of A-Z a-z 0-9 _ . - (not . or ..).  Words are separated by\n"
	  "blanks; \"double quotes\" and backslashes make words with blanks; a word\n"
	  "that starts with # starts a comment.  The unquoted word x-initramfs marks\n"
	  "an entry for the initramfs; it is not passed to add.  Files by absolute\n"
	  "path; no -t (the target is the second field) and no --foreground.  The\n"
	  "table must be owned by root or you and writable by nobody else.\n" },
	{ "down", cmd_down, "[--table PATH] [--force] [NAME... | --initramfs]",
	  "Take down the table's devices that are up (all, or the NAMEs given, even\n"
	  "ones the table no longer has), as del does.  A disk in use (open, mounted,\n"
	  "held by another device) is left alone: \"device N (NAME) is in use\".\n"
	  "      --force          take it down anyway (its user gets I/O errors)\n"
	  "      --table PATH, --initramfs   as for up\n" },
	{ "status", cmd_status, "[--table PATH] [NAME... | --initramfs]",
	  "The table against the devices, one line per entry:\n"
	  "  NAME TARGET DEVICE-ID|- STATE /dev/sublk/NAME|-\n"
	  "STATE: up, down, dead-daemon, quiesced, or not-in-table for a device whose\n"
	  "name the table no longer has.  Exit status 3 if an entry shown is not up.\n" },
	{ "name", cmd_name, "ublkbN",
	  "Print the table name of device ublkbN from its run state; print nothing\n"
	  "and exit 1 if it has none.  For a udev rule:\n"
	  "  KERNEL==\"ublkb[0-9]*\", ENV{DEVTYPE}==\"disk\", \\\n"
	  "    PROGRAM=\"/usr/sbin/sublk name %k\", SYMLINK+=\"sublk/%c\"\n" },
	{ "help", cmd_help, "[COMMAND]", "This list, or one command's help.\n" },
	{ "version", cmd_version, "", "Print the version.\n" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *find_cmd(const char *name)
{
	unsigned i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	unsigned i;

	fprintf(f, "usage: sublk COMMAND [OPTIONS]   (sublk COMMAND --help)\n\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].usage);
	fprintf(f, "\nRun directory: $SUBLK_RUN_DIR or /run/sublk.  Device table: $SUBLK_TABLE\n"
		   "or /etc/sublktab (sublk up --help).\n");
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		cli_help();
	if (argc > 1)
		die_usage("unexpected argument '%s'", argv[1]);
	printf("sublk %s\n", SUBLK_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		cli_help();
	c = find_cmd(argv[1]);
	if (!c)
		die("no command '%s'", argv[1]);
	cli_set_cmd(c);
	cli_help();
}

/* Called through a link named kublk (any directory, any prefix before it)? */
static int called_kublk(const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	size_t n;

	base = base ? base + 1 : argv0;
	n = strlen(base);
	return n >= 5 && !strcmp(base + n - 5, "kublk");
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;
	const char *name;

	if (argc > 0 && called_kublk(argv[0])) {
		cli_env_load(argv);
		return kublk_main(argc, argv);
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	name = argv[1];
	cli_env_load(argv);
	if (!strcmp(name, "--version") || !strcmp(name, "-V"))
		name = "version";
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		name = "help";
	c = find_cmd(name);
	if (!c) {
		fprintf(stderr, "sublk: unknown command '%s'\n", name);
		usage(stderr);
		return 1;
	}
	cli_set_cmd(c);
	optind = 0;	/* a full getopt reset, for glibc and musl alike */
	return c->fn(argc - 1, argv + 1);
}
