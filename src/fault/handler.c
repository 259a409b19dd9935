/* SPDX-License-Identifier: MIT */
/*
 * handler.c - the page-fault handler of a file system's mappings.
 *
 * A fault at file offset X of a mapping is resolved under the inode lock
 * (shared for reads, exclusive for stores that may allocate):
 *
 *   X wholly past end of file     the sigbus state from X's page to the
 *                                 end of the mapping
 *   a store into a hole or an     allocate through the extent map: the
 *   unwritten extent (shared,     hole or unwritten extent around X inside
 *   writable mapping)             X's FAULT_AROUND window (so 2 MiB-aligned
 *                                 extents where the file allows); zero the
 *                                 new blocks, commit, then map
 *   a read of a hole or an        a zero page, write-protected in a shared
 *   unwritten extent              writable mapping so that the first store
 *                                 comes back here; nothing is allocated
 *   mapped blocks                 the device range, with every other
 *                                 mapped extent of X's FAULT_AROUND window
 *                                 (fault-around), page tables filled
 *
 * and the waiting threads are woken (UFFDIO_WAKE): they retry the access
 * and find the page. See fault.h for the page states and the threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "inode/inode.h"
#include "iomap/iomap.h"
#include "sys/sys.h"
#include "udax.h"

#ifndef F_SEAL_SEAL
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#endif

static uint64_t page_up(uint64_t x)
{
	return (x + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/*
 * The MAP_SYNC rule, in one place (Linux: dax_fault_is_synchronous()): a
 * store fault in a UDAX_MAP_SYNC mapping whose extent is not durable yet
 * (blocks allocated or unwritten blocks converted by this fault) must make
 * it durable before the page is mapped writable.
 *
 * udax satisfies it for every mapping: iomap end() commits each
 * allocation in its own transaction, durable when it returns, before
 * fault_alloc() returns and anything is mapped. The extent map is the
 * only place pread/pwrite look, so blocks in a mapping must be in it
 * (committed) anyway, and a commit costs about 2 us of a fault's 60-100 us
 * (zeroing and mapping 2 MiB; docs/DESIGN.md, "Faults"). The predicate
 * is kept as the one place that states the rule, and counted.
 */
static int fault_is_synchronous(const struct fault_map *m,
				const struct iomap *iomap)
{
	return (m->flags & UDAX_MAP_SYNC) && ((iomap->flags & IOMAP_F_DIRTY) ||
					      iomap->type == IOMAP_UNWRITTEN);
}

/* Map [off, off+len) of m onto device offset dev_off, skipping pages
 * already in the device state. */
static int map_device(struct fault_map *m, uint64_t off, uint64_t len,
		      uint64_t dev_off)
{
	struct dev *dev = m->ip->fs->dev;
	int shared = m->flags & UDAX_MAP_SHARED;
	int mflags = MAP_FIXED | (shared ? MAP_SHARED : MAP_PRIVATE);
	uint64_t i = 0, j;

	/* fill the page tables now: one system call instead of a kernel
	 * fault per page (a private writable mapping would copy them all).
	 * A shared writable mapping of a file on a DAX mount is populated
	 * for writing: populated for reading its entries stay write-
	 * protected for the file system's dirty tracking, and every first
	 * store would take a second, kernel, fault. (Not on a page-granular
	 * file, where it would make every page dirty for msync; a memory
	 * file's read-populated shared entries are writable already.) */
	int populate_write =
		shared && (m->prot & PROT_WRITE) && dev->kind == DEV_DAX;
	if ((shared || !(m->prot & PROT_WRITE)) && !populate_write)
		mflags |= MAP_POPULATE;
	while (i < len) {
		if (fault_map_state(m, off + i) == FAULT_STATE_DEVICE) {
			i += FAULT_PAGE;
			continue;
		}
		for (j = i; j < len &&
			    fault_map_state(m, off + j) != FAULT_STATE_DEVICE;
		     j += FAULT_PAGE)
			;
		uint8_t *where = m->addr + (off + i - m->offset);
		/* the kernel may pin these pages from now on: the device
		 * detaches them before the blocks serve another file */
		if (dev_note_mapped(dev, dev_off + i, j - i))
			return -ENOMEM;
		if (sys_mmap(where, j - i, m->prot, mflags, dev->fd,
			     (off_t)(dev_off + i)) == MAP_FAILED)
			return -errno;
		sys_madvise(where, j - i, MADV_DONTFORK);
		/* kernels before 5.14 lack it: the stores then fault in */
		if (populate_write)
			sys_madvise(where, j - i, MADV_POPULATE_WRITE);
		fault_map_note(m, off + i, j - i, FAULT_STATE_DEVICE, 1);
		i = j;
	}
	return 0;
}

/* Map every mapped extent of [w0, w1) (fault-around). */
static int map_window(struct fault_map *m, uint64_t w0, uint64_t w1)
{
	struct iomap_iter it = {
		.ip = m->ip, .pos = w0, .len = w1 - w0, .flags = IOMAP_REPORT};
	int ret;

	while ((ret = iomap_iter(&it, &udax_iomap_ops)) > 0) {
		const struct iomap *im = &it.iomap;
		it.processed = (int64_t)im->length;
		if (im->type == IOMAP_MAPPED || im->type == IOMAP_SHARED) {
			int err = map_device(m, im->offset, page_up(im->length),
					     im->addr);
			if (err)
				it.processed = err;
		}
	}
	return ret;
}

/* Give [a0, a1) of the file blocks for a store fault (holes allocated,
 * unwritten blocks converted, both zeroed first), committed when it
 * returns. Returns the bytes done from a0, or a negative errno. */
