/* SPDX-License-Identifier: MIT */
/*
 * walk.c - Tree walks, for every pass
 *
 * One recursive walk serves every pass. In WALK_CHECK (pass 1) it
 * checks each node: block number within the data area, not used twice,
 * header (magic, block number, owner, kind, level), checksum, item table
 * (value bounds, keys in increasing order and within the range the
 * parent gives), values packed; nodes found damaged are dropped with
 * their subtree, damaged items are dropped from their node; nodes kept
 * are claimed in the used map. In WALK_QUIET (later walks) it follows
 * only the nodes pass 1 kept. In both, a callback judges each leaf item
 * and may keep it, drop it or rewrite its value; a node left empty is
 * dropped, and a changed node is rebuilt packed and resealed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btree/btree.h"
#include "sys/sys.h"
#include "fsck/fsck_int.h"

static const char *kind_name(uint16_t kind)
{
	return kind == UDAX_TREE_DIR	? "directory" :
	       kind == UDAX_TREE_EXTENT ? "extent" :
	       kind == UDAX_TREE_XATTR	? "xattr" :
					  "refcount";
}

static int seen_push(struct fsck *fc, uint64_t blk)
{
	if (fc->nseen == fc->capseen) {
		size_t ncap = fc->capseen ? fc->capseen * 2 : 256;
		uint64_t *n = sys_realloc(fc->seen_list, ncap * sizeof(*n));
		if (!n) {
			fc->oom = 1;
			return -ENOMEM;
		}
		fc->seen_list = n;
		fc->capseen = ncap;
	}
	fc->seen_list[fc->nseen++] = blk;
	bit_set(fc->seen, blk);
	return 0;
}

/* Why a node header is not acceptable here, or NULL. */
static const char *node_hdr_why(struct walk *w, const struct udax_node *n,
				uint64_t blk, int level)
{
	if (n->magic != UDAX_NODE_MAGIC)
		return "bad magic number";
	if (n->blkno != blk)
		return "wrong block number";
	if (n->owner != w->ino)
		return "wrong owner";
	if (n->kind != w->kind)
		return "wrong tree kind";
	if (n->level >= BT_MAX_DEPTH || (level >= 0 && n->level != level))
		return "wrong level";
	/* only a directory's root leaf may be empty: an emptied directory
	 * keeps it (FORMAT.md, B+tree nodes) */
	if (n->nitems == 0 &&
	    !(w->kind == UDAX_TREE_DIR && level < 0 && n->level == 0))
		return "empty node";
	if (n->nitems > NODE_ITEMS_MAX)
		return "too many items";
	if (n->val_start > UDAX_BLOCK_SIZE ||
	    n->val_start < UDAX_NODE_HDR + (size_t)n->nitems * 16)
		return "bad value area";
	return NULL;
}

struct item_sel {
	uint64_t key;
	uint16_t off, len;
	uint8_t keep;
	uint8_t rewritten;
	uint16_t idx;  /* original index */
	uint16_t nlen; /* rewritten value length */
	uint16_t noff; /* rewritten value offset in scratch vals */
};

