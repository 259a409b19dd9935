/* SPDX-License-Identifier: MIT */
/*
 * pass1_xattr.c - Pass 1, xattr trees (FORMAT.md 12)
 *
 * Checks, for every inode in use that has an xattr tree:
 *   - the XATTR feature is on (else the tree is dropped);
 *   - every node, as walk_node() checks it (kind 4, the inode as owner);
 *   - every bucket item (key with low byte 0): each entry parses (sizes,
 *     layout, chunk numbers), its name lies in a known namespace, hashes
 *     to the bucket's key and is not repeated, and the chunks it names
 *     exist with the sizes its value needs; entries that fail are
 *     dropped (the bucket rewritten), an empty bucket goes;
 *   - every chunk item (low byte 1..255) belongs to an entry of the
 *     bucket before it; orphan chunks are dropped;
 *   - the nodes kept count in the inode's blocks (pass 1 and, for
 *     directories, pass 2 compare).
 * Two walks: the first checks the nodes and records the chunks present,
 * the second judges the items against that record.
 */
#include <stdlib.h>
#include <string.h>

#include "inode/inode.h"
#include "sys/sys.h"
#include "fsck/fsck_int.h"

/* What the two walks of one xattr tree share (walk.xattr). */
struct xwalk {
	uint64_t *keys; /* chunk items present with a valid size, in order */
	uint16_t *lens;
	size_t n, cap;
	int oom;
	/* the second walk: the bucket before the items now visited, and the
	 * chunk sizes its kept entries need (0 = none) */
	uint64_t bucket;
	uint16_t want[256];
};

static int name_known(const char *name, size_t len)
{
	static const char *const prefix[] = {"user.", "trusted.", "security."};
	static const char *const whole[] = {"system.posix_acl_access",
					    "system.posix_acl_default"};

	for (size_t i = 0; i < 3; i++) {
		size_t pl = strlen(prefix[i]);
		if (len > pl && !memcmp(name, prefix[i], pl))
			return 1;
	}
	for (size_t i = 0; i < 2; i++)
		if (len == strlen(whole[i]) && !memcmp(name, whole[i], len))
			return 1;
	return 0;
}

/* First walk: record chunk items (and drop ones of a bad size). */
static int xattr_item_record(struct walk *w, uint64_t leaf, uint64_t key,
			     const uint8_t *val, size_t len, uint8_t *out,
			     size_t *out_len)
{
	struct xwalk *x = w->xattr;
	(void)leaf, (void)val, (void)out, (void)out_len;

	if (!(key & 0xff))
		return W_KEEP;
	if (len == 0 || len > UDAX_XATTR_CHUNK) {
		fix_problem(w->fc, PR_1_XATTR_BAD, (unsigned long long)w->ino,
			    (unsigned long long)key, "bad chunk size");
		return W_DROP;
	}
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		uint64_t *k = sys_realloc(x->keys, cap * sizeof(*k));
		if (k)
			x->keys = k;
		uint16_t *l = k ? sys_realloc(x->lens, cap * sizeof(*l)) : NULL;
		if (!l) {
			x->oom = 1;
			return W_KEEP;
		}
		x->lens = l;
		x->cap = cap;
	}
	x->keys[x->n] = key;
	x->lens[x->n++] = (uint16_t)len;
	return W_KEEP;
}

/* The recorded size of chunk `key`, 0 if there is none. */
static size_t chunk_len(const struct xwalk *x, uint64_t key)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x->keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->n && x->keys[lo] == key ? x->lens[lo] : 0;
}

/* Why an entry of bucket `key` (parsed) is not acceptable, or NULL. */
static const char *entry_why(struct walk *w, const struct xwalk *x,
			     uint64_t key, const struct xattr_ent *e,
			     const uint8_t *kept, size_t kept_len)
{
	struct fsck *fc = w->fc;
	struct xattr_ent o;

	if (!name_known(e->name, e->h.name_len))
		return "an entry whose name is in no known namespace";
	if ((udax_dir_hash(fc->sb.hash_seed, e->name, e->h.name_len) << 8) !=
	    key)
		return "an entry whose name does not hash to its bucket";
	for (size_t off = 0; off < kept_len; off += o.size) {
		xattr_entry_parse(kept, kept_len, off, &o);
		if (o.h.name_len == e->h.name_len &&
		    !memcmp(o.name, e->name, o.h.name_len))
			return "a name given twice";
		if (e->h.nchunks && o.h.nchunks &&
		    e->h.first < o.h.first + o.h.nchunks &&
		    o.h.first < e->h.first + e->h.nchunks)
			return "an entry whose chunks another entry uses";
	}
	for (unsigned c = 0; c < e->h.nchunks; c++) {
		size_t want = e->h.value_len - (size_t)c * UDAX_XATTR_CHUNK;
		if (want > UDAX_XATTR_CHUNK)
			want = UDAX_XATTR_CHUNK;
		if (chunk_len(x, key | (e->h.first + c)) != want)
			return "an entry whose value chunks are missing or of "
			       "a wrong size";
	}
	return NULL;
}

