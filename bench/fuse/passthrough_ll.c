/* SPDX-License-Identifier: MIT */
/*
 * passthrough_ll.c - the cost of FUSE alone, for `make bench`: a minimal
 * pass-through file system on libfuse's low-level API that serves a
 * directory (tmpfs in the bench) under a mount point, as udax mount
 * serves an image.
 *
 *   passthrough-ll SOURCE_DIR MOUNT_DIR    (stays in the foreground;
 *                                          unmounted by umount or SIGTERM)
 *
 * Configured as libfuse's example passthrough_hp is by default, and not
 * tuned down: several request threads, entry and attribute timeouts of a
 * day, readdirplus on, writeback cache off, the kernel keeps pages
 * across opens. It does no permission or ownership work of its own (runs
 * as root, as passthrough_hp does): every request is one system call on
 * the source. Written for the bench; error paths answer with errno.
 *
 * Inodes: one struct pt_inode per source inode (st_dev, st_ino) the
 * kernel holds, with an O_PATH descriptor and the kernel's lookup count;
 * the node id is its address. Lock: pt.lock guards the table and every
 * nlookup.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PT_TIMEOUT 86400.0 /* passthrough_hp's default: a day */
#define PT_THREADS 16

struct pt_inode {
	struct pt_inode *next; /* table chain (one list: a bench, not a
				* file server) */
	int fd;		       /* O_PATH */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;
};

static struct {
	pthread_mutex_t lock;
	struct pt_inode root;
	struct pt_inode *table[65536];
} pt = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct pt_inode *pt_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &pt.root : (struct pt_inode *)ino;
}

static size_t pt_slot(dev_t dev, ino_t ino)
{
	return (size_t)((ino ^ dev) * 0x9E3779B97F4A7C15ull >> 48);
}

/* Path of an O_PATH descriptor, for the calls that take no *at form. */
static void pt_path(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
}

/* Look name up in parent and count a lookup on its inode. */
static int pt_lookup_entry(fuse_ino_t parent, const char *name,
			   struct fuse_entry_param *e)
{
	struct pt_inode *p = pt_of(parent), *n;
	int fd = openat(p->fd, name, O_PATH | O_NOFOLLOW);

	memset(e, 0, sizeof(*e));
	e->attr_timeout = e->entry_timeout = PT_TIMEOUT;
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		close(fd);
		return errno;
	}
	pthread_mutex_lock(&pt.lock);
	n = pt.table[pt_slot(e->attr.st_dev, e->attr.st_ino)];
	while (n && (n->dev != e->attr.st_dev || n->ino != e->attr.st_ino))
		n = n->next;
	if (n) {
		n->nlookup++;
		close(fd);
	} else if ((n = calloc(1, sizeof(*n)))) {
		size_t slot = pt_slot(e->attr.st_dev, e->attr.st_ino);
		n->fd = fd;
		n->dev = e->attr.st_dev;
		n->ino = e->attr.st_ino;
		n->nlookup = 1;
		n->next = pt.table[slot];
		pt.table[slot] = n;
	}
	pthread_mutex_unlock(&pt.lock);
	if (!n)
		return ENOMEM;
	e->ino = (fuse_ino_t)n;
	return 0;
}

static void pt_reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = pt_lookup_entry(parent, name, &e);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void pt_forget_one(fuse_ino_t ino, uint64_t count)
{
	struct pt_inode *n = pt_of(ino), **pp;

	if (n == &pt.root)
		return;
	pthread_mutex_lock(&pt.lock);
	n->nlookup -= count < n->nlookup ? count : n->nlookup;
	if (n->nlookup == 0) {
		for (pp = &pt.table[pt_slot(n->dev, n->ino)]; *pp != n;
		     pp = &(*pp)->next)
			;
		*pp = n->next;
		close(n->fd);
		free(n);
	}
	pthread_mutex_unlock(&pt.lock);
}

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	/* passthrough_hp's defaults: readdirplus on (libfuse asks for it
	 * when the daemon has readdirplus), no writeback cache */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	pt_reply_entry(req, parent, name);
}

static void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pt_forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void pt_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *f)
{
	for (size_t i = 0; i < count; i++)
		pt_forget_one(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	if (fstatat(pt_of(ino)->fd, "", &st,
		    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, PT_TIMEOUT);
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *a, int set,
		       struct fuse_file_info *fi)
{
	int fd = pt_of(ino)->fd, ret = 0;
	char path[64];

	pt_path(fd, path, sizeof(path));
	if (set & FUSE_SET_ATTR_MODE)
		ret = fi ? fchmod((int)fi->fh, a->st_mode) :
			   chmod(path, a->st_mode);
	if (!ret && (set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = fchownat(
			fd, "",
			(set & FUSE_SET_ATTR_UID) ? a->st_uid : (uid_t)-1,
			(set & FUSE_SET_ATTR_GID) ? a->st_gid : (gid_t)-1,
			AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (!ret && (set & FUSE_SET_ATTR_SIZE))
		ret = fi ? ftruncate((int)fi->fh, a->st_size) :
			   truncate(path, a->st_size);
	if (!ret && (set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
		if (set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (set & FUSE_SET_ATTR_ATIME)
			ts[0] = a->st_atim;
		if (set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (set & FUSE_SET_ATTR_MTIME)
			ts[1] = a->st_mtim;
		/* a symlink's times: utimensat on its O_PATH path follows
		 * /proc's link to the object itself */
		ret = fi ? futimens((int)fi->fh, ts) :
			   utimensat(AT_FDCWD, path, ts, 0);
	}
	if (ret)
		fuse_reply_err(req, errno);
	else
		pt_getattr(req, ino, fi);
}

static void pt_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(pt_of(ino)->fd, "", buf, sizeof(buf) - 1);

	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

static void pt_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	if (mknodat(pt_of(parent)->fd, name, mode, rdev))
		fuse_reply_err(req, errno);
	else
		pt_reply_entry(req, parent, name);
}

static void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	if (mkdirat(pt_of(parent)->fd, name, mode))
		fuse_reply_err(req, errno);
	else
		pt_reply_entry(req, parent, name);
}

static void pt_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	if (symlinkat(target, pt_of(parent)->fd, name))
		fuse_reply_err(req, errno);
	else
		pt_reply_entry(req, parent, name);
}

static void pt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	char path[64];

	pt_path(pt_of(ino)->fd, path, sizeof(path));
	if (linkat(AT_FDCWD, path, pt_of(parent)->fd, name, AT_SYMLINK_FOLLOW))
		fuse_reply_err(req, errno);
	else
		pt_reply_entry(req, parent, name);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(pt_of(parent)->fd, name, 0) ? errno : 0);
}

static void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(pt_of(parent)->fd, name, AT_REMOVEDIR) ?
				    errno :
				    0);
}

static void pt_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fuse_reply_err(req, renameat2(pt_of(parent)->fd, name,
				      pt_of(newparent)->fd, newname, flags) ?
				    errno :
				    0);
}

