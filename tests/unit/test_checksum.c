/*
 * The Internet checksum (user/wire/checksum.h): RFC 1071 sum and fold, the IPv4 pseudo-header,
 * RFC 1624 incremental update.
 *
 * Golden values come from scapy 2.5 (`from scapy.all import *`), whose checksum() is an
 * independent RFC 1071 implementation; each is preceded by the exact expression that
 * produced it. Regenerate with /usr/bin/python3 (Debian's python3-scapy). Where a test needs
 * a checksum of data it made up, it asks ref_sum() below, written here, never sl_csum
 * itself (which would make the test compare the code with itself).
 */
#include <stdbool.h>
#include "unit/testutil.h"
#include "wire/checksum.h"
#include "wire/bytes.h"
#include "util/rng.h"

/* The deterministic data pattern used for the length table below: byte i = (i*7+3) & 0xff. */
static void pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 7 + 3) & 0xff);
}

/* A reference written here, not the code under test: RFC 1071 §1 taken literally —
 * 16-bit big-endian words, an odd last byte padded with zero, the end-around carry added
 * after every word. Returns the sum (not complemented). */
static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i += 2) {
		s += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

static uint16_t ref_csum(const uint8_t *p, size_t n)
{
	return (uint16_t)~ref_sum(p, n);
}

/* --- RFC 1071 sum --------------------------------------------------------------------- */

/* RFC 1071 §3 numerical example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
 * scapy: hex(checksum(bytes.fromhex('0001f203f4f5f6f7'))) == '0x220d' */
static void test_csum_rfc1071_example(void **state)
{
	uint8_t b[16];
	size_t n = tu_hex("00 01 f2 03 f4 f5 f6 f7", b, sizeof b);
	assert_int_equal(n, 8);
	assert_int_equal(sl_csum_fold(sl_csum_add(0, b, n)), 0xddf2);
	assert_int_equal(sl_csum(b, n), 0x220d);
	assert_int_equal(ref_sum(b, n), 0xddf2); /* the reference agrees with the RFC */
}

/* sl_csum and sl_csum_add (in pieces, from a nonzero accumulator) against the reference on
 * random data of every length up to 2 KiB and at every alignment. */
static void test_csum_matches_reference(void **state)
{
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(1071));
	static uint8_t raw[2048 + 8];
	for (size_t n = 0; n <= 2048; n++) {
		size_t off = n % 8;
		uint8_t *b = raw + off;
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)sl_rng_next(&r);
		if (n % 7 == 3)
			memset(b, 0xff, n); /* all ones: sums near -0 */
		assert_int_equal(sl_csum(b, n), ref_csum(b, n));
		/* In even-sized pieces after a 16-bit starting value. */
		uint16_t start = (uint16_t)sl_rng_next(&r);
		uint64_t acc = start;
		size_t pos = 0;
		while (pos < n) {
			size_t step = 2 * (1 + (size_t)sl_rng_below(&r, 40));
			if (pos + step > n)
				step = n - pos;
			acc = sl_csum_add(acc, b + pos, step);
			pos += step;
		}
		uint8_t sb[2] = {(uint8_t)(start >> 8), (uint8_t)start};
		uint32_t want = (uint32_t)ref_sum(sb, 2) + ref_sum(b, n);
		want = (want & 0xffff) + (want >> 16);
		uint16_t got = sl_csum_fold(acc);
		/* 0x0000 and 0xffff are both zero in one's complement; fold gives 0 only when
		 * everything summed was zero, the reference likewise. */
		assert_int_equal(got, (uint16_t)want);
	}
}

/* sl_csum_copy: the bytes arrive unchanged at any source and destination alignment, nothing
 * around the destination is written, and the sum added equals the reference's. */
static void test_csum_copy_matches_reference(void **state)
{
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(1624));
	static uint8_t src[2048 + 16], dst[2048 + 32];
	for (size_t n = 0; n <= 2048; n += (n < 80 ? 1 : 13)) {
		size_t so = (size_t)sl_rng_below(&r, 16), doff = (size_t)sl_rng_below(&r, 16);
		uint8_t *b = src + so;
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)sl_rng_next(&r);
		if (n % 5 == 1)
			memset(b, 0xff, n);
		memset(dst, 0xa5, sizeof dst);
		uint16_t start = (uint16_t)sl_rng_next(&r);
		uint64_t acc = sl_csum_copy(start, dst + 8 + doff, b, n);
		assert_memory_equal(dst + 8 + doff, b, n);
		for (size_t i = 0; i < 8 + doff; i++)
			assert_int_equal(dst[i], 0xa5);
		for (size_t i = 8 + doff + n; i < sizeof dst; i++)
			assert_int_equal(dst[i], 0xa5);
		uint32_t want = (uint32_t)start + ref_sum(b, n);
		want = (want & 0xffff) + (want >> 16);
		assert_int_equal(sl_csum_fold(acc), (uint16_t)want);
	}
}

