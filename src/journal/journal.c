/* SPDX-License-Identifier: MIT */
/*
 * journal.c - redo journal: a log of transactions since the last
 * checkpoint.
 *
 * Commit protocol (docs/DESIGN.md, "Journal"):
 *   1. if the transaction maps blocks whose data was just written: fence
 *      (the data must be durable before the log that points at it);
 *   2. append header + records (only the changed cache lines) to the log
 *      at `head` and flush them;
 *   3. fence: THIS FENCE COMMITS. The crc in the header covers every byte
 *      of the transaction, so a torn one never replays;
 *   4. install the records at home, and remember their cache lines (page
 *      devices: their range). No flush, no fence: the log holds them until
 *      the checkpoint, which writes each remembered line back once.
 * A metadata-only commit costs one fence and flushes for the log lines it
 * writes; one that maps new data costs two fences. Lines that change in
 * commit after commit (a directory leaf, a bitmap word) are written back
 * once per checkpoint. On page devices (msync) a commit is one msync of its
 * log pages and the installs of many commits are flushed together at the
 * checkpoint.
 *
 * Checkpoint (log full, sync, close): flush and fence the installs, mark
 * the log empty (fenced: the next commit writes over the old log), and
 * hand the blocks freed since the previous checkpoint to the allocator. Until then freed blocks are not reused: a replay
 * rewrites what every logged transaction wrote, and must not land in a
 * block that has since become file data.
 *
 * Replay applies, from the start of the log, each committed transaction
 * whose number follows the previous one; records hold new contents only,
 * so replaying twice is the same as once, and a crash during replay is
 * safe. Recovery uses the same install routine as commit, and ends with a
 * checkpoint that retires the replayed log.
 *
 * A device whose flushes fail (msync of a file device: dev_error) shuts
 * the journal down at the next commit or checkpoint, before anything is
 * installed or freed: whether the log reached the media is unknown, so
 * nothing may be written after it. The failed transaction is undone in
 * memory; the next open replays the log as far as it got.
 */
#include <errno.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "sys/sys.h"

#define JREC_MAX_OVERHEAD                                                      \
	(UDAX_BLOCK_SIZE / UDAX_CACHELINE / 2 * sizeof(struct udax_jrec))
#define JBLOCK_COST (UDAX_BLOCK_SIZE + JREC_MAX_OVERHEAD)

int journal_init(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;
	struct tx *tx = &j->tx;

	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	j->area = fs_block(fs, fs->sb.journal_start);
	j->area_size = fs->sb.journal_blocks << UDAX_BLOCK_SHIFT;
	j->log = sys_malloc(j->area_size);
	tx->fs = fs;
	tx->max_blocks =
		(j->area_size - sizeof(struct udax_jhdr)) / JBLOCK_COST;
	tx->cap = tx->max_blocks;
	tx->blocks = sys_calloc(tx->cap, sizeof(*tx->blocks));
	tx->hash_size = 16;
	while (tx->hash_size < 2 * tx->cap)
		tx->hash_size *= 2;
	tx->hash = sys_malloc(tx->hash_size * sizeof(*tx->hash));
	j->lines_size = 1024;
	while (j->lines_size < 2 * (j->area_size / UDAX_CACHELINE))
		j->lines_size *= 2;
	j->lines = sys_malloc(j->lines_size * sizeof(*j->lines));
	if (j->lines)
		memset(j->lines, 0xff, j->lines_size * sizeof(*j->lines));
	j->inst_lo = UINT64_MAX;
	if (!j->log || !tx->blocks || !tx->hash || !j->lines) {
		journal_fini(fs);
		return -ENOMEM;
	}
	memset(tx->hash, 0xff, tx->hash_size * sizeof(*tx->hash));
	return 0;
}

void journal_space_set(struct journal *j, const struct journal_space_ops *ops)
{
	j->space = ops;
}

