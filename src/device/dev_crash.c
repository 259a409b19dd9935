/* SPDX-License-Identifier: MIT */
/*
 * dev_crash.c - the crash-emulating device.
 *
 * It keeps two copies of the device: the working memory every store goes
 * to (dev->base) and the durable image, what a power loss would certainly
 * leave. Its ops are the memory device's own primitives (persist_cl.c),
 * run with a recorder: each line they write back or stream is marked, and
 * each fence they issue copies the marked lines into the durable image.
 * So a write-back or fence missing from the real primitives is missing
 * here too, and the crash tests see it. At the crash point chosen with
 * dev_crash_freeze_at() the device records the durable image and every
 * pending line (flushed but not fenced, or stored and never flushed) with
 * the contents it had then; dev_crash_image() builds the image for any
 * subset of those lines. A store that was never flushed is therefore a
 * pending line at every later crash point: missing flushes show up as
 * crash images that lose the store.
 *
 * The working memory is a memfd mapped shared, not heap memory: the fault
 * layer maps ranges of dev->fd into programs (udax_mmap), and their
 * stores must land in the same memory the device records.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "device.h"
#include "sys/sys.h"

#define CL 64u

struct crash {
	struct cl_recorder rec; /* first: the primitives report here */
	struct dev *dev;
	pthread_mutex_t lock; /* guards everything below */
	uint8_t *durable;     /* size bytes: what surely survives */
	uint8_t *marked;      /* one byte per line: flushed since the drain */
	uint64_t *flushed;    /* line numbers marked, nflushed of them */
	size_t nflushed, capflushed;
	uint64_t fences;    /* drains so far */
	uint64_t freeze_at; /* fence number of the crash point, 0 = none */
	int frozen;	    /* the crash point has been captured */
	uint8_t *snap;	    /* durable image at the crash point */
	uint64_t *pend;	    /* pending line numbers at the crash point */
	uint8_t *pend_data; /* their contents, CL bytes each */
	size_t npend;
};

/* A line written back or streamed by a primitive: pending until the next
 * fence. */
