/* SPDX-License-Identifier: MIT */
/*
 * t_plog.c - the persistent-log example (examples/plog.c) under kill -9.
 *
 * The example appends records to /log through a UDAX_MAP_SYNC mapping and
 * acknowledges each ("ack N" on stdout) once udax_persist has made it
 * durable. Here it runs as a separate process (the binary built beside
 * this test: BUILD/examples/plog, or $UDAX_PLOG_BIN) on an image in
 * /dev/shm and is killed with SIGKILL at a random instant, again and
 * again. After each kill the image must open (replaying the journal), the
 * log must hold every acknowledged record intact and in sequence (read
 * here with udax_pread against the format restated below, not with the
 * example's own code), `plog check` must agree, and fsck must find the
 * image clean.
 *
 * UDAX_PLOG_KILLS sets the number of kills (30; make plog-kill-long runs
 * 1,000), UDAX_PLOG_SEED replays a run's choices (the instants depend on
 * timing). Needs userfaultfd; skips without it.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "fsck/fsck.h"
#include "test.h"
#include "util.h"

/* The format of /log, restated from examples/plog.c. */
#define LOG_MAGIC 0x31474f4c50584455ull /* "UDXPLOG1" */
#define LOG_HDR 64			/* the header: one cache line */
#define LOG_REC 64			/* a record */
#define HDR_COUNT 24			/* offset of the count in it */
#define HDR_CRC 16			/* of the header's crc32 */
#define REC_CRC 60			/* of a record's crc32 */

#define IMAGE_SIZE (64ull << 20)
/* Past this many records the image is made anew, so that any number of
 * kills fits in it. */
#ifndef RESET_AT
#define RESET_AT 200000
#endif

static char plog_bin[PATH_MAX];
static int plog_stderr; /* spawn with stderr on the pipe too */

