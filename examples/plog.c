/* SPDX-License-Identifier: MIT */
/*
 * plog.c - a persistent log on a udax mapping: an example.
 *
 *   plog IMAGE append N [sparse]   append N records to /log in IMAGE,
 *                                  printing "ack K" once record K is durable
 *   plog IMAGE check               verify /log and print "count K"
 *
 * IMAGE is a udax image, for example /dev/shm/plog.img; append creates it
 * (64 MiB) if it is missing. The log is one file, /log, mapped with
 * UDAX_MAP_SYNC: its records are written with plain stores into the
 * mapping and made durable with udax_persist(), which on a memory or DAX
 * device is a cache-line flush and a fence, no system call.
 *
 * The file, in 64-byte cache lines:
 *
 *   offset 0     the header: magic, version, record size, the crc32 of
 *                those, and count, the number of committed records
 *   offset 64    record 1, then record 2, ... (64 bytes each): its
 *                sequence number, some text, and the crc32 of both
 *
 * The commit rule: record K+1 is written into the slot after the K
 * committed ones and made durable BEFORE count goes from K to K+1; count
 * is then made durable, and only then is the record acknowledged. So,
 * whenever the program stops (kill -9, power loss):
 *  - every record below count is complete: it was durable before count
 *    said it was there;
 *  - the slot at count may hold a half-written record: it is not part of
 *    the log, and the next append overwrites it;
 *  - count itself is never torn: it is one aligned 8-byte store, which
 *    reaches memory whole (persistent memory guarantees 8-byte failure
 *    atomicity, and a killed process stops between two instructions).
 *
 * UDAX_MAP_SYNC is what makes the stores alone enough: while a page is
 * writably mapped, its blocks are in the file at that offset also after
 * a crash, so nothing but the data needs flushing. Without the flag the
 * program would have to call udax_msync(MS_SYNC) or udax_fsync().
 *
 * Build in the udax tree with `make examples` (build/examples/plog).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <udax.h>
#include <unistd.h>

#define PLOG_MAGIC 0x31474f4c50584455ull /* "UDXPLOG1" */
#define PLOG_VERSION 1
#define PLOG_PATH "/log"
#define PLOG_IMAGE_SIZE (64ull << 20) /* of a new image */
#define PLOG_CHUNK (256ull << 10)     /* the file grows by this much */
#define PLOG_WINDOW (1ull << 30)      /* mapped: at most 16M records */

struct plog_header {
	uint64_t magic;	   /* PLOG_MAGIC */
	uint32_t version;  /* PLOG_VERSION */
	uint32_t rec_size; /* sizeof(struct plog_record) */
	uint32_t hdr_crc;  /* crc32 of the three fields above */
	uint32_t pad0;
	uint64_t count; /* committed records: THE commit word */
	uint8_t pad[32];
};

struct plog_record {
	uint64_t seq;  /* 1, 2, 3, ...: its slot + 1 */
	char text[52]; /* "record SEQ, pid PID", zero-padded */
	uint32_t crc;  /* crc32 of seq and text */
};

_Static_assert(sizeof(struct plog_header) == 64, "one cache line");
_Static_assert(sizeof(struct plog_record) == 64, "one cache line");

/* An open log. */
struct plog {
	struct udax_fs *fs;
	struct udax_file *f;
	struct plog_header *hdr;  /* the mapping: the header ... */
	struct plog_record *recs; /* ... and the records after it */
	uint64_t size;		  /* bytes of /log */
	int sparse;		  /* grow with ftruncate instead of fallocate */
};

/* CRC-32 (the one of zlib and Ethernet), bit by bit: short, and fast
 * enough for 60 bytes a record. */
