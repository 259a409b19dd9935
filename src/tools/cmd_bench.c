// SPDX-License-Identifier: MIT
/*
 * cmd_bench.c - `udax bench faults`: the experiment of the MAP_SYNC seed
 * thread (shared/seeds/000), rerun on udax with the kernel beside it.
 *
 * A 2 MiB file (512 pages) is mapped and one byte is stored into each
 * page in order; every store is timed. Cases: udax with the file
 * preallocated or empty, with and without UDAX_MAP_SYNC, with and
 * without a background writer (a thread copying a file in the same file
 * system). The udax device is a memory file whose blocks have all been
 * written once before (a file filling the device, then deleted), as the
 * memory of a persistent-memory device always exists; one more case
 * shows a cold memory file, where the kernel allocates each page of the
 * device at its first touch. And, on the same machine, a tmpfs file
 * (/dev/shm) and a file on the disk's file system (the current directory,
 * or --dir), mapped MAP_SHARED, the latter also with msync() after each
 * store ("durable without MAP_SYNC"). Each case is run --reps times; the
 * run with the median mean is printed: min / avg / p50 / p99 / max, a
 * log2 histogram in the seed's format, and the amortized cost per page
 * (the whole loop over 512).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

#define BENCH_PAGES 512
#define BENCH_PAGE 4096
#define BENCH_FILE (BENCH_PAGES * BENCH_PAGE)
#define BENCH_REPS_MAX 51
#define BENCH_HIST 24		 /* log2 buckets of µs: <1, 1, 2-3, 4-7, ... */
#define BENCH_DEV (128ull << 20) /* udax memory device */
#define BENCH_BG_FILE (8 << 20)	 /* what the background writer copies */

/* What one case maps and how. */
struct bench_case {
	const char *id;	  /* JSON key */
	const char *what; /* heading, as in the seed */
	int kind;	  /* BK_* */
	int prealloc;	  /* file written before mapping */
	int sync;	  /* UDAX_MAP_SYNC / msync after each store */
	int background;	  /* writer thread during the run */
	int cold;	  /* udax: device memory never touched before */
};

enum { BK_UDAX, BK_TMPFS, BK_DISK };

static const struct bench_case bench_cases[] = {
	{"udax_prealloc",
	 "udax, file preallocated, no background load, "
	 "no MAP_SYNC",
	 BK_UDAX, 1, 0, 0, 0},
	{"udax_prealloc_sync",
	 "udax, file preallocated, no background load, "
	 "MAP_SYNC",
	 BK_UDAX, 1, 1, 0, 0},
	{"udax_empty", "udax, file empty, no background load, no MAP_SYNC",
	 BK_UDAX, 0, 0, 0, 0},
	{"udax_empty_sync", "udax, file empty, no background load, MAP_SYNC",
	 BK_UDAX, 0, 1, 0, 0},
	{"udax_empty_bg", "udax, file empty, background load, no MAP_SYNC",
	 BK_UDAX, 0, 0, 1, 0},
	{"udax_empty_bg_sync", "udax, file empty, background load, MAP_SYNC",
	 BK_UDAX, 0, 1, 1, 0},
	{"udax_prealloc_bg",
	 "udax, file preallocated, background load, "
	 "no MAP_SYNC",
	 BK_UDAX, 1, 0, 1, 0},
	{"udax_prealloc_bg_sync",
	 "udax, file preallocated, background load, "
	 "MAP_SYNC",
	 BK_UDAX, 1, 1, 1, 0},
	{"udax_empty_sync_cold",
	 "udax, file empty, MAP_SYNC, cold memory "
	 "file (first touch)",
	 BK_UDAX, 0, 1, 0, 1},
	{"tmpfs_prealloc", "tmpfs (/dev/shm), file preallocated, MAP_SHARED",
	 BK_TMPFS, 1, 0, 0, 0},
	{"tmpfs_empty", "tmpfs (/dev/shm), file empty, MAP_SHARED", BK_TMPFS, 0,
	 0, 0, 0},
	{"disk_prealloc", "disk, file preallocated, MAP_SHARED", BK_DISK, 1, 0,
	 0, 0},
	{"disk_empty", "disk, file empty, MAP_SHARED", BK_DISK, 0, 0, 0, 0},
	{"disk_prealloc_msync",
	 "disk, file preallocated, MAP_SHARED + msync "
	 "per store",
	 BK_DISK, 1, 1, 0, 0},
	{"disk_empty_msync", "disk, file empty, MAP_SHARED + msync per store",
	 BK_DISK, 0, 1, 0, 0},
};

