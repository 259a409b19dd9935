/* SPDX-License-Identifier: MIT */
/*
 * pass1.c - Pass 1: inodes, their trees, the blocks they use
 *
 * Checks, for every inode of the table:
 *   - a free inode (magic 0) is all zeros;
 *   - an inode in use has the inode magic, its own number, a matching
 *     checksum (one flipped bit is flipped back; a mismatch on content
 *     that passes every check is resealed), a known file type (the root
 *     a directory), sane symlink lengths, no unknown flags, zero
 *     reserved fields; damaged inodes are cleared (pass 2 then drops
 *     the entries naming them);
 *   - its tree (extent tree of files and long symlinks, name tree of
 *     directories): every node as walk_node() checks it;
 *   - extents: length 1..UDAX_EXT_MAX_LEN, known flags, device blocks
 *     within the data area, no overlap with the previous extent, nothing
 *     written past EOF unless a truncate is in progress (unwritten
 *     extents may lie past EOF; the block holding EOF may be mapped);
 *   - no block used twice: fixed metadata, then every tree node, then
 *     extents from nodes with good checksums, then extents from nodes
 *     whose checksum did not match (which must also point at blocks the
 *     bitmap marks in use): whatever comes later and collides loses;
 *   - with reflink, the refcount tree against the extents
 *     (pass1_refcount.c);
 *   - special files (FIFO, socket, devices): the special-files feature
 *     is on, no tree, size 0, a device number within Linux's dev_t in
 *     a device's inline_data (else the inode is cleared), nothing else
 *     in inline_data;
 *   - the xattr tree, if any (pass1_xattr.c);
 *   - "blocks" of files equals tree nodes + data blocks + xattr tree
 *     nodes (directories: pass 2, after it has dropped entries).
 * The bitmaps are compared with what this pass finds in pass 5.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "inode/inode.h"
#include "fsck/fsck_int.h"

static uint8_t mode_dtype(uint16_t mode)
{
	return mode_to_dtype(mode);
}

/* Is the inode's type one with a tree? */
static int has_tree(const struct udax_inode *di)
{
	return S_ISREG(di->mode) || S_ISDIR(di->mode) ||
	       (S_ISLNK(di->mode) && di->size > UDAX_INLINE_MAX);
}

/* Why an inode in use is not acceptable, or NULL. */
static const char *inode_why(struct fsck *fc, uint64_t ino,
			     const struct udax_inode *di)
{
	if (di->magic != UDAX_INODE_MAGIC)
		return "bad magic number";
	if (di->ino != ino) {
		snprintf(fc->why, sizeof(fc->why),
			 "it carries inode number %llu",
			 (unsigned long long)di->ino);
		return fc->why;
	}
	switch (di->mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		snprintf(fc->why, sizeof(fc->why), "unknown file type 0%o",
			 (unsigned)(di->mode & S_IFMT));
		return fc->why;
	}
	if (ino == UDAX_ROOT_INO && !S_ISDIR(di->mode))
		return "the root inode is not a directory";
	if (S_ISLNK(di->mode) && (di->size == 0 || di->size >= PATH_MAX))
		return "bad symbolic link length";
	if (S_ISLNK(di->mode) && di->size > UDAX_INLINE_MAX && !di->root)
		return "long symbolic link without a data block";
	if (!S_ISREG(di->mode) && !S_ISDIR(di->mode) && !S_ISLNK(di->mode) &&
	    !(fc->sb.feat_ro_compat & UDAX_FEAT_RO_COMPAT_SPECIAL))
		return "a special file, but the special-files feature is off";
	if (S_ISCHR(di->mode) || S_ISBLK(di->mode)) {
		struct udax_rdev rd;
		memcpy(&rd, di->inline_data, sizeof(rd));
		if (rd.major > UDAX_RDEV_MAJOR_MAX ||
		    rd.minor > UDAX_RDEV_MINOR_MAX) {
			snprintf(fc->why, sizeof(fc->why),
				 "bad device number %u:%u", rd.major, rd.minor);
			return fc->why;
		}
	}
	return NULL;
}

