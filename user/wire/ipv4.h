/* IPv4 header (RFC 791), validation per RFC 1122 §3.2.1. Addresses are host order. */
#ifndef SL_WIRE_IPV4_H
#define SL_WIRE_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire/bytes.h"
#include "wire/checksum.h"

#define SL_IPV4_HLEN 20
#define SL_IPV4_DF 0x4000
#define SL_IPV4_MF 0x2000
#define SL_IPV4_OFFMASK 0x1fff
#define SL_IPPROTO_ICMP 1
#define SL_IPPROTO_TCP 6
#define SL_IPPROTO_UDP 17

/* 0 when p holds a valid IPv4 header (version, IHL, total length vs len, checksum);
 * else the SL_STAT_ reason. */
int sl_ipv4_check_slow(const uint8_t *p, size_t len);
static inline int sl_ipv4_check(const uint8_t *p, size_t len)
{
	/* The common case inline: version 4, no options, length and checksum right. Anything
	 * else takes the full check, which names the reason. */
	if (len >= 20 && p[0] == 0x45) {
		unsigned tot = (unsigned)p[2] << 8 | p[3];
		if (tot >= 20 && tot <= len && sl_csum_ipv4_hdr20(p) == 0)
			return 0;
	}
	return sl_ipv4_check_slow(p, len);
}

static inline unsigned sl_ipv4_hlen(const uint8_t *p)
{
	return (p[0] & 0x0f) * 4u;
}
static inline uint8_t sl_ipv4_tos(const uint8_t *p)
{
	return p[1];
}
static inline uint16_t sl_ipv4_tot_len(const uint8_t *p)
{
	return sl_get16(p + 2);
}
static inline uint16_t sl_ipv4_id(const uint8_t *p)
{
	return sl_get16(p + 4);
}
static inline uint16_t sl_ipv4_frag(const uint8_t *p)
{
	return sl_get16(p + 6);
}
static inline uint8_t sl_ipv4_ttl(const uint8_t *p)
{
	return p[8];
}
static inline uint8_t sl_ipv4_proto(const uint8_t *p)
{
	return p[9];
}
static inline uint16_t sl_ipv4_csum(const uint8_t *p)
{
	return sl_get16(p + 10);
}
static inline uint32_t sl_ipv4_src(const uint8_t *p)
{
	return sl_get32(p + 12);
}
static inline uint32_t sl_ipv4_dst(const uint8_t *p)
{
	return sl_get32(p + 16);
}
static inline bool sl_ipv4_is_fragment(const uint8_t *p)
{
	return (sl_ipv4_frag(p) & (SL_IPV4_MF | SL_IPV4_OFFMASK)) != 0;
}
/* Fragment offset in bytes. */
static inline unsigned sl_ipv4_frag_off(const uint8_t *p)
{
	return (sl_ipv4_frag(p) & SL_IPV4_OFFMASK) * 8u;
}

static inline bool sl_ipv4_is_multicast(uint32_t a)
{
	return (a >> 28) == 0xe;
}
/* Limited broadcast, or any address in 240/4 (reserved, never a valid source). */
static inline bool sl_ipv4_is_bad_src(uint32_t a)
{
	return a == 0 || (a >> 28) >= 0xe || (a >> 24) == 127;
}

struct sl_ipv4_hdr {
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag; /* flags + offset in 8-byte units, as on the wire */
	uint8_t ttl;
	uint8_t proto;
	uint32_t src;
	uint32_t dst;
};

/* Write a 20-byte header (no options) with its checksum. */
void sl_ipv4_emit(uint8_t *p, const struct sl_ipv4_hdr *h);

#endif
