/*
 * NewReno congestion control: slow start and congestion avoidance with byte counting
 * (RFC 5681 §3.1, RFC 3465 with L = 2·SMSS), ssthresh = max(FlightSize / 2, 2·SMSS) at a
 * congestion event (RFC 5681 eqn. 4). Fast recovery itself — which segments go when — is
 * the stack's (tcp_recovery.c: RFC 6582 without SACK, RFC 6675 with it, PRR for both).
 */
#include "iface/stack.h"

static void nr_init(struct sl_tcb *t)
{
	t->bytes_acked = 0;
}

static void nr_on_ack(struct sl_tcb *t, uint32_t acked, uint64_t rtt_ns)
{
	(void)rtt_ns;
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
}

static uint32_t nr_ssthresh(struct sl_tcb *t)
{
	uint32_t half = (t->snd_nxt - t->snd_una) / 2;
	t->bytes_acked = 0;
	return half > 2u * t->mss ? half : 2u * t->mss;
}

static void nr_on_rto(struct sl_tcb *t)
{
	t->bytes_acked = 0;
}

static void nr_undo(struct sl_tcb *t)
{
	(void)t;
}

const struct sl_tcp_cc_ops sl_tcp_newreno = {
    .name = "newreno",
    .init = nr_init,
    .on_ack = nr_on_ack,
    .ssthresh = nr_ssthresh,
    .on_rto = nr_on_rto,
    .undo = nr_undo,
};
