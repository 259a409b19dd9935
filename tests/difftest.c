/* SPDX-License-Identifier: MIT */
/*
 * difftest.c - differential random-operation tester: udax against the kernel.
 *
 *   difftest [--seed S] [--ops N] [--verbose] [--size BYTES] [--check-every N]
 *            [--disable OP[,OP...]] [--avoid CLASS[,CLASS...]] [--keep]
 *
 * One seeded sequence of operations is applied both to a fresh udax file
 * system (udax_open_memory) and to the Linux kernel in a fresh temporary
 * directory on tmpfs (mkdtemp under /dev/shm). After every step the return
 * values are compared (udax returns -errno, the kernel -1 and errno: the
 * errno values are compared); every --check-every steps and at the end the
 * whole tree (names, types, modes, sizes, link counts, owners, contents,
 * symlink targets, which names are hard links of one another) and every
 * open handle (including open-but-unlinked files) are compared, and udax's
 * extent lists are checked for consistency (sorted, disjoint, inside the
 * device, no device block owned twice, holes and unwritten extents read as
 * zeros). At the end everything is unmapped, closed and removed on both
 * sides and udax must give back all the space and inodes it had at the
 * start (the baseline is taken after one file was created and removed in
 * the root, so that a root directory keeping the block it grew is not a
 * leak).
 *
 * Direct-access mappings: up to four at a time, udax_mmap of a udax handle
 * against mmap(2) of the matching kernel descriptor with the same offset,
 * length and protection, MAP_SHARED (on the udax side a third of them
 * with UDAX_MAP_SYNC, which must behave the same) or MAP_PRIVATE. They
 * outlive their handles and the names of their files, while the other
 * operations go on. Operations: "mstore" and "mload" copy bytes into or
 * out of both mappings at the same offset, mostly in pages the file
 * backs, often around end of file, sometimes anywhere in the mapping;
 * every access runs under a SIGBUS/SIGSEGV guard on each side, page by
 * page in ascending order, and how many bytes were copied before which
 * signal must agree (pages wholly past end of file: SIGBUS; a store into
 * a read-only mapping: SIGSEGV). What was loaded is compared between the
 * mappings and with udax_pread of the file; what was stored is loaded
 * back and read with udax_pread. "mscan" loads whole pages across a
 * mapping; "msync" and "munmap" compare results; "mpread" and "mpwrite"
 * pass mapped memory as the buffer of a copy: udax_pread/udax_pwrite
 * (and read/write) into or from the udax mapping against the same system
 * call on the kernel mapping, or the kernel's own access (pread/pwrite
 * of a scratch memfd) into or from each mapping, where pages past end of
 * file or without the protection give EFAULT or a short count, which
 * must agree. After every write, truncate, punch, zero range or O_TRUNC
 * of a file, the pages of its mappings around the change and around end
 * of file are compared at once, and a full comparison compares pages of
 * every mapping.
 *
 * Pins and sendfile: "pin" takes a long-term udax_pin on pages of a udax
 * mapping (the kernel has no counterpart: the pin must change nothing
 * that is compared) whose recall callback unpins it, so a truncate,
 * punch, zero range or O_TRUNC that reaches it goes through the recall
 * and then behaves as the kernel's; "unpin" releases one (the pins of a
 * mapping go right after its munmap, which they outlive). A quarter of
 * the pin steps pass bad input and expect the documented error. Each
 * "sendfile" sends from a handle with udax_sendfile into a Unix socket
 * pair and with sendfile(2) from the kernel descriptor into another (an
 * offset, sometimes negative or past end of file, or the file position),
 * and compares the results, the bytes each peer received, and the offset
 * or position after.
 *
 * The kernel side runs chroot()ed into its temporary directory so that
 * absolute paths, absolute symlink targets and ".." at the top resolve the
 * same way as in udax, where "/" is the root of the file system. That needs
 * CAP_SYS_CHROOT: run as root (the tester exits 77, "skipped", otherwise).
 * Running as root also means permission checks pass on both sides, except
 * the ones root does not bypass (X_OK on a file without any x bit).
 *
 * On the first mismatch it prints the seed, the step, the operation with its
 * arguments and both results, and exits 1. The run is deterministic for a
 * given seed (and options), so "--seed S --ops STEP+1" replays it.
 * --disable takes operations out of the mix and --avoid stops generating
 * one class of arguments, to look past a known bug: "slash" (trailing
 * slashes in paths and symlink targets), "dots" (paths ending in ".", ".."
 * or naming the root), "sxid" (set-user/group-ID bits in modes),
 * "longname" (components longer than NAME_MAX), "negoff" (negative file
 * offsets and lengths), "ancestor" (rename between a directory and its
 * own ancestors or descendants), "zerolen" (zero-length I/O),
 * "longlink" (symlink targets longer than 30 bytes), "creatlink" (O_CREAT
 * through a dangling symlink), "nofollowdir" (O_NOFOLLOW with O_DIRECTORY),
 * and for mappings: "private" (no MAP_PRIVATE mappings), "romap" (no
 * read-only shared mappings: they get PROT_WRITE), "mapalias" (no two
 * mappings of one file at once). Without
 * userfaultfd (udax_mmap fails with EPERM) the mapping operations are
 * left out, with a note.
 *
 * Special files and extended attributes: "mknod" makes FIFOs, sockets,
 * character and block devices (with majors no driver has, so that the
 * kernel's open of one fails with ENXIO, as udax's does), regular files,
 * and asks for directories and unknown types; st_rdev is compared for
 * devices. "setxattr", "getxattr", "listxattr" and "removexattr" (and
 * their l-variants) use names of every namespace and some the kernel
 * refuses, values from empty to 65537 bytes, every flag; a full
 * comparison compares every name's xattrs (names as sets, values byte
 * for byte). Open of a FIFO: the kernel side opens with O_NONBLOCK (the
 * flag is dropped again on other files) and a FIFO it opens counts as
 * ENXIO, which is what udax documents (it serves no pipes).
 *
 * Exclusions, each because Linux leaves the behaviour unspecified or tmpfs
 * differs from udax for a legitimate reason:
 *  - st_blocks, st_blksize, st_dev, st_rdev, inode numbers (only the
 *    relation "same inode" is compared), ctime, and atime/mtime except right
 *    after utimensat set them explicitly: they depend on the implementation
 *    and on the clock. Even then a symlink's atime is not compared: Linux
 *    updates it whenever the link is followed, by the check's own lookup
 *    too.
 *  - st_size of directories: tmpfs reports a bogus per-entry size.
 *  - SEEK_DATA/SEEK_HOLE results: tmpfs reports page-cache residency (a
 *    fallocated, never written page is a hole there), udax reports its
 *    extent map with its own block size. Only the invariants are checked:
 *    ENXIO at or past EOF, SEEK_DATA lands in [off, size) and skips only
 *    zeros, SEEK_HOLE lands in [off, size].
 *  - FALLOC_FL_ZERO_RANGE: tmpfs answers EOPNOTSUPP; the kernel side then
 *    emulates it (punch the range, then mode-0 fallocate without KEEP_SIZE
 *    to extend the size), which gives the content and size udax must have.
 *  - pwrite on an O_APPEND handle: Linux appends and ignores the offset, a
 *    documented deviation from POSIX (pwrite(2), BUGS); write() is used on
 *    O_APPEND handles instead.
 *  - O_TRUNC with O_RDONLY (unspecified by POSIX; Linux truncates) and
 *    O_EXCL without O_CREAT (unspecified) are never generated; neither is
 *    O_CREAT|O_DIRECTORY (EINVAL since Linux 6.4, different before).
 *  - A directory opened O_RDONLY (allowed, as on Linux) stays in the handle
 *    table, but lseek/SEEK_DATA/SEEK_HOLE on it are not generated (their
 *    meaning on a directory is file-system specific) and its size and
 *    position are not compared; read (EISDIR), write (EBADF), ftruncate
 *    (EINVAL), fallocate (EBADF), fstat and fsync are.
 *  - utimensat with both times UTIME_OMIT: Linux returns 0 without even
 *    looking the path up (utimensat(2), NOTES); not generated. Invalid
 *    tv_nsec values are only generated when the path resolves, so that the
 *    order of the EINVAL and lookup checks does not matter.
 *  - Sizes past what udax may support (EFBIG limits differ: tmpfs allows
 *    2^63-1) are never generated: files stay below min(8 MiB, device size
 *    / 32). Total data is kept far below the udax device size, so ENOSPC
 *    is never legitimate.
 *  - Concurrency: the tester is single-threaded and compares no
 *    concurrent semantics.
 *  - Unknown open(2) flag bits (ignored by Linux, historically) and
 *    RENAME_WHITEOUT (not part of udax's API) are never generated.
 *  - Directory scans that run while the directory changes are checked
 *    against udax's documented guarantee (entries added or removed during
 *    the scan at most once, the others exactly once, "." and ".." first),
 *    not against the kernel's order. A scan of a directory that was removed
 *    may end early or with ENOENT, as getdents(2) does on Linux.
 *  - Mappings, not generated: negative offsets (udax documents EINVAL,
 *    Linux gives EOVERFLOW), PROT_EXEC (depends on the mount's noexec),
 *    munmap of part of a mapping (not supported by udax, udax.h), msync
 *    of a range reaching past the mapping (the kernel's ENOMEM depends on
 *    what else is mapped there), a shared writable mapping of a directory
 *    handle (EACCES or ENODEV: the order of the checks), more than one
 *    invalid argument at once. The kernel side never gets MAP_SYNC
 *    (tmpfs has none); UDAX_MAP_SYNC must not change what is seen.
 *  - Stores through a shared mapping past end of file in the file's last
 *    page: tmpfs keeps them in the page and shows them when the file grows
 *    (POSIX: never written out), udax zeros them when the file grows. Such
 *    bytes are compared right after the store, then zeroed on both sides.
 *  - udax's data calls copy in user space: with a buffer in a mapped page
 *    past end of file they raise SIGBUS (the kernel's pread/pwrite return
 *    EFAULT or a short count), so udax_pread/udax_pwrite get buffers only
 *    in pages the mapped file backs. The kernel's own accesses to both
 *    mappings cover any range.
 *  - A copy between a mapping and an overlapping range of the same file
 *    (aliased memory: the result depends on the copy's direction) is not
 *    generated.
 *  - MAP_PRIVATE: udax drops a private mapping's copies of pages in a
 *    punched or zeroed range, Linux keeps them (documented, docs/DESIGN.md
 *    "Not yet"); after a punch or zero range the kernel side's private
 *    copies there are stored into the udax side's pages, which makes them
 *    private copies again. (Truncate drops private copies past the page
 *    holding the new end of file on both sides.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "udax.h"
#include "fault/fault.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ------------------------------------------------------------------ */
/* configuration                                                        */

#define PBUF 8192	  /* path buffers: room for > PATH_MAX tests */
#define MAXFILE g_maxfile /* no file grows past this */
#define MAXIO (1 << 20)	  /* largest single read/write */
#define NHANDLES 8	  /* open file handles on each side */
#define NDSCAN 2	  /* directory scans in progress */
#define NPOOL 5		  /* names used at every level */
#define MAXENT 64	  /* entries per directory (names are pooled) */
#define EXT_BATCH 256

static const char *const pool[NPOOL] = {"a", "b", "c", "d", "e"};

static uint64_t g_seed;
static uint64_t g_nops = 200000;
static uint64_t g_step;
static uint64_t g_check_every = 1000;
static uint64_t g_devsize = 256ULL << 20;
static off_t g_maxfile = 8LL << 20; /* min(8 MiB, device size / 32) */
static int g_verbose;
static unsigned g_avoid;
#define AVOID_SLASH 1u
#define AVOID_DOTS 2u
#define AVOID_SXID 4u
#define AVOID_LONGNAME 8u
#define AVOID_NEGOFF 16u
#define AVOID_ANCESTOR 32u
#define AVOID_ZEROLEN 64u
#define AVOID_LONGLINK 128u
#define AVOID_CREATLINK 256u
#define AVOID_NOFOLLOWDIR 512u
#define AVOID_PRIVATE 1024u
#define AVOID_ROMAP 2048u
#define AVOID_MAPALIAS 4096u
static const char *const avoid_names[] = {
	"slash",    "dots",    "sxid",	   "longname",	"negoff",
	"ancestor", "zerolen", "longlink", "creatlink", "nofollowdir",
	"private",  "romap",   "mapalias"};
#define NAVOID (sizeof avoid_names / sizeof *avoid_names)
static int g_keep;
static char g_extra_args[512];

static struct udax_fs *fs;
static char g_tmpdir[64];
static int g_realroot = -1;
static int g_procfd = -1; /* /proc/self/fd, opened before the chroot */
static int g_chrooted;
static int g_shrink; /* data budget exceeded: only shrink */
static char g_op[PBUF * 2 + 512];
static unsigned char *wbuf, *kbuf, *ubuf;
static struct statvfs g_sv0; /* udax statfs at the start (warmed up) */

/* ------------------------------------------------------------------ */
/* random numbers (splitmix64)                                         */

static uint64_t rng_state;

static uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t n)
{
	return n ? rnd64() % n : 0;
}

static int chance(unsigned pct)
{
	return rnd(100) < pct;
}

/* ------------------------------------------------------------------ */
/* reporting                                                            */

static const char *ename(long e)
{
	const char *s = strerrorname_np((int)e);
	return s ? s : "?";
}

/* A result as text: "3" or "-2 (ENOENT)". Eight rotating buffers. */
static const char *rs(long r)
{
	static char b[8][48];
	static unsigned i;
	char *p = b[i++ & 7];

	if (r < 0)
		snprintf(p, 48, "%ld (%s)", r, ename(-r));
	else
		snprintf(p, 48, "%ld", r);
	return p;
}

static void cleanup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	if (g_chrooted && g_realroot >= 0) {
		if (fchdir(g_realroot) == 0 && chroot(".") == 0)
			g_chrooted = 0;
		if (chdir("/") != 0) {
			/* nothing more to do */
		}
	}
	if (g_tmpdir[0] && !g_chrooted) {
		if (g_keep) {
			fprintf(stderr,
				"difftest: kernel-side tree kept in %s\n",
				g_tmpdir);
		} else {
			char cmd[128];
			snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", g_tmpdir);
			if (system(cmd) != 0)
				fprintf(stderr,
					"difftest: could not remove %s\n",
					g_tmpdir);
		}
	}
}

/* async-signal-safe output for the fatal-signal handler */
static void sig_puts(const char *str)
{
	size_t n = strlen(str);

	while (n) {
		ssize_t w = write(2, str, n);
		if (w <= 0)
			return;
		str += w;
		n -= (size_t)w;
	}
}

static void sig_putu(uint64_t v)
{
	char b[24];
	int i = (int)sizeof b;

	b[--i] = 0;
	do
		b[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	sig_puts(b + i);
}

/*
 * A crash or a kill (in udax, most likely) gets the seed, the step and the
 * operation printed, and the kernel-side directory removed; then the signal
 * is raised again with its default action.
 */
static void on_fatal_signal(int sig)
{
	sig_puts("difftest: killed by signal ");
	sig_putu((uint64_t)sig);
	sig_puts(" at seed ");
	sig_putu(g_seed);
	sig_puts(" step ");
	sig_putu(g_step);
	sig_puts("\ndifftest:   op: ");
	sig_puts(g_op);
	sig_puts("\n");
	if (g_chrooted && g_realroot >= 0 && fchdir(g_realroot) == 0 &&
	    chroot(".") == 0 && g_tmpdir[0] && !g_keep) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/rm", "rm", "-rf", "--", g_tmpdir,
			      (char *)NULL);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_fatal_signals(void)
{
	static const int sigs[] = {
		SIGINT,
		SIGTERM,
		SIGHUP,
		SIGQUIT,
		SIGABRT,
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
		/* left to the sanitizers' own reports */
		SIGSEGV,
		SIGBUS,
		SIGFPE,
		SIGILL,
#endif
	};
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
}

static void setop(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void setop(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_op, sizeof g_op, fmt, ap);
	va_end(ap);
}

static void fail(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	struct statvfs sv;

	fflush(stdout);
	fprintf(stderr,
		"difftest: MISMATCH seed %" PRIu64 " step %" PRIu64 "\n",
		g_seed, g_step);
	fprintf(stderr, "difftest:   op: %s\n", g_op);
	fprintf(stderr, "difftest:   ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (fs && udax_statfs(fs, &sv) == 0)
		fprintf(stderr,
			"difftest:   udax statfs: %llu of %llu blocks free "
			"(bsize %lu), %llu of %llu inodes free\n",
			(unsigned long long)sv.f_bfree,
			(unsigned long long)sv.f_blocks, sv.f_bsize,
			(unsigned long long)sv.f_ffree,
			(unsigned long long)sv.f_files);
	fprintf(stderr,
		"difftest:   replay: difftest --seed %" PRIu64 " --ops %" PRIu64
		"%s\n",
		g_seed, g_step + 1, g_extra_args);
	if (!strncmp(g_op, "full comparison", 15))
		fprintf(stderr, "difftest:   (add --check-every 1 to find the "
				"first step after which the trees differ)\n");
	cleanup();
	exit(1);
}

static void die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "difftest: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(2);
}

/* kernel result: -errno on failure */
#define KR(x)                                                                  \
	({                                                                     \
		long _r = (long)(x);                                           \
		_r < 0 ? -(long)errno : _r;                                    \
	})

static void cmp_ret(long k, long u)
{
	if (g_verbose)
		printf("[%" PRIu64 "] %s = kernel %s, udax %s\n", g_step, g_op,
		       rs(k), rs(u));
	if (k != u)
		fail("results differ: kernel %s, udax %s", rs(k), rs(u));
}

static const char *flagstr(int fl)
{
	static char b[160];
	int acc = fl & O_ACCMODE;

	snprintf(b, sizeof b, "%s%s%s%s%s%s%s",
		 acc == O_RDONLY ? "O_RDONLY" :
		 acc == O_WRONLY ? "O_WRONLY" :
				   "O_RDWR",
		 fl & O_CREAT ? "|O_CREAT" : "", fl & O_EXCL ? "|O_EXCL" : "",
		 fl & O_TRUNC ? "|O_TRUNC" : "",
		 fl & O_APPEND ? "|O_APPEND" : "",
		 fl & O_NOFOLLOW ? "|O_NOFOLLOW" : "",
		 fl & O_DIRECTORY ? "|O_DIRECTORY" : "");
	return b;
}

static const char *fmodestr(int mode)
{
	static char b[96];

	if (mode == 0)
		return "0";
	snprintf(b, sizeof b, "%s%s%s%s",
		 mode & FALLOC_FL_KEEP_SIZE ? "KEEP_SIZE|" : "",
		 mode & FALLOC_FL_PUNCH_HOLE ? "PUNCH_HOLE|" : "",
		 mode & FALLOC_FL_ZERO_RANGE ? "ZERO_RANGE|" : "",
		 mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
			  FALLOC_FL_ZERO_RANGE) ?
			 "0x100|" :
			 "");
	b[strlen(b) - 1] = 0;
	return b;
}

static const char *renflagstr(unsigned fl)
{
	switch (fl) {
	case 0:
		return "0";
	case RENAME_NOREPLACE:
		return "RENAME_NOREPLACE";
	case RENAME_EXCHANGE:
		return "RENAME_EXCHANGE";
	case RENAME_NOREPLACE | RENAME_EXCHANGE:
		return "RENAME_NOREPLACE|RENAME_EXCHANGE";
	default:
		return "0x100";
	}
}

/* Short quoted form of a path for messages (long test paths abridged). */
static const char *qp(const char *p)
{
	static char b[8][200];
	static unsigned i;
	char *o = b[i++ & 7];
	size_t n = strlen(p);

	if (n <= 160)
		snprintf(o, 200, "\"%s\"", p);
	else
		snprintf(o, 200, "\"%.40s...(%zu chars)...%.40s\"", p, n,
			 p + n - 40);
	return o;
}

/* ------------------------------------------------------------------ */
/* data patterns                                                        */

/* Fill buf with a pattern chosen by the seed; returns the pattern kind. */
static int fill(unsigned char *buf, size_t len, uint64_t seed)
{
	int kind = (int)(seed % 16);
	uint64_t s = seed;

	if (kind == 0) {
		memset(buf, 0, len); /* zeros: catches hole/zero confusion */
	} else if (kind == 1) {
		memset(buf, (int)(seed >> 8) | 1, len);
	} else {
		size_t i = 0;
		for (; i + 8 <= len; i += 8) {
			uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
			z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
			memcpy(buf + i, &z, 8);
		}
		for (; i < len; i++)
			buf[i] = (unsigned char)(s >> (i % 8 * 8)) | 1;
	}
	return kind;
}

/* ------------------------------------------------------------------ */
/* directory listings                                                   */

struct kent {
	char name[NAME_MAX + 1];
	unsigned char type;
	ino_t ino;
};

static int kent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kent *)a)->name,
		      ((const struct kent *)b)->name);
}

/* Kernel listing without "." and "..", sorted; -errno on failure. */
static int klist(const char *path, struct kent *e, int max)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == max)
			die("kernel directory %s has more than %d entries",
			    path, max);
		snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
		e[n].type = de->d_type;
		e[n].ino = de->d_ino;
		n++;
	}
	closedir(d);
	qsort(e, (size_t)n, sizeof *e, kent_cmp);
	return n;
}

static int pool_index(const char *name)
{
	for (int i = 0; i < NPOOL; i++)
		if (!strcmp(name, pool[i]))
			return i;
	return -1;
}

/* out = dir/name (out may be dir itself) */
static void join(char *out, const char *dir, const char *name)
{
	size_t dl = strcmp(dir, "/") ? strlen(dir) : 0, nl = strlen(name);

	if (dl + 1 + nl >= PBUF)
		die("path too long: %.100s.../%s", dir, name);
	memmove(out, dir, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, name, nl + 1);
}

/* ------------------------------------------------------------------ */
/* path generation                                                      */

/* What an operation would like its path to name (it gets others too). */
enum want {
	W_ANY,	 /* an existing entry or a random name */
	W_NEW,	 /* a name that does not exist yet, in an existing directory */
	W_LEAF,	 /* an empty directory */
	W_NODIR, /* a file or symlink */
	W_LNK,	 /* a symlink */
};

static int want_match(enum want w, unsigned char type)
{
	switch (w) {
	case W_LEAF:
		return type == DT_DIR;
	case W_NODIR:
		return type != DT_DIR;
	case W_LNK:
		return type == DT_LNK;
	default:
		return 1;
	}
}

/*
 * A path: mostly a walk down existing kernel entries (so that operations
 * succeed often), steered by what the operation wants, ending with an
 * existing or a random pool name, rendered absolute or relative, with
 * occasional "./", "x/../", "//" and trailing "/", "/.", "/.." decorations,
 * and rare empty, over-long or root paths.
 */
