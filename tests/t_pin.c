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
 *   io-uring-in-flight  an io_uring READ from an empty pipe into the
 *                    mapping, in flight across the truncate (not pinned:
 *                    the kernel copies through the address, as AIO): it
 *                    fails with EFAULT, /y keeps its bytes
 *   o-direct-in-flight  an O_DIRECT read of a slow source (a FUSE file
 *                    whose reads wait, slowsrc.h) into the mapping, in
 *                    flight across the truncate with the kernel holding
 *                    the pages: its bytes never reach /y
 *   aio-in-flight    the same with an AIO read (io_submit returns while
 *                    the read waits)
 *   aio-quarantine   the same on a device that cannot detach pages
 *   vmsplice         mapped pages spliced into a pipe; truncate, /y over
 *                    the blocks; the pipe still gives /x's bytes, /y its own
 *   quarantine       the same on a device that cannot detach pages (as
 *                    devdax): the blocks stay out of use until close, the
 *                    next allocation fails with ENOSPC, nothing leaks
 *   io-uring-leased  the scenario with a udax_pin lease on the buffer, on
 *                    both kinds of device: the truncate recalls it, the
 *                    program unregisters the buffer and unpins, and only
 *                    then are the blocks freed
 *   read-into-pin    a thread pins mapped memory and blocks in read(2)
 *                    into it; a truncate of the range waits for the pin
 *                    while the read's faults go through, then finishes
 *   bad-input        udax_pin and udax_unpin refuse what they should; a
 *                    pin outlives the unmapping of its memory
 *   stress           threads pin mapped ranges and read(2) from pipes
 *                    into them, store and load, while another truncates,
 *                    punches, zeroes and extends the same files on a full
 *                    device with freed blocks poisoned: no poison or
 *                    foreign byte is ever seen (UDAX_PIN_SEED replays)
 *
 * Needs userfaultfd; io_uring cases skip where io_uring is disabled.
 */
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <udax.h>
#include <unistd.h>

#include "fault/fault.h"
#include "fs.h"
#include "fsck/fsck.h"
#include "slowsrc.h"
#include "test.h"
#include "util.h"

#define MIB (1024 * 1024)

/* A ring of 4 entries in *ring, or the case skips where io_uring is
 * disabled (ENOSYS, EPERM). */
#define NEED_RING(ring)                                                        \
	do {                                                                   \
		int ring_ret_ = io_uring_queue_init(4, (ring), 0);             \
		if (ring_ret_ == -ENOSYS || ring_ret_ == -EPERM)               \
			SKIP("io_uring not available here (%s)",               \
			     strerror(-ring_ret_));                            \
		CHECK_EQ(ring_ret_, 0);                                        \
	} while (0)
#define IMAGE (16 * MIB)

#define NEED_MAPPING()                                                         \
	do {                                                                   \
		if (!mapping_permitted())                                      \
			SKIP("userfaultfd not permitted here");                \
	} while (0)

/* io_uring fixed buffers are long-term pins, which the kernel refuses
 * (EFAULT) on pages of a file other than shmem or hugetlbfs: the test
 * device must be a memory file, not an image in UDAX_MEMORY_DEVICE's
 * folder (make pmem-check). */