static int64_t fault_alloc_range(struct fault *fc, struct fault_map *m,
				 uint64_t a0, uint64_t a1)
{
	struct iomap_iter it = {
		.ip = m->ip, .pos = a0, .len = a1 - a0, .flags = IOMAP_WRITE};
	struct dev *dev = m->ip->fs->dev;
	int ret, sync = 0;

	while ((ret = iomap_iter(&it, &udax_iomap_ops)) > 0) {
		const struct iomap *im = &it.iomap;
		if ((im->flags & IOMAP_F_NEW) || im->type == IOMAP_UNWRITTEN) {
			/* no stale data: zero whole blocks; the commit in
			 * end() fences this before the extent points at it */
			dev->ops->memzero_nt(dev, dev->base + im->addr,
					     page_up(im->length));
			sync |= fault_is_synchronous(m, im);
		}
		it.processed = (int64_t)im->length;
	}
	if (sync)
		atomic_fetch_add(&fc->sync_allocs, 1);
	if (it.done)
		atomic_fetch_add(&fc->allocs, 1);
	return it.done ? (int64_t)it.done : ret;
}

/* A store into the hole or unwritten extent [e0, e1) at off (clipped to
 * the fault-around window): give it blocks (only off's page when space
 * is short). Returns 0 once off's page has blocks, or a negative errno
 * (-ENOSPC). */
static int fault_alloc(struct fault *fc, struct fault_map *m, uint64_t off,
		       uint64_t e0, uint64_t e1, uint64_t size)
{
	struct udax_fs *fs = m->ip->fs;
	uint64_t a0 = e0, a1 = min_u64(e1, size);
	int64_t done;

	if (alloc_available(&fs->alloc) < 2 * ((a1 - a0) / FAULT_PAGE) + 64) {
		a0 = off;
		a1 = min_u64(off + FAULT_PAGE, size);
	}
	done = fault_alloc_range(fc, m, a0, a1);
	if (done > 0 && a0 + (uint64_t)done > off)
		return 0;
	if (a0 == off)
		return done < 0 ? (int)done : -ENOSPC;
	done = fault_alloc_range(fc, m, off, min_u64(off + FAULT_PAGE, size));
	return done > 0 ? 0 : (done < 0 ? (int)done : -ENOSPC);
}

/* The extent of [w0, w1) holding off: *e0, *e1 and its type. */
static int fault_extent(struct inode *ip, uint64_t off, uint64_t w0,
			uint64_t w1, uint64_t *e0, uint64_t *e1, int *type)
{
	struct iomap_iter it = {
		.ip = ip, .pos = w0, .len = w1 - w0, .flags = IOMAP_REPORT};
	int ret;

	while ((ret = iomap_iter(&it, &udax_iomap_ops)) > 0) {
		const struct iomap *im = &it.iomap;
		it.processed = (int64_t)im->length;
		if (im->offset + im->length <= off)
			continue;
		*e0 = im->offset;
		*e1 = im->offset + im->length;
		*type = im->type;
		return 0;
	}
	return ret < 0 ? ret : -EIO;
}

/* A fault that fails, as a kernel fault that fails: the page raises
 * SIGBUS until a zap (the file changes there) lets it fault again.
 * Caller holds ip->lock. Returns 0 or -errno. */
static int fault_fail_page(struct fault *fc, struct fault_map *m, uint64_t off)
{
	int ret = fault_map_sigbus(m, off, FAULT_PAGE, 0);

	if (!ret)
		atomic_fetch_add(&fc->sigbus, 1);
	return ret;
}

/* What a window of a file holds, for a device that maps whole units. */
enum window_shape {
	WINDOW_MIXED, /* anything else: to be remapped before it is mapped */
	WINDOW_EMPTY, /* no written block (holes, unwritten): reads as zeros */
	WINDOW_WHOLE, /* one written extent on unit-aligned device blocks */
};

static enum window_shape window_shape(struct inode *ip, uint64_t w0,
				      uint64_t unit)
{
	struct iomap_iter it = {
		.ip = ip, .pos = w0, .len = unit, .flags = IOMAP_REPORT};
	int first = 1, written = 0, whole = 0;

	while (iomap_iter(&it, &udax_iomap_ops) > 0) {
		const struct iomap *im = &it.iomap;
		if (im->type == IOMAP_MAPPED || im->type == IOMAP_SHARED) {
			written = 1;
			whole = first && im->type == IOMAP_MAPPED &&
				im->length == unit && !(im->addr & (unit - 1));
		}
		first = 0;
		it.processed = (int64_t)im->length;
	}
	if (it.processed < 0) /* a damaged tree: the fault fails below */
		return WINDOW_MIXED;
	return whole ? WINDOW_WHOLE : written ? WINDOW_MIXED : WINDOW_EMPTY;
}

/*
 * May the window at w0 be remapped onto a fresh unit? Not while a pin
 * reaches one of its written blocks that a mapping ever showed (the
 * device's mapped bits): the kernel may hold references to that memory
 * for the pin's I/O, and the remap would free it. A pinned page over a
 * hole, an unwritten block or a block written since and never mapped has
 * no memory the kernel can reach (a window is mapped whole or not at
 * all), so pins there do not hold the window in pieces: a store into an
 * extended last window that a pin covers gets its unit. Caller holds
 * ip->lock exclusively.
 */
static int unit_pinned(struct inode *ip, uint64_t w0, uint64_t unit)
{
	struct dev *dev = ip->fs->dev;
	struct iomap_iter it = {
		.ip = ip, .pos = w0, .len = unit, .flags = IOMAP_REPORT};
	int busy = 0;

	if (!layout_pinned(ip, w0, unit))
		return 0;
	while (!busy && iomap_iter(&it, &udax_iomap_ops) > 0) {
		const struct iomap *im = &it.iomap;
		if (im->type == IOMAP_MAPPED || im->type == IOMAP_SHARED)
			for (uint64_t o = 0; o < im->length && !busy;
			     o += FAULT_PAGE)
				busy = dev_was_mapped(dev, im->addr + o) &&
				       layout_pinned(ip, im->offset + o,
						     FAULT_PAGE);
		it.processed = (int64_t)im->length;
	}
	return busy || it.processed < 0;
}

