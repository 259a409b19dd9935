/* SPDX-License-Identifier: MIT */
/*
 * udax.h - the one public header of libudax.
 *
 * udax is a crash-consistent file system for byte-addressable memory that
 * runs entirely in user space. A file system lives on a device (a memory
 * file, an ordinary file, a file on a DAX mount or a devdax character
 * device); this header creates one (udax_mkfs), opens it (udax_open) and
 * works on its files and directories with POSIX-shaped calls.
 *
 * Conventions, for every function below:
 *  - Functions returning int return 0 on success and a negative errno value
 *    on failure; functions returning ssize_t return a byte count or a
 *    negative errno. UDAX_ECORRUPT (== -EUCLEAN) means the image is damaged.
 *  - Paths are absolute within the file system or relative to its root;
 *    "." and ".." and symbolic links are followed as on Linux (40 links at
 *    most, then -ELOOP).
 *  - Permissions are checked against the calling thread's credentials, set
 *    with udax_cred_set(); a thread that never set them acts with the
 *    process's effective uid/gid and supplementary groups.
 *  - All calls are thread-safe. Calls on different files run in parallel.
 */
#ifndef UDAX_H
#define UDAX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UDAX_VERSION_MAJOR 0
#define UDAX_VERSION_MINOR 1
#define UDAX_VERSION_STRING "0.1.0"

/* The version of the library in use (may differ from the header's). */
const char *udax_version(void);

/* The image is damaged (the kernel's EFSCORRUPTED). */
#define UDAX_ECORRUPT (-117) /* -EUCLEAN */

struct udax_fs;
struct udax_file;
struct udax_dir;

/* Progress of a long operation, for a progress bar: `done` of `total`
 * units (bytes) of `phase`, a short description such as "zeroing the
 * metadata". Called from the calling thread, a few hundred times at most
 * per phase. */
typedef void (*udax_progress_fn)(void *arg, const char *phase, uint64_t done,
				 uint64_t total);

/* Options for udax_mkfs(). A zeroed struct gives the defaults. */
struct udax_mkfs_opts {
	uint64_t size;	       /* bytes; 0 = the device's current size (a new
				* image file gets 64 MiB). Min 4 MiB. */
	uint64_t inode_count;  /* 0 = one inode per 16 KiB of device */
	uint64_t journal_size; /* bytes; 0 = 1/256 of device, 1..16 MiB */
	const uint8_t *uuid;   /* 16 bytes, or NULL for a random one */
	/* Told how far the writing of the metadata (the inode table is
	 * 1/64 of the device) has come; NULL: not called. */
	udax_progress_fn progress;
	void *progress_arg; /* passed to progress */
};

/* Options for udax_open(). A zeroed struct gives the defaults. */
struct udax_open_opts {
	int read_only; /* 1: open without replaying or writing anything;
			* fails with -EROFS if the journal needs replay */
	int quiet;     /* 1: do not print why an image is refused */
};

/*
 * Devices are named by a string:
 *   "memfd:NAME:SIZE"  a new anonymous memory file (lives while open);
 *                      SIZE takes K/M/G suffixes
 *   "/dev/shm/x"       a file on tmpfs: a memory device (cache-line flushes)
 *   "/dev/daxX.Y"      a devdax character device (cache-line flushes)
 *   "path"             any other file: a file device (msync, or cache-line
 *                      flushes if it sits on a DAX mount)
 */

/* Create a file system on a device; an image file is created if missing.
 * Returns 0, or -EINVAL for bad options, -ENOSPC if the device is too
 * small, or the errno of the failed system call. */
int udax_mkfs(const char *device, const struct udax_mkfs_opts *opts);

/* Open a file system: checks the superblock, replays the journal and
 * finishes interrupted truncates and unlinks. One read-write opener at a
 * time (an advisory lock on the image; read-only openers share): a second
 * gets -EBUSY. On failure prints why to stderr (unless opts->quiet) and
 * returns UDAX_ECORRUPT for a damaged or foreign image, or another
 * negative errno. */
int udax_open(struct udax_fs **fs, const char *device,
	      const struct udax_open_opts *opts);

/* mkfs + open of a fresh memfd device of `size` bytes, for tests and the
 * demo. Returns as udax_open(). */
int udax_open_memory(struct udax_fs **fs, uint64_t size);

