/* SPDX-License-Identifier: MIT */
/*
 * t_crash.c - crash-state enumeration on the crash-emulating device.
 *
 * Every run starts from the same aged file system (age.h: garbage in the
 * free space, every block handed out was used before), made once and
 * copied into a new crash device per run; then the common setup.
 * For every operation of crash_ops.h and every fence it makes, the
 * operation is run again with the device frozen at that fence; the crash
 * images keep every subset of the pending cache lines (all subsets up to
 * CRASH_EXHAUSTIVE lines, else CRASH_SAMPLES random ones plus none and
 * all, and the first-m / all-but-the-first-m subsets). Each image is
 * checked by fsck, opened (the journal replays), and its digest must be
 * the state before the operation, after it, or after one of its steps
 * (only after it past its last fence); after use and close, fsck must
 * find the image clean again.
 * A failure prints an id: op, fence, subset.
 *
 * Environment: UDAX_CRASH_EXHAUSTIVE, UDAX_CRASH_SAMPLES,
 * UDAX_CRASH_STRUCTURED (largest m of the first-m subsets), UDAX_CRASH_SEED,
 * UDAX_CRASH_OPS (comma-separated names), UDAX_CRASH_RECOVERY (crash the
 * recovery at every n-th crash point; 0 never), UDAX_CRASH_DENSITY (n times as
 * many crash points in long operations, which skip some) tune the run
 * (make crash-long); UDAX_AGE=0 starts from a fresh device instead.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "age.h"
#include "api/api.h"
#include "crash_ops.h"
#include "fsck/fsck.h"
#include "device/device.h"
#include "test.h"
#include <time.h>

#define CRASH_DEV_SIZE (6u << 20)

static unsigned crash_exhaustive = 6;
static unsigned crash_samples = 24;
static unsigned crash_structured = 64; /* m of the first-m subsets, at most */
/* UDAX_CRASH_RECOVERY=n: crash the recovery at every n-th crash point
 * (1, the default: at each; 0: never) */
static int crash_recover_too = 1;
static uint64_t recovery_turn;
static uint64_t crash_seed;
static uint64_t images_checked, points_checked;

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9E3779B97F4A7C15ull;
	uint64_t z = *s;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* The aged file system every run starts from (age.h), made once. */
static uint8_t *aged;

struct run {
	struct udax_fs *fs;
	struct dev *dev;
	uint32_t before, after;
	uint64_t f0, f1;
};

/* setup, digest, freeze at `fence` (0 = never), op, digest. */
static int crash_run(const struct crash_op *op, uint64_t fence, struct run *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = dev_crash_new(&r->dev, CRASH_DEV_SIZE);
	if (ret)
		return ret;
	dev_crash_load(r->dev, aged);
	struct udax_open_opts oo = {.quiet = 1};
	ret = udax_open_device(&r->fs, r->dev, 0, &oo);
	if (ret)
		return ret;
	ret = crash_setup(r->fs);
	if (ret)
		return ret;
	ret = digest_fs(r->fs, &r->before);
	if (ret)
		return ret;
	r->f0 = dev_crash_fences(r->dev);
	if (fence)
		dev_crash_freeze_at(r->dev, fence);
	step_fs = r->fs;
	step_dev = r->dev;
	step_count = 0;
	ret = op->fn(r->fs);
	step_fs = NULL;
	step_dev = NULL;
	if (ret)
		return ret;
	ret = digest_fs(r->fs, &r->after);
	r->f1 = dev_crash_fences(r->dev);
	return ret;
}

static void run_end(struct run *r)
{
	if (r->fs)
		udax_close(&r->fs);
}

/* The image file that udax_open and fsck read, and a shared mapping of
 * it into which dev_crash_image() builds each crash image directly (no
 * copy through write(): that was a fifth of the run). */
static char img_path[64];
static uint8_t *img_map;

static int image_file_open(void)
{
	int fd = open(img_path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, CRASH_DEV_SIZE))
		ret = -errno;
	img_map = ret ? MAP_FAILED :
			mmap(NULL, CRASH_DEV_SIZE, PROT_READ | PROT_WRITE,
			     MAP_SHARED, fd, 0);
	if (!ret && img_map == MAP_FAILED)
		ret = -errno;
	if (ret)
		img_map = NULL;
	close(fd);
	return ret;
}