/* Second walk: judge buckets and chunks. */
static int xattr_item_settle(struct walk *w, uint64_t leaf, uint64_t key,
			     const uint8_t *val, size_t len, uint8_t *out,
			     size_t *out_len)
{
	struct xwalk *x = w->xattr;
	struct xattr_ent e;
	size_t kept = 0;
	int changed = 0;
	(void)leaf;

	if (key & 0xff) {
		uint64_t b = key & ~(uint64_t)0xff;
		if (b == x->bucket && x->want[key & 0xff] == len)
			return W_KEEP;
		fix_problem(w->fc, PR_1_XATTR_BAD, (unsigned long long)w->ino,
			    (unsigned long long)key,
			    "a value chunk no entry uses");
		return W_DROP;
	}
	x->bucket = key;
	memset(x->want, 0, sizeof(x->want));
	for (size_t off = 0; off < len; off += e.size) {
		const char *why = NULL;
		if (xattr_entry_parse(val, len, off, &e)) {
			/* the rest cannot be delimited: it goes */
			fix_problem(w->fc, PR_1_XATTR_BAD,
				    (unsigned long long)w->ino,
				    (unsigned long long)key,
				    "an entry that does not parse");
			changed = 1;
			break;
		}
		why = entry_why(w, x, key, &e, out, kept);
		if (why) {
			fix_problem(w->fc, PR_1_XATTR_BAD,
				    (unsigned long long)w->ino,
				    (unsigned long long)key, why);
			changed = 1;
			continue;
		}
		memcpy(out + kept, val + off, e.size);
		kept += e.size;
		for (unsigned c = 0; c < e.h.nchunks; c++) {
			size_t want =
				e.h.value_len - (size_t)c * UDAX_XATTR_CHUNK;
			x->want[e.h.first + c] =
				(uint16_t)(want > UDAX_XATTR_CHUNK ?
						   UDAX_XATTR_CHUNK :
						   want);
		}
	}
	if (!kept)
		return W_DROP;
	if (!changed)
		return W_KEEP;
	*out_len = kept;
	return W_REWRITE;
}

/* Check inode `ino`'s xattr tree (di: its copy, which this may change:
 * the root). Returns 1 if di changed; sets fc->fi[ino].xnodes. */
int pass1_xattr(struct fsck *fc, uint64_t ino, struct udax_inode *di)
{
	uint64_t root = udax_inode_xattr_root(di);
	struct xwalk x = {0};
	struct walk w;
	int changed = 0;

	fc->fi[ino].xnodes = 0;
	if (!root)
		return 0;
	if (!(fc->sb.feat_ro_compat & UDAX_FEAT_RO_COMPAT_XATTR)) {
		fix_problem(fc, PR_1_XATTR_FEATURE, (unsigned long long)ino);
		udax_inode_xattr_set(di, 0);
		return 1; /* its nodes stay unclaimed: pass 5 frees them */
	}
	walk_init(&w, fc, ino, UDAX_TREE_XATTR, WALK_CHECK, xattr_item_record);
	w.xattr = &x;
	if (walk_tree(&w, root) == W_DROP) {
		udax_inode_xattr_set(di, 0);
		changed = 1;
		goto out;
	}
	if (x.oom) {
		fc->oom = 1;
		fc->fi[ino].xnodes = w.nodes;
		goto out;
	}
	walk_init(&w, fc, ino, UDAX_TREE_XATTR, WALK_QUIET, xattr_item_settle);
	w.xattr = &x;
	if (walk_tree(&w, root) == W_DROP) {
		udax_inode_xattr_set(di, 0);
		changed = 1;
		goto out;
	}
	fc->fi[ino].xnodes = w.nodes;
out:
	free(x.keys);
	free(x.lens);
	return changed;
}

/* Give back the nodes of an inode's xattr tree (the inode is cleared). */
void pass1_xattr_release(struct fsck *fc, uint64_t ino,
			 const struct udax_inode *di)
{
	struct walk w;

	if (!udax_inode_xattr_root(di) || !fc->fi[ino].xnodes)
		return;
	walk_init(&w, fc, ino, UDAX_TREE_XATTR, WALK_QUIET, xattr_item_record);
	w.readonly = 1;
	w.release = 1;
	struct xwalk x = {0};
	w.xattr = &x;
	walk_tree(&w, udax_inode_xattr_root(di));
	free(x.keys);
	free(x.lens);
	fc->fi[ino].xnodes = 0;
}
