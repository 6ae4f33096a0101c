/*
 * Congestion control, white-box: the algorithms behind struct sl_tcp_cc_ops driven directly
 * on a control block of a real stack (over the in-memory pipe), against the RFCs. The
 * expectations come from the RFC text, not from user/proto/tcp_newreno.c or tcp_cubic.c:
 *
 *   RFC 5681 §3.1  slow start, congestion avoidance, ssthresh = max(FlightSize / 2, 2·SMSS)
 *   RFC 3465 §2.1  byte counting in congestion avoidance; §2.2 L = 2·SMSS in slow start
 *   RFC 6928 §2    IW = min(10·MSS, max(2·MSS, 14600))
 *   RFC 9438 §4.2–§4.10  CUBIC: the window increase function, the Reno-friendly region, the
 *                  concave and convex regions, multiplicative decrease, fast convergence,
 *                  timeout, spurious congestion events, slow start (C = 0.4, β = 0.7;
 *                  windows in segments, time in seconds)
 *   RFC 9406 §4.2–§4.3  HyStart++ (MIN_RTT_THRESH 4 ms, MAX_RTT_THRESH 16 ms,
 *                  MIN_RTT_DIVISOR 8, N_RTT_SAMPLE 8, CSS_GROWTH_DIVISOR 4, CSS_ROUNDS 5,
 *                  L = 8 without pacing)
 *
 * The model of the stack around an algorithm (user/proto/tcp.h, tcp_recovery.c): on_ack runs
 * outside fast recovery for newly acknowledged bytes, after SND.UNA moved and before new data
 * goes out; at a congestion event ssthresh() gives the threshold and the stack manages cwnd
 * (PRR), ending recovery with cwnd = ssthresh; after a timeout ssthresh() (first timeout),
 * on_rto(), then cwnd = 1 MSS. The sender here is always cwnd limited: after each ACK it fills
 * the window (SND.NXT = SND.UNA + cwnd). Time is t->st->now, moved by the test.
 *
 * And one black-box check: two stacks, one transfer, the same seeded loss; NewReno leaves
 * ssthresh at most about half the window at the loss, CUBIC about 0.7 of it.
 */
#include <math.h>
#include "unit/pipenet.h"
#include "unit/tcpapp.h"
#include "iface/stack.h"
#include "proto/tcp.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MSS 1460u
#define ISS 1000u
#define SS_INIT 0x7fffffffu /* RFC 5681 §3.1: "arbitrarily high" (what tcp_input.c sets) */

/* RFC 9438 §4.1, §4.3, §4.6 */
#define C_CUBIC 0.4
#define BETA 0.7
#define ALPHA (3.0 * (1.0 - BETA) / (1.0 + BETA)) /* 0.5294 segments per RTT */

/* --- fixture: one stack on a pipe; connections are control blocks in its table ------------- */

struct fx {
	struct sl_dev *da, *db;
	struct sl_stack *st;
	uint16_t next_port;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &f->da, &f->db), 0);
	struct sl_stack_config c;
	pn_config(&c, PN_IP_A, tu_seed(1));
	assert_int_equal(sl_stack_open(f->da, &c, 1000 * MS, &f->st), 0);
	f->next_port = 40000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sl_stack_close(f->st);
	sl_dev_close(f->da);
	sl_dev_close(f->db);
	free(f);
	return 0;
}

/* A connection that has just become ESTABLISHED, as tcp_input.c's cc_start leaves it: cwnd is
 * the initial window, ssthresh arbitrarily high, nothing in flight, the algorithm started. */
static struct sl_tcb *conn(struct fx *f, const struct sl_tcp_cc_ops *cc, uint16_t mss, uint64_t rtt)
{
	sl_ip la = sl_ip_v4(PN_IP_A), ra = sl_ip_v4(PN_IP_B);
	struct sl_tcb *t = sl_tcb_new(f->st, &la, f->next_port++, &ra, 80);
	assert_non_null(t);
	t->state = SL_TCP_ESTABLISHED;
	t->mss = mss;
	t->cc = cc;
	t->iss = ISS - 1;
	t->snd_una = t->snd_nxt = t->snd_max = ISS;
	t->srtt_ns = rtt;
	t->rttvar_ns = rtt / 4;
	t->min_rtt_ns = rtt;
	t->rtt_valid = true;
	t->cwnd = sl_tcp_initial_window(t);
	t->ssthresh = SS_INIT;
	t->cwnd_limited = true;
	t->cc->init(t);
	return t;
}

static double segs(const struct sl_tcb *t)
{
	return (double)t->cwnd / t->mss;
}

/* The sender fills the window. */
static void send_window(struct sl_tcb *t)
{
	t->snd_nxt = t->snd_una + t->cwnd;
	t->snd_max = t->snd_nxt;
}

/* An ACK of bytes newly acknowledged arrives now, with RTT sample rtt (0: none): SND.UNA
 * moves, the algorithm runs, then new data goes out. */
static void ack1(struct sl_tcb *t, uint32_t bytes, uint64_t rtt)
{
	t->snd_una += bytes;
	t->cc->on_ack(t, bytes, rtt);
	send_window(t);
}

/* One round trip of a cwnd-limited flow: everything in flight is acknowledged, one ACK per
 * segment (the last one may be short), spread evenly over rtt. Returns the number of ACKs. */
static uint32_t ack_rtt(struct sl_tcb *t, uint64_t rtt)
{
	uint32_t flight = t->snd_nxt - t->snd_una;
	uint32_t n = (flight + t->mss - 1) / t->mss;
	uint64_t t0 = t->st->now;
	for (uint32_t i = 1; i <= n; i++) {
		t->st->now = t0 + rtt * i / n;
		ack1(t, i < n ? t->mss : flight - (n - 1) * t->mss, rtt);
	}
	if (!n)
		t->st->now = t0 + rtt;
	return n;
}

/* A congestion event detected by ACKs (fast recovery), as the stack runs it: ssthresh from the
 * algorithm, then — recovery over — cwnd = ssthresh, and a window's worth in flight again.
 * Returns the new ssthresh. */
static uint32_t fast_recovery(struct sl_tcb *t)
{
	uint32_t ss = t->cc->ssthresh(t);
	t->ssthresh = ss;
	t->cwnd = ss;
	send_window(t);
	return ss;
}

/* A retransmission timeout, as tcp_recovery.c's sl_tcp_rto_recovery runs the first one. */
static void timeout(struct sl_tcb *t)
{
	t->ssthresh = t->cc->ssthresh(t);
	t->cc->on_rto(t);
	t->cwnd = t->mss;
	send_window(t);
}

/* --- RFC 9438 formulas (segments, seconds) ----------------------------------------------- */

/* §4.2 eq. 1 */
static double w_cubic(double t, double k, double w_max)
{
	double d = t - k;
	return C_CUBIC * d * d * d + w_max;
}

/* §4.2 eq. 2 */
static double k_of(double w_max, double cwnd_epoch)
{
	return w_max > cwnd_epoch ? cbrt((w_max - cwnd_epoch) / C_CUBIC) : 0;
}

/* A congestion-avoidance epoch, and the RFC's expectation for it. */
struct epoch {
	double w_max, k, cwnd_epoch, cwnd_prior;
	uint64_t rtt, start;
	double w_est; /* §4.3 eq. 4, advanced per round: α_cubic segments, 1 from cwnd_prior */
	unsigned rounds;
	double max_ratio; /* largest cwnd growth factor over one round seen */
	bool soft;	  /* record the first departure instead of failing at once */
	unsigned bad;
	char first_bad[256];
};