/* scapy, for each n:
 *   hex(checksum(bytes((i*7+3)&0xff for i in range(n))))
 *   hex(checksum(b'\xff'*n))
 *   hex(checksum(b'\x00'*n))
 * Covers every tail path of the summing loop (16-byte blocks, 4-byte words, 2 bytes, odd). */
static const struct {
	size_t n;
	uint16_t pat, ones, zeros;
} len_table[] = {
    {0, 0xffff, 0xffff, 0xffff},     {1, 0xfcff, 0x00ff, 0xffff},
    {2, 0xfcf5, 0x0000, 0xffff},     {3, 0xebf5, 0x00ff, 0xffff},
    {4, 0xebdd, 0x0000, 0xffff},     {7, 0x9fb7, 0x00ff, 0xffff},
    {15, 0x5e92, 0x00ff, 0xffff},    {16, 0x5e26, 0x0000, 0xffff},
    {17, 0xeb25, 0x00ff, 0xffff},    {31, 0x39a5, 0x00ff, 0xffff},
    {32, 0x38c9, 0x0000, 0xffff},    {33, 0x55c8, 0x00ff, 0xffff},
    {63, 0x724d, 0x00ff, 0xffff},    {64, 0x7191, 0x0000, 0xffff},
    {65, 0xae90, 0x00ff, 0xffff},    {100, 0x54f6, 0x0000, 0xffff},
    {255, 0xc13b, 0x00ff, 0xffff},   {1500, 0x66e1, 0x0000, 0xffff},
    {1501, 0x5fe1, 0x00ff, 0xffff},  {65535, 0x40bc, 0x00ff, 0xffff},
    {65536, 0x3fc0, 0x0000, 0xffff}, {1048577, 0xf903, 0x00ff, 0xffff},
};

static void test_csum_lengths_golden(void **state)
{
	uint8_t *b = malloc(1048577 + 1);
	assert_non_null(b);
	for (size_t k = 0; k < sizeof(len_table) / sizeof(len_table[0]); k++) {
		size_t n = len_table[k].n;
		pattern(b, n);
		assert_int_equal(sl_csum(b, n), len_table[k].pat);
		memset(b, 0xff, n);
		assert_int_equal(sl_csum(b, n), len_table[k].ones);
		memset(b, 0, n);
		assert_int_equal(sl_csum(b, n), len_table[k].zeros);
	}
	free(b);
}

/* The summing loop must not care about alignment (memcpy loads; UBSan build checks). */
static void test_csum_unaligned(void **state)
{
	uint8_t raw[1600];
	for (size_t off = 0; off < 8; off++) {
		pattern(raw + off, 1501);
		assert_int_equal(sl_csum(raw + off, 1501), 0x5fe1);
		assert_int_equal(sl_csum(raw + off, 1500), 0x66e1);
	}
}

/* Summing in pieces with even boundaries equals summing at once (RFC 1071 §2(A)). */
static void test_csum_add_chunks(void **state)
{
	uint8_t b[1501];
	pattern(b, sizeof b);
	uint64_t acc = 0;
	size_t pos = 0;
	static const size_t steps[] = {2, 4, 6, 16, 18, 30, 64, 2, 100, 256};
	for (unsigned k = 0; pos < sizeof b; k = (k + 1) % 10) {
		size_t step = steps[k];
		if (pos + step > sizeof b)
			step = sizeof b - pos; /* the last piece may be odd */
		acc = sl_csum_add(acc, b + pos, step);
		pos += step;
	}
	assert_int_equal((uint16_t)~sl_csum_fold(acc), 0x5fe1);
	/* A nonzero starting accumulator is simply added. */
	assert_int_equal(sl_csum_fold(sl_csum_add(0x1234, b, 0)), 0x1234);
}

