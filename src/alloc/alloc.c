/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the block allocator: in-memory bitmap in groups, reservations,
 * and the on-media bitmap changed through transactions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "sys/sys.h"

static inline int bit_test(const uint64_t *bits, uint64_t i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

static void bits_set(uint64_t *bits, uint64_t start, uint64_t len, int v)
{
	for (uint64_t i = start; i < start + len; i++) {
		if (v)
			bits[i / 64] |= 1ull << (i % 64);
		else
			bits[i / 64] &= ~(1ull << (i % 64));
	}
}

/* Where bit `blk` of the block bitmap lives. */
static void bbmap_pos(struct udax_fs *fs, uint64_t blk, uint64_t *bmblk,
		      uint32_t *bit)
{
	*bmblk = fs->sb.bbmap_start + blk / UDAX_BITMAP_BITS;
	*bit = (uint32_t)(blk % UDAX_BITMAP_BITS);
}

static void alloc_space_put(struct udax_fs *fs, uint64_t start, uint64_t len)
{
	alloc_put(&fs->alloc, start, len);
}

static void alloc_space_unreserve(struct udax_fs *fs, uint64_t n)
{
	alloc_unreserve(&fs->alloc, n);
}

/* What the journal, below this layer, calls back into it for. */
static const struct journal_space_ops alloc_space_ops = {
	.put = alloc_space_put,
	.mark = alloc_bitmap_set,
	.unreserve = alloc_space_unreserve,
};

int alloc_init(struct udax_fs *fs)
{
	struct alloc *a = &fs->alloc;
	uint64_t nb = fs->nblocks;
	int64_t avail = 0;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->qlock, NULL);
	a->nblocks = nb;
	a->data_start = fs->sb.data_start;
	a->dev = fs->dev;
	a->poison = getenv("UDAX_POISON_FREED") && !fs->read_only &&
		    fs->dev->kind != DEV_CRASH;
	a->bits = sys_calloc((nb + 63) / 64, sizeof(uint64_t));
	if (fs->dev->map_unit > UDAX_BLOCK_SIZE) {
		a->unit_blocks = fs->dev->map_unit >> UDAX_BLOCK_SHIFT;
		a->qbits = sys_calloc((nb + 63) / 64, sizeof(uint64_t));
		if (!a->qbits) {
			alloc_fini(fs);
			return -ENOMEM;
		}
	}
	a->ngroups =
		(uint32_t)((nb + ALLOC_GROUP_BLOCKS - 1) / ALLOC_GROUP_BLOCKS);
	a->groups = sys_calloc(a->ngroups, sizeof(*a->groups));
	if (!a->bits || !a->groups) {
		alloc_fini(fs);
		return -ENOMEM;
	}
	for (uint64_t b = 0; b < fs->sb.bbmap_blocks; b++) {
		uint64_t blkno = fs->sb.bbmap_start + b;
		const struct udax_bitmap *bm =
			(const void *)fs_block(fs, blkno);
		if (bm->magic != UDAX_BITMAP_MAGIC || bm->blkno != blkno ||
		    bm->first != b * UDAX_BITMAP_BITS ||
		    udax_block_crc(bm, UDAX_BLOCK_SIZE, 4) != bm->crc) {
			alloc_fini(fs);
			return fs_corrupt(fs,
					  "block bitmap block %llu is "
					  "damaged",
					  (unsigned long long)blkno);
		}
		uint64_t first = b * UDAX_BITMAP_BITS;
		for (uint64_t i = 0; i < UDAX_BITMAP_BITS && first + i < nb;
		     i++)
			if ((bm->bits[i / 8] >> (i % 8)) & 1)
				a->bits[(first + i) / 64] |=
					1ull << ((first + i) % 64);
	}
	/* Everything before data_start and the backup superblock is in use
	 * whatever the bitmap says. */
	bits_set(a->bits, 0, a->data_start, 1);
	bits_set(a->bits, nb - 1, 1, 1);
	for (uint32_t g = 0; g < a->ngroups; g++) {
		struct alloc_group *grp = &a->groups[g];
		pthread_mutex_init(&grp->lock, NULL);
		grp->start = (uint64_t)g * ALLOC_GROUP_BLOCKS;
		grp->len = nb - grp->start < ALLOC_GROUP_BLOCKS ?
				   nb - grp->start :
				   ALLOC_GROUP_BLOCKS;
		grp->cursor = grp->start;
		for (uint64_t i = grp->start; i < grp->start + grp->len; i++)
			if (!bit_test(a->bits, i))
				grp->free++;
		avail += (int64_t)grp->free;
	}
	atomic_store(&a->avail, avail);
	journal_space_set(&fs->journal, &alloc_space_ops);
	return 0;
}

void alloc_fini(struct udax_fs *fs)
{
	struct alloc *a = &fs->alloc;

	if (a->groups)
		for (uint32_t g = 0; g < a->ngroups; g++)
			pthread_mutex_destroy(&a->groups[g].lock);
	free(a->groups);
	free(a->bits);
	free(a->qbits);
	pthread_mutex_destroy(&a->qlock);
	a->groups = NULL;
	a->bits = NULL;
	a->qbits = NULL;
}

