/* SPDX-License-Identifier: MIT */
/*
 * xattr.c - extended attributes: a B+tree per inode (kind
 * UDAX_TREE_XATTR, root split over the inode's xattr_lo/xattr_hi).
 *
 * A name's bucket sits at key hash << 8 (the directory hash of the full
 * name); names that hash alike share the bucket, as directory entries
 * do. Small values sit in the bucket after their name; larger ones in
 * chunk items at keys (hash << 8) | 1..255, so every byte of an xattr is
 * tree metadata, changed through the journal like any other, and the
 * tree is freed with the inode by freeing its nodes (xattr_destroy).
 *
 * Callers hold the owning inode's lock (shared to read, exclusive to
 * change) and, to change, an open transaction. Namespace rules and
 * permissions are the api layer's (src/api/xattr.c).
 */
#include <errno.h>
#include <string.h>

#include "btree/btree.h"
#include "inode.h"

#define XHDR sizeof(struct udax_xattr_val)

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Does an entry of this name and value length keep its value inline? */
static int xattr_inline(size_t name_len, size_t value_len)
{
	return XHDR + pad8(name_len) + pad8(value_len) <=
	       UDAX_XATTR_INLINE_ENTRY;
}

int xattr_entry_parse(const uint8_t *bucket, size_t len, size_t off,
		      struct xattr_ent *e)
{
	struct udax_xattr_val h;
	size_t size;

	if (off + XHDR > len)
		return -1;
	memcpy(&h, bucket + off, XHDR);
	if (h.name_len == 0 || h.value_len > UDAX_XATTR_SIZE_MAX || h.pad)
		return -1;
	if ((h.first == 0) != (h.nchunks == 0))
		return -1;
	size = XHDR + pad8(h.name_len);
	if (!h.nchunks)
		size += pad8(h.value_len);
	if (off + size > len)
		return -1;
	/* the layout is decided by the lengths alone: inline exactly when
	 * it fits, else the chunks it needs, within 1..255 */
	if (xattr_inline(h.name_len, h.value_len) != !h.nchunks)
		return -1;
	if (h.nchunks && (h.nchunks != (h.value_len + UDAX_XATTR_CHUNK - 1) /
					       UDAX_XATTR_CHUNK ||
			  (unsigned)h.first + h.nchunks - 1 > 255))
		return -1;
	e->h = h;
	e->name = (const char *)bucket + off + XHDR;
	e->value = h.nchunks ? NULL : bucket + off + XHDR + pad8(h.name_len);
	e->off = off;
	e->size = size;
	return 0;
}

uint64_t xattr_key(struct udax_fs *fs, const char *name, size_t len)
{
	return udax_dir_hash(fs->sb.hash_seed, name, len) << 8;
}

/* The bucket at `key` into buf (BT_VAL_MAX bytes). Returns its length,
 * 0 if there is none, or a negative errno. */
static ssize_t bucket_read(struct btree *bt, uint64_t key, uint8_t *buf)
{
	size_t vlen = BT_VAL_MAX;
	int ret = bt_find(bt, key, BT_EQ, NULL, buf, &vlen);

	if (ret == -ENOENT)
		return 0;
	return ret ? ret : (ssize_t)vlen;
}

/* Find `name` in a bucket: 1 and *e, 0 if absent, UDAX_ECORRUPT. */
static int bucket_find(struct udax_fs *fs, uint64_t owner, const uint8_t *b,
		       size_t len, const char *name, size_t nlen,
		       struct xattr_ent *e)
{
	for (size_t off = 0; off < len; off += e->size) {
		if (xattr_entry_parse(b, len, off, e))
			return fs_corrupt(fs, "inode %llu: xattr entry damaged",
					  (unsigned long long)owner);
		if (e->h.name_len == nlen && !memcmp(e->name, name, nlen))
			return 1;
	}
	return 0;
}

/* Copy a value out of its entry or its chunks into buf. */
static int value_read(struct btree *bt, uint64_t key, const struct xattr_ent *e,
		      uint8_t *buf)
{
	size_t done = 0;

	if (!e->h.nchunks) {
		memcpy(buf, e->value, e->h.value_len);
		return 0;
	}
	for (unsigned c = 0; c < e->h.nchunks; c++) {
		size_t want = e->h.value_len - done < UDAX_XATTR_CHUNK ?
				      e->h.value_len - done :
				      UDAX_XATTR_CHUNK;
		size_t vlen = want;
		int ret = bt_find(bt, key | (e->h.first + c), BT_EQ, NULL,
				  buf + done, &vlen);
		if (ret == -ENOENT || (!ret && vlen != want))
			return fs_corrupt(bt->fs,
					  "inode %llu: xattr value chunk "
					  "missing or of a wrong size",
					  (unsigned long long)bt->owner);
		if (ret)
			return ret;
		done += want;
	}
	return 0;
}

