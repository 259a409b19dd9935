/* SPDX-License-Identifier: MIT */
/*
 * fuzz_api.c - libFuzzer target: sequences of API operations on a small
 * memory device, against a model of the file system.
 *
 * The input is a list of 8-byte records, one operation each: an opcode
 * byte and seven argument bytes (paths, handle slots, offsets, lengths,
 * flags). Fixed-size records keep a mutation local to one operation and
 * let libFuzzer splice sequences. Paths are drawn from five names (one
 * of them long) at up to three levels, with "." and ".." inside, so
 * operations collide; symlink targets come from a small pool too.
 *
 * The file system (8 MiB, 64 inodes, a 256 KiB journal, so that ENOSPC
 * of blocks and inodes and checkpoints come within a few dozen
 * operations) lives on the crash-emulating device. Operations: open with
 * flags, close, pread/pwrite and read/write at the handle position (up to
 * 2 MiB), lseek with SEEK_DATA/SEEK_HOLE, ftruncate, fallocate (keep
 * size, punch, zero range), clone and dedupe of block ranges, recvfile
 * from a socket pair (all or part of the count sent, WAITALL or not),
 * fsync, fstat, mkdir, rmdir, unlink, rename
 * (plain, NOREPLACE, EXCHANGE), link, symlink, readlink, chmod, chown,
 * utimens, stat, access, readdir, statfs, sync, credentials switched to
 * unprivileged users and back, close and reopen of the whole file system
 * (checkpoint, clean mount), a repeat of the last few records (so that
 * short inputs fill the journal), and crashes: "arm" makes the next operation
 * lose power at its n-th fence (n = 1..8; after it, if it has fewer).
 * The images that keep the metadata lines but not the data lines, 7/8 of
 * the pending lines, and the lines the input chose (none, all, half, ...)
 * are each opened (the journal replays) and checked; the sequence goes on
 * from the last, where the program opens its files again.
 *
 * Oracles:
 *  - no crash and no sanitizer report;
 *  - every call returns success or a negative errno from the set that
 *    call can return, and some calls exactly what they must (a read-only
 *    handle refuses writes with EBADF, a read returns all bytes there are);
 *  - a model (names per directory, types, link counts, sizes and contents
 *    of regular files, symlink targets, which names share an inode) is
 *    updated from each call that succeeded and checked on every read, stat
 *    and readdir; a call that failed must have changed nothing (a failed
 *    punch or zero range may have zeroed part of its range);
 *  - at each reopen, after each crash and at the end the whole tree is
 *    compared with the model; after a crash it must be the state before
 *    or after the operation that was running, with the bytes that
 *    operation overwrote in place either old or new (torn);
 *  - at the end fsck (check only) must find the image clean, and it is
 *    opened again, as a memory device, and compared once more.
 * Before the operation that crashes, data is fenced, as by the fdatasync
 * of a careful program: the model knows only the last state of each
 * byte, not what an unfenced overwrite may leave.
 *
 * Not covered: udax_mmap. Its faults are served by userfaultfd threads,
 * and libFuzzer's in-process loop (with -fork/-jobs, timeouts and
 * sanitizer reports in the middle of a fault) does not suit a handler
 * thread that must outlive every input; tests/t_mmap.c covers mappings.
 *
 * UDAX_FUZZ_VERBOSE=1 prints each operation and its result, to replay a
 * failing input; UDAX_FUZZ_IMAGE=FILE keeps a crash image that failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <udax.h>

#include "api/api.h"
#include "device/device.h"
#include "format/format.h"
#include "fsck/fsck.h"

#define DEV_SIZE (8u << 20)
#define NPOOL 5	    /* names at every level */
#define MAXN 256    /* model inodes */
#define NHANDLES 4  /* open file handles */
#define MAX_OPS 256 /* records per input */
#define MAX_IO ((2u << 20) + 4096)
#define MODEL_CAP (24u << 20) /* bytes of file data the model holds */
#define MAX_FILE (12u << 20)  /* no file grows past this */
#define ROOT 0

/* a long name (68 characters) fills directory items sooner */
#define LONG_NAME                                                              \
	"long_name_that_fills_directory_items_sooner_than_one_letter_names_do"
static const char *const pool[NPOOL] = {"a", "b", "c", "d", LONG_NAME};

#define LONG_TARGET                                                            \
	"./././././././././././././././././././././././././././././././"       \
	"./././././././././././././././././././././././././././././././"       \
	"./././././././././c"
static const char *const targets[8] = {"a",    "/b", "c/d", "../a",
				       "/a/b", ".",  "..",  LONG_TARGET};

/* ------------------------------------------------------------------ */
/* reporting                                                            */

static int verbose;
static char op_text[512];
static unsigned op_index;
static long op_ret; /* what the operation's call returned */

/* Note what a call returned (for UDAX_FUZZ_VERBOSE) and pass it on. */
static long result(long ret)
{
	op_ret = ret;
	return ret;
}

static char img_path[64]; /* the image file, kept from input to input */

static void remove_image(void)
{
	if (img_path[0])
		unlink(img_path);
}

static void bug(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
static void bug(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_api: operation %u: %s\nfuzz_api: ", op_index,
		op_text);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_image();
	abort();
}

static const char *errname(long r)
{
	const char *s = r < 0 ? strerrorname_np((int)-r) : NULL;
	return s ? s : "";
}

/* A negative result must be one of the errno values in `ok` (0-ended). */
#define EXPECT_ERR(ret, ...)                                                   \
	expect_err(ret, #__VA_ARGS__, (const int[]){__VA_ARGS__, 0})
static void expect_err(long ret, const char *names, const int *ok)
{
	if (ret >= 0)
		return;
	for (; *ok; ok++)
		if (ret == -*ok)
			return;
	bug("returned %ld (%s), not one of %s", ret, errname(ret), names);
}

static void expect_ok(long ret)
{
	if (ret < 0)
		bug("returned %ld (%s), expected success", ret, errname(ret));
}

/* ------------------------------------------------------------------ */
/* the model                                                            */

enum { M_FREE, M_REG, M_DIR, M_LNK };

struct mnode {
	int type;
	int nlink;    /* names (regular files, symlinks) */
	int removed;  /* directories: rmdir'd or replaced */
	int nopen;    /* handles on it */
	uint64_t ino; /* udax's inode number once seen, 0 before */
	int parent;   /* directories */
	int child[NPOOL];
	uint8_t *data; /* regular files: size bytes */
	uint64_t size, cap;
	const char *target; /* symlinks: one of targets[] */
};

struct model {
	struct mnode n[MAXN];
	uint64_t bytes; /* sum of regular file sizes */
};

static struct model cur, prev;

static void node_clear(struct mnode *n)
{
	free(n->data);
	memset(n, 0, sizeof(*n));
	for (int i = 0; i < NPOOL; i++)
		n->child[i] = -1;
}

static void model_reset(struct model *m)
{
	for (int i = 0; i < MAXN; i++)
		node_clear(&m->n[i]);
	m->bytes = 0;
	m->n[ROOT].type = M_DIR;
	m->n[ROOT].parent = ROOT;
}

static void model_copy(struct model *dst, const struct model *src)
{
	for (int i = 0; i < MAXN; i++) {
		free(dst->n[i].data);
		dst->n[i] = src->n[i];
		dst->n[i].data = NULL;
		dst->n[i].cap = src->n[i].size;
		if (src->n[i].size) {
			dst->n[i].data = malloc(src->n[i].size);
			if (!dst->n[i].data)
				abort();
			memcpy(dst->n[i].data, src->n[i].data, src->n[i].size);
		}
	}
	dst->bytes = src->bytes;
}

static int model_free_nodes(const struct model *m)
{
	int n = 0;
	for (int i = 0; i < MAXN; i++)
		n += m->n[i].type == M_FREE;
	return n;
}

static int node_new(struct model *m, int type, int dir, int name)
{
	for (int i = 1; i < MAXN; i++) {
		struct mnode *n = &m->n[i];
		if (n->type != M_FREE)
			continue;
		node_clear(n);
		n->type = type;
		n->nlink = 1;
		n->parent = dir;
		m->n[dir].child[name] = i;
		return i;
	}
	bug("model full");
}

/* Free a node nobody names or holds any more. */
static void node_put(struct model *m, int i)
{
	struct mnode *n = &m->n[i];

	if (n->nopen || (n->type == M_DIR ? !n->removed : n->nlink > 0))
		return;
	m->bytes -= n->size;
	node_clear(n);
}

static int node_nlink(const struct model *m, int i)
{
	const struct mnode *n = &m->n[i];
	int links = 2;

	if (n->type != M_DIR)
		return n->nlink;
	if (n->removed)
		return 0;
	for (int c = 0; c < NPOOL; c++)
		links += n->child[c] >= 0 && m->n[n->child[c]].type == M_DIR;
	return links;
}

static void node_resize(struct model *m, int i, uint64_t size)
{
	struct mnode *n = &m->n[i];

	if (size > n->cap) {
		uint64_t cap = (size + 65535) & ~65535ull;
		uint8_t *d = realloc(n->data, cap);
		if (!d)
			abort();
		n->data = d;
		n->cap = cap;
	}
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	m->bytes = m->bytes - n->size + size;
	n->size = size;
}

static void node_write(struct model *m, int i, uint64_t off, const void *buf,
		       uint64_t len)
{
	if (!len)
		return;
	if (off + len > m->n[i].size)
		node_resize(m, i, off + len);
	memcpy(m->n[i].data + off, buf, len);
}

/* Is directory `i` `anc` or below it? */
static int node_below(const struct model *m, int i, int anc)
{
	for (int depth = 0; depth < MAXN; depth++) {
		if (i == anc)
			return 1;
		if (i == ROOT)
			return 0;
		i = m->n[i].parent;
	}
	return 0;
}

static int pool_lookup(const char *p, size_t len)
{
	for (int i = 0; i < NPOOL; i++)
		if (strlen(pool[i]) == len && !memcmp(pool[i], p, len))
			return i;
	return -1;
}

/* Where a path leads in the model: the directory that holds its last
 * name, that name (-1 for ".", ".." and the root) and the node there (-1
 * if absent); err is a negative errno if the walk cannot get there. */
struct mres {
	int err, dir, name, node;
};

/* Walk `path` from directory `start`, as namei does: "." and "..",
 * symlinks in the middle followed, the last one if `follow` (to its
 * target's parent and name when the target is missing, as O_CREAT
 * wants), 40 at most. */
static void model_walk(const struct model *m, int start, const char *path,
		       int follow, int *links, struct mres *r)
{
	int cur_dir = path[0] == '/' ? ROOT : start;
	const char *p = path;

	*r = (struct mres){0, cur_dir, -1, cur_dir};
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			return;
		const char *e = strchrnul(p, '/');
		const char *q = e;
		size_t len = (size_t)(e - p);
		int name = -1, next;
		while (*q == '/')
			q++;
		if (len == 1 && p[0] == '.') {
			next = cur_dir;
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			next = m->n[cur_dir].parent;
		} else {
			name = pool_lookup(p, len);
			if (name < 0) {
				r->err = -ENOENT;
				return;
			}
			next = m->n[cur_dir].child[name];
		}
		if (!*q) {
			*r = (struct mres){0, cur_dir, name, next};
			if (next >= 0 && follow && m->n[next].type == M_LNK) {
				if (++*links > 40) {
					r->err = -ELOOP;
					return;
				}
				model_walk(m, cur_dir, m->n[next].target, 1,
					   links, r);
			}
			return;
		}
		if (next < 0) {
			r->err = -ENOENT;
			return;
		}
		if (m->n[next].type == M_LNK) {
			struct mres t;
			if (++*links > 40) {
				r->err = -ELOOP;
				return;
			}
			model_walk(m, cur_dir, m->n[next].target, 1, links, &t);
			if (t.err || t.node < 0) {
				r->err = t.err ? t.err : -ENOENT;
				return;
			}
			next = t.node;
		}
		if (m->n[next].type != M_DIR) {
			r->err = -ENOTDIR;
			return;
		}
		cur_dir = next;
		p = q;
	}
}

