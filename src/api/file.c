/* SPDX-License-Identifier: MIT */
/*
 * file.c - open files: open/create, read, write, truncate, fallocate,
 * sync, stat, seek, extent listing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "btree/btree.h"
#include "fault/fault.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

static int is_dot_name(const struct namei *nd)
{
	return nd->name[0] == '.' &&
	       (nd->len == 1 || (nd->len == 2 && nd->name[1] == '.'));
}

static int may_read(const struct udax_file *f)
{
	return (f->flags & O_ACCMODE) != O_WRONLY;
}

static int may_write(const struct udax_file *f)
{
	return (f->flags & O_ACCMODE) != O_RDONLY;
}

void api_stat_inode(struct udax_fs *fs, const struct udax_inode *di,
		    struct stat *st)
{
	struct icache *c = &fs->icache;
	int64_t pending = 0;

	pthread_mutex_lock(&c->lock);
	for (struct inode *ip =
		     c->table[(size_t)(di->ino * 0x9E3779B97F4A7C15ull >> 32) &
			      (c->size - 1)];
	     ip; ip = ip->next)
		if (ip->ino == di->ino)
			pending = ip->mtime_pending;
	pthread_mutex_unlock(&c->lock);
	inode_to_stat(di, NULL, st);
	if (pending) {
		st->st_mtim.tv_sec = pending / 1000000000;
		st->st_mtim.tv_nsec = pending % 1000000000;
		st->st_ctim = st->st_mtim;
	}
}

int api_zero_tail(struct inode *ip, uint64_t size)
{
	uint64_t part = size & (UDAX_BLOCK_SIZE - 1);
	uint64_t page = size & ~(uint64_t)(FAULT_PAGE - 1);
	int ret;

	if (!part)
		return 0;
	/* a shared last block is copied before it is zeroed: no mapping
	 * may go on showing the old one (callers broke the layout of that
	 * page already where pins could reach it) */
	ret = iomap_has_shared(ip, size, UDAX_BLOCK_SIZE - part,
			       &udax_iomap_ops);
	if (ret > 0 && ip->maps)
		ret = fault_zap(ip, page, FAULT_PAGE);
	if (ret < 0)
		return ret;
	return iomap_zero_range(ip, size, UDAX_BLOCK_SIZE - part,
				&udax_iomap_ops);
}

int api_cow_break(struct inode *ip, uint64_t lo, uint64_t hi)
{
	int ret = iomap_has_shared(ip, lo, hi - lo, &udax_iomap_ops);

	if (ret <= 0)
		return ret;
	ret = layout_break(ip, lo, hi - lo);
	return ret ? ret : 1;
}

struct punch_count {
	uint64_t freed;
};

static int punch_release(struct btree *bt, uint64_t dev, uint64_t len,
			 void *arg)
{
	return ext_release_count(bt, dev, len,
				 &((struct punch_count *)arg)->freed);
}

/* Replace mapped block `fblk` by a copy whose bytes [zoff, zoff+zlen)
 * are zero, in tx: zeroing part of a block then commits with the rest of
 * the operation instead of changing data in place. */
static int cow_zero_block(struct tx *tx, struct btree *bt, uint64_t fblk,
			  uint32_t zoff, uint32_t zlen, struct punch_count *pc)
{
	struct udax_fs *fs = tx->fs;
	struct dev *dev = fs->dev;
	struct ext_map m;
	uint64_t nb, got;
	int ret;

	ret = ext_map(bt, fblk, &m);
	if (ret || m.hole || (m.flags & UDAX_EXT_UNWRITTEN))
		return ret; /* reads as zeros already */
	ret = alloc_reserve_fs(fs, 1, 1);
	if (ret)
		return ret;
	ret = alloc_take(&fs->alloc, m.dev, 1, 0, &nb, &got);
	if (ret) {
		alloc_unreserve(&fs->alloc, 1);
		return ret;
	}
	ret = tx_use_blocks(tx, nb, 1); /* tx owns nb from here */
	if (ret)
		return ret;
	uint8_t *dst = fs_block(fs, nb);
	const uint8_t *src = fs_block(fs, m.dev);
	dev->ops->memcpy_nt(dev, dst, src, zoff);
	dev->ops->memzero_nt(dev, dst + zoff, zlen);
	dev->ops->memcpy_nt(dev, dst + zoff + zlen, src + zoff + zlen,
			    UDAX_BLOCK_SIZE - zoff - zlen);
	tx->data_flushed = 1;
	ret = ext_remove(bt, fblk, 1, punch_release, pc, NULL);
	if (!ret)
		ret = ext_insert(bt, fblk, nb, 1, 0);
	pc->freed--; /* the copy replaces the block */
	return ret;
}

