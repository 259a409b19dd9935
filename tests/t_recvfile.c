/* SPDX-License-Identifier: MIT */
/*
 * t_recvfile.c - udax_recvfile: a socket's bytes into a file, space
 * reserved first, no lock held while the socket blocks, nothing visible
 * before the commit.
 *
 *   tcp-large        8 MiB + 123 of random bytes over loopback TCP, as
 *                    they come (no flag) and with UDAX_RECV_WAITALL; the
 *                    blocks the file uses are exactly those it holds
 *   ranges-*         random offsets and counts (unaligned, over data,
 *                    holes, unwritten blocks, past end of file, peers
 *                    that send fewer bytes than asked) checked against
 *                    a model, freed blocks poisoned; memory and crash
 *                    devices
 *   position         offset NULL uses and advances the file position
 *   enospc           more than the free space: -ENOSPC, and the socket
 *                    still holds every byte; free space as before
 *   short            the peer sends less and ends: the bytes it sent, the
 *                    rest of the reservation given back, then 0
 *   reset            the peer resets the connection while a receive
 *                    waits for more: the file holds the prefix that
 *                    arrived (or is unchanged), and the error follows
 *   timeout          SO_RCVTIMEO: -EAGAIN with nothing, a short count
 *                    with some
 *   nonblocking      -EAGAIN with nothing consumed, then the bytes
 *   concurrent       while a receive over a file waits for its second
 *                    half, readers, a writer and mapped readers go on and
 *                    never see one of its bytes; after it the range holds
 *                    them all (the write into the range came before)
 *   truncate-punch   the file truncated to 0, or the range punched, while
 *                    the receive waits: neither waits for it, and the
 *                    result is the receive made after them
 *   small-journal    a receive over 8,192 extents with a 256 KiB journal:
 *                    committed in several transactions, the same bytes,
 *                    no block leaked
 *   crash-small-journal  the crash points of such a commit (3,072
 *                    extents) on the crash device: each image shows the
 *                    file before, after, or with a prefix of the data
 *   bad-input        the documented errors, nothing read, nothing changed
 *   inject           recvmsg(2) failing: the error, nothing changed, no
 *                    block kept
 *
 * Crash states of a receive are enumerated by t_crash (crash_ops.h:
 * recv-new, recv-overwrite, recv-short, recv-past-end).
 * Random cases print their seed; UDAX_RECVFILE_SEED replays one.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <udax.h>
#include <unistd.h>

#include "api/api.h"
#include "device/device.h"
#include "fs.h"
#include "net.h"
#include "sys/sys.h"
#include "test.h"
#include "util.h"

#define KIB 1024
#define MIB (1024 * 1024)
#define IMAGE (32 * MIB)

static unsigned seed;

static void seed_init(void)
{
	const char *e = getenv("UDAX_RECVFILE_SEED");

	if (!seed)
		seed = e ? (unsigned)strtoul(e, NULL, 0) :
			   (unsigned)time(NULL) ^ (unsigned)getpid();
}

static uint64_t free_blocks(struct udax_fs *fs)
{
	struct statvfs st;

	return udax_statfs(fs, &st) ? 0 : st.f_bfree;
}

/* Bytes queued for reading on fd. */
static int queued_in(int fd)
{
	int in = 0;

	ioctl(fd, FIONREAD, &in);
	return in;
}

