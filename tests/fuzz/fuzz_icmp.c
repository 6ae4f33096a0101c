/*
 * ICMPv4 (user/wire/icmp.[ch], RFC 792): sl_icmp_check's verdict against the oracle's
 * checksum, the accessors, the error classification of RFC 1122 §3.2.2, and emit producing
 * a message the oracle verifies.
 */
#include "fuzz/oracle.h"
#include "wire/icmp.h"
#include "sluice/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	if (len > 65535)
		return 0;
	int want = len < 8 ? SL_STAT_icmp_short : ora_sum(0, p, len) != 0xffff ? SL_STAT_icmp_bad_csum : 0;
	int v = sl_icmp_check(p, len);
	if (v != want)
		ORA_FAIL("sl_icmp_check %d, expected %d (len %zu)", v, want, len);
	if (len < 8)
		return 0;
	uint8_t t = p[0];
	bool err = t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
	if (sl_icmp_type(p) != t || sl_icmp_code(p) != p[1] || sl_icmp_csum(p) != ora_g16(p + 2) ||
	    sl_icmp_echo_id(p) != ora_g16(p + 4) || sl_icmp_echo_seq(p) != ora_g16(p + 6) ||
	    sl_icmp_is_error(t) != err)
		ORA_FAIL("ICMP accessors");
	/* Emit over the input's body (in place, as the stack builds echo replies). */
	static uint8_t b[65536];
	memcpy(b, p, len);
	sl_icmp_emit(b, p[1], p[0], ora_g32(p + 4) ^ 0x5a5a5a5a, len - 8);
	if (b[0] != p[1] || b[1] != p[0] || ora_g32(b + 4) != (ora_g32(p + 4) ^ 0x5a5a5a5a) ||
	    memcmp(b + 8, p + 8, len - 8))
		ORA_FAIL("sl_icmp_emit fields");
	if (ora_sum(0, b, len) != 0xffff)
		ORA_FAIL("sl_icmp_emit checksum wrong (len %zu)", len);
	return 0;
}
