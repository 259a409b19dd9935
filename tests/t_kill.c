/* SPDX-License-Identifier: MIT */
/*
 * t_kill.c - process crashes: a child works on an image in /dev/shm
 * (creates, appends, renames, truncates, unlinks, each file made durable
 * with fsync before it is acknowledged through a pipe) and is killed with
 * SIGKILL at a random instant. Then the image must open (replaying the
 * journal), pass fsck, and hold every acknowledged file with its
 * acknowledged contents. The image starts aged (age.h): garbage in its
 * free space, a past of created and deleted files. UDAX_KILL_ROUNDS sets
 * the number of kills
 * (make kill-long); UDAX_KILL_SEED replays a run.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "age.h"
#include "fsck/fsck.h"
#include "test.h"

#define FILES 64

static uint8_t pattern(unsigned file, unsigned gen, size_t i)
{
	return (uint8_t)(file * 131 + gen * 31 + i / 7);
}

/* An acknowledgement: file `file` holds generation `gen` of `len` bytes. */
struct ack {
	uint32_t file, gen, len;
};

static void child_work(const char *img, int wfd, unsigned seed)
{
	struct udax_fs *fs;
	static uint8_t buf[70000];
	unsigned gen = 1;

	if (udax_open(&fs, img, &(struct udax_open_opts){.quiet = 1}))
		_exit(2);
	srandom(seed);
	for (;; gen++) {
		unsigned file = (unsigned)random() % FILES;
		uint32_t len = (uint32_t)(random() % (int)sizeof(buf));
		char path[64], tmp[64];
		struct udax_file *f;

		/* write a new version beside, make it durable, rename it
		 * over the old one: the classic atomic replace */
		snprintf(path, sizeof(path), "/f%u", file);
		snprintf(tmp, sizeof(tmp), "/f%u.tmp", file);
		for (uint32_t i = 0; i < len; i++)
			buf[i] = pattern(file, gen, i);
		if (udax_file_open(fs, tmp, O_CREAT | O_TRUNC | O_RDWR, 0644,
				   &f))
			_exit(3);
		if (udax_pwrite(f, buf, len / 2, 0) != (ssize_t)(len / 2) ||
		    udax_pwrite(f, buf + len / 2, len - len / 2, len / 2) !=
			    (ssize_t)(len - len / 2))
			_exit(4);
		if (random() % 3 == 0) /* churn: truncate and extend */
			udax_ftruncate(f, len);
		if (udax_fsync(f))
			_exit(5);
		udax_file_close(&f);
		if (udax_rename(fs, tmp, path, 0))
			_exit(6);
		if (random() % 5 == 0) { /* and some garbage to unlink */
			snprintf(tmp, sizeof(tmp), "/junk%u", gen % 7);
			if (!udax_file_open(fs, tmp, O_CREAT | O_RDWR, 0644,
					    &f)) {
				udax_pwrite(f, buf, len, 0);
				udax_file_close(&f);
				udax_unlink(fs, tmp);
			}
		}
		/* a rename is durable once it returns: acknowledge */
		struct ack a = {file, gen, len};
		if (write(wfd, &a, sizeof(a)) != sizeof(a))
			_exit(7);
	}
}

static int check_image(const char *img, const struct ack *last, unsigned round)
{
	struct udax_fs *fs;
	struct fsck_result fr;
	static uint8_t buf[70000];
	int ret;

	ret = udax_open(&fs, img, NULL);
	if (ret) {
		fprintf(stderr, "  round %u: open after kill: %s\n", round,
			udax_strerror(ret));
		return 1;
	}
	for (unsigned file = 0; file < FILES; file++) {
		struct udax_file *f;
		char path[64];
		if (!last[file].gen)
			continue;
		snprintf(path, sizeof(path), "/f%u", file);
		ret = udax_file_open(fs, path, O_RDONLY, 0, &f);
		if (ret) {
			fprintf(stderr, "  round %u: %s lost: %s\n", round,
				path, udax_strerror(ret));
			udax_close(&fs);
			return 1;
		}
		ssize_t n = udax_pread(f, buf, sizeof(buf), 0);
		udax_file_close(&f);
		/* the acknowledged version, or a later one being written when
		 * the kill came (renamed, but not yet acknowledged) */
		int ok = n == (ssize_t)last[file].len;
		for (ssize_t i = 0; ok && i < n; i++)
			ok = buf[i] == pattern(file, last[file].gen, (size_t)i);
		if (!ok) {
			/* a later generation (renamed over it just before
			 * the kill, not yet acknowledged) must be complete:
			 * its first byte gives its number modulo 256 */
			unsigned g = last[file].gen + 1, end = g + 100000;
			if (n > 0)
				while (g < end && pattern(file, g, 0) != buf[0])
					g++;
			for (; g<end; g += n> 0 ? 256 : 1) {
				int match = n >= 0;
				for (ssize_t i = 0; match && i < n; i++)
					match = buf[i] ==
						pattern(file, g, (size_t)i);
				if (match)
					break;
			}
			if (g >= end) {
				fprintf(stderr,
					"  round %u: %s does not hold its "
					"acknowledged contents (gen %u, %u "
					"bytes; read %zd)\n",
					round, path, last[file].gen,
					last[file].len, n);
				udax_close(&fs);
				return 1;
			}
		}
	}
	udax_close(&fs);
	ret = fsck_run(img, FSCK_NO, NULL, &fr);
	if (ret != FSCK_EXIT_OK) {
		fprintf(stderr, "  round %u: fsck after kill gave %d\n", round,
			ret);
		fsck_run(img, FSCK_NO, stderr, &fr);
		return 1;
	}
	return 0;
}

