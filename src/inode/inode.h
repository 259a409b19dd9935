/* SPDX-License-Identifier: MIT */
/*
 * inode.h - inodes, directories, path names and permissions.
 *
 * On media an inode is a 256-byte struct udax_inode in the inode table;
 * it is read in place (home copy) and changed through a transaction
 * (inode_w). In memory, struct inode exists while someone uses the inode
 * (an open file, a path walk, a fault) and carries its lock.
 *
 * struct inode lifecycle: iget() finds or creates it with a reference;
 * iput() drops one. At the last iput of an inode whose link count is 0,
 * its blocks and the inode itself are freed (an unlinked file lives on
 * while open). Fields:
 *   ino, fs          fixed
 *   refs             atomic; goes up from 0 and down to 0 only under
 *                    fs->icache.lock (iget, the last iput); a holder of a
 *                    reference adds one without it (igrab), and iput
 *                    takes one off without it while others remain
 *   lock             guards the file's data: size, extent tree, the
 *                    pending times below; held shared by reads, exclusive
 *                    by writes, truncate, fallocate. Taken after ns_lock,
 *                    before the journal lock; several inodes are locked in
 *                    ascending inode number.
 *   mtime_pending    a data overwrite's new mtime/ctime, written to media
 *                    at the next transaction on the inode, fsync or close
 *   size_pending     within one write call: the size an overwrite step
 *                    reached, committed with the next allocation step or
 *                    at the end of the call (so a write that starts in
 *                    place and goes on into new blocks commits once)
 *   maps             the file's udax mappings (fault layer, fault.h):
 *                    read with lock held, changed with it exclusive. A
 *                    mapping holds a reference on the inode.
 *   pins .. brk_seq  references on the layout and the breaks waiting for
 *                    them (fault layer, layout.c): guarded by pin_lock, a
 *                    leaf taken after lock (and after the cache's lock,
 *                    which icache_sum holds); pin_cond signals a pin
 *                    released or a break over. A pin holds a reference on
 *                    the inode.
 */
#ifndef UDAX_INODE_H
#define UDAX_INODE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs.h"

struct fault_map;
struct udax_pin;

struct inode {
	struct udax_fs *fs;
	uint64_t ino;
	_Atomic uint32_t refs;
	struct inode *next; /* hash chain */
	pthread_rwlock_t lock;
	_Atomic int64_t mtime_pending; /* 0 = none; atomic: setattr clears it
					* without the inode lock */
	uint64_t size_pending;	/* a write's new size not yet committed */
	struct fault_map *maps; /* udax mappings of the file */
	pthread_mutex_t pin_lock;
	pthread_cond_t pin_cond; /* CLOCK_MONOTONIC */
	struct udax_pin *pins;	 /* udax_pin()s of the file */
	int breaks;		 /* layout breaks in progress */
	uint64_t brk_lo, brk_hi; /* the file range they cover (pages) */
	uint64_t brk_seq;	 /* breaks started, as a generation */
};

int icache_init(struct udax_fs *fs);
void icache_fini(struct udax_fs *fs);
/* The sum of fn over every inode in the cache, under the cache's lock
 * (fn must not iget or iput). */
uint64_t icache_sum(struct udax_fs *fs, uint64_t (*fn)(struct inode *ip));

/* Take a reference on inode `ino` (which must be in use on media).
 * Returns 0, -ENOMEM or UDAX_ECORRUPT. */
int iget(struct udax_fs *fs, uint64_t ino, struct inode **ip);
/* Drop a reference; the last one on an unlinked inode frees it. */
void iput(struct inode *ip);
/* Take another reference on an inode already held. */
void igrab(struct inode *ip);
/* Write-lock two inodes (b may be NULL or equal to a) in ascending
 * inode order, and unlock them. */
void inode_lock_two(struct inode *a, struct inode *b);
void inode_unlock_two(struct inode *a, struct inode *b);

/* References held on an inode now (under the icache lock). */
uint32_t icache_refs(struct inode *ip);
/* Drop a cached inode's pending mtime (times were just set explicitly). */
void icache_forget_mtime(struct udax_fs *fs, uint64_t ino);

