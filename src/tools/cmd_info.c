// SPDX-License-Identifier: MIT
/*
 * cmd_info.c - udax info: the superblock, usage and state of an image,
 * as dumpe2fs -h and tune2fs -l show them for ext4.
 *
 * info reads the raw image (format.h, through the device layer's
 * read-only map) instead of opening it with udax_open(): it must work on
 * an image that another process has open read-write (udax mount), whose
 * lock udax_open would wait for, and on one whose journal needs replay,
 * which it must describe, not perform. It writes nothing, takes no lock,
 * and trusts nothing it has not checked: the superblock goes through
 * udax_super_why() like the library's and fsck's, every other block is
 * checked before it is counted.
 *
 * A superblock that cannot be trusted (a foreign or damaged image) is
 * refused: the message names what is wrong, and nothing else is printed.
 * Damage found further on (state block, bitmaps, journal) is reported in
 * the State line and makes the exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "device/device.h"
#include "format/format.h"
#include "tools.h"

/* Processes /proc/locks shows holding the image's lock, at most. */
#define INFO_MAX_READERS 16

/* Feature flags this version has names for. */
static const struct info_feature {
	int set; /* 0 compat, 1 incompat, 2 ro_compat */
	uint64_t bit;
	const char *name;
} info_features[] = {
	{1, UDAX_FEAT_INCOMPAT_REFLINK, "reflink"},
	{2, UDAX_FEAT_RO_COMPAT_XATTR, "xattr"},
	{2, UDAX_FEAT_RO_COMPAT_SPECIAL, "special_files"},
};

static const char *const info_feature_sets[] = {"compat", "incompat",
						"ro_compat"};

/* Who holds the flock udax_open() takes: one writer (LOCK_EX) or any
 * number of readers (LOCK_SH). */
struct info_openers {
	int known;  /* /proc/locks could be read */
	int writer; /* pid of the writer, 0 if none */
	int readers[INFO_MAX_READERS];
	int nreaders; /* may exceed INFO_MAX_READERS */
};

/* What info found. */
struct info_image {
	const char *name;
	struct dev *dev;
	struct udax_super sb;
	uint64_t dev_blocks;
	uint64_t blocks_used, inodes_used; /* bits set in the bitmaps */
	int usage_known;		   /* the bitmaps could be counted */
	uint64_t transactions;		   /* committed in the journal log */
	uint64_t orphans;		   /* inodes on the orphan list */
	char damage[160];		   /* the first damage seen, or "" */
	struct info_openers open;
};

/* Block blk of the image, or NULL past the end of the device. */
static const uint8_t *info_block(const struct info_image *ii, uint64_t blk)
{
	if (blk >= ii->dev_blocks)
		return NULL;
	return ii->dev->base + (blk << UDAX_BLOCK_SHIFT);
}

