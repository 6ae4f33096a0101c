/*
 * Ethernet II (user/wire/eth.[ch]): sl_eth_check's verdict against the rule in the oracle
 * (14 bytes, a unicast source), the accessors against reading the bytes, and emit
 * reproducing the header it was given.
 */
#include "fuzz/oracle.h"
#include "wire/eth.h"
#include "sluice/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	int v = sl_eth_check(p, len);
	int want = len < 14 ? SL_STAT_eth_short : (p[6] & 1) ? SL_STAT_eth_bad_src : 0;
	if (v != want)
		ORA_FAIL("sl_eth_check %d, expected %d (len %zu)", v, want, len);
	if (v)
		return 0;
	if (sl_eth_dst(p) != p || sl_eth_src(p) != p + 6 || sl_eth_type(p) != ora_g16(p + 12))
		ORA_FAIL("Ethernet accessors");
	uint8_t b[14];
	sl_eth_emit(b, sl_eth_dst(p), sl_eth_src(p), sl_eth_type(p));
	if (memcmp(b, p, 14))
		ORA_FAIL("sl_eth_emit does not reproduce the header");
	return 0;
}