#define BENCH_NCASES (sizeof(bench_cases) / sizeof(bench_cases[0]))

/* One run of one case. Times in nanoseconds. */
struct bench_run {
	uint64_t ns[BENCH_PAGES]; /* each store, sorted after the run */
	uint64_t total;		  /* the whole loop */
	double mean;
	char err[768];
};

/* The options of `udax bench faults`. */
struct bench_opts {
	int json;
	int reps;
	const char *device; /* the udax device (--device), or NULL: memory */
	uint64_t size;	    /* its size when it is made (--size) */
	const char *dir;    /* the disk file system's directory */
	int kernel;	    /* run the tmpfs and disk cases */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ---- the store loop ---- */

/* Store one byte into each page in order, timing each store; msync each
 * one if asked (kernel cases). */
static void bench_stores(volatile uint8_t *p, int do_msync, struct bench_run *r)
{
	uint64_t start = now_ns(), t0, t1;

	for (int i = 0; i < BENCH_PAGES; i++) {
		t0 = now_ns();
		p[(size_t)i * BENCH_PAGE] = (uint8_t)(i + 1);
		if (do_msync)
			msync((void *)((uintptr_t)p + (size_t)i * BENCH_PAGE),
			      BENCH_PAGE, MS_SYNC);
		t1 = now_ns();
		r->ns[i] = t1 - t0;
	}
	r->total = now_ns() - start;
}

/* ---- background writer: a thread copying a file ---- */

struct bench_bg {
	struct udax_fs *fs;
	pthread_t thread;
	atomic_int stop;
	uint64_t bytes;
};

static void *bench_bg_copy(void *arg)
{
	struct bench_bg *bg = arg;
	static char buf[64 * 1024];
	struct udax_file *src = NULL, *dst;
	int round = 0;

	memset(buf, 'b', sizeof(buf));
	if (udax_file_open(bg->fs, "/bg-src", O_CREAT | O_RDWR, 0644, &src))
		return NULL;
	for (off_t o = 0; o < BENCH_BG_FILE; o += (off_t)sizeof(buf))
		udax_pwrite(src, buf, sizeof(buf), o);
	while (!atomic_load(&bg->stop)) {
		char name[32];
		snprintf(name, sizeof(name), "/bg-copy-%d", round++ % 2);
		if (udax_file_open(bg->fs, name, O_CREAT | O_RDWR | O_TRUNC,
				   0644, &dst))
			break;
		for (off_t o = 0; o < BENCH_BG_FILE && !atomic_load(&bg->stop);
		     o += (off_t)sizeof(buf)) {
			char in[sizeof(buf)];
			if (udax_pread(src, in, sizeof(in), o) <= 0 ||
			    udax_pwrite(dst, in, sizeof(in), o) <= 0)
				break;
			bg->bytes += sizeof(in);
		}
		udax_file_close(&dst);
	}
	udax_file_close(&src);
	return NULL;
}

/* ---- one case ---- */

int bench_reps_arg(const char *arg, int max, int *reps)
{
	uint64_t v;

	if (tool_parse_u64(arg, &v) || v < 1 || v > (uint64_t)max)
		return tool_usage_error("invalid repeat count '%s'", arg);
	*reps = (int)v;
	return 0;
}

int bench_fill(struct udax_fs *fs, const char *path)
{
	static char buf[1024 * 1024];
	struct udax_file *f;
	ssize_t n;
	off_t o = 0;
	int err;

	err = udax_file_open(fs, path, O_CREAT | O_RDWR, 0600, &f);
	if (err)
		return err;
	memset(buf, 'w', sizeof(buf));
	while ((n = udax_pwrite(f, buf, sizeof(buf), o)) > 0)
		o += n;
	udax_file_close(&f);
	return n == -ENOSPC || n == 0 ? 0 : (int)n;
}

/* Write every free block of the device once (a file filling it), then
 * delete the file and checkpoint so the blocks are free again. */
static int bench_warm(struct udax_fs *fs)
{
	int err = bench_fill(fs, "/warm");

	if (!err)
		err = udax_unlink(fs, "/warm");
	return err ? err : udax_sync(fs);
}

static void run_fail(struct bench_run *r, const char *what, int err)
{
	snprintf(r->err, sizeof(r->err), "%s: %s", what, udax_strerror(err));
}

/* The device the udax cases run on, as the last run saw it. */
static struct udax_info bench_dev_info;

/* A fresh file system on the --device (made anew each run), or on a
 * memory file. */
static int bench_open(const struct bench_opts *o, struct udax_fs **fs,
		      struct bench_run *r)
{
	int err;