static void epoch_begin(struct epoch *e, const struct sl_tcb *t, double w_max, double cwnd_prior,
			uint64_t rtt)
{
	memset(e, 0, sizeof *e);
	e->cwnd_epoch = segs(t);
	e->w_max = w_max;
	e->k = k_of(w_max, e->cwnd_epoch);
	e->cwnd_prior = cwnd_prior;
	e->rtt = rtt;
	e->start = t->st->now;
	e->w_est = e->cwnd_epoch;
}

/* One round trip in the epoch, then the RFC's bounds on cwnd at time t since its start:
 *   - cwnd grows towards target = W_cubic(t + RTT) by (target − cwnd)/cwnd per segment
 *     acknowledged (§4.4, §4.5), so it never passes it, and within about an RTT it closes most
 *     of the gap: max(W_cubic(t − 2·RTT), cwnd_epoch) ≤ cwnd ≤ W_cubic(t + RTT) (the lower
 *     bound no higher than the 1.5·cwnd the round may reach);
 *   - in the Reno-friendly region cwnd is W_est (§4.3);
 *   - no round grows it by more than half (the 1.5·cwnd bound on target, §4.2).
 * ±1 segment for rounding (an implementation keeps whole bytes, or whole segments). */
static void epoch_round(struct epoch *e, struct sl_tcb *t)
{
	double before = segs(t);
	ack_rtt(t, e->rtt);
	e->rounds++;
	e->w_est += e->w_est >= e->cwnd_prior ? 1.0 : ALPHA;
	double now = (double)(t->st->now - e->start) / 1e9, r = (double)e->rtt / 1e9;
	double lo =
	    fmax(fmax(fmin(w_cubic(now - 2 * r, e->k, e->w_max), 1.5 * before - 1), e->cwnd_epoch),
		 e->w_est - 1);
	double hi = fmax(fmin(w_cubic(now + r, e->k, e->w_max), 1.5 * before), e->w_est + 1);
	double c = segs(t);
	if (c < lo - 1 || c > hi + 1) {
		char m[sizeof e->first_bad];
		snprintf(m, sizeof m,
			 "t = %.2f s (round %u, K = %.3f s, W_max %.1f): cwnd %.2f segments, RFC "
			 "9438 allows [%.2f, %.2f] (W_cubic %.2f, W_est %.2f)",
			 now, e->rounds, e->k, e->w_max, c, lo - 1, hi + 1,
			 w_cubic(now, e->k, e->w_max), e->w_est);
		if (!e->soft)
			fail_msg("%s", m);
		if (!e->bad++)
			memcpy(e->first_bad, m, sizeof m);
	}
	if (c > 1.5 * before + 1)
		fail_msg("round %u: cwnd %.2f → %.2f segments, more than the 1.5·cwnd bound of RFC "
			 "9438 §4.2",
			 e->rounds, before, c);
	if (c / before > e->max_ratio)
		e->max_ratio = c / before;
}

/* Rounds until time until (seconds since the epoch began). */
static void epoch_run(struct epoch *e, struct sl_tcb *t, double until)
{
	while ((double)(t->st->now - e->start) / 1e9 < until - 1e-9)
		epoch_round(e, t);
}

static double epoch_time(const struct epoch *e, const struct sl_tcb *t)
{
	return (double)(t->st->now - e->start) / 1e9;
}

/* A CUBIC connection after its first congestion event at w_max segments (in congestion
 * avoidance, a full window in flight): cwnd = ssthresh = β·W_max. */
static struct sl_tcb *cubic_after_event(struct fx *f, double w_max, uint64_t rtt)
{
	struct sl_tcb *t = conn(f, &sl_tcp_cubic, MSS, rtt);
	t->cwnd = (uint32_t)(w_max * MSS);
	send_window(t);
	fast_recovery(t);
	return t;
}

/* ============================== registry, initial window ================================= */

static void test_cc_find_by_name(void **state)
{
	assert_ptr_equal(sl_tcp_cc_find("cubic"), &sl_tcp_cubic);
	assert_ptr_equal(sl_tcp_cc_find("newreno"), &sl_tcp_newreno);
	assert_null(sl_tcp_cc_find("vegas"));
	assert_null(sl_tcp_cc_find(""));
	assert_string_equal(sl_tcp_cubic.name, "cubic");
	assert_string_equal(sl_tcp_newreno.name, "newreno");
}

/* RFC 6928 §2: IW = min(10·MSS, max(2·MSS, 14600)). */
static void test_initial_window_rfc6928(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint16_t mss;
		uint32_t iw;
	} v[] = {
	    {536, 5360},   /* 10·MSS */
	    {1460, 14600}, /* 10·MSS = 14600 */
	    {8960, 17920}, /* 2·MSS: jumbo frames */
	};
	for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct sl_tcb *t = conn(f, &sl_tcp_newreno, v[i].mss, 10 * MS);
		assert_int_equal(sl_tcp_initial_window(t), v[i].iw);
	}
}

/* ==================================== NewReno ============================================ */

/* RFC 3465 §2.2 with L = 2·SMSS (RFC 5681 §3.1 eq. 2 with byte counting): in slow start each
 * ACK grows cwnd by min(N, L·SMSS), N the bytes it newly acknowledged. */
static void test_newreno_slow_start_min_acked_2smss(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_newreno, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 10 * MSS);
	send_window(t);
	ack1(t, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 11 * MSS);
	ack1(t, 500, 10 * MS); /* less than a segment: that much */
	assert_int_equal(t->cwnd, 11 * MSS + 500);
	ack1(t, 2 * MSS, 10 * MS);
	assert_int_equal(t->cwnd, 13 * MSS + 500);
	ack1(t, 5 * MSS, 10 * MS); /* a stretch ACK: at most L = 2·SMSS */
	assert_int_equal(t->cwnd, 15 * MSS + 500);
	/* Round by round a window of 1-segment ACKs doubles it. */
	t->cwnd = 20 * MSS;
	send_window(t);
	ack_rtt(t, 10 * MS);
	assert_int_equal(t->cwnd, 40 * MSS);
}

/* RFC 5681 §3.1 eq. 3 by byte counting (RFC 3465 §2.1): in congestion avoidance cwnd grows by
 * one SMSS once a cwnd's worth of bytes has been acknowledged; bytes_acked is then reduced by
 * cwnd (the remainder counts towards the next increase). */
static void test_newreno_congestion_avoidance_smss_per_cwnd_acked(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_newreno, MSS, 10 * MS);
	t->ssthresh = 10 * MSS;
	t->cwnd = 20 * MSS;
	send_window(t);
	for (int i = 0; i < 19; i++)
		ack1(t, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 20 * MSS); /* 19 segments of 20: nothing yet */
	ack1(t, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 21 * MSS);
	for (int i = 0; i < 20; i++)
		ack1(t, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 21 * MSS);
	ack1(t, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 22 * MSS);

	/* The remainder carries: 1.5-segment ACKs, 15 of them reach 22.5 ≥ 22 segments (cwnd
	 * 23, 0.5 left over); then 22.5 more segments, not 23, make 24. */
	for (int i = 0; i < 14; i++)
		ack1(t, MSS + MSS / 2, 10 * MS);
	assert_int_equal(t->cwnd, 22 * MSS);
	ack1(t, MSS + MSS / 2, 10 * MS);
	assert_int_equal(t->cwnd, 23 * MSS);
	for (int i = 0; i < 22; i++)
		ack1(t, MSS, 10 * MS);
	ack1(t, MSS / 2, 10 * MS);
	assert_int_equal(t->cwnd, 24 * MSS);

	/* So one segment per round trip. */
	for (int r = 0; r < 100; r++)
		ack_rtt(t, 10 * MS);
	assert_int_equal(t->cwnd, 124 * MSS);
}

/* RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2·SMSS), FlightSize = SND.NXT − SND.UNA
 * (not cwnd). */