int fault_unit_whole(struct inode *ip, uint64_t w0, uint64_t unit)
{
	return window_shape(ip, w0, unit) == WINDOW_WHOLE;
}

/* Say once why a fault on a device that maps whole units failed. */
static void fault_unit_told(struct fault_map *m, uint64_t w0, int err)
{
	static _Atomic int told;

	if (atomic_exchange(&told, 1) || m->ip->fs->quiet)
		return;
	fprintf(stderr,
		"udax: %s maps only whole %llu KiB units, and the unit at "
		"file offset %llu of inode %llu could not be given one "
		"aligned extent: %s%s\n",
		m->ip->fs->dev->name, (unsigned long long)(m->unit >> 10),
		(unsigned long long)w0, (unsigned long long)m->ip->ino,
		strerror(-err),
		err == -EBUSY  ? " (a pin holds its blocks)" :
		err == -ENOSPC ? " (no free aligned unit)" :
				 "");
}

/*
 * A fault in a shared mapping of a device that maps only whole units
 * (devdax at 2 MiB, a memory file on huge pages): the rule of
 * docs/DESIGN.md, "Devices that map only in 2 MiB units". The window
 * (one unit) is mapped whole or not at all: a read of a window with no
 * written block gets zero pages; any other fault first makes the window
 * one aligned extent (inode_remap_unit: a store into nothing allocates a
 * unit, scattered or partial blocks are copied into one), which needs
 * the inode lock exclusively (returns 1: retry so) and, when other
 * mappings may show zero pages of it, the worker. The part of the last
 * window past end of file is mapped with it (the file's own blocks,
 * zeroed), as a hugetlbfs file's last page is.
 */
static int fault_unit_locked(struct fault *fc, struct fault_map *m,
			     uint64_t off, int store, int excl, int may_wait,
			     uint64_t *wake0, uint64_t *wake1)
{
	struct inode *ip = m->ip;
	uint64_t w0 = off & ~(m->unit - 1), w1 = w0 + m->unit;
	enum window_shape shape = window_shape(ip, w0, m->unit);
	int ret;

	if (shape == WINDOW_EMPTY && !store)
		return -ENODATA; /* the caller's zero page */
	if (shape != WINDOW_WHOLE) {
		int others = ip->maps != m || m->next;
		if (!excl)
			return 1;
		if (others && !may_wait)
			return -EWOULDBLOCK;
		ret = unit_pinned(ip, w0, m->unit) ?
			      -EBUSY :
			      inode_remap_unit(ip, w0, m->unit);
		/* other mappings' zero pages of the window show it no more */
		if (!ret && others)
			ret = fault_file_changed(ip, m, w0, m->unit);
		if (ret) {
			fault_unit_told(m, w0, ret);
			return fault_fail_page(
				fc, m, off & ~(uint64_t)(FAULT_PAGE - 1));
		}
		atomic_fetch_add(&fc->allocs, 1);
		if (m->flags &
		    UDAX_MAP_SYNC) /* committed: fault_alloc's rule */
			atomic_fetch_add(&fc->sync_allocs, 1);
	}
	ret = map_window(m, w0, w1);
	if (!ret) {
		*wake0 = (uintptr_t)m->addr + (w0 - m->offset);
		*wake1 = (uintptr_t)m->addr + (w1 - m->offset);
	}
	return ret;
}

/* A fault of a private mapping served with copies (m->copy): the
 * written extent under off, to the end of the window, is copied in
 * (the mapping's own pages from then on, as after a copy-on-write);
 * holes go on to the caller's zero page (-ENODATA). */
static int fault_copy_locked(struct fault *fc, struct fault_map *m,
			     uint64_t addr, uint64_t off, uint64_t w0,
			     uint64_t w1, uint64_t *wake1)
{
	struct iomap_iter it = {.ip = m->ip,
				.pos = off,
				.len = w1 - off,
				.flags = IOMAP_REPORT};
	struct dev *dev = m->ip->fs->dev;
	int ret = -ENODATA;

	(void)w0;
	if (iomap_iter(&it, &udax_iomap_ops) > 0) {
		const struct iomap *im = &it.iomap;
		if (im->type == IOMAP_MAPPED || im->type == IOMAP_SHARED) {
			uint64_t n = page_up(im->length), o = 0, done;
			/* the pages copied are noted, whatever stopped the
			 * copy (only truncate and punch zap them); one there
			 * already keeps its state */
			do {
				ret = uffd_copy(fc, addr + o,
						dev->base + im->addr + o, n - o,
						&done);
				if (done)
					fault_map_note(m, off + o, done,
						       FAULT_STATE_DEVICE, 0);
				o += done + (ret == -EEXIST ? FAULT_PAGE : 0);
			} while (ret == -EEXIST && o < n);
			if (ret == -EEXIST)
				ret = 0;
			if (ret == -EAGAIN)
				ret = 0; /* a zap is in flight: retry */
			*wake1 = addr + (o > FAULT_PAGE ? o : FAULT_PAGE);
		}
		it.processed = (int64_t)im->length;
		while (iomap_iter(&it, &udax_iomap_ops) > 0)
			it.processed = (int64_t)it.iomap.length;
	}
	return ret;
}