/* Close a file system: commits, flushes and unmaps. Fails with -EBUSY while
 * files or directories of it are still open or mapped (udax_mmap; nothing
 * is closed then). Otherwise it is closed and *fs cleared, and the return
 * is 0, or a negative errno if the device failed to make changes durable
 * (as close(2) may report EIO: the next open replays what reached it). */
int udax_close(struct udax_fs **fs);
/* udax_close, but while files are open or mapped or pins are held
 * (udax_pin), wait for the last of them to go, up to timeout_ms
 * milliseconds (negative: no limit). Returns as udax_close, -EBUSY if
 * the time ran out (nothing is closed then). */
int udax_close_wait(struct udax_fs **fs, int timeout_ms);

/* Make everything done so far durable. Returns 0 or a negative errno
 * (-EIO and the like: the device failed to; the file system then takes no
 * more changes until it is closed and opened again). */
int udax_sync(struct udax_fs *fs);

/* Caller credentials for permission checks and new file ownership. */
struct udax_cred {
	uid_t uid;
	gid_t gid;
	int ngroups;	     /* number of supplementary groups, <= 32 */
	const gid_t *groups; /* copied by udax_cred_set */
	mode_t umask;	     /* applied to creation modes; default 0 */
};

/* Set the calling thread's credentials (NULL: back to the process's).
 * Returns 0 or -EINVAL (too many groups). */
int udax_cred_set(const struct udax_cred *cred);

/* ---- files ---- */

/* Open (and with O_CREAT create) a regular file. flags: O_RDONLY,
 * O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW,
 * O_DIRECTORY (gives -EISDIR/-ENOTDIR as Linux would: directories are
 * opened with udax_dir_open). Returns 0 and *file, or -ENOENT, -EEXIST,
 * -EISDIR, -ENOTDIR, -EACCES, -ELOOP, -ENAMETOOLONG, -ENOSPC, -EINVAL. */
int udax_file_open(struct udax_fs *fs, const char *path, int flags, mode_t mode,
		   struct udax_file **file);
/* Close a file; an unlinked file's space is freed at its last close.
 * Returns 0 or a negative errno (the handle is freed in any case). */
int udax_file_close(struct udax_file **file);

ssize_t udax_pread(struct udax_file *f, void *buf, size_t count, off_t off);
ssize_t udax_pwrite(struct udax_file *f, const void *buf, size_t count,
		    off_t off);
ssize_t udax_preadv(struct udax_file *f, const struct iovec *iov, int iovcnt,
		    off_t off);
ssize_t udax_pwritev(struct udax_file *f, const struct iovec *iov, int iovcnt,
		     off_t off);
/* read/write at the handle's position (O_APPEND writes go to the end). */
ssize_t udax_read(struct udax_file *f, void *buf, size_t count);
ssize_t udax_write(struct udax_file *f, const void *buf, size_t count);
/* SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE. Returns the new
 * position or -EINVAL, -ENXIO (SEEK_DATA/HOLE past end). */
off_t udax_lseek(struct udax_file *f, off_t off, int whence);
int udax_ftruncate(struct udax_file *f, off_t length);
/* mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE,
 * FALLOC_FL_ZERO_RANGE (optionally |KEEP_SIZE). Returns 0, -EOPNOTSUPP
 * for other modes, -EINVAL, -EFBIG, -ENOSPC, -EBADF. */
int udax_fallocate(struct udax_file *f, int mode, off_t off, off_t len);
int udax_fsync(struct udax_file *f);
int udax_fdatasync(struct udax_file *f);
int udax_fstat(struct udax_file *f, struct stat *st);
/* udax_chmod, udax_chown and udax_utimens on an open file's inode (also
 * one with no name left, as fchmod(2), fchown(2), futimens(2)); the
 * handle's access mode does not matter. Return as those, or -EBADF. */
int udax_fchmod(struct udax_file *f, mode_t mode);
int udax_fchown(struct udax_file *f, uid_t uid, gid_t gid);
int udax_futimens(struct udax_file *f, const struct timespec times[2]);

/* One extent of a file, as listed by udax_file_extents(). */
struct udax_extent {
	uint64_t offset;     /* file byte offset */
	uint64_t length;     /* bytes */
	uint64_t dev_offset; /* device byte offset */
	uint32_t flags;	     /* UDAX_EXTENT_* */
};
#define UDAX_EXTENT_UNWRITTEN 0x1 /* allocated, reads as zeros */
#define UDAX_EXTENT_SHARED 0x2	  /* shared with another file (reflink) */

