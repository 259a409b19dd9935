/* SPDX-License-Identifier: MIT */
/*
 * journal.h - atomic metadata transactions.
 *
 * Every change to metadata is made in a transaction: the transaction keeps
 * a private copy (shadow) of each block it changes; at commit it writes the
 * changed cache lines to the journal, makes them durable, then installs
 * them at home. After a crash at any instant the file system is as before
 * or as after the transaction. Readers outside a transaction see the home
 * copies, which change only at install, under the locks the writer holds.
 *
 * Lifecycle: tx_begin() takes the journal lock (one transaction at a time)
 * -> tx_get/tx_getw/tx_new_block -> tx_commit() or tx_abort() releases it.
 * Lock order: namespace lock -> inode locks -> journal lock -> alloc locks.
 */
#ifndef UDAX_JOURNAL_H
#define UDAX_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct udax_fs;

struct tx_block {
	uint64_t blkno;
	uint8_t *shadow; /* 4096 bytes, the block as the tx wants it */
	int fresh;	 /* new block: every line is written */
};

/* A range of blocks freed or allocated in a transaction. */
struct tx_range {
	uint64_t start, len;
};

/* Work to do once the transaction's fate is known: committed is 1 after
 * the commit point, 0 after an abort. */
struct tx_hook {
	void (*fn)(struct udax_fs *fs, uint64_t arg, int committed);
	uint64_t arg;
};
#define TX_HOOKS_MAX 16

struct tx {
	struct udax_fs *fs;
	struct tx_hook hooks[TX_HOOKS_MAX];
	int nhooks;
	struct tx_block *blocks; /* nblocks in use, capacity cap */
	size_t nblocks, cap;
	int32_t *hash;		/* open addressing: index into blocks, -1 */
	size_t hash_size;	/* power of two, >= 2 * cap */
	struct tx_range *frees; /* given back to the allocator at commit */
	size_t nfrees, capfrees;
	struct tx_range *allocs; /* taken back from the allocator at abort */
	size_t nallocs, capallocs;
	uint64_t meta_reserved; /* blocks reserved for tree nodes, unused */
	size_t max_blocks;	/* shadows that fit in the journal */
	int failed;		/* an error happened: commit refuses */
	int data_flushed;	/* data was flushed that the log depends on:
				  * fence before writing the log */
};

/*
 * The allocator's side of a transaction. The journal sits below the
 * allocator (docs/DESIGN.md) and does not call it by name: alloc_init()
 * registers these with journal_space_set(). Mount replays the journal
 * before the allocator exists; no transaction can free, allocate or
 * reserve blocks until then, so they are not called before it.
 */
struct journal_space_ops {
	/* Blocks back to free space, in memory only: a checkpoint releasing
	 * frees held back, or an abort returning what it had taken. */
	void (*put)(struct udax_fs *fs, uint64_t start, uint64_t len);
	/* Mark blocks used (1) or free (0) in the on-media block bitmap,
	 * in tx. Returns 0 or a negative errno. */
	int (*mark)(struct tx *tx, uint64_t start, uint64_t len, int used);
	/* Give back blocks reserved for tree nodes and not used. */
	void (*unreserve)(struct udax_fs *fs, uint64_t n);
};

/*
 * The journal of a mounted file system. `lock` is held by the one open
 * transaction; `tx` is reused by every transaction.
 */
