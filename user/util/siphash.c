#include "util/siphash.h"
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static inline uint64_t le64(const uint8_t *p)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
#endif
}

/* SipHash-c-d: c rounds per 8-byte block, d in the finalization (constants folded by the
 * compiler in each of the two callers). */
static inline __attribute__((always_inline)) uint64_t siphash_cd(const uint8_t key[16],
								 const void *data, size_t len,
								 int c, int d)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t m = le64(in + i);
		v3 ^= m;
		for (int r = 0; r < c; r++)
			SIPROUND;
		v0 ^= m;
	}
	const uint8_t *t = in + i;
	switch (len & 7) { /* the last 0..7 bytes, little-endian, under the length byte */
	case 7:
		b |= (uint64_t)t[6] << 48;
		/* fall through */
	case 6:
		b |= (uint64_t)t[5] << 40;
		/* fall through */
	case 5:
		b |= (uint64_t)t[4] << 32;
		/* fall through */
	case 4:
		b |= (uint64_t)t[3] << 24;
		/* fall through */
	case 3:
		b |= (uint64_t)t[2] << 16;
		/* fall through */
	case 2:
		b |= (uint64_t)t[1] << 8;
		/* fall through */
	case 1:
		b |= t[0];
	}
	v3 ^= b;
	for (int r = 0; r < c; r++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < d; r++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t sl_siphash(const uint8_t key[16], const void *data, size_t len)
{
	return siphash_cd(key, data, len, 2, 4);
}

uint64_t sl_siphash13(const uint8_t key[16], const void *data, size_t len)
{
	return siphash_cd(key, data, len, 1, 3);
}