void journal_fini(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;
	struct tx *tx = &j->tx;

	if (tx->blocks)
		for (size_t i = 0; i < tx->cap; i++)
			free(tx->blocks[i].shadow);
	free(tx->blocks);
	free(tx->hash);
	free(tx->frees);
	free(tx->allocs);
	free(j->log);
	free(j->dfree);
	free(j->lines);
	j->lines = NULL;
	j->dfree = NULL;
	tx->blocks = NULL;
	tx->hash = NULL;
	tx->frees = tx->allocs = NULL;
	j->log = NULL;
	pthread_mutex_destroy(&j->lock);
}

/* Is [off, off+len) a place a journal record may write to? Metadata lives
 * in the state block, the bitmaps, the inode table and tree nodes in the
 * data area, and both superblocks (only a feature bit turned on, in the
 * transaction that first needs it: FORMAT.md 5.5); never in the journal
 * itself or past the file system. */
static int jrec_target_ok(struct udax_fs *fs, uint64_t off, uint64_t len)
{
	uint64_t lo = 0;
	uint64_t hi = fs->nblocks << UDAX_BLOCK_SHIFT;
	uint64_t js = fs->sb.journal_start << UDAX_BLOCK_SHIFT;
	uint64_t je = js + (fs->sb.journal_blocks << UDAX_BLOCK_SHIFT);

	if (len == 0 || len > UDAX_BLOCK_SIZE || (len & 7) || off < lo ||
	    off > hi || len > hi - off)
		return 0;
	return off + len <= js || off >= je;
}

/* Check the transaction at byte `pos` of the journal area. Returns its
 * length (a multiple of 64) if it is committed and sane and its sequence
 * number is `seq` (any, if seq is 0), 0 if there is none (end of log,
 * torn, or stale), or UDAX_ECORRUPT. */
static int64_t journal_check(struct udax_fs *fs, uint64_t pos, uint64_t seq)
{
	struct journal *j = &fs->journal;
	const struct udax_jhdr *h = (const void *)(j->area + pos);
	uint64_t p;

	if (pos + sizeof(*h) > j->area_size || h->magic != UDAX_JOURNAL_MAGIC)
		return 0;
	if (h->bytes < sizeof(*h) || h->bytes > j->area_size - pos ||
	    (seq && h->seq != seq))
		return 0; /* torn header, or an older transaction */
	if (udax_block_crc(h, h->bytes, offsetof(struct udax_jhdr, crc)) !=
	    h->crc)
		return 0; /* torn transaction: never committed */
	if (memcmp(h->uuid, fs->sb.uuid, 16))
		return fs_corrupt(fs,
				  "journal: transaction %llu belongs to "
				  "another file system",
				  (unsigned long long)h->seq);
	p = sizeof(*h);
	for (uint32_t i = 0; i < h->nrec; i++) {
		const struct udax_jrec *r =
			(const void *)((const uint8_t *)h + p);
		if (p + sizeof(*r) > h->bytes ||
		    r->len > h->bytes - p - sizeof(*r) ||
		    !jrec_target_ok(fs, r->dev_off, r->len))
			return fs_corrupt(fs,
					  "journal: record %u of "
					  "transaction %llu is damaged",
					  i, (unsigned long long)h->seq);
		p += sizeof(*r) + r->len;
	}
	return (int64_t)((h->bytes + UDAX_CACHELINE - 1) &
			 ~(uint64_t)(UDAX_CACHELINE - 1));
}

int journal_needs_replay(struct udax_fs *fs)
{
	int64_t n = journal_check(fs, 0, 0);
	return n < 0 ? (int)n : n > 0;
}

/* Write back every remembered installed line (not fenced). */
static void journal_flush_lines(struct journal *j, struct udax_fs *fs)
{
	for (size_t i = 0; i < j->lines_size && j->nlines; i++) {
		if (j->lines[i] == UINT64_MAX)
			continue;
		dev_flush(fs->dev, fs->dev->base + j->lines[i] * UDAX_CACHELINE,
			  UDAX_CACHELINE);
		j->lines[i] = UINT64_MAX;
		j->nlines--;
	}
}

