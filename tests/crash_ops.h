/* SPDX-License-Identifier: MIT */
/*
 * crash_ops.h - the operations the crash tests run, and a digest of a
 * file system's visible state to compare "before" and "after" with.
 */
#ifndef UDAX_CRASH_OPS_H
#define UDAX_CRASH_OPS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/xattr.h>
#include <stdint.h>
#include <udax.h>
#include <unistd.h>

#include "device/device.h"
#include "format/format.h"

/* ---- digest: every name, type, mode, size, nlink, mtime, contents,
 * device number and xattr ---- */

/* 0: leave mtimes out of the digest (what fdatasync need not persist). */
static int digest_mtime = 1;

static uint32_t digest_add(uint32_t h, const void *p, size_t n)
{
	return udax_crc32c(h, p, n);
}

/* The xattrs of a name (not following a symlink), order-free. */
static int digest_xattrs(struct udax_fs *fs, const char *path, uint32_t *h)
{
	static char list[65536], val[65536];
	ssize_t n = udax_llistxattr(fs, path, list, sizeof(list));
	uint32_t acc = 0;

	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		ssize_t v =
			udax_lgetxattr(fs, path, list + i, val, sizeof(val));
		if (v < 0)
			return (int)v;
		uint32_t eh = digest_add(0, list + i, strlen(list + i));
		acc ^= digest_add(eh, val, (size_t)v);
	}
	*h = digest_add(*h, &acc, sizeof(acc));
	return 0;
}

static int digest_tree(struct udax_fs *fs, const char *path, uint32_t *h)
{
	struct udax_dir *d;
	struct udax_dirent e;
	int ret;

	ret = udax_dir_open(fs, path, &d);
	if (ret)
		return ret;
	/* entries come in hash order, which is stable for a given name set
	 * on one image; XOR-combine per-entry digests to be order-free */
	uint32_t acc = 0;
	while ((ret = udax_dir_read(d, &e)) == 1) {
		char child[4096];
		struct stat st;
		uint32_t eh = 0;
		if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s",
			 strcmp(path, "/") ? path : "", e.name);
		ret = udax_lstat(fs, child, &st);
		if (ret)
			break;
		eh = digest_add(eh, child, strlen(child));
		uint64_t attrs[5] = {st.st_mode, (uint64_t)st.st_size,
				     st.st_nlink, (uint64_t)st.st_mtim.tv_sec,
				     (uint64_t)st.st_mtim.tv_nsec};
		if (!digest_mtime)
			attrs[3] = attrs[4] = 0;
		eh = digest_add(eh, attrs, sizeof(attrs));
		ret = digest_xattrs(fs, child, &eh);
		if (ret)
			break;
		if (S_ISDIR(st.st_mode)) {
			uint32_t sub = 0;
			ret = digest_tree(fs, child, &sub);
			if (ret)
				break;
			eh = digest_add(eh, &sub, 4);
		} else if (S_ISLNK(st.st_mode)) {
			char t[4096];
			ssize_t n = udax_readlink(fs, child, t, sizeof(t));
			if (n < 0) {
				ret = (int)n;
				break;
			}
			eh = digest_add(eh, t, (size_t)n);
		} else if (!S_ISREG(st.st_mode)) {
			uint64_t rdev = st.st_rdev; /* no contents */
			eh = digest_add(eh, &rdev, sizeof(rdev));
		} else {
			struct udax_file *f;
			static char buf[1 << 16];
			ret = udax_file_open(fs, child, O_RDONLY, 0, &f);
			if (ret)
				break;
			for (off_t off = 0;; off += (off_t)sizeof(buf)) {
				ssize_t n =
					udax_pread(f, buf, sizeof(buf), off);
				if (n < 0) {
					ret = (int)n;
					break;
				}
				if (!n)
					break;
				eh = digest_add(eh, buf, (size_t)n);
			}
			udax_file_close(&f);
			if (ret)
				break;
		}
		acc ^= eh;
	}
	udax_dir_close(&d);
	*h = acc;
	return ret < 0 ? ret : 0;
}

static int digest_fs(struct udax_fs *fs, uint32_t *h)
{
	struct stat st;
	int ret = udax_stat(fs, "/", &st);
	if (ret)
		return ret;
	ret = digest_tree(fs, "/", h);
	*h = digest_add(*h, &st.st_nlink, sizeof(st.st_nlink));
	return ret ? ret : digest_xattrs(fs, "/", h);
}

