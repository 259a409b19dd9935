/* SPDX-License-Identifier: MIT */
/*
 * btree.c - B+tree search, insert, replace and delete over 4 KiB nodes.
 *
 * Internal items hold a lower bound of their child's keys, and stay
 * sorted: inserting a key below every other one lowers the first
 * separators on its way down. The first item of a node is still treated
 * as minus infinity when descending. Deletion frees
 * nodes that become empty and collapses a root with a single child; it
 * does not merge half-empty siblings (a deliberate simplification that
 * keeps deletes from allocating and keeps the code short).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"
#include "fs.h"
#include "sys/sys.h"

#define NODE_ITEMS_MAX ((UDAX_BLOCK_SIZE - UDAX_NODE_HDR) / 16)

static inline uint8_t *node_val(const struct udax_node *n, int i)
{
	return (uint8_t *)n + n->items[i].off;
}

static inline size_t node_free(const struct udax_node *n)
{
	return n->val_start - (UDAX_NODE_HDR + (size_t)n->nitems * 16);
}

static inline uint64_t node_child(const struct udax_node *n, int i)
{
	uint64_t c;
	memcpy(&c, node_val(n, i), 8);
	return c;
}

/* ---- verified-checksum cache ---- */

int bt_verified_init(struct udax_fs *fs)
{
	fs->bt_verified = sys_calloc((fs->nblocks + 63) / 64, sizeof(uint64_t));
	return fs->bt_verified ? 0 : -ENOMEM;
}

void bt_verified_fini(struct udax_fs *fs)
{
	free((void *)fs->bt_verified);
	fs->bt_verified = NULL;
}

/* Check a node's structure, and its crc if it is a home copy not yet
 * verified in this mount. */
static int node_check(struct btree *bt, uint64_t blkno,
		      const struct udax_node *n, int level)
{
	struct udax_fs *fs = bt->fs;
	const uint8_t *p = (const uint8_t *)n;
	int home = p >= fs->dev->base && p < fs->dev->base + fs->dev->size;
	const char *what = "damaged header";

	if (n->magic != UDAX_NODE_MAGIC || n->blkno != blkno ||
	    n->kind != bt->kind || n->owner != bt->owner ||
	    n->level >= BT_MAX_DEPTH || (level >= 0 && n->level != level) ||
	    n->nitems > NODE_ITEMS_MAX || n->val_start > UDAX_BLOCK_SIZE ||
	    n->val_start < UDAX_NODE_HDR + (size_t)n->nitems * 16)
		goto bad;
	if (home && !(atomic_load(&fs->bt_verified[blkno / 64]) &
		      (1ull << (blkno % 64)))) {
		what = "checksum mismatch";
		if (udax_block_crc(n, UDAX_BLOCK_SIZE, 4) != n->crc)
			goto bad;
		atomic_fetch_or(&fs->bt_verified[blkno / 64],
				1ull << (blkno % 64));
	}
	what = "damaged item";
	for (int i = 0; i < n->nitems; i++) {
		const struct udax_node_item *it = &n->items[i];
		if (it->off < n->val_start || it->len > BT_VAL_MAX ||
		    it->off + it->len > UDAX_BLOCK_SIZE ||
		    (i && it->key <= n->items[i - 1].key))
			goto bad;
		if (n->level) {
			uint64_t c;
			if (it->len != 8)
				goto bad;
			memcpy(&c, p + it->off, 8);
			if (c < fs->sb.data_start || c >= fs->nblocks - 1)
				goto bad;
		}
	}
	return 0;
bad:
	return fs_corrupt(fs, "%s tree node %llu of inode %llu: %s",
			  bt->kind == UDAX_TREE_DIR    ? "directory" :
			  bt->kind == UDAX_TREE_EXTENT ? "extent" :
			  bt->kind == UDAX_TREE_XATTR  ? "xattr" :
							 "refcount",
			  (unsigned long long)blkno,
			  (unsigned long long)bt->owner, what);
}

