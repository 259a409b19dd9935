/* SPDX-License-Identifier: MIT */
/*
 * mount.h - the mount layer: a udax file system served to the kernel
 * through FUSE (libfuse3, low-level API), so that every program can use
 * it. Files are named as the kernel names them, by inode: a FUSE node id
 * is the udax inode number (the root is 1 in both), and the daemon
 * reaches the library through udax.h and the calls by inode of
 * src/api/ino.h. docs/DESIGN.md ("Mount") says why it is built this way.
 *
 * Files:
 *   ops.c     the FUSE operations: credentials of the caller, then one
 *             udax call each; the table of nodes the kernel holds
 *   daemon.c  mount_serve() (open, mount, daemonize, serve, shut down)
 *             and mount_unmount()
 *
 * Lifecycle of a mount: mount_serve() opens the image (refusing a damaged
 * one with the library's message), holds the root, mounts DIR, detaches
 * unless foreground, serves requests on several threads until DIR is
 * unmounted or SIGTERM/SIGINT/SIGHUP arrives, then unmounts, drops every
 * node the kernel still held (a file unlinked while open is freed then)
 * and closes the image (clean: nothing to replay).
 */
#ifndef UDAX_MOUNT_H
#define UDAX_MOUNT_H

#include <pthread.h>
#include <stdint.h>

#include "udax.h"

/* Options of one mount. */
struct mount_opts {
	const char *image;     /* the image, as the user named it */
	const char *dir;       /* the mount point */
	int foreground;	       /* 1: do not detach (-f) */
	int debug;	       /* 1: libfuse prints every request (-d) */
	int read_only;	       /* 1: -o ro */
	int allow_other;       /* 1: -o allow_other (users other than the
			    * mounter may enter) */
	int posix_acl;	       /* 1: -o posix_acl (the kernel enforces the
				* ACLs udax stores; FUSE_CAP_POSIX_ACL) */
	const char *fuse_opts; /* other -o options for libfuse, comma
				* separated, or NULL */
};

struct udax_ino;
struct fuse_session;

/*
 * A node: a udax inode the kernel holds (it has an inode of its own for
 * it, found by lookup, readdirplus, create, mkdir, symlink or link). The
 * kernel counts its lookups and gives them back with forget; while the
 * count is above zero the node holds the udax inode (struct udax_ino),
 * so the file lives on with no name left (an open file after unlink or
 * a rename over it: fstat gives nlink 0) and its number is never reused
 * for another file while the kernel may still name it.
 *
 * Lifecycle: made with nlookup 1 by the first reply that hands the inode
 * to the kernel; every further such reply adds one; forget takes its
 * count off, and at zero the node leaves the table and is freed (its
 * data handle closed, its hold put). The root is made at mount with
 * nlookup 1. At shutdown every node left is freed.
 *
 * Fields: ino and held are fixed. next and nlookup are guarded by
 * mount.lock. io is NULL until the first data request opens it (under
 * mount.lock), then fixed until the node is freed; the kernel sends no
 * request on a node after its last forget, so a request may use io
 * without the lock once it has it.
 */
struct mount_node {
	struct mount_node *next; /* hash chain */
	uint64_t ino;		 /* the udax inode number = FUSE node id */
	uint64_t nlookup;	 /* lookups the kernel counts on it */
	struct udax_ino *held;	 /* the library's hold on the inode */
	struct udax_file *io;	 /* data handle (regular files), or NULL */
};

/* The state of a mounted file system (the session's userdata). */
struct mount {
	struct udax_fs *fs;
	struct fuse_session *se; /* set before serving; for invalidations */
	int read_only;
	int posix_acl;		   /* ask the kernel for FUSE_CAP_POSIX_ACL */
	pthread_mutex_t lock;	   /* guards the node table */
	struct mount_node **table; /* hash chains by inode number */
	size_t table_size;	   /* power of two */
	uint64_t nodes;		   /* nodes in the table */
};

/* The FUSE low-level operations table (ops.c). */
struct fuse_lowlevel_ops;
extern const struct fuse_lowlevel_ops mount_ops;

/* Set up the node table and hold the root. Returns 0, -ENOMEM or the
 * library's error. */
int mount_nodes_init(struct mount *m);
/* Free every node left (after the session ended) and the table. */
void mount_nodes_fini(struct mount *m);

/* Mount opts->image on opts->dir and serve it until unmounted or
 * signalled. Prints why on failure, as "udax mount: ..." lines. Returns
 * 0, UDAX_ECORRUPT for a damaged image, -EBUSY if the image is in use,
 * -EINVAL for bad options, or another negative errno. Without
 * foreground, a successful mount returns in the daemon only (the caller's
 * process exits inside, with status 0, once the mount is up). */
int mount_serve(const struct mount_opts *opts);

/* Unmount dir (umount2 as root, fusermount3 -u otherwise) and wait until
 * the daemon serving it has closed its image. Prints why on failure.
 * Returns 0, -EINVAL (not a udax mount), -EBUSY (in use), -ETIMEDOUT
 * (the daemon did not close the image within a minute) or another
 * negative errno. */
int mount_unmount(const char *dir);

#endif /* UDAX_MOUNT_H */
