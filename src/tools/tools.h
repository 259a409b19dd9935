/* SPDX-License-Identifier: MIT */
/*
 * tools.h - internal header of the udax command-line tool.
 *
 * The tool is one program, `udax`, with one subcommand per file system
 * operation (mkfs, fsck, ls, stat, cat, cp, mkdir, rm, mv, df, info, bench,
 * mount, umount, serve),
 * in the
 * manner of e2fsprogs' debugfs or git. It uses only the public API in
 * udax.h plus libc, so everything it does an application can do too,
 * except fsck and info, which read the raw image (docs/DESIGN.md, Tools).
 *
 * Files:
 *   udax.c       main, the command table, messages, IMAGE:PATH operands
 *                and the image cache
 *   text.c       parsing numbers, formatting modes, sizes and times, paths
 *   loc.c        a path on the host or inside an image, behind one set of
 *                calls, so cp has one code path for every direction
 *   cmd_files.c  ls, stat, cat
 *   cmd_cp.c     cp
 *   cmd_names.c  mkdir, rm, mv
 *   cmd_fs.c     mkfs, df
 *   cmd_info.c   info (reads the raw image: format.h, device layer)
 *   cmd_bench.c  bench (faults: the MAP_SYNC seed's experiment)
 *   cmd_bench_pins.c  bench pins: pin cost, truncate, sendfile, detaching
 *   cmd_bench_serve.c  bench serve: udax serve beside nginx, under wrk
 *   bench_table.c  the measurement table both print
 *   cmd_mount.c  mount, umount (the mount layer, src/mount/, over FUSE)
 *   cmd_serve.c  serve: an HTTP/1.1 file server (udax_recvfile,
 *                udax_sendfile)
 *   fsck.c       fsck (written separately)
 *   json.c       the writer behind --json
 *   progress.c   progress bars on a terminal
 *
 * Conventions: functions return 0 or a negative errno; a command returns
 * its exit status (TOOL_EXIT_*). Messages go to stderr as
 * "udax CMD: NAME: reason" through tool_error() and tool_loc_error().
 */
#ifndef UDAX_TOOLS_H
#define UDAX_TOOLS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "udax.h"

/* Exit statuses of every command except fsck (see udax-fsck(8)). */
#define TOOL_EXIT_OK 0
#define TOOL_EXIT_FAILURE 1
#define TOOL_EXIT_USAGE 2

/* getopt_long value of --help, which has no short form (-h means
 * human-readable to ls and df). */
#define TOOL_OPT_HELP 0x100
/* getopt_long value of --json (no short form either). */
#define TOOL_OPT_JSON 0x101
/* The first value a command gives its own long-only options. */
#define TOOL_OPT_LOCAL 0x110

/* Size of the buffer cp and cat move data through. */
#define TOOL_CHUNK_SIZE (1024 * 1024)

/*
 * One subcommand. argv[0] is "udax CMD" (so getopt's messages name the
 * command, and equals tool_prog); options and operands follow, ready for
 * getopt_long() (optind is reset before the call). Returns the process
 * exit status.
 */
typedef int (*tool_cmd_fn)(int argc, char **argv);

/* ---- commands ---- */

int udax_tool_mkfs(int argc, char **argv);
int udax_tool_fsck(int argc, char **argv); /* fsck.c: exit 0, 1, 4, 5, 8, 16 */
int udax_tool_ls(int argc, char **argv);
int udax_tool_stat(int argc, char **argv);
int udax_tool_cat(int argc, char **argv);
int udax_tool_cp(int argc, char **argv);
int udax_tool_mkdir(int argc, char **argv);
int udax_tool_rm(int argc, char **argv);
int udax_tool_mv(int argc, char **argv);
int udax_tool_df(int argc, char **argv);
int udax_tool_info(int argc, char **argv);
int udax_tool_bench(int argc, char **argv);
int udax_tool_dedupe(int argc, char **argv); /* cmd_dedupe.c */
/* `udax bench pins` (cmd_bench_pins.c). */
int udax_bench_pins(int argc, char **argv);
/* `udax bench share` (cmd_bench_share.c). */
int udax_bench_share(int argc, char **argv);
/* `udax bench serve` (cmd_bench_serve.c). */
int udax_bench_serve(int argc, char **argv);
/* Write a file at path until the device is full (cmd_bench.c): every
 * free block written once. Returns 0 or a negative errno. */
