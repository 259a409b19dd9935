/* SPDX-License-Identifier: MIT */
/*
 * extent.c - a file's extent tree and the file system's iomap begin/end.
 *
 * begin() looks the extent up and, for writes and fallocate, reserves and
 * takes blocks for a hole (at most EXT_STEP_BLOCKS per step, 2 MiB-aligned
 * when large); the blocks stay unknown to the media until end() commits
 * the new extent in one transaction, after the data written into them is
 * durable. What the caller did not use is given back. So no stale data is
 * ever reachable, and a failure part-way leaks nothing.
 */
#include <errno.h>
#include <string.h>

#include "btree/btree.h"
#include "inode/inode.h"
#include "iomap.h"

#define EXT_STEP_BLOCKS 16384u /* 64 MiB */

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
static int ext_find(struct btree *bt, uint64_t fblk, enum bt_mode mode,
		    uint64_t *key, struct udax_extent_val *v)
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
static int ext_release_keep(struct btree *bt, uint64_t dev, uint64_t len,
			    void *arg)
{
	(void)bt, (void)dev, (void)len, (void)arg;
	return 0;
}

int ext_release_free(struct btree *bt, uint64_t dev, uint64_t len, void *arg)
{
	(void)arg;
	return tx_free_blocks(bt->tx, dev, len);
}