static void test_newreno_ssthresh_half_flightsize_min_2smss(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_newreno, MSS, 10 * MS);
	t->cwnd = 40 * MSS;
	t->snd_nxt = t->snd_una + 30 * MSS;
	assert_int_equal(t->cc->ssthresh(t), 15 * MSS);
	t->snd_nxt = t->snd_una + 3 * MSS;
	assert_int_equal(t->cc->ssthresh(t), 2 * MSS);
	t->snd_nxt = t->snd_una;
	assert_int_equal(t->cc->ssthresh(t), 2 * MSS);
	/* Sequence numbers wrap. */
	t->snd_una = 0xfffff000u;
	t->snd_nxt = t->snd_una + 30 * MSS;
	assert_int_equal(t->cc->ssthresh(t), 15 * MSS);
}

/* RFC 5681 §3.1: after a timeout (ssthresh from eq. 4, cwnd = LW = 1 SMSS) slow start runs up
 * to ssthresh, then congestion avoidance (one SMSS per window). */
static void test_newreno_timeout_slow_start_to_ssthresh(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_newreno, MSS, 10 * MS);
	t->ssthresh = 20 * MSS;
	t->cwnd = 40 * MSS;
	send_window(t);
	timeout(t);
	assert_int_equal(t->ssthresh, 20 * MSS);
	assert_int_equal(t->cwnd, MSS);
	uint32_t expect[] = {2, 4, 8, 16};
	for (unsigned r = 0; r < 4; r++) {
		ack_rtt(t, 10 * MS);
		assert_int_equal(t->cwnd, expect[r] * MSS);
	}
	ack_rtt(t, 10 * MS); /* 16 ACKs: 4 to reach 20 in slow start, then avoidance */
	assert_in_range(t->cwnd, 20 * MSS, 21 * MSS);
	uint32_t c = t->cwnd;
	for (int r = 0; r < 10; r++)
		ack_rtt(t, 10 * MS);
	assert_in_range(t->cwnd, c + 9 * MSS, c + 11 * MSS);
}

/* ================================ CUBIC: decrease ======================================== */

/* RFC 9438 §4.6: ssthresh = flight_size·β_cubic (here the flight is the window), at least
 * 2 segments. */
static void test_cubic_ssthresh_beta_min_2_segments(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_cubic, MSS, 10 * MS);
	t->cwnd = 100 * MSS;
	send_window(t);
	assert_int_equal(t->cc->ssthresh(t), 70 * MSS);

	t = conn(f, &sl_tcp_cubic, MSS, 10 * MS);
	t->cwnd = 2 * MSS; /* 1.4 segments → 2 */
	send_window(t);
	assert_int_equal(t->cc->ssthresh(t), 2 * MSS);

	t = conn(f, &sl_tcp_cubic, MSS, 10 * MS);
	t->cwnd = MSS;
	send_window(t);
	assert_int_equal(t->cc->ssthresh(t), 2 * MSS);

	/* In congestion avoidance too, and W_max is the window before the reduction. */
	t = conn(f, &sl_tcp_cubic, MSS, 100 * MS);
	t->cwnd = 1000 * MSS;
	send_window(t);
	assert_int_equal(fast_recovery(t), 700 * MSS);
	assert_true(fabs(t->cubic.w_max - 1000) < 0.01);
	for (int r = 0; r < 20; r++)
		ack_rtt(t, 100 * MS);
	uint32_t c = t->cwnd;
	send_window(t);
	uint32_t ss = t->cc->ssthresh(t);
	assert_in_range(ss, (uint32_t)(0.7 * c) - 1, (uint32_t)(0.7 * c) + 1);
}

/* RFC 9438 §4.7: a congestion event with cwnd below W_max lowers W_max to cwnd·(1 + β)/2, so
 * the next plateau (at t = K) is there, not at the window before the reduction. */
static void test_cubic_fast_convergence(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 100 * MS;
	struct sl_tcb *t = cubic_after_event(f, 1000, rtt);
	assert_true(fabs(t->cubic.w_max - 1000) < 0.01);
	struct epoch e;
	epoch_begin(&e, t, 1000, 1000, rtt);
	while (segs(t) < 900)
		epoch_round(&e, t);
	double c2 = segs(t); /* about 900, below W_max = 1000 */
	uint32_t ss = fast_recovery(t);
	assert_in_range(ss, (uint32_t)(0.7 * c2 * MSS) - 1, (uint32_t)(0.7 * c2 * MSS) + 1);
	double w_max = c2 * (1 + BETA) / 2; /* about 765 */
	print_message("second event at %.1f segments: W_max %.2f (RFC: %.2f)\n", c2, t->cubic.w_max,
		      w_max);
	assert_true(fabs(t->cubic.w_max - w_max) < 0.01 * w_max);

	/* The epoch that follows plateaus at the lowered W_max. */
	epoch_begin(&e, t, w_max, c2, rtt);
	epoch_run(&e, t, e.k);
	print_message("K = %.2f s: cwnd %.1f segments\n", e.k, segs(t));
	assert_true(fabs(segs(t) - w_max) <= 2);
	epoch_run(&e, t, 1.3 * e.k);
}

/* ================================ CUBIC: increase ======================================== */

/* RFC 9438 §4.2, §4.4, §4.5: after an event at W_max = 1000 segments (RTT 100 ms, cwnd =
 * ssthresh = 700), cwnd follows W_cubic(t) = C(t − K)³ + W_max, K = cbrt((W_max −
 * cwnd_epoch)/C) = cbrt(750) = 9.09 s: concave up to W_max at t = K (growth slowing to nothing
 * there), convex after (growth picking up again), never more than +50 % in a round. W_est
 * (§4.3: 700 + 0.53 per round, ≤ 800 within 2K) stays below W_cubic all along. */
static void test_cubic_concave_then_convex_around_k(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 100 * MS;
	const double w_max = 1000;
	struct sl_tcb *t = cubic_after_event(f, w_max, rtt);
	assert_int_equal(t->cwnd, 700 * MSS);
	assert_int_equal(t->ssthresh, 700 * MSS);
	struct epoch e;
	epoch_begin(&e, t, w_max, w_max, rtt);
	assert_true(fabs(e.k - cbrt(750)) < 1e-9);
	const double k = e.k;
	/* Growth over one round ending near each fraction of K. */
	const double at[] = {0.25, 0.75, 1.0, 1.25, 1.75};
	double grow[5];
	for (unsigned i = 0; i < 5; i++) {
		epoch_run(&e, t, at[i] * k - 0.1);
		double c0 = segs(t);
		epoch_round(&e, t);
		grow[i] = segs(t) - c0;
		print_message("t = %.2f s (%.2f K): cwnd %.2f segments (W_cubic %.2f), +%.2f in "
			      "the round\n",
			      epoch_time(&e, t), at[i], segs(t),
			      w_cubic(epoch_time(&e, t), k, w_max), grow[i]);
		if (at[i] == 1.0)
			assert_true(fabs(segs(t) - w_max) <= 1); /* at W_max at t = K */
	}
	/* Expected (W_cubic'·RTT): 5.6, 0.6, 0, 0.6, 5.6 segments per round. */
	assert_true(grow[0] > 3);
	assert_true(grow[1] < 1.5 && grow[1] < grow[0]);
	assert_true(grow[2] < 0.5);
	assert_true(grow[3] < 1.5 && grow[3] > grow[2]);
	assert_true(grow[4] > 3 && grow[4] > grow[3]);
	epoch_run(&e, t, 2 * k);
	assert_true(segs(t) > 1200); /* W_cubic(2K) = 1300 */
}

/* RFC 9438 §4.2: target = 1.5·cwnd when W_cubic(t + RTT) exceeds it, so cwnd grows by at
 * most half a window per round (less than slow start). With a long RTT (2 s) and a small
 * W_max (10 segments, K = 1.96 s) W_cubic(t + RTT) runs far ahead of cwnd after a couple of
 * rounds: each round must then grow it by 1.5, and by no more. */
