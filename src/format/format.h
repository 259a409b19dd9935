/* SPDX-License-Identifier: MIT */
/*
 * format.h - the on-media format of udax, shared by libudax and the tools.
 *
 * docs/FORMAT.md describes every byte; this header is its C form. All
 * fields are fixed-width little-endian; no host pointer is ever stored.
 * Every metadata structure carries a crc32c (Castagnoli) checksum.
 *
 * Device layout, in 4 KiB blocks (B = block_count):
 *
 *   0                 superblock, primary copy
 *   1                 state block (roots that change: orphan list, ...)
 *   2 .. 2+J-1        journal (one redo transaction at a time)
 *   bbmap_start       block bitmap   (1 bit per device block, 1 = in use)
 *   ibmap_start       inode bitmap   (1 bit per inode, 1 = in use)
 *   itable_start      inode table    (16 inodes of 256 bytes per block)
 *   data_start .. B-2 data and tree blocks
 *   B-1               superblock, backup copy (identical, written by mkfs)
 *
 * Trees (extent maps, directories, the refcount tree) are B+trees of 4 KiB
 * nodes with u64 keys and variable-length values (struct udax_node).
 */
#ifndef UDAX_FORMAT_H
#define UDAX_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Little-endian storage types; the hosts udax runs on are little-endian
 * (checked below), so these are plain integers with a documenting name. */
typedef uint16_t le16;
typedef uint32_t le32;
typedef uint64_t le64;
typedef int64_t les64;

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "udax's on-media format is little-endian; add byte swapping first"
#endif

#define UDAX_BLOCK_SHIFT 12
#define UDAX_BLOCK_SIZE (1u << UDAX_BLOCK_SHIFT)
#define UDAX_HUGE_BLOCKS 512u /* 2 MiB in blocks: huge-mapping alignment */
#define UDAX_CACHELINE 64u

#define UDAX_FORMAT_VERSION 1

/* Magic numbers: ASCII, read as little-endian integers. */
#define UDAX_SUPER_MAGIC 0x3130534658414455ull /* "UDAXFS01" */
#define UDAX_STATE_MAGIC 0x54535855u	       /* "UXST" */
#define UDAX_JOURNAL_MAGIC 0x4c4a5855u	       /* "UXJL" */
#define UDAX_BITMAP_MAGIC 0x4d425855u	       /* "UXBM" */
#define UDAX_NODE_MAGIC 0x444e5855u	       /* "UXND" */
#define UDAX_INODE_MAGIC 0x4e49u	       /* "IN" */

#define UDAX_SUPER_BLOCK 0
#define UDAX_STATE_BLOCK 1
#define UDAX_JOURNAL_START 2

/* Feature flags. An image with unknown incompat bits is refused; unknown
 * ro_compat bits allow read-only opening only. */
#define UDAX_FEAT_INCOMPAT_REFLINK 0x1 /* refcount tree may be non-empty */
/* Read-only-compatible: a reader that ignores them reads the image
 * right, a writer that ignores them would break it (FORMAT.md, 13). */
#define UDAX_FEAT_RO_COMPAT_XATTR 0x1	/* inodes may have an xattr tree */
#define UDAX_FEAT_RO_COMPAT_SPECIAL 0x2 /* FIFO, socket, device inodes */
/* Bits this version of the library implements. */
#define UDAX_FEAT_INCOMPAT_KNOWN UDAX_FEAT_INCOMPAT_REFLINK
#define UDAX_FEAT_RO_COMPAT_KNOWN                                              \
	(UDAX_FEAT_RO_COMPAT_XATTR | UDAX_FEAT_RO_COMPAT_SPECIAL)
#define UDAX_FEAT_COMPAT_KNOWN 0x0

/* ---- superblock (blocks 0 and B-1; 4096 bytes) ---- */
struct udax_super {
	le64 magic;		/* UDAX_SUPER_MAGIC */
	le32 version;		/* UDAX_FORMAT_VERSION */
	le32 block_size;	/* 4096 */
	le64 block_count;	/* device blocks, superblocks included */
	uint8_t uuid[16];	/* random at mkfs */
	le64 feat_compat;	/* UDAX_FEAT_COMPAT_* */
	le64 feat_incompat;	/* UDAX_FEAT_INCOMPAT_* */
	le64 feat_ro_compat;	/* UDAX_FEAT_RO_COMPAT_* */
	le64 journal_start;	/* first journal block (2) */
	le64 journal_blocks;	/* journal length in blocks */
	le64 bbmap_start;	/* first block-bitmap block */
	le64 bbmap_blocks;	/* block-bitmap length in blocks */
	le64 ibmap_start;	/* first inode-bitmap block */
	le64 ibmap_blocks;	/* inode-bitmap length in blocks */
	le64 itable_start;	/* first inode-table block */
	le64 itable_blocks;	/* inode-table length in blocks */
	le64 inode_count;	/* inodes; numbers 1..inode_count-1 are valid */
	le64 data_start;	/* first block the allocator may hand out */
	le64 root_ino;		/* the root directory's inode (1) */
	les64 mkfs_time_ns;	/* creation time, ns since the Epoch */
	le64 hash_seed;		/* seed of the directory name hash */
	uint8_t reserved[3920]; /* zero */
	le32 pad;		/* zero */
	le32 crc;		/* crc32c of the block with this field 0 */
};

