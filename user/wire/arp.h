/* ARP for IPv4 over Ethernet (RFC 826). Only htype 1 / ptype 0x0800 / 6+4 lengths are valid. */
#ifndef SL_WIRE_ARP_H
#define SL_WIRE_ARP_H

#include <stddef.h>
#include <stdint.h>
#include "wire/bytes.h"

#define SL_ARP_LEN 28
#define SL_ARP_REQUEST 1
#define SL_ARP_REPLY 2

/* 0 when p holds an Ethernet/IPv4 ARP request or reply; else the SL_STAT_ reason. */
int sl_arp_check(const uint8_t *p, size_t len);

static inline uint16_t sl_arp_op(const uint8_t *p)
{
	return sl_get16(p + 6);
}
static inline const uint8_t *sl_arp_sha(const uint8_t *p)
{
	return p + 8;
}
static inline uint32_t sl_arp_spa(const uint8_t *p)
{
	return sl_get32(p + 14);
}
static inline const uint8_t *sl_arp_tha(const uint8_t *p)
{
	return p + 18;
}
static inline uint32_t sl_arp_tpa(const uint8_t *p)
{
	return sl_get32(p + 24);
}

/* Write a 28-byte Ethernet/IPv4 ARP packet; addresses host order. */
void sl_arp_emit(uint8_t *p, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
		 uint32_t tpa);

#endif
