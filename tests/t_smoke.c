/* SPDX-License-Identifier: MIT */
/* t_smoke.c - a first end-to-end walk through the API. */
#include <fcntl.h>
#include <udax.h>

#include "test.h"

static int smoke_basic(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	struct stat st;
	char buf[100];

	CHECK_EQ(udax_open_memory(&fs, 64 << 20), 0);
	CHECK_EQ(udax_mkdir(fs, "/a", 0755), 0);
	CHECK_EQ(udax_file_open(fs, "/a/f", O_CREAT | O_RDWR, 0644, &f), 0);
	CHECK_EQ(udax_pwrite(f, "hello", 5, 0), 5);
	CHECK_EQ(udax_pread(f, buf, sizeof(buf), 0), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_size, 5);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_stat(fs, "/a/f", &st), 0);
	CHECK_EQ(udax_rename(fs, "/a/f", "/g", 0), 0);
	CHECK_EQ(udax_stat(fs, "/a/f", &st), -ENOENT);
	CHECK_EQ(udax_unlink(fs, "/g"), 0);
	CHECK_EQ(udax_rmdir(fs, "/a"), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"basic", smoke_basic},
};
TEST_MAIN("smoke", tests)