ssize_t xattr_get(struct udax_fs *fs, const struct udax_inode *di,
		  const char *name, size_t nlen, void *buf, size_t size)
{
	uint8_t bucket[BT_VAL_MAX];
	struct xattr_ent e;
	struct btree bt;
	uint64_t key = xattr_key(fs, name, nlen);
	ssize_t len;
	int ret;

	bt_init(&bt, fs, NULL, udax_inode_xattr_root(di), di->ino,
		UDAX_TREE_XATTR);
	len = bucket_read(&bt, key, bucket);
	if (len < 0)
		return len;
	ret = bucket_find(fs, di->ino, bucket, (size_t)len, name, nlen, &e);
	if (ret <= 0)
		return ret ? ret : -ENODATA;
	if (!size)
		return e.h.value_len;
	if (size < e.h.value_len)
		return -ERANGE;
	ret = value_read(&bt, key, &e, buf);
	return ret ? ret : (ssize_t)e.h.value_len;
}

int xattr_iter(struct udax_fs *fs, const struct udax_inode *di,
	       int (*fn)(void *arg, const struct xattr_ent *e), void *arg)
{
	uint8_t bucket[BT_VAL_MAX];
	struct xattr_ent e;
	struct btree bt;
	uint64_t key = 0, found;
	int ret;

	bt_init(&bt, fs, NULL, udax_inode_xattr_root(di), di->ino,
		UDAX_TREE_XATTR);
	for (;;) {
		size_t vlen = BT_VAL_MAX;
		ret = bt_find(&bt, key, BT_GE, &found, bucket, &vlen);
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
		if (!(found & 0xff)) { /* a bucket; chunks come after it */
			for (size_t off = 0; off < vlen; off += e.size) {
				if (xattr_entry_parse(bucket, vlen, off, &e))
					return fs_corrupt(
						fs,
						"inode %llu: xattr "
						"entry damaged",
						(unsigned long long)di->ino);
				ret = fn(arg, &e);
				if (ret)
					return ret;
			}
		}
		if (found == UINT64_MAX)
			return 0;
		key = found + 1;
	}
}

/* What the entries of an inode add up to, for the limits. */
struct xattr_totals {
	uint64_t list;	/* names and their NULs */
	uint64_t value; /* value bytes */
};

static int totals_add(void *arg, const struct xattr_ent *e)
{
	struct xattr_totals *t = arg;

	t->list += e->h.name_len + 1u;
	t->value += e->h.value_len;
	return 0;
}

/* The chunk numbers the entries of a bucket other than `skip` use. */
static void chunks_used(const uint8_t *b, size_t len, size_t skip,
			uint8_t used[256])
{
	struct xattr_ent e;

	memset(used, 0, 256);
	for (size_t off = 0; off < len; off += e.size) {
		if (xattr_entry_parse(b, len, off, &e))
			return; /* bucket_find has parsed them all */
		if (off != skip)
			for (unsigned c = 0; c < e.h.nchunks; c++)
				used[e.h.first + c] = 1;
	}
}

/* Are chunk numbers [first, first + n) within 1..255 and unused? */
static int chunks_free(const uint8_t used[256], unsigned first, unsigned n)
{
	if (!first || first + n - 1 > 255)
		return 0;
	for (unsigned c = first; c < first + n; c++)
		if (used[c])
			return 0;
	return 1;
}

/* Where a value of n chunks goes: where the old value's chunks start
 * (`old_first`, 0 if none) when the run fits there, so that a replace
 * rewrites those chunk items in place instead of deleting and inserting
 * them (a 64 KiB replace then changes about 22 nodes, not 44, and fits
 * the smallest journal's transaction); else the first free run; 0 if
 * there is none. */
static unsigned chunk_place(const uint8_t used[256], unsigned old_first,
			    unsigned n)
{
	if (old_first && chunks_free(used, old_first, n))
		return old_first;
	for (unsigned s = 1; s + n - 1 <= 255; s++)
		if (chunks_free(used, s, n))
			return s;
	return 0;
}

