/* SPDX-License-Identifier: MIT */
/*
 * device.h - the device layer: a range of byte-addressable memory that
 * survives the process, and the functions that make stores to it durable.
 *
 * A device is an ops table plus a context. Every backing (memory file,
 * ordinary file, DAX file or devdax, crash-emulating) sits behind the same
 * table; the persistence functions are chosen once, at open, from the
 * mapping's store granularity, and no upper layer tests CPU features or
 * the device kind.
 *
 * Lifecycle: dev_open() or dev_crash_new() -> use -> dev_close(). The
 * mapping (dev->base, dev->size) is fixed for the device's life. All ops
 * are thread-safe (they touch only the caller's range).
 */
#ifndef UDAX_DEVICE_H
#define UDAX_DEVICE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum dev_kind {
	DEV_MEMORY, /* memfd or tmpfs file: cache-line flushes */
	DEV_FILE,   /* ordinary file: page granularity, msync */
	DEV_DAX,    /* devdax or DAX-mounted file: cache-line flushes */
	DEV_CRASH,  /* crash-emulating memory device for tests */
};

enum dev_granularity {
	DEV_GRAN_BYTE,	    /* stores are durable once fenced (eADR) */
	DEV_GRAN_CACHELINE, /* flush each cache line, then fence */
	DEV_GRAN_PAGE,	    /* msync the pages */
};

struct dev;

/* The persistence ops of a device, chosen at open. */
struct dev_ops {
	/* Write back [addr, addr+len); not ordered until drain. */
	void (*flush)(struct dev *dev, const void *addr, size_t len);
	/* Wait until every flush issued so far is durable (a fence). */
	void (*drain)(struct dev *dev);
	/* Copy into device memory, bypassing caches where possible; the copy
	 * is flushed (durable after the next drain). */
	void (*memcpy_nt)(struct dev *dev, void *dst, const void *src,
			  size_t len);
	/* Set device memory to zero, flushed (durable after drain). */
	void (*memzero_nt)(struct dev *dev, void *dst, size_t len);
	/* Release the backing. */
	void (*close)(struct dev *dev);
};

struct dev {
	const struct dev_ops *ops;
	uint8_t *base; /* mapping of the whole device */
	uint64_t size; /* bytes, a multiple of 4096 */
	enum dev_kind kind;
	enum dev_granularity gran;
	int fd;		/* backing fd, -1 if none */
	void *priv;	/* backing-specific context */
	char name[256]; /* as given to dev_open */
	/* The first failed flush (a negative errno; page devices: msync), or
	 * 0. Sticky: what reached the media since is unknown. */
	_Atomic int error;
	/* A bit per 4 KiB page: mapped into a program since it was last
	 * detached (dev_note_mapped sets, dev_detach clears). Made at the
	 * first mapping, freed by dev_close. */
	_Atomic(_Atomic uint64_t *) mapped;
	/* 1: the backing cannot detach pages (dev_detach fails): set when a
	 * punch was refused, or by tests */
	int no_detach;
	/* 1: the kernel has no MADV_POPULATE_WRITE (dev_prefault) */
	_Atomic int no_prefault;
	/* The smallest unit in which the device can be mapped into a
	 * program, in bytes (a power of two, fixed at open): 4096 for most
	 * backings; a devdax device's alignment (2 MiB by default, or
	 * 1 GiB); 2 MiB for a memory file on huge pages. The fault layer
	 * maps device ranges only in whole, aligned units of this size
	 * (docs/DESIGN.md, "Devices that map only in 2 MiB units"). */
	uint64_t map_unit;
	/* 1: the backing refuses private (copy-on-write) mappings (devdax,
	 * as the kernel's check_vma() does); private udax mappings of it
	 * are served with copies. */
	int no_private;
	/* 1: the kernel can sendfile(2) from fd at device offsets (a memory
	 * file, an ordinary file, a file on a DAX mount); 0: it cannot
	 * (devdax), or the pages it would hand to a socket are never
	 * detached (the crash device): udax_sendfile copies from base. Set
	 * at open. */
	int splice;
};

