/*
 * The Internet checksum routines (user/wire/checksum.h, internal; sl_ip_pseudoheader in
 * include/sluice/ip.h) against a reference written here from RFC 1071 alone, for whatever
 * implementation sits behind the header: random data, random lengths 0..2000, every start
 * alignment 0..15, chained calls, non-zero and very large incoming accumulators, the fold of
 * any 64-bit value, the pseudo-headers of RFC 768 and RFC 8200 §8.1, verification, and the
 * RFC 1624 incremental update. Nothing here calls one sl_csum_* routine to judge another.
 *
 * What the header promises (and so what is tested):
 *   sl_csum_add(acc, data, len)  "one's-complement sum of len bytes added to a 64-bit
 *                                accumulator (not folded)". Data is summed as 16-bit
 *                                big-endian words, an odd last byte padded with zero (RFC 1071
 *                                §4.1), so a datagram may be summed in pieces as long as every
 *                                piece but the last has an even length.
 *   sl_csum_fold(acc)            "fold an accumulator to 16 bits (not complemented)": any
 *                                64-bit value; the one's-complement sum modulo 0xffff, 0 only
 *                                for 0 (one's complement has two zeros, 0x0000 and 0xffff;
 *                                folding gives 0x0000 only when the accumulator is 0).
 *   sl_csum(data, len)           ~fold(sum), and "verifying data that holds its checksum
 *                                gives 0".
 * The accumulator: the header does not say how far it may grow before a carry out of bit 63
 * would be lost. The contract taken here is the one RFC 1071 §2(B) "deferred carries" gives
 * when 32-bit words are added into 64 bits, which is what the pseudo-header sums
 * (sl_csum_pseudo4: src + dst + proto + len) and every caller rely on: an accumulator built by
 * at most 2^32 − 1 additions of 32-bit values in all, counting ceil(len / 4) words for the data
 * being added, never wraps (that sum is at most (2^32 − 1)^2 < 2^64), and folding it gives the
 * RFC 1071 sum of everything added. So accumulators up to (2^32 − 1)·(2^32 − 1 − ceil(len/4))
 * — within 2^33 of 2^64 — must work; an arbitrary 64-bit value plus data is promised nothing
 * and is not tested. (An implementation with end-around carries at 64 bits passes the same
 * tests.)
 */
#include <stdbool.h>
#include "unit/testutil.h"
#include "wire/checksum.h"
#include "sluice/ip.h"

/* --- the reference ------------------------------------------------------------------------ */

/* RFC 1071 §1 literally: 16-bit big-endian words, an odd last byte padded with zero, the
 * end-around carry added after every word. The sum, not complemented; 0 only for all-zero
 * data. */
