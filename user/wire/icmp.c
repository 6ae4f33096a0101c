#include "wire/icmp.h"
#include "wire/checksum.h"
#include "sluice/stats.h"

int sl_icmp_check(const uint8_t *p, size_t len)
{
	if (len < SL_ICMP_HLEN)
		return SL_STAT_icmp_short;
	if (sl_csum(p, len) != 0)
		return SL_STAT_icmp_bad_csum;
	return 0;
}

void sl_icmp_emit(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, size_t body_len)
{
	p[0] = type;
	p[1] = code;
	sl_put16(p + 2, 0);
	sl_put32(p + 4, rest);
	sl_put16(p + 2, sl_csum(p, SL_ICMP_HLEN + body_len));
}
