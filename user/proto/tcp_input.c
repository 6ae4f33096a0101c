/*
 * TCP segment arrival (RFC 9293 §3.10.7): LISTEN (with SYN cookies, RFC 4987 §3.6),
 * SYN-SENT and the synchronized states, in the RFC's order of checks:
 *   - timestamps (RFC 7323 §3.2: once negotiated, a segment without them is dropped) and
 *     PAWS (§5.3 R1) before the sequence check; TS.Recent updated per §4.3 after it;
 *   - acceptability, with the zero-window allowance of §3.10.7.4 (an ACK at RCV.NXT is
 *     processed even when its data cannot be taken); unacceptable segments are answered,
 *     those without data at most once per tcp_oow_ack_ns (RFC 5961 §7 advice);
 *   - RST (RFC 5961 §3.2 exact match or a challenge ACK; RFC 1337: ignored in TIME-WAIT),
 *     SYN (RFC 5961 §4.2), ACK (RFC 5961 §5.2 window), then loss recovery (tcp_recovery.c);
 *   - data and FIN (tcp_rcvq.c), delayed ACKs (RFC 9293 §3.8.6.3: at most 40 ms, at least
 *     every second full segment, at once for out-of-order data or a filled hole).
 * ICMP errors are acted on only when they quote a sequence number in flight (RFC 5927 §4.1).
 */
#include "iface/stack.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include <errno.h>
#include <string.h>

#define PAWS_IDLE_NS (24ULL * 24 * 3600 * 1000000000ULL) /* RFC 7323 §5.5: 24 days */

struct seg {
	const uint8_t *th;
	const uint8_t *data;
	uint32_t seq, ack, dlen, len; /* len: dlen + SYN + FIN */
	uint16_t win;
	uint8_t flags;
	struct sl_tcp_opts o;
};

static void update_mss(struct sl_tcb *t)
{
	uint32_t our = sl_tcp_our_mss(t->st, t->v6, t->user_mss);
	uint32_t base = t->peer_mss < our ? t->peer_mss : our;
	/* RFC 6691: the MSS counts no options; the timestamps every segment carries do (an
	 * announced MSS below their 12 bytes leaves 0, then the floor, not a wrapped value). */
	uint32_t opts = t->ts_ok ? 12 : 0;
	base = base > opts ? base - opts : 0;
	t->mss = (uint16_t)(base < 64 ? 64 : base);
}

/* The options of the peer's SYN (in LISTEN) or SYN-ACK (in SYN-SENT). */
static void apply_syn_options(struct sl_tcb *t, const struct seg *s)
{
	const struct sl_stack_config *c = &t->st->cfg;
	/* RFC 9293 §3.7.1: send no segment larger than the peer's MSS (536 without one). */
	t->peer_mss = s->o.mss ? s->o.mss : 536;
	/* RFC 7323 §2.2: scaling is on only when both SYNs carry the option. */
	if (s->o.wscale >= 0) {
		t->wscale_ok = true;
		t->snd_wscale = (uint8_t)s->o.wscale;
	} else {
		t->wscale_ok = false;
		t->snd_wscale = 0;
		t->rcv_wscale = 0;
	}
	/* RFC 2018 §2 and RFC 7323 §3.2: likewise for SACK and timestamps (a SYN-ACK carries
	 * them only if our SYN offered them, which it does when configured). */
	t->sack_ok = c->tcp_sack && s->o.sack_ok;
	t->ts_ok = c->tcp_timestamps && s->o.has_ts;
	if (t->ts_ok) {
		t->ts_recent = s->o.ts_val;
		t->ts_recent_ns = t->st->now;
	}
	update_mss(t);
}

/* cwnd and the algorithm's state, once the MSS is known. */
static void cc_start(struct sl_tcb *t)
{
	t->rack.fack = t->snd_una; /* nothing delivered yet: RACK's highest is where we start */
	t->cwnd = sl_tcp_initial_window(t);
	t->ssthresh = 0x7fffffff; /* RFC 5681 §3.1: arbitrarily high */
	t->recover = t->iss;	  /* RFC 6582 §3.2: recover starts at the ISN */
	t->cc->init(t);
}

