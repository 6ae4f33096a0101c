/*
 * TCP segment arrival (RFC 9293 §3.10.7): LISTEN, SYN-SENT and the synchronized states,
 * with the RFC 5961 mitigations (§3.2 RST, §4.2 SYN, §5.2 ACK acceptance, challenge ACKs
 * rate-limited), fast retransmit / NewReno recovery (RFC 5681 §3.2, RFC 6582), delayed
 * ACKs (RFC 9293 §3.8.6.3: at most 40 ms, at least every second full segment, at once for
 * out-of-order data) and an out-of-order queue kept in place in the receive ring.
 */
#include "iface/stack.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include <errno.h>
#include <string.h>

struct seg {
	const uint8_t *th;
	const uint8_t *data;
	uint32_t seq, ack, dlen, len; /* len: dlen + SYN + FIN */
	uint16_t win;
	uint8_t flags;
	struct sl_tcp_opts o;
};

static void apply_syn_options(struct sl_tcb *t, const struct seg *s)
{
	uint32_t our = t->st->mtu - 40;
	/* RFC 9293 §3.7.1: send no segment larger than the peer's MSS (536 without one). */
	t->mss = (uint16_t)(s->o.mss ? (s->o.mss < our ? s->o.mss : our) : (536 < our ? 536 : our));
	if (t->mss < 64)
		t->mss = 64;
	/* RFC 7323 §2.2: scaling is on only when both SYNs carry the option. */
	if (s->o.wscale >= 0 && (t->state == SL_TCP_SYN_SENT || t->state == SL_TCP_LISTEN ||
				 t->state == SL_TCP_CLOSED)) {
		t->wscale_ok = true;
		t->snd_wscale = (uint8_t)s->o.wscale;
	} else {
		t->wscale_ok = false;
		t->snd_wscale = 0;
		t->rcv_wscale = 0;
	}
}

static void ring_put(struct sl_ring *r, uint32_t off, const uint8_t *p, uint32_t n)
{
	uint32_t pos = (r->head + off) & (r->cap - 1);
	uint32_t first = r->cap - pos < n ? r->cap - pos : n;
	memcpy(r->buf + pos, p, first);
	memcpy(r->buf, p + first, n - first);
}

/* Passive open: a SYN for a listener (RFC 9293 §3.10.7.2). */
static void listen_input(struct sl_stack *st, struct sl_listener *l, const struct sl_ip4_pkt *pkt,
			 const struct seg *s, uint32_t min_iss)
{
	if (s->flags & SL_TCP_RST) {
		STAT_INC(st, tcp_no_conn);
		return;
	}
	if (s->flags & SL_TCP_ACK) {
		STAT_INC(st, tcp_no_conn);
		sl_tcp_send_rst_for(st, pkt, s->th, s->len);
		return;
	}
	if (!(s->flags & SL_TCP_SYN)) {
		STAT_INC(st, tcp_bad_flags);
		return;
	}
	if (l->synq.n >= st->cfg.tcp_backlog) {
		/* RFC 4987 §3.4: the oldest half-open connection makes room, so a flood of SYNs
		 * from addresses that never answer cannot lock real clients out. */
		STAT_INC(st, tcp_backlog_full);
		sl_tcb_free(l->synq.head);
	}
	struct sl_tcb *t =
	    sl_tcb_new(st, pkt->dst, sl_tcp_dport(s->th), pkt->src, sl_tcp_sport(s->th));
	if (!t)
		return;
	t->state = SL_TCP_LISTEN; /* for apply_syn_options */
	apply_syn_options(t, s);
	t->listener = l;
	t->irs = s->seq;
	t->rcv_nxt = s->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	t->snd_wnd = s->win; /* never scaled in a SYN */
	t->max_snd_wnd = s->win;
	t->snd_wl1 = s->seq;
	t->iss = sl_tcp_isn(st, t->laddr, t->lport, t->raddr, t->rport);
	if (min_iss && seq_lt(t->iss, min_iss))
		t->iss = min_iss;
	t->snd_una = t->snd_nxt = t->snd_max = t->iss;
	t->snd_wl2 = t->iss;
	if (l->ka_on) {
		t->ka = l->ka;
		t->ka_on = true;
	}
	t->cc->init(t);
	t->state = SL_TCP_CLOSED;
	sl_tcp_set_state(t, SL_TCP_SYN_RECEIVED); /* joins the listener's backlog */
	sl_tcp_send_syn(t);
}