/* Zero the fields an inode of its type must leave zero (FORMAT.md 7.2,
 * 7.8). Returns 1 if any was not zero. */
static int inode_zero_fields(struct udax_inode *di)
{
	size_t keep = 0;
	int bad = 0;

	if (!S_ISDIR(di->mode) && (di->parent || di->entries)) {
		di->parent = 0;
		di->entries = 0;
		bad = 1;
	}
	if (S_ISDIR(di->mode) && di->size) {
		di->size = 0;
		bad = 1;
	}
	if (!(di->flags & UDAX_IF_ORPHAN) && di->orphan_next) {
		di->orphan_next = 0;
		bad = 1;
	}
	if (!S_ISREG(di->mode) && !S_ISDIR(di->mode) && !S_ISLNK(di->mode) &&
	    di->size) {
		di->size = 0; /* special files have no contents */
		bad = 1;
	}
	if (S_ISLNK(di->mode) && di->size <= UDAX_INLINE_MAX)
		keep = (size_t)di->size;
	if (S_ISCHR(di->mode) || S_ISBLK(di->mode))
		keep = sizeof(struct udax_rdev);
	if (!is_zero(di->inline_data + keep, UDAX_INLINE_MAX - keep)) {
		memset(di->inline_data + keep, 0, UDAX_INLINE_MAX - keep);
		bad = 1;
	}
	return bad;
}

/* Extent item checks shared by every walk of an extent tree. `report`
 * only in pass 1's first walk. */
static int ext_eval(struct walk *w, uint64_t key, const uint8_t *val,
		    size_t len, int report, uint8_t *out, size_t *out_len,
		    struct udax_extent_val *ev)
{
	struct fsck *fc = w->fc;
	struct udax_extent_val e;
	const char *why = NULL;

	if (len != sizeof(e))
		why = "bad value size";
	if (!why) {
		memcpy(&e, val, sizeof(e));
		if (e.len == 0 || e.len > UDAX_EXT_MAX_LEN)
			why = "bad length";
		else if (e.flags & ~(uint32_t)UDAX_EXT_UNWRITTEN)
			why = "unknown flags";
		else if (e.dev_blk < fc->sb.data_start ||
			 e.dev_blk >= fc->nblocks - 1 ||
			 e.len > fc->nblocks - 1 - e.dev_blk)
			why = "its blocks lie outside the data area";
		else if (key + e.len < key)
			why = "its file blocks overflow";
	}
	if (why) {
		if (report)
			fix_problem(fc, PR_1_EXT_BAD,
				    (unsigned long long)w->ino,
				    (unsigned long long)key, why);
		return W_DROP;
	}
	if (key < w->ext_end) {
		if (report)
			fix_problem(fc, PR_1_EXT_OVERLAP,
				    (unsigned long long)w->ino,
				    (unsigned long long)key);
		return W_DROP;
	}
	*ev = e;
	if (!(e.flags & UDAX_EXT_UNWRITTEN) && !w->past_eof_ok &&
	    key + e.len > w->eof_blk) {
		if (report)
			fix_problem(fc, PR_1_EXT_EOF,
				    (unsigned long long)w->ino,
				    (unsigned long long)key, e.len,
				    (unsigned long long)w->size);
		if (key >= w->eof_blk)
			return W_DROP;
		ev->len = (uint32_t)(w->eof_blk - key);
		memcpy(out, ev, sizeof(*ev));
		*out_len = sizeof(*ev);
		w->ext_end = key + ev->len;
		return W_REWRITE;
	}
	w->ext_end = key + e.len;
	return W_KEEP;
}

/* Pass 1, first walk: check extents (no claims yet). */
static int ext_item_check(struct walk *w, uint64_t leaf, uint64_t key,
			  const uint8_t *val, size_t len, uint8_t *out,
			  size_t *out_len)
{
	struct udax_extent_val e;
	(void)leaf;
	return ext_eval(w, key, val, len, 1, out, out_len, &e);
}

