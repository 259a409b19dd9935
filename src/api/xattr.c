/* SPDX-License-Identifier: MIT */
/*
 * xattr.c - extended attributes: the namespaces and who may use them, as
 * Linux's VFS decides, over the per-inode store of src/inode/xattr.c.
 *
 * Names are full names ("user.mime_type"). Namespaces:
 *   user.*      regular files and directories only (EPERM on others to
 *               write, ENODATA to read); read and write permission of the
 *               file; a sticky directory's only by its owner
 *   trusted.*   privileged (uid 0): others get EPERM to write, ENODATA
 *               to read, and do not see the names in a list
 *   security.*  anyone reads; only uid 0 writes (the default of Linux's
 *               capability module)
 *   system.posix_acl_access, system.posix_acl_default
 *               stored as they come after a check of their entries; the
 *               owner (or uid 0) sets them; a default ACL only on a
 *               directory; none on a symlink (EOPNOTSUPP). An access ACL
 *               and the mode stay in step, as in Linux's file systems:
 *               setting one sets the mode's permission bits from it (and
 *               one that says no more than the mode is not kept), and a
 *               chmod rewrites its owner, mask (or group) and other
 *               entries (acl_chmod). udax does not enforce ACLs itself:
 *               the kernel does, over udax mount -o posix_acl.
 * Anything else is EOPNOTSUPP, as is every call on an image made
 * without the XATTR feature (listing gives an empty list there).
 *
 * Changes run under the namespace lock held exclusively, the inode lock
 * and one transaction (setattr_begin); reads under the namespace lock
 * shared and the inode lock shared.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "api.h"
#include "ino.h"

enum xattr_ns {
	NS_USER,
	NS_TRUSTED,
	NS_SECURITY,
	NS_ACL_ACCESS,
	NS_ACL_DEFAULT
};

/* The namespace of a full name, or -EOPNOTSUPP / -EINVAL (a known
 * prefix with nothing after it) / -ERANGE (empty or too long). */
static int xattr_ns_of(const char *name, size_t *nlen)
{
	static const struct {
		const char *prefix;
		int ns, whole; /* whole: the name is the prefix itself */
	} tab[] = {
		{"user.", NS_USER, 0},
		{"trusted.", NS_TRUSTED, 0},
		{"security.", NS_SECURITY, 0},
		{"system.posix_acl_access", NS_ACL_ACCESS, 1},
		{"system.posix_acl_default", NS_ACL_DEFAULT, 1},
	};
	size_t len;

	if (!name)
		return -EFAULT;
	len = strnlen(name, UDAX_XATTR_NAME_MAX + 1);
	if (len == 0 || len > UDAX_XATTR_NAME_MAX)
		return -ERANGE;
	*nlen = len;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t pl = strlen(tab[i].prefix);
		if (strncmp(name, tab[i].prefix, pl))
			continue;
		if (tab[i].whole)
			return len == pl ? tab[i].ns : -EOPNOTSUPP;
		return len == pl ? -EINVAL : tab[i].ns;
	}
	return -EOPNOTSUPP;
}

static int has_prefix(const char *name, const char *prefix)
{
	return !strncmp(name, prefix, strlen(prefix));
}

/* May the caller read (write = 0) or change (1) attribute `name` of di?
 * Linux's xattr_permission(), which looks at the prefix only, before the
 * name is resolved to a namespace: so "user." on a symlink is EPERM, not
 * EINVAL, and a name in no namespace still needs file permission. */
static int xattr_may(const struct udax_inode *di, const char *name, int write)
{
	if (has_prefix(name, "security.") || has_prefix(name, "system."))
		return 0; /* the security module's and the ACLs' decision */
	if (has_prefix(name, "trusted."))
		return cred_current()->uid == 0 ? 0 : write ? -EPERM : -ENODATA;
	if (has_prefix(name, "user.")) {
		if (!S_ISREG(di->mode) && !S_ISDIR(di->mode))
			return write ? -EPERM : -ENODATA;
		if (write && S_ISDIR(di->mode) && (di->mode & S_ISVTX) &&
		    !perm_owner(di))
			return -EPERM;
	}
	return perm_check(di, write ? W_OK : R_OK);
}

