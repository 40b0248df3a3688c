// SPDX-License-Identifier: MIT
/*
 * The device table: what it accepts (quotes, escapes, comments, the
 * x-initramfs marker) and every error, each naming the file and the line;
 * then table_load()'s checks of the file itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "unit.h"
#include "../../cli/cli.h"

static char err[1024];

static int parse(const char *text, struct table *t)
{
	err[0] = 0;
	return table_parse(text, strlen(text), "tab", t, err, sizeof(err));
}

/* @text is refused with an error that is exactly @want. */
static void expect_err(const char *text, const char *want, int line)
{
	struct table t;
	int ret = parse(text, &t);

	unit_checks++;
	if (ret != -EINVAL || strcmp(err, want)) {
		fprintf(stderr, "%s:%d: table_parse gave %d '%s', not '%s'\n",
			__FILE__, line, ret, err, want);
		unit_failures++;
	}
	CHECK(!t.nr && !t.entries);
}
#define ERR(text, want) expect_err(text, want, __LINE__)

/* @text is refused with an error that starts with @want. */
static void expect_err_prefix(const char *text, const char *want, int line)
{
	struct table t;
	int ret = parse(text, &t);

	unit_checks++;
	if (ret != -EINVAL || strncmp(err, want, strlen(want))) {
		fprintf(stderr, "%s:%d: table_parse gave %d '%s', not '%s...'\n",
			__FILE__, line, ret, err, want);
		unit_failures++;
	}
}
#define ERR_PREFIX(text, want) expect_err_prefix(text, want, __LINE__)

static int opts_are(const struct table_entry *e, int n, const char *const *want)
{
	int i;

	if (e->nr_opts != n)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(e->opts[i], want[i]))
			return 0;
	return 1;
}

static void test_accepts(void)
{
	static const char *const data_opts[] = { "-f", "/srv/data.img", "-q", "2" };
	static const char *const spaced[] = { "-f", "/srv/my disk \"1\".img", "-s", "1G" };
	static const char *const marked[] = { "-s", "1G" };
	static const char *const literal[] = { "-f", "/x-initramfs" };
	const struct table_entry *e;
	struct add_opts o;
	struct table t;
	int i;

	REQUIRE(parse("", &t) == 0);
	CHECK_EQ(t.nr, 0);
	table_free(&t);
	REQUIRE(parse("\n\n  \t\n# only a comment\n   # indented\n", &t) == 0);
	CHECK_EQ(t.nr, 0);
	table_free(&t);


	REQUIRE(parse("# sublktab\n"
		      "data  loop  -f /srv/data.img -q 2\n"
		      "\n"
		      "scratch\tmem\t-s 1G   # a comment after the options\n"
		      "sp \"loop\" -f \"/srv/my disk \\\"1\\\".img\" -s 1G\n"
		      "esc loop -f /srv/my\\ disk\\ \\\"1\\\".img -s 1G\n"
		      "root mem x-initramfs -s 1G\n"
		      "lit loop -f /x-initramfs\n"
		      "hash loop -f /a#b\n"
		      "n-1_x null -n 7\n"
		      "last null", &t) == 0);
	CHECK_EQ(t.nr, 9);
	e = table_find(&t, "data");
	REQUIRE(e);
	CHECK(!strcmp(e->target, "loop") && opts_are(e, 4, data_opts));
	CHECK_EQ(e->line, 2);
	CHECK_EQ(e->dev_id, -1);
	CHECK(!e->initramfs);
	e = table_find(&t, "scratch");
	REQUIRE(e);
	CHECK(!strcmp(e->target, "mem") && opts_are(e, 2, marked) && e->line == 4);
	e = table_find(&t, "sp");
	REQUIRE(e);
	CHECK(!strcmp(e->target, "loop") && opts_are(e, 4, spaced));
	e = table_find(&t, "esc");
	REQUIRE(e);
	CHECK(opts_are(e, 4, spaced));
	e = table_find(&t, "root");
	REQUIRE(e);
	CHECK(e->initramfs && opts_are(e, 2, marked));
	e = table_find(&t, "lit");
	REQUIRE(e);
	CHECK(!e->initramfs && opts_are(e, 2, literal));
	e = table_find(&t, "hash");
	REQUIRE(e);
	CHECK(e->nr_opts == 2 && !strcmp(e->opts[1], "/a#b"));
	e = table_find(&t, "n-1_x");
	REQUIRE(e);
	CHECK_EQ(e->dev_id, 7);
	e = table_find(&t, "last");
	REQUIRE(e);
	CHECK(e->nr_opts == 0 && e->line == 11);
	CHECK(!table_find(&t, "missing"));

	/* an entry's options give what add would */
	e = table_find(&t, "data");
	REQUIRE(table_entry_opts(e, &o, err, sizeof(err)) == 0);
	CHECK(!strcmp(o.conf.type, "loop") && !strcmp(o.conf.file, "/srv/data.img"));
	CHECK(!strcmp(o.name, "data"));
	CHECK_EQ(o.queues_asked, 2);
	table_free(&t);
	CHECK(!t.nr && !t.entries);

	/* the longest line and the most words */
	{
		char line[TABLE_MAX_LINE + 2];
		size_t n;

		memset(line, ' ', TABLE_MAX_LINE);
		memcpy(line, "a null", 6);
		line[TABLE_MAX_LINE] = '\n';
		line[TABLE_MAX_LINE + 1] = 0;
		CHECK(parse(line, &t) == 0 && t.nr == 1);
		table_free(&t);
		n = (size_t)snprintf(line, sizeof(line), "a null");
		for (i = 2; i < TABLE_MAX_WORDS; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " -v");
		CHECK(parse(line, &t) == 0 && t.nr == 1 && t.entries[0].nr_opts == TABLE_MAX_WORDS - 2);
		table_free(&t);
	}
}

