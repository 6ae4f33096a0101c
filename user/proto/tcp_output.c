/*
 * TCP output (RFC 9293 §3.8, §3.10): segments built straight into device frames, data
 * copied once from the send ring. What goes next follows RFC 6675 §4 NextSeg: segments
 * marked lost first, then new data, within cwnd − pipe (during fast recovery cwnd is PRR's,
 * RFC 6937) and the peer's window. New data obeys sender silly-window avoidance and Nagle
 * (RFC 9293 §3.8.6.2.1, RFC 896). Every segment carries the timestamps option once both
 * SYNs had it (RFC 7323 §3.2) and, while we hold out-of-order data or a duplicate, SACK
 * blocks (RFC 2018 §4, RFC 2883) — as many as fit beside the payload.
 * Output is capped per poll so the device batch never overflows; the rest waits a poll.
 */
#include "iface/stack.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include <string.h>

#define TX_BUDGET 192 /* segments per poll, below the device's TX batch of 256 */
#define CORK_CEILING_NS 200000000ULL /* tcp(7): TCP_CORK holds output 200 ms at most */

static uint16_t win_field(struct sl_tcb *t, bool syn)
{
	uint32_t w = sl_tcp_rcv_window_advertise(t);
	/* RFC 7323 §2.2: the window in a SYN is never scaled. */
	if (syn)
		return (uint16_t)(w > 65535 ? 65535 : w);
	w = t->wscale_ok ? w >> t->rcv_wscale : w;
	return (uint16_t)(w > 65535 ? 65535 : w);
}

/* The payload of a segment copied out of the send ring behind its header at th, and the
 * checksum field (acc: the pseudo-header's sum): computed here, or, for a device that
 * finishes it (offload), the pseudo-header's sum left in the field. */
static inline void tcp_payload(const struct sl_tcb *t, uint8_t *th, unsigned hlen,
			       uint32_t seq, uint32_t len, uint64_t acc, bool offload)
{
	const struct sl_ring *r = &t->sndbuf;
	uint32_t off = (r->head + (seq - t->snd_una)) & (r->cap - 1);
	uint32_t first = r->cap - off < len ? r->cap - off : len;
	if (offload) {
		if (len) {
			memcpy(th + hlen, r->buf + off, first);
			if (len > first)
				memcpy(th + hlen + first, r->buf, len - first);
		}
		sl_put16(th + 16, sl_csum_fold(acc));
		return;
	}
	if (len) {
		/* The payload is summed as it is copied out of the send ring (one pass). A second
		 * piece (the ring wrapped) that starts at an odd offset has its sum's bytes swapped
		 * (RFC 1071 §2(B)). */
		acc = sl_csum_copy(acc, th + hlen, r->buf + off, first);
		if (len > first) {
			uint16_t s2 = sl_csum_fold(sl_csum_copy(0, th + hlen + first, r->buf, len - first));
			acc += first & 1 ? __builtin_bswap16(s2) : s2;
		}
	}
	sl_put16(th + 16, 0);
	acc = sl_csum_add(acc, th, hlen);
	sl_put16(th + 16, (uint16_t)~sl_csum_fold(acc));
}

