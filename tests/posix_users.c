// SPDX-License-Identifier: MIT
/*
 * posix_users.c - the same sequence of system calls, as root and as the
 * user nobody (65534), in two directories, compared one by one.
 *
 * Usage: posix_users DIR_A DIR_B   (run as root)
 *
 * tests/t_mount.sh runs it on a udax mount and on a tmpfs directory: a
 * POSIX conformance check for several users (pjdfstest is not packaged
 * in Debian). Each step is one call (open O_CREAT|O_EXCL, mkdir, rename
 * with and without flags, unlink in a sticky directory, chmod and chown
 * by non-owners, utimensat, access, link, symlink, truncate, writes that
 * must clear set-user-ID, set-group-ID inheritance, ...); its result is
 * "ok" or the errno's name, plus what the call tells (stat fields, link
 * targets, contents). Steps of nobody run in a child process that has
 * dropped every group and both ids. Prints every step that differs and
 * a closing line; exits 0 if none differs, 1 otherwise, 2 on misuse.
 *
 * What a kernel file system does and a path-based FUSE daemon did not
 * (issue 14's items) has steps of its own: direct writes seen by the
 * next reader (1), fstat of an open file or directory whose name is gone
 * (2), exec of a mode 0711 binary (3), a relative path below a directory
 * the caller cannot search (4), a relative path of PATH_MAX-1 bytes (5),
 * a chmod and a link count seen at once through another hard link (6),
 * and file handles (name_to_handle_at, open_by_handle_at); and item 7:
 * FIFOs (made and used), device nodes as root and as nobody, a Unix
 * socket bound, xattrs in user.* and trusted.* (with the size probe,
 * the flags, lists), and a POSIX ACL that grants nobody what the mode
 * does not (the mount runs with -o posix_acl).
 *
 * Two more uses, for a file handle kept across a remount:
 *   posix_users --handle-save PATH FILE   write PATH's handle to FILE
 *   posix_users --handle-open DIR FILE    open it on the file system of
 *                                         DIR and print the first line
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

enum who { R, N }; /* root, nobody */

enum op {
	OP_MKDIR,      /* a, mode x */
	OP_CREATE,     /* open(a, O_CREAT|O_EXCL|O_WRONLY, x) */
	OP_OPEN,       /* open(a, flags x) and close */
	OP_WRITE,      /* open(a, O_WRONLY|O_APPEND), write b */
	OP_READ,       /* open(a, O_RDONLY), read: "= contents" */
	OP_UNLINK,     /* a */
	OP_RMDIR,      /* a */
	OP_RENAME,     /* a -> b, renameat2 flags x */
	OP_LINK,       /* a -> b */
	OP_SYMLINK,    /* target a, name b */
	OP_READLINK,   /* a: "-> target" */
	OP_STAT,       /* a: "uid gid mode nlink size" */
	OP_LSTAT,      /* a: as OP_STAT, of the link itself */
	OP_CHMOD,      /* a, mode x */
	OP_FCHMOD,     /* open(a, O_RDONLY), fchmod x */
	OP_CHOWN,      /* a, uid x, gid y (-1 keeps) */
	OP_LCHOWN,     /* a, uid x, gid y */
	OP_FCHOWN,     /* open(a, O_RDONLY), fchown x, y */
	OP_UTIME_NOW,  /* utimensat(a, NULL) */
	OP_UTIME_SET,  /* utimensat(a, {x, x}) then "mtime" */
	OP_UTIME_MNOW, /* utimensat(a, {OMIT, NOW}) */
	OP_ACCESS,     /* access(a, x) */
	OP_TRUNCATE,   /* truncate(a, x) */
	OP_FTRUNC_RO,  /* open(a, O_RDONLY), ftruncate(0) */
	OP_WRITE_RO,   /* open(a, O_RDONLY), write */
	OP_OPENDIR,    /* open(a, O_RDONLY|O_DIRECTORY) */
	OP_DIO,	       /* async O_DIRECT writes of a while others read it
			* through the cache; then read: "stale" bytes? */
	OP_FSTAT_GONE, /* open a, x: 0 unlink, 1 rename b over it, 2 rmdir;
			* fstat the fd: "nlink mode" */
	OP_COPY_SELF,  /* copy this program to a, mode x */
	OP_EXEC,       /* run a --true: "exit status" */
	OP_CREATE_IN,  /* chdir(a) before dropping ids, create b there */
	OP_LONGPATH,   /* under a new dir a: calls on relative paths of
			* PATH_MAX-1 bytes */
	OP_HANDLE,     /* name_to_handle_at(a), open_by_handle_at */
	OP_MKNOD,      /* mknod(a, mode x, dev y) */
	OP_FIFO_IO,    /* open FIFO a O_RDWR, write and read back */
	OP_BIND,       /* bind a Unix socket to a, connect to it */
	OP_SETXATTR,   /* setxattr(a, name b, "v" x, flags y) */
	OP_GETXATTR,   /* getxattr(a, b): size probe, then "= value" */
	OP_LISTXATTR,  /* listxattr(a): the names, sorted */
	OP_RMXATTR,    /* removexattr(a, b) */
	OP_SETACL,     /* access ACL on a: owner rw, uid x gets perm y (and
			* the mask), group and other none */
};

struct step {
	enum who who;
	enum op op;
	const char *a, *b;
	long x, y;
};

/* The sequence. Paths are relative to the directory under test; `w` is
 * root's 0755 directory, `w/pub` a sticky world-writable one (as /tmp),
 * `w/priv` root's 0700, `w/ro` root's 0755, `w/sg` a set-group-ID one. */