static struct mres model_resolve(const char *path, int follow)
{
	struct mres r;
	int links = 0;

	model_walk(&cur, ROOT, path, follow, &links, &r);
	return r;
}

/* The model must agree that a call that succeeded could: the path
 * resolves (and, if `want_node`, names something). */
static struct mres resolved(const char *path, int follow, int want_node)
{
	struct mres r = model_resolve(path, follow);

	if (r.err)
		bug("succeeded, but the model resolves %s to %d (%s)", path,
		    r.err, errname(r.err));
	if (want_node && r.node < 0)
		bug("succeeded, but %s names nothing in the model", path);
	return r;
}

/* udax's inode number for a node: learnt at first sight, then fixed. */
static void check_ino(struct model *m, int i, uint64_t ino, const char *what)
{
	if (!m->n[i].ino) {
		for (int j = 0; j < MAXN; j++)
			if (m->n[j].type != M_FREE && m->n[j].ino == ino)
				bug("%s: inode %" PRIu64
				    " belongs to another file of the model",
				    what, ino);
		m->n[i].ino = ino;
	} else if (m->n[i].ino != ino) {
		bug("%s: inode %" PRIu64 ", the model says %" PRIu64, what, ino,
		    m->n[i].ino);
	}
}

static int mode_type(mode_t mode)
{
	return S_ISREG(mode) ? M_REG :
	       S_ISDIR(mode) ? M_DIR :
	       S_ISLNK(mode) ? M_LNK :
			       -1;
}

/* A stat result against node i. Returns NULL or what differs. */
static const char *stat_differs(struct model *m, int i, const struct stat *st)
{
	static char why[160];
	const struct mnode *n = &m->n[i];

	if (mode_type(st->st_mode) != n->type)
		return "type";
	if ((long)st->st_nlink != node_nlink(m, i)) {
		snprintf(why, sizeof(why), "nlink %ld, model %d",
			 (long)st->st_nlink, node_nlink(m, i));
		return why;
	}
	if (n->type == M_REG && (uint64_t)st->st_size != n->size) {
		snprintf(why, sizeof(why), "size %lld, model %llu",
			 (long long)st->st_size, (unsigned long long)n->size);
		return why;
	}
	if (n->type == M_LNK && (size_t)st->st_size != strlen(n->target))
		return "symlink size";
	return NULL;
}

static void check_stat(int i, const struct stat *st, const char *what)
{
	const char *d = stat_differs(&cur, i, st);

	if (d)
		bug("%s: %s", what, d);
	check_ino(&cur, i, st->st_ino, what);
}

/* ------------------------------------------------------------------ */
/* the file system and its handles                                     */

static struct udax_fs *fs;
static uint8_t *img;	/* DEV_SIZE bytes: images on their way */
static uint8_t *io_buf; /* MAX_IO: data written */
static uint8_t *rd_buf; /* reads and whole files */

struct handle {
	struct udax_file *f;
	int node;
	int flags;
	uint64_t pos;
	char path[256]; /* as opened: a crash reopens it */
};
static struct handle H[NHANDLES];

static const struct udax_cred root_cred = {.uid = 0, .gid = 0};

static void handle_drop(struct handle *h)
{
	cur.n[h->node].nopen--;
	node_put(&cur, h->node);
	memset(h, 0, sizeof(*h));
}

static void handle_close(struct handle *h)
{
	if (!h->f)
		return;
	expect_ok(udax_file_close(&h->f));
	handle_drop(h);
}

static void handles_close(void)
{
	for (int i = 0; i < NHANDLES; i++)
		handle_close(&H[i]);
}

static int may_read(const struct handle *h)
{
	return (h->flags & O_ACCMODE) != O_WRONLY;
}

static int may_write(const struct handle *h)
{
	return (h->flags & O_ACCMODE) != O_RDONLY;
}

/* ------------------------------------------------------------------ */
/* whole-tree comparison                                               */

#define CMP_PATH_MAX 3000

struct cmp {
	struct model *m;	 /* the state the tree must have */
	const struct model *alt; /* or NULL: bytes may also be alt's */
	int adopt;		 /* take the bytes read (and inode numbers
				  * learnt) into m; else keep only inode
				  * numbers, and only without alt */
	char why[512];
};

/* The node at `path` in a model, following names only. */
static int model_lookup(const struct model *m, const char *path)
{
	struct mres r;
	int links = 41; /* no symlinks: the walk names directories only */

	model_walk(m, ROOT, path, 0, &links, &r);
	return r.err ? -1 : r.node;
}

