// SPDX-License-Identifier: MIT
/*
 * posix_users.c - the same sequence of system calls, as root and as the
 * user nobody (65534), in two directories, compared one by one.
 *
 * Usage: posix_users DIR_A DIR_B   (run as root)
 *
 * tests/t_mount.sh runs it on a udax mount and on a tmpfs directory: a
 * POSIX conformance check for several users (pjdfstest is not packaged
 * in Debian). Each step is one call (open O_CREAT|O_EXCL, mkdir, rename
 * with and without flags, unlink in a sticky directory, chmod and chown
 * by non-owners, utimensat, access, link, symlink, truncate, writes that
 * must clear set-user-ID, set-group-ID inheritance, ...); its result is
 * "ok" or the errno's name, plus what the call tells (stat fields, link
 * targets, contents). Steps of nobody run in a child process that has
 * dropped every group and both ids. Prints every step that differs and
 * a closing line; exits 0 if none differs, 1 otherwise, 2 on misuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum who { R, N }; /* root, nobody */

enum op {
	OP_MKDIR,      /* a, mode x */
	OP_CREATE,     /* open(a, O_CREAT|O_EXCL|O_WRONLY, x) */
	OP_OPEN,       /* open(a, flags x) and close */
	OP_WRITE,      /* open(a, O_WRONLY|O_APPEND), write b */
	OP_READ,       /* open(a, O_RDONLY), read: "= contents" */
	OP_UNLINK,     /* a */
	OP_RMDIR,      /* a */
	OP_RENAME,     /* a -> b, renameat2 flags x */
	OP_LINK,       /* a -> b */
	OP_SYMLINK,    /* target a, name b */
	OP_READLINK,   /* a: "-> target" */
	OP_STAT,       /* a: "uid gid mode nlink size" */
	OP_LSTAT,      /* a: as OP_STAT, of the link itself */
	OP_CHMOD,      /* a, mode x */
	OP_FCHMOD,     /* open(a, O_RDONLY), fchmod x */
	OP_CHOWN,      /* a, uid x, gid y (-1 keeps) */
	OP_LCHOWN,     /* a, uid x, gid y */
	OP_FCHOWN,     /* open(a, O_RDONLY), fchown x, y */
	OP_UTIME_NOW,  /* utimensat(a, NULL) */
	OP_UTIME_SET,  /* utimensat(a, {x, x}) then "mtime" */
	OP_UTIME_MNOW, /* utimensat(a, {OMIT, NOW}) */
	OP_ACCESS,     /* access(a, x) */
	OP_TRUNCATE,   /* truncate(a, x) */
	OP_FTRUNC_RO,  /* open(a, O_RDONLY), ftruncate(0) */
	OP_WRITE_RO,   /* open(a, O_RDONLY), write */
	OP_OPENDIR,    /* open(a, O_RDONLY|O_DIRECTORY) */
};

struct step {
	enum who who;
	enum op op;
	const char *a, *b;
	long x, y;
};

/* The sequence. Paths are relative to the directory under test; `w` is
 * root's 0755 directory, `w/pub` a sticky world-writable one (as /tmp),
 * `w/priv` root's 0700, `w/ro` root's 0755, `w/sg` a set-group-ID one. */
