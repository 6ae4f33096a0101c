#include "wire/ipv4.h"
#include "wire/checksum.h"
#include "sluice/stats.h"

int sl_ipv4_check_slow(const uint8_t *p, size_t len)
{
	if (len < SL_IPV4_HLEN)
		return SL_STAT_ipv4_short;
	if ((p[0] >> 4) != 4)
		return SL_STAT_ipv4_bad_version;
	unsigned hlen = sl_ipv4_hlen(p);
	if (hlen < SL_IPV4_HLEN || hlen > len)
		return SL_STAT_ipv4_bad_ihl;
	unsigned tot = sl_ipv4_tot_len(p);
	/* Frames may carry Ethernet padding after the datagram, so tot <= len, not ==. */
	if (tot < hlen || tot > len)
		return SL_STAT_ipv4_bad_len;
	if ((hlen == SL_IPV4_HLEN ? sl_csum_ipv4_hdr20(p) : sl_csum(p, hlen)) != 0)
		return SL_STAT_ipv4_bad_csum;
	return 0;
}

void sl_ipv4_emit(uint8_t *p, const struct sl_ipv4_hdr *h)
{
	p[0] = 0x45;
	p[1] = h->tos;
	sl_put16(p + 2, h->tot_len);
	sl_put16(p + 4, h->id);
	sl_put16(p + 6, h->frag);
	p[8] = h->ttl;
	p[9] = h->proto;
	sl_put16(p + 10, 0);
	sl_put32(p + 12, h->src);
	sl_put32(p + 16, h->dst);
	sl_put16(p + 10, sl_csum(p, SL_IPV4_HLEN));
}
