/*
 * IPv6 header and addresses (user/wire/ipv6.h, RFC 8200 §3, RFC 4291): every accessor
 * against the bytes, emit reproducing a header (traffic class and flow label 0), and the
 * address classes, scopes, solicited-node group, multicast MAC and common prefix length
 * against definitions written here from the RFCs.
 */
#include "fuzz/oracle.h"
#include "wire/ipv6.h"

static unsigned ref_prefix(const uint8_t *a, const uint8_t *b)
{
	unsigned n = 0;
	while (n < 128 && ((a[n / 8] >> (7 - n % 8)) & 1) == ((b[n / 8] >> (7 - n % 8)) & 1))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	if (len < 56)
		return 0;
	sl_ip s = sl_ipv6_src(p), d = sl_ipv6_dst(p);
	if (sl_ipv6_version(p) != p[0] >> 4 || sl_ipv6_plen(p) != ora_g16(p + 4) ||
	    sl_ipv6_next(p) != p[6] || sl_ipv6_hlim(p) != p[7] || memcmp(s.b, p + 8, 16) ||
	    memcmp(d.b, p + 24, 16))
		ORA_FAIL("IPv6 accessors");
	uint8_t b[40];
	/* The input's traffic class (bits 4-11 of the first word, RFC 8200 §3), flow label 0. */
	uint8_t tc = (uint8_t)((p[0] & 0x0f) << 4 | p[1] >> 4);
	sl_ipv6_emit(b, sl_ipv6_plen(p), sl_ipv6_next(p), sl_ipv6_hlim(p), tc, &s, &d);
	if (b[0] != (0x60 | tc >> 4) || b[1] != (uint8_t)(tc << 4) || b[2] || b[3] ||
	    memcmp(b + 4, p + 4, 36))
		ORA_FAIL("sl_ipv6_emit does not reproduce the header");
	/* Address classes of a third address taken from the input's tail. */
	sl_ip a;
	memcpy(a.b, p + 40, 16);
	static const uint8_t lo[16] = {[15] = 1};
	static const uint8_t an[16] = {0xff, 0x02, [15] = 1};
	bool mc = a.b[0] == 0xff, ll = a.b[0] == 0xfe && (a.b[1] >> 6) == 2;
	bool lb = !memcmp(a.b, lo, 16);
	unsigned scope = mc ? (a.b[1] & 15u) : (ll || lb) ? 2u : 14u;
	if (sl_ip6_is_multicast(&a) != mc || sl_ip6_is_linklocal(&a) != ll ||
	    sl_ip6_is_loopback(&a) != lb || sl_ip6_scope(&a) != scope ||
	    sl_ip6_is_all_nodes(&a) != !memcmp(a.b, an, 16))
		ORA_FAIL("IPv6 address classes");
	sl_ip sn = sl_ip6_solicited(&a);
	static const uint8_t snp[13] = {0xff, 0x02, [11] = 1, [12] = 0xff};
	if (memcmp(sn.b, snp, 13) || memcmp(sn.b + 13, a.b + 13, 3))
		ORA_FAIL("solicited-node group (RFC 4291 §2.7.1)");
	uint8_t mac[6];
	sl_ip6_mcast_mac(&a, mac);
	if (mac[0] != 0x33 || mac[1] != 0x33 || memcmp(mac + 2, a.b + 12, 4))
		ORA_FAIL("multicast MAC (RFC 2464 §7)");
	sl_ip an6 = sl_ip6_all_nodes();
	if (memcmp(an6.b, an, 16))
		ORA_FAIL("all-nodes group");
	if (sl_ip6_common_prefix(&a, &s) != ref_prefix(a.b, s.b) ||
	    sl_ip6_common_prefix(&s, &s) != 128)
		ORA_FAIL("common prefix length %u, reference %u", sl_ip6_common_prefix(&a, &s),
			 ref_prefix(a.b, s.b));
	return 0;
}
