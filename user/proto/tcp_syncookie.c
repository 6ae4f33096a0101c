/*
 * SYN cookies (RFC 4987 §3.6): when a listener's backlog is full, a SYN is answered with a
 * SYN-ACK whose initial sequence number carries what the connection needs, and nothing is
 * kept; the final ACK brings it back (ACK − 1) and the connection is built from it.
 *
 * ISS = F(4-tuple) + (counter << 24 | ((H(4-tuple, peer ISN, counter) + mss index) mod 2^24))
 * with F and H keyed SipHash and counter a 64-second clock: an ACK is good when its counter is
 * this one or the one before (up to about two minutes), and subtracting H leaves an index
 * into a small MSS table. Everything else a SYN may ask for — window scale, SACK-permitted,
 * ECN — fits only in the timestamp: with timestamps the low six bits of our TSval hold them
 * (and the TSval stays at or below our clock, so later timestamps never go back); without
 * timestamps the connection has neither window scaling nor SACK, as RFC 4987 notes.
 */
#include "iface/stack.h"
#include "util/siphash.h"
#include "wire/tcp.h"
#include <string.h>

#define COUNTER_SHIFT_NS 64000000000ULL /* 64 s */
#define TS_BITS 6
#define TS_MASK ((1u << TS_BITS) - 1)
#define WS_NONE 0xf

/* The peer's MSS rounds down to one of these (index in 3 bits). */
static const uint16_t mss_table[8] = {536, 1220, 1300, 1380, 1420, 1440, 1460, 8960};

static uint32_t hash_tuple(const struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			   const sl_ip *raddr, uint16_t rport, uint32_t peer_isn, uint32_t counter,
			   uint8_t which)
{
	uint8_t in[45];
	memcpy(in, laddr->b, 16);
	memcpy(in + 16, raddr->b, 16);
	memcpy(in + 32, &lport, 2);
	memcpy(in + 34, &rport, 2);
	memcpy(in + 36, &peer_isn, 4);
	memcpy(in + 40, &counter, 4);
	in[44] = which;
	return (uint32_t)sl_siphash(st->tcp.cookie_key, in, which == 'F' ? 36 : 45);
}

static uint32_t counter_now(const struct sl_stack *st)
{
	return (uint32_t)(st->now / COUNTER_SHIFT_NS);
}

static uint32_t cookie_make(const struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			    const sl_ip *raddr, uint16_t rport, uint32_t peer_isn, unsigned mss_idx)
{
	uint32_t c = counter_now(st);
	uint32_t low =
	    (hash_tuple(st, laddr, lport, raddr, rport, peer_isn, c, 'H') + mss_idx) & 0xffffff;
	return hash_tuple(st, laddr, lport, raddr, rport, 0, 0, 'F') + ((c & 0xff) << 24 | low);
}

/* The MSS index of a valid cookie, or -1. */
static int cookie_check(const struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			const sl_ip *raddr,
			uint16_t rport, uint32_t peer_isn, uint32_t cookie)
{
	uint32_t v = cookie - hash_tuple(st, laddr, lport, raddr, rport, 0, 0, 'F');
	uint32_t now = counter_now(st);
	uint32_t age = (now - (v >> 24)) & 0xff;
	if (age > 1)
		return -1;
	uint32_t c = now - age;
	uint32_t idx =
	    ((v & 0xffffff) - hash_tuple(st, laddr, lport, raddr, rport, peer_isn, c, 'H')) &
	    0xffffff;
	return idx < 8 ? (int)idx : -1;
}

static uint8_t our_wscale(const struct sl_stack *st)
{
	uint8_t ws = 0;
	while (ws < 14 && (st->cfg.tcp_rcvbuf >> ws) > 65535)
		ws++;
	return ws;
}

