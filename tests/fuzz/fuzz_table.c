// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the device table.  Any input goes to
 * table_parse(); a refusal must say "PATH:LINE: ..." and leave nothing;
 * what it accepts must hold valid names and entries the add parser takes,
 * and written back with every word quoted it must parse to the same
 * entries.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/cli.h"

#define MUST(cond) do { if (!(cond)) abort(); } while (0)

/* @w double-quoted, '"' and '\' escaped; 0 if it does not fit. */
static size_t put_word(char *out, size_t cap, const char *w)
{
	size_t n = 0;

	if (cap < 3)
		return 0;
	out[n++] = ' ';
	out[n++] = '"';
	for (; *w; w++) {
		if (n + 4 > cap)
			return 0;
		if (*w == '"' || *w == '\\')
			out[n++] = '\\';
		out[n++] = *w;
	}
	out[n++] = '"';
	return n;
}

/* The table written back, one line per entry; NULL if a line gets too long. */
static char *format(const struct table *t, size_t *len)
{
	size_t cap = (size_t)t->nr * (TABLE_MAX_LINE + 1) + 1, n = 0, k, start;
	char *text = malloc(cap);
	unsigned i;
	int j;

	MUST(text);
	for (i = 0; i < t->nr; i++) {
		const struct table_entry *e = &t->entries[i];

		start = n;
		n += (size_t)snprintf(text + n, cap - n, "%s", e->name);
		k = put_word(text + n, cap - n, e->target);
		for (j = 0; k && j < e->nr_opts; j++) {
			n += k;
			k = put_word(text + n, cap - n, e->opts[j]);
		}
		n += k;
		if (k && e->initramfs)
			n += (size_t)snprintf(text + n, cap - n, " %s", TABLE_OPT_INITRAMFS);
		if (!k || n - start > TABLE_MAX_LINE) {
			free(text);
			return NULL;
		}
		text[n++] = '\n';
	}
	*len = n;
	return text;
}

static int same_entry(const struct table_entry *a, const struct table_entry *b)
{
	int i;

	if (strcmp(a->name, b->name) || strcmp(a->target, b->target) ||
	    a->nr_opts != b->nr_opts || a->initramfs != b->initramfs ||
	    a->dev_id != b->dev_id)
		return 0;
	for (i = 0; i < a->nr_opts; i++)
		if (strcmp(a->opts[i], b->opts[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct add_opts o;
	struct table t, back;
	char err[512], why[320], *text;
	unsigned i;
	size_t len;

	if (table_parse((const char *)data, size, "tab", &t, err, sizeof(err)) < 0) {
		MUST(!t.nr && !t.entries);
		MUST(!strncmp(err, "tab:", 4) && err[4] >= '1' && err[4] <= '9');
		return 0;
	}
	for (i = 0; i < t.nr; i++) {
		const struct table_entry *e = &t.entries[i];

		MUST(rs_name_valid(e->name, strlen(e->name)));
		MUST(table_find(&t, e->name) == e);
		MUST(e->nr_opts <= TABLE_MAX_WORDS - 2 && e->line >= 1);
		MUST(table_entry_opts(e, &o, why, sizeof(why)) == 0);
		MUST(o.name == e->name && o.conf.type == e->target);
	}
	text = format(&t, &len);
	if (text) {
		MUST(table_parse(text, len, "back", &back, err, sizeof(err)) == 0);
		MUST(back.nr == t.nr);
		for (i = 0; i < t.nr; i++)
			MUST(same_entry(&t.entries[i], &back.entries[i]));
		table_free(&back);
		free(text);
	}
	table_free(&t);
	return 0;
}
