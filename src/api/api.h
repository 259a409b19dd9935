/* SPDX-License-Identifier: MIT */
/*
 * api.h - the objects behind the public handles of udax.h.
 *
 * struct udax_file lifecycle: udax_file_open() takes an inode reference
 * and counts the handle in fs->open_handles; udax_file_close() drops both.
 * `pos` is guarded by pos_lock; everything about the file's data by the
 * inode's lock. A handle is used by one thread at a time or with the
 * caller's own locking for read()/write() positions, as with POSIX fds.
 */
#ifndef UDAX_API_H
#define UDAX_API_H

#include <fcntl.h>
#include <pthread.h>

#include "inode/inode.h"

#define UDAX_MAX_FILE_SIZE (1ull << 44) /* 16 TiB, as ext4 */
#define UDAX_LINK_MAX 65000u

struct udax_file {
	struct udax_fs *fs;
	struct inode *ip;
	int flags;  /* open flags: O_ACCMODE, O_APPEND */
	int is_dir; /* opened O_RDONLY on a directory */
	pthread_mutex_t pos_lock;
	uint64_t pos;
};

struct udax_dir {
	struct udax_fs *fs;
	struct inode *ip;
	uint64_t pos; /* cookie of the next entry */
};

/* Current mtime of an inode, counting a pending one in the cache. */
void api_stat_inode(struct udax_fs *fs, const struct udax_inode *di,
		    struct stat *st);

/* Zero the bytes past `size` in its last block before the size grows. */
int api_zero_tail(struct inode *ip, uint64_t size);

/* Punch [off, off+len) out of a file: whole blocks are freed (zero: and
 * replaced by unwritten ones), partial blocks replaced by zeroed copies,
 * all in one transaction unless the range needs more than the journal
 * holds. Caller holds ip->lock exclusively. */
int api_punch_range(struct inode *ip, uint64_t off, uint64_t len, int zero);

/* namespace.c helpers shared with rename.c. ns_lock held exclusively. */
int parent_writable(struct udax_fs *fs, uint64_t dir,
		    const struct udax_inode **out);
int parent_writable_pair(struct udax_fs *fs, uint64_t a, uint64_t b,
			 const struct udax_inode **da,
			 const struct udax_inode **db);
/* Drop a link of an inode (all of a directory's); at 0 it is freed in
 * the same transaction if small and unused, else it becomes an orphan. */
int inode_drop_link(struct tx *tx, struct inode *ip, int is_dir);

/* What an attribute change acts on: a path (following a symlink in its
 * last name if `follow`) or, when `file` is set, an open file's inode
 * (which may have no name left). */
struct setattr_target {
	const char *path;
	int follow;
	struct udax_file *file;
};

/* Find the inode of an attribute change, lock it (data readers hold its
 * lock while they read the on-media inode) and open a transaction. On
 * success ns_lock (exclusive: path walks read the modes this changes),
 * the inode lock and the journal lock are held, in that order, and *ino
 * names the inode; setattr_end commits (ret 0) or aborts, releases them
 * and returns ret or the commit's error. */
int setattr_begin(struct udax_fs *fs, const struct setattr_target *tgt,
		  uint64_t *ino, const struct udax_inode **di,
		  struct inode **ipp, struct tx **txp);
int setattr_end(struct udax_fs *fs, struct inode *ip, struct tx *tx, int ret);

/* For tests and tools: open a file system on an already open device
 * (e.g. the crash-emulating one), after mkfs if do_mkfs. The device is
 * owned by the file system from then on (closed on failure too). */
int udax_open_device(struct udax_fs **fs, struct dev *dev, int do_mkfs,
		     const struct udax_open_opts *opts);
struct dev *udax_fs_device(struct udax_fs *fs);
#endif /* UDAX_API_H */