static int cmp_fail(struct cmp *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int cmp_fail(struct cmp *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -1;
}

static int cmp_file(struct cmp *c, const char *path, int i)
{
	struct mnode *n = &c->m->n[i];
	int a = c->alt ? model_lookup(c->alt, path) : -1;
	const struct mnode *an =
		a >= 0 && c->alt->n[a].type == M_REG ? &c->alt->n[a] : NULL;
	struct udax_file *f;
	ssize_t got;
	int ret;

	ret = udax_file_open(fs, path, O_RDONLY, 0, &f);
	if (ret)
		return cmp_fail(c, "%s: open: %d", path, ret);
	got = udax_pread(f, rd_buf, n->size + 1, 0);
	udax_file_close(&f);
	if (got != (ssize_t)n->size)
		return cmp_fail(c, "%s: read %zd of %llu bytes", path, got,
				(unsigned long long)n->size);
	if (!n->size || !memcmp(rd_buf, n->data, n->size))
		return 0;
	for (uint64_t b = 0; b < n->size; b++) {
		if (rd_buf[b] == n->data[b] ||
		    (an && b < an->size && rd_buf[b] == an->data[b]))
			continue;
		return cmp_fail(c, "%s: byte %llu is %#x, model %#x", path,
				(unsigned long long)b, rd_buf[b], n->data[b]);
	}
	if (c->adopt)
		memcpy(n->data, rd_buf, n->size);
	return 0;
}

static int cmp_tree(struct cmp *c, const char *path, int dir)
{
	struct model *m = c->m;
	struct udax_dirent e;
	struct udax_dir *d;
	int seen[NPOOL] = {0}, ret;
	size_t plen = strlen(path);

	if (plen > CMP_PATH_MAX)
		return 0; /* renamed ever deeper: not followed */
	ret = udax_dir_open(fs, path, &d);
	if (ret)
		return cmp_fail(c, "%s: opendir: %d", path, ret);
	while ((ret = udax_dir_read(d, &e)) == 1) {
		int name = pool_lookup(e.name, strlen(e.name));
		if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
			continue;
		if (name < 0 || seen[name]++ || m->n[dir].child[name] < 0) {
			udax_dir_close(&d);
			return cmp_fail(c, "%s: unexpected entry \"%s\"", path,
					e.name);
		}
	}
	udax_dir_close(&d);
	if (ret)
		return cmp_fail(c, "%s: readdir: %d", path, ret);
	for (int name = 0; name < NPOOL; name++) {
		int i = m->n[dir].child[name];
		char child[CMP_PATH_MAX + 128];
		struct stat st;
		const char *diff;
		if (i < 0)
			continue;
		snprintf(child, sizeof(child), "%s/%s", plen > 1 ? path : "",
			 pool[name]);
		if (!seen[name])
			return cmp_fail(c, "%s: missing", child);
		ret = udax_lstat(fs, child, &st);
		if (ret)
			return cmp_fail(c, "%s: lstat: %d", child, ret);
		diff = stat_differs(m, i, &st);
		if (diff)
			return cmp_fail(c, "%s: %s", child, diff);
		if (m->n[i].ino && m->n[i].ino != st.st_ino)
			return cmp_fail(c, "%s: inode %llu, model %llu", child,
					(unsigned long long)st.st_ino,
					(unsigned long long)m->n[i].ino);
		m->n[i].ino = st.st_ino;
		if (m->n[i].type == M_REG)
			ret = cmp_file(c, child, i);
		else if (m->n[i].type == M_DIR)
			ret = cmp_tree(c, child, i);
		else {
			char t[256];
			ssize_t l = udax_readlink(fs, child, t, sizeof(t));
			ret = l != (ssize_t)strlen(m->n[i].target) ||
					      memcmp(t, m->n[i].target,
						     (size_t)l) ?
				      cmp_fail(c, "%s: symlink target", child) :
				      0;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* Compare the whole tree with a model (as root: permissions must not
 * hide anything). Returns 0, or -1 with the difference in c->why. */
static int compare(struct cmp *c, const struct udax_cred *was)
{
	static uint64_t ino[MAXN];
	struct stat st;
	int ret;

	/* inode numbers are learnt from a tree that matched: a crash image
	 * that is not the state the sequence goes on from (or another
	 * state than m) must not teach m its numbers */
	for (int i = 0; i < MAXN; i++)
		ino[i] = c->m->n[i].ino;
	udax_cred_set(&root_cred);
	ret = udax_stat(fs, "/", &st);
	if (ret)
		ret = cmp_fail(c, "stat /: %d", ret);
	else if ((int)st.st_nlink != node_nlink(c->m, ROOT))
		ret = cmp_fail(c, "/: nlink %d, model %d", (int)st.st_nlink,
			       node_nlink(c->m, ROOT));
	else
		ret = cmp_tree(c, "/", ROOT);
	udax_cred_set(was);
	if (ret || (c->alt && !c->adopt))
		for (int i = 0; i < MAXN; i++)
			c->m->n[i].ino = ino[i];
	return ret;
}

static struct udax_cred cred_now = {.uid = 0, .gid = 0};

static void check_all(const char *when)
{
	struct cmp c = {.m = &cur};

	if (compare(&c, &cred_now))
		bug("%s: the tree differs from the model: %s", when, c.why);
	for (int i = 0; i < NHANDLES; i++) {
		struct stat st;
		if (!H[i].f)
			continue;
		expect_ok(udax_fstat(H[i].f, &st));
		check_stat(H[i].node, &st, "fstat of an open handle");
	}
}

/* ------------------------------------------------------------------ */
/* opening, closing, crashing                                          */

/*
 * Every input runs on one crash-emulating device, made once: a crash can
 * be armed at any time without closing anything. The file system owns
 * and closes the device it is opened on, so it gets a copy of the device
 * whose close does nothing (the ops table stacks); the device itself
 * lives on, and its memory is the image after a close.
 */
static struct dev *cdev;
static struct dev_ops keep_ops;

static void keep_close(struct dev *dev)
{
	(void)dev; /* the device outlives the file system */
}

static void fs_open_crash_device(void)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct dev *view = malloc(sizeof(*view));
	int ret;

	if (!view)
		abort();
	*view = *cdev;
	view->ops = &keep_ops;
	ret = udax_open_device(&fs, view, 0, &oo);
	if (ret)
		bug("open: %d (%s)", ret, errname(ret));
}

static void fs_close_all(void)
{
	int ret;

	handles_close();
	ret = udax_close(&fs);
	if (ret)
		bug("udax_close: %d (%s)", ret, errname(ret));
}

/* Close and open again: a checkpoint, then a clean mount. */
static void do_reopen(void)
{
	fs_close_all();
	fs_open_crash_device();
	check_all("after reopen");
}

/* A crash is armed by one operation and happens in the next, at its
 * crash_at-th fence (or after it, if it has fewer). */
static int crash_armed;	     /* 1: waiting for the next operation */
static unsigned crash_at;    /* 1..8 */
static uint64_t crash_fence; /* the crash point, while it runs */
static uint8_t crash_mask_mode, crash_mask_seed;
static uint64_t data_start_line; /* first cache line of the data area */
static uint8_t *img2;		 /* DEV_SIZE bytes */

/* Freeze the device at the crash point of the operation about to run;
 * the model keeps the state before it. */
static void crash_begin(void)
{
	/* data overwritten in place so far is fenced, as by fdatasync:
	 * the model knows only the last state of each byte */
	dev_drain(cdev);
	crash_fence = dev_crash_fences(cdev) + crash_at;
	dev_crash_freeze_at(cdev, crash_fence);
	model_copy(&prev, &cur);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

#define MASK_MODES 6
static const char *const mask_names[MASK_MODES] = {
	"none", "all",		 "half",
	"7/8",	"metadata only", "data, half the metadata"};

/* The cache line of each of the n pending lines: pending line i is the
 * i-th line (by address) in which the images keeping none and all of them
 * differ. */
static void pending_lines(uint64_t *lines, uint64_t *keep, size_t n)
{
	uint64_t line = 0;

	dev_crash_image(cdev, NULL, img);
	memset(keep, 0xff, (n + 63) / 64 * 8);
	dev_crash_image(cdev, keep, img2);
	for (size_t i = 0; i < n; i++, line++) {
		while (!memcmp(img + line * 64, img2 + line * 64, 64))
			line++;
		lines[i] = line;
	}
}

/* Which of the n pending lines a power loss keeps, in mask mode `mode`.
 * Whether a line is metadata or data decides in modes 4 and 5: metadata
 * without its data is what a missing fence would allow. */
static void crash_mask(uint64_t *keep, const uint64_t *lines, size_t n,
		       unsigned mode)
{
	uint64_t s = crash_mask_seed;

	memset(keep, 0, (n + 63) / 64 * 8);
	for (size_t i = 0; i < n; i++) {
		uint64_t r = splitmix(&s);
		int meta = lines[i] < data_start_line, k;
		k = mode == 0 ? 0 :
		    mode == 1 ? 1 :
		    mode == 2 ? (int)(r & 1) :
		    mode == 3 ? (r & 7) != 0 :
		    mode == 4 ? meta :
				/* mode 5 */ !meta || (r & 1);
		if (k)
			keep[i / 64] |= 1ull << (i % 64);
	}
}

/*
 * Crash points as features for libFuzzer (its extra counters, cleared
 * before each input): an input that crashes a kind of operation at a
 * fence it had not reached before, or with another kind of mask, is kept
 * in the corpus. Coverage alone does not tell crash points apart, and the
 * corpus would keep the first few it found.
 */
#define OP_KINDS 32
#define CRASH_POS 8
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
	crash_features[OP_KINDS * CRASH_POS * MASK_MODES];
static unsigned op_kind; /* the operation running */

static void crash_feature(void)
{
	/* position 0: the operation ended before the crash point */
	unsigned pos = dev_crash_fences(cdev) >= crash_fence ? crash_at : 0;

	crash_features[(op_kind * CRASH_POS + pos % CRASH_POS) * MASK_MODES +
		       crash_mask_mode % MASK_MODES] = 1;
}

/* After the crash the open handles are gone; so are files only they
 * held (recovery frees orphans). */
static void model_after_crash(struct model *m)
{
	for (int i = 0; i < MAXN; i++) {
		m->n[i].nopen = 0;
		if (m->n[i].type != M_FREE)
			node_put(m, i);
	}
}

/* The program, restarted after a crash, opens its files again (those
 * that still have their names), without O_CREAT or O_TRUNC. */
static void handles_reopen(const struct handle *held)
{
	for (int i = 0; i < NHANDLES; i++) {
		struct handle *h = &H[i];
		int flags = held[i].flags & (O_ACCMODE | O_APPEND | O_NOFOLLOW);
		struct mres r;
		if (!held[i].f ||
		    udax_file_open(fs, held[i].path, flags, 0, &h->f))
			continue;
		r = resolved(held[i].path, !(flags & O_NOFOLLOW), 1);
		*h = (struct handle){.f = h->f, .node = r.node, .flags = flags};
		strcpy(h->path, held[i].path);
		cur.n[r.node].nopen++;
	}
}

/* Open the crash image in img (the journal replays) and compare it with
 * the states after (cur) and before (prev) the operation it interrupted.
 * With adopt, the model becomes the state it matched, bytes torn by the
 * crash included. */
static void crash_check(size_t n, unsigned mode, int adopt)
{
	struct cmp a = {.m = &cur, .alt = &prev, .adopt = adopt};
	struct cmp b = {.m = &prev, .alt = &cur, .adopt = adopt};

	if (verbose)
		fprintf(stderr,
			"    crash at fence %" PRIu64
			", %zu lines pending, keeping %s\n",
			crash_fence, n, mask_names[mode]);
	dev_crash_load(cdev, img);
	fs_open_crash_device();
	if (!compare(&a, &cred_now))
		return;
	if (!compare(&b, &cred_now)) {
		if (adopt)
			model_copy(&cur, &prev);
		return;
	}
	if (getenv("UDAX_FUZZ_IMAGE")) {
		int fd = open(getenv("UDAX_FUZZ_IMAGE"),
			      O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (fd < 0 || write(fd, img, DEV_SIZE) != DEV_SIZE)
			perror("UDAX_FUZZ_IMAGE");
		close(fd);
	}
	bug("after a crash at fence %" PRIu64 " (%zu pending lines, keeping "
	    "%s) the tree is neither the state after the operation (%s) nor "
	    "before it (%s)",
	    crash_fence, n, mask_names[mode], a.why, b.why);
}

/* Power loss at the crash point (or now, if the operation ended before
 * it). The images that keep the metadata but not the data, most of the
 * pending lines, and the lines the input chose are checked; the last one
 * is where the sequence goes on. */
#define MAX_CRASHES 32
static unsigned crashes; /* in this input */

static void crash_now(void)
{
	static const unsigned extra_modes[] = {4, 3};
	unsigned mode = crash_mask_mode % MASK_MODES;
	size_t n = dev_crash_pending(cdev);
	uint64_t *keep = calloc((n + 63) / 64 + 1, 8);
	uint64_t *lines = calloc(n + 1, 8);
	struct handle held[NHANDLES];

	if (!keep || !lines)
		abort();
	crashes++;
	crash_feature();
	pending_lines(lines, keep, n);
	/* what the program held is gone with the power */
	memcpy(held, H, sizeof(H));
	for (int i = 0; i < NHANDLES; i++)
		if (H[i].f)
			udax_file_close(&H[i].f);
	memset(H, 0, sizeof(H));
	model_after_crash(&cur);
	model_after_crash(&prev);
	for (size_t i = 0; i <= sizeof(extra_modes) / sizeof(*extra_modes);
	     i++) {
		int last = i == sizeof(extra_modes) / sizeof(*extra_modes);
		unsigned m = last ? mode : extra_modes[i];
		if (!last && m == mode)
			continue;
		crash_mask(keep, lines, n, m);
		dev_crash_image(cdev, keep, img);
		if (udax_close(&fs))
			bug("close before a crash image failed");
		crash_check(n, m, last);
	}
	free(keep);
	free(lines);
	crash_armed = 0;
	dev_crash_freeze_at(cdev, 0);
	handles_reopen(held);
}

/* ------------------------------------------------------------------ */
/* argument decoding                                                    */

static char path1[256], path2[256];

/* A path from two bytes: absolute or relative, one to three components,
 * the last a pool name, the others pool names, "." or "..". */
static const char *gen_path(char *out, uint8_t lo, uint8_t hi)
{
	unsigned v = lo | (unsigned)hi << 8;
	unsigned depth = 1 + ((v >> 1) & 3) % 3;
	char *p = out;

	v >>= 3;
	if (!(lo & 1))
		*p++ = '/';
	for (unsigned d = 0; d < depth; d++) {
		unsigned c = v & 7;
		const char *name = d + 1 == depth ? pool[c % NPOOL] :
				   c == 5	  ? ".." :
				   c == 6	  ? "." :
						    pool[c % NPOOL];
		v >>= 3;
		p += sprintf(p, "%s%s", d ? "/" : "", name);
	}
	return out;
}

/* A file offset: inside the first blocks, at a block boundary (+-1),
 * around the current size, or anywhere in 4 MiB. */
static uint64_t gen_off(uint8_t lo, uint8_t hi, uint64_t size)
{
	unsigned v = lo | (unsigned)hi << 8, x = v & 0x3fff;
	int64_t o;

	switch (v >> 14) {
	case 0:
		return x % 8192;
	case 1:
		o = (int64_t)(x & 0x3ff) * 4096 + (int64_t)((x >> 10) % 3) - 1;
		return o < 0 ? 0 : (uint64_t)o;
	case 2:
		o = (int64_t)size + (int64_t)(x % 16384) - 8192;
		return o < 0 ? 0 : (uint64_t)o;
	default:
		return (uint64_t)x * 256;
	}
}

/* A length: tiny (0 included), around whole blocks, up to 2 MiB, or
 * around 2 MiB. */
static uint64_t gen_len(uint8_t lo, uint8_t hi)
{
	unsigned v = lo | (unsigned)hi << 8, x = v & 0x3fff;

	switch (v >> 14) {
	case 0:
		return x % 300;
	case 1:
		return ((x & 0x3ff) % 64 + 1) * 4096 + (x >> 10) % 3 - 1;
	case 2:
		return (uint64_t)x * 128;
	default:
		return (2u << 20) + (x & 0xfff) - 2048;
	}
}

/* Data to write: all zeros for seed 0, else one random block from the
 * seed, repeated with each copy stamped with its offset (a block that
 * lands in the wrong place reads wrong; 2 MiB costs a memcpy). */
static void fill(uint8_t *buf, uint64_t len, uint64_t seed)
{
	uint64_t s = seed, first = len < 4096 ? len : 4096;

	if (!(seed & 0xff)) {
		memset(buf, 0, len);
		return;
	}
	for (uint64_t i = 0; i < first; i += 8) {
		uint64_t w = splitmix(&s);
		memcpy(buf + i, &w, first - i < 8 ? first - i : 8);
	}
	for (uint64_t off = 4096; off < len; off += 4096) {
		uint64_t n = len - off < 4096 ? len - off : 4096;
		uint64_t stamp = seed ^ (off * 0x9E3779B97F4A7C15ull);
		memcpy(buf + off, buf, n);
		memcpy(buf + off, &stamp, n < 8 ? n : 8);
	}
}

/* Whether growing a file from `size` to `end` would take the model past
 * its limits (the operation is then left out). */
static int too_big(uint64_t size, uint64_t end)
{
	return end > MAX_FILE ||
	       (end > size && cur.bytes + end - size > MODEL_CAP);
}

static struct handle *handle_of(uint8_t b)
{
	return &H[b % NHANDLES];
}

static uint64_t handle_size(const struct handle *h)
{
	return h->f ? cur.n[h->node].size : 0;
}

/* ------------------------------------------------------------------ */
/* operations                                                           */

/* The model's node for the name at path1 a call created: there must
 * have been none. */
static int name_created(const char *what, int type)
{
	struct mres r = resolved(path1, 0, 0);

	if (r.node >= 0 || r.name < 0)
		bug("%s over an existing name", what);
	return node_new(&cur, type, r.dir, r.name);
}

static void op_open(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	int acc = (int[]){O_RDONLY, O_WRONLY, O_RDWR, O_RDWR}[a[3] & 3];
	int flags = acc;
	mode_t mode = (a[4] | (a[5] & 1u) << 8) & 0777;
	struct udax_file *f;
	struct mres r;
	int ret, node;

	gen_path(path1, a[1], a[2]);
	if (a[3] & 0x04)
		flags |= O_CREAT;
	if ((a[3] & 0x08) && (flags & O_CREAT))
		flags |= O_EXCL;
	if ((a[3] & 0x10) && acc != O_RDONLY)
		flags |= O_TRUNC;
	if (a[3] & 0x20)
		flags |= O_APPEND;
	if (a[3] & 0x40)
		flags |= O_NOFOLLOW;
	if ((a[3] & 0x80) && (a[5] & 2))
		flags |= O_DIRECTORY;
	if ((flags & O_CREAT) && model_free_nodes(&cur) < 4)
		return;
	handle_close(h);
	snprintf(op_text, sizeof(op_text), "open %s flags %#o mode %#o", path1,
		 flags, mode);
	ret = (int)result(udax_file_open(fs, path1, flags, mode, &f));
	EXPECT_ERR(ret, ENOENT, EEXIST, EISDIR, ENOTDIR, EACCES, ELOOP, ENOSPC,
		   EINVAL);
	if (ret)
		return;
	if ((flags & O_CREAT) && (flags & O_EXCL)) {
		node = name_created("O_EXCL", M_REG);
	} else {
		r = resolved(path1, !(flags & O_NOFOLLOW), 0);
		if (r.node < 0 && (!(flags & O_CREAT) || r.name < 0))
			bug("opened what the model does not have");
		node = r.node >= 0 ? r.node :
				     node_new(&cur, M_REG, r.dir, r.name);
	}
	if (cur.n[node].type == M_DIR) {
		if (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
			bug("opened a directory for writing");
	} else if (cur.n[node].type != M_REG) {
		bug("opened a symlink");
	} else if (flags & O_TRUNC) {
		node_resize(&cur, node, 0);
	}
	if ((flags & O_DIRECTORY) && cur.n[node].type != M_DIR)
		bug("O_DIRECTORY opened a file");
	*h = (struct handle){.f = f, .node = node, .flags = flags};
	strcpy(h->path, path1);
	cur.n[node].nopen++;
	struct stat st;
	expect_ok(udax_fstat(f, &st));
	check_stat(node, &st, "fstat after open");
}

static void op_close(const uint8_t *a)
{
	snprintf(op_text, sizeof(op_text), "close");
	handle_close(handle_of(a[0]));
}

/* A call on an empty handle slot fails with EBADF; one the handle is not
 * open for (`allowed` false) with `no_err`, one on a directory with
 * `dir_err` (0: allowed). Returns whether the call was one of those,
 * after checking that it failed so. */
static int refused(const struct handle *h, int allowed, long no_err,
		   long dir_err, long ret)
{
	long want = !h->f			 ? -EBADF :
		    !allowed			 ? no_err :
		    cur.n[h->node].type == M_DIR ? dir_err :
						   0;

	if (!want)
		return 0;
	if (ret != want)
		bug("returned %ld, expected %ld (%s)", ret, want,
		    errname(want));
	return 1;
}

/* Write at the handle position (a[6] & 1) or at an offset. */
static void op_write(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	int at_pos = a[6] & 1;
	uint64_t size = handle_size(h);
	uint64_t off = at_pos ? h->pos : gen_off(a[1], a[2], size);
	uint64_t len = gen_len(a[3], a[4]);
	ssize_t n;

	if (h->f && (h->flags & O_APPEND))
		off = size;
	if (too_big(size, off + len))
		return;
	if (h->f && may_write(h))
		fill(io_buf, len, a[5] | (uint64_t)op_index << 8);
	snprintf(op_text, sizeof(op_text), "%s %llu bytes at %llu%s",
		 at_pos ? "write" : "pwrite", (unsigned long long)len,
		 (unsigned long long)off,
		 h->f && (h->flags & O_APPEND) ? " (append)" : "");
	n = result(at_pos ? udax_write(h->f, io_buf, len) :
			    udax_pwrite(h->f, io_buf, len, (off_t)off));
	if (refused(h, h->f && may_write(h), -EBADF, -EISDIR, n))
		return;
	EXPECT_ERR(n, ENOSPC);
	if (n > (ssize_t)len || (n == 0 && len))
		bug("wrote %zd of %llu bytes", n, (unsigned long long)len);
	if (n < 0)
		return;
	node_write(&cur, h->node, off, io_buf, (uint64_t)n);
	if (at_pos)
		h->pos = off + (uint64_t)n;
}

/* Read at the handle position (a[6] & 1) or at an offset. */
static void op_read(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	int at_pos = a[6] & 1;
	uint64_t size = handle_size(h);
	uint64_t off = at_pos ? h->pos : gen_off(a[1], a[2], size);
	uint64_t len = gen_len(a[3], a[4]), want;
	ssize_t n;

	snprintf(op_text, sizeof(op_text), "%s %llu bytes at %llu",
		 at_pos ? "read" : "pread", (unsigned long long)len,
		 (unsigned long long)off);
	n = result(at_pos ? udax_read(h->f, rd_buf, len) :
			    udax_pread(h->f, rd_buf, len, (off_t)off));
	if (refused(h, h->f && may_read(h), -EBADF, -EISDIR, n))
		return;
	expect_ok(n);
	want = off >= size ? 0 : size - off < len ? size - off : len;
	if ((uint64_t)n != want)
		bug("read %zd bytes, the model has %llu", n,
		    (unsigned long long)want);
	if (want && memcmp(rd_buf, cur.n[h->node].data + off, want)) {
		uint64_t b = 0;
		while (rd_buf[b] == cur.n[h->node].data[off + b])
			b++;
		bug("byte %llu read %#x, the model has %#x",
		    (unsigned long long)(off + b), rd_buf[b],
		    cur.n[h->node].data[off + b]);
	}
	if (at_pos)
		h->pos = off + want;
}

static int zeros(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static void op_lseek(const uint8_t *a)
{
	static const int whences[] = {SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA,
				      SEEK_HOLE};
	struct handle *h = handle_of(a[0]);
	int whence = whences[a[1] % 5];
	uint64_t size = handle_size(h);
	int64_t off = (int64_t)gen_off(a[2], a[3], size);
	off_t r;

	if (a[4] & 1)
		off = -off; /* negative offsets too */
	snprintf(op_text, sizeof(op_text), "lseek %lld whence %d",
		 (long long)off, whence);
	r = result(udax_lseek(h->f, off, whence));
	if (refused(h, 1, 0, 0, r))
		return;
	EXPECT_ERR(r, EINVAL, ENXIO);
	if (whence == SEEK_SET || whence == SEEK_CUR || whence == SEEK_END) {
		int64_t base = whence == SEEK_SET ? 0 :
			       whence == SEEK_CUR ? (int64_t)h->pos :
						    (int64_t)size;
		int64_t want = base + off < 0 ? -EINVAL : base + off;
		if (cur.n[h->node].type == M_DIR && whence == SEEK_END)
			want = r; /* a directory's size is udax's own */
		if (r != want)
			bug("lseek gave %lld, expected %lld", (long long)r,
			    (long long)want);
		if (r >= 0)
			h->pos = (uint64_t)r;
		return;
	}
	if (off >= 0 && cur.n[h->node].type == M_DIR) {
		if (r != -EINVAL)
			bug("SEEK_DATA/HOLE on a directory: %lld",
			    (long long)r);
		return;
	}
	if (off < 0 || (uint64_t)off >= size) {
		if (r != -ENXIO)
			bug("SEEK_DATA/HOLE past the end gave %lld",
			    (long long)r);
		return;
	}
	const uint8_t *d = cur.n[h->node].data;
	if (whence == SEEK_DATA && r == -ENXIO) {
		/* no data after off: all of it must read as zeros */
		if (!zeros(d + off, size - (uint64_t)off))
			bug("SEEK_DATA found no data before the end");
		return;
	}
	if (r < off || (uint64_t)r > size ||
	    (whence == SEEK_DATA && (uint64_t)r == size))
		bug("seek gave %lld outside [%lld, %llu]", (long long)r,
		    (long long)off, (unsigned long long)size);
	if (whence == SEEK_DATA && !zeros(d + off, (uint64_t)(r - off)))
		bug("SEEK_DATA skipped data");
	if (whence == SEEK_HOLE && (uint64_t)r < size && d[r])
		bug("SEEK_HOLE landed on data");
	h->pos = (uint64_t)r;
}

static void op_truncate(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	uint64_t size = handle_size(h);
	uint64_t len = gen_off(a[1], a[2], size);
	int ret;

	if (too_big(size, len))
		return;
	snprintf(op_text, sizeof(op_text), "ftruncate %llu",
		 (unsigned long long)len);
	ret = (int)result(udax_ftruncate(h->f, (off_t)len));
	/* as Linux: EINVAL for a handle not open for writing */
	if (refused(h, h->f && may_write(h), -EINVAL, -EINVAL, ret))
		return;
	EXPECT_ERR(ret, ENOSPC);
	if (!ret)
		node_resize(&cur, h->node, len);
}

/* A failed punch or zero range may have done part of its work: each
 * byte of the range is then old or zero; the model takes what is. */
static void adopt_range(struct handle *h, uint64_t off, uint64_t len)
{
	struct mnode *n = &cur.n[h->node];
	uint64_t end = off + len < n->size ? off + len : n->size;
	ssize_t got;

	if (off >= end || !may_read(h))
		return;
	got = udax_pread(h->f, rd_buf, end - off, (off_t)off);
	if (got != (ssize_t)(end - off))
		bug("read back after a failed punch: %zd", got);
	for (uint64_t b = 0; b < end - off; b++)
		if (rd_buf[b] && rd_buf[b] != n->data[off + b])
			bug("a failed punch changed byte %llu to %#x",
			    (unsigned long long)(off + b), rd_buf[b]);
	memcpy(n->data + off, rd_buf, end - off);
}

static void op_fallocate(const uint8_t *a)
{
	static const int modes[] = {
		0,
		FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE, /* EOPNOTSUPP */
	};
	struct handle *h = handle_of(a[0]);
	int mode = modes[a[1] % 6];
	uint64_t size = handle_size(h);
	uint64_t off = gen_off(a[2], a[3], size), len = gen_len(a[4], a[5]);
	uint64_t end = off + len;
	int ret;

	if (!(mode & FALLOC_FL_KEEP_SIZE) && too_big(size, end))
		return;
	snprintf(op_text, sizeof(op_text), "fallocate mode %#x %llu+%llu", mode,
		 (unsigned long long)off, (unsigned long long)len);
	ret = (int)result(udax_fallocate(h->f, mode, (off_t)off, (off_t)len));
	if (h->f && (mode == FALLOC_FL_PUNCH_HOLE || !len)) {
		if (ret != (len ? -EOPNOTSUPP : -EINVAL))
			bug("fallocate with a bad mode or length: %d", ret);
		return;
	}
	if (refused(h, h->f && may_write(h), -EBADF, -EISDIR, ret))
		return;
	EXPECT_ERR(ret, ENOSPC);
	if (ret) {
		if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
			adopt_range(h, off, len);
		return;
	}
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t zend = end < size ? end : size;
		if (off < zend)
			memset(cur.n[h->node].data + off, 0, zend - off);
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size)
		node_resize(&cur, h->node, end);
}

/* Receive into a handle's file from a socket pair, at the handle position
 * (a[6] & 1) or an offset, with UDAX_RECV_WAITALL (a[6] & 2): the peer
 * queues all of the count (up to 64 KiB, what the pair holds) or a part
 * of it (a[6] & 4) and ends the stream. The model takes the bytes the
 * call says it committed. */
#define RECV_MAX (64u << 10)
static void op_recvfile(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	int at_pos = a[6] & 1;
	unsigned flags = a[6] & 2 ? UDAX_RECV_WAITALL : 0;
	uint64_t size = handle_size(h);
	uint64_t off = at_pos ? h->pos : gen_off(a[1], a[2], size);
	uint64_t len = gen_len(a[3], a[4]) % (RECV_MAX + 1), sent = len;
	int sv[2], append = h->f && (h->flags & O_APPEND);
	ssize_t n;

	if (a[6] & 4)
		sent = len * (a[5] % 8) / 8;
	if (too_big(size, off + len))
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return;
	fill(io_buf, sent, a[5] | (uint64_t)op_index << 8);
	if (write(sv[1], io_buf, sent) != (ssize_t)sent) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	shutdown(sv[1], SHUT_WR);
	snprintf(op_text, sizeof(op_text),
		 "recvfile %llu bytes (%llu sent)%s at %llu%s",
		 (unsigned long long)len, (unsigned long long)sent,
		 flags ? " WAITALL" : "", (unsigned long long)off,
		 at_pos ? " (position)" : "");
	off_t o = (off_t)off;
	n = result(udax_recvfile(h->f, sv[0], at_pos ? NULL : &o, len, flags));
	close(sv[0]);
	close(sv[1]);
	if (refused(h, h->f && may_write(h), -EBADF, -EISDIR, n))
		return;
	if (append) {
		if (n != -EINVAL)
			bug("recvfile into an O_APPEND file returned %zd", n);
		return;
	}
	EXPECT_ERR(n, ENOSPC);
	if (n < 0)
		return;
	/* all that was sent with WAITALL; at least a byte without */
	if ((uint64_t)n > sent || (flags && (uint64_t)n != sent) ||
	    (!n && sent))
		bug("received %zd of %llu bytes sent", n,
		    (unsigned long long)sent);
	if (!at_pos && o != (off_t)(off + (uint64_t)n))
		bug("offset %lld after %zd bytes at %llu", (long long)o, n,
		    (unsigned long long)off);
	node_write(&cur, h->node, off, io_buf, (uint64_t)n);
	if (at_pos)
		h->pos = off + (uint64_t)n;
}

/* Clone (a[5] & 1: dedupe) a block-aligned range of one handle's file
 * over another's; the model copies the bytes of a clone that succeeds
 * (a dedupe changes none). Errors: as udax_clone_range documents. */
static void op_clone(const uint8_t *a)
{
	struct handle *d = handle_of(a[0]), *s = handle_of(a[1]);
	uint64_t ssize = handle_size(s), dsize = handle_size(d);
	uint64_t soff = (uint64_t)(a[2] % 24) * 4096;
	uint64_t doff = (uint64_t)(a[3] % 24) * 4096;
	uint64_t len = (uint64_t)(a[4] % 8) * 4096, n;
	int dedupe = a[5] & 1, ret;

	if (!len && !(a[4] & 8))
		len = 4096; /* 0 (to the end) one time in sixteen */
	n = soff >= ssize ? 0 : len && len < ssize - soff ? len : ssize - soff;
	if (too_big(dsize, doff + n))
		return;
	if (dedupe) {
		struct udax_dedupe_dest dd = {.dst = d->f,
					      .dst_off = (off_t)doff};
		snprintf(op_text, sizeof(op_text), "dedupe %llu+%llu -> %llu",
			 (unsigned long long)soff, (unsigned long long)len,
			 (unsigned long long)doff);
		ret = (int)result(udax_dedupe_range(s->f, (off_t)soff,
						    (off_t)len, &dd, 1));
		if (!ret && d->f)
			ret = dd.status == UDAX_DEDUPE_DIFFERS ? 0 : dd.status;
		else if (!ret)
			ret = -EBADF;
		EXPECT_ERR(ret, EBADF, EISDIR, EINVAL, ENOSPC);
		return;
	}
	snprintf(op_text, sizeof(op_text), "clone %llu+%llu -> %llu",
		 (unsigned long long)soff, (unsigned long long)len,
		 (unsigned long long)doff);
	ret = (int)result(udax_clone_range(d->f, (off_t)doff, s->f, (off_t)soff,
					   (off_t)len));
	EXPECT_ERR(ret, EBADF, EISDIR, EINVAL, ENOSPC);
	if (ret || !n)
		return;
	if (d->node == s->node && doff < soff + n && soff < doff + n)
		bug("an overlapping clone within one file succeeded");
	/* the source's bytes first: the destination may be the same file */
	uint8_t *tmp = malloc(n);
	if (!tmp)
		abort();
	memcpy(tmp, cur.n[s->node].data + soff, n);
	node_write(&cur, d->node, doff, tmp, n);
	free(tmp);
}

static void op_fsync(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	int ret;

	snprintf(op_text, sizeof(op_text), "%s",
		 a[1] & 1 ? "fdatasync" : "fsync");
	ret = (int)result(a[1] & 1 ? udax_fdatasync(h->f) : udax_fsync(h->f));
	if (!refused(h, 1, 0, 0, ret))
		expect_ok(ret);
}

static void op_fstat(const uint8_t *a)
{
	struct handle *h = handle_of(a[0]);
	struct stat st;
	int ret;

	snprintf(op_text, sizeof(op_text), "fstat");
	ret = (int)result(udax_fstat(h->f, &st));
	if (refused(h, 1, 0, 0, ret))
		return;
	expect_ok(ret);
	check_stat(h->node, &st, "fstat");
}

static void op_mkdir(const uint8_t *a)
{
	mode_t mode = (a[2] | (a[3] & 1u) << 8) & 01777;
	int ret;

	if (model_free_nodes(&cur) < 4)
		return;
	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "mkdir %s %#o", path1, mode);
	ret = (int)result(udax_mkdir(fs, path1, mode));
	EXPECT_ERR(ret, EEXIST, ENOENT, ENOTDIR, EACCES, ELOOP, ENOSPC);
	if (ret)
		return;
	name_created("mkdir", M_DIR);
}

static void op_rmdir(const uint8_t *a)
{
	struct mres r;
	int ret;

	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "rmdir %s", path1);
	ret = (int)result(udax_rmdir(fs, path1));
	EXPECT_ERR(ret, ENOENT, ENOTDIR, ENOTEMPTY, EACCES, EPERM, ELOOP, EBUSY,
		   EINVAL);
	if (ret)
		return;
	r = resolved(path1, 0, 1);
	if (r.name < 0 || cur.n[r.node].type != M_DIR ||
	    node_nlink(&cur, r.node) != 2)
		bug("rmdir of what is not an empty directory");
	for (int c = 0; c < NPOOL; c++)
		if (cur.n[r.node].child[c] >= 0)
			bug("rmdir of a directory with entries");
	cur.n[r.dir].child[r.name] = -1;
	cur.n[r.node].removed = 1;
	node_put(&cur, r.node);
}

/* Take name `name` out of directory `dir`: one link less. */
static void name_drop(int dir, int name)
{
	int i = cur.n[dir].child[name];

	cur.n[dir].child[name] = -1;
	if (cur.n[i].type == M_DIR)
		cur.n[i].removed = 1;
	else
		cur.n[i].nlink--;
	node_put(&cur, i);
}

static void op_unlink(const uint8_t *a)
{
	struct mres r;
	int ret;

	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "unlink %s", path1);
	ret = (int)result(udax_unlink(fs, path1));
	EXPECT_ERR(ret, ENOENT, ENOTDIR, EISDIR, EACCES, EPERM, ELOOP);
	if (ret)
		return;
	r = resolved(path1, 0, 1);
	if (r.name < 0 || cur.n[r.node].type == M_DIR)
		bug("unlink of a directory");
	name_drop(r.dir, r.name);
}

static void op_rename(const uint8_t *a)
{
	static const unsigned flag_set[] = {0, RENAME_NOREPLACE,
					    RENAME_EXCHANGE, 0};
	unsigned flags = flag_set[a[4] & 3];
	struct mres s, d;
	int ret;

	gen_path(path1, a[0], a[1]);
	gen_path(path2, a[2], a[3]);
	snprintf(op_text, sizeof(op_text), "rename %s %s flags %u", path1,
		 path2, flags);
	ret = (int)result(udax_rename(fs, path1, path2, flags));
	EXPECT_ERR(ret, ENOENT, ENOTDIR, EISDIR, EEXIST, ENOTEMPTY, EINVAL,
		   EBUSY, EACCES, EPERM, ELOOP, ENOSPC, EMLINK);
	if (ret)
		return;
	s = resolved(path1, 0, 1);
	d = resolved(path2, 0, 0);
	if (s.name < 0 || d.name < 0)
		bug("rename of \".\", \"..\" or the root");
	if (s.node == d.node)
		return; /* two names of one inode: nothing happens */
	int sdir = cur.n[s.node].type == M_DIR;
	int ddir = d.node >= 0 && cur.n[d.node].type == M_DIR;
	if (flags & RENAME_EXCHANGE) {
		if (d.node < 0)
			bug("exchanged with nothing");
		if ((sdir && node_below(&cur, d.dir, s.node)) ||
		    (ddir && node_below(&cur, s.dir, d.node)))
			bug("exchange moved a directory below itself");
		cur.n[s.dir].child[s.name] = d.node;
		cur.n[d.dir].child[d.name] = s.node;
		if (sdir)
			cur.n[s.node].parent = d.dir;
		if (ddir)
			cur.n[d.node].parent = s.dir;
		return;
	}
	if ((flags & RENAME_NOREPLACE) && d.node >= 0)
		bug("RENAME_NOREPLACE replaced");
	if (sdir && node_below(&cur, d.dir, s.node))
		bug("moved a directory below itself");
	if (d.node >= 0) {
		if (sdir != ddir)
			bug("rename replaced a %s by a %s",
			    ddir ? "directory" : "file",
			    sdir ? "directory" : "file");
		if (ddir && node_nlink(&cur, d.node) != 2)
			bug("rename replaced a directory with entries");
		for (int c = 0; ddir && c < NPOOL; c++)
			if (cur.n[d.node].child[c] >= 0)
				bug("rename replaced a directory with entries");
		name_drop(d.dir, d.name);
	}
	cur.n[s.dir].child[s.name] = -1;
	cur.n[d.dir].child[d.name] = s.node;
	if (sdir)
		cur.n[s.node].parent = d.dir;
}

static void op_link(const uint8_t *a)
{
	struct mres s, d;
	int ret;

	gen_path(path1, a[0], a[1]);
	gen_path(path2, a[2], a[3]);
	snprintf(op_text, sizeof(op_text), "link %s %s", path1, path2);
	ret = (int)result(udax_link(fs, path1, path2));
	EXPECT_ERR(ret, ENOENT, EEXIST, EPERM, ENOTDIR, EACCES, ELOOP, ENOSPC,
		   EMLINK);
	if (ret)
		return;
	s = resolved(path1, 0, 1);
	d = resolved(path2, 0, 0);
	if (cur.n[s.node].type == M_DIR || d.node >= 0 || d.name < 0)
		bug("link of a directory or over an existing name");
	cur.n[d.dir].child[d.name] = s.node;
	cur.n[s.node].nlink++;
}

static void op_symlink(const uint8_t *a)
{
	const char *target = targets[a[2] % 8];
	int ret;

	if (model_free_nodes(&cur) < 4)
		return;
	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "symlink %.20s %s", target, path1);
	ret = (int)result(udax_symlink(fs, target, path1));
	EXPECT_ERR(ret, EEXIST, ENOENT, ENOTDIR, EACCES, ELOOP, ENOSPC);
	if (ret)
		return;
	cur.n[name_created("symlink", M_LNK)].target = target;
}

static void op_readlink(const uint8_t *a)
{
	size_t size = 1 + a[2] % 200;
	char buf[256];
	struct mres r;
	ssize_t n;

	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "readlink %s %zu", path1, size);
	n = result(udax_readlink(fs, path1, buf, size));
	EXPECT_ERR(n, ENOENT, EINVAL, ENOTDIR, EACCES, ELOOP);
	if (n < 0)
		return;
	r = resolved(path1, 0, 1);
	if (cur.n[r.node].type != M_LNK)
		bug("readlink of what is not a symlink");
	const char *t = cur.n[r.node].target;
	size_t want = strlen(t) < size ? strlen(t) : size;
	if ((size_t)n != want || memcmp(buf, t, want))
		bug("readlink gave \"%.*s\"", (int)n, buf);
}

/* chmod, chown, lchown, utimens: permissions and times, which the model
 * does not follow; the path must name something. */
static void op_setattr(const uint8_t *a)
{
	static const uid_t ids[] = {0, 1000, 1001, (uid_t)-1};
	struct timespec ts[2] = {{1000 + a[3], a[4] * 1000}, {2000, UTIME_NOW}};
	int what = a[2] % 4, follow = 1, ret;

	gen_path(path1, a[0], a[1]);
	switch (what) {
	case 0:
		snprintf(op_text, sizeof(op_text), "chmod %s %#o", path1,
			 (a[3] | (a[4] & 0xf) << 8) & 07777);
		ret = udax_chmod(fs, path1, (a[3] | (a[4] & 0xf) << 8) & 07777);
		break;
	case 1:
	case 2:
		follow = what == 1;
		snprintf(op_text, sizeof(op_text), "%s %s %d %d",
			 follow ? "chown" : "lchown", path1, (int)ids[a[3] & 3],
			 (int)ids[a[4] & 3]);
		ret = (follow ? udax_chown : udax_lchown)(
			fs, path1, ids[a[3] & 3], ids[a[4] & 3]);
		break;
	default:
		follow = !(a[5] & 1);
		if (a[5] & 2)
			ts[0].tv_nsec = UTIME_OMIT;
		snprintf(op_text, sizeof(op_text), "utimens %s%s", path1,
			 follow ? "" : " nofollow");
		ret = udax_utimens(fs, path1, (a[5] & 4) ? NULL : ts,
				   follow ? 0 : AT_SYMLINK_NOFOLLOW);
		break;
	}
	EXPECT_ERR(result(ret), ENOENT, ENOTDIR, EACCES, EPERM, ELOOP);
	if (!ret)
		resolved(path1, follow, 1);
}

static void op_stat(const uint8_t *a)
{
	int how = a[2] % 3;
	struct stat st;
	struct mres r;
	int ret;

	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "%s %s",
		 how == 0 ? "stat" :
		 how == 1 ? "lstat" :
			    "access",
		 path1);
	ret = how == 0 ? udax_stat(fs, path1, &st) :
	      how == 1 ? udax_lstat(fs, path1, &st) :
			 udax_access(fs, path1, a[3] & 7);
	EXPECT_ERR(result(ret), ENOENT, ENOTDIR, EACCES, ELOOP);
	if (ret)
		return;
	r = resolved(path1, how != 1, 1);
	if (how != 2)
		check_stat(r.node, &st, path1);
}