/* Allocate unwritten blocks for the hole [fblk, fblk+n) in tx. */
static int alloc_unwritten(struct tx *tx, struct btree *bt, uint64_t fblk,
			   uint64_t n, struct punch_count *pc)
{
	struct alloc *a = &tx->fs->alloc;
	int ret;

	ret = alloc_reserve_fs(tx->fs, n, 0);
	if (ret)
		return ret;
	while (n) {
		uint64_t start, got;
		ret = alloc_take(a, 0, n, n >= UDAX_HUGE_BLOCKS, &start, &got);
		if (ret) {
			alloc_unreserve(a, n);
			return ret;
		}
		ret = tx_use_blocks(tx, start, got);
		if (!ret)
			ret = ext_insert(bt, fblk, start, got,
					 UDAX_EXT_UNWRITTEN);
		pc->freed -= got;
		fblk += got;
		n -= got;
		if (ret) {
			alloc_unreserve(a, n);
			return ret;
		}
	}
	return 0;
}

int api_punch_range(struct inode *ip, uint64_t off, uint64_t len, int zero)
{
	struct udax_fs *fs = ip->fs;
	uint64_t end = off + len;
	uint64_t first = (off + UDAX_BLOCK_SIZE - 1) >> UDAX_BLOCK_SHIFT;
	uint64_t last = end >> UDAX_BLOCK_SHIFT; /* whole blocks [first,last) */
	uint64_t hblk = off >> UDAX_BLOCK_SHIFT, tblk = last;
	int do_head = (off & (UDAX_BLOCK_SIZE - 1)) != 0;
	int do_tail = (end & (UDAX_BLOCK_SIZE - 1)) != 0 &&
		      !(do_head && hblk == tblk);
	int ret;

	if (first > last)
		first = last = hblk + 1; /* inside one block */
	for (int pass = 0;; pass++) {
		struct tx *tx = tx_begin(fs);
		struct udax_inode *di = inode_w(tx, ip->ino);
		struct punch_count pc = {0};
		struct btree bt;
		uint64_t next = last;

		if (!di) {
			ret = tx->failed;
			tx_abort(tx);
			return ret;
		}
		bt_init(&bt, fs, tx, di->root, ip->ino, UDAX_TREE_EXTENT);
		ret = 0;
		if (pass == 0 && do_head) {
			uint32_t zo = (uint32_t)(off & (UDAX_BLOCK_SIZE - 1));
			uint64_t ze = end < ((hblk + 1) << UDAX_BLOCK_SHIFT) ?
					      end & (UDAX_BLOCK_SIZE - 1) :
					      UDAX_BLOCK_SIZE;
			ret = cow_zero_block(tx, &bt, hblk, zo,
					     (uint32_t)(ze - zo), &pc);
		}
		if (!ret && pass == 0 && do_tail)
			ret = cow_zero_block(
				tx, &bt, tblk, 0,
				(uint32_t)(end & (UDAX_BLOCK_SIZE - 1)), &pc);
		if (!ret && first < last)
			ret = ext_remove(&bt, first, last - first,
					 punch_release, &pc, &next);
		if (!ret && zero && next == last && first < last)
			ret = alloc_unwritten(tx, &bt, first, last - first,
					      &pc);
		di = ret ? NULL : inode_w(tx, ip->ino);
		if (!di) {
			ret = ret ? ret : tx->failed;
			tx_abort(tx);
			return ret;
		}
		di->root = bt.root;
		di->blocks += (uint64_t)bt.nodes_delta - pc.freed;
		di->mtime_ns = di->ctime_ns = fs_now_ns();
		ret = tx_commit(tx);
		if (ret || next >= last)
			return ret;
		first = next;
	}
}

/*
 * Units. On a device that maps only whole units (dev->map_unit above a
 * block: memfd-huge, devdax at 2 MiB; docs/DESIGN.md, "Devices that map
 * only in 2 MiB units"), a punch, zero range or truncate that covers part
 * of a unit mapped whole (one written extent on aligned device blocks)
 * zeroes that part in place and keeps the unit's blocks, as hugetlbfs
 * zeroes part of a huge page. The unit stays whole, so its next fault
 * maps it again; freeing the part would leave the unit in pieces, and the
 * next fault would have to remap it onto a fresh unit, which a pin on any
 * other page of it refuses (the access then gets SIGBUS). Callers broke
 * the layout of the range first (no mapping shows it, no pin reaches
 * it). The zeros are written in place, not through a transaction: a
 * crash in the middle leaves part of the range zeroed, as the kernel's
 * in-place zeroing of partial blocks does.
 */
static uint64_t dev_unit(struct inode *ip)
{
	uint64_t unit = ip->fs->dev->map_unit;

	return unit > UDAX_BLOCK_SIZE ? unit : 0;
}

/* Zero [lo, hi), which lies in one unit, in place if that unit is mapped
 * whole: 1; 0 if it is not (nothing done: the caller frees as on any
 * device); or -errno. */
