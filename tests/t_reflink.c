/* SPDX-License-Identifier: MIT */
/*
 * t_reflink.c - reflink, dedupe and copy-on-write (issue 15): the
 * semantics and errors of udax_clone, udax_clone_range and
 * udax_dedupe_range (Linux's FICLONE, FICLONERANGE, FIDEDUPERANGE);
 * every path that changes a shared block leaves the other file as it
 * was; space is counted once; freeing the last owner frees the blocks;
 * a store through a writable mapping never lands in a shared block;
 * fsck finds every image clean.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "fsck/fsck.h"
#include "test.h"
#include "util.h"

#define BS 4096

static char img[64];

/* A new file system on a /dev/shm file, so fsck can look at it after. */
static int fs_new(struct udax_fs **fs)
{
	struct udax_mkfs_opts mo = {0};
	int fd;

	snprintf(img, sizeof(img), "/dev/shm/udax-t-reflink-%d", getpid());
	unlink(img);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	if (fd < 0 || ftruncate(fd, 64 << 20))
		return -errno;
	close(fd);
	int ret = udax_mkfs(img, &mo);
	return ret ? ret : udax_open(fs, img, NULL);
}

/* Close the file system and fsck it: must be clean. */
static int fs_done(struct udax_fs **fs)
{
	struct fsck_result fr;
	int ret = udax_close(fs);

	if (ret)
		return ret;
	ret = fsck_run(img, FSCK_NO, NULL, &fr);
	if (ret)
		fsck_run(img, FSCK_NO, stderr, &fr);
	unlink(img);
	return ret;
}

/* A file of n bytes, byte i = (i / 7 + seed) & 0xff. */
static struct udax_file *file_pattern(struct udax_fs *fs, const char *path,
				      size_t n, int seed)
{
	struct udax_file *f;
	char *b = malloc(n ? n : 1);

	if (!b ||
	    udax_file_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f)) {
		free(b);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		b[i] = (char)((i / 7 + (size_t)seed) & 0xff);
	if (n && udax_pwrite(f, b, n, 0) != (ssize_t)n)
		udax_file_close(&f);
	free(b);
	return f;
}

/* Does file f hold exactly the pattern of file_pattern(n, seed)? */
static int is_pattern(struct udax_file *f, size_t n, int seed)
{
	struct stat st;
	char *b = malloc(n + 1);
	int ok;

	if (!b || udax_fstat(f, &st) || (size_t)st.st_size != n) {
		free(b);
		return 0;
	}
	ok = udax_pread(f, b, n + 1, 0) == (ssize_t)n;
	for (size_t i = 0; ok && i < n; i++)
		ok = b[i] == (char)((i / 7 + (size_t)seed) & 0xff);
	free(b);
	return ok;
}

static uint64_t free_blocks(struct udax_fs *fs)
{
	struct statvfs sv;

	return udax_statfs(fs, &sv) ? 0 : sv.f_bfree;
}

/* How many bytes of [0, len) of f are in extents flagged shared. */
static uint64_t shared_bytes(struct udax_file *f, off_t len)
{
	struct udax_extent e[64];
	ssize_t n = udax_file_extents(f, 0, len, e, 64);
	uint64_t s = 0;

	for (ssize_t i = 0; i < n; i++)
		if (e[i].flags & UDAX_EXTENT_SHARED)
			s += e[i].length;
	return s;
}