/*
 * Zero pages into the missing pages of [off, end) of m (file offsets), and
 * note each one the kernel filled (note): a zero page the state bits do
 * not know would never be zapped, and would hide what a later write puts
 * in the file. A page already there keeps its page and its state. Returns
 * 0 once the range is done, or a negative errno with the part before it
 * filled and noted (-EAGAIN: a zap is in flight; -ENOENT: the range spans
 * kernel mappings).
 */
static int map_zeros(struct fault *fc, struct fault_map *m, uint64_t off,
		     uint64_t end, int wp, int note)
{
	while (off < end) {
		uint64_t done;
		int ret = uffd_zero(fc, (uintptr_t)m->addr + (off - m->offset),
				    end - off, wp, &done);
		if (done && note)
			fault_map_note(m, off, done, FAULT_STATE_ZERO, 0);
		off += done;
		if (ret == -EEXIST)
			off += FAULT_PAGE; /* there already */
		else if (ret)
			return ret;
	}
	return 0;
}

/* Resolve the fault at address addr (file offset off) of m under the
 * inode lock (exclusive if store or excl); alone: map that page only,
 * not its window (the kernel is out of mappings). Sets the range to
 * wake. Returns 0, a negative errno, or 1: retry with the lock held
 * exclusively (a device that maps whole units must remap the window). */
static int fault_locked(struct fault *fc, struct fault_map *m, uint64_t addr,
			uint64_t off, int store, int excl, int may_wait,
			int alone, uint64_t *wake0, uint64_t *wake1)
{
	struct inode *ip = m->ip;
	const struct udax_inode *di;
	uint64_t mend = m->offset + m->len, size, eof, w0, w1;
	int ret, hole, wp;

	*wake0 = addr;
	*wake1 = addr + FAULT_PAGE;
	di = inode_r(ip->fs, NULL, ip->ino, &ret);
	if (!di)
		return ret;
	size = di->size;
	eof = page_up(size);
	/* a device that maps whole units maps the last window whole, its
	 * pages past end of file too (docs/DESIGN.md): only the windows
	 * after it raise SIGBUS. (A fault queued before that window was
	 * mapped comes here after: mapping SIGBUS pages into the device
	 * piece would fail, as the kernel splits no hugetlb or devdax
	 * mapping inside a unit.) */
	if (m->unit > FAULT_PAGE)
		eof = (size + m->unit - 1) & ~(m->unit - 1);
	if (off >= eof) {
		uint64_t from = max_u64(eof, m->offset);
		atomic_fetch_add(&fc->sigbus, 1);
		*wake0 = (uintptr_t)m->addr + (from - m->offset);
		*wake1 = (uintptr_t)m->addr + m->len;
		return fault_map_sigbus(m, from, mend - from, 1);
	}
	w0 = alone ? off : off & ~(uint64_t)(FAULT_AROUND - 1);
	w1 = min_u64(min_u64(w0 + (alone ? FAULT_PAGE : FAULT_AROUND), mend),
		     eof);
	w0 = max_u64(w0, m->offset);

	uint64_t e0, e1;
	int type;
	ret = fault_extent(ip, off, w0, w1, &e0, &e1, &type);
	if (ret)
		return ret;
	hole = type == IOMAP_HOLE || type == IOMAP_UNWRITTEN;
	uint64_t hole_end = e1;
	if (m->unit > FAULT_PAGE || m->copy) {
		ret = m->copy ? fault_copy_locked(fc, m, addr, off, w0, w1,
						  wake1) :
				fault_unit_locked(fc, m, off, store, excl,
						  may_wait, wake0, wake1);
		if (ret != -ENODATA)
			return ret;
		/* zeros: the zero-page path below, one page at a time */
		w1 = off + FAULT_PAGE;
		hole_end = min_u64(hole_end, w1);
		w0 = off;
		goto zeros;
	}
	if (hole && store) {
		/* the other mappings' zero pages of the range must go (a zap,
		 * which the reader may not make: see fault.h) */
		int others = ip->maps != m || m->next;
		if (others && !may_wait)
			return -EWOULDBLOCK;
		ret = fault_alloc(fc, m, off, e0, e1, size);
		if (!ret && others)
			ret = fault_file_changed(ip, m, e0,
						 min_u64(e1, eof) - e0);
		if (ret) {
			/* as a kernel fault that cannot allocate: SIGBUS */
			return fault_fail_page(fc, m, off);
		}
		hole = 0;
	}
	ret = map_window(m, w0, w1);
	if (ret)
		return ret;
	*wake0 = (uintptr_t)m->addr + (w0 - m->offset);
	*wake1 = (uintptr_t)m->addr + (w1 - m->offset);
	if (!hole)
		return 0;
zeros:
	/* a read of a hole: zeros, allocating nothing. A zero page shows
	 * the file until its mapping stores into it, so a later write to
	 * the file zaps it; a private writable mapping whose stores cannot
	 * be caught would lose them: its zero pages stay unnoted */
	wp = !!(m->reg_mode & UFFDIO_REGISTER_MODE_WP);
	int note =
		(m->flags & UDAX_MAP_SHARED) || !(m->prot & PROT_WRITE) || wp;
	/* write-protected: one page, whose first store comes back here */
	ret = map_zeros(fc, m, off, wp ? off + FAULT_PAGE : hole_end, wp, note);
	if (ret == -ENOENT && !wp && hole_end - off > FAULT_PAGE)
		/* the hole spans kernel mappings that zaps left unmerged:
		 * this page alone */
		ret = map_zeros(fc, m, off, off + FAULT_PAGE, 0, note);
	if (ret == -EAGAIN)
		return 0; /* a zap is moving memory: the retry faults again */
	return ret;
}

/* A store into a write-protected zero page of a private mapping: the page
 * becomes the mapping's own copy, kept like a device page (only truncate
 * and punch zap it), and writable. */