static void established(struct sl_tcb *t)
{
	sl_tcp_set_state(t, SL_TCP_ESTABLISHED);
	t->backoff = 0;
	t->rto_ns = t->rtt_valid ? t->rto_ns : t->st->cfg.tcp_rto_initial_ns;
	if (!t->rtt_valid && t->retransmits && t->rto_ns < 3000000000ULL)
		t->rto_ns = 3000000000ULL;
	sl_timer_cancel(&t->st->timers, &t->rto_timer);
	sl_timer_cancel(&t->st->timers, &t->conn_timer);
	sl_tcp_ka_reset(t);
}

/* SYN-SENT (RFC 9293 §3.10.7.3). */
static void syn_sent_input(struct sl_tcb *t, const struct sl_ip4_pkt *pkt, const struct seg *s)
{
	struct sl_stack *st = t->st;
	bool ack_ok = false;
	if (s->flags & SL_TCP_ACK) {
		if (seq_leq(s->ack, t->iss) || seq_gt(s->ack, t->snd_max)) {
			STAT_INC(st, tcp_bad_ack);
			sl_tcp_send_rst_for(st, pkt, s->th, s->len);
			return;
		}
		ack_ok = true;
	}
	if (s->flags & SL_TCP_RST) {
		if (ack_ok) {
			STAT_INC(st, tcp_resets_rx);
			sl_tcp_done(t, -ECONNREFUSED);
		}
		return;
	}
	if (!(s->flags & SL_TCP_SYN))
		return;
	apply_syn_options(t, s);
	t->irs = s->seq;
	t->rcv_nxt = s->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	t->cc->init(t);
	if (ack_ok) {
		if (t->rtt_timing && !t->backoff)
			sl_tcp_rtt_sample(t, st->now - t->rtt_start);
		t->rtt_timing = false;
		t->snd_una = s->ack;
		t->snd_wnd = s->win;
		t->max_snd_wnd = s->win;
		t->snd_wl1 = s->seq;
		t->snd_wl2 = s->ack;
		established(t);
		STAT_INC(st, tcp_connected);
		t->ack_now = true;
		sl_tcp_want_output(t);
		t->connected_notified = true;
		if (t->cb.on_connected)
			t->cb.on_connected(t->arg, (struct sl_tcp_flow *)t, 0);
		return;
	}
	/* Simultaneous open (RFC 9293 §3.5 figure 7). */
	t->snd_wnd = s->win;
	t->max_snd_wnd = s->win;
	sl_tcp_set_state(t, SL_TCP_SYN_RECEIVED);
	sl_tcp_send_syn(t);
}

static void ooo_add(struct sl_tcb *t, uint32_t seq, uint32_t len)
{
	uint32_t end = seq + len;
	/* Merge with every range it touches. */
	for (unsigned i = 0; i < t->nooo;) {
		uint32_t a = t->ooo[i].seq, b = a + t->ooo[i].len;
		if (seq_leq(seq, b) && seq_leq(a, end)) {
			if (seq_lt(a, seq))
				seq = a;
			if (seq_gt(b, end))
				end = b;
			t->ooo[i] = t->ooo[--t->nooo];
			continue;
		}
		i++;
	}
	if (t->nooo == SL_TCP_OOO_MAX) {
		STAT_INC(t->st, tcp_ooo_dropped);
		return;
	}
	t->ooo[t->nooo].seq = seq;
	t->ooo[t->nooo].len = end - seq;
	t->nooo++;
}

