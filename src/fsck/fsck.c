/* SPDX-License-Identifier: MIT */
/*
 * fsck.c - the udax file system checker.
 *
 * fsck reads the raw image (struct udax_super, udax_inode, udax_node...
 * of format.h); it never relies on udax_open(), so that an image the
 * library refuses can still be checked and repaired. Every number taken
 * from the image is checked against the geometry before it is used as a
 * block number, an inode number, an offset or a length.
 *
 * The work image. With FSCK_YES fsck works on the device itself and every
 * repair is flushed as it is made (drained at the end of each pass). With
 * FSCK_NO it works on a private copy-on-write map of the device: repairs
 * land in that copy and never reach the device, so -n reports exactly
 * what -y would do, later passes included. (Where no private map can be
 * made, -n runs on the read-only device map and repairs are skipped.)
 *
 * Repairs that need a working file system (freeing orphans, finishing an
 * interrupted truncate, connecting inodes to /lost+found) are made after
 * pass 5, when the image is consistent, by the library itself: udax_open
 * recovers orphans, and transactions add the /lost+found entries.
 *
 * Problems are reported through fsck_problems[], one row per kind:
 * "Pass N: <message>. Fix? yes|no (<what the fix does>)".
 *
 * A flipped bit. Every checksum is crc32c, whose Hamming distance is at
 * least 4 over 4 KiB, so a checksum mismatch caused by one flipped bit
 * names that bit unambiguously: fsck flips it back (crc_find_flip()),
 * and only then falls back to dropping or clearing what looks damaged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "btree/btree.h"
#include "fsck.h"
#include "inode/inode.h"
#include "sys/sys.h"

#define NODE_ITEMS_MAX                                                         \
	((UDAX_BLOCK_SIZE - UDAX_NODE_HDR) / sizeof(struct udax_node_item))
#define DIRENT_HDR sizeof(struct udax_dirent_val)
#define INODE_CRC_OFF offsetof(struct udax_inode, crc)
#define SUPER_CRC_OFF offsetof(struct udax_super, crc)
#define RANGES_SHOWN 8 /* ranges listed in a bitmap-difference message */

/* ---- the problem table ---- */