/* Put a crash image where udax_open and fsck can both reach it. */
static void write_image(const uint8_t *img)
{
	if (img != img_map)
		memcpy(img_map, img, CRASH_DEV_SIZE);
}

/* fsck -n on the image file: exit 0, or print the report and return 1. */
static int fsck_image(const char *op, uint64_t fence, const char *subset,
		      const char *when)
{
	struct fsck_result fr;
	int ret = fsck_run(img_path, FSCK_NO, NULL, &fr);

	if (ret == FSCK_EXIT_OK)
		return 0;
	fprintf(stderr, "  crash id %s:%llu:%s: fsck %s: exit %d:\n", op,
		(unsigned long long)fence, subset, when, ret);
	fsck_run(img_path, FSCK_NO, stderr, &fr);
	return 1;
}

static int check_image(const struct run *r, const uint8_t *img, const char *op,
		       uint64_t fence, const char *subset)
{
	struct udax_fs *fs;
	struct udax_open_opts oo = {.quiet = 1};
	uint32_t h = 0;
	int ret;

	images_checked++;
	write_image(img);
	/* fsck first, before anything could hide damage (the workload below
	 * can reuse a leaked inode or block): it replays the log in its
	 * private copy, as an open would */
	if (fsck_image(op, fence, subset, "of the crash image"))
		return 1;
	ret = udax_open(&fs, img_path, &oo);
	if (ret) {
		fprintf(stderr, "  crash id %s:%llu:%s: open failed: %s\n", op,
			(unsigned long long)fence, subset, udax_strerror(ret));
		return 1;
	}
	/* before, after, or a step that the crash point does not precede:
	 * a step whose fences all came before the crash's fence is durable,
	 * and no later state may show less (a replay of an old log's prefix
	 * would). Past the operation's last fence it had returned: only
	 * "after" (durable means durable) */
	int first = 0;
	for (int i = 0; i < step_count; i++)
		if (step_fence[i] < fence)
			first = i;
	int durable =
		fence > r->f1 || (step_count && step_fence[first] < fence);
	ret = digest_fs(fs, &h);
	int ok = !ret && (h == r->after || (!durable && h == r->before));
	for (int i = first; !ok && !ret && fence <= r->f1 && i < step_count;
	     i++)
		ok = h == step_digest[i];
	/* the recovered file system must take new work */
	if (ok) {
		ret = put_file(fs, "/after-crash", 10000, 5);
		if (!ret)
			ret = udax_unlink(fs, "/after-crash");
		ok = !ret;
	}
	udax_close(&fs);
	if (!ok) {
		fprintf(stderr,
			"  crash id %s:%llu:%s: state is neither before nor "
			"after%s (ret %d)\n",
			op, (unsigned long long)fence, subset,
			durable ? " (the operation had made it durable)" : "",
			ret);
		return 1;
	}
	/* recovered, used and closed: fsck must find nothing */
	return fsck_image(op, fence, subset, "after recovery and use");
}

static uint64_t recovery_points, recovery_images;

/* Digest of an image after a full recovery (open, which replays the
 * journal and finishes orphans), or an error. */
static int recovered_digest(const uint8_t *img, uint32_t *h)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs;
	struct dev *dev;
	int ret = dev_memory_from_image(&dev, img, CRASH_DEV_SIZE);

	if (ret)
		return ret;
	ret = udax_open_device(&fs, dev, 0, &oo);
	if (ret)
		return ret;
	ret = digest_fs(fs, h);
	udax_close(&fs);
	return ret;
}

/* Recover `img`, commit a new file, and lose power with every store kept
 * (a copy of the memory): the second recovery must find the file. A log
 * replayed but not retired would make the new commits, whose numbers do
 * not follow the old log's, invisible to it. */
static int crash_after_recovery(const uint8_t *img, uint8_t *img2,
				const char *op, uint64_t k)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs;
	struct dev *dev;
	struct stat st;
	int ret = dev_memory_from_image(&dev, img, CRASH_DEV_SIZE);

	if (ret || udax_open_device(&fs, dev, 0, &oo))
		return 0; /* an image that does not open is judged elsewhere */
	ret = put_file(fs, "/after-recovery", 100, 9);
	if (!ret)
		memcpy(img2, udax_fs_device(fs)->base, CRASH_DEV_SIZE);
	udax_close(&fs);
	if (!ret && !dev_memory_from_image(&dev, img2, CRASH_DEV_SIZE) &&
	    !udax_open_device(&fs, dev, 0, &oo)) {
		ret = udax_stat(fs, "/after-recovery", &st);
		udax_close(&fs);
	} else if (!ret) {
		ret = -EIO;
	}
	if (ret)
		fprintf(stderr,
			"  crash id %s:%llu:after-recovery: a file committed "
			"after recovery is lost in the next crash (%d)\n",
			op, (unsigned long long)k, ret);
	return ret != 0;
}