static int sel_by_off(const void *a, const void *b)
{
	const struct item_sel *x = *(const struct item_sel *const *)a;
	const struct item_sel *y = *(const struct item_sel *const *)b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keep the largest set of items whose keys strictly increase (earliest
 * items first among equals): a single out-of-order key loses only its
 * own item. O(n^2) over at most 253 items, only for disordered nodes. */
static void keep_increasing(struct item_sel *s, int n, uint16_t *dp,
			    int16_t *from)
{
	int best = -1;

	for (int i = 0; i < n; i++) {
		dp[i] = 0;
		from[i] = -1;
		if (!s[i].keep)
			continue;
		dp[i] = 1;
		for (int j = 0; j < i; j++)
			if (s[j].keep && s[j].key < s[i].key &&
			    dp[j] + 1 > dp[i]) {
				dp[i] = (uint16_t)(dp[j] + 1);
				from[i] = (int16_t)j;
			}
		if (best < 0 || dp[i] > dp[best])
			best = i;
	}
	uint8_t on[NODE_ITEMS_MAX] = {0};
	for (int i = best; i >= 0; i = from[i])
		on[i] = 1;
	for (int i = 0; i < n; i++)
		if (!on[i])
			s[i].keep = 0;
}

static int walk_node(struct walk *w, uint64_t blk, int level, uint64_t lo,
		     uint64_t hi, int depth);

/* Unclaim a node dropped after pass 1 kept it. */
static void node_unclaim(struct walk *w, uint64_t blk)
{
	struct fsck *fc = w->fc;

	if (w->readonly || blk >= fc->nblocks || !bit_test(fc->nodes_ok, blk))
		return;
	bit_clear(fc->nodes_ok, blk);
	bit_clear(fc->used, blk);
}

/*
 * Read node `blk` into the scratch of its level, if it may be a node of
 * this tree at all: inside the data area and the device, not met twice in
 * this walk, not claimed by anything before it (pass 1) or kept by pass 1
 * (later walks), with a sound header. A checksum mismatch that one flipped
 * bit explains is repaired; any other is left in *crc_bad, for the rebuild
 * to reseal. Returns W_KEEP (*home: the node in the work image), W_DROP,
 * or -ENOMEM.
 */
static int node_read(struct walk *w, uint64_t blk, int level, int depth,
		     uint8_t **home_out, int *crc_bad)
{
	struct fsck *fc = w->fc;
	int check = w->phase == WALK_CHECK;
	struct udax_node *n = (struct udax_node *)fc->scratch[depth].node;
	uint8_t *nb = (uint8_t *)n;
	const char *why = NULL;
	uint8_t *home;

	/* where the pointer leads, before reading anything there: a block
	 * met twice would make the walk loop or claim a block twice */
	if (blk < fc->sb.data_start || blk >= fc->nblocks - 1)
		why = "it lies outside the data area";
	else if (!(home = blk_ptr(fc, blk)))
		why = "it lies past the end of the device";
	else if (bit_test(fc->seen, blk))
		why = "it is referenced twice";
	else if (check && bit_test(fc->used, blk))
		why = "its block is already in use";
	else if (!check && !bit_test(fc->nodes_ok, blk))
		return W_DROP; /* pass 1 dropped it */
	if (why || depth > BT_MAX_DEPTH) {
		if (check)
			fix_problem(fc, PR_1_NODE_BAD, kind_name(w->kind),
				    (unsigned long long)blk,
				    (unsigned long long)w->ino,
				    why ? why : "the tree is too deep");
		return W_DROP;
	}
	if (seen_push(fc, blk))
		return -ENOMEM;
	/* a copy: the checks below may flip a bit back or drop items
	 * before anything is written home */
	memcpy(nb, home, UDAX_BLOCK_SIZE);

	/* one flipped bit is repaired only if the header it gives is sound:
	 * a lucky match on a node of another tree must not be taken */
	if (check && udax_block_crc(nb, UDAX_BLOCK_SIZE, 4) != n->crc) {
		long f = crc_find_flip(nb, UDAX_BLOCK_SIZE, 4, n->crc);
		*crc_bad = 1;
		if (f >= 0) {
			flip_bit(nb, f);
			if (!node_hdr_why(w, n, blk, level)) {
				if (fix_problem(fc, PR_1_NODE_BIT,
						kind_name(w->kind),
						(unsigned long long)blk,
						(unsigned long long)w->ino,
						(unsigned)(f / 8),
						(unsigned)(f % 8)))
					img_write(fc, home, nb,
						  UDAX_BLOCK_SIZE);
				*crc_bad = 0;
			} else {
				flip_bit(nb, f);
			}
		}
	}
	/* a bad header means the block is not this node: drop the subtree
	 * rather than trust any item in it */
	why = node_hdr_why(w, n, blk, level);
	if (why) {
		if (check)
			fix_problem(fc, PR_1_NODE_BAD, kind_name(w->kind),
				    (unsigned long long)blk,
				    (unsigned long long)w->ino, why);
		return W_DROP;
	}
	*home_out = home;
	return W_KEEP;
}

/*
 * Judge the item table of node n: an item whose value lies outside the
 * node, a child pointer not 8 bytes long, a key outside the range the
 * parent gives: dropped; keys out of order: the fewest items dropped that
 * leave them increasing (keep_increasing). Fills sel[0..n->nitems).
 * Returns 1 if an item was dropped (the node must be rebuilt), else 0.
 */
static int items_select(struct walk *w, uint64_t blk, const struct udax_node *n,
			uint64_t lo, uint64_t hi, struct item_sel *sel)
{
	struct fsck *fc = w->fc;
	int check = w->phase == WALK_CHECK;
	int ni = n->nitems, dirty = 0, ordered = 1;
	const char *why;

	for (int i = 0; i < ni; i++) {
		const struct udax_node_item *x = &n->items[i];
		struct item_sel *s = &sel[i];
		s->key = x->key;
		s->off = x->off;
		s->len = x->len;
		s->idx = (uint16_t)i;
		s->keep = 1;
		s->rewritten = 0;
		why = NULL;
		if (x->off < n->val_start || x->len > BT_VAL_MAX ||
		    (size_t)x->off + x->len > UDAX_BLOCK_SIZE)
			why = "its value lies outside the node";
		else if (n->level && x->len != 8)
			why = "bad child pointer";
		else if (x->key < lo || x->key >= hi)
			why = "its key lies outside its parent's range";
		if (why) {
			if (check)
				fix_problem(fc, PR_1_NODE_ITEM,
					    kind_name(w->kind),
					    (unsigned long long)blk,
					    (unsigned long long)w->ino,
					    (unsigned)i, why);
			s->keep = 0;
			dirty = 1;
			continue;
		}
		/* only against the previous item kept: one bad key must not
		 * make its neighbours look out of order */
		for (int j = i - 1; j >= 0; j--)
			if (sel[j].keep) {
				if (sel[j].key >= s->key)
					ordered = 0;
				break;
			}
	}
	/* lookups binary-search the keys: any disorder hides items, so it
	 * is repaired, losing as few items as possible */
	if (!ordered) {
		uint16_t dp[NODE_ITEMS_MAX];
		int16_t from[NODE_ITEMS_MAX];
		uint8_t was[NODE_ITEMS_MAX];
		for (int i = 0; i < ni; i++)
			was[i] = sel[i].keep;
		keep_increasing(sel, ni, dp, from);
		for (int i = 0; i < ni; i++)
			if (was[i] && !sel[i].keep) {
				if (check)
					fix_problem(fc, PR_1_NODE_ITEM,
						    kind_name(w->kind),
						    (unsigned long long)blk,
						    (unsigned long long)w->ino,
						    (unsigned)i,
						    "its key is out of order");
				dirty = 1;
			}
	}
	return dirty;
}

/*
 * The values of the items kept must not overlap (the later item of two
 * that do is dropped: a write to one would change the other) and should
 * be packed against the end of the node, as the library's inserts
 * assume. Returns dirty, set if the node must be rebuilt.
 */
static int values_check(struct walk *w, uint64_t blk, const struct udax_node *n,
			struct item_sel *sel, int dirty)
{
	struct fsck *fc = w->fc;
	int check = w->phase == WALK_CHECK;
	int ni = n->nitems, nk = 0;
	struct item_sel *byoff[NODE_ITEMS_MAX];
	size_t total = 0;

	for (int i = 0; i < ni; i++)
		if (sel[i].keep)
			byoff[nk++] = &sel[i];
	qsort(byoff, (size_t)nk, sizeof(byoff[0]), sel_by_off);
	for (int k = 1; k < nk; k++) {
		struct item_sel *a = byoff[k - 1], *b = byoff[k];
		if ((size_t)a->off + a->len > b->off) {
			struct item_sel *loser = a->idx > b->idx ? a : b;
			if (check)
				fix_problem(fc, PR_1_NODE_ITEM,
					    kind_name(w->kind),
					    (unsigned long long)blk,
					    (unsigned long long)w->ino,
					    (unsigned)loser->idx,
					    "its value overlaps another");
			loser->keep = 0;
			dirty = 1;
			if (loser == b) {
				byoff[k] = a; /* keep comparing a */
			}
		}
	}
	/* a node rebuilt anyway comes out packed: report only the others */
	for (int i = 0; i < ni; i++)
		if (sel[i].keep)
			total += sel[i].len;
	if (!dirty && total != (size_t)UDAX_BLOCK_SIZE - n->val_start) {
		if (check)
			fix_problem(fc, PR_1_NODE_PACK, kind_name(w->kind),
				    (unsigned long long)blk,
				    (unsigned long long)w->ino);
		dirty = 1;
	}
	return dirty;
}

/*
 * Walk what the items kept point at: each child, with the key range its
 * separator and the next kept one give it, or each leaf item, judged by
 * the walk's callback. What is dropped is unmarked in sel (*dropped); a
 * value rewritten is staged in the level's scratch (*dirty).
 */
static void items_walk(struct walk *w, uint64_t blk, const struct udax_node *n,
		       struct item_sel *sel, uint64_t lo, uint64_t hi,
		       int depth, int *dirty, int *dropped)
{
	const uint8_t *nb = (const uint8_t *)n;
	uint8_t *vals = (uint8_t *)w->fc->scratch[depth].vals;
	int ni = n->nitems, first = 1;
	size_t vcur = 0;

	for (int i = 0; i < ni; i++) {
		struct item_sel *s = &sel[i];
		if (!s->keep)
			continue;
		if (n->level > 0) {
			uint64_t child, chi = hi;
			memcpy(&child, nb + s->off, 8);
			for (int j = i + 1; j < ni; j++)
				if (sel[j].keep) {
					chi = sel[j].key;
					break;
				}
			/* the first child kept also covers the keys below
			 * its separator, down to the parent's bound */
			int r = walk_node(w, child, n->level - 1,
					  first ? lo : s->key, chi, depth + 1);
			/* the recursion reused deeper scratch only */
			if (r == W_DROP) {
				s->keep = 0;
				*dropped = 1;
			}
		} else {
			size_t olen = 0;
			int r = w->item(w, blk, s->key, nb + s->off, s->len,
					vals + vcur, &olen);
			if (r == W_DROP) {
				s->keep = 0;
				*dropped = 1;
			} else if (r == W_REWRITE && olen <= s->len) {
				/* never longer: the rebuilt node must fit */
				s->rewritten = 1;
				s->noff = (uint16_t)vcur;
				s->nlen = (uint16_t)olen;
				vcur += olen;
				*dirty = 1;
			}
		}
		if (s->keep)
			first = 0;
	}
}

/*
 * Rebuild node n from the items kept, values packed from the end of the
 * block (rewritten ones from the scratch), and reseal it in place. Pass 1
 * reports a checksum mismatch that nothing else changed, and marks a leaf
 * that had one as suspect: pass 1 trusts its extents less.
 */
static void node_rebuild(struct walk *w, uint64_t blk, uint8_t *home, int depth,
			 const struct item_sel *sel, int crc_bad, int changed)
{
	struct fsck *fc = w->fc;
	struct wscratch *sc = &fc->scratch[depth];
	const uint8_t *nb = (const uint8_t *)sc->node;
	const struct udax_node *n = (const struct udax_node *)sc->node;
	const uint8_t *vals = (const uint8_t *)sc->vals;
	struct udax_node *b = (struct udax_node *)sc->build;
	uint8_t *bb = (uint8_t *)sc->build;
	int check = w->phase == WALK_CHECK;

	memset(bb, 0, UDAX_BLOCK_SIZE);
	memcpy(bb, nb, UDAX_NODE_HDR);
	b->nitems = 0;
	b->val_start = UDAX_BLOCK_SIZE;
	for (int i = 0; i < n->nitems; i++) {
		const struct item_sel *s = &sel[i];
		const uint8_t *v = s->rewritten ? vals + s->noff : nb + s->off;
		uint16_t len = s->rewritten ? s->nlen : s->len;
		if (!s->keep)
			continue;
		b->val_start = (uint16_t)(b->val_start - len);
		memcpy(bb + b->val_start, v, len);
		b->items[b->nitems] = (struct udax_node_item){
			.key = s->key, .off = b->val_start, .len = len};
		b->nitems++;
	}
	if (check && crc_bad && !changed)
		fix_problem(fc, PR_1_NODE_CSUM, kind_name(w->kind),
			    (unsigned long long)blk,
			    (unsigned long long)w->ino);
	if (check && crc_bad && n->level == 0) {
		bit_set(fc->suspect, blk);
		w->suspect = 1;
	}
	img_block_seal(bb);
	if (!w->readonly)
		img_write(fc, home, bb, UDAX_BLOCK_SIZE);
}

/*
 * Walk the subtree at `blk` (level `level`, -1 for a root of any level;
 * keys in [lo, hi); `depth` below the root picks the scratch). Returns
 * W_KEEP, or W_DROP if the parent must drop its pointer to it.
 */
static int walk_node(struct walk *w, uint64_t blk, int level, uint64_t lo,
		     uint64_t hi, int depth)
{
	struct fsck *fc = w->fc;
	int check = w->phase == WALK_CHECK;
	const struct udax_node *n =
		(const struct udax_node *)fc->scratch[depth].node;
	struct item_sel sel[NODE_ITEMS_MAX];
	int dirty, crc_bad = 0, dropped = 0, r;
	uint8_t *home = NULL;

	/* is the block this node at all? if not, its subtree goes too */
	r = node_read(w, blk, level, depth, &home, &crc_bad);
	if (r < 0)
		return W_KEEP; /* out of memory: the run stops, change nothing */
	if (r == W_DROP)
		return W_DROP;
	/* which items can be trusted, then what they point at */
	dirty = items_select(w, blk, n, lo, hi, sel);
	dirty = values_check(w, blk, n, sel, dirty);
	items_walk(w, blk, n, sel, lo, hi, depth, &dirty, &dropped);

	int kept = 0;
	for (int i = 0; i < n->nitems; i++)
		kept += sel[i].keep;
	/* a node left empty goes: the library never leaves one, except
	 * that an emptied directory keeps its root leaf with no items */
	int empty_dir_root = n->nitems == 0 && w->kind == UDAX_TREE_DIR &&
			     depth == 0 && n->level == 0;
	if (!kept && !empty_dir_root) {
		if (!check)
			node_unclaim(w, blk);
		return W_DROP;
	}
	if (dirty || dropped || crc_bad)
		node_rebuild(w, blk, home, depth, sel, crc_bad,
			     dirty || dropped);
	/* pass 1 claims the nodes it keeps; a walk that releases (a tree
	 * being dropped) gives them back */
	if (check) {
		bit_set(fc->used, blk);
		bit_set(fc->nodes_ok, blk);
	}
	if (w->release) {
		bit_clear(fc->used, blk);
		bit_clear(fc->nodes_ok, blk);
	}
	w->nodes++;
	return W_KEEP;
}

/* Walk a whole tree from `root`. Returns W_KEEP, or W_DROP if the root
 * must go (the owner's root pointer becomes 0). */
int walk_tree(struct walk *w, uint64_t root)
{
	struct fsck *fc = w->fc;
	int r;

	w->nodes = 0;
	w->ext_end = 0;
	w->data = 0;
	w->entries = 0;
	if (!root)
		return W_KEEP;
	r = walk_node(w, root, -1, 0, UINT64_MAX, 0);
	for (size_t i = 0; i < fc->nseen; i++)
		bit_clear(fc->seen, fc->seen_list[i]);
	fc->nseen = 0;
	return r;
}

void walk_init(struct walk *w, struct fsck *fc, uint64_t ino, uint16_t kind,
	       int phase, walk_item_fn item)
{
	memset(w, 0, sizeof(*w));
	w->fc = fc;
	w->ino = ino;
	w->kind = kind;
	w->phase = phase;
	w->item = item;
	w->trusted = 1;
}