/* Build and send one segment: len bytes of the send ring starting at sequence seq. */
static bool send_segment(struct sl_tcb *t, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct sl_stack *st = t->st;
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return false;
	uint8_t *th = f.data + sl_l4_off(t->v6);
	bool syn = flags & SL_TCP_SYN;
	struct sl_tcp_hdr h = {
	    .sport = t->lport,
	    .dport = t->rport,
	    .seq = seq,
	    .ack = (flags & SL_TCP_ACK) ? t->rcv_nxt : 0,
	    .flags = flags,
	    .mss = 0,
	    .wscale = -1,
	};
	bool offer = t->state == SL_TCP_SYN_SENT;
	if (syn) {
		/* RFC 9293 §3.7.1 / RFC 6691: MSS = MTU − IP and TCP headers without options. */
		h.mss = (uint16_t)sl_tcp_our_mss(st, t->v6, t->user_mss);
		/* RFC 7323 §2.2, RFC 2018 §2: offer in our SYN; in a SYN-ACK only what the peer
		 * offered. */
		if (offer || t->wscale_ok)
			h.wscale = (int8_t)t->rcv_wscale;
		h.sack_ok = offer ? st->cfg.tcp_sack : t->sack_ok;
	}
	if (!(flags & SL_TCP_RST) && (syn && offer ? st->cfg.tcp_timestamps : t->ts_ok)) {
		h.ts = true;
		h.ts_val = sl_tcp_ts_now(t, st->now);
		h.ts_ecr = (flags & SL_TCP_ACK) ? t->ts_recent : 0;
	}
	if (!syn && (flags & SL_TCP_ACK) && t->sack_ok && (t->nooo || t->dsack_pending)) {
		/* As many blocks as fit in the MTU beside this payload. */
		int room = (int)sl_tcp_base_mss(st, t->v6) - (h.ts ? 12 : 0) - (int)len - 4;
		unsigned max = room >= 8 ? (unsigned)room / 8 : 0;
		if (max > (h.ts ? 3u : 4u))
			max = h.ts ? 3u : 4u;
		bool dsack = t->dsack_pending;
		h.nsack = (uint8_t)sl_tcp_sack_blocks(t, h.sack, max);
		/* A full-sized retransmission has no room: a pure ACK after it says the rest. */
		unsigned avail = t->nooo + (dsack ? 1u : 0u);
		if (h.nsack < avail && h.nsack < (h.ts ? 3u : 4u))
			t->sack_owed = true;
		else
			t->sack_owed = false;
		if (h.nsack) {
			STAT_INC(st, tcp_sack_tx);
			if (dsack) {
				STAT_INC(st, tcp_dsack_tx);
				t->dsacks_tx++;
				t->dsack_pending = false;
			}
		}
	}
	h.win = win_field(t, syn);
	unsigned hlen = sl_tcp_emit(th, &h);
	uint64_t acc = sl_ip_pseudo_sum(&t->laddr, &t->raddr, 6, hlen + len);
	tcp_payload(t, th, hlen, seq, len, acc, st->dev->tx_csum);
	if (st->dev->tx_csum) { /* the device sums header and payload */
		f.csum_start = (uint16_t)(th - f.data);
		f.csum_off = 16;
	}
	STAT_INC(st, tcp_tx);
	t->segs_out++;
	st->tcp.tx_this_poll++;
	if (flags & SL_TCP_ACK) {
		/* Any ACK we send covers what the delayed ACK was waiting to acknowledge. */
		t->ack_now = false;
		t->delack_segs = 0;
		t->last_ack_sent = t->rcv_nxt;
		sl_timer_cancel(&st->timers, &t->delack_timer);
	}
	sl_ip_output(st, &f, hlen + len, &t->laddr, &t->raddr, SL_IPPROTO_TCP,
		     (struct sl_iptx){t->ttl, t->tos, false});
	return true;
}

void sl_tcp_send_raw(struct sl_stack *st, const sl_ip *src, const sl_ip *dst,
		     const struct sl_tcp_hdr *h, struct sl_iptx tx)
{
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return;
	uint8_t *th = f.data + sl_l4_off(!sl_ip_is_v4(dst));
	unsigned hlen = sl_tcp_emit(th, h);
	sl_tcp_set_csum_ps(th, hlen, sl_ip_pseudo_sum(src, dst, 6, hlen));
	STAT_INC(st, tcp_tx);
	sl_ip_output(st, &f, hlen, src, dst, SL_IPPROTO_TCP, tx);
}

void sl_tcp_send_syn(struct sl_tcb *t)
{
	uint8_t flags = SL_TCP_SYN | (t->state == SL_TCP_SYN_RECEIVED ? SL_TCP_ACK : 0);
	t->snd_nxt = t->iss + 1;
	if (seq_lt(t->snd_max, t->snd_nxt))
		t->snd_max = t->snd_nxt;
	if (!t->syn_timing && !t->backoff) {
		t->syn_timing = true;
		t->syn_sent_ns = t->st->now;
	}
	if (!t->backoff)
		t->una_since_ns = t->st->now;
	send_segment(t, t->iss, 0, flags);
	t->rto_at = t->st->now + t->rto_ns;
	t->rtx_kind = SL_RTX_RTO;
	sl_timer_arm(&t->st->timers, &t->rtx_timer, t->rto_at);
}

