/* SPDX-License-Identifier: MIT */
/*
 * clone.c - reflink and dedupe: udax_clone, udax_clone_range,
 * udax_dedupe_range (the share layer's calls; docs/DESIGN.md, "Reflink").
 *
 * A clone maps the source's device blocks into the destination range and
 * counts one more reference on each (alloc/refcount.c), in one
 * transaction. Copy-on-write, when either file later changes a shared
 * block, is the iomap begin/end's (inode/iomap_ops.c).
 *
 * Locks: both inodes exclusively, in ascending inode number, for the
 * whole call. Before that, each file's layout breaks on its own (the
 * break may drop the inode's lock while it waits for pins, which must
 * not happen while the other inode is held out of order): the source so
 * that no pin (I/O the kernel may still do into a page) reaches blocks
 * that become shared, the destination because its old blocks leave the
 * file. The breaks stay in force (no new pin on the ranges) until the
 * end; the destination's mappings are zapped again once both locks are
 * held, since faults went on between the breaks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/refcount.h"
#include "api.h"
#include "btree/btree.h"
#include "fault/fault.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

/* The two files of a clone, locked and broken (clone_lock). */
struct clone_pair {
	struct inode *dst, *src;
	uint64_t dst_off, src_off;
	int broke_dst, broke_src;
};

static int may_read(const struct udax_file *f)
{
	return (f->flags & O_ACCMODE) != O_WRONLY;
}

static int may_write(const struct udax_file *f)
{
	return (f->flags & O_ACCMODE) != O_RDONLY && !(f->flags & O_APPEND);
}

/* Break one file's layout from off to its end, with only its own lock
 * held, and leave the break in force (no new pins) with the lock
 * dropped. */
static int clone_break_one(struct inode *ip, uint64_t off)
{
	int ret;

	pthread_rwlock_wrlock(&ip->lock);
	ret = layout_break(ip, off, UINT64_MAX);
	pthread_rwlock_unlock(&ip->lock);
	return ret;
}

/* Break both layouts, then lock both inodes. Returns 0 with both locked
 * and both breaks in force, or -errno with nothing held. */
static int clone_lock(struct clone_pair *p)
{
	struct inode *first = p->dst, *second = p->src;
	uint64_t off1 = p->dst_off, off2 = p->src_off;
	int ret;

	if (p->dst == p->src) {
		uint64_t lo = p->dst_off < p->src_off ? p->dst_off : p->src_off;
		ret = clone_break_one(p->dst, lo);
		if (ret)
			return ret;
		p->broke_dst = 1;
		pthread_rwlock_wrlock(&p->dst->lock);
		ret = fault_zap(p->dst, p->dst_off, UINT64_MAX);
		if (ret)
			goto unlock;
		return 0;
	}
	if (first->ino > second->ino) {
		first = p->src;
		second = p->dst;
		off1 = p->src_off;
		off2 = p->dst_off;
	}
	ret = clone_break_one(first, off1);
	if (ret)
		return ret;
	ret = clone_break_one(second, off2);
	if (ret) {
		layout_break_end(first);
		return ret;
	}
	p->broke_dst = p->broke_src = 1;
	inode_lock_two(p->dst, p->src);
	/* faults went on between the breaks: the destination's pages go
	 * again (no pin can have come: the breaks hold them off) */
	ret = fault_zap(p->dst, p->dst_off, UINT64_MAX);
	if (ret)
		goto unlock;
	return 0;

unlock:
	inode_unlock_two(p->dst, p->src == p->dst ? NULL : p->src);
	layout_break_end(p->dst);
	if (p->broke_src)
		layout_break_end(p->src);
	return ret;
}

static void clone_unlock(struct clone_pair *p)
{
	layout_break_end(p->dst);
	if (p->broke_src)
		layout_break_end(p->src);
	inode_unlock_two(p->dst, p->src == p->dst ? NULL : p->src);
}

/* One piece of the source range to map into the destination. */
struct clone_piece {
	uint64_t rel; /* file blocks from the start of the range */
	uint64_t dev, len;
};

/* The written extents of [fblk, fblk+n) of ip (holes and unwritten
 * blocks are left out: they clone as holes). Returns the number of
 * pieces in *out (sys_malloc'ed), or -errno. */
