/* SPDX-License-Identifier: MIT */
/*
 * seq.c - 1. sequential 1 MiB writes into a new file.
 *
 *   udax:     udax_pwrite of 1 MiB at increasing offsets into a new file of
 *             a fresh udax_open_memory() file system, then udax_fdatasync
 *   nt copy:  cl_memcpy_nt (the copy udax uses on memory devices) of the
 *             same bytes into a memfd mapping, then cl_drain (sfence)
 *   tmpfs:    write(2) of the same into a new file in /dev/shm, fdatasync
 *
 * Each is run on first-touch memory (a fresh memfd / device / file: the
 * kernel allocates and zeroes each page at its first store, as with
 * udax_open_memory) and on prefaulted memory (every page allocated and
 * mapped before the clock starts, as on persistent memory or devdax).
 * The timed region is the write loop plus the final sync; creating the
 * file system, the file and the mapping is not timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "device/device.h"

static uint8_t *src;   /* one write's worth, stamped per write */
static uint8_t *check; /* read-back buffer */

static void stamp(uint64_t off)
{
	memcpy(src, &off, sizeof(off));
}

static double gibs(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (double)GIB / ((double)ns / 1e9) : 0;
}

/* Returns 0, or -1 after recording the failure in m. */
static int run_udax(struct meas *m, int prefaulted)
{
	struct udax_fs *fs = NULL;
	struct udax_file *f = NULL;
	struct stat st;
	char e[96];
	uint64_t off = 0, t0, t1;
	long ops = 0;
	ssize_t r;
	int ret, rc = -1;

	if (bench_udax_open(m, prefaulted, &fs))
		return -1;
	ret = udax_file_open(fs, "/seq", O_CREAT | O_EXCL | O_WRONLY, 0644, &f);
	if (ret) {
		meas_fail(m,
			  "udax_file_open(\"/seq\", O_CREAT|O_EXCL|O_WRONLY) "
			  "returned %s",
			  uerr(ret, e, sizeof(e)));
		goto out;
	}

	t0 = now_ns();
	for (; off < cfg.seq_bytes; off += cfg.seq_io, ops++) {
		stamp(off);
		r = udax_pwrite(f, src, cfg.seq_io, (off_t)off);
		if (r != (ssize_t)cfg.seq_io) {
			meas_fail(m,
				  "udax_pwrite(%llu bytes at offset %llu) "
				  "returned %s",
				  (unsigned long long)cfg.seq_io,
				  (unsigned long long)off,
				  r < 0 ? uerr(r, e, sizeof(e)) :
					  "a short count");
			goto out;
		}
		if ((ops & 63) == 63 &&
		    now_ns() - t0 > (uint64_t)(cfg.budget_s * 1e9)) {
			off += cfg.seq_io;
			ops++;
			break;
		}
	}
	ret = udax_fdatasync(f);
	t1 = now_ns();
	if (ret) {
		meas_fail(m, "udax_fdatasync returned %s",
			  uerr(ret, e, sizeof(e)));
		goto out;
	}
	meas_add(m, gibs(off, t1 - t0), 0, 0, ops);
	rc = 0;

	/* verify, untimed: size, then the first and the last write */
	ret = udax_fstat(f, &st);
	if (ret)
		meas_note(m, "udax_fstat returned %s", uerr(ret, e, sizeof(e)));
	else if ((uint64_t)st.st_size != off)
		meas_note(m, "file size %lld after writing %llu bytes",
			  (long long)st.st_size, (unsigned long long)off);
	udax_file_close(&f);
	ret = udax_file_open(fs, "/seq", O_RDONLY, 0, &f);
	if (ret) {
		meas_note(m, "reopening /seq returned %s",
			  uerr(ret, e, sizeof(e)));
		goto out;
	}
	for (int i = 0; i < (off > cfg.seq_io ? 2 : 1); i++) {
		uint64_t o = i ? off - cfg.seq_io : 0;
		r = udax_pread(f, check, cfg.seq_io, (off_t)o);
		stamp(o);
		if (r != (ssize_t)cfg.seq_io || memcmp(check, src, cfg.seq_io))
			meas_note(m,
				  "read back of offset %llu differs from "
				  "what was written (pread returned %zd)",
				  (unsigned long long)o, r);
	}
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

static int run_nt(struct meas *m, int prefaulted)
{
	uint8_t *dst;
	uint64_t off = 0, t0, t1;
	long ops = 0;
	int fd, ret;

	fd = memfd_create("udax-bench-nt", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)cfg.seq_bytes)) {
		meas_fail(m, "memfd_create/ftruncate: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	dst = mmap(NULL, cfg.seq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (dst == MAP_FAILED) {
		meas_fail(m, "mmap of the memfd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (prefaulted && (ret = prefault(dst, cfg.seq_bytes))) {
		meas_fail(m, "prefaulting the memfd: %s", strerror(-ret));
		goto out;
	}
	t0 = now_ns();
	for (; off < cfg.seq_bytes; off += cfg.seq_io, ops++) {
		stamp(off);
		cl_memcpy_nt(dst + off, src, cfg.seq_io);
	}
	cl_drain();
	t1 = now_ns();
	meas_add(m, gibs(off, t1 - t0), 0, 0, ops);
out:
	munmap(dst, cfg.seq_bytes);
	close(fd);
	return 0;
}

static int run_tmpfs(struct meas *m, int prefaulted)
{
	char path[] = "/dev/shm/udax-bench-seq.XXXXXX";
	uint64_t off = 0, t0, t1;
	long ops = 0;
	ssize_t r;
	int fd, rc = -1;

	fd = mkstemp(path);
	if (fd < 0) {
		meas_fail(m, "mkstemp(%s): %s", path, strerror(errno));
		return -1;
	}
	if (prefaulted &&
	    (errno = posix_fallocate(fd, 0, (off_t)cfg.seq_bytes))) {
		meas_fail(m, "posix_fallocate(%s): %s", path, strerror(errno));
		goto out;
	}
	t0 = now_ns();
	for (; off < cfg.seq_bytes; off += cfg.seq_io, ops++) {
		stamp(off);
		r = pwrite(fd, src, cfg.seq_io, (off_t)off);
		if (r != (ssize_t)cfg.seq_io) {
			meas_fail(m, "pwrite(%s, offset %llu) returned %zd: %s",
				  path, (unsigned long long)off, r,
				  strerror(errno));
			goto out;
		}
	}
	if (fdatasync(fd)) {
		meas_fail(m, "fdatasync(%s): %s", path, strerror(errno));
		goto out;
	}
	t1 = now_ns();
	meas_add(m, gibs(off, t1 - t0), 0, 0, ops);
	rc = 0;
out:
	close(fd);
	unlink(path);
	return rc;
}

void bench_seq(struct section *s)
{
	struct meas *u[2], *n[2], *t[2];
	static const char *states[2] = {"first touch", "prefaulted"};
	memset(s, 0, sizeof(*s));
	s->id = "seq_write";
	s->unit = "GiB/s";
	snprintf(s->title, sizeof(s->title),
		 "1. Sequential %llu MiB writes into a new file, %llu MiB per "
		 "run, %d runs",
		 (unsigned long long)(cfg.seq_io / MIB),
		 (unsigned long long)(cfg.seq_bytes / MIB), cfg.reps);
	src = aligned_alloc(4096, cfg.seq_io);
	check = aligned_alloc(4096, cfg.seq_io);
	if (!src || !check) {
		fprintf(stderr, "udax-bench: out of memory\n");
		exit(1);
	}
	fill_pattern(src, cfg.seq_io, 1);
	memset(check, 0, cfg.seq_io);

	for (int p = 0; p < 2; p++) {
		u[p] = section_meas(
			s, p ? "udax_prefaulted" : "udax_first_touch",
			"udax_pwrite + udax_fdatasync (udax device)",
			states[p]);
		n[p] = section_meas(
			s, p ? "nt_memcpy_prefaulted" : "nt_memcpy_first_touch",
			"cl_memcpy_nt + sfence into a memfd mapping",
			states[p]);
		t[p] = section_meas(
			s, p ? "tmpfs_fallocated" : "tmpfs_first_touch",
			"pwrite(2) + fdatasync, tmpfs file in /dev/shm",
			p ? "fallocated" : "first touch");
	}
	/* runs interleaved, so drift affects every column alike */
	for (int rep = 0; rep < cfg.reps; rep++)
		for (int p = 0; p < 2; p++) {
			if (!u[p]->err[0])
				run_udax(u[p], p);
			if (!n[p]->err[0])
				run_nt(n[p], p);
			if (!t[p]->err[0])
				run_tmpfs(t[p], p);
		}
	for (int i = 0; i < s->nm; i++)
		meas_finish(&s->m[i]);

	section_ratio(s, "udax_vs_nt_memcpy_first_touch",
		      "udax / nt memcpy (first touch)", u[0], n[0]);
	section_ratio(s, "udax_vs_nt_memcpy_prefaulted",
		      "udax / nt memcpy (prefaulted)", u[1], n[1]);
	section_ratio(s, "udax_vs_tmpfs_first_touch",
		      "udax / tmpfs write(2) (first touch)", u[0], t[0]);
	section_ratio(s, "udax_vs_tmpfs_prefaulted",
		      "udax / tmpfs write(2) (prefaulted vs fallocated)", u[1],
		      t[1]);
	for (int p = 1; p >= 0; p--) {
		const struct ratio *r = &s->r[p];
		char text[160];
		snprintf(text, sizeof(text),
			 "udax_pwrite >= 80%% of nt memcpy (%s)", states[p]);
		if (r->value < 0)
			section_goal(s, text, 0, 0, "n/a");
		else
			section_goal(s, text, 1, r->value >= 0.8, "%.0f%%",
				     r->value * 100);
	}
	free(src);
	free(check);
}