/* Pull out-of-order ranges that now touch rcv_nxt into the in-order part. */
static bool ooo_merge(struct sl_tcb *t)
{
	bool any = false, again = true;
	while (again) {
		again = false;
		for (unsigned i = 0; i < t->nooo; i++) {
			uint32_t a = t->ooo[i].seq, b = a + t->ooo[i].len;
			if (seq_gt(a, t->rcv_nxt))
				continue;
			if (seq_gt(b, t->rcv_nxt)) {
				t->rcvbuf.len += b - t->rcv_nxt;
				t->rcv_nxt = b;
			}
			t->ooo[i] = t->ooo[--t->nooo];
			any = again = true;
			break;
		}
	}
	return any;
}

/* Segment text (RFC 9293 §3.10.7.4, seventh). Returns true when new in-order data arrived. */
static bool take_data(struct sl_tcb *t, struct seg *s)
{
	struct sl_stack *st = t->st;
	uint32_t seq = s->seq;
	const uint8_t *d = s->data;
	uint32_t n = s->dlen;
	if (seq_lt(seq, t->rcv_nxt)) { /* already have the front */
		uint32_t skip = t->rcv_nxt - seq;
		if (skip >= n)
			return false;
		d += skip;
		n -= skip;
		seq = t->rcv_nxt;
	}
	if (t->rd_shut) {
		/* Nobody will read it: count it, acknowledge it so the sender is not stuck. */
		STAT_INC(st, tcp_rcv_after_shutdown);
		if (seq == t->rcv_nxt)
			t->rcv_nxt += n;
		return false;
	}
	/* Keep within the ring: room after the unread bytes. */
	uint32_t off = seq - t->rcv_nxt;
	uint32_t room = sl_ring_free(&t->rcvbuf);
	if (off >= room) {
		STAT_INC(st, tcp_out_of_window);
		return false;
	}
	if (n > room - off) {
		n = room - off;
		s->flags &= (uint8_t)~SL_TCP_FIN; /* the FIN lies beyond what we keep */
	}
	ring_put(&t->rcvbuf, t->rcvbuf.len + off, d, n);
	t->bytes_received += n;
	if (off == 0) {
		t->rcv_nxt += n;
		t->rcvbuf.len += n;
		bool filled = ooo_merge(t);
		if (filled)
			t->ack_now = true; /* RFC 5681 §4.2: ACK at once when a hole fills */
		return true;
	}
	ooo_add(t, seq, n);
	t->ack_now = true; /* RFC 5681 §4.2: out-of-order data is acknowledged at once */
	return false;
}