/* The on-media inode, checked (magic, number, crc). tx may be NULL (home
 * copy). Returns NULL and sets *err to UDAX_ECORRUPT or -ESTALE (free
 * inode) on failure. */
const struct udax_inode *inode_r(struct udax_fs *fs, struct tx *tx,
				 uint64_t ino, int *err);
/* A writable copy of the inode in the transaction; NULL if the journal is
 * full (the transaction is then failed). */
struct udax_inode *inode_w(struct tx *tx, uint64_t ino);

#define INODE_GEN_BATCH 1024 /* generation numbers reserved at a time */

/* Allocate and initialize an inode in the transaction. Returns 0 and
 * *ino, or -ENOSPC (no free inode), -ENOMEM. */
int inode_alloc(struct tx *tx, mode_t mode, uid_t uid, gid_t gid,
		uint64_t *ino);
/* Free an inode whose blocks are already freed (its number returns to
 * the allocator after commit). */
int inode_free(struct tx *tx, uint64_t ino);

/* Read the inode bitmap into memory (mount). UDAX_ECORRUPT if damaged. */
int inode_bitmap_init(struct udax_fs *fs);

/* Orphan list (state block): inodes with nlink 0 still open, and files in
 * the middle of a multi-transaction truncate. */
int orphan_add(struct tx *tx, uint64_t ino);
int orphan_remove(struct tx *tx, uint64_t ino);
/* At mount: finish every orphan (free unlinked inodes, finish truncates). */
int orphan_recover(struct udax_fs *fs);

/* Release every block of a file past `size` bytes, over as many
 * transactions as it takes (UDAX_IF_TRUNCATING and the orphan list mark
 * the inode meanwhile, so mount finishes the job after a crash). With
 * TRUNC_SET_SIZE the first transaction also sets the size; with
 * TRUNC_FREE_INODE the last one frees the inode. Caller holds the inode's
 * lock exclusively, or is its last user. Returns 0 or a negative errno. */
#define TRUNC_SET_SIZE 0x1
#define TRUNC_FREE_INODE 0x2
int inode_truncate(struct udax_fs *fs, uint64_t ino, uint64_t size, int flags);
/* The same, keeping the blocks below byte `from` (>= size) too: a device
 * that maps whole units keeps the rest of the unit holding the new end,
 * zeroed in place by the caller (api/file.c, "units"). */
int inode_truncate_from(struct udax_fs *fs, uint64_t ino, uint64_t size,
			uint64_t from, int flags);

/* Give [off, off+unit) of the file (off and unit aligned to unit) one
 * unit-aligned extent of fresh blocks holding the range's bytes (holes
 * and unwritten blocks as zeros, blocks past end of file included), the
 * old blocks freed, in one committed transaction: what a device that
 * maps only whole units (devdax at 2 MiB, huge pages) needs before a
 * range is mapped. Caller holds ip->lock exclusively, has broken or
 * checked the range's layout (no mapping, no pin reaches the old
 * blocks). Returns 0, -ENOSPC (no free aligned unit), -EROFS, or
 * another negative errno; nothing changed then. */
int inode_remap_unit(struct inode *ip, uint64_t off, uint64_t unit);

/* A run of device blocks for file blocks [fblk, fblk+len). */
struct blk_run {
	uint64_t fblk; /* first file block */
	uint64_t dev;  /* first device block */
	uint64_t len;  /* blocks */
};
/* inode_swap_blocks flags */
#define SWAP_WHOLE 0x1 /* all of the range or nothing (-ENOSPC) */
#define SWAP_TOUCH 0x2 /* a write: set mtime and ctime */

/* Put the blocks of runs[] (consecutive file blocks from runs[0].fblk,
 * taken from the allocator, their data written and flushed by the
 * caller) into the file in place of whatever maps those file blocks, in
 * one committed transaction: the old blocks are freed, the size becomes
 * at least `size`. What udax_recvfile commits and inode_remap_unit swaps.
 * A journal too small for the whole range commits a prefix of it (the
 * size then at most the prefix's end), unless SWAP_WHOLE. *consumed: the
 * blocks of the runs (from the first) that are the file's or were given
 * back; the caller still owns the rest. Caller holds ip->lock
 * exclusively and has broken the range's layout (no mapping, no pin on
 * the old blocks). Returns 0, -ENOSPC (not even a block fitted, or not
 * the whole range with SWAP_WHOLE: nothing changed), or another negative
 * errno (nothing of this transaction happened). */
