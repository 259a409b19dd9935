// SPDX-License-Identifier: MIT
/*
 * cmd_fs.c - the commands about a whole file system: mkfs creates one, df
 * reports what udax_statfs() says about it (info, which reads the raw
 * image, is cmd_info.c).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "tools.h"

/* ---- mkfs ---- */

/* Print mkfs's help. */
static void mkfs_usage(void)
{
	printf("Usage: udax mkfs [-fq] [-s SIZE] [-N INODES] [-J SIZE] IMAGE\n"
	       "Create a udax file system on IMAGE (a file, created if "
	       "missing; a file\n"
	       "under /dev/shm; or a devdax device). SIZE takes K, M, G, T "
	       "suffixes.\n\n"
	       "  -s, --size=SIZE          device size (default: the "
	       "current size of IMAGE,\n"
	       "                           or 64M for a new file)\n"
	       "  -N, --inodes=N           number of inodes (default: one "
	       "per 16K)\n"
	       "  -J, --journal-size=SIZE  journal size (default: 1/256 of "
	       "the device)\n"
	       "  -f, --force              do not ask before overwriting a "
	       "udax file system\n"
	       "  -q, --quiet              print nothing on success, no "
	       "progress bar\n"
	       "      --help               display this help and exit\n");
	tool_exit_help();
}

/* mke2fs asks before it overwrites a file system, when someone is there
 * to answer. Returns 1 to go on, 0 to stop. */
static int mkfs_confirm(const char *image)
{
	struct udax_open_opts opts = {.read_only = 1, .quiet = 1};
	struct udax_fs *fs = NULL;
	char answer[16];
	int err;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) ||
	    access(image, F_OK) != 0)
		return 1;
	err = udax_open(&fs, image, &opts);
	if (err == 0)
		udax_close(&fs);
	else if (err != -EROFS)
		return 1;
	printf("%s contains a udax file system\nProceed anyway? (y,N) ", image);
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin))
		return 0;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/* The bar of mkfs: a phase of the library, and the bytes done. */
static void mkfs_progress(void *arg, const char *phase, uint64_t done,
			  uint64_t total)
{
	char detail[48], done_h[16], total_h[16];

	(void)arg;
	if (!tool_progress_due())
		return;
	tool_human_size(done, done_h);
	tool_human_size(total, total_h);
	snprintf(detail, sizeof(detail), "%s/%s", done_h, total_h);
	tool_progress_draw(phase, done, total, detail);
}

/* After mkfs, open the new file system once: it proves the image is
 * usable and gives the numbers mke2fs prints. */
static int mkfs_report(const char *image)
{
	struct udax_open_opts opts = {.read_only = 1};
	struct udax_fs *fs = NULL;
	struct statvfs sv;
	uint64_t frsize;
	char size[16];
	int err;

	err = udax_open(&fs, image, &opts);
	if (err)
		return err;
	err = udax_statfs(fs, &sv);
	if (!err) {
		frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
		tool_human_size((uint64_t)sv.f_blocks * frsize, size);
		printf("Created a udax file system on %s\n"
		       "%s, %" PRIu64 " blocks of %" PRIu64 " bytes, %" PRIu64
		       " inodes\n",
		       image, size, (uint64_t)sv.f_blocks, frsize,
		       (uint64_t)sv.f_files);
	}
	if (!err)
		err = udax_close(&fs);
	else
		udax_close(&fs);
	return err;
}