static const struct step steps[] = {
	{R, OP_MKDIR, "w", NULL, 0755, 0},
	{R, OP_MKDIR, "w/pub", NULL, 0777, 0},
	{R, OP_CHMOD, "w/pub", NULL, 01777, 0},
	{R, OP_MKDIR, "w/priv", NULL, 0700, 0},
	{R, OP_MKDIR, "w/ro", NULL, 0755, 0},
	{R, OP_CREATE, "w/ro/rootfile", NULL, 0644, 0},
	{R, OP_WRITE, "w/ro/rootfile", "root", 0, 0},
	{R, OP_CREATE, "w/priv/secret", NULL, 0644, 0},
	{N, OP_CREATE, "w/ro/x", NULL, 0644, 0},
	{N, OP_MKDIR, "w/ro/d", NULL, 0755, 0},
	{N, OP_SYMLINK, "t", "w/ro/sl", 0, 0},
	{N, OP_CREATE, "w/pub/n1", NULL, 0644, 0},
	{N, OP_STAT, "w/pub/n1", NULL, 0, 0},
	{N, OP_CREATE, "w/pub/n1", NULL, 0644, 0},
	{N, OP_OPEN, "w/pub/n1", NULL, O_CREAT | O_WRONLY, 0},
	{N, OP_MKDIR, "w/pub/nd", NULL, 0755, 0},
	{N, OP_STAT, "w/pub/nd", NULL, 0, 0},
	{N, OP_MKDIR, "w/pub/nd", NULL, 0755, 0},
	{R, OP_CREATE, "w/pub/r1", NULL, 0644, 0},
	{N, OP_UNLINK, "w/pub/r1", NULL, 0, 0},
	{N, OP_RENAME, "w/pub/r1", "w/pub/r2", 0, 0},
	{N, OP_RENAME, "w/pub/n1", "w/pub/n2", 0, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/r1", 0, 0},
	{N, OP_WRITE, "w/pub/n2", "nobody", 0, 0},
	{N, OP_CREATE, "w/pub/n3", NULL, 0600, 0},
	{N, OP_WRITE, "w/pub/n3", "three", 0, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/n3", RENAME_NOREPLACE, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/n3", RENAME_EXCHANGE, 0},
	{N, OP_READ, "w/pub/n2", NULL, 0, 0},
	{N, OP_READ, "w/pub/n3", NULL, 0, 0},
	{N, OP_RENAME, "w/pub/n2", "w/pub/n3", 0, 0},
	{N, OP_STAT, "w/pub/n2", NULL, 0, 0},
	{N, OP_RENAME, "w/pub/nd", "w/pub/nd/sub", 0, 0},
	{N, OP_RENAME, "w/pub/n3", "w/pub/nd", 0, 0},
	{R, OP_RENAME, "w/pub/r1", "w/pub/n3", 0, 0},
	{N, OP_STAT, "w/pub/n3", NULL, 0, 0},
	{N, OP_CHMOD, "w/ro/rootfile", NULL, 0666, 0},
	{N, OP_CHOWN, "w/pub/n3", NULL, 65534, -1},
	{N, OP_CHOWN, "w/pub/nd", NULL, 0, -1},
	{N, OP_CHOWN, "w/pub/nd", NULL, -1, 0},
	{N, OP_CHOWN, "w/pub/nd", NULL, -1, -1},
	{N, OP_CHOWN, "w/pub/nd", NULL, 65534, 65534},
	{R, OP_CHOWN, "w/pub/nd", NULL, 65534, 0},
	{N, OP_STAT, "w/pub/nd", NULL, 0, 0},
	{N, OP_UTIME_SET, "w/ro/rootfile", NULL, 1000000, 0},
	{N, OP_UTIME_NOW, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_UTIME_MNOW, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_CHMOD, "w/ro/rootfile", NULL, 0666, 0},
	{N, OP_UTIME_NOW, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_UTIME_SET, "w/ro/rootfile", NULL, 1000000, 0},
	{R, OP_UTIME_SET, "w/ro/rootfile", NULL, 1000000, 0},
	{N, OP_ACCESS, "w/ro/rootfile", NULL, W_OK, 0},
	{N, OP_ACCESS, "w/ro/rootfile", NULL, X_OK, 0},
	{N, OP_ACCESS, "w/priv", NULL, X_OK, 0},
	{N, OP_ACCESS, "w/ro", NULL, W_OK, 0},
	{N, OP_ACCESS, "w/ro", NULL, R_OK | X_OK, 0},
	{N, OP_ACCESS, "w/nothing", NULL, F_OK, 0},
	{N, OP_STAT, "w/priv/secret", NULL, 0, 0},
	{N, OP_OPENDIR, "w/priv", NULL, 0, 0},
	{N, OP_OPENDIR, "w/ro", NULL, 0, 0},
	{N, OP_OPENDIR, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_STAT, "w/priv/secret", NULL, 0, 0},
	{N, OP_LINK, "w/ro/rootfile", "w/pub/hl", 0, 0},
	{N, OP_STAT, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub/hl", NULL, 0, 0},
	{N, OP_STAT, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_LINK, "w/pub/nd", "w/pub/dl", 0, 0},
	{N, OP_LINK, "w/pub/n3", "w/ro/hl", 0, 0},
	{N, OP_SYMLINK, "target", "w/pub/sl", 0, 0},
	{N, OP_LSTAT, "w/pub/sl", NULL, 0, 0},
	{N, OP_READLINK, "w/pub/sl", NULL, 0, 0},
	{N, OP_OPEN, "w/pub/sl", NULL, O_CREAT | O_WRONLY, 0},
	{N, OP_STAT, "w/pub/target", NULL, 0, 0},
	{R, OP_OPEN, "w/pub/sl", NULL, O_RDONLY, 0},
	{R, OP_LCHOWN, "w/pub/sl", NULL, 0, 0},
	{R, OP_LSTAT, "w/pub/sl", NULL, 0, 0},
	{N, OP_FTRUNC_RO, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_WRITE_RO, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_CHMOD, "w/ro/rootfile", NULL, 0644, 0},
	{N, OP_TRUNCATE, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_OPEN, "w/ro/rootfile", NULL, O_WRONLY, 0},
	{N, OP_OPEN, "w/ro/rootfile", NULL, O_RDWR | O_TRUNC, 0},
	{N, OP_READ, "w/ro/rootfile", NULL, 0, 0},
	{N, OP_OPEN, "w/ro/rootfile", NULL, O_RDONLY | O_DIRECTORY, 0},
	{N, OP_OPEN, "w/pub", NULL, O_WRONLY, 0},
	{N, OP_TRUNCATE, "w/pub/n3", NULL, 3, 0},
	{N, OP_READ, "w/pub/n3", NULL, 0, 0},
	{N, OP_TRUNCATE, "w/pub/n3", NULL, 10, 0},
	{N, OP_STAT, "w/pub/n3", NULL, 0, 0},
	{R, OP_CREATE, "w/pub/suid", NULL, 0644, 0},
	{R, OP_CHMOD, "w/pub/suid", NULL, 06777, 0},
	{N, OP_WRITE, "w/pub/suid", "x", 0, 0},
	{R, OP_STAT, "w/pub/suid", NULL, 0, 0},
	{R, OP_CHMOD, "w/pub/suid", NULL, 06777, 0},
	{R, OP_WRITE, "w/pub/suid", "y", 0, 0},
	{R, OP_STAT, "w/pub/suid", NULL, 0, 0},
	{N, OP_TRUNCATE, "w/pub/suid", NULL, 1, 0},
	{R, OP_STAT, "w/pub/suid", NULL, 0, 0},
	{N, OP_CREATE, "w/pub/g", NULL, 0644, 0},
	{R, OP_CHOWN, "w/pub/g", NULL, -1, 0},
	{N, OP_CHMOD, "w/pub/g", NULL, 02755, 0},
	{N, OP_STAT, "w/pub/g", NULL, 0, 0},
	{N, OP_FCHMOD, "w/pub/g", NULL, 0600, 0},
	{N, OP_FCHOWN, "w/pub/g", NULL, -1, 100},
	{N, OP_FCHMOD, "w/ro/rootfile", NULL, 0600, 0},
	{N, OP_STAT, "w/pub/g", NULL, 0, 0},
	{R, OP_MKDIR, "w/sg", NULL, 0777, 0},
	{R, OP_CHOWN, "w/sg", NULL, 0, 100},
	{R, OP_CHMOD, "w/sg", NULL, 02777, 0},
	{N, OP_CREATE, "w/sg/f", NULL, 0644, 0},
	{N, OP_STAT, "w/sg/f", NULL, 0, 0},
	{N, OP_MKDIR, "w/sg/d", NULL, 0755, 0},
	{N, OP_STAT, "w/sg/d", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub", NULL, 0, 0},
	{N, OP_RMDIR, "w/pub/n3", NULL, 0, 0},
	{N, OP_RMDIR, "w/ro", NULL, 0, 0},
	{R, OP_RMDIR, "w/ro", NULL, 0, 0},
	{N, OP_RMDIR, "w/pub/nd", NULL, 0, 0},
	{N, OP_RMDIR, "w/pub/nd", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub/g", NULL, 0, 0},
	{N, OP_UNLINK, "w/pub/n3", NULL, 0, 0},
	{R, OP_UNLINK, "w/pub/n3", NULL, 0, 0},
	{N, OP_STAT, "w/pub/n3", NULL, 0, 0},
	{R, OP_UNLINK, "w/ro/rootfile", NULL, 0, 0},
	{R, OP_RMDIR, "w/ro", NULL, 0, 0},
};

#define NSTEPS (sizeof(steps) / sizeof(steps[0]))
#define RESULT_LEN 128

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void stat_text(const struct stat *st, char *out)
{
	/* sizes of directories are the file system's own business */
	snprintf(out, RESULT_LEN, "ok %u %u %o %lu %lld", st->st_uid,
		 st->st_gid, st->st_mode, (unsigned long)st->st_nlink,
		 S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size);
}

/* Open a, do `what` on the fd, close. */
static int with_fd(const struct step *s, int flags, char *out)
{
	int fd = open(s->a, flags), ret = 0;

	if (fd < 0)
		return -errno;
	switch (s->op) {
	case OP_WRITE:
		if (write(fd, s->b, strlen(s->b)) < 0)
			ret = -errno;
		break;
	case OP_READ: {
		char buf[64];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0) {
			ret = -errno;
			break;
		}
		buf[n] = '\0';
		snprintf(out, RESULT_LEN, "ok = %s", buf);
		break;
	}
	case OP_FCHMOD:
		ret = fchmod(fd, (mode_t)s->x) ? -errno : 0;
		break;
	case OP_FCHOWN:
		ret = fchown(fd, (uid_t)s->x, (gid_t)s->y) ? -errno : 0;
		break;
	case OP_FTRUNC_RO:
		ret = ftruncate(fd, 0) ? -errno : 0;
		break;
	case OP_WRITE_RO:
		ret = write(fd, "x", 1) < 0 ? -errno : 0;
		break;
	default:
		break;
	}
	close(fd);
	return ret;
}

/* Run one step in this process; the result goes to out. */
static void step_run(const struct step *s, char *out)
{
	struct timespec ts[2];
	struct stat st;
	char buf[64];
	int ret = 0;
	ssize_t n;

	out[0] = '\0';
	switch (s->op) {
	case OP_MKDIR:
		ret = mkdir(s->a, (mode_t)s->x);
		break;
	case OP_CREATE:
		ret = open(s->a, O_CREAT | O_EXCL | O_WRONLY, (mode_t)s->x);
		if (ret >= 0)
			ret = close(ret);
		break;
	case OP_OPEN:
		ret = open(s->a, (int)s->x, 0644);
		if (ret >= 0)
			ret = close(ret);
		break;
	case OP_WRITE:
		ret = with_fd(s, O_WRONLY | O_APPEND, out);
		break;
	case OP_READ:
		ret = with_fd(s, O_RDONLY, out);
		break;
	case OP_FCHMOD:
	case OP_FCHOWN:
	case OP_FTRUNC_RO:
	case OP_WRITE_RO:
		ret = with_fd(s, O_RDONLY, out);
		break;
	case OP_UNLINK:
		ret = unlink(s->a);
		break;
	case OP_RMDIR:
		ret = rmdir(s->a);
		break;
	case OP_RENAME:
		ret = (int)syscall(SYS_renameat2, AT_FDCWD, s->a, AT_FDCWD,
				   s->b, (unsigned)s->x);
		break;
	case OP_LINK:
		ret = link(s->a, s->b);
		break;
	case OP_SYMLINK:
		ret = symlink(s->a, s->b);
		break;
	case OP_READLINK:
		n = readlink(s->a, buf, sizeof(buf) - 1);
		if (n >= 0) {
			buf[n] = '\0';
			snprintf(out, RESULT_LEN, "ok -> %.64s", buf);
		}
		ret = n < 0 ? -1 : 0;
		break;
	case OP_STAT:
	case OP_LSTAT:
		ret = (s->op == OP_STAT ? stat : lstat)(s->a, &st);
		if (!ret)
			stat_text(&st, out);
		break;
	case OP_CHMOD:
		ret = chmod(s->a, (mode_t)s->x);
		break;
	case OP_CHOWN:
		ret = chown(s->a, (uid_t)s->x, (gid_t)s->y);
		break;
	case OP_LCHOWN:
		ret = lchown(s->a, (uid_t)s->x, (gid_t)s->y);
		break;
	case OP_UTIME_NOW:
		ret = utimensat(AT_FDCWD, s->a, NULL, 0);
		break;
	case OP_UTIME_SET:
		ts[0] = ts[1] = (struct timespec){s->x, 0};
		ret = utimensat(AT_FDCWD, s->a, ts, 0);
		if (!ret && !stat(s->a, &st))
			snprintf(out, RESULT_LEN, "ok mtime %lld",
				 (long long)st.st_mtim.tv_sec);
		break;
	case OP_UTIME_MNOW:
		ts[0] = (struct timespec){0, UTIME_OMIT};
		ts[1] = (struct timespec){0, UTIME_NOW};
		ret = utimensat(AT_FDCWD, s->a, ts, 0);
		break;
	case OP_ACCESS:
		ret = access(s->a, (int)s->x);
		break;
	case OP_TRUNCATE:
		ret = truncate(s->a, s->x);
		break;
	case OP_OPENDIR:
		ret = open(s->a, O_RDONLY | O_DIRECTORY);
		if (ret >= 0)
			ret = close(ret);
		break;
	}
	if (ret < 0)
		snprintf(out, RESULT_LEN, "%s",
			 errname(ret == -1 ? errno : -ret));
	else if (!out[0])
		snprintf(out, RESULT_LEN, "ok");
}

/* Run one step as nobody, in a child without groups. */
static void step_run_nobody(const struct step *s, char *out)
{
	int pipefd[2];
	pid_t pid;
	ssize_t n;

	snprintf(out, RESULT_LEN, "child failed");
	if (pipe(pipefd))
		return;
	pid = fork();
	if (pid == 0) {
		char res[RESULT_LEN];
		close(pipefd[0]);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(1);
		step_run(s, res);
		if (write(pipefd[1], res, strlen(res) + 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (pid > 0) {
		n = read(pipefd[0], out, RESULT_LEN - 1);
		out[n > 0 ? n : 0] = '\0';
		if (n <= 0)
			snprintf(out, RESULT_LEN, "child failed");
		waitpid(pid, NULL, 0);
	}
	close(pipefd[0]);
}

/* Run the whole sequence in dir; results[i] gets step i's. */
static int sequence_run(const char *dir, char (*results)[RESULT_LEN])
{
	if (chdir(dir)) {
		fprintf(stderr, "posix_users: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < NSTEPS; i++) {
		if (steps[i].who == N)
			step_run_nobody(&steps[i], results[i]);
		else
			step_run(&steps[i], results[i]);
	}
	return 0;
}

static const char *op_names[] = {
	"mkdir",      "create", "open",	    "write",	 "read",
	"unlink",     "rmdir",	"rename",   "link",	 "symlink",
	"readlink",   "stat",	"lstat",    "chmod",	 "fchmod",
	"chown",      "lchown", "fchown",   "utime-now", "utime-set",
	"utime-mnow", "access", "truncate", "ftrunc-ro", "write-ro",
	"opendir",
};

int main(int argc, char **argv)
{
	static char a[NSTEPS][RESULT_LEN], b[NSTEPS][RESULT_LEN];
	int differ = 0, errors = 0;

	if (argc != 3 || geteuid() != 0) {
		fprintf(stderr, "usage (as root): posix_users DIR_A DIR_B\n");
		return 2;
	}
	umask(022);
	if (sequence_run(argv[1], a) || sequence_run(argv[2], b))
		return 2;
	for (size_t i = 0; i < NSTEPS; i++) {
		const struct step *s = &steps[i];
		int same = strcmp(a[i], b[i]) == 0;
		printf("%s %3zu %-6s %-10s %s%s%s: %s%s%s\n",
		       same ? "same" : "DIFF", i,
		       s->who == R ? "root" : "nobody", op_names[s->op], s->a,
		       s->b ? " " : "", s->b ? s->b : "", a[i],
		       same ? "" : " | ", same ? "" : b[i]);
		differ += !same;
		errors += strncmp(b[i], "ok", 2) != 0;
	}
	printf("posix_users: %zu steps as root and nobody, %d refused, %d "
	       "differ\n",
	       NSTEPS, errors, differ);
	return differ ? 1 : 0;
}