static void process_ack(struct sl_tcb *t, const struct seg *s, bool *space_freed)
{
	struct sl_stack *st = t->st;
	if (seq_gt(s->ack, t->snd_una)) {
		uint32_t acked = s->ack - t->snd_una;
		if (t->rtt_timing && seq_gt(s->ack, t->rtt_seq)) {
			sl_tcp_rtt_sample(t, st->now - t->rtt_start);
			t->rtt_timing = false;
		}
		t->backoff = 0;
		t->persist_backoff = 0;
		uint32_t data = acked < t->sndbuf.len ? acked : t->sndbuf.len;
		t->sndbuf.head = (t->sndbuf.head + data) & (t->sndbuf.cap - 1);
		t->sndbuf.len -= data;
		if (data)
			*space_freed = true;
		t->snd_una = s->ack;
		if (seq_lt(t->snd_nxt, t->snd_una))
			t->snd_nxt = t->snd_una;
		if (t->in_recovery) {
			bool full = seq_geq(s->ack, t->recover);
			t->cc->on_recovery_ack(t, acked, full);
			if (full) {
				t->in_recovery = false;
				t->dupacks = 0;
			} else {
				sl_tcp_retransmit_first(t); /* RFC 6582 §3.2 step 5: next hole */
				sl_tcp_arm_rto(t);
			}
		} else {
			t->dupacks = 0;
			t->cc->on_ack(t, acked);
		}
		/* RFC 6298 (5.2)/(5.3) */
		if (t->snd_una == t->snd_max)
			sl_timer_cancel(&st->timers, &t->rto_timer);
		else
			sl_tcp_arm_rto(t);
		sl_tcp_want_output(t);
	} else if (s->ack == t->snd_una && s->dlen == 0 &&
		   !(s->flags & (SL_TCP_SYN | SL_TCP_FIN)) && t->snd_max != t->snd_una &&
		   s->win != 0 && (uint32_t)s->win << t->snd_wscale <= t->snd_wnd) {
		/* A duplicate ACK (RFC 5681 §2), except that a window that shrank still counts: a
		 * receiver holding our out-of-order segments advertises less room with each one
		 * (Linux does), and without SACK those ACKs are all the loss signal there is. A
		 * window that grew is a window update, not a duplicate. */
		t->dupacks++;
		if (t->dupacks == 3 && !t->in_recovery &&
		    seq_gt(s->ack, t->recover)) { /* RFC 6582 §3.2 step 2 */
			STAT_INC(st, tcp_fast_retransmits);
			t->cc->on_fast_retransmit(t);
			t->in_recovery = true;
			sl_tcp_retransmit_first(t);
			sl_tcp_arm_rto(t);
		} else if (t->in_recovery) {
			t->cc->on_dupack(t);
			sl_tcp_want_output(t);
		} else if (t->dupacks < 3) {
			sl_tcp_want_output(t); /* limited transmit */
		}
	}
	/* Window update (RFC 9293 §3.10.7.4, fifth, "If SND.UNA =< SEG.ACK =< SND.NXT"). */
	if (seq_lt(t->snd_wl1, s->seq) || (t->snd_wl1 == s->seq && seq_leq(t->snd_wl2, s->ack))) {
		uint32_t w = (uint32_t)s->win << t->snd_wscale;
		if (w > t->snd_wnd)
			sl_tcp_want_output(t);
		t->snd_wnd = w;
		t->snd_wl1 = s->seq;
		t->snd_wl2 = s->ack;
		if (w > t->max_snd_wnd)
			t->max_snd_wnd = w;
		if (w) {
			sl_timer_cancel(&st->timers, &t->persist_timer);
			t->persist_backoff = 0;
		}
	}
}

static bool fin_acked(const struct sl_tcb *t)
{
	return t->fin_sent && t->snd_una == t->snd_max && t->sndbuf.len == 0;
}

enum sl_rx_result sl_tcp_input(struct sl_stack *st, struct sl_ip4_pkt *pkt)
{
	struct seg s;
	int bad = sl_tcp_check(pkt->l4, pkt->l4len, pkt->src, pkt->dst, &s.o);
	if (bad) {
		st->stats->c[bad]++;
		return SL_RX_RELEASE;
	}
	s.th = pkt->l4;
	unsigned hlen = sl_tcp_hlen(s.th);
	s.data = s.th + hlen;
	s.dlen = (uint32_t)(pkt->l4len - hlen);
	s.seq = sl_tcp_seq(s.th);
	s.ack = sl_tcp_ack(s.th);
	s.win = sl_tcp_win(s.th);
	s.flags = sl_tcp_flags(s.th);
	s.len = s.dlen + !!(s.flags & SL_TCP_SYN) + !!(s.flags & SL_TCP_FIN);
	/* No flags at all, or SYN with FIN or RST: never valid (RFC 9293 §3.1). TCP is never
	 * sent to a broadcast or multicast address (RFC 1122 §4.2.3.10). */
	if ((s.flags & (SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST | SL_TCP_FIN)) == 0 ||
	    ((s.flags & SL_TCP_SYN) && (s.flags & (SL_TCP_FIN | SL_TCP_RST))) || pkt->bcast) {
		STAT_INC(st, tcp_bad_flags);
		return SL_RX_RELEASE;
	}
	STAT_INC(st, tcp_rx);
	uint16_t sport = sl_tcp_sport(s.th), dport = sl_tcp_dport(s.th);
	struct sl_tcb *t = sl_tcp_lookup(st, pkt->dst, dport, pkt->src, sport);

