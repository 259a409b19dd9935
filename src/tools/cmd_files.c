// SPDX-License-Identifier: MIT
/*
 * cmd_files.c - the commands that look at files in an image: ls, stat and
 * cat. They open images read-only (see tool_images_get).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tools.h"

/* ---- JSON of a file's status, for ls -l --json and stat --json ---- */

/* A time as two exact integers: doubles (jq, JavaScript) would round
 * nanoseconds since the Epoch. */
static void files_json_time(struct tool_json *j, const char *key,
			    const struct timespec *ts)
{
	tool_json_object(j, key);
	tool_json_i64(j, "sec", (int64_t)ts->tv_sec);
	tool_json_i64(j, "nsec", (int64_t)ts->tv_nsec);
	tool_json_close(j);
}

/* The members stat(2) gives, and a symlink's target if known. */
static void files_json_stat(struct tool_json *j, const struct stat *st,
			    const char *target)
{
	tool_json_str(j, "type", tool_type_key(st->st_mode));
	tool_json_u64(j, "mode", (uint64_t)(st->st_mode & 07777));
	tool_json_u64(j, "ino", (uint64_t)st->st_ino);
	tool_json_u64(j, "nlink", (uint64_t)st->st_nlink);
	tool_json_u64(j, "uid", (uint64_t)st->st_uid);
	tool_json_u64(j, "gid", (uint64_t)st->st_gid);
	tool_json_u64(j, "size", (uint64_t)st->st_size);
	tool_json_u64(j, "blocks", (uint64_t)st->st_blocks);
	tool_json_u64(j, "blksize", (uint64_t)st->st_blksize);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		tool_json_u64(j, "rdev_major", major(st->st_rdev));
		tool_json_u64(j, "rdev_minor", minor(st->st_rdev));
	}
	files_json_time(j, "atime", &st->st_atim);
	files_json_time(j, "mtime", &st->st_mtim);
	files_json_time(j, "ctime", &st->st_ctim);
	if (target)
		tool_json_bytes(j, "target", target, strlen(target));
}

/* "image" and "path" of a loc, each as bytes. */
static void files_json_loc(struct tool_json *j, const char *image,
			   const char *path)
{
	tool_json_bytes(j, "image", image, strlen(image));
	tool_json_bytes(j, "path", path, strlen(path));
}

/* ---- ls ---- */

/* What ls was asked to show. */
struct ls_opts {
	int long_format;	/* -l */
	int all;		/* -a: names starting with '.', and . and .. */
	int recursive;		/* -R */
	int dir_itself;		/* -d */
	int human;		/* -h: sizes as 1.5M */
	int headers;		/* print "NAME:" above each directory */
	int printed;		/* something was printed: separate sections */
	struct tool_json *json; /* --json: the document, else NULL */
};

/* One line of output and what lstat said about its file. */
struct ls_row {
	char *name; /* as printed */
	struct stat st;
	char *target;	     /* symlink target (-l), or NULL */
	int ok;		     /* lstat succeeded */
	unsigned char dtype; /* entry type from the directory (DT_*) */
	const char *image;   /* operands (--json): the image, */
	char *path;	     /* and the path in it */
};

/* Print ls's help. */
static void ls_usage(void)
{
	printf("Usage: udax ls [-adhlR] [--json] IMAGE[:PATH]...\n"
	       "List the files in a udax image (PATH defaults to /).\n\n"
	       "  -a, --all             do not ignore entries starting with "
	       ".\n"
	       "  -d, --directory       list directories themselves, not "
	       "their contents\n"
	       "  -h, --human-readable  with -l, print sizes like 1K 234M 2G\n"
	       "  -l                    long listing: mode, links, uid, gid, "
	       "size, mtime,\n"
	       "                        name and the target of a symbolic "
	       "link\n"
	       "  -R, --recursive       list subdirectories recursively\n"
	       "      --json            one JSON object on standard output: "
	       "each name,\n"
	       "                        and with -l its status\n"
	       "      --help            display this help and exit\n");
	tool_exit_help();
}

/* Fill a row's status (and link target for -l). Reports failures. */
static int ls_row_fill(const struct tool_loc *loc, int long_format,
		       struct ls_row *row)
{
	int err;

