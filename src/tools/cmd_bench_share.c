// SPDX-License-Identifier: MIT
/*
 * cmd_bench_share.c - `udax bench share`: what sharing blocks costs and
 * saves (issue 15).
 *
 *   clone          udax_clone of a 1 MiB file and of a large contiguous
 *                  one (--clone-mib, 1024): the time must not grow with
 *                  the size (one extent, one refcount item); a second
 *                  clone of the file (the first also turns the REFLINK
 *                  feature on, once per file system)
 *   first write    a 4 KiB pwrite into a shared block (copy-on-write:
 *                  the block is copied, then written) beside one into a
 *                  hole, per page, over 1024 pages
 *   copy on map    udax_mmap(PROT_WRITE, shared) of a 64 MiB clone: every
 *                  shared block gets a private copy (per page)
 *   farm           --clones (64) clones of a --farm-mib (256) base image,
 *                  each then changed by 1% (half by pwrite, half by
 *                  stores through a writable mapping of a range): device
 *                  space used beside one image, and beside the plain
 *                  copies it replaces (computed: clones x base)
 *   mapped         --clones (at most 64) clones of a 64 MiB file, each
 *                  mapped read-only and read whole, on an image file in
 *                  /dev/shm: the memory the image holds (one copy)
 *   dedupe         udax_dedupe_range of two identical --dedupe-mib (256)
 *                  files in 16 MiB calls: compare and share, GB/s
 *
 * Every figure uses a fresh udax_open_memory device (a memfd); times are
 * medians of --reps runs (the farm runs once).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"

#define BS_MIB (1024ull * 1024)
#define BS_REPS_MAX 15

struct bs_opts {
	int json, reps, clones;
	uint64_t clone_mib, farm_mib, dedupe_mib;
};

struct bs_result {
	double clone_small_us, clone_big_us;
	double cow_page_us, hole_page_us, map_page_us;
	double farm_used_mib, farm_secs;
	double dedupe_gbs;
	uint64_t dedupe_bytes;
	double mapped_mem_mib; /* memory of the image with every clone mapped
				* and read */
	int failed;
	char why[160];
};

static double bs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bs_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double bs_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bs_cmp);
	return v[n / 2];
}

static void bs_fail(struct bs_result *r, const char *what, int err)
{
	if (!r->failed)
		snprintf(r->why, sizeof(r->why), "%s: %s", what,
			 udax_strerror(err));
	r->failed = 1;
}

/* A new file of `bytes` bytes (written: pattern seed), open O_RDWR. */
static int bs_file(struct udax_fs *fs, const char *path, uint64_t bytes,
		   int seed, struct udax_file **f)
{
	static char buf[1 << 20];
	int ret = udax_file_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, f);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 131 + (size_t)seed);
	for (uint64_t o = 0; !ret && o < bytes; o += sizeof(buf)) {
		size_t n = bytes - o < sizeof(buf) ? (size_t)(bytes - o) :
						     sizeof(buf);
		ssize_t w = udax_pwrite(*f, buf, n, (off_t)o);
		if (w != (ssize_t)n)
			ret = w < 0 ? (int)w : -EIO;
	}
	if (ret && *f)
		udax_file_close(f);
	return ret;
}

static uint64_t bs_used(struct udax_fs *fs)
{
	struct statvfs sv;

	if (udax_statfs(fs, &sv))
		return 0;
	return (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_bsize;
}

/* Clone a file of `bytes` into a new one: microseconds. The first
 * clone of the file system (which also turns the REFLINK feature on, in
 * both superblocks) is made before, untimed: the figure is every later
 * clone's. */
static double bs_clone_once(uint64_t bytes, struct bs_result *r)
{
	struct udax_fs *fs;
	struct udax_file *a, *b, *b0;
	double t = -1;
	int ret = udax_open_memory(&fs, bytes + bytes / 8 + 64 * BS_MIB);

	if (ret) {
		bs_fail(r, "udax_open_memory", ret);
		return -1;
	}
	ret = bs_file(fs, "/a", bytes, 1, &a);
	if (!ret) {
		ret = udax_file_open(fs, "/b0", O_CREAT | O_RDWR, 0644, &b0);
		if (!ret) {
			ret = udax_clone(b0, a);
			udax_file_close(&b0);
		}
		if (!ret)
			ret = udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644,
					     &b);
		if (!ret) {
			double t0 = bs_now();
			ret = udax_clone(b, a);
			t = (bs_now() - t0) * 1e6;
			udax_file_close(&b);
		}
		udax_file_close(&a);
	}
	if (ret)
		bs_fail(r, "clone", ret);
	udax_close(&fs);
	return ret ? -1 : t;
}