/* Open a device named as in udax.h ("memfd:NAME:SIZE", a path). If
 * `create_size` is nonzero a missing file is created and a file smaller
 * than that is extended to it. Returns 0 and *dev, or a negative errno. */
int dev_open(struct dev **dev, const char *name, uint64_t create_size,
	     int read_only);
/* Close and free; clears *dev. */
void dev_close(struct dev **dev);

/* The name of the device's flush instruction, for reports: "clwb",
 * "clflushopt", "clflush", "msync" or "none (eADR)". */
const char *dev_flush_name(const struct dev *dev);

/* Make [addr, addr+len) durable now: flush + drain. */
static inline void dev_persist(struct dev *dev, const void *addr, size_t len)
{
	dev->ops->flush(dev, addr, len);
	dev->ops->drain(dev);
}

static inline void dev_flush(struct dev *dev, const void *addr, size_t len)
{
	dev->ops->flush(dev, addr, len);
}

static inline void dev_drain(struct dev *dev)
{
	dev->ops->drain(dev);
}

/* Did a flush fail (dev->error)? 0, or the negative errno it failed with.
 * Callers that promise durability (commit, checkpoint, fsync) ask after
 * their drain. */
static inline int dev_error(struct dev *dev)
{
	return atomic_load_explicit(&dev->error, memory_order_relaxed);
}

/* Whether flushing the CPU caches of any mapping of the device's memory
 * (the fault layer maps device ranges into programs from dev->fd) and a
 * fence make stores durable: true on memory and DAX devices; false on
 * page-granular files (msync) and on the crash device, which must see
 * every flush through its ops. */
static inline int dev_cpu_flush(const struct dev *dev)
{
	return dev->kind != DEV_CRASH && dev->gran != DEV_GRAN_PAGE;
}

/* memcpy_nt and memzero_nt of devices with no streaming stores of their
 * own (page-granular files, the crash device): copy, then the device's
 * flush. */
void dev_memcpy_flush(struct dev *dev, void *dst, const void *src, size_t len);
void dev_memzero_flush(struct dev *dev, void *dst, size_t len);

/*
 * Pins udax never hears of. A page of the device mapped into a program
 * can be pinned by the kernel for I/O that outlives any udax call
 * (io_uring fixed buffers, O_DIRECT and AIO in flight, vmsplice), and
 * user space cannot read a page's pin count. So the device remembers
 * which pages were ever mapped (dev_note_mapped, from the fault layer),
 * and before such a page is handed to another file (dev_detach, from the
 * allocator when blocks become free) its memory is detached from the
 * device: a hole is punched in the backing file (a memory file, an
 * ordinary file, a file on a DAX mount, where the kernel's own punch
 * waits for DAX pins). A pinned page is then no longer the device's, and
 * the kernel's late writes through the pin land where no file can see
 * them. Where the backing cannot detach (devdax), dev_detach fails and
 * the allocator quarantines the mapped blocks until the file system is
 * closed.
 */
/* Record that [off, off+len) of the device (bytes) is mapped into a
 * program. Returns 0 or -ENOMEM (then nothing may be mapped). */
int dev_note_mapped(struct dev *dev, uint64_t off, uint64_t len);
/* [off, off+len) becomes free: detach the pages of it that were mapped.
 * Returns 0 (none was, or all are detached), or a negative errno: the
 * backing cannot detach them, and dev_was_mapped() tells which pages the
 * caller must not reuse. */
int dev_detach(struct dev *dev, uint64_t off, uint64_t len);
/* Was the page at off mapped since its last detach? */
int dev_was_mapped(struct dev *dev, uint64_t off);
/* Map the pages of device memory under [addr, addr+len) for writing now,
 * in one system call (MADV_POPULATE_WRITE), before the kernel copies a
 * socket's bytes into them: each page this process has not touched yet
 * (a new memory device, a cold page cache, detached pages) would
 * otherwise cost the copy a page fault, which is most of a receive's
 * time where faults are dear (a paravirtualized VM). Only an
 * optimization: a failure changes nothing. */
