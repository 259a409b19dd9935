// SPDX-License-Identifier: MIT
/*
 * cmd_dedupe.c - udax dedupe: find identical blocks across the files of
 * an image and share them (udax_dedupe_range).
 *
 * One pass over the files under the given paths: every whole 4 KiB block
 * that is not all zeros is hashed; a block whose hash was seen before is
 * a candidate, and consecutive candidates that follow consecutive blocks
 * of one earlier file make one range. Each range goes to
 * udax_dedupe_range, which compares the bytes with both files locked and
 * shares them only if they are the same (a hash collision costs a
 * compare, never data). Zero blocks are left alone: holes are cheaper
 * than shared zeros. The summary says how much space was given back
 * (statfs before and after).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "format/format.h"
#include "tools.h"

#define DD_BS 4096u

/* A block seen: its hash, and where (file index, block number). */
struct dd_slot {
	uint64_t hash; /* 0: free slot */
	uint32_t file, blk;
};

/* The run of candidate blocks being built: dst blocks [dblk, dblk+n) of
 * the current file match src blocks [sblk, sblk+n) of file sfile. */
struct dd_run {
	uint32_t sfile, sblk, dblk, n;
};

struct dd_ctx {
	struct udax_fs *fs;
	char **paths; /* regular files found */
	size_t npaths, cappaths;
	uint64_t bytes_total, bytes_done;
	struct dd_slot *tab;
	size_t tab_size, tab_used; /* power of two */
	int verbose;
	/* results */
	uint64_t ranges, deduped, differ, failed;
};

static void dedupe_usage(void)
{
	printf("Usage: udax dedupe [-qv] [--json] IMAGE [PATH...]\n"
	       "Share identical blocks of the files under each PATH "
	       "(default: /) of IMAGE:\n"
	       "each block is hashed, and blocks seen before are compared "
	       "and shared\n"
	       "(copy-on-write: the files' contents never change).\n\n"
	       "  -v, --verbose  list each range shared\n"
	       "  -q, --quiet    no progress bar\n"
	       "      --json     print the summary as JSON\n"
	       "      --help     display this help and exit\n");
	tool_exit_help();
}

