/*
 * TCP timers: retransmission (RFC 6298) — one timer that also serves RACK's reordering
 * timeout and the tail loss probe (RFC 8985 §6.3, §7), whichever is due first — persist
 * (RFC 9293 §3.8.6.1), delayed ACK
 * (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2), keepalive (RFC 1122 §4.2.3.6 with the
 * mirage-tcpip semantics of shared/API.md), TIME-WAIT (2·MSL, RFC 9293 §3.6.1) and the
 * connect timeout.
 */
#include "iface/stack.h"
#include "wire/tcp.h"
#include <errno.h>
#include <stddef.h>

#define TCB_OF(t, field) ((struct sl_tcb *)((char *)(t)-offsetof(struct sl_tcb, field)))

static void rtx_fire(struct sl_timer *tm, void *ctx, uint64_t now);
static void persist_fire(struct sl_timer *tm, void *ctx, uint64_t now);
static void delack_fire(struct sl_timer *tm, void *ctx, uint64_t now);
static void ka_fire(struct sl_timer *tm, void *ctx, uint64_t now);
static void tw_fire(struct sl_timer *tm, void *ctx, uint64_t now);
static void conn_fire(struct sl_timer *tm, void *ctx, uint64_t now);

/* The cork's ceiling (tcp(7): output is corked for at most 200 ms): what is held goes out. */
static void cork_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, cork_timer);
	t->cork_push = true;
	sl_tcp_want_output(t);
}

void sl_tcp_timers_init(struct sl_tcb *t)
{
	sl_timer_init(&t->rtx_timer, rtx_fire);
	sl_timer_init(&t->persist_timer, persist_fire);
	sl_timer_init(&t->delack_timer, delack_fire);
	sl_timer_init(&t->ka_timer, ka_fire);
	sl_timer_init(&t->tw_timer, tw_fire);
	sl_timer_init(&t->conn_timer, conn_fire);
	sl_timer_init(&t->cork_timer, cork_fire);
}

void sl_tcp_timers_stop(struct sl_tcb *t)
{
	struct sl_timers *ts = &t->st->timers;
	sl_timer_cancel(ts, &t->rtx_timer);
	t->rto_at = 0;
	sl_timer_cancel(ts, &t->persist_timer);
	sl_timer_cancel(ts, &t->delack_timer);
	sl_timer_cancel(ts, &t->ka_timer);
	sl_timer_cancel(ts, &t->tw_timer);
	sl_timer_cancel(ts, &t->conn_timer);
	sl_timer_cancel(ts, &t->cork_timer);
}

void sl_tcp_rtt_sample(struct sl_tcb *t, uint64_t r)
{
	t->tlp.rtt_seen = true;
	const struct sl_stack_config *c = &t->st->cfg;
	/* RFC 6298 §2: alpha 1/8, beta 1/4, K 4; clock granularity G taken as 1 µs. */
	if (!t->rtt_valid) {
		t->srtt_ns = r;
		t->rttvar_ns = r / 2;
		t->rtt_valid = true;
	} else {
		uint64_t d = t->srtt_ns > r ? t->srtt_ns - r : r - t->srtt_ns;
		t->rttvar_ns = (3 * t->rttvar_ns + d) / 4;
		t->srtt_ns = (7 * t->srtt_ns + r) / 8;
	}
	uint64_t k = 4 * t->rttvar_ns;
	uint64_t rto = t->srtt_ns + (k > 1000 ? k : 1000);
	if (rto < c->tcp_rto_min_ns) /* (2.4) */
		rto = c->tcp_rto_min_ns;
	if (rto > c->tcp_rto_max_ns) /* (2.5) */
		rto = c->tcp_rto_max_ns;
	t->rto_ns = rto;
}