void dev_prefault(struct dev *dev, void *addr, size_t len);

/* Parse "123", "4K", "64M", "2G" into bytes. Returns 0 or -EINVAL. */
int dev_parse_size(const char *s, uint64_t *bytes);

/* Cache-line persistence primitives for memory devices (persist_cl.c):
 * clwb, clflushopt or clflush chosen once from the CPU, sfence. */
void cl_flush(const void *addr, size_t len);
void cl_drain(void);
void cl_memcpy_nt(void *dst, const void *src, size_t len);
void cl_memzero_nt(void *dst, size_t len);
/* The write-back instruction the primitives use: "clwb", "clflushopt" or
 * "clflush". */
const char *cl_insn_name(void);

/* What the primitives did, told from inside them: `line` for each 64-byte
 * line written back or streamed (its aligned address), `fence` for each
 * fence. The crash device records through one (dev_crash.c). */
struct cl_recorder {
	void (*line)(struct cl_recorder *rec, const void *line);
	void (*fence)(struct cl_recorder *rec);
};

/* The same primitives, telling `rec` (NULL: nobody) what they do. */
void cl_flush_rec(struct cl_recorder *rec, const void *addr, size_t len);
void cl_drain_rec(struct cl_recorder *rec);
void cl_memcpy_nt_rec(struct cl_recorder *rec, void *dst, const void *src,
		      size_t len);
void cl_memzero_nt_rec(struct cl_recorder *rec, void *dst, size_t len);

/* ---- crash-emulating device (dev_crash.c) ----
 * A memory device whose persistence ops are the real cache-line
 * primitives of memory devices (cl_*_rec), recording every line they
 * write back or stream and every fence they issue. The "durable image"
 * holds what would survive a power loss with certainty; lines written and flushed but not yet fenced, and lines
 * stored but never flushed, are "pending": a crash may keep any subset.
 * Stores made directly into dev->base are detected at each flush by
 * comparing with the durable image, so no store can escape the record.
 * Its working memory is a memfd (dev->fd), so that the fault layer can
 * map device ranges into programs as on a memory device. */

/* A new crash device of `size` bytes (zeroed). Returns 0, -ENOMEM, or the
 * errno of memfd_create/ftruncate/mmap. */
int dev_crash_new(struct dev **dev, uint64_t size);

/* Start from `image` (dev->size bytes), all of it durable: e.g. a crash
 * image whose recovery is itself to be crashed. */
void dev_crash_load(struct dev *dev, const uint8_t *image);

/* Number of fences (drains) so far; crash points are numbered by it. */
uint64_t dev_crash_fences(struct dev *dev);

/* From now on, stop updating the durable image once `fence` drains have
 * happened, keeping the lines pending at that point: the image is then
 * frozen "at" that crash point, while the workload runs on. 0 = never. */
void dev_crash_freeze_at(struct dev *dev, uint64_t fence);

/* Cache lines pending (flushed or stored but not fenced) at the crash
 * point; they are numbered 0..n-1 for dev_crash_image(). */
size_t dev_crash_pending(struct dev *dev);

/* Build into `out` (dev->size bytes) the image after a power loss at the
 * crash point that kept exactly the pending lines whose bit is set in
 * `keep` (bit i = pending line i; NULL keeps none). */
void dev_crash_image(struct dev *dev, const uint64_t *keep, uint8_t *out);

/* Open a memory device over a copy of `image` (size bytes), e.g. to mount
 * a crash image. Returns 0 or -ENOMEM. */
int dev_memory_from_image(struct dev **dev, const uint8_t *image,
			  uint64_t size);

#endif /* UDAX_DEVICE_H */
