// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

int log_level = LOG_INFO;

static struct {
	enum log_sink sink;
	int fd;
} log_out = { LOG_SINK_STDERR, 2 };

void log_set_sink(enum log_sink sink, int fd)
{
	log_out.sink = sink;
	log_out.fd = fd;
}

int log_sink_fd(void)
{
	return log_out.fd;
}

void ulog(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = 0, m;

	if (level > log_level)
		return;
	if (log_out.sink == LOG_SINK_KMSG)
		n = snprintf(buf, sizeof(buf), "<%d>", level);
	if (log_out.sink != LOG_SINK_STDERR || level >= LOG_DEBUG)
		n += snprintf(buf + n, sizeof(buf) - n, "sublk[%d]: ", (int)getpid());
	else
		n += snprintf(buf + n, sizeof(buf) - n, "sublk: ");
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	n = (m < 0) ? n : n + m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write per record: kmsg takes each write as one record */
	if (write(log_out.fd, buf, n) < 0)
		return;
}
