/* SPDX-License-Identifier: MIT */
/*
 * recvfile.c - udax_recvfile: bytes from a socket straight into a file's
 * device memory, with no lock held while the socket blocks and no byte
 * visible before it is committed.
 *
 * The model is seed 002's multi-page write (reserve, copy, allocate what
 * was written, unreserve the rest), with the copy done by the kernel
 * from its socket buffers:
 *
 *   1. reserve the blocks of the whole range (ENOSPC before a byte is
 *      read from the socket) and take them from the allocator. They are
 *      blocks of no file: no extent map names them, so no reader, writer,
 *      fault, pin or layout break of any file can reach them, and no lock
 *      is needed to write into them;
 *   2. receive: recvmsg(2) with an iovec over the blocks' device memory,
 *      each byte at the offset its file offset gives inside its block
 *      (one copy, kernel to device; no bounce buffer), no udax lock held;
 *   3. give back the blocks past the last byte that arrived, and flush
 *      what arrived (durable before the metadata that will expose it);
 *   4. with the inode lock held exclusively: break the layout of the
 *      blocks received into (the old blocks there are about to be freed:
 *      mappings zapped, pins waited for), fill the parts of the first
 *      and last block the data did not cover from the file as it is now
 *      (its bytes below the size, zeros past it), and commit one
 *      transaction that puts the new blocks in place of the old ones
 *      (freed), with the size and mtime (inode_swap_blocks).
 *
 * Why fresh blocks even over existing data (an overwrite is a
 * copy-on-write): receiving into the file's own blocks would show
 * readers and mappings bytes before the commit, and a crash a torn mix.
 * With fresh blocks the receive is, to everyone else, one write that
 * happens at the commit: concurrent writes, truncates and punches of the
 * range simply come before it (the head and tail are filled at the
 * commit, under the lock, from what they left), and a crash at any
 * instant leaves the file as before or as after (or, when the journal is
 * too small for the whole range in one transaction, with a prefix of the
 * data: inode_swap_blocks commits in file order).
 *
 * O_APPEND is refused (-EINVAL, as splice(2) refuses an append-mode
 * target): the data is placed in its blocks at offsets fixed before the
 * receive, while an append's offset is the size at the commit.
 *
 * Errors after some bytes arrived return those bytes (committed). With
 * UDAX_RECV_WAITALL one recvmsg(2) takes the whole range, so the
 * kernel's MSG_WAITALL rule holds: a short count on an error leaves the
 * error on the socket for the next call. Ranges of more than RECV_IOV
 * extents take one call per RECV_IOV, and an error met by a later call
 * is returned as a short count and is not seen again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "api.h"
#include "fault/fault.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

/* The largest count, as Linux's MAX_RW_COUNT. */
#define RECV_MAX ((size_t)INT_MAX & ~(size_t)4095)
/* Blocks taken from the reservation at a time (the iomap step: 64 MiB). */
#define RECV_TAKE_BLOCKS 16384u
/* iovec entries per recvmsg(2): one per extent taken. */
#define RECV_IOV 256

/*
 * One receive. Lifecycle: recv_reserve (nblk reserved) -> recv_take
 * (runs[] taken, the reservation used up) -> received into -> runs past
 * the data given back (recv_trim) -> committed run by run (the file's)
 * -> what is left given back (recv_put). Owned by the calling thread
 * alone: nothing here is shared, so nothing needs a lock.
 */
struct recv_ctx {
	struct udax_fs *fs;
	uint64_t first;	      /* first file block of the range */
	uint64_t nblk;	      /* blocks of the range, all reserved */
	uint64_t taken;	      /* of them taken into runs[] */
	struct blk_run *runs; /* in file order, contiguous in the file */
	size_t nruns, cap;
	size_t done; /* runs[0..done) committed: the file's */
};

/* Device memory of file offset off, inside the taken runs. */
static uint8_t *recv_addr(const struct recv_ctx *c, const struct blk_run *r,
			  uint64_t off)
{
	uint64_t blk = r->dev + (off >> UDAX_BLOCK_SHIFT) - r->fblk;

	return c->fs->dev->base + (blk << UDAX_BLOCK_SHIFT) +
	       (off & (UDAX_BLOCK_SIZE - 1));
}

/* The run holding file offset off (one exists: the runs cover the
 * range). */