/* ---- intermediate states ----
 * An operation made of several API calls calls STEP() between them; the
 * crash test records the digest of each intermediate state, which a
 * crash image may legitimately show. */
static struct udax_fs *step_fs;
static struct dev *step_dev; /* crash-emulating: fences so far, per step */
#define STEPS_MAX 4096
static uint32_t step_digest[STEPS_MAX];
static uint64_t step_fence[STEPS_MAX];
static int step_count;

static void STEP(void)
{
	uint32_t h = 0;
	if (step_fs && step_count < STEPS_MAX && !digest_fs(step_fs, &h)) {
		step_fence[step_count] =
			step_dev ? dev_crash_fences(step_dev) : 0;
		step_digest[step_count++] = h;
	}
}

/* ---- helpers for ops ---- */

static int put_file(struct udax_fs *fs, const char *path, size_t size, int seed)
{
	struct udax_file *f;
	char *buf = malloc(size ? size : 1);
	int ret;

	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(seed + i * 7 + (i >> 12));
	ret = udax_file_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f);
	if (!ret) {
		ssize_t n = size ? udax_pwrite(f, buf, size, 0) : 0;
		if (n != (ssize_t)size)
			ret = n < 0 ? (int)n : -EIO;
		udax_file_close(&f);
	}
	free(buf);
	return ret;
}

/* Do bytes [off, off+len) of f read as `c`? A check inside an operation:
 * its live result must be right before its crash images are compared
 * with it. Returns 0 or -EIO. */
static int expect_bytes(struct udax_file *f, off_t off, size_t len, char c)
{
	char b[4096];
	while (len) {
		size_t n = len < sizeof(b) ? len : sizeof(b);
		if (udax_pread(f, b, n, off) != (ssize_t)n)
			return -EIO;
		for (size_t i = 0; i < n; i++)
			if (b[i] != c)
				return -EIO;
		off += (off_t)n;
		len -= n;
	}
	return 0;
}

/* put_file() as two steps: create, then write. */
static int put_file_steps(struct udax_fs *fs, const char *path, size_t size,
			  int seed)
{
	int ret = put_file(fs, path, 0, seed);
	if (!ret)
		STEP();
	ret = ret ? ret : put_file(fs, path, size, seed);
	if (!ret)
		STEP();
	return ret;
}

static int with_file(struct udax_fs *fs, const char *path,
		     int (*fn)(struct udax_file *f))
{
	struct udax_file *f;
	int ret = udax_file_open(fs, path, O_RDWR, 0, &f);
	if (ret)
		return ret;
	ret = fn(f);
	udax_file_close(&f);
	return ret;
}

/* The common starting state of every crash case. */
static int crash_setup(struct udax_fs *fs)
{
	int ret = 0;
	ret = ret ? ret : udax_mkdir(fs, "/d", 0755);
	ret = ret ? ret : udax_mkdir(fs, "/d/e", 0755);
	ret = ret ? ret : udax_mkdir(fs, "/empty", 0755);
	ret = ret ? ret : put_file(fs, "/small", 100, 1);
	ret = ret ? ret : put_file(fs, "/big", 300 * 1024 + 123, 2);
	ret = ret ? ret : put_file(fs, "/d/f", 5000, 3);
	ret = ret ? ret : put_file(fs, "/d/e/g", 0, 4);
	ret = ret ? ret : udax_symlink(fs, "small", "/link");
	ret = ret ? ret : udax_link(fs, "/small", "/d/hard");
	return ret;
}

