/* SPDX-License-Identifier: MIT */
/*
 * layout.c - references on a file's layout, and the layout break.
 *
 * A file's layout is which device blocks back which file range. Two
 * things reach blocks through the layout without asking the file system
 * each time: the pages of udax mappings (the D bits of each mapping) and
 * pins (udax_pin, udax_sendfile), which stand for I/O the kernel does on
 * those pages behind udax's back. Before a range's blocks are freed or
 * moved, every such reference must be gone; the layout break is the one
 * sequence that makes it so, for truncate, punch hole, zero range,
 * O_TRUNC, copy-on-write (layout_unshare, and the write paths over
 * shared blocks) and reflink (api/clone.c):
 *
 *   1. stop new pins on the range (ip->breaks and the range, under
 *      pin_lock: udax_pin waits); new faults stop too, for as long as the
 *      caller holds ip->lock exclusively;
 *   2. zap every mapping of the range (fault_zap): no page points at its
 *      blocks any more;
 *   3. if pins reach the range: recall the long-term ones (their
 *      callbacks), drop ip->lock, wait on pin_cond until the last of them
 *      is released or a deadline passes (-EBUSY, nothing changed), take
 *      ip->lock again and go back to 2 (faults made meanwhile mapped the
 *      old layout again, which is still intact);
 *   4. return with ip->lock held, no mapping and no pin on the range: the
 *      caller frees or remaps;
 *   5. layout_break_end: pins come in again; faults do when the caller
 *      unlocks, and see the new layout.
 *
 * Why faults are let through while step 3 waits: a pin is usually held
 * by a thread doing I/O into the pinned memory (a read(2) from a socket
 * into it, say); after the zap that I/O faults, and if the fault waited
 * for the break, the break would wait for the pin until its deadline.
 * XFS waits for DAX page references the same way, with its mapping lock
 * dropped. Nothing is freed before step 4, so what those faults map is
 * the file's.
 *
 * References are counted per file range, not per block: a pin records
 * the pages of the file it covers, and a block leaves a file only through
 * a break, which waits for the pins of its range; a pin holds a reference
 * on the inode, so an unlinked file's blocks are freed only after its
 * last pin. A block with a reference is therefore never freed, and never
 * handed to another file. Pins udax never hears of (a buffer the program
 * registered with io_uring and never pinned) are the device's part: freed
 * blocks that were ever mapped are detached or quarantined (alloc.c,
 * device.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "inode/inode.h"
#include "iomap/iomap.h"
#include "sys/sys.h"
#include "udax.h"

/*
 * One udax_pin(). Lifecycle: pin_range() links it on ip->pins (with an
 * inode reference) -> a break may hold it while calling
 * its recall (holds) -> udax_unpin() unlinks it and frees it, or, if a
 * break holds it, marks it gone and the break frees it.
 * Fields after creation are guarded by ip->pin_lock.
 */
struct udax_pin {
	struct inode *ip; /* a reference is held */
	uint64_t lo, hi;  /* file range, whole pages */
	unsigned flags;	  /* UDAX_PIN_* */
	struct udax_pin_opts opts;
	uint64_t seen_seq; /* the last break (ip->brk_seq) that found it */
	int64_t deadline;  /* that break's deadline for it (monotonic ns) */
	int holds;	   /* breaks calling its recall now */
	int gone;	   /* unpinned while held: the last holder frees */
	struct udax_pin *prev, *next; /* ip->pins */
};

/* How long a break waits for a short-term pin: UDAX_PIN_WAIT_MS, or 10 s.
 * Read at each break that finds pins (they are rare), so tests set it. */
static int64_t short_wait_ns(void)
{
	const char *e = getenv("UDAX_PIN_WAIT_MS");
	long ms = e ? strtol(e, NULL, 10) : 0;

	return (ms > 0 ? ms : 10000) * (int64_t)1000000;
}

static int overlaps(uint64_t lo, uint64_t hi, uint64_t a, uint64_t b)
{
	return lo < b && a < hi;
}

/* A pin covers part of [lo, hi). pin_lock held. */
static int pin_overlap(struct inode *ip, uint64_t lo, uint64_t hi)
{
	for (struct udax_pin *p = ip->pins; p; p = p->next)
		if (overlaps(lo, hi, p->lo, p->hi))
			return 1;
	return 0;
}

int layout_pinned(struct inode *ip, uint64_t off, uint64_t len)
{
	pthread_mutex_lock(&ip->pin_lock);
	int ret = pin_overlap(ip, off, off + len);
	pthread_mutex_unlock(&ip->pin_lock);
	return ret;
}

/* A break in progress covers part of [lo, hi). pin_lock held. */
static int break_covers(struct inode *ip, uint64_t lo, uint64_t hi)
{
	return ip->breaks && overlaps(lo, hi, ip->brk_lo, ip->brk_hi);
}

/* One spare pin struct per thread: a pin and an unpin in the same thread
 * take no malloc (a quarter of their cost). The thread's exit frees it
 * (the key's destructor). */