static uint32_t crc32_of(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The example's binary: $UDAX_PLOG_BIN, or ../examples/plog from this
 * program (build/tests/t_plog -> build/examples/plog). */
static int find_plog(void)
{
	const char *e = getenv("UDAX_PLOG_BIN");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (e) {
		snprintf(plog_bin, sizeof(plog_bin), "%s", e);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return -errno;
		self[n] = 0;
		for (int i = 0; i < 2; i++) /* strip "/t_plog", "/tests" */
			if ((slash = strrchr(self, '/')))
				*slash = 0;
		snprintf(plog_bin, sizeof(plog_bin), "%.*s/examples/plog",
			 PATH_MAX - 20, self);
	}
	return access(plog_bin, X_OK) ? -errno : 0;
}

#define NEED_PLOG()                                                            \
	do {                                                                   \
		if (find_plog())                                               \
			SKIP("%.200s not built (make examples)", plog_bin);    \
		if (!mapping_permitted())                                      \
			SKIP("userfaultfd not permitted here");                \
	} while (0)

/* Start `plog args...` with its stdout on a pipe; returns the read end
 * and *pid, or -1. */
static int spawn(pid_t *pid, const char *img, const char *cmd, const char *n,
		 const char *opt)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	*pid = fork();
	if (*pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (*pid == 0) {
		dup2(p[1], STDOUT_FILENO); /* dup2 clears O_CLOEXEC */
		if (plog_stderr)
			dup2(p[1], STDERR_FILENO);
		execl(plog_bin, plog_bin, img, cmd, n, opt, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	return p[0];
}

/* Acknowledgements read from an appender's pipe. */
struct acks {
	char line[64];
	size_t len;
	uint64_t last; /* the last "ack N" */
	uint64_t n;    /* how many */
	int bad;       /* a line out of sequence or not understood */
};

static void take(struct acks *a, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned long long v;
		char c = buf[i];

		if (c != '\n') {
			if (a->len < sizeof(a->line) - 1)
				a->line[a->len++] = c;
			continue;
		}
		a->line[a->len] = 0;
		a->len = 0;
		if (sscanf(a->line, "ack %llu", &v) != 1 || v != a->last + 1) {
			fprintf(stderr,
				"  unexpected line \"%s\" after ack "
				"%llu\n",
				a->line, (unsigned long long)a->last);
			a->bad = 1;
			continue;
		}
		a->last = v;
		a->n++;
	}
}

/* Read what the pipe holds until `deadline` (CLOCK_MONOTONIC ns; 0: no
 * deadline), end of file, or (until_n > 0) until a->n reaches until_n.
 * Returns 1 at end of file, else 0. */
static int read_acks(int fd, struct acks *a, int64_t deadline, uint64_t until_n)
{
	char buf[4096];

	for (;;) {
		if (until_n && a->n >= until_n)
			return 0;
		struct timespec now;
		int timeout = -1;
		if (deadline) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			int64_t left = deadline - (now.tv_sec * 1000000000LL +
						   now.tv_nsec);
			if (left <= 0)
				return 0;
			timeout = (int)((left + 999999) / 1000000);
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue; /* timed out: the deadline check ends it */
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		take(a, buf, (size_t)n);
	}
}

/* Verify /log with udax_pread: header, count == acked or acked + 1,
 * every record up to the count intact and in sequence. Returns the count, or -1; -2 if
 * there is no /log and nothing was acknowledged (killed before it made
 * one). */
static int64_t verify_log(struct udax_fs *fs, uint64_t acked, unsigned round)
{
	static uint8_t buf[LOG_REC * 1024];
	struct udax_file *f;
	struct stat st;
	uint8_t h[LOG_HDR];
	uint64_t count;
	int ret;

	ret = udax_file_open(fs, "/log", O_RDONLY, 0, &f);
	if (ret == -ENOENT && !acked)
		return -2;
	if (ret) {
		fprintf(stderr, "  round %u: /log: %s (%llu acknowledged)\n",
			round, udax_strerror(ret), (unsigned long long)acked);
		return -1;
	}
	ret = udax_fstat(f, &st);
	if (ret || udax_pread(f, h, LOG_HDR, 0) != LOG_HDR) {
		fprintf(stderr, "  round %u: cannot read the header\n", round);
		goto bad;
	}
	count = get64(h + HDR_COUNT);
	if (get64(h) != LOG_MAGIC || get32(h + HDR_CRC) != crc32_of(h, 16)) {
		fprintf(stderr, "  round %u: bad header\n", round);
		goto bad;
	}
	/* at most one record committed and not acknowledged: the kill
	 * came between its commit and its "ack" */
	if (count < acked || count > acked + 1 ||
	    LOG_HDR + count * LOG_REC > (uint64_t)st.st_size) {
		fprintf(stderr,
			"  round %u: count %llu, %llu acknowledged, "
			"size %lld\n",
			round, (unsigned long long)count,
			(unsigned long long)acked, (long long)st.st_size);
		goto bad;
	}
	for (uint64_t i = 0; i < count;) {
		uint64_t k = count - i < 1024 ? count - i : 1024;
		off_t off = (off_t)(LOG_HDR + i * LOG_REC);
		if (udax_pread(f, buf, k * LOG_REC, off) !=
		    (ssize_t)(k * LOG_REC)) {
			fprintf(stderr,
				"  round %u: short read at record "
				"%llu\n",
				round, (unsigned long long)(i + 1));
			goto bad;
		}
		for (uint64_t j = 0; j < k; j++, i++) {
			const uint8_t *r = buf + j * LOG_REC;
			if (get64(r) == i + 1 &&
			    get32(r + REC_CRC) == crc32_of(r, REC_CRC))
				continue;
			fprintf(stderr,
				"  round %u: record %llu of %llu (%llu "
				"acknowledged) is damaged: seq %llu\n",
				round, (unsigned long long)(i + 1),
				(unsigned long long)count,
				(unsigned long long)acked,
				(unsigned long long)get64(r));
			goto bad;
		}
	}
	udax_file_close(&f);
	return (int64_t)count;
bad:
	udax_file_close(&f);
	return -1;
}

/* Run `plog IMG check`; returns the count it printed, or -1 with what
 * it said (stdout and stderr) in out. */
static int64_t plog_check(const char *img, char *out, size_t size)
{
	unsigned long long count;
	char buf[256];
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int fd, status;

	plog_stderr = 1;
	fd = spawn(&pid, img, "check", NULL, NULL);
	plog_stderr = 0;
	if (fd < 0) {
		snprintf(out, size, "cannot start it");
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 ||
	       (n < 0 && errno == EINTR))
		for (ssize_t i = 0; i < n && len + 1 < size; i++)
			out[len++] = buf[i];
	out[len] = 0;
	close(fd);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) ||
	    sscanf(out, "count %llu", &count) != 1)
		return -1;
	return (int64_t)count;
}

