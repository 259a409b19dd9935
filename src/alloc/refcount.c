/* SPDX-License-Identifier: MIT */
/*
 * refcount.c - the refcount tree of shared device blocks (refcount.h).
 *
 * Items are never merged: a clone of a range already shared splits at
 * most the two items at its ends, and a free of a shared block rewrites
 * the one item that holds it, so each change touches at most three items
 * of one run. The format allows any division of a run into items
 * (FORMAT.md 11); fsck compares block by block.
 */
#include <errno.h>
#include <pthread.h>

#include "btree/btree.h"
#include "fs.h"
#include "refcount.h"

/* The root as tx (or, with NULL, the home copy) sees it. */
static uint64_t rc_root(struct udax_fs *fs, struct tx *tx)
{
	const struct udax_state *st =
		tx ? tx_get(tx, UDAX_STATE_BLOCK) :
		     (const void *)fs_block(fs, UDAX_STATE_BLOCK);
	return st->refcount_root;
}

/* Read item `key` of the tree, checked. */
static int rc_find(struct btree *bt, uint64_t dev, enum bt_mode mode,
		   uint64_t *key, struct udax_refcount_val *v)
{
	struct udax_fs *fs = bt->fs;
	size_t vlen = sizeof(*v);
	int ret = bt_find(bt, dev, mode, key, v, &vlen);

	if (ret)
		return ret;
	if (vlen != sizeof(*v) || v->len == 0 || v->refs < 2 ||
	    *key < fs->sb.data_start || *key >= fs->nblocks - 1 ||
	    v->len > fs->nblocks - 1 - *key)
		return fs_corrupt(fs,
				  "refcount tree: the item for block %llu "
				  "is damaged",
				  (unsigned long long)*key);
	return 0;
}

/* refcount_run on an open tree handle; *key and *v are the item holding
 * dev when *refs >= 2. */
static int rc_run(struct btree *bt, uint64_t dev, uint64_t len, uint64_t *run,
		  uint32_t *refs, uint64_t *key, struct udax_refcount_val *v)
{
	int ret;

	*run = len;
	*refs = 1;
	if (!bt->root)
		return 0;
	ret = rc_find(bt, dev, BT_LE, key, v);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && *key + v->len > dev) {
		*refs = v->refs;
		if (*key + v->len - dev < len)
			*run = *key + v->len - dev;
		return 0;
	}
	ret = rc_find(bt, dev, BT_GE, key, v);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && *key < dev + len)
		*run = *key - dev;
	return 0;
}

int refcount_run(struct udax_fs *fs, struct tx *tx, uint64_t dev, uint64_t len,
		 uint64_t *run, uint32_t *refs)
{
	struct udax_refcount_val v;
	struct btree bt;
	uint64_t key;
	int ret;

	if (!atomic_load(&fs->reflinked)) {
		*run = len;
		*refs = 1;
		return 0;
	}
	if (!tx)
		pthread_rwlock_rdlock(&fs->refcount_lock);
	bt_init(&bt, fs, tx, rc_root(fs, tx), 0, UDAX_TREE_REFCOUNT);
	ret = rc_run(&bt, dev, len, run, refs, &key, &v);
	if (!tx)
		pthread_rwlock_unlock(&fs->refcount_lock);
	return ret;
}

int refcount_any_shared(struct udax_fs *fs, uint64_t dev, uint64_t len)
{
	uint64_t run;
	uint32_t refs;
	int ret = refcount_run(fs, NULL, dev, len, &run, &refs);

	if (ret)
		return ret;
	return refs > 1 || run < len;
}

/* Transaction end: let readers in again. */
static void rc_unlock(struct udax_fs *fs, uint64_t arg, int committed)
{
	(void)arg, (void)committed;
	fs->refcount_held = 0;
	pthread_rwlock_unlock(&fs->refcount_lock);
}

/* Transaction end: the superblock in memory follows the one on media. */
static void rc_feature_on(struct udax_fs *fs, uint64_t arg, int committed)
{
	if (committed)
		fs->sb.feat_incompat |= arg;
}

/* The first change of the tree in tx: take the lock until tx ends. */
static int rc_lock(struct tx *tx)
{
	struct udax_fs *fs = tx->fs;

	if (fs->refcount_held)
		return 0;
	pthread_rwlock_wrlock(&fs->refcount_lock);
	fs->refcount_held = 1;
	if (tx_hook_add(tx, rc_unlock, 0)) {
		rc_unlock(fs, 0, 0);
		return -ENOMEM;
	}
	return 0;
}

