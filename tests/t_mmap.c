/* SPDX-License-Identifier: MIT */
/*
 * t_mmap.c - direct-access mappings: the mmap errnos, one copy of the
 * data between mappings and pread/pwrite, the kernel's own accesses to a
 * mapping (read, write, recv, send), holes, end of file and SIGBUS,
 * truncate and punch under mappings (no page left on a freed block),
 * faults from many threads, fork, private and read-only mappings, and a
 * crash test of UDAX_MAP_SYNC on the crash-emulating device.
 *
 * Needs userfaultfd; without permission every case but "eperm" skips.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "age.h"
#include "api/api.h"
#include "device/device.h"
#include "fault/fault.h"
#include "test.h"

#define PG 4096
#define MIB (1024 * 1024)

static struct udax_fs *fs;

/* A fresh memory file system, or skip when userfaultfd is not usable. */
static int fresh(uint64_t size)
{
	if (fs && udax_close(&fs)) {
		fprintf(stderr, "  the previous case left files open\n");
		return -EBUSY;
	}
	return udax_open_memory(&fs, size);
}

/* Does the test device map only in 2 MiB units (UDAX_MEMORY_DEVICE)? */
static int huge_units(void)
{
	const char *e = getenv("UDAX_MEMORY_DEVICE");

	return e && !strcmp(e, "memfd-huge");
}

static int mapping_works(void)
{
	static int known, works;
	struct udax_file *f;
	void *p;

	if (known)
		return works;
	known = 1;
	if (fresh(16 * MIB) ||
	    udax_file_open(fs, "/probe", O_CREAT | O_RDWR, 0644, &f))
		return 0;
	udax_ftruncate(f, PG);
	works = udax_mmap(f, 0, PG, PROT_READ, UDAX_MAP_SHARED, &p) == 0;
	if (works)
		udax_munmap(p, PG);
	udax_file_close(&f);
	return works;
}

#define NEED_MAPPING()                                                         \
	do {                                                                   \
		if (!mapping_works())                                          \
			SKIP("userfaultfd not permitted here");                \
	} while (0)

static struct udax_file *mkfile(const char *path, uint64_t size, int fill)
{
	struct udax_file *f;
	static char buf[64 * 1024];

	if (udax_file_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f))
		return NULL;
	if (fill >= 0) {
		memset(buf, fill, sizeof(buf));
		for (uint64_t o = 0; o < size; o += sizeof(buf))
			udax_pwrite(f, buf,
				    size - o < sizeof(buf) ? size - o :
							     sizeof(buf),
				    (off_t)o);
	} else {
		udax_ftruncate(f, (off_t)size);
	}
	return f;
}

static long long blocks_of(struct udax_file *f)
{
	struct stat st;
	return udax_fstat(f, &st) ? -1 : (long long)st.st_blocks;
}

/* ---- SIGBUS / SIGSEGV catching ---- */

static sigjmp_buf sig_jb;
static volatile sig_atomic_t sig_got;

static void sig_catch(int sig)
{
	sig_got = sig;
	siglongjmp(sig_jb, 1);
}

/* Load one byte; returns the byte, or -SIGNAL if the access raised it. */
static int probe(volatile uint8_t *p, int store, uint8_t v)
{
	struct sigaction sa = {.sa_handler = sig_catch}, obus, osegv;
	int ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	sig_got = 0;
	if (sigsetjmp(sig_jb, 1) == 0) {
		if (store)
			*p = v;
		ret = *p;
	} else {
		ret = -sig_got;
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return ret;
}

/* ---- no page of [addr, addr+len) maps device bytes [lo, hi) ---- */

static int maps_device_range(void *addr, size_t len, uint64_t lo, uint64_t hi)
{
	FILE *mf = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	if (!mf)
		return -1;
	while (fgets(line, sizeof(line), mf)) {
		unsigned long s, e, off;
		char path[256] = "";
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255[^\n]", &s, &e,
			   &off, path) < 3)
			continue;
		if (e <= (uintptr_t)addr || s >= (uintptr_t)addr + len)
			continue;
		/* the test device: a memory file, or the image file made in
		 * UDAX_MEMORY_DEVICE's folder (udax_open_memory) */
		if ((!strstr(path, "memfd:udax") &&
		     !strstr(path, "/udax-mem-")) ||
		    strstr(path, "sigbus"))
			continue;
		/* the part of this kernel mapping inside ours */
		uint64_t ds =
			off + (s < (uintptr_t)addr ? (uintptr_t)addr - s : 0);
		uint64_t de = off + (e - s);
		if (ds < hi && de > lo)
			found = 1;
	}
	fclose(mf);
	return found;
}

/* ---- errnos ---- */

static struct udax_file *ef_rw, *ef_ro, *ef_wo, *ef_app;
static struct udax_dir *ef_dir;

static int mmap_ret(struct udax_file *f, off_t off, size_t len, int prot,
		    int flags)
{
	void *p;
	int ret = udax_mmap(f, off, len, prot, flags, &p);
	if (!ret)
		udax_munmap(p, len);
	return ret;
}

struct errno_case {
	const char *what;
	struct udax_file **f;
	off_t off;
	size_t len;
	int prot, flags, want;
};

#define RW (PROT_READ | PROT_WRITE)
#define SH UDAX_MAP_SHARED
#define PR UDAX_MAP_PRIVATE

static const struct errno_case errno_cases[] = {
	{"ok shared rw", &ef_rw, 0, PG, RW, SH, 0},
	{"ok sync", &ef_rw, 0, PG, RW, SH | UDAX_MAP_SYNC, 0},
	{"ok past eof", &ef_rw, 0, 64 * PG, RW, SH, 0},
	{"ok odd length", &ef_rw, 0, 100, PROT_READ, SH, 0},
	{"ok private rw on O_RDONLY", &ef_ro, 0, PG, RW, PR, 0},
	{"ok shared ro on O_RDONLY", &ef_ro, 0, PG, PROT_READ, SH, 0},
	{"ok prot none", &ef_rw, 0, PG, PROT_NONE, SH, 0},
	{"unaligned offset", &ef_rw, 100, PG, RW, SH, -EINVAL},
	{"negative offset", &ef_rw, -PG, PG, RW, SH, -EINVAL},
	{"zero length", &ef_rw, 0, 0, RW, SH, -EINVAL},
	{"no type", &ef_rw, 0, PG, RW, 0, -EINVAL},
	{"both types", &ef_rw, 0, PG, RW, SH | PR, -EINVAL},
	{"unknown flag", &ef_rw, 0, PG, RW, SH | 0x100, -EINVAL},
	{"sync private", &ef_rw, 0, PG, RW, PR | UDAX_MAP_SYNC, -EINVAL},
	{"bad prot", &ef_rw, 0, PG, 0x100, SH, -EINVAL},
	{"huge length", &ef_rw, 0, SIZE_MAX, RW, SH, -ENOMEM},
	{"offset overflow", &ef_rw, INT64_MAX & ~(off_t)(PG - 1), 2 * PG, RW,
	 SH, -EOVERFLOW},
	{"write-only", &ef_wo, 0, PG, PROT_READ, SH, -EACCES},
	{"shared rw on O_RDONLY", &ef_ro, 0, PG, RW, SH, -EACCES},
	{"shared rw on O_APPEND (as Linux)", &ef_app, 0, PG, RW, SH, 0},
	{"no file", NULL, 0, PG, RW, SH, -EBADF},
};

