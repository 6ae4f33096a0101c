/*
 * The Internet checksum (user/wire/checksum.c) against tests/fuzz/oracle.h's slow one:
 * sl_csum over the input at any alignment, sl_csum_add in pieces with even boundaries from a
 * nonzero accumulator, both pseudo-headers, and RFC 1624 incremental updates against a full
 * recomputation. Input: 1 byte of control, then the data.
 */
#include "fuzz/oracle.h"
#include "wire/checksum.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	if (size < 1 || size > 70000)
		return 0;
	uint8_t ctl = in[0];
	const uint8_t *d = in + 1;
	size_t n = size - 1;
	/* Whole buffer at an alignment chosen by the input. */
	static uint8_t buf[70008];
	size_t al = ctl & 7;
	memcpy(buf + al, d, n);
	uint16_t want = ora_csum(d, n);
	if (sl_csum(buf + al, n) != want)
		ORA_FAIL("sl_csum %04x, reference %04x (len %zu, alignment %zu)",
			 sl_csum(buf + al, n), want, n, al);
	/* In pieces: even cuts at steps taken from the data, from accumulator seed. */
	uint64_t seed = n >= 8 ? ora_g32(d) * 0x10001ull + ora_g32(d + 4) : 0;
	uint64_t acc = seed;
	size_t pos = 0;
	for (unsigned k = 0; pos < n; k++) {
		size_t step = 2 * (1 + (size_t)d[k % n] % 40);
		if (pos + step > n)
			step = n - pos;
		acc = sl_csum_add(acc, d + pos, step);
		pos += step;
	}
	uint16_t seed16 = 0;
	for (int s = 0; s < 64; s += 16)
		seed16 = ora_add16(seed16, (uint16_t)(seed >> s));
	uint16_t sum = ora_sum(seed16, d, n);
	uint16_t got = sl_csum_fold(acc);
	/* 0 and 0xffff are the same one's-complement number; fold gives 0 only for a zero sum. */
	if (got != sum && !((got == 0xffff && sum == 0) || (got == 0 && sum == 0xffff)))
		ORA_FAIL("sl_csum_add in pieces %04x, reference %04x", got, sum);
	/* Pseudo-headers. */
	if (n >= 40) {
		uint8_t proto = d[32];
		uint32_t len6 = ora_g32(d + 33);
		uint16_t l4 = ora_g16(d + 37);
		uint16_t p4 = sl_csum_fold(sl_csum_pseudo4(ora_g32(d), ora_g32(d + 4), proto, l4));
		uint16_t r4 = ora_pseudo4(d, d + 4, proto, l4);
		if (p4 != r4 && !((p4 == 0xffff && r4 == 0) || (p4 == 0 && r4 == 0xffff)))
			ORA_FAIL("pseudo4 %04x, reference %04x", p4, r4);
		uint16_t p6 = sl_csum_fold(sl_csum_pseudo6(d, d + 16, proto, len6));
		uint16_t r6 = ora_pseudo6(d, d + 16, proto, len6);
		if (p6 != r6 && !((p6 == 0xffff && r6 == 0) || (p6 == 0 && r6 == 0xffff)))
			ORA_FAIL("pseudo6 %04x, reference %04x", p6, r6);
	}
	/* Incremental update: change the 16- or 32-bit word at an even offset and compare with
	 * the checksum recomputed from scratch. The data keeps a nonzero word 0 (as every
	 * header the stack updates does) so that the checksum is never the all-zero case. */
	if (n >= 12 && n <= 4096) {
		memcpy(buf, d, n);
		buf[0] |= 0x40;
		size_t off = 2 + 2 * ((size_t)ora_g16(d + 2) % ((n - 6) / 2));
		uint16_t hc = ora_csum(buf, n);
		if (ctl & 8) {
			uint32_t old = ora_g32(buf + off), nw = ora_g32(d + n - 4) ^ ctl;
			uint16_t inc = sl_csum_update32(hc, old, nw);
			ora_p32(buf + off, nw);
			if (inc != ora_csum(buf, n))
				ORA_FAIL("update32 %04x, recomputed %04x", inc, ora_csum(buf, n));
		} else {
			uint16_t old = ora_g16(buf + off), nw = ora_g16(d + n - 2) ^ ctl;
			uint16_t inc = sl_csum_update16(hc, old, nw);
			ora_p16(buf + off, nw);
			if (inc != ora_csum(buf, n))
				ORA_FAIL("update16 %04x, recomputed %04x", inc, ora_csum(buf, n));
		}
	}
	return 0;
}