static int fault_private_store(struct fault *fc, struct fault_map *m,
			       uint64_t addr, uint64_t off, int may_wait)
{
	struct inode *ip = m->ip;
	int ret = 0;

	if (may_wait)
		pthread_rwlock_rdlock(&ip->lock);
	else if (pthread_rwlock_tryrdlock(&ip->lock))
		return -EWOULDBLOCK;
	/* not a zero page any more (zapped): the retry faults afresh */
	if (fault_map_state(m, off) == FAULT_STATE_ZERO) {
		ret = uffd_unprotect(fc, addr, FAULT_PAGE);
		if (!ret) /* no kernel mapping of its own: not a piece */
			fault_map_note(m, off, FAULT_PAGE, FAULT_STATE_DEVICE,
				       0);
		else
			fault_fail_page(fc, m, off);
	}
	pthread_rwlock_unlock(&ip->lock);
	atomic_fetch_add(&fc->faults, 1);
	uffd_wake(fc->uffd, addr, FAULT_PAGE);
	return ret;
}

/* ---- the restart policy ---- */

/*
 * Kernel mappings are limited (vm.max_map_count) and each piece a fault
 * maps costs one or two, so when the pieces of all mappings pass the
 * budget, the worker evicts some (returns them to neutral: their pages
 * fault in again when used) before it maps more. This is the only place
 * that decides what goes:
 *
 *  - never the last FAULT_RECENT_WINDOWS windows each thread faulted in
 *    (the faulting one among them);
 *  - never a private mapping's own copies (its data; Linux keeps them);
 *  - otherwise whole mappings' worth, the least recently faulted mapping
 *    first, until the pieces are down to 3/4 of the budget: what is
 *    left of a mapping is its spared windows and copies, each run
 *    between them one neutral kernel mapping.
 *
 * Why a fault always makes progress: one instruction touches at most
 * FAULT_RECENT_WINDOWS windows (an unaligned access two; a string move
 * from one mapping into another four). Each of its faults maps the
 * faulting page with its window and becomes its thread's most recent;
 * an eviction, whoever makes it, spares every thread's last four. So
 * once each of its windows has been faulted in (at most four faults),
 * no eviction can take any of them away, and the retry completes; only
 * a change of the file itself (truncate, punch, a write over a zero
 * page) zaps them, and that is the file making progress. The table
 * holds FAULT_RECENT_THREADS threads (the least recently faulting one
 * gives way); without thread ids (kernels before 4.14) all threads share
 * one entry and the guarantee is for one faulting thread at a time.
 * An eviction that frees little does not repeat at every fault: the
 * next one waits until the pieces pass the count it left by a quarter
 * of the budget. If the kernel still runs out of mappings, everything
 * that may go goes, and then the fault maps its page alone.
 */

/* Record that thread tid faulted in window w0 of m. fc->lock held. */
static void recent_note(struct fault *fc, uint32_t tid, struct fault_map *m,
			uint64_t w0, uint64_t seq)
{
	struct fault_recent *r = NULL, *oldest = &fc->recent[0];
	int k;

	if (!fc->tids)
		tid = 0;
	for (int i = 0; i < FAULT_RECENT_THREADS && !r; i++) {
		if (fc->recent[i].seq && fc->recent[i].tid == tid)
			r = &fc->recent[i];
		else if (fc->recent[i].seq < oldest->seq)
			oldest = &fc->recent[i];
	}
	if (!r) {
		r = oldest;
		memset(r, 0, sizeof(*r));
		r->tid = tid;
	}
	r->seq = seq;
	for (k = 0; k < FAULT_RECENT_WINDOWS - 1; k++)
		if (r->win[k].map == m && r->win[k].w0 == w0)
			break;
	memmove(&r->win[1], &r->win[0], (size_t)k * sizeof(r->win[0]));
	r->win[0].map = m;
	r->win[0].w0 = w0;
}

/* Is the page at file offset off of m in a window recent spares? */
static int recent_spares(const struct fault_recent *recent,
			 const struct fault_map *m, uint64_t off)
{
	uint64_t w0 = off & ~(uint64_t)(FAULT_AROUND - 1);

	for (int i = 0; i < FAULT_RECENT_THREADS; i++) {
		if (!recent[i].seq)
			continue;
		for (int k = 0; k < FAULT_RECENT_WINDOWS; k++)
			if (recent[i].win[k].map == m &&
			    (recent[i].win[k].w0 &
			     ~(uint64_t)(FAULT_AROUND - 1)) == w0)
				return 1;
	}
	return 0;
}

/* /proc/self/pagemap, read 512 entries at a time: which pages of a
 * private mapping are its own copies (anonymous memory present or in
 * swap, rather than the device's page). */
struct pagemap {
	int fd;
	uint64_t first; /* page number of ent[0] */
	int valid;
	uint64_t ent[512];
};

static int pagemap_own(struct pagemap *pm, uint64_t addr)
{
	uint64_t page = addr / FAULT_PAGE;

	if (pm->fd < 0)
		return 1; /* unknown: keep it */
	if (!pm->valid || page < pm->first || page >= pm->first + 512) {
		pm->first = page & ~511ull;
		if (pread(pm->fd, pm->ent, sizeof(pm->ent),
			  (off_t)(pm->first * 8)) != (ssize_t)sizeof(pm->ent))
			return 1;
		pm->valid = 1;
	}
	uint64_t e = pm->ent[page - pm->first];
	int present = !!(e & (1ull << 63)), swapped = !!(e & (1ull << 62));
	int file = !!(e & (1ull << 61));
	return (present || swapped) && !file;
}

