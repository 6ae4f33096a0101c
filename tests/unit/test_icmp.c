/*
 * ICMPv4 messages (user/wire/icmp.h, RFC 792): construct, deconstruct, round-trip, malformed.
 *
 * Golden messages were captured from scapy 2.5 with /usr/bin/python3:
 *   from scapy.all import *; print(bytes(<expression>).hex())
 * The expression is given above each vector. Checks run on an exact-size heap copy so the
 * sanitizer build catches any read past the length the check was given.
 */
#include "unit/wireutil.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/eth.h"
#include "wire/checksum.h"
#include "util/rng.h"
#include "sluice/stats.h"

/* Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/IP(src='10.0.0.1',dst='10.0.0.2',id=1)
 *   /ICMP(id=0x1234,seq=1)/b'abcdefgh' */
static const char g_echo_frame[] =
    "02000000000202000000000108004500002400010000400166d60a0000010a00"
    "000208005435123400016162636465666768";
/* ICMP(id=0x1234,seq=1)/b'abcdefgh' */
static const char g_echo[] = "08005435123400016162636465666768";
/* ICMP(type=0,id=0x1234,seq=1)/b'abcdefgh' */
static const char g_reply[] = "00005c35123400016162636465666768";
/* ICMP(id=0x4242,seq=7)/b'abcde'   (odd length) */
static const char g_odd[] = "08008bef424200076162636465";
/* ICMP(type=8,id=0xffff,seq=0xffff)   (header only, all-ones rest) */
static const char g_ones[] = "0800f7ffffffffff";
/* ICMP(type=3,code=3)/IP(src='10.0.0.1',dst='10.0.0.2',id=7)/UDP(sport=1234,dport=9)/b'hi' */
static const char g_port_unreach[] =
    "0303111b000000004500001e00070000401166c60a0000010a00000204d20009"
    "000a7e936869";
/* ICMP(type=3,code=4,nexthopmtu=1400)/b'abcd' */
static const char g_frag_needed[] = "030432bd0000057861626364";
/* ICMP(type=11,code=0,unused=0)/b'0123456789abcdefghij' */
static const char g_time_exceeded[] = "0b00f4f500000000303132333435363738396162636465666768696a";
/* Malformed, from scapy: ICMP(id=0x1234,seq=1,chksum=0xdead)/b'abcdefgh' */
static const char g_badcsum[] = "0800dead123400016162636465666768";

static int check_exact(const uint8_t *b, size_t len)
{
	return tu_check_exact(sl_icmp_check, b, len);
}

/* Build type/code/rest with the body already in place at p+8; garbage in the header first,
 * so emit must not depend on what was there. */
static size_t emit_into(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t rest,
			const char *body_of_golden)
{
	uint8_t g[256];
	size_t n = tu_hex(body_of_golden, g, sizeof g);
	assert_true(n >= SL_ICMP_HLEN && n <= cap);
	memset(out, 0xee, cap);
	memcpy(out + SL_ICMP_HLEN, g + SL_ICMP_HLEN, n - SL_ICMP_HLEN);
	sl_icmp_emit(out, type, code, rest, n - SL_ICMP_HLEN);
	return n;
}

/* --- construct ---------------------------------------------------------------------- */

static void test_icmp_emit_echo_golden(void **state)
{
	uint8_t g[64], out[64];
	size_t n = emit_into(out, sizeof out, SL_ICMP_ECHO_REQUEST, 0, 0x12340001, g_echo);
	tu_hex(g_echo, g, sizeof g);
	assert_memory_equal(out, g, n);
	assert_int_equal(out[n], 0xee); /* nothing written past the message */
	/* Same bytes as the ICMP part of the captured frame. */
	uint8_t f[128];
	tu_hex(g_echo_frame, f, sizeof f);
	assert_memory_equal(out, f + SL_ETH_HLEN + SL_IPV4_HLEN, n);
}

static void test_icmp_emit_reply_golden(void **state)
{
	uint8_t g[64], out[64];
	size_t n = emit_into(out, sizeof out, SL_ICMP_ECHO_REPLY, 0, 0x12340001, g_reply);
	tu_hex(g_reply, g, sizeof g);
	assert_memory_equal(out, g, n);
}

static void test_icmp_emit_odd_golden(void **state)
{
	uint8_t g[64], out[64];
	size_t n = emit_into(out, sizeof out, SL_ICMP_ECHO_REQUEST, 0, 0x42420007, g_odd);
	assert_int_equal(n, 13);
	tu_hex(g_odd, g, sizeof g);
	assert_memory_equal(out, g, n);
	assert_int_equal(out[n], 0xee);
}

static void test_icmp_emit_header_only_golden(void **state)
{
	uint8_t g[64], out[64];
	size_t n = emit_into(out, sizeof out, SL_ICMP_ECHO_REQUEST, 0, 0xffffffff, g_ones);
	assert_int_equal(n, 8);
	tu_hex(g_ones, g, sizeof g);
	assert_memory_equal(out, g, n);
}

