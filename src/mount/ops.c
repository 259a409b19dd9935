/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the FUSE operations of a mounted udax file system.
 *
 * Every operation first makes the calling process's uid, gid and
 * supplementary groups the thread's udax credentials (mount_cred), so
 * that udax checks permissions for the caller and new files belong to
 * it; then it makes one udax call (two for a truncate by name) and
 * returns its negative errno as FUSE expects. Operations on open files
 * use the handle (fi->fh), never the name: with hard_remove and
 * nullpath_ok an unlinked file keeps working (udax keeps it as an orphan
 * until its last close).
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mount.h"

#define MOUNT_MAX_WRITE (1024 * 1024) /* bytes per write request */
#define MOUNT_COPY_CHUNK (1024 * 1024)
#define MOUNT_MAX_GROUPS 32 /* as struct udax_cred holds */

static struct mount *mount_self(void)
{
	return fuse_get_context()->private_data;
}

/* Act as the process that made the request: its uid, gid and (unless
 * root, whom no group check concerns) supplementary groups. The kernel
 * applies the caller's umask to creation modes itself (no
 * FUSE_CAP_DONT_MASK), so udax's umask stays 0. */
static struct mount *mount_cred(void)
{
	struct fuse_context *ctx = fuse_get_context();
	gid_t groups[MOUNT_MAX_GROUPS];
	struct udax_cred c = {.uid = ctx->uid, .gid = ctx->gid};

	if (ctx->uid != 0) {
		int n = fuse_getgroups(MOUNT_MAX_GROUPS, groups);
		/* more than 32 groups: udax sees the first 32 */
		c.ngroups = n < 0		 ? 0 :
			    n > MOUNT_MAX_GROUPS ? MOUNT_MAX_GROUPS :
						   n;
		c.groups = groups;
	}
	udax_cred_set(&c);
	return ctx->private_data;
}

static struct mount_handle *handle_of(const struct fuse_file_info *fi)
{
	return fi ? (struct mount_handle *)(uintptr_t)fi->fh : NULL;
}

static struct udax_file *file_of(const struct fuse_file_info *fi)
{
	struct mount_handle *h = handle_of(fi);
	return h ? h->file : NULL;
}

/* Put a new handle on the mount's list and in fi. Returns 0 or -ENOMEM
 * (the udax handle is closed then). */
static int handle_add(struct mount *m, struct udax_file *file,
		      struct udax_dir *dir, struct fuse_file_info *fi)
{
	struct mount_handle *h = calloc(1, sizeof(*h));

