/* SPDX-License-Identifier: MIT */
/*
 * fuzz_image.c - libFuzzer target: damaged images through fsck -y then
 * fsck -n (which must find nothing left), and through open, a walk of
 * everything, changes, and close.
 *
 * The input is a list of patches to a populated image (made once at
 * start): 4-byte little-endian offset into the metadata area (taken
 * modulo its size), 1-byte length (1..16), then that many bytes. Patches
 * of structure-aware size hit superblock fields, journal records, bitmap
 * words, inode fields and tree items far more often than random bytes in
 * a 6 MiB image would.
 */
#include <stdint.h>
#include <string.h>

#include "../crash_ops.h"
#include "api/api.h"
#include "device/device.h"
#include "fsck/fsck.h"
#include <fcntl.h>
#include <unistd.h>

#define IMG_SIZE (6u << 20)

static uint8_t *base_img, *work_img;
static uint64_t meta_span;

static void make_base(void)
{
	struct dev *dev;
	struct udax_fs *fs;

	if (dev_crash_new(&dev, IMG_SIZE) ||
	    udax_open_device(&fs, dev, 1, NULL))
		abort();
	if (crash_setup(fs))
		abort();
	base_img = malloc(IMG_SIZE);
	work_img = malloc(IMG_SIZE);
	memcpy(base_img, udax_fs_device(fs)->base, IMG_SIZE);
	udax_close(&fs);
	meta_span =
		(((const struct udax_super *)base_img)->data_start + 64) * 4096;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs;
	struct dev *dev;
	uint32_t h;

	if (!base_img)
		make_base();
	memcpy(work_img, base_img, IMG_SIZE);
	while (size >= 5) {
		uint32_t off;
		memcpy(&off, data, 4);
		size_t len = (data[4] % 16) + 1;
		data += 5;
		size -= 5;
		if (len > size)
			len = size;
		off %= (uint32_t)meta_span;
		if (off + len > IMG_SIZE)
			len = IMG_SIZE - off;
		memcpy(work_img + off, data, len);
		data += len;
		size -= len;
	}
	/* fsck first: a fixing run, then a clean one (it must never crash,
	 * and whatever it leaves must open) */
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof(path), "/dev/shm/udax-fuzz-%d.img",
			 (int)getpid());
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd >= 0) {
		if (write(fd, work_img, IMG_SIZE) == IMG_SIZE &&
		    fsck_run(path, FSCK_YES, NULL, NULL) != FSCK_EXIT_ERROR &&
		    fsck_run(path, FSCK_NO, NULL, NULL) != FSCK_EXIT_OK)
			abort(); /* fsck -y left errors that fsck -n sees */
		close(fd);
		unlink(path);
	}
	if (dev_memory_from_image(&dev, work_img, IMG_SIZE))
		return 0;
	if (udax_open_device(&fs, dev, 0, &oo))
		return 0;
	digest_fs(fs, &h);
	put_file(fs, "/d/x", 20000, 1);
	udax_rename(fs, "/big", "/d/e/big", 0);
	udax_unlink(fs, "/small");
	udax_mkdir(fs, "/n", 0755);
	udax_rmdir(fs, "/empty");
	digest_fs(fs, &h);
	udax_close(&fs);
	return 0;
}
