/* SPDX-License-Identifier: MIT */
/*
 * The command line: one file per command, die-style helpers only here.
 * Every message is one line, "sublk: CMD: what went wrong".
 */
#ifndef SUBLK_CLI_H
#define SUBLK_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../ublk/ublk.h"
#include "../backend/backend.h"
#include "runstate.h"

/* ---- the command table (main.c) and the helpers every command uses ---- */

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv[0] is the name */
	const char *usage;			/* after "sublk NAME " */
	const char *help;			/* the rest of --help */
};

/* The environment, read once at start (cli_env_load). */
struct cli_env {
	const char *run_dir;	/* SUBLK_RUN_DIR, or /run/sublk */
	const char *table;	/* SUBLK_TABLE, or /etc/sublktab */
	char **argv;		/* main's: the daemon marks its argv[0] */
	int legacy_cmds;	/* SUBLK_LEGACY_CMDS: raw command numbers */
	int no_auto_buf_reg;	/* SUBLK_NO_AUTO_BUF_REG: -z registers by hand */
	/* test and benchmark switches, handed to the daemon's device */
	int test_no_commit;	/* SUBLK_TEST_NO_COMMIT */
	const char *test_die_at;	/* SUBLK_TEST_DIE_AT */
	int test_one_fetch_buf;	/* SUBLK_TEST_ONE_FETCH_BUF */
	int bench_plain_ring;	/* SUBLK_BENCH_PLAIN_RING */
	int bench_no_ring_fd;	/* SUBLK_BENCH_NO_RING_FD */
};

void cli_env_load(char **argv);
const struct cli_env *cli_env(void);

