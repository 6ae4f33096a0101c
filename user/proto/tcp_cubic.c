/*
 * CUBIC congestion control (RFC 9438) with HyStart++ slow start (RFC 9406).
 *
 * Windows are kept in segments (doubles) inside the algorithm and in bytes in the TCB.
 * Congestion avoidance (§4.1–4.5): W_cubic(t) = C·(t − K)³ + W_max with C = 0.4 and
 * β_cubic = 0.7; each ACK moves cwnd towards W_cubic(t + RTT), bounded by 1.5·cwnd (§4.4),
 * but never below the Reno-friendly estimate W_est (§4.3). A congestion event applies
 * fast convergence (§4.7) and multiplicative decrease (§4.6); a timeout (§4.8) starts a new
 * epoch after slow start; a spurious event is undone from the saved state (§4.9).
 *
 * Slow start is HyStart++ (RFC 9406 §4): per round, the minimum RTT of the first
 * N_RTT_SAMPLE ACKs; a rise of more than clamp(lastRoundMinRTT / 8, 4 ms, 16 ms) moves to
 * Conservative Slow Start (growth / CSS_GROWTH_DIVISOR) for CSS_ROUNDS rounds, then to
 * congestion avoidance; an RTT back below the baseline returns to slow start. Without
 * pacing, each ACK grows cwnd by at most L = 8 segments.
 */
#include "iface/stack.h"
#include <math.h>
#include <string.h>

#define C_CUBIC 0.4
#define BETA_CUBIC 0.7
#define NS_PER_S 1e9

#define HS_MIN_RTT_THRESH 4000000ULL  /* 4 ms */
#define HS_MAX_RTT_THRESH 16000000ULL /* 16 ms */
#define HS_MIN_RTT_DIVISOR 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5
#define HS_L 8 /* not paced */

#define CWND_MAX (1u << 30)

static double segs(const struct sl_tcb *t, uint32_t bytes)
{
	return (double)bytes / (double)t->mss;
}

static void hs_start(struct sl_tcb *t)
{
	struct sl_tcp_cubic *c = &t->cubic;
	c->hs_window_end = t->snd_nxt;
	c->hs_last_min = UINT64_MAX;
	c->hs_cur_min = UINT64_MAX;
	c->hs_css_base = UINT64_MAX;
	c->hs_samples = 0;
	c->hs_css_rounds = 0;
	c->hs_in_css = false;
	c->hs_done = false;
}

static void cubic_init(struct sl_tcb *t)
{
	memset(&t->cubic, 0, sizeof(t->cubic));
	hs_start(t);
}

static void cwnd_add(struct sl_tcb *t, uint64_t bytes)
{
	uint64_t w = (uint64_t)t->cwnd + bytes;
	t->cwnd = w > CWND_MAX ? CWND_MAX : (uint32_t)w;
}

/* RFC 9406 §4.2–4.3: slow start, one ACK. */
static void hystart_ack(struct sl_tcb *t, uint32_t acked, uint64_t rtt_ns)
{
	struct sl_tcp_cubic *c = &t->cubic;
	uint32_t n = acked < HS_L * (uint32_t)t->mss ? acked : HS_L * (uint32_t)t->mss;
	if (c->hs_done) {
		/* RFC 9406 §4.2: HyStart++ is for the initial slow start only; later ones (after a
		 * timeout) are RFC 5681's, with RFC 3465's L = 2·SMSS. */
		cwnd_add(t, acked < 2u * t->mss ? acked : 2u * t->mss);
		return;
	}
	/* A round ends when the ACK covers the window that was outstanding when it began. */
	if (seq_geq(t->snd_una, c->hs_window_end)) {
		c->hs_last_min = c->hs_cur_min;
		c->hs_cur_min = UINT64_MAX;
		c->hs_samples = 0;
		c->hs_window_end = t->snd_nxt;
		if (c->hs_in_css && ++c->hs_css_rounds >= HS_CSS_ROUNDS) {
			/* §4.3: CSS lasted CSS_ROUNDS rounds: on to congestion avoidance. */
			c->hs_done = true;
			t->ssthresh = t->cwnd;
			return;
		}
	}
	if (rtt_ns) {
		if (rtt_ns < c->hs_cur_min)
			c->hs_cur_min = rtt_ns;
		c->hs_samples++;
	}
	if (!c->hs_in_css) {
		cwnd_add(t, n);
		if (c->hs_samples >= HS_N_RTT_SAMPLE && c->hs_cur_min != UINT64_MAX &&
		    c->hs_last_min != UINT64_MAX) {
			uint64_t th = c->hs_last_min / HS_MIN_RTT_DIVISOR;
			th = th < HS_MIN_RTT_THRESH   ? HS_MIN_RTT_THRESH
			     : th > HS_MAX_RTT_THRESH ? HS_MAX_RTT_THRESH
						      : th;
			if (c->hs_cur_min >= c->hs_last_min + th) {
				c->hs_in_css = true;
				c->hs_css_base = c->hs_cur_min;
				c->hs_css_rounds = 0;
			}
		}
	} else {
		cwnd_add(t, n / HS_CSS_GROWTH_DIVISOR);
		/* §4.3: the RTT went back down: the rise was jitter, resume slow start. */
		if (c->hs_samples >= HS_N_RTT_SAMPLE && c->hs_cur_min < c->hs_css_base) {
			c->hs_in_css = false;
			c->hs_css_base = UINT64_MAX;
		}
	}
}