/* Remember the first damage found. */
static void info_damage(struct info_image *ii, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void info_damage(struct info_image *ii, const char *fmt, ...)
{
	va_list ap;

	if (ii->damage[0])
		return;
	va_start(ap, fmt);
	vsnprintf(ii->damage, sizeof(ii->damage), fmt, ap);
	va_end(ap);
}

/* ---- reading the image ---- */

/* Refuse an image whose primary superblock cannot be trusted, saying
 * what is wrong and whether fsck can restore it from the backup. */
static int info_super(struct info_image *ii)
{
	const struct udax_super *p = (const void *)ii->dev->base;
	const struct udax_super *b =
		(const void *)info_block(ii, ii->dev_blocks - 1);
	const char *why = udax_super_why(p);

	if (!why) {
		ii->sb = *p;
		return 0;
	}
	if (!strcmp(why, "unsupported format version"))
		tool_error("%s: format version %" PRIu32 ", this udax reads "
			   "version %d",
			   ii->name, p->version, UDAX_FORMAT_VERSION);
	else if (b && !udax_super_why(b) && b->block_count == ii->dev_blocks)
		tool_error("%s: the primary superblock is damaged (%s); the "
			   "backup at block %" PRIu64 " is good: 'udax fsck "
			   "-y' restores it",
			   ii->name, why, ii->dev_blocks - 1);
	else if (p->magic != UDAX_SUPER_MAGIC)
		tool_error("%s: not a udax file system (bad magic number)",
			   ii->name);
	else
		tool_error("%s: the superblock is damaged (%s)", ii->name, why);
	return UDAX_ECORRUPT;
}

/* Count the set bits of one bitmap (objects [lo, hi)) after checking
 * each of its blocks. Returns the count; damage is remembered. */
static uint64_t info_bitmap_count(struct info_image *ii, const char *what,
				  uint64_t start, uint64_t nblocks, uint64_t lo,
				  uint64_t hi)
{
	uint64_t count = 0;

	for (uint64_t i = 0; i < nblocks; i++) {
		const struct udax_bitmap *bm =
			(const void *)info_block(ii, start + i);
		uint64_t first = i * UDAX_BITMAP_BITS;

		if (!bm) {
			info_damage(ii,
				    "%s bitmap block %" PRIu64
				    " lies past the end of the device",
				    what, start + i);
			return count;
		}
		if (bm->magic != UDAX_BITMAP_MAGIC || bm->blkno != start + i ||
		    bm->first != first ||
		    udax_block_crc(bm, UDAX_BLOCK_SIZE, 4) != bm->crc) {
			info_damage(ii,
				    "%s bitmap block %" PRIu64 " is damaged",
				    what, start + i);
			continue;
		}
		for (uint64_t k = 0; k < UDAX_BITMAP_BITS / 8; k++) {
			uint64_t obj = first + 8 * k;

			if (obj >= lo && obj + 8 <= hi) /* a whole byte */
				count += (uint64_t)__builtin_popcount(
					bm->bits[k]);
			else
				for (int b = 0; b < 8; b++)
					if (obj + b >= lo && obj + b < hi)
						count += (bm->bits[k] >> b) & 1;
		}
	}
	return count;
}

/* Blocks and inodes in use, as the bitmaps on the device say. */
static void info_count_usage(struct info_image *ii)
{
	const struct udax_super *sb = &ii->sb;

	ii->blocks_used =
		info_bitmap_count(ii, "block", sb->bbmap_start,
				  sb->bbmap_blocks, 0, sb->block_count);
	ii->inodes_used =
		info_bitmap_count(ii, "inode", sb->ibmap_start,
				  sb->ibmap_blocks, 1, sb->inode_count);
	ii->usage_known = !ii->damage[0];
}

/* The committed transactions at the start of the journal area: what the
 * next read-write open would replay (FORMAT.md, the journal). */
static void info_journal(struct info_image *ii)
{
	const struct udax_super *sb = &ii->sb;
	const uint8_t *area = info_block(ii, sb->journal_start);
	uint64_t size = sb->journal_blocks << UDAX_BLOCK_SHIFT, pos = 0;
	uint64_t seq = 0;

	if (!area || sb->journal_start + sb->journal_blocks > ii->dev_blocks)
		return;
	while (pos + sizeof(struct udax_jhdr) <= size) {
		const struct udax_jhdr *h = (const void *)(area + pos);

		if (h->magic != UDAX_JOURNAL_MAGIC || h->bytes < sizeof(*h) ||
		    h->bytes > size - pos ||
		    (ii->transactions && h->seq != seq) ||
		    udax_block_crc(h, h->bytes,
				   offsetof(struct udax_jhdr, crc)) != h->crc)
			break;
		if (memcmp(h->uuid, sb->uuid, sizeof(sb->uuid))) {
			info_damage(ii, "the journal holds a transaction of "
					"another file system");
			break;
		}
		ii->transactions++;
		seq = h->seq + 1;
		pos += (h->bytes + UDAX_CACHELINE - 1) &
		       ~(uint64_t)(UDAX_CACHELINE - 1);
	}
}

/* The state block, and the orphans an open would free. */
static void info_state(struct info_image *ii)
{
	const struct udax_state *st =
		(const void *)info_block(ii, UDAX_STATE_BLOCK);
	uint64_t ino;

	if (st->magic != UDAX_STATE_MAGIC || st->blkno != UDAX_STATE_BLOCK ||
	    udax_block_crc(st, UDAX_BLOCK_SIZE, 4) != st->crc) {
		info_damage(ii, "the state block is damaged");
		return;
	}
	for (ino = st->orphan_head; ino; ii->orphans++) {
		uint64_t blk =
			ii->sb.itable_start + ino / UDAX_INODES_PER_BLOCK;
		const uint8_t *b = info_block(ii, blk);
		const struct udax_inode *in;

		if (ino >= ii->sb.inode_count || !b ||
		    ii->orphans >= ii->sb.inode_count) {
			info_damage(ii, "the orphan list is damaged");
			return;
		}
		in = (const void *)(b + (ino % UDAX_INODES_PER_BLOCK) *
						UDAX_INODE_SIZE);
		ino = in->orphan_next;
	}
}

/* Who has the image open: the flocks of /proc/locks on its inode. */
static void info_openers(struct info_image *ii)
{
	struct info_openers *o = &ii->open;
	unsigned int maj, min;
	char line[256], kind[16], mode[16];
	unsigned long ino;
	struct stat st;
	FILE *locks;
	int pid;

	if (ii->dev->fd < 0 || fstat(ii->dev->fd, &st))
		return;
	locks = fopen("/proc/locks", "re");
	if (!locks)
		return;
	o->known = 1;
	while (fgets(line, sizeof(line), locks)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; lines
		 * of waiters have "->" as their second field */
		if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%lu", kind, mode,
			   &pid, &maj, &min, &ino) != 6 ||
		    strcmp(kind, "FLOCK") || maj != major(st.st_dev) ||
		    min != minor(st.st_dev) || ino != st.st_ino)
			continue;
		if (!strcmp(mode, "WRITE"))
			o->writer = pid;
		else if (o->nreaders++ < INFO_MAX_READERS)
			o->readers[o->nreaders - 1] = pid;
	}
	fclose(locks);
}

