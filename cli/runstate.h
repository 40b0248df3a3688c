/* SPDX-License-Identifier: MIT */
/*
 * The run directory and what it keeps per device: N.json, one JSON
 * document that list, del, dump, recover and update_size read, and the
 * checks that a saved daemon pid still names the daemon before anyone
 * signals it.  Private to cli/ (to be folded into cli.h); libc only.
 *
 * N.json, written by rs_format() (keys in this order, compact, one line
 * ending in a newline):
 *
 *   {"version":1,"dev_id":0,"pid":123,"pid_start":4567,"size":1073741824,
 *    "max_size":4294967296,"args":["-t","loop","-f","/abs/img"],
 *    "queues":[{"tid":124,"cpus":[0,1]}],"data_path":"copy",
 *    "target":{"dev_size":1073741824,"name":"loop"}}
 *
 * Version 2 is the same with the device table's name after dev_id,
 * "name":"data"; a device without a name is written as version 1, so
 * that an older sublk still reads it.  The name is RS_MAX_NAME bytes of
 * [A-Za-z0-9_.-] at most, not "." or ".." (rs_name_valid()).
 *
 * Every key but name, data_path and target is required; those are left
 * out when NULL, and name is there exactly when the version is 2.
 * rs_parse() is strict: any key it does not know is rejected
 * (a new key means a new version), as are duplicate keys, numbers other
 * than non-negative decimal integers without leading zeros, values out of
 * range, cpus not strictly ascending, "\u0000", lone surrogates, raw
 * control bytes in strings, and anything but whitespace after the object.
 * Strings may hold any other bytes, UTF-8 or not (paths are bytes).
 * target is any JSON object (nesting at most RS_MAX_DEPTH, at most
 * RS_MAX_TARGET bytes), kept as its exact text; its keys are the backend's
 * and are not checked for duplicates.
 */
#ifndef SUBLK_RUNSTATE_H
#define SUBLK_RUNSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RS_VERSION	2		/* the newest; 1 is written without a name */
#define RS_MAX_ARGS	64		/* saved add options */
#define RS_MAX_STR	4096		/* bytes in one arg or data_path */
#define RS_MAX_QUEUES	4096		/* UBLK_MAX_NR_QUEUES */
#define RS_MAX_CPUS	1024		/* CPU_SETSIZE */
#define RS_MAX_DEV_ID	((1U << 20) - 1)	/* UBLK_MAX_UBLKS - 1 */
#define RS_MAX_TARGET	65536		/* bytes of target's text */
#define RS_MAX_DEPTH	16		/* target's nesting; target itself is 1 */
#define RS_MAX_FILE	(1U << 20)	/* rs_load() reads no more, rs_save() writes no more */
#define RS_MAX_NAME	32		/* bytes of a device table name */

struct rs_queue {
	int tid;			/* 0: not known */
	uint64_t cpus[RS_MAX_CPUS / 64];
};

struct run_state {
	unsigned dev_id;
	char *name;			/* the device table's NAME; may be NULL */
	int pid;			/* the daemon, > 0 */
	uint64_t pid_start;		/* field 22 (starttime) of /proc/PID/stat */
	uint64_t size, max_size;	/* bytes */
	unsigned nr_args;
	char *args[RS_MAX_ARGS];	/* canonical `add` argv without "add" */
	unsigned nr_queues;
	struct rs_queue *queues;
	char *target;			/* a JSON object's text; may be NULL */
	char *data_path;		/* "copy", "zero copy (auto buf reg)"; may be NULL */
};

static inline void rs_cpu_set(struct rs_queue *q, unsigned cpu)
{
	if (cpu < RS_MAX_CPUS)
		q->cpus[cpu / 64] |= 1ULL << (cpu % 64);
}

static inline int rs_cpu_isset(const struct rs_queue *q, unsigned cpu)
{
	return cpu < RS_MAX_CPUS && (q->cpus[cpu / 64] >> (cpu % 64) & 1);
}

/* 1 if @len bytes at @s are a table name: [A-Za-z0-9_.-]{1,32}, not . or .. */
int rs_name_valid(const char *s, size_t len);

