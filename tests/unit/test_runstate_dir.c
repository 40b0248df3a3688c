// SPDX-License-Identifier: MIT
/*
 * The run directory: used only if no other user could have put anything
 * in it, and written so that a symlink planted in it is never followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "runstate_fixture.h"

static int open_dir(const char *path, int create, const char *want_err)
{
	char err[512] = "";
	int fd = rundir_open(path, create, err, sizeof(err));

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (want_err && !strstr(err, want_err)) {
		fprintf(stderr, "rundir_open(%s): unexpected message: %s\n", path, err);
		return -9999;
	}
	return fd;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 ? (mode_t)-1 : st.st_mode & 07777;
}

static void test_rundir_open(void)
{
	mode_t old = umask(022);
	char sub[PATH_MAX + 64];

	CHECK_EQ(open_dir(at("a/b/run"), 1, NULL), 0);
	CHECK_EQ(mode_of(at("a/b/run")), 0700);
	CHECK_EQ(mode_of(at("a/b")), 0755);
	CHECK_EQ(mode_of(at("a")), 0755);
	CHECK_EQ(open_dir(at("a/b/run"), 0, NULL), 0);
	CHECK_EQ(open_dir(at("a/b/run/"), 0, NULL), 0);
	CHECK_EQ(open_dir(at("a/b/run//"), 1, NULL), 0);
	CHECK_EQ(open_dir(at("missing"), 0, "missing"), -ENOENT);
	CHECK_EQ(open_dir("", 1, "empty"), -EINVAL);
	write_file(at("file"), "x");
	CHECK_EQ(open_dir(at("file"), 0, "file"), -ENOTDIR);
	CHECK_EQ(open_dir(at("file"), 1, NULL), -ENOTDIR);

	/* the old /run/sublk (0755) is fine; anything others may write to is not */
	REQUIRE(chmod(at("a/b/run"), 0755) == 0);
	CHECK_EQ(open_dir(at("a/b/run"), 0, NULL), 0);
	REQUIRE(chmod(at("a/b/run"), 0777) == 0);
	CHECK_EQ(open_dir(at("a/b/run"), 1, "writable by group or others (mode 0777)"), -EPERM);
	REQUIRE(chmod(at("a/b/run"), 0770) == 0);
	CHECK_EQ(open_dir(at("a/b/run"), 0, "writable"), -EPERM);
	REQUIRE(chmod(at("a/b/run"), 0702) == 0);
	CHECK_EQ(open_dir(at("a/b/run"), 0, "writable"), -EPERM);
	REQUIRE(chmod(at("a/b/run"), 01777) == 0);
	CHECK_EQ(open_dir(at("a/b/run"), 0, "writable"), -EPERM);
	REQUIRE(chmod(at("a/b/run"), 0700) == 0);

	/* a symlink, even to a good directory, even with a trailing slash */
	REQUIRE(symlink(at("a/b/run"), at("link")) == 0);
	CHECK_EQ(open_dir(at("link"), 0, "symlink"), -EPERM);
	CHECK_EQ(open_dir(at("link"), 1, "symlink"), -EPERM);
	CHECK_EQ(open_dir(at("link/"), 0, "symlink"), -EPERM);
	CHECK_EQ(open_dir(at("link//"), 1, "symlink"), -EPERM);
	REQUIRE(symlink(at("nowhere"), at("dangling")) == 0);
	CHECK_EQ(open_dir(at("dangling"), 1, "symlink"), -EPERM);
	CHECK_EQ(mode_of(at("nowhere")), (mode_t)-1);

	/* another user's directory */
	snprintf(sub, sizeof(sub), "%s", at("theirs"));
	REQUIRE(mkdir(sub, 0700) == 0);
	if (geteuid() == 0 && chown(sub, 65534, 65534) == 0) {
		CHECK_EQ(open_dir(sub, 0, "owned by uid 65534, not 0"), -EPERM);
		CHECK_EQ(open_dir(sub, 1, "owned by uid 65534"), -EPERM);
	} else {
		fprintf(stderr, "note: not root: the other-owner check is not run\n");
	}
	umask(old);
}

static int dir_entries(int dirfd, char names[][256], int max)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	struct dirent *de;
	DIR *d;

	REQUIRE(fd >= 0);
	d = fdopendir(fd);
	REQUIRE(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && n < max)
			snprintf(names[n++], 256, "%s", de->d_name);
	closedir(d);
	return n;
}

