// SPDX-License-Identifier: MIT
/*
 * cmd_bench_pins.c - `udax bench pins`: what references on a file's
 * layout cost (issue 11), with the kernel beside udax where it has a
 * counterpart.
 *
 *   pin + unpin     udax_pin and udax_unpin of one mapped 4 KiB page in a
 *                   loop: one thread, then two threads on two files
 *   truncate        udax_ftruncate to 0 of a 1 GiB file (--trunc-mib)
 *                   whose every page is mapped (no pin: the break zaps,
 *                   frees and detaches), beside the same file never mapped
 *   sendfile        udax_sendfile over loopback TCP in 1 MiB and 64 KiB
 *                   messages, a reader thread draining, beside the
 *                   kernel's sendfile(2) from a tmpfs file (/dev/shm)
 *   detaching       64 MiB written into blocks that were mapped, freed
 *                   and detached (a hole punched in the memory file: the
 *                   kernel allocates and zeroes each page again at the
 *                   first store), beside blocks freed without ever being
 *                   mapped (their memory stays)
 *
 * Every udax figure uses a fresh udax_open_memory device (a memfd); the
 * runs of the columns compared are interleaved, --reps times; the median
 * is printed with the range. The load average is read before and after:
 * on a loaded machine every figure is slower, the ratios less so.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

#define PB_MIB (1024ull * 1024)
#define PB_PIN_OPS 200000	   /* pin + unpin pairs per run and thread */
#define PB_SEND_FILE (64 * PB_MIB) /* the file sendfile cycles over */
#define PB_DETACH (64 * PB_MIB)	   /* bytes written into reused blocks */

/* The measurements, in the order runs are interleaved. */
enum {
	PB_PIN1,
	PB_PIN2,
	PB_TRUNC_MAPPED,
	PB_TRUNC_UNMAPPED,
	PB_SEND_UDAX_1M,
	PB_SEND_KERNEL_1M,
	PB_SEND_UDAX_64K,
	PB_SEND_KERNEL_64K,
	PB_DETACH_MAPPED,
	PB_DETACH_NEVER,
	PB_N
};

static const struct bench_row pb_rows[PB_N] = {
	{"pin_unpin_1thread", "pin + unpin, 1 thread", "ns"},
	{"pin_unpin_2threads", "pin + unpin, 2 threads, 2 files (each op)",
	 "ns"},
	{"truncate_mapped", "truncate to 0, every page mapped", "ms"},
	{"truncate_never_mapped", "truncate to 0, never mapped", "ms"},
	{"sendfile_udax_1m", "udax_sendfile, 1 MiB messages", "GiB/s"},
	{"sendfile_kernel_1m", "sendfile(2) from tmpfs, 1 MiB messages",
	 "GiB/s"},
	{"sendfile_udax_64k", "udax_sendfile, 64 KiB messages", "GiB/s"},
	{"sendfile_kernel_64k", "sendfile(2) from tmpfs, 64 KiB messages",
	 "GiB/s"},
	{"write_detached", "64 MiB into blocks mapped, freed, detached", "ms"},
	{"write_never_mapped", "64 MiB into blocks freed, never mapped", "ms"},
};

struct pb_opts {
	int json;
	int reps;
	uint64_t trunc_bytes;
	uint64_t send_bytes; /* per sendfile run */
};

/* ---- pin + unpin ---- */

struct pb_pinner {
	struct udax_fs *fs;
	char path[32];
	pthread_barrier_t *start; /* NULL: one thread */
	double ns;		  /* per pair */
	int err;
	const char *what;
};

