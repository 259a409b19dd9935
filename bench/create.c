/* SPDX-License-Identifier: MIT */
/*
 * create.c - 3. create + close + unlink of empty files in one directory.
 *
 *   udax:   udax_file_open(O_CREAT|O_EXCL|O_WRONLY) + udax_file_close +
 *           udax_unlink of "/bench/fNNNNNNN" on a fresh udax_open_memory()
 *           file system
 *   tmpfs:  openat(O_CREAT|O_EXCL|O_WRONLY) + close + unlinkat of
 *           "fNNNNNNN" relative to a directory fd in /dev/shm (the kernel
 *           walks one name, udax two: the comparison favours the kernel)
 *
 * Every name is distinct. Afterwards (untimed) the udax directory must be
 * empty and the free inode and block counts back where they started; a
 * difference is printed as a note.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bench.h"

static int over_budget(long i, uint64_t start)
{
	return (i & 1023) == 1023 &&
	       now_ns() - start > (uint64_t)(cfg.budget_s * 1e9);
}

static void check_empty(struct meas *m, struct udax_fs *fs)
{
	struct udax_dir *d = NULL;
	struct udax_dirent ent;
	char e[96];
	long left = 0;
	int ret;

	ret = udax_dir_open(fs, "/bench", &d);
	if (ret) {
		meas_note(m, "udax_dir_open(\"/bench\") returned %s",
			  uerr(ret, e, sizeof(e)));
		return;
	}
	while ((ret = udax_dir_read(d, &ent)) == 1)
		if (strcmp(ent.name, ".") && strcmp(ent.name, ".."))
			left++;
	if (ret < 0)
		meas_note(m, "udax_dir_read returned %s",
			  uerr(ret, e, sizeof(e)));
	else if (left)
		meas_note(m, "%ld entries left in /bench after unlinking all",
			  left);
	udax_dir_close(&d);
}

static int run_udax(struct meas *m, int prefaulted)
{
	struct udax_fs *fs = NULL;
	struct udax_file *f;
	struct statvfs sv0, sv1;
	char path[64], e[96];
	uint64_t t0, t1;
	long i = 0;
	int ret, rc = -1;

	if (bench_udax_open(m, prefaulted, &fs))
		return -1;
	ret = udax_mkdir(fs, "/bench", 0755);
	if (ret) {
		meas_fail(m, "udax_mkdir(\"/bench\") returned %s",
			  uerr(ret, e, sizeof(e)));
		goto out;
	}
	udax_statfs(fs, &sv0);
	t0 = now_ns();
	for (; i < cfg.creates; i++) {
		snprintf(path, sizeof(path), "/bench/f%07ld", i);
		ret = udax_file_open(fs, path, O_CREAT | O_EXCL | O_WRONLY,
				     0644, &f);
		if (ret) {
			meas_fail(m,
				  "file %ld: udax_file_open(\"%s\", "
				  "O_CREAT|O_EXCL|O_WRONLY) returned %s",
				  i, path, uerr(ret, e, sizeof(e)));
			goto out;
		}
		ret = udax_file_close(&f);
		if (ret) {
			meas_fail(m, "file %ld: udax_file_close returned %s", i,
				  uerr(ret, e, sizeof(e)));
			goto out;
		}
		ret = udax_unlink(fs, path);
		if (ret) {
			meas_fail(m,
				  "file %ld: udax_unlink(\"%s\") returned %s",
				  i, path, uerr(ret, e, sizeof(e)));
			goto out;
		}
		if (over_budget(i, t0)) {
			i++;
			break;
		}
	}
	t1 = now_ns();
	meas_add(m, (double)i / ((double)(t1 - t0) / 1e9), 0, 0, i);
	rc = 0;
	check_empty(m, fs);
	udax_statfs(fs, &sv1);
	if (sv1.f_ffree != sv0.f_ffree || sv1.f_bfree != sv0.f_bfree)
		meas_note(m,
			  "after %ld create+unlink: free inodes %llu -> %llu, "
			  "free blocks %llu -> %llu",
			  i, (unsigned long long)sv0.f_ffree,
			  (unsigned long long)sv1.f_ffree,
			  (unsigned long long)sv0.f_bfree,
			  (unsigned long long)sv1.f_bfree);
out:
	ret = udax_close(&fs);
	if (ret)
		meas_note(m, "udax_close returned %s", uerr(ret, e, sizeof(e)));
	return rc;
}

static int run_tmpfs(struct meas *m)
{
	char dir[] = "/dev/shm/udax-bench-create.XXXXXX";
	char name[32];
	uint64_t t0, t1;
	long i = 0;
	int dfd, fd, rc = -1;

	if (!mkdtemp(dir)) {
		meas_fail(m, "mkdtemp(%s): %s", dir, strerror(errno));
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		meas_fail(m, "open(%s): %s", dir, strerror(errno));
		rmdir(dir);
		return -1;
	}
	t0 = now_ns();
	for (; i < cfg.creates; i++) {
		snprintf(name, sizeof(name), "f%07ld", i);
		fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
			    0644);
		if (fd < 0) {
			meas_fail(m, "openat(%s/%s, O_CREAT|O_EXCL): %s", dir,
				  name, strerror(errno));
			goto out;
		}
		close(fd);
		if (unlinkat(dfd, name, 0)) {
			meas_fail(m, "unlinkat(%s/%s): %s", dir, name,
				  strerror(errno));
			goto out;
		}
		if (over_budget(i, t0)) {
			i++;
			break;
		}
	}
	t1 = now_ns();
	meas_add(m, (double)i / ((double)(t1 - t0) / 1e9), 0, 0, i);
	rc = 0;
out:
	if (rc) /* remove a file left by a failed step */
		unlinkat(dfd, name, 0);
	close(dfd);
	rmdir(dir);
	return rc;
}

void bench_create(struct section *s)
{
	struct meas *u[2], *t;
	char text[96];

	memset(s, 0, sizeof(*s));
	s->id = "create_unlink";
	s->unit = "ops/s";
	snprintf(
		s->title, sizeof(s->title),
		"3. Create (O_CREAT|O_EXCL) + close + unlink of empty files in "
		"one directory, %ld per run, %d runs",
		cfg.creates, cfg.reps);
	u[0] = section_meas(s, "udax_first_touch",
			    "udax_file_open + close + udax_unlink",
			    "first touch");
	u[1] = section_meas(s, "udax_prefaulted",
			    "udax_file_open + close + udax_unlink",
			    "prefaulted");
	t = section_meas(s, "tmpfs",
			 "openat + close + unlinkat, tmpfs /dev/shm", "kernel");
	for (int rep = 0; rep < cfg.reps; rep++) {
		for (int p = 0; p < 2; p++)
			if (!u[p]->err[0])
				run_udax(u[p], p);
		if (!t->err[0])
			run_tmpfs(t);
	}
	for (int i = 0; i < s->nm; i++)
		meas_finish(&s->m[i]);
	section_ratio(s, "udax_over_tmpfs_first_touch",
		      "udax ops/s / tmpfs ops/s (first touch)", u[0], t);
	section_ratio(s, "udax_over_tmpfs_prefaulted",
		      "udax ops/s / tmpfs ops/s (prefaulted)", u[1], t);
	for (int p = 1; p >= 0; p--) {
		const struct ratio *r = &s->r[p];
		snprintf(text, sizeof(text),
			 "udax create+unlink >= 2x tmpfs (%s)", u[p]->state);
		if (r->value < 0)
			section_goal(s, text, 0, 0, "n/a");
		else
			section_goal(s, text, 1, r->value >= 2.0, "%.2fx",
				     r->value);
	}
}
