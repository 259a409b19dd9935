/* SPDX-License-Identifier: MIT */
/*
 * t_enospc.c - running out of space: concurrent writers fill the device;
 * every write returns what it wrote or ENOSPC, what was written reads
 * back, nothing stale is readable, and once the files are gone the free
 * space is exactly what it was (no leaked blocks), and a delete's space
 * is usable at once, before any sync. And the allocator finds an aligned
 * 2 MiB unit wherever one is free (a device that maps whole units needs
 * one per window).
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <udax.h>

#include "fs.h"

#include "test.h"
#include "util.h"

#define WRITERS 4

struct writer {
	struct udax_fs *fs;
	int id;
	uint64_t written; /* bytes acknowledged */
	int err;	  /* unexpected error */
};

static void fill_pattern(char *b, size_t n, int id, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)(id * 31 + (int)((off + i) / 512));
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct udax_file *f;
	char path[32];
	static __thread char buf[300000];

	snprintf(path, sizeof(path), "/w%d", w->id);
	w->err = udax_file_open(w->fs, path, O_CREAT | O_RDWR, 0600, &f);
	if (w->err)
		return NULL;
	for (int round = 0;; round++) {
		/* varying sizes, unaligned */
		size_t n = 1000 +
			   (size_t)((round * 7919 + w->id * 104729) % 250000);
		fill_pattern(buf, n, w->id, w->written);
		ssize_t r = udax_pwrite(f, buf, n, (off_t)w->written);
		if (r == -ENOSPC)
			break;
		if (r < 0) {
			w->err = (int)r;
			break;
		}
		w->written += (uint64_t)r;
		if ((size_t)r < n)
			break; /* a short write: the device is full */
	}
	udax_file_close(&f);
	return NULL;
}

static int enospc_concurrent(void)
{
	struct udax_fs *fs;
	struct statvfs s0, s1;
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	static char buf[1 << 16], want[1 << 16];

	CHECK_EQ(udax_open_memory(&fs, 48 << 20), 0);
	CHECK_EQ(warm_dir(fs, "/"), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.fs = fs, .id = i};
		CHECK_EQ(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	uint64_t total = 0;
	for (int i = 0; i < WRITERS; i++) {
		CHECK_EQ(w[i].err, 0);
		total += w[i].written;
	}
	/* nearly everything was handed out */
	CHECK(total > (uint64_t)(s0.f_bavail * 4096) * 9 / 10);
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK(s1.f_bavail < 64);
	/* every acknowledged byte reads back; nothing past it */
	for (int i = 0; i < WRITERS; i++) {
		struct udax_file *f;
		struct stat st;
		char path[32];
		snprintf(path, sizeof(path), "/w%d", i);
		CHECK_EQ(udax_file_open(fs, path, O_RDONLY, 0, &f), 0);
		CHECK_EQ(udax_fstat(f, &st), 0);
		CHECK_EQ(st.st_size, w[i].written);
		for (uint64_t off = 0; off < w[i].written; off += sizeof(buf)) {
			size_t n = w[i].written - off < sizeof(buf) ?
					   w[i].written - off :
					   sizeof(buf);
			CHECK_EQ(udax_pread(f, buf, n, (off_t)off), n);
			fill_pattern(want, n, i, off);
			CHECK(!memcmp(buf, want, n));
		}
		CHECK_EQ(udax_file_close(&f), 0);
	}
	/* a new file cannot get data blocks; fallocate fails cleanly */
	struct udax_file *f;
	CHECK_EQ(udax_file_open(fs, "/late", O_CREAT | O_RDWR, 0600, &f), 0);
	CHECK_EQ(udax_fallocate(f, 0, 0, 64 << 20), -ENOSPC);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_unlink(fs, "/late"), 0);
	for (int i = 0; i < WRITERS; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/w%d", i);
		CHECK_EQ(udax_unlink(fs, path), 0);
	}
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_ffree, s0.f_ffree);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* After ENOSPC part-way through a write, reading the file never shows
 * anything but what was written or zeros. */