static void gen_path_w(char *out, enum want w)
{
	static const char *const rootish[] = {"/",   ".",  "..", "/.",
					      "/..", "./", "//", "./.."};
	char comps[4][NAME_MAX + 1];
	char clean[PBUF];
	int nc = 0, r = (int)rnd(1000);
	char *p = out;

	if (r < 2) {
		out[0] = 0;
		return;
	}
	if (r < 4) {
		/* longer than PATH_MAX: ENAMETOOLONG */
		size_t i = 0;
		while (i < 4200) {
			out[i++] = '.';
			out[i++] = '/';
		}
		strcpy(out + i, pool[rnd(NPOOL)]);
		return;
	}
	if (r < 8 && !(g_avoid & AVOID_LONGNAME)) {
		/* a component longer than NAME_MAX */
		size_t len = 256 + rnd(40);
		p += sprintf(p, "/");
		if (chance(50))
			p += sprintf(p, "%s/", pool[rnd(NPOOL)]);
		memset(p, 'n', len);
		p[len] = 0;
		return;
	}
	if (r < 16 && !(g_avoid & AVOID_DOTS)) {
		do
			strcpy(out,
			       rootish[rnd(sizeof rootish / sizeof *rootish)]);
		while ((g_avoid & AVOID_SLASH) && strlen(out) > 1 &&
		       out[strlen(out) - 1] == '/');
		return;
	}
	if (w != W_ANY && chance(15))
		w = W_ANY;

	strcpy(clean, "/");
	while (nc < 4) {
		struct kent e[MAXENT], *c = NULL;
		int n = klist(clean, e, MAXENT), nm = 0, m[MAXENT];
		struct stat st;
		int isdir, last;

		if (n < 0)
			n = 0;
		for (int i = 0; i < n; i++)
			if (want_match(w, e[i].type))
				m[nm++] = i;
		if (w == W_NEW) {
			/* stop here with a missing name, or go deeper */
			int free_[NPOOL], nf = 0;
			for (int i = 0; i < NPOOL; i++) {
				int j;
				for (j = 0; j < n; j++)
					if (!strcmp(e[j].name, pool[i]))
						break;
				if (j == n)
					free_[nf++] = i;
			}
			int ndir = 0;
			for (int i = 0; i < n; i++)
				ndir += e[i].type == DT_DIR;
			if (nc == 3 || ndir == 0 || (nf && chance(55))) {
				strcpy(comps[nc++],
				       pool[nf ? (uint64_t)free_[rnd(
							 (uint64_t)nf)] :
						 rnd(NPOOL)]);
				break;
			}
			for (int i = 0; i < n; i++)
				if (e[i].type == DT_DIR &&
				    rnd((uint64_t)ndir--) == 0) {
					c = &e[i];
					break;
				}
			strcpy(comps[nc++], c->name);
			join(clean, clean, c->name);
			continue;
		}
		if (n == 0 || (w == W_ANY && chance(30)) || chance(8)) {
			strcpy(comps[nc++], pool[rnd(NPOOL)]);
			break;
		}
		if (w == W_LEAF) {
			/* a directory: stop if it is empty, else go deeper */
			if (!nm) {
				strcpy(comps[nc++], pool[rnd(NPOOL)]);
				break;
			}
			c = &e[m[rnd((uint64_t)nm)]];
			strcpy(comps[nc++], c->name);
			join(clean, clean, c->name);
			struct kent sub[MAXENT];
			if (klist(clean, sub, MAXENT) == 0 || nc >= 3 ||
			    chance(20))
				break;
			continue;
		}
		/* prefer a wanted entry here (else a directory to go into) */
		if (nm && (w == W_ANY || chance(70)))
			c = &e[m[rnd((uint64_t)nm)]];
		else
			c = &e[rnd((uint64_t)n)];
		strcpy(comps[nc++], c->name);
		join(clean, clean, c->name);
		isdir = c->type == DT_DIR ||
			(c->type == DT_LNK && stat(clean, &st) == 0 &&
			 S_ISDIR(st.st_mode));
		last = !isdir || nc >= 3 ||
		       (want_match(w, c->type) && chance(w == W_ANY ? 45 : 60));
		if (last)
			break;
	}

	if (chance(50))
		*p++ = '/';
	else if (chance(3))
		p = stpcpy(p, "./");
	for (int i = 0; i < nc; i++) {
		if (i > 0) {
			*p++ = '/';
			if (chance(2))
				*p++ = '/';
		}
		if (chance(2))
			p = stpcpy(p, "./");
		if (chance(2)) {
			p = stpcpy(p, pool[rnd(NPOOL)]);
			p = stpcpy(p, "/../");
		}
		p = stpcpy(p, comps[i]);
	}
	*p = 0;
	r = (int)rnd(100);
	if (r < 4 && !(g_avoid & AVOID_SLASH))
		strcpy(p, "/");
	else if (r >= 4 && r < 5 && !(g_avoid & AVOID_DOTS))
		strcpy(p, "/.");
	else if (r >= 5 && r < 6 && !(g_avoid & AVOID_DOTS))
		strcpy(p, "/..");
}

static void gen_path(char *out)
{
	gen_path_w(out, W_ANY);
}

/* A second path, often related to the first: sibling, child, parent. */
static void gen_path2(char *out, const char *p1)
{
	int r = (int)rnd(100);
	size_t n = strlen(p1);
	char dir[PBUF];

	if (n > 4000 || r >= 40) {
		gen_path_w(out, chance(50) ? W_NEW : W_ANY);
		return;
	}
	/* dirname of p1 */
	memcpy(dir, p1, n + 1);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = 0;
	char *slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;

	if ((g_avoid & AVOID_ANCESTOR) && r >= 25 && r < 38)
		r = 0;
	/* (n <= 4000: everything below fits in PBUF) */
	if (r < 25) {
		size_t dl = strlen(dir);
		memcpy(out, dir, dl);
		out[dl] = '/';
		strcpy(out + dl + 1, pool[rnd(NPOOL)]);
	} else if (r < 33) {
		size_t pl = strlen(p1);
		memcpy(out, p1, pl);
		out[pl] = '/';
		strcpy(out + pl + 1, pool[rnd(NPOOL)]);
	} else if (r < 38) {
		strcpy(out, dir);
	} else {
		strcpy(out, p1);
	}
	if (g_avoid & AVOID_DOTS) {
		const char *last = strrchr(out, '/');
		last = last ? last + 1 : out;
		if (!*last || !strcmp(last, ".") || !strcmp(last, ".."))
			gen_path(out);
	}
}

static mode_t gen_mode(int isdir)
{
	int r = (int)rnd(100);
	mode_t m;

	if (r < 50)
		return isdir ? 0755 : 0644;
	if (r < 85)
		return (mode_t)rnd(01000);
	if (r < 98)
		m = (mode_t)rnd(010000);
	else
		m = (mode_t)rnd(0200000); /* file-type bits: to be ignored */
	if (g_avoid & AVOID_SXID)
		m &= ~(mode_t)(S_ISUID | S_ISGID);
	return m;
}

/* Kernel-side canonical form of a path, its last component unresolved. */
static void kcanon(const char *path, char *out)
{
	char dir[PBUF], res[PBUF];
	const char *last;
	size_t n = strlen(path), rl, ll;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n >= PBUF / 2) {
		memcpy(out, path, n);
		out[n] = 0;
		return;
	}
	memcpy(dir, path, n);
	dir[n] = 0;
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		last = slash + 1;
	} else {
		last = dir;
	}
	if (!slash || !dir[0] || !realpath(dir, res))
		strcpy(res, slash && dir[0] ? dir : "/");
	rl = strcmp(res, "/") ? strlen(res) : 0;
	ll = strlen(last);
	if (rl + ll + 2 > PBUF)
		rl = 0;
	memmove(out, res, rl);
	out[rl] = '/';
	memmove(out + rl + 1, last, ll + 1);
}

/* True if one path lies inside the other (after resolving parents). */
static int related(const char *a, const char *b)
{
	char ca[PBUF], cb[PBUF];
	size_t la, lb;

	kcanon(a, ca);
	kcanon(b, cb);
	la = strlen(ca);
	lb = strlen(cb);
	if (la == lb)
		return 0;
	if (la > lb)
		return !strncmp(ca, cb, lb) && ca[lb] == '/';
	return !strncmp(ca, cb, la) && cb[la] == '/';
}

static void gen_symlink_target(char *out)
{
	int r = (int)rnd(100);

	if (r < 35) {
		if (chance(60))
			snprintf(out, PBUF, "%s", pool[rnd(NPOOL)]);
		else
			snprintf(out, PBUF, "%s/%s", pool[rnd(NPOOL)],
				 pool[rnd(NPOOL)]);
	} else if (r < 50) {
		snprintf(out, PBUF, "/%s/%s", pool[rnd(NPOOL)],
			 pool[rnd(NPOOL)]);
	} else if (r < 60) {
		snprintf(out, PBUF, "../%s", pool[rnd(NPOOL)]);
	} else if (r < 65) {
		strcpy(out, chance(50) ? "." : "..");
	} else if (r < 85) {
		gen_path(out);
		if (!out[0] || strlen(out) >= 4096)
			strcpy(out, pool[rnd(NPOOL)]);
		while ((g_avoid & AVOID_SLASH) && strlen(out) > 1 &&
		       out[strlen(out) - 1] == '/')
			out[strlen(out) - 1] = 0;
	} else if (r < 87) {
		out[0] = 0; /* ENOENT */
	} else if (r < 89 && (g_avoid & AVOID_LONGLINK)) {
		strcpy(out, pool[rnd(NPOOL)]);
	} else if (r < 89) {
		/* 4095 bytes: the longest target Linux accepts */
		size_t i = 0;
		while (i < 4094) {
			out[i++] = '.';
			out[i++] = '/';
		}
		out[i++] = 'a';
		out[i] = 0;
	} else if (r < 90) {
		memset(out, 'x', 4096); /* 4096 bytes: ENAMETOOLONG */
		out[4096] = 0;
	} else {
		/* up to ~300 bytes of pool components (O_CREAT through a
		 * dangling symlink creates its target: names stay pooled) */
		size_t len = 1 + rnd(g_avoid & AVOID_LONGLINK ? 30 : 300),
		       n = 0;
		while (n < len) {
			n += (size_t)sprintf(out + n, "%s%s", n ? "/" : "",
					     pool[rnd(NPOOL)]);
		}
	}
}

/* ------------------------------------------------------------------ */
/* sizes and offsets                                                    */

static off_t gen_off(off_t size)
{
	int r = (int)rnd(100);

	if (r < 35)
		return size ? (off_t)rnd((uint64_t)size) : 0;
	if (r < 55)
		return size;
	if (r < 75)
		return (off_t)rnd((uint64_t)size + 65536);
	if (r < 83)
		return (off_t)rnd(MAXFILE / 2);
	if (r < 95) {
		/* near a 4 KiB or 2 MiB boundary */
		off_t unit = chance(70) ? 4096 : (2 << 20);
		off_t k = (off_t)rnd(
			(uint64_t)(size + 2 * unit) / (uint64_t)unit + 1);
		off_t o = k * unit + (off_t)rnd(7) - 3;
		return o < 0 ? 0 : o;
	}
	return (off_t)rnd(MAXFILE > MAXIO ? MAXFILE - MAXIO : MAXFILE);
}

static size_t gen_len(void)
{
	int r = (int)rnd(1000);

	if (r < 20)
		return g_avoid & AVOID_ZEROLEN ? 1 : 0;
	if (r < 650)
		return 1 + rnd(4096);
	if (r < 930)
		return 1 + rnd(65536);
	if (r < 985)
		return 1 + rnd(262144);
	return 1 + rnd(MAXIO);
}

/* Keep off+len inside MAXFILE; small and in-place in shrink mode. */
static void clamp_io(off_t *off, size_t *len, off_t size)
{
	if (g_shrink) {
		if (*len > 4096)
			*len = 4096;
		if (*off > size)
			*off = size ? (off_t)rnd((uint64_t)size) : 0;
	}
	if ((off_t)*len > MAXFILE)
		*len = (size_t)MAXFILE;
	if (*off + (off_t)*len > MAXFILE)
		*off = (off_t)rnd((uint64_t)(MAXFILE - (off_t)*len + 1));
}

/* ------------------------------------------------------------------ */
/* handles                                                              */

struct handle {
	int used;
	int isdir; /* a directory opened O_RDONLY */
	struct udax_file *u;
	int k;
	int flags;
	ino_t kino; /* the kernel file's inode (to find its mappings) */
	char path[PBUF];
};
static struct handle H[NHANDLES];

/* direct-access mappings (see "direct-access mappings" below) */
#define NMAPS 4
#define PG 4096
#define MAXMAPLEN (4 << 20) /* longest mapping */
#define MAXMAPPG (MAXMAPLEN / PG)

struct mapping {
	int used;
	unsigned char *k, *u;
	size_t len;  /* as passed to mmap */
	size_t rlen; /* rounded up to pages: what may be touched */
	off_t off;
	int prot, priv, sync;
	int kfd; /* dup of the kernel handle's descriptor */
	ino_t kino;
	int hslot;			 /* the handle it was made from */
	unsigned char cow[MAXMAPPG / 8]; /* private: pages stored into */
	char path[200];
};
static struct mapping M[NMAPS];
/* long-term pins (udax only), each on a page range of a mapping; a
 * layout break that reaches one recalls it, and the recall unpins */
#define NPINS 4
static struct pinslot {
	struct udax_pin *pin; /* NULL: free */
	int map;	      /* the mapping slot it was made in */
} P[NPINS];
static int g_ksock[2] = {-1, -1}, g_usock[2] = {-1, -1};   /* sendfile */
static int g_krsock[2] = {-1, -1}, g_ursock[2] = {-1, -1}; /* recvfile */
static int g_scratch = -1;	 /* memfd: other end of kernel accesses */
static unsigned char *kmb, *umb; /* what loads from the mappings read */
static const unsigned char zeros[PG];
/* what the mapping operations did, printed at the end */
static struct {
	uint64_t maps, mapfail, unmaps, stores, loads, pages, sigbus, sigsegv,
		kaccess, daccess, msyncs, fixups;
	uint64_t pins, pinbad, recalls, unpins, sends, sent, recvs, recvd;
	uint64_t clones, clone_err, dedupe_same, dedupe_diff, dedupe_err;
} MS;

static struct handle *pick_handle(int *slot)
{
	int idx[NHANDLES], n = 0;

	for (int i = 0; i < NHANDLES; i++)
		if (H[i].used)
			idx[n++] = i;
	if (!n)
		return NULL;
	*slot = idx[rnd((uint64_t)n)];
	return &H[*slot];
}

static off_t ksize(struct handle *h)
{
	struct stat st;

	if (fstat(h->k, &st) != 0)
		die("fstat of a kernel handle: %s", strerror(errno));
	return st.st_size;
}

static off_t kpos(struct handle *h)
{
	return lseek(h->k, 0, SEEK_CUR);
}

static int make_iov(struct iovec *iov, unsigned char *buf, size_t len)
{
	int n = 1 + (int)rnd(8);
	size_t pos = 0;

	for (int i = 0; i < n; i++) {
		size_t l = i == n - 1 ? len - pos : rnd(len - pos + 1);
		iov[i].iov_base = buf + pos;
		iov[i].iov_len = l;
		pos += l;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* attribute comparison                                                 */

static void cmp_stat(const char *what, const struct stat *k,
		     const struct stat *u)
{
	if (k->st_mode != u->st_mode)
		fail("%s: st_mode kernel 0%o, udax 0%o", what,
		     (unsigned)k->st_mode, (unsigned)u->st_mode);
	if (k->st_nlink != u->st_nlink)
		fail("%s: st_nlink kernel %lu, udax %lu", what,
		     (unsigned long)k->st_nlink, (unsigned long)u->st_nlink);
	if (k->st_uid != u->st_uid || k->st_gid != u->st_gid)
		fail("%s: owner kernel %u:%u, udax %u:%u", what,
		     (unsigned)k->st_uid, (unsigned)k->st_gid,
		     (unsigned)u->st_uid, (unsigned)u->st_gid);
	if ((S_ISCHR(k->st_mode) || S_ISBLK(k->st_mode)) &&
	    k->st_rdev != u->st_rdev)
		fail("%s: st_rdev kernel %u:%u, udax %u:%u", what,
		     major(k->st_rdev), minor(k->st_rdev), major(u->st_rdev),
		     minor(u->st_rdev));
	/* directory sizes excluded: tmpfs counts 20 bytes per entry */
	if (!S_ISDIR(k->st_mode) && k->st_size != u->st_size)
		fail("%s: st_size kernel %lld, udax %lld", what,
		     (long long)k->st_size, (long long)u->st_size);
}

/* After an operation: (l)stat a path on both sides and compare. */
static void cmp_path(const char *path, int follow)
{
	struct stat ks, us;
	long k = KR(follow ? stat(path, &ks) : lstat(path, &ks));
	long u = follow ? udax_stat(fs, path, &us) : udax_lstat(fs, path, &us);
	char what[300];

	snprintf(what, sizeof what, "afterwards %s(%s)",
		 follow ? "stat" : "lstat", qp(path));
	if (k != u)
		fail("%s: kernel %s, udax %s", what, rs(k), rs(u));
	if (!k)
		cmp_stat(what, &ks, &us);
}

/* ------------------------------------------------------------------ */
/* full comparison state                                                */

struct inopair {
	ino_t k, u;
};
static struct inopair *imap;
static size_t nimap, cimap;

static void imap_check(const char *what, ino_t k, ino_t u)
{
	for (size_t i = 0; i < nimap; i++) {
		if (imap[i].k == k && imap[i].u == u)
			return;
		if (imap[i].k == k)
			fail("%s: is the same kernel inode as an earlier name "
			     "or handle, but udax has inode %lu there and %lu "
			     "here",
			     what, (unsigned long)imap[i].u, (unsigned long)u);
		if (imap[i].u == u)
			fail("%s: udax inode %lu is also an earlier name or "
			     "handle, which the kernel has as a different file",
			     what, (unsigned long)u);
	}
	if (nimap == cimap) {
		cimap = cimap ? cimap * 2 : 256;
		imap = realloc(imap, cimap * sizeof *imap);
		if (!imap)
			die("out of memory");
	}
	imap[nimap].k = k;
	imap[nimap].u = u;
	nimap++;
}

struct devext {
	uint64_t dev, len;
	unsigned long ino;
	int shared;   /* flagged UDAX_EXTENT_SHARED */
	int overlaps; /* another listed range maps some of its blocks */
};
static struct devext *dext;
static size_t ndext, cdext;
static unsigned long *visited;
static size_t nvisited, cvisited;
static int g_no_extents; /* udax_file_extents unsupported */

static int visit(unsigned long ino)
{
	for (size_t i = 0; i < nvisited; i++)
		if (visited[i] == ino)
			return 1;
	if (nvisited == cvisited) {
		cvisited = cvisited ? cvisited * 2 : 256;
		visited = realloc(visited, cvisited * sizeof *visited);
		if (!visited)
			die("out of memory");
	}
	visited[nvisited++] = ino;
	return 0;
}

static void check_zero(const char *what, struct udax_file *uf, off_t from,
		       off_t to, const char *why)
{
	while (from < to) {
		size_t n = (size_t)(to - from) > (size_t)MAXIO ?
				   (size_t)MAXIO :
				   (size_t)(to - from);
		ssize_t r = udax_pread(uf, ubuf, n, from);
		if (r != (ssize_t)n)
			fail("%s: udax_pread(%zu, %lld) for the %s check: %s",
			     what, n, (long long)from, why, rs(r));
		for (size_t i = 0; i < n; i++)
			if (ubuf[i])
				fail("%s: byte %lld is 0x%02x but the extent "
				     "list says %s",
				     what, (long long)from + (long long)i,
				     ubuf[i], why);
		from += (off_t)n;
	}
}

/*
 * udax_file_extents() must list sorted, disjoint extents inside the device;
 * bytes below EOF not covered by any extent, and bytes of unwritten
 * extents, must read as zeros (when the handle can read); each inode's
 * device ranges are collected for the cross-file overlap check.
 */
static void check_extents(const char *what, struct udax_file *uf, off_t size,
			  unsigned long uino, int readable)
{
	static struct udax_extent *ex;
	static size_t cex;
	size_t nex = 0;
	uint64_t pos = 0, end = 1ULL << 40;

	if (g_no_extents)
		return;
	for (;;) {
		if (nex + EXT_BATCH > cex) {
			cex = cex ? cex * 2 : 4 * EXT_BATCH;
			ex = realloc(ex, cex * sizeof *ex);
			if (!ex)
				die("out of memory");
		}
		ssize_t n =
			udax_file_extents(uf, (off_t)pos, (off_t)(end - pos),
					  ex + nex, EXT_BATCH);
		if (n == -ENOSYS || n == -EOPNOTSUPP) {
			fprintf(stderr,
				"difftest: udax_file_extents: %s; "
				"extent checks disabled\n",
				rs(n));
			g_no_extents = 1;
			return;
		}
		if (n < 0 || n > EXT_BATCH)
			fail("%s: udax_file_extents(%llu, ...) returned %s",
			     what, (unsigned long long)pos, rs(n));
		nex += (size_t)n;
		if (n < EXT_BATCH)
			break;
		pos = ex[nex - 1].offset + ex[nex - 1].length;
		if (nex > 100000)
			fail("%s: udax_file_extents lists more than 100000 "
			     "extents",
			     what);
	}
	uint64_t prev_end = 0;
	for (size_t i = 0; i < nex; i++) {
		struct udax_extent *e = &ex[i];
		if (e->length == 0)
			fail("%s: extent %zu has length 0", what, i);
		if (i > 0 && e->offset < prev_end)
			fail("%s: extent %zu [%llu,+%llu) overlaps or precedes "
			     "the previous one ending at %llu",
			     what, i, (unsigned long long)e->offset,
			     (unsigned long long)e->length,
			     (unsigned long long)prev_end);
		if (e->dev_offset + e->length > g_devsize ||
		    e->dev_offset + e->length < e->dev_offset)
			fail("%s: extent %zu device range [%llu,+%llu) is "
			     "outside the %llu-byte device",
			     what, i, (unsigned long long)e->dev_offset,
			     (unsigned long long)e->length,
			     (unsigned long long)g_devsize);
		prev_end = e->offset + e->length;
	}
	if (readable) {
		uint64_t at = 0;
		for (size_t i = 0; i < nex && at < (uint64_t)size; i++) {
			struct udax_extent *e = &ex[i];
			uint64_t s = e->offset, t = e->offset + e->length;
			if (s > (uint64_t)size)
				s = (uint64_t)size;
			if (t > (uint64_t)size)
				t = (uint64_t)size;
			if (s > at)
				check_zero(what, uf, (off_t)at, (off_t)s,
					   "a hole");
			if (e->flags & UDAX_EXTENT_UNWRITTEN)
				check_zero(what, uf, (off_t)s, (off_t)t,
					   "unwritten");
			if (t > at)
				at = t;
		}
		if (at < (uint64_t)size)
			check_zero(what, uf, (off_t)at, size, "a hole");
	}
	if (visit(uino))
		return;
	for (size_t i = 0; i < nex; i++) {
		if (ndext == cdext) {
			cdext = cdext ? cdext * 2 : 1024;
			dext = realloc(dext, cdext * sizeof *dext);
			if (!dext)
				die("out of memory");
		}
		dext[ndext].dev = ex[i].dev_offset;
		dext[ndext].len = ex[i].length;
		dext[ndext].ino = uino;
		dext[ndext].shared = !!(ex[i].flags & UDAX_EXTENT_SHARED);
		dext[ndext].overlaps = 0;
		ndext++;
	}
}

static int dext_cmp(const void *a, const void *b)
{
	const struct devext *x = a, *y = b;
	return x->dev < y->dev ? -1 : x->dev > y->dev;
}

/* No device block is listed twice unless every extent that lists it is
 * flagged SHARED (reflink); and a SHARED extent shares its blocks with
 * another listed one (unless a mapping keeps a file no name or handle
 * reaches, whose extents are not listed). A sweep in device order: each
 * range against the one reaching furthest so far. */
static void check_dev_overlap(void)
{
	size_t far = 0;
	int hidden = 0;

	for (int i = 0; i < NMAPS; i++)
		hidden |= M[i].used;
	qsort(dext, ndext, sizeof *dext, dext_cmp);
	for (size_t i = 1; i < ndext; i++) {
		struct devext *a = &dext[far], *b = &dext[i];
		if (a->dev + a->len > b->dev) {
			if (!a->shared || !b->shared)
				fail("device range [%llu,+%llu) of udax inode "
				     "%lu overlaps [%llu,+%llu) of udax inode "
				     "%lu, and they are not both flagged "
				     "SHARED",
				     (unsigned long long)a->dev,
				     (unsigned long long)a->len, a->ino,
				     (unsigned long long)b->dev,
				     (unsigned long long)b->len, b->ino);
			a->overlaps = b->overlaps = 1;
		}
		if (b->dev + b->len > a->dev + a->len)
			far = i;
	}
	for (size_t i = 0; i < ndext && !hidden; i++)
		if (dext[i].shared && !dext[i].overlaps)
			fail("device range [%llu,+%llu) of udax inode %lu is "
			     "flagged SHARED, but no other extent maps it",
			     (unsigned long long)dext[i].dev,
			     (unsigned long long)dext[i].len, dext[i].ino);
}

/* Compare the whole content of two open files of the given size. */
static void cmp_content(const char *what, int kfd, struct udax_file *uf,
			off_t size)
{
	off_t off = 0;

	for (;;) {
		size_t n = MAXIO;
		ssize_t k = pread(kfd, kbuf, n, off);
		ssize_t u = udax_pread(uf, ubuf, n, off);
		if (k < 0)
			die("%s: kernel pread: %s", what, strerror(errno));
		if (k != u)
			fail("%s: reading %zu bytes at %lld (size %lld): "
			     "kernel "
			     "%s, udax %s",
			     what, n, (long long)off, (long long)size, rs(k),
			     rs(u));
		if (memcmp(kbuf, ubuf, (size_t)k)) {
			size_t i = 0;
			while (kbuf[i] == ubuf[i])
				i++;
			fail("%s: content differs at byte %lld: kernel 0x%02x, "
			     "udax 0x%02x",
			     what, (long long)off + (long long)i, kbuf[i],
			     ubuf[i]);
		}
		if (k == 0)
			break;
		off += k;
	}
	if (off != size)
		fail("%s: read %lld bytes in all, size is %lld", what,
		     (long long)off, (long long)size);
}

static int udent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct udax_dirent *)a)->name,
		      ((const struct udax_dirent *)b)->name);
}