/* 4 KiB pwrites, one a page: into the shared blocks of a clone
 * (copy-on-write) and into a hole. Per page, microseconds. */
static void bs_first_write(struct bs_result *r, double *cow, double *hole)
{
	const int pages = 1024;
	struct udax_fs *fs;
	struct udax_file *a, *b, *h;
	char buf[4096];
	int ret = udax_open_memory(&fs, 64 * BS_MIB);

	*cow = *hole = -1;
	if (ret) {
		bs_fail(r, "udax_open_memory", ret);
		return;
	}
	memset(buf, 'w', sizeof(buf));
	ret = bs_file(fs, "/a", (uint64_t)pages * 4096, 2, &a);
	if (!ret) {
		ret = udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b);
		if (!ret)
			ret = udax_clone(b, a);
		if (!ret)
			ret = udax_file_open(fs, "/h", O_CREAT | O_RDWR, 0644,
					     &h);
		if (!ret) {
			/* interleaved, so load changes hit both alike */
			double tc = 0, th = 0;
			for (int p = 0; p < pages && !ret; p++) {
				double t0 = bs_now();
				if (udax_pwrite(b, buf, 4096,
						(off_t)p * 4096) != 4096)
					ret = -EIO;
				double t1 = bs_now();
				if (udax_pwrite(h, buf, 4096,
						(off_t)p * 4096) != 4096)
					ret = -EIO;
				tc += t1 - t0;
				th += bs_now() - t1;
			}
			*cow = tc / pages * 1e6;
			*hole = th / pages * 1e6;
			udax_file_close(&h);
		}
		udax_file_close(&b);
		udax_file_close(&a);
	}
	if (ret)
		bs_fail(r, "first write", ret);
	udax_close(&fs);
}

/* udax_mmap writable of a 64 MiB clone (copy on map), per page. */
static double bs_copy_on_map(struct bs_result *r)
{
	const uint64_t bytes = 64 * BS_MIB;
	struct udax_fs *fs;
	struct udax_file *a, *b;
	double t = -1;
	void *p;
	int ret = udax_open_memory(&fs, 3 * bytes);

	if (ret) {
		bs_fail(r, "udax_open_memory", ret);
		return -1;
	}
	ret = bs_file(fs, "/a", bytes, 3, &a);
	if (!ret) {
		ret = udax_file_open(fs, "/b", O_CREAT | O_RDWR, 0644, &b);
		if (!ret)
			ret = udax_clone(b, a);
		if (!ret) {
			double t0 = bs_now();
			ret = udax_mmap(b, 0, bytes, PROT_READ | PROT_WRITE,
					UDAX_MAP_SHARED, &p);
			t = (bs_now() - t0) * 1e6 / (double)(bytes / 4096);
			if (!ret)
				udax_munmap(p, bytes);
		}
		udax_file_close(&b);
		udax_file_close(&a);
	}
	if (ret)
		bs_fail(r, "copy on map", ret);
	udax_close(&fs);
	return ret ? -1 : t;
}