static uint32_t crc32_of(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = 0xffffffffu;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* Print what failed and why; return the (negative errno) error. */
static int fail(const char *what, int err)
{
	fprintf(stderr, "plog: %s: %s\n", what, udax_strerror(err));
	return err;
}

static uint32_t header_crc(const struct plog_header *h)
{
	return crc32_of(h, offsetof(struct plog_header, hdr_crc));
}

static uint32_t record_crc(const struct plog_record *r)
{
	return crc32_of(r, offsetof(struct plog_record, crc));
}

/* Create an empty /log, atomically: write it as /log.new, make it
 * durable, rename it over /log. A crash leaves either no /log or a whole
 * one, never a file without its header. */
static int plog_create(struct udax_fs *fs)
{
	struct plog_header h = {.magic = PLOG_MAGIC,
				.version = PLOG_VERSION,
				.rec_size = sizeof(struct plog_record)};
	struct udax_file *f;
	ssize_t n;
	int ret;

	h.hdr_crc = header_crc(&h);
	ret = udax_file_open(fs, PLOG_PATH ".new", O_CREAT | O_TRUNC | O_RDWR,
			     0644, &f);
	if (ret)
		return fail("create " PLOG_PATH ".new", ret);
	if ((n = udax_pwrite(f, &h, sizeof(h), 0)) != sizeof(h))
		ret = fail("write the header of " PLOG_PATH ".new",
			   n < 0 ? (int)n : -EIO);
	else if ((ret = udax_fsync(f)))
		fail("fsync " PLOG_PATH ".new", ret);
	udax_file_close(&f);
	if (!ret && (ret = udax_rename(fs, PLOG_PATH ".new", PLOG_PATH, 0)))
		fail("rename " PLOG_PATH ".new to " PLOG_PATH, ret);
	return ret;
}

/* Open IMAGE and its log (creating both for an appender), map the log
 * and check its header. */
static int plog_open(struct plog *l, const char *image, int writable)
{
	/* the appender: a writable mapping, UDAX_MAP_SYNC; check: read-only */
	int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	int flags = UDAX_MAP_SHARED | (writable ? UDAX_MAP_SYNC : 0);
	struct stat st;
	void *addr;
	int ret;

	if (writable && access(image, F_OK) && errno == ENOENT) {
		/* a new image: format it beside, then rename it into place,
		 * so that a crash never leaves a half-formatted IMAGE */
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.new", image);
		unlink(tmp);
		ret = udax_mkfs(
			tmp, &(struct udax_mkfs_opts){.size = PLOG_IMAGE_SIZE});
		if (ret)
			return fail("udax_mkfs", ret);
		if (rename(tmp, image))
			return fail("rename the new image", -errno);
	}
	if ((ret = udax_open(&l->fs, image, NULL)))
		return fail(image, ret);
	ret = udax_file_open(l->fs, PLOG_PATH, writable ? O_RDWR : O_RDONLY, 0,
			     &l->f);
	if (ret == -ENOENT && writable && !(ret = plog_create(l->fs)))
		ret = udax_file_open(l->fs, PLOG_PATH, O_RDWR, 0, &l->f);
	if (ret)
		return fail("open " PLOG_PATH, ret);
	if ((ret = udax_fstat(l->f, &st)))
		return fail("stat " PLOG_PATH, ret);
	l->size = (uint64_t)st.st_size;
	if (l->size < sizeof(struct plog_header) || l->size > PLOG_WINDOW)
		return fail(PLOG_PATH " has a bad size", UDAX_ECORRUPT);
	/* Map the whole window once. The pages past end of file raise
	 * SIGBUS until the file grows over them; growing needs no remap. */
	ret = udax_mmap(l->f, 0, PLOG_WINDOW, prot, flags, &addr);
	if (ret)
		return fail("udax_mmap " PLOG_PATH, ret);
	l->hdr = addr;
	l->recs = (struct plog_record *)(l->hdr + 1);
	if (l->hdr->magic != PLOG_MAGIC || l->hdr->version != PLOG_VERSION ||
	    l->hdr->rec_size != sizeof(struct plog_record) ||
	    l->hdr->hdr_crc != header_crc(l->hdr))
		return fail(PLOG_PATH " is not a log", UDAX_ECORRUPT);
	if (l->hdr->count >
	    (l->size - sizeof(struct plog_header)) / sizeof(struct plog_record))
		return fail(PLOG_PATH ": count past end of file",
			    UDAX_ECORRUPT);
	return 0;
}

/* Undo plog_open (also a partial one). Returns 0 or the first error. */
static int plog_close(struct plog *l)
{
	int ret = 0, r;

	if (l->hdr && (r = udax_munmap(l->hdr, PLOG_WINDOW)))
		ret = fail("udax_munmap", r);
	if (l->f && (r = udax_file_close(&l->f)) && !ret)
		ret = fail("close " PLOG_PATH, r);
	if (l->fs && (r = udax_close(&l->fs)) && !ret)
		ret = fail("udax_close", r);
	return ret;
}

/* Make room for `n` records: grow the file a chunk at a time, ahead of
 * the stores. fallocate gives the chunk its blocks now, so a store can
 * never find the device full (that would be SIGBUS); ENOSPC comes back
 * here instead. With `sparse`, ftruncate leaves holes and the first store
 * to each 2 MiB allocates it in the fault handler, which in a
 * UDAX_MAP_SYNC mapping commits before the store goes on. */
static int plog_reserve(struct plog *l, uint64_t n)
{
	uint64_t need =
		sizeof(struct plog_header) + n * sizeof(struct plog_record);
	uint64_t size;
	int ret;

	if (need <= l->size)
		return 0;
	size = (need + PLOG_CHUNK - 1) / PLOG_CHUNK * PLOG_CHUNK;
	if (size > PLOG_WINDOW)
		return fail("the log is full", -EFBIG);
	if (l->sparse)
		ret = udax_ftruncate(l->f, (off_t)size);
	else
		ret = udax_fallocate(l->f, 0, (off_t)l->size,
				     (off_t)(size - l->size));
	if (ret)
		return fail(l->sparse ? "udax_ftruncate " PLOG_PATH :
					"udax_fallocate " PLOG_PATH,
			    ret);
	l->size = size;
	return 0;
}

/* Append n records, acknowledging each on stdout once it is durable. */
static int plog_append(struct plog *l, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t count = l->hdr->count;
		struct plog_record *r;
		char ack[32];
		int ret, len;

		if ((ret = plog_reserve(l, count + 1)))
			return ret;
		r = &l->recs[count];
		/* 1. the record, into the slot after the last committed one */
		memset(r, 0, sizeof(*r));
		r->seq = count + 1;
		snprintf(r->text, sizeof(r->text), "record %llu, pid %d",
			 (unsigned long long)r->seq, (int)getpid());
		r->crc = record_crc(r);
		udax_persist(r, sizeof(*r));
		/* 2. the commit: one 8-byte store, made durable. (A batch
		 * would write several records, udax_flush each, udax_drain
		 * once, and then commit them with one count.) */
		__atomic_store_n(&l->hdr->count, count + 1, __ATOMIC_RELEASE);
		udax_persist(&l->hdr->count, sizeof(l->hdr->count));
		/* 3. only now may anyone be told */
		len = snprintf(ack, sizeof(ack), "ack %llu\n",
			       (unsigned long long)(count + 1));
		if (write(STDOUT_FILENO, ack, (size_t)len) != len)
			return fail("write the acknowledgement", -errno);
	}
	return 0;
}