int inode_swap_blocks(struct inode *ip, const struct blk_run *runs,
		      size_t nruns, uint64_t size, unsigned flags,
		      uint64_t *consumed);

/* Free an inode and everything it owns in one transaction: for inodes
 * with at most INODE_FREE_NOW_BLOCKS blocks, which always fit. */
#define INODE_FREE_NOW_BLOCKS 64
int inode_free_now(struct tx *tx, uint64_t ino);

/* The file system's extent-map ops for the iomap iterator and data paths
 * (iomap_ops.c): begin/end over a file's extent tree and inode. */
struct iomap_ops;
extern const struct iomap_ops udax_iomap_ops;

/* Commit a new size for a file whose data up to it is written and
 * flushed (fenced before the commit): `exact` sets it, else only a larger
 * size is taken. Clears size_pending and the pending mtime. Caller holds
 * ip->lock exclusively. Returns 0 or a negative errno. */
int inode_set_size(struct inode *ip, uint64_t size, int exact);

/* Write a pending mtime to media in tx (if any). Caller holds ip->lock. */
int inode_flush_times(struct tx *tx, struct inode *ip);

/* Fill a struct stat from an inode. */
void inode_to_stat(const struct udax_inode *di, const struct inode *ip,
		   struct stat *st);

/* ---- directories (dir.c) ---- */

/* DT_* type of an st_mode. */
unsigned char mode_to_dtype(mode_t mode);

/* Look `name` up in directory `dir`. Returns 0 with *ino and *type,
 * -ENOENT, or UDAX_ECORRUPT. tx may be NULL. */
int dir_lookup(struct udax_fs *fs, struct tx *tx, uint64_t dir,
	       const char *name, size_t len, uint64_t *ino,
	       unsigned char *type);
/* Add an entry (the name must not exist). Updates the directory inode's
 * root and entry count. Returns 0, -ENOSPC, -ENOMEM, UDAX_ECORRUPT. */
int dir_add(struct tx *tx, uint64_t dir, const char *name, size_t len,
	    uint64_t ino, unsigned char type);
/* Remove an entry. Returns 0, -ENOENT, or as dir_add. */
int dir_remove(struct tx *tx, uint64_t dir, const char *name, size_t len);
/* Point an existing entry at another inode (rename over). */
int dir_retarget(struct tx *tx, uint64_t dir, const char *name, size_t len,
		 uint64_t ino, unsigned char type);

/* Directory scan: the entry at or after cookie `pos` (cookies of real
 * entries are >= 2; 0 and 1 are "." and ".."). Returns 1 and fills the
 * entry with *next set to the following cookie, 0 at the end, or a
 * negative errno. */
int dir_next(struct udax_fs *fs, uint64_t dir, uint64_t pos, uint64_t *ino,
	     unsigned char *type, char *name, uint64_t *next);

/* ---- extended attributes (xattr.c) ---- */

/* One entry of an xattr bucket, as parsed: its header, name, and inline
 * value (NULL when the value is in chunk items). */
struct xattr_ent {
	struct udax_xattr_val h;
	const char *name;
	const uint8_t *value;
	size_t off, size; /* place and bytes in the bucket */
};

/* Parse the entry at `off` of a bucket of `len` bytes. Returns 0, or -1
 * if it breaks a rule of FORMAT.md 12 (fsck uses it too). */
int xattr_entry_parse(const uint8_t *bucket, size_t len, size_t off,
		      struct xattr_ent *e);
/* The bucket key of a full name. */
uint64_t xattr_key(struct udax_fs *fs, const char *name, size_t len);
/* Copy the value of `name` into buf; size 0 asks for its length only.
 * Returns its length, -ENODATA, -ERANGE (buf too small), UDAX_ECORRUPT. */