/* List up to `max` extents overlapping [off, off+len); returns how many
 * were stored, or a negative errno. Blocks shared with another file or
 * range (reflink, dedupe) are listed as extents of their own, flagged
 * UDAX_EXTENT_SHARED (as FIEMAP_EXTENT_SHARED). */
ssize_t udax_file_extents(struct udax_file *f, off_t off, off_t len,
			  struct udax_extent *ext, size_t max);

/* ---- reflink and dedupe: blocks shared between files ---- */

/*
 * Clones share device blocks instead of copying them: the destination
 * range maps the source's blocks, each block counts its owners (the
 * refcount tree), and the first write to a shared block through any
 * path (write, fallocate zero range, truncate into it, a writable
 * mapping) gives the writer a private copy of that block only; no other
 * file ever sees the change. Shared blocks count once in udax_statfs
 * and once in each file's st_blocks (as on XFS and btrfs).
 *
 * udax_clone_range has the semantics of Linux's FICLONERANGE: clone
 * [src_off, src_off+len) of src over [dst_off, dst_off+len) of dst, in
 * one transaction (after a crash, all of it or nothing). len 0 means up
 * to the end of src. Both offsets must be multiples of the block size
 * (4096), and so must len, unless the range ends at the end of src and
 * the destination range reaches the end of dst (or past it): the last
 * block then carries the zeros past the end of src. dst grows to
 * dst_off+len if it was shorter. The destination's old blocks in the
 * range go through the layout break (mappings zapped, pins waited for)
 * and lose a reference. Unwritten (fallocated) source blocks clone as
 * holes; holes as holes.
 *
 * Errors, in this order: -EBADF (a NULL handle; src not open for
 * reading, dst not open for writing, or dst O_APPEND), -EXDEV (the files
 * are on different file systems), -EISDIR (either is a directory),
 * -EINVAL (negative offset or length, unaligned offsets or length, src
 * range starting at or past the end of src, overlapping ranges in one
 * file), -EFBIG (dst would pass the largest file size), -ETXTBSY (either
 * file has a shared writable udax_mmap: its stores could land in a
 * shared block), -EBUSY (a pin on the range did not go in time), -EROFS,
 * -ENOSPC (tree nodes, or a clone too fragmented for one transaction:
 * nothing changed), UDAX_ECORRUPT. Returns 0 on success.
 */
int udax_clone_range(struct udax_file *dst, off_t dst_off,
		     struct udax_file *src, off_t src_off, off_t len);
/* All of src over dst (FICLONE): udax_clone_range(dst, 0, src, 0, 0). */
int udax_clone(struct udax_file *dst, struct udax_file *src);

/* One destination of udax_dedupe_range (struct file_dedupe_range_info). */
struct udax_dedupe_dest {
	struct udax_file *dst;	/* in: open for writing */
	off_t dst_off;		/* in: block-aligned */
	uint64_t bytes_deduped; /* out */
	int status; /* out: UDAX_DEDUPE_SAME, UDAX_DEDUPE_DIFFERS, or a
		     * negative errno as udax_clone_range's for this
		     * destination */
};
#define UDAX_DEDUPE_SAME 0    /* shared now: bytes_deduped bytes */
#define UDAX_DEDUPE_DIFFERS 1 /* the bytes differ: nothing changed */

/*
 * Share [src_off, src_off+len) of src with each destination range whose
 * bytes are the same (FIDEDUPERANGE): the bytes are compared with both
 * files locked, so no write can come between the compare and the share;
 * a destination that differs is left alone (status DIFFERS). Both
 * ranges must lie within end of file; len is cut to whole blocks unless
 * both ranges end at their file's end; at most 16 MiB per call, as
 * Linux (bytes_deduped says how much). The file contents never change.
 * Returns 0 (each destination's outcome in its status), or -EBADF,
 * -EISDIR, -EINVAL for the source or the arguments, -ENOMEM.
 */
int udax_dedupe_range(struct udax_file *src, off_t src_off, off_t len,
		      struct udax_dedupe_dest *dests, int count);
#define UDAX_DEDUPE_MAX (16u << 20)

/* ---- direct-access mappings ---- */

