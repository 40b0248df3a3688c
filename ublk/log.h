/* SPDX-License-Identifier: MIT */
/*
 * One logging helper for the whole program.  The sink is stderr by
 * default; a detached daemon points it at /dev/kmsg (so its lines sit in
 * dmesg, in order with the kernel's) or at a file.
 */
#ifndef SUBLK_LOG_H
#define SUBLK_LOG_H

enum log_level {
	LOG_ERR = 3,	/* matches the kmsg priorities */
	LOG_WARN = 4,
	LOG_INFO = 6,
	LOG_DEBUG = 7,
};

/* The only mutable global besides the log sink: messages above it are dropped. */
extern int log_level;

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_KMSG,	/* "<prio>sublk[pid]: ..." records */
	LOG_SINK_FILE,	/* "sublk[pid]: ..." lines */
};

/* Send messages to @fd, written in the form @sink expects. */
void log_set_sink(enum log_sink sink, int fd);
int log_sink_fd(void);

void ulog(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	ulog(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	ulog(LOG_WARN, __VA_ARGS__)
#define log_info(...)	ulog(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_level >= LOG_DEBUG) ulog(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
