/* SPDX-License-Identifier: MIT */
/*
 * t_sendfile.c - udax_sendfile: a file's bytes to a socket, from device
 * memory, with no lock held while the socket blocks.
 *
 *   tcp-large          8 MiB of random bytes over loopback TCP, *offset
 *                      advanced, the file position untouched
 *   ranges             random offsets and counts (unaligned, small,
 *                      large, across holes and unwritten blocks, past end
 *                      of file) over a socketpair, each checked against
 *                      udax_pread; on a memory device (sendfile(2)) and
 *                      on the crash device (send(2) from its memory)
 *   position           offset NULL uses and advances the file position;
 *                      an offset leaves it alone
 *   nonblocking        a full non-blocking socket: a short count, then
 *                      -EAGAIN with nothing moved; a slow reader drains
 *                      and the rest follows, every byte right
 *   bad-input          NULL file, write-only handle, directory, closed
 *                      fd, pipe, regular file, negative offset: the
 *                      documented error and nothing changed
 *   epipe              a closed peer gives -EPIPE and no SIGPIPE (the
 *                      default action would end this program)
 *   truncated-range-*  a sender blocked mid-range on a socket nobody
 *                      reads; a truncate of the file to 0 waits for the
 *                      piece being sent; the device is full, so /y gets
 *                      /x's freed blocks while part of /x still sits in
 *                      the socket's queue; the peer must receive only
 *                      /x's bytes, and the send ends at the new end of
 *                      file. memory: sendfile(2) and the detach rule;
 *                      quarantine: a device that cannot detach (as
 *                      devdax): /y cannot have the blocks; crash: send(2)
 *   inject             sendfile(2) and send(2) failing mid-range: what
 *                      went before is returned, the pins are released
 *
 * Random cases print their seed; UDAX_SENDFILE_SEED replays one.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "api/api.h"
#include "device/device.h"
#include "fault/fault.h"
#include "fs.h"
#include "sys/sys.h"
#include "net.h"
#include "test.h"
#include "util.h"

#define KIB 1024
#define MIB (1024 * 1024)
#define IMAGE (16 * MIB)
#define PIECE MIB /* udax_sendfile pins this much at a time */
/* The file of the truncated-range and inject cases: two pieces, so that
 * the send can stop after the first */
#define TWO_PIECES (2 * PIECE)

static unsigned seed;

static void seed_init(void)
{
	const char *e = getenv("UDAX_SENDFILE_SEED");

	if (!seed)
		seed = e ? (unsigned)strtoul(e, NULL, 0) :
			   (unsigned)time(NULL) ^ (unsigned)getpid();
}

/* Bytes sent on snd that rcv has not read yet (both queues). */
static long queued(int snd, int rcv)
{
	int out = 0, in = 0;

	ioctl(snd, SIOCOUTQ, &out);
	ioctl(rcv, FIONREAD, &in);
	return (long)out + in;
}

/* A thread reading a socket to its end into buf (bytes past cap are
 * counted, not kept). */
struct sink {
	int fd;
	pthread_t thread;
	uint8_t *buf;
	size_t cap;
	_Atomic size_t got;
	_Atomic int eof;
};

static void *sink_run(void *arg)
{
	struct sink *s = arg;
	static _Thread_local uint8_t spill[64 * KIB];

	for (;;) {
		size_t got = atomic_load(&s->got);
		uint8_t *to = got < s->cap ? s->buf + got : spill;
		size_t room = got < s->cap ? s->cap - got : sizeof(spill);
		ssize_t r = read(s->fd, to,
				 room < sizeof(spill) ? room : sizeof(spill));
		if (r <= 0)
			break;
		atomic_fetch_add(&s->got, (size_t)r);
	}
	atomic_store(&s->eof, 1);
	return NULL;
}

static int sink_start(struct sink *s, int fd, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->cap = cap;
	s->buf = malloc(cap ? cap : 1);
	if (!s->buf)
		return -1;
	if (pthread_create(&s->thread, NULL, sink_run, s)) {
		free(s->buf);
		return -1;
	}
	return 0;
}