/*
 * A udax mapping is the device memory itself: loads and stores reach the
 * file's blocks with no page cache and no copy in between. Page faults
 * reach udax through userfaultfd (a handler thread per file system,
 * started at the first mapping), so the kernel's own accesses to a
 * mapping (read(2) into it, write(2) or send(2) from it) work as on a
 * kernel mmap. Behaviour, as Linux DAX:
 *  - a read of a hole maps zeros without allocating; the first store to
 *    the page allocates (zeroed blocks, 2 MiB-aligned where the file
 *    allows) and commits the new extent before the store proceeds; a
 *    store that finds no space raises SIGBUS, and the page keeps doing so
 *    until the file changes there (pwrite, fallocate, truncate);
 *  - pages wholly past end of file raise SIGBUS (system calls touching
 *    them fail with EFAULT); growing the file makes them valid;
 *  - truncate and punch hole remove the mappings of the range before its
 *    blocks are freed; pread/pwrite and the mapping see each other at
 *    once (one copy of the data);
 *  - the kernel may pin mapped pages for I/O that outlives the call
 *    that started it (io_uring fixed buffers, O_DIRECT and AIO in
 *    flight, vmsplice). Blocks that were ever mapped are detached from
 *    the device before another file reuses them, so such late I/O never
 *    reaches another file: on a memory file, an ordinary file and a file
 *    on a DAX mount (a hole is punched; the pinned pages live on,
 *    belonging to no file). On devdax, which cannot punch, those blocks
 *    stay out of use until udax_close (the next allocation may fail with
 *    -ENOSPC instead). A program that hands mapped memory to such I/O
 *    should hold a udax_pin on it for as long: truncate and punch then
 *    wait for it (and recall a long-term pin) before the layout changes;
 *  - fork(): the child does not inherit udax mappings (MADV_DONTFORK);
 *    an access there raises SIGSEGV, never reaching anonymous memory.
 *    The child must not use the parent's udax file systems.
 * Not supported on a udax mapping: mremap(2), mprotect(2) and munmap(2)
 * of part of it (use udax_munmap for the whole).
 * Needs userfaultfd: root, read-write access to /dev/userfaultfd, or the
 * sysctl vm.unprivileged_userfaultfd=1; otherwise udax_mmap says so on
 * stderr and fails with -EPERM.
 */
#define UDAX_MAP_SHARED 0x01  /* stores reach the file */
#define UDAX_MAP_PRIVATE 0x02 /* copy-on-write: stores stay private */
/* While a block is writeably mapped in this mapping, it is in the file at
 * that offset also after a crash: a store that allocates returns only
 * once the new extent is durable, and udax_persist() alone makes stores
 * durable. With UDAX_MAP_SHARED only. (This version commits before
 * mapping in every mapping, but without the flag a program must not rely
 * on it: udax_msync(MS_SYNC) or udax_fsync() make its stores durable.) */
#define UDAX_MAP_SYNC 0x04

/* Map [offset, offset+length) of a file. prot: PROT_READ, PROT_WRITE,
 * PROT_EXEC or PROT_NONE; flags: UDAX_MAP_SHARED or UDAX_MAP_PRIVATE,
 * optionally | UDAX_MAP_SYNC. The length is rounded up to whole pages;
 * the mapping may extend past end of file. Returns 0 and *addr, or
 * -EINVAL (offset not page-aligned or negative, length 0, bad prot or
 * flags, UDAX_MAP_SYNC without UDAX_MAP_SHARED), -EOVERFLOW (offset +
 * length too large), -EACCES (not open for reading, or PROT_WRITE on a
 * shared mapping of a file not open O_RDWR), -ENODEV (a directory),
 * -EBADF, -ENOMEM (length too large, or out of memory), -EPERM
 * (userfaultfd not permitted).
 *
 * Shared blocks (udax_clone): a read-only or private mapping maps them
 * as they are, so clones mapped read-only share their memory. A shared
 * writable mapping first gives every shared block of its range a copy of
 * its own (copy on map: a store never lands in a shared block), which
 * can fail with -ENOSPC or -EBUSY (a pin did not go in time), nothing
 * mapped then; while it exists, the file is not cloned or deduped
 * (-ETXTBSY). */
int udax_mmap(struct udax_file *f, off_t offset, size_t length, int prot,
	      int flags, void **addr);

/* Remove a whole mapping made by udax_mmap: addr is what udax_mmap
 * returned and length what was passed to it (rounded up to pages the
 * same way). Waits for faults in progress on it. Returns 0, or -EINVAL
 * if [addr, addr+length) is not exactly one udax mapping. */
