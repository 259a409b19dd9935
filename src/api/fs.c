/* SPDX-License-Identifier: MIT */
/*
 * fs.c - create, open and close a file system; statfs, sync, errors.
 */
#include <errno.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "api.h"
#include "btree/btree.h"
#include "fault/fault.h"
#include "sys/sys.h"

#define MKFS_MIN_BYTES (4ull << 20)
#define MKFS_DEFAULT_FILE_BYTES (64ull << 20)

const char *udax_strerror(int err)
{
	if (err == UDAX_ECORRUPT)
		return "File system image is damaged";
	return strerror(err < 0 ? -err : err);
}

/* ---- mkfs ---- */

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/* Compute the layout of a file system of nblocks blocks. */
static int mkfs_layout(struct udax_super *sb, uint64_t nblocks,
		       const struct udax_mkfs_opts *o)
{
	uint64_t jbytes = o->journal_size;
	uint64_t ninodes = o->inode_count;

	if (!jbytes) {
		jbytes = (nblocks << UDAX_BLOCK_SHIFT) / 256;
		if (jbytes < (1ull << 20))
			jbytes = 1ull << 20;
		if (jbytes > (16ull << 20))
			jbytes = 16ull << 20;
	}
	if (jbytes < (256ull << 10) || jbytes > (1ull << 30))
		return -EINVAL;
	if (!ninodes)
		ninodes = nblocks / 4;
	if (ninodes < 64)
		ninodes = 64;
	ninodes =
		div_up(ninodes, UDAX_INODES_PER_BLOCK) * UDAX_INODES_PER_BLOCK;
	if (ninodes > (1ull << 32))
		return -EINVAL;
	memset(sb, 0, sizeof(*sb));
	sb->magic = UDAX_SUPER_MAGIC;
	sb->version = UDAX_FORMAT_VERSION;
	sb->block_size = UDAX_BLOCK_SIZE;
	sb->block_count = nblocks;
	sb->journal_start = UDAX_JOURNAL_START;
	sb->journal_blocks = div_up(jbytes, UDAX_BLOCK_SIZE);
	sb->bbmap_start = sb->journal_start + sb->journal_blocks;
	sb->bbmap_blocks = div_up(nblocks, UDAX_BITMAP_BITS);
	sb->ibmap_start = sb->bbmap_start + sb->bbmap_blocks;
	sb->ibmap_blocks = div_up(ninodes, UDAX_BITMAP_BITS);
	sb->itable_start = sb->ibmap_start + sb->ibmap_blocks;
	sb->itable_blocks = ninodes / UDAX_INODES_PER_BLOCK;
	sb->inode_count = ninodes;
	sb->data_start = sb->itable_start + sb->itable_blocks;
	sb->root_ino = UDAX_ROOT_INO;
	sb->feat_ro_compat =
		UDAX_FEAT_RO_COMPAT_XATTR | UDAX_FEAT_RO_COMPAT_SPECIAL;
	if (sb->data_start + 64 > nblocks)
		return -ENOSPC;
	return 0;
}

static void bitmap_init(struct udax_bitmap *bm, uint64_t blkno, uint64_t first)
{
	memset(bm, 0, sizeof(*bm));
	bm->magic = UDAX_BITMAP_MAGIC;
	bm->blkno = blkno;
	bm->first = first;
}

static void bitmap_seal(struct udax_bitmap *bm)
{
	bm->crc = udax_block_crc(bm, UDAX_BLOCK_SIZE, 4);
}