static unsigned char mode_dt(mode_t m)
{
	return S_ISREG(m)  ? DT_REG :
	       S_ISDIR(m)  ? DT_DIR :
	       S_ISLNK(m)  ? DT_LNK :
	       S_ISFIFO(m) ? DT_FIFO :
	       S_ISSOCK(m) ? DT_SOCK :
	       S_ISCHR(m)  ? DT_CHR :
	       S_ISBLK(m)  ? DT_BLK :
			     DT_UNKNOWN;
}

/*
 * udax listing of a directory: "." and ".." must come first; returns the
 * number of other entries (sorted into e), or -errno from udax_dir_open.
 */
static int ulist(const char *path, struct udax_dirent *e, int max,
		 const char *what)
{
	struct udax_dir *d = NULL;
	struct udax_dirent de;
	int r = udax_dir_open(fs, path, &d), n = 0, i = 0;

	if (r < 0)
		return r;
	while ((r = udax_dir_read(d, &de)) == 1) {
		if (i == 0 && strcmp(de.name, "."))
			fail("%s: udax's first entry is %s, not \".\"", what,
			     qp(de.name));
		if (i == 1 && strcmp(de.name, ".."))
			fail("%s: udax's second entry is %s, not \"..\"", what,
			     qp(de.name));
		if (i >= 2) {
			if (!strcmp(de.name, ".") || !strcmp(de.name, ".."))
				fail("%s: udax lists %s again", what,
				     qp(de.name));
			if (n == max)
				fail("%s: udax lists more than %d entries",
				     what, max);
			e[n++] = de;
		}
		i++;
	}
	if (r != 0)
		fail("%s: udax_dir_read returned %s", what, rs(r));
	if (i < 2)
		fail("%s: udax listed %d entries, without \".\" and \"..\"",
		     what, i);
	r = udax_dir_close(&d);
	if (r)
		fail("%s: udax_dir_close returned %s", what, rs(r));
	qsort(e, (size_t)n, sizeof *e, udent_cmp);
	for (int j = 1; j < n; j++)
		if (!strcmp(e[j - 1].name, e[j].name))
			fail("%s: udax lists %s twice", what, qp(e[j].name));
	return n;
}

/* Compare the listings of one directory; returns the entry count. */
static int cmp_listing(const char *path, struct kent *ke,
		       struct udax_dirent *ue, const char *what)
{
	int kn = klist(path, ke, MAXENT);
	int un = ulist(path, ue, MAXENT + 2, what);

	if (kn < 0 || un < 0) {
		if (kn != un)
			fail("%s: opening the directory: kernel %s, udax %s",
			     what, rs(kn), rs(un));
		return kn;
	}
	for (int i = 0; i < kn || i < un; i++) {
		if (i >= kn || i >= un || strcmp(ke[i].name, ue[i].name)) {
			char kl[1024] = "", ul[1024] = "";
			for (int j = 0; j < kn; j++)
				snprintf(kl + strlen(kl),
					 sizeof kl - strlen(kl), " %s",
					 ke[j].name);
			for (int j = 0; j < un; j++)
				snprintf(ul + strlen(ul),
					 sizeof ul - strlen(ul), " %s",
					 ue[j].name);
			fail("%s: names differ: kernel {%s }, udax {%s }", what,
			     kl, ul);
		}
		if (ke[i].type != ue[i].type)
			fail("%s: entry %s has d_type %d in the kernel, %d in "
			     "udax",
			     what, ke[i].name, ke[i].type, ue[i].type);
	}
	return kn;
}

/* ---- extended attributes ---- */

/* The names of a list, sorted, NUL-separated in place: count them. */
static int names_sort(char *list, ssize_t len, char **names, int max)
{
	int n = 0;

	for (ssize_t i = 0; i < len && n < max; i += strlen(list + i) + 1)
		names[n++] = list + i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0;
		     j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	return n;
}

/* Compare every xattr of a name (not following a symlink): the names
 * as sets (the order of a list is the file system's), then each value. */
static void cmp_xattrs(const char *what, const char *path)
{
	static char kl[65536], ul[65536], kv[65536], uv[65536];
	char *kn[64], *un[64];
	long k = KR(llistxattr(path, kl, sizeof kl));
	long u = udax_llistxattr(fs, path, ul, sizeof ul);
	int nk, nu;

	if (k != u)
		fail("%s: llistxattr: kernel %s, udax %s", what, rs(k), rs(u));
	if (k <= 0)
		return;
	nk = names_sort(kl, k, kn, 64);
	nu = names_sort(ul, u, un, 64);
	for (int i = 0; i < nk || i < nu; i++) {
		if (i >= nk || i >= nu || strcmp(kn[i], un[i]))
			fail("%s: xattr names differ: kernel %s, udax %s", what,
			     i < nk ? kn[i] : "(none)",
			     i < nu ? un[i] : "(none)");
		k = KR(lgetxattr(path, kn[i], kv, sizeof kv));
		u = udax_lgetxattr(fs, path, un[i], uv, sizeof uv);
		if (k != u || (k > 0 && memcmp(kv, uv, (size_t)k)))
			fail("%s: xattr %s: kernel %s, udax %s", what, kn[i],
			     rs(k), rs(u));
	}
}