static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i += 2) {
		s += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

/* One's-complement addition of two 16-bit sums. */
static uint16_t ref_add(uint16_t a, uint16_t b)
{
	uint32_t s = (uint32_t)a + b;
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/* The one's-complement value of a 64-bit accumulator: its residue modulo 0xffff (2^16 ≡ 1),
 * written in 1..0xffff, and 0 only for 0. Arithmetic, not folding. */
static uint16_t ref_fold64(uint64_t v)
{
	return v == 0 ? 0 : (uint16_t)((v - 1) % 0xffff + 1);
}

static uint64_t rs;
static uint64_t rnd(void)
{
	/* xorshift64*: the test's own generator */
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 0x2545f4914f6cdd1dULL;
}
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void seed(uint64_t dflt)
{
	rs = tu_seed(dflt) * 0x9e3779b97f4a7c15ULL + 1;
	if (!rs)
		rs = 1;
}

/* Random bytes, sometimes a pattern that stresses carries (all ones, all zeros, 0xff00...). */
static void fill(uint8_t *p, size_t n)
{
	unsigned kind = (unsigned)below(8);
	for (size_t i = 0; i < n; i++) {
		switch (kind) {
		case 0:
			p[i] = 0xff;
			break;
		case 1:
			p[i] = 0;
			break;
		case 2:
			p[i] = (i & 1) ? 0x00 : 0xff;
			break;
		case 3:
			p[i] = (uint8_t)(0xf0 | below(16));
			break;
		default:
			p[i] = (uint8_t)rnd();
		}
	}
}

/* --- the reference itself ------------------------------------------------------------------ */

/* RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2; the reference must say so before it
 * judges anything. Also the two zeros: all-zero data sums to 0, all-ones to 0xffff. */
static void test_reference_rfc1071_example(void **state)
{
	uint8_t b[8];
	assert_int_equal(tu_hex("00 01 f2 03 f4 f5 f6 f7", b, sizeof b), 8);
	assert_int_equal(ref_sum(b, 8), 0xddf2);
	assert_int_equal(sl_csum_fold(sl_csum_add(0, b, 8)), 0xddf2);
	assert_int_equal(sl_csum(b, 8), 0x220d);
	uint8_t z[6] = {0}, o[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(ref_sum(z, 6), 0);
	assert_int_equal(ref_sum(o, 6), 0xffff);
	assert_int_equal(ref_fold64(0xffff), 0xffff);
	assert_int_equal(ref_fold64(0x10000), 1);
	assert_int_equal(ref_fold64(UINT64_MAX), 0xffff); /* 2^64 − 1 = 0xffff · (...) */
}

/* --- one call ------------------------------------------------------------------------------ */

/* Every length 0..2000 at every start alignment 0..15, random data. */
static void test_csum_every_length_and_alignment(void **state)
{
	seed(1071);
	static uint8_t raw[2000 + 32];
	for (size_t n = 0; n <= 2000; n++) {
		for (size_t a = 0; a < 16; a++) {
			uint8_t *p = raw + a;
			fill(p, n);
			uint16_t s = ref_sum(p, n);
			if (sl_csum(p, n) != (uint16_t)~s ||
			    sl_csum_fold(sl_csum_add(0, p, n)) != s) {
				print_message(
				    "len %zu align %zu: sl_csum %04x, want %04x; fold %04x, "
				    "want %04x\n",
				    n, a, sl_csum(p, n), (uint16_t)~s,
				    sl_csum_fold(sl_csum_add(0, p, n)), s);
				fail();
			}
		}
	}
}

/* The bytes around the summed range must not count: the same data with different
 * neighbours sums the same (a routine reading whole words past either end would not). */
static void test_csum_ignores_neighbouring_bytes(void **state)
{
	seed(1072);
	static uint8_t raw[2100];
	for (int it = 0; it < 4000; it++) {
		size_t n = (size_t)below(2001), a = (size_t)below(16);
		uint8_t *p = raw + 32 + a;
		fill(p, n);
		uint16_t s = ref_sum(p, n);
		memset(raw, 0x00, 32 + a);
		memset(p + n, 0x00, sizeof raw - 32 - a - n);
		uint16_t c0 = sl_csum(p, n);
		memset(raw, 0xff, 32 + a);
		memset(p + n, 0xff, sizeof raw - 32 - a - n);
		uint16_t c1 = sl_csum(p, n);
		assert_int_equal(c0, (uint16_t)~s);
		assert_int_equal(c1, (uint16_t)~s);
	}
}

/* Exactly-sized heap copies: under ASan a read past the end of the data is an error. */
static void test_csum_reads_only_its_bytes(void **state)
{
	seed(1073);
	for (size_t n = 0; n <= 300; n++) {
		for (size_t a = 0; a < 16; a++) {
			/* The block ends right after the data (ASan knows the exact size), which
			 * starts a bytes into it. */
			uint8_t *blk = malloc(n + a ? n + a : 1);
			assert_non_null(blk);
			uint8_t *p = blk + a;
			fill(p, n);
			assert_int_equal(sl_csum(p, n), (uint16_t)~ref_sum(p, n));
			assert_int_equal(sl_csum_fold(sl_csum_add(0x1234, p, n)),
					 ref_add(0x1234, ref_sum(p, n)));
			free(blk);
		}
	}
}

/* --- chained calls ------------------------------------------------------------------------- */

/* A datagram summed the way an output path does: pieces of even length, each from its own
 * buffer at its own alignment (a header here, a payload there), then a final piece of any
 * length (odd too), folded at the end. */
static void test_csum_add_chained_pieces(void **state)
{
	seed(1074);
	static uint8_t whole[4200];
	static uint8_t piece_buf[4200 + 32];
	for (int it = 0; it < 20000; it++) {
		size_t n = (size_t)below(2001);
		fill(whole, n);
		uint64_t acc = 0;
		size_t pos = 0;
		unsigned npieces = 0;
		while (pos < n) {
			size_t left = n - pos;
			size_t step;
			if (below(4) == 0 || left <= 1) {
				step = left; /* the final piece: any length */
			} else {
				step = 2 * (size_t)below(left / 2 + 1); /* even, 0 allowed */
			}
			size_t a = (size_t)below(16);
			memcpy(piece_buf + a, whole + pos, step);
			acc = sl_csum_add(acc, piece_buf + a, step);
			pos += step;
			npieces++;
			if (step == left)
				break;
		}
		uint16_t want = ref_sum(whole, n);
		if (sl_csum_fold(acc) != want) {
			print_message("len %zu in %u pieces: fold %04x, want %04x\n", n, npieces,
				      sl_csum_fold(acc), want);
			fail();
		}
	}
}

/* Many even pieces of 2 bytes, then 1 odd byte: the smallest steps, every alignment. */
static void test_csum_add_two_byte_steps(void **state)
{
	seed(1075);
	static uint8_t whole[1025];
	static uint8_t b[32];
	for (int it = 0; it < 200; it++) {
		size_t n = 2 * (size_t)below(512) + 1;
		fill(whole, n);
		uint64_t acc = 0;
		for (size_t i = 0; i + 1 < n; i += 2) {
			size_t a = (size_t)below(16);
			memcpy(b + a, whole + i, 2);
			acc = sl_csum_add(acc, b + a, 2);
		}
		size_t a = (size_t)below(16);
		b[a] = whole[n - 1];
		acc = sl_csum_add(acc, b + a, 1);
		assert_int_equal(sl_csum_fold(acc), ref_sum(whole, n));
	}
}

/* --- the accumulator ------------------------------------------------------------------------ */

/* The largest accumulator the contract above allows before adding len bytes. */
static uint64_t acc_bound(size_t len)
{
	uint64_t words = (len + 3) / 4;
	return 0xffffffffULL * (0xffffffffULL - words);
}

static void check_acc(uint64_t acc, const uint8_t *p, size_t n)
{
	uint16_t want = ref_add(ref_fold64(acc), ref_sum(p, n));
	uint16_t got = sl_csum_fold(sl_csum_add(acc, p, n));
	if (got != want) {
		print_message("acc %#llx + %zu bytes: fold %04x, want %04x\n",
			      (unsigned long long)acc, n, got, want);
		fail();
	}
}

/* Non-zero incoming accumulators: small ones (a 16-bit partial sum, a pseudo-header), sums of
 * random 32-bit words, and the largest the contract allows (within 2^33 of 2^64), with data
 * of random length at random alignment. */
static void test_csum_add_nonzero_accumulator(void **state)
{
	seed(1076);
	static uint8_t raw[2000 + 32];
	for (int it = 0; it < 20000; it++) {
		size_t n = (size_t)below(2001), a = (size_t)below(16);
		uint8_t *p = raw + a;
		fill(p, n);
		uint64_t bound = acc_bound(n);
		uint64_t acc;
		switch (it % 8) {
		case 0:
			acc = (uint16_t)rnd(); /* a folded partial sum */
			break;
		case 1: { /* a few 32-bit words, as a pseudo-header sum is */
			acc = 0;
			for (int k = 0; k < 4; k++)
				acc += (uint32_t)rnd();
			break;
		}
		case 2: /* a long run of prior adds: up to 2^24 words' worth */
			acc = below(0xffffffffULL << 24);
			break;
		case 3: /* exactly the bound: 2^32 − 1 − words prior adds of 0xffffffff */
			acc = bound;
			break;
		case 4: /* just below the bound */
			acc = bound - below(1ULL << 40);
			break;
		case 5: /* any value within the bound */
			acc = below(bound + 1);
			break;
		case 6: /* the bound less a little, so every residue shows up */
			acc = bound - below(0x20000);
			break;
		default: /* multiples of 0xffff: one's-complement zero, not 0 */
			acc = 0xffffULL * (1 + below(bound / 0xffff));
			break;
		}
		check_acc(acc, p, n);
	}
	/* Corners, at lengths that end on every kind of tail. */
	static const size_t lens[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 1500, 2000};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		size_t n = lens[k];
		memset(raw, 0xff, n); /* the data adds as much as it can */
		uint64_t bound = acc_bound(n);
		uint64_t corners[] = {
		    1,	   0xffff,    0x10000,	      0xffffffffULL, 0x100000000ULL,
		    bound, bound - 1, bound - 0xffff, bound / 2};
		for (size_t c = 0; c < sizeof corners / sizeof corners[0]; c++)
			for (size_t a = 0; a < 16; a += 5) {
				memset(raw + a, 0xff, n);
				check_acc(corners[c], raw + a, n);
			}
	}
}

/* An accumulator carried across many calls: 1000 datagrams' worth of pieces summed into one
 * accumulator (as a caller summing a long chain does), checked after every call. */
static void test_csum_add_long_chain(void **state)
{
	seed(1077);
	static uint8_t raw[2000 + 32];
	uint64_t acc = 0;
	uint16_t want = 0;
	for (int it = 0; it < 1000; it++) {
		size_t n = 2 * (size_t)below(1001), a = (size_t)below(16);
		uint8_t *p = raw + a;
		fill(p, n);
		acc = sl_csum_add(acc, p, n);
		want = ref_add(want, ref_sum(p, n));
		uint16_t got = sl_csum_fold(acc);
		if (got != want) {
			print_message("after %d pieces: fold %04x, want %04x\n", it + 1, got, want);
			fail();
		}
	}
}

/* --- fold ------------------------------------------------------------------------------------ */

/* Fold takes any 64-bit value: random ones, and every carry corner. */
static void test_csum_fold_any_value(void **state)
{
	seed(1078);
	static const uint64_t corners[] = {
	    0,
	    1,
	    0xfffe,
	    0xffff,
	    0x10000,
	    0x1fffe,
	    0x1ffff,
	    0xffffffffULL,
	    0x100000000ULL,
	    0xfffeffffULL,
	    0xffff0000ULL,
	    0xffffffff0000ULL,
	    0x0000ffffffffffffULL,
	    0xffff000000000000ULL,
	    0xfffffffeffffffffULL,
	    0xffffffff00000000ULL,
	    0xffffffff00000001ULL,
	    0xfffffffffffffffeULL,
	    0xffffffffffffffffULL,
	    0x8000000000000000ULL,
	    0x7fffffffffffffffULL,
	    0xfffe0001fffe0001ULL, /* (2^32 − 1)^2 */
	};
	for (size_t i = 0; i < sizeof corners / sizeof corners[0]; i++) {
		uint64_t v = corners[i];
		if (sl_csum_fold(v) != ref_fold64(v)) {
			print_message("fold(%#llx) = %04x, want %04x\n", (unsigned long long)v,
				      sl_csum_fold(v), ref_fold64(v));
			fail();
		}
	}
	for (int it = 0; it < 1000000; it++) {
		uint64_t v = rnd();
		switch (it % 4) {
		case 1:
			v >>= below(64);
			break;
		case 2:
			v |= 0xffffffff00000000ULL;
			break;
		case 3:
			v = 0xffffULL * (v >> 17);
			break;
		}
		if (sl_csum_fold(v) != ref_fold64(v)) {
			print_message("fold(%#llx) = %04x, want %04x\n", (unsigned long long)v,
				      sl_csum_fold(v), ref_fold64(v));
			fail();
		}
	}
}

/* --- pseudo-headers --------------------------------------------------------------------------- */

/* RFC 768: source, destination, zero, protocol, UDP length. */
static uint16_t ref_pseudo4(uint32_t s, uint32_t d, uint8_t proto, uint16_t len)
{
	uint8_t ph[12] = {(uint8_t)(s >> 24),
			  (uint8_t)(s >> 16),
			  (uint8_t)(s >> 8),
			  (uint8_t)s,
			  (uint8_t)(d >> 24),
			  (uint8_t)(d >> 16),
			  (uint8_t)(d >> 8),
			  (uint8_t)d,
			  0,
			  proto,
			  (uint8_t)(len >> 8),
			  (uint8_t)len};
	return ref_sum(ph, sizeof ph);
}

/* RFC 8200 §8.1: source, destination, 32-bit upper-layer length, 3 zero bytes, next header. */
static uint16_t ref_pseudo6(const uint8_t *s, const uint8_t *d, uint8_t proto, uint32_t len)
{
	uint8_t ph[40];
	memcpy(ph, s, 16);
	memcpy(ph + 16, d, 16);
	ph[32] = (uint8_t)(len >> 24), ph[33] = (uint8_t)(len >> 16);
	ph[34] = (uint8_t)(len >> 8), ph[35] = (uint8_t)len;
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return ref_sum(ph, sizeof ph);
}

static void test_pseudo_headers(void **state)
{
	seed(768);
	for (int it = 0; it < 100000; it++) {
		uint32_t s = (uint32_t)rnd(), d = (uint32_t)rnd();
		if (it % 5 == 0)
			s = 0xffffffff, d = 0xffffffff;
		uint8_t proto = (uint8_t)(it % 3 == 0 ? 17 : it % 3 == 1 ? 6 : rnd());
		uint16_t len = (uint16_t)rnd();
		uint16_t want = ref_pseudo4(s, d, proto, len);
		assert_int_equal(sl_csum_fold(sl_csum_pseudo4(s, d, proto, len)), want);
		sl_ip a = sl_ip_v4(s), b = sl_ip_v4(d);
		assert_int_equal(sl_csum_fold(sl_ip_pseudoheader(&a, &b, proto, len)), want);

		uint8_t s6[16], d6[16];
		for (int k = 0; k < 16; k++)
			s6[k] = (uint8_t)rnd(), d6[k] = (uint8_t)rnd();
		if (it % 7 == 0)
			memset(s6, 0xff, 16), memset(d6, 0xff, 16);
		s6[0] = 0xfd; /* not IPv4-mapped: sl_ip_pseudoheader picks the family by address */
		d6[0] = 0x20;
		uint32_t l6 = it % 2 ? len : (uint32_t)rnd();
		uint16_t want6 = ref_pseudo6(s6, d6, proto, l6);
		assert_int_equal(sl_csum_fold(sl_csum_pseudo6(s6, d6, proto, l6)), want6);
		sl_ip a6, b6;
		memcpy(a6.b, s6, 16);
		memcpy(b6.b, d6, 16);
		assert_int_equal(sl_csum_fold(sl_ip_pseudoheader(&a6, &b6, proto, len)),
				 ref_pseudo6(s6, d6, proto, len));
	}
}

/* A whole UDP checksum built as an output path builds it: the pseudo-header sum, the 8-byte
 * header (checksum field 0) from one buffer, the payload from another at any alignment, then
 * ~fold — equal to the reference over the concatenation (RFC 768), for both families. */
static void test_udp_checksum_composed(void **state)
{
	seed(769);
	static uint8_t raw[2000 + 32];
	static uint8_t cat[40 + 8 + 2000];
	for (int it = 0; it < 20000; it++) {
		bool v6 = it & 1;
		size_t n = (size_t)below(2001), a = (size_t)below(16);
		uint8_t *p = raw + a;
		fill(p, n);
		uint8_t h[8];
		uint16_t ulen = (uint16_t)(8 + n);
		h[0] = (uint8_t)rnd(), h[1] = (uint8_t)rnd(), h[2] = (uint8_t)rnd(),
		h[3] = (uint8_t)rnd();
		h[4] = (uint8_t)(ulen >> 8), h[5] = (uint8_t)ulen, h[6] = h[7] = 0;
		sl_ip s, d;
		size_t phl;
		if (v6) {
			for (int k = 0; k < 16; k++)
				s.b[k] = (uint8_t)rnd(), d.b[k] = (uint8_t)rnd();
			s.b[0] = 0xfd, d.b[0] = 0xfd;
			memcpy(cat, s.b, 16);
			memcpy(cat + 16, d.b, 16);
			cat[32] = 0, cat[33] = 0, cat[34] = (uint8_t)(ulen >> 8),
			cat[35] = (uint8_t)ulen;
			cat[36] = cat[37] = cat[38] = 0, cat[39] = 17;
			phl = 40;
		} else {
			uint32_t s4 = (uint32_t)rnd(), d4 = (uint32_t)rnd();
			s = sl_ip_v4(s4), d = sl_ip_v4(d4);
			memcpy(cat, s.b + 12, 4);
			memcpy(cat + 4, d.b + 12, 4);
			cat[8] = 0, cat[9] = 17, cat[10] = (uint8_t)(ulen >> 8),
			cat[11] = (uint8_t)ulen;
			phl = 12;
		}
		memcpy(cat + phl, h, 8);
		memcpy(cat + phl + 8, p, n);
		uint16_t want = (uint16_t)~ref_sum(cat, phl + 8 + n);
		uint64_t acc = sl_ip_pseudoheader(&s, &d, 17, ulen);
		acc = sl_csum_add(acc, h, 8);
		acc = sl_csum_add(acc, p, n);
		assert_int_equal((uint16_t)~sl_csum_fold(acc), want);
	}
}

/* --- verification ------------------------------------------------------------------------------
 */

/* Data holding its own checksum (at any even offset) verifies: sl_csum gives 0. */
static void test_csum_verify_gives_zero(void **state)
{
	seed(770);
	static uint8_t raw[2002 + 32];
	for (int it = 0; it < 20000; it++) {
		size_t n = 2 + 2 * (size_t)below(1000) + (size_t)below(2), a = (size_t)below(16);
		uint8_t *p = raw + a;
		fill(p, n);
		if (!ref_sum(p, n))
			p[0] = 1; /* all zero: no checksum can make it verify as 0 */
		size_t at = 2 * (size_t)below(n / 2);
		p[at] = p[at + 1] = 0;
		uint16_t c = (uint16_t)~ref_sum(p, n);
		p[at] = (uint8_t)(c >> 8), p[at + 1] = (uint8_t)c;
		assert_int_equal(ref_sum(p, n), 0xffff);
		assert_int_equal(sl_csum(p, n), 0);
	}
}

/* --- RFC 1624 incremental update ------------------------------------------------------------- */

/* A header template updated field by field (an identification, a length) must carry exactly
 * the checksum a computation from scratch gives (RFC 1624 eqn. 3; never 0xffff for a header
 * that is not all zero, §3). */
static void test_csum_update_equals_recompute(void **state)
{
	seed(1624);
	for (int it = 0; it < 200000; it++) {
		uint8_t h[20];
		for (int k = 0; k < 20; k++)
			h[k] = (uint8_t)rnd();
		if (it % 11 == 0)
			memset(h, 0xff, 20);
		h[0] |= 0x40; /* never all zero */
		h[10] = h[11] = 0;
		uint16_t c = (uint16_t)~ref_sum(h, 20);
		static const size_t at16[] = {0,  2,  4,  6, 8,
					      12, 14, 16, 18}; /* not 10: the field */
		static const size_t at32[] = {0, 4, 12, 16};
		if (it % 2 == 0) {
			size_t at = at16[below(9)];
			uint16_t old = (uint16_t)(h[at] << 8 | h[at + 1]);
			uint16_t nw = (uint16_t)(it % 3 == 0 ? ~old : rnd());
			h[at] = (uint8_t)(nw >> 8), h[at + 1] = (uint8_t)nw;
			if (!ref_sum(h, 20))
				continue;
			uint16_t want = (uint16_t)~ref_sum(h, 20);
			assert_int_equal(sl_csum_update16(c, old, nw), want);
		} else {
			size_t at = at32[below(4)];
			uint32_t old = (uint32_t)h[at] << 24 | (uint32_t)h[at + 1] << 16 |
				       (uint32_t)h[at + 2] << 8 | h[at + 3];
			uint32_t nw = (uint32_t)rnd();
			h[at] = (uint8_t)(nw >> 24), h[at + 1] = (uint8_t)(nw >> 16);
			h[at + 2] = (uint8_t)(nw >> 8), h[at + 3] = (uint8_t)nw;
			if (!ref_sum(h, 20))
				continue;
			uint16_t want = (uint16_t)~ref_sum(h, 20);
			assert_int_equal(sl_csum_update32(c, old, nw), want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_rfc1071_example),
	    cmocka_unit_test(test_csum_every_length_and_alignment),
	    cmocka_unit_test(test_csum_ignores_neighbouring_bytes),
	    cmocka_unit_test(test_csum_reads_only_its_bytes),
	    cmocka_unit_test(test_csum_add_chained_pieces),
	    cmocka_unit_test(test_csum_add_two_byte_steps),
	    cmocka_unit_test(test_csum_add_nonzero_accumulator),
	    cmocka_unit_test(test_csum_add_long_chain),
	    cmocka_unit_test(test_csum_fold_any_value),
	    cmocka_unit_test(test_pseudo_headers),
	    cmocka_unit_test(test_udp_checksum_composed),
	    cmocka_unit_test(test_csum_verify_gives_zero),
	    cmocka_unit_test(test_csum_update_equals_recompute),
	};
	return cmocka_run_group_tests_name("csum_ref", tests, NULL, NULL);
}
