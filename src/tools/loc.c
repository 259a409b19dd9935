// SPDX-License-Identifier: MIT
/*
 * loc.c - a path that lives either on the host or inside a udax image,
 * behind one set of calls.
 *
 * cp copies host to image, image to host and image to image; with every
 * operation answering for both sides here, its walk is written once. Each
 * call is a thin switch: host system calls turn errno into a negative
 * return, image calls already return one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools.h"

/* The negative errno of the host call that just failed. */
static int tool_host_err(void)
{
	return errno ? -errno : -EIO;
}

/* Name a path on one side. */
int tool_loc_init(struct tool_loc *loc, struct udax_fs *fs, const char *image,
		  const char *path)
{
	loc->fs = fs;
	loc->image = fs ? image : NULL;
	loc->path = strdup(*path ? path : (fs ? "/" : "."));
	return loc->path ? 0 : -ENOMEM;
}

/* Name an entry of a directory, on the directory's side. */
int tool_loc_child(const struct tool_loc *parent, const char *name,
		   size_t name_len, struct tool_loc *child)
{
	child->fs = parent->fs;
	child->image = parent->image;
	child->path = tool_path_join(parent->path, name, name_len);
	return child->path ? 0 : -ENOMEM;
}

/* Release a loc's path. */
void tool_loc_free(struct tool_loc *loc)
{
	free(loc->path);
	loc->path = NULL;
}

/* Image errors include UDAX_ECORRUPT, which only udax_strerror knows. */
const char *tool_loc_strerror(const struct tool_loc *loc, int err)
{
	return loc->fs ? udax_strerror(err) : strerror(-err);
}

/* The one shape of a per-file error message. */
void tool_loc_error(const struct tool_loc *loc, int err)
{
	tool_error(TOOL_LOC_FMT ": %s", TOOL_LOC_ARGS(loc),
		   tool_loc_strerror(loc, err));
}

/* ---- namespace ---- */

/* stat, following a final symlink. */
int tool_loc_stat(const struct tool_loc *loc, struct stat *st)
{
	if (loc->fs)
		return udax_stat(loc->fs, loc->path, st);
	return stat(loc->path, st) ? tool_host_err() : 0;
}

/* stat of the name itself. */
int tool_loc_lstat(const struct tool_loc *loc, struct stat *st)
{
	if (loc->fs)
		return udax_lstat(loc->fs, loc->path, st);
	return lstat(loc->path, st) ? tool_host_err() : 0;
}

/* mkdir; the host applies its umask, the image does not (cred umask 0). */
int tool_loc_mkdir(const struct tool_loc *loc, mode_t mode)
{
	if (loc->fs)
		return udax_mkdir(loc->fs, loc->path, mode);
	return mkdir(loc->path, mode) ? tool_host_err() : 0;
}

/* rmdir of an empty directory. */
int tool_loc_rmdir(const struct tool_loc *loc)
{
	if (loc->fs)
		return udax_rmdir(loc->fs, loc->path);
	return rmdir(loc->path) ? tool_host_err() : 0;
}

/* unlink of a non-directory. */
int tool_loc_unlink(const struct tool_loc *loc)
{
	if (loc->fs)
		return udax_unlink(loc->fs, loc->path);
	return unlink(loc->path) ? tool_host_err() : 0;
}

/* Create a symlink named loc pointing at target. */
int tool_loc_symlink(const char *target, const struct tool_loc *loc)
{
	if (loc->fs)
		return udax_symlink(loc->fs, target, loc->path);
	return symlink(target, loc->path) ? tool_host_err() : 0;
}

/* mknod: a FIFO, socket or device node named loc. */
int tool_loc_mknod(const struct tool_loc *loc, mode_t mode, dev_t dev)
{
	if (loc->fs)
		return udax_mknod(loc->fs, loc->path, mode, dev);
	return mknod(loc->path, mode, dev) ? tool_host_err() : 0;
}

/* readlink into a buffer that grows until the target fits. */
int tool_loc_readlink(const struct tool_loc *loc, char **target)
{
	size_t size = 256;
	ssize_t n;
	char *buf = NULL, *bigger;

	for (;;) {
		bigger = realloc(buf, size);
		if (!bigger) {
			free(buf);
			return -ENOMEM;
		}
		buf = bigger;
		if (loc->fs)
			n = udax_readlink(loc->fs, loc->path, buf, size);
		else if ((n = readlink(loc->path, buf, size)) < 0)
			n = tool_host_err();
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		if ((size_t)n < size)
			break;
		if (size >= 1024 * 1024) {
			free(buf);
			return -ENAMETOOLONG;
		}
		size *= 2;
	}
	buf[n] = '\0';
	*target = buf;
	return 0;
}

/* chmod (follows a symlink, as chmod(2) does). */
int tool_loc_chmod(const struct tool_loc *loc, mode_t mode)
{
	if (loc->fs)
		return udax_chmod(loc->fs, loc->path, mode);
	return chmod(loc->path, mode) ? tool_host_err() : 0;
}

/* Set access and modification times, of a symlink itself if nofollow. */
int tool_loc_utimens(const struct tool_loc *loc, const struct timespec ts[2],
		     int nofollow)
{
	int flags = nofollow ? AT_SYMLINK_NOFOLLOW : 0;

	if (loc->fs)
		return udax_utimens(loc->fs, loc->path, ts, flags);
	return utimensat(AT_FDCWD, loc->path, ts, flags) ? tool_host_err() : 0;
}

