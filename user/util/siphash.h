/* SipHash-2-4 (Aumasson & Bernstein), a keyed hash: the F() of RFC 6528 ISNs. */
#ifndef SL_UTIL_SIPHASH_H
#define SL_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sl_siphash(const uint8_t key[16], const void *data, size_t len);

#endif