static ssize_t clone_gather(struct inode *ip, uint64_t fblk, uint64_t n,
			    struct clone_piece **out)
{
	struct udax_fs *fs = ip->fs;
	const struct udax_inode *di;
	struct clone_piece *a = NULL;
	size_t na = 0, cap = 0;
	struct btree bt;
	uint64_t pos = fblk;
	int ret;

	*out = NULL;
	di = inode_r(fs, NULL, ip->ino, &ret);
	if (!di)
		return ret;
	bt_init(&bt, fs, NULL, di->root, ip->ino, UDAX_TREE_EXTENT);
	while (pos < fblk + n) {
		struct ext_map m;
		ret = ext_map(&bt, pos, &m);
		if (ret)
			goto free_pieces;
		uint64_t len = m.len < fblk + n - pos ? m.len : fblk + n - pos;
		if (!m.hole && !(m.flags & UDAX_EXT_UNWRITTEN)) {
			if (na == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct clone_piece *b =
					sys_realloc(a, ncap * sizeof(*a));
				ret = -ENOMEM;
				if (!b)
					goto free_pieces;
				a = b;
				cap = ncap;
			}
			a[na++] = (struct clone_piece){pos - fblk, m.dev, len};
		}
		pos += len;
	}
	*out = a;
	return (ssize_t)na;

free_pieces:
	free(a);
	return ret;
}

/*
 * The clone itself, both inodes locked: blocks [src_fblk, src_fblk+n)
 * of src over [dst_fblk, ...) of dst, dst's size at least new_size, in
 * one transaction. The references are added before the destination's
 * old blocks are dropped, so a block both ranges map never reaches 0.
 * A clone changes dst's mtime and ctime; a dedupe (new_size 0) leaves
 * them, as Linux's remap does (its contents did not change).
 */
static int clone_blocks(struct inode *dst, uint64_t dst_fblk, struct inode *src,
			uint64_t src_fblk, uint64_t n, uint64_t new_size)
{
	struct udax_fs *fs = dst->fs;
	struct clone_piece *pc;
	uint64_t removed = 0, added = 0, next;
	struct udax_inode *di;
	struct btree bt;
	struct tx *tx;
	ssize_t np;
	int ret = 0;

	np = clone_gather(src, src_fblk, n, &pc);
	if (np < 0)
		return (int)np;
	tx = tx_begin(fs);
	for (ssize_t i = 0; i < np && !ret; i++) {
		ret = refcount_get(tx, pc[i].dev, pc[i].len);
		added += pc[i].len;
	}
	di = ret ? NULL : inode_w(tx, dst->ino);
	if (!di) {
		ret = ret ? ret : tx->failed;
		goto abort;
	}
	bt_init(&bt, fs, tx, di->root, dst->ino, UDAX_TREE_EXTENT);
	ret = ext_remove(&bt, dst_fblk, n, ext_release_count, &removed, &next);
	if (!ret && next < dst_fblk + n)
		ret = -ENOSPC; /* too much for one transaction */
	for (ssize_t i = 0; i < np && !ret; i++)
		ret = ext_insert(&bt, dst_fblk + pc[i].rel, pc[i].dev,
				 pc[i].len, 0);
	di = ret ? NULL : inode_w(tx, dst->ino);
	if (!di) {
		ret = ret ? ret : tx->failed;
		if (ret == -ENOMEM)
			ret = -ENOSPC; /* the journal is full, not memory */
		goto abort;
	}
	di->root = bt.root;
	di->blocks += added - removed + (uint64_t)bt.nodes_delta;
	if (new_size) {
		if (new_size > di->size)
			di->size = new_size;
		di->mtime_ns = di->ctime_ns = fs_now_ns();
		dst->mtime_pending = 0;
	}
	free(pc);
	return tx_commit(tx);

abort:
	tx_abort(tx);
	free(pc);
	return ret;
}

/* The checks of Linux's generic_remap_checks under the locks: the range
 * against the sizes (len 0: to the end of src), the alignment, and the
 * overlap. dedupe: both ranges within end of file, len may be cut to
 * whole blocks. Returns 0 with *len the bytes to share (0: nothing to
 * do), or -EINVAL, -EFBIG. */