static const struct blk_run *recv_run(const struct recv_ctx *c, uint64_t off)
{
	uint64_t fblk = off >> UDAX_BLOCK_SHIFT;
	size_t i = 0;

	while (i + 1 < c->nruns && fblk >= c->runs[i].fblk + c->runs[i].len)
		i++;
	return &c->runs[i];
}

/* Give back runs[from..] and what is still only reserved. */
static void recv_put(struct recv_ctx *c, size_t from)
{
	for (size_t i = from; i < c->nruns; i++)
		alloc_put(&c->fs->alloc, c->runs[i].dev, c->runs[i].len);
	if (c->nblk > c->taken)
		alloc_unreserve(&c->fs->alloc, c->nblk - c->taken);
	c->nruns = from;
	c->nblk = c->taken = 0;
	free(c->runs);
	c->runs = NULL;
}

/* Step 1: take the whole reservation, in extents near each other (2 MiB-
 * aligned where the file offset is). Returns 0 or a negative errno (the
 * caller gives back with recv_put). */
static int recv_take(struct recv_ctx *c)
{
	while (c->taken < c->nblk) {
		uint64_t want = c->nblk - c->taken, fblk = c->first + c->taken;
		uint64_t goal = 0, start, got;
		struct blk_run *last = c->nruns ? &c->runs[c->nruns - 1] : NULL;
		int ret;

		if (want > RECV_TAKE_BLOCKS)
			want = RECV_TAKE_BLOCKS;
		if (last)
			goal = last->dev + last->len;
		ret = alloc_take(&c->fs->alloc, goal, want,
				 want >= UDAX_HUGE_BLOCKS &&
					 fblk % UDAX_HUGE_BLOCKS == 0,
				 &start, &got);
		if (ret)
			return ret;
		c->taken += got;
		/* right after the last run on the device: one run (one iovec
		 * entry, one extent) */
		if (last && start == goal &&
		    last->len + got <= UDAX_EXT_MAX_LEN) {
			last->len += got;
			continue;
		}
		if (c->nruns == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 8;
			struct blk_run *r =
				sys_realloc(c->runs, cap * sizeof(*r));
			if (!r) {
				alloc_put(&c->fs->alloc, start, got);
				return -ENOMEM;
			}
			c->runs = r;
			c->cap = cap;
		}
		c->runs[c->nruns++] = (struct blk_run){fblk, start, got};
	}
	return 0;
}

/* Map the pages the receive will copy into first (dev_prefault): want
 * bytes, or without WAITALL what the socket has queued (SIOCINQ), so
 * that pages past what arrives are not touched. */
static void recv_prefault(const struct recv_ctx *c, const struct msghdr *mh,
			  int sockfd, uint64_t want)
{
	int queued = 0;

	if (!want && !sys_ioctl(SYS_SIOCINQ, sockfd, SIOCINQ, &queued) &&
	    queued > 0)
		want = (uint64_t)queued;
	for (size_t i = 0; i < mh->msg_iovlen && want; i++) {
		size_t l = mh->msg_iov[i].iov_len < want ?
				   mh->msg_iov[i].iov_len :
				   (size_t)want;
		dev_prefault(c->fs->dev, mh->msg_iov[i].iov_base, l);
		want -= l;
	}
}

/* Step 2: receive up to count bytes for file offset pos into the runs.
 * Returns the bytes received (*err: the socket's error if none, or 0 at
 * its end). */
static uint64_t recv_into(struct recv_ctx *c, int sockfd, uint64_t pos,
			  uint64_t count, unsigned flags, int *err)
{
	int waitall = (flags & UDAX_RECV_WAITALL) != 0;
	uint64_t got = 0;

	*err = 0;
	while (got < count) {
		struct iovec iov[RECV_IOV];
		struct msghdr mh = {.msg_iov = iov};
		uint64_t off = pos + got, want = 0;
		const struct blk_run *r = recv_run(c, off);
		const struct blk_run *end = c->runs + c->nruns;
		ssize_t n;

		/* the rest of the range, run by run, from off */
		for (;
		     r < end && mh.msg_iovlen < RECV_IOV && want < count - got;
		     r++) {
			uint64_t rend = (r->fblk + r->len) << UDAX_BLOCK_SHIFT;
			uint64_t len = rend - (off + want);

			if (len > count - got - want)
				len = count - got - want;
			iov[mh.msg_iovlen++] = (struct iovec){
				recv_addr(c, r, off + want), (size_t)len};
			want += len;
		}
		recv_prefault(c, &mh, sockfd, waitall ? want : 0);
		n = sys_recvmsg(sockfd, &mh, waitall ? MSG_WAITALL : 0);
		if (n < 0) {
			if (!got)
				*err = -errno;
			break;
		}
		got += (uint64_t)n;
		/* without WAITALL: what one call gives, as read(2); with it,
		 * short means the end, an error, a signal or a timeout */
		if (!n || !waitall || (uint64_t)n < want)
			break;
	}
	return got;
}

