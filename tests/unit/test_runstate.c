// SPDX-License-Identifier: MIT
/*
 * N.json: round trips of every kind of string, the writer's exact text,
 * and every refusal of the strict reader and of the writer.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "runstate_fixture.h"

/* @n copies of @unit between @head and @tail. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t h = strlen(head), u = strlen(unit), t = strlen(tail), i;
	char *s = malloc(h + u * n + t + 1);

	REQUIRE(s);
	memcpy(s, head, h);
	for (i = 0; i < n; i++)
		memcpy(s + h + i * u, unit, u);
	memcpy(s + h + n * u, tail, t + 1);
	return s;
}

/* format -> parse gives @s back. */
static int round_trip(const struct run_state *s)
{
	struct run_state back;
	size_t len;
	char *text;
	int ok;

	if (rs_format(s, &text, &len) < 0)
		return 0;
	ok = strlen(text) == len && rs_parse(text, len, &back) == 0 && rs_equal(s, &back);
	if (ok)
		rs_free(&back);
	free(text);
	return ok;
}

static void test_round_trips(void)
{
	static struct rs_queue many[RS_MAX_QUEUES];
	struct run_state s = sample(), back;
	char *big = malloc(RS_MAX_STR + 1), *target, *text, odd[256];
	size_t len;
	unsigned i;

	REQUIRE(big);
	/* the writer's exact text */
	REQUIRE(rs_format(&s, &text, &len) == 0);
	CHECK(!strcmp(text, sample_text));
	CHECK_EQ(len, strlen(sample_text));
	free(text);
	REQUIRE(rs_parse(sample_text, strlen(sample_text), &back) == 0);
	CHECK(rs_equal(&s, &back));
	CHECK_EQ(back.nr_args, 4);
	CHECK(!strcmp(back.args[3], "/abs/img"));
	CHECK(rs_cpu_isset(&back.queues[0], 1) && !rs_cpu_isset(&back.queues[0], 2));
	rs_free(&back);
	CHECK(!back.args[0] && !back.queues && !back.nr_args);
	rs_free(&back);

	/* a table name: version 2, the name right after dev_id */
	s.name = "data-1_x.Y";
	CHECK(round_trip(&s));
	REQUIRE(rs_format(&s, &text, &len) == 0);
	{
		static const char head[] =
			"{\"version\":2,\"dev_id\":0,\"name\":\"data-1_x.Y\",\"pid\":123,";

		CHECK(!strncmp(text, head, sizeof(head) - 1));
	}
	free(text);
	s.name = "0123456789abcdef0123456789abcdef";
	CHECK(round_trip(&s));
	s.name = "...";
	CHECK(round_trip(&s));
	s.name = NULL;

	/* strings that would have broken "key value" lines or naive JSON */
	s.args[1] = "new\nline";
	s.args[2] = "q\"uote\\back\\slash\t\r";
	s.args[3] = "/\x01\x1f\x7f\xff\xc0 caf\xc3\xa9 \xf0\x9f\x98\x80";
	s.data_path = "zero copy (auto buf reg)\n\"x\":1";
	CHECK(round_trip(&s));
	REQUIRE(rs_format(&s, &text, &len) == 0);
	CHECK(strstr(text, "\"new\\u000aline\""));
	CHECK(strstr(text, "\"q\\\"uote\\\\back\\\\slash\\u0009\\u000d\""));
	CHECK(strstr(text, "\"/\\u0001\\u001f\x7f\xff\xc0 caf\xc3\xa9"));
	CHECK(!memchr(text, '\n', len - 1));
	free(text);

	/* every byte but NUL, and 4 KiB paths */
	for (i = 1; i < 256; i++)
		odd[i - 1] = (char)i;
	odd[255] = 0;
	s.args[0] = odd;
	memset(big, '/', RS_MAX_STR);
	big[RS_MAX_STR] = 0;
	s.args[1] = big;
	s.data_path = big;
	CHECK(round_trip(&s));
	memset(big, '\n', RS_MAX_STR);
	CHECK(round_trip(&s));

	/* the limits themselves, and the empty cases */
	s.nr_args = RS_MAX_ARGS;
	for (i = 4; i < RS_MAX_ARGS; i++)
		s.args[i] = "";
	s.nr_queues = RS_MAX_QUEUES;
	s.queues = many;
	for (i = 0; i < RS_MAX_QUEUES; i++) {
		many[i].tid = (int)i;
		rs_cpu_set(&many[i], i % RS_MAX_CPUS);
	}
	memset(many[7].cpus, 0xff, sizeof(many[7].cpus));
	many[8].tid = INT_MAX;
	s.dev_id = RS_MAX_DEV_ID;
	s.pid = INT_MAX;
	s.pid_start = s.size = UINT64_MAX;
	s.max_size = 0;
	CHECK(round_trip(&s));
	s.nr_args = 0;
	s.nr_queues = 0;
	s.queues = NULL;
	s.data_path = NULL;
	s.target = NULL;
	CHECK(round_trip(&s));
	REQUIRE(rs_format(&s, &text, &len) == 0);
	CHECK(!strstr(text, "data_path") && !strstr(text, "target"));
	free(text);

	/* target: any object, kept as written, RS_MAX_DEPTH deep at most */
	s = sample();
	s.target = "{\"a\":[1,-2.5e+3,0.0,1E-7,true,false,null,{},[]],"
		   "\"\\u00e9\\ud83d\\ude00\":\"\xff\",\"b\":{\"c\":\"x\"}}";
	CHECK(round_trip(&s));
	text = repeat("", "{\"a\":", RS_MAX_DEPTH, "1");
	s.target = repeat(text, "}", RS_MAX_DEPTH, "");
	CHECK(round_trip(&s));
	free(s.target);
	free(text);
	target = malloc(RS_MAX_TARGET + 1);
	REQUIRE(target);
	s.target = target;
	/* a target of exactly RS_MAX_TARGET bytes */
	memset(target, ' ', RS_MAX_TARGET);
	target[0] = '{';
	target[RS_MAX_TARGET - 1] = '}';
	target[RS_MAX_TARGET] = 0;
	CHECK(round_trip(&s));
	free(target);
	free(big);
}

