/*
 * TCP output (RFC 9293 §3.8, §3.10): segments built straight into device frames, data
 * copied once from the send ring. Sender silly-window avoidance and Nagle (RFC 9293
 * §3.8.6.2.1, RFC 896), the window as min(cwnd, peer window) (RFC 5681), go-back-N after
 * a timeout, one fast-retransmitted segment on three duplicate ACKs (RFC 5681 §3.2).
 * Output is capped per poll so the device batch never overflows; the rest waits a poll.
 */
#include "iface/stack.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include <string.h>

#define TX_BUDGET 192 /* segments per poll, below the device's TX batch of 256 */

uint32_t sl_tcp_rcv_window(struct sl_tcb *t)
{
	uint32_t cap = t->rcvbuf.cap;
	uint32_t free_ = sl_ring_free(&t->rcvbuf);
	uint32_t max = t->wscale_ok ? 65535u << t->rcv_wscale : 65535u;
	if (free_ > max)
		free_ = max;
	uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	/* RFC 9293 §3.8.6.2.2: move the right edge only by a useful amount, never back. */
	uint32_t step = t->mss < cap / 2 ? t->mss : cap / 2;
	if (free_ > cur && (free_ - cur >= step || cur == 0)) {
		uint32_t w = t->wscale_ok ? (free_ >> t->rcv_wscale) << t->rcv_wscale : free_;
		if (w > cur)
			t->rcv_adv = t->rcv_nxt + w;
	}
	return seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
}

static uint16_t win_field(struct sl_tcb *t, bool syn)
{
	uint32_t w = sl_tcp_rcv_window(t);
	/* RFC 7323 §2.2: the window in a SYN is never scaled. */
	if (syn)
		return (uint16_t)(w > 65535 ? 65535 : w);
	w = t->wscale_ok ? w >> t->rcv_wscale : w;
	return (uint16_t)(w > 65535 ? 65535 : w);
}

/* Build and send one segment: len bytes of the send ring starting at sequence seq. */
static bool send_segment(struct sl_tcb *t, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct sl_stack *st = t->st;
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return false;
	uint8_t *th = f.data + SL_L4_OFF;
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
	if (syn) {
		/* RFC 9293 §3.7.1 / RFC 6691: MSS = MTU − IP and TCP headers without options. */
		h.mss = (uint16_t)(st->mtu - 40);
		/* RFC 7323 §2.2: offer in our SYN; in a SYN-ACK only if the peer offered. */
		if (t->state == SL_TCP_SYN_SENT || t->wscale_ok)
			h.wscale = (int8_t)t->rcv_wscale;
	}
	h.win = win_field(t, syn);
	unsigned hlen = sl_tcp_emit(th, &h);
	if (len) {
		const struct sl_ring *r = &t->sndbuf;
		uint32_t off = (r->head + (seq - t->snd_una)) & (r->cap - 1);
		uint32_t first = r->cap - off < len ? r->cap - off : len;
		memcpy(th + hlen, r->buf + off, first);
		memcpy(th + hlen + first, r->buf, len - first);
	}
	sl_tcp_set_csum(th, hlen + len, t->laddr, t->raddr);
	STAT_INC(st, tcp_tx);
	t->segs_out++;
	st->tcp.tx_this_poll++;
	if (flags & SL_TCP_ACK) {
		/* Any ACK we send covers what the delayed ACK was waiting to acknowledge. */
		t->ack_now = false;
		t->delack_segs = 0;
		sl_timer_cancel(&st->timers, &t->delack_timer);
	}
	sl_ipv4_output(st, &f, hlen + len, t->laddr, t->raddr, SL_IPPROTO_TCP, 0, false);
	return true;
}

