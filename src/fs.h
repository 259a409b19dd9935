/* SPDX-License-Identifier: MIT */
/*
 * fs.h - the mounted file system object, handed to every layer.
 *
 * Each layer owns its part of struct udax_fs (device, journal, allocator,
 * inode cache) and reaches the others only through their headers.
 *
 * Lock order (take left before right, never the reverse):
 *   ns_lock -> inode locks (in ascending inode number) -> journal lock
 *   -> refcount lock -> inode-bitmap lock, allocator group locks,
 *   icache lock
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
	/* What layout breaks did (fault layer, layout.c; the pins held are
	 * on their inodes: layout_pin_count). */
	struct layout_stats {
		_Atomic uint64_t breaks;  /* layout breaks made */
		_Atomic uint64_t waits;	  /* of them, waited for pins */
		_Atomic uint64_t recalls; /* long-term pins recalled */
		_Atomic uint64_t expired; /* failed at a pin's deadline */
	} layout;
	/* udax_close_wait: idle_lock guards idle_cond, which is signalled
	 * when a handle, mapping or pin goes while idle_waiters is not 0;
	 * releasing counts the releases in progress (fs_release_begin/end),
	 * which the waiter lets finish before it frees the file system. */
	pthread_mutex_t idle_lock;
	pthread_cond_t idle_cond; /* CLOCK_MONOTONIC */
	_Atomic int idle_waiters;
	_Atomic int releasing;
	/* Tree nodes whose crc was verified in this mount (1 bit each). */
	_Atomic uint64_t *bt_verified;
	/* Inodes whose crc was verified in this mount (1 bit each). */
	_Atomic uint64_t *ino_verified;
	/* The refcount tree (alloc/refcount.c): its root lives in the state
	 * block and every file's frees and clones change it, so it has a
	 * lock of its own. Readers (is a block shared?) hold refcount_lock
	 * shared while they read the home copy; a transaction that changes
	 * the tree takes it exclusively at its first change (after the
	 * journal lock: a leaf of every inode lock) and keeps it until the
	 * transaction ends (a tx hook), so no reader sees a half-installed
	 * tree. refcount_held says the open transaction holds it (guarded
	 * by the journal lock). reflinked: 0 until the file system has the
	 * REFLINK feature (at open, or at the first clone; never back to
	 * 0): while 0 no block is shared and nobody looks at the tree. */
	pthread_rwlock_t refcount_lock;
	int refcount_held;
	_Atomic int reflinked;
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

/* Timed waits: a condition variable on CLOCK_MONOTONIC, that clock in ns,
 * and a wait until deadline_ns on it (INT64_MAX: no limit). The wait
 * returns 0, or ETIMEDOUT once the deadline has passed. */
void fs_cond_init(pthread_cond_t *c);
int64_t fs_mono_ns(void);
int fs_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
		       int64_t deadline_ns);

/* Around the release of a handle, a mapping or a pin: the end wakes
 * udax_close_wait, and is the release's last access to fs. */
static inline void fs_release_begin(struct udax_fs *fs)
{
	atomic_fetch_add(&fs->releasing, 1);
}
void fs_release_end(struct udax_fs *fs);

#endif /* UDAX_FS_H */
