/* SPDX-License-Identifier: MIT */
/*
 * fsck.h - the udax file system checker (library part of `udax fsck`).
 *
 * fsck works on the raw image, never through udax_open(): a damaged image
 * must still be checkable. It runs, like e2fsck, in passes:
 *
 *   pass 0  superblock (primary, backup), device size, journal, state
 *   pass 1  inodes, their trees (nodes, extents), blocks in use
 *   pass 2  directory entries, entry counts, parent fields
 *   pass 3  connectivity: every directory reachable from the root
 *   pass 4  link counts, unattached inodes, orphans
 *   pass 5  block and inode bitmaps, state block, orphan list
 *
 * Every problem found goes through one table (problem.c, fsck_problems[]):
 * a code, a message, what fixing it does, a severity. With FSCK_NO
 * nothing is written; the check then runs on a private copy-on-write map
 * of the image, so that its report is the one FSCK_YES would give.
 * After the passes, FSCK_YES finishes orphans and reconnects unattached
 * inodes to /lost+found through the library (udax_open + transactions).
 *
 * The image must not be open anywhere else while it is checked: fsck
 * takes the lock udax_open() takes (shared for FSCK_NO, exclusive for
 * FSCK_YES) and fails with FSCK_EXIT_ERROR if it cannot.
 */
#ifndef UDAX_FSCK_H
#define UDAX_FSCK_H

#include <stdint.h>
#include <stdio.h>

/* fsck_run() modes */
#define FSCK_NO 0  /* -n: report only, change nothing */
#define FSCK_YES 1 /* -y: repair every problem found */

/* Exit codes, as e2fsck(8): bits that OR together (5: some errors
 * corrected, others left), except FSCK_EXIT_ERROR and FSCK_EXIT_USAGE,
 * which stand alone. */
#define FSCK_EXIT_OK 0		/* no errors */
#define FSCK_EXIT_CORRECTED 1	/* errors corrected (image modified) */
#define FSCK_EXIT_UNCORRECTED 4 /* errors left uncorrected */
#define FSCK_EXIT_ERROR 8	/* operational error */
#define FSCK_EXIT_USAGE 16	/* usage or syntax error (the tool) */

/* What a run found and did. */
struct fsck_result {
	int exit_code;	      /* FSCK_EXIT_* (also the return value) */
	uint64_t problems;    /* errors found (informational ones not
				 * counted) */
	uint64_t fixed;	      /* errors corrected */
	uint64_t unfixed;     /* errors left */
	int modified;	      /* the image was written */
	uint64_t files;	      /* inodes in use (root included) */
	uint64_t inodes;      /* inodes the file system has (1..N-1) */
	uint64_t blocks_used; /* blocks in use, metadata included */
	uint64_t blocks;      /* blocks of the file system */
	char message[256];    /* operational error text (exit 8), or "" */
};

/*
 * Check (and with FSCK_YES repair) the udax file system on `device` (a
 * path as udax_open takes it). The report, pass by pass, goes to `out`
 * (NULL: none). `res` may be NULL. Returns an FSCK_EXIT_* code: 0 clean,
 * 1 errors corrected, 4 errors left, 5 (1 | 4) some corrected and some
 * left, 8 operational error (the device cannot be opened or holds no udax
 * file system, or a system call or an allocation failed: a later run gets
 * past it; res->message says why).
 */
int fsck_run(const char *device, int mode, FILE *out, struct fsck_result *res);

struct fsck_problem;

/* Options of fsck_check(). A zeroed struct checks only (FSCK_NO), prints
 * nothing and observes nothing. */
struct fsck_opts {
	int mode;  /* FSCK_NO or FSCK_YES */
	FILE *out; /* the report, pass by pass, or NULL */
	/*
	 * Progress, for a progress bar: called as pass `pass` starts (done
	 * and total 0), before it prints anything, and then every so often
	 * with `done` of `total` units of the pass (inodes; bitmap blocks in
	 * pass 5). Pass 6 is the finishing work, done through the library
	 * after pass 5 when there is any. NULL: not called.
	 */
	void (*progress)(void *arg, int pass, uint64_t done, uint64_t total);
	/* Every problem found, before it is printed: its row of the problem
	 * table, the pass, the message as printed, and whether it is fixed
	 * (for FSCK_SEV_INFO rows: whether the work is done). NULL: not
	 * called. */
	void (*problem)(void *arg, const struct fsck_problem *p, int pass,
			const char *message, int fixed);
	void *arg; /* passed to both */
};

/* fsck_run() with observers. Returns as fsck_run(). */
int fsck_check(const char *device, const struct fsck_opts *opts,
	       struct fsck_result *res);

/* The title of a pass, 0..6, as the report prints it. */
const char *fsck_pass_name(int pass);