#define NEED_LONGTERM_PINS()                                                   \
	do {                                                                   \
		const char *d_ = getenv("UDAX_MEMORY_DEVICE");                 \
		if (d_ && *d_ == '/')                                          \
			SKIP("the kernel refuses long-term pins of a file's "  \
			     "pages (the device is a file in %s)",             \
			     d_);                                              \
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
/* The length of a mapping of len bytes: whole units on a device that
 * maps only those (memfd-huge), as hugetlbfs and devdax round it. */
static size_t map_len(struct udax_fs *fs, size_t len)
{
	size_t unit = fs->dev->map_unit > 4096 ? fs->dev->map_unit : 4096;

	return (len + unit - 1) / unit * unit;
}

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
	int sfd;

	NEED_MAPPING();
	NEED_LONGTERM_PINS();
	NEED_RING(&ring);
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
		/* nothing else was free: /y could not be written; the pinned
		 * blocks are held back (whole units where the device maps
		 * only those) */
		CHECK(st.st_size < MIB);
		CHECK_EQ(quarantined, map_len(fs, MIB) / 4096);
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

/* A read in flight that is not pinned: io_uring READ from an empty pipe
 * into the mapping (the kernel copies through the address when the data
 * comes, as an AIO read does). Truncate, /y over the blocks, then feed
 * the pipe: the read gets EFAULT (the address is past end of file now) or
 * lands in /x's own range, never in /y. */
static int io_uring_in_flight(void)
{
	struct udax_fs *fs;
	struct udax_file *x, *y;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	static char a[64 * 1024];
	char *p;
	int pp[2];

	NEED_MAPPING();
	NEED_RING(&ring);
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK_EQ(map_x(fs, &x, &p), 0);
	CHECK_EQ(pipe(pp), 0);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, pp[0], p, sizeof(a), 0);
	CHECK_EQ(io_uring_submit(&ring), 1);
	CHECK((y = reuse_blocks(fs, x)) != NULL);
	memset(a, 'A', sizeof(a));
	CHECK_EQ(write(pp[1], a, sizeof(a)), (ssize_t)sizeof(a));
	CHECK_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
	int res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	printf("# in flight: the read gave %d (%s); /y holds %zu 'y' and %zu "
	       "'A'\n",
	       res, res < 0 ? strerror(-res) : "bytes", count_byte(y, MIB, 'y'),
	       count_byte(y, MIB, 'A'));
	CHECK(res == -EFAULT || res > 0);
	CHECK_EQ(count_byte(y, MIB, 'y'), MIB);
	io_uring_queue_exit(&ring);
	close(pp[0]);
	close(pp[1]);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_file_close(&y), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static int quarantine(void)
{
	return fixed_buffer(0);
}

/* A read from the slow source into /x's mapping, in its own thread: an
 * O_DIRECT pread, or an AIO read (io_submit, then io_getevents). */
struct dio_read {
	const char *path;
	char *buf;
	int aio;
	int submitted; /* io_submit returned (the read is queued) */
	long res;      /* bytes read or -errno */
};

static void *dio_reader(void *arg)
{
	struct dio_read *d = arg;
	int fd = open(d->path, O_RDONLY | O_DIRECT);

	d->res = -errno;
	if (fd < 0)
		return NULL;
	if (!d->aio) {
		ssize_t r = pread(fd, d->buf, MIB, 0);
		d->res = r < 0 ? -errno : r;
	} else {
		aio_context_t ctx = 0;
		struct iocb cb = {.aio_fildes = (uint32_t)fd,
				  .aio_lio_opcode = IOCB_CMD_PREAD,
				  .aio_buf = (uintptr_t)d->buf,
				  .aio_nbytes = MIB};
		struct iocb *cbs[] = {&cb};
		struct io_event ev;

		if (syscall(SYS_io_setup, 1, &ctx))
			goto close_fd;
		if (syscall(SYS_io_submit, ctx, 1, cbs) != 1)
			goto destroy_ctx;
		__atomic_store_n(&d->submitted, 1, __ATOMIC_RELEASE);
		if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) == 1)
			d->res = (long)ev.res;
	destroy_ctx:
		syscall(SYS_io_destroy, ctx);
	}
close_fd:
	close(fd);
	return NULL;
}

/* Direct I/O in flight across a truncate: the kernel holds references on
 * /x's mapped pages (get_user_pages) while a read of a slow source waits;
 * /x is truncated and /y written over its blocks; then the source lets
 * the read go and the kernel copies 'A's into the pages it holds. They
 * must be memory no file reaches (detached, or quarantined: then /y gets
 * ENOSPC), and /y keeps its bytes. */
