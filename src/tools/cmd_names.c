// SPDX-License-Identifier: MIT
/*
 * cmd_names.c - the commands that change names in an image: mkdir, rm and
 * mv. They open images read-write; every operand is IMAGE:PATH.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools.h"

/* ---- mkdir ---- */

/* Print mkdir's help. */
static void mkdir_usage(void)
{
	printf("Usage: udax mkdir [-p] [-m MODE] IMAGE:PATH...\n"
	       "Create directories in a udax image.\n\n"
	       "  -m, --mode=MODE  octal permission bits (default 0777 less "
	       "the umask)\n"
	       "  -p, --parents    no error if existing, make parent "
	       "directories as needed\n"
	       "      --help       display this help and exit\n");
	tool_exit_help();
}

/* mkdir that accepts an existing directory (for -p). */
static int mkdir_exist_ok(const struct tool_loc *loc, mode_t mode)
{
	struct stat st;
	int err = tool_loc_mkdir(loc, mode);

	if (err == -EEXIST && tool_loc_stat(loc, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		err = 0;
	return err;
}

/* mkdir -p: create each missing ancestor (owner-writable, so the next
 * level can go in), then the directory itself. */
static int mkdir_parents(const struct tool_loc *loc, mode_t mode,
			 mode_t parent_mode)
{
	struct tool_loc prefix = *loc;
	size_t i, len = strlen(loc->path);
	int err;

	prefix.path = strdup(loc->path);
	if (!prefix.path)
		return -ENOMEM;
	for (i = 1; i < len; i++) {
		if (prefix.path[i] != '/' || prefix.path[i - 1] == '/')
			continue;
		prefix.path[i] = '\0';
		err = mkdir_exist_ok(&prefix, parent_mode);
		if (err) {
			tool_loc_error(&prefix, err);
			tool_loc_free(&prefix);
			return err;
		}
		prefix.path[i] = '/';
	}
	tool_loc_free(&prefix);
	err = mkdir_exist_ok(loc, mode);
	if (err)
		tool_loc_error(loc, err);
	return err;
}

/* Parse -m: octal permission bits only (no symbolic modes). */
static int mkdir_parse_mode(const char *str, mode_t *mode)
{
	unsigned long v;
	char *end;

	if (*str < '0' || *str > '7')
		return -EINVAL;
	v = strtoul(str, &end, 8);
	if (*end != '\0' || v > 07777)
		return -EINVAL;
	*mode = (mode_t)v;
	return 0;
}

/* udax mkdir: make directories in an image. */
int udax_tool_mkdir(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"mode", required_argument, NULL, 'm'},
		{"parents", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	mode_t mask = umask(0), mode = 0777 & ~mask;
	struct tool_images images;
	struct tool_loc loc;
	int c, i, err, parents = 0, status = TOOL_EXIT_OK;

	umask(mask);
	while ((c = getopt_long(argc, argv, "m:p", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (mkdir_parse_mode(optarg, &mode))
				return tool_usage_error("invalid mode '%s'",
							optarg);
			break;
		case 'p':
			parents = 1;
			break;
		case TOOL_OPT_HELP:
			mkdir_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return tool_usage_error("missing operand");

	tool_images_init(&images, 1);
	for (i = optind; i < argc; i++) {
		if (tool_loc_from_arg(&images, argv[i], 1, &loc)) {
			status = TOOL_EXIT_FAILURE;
			continue;
		}
		if (parents) {
			err = mkdir_parents(&loc, mode,
					    (0777 & ~mask) | S_IWUSR | S_IXUSR);
		} else {
			err = tool_loc_mkdir(&loc, mode);
			if (err)
				tool_loc_error(&loc, err);
		}
		if (err)
			status = TOOL_EXIT_FAILURE;
		tool_loc_free(&loc);
	}
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	return status;
}

/* ---- rm ---- */

/* What rm was asked to do. */
struct rm_opts {
	int recursive; /* -r */
	int force;     /* -f: missing files are no error */
	int verbose;   /* -v */
};

/* Print rm's help. */
static void rm_usage(void)
{
	printf("Usage: udax rm [-f] [-r] [-v] IMAGE:PATH...\n"
	       "Remove files or directories from a udax image.\n\n"
	       "  -f, --force      ignore nonexistent files, never fail "
	       "because of them\n"
	       "  -r, -R, --recursive  remove directories and their "
	       "contents recursively\n"
	       "  -v, --verbose    explain what is being done\n"
	       "      --help       display this help and exit\n");
	tool_exit_help();
}

/* Remove one name, and with -r everything below it. Returns 0 or the
 * first error (each is reported). */
static int rm_path(const struct tool_loc *loc, const struct rm_opts *opts)
{
	struct tool_dirent *ents;
	struct tool_loc child;
	struct stat st;
	size_t count, i;
	int err, first = 0;

	err = tool_loc_lstat(loc, &st);
	if (err == -ENOENT && opts->force)
		return 0;
	if (err)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		err = tool_loc_unlink(loc);
		goto done;
	}
	if (!opts->recursive) {
		err = -EISDIR;
		goto fail;
	}
	err = tool_dir_list(loc, 0, &ents, &count);
	if (err)
		goto fail;
	for (i = 0; i < count; i++) {
		err = tool_loc_child(loc, ents[i].name, strlen(ents[i].name),
				     &child);
		if (err) {
			tool_loc_error(loc, err);
		} else {
			err = rm_path(&child, opts);
			tool_loc_free(&child);
		}
		first = first ? first : err;
	}
	tool_dir_free(ents, count);
	if (first)
		return first; /* rmdir would only add "not empty" */
	err = tool_loc_rmdir(loc);
done:
	if (!err) {
		if (opts->verbose)
			printf("removed '" TOOL_LOC_FMT "'\n",
			       TOOL_LOC_ARGS(loc));
		return 0;
	}
	if (err == -ENOENT && opts->force)
		return 0;
fail:
	tool_loc_error(loc, err);
	return err;
}

/* rm refuses ".", ".." and (with -r) the root, as rm(1) does. */
static int rm_refuse(const struct tool_loc *loc, int recursive)
{
	struct tool_loc root = *loc;
	struct stat st, root_st;
	char slash[] = "/";
	const char *base;
	size_t len;

	base = tool_path_base(loc->path, &len);
	if ((len == 1 && base[0] == '.') ||
	    (len == 2 && base[0] == '.' && base[1] == '.')) {
		tool_error("refusing to remove '.' or '..' directory: skipping "
			   "'" TOOL_LOC_FMT "'",
			   TOOL_LOC_ARGS(loc));
		return 1;
	}
	root.path = slash;
	if (recursive && tool_loc_lstat(loc, &st) == 0 &&
	    tool_loc_lstat(&root, &root_st) == 0 &&
	    st.st_ino == root_st.st_ino) {
		tool_error("it is dangerous to operate recursively on "
			   "'" TOOL_LOC_FMT "'",
			   TOOL_LOC_ARGS(loc));
		return 1;
	}
	return 0;
}

/* udax rm: remove files and directories from an image. */
int udax_tool_rm(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"force", no_argument, NULL, 'f'},
		{"recursive", no_argument, NULL, 'r'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct rm_opts opts = {0};
	struct tool_images images;
	struct tool_loc loc;
	int c, i, status = TOOL_EXIT_OK;

	while ((c = getopt_long(argc, argv, "frRv", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			opts.force = 1;
			break;
		case 'r':
		case 'R':
			opts.recursive = 1;
			break;
		case 'v':
			opts.verbose = 1;
			break;
		case TOOL_OPT_HELP:
			rm_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return opts.force ? TOOL_EXIT_OK :
				    tool_usage_error("missing operand");

	tool_images_init(&images, 1);
	for (i = optind; i < argc; i++) {
		if (tool_loc_from_arg(&images, argv[i], 1, &loc)) {
			status = TOOL_EXIT_FAILURE;
			continue;
		}
		if (rm_refuse(&loc, opts.recursive) || rm_path(&loc, &opts))
			status = TOOL_EXIT_FAILURE;
		tool_loc_free(&loc);
	}
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	return status;
}

/* ---- mv ---- */

/* Print mv's help. */
static void mv_usage(void)
{
	printf("Usage: udax mv [-v] IMAGE:SOURCE IMAGE:DEST\n"
	       "  or:  udax mv [-v] IMAGE:SOURCE... IMAGE:DIRECTORY\n"
	       "  or:  udax mv --exchange IMAGE:PATH1 IMAGE:PATH2\n"
	       "Rename files within a udax image; a DEST that is a directory "
	       "receives SOURCE.\n\n"
	       "      --exchange  atomically swap the two paths\n"
	       "  -v, --verbose   explain what is being done\n"
	       "      --help      display this help and exit\n");
	tool_exit_help();
}

/* Rename one source to its target (inside dst when dst is a directory). */
static int mv_one(const struct tool_loc *src, const struct tool_loc *dst,
		  int dst_is_dir, unsigned int flags, int verbose)
{
	struct tool_loc target;
	const char *base;
	size_t len;
	int err;

	if (dst_is_dir) {
		base = tool_path_base(src->path, &len);
		err = tool_loc_child(dst, base, len, &target);
	} else {
		err = tool_loc_init(&target, dst->fs, dst->image, dst->path);
	}
	if (err) {
		tool_error("%s", strerror(-err));
		return err;
	}
	err = udax_rename(src->fs, src->path, target.path, flags);
	if (err)
		tool_error("cannot move '" TOOL_LOC_FMT "' to '" TOOL_LOC_FMT
			   "': %s",
			   TOOL_LOC_ARGS(src), TOOL_LOC_ARGS(&target),
			   udax_strerror(err));
	else if (verbose)
		printf("renamed '" TOOL_LOC_FMT "' -> '" TOOL_LOC_FMT "'\n",
		       TOOL_LOC_ARGS(src), TOOL_LOC_ARGS(&target));
	tool_loc_free(&target);
	return err;
}

/* Move the sources to dst; all must be in dst's image. */
static int mv_run(struct tool_images *images, char **args, int nsrc,
		  unsigned int flags, int verbose)
{
	struct tool_loc dst, src;
	struct stat st;
	int i, dst_is_dir = 0, status = TOOL_EXIT_OK;

	if (tool_loc_from_arg(images, args[nsrc], 1, &dst))
		return TOOL_EXIT_FAILURE;
	if (!(flags & RENAME_EXCHANGE))
		dst_is_dir =
			tool_loc_stat(&dst, &st) == 0 && S_ISDIR(st.st_mode);
	if (nsrc > 1 && !dst_is_dir) {
		tool_error("target '" TOOL_LOC_FMT "' is not a directory",
			   TOOL_LOC_ARGS(&dst));
		tool_loc_free(&dst);
		return TOOL_EXIT_FAILURE;
	}
	for (i = 0; i < nsrc; i++) {
		if (tool_loc_from_arg(images, args[i], 1, &src)) {
			status = TOOL_EXIT_FAILURE;
			continue;
		}
		if (src.fs != dst.fs) {
			tool_error("cannot move '%s' to another image",
				   args[i]);
			status = TOOL_EXIT_FAILURE;
		} else if (mv_one(&src, &dst, dst_is_dir, flags, verbose)) {
			status = TOOL_EXIT_FAILURE;
		}
		tool_loc_free(&src);
	}
	tool_loc_free(&dst);
	return status;
}

/* udax mv: rename files within an image (udax_rename). */
int udax_tool_mv(int argc, char **argv)
{
	enum { MV_OPT_EXCHANGE = TOOL_OPT_LOCAL };
	static const struct option longopts[] = {
		{"exchange", no_argument, NULL, MV_OPT_EXCHANGE},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct tool_images images;
	unsigned int flags = 0;
	int c, nargs, status, verbose = 0;

	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case MV_OPT_EXCHANGE:
			flags |= RENAME_EXCHANGE;
			break;
		case 'v':
			verbose = 1;
			break;
		case TOOL_OPT_HELP:
			mv_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	nargs = argc - optind;
	if (nargs == 0)
		return tool_usage_error("missing file operand");
	if (nargs == 1)
		return tool_usage_error("missing destination file operand "
					"after '%s'",
					argv[optind]);
	if ((flags & RENAME_EXCHANGE) && nargs != 2)
		return tool_usage_error("--exchange takes exactly two "
					"operands");

	tool_images_init(&images, 1);
	status = mv_run(&images, argv + optind, nargs - 1, flags, verbose);
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	return status;
}
