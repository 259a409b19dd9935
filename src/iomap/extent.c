/* SPDX-License-Identifier: MIT */
/*
 * extent.c - a file's extent tree: look up, insert, remove extents.
 *
 * The file system's iomap begin/end, which read and change the inode
 * that owns the tree, are in the layer above (inode/iomap_ops.c).
 */
#include <errno.h>
#include <string.h>

#include "alloc/refcount.h"
#include "btree/btree.h"
#include "fs.h"
#include "iomap.h"

static int ext_check(struct btree *bt, uint64_t key,
		     const struct udax_extent_val *v, size_t vlen)
{
	struct udax_fs *fs = bt->fs;

	if (vlen != sizeof(*v) || v->len == 0 || v->len > UDAX_EXT_MAX_LEN ||
	    v->dev_blk < fs->sb.data_start ||
	    v->dev_blk + v->len > fs->nblocks - 1 || key + v->len < key ||
	    (v->flags & ~UDAX_EXT_UNWRITTEN))
		return fs_corrupt(fs,
				  "extent at file block %llu of inode "
				  "%llu is damaged",
				  (unsigned long long)key,
				  (unsigned long long)bt->owner);
	return 0;
}

/* Find the extent with the greatest key <= fblk (or >= with ge). */
int ext_find(struct btree *bt, uint64_t fblk, enum bt_mode mode, uint64_t *key,
	     struct udax_extent_val *v)
{
	size_t vlen = sizeof(*v);
	int ret = bt_find(bt, fblk, mode, key, v, &vlen);
	if (ret)
		return ret;
	return ext_check(bt, *key, v, vlen);
}

int ext_map(struct btree *bt, uint64_t fblk, struct ext_map *m)
{
	struct udax_extent_val v;
	uint64_t key;
	int ret;

	ret = ext_find(bt, fblk, BT_LE, &key, &v);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && key + v.len > fblk) {
		m->fblk = fblk;
		m->len = key + v.len - fblk;
		m->dev = v.dev_blk + (fblk - key);
		m->flags = v.flags;
		m->hole = 0;
		return 0;
	}
	ret = ext_find(bt, fblk, BT_GE, &key, &v);
	if (ret && ret != -ENOENT)
		return ret;
	m->fblk = fblk;
	m->len = ret ? UINT64_MAX - fblk : key - fblk;
	m->dev = 0;
	m->flags = 0;
	m->hole = 1;
	return 0;
}

int ext_insert(struct btree *bt, uint64_t fblk, uint64_t dev, uint64_t len,
	       uint32_t flags)
{
	struct udax_extent_val v, r;
	uint64_t key, rkey;
	int ret;

	while (len > UDAX_EXT_MAX_LEN) {
		ret = ext_insert(bt, fblk, dev, UDAX_EXT_MAX_LEN, flags);
		if (ret)
			return ret;
		fblk += UDAX_EXT_MAX_LEN;
		dev += UDAX_EXT_MAX_LEN;
		len -= UDAX_EXT_MAX_LEN;
	}
	/* merge with the right neighbour */
	ret = ext_find(bt, fblk + len, BT_EQ, &rkey, &r);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && r.dev_blk == dev + len && r.flags == flags &&
	    r.len + len <= UDAX_EXT_MAX_LEN) {
		ret = bt_delete(bt, rkey);
		if (ret)
			return ret;
		len += r.len;
	}
	/* merge with the left neighbour */
	if (fblk) {
		ret = ext_find(bt, fblk - 1, BT_LE, &key, &v);
		if (ret && ret != -ENOENT)
			return ret;
		if (!ret && key + v.len == fblk && v.dev_blk + v.len == dev &&
		    v.flags == flags && v.len + len <= UDAX_EXT_MAX_LEN) {
			v.len += (uint32_t)len;
			return bt_replace(bt, key, &v, sizeof(v));
		}
	}
	v = (struct udax_extent_val){
		.dev_blk = dev, .len = (uint32_t)len, .flags = flags};
	return bt_insert(bt, fblk, &v, sizeof(v));
}

/* Unmap without freeing: the blocks stay with the caller. */
int ext_release_keep(struct btree *bt, uint64_t dev, uint64_t len, void *arg)
{
	(void)bt, (void)dev, (void)len, (void)arg;
	return 0;
}

/* Every data block leaving an extent goes through here: a shared block
 * loses one reference, only a block with no reference left is freed. */
int ext_release_free(struct btree *bt, uint64_t dev, uint64_t len, void *arg)
{
	(void)arg;
	return refcount_put(bt->tx, dev, len);
}

int ext_release_count(struct btree *bt, uint64_t dev, uint64_t len, void *arg)
{
	*(uint64_t *)arg += len;
	return ext_release_free(bt, dev, len, NULL);
}

int ext_remove(struct btree *bt, uint64_t fblk, uint64_t len,
	       int (*release)(struct btree *, uint64_t, uint64_t, void *),
	       void *arg, uint64_t *next_fblk)
{
	uint64_t end = fblk + len < fblk ? UINT64_MAX : fblk + len;
	uint64_t pos = fblk;
	/* blocks may be shared: each step releases one run of blocks with
	 * the same count, so a release changes one refcount item at most */
	int shared =
		release != ext_release_keep && atomic_load(&bt->fs->reflinked);
	int ret;

	if (next_fblk)
		*next_fblk = end;
	while (pos < end) {
		struct udax_extent_val v;
		uint64_t key;

		if (!tx_room(bt->tx,
			     BT_MAX_DEPTH * 3 + 4 +
				     (shared ? REFCOUNT_TX_BLOCKS : 0))) {
			if (next_fblk)
				*next_fblk = pos;
			return bt->tx->failed;
		}
		ret = ext_find(bt, pos, BT_LE, &key, &v);
		if (ret == -ENOENT || (!ret && key + v.len <= pos)) {
			ret = ext_find(bt, pos, BT_GE, &key, &v);
			if (ret == -ENOENT || (!ret && key >= end))
				return 0;
		}
		if (ret)
			return ret;
		uint64_t s = key > pos ? key : pos;
		uint64_t e = key + v.len < end ? key + v.len : end;
		uint64_t dev = v.dev_blk + (s - key);
		if (shared) {
			uint64_t run;
			uint32_t refs;
			ret = refcount_run(bt->fs, bt->tx, dev, e - s, &run,
					   &refs);
			if (ret)
				return ret;
			e = s + run;
		}
		if (key < s) {
			/* keep the left part */
			struct udax_extent_val l = v;
			l.len = (uint32_t)(s - key);
			ret = bt_replace(bt, key, &l, sizeof(l));
		} else {
			ret = bt_delete(bt, key);
		}
		if (!ret && key + v.len > e) {
			/* keep the right part */
			struct udax_extent_val r = v;
			r.dev_blk = v.dev_blk + (e - key);
			r.len = (uint32_t)(key + v.len - e);
			ret = bt_insert(bt, e, &r, sizeof(r));
		}
		if (!ret)
			ret = release(bt, dev, e - s, arg);
		if (ret)
			return ret;
		pos = e;
	}
	return 0;
}
