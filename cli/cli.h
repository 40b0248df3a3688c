/* SPDX-License-Identifier: MIT */
/*
 * The command line: one file per command, die-style helpers only here.
 */
#ifndef SUBLK_CLI_H
#define SUBLK_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../ublk/ublk.h"
#include "../backend/backend.h"

/* Everything `add` (and `recover`, from the saved copy) needs. */
struct add_opts {
	struct backend_conf conf;
	int dev_id;			/* -1: the kernel picks */
	unsigned nr_queues;
	unsigned nr_threads;		/* --nthreads; 0: one per queue */
	int per_io;			/* --per_io_tasks */
	unsigned depth;
	unsigned max_io_buf_bytes;
	uint64_t flags;			/* UBLK_F_* asked for */
	int foreground;
	int debug;
	int recover;			/* recover dev_id instead of adding */
	int attach;			/* serve dev_id, which the caller added */
	int trace;			/* --trace-marker */
	char file_buf[4096];		/* conf.file points here once parsed */
	char fault_buf[256];		/* conf.fault, when loaded for recover */
};

/* Parse `add` arguments (argv[0] is "add"); on error a one-line reason. */
int opts_parse_add(int argc, char **argv, struct add_opts *o,
		   char *err, size_t errlen);
/* The ADD_DEV request the options describe (dev_id -1: any). */
void opts_dev_info(const struct add_opts *o, struct ublksrv_ctrl_dev_info *info);
/* "4096", "512K", "2M", "1G", "1T" (powers of 1024). */
int opts_parse_size(const char *s, uint64_t *out);
int opts_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* Run directory: $SUBLK_RUN_DIR or /run/sublk. */
const char *rundir(void);
int rundir_save(const struct add_opts *o, unsigned id, pid_t pid,
		const struct ublk_dev *d);
pid_t rundir_pid(unsigned id);
/* The saved line that starts with @key ("target", "queue 0", ...). */
int rundir_get(unsigned id, const char *key, char *buf, size_t len);
int rundir_load_opts(unsigned id, struct add_opts *o);
int rundir_set_size(unsigned id, uint64_t size);
void rundir_remove(unsigned id);
int pid_alive(pid_t pid);

/* Open the control device, with a helpful message when ublk_drv is missing. */
int cli_ctrl_open(struct ublk_ctrl *c);
/* Print one device as ublksrv's list does; verbose prints JSON. */
int cli_list_dev(struct ublk_ctrl *c, unsigned id, int verbose);
/* Ids of existing devices (from sysfs), ascending; returns the count. */
int cli_dev_ids(unsigned *ids, int max);

/* Bring a device up and serve it; reports on @status_fd (-1: none). */
int daemon_run(struct add_opts *o, struct backend *b, int status_fd);

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

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