	if (!h) {
		if (file)
			udax_file_close(&file);
		else
			udax_dir_close(&dir);
		return -ENOMEM;
	}
	h->file = file;
	h->dir = dir;
	pthread_mutex_lock(&m->lock);
	h->next = m->handles.next;
	h->prev = &m->handles;
	h->next->prev = h;
	m->handles.next = h;
	pthread_mutex_unlock(&m->lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

/* Take a handle off the list, close it and free it. */
static int handle_close(struct mount *m, struct mount_handle *h)
{
	int ret;

	pthread_mutex_lock(&m->lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&m->lock);
	ret = h->file ? udax_file_close(&h->file) : udax_dir_close(&h->dir);
	free(h);
	return ret;
}

void mount_close_handles(struct mount *m)
{
	while (m->handles.next != &m->handles)
		handle_close(m, m->handles.next);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* udax's inode numbers, so that hard links and tools that compare
	 * st_ino (tar, git, find) see the truth */
	cfg->use_ino = 1;
	/* open files are udax handles: an unlinked one keeps working */
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	/* the daemon is the only writer of the image (udax_open's lock)
	 * and every change passes through this kernel mount: cached pages
	 * stay valid; auto_cache drops them at open if the size or mtime
	 * changed (a write through another hard link's name) */
	cfg->auto_cache = 1;
	cfg->entry_timeout = 1.0;
	cfg->negative_timeout = 1.0;
	cfg->attr_timeout = 1.0;
	conn->max_write = MOUNT_MAX_WRITE;
	conn->max_readahead = MOUNT_MAX_WRITE;
	/* the kernel clears set-ID bits on write, truncate and chown (by a
	 * chmod, see op_chmod) and applies the caller's umask */
	conn->want &=
		~(unsigned)(FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_DONT_MASK);
	return mount_self();
}

static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f = file_of(fi);

	return f ? udax_fstat(f, st) : udax_lstat(m->fs, path, st);
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n;

	if (size < 2)
		return -EINVAL;
	n = udax_readlink(mount_cred()->fs, path, buf, size - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

static int op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct udax_file *f;
	int ret;

	if (!S_ISREG(mode))
		return -EPERM; /* udax holds no device nodes, fifos, sockets */
	ret = udax_file_open(mount_cred()->fs, path,
			     O_CREAT | O_EXCL | O_WRONLY, mode, &f);
	return ret ? ret : udax_file_close(&f);
}

static int op_mkdir(const char *path, mode_t mode)
{
	return udax_mkdir(mount_cred()->fs, path, mode);
}

static int op_unlink(const char *path)
{
	return udax_unlink(mount_cred()->fs, path);
}

static int op_rmdir(const char *path)
{
	return udax_rmdir(mount_cred()->fs, path);
}

static int op_symlink(const char *target, const char *path)
{
	return udax_symlink(mount_cred()->fs, target, path);
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	return udax_rename(mount_cred()->fs, from, to, flags);
}

/* The new name is a node of its own for libfuse (nodes are names), so
 * the kernel would keep the old name's link count for attr_timeout: drop
 * its cached attributes. */
static int op_link(const char *from, const char *to)
{
	int ret = udax_link(mount_cred()->fs, from, to);

	if (!ret)
		fuse_invalidate_path(fuse_get_context()->fuse, from);
	return ret;
}

static int chmod_by(struct mount *m, const char *path, struct udax_file *f,
		    mode_t mode)
{
	return f ? udax_fchmod(f, mode) : udax_chmod(m->fs, path, mode);
}

/* Whether a chmod only clears set-user-ID or set-group-ID of the current
 * mode: what the kernel sends, as the writer, when a write or truncate
 * by someone without CAP_FSETID must drop them (file_remove_privs). */
static int chmod_kills_priv(struct mount *m, const char *path,
			    struct udax_file *f, mode_t mode)
{
	struct stat st;
	mode_t was, gone;

	if (f ? udax_fstat(f, &st) : udax_lstat(m->fs, path, &st))
		return 0;
	was = st.st_mode & 07777;
	gone = was & ~(mode & 07777);
	return gone && !(gone & ~(mode_t)(S_ISUID | S_ISGID)) &&
	       (mode & 07777) == (was & ~gone);
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f = file_of(fi);
	struct udax_cred root = {0};
	int ret = chmod_by(m, path, f, mode);

	/* with default_permissions the kernel refuses a chmod by anyone but
	 * the owner before it gets here: a refused one is the kernel's own,
	 * dropping set-ID bits, which it does with its authority */
	if (ret == -EPERM && chmod_kills_priv(m, path, f, mode)) {
		udax_cred_set(&root);
		ret = chmod_by(m, path, f, mode);
	}
	return ret;
}

static int op_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f = file_of(fi);

	/* the kernel resolved any symlink: the name is the object */
	return f ? udax_fchown(f, uid, gid) :
		   udax_lchown(m->fs, path, uid, gid);
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f = file_of(fi), *own = NULL;
	int ret;

	if (!f) {
		/* truncate(2) needs write permission, as this open does */
		ret = udax_file_open(m->fs, path, O_WRONLY | O_NOFOLLOW, 0,
				     &own);
		if (ret)
			return ret;
		f = own;
	}
	ret = udax_ftruncate(f, size);
	if (own)
		udax_file_close(&own);
	return ret;
}

static int op_utimens(const char *path, const struct timespec ts[2],
		      struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f = file_of(fi);

	return f ? udax_futimens(f, ts) :
		   udax_utimens(m->fs, path, ts, AT_SYMLINK_NOFOLLOW);
}

/* Open flags udax is given: the access mode and O_TRUNC. O_APPEND is the
 * kernel's business (it sends the offset of the end); O_NOFOLLOW because
 * the kernel already resolved the name to a regular file. */
static int open_flags(int flags)
{
	return (flags & (O_ACCMODE | O_TRUNC)) | O_NOFOLLOW;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f;
	int ret;

	ret = udax_file_open(m->fs, path, open_flags(fi->flags), 0, &f);
	return ret ? ret : handle_add(m, f, NULL, fi);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_file *f;
	int ret;

	ret = udax_file_open(m->fs, path,
			     open_flags(fi->flags) | O_CREAT |
				     (fi->flags & O_EXCL),
			     mode, &f);
	return ret ? ret : handle_add(m, f, NULL, fi);
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	return (int)udax_pread(file_of(fi), buf, size, off);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	/* the writer's credentials decide whether set-ID bits drop */
	mount_cred();
	return (int)udax_pwrite(file_of(fi), buf, size, off);
}

static int op_statfs(const char *path, struct statvfs *st)
{
	return udax_statfs(mount_self()->fs, st);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	return handle_close(mount_self(), handle_of(fi));
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct udax_file *f = file_of(fi);

	return datasync ? udax_fdatasync(f) : udax_fsync(f);
}

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred();
	struct udax_dir *d;
	int ret;