static int enospc_no_stale(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	struct stat st;
	static char big[8 << 20], back[16 << 20];

	CHECK_EQ(udax_open_memory(&fs, 16 << 20), 0);
	/* dirty the free blocks with a recognizable pattern, then free */
	memset(big, 0x5a, sizeof(big));
	CHECK_EQ(udax_file_open(fs, "/junk", O_CREAT | O_RDWR, 0600, &f), 0);
	ssize_t jn = udax_pwrite(f, big, sizeof(big), 0);
	CHECK(jn > 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_unlink(fs, "/junk"), 0);
	/* now a write that cannot fit, at an offset with a hole before */
	memset(big, 0x11, sizeof(big));
	CHECK_EQ(udax_file_open(fs, "/f", O_CREAT | O_RDWR, 0600, &f), 0);
	ssize_t n1 = udax_pwrite(f, big, sizeof(big), 5000);
	CHECK(n1 > 0);
	ssize_t n2 = udax_pwrite(f, big, sizeof(big), 5000 + n1);
	CHECK(n2 == -ENOSPC || (n2 >= 0 && n2 < (ssize_t)sizeof(big)));
	CHECK_EQ(udax_fstat(f, &st), 0);
	uint64_t size = (uint64_t)st.st_size;
	CHECK(size <= sizeof(back));
	CHECK_EQ(udax_pread(f, back, size, 0), size);
	for (uint64_t i = 0; i < size; i++)
		CHECK(back[i] == (i < 5000 ? 0 : 0x11));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Blocks freed by a delete are held back until the next checkpoint (the
 * log may still describe them), but they count as free: a write that
 * needs them checkpoints and gets them, it never fails with ENOSPC. */
static int enospc_reuse_deleted(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	static char big[1 << 20];
	ssize_t filled = 0, n;

	CHECK_EQ(udax_open_memory(&fs, 16 << 20), 0);
	memset(big, 0x33, sizeof(big));
	CHECK_EQ(udax_file_open(fs, "/a", O_CREAT | O_RDWR, 0600, &f), 0);
	while ((n = udax_pwrite(f, big, sizeof(big), filled)) > 0)
		filled += n;
	CHECK_EQ(n, -ENOSPC);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_unlink(fs, "/a"), 0);
	/* no sync: the same amount again */
	CHECK_EQ(udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0600, &f), 0);
	for (ssize_t done = 0; done < filled; done += n) {
		size_t want = (size_t)(filled - done) < sizeof(big) ?
				      (size_t)(filled - done) :
				      sizeof(big);
		n = udax_pwrite(f, big, want, done);
		CHECK_EQ(n, want);
	}
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* Metadata may use the pool kept for tree nodes (a full device): statfs
 * counts what is left of it as free, not the whole pool (it once did,
 * and concurrent-writers saw two blocks more free at the end than at the
 * start, when the writers' last tree splits had used two pool blocks). */
static int statfs_pool(void)
{
	struct udax_fs *fs;
	struct statvfs s0, s1;
	struct udax_info info;

	CHECK_EQ(udax_open_memory(&fs, 16 << 20), 0);
	CHECK_EQ(udax_statfs(fs, &s0), 0);
	CHECK_EQ(s0.f_bfree, s0.f_bavail + ALLOC_META_POOL);
	/* all but 10 blocks, as metadata would take them */
	uint64_t n = s0.f_bfree - 10;
	CHECK_EQ(alloc_reserve(&fs->alloc, n, 1), 0);
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, 10);
	CHECK_EQ(s1.f_bavail, 0);
	CHECK_EQ(udax_info(fs, &info), 0);
	CHECK_EQ(info.free_blocks, 0);
	alloc_unreserve(&fs->alloc, n);
	CHECK_EQ(udax_statfs(fs, &s1), 0);
	CHECK_EQ(s1.f_bfree, s0.f_bfree);
	CHECK_EQ(s1.f_bavail, s0.f_bavail);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/*
 * A request for an aligned 2 MiB unit finds one anywhere in the group,
 * not only after the cursor: once, a free run after the cursor of 512
 * blocks or more that held no aligned unit was taken as "found", and a
 * device that maps whole units (memfd-huge) refused a window's remap
 * (ENOSPC, SIGBUS in the mapping) with most of its units free.
 */
static int aligned_unit(void)
{
	struct udax_fs *fs;
	struct alloc *a;
	uint64_t s, l, n, u = 0, taken = 0;
	uint64_t *mine;

	CHECK_EQ(udax_open_memory(&fs, 64 << 20), 0);
	a = &fs->alloc;
	n = a->nblocks;
	CHECK_EQ(n % 512, 0);
	CHECK((mine = calloc(n / 64 + 1, 8)) != NULL);
	/* every free block, one at a time */
	while (!alloc_reserve(a, 1, 1)) {
		CHECK_EQ(alloc_take(a, 0, 1, 0, &s, &l), 0);
		mine[s / 64] |= 1ull << (s % 64);
		taken++;
	}
#define MINE(b) ((mine[(b) / 64] >> ((b) % 64)) & 1)
	/* a free run [n-1022, n-1) with no aligned unit in it, the cursor
	 * at its start; then one aligned unit free before the cursor */
	for (uint64_t b = n - 1023; b < n - 1; b++)
		CHECK(MINE(b));
	for (uint64_t c = 512; c + 512 <= n - 1024 && !u; c += 512) {
		u = c;
		for (uint64_t b = c; b < c + 512 && u; b++)
			if (!MINE(b))
				u = 0;
	}
	CHECK(u != 0);
	alloc_put(a, n - 1023, 1022);
	CHECK_EQ(alloc_reserve(a, 1, 1), 0);
	CHECK_EQ(alloc_take(a, 0, 1, 0, &s, &l), 0);
	CHECK_EQ(s, n - 1023);
	alloc_put(a, u, 512);
	CHECK_EQ(alloc_reserve(a, 512, 1), 0);
	CHECK_EQ(alloc_take(a, 0, 512, 1, &s, &l), 0);
	if (s != u || l != 512) {
		printf("# an aligned unit at block %llu was free; the "
		       "allocator gave %llu blocks at %llu\n",
		       (unsigned long long)u, (unsigned long long)l,
		       (unsigned long long)s);
		return T_FAIL;
	}
	/* all back: what is free now is what was free before */
	for (uint64_t b = 0; b < n; b++)
		if (MINE(b) && !(b >= n - 1022 && b < n - 1))
			alloc_put(a, b, 1);
#undef MINE
	free(mine);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"statfs-pool", statfs_pool},
	{"concurrent-writers", enospc_concurrent},
	{"no-stale-data", enospc_no_stale},
	{"reuse-deleted", enospc_reuse_deleted},
	{"aligned-unit", aligned_unit},
};
TEST_MAIN("enospc", tests)
