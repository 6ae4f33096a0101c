/*
 * Loss detection and recovery for the sender.
 *
 *   RFC 2018 §3, RFC 6675 §4    the SACK scoreboard: blocks mark segments of the send map;
 *                               pipe = FlightSize − SACKed − lost (RFC 6675 §4 "pipe")
 *   RFC 2883 §4, §5             D-SACK: a first block below the ACK or inside the second
 *   RFC 8985 §6                 RACK: a segment is lost when one sent after it was
 *                               delivered and RACK.rtt + reo_wnd has passed since it left;
 *                               reo_wnd = min_RTT / 4, adapted by D-SACKs, 0 when no
 *                               reordering was seen and 3 segments are SACKed or we recover
 *   RFC 8985 §7                 tail loss probe: PTO = 2·SRTT (+ WCDelAckT for one segment),
 *                               at most one outstanding; a probe that repaired a loss costs
 *                               the window a congestion response
 *   RFC 6937                    PRR: during fast recovery cwnd = pipe + sndcnt, proportional
 *                               to what was delivered, slow-start bounded below ssthresh
 *   RFC 5681 §3.2, RFC 6582     without SACK: three duplicate ACKs start recovery if the ACK
 *                               covers more than recover; partial ACKs retransmit the next
 *                               hole; the timer restarts only on the first partial ACK
 *   RFC 5681 §3.1, RFC 6582 §3.2 step 4   a timeout: every segment not SACKed is lost, cwnd
 *                               is one segment, recover = the highest sequence sent
 *   RFC 3522, RFC 4015          Eifel: an ACK after a timeout that echoes a timestamp older
 *                               than the retransmission's shows it spurious: undo
 *   RFC 2883 §5 (and Linux)     every retransmission of an episode D-SACKed: undo
 */
#include "iface/stack.h"
#include <string.h>

#define DUPTHRESH 3
#define WCDELACKT_NS (200ULL * 1000000ULL) /* RFC 8985 §7.2: worst-case delayed ACK */
#define PTO_MIN_NS                                                                                 \
	(200ULL * 1000ULL) /* 2·SRTT on a LAN is tens of µs: a floor against timer noise */
#define MIN_RTT_WINDOW_NS (300ULL * 1000000000ULL)
#define REO_WND_PERSIST 16 /* RFC 8985 §6.2 step 4 */
#define NS_PER_MS 1000000ULL
#define TLP_MAX_UNANSWERED 2 /* probes without an ACK before the RTO decides */

uint32_t sl_tcp_pipe(const struct sl_tcb *t)
{
	uint32_t flight = t->snd_nxt - t->snd_una;
	uint32_t out = t->sm.sacked + t->sm.lost + t->reno_sacked;
	return flight > out ? flight - out : 0;
}

/* RACK's order of transmission: later time, or the same instant and a higher sequence. */
static bool sent_after(uint64_t t1, uint32_t s1, uint64_t t2, uint32_t s2)
{
	return t1 > t2 || (t1 == t2 && seq_gt(s1, s2));
}

static void min_rtt_update(struct sl_tcb *t, uint64_t rtt)
{
	uint64_t now = t->st->now;
	if (!t->min_rtt_at || rtt <= t->min_rtt_ns || now - t->min_rtt_at > MIN_RTT_WINDOW_NS) {
		t->min_rtt_ns = rtt;
		t->min_rtt_at = now ? now : 1;
	}
}