int bench_fill(struct udax_fs *fs, const char *path);
/* --reps=N of a benchmark, 1 to max, into *reps. Returns 0, or the exit
 * status of the usage error it printed. */
int bench_reps_arg(const char *arg, int max, int *reps);
int udax_tool_mount(int argc, char **argv);  /* cmd_mount.c */
int udax_tool_umount(int argc, char **argv); /* cmd_mount.c */
int udax_tool_serve(int argc, char **argv);  /* cmd_serve.c */

/* ---- messages (udax.c) ---- */

/* "udax CMD", set by main before a command runs; for messages. */
extern const char *tool_prog;

/* Print "udax CMD: " fmt "\n" to stderr. */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the exit statuses, the end of every --help but fsck's. */
void tool_exit_help(void);
/* Print "Try 'udax CMD --help' for more information." and return
 * TOOL_EXIT_USAGE, for the end of a usage error. */
int tool_usage_hint(void);
/* Report an unknown option or a missing operand: prints fmt (if not
 * NULL) and the --help hint; returns TOOL_EXIT_USAGE. */
int tool_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* ---- operands and images (udax.c) ---- */

/*
 * An operand split at its first ':' into an image and a path inside it.
 * path is "/" when the operand has no ':' or nothing after it. Both point
 * into storage owned by the spec.
 */
struct tool_spec {
	char *image;
	char *path;
};

/* After getopt: exactly one operand (an image) must be left. Returns 0,
 * or reports the usage error and returns TOOL_EXIT_USAGE. */
int tool_one_operand(int argc, char **argv);
/* Split "IMAGE[:PATH]". Returns 0, or -EINVAL for an empty IMAGE. */
int tool_spec_parse(const char *arg, struct tool_spec *spec);
/* Whether a cp operand names a path in an image: it holds a ':' and does
 * not begin with "./" (the way to write a host file named "a:b"). */
int tool_arg_is_image(const char *arg);
void tool_spec_free(struct tool_spec *spec);

/*
 * The images one command works on, each opened once however many operands
 * name it (a second udax_open of an open image would be refused). Images
 * are told apart by device and inode number, so "t.img" and "./t.img" are
 * the same.
 */
struct tool_image {
	char *name; /* as first given */
	dev_t dev;  /* identity, when have_id */
	ino_t ino;
	int have_id;
	struct udax_fs *fs; /* NULL if opening failed */
	int err;	    /* why opening failed */
};

struct tool_images {
	struct tool_image *v;
	size_t count;
	int writable; /* open read-write (otherwise read-only if clean) */
};

void tool_images_init(struct tool_images *images, int writable);
/* Open an image, or find it already open. Prints why on failure.
 * Returns 0, *fs and (if not NULL) *image_name, the image's name as the
 * cache holds it (valid until tool_images_close), or a negative errno. */
int tool_images_get(struct tool_images *images, const char *name,
		    struct udax_fs **fs, const char **image_name);
/* Whether two names denote the same image file. */
int tool_images_same(const char *a, const char *b);
/* Close every image, printing failures. Returns 0 or the first error. */
int tool_images_close(struct tool_images *images);

/* ---- parsing and formatting (text.c) ---- */

/* Parse "64M", "1G", "4096": K, M, G, T are powers of 1024; an "iB" or
 * "B" may follow. Returns 0, or -EINVAL, -ERANGE. */
int tool_parse_size(const char *str, uint64_t *bytes);
/* Parse a plain unsigned decimal number. Returns 0, -EINVAL, -ERANGE. */
int tool_parse_u64(const char *str, uint64_t *value);
/* "drwxr-xr-x" for a mode; buf holds 11 bytes. */
void tool_mode_string(mode_t mode, char *buf);
/* The file type as stat(1) names it ("regular file"). */
const char *tool_type_name(mode_t mode);
/* The file type as --json names it: "regular", "directory", "symlink",
 * "char", "block", "fifo", "socket", "unknown". */
const char *tool_type_key(mode_t mode);
/* "1.5G" as df -h prints it; buf holds 16 bytes. */
void tool_human_size(uint64_t bytes, char *buf);
/* "2024-05-01 12:34" in local time; buf holds 32 bytes. */
void tool_time_short(const struct timespec *ts, char *buf);
/* "2024-05-01 12:34:56.123456789 +0200"; buf holds 64 bytes. */
void tool_time_full(const struct timespec *ts, char *buf);
/* The last component of a path, ignoring trailing slashes; "/" for the
 * root. Returns a pointer into path or a static string; *len gets its
 * length. */