static const struct step steps[] = {
	{R, OP_MKDIR, "w", NULL, 0755, 0},
	{R, OP_MKDIR, "w/pub", NULL, 0777, 0},
	{R, OP_CHMOD, "w/pub", NULL, 01777, 0},
	{R, OP_MKDIR, "w/priv", NULL, 0700, 0},
	{R, OP_MKDIR, "w/ro", NULL, 0755, 0},
	{R, OP_CREATE, "w/ro/rootfile", NULL, 0644, 0},
	{R, OP_WRITE, "w/ro/rootfile", "root", 0, 0},
	{R, OP_CREATE, "w/priv/secret", NULL, 0644, 0},
	{N, OP_CREATE, "w/ro/x", NULL, 0644, 0},
	{N, OP_MKDIR, "w/ro/d", NULL, 0755, 0},
	{N, OP_SYMLINK, "t", "w/ro/sl", 0, 0},
	{N, OP_CREATE, "w/pub/n1", NULL, 0644, 0},
	{N, OP_STAT, "w/pub/n1", NULL, 0, 0},
	{N, OP_CREATE, "w/pub/n1", NULL, 0644, 0},
	{N, OP_OPEN, "w/pub/n1", NULL, O_CREAT | O_WRONLY, 0},
	{N, OP_MKDIR, "w/pub/nd", NULL, 0755, 0},
	{N, OP_STAT, "w/pub/nd", NULL, 0, 0},
	{N, OP_MKDIR, "w/pub/nd", NULL, 0755, 0},
	{R, OP_CREATE, "w/pub/r1", NULL, 0644, 0},
	{N, OP_UNLINK, "w/pub/r1", NULL, 0, 0},
	{N, OP_RENAME, "w/pub/r1", "w/pub/r2", 0, 0},
	{N, OP_RENAME, "w/pub/n1", "w/pub/n2", 0, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/r1", 0, 0},
	{N, OP_WRITE, "w/pub/n2", "nobody", 0, 0},
	{N, OP_CREATE, "w/pub/n3", NULL, 0600, 0},
	{N, OP_WRITE, "w/pub/n3", "three", 0, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/n3", RENAME_NOREPLACE, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/n3", RENAME_EXCHANGE, 0},
	{N, OP_READ, "w/pub/n2", NULL, 0, 0},
	{N, OP_READ, "w/pub/n3", NULL, 0, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/n3", 0, 0},
	{N, OP_STAT, "w/pub/n2", NULL, 0, 0},
	{N, OP_RENAME, "w/pub/nd", "w/pub/nd/sub", 0, 0},
	{N, OP_RENAME, "w/pub/n3", "w/pub/nd", 0, 0},
	{R, OP_RENAME, "w/pub/r1", "w/pub/n3", 0, 0},
	{N, OP_STAT, "w/pub/n3", NULL, 0, 0},
	{N, OP_CHMOD, "w/ro/rootfile", NULL, 0666, 0},
	{N, OP_CHOWN, "w/pub/n3", NULL, 65534, -1},
	{N, OP_CHOWN, "w/pub/nd", NULL, 0, -1},
	{N, OP_CHOWN, "w/pub/nd", NULL, -1, 0},
	{N, OP_CHOWN, "w/pub/nd", NULL, -1, -1},
	{N, OP_CHOWN, "w/pub/nd", NULL, 65534, 65534},
	{R, OP_CHOWN, "w/pub/nd", NULL, 65534, 0},
	{N, OP_STAT, "w/pub/nd", NULL, 0, 0},
	{N, OP_UTIME_SET, "w/ro/rootfile", NULL, 1000000, 0},
	{N, OP_UTIME_NOW, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_UTIME_MNOW, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_CHMOD, "w/ro/rootfile", NULL, 0666, 0},
	{N, OP_UTIME_NOW, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_UTIME_SET, "w/ro/rootfile", NULL, 1000000, 0},
	{R, OP_UTIME_SET, "w/ro/rootfile", NULL, 1000000, 0},
	{N, OP_ACCESS, "w/ro/rootfile", NULL, W_OK, 0},
	{N, OP_ACCESS, "w/ro/rootfile", NULL, X_OK, 0},
	{N, OP_ACCESS, "w/priv", NULL, X_OK, 0},
	{N, OP_ACCESS, "w/ro", NULL, W_OK, 0},
	{N, OP_ACCESS, "w/ro", NULL, R_OK | X_OK, 0},
	{N, OP_ACCESS, "w/nothing", NULL, F_OK, 0},
	{N, OP_STAT, "w/priv/secret", NULL, 0, 0},
	{N, OP_OPENDIR, "w/priv", NULL, 0, 0},
	{N, OP_OPENDIR, "w/ro", NULL, 0, 0},
	{N, OP_OPENDIR, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_STAT, "w/priv/secret", NULL, 0, 0},
	{N, OP_LINK, "w/ro/rootfile", "w/pub/hl", 0, 0},
	{N, OP_STAT, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub/hl", NULL, 0, 0},
	{N, OP_STAT, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_LINK, "w/pub/nd", "w/pub/dl", 0, 0},
	{N, OP_LINK, "w/pub/n3", "w/ro/hl", 0, 0},
	{N, OP_SYMLINK, "target", "w/pub/sl", 0, 0},
	{N, OP_LSTAT, "w/pub/sl", NULL, 0, 0},
	{N, OP_READLINK, "w/pub/sl", NULL, 0, 0},
	{N, OP_OPEN, "w/pub/sl", NULL, O_CREAT | O_WRONLY, 0},
	{N, OP_STAT, "w/pub/target", NULL, 0, 0},
	{R, OP_OPEN, "w/pub/sl", NULL, O_RDONLY, 0},
	{R, OP_LCHOWN, "w/pub/sl", NULL, 0, 0},
	{R, OP_LSTAT, "w/pub/sl", NULL, 0, 0},
	{N, OP_FTRUNC_RO, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_WRITE_RO, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_CHMOD, "w/ro/rootfile", NULL, 0644, 0},
	{N, OP_TRUNCATE, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_OPEN, "w/ro/rootfile", NULL, O_WRONLY, 0},
	{N, OP_OPEN, "w/ro/rootfile", NULL, O_RDWR | O_TRUNC, 0},
	{N, OP_READ, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_OPEN, "w/ro/rootfile", NULL, O_RDONLY | O_DIRECTORY, 0},
	{N, OP_OPEN, "w/pub", NULL, O_WRONLY, 0},
	{N, OP_TRUNCATE, "w/pub/n3", NULL, 3, 0},
	{N, OP_READ, "w/pub/n3", NULL, 0, 0},
	{N, OP_TRUNCATE, "w/pub/n3", NULL, 10, 0},
	{N, OP_STAT, "w/pub/n3", NULL, 0, 0},
	{R, OP_CREATE, "w/pub/suid", NULL, 0644, 0},
	{R, OP_CHMOD, "w/pub/suid", NULL, 06777, 0},
	{N, OP_WRITE, "w/pub/suid", "x", 0, 0},
	{R, OP_STAT, "w/pub/suid", NULL, 0, 0},
	{R, OP_CHMOD, "w/pub/suid", NULL, 06777, 0},
	{R, OP_WRITE, "w/pub/suid", "y", 0, 0},
	{R, OP_STAT, "w/pub/suid", NULL, 0, 0},
	{N, OP_TRUNCATE, "w/pub/suid", NULL, 1, 0},
	{R, OP_STAT, "w/pub/suid", NULL, 0, 0},
	{N, OP_CREATE, "w/pub/g", NULL, 0644, 0},
	{R, OP_CHOWN, "w/pub/g", NULL, -1, 0},
	{N, OP_CHMOD, "w/pub/g", NULL, 02755, 0},
	{N, OP_STAT, "w/pub/g", NULL, 0, 0},
	{N, OP_FCHMOD, "w/pub/g", NULL, 0600, 0},
	{N, OP_FCHOWN, "w/pub/g", NULL, -1, 100},
	{N, OP_FCHMOD, "w/ro/rootfile", NULL, 0600, 0},
	{N, OP_STAT, "w/pub/g", NULL, 0, 0},
	{R, OP_MKDIR, "w/sg", NULL, 0777, 0},
	{R, OP_CHOWN, "w/sg", NULL, 0, 100},
	{R, OP_CHMOD, "w/sg", NULL, 02777, 0},
	{N, OP_CREATE, "w/sg/f", NULL, 0644, 0},
	{N, OP_STAT, "w/sg/f", NULL, 0, 0},
	{N, OP_MKDIR, "w/sg/d", NULL, 0755, 0},
	{N, OP_STAT, "w/sg/d", NULL, 0, 0},
	/* 6: a hard link is the same inode: a chmod and the link count
	 * show through the other name at once */
	{R, OP_CREATE, "w/pub/h1", NULL, 0644, 0},
	{R, OP_LINK, "w/pub/h1", "w/pub/h2", 0, 0},
	{R, OP_STAT, "w/pub/h2", NULL, 0, 0},
	{R, OP_CHMOD, "w/pub/h1", NULL, 0604, 0},
	{N, OP_STAT, "w/pub/h2", NULL, 0, 0},
	{R, OP_LINK, "w/pub/h2", "w/pub/h3", 0, 0},
	{N, OP_STAT, "w/pub/h1", NULL, 0, 0},
	{R, OP_UNLINK, "w/pub/h3", NULL, 0, 0},
	{N, OP_STAT, "w/pub/h2", NULL, 0, 0},
	/* 2: an open file or directory whose name is gone: nlink 0 */
	{N, OP_CREATE, "w/pub/g1", NULL, 0644, 0},
	{N, OP_FSTAT_GONE, "w/pub/g1", NULL, 0, 0},
	{N, OP_CREATE, "w/pub/g2", NULL, 0644, 0},
	{N, OP_CREATE, "w/pub/g3", NULL, 0600, 0},
	{N, OP_FSTAT_GONE, "w/pub/g2", "w/pub/g3", 1, 0},
	{N, OP_MKDIR, "w/pub/gd", NULL, 0755, 0},
	{N, OP_FSTAT_GONE, "w/pub/gd", NULL, 2, 0},
	/* 3: exec needs execute permission, not read */
	{R, OP_MKDIR, "w/bin", NULL, 0755, 0},
	{R, OP_COPY_SELF, "w/bin/x711", NULL, 0711, 0},
	{N, OP_EXEC, "w/bin/x711", NULL, 0, 0},
	{R, OP_EXEC, "w/bin/x711", NULL, 0, 0},
	{R, OP_CHMOD, "w/bin/x711", NULL, 0644, 0},
	{N, OP_EXEC, "w/bin/x711", NULL, 0, 0},
	{R, OP_EXEC, "w/bin/x711", NULL, 0, 0},
	/* 4: a relative path below a directory the caller cannot search */
	{R, OP_MKDIR, "w/locked", NULL, 0700, 0},
	{R, OP_MKDIR, "w/locked/open", NULL, 0777, 0},
	{R, OP_CHMOD, "w/locked/open", NULL, 0777, 0},
	{N, OP_CREATE_IN, "w/locked/open", "x", 0, 0},
	{N, OP_STAT, "w/locked/open/x", NULL, 0, 0},
	{R, OP_STAT, "w/locked/open/x", NULL, 0, 0},
	/* 5: a relative path of PATH_MAX-1 bytes */
	{R, OP_LONGPATH, "w/long", NULL, 0, 0},
	{N, OP_LONGPATH, "w/pub/long", NULL, 0, 0},
	/* 1: after a direct write returns, no reader sees older bytes */
	{N, OP_DIO, "w/pub/dio", NULL, 0, 0},
	{R, OP_DIO, "w/dio", NULL, 0, 0},
	/* file handles (root: CAP_DAC_READ_SEARCH; nobody may not) */
	{R, OP_HANDLE, "w/pub/h1", NULL, 0, 0},
	{R, OP_HANDLE, "w/pub", NULL, 0, 0},
	{N, OP_HANDLE, "w/pub/h1", NULL, 0, 0},
	/* 7: special files */
	{R, OP_MKNOD, "w/fifo", NULL, S_IFIFO | 0644, 0},
	{R, OP_LSTAT, "w/fifo", NULL, 0, 0},
	{R, OP_FIFO_IO, "w/fifo", NULL, 0, 0},
	{N, OP_MKNOD, "w/pub/nfifo", NULL, S_IFIFO | 0666, 0},
	{N, OP_LSTAT, "w/pub/nfifo", NULL, 0, 0},
	{N, OP_FIFO_IO, "w/pub/nfifo", NULL, 0, 0},
	{N, OP_FIFO_IO, "w/fifo", NULL, 0, 0},
	{R, OP_MKNOD, "w/null", NULL, S_IFCHR | 0666, 0x103},
	{R, OP_LSTAT, "w/null", NULL, 0, 0},
	{N, OP_WRITE, "w/null", "gone", 0, 0},
	{N, OP_READ, "w/null", NULL, 0, 0},
	{R, OP_MKNOD, "w/blk", NULL, S_IFBLK | 0600, 0x701},
	{R, OP_LSTAT, "w/blk", NULL, 0, 0},
	{N, OP_MKNOD, "w/pub/nchr", NULL, S_IFCHR | 0666, 0x103},
	{N, OP_MKNOD, "w/pub/nblk", NULL, S_IFBLK | 0666, 0x701},
	{N, OP_MKNOD, "w/pub/whiteout", NULL, S_IFCHR | 0666, 0},
	{N, OP_MKNOD, "w/ro/nfifo", NULL, S_IFIFO | 0644, 0},
	{N, OP_MKNOD, "w/pub/nfifo", NULL, S_IFIFO | 0644, 0},
	{R, OP_BIND, "w/sock", NULL, 0, 0},
	{R, OP_LSTAT, "w/sock", NULL, 0, 0},
	{N, OP_BIND, "w/pub/nsock", NULL, 0, 0},
	{N, OP_LSTAT, "w/pub/nsock", NULL, 0, 0},
	{N, OP_BIND, "w/ro/nsock", NULL, 0, 0},
	{R, OP_UNLINK, "w/sock", NULL, 0, 0},
	{R, OP_UNLINK, "w/null", NULL, 0, 0},
	/* 7: extended attributes */
	{R, OP_CREATE, "w/x1", NULL, 0644, 0},
	{R, OP_SETXATTR, "w/x1", "user.a", 1, 0},
	{R, OP_GETXATTR, "w/x1", "user.a", 0, 0},
	{N, OP_GETXATTR, "w/x1", "user.a", 0, 0},
	{N, OP_SETXATTR, "w/x1", "user.b", 2, 0},
	{R, OP_SETXATTR, "w/x1", "user.a", 3, XATTR_CREATE},
	{R, OP_SETXATTR, "w/x1", "user.c", 3, XATTR_REPLACE},
	{R, OP_SETXATTR, "w/x1", "user.a", 4, XATTR_REPLACE},
	{R, OP_GETXATTR, "w/x1", "user.a", 0, 0},
	{R, OP_SETXATTR, "w/x1", "trusted.t", 5, 0},
	{R, OP_GETXATTR, "w/x1", "trusted.t", 0, 0},
	{N, OP_GETXATTR, "w/x1", "trusted.t", 0, 0},
	{N, OP_SETXATTR, "w/pub/g1", "trusted.n", 5, 0},
	{R, OP_LISTXATTR, "w/x1", NULL, 0, 0},
	{N, OP_LISTXATTR, "w/x1", NULL, 0, 0},
	{N, OP_GETXATTR, "w/x1", "user.none", 0, 0},
	{N, OP_CREATE, "w/pub/nx", NULL, 0600, 0},
	{N, OP_SETXATTR, "w/pub/nx", "user.mine", 6, 0},
	{N, OP_GETXATTR, "w/pub/nx", "user.mine", 0, 0},
	{R, OP_GETXATTR, "w/pub/nx", "user.mine", 0, 0},
	{N, OP_SETXATTR, "w/pub/nfifo", "user.f", 7, 0},
	{N, OP_RMXATTR, "w/pub/nx", "user.mine", 0, 0},
	{N, OP_RMXATTR, "w/pub/nx", "user.mine", 0, 0},
	{N, OP_LISTXATTR, "w/pub/nx", NULL, 0, 0},
	{N, OP_RMXATTR, "w/x1", "user.a", 0, 0},
	{R, OP_RMXATTR, "w/x1", "trusted.t", 0, 0},
	{R, OP_LISTXATTR, "w/x1", NULL, 0, 0},
	/* 7: a POSIX ACL grants nobody what the mode does not */
	{R, OP_CREATE, "w/acl", NULL, 0600, 0},
	{R, OP_WRITE, "w/acl", "acl", 0, 0},
	{N, OP_READ, "w/acl", NULL, 0, 0},
	{N, OP_SETACL, "w/acl", NULL, 65534, 4},
	{R, OP_SETACL, "w/acl", NULL, 65534, 4},
	{R, OP_STAT, "w/acl", NULL, 0, 0},
	{N, OP_READ, "w/acl", NULL, 0, 0},
	{N, OP_WRITE, "w/acl", "no", 0, 0},
	{R, OP_GETXATTR, "w/acl", "system.posix_acl_access", 0, 0},
	{R, OP_CHMOD, "w/acl", NULL, 0600, 0},
	{R, OP_GETXATTR, "w/acl", "system.posix_acl_access", 0, 0},
	{N, OP_READ, "w/acl", NULL, 0, 0},
	{R, OP_CHMOD, "w/acl", NULL, 0660, 0},
	{N, OP_WRITE, "w/acl", "yes", 0, 0},
	{R, OP_READ, "w/acl", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub", NULL, 0, 0},
	{N, OP_RMDIR, "w/pub/n3", NULL, 0, 0},
	{N, OP_RMDIR, "w/ro", NULL, 0, 0},
	{R, OP_RMDIR, "w/ro", NULL, 0, 0},
	{N, OP_RMDIR, "w/pub/nd", NULL, 0, 0},
	{N, OP_RMDIR, "w/pub/nd", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub/g", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub/n3", NULL, 0, 0},
	{R, OP_UNLINK, "w/pub/n3", NULL, 0, 0},
	{N, OP_STAT, "w/pub/n3", NULL, 0, 0},
	{R, OP_UNLINK, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_RMDIR, "w/ro", NULL, 0, 0},
};

#define NSTEPS (sizeof(steps) / sizeof(steps[0]))
#define RESULT_LEN 128

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void stat_text(const struct stat *st, char *out)
{
	int dev = S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode);

	/* sizes of directories are the file system's own business */
	snprintf(out, RESULT_LEN, "ok %u %u %o %lu %lld%s%u:%u", st->st_uid,
		 st->st_gid, st->st_mode, (unsigned long)st->st_nlink,
		 S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size,
		 dev ? " rdev " : "", dev ? major(st->st_rdev) : 0,
		 dev ? minor(st->st_rdev) : 0);
	if (!dev)
		out[strlen(out) - 3] = '\0'; /* "0:0" */
}

/* A FIFO: open it both ways (Linux allows O_RDWR on a FIFO), write
 * through it and read back: the kernel serves it, not the file
 * system. */
static int fifo_io(const char *path, char *out)
{
	char buf[8] = "";
	int fd = open(path, O_RDWR | O_NONBLOCK), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "fifo", 4) != 4 || read(fd, buf, sizeof(buf) - 1) != 4)
		ret = -errno;
	else
		snprintf(out, RESULT_LEN, "ok = %s", buf);
	close(fd);
	return ret;
}

/* Bind a Unix socket to path and connect a second one to it. */
static int bind_check(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0), c = -1, ret = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s, 1))
		ret = -errno;
	if (!ret) {
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
			ret = -errno;
	}
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	return ret;
}