/* The block bitmap's bit for block b: 1, 0, or -1 if its bitmap block
 * is too damaged to say. */
static int bbmap_bit(struct fsck *fc, uint64_t b)
{
	uint64_t i = b / UDAX_BITMAP_BITS, bit = b % UDAX_BITMAP_BITS;
	const struct udax_bitmap *bm;

	if (!fc->bbmap_ok[i])
		return -1;
	bm = (const void *)blk_ptr(fc, fc->sb.bbmap_start + i);
	return (bm->bits[bit / 8] >> (bit % 8)) & 1;
}

/* Pass 1, later walks: claim the blocks of extents, trusted leaves
 * first, then suspect ones. */
static int ext_item_claim(struct walk *w, uint64_t leaf, uint64_t key,
			  const uint8_t *val, size_t len, uint8_t *out,
			  size_t *out_len)
{
	struct fsck *fc = w->fc;
	struct udax_extent_val e;
	int r = ext_eval(w, key, val, len, 0, out, out_len, &e);
	struct ranges rs = {0};

	if (r == W_DROP)
		return r;
	if (bit_test(fc->suspect, leaf) == w->trusted)
		return r; /* claimed in the other walk */
	/* with reflink, a block another extent maps is shared, not a
	 * duplicate (pass1_refcount.c counts and checks it); a block of a
	 * tree node or of fixed metadata always is one */
	for (uint64_t b = e.dev_blk; b < e.dev_blk + e.len; b++)
		if (bit_test(fc->used, b) &&
		    !(fc->ext_refs ? fc->ext_refs[b] > 0 :
				     bit_test(fc->shared_bm, b)))
			ranges_add(&rs, b);
	if (rs.open) {
		fix_problem(fc, PR_1_EXT_DUP, (unsigned long long)w->ino,
			    (unsigned long long)key, ranges_text(&rs));
		return W_DROP;
	}
	if (!w->trusted) {
		for (uint64_t b = e.dev_blk; b < e.dev_blk + e.len; b++)
			if (bbmap_bit(fc, b) == 0)
				ranges_add(&rs, b);
		if (rs.open) {
			fix_problem(fc, PR_1_EXT_FREE,
				    (unsigned long long)w->ino,
				    (unsigned long long)key, ranges_text(&rs));
			return W_DROP;
		}
	}
	for (uint64_t b = e.dev_blk; b < e.dev_blk + e.len; b++) {
		bit_set(fc->used, b);
		if (fc->ext_refs)
			fc->ext_refs[b]++;
	}
	w->data += e.len;
	return r;
}

/* Keep every leaf item (directory leaves are judged in pass 2). */
int item_keep(struct walk *w, uint64_t leaf, uint64_t key, const uint8_t *val,
	      size_t len, uint8_t *out, size_t *out_len)
{
	(void)w, (void)leaf, (void)key, (void)val, (void)len, (void)out;
	(void)out_len;
	return W_KEEP;
}

/* Set up the EOF rule of an extent walk from the inode. */
static void walk_eof(struct walk *w, const struct udax_inode *di)
{
	w->size = di->size;
	w->eof_blk = (di->size >> UDAX_BLOCK_SHIFT) +
		     ((di->size & (UDAX_BLOCK_SIZE - 1)) != 0);
	w->past_eof_ok = (di->flags & UDAX_IF_TRUNCATING) != 0;
}

