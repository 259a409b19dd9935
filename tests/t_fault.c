/* SPDX-License-Identifier: MIT */
/*
 * t_fault.c - the fault layer over a long life: every counter returns to
 * zero, the piece budget never livelocks a fault, evictions never lose a
 * private mapping's own copies.
 *
 * Cases:
 *   many-mappings    more map/unmap cycles of one file than the piece
 *                    budget in force, then a load spanning two
 *                    fault-around windows (once, this livelocked)
 *   spanning-low     budget 8: loads and copies spanning windows, across
 *                    many mappings of one file and of several files
 *   private-copies   budget 4: a private mapping's stores (over device
 *                    pages and over a hole) survive evictions
 *   counters         every kind of fault and zap, files closed under live
 *                    mappings: the counters are exact throughout and 0
 *                    when the last mapping is gone
 *   interrupted-fill a zero fill over a hole stopped part way (the kernel
 *                    reports EAGAIN while a zap's remap event is in
 *                    flight; injected here): the pages it filled are
 *                    still zapped when a write fills the hole (on
 *                    memfd-huge, whose zero fills are single pages: a
 *                    private mapping's copy fill, stopped the same way)
 *   soak             a mixed mapped workload (UDAX_SOAK_OPS, 20,000 here;
 *                    make soak runs millions), counters and memory printed
 *
 * A watchdog thread fails the run when one access takes more than
 * LIVELOCK_FAULTS faults (progress, not time: a busy machine is slow, a
 * livelock is endless). Random cases print their seed; UDAX_FAULT_SEED
 * replays. Needs userfaultfd; skips without it.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <udax.h>
#include <unistd.h>

#include "fault/fault.h"
#include "sys/sys.h"
#include "test.h"
#include "util.h"

#define PG 4096
#define MIB (1024 * 1024)
#define WIN (2 * MIB)
#define LIVELOCK_FAULTS 200000

static unsigned seed;

#define NEED_MAPPING()                                                         \
	do {                                                                   \
		if (!mapping_permitted())                                      \
			SKIP("userfaultfd not permitted here");                \
	} while (0)

/* ---- the watchdog ---- */

static struct udax_fs *watched;
static _Atomic uint64_t watch_from; /* faults at the start of an access */
static _Atomic int watch_on, watch_stop;
static const char *watch_what;

static uint64_t faults_of(struct udax_fs *fs)
{
	struct fault_counters c;

	fault_fs_counters(fs, &c);
	return c.faults;
}

static void *watchdog(void *arg)
{
	while (!atomic_load(&watch_stop)) {
		if (atomic_load(&watch_on) &&
		    faults_of(watched) - atomic_load(&watch_from) >
			    LIVELOCK_FAULTS) {
			printf("FAIL fault/%s: livelock: over %d faults for "
			       "one access (seed %u)\n",
			       watch_what, LIVELOCK_FAULTS, seed);
			fflush(stdout);
			_exit(1);
		}
		usleep(20000);
	}
	return arg;
}

static pthread_t watch_thread;

static void watch_start(struct udax_fs *fs, const char *what)
{
	watched = fs;
	watch_what = what;
	atomic_store(&watch_stop, 0);
	pthread_create(&watch_thread, NULL, watchdog, NULL);
}

static void watch_end(void)
{
	atomic_store(&watch_stop, 1);
	pthread_join(watch_thread, NULL);
}

/* Around one access: arm, disarm. */
static void watch_arm(void)
{
	atomic_store(&watch_from, faults_of(watched));
	atomic_store(&watch_on, 1);
}

static void watch_disarm(void)
{
	atomic_store(&watch_on, 0);
}

/* ---- helpers ---- */

/* One unaligned 8-byte load: a single instruction on x86-64. */
typedef uint64_t u64_unaligned __attribute__((aligned(1), may_alias));
static uint64_t load64(const void *p)
{
	return *(const volatile u64_unaligned *)p;
}

