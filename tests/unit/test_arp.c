/*
 * ARP for IPv4 over Ethernet (user/wire/arp.h, RFC 826): construct, deconstruct, round-trip,
 * malformed.
 *
 * Golden packets were captured from scapy 2.5 with /usr/bin/python3:
 *   from scapy.all import *; print(bytes(<expression>).hex())
 * The expression is given above each vector. Checks run on an exact-size heap copy so the
 * sanitizer build catches any read past the length the check was given.
 */
#include "unit/wireutil.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "sluice/stats.h"

/* Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:01')/ARP(op=1,hwsrc='02:00:00:00:00:01',
 *   psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_req[] = "ffffffffffff020000000001080600010800060400010200000000010a000001"
			    "0000000000000a000002";
/* Ether(dst='02:00:00:00:00:01',src='02:00:00:00:00:02')/ARP(op=2,hwsrc='02:00:00:00:00:02',
 *   psrc='10.0.0.2',hwdst='02:00:00:00:00:01',pdst='10.0.0.1') */
static const char g_rep[] = "020000000001020000000002080600010800060400020200000000020a000002"
			    "0200000000010a000001";
/* Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:01')/ARP(op=1,hwsrc='02:00:00:00:00:01',
 *   psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2')/Padding(load=b'\x00'*18) */
static const char g_req_padded[] =
    "ffffffffffff020000000001080600010800060400010200000000010a000001"
    "0000000000000a000002000000000000000000000000000000000000";
/* ARP(op=2,hwsrc='aa:bb:cc:dd:ee:ff',psrc='192.168.255.254',hwdst='01:23:45:67:89:ab',
 *   pdst='172.16.0.1') */
static const char g_rep_hi[] = "0001080006040002aabbccddeeffc0a8fffe0123456789abac100001";
/* ARP(op=1,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.1')
 * (gratuitous: sender and target protocol address equal) */
static const char g_garp[] = "00010800060400010200000000010a0000010000000000000a000001";

/* Malformed, also from scapy: */
/* ARP(op=1,hwlen=8,hwsrc=b'\x02\x00\x00\x00\x00\x01\x00\x00',psrc='10.0.0.1',hwdst=b'\x00'*8,
 *   pdst='10.0.0.2') */
static const char g_hlen8[] = "000108000804000102000000000100000a00000100000000000000000a000002";
/* ARP(op=1,hwtype=6,hwlen=6,hwsrc=b'\x02\x00\x00\x00\x00\x01',psrc='10.0.0.1',hwdst=b'\x00'*6,
 *   pdst='10.0.0.2') */
static const char g_htype6[] = "00060800060400010200000000010a0000010000000000000a000002";
/* ARP(op=1,ptype=0x86dd,hwsrc='02:00:00:00:00:01',psrc='fe80::1',pdst='fe80::2') */
static const char g_ptype6[] = "000186dd06100001020000000001fe800000000000000000000000000001000000"
			       "000000fe800000000000000000000000000002";
/* ARP(op=3,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_op3[] = "00010800060400030200000000010a0000010000000000000a000002";
/* ARP(op=0,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_op0[] = "00010800060400000200000000010a0000010000000000000a000002";
/* ARP(op=0xffff,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',
 *   pdst='10.0.0.2') */
static const char g_opffff[] = "000108000604ffff0200000000010a0000010000000000000a000002";

static const uint8_t mac0[6] = {0};
static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 0x02};
#define IP_10_0_0_1 0x0a000001u
#define IP_10_0_0_2 0x0a000002u

static int check_exact(const uint8_t *b, size_t len)
{
	return tu_check_exact(sl_arp_check, b, len);
}

/* --- construct ---------------------------------------------------------------------- */

static void test_arp_emit_request_golden(void **state)
{
	uint8_t g[128], out[64];
	size_t n = tu_hex(g_req, g, sizeof g);
	assert_int_equal(n, SL_ETH_HLEN + SL_ARP_LEN);
	memset(out, 0xee, sizeof out);
	sl_eth_emit(out, sl_mac_broadcast, mac1, SL_ETH_P_ARP);
	sl_arp_emit(out + SL_ETH_HLEN, SL_ARP_REQUEST, mac1, IP_10_0_0_1, mac0, IP_10_0_0_2);
	assert_memory_equal(out, g, n);
	assert_int_equal(out[n], 0xee); /* exactly 28 bytes written */
}

static void test_arp_emit_reply_golden(void **state)
{
	uint8_t g[128], out[64];
	size_t n = tu_hex(g_rep, g, sizeof g);
	sl_eth_emit(out, mac1, mac2, SL_ETH_P_ARP);
	sl_arp_emit(out + SL_ETH_HLEN, SL_ARP_REPLY, mac2, IP_10_0_0_2, mac1, IP_10_0_0_1);
	assert_memory_equal(out, g, n);

	uint8_t sha[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	uint8_t tha[6] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
	n = tu_hex(g_rep_hi, g, sizeof g);
	sl_arp_emit(out, SL_ARP_REPLY, sha, 0xc0a8fffe, tha, 0xac100001);
	assert_memory_equal(out, g, n);
}

/* --- deconstruct -------------------------------------------------------------------- */

static void test_arp_parse_request_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_req, g, sizeof g);
	const uint8_t *a = g + SL_ETH_HLEN;
	assert_int_equal(check_exact(a, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_arp_op(a), SL_ARP_REQUEST);
	assert_memory_equal(sl_arp_sha(a), mac1, 6);
	assert_int_equal(sl_arp_spa(a), IP_10_0_0_1);
	assert_memory_equal(sl_arp_tha(a), mac0, 6);
	assert_int_equal(sl_arp_tpa(a), IP_10_0_0_2);
}

