/*
 * TCP header and options (user/wire/tcp.[ch], RFC 9293 §3.1–3.2, RFC 7323, RFC 2018):
 * sl_tcp_parse_opts and sl_tcp_check against the oracle's parser and checksum, the
 * accessors and sequence comparisons, and sl_tcp_emit: the options it writes are re-read by
 * the oracle and must say what it was asked, fit in 40 bytes, and match sl_tcp_opts_len.
 * Input: a TCP segment; its first 8 bytes double as the IPv4 addresses of the pseudo-header
 * and its tail as the fields of a header to emit.
 */
#include "fuzz/oracle.h"
#include "wire/tcp.h"
#include "sluice/stats.h"

static void same_opts(const struct sl_tcp_opts *o, const struct ora_tcpopt *r)
{
	if ((r->mss > 0 ? r->mss : 0) != o->mss)
		ORA_FAIL("MSS %u, reference %d", o->mss, r->mss);
	if ((r->wscale < 0 ? -1 : r->wscale > 14 ? 14 : r->wscale) != o->wscale)
		ORA_FAIL("window scale %d, reference %d", o->wscale, r->wscale);
	if (o->sack_ok != r->sack_ok || o->has_ts != r->ts ||
	    (r->ts && (o->ts_val != r->tsval || o->ts_ecr != r->tsecr)))
		ORA_FAIL("SACK-permitted or timestamps differ");
	if (o->nsack != (r->nsack < 0 ? 0 : r->nsack))
		ORA_FAIL("%u SACK blocks, reference %d", o->nsack, r->nsack);
	for (int b = 0; b < r->nsack; b++)
		if (o->sack[b].l != r->sack[b][0] || o->sack[b].r != r->sack[b][1])
			ORA_FAIL("SACK block %d differs", b);
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t len)
{
	if (len > 65535)
		return 0;
	struct sl_tcp_opts o;
	/* Options alone, the whole input as the option bytes (up to 40 as on the wire, but the
	 * parser takes any length). */
	struct ora_tcpopt r = ora_tcp_opts(p, len);
	int v = sl_tcp_parse_opts(p, len, &o);
	if ((v != 0) != r.bad)
		ORA_FAIL("sl_tcp_parse_opts %d, reference %s", v, r.bad ? "malformed" : "good");
	if (!v)
		same_opts(&o, &r);
	/* The input as a segment from 10.0.0.1 to 10.0.0.2. */
	static const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
	int want = 0;
	size_t off = len >= 20 ? (size_t)(p[12] >> 4) * 4 : 0;
	if (len < 20)
		want = SL_STAT_tcp_short;
	else if (off < 20 || off > len)
		want = SL_STAT_tcp_bad_off;
	else if (ora_sum(ora_pseudo4(src, dst, 6, (uint32_t)len), p, len) != 0xffff)
		want = SL_STAT_tcp_bad_csum;
	else if ((r = ora_tcp_opts(p + 20, off - 20)).bad)
		want = SL_STAT_tcp_bad_opts;
	v = sl_tcp_check(p, len, 0x0a000001, 0x0a000002, &o);
	if (v != want)
		ORA_FAIL("sl_tcp_check %d, expected %d", v, want);
	if (!v)
		same_opts(&o, &r);
	if (len < 20)
		return 0;
	if (sl_tcp_sport(p) != ora_g16(p) || sl_tcp_dport(p) != ora_g16(p + 2) ||
	    sl_tcp_seq(p) != ora_g32(p + 4) || sl_tcp_ack(p) != ora_g32(p + 8) ||
	    sl_tcp_hlen(p) != (p[12] >> 4) * 4u || sl_tcp_flags(p) != p[13] ||
	    sl_tcp_win(p) != ora_g16(p + 14))
		ORA_FAIL("TCP accessors");
	/* Sequence space (RFC 9293 §3.4): a < b when b - a, mod 2^32, is in 1..2^31-1; exactly
	 * 2^31 apart the order is undefined (RFC 1982 §3.2), and seq_lt says "less" both ways,
	 * as Linux's before() does. */
	uint32_t a = ora_g32(p + 4), b = ora_g32(p + 8), dlt = b - a;
	bool lt = dlt != 0 && dlt < 0x80000000u;
	if (dlt != 0x80000000u &&
	    (seq_lt(a, b) != lt || seq_gt(b, a) != lt || seq_leq(a, b) != (lt || a == b) ||
	     seq_geq(b, a) != (lt || a == b)))
		ORA_FAIL("sequence comparison of %08x and %08x", a, b);
	/* Emit a header from fields taken from the input, with its tail as the payload. */
	struct sl_tcp_hdr h = {
	    .sport = ora_g16(p), .dport = ora_g16(p + 2), .seq = a, .ack = b, .flags = p[13],
	    .win = ora_g16(p + 14), .mss = (p[16] & 1) ? ora_g16(p + 17) : 0,
	    .wscale = (p[16] & 2) ? (int8_t)(p[18] % 15) : -1, .sack_ok = p[16] & 4,
	    .ts = p[16] & 8, .ts_val = a ^ 0x1234, .ts_ecr = b ^ 0x4321,
	    .nsack = (uint8_t)((p[16] >> 4) % 5)};
	for (unsigned k = 0; k < SL_TCP_SACK_MAX; k++) {
		h.sack[k].l = a + 1000 * k;
		h.sack[k].r = a + 1000 * k + 500;
	}
	static uint8_t seg[65536 + 60];
	unsigned hl = sl_tcp_emit(seg, &h);
	if (hl != SL_TCP_HLEN + sl_tcp_opts_len(&h) || hl > 60 || hl % 4 || seg[12] >> 4 != hl / 4)
		ORA_FAIL("sl_tcp_emit header of %u bytes, opts_len %u", hl, sl_tcp_opts_len(&h));
	size_t dl = len - 20;
	memcpy(seg + hl, p + 20, dl);
	sl_tcp_set_csum(seg, hl + dl, 0x0a000001, 0x0a000002);
	if (ora_sum(ora_pseudo4(src, dst, 6, (uint32_t)(hl + dl)), seg, hl + dl) != 0xffff)
		ORA_FAIL("sl_tcp_set_csum wrong");
	if (ora_g16(seg) != h.sport || ora_g16(seg + 2) != h.dport || ora_g32(seg + 4) != h.seq ||
	    ora_g32(seg + 8) != h.ack || seg[13] != h.flags || ora_g16(seg + 14) != h.win)
		ORA_FAIL("sl_tcp_emit fixed fields");
	r = ora_tcp_opts(seg + 20, hl - 20);
	if (r.bad)
		ORA_FAIL("sl_tcp_emit wrote malformed options");
	if ((h.mss ? h.mss : -1) != r.mss || h.wscale != r.wscale || h.sack_ok != r.sack_ok ||
	    h.ts != r.ts || (h.ts && (r.tsval != h.ts_val || r.tsecr != h.ts_ecr)))
		ORA_FAIL("sl_tcp_emit options do not say what was asked");
	/* RFC 2018 §3: as many of the blocks asked as fit (at most 3 beside timestamps). */
	int room = (40 - (hl - 20 - (r.nsack > 0 ? 4 + 8 * r.nsack : 0))) >= 4
		       ? (int)((40 - (hl - 20 - (r.nsack > 0 ? 4 + 8 * r.nsack : 0)) - 4) / 8)
		       : 0;
	int expect = h.nsack < room ? h.nsack : room;
	if ((r.nsack < 0 ? 0 : r.nsack) != expect)
		ORA_FAIL("%d SACK blocks emitted, %d asked, room for %d", r.nsack, h.nsack, room);
	for (int k = 0; k < r.nsack; k++)
		if (r.sack[k][0] != h.sack[k].l || r.sack[k][1] != h.sack[k].r)
			ORA_FAIL("SACK block %d emitted wrong", k);
	return 0;
}
