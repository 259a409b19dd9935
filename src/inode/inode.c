/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the inode cache, on-media inodes, inode allocation, the
 * orphan list and freeing a file's blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "btree/btree.h"
#include "inode.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

/* ---- the inode cache ---- */

int icache_init(struct udax_fs *fs)
{
	struct icache *c = &fs->icache;

	pthread_mutex_init(&c->lock, NULL);
	c->size = 4096;
	c->table = sys_calloc(c->size, sizeof(*c->table));
	return c->table ? 0 : -ENOMEM;
}

void icache_fini(struct udax_fs *fs)
{
	struct icache *c = &fs->icache;

	for (size_t i = 0; c->table && i < c->size; i++) {
		struct inode *ip = c->table[i], *next;
		for (; ip; ip = next) {
			next = ip->next;
			pthread_rwlock_destroy(&ip->lock);
			free(ip);
		}
	}
	free(c->table);
	c->table = NULL;
	pthread_mutex_destroy(&c->lock);
}

uint64_t icache_sum(struct udax_fs *fs, uint64_t (*fn)(struct inode *ip))
{
	struct icache *c = &fs->icache;
	uint64_t sum = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->size; i++)
		for (struct inode *ip = c->table[i]; ip; ip = ip->next)
			sum += fn(ip);
	pthread_mutex_unlock(&c->lock);
	return sum;
}

static size_t icache_slot(struct icache *c, uint64_t ino)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 32) & (c->size - 1);
}

int iget(struct udax_fs *fs, uint64_t ino, struct inode **ipp)
{
	struct icache *c = &fs->icache;
	struct inode *ip;
	int err;

	pthread_mutex_lock(&c->lock);
	for (ip = c->table[icache_slot(c, ino)]; ip; ip = ip->next)
		if (ip->ino == ino)
			break;
	if (ip) {
		atomic_fetch_add(&ip->refs, 1);
		pthread_mutex_unlock(&c->lock);
		*ipp = ip;
		return 0;
	}
	if (!inode_r(fs, NULL, ino, &err)) {
		pthread_mutex_unlock(&c->lock);
		return err == -ESTALE ? fs_corrupt(fs,
						   "inode %llu is "
						   "referenced but free",
						   (unsigned long long)ino) :
					err;
	}
	ip = sys_calloc(1, sizeof(*ip));
	if (!ip) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	ip->fs = fs;
	ip->ino = ino;
	ip->refs = 1;
	pthread_rwlock_init(&ip->lock, NULL);
	pthread_mutex_init(&ip->pin_lock, NULL);
	fs_cond_init(&ip->pin_cond);
	ip->next = c->table[icache_slot(c, ino)];
	c->table[icache_slot(c, ino)] = ip;
	pthread_mutex_unlock(&c->lock);
	*ipp = ip;
	return 0;
}

void icache_forget_mtime(struct udax_fs *fs, uint64_t ino)
{
	struct icache *c = &fs->icache;

	pthread_mutex_lock(&c->lock);
	for (struct inode *ip = c->table[icache_slot(c, ino)]; ip;
	     ip = ip->next)
		if (ip->ino == ino)
			ip->mtime_pending = 0;
	pthread_mutex_unlock(&c->lock);
}

void inode_lock_two(struct inode *a, struct inode *b)
{
	if (!b || b == a) {
		pthread_rwlock_wrlock(&a->lock);
		return;
	}
	if (b->ino < a->ino) {
		struct inode *t = a;
		a = b;
		b = t;
	}
	pthread_rwlock_wrlock(&a->lock);
	pthread_rwlock_wrlock(&b->lock);
}

void inode_unlock_two(struct inode *a, struct inode *b)
{
	pthread_rwlock_unlock(&a->lock);
	if (b && b != a)
		pthread_rwlock_unlock(&b->lock);
}

uint32_t icache_refs(struct inode *ip)
{
	uint32_t n;

	pthread_mutex_lock(&ip->fs->icache.lock);
	n = atomic_load(&ip->refs);
	pthread_mutex_unlock(&ip->fs->icache.lock);
	return n;
}