/* A Unix stream pair, or -1. */
static int pair_new(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

/* The end of a case: both sockets, the file and the file system closed.
 */
static int case_end(struct udax_fs **fs, struct udax_file **f, int a, int b)
{
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	CHECK_EQ(udax_file_close(f), 0);
	CHECK_EQ(udax_close(fs), 0);
	return T_PASS;
}

/* A thread writing n bytes of buf to fd, then (end) shutting it down. */
struct feeder {
	pthread_t thread;
	int fd, end;
	const uint8_t *buf;
	size_t n;
};

static void *feeder_run(void *arg)
{
	struct feeder *fd = arg;
	size_t done = 0;

	while (done < fd->n) {
		ssize_t w = write(fd->fd, fd->buf + done, fd->n - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (fd->end)
		shutdown(fd->fd, SHUT_WR);
	return NULL;
}

static int feed(struct feeder *fd, int sock, const uint8_t *buf, size_t n,
		int end)
{
	*fd = (struct feeder){.fd = sock, .end = end, .buf = buf, .n = n};
	return pthread_create(&fd->thread, NULL, feeder_run, fd);
}

/* Does the file read exactly want[0, n)? */
static int file_is(struct udax_file *f, const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n + 1);
	struct stat st;
	int same;

	if (!got || udax_fstat(f, &st) || (size_t)st.st_size != n) {
		free(got);
		return 0;
	}
	same = udax_pread(f, got, n + 1, 0) == (ssize_t)n &&
	       memcmp(got, want, n) == 0;
	free(got);
	return same;
}

/* Wait until the receiving end has taken every byte (generous: the
 * machine may be loaded), then a little more so that the receive is
 * blocked for the rest. */
static int wait_drained(int snd, int rcv)
{
	double end = mono_s() + 120;
	int out = 1;

	while (mono_s() < end) {
		ioctl(snd, SIOCOUTQ, &out);
		if (!out && !queued_in(rcv))
			break;
		sleep_ms(2);
	}
	sleep_ms(20);
	return out || queued_in(rcv) ? -1 : 0;
}

/* A receive on a thread. */
struct receiver {
	pthread_t thread;
	struct udax_file *f;
	int sock;
	off_t off;
	size_t count;
	unsigned flags;
	ssize_t ret;
	_Atomic int done;
};

static void *receiver_run(void *arg)
{
	struct receiver *r = arg;

	r->ret = udax_recvfile(r->f, r->sock, &r->off, r->count, r->flags);
	atomic_store(&r->done, 1);
	return NULL;
}

static int receive_start(struct receiver *r, struct udax_file *f, int sock,
			 off_t off, size_t count)
{
	*r = (struct receiver){.f = f,
			       .sock = sock,
			       .off = off,
			       .count = count,
			       .flags = UDAX_RECV_WAITALL};
	return pthread_create(&r->thread, NULL, receiver_run, r);
}

/* ---- tcp-large ---- */

static int tcp_large_with(unsigned flags)
{
	const size_t n = 8 * MIB + 123;
	struct udax_fs *fs;
	struct udax_file *f;
	struct feeder fd;
	struct stat st;
	uint8_t *want = malloc(n);
	uint64_t free0;
	int snd, rcv, calls = 0;
	off_t off = 0;

	seed_init();
	CHECK(want != NULL);
	fill_random(want, n, seed);
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK_EQ(udax_file_open(fs, "/big", O_CREAT | O_RDWR, 0644, &f), 0);
	free0 = free_blocks(fs);
	CHECK_EQ(tcp_pair(&snd, &rcv, 0), 0);
	CHECK_EQ(feed(&fd, snd, want, n, 1), 0);
	while ((size_t)off < n) {
		ssize_t r =
			udax_recvfile(f, rcv, &off, n - (size_t)off + 5, flags);
		CHECK(r > 0);
		calls++;
	}
	CHECK_EQ(udax_recvfile(f, rcv, &off, MIB, flags), 0); /* the end */
	pthread_join(fd.thread, NULL);
	CHECK_EQ(off, (off_t)n);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 0);
	CHECK(file_is(f, want, n));
	CHECK_EQ(udax_fstat(f, &st), 0);
	/* its data blocks (and a tree node or so): all it took */
	CHECK(st.st_blocks / 8 >= (blkcnt_t)((n + 4095) / 4096));
	CHECK(st.st_blocks / 8 <= (blkcnt_t)((n + 4095) / 4096 + 2));
	CHECK_EQ(free0 - free_blocks(fs), (uint64_t)st.st_blocks / 8);
	if (flags)
		CHECK_EQ(calls, 1);
	printf("# tcp-large (%s): %zu bytes in %d calls (seed %u)\n",
	       flags ? "WAITALL" : "as they come", n, calls, seed);
	free(want);
	return case_end(&fs, &f, snd, rcv);
}

static int tcp_large(void)
{
	int r = tcp_large_with(0);
	return r ? r : tcp_large_with(UDAX_RECV_WAITALL);
}

/* ---- ranges ---- */

static int ranges_on(int crash)
{
	const size_t cap = 6 * MIB;
	uint8_t *model = calloc(1, cap), *data = malloc(2 * MIB);
	struct udax_fs *fs;
	struct udax_file *f;
	size_t size = 0, total = 0;
	int shorts = 0;

	seed_init();
	CHECK(model && data);
	CHECK_EQ(fs_new_dev(&fs, crash, IMAGE, 1), 0);
	CHECK_EQ(udax_file_open(fs, "/r", O_CREAT | O_RDWR, 0644, &f), 0);
	/* data, a hole, unwritten blocks, data */
	fill_random(model, 3 * MIB, seed + 1);
	memset(model + 700 * KIB, 0, MIB - 700 * KIB + 3);
	memset(model + 2 * MIB, 0, MIB / 2);
	CHECK_EQ(udax_pwrite(f, model, 700 * KIB, 0), 700 * KIB);
	CHECK_EQ(udax_pwrite(f, model + MIB + 3, MIB - 3, MIB + 3), MIB - 3);
	CHECK_EQ(udax_fallocate(f, 0, 2 * MIB, MIB / 2), 0);
	CHECK_EQ(udax_pwrite(f, model + 5 * MIB / 2, MIB / 2, 5 * MIB / 2),
		 MIB / 2);
	size = 3 * MIB;
	srandom(seed);
	for (int i = 0; i < 80; i++) {
		static const size_t counts[] = {1,    2,       4095,   4096,
						4097, 8191,    65536,  65537,
						MIB,  MIB + 1, 2 * MIB};
		size_t count = i % 3 ? counts[random() % 11] :
				       1 + (size_t)random() % (2 * MIB);
		size_t span = size + 3 * 8192 < cap ? size + 3 * 8192 : cap - 1;
		off_t off = (off_t)((size_t)random() % span);
		/* a third of the peers send less than asked, then end */
		size_t sent = i % 3 == 1 ? (size_t)random() % count : count;
		struct feeder fd;
		int sv[2];
		off_t at = off;

		if ((size_t)off + count > cap)
			count = cap - (size_t)off;
		if (sent > count)
			sent = count;
		fill_random(data, sent, seed + 7 * (unsigned)i);
		CHECK_EQ(pair_new(sv), 0);
		CHECK_EQ(feed(&fd, sv[1], data, sent, 1), 0);
		ssize_t n =
			udax_recvfile(f, sv[0], &at, count, UDAX_RECV_WAITALL);
		pthread_join(fd.thread, NULL);
		close(sv[0]);
		close(sv[1]);
		if (n != (ssize_t)sent || at != off + (off_t)sent) {
			fprintf(stderr,
				"  case %d: recvfile(off %lld, count %zu) of "
				"%zu sent = %zd (seed %u)\n",
				i, (long long)off, count, sent, n, seed);
			return T_FAIL;
		}
		shorts += sent < count;
		memcpy(model + off, data, sent);
		if ((size_t)off + sent > size)
			size = (size_t)off + sent;
		total += sent;
		if (!file_is(f, model, size)) {
			fprintf(stderr,
				"  case %d: off %lld count %zu: the file is "
				"not the model (seed %u)\n",
				i, (long long)off, count, seed);
			return T_FAIL;
		}
		if (i % 10 == 9)
			CHECK_EQ(udax_sync(fs), 0); /* frees come back */
	}
	printf("# ranges on %s device: 80 receives, %zu bytes, %d short "
	       "(seed %u)\n",
	       crash ? "the crash" : "a memory", total, shorts, seed);
	free(model);
	free(data);
	return case_end(&fs, &f, -1, -1);
}

static int ranges_memory(void)
{
	return ranges_on(0);
}

static int ranges_crash(void)
{
	return ranges_on(1);
}

/* ---- position ---- */

static int position(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	uint8_t want[3000], got[3100];
	int sv[2];
	off_t off = 10;

	memset(want, 'p', sizeof(want));
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK_EQ(udax_file_open(fs, "/p", O_CREAT | O_RDWR, 0644, &f), 0);
	CHECK_EQ(pair_new(sv), 0);
	CHECK_EQ(write(sv[1], want, sizeof(want)), (ssize_t)sizeof(want));
	CHECK_EQ(udax_lseek(f, 100, SEEK_SET), 100);
	CHECK_EQ(udax_recvfile(f, sv[0], NULL, 1000, 0), 1000);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 1100);
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 50, 0), 50);
	CHECK_EQ(off, 60);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 1100);
	/* what is queued: fewer than asked, without WAITALL */
	CHECK_EQ(udax_recvfile(f, sv[0], NULL, 1 << 20, 0), 3000 - 1050);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 1100 + 1950);
	CHECK_EQ(udax_pread(f, got, sizeof(got), 0), 3050);
	for (int i = 0; i < 3050; i++)
		CHECK(got[i] == (i < 10 || (i >= 60 && i < 100) ? 0 : 'p'));
	return case_end(&fs, &f, sv[0], sv[1]);
}