static int w_append(struct udax_file *f)
{
	char b[8192];
	memset(b, 'A', sizeof(b));
	return udax_pwrite(f, b, sizeof(b), 300 * 1024 + 123) == sizeof(b) ?
		       0 :
		       -EIO;
}
static int w_hole(struct udax_file *f)
{
	char b[4096];
	memset(b, 'H', sizeof(b));
	return udax_pwrite(f, b, sizeof(b), 1 << 20) == sizeof(b) ? 0 : -EIO;
}
static int w_big(struct udax_file *f)
{
	static char b[1 << 20];
	memset(b, 'B', sizeof(b));
	return udax_pwrite(f, b, sizeof(b), 0) == sizeof(b) ? 0 : -EIO;
}
static int w_append_2(struct udax_file *f)
{
	char b[8192];
	memset(b, 'R', sizeof(b));
	return udax_pwrite(f, b, sizeof(b), 4096) == sizeof(b) ? 0 : -EIO;
}
static int w_hole_edges(struct udax_file *f)
{
	char b[3000];
	memset(b, 'E', sizeof(b));
	if (udax_pwrite(f, b, sizeof(b), (1 << 20) + 1000) != sizeof(b))
		return -EIO;
	return expect_bytes(f, 1 << 20, 1000, 0);
}
static int t_grow_8k(struct udax_file *f)
{
	int ret = udax_ftruncate(f, 8192);
	return ret ? ret : expect_bytes(f, 1000, 8192 - 1000, 0);
}
static int t_shrink(struct udax_file *f)
{
	return udax_ftruncate(f, 1000);
}
static int t_grow(struct udax_file *f)
{
	return udax_ftruncate(f, 2 << 20);
}
static int t_zero(struct udax_file *f)
{
	return udax_ftruncate(f, 0);
}
static int f_punch(struct udax_file *f)
{
	return udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      10000, 100000);
}
static int f_zero(struct udax_file *f)
{
	return udax_fallocate(f, FALLOC_FL_ZERO_RANGE, 5000, 200000);
}
static int f_alloc(struct udax_file *f)
{
	return udax_fallocate(f, 0, 0, 1 << 20);
}
static int f_alloc_keep(struct udax_file *f)
{
	return udax_fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
}
static int w_unwritten(struct udax_file *f)
{
	char b[6000];
	int ret = udax_fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
	STEP();
	memset(b, 'U', sizeof(b));
	if (!ret && udax_pwrite(f, b, sizeof(b), 2000) != sizeof(b))
		ret = -EIO;
	return ret;
}

static int op_create(struct udax_fs *fs)
{
	return put_file(fs, "/new", 0, 0);
}
static int op_create_data(struct udax_fs *fs)
{
	struct udax_file *f;
	char b[20000];
	int ret = udax_file_open(fs, "/d/new", O_CREAT | O_RDWR, 0644, &f);
	if (ret)
		return ret;
	STEP();
	memset(b, 'N', sizeof(b));
	if (udax_pwrite(f, b, sizeof(b), 0) != sizeof(b))
		ret = -EIO;
	udax_file_close(&f);
	return ret;
}
static int op_append(struct udax_fs *fs)
{
	return with_file(fs, "/big", w_append);
}
static int op_hole_write(struct udax_fs *fs)
{
	return with_file(fs, "/small", w_hole);
}
static int op_big_write(struct udax_fs *fs)
{
	return with_file(fs, "/d/e/g", w_big);
}
static int op_trunc_shrink(struct udax_fs *fs)
{
	return with_file(fs, "/big", t_shrink);
}
static int op_trunc_grow(struct udax_fs *fs)
{
	return with_file(fs, "/small", t_grow);
}
static int op_trunc_zero(struct udax_fs *fs)
{
	return with_file(fs, "/big", t_zero);
}
static int op_punch(struct udax_fs *fs)
{
	return with_file(fs, "/big", f_punch);
}
static int op_zero_range(struct udax_fs *fs)
{
	return with_file(fs, "/big", f_zero);
}
static int op_fallocate(struct udax_fs *fs)
{
	return with_file(fs, "/d/e/g", f_alloc);
}
static int op_fallocate_keep(struct udax_fs *fs)
{
	return with_file(fs, "/small", f_alloc_keep);
}
static int op_write_unwritten(struct udax_fs *fs)
{
	return with_file(fs, "/d/e/g", w_unwritten);
}
static int op_rename(struct udax_fs *fs)
{
	return udax_rename(fs, "/small", "/d/moved", 0);
}
static int op_rename_replace(struct udax_fs *fs)
{
	return udax_rename(fs, "/d/f", "/big", 0);
}
static int op_rename_noreplace(struct udax_fs *fs)
{
	return udax_rename(fs, "/d/f", "/fresh", RENAME_NOREPLACE);
}
static int op_rename_exchange(struct udax_fs *fs)
{
	return udax_rename(fs, "/d", "/big", RENAME_EXCHANGE);
}
static int op_rename_dir(struct udax_fs *fs)
{
	return udax_rename(fs, "/d/e", "/e2", 0);
}
static int op_rename_dir_over(struct udax_fs *fs)
{
	return udax_rename(fs, "/d/e", "/empty", 0);
}
static int op_link(struct udax_fs *fs)
{
	return udax_link(fs, "/big", "/d/e/big2");
}
static int op_unlink(struct udax_fs *fs)
{
	return udax_unlink(fs, "/big");
}
static int op_unlink_hard(struct udax_fs *fs)
{
	return udax_unlink(fs, "/d/hard");
}
/* the last name of a directory: it keeps an empty root leaf */
static int op_unlink_last(struct udax_fs *fs)
{
	return udax_unlink(fs, "/d/e/g");
}
static int op_mkdir(struct udax_fs *fs)
{
	return udax_mkdir(fs, "/d/e/sub", 0700);
}
static int op_rmdir(struct udax_fs *fs)
{
	return udax_rmdir(fs, "/empty");
}
static int op_symlink(struct udax_fs *fs)
{
	return udax_symlink(fs, "/d/f", "/s");
}
static int op_symlink_long(struct udax_fs *fs)
{
	char t[600];
	memset(t, 'x', sizeof(t) - 1);
	t[sizeof(t) - 1] = 0;
	return udax_symlink(fs, t, "/longlink");
}
static int op_chmod(struct udax_fs *fs)
{
	return udax_chmod(fs, "/d/f", 0600);
}
static int op_utimens(struct udax_fs *fs)
{
	struct timespec ts[2] = {{1000, 5}, {2000, 7}};
	return udax_utimens(fs, "/d/f", ts, 0);
}