void igrab(struct inode *ip)
{
	atomic_fetch_add(&ip->refs, 1); /* the caller holds one: not 0 */
}

void iput(struct inode *ip)
{
	struct udax_fs *fs = ip->fs;
	struct icache *c = &fs->icache;
	const struct udax_inode *di;
	int err;

	/* not the last reference: no lock (the count cannot reach 0) */
	uint32_t n = atomic_load(&ip->refs);
	while (n > 1)
		if (atomic_compare_exchange_weak(&ip->refs, &n, n - 1))
			return;
	/* maybe the last: under the lock, where iget may have taken one
	 * meanwhile */
	pthread_mutex_lock(&c->lock);
	if (atomic_fetch_sub(&ip->refs, 1) != 1) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	struct inode **pp = &c->table[icache_slot(c, ip->ino)];
	while (*pp != ip)
		pp = &(*pp)->next;
	*pp = ip->next;
	pthread_mutex_unlock(&c->lock);

	di = inode_r(fs, NULL, ip->ino, &err);
	if (di && !fs->read_only) {
		if (di->nlink == 0) {
			/* the last user of an unlinked inode: free it */
			inode_truncate(fs, ip->ino, 0, TRUNC_FREE_INODE);
		} else if (ip->mtime_pending) {
			struct tx *tx = tx_begin(fs);
			inode_flush_times(tx, ip);
			tx_commit(tx);
		}
	}
	pthread_rwlock_destroy(&ip->lock);
	pthread_mutex_destroy(&ip->pin_lock);
	pthread_cond_destroy(&ip->pin_cond);
	free(ip);
}

/* ---- on-media inodes ---- */

const struct udax_inode *inode_r(struct udax_fs *fs, struct tx *tx,
				 uint64_t ino, int *err)
{
	const uint8_t *blk;
	const struct udax_inode *di;
	uint64_t blkno;

	if (ino == 0 || ino >= fs->sb.inode_count) {
		*err = fs_corrupt(fs, "inode number %llu is out of range",
				  (unsigned long long)ino);
		return NULL;
	}
	blkno = fs->sb.itable_start + ino / UDAX_INODES_PER_BLOCK;
	blk = tx ? tx_get(tx, blkno) : fs_block(fs, blkno);
	di = (const void *)(blk +
			    (ino % UDAX_INODES_PER_BLOCK) * UDAX_INODE_SIZE);
	if (di->magic == 0) {
		*err = -ESTALE;
		return NULL;
	}
	if (di->magic != UDAX_INODE_MAGIC || di->ino != ino) {
		*err = fs_corrupt(fs, "inode %llu is damaged",
				  (unsigned long long)ino);
		return NULL;
	}
	if (blk == fs_block(fs, blkno) &&
	    !(atomic_load(&fs->ino_verified[ino / 64]) &
	      (1ull << (ino % 64)))) {
		/* once per mount: later versions are sealed by our commits */
		if (udax_block_crc(di, UDAX_INODE_SIZE,
				   offsetof(struct udax_inode, crc)) !=
		    di->crc) {
			*err = fs_corrupt(fs, "inode %llu: checksum mismatch",
					  (unsigned long long)ino);
			return NULL;
		}
		atomic_fetch_or(&fs->ino_verified[ino / 64],
				1ull << (ino % 64));
	}
	return di;
}

struct udax_inode *inode_w(struct tx *tx, uint64_t ino)
{
	struct udax_fs *fs = tx->fs;
	uint8_t *blk;

	if (ino == 0 || ino >= fs->sb.inode_count) {
		tx->failed = tx->failed ? tx->failed : UDAX_ECORRUPT;
		return NULL;
	}
	blk = tx_getw(tx, fs->sb.itable_start + ino / UDAX_INODES_PER_BLOCK);
	if (!blk)
		return NULL;
	return (void *)(blk + (ino % UDAX_INODES_PER_BLOCK) * UDAX_INODE_SIZE);
}

/* ---- inode allocation ---- */