static int unit_zero_in_place(struct inode *ip, uint64_t lo, uint64_t hi)
{
	uint64_t unit = dev_unit(ip);
	int ret;

	if (!unit || lo >= hi || !fault_unit_whole(ip, lo & ~(unit - 1), unit))
		return 0;
	ret = iomap_zero_range(ip, lo, hi - lo, &udax_iomap_ops);
	if (ret)
		return ret;
	dev_drain(ip->fs->dev); /* before any commit that follows */
	return 1;
}

/* api_punch_range, with the parts of [off, end) in units mapped whole
 * zeroed in place instead (the head and the tail: whole units go). */
static int punch_units(struct inode *ip, uint64_t off, uint64_t end, int zero)
{
	uint64_t unit = dev_unit(ip);
	int ret, kept = 0;

	if (unit && (off & (unit - 1))) {
		uint64_t h = (off | (unit - 1)) + 1;
		if (h > end)
			h = end;
		ret = unit_zero_in_place(ip, off, h);
		if (ret < 0)
			return ret;
		if (ret) {
			off = h;
			kept = 1;
		}
	}
	if (unit && off < end && (end & (unit - 1))) {
		uint64_t t = end & ~(unit - 1);
		if (t < off)
			t = off;
		ret = unit_zero_in_place(ip, t, end);
		if (ret < 0)
			return ret;
		if (ret) {
			end = t;
			kept = 1;
		}
	}
	if (off < end)
		return api_punch_range(ip, off, end - off, zero);
	if (kept)
		ip->mtime_pending = fs_now_ns(); /* no transaction did it */
	return 0;
}

/* Truncate to length < size, keeping the rest of a unit mapped whole
 * that holds the new end (zeroed in place first, so that no crash leaves
 * the old bytes past the end where growing the file would show them). */
static int truncate_units(struct inode *ip, uint64_t length)
{
	uint64_t unit = dev_unit(ip), from = length;
	int ret;

	if (unit && (length & (unit - 1))) {
		ret = unit_zero_in_place(ip, length, (length | (unit - 1)) + 1);
		if (ret < 0)
			return ret;
		if (ret)
			from = (length | (unit - 1)) + 1;
	}
	ret = inode_truncate_from(ip->fs, ip->ino, length, from,
				  TRUNC_SET_SIZE);
	/* as Linux: the rest of the last block reads as zeros, also through
	 * a mapping (a crash before this is covered: growing a file zeroes
	 * that tail first, see api_zero_tail) */
	if (!ret && from == length)
		ret = api_zero_tail(ip, length);
	return ret;
}

int file_create(struct udax_fs *fs, struct namei *nd, mode_t mode,
		uint64_t *ino)
{
	const struct cred *c = cred_current();
	const struct udax_inode *dir;
	struct tx *tx;
	gid_t gid = c->gid;
	int ret, err;

	dir = inode_r(fs, NULL, nd->dir, &err);
	if (!dir)
		return err;
	if (dir->nlink == 0)
		return -ENOENT; /* a removed directory */
	ret = perm_check(dir, W_OK | X_OK);
	if (ret)
		return ret;
	if (dir->mode & S_ISGID)
		gid = dir->gid;
	mode = (mode & 07777 & ~c->umask) | S_IFREG;
	tx = tx_begin(fs);
	ret = inode_alloc(tx, mode, c->uid, gid, ino);
	if (!ret)
		ret = dir_add(tx, nd->dir, nd->name, nd->len, *ino, DT_REG);
	if (ret) {
		tx_abort(tx);
		return ret;
	}
	return tx_commit(tx);
}

static uint64_t file_size(struct udax_file *f, int *err)
{
	const struct udax_inode *di = inode_r(f->fs, NULL, f->ip->ino, err);
	return di ? di->size : 0;
}

/* O_TRUNC of an open: mappings and pins (of other handles) first, no
 * page may point at a freed block. */
static int file_truncate_open(struct udax_file *f)
{
	uint64_t size;
	int ret, err = 0;

	pthread_rwlock_wrlock(&f->ip->lock);
	ret = layout_break(f->ip, 0, UINT64_MAX);
	if (ret)
		goto unlock;
	size = file_size(f, &err);
	ret = err  ? err :
	      size ? inode_truncate(f->fs, f->ip->ino, 0, TRUNC_SET_SIZE) :
		     0;
	layout_break_end(f->ip);
unlock:
	pthread_rwlock_unlock(&f->ip->lock);
	return ret;
}

int udax_file_open(struct udax_fs *fs, const char *path, int flags, mode_t mode,
		   struct udax_file **filep)
{
	const struct udax_inode *di;
	struct udax_file *f;
	struct namei nd;
	struct inode *ip;
	int acc = flags & O_ACCMODE, ret, err, created = 0;
	int excl_create = (flags & O_CREAT) && (flags & O_EXCL);

