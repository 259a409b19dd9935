/* SPDX-License-Identifier: MIT */
/*
 * fault.h - the fault layer: direct-access mappings and their page faults.
 *
 * A udax mapping is a range of the process's address space whose pages
 * are, each, in one of four states:
 *
 *   neutral  anonymous memory registered with the file system's
 *            userfaultfd, with no page: the next access (by the program
 *            or by the kernel on its behalf) stops in the kernel and the
 *            handler thread decides
 *   device   the file's blocks, mapped from the device's fd at their
 *            device offset (MAP_SHARED, or MAP_PRIVATE for a private
 *            mapping): loads and stores go to the blocks, nothing in
 *            between; the range is no longer registered
 *   zero     a hole or unwritten block that was read: a write-protected
 *            anonymous page of zeros (a store to it faults to the handler,
 *            which allocates); read-only and private mappings use the
 *            kernel's zero page
 *   sigbus   wholly past end of file: an empty, sealed memfd is mapped
 *            there, so an access raises SIGBUS and a system call touching
 *            it fails with EFAULT, as past the end of a kernel mapping
 *
 * The handler moves pages from neutral to device, zero or sigbus, and
 * from zero to device. A zap moves any page back to neutral, atomically:
 * fresh anonymous memory is registered elsewhere and moved over the range
 * with mremap(), so no access ever lands in unregistered memory. The
 * file's data paths zap before freeing blocks (truncate, punch) and after
 * giving a range blocks or size (write, fallocate, extend), so no mapping
 * ever points at a freed block and every mapping sees the file's data.
 *
 * Threads: per file system, a reader thread reads the userfaultfd and
 * resolves each fault whose inode lock it can take without waiting; the
 * others go to a worker thread, which waits. The reader never waits for a
 * file system lock, so it always reads the UFFD_EVENT_REMAP that a zap's
 * mremap() waits for: a zap made under an inode lock cannot deadlock
 * against a fault waiting for that lock. Zaps run only in program
 * threads and in the worker, never in the reader.
 *
 * Lock order: inode lock -> journal lock -> allocator locks; registry
 * lock and fault->lock are leaves (nothing is taken while they are held).
 * A zap is never made with the journal lock held.
 */
#ifndef UDAX_FAULT_H
#define UDAX_FAULT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct udax_fs;
struct inode;
struct iomap;
struct udax_pin;
struct udax_pin_opts;

#define FAULT_PAGE 4096u
/* Fault-around: a fault maps (and a store into a hole allocates) the
 * whole surrounding extent within this aligned window of the file. */
#define FAULT_AROUND (2u << 20)

/*
 * One udax_mmap(). Lifecycle: fault_map_new() registers it (registry,
 * the inode's list, the handler's list, an inode reference) -> faults ->
 * fault_map_delete() takes it out of the registry and the handler's
 * list, waits until busy drops to 0, gives its pieces back, unlinks it
 * from the inode and unmaps it.
 * Fields:
 *   addr .. slow      fixed after creation
 *   next              the inode's list; changed with ip->lock exclusive
 *   fc_prev, fc_next  the handler's list (fc->maps); fc->lock
 *   busy              faults, lookups and evictions in progress (atomic)
 *   dead              out of the registry (registry lock)
 *   last_fault        fc->seq at its last fault: evictions take the
 *                     least recently faulted mappings first (atomic)
 *   sigbus_from, bits the page states: read and changed under ip->lock
 *                     (shared by the handler, with atomic updates;
 *                     exclusive by zaps)
 *   pieces            the start bits set (below), kept with every change
 *                     of them, and added to fc->pieces with the same sign
 */