static void bitmap_mark(struct dev *dev, const struct udax_super *sb,
			uint64_t start, uint64_t blk)
{
	struct udax_bitmap *bm =
		(void *)(dev->base + ((start + blk / UDAX_BITMAP_BITS)
				      << UDAX_BLOCK_SHIFT));
	uint64_t bit = blk % UDAX_BITMAP_BITS;
	(void)sb;
	bm->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* Smallest step of mkfs_metadata_pass(); steps are also at least 1/256
 * of the work, so that progress is told a few hundred times at most. */
#define MKFS_STEP_BYTES (4ull << 20)

/* Zero (zero = 1) or make durable (zero = 0) the len bytes of metadata
 * at addr, in steps that tell o->progress: on a large device mkfs spends
 * its time here. */
static void mkfs_metadata_pass(struct dev *dev, uint8_t *addr, uint64_t len,
			       int zero, const struct udax_mkfs_opts *o)
{
	const char *phase =
		zero ? "zeroing the metadata" : "writing the metadata";
	uint64_t step =
		len / 256 > MKFS_STEP_BYTES ? len / 256 : MKFS_STEP_BYTES;

	for (uint64_t off = 0; off < len; off += step) {
		uint64_t n = len - off < step ? len - off : step;

		if (zero)
			memset(addr + off, 0, n);
		else
			dev_flush(dev, addr + off, n);
		if (o->progress)
			o->progress(o->progress_arg, phase, off + n, len);
	}
	if (!zero)
		dev_drain(dev);
}

/* Write a fresh file system onto an open device. */
static int mkfs_dev(struct dev *dev, const struct udax_mkfs_opts *o)
{
	struct udax_super sb;
	uint64_t nblocks = dev->size >> UDAX_BLOCK_SHIFT;
	int ret;

	if (dev->size < MKFS_MIN_BYTES)
		return -ENOSPC;
	ret = mkfs_layout(&sb, nblocks, o);
	if (ret)
		return ret;
	if (o->uuid) {
		memcpy(sb.uuid, o->uuid, 16);
	} else if (sys_getrandom(sb.uuid, 16, 0) != 16) {
		return -EIO;
	}
	if (sys_getrandom(&sb.hash_seed, 8, 0) != 8)
		return -EIO;
	sb.mkfs_time_ns = fs_now_ns();

	/* metadata area and backup superblock: start from zeros */
	uint8_t *base = dev->base;
	mkfs_metadata_pass(dev, base, sb.data_start << UDAX_BLOCK_SHIFT, 1, o);
	memset(base + ((nblocks - 1) << UDAX_BLOCK_SHIFT), 0, UDAX_BLOCK_SIZE);

	for (uint64_t b = 0; b < sb.bbmap_blocks; b++)
		bitmap_init((void *)(base + ((sb.bbmap_start + b)
					     << UDAX_BLOCK_SHIFT)),
			    sb.bbmap_start + b, b * UDAX_BITMAP_BITS);
	for (uint64_t b = 0; b < sb.ibmap_blocks; b++)
		bitmap_init((void *)(base + ((sb.ibmap_start + b)
					     << UDAX_BLOCK_SHIFT)),
			    sb.ibmap_start + b, b * UDAX_BITMAP_BITS);
	for (uint64_t b = 0; b < sb.data_start; b++)
		bitmap_mark(dev, &sb, sb.bbmap_start, b);
	bitmap_mark(dev, &sb, sb.bbmap_start, nblocks - 1);
	bitmap_mark(dev, &sb, sb.ibmap_start, 0);
	bitmap_mark(dev, &sb, sb.ibmap_start, UDAX_ROOT_INO);
	for (uint64_t b = 0; b < sb.bbmap_blocks; b++)
		bitmap_seal((void *)(base + ((sb.bbmap_start + b)
					     << UDAX_BLOCK_SHIFT)));
	for (uint64_t b = 0; b < sb.ibmap_blocks; b++)
		bitmap_seal((void *)(base + ((sb.ibmap_start + b)
					     << UDAX_BLOCK_SHIFT)));

	struct udax_state *st =
		(void *)(base + (UDAX_STATE_BLOCK << UDAX_BLOCK_SHIFT));
	st->magic = UDAX_STATE_MAGIC;
	st->blkno = UDAX_STATE_BLOCK;
	st->generation = 2;
	st->crc = udax_block_crc(st, UDAX_BLOCK_SIZE, 4);

	struct udax_inode *root =
		(void *)(base +
			 ((sb.itable_start +
			   UDAX_ROOT_INO / UDAX_INODES_PER_BLOCK)
			  << UDAX_BLOCK_SHIFT) +
			 (UDAX_ROOT_INO % UDAX_INODES_PER_BLOCK) *
				 UDAX_INODE_SIZE);
	root->magic = UDAX_INODE_MAGIC;
	root->mode = S_IFDIR | 0755;
	root->nlink = 2;
	root->ino = UDAX_ROOT_INO;
	root->uid = geteuid();
	root->gid = getegid();
	root->atime_ns = root->mtime_ns = root->ctime_ns = root->btime_ns =
		sb.mkfs_time_ns;
	root->generation = 1;
	root->parent = UDAX_ROOT_INO;
	root->crc = udax_block_crc(root, UDAX_INODE_SIZE,
				   offsetof(struct udax_inode, crc));

	/* everything but the superblocks, durable first */
	mkfs_metadata_pass(dev, base + UDAX_BLOCK_SIZE,
			   (sb.data_start - 1) << UDAX_BLOCK_SHIFT, 0, o);
	sb.crc = udax_block_crc(&sb, UDAX_BLOCK_SIZE,
				offsetof(struct udax_super, crc));
	memcpy(base + ((nblocks - 1) << UDAX_BLOCK_SHIFT), &sb, sizeof(sb));
	memcpy(base, &sb, sizeof(sb));
	dev_flush(dev, base + ((nblocks - 1) << UDAX_BLOCK_SHIFT), sizeof(sb));
	dev_persist(dev, base, sizeof(sb));
	return dev_error(dev);
}

int udax_mkfs(const char *device, const struct udax_mkfs_opts *opts)
{
	struct udax_mkfs_opts o = {0};
	struct dev *dev;
	int ret;

	if (opts)
		o = *opts;
	if (o.size && o.size < MKFS_MIN_BYTES)
		return -ENOSPC;
	ret = dev_open(
		&dev, device,
		o.size ? o.size :
			 (access(device, F_OK) ? MKFS_DEFAULT_FILE_BYTES : 0),
		0);
	if (ret)
		return ret;
	if (o.size && o.size < dev->size && dev->kind == DEV_MEMORY)
		dev->size = o.size & ~(uint64_t)(UDAX_BLOCK_SIZE - 1);
	ret = mkfs_dev(dev, &o);
	dev_close(&dev);
	return ret;
}

/* ---- open ---- */

/* Why a superblock cannot be used by this library, or NULL. */
static const char *super_why_fs(struct udax_fs *fs, const struct udax_super *sb)
{
	uint64_t nb = fs->dev->size >> UDAX_BLOCK_SHIFT;
	const char *why = NULL;

	if (sb->magic != UDAX_SUPER_MAGIC)
		why = "bad magic number: not a udax file system";
	else
		why = udax_super_why(sb);
	if (!why && sb->block_count > nb)
		why = "the device is smaller than the file system "
		      "(truncated image?)";
	if (!why && (sb->feat_incompat & ~(uint64_t)UDAX_FEAT_INCOMPAT_KNOWN))
		why = "incompatible features this library does not implement";
	return why;
}

static int super_check(struct udax_fs *fs, const struct udax_super *sb,
		       const char *which)
{
	const char *why = super_why_fs(fs, sb);
	if (!why)
		return 0;
	if (!fs->quiet)
		fprintf(stderr, "udax: %s: %s superblock: %s\n", fs->dev->name,
			which, why);
	return UDAX_ECORRUPT;
}

/* Fill fs->sb with the superblock this open starts from: the primary;
 * or, when it fails its checks and a read-write open will replay the
 * journal, the backup, or the primary with its checksum recomputed if
 * every field is sound: a crash while a transaction that turns a feature
 * on was installed or replayed can leave both superblocks torn between
 * their first line and their checksum, and the log rewrites them whole
 * (FORMAT.md 5.5). *torn says the superblock must pass after the replay.
 * Returns 0 or UDAX_ECORRUPT (said on stderr). */
static int super_pick(struct udax_fs *fs, int *torn)
{
	const struct udax_super *p = (const void *)fs->dev->base;
	uint64_t nb = fs->dev->size >> UDAX_BLOCK_SHIFT;

	*torn = 0;
	memcpy(&fs->sb, p, sizeof(fs->sb));
	if (!super_why_fs(fs, p))
		return 0;
	if (fs->read_only || p->magic != UDAX_SUPER_MAGIC ||
	    p->block_count < 2 || p->block_count > nb)
		return super_check(fs, p, "primary");
	const struct udax_super *b =
		(const void *)(fs->dev->base +
			       ((p->block_count - 1) << UDAX_BLOCK_SHIFT));
	if (!super_why_fs(fs, b) && b->block_count == p->block_count)
		memcpy(&fs->sb, b, sizeof(fs->sb));
	else
		fs->sb.crc = udax_block_crc(&fs->sb, UDAX_BLOCK_SIZE,
					    offsetof(struct udax_super, crc));
	if (super_why_fs(fs, &fs->sb))
		return super_check(fs, p, "primary");
	*torn = 1;
	return 0;
}

static void fs_free(struct udax_fs *fs)
{
	fault_fs_fini(fs);
	pthread_mutex_destroy(&fs->fault_lock);
	pthread_mutex_destroy(&fs->idle_lock);
	pthread_cond_destroy(&fs->idle_cond);
	if (fs->icache.table)
		icache_fini(fs);
	free(fs->ino_bits);
	free((void *)fs->ino_verified);
	bt_verified_fini(fs);
	alloc_fini(fs);
	if (fs->journal.log)
		journal_fini(fs);
	dev_close(&fs->dev); /* and the opener's lock with it */
	pthread_rwlock_destroy(&fs->refcount_lock);
	pthread_rwlock_destroy(&fs->ns_lock);
	free(fs);
}

static int fs_open_dev(struct udax_fs **fsp, struct dev *dev,
		       const struct udax_open_opts *opts)
{
	struct udax_fs *fs;
	const struct udax_state *st;
	uint64_t unknown_ro;
	int ret, err, torn;

	*fsp = NULL;
	fs = sys_calloc(1, sizeof(*fs));
	if (!fs) {
		dev_close(&dev);
		return -ENOMEM;
	}
	pthread_rwlock_init(&fs->ns_lock, NULL);
	pthread_rwlock_init(&fs->refcount_lock, NULL);
	pthread_mutex_init(&fs->fault_lock, NULL);
	pthread_mutex_init(&fs->idle_lock, NULL);
	fs_cond_init(&fs->idle_cond);
	fs->dev = dev;
	fs->read_only = opts && opts->read_only;
	fs->quiet = opts && opts->quiet;
	if (dev->size < 2 * UDAX_BLOCK_SIZE) {
		ret = fs_corrupt(fs, "device too small to hold a udax file "
				     "system");
		goto free_fs;
	}
	ret = super_pick(fs, &torn);
	if (ret)
		goto free_fs;
	/* a writer that ignored these features would break their
	 * invariants (FORMAT.md, 13) */
	unknown_ro =
		fs->sb.feat_ro_compat & ~(uint64_t)UDAX_FEAT_RO_COMPAT_KNOWN;
	if (unknown_ro && !fs->read_only) {
		if (!fs->quiet)
			fprintf(stderr,
				"udax: %s: features this library can only "
				"read (read-only-compatible bits 0x%llx); "
				"open it read-only\n",
				dev->name, (unsigned long long)unknown_ro);
		ret = -EROFS;
		goto free_fs;
	}
	fs->nblocks = fs->sb.block_count;
	ret = journal_init(fs);
	if (ret)
		goto free_fs;
	if (fs->read_only) {
		ret = journal_needs_replay(fs);
		if (ret > 0) {
			ret = -EROFS;
			if (!fs->quiet)
				fprintf(stderr,
					"udax: %s: the journal needs "
					"recovery; open read-write "
					"first\n",
					dev->name);
		}
	} else {
		ret = journal_replay(fs);
	}
	if (ret < 0)
		goto free_fs;
	/* the log may have turned a feature on (REFLINK at a first clone,
	 * FORMAT.md 5.5): the replayed superblock is the one to keep */
	if (ret > 0 || torn) {
		ret = super_check(fs, (const void *)dev->base, "primary");
		if (ret)
			goto free_fs;
		memcpy(&fs->sb, dev->base, sizeof(fs->sb));
	}
	st = (const void *)fs_block(fs, UDAX_STATE_BLOCK);
	if (st->magic != UDAX_STATE_MAGIC || st->blkno != UDAX_STATE_BLOCK ||
	    udax_block_crc(st, UDAX_BLOCK_SIZE, 4) != st->crc ||
	    st->orphan_head >= fs->sb.inode_count) {
		ret = fs_corrupt(fs, "state block is damaged");
		goto free_fs;
	}
	if (st->refcount_root &&
	    !(fs->sb.feat_incompat & UDAX_FEAT_INCOMPAT_REFLINK)) {
		ret = fs_corrupt(fs, "state block: a refcount tree, but the "
				     "reflink feature is off");
		goto free_fs;
	}
	fs->reflinked = !!(fs->sb.feat_incompat & UDAX_FEAT_INCOMPAT_REFLINK);
	ret = bt_verified_init(fs);
	if (!ret)
		ret = alloc_init(fs);
	if (!ret)
		ret = inode_bitmap_init(fs);
	if (!ret)
		ret = icache_init(fs);
	if (ret)
		goto free_fs;
	const struct udax_inode *root = inode_r(fs, NULL, UDAX_ROOT_INO, &err);
	if (!root || !S_ISDIR(root->mode)) {
		ret = fs_corrupt(fs, "root directory inode is damaged");
		goto free_fs;
	}
	if (!fs->read_only) {
		ret = orphan_recover(fs);
		if (ret)
			goto free_fs;
	}
	*fsp = fs;
	return 0;

free_fs:
	fs_free(fs);
	return ret;
}

int udax_open(struct udax_fs **fsp, const char *device,
	      const struct udax_open_opts *opts)
{
	struct dev *dev;
	int ret;

	*fsp = NULL;
	ret = dev_open(&dev, device, 0, opts && opts->read_only);
	if (!ret && dev->fd >= 0 &&
	    sys_flock(dev->fd, ((opts && opts->read_only) ? LOCK_SH : LOCK_EX) |
				       LOCK_NB)) {
		/* one writer at a time: udax has no sharing between
		 * processes (yet); readers may share */
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (!(opts && opts->quiet))
			fprintf(stderr, "udax: %s: %s\n", device,
				ret == -EBUSY ? "in use by another opener" :
						strerror(-ret));
		dev_close(&dev);
		return ret;
	}
	if (ret == -EINVAL && device && strncmp(device, "memfd:", 6)) {
		/* a file too small to map holds no udax file system */
		if (!(opts && opts->quiet))
			fprintf(stderr,
				"udax: %s: too small to hold a udax file "
				"system\n",
				device);
		return UDAX_ECORRUPT;
	}
	if (ret) {
		if (!(opts && opts->quiet))
			fprintf(stderr, "udax: %s: %s\n", device ? device : "",
				strerror(-ret));
		return ret;
	}
	return fs_open_dev(fsp, dev, opts);
}

int udax_open_memory(struct udax_fs **fsp, uint64_t size)
{
	struct udax_mkfs_opts mo = {0};
	struct dev *dev;
	char name[256];
	int ret;

	*fsp = NULL;
	/* tests run on other devices through UDAX_MEMORY_DEVICE (make
	 * pmem-check): "memfd-huge" (huge pages), or a folder, e.g. on a
	 * DAX mount, in which an image file is made and unlinked at once */
	const char *other = getenv("UDAX_MEMORY_DEVICE");
	if (other && *other == '/') {
		snprintf(name, sizeof(name), "%.180s/udax-mem-XXXXXX", other);
		int fd = mkstemp(name);
		if (fd < 0)
			return -errno;
		close(fd);
		ret = dev_open(&dev, name, size, 0);
		unlink(name);
	} else {
		snprintf(name, sizeof(name), "%s:udax:%llu",
			 other && !strcmp(other, "memfd-huge") ? "memfd-huge" :
								 "memfd",
			 (unsigned long long)size);
		ret = dev_open(&dev, name, 0, 0);
	}
	if (ret)
		return ret;
	ret = mkfs_dev(dev, &mo);
	if (ret) {
		dev_close(&dev);
		return ret;
	}
	return fs_open_dev(fsp, dev, NULL);
}

int udax_open_device(struct udax_fs **fsp, struct dev *dev, int do_mkfs,
		     const struct udax_open_opts *opts)
{
	struct udax_mkfs_opts mo = {0};
	int ret;

	if (do_mkfs) {
		ret = mkfs_dev(dev, &mo);
		if (ret) {
			dev_close(&dev);
			return ret;
		}
	}
	return fs_open_dev(fsp, dev, opts);
}

struct dev *udax_fs_device(struct udax_fs *fs)
{
	return fs->dev;
}

/* Files or directories open, mappings or pins: udax_close waits or
 * refuses. */
static int fs_in_use(struct udax_fs *fs)
{
	return atomic_load(&fs->open_handles) > 0 || fault_fs_maps(fs) > 0 ||
	       layout_pin_count(fs) > 0;
}

int udax_close_wait(struct udax_fs **fsp, int timeout_ms)
{
	struct udax_fs *fs = *fsp;
	int64_t deadline = timeout_ms < 0 ?
				   INT64_MAX :
				   fs_mono_ns() + (int64_t)timeout_ms * 1000000;
	int busy;

	if (!fs)
		return -EINVAL;
	/* the waiter counted first, then the check: a release whose count
	 * went down after the check sees the waiter and signals under
	 * idle_lock, so no wakeup is lost (fs_release_end) */
	pthread_mutex_lock(&fs->idle_lock);
	atomic_fetch_add(&fs->idle_waiters, 1);
	while ((busy = fs_in_use(fs)) &&
	       fs_cond_wait_until(&fs->idle_cond, &fs->idle_lock, deadline) !=
		       ETIMEDOUT)
		;
	atomic_fetch_sub(&fs->idle_waiters, 1);
	pthread_mutex_unlock(&fs->idle_lock);
	if (busy && fs_in_use(fs))
		return -EBUSY;
	/* the last releases are a few instructions from their end */
	while (atomic_load(&fs->releasing))
		sched_yield();
	return udax_close(fsp);
}

int udax_close(struct udax_fs **fsp)
{
	struct udax_fs *fs = *fsp;
	int ret = 0;

	if (!fs)
		return -EINVAL;
	if (fs_in_use(fs))
		return -EBUSY;
	if (!fs->read_only) {
		ret = journal_flush(fs);
		dev_drain(fs->dev);
	}
	fs_free(fs);
	*fsp = NULL;
	return ret;
}

int udax_sync(struct udax_fs *fs)
{
	int ret;

	dev_drain(fs->dev);
	ret = journal_flush(fs);
	return ret ? ret : dev_error(fs->dev);
}

const char *udax_version(void)
{
	return UDAX_VERSION_STRING;
}

int udax_info(struct udax_fs *fs, struct udax_info *info)
{
	static const char *kinds[] = {"memory", "file", "dax", "crash"};
	uint64_t free;

	memset(info, 0, sizeof(*info));
	info->format_version = fs->sb.version;
	memcpy(info->uuid, fs->sb.uuid, 16);
	info->block_size = fs->sb.block_size;
	info->block_count = fs->sb.block_count;
	alloc_counts(&fs->alloc, atomic_load(&fs->journal.dfree_blocks), &free,
		     &info->free_blocks);
	info->inode_count = fs->sb.inode_count - 1;
	pthread_mutex_lock(&fs->ino_lock);
	info->free_inodes = fs->ino_free;
	pthread_mutex_unlock(&fs->ino_lock);
	info->journal_bytes = fs->sb.journal_blocks << UDAX_BLOCK_SHIFT;
	info->data_start = fs->sb.data_start;
	info->features = fs->sb.feat_incompat;
	info->mkfs_time_ns = fs->sb.mkfs_time_ns;
	info->commits = fs->journal.commits;
	info->read_only = fs->read_only;
	snprintf(info->device_kind, sizeof(info->device_kind), "%s",
		 kinds[fs->dev->kind]);
	snprintf(info->persistence, sizeof(info->persistence), "%s",
		 fs->dev->gran == DEV_GRAN_PAGE ? "page (msync)" :
		 fs->dev->gran == DEV_GRAN_CACHELINE ?
						  "cache line (flush+fence)" :
						  "byte (fence)");
	snprintf(info->flush_insn, sizeof(info->flush_insn), "%s",
		 dev_flush_name(fs->dev));
	info->map_unit = fs->dev->map_unit;
	return 0;
}

int udax_statfs(struct udax_fs *fs, struct statvfs *st)
{
	uint64_t fsid, free, avail;

	memset(st, 0, sizeof(*st));
	st->f_bsize = UDAX_BLOCK_SIZE;
	st->f_frsize = UDAX_BLOCK_SIZE;
	st->f_blocks = fs->nblocks;
	/* the pool kept for tree nodes is free, but not available */
	alloc_counts(&fs->alloc, atomic_load(&fs->journal.dfree_blocks), &free,
		     &avail);
	st->f_bfree = free;
	st->f_bavail = avail;
	st->f_files = fs->sb.inode_count - 1;
	pthread_mutex_lock(&fs->ino_lock);
	st->f_ffree = fs->ino_free;
	pthread_mutex_unlock(&fs->ino_lock);
	st->f_favail = st->f_ffree;
	memcpy(&fsid, fs->sb.uuid, 8);
	st->f_fsid = (unsigned long)fsid;
	st->f_namemax = UDAX_NAME_MAX;
	st->f_flag = fs->read_only ? ST_RDONLY : 0;
	return 0;
}