static int ibmap_set(struct tx *tx, uint64_t ino, int used)
{
	struct udax_fs *fs = tx->fs;
	struct udax_bitmap *bm =
		tx_getw(tx, fs->sb.ibmap_start + ino / UDAX_BITMAP_BITS);
	uint32_t bit = (uint32_t)(ino % UDAX_BITMAP_BITS);

	if (!bm)
		return tx->failed;
	if (used)
		bm->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
	else
		bm->bits[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
	return 0;
}

static void ino_bit_put(struct udax_fs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->ino_lock);
	fs->ino_bits[ino / 64] &= ~(1ull << (ino % 64));
	fs->ino_free++;
	pthread_mutex_unlock(&fs->ino_lock);
}

/* tx hooks: a new inode's number goes back if the transaction aborts; a
 * freed one becomes available once the free is committed. */
static void ino_alloc_hook(struct udax_fs *fs, uint64_t ino, int committed)
{
	if (!committed)
		ino_bit_put(fs, ino);
}

static void ino_free_hook(struct udax_fs *fs, uint64_t ino, int committed)
{
	if (committed)
		ino_bit_put(fs, ino);
}

int inode_bitmap_init(struct udax_fs *fs)
{
	uint64_t n = fs->sb.inode_count;

	fs->ino_bits = sys_calloc((n + 63) / 64, sizeof(uint64_t));
	fs->ino_verified = sys_calloc((n + 63) / 64, sizeof(uint64_t));
	if (!fs->ino_bits || !fs->ino_verified)
		return -ENOMEM;
	pthread_mutex_init(&fs->ino_lock, NULL);
	fs->ino_free = 0;
	for (uint64_t b = 0; b < fs->sb.ibmap_blocks; b++) {
		uint64_t blkno = fs->sb.ibmap_start + b;
		const struct udax_bitmap *bm =
			(const void *)fs_block(fs, blkno);
		if (bm->magic != UDAX_BITMAP_MAGIC || bm->blkno != blkno ||
		    bm->first != b * UDAX_BITMAP_BITS ||
		    udax_block_crc(bm, UDAX_BLOCK_SIZE, 4) != bm->crc)
			return fs_corrupt(fs,
					  "inode bitmap block %llu is "
					  "damaged",
					  (unsigned long long)blkno);
		uint64_t first = b * UDAX_BITMAP_BITS;
		for (uint64_t i = 0; i < UDAX_BITMAP_BITS && first + i < n; i++)
			if ((bm->bits[i / 8] >> (i % 8)) & 1)
				fs->ino_bits[(first + i) / 64] |=
					1ull << ((first + i) % 64);
	}
	fs->ino_bits[0] |= 1; /* inode 0 does not exist */
	for (uint64_t i = 0; i < n; i++)
		if (!((fs->ino_bits[i / 64] >> (i % 64)) & 1))
			fs->ino_free++;
	fs->ino_cursor = 1;
	return 0;
}

/* A batch of generation numbers reserved by an aborted transaction was
 * never recorded: forget it. */
static void gen_batch_hook(struct udax_fs *fs, uint64_t arg, int committed)
{
	(void)arg;
	if (!committed)
		fs->gen_next = fs->gen_end = 0;
}

