/* SPDX-License-Identifier: MIT */
/*
 * iomap_ops.c - the file system's iomap begin/end: a file's extent map
 * as the iterator (iomap/) sees it.
 *
 * begin() looks the extent up and, for writes and fallocate, reserves and
 * takes blocks for a hole (at most EXT_STEP_BLOCKS per step, 2 MiB-aligned
 * when large); the blocks stay unknown to the media until end() commits
 * the new extent in one transaction, after the data written into them is
 * durable. What the caller did not use is given back. So no stale data is
 * ever reachable, and a failure part-way leaks nothing.
 *
 * They live in the inode layer, as a Linux file system supplies its own
 * iomap_ops to fs/iomap: they read and write the inode (its tree root,
 * size, block count, pending size and mtime), and the iomap layer below
 * calls them only through the ops table its callers pass it.
 */
#include <errno.h>
#include <string.h>

#include "alloc/refcount.h"
#include "btree/btree.h"
#include "inode.h"
#include "iomap/iomap.h"

#define EXT_STEP_BLOCKS 16384u /* 64 MiB */

/* Reserve and take up to `want` blocks near goal for one step: all of
 * them, or what space is left (never none: -ENOSPC). Returns 0 with
 * *start and *got. */
static int step_take(struct udax_fs *fs, uint64_t goal, uint64_t want,
		     int align, uint64_t *start, uint64_t *got)
{
	uint64_t avail;
	int ret;

	if (alloc_reserve_fs(fs, want, 0)) {
		avail = alloc_available(&fs->alloc);
		want = avail < want ? avail : want;
		if (!want || alloc_reserve(&fs->alloc, want, 0))
			return -ENOSPC;
	}
	ret = alloc_take(&fs->alloc, goal, want, align, start, got);
	if (ret) {
		alloc_unreserve(&fs->alloc, want);
		return ret;
	}
	if (*got < want)
		alloc_unreserve(&fs->alloc, want - *got);
	return 0;
}

/*
 * Copy-on-write of the shared blocks under [pos, pos+length) of iomap:
 * new blocks take the bytes the caller will not write (the head of the
 * first block and the tail of the last; UNSHARE: all of them), and the
 * iomap points at them. The shared blocks stay as they are: end() maps
 * the copies in their place and drops one reference, in one transaction,
 * so no other file ever sees the change and a crash leaves the shared or
 * the private copy. ENOSPC: nothing changed.
 */
