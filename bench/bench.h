/* SPDX-License-Identifier: MIT */
/*
 * bench.h - shared declarations of the udax benchmark program (udax-bench).
 *
 * bench.c      options, environment, result tables, text and JSON output
 * seq.c        1. sequential 1 MiB writes: udax vs nt memcpy vs tmpfs
 * append.c     2. durable 4 KiB appends: udax vs tmpfs vs the disk
 * create.c     3. create + close + unlink of empty files: udax vs tmpfs
 *
 * Every measurement is repeated cfg.reps times; the run with the median
 * main figure is reported. Nothing is asserted: a failing call is recorded
 * in the measurement's err and printed.
 */
#ifndef UDAX_BENCH_H
#define UDAX_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "udax.h"

#define MAXREP 15
#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

struct config {
	int json;
	int reps;
	uint64_t dev_bytes; /* udax_open_memory size */
	uint64_t seq_bytes; /* total per sequential run */
	uint64_t seq_io;    /* one write: 1 MiB */
	long appends;	    /* appends per run */
	uint64_t append_io; /* 4 KiB */
	long creates;	    /* create+unlink per run */
	double budget_s;    /* a run stops after this long (ops reported) */
	int run_seq, run_append, run_create;
	char disk_dir[512]; /* directory on a disk file system, or "" */
	char disk_fstype[64];
	char disk_source[256];
	char scaled[256]; /* why sizes were reduced, or "" */
};

/* One measured thing, repeated. v[] is the main figure (GiB/s, ops/s or
 * p50 latency in µs); p99[] and mean[] are latencies in µs. */
struct meas {
	const char *id; /* JSON key */
	char what[96];	/* human description */
	char state[24]; /* device state: "first touch", "prefaulted" */
	int n;		/* runs that completed */
	double v[MAXREP];
	double p99[MAXREP];
	double mean[MAXREP];
	long ops[MAXREP]; /* operations in that run */
	int med;	  /* index of the median run, -1 if none */
	char err[512];	  /* first failure, "" if none */
	char note[512];	  /* warnings (verification, leaks), "" if none */
};

struct goal {
	char text[160];
	char value[96];
	int measured;
	int met;
};

#define MAXMEAS 8
#define MAXGOAL 4
#define MAXRATIO 8

struct ratio {
	const char *id;
	char text[128];
	double value; /* < 0: not available */
};

struct section {
	const char *id;
	char title[160];
	const char *unit; /* of v[] */
	int latency;	  /* 1: v is p50 µs, p99/mean filled */
	struct meas m[MAXMEAS];
	int nm;
	struct ratio r[MAXRATIO];
	int nr;
	struct goal g[MAXGOAL];
	int ng;
};

extern struct config cfg;

/* bench.c */
uint64_t now_ns(void);
struct meas *section_meas(struct section *s, const char *id, const char *what,
			  const char *state);
void meas_add(struct meas *m, double v, double p99, double mean, long ops);
void meas_finish(struct meas *m);
double meas_value(const struct meas *m); /* median run's v, or -1 */
void meas_fail(struct meas *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void meas_note(struct meas *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void section_ratio(struct section *s, const char *id, const char *text,
		   const struct meas *num, const struct meas *den);
void section_goal(struct section *s, const char *text, int measured, int met,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A udax error as "-28 (No space left on device)". */
const char *uerr(long err, char *buf, size_t len);
/* Make every page of [addr, addr+len) present and writable in the page
 * tables without changing its contents. Returns 0 or -errno. */
int prefault(void *addr, size_t len);
/* Fill with a deterministic pseudo-random pattern. */
void fill_pattern(void *buf, size_t len, uint64_t seed);
/* Percentile (nearest rank) of a sorted array. */
uint64_t pct(const uint64_t *sorted, size_t n, double p);
void sort_u64(uint64_t *a, size_t n);
/* The mapping of a udax file system's device (internal, from fs.h). */
void udax_device_range(struct udax_fs *fs, void **base, size_t *size);
const char *udax_device_desc(struct udax_fs *fs);
/* A fresh udax file system on a memory device of cfg.dev_bytes, its pages
 * prefaulted if asked. Returns 0, or -1 with the failure recorded in m
 * (nothing left open). */
int bench_udax_open(struct meas *m, int prefaulted, struct udax_fs **fs);

/* the three benchmarks */
void bench_seq(struct section *s);
void bench_append(struct section *s);
void bench_create(struct section *s);

#endif /* UDAX_BENCH_H */