	if (!o->device || !strcmp(o->device, "memfd-huge")) {
		/* a memory file lives while open: made by the open itself
		 * (on huge pages: the library's UDAX_MEMORY_DEVICE) */
		if (o->device)
			setenv("UDAX_MEMORY_DEVICE", o->device, 1);
		err = udax_open_memory(fs, o->device ? o->size : BENCH_DEV);
		if (err)
			run_fail(r, "udax_open_memory", err);
	} else {
		struct udax_mkfs_opts mo = {.size = o->size};
		err = udax_mkfs(o->device, &mo);
		if (err)
			run_fail(r, "udax_mkfs", err);
		else if ((err = udax_open(fs, o->device, NULL)))
			run_fail(r, "udax_open", err);
	}
	if (!err)
		udax_info(*fs, &bench_dev_info);
	return err;
}

static void bench_udax(const struct bench_case *c, const struct bench_opts *o,
		       struct bench_run *r)
{
	static char zero[BENCH_FILE];
	struct bench_bg bg = {0};
	struct udax_file *f;
	struct udax_fs *fs;
	void *p;
	int err;

	if (bench_open(o, &fs, r))
		return;
	if (!c->cold) {
		err = bench_warm(fs);
		if (err) {
			run_fail(r, "warming the device", err);
			goto close_fs;
		}
	}
	err = udax_file_open(fs, "/faults", O_CREAT | O_RDWR, 0644, &f);
	if (!err)
		err = c->prealloc ? (udax_pwrite(f, zero, BENCH_FILE, 0) ==
						     BENCH_FILE ?
					     0 :
					     -EIO) :
				    udax_ftruncate(f, BENCH_FILE);
	if (err) {
		run_fail(r, "file", err);
		goto close_fs;
	}
	err = udax_mmap(f, 0, BENCH_FILE, PROT_READ | PROT_WRITE,
			UDAX_MAP_SHARED | (c->sync ? UDAX_MAP_SYNC : 0), &p);
	if (err) {
		run_fail(r, "udax_mmap", err);
		goto close_file;
	}
	if (c->background) {
		bg.fs = fs;
		if (pthread_create(&bg.thread, NULL, bench_bg_copy, &bg) == 0) {
			usleep(20000); /* let it get going */
		} else {
			bg.fs = NULL;
		}
	}
	bench_stores(p, 0, r);
	if (bg.fs) {
		atomic_store(&bg.stop, 1);
		pthread_join(bg.thread, NULL);
	}
	udax_munmap(p, BENCH_FILE);
close_file:
	udax_file_close(&f);
close_fs:
	udax_close(&fs);
}

static void bench_kernel(const struct bench_case *c, const char *dir,
			 struct bench_run *r)
{
	static char zero[BENCH_FILE];
	char path[600];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/udax-bench-faults-%d",
		 c->kind == BK_TMPFS ? "/dev/shm" : dir, (int)getpid());
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0) {
		run_fail(r, path, -errno);
		return;
	}
	unlink(path);
	if (c->prealloc ?
		    (write(fd, zero, BENCH_FILE) != BENCH_FILE || fsync(fd)) :
		    ftruncate(fd, BENCH_FILE)) {
		run_fail(r, path, -errno);
		goto close_fd;
	}
	p = mmap(NULL, BENCH_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		run_fail(r, "mmap", -errno);
		goto close_fd;
	}
	bench_stores(p, c->sync, r);
	munmap(p, BENCH_FILE);