static int cow_begin(struct inode *ip, uint64_t pos, unsigned flags,
		     uint64_t old_dev, struct iomap *iomap)
{
	struct udax_fs *fs = ip->fs;
	struct dev *dev = fs->dev;
	uint64_t fblk = pos >> UDAX_BLOCK_SHIFT;
	uint64_t last = (pos + iomap->length - 1) >> UDAX_BLOCK_SHIFT;
	uint64_t want = last - fblk + 1, start, got;
	int ret;

	if (want > EXT_STEP_BLOCKS)
		want = EXT_STEP_BLOCKS;
	ret = step_take(fs, old_dev, want, 0, &start, &got);
	if (ret)
		return ret;
	if ((fblk + got) << UDAX_BLOCK_SHIFT < pos + iomap->length)
		iomap->length = ((fblk + got) << UDAX_BLOCK_SHIFT) - pos;
	uint8_t *dst = fs_block(fs, start);
	const uint8_t *src = fs_block(fs, old_dev);
	uint64_t head = pos & (UDAX_BLOCK_SIZE - 1);
	uint64_t end = pos - (fblk << UDAX_BLOCK_SHIFT) + iomap->length;
	uint64_t span = got << UDAX_BLOCK_SHIFT;
	if (flags & IOMAP_UNSHARE) {
		dev->ops->memcpy_nt(dev, dst, src, span);
	} else {
		if (head)
			dev->ops->memcpy_nt(dev, dst, src, head);
		if (end < span)
			dev->ops->memcpy_nt(dev, dst + end, src + end,
					    span - end);
	}
	iomap->new_blk = start;
	iomap->new_len = got;
	iomap->type = IOMAP_MAPPED;
	iomap->flags = IOMAP_F_COW | IOMAP_F_DIRTY;
	iomap->addr = (start << UDAX_BLOCK_SHIFT) + head;
	return 0;
}

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
		if (iomap->type == IOMAP_UNWRITTEN ||
		    !atomic_load(&fs->reflinked))
			return 0;
		/* written blocks may be shared: the iomap covers one run of
		 * shared blocks, or of private ones */
		uint64_t n = ((pos + iomap->length - 1) >> UDAX_BLOCK_SHIFT) -
			     fblk + 1,
			 run;
		uint32_t refs;
		ret = refcount_run(fs, NULL, m.dev, n, &run, &refs);
		if (ret)
			return ret;
		if (run < n)
			iomap->length =
				((fblk + run) << UDAX_BLOCK_SHIFT) - pos;
		if (refs < 2)
			return 0;
		iomap->type = IOMAP_SHARED;
		if (!(flags & IOMAP_CHANGES))
			return 0;
		return cow_begin(ip, pos, flags, m.dev, iomap);
	}
	iomap->type = IOMAP_HOLE;
	iomap->addr = IOMAP_NULL_ADDR;
	if (!(flags & (IOMAP_WRITE | IOMAP_ALLOC)))
		return 0;

	/* Allocate for the hole: reserve first, so ENOSPC comes before any
	 * data is copied, then take one extent, after the previous
	 * extent's blocks if it can. */
	uint64_t last = (pos + iomap->length - 1) >> UDAX_BLOCK_SHIFT;
	uint64_t want = last - fblk + 1, got_start, got_len;
	if (want > EXT_STEP_BLOCKS)
		want = EXT_STEP_BLOCKS;
	uint64_t goal = 0, pkey;
	struct udax_extent_val pv;
	if (fblk && !ext_find(&bt, fblk - 1, BT_LE, &pkey, &pv))
		goal = pv.dev_blk + pv.len;
	ret = step_take(fs, goal, want,
			want >= UDAX_HUGE_BLOCKS &&
				(fblk % UDAX_HUGE_BLOCKS) == 0,
			&got_start, &got_len);
	if (ret)
		return ret;
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
	int cow = (iomap->flags & IOMAP_F_COW) != 0;
	int ret;
	(void)len;

	if (!(flags & (IOMAP_WRITE | IOMAP_ALLOC)) && !cow)
		return 0;
	if (iomap->flags & (IOMAP_F_NEW | IOMAP_F_COW)) {
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
	if (!(iomap->flags & IOMAP_F_NEW) && !converting && !cow) {
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
	} else if (cow) {
		/* the copies replace the shared blocks, which lose one
		 * reference each (ext_release_free) */
		uint64_t next;
		ret = tx_use_blocks(tx, iomap->new_blk, used);
		if (!ret)
			ret = ext_remove(&bt, fblk, used, ext_release_free,
					 NULL, &next);
		if (!ret && next < fblk + used)
			ret = tx->failed ? tx->failed : -ENOMEM;
		if (!ret)
			ret = ext_insert(&bt, fblk, iomap->new_blk, used, 0);
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
	if (iomap->flags & (IOMAP_F_NEW | IOMAP_F_COW))
		alloc_put(&fs->alloc, iomap->new_blk, used);
	return ret;
}

/* The end of a write call: commit the size an overwrite step reached
 * (size_pending, inode.h), and after a failure report only the bytes
 * the file holds. */
static int udax_iomap_write_end(struct inode *ip, uint64_t off, uint64_t *done,
				int ret)
{
	int err_size;

	if (ip->size_pending) {
		int err = inode_set_size(ip, ip->size_pending, 0);
		if (err && !ret)
			ret = err;
	}
	ip->size_pending = 0;
	if (ret < 0 && *done) {
		/* a commit failed: bytes past the size on media are not in the
		 * file (an overwrite step's size is committed by the next
		 * step, or above), so they were not written */
		const struct udax_inode *di =
			inode_r(ip->fs, NULL, ip->ino, &err_size);
		uint64_t size = di ? di->size : off;
		if (off + *done > size)
			*done = size > off ? size - off : 0;
	}
	return ret;
}

const struct iomap_ops udax_iomap_ops = {
	.begin = udax_iomap_begin,
	.end = udax_iomap_end,
	.write_end = udax_iomap_write_end,
};

int inode_swap_blocks(struct inode *ip, const struct blk_run *runs,
		      size_t nruns, uint64_t size, unsigned flags,
		      uint64_t *consumed)
{
	struct udax_fs *fs = ip->fs;
	uint64_t fblk = runs[0].fblk, end = fblk, stop, next, freed = 0;
	struct udax_inode *di;
	struct btree bt;
	struct tx *tx;
	int ret;

	*consumed = 0;
	for (size_t i = 0; i < nruns; i++)
		end += runs[i].len;
	tx = tx_begin(fs);
	di = inode_w(tx, ip->ino);
	if (!di) {
		ret = tx->failed;
		tx_abort(tx);
		return ret;
	}
	bt_init(&bt, fs, tx, di->root, ip->ino, UDAX_TREE_EXTENT);
	/* 1. unmap the old blocks (freed when this commits); a journal too
	 * full for the whole range stops early, at `next` */
	ret = ext_remove(&bt, fblk, end - fblk, ext_release_count, &freed,
			 &next);
	stop = next != UINT64_MAX && next < end ? next : end;
	if (!ret && (stop == fblk || (stop < end && (flags & SWAP_WHOLE)))) {
		tx_abort(tx); /* nothing taken: the caller still owns all */
		return -ENOSPC;
	}
	if (ret) {
		tx_abort(tx);
		return ret;
	}
	/* 2. from here on the blocks of [fblk, stop) are the transaction's
	 * (an abort gives them back), whatever happens: say so */
	*consumed = stop - fblk;
	for (size_t i = 0; i < nruns && runs[i].fblk < stop; i++) {
		uint64_t n = runs[i].len;

		if (runs[i].fblk + n > stop)
			n = stop - runs[i].fblk;
		if (ret) {
			alloc_put(&fs->alloc, runs[i].dev, n);
			continue;
		}
		ret = tx_use_blocks(tx, runs[i].dev, n);
		if (!ret)
			ret = ext_insert(&bt, runs[i].fblk, runs[i].dev, n, 0);
	}
	if (!ret) {
		di = inode_w(tx, ip->ino);
		ret = di ? 0 : tx->failed;
	}
	if (ret) {
		tx_abort(tx); /* gives back the new blocks, keeps the old */
		return ret;
	}
	/* 3. the inode: blocks, and the size the committed prefix reaches */
	di->root = bt.root;
	di->blocks += (stop - fblk) - freed + (uint64_t)bt.nodes_delta;
	if (stop < end && size > stop << UDAX_BLOCK_SHIFT)
		size = stop << UDAX_BLOCK_SHIFT;
	if (size > di->size)
		di->size = size;
	if (flags & SWAP_TOUCH) {
		di->mtime_ns = di->ctime_ns = fs_now_ns();
		ip->mtime_pending = 0;
	}
	/* the data in the new blocks was flushed by the caller: fence it
	 * before the log that points at it */
	tx->data_flushed = 1;
	ret = tx_commit(tx);
	return ret;
}

int inode_remap_unit(struct inode *ip, uint64_t off, uint64_t unit)
{
	struct udax_fs *fs = ip->fs;
	struct dev *dev = fs->dev;
	uint64_t n = unit >> UDAX_BLOCK_SHIFT, start, got, consumed;
	int ret;

	if (fs->read_only)
		return -EROFS;
	/* 1. one aligned unit of fresh blocks, or ENOSPC */
	ret = alloc_reserve_fs(fs, n, 0);
	if (ret)
		return ret;
	for (int tries = 0;; tries++) {
		ret = alloc_take(&fs->alloc, 0, n, 1, &start, &got);
		if (ret) {
			alloc_unreserve(&fs->alloc, n);
			return ret;
		}
		if (got == n && !(start & (n - 1)))
			break;
		/* free space is there but not as an aligned unit: the
		 * units that earlier remaps freed may be held back for the
		 * journal's checkpoint (the reservation counted them) */
		alloc_put(&fs->alloc, start, got);
		alloc_unreserve(&fs->alloc, n - got);
		if (tries || !journal_checkpoint(fs))
			return -ENOSPC;
		ret = alloc_reserve_fs(fs, n, 0);
		if (ret)
			return ret;
	}
	uint8_t *dst = dev->base + (start << UDAX_BLOCK_SHIFT);

	/* 2. the range's bytes into them: holes and unwritten blocks read
	 * as zeros; durable before the commit below points at them */
	dev->ops->memzero_nt(dev, dst, unit);
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = unit, .flags = IOMAP_REPORT};
	while (iomap_iter(&it, &udax_iomap_ops) > 0) {
		if (it.iomap.type == IOMAP_MAPPED ||
		    it.iomap.type == IOMAP_SHARED)
			dev->ops->memcpy_nt(dev, dst + (it.iomap.offset - off),
					    dev->base + it.iomap.addr,
					    it.iomap.length);
		it.processed = (int64_t)it.iomap.length;
	}
	if (it.processed < 0) {
		ret = (int)it.processed;
		goto put_new;
	}

	/* 3. one transaction swaps the old blocks for the new ones (a
	 * journal too full for it: -ENOSPC, try another time) */
	struct blk_run run = {off >> UDAX_BLOCK_SHIFT, start, n};
	ret = inode_swap_blocks(ip, &run, 1, 0, SWAP_WHOLE, &consumed);
	if (ret && !consumed)
		goto put_new;
	return ret;

put_new:
	alloc_put(&fs->alloc, start, n);
	return ret;
}
