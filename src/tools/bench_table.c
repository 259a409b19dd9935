// SPDX-License-Identifier: MIT
/*
 * bench_table.c - the measurement table of the bench commands that
 * compare udax with a counterpart run beside it (bench pins, bench
 * serve): each figure is measured --reps times, runs of the figures
 * compared interleaved, and printed as the median with its range, as a
 * text row or a JSON object; ratios are medians over medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_load(void)
{
	double l = -1;
	FILE *fp = fopen("/proc/loadavg", "r");

	if (fp) {
		if (fscanf(fp, "%lf", &l) != 1)
			l = -1;
		fclose(fp);
	}
	return l;
}

void bench_add(struct bench_meas *m, double v)
{
	if (m->n < BENCH_TABLE_REPS)
		m->v[m->n++] = v;
}

void bench_fail(struct bench_meas *m, const char *what, int err)
{
	if (!m->err[0])
		snprintf(m->err, sizeof(m->err), "%s: %s", what,
			 udax_strerror(err));
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int bench_summary(const struct bench_meas *m, double *med, double *lo,
		  double *hi)
{
	double v[BENCH_TABLE_REPS];

	if (m->err[0] || !m->n)
		return -1;
	memcpy(v, m->v, sizeof(double) * (size_t)m->n);
	qsort(v, (size_t)m->n, sizeof(v[0]), bench_cmp);
	*med = v[m->n / 2];
	*lo = v[0];
	*hi = v[m->n - 1];
	return 0;
}

double bench_ratio(const struct bench_meas *a, const struct bench_meas *b)
{
	double ma, mb, lo, hi;

	if (bench_summary(a, &ma, &lo, &hi) || bench_summary(b, &mb, &lo, &hi))
		return -1;
	return mb > 0 ? ma / mb : -1;
}

const char *bench_goal(int met)
{
	return met ? "met" : "not met";
}

void bench_print_row(const struct bench_row *r, const struct bench_meas *m)
{
	double med, lo, hi;

	if (bench_summary(m, &med, &lo, &hi)) {
		printf("  %-48s failed: %s\n", r->what,
		       m->err[0] ? m->err : "no run");
		return;
	}
	printf("  %-48s %10.3f %-5s (%.3f .. %.3f, %d runs)\n", r->what, med,
	       r->unit, lo, hi, m->n);
}

void bench_json_row(struct tool_json *j, const struct bench_row *r,
		    const struct bench_meas *m)
{
	double med, lo, hi;

	tool_json_object(j, r->id);
	tool_json_str(j, "what", r->what);
	tool_json_str(j, "unit", r->unit);
	if (bench_summary(m, &med, &lo, &hi)) {
		tool_json_str(j, "error", m->err[0] ? m->err : "no run");
	} else {
		tool_json_double(j, "median", med);
		tool_json_double(j, "min", lo);
		tool_json_double(j, "max", hi);
	}
	tool_json_close(j);
}
