// SPDX-License-Identifier: MIT
/*
 * Is a saved pid still our daemon: /proc/PID/stat read whatever the
 * command name holds, the held-file check, zombies, reused pids, pidfds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "runstate_fixture.h"

struct child {
	pid_t pid;
	int to, from;
};

/* A child that holds @hold open (NULL: nothing) and obeys its parent. */
static void child_start(struct child *c, const char *hold)
{
	int down[2], up[2];
	char cmd, name[16];

	REQUIRE(pipe(down) == 0 && pipe(up) == 0);
	c->pid = fork();
	REQUIRE(c->pid >= 0);
	if (!c->pid) {
		int fd = hold ? open(hold, O_RDONLY) : -1;

		if (hold && fd < 0)
			_exit(1);
		close(down[1]);
		close(up[0]);
		for (;;) {
			if (write(up[1], "r", 1) != 1 || read(down[0], &cmd, 1) != 1)
				_exit(2);
			if (cmd == 'q')
				_exit(0);
			if (cmd == 'n' && read(down[0], name, sizeof(name)) == sizeof(name))
				prctl(PR_SET_NAME, name);
		}
	}
	close(down[0]);
	close(up[1]);
	c->to = down[1];
	c->from = up[0];
	REQUIRE(read(c->from, &cmd, 1) == 1);
}

static void child_rename(struct child *c, const char *name)
{
	char buf[16] = "", ack;

	strncpy(buf, name, sizeof(buf) - 1);
	REQUIRE(write(c->to, "n", 1) == 1 && write(c->to, buf, sizeof(buf)) == sizeof(buf));
	REQUIRE(read(c->from, &ack, 1) == 1);
}

static int child_end(struct child *c)
{
	int status = 0;

	(void)!write(c->to, "q", 1);
	close(c->to);
	close(c->from);
	REQUIRE(waitpid(c->pid, &status, 0) == c->pid);
	return status;
}

/* Field 22 by a second reading: from the last ')', 20 fields on. */
static uint64_t start_time_naive(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long long v = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	REQUIRE(f);
	REQUIRE(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	REQUIRE(p);
	p = strtok(p + 2, " ");
	for (i = 3; i < 22 && p; i++)
		p = strtok(NULL, " ");
	REQUIRE(p && sscanf(p, "%llu", &v) == 1);
	return v;
}

static int comm_is(int pid, const char *name)
{
	char path[64], buf[64] = "";

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	snprintf(buf, sizeof(buf), "%s\n", name);
	return file_is(path, buf);
}

static void test_proc(void)
{
	char held[PATH_MAX + 64], other[PATH_MAX + 64];
	uint64_t start, again;
	struct child c;
	struct run_state s = sample();
	int status, fd;
	pid_t gone;

	CHECK_EQ(proc_start_time(getpid(), &start), 0);
	CHECK_EQ(start, start_time_naive(getpid()));
	CHECK_EQ(proc_start_time(getpid(), &again), 0);
	CHECK_EQ(start, again);
	CHECK_EQ(proc_start_time(0, &start), -EINVAL);
	CHECK_EQ(proc_start_time(-1, &start), -EINVAL);
	gone = fork();
	REQUIRE(gone >= 0);
	if (!gone)
		_exit(0);
	REQUIRE(waitpid(gone, &status, 0) == gone);
	CHECK_EQ(proc_start_time(gone, &start), -ENOENT);

	snprintf(held, sizeof(held), "%s", at("held"));
	snprintf(other, sizeof(other), "%s", at("other"));
	write_file(held, "held");
	write_file(other, "other");

	/* a command name made to fool a parser that stops at the first ')' */
	child_start(&c, held);
	CHECK_EQ(proc_start_time(c.pid, &start), 0);
	child_rename(&c, "a) b (c");
	CHECK(comm_is(c.pid, "a) b (c"));
	CHECK_EQ(proc_start_time(c.pid, &again), 0);
	CHECK_EQ(start, again);
	CHECK_EQ(start_time_naive(c.pid), start);
	child_rename(&c, ") Z 1 2 3 4 5 6");
	CHECK(comm_is(c.pid, ") Z 1 2 3 4 5 6"));
	CHECK_EQ(proc_start_time(c.pid, &again), 0);
	CHECK_EQ(start, again);

	CHECK_EQ(proc_holds_path(c.pid, held), 1);
	CHECK_EQ(proc_holds_path(c.pid, other), 0);
	CHECK_EQ(proc_holds_path(c.pid, at("nonexistent")), -ENOENT);
	CHECK_EQ(proc_holds_path(getpid(), held), 0);
	CHECK_EQ(proc_holds_path(gone, held), -ENOENT);

	s.pid = c.pid;
	s.pid_start = start;
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 1);
	CHECK_EQ(rs_daemon_is_ours_path(&s, other), 0);	/* alive, but not holding it */
	CHECK_EQ(rs_daemon_is_ours(&s), 0);		/* nor /dev/ublkc0 */
	s.pid_start = start + 1;			/* a reused pid */
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 0);
	s.pid_start = start - 1;
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 0);
	CHECK_EQ(rs_daemon_pidfd_path(&s, held), -ESRCH);
	s.pid_start = start;
	s.pid = getpid();				/* alive, the wrong start */
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 0);
	s.pid = gone;
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 0);
	s.pid = 0;
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 0);
	CHECK_EQ(rs_daemon_pidfd_path(&s, held), -ESRCH);
	s.pid = c.pid;

	/* a pidfd on it: the signal reaches that process and no other */
	fd = rs_daemon_pidfd_path(&s, held);
	if (fd == -ENOSYS) {
		fprintf(stderr, "note: no pidfd_open: pidfd checks not run\n");
		CHECK_EQ(child_end(&c), 0);
	} else {
		CHECK(fd >= 0);
		CHECK_EQ(rs_pidfd_signal(fd, SIGKILL), 0);
		status = child_end(&c);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* gone: the pidfd names it, not whoever gets its pid next */
		CHECK_EQ(rs_pidfd_signal(fd, 0), -ESRCH);
		close(fd);
	}

	/* a zombie serves nothing */
	child_start(&c, held);
	CHECK_EQ(proc_start_time(c.pid, &s.pid_start), 0);
	s.pid = c.pid;
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 1);
	REQUIRE(write(c.to, "q", 1) == 1);
	{
		char st = 0, path[64], buf[512];
		int tries;

		/* wait until it is a zombie, then look */
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)c.pid);
		for (tries = 0; tries < 1000 && st != 'Z'; tries++) {
			FILE *f = fopen(path, "r");

			if (f && fgets(buf, sizeof(buf), f) && strrchr(buf, ')'))
				st = strrchr(buf, ')')[2];
			if (f)
				fclose(f);
			usleep(1000);
		}
		CHECK_EQ(st, 'Z');
	}
	CHECK_EQ(rs_daemon_is_ours_path(&s, held), 0);
	CHECK_EQ(rs_daemon_pidfd_path(&s, held), -ESRCH);
	CHECK_EQ(child_end(&c), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);	/* telling a killed child to quit */
	scratch_make();
	test_proc();
	scratch_remove();
	return unit_done();
}
