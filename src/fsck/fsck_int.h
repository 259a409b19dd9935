/* SPDX-License-Identifier: MIT */
/*
 * fsck_int.h - what the passes of fsck share: the checker's state (struct
 * fsck), the tree walk, the reporting calls, small helpers over the work
 * image. Internal to src/fsck/; the public interface is fsck.h.
 *
 *   fsck.c     fsck_check(): opens and locks the device, runs the passes,
 *              prints the summary, computes the exit code
 *   problem.c  the problem table and fix_problem(), the one reporting call
 *   util.c     the work image (writes, resealing), flipped-bit search,
 *              number ranges for messages
 *   walk.c     the tree walk every pass uses (nodes checked in pass 1)
 *   pass0.c .. pass5.c   one file a pass, each opening with its checks
 *   finish.c   after pass 5: orphans and /lost+found, through the library
 *
 * Every number read from the image is checked against the geometry before
 * it is used as a block number, an inode number, an offset or a length.
 */
#ifndef UDAX_FSCK_INT_H
#define UDAX_FSCK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "device/device.h"
#include "format/format.h"
#include "fsck/fsck.h"
#include "fsck/problem.h"

#define NODE_ITEMS_MAX                                                         \
	((UDAX_BLOCK_SIZE - UDAX_NODE_HDR) / sizeof(struct udax_node_item))
#define DIRENT_HDR sizeof(struct udax_dirent_val)
#define INODE_CRC_OFF offsetof(struct udax_inode, crc)
#define SUPER_CRC_OFF offsetof(struct udax_super, crc)
#define RANGES_SHOWN 8 /* ranges listed in a bitmap-difference message */

enum ino_state { INO_FREE, INO_USED, INO_BAD };

/* fino.flags */
#define FI_SUSPECT 0x01	   /* a leaf of its tree had a bad checksum */
#define FI_PARENTLINK 0x02 /* dir: its parent field's directory names it */
#define FI_RECONNECT 0x04  /* to be connected to /lost+found */
#define FI_ORPHAN 0x08	   /* unlinked: to be freed */
#define FI_TRUNC 0x10	   /* an interrupted truncate to finish */
#define FI_ONLIST 0x20	   /* on the orphan list as found */

/* What the passes learn about one inode. */
struct fino {
	uint64_t linker;  /* dirs: the directory whose entry names it */
	uint64_t nblocks; /* blocks counted: tree nodes + data */
	uint64_t data;	  /* data blocks claimed */
	uint64_t xnodes;  /* nodes of its xattr tree kept */
	uint64_t entries; /* dirs: entries kept */
	uint32_t refs;	  /* entries naming it */
	uint32_t subdirs; /* dirs: entries naming directories */
	uint8_t state;	  /* enum ino_state */
	uint8_t dtype;	  /* DT_* of its mode */
	uint8_t reach;	  /* pass 3 */
	uint8_t flags;	  /* FI_* */
};

/* Scratch buffers of one tree level (the walk recurses once a level). */
struct wscratch {
	uint64_t node[UDAX_BLOCK_SIZE / 8];  /* the node as read */
	uint64_t build[UDAX_BLOCK_SIZE / 8]; /* the node rebuilt */
	uint64_t vals[UDAX_BLOCK_SIZE / 8];  /* rewritten values */
};

/* The checker: the work image, what the passes learned, the counts. One
 * per fsck_check() call, made by fsck.c, read and written by every pass
 * in order (no threads). */