static void *pb_pin_loop(void *arg)
{
	struct pb_pinner *p = arg;
	struct udax_file *f;
	struct udax_pin *pin;
	uint64_t t0;
	void *a;

	p->what = "file";
	p->err = udax_file_open(p->fs, p->path, O_CREAT | O_RDWR, 0600, &f);
	if (p->err)
		goto wait;
	p->err = udax_ftruncate(f, 4096);
	p->what = "udax_mmap";
	if (!p->err)
		p->err = udax_mmap(f, 0, 4096, PROT_READ | PROT_WRITE,
				   UDAX_MAP_SHARED, &a);
	if (p->err)
		goto close_file;
	*(volatile char *)a = 1; /* the page is the device's */
	if (p->start)
		pthread_barrier_wait(p->start);
	p->what = "udax_pin";
	t0 = bench_now_ns();
	for (int i = 0; i < PB_PIN_OPS && !p->err; i++) {
		p->err = udax_pin(a, 4096, 0, NULL, &pin);
		if (!p->err)
			p->err = udax_unpin(&pin);
	}
	p->ns = (double)(bench_now_ns() - t0) / PB_PIN_OPS;
	udax_munmap(a, 4096);
	udax_file_close(&f);
	return NULL;

close_file:
	udax_file_close(&f);
wait:
	if (p->start)
		pthread_barrier_wait(p->start);
	return NULL;
}

static void pb_pins(int threads, struct bench_meas *m)
{
	struct pb_pinner p[2] = {0};
	pthread_barrier_t start;
	pthread_t t[2];
	struct udax_fs *fs;
	double sum = 0;
	int err;

	err = udax_open_memory(&fs, 64 * PB_MIB);
	if (err) {
		bench_fail(m, "udax_open_memory", err);
		return;
	}
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		p[i].fs = fs;
		p[i].start = threads > 1 ? &start : NULL;
		snprintf(p[i].path, sizeof(p[i].path), "/pin%d", i);
	}
	if (threads == 1) {
		pb_pin_loop(&p[0]);
	} else {
		for (int i = 0; i < threads; i++)
			if (pthread_create(&t[i], NULL, pb_pin_loop, &p[i])) {
				/* the barrier cannot be passed: run none */
				bench_fail(m, "pthread_create", -EAGAIN);
				pthread_barrier_destroy(&start);
				udax_close(&fs);
				return;
			}
		for (int i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
	}
	pthread_barrier_destroy(&start);
	for (int i = 0; i < threads; i++) {
		if (p[i].err)
			bench_fail(m, p[i].what, p[i].err);
		sum += p[i].ns;
	}
	if (!m->err[0])
		bench_add(m, sum / threads);
	udax_close(&fs);
}

/* ---- truncate ---- */

/* A file of `bytes` written in 1 MiB steps. */
static int pb_file(struct udax_fs *fs, const char *path, uint64_t bytes,
		   struct udax_file **f)
{
	static char buf[PB_MIB];
	int err;

	err = udax_file_open(fs, path, O_CREAT | O_RDWR, 0600, f);
	if (err)
		return err;
	memset(buf, 'p', sizeof(buf));
	for (uint64_t o = 0; o < bytes; o += sizeof(buf)) {
		ssize_t n = udax_pwrite(*f, buf, sizeof(buf), (off_t)o);
		if (n != (ssize_t)sizeof(buf)) {
			udax_file_close(f);
			return n < 0 ? (int)n : -EIO;
		}
	}
	return 0;
}

/* Map [0, bytes) of f, read a byte of every page (each page the
 * device's, as a program that used the file), and unmap if asked. */
static int pb_map_all(struct udax_file *f, uint64_t bytes, void **addr)
{
	volatile char *p;
	char sum = 0;
	int err;

	err = udax_mmap(f, 0, bytes, PROT_READ, UDAX_MAP_SHARED, addr);
	if (err)
		return err;
	p = *addr;
	for (uint64_t o = 0; o < bytes; o += 4096)
		sum += p[o];
	(void)sum;
	return 0;
}

