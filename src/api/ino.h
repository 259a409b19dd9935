/* SPDX-License-Identifier: MIT */
/*
 * ino.h - the library's calls by inode, for a server that walks path
 * names itself and names files by inode number and generation, as the
 * kernel does: udax mount on FUSE's low-level API.
 *
 * The path calls of udax.h resolve a whole path from the root for every
 * call; a kernel file system is asked instead to look one name up in a
 * directory it already holds, and it keeps what it found (an inode of
 * its own, a file handle) for as long as it likes. A struct udax_ino is
 * that: an inode held by reference, so that its number stays its own
 * (never reused) and the file stays alive with no name left, until the
 * server puts it. Every call here that names a file takes a hold;
 * namespace calls take the directory's hold and one name (no '/', no
 * path walk).
 *
 * Internal to the udax project (libudax exports the symbols; udax.h does
 * not declare them): the same layer as udax.h (src/api/), sharing its
 * code (the cores in api.h), with udax.h's conventions: negative errno
 * values, UDAX_ECORRUPT for a damaged image, permissions checked for
 * the calling thread's credentials (udax_cred_set), except where a call
 * says that its caller decides (the kernel, which checked already).
 * Only public types appear here, so a server needs nothing else.
 */
#ifndef UDAX_INO_H
#define UDAX_INO_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "udax.h"

/* The root directory's inode number (format.h's UDAX_ROOT_INO). */
#define UDAX_INO_ROOT 1

/* A held inode (its body is in api.h). */
struct udax_ino;

/* What a server tells of an inode: its attributes (st_ino is the inode
 * number) and its generation, which differs between any two inodes that
 * ever had the same number (a file handle carries both). */
struct udax_ino_attr {
	struct stat st;
	uint64_t generation;
};

/* Hold inode `ino` (the root is UDAX_INO_ROOT), whatever its type,
 * with or without a name: for the root, and for a file handle a server
 * is given back (no permission check: who may use handles is the
 * server's business). attr may be NULL. Returns 0 and *held, -ESTALE
 * (no such inode: free, or out of range), -ENOMEM, UDAX_ECORRUPT. */
int udax_ino_get(struct udax_fs *fs, uint64_t ino, struct udax_ino **held,
		 struct udax_ino_attr *attr);

/* Look `name` up in held directory dir and hold what it names: search
 * permission on dir; "." is dir and ".." its parent (the root's is the
 * root). A symlink is held as itself. attr may be NULL. Returns 0 and
 * *held, or -ENOENT, -ENOTDIR, -EACCES, -ENAMETOOLONG, -ENOMEM,
 * UDAX_ECORRUPT. */
int udax_ino_lookup(struct udax_ino *dir, const char *name,
		    struct udax_ino **held, struct udax_ino_attr *attr);

/* Drop a hold (NULL is ignored) and clear the pointer; the last
 * reference on an inode with no name left frees it. */
void udax_ino_put(struct udax_ino **held);

/* The number of a held inode. */
uint64_t udax_ino_number(const struct udax_ino *h);

/* A held inode's attributes now (nlink 0 once its last name is gone). Returns
 * 0 or UDAX_ECORRUPT. */
int udax_ino_stat(struct udax_ino *h, struct udax_ino_attr *attr);

/* Make a directory, a symlink (to target) or a regular file named name
 * in held directory dir, with the caller as owner, and hold it: each
 * as udax_mkdir, udax_symlink, and udax_file_open with O_CREAT|O_EXCL
 * (no handle is opened: see udax_ino_open), and -EEXIST when the name
 * exists. attr may be NULL. Return 0 and *held or a negative errno as
 * those calls. */
int udax_ino_mkdir(struct udax_ino *dir, const char *name, mode_t mode,
		   struct udax_ino **held, struct udax_ino_attr *attr);
int udax_ino_symlink(struct udax_ino *dir, const char *name, const char *target,
		     struct udax_ino **held, struct udax_ino_attr *attr);