/*
 * A document of the sample's fields with @key's value replaced (NULL:
 * left out); a key not among them is added.
 */
static char *doc_with(const char *key, const char *value)
{
	static const char *const fields[][2] = {
		{ "version", "1" }, { "dev_id", "0" }, { "pid", "123" },
		{ "pid_start", "4567" }, { "size", "1073741824" },
		{ "max_size", "4294967296" }, { "args", "[\"-t\",\"null\"]" },
		{ "queues", "[{\"tid\":124,\"cpus\":[0,1]}]" },
		{ "data_path", "\"copy\"" }, { "target", "{\"name\":\"null\"}" },
	};
	size_t cap = 1024 + (value ? strlen(value) : 0), n = 0, i;
	char *doc = malloc(cap);
	int found = 0;

	REQUIRE(doc);
	n += (size_t)snprintf(doc + n, cap - n, "{");
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *v = fields[i][1];

		if (!strcmp(fields[i][0], key)) {
			found = 1;
			v = value;
		}
		if (v)
			n += (size_t)snprintf(doc + n, cap - n, "%s\"%s\":%s",
					      n > 1 ? "," : "", fields[i][0], v);
	}
	if (!found)
		n += (size_t)snprintf(doc + n, cap - n, ",\"%s\":%s", key, value);
	snprintf(doc + n, cap - n, "}");
	return doc;
}

static int parse_len(const char *doc, size_t len)
{
	struct run_state s;
	int ret = rs_parse(doc, len, &s);

	if (ret == 0)
		rs_free(&s);
	else
		/* a refusal leaves nothing to free */
		CHECK(!s.nr_args && !s.nr_queues && !s.queues && !s.target &&
		      !s.data_path && !s.name);
	return ret;
}

static void expect(int want, const char *doc, int line)
{
	int ret = parse_len(doc, strlen(doc));

	unit_checks++;
	if (ret != want) {
		fprintf(stderr, "%s:%d: rs_parse gave %d, not %d, for: %.300s\n",
			__FILE__, line, ret, want, doc);
		unit_failures++;
	}
}