struct fault_map {
	uint8_t *addr;		/* start, page-aligned */
	uint64_t len;		/* bytes, whole pages */
	uint64_t offset;	/* file offset of addr */
	int prot;		/* PROT_* */
	int flags;		/* UDAX_MAP_* */
	int reg_mode;		/* UFFDIO_REGISTER_MODE_* of neutral pages */
	int slow;		/* persistence through the device's ops (crash
				 * device, page-granular file), not the CPU */
	uint64_t unit;		/* the device's map_unit: device pieces are
				 * whole windows when it is above FAULT_PAGE */
	int copy;		/* private mapping of a device that cannot be
				 * mapped privately (devdax) or only in whole
				 * units: faults copy the file's pages in */
	struct fault *fc;	/* the file system's handler */
	struct inode *ip;	/* a reference is held */
	struct fault_map *next; /* ip->maps */
	struct fault_map *fc_prev, *fc_next; /* fc->maps */
	_Atomic int busy;
	_Atomic int dead;
	_Atomic uint64_t last_fault;
	_Atomic uint64_t sigbus_from; /* file offset where the sigbus range
				       * past end of file starts (every page
				       * after it is sigbus), or UINT64_MAX */
	/* Kernel mappings (VMAs) of the mapping, counted as udax made them:
	 * the number of start bits set. Each mmap() or mremap() over a
	 * range (a device or sigbus piece mapped, a zap) sets the bit of
	 * its first page and of the page after it, and clears those in
	 * between; 1 at creation (the neutral range); all of it comes off
	 * fc->pieces at fault_map_delete. The kernel may merge neighbours:
	 * an upper bound of what /proc/self/maps shows. */
	_Atomic int64_t pieces;
	/* Page states, three bitmaps of a bit per page, one after the
	 * other: Z, D and S (see fault_map_note). */
	_Atomic uint64_t *bits;
};

/* A fault the reader could not resolve without waiting. */
struct fault_req {
	struct fault_map *map; /* busy held */
	uint64_t addr;	       /* page-aligned */
	uint64_t flags;	       /* UFFD_PAGEFAULT_FLAG_* */
	uint32_t tid;	       /* the faulting thread, or 0 */
};

/* The last FAULT_RECENT_WINDOWS fault-around windows a thread faulted
 * in: evictions never zap them (the restart policy, handler.c). */
#define FAULT_RECENT_WINDOWS 4
#define FAULT_RECENT_THREADS 64
struct fault_recent {
	uint32_t tid; /* 0: free (or every thread, without thread ids) */
	uint64_t seq; /* fc->seq at its last fault: the oldest is reused */
	struct {
		struct fault_map *map; /* compared, never followed */
		uint64_t w0;	       /* file offset of the window */
	} win[FAULT_RECENT_WINDOWS];
};

/*
 * The fault handler of one file system, created at its first mapping
 * (fault_get) and destroyed at udax_close (fault_fs_fini).
 * lock guards the queue, nmaps, maps, recent, seq's writers, the
 * eviction thresholds and stopping; cond signals the worker (queue not
 * empty, stopping); idle signals fault_map_delete (the busy count of a
 * dead mapping fell to 0).
 *
 * Counters, where each goes up and where it comes back down:
 *   nmaps     +1 fault_map_new, -1 fault_map_delete (and new's unwind)
 *   qlen      +1 fault_defer, -1 the worker takes the request
 *   pieces    the sum of the mappings' pieces: changes with them
 *             (fault_map_note), less a mapping's pieces at its delete
 *   m->busy   +1 fault_map_get / eviction's pick, -1 fault_map_put
 * All are 0 when the last mapping is gone (fault_fs_counters, and a
 * test); faults .. evictions are totals and only go up.
 */
