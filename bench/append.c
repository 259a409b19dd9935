/* SPDX-License-Identifier: MIT */
/*
 * append.c - 2. durable 4 KiB appends: each operation is one 4 KiB write
 * at the end of an O_APPEND file followed by fdatasync, timed one by one.
 *
 *   udax:   udax_write + udax_fdatasync on a fresh udax_open_memory() file
 *           system, first-touch and prefaulted device (see seq.c)
 *   tmpfs:  write(2) + fdatasync(2) on a file in /dev/shm
 *   disk:   write(2) + fdatasync(2) on a file in $TMPDIR or the current
 *           directory (the first candidate not in memory; its file
 *           system type is printed)
 *
 * A run stops early after cfg.budget_s seconds (slow disks); the number of
 * appends actually timed is reported with the figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static uint64_t *lat;
static uint8_t *buf;

static void record(struct meas *m, long n)
{
	double sum = 0;

	for (long i = 0; i < n; i++)
		sum += (double)lat[i];
	sort_u64(lat, (size_t)n);
	meas_add(m, (double)pct(lat, (size_t)n, 50) / 1000.0,
		 (double)pct(lat, (size_t)n, 99) / 1000.0,
		 n ? sum / (double)n / 1000.0 : 0, n);
}

static int over_budget(long i, uint64_t start)
{
	return (i & 255) == 255 &&
	       now_ns() - start > (uint64_t)(cfg.budget_s * 1e9);
}

static int run_udax(struct meas *m, int prefaulted)
{
	struct udax_fs *fs = NULL;
	struct udax_file *f = NULL;
	struct stat st;
	char e[96];
	uint64_t start;
	long i = 0;
	ssize_t r;
	int ret, rc = -1;

	if (bench_udax_open(m, prefaulted, &fs))
		return -1;
	ret = udax_file_open(fs, "/log", O_CREAT | O_EXCL | O_WRONLY | O_APPEND,
			     0644, &f);
	if (ret) {
		meas_fail(m,
			  "udax_file_open(\"/log\", O_CREAT|O_EXCL|"
			  "O_WRONLY|O_APPEND) returned %s",
			  uerr(ret, e, sizeof(e)));
		goto out;
	}
	start = now_ns();
	for (; i < cfg.appends; i++) {
		uint64_t t0, t1;
		memcpy(buf, &i, sizeof(i));
		t0 = now_ns();
		r = udax_write(f, buf, cfg.append_io);
		if (r != (ssize_t)cfg.append_io) {
			meas_fail(m,
				  "append %ld: udax_write(4 KiB) returned %s",
				  i,
				  r < 0 ? uerr(r, e, sizeof(e)) :
					  "a short count");
			goto out;
		}
		ret = udax_fdatasync(f);
		t1 = now_ns();
		if (ret) {
			meas_fail(m, "append %ld: udax_fdatasync returned %s",
				  i, uerr(ret, e, sizeof(e)));
			goto out;
		}
		lat[i] = t1 - t0;
		if (over_budget(i, start)) {
			i++;
			break;
		}
	}
	record(m, i);
	rc = 0;
	ret = udax_fstat(f, &st);
	if (ret)
		meas_note(m, "udax_fstat returned %s", uerr(ret, e, sizeof(e)));
	else if ((uint64_t)st.st_size != (uint64_t)i * cfg.append_io)
		meas_note(m, "file size %lld after %ld appends of %llu bytes",
			  (long long)st.st_size, i,
			  (unsigned long long)cfg.append_io);
out:
	if (f) {
		ret = udax_file_close(&f);
		if (ret)
			meas_note(m, "udax_file_close returned %s",
				  uerr(ret, e, sizeof(e)));
	}
	ret = udax_close(&fs);
	if (ret)
		meas_note(m, "udax_close returned %s", uerr(ret, e, sizeof(e)));
	return rc;
}

static int run_kernel(struct meas *m, const char *dir)
{
	char path[600];
	struct stat st;
	uint64_t start;
	long i = 0;
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/udax-bench-append.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		meas_fail(m, "mkstemp(%s): %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_APPEND)) {
		meas_fail(m, "fcntl(O_APPEND): %s", strerror(errno));
		goto out;
	}
	start = now_ns();
	for (; i < cfg.appends; i++) {
		uint64_t t0, t1;
		ssize_t r;
		memcpy(buf, &i, sizeof(i));
		t0 = now_ns();
		r = write(fd, buf, cfg.append_io);
		if (r != (ssize_t)cfg.append_io) {
			meas_fail(m, "append %ld: write(%s) returned %zd: %s",
				  i, path, r, strerror(errno));
			goto out;
		}
		if (fdatasync(fd)) {
			meas_fail(m, "append %ld: fdatasync(%s): %s", i, path,
				  strerror(errno));
			goto out;
		}
		t1 = now_ns();
		lat[i] = t1 - t0;
		if (over_budget(i, start)) {
			i++;
			break;
		}
	}
	record(m, i);
	rc = 0;
	if (!fstat(fd, &st) &&
	    (uint64_t)st.st_size != (uint64_t)i * cfg.append_io)
		meas_note(m, "file size %lld after %ld appends",
			  (long long)st.st_size, i);
out:
	close(fd);
	unlink(path);
	return rc;
}

void bench_append(struct section *s)
{
	struct meas *u[2], *t, *d = NULL;
	char what[160];

	memset(s, 0, sizeof(*s));
	s->id = "append_durable";
	s->unit = "µs";
	s->latency = 1;
	snprintf(
		s->title, sizeof(s->title),
		"2. Durable %llu KiB appends (write + fdatasync), %ld per run, "
		"%d runs, latency of each append",
		(unsigned long long)(cfg.append_io / 1024), cfg.appends,
		cfg.reps);
	lat = calloc((size_t)cfg.appends, sizeof(*lat));
	buf = aligned_alloc(4096, cfg.append_io);
	if (!lat || !buf) {
		fprintf(stderr, "udax-bench: out of memory\n");
		exit(1);
	}
	fill_pattern(buf, cfg.append_io, 2);

	u[0] = section_meas(s, "udax_first_touch",
			    "udax_write + udax_fdatasync (udax device)",
			    "first touch");
	u[1] = section_meas(s, "udax_prefaulted",
			    "udax_write + udax_fdatasync (udax device)",
			    "prefaulted");
	t = section_meas(s, "tmpfs", "write(2) + fdatasync, tmpfs /dev/shm",
			 "kernel");
	if (cfg.disk_dir[0]) {
		snprintf(what, sizeof(what),
			 "write(2) + fdatasync, %.16s in %.30s",
			 cfg.disk_fstype, cfg.disk_dir);
		d = section_meas(s, "disk", what, "kernel");
	}
	for (int rep = 0; rep < cfg.reps; rep++) {
		for (int p = 0; p < 2; p++)
			if (!u[p]->err[0])
				run_udax(u[p], p);
		if (!t->err[0])
			run_kernel(t, "/dev/shm");
		if (d && !d->err[0])
			run_kernel(d, cfg.disk_dir);
	}
	for (int i = 0; i < s->nm; i++)
		meas_finish(&s->m[i]);

	section_ratio(s, "tmpfs_p50_over_udax_first_touch",
		      "tmpfs p50 / udax p50 (first touch; >1: udax faster)", t,
		      u[0]);
	section_ratio(s, "tmpfs_p50_over_udax_prefaulted",
		      "tmpfs p50 / udax p50 (prefaulted)", t, u[1]);
	if (d) {
		snprintf(what, sizeof(what), "%s p50 / udax p50 (first touch)",
			 cfg.disk_fstype);
		section_ratio(s, "disk_p50_over_udax_first_touch", what, d,
			      u[0]);
		snprintf(what, sizeof(what), "%s p50 / udax p50 (prefaulted)",
			 cfg.disk_fstype);
		section_ratio(s, "disk_p50_over_udax_prefaulted", what, d,
			      u[1]);
	}
	for (int p = 1; p >= 0; p--) {
		double v = meas_value(u[p]);
		snprintf(what, sizeof(what),
			 "udax durable append p50 <= 2 µs (%s)", u[p]->state);
		if (v < 0)
			section_goal(s, what, 0, 0, "n/a");
		else
			section_goal(s, what, 1, v <= 2.0, "p50 %.3f µs", v);
	}
	free(lat);
	free(buf);
}