static void tree_cmp(const char *path, int depth)
{
	struct kent ke[MAXENT];
	struct udax_dirent ue[MAXENT + 2];
	char what[PBUF + 64];
	int n;

	if (depth > 64)
		die("directory tree deeper than 64 at %s", path);
	snprintf(what, sizeof what, "directory %s", qp(path));
	if (!depth)
		cmp_xattrs(what, path); /* the root's; the others' below */
	n = cmp_listing(path, ke, ue, what);
	if (n < 0)
		fail("%s: cannot list: %s", what, rs(n));
	for (int i = 0; i < n; i++) {
		char child[PBUF];
		struct stat ks, us;
		long k, u;

		join(child, path, ke[i].name);
		snprintf(what, sizeof what, "%s", qp(child));
		k = KR(lstat(child, &ks));
		u = udax_lstat(fs, child, &us);
		if (k != u)
			fail("%s: lstat: kernel %s, udax %s", what, rs(k),
			     rs(u));
		if (k)
			die("%s: lstat failed: %s", what, rs(k));
		cmp_stat(what, &ks, &us);
		cmp_xattrs(what, child);
		imap_check(what, ks.st_ino, us.st_ino);
		if (ue[i].ino != (uint64_t)us.st_ino)
			fail("%s: udax directory entry says inode %llu, lstat "
			     "says %llu",
			     what, (unsigned long long)ue[i].ino,
			     (unsigned long long)us.st_ino);
		if (ue[i].type != mode_dt(us.st_mode))
			fail("%s: udax d_type %d does not match its st_mode "
			     "0%o",
			     what, ue[i].type, (unsigned)us.st_mode);
		if (S_ISREG(ks.st_mode)) {
			struct udax_file *uf = NULL;
			int kfd =
				open(child, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (kfd < 0)
				die("%s: kernel open: %s", what,
				    strerror(errno));
			u = udax_file_open(fs, child, O_RDONLY | O_NOFOLLOW, 0,
					   &uf);
			if (u)
				fail("%s: udax_file_open(O_RDONLY) of an "
				     "existing file: %s",
				     what, rs(u));
			cmp_content(what, kfd, uf, ks.st_size);
			check_extents(what, uf, ks.st_size,
				      (unsigned long)us.st_ino, 1);
			close(kfd);
			u = udax_file_close(&uf);
			if (u)
				fail("%s: udax_file_close: %s", what, rs(u));
		} else if (S_ISLNK(ks.st_mode)) {
			char kb[PATH_MAX + 1], ub[PATH_MAX + 1];
			k = KR(readlink(child, kb, sizeof kb));
			u = udax_readlink(fs, child, ub, sizeof ub);
			if (k != u || (k > 0 && memcmp(kb, ub, (size_t)k)))
				fail("%s: readlink: kernel %s, udax %s", what,
				     rs(k), rs(u));
		} else if (S_ISDIR(ks.st_mode)) {
			tree_cmp(child, depth + 1);
		}
	}
}

static void handle_cmp(int slot)
{
	struct handle *h = &H[slot];
	struct stat ks, us;
	char what[PBUF + 64];
	long u;
	off_t kp, up;

	snprintf(what, sizeof what, "handle h%d (opened %s, %s)", slot,
		 qp(h->path), flagstr(h->flags));
	if (fstat(h->k, &ks))
		die("%s: kernel fstat: %s", what, strerror(errno));
	u = udax_fstat(h->u, &us);
	if (u)
		fail("%s: udax_fstat: %s", what, rs(u));
	cmp_stat(what, &ks, &us);
	imap_check(what, ks.st_ino, us.st_ino);
	if (h->isdir)
		return;
	kp = kpos(h);
	up = udax_lseek(h->u, 0, SEEK_CUR);
	if (kp != up)
		fail("%s: file position kernel %lld, udax %s", what,
		     (long long)kp, rs(up));
	if ((h->flags & O_ACCMODE) != O_WRONLY)
		cmp_content(what, h->k, h->u, ks.st_size);
	check_extents(what, h->u, ks.st_size, (unsigned long)us.st_ino,
		      (h->flags & O_ACCMODE) != O_WRONLY);
}

static void statfs_sanity(const char *what)
{
	struct statvfs sv;
	long u = udax_statfs(fs, &sv);

	if (u)
		fail("%s: udax_statfs: %s", what, rs(u));
	if (sv.f_bsize == 0 || sv.f_bfree > sv.f_blocks ||
	    sv.f_bavail > sv.f_bfree || sv.f_ffree > sv.f_files ||
	    sv.f_favail > sv.f_files)
		fail("%s: udax_statfs inconsistent: bsize %lu blocks %llu "
		     "bfree %llu bavail %llu files %llu ffree %llu favail %llu",
		     what, sv.f_bsize, (unsigned long long)sv.f_blocks,
		     (unsigned long long)sv.f_bfree,
		     (unsigned long long)sv.f_bavail,
		     (unsigned long long)sv.f_files,
		     (unsigned long long)sv.f_ffree,
		     (unsigned long long)sv.f_favail);
	if ((unsigned long long)sv.f_blocks * sv.f_frsize > g_devsize)
		fail("%s: udax_statfs says %llu blocks of %lu bytes on a "
		     "%llu-byte device",
		     what, (unsigned long long)sv.f_blocks, sv.f_frsize,
		     (unsigned long long)g_devsize);
	if (sv.f_namemax < 255)
		fail("%s: udax_statfs f_namemax %lu < 255", what, sv.f_namemax);
}

static void maps_check(void);

static void full_check(const char *when)
{
	char save[sizeof g_op];

	memcpy(save, g_op, sizeof save);
	setop("full comparison %s step %" PRIu64 " (last op: %.1000s)", when,
	      g_step, save);
	nimap = ndext = nvisited = 0;
	{
		struct stat ks, us;
		long k = KR(lstat("/", &ks)), u = udax_lstat(fs, "/", &us);
		if (k || u)
			fail("lstat(\"/\"): kernel %s, udax %s", rs(k), rs(u));
		cmp_stat("the root directory", &ks, &us);
		imap_check("the root directory", ks.st_ino, us.st_ino);
	}
	tree_cmp("/", 0);
	for (int i = 0; i < NHANDLES; i++)
		if (H[i].used)
			handle_cmp(i);
	maps_check();
	check_dev_overlap();
	statfs_sanity("full comparison");
	memcpy(g_op, save, sizeof save);
}

/* ------------------------------------------------------------------ */
/* data budget                                                          */

static uint64_t kusage_tree(const char *path, int depth)
{
	struct kent e[MAXENT];
	int n = klist(path, e, MAXENT);
	uint64_t sum = 0;

	for (int i = 0; i < n && depth < 64; i++) {
		char child[PBUF];
		struct stat st;
		join(child, path, e[i].name);
		if (lstat(child, &st))
			continue;
		if (S_ISDIR(st.st_mode))
			sum += kusage_tree(child, depth + 1);
		else if (S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512 / st.st_nlink;
	}
	return sum;
}

static void dscan_update(void);

static void remove_tree(const char *path, int depth)
{
	struct kent e[MAXENT];
	int n = klist(path, e, MAXENT);
	long k, u;

	for (int i = 0; i < n && depth < 64; i++) {
		char child[PBUF];
		join(child, path, e[i].name);
		if (e[i].type == DT_DIR) {
			remove_tree(child, depth + 1);
			setop("cleanup: rmdir(%s)", qp(child));
			k = KR(rmdir(child));
			u = udax_rmdir(fs, child);
		} else {
			setop("cleanup: unlink(%s)", qp(child));
			k = KR(unlink(child));
			u = udax_unlink(fs, child);
		}
		cmp_ret(k, u);
	}
}

/*
 * Renames can nest directories ever deeper, out of reach of the path
 * generator: periodically, whatever lies deeper than PRUNE_DEPTH is
 * removed on both sides (each removal compared like any operation).
 */
#define PRUNE_DEPTH 5
static void prune(const char *path, int depth)
{
	struct kent e[MAXENT];
	int n = klist(path, e, MAXENT);

	for (int i = 0; i < n; i++) {
		char child[PBUF];
		if (e[i].type != DT_DIR)
			continue;
		join(child, path, e[i].name);
		if (depth + 1 >= PRUNE_DEPTH)
			remove_tree(child, depth + 1);
		else
			prune(child, depth + 1);
	}
}

/*
 * Keep the data well under the udax device size (ENOSPC is never a
 * legitimate difference here): over a fifth of the device, or under a
 * quarter free in udax, switch to shrink mode until back under an eighth.
 */
static void budget_update(void)
{
	uint64_t used;
	struct statvfs sv;

	prune("/", 0);
	dscan_update();
	used = kusage_tree("/", 0);

	for (int i = 0; i < NHANDLES; i++) {
		struct stat st;
		if (H[i].used && fstat(H[i].k, &st) == 0 && st.st_nlink == 0)
			used += (uint64_t)st.st_blocks * 512;
	}
	for (int i = 0; i < NMAPS; i++) {
		struct stat st;
		if (M[i].used && fstat(M[i].kfd, &st) == 0 && st.st_nlink == 0)
			used += (uint64_t)st.st_blocks * 512;
	}
	uint64_t ufree = g_devsize;
	if (udax_statfs(fs, &sv) == 0)
		ufree = (uint64_t)sv.f_bfree * sv.f_frsize;
	if (g_verbose)
		printf("[%" PRIu64
		       "] data budget: %llu bytes used on the kernel "
		       "side, %llu free in udax%s\n",
		       g_step, (unsigned long long)used,
		       (unsigned long long)ufree,
		       g_shrink ? " (shrinking)" : "");
	if (used > g_devsize / 5 || ufree < g_devsize / 4)
		g_shrink = 1;
	else if (used < g_devsize / 8 && ufree > g_devsize / 3)
		g_shrink = 0;
}

/* ------------------------------------------------------------------ */
/* operations on handles                                                */

static void maps_changed(int kfd, int how, off_t off, off_t len);
#define CHG_WRITE 0   /* data written or space allocated */
#define CHG_TRUNC 1   /* off: the new size, len: the old one */
#define CHG_PUNCH 2   /* punch hole or zero range */
#define CHG_REPLACE 3 /* written into new blocks (udax_recvfile) */

/*
 * The change a write of [off, off+len) through udax handle u makes to
 * the mappings: a write over shared blocks (reflink) is a copy-on-write,
 * whose layout break drops udax's private copies of the pages it covers,
 * as a punch does (documented, docs/DESIGN.md "Not yet"); asked before
 * the write, which unshares the blocks.
 */
static int write_change(struct udax_file *u, off_t off, size_t len)
{
	struct udax_extent e[16];
	ssize_t n;

	if (off < 0 || !len)
		return CHG_WRITE;
	n = udax_file_extents(u, off & ~(off_t)4095,
			      (off_t)((off_t)len + (off & 4095)), e, 16);
	for (ssize_t i = 0; i < n; i++)
		if (e[i].flags & UDAX_EXTENT_SHARED)
			return CHG_PUNCH;
	/* more extents than asked for: assume some may be shared */
	return n == 16 ? CHG_PUNCH : CHG_WRITE;
}

/*
 * After a successful data operation on a handle: size and position must
 * agree at once (the full comparison would find it later, this names the
 * operation that went wrong).
 */
static void cmp_handle_now(struct handle *h)
{
	struct stat ks, us;
	long u = udax_fstat(h->u, &us);
	off_t kp = kpos(h), up = udax_lseek(h->u, 0, SEEK_CUR);

	if (fstat(h->k, &ks))
		die("fstat: %s", strerror(errno));
	if (u)
		fail("afterwards udax_fstat: %s", rs(u));
	if (h->isdir)
		return;
	if (ks.st_size != us.st_size)
		fail("afterwards the size is %lld in the kernel, %lld in udax",
		     (long long)ks.st_size, (long long)us.st_size);
	if (kp != up)
		fail("afterwards the file position is %lld in the kernel, %s "
		     "in "
		     "udax",
		     (long long)kp, rs(up));
}

/* After a successful write: read the range back through udax. */
static void readback(struct handle *h, off_t off, size_t len)
{
	ssize_t r;

	if ((h->flags & O_ACCMODE) == O_WRONLY || !len)
		return;
	r = udax_pread(h->u, ubuf, len, off);
	if (r != (ssize_t)len)
		fail("reading back the %zu bytes written at %lld: udax %s", len,
		     (long long)off, rs(r));
	if (memcmp(ubuf, wbuf, len)) {
		size_t i = 0;
		while (ubuf[i] == wbuf[i])
			i++;
		fail("reading back what was written: byte %lld is 0x%02x, "
		     "0x%02x was written",
		     (long long)off + (long long)i, ubuf[i], wbuf[i]);
	}
}

static void close_handle(int slot)
{
	struct handle *h = &H[slot];
	long k, u;

	setop("close(h%d %s)", slot, qp(h->path));
	k = KR(close(h->k));
	u = udax_file_close(&h->u);
	h->used = 0;
	cmp_ret(k, u);
	if (h->u)
		fail("udax_file_close did not clear the handle pointer");
}

static void op_open(void)
{
	int slot = (int)rnd(NHANDLES);
	struct handle *h = &H[slot];
	static const int accs[] = {O_RDONLY, O_WRONLY, O_RDWR, O_RDWR};
	char path[PBUF];
	int fl, kfd;
	mode_t mode;
	long k, u;
	struct udax_file *uf = NULL;

	if (h->used)
		close_handle(slot);
	fl = accs[rnd(4)];
	if (chance(60)) {
		fl |= O_CREAT;
		if (chance(30))
			fl |= O_EXCL;
	}
	if ((fl & O_ACCMODE) != O_RDONLY && chance(25))
		fl |= O_TRUNC;
	if (chance(15))
		fl |= O_APPEND;
	if (chance(4))
		fl |= O_NOFOLLOW;
	if (!(fl & O_CREAT) && chance(4))
		fl |= O_DIRECTORY;
	if ((g_avoid & AVOID_NOFOLLOWDIR) && (fl & O_DIRECTORY))
		fl &= ~O_NOFOLLOW;
	mode = gen_mode(0);
	gen_path_w(path, (fl & O_CREAT) && chance(50) ? W_NEW : W_NODIR);
	setop("open(%s, %s, 0%o) -> h%d", qp(path), flagstr(fl), (unsigned)mode,
	      slot);
	if ((g_avoid & AVOID_CREATLINK) && (fl & O_CREAT) && !(fl & O_EXCL)) {
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
		    stat(path, &st) != 0)
			fl &= ~O_CREAT; /* a dangling symlink */
	}
	setop("open(%s, %s, 0%o) -> h%d", qp(path), flagstr(fl), (unsigned)mode,
	      slot);
	/* O_NONBLOCK: a FIFO must not wait for a writer (no effect on
	 * other files); what opens (a FIFO) is what udax refuses with ENXIO
	 * (udax.h), as the kernel does the tester's devices (majors with no
	 * driver) and sockets */
	kfd = open(path, fl | O_CLOEXEC | O_NONBLOCK, mode);
	k = kfd < 0 ? -errno : 0;
	if (kfd >= 0) {
		struct stat ks;
		if (fstat(kfd, &ks))
			die("fstat: %s", strerror(errno));
		if (!S_ISREG(ks.st_mode) && !S_ISDIR(ks.st_mode)) {
			close(kfd);
			kfd = -1;
			k = -ENXIO;
		} else if (fcntl(kfd, F_SETFL, fl & O_APPEND)) {
			die("fcntl: %s", strerror(errno));
		}
	}
	u = udax_file_open(fs, path, fl, mode, &uf);
	cmp_ret(k, u);
	if (k == 0) {
		struct stat ks, us;
		h->used = 1;
		h->k = kfd;
		h->u = uf;
		h->flags = fl;
		snprintf(h->path, sizeof h->path, "%s", path);
		if (fstat(kfd, &ks))
			die("fstat: %s", strerror(errno));
		h->isdir = S_ISDIR(ks.st_mode);
		h->kino = ks.st_ino;
		u = udax_fstat(uf, &us);
		if (u)
			fail("udax_fstat of the new handle: %s", rs(u));
		cmp_stat("afterwards fstat", &ks, &us);
		if ((fl & O_TRUNC) && !h->isdir)
			maps_changed(kfd, CHG_TRUNC, 0, 0);
	}
}

static void op_close(void)
{
	int slot;

	if (!pick_handle(&slot)) {
		op_open();
		return;
	}
	close_handle(slot);
}

static void op_pwrite(void)
{
	int slot, app, vec, kind;
	struct handle *h = pick_handle(&slot);
	off_t size, off;
	size_t len;
	uint64_t ds;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	size = ksize(h);
	len = gen_len();
	off = gen_off(size);
	clamp_io(&off, &len, size);
	app = h->flags & O_APPEND;
	if (app && size + (off_t)len > MAXFILE)
		len = size >= MAXFILE ? 0 : (size_t)(MAXFILE - size);
	if (chance(2) && !(g_avoid & AVOID_NEGOFF))
		off = -(off_t)rnd(10000) - 1;
	ds = rnd64();
	kind = fill(wbuf, len, ds);
	vec = chance(25);
	/* pwrite on O_APPEND appends on Linux (pwrite(2) BUGS): use write */
	setop("%s(h%d %s %s, len=%zu, off=%lld, data=%d/%016" PRIx64 ")",
	      app ? "write[O_APPEND]" :
	      vec ? "pwritev" :
		    "pwrite",
	      slot, qp(h->path), flagstr(h->flags), len, (long long)off, kind,
	      ds);
	int chg = write_change(h->u, app ? size : off, len);
	if (app) {
		k = KR(write(h->k, wbuf, len));
		u = udax_write(h->u, wbuf, len);
	} else if (vec) {
		/* the same split on both sides (preadv/pwritev and
		 * pread/pwrite differ, e.g. for 0 bytes on a directory) */
		struct iovec iov[8];
		int n = make_iov(iov, wbuf, len);
		k = KR(pwritev(h->k, iov, n, off));
		u = udax_pwritev(h->u, iov, n, off);
	} else {
		k = KR(pwrite(h->k, wbuf, len, off));
		u = udax_pwrite(h->u, wbuf, len, off);
	}
	cmp_ret(k, u);
	if (k > 0) {
		cmp_handle_now(h);
		readback(h, app ? kpos(h) - k : off, (size_t)k);
		maps_changed(h->k, chg, app ? kpos(h) - k : off, k);
	}
}

static void op_write(void)
{
	int slot, kind;
	struct handle *h = pick_handle(&slot);
	off_t size, pos;
	size_t len;
	uint64_t ds;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	size = ksize(h);
	pos = (h->flags & O_APPEND) ? size : kpos(h);
	len = gen_len();
	if (g_shrink && len > 4096)
		len = 4096;
	if (pos + (off_t)len > MAXFILE)
		len = pos >= MAXFILE ? 0 : (size_t)(MAXFILE - pos);
	ds = rnd64();
	kind = fill(wbuf, len, ds);
	setop("write(h%d %s %s, len=%zu, [pos %lld], data=%d/%016" PRIx64 ")",
	      slot, qp(h->path), flagstr(h->flags), len, (long long)pos, kind,
	      ds);
	int chg = write_change(h->u, pos, len);
	k = KR(write(h->k, wbuf, len));
	u = udax_write(h->u, wbuf, len);
	cmp_ret(k, u);
	if (k > 0) {
		cmp_handle_now(h);
		readback(h, kpos(h) - k, (size_t)k);
		maps_changed(h->k, chg, kpos(h) - k, k);
	}
}

static void cmp_read_data(long k, long u)
{
	cmp_ret(k, u);
	if (k > 0 && memcmp(kbuf, ubuf, (size_t)k)) {
		size_t i = 0;
		while (kbuf[i] == ubuf[i])
			i++;
		fail("data differs at byte %zu of the read: kernel 0x%02x, "
		     "udax 0x%02x",
		     i, kbuf[i], ubuf[i]);
	}
}

static void op_pread(void)
{
	int slot, vec;
	struct handle *h = pick_handle(&slot);
	off_t size, off;
	size_t len;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	size = ksize(h);
	len = gen_len();
	off = chance(10) ? size + (off_t)rnd(10000) : gen_off(size);
	if (chance(2) && !(g_avoid & AVOID_NEGOFF))
		off = -(off_t)rnd(10000) - 1;
	vec = chance(25);
	setop("%s(h%d %s %s, len=%zu, off=%lld) [size %lld]",
	      vec ? "preadv" : "pread", slot, qp(h->path), flagstr(h->flags),
	      len, (long long)off, (long long)size);
	memset(kbuf, 0xa5, len);
	memset(ubuf, 0x5a, len);
	if (vec) {
		struct iovec kiov[8], uiov[8];
		int n = make_iov(uiov, ubuf, len);
		for (int i = 0; i < n; i++) {
			kiov[i].iov_base =
				kbuf +
				((unsigned char *)uiov[i].iov_base - ubuf);
			kiov[i].iov_len = uiov[i].iov_len;
		}
		k = KR(preadv(h->k, kiov, n, off));
		u = udax_preadv(h->u, uiov, n, off);
	} else {
		k = KR(pread(h->k, kbuf, len, off));
		u = udax_pread(h->u, ubuf, len, off);
	}
	cmp_read_data(k, u);
}

static void op_read(void)
{
	int slot;
	struct handle *h = pick_handle(&slot);
	size_t len;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	len = gen_len();
	setop("read(h%d %s %s, len=%zu) [pos %lld, size %lld]", slot,
	      qp(h->path), flagstr(h->flags), len, (long long)kpos(h),
	      (long long)ksize(h));
	memset(kbuf, 0xa5, len);
	memset(ubuf, 0x5a, len);
	k = KR(read(h->k, kbuf, len));
	u = udax_read(h->u, ubuf, len);
	cmp_read_data(k, u);
	cmp_handle_now(h);
}

static void op_fstat_h(int slot);

static void op_lseek(void)
{
	static const char *const wn[] = {"SEEK_SET", "SEEK_CUR", "SEEK_END"};
	int slot, wh;
	struct handle *h = pick_handle(&slot);
	off_t off, size;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	if (h->isdir) {
		op_fstat_h(slot);
		return;
	}
	size = ksize(h);
	wh = (int)rnd(3);
	if (wh == SEEK_SET)
		off = chance(5) ? -(off_t)rnd(1000) - 1 : gen_off(size);
	else
		off = (off_t)rnd(200000) - 100000;
	setop("lseek(h%d %s, %lld, %s) [pos %lld, size %lld]", slot,
	      qp(h->path), (long long)off, wn[wh], (long long)kpos(h),
	      (long long)size);
	k = KR(lseek(h->k, off, wh));
	u = udax_lseek(h->u, off, wh);
	cmp_ret(k, u);
	cmp_handle_now(h);
}

/* True if the kernel file holds only zeros in [from, to). */
static int kzero(int kfd, off_t from, off_t to, off_t *nonzero)
{
	while (from < to) {
		size_t n = (size_t)(to - from) > (size_t)MAXIO ?
				   (size_t)MAXIO :
				   (size_t)(to - from);
		ssize_t r = pread(kfd, kbuf, n, from);
		if (r <= 0)
			die("kernel pread for SEEK_DATA check: %s",
			    r < 0 ? strerror(errno) : "short");
		for (ssize_t i = 0; i < r; i++)
			if (kbuf[i]) {
				*nonzero = from + i;
				return 0;
			}
		from += r;
	}
	return 1;
}

/*
 * SEEK_DATA / SEEK_HOLE: only the invariants (see the top of the file).
 * A write-only kernel handle is reopened for reading through /proc/self/fd
 * (opened before the chroot) to check the skipped bytes.
 */
static void op_seek_dh(void)
{
	int slot, data;
	struct handle *h = pick_handle(&slot);
	off_t size, off, kbefore;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	if (h->isdir) {
		op_fstat_h(slot);
		return;
	}
	size = ksize(h);
	data = chance(50);
	off = chance(15) ? size + (off_t)rnd(3) * (off_t)rnd(5000) :
			   gen_off(size);
	if (chance(3))
		off = -(off_t)rnd(1000) - 1;
	kbefore = kpos(h);
	setop("lseek(h%d %s, %lld, %s) [size %lld]", slot, qp(h->path),
	      (long long)off, data ? "SEEK_DATA" : "SEEK_HOLE",
	      (long long)size);
	k = KR(lseek(h->k, off, data ? SEEK_DATA : SEEK_HOLE));
	u = udax_lseek(h->u, off, data ? SEEK_DATA : SEEK_HOLE);
	if (g_verbose)
		printf("[%" PRIu64 "] %s = kernel %s, udax %s\n", g_step, g_op,
		       rs(k), rs(u));
	if (off < 0 || off >= size) {
		cmp_ret(k, u); /* both ENXIO */
	} else if (u < 0 && !(data && u == -ENXIO)) {
		fail("SEEK_%s inside the file: udax %s (kernel %s)",
		     data ? "DATA" : "HOLE", rs(u), rs(k));
	} else if (u >= 0 && (u < off || u > size || (data && u == size))) {
		fail("SEEK_%s result %ld outside [%lld, %lld%s (kernel %s)",
		     data ? "DATA" : "HOLE", u, (long long)off, (long long)size,
		     data ? ")" : "]", rs(k));
	} else if (data) {
		/* what SEEK_DATA skipped (to u, or to EOF for ENXIO) must be
		 * zeros; read it through a readable kernel descriptor */
		off_t to = u < 0 ? size : u, nz = 0;
		int fd = h->k;
		if ((h->flags & O_ACCMODE) == O_WRONLY) {
			char num[16];
			snprintf(num, sizeof num, "%d", h->k);
			fd = g_procfd < 0 ? -1 :
					    openat(g_procfd, num,
						   O_RDONLY | O_CLOEXEC);
		}
		if (fd >= 0 && !kzero(fd, off, to, &nz))
			fail("SEEK_DATA from %lld gave %s, but byte %lld is "
			     "not zero (kernel %s)",
			     (long long)off, rs(u), (long long)nz, rs(k));
		if (fd >= 0 && fd != h->k)
			close(fd);
	}
	/* resynchronise the positions (the results may legitimately
	 * differ): both go where udax went */
	if (lseek(h->k, u >= 0 ? u : kbefore, SEEK_SET) < 0)
		die("lseek: %s", strerror(errno));
	if (u < 0 && kbefore != udax_lseek(h->u, 0, SEEK_CUR))
		fail("failed SEEK_%s moved the udax position",
		     data ? "DATA" : "HOLE");
}

static void op_ftruncate(void)
{
	int slot;
	struct handle *h = pick_handle(&slot);
	off_t size, len;
	int r;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	size = ksize(h);
	r = (int)rnd(100);
	if (r < 25 || g_shrink)
		len = (off_t)rnd((uint64_t)size + 1);
	else if (r < 45)
		len = size + (off_t)rnd(262144);
	else if (r < 53)
		len = 0;
	else if (r < 60)
		len = size;
	else if (r < 63)
		len = -(off_t)rnd(1000) - 1;
	else if (r < 75) {
		off_t unit = chance(70) ? 4096 : (2 << 20);
		len = ((off_t)rnd((uint64_t)size / (uint64_t)unit + 2)) * unit +
		      (off_t)rnd(7) - 3;
		if (len < 0)
			len = 0;
	} else if (r < 85)
		len = (off_t)rnd(MAXFILE);
	else
		len = size + 1 + (off_t)rnd(4096);
	if (len > MAXFILE)
		len = MAXFILE;
	setop("ftruncate(h%d %s %s, %lld) [size %lld]", slot, qp(h->path),
	      flagstr(h->flags), (long long)len, (long long)size);
	k = KR(ftruncate(h->k, len));
	u = udax_ftruncate(h->u, len);
	cmp_ret(k, u);
	if (!k) {
		cmp_handle_now(h);
		maps_changed(h->k, CHG_TRUNC, len, size);
	}
}

static void op_fallocate(void)
{
	static const int modes[] = {
		0,
		FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	};
	static const int bad[] = {
		FALLOC_FL_PUNCH_HOLE,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE |
			FALLOC_FL_KEEP_SIZE,
		0x100,
	};
	int slot, mode, r, emulated = 0;
	struct handle *h = pick_handle(&slot);
	off_t size, off, len;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	size = ksize(h);
	mode = g_shrink ? modes[2] : modes[rnd(5)];
	off = gen_off(size);
	r = (int)rnd(1000);
	if (r < 600)
		len = 1 + (off_t)rnd(65536);
	else if (r < 900)
		len = 1 + (off_t)rnd(size + 1);
	else
		len = 1 + (off_t)rnd(MAXIO);
	if (len > MAXFILE)
		len = MAXFILE;
	if (off + len > MAXFILE)
		off = (off_t)rnd((uint64_t)(MAXFILE - len + 1));
	r = (int)rnd(100);
	if (r < 3)
		len = 0;
	else if (r < 5 && !(g_avoid & AVOID_NEGOFF))
		off = -(off_t)rnd(1000) - 1;
	else if (r < 7 && !(g_avoid & AVOID_NEGOFF))
		len = -(off_t)rnd(1000) - 1;
	else if (r < 9 && (h->flags & O_ACCMODE) != O_RDONLY)
		/* invalid mode: only with otherwise valid arguments, so the
		 * order of the checks cannot matter */
		mode = bad[rnd(3)];
	setop("fallocate(h%d %s %s, %s, off=%lld, len=%lld) [size %lld]", slot,
	      qp(h->path), flagstr(h->flags), fmodestr(mode), (long long)off,
	      (long long)len, (long long)size);
	k = KR(fallocate(h->k, mode, off, len));
	if (k == -EOPNOTSUPP && (mode & FALLOC_FL_ZERO_RANGE) &&
	    !(mode & FALLOC_FL_PUNCH_HOLE) &&
	    !(mode & ~(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))) {
		/* tmpfs has no ZERO_RANGE: the VFS checks passed, so emulate
		 * the result (zeros in the range, size extended unless
		 * KEEP_SIZE) */
		emulated = 1;
		k = KR(fallocate(h->k,
				 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 off, len));
		if (k == 0 && !(mode & FALLOC_FL_KEEP_SIZE))
			k = KR(fallocate(h->k, 0, off, len));
	}
	u = udax_fallocate(h->u, mode, off, len);
	if (emulated && g_verbose)
		printf("[%" PRIu64
		       "] (ZERO_RANGE emulated on the kernel side)\n",
		       g_step);
	cmp_ret(k, u);
	if (!k) {
		cmp_handle_now(h);
		maps_changed(
			h->k,
			mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE) ?
				CHG_PUNCH :
				CHG_WRITE,
			off, len);
	}
}

/* ---- reflink (issue 15): tmpfs has none, so the kernel side is a
 * model: the errors udax documents, in its order, and a copy of the
 * bytes where a clone succeeds (a dedupe never changes a byte) ---- */

/* Has the file of kernel inode kino a shared writable mapping? */
static int kino_mapped_writable(ino_t kino)
{
	for (int i = 0; i < NMAPS; i++)
		if (M[i].used && M[i].kino == kino && !M[i].priv &&
		    (M[i].prot & PROT_WRITE))
			return 1;
	return 0;
}

/* The argument checks made before the files are locked (clone_args). */
static long remap_args(struct handle *d, off_t doff, struct handle *s,
		       off_t soff, off_t len)
{
	if (d->isdir || s->isdir)
		return -EISDIR;
	if ((s->flags & O_ACCMODE) == O_WRONLY ||
	    (d->flags & O_ACCMODE) == O_RDONLY || (d->flags & O_APPEND))
		return -EBADF;
	if (doff < 0 || soff < 0 || len < 0)
		return -EINVAL;
	return 0;
}

/* The checks under the locks (clone_check): 0 with *len the bytes to
 * share (0: nothing to do), or -errno. */
static long remap_check(struct handle *d, off_t doff, struct handle *s,
			off_t soff, off_t *len, int dedupe)
{
	const off_t bs = 4096;
	off_t ss = ksize(s), ds = ksize(d), bcount;

	if (*len == 0) {
		if (dedupe || soff == ss)
			return 0;
		if (soff > ss)
			return -EINVAL;
		*len = ss - soff;
	}
	if ((soff | doff) & (bs - 1))
		return -EINVAL;
	if (dedupe &&
	    (soff >= ss || soff + *len > ss || doff >= ds || doff + *len > ds))
		return -EINVAL;
	if (soff >= ss)
		return -EINVAL;
	if (*len > ss - soff)
		*len = ss - soff;
	if (soff + *len == ss && (*len & (bs - 1)) &&
	    (dedupe ? doff + *len == ds : doff + *len >= ds)) {
		bcount = ((ss + bs - 1) & ~(bs - 1)) - soff;
	} else {
		if ((*len & (bs - 1)) && !dedupe)
			return -EINVAL;
		*len &= ~(bs - 1);
		bcount = *len;
	}
	if (d->kino == s->kino && doff + bcount > soff && doff < soff + bcount)
		return -EINVAL;
	if (*len &&
	    (kino_mapped_writable(d->kino) || kino_mapped_writable(s->kino)))
		return -ETXTBSY;
	return 0;
}

/* A clone or dedupe offset: mostly block-aligned inside the file,
 * sometimes anywhere (gen_off), sometimes not aligned. */
static off_t gen_remap_off(off_t size)
{
	off_t o = chance(70) ? (off_t)rnd((uint64_t)size + 1) : gen_off(size);
	return chance(90) ? o & ~(off_t)4095 : o;
}

static off_t gen_remap_len(off_t size)
{
	int r = (int)rnd(100);

	if (r < 4 && !(g_avoid & AVOID_NEGOFF))
		return -(off_t)rnd(1000) - 1;
	if (r < 25)
		return 0;
	if (r < 60 && size > 4096)
		return (off_t)(1 + rnd((uint64_t)size / 4096)) * 4096;
	if (r < 75)
		return (off_t)(1 + rnd(24)) * 4096;
	if (r < 90)
		return (off_t)rnd(size > 0 ? (uint64_t)size + 1 : 1);
	return 1 + (off_t)rnd(65536);
}

/* Did the call get past the checks made before the locks? Then its
 * breaks zapped both files' mappings from the offsets on (private copies
 * too, as a punch does: maps_changed puts the kernel's copies back). */
static void remap_maps_changed(long err, struct handle *d, off_t doff,
			       struct handle *s, off_t soff, off_t len)
{
	if (remap_args(d, doff, s, soff, len) || err == -EBADF)
		return;
	if (s->kino == d->kino && soff < doff)
		doff = soff; /* one break over both ranges */
	maps_changed(d->k, CHG_PUNCH, doff & ~(off_t)4095, (off_t)1 << 40);
	if (s->kino != d->kino)
		maps_changed(s->k, CHG_PUNCH, soff & ~(off_t)4095,
			     (off_t)1 << 40);
}

static void op_clone(void)
{
	int ds, ss;
	struct handle *d = pick_handle(&ds), *s = d ? pick_handle(&ss) : NULL;
	off_t doff, soff, len, n;
	long k, u;

	if (!s) {
		op_open();
		return;
	}
	soff = gen_remap_off(ksize(s));
	doff = chance(30) ? soff : gen_remap_off(ksize(d));
	len = gen_remap_len(ksize(s) - soff);
	if (chance(10))
		soff = doff = len = 0; /* FICLONE */
	if (doff + (len > 0 ? len : ksize(s)) > MAXFILE)
		doff = 0;
	setop("clone_range(h%d %s, %lld, h%d %s, %lld, %lld) [sizes %lld "
	      "%lld]",
	      ds, qp(d->path), (long long)doff, ss, qp(s->path),
	      (long long)soff, (long long)len, (long long)ksize(d),
	      (long long)ksize(s));
	n = len;
	k = remap_args(d, doff, s, soff, len);
	if (!k)
		k = remap_check(d, doff, s, soff, &n, 0);
	if (!k && n) {
		/* the kernel's side of a clone that succeeds: the bytes */
		char *b = malloc((size_t)n);
		if (!b || pread(s->k, b, (size_t)n, soff) != n ||
		    pwrite(d->k, b, (size_t)n, doff) != n)
			die("clone model: copying on the kernel side: %s",
			    strerror(errno));
		free(b);
	}
	u = len || soff || doff ?
		    udax_clone_range(d->u, doff, s->u, soff, len) :
		    udax_clone(d->u, s->u);
	cmp_ret(k, u);
	if (k)
		MS.clone_err++;
	else
		MS.clones++;
	remap_maps_changed(k, d, doff, s, soff, len);
	if (!k)
		cmp_handle_now(d);
}