/* Read everything info shows. Returns 0, or a negative errno or
 * UDAX_ECORRUPT when the image is refused (reported). */
static int info_read(struct info_image *ii)
{
	int err;

	err = dev_open(&ii->dev, ii->name, 0, 1);
	if (err == -EINVAL && strncmp(ii->name, "memfd:", 6)) {
		tool_error("%s: too small to hold a udax file system",
			   ii->name);
		return UDAX_ECORRUPT;
	}
	if (err == -ENODEV) {
		tool_error("%s: not a file or a memory device", ii->name);
		return err;
	}
	if (err) {
		tool_error("%s: %s", ii->name, strerror(-err));
		return err;
	}
	ii->dev_blocks = ii->dev->size >> UDAX_BLOCK_SHIFT;
	if (ii->dev_blocks < 2) {
		tool_error("%s: too small to hold a udax file system",
			   ii->name);
		return UDAX_ECORRUPT;
	}
	err = info_super(ii);
	if (err)
		return err;
	if (ii->sb.block_count > ii->dev_blocks)
		info_damage(ii,
			    "the device holds %" PRIu64 " blocks, the file "
			    "system %" PRIu64 " (truncated image?)",
			    ii->dev_blocks, ii->sb.block_count);
	info_state(ii);
	info_journal(ii);
	info_count_usage(ii);
	info_openers(ii);
	return 0;
}

/* ---- what it means ---- */

/* The State line: damaged, in use, needs recovery or clean. key is the
 * --json value. */
static const char *info_state_text(const struct info_image *ii, char *buf,
				   size_t size, const char **key)
{
	if (ii->damage[0]) {
		*key = "damaged";
		snprintf(buf, size, "damaged: %s ('udax fsck' for more)",
			 ii->damage);
	} else if (ii->open.writer) {
		*key = "in_use";
		snprintf(buf, size, "in use: open read-write");
	} else if (ii->transactions || ii->orphans) {
		*key = "needs_recovery";
		snprintf(buf, size,
			 "needs recovery (journal: %" PRIu64 " committed "
			 "transactions, orphans: %" PRIu64 "); the next "
			 "read-write open or 'udax fsck -y' does it",
			 ii->transactions, ii->orphans);
	} else {
		*key = "clean";
		snprintf(buf, size, "clean");
	}
	return buf;
}

/* "reflink, 0x4" for a feature set, "(none)" if empty. */
static void info_feature_text(uint64_t bits, int set, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(info_features) / sizeof(*info_features);
	     i++) {
		if (info_features[i].set != set ||
		    !(bits & info_features[i].bit))
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					len ? ", " : "", info_features[i].name);
		bits &= ~info_features[i].bit;
	}
	if (bits)
		snprintf(buf + len, size - len, "%s0x%" PRIx64, len ? ", " : "",
			 bits);
	else if (!len)
		snprintf(buf, size, "(none)");
}