static const struct fsck_problem fsck_problems[] = {
	/* pass 0 */
	{PR_0_SB_PRIMARY, 0, FSCK_SEV_ERROR,
	 "the primary superblock is damaged (%s); the backup at block %llu "
	 "is good",
	 "restore the primary from the backup"},
	{PR_0_SB_BIT, 0, FSCK_SEV_ERROR,
	 "superblock checksum mismatch explained by one flipped bit "
	 "(byte %u, bit %u)",
	 "flip the bit back"},
	{PR_0_SB_BACKUP, 0, FSCK_SEV_ERROR,
	 "the backup superblock at block %llu %s",
	 "rewrite the backup from the primary"},
	{PR_0_DEV_SMALL, 0, FSCK_SEV_ERROR,
	 "the device holds %llu blocks, the file system %llu (truncated "
	 "image?)",
	 "extend the image file with zeros"},
	{PR_0_JOURNAL_REPLAY, 0, FSCK_SEV_INFO,
	 "the journal holds %llu committed transactions, not all installed",
	 "replay them"},
	{PR_0_JOURNAL_STRANGER, 0, FSCK_SEV_ERROR,
	 "the journal holds transaction %llu of another file system",
	 "end the log before it"},
	{PR_0_JOURNAL_BAD, 0, FSCK_SEV_ERROR,
	 "journal transaction %llu is damaged: record %u %s",
	 "end the log before it"},
	/* pass 1 */
	{PR_1_INODE_BIT, 1, FSCK_SEV_ERROR,
	 "inode %llu: checksum mismatch explained by one flipped bit "
	 "(byte %u, bit %u)",
	 "flip the bit back"},
	{PR_1_INODE_CSUM, 1, FSCK_SEV_ERROR,
	 "inode %llu passes checks, but its checksum does not match",
	 "rewrite the checksum"},
	{PR_1_INODE_BAD, 1, FSCK_SEV_ERROR, "inode %llu is damaged: %s",
	 "clear the inode"},
	{PR_1_INODE_GARBAGE, 1, FSCK_SEV_ERROR, "free inode %llu is not zeroed",
	 "zero it"},
	{PR_1_INODE_FLAGS, 1, FSCK_SEV_ERROR,
	 "inode %llu has unknown flags 0x%x", "clear them"},
	{PR_1_INODE_RESERVED, 1, FSCK_SEV_ERROR,
	 "inode %llu has nonzero fields that its type leaves zero",
	 "zero them"},
	{PR_1_INODE_NO_TREE, 1, FSCK_SEV_ERROR,
	 "inode %llu (%s) has a tree root, but its type has no tree",
	 "clear the root"},
	{PR_1_NODE_BAD, 1, FSCK_SEV_ERROR,
	 "%s tree node %llu of inode %llu is damaged: %s",
	 "drop the node and its subtree"},
	{PR_1_NODE_BIT, 1, FSCK_SEV_ERROR,
	 "%s tree node %llu of inode %llu: checksum mismatch explained by "
	 "one flipped bit (byte %u, bit %u)",
	 "flip the bit back"},
	{PR_1_NODE_CSUM, 1, FSCK_SEV_ERROR,
	 "%s tree node %llu of inode %llu passes checks, but its checksum "
	 "does not match",
	 "rewrite the checksum"},
	{PR_1_NODE_ITEM, 1, FSCK_SEV_ERROR,
	 "%s tree node %llu of inode %llu: item %u is damaged: %s",
	 "drop the item"},
	{PR_1_NODE_PACK, 1, FSCK_SEV_ERROR,
	 "%s tree node %llu of inode %llu: its values are not packed",
	 "repack the node"},
	{PR_1_EXT_BAD, 1, FSCK_SEV_ERROR,
	 "inode %llu: extent at file block %llu is damaged: %s",
	 "drop the extent"},
	{PR_1_EXT_OVERLAP, 1, FSCK_SEV_ERROR,
	 "inode %llu: extent at file block %llu overlaps the extent before "
	 "it",
	 "drop the extent"},
	{PR_1_EXT_EOF, 1, FSCK_SEV_ERROR,
	 "inode %llu: extent at file block %llu (%u blocks) reaches past the "
	 "end of the file (size %llu)",
	 "trim the extent"},
	{PR_1_EXT_DUP, 1, FSCK_SEV_ERROR,
	 "inode %llu: extent at file block %llu uses blocks %s, already in "
	 "use",
	 "drop the extent"},
	{PR_1_EXT_FREE, 1, FSCK_SEV_ERROR,
	 "inode %llu: extent at file block %llu, in a node whose checksum "
	 "does not match, points at free blocks %s",
	 "drop the extent"},
	{PR_1_BLOCKS, 1, FSCK_SEV_ERROR,
	 "inode %llu: blocks is %llu, should be %llu", "set it"},
	{PR_1_REFCOUNT_FEATURE, 1, FSCK_SEV_ERROR,
	 "a refcount tree exists, but the reflink feature is off",
	 "drop the tree"},
	{PR_1_REFCOUNT_BAD, 1, FSCK_SEV_ERROR,
	 "refcount tree: the item for block %llu is damaged", "drop the item"},
	/* pass 2 */
	{PR_2_ENT_DAMAGED, 2, FSCK_SEV_ERROR,
	 "directory %llu: damaged entry at offset %u of a bucket",
	 "drop it and the rest of its bucket"},
	{PR_2_ENT_NAME, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' has an illegal name", "drop the entry"},
	{PR_2_ENT_HASH, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' is filed under the wrong hash",
	 "drop the entry"},
	{PR_2_ENT_DUP, 2, FSCK_SEV_ERROR,
	 "directory %llu: duplicate entry '%s'", "drop the entry"},
	{PR_2_ENT_INO, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' names inode %llu, which %s",
	 "drop the entry"},
	{PR_2_ENT_ROOT, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' names the root directory",
	 "drop the entry"},
	{PR_2_ENT_SELF, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' names the directory itself",
	 "drop the entry"},
	{PR_2_ENT_DIRLINK, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' is a second link to directory %llu "
	 "(linked from %llu)",
	 "drop the entry"},
	{PR_2_ENT_TYPE, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' has file type %u, should be %u",
	 "set the type"},
	{PR_2_ENT_PAD, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry '%s' has nonzero padding", "zero it"},
	{PR_2_ENTRIES, 2, FSCK_SEV_ERROR,
	 "directory %llu: entry count is %llu, should be %llu", "set it"},
	{PR_2_PARENT, 2, FSCK_SEV_ERROR,
	 "directory %llu: parent is %llu, should be %llu", "set it"},
	{PR_2_DIR_BLOCKS, 2, FSCK_SEV_ERROR,
	 "directory %llu: blocks is %llu, should be %llu", "set it"},
	/* pass 3 */
	{PR_3_NO_ROOT, 3, FSCK_SEV_ERROR, "the root directory is missing",
	 "create an empty root directory"},
	{PR_3_UNCONNECTED, 3, FSCK_SEV_ERROR,
	 "directory %llu is not connected to the root (its parent field "
	 "says %llu)",
	 "connect it to /lost+found"},
	{PR_3_LOOP, 3, FSCK_SEV_ERROR,
	 "directory %llu is in a loop of directories (named in directory "
	 "%llu)",
	 "cut the loop and connect it to /lost+found"},
	{PR_3_NO_LF, 3, FSCK_SEV_ERROR, "/lost+found not found", "create it"},
	{PR_3_LF_BAD, 3, FSCK_SEV_FATAL,
	 "/lost+found (inode %llu) is not a directory: cannot reconnect "
	 "inodes",
	 NULL},
	/* pass 4 */
	{PR_4_UNATTACHED, 4, FSCK_SEV_ERROR,
	 "inode %llu (%s, %llu bytes) is not named by any directory",
	 "connect it to /lost+found"},
	{PR_4_NLINK, 4, FSCK_SEV_ERROR,
	 "inode %llu: link count is %u, should be %u", "set it"},
	{PR_4_ORPHAN, 4, FSCK_SEV_INFO,
	 "inode %llu (%s) is an orphan: unlinked, still allocated", "free it"},
	{PR_4_TRUNCATE, 4, FSCK_SEV_INFO,
	 "inode %llu: a truncate was interrupted", "finish it"},
	/* pass 5 */
	{PR_5_BITMAP_HDR, 5, FSCK_SEV_ERROR,
	 "%s bitmap block %llu is damaged: %s", "rewrite it"},
	{PR_5_BLOCK_LEAK, 5, FSCK_SEV_ERROR,
	 "blocks marked in use but not used: %s", "mark them free"},
	{PR_5_BLOCK_UNMARKED, 5, FSCK_SEV_ERROR,
	 "blocks in use but marked free: %s", "mark them in use"},
	{PR_5_INODE_LEAK, 5, FSCK_SEV_ERROR,
	 "inodes marked in use but free: %s", "mark them free"},
	{PR_5_INODE_UNMARKED, 5, FSCK_SEV_ERROR,
	 "inodes in use but marked free: %s", "mark them in use"},
	{PR_5_STATE_BAD, 5, FSCK_SEV_ERROR, "the state block is damaged: %s",
	 "rebuild it"},
	{PR_5_STATE_BIT, 5, FSCK_SEV_ERROR,
	 "state block checksum mismatch explained by one flipped bit "
	 "(byte %u, bit %u)",
	 "flip the bit back"},
	{PR_5_STATE_CSUM, 5, FSCK_SEV_ERROR,
	 "the state block passes checks, but its checksum does not match",
	 "rewrite the checksum"},
	{PR_5_STATE_FIELDS, 5, FSCK_SEV_ERROR,
	 "the state block has nonzero reserved fields", "zero them"},
	{PR_5_ORPHAN_LIST, 5, FSCK_SEV_ERROR, "the orphan list is wrong: %s",
	 "rebuild it"},
	{PR_5_GENERATION, 5, FSCK_SEV_ERROR,
	 "the next inode generation is %llu, but inode %llu has %llu",
	 "raise it"},
	/* finishing */
	{PR_6_FINISH, 6, FSCK_SEV_FATAL, "%s", NULL},
};

const struct fsck_problem *fsck_problem_find(uint32_t code)
{
	for (size_t i = 0; i < sizeof(fsck_problems) / sizeof(fsck_problems[0]);
	     i++)
		if (fsck_problems[i].code == code)
			return &fsck_problems[i];
	return NULL;
}

/* ---- the checker's state ---- */

enum ino_state { INO_FREE, INO_USED, INO_BAD };

/* fino.flags */
#define FI_SUSPECT 0x01	   /* a leaf of its tree had a bad checksum */
#define FI_PARENTLINK 0x02 /* dir: its parent field's directory names it */
#define FI_RECONNECT 0x04  /* to be connected to /lost+found */
#define FI_ORPHAN 0x08	   /* unlinked: to be freed */
#define FI_TRUNC 0x10	   /* an interrupted truncate to finish */
#define FI_ONLIST 0x20	   /* on the orphan list as found */

/* What the passes learn about one inode. */
struct fino {
	uint64_t linker;  /* dirs: the directory whose entry names it */
	uint64_t nblocks; /* blocks counted: tree nodes + data */
	uint64_t data;	  /* data blocks claimed */
	uint64_t entries; /* dirs: entries kept */
	uint32_t refs;	  /* entries naming it */
	uint32_t subdirs; /* dirs: entries naming directories */
	uint8_t state;	  /* enum ino_state */
	uint8_t dtype;	  /* DT_* of its mode */
	uint8_t reach;	  /* pass 3 */
	uint8_t flags;	  /* FI_* */
};

/* Scratch buffers of one tree level (the walk recurses once a level). */
struct wscratch {
	uint64_t node[UDAX_BLOCK_SIZE / 8];  /* the node as read */
	uint64_t build[UDAX_BLOCK_SIZE / 8]; /* the node rebuilt */
	uint64_t vals[UDAX_BLOCK_SIZE / 8];  /* rewritten values */
};

struct fsck {
	const char *name;
	FILE *out;
	int yes;
	const struct fsck_opts *opts; /* observers: progress, problem */
	struct fsck_result *res;
	struct dev *dev;
	uint8_t *base;	   /* the work image */
	uint64_t map_size; /* bytes of a private map at base, or 0 */
	uint64_t avail;	   /* blocks of the work image that can be read */
	int writable;	   /* repairs are applied to the work image */
	int shared;	   /* the work image is the device: flush writes */
	struct udax_super sb;
	uint64_t nblocks, ninodes;
	/* the state block as it should be, and what was wrong with it */
	struct udax_state st;
	int st_damage; /* ST_* */
	long st_bit;   /* the flipped bit, for ST_BIT */
	const char *st_why;
	/* block maps, one bit a block */
	uint64_t *used;	     /* in use: fixed metadata, nodes, data */
	uint64_t *nodes_ok;  /* tree nodes pass 1 kept */
	uint64_t *seen;	     /* nodes visited by the current walk */
	uint64_t *suspect;   /* leaves whose checksum did not match */
	uint64_t *shared_bm; /* blocks the refcount tree says are shared */
	uint8_t *bbmap_ok;   /* per block-bitmap block: header sane */
	uint64_t *seen_list;
	size_t nseen, capseen;
	struct fino *fi;
	struct wscratch *scratch; /* BT_MAX_DEPTH + 1 levels */
	/* pass 3 and 4 */
	uint64_t lf_ino; /* /lost+found, 0 if none */
	int lf_state;	 /* 0 unknown, 1 usable (or to create), -1 bad */
	uint64_t *reconnect;
	size_t nreconnect, capreconnect;
	uint64_t *chain; /* the orphan list as found */
	size_t nchain, capchain;
	int chain_broken;
	int finish_orphans;  /* orphans or truncates left for the library */
	int pass;	     /* the pass running: its number labels problems */
	int journal_changed; /* replaying the log changed the image */
	/* counters */
	uint64_t problems, fixed, unfixed, changes;
	int oom;
	int op_failed; /* FSCK_EXIT_ERROR: finishing met a system error */
	char why[128]; /* formatted reasons */
};

enum { ST_OK, ST_CSUM, ST_BIT, ST_BAD };

/* ---- small helpers ---- */

static inline int bit_test(const uint64_t *m, uint64_t i)
{
	return (m[i >> 6] >> (i & 63)) & 1;
}

static inline void bit_set(uint64_t *m, uint64_t i)
{
	m[i >> 6] |= 1ull << (i & 63);
}

static inline void bit_clear(uint64_t *m, uint64_t i)
{
	m[i >> 6] &= ~(1ull << (i & 63));
}

static int is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Block `b` of the work image, or NULL past what can be read. */
static uint8_t *blk_ptr(struct fsck *fc, uint64_t b)
{
	return b < fc->avail ? fc->base + (b << UDAX_BLOCK_SHIFT) : NULL;
}

/* Inode `ino` in the work image (the inode table is always readable). */
static struct udax_inode *ino_ptr(struct fsck *fc, uint64_t ino)
{
	return (struct udax_inode
			*)(fc->base +
			   ((fc->sb.itable_start + ino / UDAX_INODES_PER_BLOCK)
			    << UDAX_BLOCK_SHIFT) +
			   (ino % UDAX_INODES_PER_BLOCK) * UDAX_INODE_SIZE);
}

/* Store a repair into the work image (nothing when it is read only). */
static void img_write(struct fsck *fc, void *dst, const void *src, size_t len)
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

static void img_drain(struct fsck *fc)
{
	if (fc->shared)
		dev_drain(fc->dev);
}

/* Write an inode (a copy) home with a fresh checksum. */
static void inode_put(struct fsck *fc, uint64_t ino, struct udax_inode *di)
{
	di->crc = udax_block_crc(di, UDAX_INODE_SIZE, INODE_CRC_OFF);
	img_write(fc, ino_ptr(fc, ino), di, sizeof(*di));
}

static void block_seal(void *blk)
{
	uint32_t crc = udax_block_crc(blk, UDAX_BLOCK_SIZE, 4);
	memcpy((uint8_t *)blk + 4, &crc, 4);
}

static const char *kind_name(uint16_t kind)
{
	return kind == UDAX_TREE_DIR	? "directory" :
	       kind == UDAX_TREE_EXTENT ? "extent" :
					  "refcount";
}

static const char *type_name(uint8_t dtype)
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

/* A name from the image, printable: non-printing bytes, quotes and
 * backslashes as \xNN, cut after 64 bytes. buf holds 4 * 64 + 8. */
static const char *name_show(const uint8_t *name, size_t len, char *buf)
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 64; i++) {
		uint8_t c = name[i];
		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
			o += (size_t)sprintf(buf + o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (len > 64) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

/* A list of number ranges for a message: "12-15, 20 (and 3 more)". */
struct ranges {
	uint64_t count; /* ranges */
	uint64_t s, e;	/* the open range */
	int open;
	char text[256];
	size_t len;
};

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

static void ranges_add(struct ranges *r, uint64_t x)
{
	if (r->open && r->e + 1 == x) {
		r->e = x;
		return;
	}
	ranges_flush(r);
	r->s = r->e = x;
	r->open = 1;
}

static const char *ranges_text(struct ranges *r)
{
	ranges_flush(r);
	if (r->count > RANGES_SHOWN)
		snprintf(r->text + r->len, sizeof(r->text) - r->len,
			 " (and %llu more)",
			 (unsigned long long)(r->count - RANGES_SHOWN));
	return r->text;
}

/* ---- reporting ---- */

/*
 * Report a problem (fsck_problems[] row `code`, message arguments after
 * it) and count it. Returns 1 if the repair is to be made in the work
 * image: always, except for problems fsck cannot repair and when the work
 * image is read only. With FSCK_NO the repair lands in the private map.
 */
static int fix(struct fsck *fc, uint32_t code, ...)
{
	const struct fsck_problem *p = fsck_problem_find(code);
	char msg[1024]; /* formats, a ranges text, a reason: well below */
	va_list ap;

	if (!p)
		return 0;
	va_start(ap, code);
	vsnprintf(msg, sizeof(msg), p->fmt, ap);
	va_end(ap);
	if (fc->opts->problem)
		fc->opts->problem(fc->opts->arg, p, fc->pass, msg,
				  fc->yes && p->severity != FSCK_SEV_FATAL);
	if (fc->out) {
		if (fc->pass <= 5)
			fprintf(fc->out, "Pass %d: %s", fc->pass, msg);
		else
			fprintf(fc->out, "Finishing: %s", msg);
		if (p->severity == FSCK_SEV_FATAL)
			fprintf(fc->out, ".\n");
		else if (fc->yes)
			fprintf(fc->out, ". Fix? yes (%s)\n", p->fix);
		else
			fprintf(fc->out, ". Fix? no\n");
	}
	if (p->severity == FSCK_SEV_INFO) {
		if (fc->yes)
			fc->changes++;
	} else {
		fc->problems++;
		if (fc->yes && p->severity != FSCK_SEV_FATAL)
			fc->fixed++;
		else
			fc->unfixed++;
	}
	return p->severity != FSCK_SEV_FATAL && fc->writable;
}

static const char *const fsck_pass_names[] = {
	"Checking the superblock and the journal",
	"Checking inodes, blocks, and sizes",
	"Checking directory structure",
	"Checking directory connectivity",
	"Checking reference counts",
	"Checking bitmaps, the state block and the orphan list",
	"Finishing: orphans and /lost+found",
};

/* The pass titles, for tools that show passes their own way (--json). */
const char *fsck_pass_name(int pass)
{
	if (pass < 0 || pass > 6)
		return "";
	return fsck_pass_names[pass];
}

/* Tell the progress observer: done of total units of the pass. Within a
 * pass, only every 256th unit and the last one, so that the callback
 * costs nothing beside the checks. */
static void progress(struct fsck *fc, uint64_t done, uint64_t total)
{
	if (fc->opts->progress && (done % 256 == 0 || done == total))
		fc->opts->progress(fc->opts->arg, fc->pass, done, total);
}

/* A pass starts: tell the observer, then print its title. */
static void pass_header(struct fsck *fc, int pass)
{
	fc->pass = pass;
	progress(fc, 0, 0);
	if (fc->out && pass <= 5)
		fprintf(fc->out, "Pass %d: %s\n", pass, fsck_pass_names[pass]);
}

/* ---- checksums: one flipped bit ---- */

static uint32_t crc_tab[256];

static void crc_tab_init(void)
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
static long crc_find_flip(const void *buf, size_t len, size_t crc_off,
			  uint32_t stored)
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

static void flip_bit(void *buf, long bit)
{
	((uint8_t *)buf)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* ---- directory name hash (dir.c; part of the format) ---- */

static uint64_t name_hash(struct fsck *fc, const uint8_t *name, size_t len)
{
	return udax_dir_hash(fc->sb.hash_seed, name, len);
}

static size_t dirent_size(size_t name_len)
{
	return DIRENT_HDR + ((name_len + 7) & ~(size_t)7);
}

static uint8_t mode_dtype(uint16_t mode)
{
	return mode_to_dtype(mode);
}

/* ================================================================
 * Tree walks
 *
 * One recursive walk serves every pass. In WALK_CHECK (pass 1) it
 * checks each node: block number within the data area, not used twice,
 * header (magic, block number, owner, kind, level), checksum, item table
 * (value bounds, keys in increasing order and within the range the
 * parent gives), values packed; nodes found damaged are dropped with
 * their subtree, damaged items are dropped from their node; nodes kept
 * are claimed in the used map. In WALK_QUIET (later walks) it follows
 * only the nodes pass 1 kept. In both, a callback judges each leaf item
 * and may keep it, drop it or rewrite its value; a node left empty is
 * dropped, and a changed node is rebuilt packed and resealed.
 * ================================================================ */

enum { W_KEEP, W_DROP, W_REWRITE };
enum { WALK_CHECK, WALK_QUIET };

struct walk;
typedef int (*walk_item_fn)(struct walk *w, uint64_t leaf, uint64_t key,
			    const uint8_t *val, size_t len, uint8_t *out,
			    size_t *out_len);

struct walk {
	struct fsck *fc;
	uint64_t ino; /* owner: inode, 0 for the refcount tree */
	uint16_t kind;
	int phase;    /* WALK_CHECK or WALK_QUIET */
	int readonly; /* never change anything */
	int release;  /* give the nodes visited back (unclaim) */
	walk_item_fn item;
	uint64_t nodes; /* nodes kept */
	int suspect;	/* a leaf had a bad checksum (WALK_CHECK) */
	/* extent trees */
	uint64_t ext_end; /* end of the previous extent, file blocks */
	uint64_t eof_blk; /* first file block wholly past EOF */
	uint64_t size;
	int past_eof_ok; /* truncate in progress: written extents may
			  * reach past EOF */
	int trusted;	 /* claim extents of trusted leaves (1) or of
			  * suspect ones (0) */
	uint64_t data;	 /* data blocks claimed */
	/* directories */
	uint64_t entries; /* entries kept */
	uint64_t target;  /* pass 3: drop entries naming this inode */
};

static int seen_push(struct fsck *fc, uint64_t blk)
{
	if (fc->nseen == fc->capseen) {
		size_t ncap = fc->capseen ? fc->capseen * 2 : 256;
		uint64_t *n = sys_realloc(fc->seen_list, ncap * sizeof(*n));
		if (!n) {
			fc->oom = 1;
			return -ENOMEM;
		}
		fc->seen_list = n;
		fc->capseen = ncap;
	}
	fc->seen_list[fc->nseen++] = blk;
	bit_set(fc->seen, blk);
	return 0;
}

/* Why a node header is not acceptable here, or NULL. */
static const char *node_hdr_why(struct walk *w, const struct udax_node *n,
				uint64_t blk, int level)
{
	if (n->magic != UDAX_NODE_MAGIC)
		return "bad magic number";
	if (n->blkno != blk)
		return "wrong block number";
	if (n->owner != w->ino)
		return "wrong owner";
	if (n->kind != w->kind)
		return "wrong tree kind";
	if (n->level >= BT_MAX_DEPTH || (level >= 0 && n->level != level))
		return "wrong level";
	/* only a directory's root leaf may be empty: an emptied directory
	 * keeps it (FORMAT.md, B+tree nodes) */
	if (n->nitems == 0 &&
	    !(w->kind == UDAX_TREE_DIR && level < 0 && n->level == 0))
		return "empty node";
	if (n->nitems > NODE_ITEMS_MAX)
		return "too many items";
	if (n->val_start > UDAX_BLOCK_SIZE ||
	    n->val_start < UDAX_NODE_HDR + (size_t)n->nitems * 16)
		return "bad value area";
	return NULL;
}

struct item_sel {
	uint64_t key;
	uint16_t off, len;
	uint8_t keep;
	uint8_t rewritten;
	uint16_t idx;  /* original index */
	uint16_t nlen; /* rewritten value length */
	uint16_t noff; /* rewritten value offset in scratch vals */
};

static int sel_by_off(const void *a, const void *b)
{
	const struct item_sel *x = *(const struct item_sel *const *)a;
	const struct item_sel *y = *(const struct item_sel *const *)b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keep the largest set of items whose keys strictly increase (earliest
 * items first among equals): a single out-of-order key loses only its
 * own item. O(n^2) over at most 253 items, only for disordered nodes. */
static void keep_increasing(struct item_sel *s, int n, uint16_t *dp,
			    int16_t *from)
{
	int best = -1;

	for (int i = 0; i < n; i++) {
		dp[i] = 0;
		from[i] = -1;
		if (!s[i].keep)
			continue;
		dp[i] = 1;
		for (int j = 0; j < i; j++)
			if (s[j].keep && s[j].key < s[i].key &&
			    dp[j] + 1 > dp[i]) {
				dp[i] = (uint16_t)(dp[j] + 1);
				from[i] = (int16_t)j;
			}
		if (best < 0 || dp[i] > dp[best])
			best = i;
	}
	uint8_t on[NODE_ITEMS_MAX] = {0};
	for (int i = best; i >= 0; i = from[i])
		on[i] = 1;
	for (int i = 0; i < n; i++)
		if (!on[i])
			s[i].keep = 0;
}

static int walk_node(struct walk *w, uint64_t blk, int level, uint64_t lo,
		     uint64_t hi, int depth);

/* Unclaim a node dropped after pass 1 kept it. */
static void node_unclaim(struct walk *w, uint64_t blk)
{
	struct fsck *fc = w->fc;

	if (w->readonly || blk >= fc->nblocks || !bit_test(fc->nodes_ok, blk))
		return;
	bit_clear(fc->nodes_ok, blk);
	bit_clear(fc->used, blk);
}

static int walk_node(struct walk *w, uint64_t blk, int level, uint64_t lo,
		     uint64_t hi, int depth)
{
	struct fsck *fc = w->fc;
	int check = w->phase == WALK_CHECK;
	struct wscratch *sc = &fc->scratch[depth];
	struct udax_node *n = (struct udax_node *)sc->node;
	uint8_t *nb = (uint8_t *)sc->node;
	const char *why = NULL;
	int dirty = 0, crc_bad = 0, dropped = 0;
	uint8_t *home;

	if (blk < fc->sb.data_start || blk >= fc->nblocks - 1)
		why = "it lies outside the data area";
	else if (!(home = blk_ptr(fc, blk)))
		why = "it lies past the end of the device";
	else if (bit_test(fc->seen, blk))
		why = "it is referenced twice";
	else if (check && bit_test(fc->used, blk))
		why = "its block is already in use";
	else if (!check && !bit_test(fc->nodes_ok, blk))
		return W_DROP; /* pass 1 dropped it */
	if (why || depth > BT_MAX_DEPTH) {
		if (check)
			fix(fc, PR_1_NODE_BAD, kind_name(w->kind),
			    (unsigned long long)blk, (unsigned long long)w->ino,
			    why ? why : "the tree is too deep");
		return W_DROP;
	}
	if (seen_push(fc, blk))
		return W_KEEP; /* out of memory: the run stops, change nothing */
	memcpy(nb, home, UDAX_BLOCK_SIZE);

	if (check && udax_block_crc(nb, UDAX_BLOCK_SIZE, 4) != n->crc) {
		long f = crc_find_flip(nb, UDAX_BLOCK_SIZE, 4, n->crc);
		crc_bad = 1;
		if (f >= 0) {
			flip_bit(nb, f);
			if (!node_hdr_why(w, n, blk, level)) {
				if (fix(fc, PR_1_NODE_BIT, kind_name(w->kind),
					(unsigned long long)blk,
					(unsigned long long)w->ino,
					(unsigned)(f / 8), (unsigned)(f % 8)))
					img_write(fc, home, nb,
						  UDAX_BLOCK_SIZE);
				crc_bad = 0;
			} else {
				flip_bit(nb, f);
			}
		}
	}
	why = node_hdr_why(w, n, blk, level);
	if (why) {
		if (check)
			fix(fc, PR_1_NODE_BAD, kind_name(w->kind),
			    (unsigned long long)blk, (unsigned long long)w->ino,
			    why);
		return W_DROP;
	}

	/* the item table */
	int ni = n->nitems;
	struct item_sel sel[NODE_ITEMS_MAX];
	int ordered = 1;
	for (int i = 0; i < ni; i++) {
		const struct udax_node_item *x = &n->items[i];
		struct item_sel *s = &sel[i];
		s->key = x->key;
		s->off = x->off;
		s->len = x->len;
		s->idx = (uint16_t)i;
		s->keep = 1;
		s->rewritten = 0;
		why = NULL;
		if (x->off < n->val_start || x->len > BT_VAL_MAX ||
		    (size_t)x->off + x->len > UDAX_BLOCK_SIZE)
			why = "its value lies outside the node";
		else if (n->level && x->len != 8)
			why = "bad child pointer";
		else if (x->key < lo || x->key >= hi)
			why = "its key lies outside its parent's range";
		if (why) {
			if (check)
				fix(fc, PR_1_NODE_ITEM, kind_name(w->kind),
				    (unsigned long long)blk,
				    (unsigned long long)w->ino, (unsigned)i,
				    why);
			s->keep = 0;
			dirty = 1;
			continue;
		}
		for (int j = i - 1; j >= 0; j--)
			if (sel[j].keep) {
				if (sel[j].key >= s->key)
					ordered = 0;
				break;
			}
	}
	if (!ordered) {
		uint16_t dp[NODE_ITEMS_MAX];
		int16_t from[NODE_ITEMS_MAX];
		uint8_t was[NODE_ITEMS_MAX];
		for (int i = 0; i < ni; i++)
			was[i] = sel[i].keep;
		keep_increasing(sel, ni, dp, from);
		for (int i = 0; i < ni; i++)
			if (was[i] && !sel[i].keep) {
				if (check)
					fix(fc, PR_1_NODE_ITEM,
					    kind_name(w->kind),
					    (unsigned long long)blk,
					    (unsigned long long)w->ino,
					    (unsigned)i,
					    "its key is out of order");
				dirty = 1;
			}
	}
	/* values must not overlap; they should be packed */
	{
		struct item_sel *byoff[NODE_ITEMS_MAX];
		int nk = 0;
		size_t total = 0;
		for (int i = 0; i < ni; i++)
			if (sel[i].keep)
				byoff[nk++] = &sel[i];
		qsort(byoff, (size_t)nk, sizeof(byoff[0]), sel_by_off);
		for (int k = 1; k < nk; k++) {
			struct item_sel *a = byoff[k - 1], *b = byoff[k];
			if ((size_t)a->off + a->len > b->off) {
				struct item_sel *loser =
					a->idx > b->idx ? a : b;
				if (check)
					fix(fc, PR_1_NODE_ITEM,
					    kind_name(w->kind),
					    (unsigned long long)blk,
					    (unsigned long long)w->ino,
					    (unsigned)loser->idx,
					    "its value overlaps another");
				loser->keep = 0;
				dirty = 1;
				if (loser == b) {
					byoff[k] = a; /* keep comparing a */
				}
			}
		}
		for (int i = 0; i < ni; i++)
			if (sel[i].keep)
				total += sel[i].len;
		if (!dirty && total != (size_t)UDAX_BLOCK_SIZE - n->val_start) {
			if (check)
				fix(fc, PR_1_NODE_PACK, kind_name(w->kind),
				    (unsigned long long)blk,
				    (unsigned long long)w->ino);
			dirty = 1;
		}
	}

	/* children, or leaf items */
	size_t vcur = 0;
	uint8_t *vals = (uint8_t *)sc->vals;
	int first = 1;
	for (int i = 0; i < ni; i++) {
		struct item_sel *s = &sel[i];
		if (!s->keep)
			continue;
		if (n->level > 0) {
			uint64_t child, chi = hi;
			memcpy(&child, nb + s->off, 8);
			for (int j = i + 1; j < ni; j++)
				if (sel[j].keep) {
					chi = sel[j].key;
					break;
				}
			int r = walk_node(w, child, n->level - 1,
					  first ? lo : s->key, chi, depth + 1);
			/* the recursion reused deeper scratch only */
			if (r == W_DROP) {
				s->keep = 0;
				dropped = 1;
			}
		} else {
			size_t olen = 0;
			int r = w->item(w, blk, s->key, nb + s->off, s->len,
					vals + vcur, &olen);
			if (r == W_DROP) {
				s->keep = 0;
				dropped = 1;
			} else if (r == W_REWRITE && olen <= s->len) {
				s->rewritten = 1;
				s->noff = (uint16_t)vcur;
				s->nlen = (uint16_t)olen;
				vcur += olen;
				dirty = 1;
			}
		}
		if (s->keep)
			first = 0;
	}

	int kept = 0;
	for (int i = 0; i < ni; i++)
		kept += sel[i].keep;
	/* an emptied directory keeps its root leaf with no items */
	int empty_dir_root = ni == 0 && w->kind == UDAX_TREE_DIR &&
			     depth == 0 && n->level == 0;
	if (!kept && !empty_dir_root) {
		if (!check)
			node_unclaim(w, blk);
		return W_DROP;
	}
	if (dirty || dropped || crc_bad) {
		struct udax_node *b = (struct udax_node *)sc->build;
		uint8_t *bb = (uint8_t *)sc->build;
		memset(bb, 0, UDAX_BLOCK_SIZE);
		memcpy(bb, nb, UDAX_NODE_HDR);
		b->nitems = 0;
		b->val_start = UDAX_BLOCK_SIZE;
		for (int i = 0; i < ni; i++) {
			struct item_sel *s = &sel[i];
			const uint8_t *v =
				s->rewritten ? vals + s->noff : nb + s->off;
			uint16_t len = s->rewritten ? s->nlen : s->len;
			if (!s->keep)
				continue;
			b->val_start = (uint16_t)(b->val_start - len);
			memcpy(bb + b->val_start, v, len);
			b->items[b->nitems] = (struct udax_node_item){
				.key = s->key, .off = b->val_start, .len = len};
			b->nitems++;
		}
		if (check && crc_bad && !dirty && !dropped)
			fix(fc, PR_1_NODE_CSUM, kind_name(w->kind),
			    (unsigned long long)blk,
			    (unsigned long long)w->ino);
		if (check && crc_bad && n->level == 0) {
			bit_set(fc->suspect, blk);
			w->suspect = 1;
		}
		block_seal(bb);
		if (!w->readonly)
			img_write(fc, home, bb, UDAX_BLOCK_SIZE);
	}
	if (check) {
		bit_set(fc->used, blk);
		bit_set(fc->nodes_ok, blk);
	}
	if (w->release) {
		bit_clear(fc->used, blk);
		bit_clear(fc->nodes_ok, blk);
	}
	w->nodes++;
	return W_KEEP;
}

/* Walk a whole tree from `root`. Returns W_KEEP, or W_DROP if the root
 * must go (the owner's root pointer becomes 0). */
static int walk_tree(struct walk *w, uint64_t root)
{
	struct fsck *fc = w->fc;
	int r;

	w->nodes = 0;
	w->ext_end = 0;
	w->data = 0;
	w->entries = 0;
	if (!root)
		return W_KEEP;
	r = walk_node(w, root, -1, 0, UINT64_MAX, 0);
	for (size_t i = 0; i < fc->nseen; i++)
		bit_clear(fc->seen, fc->seen_list[i]);
	fc->nseen = 0;
	return r;
}

/* ================================================================
 * Pass 0: superblock, device size, journal, state block
 * ================================================================ */

/* Operational error: say why, return FSCK_EXIT_ERROR. */
static int op_error(struct fsck *fc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int op_error(struct fsck *fc, const char *fmt, ...)
{
	va_list ap;

	if (fc->res) {
		va_start(ap, fmt);
		vsnprintf(fc->res->message, sizeof(fc->res->message), fmt, ap);
		va_end(ap);
	}
	return FSCK_EXIT_ERROR;
}

/* Find a good superblock: the primary, else a backup, else the primary
 * with one flipped bit. *which: 0 primary, 1 backup (at *backup_blk), 2
 * corrected primary (bit *bit). Returns 0 or an exit code. */
static int super_choose(struct fsck *fc, int *which, uint64_t *backup_blk,
			long *bit, const char **primary_why)
{
	const struct udax_super *p = (const void *)fc->dev->base;
	uint64_t devb = fc->dev->size >> UDAX_BLOCK_SHIFT;
	uint64_t cand[2];
	int nc = 0;

	*primary_why = udax_super_why(p);
	if (!*primary_why) {
		fc->sb = *p;
		*which = 0;
		return 0;
	}
	cand[nc++] = devb - 1;
	if (p->magic == UDAX_SUPER_MAGIC && p->block_count >= 2 &&
	    p->block_count - 1 < devb && p->block_count - 1 != devb - 1)
		cand[nc++] = p->block_count - 1;
	for (int i = 0; i < nc; i++) {
		const struct udax_super *b =
			(const void *)(fc->dev->base +
				       (cand[i] << UDAX_BLOCK_SHIFT));
		if (cand[i] == 0 || udax_super_why(b) ||
		    b->block_count - 1 != cand[i])
			continue;
		fc->sb = *b;
		*which = 1;
		*backup_blk = cand[i];
		return 0;
	}
	if (p->magic == UDAX_SUPER_MAGIC &&
	    udax_block_crc(p, UDAX_BLOCK_SIZE, SUPER_CRC_OFF) != p->crc) {
		long f = crc_find_flip(p, UDAX_BLOCK_SIZE, SUPER_CRC_OFF,
				       p->crc);
		if (f >= 0) {
			struct udax_super t = *p;
			flip_bit(&t, f);
			if (!udax_super_why(&t)) {
				fc->sb = t;
				*which = 2;
				*bit = f;
				return 0;
			}
		}
	}
	if (p->magic != UDAX_SUPER_MAGIC)
		return op_error(fc,
				"%s: not a udax file system (bad magic "
				"number, and no backup superblock found)",
				fc->name);
	return op_error(fc,
			"%s: the superblock is damaged (%s) and no good "
			"backup was found",
			fc->name, *primary_why);
}

/* Take the lock udax_open() takes, so that no one opens the image while
 * fsck works on it, and fsck does not work on an image in use: shared
 * for -n (a writer changes what is checked), exclusive for -y (readers
 * would see repairs under them). Returns 0 or an exit code. */
static int dev_lock(struct fsck *fc)
{
	if (fc->dev->fd < 0 ||
	    !sys_flock(fc->dev->fd, (fc->yes ? LOCK_EX : LOCK_SH) | LOCK_NB))
		return 0;
	if (errno != EWOULDBLOCK)
		return op_error(fc, "%s: cannot lock: %s", fc->name,
				strerror(errno));
	return op_error(fc,
			"%s: in use (open %selsewhere; mounted?): close it "
			"first",
			fc->name, fc->yes ? "" : "read-write ");
}

/* Extend a truncated image file to the file system's size, and reopen
 * the device. Returns 0 or a negative errno. */
static int dev_extend(struct fsck *fc)
{
	struct stat st;
	int fd, ret = 0;

	fd = sys_open(fc->name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sys_fstat(fd, &st) || !S_ISREG(st.st_mode))
		ret = -ENOTSUP;
	else if (sys_ftruncate(fd, (off_t)(fc->nblocks << UDAX_BLOCK_SHIFT)))
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	dev_close(&fc->dev);
	ret = dev_open(&fc->dev, fc->name, 0, 0);
	return ret ? ret : dev_lock(fc);
}

/* Make the work image: the device (-y), or a private map of it (-n) with
 * zeros past the end of a truncated image. */
static int work_image(struct fsck *fc)
{
	uint64_t devsize = fc->dev->size;
	uint64_t fssize = fc->nblocks << UDAX_BLOCK_SHIFT;
	uint64_t size = devsize > fssize ? devsize : fssize;
	void *p;

	if (fc->yes) {
		fc->base = fc->dev->base;
		fc->avail = devsize >> UDAX_BLOCK_SHIFT;
		fc->writable = 1;
		fc->shared = 1;
		return 0;
	}
	fc->base = fc->dev->base;
	fc->avail = devsize >> UDAX_BLOCK_SHIFT;
	if (fc->dev->fd < 0)
		return 0;
	/* without the private copy the journal could not be replayed, and
	 * the report would not be the one -y gives: an operational error */
	p = sys_mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return op_error(fc, "%s: cannot map a private copy: %s",
				fc->name, strerror(errno));
	if (sys_mmap(p, devsize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_FIXED, fc->dev->fd, 0) == MAP_FAILED) {
		int err = errno;
		sys_munmap(p, size);
		return op_error(fc, "%s: cannot map a private copy: %s",
				fc->name, strerror(err));
	}
	fc->base = p;
	fc->map_size = size;
	fc->avail = size >> UDAX_BLOCK_SHIFT;
	fc->writable = 1;
	return 0;
}

/* Is [off, off+len) a place a journal record may write? (FORMAT.md 5.5) */
static int jrec_target_ok(struct fsck *fc, uint64_t off, uint64_t len)
{
	uint64_t lo = (uint64_t)UDAX_STATE_BLOCK << UDAX_BLOCK_SHIFT;
	uint64_t hi = (fc->nblocks - 1) << UDAX_BLOCK_SHIFT;
	uint64_t js = fc->sb.journal_start << UDAX_BLOCK_SHIFT;
	uint64_t je = js + (fc->sb.journal_blocks << UDAX_BLOCK_SHIFT);

	if (len == 0 || len > UDAX_BLOCK_SIZE || (len & 7) || off < lo ||
	    off > hi || len > hi - off ||
	    off + len > (fc->avail << UDAX_BLOCK_SHIFT))
		return 0;
	return off + len <= js || off >= je;
}

/* Call fn on every record of the `ntx` transactions of the log. */
static void journal_records(struct fsck *fc, uint8_t *area, uint64_t ntx,
			    void (*fn)(struct fsck *fc, uint64_t dev_off,
				       const uint8_t *data, uint32_t len,
				       uint8_t **save),
			    uint8_t **save)
{
	uint64_t pos = 0;

	for (uint64_t t = 0; t < ntx; t++) {
		struct udax_jhdr h;
		uint64_t p = sizeof(h);
		memcpy(&h, area + pos, sizeof(h));
		for (uint32_t i = 0; i < h.nrec; i++) {
			struct udax_jrec r;
			memcpy(&r, area + pos + p, sizeof(r));
			fn(fc, r.dev_off, area + pos + p + sizeof(r), r.len,
			   save);
			p += sizeof(r) + r.len;
		}
		pos += (h.bytes + UDAX_CACHELINE - 1) &
		       ~(uint64_t)(UDAX_CACHELINE - 1);
	}
}

static void jrec_save(struct fsck *fc, uint64_t dev_off, const uint8_t *data,
		      uint32_t len, uint8_t **save)
{
	(void)data;
	memcpy(*save, fc->base + dev_off, len);
	*save += len;
}

static void jrec_install(struct fsck *fc, uint64_t dev_off, const uint8_t *data,
			 uint32_t len, uint8_t **save)
{
	(void)save;
	img_write(fc, fc->base + dev_off, data, len);
}

static void jrec_compare(struct fsck *fc, uint64_t dev_off, const uint8_t *data,
			 uint32_t len, uint8_t **save)
{
	(void)data;
	if (memcmp(*save, fc->base + dev_off, len))
		fc->journal_changed = 1;
	*save += len;
}

/*
 * The journal (FORMAT.md 5): a log of the transactions committed since
 * the last checkpoint. fsck replays it as a read-write open would: from
 * offset 0, every committed transaction whose number follows the one
 * before; then it empties the log, so that no later open replays old
 * contents over fsck's repairs. Replaying a log that is already
 * installed (home copies up to date) changes nothing and is not
 * reported. A committed transaction of another file system, or one that
 * is not well formed, ends the log there (the library refuses such an
 * image); the transactions before it are replayed.
 */
static void journal_check(struct fsck *fc)
{
	uint8_t *area = blk_ptr(fc, fc->sb.journal_start);
	uint64_t asize = fc->sb.journal_blocks << UDAX_BLOCK_SHIFT;
	uint64_t pos = 0, seq = 0, ntx = 0, total = 0;
	uint8_t *save = NULL, *cur;
	uint32_t magic;

	for (;;) {
		struct udax_jhdr h;
		uint64_t p = sizeof(h), sum = 0;
		const char *why = NULL;
		uint32_t i;

		if (pos + sizeof(h) > asize)
			break;
		memcpy(&h, area + pos, sizeof(h));
		if (h.magic != UDAX_JOURNAL_MAGIC || h.bytes < sizeof(h) ||
		    h.bytes > asize - pos || (ntx && h.seq != seq) ||
		    udax_block_crc(area + pos, h.bytes,
				   offsetof(struct udax_jhdr, crc)) != h.crc)
			break; /* the end of the log */
		if (memcmp(h.uuid, fc->sb.uuid, 16)) {
			fix(fc, PR_0_JOURNAL_STRANGER,
			    (unsigned long long)h.seq);
			break;
		}
		for (i = 0; i < h.nrec && !why; i++) {
			struct udax_jrec r;
			if (p + sizeof(r) > h.bytes) {
				why = "is cut short";
				break;
			}
			memcpy(&r, area + pos + p, sizeof(r));
			if (r.len > h.bytes - p - sizeof(r))
				why = "is cut short";
			else if (!jrec_target_ok(fc, r.dev_off, r.len))
				why = "points outside the metadata";
			else
				sum += r.len;
			p += sizeof(r) + r.len;
		}
		if (why) {
			fix(fc, PR_0_JOURNAL_BAD, (unsigned long long)h.seq, i,
			    why);
			break;
		}
		total += sum;
		ntx++;
		seq = h.seq + 1;
		pos += (h.bytes + UDAX_CACHELINE - 1) &
		       ~(uint64_t)(UDAX_CACHELINE - 1);
	}
	if (ntx && !fc->writable) {
		fix(fc, PR_0_JOURNAL_REPLAY, (unsigned long long)ntx);
	} else if (ntx) {
		save = sys_malloc(total ? total : 1);
		if (save) {
			cur = save;
			journal_records(fc, area, ntx, jrec_save, &cur);
		}
		journal_records(fc, area, ntx, jrec_install, NULL);
		fc->journal_changed = !save;
		if (save) {
			cur = save;
			journal_records(fc, area, ntx, jrec_compare, &cur);
		}
		free(save);
		if (fc->journal_changed)
			fix(fc, PR_0_JOURNAL_REPLAY, (unsigned long long)ntx);
		img_drain(fc);
	}
	memcpy(&magic, area, sizeof(magic));
	if (magic) {
		magic = 0;
		img_write(fc, area, &magic, sizeof(magic));
	}
}

/* Read the state block into fc->st, repairing one flipped bit in the
 * copy; what was wrong is reported in pass 5, which writes it back. */
static void state_load(struct fsck *fc)
{
	const struct udax_state *s =
		(const void *)blk_ptr(fc, UDAX_STATE_BLOCK);

	memcpy(&fc->st, s, sizeof(fc->st));
	fc->st_damage = ST_OK;
	if (udax_block_crc(&fc->st, UDAX_BLOCK_SIZE, 4) != fc->st.crc) {
		long f = crc_find_flip(&fc->st, UDAX_BLOCK_SIZE, 4, fc->st.crc);
		fc->st_damage = ST_CSUM;
		if (f >= 0) {
			flip_bit(&fc->st, f);
			fc->st_damage = ST_BIT;
			fc->st_bit = f;
		}
	}
	fc->st_why = NULL;
	if (fc->st.magic != UDAX_STATE_MAGIC)
		fc->st_why = "bad magic number";
	else if (fc->st.blkno != UDAX_STATE_BLOCK)
		fc->st_why = "wrong block number";
	if (fc->st_why) {
		memset(&fc->st, 0, sizeof(fc->st));
		fc->st.magic = UDAX_STATE_MAGIC;
		fc->st.blkno = UDAX_STATE_BLOCK;
		fc->st_damage = ST_BAD;
	}
	if (fc->st.orphan_head >= fc->ninodes)
		fc->st.orphan_head = 0; /* pass 5 rebuilds the list */
}

static int pass0(struct fsck *fc)
{
	int which = 0, ret;
	uint64_t backup_blk = 0, devb;
	long bit = -1;
	const char *pwhy = NULL;

	pass_header(fc, 0);
	if (fc->dev->size < 2 * UDAX_BLOCK_SIZE)
		return op_error(fc, "%s: too small to hold a udax file system",
				fc->name);
	ret = super_choose(fc, &which, &backup_blk, &bit, &pwhy);
	if (ret)
		return ret;
	/* what the library implements: an image it refuses cannot be
	 * finished through it either (REFLINK is checked below once the
	 * library knows it) */
	if (fc->sb.feat_incompat & ~(uint64_t)UDAX_FEAT_INCOMPAT_KNOWN)
		return op_error(fc,
				"%s: incompatible features 0x%llx that this "
				"version does not implement",
				fc->name,
				(unsigned long long)fc->sb.feat_incompat);
	if (fc->sb.feat_ro_compat & ~(uint64_t)UDAX_FEAT_RO_COMPAT_KNOWN)
		return op_error(fc,
				"%s: unknown read-only features 0x%llx; "
				"this fsck cannot check them",
				fc->name,
				(unsigned long long)fc->sb.feat_ro_compat);
	fc->nblocks = fc->sb.block_count;
	fc->ninodes = fc->sb.inode_count;

	devb = fc->dev->size >> UDAX_BLOCK_SHIFT;
	if (devb < fc->nblocks) {
		fix(fc, PR_0_DEV_SMALL, (unsigned long long)devb,
		    (unsigned long long)fc->nblocks);
		if (fc->yes) {
			ret = dev_extend(fc);
			if (ret)
				return op_error(fc,
						"%s: cannot extend the "
						"image: %s",
						fc->name, strerror(-ret));
		}
	}
	ret = work_image(fc);
	if (ret)
		return ret;
	if (fc->avail < fc->sb.data_start)
		return op_error(fc,
				"%s: the metadata lies past the end of the "
				"device; cannot check",
				fc->name);

	if (which == 1 &&
	    fix(fc, PR_0_SB_PRIMARY, pwhy, (unsigned long long)backup_blk))
		img_write(fc, fc->base, &fc->sb, sizeof(fc->sb));
	if (which == 2 &&
	    fix(fc, PR_0_SB_BIT, (unsigned)(bit / 8), (unsigned)(bit % 8)))
		img_write(fc, fc->base, &fc->sb, sizeof(fc->sb));
	uint8_t *bk = blk_ptr(fc, fc->nblocks - 1);
	if (bk && memcmp(bk, &fc->sb, sizeof(fc->sb))) {
		const char *bwhy = udax_super_why((const void *)bk);
		char what[96];
		if (bwhy)
			snprintf(what, sizeof(what), "is damaged (%s)", bwhy);
		else
			snprintf(what, sizeof(what),
				 "differs from the primary");
		if (fix(fc, PR_0_SB_BACKUP,
			(unsigned long long)(fc->nblocks - 1), what))
			img_write(fc, bk, &fc->sb, sizeof(fc->sb));
	}
	img_drain(fc);
	journal_check(fc);
	state_load(fc);
	img_drain(fc);
	return 0;
}

/* ================================================================
 * Pass 1: inodes, their trees, the blocks they use
 *
 * Checks, for every inode of the table:
 *   - a free inode (magic 0) is all zeros;
 *   - an inode in use has the inode magic, its own number, a matching
 *     checksum (one flipped bit is flipped back; a mismatch on content
 *     that passes every check is resealed), a known file type (the root
 *     a directory), sane symlink lengths, no unknown flags, zero
 *     reserved fields; damaged inodes are cleared (pass 2 then drops
 *     the entries naming them);
 *   - its tree (extent tree of files and long symlinks, name tree of
 *     directories): every node as walk_node() checks it;
 *   - extents: length 1..UDAX_EXT_MAX_LEN, known flags, device blocks
 *     within the data area, no overlap with the previous extent, nothing
 *     written past EOF unless a truncate is in progress (unwritten
 *     extents may lie past EOF; the block holding EOF may be mapped);
 *   - no block used twice: fixed metadata, then every tree node, then
 *     extents from nodes with good checksums, then extents from nodes
 *     whose checksum did not match (which must also point at blocks the
 *     bitmap marks in use): whatever comes later and collides loses;
 *   - "blocks" of files equals tree nodes + data blocks (directories:
 *     pass 2, after it has dropped entries).
 * The bitmaps are compared with what this pass finds in pass 5.
 * ================================================================ */

/* Is the inode's type one with a tree? */
static int has_tree(const struct udax_inode *di)
{
	return S_ISREG(di->mode) || S_ISDIR(di->mode) ||
	       (S_ISLNK(di->mode) && di->size > UDAX_INLINE_MAX);
}

/* Why an inode in use is not acceptable, or NULL. */
static const char *inode_why(struct fsck *fc, uint64_t ino,
			     const struct udax_inode *di)
{
	if (di->magic != UDAX_INODE_MAGIC)
		return "bad magic number";
	if (di->ino != ino) {
		snprintf(fc->why, sizeof(fc->why),
			 "it carries inode number %llu",
			 (unsigned long long)di->ino);
		return fc->why;
	}
	switch (di->mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		snprintf(fc->why, sizeof(fc->why), "unknown file type 0%o",
			 (unsigned)(di->mode & S_IFMT));
		return fc->why;
	}
	if (ino == UDAX_ROOT_INO && !S_ISDIR(di->mode))
		return "the root inode is not a directory";
	if (S_ISLNK(di->mode) && (di->size == 0 || di->size >= PATH_MAX))
		return "bad symbolic link length";
	if (S_ISLNK(di->mode) && di->size > UDAX_INLINE_MAX && !di->root)
		return "long symbolic link without a data block";
	return NULL;
}

/* Zero the fields an inode of its type must leave zero (FORMAT.md 7.2,
 * 7.8). Returns 1 if any was not zero. */
static int inode_zero_fields(struct udax_inode *di)
{
	size_t keep = 0;
	int bad = 0;

	if (di->pad || di->reserved) {
		di->pad = 0;
		di->reserved = 0;
		bad = 1;
	}
	if (!S_ISDIR(di->mode) && (di->parent || di->entries)) {
		di->parent = 0;
		di->entries = 0;
		bad = 1;
	}
	if (S_ISDIR(di->mode) && di->size) {
		di->size = 0;
		bad = 1;
	}
	if (!(di->flags & UDAX_IF_ORPHAN) && di->orphan_next) {
		di->orphan_next = 0;
		bad = 1;
	}
	if (S_ISLNK(di->mode) && di->size <= UDAX_INLINE_MAX)
		keep = (size_t)di->size;
	if (!is_zero(di->inline_data + keep, UDAX_INLINE_MAX - keep)) {
		memset(di->inline_data + keep, 0, UDAX_INLINE_MAX - keep);
		bad = 1;
	}
	return bad;
}

/* Extent item checks shared by every walk of an extent tree. `report`
 * only in pass 1's first walk. */
static int ext_eval(struct walk *w, uint64_t key, const uint8_t *val,
		    size_t len, int report, uint8_t *out, size_t *out_len,
		    struct udax_extent_val *ev)
{
	struct fsck *fc = w->fc;
	struct udax_extent_val e;
	const char *why = NULL;

	if (len != sizeof(e))
		why = "bad value size";
	if (!why) {
		memcpy(&e, val, sizeof(e));
		if (e.len == 0 || e.len > UDAX_EXT_MAX_LEN)
			why = "bad length";
		else if (e.flags & ~(uint32_t)UDAX_EXT_UNWRITTEN)
			why = "unknown flags";
		else if (e.dev_blk < fc->sb.data_start ||
			 e.dev_blk >= fc->nblocks - 1 ||
			 e.len > fc->nblocks - 1 - e.dev_blk)
			why = "its blocks lie outside the data area";
		else if (key + e.len < key)
			why = "its file blocks overflow";
	}
	if (why) {
		if (report)
			fix(fc, PR_1_EXT_BAD, (unsigned long long)w->ino,
			    (unsigned long long)key, why);
		return W_DROP;
	}
	if (key < w->ext_end) {
		if (report)
			fix(fc, PR_1_EXT_OVERLAP, (unsigned long long)w->ino,
			    (unsigned long long)key);
		return W_DROP;
	}
	*ev = e;
	if (!(e.flags & UDAX_EXT_UNWRITTEN) && !w->past_eof_ok &&
	    key + e.len > w->eof_blk) {
		if (report)
			fix(fc, PR_1_EXT_EOF, (unsigned long long)w->ino,
			    (unsigned long long)key, e.len,
			    (unsigned long long)w->size);
		if (key >= w->eof_blk)
			return W_DROP;
		ev->len = (uint32_t)(w->eof_blk - key);
		memcpy(out, ev, sizeof(*ev));
		*out_len = sizeof(*ev);
		w->ext_end = key + ev->len;
		return W_REWRITE;
	}
	w->ext_end = key + e.len;
	return W_KEEP;
}

/* Pass 1, first walk: check extents (no claims yet). */
static int ext_item_check(struct walk *w, uint64_t leaf, uint64_t key,
			  const uint8_t *val, size_t len, uint8_t *out,
			  size_t *out_len)
{
	struct udax_extent_val e;
	(void)leaf;
	return ext_eval(w, key, val, len, 1, out, out_len, &e);
}

/* The block bitmap's bit for block b: 1, 0, or -1 if its bitmap block
 * is too damaged to say. */
static int bbmap_bit(struct fsck *fc, uint64_t b)
{
	uint64_t i = b / UDAX_BITMAP_BITS, bit = b % UDAX_BITMAP_BITS;
	const struct udax_bitmap *bm;

	if (!fc->bbmap_ok[i])
		return -1;
	bm = (const void *)blk_ptr(fc, fc->sb.bbmap_start + i);
	return (bm->bits[bit / 8] >> (bit % 8)) & 1;
}

/* Pass 1, later walks: claim the blocks of extents, trusted leaves
 * first, then suspect ones. */
static int ext_item_claim(struct walk *w, uint64_t leaf, uint64_t key,
			  const uint8_t *val, size_t len, uint8_t *out,
			  size_t *out_len)
{
	struct fsck *fc = w->fc;
	struct udax_extent_val e;
	int r = ext_eval(w, key, val, len, 0, out, out_len, &e);
	struct ranges rs = {0};

	if (r == W_DROP)
		return r;
	if (bit_test(fc->suspect, leaf) == w->trusted)
		return r; /* claimed in the other walk */
	for (uint64_t b = e.dev_blk; b < e.dev_blk + e.len; b++)
		if (bit_test(fc->used, b) && !bit_test(fc->shared_bm, b))
			ranges_add(&rs, b);
	if (rs.open) {
		fix(fc, PR_1_EXT_DUP, (unsigned long long)w->ino,
		    (unsigned long long)key, ranges_text(&rs));
		return W_DROP;
	}
	if (!w->trusted) {
		for (uint64_t b = e.dev_blk; b < e.dev_blk + e.len; b++)
			if (bbmap_bit(fc, b) == 0)
				ranges_add(&rs, b);
		if (rs.open) {
			fix(fc, PR_1_EXT_FREE, (unsigned long long)w->ino,
			    (unsigned long long)key, ranges_text(&rs));
			return W_DROP;
		}
	}
	for (uint64_t b = e.dev_blk; b < e.dev_blk + e.len; b++)
		bit_set(fc->used, b);
	w->data += e.len;
	return r;
}

/* Keep every leaf item (directory leaves are judged in pass 2). */
static int item_keep(struct walk *w, uint64_t leaf, uint64_t key,
		     const uint8_t *val, size_t len, uint8_t *out,
		     size_t *out_len)
{
	(void)w, (void)leaf, (void)key, (void)val, (void)len, (void)out;
	(void)out_len;
	return W_KEEP;
}

/* Pass 1: refcount items mark shared blocks. */
static int refcount_item(struct walk *w, uint64_t leaf, uint64_t key,
			 const uint8_t *val, size_t len, uint8_t *out,
			 size_t *out_len)
{
	struct fsck *fc = w->fc;
	struct udax_refcount_val r;
	(void)leaf, (void)out, (void)out_len;

	if (len == sizeof(r))
		memcpy(&r, val, sizeof(r));
	if (len != sizeof(r) || r.len == 0 || r.refs < 2 ||
	    key < fc->sb.data_start || key >= fc->nblocks - 1 ||
	    r.len > fc->nblocks - 1 - key) {
		fix(fc, PR_1_REFCOUNT_BAD, (unsigned long long)key);
		return W_DROP;
	}
	for (uint64_t b = key; b < key + r.len; b++)
		bit_set(fc->shared_bm, b);
	return W_KEEP;
}

static void walk_init(struct walk *w, struct fsck *fc, uint64_t ino,
		      uint16_t kind, int phase, walk_item_fn item)
{
	memset(w, 0, sizeof(*w));
	w->fc = fc;
	w->ino = ino;
	w->kind = kind;
	w->phase = phase;
	w->item = item;
	w->trusted = 1;
}

/* Set up the EOF rule of an extent walk from the inode. */
static void walk_eof(struct walk *w, const struct udax_inode *di)
{
	w->size = di->size;
	w->eof_blk = (di->size >> UDAX_BLOCK_SHIFT) +
		     ((di->size & (UDAX_BLOCK_SIZE - 1)) != 0);
	w->past_eof_ok = (di->flags & UDAX_IF_TRUNCATING) != 0;
}

/* Check one inode and walk its tree (first walk). */
static void pass1_inode(struct fsck *fc, uint64_t ino)
{
	struct udax_inode *home = ino_ptr(fc, ino);
	struct udax_inode di = *home;
	struct fino *f = &fc->fi[ino];
	int crc_ok, dirty = 0;
	const char *why;

	f->state = INO_FREE;
	if (di.magic == 0) {
		/* freed slots are zeros sealed with a crc (FORMAT.md 7.8) */
		if (!is_zero(&di, INODE_CRC_OFF) &&
		    fix(fc, PR_1_INODE_GARBAGE, (unsigned long long)ino)) {
			memset(&di, 0, sizeof(di));
			img_write(fc, home, &di, sizeof(di));
		}
		return;
	}
	crc_ok = udax_block_crc(&di, UDAX_INODE_SIZE, INODE_CRC_OFF) == di.crc;
	if (!crc_ok) {
		long b = crc_find_flip(&di, UDAX_INODE_SIZE, INODE_CRC_OFF,
				       di.crc);
		if (b >= 0) {
			struct udax_inode t = di;
			flip_bit(&t, b);
			if (!inode_why(fc, ino, &t)) {
				if (fix(fc, PR_1_INODE_BIT,
					(unsigned long long)ino,
					(unsigned)(b / 8), (unsigned)(b % 8)))
					img_write(fc, home, &t, sizeof(t));
				di = t;
				crc_ok = 1;
			}
		}
	}
	why = inode_why(fc, ino, &di);
	if (why) {
		f->state = INO_BAD;
		if (fix(fc, PR_1_INODE_BAD, (unsigned long long)ino, why)) {
			memset(&di, 0, sizeof(di));
			img_write(fc, home, &di, sizeof(di));
		}
		return;
	}
	if (!crc_ok && fix(fc, PR_1_INODE_CSUM, (unsigned long long)ino))
		dirty = 1;
	f->state = INO_USED;
	f->dtype = mode_dtype(di.mode);
	if (di.flags & ~(uint32_t)(UDAX_IF_ORPHAN | UDAX_IF_TRUNCATING)) {
		fix(fc, PR_1_INODE_FLAGS, (unsigned long long)ino,
		    (unsigned)di.flags);
		di.flags &= UDAX_IF_ORPHAN | UDAX_IF_TRUNCATING;
		dirty = 1;
	}
	if (inode_zero_fields(&di)) {
		fix(fc, PR_1_INODE_RESERVED, (unsigned long long)ino);
		dirty = 1;
	}
	if (di.root && !has_tree(&di)) {
		fix(fc, PR_1_INODE_NO_TREE, (unsigned long long)ino,
		    type_name(f->dtype));
		di.root = 0;
		dirty = 1;
	}
	if (di.root) {
		struct walk w;
		int dir = S_ISDIR(di.mode);
		walk_init(&w, fc, ino, dir ? UDAX_TREE_DIR : UDAX_TREE_EXTENT,
			  WALK_CHECK, dir ? item_keep : ext_item_check);
		walk_eof(&w, &di);
		if (walk_tree(&w, di.root) == W_DROP) {
			di.root = 0;
			dirty = 1;
		}
		f->nblocks = w.nodes;
		if (w.suspect)
			f->flags |= FI_SUSPECT;
	}
	if (dirty)
		inode_put(fc, ino, &di);
}

/* Clear an inode found damaged after its tree nodes were claimed (it
 * has no data blocks claimed): give the nodes back, report, clear. */
static void pass1_clear(struct fsck *fc, uint64_t ino, const char *why)
{
	struct udax_inode *home = ino_ptr(fc, ino);
	struct walk w;

	walk_init(&w, fc, ino, UDAX_TREE_EXTENT, WALK_QUIET, item_keep);
	w.readonly = 1;
	w.release = 1;
	walk_tree(&w, home->root);
	fc->fi[ino].state = INO_BAD;
	if (fix(fc, PR_1_INODE_BAD, (unsigned long long)ino, why)) {
		struct udax_inode z;
		memset(&z, 0, sizeof(z));
		img_write(fc, home, &z, sizeof(z));
	}
}

/* Claim the extents of one file: trusted (leaves with good checksums)
 * or suspect ones. The later walk recounts the nodes. */
static void pass1_claim(struct fsck *fc, uint64_t ino, int trusted)
{
	struct udax_inode di = *ino_ptr(fc, ino);
	struct fino *f = &fc->fi[ino];
	struct walk w;

	walk_init(&w, fc, ino, UDAX_TREE_EXTENT, WALK_QUIET, ext_item_claim);
	w.trusted = trusted;
	walk_eof(&w, &di);
	if (walk_tree(&w, di.root) == W_DROP && di.root) {
		di.root = 0;
		inode_put(fc, ino, &di);
	}
	if (trusted)
		f->data = 0;
	f->data += w.data;
	f->nblocks = w.nodes + f->data;
}

static void pass1(struct fsck *fc)
{
	pass_header(fc, 1);
	for (uint64_t b = 0; b < fc->sb.data_start; b++)
		bit_set(fc->used, b);
	bit_set(fc->used, fc->nblocks - 1);
	for (uint64_t i = 0; i < fc->sb.bbmap_blocks; i++) {
		const struct udax_bitmap *bm =
			(const void *)blk_ptr(fc, fc->sb.bbmap_start + i);
		fc->bbmap_ok[i] = bm->magic == UDAX_BITMAP_MAGIC &&
				  bm->blkno == fc->sb.bbmap_start + i &&
				  bm->first == i * UDAX_BITMAP_BITS;
	}

	/* the refcount tree (reflink) */
	if (fc->st.refcount_root) {
		if (!(fc->sb.feat_incompat & UDAX_FEAT_INCOMPAT_REFLINK)) {
			fix(fc, PR_1_REFCOUNT_FEATURE);
			fc->st.refcount_root = 0;
		} else {
			struct walk w;
			walk_init(&w, fc, 0, UDAX_TREE_REFCOUNT, WALK_CHECK,
				  refcount_item);
			if (walk_tree(&w, fc->st.refcount_root) == W_DROP)
				fc->st.refcount_root = 0;
		}
	}

	for (uint64_t ino = 1; ino < fc->ninodes && !fc->oom; ino++) {
		pass1_inode(fc, ino);
		progress(fc, ino, fc->ninodes - 1);
	}

	/* extents: trusted leaves, then suspect ones; then the counts */
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		const struct udax_inode *di = ino_ptr(fc, ino);
		if (fc->fi[ino].state == INO_USED && !S_ISDIR(di->mode) &&
		    di->root)
			pass1_claim(fc, ino, 1);
	}
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		const struct udax_inode *di = ino_ptr(fc, ino);
		if ((fc->fi[ino].flags & FI_SUSPECT) && di->root &&
		    !S_ISDIR(di->mode))
			pass1_claim(fc, ino, 0);
	}
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		struct udax_inode di = *ino_ptr(fc, ino);
		if (fc->fi[ino].state != INO_USED || S_ISDIR(di.mode))
			continue;
		if (!di.root)
			fc->fi[ino].nblocks = 0;
		if (S_ISLNK(di.mode) && di.size > UDAX_INLINE_MAX &&
		    !fc->fi[ino].data) {
			/* its target is gone with the extent that held it */
			pass1_clear(fc, ino,
				    "long symbolic link without a "
				    "data block");
			continue;
		}
		if (di.blocks != fc->fi[ino].nblocks &&
		    fix(fc, PR_1_BLOCKS, (unsigned long long)ino,
			(unsigned long long)di.blocks,
			(unsigned long long)fc->fi[ino].nblocks)) {
			di.blocks = fc->fi[ino].nblocks;
			inode_put(fc, ino, &di);
		}
	}
	img_drain(fc);
}

/* ================================================================
 * Pass 2: directories
 *
 * Checks, for every directory in use, every entry of every bucket:
 *   - the entry is well formed (header and name inside the bucket,
 *     name length 1..255); a damaged entry and the rest of its bucket
 *     are dropped;
 *   - the name is not empty, ".", ".." and holds no '/' or NUL;
 *   - the name hashes to the bucket's key, and is not in it twice;
 *   - the inode it names is within range and in use (not free, not
 *     cleared by pass 1), is not the root and not the directory itself;
 *   - a directory is named by one entry only: the one in the directory
 *     its parent field names, if that one exists, else the first seen;
 *   - the entry's file type is the inode's, padding is zero;
 * then, per directory: "entries" equals the entries kept, "blocks" the
 * tree nodes kept, and (after all directories) "parent" names the
 * directory whose entry names it (the root: itself).
 * ================================================================ */

/* One entry of a bucket. */
struct dent {
	struct udax_dirent_val h;
	const uint8_t *name;
	size_t nl, off, size;
};

/* The entry at *off: 1, 0 at the end, -1 if damaged. */
static int bucket_next(const uint8_t *val, size_t len, size_t *off,
		       struct dent *d)
{
	if (*off >= len)
		return 0;
	if (*off + DIRENT_HDR > len)
		return -1;
	memcpy(&d->h, val + *off, DIRENT_HDR);
	if (d->h.name_len == 0 || *off + dirent_size(d->h.name_len) > len)
		return -1;
	d->name = val + *off + DIRENT_HDR;
	d->nl = d->h.name_len;
	d->off = *off;
	d->size = dirent_size(d->nl);
	*off += d->size;
	return 1;
}

/* The problem that drops an entry, judged on its own, or 0. */
static uint32_t entry_problem(struct fsck *fc, uint64_t dir, uint64_t key,
			      const struct dent *d, const char **what)
{
	uint64_t ino = d->h.ino;

	if (memchr(d->name, '/', d->nl) || memchr(d->name, 0, d->nl) ||
	    (d->nl == 1 && d->name[0] == '.') ||
	    (d->nl == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return PR_2_ENT_NAME;
	if (name_hash(fc, d->name, d->nl) != key)
		return PR_2_ENT_HASH;
	*what = NULL;
	if (ino == 0 || ino >= fc->ninodes)
		*what = "is out of range";
	else if (fc->fi[ino].state == INO_FREE)
		*what = "is free";
	else if (fc->fi[ino].state == INO_BAD)
		*what = "was damaged and cleared";
	if (*what)
		return PR_2_ENT_INO;
	if (ino == UDAX_ROOT_INO)
		return PR_2_ENT_ROOT;
	if (ino == dir)
		return PR_2_ENT_SELF;
	return 0;
}

/* Does a bucket (entries [0, end) of val) already hold this name? */
static int bucket_has(const uint8_t *val, size_t end, const struct dent *d)
{
	size_t off = 0;
	struct dent e;

	while (off < end && bucket_next(val, end, &off, &e) == 1)
		if (e.nl == d->nl && !memcmp(e.name, d->name, d->nl))
			return 1;
	return 0;
}

/* Pass 2, first walk: which directories does the directory their parent
 * field names name? (Nothing is reported or changed.) */
static int dir_item_parentlinks(struct walk *w, uint64_t leaf, uint64_t key,
				const uint8_t *val, size_t len, uint8_t *out,
				size_t *out_len)
{
	struct fsck *fc = w->fc;
	size_t off = 0, prev;
	struct dent d;
	const char *what;
	(void)leaf, (void)out, (void)out_len;

	for (prev = 0; bucket_next(val, len, &off, &d) == 1; prev = off) {
		uint64_t t = d.h.ino;
		if (entry_problem(fc, w->ino, key, &d, &what) ||
		    bucket_has(val, prev, &d))
			continue;
		if (fc->fi[t].dtype == DT_DIR &&
		    ino_ptr(fc, t)->parent == w->ino)
			fc->fi[t].flags |= FI_PARENTLINK;
	}
	return W_KEEP;
}

/* Pass 2, second walk: judge, report and repair every entry. */
static int dir_item_check(struct walk *w, uint64_t leaf, uint64_t key,
			  const uint8_t *val, size_t len, uint8_t *out,
			  size_t *out_len)
{
	struct fsck *fc = w->fc;
	uint64_t dir = w->ino;
	size_t off = 0, oo = 0;
	int changed = 0, r;
	struct dent d;
	char show[4 * 64 + 8];
	(void)leaf;

	for (;;) {
		size_t at = off;
		const char *what = NULL;
		uint64_t other = 0;
		r = bucket_next(val, len, &off, &d);
		if (r == 0)
			break;
		if (r < 0) {
			fix(fc, PR_2_ENT_DAMAGED, (unsigned long long)dir,
			    (unsigned)at);
			changed = 1;
			break;
		}
		uint64_t t = d.h.ino;
		uint32_t code = entry_problem(fc, dir, key, &d, &what);
		if (!code && bucket_has(out, oo, &d))
			code = PR_2_ENT_DUP;
		if (!code && fc->fi[t].dtype == DT_DIR) {
			uint64_t parent = ino_ptr(fc, t)->parent;
			if (fc->fi[t].linker)
				other = fc->fi[t].linker;
			else if ((fc->fi[t].flags & FI_PARENTLINK) &&
				 parent != dir)
				other = parent;
			if (other)
				code = PR_2_ENT_DIRLINK;
		}
		name_show(d.name, d.nl, show);
		if (code) {
			if (code == PR_2_ENT_INO)
				fix(fc, code, (unsigned long long)dir, show,
				    (unsigned long long)t, what);
			else if (code == PR_2_ENT_DIRLINK)
				fix(fc, code, (unsigned long long)dir, show,
				    (unsigned long long)t,
				    (unsigned long long)other);
			else
				fix(fc, code, (unsigned long long)dir, show);
			changed = 1;
			continue;
		}
		struct udax_dirent_val h = d.h;
		uint8_t want = fc->fi[t].dtype;
		if (h.type != want) {
			fix(fc, PR_2_ENT_TYPE, (unsigned long long)dir, show,
			    (unsigned)h.type, (unsigned)want);
			h.type = want;
			changed = 1;
		}
		if (h.pad16 || h.pad32 ||
		    !is_zero(d.name + d.nl, d.size - DIRENT_HDR - d.nl)) {
			fix(fc, PR_2_ENT_PAD, (unsigned long long)dir, show);
			h.pad16 = 0;
			h.pad32 = 0;
			changed = 1;
		}
		memset(out + oo, 0, d.size);
		memcpy(out + oo, &h, DIRENT_HDR);
		memcpy(out + oo + DIRENT_HDR, d.name, d.nl);
		oo += d.size;
		if (fc->fi[t].refs < UINT32_MAX)
			fc->fi[t].refs++;
		if (want == DT_DIR) {
			fc->fi[t].linker = dir;
			if (fc->fi[dir].subdirs < UINT32_MAX)
				fc->fi[dir].subdirs++;
		}
		if (dir == UDAX_ROOT_INO && d.nl == 10 &&
		    !memcmp(d.name, "lost+found", 10))
			fc->lf_ino = t;
		w->entries++;
	}
	if (!changed)
		return W_KEEP;
	if (!oo)
		return W_DROP;
	*out_len = oo;
	return W_REWRITE;
}

/* After a walk of directory `dir` that kept w->entries entries and
 * w->nodes nodes: fix the inode's root, entries and blocks. */
static void dir_settle(struct fsck *fc, uint64_t dir, struct walk *w,
		       int dropped, int report)
{
	struct udax_inode di = *ino_ptr(fc, dir);
	int dirty = 0;

	if (dropped && di.root) {
		di.root = 0;
		dirty = 1;
	}
	fc->fi[dir].entries = w->entries;
	fc->fi[dir].nblocks = di.root ? w->nodes : 0;
	if (di.entries != w->entries) {
		if (report)
			fix(fc, PR_2_ENTRIES, (unsigned long long)dir,
			    (unsigned long long)di.entries,
			    (unsigned long long)w->entries);
		di.entries = w->entries;
		dirty = 1;
	}
	if (di.blocks != fc->fi[dir].nblocks) {
		if (report)
			fix(fc, PR_2_DIR_BLOCKS, (unsigned long long)dir,
			    (unsigned long long)di.blocks,
			    (unsigned long long)fc->fi[dir].nblocks);
		di.blocks = fc->fi[dir].nblocks;
		dirty = 1;
	}
	if (dirty)
		inode_put(fc, dir, &di);
}

static int is_dir_used(struct fsck *fc, uint64_t ino)
{
	return ino && ino < fc->ninodes && fc->fi[ino].state == INO_USED &&
	       fc->fi[ino].dtype == DT_DIR;
}

static void pass2(struct fsck *fc)
{
	struct walk w;

	pass_header(fc, 2);
	for (uint64_t d = 1; d < fc->ninodes; d++) {
		if (!is_dir_used(fc, d) || !ino_ptr(fc, d)->root)
			continue;
		walk_init(&w, fc, d, UDAX_TREE_DIR, WALK_QUIET,
			  dir_item_parentlinks);
		w.readonly = 1;
		walk_tree(&w, ino_ptr(fc, d)->root);
	}
	for (uint64_t d = 1; d < fc->ninodes && !fc->oom; d++) {
		progress(fc, d, fc->ninodes - 1);
		if (!is_dir_used(fc, d))
			continue;
		walk_init(&w, fc, d, UDAX_TREE_DIR, WALK_QUIET, dir_item_check);
		int r = walk_tree(&w, ino_ptr(fc, d)->root);
		dir_settle(fc, d, &w, r == W_DROP, 1);
	}
	for (uint64_t d = 1; d < fc->ninodes; d++) {
		if (!is_dir_used(fc, d))
			continue;
		struct udax_inode di = *ino_ptr(fc, d);
		uint64_t want =
			d == UDAX_ROOT_INO ? UDAX_ROOT_INO : fc->fi[d].linker;
		if (want && di.parent != want &&
		    fix(fc, PR_2_PARENT, (unsigned long long)d,
			(unsigned long long)di.parent,
			(unsigned long long)want)) {
			di.parent = want;
			inode_put(fc, d, &di);
		}
	}
	img_drain(fc);
}

/* ================================================================
 * Pass 3: connectivity
 *
 * Checks that the root directory exists (else an empty one is made),
 * and that every directory reaches the root through the entries naming
 * it (pass 2 left each directory at most one). A directory that does
 * not is connected to /lost+found: the top of a detached subtree, or,
 * for a loop of directories, the member where the walk closed the loop
 * (its entry in the loop is dropped). Unlinked empty directories are
 * orphans (pass 4), not lost. /lost+found must be a directory; it is
 * created after pass 5 if needed.
 * ================================================================ */

enum { R_UNKNOWN, R_VISITING, R_REACHED, R_LOST };

/* Pass 3: drop the entries of `dir` naming `target`. */
static int dir_item_drop_target(struct walk *w, uint64_t leaf, uint64_t key,
				const uint8_t *val, size_t len, uint8_t *out,
				size_t *out_len)
{
	size_t off = 0, oo = 0;
	int changed = 0;
	struct dent d;
	(void)leaf, (void)key;

	while (bucket_next(val, len, &off, &d) == 1) {
		if (d.h.ino == w->target) {
			changed = 1;
			continue;
		}
		memcpy(out + oo, val + d.off, d.size);
		oo += d.size;
		w->entries++;
	}
	if (!changed)
		return W_KEEP;
	if (!oo)
		return W_DROP;
	*out_len = oo;
	return W_REWRITE;
}

static int push_u64(struct fsck *fc, uint64_t **arr, size_t *n, size_t *cap,
		    uint64_t v)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		uint64_t *a = sys_realloc(*arr, ncap * sizeof(*a));
		if (!a) {
			fc->oom = 1;
			return -ENOMEM;
		}
		*arr = a;
		*cap = ncap;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

/* Can inodes be connected to /lost+found? Reports a bad one once. */
static int lf_usable(struct fsck *fc)
{
	if (fc->lf_state < 0)
		return 0;
	if (fc->lf_ino && !is_dir_used(fc, fc->lf_ino)) {
		fix(fc, PR_3_LF_BAD, (unsigned long long)fc->lf_ino);
		fc->lf_state = -1;
		return 0;
	}
	return 1;
}

/* Plan to connect `ino` to /lost+found (after pass 5); the problem that
 * asks for it has been reported. */
static void lf_plan(struct fsck *fc, uint64_t ino)
{
	if (!fc->lf_ino && !fc->lf_state)
		fix(fc, PR_3_NO_LF);
	fc->lf_state = 1;
	fc->fi[ino].flags |= FI_RECONNECT;
	push_u64(fc, &fc->reconnect, &fc->nreconnect, &fc->capreconnect, ino);
}

static int dir_is_orphan(struct fsck *fc, uint64_t d)
{
	return d != UDAX_ROOT_INO && ino_ptr(fc, d)->nlink == 0 &&
	       !fc->fi[d].linker && !fc->fi[d].entries;
}

/* Follow the links up from directory t; settle every directory on the
 * way as reached or lost. */
static void pass3_dir(struct fsck *fc, uint64_t t, uint64_t **path, size_t *cap)
{
	size_t n = 0;
	uint64_t cur = t, top = 0, loop = 0;
	int result;

	for (;;) {
		struct fino *f = &fc->fi[cur];
		if (cur == UDAX_ROOT_INO) {
			result = R_REACHED;
			break;
		}
		if (f->reach == R_REACHED || f->reach == R_LOST) {
			result = f->reach;
			break;
		}
		if (f->reach == R_VISITING) {
			result = R_LOST;
			loop = cur;
			break;
		}
		f->reach = R_VISITING;
		if (push_u64(fc, path, &n, cap, cur))
			return;
		if (!is_dir_used(fc, f->linker)) {
			result = R_LOST;
			top = cur;
			break;
		}
		cur = f->linker;
	}
	for (size_t i = 0; i < n; i++)
		fc->fi[(*path)[i]].reach = (uint8_t)result;
	if (top && lf_usable(fc)) {
		fix(fc, PR_3_UNCONNECTED, (unsigned long long)top,
		    (unsigned long long)ino_ptr(fc, top)->parent);
		lf_plan(fc, top);
	}
	if (loop && lf_usable(fc)) {
		uint64_t l = fc->fi[loop].linker;
		struct walk w;
		fix(fc, PR_3_LOOP, (unsigned long long)loop,
		    (unsigned long long)l);
		walk_init(&w, fc, l, UDAX_TREE_DIR, WALK_QUIET,
			  dir_item_drop_target);
		w.target = loop;
		int r = walk_tree(&w, ino_ptr(fc, l)->root);
		dir_settle(fc, l, &w, r == W_DROP, 0);
		if (fc->fi[l].subdirs)
			fc->fi[l].subdirs--;
		if (fc->fi[loop].refs)
			fc->fi[loop].refs--;
		fc->fi[loop].linker = 0;
		lf_plan(fc, loop);
	}
}

/* Write a new, empty root directory. */
static void root_create(struct fsck *fc)
{
	struct udax_inode r;
	int64_t now = fs_now_ns();

	memset(&r, 0, sizeof(r));
	r.magic = UDAX_INODE_MAGIC;
	r.mode = S_IFDIR | 0755;
	r.nlink = 2;
	r.ino = UDAX_ROOT_INO;
	r.uid = (uint32_t)geteuid();
	r.gid = (uint32_t)getegid();
	r.atime_ns = r.mtime_ns = r.ctime_ns = r.btime_ns = now;
	r.generation = 1;
	r.parent = UDAX_ROOT_INO;
	inode_put(fc, UDAX_ROOT_INO, &r);
	memset(&fc->fi[UDAX_ROOT_INO], 0, sizeof(fc->fi[0]));
	fc->fi[UDAX_ROOT_INO].state = INO_USED;
	fc->fi[UDAX_ROOT_INO].dtype = DT_DIR;
}

static void pass3(struct fsck *fc)
{
	uint64_t *path = NULL;
	size_t cap = 0;

	pass_header(fc, 3);
	if (!is_dir_used(fc, UDAX_ROOT_INO) && fix(fc, PR_3_NO_ROOT))
		root_create(fc);
	fc->fi[UDAX_ROOT_INO].reach = R_REACHED;
	for (uint64_t d = 2; d < fc->ninodes && !fc->oom; d++) {
		progress(fc, d, fc->ninodes - 1);
		if (!is_dir_used(fc, d) || fc->fi[d].reach)
			continue;
		if (dir_is_orphan(fc, d)) {
			fc->fi[d].reach = R_LOST;
			continue;
		}
		pass3_dir(fc, d, &path, &cap);
	}
	free(path);
	img_drain(fc);
}

/* ================================================================
 * Pass 4: reference counts
 *
 * Checks, for every inode in use:
 *   - a directory's link count is 2 + the directories it names;
 *   - a file's link count is the number of entries naming it;
 *   - a file no entry names, with links left, is connected to
 *     /lost+found (link count 1);
 *   - an inode with no links that no entry names is an orphan: freed
 *     (through udax_open's orphan recovery, after pass 5);
 *   - a truncate left unfinished (UDAX_IF_TRUNCATING) is finished the
 *     same way.
 * It also reads the orphan list as the state block has it, for pass 5.
 * ================================================================ */

static void pass4(struct fsck *fc)
{
	uint64_t cur = fc->st.orphan_head, steps = 0;

	pass_header(fc, 4);
	while (cur) {
		if (cur >= fc->ninodes || fc->fi[cur].state != INO_USED ||
		    (fc->fi[cur].flags & FI_ONLIST) || ++steps > fc->ninodes) {
			fc->chain_broken = 1;
			break;
		}
		fc->fi[cur].flags |= FI_ONLIST;
		if (push_u64(fc, &fc->chain, &fc->nchain, &fc->capchain, cur))
			return;
		cur = ino_ptr(fc, cur)->orphan_next;
	}
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		struct fino *f = &fc->fi[ino];
		struct udax_inode di;
		uint32_t want = 0;

		progress(fc, ino, fc->ninodes - 1);
		if (f->state != INO_USED)
			continue;
		di = *ino_ptr(fc, ino);
		if (f->dtype == DT_DIR) {
			if (dir_is_orphan(fc, ino) &&
			    !(f->flags & FI_RECONNECT)) {
				f->flags |= FI_ORPHAN;
			} else {
				uint64_t w = 2ull + f->subdirs;
				want = w > UINT32_MAX ? UINT32_MAX :
							(uint32_t)w;
			}
		} else if (!f->refs && !di.nlink) {
			f->flags |= FI_ORPHAN;
		} else if (!f->refs) {
			want = di.nlink;
			if (lf_usable(fc)) {
				fix(fc, PR_4_UNATTACHED,
				    (unsigned long long)ino,
				    type_name(f->dtype),
				    (unsigned long long)di.size);
				lf_plan(fc, ino);
				want = 1;
			}
		} else {
			want = f->refs;
		}
		if (f->flags & FI_ORPHAN) {
			fix(fc, PR_4_ORPHAN, (unsigned long long)ino,
			    type_name(f->dtype));
			fc->finish_orphans = 1;
			continue;
		}
		if (di.nlink != want &&
		    fix(fc, PR_4_NLINK, (unsigned long long)ino,
			(unsigned)di.nlink, (unsigned)want)) {
			di.nlink = want;
			inode_put(fc, ino, &di);
		}
		if (di.flags & UDAX_IF_TRUNCATING) {
			f->flags |= FI_TRUNC;
			fix(fc, PR_4_TRUNCATE, (unsigned long long)ino);
			fc->finish_orphans = 1;
		}
	}
	img_drain(fc);
}

/* ================================================================
 * Pass 5: bitmaps, state block, orphan list
 *
 * Checks:
 *   - the state block: magic, block number, checksum (one flipped bit
 *     is flipped back), zero reserved bytes; a damaged one is rebuilt;
 *   - the orphan list holds exactly the orphans and unfinished
 *     truncates of pass 4, once each, flagged UDAX_IF_ORPHAN, and no
 *     other inode carries that flag; it is rebuilt otherwise;
 *   - the next inode generation is above every inode's;
 *   - every bitmap block has its header (magic, block number, first
 *     object) and checksum; the block bitmap marks exactly the blocks
 *     in use (blocks marked but unused are leaked; blocks used but not
 *     marked could be handed out twice), the inode bitmap exactly the
 *     inodes in use and inode 0; bits past the end are zero.
 * ================================================================ */

/* Is object `obj` of a bitmap in use? */
static int bitmap_want(struct fsck *fc, int inodes, uint64_t obj)
{
	if (inodes)
		return obj < fc->ninodes &&
		       (obj == 0 || fc->fi[obj].state == INO_USED);
	return obj < fc->nblocks && bit_test(fc->used, obj);
}

/* Bitmap block i as it should be. */
static void bitmap_build(struct fsck *fc, int inodes, uint64_t i,
			 struct udax_bitmap *bm)
{
	uint64_t start = inodes ? fc->sb.ibmap_start : fc->sb.bbmap_start;

	memset(bm, 0, sizeof(*bm));
	bm->magic = UDAX_BITMAP_MAGIC;
	bm->blkno = start + i;
	bm->first = i * UDAX_BITMAP_BITS;
	for (uint64_t j = 0; j < UDAX_BITMAP_BITS; j++)
		if (bitmap_want(fc, inodes, bm->first + j))
			bm->bits[j / 8] |= (uint8_t)(1u << (j % 8));
	block_seal(bm);
}

static void pass5_bitmap(struct fsck *fc, int inodes)
{
	uint64_t start = inodes ? fc->sb.ibmap_start : fc->sb.bbmap_start;
	uint64_t nbm = inodes ? fc->sb.ibmap_blocks : fc->sb.bbmap_blocks;
	const char *what = inodes ? "inode" : "block";
	struct ranges leak = {0}, unmarked = {0};
	struct udax_bitmap *want = (void *)fc->scratch[0].build;
	int apply = 0;

	for (uint64_t i = 0; i < nbm; i++) {
		struct udax_bitmap *bm = (void *)blk_ptr(fc, start + i);
		const char *why = NULL;
		/* the block bitmap, then the inode bitmap */
		progress(fc, (inodes ? fc->sb.bbmap_blocks : 0) + i + 1,
			 fc->sb.bbmap_blocks + fc->sb.ibmap_blocks);
		if (bm->magic != UDAX_BITMAP_MAGIC)
			why = "bad magic number";
		else if (bm->blkno != start + i)
			why = "wrong block number";
		else if (bm->first != i * UDAX_BITMAP_BITS)
			why = "wrong first object";
		if (why) {
			apply |= fix(fc, PR_5_BITMAP_HDR, what,
				     (unsigned long long)(start + i), why);
			continue;
		}
		int diff = 0;
		for (uint64_t j = 0; j < UDAX_BITMAP_BITS; j++) {
			uint64_t obj = bm->first + j;
			int have = (bm->bits[j / 8] >> (j % 8)) & 1;
			int w = bitmap_want(fc, inodes, obj);
			if (have && !w)
				ranges_add(&leak, obj);
			else if (!have && w)
				ranges_add(&unmarked, obj);
			diff |= have != w;
		}
		if (!diff &&
		    (bm->reserved ||
		     udax_block_crc(bm, UDAX_BLOCK_SIZE, 4) != bm->crc))
			apply |= fix(fc, PR_5_BITMAP_HDR, what,
				     (unsigned long long)(start + i),
				     bm->reserved ? "nonzero reserved field" :
						    "checksum mismatch");
	}
	if (leak.open || leak.count)
		apply |= fix(fc, inodes ? PR_5_INODE_LEAK : PR_5_BLOCK_LEAK,
			     ranges_text(&leak));
	if (unmarked.open || unmarked.count)
		apply |= fix(fc,
			     inodes ? PR_5_INODE_UNMARKED : PR_5_BLOCK_UNMARKED,
			     ranges_text(&unmarked));
	if (!apply)
		return;
	for (uint64_t i = 0; i < nbm; i++) {
		uint8_t *home = blk_ptr(fc, start + i);
		bitmap_build(fc, inodes, i, want);
		if (memcmp(home, want, UDAX_BLOCK_SIZE))
			img_write(fc, home, want, UDAX_BLOCK_SIZE);
	}
}

/* Is inode `ino` to be on the orphan list? */
static int orphan_wanted(struct fsck *fc, uint64_t ino)
{
	return fc->fi[ino].state == INO_USED &&
	       (fc->fi[ino].flags & (FI_ORPHAN | FI_TRUNC));
}

static void pass5_orphans(struct fsck *fc)
{
	uint64_t *want = NULL;
	size_t n = 0, cap = 0, i;
	const char *why = NULL;

	for (i = 0; i < fc->nchain; i++)
		if (orphan_wanted(fc, fc->chain[i]) &&
		    push_u64(fc, &want, &n, &cap, fc->chain[i]))
			goto out;
	for (uint64_t ino = 1; ino < fc->ninodes; ino++)
		if (orphan_wanted(fc, ino) &&
		    !(fc->fi[ino].flags & FI_ONLIST) &&
		    push_u64(fc, &want, &n, &cap, ino))
			goto out;

	if (fc->chain_broken) {
		snprintf(fc->why, sizeof(fc->why),
			 "it is broken after %zu "
			 "inodes",
			 fc->nchain);
		why = fc->why;
	}
	for (i = 0; !why && i < fc->nchain; i++) {
		if (i >= n || fc->chain[i] != want[i]) {
			snprintf(fc->why, sizeof(fc->why),
				 "inode %llu is on it but is not an orphan",
				 (unsigned long long)fc->chain[i]);
			why = fc->why;
		}
	}
	if (!why && n > fc->nchain) {
		snprintf(fc->why, sizeof(fc->why),
			 "orphan inode %llu is missing from it",
			 (unsigned long long)want[fc->nchain]);
		why = fc->why;
	}
	for (uint64_t ino = 1; !why && ino < fc->ninodes; ino++) {
		if (fc->fi[ino].state != INO_USED)
			continue;
		int flagged = (ino_ptr(fc, ino)->flags & UDAX_IF_ORPHAN) != 0;
		if (flagged != orphan_wanted(fc, ino)) {
			snprintf(fc->why, sizeof(fc->why),
				 flagged ? "inode %llu has the orphan flag "
					   "but is not on it" :
					   "inode %llu is on it without the "
					   "orphan flag",
				 (unsigned long long)ino);
			why = fc->why;
		}
	}
	if (!why || !fix(fc, PR_5_ORPHAN_LIST, why))
		goto out;
	fc->st.orphan_head = n ? want[0] : 0;
	for (i = 0; i < n; i++) {
		struct udax_inode di = *ino_ptr(fc, want[i]);
		di.flags |= UDAX_IF_ORPHAN;
		di.orphan_next = i + 1 < n ? want[i + 1] : 0;
		inode_put(fc, want[i], &di);
	}
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		struct udax_inode di = *ino_ptr(fc, ino);
		if (fc->fi[ino].state != INO_USED || orphan_wanted(fc, ino) ||
		    (!(di.flags & UDAX_IF_ORPHAN) && !di.orphan_next))
			continue;
		di.flags &= ~(uint32_t)UDAX_IF_ORPHAN;
		di.orphan_next = 0;
		inode_put(fc, ino, &di);
	}
out:
	free(want);
}

static void pass5(struct fsck *fc)
{
	uint8_t *home = blk_ptr(fc, UDAX_STATE_BLOCK);
	uint64_t maxgen = 0, maxino = 0;

	pass_header(fc, 5);
	if (fc->st_damage == ST_BAD)
		fix(fc, PR_5_STATE_BAD, fc->st_why);
	else if (fc->st_damage == ST_BIT)
		fix(fc, PR_5_STATE_BIT, (unsigned)(fc->st_bit / 8),
		    (unsigned)(fc->st_bit % 8));
	else if (fc->st_damage == ST_CSUM)
		fix(fc, PR_5_STATE_CSUM);
	if (!is_zero(fc->st.reserved, sizeof(fc->st.reserved))) {
		fix(fc, PR_5_STATE_FIELDS);
		memset(fc->st.reserved, 0, sizeof(fc->st.reserved));
	}
	pass5_orphans(fc);
	for (uint64_t ino = 1; ino < fc->ninodes; ino++) {
		const struct udax_inode *di = ino_ptr(fc, ino);
		if (fc->fi[ino].state == INO_USED && di->generation >= maxgen) {
			maxgen = di->generation;
			maxino = ino;
		}
	}
	if (maxino && fc->st.generation <= maxgen &&
	    fix(fc, PR_5_GENERATION, (unsigned long long)fc->st.generation,
		(unsigned long long)maxino, (unsigned long long)maxgen))
		fc->st.generation = maxgen + 1;
	fc->st.crc = udax_block_crc(&fc->st, UDAX_BLOCK_SIZE, 4);
	if (memcmp(home, &fc->st, sizeof(fc->st)))
		img_write(fc, home, &fc->st, sizeof(fc->st));

	pass5_bitmap(fc, 0);
	pass5_bitmap(fc, 1);
	img_drain(fc);
}

/* ================================================================
 * Finishing, through the library: orphans and /lost+found
 * ================================================================ */

/* Create /lost+found (caller holds ns_lock). */
static int lf_create(struct udax_fs *fs, uint64_t *lf)
{
	const struct udax_inode *root;
	struct udax_inode *w;
	struct tx *tx;
	int ret, err;

	root = inode_r(fs, NULL, UDAX_ROOT_INO, &err);
	if (!root)
		return err;
	tx = tx_begin(fs);
	ret = inode_alloc(tx, S_IFDIR | 0700, root->uid, root->gid, lf);
	if (!ret) {
		w = inode_w(tx, *lf);
		if (w) {
			w->nlink = 2;
			w->parent = UDAX_ROOT_INO;
		}
		ret = w ? 0 : tx->failed;
	}
	if (!ret)
		ret = dir_add(tx, UDAX_ROOT_INO, "lost+found", 10, *lf, DT_DIR);
	if (!ret) {
		w = inode_w(tx, UDAX_ROOT_INO);
		if (w)
			w->nlink++;
		ret = w ? 0 : tx->failed;
	}
	if (ret) {
		tx_abort(tx);
		return ret;
	}
	return tx_commit(tx);
}

/* Connect one inode to /lost+found as "#INO" (caller holds ns_lock). */
static int lf_connect(struct udax_fs *fs, uint64_t lf, uint64_t ino)
{
	const struct udax_inode *di;
	struct udax_inode *w;
	char name[48];
	struct tx *tx;
	int ret, err, k = 0;

	di = inode_r(fs, NULL, ino, &err);
	if (!di)
		return err;
	int is_dir = S_ISDIR(di->mode);
	unsigned char dt = mode_to_dtype(di->mode);
	tx = tx_begin(fs);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	while ((ret = dir_add(tx, lf, name, strlen(name), ino, dt)) ==
		       -EEXIST &&
	       ++k < 1000)
		snprintf(name, sizeof(name), "#%llu.%d",
			 (unsigned long long)ino, k);
	if (!ret && is_dir) {
		w = inode_w(tx, ino);
		if (w)
			w->parent = lf;
		w = w ? inode_w(tx, lf) : NULL;
		if (w)
			w->nlink++;
		ret = w ? 0 : tx->failed;
	}
	if (ret) {
		tx_abort(tx);
		return ret;
	}
	return tx_commit(tx);
}

/* Work through the library failed with ret: a system error (out of
 * memory, a failed msync) is an operational error (exit 8), which a
 * later run can get past; a damaged image or no space is a problem left
 * unfixed. */
static void finish_failed(struct fsck *fc, const char *what, int ret)
{
	snprintf(fc->why, sizeof(fc->why), "%s: %s", what, udax_strerror(ret));
	if (ret == UDAX_ECORRUPT || ret == -ENOSPC)
		fix(fc, PR_6_FINISH, fc->why);
	else if (!fc->op_failed)
		fc->op_failed = op_error(fc, "%s: %s", fc->name, fc->why);
}

/*
 * With the image consistent, let the library finish: udax_open frees
 * orphans and finishes truncates (orphan_recover), then transactions
 * connect the inodes planned to /lost+found. Returns 1 if it ran and
 * filled the result's counts.
 */
static int finish(struct fsck *fc)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs = NULL;
	int ret;

	if (!fc->yes || (!fc->finish_orphans && !fc->nreconnect))
		return 0;
	pass_header(fc, 6);
	if (fc->unfixed) {
		fix(fc, PR_6_FINISH,
		    "errors are left: orphans and /lost+found "
		    "are left alone");
		return 0;
	}
	img_drain(fc);
	dev_close(&fc->dev);
	ret = udax_open(&fs, fc->name, &oo);
	if (ret) {
		finish_failed(fc, "cannot open the repaired file system", ret);
		return 0;
	}
	fc->res->modified = 1;
	if (fc->nreconnect) {
		uint64_t lf = 0;
		unsigned char type = 0;
		pthread_rwlock_wrlock(&fs->ns_lock);
		ret = dir_lookup(fs, NULL, UDAX_ROOT_INO, "lost+found", 10, &lf,
				 &type);
		if (ret == -ENOENT)
			ret = lf_create(fs, &lf);
		else if (!ret && type != DT_DIR)
			ret = -ENOTDIR;
		for (size_t i = 0; !ret && i < fc->nreconnect; i++)
			ret = lf_connect(fs, lf, fc->reconnect[i]);
		pthread_rwlock_unlock(&fs->ns_lock);
		if (ret)
			finish_failed(fc,
				      "cannot connect inodes to /lost+found",
				      ret);
	}
	ret = udax_close(&fs);
	if (ret)
		finish_failed(fc, "cannot close the file system", ret);
	return 1;
}

/* Count the blocks and inodes in use from the bitmaps the library left
 * (orphans freed, /lost+found made), for the summary. */
static void count_after_finish(struct fsck *fc)
{
	struct dev *dev;
	uint64_t blocks = 0, inodes = 0;

	if (dev_open(&dev, fc->name, 0, 1))
		return;
	if (dev->size >= fc->nblocks << UDAX_BLOCK_SHIFT) {
		for (uint64_t b = 0; b < fc->nblocks; b++) {
			const struct udax_bitmap *bm =
				(const void *)(dev->base +
					       ((fc->sb.bbmap_start +
						 b / UDAX_BITMAP_BITS)
						<< UDAX_BLOCK_SHIFT));
			uint64_t i = b % UDAX_BITMAP_BITS;
			blocks += (bm->bits[i / 8] >> (i % 8)) & 1;
		}
		for (uint64_t n = 1; n < fc->ninodes; n++) {
			const struct udax_bitmap *bm =
				(const void *)(dev->base +
					       ((fc->sb.ibmap_start +
						 n / UDAX_BITMAP_BITS)
						<< UDAX_BLOCK_SHIFT));
			uint64_t i = n % UDAX_BITMAP_BITS;
			inodes += (bm->bits[i / 8] >> (i % 8)) & 1;
		}
		fc->res->blocks_used = blocks;
		fc->res->files = inodes;
	}
	dev_close(&dev);
}

/* ================================================================
 * The run
 * ================================================================ */

static void fsck_free(struct fsck *fc)
{
	if (fc->map_size)
		sys_munmap(fc->base, fc->map_size);
	dev_close(&fc->dev);
	free(fc->used);
	free(fc->nodes_ok);
	free(fc->seen);
	free(fc->suspect);
	free(fc->shared_bm);
	free(fc->bbmap_ok);
	free(fc->seen_list);
	free(fc->fi);
	free(fc->scratch);
	free(fc->reconnect);
	free(fc->chain);
	free(fc);
}

static int fsck_alloc(struct fsck *fc)
{
	size_t words = (size_t)((fc->nblocks + 63) / 64);

	fc->used = sys_calloc(words, 8);
	fc->nodes_ok = sys_calloc(words, 8);
	fc->seen = sys_calloc(words, 8);
	fc->suspect = sys_calloc(words, 8);
	fc->shared_bm = sys_calloc(words, 8);
	fc->bbmap_ok = sys_calloc((size_t)fc->sb.bbmap_blocks, 1);
	fc->fi = sys_calloc((size_t)fc->ninodes, sizeof(*fc->fi));
	fc->scratch = sys_calloc(BT_MAX_DEPTH + 2, sizeof(*fc->scratch));
	if (!fc->used || !fc->nodes_ok || !fc->seen || !fc->suspect ||
	    !fc->shared_bm || !fc->bbmap_ok || !fc->fi || !fc->scratch)
		return op_error(fc, "%s: out of memory", fc->name);
	return 0;
}

/* The check without observers, as the tests and the tools before
 * fsck_check call it. */
int fsck_run(const char *device, int mode, FILE *out, struct fsck_result *res)
{
	struct fsck_opts opts = {.mode = mode, .out = out};

	return fsck_check(device, &opts, res);
}

int fsck_check(const char *device, const struct fsck_opts *opts,
	       struct fsck_result *res)
{
	struct fsck_result dummy;
	struct fsck *fc;
	int ret;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	fc = sys_calloc(1, sizeof(*fc));
	if (!fc) {
		snprintf(res->message, sizeof(res->message), "out of memory");
		return res->exit_code = FSCK_EXIT_ERROR;
	}
	fc->name = device ? device : "";
	fc->out = opts->out;
	fc->yes = opts->mode == FSCK_YES;
	fc->opts = opts;
	fc->res = res;
	crc_tab_init();

	ret = dev_open(&fc->dev, fc->name, 0, !fc->yes);
	if (ret == -EINVAL && strncmp(fc->name, "memfd:", 6)) {
		/* a file too small to map */
		ret = op_error(fc, "%s: too small to hold a udax file system",
			       fc->name);
		goto done;
	}
	if (ret) {
		ret = op_error(fc, "%s: %s", fc->name, strerror(-ret));
		goto done;
	}
	ret = dev_lock(fc);
	if (ret)
		goto done;
	ret = pass0(fc);
	if (!ret)
		ret = fsck_alloc(fc);
	if (ret)
		goto done;
	pass1(fc);
	if (!fc->oom)
		pass2(fc);
	if (!fc->oom)
		pass3(fc);
	if (!fc->oom)
		pass4(fc);
	if (!fc->oom)
		pass5(fc);
	if (fc->oom) {
		ret = op_error(fc, "%s: out of memory", fc->name);
		goto done;
	}
	img_drain(fc);

	res->blocks = fc->nblocks;
	res->inodes = fc->ninodes - 1;
	for (uint64_t i = 1; i < fc->ninodes; i++)
		res->files += fc->fi[i].state == INO_USED;
	for (uint64_t b = 0; b < fc->nblocks; b++)
		res->blocks_used += bit_test(fc->used, b);
	if (finish(fc))
		count_after_finish(fc);

	if (fc->out) {
		FILE *out = fc->out;

		if (res->modified && (fc->fixed || fc->changes))
			fprintf(out,
				"\n%s: ***** FILE SYSTEM WAS MODIFIED *****\n",
				fc->name);
		if (fc->unfixed)
			fprintf(out,
				"\n%s: ********** WARNING: Filesystem "
				"still has errors **********\n",
				fc->name);
		fprintf(out, "%s: %llu files, %llu/%llu blocks\n", fc->name,
			(unsigned long long)res->files,
			(unsigned long long)res->blocks_used,
			(unsigned long long)res->blocks);
	}
	/* e2fsck's bits OR together: some errors fixed and others left
	 * is 1 | 4 = 5; a system failure is 8 */
	ret = fc->op_failed ?
		      FSCK_EXIT_ERROR :
		      (fc->fixed || fc->changes ? FSCK_EXIT_CORRECTED : 0) |
			      (fc->unfixed ? FSCK_EXIT_UNCORRECTED : 0);
done:
	res->problems = fc->problems;
	res->fixed = fc->fixed;
	res->unfixed = fc->unfixed;
	fsck_free(fc);
	return res->exit_code = ret;
}