/* Enough transactions to fill the journal several times over, so that
 * crash points fall around checkpoints and after log wrap-arounds. */
static int op_create_many(struct udax_fs *fs)
{
	for (int i = 0; i < 1500; i++) {
		int ret = put_file(fs, "/d/e/many", 0, 0);
		if (ret)
			return ret;
		STEP();
		ret = udax_unlink(fs, "/d/e/many");
		if (ret)
			return ret;
		STEP();
	}
	return 0;
}
static int op_sync(struct udax_fs *fs)
{
	int ret = udax_chmod(fs, "/small", 0600);
	return ret ? ret : udax_sync(fs);
}

/* A checkpoint, then commits that write over the retired log (which
 * still holds the setup's transactions): no crash may replay what is
 * left of the old log over the newer home contents. */
static int op_sync_reuse(struct udax_fs *fs)
{
	int ret = udax_sync(fs);
	ret = ret ? ret : op_symlink_long(fs);
	if (!ret)
		STEP();
	return ret ? ret : udax_rename(fs, "/d/f", "/d/e/f2", 0);
}

/* ---- operations for the states a fresh device never reaches ---- */

/* Free, then reallocate within one checkpoint interval, data and a tree
 * node. B gets a block (and its extent tree's root node after it), A the
 * next block and its root node, A is unlinked, and B grows by two
 * blocks: their goal is right after B's blocks, so A's freed block and
 * node are the first candidates. They must not be taken before the next
 * checkpoint: the log still holds the transaction that wrote A's node,
 * and a replay would write it over B's data. */
static int op_reuse_freed(struct udax_fs *fs)
{
	int ret = put_file_steps(fs, "/reuse-b", 4096, 11);
	ret = ret ? ret : put_file_steps(fs, "/reuse-a", 4096, 12);
	ret = ret ? ret : udax_unlink(fs, "/reuse-a");
	if (!ret)
		STEP();
	return ret ? ret : with_file(fs, "/reuse-b", w_append_2);
}

/* Shrink, then grow: the old bytes past the new end in the last block
 * must read as zeros after the grow, also after a crash right after its
 * size commit. */
static int op_shrink_grow(struct udax_fs *fs)
{
	int ret = with_file(fs, "/d/f", t_shrink);
	if (!ret)
		STEP();
	return ret ? ret : with_file(fs, "/d/f", t_grow_8k);
}

/* A write into a hole, not block-aligned: the new block's head, inside
 * the file, must read as zeros (the block held garbage on an aged
 * device), and its zeroing must be durable with the mapping. */