int udax_munmap(void *addr, size_t length);

/* As msync(2): flags MS_SYNC or MS_ASYNC, optionally | MS_INVALIDATE.
 * MS_SYNC makes every store to [addr, addr+len) durable (and the
 * metadata of the mapped blocks, always already committed); MS_ASYNC
 * only starts the write-back (on a cache-line device: nothing to do).
 * Returns 0, -EINVAL (addr not page-aligned, bad flags), -ENOMEM (part
 * of the range is not in a udax mapping), or the device's error if it
 * failed to make stores durable (-EIO and the like; see udax_sync). */
int udax_msync(void *addr, size_t len, int flags);

/* Make stores to [addr, addr+len) of a udax mapping durable: flush the
 * cache lines and fence. On a memory or DAX device this is CPU
 * instructions only, no system call. */
void udax_persist(const void *addr, size_t len);
/* Start writing back [addr, addr+len); durable after udax_drain(). */
void udax_flush(const void *addr, size_t len);
/* Wait until everything flushed so far is durable (a fence). */
void udax_drain(void);

/*
 * Pins: mapped memory handed to I/O that udax cannot see (io_uring fixed
 * buffers, O_DIRECT or AIO in flight, RDMA registrations, a DMA engine).
 *
 * A pin references the file range under [addr, addr+len) of one udax
 * mapping. While it is held, nothing changes that range's layout: a
 * truncate, punch hole, zero range or O_TRUNC that reaches it (a layout
 * break) first removes the range from every mapping and then waits until
 * the pins on the range are released, so the blocks the I/O reaches stay
 * the file's and are never handed to another file. Faults go on meanwhile
 * (the pinned I/O may need them to finish); new pins on the range wait
 * for the break. A pin outlives udax_munmap of its memory (its blocks
 * stay referenced until udax_unpin) and keeps the file alive (an unlinked
 * file is freed at the last of close, unmap and unpin).
 *
 * A break waits for a pin only so long:
 *  - a short-term pin (flags 0), for the time of one I/O: UDAX_PIN_WAIT_MS
 *    from the environment, or 10 seconds;
 *  - a long-term pin (UDAX_PIN_LONGTERM) is a lease: the break calls its
 *    recall callback (in the breaking thread, with no udax lock held; it
 *    may call udax_unpin, or hand the job to another thread), then waits
 *    deadline_ms milliseconds.
 * A break that reaches a pin's deadline fails with -EBUSY and changes
 * nothing (udax_ftruncate, udax_fallocate, udax_file_open with O_TRUNC).
 *
 * Devices differ in what happens to memory the kernel still holds after
 * the file freed it (pins udax never hears of): see udax_mmap. udax_pin is
 * what makes such I/O safe on every device, and the only way to be told
 * (by a recall) before the file's layout changes under it.
 */
struct udax_pin;
#define UDAX_PIN_LONGTERM 0x1 /* a lease: recall callback and deadline */
struct udax_pin_opts {
	/* Called once per break that reaches the pin: release it (udax_unpin)
	 * within deadline_ms. arg is passed back. */
	void (*recall)(struct udax_pin *pin, void *arg);
	void *arg;
	unsigned deadline_ms;
};
/* Pin [addr, addr+len) of one udax mapping (addr page-aligned, len > 0,
 * rounded up to pages). flags: 0 or UDAX_PIN_LONGTERM; opts: NULL for a
 * short-term pin, required with UDAX_PIN_LONGTERM (with a recall). Waits
 * while a layout break is in progress on the range. Returns 0 and *pin,
 * -EINVAL (addr not page-aligned, len 0, bad flags, a long-term pin
 * without opts or recall, opts on a short-term pin), -EFAULT (the range
 * is not inside one udax mapping), -ENOMEM. */
int udax_pin(const void *addr, size_t len, unsigned flags,
	     const struct udax_pin_opts *opts, struct udax_pin **pin);
/* Release a pin and clear *pin. Returns 0, or -EINVAL if *pin is NULL
 * (a second unpin of the same variable). */
int udax_unpin(struct udax_pin **pin);