/* Check one inode and walk its tree (first walk). */
static void pass1_inode(struct fsck *fc, uint64_t ino)
{
	struct udax_inode *home = ino_ptr(fc, ino);
	struct udax_inode di = *home;
	struct fino *f = &fc->fi[ino];
	int crc_ok, dirty = 0;
	const char *why;

	f->state = INO_FREE;
	if (di.magic == 0) {
		/* freed slots are zeros sealed with a crc (FORMAT.md 7.8) */
		if (!is_zero(&di, INODE_CRC_OFF) &&
		    fix_problem(fc, PR_1_INODE_GARBAGE,
				(unsigned long long)ino)) {
			memset(&di, 0, sizeof(di));
			img_write(fc, home, &di, sizeof(di));
		}
		return;
	}
	crc_ok = udax_block_crc(&di, UDAX_INODE_SIZE, INODE_CRC_OFF) == di.crc;
	if (!crc_ok) {
		long b = crc_find_flip(&di, UDAX_INODE_SIZE, INODE_CRC_OFF,
				       di.crc);
		if (b >= 0) {
			struct udax_inode t = di;
			flip_bit(&t, b);
			if (!inode_why(fc, ino, &t)) {
				if (fix_problem(fc, PR_1_INODE_BIT,
						(unsigned long long)ino,
						(unsigned)(b / 8),
						(unsigned)(b % 8)))
					img_write(fc, home, &t, sizeof(t));
				di = t;
				crc_ok = 1;
			}
		}
	}
	why = inode_why(fc, ino, &di);
	if (why) {
		f->state = INO_BAD;
		if (fix_problem(fc, PR_1_INODE_BAD, (unsigned long long)ino,
				why)) {
			memset(&di, 0, sizeof(di));
			img_write(fc, home, &di, sizeof(di));
		}
		return;
	}
	if (!crc_ok &&
	    fix_problem(fc, PR_1_INODE_CSUM, (unsigned long long)ino))
		dirty = 1;
	f->state = INO_USED;
	f->dtype = mode_dtype(di.mode);
	if (di.flags & ~(uint32_t)(UDAX_IF_ORPHAN | UDAX_IF_TRUNCATING)) {
		fix_problem(fc, PR_1_INODE_FLAGS, (unsigned long long)ino,
			    (unsigned)di.flags);
		di.flags &= UDAX_IF_ORPHAN | UDAX_IF_TRUNCATING;
		dirty = 1;
	}
	if (inode_zero_fields(&di)) {
		fix_problem(fc, PR_1_INODE_RESERVED, (unsigned long long)ino);
		dirty = 1;
	}
	if (di.root && !has_tree(&di)) {
		fix_problem(fc, PR_1_INODE_NO_TREE, (unsigned long long)ino,
			    dtype_name(f->dtype));
		di.root = 0;
		dirty = 1;
	}
	if (di.root) {
		struct walk w;
		int dir = S_ISDIR(di.mode);
		walk_init(&w, fc, ino, dir ? UDAX_TREE_DIR : UDAX_TREE_EXTENT,
			  WALK_CHECK, dir ? item_keep : ext_item_check);
		walk_eof(&w, &di);
		if (walk_tree(&w, di.root) == W_DROP) {
			di.root = 0;
			dirty = 1;
		}
		f->nblocks = w.nodes;
		if (w.suspect)
			f->flags |= FI_SUSPECT;
	}
	if (pass1_xattr(fc, ino, &di))
		dirty = 1;
	if (dirty)
		img_inode_put(fc, ino, &di);
}

/* Clear an inode found damaged after its tree nodes were claimed (it
 * has no data blocks claimed): give the nodes back, report, clear. */
static void pass1_clear(struct fsck *fc, uint64_t ino, const char *why)
{
	struct udax_inode *home = ino_ptr(fc, ino);
	struct walk w;

	walk_init(&w, fc, ino, UDAX_TREE_EXTENT, WALK_QUIET, item_keep);
	w.readonly = 1;
	w.release = 1;
	walk_tree(&w, home->root);
	pass1_xattr_release(fc, ino, home);
	fc->fi[ino].state = INO_BAD;
	if (fix_problem(fc, PR_1_INODE_BAD, (unsigned long long)ino, why)) {
		struct udax_inode z;
		memset(&z, 0, sizeof(z));
		img_write(fc, home, &z, sizeof(z));
	}
}