void sl_tcp_send_syn(struct sl_tcb *t)
{
	uint8_t flags = SL_TCP_SYN | (t->state == SL_TCP_SYN_RECEIVED ? SL_TCP_ACK : 0);
	t->snd_nxt = t->iss + 1;
	if (seq_lt(t->snd_max, t->snd_nxt))
		t->snd_max = t->snd_nxt;
	if (!t->rtt_timing && !t->backoff) {
		t->rtt_timing = true;
		t->rtt_seq = t->iss;
		t->rtt_start = t->st->now;
	}
	send_segment(t, t->iss, 0, flags);
	sl_tcp_arm_rto(t);
}

void sl_tcp_send_ack(struct sl_tcb *t)
{
	send_segment(t, t->snd_max, 0, SL_TCP_ACK);
}

void sl_tcp_send_ka_probe(struct sl_tcb *t)
{
	/* RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT − 1, outside the window, draws an ACK. */
	send_segment(t, t->snd_nxt - 1, 0, SL_TCP_ACK);
}

void sl_tcp_send_probe(struct sl_tcb *t)
{
	/* One byte beyond a zero window (RFC 9293 §3.8.6.1); the peer ACKs it or not. */
	if (!t->sndbuf.len)
		return;
	send_segment(t, t->snd_una, 1, SL_TCP_ACK);
	if (seq_lt(t->snd_nxt, t->snd_una + 1))
		t->snd_nxt = t->snd_una + 1;
	if (seq_lt(t->snd_max, t->snd_nxt))
		t->snd_max = t->snd_nxt;
}

void sl_tcp_send_rst(struct sl_tcb *t)
{
	STAT_INC(t->st, tcp_resets_tx);
	send_segment(t, t->snd_max, 0, SL_TCP_RST | SL_TCP_ACK);
}

void sl_tcp_send_rst_for(struct sl_stack *st, const struct sl_ip4_pkt *pkt, const uint8_t *th,
			 uint32_t seglen)
{
	uint8_t in = sl_tcp_flags(th);
	if (in & SL_TCP_RST)
		return; /* RFC 9293 §3.10.7.1: never answer a reset */
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return;
	uint8_t *o = f.data + SL_L4_OFF;
	struct sl_tcp_hdr h = {.sport = sl_tcp_dport(th), .dport = sl_tcp_sport(th), .wscale = -1};
	if (in & SL_TCP_ACK) {
		h.seq = sl_tcp_ack(th);
		h.flags = SL_TCP_RST;
	} else {
		h.seq = 0;
		h.ack = sl_tcp_seq(th) + seglen;
		h.flags = SL_TCP_RST | SL_TCP_ACK;
	}
	unsigned hlen = sl_tcp_emit(o, &h);
	sl_tcp_set_csum(o, hlen, pkt->dst, pkt->src);
	STAT_INC(st, tcp_resets_tx);
	STAT_INC(st, tcp_tx);
	sl_ipv4_output(st, &f, hlen, pkt->dst, pkt->src, SL_IPPROTO_TCP, 0, false);
}

/* Sequence number just past the queued data: where the FIN goes. */
static uint32_t data_end(const struct sl_tcb *t)
{
	return t->snd_una + t->sndbuf.len;
}

static bool can_send_fin(const struct sl_tcb *t)
{
	return t->fin_queued && (t->state == SL_TCP_ESTABLISHED || t->state == SL_TCP_CLOSE_WAIT ||
				 t->state == SL_TCP_FIN_WAIT_1 || t->state == SL_TCP_CLOSING ||
				 t->state == SL_TCP_LAST_ACK);
}