close_fd:
	close(fd);
}

/* ---- statistics and output ---- */

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static void run_finish(struct bench_run *r)
{
	uint64_t sum = 0;

	for (int i = 0; i < BENCH_PAGES; i++)
		sum += r->ns[i];
	r->mean = (double)sum / BENCH_PAGES;
	qsort(r->ns, BENCH_PAGES, sizeof(r->ns[0]), cmp_u64);
}

/* Bucket of a store: 0 below 1 µs, then k for [2^(k-1), 2^k - 1] µs. */
static int hist_bucket(uint64_t ns)
{
	uint64_t u = ns / 1000;
	int b = 0;

	while (u && b < BENCH_HIST - 1) {
		u >>= 1;
		b++;
	}
	return b;
}

static void print_case(const struct bench_case *c, const struct bench_run *r)
{
	unsigned hist[BENCH_HIST] = {0};

	printf("%s:\n", c->what);
	if (r->err[0]) {
		printf("failed: %s\n\n", r->err);
		return;
	}
	printf("min=%.2f avg=%.2f p50=%.2f p99=%.2f max=%.1f us, "
	       "amortized %.3f us/page\n",
	       us(r->ns[0]), r->mean / 1000.0, us(r->ns[BENCH_PAGES / 2]),
	       us(r->ns[BENCH_PAGES * 99 / 100]), us(r->ns[BENCH_PAGES - 1]),
	       us(r->total) / BENCH_PAGES);
	for (int i = 0; i < BENCH_PAGES; i++)
		hist[hist_bucket(r->ns[i])]++;
	for (int b = 0; b < BENCH_HIST; b++) {
		if (!hist[b])
			continue;
		if (b == 0)
			printf("0 - 0 us: %u\n", hist[b]);
		else
			printf("%llu - %llu us: %u\n", 1ull << (b - 1),
			       (1ull << b) - 1, hist[b]);
	}
	printf("\n");
}

static void print_json(const struct bench_case *c, const struct bench_run *r,
		       int first)
{
	unsigned hist[BENCH_HIST] = {0};

	printf("%s    \"%s\": {", first ? "" : ",\n", c->id);
	if (r->err[0]) {
		printf("\"error\": \"%s\"}", r->err);
		return;
	}
	for (int i = 0; i < BENCH_PAGES; i++)
		hist[hist_bucket(r->ns[i])]++;
	printf("\"min_us\": %.3f, \"avg_us\": %.3f, \"p50_us\": %.3f, "
	       "\"p99_us\": %.3f, \"max_us\": %.3f, \"amortized_us\": %.4f, "
	       "\"hist_log2_us\": [",
	       us(r->ns[0]), r->mean / 1000.0, us(r->ns[BENCH_PAGES / 2]),
	       us(r->ns[BENCH_PAGES * 99 / 100]), us(r->ns[BENCH_PAGES - 1]),
	       us(r->total) / BENCH_PAGES);
	for (int b = 0; b < BENCH_HIST; b++)
		printf("%s%u", b ? ", " : "", hist[b]);
	printf("]}");
}

