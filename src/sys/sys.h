/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the system calls and memory allocations libudax makes, in one
 * table that tests can make fail (as SQLite's OS layer reaches the system
 * through its aSyscall[] table).
 *
 * Every call the library makes into the C library or the kernel that can
 * fail goes through a wrapper here: sys_malloc() for malloc(), sys_mmap()
 * for mmap(), sys_ioctl(SYS_UFFDIO_COPY, ...) for one userfaultfd ioctl.
 * Each wrapper has the signature and the error convention of the call it
 * wraps (NULL or -1 with errno set; pthread_create returns the error).
 * Calls that go into libpmem2 stay direct; sys_inject(SYS_PMEM2) before
 * each makes it fail the same way (device.c, PM_CALL). Calls that only
 * release (close, free, flock LOCK_UN) stay direct: they cannot fail
 * usefully. munmap is in the table, but the library unmaps only whole
 * mappings it made, which cannot fail; if one does, the range leaks.
 *
 * Outside tests, injection is off: a wrapper is one load of a flag, a
 * branch predicted not taken, and the call itself.
 *
 * Tests (tests/t_inject.c) count the calls of each kind a workload makes,
 * then make the n-th one fail, or every one from the n-th on, with an
 * errno they choose: sys_fail_set(SYS_MMAP, 3, ENOMEM, 0). Counting and
 * failing are process-wide and thread-safe (the fault handler's threads
 * make calls too); the n-th call of a kind made by several threads is
 * whichever comes n-th.
 */
#ifndef UDAX_SYS_H
#define UDAX_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kinds of call in the table; sys_kind_name() gives each its name. */
enum sys_kind {
	SYS_MALLOC,
	SYS_CALLOC,
	SYS_REALLOC,
	SYS_ALIGNED_ALLOC,
	SYS_OPEN,
	SYS_FTRUNCATE,
	SYS_FALLOCATE,
	SYS_FSTAT,
	SYS_FSTATFS,
	SYS_FLOCK,
	SYS_FCNTL,
	SYS_MEMFD_CREATE,
	SYS_MMAP,
	SYS_MUNMAP,
	SYS_MREMAP,
	SYS_MADVISE,
	SYS_MSYNC,
	SYS_GETRANDOM,
	SYS_EVENTFD,
	SYS_POLL,
	SYS_READ,
	SYS_SENDFILE, /* udax_sendfile: sendfile(2) from the device's fd */
	SYS_SEND,     /* udax_sendfile: send(2) from the device's memory */
	SYS_RECVMSG,  /* udax_recvfile: recvmsg(2) into the device's memory */
	SYS_SIOCINQ,  /* udax_recvfile: the bytes a socket has queued */
	SYS_PTHREAD_CREATE,
	SYS_USERFAULTFD, /* userfaultfd(2), or USERFAULTFD_IOC_NEW */
	SYS_UFFDIO_API,
	SYS_UFFDIO_REGISTER,
	SYS_UFFDIO_COPY,
	SYS_UFFDIO_ZEROPAGE,
	SYS_UFFDIO_WAKE,
	SYS_UFFDIO_WRITEPROTECT,
	SYS_PMEM2, /* each libpmem2 call that can fail (device.c) */
	SYS_NKINDS
};

/* Nonzero while a test counts or fails calls. */
extern _Atomic int sys_armed;

/* Slow path of sys_inject: count the call, and say whether it fails. */
int sys_inject_slow(enum sys_kind kind);

/* The errno a call of `kind` must fail with now, or 0 to make it. */
static inline int sys_inject(enum sys_kind kind)
{
	if (__builtin_expect(
		    atomic_load_explicit(&sys_armed, memory_order_relaxed), 0))
		return sys_inject_slow(kind);
	return 0;
}

/* Return `fail` with errno set if this call of `kind` is to fail. */
#define SYS_FAIL(kind, fail)                                                   \
	do {                                                                   \
		int sys_err_ = sys_inject(kind);                               \
		if (sys_err_) {                                                \
			errno = sys_err_;                                      \
			return fail;                                           \
		}                                                              \
	} while (0)

/* ---- memory ---- */

static inline void *sys_malloc(size_t size)
{
	SYS_FAIL(SYS_MALLOC, NULL);
	return malloc(size);
}

static inline void *sys_calloc(size_t n, size_t size)
{
	SYS_FAIL(SYS_CALLOC, NULL);
	return calloc(n, size);
}

static inline void *sys_realloc(void *p, size_t size)
{
	SYS_FAIL(SYS_REALLOC, NULL);
	return realloc(p, size);
}

static inline void *sys_aligned_alloc(size_t align, size_t size)
{
	SYS_FAIL(SYS_ALIGNED_ALLOC, NULL);
	return aligned_alloc(align, size);
}

/* ---- files ---- */

static inline int sys_open(const char *path, int flags, mode_t mode)
{
	SYS_FAIL(SYS_OPEN, -1);
	return open(path, flags, mode);
}

static inline int sys_ftruncate(int fd, off_t len)
{
	SYS_FAIL(SYS_FTRUNCATE, -1);
	return ftruncate(fd, len);
}

