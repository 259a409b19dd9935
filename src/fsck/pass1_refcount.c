/* SPDX-License-Identifier: MIT */
/*
 * pass1_refcount.c - Pass 1: the refcount tree against the extent maps
 *
 * With the REFLINK feature a data block may be mapped by several
 * extents, and the refcount tree (FORMAT.md 11) holds, for every block
 * mapped more than once, exactly how many extents map it. Pass 1 counts
 * the extents of every file that claim each block (ext_refs; a block
 * claimed by a tree node or fixed metadata is still a duplicate) and
 * the tree's count of each block (tree_refs), then checks:
 *   - a non-empty tree needs the feature (else the tree is dropped;
 *     pass1.c, PR_1_REFCOUNT_FEATURE);
 *   - every item is well formed and no two items overlap (else dropped,
 *     PR_1_REFCOUNT_BAD);
 *   - every block mapped by two extents or more is in the tree
 *     (PR_1_REFCOUNT_MISSING);
 *   - no block in the tree is mapped by fewer than two
 *     (PR_1_REFCOUNT_UNSHARED);
 *   - the tree's count is the number of extents (PR_1_REFCOUNT_COUNT).
 * The repair of the last three rebuilds the tree from the counts: its
 * old nodes go back to free space and new ones are written in free
 * blocks, which pass 5 marks in the bitmap with the rest. The REFLINK
 * bit with an empty tree is valid (the bit stays once set).
 */
#include <string.h>

#include "fsck/fsck_int.h"
#include "sys/sys.h"

/* Items a rebuilt node holds: 48 + 128 * (16 + 8) bytes fit a block. */
#define RC_NODE_ITEMS 128

int pass1_refcount_init(struct fsck *fc)
{
	if (!(fc->sb.feat_incompat & UDAX_FEAT_INCOMPAT_REFLINK))
		return 0;
	fc->ext_refs = sys_calloc((size_t)fc->nblocks, sizeof(uint32_t));
	fc->tree_refs = sys_calloc((size_t)fc->nblocks, sizeof(uint32_t));
	if (!fc->ext_refs || !fc->tree_refs)
		return op_error(fc, "%s: out of memory", fc->name);
	return 0;
}

/* Pass 1: a refcount item: well formed, overlapping no other. */
int refcount_item(struct walk *w, uint64_t leaf, uint64_t key,
		  const uint8_t *val, size_t len, uint8_t *out, size_t *out_len)
{
	struct fsck *fc = w->fc;
	struct udax_refcount_val r;
	int overlap = 0;
	(void)leaf, (void)out, (void)out_len;

	if (len == sizeof(r))
		memcpy(&r, val, sizeof(r));
	if (len == sizeof(r) && r.len && key >= fc->sb.data_start &&
	    key < fc->nblocks - 1 && r.len <= fc->nblocks - 1 - key)
		for (uint64_t b = key; b < key + r.len; b++)
			overlap |= bit_test(fc->shared_bm, b);
	if (len != sizeof(r) || r.len == 0 || r.refs < 2 ||
	    key < fc->sb.data_start || key >= fc->nblocks - 1 ||
	    r.len > fc->nblocks - 1 - key || overlap) {
		fix_problem(fc, PR_1_REFCOUNT_BAD, (unsigned long long)key);
		return W_DROP;
	}
	for (uint64_t b = key; b < key + r.len; b++) {
		bit_set(fc->shared_bm, b);
		if (fc->tree_refs)
			fc->tree_refs[b] = r.refs;
	}
	return W_KEEP;
}

/* A free block of the data area for a new node, marked used; 0 if none. */
static uint64_t rc_take_block(struct fsck *fc, uint64_t *cursor)
{
	for (; *cursor < fc->nblocks - 1; (*cursor)++)
		if (!bit_test(fc->used, *cursor)) {
			bit_set(fc->used, *cursor);
			bit_set(fc->nodes_ok, *cursor);
			return (*cursor)++;
		}
	return 0;
}