int inode_alloc(struct tx *tx, mode_t mode, uid_t uid, gid_t gid,
		uint64_t *inop)
{
	struct udax_fs *fs = tx->fs;
	uint64_t n = fs->sb.inode_count, ino = 0;
	struct udax_inode *di;
	struct udax_state *st;
	int ret;

	pthread_mutex_lock(&fs->ino_lock);
	if (fs->ino_free) {
		for (uint64_t k = 0; k < n; k++) {
			uint64_t i = (fs->ino_cursor + k) % n;
			if ((i % 64) == 0 && fs->ino_bits[i / 64] == ~0ull &&
			    k + 64 < n) {
				k += 63;
				continue;
			}
			if (!((fs->ino_bits[i / 64] >> (i % 64)) & 1)) {
				ino = i;
				break;
			}
		}
	}
	if (!ino) {
		pthread_mutex_unlock(&fs->ino_lock);
		return -ENOSPC;
	}
	fs->ino_bits[ino / 64] |= 1ull << (ino % 64);
	fs->ino_free--;
	fs->ino_cursor = ino + 1;
	pthread_mutex_unlock(&fs->ino_lock);
	ret = tx_hook_add(tx, ino_alloc_hook, ino);
	if (ret) {
		ino_bit_put(fs, ino);
		return ret;
	}
	ret = ibmap_set(tx, ino, 1);
	if (ret)
		return ret;
	/* generation numbers come from a batch reserved in the state block,
	 * so that a create does not rewrite the state block each time; the
	 * state always holds a number above every one handed out */
	if (fs->gen_next == fs->gen_end) {
		st = tx_getw(tx, UDAX_STATE_BLOCK);
		if (!st)
			return tx->failed;
		ret = tx_hook_add(tx, gen_batch_hook, 0);
		if (ret)
			return ret;
		fs->gen_next = st->generation;
		st->generation += INODE_GEN_BATCH;
		fs->gen_end = st->generation;
	}
	di = inode_w(tx, ino);
	if (!di)
		return tx->failed;
	int64_t now = fs_now_ns();
	memset(di, 0, sizeof(*di));
	di->magic = UDAX_INODE_MAGIC;
	di->mode = (uint16_t)mode;
	di->nlink = 1;
	di->ino = ino;
	di->uid = uid;
	di->gid = gid;
	di->atime_ns = di->mtime_ns = di->ctime_ns = di->btime_ns = now;
	di->generation = fs->gen_next++;
	*inop = ino;
	return 0;
}

int inode_free(struct tx *tx, uint64_t ino)
{
	struct udax_inode *di;
	int ret = ibmap_set(tx, ino, 0);

	if (ret)
		return ret;
	di = inode_w(tx, ino);
	if (!di)
		return tx->failed;
	memset(di, 0, sizeof(*di));
	return tx_hook_add(tx, ino_free_hook, ino);
}

/* ---- the orphan list ---- */

int orphan_add(struct tx *tx, uint64_t ino)
{
	struct udax_state *st = tx_getw(tx, UDAX_STATE_BLOCK);
	struct udax_inode *di = inode_w(tx, ino);

	if (!st || !di)
		return tx->failed;
	if (di->flags & UDAX_IF_ORPHAN)
		return 0;
	di->orphan_next = st->orphan_head;
	di->flags |= UDAX_IF_ORPHAN;
	st->orphan_head = ino;
	return 0;
}

int orphan_remove(struct tx *tx, uint64_t ino)
{
	struct udax_fs *fs = tx->fs;
	struct udax_state *st = tx_getw(tx, UDAX_STATE_BLOCK);
	struct udax_inode *di = inode_w(tx, ino);
	uint64_t cur, steps = 0;
	int err;

	if (!st || !di)
		return tx->failed;
	if (!(di->flags & UDAX_IF_ORPHAN))
		return 0;
	if (st->orphan_head == ino) {
		st->orphan_head = di->orphan_next;
	} else {
		for (cur = st->orphan_head; cur;) {
			const struct udax_inode *c = inode_r(fs, tx, cur, &err);
			if (!c || ++steps > fs->sb.inode_count)
				return fs_corrupt(fs, "orphan list is damaged");
			if (c->orphan_next == ino) {
				struct udax_inode *cw = inode_w(tx, cur);
				if (!cw)
					return tx->failed;
				cw->orphan_next = di->orphan_next;
				break;
			}
			cur = c->orphan_next;
		}
	}
	di->orphan_next = 0;
	di->flags &= ~UDAX_IF_ORPHAN;
	return 0;
}

/* ---- freeing blocks ---- */

struct trunc_count {
	uint64_t freed;
};

static int trunc_release(struct btree *bt, uint64_t dev, uint64_t len,
			 void *arg)
{
	struct trunc_count *tc = arg;
	tc->freed += len;
	return ext_release_free(bt, dev, len, arg);
}