/* Data that contains its own checksum verifies to 0, for every length parity. */
static void test_csum_verify_self(void **state)
{
	uint8_t b[260];
	for (size_t n = 2; n <= sizeof b; n++) {
		pattern(b, n);
		b[0] = b[1] = 0;
		uint16_t c = sl_csum(b, n);
		assert_int_equal(c, ref_csum(b, n));
		sl_put16(b, c);
		assert_int_equal(ref_sum(b, n), 0xffff); /* verifies by the reference */
		assert_int_equal(sl_csum(b, n), 0);
	}
}

/* --- fold ------------------------------------------------------------------------------- */

static void test_csum_fold_edges(void **state)
{
	assert_int_equal(sl_csum_fold(0), 0x0000);
	assert_int_equal(sl_csum_fold(0xffff), 0xffff);
	assert_int_equal(sl_csum_fold(0x10000), 0x0001); /* end-around carry */
	assert_int_equal(sl_csum_fold(0x1fffe), 0xffff); /* 0xffff + 0xffff */
	assert_int_equal(sl_csum_fold(0xffffffffULL), 0xffff);
	assert_int_equal(sl_csum_fold(0x100000000ULL), 0x0001); /* 2^32 == 1 mod 0xffff */
	assert_int_equal(sl_csum_fold(0x1ffffffffULL), 0x0001); /* 2^33 - 1 == 1 mod 0xffff */
	assert_int_equal(sl_csum_fold(UINT64_MAX), 0xffff);	/* all ones is -0 */
	/* fold(x) == x mod 0xffff, with 0xffff standing for nonzero multiples. */
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(7));
	for (int i = 0; i < 100000; i++) {
		uint64_t x = sl_rng_next(&r) >> (sl_rng_below(&r, 64));
		uint16_t f = sl_csum_fold(x);
		uint64_t m = x % 0xffff;
		if (x == 0)
			assert_int_equal(f, 0);
		else
			assert_int_equal(f, m ? m : 0xffff);
	}
}

/* --- pseudo-header ------------------------------------------------------------------ */

/* scapy:
 * IP(src='10.0.0.1',dst='10.0.0.2',id=0xbeef,tos=0x10,ttl=64,flags='DF')/UDP(sport=1234,dport=5678)/b'hello'
 */
static const char udp_hello[] =
    "45100021beef4000401167ca0a0000010a00000204d2162e000d8cff68656c6c6f";
/* scapy: IP(src='10.0.0.1',dst='10.0.0.2',id=12)/UDP(sport=53,dport=33333)/b'odd' */
static const char udp_odd[] = "4500001f000c0000401166c00a0000010a00000200358235000b96066f6464";
/* scapy: IP(src='10.0.0.1',dst='10.0.0.2',id=11,ttl=255,proto=6)/TCP(sport=40000,dport=80,
 *        flags='S',seq=1000,window=65535,options=[('MSS',1460)]) */
static const char tcp_syn[] =
    "4500002c000b0000ff06a7be0a0000010a0000029c400050000003e8000000006002ffffe3ab0000020405b4";

static void check_l4(const char *hex, unsigned csum_off, uint16_t want)
{
	uint8_t b[128];
	size_t n = tu_hex(hex, b, sizeof b);
	uint8_t *l4 = b + 20;
	uint16_t l4len = (uint16_t)(n - 20);
	uint64_t ph = sl_csum_pseudo4(sl_get32(b + 12), sl_get32(b + 16), b[9], l4len);
	/* Deconstruct: the captured segment verifies. */
	assert_int_equal(sl_csum_fold(sl_csum_add(ph, l4, l4len)), 0xffff);
	/* Construct: recompute into a zeroed field and get scapy's value. */
	assert_int_equal(sl_get16(l4 + csum_off), want);
	sl_put16(l4 + csum_off, 0);
	assert_int_equal((uint16_t)~sl_csum_fold(sl_csum_add(ph, l4, l4len)), want);
	/* A wrong address in the pseudo-header breaks it. */
	sl_put16(l4 + csum_off, want);
	ph = sl_csum_pseudo4(sl_get32(b + 12) ^ 1, sl_get32(b + 16), b[9], l4len);
	assert_int_not_equal(sl_csum_fold(sl_csum_add(ph, l4, l4len)), 0xffff);
}

static void test_csum_pseudo4_udp(void **state)
{
	check_l4(udp_hello, 6, 0x8cff);
}

static void test_csum_pseudo4_udp_odd(void **state)
{
	check_l4(udp_odd, 6, 0x9606);
}

static void test_csum_pseudo4_tcp(void **state)
{
	check_l4(tcp_syn, 16, 0xe3ab);
}