/* getxattr: first the size probe, then the value (printed in hex if
 * it is not text). */
static int getxattr_check(const char *path, const char *name, char *out)
{
	unsigned char v[64];
	ssize_t probe = getxattr(path, name, NULL, 0), n;
	int text = 1;

	if (probe < 0)
		return -errno;
	n = getxattr(path, name, v, sizeof(v));
	if (n < 0)
		return -errno;
	for (ssize_t i = 0; i < n; i++)
		text &= v[i] >= ' ' && v[i] < 127;
	n = snprintf(out, RESULT_LEN, "ok %zd = ", probe);
	for (ssize_t i = 0;
	     i < probe && i < (ssize_t)sizeof(v) && n < RESULT_LEN - 3; i++)
		n += snprintf(out + n, (size_t)(RESULT_LEN - n),
			      text ? "%c" : "%02x", v[i]);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* listxattr, names sorted (the order is the file system's own). */
static int listxattr_check(const char *path, char *out)
{
	char list[256], *names[32];
	ssize_t len = listxattr(path, list, sizeof(list));
	size_t n = 0, used;

	if (len < 0)
		return -errno;
	for (ssize_t off = 0; off < len && n < 32;
	     off += (ssize_t)strlen(list + off) + 1)
		names[n++] = list + off;
	qsort(names, n, sizeof(names[0]), name_cmp);
	used = (size_t)snprintf(out, RESULT_LEN, "ok");
	for (size_t i = 0; i < n && used < RESULT_LEN; i++)
		used += (size_t)snprintf(out + used, RESULT_LEN - used, " %s",
					 names[i]);
	return 0;
}

/* An access ACL: owner rw, user `uid` gets `perm` (and so does the
 * mask), owning group and others nothing. Linux's xattr form: version
 * 2, then (tag, perm, id) entries in tag order. */
static int setacl(const char *path, uint32_t uid, uint16_t perm)
{
	struct {
		uint16_t tag, perm;
		uint32_t id;
	} acl[5] = {
		{0x01, 6, (uint32_t)-1},    /* ACL_USER_OBJ */
		{0x02, perm, uid},	    /* ACL_USER */
		{0x04, 0, (uint32_t)-1},    /* ACL_GROUP_OBJ */
		{0x10, perm, (uint32_t)-1}, /* ACL_MASK */
		{0x20, 0, (uint32_t)-1},    /* ACL_OTHER */
	};
	unsigned char value[4 + sizeof(acl)];
	uint32_t version = 2;

	memcpy(value, &version, 4);
	memcpy(value + 4, acl, sizeof(acl));
	return setxattr(path, "system.posix_acl_access", value, sizeof(value),
			0) ?
		       -errno :
		       0;
}

/* Open a, do `what` on the fd, close. */
static int with_fd(const struct step *s, int flags, char *out)
{
	int fd = open(s->a, flags), ret = 0;

	if (fd < 0)
		return -errno;
	switch (s->op) {
	case OP_WRITE:
		if (write(fd, s->b, strlen(s->b)) < 0)
			ret = -errno;
		break;
	case OP_READ: {
		char buf[64];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0) {
			ret = -errno;
			break;
		}
		buf[n] = '\0';
		snprintf(out, RESULT_LEN, "ok = %s", buf);
		break;
	}
	case OP_FCHMOD:
		ret = fchmod(fd, (mode_t)s->x) ? -errno : 0;
		break;
	case OP_FCHOWN:
		ret = fchown(fd, (uid_t)s->x, (gid_t)s->y) ? -errno : 0;
		break;
	case OP_FTRUNC_RO:
		ret = ftruncate(fd, 0) ? -errno : 0;
		break;
	case OP_WRITE_RO:
		ret = write(fd, "x", 1) < 0 ? -errno : 0;
		break;
	default:
		break;
	}
	close(fd);
	return ret;
}

#define DIO_SIZE (640 * 1024) /* the file: forty 16 KiB direct writes */
#define DIO_CHUNK (16 * 1024)
#define DIO_ROUNDS 12
#define DIO_READERS 3

/* Read the file through the page cache, a page at a time from the end
 * (against the writes' order), opening it again each pass, until
 * killed. */
static void dio_reader(const char *path)
{
	char page[4096];

	for (;;) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			_exit(1);
		for (off_t off = DIO_SIZE - 4096; off >= 0; off -= 4096)
			if (pread(fd, page, sizeof(page), off) < 0)
				_exit(1);
		close(fd);
	}
}