struct fault {
	struct udax_fs *fs;
	int uffd;
	int wp;	       /* write-protect faults available */
	int tids;      /* faults carry the thread id */
	int sigbus_fd; /* empty sealed memfd: the sigbus state */
	int stop_fd;   /* eventfd: stop the reader */
	pthread_t reader, worker;
	pthread_mutex_t lock;
	pthread_cond_t cond, idle;
	struct fault_req *queue; /* ring of qcap entries */
	size_t qhead, qlen, qcap;
	long nmaps;
	struct fault_map *maps; /* every live mapping */
	int stopping;
	uint8_t *zero_page; /* FAULT_PAGE zeros: UFFDIO_COPY source */
	/* Kernel mappings are limited (vm.max_map_count): the pieces of all
	 * mappings, and the budget past which the worker evicts some before
	 * it maps more (handler.c, the restart policy). evict_above: no
	 * eviction until pieces passes it. */
	_Atomic int64_t pieces;
	int64_t piece_budget, evict_above;
	_Atomic uint64_t seq; /* faults resolved, as a clock */
	struct fault_recent recent[FAULT_RECENT_THREADS];
	/* statistics */
	_Atomic uint64_t faults, allocs, sync_allocs, deferred, sigbus;
	_Atomic uint64_t evictions, evicted_pieces, kept_copies;
};

/* What the handler holds now, for tests and the soak (fault_fs_counters). */
struct fault_counters {
	long maps;		/* live mappings (fc->nmaps) */
	long listed;		/* mappings on fc->maps */
	int64_t pieces;		/* fc->pieces */
	int64_t pieces_counted; /* start bits of every mapping, counted */
	int64_t pieces_of_maps; /* sum of m->pieces */
	long busy;		/* sum of m->busy */
	size_t queued;		/* fc->qlen */
	int64_t budget;		/* fc->piece_budget */
	uint64_t faults, allocs, sync_allocs, deferred, sigbus;
	uint64_t evictions, evicted_pieces, kept_copies;
};

/* ---- the userfaultfd (uffd.c) ---- */

/* Open a userfaultfd able to see kernel accesses (with write-protect
 * faults, thread ids and remap events if the kernel has them). Prints
 * what to grant when userfaultfd is not permitted. Returns the fd and
 * sets *wp and *tids, or -EPERM, -ENOSYS, or another negative errno. */
int uffd_open(int quiet, int *wp, int *tids);
/* Register [addr, addr+len) in mode (UFFDIO_REGISTER_MODE_*). */
int uffd_register(int uffd, void *addr, uint64_t len, int mode);
/*
 * Fill the missing pages [addr, addr+len) with the zero page, or with
 * write-protected copies of it (wp), or with copies of len bytes from src
 * (uffd_copy). *done is set to the bytes filled from addr, a prefix,
 * whatever the result: the caller notes exactly those pages (a filled
 * page left out of the state bits would never be zapped). Returns 0 when
 * all are filled, or the negative errno of the page at addr + *done:
 * -EEXIST (that page is there already), -EAGAIN (a zap's remap event is
 * in flight: retry the fault), -ENOENT (the range spans kernel mappings).
 */
int uffd_zero(struct fault *fc, uint64_t addr, uint64_t len, int wp,
	      uint64_t *done);
/* Make the write-protected page at addr writable. */
int uffd_unprotect(struct fault *fc, uint64_t addr, uint64_t len);
int uffd_copy(struct fault *fc, uint64_t addr, const void *src, uint64_t len,
	      uint64_t *done);
/* Wake the threads waiting on faults in [addr, addr+len). */
void uffd_wake(int uffd, uint64_t addr, uint64_t len);

/* ---- the handler (handler.c) ---- */

/* The file system's handler, started if not yet. Returns 0 and *fc or a
 * negative errno (-EPERM: no userfaultfd). */
int fault_get(struct udax_fs *fs, struct fault **fc);
/* Resolve one fault of thread tid. may_wait: take the inode lock even
 * if that means waiting, and evict (worker); otherwise returns
 * -EWOULDBLOCK where it would wait. */
int fault_resolve(struct fault *fc, struct fault_map *m, uint64_t addr,
		  uint64_t flags, uint32_t tid, int may_wait);
