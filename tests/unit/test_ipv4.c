/*
 * IPv4 header (user/wire/ipv4.h, RFC 791 / RFC 1122 §3.2.1): construct, deconstruct,
 * round-trip, malformed.
 *
 * Golden packets were captured from scapy 2.5 with /usr/bin/python3:
 *   from scapy.all import *; print(bytes(<expression>).hex())
 * The expression is given above each vector. Checks run on an exact-size heap copy so the
 * sanitizer build catches any read past the length the check was given.
 */
#include "unit/wireutil.h"
#include "wire/ipv4.h"
#include "wire/eth.h"
#include "wire/checksum.h"
#include "util/rng.h"
#include "sluice/stats.h"

/* Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/IP(src='10.0.0.1',dst='10.0.0.2',id=1)
 *   /ICMP(id=0x1234,seq=1)/b'abcdefgh' */
static const char g_echo[] = "02000000000202000000000108004500002400010000400166d60a0000010a000002"
			     "08005435123400016162636465666768";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=0xbeef,tos=0x10,ttl=64,flags='DF')/UDP(sport=1234,
 *   dport=5678)/b'hello' */
static const char g_udp_df[] = "45100021beef4000401167ca0a0000010a00000204d2162e000d8cff68656c6c6f";
/* IP(src='192.168.1.10',dst='192.168.1.20',id=0x1234,ttl=17,flags='MF',frag=185,proto=17)
 *   /b'0123456789abcdef' */
static const char g_frag_mf[] = "45000024123420b91111f36dc0a8010ac0a8011430313233343536373839616263"
				"646566";
/* IP(src='192.168.1.10',dst='192.168.1.20',id=0x1234,ttl=17,frag=185,proto=17)
 *   /b'0123456789abcdef'   (last fragment: offset, no MF) */
static const char g_frag_last[] =
    "45000024123400b91111136ec0a8010ac0a8011430313233343536373839616263"
    "646566";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=0xffff,tos=0xff,ttl=255,flags='DF+MF',frag=8191,
 *   proto=255)/b'x'   (every field at its maximum) */
static const char g_max[] = "45ff0015ffff7fffffff25e90a0000010a00000278";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=3,options=[IPOption_NOP(),IPOption_NOP(),IPOption_NOP(),
 *   IPOption_EOL()])/ICMP(id=1,seq=1) */
static const char g_opts[] = "4600002000030000400163d70a0000010a000002010101000800f7fd00010001";
/* Ether(dst='02:00:00:00:00:02',src='02:00:00:00:00:01')/IP(src='10.0.0.1',dst='10.0.0.2',id=10)
 *   /ICMP(id=1,seq=2)/Padding(load=b'\x00'*18) */
static const char g_padded[] =
    "02000000000202000000000108004500001c000a0000400166d50a0000010a000002"
    "0800f7fc00010002000000000000000000000000000000000000";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=0x66df)/ICMP()   (header checksum is 0x0000) */
static const char g_csum0[] = "4500001c66df0000400100000a0000010a0000020800f7ff00000000";
/* Ether(dst='01:00:5e:00:00:01',src='02:00:00:00:00:01')/IP(src='10.0.0.1',dst='224.0.0.1',id=14)
 *   /ICMP() */
static const char g_mcast[] = "01005e00000102000000000108004500001c000e0000400190d10a000001e0000001"
			      "0800f7ff00000000";

/* Malformed, also from scapy: */
/* IP(src='10.0.0.1',dst='10.0.0.2',id=4,ihl=4)/ICMP() */
static const char g_ihl4[] = "4400001c00040000400167db0a0000010a0000020800f7ff00000000";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=9,ihl=15)/ICMP() */
static const char g_ihl15[] = "4f00001c0009000040015cd60a0000010a0000020800f7ff00000000";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=5,version=6)/ICMP() */
static const char g_ver6[] = "6500001c00050000400146da0a0000010a0000020800f7ff00000000";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=6,len=100)/ICMP() */
static const char g_len100[] = "4500006400060000400166910a0000010a0000020800f7ff00000000";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=7,len=19)/ICMP() */
static const char g_len19[] = "4500001300070000400166e10a0000010a0000020800f7ff00000000";
/* IP(src='10.0.0.1',dst='10.0.0.2',id=8,chksum=0x1234)/ICMP() */
static const char g_badcsum[] = "4500001c00080000400112340a0000010a0000020800f7ff00000000";

