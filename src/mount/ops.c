/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the FUSE low-level operations of a mounted udax file system.
 *
 * Every operation first makes the calling process's uid, gid and
 * supplementary groups the thread's udax credentials (mount_cred), so
 * that udax checks permissions for the caller and new files belong to
 * it; then it finds the node (or nodes) the kernel names by inode number
 * and makes one udax call by inode (src/api/ino.h), and replies. Names
 * are looked up one at a time in the directory the kernel holds: the
 * kernel walks the path from the caller's working directory, as for any
 * file system.
 *
 * No open or opendir round trips: open and opendir are left out, so the
 * kernel opens files itself after its first ENOSYS (it checked the
 * permission with default_permissions), and each regular file's node
 * carries one data handle for every reader and writer. The kernel keeps
 * pages and attributes cached (every change passes through it); what it
 * cannot see, it is told (mount_inval).
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/ino.h"
#include "mount.h"

#define MOUNT_MAX_WRITE (1024 * 1024) /* bytes per write request */
#define MOUNT_COPY_CHUNK (1024 * 1024)
#define MOUNT_MAX_GROUPS 32 /* as struct udax_cred holds */
/* Names and attributes stay cached in the kernel this long (s): every
 * change passes through this mount (one process per image), and what
 * the kernel cannot see is invalidated. As passthrough_hp: a day. */
#define MOUNT_TIMEOUT_S 86400.0
#define MOUNT_TABLE_SIZE 65536 /* hash chains of the node table */

/* node ids are inode numbers: the kernel's root is udax's */
_Static_assert(FUSE_ROOT_ID == UDAX_INO_ROOT, "the root's node id");

/* ---- credentials ---- */

/* Act as the process that made the request: its uid, gid and (unless
 * root, whom no group check concerns) supplementary groups. The kernel
 * applies the caller's umask to creation modes itself (no
 * FUSE_CAP_DONT_MASK), so udax's umask stays 0. */
static struct mount *mount_cred(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[MOUNT_MAX_GROUPS];
	struct udax_cred c = {.uid = ctx->uid, .gid = ctx->gid};

	if (ctx->uid != 0) {
		int n = fuse_req_getgroups(req, MOUNT_MAX_GROUPS, groups);
		/* more than 32 groups: udax sees the first 32 */
		c.ngroups = n < 0		 ? 0 :
			    n > MOUNT_MAX_GROUPS ? MOUNT_MAX_GROUPS :
						   n;
		c.groups = groups;
	}
	udax_cred_set(&c);
	return fuse_req_userdata(req);
}

/* ---- the node table ---- */

static size_t node_slot(const struct mount *m, uint64_t ino)
{
	return (size_t)(ino * 0x9E3779B97F4A7C15ull >> 32) &
	       (m->table_size - 1);
}

/* The node of `ino`. m->lock held. */
static struct mount_node *node_find_locked(struct mount *m, uint64_t ino)
{
	struct mount_node *n = m->table[node_slot(m, ino)];

	while (n && n->ino != ino)
		n = n->next;
	return n;
}

/* The node the kernel names in a request: it holds it, so it is there
 * (NULL only if the kernel and the daemon disagree: a bug). */
static struct mount_node *node_of(struct mount *m, fuse_ino_t ino)
{
	struct mount_node *n;