static int mmap_errnos(void)
{
	struct udax_file *dirf;
	void *p;
	int ret, bad = 0;

	NEED_MAPPING();
	CHECK(!fresh(16 * MIB));
	CHECK((ef_rw = mkfile("/e", 2 * PG, 'e')) != NULL);
	CHECK(!udax_file_open(fs, "/e", O_RDONLY, 0, &ef_ro));
	CHECK(!udax_file_open(fs, "/e", O_WRONLY, 0, &ef_wo));
	CHECK(!udax_file_open(fs, "/e", O_RDWR | O_APPEND, 0, &ef_app));
	for (size_t i = 0; i < sizeof(errno_cases) / sizeof(errno_cases[0]);
	     i++) {
		const struct errno_case *c = &errno_cases[i];
		ret = mmap_ret(c->f ? *c->f : NULL, c->off, c->len, c->prot,
			       c->flags);
		if (ret != c->want) {
			fprintf(stderr, "  mmap %s: got %d, expected %d\n",
				c->what, ret, c->want);
			bad = 1;
		}
	}
	/* a directory opened as a file handle gives ENODEV, as mmap(2) */
	CHECK(!udax_mkdir(fs, "/d", 0755));
	CHECK(!udax_file_open(fs, "/d", O_RDONLY, 0, &dirf));
	CHECK_EQ(mmap_ret(dirf, 0, PG, PROT_READ, SH), -ENODEV);
	udax_file_close(&dirf);
	(void)ef_dir;
	CHECK(!udax_mmap(ef_rw, 0, 3 * PG, RW, SH, &p));
	CHECK_EQ(udax_munmap((char *)p + PG, PG), -EINVAL);
	/* a device that maps in 2 MiB units rounds lengths up to one, as
	 * hugetlbfs does: there PG names the whole mapping */
	if (!huge_units())
		CHECK_EQ(udax_munmap(p, PG), -EINVAL);
	CHECK_EQ(udax_msync((char *)p + 1, PG, MS_SYNC), -EINVAL);
	CHECK_EQ(udax_msync(p, PG, MS_SYNC | MS_ASYNC), -EINVAL);
	CHECK_EQ(udax_msync(p, PG, 0x100), -EINVAL);
	if (!huge_units())
		CHECK_EQ(udax_msync(p, 4 * PG, MS_SYNC), -ENOMEM);
	CHECK_EQ(udax_msync(p, 3 * PG, MS_SYNC), 0);
	CHECK_EQ(udax_msync(p, 0, MS_ASYNC), 0);
	/* the file system stays busy while mapped, also with no file open */
	udax_file_close(&ef_rw);
	udax_file_close(&ef_ro);
	udax_file_close(&ef_wo);
	udax_file_close(&ef_app);
	CHECK_EQ(udax_close(&fs), -EBUSY);
	CHECK_EQ(udax_munmap(p, 3 * PG), 0);
	CHECK_EQ(udax_munmap(p, 3 * PG), -EINVAL);
	CHECK_EQ(udax_close(&fs), 0);
	return bad ? T_FAIL : T_PASS;
}

/* ---- one copy of the data ---- */

static int coherence(void)
{
	struct udax_file *f;
	uint8_t *p, buf[PG];

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/c", 8 * PG, 'a')) != NULL);
	CHECK(!udax_mmap(f, 0, 8 * PG, RW, SH, (void **)&p));
	CHECK_EQ(p[0], 'a');
	CHECK_EQ(p[8 * PG - 1], 'a');
	/* mapped stores are in the file at once */
	memcpy(p + 3 * PG + 10, "mapped", 6);
	CHECK_EQ(udax_pread(f, buf, 6, 3 * PG + 10), 6);
	CHECK(!memcmp(buf, "mapped", 6));
	/* and pwrite is in the mapping at once */
	CHECK_EQ(udax_pwrite(f, "written", 7, 5 * PG + 100), 7);
	CHECK(!memcmp(p + 5 * PG + 100, "written", 7));
	/* a second mapping of the same range sees the first (on a device
	 * that maps whole units, a mapping starts on a unit: EINVAL) */
	uint8_t *q, *q2;
	off_t qo = 2 * PG;
	if (huge_units()) {
		CHECK_EQ(udax_mmap(f, qo, 4 * PG, PROT_READ, SH, (void **)&q),
			 -EINVAL);
		qo = 0;
	}
	CHECK(!udax_mmap(f, qo, 6 * PG - qo, PROT_READ, SH, (void **)&q));
	q2 = q + (2 * PG - qo); /* file offset 2 pages */
	CHECK(!memcmp(q2 + PG + 10, "mapped", 6));
	p[2 * PG] = 'Z';
	CHECK_EQ(q2[0], 'Z');
	CHECK(!udax_munmap(q, 6 * PG - qo));
	/* pread into a mapping of the same file, pwrite from one */
	CHECK_EQ(udax_pread(f, p + 6 * PG, PG, 0), PG);
	CHECK_EQ(p[6 * PG], 'a');
	CHECK_EQ(udax_pwrite(f, p + 3 * PG, PG, 7 * PG), PG);
	CHECK(!memcmp(p + 7 * PG + 10, "mapped", 6));
	/* the same into and from holes of the mapped file itself: the
	 * copies fault while the inode is locked (prefault prevents a
	 * deadlock with the handler, which needs the lock) */
	CHECK(!udax_ftruncate(f, 16 * PG));
	CHECK(!udax_munmap(p, 8 * PG));
	CHECK(!udax_mmap(f, 0, 16 * PG, RW, SH, (void **)&p));
	CHECK_EQ(udax_pread(f, p + 9 * PG, 100, 0), 100);
	CHECK_EQ(p[9 * PG + 99], 'a');
	CHECK_EQ(udax_pwrite(f, p + 12 * PG, PG, 0), PG);
	CHECK_EQ(p[0], 0);
	CHECK(!udax_munmap(p, 16 * PG));
	udax_file_close(&f);
	return T_PASS;
}

/* ---- the kernel's own accesses ---- */

static int kernel_access(void)
{
	struct udax_file *f;
	uint8_t *p, buf[64];
	int pp[2], sv[2];

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	/* [0, 4 pages) data, [4, 8) hole */
	CHECK((f = mkfile("/k", 4 * PG, 'k')) != NULL);
	CHECK(!udax_ftruncate(f, 8 * PG));
	CHECK(!pipe(pp));
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(!udax_mmap(f, 0, 8 * PG, RW, SH, (void **)&p));
	/* read(2) into a not yet faulted mapped page, and into a hole */
	CHECK_EQ(write(pp[1], "kernel-read", 11), 11);
	CHECK_EQ(read(pp[0], p + PG + 7, 11), 11);
	CHECK_EQ(udax_pread(f, buf, 11, PG + 7), 11);
	CHECK(!memcmp(buf, "kernel-read", 11));
	CHECK_EQ(write(pp[1], "into-a-hole", 11), 11);
	CHECK_EQ(read(pp[0], p + 5 * PG + 3, 11), 11);
	CHECK_EQ(udax_pread(f, buf, 11, 5 * PG + 3), 11);
	CHECK(!memcmp(buf, "into-a-hole", 11));
	/* write(2) from an unfaulted page and from a hole */
	CHECK_EQ(write(pp[1], p + 3 * PG, 16), 16);
	CHECK_EQ(read(pp[0], buf, 16), 16);
	CHECK_EQ(buf[0], 'k');
	CHECK_EQ(write(pp[1], p + 7 * PG, 16), 16);
	CHECK_EQ(read(pp[0], buf, 16), 16);
	CHECK_EQ(buf[15], 0);
	/* recv(2) and send(2) */
	CHECK_EQ(send(sv[0], "socket!", 7, 0), 7);
	CHECK_EQ(recv(sv[1], p + 6 * PG + 9, 7, MSG_WAITALL), 7);
	CHECK_EQ(udax_pread(f, buf, 7, 6 * PG + 9), 7);
	CHECK(!memcmp(buf, "socket!", 7));
	CHECK_EQ(send(sv[1], p + 2 * PG, 32, 0), 32);
	CHECK_EQ(recv(sv[0], buf, 32, MSG_WAITALL), 32);
	CHECK_EQ(buf[31], 'k');
	CHECK(!udax_munmap(p, 8 * PG));
	close(pp[0]);
	close(pp[1]);
	close(sv[0]);
	close(sv[1]);
	udax_file_close(&f);
	return T_PASS;
}