/* Wait until the sink has n bytes (or its end): what it has. Generous:
 * the machine may be loaded. */
static size_t sink_wait(struct sink *s, size_t n)
{
	double end = mono_s() + 120;

	while (atomic_load(&s->got) < n && !atomic_load(&s->eof) &&
	       mono_s() < end)
		sleep_ms(1);
	return atomic_load(&s->got);
}

/* The peer's end is closed by the caller (EOF); join and free. */
static void sink_stop(struct sink *s)
{
	pthread_join(s->thread, NULL);
	free(s->buf);
}

/* The end of a case: the sending end closed (the sink sees its end),
 * the sink joined, no pin left, the file and the file system closed. */
static int case_end(struct udax_fs **fs, struct udax_file **f, int snd,
		    struct sink *s, int rcv)
{
	close(snd);
	if (s)
		sink_stop(s);
	close(rcv);
	CHECK_EQ(layout_pin_count(*fs), 0);
	CHECK_EQ(udax_file_close(f), 0);
	CHECK_EQ(udax_close(fs), 0);
	return T_PASS;
}

/* A new file of n random bytes from seed s; *want holds them (freed by
 * the caller). NULL if it could not be made. */
static struct udax_file *random_file(struct udax_fs *fs, const char *path,
				     size_t n, unsigned s, uint8_t **want)
{
	struct udax_file *f;

	*want = malloc(n);
	if (!*want)
		return NULL;
	fill_random(*want, n, s);
	if (udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &f))
		return NULL;
	if (udax_pwrite(f, *want, n, 0) != (ssize_t)n)
		udax_file_close(&f);
	return f;
}

/* ---- tcp-large ---- */

static int tcp_large(void)
{
	const size_t n = 8 * MIB;
	struct udax_fs *fs;
	struct udax_file *f;
	struct sink s;
	uint8_t *want;
	int snd, rcv;
	off_t off = 0;

	seed_init();
	CHECK_EQ(udax_open_memory(&fs, 32 * MIB), 0);
	CHECK((f = random_file(fs, "/big", n, seed, &want)) != NULL);
	CHECK_EQ(tcp_pair(&snd, &rcv, 0), 0);
	CHECK_EQ(sink_start(&s, rcv, n), 0);
	/* more than the file: stops at end of file */
	CHECK_EQ(udax_sendfile(snd, f, &off, n + MIB), (ssize_t)n);
	CHECK_EQ(off, (off_t)n);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 0);
	CHECK_EQ(udax_sendfile(snd, f, &off, MIB), 0); /* at end of file */
	shutdown(snd, SHUT_WR);
	CHECK_EQ(sink_wait(&s, n + 1), n);
	CHECK(memcmp(s.buf, want, n) == 0);
	free(want);
	return case_end(&fs, &f, snd, &s, rcv);
}

/* ---- ranges ---- */

/* A 3 MiB file of random bytes with a hole, unwritten blocks and a hole
 * at its end; *want is what udax_pread gives. */
static int holey_file(struct udax_fs *fs, struct udax_file **fp, uint8_t **want,
		      size_t *size)
{
	const size_t n = 3 * MIB;
	uint8_t *w = malloc(n + MIB);

	if (!w || udax_file_open(fs, "/holey", O_CREAT | O_RDWR, 0644, fp))
		return -1;
	fill_random(w, n, seed + 1);
	/* data [0, 700 KiB), hole to 1 MiB + 3, data to 2 MiB, unwritten
	 * [2 MiB, 2.5 MiB), data to 2.75 MiB, hole to the end */
	if (udax_pwrite(*fp, w, 700 * KIB, 0) != 700 * KIB ||
	    udax_pwrite(*fp, w + MIB + 3, MIB - 3, MIB + 3) != MIB - 3 ||
	    udax_fallocate(*fp, 0, 2 * MIB, MIB / 2) ||
	    udax_pwrite(*fp, w + 5 * MIB / 2, MIB / 4, 5 * MIB / 2) !=
		    MIB / 4 ||
	    udax_ftruncate(*fp, (off_t)n))
		return -1;
	if (udax_pread(*fp, w, n, 0) != (ssize_t)n)
		return -1;
	*want = w;
	*size = n;
	return 0;
}

