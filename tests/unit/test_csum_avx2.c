/*
 * sl_csum_add_long (user/wire/csum_avx2.c): the same value as sl_csum_add and as RFC 1071
 * §1 taken literally (ref_sum below, written here), for every length up to 3000 bytes at
 * every alignment, for random data and for the words that stress the vector path (all
 * 0xffff: the largest pair sums; 0x8000: the sign flip; 0x7fff; zero: a sum of zero, which
 * folds to 0, not 0xffff). On a machine without AVX2 it is sl_csum_add, and passes the same.
 */
#include <stdbool.h>
#include "unit/testutil.h"
#include "wire/checksum.h"
#include "wire/csum_avx2.h"
#include "util/rng.h"

/* RFC 1071 §1: 16-bit big-endian words, an odd last byte padded with zero, end-around
 * carry after every word. The sum, not complemented. */
static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i += 2) {
		s += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

static uint8_t buf[3000 + 64];

static void check_all(const char *what)
{
	static const uint64_t accs[] = {0, 1, 0xffff, 0x12345678, 0xfffffffffull};
	for (size_t off = 0; off < 4; off++)
		for (size_t len = 0; len <= 3000; len++) {
			const uint8_t *p = buf + off;
			for (unsigned a = 0; a < sizeof accs / sizeof accs[0]; a++) {
				uint64_t want = sl_csum_add(accs[a], p, len);
				uint64_t got = sl_csum_add_long(accs[a], p, len);
				if (want != got) {
					print_message("%s: off %zu len %zu acc %llx: %llx != %llx\n", what,
						      off, len, (unsigned long long)accs[a],
						      (unsigned long long)got,
						      (unsigned long long)want);
					fail();
				}
			}
			/* And against the literal reference (acc 0: the folded sum). */
			uint16_t r = ref_sum(p, len);
			uint16_t g = sl_csum_fold(sl_csum_add_long(0, p, len));
			if (r != g && !(r == 0xffff && g == 0) && !(r == 0 && g == 0xffff)) {
				print_message("%s: off %zu len %zu: fold %04x, reference %04x\n", what,
					      off, len, g, r);
				fail();
			}
		}
}

static void test_csum_long_random(void **state)
{
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(11));
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = (uint8_t)sl_rng_next(&r);
		check_all("random");
	}
}

static void test_csum_long_patterns(void **state)
{
	static const uint8_t fills[][2] = {{0xff, 0xff}, {0x80, 0x00}, {0x00, 0x80},
					   {0x7f, 0xff}, {0xff, 0x7f}, {0x00, 0x00}};
	for (unsigned f = 0; f < sizeof fills / sizeof fills[0]; f++) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = fills[f][i & 1];
		check_all("pattern");
	}
}

/* The largest block it takes, and one past (sl_csum_add's): all 0xff, the worst case for the
 * lanes. */
static void test_csum_long_64k(void **state)
{
	static uint8_t big[65536 + 8];
	memset(big, 0xff, sizeof big);
	for (size_t len = 65528; len <= 65536 + 8; len++)
		assert_int_equal(sl_csum_add_long(7, big, len), sl_csum_add(7, big, len));
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(12));
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)sl_rng_next(&r);
	for (size_t len = 65528; len <= 65536 + 8; len++)
		assert_int_equal(sl_csum_add_long(7, big, len), sl_csum_add(7, big, len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_long_random),
	    cmocka_unit_test(test_csum_long_patterns),
	    cmocka_unit_test(test_csum_long_64k),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