static void test_cubic_growth_bounded_by_1_5_cwnd_per_rtt(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 2 * SEC;
	struct sl_tcb *t = cubic_after_event(f, 10, rtt);
	struct epoch e;
	epoch_begin(&e, t, 10, 10, rtt);
	for (int r = 0; r < 3; r++)
		epoch_round(&e, t);
	for (int r = 0; r < 6; r++) {
		double c0 = segs(t);
		epoch_round(&e, t); /* asserts ≤ 1.5·cwnd + 1 */
		print_message("round %u: %.2f → %.2f segments (×%.3f; W_cubic(t + RTT) %.0f)\n",
			      e.rounds, c0, segs(t), segs(t) / c0,
			      w_cubic(epoch_time(&e, t) + 2, e.k, 10));
		assert_true(segs(t) >= 1.5 * c0 - 1); /* the bound is what limits it */
	}
}

/* RFC 9438 §4.3: with a small W_max (20 segments) and a short RTT (10 ms) W_cubic grows by
 * about 0.07 segments per round (K = cbrt(15) = 2.47 s) and W_est is the larger: cwnd = W_est,
 * growing by α_cubic = 3(1 − β)/(1 + β) = 0.53 segments per round from 14 until W_est reaches
 * cwnd_prior = 20 (after 11.3 rounds), then by 1 per round (Reno's rate). */
static void test_cubic_reno_friendly_region(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 10 * MS;
	struct sl_tcb *t = cubic_after_event(f, 20, rtt);
	assert_int_equal(t->cwnd, 14 * MSS);
	struct epoch e;
	epoch_begin(&e, t, 20, 20, rtt);
	double at[41];
	at[0] = segs(t);
	for (unsigned n = 1; n <= 40; n++) {
		epoch_round(&e, t);
		at[n] = segs(t);
		double expect = n <= 11 ? 14 + ALPHA * n : 20 + (n - 6 / ALPHA);
		if (fabs(at[n] - expect) > 1)
			fail_msg("round %u: cwnd %.2f segments, RFC 9438 §4.3 W_est %.2f", n, at[n],
				 expect);
	}
	print_message("rounds 2→10: +%.2f (α_cubic·8 = %.2f); rounds 15→35: +%.2f (20)\n",
		      at[10] - at[2], 8 * ALPHA, at[35] - at[15]);
	assert_true(fabs(at[10] - at[2] - 8 * ALPHA) <= 1);
	assert_true(fabs(at[35] - at[15] - 20) <= 1);
}

/* ================================ CUBIC: timeout, undo =================================== */

/* RFC 9438 §4.8: a timeout sets ssthresh = β·flight (§4.6) and cwnd = 1 segment; slow start
 * (RFC 5681) runs up to ssthresh; the congestion avoidance that follows is a new epoch with
 * K = 0 and W_max = cwnd at its start (W_cubic = cwnd_epoch + C·t³), W_est from cwnd_epoch
 * (§4.3, α_cubic until W_est reaches cwnd_prior, the window at the timeout). The old epoch's
 * curve (W_max 100, K 4.2 s, whose target would be far above cwnd by then) must not come
 * back. */
static void test_cubic_timeout_slow_start_then_new_epoch(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 100 * MS;
	struct sl_tcb *t = cubic_after_event(f, 100, rtt);
	struct epoch e;
	epoch_begin(&e, t, 100, 100, rtt);
	epoch_run(&e, t, 1.0);
	double c1 = segs(t); /* about 86 */
	timeout(t);
	uint32_t ss = t->ssthresh;
	print_message("timeout at %.2f segments: ssthresh %.2f\n", c1, (double)ss / MSS);
	assert_true(fabs((double)ss / MSS - BETA * c1) < 0.05);
	assert_int_equal(t->cwnd, MSS);

	/* Slow start: the window doubles each round below ssthresh. */
	t->st->now += rtt; /* the retransmission's round trip */
	uint32_t r = 0;
	while (t->cwnd < ss) {
		uint32_t c0 = t->cwnd;
		ack_rtt(t, rtt);
		r++;
		if (t->cwnd < ss)
			assert_int_equal(t->cwnd, 2 * c0);
		assert_true(r < 20);
	}
	assert_in_range(t->cwnd, ss, ss + MSS);

	/* A new epoch: W_cubic(t) = cwnd_epoch + 0.4·t³, W_est = cwnd_epoch + 0.53 per round. */
	epoch_begin(&e, t, segs(t), c1, rtt);
	e.soft = true;
	assert_true(e.k == 0);
	for (double at = 1; at <= 6; at++) {
		epoch_run(&e, t, at);
		print_message(
		    "%.0f s into the new epoch: cwnd %.2f segments; RFC 9438: max(W_cubic "
		    "%.2f, W_est %.2f)\n",
		    at, segs(t), w_cubic(epoch_time(&e, t), 0, e.w_max), e.w_est);
	}
	if (e.bad)
		fail_msg("%u of %u rounds off the RFC 9438 §4.8 epoch (K = 0, W_max = cwnd_epoch = "
			 "%.2f); the first: %s",
			 e.bad, e.rounds, e.w_max, e.first_bad);
}

/* Two connections with the same history; a's last congestion event proves spurious and is
 * undone the way tcp_recovery.c does it (cwnd and ssthresh back, then undo()). RFC 9438 §4.9:
 * restoring the saved state "ensures that CUBIC's performance is similar to what it would be
 * without spurious losses": from then on a grows exactly as b, which never had the event. */
static void twin_rounds(struct sl_tcb *a, struct sl_tcb *b, uint64_t rtt, unsigned rounds,
			const char *what)
{
	for (unsigned r = 1; r <= rounds; r++) {
		uint64_t t0 = a->st->now;
		ack_rtt(a, rtt);
		a->st->now = t0;
		ack_rtt(b, rtt);
		double d = fabs(segs(a) - segs(b));
		if (d > 1)
			fail_msg("%s: round %u: cwnd %.2f segments, %.2f without the spurious "
				 "event",
				 what, r, segs(a), segs(b));
	}
}

/* After the undo: 2 s of growth, then a real congestion event for both (at about 970
 * segments, below the W_max of 1000 that fast convergence must remember — §4.7 acts on the
 * restored W_max, not on the spurious event's), then 8 s more. */
static void twin_after_undo(struct sl_tcb *a, struct sl_tcb *b, uint64_t rtt, const char *what)
{
	twin_rounds(a, b, rtt, 20, what);
	fast_recovery(a);
	fast_recovery(b);
	char w[128];
	snprintf(w, sizeof w, "%s, then a real event (W_max %.1f, %.1f without the spurious one)",
		 what, a->cubic.w_max, b->cubic.w_max);
	twin_rounds(a, b, rtt, 80, w);
}

static void undo_like_the_stack(struct sl_tcb *t, uint32_t prior_cwnd, uint32_t prior_ssthresh)
{
	if (t->cwnd < prior_cwnd)
		t->cwnd = prior_cwnd;
	if (t->ssthresh < prior_ssthresh)
		t->ssthresh = prior_ssthresh;
	t->cc->undo(t);
	send_window(t);
}

static void test_cubic_undo_fast_recovery(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 100 * MS;
	struct sl_tcb *a = cubic_after_event(f, 1000, rtt);
	struct sl_tcb *b = cubic_after_event(f, 1000, rtt);
	for (int r = 0; r < 30; r++) {
		uint64_t t0 = a->st->now;
		ack_rtt(a, rtt);
		a->st->now = t0;
		ack_rtt(b, rtt);
	}
	assert_int_equal(a->cwnd, b->cwnd);
	/* cwnd is about 910, below W_max: with fast convergence this event lowers W_max to 773
	 * and would restart the epoch. */
	uint32_t pc = a->cwnd, ps = a->ssthresh;
	a->ssthresh = a->cc->ssthresh(a);
	a->cwnd = a->ssthresh;
	undo_like_the_stack(a, pc, ps);
	twin_after_undo(a, b, rtt, "undo of fast recovery");
}

