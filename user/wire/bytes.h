/*
 * Big-endian field access by offset. Packet bytes are never cast to structs:
 * a view is validated once by a *_check() and then read through these.
 */
#ifndef SL_WIRE_BYTES_H
#define SL_WIRE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t sl_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t sl_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void sl_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void sl_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
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