/* After xattr_may and the name's resolution to namespace `ns`: the ACL
 * calls' own checks. */
static int xattr_may_ns(const struct udax_inode *di, int ns, int write)
{
	if (ns != NS_ACL_ACCESS && ns != NS_ACL_DEFAULT)
		return 0;
	if (S_ISLNK(di->mode))
		return -EOPNOTSUPP;
	if (write && !perm_owner(di))
		return -EPERM;
	if (write && ns == NS_ACL_DEFAULT && !S_ISDIR(di->mode))
		return -EACCES;
	return 0;
}

/* The header of a POSIX ACL value: a little-endian u32 version 2, then
 * 8-byte entries (tag, perm, id). Linux parses it; udax keeps it as it
 * is and only refuses what Linux could not parse. */
static int acl_check(const void *value, size_t size)
{
	uint32_t version;

	if (size < 4 || (size - 4) % 8)
		return -EINVAL;
	memcpy(&version, value, 4);
	return version == 2 ? 0 : -EOPNOTSUPP;
}

static int has_xattr(struct udax_fs *fs)
{
	return (fs->sb.feat_ro_compat & UDAX_FEAT_RO_COMPAT_XATTR) != 0;
}

/* ACL entry tags (Linux's ACL_USER_OBJ ... ACL_OTHER) */
#define ACL_TAG_USER_OBJ 0x01
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP 0x08
#define ACL_TAG_MASK 0x10
#define ACL_TAG_OTHER 0x20
#define ACL_ENTRY_SIZE 8

static unsigned acl_tag(const uint8_t *e)
{
	return (unsigned)e[0] | (unsigned)e[1] << 8;
}

/* The permission bits an access ACL (checked by acl_check) gives the
 * mode, as Linux's posix_acl_equiv_mode: owner from the owner entry,
 * group from the mask entry if there is one (else the group entry),
 * other from the other entry. Returns 1 if the ACL says no more than
 * those bits (only those three entries: it need not be kept), 0 if it
 * must be kept, -EINVAL if an entry is unknown or one of the three is
 * missing. */
static int acl_mode(const uint8_t *value, size_t size, mode_t *bits)
{
	unsigned user = 8, group = 8, mask = 8, other = 8;
	int equiv = 1;

	for (size_t off = 4; off + ACL_ENTRY_SIZE <= size;
	     off += ACL_ENTRY_SIZE) {
		unsigned perm = value[off + 2] & 7;
		switch (acl_tag(value + off)) {
		case ACL_TAG_USER_OBJ:
			user = perm;
			break;
		case ACL_TAG_GROUP_OBJ:
			group = perm;
			break;
		case ACL_TAG_MASK:
			mask = perm;
			equiv = 0;
			break;
		case ACL_TAG_OTHER:
			other = perm;
			break;
		case ACL_TAG_USER:
		case ACL_TAG_GROUP:
			equiv = 0;
			break;
		default:
			return -EINVAL;
		}
	}
	if (user == 8 || group == 8 || other == 8)
		return -EINVAL;
	*bits = (mode_t)(user << 6 | (mask != 8 ? mask : group) << 3 | other);
	return equiv;
}

/* Set an access ACL (value, size checked by acl_check) on inode ino in
 * tx: one without entries removes it; the mode's permission bits follow
 * it, set-group-ID drops for a
 * caller outside the file's group (Linux's posix_acl_update_mode), and
 * an ACL the mode says whole is removed rather than kept. */
static int acl_access_set(struct tx *tx, uint64_t ino,
			  const struct udax_inode *di, const char *name,
			  size_t nlen, const void *value, size_t size,
			  int flags)
{
	const struct cred *c = cred_current();
	struct udax_inode *w;
	mode_t bits = 0, mode;
	int equiv = acl_mode(value, size, &bits), ret;

	/* no entries: Linux reads that as no ACL, and removes it */
	if (size == 4) {
		ret = xattr_set(tx, ino, name, nlen, NULL, 0, XATTR_SET_REMOVE);
		return ret == -ENODATA ? 0 : ret;
	}
	if (equiv < 0)
		return equiv;
	mode = (di->mode & ~(mode_t)0777) | bits;
	if (c->uid != 0 && !cred_in_group(c, di->gid))
		mode &= ~(mode_t)S_ISGID;
	if (equiv) {
		ret = xattr_set(tx, ino, name, nlen, NULL, 0, XATTR_SET_REMOVE);
		ret = ret == -ENODATA ? 0 : ret;
	} else {
		ret = xattr_set(tx, ino, name, nlen, value, size, flags);
	}
	if (ret)
		return ret;
	w = inode_w(tx, ino);
	if (!w)
		return tx->failed;
	w->mode = (uint16_t)mode;
	w->ctime_ns = fs_now_ns();
	return 0;
}

