/*
 * The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental update).
 */
#ifndef SL_WIRE_CHECKSUM_H
#define SL_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* One's-complement sum of len bytes added to a 64-bit accumulator (not folded). */
uint64_t sl_csum_add(uint64_t acc, const void *data, size_t len);
/* Copy len bytes from src to dst and add their sum to acc (one pass over the data). */
uint64_t sl_csum_copy(uint64_t acc, void *dst, const void *src, size_t len);
/* Fold an accumulator to 16 bits (not complemented). */
static inline uint16_t sl_csum_fold(uint64_t acc)
{
	uint32_t lo = (uint32_t)acc, hi = (uint32_t)(acc >> 32);
	lo += hi;
	lo += lo < hi; /* end-around carry */
	lo = (lo & 0xffff) + (lo >> 16);
	lo = (lo & 0xffff) + (lo >> 16);
	return (uint16_t)lo;
}
/* Verify a 20-byte IPv4 header (no options): 0 when its checksum is right, else non-zero
 * (the complemented sum in host order: only its being zero means anything). Five native
 * 4-byte words, one fold (RFC 1071 §2(B)). */
static inline uint16_t sl_csum_ipv4_hdr20(const uint8_t *p)
{
	uint32_t w[5];
	__builtin_memcpy(w, p, 20);
	uint64_t s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	return (uint16_t)~sl_csum_fold(s); /* ~0 in native order is ~0 in any order */
}
/* Checksum field value for data: ~fold(sum). Verifying data that holds its checksum gives 0. */
uint16_t sl_csum(const void *data, size_t len);
/* IPv4 pseudo-header sum (RFC 768, RFC 9293 §3.1) for L4 checksums; addresses host order. */
static inline uint64_t sl_csum_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (uint64_t)src + dst + proto + len;
}
/* IPv6 pseudo-header sum (RFC 8200 §8.1): 16-byte addresses in network order, the
 * upper-layer length as 32 bits. */
uint64_t sl_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len);
/* RFC 1624 eqn. 3: new checksum after a 16-bit field changes from old to new. */
uint16_t sl_csum_update16(uint16_t csum, uint16_t old, uint16_t new_);
uint16_t sl_csum_update32(uint16_t csum, uint32_t old, uint32_t new_);

/* Finish a checksum left to the device (struct sl_frame csum_start/csum_off, Linux's
 * CHECKSUM_PARTIAL): the sum of p[start, len), whose field at start + off holds the
 * pseudo-header's sum, is put in that field, a zero as all ones. False (nothing written) when
 * the field is not inside p[0, len). */
bool sl_csum_finish(uint8_t *p, size_t len, size_t start, size_t off);

#endif
