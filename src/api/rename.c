/* SPDX-License-Identifier: MIT */
/*
 * rename.c - rename in all its forms (plain, replacing, RENAME_NOREPLACE,
 * RENAME_EXCHANGE), as one transaction: after a crash the old name or the
 * new one exists, never both or neither.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/fs.h>
#include <string.h>

#include "api.h"

/* Is `ino` the directory `anc` or below it? Walks parent links up. */
static int is_below(struct udax_fs *fs, uint64_t ino, uint64_t anc, int *err)
{
	uint64_t steps = 0;

	*err = 0;
	for (;;) {
		const struct udax_inode *di;
		if (ino == anc)
			return 1;
		if (ino == UDAX_ROOT_INO)
			return 0;
		di = inode_r(fs, NULL, ino, err);
		if (!di)
			return 0;
		if (++steps > fs->sb.inode_count) {
			*err = fs_corrupt(fs,
					  "directory parent loop at inode "
					  "%llu",
					  (unsigned long long)ino);
			return 0;
		}
		ino = di->parent;
	}
}

/* Move directory `ino` from parent `from` to parent `to` in tx. */
static int move_dir(struct tx *tx, uint64_t ino, uint64_t from, uint64_t to,
		    int to_gains_link)
{
	struct udax_inode *w;

	if (from == to)
		return 0;
	w = inode_w(tx, ino);
	if (!w)
		return tx->failed;
	w->parent = to;
	w = inode_w(tx, from);
	if (!w)
		return tx->failed;
	w->nlink--;
	if (to_gains_link) {
		w = inode_w(tx, to);
		if (!w)
			return tx->failed;
		w->nlink++;
	}
	return 0;
}

static int is_dot_name(const struct namei *nd)
{
	return nd->name[0] == '.' &&
	       (nd->len == 1 || (nd->len == 2 && nd->name[1] == '.'));
}

static int touch_ctime(struct tx *tx, uint64_t ino)
{
	struct udax_inode *w = inode_w(tx, ino);
	if (!w)
		return tx->failed;
	w->ctime_ns = fs_now_ns();
	return 0;
}

int ns_rename_flags_check(unsigned int flags)
{
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	return 0;
}

