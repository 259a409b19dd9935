/* SPDX-License-Identifier: MIT */
/*
 * pass5.c - Pass 5: bitmaps, state block, orphan list
 *
 * Checks:
 *   - the state block: magic, block number, checksum (one flipped bit
 *     is flipped back), zero reserved bytes; a damaged one is rebuilt;
 *   - the orphan list holds exactly the orphans and unfinished
 *     truncates of pass 4, once each, flagged UDAX_IF_ORPHAN, and no
 *     other inode carries that flag; it is rebuilt otherwise;
 *   - the next inode generation is above every inode's;
 *   - every bitmap block has its header (magic, block number, first
 *     object) and checksum; the block bitmap marks exactly the blocks
 *     in use (blocks marked but unused are leaked; blocks used but not
 *     marked could be handed out twice), the inode bitmap exactly the
 *     inodes in use and inode 0; bits past the end are zero.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sys/sys.h"
#include "fsck/fsck_int.h"

/* Is object `obj` of a bitmap in use? */
static int bitmap_want(struct fsck *fc, int inodes, uint64_t obj)
{
	if (inodes)
		return obj < fc->ninodes &&
		       (obj == 0 || fc->fi[obj].state == INO_USED);
	return obj < fc->nblocks && bit_test(fc->used, obj);
}

/* Bitmap block i as it should be. */
static void bitmap_build(struct fsck *fc, int inodes, uint64_t i,
			 struct udax_bitmap *bm)
{
	uint64_t start = inodes ? fc->sb.ibmap_start : fc->sb.bbmap_start;

	memset(bm, 0, sizeof(*bm));
	bm->magic = UDAX_BITMAP_MAGIC;
	bm->blkno = start + i;
	bm->first = i * UDAX_BITMAP_BITS;
	for (uint64_t j = 0; j < UDAX_BITMAP_BITS; j++)
		if (bitmap_want(fc, inodes, bm->first + j))
			bm->bits[j / 8] |= (uint8_t)(1u << (j % 8));
	img_block_seal(bm);
}

static void pass5_bitmap(struct fsck *fc, int inodes)
{
	uint64_t start = inodes ? fc->sb.ibmap_start : fc->sb.bbmap_start;
	uint64_t nbm = inodes ? fc->sb.ibmap_blocks : fc->sb.bbmap_blocks;
	const char *what = inodes ? "inode" : "block";
	struct ranges leak = {0}, unmarked = {0};
	struct udax_bitmap *want = (void *)fc->scratch[0].build;
	int apply = 0;

	for (uint64_t i = 0; i < nbm; i++) {
		struct udax_bitmap *bm = (void *)blk_ptr(fc, start + i);
		const char *why = NULL;
		/* the block bitmap, then the inode bitmap */
		pass_progress(fc, (inodes ? fc->sb.bbmap_blocks : 0) + i + 1,
			      fc->sb.bbmap_blocks + fc->sb.ibmap_blocks);
		if (bm->magic != UDAX_BITMAP_MAGIC)
			why = "bad magic number";
		else if (bm->blkno != start + i)
			why = "wrong block number";
		else if (bm->first != i * UDAX_BITMAP_BITS)
			why = "wrong first object";
		if (why) {
			apply |= fix_problem(fc, PR_5_BITMAP_HDR, what,
					     (unsigned long long)(start + i),
					     why);
			continue;
		}
		int diff = 0;
		for (uint64_t j = 0; j < UDAX_BITMAP_BITS; j++) {
			uint64_t obj = bm->first + j;
			int have = (bm->bits[j / 8] >> (j % 8)) & 1;
			int w = bitmap_want(fc, inodes, obj);
			if (have && !w)
				ranges_add(&leak, obj);
			else if (!have && w)
				ranges_add(&unmarked, obj);
			diff |= have != w;
		}
		if (!diff &&
		    (bm->reserved ||
		     udax_block_crc(bm, UDAX_BLOCK_SIZE, 4) != bm->crc))
			apply |= fix_problem(fc, PR_5_BITMAP_HDR, what,
					     (unsigned long long)(start + i),
					     bm->reserved ?
						     "nonzero reserved field" :
						     "checksum mismatch");
	}
	if (leak.open || leak.count)
		apply |= fix_problem(fc,
				     inodes ? PR_5_INODE_LEAK : PR_5_BLOCK_LEAK,
				     ranges_text(&leak));
	if (unmarked.open || unmarked.count)
		apply |= fix_problem(
			fc, inodes ? PR_5_INODE_UNMARKED : PR_5_BLOCK_UNMARKED,
			ranges_text(&unmarked));
	if (!apply)
		return;
	for (uint64_t i = 0; i < nbm; i++) {
		uint8_t *home = blk_ptr(fc, start + i);
		bitmap_build(fc, inodes, i, want);
		if (memcmp(home, want, UDAX_BLOCK_SIZE))
			img_write(fc, home, want, UDAX_BLOCK_SIZE);
	}
}