static void test_arp_parse_reply_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_rep, g, sizeof g);
	const uint8_t *a = g + SL_ETH_HLEN;
	assert_int_equal(check_exact(a, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_arp_op(a), SL_ARP_REPLY);
	assert_memory_equal(sl_arp_sha(a), mac2, 6);
	assert_int_equal(sl_arp_spa(a), IP_10_0_0_2);
	assert_memory_equal(sl_arp_tha(a), mac1, 6);
	assert_int_equal(sl_arp_tpa(a), IP_10_0_0_1);

	n = tu_hex(g_rep_hi, g, sizeof g);
	uint8_t sha[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	uint8_t tha[6] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_arp_op(g), SL_ARP_REPLY);
	assert_memory_equal(sl_arp_sha(g), sha, 6);
	assert_int_equal(sl_arp_spa(g), 0xc0a8fffeu); /* high bit set: no sign trouble */
	assert_memory_equal(sl_arp_tha(g), tha, 6);
	assert_int_equal(sl_arp_tpa(g), 0xac100001u);
}

/* Minimum-size Ethernet frames carry 18 bytes of padding after the 28-byte ARP packet. */
static void test_arp_parse_padded(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_req_padded, g, sizeof g);
	assert_int_equal(n, 60);
	assert_int_equal(check_exact(g + SL_ETH_HLEN, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_arp_tpa(g + SL_ETH_HLEN), IP_10_0_0_2);
}

static void test_arp_parse_gratuitous(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_garp, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_arp_spa(g), sl_arp_tpa(g));
}

/* --- round-trip --------------------------------------------------------------------- */

static void test_arp_round_trip(void **state)
{
	const char *vec[] = {g_req + 2 * SL_ETH_HLEN, g_rep + 2 * SL_ETH_HLEN, g_rep_hi, g_garp};
	for (unsigned k = 0; k < sizeof(vec) / sizeof(vec[0]); k++) {
		uint8_t g[64], out[64];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(n, SL_ARP_LEN);
		assert_int_equal(sl_arp_check(g, n), 0);
		uint8_t sha[6], tha[6];
		memcpy(sha, sl_arp_sha(g), 6);
		memcpy(tha, sl_arp_tha(g), 6);
		memset(out, 0, sizeof out);
		sl_arp_emit(out, sl_arp_op(g), sha, sl_arp_spa(g), tha, sl_arp_tpa(g));
		assert_memory_equal(out, g, n);
		assert_int_equal(sl_arp_check(out, n), 0);
	}
}

/* --- malformed ---------------------------------------------------------------------- */

/* Every truncation of a valid request is arp_short. */
static void test_arp_truncated(void **state)
{
	uint8_t g[128];
	tu_hex(g_req, g, sizeof g);
	const uint8_t *a = g + SL_ETH_HLEN;
	for (size_t len = 0; len < SL_ARP_LEN; len++)
		assert_int_equal(check_exact(a, len), SL_STAT_arp_short);
	assert_int_equal(check_exact(a, SL_ARP_LEN), 0);
}

static void test_arp_hlen8_unsupported(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_hlen8, g, sizeof g);
	assert_int_equal(n, 32);
	assert_int_equal(check_exact(g, n), SL_STAT_arp_unsupported);
}

static void test_arp_htype_unsupported(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_htype6, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_arp_unsupported);
}

static void test_arp_ptype_unsupported(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_ptype6, g, sizeof g);
	assert_int_equal(n, 52);
	assert_int_equal(check_exact(g, n), SL_STAT_arp_unsupported);
}

/* Derived from the golden request: every hlen other than 6 and plen other than 4. */
static void test_arp_lengths_unsupported(void **state)
{
	uint8_t g[128];
	tu_hex(g_req, g, sizeof g);
	uint8_t *a = g + SL_ETH_HLEN;
	for (unsigned v = 0; v < 256; v++) {
		a[4] = (uint8_t)v;
		assert_int_equal(check_exact(a, SL_ARP_LEN), v == 6 ? 0 : SL_STAT_arp_unsupported);
	}
	a[4] = 6;
	for (unsigned v = 0; v < 256; v++) {
		a[5] = (uint8_t)v;
		assert_int_equal(check_exact(a, SL_ARP_LEN), v == 4 ? 0 : SL_STAT_arp_unsupported);
	}
}

static void test_arp_bad_op(void **state)
{
	const char *vec[] = {g_op3, g_op0, g_opffff};
	for (unsigned k = 0; k < 3; k++) {
		uint8_t g[64];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(check_exact(g, n), SL_STAT_arp_bad_op);
	}
	/* Truncated and bad op: short is reported (the op is not there to judge). */
	uint8_t g[64];
	tu_hex(g_op3, g, sizeof g);
	assert_int_equal(check_exact(g, SL_ARP_LEN - 1), SL_STAT_arp_short);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arp_emit_request_golden),
	    cmocka_unit_test(test_arp_emit_reply_golden),
	    cmocka_unit_test(test_arp_parse_request_golden),
	    cmocka_unit_test(test_arp_parse_reply_golden),
	    cmocka_unit_test(test_arp_parse_padded),
	    cmocka_unit_test(test_arp_parse_gratuitous),
	    cmocka_unit_test(test_arp_round_trip),
	    cmocka_unit_test(test_arp_truncated),
	    cmocka_unit_test(test_arp_hlen8_unsupported),
	    cmocka_unit_test(test_arp_htype_unsupported),
	    cmocka_unit_test(test_arp_ptype_unsupported),
	    cmocka_unit_test(test_arp_lengths_unsupported),
	    cmocka_unit_test(test_arp_bad_op),
	};
	return cmocka_run_group_tests_name("arp", tests, NULL, NULL);
}
