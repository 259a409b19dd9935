/* SPDX-License-Identifier: MIT */
/*
 * map.c - udax mappings: creation and removal, the registry that finds a
 * mapping by address, zaps, and persistence of mapped stores.
 *
 * The registry is process-wide (udax_persist and udax_munmap take only an
 * address): a table of every mapping sorted by address, under one
 * rwlock. udax_persist does not look at it when every mapping in the
 * process is on a device whose cache lines the CPU flushes (memory, DAX):
 * it is then clwb/clflushopt plus sfence, as on persistent memory.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"
#include "inode/inode.h"
#include "iomap/iomap.h"
#include "sys/sys.h"
#include "udax.h"

#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif

static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct fault_map **registry; /* sorted by addr; registry_lock */
static size_t registry_len, registry_cap;
static _Atomic long registry_count; /* registry_len, read without lock */
static _Atomic long registry_slow;  /* mappings with m->slow */

/* ---- page-state bitmaps ---- */

static uint64_t map_page(const struct fault_map *m, uint64_t off)
{
	return (off - m->offset) / FAULT_PAGE;
}

static uint64_t map_pages(const struct fault_map *m)
{
	return m->len / FAULT_PAGE;
}

/* The Z, D and S bitmaps of m (fault.h, "Page states"). */
static _Atomic uint64_t *bits_z(struct fault_map *m)
{
	return m->bits;
}

static _Atomic uint64_t *bits_d(struct fault_map *m)
{
	return m->bits + (map_pages(m) + 63) / 64;
}

static _Atomic uint64_t *bits_s(struct fault_map *m)
{
	return m->bits + 2 * ((map_pages(m) + 63) / 64);
}

/* Set bits [first, first+n); returns how many were clear before. */
static int64_t bits_set(_Atomic uint64_t *bits, uint64_t first, uint64_t n)
{
	int64_t changed = 0;

	for (uint64_t p = first; p < first + n; p++) {
		uint64_t bit = 1ull << (p % 64);
		changed += !(atomic_fetch_or(&bits[p / 64], bit) & bit);
	}
	return changed;
}

/* Clear bits [first, first+n); returns how many were set before. */
static int64_t bits_clear(_Atomic uint64_t *bits, uint64_t first, uint64_t n)
{
	int64_t changed = 0;

	for (uint64_t p = first; p < first + n; p++) {
		if (!(p % 64) && first + n - p >= 64) {
			changed += __builtin_popcountll(
				atomic_exchange(&bits[p / 64], 0));
			p += 63;
			continue;
		}
		uint64_t bit = 1ull << (p % 64);
		changed += !!(atomic_fetch_and(&bits[p / 64], ~bit) & bit);
	}
	return changed;
}

static int bit_test(_Atomic uint64_t *bits, uint64_t p)
{
	return !!(atomic_load(&bits[p / 64]) & (1ull << (p % 64)));
}

/* Set bits of the first `words` words. */
static int64_t bits_popcount(_Atomic uint64_t *bits, uint64_t words)
{
	int64_t c = 0;

	for (uint64_t w = 0; w < words; w++)
		c += __builtin_popcountll(atomic_load(&bits[w]));
	return c;
}

/* The start bits of m, counted (fault_fs_counters). */
int64_t fault_map_count_pieces(struct fault_map *m)
{
	return bits_popcount(bits_s(m), (map_pages(m) + 63) / 64);
}

/* Add delta to the pieces of m and of its handler. */
static void map_pieces_add(struct fault_map *m, int64_t delta)
{
	if (delta) {
		atomic_fetch_add(&m->pieces, delta);
		atomic_fetch_add(&m->fc->pieces, delta);
	}
}

/* ---- the registry ---- */

