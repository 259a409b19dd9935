/* SPDX-License-Identifier: MIT */
/*
 * t_inject.c - fault injection: every system call and allocation of the
 * table in src/sys/sys.h is made to fail, one at a time.
 *
 * A workload (mkfs, open, create, small, large and appending writes,
 * truncate, punch, fallocate, mkdir, rename, rmdir, link, unlink,
 * symlink, fsync, a rename over a file, a directory split by long names
 * and listed, a file unlinked while open, a checkpoint, a mapping with a
 * hole read, stores, a zap and SIGBUS past a new end of file, msync and
 * munmap, a read-only mapping, close) runs once while the calls of each
 * kind are counted. Then for
 * every kind and every n up to a bound (sampled above it, with a printed
 * seed), the workload runs again with the n-th call of that kind failing
 * (and, for a few n, every call from the n-th on). The step that meets
 * the failure must return a negative errno (a mapped store: SIGBUS), and
 * then:
 *   - every file the steps before it completed reads back right, in the
 *     same mount and after a new open (which replays);
 *   - close returns (it may report the failure) and `fsck -n` finds the
 *     image clean;
 *   - the failed step, retried, and every later step succeed, and the
 *     final image holds exactly the workload's files; fsck finds it clean.
 * Each step is written to be retried ("make it so"), so a failed step
 * that half happened is completed by its retry. Nothing may crash or hang
 * (an alarm per case). Under the ASan build LeakSanitizer runs after each
 * case, so an error path that leaks names its case.
 *
 * The workload runs on a memory device (/dev/shm), there once more with
 * a remount before each step, and on a file device (msync, libpmem2: only
 * the calls it makes differently). The mapped part needs userfaultfd
 * (root here); it is left out, and said so, when udax_mmap is not
 * permitted.
 *
 * fsck runs under injection too, on a crashed image (a journal to replay,
 * an orphan): -n must end clean or in an operational error (exit 8) and
 * write nothing; -y may also end in 8, after which -y and -n find the
 * image clean and every file reads back.
 *
 * Environment: UDAX_INJECT_MAX (cases per kind; default all, but 40 in
 * the workload with remounts; 0 = all), UDAX_INJECT_SEED (the sampling),
 * UDAX_INJECT_CASE=dev:kind:n[:every] runs one case and tells what
 * happened (the id a failure prints).
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "fsck/fsck.h"
#include "sys/sys.h"
#include "test.h"

#define IMG_SIZE (32u << 20)
#define STEP_BAD 1	 /* a step saw the library misbehave (not an errno) */
#define CASE_TIMEOUT 600 /* a hang, not a slow machine */

static char why[512]; /* what a check found wrong */

#define BAD(...)                                                               \
	do {                                                                   \
		snprintf(why, sizeof(why), __VA_ARGS__);                       \
		return STEP_BAD;                                               \
	} while (0)

/* ---- the expected state: a tiny model of the tree ---- */

enum { M_NONE, M_REG, M_DIR, M_LNK };

struct ment {
	char path[320];
	int type;
	uint8_t *data; /* M_REG: contents; M_LNK: target (NUL-terminated) */
	size_t len;
};

#define MAX_ENTS 96
struct model {
	struct ment e[MAX_ENTS];
};

static struct ment *m_find(struct model *m, const char *path)
{
	for (int i = 0; i < MAX_ENTS; i++)
		if (m->e[i].type != M_NONE && !strcmp(m->e[i].path, path))
			return &m->e[i];
	return NULL;
}

static struct ment *m_add(struct model *m, const char *path, int type)
{
	struct ment *e = m_find(m, path);

	for (int i = 0; !e && i < MAX_ENTS; i++)
		if (m->e[i].type == M_NONE)
			e = &m->e[i];
	if (!e)
		abort();
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->type = type;
	return e;
}

static void m_remove(struct model *m, const char *path)
{
	struct ment *e = m_find(m, path);

	free(e->data);
	memset(e, 0, sizeof(*e));
}

static void m_resize(struct ment *e, size_t len)
{
	e->data = realloc(e->data, len ? len : 1);
	if (len > e->len)
		memset(e->data + e->len, 0, len - e->len);
	e->len = len;
}

static void m_write(struct model *m, const char *path, size_t off,
		    const uint8_t *src, size_t len)
{
	struct ment *e = m_find(m, path);

	if (!e)
		e = m_add(m, path, M_REG);
	if (off + len > e->len)
		m_resize(e, off + len);
	memcpy(e->data + off, src, len);
}

static void m_free(struct model *m)
{
	for (int i = 0; i < MAX_ENTS; i++)
		free(m->e[i].data);
	memset(m, 0, sizeof(*m));
}

/* ---- contents ---- */

static void fill(uint8_t *buf, size_t len, unsigned seed, size_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((off + i) * 131 + seed * 7 +
				   (off + i) / 4093);
}

/* One buffer of pattern `seed` from offset 0 (static, reused). */
static uint8_t *pattern(unsigned seed, size_t len)
{
	static uint8_t *buf;
	static size_t cap;

	if (len > cap) {
		free(buf);
		buf = malloc(len);
		cap = len;
	}
	fill(buf, len, seed, 0);
	return buf;
}

/* ---- the workload ---- */

struct ctx {
	char img[96];
	struct udax_fs *fs;
	size_t big;    /* bytes of the large write */
	int mapped;    /* run the mapped step */
	int in_failed; /* the step running is the one that failed before */
	int seq[64];   /* the workload: steps[] indices */
	int nseq;
};

#define APPENDS 40
#define APPEND_LEN(i) (700u + 37u * (unsigned)(i))
#define M_LEN (64u << 10)
#define PG 4096u
static char long_target[200];

static const struct udax_open_opts quiet = {.quiet = 1};

/* Write all of [buf, buf+len) at off; a short count is the failure. */
static int put(struct udax_file *f, const void *buf, size_t len, off_t off)
{
	ssize_t n = udax_pwrite(f, buf, len, off);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		return (int)n;
	return -EIO; /* short: a step failed part-way (tolerated) */
}

static int open_file(struct ctx *c, const char *path, int flags,
		     struct udax_file **f)
{
	return udax_file_open(c->fs, path, flags, 0644, f);
}

/* Close a handle after its work; the first error wins. */
static int close_file(struct udax_file **f, int ret)
{
	int r = udax_file_close(f);

	return ret ? ret : r;
}

static int st_mkfs(struct ctx *c)
{
	return udax_mkfs(c->img, &(struct udax_mkfs_opts){.size = IMG_SIZE});
}