int ns_rename(struct udax_fs *fs, const struct namei *snd_,
	      const struct namei *dnd_, unsigned int flags)
{
	const struct udax_inode *sdir, *ddir, *src, *dst = NULL;
	struct inode *victim = NULL, *moved = NULL, *other = NULL;
	struct namei snd = *snd_, dnd = *dnd_;
	struct tx *tx;
	int ret, err = 0;

	/* checked in Linux's order: names first, then existence, then where
	 * the directories sit, then types */
	if (snd.is_root || is_dot_name(&snd)) {
		ret = -EBUSY;
		goto out;
	}
	if (dnd.is_root || is_dot_name(&dnd)) {
		ret = (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
		goto out;
	}
	if (snd.toolong) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	if (!snd.ino) {
		ret = -ENOENT;
		goto out;
	}
	if (dnd.toolong) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	if ((flags & RENAME_EXCHANGE) && !dnd.ino) {
		ret = -ENOENT;
		goto out;
	}
	if ((flags & RENAME_NOREPLACE) && dnd.ino) {
		ret = -EEXIST;
		goto out;
	}
	/* the types of both ends decide which of the checks below apply */
	src = inode_r(fs, NULL, snd.ino, &err);
	if (!src) {
		ret = err;
		goto out;
	}
	if (dnd.ino) {
		dst = inode_r(fs, NULL, dnd.ino, &err);
		if (!dst) {
			ret = err;
			goto out;
		}
	}
	int sdir_is = S_ISDIR(src->mode), ddir_is = dst && S_ISDIR(dst->mode);
	/* "name/" must be a directory (for the target: unless exchanging) */
	if ((!sdir_is && snd.trailing) ||
	    (!sdir_is && dnd.trailing && !(flags & RENAME_EXCHANGE)) ||
	    ((flags & RENAME_EXCHANGE) && dst && !ddir_is && dnd.trailing)) {
		ret = -ENOTDIR;
		goto out;
	}
	if (snd.ino == dnd.ino) {
		ret = 0; /* same inode: nothing to do, as POSIX says */
		goto out;
	}
	/* a directory may not move below itself */
	if (sdir_is && is_below(fs, dnd.dir, snd.ino, &err)) {
		ret = -EINVAL;
		goto out;
	}
	if (err) {
		ret = err;
		goto out;
	}
	/* nor replace one of its own ancestors */
	if (ddir_is && is_below(fs, snd.dir, dnd.ino, &err)) {
		ret = (flags & RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
		goto out;
	}
	if (err) {
		ret = err;
		goto out;
	}
	if (!(flags & RENAME_EXCHANGE) && dst) {
		if (sdir_is && !ddir_is) {
			ret = -ENOTDIR;
			goto out;
		}
		if (!sdir_is && ddir_is) {
			ret = -EISDIR;
			goto out;
		}
	}
	/* both entries change: both parents must be writable and searchable
	 * by the caller */
	ret = parent_writable_pair(fs, snd.dir, dnd.dir, &sdir, &ddir);
	if (ret)
		goto out;
	/* in a sticky directory only the owners may move or replace */
	ret = perm_sticky(sdir, src);
	if (!ret && dst)
		ret = perm_sticky(ddir, dst);
	/* moving a directory to a new parent rewrites its ".." */
	if (!ret && sdir_is && snd.dir != dnd.dir)
		ret = perm_check(src, W_OK);
	if (!ret && ddir_is && (flags & RENAME_EXCHANGE) && snd.dir != dnd.dir)
		ret = perm_check(dst, W_OK);
	if (ret)
		goto out;
	/* a directory is replaced only if empty: its entries would be lost */
	if (!(flags & RENAME_EXCHANGE) && ddir_is && dst->entries) {
		ret = -ENOTEMPTY;
		goto out;
	}
	/* a directory moving in adds a link (its "..") to the new parent */
	if (sdir_is && !ddir_is && snd.dir != dnd.dir &&
	    ddir->nlink >= UDAX_LINK_MAX) {
		ret = -EMLINK;
		goto out;
	}
	/* the replaced inode may lose its last link: a reference keeps it
	 * (an orphan then) until our iput, which frees it outside the
	 * transaction, or until its last close */
	if (dst && !(flags & RENAME_EXCHANGE)) {
		ret = iget(fs, dnd.ino, &victim);
		if (ret)
			goto out;
	}
	/* the inodes whose on-media fields change (ctime, nlink, parent)
	 * are locked against their data readers, in ascending order */
	ret = iget(fs, snd.ino, &moved);
	if (ret)
		goto put_victim;
	if (victim) {
		other = victim; /* its reference is the victim's */
	} else if (dnd.ino && dnd.ino != snd.ino) {
		ret = iget(fs, dnd.ino, &other);
		if (ret)
			goto put_moved;
	}
	inode_lock_two(moved, other);

	/* one transaction: after a crash the rename happened wholly or not
	 * at all, and no moment exists without the target name */
	tx = tx_begin(fs);
	if (flags & RENAME_EXCHANGE) {
		/* each entry now names the other inode; nothing is freed */
		ret = dir_retarget(tx, snd.dir, snd.name, snd.len, dnd.ino,
				   dnd.type);
		if (!ret)
			ret = dir_retarget(tx, dnd.dir, dnd.name, dnd.len,
					   snd.ino, snd.type);
		if (!ret && sdir_is != ddir_is) {
			/* one directory changes parent, the other is not a
			 * directory: the parents' link counts move */
			if (sdir_is)
				ret = move_dir(tx, snd.ino, snd.dir, dnd.dir,
					       1);
			else
				ret = move_dir(tx, dnd.ino, dnd.dir, snd.dir,
					       1);
		} else if (!ret && sdir_is) {
			struct udax_inode *w = inode_w(tx, snd.ino);
			if (w)
				w->parent = dnd.dir;
			w = inode_w(tx, dnd.ino);
			if (w)
				w->parent = snd.dir;
		}
		if (!ret)
			ret = touch_ctime(tx, dnd.ino);
	} else if (dst) {
		/* replace: the target name already has an entry; it is
		 * pointed at the moved inode, and the victim loses the link
		 * that entry held */
		ret = dir_retarget(tx, dnd.dir, dnd.name, dnd.len, snd.ino,
				   snd.type);
		if (!ret)
			ret = dir_remove(tx, snd.dir, snd.name, snd.len);
		if (!ret)
			ret = inode_drop_link(tx, victim, ddir_is);
		if (!ret && ddir_is) {
			/* the new parent loses the replaced directory and
			 * gains the moved one */
			if (snd.dir != dnd.dir) {
				ret = move_dir(tx, snd.ino, snd.dir, dnd.dir,
					       0);
			} else {
				struct udax_inode *w = inode_w(tx, dnd.dir);
				if (w)
					w->nlink--;
			}
		}
	} else {
		/* a plain move: a new entry, the old one removed; a moved
		 * directory's ".." and its parents' link counts follow */
		ret = dir_add(tx, dnd.dir, dnd.name, dnd.len, snd.ino,
			      snd.type);
		if (!ret)
			ret = dir_remove(tx, snd.dir, snd.name, snd.len);
		if (!ret && sdir_is)
			ret = move_dir(tx, snd.ino, snd.dir, dnd.dir, 1);
	}
	/* rename changes the moved inode's ctime, as ext4 and XFS do:
	 * backup tools look at ctime to find what changed */
	if (!ret)
		ret = touch_ctime(tx, snd.ino);
	ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	/* release in reverse order; an orphaned victim is freed by iput */
	inode_unlock_two(moved, other);
	if (other && other != victim)
		iput(other);
put_moved:
	iput(moved);
put_victim:
	if (victim)
		iput(victim);
out:
	return ret;
}

int udax_rename(struct udax_fs *fs, const char *from, const char *to,
		unsigned int flags)
{
	struct namei snd, dnd;
	int ret;

	/* bad flags fail before any lookup, as renameat2(2) does */
	ret = ns_rename_flags_check(flags);
	if (ret)
		return ret;
	/* the namespace lock, exclusive from the lookups to the commit: the
	 * checks cannot go stale, and no second rename can make a loop
	 * between them (what lock_rename orders in Linux) */
	pthread_rwlock_wrlock(&fs->ns_lock);
	/* both parents and last names: either name may not exist yet */
	ret = namei(fs, from, NAMEI_PARENT, &snd);
	if (!ret)
		ret = namei(fs, to, NAMEI_PARENT, &dnd);
	if (!ret)
		ret = ns_rename(fs, &snd, &dnd, flags);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}
