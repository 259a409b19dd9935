/* SPDX-License-Identifier: MIT */
/*
 * pass2.c - Pass 2: directories
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
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "inode/inode.h"
#include "fsck/fsck_int.h"

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

static uint64_t name_hash(struct fsck *fc, const uint8_t *name, size_t len)
{
	return udax_dir_hash(fc->sb.hash_seed, name, len);
}

static size_t dirent_size(size_t name_len)
{
	return DIRENT_HDR + ((name_len + 7) & ~(size_t)7);
}

/* The entry at *off: 1, 0 at the end, -1 if damaged. */
int bucket_next(const uint8_t *val, size_t len, size_t *off, struct dent *d)
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
			fix_problem(fc, PR_2_ENT_DAMAGED,
				    (unsigned long long)dir, (unsigned)at);
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
				fix_problem(fc, code, (unsigned long long)dir,
					    show, (unsigned long long)t, what);
			else if (code == PR_2_ENT_DIRLINK)
				fix_problem(fc, code, (unsigned long long)dir,
					    show, (unsigned long long)t,
					    (unsigned long long)other);
			else
				fix_problem(fc, code, (unsigned long long)dir,
					    show);
			changed = 1;
			continue;
		}
		struct udax_dirent_val h = d.h;
		uint8_t want = fc->fi[t].dtype;
		if (h.type != want) {
			fix_problem(fc, PR_2_ENT_TYPE, (unsigned long long)dir,
				    show, (unsigned)h.type, (unsigned)want);
			h.type = want;
			changed = 1;
		}
		if (h.pad16 || h.pad32 ||
		    !is_zero(d.name + d.nl, d.size - DIRENT_HDR - d.nl)) {
			fix_problem(fc, PR_2_ENT_PAD, (unsigned long long)dir,
				    show);
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
void dir_settle(struct fsck *fc, uint64_t dir, struct walk *w, int dropped,
		int report)
{
	struct udax_inode di = *ino_ptr(fc, dir);
	int dirty = 0;

	if (dropped && di.root) {
		di.root = 0;
		dirty = 1;
	}
	fc->fi[dir].entries = w->entries;
	fc->fi[dir].nblocks = (di.root ? w->nodes : 0) + fc->fi[dir].xnodes;
	if (di.entries != w->entries) {
		if (report)
			fix_problem(fc, PR_2_ENTRIES, (unsigned long long)dir,
				    (unsigned long long)di.entries,
				    (unsigned long long)w->entries);
		di.entries = w->entries;
		dirty = 1;
	}
	if (di.blocks != fc->fi[dir].nblocks) {
		if (report)
			fix_problem(fc, PR_2_DIR_BLOCKS,
				    (unsigned long long)dir,
				    (unsigned long long)di.blocks,
				    (unsigned long long)fc->fi[dir].nblocks);
		di.blocks = fc->fi[dir].nblocks;
		dirty = 1;
	}
	if (dirty)
		img_inode_put(fc, dir, &di);
}

int is_dir_used(struct fsck *fc, uint64_t ino)
{
	return ino && ino < fc->ninodes && fc->fi[ino].state == INO_USED &&
	       fc->fi[ino].dtype == DT_DIR;
}

void fsck_pass2(struct fsck *fc)
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
		pass_progress(fc, d, fc->ninodes - 1);
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
		    fix_problem(fc, PR_2_PARENT, (unsigned long long)d,
				(unsigned long long)di.parent,
				(unsigned long long)want)) {
			di.parent = want;
			img_inode_put(fc, d, &di);
		}
	}
	img_drain(fc);
}
