// SPDX-License-Identifier: MIT
/*
 * The device table, /etc/sublktab: one device per line, as in /etc/nbdtab
 * and /etc/crypttab,
 *
 *	NAME  TARGET  [add options...]
 *	data  loop    -f /srv/data.img -q 2
 *	root  nbd     --host 10.0.0.1 --export_name root -r 1 x-initramfs
 *
 * The parser is a pure function over a buffer; each entry's options go
 * through opts_parse_add(), so the table takes exactly what `add` takes.
 * Every error names the file, the line and what is wrong with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"

static int errmsg(char *err, size_t errlen, const char *path, unsigned line,
		  const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%u: %s", path, line, what);
	return -EINVAL;
}

/* A byte that has no place in a table, or 0. */
static const char *bad_byte(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0)
			return "a NUL byte";
		if (c == '\r')
			return "a carriage return (DOS line endings?)";
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(buf, buflen, "control character 0x%02x", c);
			return buf;
		}
	}
	return NULL;
}

/*
 * Split a line into words, each decoded into @out and ended by a NUL.
 * Blanks separate words; a '#' that starts a word starts a comment; in
 * double quotes blanks and '#' are part of the word; a backslash takes
 * the next byte as it is, in quotes or not.  plain[i] is 1 if word i had
 * neither quotes nor backslashes.  The count, or -1 with *@why set.
 */
static int split_words(const char *s, size_t len, char *out, char **words,
		       unsigned char *plain, const char **why)
{
	size_t i = 0, o = 0;
	int n = 0, quoted;

	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len || s[i] == '#')
			return n;
		if (n == TABLE_MAX_WORDS) {
			*why = "more than 64 words";
			return -1;
		}
		words[n] = out + o;
		plain[n] = 1;
		quoted = 0;
		for (; i < len && (quoted || (s[i] != ' ' && s[i] != '\t')); i++) {
			if (s[i] == '"') {
				quoted = !quoted;
				plain[n] = 0;
				continue;
			}
			if (s[i] == '\\') {
				if (++i == len) {
					*why = "a backslash at the end of the line (lines do not continue)";
					return -1;
				}
				plain[n] = 0;
			}
			out[o++] = s[i];
		}
		if (quoted) {
			*why = "a double quote that is not closed";
			return -1;
		}
		out[o++] = 0;
		n++;
	}
}

const struct table_entry *table_find(const struct table *t, const char *name)
{
	unsigned i;

	for (i = 0; i < t->nr; i++)
		if (!strcmp(t->entries[i].name, name))
			return &t->entries[i];
	return NULL;
}

int table_entry_opts(const struct table_entry *e, struct add_opts *o,
		     char *err, size_t errlen)
{
	char *argv[TABLE_MAX_WORDS + 4];
	int argc = 0, i, ret;

	argv[argc++] = "add";
	argv[argc++] = "-t";
	argv[argc++] = e->target;
	for (i = 0; i < e->nr_opts; i++)
		argv[argc++] = e->opts[i];
	argv[argc] = NULL;
	ret = opts_parse_add(argc, argv, o, err, errlen);
	if (ret > 0) {
		snprintf(err, errlen, "--help has no place in a table");
		return -EINVAL;
	}
	if (ret < 0)
		return ret;
	/* a -t among the options would have replaced the target */
	if (o->conf.type != e->target) {
		snprintf(err, errlen, "-t '%s': the target is the second field, not an option",
			 o->conf.type);
		return -EINVAL;
	}
	if (o->foreground) {
		snprintf(err, errlen, "--foreground: up always detaches the daemon");
		return -EINVAL;
	}
	for (i = 0; i < (int)o->conf.nr_files; i++) {
		if (o->conf.files[i][0] == '/')
			continue;
		snprintf(err, errlen, "-f '%s': a table names files by absolute path",
			 o->conf.files[i]);
		return -EINVAL;
	}
	if (o->conf.meta_file && o->conf.meta_file[0] != '/') {
		snprintf(err, errlen, "--metadata_file '%s': a table names files by absolute path",
			 o->conf.meta_file);
		return -EINVAL;
	}
	o->name = e->name;
	return 0;
}

