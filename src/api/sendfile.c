/* SPDX-License-Identifier: MIT */
/*
 * sendfile.c - udax_sendfile: a file's data to a socket with the fewest
 * copies the device and the socket allow.
 *
 * The range is sent a piece at a time (SEND_PIECE bytes of the file,
 * aligned): for each piece
 *
 *   1. pin the piece (pin_range): from now on no truncate, punch or
 *      remap frees or moves its blocks; one that reaches the piece waits
 *      (the layout break) until step 5;
 *   2. look its extents up with the inode lock held shared (the iomap
 *      iterator, as udax_pread), cut at end of file, and let the lock go:
 *      nothing below waits on the socket with an inode lock held;
 *   3. mark the device pages the kernel is about to reference
 *      (dev_note_mapped), so that once freed they are detached before
 *      another file gets them (device.h, "Pins udax never hears of");
 *   4. send: mapped blocks by sendfile(2) from the device's fd at their
 *      device offset where the kernel can (dev->splice: a memory file, an
 *      ordinary file, a file on a DAX mount), else by send(2) from the
 *      device's memory (devdax, the crash device); holes and unwritten
 *      blocks as zeros;
 *   5. unpin.
 *
 * Why the pin is not enough alone: sendfile(2) from a memory file or an
 * ordinary file hands the socket references to the page-cache pages
 * themselves (splice), which stay queued after the call returns, until
 * the peer has read them. The pin covers the call; step 3 covers the
 * queue: a freed block whose pages were sent is punched out of the
 * backing, so the queued pages keep the old bytes and belong to no file,
 * and the next file to get the block gets fresh memory. send(2) copies
 * into the socket before it returns, so its blocks need only the pin.
 *
 * Why pieces, not one pin over the whole range: a truncate of the range
 * waits for the piece being sent, not for a peer that may read a large
 * range slowly (a break waits for a short-term pin only so long: then
 * the truncate fails with -EBUSY). After the truncate the next piece
 * finds the new end of file and the call returns what it sent, as
 * sendfile(2) stops at end of file.
 *
 * MSG_ZEROCOPY is not used: the kernel copies its data on loopback and
 * to local sockets anyway, it needs SO_ZEROCOPY set on the caller's
 * socket, and the blocks would have to stay pinned until the completion
 * arrives on the socket's error queue, which the caller may be reading
 * too. sendfile(2) already gives zero copies where the pages have a page
 * cache; devdax pays one copy into the socket.
 *
 * SIGPIPE: send(2) is called with MSG_NOSIGNAL; sendfile(2) has no such
 * flag, so SIGPIPE is blocked in the calling thread for the call and a
 * SIGPIPE the call raised is taken away again before it is unblocked.
 * A closed peer gives -EPIPE (or what was sent before it), never a
 * signal.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api.h"
#include "fault/fault.h"
#include "iomap/iomap.h"
#include "sys/sys.h"

/* Bytes of the file pinned, looked up and sent at a time (aligned). */
#define SEND_PIECE (1024u << 10)
/* Segments of a piece: one per extent or hole, at most one a block. */
#define SEND_SEGS (SEND_PIECE / UDAX_BLOCK_SIZE + 1)
/* The largest count, as Linux's MAX_RW_COUNT. */
#define SEND_MAX ((size_t)INT_MAX & ~(size_t)4095)

/* What step 4 sends: a run of device bytes, or of zeros. */
struct send_seg {
	uint64_t addr; /* device offset, or IOMAP_NULL_ADDR: zeros */
	uint64_t len;  /* bytes */
};

static const uint8_t send_zeros[64 * 1024];

/* Step 2: the segments of [off, off+len) of ip, cut at end of file.
 * Takes ip->lock shared for the lookup only. Returns the bytes the
 * segments cover (0 at or past end of file), or a negative errno. */
static int64_t send_lookup(struct inode *ip, uint64_t off, uint64_t len,
			   struct send_seg *seg, int *nseg)
{
	struct iomap_iter it = {.ip = ip, .flags = IOMAP_REPORT};
	const struct udax_inode *di;
	int ret, err = 0;

	*nseg = 0;
	pthread_rwlock_rdlock(&ip->lock);
	di = inode_r(ip->fs, NULL, ip->ino, &err);
	if (!di) {
		ret = err;
		goto unlock;
	}
	if (off >= di->size) {
		ret = 0;
		goto unlock;
	}
	it.pos = off;
	it.len = len < di->size - off ? len : di->size - off;
	while ((ret = iomap_iter(&it, &udax_iomap_ops)) > 0) {
		const struct iomap *m = &it.iomap;
		uint64_t addr =
			m->type == IOMAP_MAPPED || m->type == IOMAP_SHARED ?
				m->addr :
				IOMAP_NULL_ADDR;
		struct send_seg *last = *nseg ? &seg[*nseg - 1] : NULL;

		/* runs that continue on the device (or zeros after zeros)
		 * go out in one call */
		if (last && (addr == IOMAP_NULL_ADDR ?
				     last->addr == IOMAP_NULL_ADDR :
				     last->addr != IOMAP_NULL_ADDR &&
					     last->addr + last->len == addr)) {
			last->len += m->length;
		} else {
			if (*nseg == SEND_SEGS) {
				ret = -EOVERFLOW; /* cannot happen: a block
						   * at least per extent */
				break;
			}
			seg[(*nseg)++] = (struct send_seg){addr, m->length};
		}
		it.processed = (int64_t)m->length;
	}
unlock:
	pthread_rwlock_unlock(&ip->lock);
	return ret < 0 ? ret : (int64_t)it.done;
}

/* Step 4 for one segment: send it whole or stop short. Returns the bytes
 * the socket took (fewer than seg->len: stop here), or a negative errno
 * (the socket's, as the system call gave it) if it took none. */