/* ---- enospc ---- */

static int enospc(void)
{
	struct udax_fs *fs;
	struct udax_file *f, *fill;
	static uint8_t buf[128 * KIB]; /* a socketpair holds it */
	uint64_t free0;
	int sv[2];
	off_t off = 0;

	CHECK_EQ(fs_new_dev(&fs, 0, 16 * MIB, 1), 0);
	CHECK((f = file_of_byte(fs, "/e", 8192, 'e')) != NULL);
	/* leave about 1 MiB */
	CHECK((fill = file_of_byte(fs, "/fill", 0, 'f')) != NULL);
	for (off_t o = 0; free_blocks(fs) > 256 + 64; o += 4096)
		CHECK_EQ(udax_pwrite(fill, buf, 4096, o), 4096);
	free0 = free_blocks(fs);
	memset(buf, 'r', sizeof(buf));
	CHECK_EQ(pair_new(sv), 0);
	CHECK_EQ(write(sv[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	/* 2 MiB do not fit: nothing read from the socket */
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 2 * MIB, UDAX_RECV_WAITALL),
		 -ENOSPC);
	CHECK_EQ(off, 0);
	CHECK_EQ(queued_in(sv[0]), (int)sizeof(buf));
	CHECK_EQ(free_blocks(fs), free0);
	CHECK_EQ(file_count_byte(f, 8192, 'e'), 8192);
	/* what fits does */
	off = 4096;
	CHECK_EQ(udax_recvfile(f, sv[0], &off, sizeof(buf), UDAX_RECV_WAITALL),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(file_count_byte(f, 4096, 'e'), 4096);
	CHECK_EQ(file_count_byte(f, 4096 + sizeof(buf), 'r'), sizeof(buf));
	/* one block of /e replaced (freed at the checkpoint), 31 new */
	CHECK_EQ(udax_sync(fs), 0);
	CHECK_EQ(free0 - free_blocks(fs), sizeof(buf) / 4096 - 1);
	CHECK_EQ(udax_file_close(&fill), 0);
	return case_end(&fs, &f, sv[0], sv[1]);
}

/* ---- short ---- */

static int short_receive(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	uint8_t want[10000 + 100];
	struct stat st;
	uint64_t free0;
	int sv[2];
	off_t off = 100;

	seed_init();
	memset(want, 0, 100);
	fill_random(want + 100, 10000, seed);
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK_EQ(udax_file_open(fs, "/s", O_CREAT | O_RDWR, 0644, &f), 0);
	free0 = free_blocks(fs);
	CHECK_EQ(pair_new(sv), 0);
	CHECK_EQ(write(sv[1], want + 100, 10000), 10000);
	shutdown(sv[1], SHUT_WR);
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 4 * MIB, UDAX_RECV_WAITALL),
		 10000);
	CHECK_EQ(off, 10100);
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 4 * MIB, UDAX_RECV_WAITALL), 0);
	CHECK(file_is(f, want, sizeof(want)));
	/* 3 blocks and the extent tree's root: the rest given back */
	CHECK_EQ(udax_fstat(f, &st), 0);
	CHECK_EQ(st.st_blocks / 8, 4);
	CHECK_EQ(free0 - free_blocks(fs), 4);
	return case_end(&fs, &f, sv[0], sv[1]);
}

