/*
 * Loss recovery between two sluice stacks over the pipe device with the seeded fault
 * injector (tests/unit/pipenet.h): random loss of 0.1, 1, 2, 5 and 10 % each way, with
 * reordering (1 %) and duplication (0.5 %), transfers both ways at once (64 MiB each way in
 * the biggest case), every byte checked (tests/unit/tcpapp.h), an orderly close on both
 * sides, many seeds, CUBIC (RFC 9438) and NewReno (RFC 5681/6582), and once with SACK and
 * timestamps off on one side (then nothing of RFC 2018/7323 is negotiated: the old recovery
 * must still finish the job). Time is simulated; no frame may leak (pn_down).
 *
 * With SACK (RFC 2018, RFC 6675) and RACK-TLP (RFC 8985) on both ends, two efficiency bounds
 * hold as well; see recovery_bounds().
 *
 * A failing seed is printed; replay it with SLUICE_SEED=N (the first seed of the failing
 * test; the others follow it).
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/tcpapp.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MIB (1u << 20)

/* Time jumps to the next event of either stack or device, by at most 100 ms. */
static const struct pn_run run = {
    .poll_twice = true, .ask_devices = true, .same_max = 1000, .max_step_ns = 100 * MS};

struct side {
	const char *cc;
	bool sack, ts;
};

struct result {
	uint64_t dropped, retransmits, rto, tlp, sent;
	double sim_s;
};

static struct sl_fault fault(uint64_t seed, uint32_t drop_ppm)
{
	struct sl_fault f = {.drop_ppm = drop_ppm,
			     .dup_ppm = 5000,
			     .reorder_ppm = 10000,
			     .delay_ns = 1 * MS,
			     .seed = seed};
	return f;
}

static void print_flow(const char *who, struct sl_tcp_flow *f)
{
	if (!f)
		return;
	struct sl_tcp_info i;
	sl_tcp_info(f, &i);
	print_message("  %s: %s cc %s sack %d ts %d mss %u srtt %llu us rto %llu us cwnd %u "
		      "ssthresh %u retrans %llu sent %llu recv %llu\n",
		      who, i.state, i.cc ? i.cc : "?", i.sack_ok, i.ts_ok, i.mss,
		      (unsigned long long)i.srtt_us, (unsigned long long)i.rto_us, i.cwnd,
		      i.ssthresh, (unsigned long long)i.retransmits,
		      (unsigned long long)i.bytes_sent, (unsigned long long)i.bytes_received);
}

/* One connection, up bytes A → B and down bytes B → A at once, both half-close. Both sides
 * must receive every byte intact, see EOF and close in order (on_closed 0) within max_ns of
 * simulated time. */