static double w_cubic(const struct sl_tcp_cubic *c, double t_s)
{
	double d = t_s - c->k;
	return C_CUBIC * d * d * d + c->origin;
}

/* RFC 9438 §4.2: a new epoch starts with the first ACK of congestion avoidance. */
static void epoch_start(struct sl_tcb *t)
{
	struct sl_tcp_cubic *c = &t->cubic;
	double cw = segs(t, t->cwnd);
	c->epoch_ns = t->st->now ? t->st->now : 1;
	c->acc = 0;
	if (c->after_rto) {
		/* §4.8: the first congestion avoidance after a timeout starts from here: K = 0,
		 * W_max = the window now. */
		c->after_rto = false;
		c->w_max = cw;
	}
	if (c->w_max > cw) {
		c->k = cbrt((c->w_max - cw) / C_CUBIC);
		c->origin = c->w_max;
	} else {
		c->k = 0;
		c->origin = cw;
	}
	c->w_est = cw;
}

static void cubic_on_ack(struct sl_tcb *t, uint32_t acked, uint64_t rtt_ns)
{
	struct sl_tcp_cubic *c = &t->cubic;
	if (t->cwnd < t->ssthresh) {
		hystart_ack(t, acked, rtt_ns);
		return;
	}
	if (!c->epoch_ns)
		epoch_start(t);
	double cw = segs(t, t->cwnd);
	double acked_s = segs(t, acked);
	double rtt_s = (double)(t->srtt_ns ? t->srtt_ns : rtt_ns) / NS_PER_S;
	double el = (double)(t->st->now - c->epoch_ns) / NS_PER_S;

	/* §4.3: the Reno-friendly estimate grows by α per window; α = 1 once it passed the
	 * window before the reduction. */
	double alpha = c->w_est < c->cwnd_prior ? 3.0 * (1 - BETA_CUBIC) / (1 + BETA_CUBIC) : 1.0;
	c->w_est += alpha * acked_s / cw;

	double target = w_cubic(c, el + rtt_s);
	if (w_cubic(c, el) < c->w_est) {
		/* Reno-friendly region (§4.3): follow W_est. */
		if (c->w_est > cw)
			cwnd_add(t, (uint64_t)((c->w_est - cw) * t->mss));
		return;
	}
	/* §4.4/§4.5: towards target, at most +50 % per window. */
	if (target < cw)
		target = cw;
	if (target > 1.5 * cw)
		target = 1.5 * cw;
	double inc = (target - cw) / cw * (double)acked; /* bytes */
	c->acc += inc; /* fractions of a byte add up over many ACKs */
	if (c->acc >= 1) {
		uint64_t whole = (uint64_t)c->acc;
		cwnd_add(t, whole);
		c->acc -= (double)whole;
	}
}

static void save(struct sl_tcp_cubic *c)
{
	c->s_hs_done = c->hs_done;
	c->s_after_rto = c->after_rto;
	c->s_w_max = c->w_max;
	c->s_w_last_max = c->w_last_max;
	c->s_k = c->k;
	c->s_origin = c->origin;
	c->s_w_est = c->w_est;
	c->s_cwnd_prior = c->cwnd_prior;
	c->s_epoch_ns = c->epoch_ns;
}

static uint32_t cubic_ssthresh(struct sl_tcb *t)
{
	struct sl_tcp_cubic *c = &t->cubic;
	save(c);
	double cw = segs(t, t->cwnd);
	/* §4.7 fast convergence: a flow whose window keeps shrinking gives bandwidth away. */
	if (cw < c->w_max)
		c->w_max = cw * (1 + BETA_CUBIC) / 2;
	else
		c->w_max = cw;
	c->w_last_max = cw;
	c->cwnd_prior = cw;
	c->epoch_ns = 0;
	c->hs_done = true; /* a loss ends slow start for good */
	/* §4.6: ssthresh = cwnd · β_cubic, at least 2 segments. */
	double th = cw * BETA_CUBIC * t->mss;
	uint32_t s = th > (double)CWND_MAX ? CWND_MAX : (uint32_t)th;
	return s > 2u * t->mss ? s : 2u * t->mss;
}

static void cubic_on_rto(struct sl_tcb *t)
{
	/* §4.8: after the loss window, slow start again up to ssthresh (RFC 5681's, not
	 * HyStart++), then a new epoch with K = 0 and W_max = cwnd at its start. */
	t->cubic.epoch_ns = 0;
	hs_start(t);
	t->cubic.hs_done = true;
	t->cubic.after_rto = true;
}

static void cubic_undo(struct sl_tcb *t)
{
	/* §4.9: back to the state before the spurious event. */
	struct sl_tcp_cubic *c = &t->cubic;
	c->w_max = c->s_w_max;
	c->w_last_max = c->s_w_last_max;
	c->k = c->s_k;
	c->origin = c->s_origin;
	c->w_est = c->s_w_est;
	c->cwnd_prior = c->s_cwnd_prior;
	c->epoch_ns = c->s_epoch_ns;
	c->hs_done = c->s_hs_done; /* a spurious loss in slow start did not end it */
	c->after_rto = c->s_after_rto;
}

const struct sl_tcp_cc_ops sl_tcp_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .on_ack = cubic_on_ack,
    .ssthresh = cubic_ssthresh,
    .on_rto = cubic_on_rto,
    .undo = cubic_undo,
};
