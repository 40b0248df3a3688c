// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for N.json.  Any input goes to rs_parse(); what it
 * accepts must format, parse back to the same state, and format again to
 * the same text.  The input is also made into a state (cut at NULs into
 * args and data_path, bytes into cpu sets, itself as target), which must
 * survive rs_format() -> rs_parse() whenever rs_format() takes it.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=gnu11 \
 *	tests/fuzz/fuzz_runstate.c cli/runstate.c -o fuzz_runstate
 *   ./fuzz_runstate -max_total_time=600 CORPUS_DIR
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/runstate.h"

#define MUST(cond) do { if (!(cond)) abort(); } while (0)

/* format -> parse gives @s back; returns the text (to free). */
static char *round_trip(const struct run_state *s, size_t *len)
{
	struct run_state back;
	char *text;

	MUST(rs_format(s, &text, len) == 0);
	MUST(strlen(text) == *len);
	MUST(rs_parse(text, *len, &back) == 0);
	MUST(rs_equal(s, &back));
	rs_free(&back);
	return text;
}

static void check_parsed(const uint8_t *data, size_t size)
{
	struct run_state s, again;
	char *text, *text2;
	size_t len, len2;

	if (rs_parse((const char *)data, size, &s) < 0) {
		/* a refusal leaves nothing behind */
		MUST(!s.nr_args && !s.queues && !s.target && !s.data_path && !s.name);
		return;
	}
	text = round_trip(&s, &len);
	MUST(rs_parse(text, len, &again) == 0);
	MUST(rs_format(&again, &text2, &len2) == 0);
	MUST(len == len2 && !memcmp(text, text2, len));
	free(text2);
	rs_free(&again);
	free(text);
	rs_free(&s);
}

static void check_built(const uint8_t *data, size_t size)
{
	struct rs_queue q[2];
	struct run_state s = {
		.dev_id = size % (RS_MAX_DEV_ID + 1),
		.pid = 1 + (int)(size % 1000),
		.pid_start = size * 0x9e3779b97f4a7c15ULL,
		.size = UINT64_MAX - size,
		.max_size = size,
		.queues = q,
		.nr_queues = 2,
	};
	char *copy = malloc(size + 1), *p, *text;
	size_t i, len;

	MUST(copy);
	memcpy(copy, data, size);
	copy[size] = 0;
	memset(q, 0, sizeof(q));
	q[0].tid = (int)(size & INT_MAX);
	/* a few cpus anywhere in 0..1023 from the first bytes (all of them would be slow) */
	for (i = 0; i < size && i < 32; i++)
		rs_cpu_set(&q[i & 1], data[i] * 4U + (unsigned)(i >> 1 & 3));
	/* the input cut at NULs: args (long ones cut), the first is data_path */
	for (p = copy; p <= copy + size && s.nr_args < RS_MAX_ARGS; p += strlen(p) + 1) {
		if (strlen(p) > RS_MAX_STR)
			p[RS_MAX_STR] = 0;
		s.args[s.nr_args++] = p;
	}
	s.data_path = s.args[0];
	/* the second, when it is a table name, as the name */
	if (s.nr_args > 1 && rs_name_valid(s.args[1], strlen(s.args[1])))
		s.name = s.args[1];
	/* the whole input as target, when it is a JSON object */
	s.target = memchr(data, 0, size) ? NULL : copy;
	if (rs_format(&s, &text, &len) == -EINVAL) {
		MUST(s.target);
		s.target = NULL;
	} else {
		free(text);
	}
	free(round_trip(&s, &len));
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parsed(data, size);
	check_built(data, size);
	return 0;
}