/* ---- state block (block 1; changes only through the journal) ---- */
struct udax_state {
	le32 magic;		/* UDAX_STATE_MAGIC */
	le32 crc;		/* crc32c of the block with this field 0 */
	le64 blkno;		/* 1 */
	le64 orphan_head;	/* first inode of the orphan list, 0 = none */
	le64 refcount_root;	/* root node of the refcount tree, 0 = empty */
	le64 generation;	/* next inode generation number */
	uint8_t reserved[4056]; /* zero */
};

/* ---- journal ----
 * The journal area is a log of the transactions committed since the last
 * checkpoint, from its first byte, each on a 64-byte boundary: a header,
 * then `nrec` records, each a struct udax_jrec followed by `len` bytes of
 * new contents for device bytes [dev_off, dev_off+len). A transaction is
 * committed when all of it is durable: its crc (over header, with crc 0,
 * and every record byte) then matches. Replay copies every record of each
 * committed transaction, in sequence, to its home; replay is idempotent. */
struct udax_jhdr {
	le32 magic;	  /* UDAX_JOURNAL_MAGIC; 0 = journal empty */
	le32 crc;	  /* crc32c of header (crc 0) and records */
	le64 seq;	  /* transaction number: previous one's + 1 in a log */
	le32 nrec;	  /* number of records */
	le32 pad;	  /* zero */
	le64 bytes;	  /* header + records, bytes */
	uint8_t uuid[16]; /* the file system's uuid: never replay a stranger */
	le64 reserved[2];
};

struct udax_jrec {
	le64 dev_off; /* device byte offset of the home location */
	le32 len;     /* bytes of data that follow (multiple of 8, 8..4096) */
	le32 pad;     /* zero */
};

/* ---- bitmap block (block and inode bitmaps) ---- */
#define UDAX_BITMAP_HDR 32
#define UDAX_BITMAP_BITS ((UDAX_BLOCK_SIZE - UDAX_BITMAP_HDR) * 8u) /* 32512 */
struct udax_bitmap {
	le32 magic; /* UDAX_BITMAP_MAGIC */
	le32 crc;   /* crc32c of the block with this field 0 */
	le64 blkno; /* this block's number */
	le64 first; /* number of the object bit 0 describes */
	le64 reserved;
	uint8_t bits[UDAX_BLOCK_SIZE - UDAX_BITMAP_HDR]; /* bit i of byte j is
							  * object first+8j+i */
};

/* ---- inode (256 bytes; 16 per inode-table block) ---- */
#define UDAX_INODE_SIZE 256
#define UDAX_INODES_PER_BLOCK (UDAX_BLOCK_SIZE / UDAX_INODE_SIZE)
#define UDAX_ROOT_INO 1
#define UDAX_INLINE_MAX 128 /* symlink targets up to this are inline */

/* i_flags */
#define UDAX_IF_ORPHAN 0x1     /* on the orphan list */
#define UDAX_IF_TRUNCATING 0x2 /* blocks past size may remain: finish */

struct udax_inode {
	le16 magic; /* UDAX_INODE_MAGIC when in use, 0 when free */
	le16 mode;  /* type and permission bits, as st_mode */
	le32 nlink; /* hard links (directories: 2 + subdirectories) */
	le64 ino;   /* this inode's number: checks its position */
	le32 uid;
	le32 gid;
	le64 size;	/* bytes */
	le64 blocks;	/* blocks owned: data and tree nodes */
	les64 atime_ns; /* times: ns since the Epoch */
	les64 mtime_ns;
	les64 ctime_ns;
	les64 btime_ns;
	le64 generation;  /* from state.generation at creation */
	le32 flags;	  /* UDAX_IF_* */
	le32 xattr_lo;	  /* xattr tree root, low 32 bits (XATTR feature;
			   * else zero); high 32 bits in xattr_hi */
	le64 orphan_next; /* next inode on the orphan list, 0 = last */
	le64 root;	  /* extent tree (files, long symlinks) or name tree
			    * (directories) root node, 0 = empty */
	le64 parent;	  /* directories: the parent's inode number */
	le64 entries;	  /* directories: number of entries */
	uint8_t inline_data[UDAX_INLINE_MAX]; /* short symlink target;
					       * device nodes: udax_rdev */
	le32 xattr_hi; /* xattr tree root, high 32 bits */
	le32 crc;      /* crc32c of the 256 bytes with this field 0 */
};