int alloc_reserve(struct alloc *a, uint64_t n, int meta)
{
	int64_t floor = meta ? 0 : ALLOC_META_POOL;
	int64_t cur = atomic_load(&a->avail);

	do {
		if (cur - (int64_t)n < floor)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak(&a->avail, &cur,
					       cur - (int64_t)n));
	return 0;
}

void alloc_unreserve(struct alloc *a, uint64_t n)
{
	atomic_fetch_add(&a->avail, (int64_t)n);
}

uint64_t alloc_available(struct alloc *a)
{
	int64_t v = atomic_load(&a->avail) - ALLOC_META_POOL;
	return v > 0 ? (uint64_t)v : 0;
}

void alloc_counts(struct alloc *a, uint64_t held, uint64_t *freep,
		  uint64_t *availp)
{
	int64_t v = atomic_load(&a->avail);
	uint64_t free = (v > 0 ? (uint64_t)v : 0) + held;

	*freep = free;
	*availp = free > ALLOC_META_POOL ? free - ALLOC_META_POOL : 0;
}

/* Find a free run in [from, to) of up to `want` blocks, starting at or
 * after `from`: the first run of `want` whole blocks (returns 2), else
 * the longest seen (returns 1; 0 if none). With align, only starts on
 * 512-block boundaries count for a whole run: a longer run that holds no
 * aligned one is only the longest seen. Caller holds the group lock. */
static int group_find(struct alloc *a, uint64_t from, uint64_t to,
		      uint64_t want, int align, uint64_t *start, uint64_t *len)
{
	uint64_t best_s = 0, best_l = 0;
	uint64_t i = from;

	while (i < to) {
		/* skip used blocks a word at a time */
		if ((i % 64) == 0 && a->bits[i / 64] == ~0ull) {
			i += 64;
			continue;
		}
		if (bit_test(a->bits, i)) {
			i++;
			continue;
		}
		uint64_t s = i;
		/* an aligned run may begin up to a unit after s: look that
		 * much further, or a free area that starts unaligned is cut
		 * into pieces none of which holds an aligned unit */
		uint64_t limit = want + (align && want >= UDAX_HUGE_BLOCKS ?
						 UDAX_HUGE_BLOCKS - 1 :
						 0);
		while (i < to && i - s < limit && !bit_test(a->bits, i)) {
			if ((i % 64) == 0 && a->bits[i / 64] == 0 &&
			    i + 64 <= to && i + 64 - s <= limit) {
				i += 64;
				continue;
			}
			i++;
		}
		uint64_t l = i - s;
		if (align && want >= UDAX_HUGE_BLOCKS) {
			uint64_t as = (s + UDAX_HUGE_BLOCKS - 1) &
				      ~(uint64_t)(UDAX_HUGE_BLOCKS - 1);
			if (as < s + l && s + l - as >= UDAX_HUGE_BLOCKS) {
				*start = as;
				*len = s + l - as < want ? s + l - as : want;
				return 2;
			}
		} else if (l >= want) {
			*start = s;
			*len = want;
			return 2;
		}
		if (l > best_l) {
			best_s = s;
			best_l = l;
		}
	}
	if (!best_l)
		return 0;
	*start = best_s;
	*len = best_l < want ? best_l : want;
	return 1;
}

int alloc_take(struct alloc *a, uint64_t goal, uint64_t want, int align,
	       uint64_t *start, uint64_t *len)
{
	uint32_t g0;

	if (want == 0)
		return -EINVAL;
	if (goal >= a->data_start && goal < a->nblocks)
		g0 = (uint32_t)(goal / ALLOC_GROUP_BLOCKS);
	else
		g0 = atomic_fetch_add(&a->rotor, 1) % a->ngroups;
	/* Two rounds: the first looks for a whole run, the second takes
	 * the longest piece anywhere. */
	for (int round = 0; round < 2; round++) {
		for (uint32_t k = 0; k < a->ngroups; k++) {
			struct alloc_group *grp =
				&a->groups[(g0 + k) % a->ngroups];
			uint64_t s, l, from, end = grp->start + grp->len;
			int found;

			pthread_mutex_lock(&grp->lock);
			if (!grp->free) {
				pthread_mutex_unlock(&grp->lock);
				continue;
			}
			from = (k == 0 && goal > grp->start && goal < end) ?
				       goal :
				       grp->cursor;
			/* round 0: a whole run (aligned if asked) after the
			 * cursor, else from the group's start */
			found = group_find(a, from, end, want, align, &s, &l);
			if (found < 2 && from > grp->start)
				found = group_find(a, grp->start, end, want,
						   align, &s, &l);
			if (found == 2 || (found && round == 1)) {
				bits_set(a->bits, s, l, 1);
				grp->free -= l;
				grp->cursor = s + l < end ? s + l : grp->start;
				pthread_mutex_unlock(&grp->lock);
				*start = s;
				*len = l;
				return 0;
			}
			pthread_mutex_unlock(&grp->lock);
		}
	}
	return -ENOSPC; /* reservation accounting is off: a bug */
}

