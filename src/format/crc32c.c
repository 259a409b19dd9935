/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c - the checksum of every udax metadata structure.
 *
 * crc32c (Castagnoli polynomial 0x82F63B78, reflected). Uses the SSE4.2
 * crc32 instruction when the CPU has it, chosen once, and a table
 * otherwise. Too small to be worth a library dependency.
 */
#include <string.h>

#include "format.h"

static uint32_t crc_table[256];
static int crc_have_sse42;
/* x^(8 * (4096 - 64 * (i + 1))) mod P: shifts the crc of cache line i of
 * a block to the end of the block (udax_block_crc_update). */
static uint32_t line_shift[UDAX_BLOCK_SIZE / UDAX_CACHELINE];

#define CRC32C_POLY 0x82F63B78u

/* a * b modulo the crc polynomial, in crc32c's reflected bit order. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;

	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

/* x^(8n) modulo the polynomial. */
static uint32_t x8nmodp(uint64_t n)
{
	uint32_t p = 1u << 31;	/* x^0 */
	uint32_t sq = 1u << 23; /* x^8 */

	while (n) {
		if (n & 1)
			p = multmodp(sq, p);
		sq = multmodp(sq, sq);
		n >>= 1;
	}
	return p;
}

/* Tables and CPU detection, once, before main: no per-call check. */
__attribute__((constructor)) static void crc_init(void)
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
	for (unsigned i = 0; i < UDAX_BLOCK_SIZE / UDAX_CACHELINE; i++)
		line_shift[i] =
			x8nmodp(UDAX_BLOCK_SIZE - UDAX_CACHELINE * (i + 1));
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

	crc = ~crc;
#if defined(__x86_64__)
	if (crc_have_sse42)
		return ~crc_hw(crc, p, len);
#endif
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The crc register after `len` bytes from `reg`, without the inversions
 * of udax_crc32c: linear in the data when reg is 0. */
static uint32_t crc_raw(uint32_t reg, const unsigned char *p, size_t len)
{
#if defined(__x86_64__)
	if (crc_have_sse42)
		return crc_hw(reg, p, len);
#endif
	while (len--)
		reg = crc_table[(reg ^ *p++) & 0xff] ^ (reg >> 8);
	return reg;
}

/*
 * The crc of a 4 KiB block after some of its cache lines changed, from the
 * crc of the old contents: for messages of equal length,
 * crc(new) = crc(old) ^ L(old ^ new), L linear, and L of a message that is
 * zero but for one line is that line's L shifted to the end of the block.
 * Costs a few instructions per changed line instead of a pass over 4 KiB.
 */
uint32_t udax_block_crc_update(uint32_t old_crc, const void *old_blk,
			       const void *new_blk, size_t crc_off,
			       uint64_t mask)
{
	const uint64_t *o = old_blk, *n = new_blk;
	uint32_t crc = old_crc;

	for (; mask; mask &= mask - 1) {
		unsigned l = (unsigned)__builtin_ctzll(mask);
		uint64_t x[UDAX_CACHELINE / 8];
		int diff = 0;
		for (unsigned w = 0; w < UDAX_CACHELINE / 8; w++) {
			x[w] = o[l * 8 + w] ^ n[l * 8 + w];
			diff |= x[w] != 0;
		}
		if (!diff)
			continue;
		if (crc_off / UDAX_CACHELINE == l) {
			/* the crc field counts as zero in both */
			unsigned char *xb = (unsigned char *)x;
			memset(xb + crc_off % UDAX_CACHELINE, 0, 4);
		}
		crc ^= multmodp(
			line_shift[l],
			crc_raw(0, (const unsigned char *)x, UDAX_CACHELINE));
	}
	return crc;
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