	*filep = NULL;
	if (acc == O_ACCMODE)
		return -EINVAL;
	/* a create changes a directory: the namespace lock exclusive, so
	 * that the lookup and the new entry are one step; a plain open
	 * only looks names up and shares it */
	if (flags & O_CREAT)
		pthread_rwlock_wrlock(&fs->ns_lock);
	else
		pthread_rwlock_rdlock(&fs->ns_lock);
	if (flags & O_CREAT) {
		/* the parent: the last name may not exist yet, and must not
		 * be followed before O_EXCL is judged (O_EXCL never follows
		 * a symlink) */
		ret = namei(fs, path, NAMEI_PARENT, &nd);
		if (ret)
			goto unlock;
		/* as Linux: "/", "." and ".." exist (EEXIST with O_EXCL) and
		 * are directories; any other "name/" is refused as one */
		if (nd.is_root || is_dot_name(&nd)) {
			ret = excl_create ? -EEXIST : -EISDIR;
			goto unlock;
		}
		if (nd.trailing) {
			ret = -EISDIR;
			goto unlock;
		}
		if (nd.toolong) {
			ret = -ENAMETOOLONG;
			goto unlock;
		}
		if (nd.ino && excl_create) {
			ret = -EEXIST;
			goto unlock;
		}
		/* through a symlink to its target, created if missing */
		if (nd.ino && nd.type == DT_LNK && !(flags & O_NOFOLLOW)) {
			ret = namei(fs, path, NAMEI_PARENT | NAMEI_FOLLOW, &nd);
			if (!ret && nd.toolong)
				ret = -ENAMETOOLONG;
			if (!ret &&
			    (nd.trailing || nd.is_root || is_dot_name(&nd)))
				ret = -EISDIR; /* the target names a directory */
			if (ret)
				goto unlock;
		}
		/* missing: create it now, still under the lock, so no
		 * other create of the same name can come between */
		if (!nd.ino) {
			if (fs->read_only) {
				ret = -EROFS;
				goto unlock;
			}
			if (flags & O_DIRECTORY) {
				ret = -EINVAL;
				goto unlock;
			}
			ret = file_create(fs, &nd, mode, &nd.ino);
			if (ret)
				goto unlock;
			nd.type = DT_REG;
			created = 1;
		}
	} else {
		/* an existing object: follow a last symlink unless
		 * O_NOFOLLOW (which then fails below with ELOOP) */
		ret = namei(fs, path, (flags & O_NOFOLLOW) ? 0 : NAMEI_FOLLOW,
			    &nd);
		if (ret)
			goto unlock;
	}
	/* an entry naming a free inode is damage, not a race: the
	 * namespace lock is held */
	di = inode_r(fs, NULL, nd.ino, &err);
	if (!di) {
		ret = err == -ESTALE ? UDAX_ECORRUPT : err;
		goto unlock;
	}
	/* then the type checks, in Linux's order, so that each error is
	 * the one open(2) gives */
	if (S_ISLNK(di->mode) && (flags & O_CREAT)) {
		/* as Linux's may_create_in_sticky: a symlink of someone else
		 * in a sticky world-writable directory is refused first */
		const struct udax_inode *pd = inode_r(fs, NULL, nd.dir, &err);
		if (pd && (pd->mode & S_ISVTX) && (pd->mode & 0002) &&
		    di->uid != pd->uid && di->uid != cred_current()->uid) {
			ret = -EACCES;
			goto unlock;
		}
	}
	if (S_ISLNK(di->mode)) {
		/* O_NOFOLLOW on a symlink */
		ret = (flags & O_DIRECTORY) ? -ENOTDIR : -ELOOP;
		goto unlock;
	}
	if (S_ISDIR(di->mode) &&
	    (acc != O_RDONLY || (flags & O_CREAT) || (flags & O_TRUNC))) {
		ret = -EISDIR;
		goto unlock;
	}
	if ((flags & O_DIRECTORY) && !S_ISDIR(di->mode)) {
		ret = -ENOTDIR;
		goto unlock;
	}
	/* permissions: a file this call created is opened whatever its
	 * mode says (open(O_CREAT, 0444) for writing works, as POSIX) */
	if (!created) {
		int mask = (acc != O_WRONLY ? R_OK : 0) |
			   (acc != O_RDONLY ? W_OK : 0) |
			   ((flags & O_TRUNC) ? W_OK : 0);
		ret = perm_check(di, mask);
		if (ret)
			goto unlock;
	}
	/* after the permission check, as Linux opens a FIFO or device */
	if (!S_ISDIR(di->mode) && !S_ISREG(di->mode)) {
		ret = -ENXIO; /* devices, fifos, sockets: not served by udax */
		goto unlock;
	}
	if (fs->read_only && (acc != O_RDONLY || (flags & O_TRUNC))) {
		ret = -EROFS;
		goto unlock;
	}
	/* the in-memory inode, referenced for the life of the handle: an
	 * unlink while open leaves the file alive until the last close */
	ret = iget(fs, nd.ino, &ip);
	if (ret)
		goto unlock;
	f = sys_calloc(1, sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		goto put_inode;
	}
	f->fs = fs;
	f->ip = ip;
	f->flags = flags & (O_ACCMODE | O_APPEND);
	f->is_dir = S_ISDIR(di->mode);
	pthread_mutex_init(&f->pos_lock, NULL);
	/* counted so that udax_close can refuse while handles are open */
	atomic_fetch_add(&fs->open_handles, 1);
	pthread_rwlock_unlock(&fs->ns_lock);
	/* O_TRUNC: as a truncate, after the name is resolved (as Linux, the
	 * namespace is not held: the layout break may wait for pins) */
	if ((flags & O_TRUNC) && !created && di->size) {
		ret = file_truncate_open(f);
		if (ret) {
			udax_file_close(&f);
			return ret;
		}
	}
	*filep = f;
	return 0;

put_inode:
	iput(ip);
unlock:
	pthread_rwlock_unlock(&fs->ns_lock);
	return ret;
}

