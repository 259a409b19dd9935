/* SPDX-License-Identifier: MIT */
/*
 * pass0.c - Pass 0: superblock, device size, journal, state block
 *
 * Checks:
 *   - the device holds at least two blocks;
 *   - the primary superblock is sound (magic, checksum, geometry); if
 *     not, a sound backup (last block of the device, or of the file
 *     system as the primary says) replaces it, else one flipped bit that
 *     explains the checksum is flipped back; with none of these the run
 *     stops (operational error);
 *   - every incompatible and read-only feature is one this version
 *     implements (else the run stops: the library could not finish);
 *   - the device is as large as the file system (-y extends an image
 *     file), and the metadata can be read;
 *   - the backup superblock equals the primary;
 *   - the journal: committed transactions of this file system are
 *     replayed (reported only if that changes the image); one of another
 *     file system or one not well formed ends the log; the log is then
 *     emptied;
 *   - the state block is read (one flipped bit corrected in the copy);
 *     pass 5 reports and writes back what was wrong with it.
 * It also makes the work image (fsck.c says what that is).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/sys.h"
#include "fsck/fsck_int.h"

/* Find a good superblock: the primary, else a backup, else the primary
 * with one flipped bit. *which: 0 primary, 1 backup (at *backup_blk), 2
 * corrected primary (bit *bit). Returns 0 or an exit code. */
static int super_choose(struct fsck *fc, int *which, uint64_t *backup_blk,
			long *bit, const char **primary_why)
{
	const struct udax_super *p = (const void *)fc->dev->base;
	uint64_t devb = fc->dev->size >> UDAX_BLOCK_SHIFT;
	uint64_t cand[2];
	int nc = 0;

	*primary_why = udax_super_why(p);
	if (!*primary_why) {
		fc->sb = *p;
		*which = 0;
		return 0;
	}
	cand[nc++] = devb - 1;
	if (p->magic == UDAX_SUPER_MAGIC && p->block_count >= 2 &&
	    p->block_count - 1 < devb && p->block_count - 1 != devb - 1)
		cand[nc++] = p->block_count - 1;
	for (int i = 0; i < nc; i++) {
		const struct udax_super *b =
			(const void *)(fc->dev->base +
				       (cand[i] << UDAX_BLOCK_SHIFT));
		if (cand[i] == 0 || udax_super_why(b) ||
		    b->block_count - 1 != cand[i])
			continue;
		fc->sb = *b;
		*which = 1;
		*backup_blk = cand[i];
		return 0;
	}
	if (p->magic == UDAX_SUPER_MAGIC &&
	    udax_block_crc(p, UDAX_BLOCK_SIZE, SUPER_CRC_OFF) != p->crc) {
		long f = crc_find_flip(p, UDAX_BLOCK_SIZE, SUPER_CRC_OFF,
				       p->crc);
		if (f >= 0) {
			struct udax_super t = *p;
			flip_bit(&t, f);
			if (!udax_super_why(&t)) {
				fc->sb = t;
				*which = 2;
				*bit = f;
				return 0;
			}
		}
	}
	if (p->magic == UDAX_SUPER_MAGIC) {
		/* torn between its first line and its checksum by a crash
		 * while the log's copy was installed: the replay decides */
		struct udax_super t = *p;
		t.crc = udax_block_crc(&t, UDAX_BLOCK_SIZE, SUPER_CRC_OFF);
		if (!udax_super_why(&t)) {
			fc->sb = t;
			*which = 3;
			return 0;
		}
	}
	if (p->magic != UDAX_SUPER_MAGIC)
		return op_error(fc,
				"%s: not a udax file system (bad magic "
				"number, and no backup superblock found)",
				fc->name);
	return op_error(fc,
			"%s: the superblock is damaged (%s) and no good "
			"backup was found",
			fc->name, *primary_why);
}

/* Extend a truncated image file to the file system's size, and reopen
 * the device. Returns 0 or a negative errno. */
static int dev_extend(struct fsck *fc)
{
	struct stat st;
	int fd, ret = 0;

	fd = sys_open(fc->name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sys_fstat(fd, &st) || !S_ISREG(st.st_mode))
		ret = -ENOTSUP;
	else if (sys_ftruncate(fd, (off_t)(fc->nblocks << UDAX_BLOCK_SHIFT)))
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	dev_close(&fc->dev);
	ret = dev_open(&fc->dev, fc->name, 0, 0);
	return ret ? ret : fsck_lock(fc);
}

