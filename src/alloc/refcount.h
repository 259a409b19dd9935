/* SPDX-License-Identifier: MIT */
/*
 * refcount.h - the refcount tree: which device blocks are shared.
 *
 * Reflink and dedupe map one device block into several extents (of one
 * file or several). The refcount tree (B+tree kind 3, owner 0, root in
 * the state block: FORMAT.md 11) holds one item per range of shared
 * blocks, key = first device block, value {len, refs} with refs >= 2;
 * a block in no item has one owner. So an image that never cloned has
 * an empty tree and pays nothing.
 *
 * Every path that takes a data block out of an extent frees it through
 * refcount_put() (ext_release_free): a shared block loses one
 * reference, a block whose last reference goes is freed. Clones add one
 * through refcount_get(). Both change the tree in the caller's
 * transaction; the first change of a transaction takes fs->refcount_lock
 * exclusively until the transaction ends (fs.h), so readers on other
 * threads (refcount_run without a transaction: is this block shared?)
 * never see a half-installed tree.
 */
#ifndef UDAX_REFCOUNT_H
#define UDAX_REFCOUNT_H

#include <stdint.h>

struct udax_fs;
struct tx;

/* The run of blocks from `dev` (at most len) that all have the same
 * number of references: *run blocks, *refs references each (1: not in
 * the tree). tx NULL reads the home copy under refcount_lock (the
 * caller holds no transaction); with tx, the transaction's view.
 * Returns 0 or UDAX_ECORRUPT (a damaged item). */
int refcount_run(struct udax_fs *fs, struct tx *tx, uint64_t dev, uint64_t len,
		 uint64_t *run, uint32_t *refs);

/* Is any block of [dev, dev+len) shared? 1, 0, or UDAX_ECORRUPT. */
int refcount_any_shared(struct udax_fs *fs, uint64_t dev, uint64_t len);

/* One more reference on every block of [dev, dev+len) (blocks that are
 * mapped: one owner or more), in tx. The first in a file system turns
 * the REFLINK feature on in the same transaction (both superblocks).
 * Returns 0, -ENOSPC, -ENOMEM (journal full), UDAX_ECORRUPT. */
int refcount_get(struct tx *tx, uint64_t dev, uint64_t len);

/* One reference less on every block of [dev, dev+len), in tx; a block
 * whose last reference this was is freed (tx_free_blocks). Returns 0,
 * -ENOSPC, -ENOMEM, UDAX_ECORRUPT. */
int refcount_put(struct tx *tx, uint64_t dev, uint64_t len);

/* Shadow blocks one refcount change may need in a transaction (one item
 * split in three: a replace and two inserts, each splitting a path). */
#define REFCOUNT_TX_BLOCKS (3 * 8 + 4)

#endif /* UDAX_REFCOUNT_H */
