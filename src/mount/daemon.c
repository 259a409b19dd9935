/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - the life of a mount: open the image, mount, detach, serve on
 * several threads, shut down cleanly; and the unmount that waits for it.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"

#define MOUNT_THREADS 16	/* request threads at most */
#define MOUNT_UNMOUNT_WAIT_S 60 /* how long umount waits for the daemon */

/* Append `s` to a -o option list, escaping ',' and '\' as libfuse's
 * option parser wants. Returns 0 or -ENAMETOOLONG. */
static int opt_append_escaped(char *opts, size_t size, const char *s)
{
	size_t n = strlen(opts);

	for (; *s; s++) {
		if (n + 3 > size)
			return -ENAMETOOLONG;
		if (*s == ',' || *s == '\\')
			opts[n++] = '\\';
		opts[n++] = *s;
	}
	opts[n] = '\0';
	return 0;
}

/* The -o list every udax mount gets: the kernel checks permissions
 * on cached names and attributes too (default_permissions, besides
 * udax's own check of every request), and mount(8) shows the image. */
static int mount_opt_string(const struct mount_opts *o, const char *image,
			    char *opts, size_t size)
{
	int n = snprintf(
		opts, size,
		"default_permissions,subtype=udax%s%s%s%s,"
		"fsname=",
		o->read_only ? ",ro" : "", o->allow_other ? ",allow_other" : "",
		o->fuse_opts ? "," : "", o->fuse_opts ? o->fuse_opts : "");

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return opt_append_escaped(opts, size, image);
}

int mount_serve(const struct mount_opts *o)
{
	struct udax_open_opts oo = {.read_only = o->read_only};
	struct mount m = {.read_only = o->read_only, .posix_acl = o->posix_acl};
	char image[PATH_MAX], opts[3 * PATH_MAX];
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	int ret, loop_ret;

	/* the daemon works from "/": keep the absolute name (for mount's
	 * fsname too) */
	if (!realpath(o->image, image)) {
		ret = -errno;
		fprintf(stderr, "udax mount: %s: %s\n", o->image,
			strerror(-ret));
		return ret;
	}
	ret = mount_opt_string(o, image, opts, sizeof(opts));
	if (ret) {
		fprintf(stderr, "udax mount: %s: name too long\n", o->image);
		return ret;
	}
	/* udax_open prints what is wrong with a refused image */
	ret = udax_open(&m.fs, image, &oo);
	if (ret)
		return ret;
	/* the kernel holds the root from the mount on */
	ret = mount_nodes_init(&m);
	if (ret) {
		fprintf(stderr, "udax mount: %s: %s\n", o->image,
			udax_strerror(ret));
		goto close_fs;
	}
	if (fuse_opt_add_arg(&args, "udax") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, opts) ||
	    (o->debug && fuse_opt_add_arg(&args, "-d"))) {
		ret = -ENOMEM;
		goto free_nodes;
	}
	se = fuse_session_new(&args, &mount_ops, sizeof(mount_ops), &m);
	if (!se) {
		fprintf(stderr, "udax mount: bad mount options (%s)\n", opts);
		ret = -EINVAL;
		goto free_nodes;
	}
	m.se = se;
	if (fuse_session_mount(se, o->dir)) {
		fprintf(stderr, "udax mount: cannot mount %s on %s\n", o->image,
			o->dir);
		ret = -EPERM;
		goto destroy_session;
	}
	if (fuse_set_signal_handlers(se)) {
		ret = -EIO;
		goto unmount;
	}
	/* the mount is up: from here on the caller's process exits 0 and
	 * the daemon goes on alone (stderr becomes /dev/null) */
	if (fuse_daemonize(o->foreground)) {
		ret = -EIO;
		goto remove_handlers;
	}
	loop = fuse_loop_cfg_create();
	if (!loop) {
		ret = -ENOMEM;
		goto remove_handlers;
	}
	fuse_loop_cfg_set_max_threads(loop, MOUNT_THREADS);
	loop_ret = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	ret = loop_ret < 0 ? loop_ret : 0;

remove_handlers:
	fuse_remove_signal_handlers(se);