/* Remember installed cache lines, each once, to flush them at the
 * checkpoint: the same lines (a directory leaf, a bitmap word, an inode)
 * change in commit after commit, and are written back once. If the set
 * fills up, flush what it holds now. */
static void journal_note_lines(struct journal *j, struct udax_fs *fs,
			       uint64_t off, uint64_t len)
{
	for (uint64_t l = off / UDAX_CACHELINE;
	     l < (off + len + UDAX_CACHELINE - 1) / UDAX_CACHELINE; l++) {
		size_t mask = j->lines_size - 1;
		size_t h = (size_t)(l * 0x9E3779B97F4A7C15ull >> 17) & mask;
		while (j->lines[h] != UINT64_MAX && j->lines[h] != l)
			h = (h + 1) & mask;
		if (j->lines[h] == l)
			continue;
		if (j->nlines * 2 >= j->lines_size) {
			journal_flush_lines(j, fs);
			h = (size_t)(l * 0x9E3779B97F4A7C15ull >> 17) & mask;
		}
		j->lines[h] = l;
		j->nlines++;
	}
}

/* Copy the records of one logged transaction home (flushed at the next
 * checkpoint: cache lines through journal_note_lines, page devices as one
 * range). Used by commit and by replay alike. */
static void journal_install(struct udax_fs *fs, const uint8_t *tx_log,
			    uint64_t bytes)
{
	struct journal *j = &fs->journal;
	int page = fs->dev->gran == DEV_GRAN_PAGE;

	for (uint64_t p = sizeof(struct udax_jhdr); p < bytes;) {
		const struct udax_jrec *r = (const void *)(tx_log + p);
		uint8_t *home = fs->dev->base + r->dev_off;
		memcpy(home, r + 1, r->len);
		if (r->dev_off < j->inst_lo)
			j->inst_lo = r->dev_off;
		if (r->dev_off + r->len > j->inst_hi)
			j->inst_hi = r->dev_off + r->len;
		if (!page)
			journal_note_lines(j, fs, r->dev_off, r->len);
		p += sizeof(*r) + r->len;
	}
	j->install_unfenced = 1;
}

int journal_replay(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;
	uint64_t pos = 0, seq = 0, n = 0;
	int64_t bytes;
	int ret;

	/* the transactions since the last checkpoint: from the start of the
	 * area, each with the next sequence number */
	while ((bytes = journal_check(fs, pos, seq)) > 0) {
		const struct udax_jhdr *h = (const void *)(j->area + pos);
		journal_install(fs, j->area + pos, h->bytes);
		seq = h->seq + 1;
		pos += (uint64_t)bytes;
		n++;
	}
	if (bytes < 0)
		return (int)bytes;
	/* the log ends where the replay stopped: the checkpoint retires it
	 * like any other, before the new epoch writes over its start */
	j->head = pos;
	ret = journal_checkpoint_locked(fs);
	if (ret)
		return ret;
	/* a new epoch: its numbers never meet the old ones' */
	j->seq = (uint64_t)fs_now_ns();
	if (j->seq < seq)
		j->seq = seq;
	return n > 0;
}

/* The device's flushes failed (dev_error): write nothing more. Returns
 * the error the journal is shut down with. */
static int journal_shut_down(struct journal *j, int err)
{
	if (!j->error)
		j->error = err;
	return j->error;
}

/* Make every install durable and start the log over. Frees held back
 * since the last checkpoint go back to the allocator. Journal lock held
 * (or the file system not yet shared). */