static void pb_truncate(uint64_t bytes, int mapped, struct bench_meas *m)
{
	struct udax_fs *fs;
	struct udax_file *f;
	void *a = NULL;
	uint64_t t0;
	int err;

	err = udax_open_memory(&fs, bytes + 64 * PB_MIB);
	if (err) {
		bench_fail(m, "udax_open_memory", err);
		return;
	}
	err = pb_file(fs, "/big", bytes, &f);
	if (err) {
		bench_fail(m, "writing the file", err);
		goto close_fs;
	}
	if (mapped) {
		err = pb_map_all(f, bytes, &a);
		if (err) {
			bench_fail(m, "udax_mmap", err);
			goto close_file;
		}
	}
	t0 = bench_now_ns();
	err = udax_ftruncate(f, 0);
	if (err)
		bench_fail(m, "udax_ftruncate", err);
	else
		bench_add(m, (double)(bench_now_ns() - t0) / 1e6);
	if (a)
		udax_munmap(a, bytes);
close_file:
	udax_file_close(&f);
close_fs:
	udax_close(&fs);
}

/* ---- sendfile over loopback TCP ---- */

/* A connected loopback TCP pair with the kernel's default buffers. */
static int pb_tcp_pair(int *snd, int *rcv)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = 0;

	*snd = *rcv = -1;
	if (l < 0)
		return -errno;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al))
		goto fail;
	*snd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*snd < 0 || connect(*snd, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	*rcv = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (*rcv < 0)
		goto fail;
	close(l);
	return 0;

fail:
	ret = -errno;
	if (*snd >= 0)
		close(*snd);
	*snd = -1;
	close(l);
	return ret;
}

struct pb_reader {
	int fd;
	uint64_t bytes;
};

static void *pb_drain(void *arg)
{
	struct pb_reader *r = arg;
	char *buf = malloc(PB_MIB);
	ssize_t n;

	if (!buf)
		return NULL;
	while ((n = read(r->fd, buf, PB_MIB)) > 0)
		r->bytes += (uint64_t)n;
	free(buf);
	return NULL;
}

/* What one sendfile run sends from: a udax file or a tmpfs fd. */
struct pb_source {
	struct udax_file *f; /* NULL: the kernel's */
	int fd;
};

static void pb_send(const struct pb_source *src, size_t msg, uint64_t total,
		    struct bench_meas *m)
{
	struct pb_reader r = {0};
	pthread_t t;
	uint64_t sent = 0, t0, t1;
	off_t off = 0;
	int snd, err;

	err = pb_tcp_pair(&snd, &r.fd);
	if (err) {
		bench_fail(m, "loopback TCP", err);
		return;
	}
	if (pthread_create(&t, NULL, pb_drain, &r)) {
		bench_fail(m, "pthread_create", -EAGAIN);
		goto close_sockets;
	}
	t0 = bench_now_ns();
	while (sent < total) {
		ssize_t n = src->f ? udax_sendfile(snd, src->f, &off, msg) :
				     sendfile(snd, src->fd, &off, msg);
		if (n <= 0) {
			bench_fail(m, src->f ? "udax_sendfile" : "sendfile",
				   n < 0 ? (src->f ? (int)n : -errno) : -EIO);
			break;
		}
		sent += (uint64_t)n;
		if ((uint64_t)off >= PB_SEND_FILE)
			off = 0;
	}
	t1 = bench_now_ns();
	shutdown(snd, SHUT_WR);
	pthread_join(t, NULL);
	if (!m->err[0] && r.bytes != sent)
		bench_fail(m, "the reader got fewer bytes", -EIO);
	if (!m->err[0])
		bench_add(m, (double)sent / (double)(t1 - t0) * 1e9 /
				     (double)(1ull << 30));
close_sockets:
	close(snd);
	close(r.fd);
}

/* The two sources, filled with the same bytes. Returns 0 or -errno. */
static int pb_sources(struct udax_fs **fs, struct pb_source *u,
		      struct pb_source *k)
{
	static char buf[PB_MIB];
	char path[64];
	int err;

