/*
 * Byte-level helpers for tests that build or read packets by hand, independently of the
 * wire code under test. Header-only, like testutil.h.
 */
#ifndef SL_WIREUTIL_H
#define SL_WIREUTIL_H

#include "unit/testutil.h"

/* Big-endian (network order) fields. */
static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8, p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16), put16(p + 2, (uint16_t)v);
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Ones' complement sum, folded (RFC 1071). */
static inline uint16_t csum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* An exact-size heap copy of the first len bytes of b (free it): a check given it, with its
 * length, cannot read past that length without the sanitizer build noticing. */
static inline uint8_t *tu_dup(const uint8_t *b, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	if (len)
		memcpy(p, b, len);
	return p;
}

/* check on an exact-size heap copy of the first len bytes of b. */
static inline int tu_check_exact(int (*check)(const uint8_t *p, size_t len), const uint8_t *b,
				 size_t len)
{
	uint8_t *p = tu_dup(b, len);
	int r = check(p, len);
	free(p);
	return r;
}

#endif