/* RFC 8985 §6.2 steps 2 and 3 for one segment newly delivered (cumulatively or by SACK). */
static void rack_delivered(struct sl_tcb *t, const struct sl_tcp_txseg *s,
			   const struct sl_ack_info *ai)
{
	uint64_t now = t->st->now;
	uint64_t rtt = now - s->xmit_ns;
	if (s->flags & SL_SEG_RETRANS) {
		/* Which transmission does this ACK answer? With timestamps the echo tells; without,
		 * an RTT shorter than the minimum must be the original's. */
		if (ai->has_ecr) {
			if (seq_lt(ai->ts_ecr, sl_tcp_ts_now(t, s->xmit_ns)))
				return;
		} else if (t->min_rtt_at && rtt < t->min_rtt_ns) {
			return;
		}
	}
	if (!t->rack.valid || sent_after(s->xmit_ns, s->end, t->rack.xmit_ns, t->rack.end_seq)) {
		t->rack.rtt_ns = rtt;
		t->rack.xmit_ns = s->xmit_ns;
		t->rack.end_seq = s->end;
		t->rack.valid = true;
	}
	if (seq_lt(s->end, t->rack.fack)) {
		if (!(s->flags & SL_SEG_RETRANS))
			t->rack.reord_seen = true;
	} else {
		t->rack.fack = s->end;
	}
}

/* RFC 8985 §6.2 step 4. */
static uint64_t reo_wnd(const struct sl_tcb *t)
{
	if (!t->rack.reord_seen &&
	    (t->in_recovery || t->in_loss || t->sm.sacked >= DUPTHRESH * (uint32_t)t->mss))
		return 0;
	uint64_t w = t->min_rtt_ns / 4 * (t->rack.reo_wnd_mult ? t->rack.reo_wnd_mult : 1);
	return t->srtt_ns && w > t->srtt_ns ? t->srtt_ns : w;
}

void sl_tcp_rack_detect(struct sl_tcb *t)
{
	struct sl_tcp_sendmap *m = &t->sm;
	uint64_t now = t->st->now;
	t->rack.reo_at = 0;
	if (!t->rack.valid)
		return;
	uint64_t reo = reo_wnd(t);
	/* Oldest transmission first; stop at the first one sent after the delivered segment
	 * RACK knows of, or not yet due (all later ones are due later still). */
	uint32_t idx = m->thead;
	while (idx != SL_SEG_NIL) {
		struct sl_tcp_txseg *s = &m->seg[idx];
		uint32_t next = s->tnext;
		if (!sent_after(t->rack.xmit_ns, t->rack.end_seq, s->xmit_ns, s->end))
			break;
		uint64_t due = s->xmit_ns + t->rack.rtt_ns + reo;
		if (due > now) {
			t->rack.reo_at = due;
			break;
		}
		uint32_t i = sl_sendmap_find(m, s->start);
		if (i < m->n) {
			sl_sendmap_mark_lost(m, i);
			STAT_INC(t->st, tcp_rack_lost);
		} else {
			sl_sendmap_time_unlink(m,
					       s); /* cannot happen: every record is in the map */
		}
		idx = next;
	}
}

/* --- undo -------------------------------------------------------------------------------- */

/* A congestion response begins: remember what to restore if it proves spurious. */
static void episode_start(struct sl_tcb *t)
{
	t->prior_cwnd = t->cwnd;
	t->prior_ssthresh = t->ssthresh;
	t->undo_marker = t->snd_una;
	t->undo_retrans = 0;
	t->undo_rtx = 0;
	t->undo_on = true;
	t->ssthresh = t->cc->ssthresh(t);
}

/* Lost-marked segments not yet retransmitted are in flight after all: back on the time list,
 * ahead of everything retransmitted since (they left before it). */
static void unlose_all(struct sl_tcb *t)
{
	struct sl_tcp_sendmap *m = &t->sm;
	for (uint32_t i = m->n; i-- > 0;) {
		struct sl_tcp_txseg *s = sl_sendmap_at(m, i);
		if (!(s->flags & SL_SEG_LOST))
			continue;
		s->flags &= (uint8_t)~SL_SEG_LOST;
		m->lost -= s->end - s->start;
		uint32_t idx = m->ord[(m->head + i) & (m->cap - 1)];
		s->tprev = SL_SEG_NIL;
		s->tnext = m->thead;
		if (m->thead != SL_SEG_NIL)
			m->seg[m->thead].tprev = idx;
		else
			m->ttail = idx;
		m->thead = idx;
		s->flags |= SL_SEG_INTIME;
	}
	m->lost_hint = m->n;
}

