/* SPDX-License-Identifier: MIT */
/*
 * iomap.h - the extent map as an iterator.
 *
 * A data path asks for the mapping of a file range one extent at a time:
 * begin() describes the extent at pos (a hole, mapped blocks, unwritten
 * blocks, later shared blocks), possibly allocating for a write; the path
 * does its work on that extent (copy, zero, report); end() is told how
 * many bytes were processed and commits or gives back what was not used.
 * Read, write, zero range, fallocate, seek hole/data and the extent list
 * are each a short loop over iomap_iter():
 *
 *	struct iomap_iter it = { .ip = ip, .pos = off, .len = n, .flags = F };
 *	while ((ret = iomap_iter(&it, &ops)) > 0)
 *		it.processed = actor(&it);
 *
 * Progress (bytes) and errors are reported separately: processed < 0
 * stops the loop with that error; iomap_iter() returns it, or 0 at the
 * end. The bytes done are it.done. Caller holds ip->lock (shared for
 * IOMAP_REPORT, exclusive otherwise).
 */
#ifndef UDAX_IOMAP_H
#define UDAX_IOMAP_H

#include <stdint.h>
#include <sys/types.h>

#include "btree/btree.h"

struct inode;
struct udax_extent_val;

enum iomap_type {
	IOMAP_HOLE,	 /* no blocks: reads as zeros */
	IOMAP_MAPPED,	 /* blocks with data */
	IOMAP_UNWRITTEN, /* blocks allocated, reading as zeros */
	IOMAP_SHARED,	 /* blocks shared with other files (reflink) */
};

/* iomap.flags */
#define IOMAP_F_NEW 0x1	  /* begin allocated these blocks just now */
#define IOMAP_F_DIRTY 0x2 /* the mapping is not durable until committed */
#define IOMAP_F_COW                                                            \
	0x4 /* begin copied shared blocks into new ones
			   * (new_blk): end maps them in place of the
			   * shared ones, which lose a reference */

/* iter.flags: what the caller will do */
#define IOMAP_REPORT 0x0 /* look only */
#define IOMAP_WRITE 0x1	 /* write data: allocate holes, convert unwritten */
#define IOMAP_ZERO 0x2	 /* zero the range: holes stay holes */
#define IOMAP_ALLOC 0x4	 /* fallocate: allocate unwritten blocks */
#define IOMAP_UNSHARE                                                          \
	0x8 /* give shared blocks private copies, and
			   * touch nothing else (a writable mapping) */

/* WRITE, ZERO and UNSHARE change bytes in place: a shared extent gets
 * private copies of its blocks first (copy-on-write, begin/end). */
#define IOMAP_CHANGES (IOMAP_WRITE | IOMAP_ZERO | IOMAP_UNSHARE)

#define IOMAP_NULL_ADDR UINT64_MAX

struct iomap {
	uint64_t offset; /* file byte offset of the extent */
	uint64_t length; /* bytes */
	uint64_t addr;	 /* device byte offset, or IOMAP_NULL_ADDR */
	uint16_t type;	 /* enum iomap_type */
	uint16_t flags;	 /* IOMAP_F_* */
	/* private to begin/end */
	uint64_t new_blk, new_len; /* blocks taken for this extent */
	uint64_t reserved;	   /* blocks reserved, not yet taken */
};

struct iomap_iter {
	struct inode *ip;
	uint64_t pos;	   /* current file offset */
	uint64_t len;	   /* bytes left */
	unsigned flags;	   /* IOMAP_WRITE, ... */
	int64_t processed; /* set by the actor: bytes done, or -errno */
	uint64_t done;	   /* bytes done in all */
	struct iomap iomap;
	int started;
};