static int st_open(struct ctx *c)
{
	return udax_open(&c->fs, c->img, &quiet);
}

static void md_none(struct model *m)
{
	(void)m;
}

static int st_create(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/a", O_CREAT | O_RDWR, &f);

	if (ret)
		return ret;
	return close_file(&f, put(f, pattern(1, 100), 100, 0));
}

static void md_create(struct model *m)
{
	m_write(m, "/a", 0, pattern(1, 100), 100);
}

static int st_write_large(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/big", O_CREAT | O_RDWR, &f);

	if (ret)
		return ret;
	ret = put(f, pattern(2, c->big), c->big, 0);
	if (!ret) /* past a hole */
		ret = put(f, pattern(3, 100000), 100000, (off_t)(3 * c->big));
	return close_file(&f, ret);
}

/* The model's ctx-dependent sizes. */
static size_t model_big;

static void md_write_large(struct model *m)
{
	m_write(m, "/big", 0, pattern(2, model_big), model_big);
	m_write(m, "/big", 3 * model_big, pattern(3, 100000), 100000);
}

/* The appended log: APPENDS records, each from pattern 4 at its offset. */
static size_t log_len(void)
{
	size_t n = 0;

	for (int i = 0; i < APPENDS; i++)
		n += APPEND_LEN(i);
	return n;
}

static int st_append(struct ctx *c)
{
	size_t total = log_len();
	uint8_t *want = pattern(4, total);
	struct udax_file *f;
	struct stat st;
	int ret = open_file(c, "/log", O_CREAT | O_WRONLY | O_APPEND, &f);

	if (ret)
		return ret;
	ret = udax_fstat(f, &st);
	/* a failed append left a prefix: go on from where the file ends */
	size_t at = ret ? total : (size_t)st.st_size, end = 0;
	for (int i = 0; !ret && i < APPENDS && at < total; i++) {
		end += APPEND_LEN(i);
		if (end <= at)
			continue;
		ssize_t n = udax_write(f, want + at, end - at);
		if (n < 0)
			ret = (int)n;
		else if ((size_t)n != end - at)
			ret = -EIO;
		else
			at = end;
	}
	if (!ret && at != total) {
		snprintf(why, sizeof(why), "/log: %zu bytes, more than written",
			 at);
		ret = STEP_BAD;
	}
	return close_file(&f, ret);
}

static void md_append(struct model *m)
{
	m_write(m, "/log", 0, pattern(4, log_len()), log_len());
}

#define TRUNC_BIG(big) ((big) / 3 + 123)

static int st_truncate(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/big", O_RDWR, &f);

	if (ret)
		return ret;
	ret = close_file(&f, udax_ftruncate(f, (off_t)TRUNC_BIG(c->big)));
	if (ret)
		return ret;
	ret = open_file(c, "/a", O_RDWR, &f);
	if (ret)
		return ret;
	return close_file(&f, udax_ftruncate(f, 10000));
}

static void md_truncate(struct model *m)
{
	m_resize(m_find(m, "/big"), TRUNC_BIG(model_big));
	m_resize(m_find(m, "/a"), 10000);
}

#define PUNCH_OFF 5000u
#define PUNCH_LEN(big) ((big) / 5)

static int st_punch(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/big", O_RDWR, &f);

	if (ret)
		return ret;
	ret = udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     PUNCH_OFF, (off_t)PUNCH_LEN(c->big));
	return close_file(&f, ret);
}

static void md_punch(struct model *m)
{
	struct ment *e = m_find(m, "/big");

	memset(e->data + PUNCH_OFF, 0, PUNCH_LEN(model_big));
}

static int st_fallocate(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/big", O_RDWR, &f);

	if (ret)
		return ret;
	/* unwritten blocks past the end, which grows: reads as zeros */
	ret = udax_fallocate(f, 0, (off_t)TRUNC_BIG(c->big), 300000);
	return close_file(&f, ret);
}

static void md_fallocate(struct model *m)
{
	m_resize(m_find(m, "/big"), TRUNC_BIG(model_big) + 300000);
}

/* EEXIST (or ENOENT for removals) from a retry: done before. */
static int again(int ret, int done_err, struct ctx *c)
{
	return ret == done_err && c->in_failed ? 0 : ret;
}

static int st_mkdir(struct ctx *c)
{
	static const char *dirs[] = {"/dir", "/dir/sub", "/dir/sub2"};
	int ret = 0;

	for (int i = 0; !ret && i < 3; i++)
		ret = again(udax_mkdir(c->fs, dirs[i], 0755), -EEXIST, c);
	return ret;
}

static void md_mkdir(struct model *m)
{
	m_add(m, "/dir", M_DIR);
	m_add(m, "/dir/sub", M_DIR);
	m_add(m, "/dir/sub2", M_DIR);
}

static int st_rename(struct ctx *c)
{
	struct stat st;

	if (c->in_failed && udax_stat(c->fs, "/a", &st) == -ENOENT &&
	    !udax_stat(c->fs, "/dir/a2", &st))
		return 0;
	return udax_rename(c->fs, "/a", "/dir/a2", 0);
}

static void md_rename(struct model *m)
{
	struct ment *e = m_find(m, "/a");

	snprintf(e->path, sizeof(e->path), "/dir/a2");
}

static int st_rmdir(struct ctx *c)
{
	return again(udax_rmdir(c->fs, "/dir/sub2"), -ENOENT, c);
}

static void md_rmdir(struct model *m)
{
	m_remove(m, "/dir/sub2");
}

static int st_link(struct ctx *c)
{
	return again(udax_link(c->fs, "/log", "/dir/log2"), -EEXIST, c);
}

static void md_link(struct model *m)
{
	struct ment *e = m_find(m, "/log");

	m_write(m, "/dir/log2", 0, e->data, e->len);
}

static int st_unlink(struct ctx *c)
{
	return again(udax_unlink(c->fs, "/log"), -ENOENT, c);
}

static void md_unlink(struct model *m)
{
	m_remove(m, "/log");
}

static int st_symlink(struct ctx *c)
{
	int ret = again(udax_symlink(c->fs, "dir/a2", "/s1"), -EEXIST, c);

	if (!ret)
		ret = again(udax_symlink(c->fs, long_target, "/dir/s2"),
			    -EEXIST, c);
	return ret;
}

