#include "wire/eth.h"
#include "sluice/stats.h"
#include <string.h>

int sl_eth_check(const uint8_t *p, size_t len)
{
	if (len < SL_ETH_HLEN)
		return SL_STAT_eth_short;
	if (sl_mac_is_multicast(sl_eth_src(p)))
		return SL_STAT_eth_bad_src;
	return 0;
}

void sl_eth_emit(uint8_t *p, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	sl_put16(p + 12, type);
}