struct fsck {
	const char *name;
	FILE *out;
	int yes;
	const struct fsck_opts *opts; /* observers: progress, problem */
	struct fsck_result *res;
	struct dev *dev;
	uint8_t *base;	   /* the work image */
	uint64_t map_size; /* bytes of a private map at base, or 0 */
	uint64_t avail;	   /* blocks of the work image that can be read */
	int writable;	   /* repairs are applied to the work image */
	int shared;	   /* the work image is the device: flush writes */
	struct udax_super sb;
	uint64_t nblocks, ninodes;
	/* the state block as it should be, and what was wrong with it */
	struct udax_state st;
	int st_damage; /* ST_* */
	long st_bit;   /* the flipped bit, for ST_BIT */
	const char *st_why;
	/* block maps, one bit a block */
	uint64_t *used;	     /* in use: fixed metadata, nodes, data */
	uint64_t *nodes_ok;  /* tree nodes pass 1 kept */
	uint64_t *seen;	     /* nodes visited by the current walk */
	uint64_t *suspect;   /* leaves whose checksum did not match */
	uint64_t *shared_bm; /* blocks the refcount tree says are shared */
	/* REFLINK feature only (else NULL), a count per block: extents
	 * claiming it, and the refcount tree's number for it (0: none) */
	uint32_t *ext_refs, *tree_refs;
	uint8_t *bbmap_ok; /* per block-bitmap block: header sane */
	uint64_t *seen_list;
	size_t nseen, capseen;
	struct fino *fi;
	struct wscratch *scratch; /* BT_MAX_DEPTH + 1 levels */
	/* pass 3 and 4 */
	uint64_t lf_ino; /* /lost+found, 0 if none */
	int lf_state;	 /* 0 unknown, 1 usable (or to create), -1 bad */
	uint64_t *reconnect;
	size_t nreconnect, capreconnect;
	uint64_t *chain; /* the orphan list as found */
	size_t nchain, capchain;
	int chain_broken;
	int finish_orphans;  /* orphans or truncates left for the library */
	int pass;	     /* the pass running: its number labels problems */
	int journal_changed; /* replaying the log changed the image */
	/* counters */
	uint64_t problems, fixed, unfixed, changes;
	int oom;
	int op_failed; /* FSCK_EXIT_ERROR: finishing met a system error */
	char why[128]; /* formatted reasons */
};

/* fsck.st_damage */
enum { ST_OK, ST_CSUM, ST_BIT, ST_BAD };

/* A list of number ranges for a message: "12-15, 20 (and 3 more)". */
struct ranges {
	uint64_t count; /* ranges */
	uint64_t s, e;	/* the open range */
	int open;
	char text[256];
	size_t len;
};

/* Tree walks (walk.c): what an item callback or a node walk answers,
 * and which walk it is. */
enum { W_KEEP, W_DROP, W_REWRITE };
enum { WALK_CHECK, WALK_QUIET };

struct walk;
typedef int (*walk_item_fn)(struct walk *w, uint64_t leaf, uint64_t key,
			    const uint8_t *val, size_t len, uint8_t *out,
			    size_t *out_len);

struct walk {
	struct fsck *fc;
	uint64_t ino; /* owner: inode, 0 for the refcount tree */
	uint16_t kind;
	int phase;    /* WALK_CHECK or WALK_QUIET */
	int readonly; /* never change anything */
	int release;  /* give the nodes visited back (unclaim) */
	walk_item_fn item;
	uint64_t nodes; /* nodes kept */
	int suspect;	/* a leaf had a bad checksum (WALK_CHECK) */
	/* extent trees */
	uint64_t ext_end; /* end of the previous extent, file blocks */
	uint64_t eof_blk; /* first file block wholly past EOF */
	uint64_t size;
	int past_eof_ok; /* truncate in progress: written extents may
			  * reach past EOF */
	int trusted;	 /* claim extents of trusted leaves (1) or of
			  * suspect ones (0) */
	uint64_t data;	 /* data blocks claimed */
	/* directories */
	uint64_t entries; /* entries kept */
	uint64_t target;  /* pass 3: drop entries naming this inode */
	/* xattr trees: what the two walks share (pass1_xattr.c) */
	struct xwalk *xattr;
};

/* One entry of a directory bucket (pass2.c reads them; pass 3 too). */
struct dent {
	struct udax_dirent_val h;
	const uint8_t *name;
	size_t nl, off, size;
};

/* ---- small helpers over the work image ---- */

static inline int bit_test(const uint64_t *m, uint64_t i)
{
	return (m[i >> 6] >> (i & 63)) & 1;
}

static inline void bit_set(uint64_t *m, uint64_t i)
{
	m[i >> 6] |= 1ull << (i & 63);
}

static inline void bit_clear(uint64_t *m, uint64_t i)
{
	m[i >> 6] &= ~(1ull << (i & 63));
}

static inline int is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Block `b` of the work image, or NULL past what can be read. */
static inline uint8_t *blk_ptr(struct fsck *fc, uint64_t b)
{
	return b < fc->avail ? fc->base + (b << UDAX_BLOCK_SHIFT) : NULL;
}

/* Inode `ino` in the work image (the inode table is always readable). */
static inline struct udax_inode *ino_ptr(struct fsck *fc, uint64_t ino)
{
	return (struct udax_inode
			*)(fc->base +
			   ((fc->sb.itable_start + ino / UDAX_INODES_PER_BLOCK)
			    << UDAX_BLOCK_SHIFT) +
			   (ino % UDAX_INODES_PER_BLOCK) * UDAX_INODE_SIZE);
}