int journal_checkpoint_locked(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;

	if (j->error)
		return j->error;
	if (j->install_unfenced) {
		if (fs->dev->gran == DEV_GRAN_PAGE && j->inst_hi > j->inst_lo)
			dev_flush(fs->dev, fs->dev->base + j->inst_lo,
				  j->inst_hi - j->inst_lo);
		else
			journal_flush_lines(j, fs);
		dev_drain(fs->dev);
		if (dev_error(fs->dev)) /* the log must stay */
			return journal_shut_down(j, dev_error(fs->dev));
		j->install_unfenced = 0;
	}
	j->inst_lo = UINT64_MAX;
	j->inst_hi = 0;
	if (j->head) {
		/* the log now describes nothing that is not at home. Fenced
		 * before the next commit writes over the log: if a crash
		 * tore that first commit, an old first header still valid
		 * would replay a prefix of the old log over newer installs */
		struct udax_jhdr *h = (void *)j->area;
		h->magic = 0;
		dev_persist(fs->dev, h, sizeof(h->magic));
		j->head = 0;
		/* the old log may still replay: its blocks stay held back */
		if (dev_error(fs->dev))
			return journal_shut_down(j, dev_error(fs->dev));
	}
	for (size_t i = 0; i < j->ndfree; i++)
		j->space->put(fs, j->dfree[i].start, j->dfree[i].len);
	j->ndfree = 0;
	atomic_store(&j->dfree_blocks, 0);
	j->checkpoints++;
	return 0;
}

int journal_checkpoint(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;
	int held = j->locked && pthread_equal(j->owner, pthread_self());

	if (!held)
		pthread_mutex_lock(&j->lock);
	int had = j->ndfree > 0;
	if (journal_checkpoint_locked(fs))
		had = 0;
	if (!held)
		pthread_mutex_unlock(&j->lock);
	return had;
}

/* ---- transactions ---- */

struct tx *tx_begin(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;
	struct tx *tx = &j->tx;

	pthread_mutex_lock(&j->lock);
	j->owner = pthread_self();
	j->locked = 1;
	tx->nblocks = 0;
	tx->nfrees = 0;
	tx->nallocs = 0;
	tx->meta_reserved = 0;
	tx->failed = 0;
	tx->nhooks = 0;
	tx->data_flushed = 0;
	return tx;
}

static size_t tx_hash_slot(struct tx *tx, uint64_t blkno)
{
	return (size_t)(blkno * 0x9E3779B97F4A7C15ull >> 20) &
	       (tx->hash_size - 1);
}

static struct tx_block *tx_find(struct tx *tx, uint64_t blkno)
{
	for (size_t s = tx_hash_slot(tx, blkno);;
	     s = (s + 1) & (tx->hash_size - 1)) {
		int32_t i = tx->hash[s];
		if (i < 0)
			return NULL;
		if (tx->blocks[i].blkno == blkno)
			return &tx->blocks[i];
	}
}

const void *tx_get(struct tx *tx, uint64_t blkno)
{
	struct tx_block *b;

	if (blkno >= tx->fs->nblocks)
		return NULL;
	b = tx_find(tx, blkno);
	return b ? b->shadow : fs_block(tx->fs, blkno);
}

static struct tx_block *tx_add(struct tx *tx, uint64_t blkno)
{
	struct tx_block *b;
	size_t s;

	if (blkno >= tx->fs->nblocks || tx->nblocks >= tx->max_blocks) {
		tx->failed = tx->failed ? tx->failed : -ENOSPC;
		return NULL;
	}
	b = &tx->blocks[tx->nblocks];
	if (!b->shadow) {
		b->shadow = sys_aligned_alloc(UDAX_CACHELINE, UDAX_BLOCK_SIZE);
		if (!b->shadow) {
			tx->failed = -ENOMEM;
			return NULL;
		}
	}
	b->blkno = blkno;
	b->fresh = 0;
	for (s = tx_hash_slot(tx, blkno); tx->hash[s] >= 0;
	     s = (s + 1) & (tx->hash_size - 1))
		;
	tx->hash[s] = (int32_t)tx->nblocks++;
	return b;
}

void *tx_getw(struct tx *tx, uint64_t blkno)
{
	struct tx_block *b = tx_find(tx, blkno);

	if (b)
		return b->shadow;
	b = tx_add(tx, blkno);
	if (!b)
		return NULL;
	memcpy(b->shadow, fs_block(tx->fs, blkno), UDAX_BLOCK_SIZE);
	return b->shadow;
}

void *tx_new_block(struct tx *tx, uint64_t blkno)
{
	struct tx_block *b = tx_find(tx, blkno);

	if (!b)
		b = tx_add(tx, blkno);
	if (!b)
		return NULL;
	memset(b->shadow, 0, UDAX_BLOCK_SIZE);
	b->fresh = 1;
	return b->shadow;
}

