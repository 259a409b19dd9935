/* SPDX-License-Identifier: MIT */
/*
 * io.c - the data paths, each a loop over the extent map.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "inode/inode.h"
#include "iomap.h"

static inline uint8_t *dev_addr(struct inode *ip, uint64_t addr)
{
	return ip->fs->dev->base + addr;
}

ssize_t iomap_read(struct inode *ip, void *buf, uint64_t len, uint64_t off,
		   const struct iomap_ops *ops)
{
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = len, .flags = IOMAP_REPORT};
	uint8_t *dst = buf;
	int ret;

	while ((ret = iomap_iter(&it, ops)) > 0) {
		uint8_t *d = dst + (it.pos - off);
		if (it.iomap.type == IOMAP_MAPPED ||
		    it.iomap.type == IOMAP_SHARED)
			memcpy(d, dev_addr(ip, it.iomap.addr), it.iomap.length);
		else
			memset(d, 0, it.iomap.length);
		it.processed = (int64_t)it.iomap.length;
	}
	return it.done ? (ssize_t)it.done : ret;
}

/* Zero the parts of the blocks around [addr, addr+len) that the copy will
 * not cover: new and unwritten blocks must never show old contents. */
static void zero_edges(struct inode *ip, uint64_t addr, uint64_t len)
{
	struct dev *dev = ip->fs->dev;
	uint64_t head = addr & (UDAX_BLOCK_SIZE - 1);
	uint64_t tail = (addr + len) & (UDAX_BLOCK_SIZE - 1);

	if (head)
		dev->ops->memzero_nt(dev, dev_addr(ip, addr - head), head);
	if (tail)
		dev->ops->memzero_nt(dev, dev_addr(ip, addr + len),
				     UDAX_BLOCK_SIZE - tail);
}

ssize_t iomap_write(struct inode *ip, const void *buf, uint64_t len,
		    uint64_t off, const struct iomap_ops *ops)
{
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = len, .flags = IOMAP_WRITE};
	struct dev *dev = ip->fs->dev;
	const uint8_t *src = buf;
	int ret;

	while ((ret = iomap_iter(&it, ops)) > 0) {
		const struct iomap *m = &it.iomap;
		if ((m->flags & IOMAP_F_NEW) || m->type == IOMAP_UNWRITTEN)
			zero_edges(ip, m->addr, m->length);
		dev->ops->memcpy_nt(dev, dev_addr(ip, m->addr),
				    src + (it.pos - off), m->length);
		it.processed = (int64_t)m->length;
	}
	if (ops->write_end)
		ret = ops->write_end(ip, off, &it.done, ret);
	return it.done ? (ssize_t)it.done : ret;
}

int iomap_zero_range(struct inode *ip, uint64_t off, uint64_t len,
		     const struct iomap_ops *ops)
{
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = len, .flags = IOMAP_ZERO};
	struct dev *dev = ip->fs->dev;
	int ret;

	while ((ret = iomap_iter(&it, ops)) > 0) {
		if (it.iomap.type == IOMAP_MAPPED)
			dev->ops->memzero_nt(dev, dev_addr(ip, it.iomap.addr),
					     it.iomap.length);
		it.processed = (int64_t)it.iomap.length;
	}
	return ret;
}

int iomap_has_shared(struct inode *ip, uint64_t off, uint64_t len,
		     const struct iomap_ops *ops)
{
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = len, .flags = IOMAP_REPORT};
	int ret;

	if (!atomic_load(&ip->fs->reflinked))
		return 0;
	while ((ret = iomap_iter(&it, ops)) > 0) {
		if (it.iomap.type == IOMAP_SHARED)
			return 1;
		it.processed = (int64_t)it.iomap.length;
	}
	return ret;
}

/* A loop whose begin/end do the work (allocate, copy shared blocks)
 * and whose actor only moves on. */
static int iomap_walk(struct inode *ip, uint64_t off, uint64_t len,
		      unsigned flags, const struct iomap_ops *ops)
{
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = len, .flags = flags};
	int ret;

	while ((ret = iomap_iter(&it, ops)) > 0)
		it.processed = (int64_t)it.iomap.length;
	return ret;
}

int iomap_allocate(struct inode *ip, uint64_t off, uint64_t len,
		   const struct iomap_ops *ops)
{
	return iomap_walk(ip, off, len, IOMAP_ALLOC, ops);
}

int iomap_unshare(struct inode *ip, uint64_t off, uint64_t len,
		  const struct iomap_ops *ops)
{
	/* begin copies the shared blocks, all their bytes */
	return iomap_walk(ip, off, len, IOMAP_UNSHARE, ops);
}

int64_t iomap_seek(struct inode *ip, uint64_t off, int whence, uint64_t size,
		   const struct iomap_ops *ops)
{
	struct iomap_iter it = {
		.ip = ip, .pos = off, .len = size - off, .flags = IOMAP_REPORT};
	int ret;

	if (off >= size)
		return -ENXIO;
	while ((ret = iomap_iter(&it, ops)) > 0) {
		int data = it.iomap.type != IOMAP_HOLE;
		if (whence == SEEK_DATA && data)
			return (int64_t)it.pos;
		if (whence == SEEK_HOLE && !data)
			return (int64_t)it.pos;
		it.processed = (int64_t)it.iomap.length;
	}
	if (ret < 0)
		return ret;
	return whence == SEEK_HOLE ? (int64_t)size : -ENXIO;
}