int xattr_set(struct tx *tx, uint64_t ino, const char *name, size_t nlen,
	      const void *value, size_t size, int flags)
{
	struct udax_fs *fs = tx->fs;
	uint8_t old[BT_VAL_MAX], nb[BT_VAL_MAX];
	struct xattr_totals t = {0};
	struct udax_xattr_val h = {0};
	struct xattr_ent e;
	struct udax_inode *w;
	const struct udax_inode *di;
	struct btree bt;
	uint64_t key = xattr_key(fs, name, nlen);
	size_t nb_len, esize;
	ssize_t len;
	int ret, found;

	di = inode_r(fs, tx, ino, &ret);
	if (!di)
		return ret;
	bt_init(&bt, fs, tx, udax_inode_xattr_root(di), ino, UDAX_TREE_XATTR);
	len = bucket_read(&bt, key, old);
	if (len < 0)
		return (int)len;
	found = bucket_find(fs, ino, old, (size_t)len, name, nlen, &e);
	if (found < 0)
		return found;
	if (found && (flags & XATTR_SET_CREATE))
		return -EEXIST;
	if (!found && (flags & (XATTR_SET_REPLACE | XATTR_SET_REMOVE)))
		return -ENODATA;
	if (!(flags & XATTR_SET_REMOVE)) {
		/* the limits count what the inode holds after the change */
		ret = xattr_iter(fs, di, totals_add, &t);
		if (ret)
			return ret;
		if (found) {
			t.list -= nlen + 1;
			t.value -= e.h.value_len;
		}
		if (t.list + nlen + 1 > UDAX_XATTR_LIST_MAX ||
		    t.value + size > UDAX_XATTR_TOTAL_MAX)
			return -ENOSPC;
	}
	/* the new bucket: every other entry as it was, then this one */
	nb_len = 0;
	for (size_t off = 0; off < (size_t)len;) {
		struct xattr_ent o;
		if (xattr_entry_parse(old, (size_t)len, off, &o))
			return UDAX_ECORRUPT; /* bucket_find checked it */
		if (!found || off != e.off) {
			memcpy(nb + nb_len, old + off, o.size);
			nb_len += o.size;
		}
		off += o.size;
	}
	if (!(flags & XATTR_SET_REMOVE)) {
		h.value_len = (le32)size;
		h.name_len = (uint8_t)nlen;
		if (!xattr_inline(nlen, size)) {
			uint8_t used[256];
			chunks_used(old, (size_t)len, found ? e.off : SIZE_MAX,
				    used);
			h.nchunks = (uint8_t)((size + UDAX_XATTR_CHUNK - 1) /
					      UDAX_XATTR_CHUNK);
			h.first = (uint8_t)chunk_place(
				used, found ? e.h.first : 0, h.nchunks);
			if (!h.first)
				return -ENOSPC; /* names alike, all large */
		}
		esize = XHDR + pad8(nlen) + (h.nchunks ? 0 : pad8(size));
		if (nb_len + esize > BT_VAL_MAX)
			return -ENOSPC; /* too many names with one hash */
		memset(nb + nb_len, 0, esize);
		memcpy(nb + nb_len, &h, XHDR);
		memcpy(nb + nb_len + XHDR, name, nlen);
		if (!h.nchunks && size)
			memcpy(nb + nb_len + XHDR + pad8(nlen), value, size);
		nb_len += esize;
	}
	/* the old value's chunks: those the new value takes over in place
	 * stay (rewritten below), the others go */
	for (unsigned c = 0; found && c < e.h.nchunks; c++) {
		unsigned k = e.h.first + c;
		if (h.first && k >= h.first && k < h.first + h.nchunks)
			continue;
		ret = bt_delete(&bt, key | k);
		if (ret)
			return ret == -ENOENT ? UDAX_ECORRUPT : ret;
	}
	for (unsigned c = 0; c < h.nchunks; c++) {
		unsigned k = h.first + c;
		size_t at = (size_t)c * UDAX_XATTR_CHUNK;
		size_t n = size - at < UDAX_XATTR_CHUNK ? size - at :
							  UDAX_XATTR_CHUNK;
		int reuse = found && e.h.nchunks && k >= e.h.first &&
			    k < e.h.first + e.h.nchunks;
		ret = reuse ? bt_replace(&bt, key | k,
					 (const uint8_t *)value + at, n) :
			      bt_insert(&bt, key | k,
					(const uint8_t *)value + at, n);
		if (ret)
			return ret;
	}
	if (!nb_len)
		ret = len ? bt_delete(&bt, key) : 0;
	else if (len)
		ret = bt_replace(&bt, key, nb, nb_len);
	else
		ret = bt_insert(&bt, key, nb, nb_len);
	if (ret)
		return ret;
	w = inode_w(tx, ino);
	if (!w)
		return tx->failed;
	udax_inode_xattr_set(w, bt.root);
	w->blocks += (uint64_t)bt.nodes_delta;
	w->ctime_ns = fs_now_ns();
	return 0;
}

int xattr_destroy(struct tx *tx, uint64_t ino)
{
	struct udax_inode *w = inode_w(tx, ino);
	struct btree bt;
	int ret;

	if (!w)
		return tx->failed;
	if (!udax_inode_xattr_root(w))
		return 0;
	bt_init(&bt, tx->fs, tx, udax_inode_xattr_root(w), ino,
		UDAX_TREE_XATTR);
	ret = bt_destroy(&bt);
	if (ret)
		return ret;
	w = inode_w(tx, ino);
	if (!w)
		return tx->failed;
	udax_inode_xattr_set(w, 0);
	w->blocks += (uint64_t)bt.nodes_delta;
	return 0;
}