static bool syncookie_wanted(const struct sl_stack *st, const struct sl_listener *l)
{
	return st->cfg.tcp_syncookies == 2 ||
	       (st->cfg.tcp_syncookies == 1 && l->synq.n >= st->cfg.tcp_backlog);
}

/* Passive open: a SYN for a listener (RFC 9293 §3.10.7.2). */
static void listen_input(struct sl_stack *st, struct sl_listener *l, const struct sl_ip_pkt *pkt,
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
	if (!min_iss && syncookie_wanted(st, l)) {
		struct seg_view v = {s->th, s->seq, s->ack, s->win, s->flags, &s->o};
		sl_tcp_cookie_synack(st, l, &pkt->dst, &pkt->src, &v);
		return;
	}
	if (l->synq.n >= st->cfg.tcp_backlog) {
		/* RFC 4987 §3.4: the oldest half-open connection makes room, so a flood of SYNs
		 * from addresses that never answer cannot lock real clients out. */
		STAT_INC(st, tcp_backlog_full);
		sl_tcb_free(l->synq.head);
	}
	struct sl_tcb *t =
	    sl_tcb_new(st, &pkt->dst, sl_tcp_dport(s->th), &pkt->src, sl_tcp_sport(s->th));
	if (!t)
		return; /* counted there: tcp_conn_limit or tcp_no_mem */
	sl_listener_iptx_to(l, t);
	apply_syn_options(t, s);
	t->listener = l;
	t->irs = s->seq;
	t->rcv_nxt = s->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	t->snd_wnd = s->win; /* never scaled in a SYN */
	t->max_snd_wnd = s->win;
	t->snd_wl1 = s->seq;
	t->iss = sl_tcp_isn(st, &t->laddr, t->lport, &t->raddr, t->rport);
	if (min_iss && seq_lt(t->iss, min_iss))
		t->iss = min_iss;
	t->snd_una = t->snd_nxt = t->snd_max = t->iss;
	t->snd_wl2 = t->iss;
	if (l->ka_on) {
		t->ka = l->ka;
		t->ka_on = true;
	}
	t->state = SL_TCP_CLOSED;
	sl_tcp_set_state(t, SL_TCP_SYN_RECEIVED); /* joins the listener's backlog */
	sl_tcp_send_syn(t);
}

/* Entering ESTABLISHED. A passive open gets its buffers here; false when there are none. */
static bool established(struct sl_tcb *t)
{
	if (sl_tcb_alloc_buffers(t)) {
		STAT_INC(t->st, tcp_conn_limit);
		sl_tcp_send_rst(t);
		sl_tcp_done(t, -ENOMEM);
		return false;
	}
	sl_tcp_set_state(t, SL_TCP_ESTABLISHED);
	t->backoff = 0;
	t->rto_ns = t->rtt_valid ? t->rto_ns : t->st->cfg.tcp_rto_initial_ns;
	/* RFC 6298 (5.7): a SYN that was retransmitted leaves RTO at 3 s until a sample. */
	if (!t->rtt_valid && t->retransmits && t->rto_ns < 3000000000ULL)
		t->rto_ns = 3000000000ULL;
	sl_timer_cancel(&t->st->timers, &t->rtx_timer);
	t->rto_at = 0;
	sl_timer_cancel(&t->st->timers, &t->conn_timer);
	cc_start(t);
	sl_tcp_ka_reset(t);
	return true;
}

static void syn_rtt(struct sl_tcb *t)
{
	if (t->syn_timing && !t->backoff)
		sl_tcp_rtt_sample(t, t->st->now - t->syn_sent_ns);
	t->syn_timing = false;
}

