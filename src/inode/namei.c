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
	ret = iomap_read(ip, buf, n, 0);
	pthread_rwlock_unlock(&ip->lock);
	iput(ip);
	return ret;
}

int namei(struct udax_fs *fs, const char *path, int flags, struct namei *nd)
{
	size_t plen = path ? strlen(path) : 0;
	uint64_t cur = UDAX_ROOT_INO;
	int links = 0, ret, err;
	char pathbuf[2 * PATH_MAX + 2], tbuf[PATH_MAX], *buf, *p;

	if (!path)
		return -EFAULT;
	if (!plen)
		return -ENOENT;
	if (plen >= PATH_MAX)
		return -ENAMETOOLONG;
	buf = pathbuf;
	memcpy(buf, path, plen + 1);
	p = buf;
	memset(nd, 0, sizeof(*nd));

	for (;;) {
		const struct udax_inode *di;
		uint64_t ino = 0;
		unsigned char type = 0;

		while (*p == '/')
			p++;
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
			ret = S_ISDIR(di->mode) ? 0 : -ENOTDIR;
			goto out;
		}
		char *comp = p;
		while (*p && *p != '/')
			p++;
		size_t clen = (size_t)(p - comp);
		char *q = p;
		while (*q == '/')
			q++;
		int last = !*q, trailing = p != q;
		if (clen > UDAX_NAME_MAX) {
			ret = -ENAMETOOLONG;
			goto out;
		}
		if (!S_ISDIR(di->mode)) {
			ret = -ENOTDIR;
			goto out;
		}
		ret = perm_check(di, X_OK);
		if (ret)
			goto out;
		if (clen == 1 && comp[0] == '.') {
			ino = cur, type = DT_DIR;
		} else if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
			ino = di->parent ? di->parent : cur, type = DT_DIR;
		} else {
			ret = dir_lookup(fs, NULL, cur, comp, clen, &ino, &type);
			if (ret && ret != -ENOENT)
				goto out;
			if (ret)
				ino = 0;
		}
		if (last && (flags & NAMEI_PARENT) &&
		    !(ino && type == DT_LNK && trailing)) {
			nd->dir = cur;
			nd->ino = ino;
			nd->type = type;
			memcpy(nd->name, comp, clen);
			nd->name[clen] = 0;
			nd->len = clen;
			ret = 0;
			if (trailing && ino && type != DT_DIR)
				ret = -ENOTDIR;
			goto out;
		}
		if (!ino) {
			ret = -ENOENT;
			goto out;
		}
		if (type == DT_LNK &&
		    (!last || (flags & NAMEI_FOLLOW) || trailing)) {
			char *target;
			ssize_t tl;
			if (++links > NAMEI_MAX_LINKS) {
				ret = -ELOOP;
				goto out;
			}
			target = tbuf;
			tl = symlink_read(fs, ino, target, PATH_MAX - 1);
			if (tl < 0) {
				ret = (int)tl;
				goto out;
			}
			size_t rest = strlen(p);
			if ((size_t)tl + 1 + rest >= PATH_MAX) {
				ret = -ENAMETOOLONG;
				goto out;
			}
			/* new path: target + rest (rest starts with '/') */
			memmove(buf + tl, p, rest + 1);
			memcpy(buf, target, (size_t)tl);
			if (buf[0] == '/')
				cur = UDAX_ROOT_INO;
			p = buf;
			continue;
		}
		if (last) {
			nd->dir = cur;
			nd->ino = ino;
			nd->type = type;
			memcpy(nd->name, comp, clen);
			nd->name[clen] = 0;
			nd->len = clen;
			ret = trailing && type != DT_DIR ? -ENOTDIR : 0;
			goto out;
		}
		cur = ino;
		p = q;
	}
out:
	return ret;
}