int udax_file_close(struct udax_file **filep)
{
	struct udax_file *f = *filep;

	if (!f)
		return -EBADF;
	struct udax_fs *fs = f->fs;
	*filep = NULL;
	fs_release_begin(fs);
	iput(f->ip);
	pthread_mutex_destroy(&f->pos_lock);
	free(f);
	atomic_fetch_sub(&fs->open_handles, 1);
	fs_release_end(fs);
	return 0;
}

ssize_t udax_pread(struct udax_file *f, void *buf, size_t count, off_t off)
{
	uint64_t size;
	ssize_t ret;
	int err = 0;

	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (!may_read(f))
		return -EBADF;
	if (f->is_dir)
		return -EISDIR;
	if (count > SSIZE_MAX)
		count = SSIZE_MAX;
	/* see udax_pwrite: fault the destination in first */
	fault_prefault(buf, count, 1);
	pthread_rwlock_rdlock(&f->ip->lock);
	size = file_size(f, &err);
	if (err) {
		ret = err;
	} else if ((uint64_t)off >= size || !count) {
		ret = 0;
	} else {
		if (count > size - (uint64_t)off)
			count = size - (uint64_t)off;
		ret = iomap_read(f->ip, buf, count, (uint64_t)off,
				 &udax_iomap_ops);
	}
	pthread_rwlock_unlock(&f->ip->lock);
	return ret;
}

int file_kill_privs(struct udax_file *f)
{
	const struct udax_inode *di;
	struct udax_inode *w;
	struct tx *tx;
	mode_t kill = 0;
	int ret;

	if (cred_current()->uid == 0)
		return 0;
	di = inode_r(f->fs, NULL, f->ip->ino, &ret);
	if (!di)
		return ret;
	if (!S_ISREG(di->mode))
		return 0;
	if (di->mode & S_ISUID)
		kill |= S_ISUID;
	if ((di->mode & S_ISGID) &&
	    ((di->mode & S_IXGRP) || !cred_in_group(cred_current(), di->gid)))
		kill |= S_ISGID;
	if (!kill)
		return 0;
	tx = tx_begin(f->fs);
	w = inode_w(tx, f->ip->ino);
	if (!w) {
		ret = tx->failed;
		tx_abort(tx);
		return ret;
	}
	w->mode &= ~kill;
	w->ctime_ns = fs_now_ns();
	return tx_commit(tx);
}

static ssize_t file_write_range(struct udax_file *f, const void *buf,
				size_t count, int64_t off, uint64_t size,
				uint64_t *end);

/* Write with the inode lock held exclusively; off < 0 means append. */
static ssize_t file_write_locked(struct udax_file *f, const void *buf,
				 size_t count, int64_t off, uint64_t *end)
{
	uint64_t size, blo = 0, bhi = 0;
	int err = 0, broke = 0;
	ssize_t n = 0;

	/* shared blocks in the range get copies (copy-on-write), which is
	 * a remap: the layout breaks first. The break may drop the lock
	 * while it waits for pins, so the size is read again after it */
	for (;;) {
		size = file_size(f, &err);
		if (err)
			goto end_break;
		uint64_t at = off < 0 ? size : (uint64_t)off;
		uint64_t lo =
			(at < size ? at : size) & ~(uint64_t)(FAULT_PAGE - 1);
		uint64_t hi = at + count;
		if (broke && lo >= blo && hi <= bhi)
			break;
		if (broke)
			layout_break_end(f->ip);
		broke = api_cow_break(f->ip, lo, hi < lo ? UINT64_MAX : hi);
		if (broke <= 0) {
			err = broke;
			broke = 0;
			if (err)
				return err;
			break;
		}
		blo = lo;
		bhi = hi;
	}
	if (off < 0)
		off = (int64_t)size;
	n = -EFBIG;
	if ((uint64_t)off >= UDAX_MAX_FILE_SIZE)
		goto end_break;
	if (count > UDAX_MAX_FILE_SIZE - (uint64_t)off)
		count = UDAX_MAX_FILE_SIZE - (uint64_t)off;
	n = file_write_range(f, buf, count, off, size, end);
end_break:
	if (broke)
		layout_break_end(f->ip);
	return err ? err : n;
}

