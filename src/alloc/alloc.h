/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - free-space management.
 *
 * The on-media block bitmap (one bit per block) is changed only through
 * transactions. In memory the allocator keeps its own bitmap of blocks in
 * use or handed out, split into groups with one lock each, so allocations
 * on different threads rarely meet. Space is reserved before it is used:
 * a write reserves its whole range first (ENOSPC before any data is
 * copied), takes extents from the reservation as it goes and gives back
 * what it did not use.
 *
 * Blocks freed by a transaction return to the in-memory allocator only
 * after the transaction commits, so a block is never reused while a
 * crash could still bring back the metadata that pointed at it.
 */
#ifndef UDAX_ALLOC_H
#define UDAX_ALLOC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct udax_fs;
struct tx;

#define ALLOC_GROUP_BLOCKS 32768u /* 128 MiB per group */
#define ALLOC_META_POOL 64u	  /* blocks kept for frees that split trees */

struct alloc_group {
	pthread_mutex_t lock; /* guards the group's bits and cursor */
	uint64_t start, len;  /* blocks of this group */
	uint64_t cursor;      /* next-fit hint, absolute block */
	uint64_t free;	      /* free blocks in the group */
};

struct alloc {
	uint64_t nblocks;    /* device blocks */
	uint64_t data_start; /* first allocatable block */
	uint64_t *bits;	     /* in-memory bitmap, 1 = in use or handed out */
	struct alloc_group *groups;
	uint32_t ngroups;
	_Atomic int64_t avail;	/* free blocks not reserved */
	_Atomic uint32_t rotor; /* spreads threads over groups */
	struct dev *dev;	/* detaches freed blocks (dev_detach) */
	/* Freed blocks kept out of use: they were mapped into a program and
	 * the device cannot detach them (device.h, "Pins udax never hears
	 * of"). On a device that detaches only whole units (memfd-huge),
	 * qbits marks them (under qlock), and once every block of a unit is
	 * quarantined the unit is detached and all of it is free again;
	 * elsewhere (devdax) they stay out of use until close. */
	_Atomic uint64_t quarantined;
	uint64_t *qbits;      /* NULL unless the device maps in units */
	uint64_t unit_blocks; /* blocks per unit of such a device */
	pthread_mutex_t qlock;
	/* Tests: fill freed blocks with ALLOC_POISON (UDAX_POISON_FREED set
	 * at open, memory and file devices), so that a byte of a freed block
	 * that reaches a file or a reader shows. */
	int poison;
};
#define ALLOC_POISON 0xa5

/* Build the allocator from the on-media bitmap. Returns 0, -ENOMEM or
 * UDAX_ECORRUPT (a bitmap block is damaged; the message says which). */
int alloc_init(struct udax_fs *fs);
void alloc_fini(struct udax_fs *fs);

/* Reserve n blocks. `meta` may dip into the pool kept for frees that
 * split a tree. Returns 0 or -ENOSPC. */
int alloc_reserve(struct alloc *a, uint64_t n, int meta);
void alloc_unreserve(struct alloc *a, uint64_t n);
/* alloc_reserve, and if space is short while frees are held back for the
 * journal's checkpoint, checkpoint and try again. */
int alloc_reserve_fs(struct udax_fs *fs, uint64_t n, int meta);

/* Take one extent of 1..want blocks from an existing reservation, near
 * `goal` (a block number, 0 = anywhere); with align, prefer a start on a
 * 2 MiB boundary when want >= 512. Returns 0 with *start, *len set. */
int alloc_take(struct alloc *a, uint64_t goal, uint64_t want, int align,
	       uint64_t *start, uint64_t *len);

/* Give blocks back to the allocator (not reserved any more). Blocks that
 * were mapped into a program are detached from the device first, or
 * quarantined where it cannot. */
void alloc_put(struct alloc *a, uint64_t start, uint64_t len);

/* Free blocks not reserved, less the pool kept for tree nodes. */
uint64_t alloc_available(struct alloc *a);
/* For statfs: *free, the blocks not reserved plus `held` (frees held
 * back for the journal's checkpoint: any allocation that needs them gets
 * them), and *avail, those less the pool kept for tree nodes. Metadata
 * may have used part of the pool: then free counts the rest of it, not
 * the whole pool. */
void alloc_counts(struct alloc *a, uint64_t held, uint64_t *free,
		  uint64_t *avail);

/* Set or clear bits [start, start+len) of the on-media block bitmap in
 * a transaction. Returns 0 or -ENOMEM (journal full). */
int alloc_bitmap_set(struct tx *tx, uint64_t start, uint64_t len, int used);

/* One block for a tree node: reserve (meta), take, mark in tx. Returns
 * 0 and *blkno, or -ENOSPC/-ENOMEM. */
int alloc_meta_block(struct tx *tx, uint64_t goal, uint64_t *blkno);

#endif /* UDAX_ALLOC_H */
