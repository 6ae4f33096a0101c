/*
 * Big-endian field access and MAC predicates (user/wire/bytes.h).
 *
 * The vector is the IPv4+ICMP part of a scapy 2.5 capture (/usr/bin/python3):
 *   IP(src='10.0.0.1',dst='10.0.0.2',id=0xffff,tos=0xff,ttl=255,flags='DF+MF',frag=8191,
 *      proto=255)/b'x'
 */
#include "unit/testutil.h"
#include "wire/bytes.h"

static const char g_max[] = "45ff0015ffff7fffffff25e90a0000010a00000278";

static void test_bytes_get_golden(void **state)
{
	uint8_t g[32];
	tu_hex(g_max, g, sizeof g);
	assert_int_equal(sl_get16(g + 2), 21);
	assert_int_equal(sl_get16(g + 4), 0xffff); /* no sign extension */
	assert_int_equal(sl_get16(g + 6), 0x7fff);
	assert_int_equal(sl_get16(g + 10), 0x25e9);
	assert_int_equal(sl_get32(g + 12), 0x0a000001u);
	assert_int_equal(sl_get32(g + 4), 0xffff7fffu);
	assert_int_equal(sl_get32(g + 8), 0xffff25e9u);
	/* Unaligned reads. */
	assert_int_equal(sl_get16(g + 1), 0xff00);
	assert_int_equal(sl_get32(g + 1), 0xff0015ffu);
}

static void test_bytes_put_golden(void **state)
{
	uint8_t g[32], out[32];
	size_t n = tu_hex(g_max, g, sizeof g);
	memset(out, 0, sizeof out);
	out[0] = 0x45;
	out[1] = 0xff;
	sl_put16(out + 2, 21);
	sl_put32(out + 4, 0xffff7fffu);
	out[8] = 0xff;
	out[9] = 0xff;
	sl_put16(out + 10, 0x25e9);
	sl_put32(out + 12, 0x0a000001u);
	sl_put32(out + 16, 0x0a000002u);
	out[20] = 'x';
	assert_memory_equal(out, g, n);
}

static void test_bytes_round_trip(void **state)
{
	uint8_t b[8];
	static const uint32_t v32[] = {0, 1, 0x80000000u, 0xffffffffu, 0x12345678u, 0xdeadbeefu};
	for (unsigned k = 0; k < 6; k++) {
		for (unsigned off = 0; off < 4; off++) {
			memset(b, 0xaa, sizeof b);
			sl_put32(b + off, v32[k]);
			assert_int_equal(sl_get32(b + off), v32[k]);
			for (unsigned i = 0; i < sizeof b; i++)
				if (i < off || i >= off + 4)
					assert_int_equal(b[i], 0xaa);
		}
	}
	for (uint32_t v = 0; v <= 0xffff; v++) {
		sl_put16(b + 1, (uint16_t)v);
		assert_int_equal(b[1], v >> 8);
		assert_int_equal(b[2], v & 0xff);
		assert_int_equal(sl_get16(b + 1), v);
	}
}

static void test_bytes_mac_predicates(void **state)
{
	static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t almost[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	static const uint8_t mc[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	static const uint8_t v6mc[6] = {0x33, 0x33, 0, 0, 0, 1};
	static const uint8_t uc[6] = {0x02, 0, 0, 0, 0, 1};
	static const uint8_t zero[6] = {0};
	assert_true(sl_mac_is_broadcast(bc));
	assert_true(sl_mac_is_multicast(bc));
	assert_true(sl_mac_is_broadcast(sl_mac_broadcast));
	assert_false(sl_mac_is_broadcast(almost));
	assert_true(sl_mac_is_multicast(almost));
	assert_true(sl_mac_is_multicast(mc));
	assert_false(sl_mac_is_broadcast(mc));
	assert_true(sl_mac_is_multicast(v6mc));
	assert_false(sl_mac_is_multicast(uc));
	assert_false(sl_mac_is_zero(uc));
	assert_true(sl_mac_is_zero(zero));
	assert_false(sl_mac_is_multicast(zero));
	for (int i = 0; i < 6; i++) {
		uint8_t m[6] = {0};
		m[i] = 0x80;
		assert_false(sl_mac_is_zero(m));
		uint8_t b[6];
		memset(b, 0xff, 6);
		b[i] = 0x7f;
		assert_false(sl_mac_is_broadcast(b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bytes_get_golden),
	    cmocka_unit_test(test_bytes_put_golden),
	    cmocka_unit_test(test_bytes_round_trip),
	    cmocka_unit_test(test_bytes_mac_predicates),
	};
	return cmocka_run_group_tests_name("bytes", tests, NULL, NULL);
}
