#include "wire/arp.h"
#include "sluice/stats.h"
#include <string.h>

int sl_arp_check(const uint8_t *p, size_t len)
{
	if (len < 8)
		return SL_STAT_arp_short;
	/* RFC 826: htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4 — anything else is not ours. */
	if (sl_get16(p) != 1 || sl_get16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4)
		return SL_STAT_arp_unsupported;
	if (len < SL_ARP_LEN)
		return SL_STAT_arp_short;
	if (sl_arp_op(p) != SL_ARP_REQUEST && sl_arp_op(p) != SL_ARP_REPLY)
		return SL_STAT_arp_bad_op;
	return 0;
}

void sl_arp_emit(uint8_t *p, uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
		 uint32_t tpa)
{
	sl_put16(p, 1);
	sl_put16(p + 2, 0x0800);
	p[4] = 6;
	p[5] = 4;
	sl_put16(p + 6, op);
	memcpy(p + 8, sha, 6);
	sl_put32(p + 14, spa);
	memcpy(p + 18, tha, 6);
	sl_put32(p + 24, tpa);
}