/* The counters are exact: the running count is the bits counted. */
static int counters_exact(struct udax_fs *fs, const char *where)
{
	struct fault_counters c;

	fault_fs_counters(fs, &c);
	if (c.pieces == c.pieces_counted && c.pieces == c.pieces_of_maps &&
	    c.maps == c.listed && c.pieces >= 0)
		return 1;
	fprintf(stderr,
		"  %s: pieces %lld, counted %lld, of maps %lld; maps %ld, "
		"listed %ld\n",
		where, (long long)c.pieces, (long long)c.pieces_counted,
		(long long)c.pieces_of_maps, c.maps, c.listed);
	return 0;
}

/* Kernel mappings (lines of /proc/self/maps) that start inside one of
 * the n ranges [addr[i], addr[i]+len[i]). */
static long vmas_in(uint8_t *const *addr, const uint64_t *len, int n)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	long c = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			for (int i = 0; i < n; i++)
				if (lo >= (uintptr_t)addr[i] &&
				    lo < (uintptr_t)addr[i] + len[i])
					c++;
	fclose(f);
	return c;
}

/* The pieces bound what the kernel holds in the mappings. */
static int pieces_bound_vmas(struct udax_fs *fs, uint8_t *const *addr,
			     const uint64_t *len, int n)
{
	struct fault_counters c;
	long v = vmas_in(addr, len, n);

	fault_fs_counters(fs, &c);
	if (v <= c.pieces)
		return 1;
	fprintf(stderr, "  %ld kernel mappings, %lld pieces, %d mappings\n", v,
		(long long)c.pieces, n);
	if (getenv("DBG")) {
		char cmd[64];
		for (int i = 0; i < n; i++)
			fprintf(stderr, "map %d: %p-%lx\n", i, (void *)addr[i],
				(unsigned long)((uintptr_t)addr[i] + len[i]));
		snprintf(cmd, sizeof cmd, "cat /proc/%d/maps >&2",
			 (int)getpid());
		if (system(cmd)) {
		}
	}
	return 0;
}

/* Every counter that comes back down is down. */
static int counters_zero(struct udax_fs *fs)
{
	struct fault_counters c;

	fault_fs_counters(fs, &c);
	if (!c.maps && !c.listed && !c.pieces && !c.pieces_counted && !c.busy &&
	    !c.queued && !fault_registry_count())
		return 1;
	fprintf(stderr,
		"  left over: maps %ld, listed %ld, pieces %lld (counted "
		"%lld), busy %ld, queued %zu, registry %ld\n",
		c.maps, c.listed, (long long)c.pieces,
		(long long)c.pieces_counted, c.busy, c.queued,
		fault_registry_count());
	return 0;
}

/* A file of size bytes of `fill`, written in pieces of `chunk` bytes
 * with every other chunk's blocks allocated first (fragmented extents,
 * so a window holds several pieces), or sparse where fill < 0. */
static struct udax_file *mkfile(struct udax_fs *fs, const char *path,
				uint64_t size, int fill, uint64_t chunk)
{
	static char buf[MIB];
	struct udax_file *f;

	if (udax_file_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f))
		return NULL;
	if (fill < 0) {
		udax_ftruncate(f, (off_t)size);
		return f;
	}
	memset(buf, fill, sizeof(buf));
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t o = pass * chunk; o < size; o += 2 * chunk)
			for (uint64_t d = 0; d < chunk && o + d < size;
			     d += sizeof(buf)) {
				uint64_t n = chunk - d < sizeof(buf) ?
						     chunk - d :
						     sizeof(buf);
				if (o + d + n > size)
					n = size - o - d;
				udax_pwrite(f, buf, n, (off_t)(o + d));
			}
	return f;
}

static void budget_env(int64_t budget)
{
	char b[32];

	if (budget > 0) {
		snprintf(b, sizeof(b), "%lld", (long long)budget);
		setenv("UDAX_FAULT_PIECES", b, 1);
	} else {
		unsetenv("UDAX_FAULT_PIECES");
	}
}

/* ---- cases ---- */