	if (t && t->state == SL_TCP_TIME_WAIT && (s.flags & SL_TCP_SYN) &&
	    !(s.flags & (SL_TCP_ACK | SL_TCP_RST)) && seq_gt(s.seq, t->rcv_nxt)) {
		/* RFC 9293 §3.10.7.4 note / RFC 6191: a new SYN beyond the old connection's
		 * sequence space may reopen the pair; the new ISN lies above the old one. */
		struct sl_listener *l = sl_tcp_find_listener(st, dport);
		if (l) {
			uint32_t min_iss = t->snd_max + 65536;
			if (t->app_closed)
				sl_tcb_free(t);
			else
				sl_tcp_done(t, 0);
			listen_input(st, l, pkt, &s, min_iss);
			return SL_RX_RELEASE;
		}
	}
	if (!t) {
		struct sl_listener *l = sl_tcp_find_listener(st, dport);
		if (l) {
			listen_input(st, l, pkt, &s, 0);
			return SL_RX_RELEASE;
		}
		STAT_INC(st, tcp_no_conn);
		sl_tcp_send_rst_for(st, pkt, s.th, s.len);
		return SL_RX_RELEASE;
	}
	t->segs_in++;
	t->persist_unanswered = 0;
	if (t->state >= SL_TCP_ESTABLISHED)
		sl_tcp_ka_reset(t);
	if (t->state == SL_TCP_SYN_SENT) {
		syn_sent_input(t, pkt, &s);
		return SL_RX_RELEASE;
	}

	/* First: is the segment acceptable (RFC 9293 §3.10.7.4 table)? */
	uint32_t rwnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	bool ok;
	if (s.len == 0)
		ok = rwnd == 0 ? s.seq == t->rcv_nxt : seq_in(s.seq, t->rcv_nxt, t->rcv_nxt + rwnd);
	else
		ok = rwnd > 0 && (seq_in(s.seq, t->rcv_nxt, t->rcv_nxt + rwnd) ||
				  seq_in(s.seq + s.len - 1, t->rcv_nxt, t->rcv_nxt + rwnd));
	/* A retransmitted SYN in SYN-RECEIVED: answer with the SYN-ACK again. */
	if (t->state == SL_TCP_SYN_RECEIVED && (s.flags & SL_TCP_SYN) && s.seq == t->irs &&
	    (s.flags & SL_TCP_ACK) && s.ack == t->snd_nxt && t->active) {
		s.flags &= (uint8_t)~SL_TCP_SYN;
		s.seq++;
		s.len--;
		ok = true;
	} else if (t->state == SL_TCP_SYN_RECEIVED && (s.flags & SL_TCP_SYN) && s.seq == t->irs &&
		   !(s.flags & SL_TCP_RST)) {
		t->ack_now = true;
		sl_tcp_want_output(t);
		return SL_RX_RELEASE;
	}
	if (!ok) {
		if (t->state == SL_TCP_TIME_WAIT && (s.flags & SL_TCP_FIN) &&
		    !(s.flags & SL_TCP_RST))
			sl_tcp_enter_time_wait(t);
		if (!(s.flags & SL_TCP_RST)) {
			STAT_INC(st, tcp_out_of_window);
			t->ack_now = true; /* the reply that keepalive probes count on */
			sl_tcp_want_output(t);
		} else {
			STAT_INC(st, tcp_rst_out_of_window);
		}
		return SL_RX_RELEASE;
	}