struct iomap_ops {
	int (*begin)(struct inode *ip, uint64_t pos, uint64_t len,
		     unsigned flags, struct iomap *iomap);
	/* `done` bytes of [pos, pos+len) were processed (may be 0). */
	int (*end)(struct inode *ip, uint64_t pos, uint64_t len, uint64_t done,
		   unsigned flags, struct iomap *iomap);
	/* After the loop of iomap_write() (NULL: nothing to do): commit
	 * what the steps left pending and, if ret < 0, cut *done back to
	 * what the file holds. Returns ret, or the error of that commit if
	 * ret is not one already. */
	int (*write_end)(struct inode *ip, uint64_t off, uint64_t *done,
			 int ret);
};

/* Advance the iteration: end the previous extent, begin the next.
 * Returns 1 while there is an extent to work on, 0 at the end, or a
 * negative errno. */
int iomap_iter(struct iomap_iter *it, const struct iomap_ops *ops);

/* Data paths (io.c), each a loop over the extent map of the file system
 * that passes its ops (udax_iomap_ops, inode/iomap_ops.c). Caller holds
 * ip->lock as the iterator requires. */
ssize_t iomap_read(struct inode *ip, void *buf, uint64_t len, uint64_t off,
		   const struct iomap_ops *ops);
ssize_t iomap_write(struct inode *ip, const void *buf, uint64_t len,
		    uint64_t off, const struct iomap_ops *ops);
int iomap_zero_range(struct inode *ip, uint64_t off, uint64_t len,
		     const struct iomap_ops *ops);
int iomap_allocate(struct inode *ip, uint64_t off, uint64_t len,
		   const struct iomap_ops *ops);
/* Give the shared blocks of [off, off+len) private copies (the bytes
 * stay), one transaction per extent step. Returns 0 or -errno (-ENOSPC:
 * the steps before stay done, nothing is lost). */
int iomap_unshare(struct inode *ip, uint64_t off, uint64_t len,
		  const struct iomap_ops *ops);
/* Does [off, off+len) hold a shared block? 1, 0, or -errno. */
int iomap_has_shared(struct inode *ip, uint64_t off, uint64_t len,
		     const struct iomap_ops *ops);
/* SEEK_DATA/SEEK_HOLE from off; returns the offset or -ENXIO. */
int64_t iomap_seek(struct inode *ip, uint64_t off, int whence, uint64_t size,
		   const struct iomap_ops *ops);

/* ---- the extent tree of a file (extent.c) ---- */

struct btree;
/* One extent or hole at file block fblk. */
struct ext_map {
	uint64_t fblk;	/* first file block */
	uint64_t len;	/* blocks; for a hole, up to the next extent */
	uint64_t dev;	/* first device block, 0 for a hole */
	uint32_t flags; /* UDAX_EXT_* */
	int hole;
};
int ext_map(struct btree *bt, uint64_t fblk, struct ext_map *m);
/* The extent with the greatest key <= fblk (BT_LE), or as mode says.
 * Returns 0, -ENOENT, or UDAX_ECORRUPT for a damaged extent. */
int ext_find(struct btree *bt, uint64_t fblk, enum bt_mode mode, uint64_t *key,
	     struct udax_extent_val *v);
int ext_insert(struct btree *bt, uint64_t fblk, uint64_t dev, uint64_t len,
	       uint32_t flags);
/* Remove the mappings of [fblk, fblk+len); each device range unmapped is
 * passed to release (free it, or keep it). Stops early when the journal
 * is nearly full, with *next_fblk telling where. Returns 0 or -errno. */
int ext_remove(struct btree *bt, uint64_t fblk, uint64_t len,
	       int (*release)(struct btree *bt, uint64_t dev, uint64_t len,
			      void *arg),
	       void *arg, uint64_t *next_fblk);
/* The release function that frees the blocks in bt's transaction. */
int ext_release_free(struct btree *bt, uint64_t dev, uint64_t len, void *arg);
/* ext_release_free, adding the blocks to *(uint64_t *)arg (what leaves
 * the file's block count). */
int ext_release_count(struct btree *bt, uint64_t dev, uint64_t len, void *arg);
/* The release function that keeps them (the caller maps them again). */
int ext_release_keep(struct btree *bt, uint64_t dev, uint64_t len, void *arg);

#endif /* UDAX_IOMAP_H */
