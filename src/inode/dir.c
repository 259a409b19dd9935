/* SPDX-License-Identifier: MIT */
/*
 * dir.c - directories: a B+tree keyed by a seeded 55-bit hash of the
 * name. Names that hash alike share one item (a "bucket" of entries), so
 * lookup is one tree search whatever the directory's size, and a scan in
 * key order gives stable cookies: (key << 8) | index in the bucket.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "btree/btree.h"
#include "inode.h"

#define DIRENT_HDR sizeof(struct udax_dirent_val)

static size_t dirent_size(size_t name_len)
{
	return DIRENT_HDR + ((name_len + 7) & ~(size_t)7);
}

unsigned char mode_to_dtype(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return DT_REG;
	case S_IFDIR:
		return DT_DIR;
	case S_IFLNK:
		return DT_LNK;
	case S_IFCHR:
		return DT_CHR;
	case S_IFBLK:
		return DT_BLK;
	case S_IFIFO:
		return DT_FIFO;
	case S_IFSOCK:
		return DT_SOCK;
	default:
		return DT_UNKNOWN;
	}
}

static uint64_t dir_hash(struct udax_fs *fs, const char *name, size_t len)
{
	return udax_dir_hash(fs->sb.hash_seed, name, len);
}

/* Walk the entries of a bucket; checks their bounds. Returns the offset
 * of the entry named `name` (or -ENOENT), UDAX_ECORRUPT if damaged. */
static int bucket_find(struct udax_fs *fs, uint64_t dir, const uint8_t *val,
		       size_t vlen, const char *name, size_t len)
{
	size_t off = 0;

	while (off < vlen) {
		const struct udax_dirent_val *d = (const void *)(val + off);
		if (off + DIRENT_HDR > vlen || d->name_len == 0 ||
		    off + dirent_size(d->name_len) > vlen)
			return fs_corrupt(fs, "directory %llu: entry damaged",
					  (unsigned long long)dir);
		if (d->name_len == len &&
		    !memcmp(val + off + DIRENT_HDR, name, len))
			return (int)off;
		off += dirent_size(d->name_len);
	}
	return -ENOENT;
}

static int dir_tree(struct udax_fs *fs, struct tx *tx, uint64_t dir,
		    struct btree *bt)
{
	int err;
	const struct udax_inode *di = inode_r(fs, tx, dir, &err);

	if (!di)
		return err == -ESTALE ? UDAX_ECORRUPT : err;
	if (!S_ISDIR(di->mode))
		return -ENOTDIR;
	bt_init(bt, fs, tx, di->root, dir, UDAX_TREE_DIR);
	return 0;
}

int dir_lookup(struct udax_fs *fs, struct tx *tx, uint64_t dir,
	       const char *name, size_t len, uint64_t *ino, unsigned char *type)
{
	uint8_t val[BT_VAL_MAX];
	size_t vlen = sizeof(val);
	struct btree bt;
	uint64_t key = dir_hash(fs, name, len);
	int ret;

	ret = dir_tree(fs, tx, dir, &bt);
	if (ret)
		return ret;
	ret = bt_find(&bt, key, BT_EQ, NULL, val, &vlen);
	if (ret)
		return ret;
	ret = bucket_find(fs, dir, val, vlen, name, len);
	if (ret < 0)
		return ret;
	const struct udax_dirent_val *d = (const void *)(val + ret);
	*ino = d->ino;
	*type = d->type;
	return 0;
}

/* Store the tree root, entry count and times of a changed directory. */
static int dir_update_inode(struct tx *tx, uint64_t dir, struct btree *bt,
			    int64_t entries_delta)
{
	struct udax_inode *di = inode_w(tx, dir);

	if (!di)
		return tx->failed;
	di->root = bt->root;
	di->blocks += (uint64_t)bt->nodes_delta;
	di->entries += (uint64_t)entries_delta;
	di->mtime_ns = di->ctime_ns = fs_now_ns();
	return 0;
}