	/* Second: RST (RFC 5961 §3.2: reset only on an exact match, challenge otherwise). */
	if (s.flags & SL_TCP_RST) {
		if (s.seq != t->rcv_nxt) {
			if (sl_tcp_challenge_ok(st))
				sl_tcp_send_ack(t);
			return SL_RX_RELEASE;
		}
		STAT_INC(st, tcp_resets_rx);
		if (t->state == SL_TCP_SYN_RECEIVED && t->listener) {
			sl_tcb_free(t); /* back to LISTEN: the listener never saw it */
			return SL_RX_RELEASE;
		}
		if (t->state == SL_TCP_SYN_RECEIVED && t->active) {
			sl_tcp_done(t, -ECONNREFUSED);
			return SL_RX_RELEASE;
		}
		bool orderly = t->state == SL_TCP_CLOSING || t->state == SL_TCP_LAST_ACK ||
			       t->state == SL_TCP_TIME_WAIT;
		sl_tcp_done(t, orderly ? 0 : -ECONNRESET);
		return SL_RX_RELEASE;
	}
	/* Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK. */
	if (s.flags & SL_TCP_SYN) {
		if (sl_tcp_challenge_ok(st))
			sl_tcp_send_ack(t);
		return SL_RX_RELEASE;
	}
	/* Fifth: ACK. */
	if (!(s.flags & SL_TCP_ACK)) {
		STAT_INC(st, tcp_bad_flags);
		return SL_RX_RELEASE;
	}
	/* RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA − MAX.SND.WND, SND.NXT]. */
	uint32_t lo = t->snd_una - (t->max_snd_wnd ? t->max_snd_wnd : 1);
	if (seq_gt(s.ack, t->snd_max) || seq_lt(s.ack, lo)) {
		STAT_INC(st, tcp_bad_ack);
		if (seq_gt(s.ack, t->snd_max) || sl_tcp_challenge_ok(st)) {
			t->ack_now = true;
			sl_tcp_want_output(t);
		}
		return SL_RX_RELEASE;
	}
	if (t->state == SL_TCP_SYN_RECEIVED) {
		if (!seq_gt(s.ack, t->snd_una)) {
			sl_tcp_send_rst_for(st, pkt, s.th, s.len);
			return SL_RX_RELEASE;
		}
		if (t->rtt_timing && !t->backoff)
			sl_tcp_rtt_sample(t, st->now - t->rtt_start);
		t->rtt_timing = false;
		t->snd_una = s.ack;
		t->snd_wnd = (uint32_t)s.win << t->snd_wscale;
		t->max_snd_wnd = t->snd_wnd;
		t->snd_wl1 = s.seq;
		t->snd_wl2 = s.ack;
		bool passive = !t->active;
		struct sl_listener *l = t->listener;
		established(t);
		if (passive)
			STAT_INC(st, tcp_accepted);
		else
			STAT_INC(st, tcp_connected);
		/* (sl_tcp_unlisten resets a listener's half-open connections, so l is live.) */
		if (passive && l && l->used)
			l->on_accept(l->arg, (struct sl_tcp_flow *)t);
		else if (!passive && !t->connected_notified) {
			t->connected_notified = true;
			if (t->cb.on_connected)
				t->cb.on_connected(t->arg, (struct sl_tcp_flow *)t, 0);
		}
		if (t->dead)
			return SL_RX_RELEASE;
	}
	bool space_freed = false;
	process_ack(t, &s, &space_freed);
	switch (t->state) {
	case SL_TCP_FIN_WAIT_1:
		if (fin_acked(t)) {
			sl_tcp_set_state(t, SL_TCP_FIN_WAIT_2);
			if (t->app_closed) /* bound an orphan's wait for the peer's FIN */
				sl_timer_arm(&st->timers, &t->tw_timer,
					     st->now + 2 * st->cfg.tcp_msl_ns);
		}
		break;
	case SL_TCP_CLOSING:
		if (fin_acked(t))
			sl_tcp_enter_time_wait(t);
		break;
	case SL_TCP_LAST_ACK:
		if (fin_acked(t)) {
			sl_tcp_done(t, 0);
			return SL_RX_RELEASE;
		}
		break;
	case SL_TCP_TIME_WAIT:
		/* A retransmitted FIN: acknowledge it and restart the 2·MSL wait. */
		if (s.flags & SL_TCP_FIN) {
			t->ack_now = true;
			sl_tcp_want_output(t);
			sl_tcp_enter_time_wait(t);
		}
		return SL_RX_RELEASE;
	default:
		break;
	}

