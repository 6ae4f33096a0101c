/*
 * RFC 1071 checksum; RFC 1624 incremental update.
 *
 * The sum is computed in the host's byte order (RFC 1071 §2(B): the one's-complement sum is
 * independent of byte order, so summing native words and swapping the folded 16-bit result
 * once gives the big-endian sum). Eight bytes per add, carries taken along by add-with-carry
 * (§2(C), deferred carries) and added back once; one swap at the end. The accumulator the
 * callers hold stays in big-endian value terms (what sl_csum_pseudo4 returns, host-order
 * field values): each call adds its folded, swapped 16-bit sum to it.
 */
#include "wire/checksum.h"
#include "wire/csum_avx2.h"
#include <string.h>

/*
 * Add the 8-byte words of an n-byte block (n a multiple of 8, at most 64) to s with
 * end-around carry. On x86-64 one add-with-carry chain (one instruction per 8 bytes: the
 * compiler does not keep the carry flag across a loop); elsewhere 32-bit halves into 64 bits,
 * which cannot overflow for the few blocks summed between folds.
 */
#if defined(__x86_64__)
#define ADC_BLOCK(s, p, n)                                                                      \
	__asm__("addq 0(%[q]), %[a]\n\t"                                                          \
		".if " #n " > 8\n\tadcq 8(%[q]), %[a]\n\t.endif\n\t"                              \
		".if " #n " > 16\n\tadcq 16(%[q]), %[a]\n\tadcq 24(%[q]), %[a]\n\t.endif\n\t"     \
		".if " #n " > 32\n\tadcq 32(%[q]), %[a]\n\tadcq 40(%[q]), %[a]\n\t"               \
		"adcq 48(%[q]), %[a]\n\tadcq 56(%[q]), %[a]\n\t.endif\n\t"                         \
		"adcq $0, %[a]"                                                                 \
		: [a] "+r"(s)                                                                   \
		: [q] "r"(p), "m"(*(const uint8_t(*)[n])(p))                                    \
		: "cc")
#else
#define ADC_BLOCK(s, p, n)                                                                      \
	do {                                                                                    \
		uint64_t t_ = 0;                                                                \
		for (int i_ = 0; i_ < (n); i_ += 4) {                                           \
			uint32_t w_;                                                            \
			memcpy(&w_, (p) + i_, 4);                                               \
			t_ += w_;                                                               \
		}                                                                               \
		(s) += t_;                                                                      \
		(s) += (s) < t_;                                                                \
	} while (0)
#endif

/* Native-order sum of len bytes added to s, folded to 16 bits (native order: an odd last byte
 * is the first byte of a zero-padded 16-bit word, RFC 1071 §4.1, on a little-endian host its
 * low byte). */
static inline uint16_t native_sum16(const uint8_t *p, size_t len, uint64_t s)
{
	while (len >= 64) {
		ADC_BLOCK(s, p, 64);
		p += 64;
		len -= 64;
	}
	if (len >= 32) {
		ADC_BLOCK(s, p, 32);
		p += 32;
		len -= 32;
	}
	if (len >= 16) {
		ADC_BLOCK(s, p, 16);
		p += 16;
		len -= 16;
	}
	if (len >= 8) {
		ADC_BLOCK(s, p, 8);
		p += 8;
		len -= 8;
	}
	uint64_t t = 0;
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		t += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		t += w;
		p += 2;
		len -= 2;
	}
	if (len) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		t += p[0];
#else
		t += (uint32_t)p[0] << 8;
#endif
	}
	s += t;
	s += s < t; /* end-around carry */
	/* Fold 64 → 16 with end-around carries. */
	uint32_t r = (uint32_t)s;
	uint32_t h = (uint32_t)(s >> 32);
	r += h;
	r += r < h;
	r = (r & 0xffff) + (r >> 16);
	r = (r & 0xffff) + (r >> 16);
	return (uint16_t)r;
}

static inline uint16_t to_be_value(uint16_t native)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16(native);
#else
	return native;
#endif
}

uint64_t sl_csum_add(uint64_t acc, const void *data, size_t len)
{
	return acc + to_be_value(native_sum16(data, len, 0));
}

uint64_t sl_csum_copy(uint64_t acc, void *dst, const void *src, size_t len)
{
	/* The source is read once: copied by the C library (the widest moves the machine has),
	 * then summed from the copy, which is in the L1 cache by then. Summing while copying
	 * word by word was measured: more instructions than this for every length above 64. */
	memcpy(dst, src, len);
	if (len >= SL_CSUM_LONG_MIN) /* a full segment: the vector sum where the CPU has one */
		return sl_csum_add_wide(acc, dst, len);
	return acc + to_be_value(native_sum16(dst, len, 0));
}

uint16_t sl_csum(const void *data, size_t len)
{
	return to_be_value((uint16_t)~native_sum16(data, len, 0));
}

uint64_t sl_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len)
{
	uint64_t acc = sl_csum_add(0, src, 16);
	acc = sl_csum_add(acc, dst, 16);
	return acc + proto + (len >> 16) + (len & 0xffff);
}

uint16_t sl_csum_update16(uint16_t csum, uint16_t old, uint16_t new_)
{
	/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') */
	uint32_t s = (uint16_t)~csum + (uint16_t)~old + new_;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint16_t sl_csum_update32(uint16_t csum, uint32_t old, uint32_t new_)
{
	csum = sl_csum_update16(csum, old >> 16, new_ >> 16);
	return sl_csum_update16(csum, old & 0xffff, new_ & 0xffff);
}

bool sl_csum_finish(uint8_t *p, size_t len, size_t start, size_t off)
{
	if (start >= len || off + 2 > len - start)
		return false;
	uint16_t c = (uint16_t)~sl_csum_fold(sl_csum_add(0, p + start, len - start));
	c = c ? c : 0xffff; /* RFC 768; for TCP the two are the same value */
	p[start + off] = (uint8_t)(c >> 8);
	p[start + off + 1] = (uint8_t)c;
	return true;
}
