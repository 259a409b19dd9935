// SPDX-License-Identifier: MIT
/*
 * cmd_cp.c - udax cp: copy files between the host and an image, or within
 * one image, the way cp(1) does.
 *
 * Every operand is a host path or IMAGE:PATH (tool_arg_is_image). One walk
 * serves all directions because both sides are reached through tool_loc.
 * Copies keep the mode and the access and modification times; symbolic
 * links inside a recursive copy stay links; holes stay holes (data is found
 * with SEEK_DATA/SEEK_HOLE and zero-filled chunks are not written).
 *
 * On a terminal a progress bar counts files and bytes; their totals come
 * from a walk of the sources before the copy, made only for the bar.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

/* --reflink[=WHEN], as cp(1): share the blocks (udax_clone) instead of
 * copying them; auto falls back to a copy where that cannot be done
 * (between the host and an image, a file mapped writable). */
enum cp_reflink { CP_REFLINK_NEVER, CP_REFLINK_AUTO, CP_REFLINK_ALWAYS };

/* What one cp run was asked to do, and its copy buffer. */
struct cp_ctx {
	int recursive; /* -r */
	int verbose;   /* -v */
	enum cp_reflink reflink;
	char *buf; /* TOOL_CHUNK_SIZE bytes */
	/* the progress bar: files (regular files and symlinks) and bytes
	 * (file sizes, holes included) copied, of the totals */
	uint64_t files, files_total, bytes, bytes_total;
};

/* Print cp's help. */
static void cp_usage(void)
{
	printf("Usage: udax cp [-qrv] [--reflink[=WHEN]] SOURCE DEST\n"
	       "  or:  udax cp [-qrv] [--reflink[=WHEN]] SOURCE... DIRECTORY\n"
	       "Copy files between the host and a udax image, or within an "
	       "image.\n"
	       "Each operand is a host path or IMAGE:PATH (split at the first "
	       "':'); write\n"
	       "./a:b for a host file named a:b. Modes, access and "
	       "modification times\n"
	       "and holes are kept.\n\n"
	       "  -r, -R, --recursive  copy directories recursively; "
	       "symbolic links in them\n"
	       "                       are copied as links\n"
	       "  -v, --verbose        explain what is being done\n"
	       "      --reflink[=WHEN] within one image, share the blocks "
	       "(a clone:\n"
	       "                       copy-on-write) instead of copying; "
	       "WHEN is always\n"
	       "                       (the default: fail where it cannot), "
	       "auto (copy\n"
	       "                       there) or never\n"
	       "  -q, --quiet          no progress bar\n"
	       "      --help           display this help and exit\n");
	tool_exit_help();
}

/* Redraw the bar, if due: "copying [###...] 45% 3/10 files, 12M/30M". */
static void cp_progress(const struct cp_ctx *ctx)
{
	char detail[96], done_h[16], total_h[16];

	if (!tool_progress_due())
		return;
	tool_human_size(ctx->bytes, done_h);
	tool_human_size(ctx->bytes_total, total_h);
	snprintf(detail, sizeof(detail), "%llu/%llu files, %s/%s",
		 (unsigned long long)ctx->files,
		 (unsigned long long)ctx->files_total, done_h, total_h);
	if (ctx->bytes_total)
		tool_progress_draw("copying", ctx->bytes, ctx->bytes_total,
				   detail);
	else
		tool_progress_draw("copying", ctx->files, ctx->files_total,
				   detail);
}

/* Add what copying src would copy to the totals of the bar (top: a
 * command-line operand, as cp_any treats it). Errors are left to the
 * copy, which reports them. */
