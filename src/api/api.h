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

/* A held inode, for a server that walks paths itself and names files by
 * inode number, as the kernel does (ino.h, ino.c). Lifecycle:
 * udax_ino_get, udax_ino_lookup, udax_ino_mkdir and the other calls
 * that return one take an inode reference (iget) and count the hold in
 * fs->open_handles, so that udax_close refuses while inodes are held;
 * udax_ino_put drops both, and the last reference on an unlinked inode
 * frees it (an orphan until then). Both fields are fixed for the hold's
 * life; a hold is used by any number of threads. */
struct udax_ino {
	struct udax_fs *fs;
	struct inode *ip;
};

/* Current mtime of an inode, counting a pending one in the cache. */
void api_stat_inode(struct udax_fs *fs, const struct udax_inode *di,
		    struct stat *st);

/* Zero the bytes past `size` in its last block before the size grows. */
int api_zero_tail(struct inode *ip, uint64_t size);
/* A write or truncate by a caller without CAP_FSETID (here: not root)
 * drops the set-user-ID bit, and the set-group-ID bit of a group-
 * executable file or of a file whose group the caller is not in, as
 * Linux's file_remove_privs() (setattr_should_drop_sgid, Linux 6.2+).
 * Caller holds the inode lock exclusively. Returns 0 or -errno. */
int file_kill_privs(struct udax_file *f);

/* Before bytes of [lo, hi) of ip change in place: if a block there is
 * shared, copy-on-write will replace it, so the layout of the range
 * breaks first (its mapped pages zapped, its pins waited for). Caller
 * holds ip->lock exclusively; the break may drop it while it waits, so
 * the caller reads the file's size after. Returns 1 with the break held
 * (layout_break_end), 0 if no block there is shared, or -errno. */
int api_cow_break(struct inode *ip, uint64_t lo, uint64_t hi);

/* Punch [off, off+len) out of a file: whole blocks are freed (zero: and
 * replaced by unwritten ones), partial blocks replaced by zeroed copies,
 * all in one transaction unless the range needs more than the journal
 * holds. Caller holds ip->lock exclusively. */
int api_punch_range(struct inode *ip, uint64_t off, uint64_t len, int zero);

/* Create a regular file named nd->name in nd->dir (NAMEI_PARENT result,
 * name absent) with the caller's credentials: file.c's open and
 * ino.c's create. ns_lock held exclusively. Returns 0 and *ino, or
 * -ENOENT (a removed directory), -EACCES, -ENOSPC, UDAX_ECORRUPT. */
int file_create(struct udax_fs *fs, struct namei *nd, mode_t mode,
		uint64_t *ino);

/* The namespace changes on a resolved name (a struct namei from namei()
 * with NAMEI_PARENT, or from namei_child()): the path calls of udax.h
 * and the calls by inode of ino.h share them. ns_lock held exclusively.
 * Each returns as its udax.h call; new_ino (may be NULL) gets the inode
 * a call made. */
int ns_mkdir(struct udax_fs *fs, const struct namei *nd, mode_t mode,
	     uint64_t *new_ino);
/* unlink (want_dir 0) or rmdir (1) */
int ns_remove(struct udax_fs *fs, const struct namei *nd, int want_dir);
/* a new name dnd for inode `ino` of DT_* `type` */
int ns_link(struct udax_fs *fs, uint64_t ino, unsigned char type,
	    const struct namei *dnd);
/* mode and dev checked by ns_mknod_type_check first (before any lookup):
 * 0, -EPERM (a directory) or -EINVAL */
int ns_mknod_type_check(mode_t mode, dev_t dev);
int ns_mknod(struct udax_fs *fs, const struct namei *nd, mode_t mode, dev_t dev,
	     uint64_t *new_ino);
/* target checked by ns_symlink_target_check first (before any lookup) */
int ns_symlink_target_check(const char *target);
int ns_symlink(struct udax_fs *fs, const struct namei *nd, const char *target,
	       uint64_t *new_ino);
/* flags checked by ns_rename_flags_check first (before any lookup) */
int ns_rename_flags_check(unsigned int flags);
int ns_rename(struct udax_fs *fs, const struct namei *snd,
	      const struct namei *dnd, unsigned int flags);

/* The entry of directory dp at cookie *pos (as udax_dir_read: "." and
 * ".." first), then *pos moves past it. With st, the entry's attributes;
 * with held, a reference on the entry's inode (iget), taken under the
 * same hold of ns_lock as the entry was read, so that the inode cannot
 * be freed and its number reused in between. Takes ns_lock shared.
 * Returns 1, 0 at the end, or a negative errno. */
int dir_read_at(struct inode *dp, uint64_t *pos, struct udax_dirent *ent,
		struct stat *st, struct inode **held);

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
 * last name if `follow`) or, when `ip` is set, a held inode (an open
 * file's or a node's, which may have no name left). */
struct setattr_target {
	const char *path;
	int follow;
	struct inode *ip;
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

/* After a chmod to `mode` of inode ino (on-media inode di, as before the
 * change) in tx: rewrite its access ACL's owner, mask (or group) and
 * other entries to match, as Linux's posix_acl_chmod (xattr.c). Returns
 * 0 (also with no ACL), -ENOMEM, or xattr_set's errors. */
int acl_chmod(struct tx *tx, uint64_t ino, const struct udax_inode *di,
	      mode_t mode);

/* For tests and tools: open a file system on an already open device
 * (e.g. the crash-emulating one), after mkfs if do_mkfs. The device is
 * owned by the file system from then on (closed on failure too). */
int udax_open_device(struct udax_fs **fs, struct dev *dev, int do_mkfs,
		     const struct udax_open_opts *opts);
struct dev *udax_fs_device(struct udax_fs *fs);
#endif /* UDAX_API_H */
