/* SPDX-License-Identifier: MIT */
/*
 * t_pin.c - pins udax never hears of: the kernel holds pages of a mapping
 * for I/O that outlives any udax call, the file is truncated, its blocks
 * go to another file. The kernel's late writes (or reads) through those
 * pins must never reach the other file.
 *
 *   io-uring-fixed   1 MiB of a mapping registered as an io_uring fixed
 *                    buffer (a long-term pin); truncate, the device full
 *                    so that /y must reuse the blocks; a READ_FIXED of
 *                    'A's into the buffer: /y still reads 'y'
 *   vmsplice         mapped pages spliced into a pipe; truncate, /y over
 *                    the blocks; the pipe still gives /x's bytes, /y its own
 *   quarantine       the same on a device that cannot detach pages (as
 *                    devdax): the blocks stay out of use until close, the
 *                    next allocation fails with ENOSPC, nothing leaks
 *
 * Needs userfaultfd; io_uring cases skip where io_uring is disabled.
 */
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <udax.h>
#include <unistd.h>

#include "fs.h"
#include "test.h"
#include "util.h"

#define MIB (1024 * 1024)
#define IMAGE (16 * MIB)

#define NEED_MAPPING()                                                         \
	do {                                                                   \
		if (!mapping_permitted())                                      \
			SKIP("userfaultfd not permitted here");                \
	} while (0)

/* A file of n bytes of c. */
static struct udax_file *mkfile(struct udax_fs *fs, const char *path, size_t n,
				int c)
{
	static char buf[MIB];
	struct udax_file *f;

	if (udax_file_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f))
		return NULL;
	memset(buf, c, sizeof(buf));
	for (size_t o = 0; o < n; o += sizeof(buf))
		if (udax_pwrite(f, buf,
				n - o < sizeof(buf) ? n - o : sizeof(buf),
				(off_t)o) < 0)
			break;
	return f;
}

/* Fill the device with /fill until ENOSPC. Returns 0 or -1. */
static int fill_device(struct udax_fs *fs)
{
	static char buf[64 * 1024];
	struct udax_file *f;
	off_t o = 0;
	ssize_t n;

	memset(buf, 'f', sizeof(buf));
	if (udax_file_open(fs, "/fill", O_CREAT | O_RDWR, 0644, &f))
		return -1;
	while ((n = udax_pwrite(f, buf, sizeof(buf), o)) > 0)
		o += n;
	udax_file_close(&f);
	return n == -ENOSPC ? 0 : -1;
}

/* Free /x's blocks while pins may reach them, with the device full, and
 * write /y over them (the only free blocks): /y durable, or NULL. */
static struct udax_file *reuse_blocks(struct udax_fs *fs, struct udax_file *x)
{
	struct udax_file *y;

	if (fill_device(fs) || udax_ftruncate(x, 0) || udax_sync(fs))
		return NULL;
	y = mkfile(fs, "/y", MIB, 'y');
	if (y && udax_fsync(y))
		udax_file_close(&y);
	return y;
}

/* How many bytes of the file are c. */
static size_t count_byte(struct udax_file *f, size_t n, int c)
{
	static char buf[MIB];
	size_t same = 0;

	for (size_t o = 0; o < n; o += sizeof(buf)) {
		ssize_t r = udax_pread(f, buf, sizeof(buf), (off_t)o);
		for (ssize_t i = 0; i < r; i++)
			same += buf[i] == c;
	}
	return same;
}

/* Map 1 MiB of /x written and touched; *fp, *pp. */
static int map_x(struct udax_fs *fs, struct udax_file **fp, char **pp)
{
	void *p;

	if (!(*fp = mkfile(fs, "/x", MIB, 'x')))
		return -1;
	if (udax_mmap(*fp, 0, MIB, PROT_READ | PROT_WRITE, UDAX_MAP_SHARED, &p))
		return -1;
	*pp = p;
	for (size_t o = 0; o < MIB; o += 4096)
		(*pp)[o] = 'x';
	return 0;
}