/* The words of one line as an entry of @t, checked; 0 or -errno. */
static int add_entry(struct table *t, char **words, const unsigned char *plain,
		     int n, unsigned line, const char *path, char *err,
		     size_t errlen)
{
	const struct table_entry *other;
	struct table_entry *e, *ne;
	struct add_opts *o;
	size_t size = 0;
	char why[320];
	int i, ret;

	if (!rs_name_valid(words[0], strlen(words[0])))
		return errmsg(err, errlen, path, line,
			      "bad name '%.64s' (1 to %d of A-Z a-z 0-9 _ . -, not . or ..)",
			      words[0], RS_MAX_NAME);
	if (n < 2)
		return errmsg(err, errlen, path, line,
			      "'%s' has no target (NAME TARGET [OPTIONS])", words[0]);
	other = table_find(t, words[0]);
	if (other)
		return errmsg(err, errlen, path, line,
			      "duplicate name '%s' (also on line %u)", words[0],
			      other->line);
	if (t->nr == TABLE_MAX_ENTRIES)
		return errmsg(err, errlen, path, line, "more than %d entries",
			      TABLE_MAX_ENTRIES);
	if (!(t->nr & (t->nr - 1))) {
		ne = realloc(t->entries, (t->nr ? 2 * t->nr : 1) * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		t->entries = ne;
	}
	e = &t->entries[t->nr];
	memset(e, 0, sizeof(*e));
	e->line = line;
	for (i = 0; i < n; i++)
		size += strlen(words[i]) + 1;
	e->words = malloc(size);
	e->opts = malloc((size_t)n * sizeof(*e->opts));
	if (!e->words || !e->opts) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* the words are contiguous in the line's buffer, each after the last */
	memcpy(e->words, words[0], size);
	e->name = e->words;
	e->target = e->words + (words[1] - words[0]);
	for (i = 2; i < n; i++) {
		if (plain[i] && !strcmp(words[i], TABLE_OPT_INITRAMFS))
			e->initramfs = 1;
		else
			e->opts[e->nr_opts++] = e->words + (words[i] - words[0]);
	}

	o = malloc(sizeof(*o));
	if (!o) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = table_entry_opts(e, o, why, sizeof(why));
	e->dev_id = o->dev_id;
	free(o);
	if (ret < 0) {
		ret = errmsg(err, errlen, path, line, "%s", why);
		goto err_free;
	}
	for (i = 0; e->dev_id >= 0 && i < (int)t->nr; i++)
		if (t->entries[i].dev_id == e->dev_id) {
			ret = errmsg(err, errlen, path, line,
				     "device id %d is also on line %u",
				     e->dev_id, t->entries[i].line);
			goto err_free;
		}
	t->nr++;
	return 0;

err_free:
	free(e->words);
	free(e->opts);
	return ret;
}

int table_parse(const char *buf, size_t len, const char *path,
		struct table *t, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len, *nl, *why;
	char out[TABLE_MAX_LINE + 2], bad[32], *words[TABLE_MAX_WORDS];
	unsigned char plain[TABLE_MAX_WORDS];
	unsigned line = 0;
	size_t ll;
	int n, ret = 0;

	memset(t, 0, sizeof(*t));
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (ll > TABLE_MAX_LINE) {
			ret = errmsg(err, errlen, path, line,
				     "line longer than %d bytes", TABLE_MAX_LINE);
			break;
		}
		why = bad_byte(p, ll, bad, sizeof(bad));
		n = why ? -1 : split_words(p, ll, out, words, plain, &why);
		if (n < 0) {
			ret = errmsg(err, errlen, path, line, "%s", why);
			break;
		}
		if (n > 0) {
			ret = add_entry(t, words, plain, n, line, path, err, errlen);
			if (ret == -ENOMEM)
				snprintf(err, errlen, "%s: out of memory", path);
			if (ret < 0)
				break;
		}
		p = nl ? nl + 1 : end;
	}
	if (ret < 0)
		table_free(t);
	return ret;
}

void table_free(struct table *t)
{
	unsigned i;

	for (i = 0; i < t->nr; i++) {
		free(t->entries[i].words);
		free(t->entries[i].opts);
	}
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

int table_load(const char *path, struct table *t, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, ret;

	memset(t, 0, sizeof(*t));
	/* O_NONBLOCK: a FIFO put there must not hang the open */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	ret = -EPERM;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file; not using it", path);
		goto out;
	}
	/* it says which files and hosts root's daemons use: only root or you write it */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %u, neither root nor you; not using it",
			 path, (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by group or others (mode %04o); not using it",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > TABLE_MAX_FILE) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s is larger than %u bytes", path, TABLE_MAX_FILE);
		goto out;
	}
	/* one byte more than its size: a file that grew is refused, not cut */
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = rs_read_all(fd, buf, (size_t)st.st_size);
	if (n == -EFBIG) {
		ret = -EAGAIN;
		snprintf(err, errlen, "%s changed while it was read", path);
		goto out;
	}
	if (n < 0) {
		ret = (int)n;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror((int)-n));
		goto out;
	}
	got = (size_t)n;
	ret = table_parse(buf, got, path, t, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}