static int many_mappings(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	void *p;

	NEED_MAPPING();
	budget_env(0);
	int64_t budget = fault_piece_budget();
	long cycles = (long)budget + 1000;
	CHECK_EQ(udax_open_memory(&fs, 64 * MIB), 0);
	CHECK((f = mkfile(fs, "/f", 4 * MIB, 'a', MIB)) != NULL);
	for (long i = 0; i < cycles; i++) {
		CHECK_EQ(udax_mmap(f, 0, 4 * MIB, PROT_READ, UDAX_MAP_SHARED,
				   &p),
			 0);
		CHECK_EQ(*(volatile char *)p, 'a');
		CHECK_EQ(udax_munmap(p, 4 * MIB), 0);
		if (i % 4096 == 0)
			CHECK(counters_zero(fs));
	}
	CHECK(counters_zero(fs));
	/* one load across the first two windows */
	watch_start(fs, "many-mappings");
	CHECK_EQ(udax_mmap(f, 0, 4 * MIB, PROT_READ, UDAX_MAP_SHARED, &p), 0);
	uint64_t v;
	watch_arm();
	v = load64((char *)p + WIN - 4);
	watch_disarm();
	watch_end();
	CHECK_EQ(v, 0x6161616161616161ull);
	CHECK_EQ(udax_munmap(p, 4 * MIB), 0);
	CHECK(counters_zero(fs));
	printf("# many-mappings: %ld cycles, budget %lld\n", cycles,
	       (long long)budget);
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

#define NFILES 3
#define NMAPS 8
#define FSIZE (8 * MIB)

/* The byte at offset o of file i: a pattern the loads can check. */
static uint8_t pattern(int i, uint64_t o)
{
	return (uint8_t)(o * 7 + (o >> 12) + (uint64_t)i * 31);
}

static int spanning_low(void)
{
	struct udax_fs *fs;
	struct udax_file *f[NFILES];
	uint8_t *map[NMAPS];
	int file_of[NMAPS];
	static uint8_t buf[FSIZE];
	unsigned ops = 1200;
	struct fault_counters c;

	NEED_MAPPING();
	budget_env(8);
	srandom(seed);
	CHECK_EQ(udax_open_memory(&fs, 96 * MIB), 0);
	for (int i = 0; i < NFILES; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/s%d", i);
		CHECK((f[i] = mkfile(fs, path, FSIZE, 0, 256 * 1024)) != NULL);
		for (uint64_t o = 0; o < FSIZE; o++)
			buf[o] = pattern(i, o);
		CHECK_EQ(udax_pwrite(f[i], buf, FSIZE, 0), FSIZE);
	}
	for (int k = 0; k < NMAPS; k++) {
		void *p;
		file_of[k] = k % NFILES;
		CHECK_EQ(udax_mmap(f[file_of[k]], 0, FSIZE,
				   PROT_READ | PROT_WRITE, UDAX_MAP_SHARED, &p),
			 0);
		map[k] = p;
	}
	watch_start(fs, "spanning-low");
	for (unsigned op = 0; op < ops; op++) {
		int a = (int)(random() % NMAPS), b = (int)(random() % NMAPS);
		uint64_t wa = (1 + (uint64_t)random() % (FSIZE / WIN - 1)) *
			      WIN,
			 wb = (1 + (uint64_t)random() % (FSIZE / WIN - 1)) *
			      WIN;
		uint64_t oa = wa - 1 - (uint64_t)random() % 14;
		uint64_t ob = wb - 1 - (uint64_t)random() % 14;
		uint8_t want[16], got[16];
		watch_arm();
		if (op % 2) {
			/* an unaligned load across two windows */
			uint64_t v0 = load64(map[a] + oa),
				 v1 = load64(map[a] + oa + 8);
			memcpy(got, &v0, 8);
			memcpy(got + 8, &v1, 8);
		} else {
			/* a copy between two mappings, both spanning */
			memcpy(map[b] + ob, (uint8_t *)map[a] + oa, 16);
			memcpy(got, map[b] + ob, 16);
		}
		watch_disarm();
		for (int j = 0; j < 16; j++)
			want[j] = pattern(file_of[a], oa + (uint64_t)j);
		if (memcmp(got, want, 16)) {
			fprintf(stderr, "  op %u: wrong bytes (seed %u)\n", op,
				seed);
			return T_FAIL;
		}
		if (!(op % 2)) { /* put file b's bytes back */
			for (int j = 0; j < 16; j++)
				want[j] = pattern(file_of[b], ob + (uint64_t)j);
			CHECK_EQ(
				udax_pwrite(f[file_of[b]], want, 16, (off_t)ob),
				16);
		}
		if (op % 100 == 0) {
			uint64_t lens[NMAPS];
			for (int j = 0; j < NMAPS; j++)
				lens[j] = FSIZE;
			CHECK(counters_exact(fs, "spanning-low"));
			CHECK(pieces_bound_vmas(fs, map, lens, NMAPS));
		}
	}
	watch_end();
	fault_fs_counters(fs, &c);
	CHECK(c.evictions > 0);
	printf("# spanning-low: %u accesses, %llu faults, %llu evictions, "
	       "%llu pieces evicted (seed %u)\n",
	       ops, (unsigned long long)c.faults,
	       (unsigned long long)c.evictions,
	       (unsigned long long)c.evicted_pieces, seed);
	for (int k = 0; k < NMAPS; k++)
		CHECK_EQ(udax_munmap(map[k], FSIZE), 0);
	CHECK(counters_zero(fs));
	for (int i = 0; i < NFILES; i++)
		CHECK_EQ(udax_file_close(&f[i]), 0);
	CHECK_EQ(udax_close(&fs), 0);
	budget_env(0);
	return T_PASS;
}

static int private_copies(void)
{
	struct udax_fs *fs;
	struct udax_file *f, *g;
	uint8_t *p, *q;
	void *a;
	struct fault_counters c;

	NEED_MAPPING();
	budget_env(4);
	CHECK_EQ(udax_open_memory(&fs, 64 * MIB), 0);
	/* a file of 'a' with a hole in its last window */
	CHECK((f = mkfile(fs, "/p", 8 * MIB, 'a', 256 * 1024)) != NULL);
	CHECK_EQ(udax_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				6 * MIB, 2 * MIB),
		 0);
	CHECK((g = mkfile(fs, "/other", 16 * MIB, 'b', 128 * 1024)) != NULL);
	CHECK_EQ(udax_mmap(f, 0, 8 * MIB, PROT_READ | PROT_WRITE,
			   UDAX_MAP_PRIVATE, &a),
		 0);
	p = a;
	CHECK_EQ(udax_mmap(g, 0, 16 * MIB, PROT_READ, UDAX_MAP_SHARED, &a), 0);
	q = a;
	watch_start(fs, "private-copies");
	p[100] = 'Z';		/* over a device page */
	p[6 * MIB + 100] = 'Y'; /* over a hole */
	CHECK_EQ(p[100], 'Z');
	/* faults elsewhere, in this mapping and another file's, until
	 * everything not spared was evicted more than once */
	for (int round = 0; round < 3; round++) {
		for (uint64_t o = WIN; o < 6 * MIB; o += 64 * 1024)
			CHECK_EQ(p[o], 'a');
		for (uint64_t o = 0; o < 16 * MIB; o += 64 * 1024)
			CHECK_EQ(q[o], 'b');
	}
	watch_end();
	fault_fs_counters(fs, &c);
	CHECK(c.evictions > 0);
	CHECK_EQ(p[100], 'Z');
	CHECK_EQ(p[101], 'a');
	CHECK_EQ(p[6 * MIB + 100], 'Y');
	CHECK_EQ(p[6 * MIB + 101], 0);
	/* the file never saw them */
	char b;
	CHECK_EQ(udax_pread(f, &b, 1, 100), 1);
	CHECK_EQ(b, 'a');
	CHECK(counters_exact(fs, "private-copies"));
	printf("# private-copies: %llu evictions, %llu pieces evicted, %llu "
	       "copies kept\n",
	       (unsigned long long)c.evictions,
	       (unsigned long long)c.evicted_pieces,
	       (unsigned long long)c.kept_copies);
	CHECK_EQ(udax_munmap(p, 8 * MIB), 0);
	CHECK_EQ(udax_munmap(q, 16 * MIB), 0);
	CHECK(counters_zero(fs));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_file_close(&g), 0);
	CHECK_EQ(udax_close(&fs), 0);
	budget_env(0);
	return T_PASS;
}