static void cp_count(struct cp_ctx *ctx, const struct tool_loc *src, int top)
{
	struct tool_dirent *ents;
	struct tool_loc child;
	struct stat st;
	size_t count, i;

	if ((top && !ctx->recursive ? tool_loc_stat(src, &st) :
				      tool_loc_lstat(src, &st)))
		return;
	if (!S_ISDIR(st.st_mode)) {
		ctx->files_total++;
		if (S_ISREG(st.st_mode))
			ctx->bytes_total += (uint64_t)st.st_size;
		return;
	}
	if (!ctx->recursive || tool_dir_list(src, 0, &ents, &count))
		return;
	for (i = 0; i < count; i++) {
		if (tool_loc_child(src, ents[i].name, strlen(ents[i].name),
				   &child))
			continue;
		cp_count(ctx, &child, 0);
		tool_loc_free(&child);
	}
	tool_dir_free(ents, count);
}

/* pwrite all of buf (a write may stop short, on ENOSPC for instance). */
static int cp_write_all(struct tool_file *dst, const char *buf, size_t len,
			off_t off)
{
	ssize_t n;

	while (len > 0) {
		n = tool_file_pwrite(dst, buf, len, off);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Find the next data range of src at or after off: [*data, *hole).
 * Returns 1 if there is one, 0 if only a hole is left, or -errno.
 * Without SEEK_DATA support the rest of the file is one data range. */
static int cp_next_data(struct tool_file *src, off_t off, off_t size,
			int *can_seek, off_t *data, off_t *hole)
{
	off_t pos;

	*data = off;
	*hole = size;
	if (!*can_seek)
		return 1;
	pos = tool_file_seek(src, off, SEEK_DATA);
	if (pos == -ENXIO)
		return 0;
	if (pos == -EINVAL || pos == -EOPNOTSUPP || pos == -ENOTSUP) {
		*can_seek = 0;
		return 1;
	}
	if (pos < 0)
		return (int)pos;
	*data = pos > off ? pos : off;
	pos = tool_file_seek(src, *data, SEEK_HOLE);
	if (pos > *data && pos < size) /* anything else: copy to the end */
		*hole = pos;
	return *data < size;
}

/* Copy the data of a regular file, leaving holes where the source has
 * holes or zeros. *src_side tells which side failed. Returns 0 or -errno. */
static int cp_data(struct cp_ctx *ctx, struct tool_file *src,
		   struct tool_file *dst, off_t size, int *src_side)
{
	off_t off = 0, data, hole, pos;
	uint64_t bytes_before = ctx->bytes;
	int can_seek = 1, err;
	size_t want;
	ssize_t n;

	while (off < size) {
		err = cp_next_data(src, off, size, &can_seek, &data, &hole);
		*src_side = 1;
		if (err <= 0)
			return err;
		for (pos = data; pos < hole; pos += n) {
			want = (size_t)(hole - pos) < TOOL_CHUNK_SIZE ?
				       (size_t)(hole - pos) :
				       TOOL_CHUNK_SIZE;
			n = tool_file_pread(src, ctx->buf, want, pos);
			if (n < 0)
				return (int)n;
			if (n == 0) /* shrank under us: stop at its end */
				return 0;
			/* by position: the holes passed count as copied */
			ctx->bytes = bytes_before + (uint64_t)(pos + n);
			cp_progress(ctx);
			if (tool_is_zero(ctx->buf, (size_t)n))
				continue;
			*src_side = 0;
			err = cp_write_all(dst, ctx->buf, (size_t)n, pos);
			if (err)
				return err;
			*src_side = 1;
		}
		off = hole;
	}
	return 0;
}

/* --reflink: share in's blocks with out instead of copying them.
 * Returns 1 if they are shared now, 0 to copy, or -errno (always, and
 * it could not: between the host and an image, -EXDEV). */
static int cp_clone(const struct cp_ctx *ctx, struct tool_file *in,
		    struct tool_file *out)
{
	int err;

	if (ctx->reflink == CP_REFLINK_NEVER)
		return 0;
	err = in->uf && out->uf ? udax_clone(out->uf, in->uf) : -EXDEV;
	if (!err)
		return 1;
	return ctx->reflink == CP_REFLINK_ALWAYS ? err : 0;
}

/* Give dst the mode and times of src (after its contents are in place:
 * writing the contents would change the times). */
static int cp_attrs(const struct tool_loc *dst, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	int err;

	if (!S_ISLNK(st->st_mode)) {
		err = tool_loc_chmod(dst, st->st_mode & 07777);
		if (err)
			return err;
	}
	return tool_loc_utimens(dst, ts, S_ISLNK(st->st_mode));
}

/* Copy a regular file over or into dst (created or truncated). */
static int cp_file(struct cp_ctx *ctx, const struct tool_loc *src,
		   const struct stat *st, const struct tool_loc *dst)
{
	struct tool_file in, out;
	int err, src_side = 0;
	uint64_t bytes_before;

	err = tool_file_open(src, O_RDONLY, 0, &in);
	if (err) {
		tool_loc_error(src, err);
		return err;
	}
	err = tool_file_open(dst, O_WRONLY | O_CREAT | O_TRUNC,
			     st->st_mode & 07777, &out);
	if (err) {
		tool_loc_error(dst, err);
		tool_file_close(&in);
		return err;
	}
	bytes_before = ctx->bytes;
	err = cp_clone(ctx, &in, &out);
	if (err == 0)
		err = cp_data(ctx, &in, &out, st->st_size, &src_side);
	else if (err == 1)
		err = 0;
	ctx->bytes = bytes_before + (uint64_t)st->st_size;
	ctx->files++;
	cp_progress(ctx);
	if (!err)
		err = tool_file_truncate(&out, st->st_size);
	tool_file_close(&in);
	if (err) {
		tool_loc_error(src_side ? src : dst, err);
		tool_file_close(&out);
		return err;
	}
	err = tool_file_close(&out);
	if (!err)
		err = cp_attrs(dst, st);
	if (err)
		tool_loc_error(dst, err);
	return err;
}

/* Recreate a symbolic link, replacing a non-directory already at dst. */
static int cp_symlink(const struct tool_loc *src, const struct stat *st,
		      const struct tool_loc *dst)
{
	struct stat dst_st;
	char *target;
	int err;

	err = tool_loc_readlink(src, &target);
	if (err) {
		tool_loc_error(src, err);
		return err;
	}
	err = tool_loc_symlink(target, dst);
	if (err == -EEXIST && tool_loc_lstat(dst, &dst_st) == 0 &&
	    !S_ISDIR(dst_st.st_mode)) {
		err = tool_loc_unlink(dst);
		if (!err)
			err = tool_loc_symlink(target, dst);
	}
	free(target);
	if (!err)
		err = cp_attrs(dst, st);
	if (err)
		tool_loc_error(dst, err);
	return err;
}

/* Recreate a FIFO, socket or device node (as cp -r does), replacing a
 * non-directory already at dst. Device nodes need privilege where they
 * are made: the error is reported. */
static int cp_special(const struct stat *st, const struct tool_loc *dst)
{
	mode_t mode = (st->st_mode & S_IFMT) | (st->st_mode & 07777);
	struct stat dst_st;
	int err;

	err = tool_loc_mknod(dst, mode, st->st_rdev);
	if (err == -EEXIST && tool_loc_lstat(dst, &dst_st) == 0 &&
	    !S_ISDIR(dst_st.st_mode)) {
		err = tool_loc_unlink(dst);
		if (!err)
			err = tool_loc_mknod(dst, mode, st->st_rdev);
	}
	if (!err)
		err = cp_attrs(dst, st);
	if (err)
		tool_loc_error(dst, err);
	return err;
}

/* cp_dir and cp_any call each other to walk a tree. */
static int cp_any(struct cp_ctx *ctx, const struct tool_loc *src,
		  const struct tool_loc *dst, int top);

/* Copy a directory and (recursively) its entries into dst, creating it or
 * merging into an existing directory. */
static int cp_dir(struct cp_ctx *ctx, const struct tool_loc *src,
		  const struct stat *st, const struct tool_loc *dst)
{
	struct tool_loc src_child, dst_child;
	struct tool_dirent *ents;
	struct stat dst_st;
	size_t count, i;
	int err, first = 0;

	err = tool_loc_stat(dst, &dst_st);
	if (err == -ENOENT) {
		/* Owner rwx until the end, so the entries can go in. */
		err = tool_loc_mkdir(dst, (st->st_mode & 07777) | S_IRWXU);
		if (err) {
			tool_loc_error(dst, err);
			return err;
		}
	} else if (err) {
		tool_loc_error(dst, err);
		return err;
	} else if (!S_ISDIR(dst_st.st_mode)) {
		tool_error("cannot overwrite non-directory '" TOOL_LOC_FMT
			   "' with directory '" TOOL_LOC_FMT "'",
			   TOOL_LOC_ARGS(dst), TOOL_LOC_ARGS(src));
		return -ENOTDIR;
	}

	err = tool_dir_list(src, 0, &ents, &count);
	if (err) {
		tool_loc_error(src, err);
		return err;
	}
	for (i = 0; i < count; i++) {
		size_t len = strlen(ents[i].name);

		err = tool_loc_child(src, ents[i].name, len, &src_child);
		if (err) {
			tool_loc_error(src, err);
			first = first ? first : err;
			continue;
		}
		err = tool_loc_child(dst, ents[i].name, len, &dst_child);
		if (!err) {
			err = cp_any(ctx, &src_child, &dst_child, 0);
			tool_loc_free(&dst_child);
		} else {
			tool_loc_error(dst, err);
		}
		tool_loc_free(&src_child);
		first = first ? first : err;
	}
	tool_dir_free(ents, count);

	err = cp_attrs(dst, st);
	if (err)
		tool_loc_error(dst, err);
	return first ? first : err;
}

/* The parent directory of an image or host path ("/" or "." at the top). */
static char *cp_path_parent(const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return strdup(path[0] == '/' ? "/" : ".");
	return strndup(path, len);
}

/* Whether dst is the directory src_st itself or lies below it: a
 * copy of a directory into itself would never end. Walks up from dst (or
 * its parent, if dst does not exist yet) through "..". */
static int cp_is_inside(const struct tool_loc *dst, const struct stat *src_st)
{
	struct tool_loc up = {.fs = dst->fs, .image = dst->image};
	struct stat st, parent_st;
	char *next;
	int depth, inside = 0;

	up.path = strdup(dst->path);
	if (up.path && tool_loc_stat(&up, &st) != 0) {
		next = cp_path_parent(dst->path);
		free(up.path);
		up.path = next;
	}
	for (depth = 0; up.path && depth < 4096; depth++) {
		if (tool_loc_stat(&up, &st) != 0)
			break;
		if (st.st_ino == src_st->st_ino &&
		    st.st_dev == src_st->st_dev) {
			inside = 1;
			break;
		}
		next = tool_path_join(up.path, "..", 2);
		free(up.path);
		up.path = next;
		if (!up.path || tool_loc_stat(&up, &parent_st) != 0 ||
		    (parent_st.st_ino == st.st_ino &&
		     parent_st.st_dev == st.st_dev))
			break;
	}
	tool_loc_free(&up);
	return inside;
}

/* Copy one file of any type to the name dst. top: a command-line operand,
 * whose symlinks are followed unless -r is given, like cp(1). */
static int cp_any(struct cp_ctx *ctx, const struct tool_loc *src,
		  const struct tool_loc *dst, int top)
{
	struct stat st, dst_st;
	int err, same_side = src->fs == dst->fs;

	err = top && !ctx->recursive ? tool_loc_stat(src, &st) :
				       tool_loc_lstat(src, &st);
	if (err) {
		tool_loc_error(src, err);
		return err;
	}
	if (S_ISDIR(st.st_mode) && !ctx->recursive) {
		tool_error("-r not specified; omitting directory '" TOOL_LOC_FMT
			   "'",
			   TOOL_LOC_ARGS(src));
		return -EISDIR;
	}
	if (same_side && tool_loc_stat(dst, &dst_st) == 0 &&
	    dst_st.st_ino == st.st_ino && dst_st.st_dev == st.st_dev &&
	    !S_ISLNK(st.st_mode)) {
		tool_error("'" TOOL_LOC_FMT "' and '" TOOL_LOC_FMT
			   "' are the same file",
			   TOOL_LOC_ARGS(src), TOOL_LOC_ARGS(dst));
		return -EINVAL;
	}
	if (top && same_side && S_ISDIR(st.st_mode) && cp_is_inside(dst, &st)) {
		tool_error("cannot copy a directory, '" TOOL_LOC_FMT
			   "', into itself, '" TOOL_LOC_FMT "'",
			   TOOL_LOC_ARGS(src), TOOL_LOC_ARGS(dst));
		return -EINVAL;
	}
	if (ctx->verbose) {
		tool_progress_clear();
		printf("'" TOOL_LOC_FMT "' -> '" TOOL_LOC_FMT "'\n",
		       TOOL_LOC_ARGS(src), TOOL_LOC_ARGS(dst));
		fflush(stdout);
	}

	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return cp_file(ctx, src, &st, dst);
	case S_IFDIR:
		return cp_dir(ctx, src, &st, dst);
	case S_IFLNK:
		ctx->files++;
		return cp_symlink(src, &st, dst);
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		ctx->files++;
		return cp_special(&st, dst);
	}
	tool_error(TOOL_LOC_FMT ": cannot copy a %s", TOOL_LOC_ARGS(src),
		   tool_type_name(st.st_mode));
	return -EOPNOTSUPP;
}

/* Turn an operand into a loc; the image (there is at most one) is opened
 * through the cache. Returns 0 or a negative errno (reported). */
static int cp_operand(struct tool_images *images, const char *arg,
		      struct tool_loc *loc)
{
	if (tool_arg_is_image(arg))
		return tool_loc_from_arg(images, arg, 1, loc);
	return tool_loc_init(loc, NULL, NULL, arg);
}

/* "./t.img:/f" names a host file; say so when that is likely a slip. */
static void cp_hint_dot_slash(const char *arg)
{
	const char *colon = strchr(arg, ':');
	char *image = strndup(arg, (size_t)(colon - arg));
	struct stat st;

	if (image && stat(image, &st) == 0 && !S_ISDIR(st.st_mode))
		fprintf(stderr,
			"%s: note: a leading './' makes '%s' a host path; "
			"drop it to name a file in the image\n",
			tool_prog, arg);
	free(image);
}

/* Check the operands before touching anything: at least one image, and
 * no more than one. Returns 0 or the exit status to give. */
static int cp_check_images(char **args, int count, int *dst_in_image)
{
	struct tool_spec first = {0}, spec;
	int i, err, status = 0;

	for (i = 0; i < count && !status; i++) {
		if (!tool_arg_is_image(args[i]))
			continue;
		err = tool_spec_parse(args[i], &spec);
		if (err == -EINVAL) {
			status = tool_usage_error("'%s': no image named before "
						  "':'",
						  args[i]);
		} else if (err) {
			tool_error("%s", strerror(-err));
			status = TOOL_EXIT_FAILURE;
		} else if (!first.image) {
			first = spec;
			continue;
		} else if (!tool_images_same(first.image, spec.image)) {
			tool_error("copying between two images is not "
				   "supported");
			status = TOOL_EXIT_FAILURE;
		}
		tool_spec_free(&spec);
	}
	if (!status && !first.image) {
		tool_error("no operand names a file in an image (IMAGE:PATH)");
		for (i = 0; i < count; i++)
			if (strchr(args[i], ':'))
				cp_hint_dot_slash(args[i]);
		status = tool_usage_hint();
	}
	tool_spec_free(&first);
	*dst_in_image = tool_arg_is_image(args[count - 1]);
	return status;
}

/* Copy each source to the destination, into it if it is a directory. */
static int cp_run(struct cp_ctx *ctx, struct tool_images *images, char **args,
		  int nsrc)
{
	struct tool_loc dst, src, target;
	struct stat st;
	int i, err, dst_is_dir, status = TOOL_EXIT_OK;
	const char *base;
	size_t len;

	if (cp_operand(images, args[nsrc], &dst))
		return TOOL_EXIT_FAILURE;
	dst_is_dir = tool_loc_stat(&dst, &st) == 0 && S_ISDIR(st.st_mode);
	if (nsrc > 1 && !dst_is_dir) {
		tool_error("target '" TOOL_LOC_FMT "' is not a directory",
			   TOOL_LOC_ARGS(&dst));
		tool_loc_free(&dst);
		return TOOL_EXIT_FAILURE;
	}
	for (i = 0; tool_progress_on() && i < nsrc; i++) {
		if (cp_operand(images, args[i], &src))
			continue; /* the copy below reports it */
		cp_count(ctx, &src, 1);
		tool_loc_free(&src);
	}
	for (i = 0; i < nsrc; i++) {
		if (cp_operand(images, args[i], &src)) {
			status = TOOL_EXIT_FAILURE;
			continue;
		}
		if (dst_is_dir) {
			base = tool_path_base(src.path, &len);
			err = tool_loc_child(&dst, base, len, &target);
		} else {
			err = tool_loc_init(&target, dst.fs, dst.image,
					    dst.path);
		}
		if (err) {
			tool_error("%s", strerror(-err));
			status = TOOL_EXIT_FAILURE;
		} else {
			err = cp_any(ctx, &src, &target, 1);
			if (err)
				status = TOOL_EXIT_FAILURE;
			if (err == -ENOENT && !src.fs && strchr(args[i], ':'))
				cp_hint_dot_slash(args[i]);
			tool_loc_free(&target);
		}
		tool_loc_free(&src);
	}
	tool_loc_free(&dst);
	return status;
}

/* udax cp: copy files into, out of and within an image. */
int udax_tool_cp(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"recursive", no_argument, NULL, 'r'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"reflink", optional_argument, NULL, 'L'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct cp_ctx ctx = {0};
	struct tool_images images;
	int c, nargs, status, dst_in_image = 0, quiet = 0;

	while ((c = getopt_long(argc, argv, "qrRv", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
		case 'R':
			ctx.recursive = 1;
			break;
		case 'v':
			ctx.verbose = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'L':
			if (!optarg || !strcmp(optarg, "always"))
				ctx.reflink = CP_REFLINK_ALWAYS;
			else if (!strcmp(optarg, "auto"))
				ctx.reflink = CP_REFLINK_AUTO;
			else if (!strcmp(optarg, "never"))
				ctx.reflink = CP_REFLINK_NEVER;
			else
				return tool_usage_error("invalid argument '%s' "
							"for '--reflink'",
							optarg);
			break;
		case TOOL_OPT_HELP:
			cp_usage();
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
	status = cp_check_images(argv + optind, nargs, &dst_in_image);
	if (status)
		return status;

	ctx.buf = malloc(TOOL_CHUNK_SIZE);
	if (!ctx.buf) {
		tool_error("%s", strerror(ENOMEM));
		return TOOL_EXIT_FAILURE;
	}
	tool_images_init(&images, dst_in_image);
	tool_progress_start(!quiet);
	status = cp_run(&ctx, &images, argv + optind, nargs - 1);
	tool_progress_end();
	if (tool_images_close(&images))
		status = TOOL_EXIT_FAILURE;
	free(ctx.buf);
	return status;
}
