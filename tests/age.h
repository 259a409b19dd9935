/* SPDX-License-Identifier: MIT */
/*
 * age.h - aged devices for the crash and kill tests.
 *
 * A fresh device is zero everywhere and its allocator has never handed
 * out a block twice, so two classes of bug look right on it: a new block
 * whose zeroing never reached the media (it reads zero anyway), and a
 * freed block reused before the log that still describes it is retired
 * (nothing was ever freed). An aged device has a past: its free space
 * held files, directory and extent-tree nodes full of non-zero garbage,
 * and every block the next mount hands out was handed out before.
 *
 * age_fs() gives an open file system that past: a directory of many
 * small files (directory nodes split), a fragmented file (extent-tree
 * nodes), then files until the device is full; then it deletes all of
 * it and syncs, so the journal is retired and the garbage stays in the
 * free blocks. age_image() does it once on an image file and returns the
 * bytes, so a test ages once per run and copies the result per crash
 * point.
 */
#ifndef UDAX_TEST_AGE_H
#define UDAX_TEST_AGE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <udax.h>
#include <unistd.h>

#define AGE_SMALL_FILES 150 /* names in /age: directory nodes split */
#define AGE_FRAG_BLOCKS 240 /* one extent each in /age/frag */

/* Garbage that is never zero, different per file. */
static inline void age_fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(0x80u | ((seed * 37u + i * 13u) & 0x7fu));
}

static inline int age_put(struct udax_fs *fs, const char *path, uint8_t *buf,
			  size_t len, unsigned seed)
{
	struct udax_file *f;
	int ret = udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &f);

	if (ret)
		return ret;
	age_fill(buf, len, seed);
	ssize_t n = udax_pwrite(f, buf, len, 0);
	udax_file_close(&f);
	return n < 0 ? (int)n : 0;
}

/* Create, fill the device, delete, sync. Returns 0 or a negative errno. */
static inline int age_fs(struct udax_fs *fs)
{
	static uint8_t buf[256 << 10];
	char path[64];
	unsigned nfill = 0;
	int ret;

	ret = udax_mkdir(fs, "/age", 0755);
	for (unsigned i = 0; !ret && i < AGE_SMALL_FILES; i++) {
		snprintf(path, sizeof(path), "/age/small-file-%u", i);
		ret = age_put(fs, path, buf, 500 + (i * 97) % 3500, i);
	}
	if (!ret) {
		/* every other block: one extent per block, several leaves */
		struct udax_file *f = NULL;
		ret = udax_file_open(fs, "/age/frag", O_CREAT | O_RDWR, 0644,
				     &f);
		for (unsigned i = 0; !ret && i < AGE_FRAG_BLOCKS; i++) {
			age_fill(buf, 4096, 1000 + i);
			if (udax_pwrite(f, buf, 4096, (off_t)i * 8192) != 4096)
				ret = -EIO;
		}
		if (f)
			udax_file_close(&f);
	}
	/* then files until the device is full (ENOSPC ends it) */
	for (; !ret; nfill++) {
		struct udax_file *f;
		snprintf(path, sizeof(path), "/age/fill-%u", nfill);
		if (udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &f))
			break;
		age_fill(buf, sizeof(buf), 5000 + nfill);
		ssize_t n = udax_pwrite(f, buf, sizeof(buf), 0);
		udax_file_close(&f);
		if (n != (ssize_t)sizeof(buf))
			break;
	}
	for (unsigned i = 0; !ret && i < AGE_SMALL_FILES; i++) {
		snprintf(path, sizeof(path), "/age/small-file-%u", i);
		ret = udax_unlink(fs, path);
	}
	if (!ret)
		ret = udax_unlink(fs, "/age/frag");
	for (unsigned i = 0; !ret && i <= nfill; i++) {
		snprintf(path, sizeof(path), "/age/fill-%u", i);
		ret = udax_unlink(fs, path);
		if (ret == -ENOENT)
			ret = 0;
	}
	if (!ret)
		ret = udax_rmdir(fs, "/age");
	return ret ? ret : udax_sync(fs);
}

/* A file system of `size` bytes (mkfs defaults), aged by age_fs() and
 * closed cleanly: its bytes in *image (malloc'd). UDAX_AGE=0 in the
 * environment gives a fresh one instead. Returns 0 or a negative errno. */
static inline int age_image(uint64_t size, uint8_t **image)
{
	char path[64];
	struct udax_fs *fs;
	const char *e = getenv("UDAX_AGE");
	int ret, fd;

	*image = NULL;
	snprintf(path, sizeof(path), "/dev/shm/udax-age-%d.img", (int)getpid());
	unlink(path);
	ret = udax_mkfs(path, &(struct udax_mkfs_opts){.size = size});
	if (!ret)
		ret = udax_open(&fs, path,
				&(struct udax_open_opts){.quiet = 1});
	if (!ret) {
		if (!e || atoi(e))
			ret = age_fs(fs);
		int cret = udax_close(&fs);
		ret = ret ? ret : cret;
	}
	uint8_t *img = ret ? NULL : malloc(size);
	if (!ret && !img)
		ret = -ENOMEM;
	if (!ret) {
		fd = open(path, O_RDONLY);
		if (fd < 0 || pread(fd, img, size, 0) != (ssize_t)size)
			ret = -EIO;
		if (fd >= 0)
			close(fd);
	}
	unlink(path);
	if (ret) {
		free(img);
		return ret;
	}
	*image = img;
	return 0;
}

#endif /* UDAX_TEST_AGE_H */
