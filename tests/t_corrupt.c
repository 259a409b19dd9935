/* SPDX-License-Identifier: MIT */
/*
 * t_corrupt.c - bad images: foreign, truncated, damaged. Each must be
 * refused at open with UDAX_ECORRUPT (and a message), or, when the damage
 * lies where open does not look, give UDAX_ECORRUPT or ordinary errors on
 * use - never a crash, never an out-of-bounds access (the suite also runs
 * under AddressSanitizer). The mutation loop prints its seed;
 * UDAX_CORRUPT_SEED replays it, UDAX_CORRUPT_ROUNDS sets its length.
 */
#include <fcntl.h>
#include <time.h>
#include <udax.h>

#include "api/api.h"
#include "crash_ops.h"
#include "device/device.h"
#include "fsck/fsck.h"
#include "test.h"
#include <unistd.h>

#define IMG_SIZE (6u << 20)

/* Build a populated image in memory; returns a malloc'd copy. */
static uint8_t *make_image(void)
{
	struct dev *dev;
	struct udax_fs *fs;
	uint8_t *img;

	if (dev_crash_new(&dev, IMG_SIZE))
		return NULL;
	if (udax_open_device(&fs, dev, 1, NULL))
		return NULL;
	if (crash_setup(fs)) {
		udax_close(&fs);
		return NULL;
	}
	udax_sync(fs); /* checkpoint: damage must not be healed by replay */
	img = malloc(IMG_SIZE);
	memcpy(img, udax_fs_device(fs)->base, IMG_SIZE);
	udax_close(&fs);
	return img;
}

/* Open an image and use everything in it; returns the open result. */
static int open_and_walk(const uint8_t *img, size_t size)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs;
	struct dev *dev;
	uint32_t h;
	int ret;

	ret = dev_memory_from_image(&dev, img, size);
	if (ret)
		return ret;
	ret = udax_open_device(&fs, dev, 0, &oo);
	if (ret)
		return ret;
	digest_fs(fs, &h);
	/* try changes too: they must fail cleanly or work */
	put_file(fs, "/d/x", 20000, 1);
	udax_rename(fs, "/big", "/d/e/big", 0);
	udax_unlink(fs, "/small");
	udax_mkdir(fs, "/n", 0755);
	udax_rmdir(fs, "/empty");
	struct udax_file *f;
	if (!udax_file_open(fs, "/d/f", O_RDWR, 0, &f)) {
		udax_ftruncate(f, 1);
		udax_file_close(&f);
	}
	digest_fs(fs, &h);
	udax_close(&fs);
	return 0;
}

static int corrupt_foreign(void)
{
	uint8_t *img = calloc(1, IMG_SIZE);
	for (size_t i = 0; i < IMG_SIZE; i++)
		img[i] = (uint8_t)(i * 131 + (i >> 9));
	CHECK_EQ(open_and_walk(img, IMG_SIZE), UDAX_ECORRUPT);
	memset(img, 0, IMG_SIZE);
	CHECK_EQ(open_and_walk(img, IMG_SIZE), UDAX_ECORRUPT);
	free(img);
	return T_PASS;
}

static int corrupt_truncated(void)
{
	uint8_t *img = make_image();
	CHECK(img);
	CHECK_EQ(open_and_walk(img, IMG_SIZE), 0);
	CHECK_EQ(open_and_walk(img, IMG_SIZE - 4096 * 3), UDAX_ECORRUPT);
	CHECK_EQ(open_and_walk(img, 8192), UDAX_ECORRUPT);
	free(img);
	return T_PASS;
}