/* Claim the extents of one file: trusted (leaves with good checksums)
 * or suspect ones. The later walk recounts the nodes. */
static void pass1_claim(struct fsck *fc, uint64_t ino, int trusted)
{
	struct udax_inode di = *ino_ptr(fc, ino);
	struct fino *f = &fc->fi[ino];
	struct walk w;

	walk_init(&w, fc, ino, UDAX_TREE_EXTENT, WALK_QUIET, ext_item_claim);
	w.trusted = trusted;
	walk_eof(&w, &di);
	if (walk_tree(&w, di.root) == W_DROP && di.root) {
		di.root = 0;
		img_inode_put(fc, ino, &di);
	}
	if (trusted)
		f->data = 0;
	f->data += w.data;
	f->nblocks = w.nodes + f->data;
}

void fsck_pass1(struct fsck *fc)
{
	pass_header(fc, 1);
	for (uint64_t b = 0; b < fc->sb.data_start; b++)
		bit_set(fc->used, b);
	bit_set(fc->used, fc->nblocks - 1);
	for (uint64_t i = 0; i < fc->sb.bbmap_blocks; i++) {
		const struct udax_bitmap *bm =
			(const void *)blk_ptr(fc, fc->sb.bbmap_start + i);
		fc->bbmap_ok[i] = bm->magic == UDAX_BITMAP_MAGIC &&
				  bm->blkno == fc->sb.bbmap_start + i &&
				  bm->first == i * UDAX_BITMAP_BITS;
	}

	/* the refcount tree (reflink) */
	if (fc->st.refcount_root) {
		if (!(fc->sb.feat_incompat & UDAX_FEAT_INCOMPAT_REFLINK)) {
			fix_problem(fc, PR_1_REFCOUNT_FEATURE);
			fc->st.refcount_root = 0;
		} else {
			struct walk w;
			walk_init(&w, fc, 0, UDAX_TREE_REFCOUNT, WALK_CHECK,
				  refcount_item);
			if (walk_tree(&w, fc->st.refcount_root) == W_DROP)
				fc->st.refcount_root = 0;
		}
	}

	for (uint64_t ino = 1; ino < fc->ninodes && !fc->oom; ino++) {
		pass1_inode(fc, ino);
		pass_progress(fc, ino, fc->ninodes - 1);
	}

	/* extents: trusted leaves, then suspect ones; then the counts */
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		const struct udax_inode *di = ino_ptr(fc, ino);
		if (fc->fi[ino].state == INO_USED && !S_ISDIR(di->mode) &&
		    di->root)
			pass1_claim(fc, ino, 1);
	}
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		const struct udax_inode *di = ino_ptr(fc, ino);
		if ((fc->fi[ino].flags & FI_SUSPECT) && di->root &&
		    !S_ISDIR(di->mode))
			pass1_claim(fc, ino, 0);
	}
	pass1_refcount_check(fc);
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		struct udax_inode di = *ino_ptr(fc, ino);
		if (fc->fi[ino].state != INO_USED || S_ISDIR(di.mode))
			continue;
		if (!di.root)
			fc->fi[ino].nblocks = 0;
		if (S_ISLNK(di.mode) && di.size > UDAX_INLINE_MAX &&
		    !fc->fi[ino].data) {
			/* its target is gone with the extent that held it */
			pass1_clear(fc, ino,
				    "long symbolic link without a "
				    "data block");
			continue;
		}
		fc->fi[ino].nblocks += fc->fi[ino].xnodes;
		if (di.blocks != fc->fi[ino].nblocks &&
		    fix_problem(fc, PR_1_BLOCKS, (unsigned long long)ino,
				(unsigned long long)di.blocks,
				(unsigned long long)fc->fi[ino].nblocks)) {
			di.blocks = fc->fi[ino].nblocks;
			img_inode_put(fc, ino, &di);
		}
	}
	img_drain(fc);
}