static void test_icmp_emit_errors_golden(void **state)
{
	uint8_t g[128], out[128];
	size_t n = emit_into(out, sizeof out, SL_ICMP_DEST_UNREACH, SL_ICMP_PORT_UNREACH, 0,
			     g_port_unreach);
	tu_hex(g_port_unreach, g, sizeof g);
	assert_memory_equal(out, g, n);

	n = emit_into(out, sizeof out, SL_ICMP_DEST_UNREACH, SL_ICMP_FRAG_NEEDED, 1400,
		      g_frag_needed);
	tu_hex(g_frag_needed, g, sizeof g);
	assert_memory_equal(out, g, n);

	n = emit_into(out, sizeof out, SL_ICMP_TIME_EXCEEDED, 0, 0, g_time_exceeded);
	tu_hex(g_time_exceeded, g, sizeof g);
	assert_memory_equal(out, g, n);
}

/* --- deconstruct -------------------------------------------------------------------- */

static void test_icmp_parse_echo_golden(void **state)
{
	uint8_t f[128];
	size_t n = tu_hex(g_echo_frame, f, sizeof f);
	const uint8_t *ip = f + SL_ETH_HLEN;
	assert_int_equal(sl_ipv4_check(ip, n - SL_ETH_HLEN), 0);
	const uint8_t *p = ip + sl_ipv4_hlen(ip);
	size_t len = sl_ipv4_tot_len(ip) - sl_ipv4_hlen(ip);
	assert_int_equal(len, 16);
	assert_int_equal(check_exact(p, len), 0);
	assert_int_equal(sl_icmp_type(p), SL_ICMP_ECHO_REQUEST);
	assert_int_equal(sl_icmp_code(p), 0);
	assert_int_equal(sl_icmp_csum(p), 0x5435);
	assert_int_equal(sl_icmp_echo_id(p), 0x1234);
	assert_int_equal(sl_icmp_echo_seq(p), 1);
	assert_memory_equal(p + SL_ICMP_HLEN, "abcdefgh", 8);
	assert_false(sl_icmp_is_error(sl_icmp_type(p)));
}

static void test_icmp_parse_reply_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_reply, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_icmp_type(g), SL_ICMP_ECHO_REPLY);
	assert_int_equal(sl_icmp_code(g), 0);
	assert_int_equal(sl_icmp_csum(g), 0x5c35);
	assert_int_equal(sl_icmp_echo_id(g), 0x1234);
	assert_int_equal(sl_icmp_echo_seq(g), 1);
}

static void test_icmp_parse_odd_and_ones_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_odd, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_icmp_echo_id(g), 0x4242);
	assert_int_equal(sl_icmp_echo_seq(g), 7);
	assert_int_equal(sl_icmp_csum(g), 0x8bef);

	n = tu_hex(g_ones, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_icmp_echo_id(g), 0xffff);
	assert_int_equal(sl_icmp_echo_seq(g), 0xffff);
	assert_int_equal(sl_icmp_csum(g), 0xf7ff);
}

static void test_icmp_parse_port_unreach_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_port_unreach, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_icmp_type(g), SL_ICMP_DEST_UNREACH);
	assert_int_equal(sl_icmp_code(g), SL_ICMP_PORT_UNREACH);
	assert_true(sl_icmp_is_error(sl_icmp_type(g)));
	/* The quoted datagram is a valid IPv4 header with the original addresses. */
	const uint8_t *q = g + SL_ICMP_HLEN;
	assert_int_equal(sl_ipv4_check(q, n - SL_ICMP_HLEN), 0);
	assert_int_equal(sl_ipv4_src(q), 0x0a000001u);
	assert_int_equal(sl_ipv4_dst(q), 0x0a000002u);
	assert_int_equal(sl_ipv4_proto(q), SL_IPPROTO_UDP);
	assert_int_equal(sl_get16(q + 20), 1234);
	assert_int_equal(sl_get16(q + 22), 9);
}

static void test_icmp_parse_frag_needed_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_frag_needed, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_icmp_type(g), SL_ICMP_DEST_UNREACH);
	assert_int_equal(sl_icmp_code(g), SL_ICMP_FRAG_NEEDED);
	assert_int_equal(sl_get16(g + 6), 1400); /* RFC 1191 next-hop MTU */
}

static void test_icmp_is_error_types(void **state)
{
	for (unsigned t = 0; t < 256; t++) {
		bool want = t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
		assert_int_equal(sl_icmp_is_error((uint8_t)t), want);
	}
}

/* --- round-trip --------------------------------------------------------------------- */