int dir_add(struct tx *tx, uint64_t dir, const char *name, size_t len,
	    uint64_t ino, unsigned char type)
{
	struct udax_fs *fs = tx->fs;
	uint8_t val[BT_VAL_MAX];
	size_t vlen = sizeof(val);
	struct btree bt;
	uint64_t key = dir_hash(fs, name, len);
	int ret, exists;

	if (len == 0 || len > UDAX_NAME_MAX)
		return -EINVAL;
	ret = dir_tree(fs, tx, dir, &bt);
	if (ret)
		return ret;
	ret = bt_find(&bt, key, BT_EQ, NULL, val, &vlen);
	if (ret && ret != -ENOENT)
		return ret;
	exists = !ret;
	if (!exists) {
		vlen = 0;
	} else {
		ret = bucket_find(fs, dir, val, vlen, name, len);
		if (ret >= 0)
			return -EEXIST;
		if (ret != -ENOENT)
			return ret;
	}
	if (vlen + dirent_size(len) > BT_VAL_MAX)
		return -ENOSPC; /* too many names with one hash */
	struct udax_dirent_val *d = (void *)(val + vlen);
	memset(d, 0, dirent_size(len));
	d->ino = ino;
	d->type = type;
	d->name_len = (uint8_t)len;
	memcpy(val + vlen + DIRENT_HDR, name, len);
	vlen += dirent_size(len);
	ret = exists ? bt_replace(&bt, key, val, vlen) :
		       bt_insert(&bt, key, val, vlen);
	if (ret)
		return ret;
	return dir_update_inode(tx, dir, &bt, 1);
}

/* A name's bucket, for a change: the tree, its key, the bucket's value
 * and where the entry sits in it. */
struct dir_slot {
	struct btree bt;
	uint64_t key;
	uint8_t val[BT_VAL_MAX];
	size_t vlen;
	int off;
};

/* Find the entry `name` of `dir` for changing it. Returns 0, -ENOENT or
 * UDAX_ECORRUPT. */
static int dir_slot_find(struct tx *tx, uint64_t dir, const char *name,
			 size_t len, struct dir_slot *sl)
{
	int ret = dir_tree(tx->fs, tx, dir, &sl->bt);

	if (ret)
		return ret;
	sl->key = dir_hash(tx->fs, name, len);
	sl->vlen = sizeof(sl->val);
	ret = bt_find(&sl->bt, sl->key, BT_EQ, NULL, sl->val, &sl->vlen);
	if (ret)
		return ret;
	sl->off = bucket_find(tx->fs, dir, sl->val, sl->vlen, name, len);
	return sl->off < 0 ? sl->off : 0;
}

int dir_remove(struct tx *tx, uint64_t dir, const char *name, size_t len)
{
	struct dir_slot sl;
	size_t sz = dirent_size(len);
	int ret = dir_slot_find(tx, dir, name, len, &sl);

	if (ret)
		return ret;
	memmove(sl.val + sl.off, sl.val + sl.off + sz,
		sl.vlen - (size_t)sl.off - sz);
	sl.vlen -= sz;
	ret = sl.vlen ? bt_replace(&sl.bt, sl.key, sl.val, sl.vlen) :
			bt_delete(&sl.bt, sl.key);
	if (ret)
		return ret;
	return dir_update_inode(tx, dir, &sl.bt, -1);
}

int dir_retarget(struct tx *tx, uint64_t dir, const char *name, size_t len,
		 uint64_t ino, unsigned char type)
{
	struct dir_slot sl;
	int ret = dir_slot_find(tx, dir, name, len, &sl);

	if (ret)
		return ret;
	struct udax_dirent_val *d = (void *)(sl.val + sl.off);
	d->ino = ino;
	d->type = type;
	ret = bt_replace(&sl.bt, sl.key, sl.val, sl.vlen);
	if (ret)
		return ret;
	return dir_update_inode(tx, dir, &sl.bt, 0);
}

int dir_next(struct udax_fs *fs, uint64_t dir, uint64_t pos, uint64_t *ino,
	     unsigned char *type, char *name, uint64_t *next)
{
	uint8_t val[BT_VAL_MAX];
	struct btree bt;
	uint64_t key = pos >> 8, found;
	unsigned idx = pos & 0xff;
	int ret;

	ret = dir_tree(fs, NULL, dir, &bt);
	if (ret)
		return ret;
	for (;;) {
		size_t vlen = sizeof(val);
		ret = bt_find(&bt, key, BT_GE, &found, val, &vlen);
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
		if (found != key)
			idx = 0;
		size_t off = 0;
		unsigned i = 0;
		while (off < vlen) {
			const struct udax_dirent_val *d =
				(const void *)(val + off);
			if (off + DIRENT_HDR > vlen || d->name_len == 0 ||
			    off + dirent_size(d->name_len) > vlen)
				return fs_corrupt(fs,
						  "directory %llu: entry "
						  "damaged",
						  (unsigned long long)dir);
			if (i == idx) {
				*ino = d->ino;
				*type = d->type;
				memcpy(name, val + off + DIRENT_HDR,
				       d->name_len);
				name[d->name_len] = 0;
				*next = (found << 8) | (i + 1);
				return 1;
			}
			off += dirent_size(d->name_len);
			i++;
		}
		if (found == UDAX_DIR_HASH_MASK)
			return 0;
		key = found + 1;
		idx = 0;
	}
}