	ret = udax_dir_open(m->fs, path, &d);
	return ret ? ret : handle_add(m, NULL, d, fi);
}

/* Entries from the cookie `off` on, until the kernel's buffer is full.
 * Each entry carries the cookie of the next one, so a later call resumes
 * exactly after the last entry the buffer took. */
static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct udax_dir *d = handle_of(fi)->dir;
	struct udax_dirent ent;
	int ret;

	int plus = !!(flags & FUSE_READDIR_PLUS);

	ret = udax_dir_seek(d, (uint64_t)off);
	while (!ret) {
		struct stat st = {0};
		ret = plus ? udax_dir_read_stat(d, &ent, &st) :
			     udax_dir_read(d, &ent);
		if (ret != 1)
			break;
		if (!plus) {
			st.st_ino = ent.ino;
			st.st_mode = DTTOIF(ent.type);
		}
		if (fill(buf, ent.name, &st, (off_t)ent.off,
			 plus ? FUSE_FILL_DIR_PLUS : 0))
			return 0;
		ret = 0;
	}
	return ret;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	return handle_close(mount_self(), handle_of(fi));
}

/* Every namespace change is a committed transaction when it returns (the
 * commit's fence): a directory has nothing more to make durable. */
static int op_fsyncdir(const char *path, int datasync,
		       struct fuse_file_info *fi)
{
	return 0;
}

static int op_access(const char *path, int mask)
{
	return udax_access(mount_cred()->fs, path, mask);
}

static int op_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	mount_cred();
	return udax_fallocate(file_of(fi), mode, off, len);
}

/* A plain copy through the daemon (one request instead of the kernel's
 * read/write loop). Once udax has reflink, block-aligned ranges become
 * a reflink here: FICLONE never reaches a FUSE daemon, so this is how
 * mounted tools will clone. */
static ssize_t op_copy_file_range(const char *path_in,
				  struct fuse_file_info *fi_in, off_t off_in,
				  const char *path_out,
				  struct fuse_file_info *fi_out, off_t off_out,
				  size_t len, int flags)
{
	struct udax_file *in = file_of(fi_in), *out = file_of(fi_out);
	size_t chunk = len < MOUNT_COPY_CHUNK ? len : MOUNT_COPY_CHUNK;
	ssize_t done = 0, n = 0;
	char *buf;

	if (flags)
		return -EINVAL;
	mount_cred();
	buf = malloc(chunk ? chunk : 1);
	if (!buf)
		return -ENOMEM;
	while ((size_t)done < len) {
		size_t want =
			len - (size_t)done < chunk ? len - (size_t)done : chunk;
		n = udax_pread(in, buf, want, off_in + done);
		if (n <= 0)
			break;
		n = udax_pwrite(out, buf, (size_t)n, off_out + done);
		if (n <= 0)
			break;
		done += n;
	}
	free(buf);
	return done > 0 ? done : n;
}

static off_t op_lseek(const char *path, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	return udax_lseek(file_of(fi), off, whence);
}

const struct fuse_operations mount_ops = {
	.init = op_init,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.truncate = op_truncate,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.statfs = op_statfs,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.access = op_access,
	.create = op_create,
	.utimens = op_utimens,
	.fallocate = op_fallocate,
	.copy_file_range = op_copy_file_range,
	.lseek = op_lseek,
};
