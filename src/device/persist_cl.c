/* SPDX-License-Identifier: MIT */
/*
 * persist_cl.c - cache-line persistence for memory devices.
 *
 * libpmem2 reports page granularity (msync) for any file that is not on a
 * DAX mount, a memfd included, and offers no way to ask for the cache-line
 * functions short of an environment variable. A memory device must run the
 * same cache-line path persistent memory would, so these few primitives
 * pick clwb, clflushopt or clflush once from the CPU, as libpmem2 does.
 *
 * Each primitive takes an optional recorder (struct cl_recorder), told
 * from inside the primitive of every line it wrote back or streamed and
 * of every fence it issued. The crash-emulating device runs these very
 * functions with a recorder, so a write-back or fence missing here is
 * missing from what the crash tests see (on x86 no user-space test could
 * tell otherwise: the memory holds the stores either way).
 */
#include <emmintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "device.h"

#define CL 64u

enum cl_insn { CL_CLFLUSH, CL_CLFLUSHOPT, CL_CLWB };
static enum cl_insn cl_insn;
static pthread_once_t cl_once = PTHREAD_ONCE_INIT;

static void cl_detect(void)
{
	__builtin_cpu_init();
	unsigned int a, b, c, d;
	__asm__ volatile("cpuid"
			 : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(7), "c"(0));
	if (b & (1u << 24))
		cl_insn = CL_CLWB;
	else if (b & (1u << 23))
		cl_insn = CL_CLFLUSHOPT;
	else
		cl_insn = CL_CLFLUSH;
}

const char *cl_insn_name(void)
{
	static const char *const names[] = {"clflush", "clflushopt", "clwb"};

	pthread_once(&cl_once, cl_detect);
	return names[cl_insn];
}

/* Write back the line at p (aligned); a recorder sees exactly the lines
 * this wrote back. */
static inline void cl_writeback_line(struct cl_recorder *rec, uintptr_t p)
{
	switch (cl_insn) {
	case CL_CLWB:
		__asm__ volatile(".byte 0x66, 0x0f, 0xae, 0x30" /* clwb */
				 ::"a"(p)
				 : "memory");
		break;
	case CL_CLFLUSHOPT:
		__asm__ volatile(".byte 0x66, 0x0f, 0xae, 0x38" /* clflushopt */
				 ::"a"(p)
				 : "memory");
		break;
	default:
		_mm_clflush((const void *)p);
		break;
	}
	if (rec)
		rec->line(rec, (const void *)p);
}

/* Stream one 64-byte line from s to d (aligned): on its way to memory,
 * durable at the next fence, as a written-back line is. */
static inline void cl_stream_line(struct cl_recorder *rec, uint8_t *d,
				  const uint8_t *s)
{
	__m128i a, b, c, e;

	if (s) {
		a = _mm_loadu_si128((const __m128i *)(const void *)(s + 0));
		b = _mm_loadu_si128((const __m128i *)(const void *)(s + 16));
		c = _mm_loadu_si128((const __m128i *)(const void *)(s + 32));
		e = _mm_loadu_si128((const __m128i *)(const void *)(s + 48));
	} else {
		a = b = c = e = _mm_setzero_si128();
	}
	_mm_stream_si128((__m128i *)(void *)(d + 0), a);
	_mm_stream_si128((__m128i *)(void *)(d + 16), b);
	_mm_stream_si128((__m128i *)(void *)(d + 32), c);
	_mm_stream_si128((__m128i *)(void *)(d + 48), e);
	if (rec)
		rec->line(rec, d);
}

void cl_flush_rec(struct cl_recorder *rec, const void *addr, size_t len)
{
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(CL - 1);
	uintptr_t end = (uintptr_t)addr + len;

	if (!len)
		return;
	pthread_once(&cl_once, cl_detect);
	for (; p < end; p += CL)
		cl_writeback_line(rec, p);
}

void cl_drain_rec(struct cl_recorder *rec)
{
	/* the fence orders every write-back and streaming store before it */
	_mm_sfence();
	if (rec)
		rec->fence(rec);
}

/* Copy (src) or zero (src NULL) with streaming stores for the aligned
 * middle, ordinary stores plus write-backs for the unaligned edges and
 * for short ranges. Durable after cl_drain. */
static void cl_store_nt(struct cl_recorder *rec, void *dst, const void *src,
			size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t head = (CL - ((uintptr_t)d & (CL - 1))) & (CL - 1);

	if (len < 256) {
		if (s)
			memcpy(d, s, len);
		else
			memset(d, 0, len);
		cl_flush_rec(rec, d, len);
		return;
	}
	if (head) {
		if (s)
			memcpy(d, s, head);
		else
			memset(d, 0, head);
		cl_flush_rec(rec, d, head);
		d += head;
		s = s ? s + head : NULL;
		len -= head;
	}
	for (; len >= CL; d += CL, len -= CL, s = s ? s + CL : NULL)
		cl_stream_line(rec, d, s);
	if (len) {
		if (s)
			memcpy(d, s, len);
		else
			memset(d, 0, len);
		cl_flush_rec(rec, d, len);
	}
}

void cl_memcpy_nt_rec(struct cl_recorder *rec, void *dst, const void *src,
		      size_t len)
{
	cl_store_nt(rec, dst, src, len);
}

void cl_memzero_nt_rec(struct cl_recorder *rec, void *dst, size_t len)
{
	cl_store_nt(rec, dst, NULL, len);
}

void cl_flush(const void *addr, size_t len)
{
	cl_flush_rec(NULL, addr, len);
}

void cl_drain(void)
{
	cl_drain_rec(NULL);
}

void cl_memcpy_nt(void *dst, const void *src, size_t len)
{
	cl_store_nt(NULL, dst, src, len);
}

void cl_memzero_nt(void *dst, size_t len)
{
	cl_store_nt(NULL, dst, NULL, len);
}
