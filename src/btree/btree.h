/* SPDX-License-Identifier: MIT */
/*
 * btree.h - B+trees of 4 KiB nodes with u64 keys and variable-length
 * values, the structure under extent maps, directories and the refcount
 * tree (node layout: struct udax_node in format.h).
 *
 * Reads work with or without a transaction (bt->tx NULL reads home
 * copies; the caller holds the lock of the tree's owner). Changes need a
 * transaction. The root block number lives with the owner (an inode or
 * the state block): after a change, if bt->root differs from what the
 * owner stores, the caller writes it back.
 *
 * Every node is checked (magic, block number, owner, kind, level, item
 * bounds, and the crc on first sight) before use; a bad node gives
 * UDAX_ECORRUPT with a message naming it.
 */
#ifndef UDAX_BTREE_H
#define UDAX_BTREE_H

#include <stddef.h>
#include <stdint.h>

struct udax_fs;
struct tx;

#define BT_MAX_DEPTH 8
#define BT_VAL_MAX 1024 /* largest value */

struct btree {
	struct udax_fs *fs;
	struct tx *tx;	     /* NULL: read only */
	uint64_t root;	     /* root node, 0 = empty tree */
	uint64_t owner;	     /* inode number, 0 for the refcount tree */
	uint16_t kind;	     /* UDAX_TREE_* */
	int64_t nodes_delta; /* nodes allocated - freed by this handle */
};

static inline void bt_init(struct btree *bt, struct udax_fs *fs, struct tx *tx,
			   uint64_t root, uint64_t owner, uint16_t kind)
{
	bt->fs = fs;
	bt->tx = tx;
	bt->root = root;
	bt->owner = owner;
	bt->kind = kind;
	bt->nodes_delta = 0;
}

/* Greatest key <= key (BT_LE) or smallest key >= key (BT_GE), or exactly
 * key (BT_EQ). Copies the value (up to *vlen bytes; *vlen is set to its
 * length). Returns 0, -ENOENT, or UDAX_ECORRUPT. */
enum bt_mode { BT_EQ, BT_LE, BT_GE };
int bt_find(struct btree *bt, uint64_t key, enum bt_mode mode,
	    uint64_t *found_key, void *val, size_t *vlen);

/* Insert a new key. Returns 0, -EEXIST, -ENOSPC, -ENOMEM, UDAX_ECORRUPT. */
int bt_insert(struct btree *bt, uint64_t key, const void *val, size_t len);

/* Replace the value of an existing key (any length). Returns 0, -ENOENT,
 * or as bt_insert. */
int bt_replace(struct btree *bt, uint64_t key, const void *val, size_t len);

/* Delete a key. Returns 0, -ENOENT, UDAX_ECORRUPT. */
int bt_delete(struct btree *bt, uint64_t key);

/* Free every node of the tree (values are the caller's business and must
 * already be released). Returns 0 or a negative errno. */
int bt_destroy(struct btree *bt);

/* Visit every node of the tree (for fsck): cb(node_blkno, level, arg).
 * Checks every node as it goes. */
int bt_walk_nodes(struct btree *bt,
		  int (*cb)(uint64_t blkno, int level, void *arg), void *arg);

/* Forget which nodes have had their checksum verified (after mount). */
int bt_verified_init(struct udax_fs *fs);
void bt_verified_fini(struct udax_fs *fs);

#endif /* UDAX_BTREE_H */