#define IP_10_0_0_1 0x0a000001u
#define IP_10_0_0_2 0x0a000002u

static int check_exact(const uint8_t *b, size_t len)
{
	return tu_check_exact(sl_ipv4_check, b, len);
}

static struct sl_ipv4_hdr parse(const uint8_t *p)
{
	struct sl_ipv4_hdr h = {
	    .tos = sl_ipv4_tos(p),
	    .tot_len = sl_ipv4_tot_len(p),
	    .id = sl_ipv4_id(p),
	    .frag = sl_ipv4_frag(p),
	    .ttl = sl_ipv4_ttl(p),
	    .proto = sl_ipv4_proto(p),
	    .src = sl_ipv4_src(p),
	    .dst = sl_ipv4_dst(p),
	};
	return h;
}

/* --- construct ---------------------------------------------------------------------- */

static void test_ipv4_emit_echo_golden(void **state)
{
	uint8_t g[128], out[32];
	tu_hex(g_echo, g, sizeof g);
	struct sl_ipv4_hdr h = {.tos = 0,
				.tot_len = 36,
				.id = 1,
				.frag = 0,
				.ttl = 64,
				.proto = SL_IPPROTO_ICMP,
				.src = IP_10_0_0_1,
				.dst = IP_10_0_0_2};
	memset(out, 0xee, sizeof out);
	sl_ipv4_emit(out, &h);
	assert_memory_equal(out, g + SL_ETH_HLEN, SL_IPV4_HLEN);
	assert_int_equal(out[SL_IPV4_HLEN], 0xee); /* exactly 20 bytes written */
}

static void test_ipv4_emit_udp_df_golden(void **state)
{
	uint8_t g[64], out[32];
	tu_hex(g_udp_df, g, sizeof g);
	struct sl_ipv4_hdr h = {.tos = 0x10,
				.tot_len = 33,
				.id = 0xbeef,
				.frag = SL_IPV4_DF,
				.ttl = 64,
				.proto = SL_IPPROTO_UDP,
				.src = IP_10_0_0_1,
				.dst = IP_10_0_0_2};
	sl_ipv4_emit(out, &h);
	assert_memory_equal(out, g, SL_IPV4_HLEN);
}

static void test_ipv4_emit_fragment_golden(void **state)
{
	uint8_t g[64], out[32];
	tu_hex(g_frag_mf, g, sizeof g);
	struct sl_ipv4_hdr h = {.tot_len = 36,
				.id = 0x1234,
				.frag = SL_IPV4_MF | 185,
				.ttl = 17,
				.proto = SL_IPPROTO_UDP,
				.src = 0xc0a8010a,
				.dst = 0xc0a80114};
	sl_ipv4_emit(out, &h);
	assert_memory_equal(out, g, SL_IPV4_HLEN);
}

static void test_ipv4_emit_max_golden(void **state)
{
	uint8_t g[64], out[32];
	tu_hex(g_max, g, sizeof g);
	struct sl_ipv4_hdr h = {.tos = 0xff,
				.tot_len = 21,
				.id = 0xffff,
				.frag = 0x7fff,
				.ttl = 255,
				.proto = 255,
				.src = IP_10_0_0_1,
				.dst = IP_10_0_0_2};
	sl_ipv4_emit(out, &h);
	assert_memory_equal(out, g, SL_IPV4_HLEN);
}

/* The header whose checksum is 0x0000 is emitted as 0x0000, not the equivalent 0xffff. */
static void test_ipv4_emit_csum_zero_golden(void **state)
{
	uint8_t g[64], out[32];
	tu_hex(g_csum0, g, sizeof g);
	struct sl_ipv4_hdr h = {.tot_len = 28,
				.id = 0x66df,
				.ttl = 64,
				.proto = SL_IPPROTO_ICMP,
				.src = IP_10_0_0_1,
				.dst = IP_10_0_0_2};
	sl_ipv4_emit(out, &h);
	assert_memory_equal(out, g, SL_IPV4_HLEN);
	assert_int_equal(sl_ipv4_csum(out), 0x0000);
}

/* --- deconstruct -------------------------------------------------------------------- */