/* ---- reset ---- */

static int reset(void)
{
	const size_t sent = 100 * KIB + 7;
	struct udax_fs *fs;
	struct udax_file *f;
	struct receiver r;
	struct linger lg = {1, 0};
	uint8_t *want = malloc(sent);
	int snd, rcv;

	seed_init();
	CHECK(want != NULL);
	fill_random(want, sent, seed);
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK_EQ(udax_file_open(fs, "/x", O_CREAT | O_RDWR, 0644, &f), 0);
	CHECK_EQ(tcp_pair(&snd, &rcv, 0), 0);
	CHECK_EQ(receive_start(&r, f, rcv, 0, MIB), 0);
	CHECK_EQ(write(snd, want, sent), (ssize_t)sent);
	CHECK_EQ(wait_drained(snd, rcv), 0);
	CHECK(!atomic_load(&r.done));
	CHECK(file_is(f, want, 0)); /* nothing visible yet */
	/* an RST: SO_LINGER with no time */
	CHECK_EQ(setsockopt(snd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(snd);
	pthread_join(r.thread, NULL);
	/* the bytes that arrived, then the error; or the error alone */
	if (r.ret > 0) {
		CHECK_EQ(r.ret, (ssize_t)sent);
		CHECK(file_is(f, want, sent));
		off_t off = r.off;
		CHECK_EQ(udax_recvfile(f, rcv, &off, MIB, UDAX_RECV_WAITALL),
			 -ECONNRESET);
	} else {
		CHECK_EQ(r.ret, -ECONNRESET);
		CHECK(file_is(f, want, 0));
	}
	printf("# reset: the receive returned %zd\n", r.ret);
	free(want);
	return case_end(&fs, &f, -1, rcv);
}

/* ---- timeout, nonblocking ---- */

/* Nothing queued: -EAGAIN (SO_RCVTIMEO passed, or a non-blocking
 * socket) with and without WAITALL, nothing used; then 5000 bytes
 * queued and 10000 asked with WAITALL: the 5000 (the timeout ends the
 * wait, or the non-blocking socket has no more). */
static int eagain_with(int nonblocking)
{
	struct timeval tv = {0, 100 * 1000};
	struct udax_fs *fs;
	struct udax_file *f;
	uint8_t want[5000];
	uint64_t free0;
	int sv[2];
	off_t off = 0;

	memset(want, 't', sizeof(want));
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK_EQ(udax_file_open(fs, "/t", O_CREAT | O_RDWR, 0644, &f), 0);
	free0 = free_blocks(fs);
	CHECK_EQ(pair_new(sv), 0);
	if (nonblocking)
		CHECK_EQ(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	else
		CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)),
			 0);
	for (unsigned fl = 0; fl <= UDAX_RECV_WAITALL; fl++)
		CHECK_EQ(udax_recvfile(f, sv[0], &off, 10000, fl), -EAGAIN);
	CHECK_EQ(off, 0);
	CHECK_EQ(free_blocks(fs), free0);
	CHECK_EQ(write(sv[1], want, sizeof(want)), (ssize_t)sizeof(want));
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 10000, UDAX_RECV_WAITALL),
		 (ssize_t)sizeof(want));
	CHECK_EQ(queued_in(sv[0]), 0);
	CHECK(file_is(f, want, sizeof(want)));
	return case_end(&fs, &f, sv[0], sv[1]);
}

static int timeout(void)
{
	return eagain_with(0);
}

static int nonblocking(void)
{
	return eagain_with(1);
}

/* ---- concurrent ---- */

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

struct watcher {
	pthread_t thread;
	struct udax_file *f;
	const uint8_t *map; /* a mapping of the file, or NULL: pread */
	size_t len;
	int rounds;
	_Atomic long foreign; /* bytes seen that were neither 'A' nor 'C' */
};

static void *watcher_run(void *arg)
{
	struct watcher *w = arg;
	uint8_t *buf = malloc(w->len);

	for (int i = 0; buf && i < w->rounds; i++) {
		const uint8_t *p = w->map;
		if (!p) {
			if (udax_pread(w->f, buf, w->len, 0) != (ssize_t)w->len)
				atomic_fetch_add(&w->foreign, 1);
			p = buf;
		}
		for (size_t o = 0; o < w->len; o++)
			if (p[o] != 'A' && p[o] != 'C')
				atomic_fetch_add(&w->foreign, 1);
	}
	free(buf);
	return NULL;
}