/* The scenario with a fixed buffer over /x's mapping. detach: the device
 * detaches freed pages (else it quarantines them). */
static int fixed_buffer(int detach)
{
	struct udax_fs *fs;
	struct udax_file *x, *y;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	char *p, src[] = "/dev/shm/udax-pin-src-XXXXXX";
	static char a[MIB];
	int ret, sfd;

	NEED_MAPPING();
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		SKIP("io_uring not available here (%s)", strerror(-ret));
	CHECK_EQ(ret, 0);
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	fs->dev->no_detach = !detach;
	CHECK_EQ(map_x(fs, &x, &p), 0);
	struct iovec iov = {.iov_base = p, .iov_len = MIB};
	CHECK_EQ(io_uring_register_buffers(&ring, &iov, 1), 0);
	CHECK((y = reuse_blocks(fs, x)) != NULL);
	uint64_t quarantined = atomic_load(&fs->alloc.quarantined);
	/* the kernel writes 'A's through its pin */
	sfd = mkstemp(src);
	CHECK(sfd >= 0);
	unlink(src);
	memset(a, 'A', sizeof(a));
	CHECK_EQ(pwrite(sfd, a, sizeof(a), 0), (ssize_t)sizeof(a));
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, sfd, p, MIB, 0, 0);
	CHECK_EQ(io_uring_submit(&ring), 1);
	CHECK_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
	int res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	/* the read went into memory no file holds, or failed (EFAULT) */
	CHECK(res == MIB || res == -EFAULT);
	struct stat st;
	CHECK_EQ(udax_fstat(y, &st), 0);
	size_t ys = count_byte(y, (size_t)st.st_size, 'y');
	printf("# %s: /y holds %lld bytes, %zu of them 'y', %zu 'A'; read "
	       "into the pin gave %d; %llu blocks quarantined\n",
	       detach ? "detach" : "quarantine", (long long)st.st_size, ys,
	       count_byte(y, (size_t)st.st_size, 'A'), res,
	       (unsigned long long)quarantined);
	CHECK_EQ(ys, (size_t)st.st_size);
	if (detach) {
		CHECK_EQ(st.st_size, MIB);
		CHECK_EQ(quarantined, 0);
	} else {
		/* nothing else was free: /y could not be written */
		CHECK(st.st_size < MIB);
		CHECK_EQ(quarantined, MIB / 4096);
	}
	io_uring_unregister_buffers(&ring);
	io_uring_queue_exit(&ring);
	close(sfd);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_file_close(&y), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static int io_uring_fixed(void)
{
	return fixed_buffer(1);
}

static int quarantine(void)
{
	return fixed_buffer(0);
}

static int vmsplice_pages(void)
{
	struct udax_fs *fs;
	struct udax_file *x, *y;
	static char buf[256 * 1024];
	char *p;
	int pp[2];
	const size_t n = 64 * 1024;

	NEED_MAPPING();
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK_EQ(map_x(fs, &x, &p), 0);
	CHECK_EQ(pipe(pp), 0);
	fcntl(pp[0], F_SETPIPE_SZ, (int)n);
	struct iovec iov = {.iov_base = p, .iov_len = n};
	CHECK_EQ(vmsplice(pp[1], &iov, 1, 0), (ssize_t)n);
	CHECK((y = reuse_blocks(fs, x)) != NULL);
	/* the pipe gives what /x held when it was spliced, never /y */
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(pp[0], buf + got, n - got);
		CHECK(r > 0);
		got += (size_t)r;
	}
	size_t ys = 0;
	for (size_t i = 0; i < n; i++)
		ys += buf[i] == 'y';
	printf("# vmsplice: %zu of %zu spliced bytes read back as /y's\n", ys,
	       n);
	CHECK_EQ(ys, 0);
	CHECK_EQ(count_byte(y, MIB, 'y'), MIB);
	close(pp[0]);
	close(pp[1]);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_file_close(&y), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"io-uring-fixed", io_uring_fixed},
	{"vmsplice", vmsplice_pages},
	{"quarantine", quarantine},
};
TEST_MAIN("pin", tests)