/* Wait until the handler has finished n faults in all (a fault's waiter
 * may run before its handler is done). 0 after a minute without. */
static int faults_done(struct udax_fs *fs, uint64_t n)
{
	for (int i = 0; i < 60000 && faults_of(fs) < n; i++)
		usleep(1000);
	return faults_of(fs) >= n;
}

/* The copy fill of a private mapping on a device that maps whole units
 * (memfd-huge), stopped part way: the pages copied are the mapping's,
 * and the fault does not fail. */
static int interrupted_copy(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	volatile uint8_t *p;
	struct fault_counters c;
	void *a;

	CHECK_EQ(udax_open_memory(&fs, 16 * MIB), 0);
	CHECK((f = mkfile(fs, "/c", MIB, 'a', MIB)) != NULL);
	CHECK_EQ(udax_mmap(f, 0, MIB, PROT_READ, UDAX_MAP_PRIVATE, &a), 0);
	p = a;
	CHECK_EQ(p[200 * PG], 'a'); /* copies [200, 256) */
	CHECK(faults_done(fs, 1));
	/* [10, 200) one page a call; the second call fails */
	sys_count_reset();
	sys_fail_set(SYS_UFFDIO_COPY, 2, EAGAIN, 0);
	CHECK_EQ(p[10 * PG], 'a');
	CHECK(faults_done(fs, 2));
	sys_count_stop();
	CHECK_EQ(sys_failed(SYS_UFFDIO_COPY), 1);
	fault_fs_counters(fs, &c);
	CHECK_EQ(c.sigbus, 0);
	for (int pg = 0; pg < 256; pg++)
		CHECK_EQ(p[pg * PG], 'a');
	CHECK_EQ(udax_munmap((void *)p, MIB), 0);
	CHECK(counters_zero(fs));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/*
 * A read fault in a hole fills the rest of the hole in its window with
 * zero pages in one UFFDIO_ZEROPAGE; the kernel stops at a page already
 * there, and the rest goes on in further calls, any of which may fail
 * with EAGAIN while a zap's remap event is in flight (the retry faults
 * again). Once, the pages of such a stopped fill were mapped but not
 * noted as zero pages: a later write into the hole did not zap them, and
 * the mapping read zeros where the file held data (found by difftest on
 * a loaded machine, seed 401368821850).
 */
static int interrupted_fill(void)
{
	struct udax_fs *fs;
	struct udax_file *f;
	volatile uint8_t *p;
	void *a;
	uint8_t w[PG];
	const char *dev = getenv("UDAX_MEMORY_DEVICE");

	NEED_MAPPING();
	/* zero pages one at a time there: its fills are copies */
	if (dev && !strcmp(dev, "memfd-huge"))
		return interrupted_copy();
	CHECK_EQ(udax_open_memory(&fs, 16 * MIB), 0);
	CHECK((f = mkfile(fs, "/h", MIB, -1, 0)) != NULL);
	CHECK_EQ(udax_mmap(f, 0, MIB, PROT_READ, UDAX_MAP_SHARED, &a), 0);
	p = a;
	CHECK_EQ(p[200 * PG], 0); /* zero pages [200, 256) */
	CHECK(faults_done(fs, 1));
	/* [10, 200) in the first call, which stops at page 200; the call
	 * after it fails */
	sys_count_reset();
	sys_fail_set(SYS_UFFDIO_ZEROPAGE, 2, EAGAIN, 0);
	CHECK_EQ(p[10 * PG], 0);
	/* the first call wakes this thread as it maps page 10: the handler
	 * goes on after, and the failure stays armed until it is done */
	CHECK(faults_done(fs, 2));
	sys_count_stop();
	CHECK_EQ(sys_failed(SYS_UFFDIO_ZEROPAGE), 1);
	/* data into the hole, under pages of the stopped fill and others */
	memset(w, 'w', sizeof(w));
	for (int pg = 10; pg < 256; pg += 30)
		CHECK_EQ(udax_pwrite(f, w, PG, (off_t)pg * PG), PG);
	/* the written pages first: a fault elsewhere in the window would
	 * map the written blocks over them (fault-around) */
	for (int pg = 10; pg < 256; pg += 30)
		if (p[pg * PG] != 'w') {
			printf("# page %d of the mapping reads 0x%02x, the "
			       "file "
			       "'w'\n",
			       pg, p[pg * PG]);
			return T_FAIL;
		}
	for (int pg = 0; pg < 256; pg++) {
		uint8_t want = (pg - 10) % 30 == 0 && pg >= 10 ? 'w' : 0;
		if (p[pg * PG] != want || p[pg * PG + PG - 1] != want) {
			printf("# page %d of the mapping reads 0x%02x, the "
			       "file "
			       "0x%02x\n",
			       pg, p[pg * PG], want);
			return T_FAIL;
		}
	}
	CHECK_EQ(udax_munmap((void *)p, MIB), 0);
	CHECK(counters_zero(fs));
	CHECK_EQ(udax_file_close(&f), 0);
	CHECK_EQ(udax_close(&fs), 0);
	return T_PASS;
}

/* One step of a mixed workload on maps of files: a random mapped access
 * or file change. Returns 0, or -1 on a wrong byte. */
struct mix {
	struct udax_fs *fs;
	struct udax_file *f[NFILES];
	uint8_t *map[NMAPS];
	uint64_t len[NMAPS];
	int file_of[NMAPS], flags[NMAPS];
	uint64_t mapped, unmapped;
};

static int mix_map(struct mix *x, int k)
{
	static const int kinds[] = {UDAX_MAP_SHARED,
				    UDAX_MAP_SHARED | UDAX_MAP_SYNC,
				    UDAX_MAP_PRIVATE};
	void *p;
	int fl = kinds[random() % 3];
	uint64_t len = (1 + (uint64_t)random() % 8) * MIB;

	x->file_of[k] = (int)(random() % NFILES);
	if (udax_mmap(x->f[x->file_of[k]], 0, len, PROT_READ | PROT_WRITE, fl,
		      &p))
		return -1;
	x->map[k] = p;
	x->len[k] = len;
	x->flags[k] = fl;
	x->mapped++;
	return 0;
}

static int mix_step(struct mix *x)
{
	int k = (int)(random() % NMAPS);
	uint64_t o = (uint64_t)random() % x->len[k];
	struct udax_file *f = x->f[x->file_of[k]];
	struct stat st;

	switch (random() % 10) {
	case 0: /* a short-lived mapping in its place */
		if (udax_munmap(x->map[k], x->len[k]))
			return -1;
		x->unmapped++;
		return mix_map(x, k);
	case 1: /* truncate and grow back (zaps, sigbus ranges) */
		if (udax_ftruncate(f, (off_t)(o & ~(uint64_t)(PG - 1))) ||
		    udax_ftruncate(f, 8 * MIB))
			return -1;
		return 0;
	case 2: /* punch */
		return udax_fallocate(
			       f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       (off_t)(o & ~(uint64_t)(PG - 1)), 64 * 1024) ?
			       -1 :
			       0;
	case 3: /* a write over whatever is there */
		return udax_pwrite(f, "w", 1, (off_t)o) == 1 ? 0 : -1;
	case 4:
	case 5: /* a store */
		watch_arm();
		x->map[k][o] = 's';
		watch_disarm();
		return x->map[k][o] == 's' ? 0 : -1;
	default: { /* a load, checked against pread for shared mappings */
		uint8_t got, want;
		if (udax_fstat(f, &st))
			return -1;
		if (o >= (uint64_t)st.st_size)
			return 0; /* past end of file: SIGBUS */
		watch_arm();
		got = x->map[k][o];
		watch_disarm();
		if (!(x->flags[k] & UDAX_MAP_SHARED))
			return 0;
		if (udax_pread(f, &want, 1, (off_t)o) != 1)
			return -1;
		return got == want ? 0 : -1;
	}
	}
}

static int mix_run(unsigned long ops, int64_t budget, int verbose)
{
	struct mix x = {0};
	struct fault_counters c;

	srandom(seed);
	budget_env(budget);
	CHECK_EQ(udax_open_memory(&x.fs, 128 * MIB), 0);
	for (int i = 0; i < NFILES; i++) {
		char path[16];
		snprintf(path, sizeof(path), "/m%d", i);
		CHECK((x.f[i] = mkfile(x.fs, path, 8 * MIB, 'm', 64 * 1024)) !=
		      NULL);
	}
	for (int k = 0; k < NMAPS; k++)
		CHECK_EQ(mix_map(&x, k), 0);
	watch_start(x.fs, verbose ? "soak" : "counters");
	for (unsigned long op = 0; op < ops; op++) {
		if (mix_step(&x)) {
			fprintf(stderr, "  op %lu failed (seed %u)\n", op,
				seed);
			return T_FAIL;
		}
		if (op % 97 == 0) {
			CHECK(counters_exact(x.fs, "mix"));
			CHECK(pieces_bound_vmas(x.fs, x.map, x.len, NMAPS));
		}
		if (verbose && (op + 1) % (ops / 10 ? ops / 10 : 1) == 0) {
			FILE *st = fopen("/proc/self/statm", "r");
			long vsz = 0, rss = 0;
			if (st) {
				if (fscanf(st, "%ld %ld", &vsz, &rss) != 2)
					vsz = rss = 0;
				fclose(st);
			}
			fault_fs_counters(x.fs, &c);
			printf("# soak: %lu ops, %llu mapped, %llu unmapped, "
			       "%ld live, %lld pieces, %llu faults, %llu "
			       "evictions, rss %ld KiB, vsz %ld KiB\n",
			       op + 1, (unsigned long long)x.mapped,
			       (unsigned long long)x.unmapped, c.maps,
			       (long long)c.pieces,
			       (unsigned long long)c.faults,
			       (unsigned long long)c.evictions,
			       rss * (sysconf(_SC_PAGESIZE) / 1024),
			       vsz * (sysconf(_SC_PAGESIZE) / 1024));
			fflush(stdout);
		}
	}
	watch_end();
	/* the files close first, their mappings live on */
	for (int i = 0; i < NFILES; i++)
		CHECK_EQ(udax_file_close(&x.f[i]), 0);
	CHECK(counters_exact(x.fs, "after close"));
	fault_fs_counters(x.fs, &c);
	CHECK_EQ(c.maps, NMAPS);
	CHECK_EQ(udax_close(&x.fs), -EBUSY);
	for (int k = 0; k < NMAPS; k++)
		CHECK_EQ(udax_munmap(x.map[k], x.len[k]), 0);
	CHECK(counters_zero(x.fs));
	if (!verbose)
		printf("# counters: %lu operations, %llu mappings, %llu "
		       "faults, "
		       "%llu evictions (seed %u)\n",
		       ops, (unsigned long long)x.mapped,
		       (unsigned long long)c.faults,
		       (unsigned long long)c.evictions, seed);
	CHECK_EQ(udax_close(&x.fs), 0);
	budget_env(0);
	return T_PASS;
}

static int counters(void)
{
	NEED_MAPPING();
	return mix_run(4000, 16, 0);
}

static int soak(void)
{
	const char *e = getenv("UDAX_SOAK_OPS");

	NEED_MAPPING();
	printf("# soak: seed %u (UDAX_FAULT_SEED replays)\n", seed);
	return mix_run(e ? strtoul(e, NULL, 10) : 20000, 0, 1);
}

static const struct test_case tests[] = {
	{"many-mappings", many_mappings},	{"spanning-low", spanning_low},
	{"private-copies", private_copies},	{"counters", counters},
	{"interrupted-fill", interrupted_fill}, {"soak", soak},
};

int main(int argc, char **argv)
{
	const char *e = getenv("UDAX_FAULT_SEED");

	seed = e ? (unsigned)atoi(e) : (unsigned)time(NULL);
	printf("# fault: seed %u (UDAX_FAULT_SEED replays)\n", seed);
	return test_main("fault", tests, sizeof(tests) / sizeof(tests[0]), argc,
			 argv);
}