/* The pseudo-header alone equals summing its 12 bytes laid out per RFC 768. */
static void test_csum_pseudo4_layout(void **state)
{
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(11));
	for (int i = 0; i < 10000; i++) {
		uint32_t s = (uint32_t)sl_rng_next(&r), d = (uint32_t)sl_rng_next(&r);
		uint8_t proto = (uint8_t)sl_rng_next(&r);
		uint16_t len = (uint16_t)sl_rng_next(&r);
		if (i == 0)
			s = d = 0xffffffff, proto = 0xff, len = 0xffff;
		uint8_t ph[12];
		sl_put32(ph, s);
		sl_put32(ph + 4, d);
		ph[8] = 0;
		ph[9] = proto;
		sl_put16(ph + 10, len);
		uint16_t want = ref_sum(ph, 12);
		uint16_t got = sl_csum_fold(sl_csum_pseudo4(s, d, proto, len));
		assert_int_equal(got, want);
	}
}

/* --- RFC 1624 incremental update ----------------------------------------------------- */

/* RFC 1624 §3 example: sum of the other words 0xCD7A, a field changes 0x5555 → 0x3285.
 * scapy: hex(checksum(bytes.fromhex('cd7a5555'))) == '0xdd2f'
 *        hex(checksum(bytes.fromhex('cd7a3285'))) == '0x0'
 * Eqn. 3 gives 0x0000; the naive eqn. 2 (HC - ~m - m') would give 0xFFFF. */
static void test_csum_update_rfc1624_example(void **state)
{
	uint8_t b[6];
	tu_hex("cd7a 5555 0000", b, sizeof b);
	assert_int_equal(sl_csum(b, 4), 0xdd2f);
	uint16_t hc = sl_csum_update16(0xdd2f, 0x5555, 0x3285);
	assert_int_equal(hc, 0x0000);
	tu_hex("cd7a 3285", b, sizeof b);
	assert_int_equal(sl_csum(b, 4), 0x0000);
	sl_put16(b + 4, hc);
	assert_int_equal(sl_csum(b, 6), 0);
}

/* Same edge on a real header: two scapy IPv4 headers that differ only in the id, one with
 * checksum 0x0001 and one with 0x0000.
 * scapy: IP(src='10.0.0.1',dst='10.0.0.2',id=0x66de)/ICMP()
 *        IP(src='10.0.0.1',dst='10.0.0.2',id=0x66df)/ICMP()
 *        IP(src='10.0.0.1',dst='10.0.0.2',id=0x66df,ttl=63)/ICMP() */
static void test_csum_update_to_zero_header(void **state)
{
	uint8_t a[64], b[64], c[64];
	tu_hex("4500001c66de0000400100010a0000010a0000020800f7ff00000000", a, sizeof a);
	tu_hex("4500001c66df0000400100000a0000010a0000020800f7ff00000000", b, sizeof b);
	tu_hex("4500001c66df00003f0101000a0000010a0000020800f7ff00000000", c, sizeof c);
	assert_int_equal(sl_get16(a + 10), 0x0001);
	assert_int_equal(sl_get16(b + 10), 0x0000);
	assert_int_equal(sl_csum(a, 20), 0);
	assert_int_equal(sl_csum(b, 20), 0);
	assert_int_equal(sl_csum_update16(0x0001, 0x66de, 0x66df), 0x0000);
	assert_int_equal(sl_csum_update16(0x0000, 0x66df, 0x66de), 0x0001);
	/* TTL decrement of the header whose checksum is 0x0000 (word 8: ttl|proto). */
	assert_int_equal(sl_csum_update16(sl_get16(b + 10), sl_get16(b + 8), sl_get16(c + 8)),
			 sl_get16(c + 10));
	/* An all-ones checksum (-0) in place of 0x0000 still verifies (RFC 1624 §3). */
	sl_put16(b + 10, 0xffff);
	assert_int_equal(sl_csum(b, 20), 0);
}

/* Forwarding and NAT edits captured with scapy:
 *   IP(src='10.0.0.1',dst='10.0.0.2',id=1,ttl=64)/UDP(sport=1234,dport=5678)/b'hello'
 *   IP(src='10.0.0.1',dst='10.0.0.2',id=1,ttl=63)/UDP(sport=1234,dport=5678)/b'hello'
 *   IP(src='192.168.7.9',dst='10.0.0.2',id=1,ttl=64)/UDP(sport=1234,dport=5678)/b'hello'
 *   IP(src='192.168.7.9',dst='10.0.0.2',id=1,ttl=64)/UDP(sport=40000,dport=5678)/b'hello' */
