// SPDX-License-Identifier: MIT
/*
 * udax.c - the udax command: main, the command table and the helpers every
 * command shares (messages, IMAGE:PATH operands, the image cache, number
 * parsing and formatting).
 *
 * `udax CMD ARGS...` runs one command. Invoked as mkfs.udax or fsck.udax
 * (links to the same binary, as e2fsprogs installs mkfs.ext4), the program
 * runs that command directly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools.h"

const char *tool_prog = "udax";

/* One row of the command table. */
struct tool_cmd {
	const char *name;
	tool_cmd_fn run;
	const char *summary;
};

static const struct tool_cmd tool_cmds[] = {
	{"mkfs", udax_tool_mkfs, "create a file system on an image"},
	{"fsck", udax_tool_fsck, "check and repair a file system"},
	{"ls", udax_tool_ls, "list directory contents"},
	{"stat", udax_tool_stat, "show a file's status"},
	{"cat", udax_tool_cat, "write files to standard output"},
	{"cp", udax_tool_cp, "copy files between the host and an image"},
	{"dedupe", udax_tool_dedupe, "share identical blocks of files"},
	{"mkdir", udax_tool_mkdir, "make directories"},
	{"rm", udax_tool_rm, "remove files or directories"},
	{"mv", udax_tool_mv, "move (rename) files"},
	{"df", udax_tool_df, "report space and inode usage"},
	{"info", udax_tool_info, "show what the file system reports"},
	{"bench", udax_tool_bench, "run a benchmark (faults, pins)"},
	{"mount", udax_tool_mount, "mount an image for every program (FUSE)"},
	{"umount", udax_tool_umount, "unmount a mounted image"},
	{"serve", udax_tool_serve, "serve an image's files over HTTP"},
};

#define TOOL_NCMDS (sizeof(tool_cmds) / sizeof(tool_cmds[0]))

/* The top-level help: what `udax --help` prints. */
static void tool_main_usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: udax COMMAND [OPTION]... [ARG]...\n"
		     "       udax COMMAND --help\n"
		     "Work on udax file system images.\n\nCommands:\n");
	for (i = 0; i < TOOL_NCMDS; i++)
		fprintf(out, "  %-7s %s\n", tool_cmds[i].name,
			tool_cmds[i].summary);
	fprintf(out,
		"\nFiles inside an image are named IMAGE:PATH, for example\n"
		"t.img:/dir/file. Exit status: 0 success, 1 failure, 2 usage\n"
		"error (fsck: see udax-fsck(8)).\n\n"
		"  -h, --help     display this help and exit\n"
		"  -V, --version  output version information and exit\n");
}

/* Look a command up by name. Returns NULL if there is none. */
static const struct tool_cmd *tool_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < TOOL_NCMDS; i++)
		if (strcmp(tool_cmds[i].name, name) == 0)
			return &tool_cmds[i];
	return NULL;
}

/* Run one command with its own argv (argv[0] becomes "udax CMD"). */
static int tool_cmd_run(const struct tool_cmd *cmd, int argc, char **argv)
{
	static char prog[32];
	int ret;

	snprintf(prog, sizeof(prog), "udax %s", cmd->name);
	tool_prog = prog;
	argv[0] = prog; /* getopt's own messages name the command */
	optind = 0;	/* glibc: fully reinitialise getopt */
	ret = cmd->run(argc, argv);
	tool_progress_end(); /* a bar left drawn by an early return */
	return ret;
}

/* The command a program name like "mkfs.udax" stands for, or NULL. */
static const struct tool_cmd *tool_cmd_from_prog(const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	char name[16];
	size_t len;

	base = base ? base + 1 : argv0;
	len = strlen(base);
	if (len <= 5 || len - 5 >= sizeof(name) ||
	    strcmp(base + len - 5, ".udax") != 0)
		return NULL;
	memcpy(name, base, len - 5);
	name[len - 5] = '\0';
	if (strcmp(name, "mkfs") != 0 && strcmp(name, "fsck") != 0)
		return NULL;
	return tool_cmd_find(name);
}