/* Crash the recovery of `img` at each of its fences (keeping none, all,
 * and a few random subsets of the pending lines): recovering again from
 * there must give the same file system as one uninterrupted recovery. */
static int crash_recovery(const uint8_t *img, const char *op, uint64_t k)
{
	uint8_t *img2 = malloc(CRASH_DEV_SIZE);
	struct udax_open_opts oo = {.quiet = 1};
	uint32_t want, got;
	int failed = 0;

	if (!img2 || recovered_digest(img, &want)) {
		free(img2);
		return 0; /* an image that does not open is judged elsewhere */
	}
	failed = crash_after_recovery(img, img2, op, k);
	for (uint64_t j = 1; !failed; j++) {
		struct udax_fs *fs;
		struct dev *dev;
		if (dev_crash_new(&dev, CRASH_DEV_SIZE))
			break;
		dev_crash_load(dev, img);
		dev_crash_freeze_at(dev, j);
		if (udax_open_device(&fs, dev, 0, &oo))
			break;
		int reached = dev_crash_fences(dev) >= j;
		size_t n = dev_crash_pending(dev);
		uint64_t s = crash_seed ^ (j * 7919 + k);
		recovery_points++;
		for (unsigned t = 0; t < 4 && !failed; t++) {
			uint64_t keep[1024] = {0};
			for (size_t w = 0; w < (n + 63) / 64 && w < 1024; w++)
				keep[w] = t == 0 ? 0 :
					  t == 1 ? ~0ull :
						   rng_next(&s);
			dev_crash_image(dev, keep, img2);
			recovery_images++;
			if (recovered_digest(img2, &got) || got != want) {
				fprintf(stderr,
					"  crash id "
					"%s:%llu:recovery-fence=%llu:"
					"sample=%u: recovery crashed and "
					"resumed differs\n",
					op, (unsigned long long)k,
					(unsigned long long)j, t);
				failed = 1;
			}
		}
		udax_close(&fs);
		if (!reached)
			break; /* that was the end of the recovery */
	}
	free(img2);
	return failed;
}

static int crash_one_op(const struct crash_op *op)
{
	struct run ref;
	int ret, failed = 0;

	digest_mtime = !op->mtime_lags;
	ret = crash_run(op, 0, &ref);
	run_end(&ref);
	if (ret == -EPERM && op->mapped) {
		printf("# crash: %s skipped: userfaultfd not permitted\n",
		       op->name);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "  %s: reference run failed: %s\n", op->name,
			udax_strerror(ret));
		return 1;
	}
	uint8_t *img = img_map;
	/* UDAX_CRASH_DENSITY=N (crash-long): N times as many crash points
	 * in the ops that skip some (every point at most) */
	uint64_t stride = op->stride ? op->stride : 1;
	if (getenv("UDAX_CRASH_DENSITY")) {
		uint64_t d = strtoull(getenv("UDAX_CRASH_DENSITY"), NULL, 0);
		stride = d ? stride / d : stride;
		stride = stride ? stride : 1;
	}
	for (uint64_t k = ref.f0 + 1; k <= ref.f1 + 1 && !failed;
	     k = k + stride > ref.f1 + 1 && k != ref.f1 + 1 ? ref.f1 + 1 :
							      k + stride) {
		struct run r;
		ret = crash_run(op, k, &r);
		if (ret) {
			fprintf(stderr, "  %s: run at fence %llu failed: %s\n",
				op->name, (unsigned long long)k,
				udax_strerror(ret));
			run_end(&r);
			failed = 1;
			break;
		}
		size_t n = dev_crash_pending(r.dev);
		size_t words = (n + 63) / 64;
		uint64_t *keep = calloc(words ? words : 1, 8);
		char id[64];
		points_checked++;
		if (n <= crash_exhaustive) {
			for (uint64_t m = 0; m < (1ull << n) && !failed; m++) {
				keep[0] = m;
				dev_crash_image(r.dev, keep, img);
				snprintf(id, sizeof(id), "mask=%llx",
					 (unsigned long long)m);
				failed = check_image(&r, img, op->name, k, id);
			}
		} else {
			uint64_t s = crash_seed ^ (k * 1000003);
			for (unsigned t = 0; t < crash_samples + 2 && !failed;
			     t++) {
				for (size_t w = 0; w < words; w++)
					keep[w] = t == 0 ? 0 :
						  t == 1 ? ~0ull :
							   rng_next(&s);
				dev_crash_image(r.dev, keep, img);
				snprintf(id, sizeof(id), "seed=%llx:sample=%u",
					 (unsigned long long)crash_seed, t);
				failed = check_image(&r, img, op->name, k, id);
			}
			/* and the structured subsets random ones rarely hit
			 * (pending lines are in address order, the log first):
			 * all but the first m lines, and only the first m */
			for (size_t m = 1;
			     m < n && m <= crash_structured && !failed; m++) {
				for (int only = 0; only < 2 && !failed;
				     only++) {
					for (size_t i = 0; i < n; i++)
						if ((i < m) == only)
							keep[i / 64] |=
								1ull
								<< (i % 64);
						else
							keep[i / 64] &=
								~(1ull
								  << (i % 64));
					dev_crash_image(r.dev, keep, img);
					snprintf(id, sizeof(id), "%s=%zu",
						 only ? "first" : "but-first",
						 m);
					failed = check_image(&r, img, op->name,
							     k, id);
				}
			}
		}
		/* and crash the recovery of the image that kept everything */
		if (!failed && crash_recover_too > 0 &&
		    recovery_turn++ % (uint64_t)crash_recover_too == 0) {
			memset(keep, 0xff, words * 8);
			dev_crash_image(r.dev, keep, img);
			failed = crash_recovery(img, op->name, k);
		}
		free(keep);
		run_end(&r);
	}
	return failed;
}