/* The superblock's feature sets, in order compat, incompat, ro_compat. */
static uint64_t info_feature_bits(const struct udax_super *sb, int set)
{
	return set == 0 ? sb->feat_compat :
	       set == 1 ? sb->feat_incompat :
			  sb->feat_ro_compat;
}

/* ---- printing ---- */

/* 8-4-4-4-12 hex digits. */
static void info_uuid_text(const uint8_t *uuid, char *buf)
{
	for (int i = 0, n = 0; i < 16; i++)
		n += sprintf(buf + n, "%02x%s", uuid[i],
			     (i == 3 || i == 5 || i == 7 || i == 9) ? "-" : "");
}

/* What the device is and how stores to it are made durable; key is the
 * --json value (udax_info()'s device_kind). */
static const char *info_device_kind(const struct dev *dev, const char **key)
{
	switch (dev->kind) {
	case DEV_MEMORY:
		*key = "memory";
		return "memory file (cache-line flushes)";
	case DEV_DAX:
		*key = "dax";
		return "persistent memory (DAX)";
	default:
		*key = "file";
		return "file (msync)";
	}
}

/* A label in the first column, as dumpe2fs aligns them. */
#define INFO_LABEL "%-24s"

/* A range of blocks: "block 5" or "blocks 5-9". */
static void info_print_range(const char *label, uint64_t start, uint64_t n)
{
	if (n == 1)
		printf(INFO_LABEL "block %" PRIu64 "\n", label, start);
	else
		printf(INFO_LABEL "blocks %" PRIu64 "-%" PRIu64 "\n", label,
		       start, start + n - 1);
}

/* The openers line: "nobody", "a writer (pid 12)", "2 readers (pids
 * 3, 4)". */
static void info_print_openers(const struct info_openers *o)
{
	printf(INFO_LABEL, "Open by:");
	if (!o->known) {
		printf("unknown\n");
		return;
	}
	if (o->writer)
		printf("a writer (pid %d)%s", o->writer,
		       o->nreaders ? ", " : "");
	if (o->nreaders) {
		printf("%d reader%s (pid%s", o->nreaders,
		       o->nreaders > 1 ? "s" : "", o->nreaders > 1 ? "s" : "");
		for (int i = 0; i < o->nreaders && i < INFO_MAX_READERS; i++)
			printf("%s %d", i ? "," : "", o->readers[i]);
		printf("%s)", o->nreaders > INFO_MAX_READERS ? ", ..." : "");
	}
	if (!o->writer && !o->nreaders)
		printf("nobody");
	putchar('\n');
}