/* One round: the file holds `old` (and readers keep it cached); write
 * `new` over all of it with asynchronous direct I/O, wait for it, and
 * count the bytes a fresh buffered open still reads as something else.
 * Returns the count or -errno. */
static long dio_round(const char *path, char old, char new)
{
	static char cur[DIO_SIZE];
	struct iocb cbs[DIO_SIZE / DIO_CHUNK], *cbp[DIO_SIZE / DIO_CHUNK];
	struct io_event ev[DIO_SIZE / DIO_CHUNK];
	pid_t readers[DIO_READERS];
	aio_context_t ctx = 0;
	long stale = 0, done = 0;
	int fd, nr = DIO_SIZE / DIO_CHUNK;
	char *buf;

	memset(cur, old, sizeof(cur));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, cur, DIO_SIZE) != DIO_SIZE)
		return -errno;
	close(fd);
	for (int i = 0; i < DIO_READERS; i++) {
		readers[i] = fork();
		if (readers[i] == 0)
			dio_reader(path);
	}
	if (posix_memalign((void **)&buf, 4096, DIO_SIZE))
		return -ENOMEM;
	memset(buf, new, DIO_SIZE);
	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd < 0 || syscall(SYS_io_setup, nr, &ctx)) {
		stale = -errno;
		goto stop;
	}
	for (int i = 0; i < nr; i++) {
		cbs[i] = (struct iocb){
			.aio_fildes = (uint32_t)fd,
			.aio_lio_opcode = IOCB_CMD_PWRITE,
			.aio_buf = (uint64_t)(uintptr_t)(buf + i * DIO_CHUNK),
			.aio_nbytes = DIO_CHUNK,
			.aio_offset = (int64_t)i * DIO_CHUNK,
		};
		cbp[i] = &cbs[i];
	}
	if (syscall(SYS_io_submit, ctx, nr, cbp) != nr) {
		stale = -errno;
		goto stop;
	}
	while (done < nr) {
		long got = syscall(SYS_io_getevents, ctx, 1, nr - done,
				   ev + done, NULL);
		if (got < 0) {
			stale = -errno;
			goto stop;
		}
		for (long i = done; i < done + got; i++)
			if (ev[i].res != DIO_CHUNK)
				stale = ev[i].res < 0 ? ev[i].res : -EIO;
		done += got;
	}