static int clone_check(struct inode *dst, uint64_t dst_off, struct inode *src,
		       uint64_t src_off, uint64_t *len, int dedupe)
{
	const struct udax_inode *sdi, *ddi;
	uint64_t bs = UDAX_BLOCK_SIZE, ssize, dsize, bcount;
	int err;

	sdi = inode_r(src->fs, NULL, src->ino, &err);
	if (!sdi)
		return err;
	ssize = sdi->size;
	ddi = inode_r(dst->fs, NULL, dst->ino, &err);
	if (!ddi)
		return err;
	dsize = ddi->size;
	if (*len == 0) {
		if (dedupe || src_off == ssize)
			return 0;
		if (src_off > ssize)
			return -EINVAL;
		*len = ssize - src_off;
	}
	if ((src_off & (bs - 1)) || (dst_off & (bs - 1)))
		return -EINVAL;
	if (src_off + *len < src_off || dst_off + *len < dst_off)
		return -EINVAL;
	if (dedupe && (src_off >= ssize || src_off + *len > ssize ||
		       dst_off >= dsize || dst_off + *len > dsize))
		return -EINVAL;
	if (src_off >= ssize)
		return -EINVAL;
	if (*len > ssize - src_off)
		*len = ssize - src_off;
	if (dst_off + *len > UDAX_MAX_FILE_SIZE)
		return -EFBIG;
	/* a range ending at the end of src takes its last block whole
	 * (zeros past the end), which only the end of dst may receive */
	if (src_off + *len == ssize && (*len & (bs - 1)) &&
	    (dedupe ? dst_off + *len == dsize : dst_off + *len >= dsize)) {
		bcount = ((ssize + bs - 1) & ~(bs - 1)) - src_off;
	} else {
		if ((*len & (bs - 1)) && !dedupe)
			return -EINVAL;
		*len &= ~(bs - 1);
		bcount = *len;
	}
	if (dst == src && dst_off + bcount > src_off &&
	    dst_off < src_off + bcount)
		return -EINVAL;
	return 0;
}

/* The checks that need no lock, in Linux's order. */
static int clone_args(struct udax_file *dst, off_t dst_off,
		      struct udax_file *src, off_t src_off, off_t len)
{
	if (!dst || !src)
		return -EBADF;
	if (dst->fs != src->fs)
		return -EXDEV;
	if (dst->is_dir || src->is_dir)
		return -EISDIR;
	if (!may_read(src) || !may_write(dst))
		return -EBADF;
	if (dst_off < 0 || src_off < 0 || len < 0)
		return -EINVAL;
	if (dst->fs->read_only)
		return -EROFS;
	return 0;
}

int udax_clone_range(struct udax_file *dst, off_t dst_off,
		     struct udax_file *src, off_t src_off, off_t len)
{
	struct clone_pair p = {.dst = dst ? dst->ip : NULL,
			       .src = src ? src->ip : NULL,
			       .dst_off = (uint64_t)dst_off,
			       .src_off = (uint64_t)src_off};
	uint64_t n = (uint64_t)len, blocks;
	int ret = clone_args(dst, dst_off, src, src_off, len);

	if (ret)
		return ret;
	p.dst_off &= ~(uint64_t)(FAULT_PAGE - 1);
	p.src_off &= ~(uint64_t)(FAULT_PAGE - 1);
	ret = clone_lock(&p);
	if (ret)
		return ret;
	ret = clone_check(dst->ip, (uint64_t)dst_off, src->ip,
			  (uint64_t)src_off, &n, 0);
	if (!ret && n &&
	    (fault_maps_writable(dst->ip) || fault_maps_writable(src->ip)))
		ret = -ETXTBSY;
	if (!ret && n) {
		const struct udax_inode *di =
			inode_r(dst->fs, NULL, dst->ip->ino, &ret);
		uint64_t old = di ? di->size : 0;
		blocks = (n + UDAX_BLOCK_SIZE - 1) >> UDAX_BLOCK_SHIFT;
		if (di)
			ret = clone_blocks(
				dst->ip, (uint64_t)dst_off >> UDAX_BLOCK_SHIFT,
				src->ip, (uint64_t)src_off >> UDAX_BLOCK_SHIFT,
				blocks, (uint64_t)dst_off + n);
		/* grown: pages of mappings past the old end of file that
		 * raised SIGBUS are part of the file now (as after a
		 * truncate up); the zap above began at dst_off */
		if (!ret && (uint64_t)dst_off + n > old)
			ret = fault_file_changed(dst->ip, NULL, old,
						 (uint64_t)dst_off + n - old);
	}
	clone_unlock(&p);
	return ret;
}

