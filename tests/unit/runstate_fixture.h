/* SPDX-License-Identifier: MIT */
/*
 * What the run state tests share: a sample state and its exact text, and
 * a scratch directory with helpers for the files in it.  Include from
 * exactly one file per test program.
 */
#ifndef SUBLK_TEST_RUNSTATE_FIXTURE_H
#define SUBLK_TEST_RUNSTATE_FIXTURE_H

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "../../cli/runstate.h"

static const char sample_text[] =
	"{\"version\":1,\"dev_id\":0,\"pid\":123,\"pid_start\":4567,"
	"\"size\":1073741824,\"max_size\":4294967296,"
	"\"args\":[\"-t\",\"loop\",\"-f\",\"/abs/img\"],"
	"\"queues\":[{\"tid\":124,\"cpus\":[0,1]}],\"data_path\":\"copy\","
	"\"target\":{\"dev_size\":1073741824,\"name\":\"loop\"}}\n";

static inline struct run_state sample(void)
{
	static struct rs_queue sample_queue = { .tid = 124, .cpus = { 3 } };
	struct run_state s = {
		.dev_id = 0, .pid = 123, .pid_start = 4567,
		.size = 1ULL << 30, .max_size = 4ULL << 30,
		.nr_args = 4, .args = { "-t", "loop", "-f", "/abs/img" },
		.nr_queues = 1, .queues = &sample_queue,
		.target = "{\"dev_size\":1073741824,\"name\":\"loop\"}",
		.data_path = "copy",
	};

	return s;
}

/* A scratch directory, by its real path: the fd links in /proc name that. */
static char base[PATH_MAX];

static inline char *at(const char *name)
{
	static char path[2][PATH_MAX + 64];
	static int which;

	which ^= 1;
	snprintf(path[which], sizeof(path[which]), "%s/%s", base, name);
	return path[which];
}

static inline void scratch_make(void)
{
	char tmpl[] = "/tmp/sublk-runstate.XXXXXX";

	REQUIRE(mkdtemp(tmpl));
	REQUIRE(realpath(tmpl, base));
}

static inline void scratch_remove(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	(void)!system(cmd);
}

static inline void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static inline int file_is(const char *path, const char *text)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(text) && !memcmp(buf, text, (size_t)n);
}

#endif