/* Make [doff, +len) of d a copy of [soff, +len) of s on both sides
 * (half of the dedupes find the same bytes). */
static void dedupe_setup(int ds, struct handle *d, off_t doff, int ss,
			 struct handle *s, off_t soff, off_t len)
{
	long k, u;
	char *b;

	if (len <= 0 || d->isdir || s->isdir ||
	    (s->flags & O_ACCMODE) == O_WRONLY ||
	    (d->flags & O_ACCMODE) == O_RDONLY || (d->flags & O_APPEND) ||
	    doff + len > MAXFILE || soff + len > ksize(s) ||
	    (d->kino == s->kino && doff + len > soff && soff + len > doff))
		return;
	b = malloc((size_t)len);
	if (!b || pread(s->k, b, (size_t)len, soff) != len)
		die("dedupe: reading the source: %s", strerror(errno));
	setop("pwrite(h%d %s, copy of h%d [%lld, +%lld), %lld) [dedupe]", ds,
	      qp(d->path), ss, (long long)soff, (long long)len,
	      (long long)doff);
	k = KR(pwrite(d->k, b, (size_t)len, doff));
	u = udax_pwrite(d->u, b, (size_t)len, doff);
	free(b);
	cmp_ret(k, u);
	maps_changed(d->k, CHG_WRITE, doff, len);
}

static void op_dedupe(void)
{
	int ds, ss;
	struct handle *d = pick_handle(&ds), *s = d ? pick_handle(&ss) : NULL;
	struct udax_dedupe_dest dd;
	off_t doff, soff, len, n;
	long k, u, want = 0;
	const long dd_either = 1000; /* SAME or DIFFERS */
	uint64_t want_bytes = 0;

	if (!s) {
		op_open();
		return;
	}
	soff = gen_remap_off(ksize(s));
	doff = gen_remap_off(ksize(d));
	len = gen_remap_len(ksize(s) - soff);
	if (chance(50))
		dedupe_setup(ds, d, doff, ss, s, soff, len);
	setop("dedupe_range(h%d %s, %lld, %lld, -> h%d %s, %lld) [sizes %lld "
	      "%lld]",
	      ss, qp(s->path), (long long)soff, (long long)len, ds, qp(d->path),
	      (long long)doff, (long long)ksize(s), (long long)ksize(d));
	/* the source's own checks give the call's result */
	k = (s->flags & O_ACCMODE) == O_WRONLY ? -EBADF :
	    s->isdir			       ? -EISDIR :
	    soff < 0 || len < 0		       ? -EINVAL :
						 0;
	n = len > (off_t)UDAX_DEDUPE_MAX ? (off_t)UDAX_DEDUPE_MAX : len;
	if (!k) {
		want = remap_args(d, doff, s, soff, n);
		if (!want)
			want = remap_check(d, doff, s, soff, &n, 1);
		if (!want && n && (d->flags & O_ACCMODE) == O_WRONLY) {
			/* the kernel's descriptor cannot read the bytes:
			 * either answer will do (no byte changes, and the
			 * full comparisons see every byte) */
			want = dd_either;
		} else if (!want && n) {
			char *a = malloc((size_t)n), *b = malloc((size_t)n);
			if (!a || !b || pread(s->k, a, (size_t)n, soff) != n ||
			    pread(d->k, b, (size_t)n, doff) != n)
				die("dedupe model: reading: %s",
				    strerror(errno));
			want = memcmp(a, b, (size_t)n) ? UDAX_DEDUPE_DIFFERS :
							 UDAX_DEDUPE_SAME;
			free(a);
			free(b);
		}
		if (want == UDAX_DEDUPE_SAME)
			want_bytes = (uint64_t)n;
	}
	dd = (struct udax_dedupe_dest){.dst = d->u, .dst_off = doff};
	u = udax_dedupe_range(s->u, soff, len, &dd, 1);
	cmp_ret(k, u);
	if (k)
		return;
	if (want == dd_either && dd.status == UDAX_DEDUPE_SAME) {
		want = UDAX_DEDUPE_SAME;
		want_bytes = (uint64_t)n;
	} else if (want == dd_either) {
		want = UDAX_DEDUPE_DIFFERS;
	}
	if ((long)dd.status != want || dd.bytes_deduped != want_bytes)
		fail("dedupe: status %d, %llu bytes; the model says %ld, %llu",
		     dd.status, (unsigned long long)dd.bytes_deduped, want,
		     (unsigned long long)want_bytes);
	if (want == UDAX_DEDUPE_SAME)
		MS.dedupe_same++;
	else if (want == UDAX_DEDUPE_DIFFERS)
		MS.dedupe_diff++;
	else
		MS.dedupe_err++;
	remap_maps_changed(want, d, doff, s, soff, n);
	cmp_handle_now(d);
}

static void op_fstat_h(int slot)
{
	struct handle *h = &H[slot];
	struct stat ks, us;
	long k, u;

	setop("fstat(h%d %s)", slot, qp(h->path));
	k = KR(fstat(h->k, &ks));
	u = udax_fstat(h->u, &us);
	cmp_ret(k, u);
	cmp_stat("fstat", &ks, &us);
}

static void op_fstat(void)
{
	int slot;

	if (!pick_handle(&slot)) {
		op_open();
		return;
	}
	op_fstat_h(slot);
}

static void op_fsync(void)
{
	int slot, d = chance(50);
	struct handle *h = pick_handle(&slot);
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	setop("%s(h%d %s)", d ? "fdatasync" : "fsync", slot, qp(h->path));
	k = KR(d ? fdatasync(h->k) : fsync(h->k));
	u = d ? udax_fdatasync(h->u) : udax_fsync(h->u);
	cmp_ret(k, u);
}

/* ------------------------------------------------------------------ */
/* direct-access mappings                                               */

/*
 * Up to NMAPS mappings live on both sides at once: udax_mmap of a udax
 * handle and mmap(2) of the matching kernel descriptor, same offset,
 * length, protection and type (MAP_SHARED, on the udax side sometimes with
 * UDAX_MAP_SYNC, which must behave identically; sometimes MAP_PRIVATE).
 * Every access to mapped memory runs under a SIGBUS/SIGSEGV guard on each
 * side, copying one page-bounded chunk at a time in ascending order, so
 * that "how many bytes were copied, then which signal" is comparable.
 * A mapping outlives its handle; it keeps a dup of the kernel descriptor
 * (for the mapped file's size and inode), and the udax side of a
 * comparison with pread uses any open handle of the same file.
 */

static off_t pgup(off_t x)
{
	return (x + PG - 1) & ~(off_t)(PG - 1);
}

static struct mapping *pick_map(int *slot)
{
	int idx[NMAPS], n = 0;

	for (int i = 0; i < NMAPS; i++)
		if (M[i].used)
			idx[n++] = i;
	if (!n)
		return NULL;
	*slot = idx[rnd((uint64_t)n)];
	return &M[*slot];
}

static int any_map(void)
{
	for (int i = 0; i < NMAPS; i++)
		if (M[i].used)
			return 1;
	return 0;
}

/* The mapped file's size now (the kernel side's). */
static off_t msize(struct mapping *m)
{
	struct stat st;

	if (fstat(m->kfd, &st) != 0)
		die("fstat of a mapping's descriptor: %s", strerror(errno));
	return st.st_size;
}

static const char *protstr(int prot)
{
	switch (prot) {
	case PROT_NONE:
		return "PROT_NONE";
	case PROT_READ:
		return "PROT_READ";
	case PROT_WRITE:
		return "PROT_WRITE";
	default:
		return "PROT_READ|PROT_WRITE";
	}
}

static const char *mdesc(int slot)
{
	static char b[4][400];
	static unsigned i;
	struct mapping *m = &M[slot];
	char *o = b[i++ & 3];

	snprintf(o, 400, "m%d = h%d %s off=%lld len=%zu %s %s%s", slot,
		 m->hslot, m->path, (long long)m->off, m->len, protstr(m->prot),
		 m->priv ? "MAP_PRIVATE" : "MAP_SHARED",
		 m->sync ? "|UDAX_MAP_SYNC" : "");
	return o;
}

/* An open udax handle of the mapped file that can read, or NULL. */
static struct udax_file *map_uhandle(struct mapping *m)
{
	for (int i = 0; i < NHANDLES; i++)
		if (H[i].used && !H[i].isdir && H[i].kino == m->kino &&
		    (H[i].flags & O_ACCMODE) != O_WRONLY)
			return H[i].u;
	return NULL;
}

static void cow_mark(struct mapping *m, size_t b, size_t n)
{
	if (!m->priv || !n)
		return;
	for (size_t p = b / PG; p <= (b + n - 1) / PG; p++)
		m->cow[p / 8] |= (unsigned char)(1u << (p % 8));
}

static int cow_test(struct mapping *m, size_t p)
{
	return m->cow[p / 8] >> (p % 8) & 1;
}

/* ---- the SIGBUS / SIGSEGV guard ---- */

static sigjmp_buf g_jb;
static volatile sig_atomic_t g_guard, g_sig;
static struct sigaction g_old_bus, g_old_segv;
static int g_guard_depth;

static void on_access_signal(int sig)
{
	if (!g_guard) {
		/* not from a guarded access: a real crash; the previous
		 * handler gets it when the instruction faults again */
		sigaction(sig, sig == SIGBUS ? &g_old_bus : &g_old_segv, NULL);
		return;
	}
	g_guard = 0;
	g_sig = sig;
	siglongjmp(g_jb, 1);
}

static void guard_on(void)
{
	struct sigaction sa;

	if (g_guard_depth++)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_access_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER; /* siglongjmp without restoring a mask */
	sigaction(SIGBUS, &sa, &g_old_bus);
	sigaction(SIGSEGV, &sa, &g_old_segv);
}

static void guard_off(void)
{
	if (--g_guard_depth)
		return;
	sigaction(SIGBUS, &g_old_bus, NULL);
	sigaction(SIGSEGV, &g_old_segv, NULL);
}

/*
 * Copy n bytes between mapped memory at map and buf (store: into the
 * mapping), one page-bounded chunk at a time, ascending. A page either
 * faults as a whole or not at all, so the count copied before a signal is
 * exact. Returns that count; *sig is the signal, or 0.
 */
static size_t gcopy(unsigned char *map, unsigned char *buf, size_t n, int store,
		    int *sig)
{
	volatile size_t done = 0;

	g_sig = 0;
	if (sigsetjmp(g_jb, 0)) {
		*sig = g_sig;
		return done;
	}
	g_guard = 1;
	while (done < n) {
		uintptr_t a = (uintptr_t)map + done;
		size_t c = PG - (size_t)(a % PG);
		if (c > n - done)
			c = n - done;
		if (store)
			memcpy(map + done, buf + done, c);
		else
			memcpy(buf + done, map + done, c);
		done += c;
	}
	g_guard = 0;
	*sig = 0;
	return done;
}

static const char *faultstr(size_t done, size_t n, int sig)
{
	static char b[4][96];
	static unsigned i;
	char *o = b[i++ & 3];

	if (!sig)
		snprintf(o, 96, "all %zu bytes", n);
	else
		snprintf(o, 96, "%s after %zu of %zu bytes",
			 sig == SIGBUS	? "SIGBUS" :
			 sig == SIGSEGV ? "SIGSEGV" :
					  "a signal",
			 done, n);
	return o;
}

static void cmp_fault(const char *what, struct mapping *m, size_t b, size_t n,
		      size_t kd, int ks, size_t ud, int us)
{
	if (g_verbose)
		printf("[%" PRIu64 "] %s: %s: kernel %s, udax %s\n", g_step,
		       g_op, what, faultstr(kd, n, ks), faultstr(ud, n, us));
	MS.sigbus += ks == SIGBUS;
	MS.sigsegv += ks == SIGSEGV;
	if (kd != ud || ks != us)
		fail("%s of %zu bytes at mapping offset %zu (file offset "
		     "%lld, file size %lld): kernel %s, udax %s",
		     what, n, b, (long long)(m->off + (off_t)b),
		     (long long)msize(m), faultstr(kd, n, ks),
		     faultstr(ud, n, us));
}

/* Bytes past end of file in the page holding it. */
static int in_eoftail(struct mapping *m, size_t mo, off_t size)
{
	off_t fo = m->off + (off_t)mo;
	return fo >= size && fo < pgup(size);
}

/* Compare what two loads of mapping bytes [b, b+n) read. */
static void cmp_mdata(const char *what, struct mapping *m, size_t b, size_t n,
		      const unsigned char *kb, const unsigned char *ub,
		      off_t size)
{
	if (!memcmp(kb, ub, n))
		return;
	for (size_t i = 0; i < n; i++) {
		if (kb[i] == ub[i])
			continue;
		fail("%s: mapping offset %zu (file offset %lld, file size "
		     "%lld%s) reads 0x%02x in the kernel's mapping, 0x%02x in "
		     "udax's",
		     what, b + i, (long long)(m->off + (off_t)(b + i)),
		     (long long)size,
		     in_eoftail(m, b + i, size) ?
			     ": past end of file in its last page" :
			     "",
		     kb[i], ub[i]);
	}
}

/*
 * The udax mapping's bytes ub (mapping offsets [b, b+n)) against udax_pread
 * of the file, below end of file: one copy of the data. Shared mappings,
 * and pages of private ones never stored into.
 */
static void cmp_mfile(const char *what, struct mapping *m, size_t b, size_t n,
		      const unsigned char *ub, off_t size)
{
	struct udax_file *uf = map_uhandle(m);
	off_t fo = m->off + (off_t)b;
	size_t lim;
	ssize_t r;

	if (!uf || fo >= size)
		return;
	lim = (size_t)(size - fo) < n ? (size_t)(size - fo) : n;
	r = udax_pread(uf, ubuf, lim, fo);
	if (r != (ssize_t)lim)
		fail("%s: udax_pread(%zu, %lld) of the mapped file: %s", what,
		     lim, (long long)fo, rs(r));
	for (size_t i = 0; i < lim; i++) {
		if (ub[i] == ubuf[i])
			continue;
		if (m->priv && cow_test(m, (b + i) / PG))
			continue;
		fail("%s: udax's mapping reads 0x%02x at file offset %lld, "
		     "udax_pread 0x%02x (file size %lld)",
		     what, ub[i], (long long)fo + (long long)i, ubuf[i],
		     (long long)size);
	}
}

/* Load mapping page p on both sides and compare everything. */
static void cmp_page(struct mapping *m, size_t p, const char *what)
{
	off_t size = msize(m);
	size_t b = p * PG;
	int ks, us;
	size_t kd, ud;

	if (b >= m->rlen)
		return;
	MS.pages++;
	kd = gcopy(m->k + b, kmb, PG, 0, &ks);
	ud = gcopy(m->u + b, umb, PG, 0, &us);
	cmp_fault(what, m, b, PG, kd, ks, ud, us);
	cmp_mdata(what, m, b, kd, kmb, umb, size);
	cmp_mfile(what, m, b, kd, umb, size);
}

/*
 * After data went into [b, b+n) of a shared writable mapping: if that
 * covers bytes past end of file in the file's last page, zero them on both
 * sides (see the header comment: tmpfs keeps such stores when the file
 * grows, udax zeros them).
 */
static void tail_cleanup(struct mapping *m, size_t b, size_t n)
{
	off_t size = msize(m);
	off_t ts = size - m->off, te = pgup(size) - m->off;
	size_t kd, ud;
	int ks, us;

	if (m->priv || !(m->prot & PROT_WRITE) || !n || ts == te)
		return;
	if (ts < (off_t)b)
		ts = (off_t)b;
	if (te > (off_t)(b + n))
		te = (off_t)(b + n);
	if (ts < 0)
		ts = 0;
	if (te > (off_t)m->rlen)
		te = (off_t)m->rlen;
	if (ts >= te)
		return;
	kd = gcopy(m->k + ts, (unsigned char *)zeros, (size_t)(te - ts), 1,
		   &ks);
	ud = gcopy(m->u + ts, (unsigned char *)zeros, (size_t)(te - ts), 1,
		   &us);
	cmp_fault("zeroing the bytes past end of file again", m, (size_t)ts,
		  (size_t)(te - ts), kd, ks, ud, us);
}

static void unpin_slot(int i)
{
	long r = udax_unpin(&P[i].pin);

	MS.unpins++;
	if (r || P[i].pin)
		fail("udax_unpin of pin %d: %s", i, rs(r));
}

static void unmap_slot(int slot, const char *why)
{
	struct mapping *m = &M[slot];
	long k, u;

	setop("%smunmap(%s)", why, mdesc(slot));
	MS.unmaps++;
	k = KR(munmap(m->k, m->len));
	u = udax_munmap(m->u, m->len);
	close(m->kfd);
	m->used = 0;
	cmp_ret(k, u);
	/* a pin outlives the munmap of its memory; the kernel has no pins,
	 * so they go now, and the file's blocks with the last reference
	 * as on the kernel's side */
	for (int i = 0; i < NPINS; i++)
		if (P[i].pin && P[i].map == slot)
			unpin_slot(i);
}

static void unmap_all(const char *why)
{
	for (int i = 0; i < NMAPS; i++)
		if (M[i].used)
			unmap_slot(i, why);
}

static void op_mmap(void)
{
	int slot, ms = (int)rnd(NMAPS), r, bad = 0, uflags, kflags;
	struct handle *h = pick_handle(&slot);
	struct mapping *m = &M[ms];
	int acc;
	off_t size, off;
	size_t len;
	int prot, priv, sync;
	void *kp, *up = NULL;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	/* mostly a handle that can be mapped (readable, not a directory) */
	for (int i = 0;
	     i < 4 && (h->isdir || (h->flags & O_ACCMODE) == O_WRONLY); i++)
		if (chance(85))
			h = pick_handle(&slot);
	if ((h->isdir || (h->flags & O_ACCMODE) == O_WRONLY) && chance(60)) {
		op_open();
		return;
	}
	acc = h->flags & O_ACCMODE;
	if (m->used)
		unmap_slot(ms, "");
	size = h->isdir ? 0 : ksize(h);
	r = (int)rnd(100);
	if (r < 70)
		off = (off_t)rnd((uint64_t)size / PG + 1) * PG;
	else if (r < 90)
		off = (off_t)rnd(((uint64_t)size + (1 << 20)) / PG) * PG;
	else
		off = 0;
	r = (int)rnd(100);
	if (r < 50)
		len = 1 + rnd(16 * PG);
	else if (r < 85)
		len = 1 + rnd(256 * PG);
	else
		len = 1 + rnd(MAXMAPLEN);
	if (chance(30) && size > off) /* exactly to end of file */
		len = (size_t)(size - off) < MAXMAPLEN ? (size_t)(size - off) :
							 MAXMAPLEN;
	r = (int)rnd(100);
	prot = r < 55 ? PROT_READ | PROT_WRITE :
	       r < 92 ? PROT_READ :
	       r < 97 ? PROT_WRITE :
			PROT_NONE;
	priv = chance(20) && !(g_avoid & AVOID_PRIVATE);
	/* mostly what the handle allows: a shared writable mapping needs
	 * O_RDWR */
	if (!priv && acc == O_RDONLY && (prot & PROT_WRITE) && chance(80))
		prot = PROT_READ;
	sync = !priv && chance(35);
	/* one invalid argument at a time, on a handle that could map (the
	 * order of the checks is not compared) */
	if (!h->isdir && acc != O_WRONLY &&
	    (acc == O_RDWR || priv || !(prot & PROT_WRITE))) {
		r = (int)rnd(100);
		if (r < 3) {
			off += 1 + (off_t)rnd(PG - 1); /* EINVAL */
			bad = 1;
		} else if (r < 5) {
			len = 0; /* EINVAL */
			bad = 1;
		}
	}
	/*
	 * Not generated: negative offsets (udax: EINVAL, as documented in
	 * udax.h; Linux: EOVERFLOW), PROT_EXEC (depends on the mount's
	 * noexec), a directory handle with a shared writable mapping (Linux
	 * checks write access before ENODEV; udax's order is its own).
	 */
	if (h->isdir && !priv)
		prot &= ~PROT_WRITE;
	if ((g_avoid & AVOID_ROMAP) && !priv && !(prot & PROT_WRITE) &&
	    prot != PROT_NONE && !h->isdir)
		prot |= PROT_WRITE;
	if (g_avoid & AVOID_MAPALIAS)
		for (int i = 0; i < NMAPS; i++)
			if (M[i].used && M[i].kino == h->kino)
				unmap_slot(i, "(mapalias) ");
	uflags = (priv ? UDAX_MAP_PRIVATE : UDAX_MAP_SHARED) |
		 (sync ? UDAX_MAP_SYNC : 0);
	kflags = priv ? MAP_PRIVATE : MAP_SHARED;
	setop("mmap(h%d %s %s, off=%lld, len=%zu, %s, %s%s) -> m%d [size "
	      "%lld]",
	      slot, qp(h->path), flagstr(h->flags), (long long)off, len,
	      protstr(prot), priv ? "MAP_PRIVATE" : "MAP_SHARED",
	      sync ? "|UDAX_MAP_SYNC" : "", ms, (long long)size);
	kp = mmap(NULL, len, prot, kflags, h->k, off);
	k = kp == MAP_FAILED ? -errno : 0;
	u = udax_mmap(h->u, off, len, prot, uflags, &up);
	if (k == 0 && u != 0)
		munmap(kp, len);
	if (u == 0 && k != 0)
		udax_munmap(up, len);
	cmp_ret(k, u);
	if (k) {
		MS.mapfail++;
		return;
	}
	MS.maps++;
	if (bad)
		fail("an invalid mmap succeeded on both sides");
	/* a shared writable mapping of a clone gets private copies of the
	 * shared blocks (copy on map), through the layout break, which
	 * zaps the other mappings' private copies of the range as a punch
	 * does (before this one joins the table) */
	if ((prot & PROT_WRITE) && !priv)
		maps_changed(h->k, CHG_PUNCH, off, (off_t)len);
	memset(m, 0, sizeof *m);
	m->used = 1;
	m->k = kp;
	m->u = up;
	m->len = len;
	m->rlen = (size_t)pgup((off_t)len);
	m->off = off;
	m->prot = prot;
	m->priv = priv;
	m->sync = sync;
	m->kfd = fcntl(h->k, F_DUPFD_CLOEXEC, 0);
	if (m->kfd < 0)
		die("dup: %s", strerror(errno));
	m->kino = h->kino;
	m->hslot = slot;
	snprintf(m->path, sizeof m->path, "%s", qp(h->path));
	if ((uintptr_t)up % PG)
		fail("udax_mmap returned %p, not page-aligned", up);
}