/* Make the work image: the device (-y), or a private map of it (-n) with
 * zeros past the end of a truncated image. */
static int work_image(struct fsck *fc)
{
	uint64_t devsize = fc->dev->size;
	uint64_t fssize = fc->nblocks << UDAX_BLOCK_SHIFT;
	uint64_t size = devsize > fssize ? devsize : fssize;
	void *p;

	if (fc->yes) {
		fc->base = fc->dev->base;
		fc->avail = devsize >> UDAX_BLOCK_SHIFT;
		fc->writable = 1;
		fc->shared = 1;
		return 0;
	}
	fc->base = fc->dev->base;
	fc->avail = devsize >> UDAX_BLOCK_SHIFT;
	if (fc->dev->fd < 0)
		return 0;
	/* without the private copy the journal could not be replayed, and
	 * the report would not be the one -y gives: an operational error */
	p = sys_mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return op_error(fc, "%s: cannot map a private copy: %s",
				fc->name, strerror(errno));
	if (sys_mmap(p, devsize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_FIXED, fc->dev->fd, 0) == MAP_FAILED) {
		int err = errno;
		sys_munmap(p, size);
		return op_error(fc, "%s: cannot map a private copy: %s",
				fc->name, strerror(err));
	}
	fc->base = p;
	fc->map_size = size;
	fc->avail = size >> UDAX_BLOCK_SHIFT;
	fc->writable = 1;
	return 0;
}

/* Is [off, off+len) a place a journal record may write? (FORMAT.md 5.5) */
static int jrec_target_ok(struct fsck *fc, uint64_t off, uint64_t len)
{
	uint64_t lo = 0; /* the superblocks too: a feature bit turned on */
	uint64_t hi = fc->nblocks << UDAX_BLOCK_SHIFT;
	uint64_t js = fc->sb.journal_start << UDAX_BLOCK_SHIFT;
	uint64_t je = js + (fc->sb.journal_blocks << UDAX_BLOCK_SHIFT);

	if (len == 0 || len > UDAX_BLOCK_SIZE || (len & 7) || off < lo ||
	    off > hi || len > hi - off ||
	    off + len > (fc->avail << UDAX_BLOCK_SHIFT))
		return 0;
	return off + len <= js || off >= je;
}

/* Call fn on every record of the `ntx` transactions of the log. */
static void journal_records(struct fsck *fc, uint8_t *area, uint64_t ntx,
			    void (*fn)(struct fsck *fc, uint64_t dev_off,
				       const uint8_t *data, uint32_t len,
				       uint8_t **save),
			    uint8_t **save)
{
	uint64_t pos = 0;

	for (uint64_t t = 0; t < ntx; t++) {
		struct udax_jhdr h;
		uint64_t p = sizeof(h);
		memcpy(&h, area + pos, sizeof(h));
		for (uint32_t i = 0; i < h.nrec; i++) {
			struct udax_jrec r;
			memcpy(&r, area + pos + p, sizeof(r));
			fn(fc, r.dev_off, area + pos + p + sizeof(r), r.len,
			   save);
			p += sizeof(r) + r.len;
		}
		pos += (h.bytes + UDAX_CACHELINE - 1) &
		       ~(uint64_t)(UDAX_CACHELINE - 1);
	}
}

static void jrec_save(struct fsck *fc, uint64_t dev_off, const uint8_t *data,
		      uint32_t len, uint8_t **save)
{
	(void)data;
	memcpy(*save, fc->base + dev_off, len);
	*save += len;
}

static void jrec_install(struct fsck *fc, uint64_t dev_off, const uint8_t *data,
			 uint32_t len, uint8_t **save)
{
	(void)save;
	img_write(fc, fc->base + dev_off, data, len);
}

static void jrec_compare(struct fsck *fc, uint64_t dev_off, const uint8_t *data,
			 uint32_t len, uint8_t **save)
{
	(void)data;
	if (memcmp(*save, fc->base + dev_off, len))
		fc->journal_changed = 1;
	*save += len;
}