static int concurrent(void)
{
	const size_t half = 2 * MIB;
	static uint8_t bs[2 * MIB], cs[4096];
	struct watcher w[3] = {0};
	struct udax_fs *fs;
	struct udax_file *f;
	struct receiver r;
	void *map = NULL;
	int snd, rcv, nw = 2;

	memset(bs, 'B', sizeof(bs));
	memset(cs, 'C', sizeof(cs));
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK((f = file_of_byte(fs, "/c", 2 * half, 'A')) != NULL);
#ifndef UNDER_TSAN
	/* mapped readers, where userfaultfd works (not under TSan, which
	 * cannot see the order the fault handler gives) */
	if (mapping_permitted() &&
	    udax_mmap(f, 0, 2 * half, PROT_READ, UDAX_MAP_SHARED, &map) == 0)
		nw = 3;
#endif
	CHECK_EQ(tcp_pair(&snd, &rcv, 0), 0);
	CHECK_EQ(receive_start(&r, f, rcv, 0, 2 * half), 0);
	CHECK_EQ(write(snd, bs, half), (ssize_t)half);
	CHECK_EQ(wait_drained(snd, rcv), 0);
	/* the receive waits for its second half: the file goes on */
	for (int i = 0; i < nw; i++) {
		w[i] = (struct watcher){.f = f,
					.map = i == 2 ? map : NULL,
					.len = 2 * half,
					.rounds = 20};
		CHECK_EQ(pthread_create(&w[i].thread, NULL, watcher_run, &w[i]),
			 0);
	}
	CHECK_EQ(udax_pwrite(f, cs, sizeof(cs), MIB), (ssize_t)sizeof(cs));
	CHECK_EQ(udax_pwrite(f, cs, sizeof(cs), 2 * half), (ssize_t)sizeof(cs));
	for (int i = 0; i < nw; i++)
		pthread_join(w[i].thread, NULL);
	CHECK(!atomic_load(&r.done));
	for (int i = 0; i < nw; i++)
		CHECK_EQ(atomic_load(&w[i].foreign), 0);
	CHECK_EQ(file_count_byte(f, MIB, 'A'), MIB);
	/* the second half: the whole range at once */
	CHECK_EQ(write(snd, bs, half), (ssize_t)half);
	pthread_join(r.thread, NULL);
	CHECK_EQ(r.ret, (ssize_t)(2 * half));
	CHECK_EQ(file_count_byte(f, 2 * half, 'B'), 2 * half);
	CHECK_EQ(file_count_byte(f, 2 * half + 4096, 'C'), 4096);
	if (map) {
		const uint8_t *m = map;
		size_t bad = 0;
		for (size_t o = 0; o < 2 * half; o++)
			bad += m[o] != 'B';
		CHECK_EQ(bad, 0);
		CHECK_EQ(udax_munmap(map, 2 * half), 0);
	}
	printf("# concurrent: %d watchers%s\n", nw,
	       nw == 3 ? ", one through a mapping" : ", no mapping");
	return case_end(&fs, &f, snd, rcv);
}

/* ---- truncate-punch ---- */

static int truncate_punch_with(int punch)
{
	const size_t count = 300 * KIB + 5, off = 8192 + 100;
	static uint8_t want[8192 + 100 + 300 * KIB + 5];
	struct udax_fs *fs;
	struct udax_file *f;
	struct receiver r;
	int snd, rcv;

	seed_init();
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK((f = file_of_byte(fs, "/t", MIB, 'o')) != NULL);
	memset(want, punch ? 'o' : 0, off);
	fill_random(want + off, count, seed);
	if (punch)
		memset(want + 4096, 0, off - 4096); /* punched from 4096 */
	CHECK_EQ(tcp_pair(&snd, &rcv, 0), 0);
	CHECK_EQ(receive_start(&r, f, rcv, (off_t)off, count), 0);
	CHECK_EQ(write(snd, want + off, count / 2), (ssize_t)(count / 2));
	CHECK_EQ(wait_drained(snd, rcv), 0);
	/* neither waits for the receive */
	if (punch)
		CHECK_EQ(udax_fallocate(
				 f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 4096, MIB),
			 0);
	else
		CHECK_EQ(udax_ftruncate(f, 0), 0);
	CHECK_EQ(udax_sync(fs), 0); /* the freed blocks come back poisoned */
	CHECK(!atomic_load(&r.done));
	CHECK_EQ(write(snd, want + off + count / 2, count - count / 2),
		 (ssize_t)(count - count / 2));
	pthread_join(r.thread, NULL);
	CHECK_EQ(r.ret, (ssize_t)count);
	if (punch) {
		/* the rest of the old size, punched, is still there */
		uint8_t tail[4096];
		CHECK_EQ(
			udax_pread(f, tail, sizeof(tail), (off_t)(off + count)),
			(ssize_t)sizeof(tail));
		for (size_t i = 0; i < sizeof(tail); i++)
			CHECK(tail[i] == 0);
		CHECK_EQ(udax_ftruncate(f, (off_t)(off + count)), 0);
	}
	CHECK(file_is(f, want, off + count));
	return case_end(&fs, &f, snd, rcv);
}

static int truncate_punch(void)
{
	int r = truncate_punch_with(0);
	return r ? r : truncate_punch_with(1);
}

/* ---- small-journal ---- */

/* A receive over 8,192 one-block extents on a file system with the
 * smallest journal (256 KiB): the commit cannot remove them all in one
 * transaction, so it commits in several, in file order (each a prefix
 * with its size); the result is the same, and no block leaks. */