/*
 * The JSON document for @s in *@text (malloc'd, NUL-terminated, *@len
 * bytes without the NUL).  -EINVAL if @s breaks a limit above or target
 * is not exactly one JSON object; then rs_parse() of the text gives @s back.
 */
int rs_format(const struct run_state *s, char **text, size_t *len);
/*
 * Parse @len bytes (no NUL needed; a NUL inside is an error) into @s,
 * which the caller frees with rs_free().  -EINVAL on anything unexpected,
 * -ENOMEM; on error @s is left empty and owns nothing.
 */
int rs_parse(const char *text, size_t len, struct run_state *s);
/*
 * Read all of @fd, a file of @size bytes, into @buf (@size + 1 bytes); a
 * file that grew meanwhile is -EFBIG.  The bytes read, or -errno.
 */
ssize_t rs_read_all(int fd, char *buf, size_t size);
/* Free what rs_parse() allocated and empty @s; an empty @s is fine. */
void rs_free(struct run_state *s);
/* 1 if @a and @b hold the same state, 0 if not. */
int rs_equal(const struct run_state *a, const struct run_state *b);

/*
 * The run directory ($SUBLK_RUN_DIR or /run/sublk, the caller's choice):
 * an O_DIRECTORY fd on it, or -errno with a one-line reason in @err.
 * -EPERM if it is a symlink, is not owned by the effective uid, or is
 * writable by group or others: another user could plant files in it.
 * With @create a missing directory is made 0700 (missing parents 0755).
 * Only the last component is checked: its parents are trusted.
 */
int rundir_open(const char *dir, int create, char *err, size_t errlen);
/*
 * Write @len bytes as @name (no '/') in the directory: to a new file
 * of a random name made with O_EXCL|O_NOFOLLOW, fsync'd, then renamed
 * over @name, so readers see the old file or the new, never part of one,
 * and a symlink planted at either name is replaced, never followed.
 */
int rundir_write(int dirfd, const char *name, const void *data, size_t len);
/* Save @s as N.json (N = s->dev_id) with rundir_write(); -EFBIG over RS_MAX_FILE. */
int rs_save(int dirfd, const struct run_state *s);
/*
 * Load N.json into @s (free it with rs_free()).  -ENOENT when absent,
 * -ELOOP for a symlink, -EINVAL when not a regular file, not valid or
 * for another device, -EPERM when not owned by the effective uid,
 * -EFBIG over RS_MAX_FILE.
 */
int rs_load(int dirfd, unsigned id, struct run_state *s);
/* Remove N.json, N.dump, the legacy N.pid and N.state, and temp files
 * of N.json left by a writer that died; 0 or the first error but ENOENT. */
int rundir_unlink(int dirfd, unsigned id);

/* Field 22 of /proc/@pid/stat, whatever the command name holds. */
int proc_start_time(int pid, uint64_t *start);
/* 1 if one of @pid's open files is @path (a name that ends in @path,
 * the same file), 0 if none, -errno if its fds cannot be read (-EACCES:
 * another user's). */
int proc_holds_path(int pid, const char *path);

/*
 * 1 only if s->pid is alive, not a zombie, started at s->pid_start and
 * holds /dev/ublkc<dev_id> open; 0 otherwise, and then nobody may signal
 * it: the pid may be another process's now.  The _path variant checks
 * another file instead (tests).
 */
int rs_daemon_is_ours(const struct run_state *s);
int rs_daemon_is_ours_path(const struct run_state *s, const char *path);
/*
 * A pidfd on the daemon, taken before the checks of rs_daemon_is_ours()
 * and confirmed after, so a signal sent through it with rs_pidfd_signal()
 * reaches that daemon or nobody (-ESRCH once it is gone), never a process
 * that got its pid later, as kill(pid) after rs_daemon_is_ours() could.
 * It also polls readable once the daemon has exited.  -ESRCH if the
 * daemon is not ours; -ENOSYS before Linux 5.3.
 */
int rs_daemon_pidfd(const struct run_state *s);
int rs_daemon_pidfd_path(const struct run_state *s, const char *path);
int rs_pidfd_signal(int pidfd, int sig);

#endif