/* Does an eviction keep the page at file offset off of v? */
static int evict_keeps(struct fault *fc, struct fault_map *v, uint64_t off,
		       const struct fault_recent *recent, struct pagemap *pm)
{
	if (recent_spares(recent, v, off))
		return 1;
	if ((v->flags & UDAX_MAP_SHARED) || !(v->prot & PROT_WRITE) ||
	    fault_map_state(v, off) != FAULT_STATE_DEVICE)
		return 0;
	if (!pagemap_own(pm, (uintptr_t)v->addr + (off - v->offset)))
		return 0;
	atomic_fetch_add(&fc->kept_copies, 1);
	return 1;
}

/* Evict what may go of v: each run of pages not kept that holds more
 * than one kernel mapping, or a page that is not neutral, becomes one
 * neutral range. Takes v->ip->lock exclusively if it is free, else skips
 * v: its holder may be a thread waiting for this very fault (a copy under
 * the lock from a buffer in a mapping whose prefaulted pages an eviction
 * took away), even when v is the faulting mapping. */
static void evict_map(struct fault *fc, struct fault_map *v,
		      const struct fault_recent *recent, struct pagemap *pm)
{
	uint64_t end = v->offset + v->len, a = v->offset;
	int64_t before = atomic_load(&v->pieces);

	if (pthread_rwlock_trywrlock(&v->ip->lock))
		return;
	pm->valid = 0;
	while (a < end) {
		while (a < end && evict_keeps(fc, v, a, recent, pm))
			a += FAULT_PAGE;
		if (a >= end)
			break;
		uint64_t b = a;
		int worth = 0;
		while (b < end && !evict_keeps(fc, v, b, recent, pm)) {
			worth |= fault_map_state(v, b) != FAULT_STATE_NEUTRAL ||
				 (b > a && fault_map_starts(v, b));
			b += FAULT_PAGE;
		}
		if (worth && fault_map_zap(v, a, b - a))
			break; /* no memory: what is left stays */
		a = b;
	}
	pthread_rwlock_unlock(&v->ip->lock);
	int64_t freed = before - atomic_load(&v->pieces);
	if (freed > 0)
		atomic_fetch_add(&fc->evicted_pieces, (uint64_t)freed);
}

static int by_last_fault(const void *a, const void *b)
{
	uint64_t x = atomic_load(&(*(struct fault_map *const *)a)->last_fault);
	uint64_t y = atomic_load(&(*(struct fault_map *const *)b)->last_fault);

	return x < y ? -1 : x > y;
}

/* Evict pieces down to 3/4 of the budget, or (all) everything that may
 * go. Only the worker calls it: a zap waits for the reader. */
static void fault_evict(struct fault *fc, int all)
{
	int64_t target = all ? 0 : fc->piece_budget * 3 / 4;
	struct fault_recent recent[FAULT_RECENT_THREADS];
	struct pagemap pm = {.fd = -1};
	struct fault_map **v;
	size_t n = 0;

	atomic_fetch_add(&fc->evictions, 1);
	pthread_mutex_lock(&fc->lock);
	v = sys_malloc((size_t)(fc->nmaps > 0 ? fc->nmaps : 1) * sizeof(*v));
	if (v) {
		/* a busy count on each candidate: none is freed under us */
		for (struct fault_map *m = fc->maps; m; m = m->fc_next)
			if (atomic_load(&m->pieces) > 1) {
				atomic_fetch_add(&m->busy, 1);
				v[n++] = m;
			}
	}
	memcpy(recent, fc->recent, sizeof(recent));
	pthread_mutex_unlock(&fc->lock);
	qsort(v, n, sizeof(*v), by_last_fault);
	pm.fd = sys_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
	for (size_t i = 0; i < n; i++) {
		if (atomic_load(&fc->pieces) > target)
			evict_map(fc, v[i], recent, &pm);
		fault_map_put(v[i]);
	}
	if (pm.fd >= 0)
		close(pm.fd);
	free(v);
	pthread_mutex_lock(&fc->lock);
	int64_t left = atomic_load(&fc->pieces);
	fc->evict_above = max_u64((uint64_t)fc->piece_budget,
				  (uint64_t)(left + fc->piece_budget / 4));
	pthread_mutex_unlock(&fc->lock);
}