static void do_undo(struct sl_tcb *t)
{
	if (t->cwnd < t->prior_cwnd)
		t->cwnd = t->prior_cwnd;
	if (t->ssthresh < t->prior_ssthresh)
		t->ssthresh = t->prior_ssthresh;
	t->cc->undo(t);
	t->undo_on = false;
	t->eifel_on = false;
	t->spurious_undone++;
	STAT_INC(t->st, tcp_undo);
	/* What looked like loss was reordering or delay. */
	t->rack.reord_seen = true;
	if (t->in_loss)
		unlose_all(t);
	t->in_recovery = false;
	t->in_loss = false;
	t->dupacks = 0;
	t->reno_sacked = 0;
}

/* --- SACK blocks --------------------------------------------------------------------------- */

static void handle_dsack(struct sl_tcb *t, uint32_t l, uint32_t r, struct sl_ack_info *ai)
{
	STAT_INC(t->st, tcp_dsack_rx);
	t->dsacks_rx++;
	ai->dsack = true;
	/* RFC 8985 §6.2 step 4: widen the reordering window once per round trip with D-SACKs. */
	if (t->rack.dsack_round_on && seq_geq(t->snd_una, t->rack.dsack_round))
		t->rack.dsack_round_on = false;
	if (!t->rack.dsack_round_on) {
		t->rack.dsack_round_on = true;
		t->rack.dsack_round = t->snd_nxt;
		if (t->rack.reo_wnd_mult < UINT8_MAX)
			t->rack.reo_wnd_mult =
			    (uint8_t)(t->rack.reo_wnd_mult ? t->rack.reo_wnd_mult + 1 : 2);
		t->rack.reo_wnd_persist = REO_WND_PERSIST;
	}
	if (t->tlp.out && t->tlp.is_retrans && seq_lt(l, t->tlp.end_seq) &&
	    seq_geq(r, t->tlp.end_seq))
		t->tlp.dsacked = true;
	/* A retransmission of the current episode arrived twice: it was not needed. */
	if (t->undo_on && seq_geq(l, t->undo_marker) && t->undo_retrans > 0) {
		t->undo_retrans--;
		STAT_INC(t->st, tcp_spurious_rtx);
	}
}

static void mark_sacked(struct sl_tcb *t, uint32_t i, struct sl_ack_info *ai)
{
	struct sl_tcp_sendmap *m = &t->sm;
	struct sl_tcp_txseg *s = sl_sendmap_at(m, i);
	uint32_t len = s->end - s->start;
	rack_delivered(t, s, ai);
	if (!(s->flags & SL_SEG_RETRANS))
		min_rtt_update(t, t->st->now - s->xmit_ns);
	sl_sendmap_time_unlink(m, s);
	if (s->flags & SL_SEG_LOST) {
		s->flags &= (uint8_t)~SL_SEG_LOST;
		m->lost -= len;
	}
	s->flags |= SL_SEG_SACKED;
	m->sacked += len;
	ai->sack_new = true;
}

/* Mark the records inside [l, r), splitting those that straddle an edge. */
static void sack_range(struct sl_tcb *t, uint32_t l, uint32_t r, struct sl_ack_info *ai)
{
	struct sl_tcp_sendmap *m = &t->sm;
	uint32_t i = sl_sendmap_find(m, l);
	while (i < m->n) {
		struct sl_tcp_txseg *s = sl_sendmap_at(m, i);
		if (!seq_lt(s->start, r))
			break;
		if (s->flags & SL_SEG_SACKED) {
			i++;
			continue;
		}
		if (seq_lt(s->start, l)) {
			if (!sl_sendmap_split(m, i, l))
				break;
			i++;
			continue;
		}
		if (seq_gt(s->end, r) && !sl_sendmap_split(m, i, r))
			break;
		mark_sacked(t, i, ai);
		i++;
	}
}