static void op_readdir(const uint8_t *a)
{
	struct udax_dirent e;
	struct udax_dir *d;
	int seen[NPOOL] = {0}, n = 0, ret, i = -1;
	struct mres r;

	gen_path(path1, a[0], a[1]);
	snprintf(op_text, sizeof(op_text), "readdir %s", path1);
	ret = (int)result(udax_dir_open(fs, path1, &d));
	EXPECT_ERR(ret, ENOENT, ENOTDIR, EACCES, ELOOP);
	if (ret)
		return;
	r = resolved(path1, 1, 1);
	if (cur.n[r.node].type != M_DIR)
		bug("opened what is not a directory");
	while ((ret = udax_dir_read(d, &e)) == 1) {
		int name = pool_lookup(e.name, strlen(e.name));
		if (n++ < 2) {
			i = n == 1 ? r.node : cur.n[r.node].parent;
			if (strcmp(e.name, n == 1 ? "." : ".."))
				bug("readdir began with \"%s\"", e.name);
		} else if (name < 0 || seen[name]++ ||
			   (i = cur.n[r.node].child[name]) < 0) {
			bug("readdir gave \"%s\"", e.name);
		}
		check_ino(&cur, i, e.ino, "readdir");
		if (e.type != (cur.n[i].type == M_REG ? DT_REG :
			       cur.n[i].type == M_DIR ? DT_DIR :
							DT_LNK))
			bug("readdir: type of \"%s\"", e.name);
	}
	udax_dir_close(&d);
	expect_ok(ret);
	for (int c = 0; c < NPOOL; c++)
		if (cur.n[r.node].child[c] >= 0 && !seen[c])
			bug("readdir left out \"%s\"", pool[c]);
}

