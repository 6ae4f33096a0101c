/*
 * Congestion control behind an ops table (struct sl_tcp_cc_ops). NewReno:
 * slow start and congestion avoidance with byte counting (RFC 5681 §3.1, RFC 3465 with
 * L = 2·SMSS), initial window per RFC 6928, fast retransmit / fast recovery (RFC 5681
 * §3.2) with the NewReno partial-ACK rules of RFC 6582 §3.2.
 */
#include "iface/stack.h"
#include "wire/tcp.h"

static uint32_t flight(const struct sl_tcb *t)
{
	return t->snd_max - t->snd_una;
}

static void nr_init(struct sl_tcb *t)
{
	/* RFC 6928: IW = min(10·MSS, max(2·MSS, 14600)), as configured. */
	uint32_t iw = t->st->cfg.tcp_initial_window * t->mss;
	uint32_t cap = 2 * t->mss > 14600 ? 2 * t->mss : 14600;
	if (t->st->cfg.tcp_initial_window >= 10 && iw > cap)
		iw = cap;
	t->cwnd = iw;
	t->ssthresh = 0x7fffffff; /* RFC 5681 §3.1: arbitrarily high */
	t->recover = t->iss;	  /* RFC 6582 §3.2: recover starts at the ISN */
	t->bytes_acked = 0;
}

static void nr_on_ack(struct sl_tcb *t, uint32_t acked)
{
	if (t->cwnd < t->ssthresh) {
		/* Slow start: RFC 3465 §2.2, at most 2·SMSS per ACK. */
		t->cwnd += acked < 2u * t->mss ? acked : 2u * t->mss;
	} else {
		/* Congestion avoidance: one SMSS per cwnd of data acknowledged (RFC 5681 eqn. 3
		 * done by byte counting). */
		t->bytes_acked += acked;
		if (t->bytes_acked >= t->cwnd) {
			t->bytes_acked -= t->cwnd;
			t->cwnd += t->mss;
		}
	}
	uint32_t max = 1u << 30;
	if (t->cwnd > max)
		t->cwnd = max;
}

static void half_flight(struct sl_tcb *t)
{
	/* RFC 5681 eqn. 4: ssthresh = max(FlightSize / 2, 2·SMSS). */
	uint32_t half = flight(t) / 2;
	t->ssthresh = half > 2u * t->mss ? half : 2u * t->mss;
}

static void nr_on_fast_retransmit(struct sl_tcb *t)
{
	half_flight(t);
	t->recover = t->snd_max; /* RFC 6582 §3.2 step 2 */
	t->cwnd = t->ssthresh + 3 * t->mss;
}

static void nr_on_recovery_ack(struct sl_tcb *t, uint32_t acked, bool full)
{
	if (full) {
		/* RFC 6582 §3.2 step 3: deflate to min(ssthresh, FlightSize + SMSS). */
		uint32_t f = flight(t) + t->mss;
		t->cwnd = t->ssthresh < f ? t->ssthresh : f;
		return;
	}
	/* Step 5: partial ACK — deflate by the amount acknowledged, add back one SMSS if at
	 * least one SMSS was acknowledged. */
	t->cwnd = t->cwnd > acked ? t->cwnd - acked : t->mss;
	if (acked >= t->mss)
		t->cwnd += t->mss;
}

static void nr_on_dupack(struct sl_tcb *t)
{
	t->cwnd += t->mss; /* RFC 5681 §3.2 step 4: inflate */
}

static void nr_on_rto(struct sl_tcb *t)
{
	half_flight(t);
	t->cwnd = t->mss; /* RFC 5681 §3.1: loss window of one segment */
	t->bytes_acked = 0;
}

const struct sl_tcp_cc_ops sl_tcp_newreno = {
    .name = "newreno",
    .init = nr_init,
    .on_ack = nr_on_ack,
    .on_fast_retransmit = nr_on_fast_retransmit,
    .on_recovery_ack = nr_on_recovery_ack,
    .on_dupack = nr_on_dupack,
    .on_rto = nr_on_rto,
};