/* SYN-SENT (RFC 9293 §3.10.7.3). */
static void syn_sent_input(struct sl_tcb *t, const struct sl_ip_pkt *pkt, const struct seg *s)
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
		} else {
			/* "Otherwise (no ACK), drop the segment": RFC 5961 §3.2 takes a RST in
			 * SYN-SENT only when it acknowledges our SYN. */
			STAT_INC(st, tcp_rst_out_of_window);
		}
		return;
	}
	if (!(s->flags & SL_TCP_SYN)) {
		/* Fifth: "if neither of the SYN or RST bits is set, then drop the segment". */
		STAT_INC(st, tcp_bad_flags);
		return;
	}
	apply_syn_options(t, s);
	t->irs = s->seq;
	t->rcv_nxt = s->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	if (ack_ok) {
		syn_rtt(t);
		t->snd_una = s->ack;
		t->snd_wnd = s->win;
		t->max_snd_wnd = s->win;
		t->snd_wl1 = s->seq;
		t->snd_wl2 = s->ack;
		if (!established(t))
			return;
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

/* RFC 5681 §2: a duplicate ACK — except that a window that shrank still counts: a receiver
 * holding our out-of-order segments advertises less room with each one (Linux does), and
 * without SACK those ACKs are all the loss signal there is. A window that grew is a window
 * update, not a duplicate. */
static bool is_dupack(const struct sl_tcb *t, const struct seg *s)
{
	return s->ack == t->snd_una && s->dlen == 0 && !(s->flags & (SL_TCP_SYN | SL_TCP_FIN)) &&
	       t->snd_nxt != t->snd_una && s->win != 0 &&
	       (uint32_t)s->win << t->snd_wscale <= t->snd_wnd;
}

/* Window update (RFC 9293 §3.10.7.4, fifth, "If SND.UNA =< SEG.ACK =< SND.NXT"): an older
 * ACK offers its window from SEG.ACK, not from SND.UNA, and is ignored. */
static inline __attribute__((always_inline)) void window_update(struct sl_tcb *t,
								 const struct seg *s)
{
	if (seq_geq(s->ack, t->snd_una) &&
	    (seq_lt(t->snd_wl1, s->seq) || (t->snd_wl1 == s->seq && seq_leq(t->snd_wl2, s->ack)))) {
		uint32_t w = (uint32_t)s->win << t->snd_wscale;
		if (w > t->snd_wnd)
			sl_tcp_want_output(t);
		t->snd_wnd = w;
		t->snd_wl1 = s->seq;
		t->snd_wl2 = s->ack;
		if (w > t->max_snd_wnd)
			t->max_snd_wnd = w;
		if (w) {
			/* Output arms it again (at the unbacked-off delay) if data still waits. */
			if (sl_timer_armed(&t->persist_timer)) {
				sl_timer_cancel(&t->st->timers, &t->persist_timer);
				sl_tcp_want_output(t);
			}
			t->persist_backoff = 0;
		}
	}
	/* The window opened under a probe the peer did not take: the byte goes again as the
	 * start of ordinary data (SND.MAX falls back to SND.NXT). */
	if (t->persisting && t->snd_wnd) {
		t->persisting = false;
		if (seq_gt(t->snd_max, t->snd_nxt))
			t->snd_max = t->snd_nxt;
	}
}

/* The ACK half of header prediction (the receiving side of a bulk transfer): nothing is
 * outstanding, nothing in recovery, no SACK blocks, the ACK changes nothing, so
 * sl_tcp_ack_recovery would find nothing to do but clear these. */
static inline bool ack_predicted(const struct sl_tcb *t, const struct seg *s)
{
	return s->ack == t->snd_una && t->snd_una == t->snd_max && !s->o.nsack &&
	       !t->in_recovery && !t->in_loss && !t->undo_on && !t->eifel_on && !t->tlp.out;
}

static void process_ack(struct sl_tcb *t, const struct seg *s, bool *space_freed)
{
	struct sl_ack_info ai;
	bool dup = is_dupack(t, s);
	uint32_t lost_before = t->sm.lost;
	bool adv;
	if (ack_predicted(t, s)) {
		memset(&ai, 0, sizeof(ai));
		t->tlp.unanswered = 0;
		adv = false;
	} else {
		adv = sl_tcp_ack_recovery(t, s->ack, &s->o, dup, &ai);
	}
	if (adv) {
		if (ai.rtt_ns)
			sl_tcp_rtt_sample(t, ai.rtt_ns);
		t->backoff = 0;
		t->persist_backoff = 0;
		uint32_t data = ai.acked < t->sndbuf.len ? ai.acked : t->sndbuf.len;
		t->sndbuf.head = (t->sndbuf.head + data) & (t->sndbuf.cap - 1);
		t->sndbuf.len -= data;
		if (data)
			*space_freed = true;
		sl_tcp_want_output(t);
	} else if (ai.delivered || t->sm.lost != lost_before || ai.dupack) {
		sl_tcp_want_output(t); /* room in the pipe, or something to retransmit */
	}
	window_update(t, s);
	if (t->snd_nxt == t->snd_una)
		sl_tcp_rearm_rtx(t, false); /* nothing outstanding: RFC 6298 (5.2) */
	else if (adv || ai.sack_new || t->rack.reo_at || !sl_timer_armed(&t->rtx_timer))
		sl_tcp_rearm_rtx(t, ai.restart_rto);
}

static bool fin_acked(const struct sl_tcb *t)
{
	return t->fin_sent && t->snd_una == t->snd_nxt && t->sndbuf.len == 0;
}

/* RFC 7323 §5.3 R1: a timestamp older than TS.Recent (while that is less than 24 days old). */
static bool paws_reject(struct sl_tcb *t, const struct seg *s)
{
	if (!seq_lt(s->o.ts_val, t->ts_recent))
		return false;
	if (t->st->now - t->ts_recent_ns > PAWS_IDLE_NS) {
		/* §5.5: TS.Recent is too old to judge by; take the new one. */
		t->ts_recent = s->o.ts_val;
		t->ts_recent_ns = t->st->now;
		return false;
	}
	return true;
}

/* Answer a segment we cannot use: always when it occupies sequence space — data or a FIN,
 * the sender's retransmission (RFC 2883 needs the ACK; RFC 9293 §3.10.7.4 acknowledges a
 * FIN retransmitted into TIME-WAIT) — else within the per-connection limit. */
static void answer_unacceptable(struct sl_tcb *t, const struct seg *s)
{
	bool seqspace = (s->dlen || (s->flags & SL_TCP_FIN)) && !(s->flags & SL_TCP_SYN);
	if (seqspace || sl_tcp_oow_ok(t)) {
		t->ack_now = true;
		sl_tcp_want_output(t);
	}
}

/* Eighth: the FIN, once everything before it has arrived. */
static void fin_step(struct sl_tcb *t, bool *readable)
{
	if (t->fin_rcvd || !t->fin_pending || t->rcv_nxt != t->fin_seq)
		return;
	t->fin_pending = false;
	t->rcv_nxt++;
	t->fin_rcvd = true;
	t->ack_now = true;
	*readable = true;
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

/* on_readable is owed: at the end of the poll, once for every segment until then
 * (sl_tcp_flush). */
static inline void readable(struct sl_tcb *t)
{
	struct sl_tcp *tt = &t->st->tcp;
	if (t->on_readq || !t->cb.on_readable)
		return;
	t->on_readq = true;
	t->rnext = NULL;
	*tt->readq_tail = t;
	tt->readq_tail = &t->rnext;
}

/*
 * Header prediction (Van Jacobson's, as in RFC 1323 Appendix A and Linux's
 * tcp_rcv_established): the next in-order segment of a bulk transfer, in ESTABLISHED, with
 * nothing but ACK (and PSH) set, carrying data that fits, acknowledging nothing new while
 * nothing is outstanding, with an acceptable timestamp. For such a segment every step of
 * RFC 9293 §3.10.7.4 has one outcome, known in advance: PAWS passes (RFC 7323 §5.3), the
 * segment is acceptable (SEG.SEQ = RCV.NXT inside a window that is open), no RST, no SYN, the
 * ACK is acceptable and advances nothing, the text goes in order into the receive queue with
 * no hole to fill and no FIN to step. rcv_predicted does exactly what the general path does
 * for it, in the same order, without asking again; anything else takes the general path.
 */
static inline bool predicted(const struct sl_tcb *t, const struct seg *s)
{
	return t->state == SL_TCP_ESTABLISHED && (s->flags & (uint8_t)~SL_TCP_PSH) == SL_TCP_ACK &&
	       s->seq == t->rcv_nxt && s->dlen && ack_predicted(t, s) &&
	       (!t->ts_ok || (s->o.has_ts && !seq_lt(s->o.ts_val, t->ts_recent))) &&
	       seq_gt(t->rcv_adv, t->rcv_nxt) && s->dlen <= sl_ring_free(&t->rcvbuf) && !t->nooo &&
	       !t->rd_shut && !t->fin_pending;
}

static inline __attribute__((always_inline)) enum sl_rx_result
rcv_predicted(struct sl_stack *st, struct sl_tcb *t, const struct seg *s)
{
	t->segs_in++;
	t->persist_unanswered = 0;
	/* sl_tcp_ka_reset for ESTABLISHED: the timer is armed only when it is not. */
	t->last_rx = st->now;
	t->ka_sent = 0;
	if (t->ka_on && !sl_timer_armed(&t->ka_timer))
		sl_tcp_ka_reset(t);
	/* RFC 7323 §4.3 (3): TS.Recent follows the segment that covers Last.ACK.sent (its
	 * timestamp is not older: predicted). */
	if (t->ts_ok && seq_leq(s->seq, t->last_ack_sent)) {
		t->ts_recent = s->o.ts_val;
		t->ts_recent_ns = st->now;
	}
	/* Fifth: the ACK (process_ack's predicted case: nothing to recover, nothing acked). */
	t->tlp.unanswered = 0;
	window_update(t, s);
	/* Nothing outstanding: RFC 6298 (5.2) (sl_tcp_rearm_rtx's first case). */
	if (sl_timer_armed(&t->rtx_timer))
		sl_timer_cancel(&st->timers, &t->rtx_timer);
	t->rto_at = 0;
	/* Seventh: the text, in order, no hole, room for all of it (sl_tcp_rcv_data's last
	 * case). */
	sl_ring_put(&t->rcvbuf, t->rcvbuf.len, s->data, s->dlen);
	t->bytes_received += s->dlen;
	t->rcv_nxt += s->dlen;
	t->rcvbuf.len += s->dlen;
	/* Delayed ACK: at least every second full segment, else within 40 ms. */
	if (++t->delack_segs >= 2)
		t->ack_now = true;
	if (!t->ack_now)
		sl_tcp_arm_delack(t);
	else
		sl_tcp_want_output(t);
	readable(t);
	return SL_RX_RELEASE;
}

enum sl_rx_result sl_tcp_input(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	struct seg s;
	uint64_t ps = pkt->v6 ? sl_ip_pseudo_sum(&pkt->src, &pkt->dst, 6, (uint32_t)pkt->l4len)
			      : sl_csum_pseudo4(pkt->src4, pkt->dst4, 6, (uint16_t)pkt->l4len);
	int bad = sl_tcp_check_ps(pkt->l4, pkt->l4len, ps, &s.o);
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
	/* No flags at all, or SYN with FIN or RST: never valid (RFC 9293 §3.1). TCP is never
	 * sent to a broadcast or multicast address (RFC 1122 §4.2.3.10). */
	if ((s.flags & (SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST | SL_TCP_FIN)) == 0 ||
	    ((s.flags & SL_TCP_SYN) && (s.flags & (SL_TCP_FIN | SL_TCP_RST))) || pkt->bcast) {
		STAT_INC(st, tcp_bad_flags);
		return SL_RX_RELEASE;
	}
	STAT_INC(st, tcp_rx);
	uint16_t sport = sl_tcp_sport(s.th), dport = sl_tcp_dport(s.th);
	/* The last connection looked up first, here rather than in sl_tcp_lookup: segments come
	 * in trains. */
	struct sl_tcb *t = st->tcp.last;
	if (!t || t->rport != sport || t->lport != dport || !sl_ip_eq(&t->raddr, &pkt->src) ||
	    !sl_ip_eq(&t->laddr, &pkt->dst))
		t = sl_tcp_lookup(st, &pkt->dst, dport, &pkt->src, sport);
	if (t && predicted(t, &s))
		return rcv_predicted(st, t, &s);
	s.len = s.dlen + !!(s.flags & SL_TCP_SYN) + !!(s.flags & SL_TCP_FIN);

	if (t && t->state == SL_TCP_TIME_WAIT && (s.flags & SL_TCP_SYN) &&
	    !(s.flags & (SL_TCP_ACK | SL_TCP_RST)) && seq_gt(s.seq, t->rcv_nxt)) {
		/* RFC 9293 §3.10.7.4 note / RFC 6191: a new SYN beyond the old connection's
		 * sequence space may reopen the pair; the new ISN lies above the old one. */
		struct sl_listener *l = sl_tcp_find_listener(st, dport);
		if (l && (sl_ip_is_v4(&pkt->dst) ? l->no_v4 : l->no_v6))
			l = NULL;
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
		/* A listener that takes one family only answers the other as a closed port. */
		if (l && (sl_ip_is_v4(&pkt->dst) ? l->no_v4 : l->no_v6))
			l = NULL;
		bool cookie_ack = l && st->cfg.tcp_syncookies && (s.flags & SL_TCP_ACK) &&
				  !(s.flags & (SL_TCP_SYN | SL_TCP_RST)) &&
				  sl_tcp_cookies_outstanding(st);
		if (cookie_ack && sl_listener_no_room(l, &pkt->dst)) {
			/* Perhaps a cookie's answer, with no room to accept it: ignored, so the
			 * client's next segment (it retransmits) tries again. */
			STAT_INC(st, tcp_listen_overflow);
			return SL_RX_RELEASE;
		}
		if (cookie_ack) {
			/* An ACK for a listener without a half-open connection: the answer to a
			 * cookie, or nothing we know, which is reset (RFC 9293 §3.10.7.2). Either
			 * failure is counted once, there: not as tcp_no_conn too. A good cookie with
			 * no control block to be had is dropped, as a SYN is then: not reset. */
			struct seg_view v = {s.th, s.seq, s.ack, s.win, s.flags, &s.o};
			int err = sl_tcp_cookie_check(st, l, &pkt->dst, &pkt->src, &v, &t);
			if (err == -EINVAL)
				sl_tcp_send_rst_for(st, pkt, s.th, s.len);
			if (err)
				return SL_RX_RELEASE;
		}
		if (!t && l) {
			listen_input(st, l, pkt, &s, 0);
			return SL_RX_RELEASE;
		}
		if (!t) {
			STAT_INC(st, tcp_no_conn);
			sl_tcp_send_rst_for(st, pkt, s.th, s.len);
			return SL_RX_RELEASE;
		}
	}
	t->segs_in++;
	t->persist_unanswered = 0;
	if (t->state >= SL_TCP_ESTABLISHED)
		sl_tcp_ka_reset(t);
	if (t->state == SL_TCP_SYN_SENT) {
		syn_sent_input(t, pkt, &s);
		return SL_RX_RELEASE;
	}

	/* RFC 7323 §3.2 and §5.3, before the sequence check. */
	if (t->ts_ok && !(s.flags & SL_TCP_RST)) {
		if (!s.o.has_ts) {
			STAT_INC(st, tcp_ts_missing);
			return SL_RX_RELEASE;
		}
		if (paws_reject(t, &s)) {
			STAT_INC(st, tcp_paws_rejected);
			answer_unacceptable(t, &s);
			return SL_RX_RELEASE;
		}
	}

	/* First: is the segment acceptable (RFC 9293 §3.10.7.4 table)? */
	uint32_t rwnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	bool ok;
	if (s.len == 0) {
		ok = rwnd == 0 ? s.seq == t->rcv_nxt : seq_in(s.seq, t->rcv_nxt, t->rcv_nxt + rwnd);
	} else if (rwnd == 0) {
		/* §3.10.7.4: with a zero window no segment is acceptable, "but special allowance
		 * should be made to accept valid ACKs, URGs, and RSTs": one at RCV.NXT is
		 * processed without its text. */
		ok = s.seq == t->rcv_nxt && !(s.flags & SL_TCP_SYN);
		if (ok) {
			if (s.dlen || (s.flags & SL_TCP_FIN)) /* its text or FIN is not taken */
				STAT_INC(st, tcp_out_of_window);
			s.dlen = 0;
			s.flags &= (uint8_t)~SL_TCP_FIN;
			s.len = 0;
			t->ack_now = true; /* tell the sender the window is still closed */
			sl_tcp_want_output(t);
		}
	} else {
		ok = seq_in(s.seq, t->rcv_nxt, t->rcv_nxt + rwnd) ||
		     seq_in(s.seq + s.len - 1, t->rcv_nxt, t->rcv_nxt + rwnd);
	}
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
			/* Data (or a FIN) we hold already: a duplicate to report (RFC 2883),
			 * the FIN counted as the sequence number it occupies. */
			uint32_t dl = s.dlen + !!(s.flags & SL_TCP_FIN);
			if (dl && seq_leq(s.seq + dl, t->rcv_nxt))
				sl_tcp_rcv_duplicate(t, s.seq, dl);
			answer_unacceptable(t, &s);
		} else {
			STAT_INC(st, tcp_rst_out_of_window);
		}
		return SL_RX_RELEASE;
	}
	/* RFC 7323 §4.3 (3): TS.Recent follows the segment that covers Last.ACK.sent. */
	if (t->ts_ok && s.o.has_ts && seq_geq(s.o.ts_val, t->ts_recent) &&
	    seq_leq(s.seq, t->last_ack_sent)) {
		t->ts_recent = s.o.ts_val;
		t->ts_recent_ns = st->now;
	}

	/* Second: RST (RFC 5961 §3.2: reset only on an exact match, challenge otherwise). */
	if (s.flags & SL_TCP_RST) {
		if (t->state == SL_TCP_TIME_WAIT) {
			/* RFC 1337: a reset must not cut TIME-WAIT short (TIME-WAIT assassination).
			 */
			STAT_INC(st, tcp_rst_out_of_window);
			return SL_RX_RELEASE;
		}
		if (s.seq != t->rcv_nxt) {
			if (sl_tcp_challenge_ok(t))
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
		bool orderly = t->state == SL_TCP_CLOSING || t->state == SL_TCP_LAST_ACK;
		sl_tcp_done(t, orderly ? 0 : -ECONNRESET);
		return SL_RX_RELEASE;
	}
	/* Fourth: SYN in a synchronized state (RFC 5961 §4.2): challenge ACK. */
	if (s.flags & SL_TCP_SYN) {
		if (sl_tcp_challenge_ok(t))
			sl_tcp_send_ack(t);
		return SL_RX_RELEASE;
	}
	/* Fifth: ACK. */
	if (!(s.flags & SL_TCP_ACK)) {
		STAT_INC(st, tcp_bad_flags);
		return SL_RX_RELEASE;
	}
	/* RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA − MAX.SND.WND, SND.MAX]. */
	uint32_t lo = t->snd_una - (t->max_snd_wnd ? t->max_snd_wnd : 1);
	if (seq_gt(s.ack, t->snd_max) || seq_lt(s.ack, lo)) {
		STAT_INC(st, tcp_bad_ack);
		if (sl_tcp_challenge_ok(t)) {
			t->ack_now = true;
			sl_tcp_want_output(t);
		}
		return SL_RX_RELEASE;
	}
	if (t->state == SL_TCP_SYN_RECEIVED) {
		if (!seq_gt(s.ack, t->snd_una)) {
			/* §3.10.7.4 fifth: an ACK that does not acknowledge our SYN is not
			 * acceptable: answered with a reset, the segment dropped. */
			STAT_INC(st, tcp_bad_ack);
			sl_tcp_send_rst_for(st, pkt, s.th, s.len);
			return SL_RX_RELEASE;
		}
		if (!t->active && t->listener && t->listener->used &&
		    sl_listener_no_room(t->listener, &pkt->dst)) {
			/* No room to accept: as if this ACK were lost (tcp_abort_on_overflow 0).
			 * The SYN-ACK's retransmission brings the next try. */
			STAT_INC(st, tcp_listen_overflow);
			return SL_RX_RELEASE;
		}
		syn_rtt(t);
		t->snd_una = s.ack;
		t->snd_wnd = (uint32_t)s.win << t->snd_wscale;
		t->max_snd_wnd = t->snd_wnd;
		t->snd_wl1 = s.seq;
		t->snd_wl2 = s.ack;
		bool passive = !t->active;
		struct sl_listener *l = t->listener;
		if (!established(t))
			return SL_RX_RELEASE;
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
	/* Seventh, in CLOSE-WAIT, CLOSING, LAST-ACK and TIME-WAIT (the states after the peer's
	 * FIN): "This should not occur since a FIN has been received from the remote side.
	 * Ignore the segment text." Counted. */
	if (s.dlen && t->fin_rcvd)
		STAT_INC(st, tcp_data_after_fin);
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
	bool is_readable = false;
	bool takes = t->state == SL_TCP_ESTABLISHED || t->state == SL_TCP_FIN_WAIT_1 ||
		     t->state == SL_TCP_FIN_WAIT_2;
	bool fin = (s.flags & SL_TCP_FIN) && takes;
	if (s.dlen && takes) {
		is_readable = sl_tcp_rcv_data(t, s.seq, s.data, s.dlen, fin);
		if (is_readable) {
			/* Delayed ACK: at least every second full segment, else within 40 ms. */
			if (++t->delack_segs >= 2)
				t->ack_now = true;
			if (!t->ack_now)
				sl_tcp_arm_delack(t);
		} else if (t->ack_now) {
			/* RFC 5681 §4.2: an out-of-order or duplicate segment is answered at once,
			 * one ACK each, not one for the whole batch. A sender without SACK counts
			 * them; one with SACK (Linux) is stuck until its RTO when the single ACK
			 * that would have carried a batch's blocks is lost (measured: coalescing
			 * them after three per hole, as Linux's receiver does, gave a Linux sender
			 * 6 RTOs in 4 × 100 MiB at 2 % loss, one ACK each gave it 1). */
			sl_tcp_send_ack(t);
		}
		if (t->ack_now)
			sl_tcp_want_output(t);
	} else if (fin && !t->fin_rcvd) {
		/* A FIN alone: in order, or beyond a hole (it waits for the hole). */
		if (seq_geq(s.seq, t->rcv_nxt)) {
			t->fin_pending = true;
			t->fin_seq = s.seq;
		}
		if (s.seq != t->rcv_nxt) {
			t->ack_now = true;
			sl_tcp_want_output(t);
		}
	} else if ((s.flags & SL_TCP_FIN) && t->fin_rcvd) {
		t->ack_now = true; /* a retransmitted FIN */
		sl_tcp_want_output(t);
	}
	fin_step(t, &is_readable);
	if (is_readable)
		readable(t);
	if (space_freed && t->want_writable && sl_ring_free(&t->sndbuf) > 0) {
		t->want_writable = false;
		if (t->cb.on_writable)
			t->cb.on_writable(t->arg, (struct sl_tcp_flow *)t);
	}
	return SL_RX_RELEASE;
}

bool sl_tcp_icmp_error(struct sl_stack *st, int err, const struct sl_ip_quote *q)
{
	if (q->proto != SL_IPPROTO_TCP || q->l4len < 8)
		return false;
	const uint8_t *th = q->l4;
	struct sl_tcb *t = sl_tcp_lookup(st, &q->src, sl_tcp_sport(th), &q->dst, sl_tcp_dport(th));
	if (!t)
		return false;
	/* RFC 5927 §4.1: only an error quoting a sequence number we have in flight
	 * (SND.UNA ≤ SEG.SEQ < SND.NXT) can be about this connection; anything else may be
	 * forged blind. */
	uint32_t seq = sl_tcp_seq(th);
	if (!seq_in(seq, t->snd_una, t->snd_max)) {
		STAT_INC(st, tcp_icmp_bad_seq);
		return true;
	}
	/* RFC 8201 §5.2 / RFC 1191: a smaller path MTU shrinks the segments from now on (those
	 * in flight are fragmented by IP if they must be sent again). */
	if (err == -EMSGSIZE && q->mtu) {
		uint32_t room = q->mtu - t->iphlen - 20 - (t->ts_ok ? 12 : 0);
		if (room >= 64 && room < t->mss)
			t->mss = (uint16_t)room;
		return true;
	}
	/* RFC 5461 / RFC 1122 §4.2.3.9: in SYN-SENT a port or protocol unreachable ends the
	 * attempt; elsewhere ICMP errors are soft (the retransmission timer decides). */
	if (t->state == SL_TCP_SYN_SENT && err == -ECONNREFUSED)
		sl_tcp_done(t, -ECONNREFUSED);
	return true;
}