static int op_hole_write_edges(struct udax_fs *fs)
{
	return with_file(fs, "/small", w_hole_edges);
}

/* Extend the file, then store through a synchronous mapping into the new
 * page: the fault allocates a used block, which must read as zeros but
 * for the store, and be committed before the store can land. The store's
 * mtime is not made durable by udax_persist (crash_op.mtime_lags).
 * Skipped (-EPERM from udax_mmap) where userfaultfd is not permitted. */
static int op_map_extend(struct udax_fs *fs)
{
	struct udax_file *f;
	uint8_t *p;
	void *a;
	int ret = udax_file_open(fs, "/d/f", O_RDWR, 0, &f);

	if (ret)
		return ret;
	ret = udax_ftruncate(f, 3 * 4096 + 100);
	if (!ret)
		STEP();
	if (!ret)
		ret = udax_mmap(f, 0, 4 * 4096, PROT_READ | PROT_WRITE,
				UDAX_MAP_SHARED | UDAX_MAP_SYNC, &a);
	if (!ret) {
		p = a;
		memset(p + 2 * 4096 + 64, 'M', 64); /* a new page, one line */
		udax_persist(p + 2 * 4096 + 64, 64);
		STEP();
		ret = udax_munmap(a, 4 * 4096);
		ret = ret ? ret : expect_bytes(f, 2 * 4096, 64, 0);
		ret = ret ? ret :
			    expect_bytes(f, 2 * 4096 + 128, 4096 - 128, 0);
	}
	udax_file_close(&f);
	return ret;
}

/* A checkpoint, two short metadata-only commits (chmods of /d/f, the
 * first and second transactions of the new log), and a checkpoint: the
 * retired log then holds two valid transactions at its start. */
static int log_two_chmods_retired(struct udax_fs *fs)
{
	int ret = udax_sync(fs);
	ret = ret ? ret : udax_chmod(fs, "/d/f", 0600);
	if (!ret)
		STEP();
	ret = ret ? ret : udax_chmod(fs, "/d/f", 0640);
	ret = ret ? ret : udax_sync(fs);
	if (!ret)
		STEP();
	return ret;
}

/* Then a longer metadata-only commit over the retired log. No data fence
 * comes before it, so only the checkpoint's own fence keeps the old
 * first header dead: without it a torn commit that kept the old first
 * transaction's lines would replay it, and the chmod would revert. */
static int op_log_reuse_meta(struct udax_fs *fs)
{
	int ret = log_two_chmods_retired(fs);
	return ret ? ret : udax_mkdir(fs, "/d/e/sub", 0700);
}

/* Then a third chmod of the same size as the first: it ends exactly where
 * the old second transaction begins, still valid there. Replay must stop
 * at it: its number does not follow. */
static int op_log_reuse_stale(struct udax_fs *fs)
{
	int ret = log_two_chmods_retired(fs);
	return ret ? ret : udax_chmod(fs, "/d/f", 0604);
}

/* Overwrite in place (one cache line: never torn) and fdatasync, then
 * overwrite again and fsync, then once more with fdatasync: once each
 * call returns its data must survive any crash. Digested without mtimes
 * (fdatasync need not persist them; crash_op.mtime_lags). */
static int w_overwrite_sync(struct udax_file *f)
{
	char b[64];
	memset(b, 'O', sizeof(b));
	if (udax_pwrite(f, b, sizeof(b), 8192) != sizeof(b))
		return -EIO;
	int ret = udax_fdatasync(f);
	if (!ret)
		STEP();
	memset(b, 'P', sizeof(b));
	if (!ret && udax_pwrite(f, b, sizeof(b), 4096 + 128) != sizeof(b))
		ret = -EIO;
	if (!ret)
		ret = udax_fsync(f);
	if (!ret)
		STEP();
	/* 100 bytes from the middle of one line to the middle of the third,
	 * of which only the last 22 change: fdatasync must make that third
	 * line durable (a write-back that starts at an unaligned address and
	 * steps by lines would miss it) */
	char c[100];
	if (!ret && udax_pread(f, c, 78, 3 * 4096 + 50) != 78)
		ret = -EIO;
	memset(c + 78, 'Q', 22);
	if (!ret && udax_pwrite(f, c, sizeof(c), 3 * 4096 + 50) != sizeof(c))
		ret = -EIO;
	if (!ret)
		ret = udax_fdatasync(f);
	if (!ret)
		STEP();
	return ret;
}
static int op_overwrite_sync(struct udax_fs *fs)
{
	return with_file(fs, "/big", w_overwrite_sync);
}