	row->target = NULL;
	err = tool_loc_lstat(loc, &row->st);
	if (err) {
		tool_loc_error(loc, err);
		return err;
	}
	row->ok = 1;
	if (long_format && S_ISLNK(row->st.st_mode)) {
		err = tool_loc_readlink(loc, &row->target);
		if (err)
			tool_loc_error(loc, err);
	}
	return 0;
}

/* Number of decimal digits of v, for column widths. */
static int ls_digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* The size column of one row: a device's number instead, as ls(1). */
static void ls_size_string(const struct stat *st, int human, char *buf)
{
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		snprintf(buf, 24, "%u, %u", major(st->st_rdev),
			 minor(st->st_rdev));
	else if (human)
		tool_human_size((uint64_t)st->st_size, buf);
	else
		snprintf(buf, 24, "%" PRIu64, (uint64_t)st->st_size);
}

/* The rows as elements of the current JSON array: operands as "image"
 * and "path", directory entries as "name"; with -l their status. */
static void ls_json_rows(const struct ls_row *rows, size_t count,
			 const struct ls_opts *opts)
{
	struct tool_json *j = opts->json;
	size_t i;

	for (i = 0; i < count; i++) {
		if (!rows[i].ok)
			continue;
		tool_json_object(j, NULL);
		if (rows[i].path)
			files_json_loc(j, rows[i].image, rows[i].path);
		else
			tool_json_bytes(j, "name", rows[i].name,
					strlen(rows[i].name));
		if (opts->long_format)
			files_json_stat(j, &rows[i].st, rows[i].target);
		else if (rows[i].path) /* an operand: lstat'ed */
			tool_json_str(j, "type",
				      tool_type_key(rows[i].st.st_mode));
		else if (rows[i].dtype != DT_UNKNOWN)
			tool_json_str(j, "type",
				      tool_type_key(DTTOIF(rows[i].dtype)));
		tool_json_close(j);
	}
}

/* Print rows, in columns aligned as ls -l aligns them. */
static void ls_print_rows(const struct ls_row *rows, size_t count,
			  const struct ls_opts *opts, int total)
{
	int w_nlink = 1, w_uid = 1, w_gid = 1, w_size = 1;
	char mode[11], when[32], size[24];
	uint64_t blocks = 0;
	size_t i;

	if (opts->json) {
		ls_json_rows(rows, count, opts);
		return;
	}
	if (!opts->long_format) {
		for (i = 0; i < count; i++)
			if (rows[i].ok)
				puts(rows[i].name);
		return;
	}
	for (i = 0; i < count; i++) {
		const struct stat *st = &rows[i].st;

		if (!rows[i].ok)
			continue;
		blocks += (uint64_t)st->st_blocks;
		if (ls_digits(st->st_nlink) > w_nlink)
			w_nlink = ls_digits(st->st_nlink);
		if (ls_digits(st->st_uid) > w_uid)
			w_uid = ls_digits(st->st_uid);
		if (ls_digits(st->st_gid) > w_gid)
			w_gid = ls_digits(st->st_gid);
		ls_size_string(st, opts->human, size);
		if ((int)strlen(size) > w_size)
			w_size = (int)strlen(size);
	}
	if (total) {
		if (opts->human) {
			tool_human_size(blocks * 512, size);
			printf("total %s\n", size);
		} else {
			printf("total %" PRIu64 "\n", (blocks + 1) / 2);
		}
	}
	for (i = 0; i < count; i++) {
		const struct stat *st = &rows[i].st;

		if (!rows[i].ok)
			continue;
		tool_mode_string(st->st_mode, mode);
		tool_time_short(&st->st_mtim, when);
		ls_size_string(st, opts->human, size);
		printf("%s %*" PRIu64 " %*u %*u %*s %s %s", mode, w_nlink,
		       (uint64_t)st->st_nlink, w_uid, (unsigned int)st->st_uid,
		       w_gid, (unsigned int)st->st_gid, w_size, size, when,
		       rows[i].name);
		if (rows[i].target)
			printf(" -> %s", rows[i].target);
		putchar('\n');
	}
}

/* Free an array of rows. */
static void ls_rows_free(struct ls_row *rows, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(rows[i].name);
		free(rows[i].target);
		free(rows[i].path);
	}
	free(rows);
}