int udax_ino_create(struct udax_ino *dir, const char *name, mode_t mode,
		    struct udax_ino **held, struct udax_ino_attr *attr);
/* Make a FIFO, a socket, a character or block device (rdev) or a regular
 * file named name in held directory dir, and hold it: as udax_mknod
 * (the type checked first; device nodes for uid 0 only), and -EEXIST
 * when the name exists. attr may be NULL. */
int udax_ino_mknod(struct udax_ino *dir, const char *name, mode_t mode,
		   dev_t rdev, struct udax_ino **held,
		   struct udax_ino_attr *attr);

/* A new name for held inode h (not a directory) in held directory dir, as
 * udax_link; attr (may be NULL) gets h's attributes after. */
int udax_ino_link(struct udax_ino *h, struct udax_ino *dir, const char *name,
		  struct udax_ino_attr *attr);
/* Remove name from held directory dir, as udax_unlink and udax_rmdir. */
int udax_ino_unlink(struct udax_ino *dir, const char *name);
int udax_ino_rmdir(struct udax_ino *dir, const char *name);
/* As udax_rename, from name in dir to newname in newdir. */
int udax_ino_rename(struct udax_ino *dir, const char *name,
		    struct udax_ino *newdir, const char *newname,
		    unsigned int flags);

/* A held symlink's target, as udax_readlink (no NUL added). */
ssize_t udax_ino_readlink(struct udax_ino *h, char *buf, size_t size);

/* As udax_fchmod, udax_fchown and udax_futimens, on a held inode. */
int udax_ino_chmod(struct udax_ino *h, mode_t mode);
int udax_ino_chown(struct udax_ino *h, uid_t uid, gid_t gid);
int udax_ino_utimens(struct udax_ino *h, const struct timespec times[2]);

/* The extended attributes of a held inode, as udax_fsetxattr,
 * udax_fgetxattr, udax_flistxattr and udax_fremovexattr (src/api/xattr.c):
 * the namespaces' rules for the calling thread's credentials, size 0
 * asks for the length (the size probe a FUSE server answers), -ERANGE
 * when size is too small. */
int udax_ino_setxattr(struct udax_ino *h, const char *name, const void *value,
		      size_t size, int flags);
ssize_t udax_ino_getxattr(struct udax_ino *h, const char *name, void *value,
			  size_t size);
ssize_t udax_ino_listxattr(struct udax_ino *h, char *list, size_t size);
int udax_ino_removexattr(struct udax_ino *h, const char *name);

/* A file handle on a held inode (a regular file, or a directory O_RDONLY),
 * for its data calls (udax_pread, udax_pwrite, udax_ftruncate, ...),
 * closed with udax_file_close. No permission check: the caller decided
 * who may open the file (the kernel did, at open(2), with the mount's
 * default_permissions); the flags (O_ACCMODE, O_APPEND) bound what the
 * handle may do. Returns 0 and *file, or -EISDIR (a directory not
 * O_RDONLY), -ENXIO (a symlink or another type), -EROFS, -EINVAL,
 * -ENOMEM, UDAX_ECORRUPT. */
int udax_ino_open(struct udax_ino *h, int flags, struct udax_file **file);

/* The entry of held directory dir at cookie *cookie (0: the first;
 * "." and ".." come first), and *cookie moves past it: a cookie given
 * back later resumes exactly there, as udax_dir_seek. No permission
 * check (the caller's opendir decided). With entry_held, the entry's
 * inode is held too (taken while the entry is read, so it is the
 * inode the entry names); with attr, its attributes. Returns 1, 0 at
 * the end, or a negative errno. */
int udax_ino_readdir(struct udax_ino *dir, uint64_t *cookie,
		     struct udax_dirent *ent, struct udax_ino **entry_held,
		     struct udax_ino_attr *attr);

#endif /* UDAX_INO_H */