static int ranges_on(int crash)
{
	struct udax_fs *fs;
	struct udax_file *f;
	struct sink s;
	uint8_t *want;
	size_t size, total = 0;
	int sv[2];

	seed_init();
	CHECK_EQ(fs_new_dev(&fs, crash, IMAGE, 0), 0);
	/* sendfile(2) from the device's file, but from a crash device's
	 * memory or a memory file on huge pages (hugetlbfs cannot splice) */
	CHECK_EQ(fs->dev->splice, !crash && fs->dev->map_unit <= 4096);
	CHECK_EQ(holey_file(fs, &f, &want, &size), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(sink_start(&s, sv[1], 64 * MIB), 0);
	srandom(seed);
	for (int i = 0; i < 60; i++) {
		/* small, unaligned, whole pieces, large; some past end */
		static const size_t counts[] = {
			1, 2, 4095, 4096, 4097, PIECE - 1, PIECE + 1, 3 * MIB};
		size_t count = i % 3 ? counts[random() % 8] :
				       (size_t)random() % (2 * MIB);
		off_t off = (off_t)((size_t)random() % (size + 8192));
		off_t at = off;
		size_t expect = (size_t)off >= size	   ? 0 :
				count < size - (size_t)off ? count :
							     size - (size_t)off;
		ssize_t n = udax_sendfile(sv[0], f, &at, count);
		if (n != (ssize_t)expect || at != off + (off_t)expect) {
			fprintf(stderr,
				"  case %d: sendfile(off %lld, count %zu) = "
				"%zd, offset %lld; expected %zu (seed %u)\n",
				i, (long long)off, count, n, (long long)at,
				expect, seed);
			return T_FAIL;
		}
		size_t got = sink_wait(&s, total + expect);
		if (got != total + expect ||
		    memcmp(s.buf + total, want + off, expect)) {
			fprintf(stderr,
				"  case %d: off %lld count %zu: peer has "
				"%zu of %zu bytes, or wrong ones (seed %u)\n",
				i, (long long)off, count, got - total, expect,
				seed);
			return T_FAIL;
		}
		total += expect;
	}
	printf("# ranges on %s device: 60 sends, %zu bytes (seed %u)\n",
	       crash ? "the crash" : "a memory", total, seed);
	free(want);
	return case_end(&fs, &f, sv[0], &s, sv[1]);
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
	struct sink s;
	uint8_t want[8192];
	int sv[2];
	off_t off = 10;

	seed_init();
	fill_random(want, sizeof(want), seed);
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK_EQ(udax_file_open(fs, "/p", O_CREAT | O_RDWR, 0644, &f), 0);
	CHECK_EQ(udax_pwrite(f, want, sizeof(want), 0), (ssize_t)sizeof(want));
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(sink_start(&s, sv[1], MIB), 0);
	CHECK_EQ(udax_lseek(f, 100, SEEK_SET), 100);
	CHECK_EQ(udax_sendfile(sv[0], f, NULL, 1000), 1000);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 1100);
	CHECK_EQ(udax_sendfile(sv[0], f, &off, 50), 50);
	CHECK_EQ(off, 60);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 1100);
	/* to end of file, then nothing */
	CHECK_EQ(udax_sendfile(sv[0], f, NULL, 1 << 20), 8192 - 1100);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 8192);
	CHECK_EQ(udax_sendfile(sv[0], f, NULL, 1 << 20), 0);
	CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 8192);
	CHECK_EQ(sink_wait(&s, 1000 + 50 + 8192 - 1100), 1000 + 50 + 7092);
	CHECK(memcmp(s.buf, want + 100, 1000) == 0);
	CHECK(memcmp(s.buf + 1000, want + 10, 50) == 0);
	CHECK(memcmp(s.buf + 1050, want + 1100, 7092) == 0);
	return case_end(&fs, &f, sv[0], &s, sv[1]);
}

