// SPDX-License-Identifier: MIT
/*
 * N.json: the writer and a strict recursive-descent reader (the format is
 * in runstate.h).  The reader takes what the writer writes and valid JSON
 * of the same shape, nothing else: the file decides which process del
 * kills, so a file that is odd in any way is refused rather than guessed at.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runstate.h"

/* ---- reader ---- */

struct parser {
	const char *p, *end;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* 1 and past it if the next byte but blanks is @c, else 0. */
static int eat(struct parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p == ps->end || *ps->p != c)
		return 0;
	ps->p++;
	return 1;
}

static int is_digit(struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* A non-negative decimal integer without leading zeros, at most @max. */
static int parse_uint(struct parser *ps, uint64_t max, uint64_t *out)
{
	const char *start;
	uint64_t v = 0;

	skip_ws(ps);
	start = ps->p;
	while (is_digit(ps)) {
		unsigned d = (unsigned)(*ps->p - '0');

		if (d > max || v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		ps->p++;
	}
	if (ps->p == start || (*start == '0' && ps->p - start > 1))
		return -EINVAL;
	*out = v;
	return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (ps->end - ps->p < 4)
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		char c = *ps->p++;

		if (c >= '0' && c <= '9')
			v = v << 4 | (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v << 4 | (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* After a backslash: the bytes it stands for in @out, their count in *@n. */
static int parse_escape(struct parser *ps, char *out, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	unsigned cp, lo;

	if (ps->p == ps->end)
		return -EINVAL;
	if (*ps->p != 'u') {
		e = memchr(from, *ps->p++, sizeof(from) - 1);
		if (!e)
			return -EINVAL;
		out[0] = to[e - from];
		*n = 1;
		return 0;
	}
	ps->p++;
	if (hex4(ps, &cp) < 0 || !cp || (cp >= 0xdc00 && cp <= 0xdfff))
		return -EINVAL;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		/* a high surrogate stands only before a low one */
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return -EINVAL;
		ps->p += 2;
		if (hex4(ps, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return -EINVAL;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	*n = utf8_put(cp, out);
	return 0;
}

/*
 * A string, decoded into @buf (at most @cap bytes, no NUL added) with its
 * length in *@len; with @buf NULL only checked.
 */
static int parse_string(struct parser *ps, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	if (!eat(ps, '"'))
		return -EINVAL;
	for (;;) {
		char one[4];
		size_t k = 1;
		unsigned char c;

		if (ps->p == ps->end)
			return -EINVAL;
		c = (unsigned char)*ps->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return -EINVAL;
		one[0] = (char)c;
		if (c == '\\' && parse_escape(ps, one, &k) < 0)
			return -EINVAL;
		if (buf) {
			if (k > cap - n)
				return -EINVAL;
			memcpy(buf + n, one, k);
		}
		n += k;
	}
	if (len)
		*len = n;
	return 0;
}

static int parse_strdup(struct parser *ps, char **out)
{
	char buf[RS_MAX_STR];
	size_t len;
	int ret;

	ret = parse_string(ps, buf, sizeof(buf), &len);
	if (ret < 0)
		return ret;
	*out = malloc(len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, buf, len);
	(*out)[len] = 0;
	return 0;
}

static int skip_literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return -EINVAL;
	ps->p += n;
	return 0;
}

/* Any JSON number (target's values are not ours to restrict). */
static int skip_number(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (!is_digit(ps))
		return -EINVAL;
	if (*ps->p++ != '0')
		while (is_digit(ps))
			ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (!is_digit(ps))
			return -EINVAL;
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return -EINVAL;
		while (is_digit(ps))
			ps->p++;
	}
	return 0;
}

/* Any JSON value; a container at @depth deeper than RS_MAX_DEPTH is refused. */
static int skip_value(struct parser *ps, int depth)
{
	int ret;

	skip_ws(ps);
	if (ps->p == ps->end)
		return -EINVAL;
	switch (*ps->p) {
	case '{':
	case '[': {
		char close = *ps->p == '{' ? '}' : ']';

		if (depth > RS_MAX_DEPTH)
			return -EINVAL;
		ps->p++;
		if (eat(ps, close))
			return 0;
		do {
			if (close == '}' &&
			    (parse_string(ps, NULL, 0, NULL) < 0 || !eat(ps, ':')))
				return -EINVAL;
			ret = skip_value(ps, depth + 1);
			if (ret < 0)
				return ret;
		} while (eat(ps, ','));
		return eat(ps, close) ? 0 : -EINVAL;
	}
	case '"':
		return parse_string(ps, NULL, 0, NULL);
	case 't':
		return skip_literal(ps, "true");
	case 'f':
		return skip_literal(ps, "false");
	case 'n':
		return skip_literal(ps, "null");
	default:
		return skip_number(ps);
	}
}

/* A JSON object, nothing around it, within the limits. */
static int target_valid(const char *text, size_t len)
{
	struct parser ps = { text, text + len };

	if (!len || len > RS_MAX_TARGET || text[0] != '{')
		return 0;
	return skip_value(&ps, 1) == 0 && ps.p == ps.end;
}

static int parse_target(struct parser *ps, char **out)
{
	const char *start;
	size_t len;
	int ret;

	skip_ws(ps);
	start = ps->p;
	if (ps->p == ps->end || *ps->p != '{')
		return -EINVAL;
	ret = skip_value(ps, 1);
	if (ret < 0)
		return ret;
	len = (size_t)(ps->p - start);
	if (len > RS_MAX_TARGET)
		return -EINVAL;
	*out = malloc(len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, start, len);
	(*out)[len] = 0;
	return 0;
}

static int parse_array(struct parser *ps, int (*elem)(struct parser *, void *),
		       void *ctx)
{
	int ret;

	if (!eat(ps, '['))
		return -EINVAL;
	if (eat(ps, ']'))
		return 0;
	do {
		ret = elem(ps, ctx);
		if (ret < 0)
			return ret;
	} while (eat(ps, ','));
	return eat(ps, ']') ? 0 : -EINVAL;
}

/* An object of the keys @names (each once, @required among them). */
static int parse_object(struct parser *ps, const char *const *names,
			unsigned nr_names, unsigned required,
			int (*field)(struct parser *, unsigned, void *), void *ctx)
{
	unsigned seen = 0, k;
	char key[16];
	size_t len;
	int ret;

	if (!eat(ps, '{'))
		return -EINVAL;
	if (eat(ps, '}'))
		return required ? -EINVAL : 0;
	do {
		ret = parse_string(ps, key, sizeof(key), &len);
		if (ret < 0)
			return ret;
		for (k = 0; k < nr_names; k++)
			if (strlen(names[k]) == len && !memcmp(names[k], key, len))
				break;
		if (k == nr_names || (seen & 1U << k) || !eat(ps, ':'))
			return -EINVAL;
		seen |= 1U << k;
		ret = field(ps, k, ctx);
		if (ret < 0)
			return ret;
	} while (eat(ps, ','));
	if (!eat(ps, '}'))
		return -EINVAL;
	return (seen & required) == required ? 0 : -EINVAL;
}

struct cpu_list {
	struct rs_queue *q;
	int last;
};

static int parse_cpu(struct parser *ps, void *ctx)
{
	struct cpu_list *l = ctx;
	uint64_t cpu;

	/* ascending, as written: no duplicates, and at most RS_MAX_CPUS */
	if (parse_uint(ps, RS_MAX_CPUS - 1, &cpu) < 0 || (int)cpu <= l->last)
		return -EINVAL;
	rs_cpu_set(l->q, (unsigned)cpu);
	l->last = (int)cpu;
	return 0;
}

enum { Q_TID, Q_CPUS, Q_NR };
static const char *const queue_keys[Q_NR] = { "tid", "cpus" };

static int parse_queue_field(struct parser *ps, unsigned k, void *ctx)
{
	struct rs_queue *q = ctx;
	struct cpu_list l = { q, -1 };
	uint64_t v;

	if (k == Q_CPUS)
		return parse_array(ps, parse_cpu, &l);
	if (parse_uint(ps, INT_MAX, &v) < 0)
		return -EINVAL;
	q->tid = (int)v;
	return 0;
}

static int parse_queue(struct parser *ps, void *ctx)
{
	struct run_state *s = ctx;
	struct rs_queue *q;
	int ret;

	if (s->nr_queues == RS_MAX_QUEUES)
		return -EINVAL;
	/* grow by doubling: nr_queues is a power of two when the array is full */
	if (!(s->nr_queues & (s->nr_queues - 1))) {
		q = realloc(s->queues, (s->nr_queues ? 2 * s->nr_queues : 1) * sizeof(*q));
		if (!q)
			return -ENOMEM;
		s->queues = q;
	}
	q = &s->queues[s->nr_queues];
	memset(q, 0, sizeof(*q));
	ret = parse_object(ps, queue_keys, Q_NR, 1U << Q_TID | 1U << Q_CPUS,
			   parse_queue_field, q);
	if (ret < 0)
		return ret;
	s->nr_queues++;
	return 0;
}

static int parse_arg(struct parser *ps, void *ctx)
{
	struct run_state *s = ctx;
	int ret;

	if (s->nr_args == RS_MAX_ARGS)
		return -EINVAL;
	ret = parse_strdup(ps, &s->args[s->nr_args]);
	if (ret < 0)
		return ret;
	s->nr_args++;
	return 0;
}

int rs_name_valid(const char *s, size_t len)
{
	size_t i;

	if (!len || len > RS_MAX_NAME || (s[0] == '.' && (len == 1 ||
	    (len == 2 && s[1] == '.'))))
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

static int parse_name(struct parser *ps, char **out)
{
	char buf[RS_MAX_NAME];
	size_t len;

	if (parse_string(ps, buf, sizeof(buf), &len) < 0 || !rs_name_valid(buf, len))
		return -EINVAL;
	*out = malloc(len + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, buf, len);
	(*out)[len] = 0;
	return 0;
}

enum {
	K_VERSION, K_DEV_ID, K_PID, K_PID_START, K_SIZE, K_MAX_SIZE, K_ARGS,
	K_QUEUES, K_NAME, K_DATA_PATH, K_TARGET, K_NR
};
static const char *const state_keys[K_NR] = {
	"version", "dev_id", "pid", "pid_start", "size", "max_size", "args",
	"queues", "name", "data_path", "target",
};
#define K_REQUIRED	((1U << K_NAME) - 1)

struct state_ctx {
	struct run_state *s;
	uint64_t version;
};

static int parse_state_field(struct parser *ps, unsigned k, void *ctx)
{
	struct run_state *s = ((struct state_ctx *)ctx)->s;
	uint64_t v;

	switch (k) {
	case K_ARGS:
		return parse_array(ps, parse_arg, s);
	case K_QUEUES:
		return parse_array(ps, parse_queue, s);
	case K_NAME:
		return parse_name(ps, &s->name);
	case K_DATA_PATH:
		return parse_strdup(ps, &s->data_path);
	case K_TARGET:
		return parse_target(ps, &s->target);
	case K_VERSION:
		if (parse_uint(ps, RS_VERSION, &v) < 0 || !v)
			return -EINVAL;
		((struct state_ctx *)ctx)->version = v;
		return 0;
	case K_DEV_ID:
		if (parse_uint(ps, RS_MAX_DEV_ID, &v) < 0)
			return -EINVAL;
		s->dev_id = (unsigned)v;
		return 0;
	case K_PID:
		if (parse_uint(ps, INT_MAX, &v) < 0 || !v)
			return -EINVAL;
		s->pid = (int)v;
		return 0;
	case K_PID_START:
		return parse_uint(ps, UINT64_MAX, &s->pid_start);
	case K_SIZE:
		return parse_uint(ps, UINT64_MAX, &s->size);
	default:
		return parse_uint(ps, UINT64_MAX, &s->max_size);
	}
}

int rs_parse(const char *text, size_t len, struct run_state *s)
{
	struct parser ps = { text, text + len };
	struct state_ctx ctx = { s, 0 };
	int ret;

	memset(s, 0, sizeof(*s));
	ret = parse_object(&ps, state_keys, K_NR, K_REQUIRED, parse_state_field, &ctx);
	skip_ws(&ps);
	if (!ret && ps.p != ps.end)
		ret = -EINVAL;
	/* version 2 exactly when there is a name, as the writer writes it */
	if (!ret && ctx.version != (s->name ? 2 : 1))
		ret = -EINVAL;
	if (ret < 0)
		rs_free(s);
	return ret;
}

void rs_free(struct run_state *s)
{
	unsigned i;

	for (i = 0; i < s->nr_args && i < RS_MAX_ARGS; i++)
		free(s->args[i]);
	free(s->queues);
	free(s->name);
	free(s->target);
	free(s->data_path);
	memset(s, 0, sizeof(*s));
}

static int str_equal(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int rs_equal(const struct run_state *a, const struct run_state *b)
{
	unsigned i;

	if (a->dev_id != b->dev_id || a->pid != b->pid ||
	    a->pid_start != b->pid_start || a->size != b->size ||
	    a->max_size != b->max_size || a->nr_args != b->nr_args ||
	    a->nr_queues != b->nr_queues || a->nr_args > RS_MAX_ARGS ||
	    !str_equal(a->name, b->name) || !str_equal(a->target, b->target) ||
	    !str_equal(a->data_path, b->data_path))
		return 0;
	for (i = 0; i < a->nr_args; i++)
		if (!str_equal(a->args[i], b->args[i]))
			return 0;
	for (i = 0; i < a->nr_queues; i++)
		if (a->queues[i].tid != b->queues[i].tid ||
		    memcmp(a->queues[i].cpus, b->queues[i].cpus,
			   sizeof(a->queues[i].cpus)))
			return 0;
	return 1;
}

/* ---- writer ---- */

struct sbuf {
	char *buf;
	size_t len, cap;
	int err;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	char *nb;
	size_t cap;

	if (b->err)
		return;
	if (n >= b->cap - b->len) {
		for (cap = b->cap ? b->cap : 1024; n >= cap - b->len; cap *= 2)
			;
		nb = realloc(b->buf, cap);
		if (!nb) {
			b->err = -ENOMEM;
			return;
		}
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_putu(struct sbuf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do
		tmp[--i] = (char)('0' + v % 10);
	while (v /= 10);
	sb_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

/* RFC 8259: '"', '\' and control bytes escaped, every other byte as it is. */
static void sb_putstr(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;

	sb_put(b, "\"", 1);
	while (*s) {
		for (run = s; *s && *s != '"' && *s != '\\' &&
			      (unsigned char)*s >= 0x20; s++)
			;
		sb_put(b, run, (size_t)(s - run));
		if (*s == '"' || *s == '\\') {
			char esc[2] = { '\\', *s++ };

			sb_put(b, esc, 2);
		} else if (*s) {
			unsigned char c = (unsigned char)*s++;
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			sb_put(b, esc, 6);
		}
	}
	sb_put(b, "\"", 1);
}

static void sb_key(struct sbuf *b, const char *key)
{
	sb_puts(b, ",\"");
	sb_puts(b, key);
	sb_puts(b, "\":");
}

/* What rs_parse() would refuse, so that rs_format() never writes it. */
static int rs_check(const struct run_state *s)
{
	unsigned i;

	if (s->dev_id > RS_MAX_DEV_ID || s->pid <= 0 || s->nr_args > RS_MAX_ARGS ||
	    s->nr_queues > RS_MAX_QUEUES || (s->nr_queues && !s->queues) ||
	    (s->name && !rs_name_valid(s->name, strlen(s->name))) ||
	    (s->data_path && strlen(s->data_path) > RS_MAX_STR) ||
	    (s->target && !target_valid(s->target, strlen(s->target))))
		return -EINVAL;
	for (i = 0; i < s->nr_args; i++)
		if (!s->args[i] || strlen(s->args[i]) > RS_MAX_STR)
			return -EINVAL;
	for (i = 0; i < s->nr_queues; i++)
		if (s->queues[i].tid < 0)
			return -EINVAL;
	return 0;
}

int rs_format(const struct run_state *s, char **text, size_t *len)
{
	struct sbuf b = { 0 };
	unsigned i;
	int ret;

	ret = rs_check(s);
	if (ret < 0)
		return ret;
	sb_puts(&b, "{\"version\":");
	sb_putu(&b, s->name ? 2 : 1);
	sb_key(&b, "dev_id");
	sb_putu(&b, s->dev_id);
	if (s->name) {
		sb_key(&b, "name");
		sb_putstr(&b, s->name);
	}
	sb_key(&b, "pid");
	sb_putu(&b, (uint64_t)s->pid);
	sb_key(&b, "pid_start");
	sb_putu(&b, s->pid_start);
	sb_key(&b, "size");
	sb_putu(&b, s->size);
	sb_key(&b, "max_size");
	sb_putu(&b, s->max_size);
	sb_key(&b, "args");
	sb_puts(&b, "[");
	for (i = 0; i < s->nr_args; i++) {
		if (i)
			sb_puts(&b, ",");
		sb_putstr(&b, s->args[i]);
	}
	sb_puts(&b, "]");
	sb_key(&b, "queues");
	sb_puts(&b, "[");
	for (i = 0; i < s->nr_queues; i++) {
		const char *sep = "";
		uint64_t bits;
		unsigned w;

		sb_puts(&b, i ? ",{\"tid\":" : "{\"tid\":");
		sb_putu(&b, (uint64_t)s->queues[i].tid);
		sb_puts(&b, ",\"cpus\":[");
		for (w = 0; w < RS_MAX_CPUS / 64; w++) {
			for (bits = s->queues[i].cpus[w]; bits; bits &= bits - 1) {
				sb_puts(&b, sep);
				sb_putu(&b, w * 64 + (unsigned)__builtin_ctzll(bits));
				sep = ",";
			}
		}
		sb_puts(&b, "]}");
	}
	sb_puts(&b, "]");
	if (s->data_path) {
		sb_key(&b, "data_path");
		sb_putstr(&b, s->data_path);
	}
	if (s->target) {
		sb_key(&b, "target");
		sb_puts(&b, s->target);
	}
	sb_puts(&b, "}\n");
	if (b.err) {
		free(b.buf);
		return b.err;
	}
	*text = b.buf;
	*len = b.len;
	return 0;
}