void sl_tcp_send_ack(struct sl_tcb *t)
{
	/* SND.NXT: while a zero window is probed it is SND.UNA, inside the peer's window
	 * (the probe byte beyond it would make the ACK unacceptable there). */
	send_segment(t, t->snd_nxt, 0, SL_TCP_ACK);
}

void sl_tcp_send_ka_probe(struct sl_tcb *t)
{
	/* RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT − 1, outside the window, draws an ACK. */
	send_segment(t, t->snd_nxt - 1, 0, SL_TCP_ACK);
}

void sl_tcp_send_probe(struct sl_tcb *t)
{
	/* One byte beyond a zero window (RFC 9293 §3.8.6.1); the peer ACKs it or not. SND.NXT
	 * stays at SND.UNA (nothing is in flight); SND.MAX covers the byte so that an ACK for
	 * it is acceptable. */
	if (!t->sndbuf.len || t->snd_nxt != t->snd_una)
		return;
	send_segment(t, t->snd_una, 1, SL_TCP_ACK);
	t->persisting = true;
	if (seq_lt(t->snd_max, t->snd_una + 1))
		t->snd_max = t->snd_una + 1;
}

void sl_tcp_send_rst(struct sl_tcb *t)
{
	STAT_INC(t->st, tcp_resets_tx);
	send_segment(t, t->snd_nxt, 0, SL_TCP_RST | SL_TCP_ACK);
}

void sl_tcp_send_rst_for(struct sl_stack *st, const struct sl_ip_pkt *pkt, const uint8_t *th,
			 uint32_t seglen)
{
	uint8_t in = sl_tcp_flags(th);
	if (in & SL_TCP_RST)
		return; /* RFC 9293 §3.10.7.1: never answer a reset */
	struct sl_tcp_hdr h = {.sport = sl_tcp_dport(th), .dport = sl_tcp_sport(th), .wscale = -1};
	if (in & SL_TCP_ACK) {
		h.seq = sl_tcp_ack(th);
		h.flags = SL_TCP_RST;
	} else {
		h.seq = 0;
		h.ack = sl_tcp_seq(th) + seglen;
		h.flags = SL_TCP_RST | SL_TCP_ACK;
	}
	STAT_INC(st, tcp_resets_tx);
	sl_tcp_send_raw(st, &pkt->dst, &pkt->src, &h, (struct sl_iptx){0});
}

/* Sequence number just past the queued data: where the FIN goes. */
static uint32_t data_end(const struct sl_tcb *t)
{
	return t->snd_una + t->sndbuf.len;
}

static bool can_send_fin(const struct sl_tcb *t)
{
	return t->fin_queued && !t->fin_sent &&
	       (t->state == SL_TCP_ESTABLISHED || t->state == SL_TCP_CLOSE_WAIT);
}

/* Payload bytes a data segment may carry now: the MSS less the SACK blocks we owe the peer
 * (RFC 2018 §4: every ACK while out-of-order data is held carries them; Linux shortens its
 * segments the same way). */
static uint32_t data_room(const struct sl_tcb *t)
{
	if (!t->sack_ok || !(t->nooo || t->dsack_pending))
		return t->mss;
	unsigned n = t->nooo + (t->dsack_pending ? 1u : 0u), max = t->ts_ok ? 3u : 4u;
	uint32_t opt = 4 + 8 * (n < max ? n : max);
	return t->mss > opt + 64 ? t->mss - opt : 64;
}

/* Send record i of the send map again. */
static bool retransmit(struct sl_tcb *t, uint32_t i)
{
	struct sl_tcp_txseg *s = sl_sendmap_at(&t->sm, i);
	/* Room for the SACK blocks we owe: a full-sized record goes in two pieces. */
	uint32_t room = data_room(t), data = s->end - s->start - ((s->flags & SL_SEG_FIN) ? 1 : 0);
	if (data > room && sl_sendmap_split(&t->sm, i, s->start + room))
		s = sl_sendmap_at(&t->sm, i);
	uint32_t seqlen = s->end - s->start;
	bool fin = s->flags & SL_SEG_FIN;
	uint32_t len = seqlen - (fin ? 1 : 0);
	uint8_t flags = SL_TCP_ACK | (fin ? SL_TCP_FIN : 0) | (len ? SL_TCP_PSH : 0);
	if (!send_segment(t, s->start, len, flags))
		return false;
	sl_sendmap_sent(&t->sm, i, t->st->now);
	sl_tcp_retransmitted(t, seqlen);
	return true;
}