static void rto_fire(struct sl_tcb *t)
{
	struct sl_stack *st = t->st;
	const struct sl_stack_config *c = &st->cfg;
	if (t->snd_una == t->snd_max) {
		t->rto_at = 0;
		return; /* nothing outstanding */
	}
	bool syn = t->state == SL_TCP_SYN_SENT || t->state == SL_TCP_SYN_RECEIVED;
	unsigned limit = syn ? c->tcp_syn_retries : c->tcp_max_retries;
	/* RFC 5482: with a user timeout, how long the data has gone unacknowledged decides, not
	 * the retry count (as Linux's retransmits_timed_out). */
	bool over = t->user_timeout_ns ? st->now - t->una_since_ns >= t->user_timeout_ns
				       : t->backoff >= limit;
	if (over) {
		STAT_INC(st, tcp_timeouts);
		if (t->state == SL_TCP_SYN_RECEIVED && t->listener) {
			/* A half-open connection the peer never completed: just forget it. */
			sl_tcb_free(t);
			return;
		}
		sl_tcp_send_rst(t);
		sl_tcp_done(t, -ETIMEDOUT);
		return;
	}
	STAT_INC(st, tcp_rto_expired);
	t->backoff++;
	/* RFC 6298 (5.5): back off the timer; (5.6) restart it; Karn: no sample. */
	t->rto_ns *= 2;
	if (t->rto_ns > c->tcp_rto_max_ns)
		t->rto_ns = c->tcp_rto_max_ns;
	if (syn) {
		t->retransmits++;
		STAT_INC(st, tcp_retransmits);
		t->syn_timing = false;
		sl_tcp_send_syn(t);
		return;
	}
	sl_tcp_rto_recovery(t);
	t->rto_at = st->now + t->rto_ns;
	sl_tcp_output(t);
	sl_tcp_rearm_rtx(t, false);
}

static void rtx_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, rtx_timer);
	switch (t->rtx_kind) {
	case SL_RTX_REO:
		/* RFC 8985 §6.3: the reordering window of a segment passed: look again. */
		sl_tcp_rack_detect(t);
		sl_tcp_loss_timer_check(t);
		sl_tcp_want_output(t);
		sl_tcp_rearm_rtx(t, false);
		return;
	case SL_RTX_TLP:
		/* RFC 8985 §7.3: no ACK within the probe timeout: send a probe, then the RTO. */
		sl_tcp_send_tlp(t);
		t->rto_at = now + t->rto_ns;
		sl_tcp_rearm_rtx(t, false);
		return;
	case SL_RTX_RTO:
		rto_fire(t);
		return;
	}
}

void sl_tcp_arm_persist(struct sl_tcb *t)
{
	if (sl_timer_armed(&t->persist_timer))
		return;
	uint64_t d = t->rto_ns << (t->persist_backoff < 6 ? t->persist_backoff : 6);
	if (d > t->st->cfg.tcp_rto_max_ns)
		d = t->st->cfg.tcp_rto_max_ns;
	sl_timer_arm(&t->st->timers, &t->persist_timer, t->st->now + d);
}

static void persist_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, persist_timer);
	if (t->sndbuf.len == 0 || t->state == SL_TCP_CLOSED)
		return;
	if (t->snd_wnd != 0) {
		sl_tcp_send_override(t); /* open but too small to use (sl_tcp_output) */
		return;
	}
	/* RFC 9293 §3.8.6.1: probe a zero window with one byte of new data, backing off up to
	 * the max RTO. A peer that answers probes is alive, however long its window stays shut;
	 * one that answers nothing is given up on like an unanswered retransmission. */
	if (t->persist_unanswered >= t->st->cfg.tcp_max_retries) {
		STAT_INC(t->st, tcp_timeouts);
		sl_tcp_send_rst(t);
		sl_tcp_done(t, -ETIMEDOUT);
		return;
	}
	t->persist_unanswered++;
	STAT_INC(t->st, tcp_persist_probes);
	t->persist_backoff++;
	sl_tcp_send_probe(t);
	sl_tcp_arm_persist(t);
}

void sl_tcp_arm_delack(struct sl_tcb *t)
{
	if (!sl_timer_armed(&t->delack_timer))
		sl_timer_arm(&t->st->timers, &t->delack_timer,
			     t->st->now + t->st->cfg.tcp_delack_ns);
}

static void delack_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, delack_timer);
	t->ack_now = true;
	sl_tcp_want_output(t);
}

/* Keepalive watches every synchronized state in which we wait on the peer (RFC 1122
 * §4.2.3.6 does not limit it to ESTABLISHED; a half-closed connection can lose its peer too). */
static bool ka_state(const struct sl_tcb *t)
{
	return t->state == SL_TCP_ESTABLISHED || t->state == SL_TCP_CLOSE_WAIT ||
	       t->state == SL_TCP_FIN_WAIT_1 || t->state == SL_TCP_FIN_WAIT_2;
}

void sl_tcp_ka_reset(struct sl_tcb *t)
{
	/* The clock is the time since the last segment received; any segment resets it and the
	 * probe count (shared/API.md, Keepalive). */
	t->last_rx = t->st->now;
	t->ka_sent = 0;
	/* The timer is not moved on every segment: when it fires it measures the idle time
	 * from last_rx and sleeps again if nothing is due. */
	if (t->ka_on && ka_state(t) && !sl_timer_armed(&t->ka_timer))
		sl_timer_arm(&t->st->timers, &t->ka_timer,
			     t->st->now + t->ka.after_ns + t->ka.interval_ns);
}