static void test_icmp_round_trip_golden(void **state)
{
	const char *vec[] = {g_echo,	     g_reply,	    g_odd,	    g_ones,
			     g_port_unreach, g_frag_needed, g_time_exceeded};
	for (unsigned k = 0; k < sizeof(vec) / sizeof(vec[0]); k++) {
		uint8_t g[128], out[128];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(sl_icmp_check(g, n), 0);
		memcpy(out, g, n);
		memset(out, 0, SL_ICMP_HLEN);
		sl_icmp_emit(out, sl_icmp_type(g), sl_icmp_code(g), sl_get32(g + 4),
			     n - SL_ICMP_HLEN);
		assert_memory_equal(out, g, n);
	}
}

/* An echo request turned into a reply in place (what the stack does) gives scapy's reply. */
static void test_icmp_request_to_reply_in_place(void **state)
{
	uint8_t g[64], want[64];
	size_t n = tu_hex(g_echo, g, sizeof g);
	tu_hex(g_reply, want, sizeof want);
	sl_icmp_emit(g, SL_ICMP_ECHO_REPLY, 0, sl_get32(g + 4), n - SL_ICMP_HLEN);
	assert_memory_equal(g, want, n);
}

/* Random messages of every length up to 300: emit → check passes → fields read back. */
static void test_icmp_round_trip_random(void **state)
{
	uint64_t seed = tu_seed(792);
	struct sl_rng r;
	sl_rng_seed(&r, seed);
	uint8_t b[320];
	for (size_t body = 0; body <= 300; body++) {
		for (int k = 0; k < 20; k++) {
			for (size_t i = 0; i < body; i++)
				b[SL_ICMP_HLEN + i] = (uint8_t)sl_rng_next(&r);
			uint8_t type = (uint8_t)sl_rng_next(&r), code = (uint8_t)sl_rng_next(&r);
			uint32_t rest = (uint32_t)sl_rng_next(&r);
			sl_icmp_emit(b, type, code, rest, body);
			if (sl_icmp_check(b, SL_ICMP_HLEN + body) != 0)
				fail_msg("seed %llu body %zu", (unsigned long long)seed, body);
			assert_int_equal(sl_icmp_type(b), type);
			assert_int_equal(sl_icmp_code(b), code);
			assert_int_equal(sl_get32(b + 4), rest);
		}
	}
}

/* --- malformed ---------------------------------------------------------------------- */

static void test_icmp_short(void **state)
{
	uint8_t g[64];
	tu_hex(g_echo, g, sizeof g);
	for (size_t len = 0; len < SL_ICMP_HLEN; len++)
		assert_int_equal(check_exact(g, len), SL_STAT_icmp_short);
}

static void test_icmp_bad_csum_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_badcsum, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_icmp_bad_csum);
}

/* The checksum covers the whole message: one byte lost at the end is caught. */
static void test_icmp_truncated_bad_csum(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_echo, g, sizeof g);
	assert_int_equal(check_exact(g, n - 1), SL_STAT_icmp_bad_csum);
	n = tu_hex(g_odd, g, sizeof g);
	assert_int_equal(check_exact(g, n - 1), SL_STAT_icmp_bad_csum);
}

/* Every single-bit error anywhere in the message is caught. */
static void test_icmp_single_bit_errors(void **state)
{
	const char *vec[] = {g_echo, g_odd, g_port_unreach};
	for (unsigned k = 0; k < 3; k++) {
		uint8_t g[128];
		size_t n = tu_hex(vec[k], g, sizeof g);
		for (unsigned bit = 0; bit < n * 8; bit++) {
			g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (check_exact(g, n) != SL_STAT_icmp_bad_csum)
				fail_msg("vector %u bit %u not caught", k, bit);
			g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_int_equal(check_exact(g, n), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_icmp_emit_echo_golden),
	    cmocka_unit_test(test_icmp_emit_reply_golden),
	    cmocka_unit_test(test_icmp_emit_odd_golden),
	    cmocka_unit_test(test_icmp_emit_header_only_golden),
	    cmocka_unit_test(test_icmp_emit_errors_golden),
	    cmocka_unit_test(test_icmp_parse_echo_golden),
	    cmocka_unit_test(test_icmp_parse_reply_golden),
	    cmocka_unit_test(test_icmp_parse_odd_and_ones_golden),
	    cmocka_unit_test(test_icmp_parse_port_unreach_golden),
	    cmocka_unit_test(test_icmp_parse_frag_needed_golden),
	    cmocka_unit_test(test_icmp_is_error_types),
	    cmocka_unit_test(test_icmp_round_trip_golden),
	    cmocka_unit_test(test_icmp_request_to_reply_in_place),
	    cmocka_unit_test(test_icmp_round_trip_random),
	    cmocka_unit_test(test_icmp_short),
	    cmocka_unit_test(test_icmp_bad_csum_golden),
	    cmocka_unit_test(test_icmp_truncated_bad_csum),
	    cmocka_unit_test(test_icmp_single_bit_errors),
	};
	return cmocka_run_group_tests_name("icmp", tests, NULL, NULL);
}