/* Is inode `ino` to be on the orphan list? */
static int orphan_wanted(struct fsck *fc, uint64_t ino)
{
	return fc->fi[ino].state == INO_USED &&
	       (fc->fi[ino].flags & (FI_ORPHAN | FI_TRUNC));
}

static void pass5_orphans(struct fsck *fc)
{
	uint64_t *want = NULL;
	size_t n = 0, cap = 0, i;
	const char *why = NULL;

	for (i = 0; i < fc->nchain; i++)
		if (orphan_wanted(fc, fc->chain[i]) &&
		    push_u64(fc, &want, &n, &cap, fc->chain[i]))
			goto out;
	for (uint64_t ino = 1; ino < fc->ninodes; ino++)
		if (orphan_wanted(fc, ino) &&
		    !(fc->fi[ino].flags & FI_ONLIST) &&
		    push_u64(fc, &want, &n, &cap, ino))
			goto out;

	if (fc->chain_broken) {
		snprintf(fc->why, sizeof(fc->why),
			 "it is broken after %zu "
			 "inodes",
			 fc->nchain);
		why = fc->why;
	}
	for (i = 0; !why && i < fc->nchain; i++) {
		if (i >= n || fc->chain[i] != want[i]) {
			snprintf(fc->why, sizeof(fc->why),
				 "inode %llu is on it but is not an orphan",
				 (unsigned long long)fc->chain[i]);
			why = fc->why;
		}
	}
	if (!why && n > fc->nchain) {
		snprintf(fc->why, sizeof(fc->why),
			 "orphan inode %llu is missing from it",
			 (unsigned long long)want[fc->nchain]);
		why = fc->why;
	}
	for (uint64_t ino = 1; !why && ino < fc->ninodes; ino++) {
		if (fc->fi[ino].state != INO_USED)
			continue;
		int flagged = (ino_ptr(fc, ino)->flags & UDAX_IF_ORPHAN) != 0;
		if (flagged != orphan_wanted(fc, ino)) {
			snprintf(fc->why, sizeof(fc->why),
				 flagged ? "inode %llu has the orphan flag "
					   "but is not on it" :
					   "inode %llu is on it without the "
					   "orphan flag",
				 (unsigned long long)ino);
			why = fc->why;
		}
	}
	if (!why || !fix_problem(fc, PR_5_ORPHAN_LIST, why))
		goto out;
	fc->st.orphan_head = n ? want[0] : 0;
	for (i = 0; i < n; i++) {
		struct udax_inode di = *ino_ptr(fc, want[i]);
		di.flags |= UDAX_IF_ORPHAN;
		di.orphan_next = i + 1 < n ? want[i + 1] : 0;
		img_inode_put(fc, want[i], &di);
	}
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		struct udax_inode di = *ino_ptr(fc, ino);
		if (fc->fi[ino].state != INO_USED || orphan_wanted(fc, ino) ||
		    (!(di.flags & UDAX_IF_ORPHAN) && !di.orphan_next))
			continue;
		di.flags &= ~(uint32_t)UDAX_IF_ORPHAN;
		di.orphan_next = 0;
		img_inode_put(fc, ino, &di);
	}
out:
	free(want);
}

void fsck_pass5(struct fsck *fc)
{
	uint8_t *home = blk_ptr(fc, UDAX_STATE_BLOCK);
	uint64_t maxgen = 0, maxino = 0;

	pass_header(fc, 5);
	if (fc->st_damage == ST_BAD)
		fix_problem(fc, PR_5_STATE_BAD, fc->st_why);
	else if (fc->st_damage == ST_BIT)
		fix_problem(fc, PR_5_STATE_BIT, (unsigned)(fc->st_bit / 8),
			    (unsigned)(fc->st_bit % 8));
	else if (fc->st_damage == ST_CSUM)
		fix_problem(fc, PR_5_STATE_CSUM);
	if (!is_zero(fc->st.reserved, sizeof(fc->st.reserved))) {
		fix_problem(fc, PR_5_STATE_FIELDS);
		memset(fc->st.reserved, 0, sizeof(fc->st.reserved));
	}
	pass5_orphans(fc);
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		const struct udax_inode *di = ino_ptr(fc, ino);
		if (fc->fi[ino].state == INO_USED && di->generation >= maxgen) {
			maxgen = di->generation;
			maxino = ino;
		}
	}
	if (maxino && fc->st.generation <= maxgen &&
	    fix_problem(fc, PR_5_GENERATION,
			(unsigned long long)fc->st.generation,
			(unsigned long long)maxino, (unsigned long long)maxgen))
		fc->st.generation = maxgen + 1;
	fc->st.crc = udax_block_crc(&fc->st, UDAX_BLOCK_SIZE, 4);
	if (memcmp(home, &fc->st, sizeof(fc->st)))
		img_write(fc, home, &fc->st, sizeof(fc->st));

	pass5_bitmap(fc, 0);
	pass5_bitmap(fc, 1);
	img_drain(fc);
}
