/* SPDX-License-Identifier: MIT */
/*
 * util.c - small helpers of the passes: repairs written into the work
 * image, names for messages, number ranges, and the search for one
 * flipped bit.
 *
 * A flipped bit. Every checksum is crc32c, whose Hamming distance is at
 * least 4 over 4 KiB, so a checksum mismatch caused by one flipped bit
 * names that bit unambiguously: fsck flips it back (crc_find_flip()),
 * and only then falls back to dropping or clearing what looks damaged.
 */
#include <dirent.h>
#include <string.h>

#include "fsck/fsck_int.h"

/* Store a repair into the work image (nothing when it is read only). */
void img_write(struct fsck *fc, void *dst, const void *src, size_t len)
{
	if (!fc->writable || fc->oom)
		return;
	if (dst != src)
		memmove(dst, src, len);
	if (fc->shared) {
		dev_flush(fc->dev, dst, len);
		if (fc->res)
			fc->res->modified = 1;
	}
}

/* Write an inode (a copy) home with a fresh checksum. */
void img_inode_put(struct fsck *fc, uint64_t ino, struct udax_inode *di)
{
	di->crc = udax_block_crc(di, UDAX_INODE_SIZE, INODE_CRC_OFF);
	img_write(fc, ino_ptr(fc, ino), di, sizeof(*di));
}

void img_block_seal(void *blk)
{
	uint32_t crc = udax_block_crc(blk, UDAX_BLOCK_SIZE, 4);
	memcpy((uint8_t *)blk + 4, &crc, 4);
}

const char *dtype_name(uint8_t dtype)
{
	switch (dtype) {
	case DT_REG:
		return "regular file";
	case DT_DIR:
		return "directory";
	case DT_LNK:
		return "symbolic link";
	case DT_CHR:
		return "character device";
	case DT_BLK:
		return "block device";
	case DT_FIFO:
		return "fifo";
	case DT_SOCK:
		return "socket";
	default:
		return "unknown type";
	}
}

static void ranges_flush(struct ranges *r)
{
	if (!r->open)
		return;
	r->open = 0;
	if (r->count++ >= RANGES_SHOWN)
		return;
	r->len += (size_t)snprintf(r->text + r->len, sizeof(r->text) - r->len,
				   r->s == r->e ? "%s%llu" : "%s%llu-%llu",
				   r->len ? ", " : "", (unsigned long long)r->s,
				   (unsigned long long)r->e);
}

void ranges_add(struct ranges *r, uint64_t x)
{
	if (r->open && r->e + 1 == x) {
		r->e = x;
		return;
	}
	ranges_flush(r);
	r->s = r->e = x;
	r->open = 1;
}

const char *ranges_text(struct ranges *r)
{
	ranges_flush(r);
	if (r->count > RANGES_SHOWN)
		snprintf(r->text + r->len, sizeof(r->text) - r->len,
			 " (and %llu more)",
			 (unsigned long long)(r->count - RANGES_SHOWN));
	return r->text;
}

/* ---- checksums: one flipped bit ---- */

static uint32_t crc_tab[256];

void crc_tab_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_tab[i] = c;
	}
}

/*
 * buf[0..len) with its crc field (4 bytes at crc_off, counted as zero)
 * does not match `stored`. If one flipped bit explains it, return that
 * bit (byte * 8 + bit); -2 if the stored checksum itself has one flipped
 * bit; -1 otherwise. crc32c is linear: flipping bit b of byte p changes
 * the register by T[1 << b] advanced over the len - 1 - p bytes after p,
 * and the result must equal the difference between the two checksums.
 */
long crc_find_flip(const void *buf, size_t len, size_t crc_off, uint32_t stored)
{
	uint32_t syn = udax_block_crc(buf, len, crc_off) ^ stored;
	uint32_t v[8];

	if (!syn)
		return -1;
	if (__builtin_popcount(syn) == 1)
		return -2;
	for (int b = 0; b < 8; b++)
		v[b] = crc_tab[1u << b];
	for (size_t p = len; p-- > 0;) {
		if (p < crc_off || p >= crc_off + 4)
			for (int b = 0; b < 8; b++)
				if (v[b] == syn)
					return (long)(p * 8 + (size_t)b);
		for (int b = 0; b < 8; b++)
			v[b] = crc_tab[v[b] & 0xff] ^ (v[b] >> 8);
	}
	return -1;
}

void flip_bit(void *buf, long bit)
{
	((uint8_t *)buf)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* ---- directory name hash (dir.c; part of the format) ---- */