stop:
	if (ctx)
		syscall(SYS_io_destroy, ctx);
	if (fd >= 0)
		close(fd);
	free(buf);
	/* the readers are still at it while the file is read back */
	fd = stale ? -1 : open(path, O_RDONLY);
	if (fd >= 0 && pread(fd, cur, DIO_SIZE, 0) == DIO_SIZE)
		for (size_t i = 0; i < DIO_SIZE; i++)
			stale += cur[i] != new;
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < DIO_READERS; i++) {
		kill(readers[i], SIGKILL);
		waitpid(readers[i], NULL, 0);
	}
	return stale;
}

static int dio_check(const char *path, char *out)
{
	long stale = 0;

	for (int r = 0; r < DIO_ROUNDS; r++) {
		long n = dio_round(path, (char)('a' + r), (char)('A' + r));
		if (n < 0)
			return (int)n;
		stale += n;
	}
	snprintf(out, RESULT_LEN, "ok %s", stale ? "stale bytes read" : "");
	return 0;
}

/* Open a, remove its name (x: 0 unlink, 1 rename b over it, 2 rmdir)
 * and fstat the descriptor. */
static int fstat_gone(const struct step *s, char *out)
{
	struct stat st;
	int fd = open(s->a, O_RDONLY), ret;

	if (fd < 0)
		return -errno;
	ret = s->x == 0 ? unlink(s->a) :
	      s->x == 1 ? rename(s->b, s->a) :
			  rmdir(s->a);
	if (!ret)
		ret = fstat(fd, &st);
	if (!ret)
		snprintf(out, RESULT_LEN, "ok nlink %lu mode %o",
			 (unsigned long)st.st_nlink, st.st_mode);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

static int copy_self(const char *to, mode_t mode)
{
	char buf[65536];
	int in = open("/proc/self/exe", O_RDONLY), out = -1, ret = 0;
	ssize_t n;

	if (in >= 0)
		out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0700);
	while (out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in < 0 || out < 0 || fchmod(out, mode))
		ret = -errno;
	if (out >= 0 && close(out))
		ret = -errno;
	if (in >= 0)
		close(in);
	return ret;
}