static void test_ipv4_parse_echo_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_echo, g, sizeof g);
	const uint8_t *p = g + SL_ETH_HLEN;
	size_t len = n - SL_ETH_HLEN;
	assert_int_equal(check_exact(p, len), 0);
	assert_int_equal(sl_ipv4_hlen(p), 20);
	assert_int_equal(sl_ipv4_tos(p), 0);
	assert_int_equal(sl_ipv4_tot_len(p), 36);
	assert_int_equal(sl_ipv4_id(p), 1);
	assert_int_equal(sl_ipv4_frag(p), 0);
	assert_false(sl_ipv4_is_fragment(p));
	assert_int_equal(sl_ipv4_frag_off(p), 0);
	assert_int_equal(sl_ipv4_ttl(p), 64);
	assert_int_equal(sl_ipv4_proto(p), SL_IPPROTO_ICMP);
	assert_int_equal(sl_ipv4_csum(p), 0x66d6);
	assert_int_equal(sl_ipv4_src(p), IP_10_0_0_1);
	assert_int_equal(sl_ipv4_dst(p), IP_10_0_0_2);
}

static void test_ipv4_parse_udp_df_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_udp_df, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_ipv4_tos(g), 0x10);
	assert_int_equal(sl_ipv4_tot_len(g), 33);
	assert_int_equal(sl_ipv4_id(g), 0xbeef);
	assert_int_equal(sl_ipv4_frag(g), SL_IPV4_DF);
	assert_false(sl_ipv4_is_fragment(g)); /* DF alone is not a fragment */
	assert_int_equal(sl_ipv4_ttl(g), 64);
	assert_int_equal(sl_ipv4_proto(g), SL_IPPROTO_UDP);
	assert_int_equal(sl_ipv4_csum(g), 0x67ca);
}

static void test_ipv4_parse_fragments_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_frag_mf, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_true(sl_ipv4_is_fragment(g));
	assert_int_equal(sl_ipv4_frag(g) & SL_IPV4_MF, SL_IPV4_MF);
	assert_int_equal(sl_ipv4_frag_off(g), 1480);
	assert_int_equal(sl_ipv4_id(g), 0x1234);
	assert_int_equal(sl_ipv4_ttl(g), 17);
	assert_int_equal(sl_ipv4_src(g), 0xc0a8010au);
	assert_int_equal(sl_ipv4_dst(g), 0xc0a80114u);

	n = tu_hex(g_frag_last, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_true(sl_ipv4_is_fragment(g)); /* offset without MF: the last fragment */
	assert_int_equal(sl_ipv4_frag(g) & SL_IPV4_MF, 0);
	assert_int_equal(sl_ipv4_frag_off(g), 1480);

	n = tu_hex(g_max, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_true(sl_ipv4_is_fragment(g));
	assert_int_equal(sl_ipv4_frag_off(g), 8191 * 8);
	assert_int_equal(sl_ipv4_tos(g), 0xff);
	assert_int_equal(sl_ipv4_id(g), 0xffff);
	assert_int_equal(sl_ipv4_ttl(g), 255);
	assert_int_equal(sl_ipv4_proto(g), 255);
	assert_int_equal(sl_ipv4_tot_len(g), 21);
}

static void test_ipv4_parse_options_golden(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_opts, g, sizeof g);
	assert_int_equal(n, 32);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_ipv4_hlen(g), 24);
	assert_int_equal(sl_ipv4_tot_len(g), 32);
	/* The ICMP message starts after the options. */
	assert_int_equal(g[sl_ipv4_hlen(g)], 8);
	/* Options cut off: IHL points past the buffer. */
	assert_int_equal(check_exact(g, 23), SL_STAT_ipv4_bad_ihl);
	assert_int_equal(check_exact(g, 24), SL_STAT_ipv4_bad_len);
}

/* Ethernet padding after the datagram: total length < buffer is accepted. */
static void test_ipv4_parse_padded(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_padded, g, sizeof g);
	assert_int_equal(n, 60);
	const uint8_t *p = g + SL_ETH_HLEN;
	assert_int_equal(check_exact(p, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_ipv4_tot_len(p), 28);
}

/* RFC 1624 §3: a header whose checksum is 0x0000 also verifies with -0 (0xffff) there. */
static void test_ipv4_parse_csum_zero(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_csum0, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_ipv4_csum(g), 0x0000);
	sl_put16(g + 10, 0xffff);
	assert_int_equal(check_exact(g, n), 0);
}