static inline int sys_fallocate(int fd, int mode, off_t off, off_t len)
{
	SYS_FAIL(SYS_FALLOCATE, -1);
	return fallocate(fd, mode, off, len);
}

static inline int sys_fstat(int fd, struct stat *st)
{
	SYS_FAIL(SYS_FSTAT, -1);
	return fstat(fd, st);
}

static inline int sys_fstatfs(int fd, struct statfs *st)
{
	SYS_FAIL(SYS_FSTATFS, -1);
	return fstatfs(fd, st);
}

static inline int sys_flock(int fd, int op)
{
	SYS_FAIL(SYS_FLOCK, -1);
	return flock(fd, op);
}

/* fcntl with an int argument (F_ADD_SEALS). */
static inline int sys_fcntl(int fd, int cmd, int arg)
{
	SYS_FAIL(SYS_FCNTL, -1);
	return fcntl(fd, cmd, arg);
}

static inline int sys_memfd_create(const char *name, unsigned flags)
{
	SYS_FAIL(SYS_MEMFD_CREATE, -1);
	return memfd_create(name, flags);
}

static inline ssize_t sys_getrandom(void *buf, size_t len, unsigned flags)
{
	SYS_FAIL(SYS_GETRANDOM, -1);
	return getrandom(buf, len, flags);
}

/* ---- mappings ---- */

static inline void *sys_mmap(void *addr, size_t len, int prot, int flags,
			     int fd, off_t off)
{
	SYS_FAIL(SYS_MMAP, MAP_FAILED);
	return mmap(addr, len, prot, flags, fd, off);
}

static inline int sys_munmap(void *addr, size_t len)
{
	SYS_FAIL(SYS_MUNMAP, -1);
	return munmap(addr, len);
}

static inline void *sys_mremap(void *old, size_t old_len, size_t new_len,
			       int flags, void *new_addr)
{
	SYS_FAIL(SYS_MREMAP, MAP_FAILED);
	return mremap(old, old_len, new_len, flags, new_addr);
}

static inline int sys_madvise(void *addr, size_t len, int advice)
{
	SYS_FAIL(SYS_MADVISE, -1);
	return madvise(addr, len, advice);
}

static inline int sys_msync(void *addr, size_t len, int flags)
{
	SYS_FAIL(SYS_MSYNC, -1);
	return msync(addr, len, flags);
}

/* ---- threads and events (the fault handler) ---- */

static inline int sys_pthread_create(pthread_t *t, const pthread_attr_t *attr,
				     void *(*fn)(void *), void *arg)
{
	int err = sys_inject(SYS_PTHREAD_CREATE);

	return err ? err : pthread_create(t, attr, fn, arg);
}

static inline int sys_eventfd(unsigned initval, int flags)
{
	SYS_FAIL(SYS_EVENTFD, -1);
	return eventfd(initval, flags);
}

static inline int sys_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	SYS_FAIL(SYS_POLL, -1);
	return poll(fds, n, timeout);
}

static inline ssize_t sys_read(int fd, void *buf, size_t len)
{
	SYS_FAIL(SYS_READ, -1);
	return read(fd, buf, len);
}

/* ---- sockets (udax_sendfile, udax_recvfile) ---- */

static inline ssize_t sys_sendfile(int out_fd, int in_fd, off_t *off,
				   size_t len)
{
	SYS_FAIL(SYS_SENDFILE, -1);
	return sendfile(out_fd, in_fd, off, len);
}

static inline ssize_t sys_send(int fd, const void *buf, size_t len, int flags)
{
	SYS_FAIL(SYS_SEND, -1);
	return send(fd, buf, len, flags);
}

static inline ssize_t sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
	SYS_FAIL(SYS_RECVMSG, -1);
	return recvmsg(fd, msg, flags);
}

/* ---- userfaultfd ---- */

static inline int sys_userfaultfd(int flags)
{
	SYS_FAIL(SYS_USERFAULTFD, -1);
	return (int)syscall(SYS_userfaultfd, flags);
}

/* An ioctl counted as `kind` (SYS_UFFDIO_*, or SYS_USERFAULTFD for
 * USERFAULTFD_IOC_NEW). */
static inline int sys_ioctl(enum sys_kind kind, int fd, unsigned long req,
			    void *arg)
{
	SYS_FAIL(kind, -1);
	return ioctl(fd, req, arg);
}

/* ---- for tests only (tests/t_inject.c); the library never calls these */

/* Name of a kind ("mmap", "UFFDIO_COPY"), or NULL past the table. */
const char *sys_kind_name(enum sys_kind kind);

/* Make calls of `kind` fail with errno `err`: the nth call counted from
 * the last sys_count_reset() (1 = the first), or with `every` each call
 * from the nth on. nth 0 stops failing that kind. Counting starts too. */
void sys_fail_set(enum sys_kind kind, uint64_t nth, int err, int every);

/* Count calls of every kind from now on, from 0, failing none. */
void sys_count_reset(void);

/* Stop counting and failing (the counts stay readable). */
void sys_count_stop(void);

/* Calls of `kind` counted, and failures injected, since the reset. */
uint64_t sys_count(enum sys_kind kind);
uint64_t sys_failed(enum sys_kind kind);

#endif /* UDAX_SYS_H */
