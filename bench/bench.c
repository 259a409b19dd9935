/* SPDX-License-Identifier: MIT */
/*
 * bench.c - udax-bench: udax against kernel baselines, measured in the same
 * run, side by side. Options, environment, median selection, text table
 * and JSON output. The benchmarks are in seq.c, append.c and create.c.
 *
 * Usage: udax-bench [--json] [--quick] [--reps N] [--dev-mib N]
 *                   [--seq-mib N] [--appends N] [--creates N]
 *                   [--budget S] [--only seq,append,create]
 * Figures are printed, never asserted: the exit status is 0 whether goals
 * are met or not (2 for a bad option).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "fs.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct config cfg = {
	.reps = 5,
	.dev_bytes = 1536 * MIB,
	.seq_bytes = 512 * MIB,
	.seq_io = MIB,
	.appends = 20000,
	.append_io = 4096,
	.creates = 100000,
	.budget_s = 5.0,
	.run_seq = 1,
	.run_append = 1,
	.run_create = 1,
};

static char dev_desc[400] = "memory (memfd via udax_open_memory)";

/* ---- small helpers ---- */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *uerr(long err, char *buf, size_t len)
{
	snprintf(buf, len, "%ld (%s)", err, udax_strerror((int)err));
	return buf;
}

int prefault(void *addr, size_t len)
{
	volatile uint8_t *p = addr;

	if (!madvise(addr, len, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* kernels before 5.14: store each page's first byte back */
	for (size_t i = 0; i < len; i += 4096)
		p[i] = p[i];
	return 0;
}

void fill_pattern(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void sort_u64(uint64_t *a, size_t n)
{
	qsort(a, n, sizeof(*a), cmp_u64);
}

uint64_t pct(const uint64_t *sorted, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

void udax_device_range(struct udax_fs *fs, void **base, size_t *size)
{
	*base = fs->dev->base;
	*size = (size_t)fs->dev->size;
}

const char *udax_device_desc(struct udax_fs *fs)
{
	static const char *kinds[] = {"memory", "file", "dax", "crash"};
	static const char *grans[] = {"byte (eADR)", "cache-line flushes",
				      "page (msync)"};
	const struct dev *d = fs->dev;

	snprintf(dev_desc, sizeof(dev_desc), "%s (%s), %s",
		 (unsigned)d->kind < 4 ? kinds[d->kind] : "?",
		 !strncmp(d->name, "memfd:", 6) ? "memfd" : d->name,
		 (unsigned)d->gran < 3 ? grans[d->gran] : "?");
	return dev_desc;
}

/* ---- measurements ---- */

struct meas *section_meas(struct section *s, const char *id, const char *what,
			  const char *state)
{
	struct meas *m = &s->m[s->nm++];

	memset(m, 0, sizeof(*m));
	m->id = id;
	m->med = -1;
	snprintf(m->what, sizeof(m->what), "%s", what);
	snprintf(m->state, sizeof(m->state), "%s", state);
	return m;
}

void meas_add(struct meas *m, double v, double p99, double mean, long ops)
{
	if (m->n >= MAXREP)
		return;
	m->v[m->n] = v;
	m->p99[m->n] = p99;
	m->mean[m->n] = mean;
	m->ops[m->n] = ops;
	m->n++;
}

void meas_finish(struct meas *m)
{
	int idx[MAXREP];

	m->med = -1;
	if (!m->n)
		return;
	for (int i = 0; i < m->n; i++)
		idx[i] = i;
	for (int i = 1; i < m->n; i++) /* insertion sort by v */
		for (int j = i; j > 0 && m->v[idx[j - 1]] > m->v[idx[j]]; j--) {
			int t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	m->med = idx[(m->n - 1) / 2];
}

double meas_value(const struct meas *m)
{
	return m->med >= 0 ? m->v[m->med] : -1;
}

void meas_fail(struct meas *m, const char *fmt, ...)
{
	va_list ap;

	if (m->err[0])
		return; /* keep the first failure */
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
}

void meas_note(struct meas *m, const char *fmt, ...)
{
	va_list ap;

	if (m->note[0])
		return;
	va_start(ap, fmt);
	vsnprintf(m->note, sizeof(m->note), fmt, ap);
	va_end(ap);
}

void section_ratio(struct section *s, const char *id, const char *text,
		   const struct meas *num, const struct meas *den)
{
	struct ratio *r = &s->r[s->nr++];
	double a = meas_value(num), b = meas_value(den);

	r->id = id;
	snprintf(r->text, sizeof(r->text), "%s", text);
	r->value = a > 0 && b > 0 ? a / b : -1;
}

void section_goal(struct section *s, const char *text, int measured, int met,
		  const char *fmt, ...)
{
	struct goal *g = &s->g[s->ng++];
	va_list ap;

	snprintf(g->text, sizeof(g->text), "%s", text);
	g->measured = measured;
	g->met = measured && met;
	va_start(ap, fmt);
	vsnprintf(g->value, sizeof(g->value), fmt, ap);
	va_end(ap);
}

/* ---- environment ---- */

static char cpu_model[128] = "?";
static char kernel[256] = "?";
static const char *flush_insn = "?";
static long ncpu;
static double clock_ns;	  /* cost of one now_ns() */
static double load1 = -1; /* 1-minute load average at start */
static uint64_t mem_avail, shm_free;

static void read_env(void)
{
	struct utsname u;
	struct statvfs sv;
	char line[512];
	FILE *fp;
	unsigned a, b, c, d;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (!uname(&u))
		snprintf(kernel, sizeof(kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	fp = fopen("/proc/cpuinfo", "r");
	if (fp) {
		while (fgets(line, sizeof(line), fp)) {
			char *colon = strchr(line, ':');
			if (!strncmp(line, "model name", 10) && colon) {
				snprintf(cpu_model, sizeof(cpu_model), "%s",
					 colon + 2);
				cpu_model[strcspn(cpu_model, "\n")] = 0;
				break;
			}
		}
		fclose(fp);
	}
	fp = fopen("/proc/meminfo", "r");
	if (fp) {
		unsigned long long kb;
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
				mem_avail = kb * 1024;
		fclose(fp);
	}
	fp = fopen("/proc/loadavg", "r");
	if (fp) {
		if (fscanf(fp, "%lf", &load1) != 1)
			load1 = -1;
		fclose(fp);
	}
	if (!statvfs("/dev/shm", &sv))
		shm_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	{
		uint64_t t0 = now_ns(), t1;
		for (int i = 0; i < 100000; i++)
			(void)now_ns();
		t1 = now_ns();
		clock_ns = (double)(t1 - t0) / 100000.0;
	}
	/* the same choice persist_cl.c makes */
	__asm__ volatile("cpuid"
			 : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(7), "c"(0));
	flush_insn = (b & (1u << 24)) ? "clwb" :
		     (b & (1u << 23)) ? "clflushopt" :
					"clflush";
}

static const char *fs_magic_name(long type)
{
	switch ((unsigned long)type) {
	case 0xEF53:
		return "ext2/3/4";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	case 0x01021994:
		return "tmpfs";
	case 0x858458f6:
		return "ramfs";
	case 0x794c7630:
		return "overlay";
	case 0x2fc12fc1:
		return "zfs";
	case 0xF2F52010:
		return "f2fs";
	case 0x6969:
		return "nfs";
	case 0x65735546:
		return "fuse";
	default:
		return NULL;
	}
}

/* File system type and source of the mount holding `dir`, from
 * /proc/self/mountinfo (falls back to the statfs magic number). */
static void mount_of(const char *dir, long magic, char *type, size_t tlen,
		     char *src, size_t slen)
{
	struct stat st;
	char line[4096];
	FILE *fp;
	const char *name = fs_magic_name(magic);

	if (name)
		snprintf(type, tlen, "%s", name);
	else
		snprintf(type, tlen, "0x%lx", (unsigned long)magic);
	snprintf(src, slen, "?");
	if (stat(dir, &st))
		return;
	fp = fopen("/proc/self/mountinfo", "r");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		unsigned maj, min;
		char t[64], s[256];
		char *sep = strstr(line, " - ");
		if (sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 || !sep)
			continue;
		if (maj != major(st.st_dev) || min != minor(st.st_dev))
			continue;
		if (sscanf(sep + 3, "%63s %255s", t, s) == 2) {
			snprintf(type, tlen, "%s", t);
			snprintf(src, slen, "%s", s);
		}
	}
	fclose(fp);
}

/* The directory for the disk baseline: $TMPDIR, the current directory,
 * /var/tmp, /tmp: the first that is writable and not in memory. */
static void pick_disk_dir(void)
{
	const char *cands[] = {getenv("TMPDIR"), ".", "/var/tmp", "/tmp"};

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		struct statfs sf;
		const char *d = cands[i];
		if (!d || !*d || statfs(d, &sf) || access(d, W_OK | X_OK))
			continue;
		if ((unsigned long)sf.f_type == 0x01021994 ||
		    (unsigned long)sf.f_type == 0x858458f6)
			continue; /* tmpfs, ramfs */
		if (!realpath(d, cfg.disk_dir))
			snprintf(cfg.disk_dir, sizeof(cfg.disk_dir), "%s", d);
		mount_of(d, (long)sf.f_type, cfg.disk_fstype,
			 sizeof(cfg.disk_fstype), cfg.disk_source,
			 sizeof(cfg.disk_source));
		return;
	}
	cfg.disk_dir[0] = 0;
}

/* Shrink the sizes when memory or /dev/shm is short. */
static void fit_memory(void)
{
	uint64_t need = cfg.dev_bytes + 256 * MIB;

	if (mem_avail && mem_avail < need) {
		uint64_t dev = (mem_avail - 256 * MIB) / 2;
		if (mem_avail < 512 * MIB)
			dev = mem_avail / 4;
		dev &= ~(64 * MIB - 1);
		if (dev < 64 * MIB)
			dev = 64 * MIB;
		snprintf(cfg.scaled, sizeof(cfg.scaled),
			 "device reduced from %llu to %llu MiB (MemAvailable "
			 "%llu MiB)",
			 (unsigned long long)(cfg.dev_bytes / MIB),
			 (unsigned long long)(dev / MIB),
			 (unsigned long long)(mem_avail / MIB));
		cfg.dev_bytes = dev;
	}
	if (cfg.seq_bytes > cfg.dev_bytes / 3)
		cfg.seq_bytes = (cfg.dev_bytes / 3) & ~(MIB - 1);
	if (shm_free && cfg.seq_bytes > shm_free / 2)
		cfg.seq_bytes = (shm_free / 2) & ~(MIB - 1);
	if (cfg.seq_bytes < cfg.seq_io)
		cfg.seq_bytes = cfg.seq_io;
}

/* ---- output ---- */

static void fmt_val(char *buf, size_t len, double v, const char *unit)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else if (!strcmp(unit, "ops/s"))
		snprintf(buf, len, "%.0f", v);
	else if (v >= 100)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void minmax(const struct meas *m, double *lo, double *hi)
{
	*lo = *hi = -1;
	for (int i = 0; i < m->n; i++) {
		if (*lo < 0 || m->v[i] < *lo)
			*lo = m->v[i];
		if (m->v[i] > *hi)
			*hi = m->v[i];
	}
}

/* s padded with spaces to w columns (UTF-8 aware: "µ" is one column),
 * on the right (left-aligned) or, if right, on the left. */
static const char *pad(char *buf, size_t len, const char *s, int w, int right)
{
	int cols = 0, n;

	for (const char *p = s; *p; p++)
		cols += ((unsigned char)*p & 0xC0) != 0x80;
	n = w > cols ? w - cols : 0;
	if (right)
		snprintf(buf, len, "%*s%s", n, "", s);
	else
		snprintf(buf, len, "%s%*s", s, n, "");
	return buf;
}

#define L(buf, str, w) pad(buf, sizeof(buf), str, w, 0)
#define R(buf, str, w) pad(buf, sizeof(buf), str, w, 1)

static const char *goal_status(const struct goal *g)
{
	return !g->measured ? "not measured" : g->met ? "met" : "not met";
}

static void print_section(const struct section *s)
{
	char a[32], b[32], c[32], d[32], e[32];
	char p1[32], p2[32], p3[32], p4[160];

	printf("\n%s\n", s->title);
	if (s->latency)
		printf("  %-11s %-50s %s %s %s %7s  %s\n", "state", "what",
		       R(p1, "p50 µs", 8), R(p2, "p99 µs", 8),
		       R(p3, "mean µs", 8), "ops", "p50 min..max");
	else
		printf("  %-11s %-50s %10s %7s  %s\n", "state", "what", s->unit,
		       "ops", "min..max");
	for (int i = 0; i < s->nm; i++) {
		const struct meas *m = &s->m[i];
		double lo, hi;
		minmax(m, &lo, &hi);
		fmt_val(a, sizeof(a), meas_value(m), s->unit);
		fmt_val(d, sizeof(d), lo, s->unit);
		fmt_val(e, sizeof(e), hi, s->unit);
		if (m->med < 0) {
			printf("  %-11s %-50s %10s\n", m->state, m->what,
			       "FAILED");
		} else if (s->latency) {
			fmt_val(b, sizeof(b), m->p99[m->med], s->unit);
			fmt_val(c, sizeof(c), m->mean[m->med], s->unit);
			printf("  %-11s %-50s %8s %8s %8s %7ld  %s..%s\n",
			       m->state, m->what, a, b, c, m->ops[m->med], d,
			       e);
		} else {
			printf("  %-11s %-50s %10s %7ld  %s..%s\n", m->state,
			       m->what, a, m->ops[m->med], d, e);
		}
		if (m->err[0])
			printf("  %-11s   FAILED%s: %s\n", "",
			       m->n ? " (in a later run)" : "", m->err);
		if (m->note[0])
			printf("  %-11s   note: %s\n", "", m->note);
	}
	for (int i = 0; i < s->nr; i++) {
		if (s->r[i].value < 0)
			printf("  ratio %s %8s\n", L(p4, s->r[i].text, 62),
			       "n/a");
		else
			printf("  ratio %s %8.2f\n", L(p4, s->r[i].text, 62),
			       s->r[i].value);
	}
	for (int i = 0; i < s->ng; i++)
		printf("  goal: %s: %s -> %s\n", s->g[i].text, s->g[i].value,
		       goal_status(&s->g[i]));
}

static void print_text(struct section *const *secs, int nsec)
{
	printf("udax benchmarks (kernel baselines measured in the same run; "
	       "printed, not asserted)\n");
	printf("machine:  %ld CPUs, %s, %s, cache flush: %s + sfence, "
	       "load average %.2f at start\n",
	       ncpu, cpu_model, kernel, flush_insn, load1);
	printf("device:   udax_open_memory(%llu MiB): %s\n",
	       (unsigned long long)(cfg.dev_bytes / MIB), dev_desc);
	printf("states:   'first touch' = fresh memory, each page is "
	       "allocated by the kernel at its first store;\n"
	       "          'prefaulted'  = every page of the device/target "
	       "allocated and mapped before the clock starts\n");
	if (cfg.disk_dir[0])
		printf("disk:     %s (%s on %s)\n", cfg.disk_dir,
		       cfg.disk_fstype, cfg.disk_source);
	else
		printf("disk:     none found (every candidate is in memory)\n");
	printf("runs:     %d per measurement, the median run is shown; a run "
	       "stops after %.0f s\n",
	       cfg.reps, cfg.budget_s);
	printf("clock:    CLOCK_MONOTONIC, %.0f ns per reading (included "
	       "once in each latency)\n",
	       clock_ns);
	if (cfg.scaled[0])
		printf("note:     %s\n", cfg.scaled);
	for (int i = 0; i < nsec; i++)
		print_section(secs[i]);
	printf("\nsummary:\n");
	for (int i = 0; i < nsec; i++)
		for (int j = 0; j < secs[i]->ng; j++) {
			const struct goal *g = &secs[i]->g[j];
			char p[256];
			printf("  goal: %s %-9s %s\n", L(p, g->text, 58),
			       goal_status(g), g->value);
		}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void json_num(double v)
{
	if (v < 0)
		printf("null");
	else
		printf("%.6g", v);
}

static void json_arr(const double *v, int n)
{
	putchar('[');
	for (int i = 0; i < n; i++) {
		if (i)
			printf(", ");
		json_num(v[i]);
	}
	putchar(']');
}

static void json_section(const struct section *s)
{
	printf("    \"title\": ");
	json_str(s->title);
	printf(",\n    \"unit\": ");
	json_str(s->latency ? "us (p50)" : s->unit);
	printf(",\n    \"measurements\": [\n");
	for (int i = 0; i < s->nm; i++) {
		const struct meas *m = &s->m[i];
		double lo, hi;
		minmax(m, &lo, &hi);
		printf("      {\"id\": ");
		json_str(m->id);
		printf(", \"what\": ");
		json_str(m->what);
		printf(", \"state\": ");
		json_str(m->state);
		printf(",\n       \"runs\": %d, ", m->n);
		if (s->latency) {
			printf("\"p50_us\": ");
			json_num(meas_value(m));
			printf(", \"p99_us\": ");
			json_num(m->med >= 0 ? m->p99[m->med] : -1);
			printf(", \"mean_us\": ");
			json_num(m->med >= 0 ? m->mean[m->med] : -1);
		} else {
			printf("\"median\": ");
			json_num(meas_value(m));
		}
		printf(", \"min\": ");
		json_num(lo);
		printf(", \"max\": ");
		json_num(hi);
		printf(", \"ops\": %ld", m->med >= 0 ? m->ops[m->med] : 0);
		printf(",\n       \"values\": ");
		json_arr(m->v, m->n);
		if (s->latency) {
			printf(", \"p99_values\": ");
			json_arr(m->p99, m->n);
		}
		printf(",\n       \"error\": ");
		if (m->err[0])
			json_str(m->err);
		else
			printf("null");
		printf(", \"note\": ");
		if (m->note[0])
			json_str(m->note);
		else
			printf("null");
		printf("}%s\n", i + 1 < s->nm ? "," : "");
	}
	printf("    ],\n    \"ratios\": {");
	for (int i = 0; i < s->nr; i++) {
		printf("%s\n      ", i ? "," : "");
		json_str(s->r[i].id);
		printf(": ");
		json_num(s->r[i].value);
	}
	printf("\n    },\n    \"goals\": [");
	for (int i = 0; i < s->ng; i++) {
		printf("%s\n      {\"goal\": ", i ? "," : "");
		json_str(s->g[i].text);
		printf(", \"value\": ");
		json_str(s->g[i].value);
		printf(", \"status\": \"%s\"}", goal_status(&s->g[i]));
	}
	printf("\n    ]\n");
}

static void print_json(struct section *const *secs, int nsec)
{
	printf("{\n  \"machine\": {\"cpus\": %ld, \"cpu\": ", ncpu);
	json_str(cpu_model);
	printf(", \"kernel\": ");
	json_str(kernel);
	printf(", \"flush\": ");
	json_str(flush_insn);
	printf(", \"mem_available_bytes\": %llu, \"loadavg_1min\": ",
	       (unsigned long long)mem_avail);
	json_num(load1);
	printf("},\n");
	printf("  \"device\": {\"api\": \"udax_open_memory\", \"bytes\": "
	       "%llu, \"desc\": ",
	       (unsigned long long)cfg.dev_bytes);
	json_str(dev_desc);
	printf("},\n  \"disk\": {\"dir\": ");
	json_str(cfg.disk_dir);
	printf(", \"fstype\": ");
	json_str(cfg.disk_fstype);
	printf(", \"source\": ");
	json_str(cfg.disk_source);
	printf("},\n  \"config\": {\"reps\": %d, \"clock\": "
	       "\"CLOCK_MONOTONIC\", \"clock_read_ns\": %.1f, "
	       "\"seq_total_bytes\": %llu, "
	       "\"seq_write_bytes\": %llu, \"appends\": %ld, "
	       "\"append_bytes\": %llu, \"creates\": %ld, \"run_budget_s\": "
	       "%g, \"scaled\": ",
	       cfg.reps, clock_ns, (unsigned long long)cfg.seq_bytes,
	       (unsigned long long)cfg.seq_io, cfg.appends,
	       (unsigned long long)cfg.append_io, cfg.creates, cfg.budget_s);
	if (cfg.scaled[0])
		json_str(cfg.scaled);
	else
		printf("null");
	printf("}");
	for (int i = 0; i < nsec; i++) {
		printf(",\n  ");
		json_str(secs[i]->id);
		printf(": {\n");
		json_section(secs[i]);
		printf("  }");
	}
	printf("\n}\n");
}

/* ---- main ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: udax-bench [--json] [--quick] [--reps N] [--dev-mib "
		"N]\n"
		"                  [--seq-mib N] [--appends N] [--creates N]\n"
		"                  [--budget SECONDS] [--only "
		"seq,append,create]\n"
		"defaults: 5 runs, 1536 MiB device, 512 MiB sequential, 20000\n"
		"appends, 100000 creates, 5 s per run at most\n");
}

static long num_arg(int argc, char **argv, int *i)
{
	char *end;
	long v;

	if (*i + 1 >= argc) {
		fprintf(stderr, "udax-bench: %s needs a value\n", argv[*i]);
		exit(2);
	}
	v = strtol(argv[++*i], &end, 10);
	if (*end || v <= 0) {
		fprintf(stderr, "udax-bench: bad value for %s: %s\n",
			argv[*i - 1], argv[*i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static struct section seq, app, cre;
	struct section *secs[3];
	int nsec = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			cfg.json = 1;
		} else if (!strcmp(a, "--quick")) {
			cfg.reps = 3;
			cfg.dev_bytes = 256 * MIB;
			cfg.seq_bytes = 64 * MIB;
			cfg.appends = 2000;
			cfg.creates = 10000;
		} else if (!strcmp(a, "--reps")) {
			cfg.reps = (int)num_arg(argc, argv, &i);
			if (cfg.reps > MAXREP)
				cfg.reps = MAXREP;
		} else if (!strcmp(a, "--dev-mib")) {
			cfg.dev_bytes = (uint64_t)num_arg(argc, argv, &i) * MIB;
		} else if (!strcmp(a, "--seq-mib")) {
			cfg.seq_bytes = (uint64_t)num_arg(argc, argv, &i) * MIB;
		} else if (!strcmp(a, "--appends")) {
			cfg.appends = num_arg(argc, argv, &i);
		} else if (!strcmp(a, "--creates")) {
			cfg.creates = num_arg(argc, argv, &i);
		} else if (!strcmp(a, "--budget")) {
			cfg.budget_s = (double)num_arg(argc, argv, &i);
		} else if (!strcmp(a, "--only") && i + 1 < argc) {
			const char *l = argv[++i];
			cfg.run_seq = strstr(l, "seq") != NULL;
			cfg.run_append = strstr(l, "append") != NULL;
			cfg.run_create = strstr(l, "create") != NULL;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "udax-bench: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}

	read_env();
	fit_memory();
	pick_disk_dir();

	if (cfg.run_seq) {
		bench_seq(&seq);
		secs[nsec++] = &seq;
	}
	if (cfg.run_append) {
		bench_append(&app);
		secs[nsec++] = &app;
	}
	if (cfg.run_create) {
		bench_create(&cre);
		secs[nsec++] = &cre;
	}
	if (cfg.json)
		print_json(secs, nsec);
	else
		print_text(secs, nsec);
	fflush(stdout);
	return 0;
}

int bench_udax_open(struct meas *m, int prefaulted, struct udax_fs **fs)
{
	char e[96];
	int ret = udax_open_memory(fs, cfg.dev_bytes);

	if (ret) {
		meas_fail(m, "udax_open_memory(%llu MiB) returned %s",
			  (unsigned long long)(cfg.dev_bytes / MIB),
			  uerr(ret, e, sizeof(e)));
		return -1;
	}
	udax_device_desc(*fs);
	if (prefaulted) {
		void *base;
		size_t size;
		udax_device_range(*fs, &base, &size);
		ret = prefault(base, size);
		if (ret) {
			meas_fail(m, "prefaulting the device: %s",
				  strerror(-ret));
			udax_close(fs);
			return -1;
		}
	}
	return 0;
}
