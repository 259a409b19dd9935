/* SPDX-License-Identifier: MIT */
/*
 * fs.c - what every layer calls, at the bottom of the stack (fs.h): the
 * report of a damaged structure and the clock.
 *
 * They lived in api/fs.c, so that the btree, alloc, journal, inode, iomap
 * and fault layers called up into the api layer for them; here nothing
 * below the caller is reached but the device's name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "fs.h"

int fs_corrupt(struct udax_fs *fs, const char *fmt, ...)
{
	va_list ap;

	if (fs && fs->quiet)
		return UDAX_ECORRUPT;
	fprintf(stderr, "udax: %s: ", fs && fs->dev ? fs->dev->name : "?");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return UDAX_ECORRUPT;
}

int64_t fs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