static int small_journal(void)
{
	const size_t n = 64 * MIB;
	static uint8_t blk[4096];
	uint8_t *want = malloc(n);
	struct udax_fs *fs;
	struct udax_file *f;
	struct feeder fd;
	char path[64];
	uint64_t free0, seq0, commits;
	int sv[2];
	off_t off = 0;

	seed_init();
	CHECK(want != NULL);
	snprintf(path, sizeof(path), "/dev/shm/udax-t_recvfile-j%d.img",
		 (int)getpid());
	CHECK_EQ(udax_mkfs(path,
			   &(struct udax_mkfs_opts){.size = 160 * MIB,
						    .journal_size = 256 << 10}),
		 0);
	CHECK_EQ(udax_open(&fs, path, NULL), 0);
	CHECK_EQ(warm_dir(fs, "/"), 0);
	free0 = free_blocks(fs);
	CHECK_EQ(udax_file_open(fs, "/j", O_CREAT | O_RDWR, 0644, &f), 0);
	memset(blk, 'o', sizeof(blk));
	for (size_t o = 0; o < n; o += 2 * sizeof(blk))
		CHECK_EQ(udax_pwrite(f, blk, sizeof(blk), (off_t)o),
			 (ssize_t)sizeof(blk));
	fill_random(want, n, seed);
	CHECK_EQ(pair_new(sv), 0);
	CHECK_EQ(feed(&fd, sv[1], want, n, 1), 0);
	seq0 = fs->journal.seq;
	CHECK_EQ(udax_recvfile(f, sv[0], &off, n, UDAX_RECV_WAITALL),
		 (ssize_t)n);
	commits = fs->journal.seq - seq0;
	pthread_join(fd.thread, NULL);
	CHECK(commits > 1);
	CHECK(file_is(f, want, n));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	/* the same after a reopen; all space back after an unlink */
	CHECK_EQ(udax_open(&fs, path, NULL), 0);
	CHECK_EQ(udax_file_open(fs, "/j", O_RDONLY, 0, &f), 0);
	CHECK(file_is(f, want, n));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_unlink(fs, "/j"), 0);
	CHECK_EQ(udax_sync(fs), 0);
	CHECK_EQ(free_blocks(fs), free0);
	CHECK_EQ(udax_close(&fs), 0);
	printf("# small-journal: 64 MiB over 8192 extents in %llu "
	       "transactions (seed %u)\n",
	       (unsigned long long)commits, seed);
	close(sv[0]);
	close(sv[1]);
	unlink(path);
	free(want);
	return T_PASS;
}

/* ---- crash-small-journal ---- */

#define CJ_DEV (48 * MIB)
#define CJ_LEN (24 * MIB) /* 3,072 one-block extents, every other block */

/* The old file of crash-small-journal at offset o: 'o' in even blocks
 * below the old size, zeros elsewhere. */
static uint8_t cj_old(size_t o)
{
	return o < CJ_LEN - 4096 && !((o / 4096) & 1) ? 'o' : 0;
}

/* Receive CJ_LEN bytes over /j on a crash device loaded with image,
 * frozen at `fence` (0: never). *f0 and *f1: the fences before and
 * after. Returns the device, its file system open in *fsp (udax_close
 * closes both), or NULL. */
static struct dev *cj_run(const uint8_t *image, const uint8_t *want,
			  uint64_t fence, uint64_t *f0, uint64_t *f1,
			  struct udax_fs **fsp)
{
	struct udax_open_opts oo = {.quiet = 1};
	struct udax_fs *fs;
	struct udax_file *f;
	struct feeder fd;
	struct dev *dev;
	int sv[2], ok = 0;
	off_t off = 0;

	if (dev_crash_new(&dev, CJ_DEV))
		return NULL;
	dev_crash_load(dev, image);
	if (udax_open_device(&fs, dev, 0, &oo))
		return NULL;
	if (!udax_file_open(fs, "/j", O_RDWR, 0, &f) && !pair_new(sv) &&
	    !feed(&fd, sv[1], want, CJ_LEN, 1)) {
		*f0 = dev_crash_fences(dev);
		if (fence)
			dev_crash_freeze_at(dev, fence);
		ok = udax_recvfile(f, sv[0], &off, CJ_LEN, UDAX_RECV_WAITALL) ==
		     CJ_LEN;
		*f1 = dev_crash_fences(dev);
		pthread_join(fd.thread, NULL);
		close(sv[0]);
		close(sv[1]);
		udax_file_close(&f);
	}
	*fsp = fs;
	if (!ok)
		udax_close(fsp);
	return ok ? dev : NULL;
}

/* Does the crash image hold /j as before, after, or a prefix of the
 * receive (whole blocks of it, the old file after them, the size at
 * most the prefix's end past the old size)? */