/* Clones of a base image, each changed by 1%: device space used. */
static void bs_farm(const struct bs_opts *o, struct bs_result *r)
{
	uint64_t base = o->farm_mib * BS_MIB, change = base / 100;
	struct udax_fs *fs;
	struct udax_file *a, *c;
	char path[32], *buf = malloc(1 << 20);
	int ret = buf ? udax_open_memory(
				&fs, base * 3 + (uint64_t)o->clones *
							(change * 2 + BS_MIB)) :
			-ENOMEM;

	if (ret) {
		free(buf);
		bs_fail(r, "udax_open_memory", ret);
		return;
	}
	memset(buf, 'f', 1 << 20);
	ret = bs_file(fs, "/base", base, 4, &a);
	uint64_t used0 = bs_used(fs);
	double t0 = bs_now();
	for (int i = 0; !ret && i < o->clones; i++) {
		snprintf(path, sizeof(path), "/c%d", i);
		ret = udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &c);
		if (ret)
			break;
		ret = udax_clone(c, a);
		/* half the change written, spread over the file */
		uint64_t step = base / 64, piece = change / 2 / 64;
		for (uint64_t off = (uint64_t)i * 4096 % step;
		     !ret && piece && off + piece <= base; off += step)
			if (udax_pwrite(c, buf, (size_t)piece, (off_t)off) !=
			    (ssize_t)piece)
				ret = -EIO;
		/* the other half through a writable mapping of a range */
		uint64_t mo = ((uint64_t)i * 7919 * 4096) % (base - change);
		mo &= ~(uint64_t)4095;
		void *p;
		if (!ret && change / 2 >= 4096)
			ret = udax_mmap(c, (off_t)mo, change / 2,
					PROT_READ | PROT_WRITE, UDAX_MAP_SHARED,
					&p);
		if (!ret && change / 2 >= 4096) {
			memset(p, 'm', change / 2);
			udax_munmap(p, change / 2);
		}
		udax_file_close(&c);
	}
	r->farm_secs = bs_now() - t0;
	r->farm_used_mib = (double)(bs_used(fs) - used0 + base) / BS_MIB;
	if (!ret)
		udax_file_close(&a);
	if (ret)
		bs_fail(r, "farm", ret);
	udax_close(&fs);
	free(buf);
}

/* Clones of a 64 MiB file, each mapped read-only and read whole, on an
 * image in /dev/shm: the memory the image holds then (its allocated
 * size), against the clones' bytes. One copy is what sharing promises:
 * the mappings are the image's own pages. */
static void bs_mapped(const struct bs_opts *o, struct bs_result *r)
{
	const uint64_t bytes = 64 * BS_MIB;
	struct udax_mkfs_opts mo = {.size = bytes * 2 + 64 * BS_MIB};
	char img[64], path[32];
	struct udax_fs *fs = NULL;
	struct udax_file *a, *c;
	struct stat st;
	volatile uint8_t sum = 0;
	void *p[64];
	int n = o->clones < 64 ? o->clones : 64, made = 0;
	int ret;

	snprintf(img, sizeof(img), "/dev/shm/udax-bench-share-%d",
		 (int)getpid());
	unlink(img);
	ret = udax_mkfs(img, &mo);
	if (!ret)
		ret = udax_open(&fs, img, NULL);
	if (!ret)
		ret = bs_file(fs, "/a", bytes, 6, &a);
	for (int i = 0; !ret && i < n; i++) {
		snprintf(path, sizeof(path), "/c%d", i);
		ret = udax_file_open(fs, path, O_CREAT | O_RDWR, 0644, &c);
		if (ret)
			break;
		ret = udax_clone(c, a);
		if (!ret)
			ret = udax_mmap(c, 0, bytes, PROT_READ, UDAX_MAP_SHARED,
					&p[i]);
		udax_file_close(&c);
		if (ret)
			break;
		made++;
		for (uint64_t off = 0; off < bytes; off += 4096)
			sum += ((uint8_t *)p[i])[off];
	}
	if (!ret && !stat(img, &st))
		r->mapped_mem_mib = (double)st.st_blocks * 512 / BS_MIB;
	for (int i = 0; i < made; i++)
		udax_munmap(p[i], bytes);
	if (fs && !ret)
		udax_file_close(&a);
	if (ret)
		bs_fail(r, "mapped clones", ret);
	if (fs)
		udax_close(&fs);
	unlink(img);
	(void)sum;
}