/* ---- holes ---- */

static int hole_read_then_write(void)
{
	struct udax_file *f;
	uint8_t *p, buf[8];
	long long b0;

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/h", 64 * PG, -1)) != NULL);
	b0 = blocks_of(f);
	CHECK(!udax_mmap(f, 0, 64 * PG, RW, SH, (void **)&p));
	for (int i = 0; i < 64; i++)
		CHECK_EQ(p[i * PG + 5], 0);
	/* reading a hole allocates nothing */
	CHECK_EQ(blocks_of(f), b0);
	/* the first store allocates, zeroed around, and is in the file */
	p[10 * PG + 1] = 'w';
	CHECK(blocks_of(f) > b0);
	CHECK_EQ(udax_pread(f, buf, 3, 10 * PG), 3);
	CHECK(buf[0] == 0 && buf[1] == 'w' && buf[2] == 0);
	CHECK_EQ(p[11 * PG], 0);
	CHECK(!udax_munmap(p, 64 * PG));
	udax_file_close(&f);
	/* blocks a store allocates never show what they held before */
	CHECK(!fresh(8 * MIB));
	CHECK((f = mkfile("/junk", 0, 'J')) != NULL);
	{
		/* fill the device: every later block held junk */
		static uint8_t j[64 * 1024];
		memset(j, 'J', sizeof(j));
		for (off_t o = 0; udax_pwrite(f, j, sizeof(j), o) > 0;
		     o += (off_t)sizeof(j))
			;
	}
	udax_file_close(&f);
	CHECK(!udax_unlink(fs, "/junk"));
	CHECK(!udax_sync(fs));
	CHECK((f = mkfile("/new", 2 * MIB, -1)) != NULL);
	CHECK(!udax_mmap(f, 0, 2 * MIB, RW, SH, (void **)&p));
	p[PG] = 'n';
	for (uint64_t o = 0; o < 2 * MIB; o += 512) {
		uint8_t z[512];
		CHECK_EQ(udax_pread(f, z, sizeof(z), (off_t)o), sizeof(z));
		for (size_t i = 0; i < sizeof(z); i++)
			CHECK_EQ(z[i], o + i == PG ? 'n' : 0);
	}
	CHECK(!udax_munmap(p, 2 * MIB));
	udax_file_close(&f);
	/* a read zero page that pwrite fills shows the data at once */
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/h2", 64 * PG, -1)) != NULL);
	CHECK(!udax_mmap(f, 0, 64 * PG, RW, SH, (void **)&p));
	CHECK_EQ(p[20 * PG], 0);
	CHECK_EQ(udax_pwrite(f, "fill", 4, 20 * PG), 4);
	CHECK(!memcmp(p + 20 * PG, "fill", 4));
	/* fallocated (unwritten) blocks: zeros, then a store converts */
	CHECK(!udax_fallocate(f, FALLOC_FL_KEEP_SIZE, 40 * PG, 8 * PG));
	b0 = blocks_of(f);
	CHECK_EQ(p[41 * PG + 3], 0);
	p[42 * PG + 3] = 'u';
	CHECK_EQ(blocks_of(f), b0);
	CHECK_EQ(udax_pread(f, buf, 1, 42 * PG + 3), 1);
	CHECK_EQ(buf[0], 'u');
	CHECK_EQ(udax_pread(f, buf, 1, 41 * PG + 3), 1);
	CHECK_EQ(buf[0], 0);
	CHECK(!udax_munmap(p, 64 * PG));
	udax_file_close(&f);
	return T_PASS;
}

/* ---- end of file, truncate, punch ---- */

/* eof-sigbus on a device that maps whole units: the last window is
 * mapped whole, its pages past end of file read zeros (stores there are
 * not the file's); the windows after it raise SIGBUS (docs/DESIGN.md). */
static int eof_sigbus_units(void)
{
	const uint64_t W = 2 * MIB;
	struct udax_file *f;
	uint8_t *p, c;
	int pp[2];

	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/s", PG + 100, 's')) != NULL);
	CHECK(!udax_mmap(f, 0, 2 * W, RW, SH, (void **)&p));
	CHECK_EQ(probe(p + PG + 50, 0, 0), 's');
	CHECK_EQ(probe(p + PG + 200, 0, 0), 0);
	CHECK_EQ(probe(p + 2 * PG, 0, 0), 0);
	CHECK_EQ(probe(p + W - 1, 1, 'x'), 'x');
	CHECK_EQ(udax_pread(f, &c, 1, W - 1), 0); /* not the file's */
	CHECK_EQ(probe(p + W, 0, 0), -SIGBUS);
	CHECK_EQ(probe(p + 2 * W - 1, 1, 'x'), -SIGBUS);
	CHECK(!pipe(pp));
	CHECK_EQ(write(pp[1], "abc", 3), 3);
	CHECK_EQ(read(pp[0], p + W + PG, 3), -1);
	CHECK_EQ(errno, EFAULT);
	/* growing the file into the second window makes it valid */
	CHECK(!udax_ftruncate(f, (off_t)(W + 4 * PG)));
	CHECK_EQ(probe(p + W + 3 * PG + 1, 1, 'y'), 'y');
	CHECK_EQ(read(pp[0], p + W + PG, 3), 3);
	CHECK_EQ(udax_pread(f, &c, 1, (off_t)(W + PG)), 1);
	CHECK_EQ(c, 'a');
	/* the bytes the first window held past the old end read zeros
	 * once they are the file's (growing zeroes the rest of the last
	 * block; the stores further on were past end of file, and a
	 * program must not store there) */
	CHECK_EQ(probe(p + PG + 200, 0, 0), 0);
	CHECK_EQ(udax_pwrite(f, "z", 1, (off_t)(W + 6 * PG)), 1);
	CHECK_EQ(probe(p + W + 6 * PG, 0, 0), 'z');
	/* shrinking it back: the second window raises SIGBUS again */
	CHECK(!udax_ftruncate(f, PG + 100));
	CHECK_EQ(probe(p + W, 0, 0), -SIGBUS);
	CHECK_EQ(probe(p + PG + 50, 0, 0), 's');
	close(pp[0]);
	close(pp[1]);
	CHECK(!udax_munmap(p, 2 * W));
	udax_file_close(&f);
	return T_PASS;
}