int udax_clone(struct udax_file *dst, struct udax_file *src)
{
	return udax_clone_range(dst, 0, src, 0, 0);
}

/* Are [a, a+n) of ia and [b, b+n) of ib the same bytes? Both locked. */
static int dedupe_same(struct inode *ia, uint64_t a, struct inode *ib,
		       uint64_t b, uint64_t n)
{
	const size_t chunk = 1u << 20;
	uint8_t *x = sys_malloc(2 * chunk);
	int same = 1;

	if (!x)
		return -ENOMEM;
	for (uint64_t done = 0; done < n && same == 1; done += chunk) {
		size_t c = n - done < chunk ? (size_t)(n - done) : chunk;
		ssize_t r1 = iomap_read(ia, x, c, a + done, &udax_iomap_ops);
		ssize_t r2 =
			iomap_read(ib, x + chunk, c, b + done, &udax_iomap_ops);
		if (r1 < 0 || r2 < 0)
			same = r1 < 0 ? (int)r1 : (int)r2;
		else if (memcmp(x, x + chunk, c))
			same = 0;
	}
	free(x);
	return same;
}

/* One destination of a dedupe: its status and bytes. */
static void dedupe_one(struct udax_file *src, uint64_t src_off, uint64_t len,
		       struct udax_dedupe_dest *d)
{
	struct clone_pair p = {.dst = d->dst ? d->dst->ip : NULL,
			       .src = src->ip,
			       .dst_off = (uint64_t)d->dst_off,
			       .src_off = src_off};
	uint64_t n = len;
	int ret;

	d->bytes_deduped = 0;
	ret = clone_args(d->dst, d->dst_off, src, (off_t)src_off, (off_t)len);
	if (ret) {
		d->status = ret;
		return;
	}
	p.dst_off &= ~(uint64_t)(FAULT_PAGE - 1);
	ret = clone_lock(&p);
	if (ret) {
		d->status = ret;
		return;
	}
	ret = clone_check(p.dst, (uint64_t)d->dst_off, p.src, src_off, &n, 1);
	if (!ret && n &&
	    (fault_maps_writable(p.dst) || fault_maps_writable(p.src)))
		ret = -ETXTBSY;
	if (!ret && n) {
		ret = dedupe_same(p.src, src_off, p.dst, (uint64_t)d->dst_off,
				  n);
		if (ret == 1)
			ret = clone_blocks(
				p.dst, (uint64_t)d->dst_off >> UDAX_BLOCK_SHIFT,
				p.src, src_off >> UDAX_BLOCK_SHIFT,
				(n + UDAX_BLOCK_SIZE - 1) >> UDAX_BLOCK_SHIFT,
				0);
		else if (ret == 0)
			ret = UDAX_DEDUPE_DIFFERS;
	}
	clone_unlock(&p);
	if (ret == 0)
		d->bytes_deduped = n;
	d->status = ret;
}

int udax_dedupe_range(struct udax_file *src, off_t src_off, off_t len,
		      struct udax_dedupe_dest *dests, int count)
{
	if (!src || !may_read(src))
		return -EBADF;
	if (src->is_dir)
		return -EISDIR;
	if (src_off < 0 || len < 0 || count < 0 || (count && !dests))
		return -EINVAL;
	if ((uint64_t)len > UDAX_DEDUPE_MAX)
		len = UDAX_DEDUPE_MAX;
	for (int i = 0; i < count; i++)
		dedupe_one(src, (uint64_t)src_off, (uint64_t)len, &dests[i]);
	return 0;
}