static void process_sack(struct sl_tcb *t, uint32_t ack, const struct sl_tcp_opts *o,
			 struct sl_ack_info *ai)
{
	STAT_INC(t->st, tcp_sack_rx);
	for (unsigned b = 0; b < o->nsack; b++) {
		uint32_t l = o->sack[b].l, r = o->sack[b].r;
		/* RFC 2883 §4: the first block reports a duplicate when it lies below the ACK or
		 * inside the second block. */
		if (b == 0 && seq_lt(l, r) &&
		    (seq_leq(r, ack) ||
		     (o->nsack > 1 && seq_geq(l, o->sack[1].l) && seq_leq(r, o->sack[1].r)))) {
			handle_dsack(t, l, r, ai);
			continue;
		}
		if (!seq_lt(l, r) || seq_gt(r, t->snd_nxt) ||
		    seq_lt(l, t->snd_una - t->max_snd_wnd)) {
			STAT_INC(t->st, tcp_sack_bad);
			continue;
		}
		if (seq_leq(r, t->snd_una))
			continue; /* old news: acknowledged cumulatively */
		if (seq_lt(l, t->snd_una))
			l = t->snd_una;
		sack_range(t, l, r, ai);
	}
}

/* RFC 2018 §8: the peer acknowledged up to a segment it had SACKed, without it: it threw
 * SACKed data away. Forget every SACK mark; the segments count as lost. */
static void renege(struct sl_tcb *t)
{
	struct sl_tcp_sendmap *m = &t->sm;
	STAT_INC(t->st, tcp_sack_reneged);
	for (uint32_t i = 0; i < m->n; i++) {
		struct sl_tcp_txseg *s = sl_sendmap_at(m, i);
		if (s->flags & SL_SEG_SACKED) {
			s->flags &= (uint8_t)~SL_SEG_SACKED;
			m->sacked -= s->end - s->start;
			sl_sendmap_mark_lost(m, i);
		}
	}
}

/* --- recovery ------------------------------------------------------------------------------ */

static void enter_recovery(struct sl_tcb *t)
{
	episode_start(t);
	t->in_recovery = true;
	t->recover = t->snd_nxt;
	t->prr_delivered = 0;
	t->prr_out = 0;
	uint32_t fs = t->snd_nxt - t->snd_una;
	t->recover_fs = fs ? fs : t->mss;
	t->prr_first = true;
	t->partial_seen = false;
	t->recoveries++;
	STAT_INC(t->st, tcp_recoveries);
	STAT_INC(t->st, tcp_fast_retransmits);
}

/* RFC 6937 §3, with the slow-start reduction bound. */
static void prr_update(struct sl_tcb *t, uint32_t delivered)
{
	t->prr_delivered += delivered;
	uint32_t pipe = sl_tcp_pipe(t);
	int64_t sndcnt;
	if (pipe > t->ssthresh) {
		uint64_t num = (uint64_t)t->prr_delivered * t->ssthresh;
		sndcnt = (int64_t)((num + t->recover_fs - 1) / t->recover_fs) - t->prr_out;
	} else {
		int64_t a = (int64_t)t->prr_delivered - t->prr_out;
		int64_t limit = (a > (int64_t)delivered ? a : (int64_t)delivered) + t->mss;
		int64_t gap = (int64_t)t->ssthresh - pipe;
		sndcnt = gap < limit ? gap : limit;
	}
	if (sndcnt < 0)
		sndcnt = 0;
	if (t->prr_first && sndcnt < t->mss)
		sndcnt =
		    t->mss; /* the retransmission that starts recovery (RFC 6675 §5 step 4.2) */
	uint64_t w = (uint64_t)pipe + (uint64_t)sndcnt;
	t->cwnd = w > (1u << 30) ? 1u << 30 : (uint32_t)w;
}

void sl_tcp_retransmitted(struct sl_tcb *t, uint32_t len)
{
	t->retransmits++;
	STAT_INC(t->st, tcp_retransmits);
	if (t->undo_on) {
		t->undo_retrans++;
		t->undo_rtx++;
	}
	sl_tcp_prr_sent(t, len);
}

void sl_tcp_prr_sent(struct sl_tcb *t, uint32_t len)
{
	if (!t->in_recovery)
		return;
	t->prr_out += len;
	t->prr_first = false;
}