/* Give back the runs past file block `last` (the last one data reached).
 */
static void recv_trim(struct recv_ctx *c, uint64_t last)
{
	size_t keep = 0;

	while (keep < c->nruns && c->runs[keep].fblk <= last)
		keep++;
	struct blk_run *r = &c->runs[keep - 1];
	uint64_t rest = r->fblk + r->len - (last + 1);
	if (rest) {
		alloc_put(&c->fs->alloc, r->dev + r->len - rest, rest);
		r->len -= rest;
	}
	for (size_t i = keep; i < c->nruns; i++)
		alloc_put(&c->fs->alloc, c->runs[i].dev, c->runs[i].len);
	c->nruns = keep;
}

/* Step 4's fill: device memory dst for file bytes [off, off+len) (inside
 * one block) gets the file's bytes there as they are now, zeros past
 * size. Caller holds ip->lock. Returns 0 or a negative errno. */
static int recv_fill(struct inode *ip, uint8_t *dst, uint64_t off, uint64_t len,
		     uint64_t size)
{
	struct dev *dev = ip->fs->dev;
	uint8_t buf[UDAX_BLOCK_SIZE];
	uint64_t have = off >= size ? 0 : size - off < len ? size - off : len;

	if (have) {
		ssize_t n = iomap_read(ip, buf, have, off, &udax_iomap_ops);
		if (n < 0)
			return (int)n;
		dev->ops->memcpy_nt(dev, dst, buf, have);
	}
	if (len > have)
		dev->ops->memzero_nt(dev, dst + have, len - have);
	return 0;
}

/* Step 4: commit bytes [pos, pos+got) received into the runs. Returns
 * the bytes now in the file (all of them, or a prefix if the journal
 * took the range in several transactions and one failed), or a negative
 * errno with nothing committed. */
static int64_t recv_commit(struct udax_file *f, struct recv_ctx *c,
			   uint64_t pos, uint64_t got)
{
	struct inode *ip = f->ip;
	uint64_t lo = c->first << UDAX_BLOCK_SHIFT;
	uint64_t last = (pos + got - 1) >> UDAX_BLOCK_SHIFT;
	uint64_t hi = (last + 1) << UDAX_BLOCK_SHIFT, size = 0, in_file = lo;
	const struct udax_inode *di;
	int ret;

	pthread_rwlock_wrlock(&ip->lock);
	/* the old blocks of the range are freed below: no mapping may point
	 * at them and no pin reach them (the lock may be dropped here while
	 * pins drain, so the file's state is read after) */
	ret = layout_break(ip, lo, hi - lo);
	if (ret)
		goto unlock;
	ret = file_kill_privs(f);
	if (ret)
		goto end_break;
	di = inode_r(f->fs, NULL, ip->ino, &ret);
	if (!di)
		goto end_break;
	size = di->size;
	/* growing the file: the bytes past the old end in its last block
	 * read as zeros from now on (when that block is not replaced) */
	if (pos > size) {
		ret = api_zero_tail(ip, size);
		if (ret)
			goto end_break;
	}
	/* the head and tail of the first and last block, around the data */
	ret = recv_fill(ip, recv_addr(c, &c->runs[0], lo), lo, pos - lo, size);
	if (!ret && pos + got < hi)
		ret = recv_fill(ip,
				recv_addr(c, recv_run(c, pos + got), pos + got),
				pos + got, hi - (pos + got), size);
	if (ret)
		goto end_break;
	/* one transaction for it all, unless the journal is too small:
	 * then prefixes, each one in file order */
	while (c->done < c->nruns) {
		uint64_t consumed;

		ret = inode_swap_blocks(ip, c->runs + c->done,
					c->nruns - c->done, pos + got,
					SWAP_TOUCH, &consumed);
		/* the consumed blocks are the file's, or were given back */
		while (consumed) {
			struct blk_run *r = &c->runs[c->done];
			uint64_t n = consumed < r->len ? consumed : r->len;

			if (!ret)
				in_file = (r->fblk + n) << UDAX_BLOCK_SHIFT;
			r->fblk += n;
			r->dev += n;
			r->len -= n;
			consumed -= n;
			if (!r->len)
				c->done++;
		}
		if (ret)
			break;
	}
	if (in_file > lo && ip->maps) {
		/* zero and sigbus pages before the range (the old end of file
		 * moved) now show the file: back to neutral */
		uint64_t from = size < pos ? size : pos;
		fault_file_changed(ip, NULL, from, pos + got - from);
	}
end_break:
	layout_break_end(ip);
unlock:
	pthread_rwlock_unlock(&ip->lock);
	if (in_file <= pos)
		return ret ? ret : -EIO;
	return in_file - pos < got ? (int64_t)(in_file - pos) : (int64_t)got;
}