/* The dumpe2fs -h layout. */
static void info_print(const struct info_image *ii)
{
	const struct udax_super *sb = &ii->sb;
	char human[16], text[256], uuid[40], when[64];
	time_t t = (time_t)(sb->mkfs_time_ns / 1000000000);
	const char *key;
	struct tm tm;

	printf(INFO_LABEL "%s\n", "Device:", ii->name);
	printf(INFO_LABEL "%s\n",
	       "Device kind:", info_device_kind(ii->dev, &key));
	tool_human_size(ii->dev->size, human);
	printf(INFO_LABEL "%" PRIu64 " (%s)\n", "Device size:", ii->dev->size,
	       human);
	printf(INFO_LABEL "%s\n", "Flush:", dev_flush_name(ii->dev));
	printf(INFO_LABEL "%" PRIu64 " KiB\n",
	       "Device alignment:", ii->dev->map_unit >> 10);
	printf(INFO_LABEL "%s\n", "Mapping size:",
	       ii->dev->map_unit > 4096 ?
		       "whole 2 MiB units (huge mappings)" :
		       "4 KiB pages, 2 MiB windows (huge where aligned)");
	printf(INFO_LABEL "%" PRIu32 "\n", "Format version:", sb->version);
	info_uuid_text(sb->uuid, uuid);
	printf(INFO_LABEL "%s\n", "UUID:", uuid);
	if (!gmtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "%lld", (long long)t);
	printf(INFO_LABEL "%s\n", "Created:", when);
	for (int set = 0; set < 3; set++) {
		char label[32];

		snprintf(label, sizeof(label), "Features (%s):",
			 set == 2 ? "ro-compat" : info_feature_sets[set]);
		info_feature_text(info_feature_bits(sb, set), set, text,
				  sizeof(text));
		printf(INFO_LABEL "%s\n", label, text);
	}
	printf(INFO_LABEL "%s\n",
	       "State:", info_state_text(ii, text, sizeof(text), &key));
	info_print_openers(&ii->open);
	printf(INFO_LABEL "%" PRIu32 "\n", "Block size:", sb->block_size);
	tool_human_size(sb->block_count * sb->block_size, human);
	printf(INFO_LABEL "%" PRIu64 " (%s)\n", "Block count:", sb->block_count,
	       human);
	if (ii->usage_known) {
		printf(INFO_LABEL "%" PRIu64 "\n",
		       "Blocks used:", ii->blocks_used);
		printf(INFO_LABEL "%" PRIu64 "\n",
		       "Free blocks:", sb->block_count - ii->blocks_used);
	}
	printf(INFO_LABEL "%" PRIu64 "\n", "Inode count:", sb->inode_count - 1);
	if (ii->usage_known) {
		printf(INFO_LABEL "%" PRIu64 "\n",
		       "Inodes used:", ii->inodes_used);
		printf(INFO_LABEL "%" PRIu64 "\n",
		       "Free inodes:", sb->inode_count - 1 - ii->inodes_used);
	}
	tool_human_size(sb->journal_blocks << UDAX_BLOCK_SHIFT, human);
	printf(INFO_LABEL "blocks %" PRIu64 "-%" PRIu64 " (%s), ",
	       "Journal:", sb->journal_start,
	       sb->journal_start + sb->journal_blocks - 1, human);
	if (ii->transactions)
		printf("%" PRIu64 " committed transactions\n",
		       ii->transactions);
	else
		printf("empty\n");
	info_print_range("Block bitmap:", sb->bbmap_start, sb->bbmap_blocks);
	info_print_range("Inode bitmap:", sb->ibmap_start, sb->ibmap_blocks);
	info_print_range("Inode table:", sb->itable_start, sb->itable_blocks);
	printf(INFO_LABEL "%" PRIu64 "\n", "First data block:", sb->data_start);
	printf(INFO_LABEL "block %" PRIu64 "\n",
	       "Backup superblock:", sb->block_count - 1);
	printf(INFO_LABEL "0x%016" PRIx64 "\n",
	       "Directory hash seed:", sb->hash_seed);
	printf(INFO_LABEL "%d\n", "Maximum name length:", UDAX_NAME_MAX);
}

/* {"start": N, "blocks": N} */
static void info_json_range(struct tool_json *j, const char *key,
			    uint64_t start, uint64_t n)
{
	tool_json_object(j, key);
	tool_json_u64(j, "start", start);
	tool_json_u64(j, "blocks", n);
	tool_json_close(j);
}