static void exit_recovery(struct sl_tcb *t)
{
	if (t->in_recovery)
		t->cwnd = t->ssthresh; /* RFC 6937: at the end of recovery, cwnd = ssthresh */
	t->in_recovery = false;
	t->in_loss = false;
	t->dupacks = 0;
	t->reno_sacked = 0;
	t->partial_seen = false;
	if (t->rack.reo_wnd_persist && --t->rack.reo_wnd_persist == 0)
		t->rack.reo_wnd_mult = 1;
}

/* Recovery entry, progress and exit for this ACK. */
static void recovery_step(struct sl_tcb *t, bool advanced, struct sl_ack_info *ai)
{
	struct sl_tcp_sendmap *m = &t->sm;
	if ((t->in_recovery || t->in_loss) && seq_geq(t->snd_una, t->recover))
		exit_recovery(t);
	if (t->in_recovery) {
		if (!t->sack_ok && advanced && m->n) {
			/* RFC 6582 §3.2 step 5: a partial ACK: retransmit the first unacknowledged
			 * segment; only the first partial ACK restarts the timer. */
			sl_sendmap_mark_lost(m, 0);
			if (t->partial_seen)
				ai->restart_rto = false;
			t->partial_seen = true;
		}
		prr_update(t, ai->delivered);
		return;
	}
	if (t->in_loss)
		return; /* after a timeout: slow start sends what is marked lost */
	bool enter;
	if (t->sack_ok) {
		enter = m->lost > 0;
	} else {
		/* RFC 6582 §3.2 step 2: only if the ACK covers more than recover, the highest
		 * sequence number sent when the last recovery or timeout began (recover holds the
		 * one after it): the duplicates that go-back-N draws after a timeout ACK exactly
		 * recover and must not start a second reduction. */
		enter = t->dupacks >= DUPTHRESH && seq_gt(t->snd_una, t->recover) && m->n;
		if (enter)
			sl_sendmap_mark_lost(m, 0);
	}
	if (enter) {
		enter_recovery(t);
		prr_update(t, ai->delivered);
	}
}

void sl_tcp_loss_timer_check(struct sl_tcb *t)
{
	if (t->sack_ok && !t->in_recovery && !t->in_loss && t->sm.lost) {
		enter_recovery(t);
		prr_update(t, 0);
	}
}

/* RFC 8985 §7.4: what became of an outstanding probe. */
static void tlp_ack(struct sl_tcb *t, uint32_t ack, bool advanced, const struct sl_ack_info *ai)
{
	if (!t->tlp.out || seq_lt(ack, t->tlp.end_seq))
		return;
	if (!t->tlp.is_retrans || t->tlp.dsacked) {
		t->tlp.out = false; /* new data, or a duplicate: no loss */
		return;
	}
	if (seq_gt(ack, t->tlp.end_seq)) {
		/* Acknowledged past the probe without a D-SACK for it: the probe repaired a loss;
		 * the window pays as for any loss (RFC 8985 §7.4.2). */
		t->tlp.out = false;
		if (!t->in_recovery && !t->in_loss) {
			episode_start(t);
			t->cwnd = t->ssthresh;
		}
		STAT_INC(t->st, tcp_tlp_recoveries);
		return;
	}
	if (!advanced && !ai->sack_new)
		t->tlp.out = false; /* a plain duplicate ACK: original and probe both arrived */
}

bool sl_tcp_ack_recovery(struct sl_tcb *t, uint32_t ack, const struct sl_tcp_opts *o, bool dupack,
			 struct sl_ack_info *ai)
{
	struct sl_stack *st = t->st;
	struct sl_tcp_sendmap *m = &t->sm;
	uint64_t now = st->now;
	memset(ai, 0, sizeof(*ai));
	t->tlp.unanswered = 0;
	ai->has_ecr = t->ts_ok && o->has_ts && o->ts_ecr != 0;
	ai->ts_ecr = o->ts_ecr;
	ai->dupack = dupack;
	uint32_t prior_sacked = m->sacked + t->reno_sacked;
	bool advanced = seq_gt(ack, t->snd_una);
	uint64_t rtt_oldest = 0, rtt_newest = 0;
	bool karn_sample = false;

