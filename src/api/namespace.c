/* SPDX-License-Identifier: MIT */
/*
 * namespace.c - names: mkdir, rmdir, unlink, rename, link, symlink,
 * readlink, and attributes: stat, chmod, chown, utimens, access. Every
 * change is one transaction, made under the namespace lock held
 * exclusively; lookups hold it shared.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "api.h"
#include "btree/btree.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

static int is_dot(const struct namei *nd)
{
	return (nd->len == 1 && nd->name[0] == '.') ||
	       (nd->len == 2 && nd->name[0] == '.' && nd->name[1] == '.');
}

/* Ready the parent of a name for a change: a live directory the caller
 * may write and search. */
int parent_writable(struct udax_fs *fs, uint64_t dir,
		    const struct udax_inode **out)
{
	int err;
	const struct udax_inode *di = inode_r(fs, NULL, dir, &err);

	if (!di)
		return err;
	if (fs->read_only)
		return -EROFS;
	if (di->nlink == 0)
		return -ENOENT;
	*out = di;
	return perm_check(di, W_OK | X_OK);
}

/* Resolve `path` (namei flags) and run `op` on the result, all under the
 * namespace lock held exclusively: the path calls below are this plus
 * the core they share with the calls by inode (ino.c). */
static int ns_change_path(struct udax_fs *fs, const char *path, int flags,
			  int (*op)(struct udax_fs *fs, const struct namei *nd,
				    void *arg),
			  void *arg)
{
	struct namei nd;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = namei(fs, path, flags, &nd);
	if (!ret)
		ret = op(fs, &nd, arg);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int ns_mkdir(struct udax_fs *fs, const struct namei *nd, mode_t mode,
	     uint64_t *new_ino)
{
	const struct cred *c = cred_current();
	const struct udax_inode *dir;
	struct udax_inode *w;
	struct tx *tx;
	uint64_t ino;
	gid_t gid = c->gid;
	int ret;

	if (nd->toolong)
		return -ENAMETOOLONG;
	if (nd->ino || is_dot(nd))
		return -EEXIST;
	ret = parent_writable(fs, nd->dir, &dir);
	if (ret)
		return ret;
	if (dir->nlink >= UDAX_LINK_MAX)
		return -EMLINK;
	/* as Linux: set-ID bits do not come from the mode argument; a
	 * set-group-ID parent passes its bit on */
	mode = (mode & 01777 & ~c->umask) | S_IFDIR;
	if (dir->mode & S_ISGID) {
		gid = dir->gid;
		mode |= S_ISGID;
	}
	tx = tx_begin(fs);
	ret = inode_alloc(tx, mode, c->uid, gid, &ino);
	if (!ret) {
		w = inode_w(tx, ino);
		if (w) {
			w->nlink = 2;
			w->parent = nd->dir;
		}
		ret = dir_add(tx, nd->dir, nd->name, nd->len, ino, DT_DIR);
	}
	if (!ret) {
		w = inode_w(tx, nd->dir);
		if (w)
			w->nlink++;
	}
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	if (!ret && new_ino)
		*new_ino = ino;
	return ret;
}

static int mkdir_op(struct udax_fs *fs, const struct namei *nd, void *arg)
{
	return ns_mkdir(fs, nd, *(mode_t *)arg, NULL);
}

int udax_mkdir(struct udax_fs *fs, const char *path, mode_t mode)
{
	return ns_change_path(fs, path, NAMEI_PARENT, mkdir_op, &mode);
}

/* Drop one link of `ino` in tx; at zero it goes on the orphan list and is
 * freed at its last iput. Directories lose both links. */
int inode_drop_link(struct tx *tx, struct inode *ip, int is_dir)
{
	struct udax_inode *w = inode_w(tx, ip->ino);

	if (!w)
		return tx->failed;
	if (is_dir || w->nlink <= 1)
		w->nlink = 0;
	else
		w->nlink--;
	w->ctime_ns = fs_now_ns();
	if (w->nlink)
		return 0;
	/* the last name: free a small inode nobody else holds right here,
	 * in this transaction; else it waits on the orphan list for its last
	 * user (or for open after a crash) */
	if (icache_refs(ip) == 1 && w->blocks <= INODE_FREE_NOW_BLOCKS)
		return inode_free_now(tx, ip->ino);
	return orphan_add(tx, ip->ino);
}

int ns_remove(struct udax_fs *fs, const struct namei *nd, int want_dir)
{
	const struct udax_inode *dir, *victim;
	struct inode *ip = NULL;
	struct tx *tx;
	int ret, err;

	if (nd->toolong)
		return -ENAMETOOLONG;
	if (nd->ino && nd->trailing && nd->type != DT_DIR)
		return -ENOTDIR; /* "file/" or "symlink/" */
	if (want_dir && nd->len == 1 && nd->name[0] == '.' && !nd->is_root)
		return -EINVAL;
	if (want_dir && is_dot(nd) && !nd->is_root)
		return -ENOTEMPTY;
	if (nd->ino == UDAX_ROOT_INO)
		return want_dir ? -EBUSY : -EISDIR;
	if (!nd->ino)
		return -ENOENT;
	if (!want_dir && nd->type == DT_DIR)
		return -EISDIR;
	if (want_dir && nd->type != DT_DIR)
		return -ENOTDIR;
	ret = parent_writable(fs, nd->dir, &dir);
	if (ret)
		return ret;
	victim = inode_r(fs, NULL, nd->ino, &err);
	if (!victim)
		return err;
	ret = perm_sticky(dir, victim);
	if (ret)
		return ret;
	if (want_dir && victim->entries)
		return -ENOTEMPTY;
	ret = iget(fs, nd->ino, &ip);
	if (ret)
		return ret;
	pthread_rwlock_wrlock(
		&ip->lock); /* its data readers read nlink's line */
	tx = tx_begin(fs);
	ret = dir_remove(tx, nd->dir, nd->name, nd->len);
	if (!ret)
		ret = inode_drop_link(tx, ip, want_dir);
	if (!ret && want_dir) {
		struct udax_inode *w = inode_w(tx, nd->dir);
		if (w)
			w->nlink--;
	}
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	pthread_rwlock_unlock(&ip->lock);
	iput(ip); /* frees the inode if this was its last user */
	return ret;
}

static int remove_op(struct udax_fs *fs, const struct namei *nd, void *arg)
{
	return ns_remove(fs, nd, *(int *)arg);
}

int parent_writable_pair(struct udax_fs *fs, uint64_t a, uint64_t b,
			 const struct udax_inode **da,
			 const struct udax_inode **db)
{
	int ret = parent_writable(fs, a, da);
	return ret ? ret : parent_writable(fs, b, db);
}

int udax_rmdir(struct udax_fs *fs, const char *path)
{
	int want_dir = 1;
	return ns_change_path(fs, path, NAMEI_PARENT, remove_op, &want_dir);
}

int udax_unlink(struct udax_fs *fs, const char *path)
{
	int want_dir = 0;
	return ns_change_path(fs, path, NAMEI_PARENT, remove_op, &want_dir);
}

int ns_link(struct udax_fs *fs, uint64_t ino, unsigned char type,
	    const struct namei *dnd)
{
	const struct udax_inode *dir, *src;
	struct inode *sip;
	struct tx *tx;
	int ret, err;

	if (dnd->toolong)
		return -ENAMETOOLONG;
	if (dnd->ino || is_dot(dnd))
		return -EEXIST;
	if (dnd->trailing)
		return -ENOENT;
	if (type == DT_DIR)
		return -EPERM;
	ret = parent_writable(fs, dnd->dir, &dir);
	if (ret)
		return ret;
	src = inode_r(fs, NULL, ino, &err);
	if (!src)
		return err;
	if (src->nlink == 0)
		return -ENOENT;
	if (src->nlink >= UDAX_LINK_MAX)
		return -EMLINK;
	ret = iget(fs, ino, &sip);
	if (ret)
		return ret;
	pthread_rwlock_wrlock(&sip->lock);
	tx = tx_begin(fs);
	ret = dir_add(tx, dnd->dir, dnd->name, dnd->len, ino, type);
	if (!ret) {
		struct udax_inode *w = inode_w(tx, ino);
		if (w) {
			w->nlink++;
			w->ctime_ns = fs_now_ns();
		}
	}
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	pthread_rwlock_unlock(&sip->lock);
	iput(sip);
	return ret;
}

int udax_link(struct udax_fs *fs, const char *from, const char *to)
{
	struct namei snd, dnd;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = namei(fs, from, 0, &snd);
	if (!ret)
		ret = namei(fs, to, NAMEI_PARENT, &dnd);
	if (!ret)
		ret = ns_link(fs, snd.ino, snd.type, &dnd);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

/* Store a long symlink target in one data block, in tx. */
static int symlink_store(struct tx *tx, uint64_t ino, const char *target,
			 size_t len)
{
	struct udax_fs *fs = tx->fs;
	struct udax_inode *w;
	struct btree bt;
	uint64_t blk, got;
	int ret;

	ret = alloc_reserve_fs(fs, 1, 0);
	if (ret)
		return ret;
	ret = alloc_take(&fs->alloc, 0, 1, 0, &blk, &got);
	if (ret) {
		alloc_unreserve(&fs->alloc, 1);
		return ret;
	}
	uint8_t *p = fs_block(fs, blk);
	fs->dev->ops->memcpy_nt(fs->dev, p, target, len);
	fs->dev->ops->memzero_nt(fs->dev, p + len, UDAX_BLOCK_SIZE - len);
	tx->data_flushed = 1;
	ret = tx_use_blocks(tx, blk, 1);
	if (ret)
		return ret;
	bt_init(&bt, fs, tx, 0, ino, UDAX_TREE_EXTENT);
	ret = ext_insert(&bt, 0, blk, 1, 0);
	if (ret)
		return ret;
	w = inode_w(tx, ino);
	if (!w)
		return tx->failed;
	w->root = bt.root;
	w->blocks = 1 + (uint64_t)bt.nodes_delta;
	return 0;
}

/* Is a symlink target acceptable? Judged before any lookup, as
 * symlink(2) does. Returns 0, -EFAULT, -ENOENT or -ENAMETOOLONG. */
int ns_symlink_target_check(const char *target)
{
	size_t len;

	if (!target)
		return -EFAULT;
	len = strlen(target);
	if (!len)
		return -ENOENT;
	return len >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* A new non-directory name (symlink, mknod), as NAMEI_PARENT found it:
 * the name must not exist nor end in '/', and the parent must be
 * writable (*dir). ns_lock held exclusively. */
static int new_name_check(struct udax_fs *fs, const struct namei *nd,
			  const struct udax_inode **dir)
{
	if (nd->toolong)
		return -ENAMETOOLONG;
	if (nd->ino || is_dot(nd))
		return -EEXIST;
	if (nd->trailing)
		return -ENOENT; /* "name/" would have to be a directory */
	return parent_writable(fs, nd->dir, dir);
}

int ns_symlink(struct udax_fs *fs, const struct namei *nd, const char *target,
	       uint64_t *new_ino)
{
	const struct cred *c = cred_current();
	const struct udax_inode *dir;
	struct tx *tx;
	uint64_t ino;
	size_t len = strlen(target);
	int ret;

	ret = new_name_check(fs, nd, &dir);
	if (ret)
		return ret;
	tx = tx_begin(fs);
	ret = inode_alloc(tx, S_IFLNK | 0777, c->uid,
			  (dir->mode & S_ISGID) ? dir->gid : c->gid, &ino);
	if (!ret) {
		struct udax_inode *w = inode_w(tx, ino);
		if (w) {
			w->size = len;
			if (len <= UDAX_INLINE_MAX)
				memcpy(w->inline_data, target, len);
		}
		if (len > UDAX_INLINE_MAX)
			ret = symlink_store(tx, ino, target, len);
	}
	if (!ret)
		ret = dir_add(tx, nd->dir, nd->name, nd->len, ino, DT_LNK);
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	if (!ret && new_ino)
		*new_ino = ino;
	return ret;
}

static int symlink_op(struct udax_fs *fs, const struct namei *nd, void *arg)
{
	return ns_symlink(fs, nd, arg, NULL);
}

int udax_symlink(struct udax_fs *fs, const char *target, const char *path)
{
	int ret = ns_symlink_target_check(target);

	if (!ret && !path)
		ret = -EFAULT;
	if (ret)
		return ret;
	return ns_change_path(fs, path, NAMEI_PARENT, symlink_op,
			      (void *)target);
}

/* mknod(2)'s check of the type alone, made before the path is looked
 * at: 0, -EPERM (a directory) or -EINVAL. */
int ns_mknod_type_check(mode_t mode, dev_t dev)
{
	switch (mode & S_IFMT) {
	case 0:
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		return 0;
	case S_IFCHR:
	case S_IFBLK:
		/* not a dev_t the kernel can hold */
		return major(dev) > UDAX_RDEV_MAJOR_MAX ||
				       minor(dev) > UDAX_RDEV_MINOR_MAX ?
			       -EINVAL :
			       0;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
}

int ns_mknod(struct udax_fs *fs, const struct namei *nd, mode_t mode, dev_t dev,
	     uint64_t *new_ino)
{
	const struct cred *c = cred_current();
	const struct udax_inode *dir;
	struct udax_rdev rd = {major(dev), minor(dev)};
	int is_dev = S_ISCHR(mode) || S_ISBLK(mode);
	struct tx *tx;
	uint64_t ino;
	gid_t gid = c->gid;
	int ret;

	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	ret = new_name_check(fs, nd, &dir);
	if (ret)
		return ret;
	/* as Linux's vfs_mknod: device nodes need privilege (uid 0 here),
	 * except a character device 0:0, an overlayfs whiteout */
	if (is_dev && c->uid != 0 && !(S_ISCHR(mode) && dev == 0))
		return -EPERM;
	/* an image made before special files existed holds regular files
	 * only, as a kernel file system without ->mknod for them */
	if (!S_ISREG(mode) &&
	    !(fs->sb.feat_ro_compat & UDAX_FEAT_RO_COMPAT_SPECIAL))
		return -EPERM;
	if (dir->mode & S_ISGID)
		gid = dir->gid;
	mode = (mode & S_IFMT) | (mode & 07777 & ~c->umask);
	tx = tx_begin(fs);
	ret = inode_alloc(tx, mode, c->uid, gid, &ino);
	if (!ret && is_dev) {
		struct udax_inode *w = inode_w(tx, ino);
		if (w)
			memcpy(w->inline_data, &rd, sizeof(rd));
		else
			ret = tx->failed;
	}
	if (!ret)
		ret = dir_add(tx, nd->dir, nd->name, nd->len, ino,
			      mode_to_dtype(mode));
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	if (!ret && new_ino)
		*new_ino = ino;
	return ret;
}

struct mknod_args {
	mode_t mode;
	dev_t dev;
};

static int mknod_op(struct udax_fs *fs, const struct namei *nd, void *arg)
{
	const struct mknod_args *a = arg;
	return ns_mknod(fs, nd, a->mode, a->dev, NULL);
}

int udax_mknod(struct udax_fs *fs, const char *path, mode_t mode, dev_t dev)
{
	struct mknod_args a = {mode, dev};
	int ret;

	if (!path)
		return -EFAULT;
	ret = ns_mknod_type_check(mode, dev);
	if (ret)
		return ret;
	return ns_change_path(fs, path, NAMEI_PARENT, mknod_op, &a);
}

ssize_t udax_readlink(struct udax_fs *fs, const char *path, char *buf,
		      size_t size)
{
	struct namei nd;
	ssize_t ret;

	if (!size)
		return -EINVAL;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = namei(fs, path, 0, &nd);
	if (!ret)
		ret = nd.type == DT_LNK ? symlink_read(fs, nd.ino, buf, size) :
					  -EINVAL;
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static int stat_common(struct udax_fs *fs, const char *path, int follow,
		       struct stat *st)
{
	const struct udax_inode *di;
	struct namei nd;
	int ret, err;

	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = namei(fs, path, follow ? NAMEI_FOLLOW : 0, &nd);
	if (!ret) {
		di = inode_r(fs, NULL, nd.ino, &err);
		if (di)
			api_stat_inode(fs, di, st);
		else
			ret = err;
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int udax_stat(struct udax_fs *fs, const char *path, struct stat *st)
{
	return stat_common(fs, path, 1, st);
}

int udax_lstat(struct udax_fs *fs, const char *path, struct stat *st)
{
	return stat_common(fs, path, 0, st);
}

int udax_access(struct udax_fs *fs, const char *path, int mode)
{
	const struct udax_inode *di;
	struct namei nd;
	int ret, err;

	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = namei(fs, path, NAMEI_FOLLOW, &nd);
	if (!ret) {
		di = inode_r(fs, NULL, nd.ino, &err);
		ret = di ? perm_check(di, mode) : err;
		if (!ret && (mode & W_OK) && fs->read_only)
			ret = -EROFS;
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int setattr_begin(struct udax_fs *fs, const struct setattr_target *tgt,
		  uint64_t *ino, const struct udax_inode **di,
		  struct inode **ipp, struct tx **txp)
{
	struct namei nd;
	int ret = 0, err;

	pthread_rwlock_wrlock(&fs->ns_lock);
	if (tgt->ip) {
		*ino = tgt->ip->ino;
	} else {
		ret = namei(fs, tgt->path, tgt->follow ? NAMEI_FOLLOW : 0, &nd);
		*ino = nd.ino;
	}
	if (!ret && fs->read_only)
		ret = -EROFS;
	if (!ret)
		ret = iget(fs, *ino, ipp);
	if (ret) {
		pthread_rwlock_unlock(&fs->ns_lock);
		return ret;
	}
	pthread_rwlock_wrlock(&(*ipp)->lock);
	*di = inode_r(fs, NULL, *ino, &err);
	if (!*di) {
		pthread_rwlock_unlock(&(*ipp)->lock);
		iput(*ipp);
		pthread_rwlock_unlock(&fs->ns_lock);
		return err;
	}
	*txp = tx_begin(fs);
	return 0;
}

int setattr_end(struct udax_fs *fs, struct inode *ip, struct tx *tx, int ret)
{
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	pthread_rwlock_unlock(&ip->lock);
	iput(ip);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static int chmod_common(struct udax_fs *fs, const struct setattr_target *tgt,
			mode_t mode)
{
	const struct udax_inode *di;
	struct udax_inode *w;
	struct inode *ip;
	struct tx *tx;
	uint64_t ino;
	int ret;

	ret = setattr_begin(fs, tgt, &ino, &di, &ip, &tx);
	if (ret)
		return ret;
	if (!perm_owner(di))
		return setattr_end(fs, ip, tx, -EPERM);
	mode &= 07777;
	if (cred_current()->uid != 0 && !S_ISDIR(di->mode) &&
	    !cred_in_group(cred_current(), di->gid))
		mode &= ~(mode_t)S_ISGID;
	/* an access ACL follows the mode, in the same transaction */
	ret = acl_chmod(tx, ino, di, mode);
	if (ret)
		return setattr_end(fs, ip, tx, ret);
	w = inode_w(tx, ino);
	if (!w)
		return setattr_end(fs, ip, tx, tx->failed);
	w->mode = (uint16_t)((w->mode & S_IFMT) | mode);
	w->ctime_ns = fs_now_ns();
	return setattr_end(fs, ip, tx, 0);
}

int udax_chmod(struct udax_fs *fs, const char *path, mode_t mode)
{
	return chmod_common(fs, &(struct setattr_target){path, 1, NULL}, mode);
}

int udax_fchmod(struct udax_file *f, mode_t mode)
{
	if (!f)
		return -EBADF;
	return chmod_common(f->fs, &(struct setattr_target){NULL, 0, f->ip},
			    mode);
}

static int chown_common(struct udax_fs *fs, const struct setattr_target *tgt,
			uid_t uid, gid_t gid)
{
	const struct cred *c = cred_current();
	const struct udax_inode *di;
	struct udax_inode *w;
	struct inode *ip;
	struct tx *tx;
	uint64_t ino;
	int ret;

	ret = setattr_begin(fs, tgt, &ino, &di, &ip, &tx);
	if (ret)
		return ret;
	if (c->uid != 0) {
		if (uid != (uid_t)-1 && uid != di->uid)
			return setattr_end(fs, ip, tx, -EPERM);
		if (gid != (gid_t)-1 && gid != di->gid &&
		    (c->uid != di->uid || !cred_in_group(c, gid)))
			return setattr_end(fs, ip, tx, -EPERM);
		if (c->uid != di->uid && (uid != (uid_t)-1 || gid != (gid_t)-1))
			return setattr_end(fs, ip, tx, -EPERM);
	}
	w = inode_w(tx, ino);
	if (!w)
		return setattr_end(fs, ip, tx, tx->failed);
	if (uid != (uid_t)-1)
		w->uid = uid;
	if (gid != (gid_t)-1)
		w->gid = gid;
	if (!S_ISDIR(w->mode) && !S_ISLNK(w->mode)) {
		/* as Linux: any chown of a file drops set-user-ID, and
		 * set-group-ID when group execution is allowed */
		w->mode &= (uint16_t)~S_ISUID;
		if (w->mode & S_IXGRP)
			w->mode &= (uint16_t)~S_ISGID;
	}
	w->ctime_ns = fs_now_ns();
	return setattr_end(fs, ip, tx, 0);
}

int udax_chown(struct udax_fs *fs, const char *path, uid_t uid, gid_t gid)
{
	return chown_common(fs, &(struct setattr_target){path, 1, NULL}, uid,
			    gid);
}

int udax_lchown(struct udax_fs *fs, const char *path, uid_t uid, gid_t gid)
{
	return chown_common(fs, &(struct setattr_target){path, 0, NULL}, uid,
			    gid);
}

int udax_fchown(struct udax_file *f, uid_t uid, gid_t gid)
{
	if (!f)
		return -EBADF;
	return chown_common(f->fs, &(struct setattr_target){NULL, 0, f->ip},
			    uid, gid);
}

static int64_t ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static int utimens_common(struct udax_fs *fs, const struct setattr_target *tgt,
			  const struct timespec times[2])
{
	const struct udax_inode *di;
	struct udax_inode *w;
	struct inode *ip;
	struct tx *tx;
	uint64_t ino;
	int64_t now = fs_now_ns();
	int ret, set_now = 1;

	for (int i = 0; times && i < 2; i++) {
		if (times[i].tv_nsec == UTIME_NOW ||
		    times[i].tv_nsec == UTIME_OMIT)
			continue;
		if (times[i].tv_nsec < 0 || times[i].tv_nsec >= 1000000000)
			return -EINVAL;
		set_now = 0;
	}
	if (times && times[0].tv_nsec == UTIME_OMIT &&
	    times[1].tv_nsec == UTIME_OMIT)
		set_now = 0;
	ret = setattr_begin(fs, tgt, &ino, &di, &ip, &tx);
	if (ret)
		return ret;
	if (!perm_owner(di)) {
		/* setting "now" needs write permission; explicit times need
		 * ownership */
		if (!set_now || (times && (times[0].tv_nsec == UTIME_OMIT ||
					   times[1].tv_nsec == UTIME_OMIT)))
			return setattr_end(fs, ip, tx, -EPERM);
		if (perm_check(di, W_OK))
			return setattr_end(fs, ip, tx, -EACCES);
	}
	w = inode_w(tx, ino);
	if (!w)
		return setattr_end(fs, ip, tx, tx->failed);
	if (!times || times[0].tv_nsec == UTIME_NOW)
		w->atime_ns = now;
	else if (times[0].tv_nsec != UTIME_OMIT)
		w->atime_ns = ts_to_ns(&times[0]);
	if (!times || times[1].tv_nsec == UTIME_NOW)
		w->mtime_ns = now;
	else if (times[1].tv_nsec != UTIME_OMIT)
		w->mtime_ns = ts_to_ns(&times[1]);
	if (!times || times[1].tv_nsec != UTIME_OMIT)
		icache_forget_mtime(fs, ino); /* the explicit time wins */
	w->ctime_ns = now;
	return setattr_end(fs, ip, tx, 0);
}

int udax_utimens(struct udax_fs *fs, const char *path,
		 const struct timespec times[2], int flags)
{
	if (flags & ~AT_SYMLINK_NOFOLLOW)
		return -EINVAL;
	return utimens_common(
		fs,
		&(struct setattr_target){path, !(flags & AT_SYMLINK_NOFOLLOW),
					 NULL},
		times);
}

int udax_futimens(struct udax_file *f, const struct timespec times[2])
{
	if (!f)
		return -EBADF;
	return utimens_common(f->fs, &(struct setattr_target){NULL, 0, f->ip},
			      times);
}

/* The attribute changes of a held inode (ino.h): as those of an open
 * file. */

int udax_ino_chmod(struct udax_ino *h, mode_t mode)
{
	return chmod_common(h->fs, &(struct setattr_target){NULL, 0, h->ip},
			    mode);
}

int udax_ino_chown(struct udax_ino *h, uid_t uid, gid_t gid)
{
	return chown_common(h->fs, &(struct setattr_target){NULL, 0, h->ip},
			    uid, gid);
}

int udax_ino_utimens(struct udax_ino *h, const struct timespec times[2])
{
	return utimens_common(h->fs, &(struct setattr_target){NULL, 0, h->ip},
			      times);
}

/* ---- directories ---- */

int udax_dir_open(struct udax_fs *fs, const char *path, struct udax_dir **dp)
{
	const struct udax_inode *di;
	struct udax_dir *d;
	struct namei nd;
	int ret, err;

	*dp = NULL;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = namei(fs, path, NAMEI_FOLLOW, &nd);
	if (ret)
		goto unlock;
	di = inode_r(fs, NULL, nd.ino, &err);
	if (!di) {
		ret = err;
		goto unlock;
	}
	if (!S_ISDIR(di->mode)) {
		ret = -ENOTDIR;
		goto unlock;
	}
	ret = perm_check(di, R_OK);
	if (ret)
		goto unlock;
	d = sys_calloc(1, sizeof(*d));
	if (!d) {
		ret = -ENOMEM;
		goto unlock;
	}
	ret = iget(fs, nd.ino, &d->ip);
	if (ret) {
		free(d);
		goto unlock;
	}
	d->fs = fs;
	atomic_fetch_add(&fs->open_handles, 1);
	*dp = d;
unlock:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int dir_read_at(struct inode *dp, uint64_t *pos, struct udax_dirent *ent,
		struct stat *st, struct inode **held)
{
	struct udax_fs *fs = dp->fs;
	const struct udax_inode *di;
	int ret, err;

	pthread_rwlock_rdlock(&fs->ns_lock);
	di = inode_r(fs, NULL, dp->ino, &err);
	if (!di) {
		ret = err;
		goto unlock;
	}
	if (di->nlink == 0) {
		ret = 0; /* removed while open: empty */
		goto unlock;
	}
	if (*pos < 2) {
		ent->ino = *pos == 0 ? dp->ino : di->parent;
		ent->type = DT_DIR;
		strcpy(ent->name, *pos == 0 ? "." : "..");
		ent->off = *pos + 1;
		ret = 1;
	} else {
		ret = dir_next(fs, dp->ino, *pos, &ent->ino, &ent->type,
			       ent->name, &ent->off);
	}
	if (ret == 1 && st) {
		const struct udax_inode *ei = inode_r(fs, NULL, ent->ino, &err);
		if (ei)
			api_stat_inode(fs, ei, st);
		else
			ret = err;
	}
	/* the reference is taken before the namespace lock drops: the
	 * entry's inode cannot be freed (and its number reused) between */
	if (ret == 1 && held) {
		err = iget(fs, ent->ino, held);
		if (err)
			ret = err;
	}
	if (ret == 1)
		*pos = ent->off;
unlock:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int udax_dir_read(struct udax_dir *d, struct udax_dirent *ent)
{
	return d ? dir_read_at(d->ip, &d->pos, ent, NULL, NULL) : -EBADF;
}

int udax_dir_read_stat(struct udax_dir *d, struct udax_dirent *ent,
		       struct stat *st)
{
	return d ? dir_read_at(d->ip, &d->pos, ent, st, NULL) : -EBADF;
}

int udax_dir_seek(struct udax_dir *d, uint64_t off)
{
	if (!d)
		return -EBADF;
	d->pos = off;
	return 0;
}

int udax_dir_close(struct udax_dir **dp)
{
	struct udax_dir *d = *dp;

	if (!d)
		return -EBADF;
	struct udax_fs *fs = d->fs;
	*dp = NULL;
	fs_release_begin(fs);
	iput(d->ip);
	free(d);
	atomic_fetch_sub(&fs->open_handles, 1);
	fs_release_end(fs);
	return 0;
}