static void op_statfs(const uint8_t *a)
{
	struct statvfs sv;

	(void)a;
	snprintf(op_text, sizeof(op_text), "statfs");
	expect_ok(result(udax_statfs(fs, &sv)));
	if (sv.f_bfree > sv.f_blocks || sv.f_bavail > sv.f_bfree ||
	    sv.f_ffree > sv.f_files || sv.f_blocks * sv.f_frsize > DEV_SIZE)
		bug("statfs: %llu/%llu/%llu blocks, %llu/%llu inodes",
		    (unsigned long long)sv.f_bavail,
		    (unsigned long long)sv.f_bfree,
		    (unsigned long long)sv.f_blocks,
		    (unsigned long long)sv.f_ffree,
		    (unsigned long long)sv.f_files);
}

static void op_sync(const uint8_t *a)
{
	(void)a;
	snprintf(op_text, sizeof(op_text), "sync");
	expect_ok(result(udax_sync(fs)));
}

/* Act as root, as an unprivileged user, as another one, or as one in
 * group 0; with a umask. */
static void op_cred(const uint8_t *a)
{
	static const gid_t group0[] = {0};

	cred_now = (struct udax_cred){.uid = 0, .gid = 0};
	switch (a[0] % 4) {
	case 1:
		cred_now = (struct udax_cred){.uid = 1000, .gid = 1000};
		break;
	case 2:
		cred_now = (struct udax_cred){.uid = 1001, .gid = 1000};
		break;
	case 3:
		cred_now = (struct udax_cred){.uid = 1000,
					      .gid = 1001,
					      .ngroups = 1,
					      .groups = group0};
		break;
	}
	cred_now.umask = a[1] & 077;
	snprintf(op_text, sizeof(op_text), "credentials uid %d",
		 (int)cred_now.uid);
	expect_ok(result(udax_cred_set(&cred_now)));
}