/* Many short-lived mappings of one file, as a long-running program
 * makes them: map the file read-only, load a byte, compare it with the
 * kernel's file, unmap; again and again (every count in the fault layer
 * must come back down each time). */
static void op_mflash(void)
{
	int slot;
	struct handle *h = pick_handle(&slot);
	off_t size;
	unsigned n;

	if (!h || h->isdir || (h->flags & O_ACCMODE) == O_WRONLY ||
	    (g_avoid & AVOID_ROMAP)) {
		op_open();
		return;
	}
	size = ksize(h);
	if (size <= 0)
		return;
	n = 1 + (unsigned)rnd(200);
	size_t len = (size_t)size < MAXMAPLEN ? (size_t)size : MAXMAPLEN;
	setop("mflash(h%d %s, %u mappings of %zu bytes)", slot, qp(h->path), n,
	      len);
	for (unsigned i = 0; i < n; i++) {
		void *up;
		unsigned char kb, ub;
		off_t o = (off_t)rnd(len);
		long u = udax_mmap(h->u, 0, len, PROT_READ, UDAX_MAP_SHARED,
				   &up);
		if (u)
			fail("mapping %u of %u: %s", i, n, rs(u));
		if (pread(h->k, &kb, 1, o) != 1)
			die("pread: %s", strerror(errno));
		ub = ((volatile unsigned char *)up)[o];
		MS.loads++;
		u = udax_munmap(up, len);
		if (u)
			fail("udax_munmap of mapping %u: %s", i, rs(u));
		if (kb != ub)
			fail("mapping %u: byte %lld is %#x, the kernel's %#x",
			     i, (long long)o, ub, kb);
	}
	MS.maps += n;
	MS.unmaps += n;
}

static void op_munmap(void)
{
	int s;

	if (!pick_map(&s)) {
		op_mmap();
		return;
	}
	unmap_slot(s, "");
}

/* A range of mapping offsets for an access: mostly pages backed by the
 * file, often around end of file, sometimes anywhere in the mapping. */
static void gen_mrange(struct mapping *m, off_t size, size_t *b, size_t *n)
{
	size_t eofb = 0, cap, at;
	int r = (int)rnd(100);

	if (size > m->off)
		eofb = (size_t)(pgup(size) - m->off) < m->rlen ?
			       (size_t)(pgup(size) - m->off) :
			       m->rlen;
	cap = chance(55) ? 256 : chance(75) ? 2 * PG : 65536;
	if (r < 55 && eofb) {
		*b = rnd(eofb);
		at = eofb;
	} else if (r < 80) {
		off_t c = size - m->off - (off_t)PG + (off_t)rnd(2 * PG);
		if (c < 0)
			c = (off_t)rnd(PG);
		if (c >= (off_t)m->rlen)
			c = (off_t)m->rlen - 1 - (off_t)rnd(PG);
		*b = (size_t)c;
		at = m->rlen;
	} else {
		*b = rnd(m->rlen);
		at = m->rlen;
	}
	if (cap > at - *b)
		cap = at - *b;
	*n = 1 + rnd(cap);
}

static void op_mstore(void)
{
	int s, ks, us, kind;
	struct mapping *m = pick_map(&s);
	off_t size;
	size_t b, n, kd, ud;
	uint64_t ds;

	if (!m) {
		op_mmap();
		return;
	}
	size = msize(m);
	gen_mrange(m, size, &b, &n);
	ds = rnd64();
	kind = fill(wbuf, n, ds);
	setop("store(%s, at=%zu, len=%zu, data=%d/%016" PRIx64
	      ") [file size %lld]",
	      mdesc(s), b, n, kind, ds, (long long)size);
	MS.stores++;
	guard_on();
	kd = gcopy(m->k + b, wbuf, n, 1, &ks);
	ud = gcopy(m->u + b, wbuf, n, 1, &us);
	cmp_fault("store", m, b, n, kd, ks, ud, us);
	cow_mark(m, b, kd);
	if (kd) {
		/* read back through both mappings and the file */
		size_t k2 = gcopy(m->k + b, kmb, kd, 0, &ks);
		size_t u2 = gcopy(m->u + b, umb, kd, 0, &us);
		cmp_fault("loading back what was stored", m, b, kd, k2, ks, u2,
			  us);
		cmp_mdata("loading back what was stored", m, b, k2, kmb, umb,
			  size);
		if (memcmp(umb, wbuf, u2)) {
			size_t i = 0;
			while (umb[i] == wbuf[i])
				i++;
			fail("udax's mapping reads 0x%02x at mapping offset "
			     "%zu just after 0x%02x was stored there",
			     umb[i], b + i, wbuf[i]);
		}
		cmp_mfile("after the store", m, b, u2, umb, size);
		tail_cleanup(m, b, kd);
	}
	guard_off();
}

static void op_mload(void)
{
	int s, ks, us;
	struct mapping *m = pick_map(&s);
	off_t size;
	size_t b, n, kd, ud;

	if (!m) {
		op_mmap();
		return;
	}
	size = msize(m);
	gen_mrange(m, size, &b, &n);
	setop("load(%s, at=%zu, len=%zu) [file size %lld]", mdesc(s), b, n,
	      (long long)size);
	MS.loads++;
	guard_on();
	kd = gcopy(m->k + b, kmb, n, 0, &ks);
	ud = gcopy(m->u + b, umb, n, 0, &us);
	cmp_fault("load", m, b, n, kd, ks, ud, us);
	cmp_mdata("load", m, b, kd, kmb, umb, size);
	cmp_mfile("load", m, b, kd, umb, size);
	guard_off();
}

/* Pages of a mapping worth looking at: around end of file, and spread. */
static size_t scan_pages(struct mapping *m, size_t *pg, size_t max, int rand)
{
	size_t np = m->rlen / PG, n = 0;
	off_t size = msize(m);

	if (np <= max) {
		for (size_t p = 0; p < np; p++)
			pg[n++] = p;
		return n;
	}
	if (size > m->off) {
		size_t e = (size_t)((size - m->off) / PG);
		for (size_t p = e ? e - 1 : 0; p <= e + 1 && p < np; p++)
			pg[n++] = p;
	}
	pg[n++] = 0;
	pg[n++] = np - 1;
	while (n < max) {
		size_t p = rand ? rnd(np) : (n * 7919) % np;
		pg[n++] = p;
	}
	return n;
}

static void op_mscan(void)
{
	int s;
	struct mapping *m = pick_map(&s);
	size_t pg[48], n;

	if (!m) {
		op_mmap();
		return;
	}
	setop("load pages of %s [file size %lld]", mdesc(s),
	      (long long)msize(m));
	n = scan_pages(m, pg, 48, 1);
	guard_on();
	for (size_t i = 0; i < n; i++)
		cmp_page(m, pg[i], "page load");
	guard_off();
}

static void op_msync(void)
{
	int s, fl, r;
	struct mapping *m = pick_map(&s);
	size_t a, len;
	long k, u;

	if (!m) {
		op_mmap();
		return;
	}
	a = rnd(m->rlen / PG) * PG;
	len = chance(50) ? m->rlen - a : 1 + rnd(m->rlen - a);
	if (chance(5))
		len = 0;
	r = (int)rnd(100);
	fl = r < 47 ? MS_SYNC : r < 94 ? MS_ASYNC : 0;
	if (chance(20))
		fl |= MS_INVALIDATE;
	r = (int)rnd(100);
	if (r < 3)
		a += 1 + rnd(PG - 1); /* EINVAL */
	else if (r < 5)
		fl = MS_SYNC | MS_ASYNC; /* EINVAL */
	else if (r < 6)
		fl = 0x100; /* EINVAL */
	setop("msync(%s, at=%zu, len=%zu, %s%s%s%s)", mdesc(s), a, len,
	      fl & MS_SYNC ? "MS_SYNC|" : "", fl & MS_ASYNC ? "MS_ASYNC|" : "",
	      fl & MS_INVALIDATE ? "MS_INVALIDATE|" : "",
	      fl & 0x100 ? "0x100" : "");
	MS.msyncs++;
	k = KR(msync(m->k + a, len, fl));
	u = udax_msync(m->u + a, len, fl);
	cmp_ret(k, u);
	guard_on();
	cmp_page(m, a / PG, "after msync");
	if (len)
		cmp_page(m, (a + len - 1) / PG, "after msync");
	guard_off();
}

/* A range [*b, *b+*n) of pages the mapped file backs (no page past end
 * of file: udax's data calls copy in user space, where such a page raises
 * SIGBUS, not EFAULT). Returns 0 if there is none. */
static int gen_valid_buf(struct mapping *m, size_t *b, size_t *n)
{
	off_t size = msize(m);
	size_t eofb, cap;

	if (size <= m->off)
		return 0;
	eofb = (size_t)(pgup(size) - m->off) < m->rlen ?
		       (size_t)(pgup(size) - m->off) :
		       m->rlen;
	*b = rnd(eofb);
	cap = gen_len();
	if (cap > eofb - *b)
		cap = eofb - *b;
	*n = cap;
	return 1;
}

/* The file range of handle h would overlap the mapping's own bytes
 * (copies between aliased memory: the result depends on the direction of
 * the copy). */
static int overlaps_map(struct handle *h, struct mapping *m, size_t b, size_t n,
			off_t off)
{
	off_t mo = m->off + (off_t)b;
	return h->kino == m->kino && n && off < mo + (off_t)n &&
	       mo < off + (off_t)n;
}

/* After data went into [b, b+n) of both mappings: compare them. */
static void after_mapped_read(struct mapping *m, size_t b, size_t n, long cnt)
{
	off_t size = msize(m);
	size_t kd, ud;
	int ks, us;

	if (cnt > 0)
		cow_mark(m, b, (size_t)cnt);
	kd = gcopy(m->k + b, kmb, n, 0, &ks);
	ud = gcopy(m->u + b, umb, n, 0, &us);
	cmp_fault("loading the buffer afterwards", m, b, n, kd, ks, ud, us);
	cmp_mdata("loading the buffer afterwards", m, b, kd, kmb, umb, size);
	cmp_mfile("loading the buffer afterwards", m, b, kd, umb, size);
	if (cnt > 0)
		tail_cleanup(m, b, (size_t)cnt);
}

/*
 * pread/read into mapped memory: udax_pread into the udax mapping against
 * pread(2) into the kernel one (pages the file backs only); or the kernel
 * itself copying into both mappings, from a scratch memfd (any range: a
 * page past end of file or without the protection gives EFAULT or a
 * short count, which must agree).
 */
static void op_mpread(void)
{
	int s, slot, kind;
	struct mapping *m = pick_map(&s);
	struct handle *h;
	size_t b, n;
	off_t off;
	uint64_t ds;
	long k, u;

	if (!m) {
		op_mmap();
		return;
	}
	if (chance(50)) {
		/* the kernel's own access */
		off_t size = msize(m);
		gen_mrange(m, size, &b, &n);
		if (chance(20))
			n = 1 + rnd(m->rlen - b < MAXIO ? m->rlen - b : MAXIO);
		ds = rnd64();
		kind = fill(wbuf, n, ds);
		if (ftruncate(g_scratch, 0) ||
		    pwrite(g_scratch, wbuf, n, 0) != (ssize_t)n)
			die("scratch memfd: %s", strerror(errno));
		setop("pread(scratch memfd, into %s at=%zu, len=%zu, "
		      "data=%d/%016" PRIx64 ") [file size %lld]",
		      mdesc(s), b, n, kind, ds, (long long)size);
		MS.kaccess++;
		k = KR(pread(g_scratch, m->k + b, n, 0));
		u = KR(pread(g_scratch, m->u + b, n, 0));
		cmp_ret(k, u);
		guard_on();
		after_mapped_read(m, b, n, k);
		guard_off();
		return;
	}
	h = pick_handle(&slot);
	if (!h || !(m->prot & PROT_WRITE) || !gen_valid_buf(m, &b, &n)) {
		op_mload();
		return;
	}
	off = chance(10) ? ksize(h) + (off_t)rnd(1000) :
			   gen_off(h->isdir ? 0 : ksize(h));
	if (overlaps_map(h, m, b, n, off))
		off = m->off + (off_t)(b + n);
	if (!h->isdir && chance(25)) {
		setop("read(h%d %s %s, into %s at=%zu, len=%zu) [pos %lld]",
		      slot, qp(h->path), flagstr(h->flags), mdesc(s), b, n,
		      (long long)kpos(h));
		off = kpos(h);
		if (overlaps_map(h, m, b, n, off)) {
			op_mload();
			return;
		}
		MS.daccess++;
		k = KR(read(h->k, m->k + b, n));
		u = udax_read(h->u, m->u + b, n);
		cmp_ret(k, u);
		cmp_handle_now(h);
	} else {
		setop("pread(h%d %s %s, into %s at=%zu, len=%zu, off=%lld)",
		      slot, qp(h->path), flagstr(h->flags), mdesc(s), b, n,
		      (long long)off);
		MS.daccess++;
		k = KR(pread(h->k, m->k + b, n, off));
		u = udax_pread(h->u, m->u + b, n, off);
		cmp_ret(k, u);
	}
	guard_on();
	after_mapped_read(m, b, n, k);
	guard_off();
}

/*
 * pwrite/write from mapped memory: udax_pwrite from the udax mapping
 * against pwrite(2) from the kernel one (pages the file backs only); or
 * the kernel itself copying from each mapping into a scratch memfd.
 */
static void op_mpwrite(void)
{
	int s, slot, app;
	struct mapping *m = pick_map(&s);
	struct handle *h;
	size_t b, n;
	off_t off, size;
	long k, u;

	if (!m) {
		op_mmap();
		return;
	}
	if (chance(50)) {
		size = msize(m);
		gen_mrange(m, size, &b, &n);
		if (chance(20))
			n = 1 + rnd(m->rlen - b < MAXIO ? m->rlen - b : MAXIO);
		setop("pwrite(scratch memfd, from %s at=%zu, len=%zu) [file "
		      "size %lld]",
		      mdesc(s), b, n, (long long)size);
		if (ftruncate(g_scratch, 0))
			die("scratch memfd: %s", strerror(errno));
		MS.kaccess++;
		k = KR(pwrite(g_scratch, m->k + b, n, 0));
		if (k > 0 && pread(g_scratch, kbuf, (size_t)k, 0) != k)
			die("scratch memfd: %s", strerror(errno));
		if (ftruncate(g_scratch, 0))
			die("scratch memfd: %s", strerror(errno));
		u = KR(pwrite(g_scratch, m->u + b, n, 0));
		if (u > 0 && pread(g_scratch, ubuf, (size_t)u, 0) != u)
			die("scratch memfd: %s", strerror(errno));
		cmp_read_data(k, u);
		return;
	}
	h = pick_handle(&slot);
	if (!h || !(m->prot & PROT_READ) || !gen_valid_buf(m, &b, &n)) {
		op_mload();
		return;
	}
	size = h->isdir ? 0 : ksize(h);
	off = gen_off(size);
	clamp_io(&off, &n, size);
	app = h->flags & O_APPEND;
	if (app && size + (off_t)n > MAXFILE)
		n = size >= MAXFILE ? 0 : (size_t)(MAXFILE - size);
	if (app)
		off = size;
	if (overlaps_map(h, m, b, n, off) || (app && h->kino == m->kino)) {
		op_mload();
		return;
	}
	setop("%s(h%d %s %s, from %s at=%zu, len=%zu, off=%lld) [size %lld]",
	      app ? "write[O_APPEND]" : "pwrite", slot, qp(h->path),
	      flagstr(h->flags), mdesc(s), b, n, (long long)off,
	      (long long)size);
	MS.daccess++;
	int chg = write_change(h->u, off, n);
	if (app) {
		k = KR(write(h->k, m->k + b, n));
		u = udax_write(h->u, m->u + b, n);
	} else {
		k = KR(pwrite(h->k, m->k + b, n, off));
		u = udax_pwrite(h->u, m->u + b, n, off);
	}
	cmp_ret(k, u);
	if (k > 0) {
		cmp_handle_now(h);
		if ((h->flags & O_ACCMODE) != O_WRONLY) {
			k = KR(pread(h->k, kbuf, (size_t)k, off));
			u = udax_pread(h->u, ubuf, (size_t)k, off);
			cmp_read_data(k, u);
		}
		maps_changed(h->k, chg, off, k);
	}
}

/*
 * After handle kfd changed its file (write, truncate, punch): private
 * mappings drop what Linux drops and are brought back in line where udax
 * legitimately differs, then the pages of every mapping of the file
 * around the change are compared.
 */
static void maps_changed(int kfd, int how, off_t off, off_t len)
{
	struct stat st;

	if (!any_map())
		return;
	if (fstat(kfd, &st))
		die("fstat: %s", strerror(errno));
	guard_on();
	for (int i = 0; i < NMAPS; i++) {
		struct mapping *m = &M[i];
		size_t np = m->rlen / PG, pg[8];
		int n = 0;

		if (!m->used || m->kino != st.st_ino)
			continue;
		if (m->priv && how == CHG_TRUNC) {
			/* truncate discards private copies of the pages past
			 * the one holding the new end of file (Linux:
			 * unmap_mapping_range(even_cows)) */
			for (size_t p = 0; p < np; p++)
				if (m->off + (off_t)(p * PG) >= pgup(off))
					m->cow[p / 8] &=
						(unsigned char)~(1u << (p % 8));
		}
		if (m->priv && (how == CHG_PUNCH || how == CHG_REPLACE) &&
		    len > 0) {
			/*
			 * Documented (docs/DESIGN.md, "Not yet"): udax drops
			 * a private mapping's copies of pages in a punched
			 * (or zeroed) range, and in one whose blocks
			 * udax_recvfile replaced; Linux keeps them. Store the
			 * kernel's private copy into udax's page, which
			 * makes it a private copy there again.
			 */
			off_t lo = off & ~(off_t)(PG - 1), hi = pgup(off + len);
			for (size_t p = 0; p < np; p++) {
				off_t fo = m->off + (off_t)(p * PG);
				int ks, us;
				size_t kd, ud;
				if (fo < lo || fo >= hi || !cow_test(m, p))
					continue;
				kd = gcopy(m->k + p * PG, kmb, PG, 0, &ks);
				if (ks)
					continue;
				MS.fixups++;
				ud = gcopy(m->u + p * PG, kmb, kd, 1, &us);
				cmp_fault("restoring a private page after a "
					  "punch or a receive",
					  m, p * PG, kd, kd, 0, ud, us);
			}
		}
		/* pages to compare: around the change and end of file */
		{
			off_t fos[5] = {off, off + len - 1, off + len,
					msize(m) - 1, msize(m)};
			if (how == CHG_TRUNC) {
				fos[1] = off - 1;
				fos[2] = len; /* the old size */
				fos[3] = len - 1;
			}
			for (int j = 0; j < 5; j++) {
				off_t r = fos[j] - m->off;
				size_t p;
				int dup = 0;
				if (r < 0 || r >= (off_t)m->rlen)
					continue;
				p = (size_t)r / PG;
				for (int q = 0; q < n; q++)
					dup |= pg[q] == p;
				if (!dup)
					pg[n++] = p;
			}
		}
		for (int j = 0; j < n; j++) {
			char what[512];
			snprintf(what, sizeof what,
				 "afterwards, page %zu of %s", pg[j], mdesc(i));
			cmp_page(m, pg[j], what);
		}
	}
	guard_off();
}

/* Full comparison: pages of every mapping (no random numbers drawn). */
static void maps_check(void)
{
	guard_on();
	for (int i = 0; i < NMAPS; i++) {
		struct mapping *m = &M[i];
		size_t pg[32], n;
		char what[512];
		if (!m->used)
			continue;
		snprintf(what, sizeof what, "mapping %s", mdesc(i));
		n = scan_pages(m, pg, 32, 0);
		for (size_t j = 0; j < n; j++)
			cmp_page(m, pg[j], what);
	}
	guard_off();
}

/* ------------------------------------------------------------------ */
/* pins and sendfile                                                    */

/* The recall of a long-term pin: a layout break reached it (in this,
 * the only thread, with no udax lock held); give it back at once. */
static void pin_recall(struct udax_pin *pin, void *arg)
{
	struct pinslot *ps = arg;

	MS.recalls++;
	if (ps->pin != pin)
		fail("a recall for a pin that is not slot %d's", (int)(ps - P));
	unpin_slot((int)(ps - P));
}

/* pin: a long-term pin on pages of a udax mapping (nothing happens on
 * the kernel side: the pin must change nothing the tester compares; a
 * truncate or punch that reaches it recalls it), or bad input with the
 * documented error: unaligned, empty, past the mapping, not a udax
 * mapping, a lease without its recall, options on a short-term pin. */
static void op_pin(void)
{
	int ms = (int)rnd(NMAPS), ps = (int)rnd(NPINS), bad;
	struct mapping *m = &M[ms];
	struct udax_pin_opts opts = {
		.recall = pin_recall, .arg = &P[ps], .deadline_ms = 1000};
	struct udax_pin *tmp = NULL;
	size_t pages, first, n;
	long r, want = 0;

	if (!m->used) {
		op_mmap();
		return;
	}
	pages = m->rlen / PG;
	first = rnd(pages);
	n = 1 + rnd(pages - first);
	bad = chance(25) ? 1 + (int)rnd(6) : 0;
	if (P[ps].pin)
		unpin_slot(ps);
	setop("pin(%s, pages %zu..%zu, case %d)", mdesc(ms), first, first + n,
	      bad);
	switch (bad) {
	case 0:
		r = udax_pin(m->u + first * PG, n * PG, UDAX_PIN_LONGTERM,
			     &opts, &P[ps].pin);
		P[ps].map = ms;
		MS.pins += !r;
		break;
	case 1:
		r = udax_pin(m->u + first * PG + 1 + rnd(PG - 1), PG, 0, NULL,
			     &tmp);
		want = -EINVAL;
		break;
	case 2:
		r = udax_pin(m->u + first * PG, 0, 0, NULL, &tmp);
		want = -EINVAL;
		break;
	case 3:
		r = udax_pin(m->u + first * PG, (pages - first + 1) * PG, 0,
			     NULL, &tmp);
		want = -EFAULT;
		break;
	case 4:
		r = udax_pin(m->k + first * PG, PG, 0, NULL, &tmp);
		want = -EFAULT;
		break;
	case 5:
		r = udax_pin(m->u + first * PG, PG, UDAX_PIN_LONGTERM, NULL,
			     &tmp);
		want = -EINVAL;
		break;
	default:
		r = udax_pin(m->u + first * PG, PG, 0, &opts, &tmp);
		want = -EINVAL;
		break;
	}
	MS.pinbad += bad != 0;
	if (r != want || (bad && tmp))
		fail("udax_pin gave %s, expected %s", rs(r), rs(want));
	/* and a short-term pin over it, for the time of this step */
	if (!bad && chance(50)) {
		r = udax_pin(m->u + first * PG, n * PG, 0, NULL, &tmp);
		if (r || udax_unpin(&tmp) || tmp)
			fail("a short-term pin over it: %s", rs(r));
		if (udax_unpin(&tmp) != -EINVAL)
			fail("a second udax_unpin did not give EINVAL");
	}
}