/* udax_dedupe_range over two identical files: GB/s. */
static double bs_dedupe(const struct bs_opts *o, struct bs_result *r)
{
	uint64_t bytes = o->dedupe_mib * BS_MIB, done = 0;
	struct udax_fs *fs;
	struct udax_file *a, *b;
	double t = 0;
	int ret = udax_open_memory(&fs, bytes * 3);

	if (ret) {
		bs_fail(r, "udax_open_memory", ret);
		return -1;
	}
	ret = bs_file(fs, "/a", bytes, 5, &a);
	if (!ret) {
		ret = bs_file(fs, "/b", bytes, 5, &b);
		double t0 = bs_now();
		for (uint64_t off = 0; !ret && off < bytes;
		     off += UDAX_DEDUPE_MAX) {
			struct udax_dedupe_dest d = {.dst = b,
						     .dst_off = (off_t)off};
			ret = udax_dedupe_range(a, (off_t)off, UDAX_DEDUPE_MAX,
						&d, 1);
			if (!ret && d.status)
				ret = d.status < 0 ? d.status : -EIO;
			done += d.bytes_deduped;
		}
		t = bs_now() - t0;
		if (b)
			udax_file_close(&b);
		udax_file_close(&a);
	}
	r->dedupe_bytes = done;
	if (ret)
		bs_fail(r, "dedupe", ret);
	udax_close(&fs);
	return ret || t <= 0 ? -1 : (double)done / t / 1e9;
}

static void bs_print(const struct bs_opts *o, const struct bs_result *r)
{
	double one = (double)o->farm_mib;

	if (o->json) {
		struct tool_json j;
		tool_json_begin(&j, stdout);
		tool_json_double(&j, "clone_1mib_us", r->clone_small_us);
		tool_json_u64(&j, "clone_big_mib", o->clone_mib);
		tool_json_double(&j, "clone_big_us", r->clone_big_us);
		tool_json_double(&j, "cow_write_page_us", r->cow_page_us);
		tool_json_double(&j, "hole_write_page_us", r->hole_page_us);
		tool_json_double(&j, "copy_on_map_page_us", r->map_page_us);
		tool_json_u64(&j, "farm_clones", (uint64_t)o->clones);
		tool_json_u64(&j, "farm_base_mib", o->farm_mib);
		tool_json_double(&j, "farm_used_mib", r->farm_used_mib);
		tool_json_double(&j, "farm_used_per_image",
				 r->farm_used_mib / one);
		tool_json_double(&j, "farm_plain_copies_mib",
				 one * (o->clones + 1));
		tool_json_double(&j, "farm_seconds", r->farm_secs);
		tool_json_double(&j, "mapped_clones_memory_mib",
				 r->mapped_mem_mib);
		tool_json_double(&j, "dedupe_gb_per_s", r->dedupe_gbs);
		tool_json_u64(&j, "dedupe_bytes", r->dedupe_bytes);
		tool_json_end(&j);
		return;
	}
	printf("clone of a 1 MiB file             %10.1f us\n",
	       r->clone_small_us);
	printf("clone of a %llu MiB file%*s%10.1f us   (goal <= 100, "
	       "independent of size)\n",
	       (unsigned long long)o->clone_mib,
	       (int)(14 - snprintf(NULL, 0, "%llu",
				   (unsigned long long)o->clone_mib)),
	       "", r->clone_big_us);
	printf("first write to a shared page      %10.2f us/page (%.2fx a "
	       "hole: %.2f; goal <= 2x)\n",
	       r->cow_page_us,
	       r->hole_page_us > 0 ? r->cow_page_us / r->hole_page_us : 0,
	       r->hole_page_us);
	printf("copy on map (writable mmap)       %10.2f us/page\n",
	       r->map_page_us);
	printf("farm: %d clones of %llu MiB, 1%% changed each: %.0f MiB "
	       "used = %.2fx one image (goal <= 1.7x; plain copies %.0f MiB), "
	       "%.2f s\n",
	       o->clones, (unsigned long long)o->farm_mib, r->farm_used_mib,
	       r->farm_used_mib / one, one * (o->clones + 1), r->farm_secs);
	printf("%d clones of a 64 MiB file, all mapped and read: the image "
	       "holds %.0f MiB of memory (%d MiB of clones)\n",
	       o->clones < 64 ? o->clones : 64, r->mapped_mem_mib,
	       (o->clones < 64 ? o->clones : 64) * 64);
	printf("dedupe of two identical %llu MiB files: %.2f GB/s\n",
	       (unsigned long long)o->dedupe_mib, r->dedupe_gbs);
}

