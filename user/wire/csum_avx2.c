/*
 * The Internet checksum (RFC 1071) of long blocks with AVX2, chosen at run time: the same
 * value as sl_csum_add (wire/checksum.c), fewer instructions from about 128 bytes on.
 *
 * RFC 1071 §2(B): the one's-complement sum does not depend on byte order, so the block is
 * summed as native (little-endian) 16-bit words and the folded sum swapped once, as
 * sl_csum_add does. 32 bytes at a time, 16 words: each word w has its top bit flipped (w ^
 * 0x8000 read as signed is w - 32768), VPMADDWD against ones adds neighbouring pairs into
 * eight signed 32-bit lanes, and the lanes accumulate. Undone at the end: + 32768 per word.
 * Three instructions per 32 bytes (XOR with the load folded in, MADD, ADD) against four
 * add-with-carry ones of the 64-bit loop. Nothing overflows for a block below 64 KiB: a
 * lane takes at most 512 pair sums of magnitude ≤ 65536 (2^25), all 32 lanes together less
 * than 2^31; longer blocks go to sl_csum_add.
 */
#include "wire/csum_avx2.h"
#include "wire/checksum.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static uint64_t native_sum_avx2(const uint8_t *p, size_t len)
{
	const __m256i flip = _mm256_set1_epi16((short)0x8000);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	size_t n = len;
#define STEP(a, off)                                                                              \
	a = _mm256_add_epi32(                                                                     \
	    a, _mm256_madd_epi16(                                                               \
		   _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + (off))), flip), ones))
	while (n >= 256) {
		STEP(a0, 0);
		STEP(a1, 32);
		STEP(a2, 64);
		STEP(a3, 96);
		STEP(a0, 128);
		STEP(a1, 160);
		STEP(a2, 192);
		STEP(a3, 224);
		p += 256;
		n -= 256;
	}
	if (n >= 128) {
		STEP(a0, 0);
		STEP(a1, 32);
		STEP(a2, 64);
		STEP(a3, 96);
		p += 128;
		n -= 128;
	}
	if (n >= 64) {
		STEP(a0, 0);
		STEP(a1, 32);
		p += 64;
		n -= 64;
	}
	if (n >= 32) {
		STEP(a2, 0);
		p += 32;
		n -= 32;
	}
#undef STEP
	__m256i a = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3));
	__m128i h = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
	h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
	/* Σ(w - 32768) over the vector part, then the words' offsets back. */
	int64_t vs = (int64_t)_mm_cvtsi128_si32(h) + (int64_t)((len - n) / 2) * 32768;
	uint64_t s = (uint64_t)vs;
	/* The last n < 32 bytes: 32-bit halves of 8-byte words, then 4, 2, 1 (an odd last byte
	 * is the low byte of a zero-padded word on this little-endian host, RFC 1071 §4.1). */
	for (int i = 0; i < 3 && n >= 8; i++) { /* n < 32: at most three */
		uint64_t w;
		memcpy(&w, p, 8);
		s += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		n -= 8;
	}
	if (n >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		s += w;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
		p += 2;
		n -= 2;
	}
	if (n)
		s += p[0];
	return s;
}

static int have_avx2 = -1;

uint64_t sl_csum_add_wide(uint64_t acc, const void *data, size_t len)
{
	if (__builtin_expect(have_avx2 < 0, 0)) {
		__builtin_cpu_init();
		have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
	}
	if (!have_avx2 || len < SL_CSUM_LONG_MIN || len > 65535)
		return sl_csum_add(acc, data, len);
	uint64_t s = native_sum_avx2(data, len);
	/* Fold 64 → 16 with end-around carries (as native_sum16), then the one swap. */
	uint32_t r = (uint32_t)s, h = (uint32_t)(s >> 32);
	r += h;
	r += r < h;
	r = (r & 0xffff) + (r >> 16);
	r = (r & 0xffff) + (r >> 16);
	return acc + __builtin_bswap16((uint16_t)r);
}

#else

uint64_t sl_csum_add_wide(uint64_t acc, const void *data, size_t len)
{
	return sl_csum_add(acc, data, len);
}

#endif