struct journal {
	pthread_mutex_t lock;
	struct tx tx;		   /* the open transaction, guarded by lock */
	uint8_t *area;		   /* journal area on the device */
	uint64_t area_size;	   /* bytes */
	uint8_t *log;		   /* staging buffer for the log, area_size */
	uint64_t seq;		   /* next transaction number */
	uint64_t head;		   /* where the next transaction goes */
	int install_unfenced;	   /* installs since the last checkpoint */
	uint64_t inst_lo, inst_hi; /* installed byte range since the last
				    * checkpoint (page devices flush it) */
	uint64_t *lines;	   /* cache-line devices: installed lines not
				 * yet flushed, a hash set (UINT64_MAX = free) */
	size_t lines_size, nlines;
	struct tx_range *dfree; /* frees held back until the checkpoint */
	size_t ndfree, capdfree;
	_Atomic uint64_t dfree_blocks; /* their total, for statfs */
	/* holder of lock, valid while locked; atomic: journal_checkpoint
	 * reads them without the lock to learn whether its caller holds it */
	_Atomic pthread_t owner;
	_Atomic int locked;
	/* 0, or the error (negative errno) with which the device's flushes
	 * failed under a commit or checkpoint (dev_error): the journal is
	 * then shut down. Nothing more is written; every later commit fails
	 * with this error; the file system serves reads of the state before
	 * the failed transaction until it is closed, and the next open
	 * replays whatever of the log reached the media. Guarded by lock. */
	int error;
	uint64_t commits, checkpoints;	       /* statistics */
	const struct journal_space_ops *space; /* the allocator's, set once */
};

int journal_init(struct udax_fs *fs);
void journal_fini(struct udax_fs *fs);

/* Register the allocator's side of transactions (after journal_init). */
void journal_space_set(struct journal *j, const struct journal_space_ops *ops);

/* Replay the committed transactions left in the journal (idempotent),
 * then checkpoint. Returns 1 if something was replayed, 0 if not,
 * UDAX_ECORRUPT if a committed transaction points outside the metadata,
 * or the device's error if the checkpoint's flushes failed. */
int journal_replay(struct udax_fs *fs);

/* Make all installs durable, restart the log, and give the frees held
 * back since the last checkpoint to the allocator. Callable with or
 * without the journal lock (by its holder). Returns 1 if it freed
 * something, else 0 (also when the journal is shut down).
 * journal_checkpoint_locked: the lock is held; returns 0, or the error
 * that shut the journal down (nothing is then restarted or freed). */
int journal_checkpoint(struct udax_fs *fs);
int journal_checkpoint_locked(struct udax_fs *fs);

/* Is there a committed transaction waiting for replay? (read-only open) */
int journal_needs_replay(struct udax_fs *fs);

/* Begin a transaction: takes the journal lock. Never fails. */
struct tx *tx_begin(struct udax_fs *fs);

/* The block as this transaction sees it (read only), or NULL if blkno is
 * out of the device. */
const void *tx_get(struct tx *tx, uint64_t blkno);

/* A writable shadow of a block, filled from home. Returns NULL (and marks
 * the transaction failed) if memory or journal space runs out. */
void *tx_getw(struct tx *tx, uint64_t blkno);

/* A writable zeroed shadow for a newly allocated block. As tx_getw. */
void *tx_new_block(struct tx *tx, uint64_t blkno);

/* Room for `nblocks` more shadow blocks in this transaction? */
int tx_room(struct tx *tx, size_t nblocks);

/* Free device blocks at commit (they stay allocated until then). The
 * on-media bitmap is updated in this transaction. Returns 0 or -ENOMEM. */
int tx_free_blocks(struct tx *tx, uint64_t start, uint64_t len);

/* Hand blocks taken from the allocator to this transaction: marks them
 * used in the on-media bitmap; an abort gives them back. Whatever it
 * returns, the transaction owns the blocks afterwards. */
int tx_use_blocks(struct tx *tx, uint64_t start, uint64_t len);

/* Run fn(fs, arg, committed) when the transaction ends. Returns 0 or
 * -ENOMEM (too many hooks; the transaction is then failed). */
int tx_hook_add(struct tx *tx,
		void (*fn)(struct udax_fs *fs, uint64_t arg, int committed),
		uint64_t arg);

/* Commit: seal checksums, write the log, fence (the commit point),
 * install. Releases the journal lock. Returns 0, or a negative errno if
 * the transaction failed (then nothing of it happened), or if the journal
 * is or gets shut down (journal.error: nothing of it happened in memory;
 * whether it reached the media, the next open's replay tells). */
int tx_commit(struct tx *tx);

/* Forget the transaction; release the journal lock. */
void tx_abort(struct tx *tx);

/* Checkpoint (sync, close). Returns 0, or the error that shut the
 * journal down. */
int journal_flush(struct udax_fs *fs);

#endif /* UDAX_JOURNAL_H */