int tx_room(struct tx *tx, size_t nblocks)
{
	return !tx->failed && tx->nblocks + nblocks <= tx->max_blocks;
}

static int tx_range_add(struct tx_range **arr, size_t *n, size_t *cap,
			uint64_t start, uint64_t len)
{
	if (*n && (*arr)[*n - 1].start + (*arr)[*n - 1].len == start) {
		(*arr)[*n - 1].len += len;
		return 0;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct tx_range *a = sys_realloc(*arr, ncap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*arr = a;
		*cap = ncap;
	}
	(*arr)[(*n)++] = (struct tx_range){start, len};
	return 0;
}

int tx_free_blocks(struct tx *tx, uint64_t start, uint64_t len)
{
	int ret = tx->fs->journal.space->mark(tx, start, len, 0);
	if (!ret)
		ret = tx_range_add(&tx->frees, &tx->nfrees, &tx->capfrees,
				   start, len);
	if (ret && !tx->failed)
		tx->failed = ret;
	return ret;
}

int tx_use_blocks(struct tx *tx, uint64_t start, uint64_t len)
{
	const struct journal_space_ops *space = tx->fs->journal.space;
	int ret = tx_range_add(&tx->allocs, &tx->nallocs, &tx->capallocs, start,
			       len);

	if (ret)
		space->put(tx->fs, start, len); /* not recorded */
	else
		ret = space->mark(tx, start, len, 1);
	if (ret && !tx->failed)
		tx->failed = ret;
	return ret;
}

#if defined(__x86_64__)
/* line_diff with 256-bit compares, for CPUs that have AVX2. */
__attribute__((target("avx2"))) static uint64_t line_diff_avx2(const uint8_t *a,
							       const uint8_t *b)
{
	uint64_t mask = 0;

	for (unsigned l = 0; l < UDAX_BLOCK_SIZE / UDAX_CACHELINE; l++) {
		const __m256i *x = (const void *)(a + l * UDAX_CACHELINE);
		const __m256i *y = (const void *)(b + l * UDAX_CACHELINE);
		__m256i d = _mm256_or_si256(
			_mm256_xor_si256(_mm256_loadu_si256(x),
					 _mm256_loadu_si256(y)),
			_mm256_xor_si256(_mm256_loadu_si256(x + 1),
					 _mm256_loadu_si256(y + 1)));
		if (!_mm256_testz_si256(d, d))
			mask |= 1ull << l;
	}
	return mask;
}
#endif

/* Which cache lines of a block differ (bit i = line i). */
static uint64_t line_diff(const uint8_t *a, const uint8_t *b)
{
#if defined(__x86_64__)
	static _Atomic int have_avx2 = -1; /* chosen once */
	int v = atomic_load_explicit(&have_avx2, memory_order_relaxed);
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2") ? 1 : 0;
		atomic_store_explicit(&have_avx2, v, memory_order_relaxed);
	}
	if (v)
		return line_diff_avx2(a, b);
#endif
	const uint64_t *x = (const void *)a, *y = (const void *)b;
	uint64_t mask = 0;

	for (unsigned l = 0; l < UDAX_BLOCK_SIZE / UDAX_CACHELINE; l++) {
		uint64_t d = 0;
		for (unsigned w = 0; w < UDAX_CACHELINE / 8; w++)
			d |= x[l * 8 + w] ^ y[l * 8 + w];
		if (d)
			mask |= 1ull << l;
	}
	return mask;
}

/* Recompute the checksums of a changed block before it is logged; returns
 * the mask of changed lines, crc lines included. */
