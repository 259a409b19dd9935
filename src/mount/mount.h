/* SPDX-License-Identifier: MIT */
/*
 * mount.h - the mount layer: a udax file system served to the kernel
 * through FUSE (libfuse3, high-level path API), so that every program can
 * use it. It uses only the public API in udax.h; docs/DESIGN.md ("Mount")
 * says why it is built this way.
 *
 * Files:
 *   ops.c     the FUSE operations: credentials of the caller, then one
 *             udax call each; the table of open handles
 *   daemon.c  mount_serve() (open, mount, daemonize, serve, shut down)
 *             and mount_unmount()
 *
 * Lifecycle of a mount: mount_serve() opens the image (refusing a damaged
 * one with the library's message), mounts DIR, detaches unless
 * foreground, serves requests on several threads until DIR is unmounted
 * or SIGTERM/SIGINT/SIGHUP arrives, then unmounts, closes the handles the
 * kernel left open and closes the image (clean: nothing to replay).
 */
#ifndef UDAX_MOUNT_H
#define UDAX_MOUNT_H

#include <pthread.h>

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
	const char *fuse_opts; /* other -o options for libfuse, comma
				* separated, or NULL */
};

/* An open file or directory the kernel holds (struct fuse_file_info.fh),
 * on the mount's list so that shutdown can close what the kernel never
 * released. Exactly one of file and dir is set. */
struct mount_handle {
	struct mount_handle *prev, *next;
	struct udax_file *file;
	struct udax_dir *dir;
};

/* The state of a mounted file system (libfuse's private_data). */
struct mount {
	struct udax_fs *fs;
	int read_only;
	pthread_mutex_t lock;	     /* guards handles */
	struct mount_handle handles; /* list head (circular) */
};

/* The FUSE operations table (ops.c). */
struct fuse_operations;
extern const struct fuse_operations mount_ops;

/* Close every handle still on the list (after the session ended). */
void mount_close_handles(struct mount *m);

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