	memset(buf, 's', sizeof(buf));
	u->fd = -1;
	k->f = NULL;
	err = udax_open_memory(fs, PB_SEND_FILE + 64 * PB_MIB);
	if (err)
		return err;
	err = pb_file(*fs, "/send", PB_SEND_FILE, &u->f);
	if (err)
		goto close_fs;
	snprintf(path, sizeof(path), "/dev/shm/udax-bench-pins-%d",
		 (int)getpid());
	k->fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
	if (k->fd < 0) {
		err = -errno;
		goto close_file;
	}
	unlink(path);
	for (uint64_t o = 0; o < PB_SEND_FILE; o += sizeof(buf))
		if (pwrite(k->fd, buf, sizeof(buf), (off_t)o) !=
		    (ssize_t)sizeof(buf)) {
			err = -errno;
			goto close_kernel;
		}
	return 0;

close_kernel:
	close(k->fd);
close_file:
	udax_file_close(&u->f);
close_fs:
	udax_close(fs);
	return err;
}

/* ---- detaching ---- */

/* Blocks of a 64 MiB file, written (their memory exists), mapped or
 * not, freed while the rest of the device is full; then the time to
 * write 64 MiB into them (the only free blocks) and fdatasync. */
static void pb_detach(int mapped, struct bench_meas *m)
{
	struct udax_fs *fs;
	struct udax_file *a, *b;
	void *p;
	uint64_t t0;
	int err;

	err = udax_open_memory(&fs, 4 * PB_DETACH);
	if (err) {
		bench_fail(m, "udax_open_memory", err);
		return;
	}
	err = bench_fill(fs, "/warm");
	if (!err)
		err = udax_unlink(fs, "/warm");
	if (!err)
		err = udax_sync(fs);
	if (!err)
		err = pb_file(fs, "/a", PB_DETACH, &a);
	if (err) {
		bench_fail(m, "preparing the device", err);
		goto close_fs;
	}
	if (mapped) {
		err = pb_map_all(a, PB_DETACH, &p);
		if (err) {
			bench_fail(m, "udax_mmap", err);
			goto close_a;
		}
		udax_munmap(p, PB_DETACH);
	}
	err = bench_fill(fs, "/fill");
	if (!err)
		err = udax_ftruncate(a, 0);
	if (!err)
		err = udax_sync(fs);
	if (err) {
		bench_fail(m, "freeing the blocks", err);
		goto close_a;
	}
	t0 = bench_now_ns();
	err = pb_file(fs, "/b", PB_DETACH, &b);
	if (!err) {
		err = udax_fdatasync(b);
		udax_file_close(&b);
	}
	if (err)
		bench_fail(m, "writing into the freed blocks", err);
	else
		bench_add(m, (double)(bench_now_ns() - t0) / 1e6);
close_a:
	udax_file_close(&a);
close_fs:
	udax_close(&fs);
}

/* ---- output ---- */