unmount:
	fuse_session_unmount(se);
destroy_session:
	fuse_session_destroy(se);
free_nodes:
	fuse_opt_free_args(&args);
	/* nodes the kernel never forgot: a file unlinked while a process
	 * still had it open is freed here */
	mount_nodes_fini(&m);
close_fs : {
	int err = udax_close(&m.fs);
	if (err) {
		fprintf(stderr, "udax mount: %s: closing: %s\n", o->image,
			udax_strerror(err));
		ret = ret ? ret : err;
	}
}
	return ret;
}

/* Undo the \NNN octal escapes of /proc/self/mountinfo in place. */
static void mountinfo_unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Find the udax mount on `dir` in /proc/self/mountinfo and copy its
 * image (the fsname) into image. Returns 0, -EINVAL (no udax mount
 * there) or -errno. */
static int mount_find(const char *dir, char *image, size_t size)
{
	char line[3 * PATH_MAX + 256];
	FILE *mi = fopen("/proc/self/mountinfo", "r");
	int ret = -EINVAL;

	if (!mi)
		return -errno;
	while (fgets(line, sizeof(line), mi)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - TYPE
		 * SOURCE SUPEROPTS */
		char *point, *type, *source, *sep, *save;
		strtok_r(line, " ", &save);
		for (int i = 0; i < 3; i++)
			strtok_r(NULL, " ", &save);
		point = strtok_r(NULL, " ", &save);
		sep = point ? strstr(save, " - ") : NULL;
		if (!sep)
			continue;
		type = strtok_r(sep + 3, " ", &save);
		source = strtok_r(NULL, " ", &save);
		if (!type || !source || strcmp(type, "fuse.udax"))
			continue;
		mountinfo_unescape(point);
		if (strcmp(point, dir))
			continue;
		mountinfo_unescape(source);
		snprintf(image, size, "%s", source);
		ret = 0; /* the last mount on dir is the one on top */
	}
	fclose(mi);
	return ret;
}

/* Run fusermount3 -u dir (an unprivileged user's way to unmount).
 * Returns 0 or -EPERM. */
static int fusermount_unmount(const char *dir)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "--", dir,
		       (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* Wait until no one holds the image's writer lock (the daemon has closed
 * it). Returns 0 or -ETIMEDOUT. */
static int image_wait_closed(const char *image)
{
	struct timespec step = {0, 10 * 1000 * 1000};
	int fd = open(image, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0; /* nothing to wait for */
	for (int i = 0; i < MOUNT_UNMOUNT_WAIT_S * 100; i++) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			close(fd);
			return 0;
		}
		nanosleep(&step, NULL);
	}
	close(fd);
	return -ETIMEDOUT;
}

int mount_unmount(const char *dir)
{
	char path[PATH_MAX], image[PATH_MAX];
	int ret;

	/* a mount whose daemon died answers stat with ENOTCONN: use the
	 * name as given then */
	if (!realpath(dir, path)) {
		char cwd[PATH_MAX];
		int n;
		if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
			n = snprintf(path, sizeof(path), "%s/%s", cwd, dir);
		else
			n = snprintf(path, sizeof(path), "%s", dir);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			fprintf(stderr, "udax umount: %s: name too long\n",
				dir);
			return -ENAMETOOLONG;
		}
	}
	ret = mount_find(path, image, sizeof(image));
	if (ret) {
		fprintf(stderr, "udax umount: %s: %s\n", dir,
			ret == -EINVAL ? "not a udax mount" : strerror(-ret));
		return ret;
	}
	if (geteuid() == 0)
		ret = umount2(path, UMOUNT_NOFOLLOW) ? -errno : 0;
	else
		ret = fusermount_unmount(path);
	if (ret) {
		fprintf(stderr, "udax umount: %s: %s\n", dir, strerror(-ret));
		return ret;
	}
	ret = image_wait_closed(image);
	if (ret)
		fprintf(stderr,
			"udax umount: %s: unmounted, but the daemon has not "
			"closed %s after %d s\n",
			dir, image, MOUNT_UNMOUNT_WAIT_S);
	return ret;
}