static int64_t send_seg(int sockfd, struct dev *dev, const struct send_seg *seg)
{
	uint64_t done = 0;
	ssize_t n;

	while (done < seg->len) {
		size_t want = seg->len - done;

		if (seg->addr == IOMAP_NULL_ADDR) {
			if (want > sizeof(send_zeros))
				want = sizeof(send_zeros);
			n = sys_send(sockfd, send_zeros, want, MSG_NOSIGNAL);
		} else if (dev->splice) {
			off_t o = (off_t)(seg->addr + done);
			n = sys_sendfile(sockfd, dev->fd, &o, want);
		} else {
			n = sys_send(sockfd, dev->base + seg->addr + done, want,
				     MSG_NOSIGNAL);
		}
		if (n < 0)
			return done ? (int64_t)done : -errno;
		done += (uint64_t)n;
		/* short: a non-blocking socket is full, or a signal came */
		if ((size_t)n < want || !n)
			break;
	}
	return (int64_t)done;
}

/* Steps 1 to 5 for the piece at off (at most len bytes). Returns the
 * bytes sent (fewer than asked: stop), 0 at end of file, or a negative
 * errno if nothing was sent. */
static int64_t send_piece(int sockfd, struct inode *ip, uint64_t off,
			  uint64_t len)
{
	struct dev *dev = ip->fs->dev;
	struct send_seg seg[SEND_SEGS];
	struct udax_pin *pin;
	int64_t covered, sent = 0, n = 0;
	int nseg, ret;

	ret = pin_range(ip, off, len, 0, NULL, &pin);
	if (ret)
		return ret;
	covered = send_lookup(ip, off, len, seg, &nseg);
	if (covered <= 0) {
		n = covered;
		goto unpin;
	}
	for (int i = 0; i < nseg; i++) {
		if (seg[i].addr == IOMAP_NULL_ADDR || !dev->splice)
			continue;
		ret = dev_note_mapped(dev, seg[i].addr, seg[i].len);
		if (ret) {
			n = ret; /* the pages could not be remembered */
			goto unpin;
		}
	}
	for (int i = 0; i < nseg; i++) {
		n = send_seg(sockfd, dev, &seg[i]);
		if (n > 0)
			sent += n;
		if (n < (int64_t)seg[i].len)
			break;
	}
unpin:
	udax_unpin(&pin);
	return sent ? sent : n;
}

/* SIGPIPE held back around sendfile(2) (see the top of the file): two
 * system calls, a third and fourth only when the send stopped early. A
 * thread that blocks SIGPIPE itself is left as it is. */
struct sigpipe_hold {
	sigset_t old;
	int blocked; /* SIGPIPE was blocked here, not by the caller */
};

static void sigpipe_block(struct sigpipe_hold *h)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	h->blocked = !pthread_sigmask(SIG_BLOCK, &set, &h->old) &&
		     !sigismember(&h->old, SIGPIPE);
}

/* stopped: the send stopped before the end (an error, a short count),
 * when the kernel may have raised SIGPIPE; a whole send cannot have. A
 * SIGPIPE pending now is the call's: while SIGPIPE was not blocked none
 * could have been pending before it. */
static void sigpipe_unblock(struct sigpipe_hold *h, int stopped)
{
	static const struct timespec now;
	sigset_t set, pending;

	if (!h->blocked)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (stopped && !sigpending(&pending) && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&set, NULL, &now) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &h->old, NULL);
}

/* The send loop over pieces from pos. Returns the bytes sent or a
 * negative errno (nothing sent). */
static ssize_t send_range(int sockfd, struct udax_file *f, uint64_t pos,
			  size_t count)
{
	struct sigpipe_hold hold;
	uint64_t done = 0;
	int64_t n = 0;
	int splice = f->fs->dev->splice, stopped = 0;

	if (splice)
		sigpipe_block(&hold);
	while (done < count) {
		uint64_t off = pos + done;
		uint64_t len = SEND_PIECE - (off & (SEND_PIECE - 1));

		if (len > count - done)
			len = count - done;
		n = send_piece(sockfd, f->ip, off, len);
		if (n > 0)
			done += (uint64_t)n;
		if (n < (int64_t)len) {
			stopped = n != 0; /* else: end of file */
			break;		  /* or a short send, or an error */
		}
	}
	if (splice)
		sigpipe_unblock(&hold, stopped);
	return done ? (ssize_t)done : n < 0 ? (ssize_t)n : 0;
}

ssize_t udax_sendfile(int sockfd, struct udax_file *f, off_t *offset,
		      size_t count)
{
	struct stat st;
	ssize_t n;

	/* bad input, in sendfile(2)'s order: nothing is sent or moved (a
	 * directory fails only when there is something to send) */
	if (!f || (f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (sys_fstat(sockfd, &st))
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	if (offset && *offset < 0)
		return -EINVAL;
	if (!count)
		return 0;
	if (f->is_dir)
		return -EINVAL;
	if (count > SEND_MAX)
		count = SEND_MAX;
	if (offset) {
		n = (uint64_t)*offset >= UDAX_MAX_FILE_SIZE ?
			    0 :
			    send_range(sockfd, f, (uint64_t)*offset, count);
		if (n > 0)
			*offset += n;
		return n;
	}
	/* the handle's position, held as udax_read holds it */
	pthread_mutex_lock(&f->pos_lock);
	n = f->pos >= UDAX_MAX_FILE_SIZE ? 0 :
					   send_range(sockfd, f, f->pos, count);
	if (n > 0)
		f->pos += (uint64_t)n;
	pthread_mutex_unlock(&f->pos_lock);
	return n;
}