static void pb_print_text(const struct pb_opts *o, const struct bench_meas *m,
			  double load0, double load1)
{
	double r1 = bench_ratio(&m[PB_SEND_UDAX_1M], &m[PB_SEND_KERNEL_1M]);
	double r64 = bench_ratio(&m[PB_SEND_UDAX_64K], &m[PB_SEND_KERNEL_64K]);
	double rd = bench_ratio(&m[PB_DETACH_MAPPED], &m[PB_DETACH_NEVER]);
	double rt = bench_ratio(&m[PB_TRUNC_MAPPED], &m[PB_TRUNC_UNMAPPED]);
	double pin, lo, hi;

	printf("udax bench pins: %ld CPUs, load average %.2f at start, %.2f "
	       "at the end; median of %d runs (min .. max)\n",
	       sysconf(_SC_NPROCESSORS_ONLN), load0, load1, o->reps);
	printf("devices: udax_open_memory (memfd); truncate on a %llu MiB "
	       "device, sendfile from a %llu MiB file (%llu MiB a run), "
	       "detaching on a %llu MiB device\n",
	       (unsigned long long)((o->trunc_bytes + 64 * PB_MIB) / PB_MIB),
	       (unsigned long long)(PB_SEND_FILE / PB_MIB),
	       (unsigned long long)(o->send_bytes / PB_MIB),
	       (unsigned long long)(4 * PB_DETACH / PB_MIB));
	printf("pin + unpin of one mapped 4 KiB page (udax_pin, udax_unpin)\n");
	bench_print_row(&pb_rows[PB_PIN1], &m[PB_PIN1]);
	bench_print_row(&pb_rows[PB_PIN2], &m[PB_PIN2]);
	printf("truncate of a %llu MiB file, no pin\n",
	       (unsigned long long)(o->trunc_bytes / PB_MIB));
	bench_print_row(&pb_rows[PB_TRUNC_MAPPED], &m[PB_TRUNC_MAPPED]);
	bench_print_row(&pb_rows[PB_TRUNC_UNMAPPED], &m[PB_TRUNC_UNMAPPED]);
	printf("  ratio mapped / never mapped %34.2f\n", rt);
	printf("sendfile over loopback TCP, a reader thread draining\n");
	for (int i = PB_SEND_UDAX_1M; i <= PB_SEND_KERNEL_64K; i++)
		bench_print_row(&pb_rows[i], &m[i]);
	printf("  ratio udax / kernel, 1 MiB %35.2f\n", r1);
	printf("  ratio udax / kernel, 64 KiB %34.2f\n", r64);
	printf("detaching: writes into reused blocks, + fdatasync\n");
	bench_print_row(&pb_rows[PB_DETACH_MAPPED], &m[PB_DETACH_MAPPED]);
	bench_print_row(&pb_rows[PB_DETACH_NEVER], &m[PB_DETACH_NEVER]);
	printf("  ratio detached / never mapped %32.2f\n", rd);
	if (!bench_summary(&m[PB_PIN1], &pin, &lo, &hi))
		printf("goal: pin + unpin under 100 ns: %.1f ns -> %s\n", pin,
		       bench_goal(pin < 100));
	if (r1 >= 0)
		printf("goal: udax_sendfile >= sendfile(2) from tmpfs, 1 MiB: "
		       "%.2f -> %s\n",
		       r1, bench_goal(r1 >= 1));
}