static void test_errors(void)
{
	char *big;
	size_t i;

	/* names */
	ERR("a/b null\n", "tab:1: bad name 'a/b' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR("\n. null\n", "tab:2: bad name '.' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR(".. null\n", "tab:1: bad name '..' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR("\"\" null\n", "tab:1: bad name '' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR("\"a b\" null\n", "tab:1: bad name 'a b' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR("caf\xc3\xa9 null\n", "tab:1: bad name 'caf\xc3\xa9' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR("0123456789abcdef0123456789abcdef0 null\n",
	    "tab:1: bad name '0123456789abcdef0123456789abcdef0' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
	ERR("data\n", "tab:1: 'data' has no target (NAME TARGET [OPTIONS])");
	ERR("data # loop\n", "tab:1: 'data' has no target (NAME TARGET [OPTIONS])");
	ERR("data null\nx mem -s 1G\ndata mem -s 1G\n",
	    "tab:3: duplicate name 'data' (also on line 1)");

	/* the target and the options, as the add parser sees them */
	ERR_PREFIX("data bogus\n", "tab:1: unknown target type 'bogus' (one of: ");
	ERR_PREFIX("data x-initramfs -s 1G\n", "tab:1: unknown target type 'x-initramfs'");
	ERR("data mem -s 1X\n", "tab:1: bad size '1X' (e.g. 512M, 4G)");
	ERR("data null --bogus\n", "tab:1: unknown option '--bogus'");
	ERR("data null -s\n", "tab:1: option '-s' needs a value");
	ERR("data null extra\n", "tab:1: unexpected argument 'extra'");
	ERR("data null \"x-initramfs\"\n", "tab:1: unexpected argument 'x-initramfs'");
	ERR("data null -q 0\n", "tab:1: bad queue count '0'");
	ERR("data null -t mem\n", "tab:1: -t 'mem': the target is the second field, not an option");
	ERR("data null --type null\n", "tab:1: -t 'null': the target is the second field, not an option");
	ERR("data null --foreground\n", "tab:1: --foreground: up always detaches the daemon");
	ERR("data null --help\n", "tab:1: --help has no place in a table");
	ERR("data loop -f data.img\n", "tab:1: -f 'data.img': a table names files by absolute path");
	ERR("a null -n 3\nb null\nc null -n 3\n", "tab:3: device id 3 is also on line 1");

	/* quoting and bytes */
	ERR("data loop -f \"/a b\n", "tab:1: a double quote that is not closed");
	ERR("data loop -f /a\\\n", "tab:1: a backslash at the end of the line (lines do not continue)");
	ERR("data loop -f /a\\", "tab:1: a backslash at the end of the line (lines do not continue)");
	ERR("data null\r\n", "tab:1: a carriage return (DOS line endings?)");
	ERR("data null \x01\n", "tab:1: control character 0x01");
	ERR("# \x7f in a comment\n", "tab:1: control character 0x7f");
	ERR("data null \x1b[0m\n", "tab:1: control character 0x1b");
	{
		struct table t;
		static const char nul[] = "data null\nx\0y null\n";

		CHECK_EQ(table_parse(nul, sizeof(nul) - 1, "tab", &t, err, sizeof(err)), -EINVAL);
		CHECK(!strcmp(err, "tab:2: a NUL byte"));
	}

	/* limits */
	big = malloc(TABLE_MAX_LINE + 64);
	REQUIRE(big);
	memset(big, ' ', TABLE_MAX_LINE + 1);
	memcpy(big, "a null", 6);
	strcpy(big + TABLE_MAX_LINE + 1, "\n");
	ERR(big, "tab:1: line longer than 4096 bytes");
	memset(big, '#', TABLE_MAX_LINE + 1);
	ERR(big, "tab:1: line longer than 4096 bytes");
	strcpy(big, "a null");
	for (i = 0; i < TABLE_MAX_WORDS - 1; i++)
		strcat(big, " -v");
	ERR(big, "tab:1: more than 64 words");
	free(big);

	/* the first error is the one reported */
	ERR("ok null\nbad/ null\nbad2 bogus\n",
	    "tab:2: bad name 'bad/' (1 to 32 of A-Z a-z 0-9 _ . -, not . or ..)");
}

static void test_many(void)
{
	size_t cap = (size_t)(TABLE_MAX_ENTRIES + 1) * 16, n = 0;
	char *text = malloc(cap);
	struct table t;
	unsigned i;

	REQUIRE(text);
	for (i = 0; i < TABLE_MAX_ENTRIES; i++)
		n += (size_t)snprintf(text + n, cap - n, "d%u null\n", i);
	REQUIRE(parse(text, &t) == 0);
	CHECK_EQ(t.nr, TABLE_MAX_ENTRIES);
	CHECK(table_find(&t, "d4095") && table_find(&t, "d4095")->line == 4096);
	table_free(&t);
	snprintf(text + n, cap - n, "one-more null\n");
	ERR(text, "tab:4097: more than 4096 entries");
	free(text);
}

static char dir[PATH_MAX];

static char *at(const char *name)
{
	static char path[2][PATH_MAX + 64];
	static int which;

	which ^= 1;
	snprintf(path[which], sizeof(path[which]), "%s/%s", dir, name);
	return path[which];
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	REQUIRE(chmod(at(name), mode) == 0);
}

static void test_load(void)
{
	char tmpl[] = "/tmp/sublk-table.XXXXXX", want[PATH_MAX + 256];
	struct table t;
	char *big;
	int fd;

	REQUIRE(mkdtemp(tmpl));
	REQUIRE(realpath(tmpl, dir));

	write_file("good", "data mem -s 1G\n", 0644);
	CHECK(table_load(at("good"), &t, err, sizeof(err)) == 0 && t.nr == 1);
	table_free(&t);
	/* a symlink to a good table is fine: /etc files often are */
	REQUIRE(symlink(at("good"), at("link")) == 0);
	CHECK(table_load(at("link"), &t, err, sizeof(err)) == 0 && t.nr == 1);
	table_free(&t);

	CHECK_EQ(table_load(at("missing"), &t, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", at("missing"));
	CHECK(!strcmp(err, want));

	write_file("gw", "data mem -s 1G\n", 0664);
	CHECK_EQ(table_load(at("gw"), &t, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "%s is writable by group or others (mode 0664); not using it", at("gw"));
	CHECK(!strcmp(err, want));
	write_file("ow", "data mem -s 1G\n", 0646);
	CHECK_EQ(table_load(at("ow"), &t, err, sizeof(err)), -EPERM);
	REQUIRE(symlink(at("ow"), at("link-ow")) == 0);
	CHECK_EQ(table_load(at("link-ow"), &t, err, sizeof(err)), -EPERM);

	if (geteuid() == 0) {
		write_file("other", "data mem -s 1G\n", 0644);
		REQUIRE(chown(at("other"), 4242, 4242) == 0);
		CHECK_EQ(table_load(at("other"), &t, err, sizeof(err)), -EPERM);
		snprintf(want, sizeof(want), "%s is owned by uid 4242, neither root nor you; not using it",
			 at("other"));
		CHECK(!strcmp(err, want));
	}

	REQUIRE(mkfifo(at("fifo"), 0644) == 0);
	CHECK_EQ(table_load(at("fifo"), &t, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "%s is not a regular file; not using it", at("fifo"));
	CHECK(!strcmp(err, want));
	CHECK_EQ(table_load(dir, &t, err, sizeof(err)), -EPERM);

	fd = open(at("huge"), O_WRONLY | O_CREAT, 0644);
	REQUIRE(fd >= 0 && ftruncate(fd, TABLE_MAX_FILE + 1) == 0);
	close(fd);
	CHECK_EQ(table_load(at("huge"), &t, err, sizeof(err)), -EFBIG);

	/* a bad line names the file it is in */
	big = at("bad");
	write_file("bad", "data mem -s 1G\nx bogus\n", 0600);
	CHECK_EQ(table_load(big, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown target type 'bogus'", at("bad"));
	CHECK(!strncmp(err, want, strlen(want)));

	unlink(at("good"));
	unlink(at("link"));
	unlink(at("gw"));
	unlink(at("ow"));
	unlink(at("link-ow"));
	unlink(at("other"));
	unlink(at("fifo"));
	unlink(at("huge"));
	unlink(at("bad"));
	rmdir(dir);
}

int main(void)
{
	test_accepts();
	test_errors();
	test_many();
	test_load();
	return unit_done();
}