/* Stop the handler and free it (no mappings left). */
void fault_fs_fini(struct udax_fs *fs);
/* Mappings of the file system (udax_close refuses while there are). */
long fault_fs_maps(struct udax_fs *fs);
/* The piece budget a new handler gets: half of vm.max_map_count (the
 * program and its other libraries keep the other half), or
 * UDAX_FAULT_PIECES (tests drive it low). */
int64_t fault_piece_budget(void);
/* Fill *c from the file system's handler (zeros if it has none). With no
 * fault in progress, pieces == pieces_counted == pieces_of_maps. */
void fault_fs_counters(struct udax_fs *fs, struct fault_counters *c);
/* Mappings in the process-wide registry (every file system). */
long fault_registry_count(void);

/* ---- mappings (map.c) ---- */

/* Map [off, off+len) of the file ip (caller checked the arguments and
 * the access mode) and register it. Returns 0 and *addr, or -ENOMEM,
 * -EPERM, or another negative errno. */
int fault_map_new(struct udax_fs *fs, struct inode *ip, uint64_t off,
		  uint64_t len, int prot, int flags, void **addr);
/* Has ip a shared writable mapping, whose stores reach its blocks? Such
 * a file must not share blocks (clone and dedupe refuse it with
 * -ETXTBSY; udax_mmap gave the mapped range private copies). Caller
 * holds ip->lock. */
int fault_maps_writable(struct inode *ip);
/* Unmap a whole mapping. Returns 0 or -EINVAL. */
int fault_map_delete(void *addr, size_t len);

/* Find the mapping holding addr and take a busy count on it, or NULL. */
struct fault_map *fault_map_get(uint64_t addr);
/* Drop the busy count of fault_map_get. */
void fault_map_put(struct fault_map *m);
/* The file range under [addr, addr+len), which one mapping must hold:
 * its inode, referenced (igrab) under the registry lock, which is all a
 * pin needs of the mapping (no busy count), and *offp. Returns 0 or
 * -EFAULT. */
int fault_map_igrab(uint64_t addr, uint64_t len, struct inode **ipp,
		    uint64_t *offp);

/* Install the sigbus state on [off, off+len) (file offsets) of m: the
 * range past end of file when eof, else one page whose fault failed.
 * Caller holds ip->lock. Returns 0 or -errno. */
int fault_map_sigbus(struct fault_map *m, uint64_t off, uint64_t len, int eof);

/*
 * Page states: Z and D, a bit each per page.
 *   Z D
 *   0 0  neutral
 *   0 1  device (or a private mapping's own copy of a zero page)
 *   1 0  zero
 *   1 1  sigbus (past end of file, or a fault that failed)
 * A third bit, S, marks each page where a kernel mapping udax made
 * starts (fault_map_note keeps S, m->pieces and fc->pieces together).
 */
#define FAULT_STATE_NEUTRAL 0
#define FAULT_STATE_DEVICE 1
#define FAULT_STATE_ZERO 2
#define FAULT_STATE_SIGBUS 3
/* Record the state of [off, off+len) of m; vma: one new kernel mapping
 * (mmap, mremap) now covers it. Caller holds ip->lock. */
void fault_map_note(struct fault_map *m, uint64_t off, uint64_t len, int state,
		    int vma);
/* The state of the page at file offset off of m. */
int fault_map_state(struct fault_map *m, uint64_t off);
/* Does a kernel mapping udax made start at file offset off of m? */
int fault_map_starts(struct fault_map *m, uint64_t off);
/* Its start bits, counted one by one: what m->pieces must equal. */
int64_t fault_map_count_pieces(struct fault_map *m);

/* Zap: every page of every mapping of ip in [off, off+len) (file
 * offsets; len UINT64_MAX = to the end) returns to neutral. Called before
 * blocks of the range are freed or moved. Caller holds ip->lock
 * exclusively and not the journal lock. Returns 0 or -ENOMEM (nothing
 * may be freed then). */
int fault_zap(struct inode *ip, uint64_t off, uint64_t len);
/* On a device that maps whole units: is the unit at w0 one written extent
 * on unit-aligned device blocks, which a fault maps whole without a
 * remap? Caller holds ip->lock. */