static void test_save_load(void)
{
	struct run_state s = sample(), back;
	char err[256], names[16][256], *huge;
	struct stat st;
	int dfd, n;
	unsigned i;

	dfd = rundir_open(at("save"), 1, err, sizeof(err));
	REQUIRE(dfd >= 0);
	CHECK_EQ(rs_load(dfd, 0, &back), -ENOENT);
	CHECK_EQ(rs_save(dfd, &s), 0);
	CHECK(file_is(at("save/0.json"), sample_text));
	CHECK_EQ(rs_load(dfd, 0, &back), 0);
	CHECK(rs_equal(&s, &back));
	rs_free(&back);
	n = dir_entries(dfd, names, 16);
	CHECK(n == 1 && !strcmp(names[0], "0.json"));	/* no temp file left */
	CHECK_EQ(mode_of(at("save/0.json")), 0644);

	/* a symlink planted as N.json and at guessable temp names */
	write_file(at("victim"), "victim");
	REQUIRE(unlink(at("save/0.json")) == 0);
	REQUIRE(symlink(at("victim"), at("save/0.json")) == 0);
	REQUIRE(symlink(at("victim"), at("save/0.json.tmp")) == 0);
	REQUIRE(symlink(at("victim"), at("save/.0.json.tmp")) == 0);
	REQUIRE(symlink(at("victim"), at("save/.0.json.0000000000000000.tmp")) == 0);
	snprintf(err, sizeof(err), "save/0.json.tmp%d", (int)getpid());
	REQUIRE(symlink(at("victim"), at(err)) == 0);
	CHECK_EQ(rs_load(dfd, 0, &back), -ELOOP);
	s.pid = 4242;
	CHECK_EQ(rs_save(dfd, &s), 0);
	CHECK(file_is(at("victim"), "victim"));
	CHECK(lstat(at("save/0.json"), &st) == 0 && S_ISREG(st.st_mode));
	CHECK_EQ(rs_load(dfd, 0, &back), 0);
	CHECK_EQ(back.pid, 4242);
	rs_free(&back);
	CHECK_EQ(unlink(at(err)), 0);

	/* N.json a directory: the save fails, leaving nothing behind */
	s.dev_id = 5;
	REQUIRE(mkdir(at("save/5.json"), 0700) == 0);
	CHECK(rs_save(dfd, &s) < 0);
	CHECK_EQ(dir_entries(dfd, names, 16), 5);
	CHECK_EQ(rs_load(dfd, 5, &back), -EINVAL);
	REQUIRE(rmdir(at("save/5.json")) == 0);

	/* what rs_load refuses */
	REQUIRE(mkfifo(at("save/6.json"), 0600) == 0);
	CHECK_EQ(rs_load(dfd, 6, &back), -EINVAL);	/* and does not hang */
	REQUIRE(unlink(at("save/6.json")) == 0);
	write_file(at("save/7.json"), sample_text);	/* dev_id 0 */
	CHECK_EQ(rs_load(dfd, 7, &back), -EINVAL);
	write_file(at("save/7.json"), "{\"version\":1");
	CHECK_EQ(rs_load(dfd, 7, &back), -EINVAL);
	write_file(at("save/7.json"), "");
	CHECK_EQ(rs_load(dfd, 7, &back), -EINVAL);
	if (geteuid() == 0) {
		s.dev_id = 7;
		CHECK_EQ(rs_save(dfd, &s), 0);
		REQUIRE(chown(at("save/7.json"), 65534, 65534) == 0);
		CHECK_EQ(rs_load(dfd, 7, &back), -EPERM);
	}
	REQUIRE(unlink(at("save/7.json")) == 0);
	write_file(at("save/7.json"), sample_text);
	REQUIRE(truncate(at("save/7.json"), RS_MAX_FILE + 1) == 0);
	CHECK_EQ(rs_load(dfd, 7, &back), -EFBIG);
	REQUIRE(unlink(at("save/7.json")) == 0);

	/* a state whose text would be over RS_MAX_FILE is not saved */
	huge = malloc(RS_MAX_STR + 1);
	REQUIRE(huge);
	memset(huge, '\x01', RS_MAX_STR);
	huge[RS_MAX_STR] = 0;
	s = sample();
	s.dev_id = 8;
	s.nr_args = RS_MAX_ARGS;
	for (i = 0; i < RS_MAX_ARGS; i++)
		s.args[i] = huge;
	CHECK_EQ(rs_save(dfd, &s), -EFBIG);
	CHECK_EQ(rs_load(dfd, 8, &back), -ENOENT);
	free(huge);

	/* rundir_write: names, and N.dump */
	CHECK_EQ(rundir_write(dfd, "", "x", 1), -EINVAL);
	CHECK_EQ(rundir_write(dfd, ".", "x", 1), -EINVAL);
	CHECK_EQ(rundir_write(dfd, "..", "x", 1), -EINVAL);
	CHECK_EQ(rundir_write(dfd, "../escape", "x", 1), -EINVAL);
	CHECK_EQ(mode_of(at("escape")), (mode_t)-1);
	CHECK_EQ(rundir_write(dfd, "0.dump", "dump\n", 5), 0);
	CHECK(file_is(at("save/0.dump"), "dump\n"));
	CHECK_EQ(rundir_write(dfd, "0.dump", "", 0), 0);
	CHECK(file_is(at("save/0.dump"), ""));

	/* rundir_unlink: N's files and stale temps, nobody else's */
	REQUIRE(unlink(at("save/0.json.tmp")) == 0 && unlink(at("save/.0.json.tmp")) == 0);
	write_file(at("save/0.pid"), "1\n");
	write_file(at("save/0.state"), "pid 1\n");
	write_file(at("save/.0.json.0123456789abcdef.tmp"), "{");
	write_file(at("save/1.json"), "{}");
	write_file(at("save/.1.json.0123456789abcdef.tmp"), "{");
	write_file(at("save/10.json"), "{}");
	write_file(at("save/daemon.log"), "log");
	CHECK_EQ(rundir_unlink(dfd, 0), 0);
	CHECK_EQ(rundir_unlink(dfd, 0), 0);
	n = dir_entries(dfd, names, 16);
	CHECK_EQ(n, 4);
	for (i = 0; i < (unsigned)n; i++)
		CHECK(!strcmp(names[i], "1.json") || !strcmp(names[i], "10.json") ||
		      !strcmp(names[i], "daemon.log") ||
		      !strcmp(names[i], ".1.json.0123456789abcdef.tmp"));
	CHECK(file_is(at("victim"), "victim"));
	close(dfd);
}

int main(void)
{
	scratch_make();
	test_rundir_open();
	test_save_load();
	scratch_remove();
	return unit_done();
}