/* Send the segment at snd_una again (fast retransmit, persist), leaving snd_nxt alone. */
void sl_tcp_retransmit_first(struct sl_tcb *t)
{
	uint32_t avail = t->sndbuf.len;
	uint32_t len = avail < t->mss ? avail : t->mss;
	uint8_t flags = SL_TCP_ACK;
	if (can_send_fin(t) && t->fin_sent && len == avail)
		flags |= SL_TCP_FIN;
	if (!len && !(flags & SL_TCP_FIN))
		return;
	t->retransmits++;
	STAT_INC(t->st, tcp_retransmits);
	t->rtt_timing = false; /* Karn: no sample from a retransmitted range */
	send_segment(t, t->snd_una, len, flags);
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
	bool sent = false;
	for (;;) {
		if (st->tcp.tx_this_poll >= TX_BUDGET) {
			STAT_INC(st, tcp_tx_deferred);
			sl_tcp_want_output(t);
			break;
		}
		uint32_t end = data_end(t);
		uint32_t unsent = seq_gt(end, t->snd_nxt) ? end - t->snd_nxt : 0;
		uint32_t in_flight = t->snd_nxt - t->snd_una;
		/* RFC 3042 limited transmit: the first two duplicate ACKs each let one new
		 * segment out, so a small window still produces the third duplicate. */
		uint32_t cw = t->cwnd;
		if (!t->in_recovery && t->dupacks && t->dupacks < 3)
			cw += t->dupacks * t->mss;
		uint32_t wnd = t->snd_wnd < cw ? t->snd_wnd : cw;
		uint32_t usable = wnd > in_flight ? wnd - in_flight : 0;
		uint32_t len = unsent;
		if (len > t->mss)
			len = t->mss;
		if (len > usable)
			len = usable;
		bool fin = can_send_fin(t) && len == unsent &&
			   (!t->fin_sent || seq_lt(t->snd_nxt, t->snd_max)) &&
			   t->snd_nxt + len == end && seq_leq(t->snd_nxt, end);
		if (!len && !fin)
			break;
		if (len && !fin && len < t->mss) {
			/* RFC 9293 §3.8.6.2.1 (sender SWS) with Nagle: a short segment goes only
			 * when it empties the queue and nothing is in flight (or nodelay), or it
			 * fills half the largest window the peer offered. */
			bool all = len == unsent;
			bool idle = in_flight == 0 || t->nodelay_push;
			if (!(all && idle) && len < t->max_snd_wnd / 2)
				break;
		}
		uint8_t flags = SL_TCP_ACK;
		if (len && len == unsent)
			flags |= SL_TCP_PSH;
		if (fin)
			flags |= SL_TCP_FIN;
		bool retrans = seq_lt(t->snd_nxt, t->snd_max);
		if (!send_segment(t, t->snd_nxt, len, flags))
			break;
		sent = true;
		if (retrans) {
			t->retransmits++;
			STAT_INC(st, tcp_retransmits);
		} else {
			t->bytes_sent += len;
			if (!t->rtt_timing && len) {
				t->rtt_timing = true;
				t->rtt_seq = t->snd_nxt;
				t->rtt_start = st->now;
			}
		}
		t->snd_nxt += len + (fin ? 1 : 0);
		if (fin) {
			t->fin_sent = true;
			if (t->state == SL_TCP_ESTABLISHED)
				sl_tcp_set_state(t, SL_TCP_FIN_WAIT_1);
			else if (t->state == SL_TCP_CLOSE_WAIT)
				sl_tcp_set_state(t, SL_TCP_LAST_ACK);
		}
		if (seq_gt(t->snd_nxt, t->snd_max))
			t->snd_max = t->snd_nxt;
		if (!sl_timer_armed(&t->rto_timer))
			sl_tcp_arm_rto(t);
		if (fin)
			break;
	}
	if (!seq_gt(data_end(t), t->snd_nxt))
		t->nodelay_push = false;
	if (!sent && t->ack_now)
		sl_tcp_send_ack(t);
	if (t->snd_nxt != t->snd_una && !sl_timer_armed(&t->rto_timer) &&
	    !sl_timer_armed(&t->persist_timer))
		sl_tcp_arm_rto(t);
	/* Data waiting, nothing in flight, no window: probe (RFC 9293 §3.8.6.1). */
	if (t->snd_wnd == 0 && seq_gt(data_end(t), t->snd_nxt) && t->snd_nxt == t->snd_una &&
	    !sl_timer_armed(&t->rto_timer))
		sl_tcp_arm_persist(t);
}