/* The same after a timeout found spurious (RFC 9438 §4.9.1 with RFC 4015's response; the
 * stack's Eifel undo runs the same do_undo). */
static void test_cubic_undo_timeout(void **state)
{
	struct fx *f = *state;
	const uint64_t rtt = 100 * MS;
	struct sl_tcb *a = cubic_after_event(f, 1000, rtt);
	struct sl_tcb *b = cubic_after_event(f, 1000, rtt);
	for (int r = 0; r < 30; r++) {
		uint64_t t0 = a->st->now;
		ack_rtt(a, rtt);
		a->st->now = t0;
		ack_rtt(b, rtt);
	}
	uint32_t pc = a->cwnd, ps = a->ssthresh;
	timeout(a);
	undo_like_the_stack(a, pc, ps);
	twin_after_undo(a, b, rtt, "undo of a timeout");
}

/* ================================ HyStart++ (RFC 9406) ==================================== */

/* RFC 9406 §4.2 counts rounds by sequence number: windowEnd starts at SND.NXT; "when windowEnd
 * is ACKed, the current round ends and windowEnd is set to SND.NXT". Whether that is SND.UNA >
 * windowEnd (the byte windowEnd acknowledged) or SND.UNA ≥ windowEnd (everything before it
 * acknowledged) the RFC leaves to the reader, and in an ACK-clocked slow start the two
 * readings cut the ACK stream into different rounds (≥: ACKs 1–9, 10–27, 28–63, 64–135 …;
 * >: 1–10, 11–30, 31–70, 71–150 …). So is whether the round in which CSS began counts among
 * CSS_ROUNDS. The tests therefore
 *   - give each segment the RTT of the path when it was sent (a delay that changes at a
 *     point in the stream, as a queue does), so every reading sees the same path, and
 *   - run RFC 9406's algorithm (§4.2 pseudocode, §4.3 constants) alongside the
 *     implementation in all four readings; the implementation must follow one of them ACK
 *     by ACK (±1 segment), and every reading must show the rule under test. */

#define HS_INF UINT64_MAX
#define HS_L 8
#define HS_N_RTT_SAMPLE 8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS 5

struct hsm {
	bool geq;     /* a round ends at SND.UNA ≥ windowEnd (else >) */
	bool partial; /* the round CSS began in counts among CSS_ROUNDS */
	double cwnd;  /* bytes */
	uint32_t window_end, samples, css_rounds, ca_at;
	uint64_t last_min, cur_min, css_base;
	bool css, ca, entered, resumed, ok;
};