int acl_chmod(struct tx *tx, uint64_t ino, const struct udax_inode *di,
	      mode_t mode)
{
	static const char name[] = "system.posix_acl_access";
	size_t nlen = sizeof(name) - 1;
	int has_mask = 0, ret;
	uint8_t *acl;
	ssize_t len;

	if (!has_xattr(tx->fs))
		return 0;
	len = xattr_get(tx->fs, di, name, nlen, NULL, 0);
	if (len == -ENODATA)
		return 0; /* no ACL: the mode is all there is */
	if (len < 0)
		return (int)len;
	acl = malloc((size_t)len ? (size_t)len : 1);
	if (!acl)
		return -ENOMEM;
	len = xattr_get(tx->fs, di, name, nlen, acl, (size_t)len);
	ret = len < 0 ? (int)len : acl_check(acl, (size_t)len);
	if (ret)
		goto free_acl;
	for (size_t off = 4; off + ACL_ENTRY_SIZE <= (size_t)len;
	     off += ACL_ENTRY_SIZE)
		has_mask |= acl_tag(acl + off) == ACL_TAG_MASK;
	/* as Linux's __posix_acl_chmod: the group bits go to the mask if
	 * there is one, else to the group entry */
	for (size_t off = 4; off + ACL_ENTRY_SIZE <= (size_t)len;
	     off += ACL_ENTRY_SIZE) {
		unsigned tag = acl_tag(acl + off), perm = 8;
		if (tag == ACL_TAG_USER_OBJ)
			perm = (mode >> 6) & 7;
		else if (tag == (has_mask ? ACL_TAG_MASK : ACL_TAG_GROUP_OBJ))
			perm = (mode >> 3) & 7;
		else if (tag == ACL_TAG_OTHER)
			perm = mode & 7;
		if (perm != 8) {
			acl[off + 2] = (uint8_t)perm;
			acl[off + 3] = 0;
		}
	}
	ret = xattr_set(tx, ino, name, nlen, acl, (size_t)len,
			XATTR_SET_REPLACE);
free_acl:
	free(acl);
	return ret;
}

/* setxattr (XATTR_CREATE, XATTR_REPLACE in `xflags`) and removexattr
 * (remove = 1, value NULL). */
