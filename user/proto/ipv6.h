/* IPv6 state beside the stack: path MTUs learned from Packet Too Big (RFC 8201). */
#ifndef SL_PROTO_IPV6_H
#define SL_PROTO_IPV6_H

#include <stdint.h>
#include "sluice/ip.h"

#define SL_PMTU_SLOTS 64
#define SL_PMTU_AGE_NS (600ULL * 1000000000ULL) /* RFC 8201 §5.3: try a larger MTU after 10 min */

struct sl_pmtu_entry {
	sl_ip dst;
	uint32_t mtu; /* 0: slot free */
	uint64_t at;
};

/* Bounded: a full table forgets its oldest entry. */
struct sl_pmtu {
	struct sl_pmtu_entry e[SL_PMTU_SLOTS];
	unsigned used; /* entries with mtu != 0: none (the usual case) costs no search */
};

struct sl_stack;
/* The MTU towards dst: the link MTU unless a Packet Too Big lowered it (never below 1280). */
uint32_t sl_pmtu_get(struct sl_stack *st, const sl_ip *dst);
void sl_pmtu_update(struct sl_stack *st, const sl_ip *dst, uint32_t mtu);

#endif