/* ---- special files and extended attributes ---- */

/* A FIFO, a device and a socket, and an xattr on the device. */
static int op_mknod(struct udax_fs *fs)
{
	int ret = udax_mknod(fs, "/d/fifo", S_IFIFO | 0644, 0);
	if (!ret)
		STEP();
	ret = ret ? ret :
		    udax_mknod(fs, "/d/e/dev", S_IFBLK | 0600,
			       (dev_t)8 << 8 | 3);
	if (!ret)
		STEP();
	ret = ret ? ret : udax_mknod(fs, "/sock", S_IFSOCK | 0755, 0);
	if (!ret)
		STEP();
	return ret ? ret :
		     udax_lsetxattr(fs, "/d/e/dev", "trusted.t", "abc", 3, 0);
}

/* An xattr's life: set small, set large (chunk items), replace the
 * large value by another and by a small one, remove: each step one
 * transaction that a crash shows whole or not at all. */
static int op_xattr(struct udax_fs *fs)
{
	static char v1[65536], v2[40000];
	int ret;

	memset(v1, 0x5a, sizeof(v1));
	memset(v2, 0xa5, sizeof(v2));
	ret = udax_setxattr(fs, "/d/f", "user.small", "0123456789", 10, 0);
	if (!ret)
		STEP();
	ret = ret ? ret :
		    udax_setxattr(fs, "/d/f", "user.big", v1, sizeof(v1),
				  XATTR_CREATE);
	if (!ret)
		STEP();
	ret = ret ? ret :
		    udax_setxattr(fs, "/d/f", "user.big", v2, sizeof(v2),
				  XATTR_REPLACE);
	if (!ret)
		STEP();
	ret = ret ? ret :
		    udax_setxattr(fs, "/d/f", "user.big", "x", 1,
				  XATTR_REPLACE);
	if (!ret)
		STEP();
	return ret ? ret : udax_removexattr(fs, "/d/f", "user.small");
}

/* A file whose xattrs are freed with it. */
static int op_xattr_unlink(struct udax_fs *fs)
{
	static char v[30000];
	int ret;

	memset(v, 0x3c, sizeof(v));
	ret = udax_setxattr(fs, "/big", "user.v", v, sizeof(v), 0);
	if (!ret)
		STEP();
	ret = ret ? ret : udax_setxattr(fs, "/big", "security.s", "s", 1, 0);
	if (!ret)
		STEP();
	return ret ? ret : udax_unlink(fs, "/big");
}

/* ---- reflink (issue 15): the clone, then each copy-on-write path ---- */

/* dst (made empty if missing) clones [src_off, +len) of src at dst_off,
 * len 0 = all of src from src_off. */
static int clone_into(struct udax_fs *fs, const char *dst, off_t dst_off,
		      const char *src, off_t src_off, off_t len)
{
	struct udax_file *d, *s;
	int ret = udax_file_open(fs, dst, O_CREAT | O_RDWR, 0644, &d);
	if (ret)
		return ret;
	ret = udax_file_open(fs, src, O_RDONLY, 0, &s);
	if (!ret) {
		ret = udax_clone_range(d, dst_off, s, src_off, len);
		udax_file_close(&s);
	}
	udax_file_close(&d);
	return ret;
}

/* /c: a clone of /big, made in its own steps (the create, the clone,
 * which turns the REFLINK feature on in its transaction). */
static int clone_big(struct udax_fs *fs)
{
	int ret = put_file(fs, "/c", 0, 0);
	if (!ret)
		STEP();
	ret = ret ? ret : clone_into(fs, "/c", 0, "/big", 0, 0);
	if (!ret)
		STEP();
	return ret;
}

