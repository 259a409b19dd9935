/* SPDX-License-Identifier: MIT */
/*
 * problem.c - the problem table: every kind of problem fsck reports, one
 * row each (code, pass, severity, message, what fixing it does), and
 * fix_problem(), through which every pass reports: "Pass N: <message>.
 * Fix? yes|no (<what the fix does>)". Also the pass titles and progress.
 */
#include <stdarg.h>
#include <stdio.h>

#include "fsck/fsck_int.h"

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
	 "refcount tree: the item for block %llu is damaged or overlaps "
	 "another",
	 "drop the item"},
	{PR_1_REFCOUNT_MISSING, 1, FSCK_SEV_ERROR,
	 "blocks %s are mapped by more than one extent, but missing from the "
	 "refcount tree",
	 "rebuild the refcount tree"},
	{PR_1_REFCOUNT_UNSHARED, 1, FSCK_SEV_ERROR,
	 "refcount tree: blocks %s are mapped by one extent or none",
	 "rebuild the refcount tree"},
	{PR_1_REFCOUNT_COUNT, 1, FSCK_SEV_ERROR,
	 "refcount tree: blocks %s have the wrong count",
	 "rebuild the refcount tree"},
	{PR_1_XATTR_FEATURE, 1, FSCK_SEV_ERROR,
	 "inode %llu has an xattr tree, but the xattr feature is off",
	 "drop the tree"},
	{PR_1_XATTR_BAD, 1, FSCK_SEV_ERROR,
	 "inode %llu: xattr item 0x%llx holds %s", "drop it"},
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

/* ---- reporting ---- */

/*
 * Report a problem (fsck_problems[] row `code`, message arguments after
 * it) and count it. Returns 1 if the repair is to be made in the work
 * image: always, except for problems fsck cannot repair and when the work
 * image is read only. With FSCK_NO the repair lands in the private map.
 */
int fix_problem(struct fsck *fc, uint32_t code, ...)
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
void pass_progress(struct fsck *fc, uint64_t done, uint64_t total)
{
	if (fc->opts->progress && (done % 256 == 0 || done == total))
		fc->opts->progress(fc->opts->arg, fc->pass, done, total);
}

/* A pass starts: tell the observer, then print its title. */
void pass_header(struct fsck *fc, int pass)
{
	fc->pass = pass;
	pass_progress(fc, 0, 0);
	if (fc->out && pass <= 5)
		fprintf(fc->out, "Pass %d: %s\n", pass, fsck_pass_names[pass]);
}
