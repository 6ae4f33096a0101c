/*
 * SipHash (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012), keyed hashes.
 *
 * sl_siphash is SipHash-2-4, the pseudorandom function: the F() of RFC 6528 ISNs, SYN cookies,
 * timestamp offsets, ephemeral-port offsets. sl_siphash13 is SipHash-1-3 (one compression and
 * three finalization rounds): for hash-table indexes only, where the key must keep a peer from
 * choosing inputs that share a bucket (hash flooding) but the output is never shown to anyone.
 * That is the use the authors allow for it and what Linux's hsiphash (on 64-bit) and Rust's
 * HashMap use; about half the rounds for a 12-byte IPv4 tuple.
 */
#ifndef SL_UTIL_SIPHASH_H
#define SL_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t sl_siphash(const uint8_t key[16], const void *data, size_t len);
uint64_t sl_siphash13(const uint8_t key[16], const void *data, size_t len);

#endif