/* Index of the mapping holding addr, or -1. registry_lock held. */
static long registry_find(uint64_t addr)
{
	size_t lo = 0, hi = registry_len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((uintptr_t)registry[mid]->addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	struct fault_map *m = registry[lo - 1];
	return addr < (uintptr_t)m->addr + m->len ? (long)lo - 1 : -1;
}

static int registry_add(struct fault_map *m)
{
	size_t i;

	pthread_rwlock_wrlock(&registry_lock);
	if (registry_len == registry_cap) {
		size_t ncap = registry_cap ? registry_cap * 2 : 16;
		void *n = sys_realloc(registry, ncap * sizeof(*registry));
		if (!n) {
			pthread_rwlock_unlock(&registry_lock);
			return -ENOMEM;
		}
		registry = n;
		registry_cap = ncap;
	}
	for (i = registry_len; i > 0 && registry[i - 1]->addr > m->addr; i--)
		registry[i] = registry[i - 1];
	registry[i] = m;
	registry_len++;
	atomic_fetch_add(&registry_count, 1);
	if (m->slow)
		atomic_fetch_add(&registry_slow, 1);
	pthread_rwlock_unlock(&registry_lock);
	return 0;
}

/* Take the mapping that is exactly [addr, addr+len) out of the registry.
 * Returns it, or NULL. */
static struct fault_map *registry_remove(uint64_t addr, uint64_t len)
{
	struct fault_map *m = NULL;
	long i;

	pthread_rwlock_wrlock(&registry_lock);
	i = registry_find(addr);
	/* a mapping of a device that maps in units was rounded up to one
	 * (as a hugetlbfs mapping is): the caller's length names it too */
	if (i >= 0 && (uintptr_t)registry[i]->addr == addr &&
	    (registry[i]->len == len ||
	     registry[i]->len == ((len + registry[i]->unit - 1) &
				  ~(registry[i]->unit - 1)))) {
		m = registry[i];
		memmove(&registry[i], &registry[i + 1],
			(registry_len - (size_t)i - 1) * sizeof(*registry));
		registry_len--;
		atomic_fetch_sub(&registry_count, 1);
		if (m->slow)
			atomic_fetch_sub(&registry_slow, 1);
		atomic_store(&m->dead, 1);
	}
	pthread_rwlock_unlock(&registry_lock);
	return m;
}

struct fault_map *fault_map_get(uint64_t addr)
{
	struct fault_map *m = NULL;
	long i;

	if (!atomic_load_explicit(&registry_count, memory_order_relaxed))
		return NULL;
	pthread_rwlock_rdlock(&registry_lock);
	i = registry_find(addr);
	if (i >= 0) {
		m = registry[i];
		atomic_fetch_add(&m->busy, 1);
	}
	pthread_rwlock_unlock(&registry_lock);
	return m;
}

int fault_map_igrab(uint64_t addr, uint64_t len, struct inode **ipp,
		    uint64_t *offp)
{
	int ret = -EFAULT;
	long i;

	if (!atomic_load_explicit(&registry_count, memory_order_relaxed))
		return ret;
	pthread_rwlock_rdlock(&registry_lock);
	i = registry_find(addr);
	if (i >= 0) {
		struct fault_map *m = registry[i];
		uint64_t start = (uintptr_t)m->addr;

		if (len <= m->len - (addr - start)) {
			igrab(m->ip); /* the mapping holds one: not 0 */
			*ipp = m->ip;
			*offp = m->offset + (addr - start);
			ret = 0;
		}
	}
	pthread_rwlock_unlock(&registry_lock);
	return ret;
}

void fault_map_put(struct fault_map *m)
{
	struct fault *fc = m->fc;

	if (atomic_fetch_sub(&m->busy, 1) == 1 && atomic_load(&m->dead)) {
		/* fault_map_delete is waiting for the count to drop */
		pthread_mutex_lock(&fc->lock);
		pthread_cond_broadcast(&fc->idle);
		pthread_mutex_unlock(&fc->lock);
	}
}

/* ---- creation and removal ---- */

/* Take m off the handler's list. fc->lock held. */
static void fc_list_remove(struct fault *fc, struct fault_map *m)
{
	if (m->fc_prev)
		m->fc_prev->fc_next = m->fc_next;
	else
		fc->maps = m->fc_next;
	if (m->fc_next)
		m->fc_next->fc_prev = m->fc_prev;
	m->fc_prev = m->fc_next = NULL;
}

/* Fresh anonymous memory of len bytes, not inherited by fork, registered
 * with the file system's userfaultfd in mode; at where exactly if given
 * (over a reservation of the caller's). Returns it or NULL. */
static void *neutral_new(struct fault_map *m, void *where, uint64_t len,
			 int *err)
{
	void *p = sys_mmap(where, len, m->prot,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				   (where ? MAP_FIXED : 0),
			   -1, 0);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	if (sys_madvise(p, len, MADV_DONTFORK)) {
		*err = -errno;
		goto unmap;
	}
	*err = uffd_register(m->fc->uffd, p, len, m->reg_mode);
	if (*err)
		goto unmap;
	return p;

unmap:
	sys_munmap(p, len);
	return NULL;
}

/* neutral_new at an address congruent to off modulo align (a power of
 * two): a device piece of a whole aligned window then sits at an aligned
 * address, which huge (PMD) mappings and devdax need. */
static void *neutral_new_aligned(struct fault_map *m, uint64_t len,
				 uint64_t off, uint64_t align, int *err)
{
	uint64_t span = len + align;
	uint8_t *p =
		sys_mmap(NULL, span, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	uint64_t a = (((uintptr_t)p - off % align + align - 1) & ~(align - 1)) +
		     off % align;
	if (a < (uintptr_t)p)
		a += align;
	/* made over the reservation in place, then the rest of it goes */
	void *q = neutral_new(m, (void *)a, len, err);
	if (!q) {
		sys_munmap(p, span);
		return NULL;
	}
	if (a > (uintptr_t)p)
		sys_munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + span > a + len)
		sys_munmap((void *)(a + len), (uintptr_t)p + span - (a + len));
	return q;
}

int fault_map_new(struct udax_fs *fs, struct inode *ip, uint64_t off,
		  uint64_t len, int prot, int flags, void **addr)
{
	struct fault_map *m;
	struct fault *fc;
	uint64_t pages = len / FAULT_PAGE;
	int ret;

	*addr = NULL;
	if (fs->dev->fd < 0)
		return -ENODEV;
	uint64_t unit = fs->dev->map_unit ? fs->dev->map_unit : FAULT_PAGE;
	if (unit > FAULT_AROUND)
		return -EOPNOTSUPP; /* 1 GiB devdax: windows of a unit, later */
	if (unit > FAULT_PAGE && !(flags & UDAX_MAP_PRIVATE)) {
		/* as hugetlbfs and devdax do: an offset of whole units, and
		 * a length rounded up to one */
		if (off & (unit - 1))
			return -EINVAL;
		len = (len + unit - 1) & ~(unit - 1);
		pages = len / FAULT_PAGE;
	}
	ret = fault_get(fs, &fc);
	if (ret)
		return ret;
	m = sys_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->bits = sys_calloc((pages + 63) / 64, 3 * sizeof(*m->bits));
	if (!m->bits) {
		ret = -ENOMEM;
		goto free_map;
	}
	m->len = len;
	m->offset = off;
	m->prot = prot;
	m->flags = flags;
	m->fc = fc;
	m->ip = ip;
	m->slow = !dev_cpu_flush(fs->dev);
	m->unit = unit;
	m->copy = (flags & UDAX_MAP_PRIVATE) &&
		  (fs->dev->no_private || unit > FAULT_PAGE);
	if (m->copy)
		m->unit = FAULT_PAGE; /* copies, never device pieces */
	m->sigbus_from = UINT64_MAX;
	/* writable mappings catch the first store to a zero page: a shared
	 * one to allocate, a private one to know the page became its own
	 * copy (which a later write to the file must not zap) */
	m->reg_mode = UFFDIO_REGISTER_MODE_MISSING;
	if ((prot & PROT_WRITE) && fc->wp)
		m->reg_mode |= UFFDIO_REGISTER_MODE_WP;
	/* a window of the file at an address aligned as its file offset:
	 * whole windows can be huge mappings */
	if (len >= FAULT_AROUND || m->unit > FAULT_PAGE)
		m->addr = neutral_new_aligned(m, len, off, FAULT_AROUND, &ret);
	else
		m->addr = neutral_new(m, NULL, len, &ret);
	if (!m->addr)
		goto free_bits;
	/* one kernel mapping so far: the neutral range */
	bits_set(bits_s(m), 0, 1);
	map_pieces_add(m, 1);
	igrab(ip);
	pthread_rwlock_wrlock(&ip->lock);
	/* no store through a shared writable mapping may land in a shared
	 * block: such a range gets private copies now (copy on map), under
	 * the same hold of the lock as the mapping joins ip->maps, after
	 * which clones refuse the file (fault_maps_writable) */
	if ((prot & PROT_WRITE) && !(flags & UDAX_MAP_PRIVATE)) {
		ret = layout_unshare(ip, off, len);
		if (ret) {
			pthread_rwlock_unlock(&ip->lock);
			iput(ip);
			goto drop_neutral;
		}
	}
	m->next = ip->maps;
	ip->maps = m;
	pthread_rwlock_unlock(&ip->lock);
	pthread_mutex_lock(&fc->lock);
	fc->nmaps++;
	m->fc_next = fc->maps;
	if (fc->maps)
		fc->maps->fc_prev = m;
	fc->maps = m;
	pthread_mutex_unlock(&fc->lock);
	ret = registry_add(m);
	if (ret)
		goto unlink;
	*addr = m->addr;
	return 0;

unlink:
	pthread_mutex_lock(&fc->lock);
	fc_list_remove(fc, m);
	fc->nmaps--;
	pthread_mutex_unlock(&fc->lock);
	pthread_rwlock_wrlock(&ip->lock);
	ip->maps = m->next;
	pthread_rwlock_unlock(&ip->lock);
	iput(ip);
drop_neutral:
	map_pieces_add(m, -1);
	sys_munmap(m->addr, len);
free_bits:
	free((void *)m->bits);
free_map:
	free(m);
	return ret;
}

int fault_maps_writable(struct inode *ip)
{
	for (struct fault_map *m = ip->maps; m; m = m->next)
		if ((m->prot & PROT_WRITE) && !(m->flags & UDAX_MAP_PRIVATE))
			return 1;
	return 0;
}

int fault_map_delete(void *addr, size_t len)
{
	uint64_t rlen = (len + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
	struct fault_map *m, **pp;
	struct fault *fc;

	if (!len || rlen < len || ((uintptr_t)addr & (FAULT_PAGE - 1)))
		return -EINVAL;
	m = registry_remove((uintptr_t)addr, rlen);
	if (!m)
		return -EINVAL;
	fc = m->fc;
	fs_release_begin(fc->fs);
	/* off the handler's list first, so that no eviction picks it once
	 * the busy count has dropped; then faults and evictions that found
	 * it finish */
	pthread_mutex_lock(&fc->lock);
	fc_list_remove(fc, m);
	while (atomic_load(&m->busy))
		pthread_cond_wait(&fc->idle, &fc->lock);
	pthread_mutex_unlock(&fc->lock);
	pthread_rwlock_wrlock(&m->ip->lock);
	for (pp = &m->ip->maps; *pp != m; pp = &(*pp)->next)
		;
	*pp = m->next;
	pthread_rwlock_unlock(&m->ip->lock);
	sys_munmap(m->addr, m->len);
	/* its kernel mappings are gone with it */
	atomic_fetch_sub(&fc->pieces, atomic_exchange(&m->pieces, 0));
	/* threads still waiting on a fault there retry, and find nothing */
	uffd_wake(fc->uffd, (uintptr_t)m->addr, m->len);
	iput(m->ip);
	pthread_mutex_lock(&fc->lock);
	fc->nmaps--;
	pthread_mutex_unlock(&fc->lock);
	free((void *)m->bits);
	free(m);
	fs_release_end(fc->fs);
	return 0;
}

long fault_registry_count(void)
{
	return atomic_load(&registry_count);
}

/* ---- page states ---- */

int fault_map_sigbus(struct fault_map *m, uint64_t off, uint64_t len, int eof)
{
	uint8_t *where = m->addr + (off - m->offset);
	void *p;

	/* the page's own address as the (beyond end of file) offset: the
	 * pieces of one range then merge into one kernel mapping */
	p = sys_mmap(where, len, m->prot, MAP_SHARED | MAP_FIXED,
		     m->fc->sigbus_fd, (off_t)(uintptr_t)where);
	if (p == MAP_FAILED)
		return -errno;
	sys_madvise(where, len, MADV_DONTFORK);
	fault_map_note(m, off, len, FAULT_STATE_SIGBUS, 1);
	if (eof) {
		uint64_t from = atomic_load(&m->sigbus_from);
		while (off < from && !atomic_compare_exchange_weak(
					     &m->sigbus_from, &from, off))
			;
	}
	return 0;
}

int fault_map_starts(struct fault_map *m, uint64_t off)
{
	return bit_test(bits_s(m), map_page(m, off));
}

int fault_map_state(struct fault_map *m, uint64_t off)
{
	uint64_t p = map_page(m, off);

	return (bit_test(bits_z(m), p) << 1) | bit_test(bits_d(m), p);
}

void fault_map_note(struct fault_map *m, uint64_t off, uint64_t len, int state,
		    int vma)
{
	uint64_t p = map_page(m, off), n = len / FAULT_PAGE;

	if (state & FAULT_STATE_ZERO)
		bits_set(bits_z(m), p, n);
	else
		bits_clear(bits_z(m), p, n);
	if (state & FAULT_STATE_DEVICE)
		bits_set(bits_d(m), p, n);
	else
		bits_clear(bits_d(m), p, n);
	if (!vma)
		return;
	/* one kernel mapping now covers the range: it starts at p, and
	 * whatever follows it starts another */
	int64_t delta = -bits_clear(bits_s(m), p + 1, n - 1);
	delta += bits_set(bits_s(m), p, 1);
	if (p + n < map_pages(m))
		delta += bits_set(bits_s(m), p + n, 1);
	map_pieces_add(m, delta);
}

/* Move [off, off+len) of m (file offsets, whole pages, inside m) back to
 * neutral in one step: registered memory made elsewhere is moved over
 * it, so no access can meet unregistered memory in between. */
static int map_zap(struct fault_map *m, uint64_t off, uint64_t len)
{
	uint8_t *where;
	void *p;
	int ret;

	if (m->unit > FAULT_PAGE) {
		/* a device piece goes whole (the kernel splits no devdax or
		 * hugetlb mapping inside a unit): zap the units around */
		uint64_t end = off + len;
		off &= ~(m->unit - 1);
		end = (end + m->unit - 1) & ~(m->unit - 1);
		len = end - off;
	}
	where = m->addr + (off - m->offset);
	p = neutral_new(m, NULL, len, &ret);
	if (!p)
		return ret;
	if (sys_mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, where) ==
	    MAP_FAILED) {
		ret = -errno;
		sys_munmap(p, len);
		return ret;
	}
	fault_map_note(m, off, len, FAULT_STATE_NEUTRAL, 1);
	if (off <= atomic_load(&m->sigbus_from) &&
	    off + len >= m->offset + m->len)
		atomic_store(&m->sigbus_from, UINT64_MAX);
	return 0;
}

int fault_map_zap(struct fault_map *m, uint64_t off, uint64_t len)
{
	return map_zap(m, off, len);
}

/* [*off, *off+*len) clipped to m, whole pages; 0 if nothing is left. */
static int map_clip(const struct fault_map *m, uint64_t off, uint64_t len,
		    uint64_t *coff, uint64_t *clen)
{
	uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
	uint64_t mend = m->offset + m->len;

	off &= ~(uint64_t)(FAULT_PAGE - 1);
	if (end <= UINT64_MAX - FAULT_PAGE)
		end = (end + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
	if (off < m->offset)
		off = m->offset;
	if (end > mend)
		end = mend;
	if (off >= end)
		return 0;
	*coff = off;
	*clen = end - off;
	return 1;
}

int fault_zap(struct inode *ip, uint64_t off, uint64_t len)
{
	uint64_t coff, clen;
	int ret;

	for (struct fault_map *m = ip->maps; m; m = m->next) {
		if (!map_clip(m, off, len, &coff, &clen))
			continue;
		ret = map_zap(m, coff, clen);
		if (ret)
			return ret;
	}
	return 0;
}

int fault_file_changed(struct inode *ip, struct fault_map *skip, uint64_t off,
		       uint64_t len)
{
	uint64_t coff, clen;
	int ret;

	for (struct fault_map *m = ip->maps; m; m = m->next) {
		if (m == skip || !map_clip(m, off, len, &coff, &clen))
			continue;
		/* past the old end of file: the sigbus pages from there on */
		uint64_t sb = atomic_load(&m->sigbus_from);
		if (sb < coff + clen) {
			uint64_t from = sb > m->offset ? sb : m->offset;
			ret = map_zap(m, from, m->offset + m->len - from);
			if (ret)
				return ret;
			if (from <= coff)
				continue;
			clen = from - coff;
		}
		/* zero pages and sigbus pages of failed faults (Z set) */
		uint64_t p = map_page(m, coff), n = clen / FAULT_PAGE;
		for (uint64_t i = 0; i < n;) {
			if (!bit_test(bits_z(m), p + i)) {
				i++;
				continue;
			}
			uint64_t j = i;
			while (j < n && bit_test(bits_z(m), p + j))
				j++;
			ret = map_zap(m, coff + i * FAULT_PAGE,
				      (j - i) * FAULT_PAGE);
			if (ret)
				return ret;
			i = j;
		}
	}
	return 0;
}

/* ---- data paths and persistence ---- */

void fault_prefault(const void *buf, size_t len, int write)
{
	uint64_t a = (uintptr_t)buf, end = a + len;

	if (!len ||
	    !atomic_load_explicit(&registry_count, memory_order_relaxed))
		return;
	while (a < end) {
		struct fault_map *m = fault_map_get(a);
		if (!m) {
			a = (a | (FAULT_PAGE - 1)) + 1;
			continue;
		}
		uint64_t mend = (uintptr_t)m->addr + m->len;
		uint64_t s = a & ~(uint64_t)(FAULT_PAGE - 1);
		uint64_t e = end < mend ? end : mend;
		uint64_t pe =
			(e + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
		/* a private mapping is only read in: a store would make its
		 * pages private copies even where the copy stores nothing
		 * (a read at end of file), and they would stop showing the
		 * file; the copy's own stores fault without the file's lock
		 * held exclusively (fault_private_store) */
		int populate = write && (m->flags & UDAX_MAP_SHARED) ?
				       MADV_POPULATE_WRITE :
				       MADV_POPULATE_READ;
		fault_map_put(m);
		/* errors are the copy's to meet (a page past end of file) */
		sys_madvise((void *)(uintptr_t)s, pe - s, populate);
		a = e;
	}
}

/* Flush the device blocks behind [off, off+len) of m (mapped blocks up to
 * end of file; holes hold nothing to flush). */
static void map_flush_blocks(struct fault_map *m, uint64_t off, uint64_t len)
{
	struct inode *ip = m->ip;
	struct dev *dev = ip->fs->dev;
	const struct udax_inode *di;
	int ret;

	pthread_rwlock_rdlock(&ip->lock);
	di = inode_r(ip->fs, NULL, ip->ino, &ret);
	if (di && off < di->size) {
		struct iomap_iter it = {
			.ip = ip,
			.pos = off,
			.len = di->size - off < len ? di->size - off : len,
			.flags = IOMAP_REPORT};
		while (iomap_iter(&it, &udax_iomap_ops) > 0) {
			if (it.iomap.type == IOMAP_MAPPED ||
			    it.iomap.type == IOMAP_SHARED)
				dev_flush(dev, dev->base + it.iomap.addr,
					  it.iomap.length);
			it.processed = (int64_t)it.iomap.length;
		}
	}
	pthread_rwlock_unlock(&ip->lock);
}

int fault_msync(uint64_t addr, uint64_t len, int sync)
{
	uint64_t end = addr + len;
	struct dev *last = NULL;

	while (addr < end) {
		struct fault_map *m = fault_map_get(addr);
		if (!m)
			return -ENOMEM;
		uint64_t mend = (uintptr_t)m->addr + m->len;
		uint64_t n = (end < mend ? end : mend) - addr;
		int shared_w =
			(m->flags & UDAX_MAP_SHARED) && (m->prot & PROT_WRITE);
		if (shared_w) {
			/* stores through the mapping changed the file */
			m->ip->mtime_pending = fs_now_ns();
			if (sync)
				map_flush_blocks(
					m,
					m->offset + (addr - (uintptr_t)m->addr),
					n);
		}
		if (sync && shared_w && m->ip->fs->dev != last) {
			last = m->ip->fs->dev;
			dev_drain(last);
		}
		fault_map_put(m);
		addr += n;
	}
	return last ? dev_error(last) : 0;
}

void fault_flush(const void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr, end = a + len;

	if (!atomic_load_explicit(&registry_slow, memory_order_relaxed)) {
		cl_flush(addr, len);
		return;
	}
	while (a < end) {
		struct fault_map *m = fault_map_get(a);
		uint64_t next;
		if (!m) {
			next = (a | (FAULT_PAGE - 1)) + 1;
			next = next < end ? next : end;
			cl_flush((const void *)(uintptr_t)a, next - a);
			a = next;
			continue;
		}
		uint64_t mend = (uintptr_t)m->addr + m->len;
		next = end < mend ? end : mend;
		if (!m->slow)
			cl_flush((const void *)(uintptr_t)a, next - a);
		else if (m->flags & UDAX_MAP_SHARED)
			map_flush_blocks(m,
					 m->offset + (a - (uintptr_t)m->addr),
					 next - a);
		fault_map_put(m);
		a = next;
	}
}

void fault_drain(void)
{
	struct dev *seen[8];
	size_t nseen = 0;

	cl_drain();
	if (!atomic_load_explicit(&registry_slow, memory_order_relaxed))
		return;
	pthread_rwlock_rdlock(&registry_lock);
	for (size_t i = 0; i < registry_len; i++) {
		struct dev *dev = registry[i]->ip->fs->dev;
		size_t k;
		if (!registry[i]->slow)
			continue;
		for (k = 0; k < nseen && seen[k] != dev; k++)
			;
		if (k < nseen)
			continue;
		if (nseen < 8)
			seen[nseen++] = dev;
		dev_drain(dev);
	}
	pthread_rwlock_unlock(&registry_lock);
}