int inode_truncate(struct udax_fs *fs, uint64_t ino, uint64_t size, int flags)
{
	return inode_truncate_from(fs, ino, size, size, flags);
}

int inode_truncate_from(struct udax_fs *fs, uint64_t ino, uint64_t size,
			uint64_t from, int flags)
{
	uint64_t first = ((from > size ? from : size) + UDAX_BLOCK_SIZE - 1) >>
			 UDAX_BLOCK_SHIFT;
	int ret, done = 0;

	while (!done) {
		struct tx *tx = tx_begin(fs);
		struct udax_inode *di = inode_w(tx, ino);
		struct trunc_count tc = {0};
		struct btree bt;
		uint64_t next;

		if (!di) {
			ret = tx->failed;
			tx_abort(tx);
			return ret;
		}
		if (flags & TRUNC_SET_SIZE) {
			di->size = size;
			di->mtime_ns = di->ctime_ns = fs_now_ns();
			flags &= ~TRUNC_SET_SIZE;
		}
		bt_init(&bt, fs, tx, di->root, ino, UDAX_TREE_EXTENT);
		if (S_ISDIR(di->mode)) {
			/* no extents: the name tree is handled below */
			next = UINT64_MAX;
			ret = 0;
		} else {
			ret = ext_remove(&bt, first, UINT64_MAX - first,
					 trunc_release, &tc, &next);
		}
		if (ret) {
			tx_abort(tx);
			return ret;
		}
		done = next == UINT64_MAX; /* else the journal is full */
		di = inode_w(tx, ino);
		if (!di) {
			ret = tx->failed;
			tx_abort(tx);
			return ret;
		}
		di->root = bt.root;
		di->blocks -= tc.freed;
		di->blocks += (uint64_t)bt.nodes_delta;
		if (done && (flags & TRUNC_FREE_INODE) && S_ISDIR(di->mode) &&
		    di->root) {
			/* an empty directory's name tree: its root leaf */
			struct btree dt;
			bt_init(&dt, fs, tx, di->root, ino, UDAX_TREE_DIR);
			ret = bt_destroy(&dt);
			if (ret) {
				tx_abort(tx);
				return ret;
			}
			di = inode_w(tx, ino);
			di->root = 0;
			di->blocks += (uint64_t)dt.nodes_delta;
		}
		if (done && (flags & TRUNC_FREE_INODE)) {
			if (di->root) {
				ret = fs_corrupt(fs,
						 "inode %llu: extent "
						 "tree not empty after "
						 "freeing",
						 (unsigned long long)ino);
				tx_abort(tx);
				return ret;
			}
			ret = xattr_destroy(tx, ino);
			if (!ret)
				ret = orphan_remove(tx, ino);
			if (!ret)
				ret = inode_free(tx, ino);
		} else if (done) {
			di->flags &= ~UDAX_IF_TRUNCATING;
			if (di->nlink)
				ret = orphan_remove(tx, ino);
		} else {
			di->flags |= UDAX_IF_TRUNCATING;
			ret = orphan_add(tx, ino);
		}
		if (ret) {
			tx_abort(tx);
			return ret;
		}
		ret = tx_commit(tx);
		if (ret)
			return ret;
	}
	return 0;
}

int inode_free_now(struct tx *tx, uint64_t ino)
{
	struct udax_fs *fs = tx->fs;
	struct udax_inode *di = inode_w(tx, ino);
	struct btree bt;
	int ret;

	if (!di)
		return tx->failed;
	if (di->root) {
		if (S_ISDIR(di->mode)) {
			bt_init(&bt, fs, tx, di->root, ino, UDAX_TREE_DIR);
			ret = bt_destroy(&bt);
		} else {
			uint64_t next;
			bt_init(&bt, fs, tx, di->root, ino, UDAX_TREE_EXTENT);
			ret = ext_remove(&bt, 0, UINT64_MAX, ext_release_free,
					 NULL, &next);
			if (!ret && next != UINT64_MAX)
				ret = -ENOSPC; /* cannot happen at this size */
			if (!ret && bt.root)
				ret = fs_corrupt(fs,
						 "inode %llu: extent tree "
						 "not empty after freeing",
						 (unsigned long long)ino);
		}
		if (ret)
			return ret;
	}
	ret = xattr_destroy(tx, ino);
	if (!ret)
		ret = orphan_remove(tx, ino);
	return ret ? ret : inode_free(tx, ino);
}