/* The summary table: one line per case. */
static void print_table(const struct bench_run *best)
{
	printf("%-62s %7s %7s %7s %7s %8s %9s\n", "case (us)", "min", "avg",
	       "p50", "p99", "max", "per page");
	for (size_t i = 0; i < BENCH_NCASES; i++) {
		const struct bench_run *r = &best[i];
		if (r->err[0] && !strcmp(r->err, "skipped"))
			continue;
		if (r->err[0]) {
			printf("%-62s failed: %s\n", bench_cases[i].what,
			       r->err);
			continue;
		}
		printf("%-62s %7.2f %7.2f %7.2f %7.2f %8.1f %9.3f\n",
		       bench_cases[i].what, us(r->ns[0]), r->mean / 1000.0,
		       us(r->ns[BENCH_PAGES / 2]),
		       us(r->ns[BENCH_PAGES * 99 / 100]),
		       us(r->ns[BENCH_PAGES - 1]), us(r->total) / BENCH_PAGES);
	}
}

static void faults_usage(void)
{
	printf("Usage: udax bench faults [--json] [--reps N] [--dir DIR] "
	       "[--no-kernel]\n"
	       "                         [--device DEV|IMAGE [--size N]]\n"
	       "Time one store into each page of a freshly mapped 2 MiB file "
	       "(the MAP_SYNC\n"
	       "seed's experiment): udax with and without UDAX_MAP_SYNC, "
	       "file preallocated\n"
	       "or empty, with and without a background writer; beside it "
	       "a tmpfs file and\n"
	       "a file in DIR (default: the current directory) mapped "
	       "MAP_SHARED, with and\n"
	       "without msync after each store. Each case runs N times "
	       "(default 5); the\n"
	       "run with the median mean is shown.\n\n"
	       "      --json       one JSON object on stdout\n"
	       "      --reps=N     runs per case (1-51)\n"
	       "      --dir=DIR    directory on the disk file system\n"
	       "      --no-kernel  udax cases only\n"
	       "      --device=DEV run udax on DEV (made anew each run: its "
	       "contents are lost),\n"
	       "                   e.g. /dev/dax0.0, an image file on a DAX "
	       "mount, or memfd-huge\n"
	       "                   (a memory file on 2 MiB huge pages)\n"
	       "      --size=N     the size of an image file made for "
	       "--device (default 128M)\n"
	       "      per page: the whole loop's time / 512, faults included\n"
	       "      --help       display this help and exit\n");
	tool_exit_help();
}