static void md_symlink(struct model *m)
{
	struct ment *e = m_add(m, "/s1", M_LNK);

	e->data = (uint8_t *)strdup("dir/a2");
	e = m_add(m, "/dir/s2", M_LNK);
	e->data = (uint8_t *)strdup(long_target);
}

static int st_fsync(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/dir/a2", O_RDWR, &f);

	if (ret)
		return ret;
	ret = put(f, pattern(5, 3000), 3000, 9000);
	if (!ret)
		ret = udax_fsync(f);
	return close_file(&f, ret);
}

static void md_fsync(struct model *m)
{
	m_write(m, "/dir/a2", 9000, pattern(5, 3000), 3000);
}

/* Rename a new file over an old one (the old inode is freed). */
static int st_replace(struct ctx *c)
{
	struct udax_file *f;
	struct stat st;
	int ret;

	if (c->in_failed && udax_stat(c->fs, "/v", &st) == -ENOENT &&
	    !udax_stat(c->fs, "/dir/a2", &st) && st.st_size == 5000)
		return 0; /* renamed before */
	ret = open_file(c, "/v", O_CREAT | O_RDWR, &f);
	if (ret)
		return ret;
	ret = close_file(&f, put(f, pattern(7, 5000), 5000, 0));
	return ret ? ret : udax_rename(c->fs, "/v", "/dir/a2", 0);
}

static void md_replace(struct model *m)
{
	m_remove(m, "/dir/a2");
	m_write(m, "/dir/a2", 0, pattern(7, 5000), 5000);
}

/* Enough long names that the directory's tree splits; then a listing. */
#define NAMES 60

static void long_name(char *path, size_t size, int i)
{
	char name[201];

	memset(name, 'a' + i % 26, 200);
	name[200] = 0;
	snprintf(name, 8, "%03d", i);
	name[3] = '-';
	snprintf(path, size, "/dir/many/%s", name);
}

static int st_names(struct ctx *c)
{
	struct udax_file *f;
	struct udax_dir *d;
	struct udax_dirent ent;
	char path[320];
	int ret = again(udax_mkdir(c->fs, "/dir/many", 0755), -EEXIST, c);

	for (int i = 0; !ret && i < NAMES; i++) {
		long_name(path, sizeof(path), i);
		ret = open_file(c, path, O_CREAT | O_WRONLY, &f);
		if (!ret)
			ret = udax_file_close(&f);
	}
	if (!ret)
		ret = udax_dir_open(c->fs, "/dir/many", &d);
	if (ret)
		return ret;
	int n = 0;
	while ((ret = udax_dir_read(d, &ent)) == 1)
		n++;
	udax_dir_close(&d);
	if (!ret && n != NAMES + 2)
		BAD("/dir/many: %d entries listed, expected %d", n, NAMES + 2);
	return ret;
}

static void md_names(struct model *m)
{
	char path[320];

	m_add(m, "/dir/many", M_DIR);
	for (int i = 0; i < NAMES; i++) {
		long_name(path, sizeof(path), i);
		m_add(m, path, M_REG);
	}
}

/* A file unlinked while open (an orphan), freed at its last close. */
static int st_orphan(struct ctx *c)
{
	struct udax_file *f;
	int ret = open_file(c, "/o", O_CREAT | O_RDWR, &f);

	if (ret)
		return ret;
	ret = put(f, pattern(8, 300000), 300000, 0);
	if (!ret)
		ret = udax_unlink(c->fs, "/o");
	return close_file(&f, ret);
}

static int st_checkpoint(struct ctx *c)
{
	return udax_sync(c->fs);
}

/* ---- the mapped step ---- */

static sigjmp_buf map_jb;
static volatile sig_atomic_t map_in_store;