static void expect_with(int want, const char *key, const char *value, int line)
{
	char *doc = doc_with(key, value);

	expect(want, doc, line);
	free(doc);
}

#define ACCEPT(doc)		expect(0, doc, __LINE__)
#define REJECT(doc)		expect(-EINVAL, doc, __LINE__)
#define ACCEPT_WITH(k, v)	expect_with(0, k, v, __LINE__)
#define REJECT_WITH(k, v)	expect_with(-EINVAL, k, v, __LINE__)

static void reject_long(const char *key, const char *head, const char *unit,
			size_t n, const char *tail, int want, int line)
{
	char *v = repeat(head, unit, n, tail);

	expect_with(want, key, v, line);
	free(v);
}

static void test_rejections(void)
{
	static const char *const required[] = {
		"version", "dev_id", "pid", "pid_start", "size", "max_size",
		"args", "queues",
	};
	char *doc;
	unsigned i;

	ACCEPT_WITH("version", "1");
	/* valid JSON of the same shape that the writer does not write */
	ACCEPT(" \t\r\n{ \"queues\" : [ { \"cpus\" : [ ] , \"tid\" : 0 } ] , \"args\" : [ ] ,"
	       "\"max_size\":0,\"size\":0,\"pid_start\":0,\"pid\":1,\"dev_id\":0,"
	       "\"\\u0076ersion\":1 } \n\t ");
	ACCEPT_WITH("args", "[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\\u00e9\\uD83D\\uDE00\"]");
	ACCEPT_WITH("data_path", "\"\xff\xfe not UTF-8 \x7f\"");

	/* not an object, or not only one */
	REJECT("");
	REJECT(" ");
	REJECT("{}");
	REJECT("[]");
	REJECT("null");
	REJECT("\"x\"");
	doc = doc_with("version", "1");
	CHECK_EQ(parse_len(doc, strlen(doc) + 1), -EINVAL);	/* its NUL */
	CHECK_EQ(parse_len(doc, strlen(doc) - 1), -EINVAL);	/* cut */
	CHECK_EQ(parse_len(doc, 1), -EINVAL);
	free(doc);
	{
		static const char *const bad[] = {
			"x", "}", " {}", "\n}", ",", "\"", "0", "\f", "\v",
		};
		static const char *const good[] = { " ", "\n", "\t\r\n " };
		char *more;

		doc = doc_with("version", "1");
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			more = repeat(doc, bad[i], 1, "");
			REJECT(more);
			free(more);
		}
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			more = repeat(doc, good[i], 1, "");
			ACCEPT(more);
			free(more);
		}
		free(doc);
	}

	/* every required key, and the queue's */
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		REJECT_WITH(required[i], NULL);
	ACCEPT_WITH("data_path", NULL);
	ACCEPT_WITH("target", NULL);
	REJECT_WITH("queues", "[{\"tid\":1}]");
	REJECT_WITH("queues", "[{\"cpus\":[]}]");
	REJECT_WITH("queues", "[{}]");

	/* duplicate and unknown keys */
	REJECT_WITH("version\":1,\"version", "1");
	REJECT_WITH("pid", "1,\"pid\":1");
	REJECT_WITH("target", "{},\"target\":{}");
	REJECT_WITH("queues", "[{\"tid\":1,\"tid\":1,\"cpus\":[]}]");
	REJECT_WITH("queues", "[{\"tid\":1,\"cpus\":[],\"cpus\":[]}]");
	REJECT_WITH("unknown", "1");
	REJECT_WITH("Version", "1");
	REJECT_WITH("version ", "1");
	REJECT_WITH("a_very_long_unknown_key", "1");
	REJECT_WITH("queues", "[{\"tid\":1,\"cpus\":[],\"node\":0}]");

	/* name: only in version 2, which needs it; only what a table allows */
	ACCEPT("{\"version\":2,\"dev_id\":0,\"name\":\"data\",\"pid\":1,\"pid_start\":0,"
	       "\"size\":0,\"max_size\":0,\"args\":[],\"queues\":[]}");
	ACCEPT("{\"name\":\"\\u0064ata\",\"dev_id\":0,\"pid\":1,\"pid_start\":0,"
	       "\"size\":0,\"max_size\":0,\"args\":[],\"queues\":[],\"version\":2}");
	REJECT_WITH("name", "\"data\"");		/* with version 1 */
	REJECT("{\"version\":2,\"dev_id\":0,\"pid\":1,\"pid_start\":0,"
	       "\"size\":0,\"max_size\":0,\"args\":[],\"queues\":[]}");
	REJECT("{\"version\":3,\"dev_id\":0,\"name\":\"data\",\"pid\":1,\"pid_start\":0,"
	       "\"size\":0,\"max_size\":0,\"args\":[],\"queues\":[]}");
	{
		static const char *const bad_names[] = {
			"\"\"", "\".\"", "\"..\"", "\"a/b\"", "\"a b\"", "\"a\\u0000\"",
			"\"\\u00e9\"", "\"a\\nb\"", "\"x:y\"", "\"*\"",
			"\"0123456789abcdef0123456789abcdef0\"", "null", "1", "[\"a\"]",
			"\"data\",\"name\":\"data\"",
		};
		char *d;

		for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
			d = repeat("{\"version\":2,\"dev_id\":0,\"pid\":1,\"pid_start\":0,"
				   "\"size\":0,\"max_size\":0,\"args\":[],\"queues\":[],"
				   "\"name\":", bad_names[i], 1, "}");
			REJECT(d);
			free(d);
		}
	}

	/* numbers: non-negative decimal integers, no leading zeros, in range */
	REJECT_WITH("version", "2");
	REJECT_WITH("version", "0");
	REJECT_WITH("version", "01");
	REJECT_WITH("size", "-1");
	REJECT_WITH("size", "+1");
	REJECT_WITH("size", "1.0");
	REJECT_WITH("size", "1e3");
	REJECT_WITH("size", "1E3");
	REJECT_WITH("size", "01");
	REJECT_WITH("size", "00");
	REJECT_WITH("size", "0x10");
	REJECT_WITH("size", "1 2");
	REJECT_WITH("size", "\"1\"");
	REJECT_WITH("size", "true");
	REJECT_WITH("size", "null");
	REJECT_WITH("size", "");
	ACCEPT_WITH("size", "0");
	ACCEPT_WITH("size", "18446744073709551615");
	REJECT_WITH("size", "18446744073709551616");
	REJECT_WITH("size", "99999999999999999999");
	REJECT_WITH("max_size", "184467440737095516150");
	REJECT_WITH("pid_start", "18446744073709551616");
	REJECT_WITH("pid", "0");
	ACCEPT_WITH("pid", "2147483647");
	REJECT_WITH("pid", "2147483648");
	REJECT_WITH("pid", "4294967297");
	REJECT_WITH("dev_id", "1048576");
	ACCEPT_WITH("dev_id", "1048575");
	REJECT_WITH("queues", "[{\"tid\":-1,\"cpus\":[]}]");
	REJECT_WITH("queues", "[{\"tid\":2147483648,\"cpus\":[]}]");
	ACCEPT_WITH("queues", "[{\"tid\":0,\"cpus\":[0,1023]}]");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":[1024]}]");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":[1,0]}]");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":[1,1]}]");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":[00]}]");

	/* strings */
	REJECT_WITH("args", "[\"a\\u0000b\"]");
	REJECT_WITH("data_path", "\"\\u0000\"");
	doc = doc_with("args", "[\"a@b\"]");
	*strchr(doc, '@') = 0;
	CHECK_EQ(parse_len(doc, strlen(doc) + 1 + strlen(doc + strlen(doc) + 1)), -EINVAL);
	free(doc);
	REJECT_WITH("args", "[\"a\x01" "b\"]");
	REJECT_WITH("args", "[\"a\nb\"]");
	REJECT_WITH("args", "[\"a\x1f\"]");
	REJECT_WITH("args", "[\"\\x41\"]");
	REJECT_WITH("args", "[\"\\a\"]");
	REJECT_WITH("args", "[\"\\'\"]");
	REJECT_WITH("args", "[\"\\u12\"]");
	REJECT_WITH("args", "[\"\\u12g4\"]");
	REJECT_WITH("args", "[\"\\ud800\"]");
	REJECT_WITH("args", "[\"\\ud800x\"]");
	REJECT_WITH("args", "[\"\\ud800\\u0041\"]");
	REJECT_WITH("args", "[\"\\ud800\\ud800\"]");
	REJECT_WITH("args", "[\"\\udc00\"]");
	REJECT_WITH("args", "[\"\\udfff\\ud800\"]");
	REJECT_WITH("args", "[\"unterminated]");
	REJECT_WITH("args", "[\"a\\\"]");
	REJECT_WITH("\\u0000", "1");

	/* shapes */
	REJECT_WITH("args", "\"-t\"");
	REJECT_WITH("args", "[1]");
	REJECT_WITH("args", "[null]");
	REJECT_WITH("args", "[\"a\",]");
	REJECT_WITH("args", "[,\"a\"]");
	REJECT_WITH("args", "[\"a\" \"b\"]");
	REJECT_WITH("args", "[\"a\"");
	REJECT_WITH("args", "{}");
	REJECT_WITH("queues", "[1]");
	REJECT_WITH("queues", "[[]]");
	REJECT_WITH("queues", "{}");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":[0,]}]");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":\"0-3\"}]");
	REJECT_WITH("queues", "[{\"tid\":0,\"cpus\":[]},]");
	REJECT_WITH("queues", "[{\"tid\":0 \"cpus\":[]}]");
	REJECT_WITH("queues", "[{\"tid\" 0,\"cpus\":[]}]");
	REJECT_WITH("data_path", "null");
	REJECT_WITH("data_path", "1");
	REJECT_WITH("target", "[]");
	REJECT_WITH("target", "\"{}\"");
	REJECT_WITH("target", "null");
	REJECT_WITH("version", "1,");
	REJECT_WITH("version", "1,,\"x\":1");
	REJECT("{\"version\" 1}");
	REJECT("{version:1}");
	REJECT("{'version':1}");

	/* target: valid JSON, and nothing else */
	ACCEPT_WITH("target", "{ }");
	ACCEPT_WITH("target", "{\"a\":{\"a\":1},\"a\":2}");	/* the backend's keys */
	REJECT_WITH("target", "{\"a\":01}");
	REJECT_WITH("target", "{\"a\":-}");
	REJECT_WITH("target", "{\"a\":-01}");
	REJECT_WITH("target", "{\"a\":1.}");
	REJECT_WITH("target", "{\"a\":.5}");
	REJECT_WITH("target", "{\"a\":1e}");
	REJECT_WITH("target", "{\"a\":1e+}");
	REJECT_WITH("target", "{\"a\":+1}");
	REJECT_WITH("target", "{\"a\":tru}");
	REJECT_WITH("target", "{\"a\":True}");
	REJECT_WITH("target", "{\"a\":nul}");
	REJECT_WITH("target", "{\"a\":1,}");
	REJECT_WITH("target", "{\"a\":[1,]}");
	REJECT_WITH("target", "{\"a\" 1}");
	REJECT_WITH("target", "{1:2}");
	REJECT_WITH("target", "{\"a\"}");
	REJECT_WITH("target", "{\"a\":\"\\u0000\"}");
	REJECT_WITH("target", "{\"a\":\"\x01\"}");
	REJECT_WITH("target", "{\"a\":NaN}");
	REJECT_WITH("target", "{");

	/* too deep: RS_MAX_DEPTH levels in target pass, one more does not */
	reject_long("target", "{\"a\":", "[", RS_MAX_DEPTH - 1, "", -EINVAL, __LINE__);
	doc = repeat("{\"a\":", "[", RS_MAX_DEPTH - 1, "");
	{
		char *closed = repeat(doc, "]", RS_MAX_DEPTH - 1, "}");
		char *deeper = repeat("{\"a\":", "[", RS_MAX_DEPTH, "");
		char *closed2 = repeat(deeper, "]", RS_MAX_DEPTH, "}");

		ACCEPT_WITH("target", closed);
		REJECT_WITH("target", closed2);
		free(closed);
		free(deeper);
		free(closed2);
	}
	free(doc);
	reject_long("target", "{\"a\":", "[", 100000, "", -EINVAL, __LINE__);
	reject_long("target", "{\"a\":", "{\"a\":", 100000, "", -EINVAL, __LINE__);

	/* huge counts and lengths */
	reject_long("args", "[\"\"", ",\"\"", RS_MAX_ARGS - 1, "]", 0, __LINE__);
	reject_long("args", "[\"\"", ",\"\"", RS_MAX_ARGS, "]", -EINVAL, __LINE__);
	reject_long("args", "[\"", "x", RS_MAX_STR, "\"]", 0, __LINE__);
	reject_long("args", "[\"", "x", RS_MAX_STR + 1, "\"]", -EINVAL, __LINE__);
	reject_long("args", "[\"", "\\u00e9", RS_MAX_STR / 2, "\"]", 0, __LINE__);
	reject_long("args", "[\"", "\\u00e9", RS_MAX_STR / 2, "x\"]", -EINVAL, __LINE__);
	reject_long("data_path", "\"", "\\n", RS_MAX_STR, "\"", 0, __LINE__);
	reject_long("data_path", "\"", "\\n", RS_MAX_STR + 1, "\"", -EINVAL, __LINE__);
	reject_long("queues", "[{\"tid\":0,\"cpus\":[]}", ",{\"tid\":0,\"cpus\":[]}",
		    RS_MAX_QUEUES - 1, "]", 0, __LINE__);
	reject_long("queues", "[{\"tid\":0,\"cpus\":[]}", ",{\"tid\":0,\"cpus\":[]}",
		    RS_MAX_QUEUES, "]", -EINVAL, __LINE__);
	reject_long("target", "{\"a\":\"", "x", RS_MAX_TARGET - 8, "\"}", 0, __LINE__);
	reject_long("target", "{\"a\":\"", "x", RS_MAX_TARGET - 7, "\"}", -EINVAL, __LINE__);
	reject_long("target", "{\"a\":[0", ",0", 1000000, "]}", -EINVAL, __LINE__);
}