static const char *hsm_name(const struct hsm *m)
{
	return m->geq ? (m->partial ? "UNA>=windowEnd, entry round counts"
				    : "UNA>=windowEnd, full CSS rounds")
		      : (m->partial ? "UNA>windowEnd, entry round counts"
				    : "UNA>windowEnd, full CSS rounds");
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* One ACK (j-th) of acked bytes; una after it, nxt = SND.NXT when it arrived. */
static void hsm_ack(struct hsm *m, uint32_t j, uint32_t una, uint32_t nxt, uint32_t acked,
		    uint32_t mss, uint64_t rtt)
{
	if (m->ca)
		return;
	if (m->geq ? seq_geq(una, m->window_end) : seq_gt(una, m->window_end)) {
		/* "At the start of each round during standard slow start and CSS" */
		m->last_min = m->cur_min;
		m->cur_min = HS_INF;
		m->samples = 0;
		m->window_end = nxt;
		if (m->css && ++m->css_rounds >= HS_CSS_ROUNDS + (m->partial ? 0 : 1)) {
			/* "If CSS_ROUNDS rounds are complete, enter congestion avoidance by setting
			 * the ssthresh to the current cwnd." */
			m->ca = true;
			m->ca_at = j;
			return;
		}
	}
	double n = acked < HS_L * mss ? acked : HS_L * mss; /* min(N, L·SMSS) */
	if (rtt) {
		m->cur_min = rtt < m->cur_min ? rtt : m->cur_min;
		m->samples++;
	}
	if (!m->css) {
		m->cwnd += n;
		if (m->samples >= HS_N_RTT_SAMPLE && m->cur_min != HS_INF &&
		    m->last_min != HS_INF) {
			uint64_t th = clamp_u64(m->last_min / 8, 4 * MS, 16 * MS);
			if (m->cur_min >= m->last_min + th) {
				m->css_base = m->cur_min;
				m->css = m->entered = true;
				m->css_rounds = 0;
			}
		}
	} else {
		m->cwnd += n / HS_CSS_GROWTH_DIVISOR;
		if (m->samples >= HS_N_RTT_SAMPLE && m->cur_min < m->css_base) {
			m->css_base = HS_INF;
			m->css = false;
			m->resumed = true;
		}
	}
}

/* The path: segment s (0: the first data segment) sees rtt[0] before seg[0], rtt[1] from it,
 * rtt[2] from seg[1]. With only_hi, segments from seg[0] on give a sample only within
 * [only_lo, only_hi). */
struct path {
	uint64_t rtt[3];
	uint32_t seg[2];
	uint32_t only_lo, only_hi;
};

static uint64_t path_rtt(const struct path *p, uint32_t s)
{
	if (s < p->seg[0])
		return p->rtt[0];
	if (p->only_hi && (s < p->only_lo || s >= p->only_hi))
		return 0;
	return s < p->seg[1] ? p->rtt[1] : p->rtt[2];
}

/* One ACK of the next segment (the first data byte was una0) over the path. */
static uint64_t path_ack(struct sl_tcb *t, const struct path *p, uint32_t una0)
{
	uint64_t rtt = path_rtt(p, (t->snd_una - una0) / t->mss);
	uint32_t w = t->cwnd / t->mss;
	t->st->now += p->rtt[0] / (w ? w : 1);
	ack1(t, t->mss, rtt);
	return rtt;
}

struct hs_result {
	struct hsm m[4];
	uint32_t acks, impl_ca_at, impl_ssthresh;
	double cwnd_at_ca; /* the implementation's, segments */
};

/* The initial slow start of a fresh CUBIC connection (IW 10, one ACK per segment) for up to
 * acks ACKs — two more once the implementation has set ssthresh — against the four readings.
 * Returns how many readings it followed. */
static unsigned hs_drive(struct fx *f, const struct path *p, uint32_t acks, struct hs_result *r)
{
	struct sl_tcb *t = conn(f, &sl_tcp_cubic, MSS, p->rtt[0]);
	memset(r, 0, sizeof *r);
	for (unsigned v = 0; v < 4; v++) {
		struct hsm *m = &r->m[v];
		m->geq = v & 1;
		m->partial = v & 2;
		m->cwnd = t->cwnd;
		m->window_end = t->snd_nxt;
		m->last_min = m->cur_min = m->css_base = HS_INF;
		m->ok = true;
	}
	uint32_t una0 = t->snd_una;
	send_window(t);
	for (uint32_t j = 1; j <= acks; j++) {
		uint32_t nxt = t->snd_nxt;
		uint64_t rtt = path_ack(t, p, una0);
		r->acks = j;
		if (!r->impl_ca_at && t->ssthresh != SS_INIT) {
			r->impl_ca_at = j;
			r->impl_ssthresh = t->ssthresh;
			r->cwnd_at_ca = segs(t);
		}
		for (unsigned v = 0; v < 4; v++) {
			struct hsm *m = &r->m[v];
			hsm_ack(m, j, t->snd_una, nxt, MSS, MSS, rtt);
			if (!m->ca && !r->impl_ca_at && fabs((double)t->cwnd - m->cwnd) > MSS)
				m->ok = false;
			if (m->ca && m->ca_at == j && fabs((double)t->cwnd - m->cwnd) > 2 * MSS)
				m->ok = false;
		}
		if (r->impl_ca_at && j >= r->impl_ca_at + 2)
			break;
	}
	unsigned n = 0;
	for (unsigned v = 0; v < 4; v++) {
		struct hsm *m = &r->m[v];
		if (m->ca != !!r->impl_ca_at)
			m->ok = false;
		if (m->ca && (m->ca_at + 1 < r->impl_ca_at || r->impl_ca_at + 1 < m->ca_at))
			m->ok = false;
		if (m->ca && fabs((double)r->impl_ssthresh - m->cwnd) > 2 * MSS)
			m->ok = false;
		n += m->ok;
		char ca[40] = "";
		if (m->ca)
			snprintf(ca, sizeof ca, ", congestion avoidance at ACK %u", m->ca_at);
		print_message("  RFC 9406 (%s): CSS %s%s%s, cwnd %.2f segments: %s\n", hsm_name(m),
			      m->entered ? "entered" : "never entered", m->resumed ? ", left" : "",
			      ca, m->cwnd / MSS, m->ok ? "followed" : "NOT followed");
	}
	print_message("  implementation: cwnd %.2f segments after %u ACKs, ssthresh %s (ACK %u)\n",
		      segs(t), r->acks, r->impl_ca_at ? "set" : "initial", r->impl_ca_at);
	return n;
}

/* Every reading shows what the test is about: CSS entered (or not), left (or not); and the
 * readings the implementation followed reached congestion avoidance (or not). */
static void hs_expect(const struct hs_result *r, bool entered, bool resumed, bool ca)
{
	for (unsigned v = 0; v < 4; v++) {
		assert_int_equal(r->m[v].entered, entered);
		assert_int_equal(r->m[v].resumed, resumed);
		if (r->m[v].ok)
			assert_int_equal(r->m[v].ca, ca);
	}
}

/* Base RTT, then from segment 63 on (inside round 4 in either reading, see above) a rise. */
static unsigned hs_rise(struct fx *f, uint64_t base, uint64_t high, struct hs_result *r)
{
	struct path p = {.rtt = {base, high, high}, .seg = {63, UINT32_MAX}};
	print_message("RTT %.1f ms, then %.1f ms:\n", base / 1e6, high / 1e6);
	return hs_drive(f, &p, 300, r);
}

/* RFC 9406 §4.2: with N_RTT_SAMPLE samples, currentRoundMinRTT ≥ lastRoundMinRTT +
 * RttThresh, RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR,
 * MAX_RTT_THRESH)), enters Conservative Slow Start, where an ACK grows cwnd by
 * min(N, L·SMSS) / CSS_GROWTH_DIVISOR; a smaller rise keeps slow start. 50 ms: RttThresh =
 * 6.25 ms. Plain slow start doubles cwnd to 310 segments in 300 ACKs; CSS from about ACK 75
 * leaves it near 140. */
static void test_hystart_delay_increase_enters_css(void **state)
{
	struct fx *f = *state;
	struct hs_result r;
	assert_true(hs_rise(f, 50 * MS, 57 * MS, &r) > 0);
	hs_expect(&r, true, false, false);
	assert_true(hs_rise(f, 50 * MS, 56 * MS, &r) > 0); /* +6 ms < 6.25 ms */
	hs_expect(&r, false, false, false);
	assert_true(hs_rise(f, 50 * MS, 50 * MS, &r) > 0);
	hs_expect(&r, false, false, false);
}

/* RFC 9406 §4.3: MIN_RTT_THRESH 4 ms and MAX_RTT_THRESH 16 ms clamp lastRoundMinRTT / 8. */
static void test_hystart_rtt_thresh_clamped_4_to_16_ms(void **state)
{
	struct fx *f = *state;
	struct hs_result r;
	/* 20 ms: 2.5 ms → 4 ms */
	assert_true(hs_rise(f, 20 * MS, 23 * MS, &r) > 0);
	hs_expect(&r, false, false, false);
	assert_true(hs_rise(f, 20 * MS, 23900 * 1000ULL, &r) > 0);
	hs_expect(&r, false, false, false);
	assert_true(hs_rise(f, 20 * MS, 24100 * 1000ULL, &r) > 0);
	hs_expect(&r, true, false, false);
	/* 200 ms: 25 ms → 16 ms */
	assert_true(hs_rise(f, 200 * MS, 215 * MS, &r) > 0);
	hs_expect(&r, false, false, false);
	assert_true(hs_rise(f, 200 * MS, 217 * MS, &r) > 0);
	hs_expect(&r, true, false, false);
}

/* RFC 9406 §4.2: the delay check runs only in a round with at least N_RTT_SAMPLE = 8 RTT
 * samples. After the rise only segments 71–77 (7) or 71–78 (8) give samples — ACKs 72–78/79,
 * inside round 4 in either reading. */
static void test_hystart_needs_8_samples(void **state)
{
	struct fx *f = *state;
	struct hs_result r;
	struct path p = {.rtt = {50 * MS, 60 * MS, 60 * MS},
			 .seg = {63, UINT32_MAX},
			 .only_lo = 71,
			 .only_hi = 78};
	print_message("7 samples at 60 ms:\n");
	assert_true(hs_drive(f, &p, 300, &r) > 0);
	hs_expect(&r, false, false, false);
	p.only_hi = 79;
	print_message("8 samples at 60 ms:\n");
	assert_true(hs_drive(f, &p, 300, &r) > 0);
	hs_expect(&r, true, false, false);
}

/* RFC 9406 §4.2: after CSS_ROUNDS = 5 rounds of CSS, ssthresh = cwnd: congestion avoidance.
 * RFC 9438 §4.10: leaving slow start that way CUBIC sets cwnd_prior = cwnd, K = 0 and W_max =
 * cwnd: W_cubic hardly moves (0.4·t³) while W_est, which starts at cwnd_prior and so grows with
 * α_cubic = 1 at once (§4.3), adds one segment per round. */
static void test_hystart_css_rounds_then_congestion_avoidance(void **state)
{
	struct fx *f = *state;
	struct hs_result r;
	struct path p = {.rtt = {50 * MS, 57 * MS, 57 * MS}, .seg = {63, UINT32_MAX}};
	assert_true(hs_drive(f, &p, 5000, &r) > 0);
	hs_expect(&r, true, false, true);
	sl_ip la = sl_ip_v4(PN_IP_A), ra = sl_ip_v4(PN_IP_B);
	struct sl_tcb *t = sl_tcp_lookup(f->st, &la, f->next_port - 1, &ra, 80);
	assert_non_null(t);
	assert_true(fabs((double)r.impl_ssthresh / MSS - r.cwnd_at_ca) <= 1);

	double c0 = segs(t);
	t->srtt_ns = 57 * MS;
	for (int n = 0; n < 10; n++)
		ack_rtt(t, 57 * MS);
	print_message("10 rounds of congestion avoidance: %.2f → %.2f segments\n", c0, segs(t));
	assert_true(segs(t) >= c0 + 8.5 && segs(t) <= c0 + 11.5);
}

/* RFC 9406 §4.2: in CSS, a round whose minimum RTT (with N_RTT_SAMPLE samples) is below
 * cssBaselineMinRtt returns to slow start, and CSS_ROUNDS no longer applies: 50 ms, 57 ms
 * from segment 63 (CSS), 52 ms from segment 200. */
static void test_hystart_css_rtt_below_baseline_back_to_slow_start(void **state)
{
	struct fx *f = *state;
	struct hs_result r;
	struct path p = {.rtt = {50 * MS, 57 * MS, 52 * MS}, .seg = {63, 200}};
	assert_true(hs_drive(f, &p, 3000, &r) > 0);
	hs_expect(&r, true, true, false);
}

/* For the tests below, rounds the simple way (the > reading) with RTT samples by round: windowEnd
 * starts at SND.NXT; when windowEnd is acknowledged (SND.UNA passes it) the round ends and
 * windowEnd = SND.NXT. The test keeps its own count. Two details the RFC leaves open — whether
 * SND.UNA == windowEnd already ends the round, and whether the ACK that ends a round gives its
 * sample to the old round or the new — are kept out of the way: the ACK that brings SND.UNA to
 * windowEnd and the one that passes it carry no RTT sample (rtt 0, as the stack passes when there
 * is none). */
struct hs {
	uint32_t end;
	unsigned round;
};

static void hs_begin(struct hs *h, const struct sl_tcb *t)
{
	h->end = t->snd_nxt;
	h->round = 0;
}

/* The next ACK, of one segment: does it start a new round? */
static bool hs_next_starts_round(const struct hs *h, const struct sl_tcb *t)
{
	return seq_gt(t->snd_una + t->mss, h->end);
}

/* One ACK of one segment, with RTT sample rtt unless it is next to a round's edge. Returns
 * whether it carried the sample. */
static bool hs_ack(struct hs *h, struct sl_tcb *t, uint64_t rtt)
{
	uint32_t una = t->snd_una + t->mss;
	bool edge = seq_geq(una, h->end);
	if (seq_gt(una, h->end)) {
		h->round++;
		h->end = t->snd_nxt; /* what the stack has sent when this ACK arrives */
	}
	ack1(t, t->mss, edge ? 0 : rtt);
	return !edge && rtt;
}

/* One round trip: the ACK that starts the next round, then every ACK up to its windowEnd, one
 * segment each, over rtt; of the ACKs that may carry a sample, the first max_samples carry
 * rtt. Returns the number of ACKs. */
static uint32_t hs_round(struct hs *h, struct sl_tcb *t, uint64_t rtt, uint32_t max_samples)
{
	assert_true(hs_next_starts_round(h, t));
	uint64_t t0 = t->st->now;
	/* this round's ACKs: the first, then up to the windowEnd it sets (SND.NXT now) */
	uint32_t total = (t->snd_nxt - t->snd_una) / t->mss;
	uint32_t n = 0, samples = 0;
	do {
		n++;
		t->st->now = t0 + rtt * n / total;
		samples += hs_ack(h, t, samples < max_samples ? rtt : 0);
	} while (!hs_next_starts_round(h, t));
	assert_int_equal(n, total);
	return n;
}

/* A fresh CUBIC connection in its first slow start: IW 10 segments, then three rounds at
 * base (10, 20, 40 ACKs: cwnd 80). */
static struct sl_tcb *hs_conn(struct fx *f, struct hs *h, uint64_t base)
{
	struct sl_tcb *t = conn(f, &sl_tcp_cubic, MSS, base);
	hs_begin(h, t);
	send_window(t);
	for (int r = 0; r < 3; r++)
		hs_round(h, t, base, UINT32_MAX);
	assert_int_equal(t->cwnd, 80 * MSS);
	assert_int_equal(t->ssthresh, SS_INIT);
	return t;
}

/* RFC 9406 §4.2 (cwnd = cwnd + min(N, L·SMSS)), §4.3: without pacing L = 8. */
static void test_hystart_ack_growth_capped_at_8_smss(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_cubic, MSS, 10 * MS);
	assert_int_equal(t->cwnd, 10 * MSS);
	send_window(t);
	ack1(t, 10 * MSS, 0);
	assert_int_equal(t->cwnd, 18 * MSS);
	ack1(t, 3 * MSS, 10 * MS);
	assert_int_equal(t->cwnd, 21 * MSS);
	ack1(t, 300, 10 * MS);
	assert_int_equal(t->cwnd, 21 * MSS + 300);
}