/* List one directory, then (-R) each subdirectory below it. Returns 0 or
 * the first error (all errors are reported). */
static int ls_dir(const struct tool_loc *dir, struct ls_opts *opts)
{
	struct tool_dirent *ents;
	struct ls_row *rows;
	struct tool_loc child;
	size_t count, n = 0, i;
	int err, first = 0;

	err = tool_dir_list(dir, opts->all, &ents, &count);
	if (err) {
		tool_loc_error(dir, err);
		return err;
	}
	rows = calloc(count ? count : 1, sizeof(*rows));
	if (!rows) {
		tool_dir_free(ents, count);
		tool_loc_error(dir, -ENOMEM);
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		if (!opts->all && ents[i].name[0] == '.')
			continue;
		rows[n].name = ents[i].name;
		rows[n].dtype = ents[i].type;
		ents[i].name = NULL;
		if (opts->long_format || opts->recursive) {
			err = tool_loc_child(dir, rows[n].name,
					     strlen(rows[n].name), &child);
			if (!err) {
				err = ls_row_fill(&child, opts->long_format,
						  &rows[n]);
				tool_loc_free(&child);
			} else {
				tool_loc_error(dir, err);
			}
			if (err && !first)
				first = err;
		} else {
			rows[n].ok = 1;
		}
		n++;
	}
	tool_dir_free(ents, count);

	if (opts->json) {
		tool_json_object(opts->json, NULL);
		files_json_loc(opts->json, dir->image, dir->path);
		tool_json_array(opts->json, "entries");
		ls_print_rows(rows, n, opts, 1);
		tool_json_close(opts->json);
		tool_json_close(opts->json);
	} else {
		if (opts->printed)
			putchar('\n');
		if (opts->headers)
			printf(TOOL_LOC_FMT ":\n", TOOL_LOC_ARGS(dir));
		ls_print_rows(rows, n, opts, 1);
	}
	opts->printed = 1;

	for (i = 0; opts->recursive && i < n; i++) {
		if (!rows[i].ok || !S_ISDIR(rows[i].st.st_mode) ||
		    strcmp(rows[i].name, ".") == 0 ||
		    strcmp(rows[i].name, "..") == 0)
			continue;
		err = tool_loc_child(dir, rows[i].name, strlen(rows[i].name),
				     &child);
		if (!err) {
			err = ls_dir(&child, opts);
			tool_loc_free(&child);
		} else {
			tool_loc_error(dir, err);
		}
		if (err && !first)
			first = err;
	}
	ls_rows_free(rows, n);
	return first;
}

/* Sort an operand into the files listed first (added to rows, as ls
 * lists them together) or the directories listed after them (*is_dir).
 * Returns 0 or a negative errno (reported). */
static int ls_operand_classify(struct tool_images *images, const char *arg,
			       const struct ls_opts *opts, struct ls_row *rows,
			       size_t *nrows, int *is_dir)
{
	struct ls_row *row = &rows[*nrows];
	struct tool_loc loc;
	struct stat st;
	int err;

	*is_dir = 0;
	err = tool_loc_from_arg(images, arg, 0, &loc);
	if (err)
		return err;
	err = tool_loc_lstat(&loc, &st);
	/* A symlink to a directory is listed as the directory, as ls does
	 * for operands without -l. */
	if (!err && S_ISLNK(st.st_mode) && !opts->long_format &&
	    !opts->dir_itself && tool_loc_stat(&loc, &st) != 0)
		tool_loc_lstat(&loc, &st);
	if (err) {
		tool_loc_error(&loc, err);
	} else if (S_ISDIR(st.st_mode) && !opts->dir_itself) {
		*is_dir = 1;
	} else {
		row->name = strdup(arg);
		err = row->name ? ls_row_fill(&loc, opts->long_format, row) :
				  -ENOMEM;
		if (!err) {
			row->image = loc.image;
			row->path = loc.path;
			loc.path = NULL;
			(*nrows)++;
		} else {
			free(row->name);
		}
	}
	tool_loc_free(&loc);
	return err;
}

/* List the operands: files first, together, then each directory. Returns
 * 0 or the first error (all are reported). */