/* file_write_locked, the range settled and its layout broken if it
 * holds shared blocks. */
static ssize_t file_write_range(struct udax_file *f, const void *buf,
				size_t count, int64_t off, uint64_t size,
				uint64_t *end)
{
	ssize_t n;
	int ret;

	if ((uint64_t)off > size) {
		ret = api_zero_tail(f->ip, size);
		if (ret)
			return ret;
	}
	ret = file_kill_privs(f);
	if (ret)
		return ret;
	n = iomap_write(f->ip, buf, count, (uint64_t)off, &udax_iomap_ops);
	if (n > 0 && f->ip->maps) {
		/* zero pages and pages past the old end of file in mappings
		 * now hide data: back to neutral, the next access maps it */
		uint64_t lo = (uint64_t)off < size ? (uint64_t)off : size;
		fault_file_changed(f->ip, NULL, lo,
				   (uint64_t)off + (uint64_t)n - lo);
	}
	if (n > 0 && end)
		*end = (uint64_t)off + (uint64_t)n;
	return n;
}

ssize_t udax_pwrite(struct udax_file *f, const void *buf, size_t count,
		    off_t off)
{
	ssize_t n;

	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (!may_write(f))
		return -EBADF;
	if (f->is_dir)
		return -EISDIR;
	if (!count)
		return 0;
	if (count > SSIZE_MAX)
		count = SSIZE_MAX;
	/* copying from a udax mapping under the inode lock must not wait
	 * for its fault handler (which may need this lock) */
	fault_prefault(buf, count, 0);
	pthread_rwlock_wrlock(&f->ip->lock);
	/* as Linux: pwrite on an O_APPEND file appends */
	n = file_write_locked(f, buf, count, (f->flags & O_APPEND) ? -1 : off,
			      NULL);
	pthread_rwlock_unlock(&f->ip->lock);
	return n;
}

/* Gather or scatter an iovec through a bounce buffer when it has more
 * than one piece; a single piece goes straight through. */
static ssize_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

ssize_t udax_preadv(struct udax_file *f, const struct iovec *iov, int iovcnt,
		    off_t off)
{
	ssize_t total = iov_total(iov, iovcnt), n, done = 0;

	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (!may_read(f))
		return -EBADF;
	if (total <= 0)
		return total; /* as Linux: nothing to read, even on a dir */
	if (f->is_dir)
		return -EISDIR;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_len)
			continue;
		n = udax_pread(f, iov[i].iov_base, iov[i].iov_len, off + done);
		if (n < 0)
			return done ? done : n;
		done += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return done;
}

ssize_t udax_pwritev(struct udax_file *f, const struct iovec *iov, int iovcnt,
		     off_t off)
{
	ssize_t total = iov_total(iov, iovcnt), n = 0, done = 0;

	if (!f)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (!may_write(f))
		return -EBADF;
	if (f->is_dir)
		return -EISDIR;
	if (total < 0)
		return total;
	/* copies from mappings under the lock must not wait for faults */
	for (int i = 0; i < iovcnt; i++)
		fault_prefault(iov[i].iov_base, iov[i].iov_len, 0);
	pthread_rwlock_wrlock(&f->ip->lock);
	int64_t pos = (f->flags & O_APPEND) ? -1 : off;
	for (int i = 0; i < iovcnt; i++) {
		uint64_t end = 0;
		if (!iov[i].iov_len)
			continue;
		n = file_write_locked(f, iov[i].iov_base, iov[i].iov_len,
				      pos < 0 ? pos : pos + done, &end);
		if (n < 0)
			break;
		done += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	pthread_rwlock_unlock(&f->ip->lock);
	return done ? done : n;
}

ssize_t udax_read(struct udax_file *f, void *buf, size_t count)
{
	ssize_t n;

	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->pos_lock);
	n = udax_pread(f, buf, count, (off_t)f->pos);
	if (n > 0)
		f->pos += (uint64_t)n;
	pthread_mutex_unlock(&f->pos_lock);
	return n;
}

