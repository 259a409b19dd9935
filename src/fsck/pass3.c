/* SPDX-License-Identifier: MIT */
/*
 * pass3.c - Pass 3: connectivity
 *
 * Checks that the root directory exists (else an empty one is made),
 * and that every directory reaches the root through the entries naming
 * it (pass 2 left each directory at most one). A directory that does
 * not is connected to /lost+found: the top of a detached subtree, or,
 * for a loop of directories, the member where the walk closed the loop
 * (its entry in the loop is dropped). Unlinked empty directories are
 * orphans (pass 4), not lost. /lost+found must be a directory; it is
 * created after pass 5 if needed.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "sys/sys.h"
#include "fsck/fsck_int.h"

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

int push_u64(struct fsck *fc, uint64_t **arr, size_t *n, size_t *cap,
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
int lf_usable(struct fsck *fc)
{
	if (fc->lf_state < 0)
		return 0;
	if (fc->lf_ino && !is_dir_used(fc, fc->lf_ino)) {
		fix_problem(fc, PR_3_LF_BAD, (unsigned long long)fc->lf_ino);
		fc->lf_state = -1;
		return 0;
	}
	return 1;
}

/* Plan to connect `ino` to /lost+found (after pass 5); the problem that
 * asks for it has been reported. */
void lf_plan(struct fsck *fc, uint64_t ino)
{
	if (!fc->lf_ino && !fc->lf_state)
		fix_problem(fc, PR_3_NO_LF);
	fc->lf_state = 1;
	fc->fi[ino].flags |= FI_RECONNECT;
	push_u64(fc, &fc->reconnect, &fc->nreconnect, &fc->capreconnect, ino);
}

int dir_is_orphan(struct fsck *fc, uint64_t d)
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
		fix_problem(fc, PR_3_UNCONNECTED, (unsigned long long)top,
			    (unsigned long long)ino_ptr(fc, top)->parent);
		lf_plan(fc, top);
	}
	if (loop && lf_usable(fc)) {
		uint64_t l = fc->fi[loop].linker;
		struct walk w;
		fix_problem(fc, PR_3_LOOP, (unsigned long long)loop,
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
	img_inode_put(fc, UDAX_ROOT_INO, &r);
	memset(&fc->fi[UDAX_ROOT_INO], 0, sizeof(fc->fi[0]));
	fc->fi[UDAX_ROOT_INO].state = INO_USED;
	fc->fi[UDAX_ROOT_INO].dtype = DT_DIR;
}

void fsck_pass3(struct fsck *fc)
{
	uint64_t *path = NULL;
	size_t cap = 0;

	pass_header(fc, 3);
	if (!is_dir_used(fc, UDAX_ROOT_INO) && fix_problem(fc, PR_3_NO_ROOT))
		root_create(fc);
	fc->fi[UDAX_ROOT_INO].reach = R_REACHED;
	for (uint64_t d = 2; d < fc->ninodes && !fc->oom; d++) {
		pass_progress(fc, d, fc->ninodes - 1);
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
