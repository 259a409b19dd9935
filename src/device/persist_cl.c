/* SPDX-License-Identifier: MIT */
/*
 * persist_cl.c - cache-line persistence for memory devices.
 *
 * libpmem2 reports page granularity (msync) for any file that is not on a
 * DAX mount, a memfd included, and offers no way to ask for the cache-line
 * functions short of an environment variable. A memory device must run the
 * same cache-line path persistent memory would, so these few primitives
 * pick clwb, clflushopt or clflush once from the CPU, as libpmem2 does.
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

void cl_flush(const void *addr, size_t len)
{
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(CL - 1);
	uintptr_t end = (uintptr_t)addr + len;

	if (!len)
		return;
	pthread_once(&cl_once, cl_detect);
	switch (cl_insn) {
	case CL_CLWB:
		for (; p < end; p += CL)
			__asm__ volatile(
				".byte 0x66, 0x0f, 0xae, 0x30" /* clwb */
				::"a"(p)
				: "memory");
		break;
	case CL_CLFLUSHOPT:
		for (; p < end; p += CL)
			__asm__ volatile(
				".byte 0x66, 0x0f, 0xae, 0x38" /* clflushopt */
				::"a"(p)
				: "memory");
		break;
	default:
		for (; p < end; p += CL)
			_mm_clflush((const void *)p);
		break;
	}
}

void cl_drain(void)
{
	_mm_sfence();
}

/* Non-temporal copy: streaming stores for the aligned middle, ordinary
 * stores plus flushes for the unaligned edges. Durable after cl_drain. */
void cl_memcpy_nt(void *dst, const void *src, size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t head = (CL - ((uintptr_t)d & (CL - 1))) & (CL - 1);

	if (len < 256) {
		memcpy(d, s, len);
		cl_flush(d, len);
		return;
	}
	if (head) {
		memcpy(d, s, head);
		cl_flush(d, head);
		d += head;
		s += head;
		len -= head;
	}
	while (len >= CL) {
		__m128i a, b, c, e;
		a = _mm_loadu_si128((const __m128i *)(const void *)(s + 0));
		b = _mm_loadu_si128((const __m128i *)(const void *)(s + 16));
		c = _mm_loadu_si128((const __m128i *)(const void *)(s + 32));
		e = _mm_loadu_si128((const __m128i *)(const void *)(s + 48));
		_mm_stream_si128((__m128i *)(void *)(d + 0), a);
		_mm_stream_si128((__m128i *)(void *)(d + 16), b);
		_mm_stream_si128((__m128i *)(void *)(d + 32), c);
		_mm_stream_si128((__m128i *)(void *)(d + 48), e);
		d += CL;
		s += CL;
		len -= CL;
	}
	if (len) {
		memcpy(d, s, len);
		cl_flush(d, len);
	}
}

void cl_memzero_nt(void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t head = (CL - ((uintptr_t)d & (CL - 1))) & (CL - 1);
	__m128i z = _mm_setzero_si128();

	if (len < 256) {
		memset(d, 0, len);
		cl_flush(d, len);
		return;
	}
	if (head) {
		memset(d, 0, head);
		cl_flush(d, head);
		d += head;
		len -= head;
	}
	for (; len >= CL; d += CL, len -= CL) {
		_mm_stream_si128((__m128i *)(void *)(d + 0), z);
		_mm_stream_si128((__m128i *)(void *)(d + 16), z);
		_mm_stream_si128((__m128i *)(void *)(d + 32), z);
		_mm_stream_si128((__m128i *)(void *)(d + 48), z);
	}
	if (len) {
		memset(d, 0, len);
		cl_flush(d, len);
	}
}