ssize_t udax_write(struct udax_file *f, const void *buf, size_t count)
{
	uint64_t end = 0;
	ssize_t n;

	if (!f || !may_write(f))
		return -EBADF;
	if (f->is_dir)
		return -EISDIR;
	if (!count)
		return 0;
	pthread_mutex_lock(&f->pos_lock);
	fault_prefault(buf, count, 0);
	pthread_rwlock_wrlock(&f->ip->lock);
	n = file_write_locked(f, buf, count,
			      (f->flags & O_APPEND) ? -1 : (int64_t)f->pos,
			      &end);
	pthread_rwlock_unlock(&f->ip->lock);
	if (n > 0)
		f->pos = end;
	pthread_mutex_unlock(&f->pos_lock);
	return n;
}

off_t udax_lseek(struct udax_file *f, off_t off, int whence)
{
	int64_t base, ret;
	uint64_t size;
	int err = 0;

	if (!f)
		return -EBADF;
	pthread_mutex_lock(&f->pos_lock);
	pthread_rwlock_rdlock(&f->ip->lock);
	size = file_size(f, &err);
	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)f->pos;
		break;
	case SEEK_END:
		base = (int64_t)size;
		break;
	case SEEK_DATA:
	case SEEK_HOLE:
		if (off < 0) {
			ret = -ENXIO;
			goto out;
		}
		ret = f->is_dir ? -EINVAL :
				  iomap_seek(f->ip, (uint64_t)off, whence, size,
					     &udax_iomap_ops);
		if (ret >= 0)
			f->pos = (uint64_t)ret;
		goto out;
	default:
		ret = -EINVAL;
		goto out;
	}
	if (err) {
		ret = err;
		goto out;
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0) {
		ret = off > 0 ? -EOVERFLOW : -EINVAL;
		goto out;
	}
	ret = base + off;
	f->pos = (uint64_t)ret;
out:
	pthread_rwlock_unlock(&f->ip->lock);
	pthread_mutex_unlock(&f->pos_lock);
	return (off_t)ret;
}

/* The break of a size change from the file's size to length, under
 * ip->lock held exclusively: mapped pages and pins past the new end go
 * before their blocks, and the pins of the page holding the lower of the
 * two ends are waited for too, because the rest of that page is zeroed in
 * place (as the kernel's truncate waits for every DAX page reference);
 * that page keeps its block, and a private mapping its copy of it, as on
 * Linux. The break may drop the lock while it waits: if the size moved
 * meanwhile, it is made again for the new one. Returns 1 with the break
 * held and *size read after it, 0 if nothing needed one, or -errno
 * (nothing held). */
static int truncate_break(struct udax_file *f, uint64_t length, uint64_t *size)
{
	int err = 0;

	*size = file_size(f, &err);
	while (!err) {
		uint64_t end = length < *size ? length : *size;
		uint64_t up =
			(end + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
		uint64_t was = *size;

		uint64_t zoff = up, zlen = length < *size ? UINT64_MAX : 0;
		if (end == up && length >= *size)
			return 0; /* growing from a page boundary */
		/* a shared block holding the end is copied, not zeroed in
		 * place: its page goes from the mappings too */
		if (end != up && iomap_has_shared(f->ip, end, up - end,
						  &udax_iomap_ops) > 0) {
			zoff = up - FAULT_PAGE;
			zlen = zlen ? UINT64_MAX : FAULT_PAGE;
		}
		err = layout_break_pins(f->ip, end, zoff, zlen);
		if (err)
			return err;
		*size = file_size(f, &err);
		if (!err && *size == was)
			return 1;
		layout_break_end(f->ip);
	}
	return err;
}

int udax_ftruncate(struct udax_file *f, off_t length)
{
	uint64_t size;
	int ret, err = 0, broke = 0;

	if (!f)
		return -EBADF;
	if (length < 0 || !may_write(f) || f->is_dir)
		return -EINVAL;
	if ((uint64_t)length > UDAX_MAX_FILE_SIZE)
		return -EFBIG;
	pthread_rwlock_wrlock(&f->ip->lock);
	broke = truncate_break(f, (uint64_t)length, &size);
	err = broke < 0 ? broke : 0;
	if (!err)
		err = file_kill_privs(f);
	if (err) {
		ret = err;
	} else if ((uint64_t)length >= size) {
		ret = api_zero_tail(f->ip, size);
		if (!ret)
			ret = inode_set_size(f->ip, (uint64_t)length, 1);
		if (!ret && (uint64_t)length > size)
			ret = fault_file_changed(f->ip, NULL, size,
						 (uint64_t)length - size);
	} else {
		ret = truncate_units(f->ip, (uint64_t)length);
	}
	if (broke > 0)
		layout_break_end(f->ip);
	pthread_rwlock_unlock(&f->ip->lock);
	return ret;
}

int udax_fallocate(struct udax_file *f, int mode, off_t off, off_t len)
{
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
			  FALLOC_FL_ZERO_RANGE;
	uint64_t size, end;
	int ret, err = 0, broke = 0;

	if (!f)
		return -EBADF;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode & ~known)
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    ((mode & FALLOC_FL_ZERO_RANGE) || !(mode & FALLOC_FL_KEEP_SIZE)))
		return -EOPNOTSUPP;
	if (!may_write(f))
		return -EBADF;
	if (f->is_dir)
		return -EISDIR;
	if ((uint64_t)off + (uint64_t)len > UDAX_MAX_FILE_SIZE ||
	    off + len < off)
		return -EFBIG;
	end = (uint64_t)off + (uint64_t)len;

	pthread_rwlock_wrlock(&f->ip->lock);
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		/* every block touched is freed or replaced: mappings and
		 * pins of the range first (the break may drop the lock while
		 * it waits, so the size is read after it) */
		ret = layout_break(f->ip, (uint64_t)off, (uint64_t)len);
		if (ret)
			goto unlock;
		broke = 1;
	}
	size = file_size(f, &err);
	if (err) {
		ret = err;
		goto unlock;
	}
	if (broke) {
		ret = punch_units(f->ip, (uint64_t)off, end,
				  !!(mode & FALLOC_FL_ZERO_RANGE));
		if (ret || (mode & FALLOC_FL_PUNCH_HOLE))
			goto unlock;
	} else {
		ret = iomap_allocate(f->ip, (uint64_t)off, (uint64_t)len,
				     &udax_iomap_ops);
		/* pages a failed mapped store left raising SIGBUS retry */
		if (!ret && f->ip->maps)
			ret = fault_file_changed(f->ip, NULL, (uint64_t)off,
						 (uint64_t)len);
	}
	if (!ret && !(mode & FALLOC_FL_KEEP_SIZE) && end > size) {
		ret = api_zero_tail(f->ip, size);
		if (!ret)
			ret = inode_set_size(f->ip, end, 1);
		if (!ret)
			ret = fault_file_changed(f->ip, NULL, size, end - size);
	}