static void op_reopen(const uint8_t *a)
{
	(void)a;
	snprintf(op_text, sizeof(op_text), "reopen");
	do_reopen();
}

/* Crash the next operation at its (a[0] % 8 + 1)-th fence, keeping the
 * pending lines that mask mode a[1] with seed a[2] says. */
static void op_arm(const uint8_t *a)
{
	if (crashes >= MAX_CRASHES)
		return; /* enough for one input: each costs three mounts */
	crash_armed = 1;
	crash_at = 1 + a[0] % 8u;
	crash_mask_mode = a[1];
	crash_mask_seed = a[2];
	snprintf(op_text, sizeof(op_text),
		 "crash the next operation at its fence %u", crash_at);
}

static void op_repeat(const uint8_t *a);

struct fuzz_op {
	void (*fn)(const uint8_t *a);
	int weight;
};

static const struct fuzz_op ops[] = {
	{op_open, 4},	 {op_close, 1},	   {op_write, 4},     {op_read, 2},
	{op_lseek, 1},	 {op_truncate, 2}, {op_fallocate, 2}, {op_fsync, 1},
	{op_fstat, 1},	 {op_mkdir, 2},	   {op_rmdir, 1},     {op_unlink, 2},
	{op_rename, 2},	 {op_link, 1},	   {op_symlink, 1},   {op_readlink, 1},
	{op_setattr, 1}, {op_stat, 1},	   {op_readdir, 1},   {op_statfs, 1},
	{op_sync, 1},	 {op_cred, 1},	   {op_reopen, 1},    {op_arm, 2},
	{op_repeat, 1},	 {op_clone, 2},	   {op_recvfile, 2},
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))
_Static_assert(NOPS < OP_KINDS, "one feature row per operation kind");