/* Blocks back into the in-memory bitmap. */
static void alloc_put_blocks(struct alloc *a, uint64_t start, uint64_t len)
{
	while (len) {
		struct alloc_group *grp =
			&a->groups[start / ALLOC_GROUP_BLOCKS];
		uint64_t end = grp->start + grp->len;
		uint64_t n = start + len <= end ? len : end - start;

		pthread_mutex_lock(&grp->lock);
		bits_set(a->bits, start, n, 0);
		grp->free += n;
		pthread_mutex_unlock(&grp->lock);
		atomic_fetch_add(&a->avail, (int64_t)n);
		start += n;
		len -= n;
	}
}

/* Every bit of [start, start+len) set? */
static int bits_all(const uint64_t *bits, uint64_t start, uint64_t len)
{
	for (uint64_t i = start; i < start + len; i++)
		if (!bit_test(bits, i))
			return 0;
	return 1;
}

/* Mapped blocks the device could not detach: out of use. On a device
 * that detaches whole units, a unit whose every block is quarantined
 * now is detached and freed whole. */
static void alloc_quarantine(struct alloc *a, uint64_t start, uint64_t len)
{
	uint64_t ub = a->unit_blocks;

	atomic_fetch_add(&a->quarantined, len);
	if (!a->qbits)
		return;
	pthread_mutex_lock(&a->qlock);
	bits_set(a->qbits, start, len, 1);
	for (uint64_t u = start & ~(ub - 1); u < start + len; u += ub) {
		if (u + ub > a->nblocks || !bits_all(a->qbits, u, ub) ||
		    dev_detach(a->dev, u << UDAX_BLOCK_SHIFT,
			       ub << UDAX_BLOCK_SHIFT))
			continue;
		bits_set(a->qbits, u, ub, 0);
		atomic_fetch_sub(&a->quarantined, ub);
		if (a->poison)
			memset(a->dev->base + (u << UDAX_BLOCK_SHIFT),
			       ALLOC_POISON, ub << UDAX_BLOCK_SHIFT);
		alloc_put_blocks(a, u, ub);
	}
	pthread_mutex_unlock(&a->qlock);
}

void alloc_put(struct alloc *a, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;

	if (!a->dev || !dev_detach(a->dev, start << UDAX_BLOCK_SHIFT,
				   len << UDAX_BLOCK_SHIFT)) {
		if (a->poison)
			memset(a->dev->base + (start << UDAX_BLOCK_SHIFT),
			       ALLOC_POISON, len << UDAX_BLOCK_SHIFT);
		alloc_put_blocks(a, start, len);
		return;
	}
	/* the device could not detach them: a pin may still reach the
	 * blocks that were mapped, so only the others are free again */
	while (start < end) {
		uint64_t b = start;
		int mapped = dev_was_mapped(a->dev, b << UDAX_BLOCK_SHIFT);
		while (b < end &&
		       dev_was_mapped(a->dev, b << UDAX_BLOCK_SHIFT) == mapped)
			b++;
		if (mapped)
			alloc_quarantine(a, start, b - start);
		else
			alloc_put_blocks(a, start, b - start);
		start = b;
	}
}

int alloc_bitmap_set(struct tx *tx, uint64_t start, uint64_t len, int used)
{
	struct udax_fs *fs = tx->fs;

	while (len) {
		uint64_t bmblk;
		uint32_t bit;
		struct udax_bitmap *bm;

		bbmap_pos(fs, start, &bmblk, &bit);
		bm = tx_getw(tx, bmblk);
		if (!bm)
			return tx->failed;
		while (len && bit < UDAX_BITMAP_BITS) {
			if ((bit % 8) == 0 && len >= 8) {
				bm->bits[bit / 8] = used ? 0xff : 0;
				bit += 8;
				start += 8;
				len -= 8;
				continue;
			}
			if (used)
				bm->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
			else
				bm->bits[bit / 8] &=
					(uint8_t) ~(1u << (bit % 8));
			bit++;
			start++;
			len--;
		}
	}
	return 0;
}

int alloc_reserve_fs(struct udax_fs *fs, uint64_t n, int meta)
{
	int ret = alloc_reserve(&fs->alloc, n, meta);

	/* blocks freed since the last checkpoint are held back; a
	 * checkpoint hands them over */
	if (ret == -ENOSPC && atomic_load(&fs->journal.dfree_blocks) &&
	    journal_checkpoint(fs))
		ret = alloc_reserve(&fs->alloc, n, meta);
	return ret;
}

int alloc_meta_block(struct tx *tx, uint64_t goal, uint64_t *blkno)
{
	struct alloc *a = &tx->fs->alloc;
	uint64_t len;
	int ret;

	ret = alloc_reserve_fs(tx->fs, 1, 1);
	if (ret)
		return ret;
	ret = alloc_take(a, goal, 1, 0, blkno, &len);
	if (ret) {
		alloc_unreserve(a, 1);
		return ret;
	}
	return tx_use_blocks(tx, *blkno, 1);
}