static int cj_check(const uint8_t *img, const uint8_t *want, uint64_t k,
		    const char *which, uint64_t states[3])
{
	struct udax_open_opts oo = {.quiet = 1};
	static uint8_t got[CJ_LEN + 1];
	struct udax_fs *fs;
	struct udax_file *f;
	struct dev *dev;
	size_t p = 0;
	ssize_t n;

	CHECK_EQ(dev_memory_from_image(&dev, img, CJ_DEV), 0);
	CHECK_EQ(udax_open_device(&fs, dev, 0, &oo), 0);
	CHECK_EQ(udax_file_open(fs, "/j", O_RDONLY, 0, &f), 0);
	n = udax_pread(f, got, sizeof(got), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	while (p < (size_t)n && got[p] == want[p])
		p++;
	if (p < (size_t)n)
		p &= ~(size_t)4095; /* a block may start like the data */
	for (size_t o = p; o < (size_t)n; o++)
		if (got[o] != cj_old(o)) {
			fprintf(stderr,
				"  crash at fence %llu (%s): byte %zu of %zd "
				"is %#x, neither the receive's nor the old "
				"file's (prefix %zu)\n",
				(unsigned long long)k, which, o, n, got[o], p);
			return T_FAIL;
		}
	/* the old size, or the end of the data committed past it */
	if (n != CJ_LEN - 4096 && (size_t)n != p) {
		fprintf(stderr, "  crash at fence %llu (%s): size %zd\n",
			(unsigned long long)k, which, n);
		return T_FAIL;
	}
	states[p == 0 ? 0 : p == CJ_LEN ? 2 : 1]++; /* before, prefix, after */
	return T_PASS;
}

/* Crash states of a receive committed in several transactions (a 256
 * KiB journal, 3,072 extents): at each crash point, the images that keep
 * all and none of the pending lines must show /j before, after, or as a
 * prefix of the receive. Prints the states checked. */
static int crash_small_journal(void)
{
	static uint8_t blk[4096];
	uint8_t *want = malloc(CJ_LEN), *image = malloc(CJ_DEV);
	uint8_t *img = malloc(CJ_DEV);
	struct udax_fs *fs;
	struct udax_file *f;
	uint64_t f0, f1, points = 0, images = 0, states[3] = {0};
	char path[64];
	int fd;

	seed_init();
	CHECK(want && image && img);
	fill_random(want, CJ_LEN, seed);
	snprintf(path, sizeof(path), "/dev/shm/udax-t_recvfile-c%d.img",
		 (int)getpid());
	CHECK_EQ(udax_mkfs(path,
			   &(struct udax_mkfs_opts){.size = CJ_DEV,
						    .journal_size = 256 << 10}),
		 0);
	CHECK_EQ(udax_open(&fs, path, NULL), 0);
	CHECK_EQ(udax_file_open(fs, "/j", O_CREAT | O_RDWR, 0644, &f), 0);
	memset(blk, 'o', sizeof(blk));
	for (size_t o = 0; o < CJ_LEN; o += 2 * sizeof(blk))
		CHECK_EQ(udax_pwrite(f, blk, sizeof(blk), (off_t)o),
			 (ssize_t)sizeof(blk));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, image, CJ_DEV, 0), CJ_DEV);
	close(fd);
	unlink(path);

	CHECK(cj_run(image, want, 0, &f0, &f1, &fs) != NULL);
	CHECK_EQ(udax_close(&fs), 0);
	for (uint64_t k = f0 + 1; k <= f1 + 1; k++) {
		struct dev *dev = cj_run(image, want, k, &f0, &f1, &fs);
		size_t words;
		uint64_t *keep;

		CHECK(dev != NULL);
		words = (dev_crash_pending(dev) + 63) / 64;
		keep = calloc(words ? words : 1, 8);
		CHECK(keep != NULL);
		dev_crash_image(dev, keep, img);
		int r = cj_check(img, want, k, "none kept", states);
		memset(keep, 0xff, words * 8);
		dev_crash_image(dev, keep, img);
		r = r ? r : cj_check(img, want, k, "all kept", states);
		free(keep);
		udax_close(&fs); /* and the device */
		if (r)
			return r;
		points++;
		images += 2;
	}
	printf("# crash-small-journal: %llu crash points, %llu images: %llu "
	       "before, %llu a prefix, %llu after (seed %u)\n",
	       (unsigned long long)points, (unsigned long long)images,
	       (unsigned long long)states[0], (unsigned long long)states[1],
	       (unsigned long long)states[2], seed);
	CHECK(states[1] > 0); /* the commit took several transactions */
	free(want);
	free(image);
	free(img);
	return T_PASS;
}

/* ---- bad-input ---- */

/* Nothing read: offset, position, the socket's queue, the file. */
#define UNCHANGED(call, err)                                                   \
	do {                                                                   \
		off = 5;                                                       \
		CHECK_EQ(call, err);                                           \
		CHECK_EQ(off, 5);                                              \
		CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 7);                       \
		CHECK_EQ(queued_in(sv[0]), 100);                               \
		CHECK_EQ(file_count_byte(f, 4096, 'b'), 4096);                 \
	} while (0)

