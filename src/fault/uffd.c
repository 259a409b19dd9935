/* SPDX-License-Identifier: MIT */
/*
 * uffd.c - the few userfaultfd calls the fault layer makes.
 *
 * userfaultfd is how page faults on a udax mapping reach user space,
 * including the kernel's own accesses (read(2) into a mapping), which a
 * SIGSEGV handler would never see. It needs privilege: a plain
 * userfaultfd(2) that also handles kernel faults is allowed to root (or
 * with vm.unprivileged_userfaultfd=1); others can get one from
 * /dev/userfaultfd if they may open it. Both ways are tried here, and
 * the message on failure names what to grant.
 *
 * The build headers (Debian 12) predate some of what kernel 6.x offers;
 * what is used is defined here when missing and asked for at run time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault.h"
#include "sys/sys.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_FEATURE_EVENT_REMAP
#define UFFD_FEATURE_EVENT_REMAP (1 << 2)
#endif
#ifndef UFFD_FEATURE_PAGEFAULT_FLAG_WP
#define UFFD_FEATURE_PAGEFAULT_FLAG_WP (1 << 0)
#endif
#ifndef UFFD_FEATURE_THREAD_ID
#define UFFD_FEATURE_THREAD_ID (1 << 8)
#endif

/* A userfaultfd that also sees kernel-mode faults, or -errno. */
static int uffd_create(void)
{
	int fd, dev, err;

	fd = sys_userfaultfd(O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	err = -errno;
	if (err != -EPERM && err != -EACCES)
		return err;
	dev = sys_open("/dev/userfaultfd", O_RDWR | O_CLOEXEC, 0);
	if (dev < 0)
		return -EPERM;
	fd = sys_ioctl(SYS_USERFAULTFD, dev, USERFAULTFD_IOC_NEW,
		       (void *)(uintptr_t)(O_CLOEXEC | O_NONBLOCK));
	err = fd < 0 ? -EPERM : 0;
	close(dev);
	return fd < 0 ? err : fd;
}

int uffd_open(int quiet, int *wp, int *tids)
{
	struct uffdio_api api = {.api = UFFD_API};
	uint64_t want;
	int fd, ret;

	fd = uffd_create();
	if (fd == -EPERM) {
		if (!quiet)
			fprintf(stderr,
				"udax: mmap needs userfaultfd, which this "
				"process may not use: grant it read-write "
				"access to /dev/userfaultfd (e.g. a group "
				"owning it with mode 0660), or set the sysctl "
				"vm.unprivileged_userfaultfd=1, or run as "
				"root\n");
		return -EPERM;
	}
	if (fd < 0) {
		if (!quiet)
			fprintf(stderr, "udax: userfaultfd: error %d\n", -fd);
		return fd;
	}
	/* first ask what the kernel offers (features 0), then enable what
	 * is used: a userfaultfd accepts one UFFDIO_API only */
	if (sys_ioctl(SYS_UFFDIO_API, fd, UFFDIO_API, &api)) {
		ret = -errno;
		goto close_fd;
	}
	want = api.features &
	       (UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_PAGEFAULT_FLAG_WP |
		UFFD_FEATURE_THREAD_ID);
	close(fd);
	if (!(want & UFFD_FEATURE_EVENT_REMAP)) {
		/* zaps move registered memory into place with mremap() */
		if (!quiet)
			fprintf(stderr, "udax: this kernel's userfaultfd has "
					"no remap events (Linux 4.11+)\n");
		return -ENOSYS;
	}
	fd = uffd_create();
	if (fd < 0)
		return fd;
	api = (struct uffdio_api){.api = UFFD_API, .features = want};
	if (sys_ioctl(SYS_UFFDIO_API, fd, UFFDIO_API, &api)) {
		ret = -errno;
		goto close_fd;
	}
	*wp = !!(want & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	*tids = !!(want & UFFD_FEATURE_THREAD_ID);
	return fd;

close_fd:
	close(fd);
	return ret;
}

int uffd_register(int uffd, void *addr, uint64_t len, int mode)
{
	struct uffdio_register reg = {
		.range = {.start = (uintptr_t)addr, .len = len},
		.mode = (uint64_t)mode,
	};

	return sys_ioctl(SYS_UFFDIO_REGISTER, uffd, UFFDIO_REGISTER, &reg) ?
		       -errno :
		       0;
}

/* One UFFDIO_COPY of a page from src (write-protected if wp). */
static int copy_page(struct fault *fc, uint64_t addr, const void *src, int wp)
{
	struct uffdio_copy c = {
		.dst = addr,
		.src = (uintptr_t)src,
		.len = FAULT_PAGE,
		.mode = wp ? UFFDIO_COPY_MODE_WP : 0,
	};

	return sys_ioctl(SYS_UFFDIO_COPY, fc->uffd, UFFDIO_COPY, &c) ? -errno :
								       0;
}

int uffd_zero(struct fault *fc, uint64_t addr, uint64_t len, int wp,
	      uint64_t *done)
{
	int ret;

	*done = 0;
	if (wp) {
		/* one page at a time: the source is one page of zeros */
		for (; *done < len; *done += FAULT_PAGE) {
			ret = copy_page(fc, addr + *done, fc->zero_page, 1);
			if (ret)
				return ret;
		}
		return 0;
	}
	struct uffdio_zeropage z = {
		.range = {.start = addr, .len = len},
	};
	if (!sys_ioctl(SYS_UFFDIO_ZEROPAGE, fc->uffd, UFFDIO_ZEROPAGE, &z)) {
		*done = len;
		return 0;
	}
	ret = -errno;
	/* a part done: the kernel met a page already there (reported as
	 * EAGAIN after a part, EEXIST before any) */
	if (z.zeropage > 0) {
		*done = (uint64_t)z.zeropage;
		return -EEXIST;
	}
	return ret;
}

int uffd_copy(struct fault *fc, uint64_t addr, const void *src, uint64_t len,
	      uint64_t *done)
{
	int ret;

	for (*done = 0; *done < len; *done += FAULT_PAGE) {
		ret = copy_page(fc, addr + *done, (const char *)src + *done, 0);
		if (ret)
			return ret;
	}
	return 0;
}

int uffd_unprotect(struct fault *fc, uint64_t addr, uint64_t len)
{
	struct uffdio_writeprotect w = {
		.range = {.start = addr, .len = len},
		.mode = 0,
	};

	return sys_ioctl(SYS_UFFDIO_WRITEPROTECT, fc->uffd, UFFDIO_WRITEPROTECT,
			 &w) ?
		       -errno :
		       0;
}

void uffd_wake(int uffd, uint64_t addr, uint64_t len)
{
	struct uffdio_range r = {.start = addr, .len = len};

	/* a lost wake leaves a faulting thread asleep for good: try again
	 * (the kernel fails it only for a bad range) */
	for (int tries = 0; tries < 3; tries++)
		if (!sys_ioctl(SYS_UFFDIO_WAKE, uffd, UFFDIO_WAKE, &r))
			break;
}