static int eof_sigbus(void)
{
	struct udax_file *f;
	uint8_t *p;
	int pp[2];

	NEED_MAPPING();
	if (huge_units())
		return eof_sigbus_units();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/s", PG + 100, 's')) != NULL);
	CHECK(!udax_mmap(f, 0, 8 * PG, RW, SH, (void **)&p));
	/* the page holding end of file is valid, zeros past the end */
	CHECK_EQ(probe(p + PG + 50, 0, 0), 's');
	CHECK_EQ(probe(p + PG + 200, 0, 0), 0);
	/* pages wholly past it raise SIGBUS; system calls get EFAULT */
	CHECK_EQ(probe(p + 2 * PG, 0, 0), -SIGBUS);
	CHECK_EQ(probe(p + 7 * PG + 1, 1, 'x'), -SIGBUS);
	CHECK(!pipe(pp));
	CHECK_EQ(write(pp[1], "abc", 3), 3);
	CHECK_EQ(read(pp[0], p + 3 * PG, 3), -1);
	CHECK_EQ(errno, EFAULT);
	/* growing the file makes them valid: ftruncate, then pwrite */
	CHECK(!udax_ftruncate(f, 4 * PG));
	CHECK_EQ(probe(p + 3 * PG + 1, 1, 'y'), 'y');
	CHECK_EQ(probe(p + 4 * PG, 0, 0), -SIGBUS);
	CHECK_EQ(read(pp[0], p + 2 * PG, 3), 3);
	CHECK_EQ(udax_pwrite(f, "z", 1, 6 * PG), 1);
	CHECK_EQ(probe(p + 6 * PG, 0, 0), 'z');
	CHECK_EQ(probe(p + 5 * PG, 0, 0), 0);
	CHECK_EQ(probe(p + 7 * PG, 0, 0), -SIGBUS);
	close(pp[0]);
	close(pp[1]);
	CHECK(!udax_munmap(p, 8 * PG));
	udax_file_close(&f);
	return T_PASS;
}

static int truncate_and_punch(void)
{
	struct udax_file *f, *g;
	struct udax_extent ext[8];
	uint8_t *p, buf[PG];
	ssize_t n;

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/t", 16 * PG, 't')) != NULL);
	n = udax_file_extents(f, 0, 16 * PG, ext, 8);
	CHECK(n >= 1);
	uint64_t dev_lo = ext[0].dev_offset;
	uint64_t dev_hi = ext[n - 1].dev_offset + ext[n - 1].length;
	CHECK(!udax_mmap(f, 0, 16 * PG, RW, SH, (void **)&p));
	for (int i = 0; i < 16; i++)
		CHECK_EQ(p[i * PG], 't');
	if (huge_units()) {
		/* the first fault moved the window to one aligned unit */
		n = udax_file_extents(f, 0, 16 * PG, ext, 8);
		CHECK_EQ(n, 1);
		CHECK_EQ(ext[0].dev_offset % (2 * MIB), 0);
		dev_lo = ext[0].dev_offset;
		dev_hi = dev_lo + ext[0].length;
	}
	CHECK_EQ(maps_device_range(p, 16 * PG, dev_lo, dev_hi), 1);

	/* truncate: past the end SIGBUS (on a device that maps whole
	 * units, zeros up to the end of the last window), no page on the
	 * freed blocks */
	CHECK(!udax_ftruncate(f, 4 * PG));
	CHECK_EQ(maps_device_range(p, 16 * PG, dev_lo + 4 * PG, dev_hi), 0);
	CHECK_EQ(probe(p + 3 * PG, 0, 0), 't');
	CHECK_EQ(probe(p + 4 * PG, 0, 0), huge_units() ? 0 : -SIGBUS);
	CHECK_EQ(probe(p + 15 * PG, 1, 1), huge_units() ? 1 : -SIGBUS);
	/* the freed blocks go to another file (after the checkpoint that
	 * releases them); the mapping must not see its data */
	CHECK(!udax_sync(fs));
	CHECK((g = mkfile("/other", 64 * PG, 'X')) != NULL);
	CHECK(!udax_ftruncate(f, 16 * PG));
	for (int i = 4; i < 16; i++)
		CHECK_EQ(probe(p + i * PG + 9, 0, 0), 0);
	udax_file_close(&g);

	/* punch: zeros there, blocks gone from the mapping, a store
	 * allocates anew */
	CHECK(!udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG,
			      2 * PG));
	CHECK_EQ(maps_device_range(p, 16 * PG, dev_lo + PG, dev_lo + 3 * PG),
		 0);
	CHECK_EQ(p[PG + 1], 0);
	CHECK_EQ(p[2 * PG + 1], 0);
	CHECK_EQ(p[3 * PG], 't');
	p[2 * PG + 1] = 'n';
	CHECK_EQ(udax_pread(f, buf, 2, 2 * PG), 2);
	CHECK(buf[0] == 0 && buf[1] == 'n');
	/* a punch of part of a block: the block is replaced by a copy */
	CHECK(!udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      100, 50));
	CHECK_EQ(p[99], 't');
	CHECK_EQ(p[100], 0);
	CHECK_EQ(p[150], 't');
	p[120] = 'c';
	CHECK_EQ(udax_pread(f, buf, 1, 120), 1);
	CHECK_EQ(buf[0], 'c');
	/* O_TRUNC by another open */
	CHECK(!udax_file_open(fs, "/t", O_RDWR | O_TRUNC, 0, &g));
	CHECK_EQ(probe(p, 0, 0), -SIGBUS);
	CHECK_EQ(maps_device_range(p, 16 * PG, 0, UINT64_MAX), 0);
	CHECK_EQ(udax_pwrite(g, "again", 5, 0), 5);
	CHECK(!memcmp(p, "again", 5));
	udax_file_close(&g);
	CHECK(!udax_munmap(p, 16 * PG));
	udax_file_close(&f);
	return T_PASS;
}

/* ---- threads ---- */

#define NTHREADS 4
#define TPAGES 64

struct tctx {
	uint8_t *p;
	int id;
	int bad;
};

static void *fault_thread(void *arg)
{
	struct tctx *t = arg;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < TPAGES; i++) {
			/* every thread reads every page (same pages at once)
			 * and stores into its own slot of it */
			volatile uint8_t *q = t->p + (uint64_t)i * PG;
			(void)q[0];
			q[64 + t->id] = (uint8_t)(t->id + 1);
			if (q[64 + t->id] != t->id + 1)
				t->bad = 1;
		}
	}
	return NULL;
}

static int threads(void)
{
	pthread_t th[NTHREADS];
	struct tctx t[NTHREADS];
	struct udax_file *f;
	uint8_t *p, buf[64 + NTHREADS];

	NEED_MAPPING();
	/* on sparse, half-written and written files */
	for (int kind = 0; kind < 3; kind++) {
		CHECK(!fresh(64 * MIB));
		CHECK((f = mkfile("/th", TPAGES * PG, kind == 2 ? 0 : -1)) !=
		      NULL);
		if (kind == 1)
			for (int i = 0; i < TPAGES; i += 2)
				udax_pwrite(f, "x", 1, (off_t)i * PG + 1000);
		CHECK(!udax_mmap(f, 0, TPAGES * PG, RW,
				 SH | (kind ? 0 : UDAX_MAP_SYNC), (void **)&p));
		for (int i = 0; i < NTHREADS; i++) {
			t[i] = (struct tctx){.p = p, .id = i};
			CHECK(!pthread_create(&th[i], NULL, fault_thread,
					      &t[i]));
		}
		for (int i = 0; i < NTHREADS; i++) {
			pthread_join(th[i], NULL);
			CHECK(!t[i].bad);
		}
		for (int i = 0; i < TPAGES; i++) {
			CHECK_EQ(udax_pread(f, buf, sizeof(buf), (off_t)i * PG),
				 sizeof(buf));
			for (int k = 0; k < NTHREADS; k++)
				CHECK_EQ(buf[64 + k], k + 1);
		}
		CHECK(!udax_munmap(p, TPAGES * PG));
		udax_file_close(&f);
	}
	return T_PASS;
}

/* ---- races: mapped stores against truncate, punch and pwrite ---- */

#define RPAGES 64

static __thread sigjmp_buf race_jb;
static atomic_int race_stop;

static void race_sig(int sig)
{
	(void)sig;
	siglongjmp(race_jb, 1);
}