static void test_format_refusals(void)
{
	struct rs_queue q = { .tid = -1 };
	struct run_state s = sample();
	char *big = malloc(RS_MAX_STR + 2), *text;
	size_t len;

	REQUIRE(big);
#define REFUSE(field, value) do {					\
		struct run_state t = sample();				\
		t.field = value;					\
		CHECK_EQ(rs_format(&t, &text, &len), -EINVAL);		\
	} while (0)
	REFUSE(pid, 0);
	REFUSE(pid, -5);
	REFUSE(dev_id, RS_MAX_DEV_ID + 1);
	REFUSE(nr_args, RS_MAX_ARGS + 1);
	REFUSE(nr_args, 5);		/* args[4] is NULL */
	REFUSE(nr_queues, RS_MAX_QUEUES + 1);
	REFUSE(queues, NULL);
	REFUSE(queues, &q);
	REFUSE(target, "[]");
	REFUSE(target, " {}");
	REFUSE(target, "{} ");
	REFUSE(target, "{}{}");
	REFUSE(target, "{");
	REFUSE(target, "");
	REFUSE(target, "{\"a\":01}");
	REFUSE(name, "");
	REFUSE(name, ".");
	REFUSE(name, "..");
	REFUSE(name, "a/b");
	REFUSE(name, "a b");
	REFUSE(name, "0123456789abcdef0123456789abcdef0");
	memset(big, 'x', RS_MAX_STR + 1);
	big[RS_MAX_STR + 1] = 0;
	REFUSE(data_path, big);
	s.args[0] = big;
	CHECK_EQ(rs_format(&s, &text, &len), -EINVAL);
	free(big);
#undef REFUSE
}

int main(void)
{
	test_round_trips();
	test_rejections();
	test_format_refusals();
	return unit_done();
}