unlock:
	if (broke)
		layout_break_end(f->ip);
	pthread_rwlock_unlock(&f->ip->lock);
	return ret;
}

int udax_fsync(struct udax_file *f)
{
	struct tx *tx;
	int ret;

	if (!f)
		return -EBADF;
	pthread_rwlock_wrlock(&f->ip->lock);
	dev_drain(f->fs->dev);
	if (f->ip->mtime_pending && !f->fs->read_only) {
		tx = tx_begin(f->fs);
		ret = inode_flush_times(tx, f->ip);
		ret = ret ? (tx_abort(tx), ret) : tx_commit(tx);
	} else {
		ret = 0;
	}
	pthread_rwlock_unlock(&f->ip->lock);
	return ret ? ret : dev_error(f->fs->dev);
}

int udax_fdatasync(struct udax_file *f)
{
	if (!f)
		return -EBADF;
	/* sizes and extents are committed by the write that changed them;
	 * only the data stores need to be fenced */
	dev_drain(f->fs->dev);
	return dev_error(f->fs->dev);
}

int udax_fstat(struct udax_file *f, struct stat *st)
{
	const struct udax_inode *di;
	int err;

	if (!f)
		return -EBADF;
	pthread_rwlock_rdlock(&f->ip->lock);
	di = inode_r(f->fs, NULL, f->ip->ino, &err);
	if (di)
		inode_to_stat(di, f->ip, st);
	pthread_rwlock_unlock(&f->ip->lock);
	return di ? 0 : err;
}

ssize_t udax_file_extents(struct udax_file *f, off_t off, off_t len,
			  struct udax_extent *ext, size_t max)
{
	struct iomap_iter it = {.ip = f ? f->ip : NULL, .flags = IOMAP_REPORT};
	size_t n = 0;
	uint64_t size;
	int ret, err = 0;

	if (!f)
		return -EBADF;
	if (f->is_dir)
		return -EISDIR; /* its tree holds names, not extents */
	if (off < 0 || len < 0)
		return -EINVAL;
	pthread_rwlock_rdlock(&f->ip->lock);
	size = file_size(f, &err);
	/* list blocks past EOF too (fallocate KEEP_SIZE) up to the range */
	(void)size;
	it.pos = (uint64_t)off;
	it.len = (uint64_t)len;
	while ((ret = iomap_iter(&it, &udax_iomap_ops)) > 0) {
		const struct iomap *m = &it.iomap;
		if (m->type != IOMAP_HOLE) {
			if (n == max) {
				ret = 0;
				break;
			}
			ext[n++] = (struct udax_extent){
				.offset = m->offset,
				.length = m->length,
				.dev_offset = m->addr,
				.flags = m->type == IOMAP_UNWRITTEN ?
						 UDAX_EXTENT_UNWRITTEN :
					 m->type == IOMAP_SHARED ?
						 UDAX_EXTENT_SHARED :
						 0,
			};
		}
		it.processed = (int64_t)m->length;
	}
	pthread_rwlock_unlock(&f->ip->lock);
	if (err)
		return err;
	return ret < 0 ? ret : (ssize_t)n;
}