/* Problem codes: 0xPPNNNN, PP the pass. */
enum fsck_problem_code {
	/* pass 0: superblock, device, journal */
	PR_0_SB_PRIMARY = 0x000001,
	PR_0_SB_BIT = 0x000002,
	PR_0_SB_BACKUP = 0x000003,
	PR_0_DEV_SMALL = 0x000004,
	PR_0_JOURNAL_REPLAY = 0x000010,
	PR_0_JOURNAL_STRANGER = 0x000011,
	PR_0_JOURNAL_BAD = 0x000012,
	/* pass 1: inodes and trees */
	PR_1_INODE_BIT = 0x010001,
	PR_1_INODE_CSUM = 0x010002,
	PR_1_INODE_BAD = 0x010003,
	PR_1_INODE_GARBAGE = 0x010004,
	PR_1_INODE_FLAGS = 0x010005,
	PR_1_INODE_RESERVED = 0x010006,
	PR_1_INODE_NO_TREE = 0x010007,
	PR_1_NODE_BAD = 0x010010,
	PR_1_NODE_BIT = 0x010011,
	PR_1_NODE_CSUM = 0x010012,
	PR_1_NODE_ITEM = 0x010013,
	PR_1_NODE_PACK = 0x010014,
	PR_1_EXT_BAD = 0x010020,
	PR_1_EXT_OVERLAP = 0x010021,
	PR_1_EXT_EOF = 0x010022,
	PR_1_EXT_DUP = 0x010023,
	PR_1_EXT_FREE = 0x010024,
	PR_1_BLOCKS = 0x010030,
	PR_1_REFCOUNT_FEATURE = 0x010040,
	PR_1_REFCOUNT_BAD = 0x010041,
	PR_1_REFCOUNT_MISSING = 0x010042,
	PR_1_REFCOUNT_UNSHARED = 0x010043,
	PR_1_REFCOUNT_COUNT = 0x010044,
	PR_1_XATTR_FEATURE = 0x010050,
	PR_1_XATTR_BAD = 0x010051,
	/* pass 2: directories */
	PR_2_ENT_DAMAGED = 0x020001,
	PR_2_ENT_NAME = 0x020002,
	PR_2_ENT_HASH = 0x020003,
	PR_2_ENT_DUP = 0x020004,
	PR_2_ENT_INO = 0x020005,
	PR_2_ENT_ROOT = 0x020006,
	PR_2_ENT_SELF = 0x020007,
	PR_2_ENT_DIRLINK = 0x020008,
	PR_2_ENT_TYPE = 0x020009,
	PR_2_ENT_PAD = 0x02000a,
	PR_2_ENTRIES = 0x020010,
	PR_2_PARENT = 0x020011,
	PR_2_DIR_BLOCKS = 0x020012,
	/* pass 3: connectivity */
	PR_3_NO_ROOT = 0x030001,
	PR_3_UNCONNECTED = 0x030002,
	PR_3_LOOP = 0x030003,
	PR_3_NO_LF = 0x030004,
	PR_3_LF_BAD = 0x030005,
	/* pass 4: reference counts */
	PR_4_UNATTACHED = 0x040001,
	PR_4_NLINK = 0x040002,
	PR_4_ORPHAN = 0x040003,
	PR_4_TRUNCATE = 0x040004,
	/* pass 5: bitmaps, state block, orphan list */
	PR_5_BITMAP_HDR = 0x050001,
	PR_5_BLOCK_LEAK = 0x050002,
	PR_5_BLOCK_UNMARKED = 0x050003,
	PR_5_INODE_LEAK = 0x050004,
	PR_5_INODE_UNMARKED = 0x050005,
	PR_5_STATE_BAD = 0x050010,
	PR_5_STATE_BIT = 0x050011,
	PR_5_STATE_CSUM = 0x050012,
	PR_5_STATE_FIELDS = 0x050013,
	PR_5_ORPHAN_LIST = 0x050014,
	PR_5_GENERATION = 0x050015,
	/* after the passes: work done through the library */
	PR_6_FINISH = 0x060001,
};

/* Severity of a problem. */
enum fsck_severity {
	FSCK_SEV_INFO,	/* not an error: work left over by a crash that
			 * mount would also do (journal replay, orphans);
			 * doing it counts as a change, not a correction */
	FSCK_SEV_ERROR, /* an inconsistency */
	FSCK_SEV_FATAL, /* an inconsistency that fsck cannot repair */
};

/* One row of the problem table. */
struct fsck_problem {
	uint32_t code;	  /* enum fsck_problem_code */
	uint8_t pass;	  /* 0..5 (6: finishing) */
	uint8_t severity; /* enum fsck_severity */
	const char *fmt;  /* printf format of the message */
	const char *fix;  /* what answering yes does */
};

/* The problem table, for tools and tests: row of `code`, or NULL. */
const struct fsck_problem *fsck_problem_find(uint32_t code);

#endif /* UDAX_FSCK_H */
