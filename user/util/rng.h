/* Per-stack pseudo-random numbers (xoshiro256** seeded by splitmix64). Not for secrets. */
#ifndef SL_UTIL_RNG_H
#define SL_UTIL_RNG_H

#include <stdint.h>

struct sl_rng {
	uint64_t s[4];
};

static inline uint64_t sl_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void sl_rng_seed(struct sl_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = sl_splitmix64(&seed);
}

static inline uint64_t sl_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t sl_rng_next(struct sl_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = sl_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = sl_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) for n > 0 (bias below 2^-32 for the ranges we use). */
static inline uint64_t sl_rng_below(struct sl_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)sl_rng_next(r) * n) >> 64);
}

#endif
