/* SPDX-License-Identifier: MIT */
/*
 * A minimal unit-test harness: one program per test file, exit 0 pass,
 * 1 fail, 77 skip.  CHECK() records a failure and goes on; REQUIRE()
 * stops the program.
 */
#ifndef SUBLK_UNIT_H
#define SUBLK_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond) do {						\
	unit_checks++;							\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		unit_failures++;					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	unit_checks++;							\
	if (_a != _b) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s == %s "	\
			"(%lld != %lld)\n", __FILE__, __LINE__,		\
			#a, #b, _a, _b);				\
		unit_failures++;					\
	}								\
} while (0)

#define REQUIRE(cond) do {						\
	unit_checks++;							\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: REQUIRE failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		exit(1);						\
	}								\
} while (0)

#define UNIT_SKIP(why) do {						\
	fprintf(stderr, "skip: %s\n", why);				\
	exit(77);							\
} while (0)

static inline int unit_done(void)
{
	if (!unit_checks) {
		fprintf(stderr, "no checks ran\n");
		return 1;
	}
	return unit_failures ? 1 : 0;
}

#endif
