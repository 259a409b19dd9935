/* SPDX-License-Identifier: MIT */
/*
 * slowsrc.h - a slow source for I/O in flight: a FUSE file system of one
 * file, /f, whose reads wait until the test lets them go. A program's
 * O_DIRECT or AIO read of /f into mapped memory keeps the kernel's
 * references on that memory's pages (get_user_pages) for as long as the
 * read waits here, so the test decides how long the I/O stays in flight.
 *
 * Lifecycle: slowsrc_start mounts and serves (one thread, fuse_session_
 * loop); slowsrc_wait_held returns once a read is waiting; slowsrc_release
 * lets every read, present and future, through (each reads as bytes of c);
 * slowsrc_stop unmounts (every descriptor of /f closed before) and frees.
 * Lock rule: lock covers held, released and reads; a read waits on cond.
 */
#ifndef UDAX_TEST_SLOWSRC_H
#define UDAX_TEST_SLOWSRC_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct slowsrc {
	struct fuse_session *se;
	pthread_t loop;
	char dir[32];  /* the mount point */
	char path[40]; /* dir/f */
	size_t size;   /* of /f */
	int c;	       /* the byte /f reads as */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int held;	/* reads waiting now */
	int released;	/* reads go through */
	unsigned reads; /* reads seen */
};

#define SLOWSRC_INO 2

/* The mount of a source not stopped (a case that failed midway): taken
 * away at exit, so that no dead FUSE mount stays behind. */
static char slowsrc_live[32];

static void slowsrc_atexit(void)
{
	if (slowsrc_live[0]) {
		umount2(slowsrc_live, MNT_DETACH);
		rmdir(slowsrc_live);
	}
}

static void slowsrc_attr(struct slowsrc *s, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = (off_t)s->size;
	}
}

static void slowsrc_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct slowsrc *s = fuse_req_userdata(req);
	struct fuse_entry_param e = {.ino = SLOWSRC_INO};

	if (parent != FUSE_ROOT_ID || strcmp(name, "f")) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	slowsrc_attr(s, SLOWSRC_INO, &e.attr);
	e.attr_timeout = e.entry_timeout = 3600;
	fuse_reply_entry(req, &e);
}

static void slowsrc_getattr(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != SLOWSRC_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	slowsrc_attr(fuse_req_userdata(req), ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void slowsrc_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	if (ino != SLOWSRC_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = 1; /* no page cache: reads reach the caller's pages */
	fuse_reply_open(req, fi);
}

static void slowsrc_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	struct slowsrc *s = fuse_req_userdata(req);
	char *buf;

	(void)ino;
	(void)fi;
	pthread_mutex_lock(&s->lock);
	s->reads++;
	s->held++;
	pthread_cond_broadcast(&s->cond);
	while (!s->released)
		pthread_cond_wait(&s->cond, &s->lock);
	s->held--;
	pthread_mutex_unlock(&s->lock);
	if ((size_t)off >= s->size)
		size = 0;
	else if (size > s->size - (size_t)off)
		size = s->size - (size_t)off;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	memset(buf, s->c, size);
	fuse_reply_buf(req, buf, size);
	free(buf);
}

static const struct fuse_lowlevel_ops slowsrc_ops = {
	.lookup = slowsrc_lookup,
	.getattr = slowsrc_getattr,
	.open = slowsrc_open,
	.read = slowsrc_read,
};

static void *slowsrc_serve(void *arg)
{
	struct slowsrc *s = arg;

	fuse_session_loop(s->se);
	return NULL;
}

/* Mount a slow source of size bytes of c. NULL with *why set where FUSE
 * cannot be mounted here (no /dev/fuse, no permission). */
static struct slowsrc *slowsrc_start(size_t size, int c, const char **why)
{
	char *argv[] = {"slowsrc", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct slowsrc *s = calloc(1, sizeof(*s));

	*why = "out of memory";
	if (!s)
		return NULL;
	s->size = size;
	s->c = c;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	strcpy(s->dir, "/tmp/udax-slowsrc-XXXXXX");
	*why = "no folder for the mount point";
	if (!mkdtemp(s->dir))
		goto free_s;
	snprintf(s->path, sizeof(s->path), "%s/f", s->dir);
	*why = "no FUSE session";
	s->se = fuse_session_new(&args, &slowsrc_ops, sizeof(slowsrc_ops), s);
	fuse_opt_free_args(&args);
	if (!s->se)
		goto remove_dir;
	*why = "FUSE cannot mount here (no /dev/fuse or no permission)";
	if (fuse_session_mount(s->se, s->dir))
		goto destroy_session;
	*why = "no thread";
	if (pthread_create(&s->loop, NULL, slowsrc_serve, s))
		goto unmount;
	if (!slowsrc_live[0])
		atexit(slowsrc_atexit);
	strcpy(slowsrc_live, s->dir);
	return s;

unmount:
	fuse_session_unmount(s->se);
destroy_session:
	fuse_session_destroy(s->se);
remove_dir:
	rmdir(s->dir);
free_s:
	free(s);
	return NULL;
}

/* Wait up to timeout_s for a read to be waiting. Returns 0 or -1. */
static int slowsrc_wait_held(struct slowsrc *s, int timeout_s)
{
	struct timespec dl;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_s;
	pthread_mutex_lock(&s->lock);
	while (!s->held && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&s->cond, &s->lock, &dl);
	ret = s->held ? 0 : -1;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void slowsrc_release(struct slowsrc *s)
{
	pthread_mutex_lock(&s->lock);
	s->released = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Unmount and free; every descriptor of /f must be closed (a lazy unmount
 * ends the connection, and so the loop, when the last one goes). */
static void slowsrc_stop(struct slowsrc *s)
{
	slowsrc_release(s);
	slowsrc_live[0] = 0;
	umount2(s->dir, MNT_DETACH);
	pthread_join(s->loop, NULL);
	fuse_session_unmount(s->se);
	fuse_session_destroy(s->se);
	rmdir(s->dir);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

#endif