/* ---- nonblocking ---- */

static int nonblocking(void)
{
	const size_t n = 4 * MIB;
	int snd, rcv, eagain = 0, shorts = 0;
	struct udax_fs *fs;
	struct udax_file *f;
	struct sink s;
	uint8_t *want;
	off_t off = 0;
	ssize_t r;

	seed_init();
	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK((f = random_file(fs, "/nb", n, seed + 2, &want)) != NULL);
	CHECK_EQ(tcp_pair(&snd, &rcv, 32 * KIB), 0);
	CHECK_EQ(fcntl(snd, F_SETFL, O_NONBLOCK), 0);
	/* nobody reads: short counts while the loopback moves what was
	 * sent on into the receiver's queue, then -EAGAIN with nothing
	 * moved */
	r = udax_sendfile(snd, f, &off, n);
	CHECK(r > 0 && r < (ssize_t)n);
	CHECK_EQ(off, r);
	for (int i = 0; i < 1000 && r > 0; i++) {
		off_t at = off;
		r = udax_sendfile(snd, f, &off, n - (size_t)off);
		CHECK(r == -EAGAIN || (r > 0 && off == at + r));
		if (r > 0)
			sleep_ms(1);
	}
	off_t before = off;
	CHECK_EQ(r, -EAGAIN);
	CHECK_EQ(off, before);
	CHECK((size_t)off < n);
	CHECK_EQ(layout_pin_count(fs), 0);
	/* a slow reader: the rest goes out in short counts */
	CHECK_EQ(sink_start(&s, rcv, n), 0);
	while ((size_t)off < n) {
		r = udax_sendfile(snd, f, &off, n - (size_t)off);
		if (r == -EAGAIN) {
			struct pollfd p = {.fd = snd, .events = POLLOUT};
			eagain++;
			poll(&p, 1, 1000);
			continue;
		}
		CHECK(r > 0);
		shorts += (size_t)off < n;
	}
	shutdown(snd, SHUT_WR);
	CHECK_EQ(sink_wait(&s, n + 1), n);
	CHECK(memcmp(s.buf, want, n) == 0);
	printf("# nonblocking: %d short counts, %d EAGAIN (seed %u)\n", shorts,
	       eagain, seed);
	free(want);
	return case_end(&fs, &f, snd, &s, rcv);
}

/* ---- bad-input ---- */

/* Nothing moved: offset, position and the peer's queue as before. */
#define UNCHANGED(call, err)                                                   \
	do {                                                                   \
		off = 5;                                                       \
		CHECK_EQ(call, err);                                           \
		CHECK_EQ(off, 5);                                              \
		CHECK_EQ(udax_lseek(f, 0, SEEK_CUR), 7);                       \
	} while (0)