int fault_resolve(struct fault *fc, struct fault_map *m, uint64_t addr,
		  uint64_t flags, uint32_t tid, int may_wait)
{
	struct inode *ip = m->ip;
	uint64_t off = m->offset + (addr - (uintptr_t)m->addr);
	uint64_t wake0, wake1;
	int shared_w = (m->flags & UDAX_MAP_SHARED) && (m->prot & PROT_WRITE);
	uint64_t wflags = UFFD_PAGEFAULT_FLAG_WRITE | UFFD_PAGEFAULT_FLAG_WP;
	/* without write-protect faults, any fault may be the first store */
	int store = shared_w && ((flags & wflags) ||
				 !(m->reg_mode & UFFDIO_REGISTER_MODE_WP));
	uint64_t seq = atomic_fetch_add(&fc->seq, 1) + 1;
	int64_t evict_above;
	int ret;

	atomic_store(&m->last_fault, seq);
	pthread_mutex_lock(&fc->lock);
	recent_note(fc, tid, m, off & ~(uint64_t)(FAULT_AROUND - 1), seq);
	evict_above = fc->evict_above;
	pthread_mutex_unlock(&fc->lock);
	if (!(m->flags & UDAX_MAP_SHARED) && (flags & UFFD_PAGEFAULT_FLAG_WP))
		return fault_private_store(fc, m, addr, off, may_wait);
	/* over the budget: evict before this fault maps more */
	if (atomic_load(&fc->pieces) > evict_above) {
		if (!may_wait)
			return -EWOULDBLOCK; /* the worker evicts */
		fault_evict(fc, 0);
	}
	/* tries: 0 as usual; 1 after evicting all that may go (the kernel
	 * is out of mappings, vm.max_map_count); 2 this page alone */
	int excl = store;
	for (int tries = 0;; tries++) {
		if (excl) {
			if (may_wait)
				pthread_rwlock_wrlock(&ip->lock);
			else if (pthread_rwlock_trywrlock(&ip->lock))
				return -EWOULDBLOCK;
		} else {
			if (may_wait)
				pthread_rwlock_rdlock(&ip->lock);
			else if (pthread_rwlock_tryrdlock(&ip->lock))
				return -EWOULDBLOCK;
		}
		ret = fault_locked(fc, m, addr, off, store, excl, may_wait,
				   tries == 2, &wake0, &wake1);
		if (ret == 1) {
			/* the window is to be remapped: exclusively */
			pthread_rwlock_unlock(&ip->lock);
			excl = 1;
			tries--;
			continue;
		}
		if (ret == -EWOULDBLOCK ||
		    (ret == -ENOMEM && tries < 2 && !may_wait)) {
			pthread_rwlock_unlock(&ip->lock);
			return -EWOULDBLOCK; /* the worker evicts and retries */
		}
		if (ret == -ENOMEM && tries < 2) {
			pthread_rwlock_unlock(&ip->lock);
			if (!tries)
				fault_evict(fc, 1);
			continue;
		}
		if (ret) {
			fault_fail_page(fc, m, off);
			wake0 = addr;
			wake1 = addr + FAULT_PAGE;
		}
		pthread_rwlock_unlock(&ip->lock);
		break;
	}
	if (ret) {
		static _Atomic int told;
		if (!atomic_exchange(&told, 1) && !ip->fs->quiet)
			fprintf(stderr,
				"udax: a page fault at file offset "
				"%llu of inode %llu failed: %s\n",
				(unsigned long long)off,
				(unsigned long long)ip->ino, strerror(-ret));
	}
	atomic_fetch_add(&fc->faults, 1);
	uffd_wake(fc->uffd, wake0, wake1 - wake0);
	return ret;
}

/* ---- threads ---- */

/* Queue a fault for the worker (busy count kept). 0 or -ENOMEM. */
static int fault_defer(struct fault *fc, struct fault_map *m, uint64_t addr,
		       uint64_t flags, uint32_t tid)
{
	pthread_mutex_lock(&fc->lock);
	if (fc->qlen == fc->qcap) {
		size_t ncap = fc->qcap * 2;
		struct fault_req *q = sys_malloc(ncap * sizeof(*q));
		if (!q) {
			pthread_mutex_unlock(&fc->lock);
			return -ENOMEM;
		}
		for (size_t i = 0; i < fc->qlen; i++)
			q[i] = fc->queue[(fc->qhead + i) % fc->qcap];
		free(fc->queue);
		fc->queue = q;
		fc->qhead = 0;
		fc->qcap = ncap;
	}
	fc->queue[(fc->qhead + fc->qlen++) % fc->qcap] = (struct fault_req){
		.map = m, .addr = addr, .flags = flags, .tid = tid};
	atomic_fetch_add(&fc->deferred, 1);
	pthread_cond_broadcast(&fc->cond);
	pthread_mutex_unlock(&fc->lock);
	return 0;
}

static void fault_message(struct fault *fc, const struct uffd_msg *msg)
{
	uint64_t addr =
		msg->arg.pagefault.address & ~(uint64_t)(FAULT_PAGE - 1);
	uint64_t flags = msg->arg.pagefault.flags;
	uint32_t tid = fc->tids ? msg->arg.pagefault.feat.ptid : 0;
	struct fault_map *m = fault_map_get(addr);

	if (!m || m->fc != fc) {
		/* unmapped meanwhile: the retry meets whatever is there */
		if (m)
			fault_map_put(m);
		uffd_wake(fc->uffd, addr, FAULT_PAGE);
		return;
	}
	if (fault_resolve(fc, m, addr, flags, tid, 0) == -EWOULDBLOCK) {
		if (!fault_defer(fc, m, addr, flags, tid))
			return; /* the worker drops the busy count */
		/* no memory to queue it: the access is retried and faults
		 * again, rather than waiting for good */
		uffd_wake(fc->uffd, addr, FAULT_PAGE);
	}
	fault_map_put(m);
}

/* The reader: never waits for a file system lock (see fault.h). */
static void *fault_reader(void *arg)
{
	struct fault *fc = arg;
	struct uffd_msg msgs[32];

	for (;;) {
		ssize_t n = sys_read(fc->uffd, msgs, sizeof(msgs));
		if (n < 0) {
			struct pollfd p[2] = {
				{.fd = fc->uffd, .events = POLLIN},
				{.fd = fc->stop_fd, .events = POLLIN},
			};
			if ((errno != EAGAIN && errno != EINTR) ||
			    (sys_poll(p, 2, -1) < 0 && errno != EINTR)) {
				/* ENOMEM and the like: faults wait for this
				 * thread, so it tries again (a stop stays
				 * readable on stop_fd) */
				usleep(1000);
				continue;
			}
			if (p[1].revents)
				break;
			continue;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
			/* other events (UFFD_EVENT_REMAP of a zap) need only
			 * to be read: that completes them */
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				fault_message(fc, &msgs[i]);
	}
	return NULL;
}

/* The worker: resolves the faults whose inode lock was taken. */
static void *fault_worker(void *arg)
{
	struct fault *fc = arg;

	pthread_mutex_lock(&fc->lock);
	for (;;) {
		while (!fc->qlen && !fc->stopping)
			pthread_cond_wait(&fc->cond, &fc->lock);
		if (!fc->qlen)
			break;
		struct fault_req r = fc->queue[fc->qhead];
		fc->qhead = (fc->qhead + 1) % fc->qcap;
		fc->qlen--;
		pthread_mutex_unlock(&fc->lock);
		fault_resolve(fc, r.map, r.addr, r.flags, r.tid, 1);
		fault_map_put(r.map);
		pthread_mutex_lock(&fc->lock);
	}
	pthread_mutex_unlock(&fc->lock);
	return NULL;
}

static void fault_free(struct fault *fc)
{
	if (fc->uffd >= 0)
		close(fc->uffd);
	if (fc->sigbus_fd >= 0)
		close(fc->sigbus_fd);
	if (fc->stop_fd >= 0)
		close(fc->stop_fd);
	pthread_cond_destroy(&fc->cond);
	pthread_cond_destroy(&fc->idle);
	pthread_mutex_destroy(&fc->lock);
	free(fc->queue);
	free(fc->zero_page);
	free(fc);
}

int64_t fault_piece_budget(void)
{
	const char *e = getenv("UDAX_FAULT_PIECES");
	long long max = 65530;
	FILE *f;

	if (e && atoll(e) > 0)
		return atoll(e);
	f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%lld", &max) != 1 || max < 1024)
			max = 65530;
		fclose(f);
	}
	return max / 2;
}