static int bad_input(void)
{
	struct udax_fs *fs;
	struct udax_file *f, *ro, *ap, *dir;
	uint8_t b[100];
	int sv[2], pp[2], mfd;
	off_t off;

	memset(b, 'x', sizeof(b));
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK((f = file_of_byte(fs, "/b", 4096, 'b')) != NULL);
	CHECK_EQ(udax_lseek(f, 7, SEEK_SET), 7);
	CHECK_EQ(udax_file_open(fs, "/b", O_RDONLY, 0, &ro), 0);
	CHECK_EQ(udax_file_open(fs, "/b", O_WRONLY | O_APPEND, 0, &ap), 0);
	CHECK_EQ(udax_file_open(fs, "/", O_RDONLY, 0, &dir), 0);
	CHECK_EQ(pair_new(sv), 0);
	CHECK_EQ(write(sv[1], b, sizeof(b)), (ssize_t)sizeof(b));
	CHECK_EQ(pipe(pp), 0);
	mfd = memfd_create("t_recvfile", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	UNCHANGED(udax_recvfile(NULL, sv[0], &off, 10, 0), -EBADF);
	UNCHANGED(udax_recvfile(ro, sv[0], &off, 10, 0), -EBADF);
	UNCHANGED(udax_recvfile(dir, sv[0], &off, 10, 0), -EBADF);
	UNCHANGED(udax_recvfile(f, sv[0], &off, 10, 0x100), -EINVAL);
	UNCHANGED(udax_recvfile(f, -1, &off, 10, 0), -EBADF);
	UNCHANGED(udax_recvfile(f, 1 << 20, &off, 10, 0), -EBADF);
	UNCHANGED(udax_recvfile(f, pp[0], &off, 10, 0), -ENOTSOCK);
	UNCHANGED(udax_recvfile(f, mfd, &off, 10, 0), -ENOTSOCK);
	UNCHANGED(udax_recvfile(f, pp[0], NULL, 10, 0), -ENOTSOCK);
	UNCHANGED(udax_recvfile(ap, sv[0], &off, 10, 0), -EINVAL);
	UNCHANGED(udax_recvfile(f, sv[0], &off, 0, 0), 0);
	off = -1;
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 10, 0), -EINVAL);
	CHECK_EQ(off, -1);
	off = (off_t)1 << 62;
	CHECK_EQ(udax_recvfile(f, sv[0], &off, 10, 0), -EFBIG);
	CHECK_EQ(off, (off_t)1 << 62);
	CHECK_EQ(queued_in(sv[0]), 100);
	CHECK_EQ(lseek(mfd, 0, SEEK_END), 0);
	close(mfd);
	close(pp[0]);
	close(pp[1]);
	CHECK_EQ(udax_file_close(&dir), 0);
	CHECK_EQ(udax_file_close(&ap), 0);
	CHECK_EQ(udax_file_close(&ro), 0);
	return case_end(&fs, &f, sv[0], sv[1]);
}

/* ---- inject ---- */

static int inject(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	uint8_t b[9000];
	uint64_t free0;
	int sv[2];
	off_t off = 0;

	memset(b, 'i', sizeof(b));
	CHECK_EQ(fs_new_dev(&fs, 0, IMAGE, 1), 0);
	CHECK((f = file_of_byte(fs, "/i", 100, 'o')) != NULL);
	free0 = free_blocks(fs);
	CHECK_EQ(pair_new(sv), 0);
	CHECK_EQ(write(sv[1], b, sizeof(b)), (ssize_t)sizeof(b));
	sys_count_reset();
	sys_fail_set(SYS_RECVMSG, 1, EIO, 0);
	CHECK_EQ(udax_recvfile(f, sv[0], &off, sizeof(b), UDAX_RECV_WAITALL),
		 -EIO);
	sys_count_stop();
	CHECK_EQ(off, 0);
	CHECK_EQ(free_blocks(fs), free0);
	CHECK_EQ(file_count_byte(f, 100, 'o'), 100);
	CHECK_EQ(queued_in(sv[0]), (int)sizeof(b));
	CHECK_EQ(udax_recvfile(f, sv[0], &off, sizeof(b), UDAX_RECV_WAITALL),
		 (ssize_t)sizeof(b));
	CHECK_EQ(file_count_byte(f, sizeof(b), 'i'), sizeof(b));
	/* the prefault before a receive is only an optimization: its
	 * SIOCINQ and madvise failing change nothing */
	for (int k = 0; k < 2; k++) {
		memset(b, 'j' + k, sizeof(b));
		CHECK_EQ(write(sv[1], b, sizeof(b)), (ssize_t)sizeof(b));
		sys_count_reset();
		sys_fail_set(k ? SYS_MADVISE : SYS_SIOCINQ, 1, EIO, 1);
		CHECK_EQ(udax_recvfile(f, sv[0], &off, sizeof(b),
				       k ? UDAX_RECV_WAITALL : 0),
			 (ssize_t)sizeof(b));
		sys_count_stop();
		/* the prefault was tried, and its failure absorbed */
		CHECK(sys_failed(k ? SYS_MADVISE : SYS_SIOCINQ) > 0);
	}
	CHECK_EQ(off, (off_t)(3 * sizeof(b)));
	CHECK_EQ(file_count_byte(f, 3 * sizeof(b), 'j'), sizeof(b));
	CHECK_EQ(file_count_byte(f, 3 * sizeof(b), 'k'), sizeof(b));
	return case_end(&fs, &f, sv[0], sv[1]);
}

static const struct test_case tests[] = {
	{"tcp-large", tcp_large},
	{"ranges-memory", ranges_memory},
	{"ranges-crash", ranges_crash},
	{"position", position},
	{"enospc", enospc},
	{"short", short_receive},
	{"reset", reset},
	{"timeout", timeout},
	{"nonblocking", nonblocking},
	{"concurrent", concurrent},
	{"truncate-punch", truncate_punch},
	{"small-journal", small_journal},
	{"crash-small-journal", crash_small_journal},
	{"bad-input", bad_input},
	{"inject", inject},
};
TEST_MAIN("recvfile", tests)