/* RFC 9406 §4.2: loss during slow start or CSS ends HyStart++; ssthresh comes from the
 * congestion event (RFC 9438 §4.6: β·flight) and congestion avoidance follows. Nothing of
 * HyStart++ may act later: neither CSS growth nor the end of CSS_ROUNDS setting ssthresh = cwnd;
 * and (§4.2: "SHOULD use HyStart++ only for the initial slow start") the slow start after a
 * timeout is plain slow start, an RTT rise notwithstanding. */
static void test_hystart_loss_in_slow_start_ends_it(void **state)
{
	struct fx *f = *state;
	struct hs h;
	struct sl_tcb *t = hs_conn(f, &h, 50 * MS);
	/* Half of round 4 at 50 ms, then a loss: flight = cwnd = 120 segments. */
	for (int i = 0; i < 40; i++)
		ack1(t, MSS, 50 * MS);
	assert_int_equal(t->cwnd, 120 * MSS);
	assert_int_equal(fast_recovery(t), 84 * MSS);
	assert_true(fabs(t->cubic.w_max - 120) < 0.01);
	/* Congestion avoidance with a rising RTT: CUBIC growth (K = cbrt(36/0.4) = 4.5 s), a
	 * few segments per round, and ssthresh stays. */
	for (int r = 0; r < 8; r++) {
		double c0 = segs(t);
		ack_rtt(t, (57 + r) * MS);
		assert_true(segs(t) - c0 < 8);
		assert_int_equal(t->ssthresh, 84 * MSS);
	}
	/* A timeout: ssthresh = 0.7·flight; then plain slow start up to it. */
	t->cwnd = 400 * MSS;
	send_window(t);
	timeout(t);
	assert_int_equal(t->ssthresh, 280 * MSS);
	h.end = t->snd_una; /* rounds from the retransmission on */
	for (unsigned r = 1; r <= 8; r++) {
		uint32_t c0 = t->cwnd;
		hs_round(&h, t, (r <= 5 ? 50 : 70) * MS, UINT32_MAX); /* +20 ms from round 6 */
		if (t->cwnd != 2 * c0)
			fail_msg(
			    "slow start after the timeout, round %u: %.2f → %.2f segments (not "
			    "doubled)",
			    r, (double)c0 / MSS, segs(t));
	}
	assert_int_equal(t->cwnd, 256 * MSS);
}

/* RFC 9406 §4.2: HyStart++ (and its L = 8) is for the initial slow start only; later slow
 * starts are standard ones. RFC 5681 §3.1 eq. 2 grows cwnd by min(N, SMSS) per ACK, RFC 3465
 * §2.2 allows L = 2·SMSS and no more. After a timeout a cumulative ACK often covers many
 * segments the receiver already held (the case RFC 3465 limits L for): cwnd = 1 segment, an
 * ACK of 10 segments may make it 3 at most. */
static void test_cubic_slow_start_after_timeout_at_most_2smss_per_ack(void **state)
{
	struct fx *f = *state;
	struct sl_tcb *t = conn(f, &sl_tcp_cubic, MSS, 10 * MS);
	t->cwnd = 100 * MSS;
	send_window(t);
	t->ssthresh = t->cc->ssthresh(t);
	t->cc->on_rto(t);
	t->cwnd = MSS; /* SND.NXT stays: 100 segments are outstanding */
	t->snd_una += 10 * MSS;
	t->cc->on_ack(t, 10 * MSS, 10 * MS);
	print_message("cwnd 1 segment, an ACK of 10: cwnd %.2f segments\n", segs(t));
	assert_true(t->cwnd <= 3 * MSS);
	assert_true(t->cwnd >= 2 * MSS);
}

/* A spurious congestion event in the initial slow start, undone (RFC 9438 §4.9): the growth
 * afterwards is as if it had not happened — slow start with HyStart++, so the RTT rise that
 * follows enters CSS just as it does for a twin that never saw the event. */
