/*
 * Ethernet II framing (user/wire/eth.h): construct, deconstruct, round-trip, malformed.
 *
 * Golden frames were captured from scapy 2.5 with /usr/bin/python3:
 *   from scapy.all import *; print(bytes(<expression>).hex())
 * The expression is given above each vector. Checks run on an exact-size heap copy so the
 * sanitizer build catches any read past the length the check was given.
 */
#include "unit/wireutil.h"
#include "wire/eth.h"
#include "sluice/stats.h"

/* Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/IP(src='10.0.0.1',dst='10.0.0.2',id=1)
 *   /ICMP(id=0x1234,seq=1)/b'abcdefgh' */
static const char g_ipv4[] = "02000000000202000000000108004500002400010000400166d60a0000010a000002"
			     "08005435123400016162636465666768";
/* Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:01')/ARP(op=1,hwsrc='02:00:00:00:00:01',
 *   psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_arp_bcast[] = "ffffffffffff020000000001080600010800060400010200000000010a000001"
				  "0000000000000a000002";
/* Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/Dot1Q(vlan=5)/IP(src='10.0.0.1',
 *   dst='10.0.0.2',id=13)/ICMP() */
static const char g_vlan[] = "0200000000020200000000018100000508004500001c000d0000400166d20a000001"
			     "0a0000020800f7ff00000000";
/* Ether(dst='01:00:5e:00:00:01',src='02:00:00:00:00:01')/IP(src='10.0.0.1',dst='224.0.0.1',id=14)
 *   /ICMP() */
static const char g_mcast_dst[] =
    "01005e00000102000000000108004500001c000e0000400190d10a000001e0000001"
    "0800f7ff00000000";
/* Ether(dst='33:33:00:00:00:01',src='02:00:00:00:00:01',type=0x86dd) */
static const char g_ipv6_type[] = "33330000000102000000000186dd";
/* Ether(dst='02:00:00:00:00:02',src='01:00:5e:00:00:01',type=0x0800) */
static const char g_bad_src_mcast[] = "02000000000201005e0000010800";
/* Ether(dst='02:00:00:00:00:02',src='ff:ff:ff:ff:ff:ff',type=0x0806) */
static const char g_bad_src_bcast[] = "020000000002ffffffffffff0806";

static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 0x02};

/* sl_eth_check on an exact-size heap copy of the first len bytes of b. */
static int check_exact(const uint8_t *b, size_t len)
{
	return tu_check_exact(sl_eth_check, b, len);
}

/* --- construct ---------------------------------------------------------------------- */

static void test_eth_emit_golden(void **state)
{
	uint8_t g[128], out[SL_ETH_HLEN + 2];
	tu_hex(g_ipv4, g, sizeof g);
	memset(out, 0xee, sizeof out);
	sl_eth_emit(out, mac2, mac1, SL_ETH_P_IPV4);
	assert_memory_equal(out, g, SL_ETH_HLEN);
	/* Writes exactly 14 bytes. */
	assert_int_equal(out[14], 0xee);
	assert_int_equal(out[15], 0xee);

	tu_hex(g_arp_bcast, g, sizeof g);
	sl_eth_emit(out, sl_mac_broadcast, mac1, SL_ETH_P_ARP);
	assert_memory_equal(out, g, SL_ETH_HLEN);

	uint8_t m33[6] = {0x33, 0x33, 0, 0, 0, 1};
	tu_hex(g_ipv6_type, g, sizeof g);
	sl_eth_emit(out, m33, mac1, SL_ETH_P_IPV6);
	assert_memory_equal(out, g, SL_ETH_HLEN);
}

/* --- deconstruct -------------------------------------------------------------------- */

