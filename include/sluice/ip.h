/*
 * Addresses and the IP layer (API.md: IP). An address is 16 bytes; IPv4 is stored
 * IPv4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so IPv6 fits without new types.
 */
#ifndef SLUICE_IP_H
#define SLUICE_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint8_t b[16];
} sl_ip;

static inline sl_ip sl_ip_v4(uint32_t host_order)
{
	sl_ip a;
	uint64_t hi = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t lo = 0xffff0000ull | (uint64_t)__builtin_bswap32(host_order) << 32;
#else
	uint64_t lo = 0x0000ffff00000000ull | host_order;
#endif
	__builtin_memcpy(a.b, &hi, 8);
	__builtin_memcpy(a.b + 8, &lo, 8);
	return a;
}

static inline bool sl_ip_is_v4(const sl_ip *a)
{
	/* The ::ffff:0:0/96 prefix, compared as one 8-byte and one 4-byte word. */
	uint64_t hi;
	uint32_t mid;
	__builtin_memcpy(&hi, a->b, 8);
	__builtin_memcpy(&mid, a->b + 8, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return hi == 0 && mid == 0xffff0000u;
#else
	return hi == 0 && mid == 0x0000ffffu;
#endif
}

static inline bool sl_ip_eq(const sl_ip *a, const sl_ip *b)
{
	uint64_t a0, a1, b0, b1;
	__builtin_memcpy(&a0, a->b, 8);
	__builtin_memcpy(&a1, a->b + 8, 8);
	__builtin_memcpy(&b0, b->b, 8);
	__builtin_memcpy(&b1, b->b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

static inline uint32_t sl_ip_to_v4(const sl_ip *a)
{
	uint32_t w;
	__builtin_memcpy(&w, a->b + 12, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(w);
#else
	return w;
#endif
}

static inline bool sl_ip_is_zero(const sl_ip *a)
{
	uint64_t a0, a1;
	__builtin_memcpy(&a0, a->b, 8);
	__builtin_memcpy(&a1, a->b + 8, 8);
	return (a0 | a1) == 0;
}

/* Parse "a.b.c.d" (or IPv6 text) into *out; -EINVAL if malformed. */
int sl_ip_parse(const char *s, sl_ip *out);
/* Text form; IPv4-mapped addresses print as dotted quads. buf ≥ 46 bytes. */
const char *sl_ip_str(const sl_ip *a, char *buf, size_t len);

struct sl_stack;

/* Options for sl_ip_write (API.md: src?, ttl?, fragment?). */
struct sl_ip_opts {
	const sl_ip *src;   /* NULL: source selection */
	uint8_t ttl;	    /* 0: the stack's default */
	bool dont_fragment; /* set DF; an oversize packet then fails with -EMSGSIZE */
	uint8_t tos;	    /* the IPv4 TOS byte / IPv6 traffic class, DSCP and ECN bits */
};

/* Fill callback: write hdr_size bytes of L4 header at buf; return bytes written or -errno. */
typedef int (*sl_ip_fill_fn)(void *arg, uint8_t *buf, size_t hdr_size);

/* Send one IP datagram: an L4 header of up to hdr_size (≤ 128) bytes written by fill, then
 * payload. Larger than the MTU: fragmented, or -EMSGSIZE with dont_fragment. -ENETUNREACH
 * without a route. */
int sl_ip_write(struct sl_stack *st, const sl_ip *dst, uint8_t proto, const struct sl_ip_opts *o,
		size_t hdr_size, sl_ip_fill_fn fill, void *arg, const void *payload, size_t len);

/* Source address the stack would use for dst; -ENETUNREACH without a route. */
int sl_ip_src(struct sl_stack *st, const sl_ip *dst, sl_ip *src);
/* Payload bytes that fit in one packet to dst (MTU minus IP header). */
int sl_ip_mtu(struct sl_stack *st, const sl_ip *dst);
/* Partial checksum of the pseudo-header (RFC 768) for an L4 checksum. */
uint64_t sl_ip_pseudoheader(const sl_ip *src, const sl_ip *dst, uint8_t proto, uint16_t len);
/* The stack's addresses; returns how many (≤ max). */
int sl_ip_get_ips(struct sl_stack *st, sl_ip *out, int max);
/* Add / remove an address (prefix_len: on-link subnet). Adding an IPv4 address sends a
 * gratuitous ARP; an IPv6 address starts Duplicate Address Detection and is usable once it
 * passed (sl_ip_addr_state). -EEXIST, -ENOSPC, -ENOENT, -EINVAL (multicast, loopback, …). */
int sl_ip_add_addr(struct sl_stack *st, const sl_ip *a, uint8_t prefix_len);
int sl_ip_del_addr(struct sl_stack *st, const sl_ip *a);
/* Set (or, with the unspecified address of a family, 0.0.0.0 or ::, remove) the default
 * gateway of gw's family. -EINVAL for multicast, loopback or broadcast. */
int sl_ip_set_gateway(struct sl_stack *st, const sl_ip *gw);
/* Routes besides the on-link prefixes and the default gateway: prefix/plen (of either family;
 * plen counts bits of the IPv4 address for IPv4, 0..32) through gw (the unspecified address of
 * the family, 0.0.0.0 or ::, for a route on the link: the destination is its own next hop).
 * The longest prefix wins among the routes and the addresses' on-link prefixes; an on-link
 * prefix wins a tie; plen 0 is the default route (sl_ip_set_gateway). Adding a route to a
 * prefix that has one replaces it. One table of SL_MAX_ROUTES for both families; the default
 * routes are kept apart and take no slot (plen 0 with an unspecified gw removes the default).
 * -EINVAL (families mixed, plen too long, a multicast, loopback or broadcast gateway),
 * -ENOSPC beyond SL_MAX_ROUTES; del: -ENOENT, or -EINVAL for a plen too long. */
#define SL_MAX_ROUTES 32
int sl_ip_add_route(struct sl_stack *st, const sl_ip *prefix, uint8_t plen, const sl_ip *gw);
int sl_ip_del_route(struct sl_stack *st, const sl_ip *prefix, uint8_t plen);
/* An address's state: 0 usable, -EINPROGRESS while IPv6 Duplicate Address Detection runs
 * (RFC 4862 §5.4: about a second after it was added), -EADDRINUSE when another node holds
 * it (the stack does not use it), -ENOENT when it is not ours. */
int sl_ip_addr_state(struct sl_stack *st, const sl_ip *a);

#endif