/* Run a, which is this program ("--true" makes it exit 0); an exec
 * error comes back through a close-on-exec pipe. */
static int exec_file(const char *path, char *out)
{
	int pipefd[2], status, err = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		execl(path, path, "--true", (char *)NULL);
		err = errno;
		if (write(pipefd[1], &err, sizeof(err)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &err, sizeof(err)) != sizeof(err))
		err = 0;
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -errno;
	if (err)
		return -err;
	snprintf(out, RESULT_LEN, "ok exit %d",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

#define LONG_COMP 200 /* bytes of each directory name on the long path */

/* Build directories under a new `base` until a relative path from here
 * of PATH_MAX-1 bytes fits (each made from inside its parent, so no
 * single call passes more), then make and remove things by that path:
 * the kernel limits only what one call passes. */
static int longpath_check(const char *base, char *out)
{
	char path[PATH_MAX], other[PATH_MAX], comp[LONG_COMP + 1];
	int here = open(".", O_RDONLY | O_DIRECTORY), fd, ret = 0;
	const char *what = "mkdir";
	size_t len = strlen(base), last;

	memset(comp, 'd', LONG_COMP);
	comp[LONG_COMP] = '\0';
	snprintf(path, sizeof(path), "%s", base);
	if (here < 0 || mkdir(base, 0755) || chdir(base))
		return -errno;
	/* the last name takes what is left: between 10 and 210 bytes */
	while (len + 1 + LONG_COMP + 1 + 10 <= PATH_MAX - 1) {
		if (mkdir(comp, 0755) || chdir(comp)) {
			ret = -errno;
			break;
		}
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%s",
					comp);
	}
	if (fchdir(here) && !ret)
		ret = -errno;
	close(here);
	if (ret)
		return ret;
	last = PATH_MAX - 1 - len - 1;
	path[len++] = '/';
	memset(path + len, 'f', last);
	path[len + last] = '\0';
	memcpy(other, path, sizeof(path));
	other[len + last - 1] = 'g';
#define LONG_STEP(name, call)                                                  \
	do {                                                                   \
		what = name;                                                   \
		if ((call) < 0)                                                \
			goto fail;                                             \
	} while (0)
	LONG_STEP("open", fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644));
	close(fd);
	LONG_STEP("chmod", chmod(path, 0600));
	LONG_STEP("chown", chown(path, (uid_t)-1, (gid_t)-1));
	LONG_STEP("truncate", truncate(path, 3));
	LONG_STEP("link", link(path, other));
	LONG_STEP("unlink", unlink(other));
	LONG_STEP("rename", rename(path, other));
	LONG_STEP("symlink", symlink("target", path));
	LONG_STEP("unlink", unlink(path));
	LONG_STEP("unlink", unlink(other));
	LONG_STEP("mkdir", mkdir(path, 0755));
	LONG_STEP("rmdir", rmdir(path));
#undef LONG_STEP
	snprintf(out, RESULT_LEN, "ok %zu bytes", strlen(path));
	return 0;
fail:
	snprintf(out, RESULT_LEN, "%s %s", what, errname(errno));
	return 0;
}

