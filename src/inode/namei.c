/* SPDX-License-Identifier: MIT */
/*
 * namei.c - path resolution: ".", "..", symbolic links (40 at most, then
 * ELOOP), search permission on every directory passed, trailing slashes.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inode.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

#define NAMEI_MAX_LINKS 40

ssize_t symlink_read(struct udax_fs *fs, uint64_t ino, char *buf, size_t size)
{
	const struct udax_inode *di;
	struct inode *ip;
	size_t n;
	ssize_t ret;
	int err;

	di = inode_r(fs, NULL, ino, &err);
	if (!di)
		return err;
	if (!S_ISLNK(di->mode))
		return -EINVAL;
	if (di->size == 0 || di->size >= PATH_MAX)
		return fs_corrupt(fs, "symlink %llu has a bad length",
				  (unsigned long long)ino);
	n = di->size < size ? di->size : size;
	if (di->size <= UDAX_INLINE_MAX) {
		memcpy(buf, di->inline_data, n);
		return (ssize_t)n;
	}
	err = iget(fs, ino, &ip);
	if (err)
		return err;
	pthread_rwlock_rdlock(&ip->lock);
	ret = iomap_read(ip, buf, n, 0, &udax_iomap_ops);
	pthread_rwlock_unlock(&ip->lock);
	iput(ip);
	return ret;
}

/* Room for a path whose symlinks have been expanded: every one of the
 * 40 links may bring up to PATH_MAX bytes. */
#define NAMEI_EXPANDED_MAX ((NAMEI_MAX_LINKS + 1) * PATH_MAX)

int namei(struct udax_fs *fs, const char *path, int flags, struct namei *nd)
{
	size_t plen = path ? strlen(path) : 0;
	uint64_t cur = UDAX_ROOT_INO;
	int links = 0, ret, err;
	char pathbuf[2 * PATH_MAX + 2], tbuf[PATH_MAX], *buf, *p;
	char *big = NULL; /* the buffer once expansions outgrow pathbuf */
	size_t cap = sizeof(pathbuf);

	memset(nd, 0, sizeof(*nd));
	if (!path)
		return -EFAULT;
	if (!plen)
		return -ENOENT;
	if (plen >= PATH_MAX)
		return -ENAMETOOLONG;
	/* a private copy: symlink expansion rewrites the path in place */
	buf = pathbuf;
	memcpy(buf, path, plen + 1);
	p = buf;

	/* one component a turn: cur is the directory reached so far, p the
	 * rest of the path (relative paths start at the root too: udax has
	 * no current directory) */
	for (;;) {
		const struct udax_inode *di;
		uint64_t ino = 0;
		unsigned char type = 0;

		/* "a//b" is "a/b" */
		while (*p == '/')
			p++;
		/* a directory that an entry names but that is free is damage,
		 * not a name that vanished: the namespace lock is held */
		di = inode_r(fs, NULL, cur, &err);
		if (!di) {
			ret = err == -ESTALE ? UDAX_ECORRUPT : err;
			goto out;
		}
		if (!*p) {
			/* the path names `cur` itself ("/" or "a/b/") */
			nd->dir = di->parent ? di->parent : cur;
			nd->ino = cur;
			nd->type = DT_DIR;
			strcpy(nd->name, ".");
			nd->len = 1;
			nd->is_root = cur == UDAX_ROOT_INO;
			ret = S_ISDIR(di->mode) ? 0 : -ENOTDIR;
			goto out;
		}
		/* cut the component; q skips the slashes after it, so that
		 * "last" and "trailing" see "a/b/" as last name "b/" */
		char *comp = p;
		while (*p && *p != '/')
			p++;
		size_t clen = (size_t)(p - comp);
		char *q = p;
		while (*q == '/')
			q++;
		int last = !*q, trailing = p != q;
		/* as Linux: the directory is searched before the name is
		 * judged, so a file in the middle gives ENOTDIR first */
		if (!S_ISDIR(di->mode)) {
			ret = -ENOTDIR;
			goto out;
		}
		/* searching a directory needs execute permission on it */
		ret = perm_check(di, X_OK);
		if (ret)
			goto out;
		if (clen > UDAX_NAME_MAX) {
			if (last && (flags & NAMEI_PARENT)) {
				/* as Linux: judged when the name is used,
				 * after every path of the call is walked */
				nd->dir = cur;
				nd->toolong = 1;
				nd->trailing = trailing;
				ret = 0;
			} else {
				ret = -ENAMETOOLONG;
			}
			goto out;
		}
		/* "." and ".." are not stored as entries: they come from the
		 * inode (the root's parent is itself) */
		if (clen == 1 && comp[0] == '.') {
			ino = cur, type = DT_DIR;
		} else if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			ino = di->parent ? di->parent : cur, type = DT_DIR;
		} else {
			ret = dir_lookup(fs, NULL, cur, comp, clen, &ino,
					 &type);
			if (ret && ret != -ENOENT)
				goto out;
			if (ret)
				ino = 0;
		}
		/* the parent is wanted: stop here, unless the last name is a
		 * symlink that NAMEI_FOLLOW asks to go through ("name/" stops
		 * too: as Linux, O_CREAT refuses it before following) */
		if (last && (flags & NAMEI_PARENT) &&
		    !(ino && type == DT_LNK && (flags & NAMEI_FOLLOW) &&
		      !trailing)) {
			nd->dir = cur;
			nd->ino = ino;
			nd->type = type;
			memcpy(nd->name, comp, clen);
			nd->name[clen] = 0;
			nd->len = clen;
			nd->trailing = trailing;
			ret = 0; /* the caller judges "name/" on a non-dir */
			goto out;
		}
		if (!ino) {
			ret = -ENOENT;
			goto out;
		}
		/* a symlink in the middle is always followed; the last one
		 * only with NAMEI_FOLLOW or when "name/" asks for a directory */
		if (type == DT_LNK &&
		    (!last || (flags & NAMEI_FOLLOW) || trailing)) {
			ssize_t tl;
			if (++links > NAMEI_MAX_LINKS) {
				ret = -ELOOP;
				goto out;
			}
			tl = symlink_read(fs, ino, tbuf, PATH_MAX - 1);
			if (tl < 0) {
				ret = (int)tl;
				goto out;
			}
			/* the expanded path may outgrow the stack buffer:
			 * move to one heap buffer sized for the worst case
			 * (every link at PATH_MAX), taken once */
			size_t rest = strlen(p);
			if ((size_t)tl + rest + 1 > cap) {
				if (!big) {
					big = sys_malloc(NAMEI_EXPANDED_MAX);
					if (!big) {
						ret = -ENOMEM;
						goto out;
					}
					cap = NAMEI_EXPANDED_MAX;
				}
				if ((size_t)tl + rest + 1 > cap) {
					ret = -ENAMETOOLONG;
					goto out;
				}
			}
			/* new path: target + rest (rest starts with '/') */
			char *dst = big ? big : buf;
			memmove(dst + tl, p, rest + 1);
			memcpy(dst, tbuf, (size_t)tl);
			buf = dst;
			/* a relative target resolves from the link's own
			 * directory, which cur still is */
			if (buf[0] == '/')
				cur = UDAX_ROOT_INO;
			p = buf;
			continue;
		}
		/* the object itself is wanted: "name/" must be a directory */
		if (last) {
			nd->dir = cur;
			nd->ino = ino;
			nd->type = type;
			memcpy(nd->name, comp, clen);
			nd->name[clen] = 0;
			nd->len = clen;
			nd->trailing = trailing;
			ret = trailing && type != DT_DIR ? -ENOTDIR : 0;
			goto out;
		}
		/* descend; the loop checks that it is a directory */
		cur = ino;
		p = q;
	}