/* Open through the O_PATH descriptor's /proc path (as passthrough_hp). */
static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char path[64];
	int fd;

	pt_path(pt_of(ino)->fd, path, sizeof(path));
	fd = open(path, fi->flags & ~O_NOFOLLOW);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd = openat(pt_of(parent)->fd, name,
			(fi->flags | O_CREAT) & ~O_NOFOLLOW, mode),
	    err;

	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = pt_lookup_entry(parent, name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	fuse_reply_create(req, &e, fi);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	/* the file's descriptor goes to libfuse, which reads (or splices)
	 * from it: passthrough_hp's read */
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *data,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = pwrite((int)fi->fh, data, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int ret = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);

	fuse_reply_err(req, ret ? errno : 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;

	if (fstatvfs(pt_of(ino)->fd, &st))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &st);
}

/* A directory stream, and the entry read but not yet sent. */
struct pt_dir {
	DIR *dp;
	struct dirent *pending;
	off_t pos;
};

static void pt_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct pt_dir *d = calloc(1, sizeof(*d));
	int fd = openat(pt_of(ino)->fd, ".", O_RDONLY | O_DIRECTORY);

	if (!d || fd < 0 || !(d->dp = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, errno ? errno : ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

static void pt_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, struct fuse_file_info *fi, int plus)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->pos) {
		seekdir(d->dp, off);
		d->pending = NULL;
		d->pos = off;
	}
	for (;;) {
		struct dirent *de = d->pending ? d->pending : readdir(d->dp);
		struct fuse_entry_param e = {0};
		int dot;
		size_t want;

		d->pending = NULL;
		if (!de)
			break;
		dot = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
		if (plus && !dot) {
			if (pt_lookup_entry(ino, de->d_name, &e))
				continue; /* gone since: skip it */
			want = fuse_add_direntry_plus(req, buf + used,
						      size - used, de->d_name,
						      &e, de->d_off);
		} else {
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = (mode_t)DTTOIF(de->d_type);
			want = plus ? fuse_add_direntry_plus(
					      req, buf + used, size - used,
					      de->d_name, &e, de->d_off) :
				      fuse_add_direntry(req, buf + used,
							size - used, de->d_name,
							&e.attr, de->d_off);
		}
		if (want > size - used) {
			/* full: this entry's lookup did not reach the kernel */
			if (plus && !dot)
				pt_forget_one(e.ino, 1);
			d->pending = de;
			break;
		}
		used += want;
		d->pos = de->d_off;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	pt_readdir_common(req, ino, size, off, fi, 0);
}

static void pt_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	pt_readdir_common(req, ino, size, off, fi, 1);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops pt_ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.forget_multi = pt_forget_multi,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.mknod = pt_mknod,
	.mkdir = pt_mkdir,
	.symlink = pt_symlink,
	.link = pt_link,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.open = pt_open,
	.create = pt_create,
	.release = pt_release,
	.read = pt_read,
	.write = pt_write,
	.fsync = pt_fsync,
	.statfs = pt_statfs,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.readdirplus = pt_readdirplus,
	.releasedir = pt_releasedir,
};

int main(int argc, char **argv)
{
	char *fargv[] = {argv[0], "-o", "allow_other,subtype=passthrough-ll",
			 NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	int ret = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: passthrough-ll SOURCE_DIR MOUNT_DIR\n");
		return 2;
	}
	pt.root.fd = open(argv[1], O_PATH);
	if (pt.root.fd < 0) {
		perror(argv[1]);
		return 1;
	}
	se = fuse_session_new(&args, &pt_ops, sizeof(pt_ops), NULL);
	if (!se)
		goto close_root;
	if (fuse_set_signal_handlers(se))
		goto destroy_session;
	if (fuse_session_mount(se, argv[2]))
		goto remove_handlers;
	loop = fuse_loop_cfg_create();
	if (loop) {
		fuse_loop_cfg_set_max_threads(loop, PT_THREADS);
		ret = fuse_session_loop_mt(se, loop) < 0;
		fuse_loop_cfg_destroy(loop);
	}
	fuse_session_unmount(se);
remove_handlers:
	fuse_remove_signal_handlers(se);
destroy_session:
	fuse_session_destroy(se);
close_root:
	close(pt.root.fd);
	return ret;
}