static void pb_print_json(const struct pb_opts *o, const struct bench_meas *m,
			  double load0, double load1)
{
	struct tool_json j;

	tool_json_begin(&j, stdout);
	tool_json_str(&j, "benchmark", "pins");
	tool_json_i64(&j, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	tool_json_double(&j, "loadavg_1min_start", load0);
	tool_json_double(&j, "loadavg_1min_end", load1);
	tool_json_i64(&j, "reps", o->reps);
	tool_json_u64(&j, "truncate_file_bytes", o->trunc_bytes);
	tool_json_u64(&j, "truncate_device_bytes",
		      o->trunc_bytes + 64 * PB_MIB);
	tool_json_u64(&j, "sendfile_bytes_per_run", o->send_bytes);
	tool_json_u64(&j, "detach_device_bytes", 4 * PB_DETACH);
	tool_json_object(&j, "measurements");
	for (int i = 0; i < PB_N; i++)
		bench_json_row(&j, &pb_rows[i], &m[i]);
	tool_json_close(&j);
	tool_json_object(&j, "ratios");
	tool_json_double(
		&j, "truncate_mapped_over_never",
		bench_ratio(&m[PB_TRUNC_MAPPED], &m[PB_TRUNC_UNMAPPED]));
	tool_json_double(
		&j, "sendfile_udax_over_kernel_1m",
		bench_ratio(&m[PB_SEND_UDAX_1M], &m[PB_SEND_KERNEL_1M]));
	tool_json_double(
		&j, "sendfile_udax_over_kernel_64k",
		bench_ratio(&m[PB_SEND_UDAX_64K], &m[PB_SEND_KERNEL_64K]));
	tool_json_double(
		&j, "write_detached_over_never",
		bench_ratio(&m[PB_DETACH_MAPPED], &m[PB_DETACH_NEVER]));
	tool_json_close(&j);
	tool_json_end(&j);
}

/* ---- udax bench pins ---- */

static void pins_usage(void)
{
	printf("Usage: udax bench pins [--json] [--reps N] [--trunc-mib N] "
	       "[--send-mib N]\n"
	       "What references on a file's layout cost: udax_pin + "
	       "udax_unpin (1 and 2\n"
	       "threads), truncate of a mapped file, udax_sendfile over "
	       "loopback TCP beside\n"
	       "sendfile(2) from tmpfs, and writing into blocks that were "
	       "detached after\n"
	       "being mapped. Each figure is the median of N runs.\n\n"
	       "      --json          one JSON object on stdout\n"
	       "      --reps=N        runs per figure (1-15, default 5)\n"
	       "      --trunc-mib=N   size of the truncated file (default "
	       "1024)\n"
	       "      --send-mib=N    bytes sent per sendfile run (default "
	       "512)\n"
	       "      --help          display this help and exit\n");
	tool_exit_help();
}

int udax_bench_pins(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"reps", required_argument, NULL, 'r'},
		{"trunc-mib", required_argument, NULL, 't'},
		{"send-mib", required_argument, NULL, 's'},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct pb_opts o = {.reps = 5,
			    .trunc_bytes = 1024 * PB_MIB,
			    .send_bytes = 512 * PB_MIB};
	struct bench_meas m[PB_N];
	struct pb_source us, ks;
	struct udax_fs *sfs;
	double load0, load1;
	uint64_t v;
	int c, err;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = 1;
			break;
		case 'r':
			if ((c = bench_reps_arg(optarg, BENCH_TABLE_REPS,
						&o.reps)))
				return c;
			break;
		case 't':
		case 's':
			if (tool_parse_u64(optarg, &v) || v < 1 ||
			    v > (1u << 20))
				return tool_usage_error("invalid size '%s'",
							optarg);
			if (c == 't')
				o.trunc_bytes = v * PB_MIB;
			else
				o.send_bytes = v * PB_MIB;
			break;
		case TOOL_OPT_HELP:
			pins_usage();
			return TOOL_EXIT_OK;
		default:
			return tool_usage_error(NULL);
		}
	}
	if (optind != argc)
		return tool_usage_error("unexpected operand '%s'",
					argv[optind]);
	memset(m, 0, sizeof(m));
	load0 = bench_load();
	err = pb_sources(&sfs, &us, &ks);
	if (err)
		for (int i = PB_SEND_UDAX_1M; i <= PB_SEND_KERNEL_64K; i++)
			bench_fail(&m[i], "sendfile sources", err);
	/* interleaved: drift hits every column alike */
	for (int r = 0; r < o.reps; r++) {
		pb_pins(1, &m[PB_PIN1]);
		pb_pins(2, &m[PB_PIN2]);
		pb_truncate(o.trunc_bytes, 1, &m[PB_TRUNC_MAPPED]);
		pb_truncate(o.trunc_bytes, 0, &m[PB_TRUNC_UNMAPPED]);
		/* udax first in even runs, the kernel in odd ones */
		for (int k = 0; k < 4 && !err; k++) {
			int kernel = (k + r) % 2, big = k < 2;
			pb_send(kernel ? &ks : &us, big ? PB_MIB : 64 * 1024,
				o.send_bytes,
				&m[PB_SEND_UDAX_1M + 2 * !big + kernel]);
		}
		pb_detach(1, &m[PB_DETACH_MAPPED]);
		pb_detach(0, &m[PB_DETACH_NEVER]);
	}
	if (!err) {
		close(ks.fd);
		udax_file_close(&us.f);
		udax_close(&sfs);
	}
	load1 = bench_load();
	if (o.json)
		pb_print_json(&o, m, load0, load1);
	else
		pb_print_text(&o, m, load0, load1);
	return TOOL_EXIT_OK;
}