static const struct fuzz_op *pick_op(uint8_t b)
{
	static int total;
	int w;

	if (!total)
		for (size_t i = 0; i < NOPS; i++)
			total += ops[i].weight;
	w = b % total;
	for (size_t i = 0;; i++) {
		if (w < ops[i].weight)
			return &ops[i];
		w -= ops[i].weight;
	}
}

/* ------------------------------------------------------------------ */
/* one input                                                            */

static uint8_t *fresh; /* DEV_SIZE bytes: a new file system */

/* Make the new file system every input starts from, and the device. */
static void setup(void)
{
	/* the smallest journal and inode table: checkpoints and inode
	 * exhaustion come within a few dozen operations */
	struct udax_mkfs_opts mo = {
		.size = DEV_SIZE, .inode_count = 64, .journal_size = 256 << 10};
	int fd, ret;

	snprintf(img_path, sizeof(img_path), "/dev/shm/udax-fuzz-api-%d.img",
		 (int)getpid());
	img = malloc(DEV_SIZE);
	img2 = malloc(DEV_SIZE);
	fresh = malloc(DEV_SIZE);
	io_buf = malloc(MAX_IO);
	rd_buf = malloc(MAX_FILE + 1);
	if (!img || !img2 || !fresh || !io_buf || !rd_buf)
		abort();
	verbose = getenv("UDAX_FUZZ_VERBOSE") != NULL;
	unlink(img_path);
	ret = udax_mkfs(img_path, &mo);
	fd = open(img_path, O_RDONLY);
	if (ret || fd < 0 || pread(fd, fresh, DEV_SIZE, 0) != DEV_SIZE)
		bug("mkfs of %s: %d", img_path, ret);
	close(fd);
	atexit(remove_image);
	data_start_line =
		((const struct udax_super *)fresh)->data_start * 4096 / 64;
	ret = dev_crash_new(&cdev, DEV_SIZE);
	if (ret)
		bug("dev_crash_new: %d", ret);
	keep_ops = *cdev->ops;
	keep_ops.close = keep_close;
}