/*
 * The journal (FORMAT.md 5): a log of the transactions committed since
 * the last checkpoint. fsck replays it as a read-write open would: from
 * offset 0, every committed transaction whose number follows the one
 * before; then it empties the log, so that no later open replays old
 * contents over fsck's repairs. Replaying a log that is already
 * installed (home copies up to date) changes nothing and is not
 * reported. A committed transaction of another file system, or one that
 * is not well formed, ends the log there (the library refuses such an
 * image); the transactions before it are replayed.
 */
static void journal_check(struct fsck *fc)
{
	uint8_t *area = blk_ptr(fc, fc->sb.journal_start);
	uint64_t asize = fc->sb.journal_blocks << UDAX_BLOCK_SHIFT;
	uint64_t pos = 0, seq = 0, ntx = 0, total = 0;
	uint8_t *save = NULL, *cur;
	uint32_t magic;

	for (;;) {
		struct udax_jhdr h;
		uint64_t p = sizeof(h), sum = 0;
		const char *why = NULL;
		uint32_t i;

		if (pos + sizeof(h) > asize)
			break;
		memcpy(&h, area + pos, sizeof(h));
		if (h.magic != UDAX_JOURNAL_MAGIC || h.bytes < sizeof(h) ||
		    h.bytes > asize - pos || (ntx && h.seq != seq) ||
		    udax_block_crc(area + pos, h.bytes,
				   offsetof(struct udax_jhdr, crc)) != h.crc)
			break; /* the end of the log */
		if (memcmp(h.uuid, fc->sb.uuid, 16)) {
			fix_problem(fc, PR_0_JOURNAL_STRANGER,
				    (unsigned long long)h.seq);
			break;
		}
		for (i = 0; i < h.nrec && !why; i++) {
			struct udax_jrec r;
			if (p + sizeof(r) > h.bytes) {
				why = "is cut short";
				break;
			}
			memcpy(&r, area + pos + p, sizeof(r));
			if (r.len > h.bytes - p - sizeof(r))
				why = "is cut short";
			else if (!jrec_target_ok(fc, r.dev_off, r.len))
				why = "points outside the metadata";
			else
				sum += r.len;
			p += sizeof(r) + r.len;
		}
		if (why) {
			fix_problem(fc, PR_0_JOURNAL_BAD,
				    (unsigned long long)h.seq, i, why);
			break;
		}
		total += sum;
		ntx++;
		seq = h.seq + 1;
		pos += (h.bytes + UDAX_CACHELINE - 1) &
		       ~(uint64_t)(UDAX_CACHELINE - 1);
	}
	if (ntx && !fc->writable) {
		fix_problem(fc, PR_0_JOURNAL_REPLAY, (unsigned long long)ntx);
	} else if (ntx) {
		save = sys_malloc(total ? total : 1);
		if (save) {
			cur = save;
			journal_records(fc, area, ntx, jrec_save, &cur);
		}
		journal_records(fc, area, ntx, jrec_install, NULL);
		fc->journal_changed = !save;
		if (save) {
			cur = save;
			journal_records(fc, area, ntx, jrec_compare, &cur);
		}
		free(save);
		if (fc->journal_changed)
			fix_problem(fc, PR_0_JOURNAL_REPLAY,
				    (unsigned long long)ntx);
		img_drain(fc);
	}
	memcpy(&magic, area, sizeof(magic));
	if (magic) {
		magic = 0;
		img_write(fc, area, &magic, sizeof(magic));
	}
}

/* Read the state block into fc->st, repairing one flipped bit in the
 * copy; what was wrong is reported in pass 5, which writes it back. */
static void state_load(struct fsck *fc)
{
	const struct udax_state *s =
		(const void *)blk_ptr(fc, UDAX_STATE_BLOCK);

	memcpy(&fc->st, s, sizeof(fc->st));
	fc->st_damage = ST_OK;
	if (udax_block_crc(&fc->st, UDAX_BLOCK_SIZE, 4) != fc->st.crc) {
		long f = crc_find_flip(&fc->st, UDAX_BLOCK_SIZE, 4, fc->st.crc);
		fc->st_damage = ST_CSUM;
		if (f >= 0) {
			flip_bit(&fc->st, f);
			fc->st_damage = ST_BIT;
			fc->st_bit = f;
		}
	}
	fc->st_why = NULL;
	if (fc->st.magic != UDAX_STATE_MAGIC)
		fc->st_why = "bad magic number";
	else if (fc->st.blkno != UDAX_STATE_BLOCK)
		fc->st_why = "wrong block number";
	if (fc->st_why) {
		memset(&fc->st, 0, sizeof(fc->st));
		fc->st.magic = UDAX_STATE_MAGIC;
		fc->st.blkno = UDAX_STATE_BLOCK;
		fc->st_damage = ST_BAD;
	}
	if (fc->st.orphan_head >= fc->ninodes)
		fc->st.orphan_head = 0; /* pass 5 rebuilds the list */
}