static int op_clone(struct udax_fs *fs)
{
	return clone_big(fs);
}
static int op_clone_range(struct udax_fs *fs)
{
	/* over the middle of /d/f's blocks (replacing them) and past it */
	int ret = clone_into(fs, "/d/f", 4096, "/big", 8192, 12288);
	if (!ret)
		STEP();
	return ret ? ret : clone_into(fs, "/small", 8192, "/big", 0, 0);
}
static int op_dedupe(struct udax_fs *fs)
{
	struct udax_dedupe_dest dd = {.dst_off = 0};
	struct udax_file *s;
	int ret = put_file_steps(fs, "/dup", 300 * 1024 + 123, 2); /* /big's */
	ret = ret ? ret : udax_file_open(fs, "/dup", O_RDWR, 0, &dd.dst);
	if (ret)
		return ret;
	ret = udax_file_open(fs, "/big", O_RDONLY, 0, &s);
	if (!ret) {
		ret = udax_dedupe_range(s, 0, 300 * 1024 + 123, &dd, 1);
		if (!ret && (dd.status || !dd.bytes_deduped))
			ret = -EIO;
		udax_file_close(&s);
	}
	udax_file_close(&dd.dst);
	return ret;
}
/* Unaligned at both ends, over blocks still shared: each write replaces
 * them by copies in one transaction (an overwrite in place would not be
 * atomic, and the crash images could show it torn). */
static int w_fill(struct udax_file *f, char c, off_t off)
{
	char b[6000];
	memset(b, c, sizeof(b));
	return udax_pwrite(f, b, sizeof(b), off) == sizeof(b) ? 0 : -EIO;
}
static int w_cow(struct udax_file *f)
{
	return w_fill(f, 'C', 10000);
}
static int w_cow_far(struct udax_file *f)
{
	return w_fill(f, 'S', 100000);
}
static int op_cow_write(struct udax_fs *fs)
{
	int ret = clone_big(fs);
	ret = ret ? ret : with_file(fs, "/c", w_cow);
	if (!ret)
		STEP();
	/* the source's side: its own copy, the clone keeps the old bytes */
	return ret ? ret : with_file(fs, "/big", w_cow_far);
}
static int op_cow_zero(struct udax_fs *fs)
{
	int ret = clone_big(fs);
	return ret ? ret : with_file(fs, "/c", f_zero);
}
static int op_cow_punch(struct udax_fs *fs)
{
	int ret = clone_big(fs);
	return ret ? ret : with_file(fs, "/c", f_punch);
}
static int op_cow_trunc(struct udax_fs *fs)
{
	/* into a shared block: its tail is zeroed in a copy */
	int ret = clone_big(fs);
	return ret ? ret : with_file(fs, "/c", t_shrink);
}
static int op_cow_unlink(struct udax_fs *fs)
{
	/* every block of /big loses a reference, none is freed */
	int ret = clone_big(fs);
	return ret ? ret : udax_unlink(fs, "/big");
}

/* ---- udax_recvfile ---- */

/* Receive into path at off, asking for count bytes, of which the peer
 * sends `sent` bytes of c (queued in a socketpair first) and ends. */
