/* SPDX-License-Identifier: MIT */
/*
 * ino.c - the calls by inode of ino.h: hold an inode, look one name up
 * in a held directory, and the namespace changes on (directory, name),
 * which share their cores with the path calls (ns_* in api.h, resolved
 * by namei_child() instead of namei()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ino.h"
#include "sys/sys.h"

_Static_assert(UDAX_INO_ROOT == UDAX_ROOT_INO, "ino.h names the root");

/* Wrap an inode reference the caller took (iget) into a hold, counted
 * in open_handles. On failure the reference is dropped. Returns 0 or
 * -ENOMEM. */
static int ino_wrap(struct udax_fs *fs, struct inode *ip,
		    struct udax_ino **heldp)
{
	struct udax_ino *h = sys_calloc(1, sizeof(*h));

	if (!h) {
		iput(ip);
		return -ENOMEM;
	}
	h->fs = fs;
	h->ip = ip;
	atomic_fetch_add(&fs->open_handles, 1);
	*heldp = h;
	return 0;
}

/* Hold inode `ino`, which a name names (or did, under the namespace lock
 * the caller holds): it cannot be freed meanwhile. */
static int ino_hold(struct udax_fs *fs, uint64_t ino, struct udax_ino **held)
{
	struct inode *ip;
	int ret = iget(fs, ino, &ip);

	return ret ? ret : ino_wrap(fs, ip, held);
}

void udax_ino_put(struct udax_ino **heldp)
{
	struct udax_ino *h = *heldp;

	if (!h)
		return;
	atomic_fetch_sub(&h->fs->open_handles, 1);
	iput(h->ip); /* frees an inode with no name left */
	free(h);
	*heldp = NULL;
}

uint64_t udax_ino_number(const struct udax_ino *h)
{
	return h->ip->ino;
}

int udax_ino_stat(struct udax_ino *h, struct udax_ino_attr *attr)
{
	const struct udax_inode *di;
	int err;

	/* as udax_fstat: the inode lock keeps a data change's size and
	 * pending mtime together */
	pthread_rwlock_rdlock(&h->ip->lock);
	di = inode_r(h->fs, NULL, h->ip->ino, &err);
	if (di) {
		inode_to_stat(di, h->ip, &attr->st);
		attr->generation = di->generation;
	}
	pthread_rwlock_unlock(&h->ip->lock);
	return di ? 0 : err;
}

/* Fill attr (if asked) of an inode just held; on failure the hold is
 * put again. */
static int ino_done(struct udax_ino **held, struct udax_ino_attr *attr)
{
	int ret = attr ? udax_ino_stat(*held, attr) : 0;

	if (ret)
		udax_ino_put(held);
	return ret;
}

int udax_ino_get(struct udax_fs *fs, uint64_t ino, struct udax_ino **held,
		 struct udax_ino_attr *attr)
{
	const struct udax_inode *di;
	int ret, err;

	*held = NULL;
	/* a number from outside (a file handle): out of range is a stale
	 * handle, not damage */
	if (ino == 0 || ino >= fs->sb.inode_count)
		return -ESTALE;
	pthread_rwlock_rdlock(&fs->ns_lock);
	di = inode_r(fs, NULL, ino, &err);
	/* as ext4 for file handles: an inode with no name left is stale
	 * (it may be freed by its last user at any moment) */
	if (!di)
		ret = err;
	else if (di->nlink == 0)
		ret = -ESTALE;
	else
		ret = ino_hold(fs, ino, held);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret ? ret : ino_done(held, attr);
}

int udax_ino_lookup(struct udax_ino *dir, const char *name,
		    struct udax_ino **held, struct udax_ino_attr *attr)
{
	struct udax_fs *fs = dir->fs;
	struct namei nd;
	int ret;

	*held = NULL;
	pthread_rwlock_rdlock(&fs->ns_lock);
	ret = namei_child(fs, dir->ip->ino, name, 0, &nd);
	if (!ret)
		ret = ino_hold(fs, nd.ino, held);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret ? ret : ino_done(held, attr);
}

