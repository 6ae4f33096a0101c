/*
 * TCP header and options (RFC 9293 §3.1, options §3.2; window scale RFC 7323 §2;
 * SACK-permitted and SACK blocks RFC 2018 §2–3; timestamps RFC 7323 §3). Options are laid
 * out on 4-byte boundaries the way Linux sends them, so a capture reads familiarly.
 * Sequence arithmetic modulo 2^32 (RFC 9293 §3.4): always through seq_*().
 */
#ifndef SL_WIRE_TCP_H
#define SL_WIRE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sluice/stats.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/csum_avx2.h"

#define SL_TCP_HLEN 20
#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_PSH 0x08
#define SL_TCP_ACK 0x10
#define SL_TCP_URG 0x20

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}
/* a ≤ x < b */
static inline bool seq_in(uint32_t x, uint32_t a, uint32_t b)
{
	return seq_leq(a, x) && seq_lt(x, b);
}
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
	return seq_gt(a, b) ? a : b;
}

static inline uint16_t sl_tcp_sport(const uint8_t *p)
{
	return sl_get16(p);
}
static inline uint16_t sl_tcp_dport(const uint8_t *p)
{
	return sl_get16(p + 2);
}
static inline uint32_t sl_tcp_seq(const uint8_t *p)
{
	return sl_get32(p + 4);
}
static inline uint32_t sl_tcp_ack(const uint8_t *p)
{
	return sl_get32(p + 8);
}
static inline unsigned sl_tcp_hlen(const uint8_t *p)
{
	return (p[12] >> 4) * 4u;
}
static inline uint8_t sl_tcp_flags(const uint8_t *p)
{
	return p[13];
}
static inline uint16_t sl_tcp_win(const uint8_t *p)
{
	return sl_get16(p + 14);
}

/* A SACK block: the sequence numbers of the first byte and of the byte just past the end of
 * a run of data the receiver holds (RFC 2018 §3). */
struct sl_tcp_sack {
	uint32_t l, r;
};
#define SL_TCP_SACK_MAX 4 /* blocks that fit in the 40 bytes of option space */

/* Options we act on; the rest are recognised and skipped. */
struct sl_tcp_opts {
	uint16_t mss;  /* 0: absent */
	int8_t wscale; /* -1: absent */
	bool sack_ok;
	bool has_ts;
	uint32_t ts_val, ts_ecr;
	uint8_t nsack; /* SACK blocks, in the order the segment lists them */
	struct sl_tcp_sack sack[SL_TCP_SACK_MAX];
};

/* 0 when p[0..len) is a TCP segment with a sane data offset and well-formed options, and
 * the checksum (with the IPv4 pseudo-header of src/dst) is right; else the SL_STAT_
 * reason. Fills o. */
int sl_tcp_check(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, struct sl_tcp_opts *o);
/* Parse options only (bytes between the fixed header and the data offset). */
int sl_tcp_parse_opts(const uint8_t *opt, size_t len, struct sl_tcp_opts *o);
/* The same as sl_tcp_check with the pseudo-header sum given (either family:
 * sl_ip_pseudo_sum); inline for the receive path, which takes it for every segment. */
static inline int sl_tcp_check_ps(const uint8_t *p, size_t len, uint64_t acc, struct sl_tcp_opts *o)
{
	if (len < SL_TCP_HLEN)
		return SL_STAT_tcp_short;
	unsigned hlen = sl_tcp_hlen(p);
	if (hlen < SL_TCP_HLEN || hlen > len)
		return SL_STAT_tcp_bad_off;
	if (sl_csum_fold(sl_csum_add_long(acc, p, len)) != 0xffff)
		return SL_STAT_tcp_bad_csum;
	/* RFC 7323 Appendix A's layout, what nearly every segment of a connection with
	 * timestamps carries: NOP, NOP, TS (10 bytes), nothing else (sl_tcp_parse_opts takes
	 * it the same way). */
	if (hlen == SL_TCP_HLEN + 12 && sl_get32(p + SL_TCP_HLEN) == 0x0101080au) {
		o->mss = 0;
		o->wscale = -1;
		o->sack_ok = false;
		o->nsack = 0;
		o->has_ts = true;
		o->ts_val = sl_get32(p + SL_TCP_HLEN + 4);
		o->ts_ecr = sl_get32(p + SL_TCP_HLEN + 8);
		return 0;
	}
	return sl_tcp_parse_opts(p + SL_TCP_HLEN, hlen - SL_TCP_HLEN, o);
}

struct sl_tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t mss;  /* SYN only: 0 = none */
	int8_t wscale; /* SYN only: -1 = none */
	bool sack_ok;  /* SYN only: SACK-permitted */
	bool ts;       /* timestamps option with ts_val, ts_ecr */
	uint32_t ts_val, ts_ecr;
	uint8_t nsack; /* SACK blocks to send (as many as fit are sent: 3 with timestamps) */
	struct sl_tcp_sack sack[SL_TCP_SACK_MAX];
};
/* Option bytes sl_tcp_emit writes for h (its header is SL_TCP_HLEN + this). */
unsigned sl_tcp_opts_len(const struct sl_tcp_hdr *h);
/* Write the header (and options) at p; returns its length. The checksum is left 0. */
unsigned sl_tcp_emit(uint8_t *p, const struct sl_tcp_hdr *h);
/* Set the checksum over the header + payload at p (len bytes) for src/dst. */
void sl_tcp_set_csum(uint8_t *p, size_t len, uint32_t src, uint32_t dst);
void sl_tcp_set_csum_ps(uint8_t *p, size_t len, uint64_t pseudo);

#endif