static int bench_faults(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"reps", required_argument, NULL, 'r'},
		{"dir", required_argument, NULL, 'd'},
		{"no-kernel", no_argument, NULL, 'k'},
		{"device", required_argument, NULL, 'D'},
		{"size", required_argument, NULL, 's'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct bench_opts o = {
		.reps = 5, .dir = ".", .kernel = 1, .size = BENCH_DEV};
	struct bench_run *runs, *best;
	struct statfs sfs;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = 1;
			break;
		case 'r':
			if ((c = bench_reps_arg(optarg, BENCH_REPS_MAX,
						&o.reps)))
				return c;
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'k':
			o.kernel = 0;
			break;
		case 'D':
			o.device = optarg;
			break;
		case 's':
			if (tool_parse_size(optarg, &o.size) ||
			    o.size < (16ull << 20))
				return tool_usage_error("invalid size '%s' "
							"(16M at least)",
							optarg);
			break;
		case TOOL_OPT_HELP:
			faults_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind != argc)
		return tool_usage_error("unexpected operand '%s'",
					argv[optind]);
	runs = calloc((size_t)o.reps, sizeof(*runs));
	best = calloc(BENCH_NCASES, sizeof(*best));
	if (!runs || !best) {
		free(runs);
		free(best);
		tool_error("%s", strerror(ENOMEM));
		return TOOL_EXIT_FAILURE;
	}
	for (size_t i = 0; i < BENCH_NCASES; i++) {
		const struct bench_case *bc = &bench_cases[i];
		double means[BENCH_REPS_MAX];
		int n = 0;

		if (bc->kind != BK_UDAX && !o.kernel) {
			strcpy(best[i].err, "skipped");
			continue;
		}
		for (int k = 0; k < o.reps; k++) {
			memset(&runs[k], 0, sizeof(runs[k]));
			if (bc->kind == BK_UDAX)
				bench_udax(bc, &o, &runs[k]);
			else
				bench_kernel(bc, o.dir, &runs[k]);
			if (runs[k].err[0]) {
				best[i] = runs[k];
				break;
			}
			run_finish(&runs[k]);
			means[n++] = runs[k].mean;
		}
		if (n < o.reps)
			continue;
		/* the run with the median mean */
		qsort(means, (size_t)n, sizeof(means[0]), cmp_double);
		for (int k = 0; k < o.reps; k++)
			if (runs[k].mean == means[n / 2]) {
				best[i] = runs[k];
				break;
			}
	}
	if (o.json) {
		printf("{\n  \"benchmark\": \"faults\",\n  \"pages\": %d,\n"
		       "  \"reps\": %d,\n  \"disk_dir\": \"%s\",\n"
		       "  \"disk_fstype_magic\": \"0x%lx\",\n",
		       BENCH_PAGES, o.reps, o.dir,
		       statfs(o.dir, &sfs) ? 0ul : (unsigned long)sfs.f_type);
		printf("  \"device\": {\"name\": \"%s\", \"kind\": \"%s\", "
		       "\"flush_granularity\": \"%s\", \"flush_instruction\": "
		       "\"%s\", \"mapping_unit\": %llu, \"window\": %u},\n"
		       "  \"cases\": {\n",
		       o.device ? o.device : "memfd",
		       bench_dev_info.device_kind, bench_dev_info.persistence,
		       bench_dev_info.flush_insn,
		       (unsigned long long)bench_dev_info.map_unit, 2u << 20);
		int first = 1;
		for (size_t i = 0; i < BENCH_NCASES; i++) {
			if (!strcmp(best[i].err, "skipped"))
				continue;
			print_json(&bench_cases[i], &best[i], first);
			first = 0;
		}
		printf("\n  }\n}\n");
	} else {
		printf("One store into each of %d pages of a new 2 MiB "
		       "mapping; median of %d runs.\n"
		       "udax device: %s (%s; %s, %s; mapped in %llu KiB "
		       "units, 2 MiB windows)\n\n",
		       BENCH_PAGES, o.reps, o.device ? o.device : "memory file",
		       bench_dev_info.device_kind, bench_dev_info.persistence,
		       bench_dev_info.flush_insn,
		       (unsigned long long)bench_dev_info.map_unit >> 10);
		for (size_t i = 0; i < BENCH_NCASES; i++)
			if (strcmp(best[i].err, "skipped"))
				print_case(&bench_cases[i], &best[i]);
		print_table(best);
	}
	free(runs);
	free(best);
	return TOOL_EXIT_OK;
}

/* ---- udax bench ---- */

static void bench_usage(void)
{
	printf("Usage: udax bench BENCHMARK [OPTION]...\n"
	       "Run a benchmark. Benchmarks:\n"
	       "  faults   page-fault latency of a new mapping (the "
	       "MAP_SYNC experiment)\n"
	       "  pins     pin + unpin, truncate of a mapped file, "
	       "udax_sendfile beside\n"
	       "           sendfile(2), the cost of detaching freed "
	       "blocks\n"
	       "  share    reflink: clone time, the first write to a shared "
	       "page, a farm of\n"
	       "           clones (space), dedupe\n"
	       "  serve    udax serve beside nginx under wrk: GET and PUT "
	       "throughput, latency\n\n"
	       "'udax bench BENCHMARK --help' describes its options.\n");
	tool_exit_help();
}

int udax_tool_bench(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "faults")) {
		optind = 0;
		return bench_faults(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "pins")) {
		optind = 0;
		return udax_bench_pins(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "share")) {
		optind = 0;
		return udax_bench_share(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "serve")) {
		optind = 0;
		return udax_bench_serve(argc - 1, argv + 1);
	}
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		bench_usage();
		return TOOL_EXIT_OK;
	}
	if (argc < 2)
		return tool_usage_error("missing benchmark name");
	return tool_usage_error("unknown benchmark '%s'", argv[1]);
}