static int recv_into_file(struct udax_fs *fs, const char *path, off_t off,
			  size_t count, size_t sent, int c)
{
	static char b[65536];
	struct udax_file *f;
	int sv[2], ret;

	if (sent > sizeof(b) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -EINVAL;
	memset(b, c, sent);
	ret = write(sv[1], b, sent) == (ssize_t)sent ? 0 : -EIO;
	shutdown(sv[1], SHUT_WR);
	ret = ret ? ret : udax_file_open(fs, path, O_RDWR, 0, &f);
	if (!ret) {
		ssize_t n =
			udax_recvfile(f, sv[0], &off, count, UDAX_RECV_WAITALL);
		if (n != (ssize_t)sent)
			ret = n < 0 ? (int)n : -EIO;
		udax_file_close(&f);
	}
	close(sv[0]);
	close(sv[1]);
	return ret;
}

/* A new file, then 20000 bytes into it. */
static int op_recv_new(struct udax_fs *fs)
{
	int ret = put_file(fs, "/d/recv", 0, 0);
	if (!ret)
		STEP();
	return ret ? ret : recv_into_file(fs, "/d/recv", 0, 20000, 20000, 'V');
}
/* Over existing data, unaligned at both ends: the head and tail of the
 * new first and last blocks hold the old bytes. */
static int op_recv_overwrite(struct udax_fs *fs)
{
	return recv_into_file(fs, "/big", 5000, 9000, 9000, 'W');
}
/* A peer that sends 7000 of the 64 KiB asked and ends. */
static int op_recv_short(struct udax_fs *fs)
{
	return recv_into_file(fs, "/d/f", 3000, 65536, 7000, 'S');
}
/* Past the end of a 100-byte file: zeros between. */
static int op_recv_past_end(struct udax_fs *fs)
{
	return recv_into_file(fs, "/small", 10000, 5000, 5000, 'P');
}

struct crash_op {
	const char *name;
	int (*fn)(struct udax_fs *fs);
	unsigned stride; /* check every stride-th crash point (0 = all) */
	int mtime_lags;	 /* digests leave mtimes out (fdatasync) */
	int mapped;	 /* uses udax_mmap: skipped without userfaultfd */
};

static const struct crash_op crash_ops[] = {
	{"create", op_create, 0, 0, 0},
	{"create-data", op_create_data, 0, 0, 0},
	{"append", op_append, 0, 0, 0},
	{"hole-write", op_hole_write, 0, 0, 0},
	{"big-write", op_big_write, 0, 0, 0},
	{"trunc-shrink", op_trunc_shrink, 0, 0, 0},
	{"trunc-grow", op_trunc_grow, 0, 0, 0},
	{"trunc-zero", op_trunc_zero, 0, 0, 0},
	{"punch", op_punch, 0, 0, 0},
	{"zero-range", op_zero_range, 0, 0, 0},
	{"fallocate", op_fallocate, 0, 0, 0},
	{"fallocate-keep", op_fallocate_keep, 0, 0, 0},
	{"write-unwritten", op_write_unwritten, 0, 0, 0},
	{"rename", op_rename, 0, 0, 0},
	{"rename-replace", op_rename_replace, 0, 0, 0},
	{"rename-noreplace", op_rename_noreplace, 0, 0, 0},
	{"rename-exchange", op_rename_exchange, 0, 0, 0},
	{"rename-dir", op_rename_dir, 0, 0, 0},
	{"rename-dir-over", op_rename_dir_over, 0, 0, 0},
	{"link", op_link, 0, 0, 0},
	{"unlink", op_unlink, 0, 0, 0},
	{"unlink-hard", op_unlink_hard, 0, 0, 0},
	{"unlink-last", op_unlink_last, 0, 0, 0},
	{"mkdir", op_mkdir, 0, 0, 0},
	{"rmdir", op_rmdir, 0, 0, 0},
	{"symlink", op_symlink, 0, 0, 0},
	{"symlink-long", op_symlink_long, 0, 0, 0},
	{"chmod", op_chmod, 0, 0, 0},
	{"utimens", op_utimens, 0, 0, 0},
	{"sync-checkpoint", op_sync, 0, 0, 0},
	{"sync-reuse", op_sync_reuse, 0, 0, 0},
	{"create-many", op_create_many, 97, 0, 0},
	{"reuse-freed", op_reuse_freed, 0, 0, 0},
	{"shrink-grow", op_shrink_grow, 0, 0, 0},
	{"hole-write-edges", op_hole_write_edges, 0, 0, 0},
	{"map-extend", op_map_extend, 0, 1, 1},
	{"log-reuse-meta", op_log_reuse_meta, 0, 0, 0},
	{"log-reuse-stale", op_log_reuse_stale, 0, 0, 0},
	{"overwrite-sync", op_overwrite_sync, 0, 1, 0},
	{"mknod", op_mknod, 0, 0, 0},
	{"xattr", op_xattr, 0, 0, 0},
	{"xattr-unlink", op_xattr_unlink, 0, 0, 0},
	{"clone", op_clone, 0, 0, 0},
	{"clone-range", op_clone_range, 0, 0, 0},
	{"dedupe", op_dedupe, 0, 0, 0},
	{"cow-write", op_cow_write, 0, 0, 0},
	{"cow-zero", op_cow_zero, 0, 0, 0},
	{"cow-punch", op_cow_punch, 0, 0, 0},
	{"cow-trunc", op_cow_trunc, 0, 0, 0},
	{"cow-unlink", op_cow_unlink, 0, 0, 0},
	{"recv-new", op_recv_new, 0, 0, 0},
	{"recv-overwrite", op_recv_overwrite, 0, 0, 0},
	{"recv-short", op_recv_short, 0, 0, 0},
	{"recv-past-end", op_recv_past_end, 0, 0, 0},
};

#endif /* UDAX_CRASH_OPS_H */