/* ---- files ---- */

/* Open a regular file; flags and mode as open(2). */
int tool_file_open(const struct tool_loc *loc, int flags, mode_t mode,
		   struct tool_file *file)
{
	file->uf = NULL;
	file->fd = -1;
	if (loc->fs)
		return udax_file_open(loc->fs, loc->path, flags, mode,
				      &file->uf);
	file->fd = open(loc->path, flags | O_CLOEXEC | O_NOCTTY, mode);
	return file->fd < 0 ? tool_host_err() : 0;
}

/* pread; a host read interrupted by a signal is retried. */
ssize_t tool_file_pread(struct tool_file *file, void *buf, size_t count,
			off_t off)
{
	ssize_t n;

	if (file->uf)
		return udax_pread(file->uf, buf, count, off);
	do
		n = pread(file->fd, buf, count, off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? tool_host_err() : n;
}

/* pwrite; a host write interrupted by a signal is retried. */
ssize_t tool_file_pwrite(struct tool_file *file, const void *buf, size_t count,
			 off_t off)
{
	ssize_t n;

	if (file->uf)
		return udax_pwrite(file->uf, buf, count, off);
	do
		n = pwrite(file->fd, buf, count, off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? tool_host_err() : n;
}

/* lseek, for SEEK_DATA and SEEK_HOLE. */
off_t tool_file_seek(struct tool_file *file, off_t off, int whence)
{
	off_t pos;

	if (file->uf)
		return udax_lseek(file->uf, off, whence);
	pos = lseek(file->fd, off, whence);
	return pos < 0 ? tool_host_err() : pos;
}

/* Set a file's size; cp ends a sparse copy with it. */
int tool_file_truncate(struct tool_file *file, off_t length)
{
	if (file->uf)
		return udax_ftruncate(file->uf, length);
	return ftruncate(file->fd, length) ? tool_host_err() : 0;
}

/* Close either kind of file; the handle is released in any case. */
int tool_file_close(struct tool_file *file)
{
	int err = 0;

	if (file->uf)
		err = udax_file_close(&file->uf);
	if (file->fd >= 0 && close(file->fd) && errno != EINTR)
		err = tool_host_err();
	file->uf = NULL;
	file->fd = -1;
	return err;
}

/* ---- directories ---- */

/* Append one entry to a growing array. */
static int tool_dir_add(struct tool_dirent **ents, size_t *count, size_t *cap,
			const char *name, unsigned char type)
{
	struct tool_dirent *v;

	if (*count == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		v = realloc(*ents, *cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*ents = v;
	}
	(*ents)[*count].name = strdup(name);
	if (!(*ents)[*count].name)
		return -ENOMEM;
	(*ents)[*count].type = type;
	(*count)++;
	return 0;
}

/* Whether a name is "." or "..". */
static int tool_is_dots(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* qsort order: bytewise, as ls in the C locale. */
static int tool_dirent_cmp(const void *a, const void *b)
{
	const struct tool_dirent *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Read all entries of an image directory. */
static int tool_dir_list_image(const struct tool_loc *loc, int dots,
			       struct tool_dirent **ents, size_t *count,
			       size_t *cap)
{
	struct udax_dirent ent;
	struct udax_dir *dir;
	int err, close_err;

	err = udax_dir_open(loc->fs, loc->path, &dir);
	if (err)
		return err;
	while ((err = udax_dir_read(dir, &ent)) == 1) {
		if (!dots && tool_is_dots(ent.name))
			continue;
		err = tool_dir_add(ents, count, cap, ent.name, ent.type);
		if (err)
			break;
	}
	close_err = udax_dir_close(&dir);
	return err ? err : close_err;
}

/* Read all entries of a host directory. */
static int tool_dir_list_host(const struct tool_loc *loc, int dots,
			      struct tool_dirent **ents, size_t *count,
			      size_t *cap)
{
	struct dirent *de;
	DIR *dir;
	int err = 0;

	dir = opendir(loc->path);
	if (!dir)
		return tool_host_err();
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			err = errno ? -errno : 0;
			break;
		}
		if (!dots && tool_is_dots(de->d_name))
			continue;
		err = tool_dir_add(ents, count, cap, de->d_name, de->d_type);
		if (err)
			break;
	}
	closedir(dir);
	return err;
}

/* List a directory whole and sorted: ls prints it in order, and rm and cp
 * change the tree while they walk it, so they walk a snapshot. */
int tool_dir_list(const struct tool_loc *loc, int dots,
		  struct tool_dirent **ents, size_t *count)
{
	size_t cap = 0;
	int err;

	*ents = NULL;
	*count = 0;
	if (loc->fs)
		err = tool_dir_list_image(loc, dots, ents, count, &cap);
	else
		err = tool_dir_list_host(loc, dots, ents, count, &cap);
	if (err) {
		tool_dir_free(*ents, *count);
		*ents = NULL;
		*count = 0;
		return err;
	}
	if (*count > 1)
		qsort(*ents, *count, sizeof(**ents), tool_dirent_cmp);
	return 0;
}

/* Free what tool_dir_list() returned. */
void tool_dir_free(struct tool_dirent *ents, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(ents[i].name);
	free(ents);
}
