/* SPDX-License-Identifier: MIT */
/*
 * finish.c - Finishing, through the library: orphans and /lost+found
 *
 * Not a check: after pass 5, with the image consistent and -y, udax_open
 * frees the orphans and finishes the truncates pass 4 found (the
 * library's own orphan recovery), then transactions create /lost+found
 * if needed and connect to it the inodes passes 3 and 4 planned. If
 * errors were left unfixed, this is skipped and said.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "api/api.h"
#include "inode/inode.h"
#include "fsck/fsck_int.h"

/* Create /lost+found (caller holds ns_lock). */
static int lf_create(struct udax_fs *fs, uint64_t *lf)
{
	const struct udax_inode *root;
	struct udax_inode *w;
	struct tx *tx;
	int ret, err;

	root = inode_r(fs, NULL, UDAX_ROOT_INO, &err);
	if (!root)
		return err;
	tx = tx_begin(fs);
	ret = inode_alloc(tx, S_IFDIR | 0700, root->uid, root->gid, lf);
	if (!ret) {
		w = inode_w(tx, *lf);
		if (w) {
			w->nlink = 2;
			w->parent = UDAX_ROOT_INO;
		}
		ret = w ? 0 : tx->failed;
	}
	if (!ret)
		ret = dir_add(tx, UDAX_ROOT_INO, "lost+found", 10, *lf, DT_DIR);
	if (!ret) {
		w = inode_w(tx, UDAX_ROOT_INO);
		if (w)
			w->nlink++;
		ret = w ? 0 : tx->failed;
	}
	if (ret) {
		tx_abort(tx);
		return ret;
	}
	return tx_commit(tx);
}

/* Connect one inode to /lost+found as "#INO" (caller holds ns_lock). */
static int lf_connect(struct udax_fs *fs, uint64_t lf, uint64_t ino)
{
	const struct udax_inode *di;
	struct udax_inode *w;
	char name[48];
	struct tx *tx;
	int ret, err, k = 0;

	di = inode_r(fs, NULL, ino, &err);
	if (!di)
		return err;
	int is_dir = S_ISDIR(di->mode);
	unsigned char dt = mode_to_dtype(di->mode);
	tx = tx_begin(fs);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	while ((ret = dir_add(tx, lf, name, strlen(name), ino, dt)) ==
		       -EEXIST &&
	       ++k < 1000)
		snprintf(name, sizeof(name), "#%llu.%d",
			 (unsigned long long)ino, k);
	if (!ret && is_dir) {
		w = inode_w(tx, ino);
		if (w)
			w->parent = lf;
		w = w ? inode_w(tx, lf) : NULL;
		if (w)
			w->nlink++;
		ret = w ? 0 : tx->failed;
	}
	if (ret) {
		tx_abort(tx);
		return ret;
	}
	return tx_commit(tx);
}

/* Work through the library failed with ret: a system error (out of
 * memory, a failed msync) is an operational error (exit 8), which a
 * later run can get past; a damaged image or no space is a problem left
 * unfixed. */
static void finish_failed(struct fsck *fc, const char *what, int ret)
{
	snprintf(fc->why, sizeof(fc->why), "%s: %s", what, udax_strerror(ret));
	if (ret == UDAX_ECORRUPT || ret == -ENOSPC)
		fix_problem(fc, PR_6_FINISH, fc->why);
	else if (!fc->op_failed)
		fc->op_failed = op_error(fc, "%s: %s", fc->name, fc->why);
}

/*
 * With the image consistent, let the library finish: udax_open frees
 * orphans and finishes truncates (orphan_recover), then transactions
 * connect the inodes planned to /lost+found. Returns 1 if it ran and
 * filled the result's counts.
 */
int fsck_finish(struct fsck *fc)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs = NULL;
	int ret;

	if (!fc->yes || (!fc->finish_orphans && !fc->nreconnect))
		return 0;
	pass_header(fc, 6);
	if (fc->unfixed) {
		fix_problem(fc, PR_6_FINISH,
			    "errors are left: orphans and /lost+found "
			    "are left alone");
		return 0;
	}
	img_drain(fc);
	dev_close(&fc->dev);
	ret = udax_open(&fs, fc->name, &oo);
	if (ret) {
		finish_failed(fc, "cannot open the repaired file system", ret);
		return 0;
	}
	fc->res->modified = 1;
	if (fc->nreconnect) {
		uint64_t lf = 0;
		unsigned char type = 0;
		pthread_rwlock_wrlock(&fs->ns_lock);
		ret = dir_lookup(fs, NULL, UDAX_ROOT_INO, "lost+found", 10, &lf,
				 &type);
		if (ret == -ENOENT)
			ret = lf_create(fs, &lf);
		else if (!ret && type != DT_DIR)
			ret = -ENOTDIR;
		for (size_t i = 0; !ret && i < fc->nreconnect; i++)
			ret = lf_connect(fs, lf, fc->reconnect[i]);
		pthread_rwlock_unlock(&fs->ns_lock);
		if (ret)
			finish_failed(fc,
				      "cannot connect inodes to /lost+found",
				      ret);
	}
	ret = udax_close(&fs);
	if (ret)
		finish_failed(fc, "cannot close the file system", ret);
	return 1;
}

/* Count the blocks and inodes in use from the bitmaps the library left
 * (orphans freed, /lost+found made), for the summary. */
void count_after_finish(struct fsck *fc)
{
	struct dev *dev;
	uint64_t blocks = 0, inodes = 0;

	if (dev_open(&dev, fc->name, 0, 1))
		return;
	if (dev->size >= fc->nblocks << UDAX_BLOCK_SHIFT) {
		for (uint64_t b = 0; b < fc->nblocks; b++) {
			const struct udax_bitmap *bm =
				(const void *)(dev->base +
					       ((fc->sb.bbmap_start +
						 b / UDAX_BITMAP_BITS)
						<< UDAX_BLOCK_SHIFT));
			uint64_t i = b % UDAX_BITMAP_BITS;
			blocks += (bm->bits[i / 8] >> (i % 8)) & 1;
		}
		for (uint64_t n = 1; n < fc->ninodes; n++) {
			const struct udax_bitmap *bm =
				(const void *)(dev->base +
					       ((fc->sb.ibmap_start +
						 n / UDAX_BITMAP_BITS)
						<< UDAX_BLOCK_SHIFT));
			uint64_t i = n % UDAX_BITMAP_BITS;
			inodes += (bm->bits[i / 8] >> (i % 8)) & 1;
		}
		fc->res->blocks_used = blocks;
		fc->res->files = inodes;
	}
	dev_close(&dev);
}