const char *tool_path_base(const char *path, size_t *len);
/* dir + "/" + name, without doubling a slash. Returns malloc'd storage or
 * NULL. */
char *tool_path_join(const char *dir, const char *name, size_t name_len);
/* Whether a buffer holds only zero bytes. */
int tool_is_zero(const void *buf, size_t len);
/* Write all of buf to a host descriptor. Returns 0 or a negative errno. */
int tool_write_all(int fd, const void *buf, size_t len);

/* ---- JSON output (json.c) ---- */

/* Deepest nesting of objects and arrays, the document included. */
#define TOOL_JSON_DEPTH 8

/*
 * A JSON document being written to a stream, two-space indented. Every
 * value call takes the member's key, or NULL for an array element.
 * Lifecycle: tool_json_begin (opens the top-level object), members,
 * tool_json_end (closes what is open). Strings: see json.c.
 */
struct tool_json {
	FILE *out;
	int depth;			 /* open levels; 1 = the document */
	unsigned count[TOOL_JSON_DEPTH]; /* members written, per level */
	char closer[TOOL_JSON_DEPTH];	 /* '}' or ']', per level */
};

void tool_json_begin(struct tool_json *j, FILE *out);
/* Returns 0 or -EIO if the output could not be written. */
int tool_json_end(struct tool_json *j);
void tool_json_object(struct tool_json *j, const char *key);
void tool_json_array(struct tool_json *j, const char *key);
void tool_json_close(struct tool_json *j);
void tool_json_str(struct tool_json *j, const char *key, const char *s);
/* Bytes that may not be UTF-8 (a file name): KEY, with invalid bytes as
 * U+FFFD, and then KEY_hex with every byte in hex if there were any.
 * key must not be NULL. */
void tool_json_bytes(struct tool_json *j, const char *key, const void *s,
		     size_t len);
void tool_json_u64(struct tool_json *j, const char *key, uint64_t v);
void tool_json_i64(struct tool_json *j, const char *key, int64_t v);
void tool_json_double(struct tool_json *j, const char *key, double v);
void tool_json_bool(struct tool_json *j, const char *key, int v);
void tool_json_null(struct tool_json *j, const char *key);
/* A quoted, escaped JSON string. */
void tool_json_write_string(FILE *out, const void *s, size_t len);

/* ---- the bench commands' measurement table (bench_table.c) ---- */

#define BENCH_TABLE_REPS 15

/* A figure's row: its JSON key, its text, its unit. */
struct bench_row {
	const char *id;
	const char *what;
	const char *unit;
};

/* Every run of one figure, or why it failed. */
struct bench_meas {
	double v[BENCH_TABLE_REPS];
	int n;
	char err[256];
};

uint64_t bench_now_ns(void); /* CLOCK_MONOTONIC */
double bench_load(void);     /* the 1-minute load average, or -1 */
void bench_add(struct bench_meas *m, double v);
/* Record the first failure: "what: strerror(err)". */
void bench_fail(struct bench_meas *m, const char *what, int err);
/* Median, min and max; -1 if the figure failed or has no run. */
int bench_summary(const struct bench_meas *m, double *med, double *lo,
		  double *hi);
/* Median of a over median of b, or -1 if either is missing. */
double bench_ratio(const struct bench_meas *a, const struct bench_meas *b);
const char *bench_goal(int met); /* "met" or "not met" */
void bench_print_row(const struct bench_row *r, const struct bench_meas *m);
void bench_json_row(struct tool_json *j, const struct bench_row *r,
		    const struct bench_meas *m);

/* ---- the progress bar (progress.c) ---- */

/* Begin a command's bar: drawn only if wanted (not --quiet, not --json)
 * and standard error is a terminal. */
void tool_progress_start(int wanted);
/* Whether the bar is drawn at all (to skip work done only for it). */
int tool_progress_on(void);
/* Whether a redraw is due: the bar is on and 0.1 s have passed since the
 * last (so a caller formats its detail at most ten times a second). */
int tool_progress_due(void);
/* Draw "LABEL [####....]  45% DETAIL" over the line (detail may be
 * NULL). Draws even if not due: ask tool_progress_due() first. */
void tool_progress_draw(const char *label, uint64_t done, uint64_t total,
			const char *detail);
/* Draw, with "DONE/TOTAL" as the detail (none while total is 0), if a
 * redraw is due. */