/* Check every committed record; print the count if all are intact. */
static int plog_check(struct plog *l)
{
	uint64_t count = l->hdr->count;

	for (uint64_t i = 0; i < count; i++) {
		const struct plog_record *r = &l->recs[i];
		char what[96];

		if (r->seq == i + 1 && r->crc == record_crc(r))
			continue;
		snprintf(what, sizeof(what),
			 "record %llu of %llu (seq %llu, crc %08x, want %08x)",
			 (unsigned long long)(i + 1), (unsigned long long)count,
			 (unsigned long long)r->seq, r->crc, record_crc(r));
		return fail(what, UDAX_ECORRUPT);
	}
	printf("count %llu\n", (unsigned long long)count);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: plog IMAGE append N [sparse]\n"
			"       plog IMAGE check\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct plog l = {0};
	unsigned long long n = 0;
	int append, ret;

	if (argc < 3)
		return usage();
	append = !strcmp(argv[2], "append");
	if (append) {
		char *end;
		if (argc < 4 || argc > 5 ||
		    (argc == 5 && strcmp(argv[4], "sparse")))
			return usage();
		errno = 0;
		n = strtoull(argv[3], &end, 10);
		if (errno || *end || end == argv[3])
			return usage();
		l.sparse = argc == 5;
	} else if (strcmp(argv[2], "check") || argc != 3) {
		return usage();
	}
	ret = plog_open(&l, argv[1], append);
	if (!ret)
		ret = append ? plog_append(&l, n) : plog_check(&l);
	if (plog_close(&l) && !ret)
		ret = -EIO;
	return ret ? 1 : 0;
}