/* After a run: open (replay), verify, close, fsck, and plog check.
 * Returns the count, or -1. */
static int64_t check_image(const char *img, uint64_t acked, unsigned round,
			   int reset)
{
	struct udax_fs *fs;
	struct fsck_result fr;
	int64_t count, count2 = -2;
	char out[512];
	int ret;

	if (access(img, F_OK)) {
		if (!acked)
			return 0;
		fprintf(stderr, "  round %u: no image\n", round);
		return -1;
	}
	if (round & 1) /* sometimes the example is the first to open it */
		count2 = plog_check(img, out, sizeof(out));
	ret = udax_open(&fs, img, NULL);
	if (ret) {
		fprintf(stderr, "  round %u: open after kill: %s\n", round,
			udax_strerror(ret));
		return -1;
	}
	count = verify_log(fs, acked, round);
	ret = udax_close(&fs);
	if (ret) {
		fprintf(stderr, "  round %u: close: %s\n", round,
			udax_strerror(ret));
		return -1;
	}
	if (count != -1 && count2 == -2) /* (one opener at a time) */
		count2 = plog_check(img, out, sizeof(out));
	if (count == -2) {
		count = 0; /* no log: `plog check` must fail */
		if (count2 != -1) {
			fprintf(stderr,
				"  round %u: plog check found a "
				"log that is not there\n",
				round);
			count = -1;
		}
	} else if (count >= 0 && count2 != count) {
		fprintf(stderr,
			"  round %u: plog check says %lld, not %lld: "
			"%s\n",
			round, (long long)count2, (long long)count, out);
		count = -1;
	}
	if (count < 0)
		return -1;
	ret = fsck_run(img, FSCK_NO, NULL, &fr);
	if (ret != FSCK_EXIT_OK) {
		fprintf(stderr, "  round %u: fsck after kill gave %d\n", round,
			ret);
		fsck_run(img, FSCK_NO, stderr, &fr);
		return -1;
	}
	/* start again on a new image (not by unlinking /log: fsck then
	 * finds the empty root directory's empty tree leaf damaged) */
	if (count >= RESET_AT && reset) {
		ret = udax_mkfs(img,
				&(struct udax_mkfs_opts){.size = IMAGE_SIZE});
		if (ret) {
			fprintf(stderr, "  round %u: mkfs: %s\n", round,
				udax_strerror(ret));
			return -1;
		}
		count = 0;
	}
	return count;
}

/* A run to its end, then checks: the example's normal path. */
static int append_and_check(void)
{
	char img[64];
	struct acks a = {0};
	pid_t pid;
	int fd, status;

	NEED_PLOG();
	snprintf(img, sizeof(img), "/dev/shm/udax-plog1-%d.img", (int)getpid());
	unlink(img);
	/* a missing image is created; then fallocate growth, then sparse */
	for (int run = 0; run < 3; run++) {
		const char *n = run == 0 ? "100" : run == 1 ? "5000" : "7000";
		fd = spawn(&pid, img, "append", n, run == 2 ? "sparse" : NULL);
		CHECK(fd >= 0);
		read_acks(fd, &a, 0, 0);
		close(fd);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(!a.bad);
	}
	CHECK_EQ(a.last, 12100);
	CHECK_EQ(check_image(img, a.last, 0, 0), 12100);
	CHECK_EQ(check_image(img, a.last, 1, 0), 12100);
	/* usage errors */
	plog_stderr = 1;
	fd = spawn(&pid, img, "append", "x", NULL);
	plog_stderr = 0;
	CHECK(fd >= 0);
	char junk[512];
	while (read(fd, junk, sizeof(junk)) > 0)
		;
	close(fd);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	unlink(img);
	return T_PASS;
}

/* t (CLOCK_MONOTONIC) plus ns, as a read_acks deadline. */
static int64_t deadline_after(const struct timespec *t, int64_t ns)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec + ns;
}