static int ls_operands(struct tool_images *images, char **args, int count,
		       struct ls_opts *opts)
{
	struct ls_row *rows = calloc((size_t)count, sizeof(*rows));
	int *is_dir = calloc((size_t)count, sizeof(*is_dir));
	struct tool_loc loc;
	size_t nrows = 0;
	int i, err, first = 0;

	if (!rows || !is_dir) {
		free(rows);
		free(is_dir);
		tool_error("%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		err = ls_operand_classify(images, args[i], opts, rows, &nrows,
					  &is_dir[i]);
		first = first ? first : err;
	}
	if (opts->json)
		tool_json_array(opts->json, "files");
	if (nrows > 0) {
		ls_print_rows(rows, nrows, opts, 0);
		opts->printed = 1;
	}
	ls_rows_free(rows, nrows);
	if (opts->json) {
		tool_json_close(opts->json);
		tool_json_array(opts->json, "directories");
	}
	for (i = 0; i < count; i++) {
		if (!is_dir[i] || tool_loc_from_arg(images, args[i], 0, &loc))
			continue;
		err = ls_dir(&loc, opts);
		first = first ? first : err;
		tool_loc_free(&loc);
	}
	free(is_dir);
	return first;
}

/* udax ls: list files in an image. */
int udax_tool_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"all", no_argument, NULL, 'a'},
		{"directory", no_argument, NULL, 'd'},
		{"human-readable", no_argument, NULL, 'h'},
		{"recursive", no_argument, NULL, 'R'},
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct ls_opts opts = {0};
	struct tool_images images;
	struct tool_json json;
	int c, status = TOOL_EXIT_OK;

	while ((c = getopt_long(argc, argv, "adhlR", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			opts.all = 1;
			break;
		case 'd':
			opts.dir_itself = 1;
			break;
		case 'l':
			opts.long_format = 1;
			break;
		case 'R':
			opts.recursive = 1;
			break;
		case 'h':
			opts.human = 1;
			break;
		case TOOL_OPT_JSON:
			opts.json = &json;
			break;
		case TOOL_OPT_HELP:
			ls_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return tool_usage_error("missing operand");
	if (opts.dir_itself)
		opts.recursive = 0;
	opts.headers = opts.recursive || argc - optind > 1;

	tool_images_init(&images, 0);
	if (opts.json)
		tool_json_begin(opts.json, stdout);
	if (ls_operands(&images, argv + optind, argc - optind, &opts))
		status = TOOL_EXIT_FAILURE;
	if (opts.json && tool_json_end(opts.json))
		status = TOOL_EXIT_FAILURE;
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	return status;
}

/* ---- stat ---- */

/* Print stat's help. */
static void stat_usage(void)
{
	printf("Usage: udax stat [-L] [--json] IMAGE[:PATH]...\n"
	       "Display the status of files in a udax image.\n\n"
	       "  -L, --dereference  follow symbolic links\n"
	       "      --json         one JSON object on standard output\n"
	       "      --help         display this help and exit\n");
	tool_exit_help();
}

/* Print one file's status in stat(1)'s layout, or as an element of
 * json's current array. */
static int stat_operand(struct tool_images *images, const char *arg, int follow,
			struct tool_json *json)
{
	char mode[11], when[64];
	struct tool_loc loc;
	struct stat st;
	char *target = NULL;
	int err;

	err = tool_loc_from_arg(images, arg, 0, &loc);
	if (err)
		return err;
	err = follow ? tool_loc_stat(&loc, &st) : tool_loc_lstat(&loc, &st);
	if (err) {
		tool_loc_error(&loc, err);
		tool_loc_free(&loc);
		return err;
	}
	if (S_ISLNK(st.st_mode) && tool_loc_readlink(&loc, &target))
		target = NULL;
	if (json) {
		tool_json_object(json, NULL);
		files_json_loc(json, loc.image, loc.path);
		files_json_stat(json, &st, target);
		tool_json_close(json);
		goto out;
	}
	printf("  File: " TOOL_LOC_FMT "%s%s\n", TOOL_LOC_ARGS(&loc),
	       target ? " -> " : "", target ? target : "");
	printf("  Size: %-10" PRIu64 "\tBlocks: %-10" PRIu64
	       " IO Block: %-6" PRIu64 " %s\n",
	       (uint64_t)st.st_size, (uint64_t)st.st_blocks,
	       (uint64_t)st.st_blksize, tool_type_name(st.st_mode));
	printf("Device: %s\tInode: %-10" PRIu64 "  Links: %" PRIu64, loc.image,
	       (uint64_t)st.st_ino, (uint64_t)st.st_nlink);
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		printf("  Device type: %u,%u", major(st.st_rdev),
		       minor(st.st_rdev));
	printf("\n");
	tool_mode_string(st.st_mode, mode);
	printf("Access: (%04o/%s)  Uid: (%5u)   Gid: (%5u)\n",
	       (unsigned int)(st.st_mode & 07777), mode,
	       (unsigned int)st.st_uid, (unsigned int)st.st_gid);
	tool_time_full(&st.st_atim, when);
	printf("Access: %s\n", when);
	tool_time_full(&st.st_mtim, when);
	printf("Modify: %s\n", when);
	tool_time_full(&st.st_ctim, when);
	printf("Change: %s\n", when);
out:
	free(target);
	tool_loc_free(&loc);
	return 0;
}

/* udax stat: show a file's inode the way stat(1) does. */
int udax_tool_stat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dereference", no_argument, NULL, 'L'},
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct tool_json doc, *json = NULL;
	struct tool_images images;
	int c, i, follow = 0, status = TOOL_EXIT_OK;

	while ((c = getopt_long(argc, argv, "L", longopts, NULL)) != -1) {
		switch (c) {
		case 'L':
			follow = 1;
			break;
		case TOOL_OPT_JSON:
			json = &doc;
			break;
		case TOOL_OPT_HELP:
			stat_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return tool_usage_error("missing operand");
	tool_images_init(&images, 0);
	if (json) {
		tool_json_begin(json, stdout);
		tool_json_array(json, "files");
	}
	for (i = optind; i < argc; i++)
		if (stat_operand(&images, argv[i], follow, json))
			status = TOOL_EXIT_FAILURE;
	if (json && tool_json_end(json))
		status = TOOL_EXIT_FAILURE;
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	return status;
}

/* ---- cat ---- */

/* Print cat's help. */
static void cat_usage(void)
{
	printf("Usage: udax cat IMAGE:PATH...\n"
	       "Write the contents of files in a udax image to standard "
	       "output.\n\n"
	       "      --help  display this help and exit\n");
	tool_exit_help();
}

/* Copy one file to standard output. Returns 0, or a negative errno
 * (reported); -EPIPE-like write errors stop cat altogether via *fatal. */
static int cat_operand(struct tool_images *images, const char *arg, char *buf,
		       int *fatal)
{
	struct tool_file file;
	struct tool_loc loc;
	off_t off = 0;
	ssize_t n;
	int err;

	err = tool_loc_from_arg(images, arg, 0, &loc);
	if (err)
		return err;
	err = tool_file_open(&loc, O_RDONLY, 0, &file);
	if (err) {
		tool_loc_error(&loc, err);
		tool_loc_free(&loc);
		return err;
	}
	for (;;) {
		n = tool_file_pread(&file, buf, TOOL_CHUNK_SIZE, off);
		if (n <= 0) {
			err = (int)n;
			if (err)
				tool_loc_error(&loc, err);
			break;
		}
		err = tool_write_all(STDOUT_FILENO, buf, (size_t)n);
		if (err) {
			tool_error("write error: %s", strerror(-err));
			*fatal = 1;
			break;
		}
		off += n;
	}
	tool_file_close(&file);
	tool_loc_free(&loc);
	return err;
}

/* udax cat: read files out of an image. */
int udax_tool_cat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct tool_images images;
	int c, i, fatal = 0, status = TOOL_EXIT_OK;
	char *buf;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case TOOL_OPT_HELP:
			cat_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return tool_usage_error("missing operand");
	buf = malloc(TOOL_CHUNK_SIZE);
	if (!buf) {
		tool_error("%s", strerror(ENOMEM));
		return TOOL_EXIT_FAILURE;
	}
	tool_images_init(&images, 0);
	for (i = optind; i < argc && !fatal; i++)
		if (cat_operand(&images, argv[i], buf, &fatal))
			status = TOOL_EXIT_FAILURE;
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	free(buf);
	return status;
}