	pthread_mutex_lock(&m->lock);
	n = node_find_locked(m, ino);
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* Count one more lookup on the inode `held` holds: a new node takes the
 * hold, an existing one counts up and the duplicate hold is put. Returns
 * 0 or -ENOMEM (the hold is put then). */
static int node_add(struct mount *m, struct udax_ino *held)
{
	uint64_t ino = udax_ino_number(held);
	struct mount_node *n;

	pthread_mutex_lock(&m->lock);
	n = node_find_locked(m, ino);
	if (n) {
		n->nlookup++;
		pthread_mutex_unlock(&m->lock);
		/* never the inode's last reference: the node has one */
		udax_ino_put(&held);
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&m->lock);
		udax_ino_put(&held);
		return -ENOMEM;
	}
	n->ino = ino;
	n->nlookup = 1;
	n->held = held;
	n->next = m->table[node_slot(m, ino)];
	m->table[node_slot(m, ino)] = n;
	m->nodes++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Close a node's data handle and put its hold: the last of an unlinked
 * inode frees it (outside the table lock: that is a transaction). */
static void node_free(struct mount_node *n)
{
	if (n->io)
		udax_file_close(&n->io);
	udax_ino_put(&n->held);
	free(n);
}

/* Take `count` lookups off the node of `ino`; at zero it goes. */
static void node_forget(struct mount *m, uint64_t ino, uint64_t count)
{
	struct mount_node **pp, *n = NULL;

	pthread_mutex_lock(&m->lock);
	for (pp = &m->table[node_slot(m, ino)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->ino != ino)
			continue;
		n = *pp;
		n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
		if (n->nlookup) {
			n = NULL;
		} else {
			*pp = n->next;
			m->nodes--;
		}
		break;
	}
	pthread_mutex_unlock(&m->lock);
	if (n)
		node_free(n);
}

int mount_nodes_init(struct mount *m)
{
	struct udax_ino *root;
	int ret;

	pthread_mutex_init(&m->lock, NULL);
	m->table_size = MOUNT_TABLE_SIZE;
	m->table = calloc(m->table_size, sizeof(*m->table));
	if (!m->table) {
		ret = -ENOMEM;
		goto destroy_lock;
	}
	/* the kernel holds the root from the mount on, without a lookup */
	ret = udax_ino_get(m->fs, UDAX_INO_ROOT, &root, NULL);
	if (!ret)
		ret = node_add(m, root);
	if (ret)
		goto free_table;
	return 0;

free_table:
	free(m->table);
	m->table = NULL;
destroy_lock:
	pthread_mutex_destroy(&m->lock);
	return ret;
}

void mount_nodes_fini(struct mount *m)
{
	for (size_t i = 0; m->table && i < m->table_size; i++) {
		while (m->table[i]) {
			struct mount_node *n = m->table[i];
			m->table[i] = n->next;
			node_free(n);
		}
	}
	free(m->table);
	m->table = NULL;
	pthread_mutex_destroy(&m->lock);
}

/* The data handle of a regular file's node, opened at the first need:
 * read-write (read-only on a read-only mount) whatever the opener asked,
 * since the kernel checked each open(2) and bounds each descriptor.
 * Returns 0 and *f, or the library's error (-EISDIR for a directory). */
static int node_io(struct mount *m, struct mount_node *n, struct udax_file **f)
{
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (!n->io)
		ret = udax_ino_open(n->held, m->read_only ? O_RDONLY : O_RDWR,
				    &n->io);
	*f = n->io;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/* Drop what the kernel caches of [off, off+len) of a file (len 0: to the
 * end) and its attributes: after a change it did not make in its page
 * cache. Never called while the kernel waits on a page of the file for
 * this request (fuse_lowlevel_notify_inval_inode would then deadlock). */
static void mount_inval(struct mount *m, fuse_ino_t ino, off_t off, off_t len)
{
	fuse_lowlevel_notify_inval_inode(m->se, ino, off, len);
}

/* ---- replies ---- */

/* Reply with the entry of a newly counted node (its hold is passed on
 * to the node table first). */
static void reply_entry(fuse_req_t req, struct mount *m, struct udax_ino *held,
			const struct udax_ino_attr *attr)
{
	struct fuse_entry_param e = {
		.ino = attr->st.st_ino,
		.generation = attr->generation,
		.attr = attr->st,
		.attr_timeout = MOUNT_TIMEOUT_S,
		.entry_timeout = MOUNT_TIMEOUT_S,
	};
	int ret = node_add(m, held);

	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

static void reply_result(fuse_req_t req, int ret)
{
	fuse_reply_err(req, ret < 0 ? -ret : 0);
}

static void reply_node_attr(fuse_req_t req, struct mount_node *n)
{
	struct udax_ino_attr attr;
	int ret = udax_ino_stat(n->held, &attr);

	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &attr.st, MOUNT_TIMEOUT_S);
}

/* Look the node up or reply ESTALE (a request on a node the daemon does
 * not hold: never sent by a correct kernel). */
#define NODE_OR_REPLY(n, m, req, ino)                                          \
	do {                                                                   \
		(n) = node_of((m), (ino));                                     \
		if (!(n)) {                                                    \
			fuse_reply_err((req), ESTALE);                         \
			return;                                                \
		}                                                              \
	} while (0)

/* The data handle of the regular file the kernel names, or an error
 * reply (then returns nonzero: the request is answered). */
static int io_or_reply(fuse_req_t req, struct mount *m, fuse_ino_t ino,
		       struct udax_file **f)
{
	struct mount_node *n = node_of(m, ino);
	int ret = n ? node_io(m, n, f) : -ESTALE;

	if (ret)
		fuse_reply_err(req, -ret);
	return ret;
}

/* ---- operations ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = MOUNT_MAX_WRITE;
	conn->max_readahead = MOUNT_MAX_WRITE;
	/* file handles: "." and ".." are looked up by number (op_lookup) */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* -o posix_acl: the kernel reads the ACLs through getxattr, keeps
	 * them cached and enforces them (it implies default_permissions,
	 * which every udax mount has anyway); the library keeps an access
	 * ACL and the mode in step */
	struct mount *m = userdata;
	if (m->posix_acl && (conn->capable & FUSE_CAP_POSIX_ACL))
		conn->want |= FUSE_CAP_POSIX_ACL;
	/* a symlink's target never changes: the kernel may keep it */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* the kernel clears set-ID bits on write, truncate and chown (by a
	 * chmod, see op_setattr) and applies the caller's umask; a write
	 * reaches udax before it returns (no writeback cache) */
	conn->want &=
		~(unsigned)(FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_DONT_MASK |
			    FUSE_CAP_WRITEBACK_CACHE);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mount *m = mount_cred(req);
	struct udax_ino_attr attr;
	struct udax_ino *held;
	struct mount_node *dir;
	int ret;

	/* "." is the kernel asking for an inode by number (a file handle
	 * it was given back, FUSE_CAP_EXPORT_SUPPORT): any inode, known to
	 * the node table or not */
	if (!strcmp(name, ".")) {
		ret = udax_ino_get(m->fs, parent, &held, &attr);
	} else {
		NODE_OR_REPLY(dir, m, req, parent);
		ret = udax_ino_lookup(dir->held, name, &held, &attr);
	}
	if (ret == -ENOENT) {
		/* a negative entry: the kernel remembers the name is absent
		 * (it creates it through this mount, or not at all) */
		struct fuse_entry_param e = {.entry_timeout = MOUNT_TIMEOUT_S};
		fuse_reply_entry(req, &e);
		return;
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_entry(req, m, held, &attr);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct mount *m = fuse_req_userdata(req);

	for (size_t i = 0; i < count; i++)
		node_forget(m, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mount *m = fuse_req_userdata(req);
	struct mount_node *n;

	NODE_OR_REPLY(n, m, req, ino);
	reply_node_attr(req, n);
}

/* Whether a chmod only clears set-user-ID or set-group-ID of the current
 * mode: what the kernel sends, as the writer, when a write or truncate
 * by someone without CAP_FSETID must drop them (file_remove_privs). */
static int chmod_kills_priv(struct mount_node *n, mode_t mode)
{
	struct udax_ino_attr attr;
	mode_t was, gone;

	if (udax_ino_stat(n->held, &attr))
		return 0;
	was = attr.st.st_mode & 07777;
	gone = was & ~(mode & 07777);
	return gone && !(gone & ~(mode_t)(S_ISUID | S_ISGID)) &&
	       (mode & 07777) == (was & ~gone);
}

static int setattr_mode(struct mount_node *n, mode_t mode)
{
	struct udax_cred root = {0};
	int ret = udax_ino_chmod(n->held, mode);

	/* with default_permissions the kernel refuses a chmod by anyone but
	 * the owner before it gets here: a refused one is the kernel's own,
	 * dropping set-ID bits, which it does with its authority */
	if (ret == -EPERM && chmod_kills_priv(n, mode)) {
		udax_cred_set(&root);
		ret = udax_ino_chmod(n->held, mode);
	}
	return ret;
}

static int setattr_times(struct mount_node *n, const struct stat *attr,
			 int to_set)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		ts[1] = attr->st_mtim;
	return udax_ino_utimens(n->held, ts);
}

/* chmod, chown, truncate and utimes, in that order, each one udax call;
 * the first failure is the answer. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred(req);
	struct udax_file *f;
	struct mount_node *n;
	int ret = 0;

	NODE_OR_REPLY(n, m, req, ino);
	if (to_set & FUSE_SET_ATTR_MODE)
		ret = setattr_mode(n, attr->st_mode);
	if (!ret && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		/* the kernel resolved any symlink: the node is the object */
		ret = udax_ino_chown(
			n->held,
			(to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
			(to_set & FUSE_SET_ATTR_GID) ? attr->st_gid :
						       (gid_t)-1);
	if (!ret && (to_set & FUSE_SET_ATTR_SIZE)) {
		/* the kernel checked write permission (truncate(2)) or the
		 * descriptor's mode (ftruncate(2)); it drops its pages past
		 * the new size itself */
		ret = node_io(m, n, &f);
		if (!ret)
			ret = udax_ftruncate(f, attr->st_size);
	}
	if (!ret &&
	    (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		       FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		ret = setattr_times(n, attr, to_set);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_node_attr(req, n);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct mount *m = mount_cred(req);
	char buf[PATH_MAX];
	struct mount_node *n;
	ssize_t len;

	NODE_OR_REPLY(n, m, req, ino);
	len = udax_ino_readlink(n->held, buf, sizeof(buf) - 1);
	if (len < 0) {
		fuse_reply_err(req, (int)-len);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* What makes a new inode under a directory node: mkdir, symlink, create
 * or mknod. */
enum make_kind { MAKE_DIR, MAKE_SYMLINK, MAKE_FILE, MAKE_NODE };

/* Make `name` in parent and reply with its entry (create: with the
 * open file too). */
static void make_and_reply(fuse_req_t req, fuse_ino_t parent, const char *name,
			   enum make_kind kind, mode_t mode, dev_t rdev,
			   const char *target, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred(req);
	struct udax_ino_attr attr;
	struct udax_ino *held;
	struct mount_node *dir;
	int ret;

	NODE_OR_REPLY(dir, m, req, parent);
	if (kind == MAKE_DIR)
		ret = udax_ino_mkdir(dir->held, name, mode, &held, &attr);
	else if (kind == MAKE_SYMLINK)
		ret = udax_ino_symlink(dir->held, name, target, &held, &attr);
	else if (kind == MAKE_NODE)
		ret = udax_ino_mknod(dir->held, name, mode, rdev, &held, &attr);
	else
		ret = udax_ino_create(dir->held, name, mode, &held, &attr);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (!fi) {
		reply_entry(req, m, held, &attr);
		return;
	}
	/* create: the file's node carries the data handle (fh unused), and
	 * its pages stay cached across opens, as with the kernel's own
	 * opens (op_open is left out) */
	struct fuse_entry_param e = {
		.ino = attr.st.st_ino,
		.generation = attr.generation,
		.attr = attr.st,
		.attr_timeout = MOUNT_TIMEOUT_S,
		.entry_timeout = MOUNT_TIMEOUT_S,
	};
	ret = node_add(m, held);
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fuse_reply_create(req, &e, fi);
}

/* FIFOs, sockets, device nodes and regular files (mknod(2) as the
 * kernel passes it on: the kernel serves the special ones itself, and
 * never sends an open for them). */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	make_and_reply(req, parent, name, MAKE_NODE, mode, rdev, NULL, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_and_reply(req, parent, name, MAKE_DIR, mode, 0, NULL, NULL);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	make_and_reply(req, parent, name, MAKE_SYMLINK, 0, 0, target, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	/* the kernel sends create only for a name it found absent, holding
	 * the directory locked: a new file, opened whatever its mode says */
	make_and_reply(req, parent, name, MAKE_FILE, mode, 0, NULL, fi);
}

static void remove_and_reply(fuse_req_t req, fuse_ino_t parent,
			     const char *name, int want_dir)
{
	struct mount *m = mount_cred(req);
	struct mount_node *dir;

	NODE_OR_REPLY(dir, m, req, parent);
	/* the inode may lose its last name: the node keeps it (an orphan)
	 * until the kernel forgets it, after its last close */
	reply_result(req, want_dir ? udax_ino_rmdir(dir->held, name) :
				     udax_ino_unlink(dir->held, name));
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_and_reply(req, parent, name, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_and_reply(req, parent, name, 1);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct mount *m = mount_cred(req);
	struct mount_node *dir, *newdir;

	NODE_OR_REPLY(dir, m, req, parent);
	NODE_OR_REPLY(newdir, m, req, newparent);
	reply_result(req, udax_ino_rename(dir->held, name, newdir->held,
					  newname, flags));
}

/* One kernel inode per udax inode: the new name's entry is the same node
 * (one more lookup), and its reply carries the new link count. */
static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct mount *m = mount_cred(req);
	struct udax_ino_attr attr;
	struct udax_ino *held;
	struct mount_node *n, *dir;
	int ret;

	NODE_OR_REPLY(n, m, req, ino);
	NODE_OR_REPLY(dir, m, req, newparent);
	ret = udax_ino_link(n->held, dir->held, newname, NULL);
	/* the entry holds the inode again, for the lookup it counts */
	if (!ret)
		ret = udax_ino_get(m->fs, n->ino, &held, &attr);
	if (ret)
		fuse_reply_err(req, -ret);
	else
		reply_entry(req, m, held, &attr);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mount *m = fuse_req_userdata(req);
	struct udax_file *f;
	ssize_t got;
	char *buf;

	if (io_or_reply(req, m, ino, &f))
		return;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	got = udax_pread(f, buf, size, off);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	/* the writer's credentials decide whether set-ID bits drop */
	struct mount *m = mount_cred(req);
	struct udax_file *f;
	ssize_t done;

	if (io_or_reply(req, m, ino, &f))
		return;
	done = udax_pwrite(f, buf, size, off);
	if (done < 0) {
		fuse_reply_err(req, (int)-done);
		return;
	}
	/* a direct write bypassed the page cache, and readers through it
	 * may have filled it with the old bytes while the write was on its
	 * way (asynchronous direct I/O is not invalidated after it): drop
	 * them before the write is answered, so no one reads them after */
	if (done > 0 && (fi->flags & O_DIRECT))
		mount_inval(m, ino, off, done);
	fuse_reply_write(req, (size_t)done);
}

/* ---- extended attributes ---- */

/* Answer a getxattr or listxattr that read `got` bytes (or failed) into
 * buf: a size probe (size 0) is answered with the length, as FUSE asks
 * before it reads. */
static void reply_xattr(fuse_req_t req, const char *buf, size_t size,
			ssize_t got)
{
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct mount *m = mount_cred(req);
	struct mount_node *n;

	NODE_OR_REPLY(n, m, req, ino);
	/* an access ACL may have changed the mode: the kernel drops its
	 * cached attributes and ACLs of the inode itself (posix_acl) */
	reply_result(req, udax_ino_setxattr(n->held, name, value, size, flags));
}

/* getxattr of `name`, or listxattr (name NULL), into a buffer of the
 * size the kernel asked for (none for a size probe). */
static void xattr_read_and_reply(fuse_req_t req, fuse_ino_t ino,
				 const char *name, size_t size)
{
	struct mount *m = mount_cred(req);
	struct mount_node *n;
	char *buf = NULL;

	NODE_OR_REPLY(n, m, req, ino);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_xattr(req, buf, size,
		    name ? udax_ino_getxattr(n->held, name, buf, size) :
			   udax_ino_listxattr(n->held, buf, size));
	free(buf);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	xattr_read_and_reply(req, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_read_and_reply(req, ino, NULL, size);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct mount *m = mount_cred(req);
	struct mount_node *n;

	NODE_OR_REPLY(n, m, req, ino);
	reply_result(req, udax_ino_removexattr(n->held, name));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct mount *m = fuse_req_userdata(req);
	struct statvfs st;
	int ret = udax_statfs(m->fs, &st);

	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_statfs(req, &st);
}

/* Created files get a release (their fh is 0): nothing to close, the
 * node's data handle lives as long as the node. */
static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct udax_file *f;

	if (io_or_reply(req, fuse_req_userdata(req), ino, &f))
		return;
	reply_result(req, datasync ? udax_fdatasync(f) : udax_fsync(f));
}

/* Entries from the cookie `off` on, until the kernel's buffer is full.
 * Each entry carries the cookie of the next one, so a later call resumes
 * exactly after the last entry the buffer took. With plus, each entry
 * other than "." and ".." comes with its attributes and counts as a
 * lookup of its node (the kernel makes the inode, as after a lookup). */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, int plus)
{
	struct mount *m = mount_cred(req);
	uint64_t cookie = (uint64_t)off;
	struct mount_node *dir;
	size_t used = 0;
	char *buf;
	int ret;

	NODE_OR_REPLY(dir, m, req, ino);
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (;;) {
		struct udax_dirent ent;
		struct udax_ino_attr attr;
		struct udax_ino *held = NULL;
		uint64_t next = cookie;
		size_t want;

		ret = udax_ino_readdir(dir->held, &next, &ent,
				       plus ? &held : NULL,
				       plus ? &attr : NULL);
		if (ret != 1)
			break;
		if (plus) {
			int dot = !strcmp(ent.name, ".") ||
				  !strcmp(ent.name, "..");
			struct fuse_entry_param e = {
				.ino = dot ? 0 : ent.ino,
				.generation = attr.generation,
				.attr = attr.st,
				.attr_timeout = MOUNT_TIMEOUT_S,
				.entry_timeout = MOUNT_TIMEOUT_S,
			};
			want = fuse_add_direntry_plus(req, buf + used,
						      size - used, ent.name, &e,
						      (off_t)next);
			/* the entry's lookup counts only if it was sent */
			if (want > size - used || dot)
				udax_ino_put(&held);
			else
				ret = node_add(m, held);
		} else {
			struct stat st = {.st_ino = ent.ino,
					  .st_mode = DTTOIF(ent.type)};
			want = fuse_add_direntry(req, buf + used, size - used,
						 ent.name, &st, (off_t)next);
		}
		if (want > size - used) {
			ret = 0; /* full: the next call resumes at cookie */
			break;
		}
		used += want;
		cookie = next;
		if (ret < 0)
			break;
	}
	/* entries already in the buffer are answered even after an error:
	 * the next call starts after them and meets the error again */
	if (ret < 0 && !used)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, 1);
}

/* Every namespace change is a committed transaction when it returns (the
 * commit's fence): a directory has nothing more to make durable. */
static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	struct mount *m = mount_cred(req);
	struct udax_file *f;
	int ret;

	if (io_or_reply(req, m, ino, &f))
		return;
	ret = udax_fallocate(f, mode, off, len);
	/* a punched or zeroed range reads as zeros from now on, also for
	 * pages the kernel had cached; the block count changed too */
	if (!ret)
		mount_inval(m, ino, off, len);
	reply_result(req, ret);
}

/* A plain copy through the daemon (one request instead of the kernel's
 * read/write loop). Once udax has reflink, block-aligned ranges become
 * a reflink here: FICLONE never reaches a FUSE daemon, so this is how
 * mounted tools will clone. The kernel drops its pages of the range
 * written. */
/* copy_file_range of whole blocks as a clone: the bytes it shared (up
 * to the end of in), or 0 if it was not done (not aligned, nothing to
 * share, or refused: a writable mapping, a range ending mid-block before
 * the end of out). */
static ssize_t copy_by_clone(struct udax_file *in, off_t off_in,
			     struct udax_file *out, off_t off_out, size_t len)
{
	struct stat st;
	off_t n;

	if ((off_in | off_out | (off_t)len) & 4095 || !len ||
	    len > (size_t)INT64_MAX || udax_fstat(in, &st) ||
	    off_in >= st.st_size)
		return 0;
	n = st.st_size - off_in < (off_t)len ? st.st_size - off_in : (off_t)len;
	return udax_clone_range(out, off_out, in, off_in, n) ? 0 : n;
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			       off_t off_out, struct fuse_file_info *fi_out,
			       size_t len, int flags)
{
	struct mount *m = mount_cred(req);
	struct udax_file *in, *out;
	struct mount_node *nin, *nout;
	size_t chunk = len < MOUNT_COPY_CHUNK ? len : MOUNT_COPY_CHUNK;
	ssize_t done = 0, n = 0;
	char *buf;
	int ret;

	NODE_OR_REPLY(nin, m, req, ino_in);
	NODE_OR_REPLY(nout, m, req, ino_out);
	ret = flags ? -EINVAL : node_io(m, nin, &in);
	if (!ret)
		ret = node_io(m, nout, &out);
	buf = ret ? NULL : malloc(chunk ? chunk : 1);
	if (!ret && !buf)
		ret = -ENOMEM;
	if (ret) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* whole blocks: a clone (shared blocks, copy-on-write) instead of a
	 * copy, which is how reflink reaches programs through the mount (the
	 * kernel never passes FICLONE to a FUSE daemon); anything a clone
	 * refuses is copied */
	done = copy_by_clone(in, off_in, out, off_out, len);
	if (done > 0) {
		free(buf);
		fuse_reply_write(req, (size_t)done);
		return;
	}
	done = 0;
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
	if (done > 0 || n >= 0)
		fuse_reply_write(req, (size_t)done);
	else
		fuse_reply_err(req, (int)-n);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct mount *m = fuse_req_userdata(req);
	struct udax_file *f;
	off_t pos;

	if (io_or_reply(req, m, ino, &f))
		return;
	/* SEEK_DATA and SEEK_HOLE only (the kernel does the others); the
	 * shared handle's position is not used by any other request */
	pos = udax_lseek(f, off, whence);
	if (pos < 0)
		fuse_reply_err(req, (int)-pos);
	else
		fuse_reply_lseek(req, pos);
}

const struct fuse_lowlevel_ops mount_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	/* no open, opendir, releasedir, flush: see the top of this file */
	.read = op_read,
	.write = op_write,
	.statfs = op_statfs,
	.release = op_release,
	.fsync = op_fsync,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.fsyncdir = op_fsyncdir,
	.create = op_create,
	.fallocate = op_fallocate,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.copy_file_range = op_copy_file_range,
	.lseek = op_lseek,
};