/* Add the regular files under path (recursively) to ctx->paths. */
static int dd_walk(struct dd_ctx *ctx, const char *path)
{
	struct udax_dirent e;
	struct udax_dir *d;
	struct stat st;
	int ret = udax_lstat(ctx->fs, path, &st);

	if (ret)
		return ret;
	if (S_ISREG(st.st_mode)) {
		if (ctx->npaths == ctx->cappaths) {
			size_t nc = ctx->cappaths ? ctx->cappaths * 2 : 256;
			char **p = realloc(ctx->paths, nc * sizeof(*p));
			if (!p)
				return -ENOMEM;
			ctx->paths = p;
			ctx->cappaths = nc;
		}
		ctx->paths[ctx->npaths] = strdup(path);
		if (!ctx->paths[ctx->npaths])
			return -ENOMEM;
		ctx->npaths++;
		ctx->bytes_total += (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	ret = udax_dir_open(ctx->fs, path, &d);
	if (ret)
		return ret;
	while ((ret = udax_dir_read(d, &e)) == 1) {
		if (!strcmp(e.name, ".") || !strcmp(e.name, ".."))
			continue;
		char *child = tool_path_join(path, e.name, strlen(e.name));
		if (!child) {
			ret = -ENOMEM;
			break;
		}
		ret = dd_walk(ctx, child);
		free(child);
		if (ret)
			break;
	}
	udax_dir_close(&d);
	return ret < 0 ? ret : 0;
}

/* A 64-bit hash of a block (never 0: 0 marks a free slot). */
static uint64_t dd_hash(const uint8_t *b)
{
	uint64_t h = (uint64_t)udax_crc32c(0x9e3779b9u, b, DD_BS) << 32 |
		     udax_crc32c(0x7f4a7c15u, b, DD_BS);
	return h ? h : 1;
}

/* The slot of hash h: its entry, or the free slot where it goes. */
static struct dd_slot *dd_find(struct dd_ctx *ctx, uint64_t h)
{
	size_t mask = ctx->tab_size - 1, i = (size_t)(h ^ (h >> 29)) & mask;

	while (ctx->tab[i].hash && ctx->tab[i].hash != h)
		i = (i + 1) & mask;
	return &ctx->tab[i];
}

/* Grow the table to keep it at most half full. */
static int dd_grow(struct dd_ctx *ctx)
{
	struct dd_slot *old = ctx->tab;
	size_t oldn = ctx->tab_size;

	if (ctx->tab_used * 2 < ctx->tab_size)
		return 0;
	ctx->tab_size = oldn ? oldn * 2 : 1u << 16;
	ctx->tab = calloc(ctx->tab_size, sizeof(*ctx->tab));
	if (!ctx->tab) {
		ctx->tab = old;
		ctx->tab_size = oldn;
		return -ENOMEM;
	}
	for (size_t i = 0; i < oldn; i++)
		if (old[i].hash)
			*dd_find(ctx, old[i].hash) = old[i];
	free(old);
	return 0;
}

/* Share a finished run: udax_dedupe_range from its source file. */
static void dd_flush(struct dd_ctx *ctx, struct udax_file *dst, uint32_t dfile,
		     struct dd_run *r)
{
	struct udax_dedupe_dest dd = {.dst = dst,
				      .dst_off = (off_t)r->dblk * DD_BS};
	struct udax_file *src;
	int ret;

	if (!r->n)
		return;
	ctx->ranges++;
	ret = udax_file_open(ctx->fs, ctx->paths[r->sfile], O_RDONLY, 0, &src);
	if (!ret) {
		ret = udax_dedupe_range(src, (off_t)r->sblk * DD_BS,
					(off_t)r->n * DD_BS, &dd, 1);
		udax_file_close(&src);
	}
	if (!ret && dd.status == UDAX_DEDUPE_SAME) {
		ctx->deduped += dd.bytes_deduped;
		if (ctx->verbose) {
			tool_progress_clear();
			printf("%s [%llu, +%llu) shares %s [%llu]\n",
			       ctx->paths[dfile],
			       (unsigned long long)dd.dst_off,
			       (unsigned long long)dd.bytes_deduped,
			       ctx->paths[r->sfile],
			       (unsigned long long)r->sblk * DD_BS);
		}
	} else if (!ret && dd.status == UDAX_DEDUPE_DIFFERS) {
		ctx->differ++;
	} else {
		ctx->failed++;
	}
	r->n = 0;
}

/* Hash and share the blocks of one file. */
static int dd_file(struct dd_ctx *ctx, uint32_t fi, uint8_t *buf,
		   size_t bufsize)
{
	struct udax_file *f;
	struct dd_run run = {0};
	uint64_t off = 0;
	ssize_t n;
	int ret = udax_file_open(ctx->fs, ctx->paths[fi], O_RDWR, 0, &f);

	if (ret)
		return ret;
	while ((n = udax_pread(f, buf, bufsize, (off_t)off)) > 0) {
		for (size_t b = 0; b + DD_BS <= (size_t)n; b += DD_BS) {
			uint32_t blk = (uint32_t)((off + b) / DD_BS);
			if (tool_is_zero(buf + b, DD_BS))
				continue;
			ret = dd_grow(ctx);
			if (ret)
				goto close;
			uint64_t h = dd_hash(buf + b);
			struct dd_slot *s = dd_find(ctx, h);
			if (!s->hash) {
				*s = (struct dd_slot){h, fi, blk};
				ctx->tab_used++;
				dd_flush(ctx, f, fi, &run);
				continue;
			}
			/* extends the run, or starts another */
			if (run.n && s->file == run.sfile &&
			    s->blk == run.sblk + run.n &&
			    blk == run.dblk + run.n) {
				run.n++;
				continue;
			}
			dd_flush(ctx, f, fi, &run);
			if (s->file != fi || s->blk + 1 <= blk)
				run = (struct dd_run){s->file, s->blk, blk, 1};
		}
		off += (uint64_t)n;
		ctx->bytes_done += (uint64_t)n;
		tool_progress_update("dedupe", ctx->bytes_done,
				     ctx->bytes_total);
		if ((size_t)n < bufsize)
			break;
	}
	dd_flush(ctx, f, fi, &run);
	ret = n < 0 ? (int)n : 0;
close:
	udax_file_close(&f);
	return ret;
}

static uint64_t dd_free_bytes(struct udax_fs *fs)
{
	struct statvfs sv;

	return udax_statfs(fs, &sv) ? 0 : (uint64_t)sv.f_bfree * sv.f_bsize;
}

static void dd_report(const struct dd_ctx *ctx, uint64_t saved, double secs,
		      int json)
{
	double gbs = secs > 0 ? (double)ctx->bytes_done / secs / 1e9 : 0;

	if (json) {
		struct tool_json j;
		tool_json_begin(&j, stdout);
		tool_json_u64(&j, "files", ctx->npaths);
		tool_json_u64(&j, "bytes_scanned", ctx->bytes_done);
		tool_json_u64(&j, "ranges", ctx->ranges);
		tool_json_u64(&j, "bytes_deduped", ctx->deduped);
		tool_json_u64(&j, "ranges_differing", ctx->differ);
		tool_json_u64(&j, "ranges_failed", ctx->failed);
		tool_json_u64(&j, "bytes_saved", saved);
		tool_json_double(&j, "seconds", secs);
		tool_json_double(&j, "gb_per_s", gbs);
		tool_json_end(&j);
		return;
	}
	char scanned[16], deduped[16], saved_h[16];
	tool_human_size(ctx->bytes_done, scanned);
	tool_human_size(ctx->deduped, deduped);
	tool_human_size(saved, saved_h);
	printf("%zu files, %s scanned in %.2f s (%.2f GB/s)\n", ctx->npaths,
	       scanned, secs, gbs);
	printf("%llu ranges shared (%s), %llu differed, %llu failed\n",
	       (unsigned long long)ctx->ranges - ctx->differ - ctx->failed,
	       deduped, (unsigned long long)ctx->differ,
	       (unsigned long long)ctx->failed);
	printf("space saved: %s\n", saved_h);
}

int udax_tool_dedupe(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct dd_ctx ctx = {0};
	struct tool_images images;
	struct timespec t0, t1;
	uint8_t *buf = NULL;
	const char *name;
	int c, quiet = 0, json = 0, status = TOOL_EXIT_OK, err;

	while ((c = getopt_long(argc, argv, "qv", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			ctx.verbose = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case TOOL_OPT_JSON:
			json = 1;
			break;
		case TOOL_OPT_HELP:
			dedupe_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return tool_usage_error("missing image operand");
	tool_images_init(&images, 1);
	if (tool_images_get(&images, argv[optind], &ctx.fs, &name)) {
		tool_images_close(&images);
		return TOOL_EXIT_FAILURE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t free0 = dd_free_bytes(ctx.fs);
	for (int i = optind + 1; i == optind + 1 || i < argc; i++) {
		const char *p = i < argc ? argv[i] : "/";
		err = dd_walk(&ctx, p);
		if (err) {
			tool_error("%s:%s: %s", name, p, udax_strerror(err));
			status = TOOL_EXIT_FAILURE;
		}
	}
	buf = malloc(TOOL_CHUNK_SIZE);
	if (!buf) {
		tool_error("%s", strerror(ENOMEM));
		status = TOOL_EXIT_FAILURE;
		goto out;
	}
	tool_progress_start(!quiet && !json);
	for (size_t i = 0; i < ctx.npaths; i++) {
		err = dd_file(&ctx, (uint32_t)i, buf, TOOL_CHUNK_SIZE);
		if (err) {
			tool_progress_clear();
			tool_error("%s:%s: %s", name, ctx.paths[i],
				   udax_strerror(err));
			status = TOOL_EXIT_FAILURE;
		}
	}
	tool_progress_end();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t free1 = dd_free_bytes(ctx.fs);
	dd_report(&ctx, free1 > free0 ? free1 - free0 : 0,
		  (double)(t1.tv_sec - t0.tv_sec) +
			  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		  json);
out:
	free(buf);
	for (size_t i = 0; i < ctx.npaths; i++)
		free(ctx.paths[i]);
	free(ctx.paths);
	free(ctx.tab);
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	return status;
}