static void test_eth_parse_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_ipv4, g, sizeof g);
	assert_int_equal(n, 50);
	assert_int_equal(check_exact(g, n), 0);
	assert_memory_equal(sl_eth_dst(g), mac2, 6);
	assert_memory_equal(sl_eth_src(g), mac1, 6);
	assert_int_equal(sl_eth_type(g), SL_ETH_P_IPV4);

	n = tu_hex(g_arp_bcast, g, sizeof g);
	assert_int_equal(n, 42);
	assert_int_equal(check_exact(g, n), 0);
	assert_true(sl_mac_is_broadcast(sl_eth_dst(g)));
	assert_true(sl_mac_is_multicast(sl_eth_dst(g)));
	assert_memory_equal(sl_eth_src(g), mac1, 6);
	assert_int_equal(sl_eth_type(g), SL_ETH_P_ARP);

	n = tu_hex(g_ipv6_type, g, sizeof g);
	assert_int_equal(n, SL_ETH_HLEN);
	assert_int_equal(check_exact(g, n), 0); /* header alone is a valid Ethernet header */
	assert_int_equal(sl_eth_type(g), SL_ETH_P_IPV6);
}

/* Multicast destinations are fine at this layer (the stack decides what it listens to). */
static void test_eth_parse_multicast_dst(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_mcast_dst, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_true(sl_mac_is_multicast(sl_eth_dst(g)));
	assert_false(sl_mac_is_broadcast(sl_eth_dst(g)));
	assert_int_equal(sl_eth_type(g), SL_ETH_P_IPV4);
}

/* A VLAN tag parses as an Ethernet header with type 0x8100; the stack counts eth_vlan. */
static void test_eth_parse_vlan(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_vlan, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_eth_type(g), SL_ETH_P_VLAN);
	assert_int_equal(sl_get16(g + 14) & 0x0fff, 5);
	assert_int_equal(sl_get16(g + 16), SL_ETH_P_IPV4);
}

/* --- round-trip --------------------------------------------------------------------- */

static void test_eth_round_trip(void **state)
{
	const char *vec[] = {g_ipv4, g_arp_bcast, g_vlan, g_mcast_dst, g_ipv6_type};
	for (unsigned k = 0; k < sizeof(vec) / sizeof(vec[0]); k++) {
		uint8_t g[128], out[128];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(sl_eth_check(g, n), 0);
		memcpy(out, g, n);
		memset(out, 0, SL_ETH_HLEN);
		uint8_t dst[6], src[6];
		memcpy(dst, sl_eth_dst(g), 6);
		memcpy(src, sl_eth_src(g), 6);
		sl_eth_emit(out, dst, src, sl_eth_type(g));
		assert_memory_equal(out, g, n);
	}
}

/* --- malformed ---------------------------------------------------------------------- */

static void test_eth_short(void **state)
{
	uint8_t g[128];
	tu_hex(g_ipv4, g, sizeof g);
	for (size_t len = 0; len < SL_ETH_HLEN; len++)
		assert_int_equal(check_exact(g, len), SL_STAT_eth_short);
	assert_int_equal(check_exact(g, SL_ETH_HLEN), 0);
}

static void test_eth_bad_src_multicast(void **state)
{
	uint8_t g[32];
	size_t n = tu_hex(g_bad_src_mcast, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_eth_bad_src);
}

static void test_eth_bad_src_broadcast(void **state)
{
	uint8_t g[32];
	size_t n = tu_hex(g_bad_src_bcast, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_eth_bad_src);
}

/* Only the group bit (I/G, bit 0 of the first octet) makes a source bad; the
 * locally-administered bit does not. Short wins over a bad source. */
static void test_eth_src_group_bit(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_ipv4, g, sizeof g);
	for (unsigned v = 0; v < 256; v++) {
		g[6] = (uint8_t)v;
		assert_int_equal(check_exact(g, n), (v & 1) ? SL_STAT_eth_bad_src : 0);
	}
	g[6] = 0x01;
	assert_int_equal(check_exact(g, SL_ETH_HLEN - 1), SL_STAT_eth_short);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eth_emit_golden),
	    cmocka_unit_test(test_eth_parse_golden),
	    cmocka_unit_test(test_eth_parse_multicast_dst),
	    cmocka_unit_test(test_eth_parse_vlan),
	    cmocka_unit_test(test_eth_round_trip),
	    cmocka_unit_test(test_eth_short),
	    cmocka_unit_test(test_eth_bad_src_multicast),
	    cmocka_unit_test(test_eth_bad_src_broadcast),
	    cmocka_unit_test(test_eth_src_group_bit),
	};
	return cmocka_run_group_tests_name("eth", tests, NULL, NULL);
}