out:
	free(big);
	return ret;
}

int namei_child(struct udax_fs *fs, uint64_t dir, const char *name, int flags,
		struct namei *nd)
{
	const struct udax_inode *di;
	size_t len = name ? strlen(name) : 0;
	uint64_t ino = 0;
	unsigned char type = 0;
	int ret, err;

	memset(nd, 0, sizeof(*nd));
	if (!name)
		return -EFAULT;
	/* one component: the caller walked the path itself */
	if (!len)
		return -ENOENT;
	if (memchr(name, '/', len))
		return -EINVAL;
	/* a held directory is in use: free is damage, as in namei() */
	di = inode_r(fs, NULL, dir, &err);
	if (!di)
		return err == -ESTALE ? UDAX_ECORRUPT : err;
	if (!S_ISDIR(di->mode))
		return -ENOTDIR;
	/* the same judgements, in the same order, as namei()'s last name */
	ret = perm_check(di, X_OK);
	if (ret)
		return ret;
	if (len > UDAX_NAME_MAX) {
		if (!(flags & NAMEI_PARENT))
			return -ENAMETOOLONG;
		nd->dir = dir;
		nd->toolong = 1;
		return 0;
	}
	if (len == 1 && name[0] == '.') {
		ino = dir, type = DT_DIR;
	} else if (len == 2 && name[0] == '.' && name[1] == '.') {
		ino = di->parent ? di->parent : dir, type = DT_DIR;
	} else {
		ret = dir_lookup(fs, NULL, dir, name, len, &ino, &type);
		if (ret && ret != -ENOENT)
			return ret;
		if (ret)
			ino = 0;
	}
	if (!ino && !(flags & NAMEI_PARENT))
		return -ENOENT;
	nd->dir = dir;
	nd->ino = ino;
	nd->type = type;
	memcpy(nd->name, name, len + 1);
	nd->len = len;
	return 0;
}
