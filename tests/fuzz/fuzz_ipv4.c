/*
 * IPv4 header (user/wire/ipv4.[ch], RFC 791, RFC 1122 §3.2.1): sl_ipv4_check's verdict and
 * reason against the oracle's reading (version, IHL, total length against the buffer,
 * header checksum), every accessor against the bytes, and emit reproducing an option-less
 * header.
 */
#include "fuzz/oracle.h"
#include "wire/ipv4.h"
#include "sluice/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	int want = 0;
	size_t hl = len ? (size_t)(p[0] & 15) * 4 : 0;
	if (len < 20)
		want = SL_STAT_ipv4_short;
	else if (p[0] >> 4 != 4)
		want = SL_STAT_ipv4_bad_version;
	else if (hl < 20 || hl > len)
		want = SL_STAT_ipv4_bad_ihl;
	else if (ora_g16(p + 2) < hl || ora_g16(p + 2) > len)
		want = SL_STAT_ipv4_bad_len;
	else if (ora_sum(0, p, hl) != 0xffff)
		want = SL_STAT_ipv4_bad_csum;
	int v = sl_ipv4_check(p, len);
	if (v != want)
		ORA_FAIL("sl_ipv4_check %d, expected %d (len %zu)", v, want, len);
	if (len < 20)
		return 0;
	uint16_t fr = ora_g16(p + 6);
	if (sl_ipv4_hlen(p) != hl || sl_ipv4_tos(p) != p[1] || sl_ipv4_tot_len(p) != ora_g16(p + 2) ||
	    sl_ipv4_id(p) != ora_g16(p + 4) || sl_ipv4_frag(p) != fr || sl_ipv4_ttl(p) != p[8] ||
	    sl_ipv4_proto(p) != p[9] || sl_ipv4_csum(p) != ora_g16(p + 10) ||
	    sl_ipv4_src(p) != ora_g32(p + 12) || sl_ipv4_dst(p) != ora_g32(p + 16) ||
	    sl_ipv4_is_fragment(p) != ((fr & 0x2000) || (fr & 0x1fff)) ||
	    sl_ipv4_frag_off(p) != (fr & 0x1fffu) * 8)
		ORA_FAIL("IPv4 accessors");
	uint32_t a = ora_g32(p + 12);
	if (sl_ipv4_is_multicast(a) != (a >= 0xe0000000u && a <= 0xefffffffu) ||
	    sl_ipv4_is_bad_src(a) != (a == 0 || a >= 0xe0000000u || (a >> 24) == 127))
		ORA_FAIL("IPv4 address classes of %08x", a);
	if (v == 0 && hl == 20) {
		struct sl_ipv4_hdr h = {.tos = p[1], .tot_len = ora_g16(p + 2), .id = ora_g16(p + 4),
					.frag = fr, .ttl = p[8], .proto = p[9],
					.src = ora_g32(p + 12), .dst = ora_g32(p + 16)};
		uint8_t b[20];
		sl_ipv4_emit(b, &h);
		if (ora_sum(0, b, 20) != 0xffff)
			ORA_FAIL("sl_ipv4_emit checksum wrong");
		/* The same header, up to the two encodings of a zero checksum. */
		uint8_t q[20];
		memcpy(q, p, 20);
		if (ora_g16(q + 10) != ora_g16(b + 10) && (ora_g16(q + 10) ^ ora_g16(b + 10)) == 0xffff)
			memcpy(q + 10, b + 10, 2);
		if (memcmp(b, q, 20))
			ORA_FAIL("sl_ipv4_emit does not reproduce the header");
	}
	return 0;
}