int orphan_recover(struct udax_fs *fs)
{
	const struct udax_state *st =
		(const void *)fs_block(fs, UDAX_STATE_BLOCK);
	uint64_t steps = 0;
	int ret, err;

	while (st->orphan_head) {
		uint64_t ino = st->orphan_head;
		const struct udax_inode *di = inode_r(fs, NULL, ino, &err);
		if (!di || !(di->flags & UDAX_IF_ORPHAN) ||
		    ++steps > fs->sb.inode_count)
			return fs_corrupt(fs,
					  "orphan list: inode %llu is "
					  "damaged",
					  (unsigned long long)ino);
		if (di->nlink == 0)
			ret = inode_truncate(fs, ino, 0, TRUNC_FREE_INODE);
		else
			ret = inode_truncate(fs, ino, di->size, 0);
		if (ret)
			return ret;
		if (st->orphan_head == ino) {
			/* still there: truncate of a linked file that had
			 * nothing to free */
			struct tx *tx = tx_begin(fs);
			ret = orphan_remove(tx, ino);
			if (!ret) {
				struct udax_inode *w = inode_w(tx, ino);
				if (w)
					w->flags &= ~UDAX_IF_TRUNCATING;
			}
			ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int inode_set_size(struct inode *ip, uint64_t size, int exact)
{
	struct tx *tx = tx_begin(ip->fs);
	struct udax_inode *di = inode_w(tx, ip->ino);
	int ret;

	if (!di) {
		ret = tx->failed;
		tx_abort(tx);
		return ret;
	}
	if (exact || size > di->size)
		di->size = size;
	ip->size_pending = 0;
	di->mtime_ns = di->ctime_ns = fs_now_ns();
	ip->mtime_pending = 0;
	tx->data_flushed = 1; /* the data (or zeroed tail) before the size */
	return tx_commit(tx);
}

int inode_flush_times(struct tx *tx, struct inode *ip)
{
	struct udax_inode *di;

	if (!ip->mtime_pending)
		return 0;
	di = inode_w(tx, ip->ino);
	if (!di)
		return tx->failed;
	di->mtime_ns = di->ctime_ns = ip->mtime_pending;
	ip->mtime_pending = 0;
	return 0;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	if (ts->tv_nsec < 0) {
		ts->tv_nsec += 1000000000;
		ts->tv_sec--;
	}
}

void inode_to_stat(const struct udax_inode *di, const struct inode *ip,
		   struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = di->ino;
	st->st_mode = di->mode;
	st->st_nlink = di->nlink;
	st->st_uid = di->uid;
	st->st_gid = di->gid;
	st->st_size = (off_t)di->size;
	if (S_ISDIR(di->mode)) /* as ext4: the blocks the directory takes */
		st->st_size = (off_t)((di->blocks ? di->blocks : 1)
				      << UDAX_BLOCK_SHIFT);
	if (S_ISCHR(di->mode) || S_ISBLK(di->mode)) {
		struct udax_rdev rd;
		memcpy(&rd, di->inline_data, sizeof(rd));
		st->st_rdev = makedev(rd.major, rd.minor);
	}
	st->st_blocks = (blkcnt_t)(di->blocks * (UDAX_BLOCK_SIZE / 512));
	st->st_blksize = UDAX_BLOCK_SIZE;
	ns_to_ts(di->atime_ns, &st->st_atim);
	if (ip && ip->mtime_pending) {
		ns_to_ts(ip->mtime_pending, &st->st_mtim);
		ns_to_ts(ip->mtime_pending, &st->st_ctim);
	} else {
		ns_to_ts(di->mtime_ns, &st->st_mtim);
		ns_to_ts(di->ctime_ns, &st->st_ctim);
	}
}