	/* Seventh: segment text. */
	bool readable = false;
	if (s.dlen && (t->state == SL_TCP_ESTABLISHED || t->state == SL_TCP_FIN_WAIT_1 ||
		       t->state == SL_TCP_FIN_WAIT_2)) {
		readable = take_data(t, &s);
		if (readable) {
			/* Delayed ACK: at least every second full segment, else within 40 ms. */
			if (++t->delack_segs >= 2 || s.dlen < t->mss)
				t->ack_now = t->ack_now || t->delack_segs >= 2;
			if (!t->ack_now)
				sl_tcp_arm_delack(t);
		}
		if (t->ack_now)
			sl_tcp_want_output(t);
	}

	/* Eighth: FIN, once everything before it has arrived. */
	if ((s.flags & SL_TCP_FIN) && !t->fin_rcvd && s.seq + s.dlen == t->rcv_nxt &&
	    t->nooo == 0) {
		t->rcv_nxt++;
		t->fin_rcvd = true;
		t->ack_now = true;
		readable = true;
		sl_tcp_want_output(t);
		switch (t->state) {
		case SL_TCP_ESTABLISHED:
			sl_tcp_set_state(t, SL_TCP_CLOSE_WAIT);
			break;
		case SL_TCP_FIN_WAIT_1:
			if (fin_acked(t))
				sl_tcp_enter_time_wait(t);
			else
				sl_tcp_set_state(t, SL_TCP_CLOSING);
			break;
		case SL_TCP_FIN_WAIT_2:
			sl_tcp_enter_time_wait(t);
			break;
		default:
			break;
		}
	}
	if (readable && t->cb.on_readable) {
		t->cb.on_readable(t->arg, (struct sl_tcp_flow *)t);
		if (t->dead)
			return SL_RX_RELEASE;
	}
	if (space_freed && t->want_writable && sl_ring_free(&t->sndbuf) > 0) {
		t->want_writable = false;
		if (t->cb.on_writable)
			t->cb.on_writable(t->arg, (struct sl_tcp_flow *)t);
	}
	return SL_RX_RELEASE;
}

bool sl_tcp_icmp_error(struct sl_stack *st, int err, const uint8_t *q, size_t qlen)
{
	if (qlen < SL_IPV4_HLEN || (q[0] >> 4) != 4)
		return false;
	unsigned hlen = sl_ipv4_hlen(q);
	if (hlen < SL_IPV4_HLEN || qlen < hlen + 8 || sl_ipv4_proto(q) != SL_IPPROTO_TCP)
		return false;
	const uint8_t *th = q + hlen;
	struct sl_tcb *t =
	    sl_tcp_lookup(st, sl_ipv4_src(q), sl_tcp_sport(th), sl_ipv4_dst(q), sl_tcp_dport(th));
	if (!t)
		return false;
	/* RFC 5461 / RFC 1122 §4.2.3.9: in SYN-SENT a port or protocol unreachable ends the
	 * attempt; elsewhere ICMP errors are soft (the retransmission timer decides). */
	if (t->state == SL_TCP_SYN_SENT && err == -ECONNREFUSED)
		sl_tcp_done(t, -ECONNREFUSED);
	return true;
}