ssize_t xattr_get(struct udax_fs *fs, const struct udax_inode *di,
		  const char *name, size_t nlen, void *buf, size_t size);
/* Call fn for every entry (bucket order); stops at its first non-zero
 * return, which it returns; else 0 or a negative errno. */
int xattr_iter(struct udax_fs *fs, const struct udax_inode *di,
	       int (*fn)(void *arg, const struct xattr_ent *e), void *arg);
/* xattr_set flags */
#define XATTR_SET_CREATE 0x1  /* fail with -EEXIST if present */
#define XATTR_SET_REPLACE 0x2 /* fail with -ENODATA if absent */
#define XATTR_SET_REMOVE 0x4  /* remove (-ENODATA if absent) */
/* Set, replace or remove `name` of inode `ino` in tx; updates the
 * inode's xattr root, block count and ctime. Returns 0, -EEXIST,
 * -ENODATA, -ENOSPC (limits of format.h, or no room), -ENOMEM,
 * UDAX_ECORRUPT. */
int xattr_set(struct tx *tx, uint64_t ino, const char *name, size_t nlen,
	      const void *value, size_t size, int flags);
/* Free an inode's whole xattr tree in tx (the inode is being freed). */
int xattr_destroy(struct tx *tx, uint64_t ino);

/* ---- permissions (perm.c) ---- */

/* The calling thread's credentials. */
struct cred {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[32];
	mode_t umask;
};
const struct cred *cred_current(void);
int cred_in_group(const struct cred *c, gid_t gid);
/* May the caller access the inode with mask (R_OK|W_OK|X_OK)?
 * Returns 0 or -EACCES. */
int perm_check(const struct udax_inode *di, int mask);
/* Is the caller the owner, or privileged? */
int perm_owner(const struct udax_inode *di);
/* Sticky-directory rule for deleting or renaming `victim` in `dir`. */
int perm_sticky(const struct udax_inode *dir, const struct udax_inode *victim);

/* ---- path names (namei.c) ---- */

#define NAMEI_FOLLOW 0x1 /* follow a symlink in the last component */
#define NAMEI_PARENT                                                           \
	0x2 /* stop at the parent; last name in result (with
			  * NAMEI_FOLLOW: at the parent of the final target
			  * of a symlinked last name, as O_CREAT wants) */

struct namei {
	uint64_t dir;	    /* the parent directory */
	uint64_t ino;	    /* the object, 0 if the last name is absent */
	unsigned char type; /* its DT_* type */
	char name[UDAX_NAME_MAX + 1]; /* the last component */
	size_t len;
	int trailing; /* the path ended in '/' (NAMEI_PARENT: not
			       * checked against the type; callers do) */
	int toolong;  /* NAMEI_PARENT: the last name is longer than
			       * NAME_MAX (callers give ENAMETOOLONG) */
	int is_root;  /* the path named the root itself */
};

/* Resolve a path. Caller holds fs->ns_lock (shared or exclusive).
 * With NAMEI_PARENT a missing last component is not an error (ino 0).
 * Returns 0, -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EACCES, or
 * UDAX_ECORRUPT. */
int namei(struct udax_fs *fs, const char *path, int flags, struct namei *nd);

/* Resolve one name in directory `dir`, as namei() resolves the last
 * component of a path: search permission on dir, "." and "..", a name
 * longer than NAME_MAX (with NAMEI_PARENT: nd->toolong, as namei). For
 * callers that walk paths themselves (the kernel, through udax mount:
 * node.c); symlinks are theirs to follow (NAMEI_FOLLOW is ignored).
 * Caller holds fs->ns_lock. Returns 0, -ENOENT (without NAMEI_PARENT),
 * -ENOTDIR, -EACCES, -ENAMETOOLONG, -EINVAL (a '/' in name), or
 * UDAX_ECORRUPT. */
int namei_child(struct udax_fs *fs, uint64_t dir, const char *name, int flags,
		struct namei *nd);

/* Read a symlink's target into buf (size bytes). Returns length. */
ssize_t symlink_read(struct udax_fs *fs, uint64_t ino, char *buf, size_t size);

#endif /* UDAX_INODE_H */
