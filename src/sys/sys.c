/* SPDX-License-Identifier: MIT */
/*
 * sys.c - counting and failing the calls of the table (sys.h) for tests.
 */
#include "sys.h"

_Atomic int sys_armed;

/* One kind: how many calls were seen and failed, and which fail. */
static struct sys_entry {
	const char *name;
	_Atomic uint64_t calls, failed;
	_Atomic uint64_t nth; /* 0: none fails */
	_Atomic int err, every;
} sys_table[SYS_NKINDS] = {
	[SYS_MALLOC] = {.name = "malloc"},
	[SYS_CALLOC] = {.name = "calloc"},
	[SYS_REALLOC] = {.name = "realloc"},
	[SYS_ALIGNED_ALLOC] = {.name = "aligned_alloc"},
	[SYS_OPEN] = {.name = "open"},
	[SYS_FTRUNCATE] = {.name = "ftruncate"},
	[SYS_FALLOCATE] = {.name = "fallocate"},
	[SYS_FSTAT] = {.name = "fstat"},
	[SYS_FSTATFS] = {.name = "fstatfs"},
	[SYS_FLOCK] = {.name = "flock"},
	[SYS_FCNTL] = {.name = "fcntl"},
	[SYS_MEMFD_CREATE] = {.name = "memfd_create"},
	[SYS_MMAP] = {.name = "mmap"},
	[SYS_MUNMAP] = {.name = "munmap"},
	[SYS_MREMAP] = {.name = "mremap"},
	[SYS_MADVISE] = {.name = "madvise"},
	[SYS_MSYNC] = {.name = "msync"},
	[SYS_GETRANDOM] = {.name = "getrandom"},
	[SYS_EVENTFD] = {.name = "eventfd"},
	[SYS_POLL] = {.name = "poll"},
	[SYS_READ] = {.name = "read"},
	[SYS_PTHREAD_CREATE] = {.name = "pthread_create"},
	[SYS_USERFAULTFD] = {.name = "userfaultfd"},
	[SYS_UFFDIO_API] = {.name = "UFFDIO_API"},
	[SYS_UFFDIO_REGISTER] = {.name = "UFFDIO_REGISTER"},
	[SYS_UFFDIO_COPY] = {.name = "UFFDIO_COPY"},
	[SYS_UFFDIO_ZEROPAGE] = {.name = "UFFDIO_ZEROPAGE"},
	[SYS_UFFDIO_WAKE] = {.name = "UFFDIO_WAKE"},
	[SYS_UFFDIO_WRITEPROTECT] = {.name = "UFFDIO_WRITEPROTECT"},
	[SYS_SENDFILE] = {.name = "sendfile"},
	[SYS_SEND] = {.name = "send"},
	[SYS_RECVMSG] = {.name = "recvmsg"},
	[SYS_SIOCINQ] = {.name = "SIOCINQ"},
	[SYS_PMEM2] = {.name = "pmem2"},
};

int sys_inject_slow(enum sys_kind kind)
{
	struct sys_entry *e = &sys_table[kind];
	uint64_t n = atomic_fetch_add(&e->calls, 1) + 1;
	uint64_t nth = atomic_load(&e->nth);

	if (!nth || n < nth || (n > nth && !atomic_load(&e->every)))
		return 0;
	atomic_fetch_add(&e->failed, 1);
	return atomic_load(&e->err);
}

const char *sys_kind_name(enum sys_kind kind)
{
	return (unsigned)kind < SYS_NKINDS ? sys_table[kind].name : NULL;
}

void sys_fail_set(enum sys_kind kind, uint64_t nth, int err, int every)
{
	struct sys_entry *e = &sys_table[kind];

	atomic_store(&e->err, err);
	atomic_store(&e->every, every);
	atomic_store(&e->nth, nth);
	atomic_store(&sys_armed, 1);
}

void sys_count_reset(void)
{
	for (int k = 0; k < SYS_NKINDS; k++) {
		atomic_store(&sys_table[k].nth, 0);
		atomic_store(&sys_table[k].calls, 0);
		atomic_store(&sys_table[k].failed, 0);
	}
	atomic_store(&sys_armed, 1);
}

void sys_count_stop(void)
{
	atomic_store(&sys_armed, 0);
	for (int k = 0; k < SYS_NKINDS; k++)
		atomic_store(&sys_table[k].nth, 0);
}

uint64_t sys_count(enum sys_kind kind)
{
	return atomic_load(&sys_table[kind].calls);
}

uint64_t sys_failed(enum sys_kind kind)
{
	return atomic_load(&sys_table[kind].failed);
}