	if (advanced) {
		while (m->n) {
			struct sl_tcp_txseg *s = sl_sendmap_at(m, 0);
			if (seq_gt(s->end, ack)) {
				if (seq_lt(s->start, ack)) { /* part of it: trim */
					uint32_t d = ack - s->start;
					if (s->flags & SL_SEG_SACKED)
						m->sacked -= d;
					if (s->flags & SL_SEG_LOST)
						m->lost -= d;
					s->start = ack;
				}
				break;
			}
			if (!(s->flags & SL_SEG_SACKED)) {
				rack_delivered(t, s, ai);
				if (s->xmits == 1) {
					uint64_t r = now - s->xmit_ns;
					if (!karn_sample)
						rtt_oldest = r;
					rtt_newest = r;
					karn_sample = true;
				}
			}
			sl_sendmap_pop(m);
		}
		ai->acked = ack - t->snd_una;
		t->snd_una = ack;
		t->una_since_ns = now; /* progress: the user timeout counts again from here */
		if (seq_lt(t->snd_nxt, t->snd_una))
			t->snd_nxt = t->snd_una;
		if (seq_lt(t->snd_max, t->snd_nxt))
			t->snd_max = t->snd_nxt;
		if (m->n && (sl_sendmap_at(m, 0)->flags & SL_SEG_SACKED))
			renege(t);
	}
	if (t->sack_ok && o->nsack)
		process_sack(t, ack, o, ai);

	if (!t->sack_ok) {
		/* Without SACK, each duplicate ACK stands for one segment that arrived (RFC 5681
		 * §3.2, RFC 6937 §3 "DeliveredData"); cumulative progress eats them again. */
		if (advanced) {
			uint32_t a = ai->acked > t->mss ? ai->acked - t->mss : 0;
			t->reno_sacked = a < t->reno_sacked ? t->reno_sacked - a : 0;
			if (!t->in_recovery)
				t->dupacks = 0, t->reno_sacked = 0;
		} else if (dupack) {
			t->dupacks++;
			uint32_t flight = t->snd_nxt - t->snd_una;
			uint32_t cap = flight > t->mss ? flight - t->mss : 0;
			t->reno_sacked += t->mss;
			if (t->reno_sacked > cap)
				t->reno_sacked = cap;
		}
	}
	int64_t delivered =
	    (int64_t)ai->acked + (int64_t)(m->sacked + t->reno_sacked) - (int64_t)prior_sacked;
	ai->delivered = delivered > 0 ? (uint32_t)delivered : 0;

	if (karn_sample) {
		min_rtt_update(t, rtt_newest);
		ai->rtt_ns = rtt_oldest ? rtt_oldest : 1;
	} else if (advanced && ai->has_ecr) {
		/* RFC 7323 §4: the echoed timestamp times the segment that advanced the left edge,
		 * whichever transmission it was. */
		uint32_t d = sl_tcp_ts_now(t, now) - o->ts_ecr;
		if (d < 60000)
			ai->rtt_ns = d ? (uint64_t)d * NS_PER_MS : 1;
	}

	/* RFC 3522: the first ACK after a timeout echoes the original's timestamp: spurious. */
	if (t->eifel_on && advanced) {
		t->eifel_on = false;
		if (ai->has_ecr && seq_lt(o->ts_ecr, t->eifel_tsval) && t->undo_on) {
			STAT_INC(st, tcp_spurious_rtx);
			do_undo(t);
		}
	}
	if (t->sack_ok)
		sl_tcp_rack_detect(t);
	tlp_ack(t, ack, advanced, ai);
	ai->restart_rto = advanced;
	recovery_step(t, advanced, ai);
	if (t->undo_on && t->undo_rtx && !t->undo_retrans)
		do_undo(t);
	/* Window growth: outside fast recovery, only while cwnd limited the sender (RFC 7661
	 * spirit; RFC 9438 §4.6 requires it when ssthresh comes from cwnd). */
	if (advanced && !t->in_recovery && t->cwnd_limited)
		t->cc->on_ack(t, ai->acked, rtt_newest);
	return advanced;
}