static void test_csum_update_golden_edits(void **state)
{
	uint8_t p64[64], p63[64], nat[64], napt[64];
	tu_hex("4500002100010000401166c90a0000010a00000204d2162e000d8cff68656c6c6f", p64, 64);
	tu_hex("45000021000100003f1167c90a0000010a00000204d2162e000d8cff68656c6c6f", p63, 64);
	tu_hex("45000021000100004011a918c0a807090a00000204d2162e000dcf4e68656c6c6f", nat, 64);
	tu_hex("45000021000100004011a918c0a807090a0000029c40162e000d37e068656c6c6f", napt, 64);
	/* TTL 64 → 63. */
	assert_int_equal(sl_csum_update16(0x66c9, 0x4011, 0x3f11), 0x67c9);
	assert_int_equal(sl_get16(p63 + 10), 0x67c9);
	/* Source 10.0.0.1 → 192.168.7.9: IP header and UDP (pseudo-header) checksums. */
	assert_int_equal(sl_csum_update32(sl_get16(p64 + 10), 0x0a000001, 0xc0a80709),
			 sl_get16(nat + 10));
	assert_int_equal(sl_csum_update32(sl_get16(p64 + 26), 0x0a000001, 0xc0a80709),
			 sl_get16(nat + 26));
	/* Then source port 1234 → 40000. */
	assert_int_equal(sl_csum_update16(sl_get16(nat + 26), 1234, 40000), sl_get16(napt + 26));
	/* And back. */
	assert_int_equal(sl_csum_update16(sl_get16(napt + 26), 40000, 1234), sl_get16(nat + 26));
	assert_int_equal(sl_csum_update32(sl_get16(nat + 10), 0xc0a80709, 0x0a000001),
			 sl_get16(p64 + 10));
}

/* 0xffff and 0x0000 are the two zeros of one's complement: swapping them in a field does not
 * change the checksum, and no update returns -0 for data that is not all zero. */
static void test_csum_update_all_ones(void **state)
{
	uint8_t b[8];
	tu_hex("4500 ffff 1234 0000", b, sizeof b);
	uint16_t hc = sl_csum(b, 8);
	assert_int_equal(hc, ref_csum(b, 8));
	assert_int_equal(sl_csum_update16(hc, 0xffff, 0x0000), hc);
	assert_int_equal(sl_csum_update16(hc, 0x0000, 0xffff), hc);
	sl_put16(b + 2, 0x0000);
	assert_int_equal(ref_csum(b, 8), hc);
	assert_int_equal(sl_csum(b, 8), hc);
	/* No-op update. */
	for (uint32_t m = 0; m <= 0xffff; m += 0x1111)
		assert_int_equal(sl_csum_update16(hc, (uint16_t)m, (uint16_t)m), hc);
	/* Exhaustive over one field with a fixed nonzero remainder: eqn. 3 == recomputation. */
	static const uint16_t olds[] = {0x0000, 0x0001, 0x1234, 0x7fff,
					0x8000, 0xedcb, 0xfffe, 0xffff};
	for (unsigned k = 0; k < sizeof(olds) / sizeof(olds[0]); k++) {
		uint16_t old = olds[k];
		tu_hex("4500 0000 1234", b, sizeof b);
		sl_put16(b + 2, old);
		uint16_t c0 = ref_csum(b, 6);
		for (uint32_t nw = 0; nw <= 0xffff; nw++) {
			sl_put16(b + 2, (uint16_t)nw);
			uint16_t full = ref_csum(b, 6);
			uint16_t inc = sl_csum_update16(c0, old, (uint16_t)nw);
			if (inc != full)
				fail_msg("old %04x new %04x: incremental %04x full %04x", old, nw,
					 inc, full);
		}
	}
	/* Checksum of all-zero data is 0xffff (+0 complemented); the only data with that
	 * checksum. Headers the stack updates are never all zero (IPv4 version nibble,
	 * pseudo-header protocol), which is why eqn. 3 never needs to produce it. */
	memset(b, 0, sizeof b);
	assert_int_equal(sl_csum(b, 8), 0xffff);
}

/* Random edits: after every 16- or 32-bit change the incrementally updated checksum equals a
 * full recomputation, over buffers of odd and even lengths. Word 0 is a nonzero anchor
 * (as the IPv4 version nibble is) so the data is never all zero. */
