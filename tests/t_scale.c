/* SPDX-License-Identifier: MIT */
/*
 * t_scale.c - structures at scale: a file with hundreds of thousands of
 * extents, a directory with a hundred thousand names; and no block or
 * inode leaks once everything is removed again.
 * UDAX_SCALE_EXTENTS / UDAX_SCALE_NAMES raise the counts (make scale-long).
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/statvfs.h>
#include <udax.h>

#include "test.h"
#include "util.h"

static unsigned long env_count(const char *name, unsigned long def)
{
	const char *e = getenv(name);
	return e ? strtoul(e, NULL, 0) : def;
}

static int scale_extents(void)
{
	unsigned long n = env_count("UDAX_SCALE_EXTENTS", 150000);
	struct udax_fs *fs;
	struct udax_file *f;
	struct statvfs s0, s1;
	struct stat st;
	uint64_t v, r;

	CHECK_EQ(udax_open_memory(&fs, (n * 2 * 4096 + (64 << 20))), 0);
	CHECK_EQ(warm_dir(fs, "/"), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	CHECK_EQ(udax_file_open(fs, "/frag", O_CREAT | O_RDWR, 0600, &f), 0);
	/* every other block: n extents that cannot merge */
	for (unsigned long i = 0; i < n; i++) {
		v = i * 2654435761u;
		CHECK_EQ(udax_pwrite(f, &v, 8, (off_t)(i * 2 * 4096)), 8);
	}
	for (unsigned long i = 0; i < n; i += 997) {
		v = i * 2654435761u;
		CHECK_EQ(udax_pread(f, &r, 8, (off_t)(i * 2 * 4096)), 8);
		CHECK_EQ(r, v);
		CHECK_EQ(udax_pread(f, &r, 8, (off_t)(i * 2 * 4096 + 4096)),
			 i + 1 < n ? 8 : 0);
		if (i + 1 < n)
			CHECK_EQ(r, 0);
	}
	struct udax_extent ext[4];
	CHECK_EQ(udax_file_extents(f, 4096 * 2 * 1000, 4096 * 4, ext, 4), 2);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK(st.st_blocks >= (blkcnt_t)(n * 8));
	/* punch the middle, then truncate in steps */
	CHECK_EQ(udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)(n / 4 * 8192), (off_t)(n / 2 * 8192)),
		 0);
	CHECK_EQ(udax_pread(f, &r, 8, (off_t)(n / 2 * 8192)), 8);
	CHECK_EQ(r, 0);
	CHECK_EQ(udax_ftruncate(f, (off_t)(n / 8 * 8192)), 0);
	CHECK_EQ(udax_ftruncate(f, 0), 0);
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_unlink(fs, "/frag"), 0);
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_ffree, s0.f_ffree);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static int scale_names(void)
{
	unsigned long n = env_count("UDAX_SCALE_NAMES", 100000);
	struct udax_fs *fs;
	struct udax_file *f;
	struct udax_dir *d;
	struct udax_dirent e;
	struct statvfs s0, s1;
	struct stat st;
	char p[64];
	unsigned long seen = 0;
	int ret;

	CHECK_EQ(udax_open_memory(&fs, (n * 20480 + (64 << 20))), 0);
	CHECK_EQ(udax_mkdir(fs, "/big", 0755), 0);
	CHECK_EQ(warm_dir(fs, "/big"), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	for (unsigned long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/big/file-%lu-with-a-longer-name", i);
		CHECK_EQ(udax_file_open(fs, p, O_CREAT | O_EXCL | O_WRONLY,
					0644, &f),
			 0);
		CHECK_EQ(udax_file_close(&f), 0);
	}
	for (unsigned long i = 0; i < n; i += 7) {
		snprintf(p, sizeof(p), "/big/file-%lu-with-a-longer-name", i);
		CHECK_EQ(udax_stat(fs, p, &st), 0);
		CHECK(S_ISREG(st.st_mode));
	}
	CHECK_EQ(udax_stat(fs, "/big/file-x", &st), -ENOENT);
	CHECK_EQ(udax_dir_open(fs, "/big", &d), 0);
	while ((ret = udax_dir_read(d, &e)) == 1)
		seen++;
	CHECK_EQ(ret, 0);
	CHECK_EQ(seen, n + 2);
	CHECK_EQ(udax_dir_close(&d), 0);
	CHECK_EQ(udax_rmdir(fs, "/big"), -ENOTEMPTY);
	for (unsigned long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/big/file-%lu-with-a-longer-name", i);
		CHECK_EQ(udax_unlink(fs, p), 0);
	}
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_ffree, s0.f_ffree);
	CHECK_EQ(udax_rmdir(fs, "/big"), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"extents", scale_extents},
	{"names", scale_names},
};
TEST_MAIN("scale", tests)
