/* SPDX-License-Identifier: MIT */
/*
 * test.h - the tiny test framework of udax's suites.
 *
 * A test program holds a table of cases; each prints one line,
 * "PASS name", "FAIL name: why" or "SKIP name: why", which tests/run.sh
 * counts. CHECK() fails the running case with the file, line and
 * expression; random cases print the seed that replays them.
 */
#ifndef UDAX_TEST_H
#define UDAX_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	int (*fn)(void); /* 0 pass, 1 fail, 2 skip */
};

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 2

static char test_skip_reason[256];

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "  %s:%d: CHECK failed: %s\n",         \
				__FILE__, __LINE__, #cond);                    \
			return T_FAIL;                                         \
		}                                                              \
	} while (0)

/* CHECK that an int expression equals an expected value, printing both. */
#define CHECK_EQ(expr, want)                                                   \
	do {                                                                   \
		long long got_ = (long long)(expr);                            \
		long long want_ = (long long)(want);                           \
		if (got_ != want_) {                                           \
			fprintf(stderr,                                        \
				"  %s:%d: %s == %lld, expected %lld\n",        \
				__FILE__, __LINE__, #expr, got_, want_);       \
			return T_FAIL;                                         \
		}                                                              \
	} while (0)

#define SKIP(...)                                                              \
	do {                                                                   \
		snprintf(test_skip_reason, sizeof(test_skip_reason),           \
			 __VA_ARGS__);                                         \
		return T_SKIP;                                                 \
	} while (0)

/* Run the table (or only the cases named in argv, or all but those
 * named "-NAME"). Exit 1 if any failed. */
static inline int test_main(const char *suite, const struct test_case *t,
			    size_t n, int argc, char **argv)
{
	int failed = 0;

	/* arguments name the cases to run; "-NAME" leaves NAME out (only
	 * such arguments: every other case runs) */
	int picks = 0;
	for (int a = 1; a < argc; a++)
		picks += argv[a][0] != '-';
	for (size_t i = 0; i < n; i++) {
		int want = !picks;
		for (int a = 1; a < argc; a++)
			if (!strcmp(argv[a], t[i].name))
				want = 1;
			else if (argv[a][0] == '-' &&
				 !strcmp(argv[a] + 1, t[i].name))
				want = 0;
		if (!want)
			continue;
		test_skip_reason[0] = 0;
		int r = t[i].fn();
		if (r == T_PASS)
			printf("PASS %s/%s\n", suite, t[i].name);
		else if (r == T_SKIP)
			printf("SKIP %s/%s: %s\n", suite, t[i].name,
			       test_skip_reason);
		else {
			printf("FAIL %s/%s\n", suite, t[i].name);
			failed = 1;
		}
		fflush(stdout);
	}
	return failed;
}

#define TEST_MAIN(suite, table)                                                \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		return test_main(suite, table,                                 \
				 sizeof(table) / sizeof(table[0]), argc,       \
				 argv);                                        \
	}

#endif /* UDAX_TEST_H */