static void test_cubic_undo_in_slow_start_keeps_hystart(void **state)
{
	struct fx *f = *state;
	struct path p = {.rtt = {50 * MS, 57 * MS, 57 * MS}, .seg = {63, UINT32_MAX}};
	struct sl_tcb *a = conn(f, &sl_tcp_cubic, MSS, 50 * MS);
	struct sl_tcb *b = conn(f, &sl_tcp_cubic, MSS, 50 * MS);
	uint32_t a0 = a->snd_una, b0 = b->snd_una;
	send_window(a);
	send_window(b);
	for (uint32_t j = 1; j <= 300; j++) {
		if (j == 40) {
			uint32_t pc = a->cwnd, ps = a->ssthresh;
			a->ssthresh = a->cc->ssthresh(a);
			a->cwnd = a->ssthresh;
			undo_like_the_stack(a, pc, ps);
			assert_int_equal(a->cwnd, b->cwnd);
		}
		uint64_t now = a->st->now;
		path_ack(a, &p, a0);
		a->st->now = now;
		path_ack(b, &p, b0);
		if (fabs(segs(a) - segs(b)) > 1)
			fail_msg(
			    "ACK %u (the undone event was at ACK 40): cwnd %.2f segments, %.2f "
			    "without the event",
			    j, segs(a), segs(b));
	}
	print_message("after 300 ACKs: %.2f segments, %.2f without the event (plain slow start: "
		      "310)\n",
		      segs(a), segs(b));
	assert_true(segs(b) < 200); /* b entered CSS */
	assert_int_equal(a->ssthresh, SS_INIT);
}

/* ========================= black box: two stacks, one seeded loss ========================= */

struct bb {
	uint32_t mss, cwnd_at_loss, ssthresh_after, cwnd_after;
	uint64_t dropped;
};

/* A → B bulk transfer over a 1 ms pipe each way, cc on A. Once A's cwnd reaches 40 segments,
 * each frame A sends in one poll is dropped with probability 0.1 (seeded: a few segments of
 * a burst of about 40; again at the next poll if none was). The first recovery
 * sets ssthresh; the cwnd just before it began is the window at the loss. */
static struct bb loss_once(const char *cc, uint64_t seed)
{
	static struct end client;
	static struct server srv;
	struct sl_fault ab = {.delay_ns = 1 * MS, .seed = seed},
			ba = {.delay_ns = 1 * MS, .seed = seed + 7};
	struct sl_stack_config ca, cb;
	pn_config(&ca, PN_IP_A, seed);
	pn_config(&cb, PN_IP_B, seed + 1);
	ca.tcp_cc = cc;
	struct net n;
	pn_open(&n, &ab, &ba, &ca, &cb);
	memset(&client, 0, sizeof client);
	memset(&srv, 0, sizeof srv);
	const uint64_t up = 2u << 20;
	srv.expect = up;
	assert_int_equal(sl_tcp_listen(n.b, 5001, NULL, server_accept, &srv), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	client.to_send = up;
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5001, NULL, &end_cbs, &client, &client.f), 0);

	struct bb r = {0};
	struct sl_tcp_info i;
	uint64_t end = n.now + 5 * SEC;
	bool dropped = false;
	uint32_t last_cwnd = 0;
	while (n.now < end) {
		if (!dropped && client.connected) {
			sl_tcp_info(client.f, &i);
			if (i.cwnd >= 40 * i.mss) {
				struct sl_fault d = ab;
				d.drop_ppm = 100000; /* 10 % of one poll's burst */
				sl_dev_pipe_set_fault(n.da, &d);
				sl_stack_poll(n.a, n.now);
				sl_dev_pipe_set_fault(n.da, &ab);
				struct sl_pipe_stats ps;
				sl_dev_pipe_stats(n.da, &ps);
				dropped = ps.dropped > 0;
				r.dropped = ps.dropped;
			}
		}
		sl_stack_poll(n.a, n.now);
		sl_stack_poll(n.b, n.now);
		n.now += PN_MS / 4;
		if (!client.connected)
			continue;
		sl_tcp_info(client.f, &i);
		if (i.recoveries + i.rto_count) {
			r.mss = i.mss;
			r.cwnd_at_loss = last_cwnd;
			r.ssthresh_after = i.ssthresh;
			break;
		}
		last_cwnd = i.cwnd;
	}
	assert_true(dropped);
	assert_int_equal(i.rto_count, 0);
	assert_int_equal(i.recoveries, 1);
	assert_string_equal(i.cc, cc);
	static const struct pn_run run = {
	    .poll_twice = true, .ask_devices = true, .same_max = 1000, .max_step_ns = 100 * MS};
	struct xfer x = {&client, &srv};
	assert_true(pn_run_until(&n, &run, xfer_done, &x, 30 * SEC));
	assert_false(srv.ends[0].bad_byte);
	pn_down(&n);
	return r;
}

static void test_blackbox_newreno_halves_cubic_keeps_0_7(void **state)
{
	uint64_t seed = tu_seed(42);
	struct bb nr = loss_once("newreno", seed), cu = loss_once("cubic", seed);
	double rn = (double)nr.ssthresh_after / nr.cwnd_at_loss;
	double rc = (double)cu.ssthresh_after / cu.cwnd_at_loss;
	print_message("seed %llu: newreno: %llu dropped, cwnd %u → ssthresh %u (%.2f); cubic: %llu "
		      "dropped, cwnd %u → ssthresh %u (%.2f)\n",
		      (unsigned long long)seed, (unsigned long long)nr.dropped, nr.cwnd_at_loss,
		      nr.ssthresh_after, rn, (unsigned long long)cu.dropped, cu.cwnd_at_loss,
		      cu.ssthresh_after, rc);
	/* CUBIC (RFC 9438 §4.6; this one takes β·cwnd, which §4.6 allows for a sender that
	 * grows only while cwnd limited): 0.7 of the window at the event — a little more against
	 * the window sampled a poll before it, which slow start may have grown since.
	 * NewReno (RFC 5681 §3.2 step 2): ssthresh "no more than" max(FlightSize / 2, 2·SMSS),
	 * and a cwnd-limited sender that detects the loss promptly (RFC 8985 §6.2: reo_wnd 0 with
	 * no reordering seen and three segments SACKed) has no more than about the window in
	 * flight: at most about half the window. */
	assert_true(rc > 0.65 && rc < 0.85);
	if (rn > 0.6)
		fail_msg("newreno's ssthresh is %.2f of the window at the loss (FlightSize when "
			 "recovery began: about %u segments, the window %u)",
			 rn, 2 * nr.ssthresh_after / nr.mss, nr.cwnd_at_loss / nr.mss);
	assert_true(rn >= 2.0 * nr.mss / nr.cwnd_at_loss - 0.01);
	assert_true(rc - rn >= 0.1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cc_find_by_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_initial_window_rfc6928, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newreno_slow_start_min_acked_2smss, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_newreno_congestion_avoidance_smss_per_cwnd_acked,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newreno_ssthresh_half_flightsize_min_2smss, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_newreno_timeout_slow_start_to_ssthresh, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_ssthresh_beta_min_2_segments, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_fast_convergence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_concave_then_convex_around_k, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_growth_bounded_by_1_5_cwnd_per_rtt, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_reno_friendly_region, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_timeout_slow_start_then_new_epoch, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_undo_fast_recovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_undo_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_delay_increase_enters_css, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_rtt_thresh_clamped_4_to_16_ms, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_needs_8_samples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_css_rounds_then_congestion_avoidance,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_css_rtt_below_baseline_back_to_slow_start,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_ack_growth_capped_at_8_smss, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_hystart_loss_in_slow_start_ends_it, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_cubic_slow_start_after_timeout_at_most_2smss_per_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cubic_undo_in_slow_start_keeps_hystart, setup,
					    teardown),
	    cmocka_unit_test(test_blackbox_newreno_halves_cubic_keeps_0_7),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