/* How ino_make makes its object: a core of api.h on the resolved name. */
typedef int (*ino_make_fn)(struct udax_fs *fs, struct namei *nd,
			   const void *arg, uint64_t *new_ino);

/* Resolve name in dir, make it with `make` and hold the new inode, all
 * under the namespace lock held exclusively. */
static int ino_make(struct udax_ino *dir, const char *name, ino_make_fn make,
		    const void *arg, struct udax_ino **held,
		    struct udax_ino_attr *attr)
{
	struct udax_fs *fs = dir->fs;
	struct namei nd;
	uint64_t ino = 0;
	int ret;

	*held = NULL;
	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = namei_child(fs, dir->ip->ino, name, NAMEI_PARENT, &nd);
	if (!ret)
		ret = make(fs, &nd, arg, &ino);
	if (!ret)
		ret = ino_hold(fs, ino, held);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret ? ret : ino_done(held, attr);
}

static int make_dir(struct udax_fs *fs, struct namei *nd, const void *arg,
		    uint64_t *new_ino)
{
	return ns_mkdir(fs, nd, *(const mode_t *)arg, new_ino);
}

static int make_symlink(struct udax_fs *fs, struct namei *nd, const void *arg,
			uint64_t *new_ino)
{
	return ns_symlink(fs, nd, arg, new_ino);
}

/* As udax_file_open's O_CREAT|O_EXCL, in its order of judgements. */
static int make_file(struct udax_fs *fs, struct namei *nd, const void *arg,
		     uint64_t *new_ino)
{
	int is_dot = nd->name[0] == '.' &&
		     (nd->len == 1 || (nd->len == 2 && nd->name[1] == '.'));

	if (is_dot || nd->ino)
		return -EEXIST;
	if (nd->toolong)
		return -ENAMETOOLONG;
	if (fs->read_only)
		return -EROFS;
	return file_create(fs, nd, *(const mode_t *)arg, new_ino);
}

struct ino_mknod_args {
	mode_t mode;
	dev_t rdev;
};

static int make_node(struct udax_fs *fs, struct namei *nd, const void *arg,
		     uint64_t *new_ino)
{
	const struct ino_mknod_args *a = arg;

	return ns_mknod(fs, nd, a->mode, a->rdev, new_ino);
}

int udax_ino_mkdir(struct udax_ino *dir, const char *name, mode_t mode,
		   struct udax_ino **held, struct udax_ino_attr *attr)
{
	return ino_make(dir, name, make_dir, &mode, held, attr);
}

int udax_ino_symlink(struct udax_ino *dir, const char *name, const char *target,
		     struct udax_ino **held, struct udax_ino_attr *attr)
{
	int ret = ns_symlink_target_check(target);

	if (ret) {
		*held = NULL;
		return ret;
	}
	return ino_make(dir, name, make_symlink, target, held, attr);
}

int udax_ino_create(struct udax_ino *dir, const char *name, mode_t mode,
		    struct udax_ino **held, struct udax_ino_attr *attr)
{
	return ino_make(dir, name, make_file, &mode, held, attr);
}

int udax_ino_mknod(struct udax_ino *dir, const char *name, mode_t mode,
		   dev_t rdev, struct udax_ino **held,
		   struct udax_ino_attr *attr)
{
	struct ino_mknod_args a = {mode, rdev};
	/* mknod(2) judges the type before the name, as udax_mknod */
	int ret = ns_mknod_type_check(mode, rdev);

	if (ret) {
		*held = NULL;
		return ret;
	}
	return ino_make(dir, name, make_node, &a, held, attr);
}

int udax_ino_link(struct udax_ino *h, struct udax_ino *dir, const char *name,
		  struct udax_ino_attr *attr)
{
	struct udax_fs *fs = dir->fs;
	const struct udax_inode *di;
	struct namei dnd;
	int ret, err;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = namei_child(fs, dir->ip->ino, name, NAMEI_PARENT, &dnd);
	if (!ret) {
		di = inode_r(fs, NULL, h->ip->ino, &err);
		ret = di ? ns_link(fs, h->ip->ino, mode_to_dtype(di->mode),
				   &dnd) :
			   err;
	}
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret || !attr ? ret : udax_ino_stat(h, attr);
}