/* A file handle of path, in a buffer the caller frees. */
static struct file_handle *handle_of(const char *path)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mount_id;

	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0)) {
		free(fh);
		return NULL;
	}
	return fh;
}

/* name_to_handle_at(a), then open_by_handle_at: the same inode? */
static int handle_check(const char *path, char *out)
{
	struct file_handle *fh = handle_of(path);
	struct stat a, b;
	int mfd, fd, ret = 0;

	if (!fh)
		return -errno;
	mfd = open(".", O_RDONLY | O_DIRECTORY);
	fd = mfd < 0 ? -1 : open_by_handle_at(mfd, fh, O_RDONLY);
	if (fd < 0 || fstat(fd, &b) || stat(path, &a))
		ret = -errno;
	else
		snprintf(out, RESULT_LEN, "ok %s",
			 a.st_ino == b.st_ino ? "same inode" : "another inode");
	if (fd >= 0)
		close(fd);
	if (mfd >= 0)
		close(mfd);
	free(fh);
	return ret;
}

/* Run one step in this process; the result goes to out. */
static void step_run(const struct step *s, char *out)
{
	struct timespec ts[2];
	struct stat st;
	char buf[64];
	int ret = 0;
	ssize_t n;

	out[0] = '\0';
	switch (s->op) {
	case OP_MKDIR:
		ret = mkdir(s->a, (mode_t)s->x);
		break;
	case OP_CREATE:
		ret = open(s->a, O_CREAT | O_EXCL | O_WRONLY, (mode_t)s->x);
		if (ret >= 0)
			ret = close(ret);
		break;
	case OP_OPEN:
		ret = open(s->a, (int)s->x, 0644);
		if (ret >= 0)
			ret = close(ret);
		break;
	case OP_WRITE:
		ret = with_fd(s, O_WRONLY | O_APPEND, out);
		break;
	case OP_READ:
		ret = with_fd(s, O_RDONLY, out);
		break;
	case OP_FCHMOD:
	case OP_FCHOWN:
	case OP_FTRUNC_RO:
	case OP_WRITE_RO:
		ret = with_fd(s, O_RDONLY, out);
		break;
	case OP_UNLINK:
		ret = unlink(s->a);
		break;
	case OP_RMDIR:
		ret = rmdir(s->a);
		break;
	case OP_RENAME:
		ret = (int)syscall(SYS_renameat2, AT_FDCWD, s->a, AT_FDCWD,
				   s->b, (unsigned)s->x);
		break;
	case OP_LINK:
		ret = link(s->a, s->b);
		break;
	case OP_SYMLINK:
		ret = symlink(s->a, s->b);
		break;
	case OP_READLINK:
		n = readlink(s->a, buf, sizeof(buf) - 1);
		if (n >= 0) {
			buf[n] = '\0';
			snprintf(out, RESULT_LEN, "ok -> %.64s", buf);
		}
		ret = n < 0 ? -1 : 0;
		break;
	case OP_STAT:
	case OP_LSTAT:
		ret = (s->op == OP_STAT ? stat : lstat)(s->a, &st);
		if (!ret)
			stat_text(&st, out);
		break;
	case OP_CHMOD:
		ret = chmod(s->a, (mode_t)s->x);
		break;
	case OP_CHOWN:
		ret = chown(s->a, (uid_t)s->x, (gid_t)s->y);
		break;
	case OP_LCHOWN:
		ret = lchown(s->a, (uid_t)s->x, (gid_t)s->y);
		break;
	case OP_UTIME_NOW:
		ret = utimensat(AT_FDCWD, s->a, NULL, 0);
		break;
	case OP_UTIME_SET:
		ts[0] = ts[1] = (struct timespec){s->x, 0};
		ret = utimensat(AT_FDCWD, s->a, ts, 0);
		if (!ret && !stat(s->a, &st))
			snprintf(out, RESULT_LEN, "ok mtime %lld",
				 (long long)st.st_mtim.tv_sec);
		break;
	case OP_UTIME_MNOW:
		ts[0] = (struct timespec){0, UTIME_OMIT};
		ts[1] = (struct timespec){0, UTIME_NOW};
		ret = utimensat(AT_FDCWD, s->a, ts, 0);
		break;
	case OP_ACCESS:
		ret = access(s->a, (int)s->x);
		break;
	case OP_TRUNCATE:
		ret = truncate(s->a, s->x);
		break;
	case OP_OPENDIR:
		ret = open(s->a, O_RDONLY | O_DIRECTORY);
		if (ret >= 0)
			ret = close(ret);
		break;
	case OP_DIO:
		ret = dio_check(s->a, out);
		break;
	case OP_FSTAT_GONE:
		ret = fstat_gone(s, out);
		break;
	case OP_COPY_SELF:
		ret = copy_self(s->a, (mode_t)s->x);
		break;
	case OP_EXEC:
		ret = exec_file(s->a, out);
		break;
	case OP_CREATE_IN: {
		/* the working directory is s->a already (chdir before the
		 * ids dropped, see step_run_nobody): as root, go there */
		int here = open(".", O_RDONLY | O_DIRECTORY);
		if (here >= 0 && s->who == R && chdir(s->a))
			ret = -errno;
		if (!ret) {
			ret = open(s->b, O_CREAT | O_EXCL | O_WRONLY, 0644);
			ret = ret >= 0 ? close(ret) : -errno;
		}
		if (here >= 0 && s->who == R && fchdir(here) && !ret)
			ret = -errno;
		if (here >= 0)
			close(here);
		break;
	}
	case OP_LONGPATH:
		ret = longpath_check(s->a, out);
		break;
	case OP_HANDLE:
		ret = handle_check(s->a, out);
		break;
	case OP_MKNOD:
		ret = mknod(
			s->a, (mode_t)s->x,
			makedev((unsigned)s->y >> 8, (unsigned)s->y & 0xff));
		break;
	case OP_FIFO_IO:
		ret = fifo_io(s->a, out);
		break;
	case OP_BIND:
		ret = bind_check(s->a);
		break;
	case OP_SETXATTR:
		snprintf(buf, sizeof(buf), "v%ld", s->x);
		ret = setxattr(s->a, s->b, buf, strlen(buf), (int)s->y);
		break;
	case OP_GETXATTR:
		ret = getxattr_check(s->a, s->b, out);
		break;
	case OP_LISTXATTR:
		ret = listxattr_check(s->a, out);
		break;
	case OP_RMXATTR:
		ret = removexattr(s->a, s->b);
		break;
	case OP_SETACL:
		ret = setacl(s->a, (uint32_t)s->x, (uint16_t)s->y);
		break;
	}
	if (ret < 0)
		snprintf(out, RESULT_LEN, "%s",
			 errname(ret == -1 ? errno : -ret));
	else if (!out[0])
		snprintf(out, RESULT_LEN, "ok");
}

