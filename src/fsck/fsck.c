/* SPDX-License-Identifier: MIT */
/*
 * fsck.c - the udax file system checker: one run, pass by pass.
 *
 * fsck reads the raw image (struct udax_super, udax_inode, udax_node...
 * of format.h); it never relies on udax_open(), so that an image the
 * library refuses can still be checked and repaired. The passes, one file
 * each (pass0.c ... pass5.c, then finish.c), share struct fsck
 * (fsck_int.h) and report through the problem table (problem.c).
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
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "btree/btree.h"
#include "sys/sys.h"
#include "fsck/fsck_int.h"

/* Operational error: say why, return FSCK_EXIT_ERROR. */
int op_error(struct fsck *fc, const char *fmt, ...)
{
	va_list ap;

	if (fc->res) {
		va_start(ap, fmt);
		vsnprintf(fc->res->message, sizeof(fc->res->message), fmt, ap);
		va_end(ap);
	}
	return FSCK_EXIT_ERROR;
}

/* Take the lock udax_open() takes, so that no one opens the image while
 * fsck works on it, and fsck does not work on an image in use: shared
 * for -n (a writer changes what is checked), exclusive for -y (readers
 * would see repairs under them). Returns 0 or an exit code. */
int fsck_lock(struct fsck *fc)
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
	free(fc->ext_refs);
	free(fc->tree_refs);
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
	return pass1_refcount_init(fc);
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
	ret = fsck_lock(fc);
	if (ret)
		goto done;
	ret = fsck_pass0(fc);
	if (!ret)
		ret = fsck_alloc(fc);
	if (ret)
		goto done;
	fsck_pass1(fc);
	if (!fc->oom)
		fsck_pass2(fc);
	if (!fc->oom)
		fsck_pass3(fc);
	if (!fc->oom)
		fsck_pass4(fc);
	if (!fc->oom)
		fsck_pass5(fc);
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
	if (fsck_finish(fc))
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
