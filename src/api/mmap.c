/* SPDX-License-Identifier: MIT */
/*
 * mmap.c - the public face of direct-access mappings: udax_mmap and its
 * argument checks (as mmap(2) makes them), udax_munmap, udax_msync, and
 * udax_persist / udax_flush / udax_drain. The work is the fault layer's
 * (src/fault/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

#include "api.h"
#include "fault/fault.h"

int udax_mmap(struct udax_file *f, off_t offset, size_t length, int prot,
	      int flags, void **addr)
{
	int type = flags & (UDAX_MAP_SHARED | UDAX_MAP_PRIVATE);
	int acc;
	uint64_t len;

	if (addr)
		*addr = NULL;
	if (!f)
		return -EBADF;
	if (!addr || !length || offset < 0 ||
	    ((uint64_t)offset & (FAULT_PAGE - 1)) ||
	    (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) ||
	    (flags & ~(UDAX_MAP_SHARED | UDAX_MAP_PRIVATE | UDAX_MAP_SYNC)) ||
	    (type != UDAX_MAP_SHARED && type != UDAX_MAP_PRIVATE) ||
	    ((flags & UDAX_MAP_SYNC) && type != UDAX_MAP_SHARED))
		return -EINVAL;
	len = ((uint64_t)length + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
	if (len < length)
		return -ENOMEM;
	if (len > (uint64_t)INT64_MAX - (uint64_t)offset)
		return -EOVERFLOW;
	if (f->is_dir)
		return -ENODEV; /* as mmap of a directory's fd */
	acc = f->flags & O_ACCMODE;
	if (acc == O_WRONLY)
		return -EACCES;
	/* as Linux, O_APPEND does not matter (only an append-only inode
	 * attribute would, which udax has not) */
	if (type == UDAX_MAP_SHARED && (prot & PROT_WRITE) && acc != O_RDWR)
		return -EACCES;
	return fault_map_new(f->fs, f->ip, (uint64_t)offset, len, prot, flags,
			     addr);
}

int udax_munmap(void *addr, size_t length)
{
	return fault_map_delete(addr, length);
}

int udax_msync(void *addr, size_t len, int flags)
{
	uint64_t a = (uintptr_t)addr, end;

	if ((a & (FAULT_PAGE - 1)) ||
	    (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) ||
	    ((flags & MS_ASYNC) && (flags & MS_SYNC)))
		return -EINVAL;
	end = (a + len + FAULT_PAGE - 1) & ~(uint64_t)(FAULT_PAGE - 1);
	if (end < a)
		return -ENOMEM;
	if (end == a)
		return 0;
	return fault_msync(a, end - a, !!(flags & MS_SYNC));
}

void udax_flush(const void *addr, size_t len)
{
	fault_flush(addr, len);
}

void udax_drain(void)
{
	fault_drain();
}

void udax_persist(const void *addr, size_t len)
{
	fault_flush(addr, len);
	fault_drain();
}