static void on_sigbus(int sig)
{
	(void)sig;
	if (map_in_store)
		siglongjmp(map_jb, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/* Load from the hole at p[hole] (it must read zeros), and unless
 * read_only store into every page; -EFAULT if an access raised SIGBUS
 * (the error a failed page fault gives a program). */
static int map_access(uint8_t *p, size_t hole, int read_only)
{
	struct sigaction sa = {.sa_handler = on_sigbus}, old;
	int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	map_in_store = 1;
	if (sigsetjmp(map_jb, 1) == 0) {
		uint8_t *want = pattern(6, M_LEN);
		if (p[hole] != 0) {
			snprintf(why, sizeof(why), "/m: a hole reads %u",
				 p[hole]);
			ret = STEP_BAD;
		}
		for (size_t o = 0; !read_only && !ret && o < M_LEN; o += PG)
			memcpy(p + o, want + o, 512);
	} else {
		ret = -EFAULT;
	}
	map_in_store = 0;
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

/* Load p[off] where it must raise SIGBUS (past the end of file): 0 if it
 * did, STEP_BAD if it read something. */
static int map_sigbus(uint8_t *p, size_t off)
{
	struct sigaction sa = {.sa_handler = on_sigbus}, old;
	volatile uint8_t v = 0;
	int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	map_in_store = 1;
	if (sigsetjmp(map_jb, 1) == 0) {
		v = p[off];
		ret = STEP_BAD;
	}
	map_in_store = 0;
	sigaction(SIGBUS, &old, NULL);
	(void)v;
	if (ret)
		BAD("/m: a load past the end of file read %u", v);
	return 0;
}

/* A read-only mapping of f: a hole reads as the zero page. */
static int map_read(struct udax_file *f)
{
	void *q;
	int ret = udax_mmap(f, 0, M_LEN, PROT_READ, UDAX_MAP_SHARED, &q);

	if (ret)
		return ret;
	ret = map_access(q, M_LEN - PG, 1);
	int r = udax_munmap(q, M_LEN);
	return ret ? ret : r;
}

/* A private writable mapping of f: a store into a hole makes the page the
 * mapping's own (write protection removed); the file is not changed. */
static int map_private(struct udax_file *f)
{
	struct sigaction sa = {.sa_handler = on_sigbus}, old;
	volatile uint8_t *p;
	void *q;
	int ret = udax_mmap(f, 0, M_LEN, PROT_READ | PROT_WRITE,
			    UDAX_MAP_PRIVATE, &q);

	if (ret)
		return ret;
	p = q;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	map_in_store = 1;
	if (sigsetjmp(map_jb, 1) == 0) {
		if (p[M_LEN - PG] != 0)
			ret = STEP_BAD;
		p[M_LEN - PG] = 7;
		if (!ret && p[M_LEN - PG] != 7)
			ret = STEP_BAD;
	} else {
		ret = -EFAULT;
	}
	map_in_store = 0;
	sigaction(SIGBUS, &old, NULL);
	if (ret == STEP_BAD)
		snprintf(why, sizeof(why), "/m: a private store into a hole");
	int r = udax_munmap(q, M_LEN);
	return ret ? ret : r;
}

#define M_CUT (M_LEN - 4 * PG) /* truncated to, then grown back */

static int st_mmap(struct ctx *c)
{
	struct udax_file *f;
	void *p;
	int ret = open_file(c, "/m", O_CREAT | O_RDWR, &f);

	if (ret)
		return ret;
	ret = udax_ftruncate(f, M_LEN);
	if (!ret)
		ret = udax_mmap(f, 0, M_LEN, PROT_READ | PROT_WRITE,
				UDAX_MAP_SHARED, &p);
	if (ret)
		return close_file(&f, ret);
	/* a hole read first (a zero page; past the stores on a retry) */
	ret = map_access(p, 3 * PG + 2048, 0);
	/* mapped pages past a new end of file go (a zap) and raise SIGBUS,
	 * and come back as holes when the file grows again (a zap of the
	 * SIGBUS pages) */
	if (!ret)
		ret = udax_ftruncate(f, M_CUT);
	if (!ret)
		ret = map_sigbus(p, M_LEN - PG);
	if (!ret)
		ret = udax_ftruncate(f, M_LEN);
	if (!ret)
		ret = udax_msync(p, M_LEN, MS_SYNC);
	int r = udax_munmap(p, M_LEN);
	ret = ret ? ret : r;
	if (!ret)
		ret = map_read(f);
	if (!ret)
		ret = map_private(f);
	return close_file(&f, ret);
}

static void md_mmap(struct model *m)
{
	uint8_t *want = pattern(6, M_LEN), *buf = calloc(1, M_LEN);

	for (size_t o = 0; o < M_CUT; o += PG)
		memcpy(buf + o, want + o, 512);
	m_write(m, "/m", 0, buf, M_LEN);
	free(buf);
}

static int st_close(struct ctx *c)
{
	int ret = udax_close(&c->fs);

	if (c->fs) /* closed whatever it says */
		BAD("close returned %d and left the file system open", ret);
	return ret;
}

/* Close and open again: the next step starts from cold caches (inodes,
 * the journal's shadow blocks), so its own allocations are the ones
 * that fail. */
static int st_remount(struct ctx *c)
{
	int ret = c->fs ? st_close(c) : 0;

	return ret ? ret : st_open(c);
}

struct step {
	const char *name;
	int (*run)(struct ctx *c);
	void (*model)(struct model *m);
	const char *touches[3]; /* paths whose state it changes */
};

enum { STEP_MKFS, STEP_OPEN, STEP_MMAP = 19, STEP_CLOSE, STEP_REMOUNT, NSTEPS };

static const struct step steps[NSTEPS] = {
	[STEP_MKFS] = {"mkfs", st_mkfs, md_none, {NULL}},
	[STEP_OPEN] = {"open", st_open, md_none, {NULL}},
	{"create", st_create, md_create, {"/a"}},
	{"write-large", st_write_large, md_write_large, {"/big"}},
	{"append", st_append, md_append, {"/log"}},
	{"truncate", st_truncate, md_truncate, {"/big", "/a"}},
	{"punch", st_punch, md_punch, {"/big"}},
	{"fallocate", st_fallocate, md_fallocate, {"/big"}},
	{"mkdir", st_mkdir, md_mkdir, {"/dir", "/dir/sub", "/dir/sub2"}},
	{"rename", st_rename, md_rename, {"/a", "/dir/a2"}},
	{"rmdir", st_rmdir, md_rmdir, {"/dir/sub2"}},
	{"link", st_link, md_link, {"/log", "/dir/log2"}},
	{"unlink", st_unlink, md_unlink, {"/log"}},
	{"symlink", st_symlink, md_symlink, {"/s1", "/dir/s2"}},
	{"fsync", st_fsync, md_fsync, {"/dir/a2"}},
	{"replace", st_replace, md_replace, {"/v", "/dir/a2"}},
	{"names", st_names, md_names, {"/dir/many"}},
	{"orphan", st_orphan, md_none, {"/o"}},
	{"checkpoint", st_checkpoint, md_none, {NULL}},
	[STEP_MMAP] = {"mmap", st_mmap, md_mmap, {"/m"}},
	[STEP_CLOSE] = {"close", st_close, md_none, {NULL}},
	[STEP_REMOUNT] = {"remount", st_remount, md_none, {NULL}},
};

enum { WL_ALL, WL_COLD, WL_LIGHT };

/* Does the light workload leave step k out? (Names only: on a file
 * device they make the same calls as on a memory device.) */
static int heavy_step(int k)
{
	int (*const heavy[])(struct ctx *) = {
		st_append,  st_rmdir,	st_link,  st_unlink,
		st_symlink, st_replace, st_names, st_orphan,
	};

	for (size_t i = 0; i < sizeof(heavy) / sizeof(heavy[0]); i++)
		if (steps[k].run == heavy[i])
			return 1;
	return 0;
}

/* The workload: every step in order (without the mapped one if it is
 * not permitted); WL_COLD: a remount before each step that needs the
 * file system; WL_LIGHT: without the heavy_step()s. */
static void build_seq(struct ctx *c, int wl)
{
	memset(long_target, 'x', sizeof(long_target) - 1);
	memcpy(long_target, "dir/", 4);
	c->nseq = 0;
	for (int k = STEP_MKFS; k <= STEP_CLOSE; k++) {
		if ((k == STEP_MMAP && !c->mapped) ||
		    (wl == WL_LIGHT && heavy_step(k)))
			continue;
		if (wl == WL_COLD && k > STEP_OPEN && k != STEP_CLOSE)
			c->seq[c->nseq++] = STEP_REMOUNT;
		c->seq[c->nseq++] = k;
	}
}

/* The state after the workload's steps [0, upto). */
static void model_upto(struct model *m, int upto, const struct ctx *c)
{
	memset(m, 0, sizeof(*m));
	m_add(m, "/", M_DIR);
	model_big = c->big;
	for (int i = 0; i < upto; i++)
		steps[c->seq[i]].model(m);
}

/* Does step k change path (or, for a directory it names, what is in
 * it)? */
static int touched_by(int k, const char *path)
{
	for (int i = 0; i < 3 && steps[k].touches[i]; i++) {
		const char *t = steps[k].touches[i];
		size_t n = strlen(t);
		if (!strncmp(t, path, n) && (!path[n] || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* ---- checking ---- */

static int check_entry(struct udax_fs *fs, const struct ment *e)
{
	static uint8_t *buf;
	static size_t cap;
	struct udax_file *f;
	struct stat st;
	char link[512];
	int ret;

	ret = udax_lstat(fs, e->path, &st);
	if (ret)
		BAD("%s: lstat: %s", e->path, udax_strerror(ret));
	if (e->type == M_DIR) {
		if (!S_ISDIR(st.st_mode))
			BAD("%s: not a directory", e->path);
		return 0;
	}
	if (e->type == M_LNK) {
		ssize_t n = udax_readlink(fs, e->path, link, sizeof(link));
		if (n != (ssize_t)strlen((char *)e->data) ||
		    memcmp(link, e->data, (size_t)n))
			BAD("%s: symlink target differs (%zd)", e->path, n);
		return 0;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != e->len)
		BAD("%s: size %lld, expected %zu", e->path,
		    (long long)st.st_size, e->len);
	if (e->len > cap) {
		free(buf);
		buf = malloc(e->len);
		cap = e->len;
	}
	ret = udax_file_open(fs, e->path, O_RDONLY, 0, &f);
	if (ret)
		BAD("%s: open: %s", e->path, udax_strerror(ret));
	ssize_t n = e->len ? udax_pread(f, buf, e->len, 0) : 0;
	udax_file_close(&f);
	if (n != (ssize_t)e->len)
		BAD("%s: read %zd of %zu", e->path, n, e->len);
	for (size_t i = 0; i < e->len; i++)
		if (buf[i] != e->data[i])
			BAD("%s: byte %zu is %02x, expected %02x", e->path, i,
			    buf[i], e->data[i]);
	return 0;
}

/* Every entry of m not touched by step k (k < 0: every entry) is right. */
static int check_model(struct udax_fs *fs, struct model *m, int k)
{
	for (int i = 0; i < MAX_ENTS; i++) {
		const struct ment *e = &m->e[i];
		if (e->type == M_NONE || (k >= 0 && touched_by(k, e->path)))
			continue;
		if (check_entry(fs, e))
			return STEP_BAD;
	}
	return 0;
}

/* The tree holds exactly the entries of m. */
static int check_tree(struct udax_fs *fs, struct model *m, const char *dir,
		      int *seen)
{
	struct udax_dir *d;
	struct udax_dirent ent;
	int ret = udax_dir_open(fs, dir, &d);

	if (ret)
		BAD("%s: opendir: %s", dir, udax_strerror(ret));
	while ((ret = udax_dir_read(d, &ent)) == 1) {
		char path[320];
		if (!strcmp(ent.name, ".") || !strcmp(ent.name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s",
			 strcmp(dir, "/") ? dir : "", ent.name);
		struct ment *e = m_find(m, path);
		if (!e) {
			udax_dir_close(&d);
			BAD("%s: exists, but should not", path);
		}
		(*seen)++;
		if (e->type == M_DIR && check_tree(fs, m, path, seen)) {
			udax_dir_close(&d);
			return STEP_BAD;
		}
	}
	udax_dir_close(&d);
	if (ret)
		BAD("%s: readdir: %s", dir, udax_strerror(ret));
	return 0;
}

static int check_all(struct udax_fs *fs, struct model *m)
{
	int seen = 1, want = 0; /* the root */

	for (int i = 0; i < MAX_ENTS; i++)
		want += m->e[i].type != M_NONE;
	if (check_model(fs, m, -1) || check_tree(fs, m, "/", &seen))
		return STEP_BAD;
	if (seen != want)
		BAD("%d entries, expected %d", seen, want);
	return 0;
}

static int check_fsck(const char *img)
{
	struct fsck_result fr;
	int ret = fsck_run(img, FSCK_NO, NULL, &fr);

	if (ret != FSCK_EXIT_OK) {
		fsck_run(img, FSCK_NO, stderr, &fr);
		BAD("fsck -n exit %d (%s)", ret, fr.message);
	}
	return 0;
}

/* ---- one case ---- */

struct kind_info {
	enum sys_kind kind;
	int err;      /* errno injected */
	int no_every; /* failing every call from the n-th on cannot end:
		       * the fault handler waits for these forever */
};

static const struct kind_info kinds[] = {
	{SYS_MALLOC, ENOMEM, 0},
	{SYS_CALLOC, ENOMEM, 0},
	{SYS_REALLOC, ENOMEM, 0},
	{SYS_ALIGNED_ALLOC, ENOMEM, 0},
	{SYS_OPEN, EMFILE, 0},
	{SYS_FTRUNCATE, EIO, 0},
	{SYS_FALLOCATE, EOPNOTSUPP, 0},
	{SYS_FSTAT, ENOMEM, 0},
	{SYS_FSTATFS, EIO, 0},
	{SYS_FLOCK, ENOLCK, 0},
	{SYS_FCNTL, EPERM, 0},
	{SYS_MEMFD_CREATE, EMFILE, 0},
	{SYS_MMAP, ENOMEM, 1},
	{SYS_MUNMAP, ENOMEM, 0},
	{SYS_MREMAP, ENOMEM, 0},
	{SYS_MADVISE, ENOMEM, 0},
	{SYS_MSYNC, EIO, 0},
	{SYS_GETRANDOM, ENOSYS, 0},
	{SYS_EVENTFD, EMFILE, 0},
	{SYS_POLL, ENOMEM, 1},
	{SYS_READ, ENOMEM, 1},
	{SYS_PTHREAD_CREATE, EAGAIN, 0},
	{SYS_USERFAULTFD, EPERM, 0},
	{SYS_UFFDIO_API, EINVAL, 0},
	{SYS_UFFDIO_REGISTER, ENOMEM, 0},
	{SYS_UFFDIO_COPY, ENOMEM, 0},
	{SYS_UFFDIO_ZEROPAGE, ENOMEM, 0},
	{SYS_UFFDIO_WAKE, EINVAL, 1},
	{SYS_UFFDIO_WRITEPROTECT, ENOMEM, 1},
	{SYS_PMEM2, ENOMEM, 0},
};
#define NKINDS (int)(sizeof(kinds) / sizeof(kinds[0]))

static const char *case_dev; /* "memory" or "file", for ids */
static char case_id[128];
static char case_img[96]; /* removed if the case hangs */

static void on_alarm(int sig)
{
	static const char msg[] = "  t_inject: case hung: ";
	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	(void)!write(2, case_id, strlen(case_id));
	(void)!write(2, "\n", 1);
	unlink(case_img);
	_exit(1);
}

/* Name the case that runs now, for the messages and the alarm. */
static void case_start(const struct ctx *c, const struct kind_info *ki,
		       uint64_t nth, int every)
{
	snprintf(case_id, sizeof(case_id), "%s:%s:%llu%s", case_dev,
		 sys_kind_name(ki->kind), (unsigned long long)nth,
		 every ? ":every" : "");
	snprintf(case_img, sizeof(case_img), "%s", c->img);
	why[0] = 0;
	alarm(CASE_TIMEOUT);
}

/* LeakSanitizer, when the build has it: leaks so far (each case's). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int leaks_found(void)
{
	return __lsan_do_recoverable_leak_check &&
	       __lsan_do_recoverable_leak_check();
}

/* Run the workload from position `from` with nothing failing. */
static int run_rest(struct ctx *c, int from)
{
	for (int i = from; i < c->nseq; i++) {
		int ret = steps[c->seq[i]].run(c);
		c->in_failed = 0;
		if (ret) {
			char was[sizeof(why)];
			snprintf(was, sizeof(was), "%s",
				 ret == STEP_BAD ? why : udax_strerror(ret));
			BAD("step %s after the failure: %.400s",
			    steps[c->seq[i]].name, was);
		}
	}
	return 0;
}

/* After the step at position pos failed with ret: the checks of the
 * header comment. */
static int after_failure(struct ctx *c, int pos, int ret)
{
	struct model m;
	int bad = 0, k = c->seq[pos];

	if (ret == STEP_BAD)
		return STEP_BAD; /* why says what */
	model_upto(&m, pos, c);
	if (c->fs) {
		/* the same mount still serves what was done before */
		bad = check_model(c->fs, &m, k);
		ret = udax_close(&c->fs);
		if (!bad && c->fs)
			bad = snprintf(why, sizeof(why),
				       "close after the failure: %d", ret);
	}
	if (!bad && k > STEP_MKFS)
		bad = check_fsck(c->img);
	if (!bad && k > STEP_MKFS) {
		ret = udax_open(&c->fs, c->img, &quiet);
		if (ret)
			bad = snprintf(why, sizeof(why),
				       "open after the failure: %s",
				       udax_strerror(ret));
		else
			bad = check_model(c->fs, &m, k);
	}
	m_free(&m);
	if (bad)
		return STEP_BAD;
	/* open is redone by the retry of the step that failed */
	if (k == STEP_OPEN && c->fs)
		udax_close(&c->fs);
	c->in_failed = 1;
	return run_rest(c, pos);
}

struct case_result {
	int failed_step; /* -1: no step failed (the failure was absorbed) */
	int err;
	uint64_t injected;
};

/* One case: kind fails at its nth call (every: and after). 0 or 1. */
static int run_case(struct ctx *c, const struct kind_info *ki, uint64_t nth,
		    int every, struct case_result *res)
{
	struct model m;
	int ret = 0, bad = 0, i;

	case_start(c, ki, nth, every);
	unlink(c->img);
	res->failed_step = -1;
	res->err = 0;
	sys_count_reset();
	sys_fail_set(ki->kind, nth, ki->err, every);
	for (i = 0; i < c->nseq; i++) {
		ret = steps[c->seq[i]].run(c);
		if (ret)
			break;
	}
	sys_count_stop();
	res->injected = sys_failed(ki->kind);
	if (i < c->nseq) {
		res->failed_step = c->seq[i];
		res->err = ret;
		bad = after_failure(c, i, ret);
	}
	/* the end: exactly the workload's tree, and a clean image */
	if (!bad) {
		ret = udax_open(&c->fs, c->img, &quiet);
		if (ret) {
			snprintf(why, sizeof(why), "final open: %s",
				 udax_strerror(ret));
			bad = 1;
		}
	}
	if (!bad) {
		model_upto(&m, c->nseq, c);
		bad = check_all(c->fs, &m);
		m_free(&m);
	}
	if (c->fs && udax_close(&c->fs) && !bad) {
		snprintf(why, sizeof(why), "final close failed");
		bad = 1;
	}
	if (!bad)
		bad = check_fsck(c->img);
	alarm(0);
	if (leaks_found()) {
		snprintf(why, sizeof(why), "memory leaked (LeakSanitizer)");
		bad = 1;
	}
	if (bad)
		fprintf(stderr, "  inject id %s: step %s: %s\n", case_id,
			res->failed_step >= 0 ? steps[res->failed_step].name :
						"(none failed)",
			why);
	return bad;
}

/* ---- campaigns ---- */

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9E3779B97F4A7C15ull;
	uint64_t z = *s;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int mmap_permitted(struct ctx *c)
{
	struct udax_file *f;
	struct udax_fs *fs;
	void *p;
	int ret;

	if (udax_open_memory(&fs, 8 << 20))
		return 0;
	ret = udax_file_open(fs, "/p", O_CREAT | O_RDWR, 0600, &f);
	if (!ret) {
		ret = udax_mmap(f, 0, PG, PROT_READ, UDAX_MAP_SHARED, &p);
		if (!ret)
			udax_munmap(p, PG);
		udax_file_close(&f);
	}
	udax_close(&fs);
	(void)c;
	return ret == 0;
}

/* Run the one case named by id "dev:kind:n[:every]", telling all. */
static int replay_case(struct ctx *c, const char *id)
{
	char dev[32], kname[32], ev[16] = "";
	unsigned long long n;
	struct case_result res;

	if (sscanf(id, "%31[^:]:%31[^:]:%llu:%15s", dev, kname, &n, ev) < 3 ||
	    strcmp(dev, case_dev))
		return -1;
	for (int i = 0; i < NKINDS; i++) {
		if (strcmp(sys_kind_name(kinds[i].kind), kname))
			continue;
		int bad = run_case(c, &kinds[i], n, !strcmp(ev, "every"), &res);
		printf("# %s: %llu injected, step %s returned %d (%s)%s\n", id,
		       (unsigned long long)res.injected,
		       res.failed_step >= 0 ? steps[res.failed_step].name :
					      "(none)",
		       res.err, res.err < 0 ? udax_strerror(res.err) : "",
		       bad ? ": BAD" : "");
		return bad;
	}
	return -1;
}

/* Every kind (or those of `only`, ended by SYS_NKINDS), every n (or max
 * of them) on one device and workload. */
static int campaign(const char *dev, const char *img_dir, size_t big, int wl,
		    uint64_t max, const enum sys_kind *only)
{
	struct ctx c = {.big = big};
	const char *e;
	uint64_t counts[SYS_NKINDS], seed, bad = 0, cases = 0;
	struct case_result res;
	int k;

	case_dev = dev;
	snprintf(c.img, sizeof(c.img), "%s/udax-inject-%d.img", img_dir,
		 (int)getpid());
	signal(SIGALRM, on_alarm);
	c.mapped = mmap_permitted(&c);
	if (!c.mapped)
		printf("# %s: udax_mmap is not permitted here (userfaultfd): "
		       "the mapped step is left out\n",
		       dev);
	build_seq(&c, wl);
	e = getenv("UDAX_INJECT_CASE");
	if (e && *e) {
		int r = replay_case(&c, e);
		unlink(c.img);
		if (r < 0)
			SKIP("UDAX_INJECT_CASE=%s is for another device", e);
		return r ? T_FAIL : T_PASS;
	}
	if ((e = getenv("UDAX_INJECT_MAX")))
		max = strtoull(e, NULL, 0);
	e = getenv("UDAX_INJECT_SEED");
	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);

	/* the count: the workload once, nothing failing */
	sys_count_reset();
	unlink(c.img);
	for (k = 0; k < c.nseq; k++) {
		int ret = steps[c.seq[k]].run(&c);
		if (ret) {
			sys_count_stop();
			fprintf(stderr, "  workload step %s failed: %s\n",
				steps[c.seq[k]].name,
				ret == STEP_BAD ? why : udax_strerror(ret));
			return T_FAIL;
		}
	}
	sys_count_stop();
	for (k = 0; k < SYS_NKINDS; k++)
		counts[k] = sys_count((enum sys_kind)k);
	if (max)
		printf("# %s: seed %llu (UDAX_INJECT_SEED replays the "
		       "sampling)\n",
		       dev, (unsigned long long)seed);

	for (int i = 0; i < NKINDS; i++) {
		const struct kind_info *ki = &kinds[i];
		uint64_t n = counts[ki->kind], tried = 0, injected = 0;
		uint64_t errors = 0, absorbed = 0, kbad = 0;
		uint64_t rs = seed + (uint64_t)i;
		int wanted = !only;

		for (int o = 0; only && only[o] != SYS_NKINDS; o++)
			wanted |= only[o] == ki->kind;
		if (!wanted)
			continue;

		for (uint64_t j = 1; j <= n; j++) {
			/* all of them up to the bound, else a sample that
			 * always has the first and the last */
			if (max && n > max && j != 1 && j != n &&
			    rng_next(&rs) % n >= max)
				continue;
			for (int every = 0; every < 2; every++) {
				/* every call from the nth on: a few n */
				if (every &&
				    (ki->no_every ||
				     (j != 1 && j != n && j != (n + 1) / 2)))
					continue;
				kbad += run_case(&c, ki, j, every, &res);
				tried++;
				injected += res.injected;
				if (res.failed_step >= 0)
					errors++;
				else if (res.injected)
					absorbed++;
			}
		}
		bad += kbad;
		cases += tried;
		printf("# %s: %-16s %5llu calls, %4llu cases, %5llu failures "
		       "injected: %llu returned an error, %llu absorbed%s\n",
		       dev, sys_kind_name(ki->kind), (unsigned long long)n,
		       (unsigned long long)tried, (unsigned long long)injected,
		       (unsigned long long)errors, (unsigned long long)absorbed,
		       kbad ? "  BAD" : "");
		fflush(stdout);
	}
	unlink(c.img);
	printf("# %s: %llu cases, %llu bad\n", dev, (unsigned long long)cases,
	       (unsigned long long)bad);
	return bad ? T_FAIL : T_PASS;
}

/* ---- fsck under injection ---- */

static int copy_file(const char *from, const char *to, uint8_t **keep,
		     size_t *len)
{
	struct stat st;
	int in = open(from, O_RDONLY), out, ret = -EIO;

	if (in < 0 || fstat(in, &st))
		return -errno;
	uint8_t *buf = malloc((size_t)st.st_size);
	if (buf && read(in, buf, (size_t)st.st_size) == st.st_size) {
		out = open(to, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (out >= 0 &&
		    write(out, buf, (size_t)st.st_size) == st.st_size)
			ret = 0;
		if (out >= 0)
			close(out);
	}
	close(in);
	if (keep && !ret) {
		*keep = buf;
		*len = (size_t)st.st_size;
	} else {
		free(buf);
	}
	return ret;
}

/* Is the file's content still `want`? */
static int same_file(const char *path, const uint8_t *want, size_t len)
{
	uint8_t *now = malloc(len + 1);
	int fd = open(path, O_RDONLY), same;

	same = fd >= 0 && now && read(fd, now, len + 1) == (ssize_t)len &&
	       !memcmp(now, want, len);
	if (fd >= 0)
		close(fd);
	free(now);
	return same;
}

/* One fsck case: -n must end 0 (clean) or 8 (could not check) and change
 * nothing; -y must end 0, 1 or 8, after which a -y without failures
 * and a -n find it clean and every file reads back. */
static int fsck_case(struct ctx *c, const char *crashed, const uint8_t *img,
		     size_t img_len, int yes, const struct kind_info *ki,
		     uint64_t nth, int every, struct model *m, int *failed)
{
	struct fsck_result fr;
	int ret, bad = 0;

	case_start(c, ki, nth, every);
	if (yes && copy_file(crashed, c->img, NULL, NULL))
		BAD("cannot copy the image");
	sys_count_reset();
	sys_fail_set(ki->kind, nth, ki->err, every);
	ret = fsck_run(yes ? c->img : crashed, yes ? FSCK_YES : FSCK_NO, NULL,
		       &fr);
	sys_count_stop();
	*failed = ret == FSCK_EXIT_ERROR;
	if (!yes) {
		if (ret != FSCK_EXIT_OK && ret != FSCK_EXIT_ERROR)
			bad = snprintf(why, sizeof(why), "fsck -n exit %d",
				       ret);
		else if (ret == FSCK_EXIT_ERROR && !fr.message[0])
			bad = snprintf(why, sizeof(why), "exit 8, no message");
		else if (!same_file(crashed, img, img_len))
			bad = snprintf(why, sizeof(why), "fsck -n wrote");
	} else if (ret == FSCK_EXIT_UNCORRECTED || ret > FSCK_EXIT_ERROR) {
		bad = snprintf(why, sizeof(why), "fsck -y exit %d", ret);
	} else {
		ret = fsck_run(c->img, FSCK_YES, NULL, &fr);
		if (ret != FSCK_EXIT_OK && ret != FSCK_EXIT_CORRECTED)
			bad = snprintf(why, sizeof(why),
				       "fsck -y after: exit %d", ret);
		if (!bad)
			bad = check_fsck(c->img);
		if (!bad && (ret = udax_open(&c->fs, c->img, &quiet)))
			bad = snprintf(why, sizeof(why), "open: %s",
				       udax_strerror(ret));
		if (!bad)
			bad = check_all(c->fs, m);
		if (c->fs)
			udax_close(&c->fs);
	}
	alarm(0);
	if (leaks_found())
		bad = snprintf(why, sizeof(why), "memory leaked");
	if (bad)
		fprintf(stderr, "  inject id %s: %s\n", case_id, why);
	return !!bad;
}

/* A crashed image: the workload up to its checkpoint, with a file
 * unlinked while open, copied aside before anything is checkpointed:
 * fsck must replay its journal and find the orphan. */
static int crashed_image(struct ctx *c, const char *crashed, struct model *m)
{
	struct udax_file *f;
	int i, ret = 0;

	unlink(c->img);
	for (i = 0; steps[c->seq[i]].run != st_checkpoint; i++) {
		ret = steps[c->seq[i]].run(c);
		if (ret) {
			fprintf(stderr, "  step %s\n", steps[c->seq[i]].name);
			return ret;
		}
	}
	model_upto(m, i, c);
	if (!ret)
		ret = open_file(c, "/o2", O_CREAT | O_RDWR, &f);
	if (ret)
		return ret;
	ret = put(f, pattern(9, 100000), 100000, 0);
	if (!ret)
		ret = udax_unlink(c->fs, "/o2");
	if (!ret)
		ret = copy_file(c->img, crashed, NULL, NULL);
	udax_file_close(&f);
	udax_close(&c->fs);
	return ret;
}

static int inject_fsck(void)
{
	struct ctx c = {.big = 1u << 20};
	struct model m;
	char crashed[128];
	uint8_t *img;
	size_t img_len;
	uint64_t max = 0, bad = 0;
	const char *e = getenv("UDAX_INJECT_MAX");

	if (e)
		max = strtoull(e, NULL, 0);
	e = getenv("UDAX_INJECT_CASE");
	if (e && *e && strncmp(e, "fsck-", 5))
		SKIP("UDAX_INJECT_CASE=%s is for another device", e);
	snprintf(c.img, sizeof(c.img), "/dev/shm/udax-inject-%d.img",
		 (int)getpid());
	snprintf(crashed, sizeof(crashed), "/dev/shm/udax-inject-%d.crash",
		 (int)getpid());
	signal(SIGALRM, on_alarm);
	build_seq(&c, WL_ALL);
	int ret = crashed_image(&c, crashed, &m);
	if (!ret)
		ret = copy_file(crashed, c.img, &img, &img_len);
	if (ret) {
		fprintf(stderr, "  the crashed image: %s\n",
			ret == STEP_BAD ? why : udax_strerror(ret));
		return T_FAIL;
	}
	for (int yes = 0; yes < 2; yes++) {
		uint64_t counts[SYS_NKINDS];
		struct fsck_result fr;
		case_dev = yes ? "fsck-y" : "fsck-n";
		if (yes)
			copy_file(crashed, c.img, NULL, NULL);
		sys_count_reset();
		ret = fsck_run(yes ? c.img : crashed, yes ? FSCK_YES : FSCK_NO,
			       NULL, &fr);
		sys_count_stop();
		if (ret != (yes ? FSCK_EXIT_CORRECTED : FSCK_EXIT_OK)) {
			fprintf(stderr, "  %s of the crashed image: exit %d\n",
				case_dev, ret);
			return T_FAIL;
		}
		for (int k = 0; k < SYS_NKINDS; k++)
			counts[k] = sys_count((enum sys_kind)k);
		for (int i = 0; i < NKINDS; i++) {
			const struct kind_info *ki = &kinds[i];
			uint64_t n = counts[ki->kind], tried = 0, errs = 0;
			uint64_t kbad = 0;
			char id[64];
			for (uint64_t j = 1; j <= n; j++) {
				snprintf(id, sizeof(id), "%s:%s:%llu", case_dev,
					 sys_kind_name(ki->kind),
					 (unsigned long long)j);
				if (e && *e ?
					    strcmp(e, id) :
					    max && n > max && j != 1 &&
						    j != n && j % (n / max + 1))
					continue;
				int failed = 0;
				kbad += fsck_case(&c, crashed, img, img_len,
						  yes, ki, j, 0, &m, &failed);
				errs += failed;
				tried++;
			}
			bad += kbad;
			if (n)
				printf("# %s: %-16s %5llu calls, %4llu cases: "
				       "%llu ended in an operational error%s\n",
				       case_dev, sys_kind_name(ki->kind),
				       (unsigned long long)n,
				       (unsigned long long)tried,
				       (unsigned long long)errs,
				       kbad ? "  BAD" : "");
		}
	}
	m_free(&m);
	free(img);
	unlink(crashed);
	unlink(c.img);
	return bad ? T_FAIL : T_PASS;
}

/* A memory device: a file on tmpfs (cache-line flushes). */
static int inject_memory(void)
{
	return campaign("memory", "/dev/shm", 3u << 20, WL_ALL, 0, NULL);
}

/* The same with a remount before each step. */
static int inject_memory_cold(void)
{
	return campaign("memory-cold", "/dev/shm", 3u << 20, WL_COLD, 40, NULL);
}

/* A file device off tmpfs: libpmem2 maps it, msync makes it durable.
 * Only the calls a file device makes differently, in the light workload:
 * each msync writes back for real. */
static int inject_file(void)
{
	static const enum sys_kind only[] = {SYS_MSYNC, SYS_PMEM2, SYS_MMAP,
					     SYS_FSTATFS, SYS_NKINDS};
	const char *dir = getenv("TMPDIR");

	return campaign("file", dir && *dir ? dir : "/tmp", 600u << 10,
			WL_LIGHT, 0, only);
}

static const struct test_case tests[] = {
	{"memory", inject_memory},
	{"memory-cold", inject_memory_cold},
	{"file", inject_file},
	{"fsck", inject_fsck},
};
TEST_MAIN("inject", tests)