struct race_ctx {
	struct udax_file *f;
	uint8_t *p;
	unsigned seed;
	long stores, sigbus, ops;
};

static void *race_storer(void *arg)
{
	struct race_ctx *c = arg;

	while (!atomic_load(&race_stop)) {
		unsigned pg = (unsigned)rand_r(&c->seed) % RPAGES;
		volatile uint8_t *q = c->p + (uint64_t)pg * PG;
		if (sigsetjmp(race_jb, 1) == 0) {
			q[(pg * 7) % PG] = (uint8_t)pg;
			(void)q[100];
			__atomic_fetch_add(&c->stores, 1, __ATOMIC_RELAXED);
		} else {
			c->sigbus++; /* past end of file just then */
		}
	}
	return NULL;
}

static void *race_changer(void *arg)
{
	struct race_ctx *c = arg;
	uint8_t buf[PG];

	memset(buf, 0x5a, sizeof(buf));
	while (!atomic_load(&race_stop)) {
		unsigned r = (unsigned)rand_r(&c->seed);
		unsigned pg = r % RPAGES;
		switch ((r >> 8) % 4) {
		case 0:
			udax_ftruncate(c->f, (off_t)(16 + (r >> 12) % 48) * PG);
			break;
		case 1:
			udax_fallocate(c->f,
				       FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE,
				       (off_t)pg * PG, 2 * PG);
			break;
		case 2:
			udax_pwrite(c->f, buf, 100, (off_t)pg * PG + 200);
			break;
		default:
			udax_pread(c->f, buf, sizeof(buf), (off_t)pg * PG);
			memset(buf, 0x5a, sizeof(buf));
			break;
		}
		__atomic_fetch_add(&c->ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int races(void)
{
	struct sigaction sa = {.sa_handler = race_sig}, old;
	struct race_ctx c[4];
	pthread_t th[4];
	struct udax_file *f;
	uint8_t *p, buf[PG];
	struct stat st;

	NEED_MAPPING();
	CHECK(!fresh(64 * MIB));
	CHECK((f = mkfile("/race", RPAGES * PG, 'r')) != NULL);
	CHECK(!udax_mmap(f, 0, RPAGES * PG, RW, SH, (void **)&p));
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	atomic_store(&race_stop, 0);
	for (int i = 0; i < 4; i++) {
		c[i] = (struct race_ctx){.f = f, .p = p, .seed = 77u + i};
		CHECK(!pthread_create(&th[i], NULL,
				      i < 3 ? race_storer : race_changer,
				      &c[i]));
	}
	/* 1.5 s of racing, and on a busy machine until each side has done
	 * something (the counts are read racily: only to know when) */
	for (int t = 0;
	     t < 15 || __atomic_load_n(&c[3].ops, __ATOMIC_RELAXED) <= 10 ||
	     __atomic_load_n(&c[0].stores, __ATOMIC_RELAXED) <= 10;
	     t++)
		usleep(100 * 1000);
	atomic_store(&race_stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	sigaction(SIGBUS, &old, NULL);
	printf("# races: %ld stores, %ld SIGBUS, %ld file operations\n",
	       c[0].stores + c[1].stores + c[2].stores,
	       c[0].sigbus + c[1].sigbus + c[2].sigbus, c[3].ops);
	CHECK(c[3].ops > 10);
	CHECK(c[0].stores > 10);
	/* afterwards the mapping and the file agree on every page */
	CHECK(!udax_fstat(f, &st));
	for (off_t o = 0; o + PG <= st.st_size; o += PG) {
		CHECK_EQ(udax_pread(f, buf, PG, o), PG);
		CHECK(!memcmp(buf, p + o, PG));
	}
	CHECK(!udax_munmap(p, RPAGES * PG));
	udax_file_close(&f);
	return T_PASS;
}

/* ---- fork, private, read-only, unlink, permission ---- */

static int fork_child(void)
{
	struct udax_file *f;
	uint8_t *p;
	int st;
	pid_t pid;

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/fk", 4 * PG, 'f')) != NULL);
	CHECK(!udax_mmap(f, 0, 4 * PG, RW, SH, (void **)&p));
	CHECK_EQ(p[0], 'f'); /* one page faulted, the rest not */
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		p[0] = 'c';	 /* faulted in the parent */
		p[3 * PG] = 'c'; /* never faulted */
		_exit(0);
	}
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	/* the child had no mapping: SIGSEGV, not a silent private copy */
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	CHECK_EQ(p[0], 'f');
	CHECK_EQ(p[3 * PG], 'f');
	CHECK(!udax_munmap(p, 4 * PG));
	udax_file_close(&f);
	return T_PASS;
}

static int private_and_readonly(void)
{
	struct udax_file *f, *ro;
	uint8_t *p, *r, buf[4];

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/pv", 4 * PG, 'p')) != NULL);
	CHECK(!udax_ftruncate(f, 8 * PG)); /* [4, 8) a hole */
	CHECK(!udax_file_open(fs, "/pv", O_RDONLY, 0, &ro));
	CHECK(!udax_mmap(ro, 0, 8 * PG, RW, PR, (void **)&p));
	CHECK_EQ(p[10], 'p');
	p[10] = 'q';
	p[5 * PG] = 'q';
	CHECK_EQ(p[10], 'q');
	CHECK_EQ(p[5 * PG], 'q');
	CHECK_EQ(udax_pread(f, buf, 1, 10), 1);
	CHECK_EQ(buf[0], 'p');
	CHECK_EQ(udax_pread(f, buf, 1, 5 * PG), 1);
	CHECK_EQ(buf[0], 0);
	CHECK(!udax_munmap(p, 8 * PG));
	/* read-only shared: reads of data and holes; a store is SIGSEGV */
	CHECK(!udax_mmap(ro, 0, 8 * PG, PROT_READ, SH, (void **)&r));
	CHECK_EQ(r[PG], 'p');
	CHECK_EQ(r[6 * PG], 0);
	CHECK_EQ(probe(r + 6 * PG, 1, 1), -SIGSEGV);
	CHECK_EQ(udax_pwrite(f, "w", 1, 6 * PG), 1);
	CHECK_EQ(r[6 * PG], 'w');
	CHECK(!udax_munmap(r, 8 * PG));
	udax_file_close(&ro);
	udax_file_close(&f);
	return T_PASS;
}

/* Zero pages follow the file (found by the differential tester): a
 * private mapping's unstored zero page, and a second mapping's zero page,
 * show data that pwrite or a store through another mapping put there; a
 * private mapping's own store into a zero page survives a later pwrite;
 * and a hole read across ranges a zap left as separate kernel mappings
 * gives zeros, not SIGBUS. */
static int zero_pages_follow(void)
{
	struct udax_file *f;
	uint8_t *pv, *a, *b, *ro;

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK((f = mkfile("/z", 16 * PG, -1)) != NULL); /* all hole */
	CHECK(!udax_mmap(f, 0, 16 * PG, RW, PR, (void **)&pv));
	CHECK(!udax_mmap(f, 0, 16 * PG, RW, SH, (void **)&a));
	CHECK(!udax_mmap(f, 0, 16 * PG, PROT_READ, SH, (void **)&b));
	CHECK(!udax_mmap(f, 0, 16 * PG, PROT_READ, PR, (void **)&ro));
	CHECK_EQ(pv[0], 0);
	CHECK_EQ(pv[PG], 0);
	CHECK_EQ(b[2 * PG], 0);
	CHECK_EQ(ro[3 * PG], 0);
	pv[PG] = 'p'; /* the private mapping's own copy */
	CHECK_EQ(udax_pwrite(f, "w", 1, 0), 1);
	CHECK_EQ(udax_pwrite(f, "v", 1, PG), 1);
	CHECK_EQ(pv[0], 'w');
	CHECK_EQ(pv[PG], 'p');
	/* a copy into a private hole page (a kernel-side store) is the
	 * mapping's own too */
	struct udax_file *g = mkfile("/g", 2 * PG, 'g');
	CHECK(g != NULL);
	CHECK_EQ(udax_pread(g, pv + 10 * PG + 100, PG, 0), (ssize_t)PG);
	udax_file_close(&g);
	CHECK_EQ(udax_pwrite(f, "x", 1, 10 * PG + 200), 1);
	CHECK_EQ(udax_pwrite(f, "y", 1, 11 * PG + 200), 1);
	CHECK_EQ(pv[10 * PG + 200], 'g');
	CHECK_EQ(pv[11 * PG + 50], 'g');
	CHECK_EQ(pv[11 * PG + 200], 0); /* its copy, not the file's 'y' */
	CHECK_EQ(ro[0], 'w');
	a[2 * PG] = 's'; /* an allocating store through another mapping */
	CHECK_EQ(b[2 * PG], 's');
	CHECK_EQ(pv[2 * PG], 's');
	/* zap pieces of the read-only mappings apart, then read a hole
	 * range crossing them */
	CHECK(!udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      5 * PG, PG));
	CHECK(!udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      8 * PG, PG));
	for (int i = 4; i < 16; i++) {
		CHECK_EQ(probe(ro + i * PG, 0, 0), 0);
		CHECK_EQ(probe(b + i * PG, 0, 0), 0);
	}
	CHECK(!udax_munmap(pv, 16 * PG));
	CHECK(!udax_munmap(a, 16 * PG));
	CHECK(!udax_munmap(b, 16 * PG));
	CHECK(!udax_munmap(ro, 16 * PG));
	udax_file_close(&f);
	return T_PASS;
}

static int unlink_mapped(void)
{
	struct udax_file *f;
	struct statvfs s0, s1;
	uint8_t *p;

	NEED_MAPPING();
	CHECK(!fresh(32 * MIB));
	CHECK(!udax_statfs(fs, &s0));
	CHECK((f = mkfile("/u", 256 * PG, 'u')) != NULL);
	CHECK(!udax_mmap(f, 0, 256 * PG, RW, SH, (void **)&p));
	udax_file_close(&f);
	CHECK(!udax_unlink(fs, "/u"));
	CHECK_EQ(p[255 * PG], 'u');
	p[7] = 'v';
	CHECK(!udax_munmap(p, 256 * PG));
	CHECK(!udax_sync(fs));
	CHECK(!udax_statfs(fs, &s1));
	CHECK(s1.f_bfree + 8 >= s0.f_bfree);
	return T_PASS;
}

static int eperm(void)
{
	int st;
	pid_t pid;

	if (geteuid() != 0)
		SKIP("run as root to test the unprivileged path");
	if (access("/dev/userfaultfd", F_OK) == 0) {
		struct stat sb;
		if (!stat("/dev/userfaultfd", &sb) && (sb.st_mode & 06))
			SKIP("/dev/userfaultfd is open to others");
	}
	FILE *sc = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	int unpriv = 0;
	if (sc) {
		if (fscanf(sc, "%d", &unpriv) != 1)
			unpriv = 0;
		fclose(sc);
	}
	if (unpriv)
		SKIP("vm.unprivileged_userfaultfd=1");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct udax_fs *cfs;
		struct udax_file *f;
		void *p;
		if (setgid(65534) || setuid(65534))
			_exit(2);
		/* a memory file: the folder of UDAX_MEMORY_DEVICE is root's */
		unsetenv("UDAX_MEMORY_DEVICE");
		if (udax_open_memory(&cfs, 16 * MIB) ||
		    udax_file_open(cfs, "/x", O_CREAT | O_RDWR, 0644, &f) ||
		    udax_ftruncate(f, PG))
			_exit(3);
		int ret = udax_mmap(f, 0, PG, RW, SH, &p);
		_exit(ret == -EPERM ? 0 : 4);
	}
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	return T_PASS;
}