static void share_usage(void)
{
	printf("Usage: udax bench share [--json] [--reps N] [--clone-mib N] "
	       "[--farm-mib N]\n"
	       "                        [--clones N] [--dedupe-mib N]\n"
	       "What reflink costs and saves: clone time by size, the first "
	       "write to a shared\n"
	       "page beside a hole, copy on map, a farm of changed clones "
	       "(space), dedupe.\n\n"
	       "  --reps N        runs of the clone figures, median "
	       "(default 5)\n"
	       "  --clone-mib N   size of the large clone (default 1024)\n"
	       "  --farm-mib N    base image of the farm (default 256)\n"
	       "  --clones N      clones in the farm (default 64)\n"
	       "  --dedupe-mib N  files deduped (default 256)\n"
	       "  --json          print the figures as JSON\n");
	tool_exit_help();
}

int udax_bench_share(int argc, char **argv)
{
	enum { O_CLONE = TOOL_OPT_LOCAL, O_FARM, O_CLONES, O_DEDUPE, O_REPS };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, TOOL_OPT_JSON},
		{"reps", required_argument, NULL, O_REPS},
		{"clone-mib", required_argument, NULL, O_CLONE},
		{"farm-mib", required_argument, NULL, O_FARM},
		{"clones", required_argument, NULL, O_CLONES},
		{"dedupe-mib", required_argument, NULL, O_DEDUPE},
		{"help", no_argument, NULL, TOOL_OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct bs_opts o = {.reps = 5,
			    .clones = 64,
			    .clone_mib = 1024,
			    .farm_mib = 256,
			    .dedupe_mib = 256};
	struct bs_result r = {0};
	double small[BS_REPS_MAX], big[BS_REPS_MAX];
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == TOOL_OPT_JSON) {
			o.json = 1;
		} else if (c == TOOL_OPT_HELP) {
			share_usage();
			return TOOL_EXIT_OK;
		} else if (c == O_REPS) {
			int st = bench_reps_arg(optarg, BS_REPS_MAX, &o.reps);
			if (st)
				return st;
		} else if (c >= O_CLONE && c <= O_DEDUPE) {
			if (tool_parse_u64(optarg, &v) || !v || v > 65536)
				return tool_usage_error("invalid number '%s'",
							optarg);
			if (c == O_CLONE)
				o.clone_mib = v;
			else if (c == O_FARM)
				o.farm_mib = v;
			else if (c == O_CLONES)
				o.clones = (int)(v > 4096 ? 4096 : v);
			else
				o.dedupe_mib = v;
		} else {
			return tool_usage_error(NULL);
		}
	}
	if (optind < argc)
		return tool_usage_error("extra operand '%s'", argv[optind]);
	for (int i = 0; i < o.reps && !r.failed; i++) {
		small[i] = bs_clone_once(BS_MIB, &r);
		big[i] = bs_clone_once(o.clone_mib * BS_MIB, &r);
	}
	if (!r.failed) {
		r.clone_small_us = bs_median(small, o.reps);
		r.clone_big_us = bs_median(big, o.reps);
		bs_first_write(&r, &r.cow_page_us, &r.hole_page_us);
	}
	if (!r.failed)
		r.map_page_us = bs_copy_on_map(&r);
	if (!r.failed)
		bs_farm(&o, &r);
	if (!r.failed)
		bs_mapped(&o, &r);
	if (!r.failed)
		r.dedupe_gbs = bs_dedupe(&o, &r);
	if (r.failed) {
		tool_error("%s", r.why);
		return TOOL_EXIT_FAILURE;
	}
	bs_print(&o, &r);
	return TOOL_EXIT_OK;
}