/* The same, for scripts. Returns 0 or -EIO. */
static int info_print_json(const struct info_image *ii)
{
	const struct udax_super *sb = &ii->sb;
	const struct info_openers *o = &ii->open;
	char text[256], uuid[40];
	struct tool_json j;
	const char *key;

	tool_json_begin(&j, stdout);
	tool_json_bytes(&j, "image", ii->name, strlen(ii->name));
	info_device_kind(ii->dev, &key);
	tool_json_str(&j, "device_kind", key);
	tool_json_u64(&j, "device_size_bytes", ii->dev->size);
	tool_json_str(&j, "flush_instruction", dev_flush_name(ii->dev));
	tool_json_u64(&j, "device_alignment_bytes", ii->dev->map_unit);
	tool_json_u64(&j, "mapping_unit_bytes", ii->dev->map_unit);
	tool_json_u64(&j, "format_version", sb->version);
	info_uuid_text(sb->uuid, uuid);
	tool_json_str(&j, "uuid", uuid);
	tool_json_object(&j, "created");
	tool_json_i64(&j, "sec", sb->mkfs_time_ns / 1000000000);
	tool_json_i64(&j, "nsec", sb->mkfs_time_ns % 1000000000);
	tool_json_close(&j);
	tool_json_object(&j, "features");
	for (int set = 0; set < 3; set++) {
		uint64_t bits = info_feature_bits(sb, set);

		tool_json_array(&j, info_feature_sets[set]);
		for (size_t i = 0;
		     i < sizeof(info_features) / sizeof(*info_features); i++)
			if (info_features[i].set == set &&
			    (bits & info_features[i].bit)) {
				tool_json_str(&j, NULL, info_features[i].name);
				bits &= ~info_features[i].bit;
			}
		for (int b = 0; b < 64; b++)
			if (bits & (1ull << b)) {
				snprintf(text, sizeof(text), "0x%llx",
					 1ull << b);
				tool_json_str(&j, NULL, text);
			}
		tool_json_close(&j);
	}
	tool_json_close(&j);
	info_state_text(ii, text, sizeof(text), &key);
	tool_json_str(&j, "state", key);
	if (ii->damage[0])
		tool_json_str(&j, "damage", ii->damage);
	else
		tool_json_null(&j, "damage");
	tool_json_u64(&j, "journal_transactions", ii->transactions);
	tool_json_u64(&j, "orphans", ii->orphans);
	if (o->known) {
		tool_json_object(&j, "open_by");
		if (o->writer)
			tool_json_i64(&j, "writer", o->writer);
		else
			tool_json_null(&j, "writer");
		tool_json_array(&j, "readers");
		for (int i = 0; i < o->nreaders && i < INFO_MAX_READERS; i++)
			tool_json_i64(&j, NULL, o->readers[i]);
		tool_json_close(&j);
		tool_json_close(&j);
	} else {
		tool_json_null(&j, "open_by");
	}
	tool_json_u64(&j, "block_size", sb->block_size);
	tool_json_u64(&j, "block_count", sb->block_count);
	tool_json_u64(&j, "inode_count", sb->inode_count - 1);
	if (ii->usage_known) {
		tool_json_u64(&j, "blocks_used", ii->blocks_used);
		tool_json_u64(&j, "blocks_free",
			      sb->block_count - ii->blocks_used);
		tool_json_u64(&j, "inodes_used", ii->inodes_used);
		tool_json_u64(&j, "inodes_free",
			      sb->inode_count - 1 - ii->inodes_used);
	}
	info_json_range(&j, "journal", sb->journal_start, sb->journal_blocks);
	info_json_range(&j, "block_bitmap", sb->bbmap_start, sb->bbmap_blocks);
	info_json_range(&j, "inode_bitmap", sb->ibmap_start, sb->ibmap_blocks);
	info_json_range(&j, "inode_table", sb->itable_start, sb->itable_blocks);
	tool_json_u64(&j, "data_start", sb->data_start);
	tool_json_u64(&j, "backup_superblock", sb->block_count - 1);
	snprintf(text, sizeof(text), "0x%016" PRIx64, sb->hash_seed);
	tool_json_str(&j, "hash_seed", text);
	tool_json_u64(&j, "name_max", UDAX_NAME_MAX);
	return tool_json_end(&j);
}

/* Print info's help. */
static void info_usage(void)
{
	printf("Usage: udax info [--json] IMAGE\n"
	       "Show the superblock, usage and state of a udax file system, "
	       "as dumpe2fs -h\n"
	       "does: geometry, features, journal, blocks and inodes in "
	       "use, whether it is\n"
	       "clean or needs recovery, and who has it open. The image is "
	       "only read, so\n"
	       "an image in use (udax mount) can be inspected too.\n\n"
	       "      --json  one JSON object on standard output\n"
	       "      --help  display this help and exit\n");
	tool_exit_help();
}

/* udax info: the superblock, usage and state of an image. */
int udax_tool_info(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct info_image ii = {0};
	int c, json = 0, status = TOOL_EXIT_OK;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case TOOL_OPT_JSON:
			json = 1;
			break;
		case TOOL_OPT_HELP:
			info_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (tool_one_operand(argc, argv))
		return TOOL_EXIT_USAGE;
	ii.name = argv[optind];
	if (info_read(&ii)) {
		status = TOOL_EXIT_FAILURE;
	} else {
		if (json ? info_print_json(&ii) : (info_print(&ii), 0))
			status = TOOL_EXIT_FAILURE;
		if (ii.damage[0]) {
			tool_error("%s: %s", ii.name, ii.damage);
			status = TOOL_EXIT_FAILURE;
		}
	}
	dev_close(&ii.dev);
	return status;
}