/* unpin: release one of the pins. */
static void op_unpin(void)
{
	int ps = (int)rnd(NPINS);

	if (!P[ps].pin) {
		op_pin();
		return;
	}
	setop("unpin(pin %d, of mapping %d)", ps, P[ps].map);
	unpin_slot(ps);
}

/* A connected Unix stream pair, non-blocking, whose sender sv[sender]
 * holds the largest send (nothing waits: each step reads everything
 * back). sendfile sends on sv[0], recvfile's peer on sv[1]. */
static void send_pair(int sv[2], int sender)
{
	int big = 16 << 20;

	if (sv[0] >= 0)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv))
		die("socketpair: %s", strerror(errno));
	if (setsockopt(sv[sender], SOL_SOCKET, SO_SNDBUFFORCE, &big,
		       sizeof big))
		setsockopt(sv[sender], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
}

/* Everything queued for the peer sv[1], into buf. */
static long send_drain(int sv[2], unsigned char *buf)
{
	long got = 0;
	ssize_t r;

	while ((r = read(sv[1], buf + got, (size_t)(MAXIO + 64 - got))) > 0)
		got += r;
	return got;
}

/* sendfile: udax_sendfile of a handle into one socket pair against
 * sendfile(2) of the kernel descriptor into another: the results, the
 * bytes each peer received, the offset or the file position. */
static void op_sendfile(void)
{
	int slot, usepos;
	struct handle *h = pick_handle(&slot);
	off_t size, off, koff, uoff;
	size_t len;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	send_pair(g_ksock, 0);
	send_pair(g_usock, 0);
	size = h->isdir ? 0 : ksize(h);
	len = gen_len();
	off = chance(10) ? size + (off_t)rnd(10000) : gen_off(size);
	if (chance(2) && !(g_avoid & AVOID_NEGOFF))
		off = -(off_t)rnd(10000) - 1;
	usepos = chance(30);
	setop("sendfile(h%d %s %s, off=%s%lld, len=%zu) [pos %lld, size "
	      "%lld]",
	      slot, qp(h->path), flagstr(h->flags), usepos ? "NULL, pos " : "",
	      (long long)(usepos ? kpos(h) : off), len, (long long)kpos(h),
	      (long long)size);
	koff = uoff = off;
	k = KR(sendfile(g_ksock[0], h->k, usepos ? NULL : &koff, len));
	u = udax_sendfile(g_usock[0], h->u, usepos ? NULL : &uoff, len);
	cmp_ret(k, u);
	if (!usepos && koff != uoff)
		fail("afterwards the offset is %lld in the kernel, %lld in "
		     "udax",
		     (long long)koff, (long long)uoff);
	MS.sends++;
	MS.sent += k > 0 ? (uint64_t)k : 0;
	k = send_drain(g_ksock, kbuf);
	u = send_drain(g_usock, ubuf);
	setop("what the peers of that sendfile received");
	cmp_read_data(k, u);
	cmp_handle_now(h);
}

/* What udax_recvfile does on the kernel side: its checks (the errors
 * it gives before reading anything), then read(2) from the socket and
 * pwrite(2) (or write(2) at the position) of what came. */