/* The running command (set by main) and its table entry, for messages. */
void cli_set_cmd(const struct cli_cmd *cmd);
const char *cli_cmd_name(void);
/* What the messages are about, after the command: "sublk: up: NAME: ..." */
void cli_set_subject(const char *subject);

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "sublk: CMD: ..." on stderr, exit 2 with the usage line. */
void die_usage(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Print the command's usage and help to stdout; exit 0. */
void cli_help(void) __attribute__((noreturn));

/*
 * getopt_long for every command: "--help" and "-h" print the help and
 * exit; an unknown option or a missing value dies with the usage.
 * Returns the option, or -1 at the end of the options.
 */
int cli_getopt(int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* Die unless every argument was an option. */
void cli_no_args(int argc, char **argv);

/* Decimal only, range-checked; @what names the value in the message. */
unsigned long cli_uint(const char *s, unsigned long min, unsigned long max,
		       const char *what);
unsigned cli_dev_id(const char *s);

/* Open the control device, saying why when it cannot be. */
void cli_ctrl_open(struct ublk_ctrl *c);
/* GET_DEV_INFO that dies, naming the device, unless it exists. */
void cli_get_info(struct ublk_ctrl *c, unsigned id,
		  struct ublksrv_ctrl_dev_info *info);
/* Ids of existing devices (from sysfs), ascending, malloc'd; the count. */
int cli_dev_ids(unsigned **ids);

/* The run directory as an fd (-1 when it does not exist and !create). */
int cli_rundir(int create);
/* Close that fd; the next cli_rundir() opens the directory again. */
void cli_rundir_close(void);
/*
 * Hold RUNDIR/.lock until exit, so that up and down do not race each
 * other.  A POSIX lock: forked children do not hold it, but they inherit
 * its fd, which a daemon drops with cli_lock_forget().
 */
void cli_lock(void);
void cli_lock_forget(void);
/* The saved state of device @id; 0, or -errno (-ENOENT: none). */
int cli_state_load(unsigned id, struct run_state *s);
/*
 * A pidfd on device @id's daemon, only if it is provably ours: the kernel's
 * or the saved pid, with the saved start time, holding /dev/ublkcN open.
 * -1 otherwise: then nothing may be sent to that pid.
 */
int cli_daemon_pidfd(unsigned id, pid_t pid);
int cli_pidfd_signal(int pidfd, int sig);
/* Wait up to @ms for the process behind @pidfd to exit; 1 if it did. */
int cli_pidfd_wait(int pidfd, int ms);

/* @s as a JSON string, quotes included. */
void cli_json_str(const char *s);

/* ---- add and recover ---- */

/* Everything `add` (and `recover`, from the saved options) needs. */
struct add_opts {
	struct backend_conf conf;
	int dev_id;			/* -1: the kernel picks */
	unsigned nr_queues;
	unsigned nr_threads;		/* --nthreads; 0: one per queue */
	int per_io;			/* --per_io_tasks */
	unsigned depth;
	unsigned max_io_buf_bytes;
	unsigned io_desc_size;		/* --io_desc_size; 0: the usual 24 bytes */
	uint64_t flags;			/* UBLK_F_* asked for */
	int copy;			/* --copy: the copy path, whatever is faster */
	int foreground;
	int debug;
	int recover;			/* recover dev_id instead of adding */
	int attach;			/* serve dev_id, which the caller added */
	int trace;			/* --trace-marker */
	int root_storage;		/* --root-storage: argv[0] "@...", kept at switch_root */
	unsigned queues_asked;		/* -q before clamping to the CPUs */
	const char *name;		/* the device table's NAME, or NULL */
	/* every -f, in order: conf.files[i] (and conf.file, the first) point here */
	char file_buf[BACKEND_MAX_FILES][4096];
	char meta_file_buf[4096];	/* --metadata_file: conf.meta_file */
	char fault_buf[256];		/* conf.fault */
	/* nbd: conf.nbd_* point here */
	char nbd_unix[108];		/* a sockaddr_un's path */
	char nbd_host[256];
	char nbd_port[8];
	char nbd_export[4097];		/* NBD_MAX_STRING bytes */
	unsigned nbd_given;		/* OPTS_NBD_* seen */
	int zoned_given;		/* a zone option seen */
	/* --shmem_zc: the buffer shared with clients, --htlb FILE (htlb_buf) */
	const char *htlb;
	char htlb_buf[4096];
	int rdonly_shmem;		/* --rdonly_shmem_buf: it serves writes only */
};

/* The nbd options given (add_opts.nbd_given), to check how they combine. */
#define OPTS_NBD_UNIX		(1U << 0)
#define OPTS_NBD_HOST		(1U << 1)
#define OPTS_NBD_PORT		(1U << 2)
#define OPTS_NBD_EXPORT		(1U << 3)
#define OPTS_NBD_URI		(1U << 4)
#define OPTS_NBD_OTHER		(1U << 5)	/* --connections, --timeout, --read_only */

/* Parse `add` arguments (argv[0] is "add"); on error a one-line reason. */
int opts_parse_add(int argc, char **argv, struct add_opts *o,
		   char *err, size_t errlen);
/* The ADD_DEV request the options describe (dev_id -1: any). */
void opts_dev_info(const struct add_opts *o, struct ublksrv_ctrl_dev_info *info);
/* Numbers opts_to_args may need to print: one buffer each. */
#define OPTS_NUM_BUFS	16
/*
 * The options as a canonical `add` argument list that opts_parse_add
 * reads back to the same settings; strings point into @o.  Returns the
 * count, or -E2BIG when more than @max would be needed.
 */
int opts_to_args(const struct add_opts *o, char bufs[OPTS_NUM_BUFS][24], char **args,
		 int max);
/* The options saved in @s, checked as a command line would be. */
int opts_from_state(const struct run_state *s, struct add_opts *o,
		    char *err, size_t errlen);
/*
 * Integrity options (opts_integrity.c): one of them, by its long @name,
 * into @in; then the check of what the kernel would refuse, which turns
 * on INTEGRITY and the user copy its metadata moves by.  0 or -EINVAL
 * with a one-line reason.
 */
int opts_integrity_opt(struct backend_integrity *in, const char *name,
		       const char *arg, char *err, size_t errlen);
int opts_check_integrity(struct add_opts *o, char *err, size_t errlen);
/* The --csum_type name of LBMD_PI_CSUM_* @type. */
const char *opts_csum_name(uint8_t type);
/* "4096", "512K", "2M", "1G", "1T" (powers of 1024); decimal only. */
int opts_parse_size(const char *s, uint64_t *out);
int opts_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* After getopt_long() returned '?' or ':', the argument at fault. */
const char *opts_culprit(int argc, char **argv);

/*
 * `add` after its options are parsed, and `recover`: check, open the
 * backend, start the daemon (dies on failure).  0 once the device is
 * LIVE (its id in *@id); in the foreground, the daemon's exit status.
 */
int cli_add_device(struct add_opts *o, unsigned *id);
int cli_recover_device(unsigned id, int foreground, int debug);

/*
 * The detached daemon's setup: a private mount namespace (without the
 * mounts of its own disk), and argv[0] marked '@' for --root-storage or
 * in an initrd (/etc/initrd-release).
 */
void daemon_isolate(const struct add_opts *o);
/* Bring a device up and serve it; reports on @status_fd (-1: none). */
int daemon_run(struct add_opts *o, struct backend *b, int status_fd);

/*
 * sd_notify (notify.c): @msg to $NOTIFY_SOCKET (a path, or '@' for an
 * abstract name); 0 also when it is unset, else -errno.  notify_ready:
 * READY=1 with @pid as the service's main process, serving @dev_id.
 */
int notify_send(const char *msg);
int notify_ready(pid_t pid, unsigned dev_id);

/*
 * Stop, wait for and delete devices (del.c); 1 if one failed (said why),
 * and then which in @failed_each (may be NULL).
 */
#define DEL_ALL		(1U << 0)	/* from -a: one that vanished is fine */
#define DEL_ASYNC	(1U << 1)	/* DEL_DEV_ASYNC */
#define DEL_SAFE	(1U << 2)	/* leave a disk that is in use alone */
#define DEL_FORCE	(1U << 3)	/* even from under its user: DEL_DEV_ASYNC if it can */
int cli_del(const unsigned *ids, int n, unsigned flags, int *failed_each);

/* Print one device as ublksrv's list does; verbose prints a JSON object. */
int cli_list_dev(struct ublk_ctrl *c, unsigned id, int verbose);

/* ---- the device table (table.c) and the commands that use it (up.c) ---- */

/*
 * /etc/sublktab, one device per line: NAME TARGET [add options...].
 * Words are separated by blanks; double quotes and backslashes make
 * words with blanks; '#' at the start of a word starts a comment.  The
 * unquoted word x-initramfs among the options marks an entry for the
 * initramfs and is not an add option.  Every entry is checked with the
 * parser of `add`.
 */
#define TABLE_PATH		"/etc/sublktab"
#define TABLE_MAX_LINE		4096	/* bytes, without the newline */
#define TABLE_MAX_WORDS		64	/* on one line */
#define TABLE_MAX_ENTRIES	4096
#define TABLE_MAX_FILE		(1U << 20)
#define TABLE_OPT_INITRAMFS	"x-initramfs"

struct table_entry {
	char *name;
	char *target;
	char **opts;		/* the add options after TARGET, table options removed */
	int nr_opts;
	unsigned line;
	int dev_id;		/* its -n, or -1 */
	int initramfs;		/* x-initramfs */
	char *words;		/* the storage of name, target and opts */
};

struct table {
	struct table_entry *entries;
	unsigned nr;
};

/*
 * Parse @len bytes of a table (no I/O); @path only names it in messages.
 * 0, or -EINVAL / -ENOMEM with "PATH:LINE: what is wrong" in @err; on
 * error @t is empty.  Free @t with table_free().
 */
int table_parse(const char *buf, size_t len, const char *path,
		struct table *t, char *err, size_t errlen);
/*
 * Read and parse the table at @path, a regular file (a symlink to one is
 * fine) owned by root or the caller and writable by nobody else.
 * -errno with a one-line reason in @err.
 */
int table_load(const char *path, struct table *t, char *err, size_t errlen);
void table_free(struct table *t);
const struct table_entry *table_find(const struct table *t, const char *name);
/* @e's options through the add parser, with the table's own rules; as opts_parse_add. */
int table_entry_opts(const struct table_entry *e, struct add_opts *o,
		     char *err, size_t errlen);

/* The disk as the system sees it (disk.c). */
#define DISK_LINK_DIR	"/dev/sublk"
/* 1 if udev runs: then its rule makes the links, from `sublk name %k`. */
int disk_udev_running(void);
/* Write @action ("change") to the disk's uevent file: udev runs its rules again. */
int disk_uevent(unsigned id, const char *action);
/* The disk's I/O scheduler ("none"): 0 or -errno. */
int disk_set_scheduler(unsigned id, const char *name);
/*
 * /dev/sublk/@name -> ../ublkb@id, made under a temporary name and renamed
 * over our own link only: -EEXIST if anything else has the name, -EPERM if
 * /dev/sublk may be changed by someone other than the caller.
 */
int disk_link_make(const char *name, unsigned id);
/* Remove /dev/sublk/@name only if it is our link to ublkb@id. */
int disk_link_remove(const char *name, unsigned id);
/* The device /dev/sublk/@name links to if it is our link, or -1. */
long disk_link_read(const char *name);
/* Call @fn with each mount point of the disk or its partitions here; the count. */
int disk_mounts(unsigned id, void (*fn)(const char *mnt, void *ctx), void *ctx);
/* 1 if the disk or a partition is mounted here or held by another device. */
int disk_in_use(unsigned id);

/*
 * sublk run as `kublk` (argv[0]), the kernel's ublk selftest server: its
 * command line translated into sublk's (kublk.c).
 */
int kublk_main(int argc, char **argv);

int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_name(int argc, char **argv);

int cmd_add(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_quiesce(int argc, char **argv);
int cmd_update_size(int argc, char **argv);

#endif