/* ---- no space, and a page-granular (file) device ---- */

static int enospc(void)
{
	static uint8_t chunk[64 * 1024];
	struct udax_file *f, *fill;
	uint8_t *p;

	NEED_MAPPING();
	CHECK(!fresh(8 * MIB));
	CHECK((f = mkfile("/sparse", 64 * PG, -1)) != NULL);
	CHECK((fill = mkfile("/fill", 0, 'F')) != NULL);
	for (off_t o = 0; udax_pwrite(fill, chunk, sizeof(chunk), o) > 0;
	     o += (off_t)sizeof(chunk))
		;
	while (udax_pwrite(fill, chunk, PG, 0x40000000) > 0)
		; /* the last blocks, a page at a time */
	CHECK(!udax_mmap(f, 0, 64 * PG, RW, SH, (void **)&p));
	/* reads of the hole still work; a store that cannot allocate gets
	 * SIGBUS, as from a kernel file system */
	CHECK_EQ(probe(p + 5 * PG, 0, 0), 0);
	CHECK_EQ(probe(p + 7 * PG, 1, 'q'), -SIGBUS);
	CHECK_EQ(probe(p + 7 * PG, 0, 0), -SIGBUS);
	/* space comes back; the page retries once the file changes there */
	udax_file_close(&fill);
	CHECK(!udax_unlink(fs, "/fill"));
	CHECK(!udax_sync(fs));
	CHECK(!udax_fallocate(f, FALLOC_FL_KEEP_SIZE, 7 * PG, PG));
	CHECK_EQ(probe(p + 7 * PG, 1, 'r'), 'r');
	CHECK_EQ(probe(p + 9 * PG, 1, 's'), 's');
	CHECK(!udax_munmap(p, 64 * PG));
	udax_file_close(&f);
	return T_PASS;
}

static int file_device(void)
{
	struct udax_fs *dfs;
	struct udax_file *f;
	struct udax_info info;
	char img[64], buf[8];
	uint8_t *p;
	int ret;

	NEED_MAPPING();
	snprintf(img, sizeof(img), "/tmp/udax-t_mmap-%d.img", (int)getpid());
	struct udax_mkfs_opts mo = {.size = 16 * MIB};
	CHECK(!udax_mkfs(img, &mo));
	ret = udax_open(&dfs, img, NULL);
	unlink(img);
	CHECK(!ret);
	CHECK(!udax_info(dfs, &info));
	CHECK(!udax_file_open(dfs, "/f", O_CREAT | O_RDWR, 0644, &f));
	CHECK(!udax_ftruncate(f, 16 * PG));
	CHECK_EQ(udax_pwrite(f, "disk", 4, 0), 4);
	CHECK(!udax_mmap(f, 0, 16 * PG, RW, SH | UDAX_MAP_SYNC, (void **)&p));
	CHECK(!memcmp(p, "disk", 4));
	memcpy(p + 9 * PG, "page", 4);
	udax_persist(p + 9 * PG, 4); /* msync underneath */
	CHECK_EQ(udax_pread(f, buf, 4, 9 * PG), 4);
	CHECK(!memcmp(buf, "page", 4));
	CHECK(!udax_msync(p, 16 * PG, MS_SYNC));
	CHECK(!udax_munmap(p, 16 * PG));
	udax_file_close(&f);
	CHECK(!udax_close(&dfs));
	if (strcmp(info.device_kind, "file"))
		SKIP("/tmp is a %s device here", info.device_kind);
	return T_PASS;
}

/* ---- crash: UDAX_MAP_SYNC on the crash-emulating device ---- */