int fsck_pass0(struct fsck *fc)
{
	int which = 0, ret;
	uint64_t backup_blk = 0, devb;
	long bit = -1;
	const char *pwhy = NULL;

	pass_header(fc, 0);
	if (fc->dev->size < 2 * UDAX_BLOCK_SIZE)
		return op_error(fc, "%s: too small to hold a udax file system",
				fc->name);
	ret = super_choose(fc, &which, &backup_blk, &bit, &pwhy);
	if (ret)
		return ret;
	/* what the library implements: an image it refuses cannot be
	 * finished through it either */
	if (fc->sb.feat_incompat & ~(uint64_t)UDAX_FEAT_INCOMPAT_KNOWN)
		return op_error(fc,
				"%s: incompatible features 0x%llx that this "
				"version does not implement",
				fc->name,
				(unsigned long long)fc->sb.feat_incompat);
	if (fc->sb.feat_ro_compat & ~(uint64_t)UDAX_FEAT_RO_COMPAT_KNOWN)
		return op_error(fc,
				"%s: unknown read-only features 0x%llx; "
				"this fsck cannot check them",
				fc->name,
				(unsigned long long)fc->sb.feat_ro_compat);
	fc->nblocks = fc->sb.block_count;
	fc->ninodes = fc->sb.inode_count;

	devb = fc->dev->size >> UDAX_BLOCK_SHIFT;
	if (devb < fc->nblocks) {
		fix_problem(fc, PR_0_DEV_SMALL, (unsigned long long)devb,
			    (unsigned long long)fc->nblocks);
		if (fc->yes) {
			ret = dev_extend(fc);
			if (ret)
				return op_error(fc,
						"%s: cannot extend the "
						"image: %s",
						fc->name, strerror(-ret));
		}
	}
	ret = work_image(fc);
	if (ret)
		return ret;
	if (fc->avail < fc->sb.data_start)
		return op_error(fc,
				"%s: the metadata lies past the end of the "
				"device; cannot check",
				fc->name);

	/* the log may rewrite both superblocks (a feature turned on at the
	 * first clone, FORMAT.md 5.5), and a crash while it was installed
	 * leaves them torn or different: they are judged after the replay,
	 * as udax_open judges them */
	img_drain(fc);
	journal_check(fc);
	const struct udax_super *rp = (const void *)fc->base;
	if (!udax_super_why(rp) && rp->block_count == fc->sb.block_count &&
	    !(rp->feat_incompat & ~(uint64_t)UDAX_FEAT_INCOMPAT_KNOWN)) {
		memcpy(&fc->sb, rp, sizeof(fc->sb));
		which = 0;
	}
	if (which == 3)
		return op_error(fc,
				"%s: the superblock is damaged (%s) and no "
				"good backup was found",
				fc->name, pwhy);
	if (which == 1 && fix_problem(fc, PR_0_SB_PRIMARY, pwhy,
				      (unsigned long long)backup_blk))
		img_write(fc, fc->base, &fc->sb, sizeof(fc->sb));
	if (which == 2 && fix_problem(fc, PR_0_SB_BIT, (unsigned)(bit / 8),
				      (unsigned)(bit % 8)))
		img_write(fc, fc->base, &fc->sb, sizeof(fc->sb));
	uint8_t *bk = blk_ptr(fc, fc->nblocks - 1);
	if (bk && memcmp(bk, &fc->sb, sizeof(fc->sb))) {
		const char *bwhy = udax_super_why((const void *)bk);
		char what[96];
		if (bwhy)
			snprintf(what, sizeof(what), "is damaged (%s)", bwhy);
		else
			snprintf(what, sizeof(what),
				 "differs from the primary");
		if (fix_problem(fc, PR_0_SB_BACKUP,
				(unsigned long long)(fc->nblocks - 1), what))
			img_write(fc, bk, &fc->sb, sizeof(fc->sb));
	}
	img_drain(fc);
	state_load(fc);
	img_drain(fc);
	return 0;
}