/* The root node of an inode's xattr tree (0 = none). Split in two
 * halves because only two 32-bit fields of the inode were free. */
static inline uint64_t udax_inode_xattr_root(const struct udax_inode *di)
{
	return (uint64_t)di->xattr_lo | ((uint64_t)di->xattr_hi << 32);
}

static inline void udax_inode_xattr_set(struct udax_inode *di, uint64_t root)
{
	di->xattr_lo = (le32)root;
	di->xattr_hi = (le32)(root >> 32);
}

/* Character and block device inodes (SPECIAL feature): the device
 * number, at the start of inline_data; the rest of it is zero. FIFOs and
 * sockets have an all-zero inline_data. Limits are Linux's dev_t. */
#define UDAX_RDEV_MAJOR_MAX 0xfffu   /* 12 bits */
#define UDAX_RDEV_MINOR_MAX 0xfffffu /* 20 bits */
struct udax_rdev {
	le32 major;
	le32 minor;
};

/* ---- B+tree node (4096 bytes) ----
 * Items sorted by key grow from the front; their values are packed from
 * the end of the block towards the front. Internal nodes (level > 0)
 * store the child's block number (8 bytes) as the value; an internal
 * item's key is a lower bound of its child's keys (equal to the smallest
 * when written, possibly below it after deletions), greater than every key
 * of the previous child. */
#define UDAX_NODE_HDR 48
struct udax_node_item {
	le64 key;
	le16 off; /* value offset from the start of the node */
	le16 len; /* value length, bytes */
	le32 pad; /* zero */
};

struct udax_node {
	le32 magic;	/* UDAX_NODE_MAGIC */
	le32 crc;	/* crc32c of the block with this field 0 */
	le64 blkno;	/* this block's number */
	le64 owner;	/* inode number, or 0 for the refcount tree */
	le16 kind;	/* UDAX_TREE_* */
	le16 level;	/* 0 = leaf */
	le16 nitems;	/* items in use */
	le16 val_start; /* offset of the lowest value byte (4096 if none) */
	le64 reserved[2];
	struct udax_node_item items[];
};

#define UDAX_TREE_EXTENT 1   /* key: file block; value: udax_extent_val */
#define UDAX_TREE_DIR 2	     /* key: name hash; value: udax_dirent_val+ */
#define UDAX_TREE_REFCOUNT 3 /* key: device block; value: udax_refcount_val */
#define UDAX_TREE_XATTR 4    /* key: name hash << 8 | chunk; value: below */

/* Extent tree value. An extent maps file blocks [key, key+len) to device
 * blocks [dev_blk, dev_blk+len). */
#define UDAX_EXT_UNWRITTEN 0x1	    /* allocated but reads as zeros */
#define UDAX_EXT_MAX_LEN (1u << 20) /* blocks in one extent: 4 GiB */
struct udax_extent_val {
	le64 dev_blk;
	le32 len;   /* blocks, 1..UDAX_EXT_MAX_LEN */
	le32 flags; /* UDAX_EXT_* */
};

/* Directory value: one or more entries whose names hash to the key
 * (collisions share the item), each a header followed by the name
 * (no NUL), padded to a multiple of 8 bytes. */
#define UDAX_NAME_MAX 255
#define UDAX_DIR_HASH_MASK ((1ull << 55) - 1) /* key = hash & mask, >= 16 */
struct udax_dirent_val {
	le64 ino;
	uint8_t type;	  /* DT_* value of the target */
	uint8_t name_len; /* 1..255 */
	le16 pad16;
	le32 pad32;
	/* char name[name_len], then zero padding to 8 */
};