static struct result transfer(uint64_t seed, uint32_t drop_ppm, const struct side *sa,
			      const struct side *sb, uint64_t up, uint64_t down, uint64_t max_ns,
			      const char *what)
{
	static struct end client;
	static struct server srv;
	struct sl_fault ab = fault(seed, drop_ppm), ba = fault(seed * 31 + 7, drop_ppm);
	struct sl_stack_config ca, cb;
	pn_config(&ca, PN_IP_A, seed);
	pn_config(&cb, PN_IP_B, seed + 1);
	/* TIME-WAIT (2·MSL) must outlast the peer's retransmissions of its FIN, which back off
	 * to seconds at 10 % loss: with less, a FIN whose ACK is lost meets a closed port. */
	ca.tcp_msl_ns = cb.tcp_msl_ns = 2 * SEC;
	ca.tcp_cc = sa->cc;
	cb.tcp_cc = sb->cc;
	ca.tcp_sack = sa->sack;
	cb.tcp_sack = sb->sack;
	ca.tcp_timestamps = sa->ts;
	cb.tcp_timestamps = sb->ts;
	struct net n;
	pn_open(&n, &ab, &ba, &ca, &cb);
	memset(&client, 0, sizeof client);
	memset(&srv, 0, sizeof srv);
	srv.send = down;
	srv.expect = up;
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, server_accept, &srv), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	client.to_send = up;
	client.expect = down;
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &end_cbs, &client, &client.f), 0);
	struct xfer x = {&client, &srv};
	bool ok = pn_run_until(&n, &run, xfer_done, &x, max_ns);
	struct end *s = srv.n ? &srv.ends[0] : NULL;
	if (ok) {
		ok = pn_run_until(&n, &run, NULL, NULL, 30 * SEC) && client.closed && s->closed &&
		     client.closed_reason == 0 && s->closed_reason == 0;
		if (!ok)
			print_message(
			    "no orderly close: client closed %d (%d), server closed %d (%d)\n",
			    client.closed, client.closed_reason, s->closed, s->closed_reason);
	}
	const struct sl_stats *xa = sl_stack_stats(n.a), *xb = sl_stack_stats(n.b);
	struct sl_pipe_stats pa, pb;
	sl_dev_pipe_stats(n.da, &pa);
	sl_dev_pipe_stats(n.db, &pb);
	struct result r = {.dropped = pa.dropped + pb.dropped,
			   .retransmits =
			       xa->c[SL_STAT_tcp_retransmits] + xb->c[SL_STAT_tcp_retransmits],
			   .rto = xa->c[SL_STAT_tcp_rto_expired] + xb->c[SL_STAT_tcp_rto_expired],
			   .tlp = xa->c[SL_STAT_tcp_tlp_probes] + xb->c[SL_STAT_tcp_tlp_probes],
			   .sent = pa.sent + pb.sent,
			   .sim_s = (double)(n.now - 1000 * MS) / 1e9};
	print_message("%s seed %llu: sim %.2f s, frames %llu, dropped %llu, retrans %llu, rto "
		      "%llu, tlp %llu, recoveries %llu+%llu, rack lost %llu+%llu, sack rx "
		      "%llu+%llu\n",
		      what, (unsigned long long)seed, r.sim_s, (unsigned long long)r.sent,
		      (unsigned long long)r.dropped, (unsigned long long)r.retransmits,
		      (unsigned long long)r.rto, (unsigned long long)r.tlp,
		      (unsigned long long)xa->c[SL_STAT_tcp_recoveries],
		      (unsigned long long)xb->c[SL_STAT_tcp_recoveries],
		      (unsigned long long)xa->c[SL_STAT_tcp_rack_lost],
		      (unsigned long long)xb->c[SL_STAT_tcp_rack_lost],
		      (unsigned long long)xa->c[SL_STAT_tcp_sack_rx],
		      (unsigned long long)xb->c[SL_STAT_tcp_sack_rx]);
	if (!ok || client.bad_byte || (s && s->bad_byte)) {
		print_message("%s: client sent %llu/%llu recv %llu/%llu eof %d connect %d | server "
			      "n %u sent %llu recv %llu eof %d\n",
			      what, (unsigned long long)client.sent, (unsigned long long)up,
			      (unsigned long long)client.received, (unsigned long long)down,
			      client.eof, client.connect_err, srv.n,
			      (unsigned long long)(s ? s->sent : 0),
			      (unsigned long long)(s ? s->received : 0), s ? s->eof : 0);
		print_message("failing seed: %llu (replay with SLUICE_SEED=%llu)\n",
			      (unsigned long long)seed, (unsigned long long)seed);
		print_flow("client", client.f);
		print_flow("server", s ? s->f : NULL);
	}
	assert_true(ok);
	assert_false(client.bad_byte);
	assert_true(s != NULL);
	assert_false(s->bad_byte);
	if (client.f)
		sl_tcp_close(client.f);
	if (s->f)
		sl_tcp_close(s->f);
	pn_run_until(&n, &run, NULL, NULL, 100 * MS);
	pn_down(&n); /* every frame back in its pool */
	return r;
}

/*
 * The efficiency bounds with SACK and RACK-TLP on both ends.
 *
 * RTOs. With a scoreboard, any loss that has a later-sent segment delivered after it is
 * found by RACK (RFC 8985 §6.2) and repaired by fast recovery — lost retransmissions
 * included, since RACK orders by transmission time. Only a loss at the tail of a flight
 * (nothing sent after it gets through) needs a timer, and then TLP (§7) probes first; the
 * RTO fires only if the probe or its ACK is lost too, i.e. with probability ≈ p ≤ 0.1 per
 * tail loss. Tail losses are themselves a minority of all losses, so with p ≤ 10 %, RTOs ≤
 * dropped / 10 holds with room; + 4 for the connection's own ends (a lost SYN, SYN-ACK or
 * FIN, and the last segment of each direction, can only be repaired by a timer).
 *
 * Retransmissions. Each frame dropped costs at most one retransmission of a data segment
 * (dropped pure ACKs cost none: cumulative ACKs and SACK blocks repeat), the retransmission
 * may itself be lost (factor 1/(1−p) ≤ 1.12), and TLPs that retransmit the last segment add
 * at most one per probe. Reordering by one frame (the injector's) is below DupThresh and
 * inside RACK's reordering window, and duplicates are reported by D-SACK, so neither
 * should cause retransmissions. 3 × dropped + 20 leaves a wide margin; a go-back-N storm
 * (everything after a hole sent again) or retransmitting SACKed data exceeds it quickly.
 */
static void recovery_bounds(const struct result *r, uint64_t seed, const char *what)
{
	if (r->rto > r->dropped / 10 + 4)
		print_message(
		    "%s seed %llu: %llu RTOs for %llu frames dropped (bound %llu); replay "
		    "with SLUICE_SEED=%llu\n",
		    what, (unsigned long long)seed, (unsigned long long)r->rto,
		    (unsigned long long)r->dropped, (unsigned long long)(r->dropped / 10 + 4),
		    (unsigned long long)seed);
	assert_true(r->rto <= r->dropped / 10 + 4);
	if (r->retransmits > 3 * r->dropped + 20)
		print_message("%s seed %llu: %llu retransmissions for %llu frames dropped (bound "
			      "%llu); replay with SLUICE_SEED=%llu\n",
			      what, (unsigned long long)seed, (unsigned long long)r->retransmits,
			      (unsigned long long)r->dropped,
			      (unsigned long long)(3 * r->dropped + 20), (unsigned long long)seed);
	assert_true(r->retransmits <= 3 * r->dropped + 20);
}