/* Fence the repairs flushed so far (the device is the work image). */
static inline void img_drain(struct fsck *fc)
{
	if (fc->shared)
		dev_drain(fc->dev);
}

/* ---- util.c ---- */

/* Store a repair into the work image (nothing when it is read only). */
void img_write(struct fsck *fc, void *dst, const void *src, size_t len);
/* Write an inode (a copy) home with a fresh checksum. */
void img_inode_put(struct fsck *fc, uint64_t ino, struct udax_inode *di);
/* Seal a block's checksum (the crc at offset 4). */
void img_block_seal(void *blk);
/* The name of a DT_* type, for messages. */
const char *dtype_name(uint8_t dtype);
/* Add x to a list of ranges (in increasing order), and print it. */
void ranges_add(struct ranges *r, uint64_t x);
const char *ranges_text(struct ranges *r);
/* crc32c's table, for crc_find_flip(); once per run. */
void crc_tab_init(void);
/* The one flipped bit that explains a checksum mismatch (bit number),
 * -2 if it is in the stored checksum, -1 if none does. */
long crc_find_flip(const void *buf, size_t len, size_t crc_off,
		   uint32_t stored);
void flip_bit(void *buf, long bit);

/* ---- walk.c ---- */

/* Set up a walk of `ino`'s tree of `kind` (0: the refcount tree). */
void walk_init(struct walk *w, struct fsck *fc, uint64_t ino, uint16_t kind,
	       int phase, walk_item_fn item);
/* Walk a whole tree from `root`: W_KEEP, or W_DROP if the root must go. */
int walk_tree(struct walk *w, uint64_t root);

/* ---- the passes: each returns with fc->oom set if it ran out of memory */

/* Pass 0 (pass0.c) chooses the superblock and makes the work image.
 * Returns 0 or an FSCK_EXIT_* code (an operational error). */
int fsck_pass0(struct fsck *fc);
void fsck_pass1(struct fsck *fc);
void fsck_pass2(struct fsck *fc);
void fsck_pass3(struct fsck *fc);
void fsck_pass4(struct fsck *fc);
void fsck_pass5(struct fsck *fc);
/* After pass 5 (finish.c): 1 if the library ran and the counts changed. */
int fsck_finish(struct fsck *fc);
void count_after_finish(struct fsck *fc);

/* pass1_xattr.c, for pass 1: check an inode's xattr tree (1 if *di
 * changed), give its nodes back when the inode is cleared */
int pass1_xattr(struct fsck *fc, uint64_t ino, struct udax_inode *di);

/* A walk's item callback that keeps every item (pass1.c). */
int item_keep(struct walk *w, uint64_t leaf, uint64_t key, const uint8_t *val,
	      size_t len, uint8_t *out, size_t *out_len);

/* The refcount tree (pass1_refcount.c): the counts' arrays (op_error if
 * memory runs out), the walk's item check, and the check against the
 * extents claimed, which rebuilds the tree when it is wrong. */
int pass1_refcount_init(struct fsck *fc);
int refcount_item(struct walk *w, uint64_t leaf, uint64_t key,
		  const uint8_t *val, size_t len, uint8_t *out,
		  size_t *out_len);
void pass1_refcount_check(struct fsck *fc);
void pass1_xattr_release(struct fsck *fc, uint64_t ino,
			 const struct udax_inode *di);

/* pass2.c, for pass 3 */
int bucket_next(const uint8_t *val, size_t len, size_t *off, struct dent *d);
void dir_settle(struct fsck *fc, uint64_t dir, struct walk *w, int dropped,
		int report);
int is_dir_used(struct fsck *fc, uint64_t ino);
/* pass3.c, for passes 4 and 5 */
int push_u64(struct fsck *fc, uint64_t **arr, size_t *n, size_t *cap,
	     uint64_t v);
int lf_usable(struct fsck *fc);
void lf_plan(struct fsck *fc, uint64_t ino);
int dir_is_orphan(struct fsck *fc, uint64_t d);

/* ---- fsck.c ---- */

/* Operational error: say why (res->message), return FSCK_EXIT_ERROR. */
int op_error(struct fsck *fc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Take the lock udax_open() takes. Returns 0 or an exit code. */
int fsck_lock(struct fsck *fc);

#endif /* UDAX_FSCK_INT_H */