static void test_ipv4_addr_predicates(void **state)
{
	uint8_t g[128];
	tu_hex(g_mcast, g, sizeof g);
	const uint8_t *p = g + SL_ETH_HLEN;
	assert_int_equal(sl_ipv4_dst(p), 0xe0000001u);
	assert_true(sl_ipv4_is_multicast(sl_ipv4_dst(p)));
	assert_false(sl_ipv4_is_multicast(sl_ipv4_src(p)));
	assert_true(sl_ipv4_is_bad_src(sl_ipv4_dst(p)));
	assert_false(sl_ipv4_is_bad_src(sl_ipv4_src(p)));
	assert_true(sl_ipv4_is_multicast(0xefffffff));
	assert_false(sl_ipv4_is_multicast(0xdfffffff));
	assert_false(sl_ipv4_is_multicast(0xf0000000));
	assert_true(sl_ipv4_is_bad_src(0));
	assert_true(sl_ipv4_is_bad_src(0xffffffff));
	assert_true(sl_ipv4_is_bad_src(0xf0000001));
	assert_true(sl_ipv4_is_bad_src(0x7f000001));
	assert_false(sl_ipv4_is_bad_src(0x80000001));
	assert_false(sl_ipv4_is_bad_src(0x01000000));
	assert_false(sl_ipv4_is_bad_src(0xdfffffff));
}

/* --- round-trip --------------------------------------------------------------------- */

static void test_ipv4_round_trip_golden(void **state)
{
	const char *vec[] = {
	    g_echo + 2 * SL_ETH_HLEN, g_udp_df, g_frag_mf, g_frag_last, g_max, g_csum0,
	    g_mcast + 2 * SL_ETH_HLEN};
	for (unsigned k = 0; k < sizeof(vec) / sizeof(vec[0]); k++) {
		uint8_t g[128], out[128];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(sl_ipv4_check(g, n), 0);
		struct sl_ipv4_hdr h = parse(g);
		memcpy(out, g, n);
		memset(out, 0, SL_IPV4_HLEN);
		sl_ipv4_emit(out, &h);
		assert_memory_equal(out, g, n);
	}
}

/* emit → check → parse gives back random headers. */
static void test_ipv4_round_trip_random(void **state)
{
	uint64_t seed = tu_seed(791);
	struct sl_rng r;
	sl_rng_seed(&r, seed);
	uint8_t buf[128];
	for (int i = 0; i < 20000; i++) {
		struct sl_ipv4_hdr h = {
		    .tos = (uint8_t)sl_rng_next(&r),
		    .tot_len = (uint16_t)(20 + sl_rng_below(&r, 100)),
		    .id = (uint16_t)sl_rng_next(&r),
		    .frag = (uint16_t)sl_rng_next(&r),
		    .ttl = (uint8_t)sl_rng_next(&r),
		    .proto = (uint8_t)sl_rng_next(&r),
		    .src = (uint32_t)sl_rng_next(&r),
		    .dst = (uint32_t)sl_rng_next(&r),
		};
		sl_ipv4_emit(buf, &h);
		assert_int_equal(sl_ipv4_check(buf, h.tot_len), 0);
		assert_int_equal(sl_csum(buf, SL_IPV4_HLEN), 0);
		struct sl_ipv4_hdr q = parse(buf);
		if (q.tos != h.tos || q.tot_len != h.tot_len || q.id != h.id || q.frag != h.frag ||
		    q.ttl != h.ttl || q.proto != h.proto || q.src != h.src || q.dst != h.dst)
			fail_msg("seed %llu iteration %d: fields differ", (unsigned long long)seed,
				 i);
	}
}

/* --- malformed ---------------------------------------------------------------------- */

static void test_ipv4_short(void **state)
{
	uint8_t g[64];
	tu_hex(g_udp_df, g, sizeof g);
	for (size_t len = 0; len < SL_IPV4_HLEN; len++)
		assert_int_equal(check_exact(g, len), SL_STAT_ipv4_short);
}