/* How long the first acknowledgement may take before the child counts
 * as hung (a sanitizer build on a loaded machine is slow, not hung). */
#define ACK_WAIT_S 300

static int kill_random(void)
{
	const char *e = getenv("UDAX_KILL_ROUNDS");
	unsigned rounds = e ? (unsigned)atoi(e) : 25;
	unsigned seed = (e = getenv("UDAX_KILL_SEED")) ? (unsigned)atoi(e) :
							 (unsigned)time(NULL);
	struct ack last[FILES];
	char img[64];
	unsigned acked = 0;

	snprintf(img, sizeof(img), "/dev/shm/udax-kill-%d.img", (int)getpid());
	printf("# kill: seed %u (UDAX_KILL_SEED replays)\n", seed);
	unlink(img);
	CHECK_EQ(udax_mkfs(img, &(struct udax_mkfs_opts){.size = 64 << 20}), 0);
	/* an aged device: garbage in the free space, every block the child
	 * gets was used before (age.h) */
	struct udax_fs *afs;
	CHECK_EQ(udax_open(&afs, img, &(struct udax_open_opts){.quiet = 1}), 0);
	CHECK_EQ(age_fs(afs), 0);
	CHECK_EQ(udax_close(&afs), 0);
	memset(last, 0, sizeof(last));
	srandom(seed);
	for (unsigned r = 0; r < rounds; r++) {
		int p[2];
		CHECK_EQ(pipe(p), 0);
		unsigned cseed = (unsigned)random();
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child_work(img, p[1], cseed);
		}
		close(p[1]);
		/* let it run 0..30 ms, reading acknowledgements: from its
		 * first one (how long a start takes depends on the machine
		 * and its load), or in one round of eight from the fork */
		long ns = random() % 30000000;
		int from_fork = random() % 8 == 0;
		unsigned got = 0;
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			struct ack a;
			ssize_t n = read(p[0], &a, sizeof(a));
			if (n == sizeof(a)) {
				last[a.file] = a;
				acked++;
				if (!got++ && !from_fork)
					clock_gettime(CLOCK_MONOTONIC, &t0);
				continue;
			}
			if (n == 0)
				break; /* it died: waitpid says how */
			clock_gettime(CLOCK_MONOTONIC, &now);
			int64_t el = (now.tv_sec - t0.tv_sec) * 1000000000L +
				     (now.tv_nsec - t0.tv_nsec);
			if ((got || from_fork) && el > ns)
				break;
			if (!got && !from_fork &&
			    el > ACK_WAIT_S * 1000000000L) {
				fprintf(stderr,
					"  round %u: no acknowledgement in %d "
					"s\n",
					r, ACK_WAIT_S);
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				return T_FAIL;
			}
			usleep(200);
		}
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		/* acknowledgements already in the pipe count too */
		struct ack a;
		while (read(p[0], &a, sizeof(a)) == sizeof(a)) {
			last[a.file] = a;
			acked++;
		}
		close(p[0]);
		if (WIFEXITED(status)) {
			fprintf(stderr, "  round %u: the child failed (%d)\n",
				r, WEXITSTATUS(status));
			return T_FAIL;
		}
		if (check_image(img, last, r))
			return T_FAIL;
	}
	unlink(img);
	printf("# kill: %u kills survived, %u acknowledged updates checked\n",
	       rounds, acked);
	return T_PASS;
}

static const struct test_case tests[] = {
	{"sigkill-at-random", kill_random},
};
TEST_MAIN("kill", tests)