static int bad_input(void)
{
	struct udax_fs *fs;
	struct udax_file *f, *wo, *dir;
	int sv[2], pp[2], mfd, in = 0;
	off_t off;

	CHECK_EQ(udax_open_memory(&fs, IMAGE), 0);
	CHECK((f = file_of_byte(fs, "/b", 4096, 'b')) != NULL);
	CHECK_EQ(udax_lseek(f, 7, SEEK_SET), 7);
	CHECK_EQ(udax_file_open(fs, "/b", O_WRONLY, 0, &wo), 0);
	CHECK_EQ(udax_file_open(fs, "/", O_RDONLY, 0, &dir), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(pipe(pp), 0);
	mfd = memfd_create("t_sendfile", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	UNCHANGED(udax_sendfile(sv[0], NULL, &off, 10), -EBADF);
	UNCHANGED(udax_sendfile(sv[0], wo, &off, 10), -EBADF);
	UNCHANGED(udax_sendfile(sv[0], dir, &off, 10), -EINVAL);
	UNCHANGED(udax_sendfile(sv[0], dir, &off, 0), 0); /* as sendfile(2) */
	UNCHANGED(udax_sendfile(-1, f, &off, 10), -EBADF);
	UNCHANGED(udax_sendfile(1 << 20, f, &off, 10), -EBADF);
	/* sendfile(2) writes to pipes and files; udax_sendfile does not */
	UNCHANGED(udax_sendfile(pp[1], f, &off, 10), -ENOTSOCK);
	UNCHANGED(udax_sendfile(mfd, f, &off, 10), -ENOTSOCK);
	UNCHANGED(udax_sendfile(pp[1], f, NULL, 10), -ENOTSOCK);
	off = -1;
	CHECK_EQ(udax_sendfile(sv[0], f, &off, 10), -EINVAL);
	CHECK_EQ(off, -1);
	UNCHANGED(udax_sendfile(sv[0], f, &off, 0), 0);
	ioctl(sv[1], FIONREAD, &in);
	CHECK_EQ(in, 0);
	CHECK_EQ(lseek(mfd, 0, SEEK_END), 0);
	CHECK_EQ(layout_pin_count(fs), 0);
	close(mfd);
	close(pp[0]);
	close(pp[1]);
	close(sv[0]);
	close(sv[1]);
	CHECK_EQ(udax_file_close(&dir), 0);
	CHECK_EQ(udax_file_close(&wo), 0);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* ---- epipe ---- */

static int epipe_on(int crash)
{
	struct udax_fs *fs;
	struct udax_file *f;
	sigset_t pending;
	int sv[2];
	off_t off = 0;

	/* the default action of SIGPIPE ends the program: the test */
	signal(SIGPIPE, SIG_DFL);
	CHECK_EQ(fs_new_dev(&fs, crash, IMAGE, 0), 0);
	CHECK((f = file_of_byte(fs, "/e", MIB, 'e')) != NULL);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	CHECK_EQ(udax_sendfile(sv[0], f, &off, MIB), -EPIPE);
	CHECK_EQ(off, 0);
	CHECK_EQ(sigpending(&pending), 0);
	CHECK(!sigismember(&pending, SIGPIPE));
	return case_end(&fs, &f, sv[0], NULL, -1);
}

static int epipe(void)
{
	int r = epipe_on(0);
	return r ? r : epipe_on(1);
}

/* ---- truncated-range ---- */

/* A thread of the scenario: the sender (udax_sendfile of 1 MiB from 0
 * to sockfd) or the truncater (sockfd -1: truncate to 0). */
struct job {
	struct udax_file *f;
	int sockfd;
	pthread_t thread;
	ssize_t ret;
	_Atomic int done;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	off_t off = 0;

	j->ret = j->sockfd >= 0 ?
			 udax_sendfile(j->sockfd, j->f, &off, TWO_PIECES) :
			 udax_ftruncate(j->f, 0);
	atomic_store(&j->done, 1);
	return NULL;
}

/* Does [a, a+alen) meet any extent of the file? */
static int extents_meet(struct udax_file *f, uint64_t a, uint64_t alen)
{
	struct udax_extent ext[64];
	ssize_t n = udax_file_extents(f, 0, 64 * MIB, ext, 64);

	for (ssize_t i = 0; i < n; i++)
		if (ext[i].dev_offset < a + alen &&
		    a < ext[i].dev_offset + ext[i].length)
			return 1;
	return 0;
}

enum { TR_MEMORY, TR_QUARANTINE, TR_CRASH };

static int truncated_range(int kind)
{
	struct udax_fs *fs;
	struct udax_file *x, *x2, *y;
	struct udax_extent xext[4];
	ssize_t nx;
	struct job snd = {0}, tr = {.sockfd = -1};
	static uint8_t buf[2 * TWO_PIECES];
	size_t got = 0, ys;
	long stable = 0, last = -1, left;
	int rcv;
	ssize_t r;

	/* a break waits this long for the sender's pin: longer than any
	 * stall of a loaded machine (read at the first wait) */
	setenv("UDAX_PIN_WAIT_MS", "120000", 1);
	CHECK_EQ(fs_new_dev(&fs, kind == TR_CRASH, IMAGE, 0), 0);
	fs->dev->no_detach = kind == TR_QUARANTINE;
	CHECK((x = file_of_byte(fs, "/x", TWO_PIECES, 'x')) != NULL);
	nx = udax_file_extents(x, 0, TWO_PIECES, xext, 4);
	CHECK(nx >= 1 && nx <= 4); /* /y must meet one of them */
	CHECK_EQ(udax_file_open(fs, "/x", O_RDWR, 0, &x2), 0);
	CHECK_EQ(device_fill(fs, "/fill"), 0);
	CHECK_EQ(tcp_pair(&snd.sockfd, &rcv, 16 * KIB), 0);

	/* the sender blocks mid-range: nobody reads yet */
	snd.f = x;
	CHECK_EQ(pthread_create(&snd.thread, NULL, job_run, &snd), 0);
	for (double end = mono_s() + 120; stable < 20 && mono_s() < end;) {
		long q = queued(snd.sockfd, rcv);
		stable = q == last && q > 0 ? stable + 1 : 0;
		last = q;
		sleep_ms(5);
	}
	CHECK(stable >= 20);
	CHECK_EQ(layout_pin_count(fs), 1); /* the piece being sent */
	CHECK(!atomic_load(&snd.done));

	/* the truncate waits for the piece being sent */
	uint64_t waits = atomic_load(&fs->layout.waits);
	tr.f = x2;
	CHECK_EQ(pthread_create(&tr.thread, NULL, job_run, &tr), 0);
	sleep_ms(300);
	if (atomic_load(&tr.done))
		fprintf(stderr, "  truncate returned %zd, pins %lld\n", tr.ret,
			(long long)layout_pin_count(fs));
	CHECK(!atomic_load(&tr.done));
	CHECK(!atomic_load(&snd.done));

	/* read all of the piece but its last 8 KiB, which the socket's
	 * buffers hold whatever the timing: the piece leaves udax's hands
	 * (its pin is released) and those bytes stay queued (reading until
	 * the pin went let a slow sender's queue drain first) */
	while (layout_pin_count(fs) && !atomic_load(&tr.done)) {
		size_t want = got + 8192 < PIECE ? PIECE - 8192 - got : 0;
		r = want ? recv(rcv, buf + got, want < 4096 ? want : 4096,
				MSG_DONTWAIT) :
			   0;
		if (r > 0)
			got += (size_t)r;
		sleep_ms(1);
	}
	pthread_join(tr.thread, NULL);
	CHECK_EQ(tr.ret, 0);
	CHECK(atomic_load(&fs->layout.waits) > waits);
	CHECK_EQ(udax_sync(fs), 0);

	/* /y over /x's freed blocks, the only free ones (all of them: on a
	 * device that quarantines, those the first piece queued are not) */
	left = queued(snd.sockfd, rcv);
	y = file_of_byte(fs, "/y", TWO_PIECES, 'y');
	if (kind == TR_QUARANTINE && fs->dev->splice) {
		/* ENOSPC: the pages sendfile(2) queued are held back (a
		 * device that copies with send(2), a memory file on huge
		 * pages, leaves no page in the socket: as below) */
		CHECK(y == NULL);
		CHECK(atomic_load(&fs->alloc.quarantined) > 0);
		CHECK_EQ(udax_file_open(fs, "/y", O_RDWR, 0, &y), 0);
	} else {
		CHECK(y != NULL);
		CHECK_EQ(udax_fsync(y), 0);
		int met = 0;
		for (ssize_t i = 0; i < nx; i++)
			met |= extents_meet(y, xext[i].dev_offset,
					    xext[i].length);
		CHECK(met);
		CHECK_EQ(file_count_byte(y, TWO_PIECES, 'y'), TWO_PIECES);
	}

	/* the send ended at the new end of file, after whole pieces */
	pthread_join(snd.thread, NULL);
	shutdown(snd.sockfd, SHUT_WR);
	while ((r = recv(rcv, buf + got, sizeof(buf) - got, 0)) > 0)
		got += (size_t)r;
	ys = 0;
	for (size_t i = 0; i < got; i++)
		ys += buf[i] != 'x';
	printf("# truncated-range (%s): sent %zd, %ld bytes queued when /y "
	       "was written, peer got %zu, %zu of them not /x's\n",
	       kind == TR_MEMORY ? "memory, sendfile(2)" :
	       kind == TR_CRASH	 ? "crash device, send(2)" :
				   "no detach, quarantine",
	       snd.ret, left, got, ys);
	CHECK(left > 0);
	CHECK_EQ(ys, 0);
	CHECK_EQ(got, (size_t)snd.ret);
	CHECK(snd.ret > 0 && snd.ret < TWO_PIECES);
	CHECK_EQ(snd.ret % PIECE, 0);
	close(snd.sockfd);
	close(rcv);
	CHECK_EQ(layout_pin_count(fs), 0);
	CHECK_EQ(udax_file_close(&x), 0);
	CHECK_EQ(udax_file_close(&x2), 0);
	CHECK_EQ(udax_file_close(&y), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

static int truncated_memory(void)
{
	return truncated_range(TR_MEMORY);
}

static int truncated_quarantine(void)
{
	return truncated_range(TR_QUARANTINE);
}

static int truncated_crash(void)
{
	return truncated_range(TR_CRASH);
}

/* ---- inject ---- */

static int inject_on(int crash)
{
	enum sys_kind kind;
	struct udax_fs *fs;
	struct udax_file *f;
	struct sink s;
	int sv[2];
	off_t off = 0;

	CHECK_EQ(fs_new_dev(&fs, crash, IMAGE, 0), 0);
	/* the call the device's path makes */
	kind = fs->dev->splice ? SYS_SENDFILE : SYS_SEND;
	CHECK((f = file_of_byte(fs, "/i", TWO_PIECES, 'i')) != NULL);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(sink_start(&s, sv[1], 2 * TWO_PIECES), 0);
	/* the first call fails: nothing sent; the second, mid-range */
	sys_count_reset();
	sys_fail_set(kind, 1, EIO, 0);
	CHECK_EQ(udax_sendfile(sv[0], f, &off, TWO_PIECES), -EIO);
	CHECK_EQ(off, 0);
	CHECK_EQ(layout_pin_count(fs), 0);
	sys_count_reset();
	sys_fail_set(kind, 2, EIO, 0);
	ssize_t n = udax_sendfile(sv[0], f, &off, TWO_PIECES);
	sys_count_stop();
	CHECK(n > 0 && n < TWO_PIECES);
	CHECK_EQ(off, n);
	CHECK_EQ(layout_pin_count(fs), 0);
	CHECK_EQ(udax_sendfile(sv[0], f, &off, TWO_PIECES), TWO_PIECES - n);
	shutdown(sv[0], SHUT_WR);
	CHECK_EQ(sink_wait(&s, TWO_PIECES + 1), TWO_PIECES);
	for (size_t i = 0; i < TWO_PIECES; i++)
		CHECK(s.buf[i] == 'i');
	return case_end(&fs, &f, sv[0], &s, sv[1]);
}

static int inject(void)
{
	int r = inject_on(0);
	return r ? r : inject_on(1);
}

static const struct test_case tests[] = {
	{"tcp-large", tcp_large},
	{"ranges-memory", ranges_memory},
	{"ranges-crash", ranges_crash},
	{"position", position},
	{"nonblocking", nonblocking},
	{"bad-input", bad_input},
	{"epipe", epipe},
	{"truncated-range-memory", truncated_memory},
	{"truncated-range-quarantine", truncated_quarantine},
	{"truncated-range-crash", truncated_crash},
	{"inject", inject},
};
TEST_MAIN("sendfile", tests)