static uint64_t tx_seal(struct tx *tx, struct tx_block *b)
{
	struct udax_fs *fs = tx->fs;
	const uint8_t *home = fs_block(fs, b->blkno);
	uint64_t mask = b->fresh ? ~0ull : line_diff(home, b->shadow);

	if (!mask)
		return 0;
	if (b->blkno >= fs->sb.itable_start &&
	    b->blkno < fs->sb.itable_start + fs->sb.itable_blocks) {
		const unsigned per = UDAX_INODE_SIZE / UDAX_CACHELINE;
		for (unsigned i = 0; i < UDAX_INODES_PER_BLOCK; i++) {
			struct udax_inode *ino =
				(void *)(b->shadow + i * UDAX_INODE_SIZE);
			if (ino->magic == 0 ||
			    !((mask >> (i * per)) & ((1ull << per) - 1)))
				continue; /* free slots stay all zeros */
			ino->crc = udax_block_crc(
				ino, UDAX_INODE_SIZE,
				offsetof(struct udax_inode, crc));
			mask |= 1ull << (i * per + per - 1); /* crc's line */
		}
		return mask;
	}
	if (b->blkno == UDAX_SUPER_BLOCK || b->blkno == fs->nblocks - 1) {
		/* a superblock (a feature bit): its crc is in the last line */
		struct udax_super *sb = (void *)b->shadow;
		sb->crc = udax_block_crc(sb, UDAX_BLOCK_SIZE,
					 offsetof(struct udax_super, crc));
		return mask | (1ull << 63);
	}
	uint32_t magic, home_magic, crc;
	memcpy(&magic, b->shadow, 4);
	memcpy(&home_magic, home, 4);
	if (magic != UDAX_NODE_MAGIC && magic != UDAX_BITMAP_MAGIC &&
	    magic != UDAX_STATE_MAGIC)
		return mask;
	if (b->fresh || home_magic != magic) {
		crc = udax_block_crc(b->shadow, UDAX_BLOCK_SIZE, 4);
	} else {
		/* home holds a sealed block of the same kind: update its crc
		 * by the lines that changed */
		memcpy(&crc, home + 4, 4);
		crc = udax_block_crc_update(crc, home, b->shadow, 4, mask);
	}
	memcpy(b->shadow + 4, &crc, 4);
	return mask | 1; /* the crc lives in line 0 */
}

/* Append the lines of one block in `mask` to the log, one record per
 * run; returns the new log position. */
static uint64_t tx_log_block(struct tx_block *b, uint64_t mask, uint8_t *log,
			     uint64_t pos, uint32_t *nrec)
{
	while (mask) {
		unsigned s = (unsigned)__builtin_ctzll(mask);
		uint64_t run = (mask >> s);
		unsigned n =
			run == ~0ull ? 64 - s : (unsigned)__builtin_ctzll(~run);
		struct udax_jrec *r = (void *)(log + pos);
		r->dev_off =
			(b->blkno << UDAX_BLOCK_SHIFT) + s * UDAX_CACHELINE;
		r->len = n * UDAX_CACHELINE;
		r->pad = 0;
		memcpy(r + 1, b->shadow + s * UDAX_CACHELINE, r->len);
		pos += sizeof(*r) + r->len;
		(*nrec)++;
		mask = s + n >= 64 ? 0 : mask & ~((1ull << (s + n)) - 1);
	}
	return pos;
}

int tx_hook_add(struct tx *tx,
		void (*fn)(struct udax_fs *fs, uint64_t arg, int committed),
		uint64_t arg)
{
	if (tx->nhooks == TX_HOOKS_MAX) {
		tx->failed = tx->failed ? tx->failed : -ENOMEM;
		return -ENOMEM;
	}
	tx->hooks[tx->nhooks++] = (struct tx_hook){fn, arg};
	return 0;
}

/* Hold back a freed range until the next checkpoint. */
static void journal_defer_free(struct udax_fs *fs, uint64_t start, uint64_t len)
{
	struct journal *j = &fs->journal;

	if (j->ndfree == j->capdfree) {
		size_t ncap = j->capdfree ? j->capdfree * 2 : 256;
		struct tx_range *a = sys_realloc(j->dfree, ncap * sizeof(*a));
		if (!a) {
			/* no memory to remember it: checkpoint now instead
			 * (shut down: it stays in use until the next open) */
			if (!journal_checkpoint_locked(fs))
				j->space->put(fs, start, len);
			return;
		}
		j->dfree = a;
		j->capdfree = ncap;
	}
	j->dfree[j->ndfree++] = (struct tx_range){start, len};
	atomic_fetch_add(&j->dfree_blocks, len);
}

