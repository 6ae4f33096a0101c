/*
 * The Internet checksum of long blocks (RFC 1071) with the widest adds the machine has: AVX2
 * when the CPU has it (checked once, at run time), else sl_csum_add. Same result as
 * sl_csum_add for every input.
 */
#ifndef SL_WIRE_CSUM_AVX2_H
#define SL_WIRE_CSUM_AVX2_H

#include <stddef.h>
#include <stdint.h>
#include "wire/checksum.h"

/* Below this many bytes sl_csum_add is as cheap (the vector set-up and the reduction). */
#define SL_CSUM_LONG_MIN 128

/* The long case of sl_csum_add_long (any length works: below the minimum, or without AVX2,
 * it is sl_csum_add). */
uint64_t sl_csum_add_wide(uint64_t acc, const void *data, size_t len);

/* sl_csum_add(acc, data, len), by AVX2 for len ≥ SL_CSUM_LONG_MIN where the CPU has it. */
static inline uint64_t sl_csum_add_long(uint64_t acc, const void *data, size_t len)
{
	return len >= SL_CSUM_LONG_MIN ? sl_csum_add_wide(acc, data, len)
				       : sl_csum_add(acc, data, len);
}

#endif