void tool_progress_update(const char *label, uint64_t done, uint64_t total);
/* Erase the bar if it is on the line (before other output). */
void tool_progress_clear(void);
/* The work is over: erase the bar and draw no more. */
void tool_progress_end(void);
/* A stream that erases the bar before each line it passes on to under:
 * for output printed by someone else (fsck's report). Returns under
 * itself when no bar is drawn; otherwise fclose the stream after use. */
FILE *tool_progress_stream(FILE *under);

/* ---- a path on the host or in an image (loc.c) ---- */

/* A path operand: a file on the host (fs == NULL) or inside an image. */
struct tool_loc {
	struct udax_fs *fs; /* image, or NULL for a host path */
	const char *image;  /* image name for messages, NULL for the host */
	char *path;	    /* owned */
};

/* Make loc name the file an "IMAGE[:PATH]" operand names, opening the
 * image through the cache. need_path: the operand must hold a ':'.
 * Prints why on failure. Returns 0 or a negative errno. */
int tool_loc_from_arg(struct tool_images *images, const char *arg,
		      int need_path, struct tool_loc *loc);
/* Make loc name path (copied) in fs. Returns 0 or -ENOMEM. */
int tool_loc_init(struct tool_loc *loc, struct udax_fs *fs, const char *image,
		  const char *path);
/* Make child name parent/name. Returns 0 or -ENOMEM. */
int tool_loc_child(const struct tool_loc *parent, const char *name,
		   size_t name_len, struct tool_loc *child);
void tool_loc_free(struct tool_loc *loc);
/* printf a loc as the user writes it: "IMAGE:PATH" or the host path. */
#define TOOL_LOC_FMT "%s%s%s"
#define TOOL_LOC_ARGS(loc)                                                     \
	((loc)->image ? (loc)->image : ""), ((loc)->image ? ":" : ""),         \
		(loc)->path

/* Print "udax CMD: IMAGE:PATH: reason" for a negative errno. */
void tool_loc_error(const struct tool_loc *loc, int err);
/* The reason text for an error on this loc (udax_strerror for images). */
const char *tool_loc_strerror(const struct tool_loc *loc, int err);

int tool_loc_stat(const struct tool_loc *loc, struct stat *st);
int tool_loc_lstat(const struct tool_loc *loc, struct stat *st);
int tool_loc_mkdir(const struct tool_loc *loc, mode_t mode);
int tool_loc_rmdir(const struct tool_loc *loc);
int tool_loc_unlink(const struct tool_loc *loc);
int tool_loc_symlink(const char *target, const struct tool_loc *loc);
int tool_loc_mknod(const struct tool_loc *loc, mode_t mode, dev_t dev);
/* Read a symlink into *target (malloc'd, NUL-terminated). */
int tool_loc_readlink(const struct tool_loc *loc, char **target);
int tool_loc_chmod(const struct tool_loc *loc, mode_t mode);
/* Set atime and mtime; nofollow: of the link itself. */
int tool_loc_utimens(const struct tool_loc *loc, const struct timespec ts[2],
		     int nofollow);

/* An open regular file on either side. */
struct tool_file {
	struct udax_file *uf; /* image file, or NULL */
	int fd;		      /* host file, or -1 */
};

int tool_file_open(const struct tool_loc *loc, int flags, mode_t mode,
		   struct tool_file *file);
ssize_t tool_file_pread(struct tool_file *file, void *buf, size_t count,
			off_t off);
ssize_t tool_file_pwrite(struct tool_file *file, const void *buf, size_t count,
			 off_t off);
/* SEEK_DATA / SEEK_HOLE as lseek(2). Returns the offset or -errno. */
off_t tool_file_seek(struct tool_file *file, off_t off, int whence);
int tool_file_truncate(struct tool_file *file, off_t length);
/* Close; returns 0 or the error of the close. */
int tool_file_close(struct tool_file *file);

/* One directory entry, as tool_dir_list() returns them. */
struct tool_dirent {
	char *name;
	unsigned char type; /* DT_* or DT_UNKNOWN */
};

/* Read a directory's entries, sorted by name (bytewise). "." and ".."
 * are included only when dots is set. Returns 0 with *ents (free with
 * tool_dir_free) or a negative errno. */
int tool_dir_list(const struct tool_loc *loc, int dots,
		  struct tool_dirent **ents, size_t *count);
void tool_dir_free(struct tool_dirent *ents, size_t count);

#endif /* UDAX_TOOLS_H */
