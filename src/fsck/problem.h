/* SPDX-License-Identifier: MIT */
/*
 * problem.h - how a pass reports what it finds (problem.c).
 *
 * The problem table itself (codes, messages, fixes, severities) is public,
 * in fsck.h, for tools and tests; this header holds the calls the passes
 * make to report through it and to mark their progress.
 */
#ifndef UDAX_FSCK_PROBLEM_H
#define UDAX_FSCK_PROBLEM_H

#include <stdint.h>

struct fsck;

/*
 * Report a problem (the table's row `code`, message arguments after it)
 * and count it. Returns 1 if the repair is to be made in the work image:
 * always, except for problems fsck cannot repair and when the work image
 * is read only.
 */
int fix_problem(struct fsck *fc, uint32_t code, ...);

/* A pass starts: tell the progress observer, then print its title. */
void pass_header(struct fsck *fc, int pass);

/* Tell the progress observer: done of total units of the pass. */
void pass_progress(struct fsck *fc, uint64_t done, uint64_t total);

#endif /* UDAX_FSCK_PROBLEM_H */