/* Each superblock field, each fixed structure: damage is refused. */
static int corrupt_fixed(void)
{
	uint8_t *img = make_image(), *bad = malloc(IMG_SIZE);
	const struct udax_super *sb = (const void *)img;
	struct {
		const char *what;
		uint64_t off;
	} spots[] = {
		{"super magic", 0},
		{"super version", offsetof(struct udax_super, version)},
		{"super block count", offsetof(struct udax_super, block_count)},
		{"super geometry", offsetof(struct udax_super, itable_start)},
		{"super crc", offsetof(struct udax_super, crc)},
		{"state block", 4096 + 20},
		{"block bitmap", sb->bbmap_start * 4096 + 100},
		{"inode bitmap", sb->ibmap_start * 4096 + 40},
		{"root inode", sb->itable_start * 4096 + 256 + 30},
	};
	CHECK(img);
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		memcpy(bad, img, IMG_SIZE);
		bad[spots[i].off] ^= 0x40;
		int ret = open_and_walk(bad, IMG_SIZE);
		if (ret != UDAX_ECORRUPT) {
			fprintf(stderr, "  %s: open gave %d\n", spots[i].what,
				ret);
			return T_FAIL;
		}
	}
	free(img);
	free(bad);
	return T_PASS;
}

/* Random damage to metadata blocks: no crash whatever it hits. */
static int corrupt_mutations(void)
{
	const char *e = getenv("UDAX_CORRUPT_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	unsigned rounds =
		(e = getenv("UDAX_CORRUPT_ROUNDS")) ? (unsigned)atoi(e) : 300;
	uint8_t *img = make_image(), *bad = malloc(IMG_SIZE);
	const struct udax_super *sb = (const void *)img;
	unsigned refused = 0, fixed_ok = 0;
	char path[64];

	snprintf(path, sizeof(path), "/dev/shm/udax-corrupt-%d.img",
		 (int)getpid());
	CHECK(img);
	printf("# corrupt: seed %llu (UDAX_CORRUPT_SEED replays)\n",
	       (unsigned long long)seed);
	/* the metadata blocks: up to data_start, plus the first data blocks
	 * where tree nodes sit */
	uint64_t span = (sb->data_start + 64) * 4096;
	srandom((unsigned)seed);
	for (unsigned r = 0; r < rounds; r++) {
		memcpy(bad, img, IMG_SIZE);
		int nflip = 1 + (int)(random() % 8);
		for (int k = 0; k < nflip; k++) {
			uint64_t off = (uint64_t)random() % span;
			if (off < 4096 && (random() % 4))
				off += 4096; /* mostly spare the superblock */
			bad[off] = (uint8_t)random();
		}
		int ret = open_and_walk(bad, IMG_SIZE);
		if (ret == UDAX_ECORRUPT)
			refused++;
		else if (ret) {
			fprintf(stderr, "  round %u: open gave %d\n", r, ret);
			return T_FAIL;
		}
		/* e2fsck's promise: a fixing run, then a clean one */
		int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		CHECK(fd >= 0);
		CHECK_EQ(write(fd, bad, IMG_SIZE), IMG_SIZE);
		close(fd);
		int first = fsck_run(path, FSCK_YES, NULL, NULL);
		int second = fsck_run(path, FSCK_NO, NULL, NULL);
		if (first == FSCK_EXIT_ERROR)
			continue; /* not recognisable as udax any more */
		if (second != FSCK_EXIT_OK) {
			fprintf(stderr,
				"  round %u (seed %llu): fsck -y gave %d, then "
				"fsck -n gave %d\n",
				r, (unsigned long long)seed, first, second);
			fsck_run(path, FSCK_NO, stderr, NULL);
			unlink(path);
			return T_FAIL;
		}
		fixed_ok++;
	}
	unlink(path);
	printf("# corrupt: %u images repaired by fsck -y and then clean\n",
	       fixed_ok);
	printf("# corrupt: %u mutated images, %u refused at open\n", rounds,
	       refused);
	free(img);
	free(bad);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"foreign", corrupt_foreign},
	{"truncated", corrupt_truncated},
	{"fixed-structures", corrupt_fixed},
	{"mutations", corrupt_mutations},
};
TEST_MAIN("corrupt", tests)
