/* SPDX-License-Identifier: MIT */
/*
 * fs.h - the mounted file system object, handed to every layer.
 *
 * Each layer owns its part of struct udax_fs (device, journal, allocator,
 * inode cache) and reaches the others only through their headers.
 *
 * Lock order (take left before right, never the reverse):
 *   ns_lock -> inode locks (in ascending inode number) -> journal lock
 *   -> inode-bitmap lock, allocator group locks, icache lock
 */
#ifndef UDAX_FS_H
#define UDAX_FS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "alloc/alloc.h"
#include "device/device.h"
#include "format/format.h"
#include "journal/journal.h"
#include "udax.h"

struct inode;
struct fault;

/* The inode cache: in-memory inodes by number. */
struct icache {
	pthread_mutex_t lock; /* guards table and refcounts */
	struct inode **table; /* hash chains */
	size_t size;	      /* power of two */
};

struct udax_fs {
	struct dev *dev;      /* the device, mapped */
	struct udax_super sb; /* validated copy of the superblock */
	uint64_t nblocks;     /* sb.block_count */
	int read_only;
	int quiet; /* no messages on stderr */
	struct journal journal;
	struct alloc alloc;
	struct icache icache;
	/* Namespace lock: held shared to look names up, exclusive to change
	 * any directory or any inode's name-related fields. */
	pthread_rwlock_t ns_lock;
	/* Inode allocation, guarded by ino_lock. */
	pthread_mutex_t ino_lock;
	uint64_t *ino_bits; /* 1 = in use or handed out */
	uint64_t ino_free;
	uint64_t ino_cursor;
	/* Inode generation numbers reserved in the state block and not yet
	 * used: [gen_next, gen_end). Guarded by the journal lock. */
	uint64_t gen_next, gen_end;
	_Atomic int64_t open_handles; /* files and dirs open */
	/* Tree nodes whose crc was verified in this mount (1 bit each). */
	_Atomic uint64_t *bt_verified;
	/* Inodes whose crc was verified in this mount (1 bit each). */
	_Atomic uint64_t *ino_verified;
	/* The page-fault handler of mappings (fault layer), started at the
	 * first udax_mmap; fault_lock guards its creation. */
	pthread_mutex_t fault_lock;
	struct fault *fault;
};

/* Pointer to block `blkno` of the device (home copy). The caller has
 * checked blkno < fs->nblocks. */
static inline uint8_t *fs_block(struct udax_fs *fs, uint64_t blkno)
{
	return fs->dev->base + (blkno << UDAX_BLOCK_SHIFT);
}

/* The two calls every layer makes, defined beside this header (fs.c) so
 * that no layer calls up into api/ for them. */

/* Report a damaged structure (once per call site context) and return
 * UDAX_ECORRUPT, so that callers can write `return fs_corrupt(...)`. */
int fs_corrupt(struct udax_fs *fs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Current time, ns since the Epoch. */
int64_t fs_now_ns(void);

#endif /* UDAX_FS_H */
