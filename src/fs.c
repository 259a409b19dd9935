/* SPDX-License-Identifier: MIT */
/*
 * fs.c - what every layer calls, at the bottom of the stack (fs.h): the
 * report of a damaged structure and the clock.
 *
 * They lived in api/fs.c, so that the btree, alloc, journal, inode, iomap
 * and fault layers called up into the api layer for them; here nothing
 * below the caller is reached but the device's name.
 */
#include <errno.h>
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

void fs_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

int64_t fs_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int fs_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
		       int64_t deadline_ns)
{
	struct timespec ts;

	if (deadline_ns == INT64_MAX)
		return pthread_cond_wait(c, m);
	if (fs_mono_ns() >= deadline_ns)
		return ETIMEDOUT;
	ts.tv_sec = deadline_ns / 1000000000;
	ts.tv_nsec = deadline_ns % 1000000000;
	return pthread_cond_timedwait(c, m, &ts);
}

void fs_release_end(struct udax_fs *fs)
{
	if (atomic_load(&fs->idle_waiters)) {
		pthread_mutex_lock(&fs->idle_lock);
		pthread_cond_broadcast(&fs->idle_cond);
		pthread_mutex_unlock(&fs->idle_lock);
	}
	atomic_fetch_sub(&fs->releasing, 1); /* fs may be freed after this */
}
