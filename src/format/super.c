/* SPDX-License-Identifier: MIT */
/*
 * super.c - the one check of a superblock that every reader of a raw
 * image makes before it trusts the geometry: the library at open, fsck
 * for each copy it considers, and `udax info`.
 */
#include <stddef.h>

#include "format.h"

static uint64_t super_div_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

const char *udax_super_why(const struct udax_super *sb)
{
	if (sb->magic != UDAX_SUPER_MAGIC)
		return "bad magic number";
	if (udax_block_crc(sb, UDAX_BLOCK_SIZE,
			   offsetof(struct udax_super, crc)) != sb->crc)
		return "checksum mismatch";
	if (sb->version != UDAX_FORMAT_VERSION)
		return "unsupported format version";
	if (sb->block_size != UDAX_BLOCK_SIZE)
		return "unsupported block size";
	if (sb->journal_start != UDAX_JOURNAL_START ||
	    sb->journal_blocks < 64 || sb->journal_blocks > (1ull << 20) ||
	    sb->block_count < 8 || sb->block_count > (1ull << 40) ||
	    sb->bbmap_start != sb->journal_start + sb->journal_blocks ||
	    sb->bbmap_blocks !=
		    super_div_up(sb->block_count, UDAX_BITMAP_BITS) ||
	    sb->ibmap_start != sb->bbmap_start + sb->bbmap_blocks ||
	    sb->inode_count < 16 || sb->inode_count > (1ull << 32) ||
	    sb->ibmap_blocks !=
		    super_div_up(sb->inode_count, UDAX_BITMAP_BITS) ||
	    sb->itable_start != sb->ibmap_start + sb->ibmap_blocks ||
	    sb->itable_blocks * UDAX_INODES_PER_BLOCK != sb->inode_count ||
	    sb->data_start != sb->itable_start + sb->itable_blocks ||
	    sb->data_start + 2 > sb->block_count ||
	    sb->root_ino != UDAX_ROOT_INO)
		return "inconsistent geometry";
	return NULL;
}
