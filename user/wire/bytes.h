/*
 * Big-endian field access by offset. Packet bytes are never cast to structs:
 * a view is validated once by a *_check() and then read through these.
 */
#ifndef SL_WIRE_BYTES_H
#define SL_WIRE_BYTES_H

#include <stdint.h>
#include <string.h>

/* One load or store and a byte swap each (memcpy keeps unaligned access legal; the compiler
 * makes it a single move). */
static inline uint16_t sl_get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static inline uint32_t sl_get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline void sl_put16(uint8_t *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	memcpy(p, &v, 2);
}

static inline void sl_put32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, 4);
}

static inline int sl_mac_is_multicast(const uint8_t *m)
{
	return m[0] & 1; /* includes broadcast */
}

static inline int sl_mac_is_broadcast(const uint8_t *m)
{
	return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) == 0xff;
}

static inline int sl_mac_is_zero(const uint8_t *m)
{
	return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
}

static const uint8_t sl_mac_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#endif