static void ka_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, ka_timer);
	struct sl_stack *st = t->st;
	if (!t->ka_on || !ka_state(t))
		return;
	uint64_t idle = now - t->last_rx;
	uint64_t iv = t->ka.interval_ns ? t->ka.interval_ns : 1;
	/* Probe k is due at after + k·interval; a late wake-up skips missed probes. */
	uint64_t k = idle > t->ka.after_ns ? (idle - t->ka.after_ns) / iv : 0;
	/* With a user timeout, the connection goes once a probe is unanswered and it has been
	 * silent that long (Linux's tcp_keepalive_timer); else after the probe count. */
	bool over = t->user_timeout_ns ? k >= 1 && t->ka_sent >= 1 && idle >= t->user_timeout_ns
				       : k > t->ka.probes;
	if (over) {
		STAT_INC(st, tcp_timeouts);
		sl_tcp_send_rst(t);
		sl_tcp_done(t, -ETIMEDOUT);
		return;
	}
	if (k >= 1 && k > t->ka_sent) {
		t->ka_sent = (uint32_t)k;
		/* RFC 1122 §4.2.3.6: an ACK with SEG.SEQ = SND.NXT − 1, to draw an ACK. */
		STAT_INC(st, tcp_keepalive_probes);
		sl_tcp_send_ka_probe(t);
	}
	sl_timer_arm(&st->timers, &t->ka_timer, t->last_rx + t->ka.after_ns + (k + 1) * iv);
}

void sl_tcp_enter_time_wait(struct sl_tcb *t)
{
	sl_tcp_set_state(t, SL_TCP_TIME_WAIT);
	struct sl_timers *ts = &t->st->timers;
	sl_timer_cancel(ts, &t->rtx_timer);
	t->rto_at = 0;
	sl_timer_cancel(ts, &t->persist_timer);
	sl_timer_cancel(ts, &t->ka_timer);
	sl_timer_arm(ts, &t->tw_timer, t->st->now + 2 * t->st->cfg.tcp_msl_ns);
}

static void tw_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, tw_timer);
	sl_tcp_done(t, 0);
	if (!t->dead && t->app_closed)
		sl_tcb_free(t);
}

static void conn_fire(struct sl_timer *tm, void *ctx, uint64_t now)
{
	struct sl_tcb *t = TCB_OF(tm, conn_timer);
	if (t->state != SL_TCP_SYN_SENT)
		return;
	STAT_INC(t->st, tcp_timeouts);
	sl_tcp_done(t, -ETIMEDOUT);
}

bool sl_tcp_oow_ok(struct sl_tcb *t)
{
	/* One ACK per interval per connection for out-of-window segments without data (RFC
	 * 5961 §7's advice to limit the ACKs an attacker can draw; Linux's
	 * tcp_invalid_ratelimit). */
	uint64_t iv = t->st->cfg.tcp_oow_ack_ns;
	if (iv && t->last_oow_ack && t->st->now - t->last_oow_ack < iv) {
		STAT_INC(t->st, tcp_oow_ack_limited);
		return false;
	}
	t->last_oow_ack = t->st->now ? t->st->now : 1;
	return true;
}

bool sl_tcp_challenge_ok(struct sl_tcb *t)
{
	/* RFC 5961 §7: a per-stack budget of challenge ACKs per second. Its size is drawn at
	 * random each second from [rate/2, 3·rate/2): a fixed, shared count lets an off-path
	 * attacker learn from how many challenge ACKs it draws whether others were sent
	 * (CVE-2016-5696). */
	struct sl_stack *st = t->st;
	struct sl_tcp *tt = &st->tcp;
	uint32_t rate = st->cfg.tcp_challenge_rate;
	if (!rate)
		return false;
	uint64_t sec = st->now / 1000000000ULL + 1;
	if (sec != tt->chal_second) {
		tt->chal_second = sec;
		tt->chal_left = rate / 2 + (uint32_t)sl_rng_below(&st->rng, rate);
	}
	if (!tt->chal_left) {
		STAT_INC(st, tcp_challenge_limited);
		return false;
	}
	if (!sl_tcp_oow_ok(t))
		return false;
	tt->chal_left--;
	STAT_INC(st, tcp_challenge_acks);
	return true;
}