/* Create the handler and start its threads (signals blocked in them: a
 * program's SIGBUS or SIGINT handler runs in its own threads). */
static int fault_new(struct udax_fs *fs, struct fault **fcp)
{
	struct fault *fc;
	sigset_t all, old;
	int ret;

	fc = sys_calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->fs = fs;
	fc->uffd = fc->sigbus_fd = fc->stop_fd = -1;
	pthread_mutex_init(&fc->lock, NULL);
	pthread_cond_init(&fc->cond, NULL);
	pthread_cond_init(&fc->idle, NULL);
	fc->qcap = 64;
	fc->piece_budget = fault_piece_budget();
	fc->evict_above = fc->piece_budget;
	fc->queue = sys_malloc(fc->qcap * sizeof(*fc->queue));
	fc->zero_page = sys_aligned_alloc(FAULT_PAGE, FAULT_PAGE);
	if (!fc->queue || !fc->zero_page) {
		ret = -ENOMEM;
		goto free_fc;
	}
	memset(fc->zero_page, 0, FAULT_PAGE);
	ret = uffd_open(fs->quiet, &fc->wp, &fc->tids);
	if (ret < 0)
		goto free_fc;
	fc->uffd = ret;
	fc->sigbus_fd = sys_memfd_create("udax-sigbus",
					 MFD_CLOEXEC | MFD_ALLOW_SEALING);
	fc->stop_fd = sys_eventfd(0, EFD_CLOEXEC);
	if (fc->sigbus_fd < 0 || fc->stop_fd < 0 ||
	    sys_fcntl(fc->sigbus_fd, F_ADD_SEALS,
		      F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)) {
		ret = -errno;
		goto free_fc;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -sys_pthread_create(&fc->reader, NULL, fault_reader, fc);
	if (!ret) {
		ret = -sys_pthread_create(&fc->worker, NULL, fault_worker, fc);
		if (ret) {
			eventfd_write(fc->stop_fd, 1);
			pthread_join(fc->reader, NULL);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto free_fc;
	*fcp = fc;
	return 0;

free_fc:
	fault_free(fc);
	return ret;
}

int fault_get(struct udax_fs *fs, struct fault **fcp)
{
	int ret = 0;

	pthread_mutex_lock(&fs->fault_lock);
	if (!fs->fault)
		ret = fault_new(fs, &fs->fault);
	*fcp = fs->fault;
	pthread_mutex_unlock(&fs->fault_lock);
	return ret;
}

long fault_fs_maps(struct udax_fs *fs)
{
	long n = 0;

	pthread_mutex_lock(&fs->fault_lock);
	if (fs->fault) {
		pthread_mutex_lock(&fs->fault->lock);
		n = fs->fault->nmaps;
		pthread_mutex_unlock(&fs->fault->lock);
	}
	pthread_mutex_unlock(&fs->fault_lock);
	return n;
}

void fault_fs_counters(struct udax_fs *fs, struct fault_counters *c)
{
	struct fault *fc;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&fs->fault_lock);
	fc = fs->fault;
	if (fc) {
		pthread_mutex_lock(&fc->lock);
		c->maps = fc->nmaps;
		c->queued = fc->qlen;
		for (struct fault_map *m = fc->maps; m; m = m->fc_next) {
			c->listed++;
			c->busy += atomic_load(&m->busy);
			c->pieces_of_maps += atomic_load(&m->pieces);
			c->pieces_counted += fault_map_count_pieces(m);
		}
		c->pieces = atomic_load(&fc->pieces);
		c->budget = fc->piece_budget;
		c->faults = atomic_load(&fc->faults);
		c->allocs = atomic_load(&fc->allocs);
		c->sync_allocs = atomic_load(&fc->sync_allocs);
		c->deferred = atomic_load(&fc->deferred);
		c->sigbus = atomic_load(&fc->sigbus);
		c->evictions = atomic_load(&fc->evictions);
		c->evicted_pieces = atomic_load(&fc->evicted_pieces);
		c->kept_copies = atomic_load(&fc->kept_copies);
		pthread_mutex_unlock(&fc->lock);
	}
	pthread_mutex_unlock(&fs->fault_lock);
}

void fault_fs_fini(struct udax_fs *fs)
{
	struct fault *fc = fs->fault;

	if (!fc)
		return;
	pthread_mutex_lock(&fc->lock);
	fc->stopping = 1;
	pthread_cond_broadcast(&fc->cond);
	pthread_mutex_unlock(&fc->lock);
	eventfd_write(fc->stop_fd, 1);
	pthread_join(fc->reader, NULL);
	pthread_join(fc->worker, NULL);
	fault_free(fc);
	fs->fault = NULL;
}