int ext_remove(struct btree *bt, uint64_t fblk, uint64_t len,
	       int (*release)(struct btree *, uint64_t, uint64_t, void *),
	       void *arg, uint64_t *next_fblk)
{
	uint64_t end = fblk + len < fblk ? UINT64_MAX : fblk + len;
	uint64_t pos = fblk;
	int ret;

	if (next_fblk)
		*next_fblk = end;
	while (pos < end) {
		struct udax_extent_val v;
		uint64_t key;

		if (!tx_room(bt->tx, BT_MAX_DEPTH * 3 + 4)) {
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

/* ---- iomap begin/end ---- */

static int udax_iomap_begin(struct inode *ip, uint64_t pos, uint64_t len,
			    unsigned flags, struct iomap *iomap)
{
	struct udax_fs *fs = ip->fs;
	const struct udax_inode *di;
	struct btree bt;
	struct ext_map m;
	uint64_t fblk = pos >> UDAX_BLOCK_SHIFT;
	uint64_t end = pos + len;
	int ret;

	di = inode_r(fs, NULL, ip->ino, &ret);
	if (!di)
		return ret;
	bt_init(&bt, fs, NULL, di->root, ip->ino, UDAX_TREE_EXTENT);
	ret = ext_map(&bt, fblk, &m);
	if (ret)
		return ret;
	uint64_t mend = (m.fblk + m.len) > (UINT64_MAX >> UDAX_BLOCK_SHIFT) ?
				UINT64_MAX :
				(m.fblk + m.len) << UDAX_BLOCK_SHIFT;
	iomap->offset = pos;
	iomap->length = (mend < end ? mend : end) - pos;
	iomap->flags = 0;
	if (!m.hole) {
		iomap->type = (m.flags & UDAX_EXT_UNWRITTEN) ? IOMAP_UNWRITTEN :
							       IOMAP_MAPPED;
		iomap->addr = (m.dev << UDAX_BLOCK_SHIFT) +
			      (pos & (UDAX_BLOCK_SIZE - 1));
		return 0;
	}
	iomap->type = IOMAP_HOLE;
	iomap->addr = IOMAP_NULL_ADDR;
	if (!(flags & (IOMAP_WRITE | IOMAP_ALLOC)))
		return 0;

	/* Allocate for the hole: reserve first, so ENOSPC comes before any
	 * data is copied, then take one extent. */
	uint64_t last = (pos + iomap->length - 1) >> UDAX_BLOCK_SHIFT;
	uint64_t want = last - fblk + 1, got_start, got_len, avail;
	if (want > EXT_STEP_BLOCKS)
		want = EXT_STEP_BLOCKS;
	if (alloc_reserve_fs(fs, want, 0)) {
		avail = alloc_available(&fs->alloc);
		want = avail < want ? avail : want;
		if (!want || alloc_reserve(&fs->alloc, want, 0))
			return -ENOSPC;
	}
	/* goal: right after the previous extent's blocks */
	uint64_t goal = 0, pkey;
	struct udax_extent_val pv;
	if (fblk && !ext_find(&bt, fblk - 1, BT_LE, &pkey, &pv))
		goal = pv.dev_blk + pv.len;
	ret = alloc_take(&fs->alloc, goal, want,
			 want >= UDAX_HUGE_BLOCKS &&
				 (fblk % UDAX_HUGE_BLOCKS) == 0,
			 &got_start, &got_len);
	if (ret) {
		alloc_unreserve(&fs->alloc, want);
		return ret;
	}
	if (got_len < want)
		alloc_unreserve(&fs->alloc, want - got_len);
	iomap->new_blk = got_start;
	iomap->new_len = got_len;
	if ((fblk + got_len) << UDAX_BLOCK_SHIFT < pos + iomap->length)
		iomap->length = ((fblk + got_len) << UDAX_BLOCK_SHIFT) - pos;
	iomap->type = (flags & IOMAP_ALLOC) ? IOMAP_UNWRITTEN : IOMAP_MAPPED;
	iomap->flags = IOMAP_F_NEW | IOMAP_F_DIRTY;
	iomap->addr =
		(got_start << UDAX_BLOCK_SHIFT) + (pos & (UDAX_BLOCK_SIZE - 1));
	return 0;
}

/* Commit what a write or fallocate step did to the extent map. */
static int udax_iomap_end(struct inode *ip, uint64_t pos, uint64_t len,
			  uint64_t done, unsigned flags, struct iomap *iomap)
{
	struct udax_fs *fs = ip->fs;
	uint64_t fblk = pos >> UDAX_BLOCK_SHIFT;
	uint64_t used =
		done ? ((pos + done - 1) >> UDAX_BLOCK_SHIFT) - fblk + 1 : 0;
	int converting = (flags & IOMAP_WRITE) &&
			 iomap->type == IOMAP_UNWRITTEN &&
			 !(iomap->flags & IOMAP_F_NEW);
	int ret;
	(void)len;

	if (!(flags & (IOMAP_WRITE | IOMAP_ALLOC)))
		return 0;
	if (iomap->flags & IOMAP_F_NEW) {
		if (used < iomap->new_len)
			alloc_put(&fs->alloc, iomap->new_blk + used,
				  iomap->new_len - used);
		if (!used)
			return 0;
	}
	const struct udax_inode *rdi = inode_r(fs, NULL, ip->ino, &ret);
	if (!rdi)
		goto put_new;
	int grows = (flags & IOMAP_WRITE) && pos + done > rdi->size;
	if (!(iomap->flags & IOMAP_F_NEW) && !converting) {
		/* an overwrite of mapped blocks: the size it reaches is
		 * committed by the next step or at the end of the write */
		if (grows && pos + done > ip->size_pending)
			ip->size_pending = pos + done;
		if (flags & IOMAP_WRITE)
			ip->mtime_pending = fs_now_ns();
		return 0;
	}

	struct tx *tx = tx_begin(fs);
	struct udax_inode *di = inode_w(tx, ip->ino);
	struct btree bt;
	if (!di) {
		ret = tx->failed;
		tx_abort(tx);
		goto put_new;
	}
	bt_init(&bt, fs, tx, di->root, ip->ino, UDAX_TREE_EXTENT);
	ret = 0;
	if (iomap->flags & IOMAP_F_NEW) {
		/* from here on the transaction owns the blocks */
		ret = tx_use_blocks(tx, iomap->new_blk, used);
		if (!ret)
			ret = ext_insert(
				&bt, fblk, iomap->new_blk, used,
				(flags & IOMAP_ALLOC) ? UDAX_EXT_UNWRITTEN : 0);
	} else if (converting) {
		uint64_t dev = iomap->addr >> UDAX_BLOCK_SHIFT;
		ret = ext_remove(&bt, fblk, used, ext_release_keep, NULL, NULL);
		if (!ret)
			ret = ext_insert(&bt, fblk, dev, used, 0);
	}
	if (!ret) {
		di = inode_w(tx, ip->ino);
		ret = di ? 0 : tx->failed;
	}
	if (ret) {
		tx_abort(tx); /* gives back the blocks */
		return ret;
	}
	di->root = bt.root;
	di->blocks += (uint64_t)bt.nodes_delta;
	if (iomap->flags & IOMAP_F_NEW)
		di->blocks += used;
	if (grows)
		di->size = pos + done;
	if (ip->size_pending > di->size)
		di->size = ip->size_pending;
	ip->size_pending = 0;
	if (flags & IOMAP_WRITE) {
		di->mtime_ns = di->ctime_ns = fs_now_ns();
		ip->mtime_pending = 0;
	}
	tx->data_flushed = 1;
	return tx_commit(tx);

put_new:
	if (iomap->flags & IOMAP_F_NEW)
		alloc_put(&fs->alloc, iomap->new_blk, used);
	return ret;
}

const struct iomap_ops udax_iomap_ops = {
	.begin = udax_iomap_begin,
	.end = udax_iomap_end,
};