/* One new segment of at most max bytes; false when none may go now. force: the SWS override
 * timeout (sl_tcp_send_override), a short segment goes whatever the rules below say. */
static inline __attribute__((always_inline)) bool send_new(struct sl_tcb *t, uint32_t max,
							 bool force)
{
	struct sl_stack *st = t->st;
	uint32_t mss = data_room(t);
	uint32_t end = data_end(t);
	uint32_t unsent = seq_gt(end, t->snd_nxt) ? end - t->snd_nxt : 0;
	uint32_t in_flight = t->snd_nxt - t->snd_una;
	uint32_t wnd_end = t->snd_una + t->snd_wnd;
	uint32_t wnd_left = seq_gt(wnd_end, t->snd_nxt) ? wnd_end - t->snd_nxt : 0;
	uint32_t len = unsent;
	if (len > mss)
		len = mss;
	if (len > wnd_left)
		len = wnd_left;
	if (len > max)
		len = max;
	bool fin = can_send_fin(t) && len == unsent;
	if (!len && !fin)
		return false;
	if (len && !fin && len < mss && !force) {
		if (t->corked && !t->cork_push) {
			/* Corked: a partial segment waits for more data, the uncork or the ceiling. */
			if (!sl_timer_armed(&t->cork_timer))
				sl_timer_arm(&st->timers, &t->cork_timer, st->now + CORK_CEILING_NS);
			return false;
		}
		/* RFC 9293 §3.8.6.2.1 (sender SWS) with Nagle: a short segment goes only when it
		 * empties the queue and nothing is in flight (or nodelay, or the cork's ceiling
		 * passed), or it fills half the largest window the peer offered. */
		bool all = len == unsent;
		bool idle = in_flight == 0 || t->nodelay_push || t->cork_push;
		if (!(all && idle) && len < t->max_snd_wnd / 2)
			return false;
	}
	if (t->sm.n == t->sm.cap && t->sm.cap >= t->sm.max) {
		STAT_INC(st, tcp_sendmap_full);
		return false;
	}
	uint8_t flags = SL_TCP_ACK;
	if (len && len == unsent)
		flags |= SL_TCP_PSH;
	if (fin)
		flags |= SL_TCP_FIN;
	if (!send_segment(t, t->snd_nxt, len, flags))
		return false;
	if (!sl_sendmap_push(&t->sm, t->snd_nxt, t->snd_nxt + len + (fin ? 1 : 0),
			     fin ? SL_SEG_FIN : 0, st->now))
		STAT_INC(st, tcp_sendmap_full); /* (growth failed: the segment is untracked) */
	t->bytes_sent += len;
	sl_tcp_prr_sent(t, len + (fin ? 1 : 0));
	if (t->snd_una == t->snd_max)
		t->una_since_ns = st->now; /* the first byte outstanding starts the user timeout */
	t->snd_nxt += len + (fin ? 1 : 0);
	if (seq_gt(t->snd_nxt, t->snd_max))
		t->snd_max = t->snd_nxt;
	if (fin) {
		t->fin_sent = true;
		if (t->state == SL_TCP_ESTABLISHED)
			sl_tcp_set_state(t, SL_TCP_FIN_WAIT_1);
		else if (t->state == SL_TCP_CLOSE_WAIT)
			sl_tcp_set_state(t, SL_TCP_LAST_ACK);
	}
	return true;
}