static int t_clone_basic(void)
{
	struct udax_fs *fs;
	struct udax_file *a, *b;
	struct stat st;
	const size_t n = 5 * BS + 100;

	CHECK_EQ(fs_new(&fs), 0);
	CHECK((a = file_pattern(fs, "/a", n, 1)));
	CHECK_EQ(udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b), 0);
	uint64_t before = free_blocks(fs);
	CHECK_EQ(udax_clone(b, a), 0);
	CHECK(is_pattern(b, n, 1));
	CHECK(is_pattern(a, n, 1));
	/* shared blocks count once: at most a tree node more in use */
	CHECK(before - free_blocks(fs) <= 2);
	CHECK_EQ(shared_bytes(a, (off_t)n), n);
	CHECK_EQ(shared_bytes(b, (off_t)n), n);
	/* st_blocks counts each clone's blocks (512-byte units) */
	CHECK_EQ(udax_fstat(b, &st), 0);
	CHECK(st.st_blocks >= 6 * 8);
	/* a clone into an existing range frees what it replaces */
	CHECK_EQ(udax_clone(b, a), 0);
	CHECK(is_pattern(b, n, 1));
	/* the feature bit is on the media, in the clone's transaction: a
	 * reopen (and fsck) sees it and the shares */
	struct udax_info info;
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(udax_close(&fs), 0);
	struct fsck_result fr;
	CHECK_EQ(fsck_run(img, FSCK_NO, NULL, &fr), 0);
	CHECK_EQ(udax_open(&fs, img, NULL), 0);
	CHECK_EQ(udax_info(fs, &info), 0);
	CHECK(info.features & 0x1); /* REFLINK */
	CHECK_EQ(udax_file_open(fs, "/a", O_RDWR, 0, &a), 0);
	CHECK_EQ(udax_file_open(fs, "/b", O_RDWR, 0, &b), 0);
	CHECK_EQ(shared_bytes(b, (off_t)n), n);
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_unlink(fs, "/a"), 0);
	CHECK(is_pattern(b, n, 1));
	CHECK_EQ(shared_bytes(b, (off_t)n), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(udax_unlink(fs, "/b"), 0);
	/* the last owner frees the blocks (and the tree node) */
	CHECK(free_blocks(fs) >= before + 6 - 1);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

static int t_clone_range(void)
{
	struct udax_fs *fs;
	struct udax_file *a, *b;
	char buf[BS];

	CHECK_EQ(fs_new(&fs), 0);
	CHECK((a = file_pattern(fs, "/a", 8 * BS, 3)));
	CHECK((b = file_of_byte(fs, "/b", 8 * BS, 'x')));
	/* blocks 2..4 of a over blocks 5..7 of b */
	CHECK_EQ(udax_clone_range(b, 5 * BS, a, 2 * BS, 3 * BS), 0);
	CHECK_EQ(udax_pread(b, buf, BS, 4 * BS), BS);
	CHECK(buf[0] == 'x' && buf[BS - 1] == 'x');
	for (int k = 0; k < 3; k++) {
		char want[BS];
		CHECK_EQ(udax_pread(a, want, BS, (2 + k) * BS), BS);
		CHECK_EQ(udax_pread(b, buf, BS, (5 + k) * BS), BS);
		CHECK(!memcmp(buf, want, BS));
	}
	CHECK_EQ(shared_bytes(a, 8 * BS), 3 * BS);
	/* past the end of b: it grows */
	CHECK_EQ(udax_clone_range(b, 10 * BS, a, 0, BS), 0);
	struct stat st;
	CHECK_EQ(udax_fstat(b, &st), 0);
	CHECK_EQ(st.st_size, 11 * BS);
	/* within one file, not overlapping */
	CHECK_EQ(udax_clone_range(a, 6 * BS, a, 0, 2 * BS), 0);
	char x[BS], y[BS];
	CHECK_EQ(udax_pread(a, x, BS, 0), BS);
	CHECK_EQ(udax_pread(a, y, BS, 6 * BS), BS);
	CHECK(!memcmp(x, y, BS));
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

static int t_clone_errors(void)
{
	struct udax_fs *fs, *fs2;
	struct udax_file *a, *b, *ro, *wo, *ap, *d, *o;

	CHECK_EQ(fs_new(&fs), 0);
	CHECK_EQ(udax_open_memory(&fs2, 16 << 20), 0);
	CHECK((a = file_pattern(fs, "/a", 4 * BS + 10, 5)));
	CHECK((b = file_of_byte(fs, "/b", 8 * BS, 'y')));
	CHECK((o = file_of_byte(fs2, "/o", BS, 'o')));
	CHECK_EQ(udax_mkdir(fs, "/d", 0755), 0);
	CHECK_EQ(udax_file_open(fs, "/d", O_RDONLY, 0, &d), 0);
	CHECK_EQ(udax_file_open(fs, "/b", O_RDONLY, 0, &ro), 0);
	CHECK_EQ(udax_file_open(fs, "/a", O_WRONLY, 0, &wo), 0);
	CHECK_EQ(udax_file_open(fs, "/b", O_RDWR | O_APPEND, 0, &ap), 0);

	CHECK_EQ(udax_clone(NULL, a), -EBADF);
	CHECK_EQ(udax_clone(o, a), -EXDEV);
	CHECK_EQ(udax_clone(b, d), -EISDIR);
	CHECK_EQ(udax_clone(ro, a), -EBADF);
	CHECK_EQ(udax_clone(b, wo), -EBADF);
	CHECK_EQ(udax_clone(ap, a), -EBADF);
	CHECK_EQ(udax_clone_range(b, -BS, a, 0, BS), -EINVAL);
	CHECK_EQ(udax_clone_range(b, 100, a, 0, BS), -EINVAL);
	CHECK_EQ(udax_clone_range(b, 0, a, 100, BS), -EINVAL);
	CHECK_EQ(udax_clone_range(b, 0, a, 0, 100), -EINVAL);
	CHECK_EQ(udax_clone_range(b, 0, a, 8 * BS, BS), -EINVAL);
	/* overlapping ranges of one file */
	CHECK_EQ(udax_clone_range(a, BS, a, 0, 2 * BS), -EINVAL);
	/* to the unaligned end of a: only where b ends too */
	CHECK_EQ(udax_clone_range(b, 0, a, 0, 0), -EINVAL);
	CHECK_EQ(udax_clone_range(b, 4 * BS, a, 0, 0), 0);
	struct stat st;
	CHECK_EQ(udax_fstat(b, &st), 0);
	CHECK_EQ(st.st_size, 4 * BS + 4 * BS + 10);
	/* nothing of b changed before 4 blocks */
	char buf[BS];
	CHECK_EQ(udax_pread(b, buf, BS, 3 * BS), BS);
	CHECK(buf[0] == 'y');
	/* len 0 at the end of the source: nothing to do */
	CHECK_EQ(udax_clone_range(b, 0, a, 4 * BS + 10, 0), 0);
	CHECK(is_pattern(a, 4 * BS + 10, 5));
	CHECK_EQ(udax_file_close(&ro), 0);
	CHECK_EQ(udax_file_close(&wo), 0);
	CHECK_EQ(udax_file_close(&ap), 0);
	CHECK_EQ(udax_file_close(&d), 0);
	CHECK_EQ(udax_file_close(&o), 0);
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(udax_close(&fs2), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

/* One path that changes bytes of a clone: each must copy, never write
 * the shared block. */
enum cow_path {
	COW_PWRITE,
	COW_PWRITE_EDGES,
	COW_APPEND_TAIL,
	COW_ZERO_RANGE,
	COW_ZERO_WHOLE,
	COW_PUNCH,
	COW_TRUNCATE,
	COW_TRUNCATE_GROW,
	COW_NPATHS
};

static int cow_apply(struct udax_file *b, enum cow_path p)
{
	char buf[3 * BS];

	memset(buf, 'W', sizeof(buf));
	switch (p) {
	case COW_PWRITE:
		return udax_pwrite(b, buf, 1, BS + 7) == 1 ? 0 : -1;
	case COW_PWRITE_EDGES:
		return udax_pwrite(b, buf, 2 * BS, BS / 2) == 2 * BS ? 0 : -1;
	case COW_APPEND_TAIL:
		/* past the end: the shared last block's tail is zeroed */
		return udax_pwrite(b, buf, 1, 6 * BS) == 1 ? 0 : -1;
	case COW_ZERO_RANGE:
		return udax_fallocate(b, FALLOC_FL_ZERO_RANGE, 100, BS);
	case COW_ZERO_WHOLE:
		return udax_fallocate(b, FALLOC_FL_ZERO_RANGE, BS, 2 * BS);
	case COW_PUNCH:
		return udax_fallocate(
			b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10,
			3 * BS);
	case COW_TRUNCATE:
		return udax_ftruncate(b, 2 * BS + 5);
	case COW_TRUNCATE_GROW:
		return udax_ftruncate(b, 2 * BS + 5) ?:
						       udax_ftruncate(b, 4 * BS);
	default:
		return -1;
	}
}

static int t_cow_paths(void)
{
	const size_t n = 5 * BS + 300;

	for (int p = 0; p < COW_NPATHS; p++) {
		struct udax_fs *fs;
		struct udax_file *a, *b;

		CHECK_EQ(fs_new(&fs), 0);
		CHECK((a = file_pattern(fs, "/a", n, 9)));
		CHECK_EQ(udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b),
			 0);
		CHECK_EQ(udax_clone(b, a), 0);
		uint64_t before = free_blocks(fs);
		if (cow_apply(b, (enum cow_path)p)) {
			fprintf(stderr, "  path %d failed\n", p);
			return T_FAIL;
		}
		if (!is_pattern(a, n, 9)) {
			fprintf(stderr, "  path %d changed the source\n", p);
			return T_FAIL;
		}
		/* the copy is b's own: b changed, a still shares the rest */
		CHECK(shared_bytes(a, (off_t)n) < 6 * BS);
		CHECK(shared_bytes(a, (off_t)n) > 0 || p == COW_TRUNCATE);
		/* copies cost at most the blocks the path touched */
		CHECK(before - free_blocks(fs) <= 4);
		CHECK_EQ(udax_file_close(&a), 0);
		CHECK_EQ(udax_file_close(&b), 0);
		CHECK_EQ(fs_done(&fs), 0);
	}
	return T_PASS;
}

/* A write to the source changes only the source. */
static int t_cow_source(void)
{
	struct udax_fs *fs;
	struct udax_file *a, *b;
	char c = 'Q', r;

	CHECK_EQ(fs_new(&fs), 0);
	CHECK((a = file_pattern(fs, "/a", 3 * BS, 2)));
	CHECK_EQ(udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b), 0);
	CHECK_EQ(udax_clone(b, a), 0);
	CHECK_EQ(udax_pwrite(a, &c, 1, BS), 1);
	CHECK(is_pattern(b, 3 * BS, 2));
	CHECK_EQ(udax_pread(a, &r, 1, BS), 1);
	CHECK(r == 'Q');
	CHECK_EQ(shared_bytes(b, 3 * BS), 2 * BS);
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

/* ENOSPC during copy-on-write: a clean error, nothing lost. */
static int t_cow_enospc(void)
{
	struct udax_fs *fs;
	struct udax_file *a, *b, *fill;
	char buf[BS];

	CHECK_EQ(fs_new(&fs), 0);
	CHECK((a = file_pattern(fs, "/a", 16 * BS, 4)));
	CHECK_EQ(udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b), 0);
	CHECK_EQ(udax_clone(b, a), 0);
	CHECK_EQ(device_fill(fs, "/fill"), 0);
	memset(buf, 'E', sizeof(buf));
	ssize_t w = udax_pwrite(b, buf, BS, 0);
	while (w == BS) /* the pool for tree nodes may give a few */
		w = udax_pwrite(b, buf, BS, 3 * BS);
	CHECK(w == -ENOSPC || w == BS);
	CHECK(is_pattern(a, 16 * BS, 4));
	CHECK_EQ(udax_unlink(fs, "/fill"), 0);
	CHECK_EQ(udax_file_open(fs, "/b", O_RDWR, 0, &fill), 0);
	CHECK_EQ(udax_pwrite(fill, buf, BS, 3 * BS), BS);
	CHECK_EQ(udax_file_close(&fill), 0);
	CHECK(is_pattern(a, 16 * BS, 4));
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

static int t_dedupe(void)
{
	struct udax_fs *fs;
	struct udax_file *a, *b, *c;
	struct udax_dedupe_dest d[2];
	char z = 'z';

	CHECK_EQ(fs_new(&fs), 0);
	CHECK((a = file_pattern(fs, "/a", 6 * BS, 7)));
	CHECK((b = file_pattern(fs, "/b", 6 * BS, 7)));
	CHECK((c = file_pattern(fs, "/c", 6 * BS, 7)));
	CHECK_EQ(udax_pwrite(c, &z, 1, 3 * BS + 1), 1);
	uint64_t before = free_blocks(fs);
	d[0] = (struct udax_dedupe_dest){.dst = b, .dst_off = 0};
	d[1] = (struct udax_dedupe_dest){.dst = c, .dst_off = 0};
	CHECK_EQ(udax_dedupe_range(a, 0, 6 * BS, d, 2), 0);
	CHECK_EQ(d[0].status, UDAX_DEDUPE_SAME);
	CHECK_EQ(d[0].bytes_deduped, 6 * BS);
	CHECK_EQ(d[1].status, UDAX_DEDUPE_DIFFERS);
	CHECK_EQ(d[1].bytes_deduped, 0);
	CHECK(free_blocks(fs) >= before + 6 - 1);
	CHECK_EQ(shared_bytes(b, 6 * BS), 6 * BS);
	CHECK_EQ(shared_bytes(c, 6 * BS), 0);
	/* the first 3 blocks of c are the same: dedupe them */
	d[1].dst_off = 0;
	CHECK_EQ(udax_dedupe_range(a, 0, 3 * BS, &d[1], 1), 0);
	CHECK_EQ(d[1].status, UDAX_DEDUPE_SAME);
	CHECK_EQ(shared_bytes(c, 6 * BS), 3 * BS);
	/* ranges past the end, unaligned offsets */
	d[0].dst_off = 5 * BS;
	CHECK_EQ(udax_dedupe_range(a, 0, 2 * BS, d, 1), 0);
	CHECK_EQ(d[0].status, -EINVAL);
	d[0].dst_off = 1;
	CHECK_EQ(udax_dedupe_range(a, 0, BS, d, 1), 0);
	CHECK_EQ(d[0].status, -EINVAL);
	CHECK(is_pattern(a, 6 * BS, 7));
	CHECK(is_pattern(b, 6 * BS, 7));
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(udax_file_close(&c), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

/* Stores through mappings: a writable shared mapping of a clone gets
 * private copies (copy on map); a read-only one keeps the shared
 * blocks; a file with a writable mapping is not cloned (-ETXTBSY). */
static sigjmp_buf probe_jb;

static void probe_sig(int sig)
{
	(void)sig;
	siglongjmp(probe_jb, 1);
}

/* The byte at p, or -1 if reading it raises SIGBUS. */
static int probe_load(volatile const char *p)
{
	struct sigaction sa = {.sa_handler = probe_sig}, old;
	int v;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	v = sigsetjmp(probe_jb, 1) ? -1 : (unsigned char)*p;
	sigaction(SIGBUS, &old, NULL);
	return v;
}

static int t_mapped(void)
{
	struct udax_fs *fs;
	struct udax_file *a, *b, *c;
	char *p, *q;

	if (!mapping_permitted())
		SKIP("userfaultfd not permitted");
	CHECK_EQ(fs_new(&fs), 0);
	CHECK((a = file_pattern(fs, "/a", 4 * BS, 6)));
	CHECK_EQ(udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b), 0);
	CHECK_EQ(udax_file_open(fs, "/c", O_CREAT | O_RDWR, 0644, &c), 0);
	CHECK_EQ(udax_clone(b, a), 0);
	CHECK_EQ(udax_mmap(a, 0, 4 * BS, PROT_READ, UDAX_MAP_SHARED,
			   (void **)&q),
		 0);
	CHECK_EQ(q[BS], (char)((BS / 7 + 6) & 0xff));
	CHECK_EQ(shared_bytes(a, 4 * BS), 4 * BS);
	CHECK_EQ(udax_mmap(b, 0, 4 * BS, PROT_READ | PROT_WRITE,
			   UDAX_MAP_SHARED, (void **)&p),
		 0);
	CHECK_EQ(shared_bytes(b, 4 * BS), 0);
	p[BS] = 'M';
	p[3 * BS + 5] = 'N';
	CHECK(is_pattern(a, 4 * BS, 6));
	CHECK_EQ(q[BS], (char)((BS / 7 + 6) & 0xff));
	/* b is mapped writable: no clone from it or into it */
	CHECK_EQ(udax_clone(c, b), -ETXTBSY);
	CHECK_EQ(udax_clone(b, a), -ETXTBSY);
	CHECK_EQ(udax_munmap(p, 4 * BS), 0);
	CHECK_EQ(udax_clone(c, b), 0);
	char r;
	CHECK_EQ(udax_pread(c, &r, 1, BS), 1);
	CHECK(r == 'M');
	/* a read-only mapping of a clone still reads after the source's
	 * copy-on-write */
	CHECK_EQ(udax_pwrite(b, "S", 1, 0), 1);
	CHECK_EQ(udax_pread(c, &r, 1, 0), 1);
	CHECK(r == (char)6);
	/* a clone that grows the file: pages of a mapping past the old end
	 * that raised SIGBUS read the file now (the difftest once found
	 * them still raising it) */
	char *g;
	CHECK_EQ(udax_mmap(c, 0, 8 * BS, PROT_READ, UDAX_MAP_SHARED,
			   (void **)&g),
		 0);
	CHECK_EQ(probe_load(g + 5 * BS), -1);
	CHECK_EQ(udax_clone_range(c, 6 * BS, a, 0, BS), 0);
	CHECK_EQ(probe_load(g + 5 * BS), 0);
	CHECK_EQ(probe_load(g + 6 * BS + 1), (unsigned char)(1 / 7 + 6));
	CHECK_EQ(udax_munmap(g, 8 * BS), 0);
	CHECK_EQ(udax_munmap(q, 4 * BS), 0);
	CHECK_EQ(udax_file_close(&a), 0);
	CHECK_EQ(udax_file_close(&b), 0);
	CHECK_EQ(udax_file_close(&c), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

#define MODEL_MAX (24 * BS) /* bytes of one file's model */

/* Zero bytes [a, b) of a file's model. */
static void model_zero(char *m, size_t a, size_t b)
{
	for (size_t i = a; i < b && i < MODEL_MAX; i++)
		m[i] = 0;
}

/* Every device block mapped by two extents or more is flagged shared in
 * each, and no other is: the refcount tree agrees with the extent maps
 * as far as the API shows them. */
static int shares_consistent(struct udax_file **f, int nf)
{
	static uint8_t cnt[1 << 15];
	struct udax_extent ex[256];

	memset(cnt, 0, sizeof(cnt));
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < nf; i++) {
			ssize_t n =
				udax_file_extents(f[i], 0, 1 << 30, ex, 256);
			if (n < 0)
				return 0;
			for (ssize_t k = 0; k < n; k++) {
				if (ex[k].flags & UDAX_EXTENT_UNWRITTEN)
					continue;
				uint64_t b0 = ex[k].dev_offset / BS;
				uint64_t nb = (ex[k].length + BS - 1) / BS;
				for (uint64_t b = b0; b < b0 + nb; b++) {
					if (pass == 0 && b < sizeof(cnt)) {
						cnt[b]++;
						continue;
					}
					int sh = !!(ex[k].flags &
						    UDAX_EXTENT_SHARED);
					if (b < sizeof(cnt) &&
					    (cnt[b] >= 2) != sh) {
						fprintf(stderr,
							"  block %llu of f%d: "
							"%d owners, flag %d\n",
							(unsigned long long)b,
							i, cnt[b], sh);
						return 0;
					}
				}
			}
		}
	return 1;
}

/* Random clones, writes, truncates and zeroed ranges over a few files,
 * checked against a model of their bytes and of their sharing after each
 * step, then fsck. UDAX_SEED replays; UDAX_VERBOSE=1 lists the steps, 2
 * the extents after each. */
static int t_random(void)
{
	enum { NF = 4, MAXB = MODEL_MAX / BS };
	static char model[NF][MAXB * BS];
	static size_t msize[NF];
	struct udax_fs *fs;
	struct udax_file *f[NF];
	char path[16], buf[MAXB * BS];
	const char *e = getenv("UDAX_SEED");
	unsigned seed = e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(0);

	int verbose = getenv("UDAX_VERBOSE") ? atoi(getenv("UDAX_VERBOSE")) : 0;

	fprintf(stderr, "  t_reflink random: UDAX_SEED=%u\n", seed);
	srand(seed);
	CHECK_EQ(fs_new(&fs), 0);
	for (int i = 0; i < NF; i++) {
		snprintf(path, sizeof(path), "/f%d", i);
		CHECK_EQ(
			udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &f[i]),
			0);
		msize[i] = 0;
	}
	for (int step = 0; step < 600; step++) {
		int x = rand() % NF, y = rand() % NF, op = rand() % 4;
		size_t off = (size_t)(rand() % MAXB) * BS;
		size_t len = (size_t)(rand() % 6) * BS;
		if (op == 0) {
			/* write */
			size_t o = off + (size_t)(rand() % BS);
			size_t l = (size_t)(rand() % (2 * BS)) + 1;
			if (o >= sizeof(model[0]) || l > sizeof(model[0]) - o)
				continue;
			for (size_t k = 0; k < l; k++)
				buf[k] = (char)rand();
			if (verbose)
				fprintf(stderr, "%d: write f%d %zu+%zu\n", step,
					x, o, l);
			CHECK_EQ(udax_pwrite(f[x], buf, l, (off_t)o),
				 (ssize_t)l);
			char *m = model[x];
			if (o > msize[x])
				model_zero(m, msize[x], o);
			memcpy(m + o, buf, l);
			if (o + l > msize[x])
				msize[x] = o + l;
		} else if (op == 1) {
			size_t so = (size_t)(rand() % MAXB) * BS;
			if (!len || so >= msize[y] || off + len > sizeof(buf))
				continue;
			if (so + len > msize[y])
				len = msize[y] - so;
			int ret = udax_clone_range(f[x], (off_t)off, f[y],
						   (off_t)so, (off_t)len);
			int want_ok = !(x == y && off < so + len + BS &&
					so < off + len + BS) &&
				      (len % BS == 0 || off + len >= msize[x]);
			if (ret && !want_ok)
				continue; /* errors are t_clone_errors' */
			if (verbose)
				fprintf(stderr,
					"%d: clone f%d %zu <- f%d %zu+%zu\n",
					step, x, off, y, so, len);
			CHECK_EQ(ret, 0);
			if (off > msize[x])
				model_zero(model[x], msize[x], off);
			memmove(model[x] + off, model[y] + so, len);
			if (off + len > msize[x])
				msize[x] = off + len;
		} else if (op == 2) {
			size_t t = (size_t)(rand() % (MAXB * BS));
			if (verbose)
				fprintf(stderr, "%d: truncate f%d %zu\n", step,
					x, t);
			CHECK_EQ(udax_ftruncate(f[x], (off_t)t), 0);
			if (t > msize[x])
				model_zero(model[x], msize[x], t);
			msize[x] = t;
		} else {
			/* zero a range */
			size_t o = off + (size_t)(rand() % BS), l = len + 1;
			if (o + l > msize[x])
				continue;
			if (verbose)
				fprintf(stderr, "%d: zero f%d %zu+%zu\n", step,
					x, o, l);
			CHECK_EQ(udax_fallocate(f[x],
						FALLOC_FL_ZERO_RANGE |
							FALLOC_FL_KEEP_SIZE,
						(off_t)o, (off_t)l),
				 0);
			model_zero(model[x], o, o + l);
		}
		for (int i = 0; verbose > 1 && i < NF; i++) {
			struct udax_extent ex[64];
			ssize_t ne =
				udax_file_extents(f[i], 0, 1 << 30, ex, 64);
			fprintf(stderr, "   f%d:", i);
			for (ssize_t k = 0; k < ne; k++)
				fprintf(stderr, " %llu+%llu@%llu%s",
					(unsigned long long)ex[k].offset / BS,
					(unsigned long long)ex[k].length / BS,
					(unsigned long long)ex[k].dev_offset /
						BS,
					ex[k].flags & 2 ? "s" :
					ex[k].flags & 1 ? "u" :
							  "");
			fprintf(stderr, "\n");
		}
		if (!shares_consistent(f, NF)) {
			fprintf(stderr, "  step %d: sharing is wrong\n", step);
			return T_FAIL;
		}
		for (int i = 0; i < NF; i++) {
			struct stat st;
			CHECK_EQ(udax_fstat(f[i], &st), 0);
			CHECK_EQ(st.st_size, msize[i]);
			CHECK_EQ(udax_pread(f[i], buf, sizeof(buf), 0),
				 (ssize_t)msize[i]);
			if (memcmp(buf, model[i], msize[i])) {
				size_t k = 0;
				while (buf[k] == model[i][k])
					k++;
				fprintf(stderr,
					"  step %d: file %d differs at %zu\n",
					step, i, k);
				return T_FAIL;
			}
		}
	}
	for (int i = 0; i < NF; i++)
		CHECK_EQ(udax_file_close(&f[i]), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

/* Threads: clones, whole-block writes, punches and reads of three files
 * at once, freed blocks poisoned. Every block of every file holds one
 * byte value throughout (writers write whole blocks of one value, clones
 * and punches move or zero whole blocks), so a reader that ever sees a
 * block of mixed bytes, or of the poison, has seen a copy-on-write torn
 * or a shared block freed under a file. Then fsck. UDAX_SEED replays
 * the choices of each thread (not their interleaving). */
enum { TH_FILES = 3, TH_BLOCKS = 48, TH_STEPS = 400 };

struct th_arg {
	struct udax_file *f[TH_FILES];
	unsigned seed;
	int role; /* 0 clone, 1 write, 2 punch, 3 read */
	int bad;
};

static void *th_run(void *p)
{
	struct th_arg *a = p;
	char buf[BS];

	for (int i = 0; i < TH_STEPS && !a->bad; i++) {
		int x = (int)(rand_r(&a->seed) % TH_FILES);
		int y = (int)(rand_r(&a->seed) % TH_FILES);
		off_t b = (off_t)(rand_r(&a->seed) % TH_BLOCKS) * BS;
		off_t n = (off_t)(1 + rand_r(&a->seed) % 8) * BS;
		if (b + n > TH_BLOCKS * BS)
			n = TH_BLOCKS * BS - b;
		if (a->role == 0) {
			off_t sb = (off_t)(rand_r(&a->seed) % TH_BLOCKS) * BS;
			if (sb + n > TH_BLOCKS * BS)
				continue;
			int r = udax_clone_range(a->f[x], b, a->f[y], sb, n);
			if (r && r != -EINVAL)
				a->bad = 1;
		} else if (a->role == 1) {
			/* any value but 0 and the poison */
			memset(buf, 1 + (int)(rand_r(&a->seed) % 0xa0), BS);
			if (udax_pwrite(a->f[x], buf, BS, b) != BS)
				a->bad = 2;
		} else if (a->role == 2) {
			if (udax_fallocate(a->f[x],
					   FALLOC_FL_PUNCH_HOLE |
						   FALLOC_FL_KEEP_SIZE,
					   b, n))
				a->bad = 3;
		} else {
			for (off_t o = 0; o < TH_BLOCKS * BS && !a->bad;
			     o += BS) {
				if (udax_pread(a->f[x], buf, BS, o) != BS)
					a->bad = 4;
				for (int k = 1; k < BS && !a->bad; k++)
					if (buf[k] != buf[0])
						a->bad = 5;
				if ((unsigned char)buf[0] == 0xa5)
					a->bad = 6;
			}
		}
	}
	return NULL;
}

static int t_threads(void)
{
	struct th_arg args[5];
	pthread_t th[5];
	struct udax_fs *fs;
	struct udax_file *f[TH_FILES];
	const char *e = getenv("UDAX_SEED");
	unsigned seed = e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(0);
	char path[24];

	fprintf(stderr, "  t_reflink threads: UDAX_SEED=%u\n", seed);
	setenv("UDAX_POISON_FREED", "1", 1);
	int ret = fs_new(&fs);
	unsetenv("UDAX_POISON_FREED");
	CHECK_EQ(ret, 0);
	for (int i = 0; i < TH_FILES; i++) {
		snprintf(path, sizeof(path), "/t%d", i);
		CHECK((f[i] = file_of_byte(fs, path, TH_BLOCKS * BS, 'a' + i)));
	}
	for (int t = 0; t < 5; t++) {
		args[t] = (struct th_arg){.seed = seed + (unsigned)t * 7919,
					  .role = t < 4 ? t : 0};
		memcpy(args[t].f, f, sizeof(f));
		CHECK_EQ(pthread_create(&th[t], NULL, th_run, &args[t]), 0);
	}
	for (int t = 0; t < 5; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < 5; t++)
		if (args[t].bad) {
			fprintf(stderr, "  thread %d (role %d) saw %d\n", t,
				args[t].role, args[t].bad);
			return T_FAIL;
		}
	CHECK(shares_consistent(f, TH_FILES));
	for (int i = 0; i < TH_FILES; i++)
		CHECK_EQ(udax_file_close(&f[i]), 0);
	CHECK_EQ(fs_done(&fs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"clone-basic", t_clone_basic},
	{"clone-range", t_clone_range},
	{"clone-errors", t_clone_errors},
	{"cow-paths", t_cow_paths},
	{"cow-source", t_cow_source},
	{"cow-enospc", t_cow_enospc},
	{"dedupe", t_dedupe},
	{"mapped", t_mapped},
	{"random", t_random},
	{"threads", t_threads},
};
TEST_MAIN("reflink", tests)
