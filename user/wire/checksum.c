/* RFC 1071 checksum with a 64-bit accumulator; RFC 1624 incremental update. */
#include "wire/checksum.h"
#include <string.h>

uint64_t sl_csum_add(uint64_t acc, const void *data, size_t len)
{
	const uint8_t *p = data;
	/*
	 * Sum 32-bit big-endian words into 64 bits: carries collect in the high half and
	 * are folded once at the end (RFC 1071 §2(B), deferred carries). memcpy keeps
	 * unaligned loads legal; the compiler turns it into one load.
	 */
	while (len >= 16) {
		uint32_t w[4];
		memcpy(w, p, 16);
		acc += (uint64_t)__builtin_bswap32(w[0]) + __builtin_bswap32(w[1]) +
		       __builtin_bswap32(w[2]) + __builtin_bswap32(w[3]);
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		acc += __builtin_bswap32(w);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		acc += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		acc += (uint32_t)p[0] << 8; /* odd byte padded with zero (RFC 1071 §4.1) */
	return acc;
}

uint16_t sl_csum_fold(uint64_t acc)
{
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

uint16_t sl_csum(const void *data, size_t len)
{
	return (uint16_t)~sl_csum_fold(sl_csum_add(0, data, len));
}

uint64_t sl_csum_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (uint64_t)src + dst + proto + len;
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
