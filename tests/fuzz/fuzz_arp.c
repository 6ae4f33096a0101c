/*
 * ARP (user/wire/arp.[ch], RFC 826): sl_arp_check's verdict and reason against the
 * oracle's reading, the accessors against the bytes, and emit reproducing a valid packet.
 */
#include "fuzz/oracle.h"
#include "wire/arp.h"
#include "sluice/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	int want;
	if (len < 8)
		want = SL_STAT_arp_short;
	else if (ora_g16(p) != 1 || ora_g16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4)
		want = SL_STAT_arp_unsupported;
	else if (len < 28)
		want = SL_STAT_arp_short;
	else if (ora_g16(p + 6) != 1 && ora_g16(p + 6) != 2)
		want = SL_STAT_arp_bad_op;
	else
		want = 0;
	int v = sl_arp_check(p, len);
	if (v != want)
		ORA_FAIL("sl_arp_check %d, expected %d (len %zu)", v, want, len);
	if (v)
		return 0;
	if (sl_arp_op(p) != ora_g16(p + 6) || sl_arp_sha(p) != p + 8 ||
	    sl_arp_spa(p) != ora_g32(p + 14) || sl_arp_tha(p) != p + 18 ||
	    sl_arp_tpa(p) != ora_g32(p + 24))
		ORA_FAIL("ARP accessors");
	uint8_t b[28];
	sl_arp_emit(b, sl_arp_op(p), sl_arp_sha(p), sl_arp_spa(p), sl_arp_tha(p), sl_arp_tpa(p));
	if (memcmp(b, p, 28))
		ORA_FAIL("sl_arp_emit does not reproduce the packet");
	return 0;
}
