/* SPDX-License-Identifier: MIT */
/*
 * t_layout.c - references on a file's layout and the layout break, with
 * no mapping in the way (so that ThreadSanitizer sees every access; the
 * mapped cases are t_pin's). A pin here is pin_range() on the file's
 * inode, what udax_pin does under a mapping and udax_sendfile under a
 * send; "I/O udax cannot see" is a store straight into the device memory
 * of the pinned blocks, as a DMA engine would make.
 *
 *   lease-expired  a long-term pin whose recall does nothing: truncate,
 *                  punch and O_TRUNC fail with EBUSY at its deadline and
 *                  change nothing; a truncate past the pin goes through
 *   lease-recall   a recall that unpins (in the callback, or from another
 *                  thread later): the break finishes
 *   short-wait     a short-term pin: a break waits for it, and gives up
 *                  at UDAX_PIN_WAIT_MS
 *   close-wait     udax_close refuses while pins are held; udax_close_wait
 *                  waits for the last; a pin keeps an unlinked file's
 *                  blocks until it goes
 *   threads        threads pin ranges and store into their blocks behind
 *                  udax's back while another truncates, punches, zeroes
 *                  and extends the same files; freed blocks are poisoned:
 *                  no file ever shows another file's byte or poison
 *                  (seed: UDAX_LAYOUT_SEED replays); and another clones
 *                  the pinned files into a scratch file and overwrites
 *                  it (copy-on-write of every shared block): no pinned
 *                  file ever shows the scratch file's byte, and a pinned
 *                  range keeps its blocks (sharing them or not)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "api/api.h"
#include "fault/fault.h"
#include "fs.h"
#include "fsck/fsck.h"
#include "test.h"
#include "util.h"

#define KIB 1024
#define MIB (1024 * 1024)

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static off_t fsize(struct udax_file *f)
{
	struct stat st;
	return udax_fstat(f, &st) ? -1 : st.st_size;
}

static _Atomic int recalls;

static void recall_ignore(struct udax_pin *pin, void *arg)
{
	(void)pin;
	(void)arg;
	atomic_fetch_add(&recalls, 1);
}

static int lease_expired(void)
{
	struct udax_fs *fs;
	struct udax_file *x, *t;
	struct udax_pin *pin;
	struct udax_pin_opts o = {.recall = recall_ignore, .deadline_ms = 200};
	int64_t t0;

	CHECK_EQ(udax_open_memory(&fs, 16 * MIB), 0);
	CHECK((x = file_of_byte(fs, "/x", MIB, 'x')) != NULL);
	recalls = 0;
	CHECK_EQ(pin_range(x->ip, 0, 64 * KIB, UDAX_PIN_LONGTERM, &o, &pin), 0);
	/* past the pin: no recall, no wait */
	CHECK_EQ(udax_ftruncate(x, 512 * KIB), 0);
	CHECK_EQ(recalls, 0);
	/* over it: recalled, refused at the deadline, nothing changed */
	t0 = now_ms();
	CHECK_EQ(udax_ftruncate(x, 0), -EBUSY);
	CHECK(now_ms() - t0 >= 200);
	CHECK_EQ(recalls, 1);
	CHECK_EQ(udax_fallocate(x, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				4 * KIB, 4 * KIB),
		 -EBUSY);
	CHECK_EQ(udax_fallocate(x, FALLOC_FL_ZERO_RANGE, 0, 8 * KIB), -EBUSY);
	CHECK_EQ(udax_file_open(fs, "/x", O_RDWR | O_TRUNC, 0, &t), -EBUSY);
	CHECK_EQ(recalls, 4);
	CHECK_EQ(atomic_load(&fs->layout.expired), 4);
	CHECK_EQ(fsize(x), 512 * KIB);
	CHECK_EQ(file_count_byte(x, 512 * KIB, 'x'), 512 * KIB);
	/* a punch beside it is not held up */
	CHECK_EQ(udax_fallocate(x, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				64 * KIB, 4 * KIB),
		 0);
	CHECK_EQ(recalls, 4);
	CHECK_EQ(udax_unpin(&pin), 0);
	CHECK(pin == NULL);
	CHECK_EQ(udax_unpin(&pin), -EINVAL);
	CHECK_EQ(udax_ftruncate(x, 0), 0);
	CHECK_EQ(fsize(x), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* A recall that unpins at once, or asks a thread to after 50 ms. */
struct lease {
	struct udax_pin *pin;
	int later;
	pthread_t thr;
	_Atomic int released;
};

static void *unpin_later(void *arg)
{
	struct lease *l = arg;
	usleep(50 * 1000);
	atomic_store(&l->released, 1);
	udax_unpin(&l->pin);
	return NULL;
}

static void recall_release(struct udax_pin *pin, void *arg)
{
	struct lease *l = arg;

	atomic_fetch_add(&recalls, 1);
	if (pin != l->pin)
		return; /* the check below sees it still pinned */
	if (l->later) {
		pthread_create(&l->thr, NULL, unpin_later, l);
		return;
	}
	atomic_store(&l->released, 1);
	udax_unpin(&l->pin);
}

static int lease_recall(void)
{
	struct udax_fs *fs;
	struct udax_file *x;

	CHECK_EQ(udax_open_memory(&fs, 16 * MIB), 0);
	for (int later = 0; later < 2; later++) {
		struct lease l = {.later = later};
		struct udax_pin_opts o = {.recall = recall_release,
					  .arg = &l,
					  .deadline_ms = 60 * 1000};
		CHECK((x = file_of_byte(fs, "/x", MIB, 'x')) != NULL);
		recalls = 0;
		CHECK_EQ(
			pin_range(x->ip, 0, MIB, UDAX_PIN_LONGTERM, &o, &l.pin),
			0);
		CHECK_EQ(udax_ftruncate(x, 4 * KIB), 0);
		/* the break ended only once the pin was gone */
		CHECK_EQ(atomic_load(&l.released), 1);
		CHECK_EQ(recalls, 1);
		CHECK_EQ(fsize(x), 4 * KIB);
		if (later)
			pthread_join(l.thr, NULL);
		CHECK(l.pin == NULL);
		CHECK_EQ(udax_file_close(&x), 0);
	}
	CHECK_EQ(atomic_load(&fs->layout.waits), 2);
	CHECK_EQ(atomic_load(&fs->layout.expired), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

struct holder {
	struct udax_pin *pin;
	int ms;
	_Atomic int released;
};

static void *hold_then_unpin(void *arg)
{
	struct holder *h = arg;
	usleep((useconds_t)h->ms * 1000);
	atomic_store(&h->released, 1);
	udax_unpin(&h->pin);
	return NULL;
}

static int short_wait(void)
{
	struct udax_fs *fs;
	struct udax_file *x;
	struct holder h = {.ms = 100};
	pthread_t thr;
	int64_t t0;

	CHECK_EQ(udax_open_memory(&fs, 16 * MIB), 0);
	CHECK((x = file_of_byte(fs, "/x", MIB, 'x')) != NULL);
	/* a short-term pin held too long: the break gives up */
	setenv("UDAX_PIN_WAIT_MS", "150", 1);
	CHECK_EQ(pin_range(x->ip, 256 * KIB, 4 * KIB, 0, NULL, &h.pin), 0);
	t0 = now_ms();
	CHECK_EQ(udax_ftruncate(x, 0), -EBUSY);
	CHECK(now_ms() - t0 >= 150);
	CHECK_EQ(fsize(x), MIB);
	/* one released in time: the break waits for it */
	setenv("UDAX_PIN_WAIT_MS", "60000", 1);
	pthread_create(&thr, NULL, hold_then_unpin, &h);
	CHECK_EQ(udax_ftruncate(x, 0), 0);
	CHECK_EQ(atomic_load(&h.released), 1);
	pthread_join(thr, NULL);
	CHECK_EQ(fsize(x), 0);
	/* a pin on the page that will hold the new end (or holds the old
	 * one, growing): its rest is zeroed in place, so the size change
	 * waits for the pin too, though the page keeps its block */
	CHECK_EQ(udax_pwrite(x, "xxxxxxxx", 8, 2 * 4096 - 8), 8);
	setenv("UDAX_PIN_WAIT_MS", "100", 1);
	CHECK_EQ(pin_range(x->ip, 4096, 4096, 0, NULL, &h.pin), 0);
	CHECK_EQ(udax_ftruncate(x, 4096 + 100), -EBUSY);
	CHECK_EQ(fsize(x), 2 * 4096);
	CHECK_EQ(udax_unpin(&h.pin), 0);
	CHECK_EQ(udax_ftruncate(x, 4096 + 100), 0);
	CHECK_EQ(pin_range(x->ip, 4096, 4096, 0, NULL, &h.pin), 0);
	CHECK_EQ(udax_ftruncate(x, 3 * 4096), -EBUSY);
	CHECK_EQ(fsize(x), 4096 + 100);
	CHECK_EQ(udax_unpin(&h.pin), 0);
	CHECK_EQ(udax_ftruncate(x, 3 * 4096), 0);
	/* pins below a page boundary: no wait */
	CHECK_EQ(pin_range(x->ip, 0, 4096, 0, NULL, &h.pin), 0);
	CHECK_EQ(udax_ftruncate(x, 4096), 0);
	CHECK_EQ(udax_ftruncate(x, 2 * 4096), 0);
	CHECK_EQ(udax_unpin(&h.pin), 0);
	unsetenv("UDAX_PIN_WAIT_MS");
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static int close_wait(void)
{
	struct udax_fs *fs;
	struct udax_file *x;
	struct udax_info before, pinned, after;
	struct udax_pin *pin;
	struct holder h = {.ms = 100};
	pthread_t thr;

	CHECK_EQ(udax_open_memory(&fs, 16 * MIB), 0);
	CHECK_EQ(warm_dir(fs, "/"), 0);
	CHECK_EQ(udax_sync(fs), 0);
	CHECK_EQ(udax_info(fs, &before), 0);
	/* a pin keeps the unlinked, closed file and its blocks, until it
	 * goes */
	CHECK((x = file_of_byte(fs, "/x", MIB, 'x')) != NULL);
	CHECK_EQ(pin_range(x->ip, 0, MIB, 0, NULL, &pin), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_unlink(fs, "/x"), 0);
	CHECK_EQ(udax_sync(fs), 0);
	CHECK_EQ(udax_info(fs, &pinned), 0);
	CHECK(pinned.free_blocks + MIB / 4096 <= before.free_blocks);
	CHECK_EQ(udax_close(&fs), -EBUSY);
	CHECK(fs != NULL);
	CHECK_EQ(udax_unpin(&pin), 0);
	CHECK_EQ(udax_sync(fs), 0);
	CHECK_EQ(udax_info(fs, &after), 0);
	CHECK_EQ(after.free_blocks, before.free_blocks);
	/* close refuses, or waits for the last pin */
	CHECK((x = file_of_byte(fs, "/y", MIB, 'y')) != NULL);
	CHECK_EQ(pin_range(x->ip, 0, MIB, 0, NULL, &h.pin), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_close(&fs), -EBUSY);
	CHECK_EQ(udax_close_wait(&fs, 50), -EBUSY);
	CHECK(fs != NULL);
	pthread_create(&thr, NULL, hold_then_unpin, &h);
	CHECK_EQ(udax_close_wait(&fs, -1), 0);
	CHECK(fs == NULL);
	CHECK_EQ(atomic_load(&h.released), 1);
	pthread_join(thr, NULL);
	return T_PASS;
}

/* ---- threads ---- */

#define NFILES 3
#define FILE_MAX (512 * KIB)

struct world {
	struct udax_fs *fs;
	struct udax_file *f[NFILES];
	struct udax_file *scratch; /* clones of the pinned files, overwritten */
	_Atomic int stop, failed;
	_Atomic uint64_t pins, stores, breaks_done, busy, clones;
	unsigned seed;
};

static int tag(int i)
{
	return 'A' + i;
}

/* Every byte of [off, off+n) of file i is 0 or its tag. */
static int range_clean(struct world *w, int i, off_t off, size_t n)
{
	static __thread char buf[64 * KIB];

	while (n) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		ssize_t r = udax_pread(w->f[i], buf, k, off);
		if (r < 0)
			return 0;
		for (ssize_t j = 0; j < r; j++)
			if (buf[j] && buf[j] != tag(i)) {
				fprintf(stderr,
					"# file %d byte %lld is 0x%02x\n", i,
					(long long)(off + j),
					(unsigned char)buf[j]);
				return 0;
			}
		if ((size_t)r < k)
			return 1; /* end of file */
		off += (off_t)r;
		n -= (size_t)r;
	}
	return 1;
}

/* Clamp the n extents of e to [off, off+len), merging neighbours that
 * are contiguous on the device. Returns how many are left. */
static ssize_t clamp_extents(struct udax_extent *e, ssize_t n, off_t off,
			     size_t len)
{
	uint64_t lo = (uint64_t)off, hi = lo + len;
	ssize_t k = 0;

	for (ssize_t j = 0; j < n; j++) {
		uint64_t a = e[j].offset > lo ? e[j].offset : lo;
		uint64_t b = e[j].offset + e[j].length < hi ?
				     e[j].offset + e[j].length :
				     hi;
		if (a >= b)
			continue;
		/* sharing comes and goes with the cloner's clones and
		 * copies; the blocks are what must stay */
		struct udax_extent c = {
			.offset = a,
			.length = b - a,
			.dev_offset = e[j].dev_offset + (a - e[j].offset),
			.flags = e[j].flags & ~(uint32_t)UDAX_EXTENT_SHARED};
		if (k && e[k - 1].offset + e[k - 1].length == c.offset &&
		    e[k - 1].dev_offset + e[k - 1].length == c.dev_offset &&
		    e[k - 1].flags == c.flags) {
			e[k - 1].length += c.length;
			continue;
		}
		e[k++] = c;
	}
	return k;
}

/* The same extents, field by field (the struct has padding). */
static int same_extents(const struct udax_extent *a, ssize_t n,
			const struct udax_extent *b, ssize_t m)
{
	if (n != m)
		return 0;
	for (ssize_t j = 0; j < n; j++)
		if (a[j].offset != b[j].offset || a[j].length != b[j].length ||
		    a[j].dev_offset != b[j].dev_offset ||
		    a[j].flags != b[j].flags)
			return 0;
	return 1;
}

/* Pin a range of file i inside its size, fill it through udax, then store
 * the tag straight into its blocks (the device's memory), read it back,
 * unpin. */
static void *pinner(void *arg)
{
	struct world *w = ((void **)arg)[0];
	int i = (int)(intptr_t)((void **)arg)[1];
	unsigned s = w->seed + (unsigned)i;
	static __thread char buf[64 * KIB];
	struct udax_extent ext[16];

	memset(buf, tag(i), sizeof(buf));
	while (!atomic_load(&w->stop) && !atomic_load(&w->failed)) {
		off_t size = fsize(w->f[i]) & ~(off_t)4095;
		if (size < 8 * KIB) {
			udax_pwrite(w->f[i], buf, 32 * KIB, 0);
			continue;
		}
		off_t off =
			(off_t)(rand_r(&s) % (unsigned)(size / 4096)) * 4096;
		size_t len = (size_t)(1 + rand_r(&s) % 16) * 4096;
		if ((off_t)len > size - off)
			len = (size_t)(size - off);
		struct udax_pin *pin;
		if (pin_range(w->f[i]->ip, (uint64_t)off, len, 0, NULL, &pin)) {
			atomic_store(&w->failed, 1);
			break;
		}
		atomic_fetch_add(&w->pins, 1);
		/* a truncate may have come before the pin: only a range still
		 * inside the file is the pin's to use */
		if (off + (off_t)len <= fsize(w->f[i]) &&
		    udax_pwrite(w->f[i], buf, len, off) == (ssize_t)len) {
			ssize_t n = udax_file_extents(w->f[i], off, (off_t)len,
						      ext, 16);
			/* as a device would, some time after it was told */
			usleep((useconds_t)(rand_r(&s) % 200));
			for (ssize_t e = 0; e < n; e++) {
				uint64_t lo = ext[e].offset > (uint64_t)off ?
						      ext[e].offset :
						      (uint64_t)off;
				uint64_t hi = ext[e].offset + ext[e].length;
				if (hi > (uint64_t)off + len)
					hi = (uint64_t)off + len;
				if (ext[e].flags & UDAX_EXTENT_UNWRITTEN)
					continue;
				memset(w->fs->dev->base + ext[e].dev_offset +
					       (lo - ext[e].offset),
				       tag(i), hi - lo);
				atomic_fetch_add(&w->stores, 1);
			}
			if (!range_clean(w, i, off, len))
				atomic_store(&w->failed, 1);
			/* while pinned, the range kept its blocks (extents
			 * may merge with new neighbours: compared clamped) */
			struct udax_extent now[16];
			ssize_t m = udax_file_extents(w->f[i], off, (off_t)len,
						      now, 16);
			n = clamp_extents(ext, n, off, len);
			m = clamp_extents(now, m, off, len);
			if (!same_extents(ext, n, now, m)) {
				fprintf(stderr,
					"# file %d: [%lld, +%zu) changed its "
					"blocks while pinned\n",
					i, (long long)off, len);
				for (ssize_t e = 0; e < n || e < m; e++)
					fprintf(stderr,
						"#   %zd: was %llu+%llu @%llu "
						"f%u, now %llu+%llu @%llu "
						"f%u\n",
						e,
						e < n ? (unsigned long long)
								ext[e]
									.offset :
							0ull,
						e < n ? (unsigned long long)
								ext[e]
									.length :
							0ull,
						e < n ? (unsigned long long)ext[e]
								.dev_offset :
							0ull,
						e < n ? ext[e].flags : 0u,
						e < m ? (unsigned long long)
								now[e]
									.offset :
							0ull,
						e < m ? (unsigned long long)
								now[e]
									.length :
							0ull,
						e < m ? (unsigned long long)now[e]
								.dev_offset :
							0ull,
						e < m ? now[e].flags : 0u);
				atomic_store(&w->failed, 1);
			}
		}
		udax_unpin(&pin);
	}
	return NULL;
}

/* Truncate, punch, zero and extend the files. */
static void *breaker(void *arg)
{
	struct world *w = arg;
	unsigned s = w->seed ^ 0x5bd1e995u;

	while (!atomic_load(&w->stop) && !atomic_load(&w->failed)) {
		int i = (int)(rand_r(&s) % NFILES);
		int ret = layout_change(w->f[i], &s, FILE_MAX, tag(i));
		if (ret == -EBUSY)
			atomic_fetch_add(&w->busy, 1);
		else if (ret && ret != -ENOSPC)
			atomic_store(&w->failed, 1);
		/* the file no pinner works on: its blocks were often
		 * another file's a moment ago */
		if (!range_clean(w, NFILES - 1, 0, FILE_MAX))
			atomic_store(&w->failed, 1);
		atomic_fetch_add(&w->breaks_done, 1);
	}
	return NULL;
}

/* Clone a pinned file into the scratch file, then overwrite all of the
 * scratch file: each write copies the blocks it shares (copy-on-write),
 * and none of its bytes may ever show in the pinned file (whole blocks
 * are written: no copy reads a block a pinner's device may be storing
 * into). */
static void *cloner(void *arg)
{
	struct world *w = arg;
	unsigned s = w->seed ^ 0x2545f491u;
	static __thread char buf[64 * KIB];

	memset(buf, 'S', sizeof(buf));
	while (!atomic_load(&w->stop) && !atomic_load(&w->failed)) {
		int i = (int)(rand_r(&s) % (NFILES - 1)); /* a pinned one */
		int ret = udax_ftruncate(w->scratch, 0);
		if (!ret)
			ret = udax_clone(w->scratch, w->f[i]);
		if (ret && ret != -EBUSY && ret != -ENOSPC && ret != -EINVAL) {
			fprintf(stderr, "# clone: %d\n", ret);
			atomic_store(&w->failed, 1);
		}
		if (!ret)
			atomic_fetch_add(&w->clones, 1);
		off_t size = fsize(w->scratch);
		for (off_t o = 0; o < size; o += sizeof(buf))
			if (udax_pwrite(w->scratch, buf, sizeof(buf), o) < 0)
				break; /* ENOSPC or EBUSY: the copies wait */
		/* the pinners check their ranges for the scratch's 'S' (a
		 * read of a pinned file here would race with their stores
		 * into its blocks, which stand for a device's), and the end
		 * checks every file */
	}
	return NULL;
}

static int threads(void)
{
	static struct world w;
	char img[] = "/dev/shm/udax-layout-XXXXXX";
	const char *e = getenv("UDAX_LAYOUT_SEED");
	pthread_t p[2], b, cl;
	void *args[2][2];
	struct fsck_result fr;
	int fd;

	memset(&w, 0, sizeof(w));
	w.seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
	printf("# threads: seed %u (UDAX_LAYOUT_SEED replays)\n", w.seed);
	fd = mkstemp(img);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(udax_mkfs(img, &(struct udax_mkfs_opts){.size = 16 * MIB}), 0);
	setenv("UDAX_POISON_FREED", "1", 1);
	CHECK_EQ(udax_open(&w.fs, img, NULL), 0);
	unsetenv("UDAX_POISON_FREED");
	CHECK(w.fs->alloc.poison);
	for (int i = 0; i < NFILES; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/f%d", i);
		CHECK((w.f[i] = file_of_byte(w.fs, path, 64 * KIB, tag(i))) !=
		      NULL);
	}
	/* a full device, so that freed blocks are soon another file's */
	struct udax_info info;
	struct udax_file *fill;
	static char fb[64 * KIB];
	CHECK_EQ(udax_file_open(w.fs, "/fill", O_CREAT | O_RDWR, 0644, &fill),
		 0);
	for (off_t o = 0;; o += sizeof(fb)) {
		CHECK_EQ(udax_info(w.fs, &info), 0);
		if (info.free_blocks * 4096 < 2 * MIB)
			break;
		CHECK_EQ(udax_pwrite(fill, fb, sizeof(fb), o),
			 (ssize_t)sizeof(fb));
	}
	CHECK_EQ(udax_file_close(&fill), 0);
	CHECK_EQ(udax_file_open(w.fs, "/scratch", O_CREAT | O_RDWR, 0644,
				&w.scratch),
		 0);
	/* a write over blocks a pinner's range shares waits for that pin:
	 * the pinner's own write does, so give up soon */
	setenv("UDAX_PIN_WAIT_MS", "100", 1);
	for (int i = 0; i < 2; i++) {
		args[i][0] = &w;
		args[i][1] = (void *)(intptr_t)i;
		pthread_create(&p[i], NULL, pinner, args[i]);
	}
	pthread_create(&b, NULL, breaker, &w);
	pthread_create(&cl, NULL, cloner, &w);
	/* enough of both, however slow the machine */
	int64_t t0 = now_ms();
	while (!atomic_load(&w.failed) &&
	       (now_ms() - t0 < 2000 || atomic_load(&w.pins) < 2000 ||
		atomic_load(&w.breaks_done) < 1000))
		usleep(10 * 1000);
	atomic_store(&w.stop, 1);
	pthread_join(b, NULL);
	pthread_join(cl, NULL);
	unsetenv("UDAX_PIN_WAIT_MS");
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);
	printf("# threads: %llu pins, %llu stores into pinned blocks, %llu "
	       "truncates/punches/zeroes/extends (%llu gave up at a pin's "
	       "deadline), %llu breaks, %llu waited for pins, %llu clones\n",
	       (unsigned long long)w.pins, (unsigned long long)w.stores,
	       (unsigned long long)w.breaks_done, (unsigned long long)w.busy,
	       (unsigned long long)w.fs->layout.breaks,
	       (unsigned long long)w.fs->layout.waits,
	       (unsigned long long)w.clones);
	CHECK_EQ(atomic_load(&w.failed), 0);
	CHECK(w.fs->layout.waits > 0);
	for (int i = 0; i < NFILES; i++) {
		CHECK(range_clean(&w, i, 0, FILE_MAX));
		CHECK_EQ(udax_file_close(&w.f[i]), 0);
	}
	CHECK_EQ(udax_file_close(&w.scratch), 0);
	CHECK_EQ(layout_pin_count(w.fs), 0);
	CHECK_EQ(udax_close(&w.fs), 0);
	CHECK_EQ(fsck_run(img, FSCK_NO, NULL, &fr), FSCK_EXIT_OK);
	unlink(img);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"lease-expired", lease_expired},
	{"lease-recall", lease_recall},
	{"short-wait", short_wait},
	{"close-wait", close_wait},
	{"threads", threads},
};
TEST_MAIN("layout", tests)