static pthread_key_t pin_spare_key;
static pthread_once_t pin_spare_once = PTHREAD_ONCE_INIT;
static int pin_spare_ok;

static void pin_spare_init(void)
{
	pin_spare_ok = !pthread_key_create(&pin_spare_key, free);
}

static struct udax_pin *pin_alloc(void)
{
	struct udax_pin *p;

	pthread_once(&pin_spare_once, pin_spare_init);
	p = pin_spare_ok ? pthread_getspecific(pin_spare_key) : NULL;
	if (!p)
		return sys_calloc(1, sizeof(*p));
	pthread_setspecific(pin_spare_key, NULL);
	memset(p, 0, sizeof(*p));
	return p;
}

static void pin_free(struct udax_pin *p)
{
	if (pin_spare_ok && !pthread_getspecific(pin_spare_key) &&
	    !pthread_setspecific(pin_spare_key, p))
		return;
	free(p);
}

/* Pin [off, off+len) of ip, whose reference (igrab) the pin takes over:
 * the caller's on success, dropped here on failure. */
static int pin_range_grabbed(struct inode *ip, uint64_t off, uint64_t len,
			     unsigned flags, const struct udax_pin_opts *opts,
			     struct udax_pin **pinp)
{
	struct udax_pin *p;

	p = pin_alloc();
	if (!p) {
		iput(ip);
		return -ENOMEM;
	}
	p->lo = off & ~(uint64_t)(FAULT_PAGE - 1);
	p->hi = (off + len + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
	p->flags = flags;
	if (opts)
		p->opts = *opts;
	p->ip = ip;
	pthread_mutex_lock(&ip->pin_lock);
	/* a break is bounded by its deadlines, and so is this wait */
	while (break_covers(ip, p->lo, p->hi))
		pthread_cond_wait(&ip->pin_cond, &ip->pin_lock);
	p->next = ip->pins;
	if (ip->pins)
		ip->pins->prev = p;
	ip->pins = p;
	pthread_mutex_unlock(&ip->pin_lock);
	*pinp = p;
	return 0;
}

int pin_range(struct inode *ip, uint64_t off, uint64_t len, unsigned flags,
	      const struct udax_pin_opts *opts, struct udax_pin **pinp)
{
	igrab(ip);
	return pin_range_grabbed(ip, off, len, flags, opts, pinp);
}

/* Unlink p from its inode. pin_lock held. Returns 1 if the caller frees
 * it (no break holds it). */
static int pin_unlink(struct udax_pin *p)
{
	struct inode *ip = p->ip;

	if (p->prev)
		p->prev->next = p->next;
	else
		ip->pins = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->gone = 1;
	if (ip->breaks)
		pthread_cond_broadcast(&ip->pin_cond);
	return p->holds == 0;
}

int udax_pin(const void *addr, size_t len, unsigned flags,
	     const struct udax_pin_opts *opts, struct udax_pin **pinp)
{
	uint64_t a = (uintptr_t)addr, end, off;
	struct inode *ip;
	int ret;

	if (!pinp)
		return -EINVAL;
	*pinp = NULL;
	end = (a + len + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
	if (!len || (a & (FAULT_PAGE - 1)) || end <= a ||
	    (flags & ~(unsigned)UDAX_PIN_LONGTERM))
		return -EINVAL;
	if ((flags & UDAX_PIN_LONGTERM) ? !opts || !opts->recall : !!opts)
		return -EINVAL;
	ret = fault_map_igrab(a, end - a, &ip, &off);
	if (ret)
		return ret;
	return pin_range_grabbed(ip, off, end - a, flags, opts, pinp);
}

static uint64_t inode_pins(struct inode *ip)
{
	uint64_t n = 0;

	pthread_mutex_lock(&ip->pin_lock);
	for (struct udax_pin *p = ip->pins; p; p = p->next)
		n++;
	pthread_mutex_unlock(&ip->pin_lock);
	return n;
}

/* Pins are counted where they are, on their inodes' lists: a pin and an
 * unpin touch no counter of the file system (two atomic operations fewer
 * in a pair), and udax_close, the one reader, is rare. */
uint64_t layout_pin_count(struct udax_fs *fs)
{
	return icache_sum(fs, inode_pins);
}

int udax_unpin(struct udax_pin **pinp)
{
	struct udax_pin *p;
	struct inode *ip;
	struct udax_fs *fs;
	int mine;

	if (!pinp || !*pinp)
		return -EINVAL;
	p = *pinp;
	*pinp = NULL;
	ip = p->ip;
	fs = ip->fs;
	fs_release_begin(fs);
	pthread_mutex_lock(&ip->pin_lock);
	mine = pin_unlink(p);
	pthread_mutex_unlock(&ip->pin_lock);
	if (mine)
		pin_free(p);
	iput(ip);
	fs_release_end(fs);
	return 0;
}

/*
 * Step 3's bookkeeping, under pin_lock: is a pin on [lo, hi) still there?
 * Each pin the break finds for the first time gets its deadline; *recall
 * is set to one long-term pin not yet recalled (held, so that it stays
 * while its callback runs without the lock), and *deadline to the
 * earliest deadline of the pins still there.
 */
static int pins_on(struct inode *ip, uint64_t lo, uint64_t hi, uint64_t seq,
		   int64_t start, struct udax_pin **recall, int64_t *deadline)
{
	int busy = 0;

	*recall = NULL;
	*deadline = INT64_MAX;
	for (struct udax_pin *p = ip->pins; p; p = p->next) {
		if (!overlaps(lo, hi, p->lo, p->hi))
			continue;
		busy = 1;
		if (p->seen_seq != seq) {
			p->seen_seq = seq;
			if (p->flags & UDAX_PIN_LONGTERM) {
				p->deadline = INT64_MAX; /* set at recall */
			} else {
				p->deadline = start + short_wait_ns();
			}
		}
		if (p->deadline == INT64_MAX && !*recall) {
			p->holds++;
			p->deadline = fs_mono_ns() +
				      (int64_t)p->opts.deadline_ms * 1000000;
			*recall = p;
		}
		if (p->deadline < *deadline)
			*deadline = p->deadline;
	}
	return busy;
}

int layout_break(struct inode *ip, uint64_t off, uint64_t len)
{
	return layout_break_pins(ip, off, off, len);
}

int layout_break_pins(struct inode *ip, uint64_t pin_off, uint64_t off,
		      uint64_t len)
{
	struct udax_fs *fs = ip->fs;
	uint64_t lo = pin_off & ~(uint64_t)(FAULT_PAGE - 1);
	uint64_t hi = len == UINT64_MAX || off + len < off ?
			      UINT64_MAX :
			      (off + len + FAULT_PAGE - 1) &
				      ~(uint64_t)(FAULT_PAGE - 1);
	int64_t start = fs_mono_ns(), deadline;
	struct udax_pin *recall;
	uint64_t seq;
	int ret, waited = 0;

	/* 1: no new pin on the range */
	pthread_mutex_lock(&ip->pin_lock);
	if (!ip->breaks || lo < ip->brk_lo)
		ip->brk_lo = lo;
	if (!ip->breaks || hi > ip->brk_hi)
		ip->brk_hi = hi;
	ip->breaks++;
	seq = ++ip->brk_seq;
	pthread_mutex_unlock(&ip->pin_lock);
	atomic_fetch_add(&fs->layout.breaks, 1);
	for (;;) {
		/* 2: no page of a mapping points into the range */
		ret = fault_zap(ip, off, len);
		if (ret)
			break;
		pthread_mutex_lock(&ip->pin_lock);
		if (!pin_overlap(ip, lo, hi)) {
			pthread_mutex_unlock(&ip->pin_lock);
			return 0; /* 4: the caller frees or remaps */
		}
		/* 3: recall, and wait without ip->lock */
		pthread_mutex_unlock(&ip->pin_lock);
		pthread_rwlock_unlock(&ip->lock);
		if (!waited++)
			atomic_fetch_add(&fs->layout.waits, 1);
		pthread_mutex_lock(&ip->pin_lock);
		while (pins_on(ip, lo, hi, seq, start, &recall, &deadline)) {
			if (recall) {
				pthread_mutex_unlock(&ip->pin_lock);
				atomic_fetch_add(&fs->layout.recalls, 1);
				recall->opts.recall(recall, recall->opts.arg);
				pthread_mutex_lock(&ip->pin_lock);
				if (!--recall->holds && recall->gone)
					free(recall);
				continue;
			}
			if (fs_mono_ns() >= deadline) {
				ret = -EBUSY;
				break;
			}
			fs_cond_wait_until(&ip->pin_cond, &ip->pin_lock,
					   deadline);
		}
		pthread_mutex_unlock(&ip->pin_lock);
		pthread_rwlock_wrlock(&ip->lock);
		if (ret) {
			atomic_fetch_add(&fs->layout.expired, 1);
			break;
		}
	}
	layout_break_end(ip);
	return ret;
}

int layout_unshare(struct inode *ip, uint64_t off, uint64_t len)
{
	int ret = iomap_has_shared(ip, off, len, &udax_iomap_ops);

	if (ret <= 0)
		return ret;
	ret = layout_break(ip, off, len);
	if (ret)
		return ret;
	/* after the break: whatever is shared now, the lock held */
	ret = iomap_unshare(ip, off, len, &udax_iomap_ops);
	layout_break_end(ip);
	return ret;
}

void layout_break_end(struct inode *ip)
{
	pthread_mutex_lock(&ip->pin_lock);
	if (!--ip->breaks)
		ip->brk_lo = ip->brk_hi = 0;
	pthread_cond_broadcast(&ip->pin_cond);
	pthread_mutex_unlock(&ip->pin_lock);
}