/* Xattr tree (XATTR feature; owner = the inode). A bucket item, key
 * udax_dir_hash(name) << 8, holds the entries of every name with that
 * hash, each a udax_xattr_val, the full name ("user.x", no NUL) padded
 * to 8, then an inline value padded to 8. A value too large to sit
 * inline lives in `nchunks` chunk items, keys (hash << 8) | first ..
 * first + nchunks - 1, of UDAX_XATTR_CHUNK bytes each (the last one
 * shorter); chunk numbers of one bucket's entries do not overlap. */
#define UDAX_XATTR_NAME_MAX 255		/* full name, prefix included */
#define UDAX_XATTR_SIZE_MAX 65536	/* one value */
#define UDAX_XATTR_CHUNK 1024		/* bytes of value per chunk item */
#define UDAX_XATTR_INLINE_ENTRY 512	/* an entry inline at most this */
#define UDAX_XATTR_LIST_MAX 65536	/* names + NULs of one inode */
#define UDAX_XATTR_TOTAL_MAX (1u << 20) /* value bytes of one inode */
struct udax_xattr_val {
	le32 value_len; /* 0..UDAX_XATTR_SIZE_MAX */
	uint8_t name_len;
	uint8_t first;	 /* first chunk, 1..255; 0 = inline value */
	uint8_t nchunks; /* chunk items; 0 = inline value */
	uint8_t pad;	 /* zero */
	/* char name[name_len], zero padding to 8, inline value, padding */
};

/* Refcount tree value (REFLINK feature): device blocks [key, key+len)
 * are mapped by `refs` extents (>= 2), in one file or several; blocks
 * not in the tree have one owner (or none: free). Ranges do not
 * overlap. */
struct udax_refcount_val {
	le32 len;
	le32 refs;
};

_Static_assert(sizeof(struct udax_super) == UDAX_BLOCK_SIZE, "super size");
_Static_assert(sizeof(struct udax_state) == UDAX_BLOCK_SIZE, "state size");
_Static_assert(sizeof(struct udax_jhdr) == 64, "journal header size");
_Static_assert(sizeof(struct udax_jrec) == 16, "journal record size");
_Static_assert(sizeof(struct udax_bitmap) == UDAX_BLOCK_SIZE, "bitmap size");
_Static_assert(sizeof(struct udax_inode) == UDAX_INODE_SIZE, "inode size");
_Static_assert(sizeof(struct udax_node) == UDAX_NODE_HDR, "node header");
_Static_assert(sizeof(struct udax_node_item) == 16, "node item size");
_Static_assert(sizeof(struct udax_extent_val) == 16, "extent size");
_Static_assert(sizeof(struct udax_dirent_val) == 16, "dirent size");
_Static_assert(sizeof(struct udax_refcount_val) == 8, "refcount size");
_Static_assert(sizeof(struct udax_xattr_val) == 8, "xattr entry size");
_Static_assert(sizeof(struct udax_rdev) == 8, "rdev size");
_Static_assert(offsetof(struct udax_inode, xattr_lo) == 84, "xattr_lo");
_Static_assert(offsetof(struct udax_inode, xattr_hi) == 248, "xattr_hi");
_Static_assert(offsetof(struct udax_inode, crc) == 252, "inode crc");

/* The directory key of a name (FORMAT.md, "The name hash"): FNV-1a 64
 * seeded with sb.hash_seed, a splitmix64 finalizer, 55 bits, >= 16. */
static inline uint64_t udax_dir_hash(uint64_t seed, const void *name,
				     size_t len)
{
	const unsigned char *p = name;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	h &= UDAX_DIR_HASH_MASK;
	return h < 16 ? h + 16 : h;
}

/* Why a superblock cannot be trusted ("bad magic number", "checksum
 * mismatch", "unsupported format version", "unsupported block size",
 * "inconsistent geometry"), or NULL if it can. The device size and the
 * feature flags are left to the caller (super.c). */
const char *udax_super_why(const struct udax_super *sb);

/* crc32c (Castagnoli), as iSCSI/ext4/btrfs use it: init ~0, final ~. */
uint32_t udax_crc32c(uint32_t crc, const void *buf, size_t len);

/* Checksum of a 4 KiB block (or 256-byte inode) whose crc field is at
 * `crc_off`: the crc is computed as if that field were 0. */
uint32_t udax_block_crc(const void *blk, size_t size, size_t crc_off);

/* The checksum of a 4 KiB block changed from old_blk to new_blk, given
 * old_crc, the checksum of old_blk, and `mask`, the cache lines that may
 * differ (bit i = line i); only those lines cost. */
uint32_t udax_block_crc_update(uint32_t old_crc, const void *old_blk,
			       const void *new_blk, size_t crc_off,
			       uint64_t mask);

#endif /* UDAX_FORMAT_H */