/* Write one node of n items (keys[i], 8-byte vals[i]) at block b. */
static void rc_write_node(struct fsck *fc, uint64_t b, int level,
			  const uint64_t *keys, const uint64_t *vals, size_t n)
{
	struct udax_node *nd = (void *)fc->scratch[0].build;
	uint8_t *p = (uint8_t *)nd;

	memset(nd, 0, UDAX_BLOCK_SIZE);
	nd->magic = UDAX_NODE_MAGIC;
	nd->blkno = b;
	nd->owner = 0;
	nd->kind = UDAX_TREE_REFCOUNT;
	nd->level = (uint16_t)level;
	nd->nitems = (uint16_t)n;
	nd->val_start = (uint16_t)(UDAX_BLOCK_SIZE - 8 * n);
	for (size_t i = 0; i < n; i++) {
		nd->items[i].key = keys[i];
		nd->items[i].off = (uint16_t)(UDAX_BLOCK_SIZE - 8 * (i + 1));
		nd->items[i].len = 8;
		memcpy(p + nd->items[i].off, &vals[i], 8);
	}
	img_block_seal(nd);
	img_write(fc, blk_ptr(fc, b), nd, UDAX_BLOCK_SIZE);
}

/* Build a tree bottom-up from n sorted (key, value) pairs, in place:
 * each level replaces the pairs by one per node (its first key, its
 * block). Returns the root, or 0 (no free block: the tree is left
 * empty, which the next run reports again). */
static uint64_t rc_build(struct fsck *fc, uint64_t *keys, uint64_t *vals,
			 size_t n)
{
	uint64_t cursor = fc->sb.data_start;

	for (int level = 0; n; level++) {
		size_t out = 0;
		for (size_t i = 0; i < n; i += RC_NODE_ITEMS) {
			size_t k =
				n - i < RC_NODE_ITEMS ? n - i : RC_NODE_ITEMS;
			uint64_t b = rc_take_block(fc, &cursor);
			if (!b)
				return 0;
			rc_write_node(fc, b, level, keys + i, vals + i, k);
			keys[out] = keys[i];
			vals[out++] = b;
		}
		if (out == 1)
			return vals[0];
		n = out;
	}
	return 0;
}

/* Rebuild the tree from ext_refs. */
static void rc_rebuild(struct fsck *fc)
{
	uint64_t *keys = NULL, *vals = NULL;
	size_t n = 0, cap = 0;

	if (fc->st.refcount_root) {
		/* the old nodes go back: the new tree is written elsewhere */
		struct walk w;
		walk_init(&w, fc, 0, UDAX_TREE_REFCOUNT, WALK_QUIET, item_keep);
		w.readonly = 1;
		w.release = 1;
		walk_tree(&w, fc->st.refcount_root);
	}
	fc->st.refcount_root = 0;
	for (uint64_t b = fc->sb.data_start; b < fc->nblocks - 1;) {
		uint32_t r = fc->ext_refs[b];
		uint64_t e = b + 1;
		if (r < 2) {
			b++;
			continue;
		}
		while (e < fc->nblocks - 1 && fc->ext_refs[e] == r &&
		       e - b < UINT32_MAX)
			e++;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			uint64_t *k2 = sys_realloc(keys, nc * 8);
			if (k2)
				keys = k2;
			uint64_t *v2 = k2 ? sys_realloc(vals, nc * 8) : NULL;
			if (!v2) {
				fc->oom = 1;
				goto free_arrays;
			}
			vals = v2;
			cap = nc;
		}
		struct udax_refcount_val v = {.len = (uint32_t)(e - b),
					      .refs = r};
		keys[n] = b;
		memcpy(&vals[n++], &v, 8);
		b = e;
	}
	fc->st.refcount_root = rc_build(fc, keys, vals, n);
free_arrays:
	free(keys);
	free(vals);
}

void pass1_refcount_check(struct fsck *fc)
{
	struct ranges missing = {0}, unshared = {0}, wrong = {0};
	int fix = 0;

	if (!fc->ext_refs)
		return;
	for (uint64_t b = fc->sb.data_start; b < fc->nblocks - 1; b++) {
		uint32_t want = fc->ext_refs[b] >= 2 ? fc->ext_refs[b] : 0;
		uint32_t have = fc->tree_refs[b];
		if (want == have)
			continue;
		ranges_add(!have ? &missing : !want ? &unshared : &wrong, b);
	}
	if (missing.open)
		fix |= fix_problem(fc, PR_1_REFCOUNT_MISSING,
				   ranges_text(&missing));
	if (unshared.open)
		fix |= fix_problem(fc, PR_1_REFCOUNT_UNSHARED,
				   ranges_text(&unshared));
	if (wrong.open)
		fix |= fix_problem(fc, PR_1_REFCOUNT_COUNT,
				   ranges_text(&wrong));
	if (fix)
		rc_rebuild(fc);
}