/* The image after the sequence: fsck must find it clean, and it must
 * open (on a memory device this time) as the model says. */
static void final_check(void)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct fsck_result fr;
	int fd, ret;

	fd = open(img_path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0 || pwrite(fd, cdev->base, DEV_SIZE, 0) != DEV_SIZE)
		bug("writing %s: %s", img_path, strerror(errno));
	close(fd);
	udax_cred_set(&root_cred);
	ret = fsck_run(img_path, FSCK_NO, NULL, &fr);
	if (ret != FSCK_EXIT_OK) {
		fsck_run(img_path, FSCK_NO, stderr, &fr);
		bug("fsck -n after the sequence: exit %d", ret);
	}
	ret = udax_open(&fs, img_path, &oo);
	if (ret)
		bug("open of the final image: %d (%s)", ret, errname(ret));
	check_all("after the final reopen");
	fs_close_all();
}

#define MAX_RUN 4096	       /* operations run per input, repeats included */
static const uint8_t *records; /* the input */
static unsigned ops_run;

/* Run one record: the operation, and its crash if one is armed. */
static void run_record(const uint8_t *rec)
{
	const struct fuzz_op *op = pick_op(rec[0]);
	int crashing = crash_armed && op->fn != op_arm;

	if (ops_run++ >= MAX_RUN)
		return;
	op_kind = (unsigned)(op - ops) % OP_KINDS;
	if (crashing)
		crash_begin();
	op_text[0] = 0;
	op_ret = 0;
	op->fn(rec + 1);
	if (verbose && op_text[0])
		fprintf(stderr, "%3u %-60s -> %ld %s\n", op_index, op_text,
			op_ret, errname(op_ret));
	if (crashing) {
		/* the fence of a careful program's fdatasync */
		dev_drain(cdev);
		crash_now();
	}
}

/* Run the a[1] % 4 + 1 records before this one again, a[0] + 1 times
 * (repeats among them excepted): a full journal, the checkpoint it
 * forces and the reuse of the log come within short inputs. */
static void op_repeat(const uint8_t *a)
{
	unsigned block = 1 + a[1] % 4u;

	for (unsigned t = 0; t <= a[0]; t++)
		for (unsigned k = block; k > 0; k--) {
			const uint8_t *rec = records + 8 * (op_index - k);
			if (k <= op_index && pick_op(rec[0])->fn != op_repeat)
				run_record(rec);
		}
	snprintf(op_text, sizeof(op_text), "repeated %u records %u times",
		 block, a[0] + 1u);
	op_ret = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!img)
		setup();
	model_reset(&cur);
	model_reset(&prev);
	memset(H, 0, sizeof(H));
	cred_now = root_cred;
	udax_cred_set(&root_cred);
	dev_crash_load(cdev, fresh);
	dev_crash_freeze_at(cdev, 0);
	fs_open_crash_device();
	records = data;
	ops_run = crashes = 0;
	for (op_index = 0; op_index < MAX_OPS && size >= 8;
	     op_index++, size -= 8)
		run_record(records + 8 * op_index);
	crash_armed = 0;
	snprintf(op_text, sizeof(op_text), "end of input");
	check_all("at the end");
	fs_close_all();
	final_check();
	/* give everything back: libFuzzer runs an input again to look
	 * for leaks when it ends with more allocations than frees */
	model_reset(&cur);
	model_reset(&prev);
	return 0;
}