static int dio_in_flight(int aio, int detach)
{
	struct udax_fs *fs;
	struct udax_file *x, *y;
	struct slowsrc *src;
	const char *why;
	pthread_t t;
	char *p;

	NEED_MAPPING();
	if (!(src = slowsrc_start(MIB, 'A', &why)))
		SKIP("no slow source: %s", why);
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	fs->dev->no_detach = !detach;
	CHECK_EQ(map_x(fs, &x, &p), 0);
	struct dio_read d = {.path = src->path, .buf = p, .aio = aio};
	CHECK_EQ(pthread_create(&t, NULL, dio_reader, &d), 0);
	CHECK_EQ(slowsrc_wait_held(src, 600), 0);
	/* an AIO read is queued when io_submit returns (the kernel's async
	 * FUSE direct I/O); where io_submit waits for the data instead, the
	 * read is in flight all the same */
	int queued = 0;
	for (int i = 0; aio && !queued && i < 10000; i++) {
		queued = __atomic_load_n(&d.submitted, __ATOMIC_ACQUIRE);
		if (!queued)
			usleep(1000);
	}
	y = reuse_blocks(fs, x);
	uint64_t quarantined = atomic_load(&fs->alloc.quarantined);
	slowsrc_release(src);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(y != NULL);
	struct stat st;
	CHECK_EQ(udax_fstat(y, &st), 0);
	size_t ys = count_byte(y, (size_t)st.st_size, 'y');
	printf("# %s%s: the read gave %ld%s; /y holds %lld bytes, %zu of "
	       "them 'y', %zu 'A'; %llu blocks quarantined; %u reads served\n",
	       aio ? "AIO" : "O_DIRECT", detach ? "" : ", quarantine", d.res,
	       aio ? (queued ? " (queued before the truncate)" :
			       " (io_submit waited)") :
		     "",
	       (long long)st.st_size, ys,
	       count_byte(y, (size_t)st.st_size, 'A'),
	       (unsigned long long)quarantined, src->reads);
	/* into memory no file holds, or short (the address past /x's end) */
	CHECK(d.res > 0 || d.res == -EFAULT);
	CHECK_EQ(ys, (size_t)st.st_size);
	if (detach)
		CHECK_EQ(st.st_size, MIB);
	else
		CHECK(quarantined > 0 && st.st_size < MIB);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_file_close(&y), 0);
	CHECK_EQ(udax_close(&fs), 0);
	slowsrc_stop(src);
	return T_PASS;
}

static int o_direct_in_flight(void)
{
	return dio_in_flight(0, 1);
}

static int aio_in_flight(void)
{
	return dio_in_flight(1, 1);
}

