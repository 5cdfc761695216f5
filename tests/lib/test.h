/* SPDX-License-Identifier: MIT */
/*
 * test.h - a minimal unit test harness.
 *
 * Each check prints one line, "PASS: <name>" or "FAIL: <name>: <why>";
 * tests/run.sh counts those lines over every test binary and script.
 * A test binary exits non-zero if any of its checks failed.
 */
#ifndef PVNET_TEST_H
#define PVNET_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed, t_passed;

#define T_CHECK(cond, name, ...) do {					\
	if (cond) {							\
		t_passed++;						\
		printf("PASS: %s\n", (name));				\
	} else {							\
		t_failed++;						\
		printf("FAIL: %s: ", (name));				\
		printf(__VA_ARGS__);					\
		printf(" (%s:%d)\n", __FILE__, __LINE__);		\
	}								\
	fflush(stdout);							\
} while (0)

/* Check a condition silently; on failure record and print it. */
#define T_ASSERT(cond, ...) do {					\
	if (!(cond)) {							\
		t_failed++;						\
		printf("FAIL: %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		fflush(stdout);						\
	}								\
} while (0)

#define T_EQ(a, b, name) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	T_CHECK(_a == _b, name, "%s = %lld, expected %lld", #a, _a, _b); \
} while (0)

#define T_SKIP(name, why) do { printf("SKIP: %s: %s\n", (name), (why)); fflush(stdout); } while (0)

static inline int t_done(void)
{
	fprintf(stderr, "%d passed, %d failed\n", t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif
