#include "wire/tcp.h"
#include "wire/checksum.h"
#include "sluice/stats.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WS 3
#define OPT_SACK_OK 4
#define OPT_SACK 5
#define OPT_TS 8

int sl_tcp_parse_opts(const uint8_t *opt, size_t len, struct sl_tcp_opts *o)
{
	o->mss = 0;
	o->wscale = -1;
	o->sack_ok = false;
	o->has_ts = false;
	o->nsack = 0;
	/* RFC 7323 Appendix A's layout, what nearly every segment of a connection with
	 * timestamps carries: NOP, NOP, TS (10 bytes), nothing else. */
	if (len == 12 && opt[0] == OPT_NOP && opt[1] == OPT_NOP && opt[2] == OPT_TS &&
	    opt[3] == 10) {
		o->has_ts = true;
		o->ts_val = sl_get32(opt + 4);
		o->ts_ecr = sl_get32(opt + 8);
		return 0;
	}
	size_t i = 0;
	while (i < len) {
		uint8_t kind = opt[i];
		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		/* RFC 9293 §3.2: every other option has a length byte covering kind and length. */
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			return SL_STAT_tcp_bad_opts;
		uint8_t olen = opt[i + 1];
		const uint8_t *v = opt + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return SL_STAT_tcp_bad_opts;
			o->mss = sl_get16(v);
			break;
		case OPT_WS:
			if (olen != 3)
				return SL_STAT_tcp_bad_opts;
			/* RFC 7323 §2.3: a shift above 14 is used as 14. */
			o->wscale = (int8_t)(v[0] > 14 ? 14 : v[0]);
			break;
		case OPT_SACK_OK:
			if (olen != 2)
				return SL_STAT_tcp_bad_opts;
			o->sack_ok = true;
			break;
		case OPT_TS:
			if (olen != 10)
				return SL_STAT_tcp_bad_opts;
			o->has_ts = true;
			o->ts_val = sl_get32(v);
			o->ts_ecr = sl_get32(v + 4);
			break;
		case OPT_SACK:
			/* RFC 2018 §3: 8 bytes a block, 1 to 4 blocks. A malformed list is ignored
			 * (the segment is still good; only the hint is lost), as Linux does. */
			if (olen < 10 || (olen - 2) % 8 != 0 || olen > 2 + 8 * SL_TCP_SACK_MAX)
				break;
			o->nsack = (uint8_t)((olen - 2) / 8);
			for (unsigned b = 0; b < o->nsack; b++) {
				o->sack[b].l = sl_get32(v + 8 * b);
				o->sack[b].r = sl_get32(v + 8 * b + 4);
			}
			break;
		default: /* unknown options: skipped by their length */
			break;
		}
		i += olen;
	}
	return 0;
}

int sl_tcp_check(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, struct sl_tcp_opts *o)
{
	return sl_tcp_check_ps(p, len, sl_csum_pseudo4(src, dst, 6, (uint16_t)len), o);
}

/* SACK blocks that fit beside the other options (RFC 2018 §3: 4 alone, 3 with timestamps). */
static unsigned sack_fit(const struct sl_tcp_hdr *h)
{
	unsigned used = (h->mss ? 4 : 0) + (h->ts || h->sack_ok ? 12 : 0) + (h->wscale >= 0 ? 4 : 0);
	if (h->sack_ok && !h->ts)
		used -= 8; /* NOP NOP SACK-permitted */
	unsigned room = used + 4 <= 40 ? (40 - used - 4) / 8 : 0;
	unsigned n = h->nsack < SL_TCP_SACK_MAX ? h->nsack : SL_TCP_SACK_MAX;
	return n < room ? n : room;
}

unsigned sl_tcp_opts_len(const struct sl_tcp_hdr *h)
{
	unsigned n = sack_fit(h);
	unsigned len = (h->mss ? 4 : 0) + (h->wscale >= 0 ? 4 : 0) + (n ? 4 + 8 * n : 0);
	if (h->ts)
		len += 12; /* SACK-permitted + TS, or NOP NOP TS */
	else if (h->sack_ok)
		len += 4; /* NOP NOP SACK-permitted */
	return len;
}

unsigned sl_tcp_emit(uint8_t *p, const struct sl_tcp_hdr *h)
{
	uint8_t *o = p + SL_TCP_HLEN;
	if (h->mss) {
		o[0] = OPT_MSS;
		o[1] = 4;
		sl_put16(o + 2, h->mss);
		o += 4;
	}
	/* SACK-permitted and timestamps share one aligned word group: 2 + 10 bytes, or padded
	 * with two NOPs when only one of them is sent. */
	if (h->ts) {
		if (h->sack_ok) {
			o[0] = OPT_SACK_OK;
			o[1] = 2;
		} else {
			o[0] = OPT_NOP;
			o[1] = OPT_NOP;
		}
		o[2] = OPT_TS;
		o[3] = 10;
		sl_put32(o + 4, h->ts_val);
		sl_put32(o + 8, h->ts_ecr);
		o += 12;
	} else if (h->sack_ok) {
		o[0] = OPT_NOP;
		o[1] = OPT_NOP;
		o[2] = OPT_SACK_OK;
		o[3] = 2;
		o += 4;
	}
	if (h->wscale >= 0) {
		o[0] = OPT_NOP;
		o[1] = OPT_WS;
		o[2] = 3;
		o[3] = (uint8_t)h->wscale;
		o += 4;
	}
	unsigned n = sack_fit(h);
	if (n) {
		o[0] = OPT_NOP;
		o[1] = OPT_NOP;
		o[2] = OPT_SACK;
		o[3] = (uint8_t)(2 + 8 * n);
		for (unsigned b = 0; b < n; b++) {
			sl_put32(o + 4 + 8 * b, h->sack[b].l);
			sl_put32(o + 8 + 8 * b, h->sack[b].r);
		}
		o += 4 + 8 * n;
	}
	unsigned hlen = (unsigned)(o - p);
	sl_put16(p, h->sport);
	sl_put16(p + 2, h->dport);
	sl_put32(p + 4, h->seq);
	sl_put32(p + 8, h->ack);
	p[12] = (uint8_t)((hlen / 4) << 4);
	p[13] = h->flags;
	sl_put16(p + 14, h->win);
	sl_put16(p + 16, 0);
	sl_put16(p + 18, 0);
	return hlen;
}

void sl_tcp_set_csum(uint8_t *p, size_t len, uint32_t src, uint32_t dst)
{
	sl_tcp_set_csum_ps(p, len, sl_csum_pseudo4(src, dst, 6, (uint16_t)len));
}

void sl_tcp_set_csum_ps(uint8_t *p, size_t len, uint64_t acc)
{
	sl_put16(p + 16, 0);
	sl_put16(p + 16, (uint16_t)~sl_csum_fold(sl_csum_add(acc, p, len)));
}