int fault_unit_whole(struct inode *ip, uint64_t w0, uint64_t unit);
/* Zap [off, off+len) of m (file offsets, whole pages, inside m). Caller
 * holds m->ip->lock exclusively. Returns 0 or -ENOMEM. */
int fault_map_zap(struct fault_map *m, uint64_t off, uint64_t len);
/* After [off, off+len) of ip got blocks or came inside end of file: zap
 * the zero and sigbus pages of that range in every mapping but skip
 * (NULL: all). Device pages stay. Caller holds ip->lock exclusively and
 * is not the reader thread. Returns 0 or -ENOMEM. */
int fault_file_changed(struct inode *ip, struct fault_map *skip, uint64_t off,
		       uint64_t len);

/* ---- references and the layout break (layout.c) ---- */

/* Pin the file range [off, off+len) of ip (rounded out to pages): what
 * udax_pin and udax_sendfile hold while I/O may reach its blocks. Waits
 * while a break covers the range. Returns 0 and *pin, or -ENOMEM. The
 * pin is released with udax_unpin. */
int pin_range(struct inode *ip, uint64_t off, uint64_t len, unsigned flags,
	      const struct udax_pin_opts *opts, struct udax_pin **pin);
/* The layout break (the sequence is written at the top of layout.c):
 * before blocks of [off, off+len) of ip (len UINT64_MAX: to the end) are
 * freed or moved. Caller holds ip->lock exclusively and not the journal
 * lock; it may be dropped and taken again while the break waits for
 * pins, so the caller reads the file's state after it. Returns 0 with no
 * mapping and no pin on the range and new pins held off: the caller
 * frees or remaps, then calls layout_break_end. Or -EBUSY (a pin's
 * deadline passed) or -ENOMEM, with the break already ended and nothing
 * freed; ip->lock is held in every case. */
int layout_break(struct inode *ip, uint64_t off, uint64_t len);
/* The same break, which also waits for (and holds off) the pins of
 * [pin_off, off) without zapping its pages: a size change zeroes the rest
 * of the page holding the end in place (no device may write it meanwhile,
 * as the kernel's truncate waits for every DAX page reference) and a
 * private mapping keeps its copy of that page. pin_off <= off; len may be
 * 0 (only the pins). */
int layout_break_pins(struct inode *ip, uint64_t pin_off, uint64_t off,
		      uint64_t len);
void layout_break_end(struct inode *ip);
/* Copy-on-write of every shared block of [off, off+len) of ip (a
 * shared writable mapping is being made there): through the layout
 * break, as every remap. Caller holds ip->lock exclusively (it may be
 * dropped while the break waits for pins). Returns 0, -EBUSY, -ENOSPC
 * (what was copied stays copied; nothing is lost), or -errno. */
int layout_unshare(struct inode *ip, uint64_t off, uint64_t len);
/* How many pins the file system's files hold (udax_pin, udax_sendfile):
 * udax_close refuses while there are any. */
uint64_t layout_pin_count(struct udax_fs *fs);
/* Does a pin reach [off, off+len) of ip? (The fault layer moves no block
 * a pin may reach.) Caller holds ip->lock. */
int layout_pinned(struct inode *ip, uint64_t off, uint64_t len);

/* Before a data path takes an inode lock: fault in the pages of buf that
 * lie in udax mappings (for writing if `write`), so that copying to or
 * from them under the lock never waits for the handler. */
void fault_prefault(const void *buf, size_t len, int write);

/* msync(): make [addr, addr+len) of mappings durable. Returns 0 or
 * -ENOMEM (a part is not in a udax mapping). */
int fault_msync(uint64_t addr, uint64_t len, int sync);
/* udax_flush / udax_drain. */
void fault_flush(const void *addr, size_t len);
void fault_drain(void);

#endif /* UDAX_FAULT_H */