void sl_tcp_rto_recovery(struct sl_tcb *t)
{
	struct sl_tcp_sendmap *m = &t->sm;
	t->rto_count++;
	/* RFC 5681 §3.1: ssthresh is not lowered again by further timeouts of the same data; a
	 * timeout in the middle of fast recovery belongs to the episode that lowered it already
	 * (and undoing the episode must go back to before it, not to its middle). */
	if (t->backoff <= 1) {
		if (!t->in_loss && !t->in_recovery)
			episode_start(t);
		t->cc->on_rto(t);
	}
	t->cwnd = t->mss; /* the loss window */
	t->in_recovery = false;
	t->in_loss = true;
	t->recover = t->snd_nxt; /* RFC 6582 §3.2 step 4 */
	t->dupacks = 0;
	t->reno_sacked = 0;
	t->partial_seen = false;
	t->tlp.out = false;
	t->rack.reo_at = 0;
	for (uint32_t i = 0; i < m->n; i++)
		sl_sendmap_mark_lost(m, i);
	if (t->ts_ok) {
		t->eifel_on = true;
		t->eifel_tsval = sl_tcp_ts_now(t, t->st->now);
	}
}

void sl_tcp_rearm_rtx(struct sl_tcb *t, bool restart)
{
	struct sl_stack *st = t->st;
	uint64_t now = st->now;
	if (t->snd_nxt == t->snd_una) {
		sl_timer_cancel(&st->timers, &t->rtx_timer);
		t->rto_at = 0;
		return;
	}
	if (restart || !t->rto_at)
		t->rto_at = now + t->rto_ns;
	if (t->user_timeout_ns) {
		/* The timeout ends at the user timeout at the latest, which then aborts
		 * (Linux's tcp_clamp_rto_to_user_timeout). */
		uint64_t dl = t->una_since_ns + t->user_timeout_ns;
		if (t->rto_at > dl)
			t->rto_at = dl > now ? dl : now;
	}
	uint64_t at = t->rto_at;
	enum sl_rtx_kind kind = SL_RTX_RTO;
	if (t->rack.reo_at && t->rack.reo_at < at) {
		at = t->rack.reo_at;
		kind = SL_RTX_REO;
	} else if (t->sack_ok && !t->in_loss && t->state >= SL_TCP_ESTABLISHED && !t->backoff &&
		   ((!t->tlp.out && t->tlp.rtt_seen) ||
		    (t->tlp.out && t->tlp.unanswered < TLP_MAX_UNANSWERED))) {
		/* RFC 8985 §7.2, and further (docs/architecture.md, departures): also in fast
		 * recovery, where a receiver that compresses its SACKs (Linux) may have sent one
		 * ACK for the whole flight, and when that is lost nothing else comes; and a
		 * second probe, after twice the timeout, when the first drew no ACK at all. */
		/* 2·SRTT, or SRTT + 4·RTTVAR when the RTT varies more than that: the probe is a
		 * retransmission here (sl_tcp_send_tlp), so one sent before the ACK could come
		 * back is a spurious one. */
		uint64_t pto = t->rtt_valid ? 2 * t->srtt_ns : 1000000000ULL;
		if (t->rtt_valid && t->srtt_ns + 4 * t->rttvar_ns > pto)
			pto = t->srtt_ns + 4 * t->rttvar_ns;
		if (t->snd_nxt - t->snd_una <= t->mss)
			pto += WCDELACKT_NS;
		if (pto < PTO_MIN_NS)
			pto = PTO_MIN_NS;
		if (t->tlp.out)
			pto <<= t->tlp.unanswered; /* the second probe backs off */
		if (now + pto < at) {
			at = now + pto;
			kind = SL_RTX_TLP;
		}
	}
	t->rtx_kind = kind;
	sl_timer_arm(&st->timers, &t->rtx_timer, at);
}