/*
 * Kill the appender again and again. The kill instant is timed from its
 * first acknowledgement, not from its start: how long a process takes
 * to start, open the image and make its first record depends on the
 * machine and on its load (a sanitizer build on a busy machine needs far
 * more than 30 ms), and a kill before the first record tests only the
 * start. One round in eight still kills at a random instant after the
 * spawn (often during open, replay or the log's creation); the others
 * wait for the first "ack" (up to ACK_WAIT_S; an appender that
 * acknowledges nothing by then has failed) and kill 0-30 ms after it.
 */
#define ACK_WAIT_S 300
static int kill_random(void)
{
	const char *e = getenv("UDAX_PLOG_KILLS");
	unsigned rounds = e ? (unsigned)atoi(e) : 30;
	unsigned seed = (e = getenv("UDAX_PLOG_SEED")) ? (unsigned)atoi(e) :
							 (unsigned)time(NULL);
	uint64_t committed = 0, acked_total = 0;
	unsigned kills = 0, finished = 0, resets = 0, early = 0;
	char img[64], tmp[80];

	NEED_PLOG();
	snprintf(img, sizeof(img), "/dev/shm/udax-plog-%d.img", (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s.new", img);
	printf("# plog: seed %u (UDAX_PLOG_SEED replays)\n", seed);
	unlink(img);
	CHECK_EQ(udax_mkfs(img, &(struct udax_mkfs_opts){.size = IMAGE_SIZE}),
		 0);
	srandom(seed);
	for (unsigned r = 0; r < rounds; r++) {
		/* mostly an appender that cannot finish before its kill;
		 * now and then a short one that ends by itself */
		unsigned long long want =
			random() % 8 ?
				100000000ull :
				1 + (unsigned long long)(random() % 3000);
		int sparse = random() % 2;
		int from_spawn = random() % 8 == 0;
		long ns = random() % 30000000; /* 0..30 ms */
		struct acks a = {.last = committed};
		struct timespec t0;
		char nbuf[32];
		pid_t pid;
		int fd, status, eof = 0;

		snprintf(nbuf, sizeof(nbuf), "%llu", want);
		fd = spawn(&pid, img, "append", nbuf, sparse ? "sparse" : NULL);
		CHECK(fd >= 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!from_spawn) {
			eof = read_acks(
				fd, &a,
				deadline_after(&t0, ACK_WAIT_S * 1000000000LL),
				1);
			if (!a.n && !eof) {
				fprintf(stderr,
					"  round %u: no acknowledgement in "
					"%d s\n",
					r, ACK_WAIT_S);
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				close(fd);
				return T_FAIL;
			}
			clock_gettime(CLOCK_MONOTONIC, &t0);
		}
		if (!eof)
			read_acks(fd, &a, deadline_after(&t0, ns), 0);
		if (from_spawn && !a.n)
			early++;
		kill(pid, SIGKILL);
		read_acks(fd, &a, 0, 0); /* those already in the pipe count */
		close(fd);
		CHECK(waitpid(pid, &status, 0) == pid);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
			kills++;
		} else if (WIFEXITED(status) && !WEXITSTATUS(status) &&
			   a.last == committed + want) {
			finished++;
		} else {
			fprintf(stderr,
				"  round %u: the appender failed (status "
				"%#x, %llu of %llu acknowledged)\n",
				r, status,
				(unsigned long long)(a.last - committed), want);
			return T_FAIL;
		}
		if (a.bad)
			return T_FAIL;
		/* a round timed from the first acknowledgement saw one */
		CHECK(from_spawn || a.n > 0);
		acked_total += a.n;
		int64_t count = check_image(img, a.last, r, 1);
		if (count < 0) {
			fprintf(stderr,
				"  seed %u, round %u (of %llu, %s, "
				"%ld us after the %s); image kept: %s\n",
				seed, r, want, sparse ? "sparse" : "fallocate",
				ns / 1000, from_spawn ? "spawn" : "first ack",
				img);
			return T_FAIL;
		}
		if (count == 0 && a.last >= RESET_AT)
			resets++;
		committed = (uint64_t)count;
	}
	unlink(img);
	unlink(tmp);
	printf("# plog: %u kills survived, %llu records acknowledged "
	       "(%u kills before the first record, %u runs ended before "
	       "their kill, %u log restarts)\n",
	       kills, (unsigned long long)acked_total, early, finished, resets);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"append-and-check", append_and_check},
	{"kill9-at-random", kill_random},
};
TEST_MAIN("plog", tests)