/* Run one step as nobody, in a child without groups. */
static void step_run_nobody(const struct step *s, char *out)
{
	int pipefd[2];
	pid_t pid;
	ssize_t n;

	snprintf(out, RESULT_LEN, "child failed");
	if (pipe(pipefd))
		return;
	pid = fork();
	if (pid == 0) {
		char res[RESULT_LEN];
		close(pipefd[0]);
		/* a working directory below one nobody cannot search */
		if (s->op == OP_CREATE_IN && chdir(s->a))
			_exit(1);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(1);
		step_run(s, res);
		if (write(pipefd[1], res, strlen(res) + 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (pid > 0) {
		n = read(pipefd[0], out, RESULT_LEN - 1);
		out[n > 0 ? n : 0] = '\0';
		if (n <= 0)
			snprintf(out, RESULT_LEN, "child failed");
		waitpid(pid, NULL, 0);
	}
	close(pipefd[0]);
}

/* Run the whole sequence in dir; results[i] gets step i's. */
static int sequence_run(const char *dir, char (*results)[RESULT_LEN])
{
	if (chdir(dir)) {
		fprintf(stderr, "posix_users: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < NSTEPS; i++) {
		if (steps[i].who == N)
			step_run_nobody(&steps[i], results[i]);
		else
			step_run(&steps[i], results[i]);
	}
	return 0;
}

static const char *op_names[] = {
	"mkdir",      "create",	  "open",	"write",     "read",
	"unlink",     "rmdir",	  "rename",	"link",	     "symlink",
	"readlink",   "stat",	  "lstat",	"chmod",     "fchmod",
	"chown",      "lchown",	  "fchown",	"utime-now", "utime-set",
	"utime-mnow", "access",	  "truncate",	"ftrunc-ro", "write-ro",
	"opendir",    "dio",	  "fstat-gone", "copy-self", "exec",
	"create-in",  "longpath", "handle",	"mknod",     "fifo-io",
	"bind",	      "setxattr", "getxattr",	"listxattr", "rmxattr",
	"setacl",
};

/* --handle-save PATH FILE: PATH's file handle into FILE. */
static int handle_save(const char *path, const char *file)
{
	struct file_handle *fh = handle_of(path);
	FILE *f;
	int ret = 1;

	if (!fh) {
		fprintf(stderr, "posix_users: %s: %s\n", path, strerror(errno));
		return 1;
	}
	f = fopen(file, "wb");
	if (f && fwrite(fh, sizeof(*fh) + fh->handle_bytes, 1, f) == 1)
		ret = 0;
	if (f && fclose(f))
		ret = 1;
	free(fh);
	return ret;
}

/* --handle-open DIR FILE: open the handle in FILE on DIR's file system
 * and print the file's first line. */
static int handle_open(const char *dir, const char *file)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	FILE *f = fopen(file, "rb");
	char line[256] = "";
	int mfd = open(dir, O_RDONLY | O_DIRECTORY), fd = -1;
	ssize_t n;

	if (fh && f && mfd >= 0 &&
	    fread(fh, 1, sizeof(*fh) + MAX_HANDLE_SZ, f) >= sizeof(*fh))
		fd = open_by_handle_at(mfd, fh, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "posix_users: open_by_handle_at: %s\n",
			strerror(errno));
	} else {
		n = read(fd, line, sizeof(line) - 1);
		line[n > 0 ? n : 0] = '\0';
		line[strcspn(line, "\n")] = '\0';
		printf("%s\n", line);
		close(fd);
	}
	if (mfd >= 0)
		close(mfd);
	if (f)
		fclose(f);
	free(fh);
	return fd < 0;
}

int main(int argc, char **argv)
{
	static char a[NSTEPS][RESULT_LEN], b[NSTEPS][RESULT_LEN];
	int differ = 0, errors = 0;

	if (argc == 2 && !strcmp(argv[1], "--true"))
		return 0; /* OP_EXEC runs a copy of this program */
	if (argc == 4 && !strcmp(argv[1], "--handle-save"))
		return handle_save(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "--handle-open"))
		return handle_open(argv[2], argv[3]);
	if (argc != 3 || geteuid() != 0) {
		fprintf(stderr, "usage (as root): posix_users DIR_A DIR_B\n");
		return 2;
	}
	umask(022);
	if (sequence_run(argv[1], a) || sequence_run(argv[2], b))
		return 2;
	for (size_t i = 0; i < NSTEPS; i++) {
		const struct step *s = &steps[i];
		int same = strcmp(a[i], b[i]) == 0;
		printf("%s %3zu %-6s %-10s %s%s%s: %s%s%s\n",
		       same ? "same" : "DIFF", i,
		       s->who == R ? "root" : "nobody", op_names[s->op], s->a,
		       s->b ? " " : "", s->b ? s->b : "", a[i],
		       same ? "" : " | ", same ? "" : b[i]);
		differ += !same;
		errors += strncmp(b[i], "ok", 2) != 0;
	}
	printf("posix_users: %zu steps as root and nobody, %d refused, %d "
	       "differ\n",
	       NSTEPS, errors, differ);
	return differ ? 1 : 0;
}