void sl_tcp_cookie_synack(struct sl_stack *st, const struct sl_listener *l, const sl_ip *laddr,
			  const sl_ip *raddr, const struct seg_view *s)
{
	uint16_t lport = sl_tcp_dport(s->th), rport = sl_tcp_sport(s->th);
	uint16_t peer_mss = s->o->mss ? s->o->mss : 536;
	unsigned idx = 0;
	for (unsigned i = 0; i < 8; i++)
		if (mss_table[i] <= peer_mss)
			idx = i;
	uint32_t iss = cookie_make(st, laddr, lport, raddr, rport, s->seq, idx);
	st->tcp.cookie_sent = true;
	st->tcp.cookie_sent_ns = st->now;
	uint32_t win = st->cfg.tcp_rcvbuf < 65535 ? st->cfg.tcp_rcvbuf : 65535;
	struct sl_tcp_hdr h = {
	    .sport = lport,
	    .dport = rport,
	    .seq = iss,
	    .ack = s->seq + 1,
	    .flags = SL_TCP_SYN | SL_TCP_ACK,
	    .win = (uint16_t)win,
	    .mss = (uint16_t)sl_tcp_our_mss(st, !sl_ip_is_v4(raddr), l->user_mss),
	    .wscale = -1,
	};
	if (s->o->has_ts && st->cfg.tcp_timestamps) {
		/* Options in the low bits of TSval: window scale (4 bits, 0xf none), SACK (1),
		 * ECN (1, never set: sluice does not negotiate ECN). */
		bool sack = s->o->sack_ok && st->cfg.tcp_sack;
		unsigned ws = s->o->wscale >= 0 ? (unsigned)s->o->wscale : WS_NONE;
		uint32_t opts = ws | (sack ? 0x10u : 0);
		uint32_t clock = (uint32_t)(st->now / 1000000ULL) +
				 sl_tcp_ts_offset(st, laddr, lport, raddr, rport);
		uint32_t ts = (clock & ~TS_MASK) | opts;
		if (seq_gt(ts, clock))
			ts -= TS_MASK + 1;
		h.ts = true;
		h.ts_val = ts;
		h.ts_ecr = s->o->ts_val;
		h.sack_ok = sack;
		if (s->o->wscale >= 0)
			h.wscale = (int8_t)our_wscale(st);
	}
	STAT_INC(st, tcp_syncookies_sent);
	bool v6 = !sl_ip_is_v4(raddr);
	sl_tcp_send_raw(st, laddr, raddr, &h, (struct sl_iptx){l->ttl[v6], l->tos[v6], false});
}

bool sl_tcp_cookies_outstanding(const struct sl_stack *st)
{
	return st->tcp.cookie_sent && st->now - st->tcp.cookie_sent_ns < 2 * COUNTER_SHIFT_NS;
}

int sl_tcp_cookie_check(struct sl_stack *st, struct sl_listener *l, const sl_ip *laddr,
			const sl_ip *raddr, const struct seg_view *s, struct sl_tcb **out)
{
	uint16_t lport = sl_tcp_dport(s->th), rport = sl_tcp_sport(s->th);
	*out = NULL;
	if (!(s->flags & SL_TCP_ACK) || (s->flags & (SL_TCP_SYN | SL_TCP_RST)))
		return -EINVAL;
	uint32_t irs = s->seq - 1, iss = s->ack - 1;
	int idx = cookie_check(st, laddr, lport, raddr, rport, irs, iss);
	if (idx < 0) {
		STAT_INC(st, tcp_syncookies_bad);
		return -EINVAL;
	}
	struct sl_tcb *t = sl_tcb_new(st, laddr, lport, raddr, rport);
	if (!t)
		return -ENOBUFS; /* counted there: tcp_conn_limit or tcp_no_mem */
	t->irs = irs;
	t->rcv_nxt = irs + 1;
	uint32_t win = st->cfg.tcp_rcvbuf < 65535 ? st->cfg.tcp_rcvbuf : 65535;
	t->rcv_adv = t->rcv_nxt + win;
	t->iss = iss;
	t->snd_una = iss;
	t->snd_nxt = t->snd_max = iss + 1;
	t->snd_wl1 = irs;
	t->snd_wl2 = iss;
	t->peer_mss = mss_table[idx];
	t->wscale_ok = false;
	t->snd_wscale = 0;
	t->rcv_wscale = 0;
	if (s->o->has_ts && st->cfg.tcp_timestamps) {
		uint32_t opts = s->o->ts_ecr & TS_MASK;
		t->ts_ok = true;
		t->ts_recent = s->o->ts_val;
		t->ts_recent_ns = st->now;
		t->last_ack_sent = t->rcv_nxt;
		if ((opts & 0xf) != WS_NONE) {
			t->wscale_ok = true;
			t->snd_wscale = (uint8_t)((opts & 0xf) > 14 ? 14 : (opts & 0xf));
			t->rcv_wscale = our_wscale(st);
		}
		t->sack_ok = (opts & 0x10) && st->cfg.tcp_sack;
	}
	uint32_t ours = sl_tcp_our_mss(st, t->v6, l->user_mss);
	uint32_t base = t->peer_mss < ours ? t->peer_mss : ours;
	t->mss = (uint16_t)(base - (t->ts_ok ? 12 : 0));
	if (l->ka_on) {
		t->ka = l->ka;
		t->ka_on = true;
	}
	sl_listener_iptx_to(l, t);
	t->listener = l;
	t->state = SL_TCP_CLOSED;
	sl_tcp_set_state(t, SL_TCP_SYN_RECEIVED);
	STAT_INC(st, tcp_syncookies_ok);
	*out = t;
	return 0;
}