/* The node at blkno as this handle sees it, checked. */
static int node_read(struct btree *bt, uint64_t blkno, int level,
		     const struct udax_node **out)
{
	const struct udax_node *n;

	if (blkno < bt->fs->sb.data_start || blkno >= bt->fs->nblocks - 1)
		return fs_corrupt(bt->fs,
				  "tree of inode %llu points to "
				  "block %llu outside the data area",
				  (unsigned long long)bt->owner,
				  (unsigned long long)blkno);
	n = bt->tx ? tx_get(bt->tx, blkno) :
		     (const void *)fs_block(bt->fs, blkno);
	*out = n;
	return node_check(bt, blkno, n, level);
}

static struct udax_node *node_write(struct btree *bt, uint64_t blkno)
{
	return tx_getw(bt->tx, blkno);
}

/* Index of the last item with key <= key, or -1. */
static int node_search(const struct udax_node *n, uint64_t key)
{
	int lo = 0, hi = n->nitems - 1, ans = -1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (n->items[mid].key <= key) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

static void node_reset(struct udax_node *n, struct btree *bt, uint64_t blkno,
		       int level)
{
	memset(n, 0, UDAX_NODE_HDR);
	n->magic = UDAX_NODE_MAGIC;
	n->blkno = blkno;
	n->owner = bt->owner;
	n->kind = bt->kind;
	n->level = (uint16_t)level;
	n->nitems = 0;
	n->val_start = UDAX_BLOCK_SIZE;
}

static void node_insert_at(struct udax_node *n, int i, uint64_t key,
			   const void *val, size_t len)
{
	n->val_start = (uint16_t)(n->val_start - len);
	memcpy((uint8_t *)n + n->val_start, val, len);
	memmove(&n->items[i + 1], &n->items[i],
		(size_t)(n->nitems - i) * sizeof(n->items[0]));
	n->items[i] = (struct udax_node_item){
		.key = key, .off = n->val_start, .len = (uint16_t)len};
	n->nitems++;
}

static void node_remove_at(struct udax_node *n, int i)
{
	uint16_t off = n->items[i].off, len = n->items[i].len;
	uint8_t *base = (uint8_t *)n;

	memmove(base + n->val_start + len, base + n->val_start,
		(size_t)(off - n->val_start));
	for (int k = 0; k < n->nitems; k++)
		if (n->items[k].off < off)
			n->items[k].off = (uint16_t)(n->items[k].off + len);
	n->val_start = (uint16_t)(n->val_start + len);
	memmove(&n->items[i], &n->items[i + 1],
		(size_t)(n->nitems - i - 1) * sizeof(n->items[0]));
	n->nitems--;
	memset(base + UDAX_NODE_HDR + (size_t)n->nitems * 16, 0, 16);
}

static int node_alloc(struct btree *bt, uint64_t goal, int level,
		      uint64_t *blkno, struct udax_node **out)
{
	int ret = alloc_meta_block(bt->tx, goal, blkno);
	if (ret)
		return ret;
	*out = tx_new_block(bt->tx, *blkno);
	if (!*out)
		return bt->tx->failed;
	node_reset(*out, bt, *blkno, level);
	bt->nodes_delta++;
	return 0;
}

static int node_release(struct btree *bt, uint64_t blkno)
{
	bt->nodes_delta--;
	atomic_fetch_and(&bt->fs->bt_verified[blkno / 64],
			 ~(1ull << (blkno % 64)));
	return tx_free_blocks(bt->tx, blkno, 1);
}

/* ---- search ---- */

struct bt_path {
	int depth;
	uint64_t blk[BT_MAX_DEPTH];
	int idx[BT_MAX_DEPTH];
	const struct udax_node *node[BT_MAX_DEPTH];
};

/* Descend from the root towards key, recording the path; at the leaf,
 * idx is the last item <= key (or -1). */
static int bt_descend(struct btree *bt, uint64_t key, struct bt_path *p)
{
	uint64_t blk = bt->root;
	int level = -1, ret;

	p->depth = 0;
	for (;;) {
		const struct udax_node *n;
		if (p->depth >= BT_MAX_DEPTH)
			return fs_corrupt(bt->fs,
					  "tree of inode %llu is too "
					  "deep",
					  (unsigned long long)bt->owner);
		ret = node_read(bt, blk, level, &n);
		if (ret)
			return ret;
		int i = node_search(n, key);
		p->blk[p->depth] = blk;
		p->node[p->depth] = n;
		if (n->level == 0) {
			p->idx[p->depth++] = i;
			return 0;
		}
		if (n->nitems == 0)
			return fs_corrupt(bt->fs, "tree node %llu is empty",
					  (unsigned long long)blk);
		if (i < 0)
			i = 0;
		p->idx[p->depth++] = i;
		level = n->level - 1;
		blk = node_child(n, i);
	}
}

/* Move the path to the next (dir > 0) or previous leaf item. Returns 0,
 * -ENOENT at either end, or UDAX_ECORRUPT. */
static int bt_step(struct btree *bt, struct bt_path *p, int dir)
{
	int d = p->depth - 1;
	int ret;

	/* within the leaf */
	int ni = p->idx[d] + dir;
	if (ni >= 0 && ni < p->node[d]->nitems) {
		p->idx[d] = ni;
		return 0;
	}
	/* climb to a level that can move */
	for (d = p->depth - 2; d >= 0; d--) {
		ni = p->idx[d] + dir;
		if (ni >= 0 && ni < p->node[d]->nitems)
			break;
	}
	if (d < 0)
		return -ENOENT;
	p->idx[d] = ni;
	/* descend to the edge */
	for (; d < p->depth - 1; d++) {
		const struct udax_node *n;
		uint64_t c = node_child(p->node[d], p->idx[d]);
		ret = node_read(bt, c, p->node[d]->level - 1, &n);
		if (ret)
			return ret;
		if (n->nitems == 0)
			return fs_corrupt(bt->fs, "tree node %llu is empty",
					  (unsigned long long)c);
		p->blk[d + 1] = c;
		p->node[d + 1] = n;
		p->idx[d + 1] = dir > 0 ? 0 : n->nitems - 1;
	}
	return 0;
}

int bt_find(struct btree *bt, uint64_t key, enum bt_mode mode,
	    uint64_t *found_key, void *val, size_t *vlen)
{
	struct bt_path p;
	int ret, d;

	if (!bt->root)
		return -ENOENT;
	ret = bt_descend(bt, key, &p);
	if (ret)
		return ret;
	d = p.depth - 1;
	if (p.idx[d] >= 0 && p.node[d]->items[p.idx[d]].key == key) {
		/* exact */
	} else if (mode == BT_EQ) {
		return -ENOENT;
	} else if (mode == BT_LE) {
		if (p.idx[d] < 0) {
			p.idx[d] = 0;
			if (p.node[d]->nitems == 0)
				return -ENOENT;
			ret = bt_step(bt, &p, -1);
			if (ret)
				return ret;
		}
	} else {
		ret = bt_step(bt, &p, +1);
		if (ret)
			return ret;
	}
	const struct udax_node *n = p.node[d];
	const struct udax_node_item *it = &n->items[p.idx[d]];
	if (found_key)
		*found_key = it->key;
	if (vlen) {
		size_t cp = it->len < *vlen ? it->len : *vlen;
		if (val)
			memcpy(val, (const uint8_t *)n + it->off, cp);
		*vlen = it->len;
	}
	return 0;
}

/* ---- insert ---- */

struct bt_split {
	uint64_t key; /* lowest key of the new right node */
	uint64_t blk; /* the new right node */
};

/* Split node n (at blkno) while inserting (key,val,len) at index i:
 * every item goes left or right by bytes. */
static int node_split_insert(struct btree *bt, uint64_t blkno,
			     struct udax_node *n, int i, uint64_t key,
			     const void *val, size_t len,
			     struct bt_split *split)
{
	struct {
		uint64_t key;
		uint16_t len;
		uint16_t off; /* into tmp */
	} items[NODE_ITEMS_MAX + 1];
	static __thread uint8_t tmp[UDAX_BLOCK_SIZE * 2];
	size_t tpos = 0, total = 0, acc = 0;
	int cnt = 0, cut;
	struct udax_node *r;
	uint64_t rblk;
	int ret;

	for (int k = 0; k <= n->nitems; k++) {
		if (k == i) {
			memcpy(tmp + tpos, val, len);
			items[cnt].key = key;
			items[cnt].len = (uint16_t)len;
			items[cnt++].off = (uint16_t)tpos;
			tpos += len;
			total += 16 + len;
		}
		if (k == n->nitems)
			break;
		memcpy(tmp + tpos, node_val(n, k), n->items[k].len);
		items[cnt].key = n->items[k].key;
		items[cnt].len = n->items[k].len;
		items[cnt++].off = (uint16_t)tpos;
		tpos += n->items[k].len;
		total += 16 + n->items[k].len;
	}
	for (cut = 0; cut < cnt - 1; cut++) {
		acc += 16 + items[cut].len;
		if (acc >= total / 2) {
			cut++;
			break;
		}
	}
	if (cut <= 0)
		cut = 1;
	ret = node_alloc(bt, blkno, n->level, &rblk, &r);
	if (ret)
		return ret;
	int level = n->level;
	node_reset(n, bt, blkno, level);
	for (int k = 0; k < cnt; k++) {
		struct udax_node *dst = k < cut ? n : r;
		node_insert_at(dst, dst->nitems, items[k].key,
			       tmp + items[k].off, items[k].len);
	}
	split->key = items[cut].key;
	split->blk = rblk;
	return 0;
}

static int bt_insert_rec(struct btree *bt, uint64_t blkno, int level,
			 uint64_t key, const void *val, size_t len,
			 struct bt_split *split, int *did_split)
{
	const struct udax_node *rn;
	struct udax_node *n;
	int ret, i;

	*did_split = 0;
	ret = node_read(bt, blkno, level, &rn);
	if (ret)
		return ret;
	i = node_search(rn, key);
	if (rn->level == 0) {
		if (i >= 0 && rn->items[i].key == key)
			return -EEXIST;
		n = node_write(bt, blkno);
		if (!n)
			return bt->tx->failed;
		if (node_free(n) >= 16 + len) {
			node_insert_at(n, i + 1, key, val, len);
			return 0;
		}
		*did_split = 1;
		return node_split_insert(bt, blkno, n, i + 1, key, val, len,
					 split);
	}
	if (rn->nitems == 0)
		return fs_corrupt(bt->fs, "tree node %llu is empty",
				  (unsigned long long)blkno);
	if (i < 0) {
		/* a new smallest key: lower the first separator so that the
		 * node's keys stay sorted when the child splits */
		n = node_write(bt, blkno);
		if (!n)
			return bt->tx->failed;
		n->items[0].key = key;
		i = 0;
	}
	struct bt_split cs;
	int child_split;
	ret = bt_insert_rec(bt, node_child(rn, i), rn->level - 1, key, val, len,
			    &cs, &child_split);
	if (ret || !child_split)
		return ret;
	n = node_write(bt, blkno);
	if (!n)
		return bt->tx->failed;
	if (node_free(n) >= 16 + 8) {
		node_insert_at(n, i + 1, cs.key, &cs.blk, 8);
		return 0;
	}
	*did_split = 1;
	return node_split_insert(bt, blkno, n, i + 1, cs.key, &cs.blk, 8,
				 split);
}

int bt_insert(struct btree *bt, uint64_t key, const void *val, size_t len)
{
	struct bt_split split;
	int did_split, ret;

	if (len > BT_VAL_MAX)
		return -EINVAL;
	if (!bt->root) {
		struct udax_node *n;
		uint64_t blk;
		ret = node_alloc(bt, 0, 0, &blk, &n);
		if (ret)
			return ret;
		node_insert_at(n, 0, key, val, len);
		bt->root = blk;
		return 0;
	}
	ret = bt_insert_rec(bt, bt->root, -1, key, val, len, &split,
			    &did_split);
	if (ret || !did_split)
		return ret;
	/* the root split: grow a level */
	const struct udax_node *old;
	struct udax_node *r;
	uint64_t rblk;
	ret = node_read(bt, bt->root, -1, &old);
	if (ret)
		return ret;
	uint64_t first = old->items[0].key;
	int level = old->level + 1;
	if (level >= BT_MAX_DEPTH)
		return -ENOSPC;
	ret = node_alloc(bt, bt->root, level, &rblk, &r);
	if (ret)
		return ret;
	node_insert_at(r, 0, first, &bt->root, 8);
	node_insert_at(r, 1, split.key, &split.blk, 8);
	bt->root = rblk;
	return 0;
}

/* ---- delete ---- */

static int bt_delete_rec(struct btree *bt, uint64_t blkno, int level,
			 uint64_t key, int *empty)
{
	const struct udax_node *rn;
	struct udax_node *n;
	int ret, i;

	*empty = 0;
	ret = node_read(bt, blkno, level, &rn);
	if (ret)
		return ret;
	i = node_search(rn, key);
	if (rn->level == 0) {
		if (i < 0 || rn->items[i].key != key)
			return -ENOENT;
		n = node_write(bt, blkno);
		if (!n)
			return bt->tx->failed;
		node_remove_at(n, i);
		*empty = n->nitems == 0;
		return 0;
	}
	if (rn->nitems == 0)
		return fs_corrupt(bt->fs, "tree node %llu is empty",
				  (unsigned long long)blkno);
	if (i < 0)
		i = 0;
	uint64_t child = node_child(rn, i);
	int child_empty;
	ret = bt_delete_rec(bt, child, rn->level - 1, key, &child_empty);
	if (ret || !child_empty)
		return ret;
	ret = node_release(bt, child);
	if (ret)
		return ret;
	n = node_write(bt, blkno);
	if (!n)
		return bt->tx->failed;
	node_remove_at(n, i);
	*empty = n->nitems == 0;
	return 0;
}

int bt_delete(struct btree *bt, uint64_t key)
{
	int empty, ret;

	if (!bt->root)
		return -ENOENT;
	ret = bt_delete_rec(bt, bt->root, -1, key, &empty);
	if (ret)
		return ret;
	if (empty) {
		/* a directory keeps its empty root leaf: a name coming and
		 * going must not allocate and free a node each time */
		if (bt->kind == UDAX_TREE_DIR)
			return 0;
		ret = node_release(bt, bt->root);
		bt->root = 0;
		return ret;
	}
	/* collapse roots with a single child */
	for (;;) {
		const struct udax_node *r;
		ret = node_read(bt, bt->root, -1, &r);
		if (ret)
			return ret;
		if (r->level == 0 || r->nitems != 1)
			return 0;
		uint64_t child = node_child(r, 0);
		ret = node_release(bt, bt->root);
		if (ret)
			return ret;
		bt->root = child;
	}
}

int bt_replace(struct btree *bt, uint64_t key, const void *val, size_t len)
{
	struct bt_path p;
	int ret, d;

	if (!bt->root)
		return -ENOENT;
	ret = bt_descend(bt, key, &p);
	if (ret)
		return ret;
	d = p.depth - 1;
	if (p.idx[d] < 0 || p.node[d]->items[p.idx[d]].key != key)
		return -ENOENT;
	if (p.node[d]->items[p.idx[d]].len == len) {
		struct udax_node *n = node_write(bt, p.blk[d]);
		if (!n)
			return bt->tx->failed;
		memcpy(node_val(n, p.idx[d]), val, len);
		return 0;
	}
	ret = bt_delete(bt, key);
	if (ret)
		return ret;
	return bt_insert(bt, key, val, len);
}

/* ---- whole-tree walks ---- */

static int bt_walk_rec(struct btree *bt, uint64_t blkno, int level,
		       int (*cb)(uint64_t, int, void *), void *arg,
		       int free_nodes)
{
	const struct udax_node *n;
	int ret = node_read(bt, blkno, level, &n);

	if (ret)
		return ret;
	if (cb) {
		ret = cb(blkno, n->level, arg);
		if (ret)
			return ret;
	}
	if (n->level > 0) {
		int lv = n->level - 1, cnt = n->nitems;
		for (int i = 0; i < cnt; i++) {
			/* re-read: a transaction may move the shadow */
			ret = node_read(bt, blkno, lv + 1, &n);
			if (ret)
				return ret;
			ret = bt_walk_rec(bt, node_child(n, i), lv, cb, arg,
					  free_nodes);
			if (ret)
				return ret;
		}
	}
	return free_nodes ? node_release(bt, blkno) : 0;
}

int bt_walk_nodes(struct btree *bt, int (*cb)(uint64_t, int, void *), void *arg)
{
	if (!bt->root)
		return 0;
	return bt_walk_rec(bt, bt->root, -1, cb, arg, 0);
}

int bt_destroy(struct btree *bt)
{
	int ret;

	if (!bt->root)
		return 0;
	ret = bt_walk_rec(bt, bt->root, -1, NULL, NULL, 1);
	if (!ret)
		bt->root = 0;
	return ret;
}