#define CR_DEV (8u << 20)
#define CR_FILE (6u << 20)
/* Pages stored into, in this order: the first allocates a 2 MiB window,
 * later ones (space short) a page each, some are already allocated. */
static const uint32_t cr_pages[] = {0, 3, 600, 1100, 1101, 1300, 20, 1535};
#define CR_N (sizeof(cr_pages) / sizeof(cr_pages[0]))

struct cr_run {
	struct dev *dev;
	struct udax_fs *fs;
	uint64_t fault_fence[CR_N];   /* fences done when the store returned */
	uint64_t durable_fence[CR_N]; /* ... when persist / msync returned */
	uint64_t dev_off[CR_N];	      /* where the page is, in this run */
	uint64_t f0, f1;
};

/* The aged file system every crash run starts from (age.h): the blocks
 * the faults allocate held garbage, so missing zeroing shows. */
static uint8_t *cr_aged;

static int cr_run(int sync, uint64_t freeze, struct cr_run *r)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_file *f;
	struct udax_extent e;
	uint8_t *p;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = cr_aged ? 0 : age_image(CR_DEV, &cr_aged);
	if (!ret)
		ret = dev_crash_new(&r->dev, CR_DEV);
	if (!ret) {
		dev_crash_load(r->dev, cr_aged);
		ret = udax_open_device(&r->fs, r->dev, 0, &oo);
	}
	if (ret)
		return ret;
	ret = udax_file_open(r->fs, "/log", O_CREAT | O_RDWR, 0644, &f);
	if (!ret)
		ret = udax_ftruncate(f, CR_FILE);
	if (!ret)
		ret = udax_mmap(f, 0, CR_FILE, RW,
				SH | (sync ? UDAX_MAP_SYNC : 0), (void **)&p);
	if (ret)
		return ret;
	r->f0 = dev_crash_fences(r->dev);
	if (freeze)
		dev_crash_freeze_at(r->dev, freeze);
	for (size_t i = 0; i < CR_N; i++) {
		uint8_t *q = p + (uint64_t)cr_pages[i] * PG;
		q[17] = (uint8_t)(0xa0 + i);
		r->fault_fence[i] = dev_crash_fences(r->dev);
		if (sync) {
			udax_persist(q + 17, 1);
			r->durable_fence[i] = dev_crash_fences(r->dev);
		}
	}
	if (!sync) {
		ret = udax_msync(p, CR_FILE, MS_SYNC);
		uint64_t fe = dev_crash_fences(r->dev);
		for (size_t i = 0; i < CR_N; i++)
			r->durable_fence[i] = fe;
	}
	for (size_t i = 0; !ret && i < CR_N; i++) {
		ret = udax_file_extents(f, (off_t)cr_pages[i] * PG, PG, &e,
					1) == 1 ?
			      0 :
			      -EIO;
		r->dev_off[i] =
			e.dev_offset + ((uint64_t)cr_pages[i] * PG - e.offset);
	}
	r->f1 = dev_crash_fences(r->dev);
	udax_munmap(p, CR_FILE);
	udax_file_close(&f);
	return ret;
}

/* Check one crash image: every store whose fault returned before the
 * crash point is at its offset, in its block, the rest of its page zero;
 * persisted ones hold their byte. Returns 0 if fine. */
static int cr_check(const struct cr_run *r, const uint8_t *img, uint64_t crash,
		    const char *id)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *cfs;
	struct udax_file *f;
	struct udax_extent e;
	struct dev *dev;
	int ret, bad = 0;

	ret = dev_memory_from_image(&dev, img, CR_DEV);
	if (!ret)
		ret = udax_open_device(&cfs, dev, 0, &oo);
	if (ret) {
		fprintf(stderr, "  crash %s: open failed: %d\n", id, ret);
		return 1;
	}
	ret = udax_file_open(cfs, "/log", O_RDONLY, 0, &f);
	for (size_t i = 0; !ret && i < CR_N; i++) {
		uint64_t off = (uint64_t)cr_pages[i] * PG;
		uint8_t b = 0;
		if (r->fault_fence[i] >= crash)
			continue; /* the store had not returned yet */
		if (udax_file_extents(f, (off_t)off, PG, &e, 1) != 1 ||
		    (e.flags & UDAX_EXTENT_UNWRITTEN) ||
		    e.dev_offset + (off - e.offset) != r->dev_off[i]) {
			fprintf(stderr, "  crash %s: page %u lost its block\n",
				id, cr_pages[i]);
			bad = 1;
		}
		if (r->durable_fence[i] < crash &&
		    (udax_pread(f, &b, 1, (off_t)off + 17) != 1 ||
		     b != 0xa0 + i)) {
			fprintf(stderr, "  crash %s: page %u lost its byte\n",
				id, cr_pages[i]);
			bad = 1;
		}
		/* and the rest of the page reads zero: the block was zeroed,
		 * durably, before the extent pointed at it */
		uint8_t pg[PG];
		int dirty = udax_pread(f, pg, PG, (off_t)off) != PG;
		for (size_t j = 0; !dirty && j < PG; j++)
			dirty = j != 17 && pg[j];
		if (dirty) {
			fprintf(stderr,
				"  crash %s: page %u shows old bytes "
				"beside its store\n",
				id, cr_pages[i]);
			bad = 1;
		}
	}
	if (ret) {
		fprintf(stderr, "  crash %s: /log missing: %d\n", id, ret);
		bad = 1;
	} else {
		udax_file_close(&f);
	}
	udax_close(&cfs);
	return bad;
}

static uint64_t cr_points, cr_images;

static int crash_mode(int sync)
{
	struct cr_run ref;
	uint8_t *img = malloc(CR_DEV);
	uint64_t seed = 12345 + (uint64_t)sync;
	int failed = 0;

	CHECK(img != NULL);
	CHECK(!cr_run(sync, 0, &ref));
	udax_close(&ref.fs);
	for (uint64_t k = ref.f0 + 1; k <= ref.f1 + 1 && !failed; k++) {
		struct cr_run r;
		if (cr_run(sync, k, &r)) {
			fprintf(stderr, "  crash run at fence %llu failed\n",
				(unsigned long long)k);
			failed = 1;
			break;
		}
		size_t n = dev_crash_pending(r.dev);
		uint64_t *keep = calloc((n + 63) / 64 + 1, 8);
		cr_points++;
		for (int t = 0; t < 6 && !failed; t++) {
			char id[96];
			for (size_t w = 0; w < (n + 63) / 64; w++) {
				seed = seed * 6364136223846793005ull + 1;
				keep[w] = t == 0 ? 0 : t == 1 ? ~0ull : seed;
			}
			dev_crash_image(r.dev, keep, img);
			snprintf(id, sizeof(id), "%s:fence=%llu:sample=%d",
				 sync ? "sync" : "msync", (unsigned long long)k,
				 t);
			cr_images++;
			failed = cr_check(&r, img, k, id);
		}
		free(keep);
		udax_close(&r.fs);
	}
	free(img);
	return failed ? T_FAIL : T_PASS;
}

static int crash_map_sync(void)
{
	NEED_MAPPING();
	if (fs)
		udax_close(&fs);
	int ret = crash_mode(1);
	if (ret == T_PASS)
		ret = crash_mode(0);
	printf("# mmap crash: %llu crash points, %llu images\n",
	       (unsigned long long)cr_points, (unsigned long long)cr_images);
	return ret;
}

/* Count this process's kernel mappings. */
static long count_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A mapping of a file with far more extents than kernel mappings allowed
 * to it: faults keep working (pieces are evicted when over the budget),
 * the process's mapping count stays bounded. The budget is set
 * low (UDAX_FAULT_PIECES) so that the test is quick. */