static void test_csum_update_random(void **state)
{
	uint64_t seed = tu_seed(0x1624);
	struct sl_rng r;
	sl_rng_seed(&r, seed);
	uint8_t b[1600];
	for (int iter = 0; iter < 4000; iter++) {
		size_t len = 6 + (size_t)sl_rng_below(&r, 1500);
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)sl_rng_next(&r);
		/* Sometimes make the data mostly 0xff or 0x00 to reach the all-ones corners. */
		uint64_t mode = sl_rng_below(&r, 4);
		if (mode == 1)
			memset(b, 0xff, len);
		else if (mode == 2)
			memset(b, 0x00, len);
		b[0] = 0x45;
		size_t nwords = len / 2; /* whole 16-bit words; an odd tail byte stays put */
		size_t c_off = 2 * (1 + (size_t)sl_rng_below(&r, nwords - 1));
		sl_put16(b + c_off, 0);
		uint16_t hc = ref_csum(b, len);
		sl_put16(b + c_off, hc);
		assert_int_equal(ref_sum(b, len), 0xffff);
		int edits = 1 + (int)sl_rng_below(&r, 16);
		for (int e = 0; e < edits; e++) {
			bool wide = sl_rng_below(&r, 2) && nwords >= 4;
			size_t w = 1 + (size_t)sl_rng_below(&r, nwords - (wide ? 2 : 1));
			size_t off = 2 * w;
			if (off == c_off || (wide && off + 2 == c_off))
				continue;
			uint32_t nv = (uint32_t)sl_rng_next(&r);
			uint64_t pick = sl_rng_below(&r, 10);
			if (pick == 0)
				nv = 0;
			else if (pick == 1)
				nv = 0xffffffff;
			else if (pick == 2)
				nv = ~(wide ? sl_get32(b + off) : sl_get16(b + off));
			else if (pick == 3) {
				/* Choose the value that makes the new checksum 0x0000 (data sum
				 * -0): where naive RFC 1624 eqn. 2 would answer 0xffff. */
				uint8_t save[4];
				memcpy(save, b + off, 4);
				uint16_t csave = sl_get16(b + c_off);
				sl_put16(b + c_off, 0);
				sl_put16(b + off + (wide ? 2 : 0), 0);
				uint16_t rest = ref_sum(b, len);
				memcpy(b + off, save, 4);
				sl_put16(b + c_off, csave);
				uint16_t lo = (uint16_t)~rest;
				nv = wide ? (sl_get32(b + off) & 0xffff0000u) | lo : lo;
			}
			if (wide) {
				uint32_t old = sl_get32(b + off);
				hc = sl_csum_update32(hc, old, nv);
				sl_put32(b + off, nv);
			} else {
				uint16_t old = sl_get16(b + off);
				hc = sl_csum_update16(hc, old, (uint16_t)nv);
				sl_put16(b + off, (uint16_t)nv);
			}
			sl_put16(b + c_off, 0);
			uint16_t full = ref_csum(b, len);
			if (hc != full)
				fail_msg(
				    "seed %llu iter %d edit %d len %zu: incremental %04x full %04x",
				    (unsigned long long)seed, iter, e, len, hc, full);
			sl_put16(b + c_off, hc);
			assert_int_equal(ref_sum(b, len), 0xffff);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_rfc1071_example),
	    cmocka_unit_test(test_csum_matches_reference),
	    cmocka_unit_test(test_csum_copy_matches_reference),
	    cmocka_unit_test(test_csum_lengths_golden),
	    cmocka_unit_test(test_csum_unaligned),
	    cmocka_unit_test(test_csum_add_chunks),
	    cmocka_unit_test(test_csum_verify_self),
	    cmocka_unit_test(test_csum_fold_edges),
	    cmocka_unit_test(test_csum_pseudo4_udp),
	    cmocka_unit_test(test_csum_pseudo4_udp_odd),
	    cmocka_unit_test(test_csum_pseudo4_tcp),
	    cmocka_unit_test(test_csum_pseudo4_layout),
	    cmocka_unit_test(test_csum_update_rfc1624_example),
	    cmocka_unit_test(test_csum_update_to_zero_header),
	    cmocka_unit_test(test_csum_update_golden_edits),
	    cmocka_unit_test(test_csum_update_all_ones),
	    cmocka_unit_test(test_csum_update_random),
	};
	return cmocka_run_group_tests_name("checksum", tests, NULL, NULL);
}
