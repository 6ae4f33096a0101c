/*
 * References for the black-box UDP tests (test_udp_path.c, test_udp_reply.c), written from the
 * RFCs and sharing nothing with the stack's wire or checksum code: the RFC 1071 sum, the
 * RFC 768 / RFC 8200 §8.1 pseudo-header, the UDP and ICMPv6 checksums, a seeded payload
 * generator and address helpers.
 */
#ifndef SL_TEST_UDPREF_H
#define SL_TEST_UDPREF_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "sluice/ip.h"
#include "unit/wireutil.h" /* put16, put32 */

/* RFC 1071 §1: 16-bit big-endian words added with end-around carry, an odd last byte padded
 * with zero; continues from start. Chaining is exact when every piece but the last has an
 * even length. */
static inline uint16_t ref_sum(const uint8_t *p, size_t n, uint16_t start)
{
	uint32_t s = start;
	for (size_t i = 0; i < n; i += 2) {
		s += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

/* The pseudo-header sum: RFC 768 (IPv4: source, destination, zero, protocol, UDP length) or
 * RFC 8200 §8.1 (IPv6: source, destination, 32-bit length, three zero bytes, next header). */
static inline uint16_t ref_pseudo(const sl_ip *src, const sl_ip *dst, uint8_t proto, uint32_t len)
{
	uint8_t ph[40];
	if (sl_ip_is_v4(dst)) {
		memcpy(ph, src->b + 12, 4);
		memcpy(ph + 4, dst->b + 12, 4);
		ph[8] = 0;
		ph[9] = proto;
		put16(ph + 10, (uint16_t)len);
		return ref_sum(ph, 12, 0);
	}
	memcpy(ph, src->b, 16);
	memcpy(ph + 16, dst->b, 16);
	put32(ph + 32, len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return ref_sum(ph, 40, 0);
}

/* The checksum field a UDP datagram (udp[0..len), its own field ignored) must carry from src
 * to dst: the complement of the sum over pseudo-header and datagram, 0 sent as 0xffff. */
static inline uint16_t ref_udp_csum(const sl_ip *src, const sl_ip *dst, const uint8_t *udp, size_t len)
{
	uint16_t s = ref_pseudo(src, dst, 17, (uint32_t)len);
	s = ref_sum(udp, 6, s);
	s = ref_sum(udp + 8, len - 8, s);
	uint16_t c = (uint16_t)~s;
	return c ? c : 0xffff;
}

/* The ICMPv6 checksum verifies (sums to 0xffff with the pseudo-header). */
static inline bool icmp6_ok(const sl_ip *src, const sl_ip *dst, const uint8_t *m, size_t len)
{
	return ref_sum(m, len, ref_pseudo(src, dst, 58, (uint32_t)len)) == 0xffff;
}

/* xorshift64*: the payloads' generator, seeded by each test (rs). */
static uint64_t rs;
static inline uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}

static inline void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static inline sl_ip ip4(uint32_t a)
{
	return sl_ip_v4(a);
}

static inline bool ip_eq(const sl_ip *a, const sl_ip *b)
{
	return !memcmp(a->b, b->b, 16);
}

static inline const char *ipstr(const sl_ip *a)
{
	static char buf[4][64];
	static int k;
	k = (k + 1) % 4;
	return sl_ip_str(a, buf[k], sizeof buf[k]);
}

#define assert_ip_equal(a, b)                                                                      \
	do {                                                                                       \
		const sl_ip *a_ = (a), *b_ = (b);                                                  \
		if (!ip_eq(a_, b_)) {                                                              \
			print_message("address %s, want %s\n", ipstr(a_), ipstr(b_));              \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

#endif