static int map_count_limit(void)
{
	struct udax_fs *lfs;
	struct udax_file *f;
	const int n = 6000, budget = 400;
	long max_vmas = 0;
	void *a;

	setenv("UDAX_FAULT_PIECES", "400", 1);
	CHECK_EQ(udax_open_memory(&lfs, (uint64_t)n * 2 * 4096 + (64 << 20)),
		 0);
	CHECK_EQ(udax_file_open(lfs, "/frag", O_CREAT | O_RDWR, 0644, &f), 0);
	for (int i = 0; i < n; i++) { /* every other block: n extents */
		uint64_t v = (uint64_t)i + 1;
		CHECK_EQ(udax_pwrite(f, &v, 8, (off_t)i * 2 * 4096), 8);
	}
	long base = count_vmas();
	CHECK_EQ(udax_mmap(f, 0, (size_t)n * 2 * 4096, PROT_READ | PROT_WRITE,
			   UDAX_MAP_SHARED, &a),
		 0);
	unsigned char *p = a;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, p + (size_t)i * 2 * 4096, 8);
			CHECK_EQ(v, (uint64_t)i + 1 + pass * 100000);
			v += 100000; /* then a store */
			memcpy(p + (size_t)i * 2 * 4096, &v, 8);
			if (i % 500 == 0) {
				long c = count_vmas() - base;
				max_vmas = c > max_vmas ? c : max_vmas;
			}
		}
	}
	for (int i = 0; i < n; i += 97) {
		uint64_t v;
		CHECK_EQ(udax_pread(f, &v, 8, (off_t)i * 2 * 4096), 8);
		CHECK_EQ(v, (uint64_t)i + 1 + 200000);
	}
	/* the budget, plus the windows an eviction spares (the thread's last
	 * FAULT_RECENT_WINDOWS and the one being faulted), each of 256
	 * device pieces here with a neutral range after each */
	CHECK(max_vmas <= budget + (FAULT_RECENT_WINDOWS + 1) * 2 * 256 + 100);
	printf("# map-count: %d extents, at most %ld kernel mappings\n", n,
	       max_vmas);
	CHECK_EQ(udax_munmap(a, (size_t)n * 2 * 4096), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&lfs), 0);
	unsetenv("UDAX_FAULT_PIECES");
	return T_PASS;
}

/* ---- units kept whole under a pin ---- */

/* On a device that maps whole units (memfd-huge, opened here whatever
 * UDAX_MEMORY_DEVICE says): a punch, a zero range and a truncate inside
 * a unit mapped whole, while a pin holds another page of it, zero in
 * place and keep the unit's blocks, so a store anywhere in it maps it
 * again (freeing the parts would need a remap onto a fresh unit, which
 * the pin forbids: SIGBUS). Then a window written by pwrite and never
 * mapped, pinned: a store into it gets its unit (the pin reaches no
 * memory a mapping ever showed). */
static int unit_kept_whole(void)
{
	const size_t W = 2u << 20, MIB_ = 1u << 20;
	const char *e = getenv("UDAX_MEMORY_DEVICE");
	char *saved = e ? strdup(e) : NULL;
	static char buf[2u << 20], want[2u << 20];
	struct udax_fs *hfs;
	struct udax_file *f;
	struct udax_pin *pin;
	uint8_t *p;
	void *m;
	int ret;

	setenv("UDAX_MEMORY_DEVICE", "memfd-huge", 1);
	ret = udax_open_memory(&hfs, 16u << 20);
	if (saved)
		setenv("UDAX_MEMORY_DEVICE", saved, 1);
	else
		unsetenv("UDAX_MEMORY_DEVICE");
	free(saved);
	if (ret)
		SKIP("no memory file of huge pages here (%s)", strerror(-ret));
	CHECK_EQ(udax_file_open(hfs, "/u", O_CREAT | O_RDWR, 0644, &f), 0);
	memset(want, 'u', W);
	CHECK_EQ(udax_pwrite(f, want, W, 0), (ssize_t)W);
	CHECK_EQ(
		udax_mmap(f, 0, W, PROT_READ | PROT_WRITE, UDAX_MAP_SHARED, &m),
		0);
	p = m;
	for (size_t o = 0; o < W; o += 4096)
		CHECK_EQ(probe(p + o, 1, 'u'), 'u'); /* one aligned unit now */
	long long blocks = blocks_of(f);
	CHECK_EQ(udax_pin(p, 4096, 0, NULL, &pin), 0);

	CHECK_EQ(udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				40960, 4096),
		 0);
	memset(want + 40960, 0, 4096);
	CHECK_EQ(udax_fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				102400, 8192),
		 0);
	memset(want + 102400, 0, 8192);
	CHECK_EQ(probe(p + 81920, 1, 'v'), 'v');
	want[81920] = 'v';
	CHECK_EQ(probe(p + 40960, 0, 0), 0);
	CHECK_EQ(probe(p + 40959, 0, 0), 'u');
	CHECK_EQ(probe(p + 110591, 0, 0), 0);
	CHECK_EQ(blocks_of(f), blocks);

	CHECK_EQ(udax_ftruncate(f, (off_t)MIB_ + 100), 0);
	memset(want + MIB_ + 100, 0, W - MIB_ - 100);
	CHECK_EQ(probe(p + 4096, 1, 'w'), 'w');
	want[4096] = 'w';
	CHECK_EQ(probe(p + MIB_ + 99, 0, 0), 'u');
	CHECK_EQ(probe(p + MIB_ + 100, 0, 0), 0);
	CHECK_EQ(probe(p + W - 1, 0, 0), 0);
	CHECK_EQ(blocks_of(f), blocks); /* the unit stays, past the end too */
	CHECK_EQ(udax_ftruncate(f, (off_t)W), 0);
	CHECK_EQ(udax_pread(f, buf, W, 0), (ssize_t)W);
	CHECK(!memcmp(buf, want, W));
	CHECK_EQ(udax_unpin(&pin), 0);

	/* a window pwrite filled with blocks, never mapped since, pinned */
	CHECK_EQ(udax_ftruncate(f, 0), 0);
	CHECK_EQ(udax_pwrite(f, want, 65536, 0), 65536);
	CHECK_EQ(udax_pin(p, 4096, 0, NULL, &pin), 0);
	CHECK_EQ(probe(p + 8192, 1, 'x'), 'x');
	CHECK_EQ(probe(p, 0, 0), 'u');
	CHECK_EQ(udax_unpin(&pin), 0);

	CHECK_EQ(udax_munmap(m, W), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&hfs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"errnos", mmap_errnos},
	{"coherence", coherence},
	{"kernel-access", kernel_access},
	{"holes", hole_read_then_write},
	{"eof-sigbus", eof_sigbus},
	{"truncate-punch", truncate_and_punch},
	{"threads", threads},
	{"races", races},
	{"fork", fork_child},
	{"private-readonly", private_and_readonly},
	{"zero-pages-follow", zero_pages_follow},
	{"unlink-mapped", unlink_mapped},
	{"eperm", eperm},
	{"enospc", enospc},
	{"file-device", file_device},
	{"crash-map-sync", crash_map_sync},
	{"map-count-limit", map_count_limit},
	{"unit-kept-whole", unit_kept_whole},
};

int main(int argc, char **argv)
{
	alarm(1800); /* a deadlock fails the run instead of hanging it */
	int ret = test_main("mmap", tests, sizeof(tests) / sizeof(tests[0]),
			    argc, argv);
	if (fs)
		udax_close(&fs);
	return ret;
}