static long kernel_recvfile(struct handle *h, int sock, off_t *off, size_t len)
{
	long r, w;

	if ((h->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if ((off && *off < 0) || (h->flags & O_APPEND))
		return -EINVAL;
	if (!len)
		return 0;
	r = KR(read(sock, kbuf, len));
	if (r <= 0)
		return r;
	w = off ? KR(pwrite(h->k, kbuf, (size_t)r, *off)) :
		  KR(write(h->k, kbuf, (size_t)r));
	if (w > 0 && off)
		*off += w;
	return w;
}

/* recvfile: bytes queued alike in two socket pairs (as many as asked,
 * fewer or more), udax_recvfile of one into a handle against read(2)
 * and pwrite(2) of the other into the kernel descriptor: the results,
 * the file, the offset or position, and what is left in the sockets. */
static void op_recvfile(void)
{
	int slot, usepos;
	struct handle *h = pick_handle(&slot);
	off_t size, off, koff, uoff;
	size_t len, sent;
	unsigned flags;
	uint64_t ds;
	long k, u;

	if (!h) {
		op_open();
		return;
	}
	send_pair(g_krsock, 1);
	send_pair(g_ursock, 1);
	size = h->isdir ? 0 : ksize(h);
	len = gen_len();
	off = gen_off(size);
	clamp_io(&off, &len, size);
	if (chance(2) && !(g_avoid & AVOID_NEGOFF))
		off = -(off_t)rnd(10000) - 1;
	sent = chance(3) ? (size_t)rnd(len + 1) : chance(5) ? len + 100 : len;
	if (sent > MAXIO)
		sent = MAXIO;
	usepos = chance(30);
	flags = chance(2) ? UDAX_RECV_WAITALL : 0;
	ds = rnd64();
	fill(wbuf, sent, ds);
	if (sent && (write(g_krsock[1], wbuf, sent) != (ssize_t)sent ||
		     write(g_ursock[1], wbuf, sent) != (ssize_t)sent))
		die("recvfile: queueing %zu bytes: %s", sent, strerror(errno));
	setop("recvfile(h%d %s %s, off=%s%lld, len=%zu, flags=%u) of %zu "
	      "queued [pos %lld, size %lld]",
	      slot, qp(h->path), flagstr(h->flags), usepos ? "NULL, pos " : "",
	      (long long)(usepos ? kpos(h) : off), len, flags, sent,
	      (long long)kpos(h), (long long)size);
	koff = uoff = off;
	k = kernel_recvfile(h, g_krsock[0], usepos ? NULL : &koff, len);
	u = udax_recvfile(h->u, g_ursock[0], usepos ? NULL : &uoff, len, flags);
	cmp_ret(k, u);
	if (!usepos && koff != uoff)
		fail("afterwards the offset is %lld in the kernel, %lld in "
		     "udax",
		     (long long)koff, (long long)uoff);
	MS.recvs++;
	MS.recvd += k > 0 ? (uint64_t)k : 0;
	if (k > 0) {
		off_t at = usepos ? kpos(h) - k : off;
		cmp_handle_now(h);
		readback(h, at, (size_t)k);
		maps_changed(h->k, CHG_REPLACE, at, k);
	}
	/* what neither took is left alike, and goes */
	k = send_drain((int[2]){-1, g_krsock[0]}, kbuf);
	u = send_drain((int[2]){-1, g_ursock[0]}, ubuf);
	setop("what that recvfile left in the sockets");
	cmp_ret(k, u);
}

/* ------------------------------------------------------------------ */
/* namespace operations                                                 */

static void op_mkdir(void)
{
	char path[PBUF];
	mode_t mode = gen_mode(1);
	long k, u;

	if (g_avoid & AVOID_SXID)
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	gen_path_w(path, W_NEW);
	setop("mkdir(%s, 0%o)", qp(path), (unsigned)mode);
	k = KR(mkdir(path, mode));
	u = udax_mkdir(fs, path, mode);
	cmp_ret(k, u);
	if (!k)
		cmp_path(path, 0);
}

static void op_rmdir(void)
{
	char path[PBUF];
	long k, u;

	gen_path_w(path, W_LEAF);
	setop("rmdir(%s)", qp(path));
	k = KR(rmdir(path));
	u = udax_rmdir(fs, path);
	cmp_ret(k, u);
}

static void op_unlink(void)
{
	char path[PBUF];
	long k, u;

	gen_path_w(path, W_NODIR);
	setop("unlink(%s)", qp(path));
	k = KR(unlink(path));
	u = udax_unlink(fs, path);
	cmp_ret(k, u);
}

static void op_rename(void)
{
	char from[PBUF], to[PBUF];
	unsigned fl;
	int r = (int)rnd(100);
	long k, u;

	gen_path(from);
	gen_path2(to, from);
	for (int i = 0;
	     i < 20 && (g_avoid & AVOID_ANCESTOR) && related(from, to); i++)
		gen_path2(to, from);
	if (r < 68)
		fl = 0;
	else if (r < 82)
		fl = RENAME_NOREPLACE;
	else if (r < 98)
		fl = RENAME_EXCHANGE;
	else if (r < 99)
		fl = RENAME_NOREPLACE | RENAME_EXCHANGE; /* EINVAL */
	else
		fl = 0x100; /* undefined flag: EINVAL */
	setop("rename(%s, %s, %s)", qp(from), qp(to), renflagstr(fl));
	k = KR(syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, fl));
	u = udax_rename(fs, from, to, fl);
	cmp_ret(k, u);
	if (!k) {
		cmp_path(from, 0);
		cmp_path(to, 0);
	}
}

static void op_link(void)
{
	char from[PBUF], to[PBUF];
	long k, u;

	gen_path_w(from, W_NODIR);
	gen_path2(to, from);
	setop("link(%s, %s)", qp(from), qp(to));
	k = KR(link(from, to));
	u = udax_link(fs, from, to);
	cmp_ret(k, u);
	if (!k) {
		cmp_path(from, 0);
		cmp_path(to, 0);
	}
}

static void op_symlink(void)
{
	char target[PBUF], path[PBUF];
	long k, u;

	gen_symlink_target(target);
	gen_path_w(path, W_NEW);
	setop("symlink(%s, %s)", qp(target), qp(path));
	k = KR(symlink(target, path));
	u = udax_symlink(fs, target, path);
	cmp_ret(k, u);
	if (!k)
		cmp_path(path, 0);
}

static void op_readlink(void)
{
	char path[PBUF], kb[PATH_MAX + 8], ub[PATH_MAX + 8];
	size_t sz;
	int r = (int)rnd(100);
	long k, u;

	gen_path_w(path, W_LNK);
	sz = r < 85 ? PATH_MAX : r < 98 ? 1 + rnd(12) : 0;
	setop("readlink(%s, bufsize %zu)", qp(path), sz);
	/* bufsiz 0 is EINVAL for readlink(2) */
	k = KR(readlink(path, kb, sz));
	u = udax_readlink(fs, path, ub, sz);
	cmp_ret(k, u);
	if (k > 0 && memcmp(kb, ub, (size_t)k))
		fail("readlink contents differ: kernel \"%.*s\", udax \"%.*s\"",
		     (int)k, kb, (int)u, ub);
}

static void op_chmod(void)
{
	char path[PBUF];
	mode_t mode = gen_mode(chance(50));
	long k, u;

	gen_path(path);
	setop("chmod(%s, 0%o)", qp(path), (unsigned)mode);
	k = KR(chmod(path, mode));
	u = udax_chmod(fs, path, mode);
	cmp_ret(k, u);
	if (!k)
		cmp_path(path, 1);
}

static void op_chown(void)
{
	static const uid_t uids[] = {0, 1000, (uid_t)-1};
	static const gid_t gids[] = {0, 100, (gid_t)-1};
	char path[PBUF];
	uid_t uid = uids[rnd(3)];
	gid_t gid = gids[rnd(3)];
	int l = chance(30);
	long k, u;

	gen_path(path);
	setop("%s(%s, %d, %d)", l ? "lchown" : "chown", qp(path), (int)uid,
	      (int)gid);
	k = KR(l ? lchown(path, uid, gid) : chown(path, uid, gid));
	u = l ? udax_lchown(fs, path, uid, gid) :
		udax_chown(fs, path, uid, gid);
	cmp_ret(k, u);
	if (!k)
		cmp_path(path, !l);
}

static void op_stat(void)
{
	char path[PBUF];
	struct stat ks, us;
	int l = chance(40);
	long k, u;

	gen_path(path);
	setop("%s(%s)", l ? "lstat" : "stat", qp(path));
	k = KR(l ? lstat(path, &ks) : stat(path, &ks));
	u = l ? udax_lstat(fs, path, &us) : udax_stat(fs, path, &us);
	cmp_ret(k, u);
	if (!k)
		cmp_stat(l ? "lstat" : "stat", &ks, &us);
}

static void op_access(void)
{
	char path[PBUF];
	int mode = chance(25) ? F_OK : 1 + (int)rnd(7);
	long k, u;

	gen_path(path);
	setop("access(%s, %s%s%s%s)", qp(path), mode ? "" : "F_OK",
	      mode & R_OK ? "R" : "", mode & W_OK ? "W" : "",
	      mode & X_OK ? "X" : "");
	k = KR(access(path, mode));
	u = udax_access(fs, path, mode);
	cmp_ret(k, u);
}

static void op_readdir(void)
{
	char path[PBUF];
	struct kent ke[MAXENT];
	struct udax_dirent ue[MAXENT + 2];
	int n;

	gen_path(path);
	setop("readdir(%s)", qp(path));
	n = cmp_listing(path, ke, ue, "readdir");
	if (g_verbose)
		printf("[%" PRIu64 "] %s = %s\n", g_step, g_op, rs(n));
	if (n < 0 || !chance(50))
		return;
	/* cookies: seeking to the cookie of entry i continues with i+1 */
	{
		struct udax_dir *d = NULL;
		struct udax_dirent all[MAXENT + 2], de;
		int m = 0, r, i, j;

		if ((r = udax_dir_open(fs, path, &d)) < 0)
			fail("udax_dir_open again: %s", rs(r));
		while ((r = udax_dir_read(d, &de)) == 1 && m < MAXENT + 2)
			all[m++] = de;
		if (r < 0)
			fail("udax_dir_read: %s", rs(r));
		i = (int)rnd((uint64_t)m + 1) - 1; /* -1: cookie 0 */
		r = udax_dir_seek(d, i < 0 ? 0 : all[i].off);
		if (r)
			fail("udax_dir_seek(cookie of entry %d = %llu): %s", i,
			     i < 0 ? 0ULL : (unsigned long long)all[i].off,
			     rs(r));
		for (j = i + 1; j <= m; j++) {
			r = udax_dir_read(d, &de);
			if (j == m ? r != 0 :
				     r != 1 || strcmp(de.name, all[j].name))
				fail("after udax_dir_seek to the cookie of "
				     "entry %d (%s), read %d gives %s %s, "
				     "expected %s",
				     i, i < 0 ? "start" : all[i].name, j, rs(r),
				     r == 1 ? de.name : "",
				     j == m ? "the end" : all[j].name);
		}
		r = udax_dir_close(&d);
		if (r)
			fail("udax_dir_close: %s", rs(r));
	}
}

static void op_utimens(void)
{
	char path[PBUF];
	struct timespec ts[2], *tp = ts, now0, now1;
	int fl = chance(30) ? AT_SYMLINK_NOFOLLOW : 0;
	char desc[2][48];
	long k, u;

	gen_path(path);
	if (chance(10)) {
		tp = NULL;
		strcpy(desc[0], "NULL");
		desc[1][0] = 0;
	} else {
		do {
			for (int i = 0; i < 2; i++) {
				int r = (int)rnd(100);
				ts[i].tv_sec = (time_t)rnd(2000000000);
				ts[i].tv_nsec = (long)rnd(1000000000);
				if (r < 15)
					ts[i].tv_nsec = UTIME_NOW;
				else if (r < 30)
					ts[i].tv_nsec = UTIME_OMIT;
			}
		} while (ts[0].tv_nsec == UTIME_OMIT &&
			 ts[1].tv_nsec == UTIME_OMIT);
		if (chance(3)) {
			/* invalid tv_nsec, only on a path that resolves */
			struct stat st;
			if (fstatat(AT_FDCWD, path, &st, fl) == 0)
				ts[rnd(2)].tv_nsec = 1000000000 + (long)rnd(5);
		}
		for (int i = 0; i < 2; i++) {
			if (ts[i].tv_nsec == UTIME_NOW)
				strcpy(desc[i], "NOW");
			else if (ts[i].tv_nsec == UTIME_OMIT)
				strcpy(desc[i], "OMIT");
			else
				snprintf(desc[i], sizeof desc[i], "%lld.%09ld",
					 (long long)ts[i].tv_sec,
					 ts[i].tv_nsec);
		}
	}
	setop("utimensat(%s, [%s, %s], %s)", qp(path), desc[0], desc[1],
	      fl ? "AT_SYMLINK_NOFOLLOW" : "0");
	clock_gettime(CLOCK_REALTIME, &now0);
	k = KR(utimensat(AT_FDCWD, path, tp, fl));
	u = udax_utimens(fs, path, tp, fl);
	clock_gettime(CLOCK_REALTIME, &now1);
	cmp_ret(k, u);
	if (k)
		return;
	{
		struct stat ks, us;
		long k2 = KR(fstatat(AT_FDCWD, path, &ks, fl));
		long u2 = fl ? udax_lstat(fs, path, &us) :
			       udax_stat(fs, path, &us);
		if (k2 != u2)
			fail("afterwards %s: kernel %s, udax %s",
			     fl ? "lstat" : "stat", rs(k2), rs(u2));
		if (k2)
			return;
		cmp_stat("afterwards stat", &ks, &us);
		struct timespec *kt[2] = {&ks.st_atim, &ks.st_mtim};
		struct timespec *ut[2] = {&us.st_atim, &us.st_mtim};
		for (int i = 0; i < 2; i++) {
			long nsec = tp ? ts[i].tv_nsec : UTIME_NOW;
			if (nsec == UTIME_OMIT)
				continue;
			/* following a symlink updates its atime (Linux), and
			 * the stat above may have followed it ("l/../l") */
			if (i == 0 && S_ISLNK(ks.st_mode))
				continue;
			if (nsec == UTIME_NOW) {
				/* "now": within the call, give or take 1 s of
				 * clock granularity */
				if (ut[i]->tv_sec < now0.tv_sec - 1 ||
				    ut[i]->tv_sec > now1.tv_sec + 1)
					fail("%s set to now is %lld.%09ld, the "
					     "clock said %lld",
					     i ? "mtime" : "atime",
					     (long long)ut[i]->tv_sec,
					     ut[i]->tv_nsec,
					     (long long)now0.tv_sec);
				continue;
			}
			if (kt[i]->tv_sec != ut[i]->tv_sec ||
			    kt[i]->tv_nsec != ut[i]->tv_nsec)
				fail("%s after utimensat: kernel %lld.%09ld, "
				     "udax %lld.%09ld",
				     i ? "mtime" : "atime",
				     (long long)kt[i]->tv_sec, kt[i]->tv_nsec,
				     (long long)ut[i]->tv_sec, ut[i]->tv_nsec);
		}
	}
}

static void op_statfs(void)
{
	setop("statfs()");
	statfs_sanity("statfs");
}

/* ------------------------------------------------------------------ */
/* directory scans across modifications                                 */

struct dscan {
	int used, dead, dots, nread;
	struct udax_dir *u;
	int kfd;
	uint32_t stable, ever, seen;
	ino_t ino[NPOOL];
	char path[PBUF];
};
static struct dscan D[NDSCAN];

/* Kernel entries of the scanned directory (by its descriptor). */
static uint32_t dscan_klist(struct dscan *d, ino_t *inos)
{
	struct stat st;
	uint32_t m = 0;
	int fd;
	DIR *dd;
	struct dirent *de;

	if (fstat(d->kfd, &st) || st.st_nlink == 0) {
		d->dead = 1;
		return 0;
	}
	fd = openat(d->kfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dd = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		d->dead = 1;
		return 0;
	}
	while ((de = readdir(dd))) {
		int i = pool_index(de->d_name);
		if (i >= 0) {
			m |= 1u << i;
			inos[i] = de->d_ino;
		}
	}
	closedir(dd);
	return m;
}

static void dscan_update(void)
{
	for (int s = 0; s < NDSCAN; s++) {
		struct dscan *d = &D[s];
		ino_t inos[NPOOL];
		uint32_t m;

		if (!d->used || d->dead)
			continue;
		m = dscan_klist(d, inos);
		if (d->dead)
			continue;
		for (int i = 0; i < NPOOL; i++)
			if ((d->stable >> i & 1) &&
			    (!(m >> i & 1) || inos[i] != d->ino[i]))
				d->stable &= ~(1u << i);
		d->ever |= m;
	}
}

/* Check one entry returned by a scan; r is udax_dir_read's result. */
static int dscan_entry(int s, int r, const struct udax_dirent *e)
{
	struct dscan *d = &D[s];
	int i;

	if (r < 0) {
		if (d->dead && r == -ENOENT)
			return 0;
		fail("scan s%d of %s: udax_dir_read returned %s", s,
		     qp(d->path), rs(r));
	}
	if (r == 0)
		return 0;
	if (r != 1)
		fail("scan s%d: udax_dir_read returned %d", s, r);
	if (!strcmp(e->name, ".") || !strcmp(e->name, "..")) {
		int b = e->name[1] ? 2 : 1;
		if (d->dots & b)
			fail("scan s%d of %s: %s returned twice", s,
			     qp(d->path), e->name);
		if (!d->dead && d->nread != (d->dots ? 1 : 0))
			fail("scan s%d of %s: %s after other entries", s,
			     qp(d->path), e->name);
		d->dots |= b;
	} else {
		i = pool_index(e->name);
		if (i < 0 || !(d->ever >> i & 1))
			fail("scan s%d of %s: returned %s, which was never in "
			     "the directory during the scan",
			     s, qp(d->path), qp(e->name));
		if (d->seen >> i & 1)
			fail("scan s%d of %s: returned %s twice", s,
			     qp(d->path), e->name);
		if (!d->dead && d->dots != 3)
			fail("scan s%d of %s: %s before \".\" and \"..\"", s,
			     qp(d->path), e->name);
		d->seen |= 1u << i;
	}
	d->nread++;
	return 1;
}

static void dscan_close(int s)
{
	struct dscan *d = &D[s];
	struct udax_dirent e;
	int r, n = 0;
	long u;

	setop("scan s%d of %s: read to the end and close", s, qp(d->path));
	while ((r = udax_dir_read(d->u, &e)) != 0) {
		if (!dscan_entry(s, r, &e))
			break;
		if (++n > 1000)
			fail("scan s%d: more than 1000 entries", s);
	}
	if (!d->dead) {
		uint32_t miss = d->stable & ~d->seen;
		if (miss)
			fail("scan s%d of %s: entry %s, present and unchanged "
			     "during the whole scan, was never returned",
			     s, qp(d->path), pool[__builtin_ctz(miss)]);
		if (d->dots != 3)
			fail("scan s%d of %s: \".\" or \"..\" never returned",
			     s, qp(d->path));
	}
	u = udax_dir_close(&d->u);
	close(d->kfd);
	d->used = 0;
	if (u)
		fail("udax_dir_close: %s", rs(u));
	if (g_verbose)
		printf("[%" PRIu64 "] %s: ok\n", g_step, g_op);
}

static void op_dscan_open(void)
{
	int s = (int)rnd(NDSCAN);
	struct dscan *d = &D[s];
	char path[PBUF];
	long k, u;
	int kfd;
	struct udax_dir *ud = NULL;

	if (d->used)
		dscan_close(s);
	gen_path(path);
	setop("scan s%d: open directory %s", s, qp(path));
	kfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	k = kfd < 0 ? -errno : 0;
	u = udax_dir_open(fs, path, &ud);
	cmp_ret(k, u);
	if (k)
		return;
	memset(d, 0, sizeof *d);
	d->used = 1;
	d->u = ud;
	d->kfd = kfd;
	snprintf(d->path, sizeof d->path, "%s", path);
	d->stable = d->ever = dscan_klist(d, d->ino);
}

static void op_dscan_read(void)
{
	int s = (int)rnd(NDSCAN), n = 1 + (int)rnd(3);
	struct dscan *d = &D[s];
	struct udax_dirent e;

	if (!d->used) {
		op_dscan_open();
		return;
	}
	setop("scan s%d of %s: read %d entries", s, qp(d->path), n);
	for (int i = 0; i < n; i++)
		if (!dscan_entry(s, udax_dir_read(d->u, &e), &e))
			break;
	if (g_verbose)
		printf("[%" PRIu64 "] %s: ok\n", g_step, g_op);
}

static void op_dscan_close(void)
{
	int s = (int)rnd(NDSCAN);

	if (!D[s].used) {
		op_dscan_open();
		return;
	}
	dscan_close(s);
}

/* ---- special files and extended attributes ---- */

static void op_mknod(void)
{
	static const mode_t types[] = {S_IFIFO,	 S_IFIFO, S_IFIFO, S_IFSOCK,
				       S_IFSOCK, S_IFCHR, S_IFCHR, S_IFBLK,
				       S_IFREG,	 0,	  S_IFDIR, 0170000};
	char path[PBUF];
	mode_t type = types[rnd(sizeof types / sizeof *types)];
	mode_t mode = gen_mode(0) | type;
	dev_t dev = 0;
	long k, u;

	/* device numbers with no driver, so that the kernel's open answers
	 * ENXIO as udax's does; sometimes 0:0, a whiteout */
	if (chance(85))
		dev = makedev(4000 + (unsigned)rnd(96),
			      (unsigned)rnd(1u << 20));
	gen_path_w(path, chance(80) ? W_NEW : W_ANY);
	setop("mknod(%s, 0%o, %u:%u)", qp(path), (unsigned)mode, major(dev),
	      minor(dev));
	k = KR(mknod(path, mode, dev));
	u = udax_mknod(fs, path, mode, dev);
	cmp_ret(k, u);
	if (!k)
		cmp_path(path, 0);
}

/* An xattr name: mostly a few of each namespace, sometimes one the
 * kernel refuses (no namespace, an empty suffix, too long, empty). */
static const char *gen_xname(char *buf, size_t size)
{
	static const char *const names[] = {
		"user.a",     "user.b",	   "user.long_name_of_an_attribute",
		"trusted.t",  "trusted.u", "security.s",
		"user.c",     "foo.bar",   "user.",
		"system.foo", ""};
	int r = (int)rnd(100);

	if (r < 90)
		return names[rnd(r < 80 ? 7 : sizeof names / sizeof *names)];
	/* 254..257 bytes: around the limit of 255 */
	size_t len = 254 + rnd(4);
	if (len >= size)
		len = size - 1;
	memset(buf, 'x', len);
	memcpy(buf, "user.", 5);
	buf[len] = 0;
	return buf;
}

/* A value size: mostly small, sometimes in chunks, rarely too large. */
static size_t gen_xsize(void)
{
	int r = (int)rnd(100);

	return r < 70 ? rnd(64) :
	       r < 90 ? rnd(4096) :
	       r < 98 ? 4096 + rnd(65536 - 4096 + 1) :
	       r < 99 ? 65536 :
			65537;
}

static void op_setxattr(void)
{
	static const int flagv[] = {0,
				    0,
				    0,
				    XATTR_CREATE,
				    XATTR_REPLACE,
				    XATTR_CREATE | XATTR_REPLACE,
				    4};
	char path[PBUF], nb[300];
	const char *name = gen_xname(nb, sizeof nb);
	size_t size = gen_xsize();
	int fl = flagv[rnd(sizeof flagv / sizeof *flagv)], l = chance(30);
	static unsigned char val[65537];
	long k, u;

	fill(val, size, rnd64());
	gen_path(path);
	setop("%s(%s, %s, %zu bytes, %d)", l ? "lsetxattr" : "setxattr",
	      qp(path), name, size, fl);
	k = KR(l ? lsetxattr(path, name, val, size, fl) :
		   setxattr(path, name, val, size, fl));
	u = l ? udax_lsetxattr(fs, path, name, val, size, fl) :
		udax_setxattr(fs, path, name, val, size, fl);
	cmp_ret(k, u);
	if (!k)
		cmp_xattrs("afterwards", path);
}

static void op_getxattr(void)
{
	static char kv[65536], uv[65536];
	char path[PBUF], nb[300];
	const char *name = gen_xname(nb, sizeof nb);
	int r = (int)rnd(100), l = chance(30);
	size_t size = r < 70 ? sizeof kv : r < 85 ? 0 : rnd(64);
	long k, u;

	gen_path(path);
	setop("%s(%s, %s, size %zu)", l ? "lgetxattr" : "getxattr", qp(path),
	      name, size);
	k = KR(l ? lgetxattr(path, name, kv, size) :
		   getxattr(path, name, kv, size));
	u = l ? udax_lgetxattr(fs, path, name, uv, size) :
		udax_getxattr(fs, path, name, uv, size);
	cmp_ret(k, u);
	if (k > 0 && size && memcmp(kv, uv, (size_t)k))
		fail("getxattr values differ");
}

static void op_listxattr(void)
{
	static char kl[4096], ul[4096];
	char path[PBUF], *kn[64], *un[64];
	int r = (int)rnd(100), l = chance(30);
	size_t size = r < 80 ? sizeof kl : r < 90 ? 0 : rnd(32);
	long k, u;

	gen_path(path);
	setop("%s(%s, size %zu)", l ? "llistxattr" : "listxattr", qp(path),
	      size);
	k = KR(l ? llistxattr(path, kl, size) : listxattr(path, kl, size));
	u = l ? udax_llistxattr(fs, path, ul, size) :
		udax_listxattr(fs, path, ul, size);
	cmp_ret(k, u);
	if (k > 0 && size) {
		int nk = names_sort(kl, k, kn, 64),
		    nu = names_sort(ul, u, un, 64);
		for (int i = 0; i < nk; i++)
			if (nk != nu || strcmp(kn[i], un[i]))
				fail("listxattr names differ");
	}
}

static void op_removexattr(void)
{
	char path[PBUF], nb[300];
	const char *name = gen_xname(nb, sizeof nb);
	int l = chance(30);
	long k, u;

	gen_path(path);
	setop("%s(%s, %s)", l ? "lremovexattr" : "removexattr", qp(path), name);
	k = KR(l ? lremovexattr(path, name) : removexattr(path, name));
	u = l ? udax_lremovexattr(fs, path, name) :
		udax_removexattr(fs, path, name);
	cmp_ret(k, u);
}

/* ------------------------------------------------------------------ */
/* the operation table                                                  */

struct op {
	const char *name;
	unsigned weight;
	void (*fn)(void);
	int grows;   /* replaced by a shrinking operation in shrink mode */
	int mapping; /* needs udax_mmap */
};

static struct op ops[] = {
	{"open", 10, op_open, 0, 0},
	{"close", 5, op_close, 0, 0},
	{"pwrite", 14, op_pwrite, 0, 0},
	{"write", 5, op_write, 0, 0},
	{"pread", 10, op_pread, 0, 0},
	{"read", 4, op_read, 0, 0},
	{"lseek", 3, op_lseek, 0, 0},
	{"seek_data_hole", 3, op_seek_dh, 0, 0},
	{"ftruncate", 6, op_ftruncate, 0, 0},
	{"fallocate", 6, op_fallocate, 0, 0},
	{"fstat", 3, op_fstat, 0, 0},
	{"fsync", 1, op_fsync, 0, 0},
	{"mkdir", 4, op_mkdir, 0, 0},
	{"rmdir", 4, op_rmdir, 0, 0},
	{"unlink", 5, op_unlink, 0, 0},
	{"rename", 8, op_rename, 0, 0},
	{"link", 3, op_link, 0, 0},
	{"symlink", 3, op_symlink, 0, 0},
	{"readlink", 2, op_readlink, 0, 0},
	{"chmod", 2, op_chmod, 0, 0},
	{"chown", 1, op_chown, 0, 0},
	{"stat", 4, op_stat, 0, 0},
	{"access", 1, op_access, 0, 0},
	{"readdir", 3, op_readdir, 0, 0},
	{"utimens", 2, op_utimens, 0, 0},
	{"statfs", 1, op_statfs, 0, 0},
	{"mknod", 2, op_mknod, 0, 0},
	{"setxattr", 3, op_setxattr, 0, 0},
	{"getxattr", 2, op_getxattr, 0, 0},
	{"listxattr", 1, op_listxattr, 0, 0},
	{"removexattr", 2, op_removexattr, 0, 0},
	{"scan_open", 1, op_dscan_open, 0, 0},
	{"scan_read", 2, op_dscan_read, 0, 0},
	{"scan_close", 1, op_dscan_close, 0, 0},
	{"mmap", 5, op_mmap, 0, 1},
	{"munmap", 2, op_munmap, 0, 1},
	{"mflash", 1, op_mflash, 0, 1},
	{"mstore", 8, op_mstore, 0, 1},
	{"mload", 6, op_mload, 0, 1},
	{"mscan", 3, op_mscan, 0, 1},
	{"msync", 2, op_msync, 0, 1},
	{"mpread", 3, op_mpread, 0, 1},
	{"mpwrite", 3, op_mpwrite, 0, 1},
	{"pin", 2, op_pin, 0, 1},
	{"unpin", 1, op_unpin, 0, 1},
	{"sendfile", 4, op_sendfile, 0, 0},
	{"clone", 3, op_clone, 1, 0},
	{"dedupe", 2, op_dedupe, 1, 0},
	{"recvfile", 4, op_recvfile, 0, 0},
};
#define NOPS (sizeof ops / sizeof *ops)

static struct op *pick_op(void)
{
	unsigned total = 0, r;

	for (size_t i = 0; i < NOPS; i++)
		total += ops[i].weight;
	r = (unsigned)rnd(total);
	for (size_t i = 0; i < NOPS; i++) {
		if (r < ops[i].weight)
			return &ops[i];
		r -= ops[i].weight;
	}
	return &ops[0];
}

/* ------------------------------------------------------------------ */
/* the end: close and remove everything on both sides                    */

/* Remove every xattr of a name on both sides (the root's, at the end:
 * its tree's nodes would count as a leak). */
static void remove_xattrs(const char *path)
{
	static char kl[65536];
	long k = KR(llistxattr(path, kl, sizeof kl));

	for (long i = 0; i < k; i += (long)strlen(kl + i) + 1) {
		setop("cleanup: lremovexattr(%s, %s)", qp(path), kl + i);
		cmp_ret(KR(lremovexattr(path, kl + i)),
			udax_lremovexattr(fs, path, kl + i));
	}
}

static void finish(void)
{
	struct statvfs sv;
	long u;

	full_check("at the end, before unmapping");
	for (int i = 0; i < NPINS; i++)
		if (P[i].pin)
			unpin_slot(i);
	unmap_all("cleanup: ");
	full_check("at the end, after");
	/* what the fault layer counts came back down with the mappings */
	struct fault_counters fcnt;
	fault_fs_counters(fs, &fcnt);
	if (fcnt.maps || fcnt.pieces || fcnt.pieces_counted || fcnt.busy ||
	    fcnt.queued)
		fail("after the last munmap the fault layer still counts %ld "
		     "mappings, %lld pieces (%lld by its bits), %ld busy, %zu "
		     "queued",
		     fcnt.maps, (long long)fcnt.pieces,
		     (long long)fcnt.pieces_counted, fcnt.busy, fcnt.queued);
	for (int s = 0; s < NDSCAN; s++)
		if (D[s].used)
			dscan_close(s);
	for (int i = 0; i < NHANDLES; i++)
		if (H[i].used)
			close_handle(i);
	full_check("after closing everything, after");
	remove_tree("/", 0);
	remove_xattrs("/");
	full_check("after removing everything, after");
	setop("final space check: everything closed and removed");
	u = udax_statfs(fs, &sv);
	if (u)
		fail("udax_statfs: %s", rs(u));
	if (sv.f_bfree != g_sv0.f_bfree || sv.f_ffree != g_sv0.f_ffree)
		fail("udax leaks: at the start %llu blocks and %llu inodes "
		     "were "
		     "free, with everything removed %llu blocks and %llu "
		     "inodes are",
		     (unsigned long long)g_sv0.f_bfree,
		     (unsigned long long)g_sv0.f_ffree,
		     (unsigned long long)sv.f_bfree,
		     (unsigned long long)sv.f_ffree);
	setop("udax_close");
	u = udax_close(&fs);
	if (u || fs)
		fail("udax_close at the end: %s", rs(u));
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: difftest [--seed S] [--ops N] [--verbose] [--size "
		"BYTES]\n"
		"                [--check-every N] [--disable OP[,OP...]] "
		"[--avoid CLASS[,CLASS...]] [--keep]\n"
		"operations:");
	for (size_t i = 0; i < NOPS; i++)
		fprintf(stderr, " %s", ops[i].name);
	fprintf(stderr, "\nclasses:");
	for (size_t i = 0; i < NAVOID; i++)
		fprintf(stderr, " %s", avoid_names[i]);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seed", required_argument, 0, 's'},
		{"ops", required_argument, 0, 'n'},
		{"verbose", no_argument, 0, 'v'},
		{"size", required_argument, 0, 'S'},
		{"check-every", required_argument, 0, 'c'},
		{"disable", required_argument, 0, 'd'},
		{"avoid", required_argument, 0, 'A'},
		{"keep", no_argument, 0, 'k'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int have_seed = 0, c;
	long r;

	while ((c = getopt_long(argc, argv, "s:n:vS:c:d:A:kh", lo, NULL)) !=
	       -1) {
		size_t el = strlen(g_extra_args);
		switch (c) {
		case 's':
			g_seed = strtoull(optarg, NULL, 0);
			have_seed = 1;
			break;
		case 'n':
			g_nops = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			g_verbose = 1;
			break;
		case 'S':
			g_devsize = parse_size(optarg);
			snprintf(g_extra_args + el, sizeof g_extra_args - el,
				 " --size %s", optarg);
			break;
		case 'c':
			g_check_every = strtoull(optarg, NULL, 0);
			if (!g_check_every)
				g_check_every = 1;
			snprintf(g_extra_args + el, sizeof g_extra_args - el,
				 " --check-every %s", optarg);
			break;
		case 'd': {
			char *save = NULL, *tok, *list = strdup(optarg);
			for (tok = strtok_r(list, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				size_t i;
				for (i = 0; i < NOPS; i++)
					if (!strcmp(ops[i].name, tok))
						break;
				if (i == NOPS) {
					fprintf(stderr,
						"difftest: no operation "
						"%s\n",
						tok);
					usage();
				}
				ops[i].weight = 0;
			}
			free(list);
			snprintf(g_extra_args + el, sizeof g_extra_args - el,
				 " --disable %s", optarg);
			break;
		}
		case 'A': {
			char *save = NULL, *tok, *list = strdup(optarg);
			for (tok = strtok_r(list, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				unsigned i;
				for (i = 0; i < NAVOID; i++)
					if (!strcmp(avoid_names[i], tok))
						break;
				if (i == NAVOID) {
					fprintf(stderr,
						"difftest: no class "
						"%s\n",
						tok);
					usage();
				}
				g_avoid |= 1u << i;
			}
			free(list);
			snprintf(g_extra_args + el, sizeof g_extra_args - el,
				 " --avoid %s", optarg);
			break;
		}
		case 'k':
			g_keep = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!have_seed) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		g_seed = ((uint64_t)ts.tv_sec * 1000003u) ^
			 (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		g_seed %= 1000000000000ULL;
	}
	rng_state = g_seed;
	if ((off_t)(g_devsize / 32) < g_maxfile)
		g_maxfile = (off_t)(g_devsize / 32);
	printf("difftest: seed %" PRIu64 "\n", g_seed);
	fflush(stdout);

	wbuf = malloc(MAXIO + 64);
	kbuf = malloc(MAXIO + 64);
	ubuf = malloc(MAXIO + 64);
	kmb = malloc(MAXMAPLEN + PG);
	umb = malloc(MAXMAPLEN + PG);
	if (!wbuf || !kbuf || !ubuf || !kmb || !umb)
		die("out of memory");
	g_scratch = memfd_create("difftest-scratch", MFD_CLOEXEC);
	if (g_scratch < 0)
		die("memfd_create: %s", strerror(errno));

	/* udax first, while /dev and /proc are still reachable */
	r = udax_open_memory(&fs, g_devsize);
	if (r)
		die("udax_open_memory(%llu): %s", (unsigned long long)g_devsize,
		    rs(r));

	/* the kernel side: a fresh tmpfs directory as "/" */
	umask(0); /* udax's default umask is 0 */
	strcpy(g_tmpdir, "/dev/shm/difftest.XXXXXX");
	if (!mkdtemp(g_tmpdir))
		die("mkdtemp(%s): %s", g_tmpdir, strerror(errno));
	g_realroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g_procfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g_realroot < 0 || chdir(g_tmpdir) != 0)
		die("cannot enter %s: %s", g_tmpdir, strerror(errno));
	if (chroot(".") != 0) {
		int e = errno;
		g_chrooted = 0;
		if (chdir("/")) {
			/* ignore */
		}
		cleanup();
		printf("difftest: skipped: chroot: %s (run as root)\n",
		       strerror(e));
		return 77;
	}
	g_chrooted = 1;
	catch_fatal_signals();
	if (chdir("/") != 0)
		die("chdir: %s", strerror(errno));
	{
		/* the kernel root takes udax's root attributes (mkdtemp made
		 * it 0700) */
		struct stat us;
		r = udax_stat(fs, "/", &us);
		if (r)
			die("udax_stat(\"/\"): %s", rs(r));
		if (chmod("/", us.st_mode & 07777) ||
		    chown("/", us.st_uid, us.st_gid))
			die("chmod/chown of the kernel root: %s",
			    strerror(errno));
	}
	{
		/* warm-up: a directory may keep the block it grew (directories
		 * do not shrink on many file systems), so the space baseline is
		 * taken after one file was created and removed in the root */
		struct udax_file *uf = NULL;
		int kfd;
		setop("warm-up: create and remove \"/a\"");
		kfd = open("/a", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (kfd < 0)
			die("warm-up: open: %s", strerror(errno));
		r = udax_file_open(fs, "/a", O_RDWR | O_CREAT | O_EXCL, 0644,
				   &uf);
		cmp_ret(0, r);
		{
			/* can udax map here (userfaultfd permitted)? */
			void *p = NULL;
			r = udax_mmap(uf, 0, PG, PROT_READ, UDAX_MAP_SHARED,
				      &p);
			if (r == -EPERM) {
				printf("difftest: udax_mmap not permitted "
				       "here: mapping operations left out\n");
				for (size_t i = 0; i < NOPS; i++)
					if (ops[i].mapping)
						ops[i].weight = 0;
			} else if (r) {
				die("udax_mmap probe: %s", rs(r));
			} else if ((r = udax_munmap(p, PG)) != 0) {
				die("udax_munmap probe: %s", rs(r));
			}
		}
		cmp_ret(KR(close(kfd)), udax_file_close(&uf));
		cmp_ret(KR(unlink("/a")), udax_unlink(fs, "/a"));
		r = udax_statfs(fs, &g_sv0);
		if (r)
			die("udax_statfs: %s", rs(r));
	}

	for (g_step = 0; g_step < g_nops; g_step++) {
		struct op *op = pick_op();
		if (g_shrink && chance(20)) {
			/* shrink: truncate a handle or unlink something */
			if (chance(50))
				op_unlink();
			else
				op_ftruncate();
		} else {
			op->fn();
		}
		dscan_update();
		if ((g_step + 1) % (g_devsize >= (64 << 20) ? 250 : 50) == 0)
			budget_update();
		if ((g_step + 1) % g_check_every == 0)
			full_check("after");
	}
	g_step = g_nops;
	finish();
	cleanup();
	if (MS.sends || MS.pins)
		printf("difftest: sendfile: %" PRIu64 " calls, %" PRIu64
		       " bytes alike; pins: %" PRIu64 " long-term (%" PRIu64
		       " recalled by a break), %" PRIu64 " unpins, %" PRIu64
		       " bad pins refused as documented\n",
		       MS.sends, MS.sent, MS.pins, MS.recalls, MS.unpins,
		       MS.pinbad);
	if (MS.clones || MS.clone_err || MS.dedupe_same || MS.dedupe_diff)
		printf("difftest: reflink: %" PRIu64 " clones (%" PRIu64
		       " refused alike); dedupe: %" PRIu64 " shared, %" PRIu64
		       " differ, %" PRIu64 " refused alike\n",
		       MS.clones, MS.clone_err, MS.dedupe_same, MS.dedupe_diff,
		       MS.dedupe_err);
	if (MS.recvs)
		printf("difftest: recvfile: %" PRIu64 " calls, %" PRIu64
		       " bytes alike\n",
		       MS.recvs, MS.recvd);
	if (MS.maps || MS.mapfail)
		printf("difftest: mappings: %" PRIu64 " made (%" PRIu64
		       " refused alike), %" PRIu64 " removed; %" PRIu64
		       " stores, %" PRIu64 " loads, %" PRIu64
		       " pages compared, %" PRIu64 " SIGBUS and %" PRIu64
		       " SIGSEGV alike; %" PRIu64 " kernel and %" PRIu64
		       " udax copies with a mapped buffer; %" PRIu64
		       " msync; %" PRIu64 " private pages restored\n",
		       MS.maps, MS.mapfail, MS.unmaps, MS.stores, MS.loads,
		       MS.pages, MS.sigbus, MS.sigsegv, MS.kaccess, MS.daccess,
		       MS.msyncs, MS.fixups);
	printf("difftest: %" PRIu64 " operations, seed %" PRIu64 ": ok\n",
	       g_nops, g_seed);
	return 0;
}