void sl_tcp_send_tlp(struct sl_tcb *t)
{
	struct sl_tcp_sendmap *m = &t->sm;
	/* RFC 8985 §7.3 sends new data when it may go and the last segment otherwise; we
	 * always send a segment again (docs/architecture.md, departures). A receiver must
	 * answer a duplicate at once (RFC 5681 §4.2, with a D-SACK per RFC 2883), but may hold
	 * its ACK for new data up to its delayed-ACK timer — Linux does, 40 ms, whenever unread
	 * data sits in its receive queue, and it sends one ACK for a whole burst: when that ACK
	 * is lost, a new-data probe draws nothing and the flow stalls until the RTO. The last
	 * segment, or in fast recovery the first one marked lost when PRR left no room to send
	 * it: then the probe repairs as well as asks. */
	uint32_t i = m->n;
	while (i > 0 && (sl_sendmap_at(m, i - 1)->flags & SL_SEG_SACKED))
		i--;
	if (t->in_recovery && m->lost) {
		uint32_t k = sl_sendmap_first_lost(m);
		if (k < m->n)
			i = k + 1;
	}
	if (!i || !retransmit(t, i - 1))
		return;
	t->tlp.unanswered++;
	t->tlp.out = true;
	t->tlp.end_seq = t->snd_nxt;
	t->tlp.is_retrans = true;
	t->tlp.dsacked = false;
	t->tlp.rtt_seen = false;
	t->tlp_probes++;
	STAT_INC(t->st, tcp_tlp_probes);
}

void sl_tcp_output(struct sl_tcb *t)
{
	struct sl_stack *st = t->st;
	if (t->dead || t->state == SL_TCP_CLOSED || t->state == SL_TCP_LISTEN ||
	    t->state == SL_TCP_SYN_SENT)
		return;
	if (t->state == SL_TCP_SYN_RECEIVED) {
		if (t->ack_now)
			sl_tcp_send_syn(t); /* a duplicate SYN: answer with the SYN-ACK again */
		return;
	}
	if (!t->sndbuf.buf) { /* TIME-WAIT after close: no buffers, only ACKs */
		if (t->ack_now)
			sl_tcp_send_ack(t);
		return;
	}
	bool sent = false;
	t->cwnd_limited = false;
	for (;;) {
		if (st->tcp.tx_this_poll >= TX_BUDGET) {
			STAT_INC(st, tcp_tx_deferred);
			sl_tcp_want_output(t);
			break;
		}
		uint32_t pipe = sl_tcp_pipe(t);
		uint32_t room = t->cwnd > pipe ? t->cwnd - pipe : 0;
		/* NextSeg rule 1: the lowest segment marked lost. */
		if (t->sm.lost) {
			uint32_t i = sl_sendmap_first_lost(&t->sm);
			if (i < t->sm.n) {
				if (!room && !(t->in_recovery && t->prr_first)) {
					t->cwnd_limited = true;
					break;
				}
				if (!retransmit(t, i))
					break;
				sent = true;
				continue;
			}
		}
		/* Rule 2: new data. */
		uint32_t end = data_end(t);
		bool more = seq_gt(end, t->snd_nxt) || can_send_fin(t);
		if (!send_new(t, room, false)) {
			if (more && room < t->mss)
				t->cwnd_limited = true;
			break;
		}
		sent = true;
	}
	if (!seq_gt(data_end(t), t->snd_nxt))
		t->nodelay_push = t->cork_push = false;
	if ((!sent && t->ack_now) || t->sack_owed)
		sl_tcp_send_ack(t);
	if (sent)
		sl_tcp_rearm_rtx(t, !t->rto_at); /* RFC 6298 (5.1); a probe timer after new data */
	/* Data waiting, nothing in flight: a zero window is probed (RFC 9293 §3.8.6.1), one too
	 * small for send_new is sent into at the SWS override timeout (§3.8.6.2.1), both on the
	 * persist timer. */
	if (t->snd_nxt == t->snd_una && seq_gt(data_end(t), t->snd_nxt) &&
	    !sl_timer_armed(&t->rtx_timer))
		sl_tcp_arm_persist(t);
}

void sl_tcp_send_override(struct sl_tcb *t)
{
	if (t->dead || t->state < SL_TCP_ESTABLISHED || !t->sndbuf.buf)
		return;
	if (t->snd_nxt != t->snd_una || !seq_gt(data_end(t), t->snd_nxt))
		return; /* data in flight (its ACK or the RTO comes), or nothing to send */
	if (send_new(t, t->cwnd, true))
		sl_tcp_rearm_rtx(t, true);
	else
		sl_tcp_arm_persist(t); /* no frame now: try again later */
}
