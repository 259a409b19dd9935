/* SPDX-License-Identifier: MIT */
/* util.h - helpers several test programs share. */
#ifndef UDAX_TEST_UTIL_H
#define UDAX_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <udax.h>

#include "api/api.h"
#include "device/device.h"

/* Give a directory its name-tree leaf (kept while it exists, even when
 * empty) so that free-space baselines taken now are not off by it. */
static inline int warm_dir(struct udax_fs *wfs, const char *dir)
{
	char p[256];
	struct udax_file *f;
	int ret;

	snprintf(p, sizeof(p), "%s/.warm", strcmp(dir, "/") ? dir : "");
	ret = udax_file_open(wfs, p, O_CREAT | O_WRONLY, 0600, &f);
	if (!ret)
		ret = udax_file_close(&f);
	return ret ? ret : udax_unlink(wfs, p);
}

/* A file system on a fresh memory file (its freed blocks poisoned when
 * poison is set: UDAX_POISON_FREED), or on the crash-emulating device
 * (crash: sends and receives go by send(2) and recv(2) there). Returns 0
 * or non-zero. */
static inline int fs_new_dev(struct udax_fs **fs, int crash, uint64_t size,
			     int poison)
{
	struct dev *dev;
	int ret;

	if (crash) {
		if (dev_crash_new(&dev, size))
			return -1;
		return udax_open_device(fs, dev, 1, NULL);
	}
	if (poison)
		setenv("UDAX_POISON_FREED", "1", 1);
	ret = udax_open_memory(fs, size);
	if (poison)
		unsetenv("UDAX_POISON_FREED");
	return ret;
}

/* Can this process map udax files (userfaultfd permitted)? Tries once on
 * a memory file system of its own. */
static inline int mapping_permitted(void)
{
	struct udax_fs *pfs;
	struct udax_file *f;
	void *p;
	int works = 0;

	if (udax_open_memory(&pfs, 16 << 20))
		return 0;
	if (!udax_file_open(pfs, "/probe", O_CREAT | O_RDWR, 0644, &f)) {
		udax_ftruncate(f, 4096);
		works = udax_mmap(f, 0, 4096, PROT_READ, UDAX_MAP_SHARED, &p) ==
			0;
		if (works)
			udax_munmap(p, 4096);
		udax_file_close(&f);
	}
	udax_close(&pfs);
	return works;
}

/* A new file at path holding n bytes of c (O_TRUNC), open O_RDWR, or
 * NULL. */
static inline struct udax_file *file_of_byte(struct udax_fs *wfs,
					     const char *path, size_t n, int c)
{
	static char fb_buf[1 << 20];
	struct udax_file *f;

	if (udax_file_open(wfs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f))
		return NULL;
	memset(fb_buf, c, sizeof(fb_buf));
	for (size_t o = 0; o < n; o += sizeof(fb_buf)) {
		size_t k = n - o < sizeof(fb_buf) ? n - o : sizeof(fb_buf);
		if (udax_pwrite(f, fb_buf, k, (off_t)o) != (ssize_t)k) {
			udax_file_close(&f);
			return NULL;
		}
	}
	return f;
}

/* Fill the device with a file at path until ENOSPC, so that the next
 * blocks freed are the only ones a new file can get. Returns 0 or -1. */
static inline int device_fill(struct udax_fs *wfs, const char *path)
{
	static char df_buf[64 * 1024];
	struct udax_file *f;
	off_t o = 0;
	ssize_t n;

	memset(df_buf, 'f', sizeof(df_buf));
	if (udax_file_open(wfs, path, O_CREAT | O_RDWR, 0644, &f))
		return -1;
	while ((n = udax_pwrite(f, df_buf, sizeof(df_buf), o)) > 0)
		o += n;
	udax_file_close(&f);
	return n == -ENOSPC ? 0 : -1;
}

/* How many of the first n bytes of the file are c. */
static inline size_t file_count_byte(struct udax_file *f, size_t n, int c)
{
	static char cb_buf[1 << 20];
	size_t same = 0;

	for (size_t o = 0; o < n; o += sizeof(cb_buf)) {
		ssize_t r = udax_pread(f, cb_buf, sizeof(cb_buf), (off_t)o);
		for (ssize_t i = 0; i < r && o + (size_t)i < n; i++)
			same += cb_buf[i] == c;
	}
	return same;
}

/* One random change of a file's layout, as a pin's stress tests make it
 * beside the pinners: truncate to [0, max), punch or zero up to 128 KiB
 * in [0, max), or extend by up to 64 KiB of byte c (only ever at the end,
 * so that ranges inside the size stay the pinners'). Returns 0 or the
 * call's negative errno. */
static inline int layout_change(struct udax_file *f, unsigned *seed, off_t max,
				int c)
{
	static __thread char buf[64 * 1024];
	struct stat st;
	off_t a = (off_t)(rand_r(seed) % (unsigned)max);
	off_t n = (off_t)(1 + rand_r(seed) % (128 * 1024));
	ssize_t r;

	switch (rand_r(seed) % 4) {
	case 0:
		return udax_ftruncate(f, a);
	case 1:
		return udax_fallocate(
			f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, n);
	case 2:
		return udax_fallocate(
			f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, a, n);
	default:
		if (udax_fstat(f, &st) || st.st_size >= max)
			return 0;
		memset(buf, c, sizeof(buf));
		r = udax_pwrite(f, buf, (size_t)(n < 64 * 1024 ? n : 64 * 1024),
				st.st_size);
		return r < 0 ? (int)r : 0;
	}
}

#endif /* UDAX_TEST_UTIL_H */
