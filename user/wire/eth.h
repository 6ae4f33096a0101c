/* Ethernet II framing (IEEE 802.3 with EtherType, RFC 894 for IPv4). */
#ifndef SL_WIRE_ETH_H
#define SL_WIRE_ETH_H

#include <stddef.h>
#include <stdint.h>
#include "wire/bytes.h"

#define SL_ETH_HLEN 14
#define SL_ETH_P_IPV4 0x0800
#define SL_ETH_P_ARP 0x0806
#define SL_ETH_P_VLAN 0x8100
#define SL_ETH_P_QINQ 0x88a8
#define SL_ETH_P_IPV6 0x86dd

/* 0 when p[0..len) holds an Ethernet header; else the SL_STAT_ index of the reason. */
int sl_eth_check(const uint8_t *p, size_t len);

static inline const uint8_t *sl_eth_dst(const uint8_t *p)
{
	return p;
}
static inline const uint8_t *sl_eth_src(const uint8_t *p)
{
	return p + 6;
}
static inline uint16_t sl_eth_type(const uint8_t *p)
{
	return sl_get16(p + 12);
}

void sl_eth_emit(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type);

#endif