static int aio_quarantine(void)
{
	return dio_in_flight(1, 0);
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

/* ---- with udax_pin ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct lease {
	struct io_uring *ring;
	struct udax_pin *pin;
	int recalls;
};

/* What a program does when its lease is recalled: stop the I/O (here:
 * unregister the fixed buffer) and unpin. */
static void recall_buffer(struct udax_pin *pin, void *arg)
{
	struct lease *l = arg;

	(void)pin;
	l->recalls++;
	io_uring_unregister_buffers(l->ring);
	udax_unpin(&l->pin);
}

static int leased_buffer(int detach)
{
	struct udax_fs *fs;
	struct udax_file *x, *y;
	struct io_uring ring;
	struct lease l = {.ring = &ring};
	struct udax_pin_opts o = {
		.recall = recall_buffer, .arg = &l, .deadline_ms = 60 * 1000};
	char *p;

	NEED_MAPPING();
	NEED_LONGTERM_PINS();
	NEED_RING(&ring);
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	fs->dev->no_detach = !detach;
	CHECK_EQ(map_x(fs, &x, &p), 0);
	struct iovec iov = {.iov_base = p, .iov_len = MIB};
	CHECK_EQ(io_uring_register_buffers(&ring, &iov, 1), 0);
	CHECK_EQ(udax_pin(p, MIB, UDAX_PIN_LONGTERM, &o, &l.pin), 0);
	CHECK((y = reuse_blocks(fs, x)) != NULL);
	/* the truncate was told, and went on once the lease was given up */
	CHECK_EQ(l.recalls, 1);
	CHECK(l.pin == NULL);
	CHECK_EQ(atomic_load(&fs->layout.recalls), 1);
	CHECK_EQ(atomic_load(&fs->layout.expired), 0);
	/* the buffer is gone: a late fixed read cannot be made */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, 0, p, MIB, 0, 0);
	CHECK_EQ(io_uring_submit(&ring), 1);
	struct io_uring_cqe *cqe;
	CHECK_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
	CHECK(cqe->res < 0);
	io_uring_cqe_seen(&ring, cqe);
	struct stat st;
	CHECK_EQ(udax_fstat(y, &st), 0);
	printf("# leased %s: /y holds %lld bytes, all 'y': %s\n",
	       detach ? "detach" : "quarantine", (long long)st.st_size,
	       count_byte(y, (size_t)st.st_size, 'y') == (size_t)st.st_size ?
		       "yes" :
		       "no");
	CHECK_EQ(count_byte(y, (size_t)st.st_size, 'y'), (size_t)st.st_size);
	if (detach)
		CHECK_EQ(st.st_size, MIB);
	io_uring_queue_exit(&ring);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_file_close(&y), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static int io_uring_leased(void)
{
	int r = leased_buffer(1);
	return r != T_PASS ? r : leased_buffer(0);
}

struct reader {
	char *p;
	int fd;
	struct udax_pin *pin;
	_Atomic int pinned, unpinned;
	ssize_t got;
};

/* Pin 64 KiB of the mapping and read(2) into it from a pipe. */
static void *read_into_pin(void *arg)
{
	struct reader *r = arg;

	if (udax_pin(r->p, 64 * 1024, 0, NULL, &r->pin))
		return NULL;
	atomic_store(&r->pinned, 1);
	r->got = 0;
	while (r->got < 64 * 1024) {
		ssize_t n = read(r->fd, r->p + r->got, 64 * 1024 - r->got);
		if (n <= 0)
			break;
		r->got += n;
	}
	atomic_store(&r->unpinned, 1);
	udax_unpin(&r->pin);
	return NULL;
}

struct truncer {
	struct udax_file *f;
	int ret;
	_Atomic int done;
};

static void *truncate_thread(void *arg)
{
	struct truncer *t = arg;
	t->ret = udax_ftruncate(t->f, 0);
	atomic_store(&t->done, 1);
	return NULL;
}

static int read_into_pin_case(void)
{
	struct udax_fs *fs;
	struct udax_file *x;
	struct reader r = {0};
	struct truncer t = {0};
	pthread_t rt, tt;
	static char pbuf[64 * 1024];
	char *p;
	int pp[2];

	NEED_MAPPING();
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK_EQ(map_x(fs, &x, &p), 0);
	CHECK_EQ(pipe(pp), 0);
	r.p = p;
	r.fd = pp[0];
	CHECK_EQ(pthread_create(&rt, NULL, read_into_pin, &r), 0);
	for (int64_t t0 = now_ms(); !atomic_load(&r.pinned);) {
		CHECK(now_ms() - t0 < 300 * 1000);
		usleep(1000);
	}
	t.f = x;
	CHECK_EQ(pthread_create(&tt, NULL, truncate_thread, &t), 0);
	/* the break zapped the range and waits for the pin */
	for (int64_t t0 = now_ms(); !atomic_load(&fs->layout.waits);) {
		CHECK(now_ms() - t0 < 300 * 1000);
		usleep(1000);
	}
	CHECK_EQ(atomic_load(&t.done), 0);
	/* the read's faults go through during the wait, and the pin goes */
	memset(pbuf, 'P', sizeof(pbuf));
	CHECK_EQ(write(pp[1], pbuf, sizeof(pbuf)), (ssize_t)sizeof(pbuf));
	pthread_join(rt, NULL);
	pthread_join(tt, NULL);
	CHECK_EQ(r.got, 64 * 1024);
	CHECK_EQ(t.ret, 0);
	CHECK_EQ(atomic_load(&r.unpinned), 1);
	CHECK_EQ(atomic_load(&fs->layout.expired), 0);
	struct stat st;
	CHECK_EQ(udax_fstat(x, &st), 0);
	CHECK_EQ(st.st_size, 0);
	close(pp[0]);
	close(pp[1]);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static void recall_none(struct udax_pin *pin, void *arg)
{
	(void)pin;
	(void)arg;
}

static int bad_input(void)
{
	struct udax_fs *fs;
	struct udax_file *x;
	struct udax_pin *pin = NULL;
	struct udax_pin_opts o = {.recall = recall_none, .deadline_ms = 10};
	struct udax_pin_opts norecall = {.deadline_ms = 10};
	static char notmapped[8192] __attribute__((aligned(4096)));
	char *p;

	NEED_MAPPING();
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK_EQ(map_x(fs, &x, &p), 0);
	CHECK_EQ(udax_pin(p + 1, 4096, 0, NULL, &pin), -EINVAL);
	CHECK_EQ(udax_pin(p, 0, 0, NULL, &pin), -EINVAL);
	CHECK_EQ(udax_pin(p, 4096, 0x100, NULL, &pin), -EINVAL);
	CHECK_EQ(udax_pin(p, 4096, UDAX_PIN_LONGTERM, NULL, &pin), -EINVAL);
	CHECK_EQ(udax_pin(p, 4096, UDAX_PIN_LONGTERM, &norecall, &pin),
		 -EINVAL);
	CHECK_EQ(udax_pin(p, 4096, 0, &o, &pin), -EINVAL);
	CHECK_EQ(udax_pin(p, 4096, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(udax_pin(notmapped, 4096, 0, NULL, &pin), -EFAULT);
	/* past the end of the mapping */
	CHECK_EQ(udax_pin(p + map_len(fs, MIB) - 4096, 8192, 0, NULL, &pin),
		 -EFAULT);
	CHECK_EQ(udax_pin((void *)(uintptr_t)-4096, 8192, 0, NULL, &pin),
		 -EINVAL);
	CHECK(pin == NULL);
	CHECK_EQ(udax_unpin(NULL), -EINVAL);
	CHECK_EQ(udax_unpin(&pin), -EINVAL);
	/* nothing was pinned by all that */
	CHECK_EQ(layout_pin_count(fs), 0);
	/* a pin outlives the mapping it was made through */
	CHECK_EQ(udax_pin(p + 4096, 4096, UDAX_PIN_LONGTERM, &o, &pin), 0);
	CHECK_EQ(udax_munmap(p, MIB), 0);
	CHECK_EQ(udax_ftruncate(x, 0), -EBUSY);
	CHECK_EQ(udax_ftruncate(x, 8192), 0); /* past it */
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_close(&fs), -EBUSY);
	CHECK_EQ(udax_unpin(&pin), 0);
	CHECK_EQ(udax_unpin(&pin), -EINVAL);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* ---- stress ---- */

#define SFILES 3
#define SMAX (512 * 1024)

struct sworld {
	struct udax_fs *fs;
	struct udax_file *f[SFILES];
	char *map[SFILES];
	int pipe[SFILES][2];
	_Atomic int stop, feed_stop, failed;
	_Atomic uint64_t pins, reads, stores, loads, ops;
	unsigned seed;
};

static int stag(int i)
{
	return 'K' + i;
}

static off_t sfsize(struct udax_file *f)
{
	struct stat st;
	return udax_fstat(f, &st) ? -1 : st.st_size;
}

/* Bytes [off, off+n) of m are 0 or c. */
static int bytes_clean(const char *m, size_t n, int c, const char *who)
{
	for (size_t j = 0; j < n; j++)
		if (m[j] && m[j] != c) {
			fprintf(stderr,
				"# %s: byte %zu is 0x%02x, not 0x%02x\n", who,
				j, (unsigned char)m[j], c);
			return 0;
		}
	return 1;
}

/* Feed pipe i with its file's tag. */
static void *feeder(void *arg)
{
	struct sworld *w = ((void **)arg)[0];
	int i = (int)(intptr_t)((void **)arg)[1];
	char buf[4096];

	memset(buf, stag(i), sizeof(buf));
	while (!atomic_load(&w->feed_stop))
		if (write(w->pipe[i][1], buf, sizeof(buf)) < 0)
			break;
	return NULL;
}

static void *spinner(void *arg)
{
	struct sworld *w = ((void **)arg)[0];
	int i = (int)(intptr_t)((void **)arg)[1];
	unsigned s = w->seed + (unsigned)i;
	static __thread char buf[64 * 1024];
	char *m = w->map[i];

	memset(buf, stag(i), sizeof(buf));
	while (!atomic_load(&w->stop) && !atomic_load(&w->failed)) {
		off_t size = sfsize(w->f[i]) & ~(off_t)4095;
		if (size > SMAX)
			size = SMAX; /* the mapping's end */
		if (size < 8192) {
			udax_pwrite(w->f[i], buf, 32 * 1024, 0);
			continue;
		}
		off_t off =
			(off_t)(rand_r(&s) % (unsigned)(size / 4096)) * 4096;
		size_t len = (size_t)(1 + rand_r(&s) % 16) * 4096;
		if ((off_t)len > size - off)
			len = (size_t)(size - off);
		struct udax_pin *pin;
		int ret = udax_pin(m + off, len, 0, NULL, &pin);
		if (ret) {
			fprintf(stderr, "# udax_pin: %s\n", strerror(-ret));
			atomic_store(&w->failed, 1);
			break;
		}
		atomic_fetch_add(&w->pins, 1);
		/* inside the file still, and allocated (a store into a hole
		 * of a full device would raise SIGBUS): the pin's to use */
		if (off + (off_t)len <= sfsize(w->f[i]) &&
		    udax_pwrite(w->f[i], buf, len, off) == (ssize_t)len) {
			switch (rand_r(&s) % 3) {
			case 0: /* the kernel writes into the pinned pages */
				for (size_t got = 0; got < len;) {
					ssize_t n =
						read(w->pipe[i][0],
						     m + off + got, len - got);
					if (n <= 0) {
						fprintf(stderr,
							"# read into a pin: "
							"%zd\n",
							n);
						atomic_store(&w->failed, 1);
						break;
					}
					got += (size_t)n;
				}
				atomic_fetch_add(&w->reads, 1);
				break;
			case 1:
				memset(m + off, stag(i), len);
				atomic_fetch_add(&w->stores, 1);
				break;
			default:
				atomic_fetch_add(&w->loads, 1);
				break;
			}
			if (!bytes_clean(m + off, len, stag(i), "pinned range"))
				atomic_store(&w->failed, 1);
		}
		udax_unpin(&pin);
	}
	return NULL;
}

static void *sbreaker(void *arg)
{
	struct sworld *w = arg;
	unsigned s = w->seed ^ 0x9e3779b9u;

	while (!atomic_load(&w->stop) && !atomic_load(&w->failed)) {
		int i = (int)(rand_r(&s) % SFILES);
		int ret = layout_change(w->f[i], &s, SMAX, stag(i));
		if (ret && ret != -ENOSPC) {
			fprintf(stderr, "# breaker: %s\n", strerror(-ret));
			atomic_store(&w->failed, 1);
		}
		atomic_fetch_add(&w->ops, 1);
		/* the file no pinner works on, through a pread */
		static __thread char rb[SMAX];
		ssize_t r = udax_pread(w->f[SFILES - 1], rb, SMAX, 0);
		if (r < 0 || !bytes_clean(rb, (size_t)r, stag(SFILES - 1),
					  "unpinned file"))
			atomic_store(&w->failed, 1);
	}
	return NULL;
}

static int stress(void)
{
	static struct sworld w;
	const char *e = getenv("UDAX_PIN_SEED");
	pthread_t pt[2], ft[2], bt;
	void *args[2][2];
	static char fb[64 * 1024];
	struct udax_info info;
	struct udax_file *fill;

	NEED_MAPPING();
	e = getenv("UDAX_PIN_SEED");
	memset(&w, 0, sizeof(w));
	w.seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
	printf("# stress: seed %u (UDAX_PIN_SEED replays)\n", w.seed);
	signal(SIGPIPE, SIG_IGN);
	setenv("UDAX_POISON_FREED", "1", 1);
	CHECK_EQ(udax_open_memory(&w.fs, IMAGE), 0);
	unsetenv("UDAX_POISON_FREED");
	CHECK(w.fs->alloc.poison);
	for (int i = 0; i < SFILES; i++) {
		char path[16];
		void *m;
		snprintf(path, sizeof(path), "/s%d", i);
		CHECK((w.f[i] = mkfile(w.fs, path, 64 * 1024, stag(i))) !=
		      NULL);
		CHECK_EQ(udax_mmap(w.f[i], 0, SMAX, PROT_READ | PROT_WRITE,
				   UDAX_MAP_SHARED, &m),
			 0);
		w.map[i] = m;
		CHECK_EQ(pipe(w.pipe[i]), 0);
	}
	/* a full device: freed blocks are soon another file's. One that
	 * maps whole units keeps a few free: a store into a window in
	 * pieces needs a fresh unit there (as a fault on hugetlbfs needs a
	 * free huge page), and the pinners make such windows all the time
	 * (pwrite allocates blocks, not units) */
	CHECK_EQ(udax_info(w.fs, &info), 0);
	uint64_t keep =
		info.map_unit > 4096 ? (SFILES + 2) * info.map_unit : 2 * MIB;
	CHECK_EQ(udax_file_open(w.fs, "/fill", O_CREAT | O_RDWR, 0644, &fill),
		 0);
	for (off_t o = 0;; o += sizeof(fb)) {
		CHECK_EQ(udax_info(w.fs, &info), 0);
		if (info.free_blocks * 4096 < keep)
			break;
		CHECK_EQ(udax_pwrite(fill, fb, sizeof(fb), o),
			 (ssize_t)sizeof(fb));
	}
	CHECK_EQ(udax_file_close(&fill), 0);
	for (int i = 0; i < 2; i++) {
		args[i][0] = &w;
		args[i][1] = (void *)(intptr_t)i;
		pthread_create(&ft[i], NULL, feeder, args[i]);
		pthread_create(&pt[i], NULL, spinner, args[i]);
	}
	pthread_create(&bt, NULL, sbreaker, &w);
	int64_t t0 = now_ms();
	while (!atomic_load(&w.failed) &&
	       (now_ms() - t0 < 2000 || atomic_load(&w.pins) < 2000 ||
		atomic_load(&w.ops) < 1000 || atomic_load(&w.reads) < 100))
		usleep(10 * 1000);
	atomic_store(&w.stop, 1);
	pthread_join(bt, NULL);
	/* the feeders go on until the pinners are done (one may be
	 * blocked in a read); then a feeder blocked in write (the pipe full)
	 * is ended by closing the read end (EPIPE) */
	for (int i = 0; i < 2; i++)
		pthread_join(pt[i], NULL);
	atomic_store(&w.feed_stop, 1);
	for (int i = 0; i < 2; i++) {
		close(w.pipe[i][0]);
		pthread_join(ft[i], NULL);
	}
	printf("# stress: %llu pins (%llu reads into them, %llu stores, %llu "
	       "loads), %llu truncates/punches/zeroes/extends, %llu breaks, "
	       "%llu waited for pins, %llu blocks quarantined\n",
	       (unsigned long long)w.pins, (unsigned long long)w.reads,
	       (unsigned long long)w.stores, (unsigned long long)w.loads,
	       (unsigned long long)w.ops,
	       (unsigned long long)w.fs->layout.breaks,
	       (unsigned long long)w.fs->layout.waits,
	       (unsigned long long)w.fs->alloc.quarantined);
	CHECK_EQ(atomic_load(&w.failed), 0);
	CHECK(w.fs->layout.waits > 0);
	CHECK_EQ(w.fs->layout.expired, 0);
	for (int i = 0; i < SFILES; i++) {
		static char rb[SMAX];
		ssize_t r = udax_pread(w.f[i], rb, SMAX, 0);
		CHECK(r >= 0);
		CHECK(bytes_clean(rb, (size_t)r, stag(i), "file at the end"));
		CHECK_EQ(udax_munmap(w.map[i], SMAX), 0);
		CHECK_EQ(udax_file_close(&w.f[i]), 0);
		close(w.pipe[i][1]);
		if (i == 2)
			close(w.pipe[i][0]);
	}
	CHECK_EQ(layout_pin_count(w.fs), 0);
	CHECK_EQ(udax_close(&w.fs), 0);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"io-uring-fixed", io_uring_fixed},
	{"io-uring-in-flight", io_uring_in_flight},
	{"vmsplice", vmsplice_pages},
	{"quarantine", quarantine},
	{"o-direct-in-flight", o_direct_in_flight},
	{"aio-in-flight", aio_in_flight},
	{"aio-quarantine", aio_quarantine},
	{"io-uring-leased", io_uring_leased},
	{"read-into-pin", read_into_pin_case},
	{"bad-input", bad_input},
	{"stress", stress},
};
TEST_MAIN("pin", tests)