/* Flush what arrived in [pos, pos+got): not ordered until the commit's
 * fence. */
static void recv_flush(struct recv_ctx *c, uint64_t pos, uint64_t got)
{
	for (size_t i = 0; i < c->nruns; i++) {
		const struct blk_run *r = &c->runs[i];
		uint64_t a = r->fblk << UDAX_BLOCK_SHIFT;
		uint64_t b = (r->fblk + r->len) << UDAX_BLOCK_SHIFT;

		a = a > pos ? a : pos;
		b = b < pos + got ? b : pos + got;
		if (a < b)
			dev_flush(c->fs->dev, recv_addr(c, r, a), b - a);
	}
}

/* Steps 1 to 4 for count bytes at pos. Returns the bytes received and
 * committed, 0 at the socket's end, or a negative errno (nothing taken
 * from the socket, or nothing of it committed). */
static ssize_t recv_range(struct udax_file *f, int sockfd, uint64_t pos,
			  size_t count, unsigned flags)
{
	struct recv_ctx c = {.fs = f->fs, .first = pos >> UDAX_BLOCK_SHIFT};
	uint64_t got;
	int64_t n;
	int ret, err;

	c.nblk = ((pos + count - 1) >> UDAX_BLOCK_SHIFT) - c.first + 1;
	if (alloc_reserve_fs(c.fs, c.nblk, 0))
		return -ENOSPC; /* before a byte left the socket */
	ret = recv_take(&c);
	if (ret)
		goto put;
	got = recv_into(&c, sockfd, pos, count, flags, &err);
	if (!got) {
		ret = err;
		goto put;
	}
	recv_trim(&c, (pos + got - 1) >> UDAX_BLOCK_SHIFT);
	recv_flush(&c, pos, got);
	n = recv_commit(f, &c, pos, got);
	recv_put(&c, c.done);
	return (ssize_t)n;

put:
	recv_put(&c, 0);
	return ret;
}

ssize_t udax_recvfile(struct udax_file *f, int sockfd, off_t *offset,
		      size_t count, unsigned flags)
{
	struct stat st;
	uint64_t pos;
	ssize_t n;

	/* bad input, in splice(2)'s order: nothing is read or moved */
	if (!f || (f->flags & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (flags & ~(unsigned)UDAX_RECV_WAITALL)
		return -EINVAL;
	if (sys_fstat(sockfd, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if ((offset && *offset < 0) || (f->flags & O_APPEND))
		return -EINVAL;
	if (f->is_dir)
		return -EISDIR;
	if (!count)
		return 0;
	if (count > RECV_MAX)
		count = RECV_MAX;
	if (!offset)
		pthread_mutex_lock(&f->pos_lock); /* held as udax_write */
	pos = offset ? (uint64_t)*offset : f->pos;
	if (pos >= UDAX_MAX_FILE_SIZE) {
		n = -EFBIG;
	} else {
		if (count > UDAX_MAX_FILE_SIZE - pos)
			count = UDAX_MAX_FILE_SIZE - pos;
		n = recv_range(f, sockfd, pos, count, flags);
	}
	if (n > 0 && offset)
		*offset += n;
	if (!offset) {
		if (n > 0)
			f->pos += (uint64_t)n;
		pthread_mutex_unlock(&f->pos_lock);
	}
	return n;
}