static void crash_record_line(struct cl_recorder *rec, const void *addr)
{
	struct crash *c = (struct crash *)rec;
	struct dev *dev = c->dev;
	uint64_t l = (uint64_t)((const uint8_t *)addr - dev->base) / CL;

	pthread_mutex_lock(&c->lock);
	if (!c->marked[l]) {
		if (c->nflushed == c->capflushed) {
			size_t ncap = c->capflushed ? c->capflushed * 2 : 1024;
			uint64_t *n =
				sys_realloc(c->flushed, ncap * sizeof(*n));
			if (!n)
				abort(); /* test device: no way to continue */
			c->flushed = n;
			c->capflushed = ncap;
		}
		c->marked[l] = 1;
		c->flushed[c->nflushed++] = l;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Record the crash point: the durable image and every line that differs
 * from it now (flushed or not). Called with the lock held. */
static void crash_capture(struct dev *dev)
{
	struct crash *c = dev->priv;
	uint64_t nlines = dev->size / CL;
	size_t n = 0;

	free(c->snap);
	free(c->pend);
	free(c->pend_data);
	c->snap = sys_malloc(dev->size);
	for (uint64_t l = 0; l < nlines; l++)
		if (memcmp(dev->base + l * CL, c->durable + l * CL, CL))
			n++;
	c->pend = sys_malloc((n ? n : 1) * sizeof(*c->pend));
	c->pend_data = sys_malloc((n ? n : 1) * CL);
	if (!c->snap || !c->pend || !c->pend_data)
		abort();
	memcpy(c->snap, c->durable, dev->size);
	n = 0;
	for (uint64_t l = 0; l < nlines; l++) {
		if (!memcmp(dev->base + l * CL, c->durable + l * CL, CL))
			continue;
		c->pend[n] = l;
		memcpy(c->pend_data + n * CL, dev->base + l * CL, CL);
		n++;
	}
	c->npend = n;
	c->frozen = 1;
}

/* A fence issued by the primitive: the lines marked so far are durable.
 * At the crash point, first record what was pending. */
static void crash_record_fence(struct cl_recorder *rec)
{
	struct crash *c = (struct crash *)rec;
	struct dev *dev = c->dev;

	pthread_mutex_lock(&c->lock);
	c->fences++;
	if (c->freeze_at && c->fences == c->freeze_at && !c->frozen)
		crash_capture(dev);
	for (size_t i = 0; i < c->nflushed; i++) {
		uint64_t l = c->flushed[i];
		memcpy(c->durable + l * CL, dev->base + l * CL, CL);
		c->marked[l] = 0;
	}
	c->nflushed = 0;
	pthread_mutex_unlock(&c->lock);
}

static struct cl_recorder *crash_rec(struct dev *dev)
{
	return &((struct crash *)dev->priv)->rec;
}

static void crash_flush(struct dev *dev, const void *addr, size_t len)
{
	cl_flush_rec(crash_rec(dev), addr, len);
}

static void crash_drain(struct dev *dev)
{
	cl_drain_rec(crash_rec(dev));
}

static void crash_memcpy_nt(struct dev *dev, void *dst, const void *src,
			    size_t len)
{
	cl_memcpy_nt_rec(crash_rec(dev), dst, src, len);
}

static void crash_memzero_nt(struct dev *dev, void *dst, size_t len)
{
	cl_memzero_nt_rec(crash_rec(dev), dst, len);
}

static void crash_close(struct dev *dev)
{
	struct crash *c = dev->priv;

	sys_munmap(dev->base, dev->size);
	close(dev->fd);
	free(c->durable);
	free(c->marked);
	free(c->flushed);
	free(c->snap);
	free(c->pend);
	free(c->pend_data);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static const struct dev_ops crash_ops = {
	.flush = crash_flush,
	.drain = crash_drain,
	.memcpy_nt = crash_memcpy_nt,
	.memzero_nt = crash_memzero_nt,
	.close = crash_close,
};

int dev_crash_new(struct dev **devp, uint64_t size)
{
	struct dev *dev;
	struct crash *c;
	int ret = -ENOMEM;

	*devp = NULL;
	size &= ~(uint64_t)4095;
	dev = sys_calloc(1, sizeof(*dev));
	c = sys_calloc(1, sizeof(*c));
	if (dev)
		dev->fd = -1;
	if (!dev || !c)
		goto free_all;
	dev->fd = sys_memfd_create("udax-crash", MFD_CLOEXEC);
	if (dev->fd < 0 || sys_ftruncate(dev->fd, (off_t)size)) {
		ret = -errno;
		goto free_all;
	}
	dev->base = sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			     dev->fd, 0);
	if (dev->base == MAP_FAILED) {
		dev->base = NULL;
		ret = -errno;
		goto free_all;
	}
	c->durable = sys_calloc(1, size);
	c->marked = sys_calloc(size / CL, 1);
	if (!c->durable || !c->marked)
		goto free_all;
	pthread_mutex_init(&c->lock, NULL);
	c->rec.line = crash_record_line;
	c->rec.fence = crash_record_fence;
	c->dev = dev;
	dev->size = size;
	dev->ops = &crash_ops;
	dev->kind = DEV_CRASH;
	dev->gran = DEV_GRAN_CACHELINE;
	dev->map_unit = 4096;
	dev->priv = c;
	strcpy(dev->name, "crash");
	*devp = dev;
	return 0;

free_all:
	if (c) {
		free(c->durable);
		free(c->marked);
	}
	if (dev) {
		if (dev->base)
			sys_munmap(dev->base, size);
		if (dev->fd >= 0)
			close(dev->fd);
	}
	free(c);
	free(dev);
	return ret;
}

void dev_crash_load(struct dev *dev, const uint8_t *image)
{
	struct crash *c = dev->priv;

	pthread_mutex_lock(&c->lock);
	memcpy(dev->base, image, dev->size);
	memcpy(c->durable, image, dev->size);
	pthread_mutex_unlock(&c->lock);
}

uint64_t dev_crash_fences(struct dev *dev)
{
	struct crash *c = dev->priv;
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->fences;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void dev_crash_freeze_at(struct dev *dev, uint64_t fence)
{
	struct crash *c = dev->priv;

	pthread_mutex_lock(&c->lock);
	c->freeze_at = fence;
	c->frozen = 0;
	pthread_mutex_unlock(&c->lock);
}

size_t dev_crash_pending(struct dev *dev)
{
	struct crash *c = dev->priv;
	size_t n;

	pthread_mutex_lock(&c->lock);
	if (!c->frozen)
		crash_capture(dev); /* crash point not reached: crash now */
	n = c->npend;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void dev_crash_image(struct dev *dev, const uint64_t *keep, uint8_t *out)
{
	struct crash *c = dev->priv;

	pthread_mutex_lock(&c->lock);
	if (!c->frozen)
		crash_capture(dev);
	memcpy(out, c->snap, dev->size);
	for (size_t i = 0; keep && i < c->npend; i++)
		if (keep[i / 64] & (1ull << (i % 64)))
			memcpy(out + c->pend[i] * CL, c->pend_data + i * CL,
			       CL);
	pthread_mutex_unlock(&c->lock);
}
