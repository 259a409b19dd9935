/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c - the checksum of every udax metadata structure.
 *
 * crc32c (Castagnoli polynomial 0x82F63B78, reflected). Uses the SSE4.2
 * crc32 instruction when the CPU has it, chosen once, and a table
 * otherwise. Too small to be worth a library dependency.
 */
#include <pthread.h>
#include <string.h>

#include "format.h"

static uint32_t crc_table[256];
static int crc_have_sse42;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;
	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t udax_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
#if defined(__x86_64__)
	if (crc_have_sse42)
		return ~crc_hw(crc, p, len);
#endif
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t udax_block_crc(const void *blk, size_t size, size_t crc_off)
{
	static const uint8_t zero[4];
	const uint8_t *p = blk;
	uint32_t crc;

	crc = udax_crc32c(0, p, crc_off);
	crc = udax_crc32c(crc, zero, 4);
	return udax_crc32c(crc, p + crc_off + 4, size - crc_off - 4);
}