/* Dispatch: `udax CMD ...`, `udax help CMD`, or mkfs.udax / fsck.udax. */
int main(int argc, char **argv)
{
	const struct tool_cmd *cmd;

	if (argc > 0 && (cmd = tool_cmd_from_prog(argv[0])) != NULL)
		return tool_cmd_run(cmd, argc, argv);
	if (argc < 2) {
		tool_main_usage(stderr);
		return TOOL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		tool_main_usage(stdout);
		return TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("udax %s (library %s)\n", UDAX_VERSION_STRING,
		       udax_version());
		return TOOL_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0 && argc == 3 &&
	    (cmd = tool_cmd_find(argv[2])) != NULL) {
		char *help_argv[] = {argv[2], "--help", NULL};

		return tool_cmd_run(cmd, 2, help_argv);
	}
	cmd = tool_cmd_find(argv[1]);
	if (!cmd) {
		fprintf(stderr,
			"udax: '%s' is not a udax command\n"
			"Try 'udax --help' for more information.\n",
			argv[1]);
		return TOOL_EXIT_USAGE;
	}
	return tool_cmd_run(cmd, argc - 1, argv + 1);
}

/* ---- messages ---- */

/* Every error message goes through here, so all carry the command name. */
void tool_error(const char *fmt, ...)
{
	va_list ap;

	tool_progress_clear();
	fflush(stdout);
	fprintf(stderr, "%s: ", tool_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The last paragraph of every command's --help but fsck's. */
void tool_exit_help(void)
{
	printf("\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

/* The hint that ends every usage error, as coreutils prints it. */
int tool_usage_hint(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", tool_prog);
	return TOOL_EXIT_USAGE;
}

/* A usage error with an explanation (getopt already explained unknown
 * options, for which fmt is NULL). */
int tool_usage_error(const char *fmt, ...)
{
	va_list ap;

	tool_progress_clear();
	if (fmt) {
		fprintf(stderr, "%s: ", tool_prog);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	return tool_usage_hint();
}

/* ---- operands ---- */

/* mkfs and info take one image, no more, no less. */
int tool_one_operand(int argc, char **argv)
{
	if (optind >= argc)
		return tool_usage_error("missing image operand");
	if (argc - optind > 1)
		return tool_usage_error("extra operand '%s'", argv[optind + 1]);
	return 0;
}

/* Split an IMAGE[:PATH] operand; every command that names an image
 * parses its operands here. */
int tool_spec_parse(const char *arg, struct tool_spec *spec)
{
	const char *colon = strchr(arg, ':');
	size_t image_len = colon ? (size_t)(colon - arg) : strlen(arg);
	const char *path = colon ? colon + 1 : "";

	spec->image = NULL;
	spec->path = NULL;
	if (image_len == 0)
		return -EINVAL;
	spec->image = strndup(arg, image_len);
	spec->path = strdup(*path ? path : "/");
	if (!spec->image || !spec->path) {
		tool_spec_free(spec);
		return -ENOMEM;
	}
	return 0;
}

/* cp takes host paths and image paths in one list; this tells them apart. */
int tool_arg_is_image(const char *arg)
{
	return strchr(arg, ':') != NULL && strncmp(arg, "./", 2) != 0;
}

/* Release what tool_spec_parse() allocated. */
void tool_spec_free(struct tool_spec *spec)
{
	free(spec->image);
	free(spec->path);
	spec->image = NULL;
	spec->path = NULL;
}

/* ---- the image cache ---- */

/* Start a command's set of open images. */
void tool_images_init(struct tool_images *images, int writable)
{
	images->v = NULL;
	images->count = 0;
	images->writable = writable;
}

/* Open an image as the command needs it. Read-only commands open it
 * read-only so that a write-protected image can be inspected, unless the
 * journal needs replay, which only a read-write open performs. The
 * library explains only a refused image (the caller reports errnos). */
static int tool_image_open(struct tool_image *img, int writable)
{
	struct udax_open_opts opts = {.read_only = !writable, .quiet = 1};
	int err;

	err = udax_open(&img->fs, img->name, &opts);
	if (err == -EROFS && opts.read_only) {
		opts.read_only = 0;
		err = udax_open(&img->fs, img->name, &opts);
		if (err == -EACCES || err == -EPERM || err == -EROFS)
			tool_error("%s: journal needs recovery, which needs "
				   "write access",
				   img->name);
	}
	if (err == UDAX_ECORRUPT) {
		opts.quiet = 0; /* again, for the library to say why */
		err = udax_open(&img->fs, img->name, &opts);
	}
	return err;
}

/* Find or open an image; an image that failed to open is remembered so
 * that its error is reported once. */
int tool_images_get(struct tool_images *images, const char *name,
		    struct udax_fs **fs, const char **image_name)
{
	struct tool_image *img, *v;
	struct stat st;
	int have_id = stat(name, &st) == 0;
	size_t i;

	for (i = 0; i < images->count; i++) {
		img = &images->v[i];
		if (have_id && img->have_id ?
			    img->dev == st.st_dev && img->ino == st.st_ino :
			    strcmp(img->name, name) == 0) {
			*fs = img->fs;
			if (image_name)
				*image_name = img->name;
			return img->fs ? 0 : img->err;
		}
	}
	v = realloc(images->v, (images->count + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	images->v = v;
	img = &v[images->count];
	memset(img, 0, sizeof(*img));
	img->name = strdup(name);
	if (!img->name)
		return -ENOMEM;
	img->have_id = have_id;
	if (have_id) {
		img->dev = st.st_dev;
		img->ino = st.st_ino;
	}
	images->count++;
	img->err = tool_image_open(img, images->writable);
	if (img->err) {
		img->fs = NULL;
		tool_error("%s: %s", name, udax_strerror(img->err));
	}
	*fs = img->fs;
	if (image_name)
		*image_name = img->name;
	return img->err;
}

/* The operand handling of every command that takes IMAGE:PATH only. */
int tool_loc_from_arg(struct tool_images *images, const char *arg,
		      int need_path, struct tool_loc *loc)
{
	struct tool_spec spec;
	const char *image;
	struct udax_fs *fs;
	int err;

	loc->path = NULL;
	if (need_path && !strchr(arg, ':')) {
		tool_error("'%s': not of the form IMAGE:PATH", arg);
		return -EINVAL;
	}
	err = tool_spec_parse(arg, &spec);
	if (err) {
		if (err == -EINVAL)
			tool_error("'%s': no image named before ':'", arg);
		else
			tool_error("%s", strerror(-err));
		return err;
	}
	err = tool_images_get(images, spec.image, &fs, &image);
	if (!err) {
		err = tool_loc_init(loc, fs, image, spec.path);
		if (err)
			tool_error("%s", strerror(-err));
	}
	tool_spec_free(&spec);
	return err;
}

/* Whether two operands name the same image file (cp and mv refuse to
 * work across two images). */
int tool_images_same(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return strcmp(a, b) == 0;
}

/* Close every image of the command. A failed close loses work, so it is
 * reported and makes the command fail. */
int tool_images_close(struct tool_images *images)
{
	int first = 0, err;
	size_t i;

	for (i = 0; i < images->count; i++) {
		struct tool_image *img = &images->v[i];

		if (img->fs) {
			err = udax_close(&img->fs);
			if (err) {
				tool_error("%s: %s", img->name,
					   udax_strerror(err));
				if (!first)
					first = err;
			}
		}
		free(img->name);
	}
	free(images->v);
	images->v = NULL;
	images->count = 0;
	return first;
}