static int ino_remove(struct udax_ino *dir, const char *name, int want_dir)
{
	struct udax_fs *fs = dir->fs;
	struct namei nd;
	int ret;

	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = namei_child(fs, dir->ip->ino, name, NAMEI_PARENT, &nd);
	if (!ret)
		ret = ns_remove(fs, &nd, want_dir);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int udax_ino_unlink(struct udax_ino *dir, const char *name)
{
	return ino_remove(dir, name, 0);
}

int udax_ino_rmdir(struct udax_ino *dir, const char *name)
{
	return ino_remove(dir, name, 1);
}

int udax_ino_rename(struct udax_ino *dir, const char *name,
		    struct udax_ino *newdir, const char *newname,
		    unsigned int flags)
{
	struct udax_fs *fs = dir->fs;
	struct namei snd, dnd;
	int ret = ns_rename_flags_check(flags);

	if (ret)
		return ret;
	/* exclusive from both lookups to the commit, as udax_rename */
	pthread_rwlock_wrlock(&fs->ns_lock);
	ret = namei_child(fs, dir->ip->ino, name, NAMEI_PARENT, &snd);
	if (!ret)
		ret = namei_child(fs, newdir->ip->ino, newname, NAMEI_PARENT,
				  &dnd);
	if (!ret)
		ret = ns_rename(fs, &snd, &dnd, flags);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

ssize_t udax_ino_readlink(struct udax_ino *h, char *buf, size_t size)
{
	ssize_t ret;

	if (!size)
		return -EINVAL;
	pthread_rwlock_rdlock(&h->fs->ns_lock);
	ret = symlink_read(h->fs, h->ip->ino, buf, size);
	pthread_rwlock_unlock(&h->fs->ns_lock);
	return ret;
}

int udax_ino_open(struct udax_ino *h, int flags, struct udax_file **filep)
{
	struct udax_fs *fs = h->fs;
	const struct udax_inode *di;
	struct udax_file *f;
	int acc = flags & O_ACCMODE, err;

	*filep = NULL;
	if (acc == O_ACCMODE)
		return -EINVAL;
	di = inode_r(fs, NULL, h->ip->ino, &err);
	if (!di)
		return err;
	/* the type decides what a handle may be, as udax_file_open */
	if (S_ISDIR(di->mode) && acc != O_RDONLY)
		return -EISDIR;
	if (!S_ISDIR(di->mode) && !S_ISREG(di->mode))
		return -ENXIO;
	if (fs->read_only && acc != O_RDONLY)
		return -EROFS;
	f = sys_calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	/* the handle's own reference: it outlives the hold if need be */
	igrab(h->ip);
	f->fs = fs;
	f->ip = h->ip;
	f->flags = flags & (O_ACCMODE | O_APPEND);
	f->is_dir = S_ISDIR(di->mode);
	pthread_mutex_init(&f->pos_lock, NULL);
	atomic_fetch_add(&fs->open_handles, 1);
	*filep = f;
	return 0;
}

int udax_ino_readdir(struct udax_ino *dir, uint64_t *cookie,
		     struct udax_dirent *ent, struct udax_ino **entry_held,
		     struct udax_ino_attr *attr)
{
	struct udax_ino *held = NULL;
	struct inode *ip = NULL;
	int ret, want = entry_held || attr;

	if (entry_held)
		*entry_held = NULL;
	ret = dir_read_at(dir->ip, cookie, ent, NULL, want ? &ip : NULL);
	if (ret != 1 || !want)
		return ret;
	/* attributes from the held inode: those of the inode the entry
	 * named when it was read */
	ret = ino_wrap(dir->fs, ip, &held);
	if (!ret)
		ret = ino_done(&held, attr);
	if (ret)
		return ret;
	if (entry_held)
		*entry_held = held;
	else
		udax_ino_put(&held);
	return 1;
}