static void tx_release(struct tx *tx, int committed)
{
	for (int i = 0; i < tx->nhooks; i++)
		tx->hooks[i].fn(tx->fs, tx->hooks[i].arg, committed);
	tx->nhooks = 0;
	for (size_t i = 0; i < tx->nblocks; i++) {
		uint64_t blkno = tx->blocks[i].blkno;
		size_t s = tx_hash_slot(tx, blkno);
		while (tx->hash[s] >= 0) {
			tx->hash[s] = -1;
			s = (s + 1) & (tx->hash_size - 1);
		}
	}
	if (tx->meta_reserved)
		tx->fs->journal.space->unreserve(tx->fs, tx->meta_reserved);
	tx->nblocks = 0;
	tx->fs->journal.locked = 0;
	pthread_mutex_unlock(&tx->fs->journal.lock);
}

int tx_commit(struct tx *tx)
{
	struct udax_fs *fs = tx->fs;
	struct journal *j = &fs->journal;
	struct udax_jhdr *h = (void *)j->log;
	uint64_t pos = sizeof(*h);
	uint32_t nrec = 0;
	int ret = tx->failed ? tx->failed : j->error;

	if (ret) {
		tx_abort(tx);
		return ret;
	}
	for (size_t i = 0; i < tx->nblocks; i++) {
		uint64_t mask = tx_seal(tx, &tx->blocks[i]);
		pos = tx_log_block(&tx->blocks[i], mask, j->log, pos, &nrec);
	}
	if (nrec) {
		uint64_t span = (pos + UDAX_CACHELINE - 1) &
				~(uint64_t)(UDAX_CACHELINE - 1);
		if (j->head + span > j->area_size) {
			ret = journal_checkpoint_locked(fs);
			if (ret) {
				tx_abort(tx);
				return ret;
			}
		}
		memset(h, 0, sizeof(*h));
		h->magic = UDAX_JOURNAL_MAGIC;
		h->seq = j->seq++;
		h->nrec = nrec;
		h->bytes = pos;
		memcpy(h->uuid, fs->sb.uuid, 16);
		h->crc = udax_block_crc(j->log, pos,
					offsetof(struct udax_jhdr, crc));
		if (tx->data_flushed)
			dev_drain(fs->dev); /* data before the log */
		ret = dev_error(fs->dev);   /* no log for data not durable */
		if (!ret) {
			fs->dev->ops->memcpy_nt(fs->dev, j->area + j->head,
						j->log, pos);
			dev_drain(fs->dev); /* THE COMMIT POINT */
			ret = dev_error(fs->dev);
		}
		if (ret) {
			/* committed or not, the media may tell at the next
			 * open; in memory, and from now on, it is not */
			journal_shut_down(j, ret);
			tx_abort(tx);
			return ret;
		}
		j->head += span;
		journal_install(fs, j->log, pos);
		j->commits++;
	}
	/* blocks freed here are reused only after the next checkpoint: until
	 * then a replay could still write this transaction's predecessors
	 * into them */
	for (size_t i = 0; i < tx->nfrees; i++)
		journal_defer_free(fs, tx->frees[i].start, tx->frees[i].len);
	tx_release(tx, 1);
	return 0;
}

void tx_abort(struct tx *tx)
{
	for (size_t i = 0; i < tx->nallocs; i++)
		tx->fs->journal.space->put(tx->fs, tx->allocs[i].start,
					   tx->allocs[i].len);
	tx_release(tx, 0);
}

int journal_flush(struct udax_fs *fs)
{
	struct journal *j = &fs->journal;
	int ret;

	pthread_mutex_lock(&j->lock);
	ret = journal_checkpoint_locked(fs);
	pthread_mutex_unlock(&j->lock);
	return ret;
}
