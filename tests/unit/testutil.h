/* Helpers shared by the cmocka tests. Header-only so each test is one binary. */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Parse a hex string ("45 00 00 1c", spaces/newlines ignored) into buf; returns bytes. */
static inline size_t tu_hex(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (const char *p = hex; *p; p++) {
		int v;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (n < cap)
				buf[n] = (uint8_t)(hi << 4 | v);
			n++;
			hi = -1;
		}
	}
	return n;
}

/* Seed from $SLUICE_SEED when set, else the given default; printed so a failure can be
 * replayed. */
static inline uint64_t tu_seed(uint64_t dflt)
{
	const char *s = getenv("SLUICE_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : dflt;
	return seed;
}

#endif