/* Seeds and sizes per loss rate; smaller under the sanitizers (the whole file ≤ ~40 s plain,
 * ≤ ~90 s under ASan). */
struct plan {
	uint32_t drop_ppm;
	unsigned seeds;
	uint64_t bytes; /* each way */
	uint64_t max_ns;
};

static const struct plan plans[] = {
#if SANITIZED
    {1000, 2, 64u * MIB, 600 * SEC},   {10000, 6, 16u * MIB, 600 * SEC},
    {20000, 8, 8u * MIB, 300 * SEC},   {50000, 16, 2u * MIB, 300 * SEC},
    {100000, 24, 1u * MIB, 300 * SEC},
#else
    {1000, 4, 64u * MIB, 600 * SEC},   {10000, 8, 16u * MIB, 600 * SEC},
    {20000, 10, 8u * MIB, 300 * SEC},  {50000, 24, 2u * MIB, 300 * SEC},
    {100000, 40, 1u * MIB, 300 * SEC},
#endif
};

static void sweep(const char *cc, uint64_t base, unsigned which)
{
	const struct plan *pl = &plans[which];
	struct side s = {cc, true, true};
	char what[64];
	snprintf(what, sizeof what, "%s loss %.1f%%", cc, pl->drop_ppm / 10000.0);
	for (unsigned k = 0; k < pl->seeds; k++) {
		uint64_t seed = base + k;
		struct result r =
		    transfer(seed, pl->drop_ppm, &s, &s, pl->bytes, pl->bytes, pl->max_ns, what);
		recovery_bounds(&r, seed, what);
	}
}

/* RFC 9438 CUBIC with SACK, RACK-TLP and PRR, at each loss rate. */
static void test_recovery_cubic_loss_0_1pct(void **state)
{
	sweep("cubic", tu_seed(10000), 0);
}
static void test_recovery_cubic_loss_1pct(void **state)
{
	sweep("cubic", tu_seed(11000), 1);
}
static void test_recovery_cubic_loss_2pct(void **state)
{
	sweep("cubic", tu_seed(12000), 2);
}
static void test_recovery_cubic_loss_5pct(void **state)
{
	sweep("cubic", tu_seed(13000), 3);
}
static void test_recovery_cubic_loss_10pct(void **state)
{
	sweep("cubic", tu_seed(14000), 4);
}

/* RFC 5681 / RFC 6582 NewReno (with SACK-based loss recovery underneath). */
static void test_recovery_newreno_loss_0_1pct(void **state)
{
	sweep("newreno", tu_seed(20000), 0);
}
static void test_recovery_newreno_loss_1pct(void **state)
{
	sweep("newreno", tu_seed(21000), 1);
}
static void test_recovery_newreno_loss_2pct(void **state)
{
	sweep("newreno", tu_seed(22000), 2);
}
static void test_recovery_newreno_loss_5pct(void **state)
{
	sweep("newreno", tu_seed(23000), 3);
}
static void test_recovery_newreno_loss_10pct(void **state)
{
	sweep("newreno", tu_seed(24000), 4);
}

/* One side with SACK and timestamps off (RFC 2018 §2, RFC 7323 §3.2: neither is then used on
 * the connection): recovery falls back to duplicate ACKs and NewReno-style partial ACKs; the
 * transfer must still finish intact and close in order. The efficiency bounds do not apply. */
static void test_recovery_sack_ts_off_one_side(void **state)
{
	uint64_t base = tu_seed(30000);
	struct side on = {"cubic", true, true}, off = {"cubic", false, false};
	struct side nr_on = {"newreno", true, true}, nr_off = {"newreno", false, false};
	uint64_t bytes = 4u * MIB;
	for (unsigned k = 0; k < (SANITIZED ? 3u : 4u); k++) {
		transfer(base + k, 20000, &on, &off, bytes, bytes, 600 * SEC,
			 "cubic, B no sack/ts");
		transfer(base + 10 + k, 20000, &nr_off, &nr_on, bytes, bytes, 600 * SEC,
			 "newreno, A no sack/ts");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recovery_cubic_loss_0_1pct),
	    cmocka_unit_test(test_recovery_cubic_loss_1pct),
	    cmocka_unit_test(test_recovery_cubic_loss_2pct),
	    cmocka_unit_test(test_recovery_cubic_loss_5pct),
	    cmocka_unit_test(test_recovery_cubic_loss_10pct),
	    cmocka_unit_test(test_recovery_newreno_loss_0_1pct),
	    cmocka_unit_test(test_recovery_newreno_loss_1pct),
	    cmocka_unit_test(test_recovery_newreno_loss_2pct),
	    cmocka_unit_test(test_recovery_newreno_loss_5pct),
	    cmocka_unit_test(test_recovery_newreno_loss_10pct),
	    cmocka_unit_test(test_recovery_sack_ts_off_one_side),
	};
	return cmocka_run_group_tests_name("sim_tcp_recovery", tests, NULL, NULL);
}
