/* IPv6 header (RFC 8200 §3), extension headers (§4) and address classes (RFC 4291). */
#ifndef SL_WIRE_IPV6_H
#define SL_WIRE_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "sluice/ip.h"
#include "wire/bytes.h"

#define SL_IPV6_HLEN 40
#define SL_IPV6_MIN_MTU 1280 /* RFC 8200 §5 */
#define SL_IPPROTO_HOPOPTS 0
#define SL_IPPROTO_ROUTING 43
#define SL_IPPROTO_FRAGMENT 44
#define SL_IPPROTO_ICMPV6 58
#define SL_IPPROTO_NONE 59
#define SL_IPPROTO_DSTOPTS 60
#define SL_IPV6_FRAG_HLEN 8

static inline uint8_t sl_ipv6_version(const uint8_t *p)
{
	return p[0] >> 4;
}
static inline uint16_t sl_ipv6_plen(const uint8_t *p)
{
	return sl_get16(p + 4);
}
static inline uint8_t sl_ipv6_next(const uint8_t *p)
{
	return p[6];
}
/* The traffic class: bits 4-11 of the first word (RFC 8200 §3). */
static inline uint8_t sl_ipv6_tclass(const uint8_t *p)
{
	return (uint8_t)((p[0] & 0x0f) << 4 | p[1] >> 4);
}
static inline uint8_t sl_ipv6_hlim(const uint8_t *p)
{
	return p[7];
}
static inline sl_ip sl_ipv6_src(const uint8_t *p)
{
	sl_ip a;
	memcpy(a.b, p + 8, 16);
	return a;
}
static inline sl_ip sl_ipv6_dst(const uint8_t *p)
{
	sl_ip a;
	memcpy(a.b, p + 24, 16);
	return a;
}

/* Write a fixed header: traffic class tclass (RFC 8200 §7), flow label 0. */
static inline void sl_ipv6_emit(uint8_t *p, uint16_t plen, uint8_t next, uint8_t hlim,
				uint8_t tclass, const sl_ip *src, const sl_ip *dst)
{
	sl_put32(p, 6u << 28 | (uint32_t)tclass << 20);
	sl_put16(p + 4, plen);
	p[6] = next;
	p[7] = hlim;
	memcpy(p + 8, src->b, 16);
	memcpy(p + 24, dst->b, 16);
}

/* --- address classes (RFC 4291 §2.4) --- */
static inline bool sl_ip6_is_multicast(const sl_ip *a)
{
	return a->b[0] == 0xff;
}
static inline bool sl_ip6_is_linklocal(const sl_ip *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}
static inline bool sl_ip6_is_loopback(const sl_ip *a)
{
	static const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	return !memcmp(a->b, lo, 16);
}
/* Multicast scope (RFC 4291 §2.7) or the unicast scope: 2 link-local, 14 global. */
static inline unsigned sl_ip6_scope(const sl_ip *a)
{
	if (sl_ip6_is_multicast(a))
		return a->b[1] & 0x0f;
	if (sl_ip6_is_linklocal(a) || sl_ip6_is_loopback(a))
		return 2;
	return 14;
}
/* ff02::1:ffXX:XXXX, the solicited-node group of a (RFC 4291 §2.7.1). */
static inline sl_ip sl_ip6_solicited(const sl_ip *a)
{
	sl_ip m = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, a->b[13], a->b[14], a->b[15]}};
	return m;
}
static inline bool sl_ip6_is_all_nodes(const sl_ip *a)
{
	static const uint8_t an[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	return !memcmp(a->b, an, 16);
}
static inline sl_ip sl_ip6_all_nodes(void)
{
	sl_ip m = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
	return m;
}
/* 33:33 and the group's low 32 bits (RFC 2464 §7). */
static inline void sl_ip6_mcast_mac(const sl_ip *a, uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, a->b + 12, 4);
}
/* Leading bits a and b have in common (RFC 6724 §2.2 CommonPrefixLen, up to 128). */
static inline unsigned sl_ip6_common_prefix(const sl_ip *a, const sl_ip *b)
{
	unsigned n = 0;
	for (int i = 0; i < 16; i++) {
		uint8_t x = a->b[i] ^ b->b[i];
		if (!x) {
			n += 8;
			continue;
		}
		while (!(x & 0x80)) {
			x <<= 1;
			n++;
		}
		break;
	}
	return n;
}

#endif