/* Turn the REFLINK feature on in tx, in both superblocks, if it is off:
 * a library that does not know it must refuse the image from the commit
 * on (FORMAT.md 13). */
static int rc_feature(struct tx *tx)
{
	struct udax_fs *fs = tx->fs;
	const struct udax_super *cur = tx_get(tx, UDAX_SUPER_BLOCK);
	uint64_t blk[2] = {UDAX_SUPER_BLOCK, fs->nblocks - 1};

	if (cur->feat_incompat & UDAX_FEAT_INCOMPAT_REFLINK)
		return 0;
	for (int i = 0; i < 2; i++) {
		struct udax_super *sb = tx_getw(tx, blk[i]);
		if (!sb)
			return tx->failed;
		sb->feat_incompat |= UDAX_FEAT_INCOMPAT_REFLINK;
	}
	atomic_store(&fs->reflinked, 1);
	return tx_hook_add(tx, rc_feature_on, UDAX_FEAT_INCOMPAT_REFLINK);
}

/* Write the tree's root back to the state block in tx. */
static int rc_root_set(struct tx *tx, struct btree *bt)
{
	struct udax_state *st;

	if (bt->root == rc_root(tx->fs, tx))
		return 0;
	st = tx_getw(tx, UDAX_STATE_BLOCK);
	if (!st)
		return tx->failed;
	st->refcount_root = bt->root;
	return 0;
}

/* Add `delta` (+1 or -1) to the references of the run [dev, dev+run),
 * whose blocks all have `refs` (the item (key, v) holds them when refs
 * >= 2). A block left with no reference is freed. */
static int rc_adjust(struct btree *bt, uint64_t dev, uint64_t run,
		     uint32_t refs, uint64_t key, struct udax_refcount_val v,
		     int delta)
{
	uint32_t nrefs = refs + (uint32_t)delta;
	uint64_t end = key + v.len;
	int ret = 0;

	if (refs == 1) {
		if (delta < 0)
			return tx_free_blocks(bt->tx, dev, run);
		struct udax_refcount_val n = {.len = (uint32_t)run, .refs = 2};
		return bt_insert(bt, dev, &n, sizeof(n));
	}
	/* split the item: [key, dev) keeps refs, [dev, dev+run) gets nrefs,
	 * [dev+run, end) keeps refs */
	struct udax_refcount_val mid = {.len = (uint32_t)run, .refs = nrefs};
	if (key < dev) {
		struct udax_refcount_val l = {.len = (uint32_t)(dev - key),
					      .refs = refs};
		ret = bt_replace(bt, key, &l, sizeof(l));
		if (!ret && nrefs >= 2)
			ret = bt_insert(bt, dev, &mid, sizeof(mid));
	} else {
		ret = nrefs >= 2 ? bt_replace(bt, key, &mid, sizeof(mid)) :
				   bt_delete(bt, key);
	}
	if (!ret && dev + run < end) {
		struct udax_refcount_val r = {
			.len = (uint32_t)(end - dev - run), .refs = refs};
		ret = bt_insert(bt, dev + run, &r, sizeof(r));
	}
	return ret;
}

/* refcount_get (+1) and refcount_put (-1): one run at a time. */
static int rc_change(struct tx *tx, uint64_t dev, uint64_t len, int delta)
{
	struct udax_fs *fs = tx->fs;
	struct btree bt;
	int ret;

	if (delta < 0 && !atomic_load(&fs->reflinked))
		return tx_free_blocks(tx, dev, len); /* nothing is shared */
	ret = rc_lock(tx);
	if (!ret && delta > 0)
		ret = rc_feature(tx);
	if (ret)
		return ret;
	bt_init(&bt, fs, tx, rc_root(fs, tx), 0, UDAX_TREE_REFCOUNT);
	while (len && !ret) {
		struct udax_refcount_val v = {0};
		uint64_t run, key = 0;
		uint32_t refs;

		if (!tx_room(tx, REFCOUNT_TX_BLOCKS))
			return tx->failed ? tx->failed : -ENOMEM;
		ret = rc_run(&bt, dev, len, &run, &refs, &key, &v);
		if (!ret)
			ret = rc_adjust(&bt, dev, run, refs, key, v, delta);
		dev += run;
		len -= run;
	}
	if (!ret)
		ret = rc_root_set(tx, &bt);
	return ret;
}

int refcount_get(struct tx *tx, uint64_t dev, uint64_t len)
{
	return rc_change(tx, dev, len, +1);
}

int refcount_put(struct tx *tx, uint64_t dev, uint64_t len)
{
	return rc_change(tx, dev, len, -1);
}