/* Send up to count bytes of a file, from *offset (NULL: from the file
 * position, which is advanced), to a connected socket, as sendfile(2):
 * straight from the device's memory, with no copy where the kernel can
 * splice the device's pages (a memory file, an ordinary file, a file on
 * a DAX mount) and one copy into the socket otherwise (devdax). Holes
 * send zeros; it stops at end of file. No udax lock is held while the
 * socket blocks: the range is pinned instead, a piece of at most 1 MiB
 * at a time, so a truncate or punch that reaches the piece being sent
 * waits for it (as for a udax_pin, see above: at most UDAX_PIN_WAIT_MS,
 * then the truncate fails with -EBUSY); the send then stops at the new
 * end of file and returns what it sent. Bytes a peer receives are always
 * bytes the file held, never another file's, also when the blocks were
 * freed and reused while the data still sat in the socket's queue.
 * Never raises SIGPIPE (a closed peer gives -EPIPE, as send(2) with
 * MSG_NOSIGNAL; a thread that blocks SIGPIPE itself may find one
 * pending after, as after sendfile(2)). Only sockets: sendfile(2) also writes to pipes and
 * regular files, udax_sendfile returns -ENOTSOCK for them (use
 * udax_pread and write(2)).
 * Returns the bytes sent (fewer than count at end of file, on a
 * non-blocking socket that filled up, or on a signal), *offset advanced
 * by them; 0 at or past end of file or for count 0; or, with nothing
 * sent and nothing changed: -EBADF (f NULL or not open for reading, or
 * sockfd not open), -EINVAL (*offset negative, or a directory and
 * count not 0),
 * -ENOTSOCK, -EAGAIN (a non-blocking socket is full), -EINTR, the
 * socket's error (-EPIPE, -ECONNRESET, -ENOTCONN, ...), -ENOMEM. */
ssize_t udax_sendfile(int sockfd, struct udax_file *f, off_t *offset,
		      size_t count);

/* Receive up to count bytes from a connected socket into a file at
 * *offset (NULL: at the file position, which is advanced), the opposite
 * of udax_sendfile and what splice(2) from a socket to a file does, with
 * one copy: the kernel copies from its socket buffers straight into the
 * device's memory.
 *
 * Space for the whole range is reserved first: -ENOSPC comes before a
 * byte is read from the socket (the peer's bytes stay queued there). The
 * data goes into fresh blocks that belong to no file while it arrives,
 * with no udax lock held: readers, writers, mappings and faults of the
 * file go on meanwhile and see the file as it was. When the receive ends,
 * what arrived is committed in one transaction, data durable before it:
 * the new blocks replace the range's old ones (freed; over existing data
 * the call is a copy-on-write), the size grows to cover it, and the parts
 * of the first and last block the data did not cover keep the file's
 * bytes (zeros past end of file). To everyone else the call is one write
 * made at that instant: a concurrent write, truncate or punch of the
 * range comes before it, and a crash at any point leaves the file as
 * before or with (a prefix of) the bytes received, never other bytes.
 * The blocks replaced are taken through the layout break, as a punch
 * would take them: mappings of them are zapped and pins on them waited
 * for (up to UDAX_PIN_WAIT_MS).
 *
 * Without flags the call returns once some bytes arrived, as recv(2):
 * what one recvmsg(2) gives. With UDAX_RECV_WAITALL it waits for all
 * count bytes, as MSG_WAITALL: fewer only at the end of the stream, on
 * an error (the bytes come back now; the error stays on the socket for
 * the next call, except past 256 extents, see recvfile.c), on a signal
 * or when SO_RCVTIMEO passes. A non-blocking socket with nothing queued
 * gives -EAGAIN with nothing read. Files opened O_APPEND are refused with
 * -EINVAL, as splice(2) refuses them: the data's offsets in its blocks
 * are fixed before the receive.
 * Returns the bytes received and committed (*offset advanced by them),
 * 0 at the end of the stream or for count 0; or, with nothing read from
 * the socket and nothing changed: -EBADF (f NULL or not open for writing,
 * or sockfd not open), -EINVAL (unknown flags, *offset negative, an
 * O_APPEND file), -EISDIR, -ENOTSOCK, -EFBIG (*offset at or past the
 * largest file size), -ENOSPC, -ENOMEM, -EAGAIN, -EINTR, the socket's
 * error (-ECONNRESET, -ENOTCONN, ...); or, with bytes read but not
 * committed (they are lost): -EBUSY (a pin on the range's old blocks was
 * not released in time), -EIO or the journal's error. */