static int crash_all(void)
{
	const char *only = getenv("UDAX_CRASH_OPS");
	const char *e;
	int failed = 0;

	if ((e = getenv("UDAX_CRASH_EXHAUSTIVE")))
		crash_exhaustive = (unsigned)atoi(e);
	if ((e = getenv("UDAX_CRASH_SAMPLES")))
		crash_samples = (unsigned)atoi(e);
	if ((e = getenv("UDAX_CRASH_STRUCTURED")))
		crash_structured = (unsigned)atoi(e);
	if (crash_exhaustive > 20)
		crash_exhaustive = 20;
	if ((e = getenv("UDAX_CRASH_RECOVERY")))
		crash_recover_too = atoi(e);
	crash_seed = (e = getenv("UDAX_CRASH_SEED")) ? strtoull(e, NULL, 0) :
						       (uint64_t)time(NULL);
	snprintf(img_path, sizeof(img_path), "/dev/shm/udax-crash-%d.img",
		 (int)getpid());
	printf("# crash: seed %llu (UDAX_CRASH_SEED replays)\n",
	       (unsigned long long)crash_seed);
	int ret = age_image(CRASH_DEV_SIZE, &aged);
	if (!ret)
		ret = image_file_open();
	if (ret) {
		fprintf(stderr, "  setting up (aged image, image file): %s\n",
			udax_strerror(ret));
		return T_FAIL;
	}
	for (size_t i = 0; i < sizeof(crash_ops) / sizeof(crash_ops[0]); i++) {
		if (only && !strstr(only, crash_ops[i].name))
			continue;
		uint64_t im0 = images_checked, p0 = points_checked;
		int f = crash_one_op(&crash_ops[i]);
		printf("# crash: %-18s %4llu crash points %7llu images %s\n",
		       crash_ops[i].name,
		       (unsigned long long)(points_checked - p0),
		       (unsigned long long)(images_checked - im0),
		       f ? "FAILED" : "ok");
		fflush(stdout);
		failed |= f;
	}
	munmap(img_map, CRASH_DEV_SIZE);
	unlink(img_path);
	free(aged);
	printf("# crash: total %llu crash points, %llu images\n",
	       (unsigned long long)points_checked,
	       (unsigned long long)images_checked);
	printf("# crash: recovery crashed at %llu points, %llu images\n",
	       (unsigned long long)recovery_points,
	       (unsigned long long)recovery_images);
	return failed ? T_FAIL : T_PASS;
}

static const struct test_case tests[] = {
	{"every-op-every-fence", crash_all},
};
TEST_MAIN("crash", tests)
