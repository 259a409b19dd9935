/* SPDX-License-Identifier: MIT */
/*
 * pass4.c - Pass 4: reference counts
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
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "fsck/fsck_int.h"

void fsck_pass4(struct fsck *fc)
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

		pass_progress(fc, ino, fc->ninodes - 1);
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
				fix_problem(fc, PR_4_UNATTACHED,
					    (unsigned long long)ino,
					    dtype_name(f->dtype),
					    (unsigned long long)di.size);
				lf_plan(fc, ino);
				want = 1;
			}
		} else {
			want = f->refs;
		}
		if (f->flags & FI_ORPHAN) {
			fix_problem(fc, PR_4_ORPHAN, (unsigned long long)ino,
				    dtype_name(f->dtype));
			fc->finish_orphans = 1;
			continue;
		}
		if (di.nlink != want &&
		    fix_problem(fc, PR_4_NLINK, (unsigned long long)ino,
				(unsigned)di.nlink, (unsigned)want)) {
			di.nlink = want;
			img_inode_put(fc, ino, &di);
		}
		if (di.flags & UDAX_IF_TRUNCATING) {
			f->flags |= FI_TRUNC;
			fix_problem(fc, PR_4_TRUNCATE, (unsigned long long)ino);
			fc->finish_orphans = 1;
		}
	}
	img_drain(fc);
}