#define UDAX_RECV_WAITALL 0x1 /* wait for all count bytes (MSG_WAITALL) */
ssize_t udax_recvfile(struct udax_file *f, int sockfd, off_t *offset,
		      size_t count, unsigned flags);

/* ---- namespace ---- */

int udax_mkdir(struct udax_fs *fs, const char *path, mode_t mode);
int udax_rmdir(struct udax_fs *fs, const char *path);
int udax_unlink(struct udax_fs *fs, const char *path);
/* flags: 0, RENAME_NOREPLACE, RENAME_EXCHANGE (from <linux/fs.h>). */
int udax_rename(struct udax_fs *fs, const char *from, const char *to,
		unsigned int flags);
int udax_link(struct udax_fs *fs, const char *from, const char *to);
int udax_symlink(struct udax_fs *fs, const char *target, const char *path);
/* Like readlink(2): no terminating NUL, returns the length stored. */
ssize_t udax_readlink(struct udax_fs *fs, const char *path, char *buf,
		      size_t size);
int udax_stat(struct udax_fs *fs, const char *path, struct stat *st);
int udax_lstat(struct udax_fs *fs, const char *path, struct stat *st);
int udax_chmod(struct udax_fs *fs, const char *path, mode_t mode);
/* uid/gid of (uid_t)-1 leave that id unchanged. Follows symlinks. */
int udax_chown(struct udax_fs *fs, const char *path, uid_t uid, gid_t gid);
int udax_lchown(struct udax_fs *fs, const char *path, uid_t uid, gid_t gid);
/* times[0] atime, times[1] mtime; UTIME_NOW, UTIME_OMIT; NULL = now.
 * flags: 0 or AT_SYMLINK_NOFOLLOW. */
int udax_utimens(struct udax_fs *fs, const char *path,
		 const struct timespec times[2], int flags);
/* mode: F_OK or an OR of R_OK, W_OK, X_OK. */
int udax_access(struct udax_fs *fs, const char *path, int mode);
int udax_statfs(struct udax_fs *fs, struct statvfs *st);

/* ---- special files and extended attributes ---- */

/*
 * Special files (images made with the SPECIAL feature: every image udax
 * 0.1 and later makes). udax_mknod() is mknod(2): mode's type is
 * S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK, or S_IFREG or 0 (a regular file);
 * dev is the device number of S_IFCHR and S_IFBLK (major < 4096, minor
 * < 2^20, Linux's dev_t) and ignored otherwise. The permission bits are
 * masked by the caller's umask. Device nodes need uid 0 (a character
 * device 0:0, a whiteout, does not). udax_stat() gives the type and
 * st_rdev. udax_file_open() of a FIFO, socket or device node fails
 * with -ENXIO (after the permission check), as opening one with no
 * reader, listener or driver behind it does: the library serves no
 * pipes, sockets or devices; `udax mount` makes them work, the kernel
 * serving them. Returns 0, or -EEXIST, -ENOENT, -ENOTDIR, -EACCES,
 * -ENAMETOOLONG, -ELOOP, -ENOSPC, -EROFS, -EINVAL (another type, a dev
 * out of range), -EPERM (S_IFDIR; a device node without privilege; a
 * special file on an image without the feature).
 */
int udax_mknod(struct udax_fs *fs, const char *path, mode_t mode, dev_t dev);

/*
 * Extended attributes (images with the XATTR feature), with Linux's
 * semantics: names are full names ("user.x"), at most 255 bytes
 * (-ERANGE for longer or empty ones); values at most 65536 bytes
 * (-E2BIG). Namespaces: user.* (regular files and directories only:
 * -EPERM to set on others, -ENODATA to get; read or write permission of
 * the file; -EACCES), trusted.* (uid 0 only: others get -EPERM to set,
 * -ENODATA to get and do not see the names listed), security.* (uid 0
 * sets, anyone reads), system.posix_acl_access and
 * system.posix_acl_default (stored as opaque values once their header
 * parses, -EINVAL otherwise; the owner or uid 0 sets them, -EPERM; a
 * default ACL only on a directory, -EACCES; none on a symlink,
 * -EOPNOTSUPP; udax does not apply them to permission checks: with
 * `udax mount -o posix_acl` the kernel does). Other names and images
 * without the feature: -EOPNOTSUPP. Per file, the names with their NULs
 * take at most 65536 bytes and the values at most 1 MiB (-ENOSPC).
 * Every change is one transaction. The l-variants act on a symlink
 * itself, the f-variants on an open file (also one with no name left).
 */