/* udax mkfs: create a file system (udax_mkfs). */
int udax_tool_mkfs(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"size", required_argument, NULL, 's'},
		{"inodes", required_argument, NULL, 'N'},
		{"journal-size", required_argument, NULL, 'J'},
		{"force", no_argument, NULL, 'f'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct udax_mkfs_opts opts = {0};
	int c, err, force = 0, quiet = 0;
	const char *image;

	while ((c = getopt_long(argc, argv, "s:N:J:fq", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			if (tool_parse_size(optarg, &opts.size))
				return tool_usage_error("invalid size '%s'",
							optarg);
			break;
		case 'N':
			if (tool_parse_u64(optarg, &opts.inode_count) ||
			    opts.inode_count == 0)
				return tool_usage_error("invalid inode count "
							"'%s'",
							optarg);
			break;
		case 'J':
			if (tool_parse_size(optarg, &opts.journal_size))
				return tool_usage_error("invalid journal size "
							"'%s'",
							optarg);
			break;
		case 'f':
			force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case TOOL_OPT_HELP:
			mkfs_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (tool_one_operand(argc, argv))
		return TOOL_EXIT_USAGE;
	image = argv[optind];

	if (!force && !mkfs_confirm(image))
		return TOOL_EXIT_FAILURE;
	opts.progress = mkfs_progress;
	tool_progress_start(!quiet);
	err = udax_mkfs(image, &opts);
	tool_progress_end();
	if (err) {
		tool_error("%s: %s", image, udax_strerror(err));
		return TOOL_EXIT_FAILURE;
	}
	if (!quiet) {
		err = mkfs_report(image);
		if (err) {
			tool_error("%s: cannot open the new file system: %s",
				   image, udax_strerror(err));
			return TOOL_EXIT_FAILURE;
		}
	}
	return TOOL_EXIT_OK;
}

/* ---- df ---- */

/* One image's numbers, as df prints them. */
struct df_row {
	const char *image;
	uint64_t block_size;
	uint64_t size, used, avail; /* bytes */
	uint64_t inodes, iused, ifree;
};

/* Print df's help. */
static void df_usage(void)
{
	printf("Usage: udax df [-h] [--json] IMAGE...\n"
	       "Show the space and inodes used in udax images.\n\n"
	       "  -h, --human-readable  print sizes like 1K 234M 2G (default: "
	       "1K blocks)\n"
	       "      --json            one JSON object on standard output, "
	       "sizes in bytes\n"
	       "      --help            display this help and exit\n");
	tool_exit_help();
}

/* Percent used, rounded up as df rounds it; "-" when there is nothing. */
static void df_percent(uint64_t used, uint64_t total, char *buf)
{
	if (total == 0) {
		strcpy(buf, "-");
		return;
	}
	if (used > UINT64_MAX / 100) /* petabytes: precision to spare */
		used = (used + 99) / 100, total = (total + 99) / 100 + 1;
	snprintf(buf, 8, "%" PRIu64 "%%", (used * 100 + total - 1) / total);
}

/* A size column: 1K blocks (rounded up), or human-readable. */
static void df_size(uint64_t bytes, int human, char *buf)
{
	if (human)
		tool_human_size(bytes, buf);
	else
		snprintf(buf, 24, "%" PRIu64, (bytes + 1023) / 1024);
}

/* Read the numbers of one image. Returns 0 or a negative errno. */
static int df_row_fill(struct udax_fs *fs, const char *image,
		       struct df_row *row)
{
	struct statvfs sv;
	uint64_t frsize;
	int err;

	err = udax_statfs(fs, &sv);
	if (err)
		return err;
	frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	row->image = image;
	row->block_size = frsize;
	row->size = (uint64_t)sv.f_blocks * frsize;
	row->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * frsize;
	row->avail = (uint64_t)sv.f_bavail * frsize;
	row->inodes = sv.f_files;
	row->ifree = sv.f_ffree;
	row->iused = sv.f_files - sv.f_ffree;
	return 0;
}

/* Print the table, the first column as wide as the longest image name. */
static void df_print(const struct df_row *rows, size_t count, int human)
{
	char size[24], used[24], avail[24], pct[8], ipct[8];
	int w = 5;
	size_t i;

	for (i = 0; i < count; i++)
		if ((int)strlen(rows[i].image) > w)
			w = (int)strlen(rows[i].image);
	printf("%-*s %10s %10s %10s %4s %10s %10s %10s %5s\n", w, "Image",
	       human ? "Size" : "1K-blocks", "Used", "Avail", "Use%", "Inodes",
	       "IUsed", "IFree", "IUse%");
	for (i = 0; i < count; i++) {
		const struct df_row *r = &rows[i];

		df_size(r->size, human, size);
		df_size(r->used, human, used);
		df_size(r->avail, human, avail);
		df_percent(r->used, r->used + r->avail, pct);
		df_percent(r->iused, r->inodes, ipct);
		printf("%-*s %10s %10s %10s %4s %10" PRIu64 " %10" PRIu64
		       " %10" PRIu64 " %5s\n",
		       w, r->image, size, used, avail, pct, r->inodes, r->iused,
		       r->ifree, ipct);
	}
}

/* The same numbers for scripts: {"images": [...]}, sizes in bytes. */
static int df_print_json(const struct df_row *rows, size_t count)
{
	struct tool_json j;
	size_t i;

	tool_json_begin(&j, stdout);
	tool_json_array(&j, "images");
	for (i = 0; i < count; i++) {
		const struct df_row *r = &rows[i];

		tool_json_object(&j, NULL);
		tool_json_bytes(&j, "image", r->image, strlen(r->image));
		tool_json_u64(&j, "block_size", r->block_size);
		tool_json_u64(&j, "size_bytes", r->size);
		tool_json_u64(&j, "used_bytes", r->used);
		tool_json_u64(&j, "available_bytes", r->avail);
		tool_json_u64(&j, "inodes", r->inodes);
		tool_json_u64(&j, "inodes_used", r->iused);
		tool_json_u64(&j, "inodes_free", r->ifree);
		tool_json_close(&j);
	}
	return tool_json_end(&j);
}

/* udax df: space and inode usage of images. */
int udax_tool_df(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"human-readable", no_argument, NULL, 'h'},
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct tool_images images;
	struct df_row *rows;
	struct udax_fs *fs;
	const char *name;
	int c, i, err, human = 0, json = 0, status = TOOL_EXIT_OK;
	size_t n = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			human = 1;
			break;
		case TOOL_OPT_JSON:
			json = 1;
			break;
		case TOOL_OPT_HELP:
			df_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return tool_usage_error("missing image operand");
	rows = calloc((size_t)(argc - optind), sizeof(*rows));
	if (!rows) {
		tool_error("%s", strerror(ENOMEM));
		return TOOL_EXIT_FAILURE;
	}
	tool_images_init(&images, 0);
	for (i = optind; i < argc; i++) {
		if (tool_images_get(&images, argv[i], &fs, &name)) {
			status = TOOL_EXIT_FAILURE;
			continue;
		}
		err = df_row_fill(fs, argv[i], &rows[n]);
		if (err) {
			tool_error("%s: %s", name, udax_strerror(err));
			status = TOOL_EXIT_FAILURE;
			continue;
		}
		n++;
	}
	if (json) {
		if (df_print_json(rows, n))
			status = TOOL_EXIT_FAILURE;
	} else if (n > 0) {
		df_print(rows, n, human);
	}
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	free(rows);
	return status;
}