/* Total length beyond the buffer: every truncation from 20 to 32 of the 33-byte datagram. */
static void test_ipv4_truncated_bad_len(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_udp_df, g, sizeof g);
	for (size_t len = SL_IPV4_HLEN; len < n; len++)
		assert_int_equal(check_exact(g, len), SL_STAT_ipv4_bad_len);
	assert_int_equal(check_exact(g, n), 0);
}

static void test_ipv4_bad_version(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_ver6, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_ipv4_bad_version);
}

static void test_ipv4_bad_ihl_below_5(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_ihl4, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_ipv4_bad_ihl);
}

static void test_ipv4_bad_ihl_beyond_buffer(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_ihl15, g, sizeof g);
	assert_int_equal(n, 28);
	assert_int_equal(check_exact(g, n), SL_STAT_ipv4_bad_ihl);
	/* With 60 bytes present the header fits, but total length 28 < header length 60. */
	memset(g + n, 0, sizeof g - n);
	assert_int_equal(check_exact(g, 60), SL_STAT_ipv4_bad_len);
}

static void test_ipv4_bad_len_beyond_buffer(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_len100, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_ipv4_bad_len);
	/* 99 bytes present: still short by one. 100 bytes: the length fits. */
	memset(g + n, 0, sizeof g - n);
	assert_int_equal(check_exact(g, 99), SL_STAT_ipv4_bad_len);
	assert_int_equal(check_exact(g, 100), 0);
}

static void test_ipv4_bad_len_below_header(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_len19, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_ipv4_bad_len);
}

static void test_ipv4_bad_csum(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_badcsum, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_ipv4_bad_csum);
}

/* Every single-bit error in the header is caught, with the reason of the field it hit. */
static void test_ipv4_single_bit_errors(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_udp_df, g, sizeof g);
	for (unsigned bit = 0; bit < SL_IPV4_HLEN * 8; bit++) {
		uint8_t b[64];
		memcpy(b, g, n);
		b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		int want;
		if (bit < 4) {
			want = SL_STAT_ipv4_bad_version;
		} else if (bit < 8) {
			unsigned hl = (b[0] & 0xf) * 4u;
			want = hl < 20 || hl > n ? SL_STAT_ipv4_bad_ihl : SL_STAT_ipv4_bad_csum;
		} else if (bit >= 16 && bit < 32) {
			unsigned tot = sl_get16(b + 2);
			want = tot < 20 || tot > n ? SL_STAT_ipv4_bad_len : SL_STAT_ipv4_bad_csum;
		} else {
			want = SL_STAT_ipv4_bad_csum;
		}
		int got = check_exact(b, n);
		if (got != want)
			fail_msg("bit %u: got %d want %d", bit, got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_emit_echo_golden),
	    cmocka_unit_test(test_ipv4_emit_udp_df_golden),
	    cmocka_unit_test(test_ipv4_emit_fragment_golden),
	    cmocka_unit_test(test_ipv4_emit_max_golden),
	    cmocka_unit_test(test_ipv4_emit_csum_zero_golden),
	    cmocka_unit_test(test_ipv4_parse_echo_golden),
	    cmocka_unit_test(test_ipv4_parse_udp_df_golden),
	    cmocka_unit_test(test_ipv4_parse_fragments_golden),
	    cmocka_unit_test(test_ipv4_parse_options_golden),
	    cmocka_unit_test(test_ipv4_parse_padded),
	    cmocka_unit_test(test_ipv4_parse_csum_zero),
	    cmocka_unit_test(test_ipv4_addr_predicates),
	    cmocka_unit_test(test_ipv4_round_trip_golden),
	    cmocka_unit_test(test_ipv4_round_trip_random),
	    cmocka_unit_test(test_ipv4_short),
	    cmocka_unit_test(test_ipv4_truncated_bad_len),
	    cmocka_unit_test(test_ipv4_bad_version),
	    cmocka_unit_test(test_ipv4_bad_ihl_below_5),
	    cmocka_unit_test(test_ipv4_bad_ihl_beyond_buffer),
	    cmocka_unit_test(test_ipv4_bad_len_beyond_buffer),
	    cmocka_unit_test(test_ipv4_bad_len_below_header),
	    cmocka_unit_test(test_ipv4_bad_csum),
	    cmocka_unit_test(test_ipv4_single_bit_errors),
	};
	return cmocka_run_group_tests_name("ipv4", tests, NULL, NULL);
}