/* flags: 0, XATTR_CREATE (-EEXIST if present), XATTR_REPLACE (-ENODATA
 * if absent), from <sys/xattr.h>; other bits -EINVAL. Returns 0 or a
 * negative errno, including -EROFS and those of path lookup. */
int udax_setxattr(struct udax_fs *fs, const char *path, const char *name,
		  const void *value, size_t size, int flags);
int udax_lsetxattr(struct udax_fs *fs, const char *path, const char *name,
		   const void *value, size_t size, int flags);
int udax_fsetxattr(struct udax_file *f, const char *name, const void *value,
		   size_t size, int flags);
/* Copies the value into value (size bytes); size 0 returns the value's
 * length only. Returns the length, -ENODATA (absent), -ERANGE (size too
 * small), or as udax_setxattr. */
ssize_t udax_getxattr(struct udax_fs *fs, const char *path, const char *name,
		      void *value, size_t size);
ssize_t udax_lgetxattr(struct udax_fs *fs, const char *path, const char *name,
		       void *value, size_t size);
ssize_t udax_fgetxattr(struct udax_file *f, const char *name, void *value,
		       size_t size);
/* The names, each NUL-terminated, one after the other, in no particular
 * order; size 0 returns the length needed. Returns the length, -ERANGE
 * (size too small), or a path lookup's errno. */
ssize_t udax_listxattr(struct udax_fs *fs, const char *path, char *list,
		       size_t size);
ssize_t udax_llistxattr(struct udax_fs *fs, const char *path, char *list,
			size_t size);
ssize_t udax_flistxattr(struct udax_file *f, char *list, size_t size);
/* Returns 0, -ENODATA (absent), or as udax_setxattr. */
int udax_removexattr(struct udax_fs *fs, const char *path, const char *name);
int udax_lremovexattr(struct udax_fs *fs, const char *path, const char *name);
int udax_fremovexattr(struct udax_file *f, const char *name);

/* ---- directories ---- */

struct udax_dirent {
	uint64_t ino;
	uint64_t off;	    /* cookie of the next entry, for seekdir */
	unsigned char type; /* DT_REG, DT_DIR, DT_LNK, ... */
	char name[256];	    /* NUL-terminated */
};

int udax_dir_open(struct udax_fs *fs, const char *path, struct udax_dir **dir);
/* Returns 1 and fills *ent, 0 at the end, or a negative errno. Entries
 * "." and ".." come first. Entries added or removed during a scan are
 * seen at most once; others exactly once. */
int udax_dir_read(struct udax_dir *dir, struct udax_dirent *ent);
/* udax_dir_read, and the entry's attributes as udax_lstat would give
 * them, read together (for a directory listing with attributes, such as
 * FUSE's readdirplus). Returns as udax_dir_read. */
int udax_dir_read_stat(struct udax_dir *dir, struct udax_dirent *ent,
		       struct stat *st);
/* Continue from a cookie returned in udax_dirent.off (0 = start). */
int udax_dir_seek(struct udax_dir *dir, uint64_t off);
int udax_dir_close(struct udax_dir **dir);

/* ---- information ---- */

/* What udax_info() tells about an open file system. */
struct udax_info {
	uint32_t format_version; /* on-media format */
	uint8_t uuid[16];
	uint32_t block_size;  /* bytes */
	uint64_t block_count; /* device blocks */
	uint64_t free_blocks;
	uint64_t inode_count;
	uint64_t free_inodes;
	uint64_t journal_bytes;
	uint64_t data_start; /* first data block */
	uint64_t features;   /* incompatible feature flags */
	int64_t mkfs_time_ns;
	uint64_t commits; /* transactions committed since open */
	int read_only;
	char device_kind[16]; /* "memory", "file", "dax", "crash" */
	char persistence[32]; /* how stores are made durable */
	char flush_insn[16];  /* "clwb", "clflushopt", "clflush", "msync",
			       * "none (eADR)" */
	uint64_t map_unit;    /* bytes: the device is mapped into programs
			       * in whole units of this (4096; 2 MiB on a
			       * devdax at its default alignment or huge
			       * pages) */
};

/* Describe an open file system. Returns 0. */
int udax_info(struct udax_fs *fs, struct udax_info *info);

/* Human-readable description of an error code (including UDAX_ECORRUPT). */
const char *udax_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* UDAX_H */