static int xattr_change(struct udax_fs *fs, const struct setattr_target *tgt,
			const char *name, const void *value, size_t size,
			int xflags, int remove)
{
	const struct udax_inode *di;
	struct inode *ip;
	struct tx *tx;
	uint64_t ino;
	size_t nlen = 0;
	int ns, ret, flags;

	if (xflags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	flags = ((xflags & XATTR_CREATE) ? XATTR_SET_CREATE : 0) |
		((xflags & XATTR_REPLACE) ? XATTR_SET_REPLACE : 0) |
		(remove ? XATTR_SET_REMOVE : 0);
	ns = xattr_ns_of(name, &nlen);
	if (ns == -EFAULT || ns == -ERANGE)
		return ns; /* the kernel fails copying the name in */
	if (!(flags & XATTR_SET_REMOVE)) {
		if (size > UDAX_XATTR_SIZE_MAX)
			return -E2BIG;
		if (size && !value)
			return -EFAULT;
	}
	ret = setattr_begin(fs, tgt, &ino, &di, &ip, &tx);
	if (ret)
		return ret;
	/* in Linux's order: permission by prefix, the security module
	 * (its capability module lets only uid 0 write security.*), then
	 * the name's namespace, then the ACL calls' checks */
	ret = xattr_may(di, name, 1);
	if (!ret && has_prefix(name, "security.") && cred_current()->uid != 0)
		ret = -EPERM;
	if (!ret && !has_xattr(fs))
		ret = -EOPNOTSUPP;
	if (!ret && ns < 0)
		ret = ns;
	if (!ret)
		ret = xattr_may_ns(di, ns, 1);
	if (!ret && !(flags & XATTR_SET_REMOVE) &&
	    (ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT))
		ret = acl_check(value, size);
	if (ret)
		return setattr_end(fs, ip, tx, ret);
	/* an access ACL carries the mode with it */
	if (ns == NS_ACL_ACCESS && !(flags & XATTR_SET_REMOVE))
		ret = acl_access_set(tx, ino, di, name, nlen, value, size,
				     flags);
	else
		ret = xattr_set(tx, ino, name, nlen, value, size, flags);
	return setattr_end(fs, ip, tx, ret);
}

/* Find and read-lock the inode a read acts on; xattr_read_end undoes. */
static int xattr_read_begin(struct udax_fs *fs,
			    const struct setattr_target *tgt,
			    const struct udax_inode **di, struct inode **ipp)
{
	struct namei nd;
	uint64_t ino;
	int ret = 0, err;

	pthread_rwlock_rdlock(&fs->ns_lock);
	if (tgt->ip) {
		ino = tgt->ip->ino;
	} else {
		ret = namei(fs, tgt->path, tgt->follow ? NAMEI_FOLLOW : 0, &nd);
		ino = nd.ino;
	}
	if (!ret)
		ret = iget(fs, ino, ipp);
	if (ret)
		goto unlock_ns;
	pthread_rwlock_rdlock(&(*ipp)->lock);
	*di = inode_r(fs, NULL, ino, &err);
	if (*di)
		return 0;
	ret = err;
	pthread_rwlock_unlock(&(*ipp)->lock);
	iput(*ipp);
unlock_ns:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static ssize_t xattr_read_end(struct udax_fs *fs, struct inode *ip, ssize_t ret)
{
	pthread_rwlock_unlock(&ip->lock);
	iput(ip);
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

static ssize_t xattr_read(struct udax_fs *fs, const struct setattr_target *tgt,
			  const char *name, void *value, size_t size)
{
	const struct udax_inode *di;
	struct inode *ip;
	size_t nlen = 0;
	ssize_t ret;
	int ns;

	ns = xattr_ns_of(name, &nlen);
	if (ns == -EFAULT || ns == -ERANGE)
		return ns;
	if (size && !value)
		return -EFAULT;
	ret = xattr_read_begin(fs, tgt, &di, &ip);
	if (ret)
		return ret;
	ret = xattr_may(di, name, 0);
	if (!ret && !has_xattr(fs))
		ret = -EOPNOTSUPP;
	if (!ret && ns < 0)
		ret = ns;
	if (!ret)
		ret = xattr_may_ns(di, ns, 0);
	if (size > UDAX_XATTR_SIZE_MAX)
		size = UDAX_XATTR_SIZE_MAX; /* as the kernel clamps it */
	if (!ret)
		ret = xattr_get(fs, di, name, nlen, value, size);
	return xattr_read_end(fs, ip, ret);
}

/* Gathering a list of names. */
struct xattr_list {
	char *buf;
	size_t size, len;
	int trusted; /* the caller may see trusted.* */
};

static int list_add(void *arg, const struct xattr_ent *e)
{
	struct xattr_list *l = arg;

	if (!l->trusted && e->h.name_len > 8 && !memcmp(e->name, "trusted.", 8))
		return 0;
	if (l->size) {
		if (l->len + e->h.name_len + 1 > l->size)
			return -ERANGE;
		memcpy(l->buf + l->len, e->name, e->h.name_len);
		l->buf[l->len + e->h.name_len] = 0;
	}
	l->len += e->h.name_len + 1u;
	return 0;
}

static ssize_t xattr_list_names(struct udax_fs *fs,
				const struct setattr_target *tgt, char *list,
				size_t size)
{
	struct xattr_list l = {list, size, 0, cred_current()->uid == 0};
	const struct udax_inode *di;
	struct inode *ip;
	ssize_t ret;

	if (size && !list)
		return -EFAULT;
	ret = xattr_read_begin(fs, tgt, &di, &ip);
	if (ret)
		return ret;
	if (has_xattr(fs))
		ret = xattr_iter(fs, di, list_add, &l);
	return xattr_read_end(fs, ip, ret ? ret : (ssize_t)l.len);
}

int udax_setxattr(struct udax_fs *fs, const char *path, const char *name,
		  const void *value, size_t size, int flags)
{
	return xattr_change(fs, &(struct setattr_target){path, 1, NULL}, name,
			    value, size, flags, 0);
}

int udax_lsetxattr(struct udax_fs *fs, const char *path, const char *name,
		   const void *value, size_t size, int flags)
{
	return xattr_change(fs, &(struct setattr_target){path, 0, NULL}, name,
			    value, size, flags, 0);
}

int udax_fsetxattr(struct udax_file *f, const char *name, const void *value,
		   size_t size, int flags)
{
	if (!f)
		return -EBADF;
	return xattr_change(f->fs, &(struct setattr_target){NULL, 0, f->ip},
			    name, value, size, flags, 0);
}

ssize_t udax_getxattr(struct udax_fs *fs, const char *path, const char *name,
		      void *value, size_t size)
{
	return xattr_read(fs, &(struct setattr_target){path, 1, NULL}, name,
			  value, size);
}

ssize_t udax_lgetxattr(struct udax_fs *fs, const char *path, const char *name,
		       void *value, size_t size)
{
	return xattr_read(fs, &(struct setattr_target){path, 0, NULL}, name,
			  value, size);
}

ssize_t udax_fgetxattr(struct udax_file *f, const char *name, void *value,
		       size_t size)
{
	if (!f)
		return -EBADF;
	return xattr_read(f->fs, &(struct setattr_target){NULL, 0, f->ip}, name,
			  value, size);
}

ssize_t udax_listxattr(struct udax_fs *fs, const char *path, char *list,
		       size_t size)
{
	return xattr_list_names(fs, &(struct setattr_target){path, 1, NULL},
				list, size);
}

ssize_t udax_llistxattr(struct udax_fs *fs, const char *path, char *list,
			size_t size)
{
	return xattr_list_names(fs, &(struct setattr_target){path, 0, NULL},
				list, size);
}

ssize_t udax_flistxattr(struct udax_file *f, char *list, size_t size)
{
	if (!f)
		return -EBADF;
	return xattr_list_names(f->fs, &(struct setattr_target){NULL, 0, f->ip},
				list, size);
}

int udax_removexattr(struct udax_fs *fs, const char *path, const char *name)
{
	return xattr_change(fs, &(struct setattr_target){path, 1, NULL}, name,
			    NULL, 0, 0, 1);
}

int udax_lremovexattr(struct udax_fs *fs, const char *path, const char *name)
{
	return xattr_change(fs, &(struct setattr_target){path, 0, NULL}, name,
			    NULL, 0, 0, 1);
}

int udax_fremovexattr(struct udax_file *f, const char *name)
{
	if (!f)
		return -EBADF;
	return xattr_change(f->fs, &(struct setattr_target){NULL, 0, f->ip},
			    name, NULL, 0, 0, 1);
}

/* The calls by inode of ino.h: as those on an open file. */

int udax_ino_setxattr(struct udax_ino *h, const char *name, const void *value,
		      size_t size, int flags)
{
	return xattr_change(h->fs, &(struct setattr_target){NULL, 0, h->ip},
			    name, value, size, flags, 0);
}

ssize_t udax_ino_getxattr(struct udax_ino *h, const char *name, void *value,
			  size_t size)
{
	return xattr_read(h->fs, &(struct setattr_target){NULL, 0, h->ip}, name,
			  value, size);
}

ssize_t udax_ino_listxattr(struct udax_ino *h, char *list, size_t size)
{
	return xattr_list_names(h->fs, &(struct setattr_target){NULL, 0, h->ip},
				list, size);
}

int udax_ino_removexattr(struct udax_ino *h, const char *name)
{
	return xattr_change(h->fs, &(struct setattr_target){NULL, 0, h->ip},
			    name, NULL, 0, 0, 1);
}
