/*
 * TCP between two sluice stacks over the pipe device with the seeded fault injector: large
 * transfers in both directions compared byte for byte (byte i of a stream is i mod 251)
 * under loss up to 10 %, reordering, duplication, corruption and delay; connection setup
 * and teardown under loss (every connection must end in an orderly close on both sides);
 * no frame may leak (sl_dev_close_counted). Time is simulated.
 *
 * A failing seed is printed; replay it with SLUICE_SEED=N (the seed of the first run of the
 * test; the others follow it).
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/tcpapp.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MIB (1u << 20)

/* Both stacks with a short MSL, so TIME-WAIT ends within the test. */
static void net_up(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
		   uint64_t seed, uint64_t msl_ns)
{
	struct sl_stack_config ca, cb;
	pn_config(&ca, PN_IP_A, seed);
	pn_config(&cb, PN_IP_B, seed + 1);
	ca.tcp_msl_ns = msl_ns;
	cb.tcp_msl_ns = msl_ns;
	pn_open(n, ab, ba, &ca, &cb);
}

/* Time jumps to the next event of either stack or device, by at most 100 ms. */
static const struct pn_run run = {
    .poll_twice = true, .ask_devices = true, .same_max = 1000, .max_step_ns = 100 * MS};

static void print_flow(const char *who, struct sl_tcp_flow *f)
{
	if (!f)
		return;
	struct sl_tcp_info i;
	sl_tcp_info(f, &i);
	print_message("  %s: %s mss %u srtt %llu us rto %llu us cwnd %u ssthresh %u snd_wnd %u "
		      "rcv_wnd %u retrans %llu sent %llu recv %llu segs %llu/%llu\n",
		      who, i.state, i.mss, (unsigned long long)i.srtt_us,
		      (unsigned long long)i.rto_us, i.cwnd, i.ssthresh, i.snd_wnd, i.rcv_wnd,
		      (unsigned long long)i.retransmits, (unsigned long long)i.bytes_sent,
		      (unsigned long long)i.bytes_received, (unsigned long long)i.segs_in,
		      (unsigned long long)i.segs_out);
}

static void print_stats(const char *what, uint64_t seed, struct net *n)
{
	const struct sl_stats *sa = sl_stack_stats(n->a), *sb = sl_stack_stats(n->b);
	struct sl_pipe_stats pa, pb;
	sl_dev_pipe_stats(n->da, &pa);
	sl_dev_pipe_stats(n->db, &pb);
	print_message(
	    "%s seed %llu: sim %.2f s; frames %llu+%llu dropped %llu+%llu dup %llu+%llu "
	    "reord %llu+%llu corrupt %llu+%llu; retrans %llu+%llu (fast %llu+%llu, rto "
	    "%llu+%llu); bad csum %llu+%llu\n",
	    what, (unsigned long long)seed, (double)(n->now - 1000 * MS) / 1e9,
	    (unsigned long long)pa.sent, (unsigned long long)pb.sent,
	    (unsigned long long)pa.dropped, (unsigned long long)pb.dropped,
	    (unsigned long long)pa.duplicated, (unsigned long long)pb.duplicated,
	    (unsigned long long)pa.reordered, (unsigned long long)pb.reordered,
	    (unsigned long long)pa.corrupted, (unsigned long long)pb.corrupted,
	    (unsigned long long)sa->c[SL_STAT_tcp_retransmits],
	    (unsigned long long)sb->c[SL_STAT_tcp_retransmits],
	    (unsigned long long)sa->c[SL_STAT_tcp_fast_retransmits],
	    (unsigned long long)sb->c[SL_STAT_tcp_fast_retransmits],
	    (unsigned long long)sa->c[SL_STAT_tcp_rto_expired],
	    (unsigned long long)sb->c[SL_STAT_tcp_rto_expired],
	    (unsigned long long)(sa->c[SL_STAT_tcp_bad_csum] + sa->c[SL_STAT_ipv4_bad_csum]),
	    (unsigned long long)(sb->c[SL_STAT_tcp_bad_csum] + sb->c[SL_STAT_ipv4_bad_csum]));
}

/* --- bulk transfers ------------------------------------------------------------------------ */

/* One connection: up bytes client → server, down bytes server → client, both half-close.
 * Both sides must receive every byte intact, see EOF, and then close in order (on_closed 0).
 * Returns false (after printing the seed) when the deadline passes. */
static bool transfer(uint64_t seed, const struct sl_fault *ab, const struct sl_fault *ba,
		     uint64_t up, uint64_t down, uint64_t max_ns, const char *what)
{
	static struct end client;
	static struct server srv;
	struct net n;
	net_up(&n, ab, ba, seed, 200 * MS);
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
		/* Both sides shut down writing: an orderly close follows on both (TIME-WAIT is
		 * 2 · 200 ms here). */
		ok = pn_run_until(&n, &run, NULL, NULL, 5 * SEC) && client.closed && s->closed &&
		     client.closed_reason == 0 && s->closed_reason == 0;
		if (!ok)
			print_message(
			    "no orderly close: client closed %d (%d), server closed %d (%d)\n",
			    client.closed, client.closed_reason, s->closed, s->closed_reason);
	}
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
	print_stats(what, seed, &n);
	assert_false(client.bad_byte);
	assert_true(s != NULL);
	assert_false(s->bad_byte);
	if (client.f)
		sl_tcp_close(client.f);
	if (s->f)
		sl_tcp_close(s->f);
	pn_run_until(&n, &run, NULL, NULL, 100 * MS);
	pn_down(&n);
	return ok;
}

static struct sl_fault fault(uint64_t seed, uint32_t drop, uint32_t dup, uint32_t reorder,
			     uint32_t corrupt, uint64_t delay, uint64_t jitter)
{
	struct sl_fault f = {.drop_ppm = drop,
			     .dup_ppm = dup,
			     .reorder_ppm = reorder,
			     .corrupt_ppm = corrupt,
			     .delay_ns = delay,
			     .jitter_ns = jitter,
			     .seed = seed};
	return f;
}

/* 64 MiB each way at once, every kind of fault at a moderate rate. */
static void test_bulk_64mib_both_ways_all_faults(void **state)
{
	uint64_t seed = tu_seed(6400);
	struct sl_fault ab = fault(seed, 10000, 5000, 10000, 1000, 1 * MS, 500000);
	struct sl_fault ba = fault(seed * 31 + 7, 10000, 5000, 10000, 1000, 1 * MS, 500000);
	assert_true(transfer(seed, &ab, &ba, 64u * MIB, 64u * MIB, 3600 * SEC, "64MiB"));
}

/* 64 MiB each way again, heavier loss. */
static void test_bulk_64mib_both_ways_lossy(void **state)
{
	uint64_t seed = tu_seed(6500);
	struct sl_fault ab = fault(seed, 30000, 0, 20000, 0, 2 * MS, 1 * MS);
	struct sl_fault ba = fault(seed * 31 + 7, 30000, 0, 20000, 0, 2 * MS, 1 * MS);
	assert_true(transfer(seed, &ab, &ba, 64u * MIB, 64u * MIB, 3600 * SEC, "64MiB-lossy"));
}

/* 10 % loss each way (plus some reordering), many seeds. */
static void test_transfer_10pct_loss(void **state)
{
	uint64_t base = tu_seed(1000);
	for (uint64_t seed = base; seed < base + 20; seed++) {
		struct sl_fault ab = fault(seed, 100000, 0, 10000, 0, 1 * MS, 1 * MS);
		struct sl_fault ba = fault(seed * 31 + 7, 100000, 0, 10000, 0, 1 * MS, 1 * MS);
		assert_true(transfer(seed, &ab, &ba, 1u * MIB, 1u * MIB, 3600 * SEC, "loss10"));
	}
}

/* Loss rates from 1 % to 10 %, one direction at a time lossy. */
static void test_transfer_loss_sweep(void **state)
{
	uint64_t base = tu_seed(2000);
	const uint32_t rates[] = {10000, 30000, 50000, 100000};
	for (unsigned i = 0; i < 4; i++) {
		uint64_t seed = base + i;
		struct sl_fault ab = fault(seed, rates[i], 0, 0, 0, 2 * MS, 0);
		struct sl_fault ba = fault(seed * 31 + 7, rates[i] / 2, 0, 0, 0, 2 * MS, 0);
		assert_true(transfer(seed, &ab, &ba, 2u * MIB, 1u * MIB, 3600 * SEC, "sweep"));
	}
}

static void test_transfer_reorder(void **state)
{
	uint64_t base = tu_seed(3000);
	for (uint64_t seed = base; seed < base + 3; seed++) {
		struct sl_fault ab = fault(seed, 0, 0, 200000, 0, 1 * MS, 2 * MS);
		struct sl_fault ba = fault(seed * 31 + 7, 0, 0, 200000, 0, 1 * MS, 2 * MS);
		assert_true(transfer(seed, &ab, &ba, 4u * MIB, 4u * MIB, 3600 * SEC, "reorder"));
	}
}

static void test_transfer_duplication(void **state)
{
	uint64_t base = tu_seed(4000);
	for (uint64_t seed = base; seed < base + 3; seed++) {
		struct sl_fault ab = fault(seed, 0, 200000, 0, 0, 1 * MS, 0);
		struct sl_fault ba = fault(seed * 31 + 7, 0, 200000, 0, 0, 1 * MS, 0);
		assert_true(transfer(seed, &ab, &ba, 4u * MIB, 4u * MIB, 3600 * SEC, "dup"));
	}
}

static void test_transfer_corruption(void **state)
{
	uint64_t base = tu_seed(5000);
	for (uint64_t seed = base; seed < base + 3; seed++) {
		struct sl_fault ab = fault(seed, 0, 0, 0, 50000, 1 * MS, 0);
		struct sl_fault ba = fault(seed * 31 + 7, 0, 0, 0, 50000, 1 * MS, 0);
		assert_true(transfer(seed, &ab, &ba, 4u * MIB, 4u * MIB, 3600 * SEC, "corrupt"));
	}
}

static void test_transfer_long_delay(void **state)
{
	uint64_t base = tu_seed(6000);
	for (uint64_t seed = base; seed < base + 2; seed++) {
		struct sl_fault ab = fault(seed, 5000, 0, 0, 0, 50 * MS, 10 * MS);
		struct sl_fault ba = fault(seed * 31 + 7, 5000, 0, 0, 0, 50 * MS, 10 * MS);
		assert_true(transfer(seed, &ab, &ba, 8u * MIB, 2u * MIB, 3600 * SEC, "delay"));
	}
}

/* Many seeds, everything at once, small transfers. */
static void test_transfer_many_seeds(void **state)
{
	uint64_t base = tu_seed(7000);
	for (uint64_t seed = base; seed < base + 64; seed++) {
		uint32_t loss = (uint32_t)(10000 + (seed % 10) * 10000); /* 1 % … 10 % */
		struct sl_fault ab = fault(seed, loss, 20000, 30000, 5000, 1 * MS, 3 * MS);
		struct sl_fault ba = fault(seed * 31 + 7, loss, 20000, 30000, 5000, 1 * MS, 3 * MS);
		assert_true(transfer(seed, &ab, &ba, 256u << 10, 128u << 10, 3600 * SEC, "mix"));
	}
}

/* --- connection setup and teardown under loss ---------------------------------------------- */

#define NCONN 100

struct churn {
	struct end cl[NCONN];
	struct server *srv;
};

static bool churn_done(void *arg)
{
	struct churn *c = arg;
	if (c->srv->n < NCONN)
		return false;
	for (unsigned i = 0; i < NCONN; i++)
		if (!c->cl[i].closed)
			return false;
	for (unsigned i = 0; i < c->srv->n; i++)
		if (!c->srv->ends[i].closed)
			return false;
	return true;
}

static void churn(uint64_t seed, uint32_t loss)
{
	static struct churn ch;
	static struct server srv;
	struct sl_fault ab = fault(seed, loss, 10000, 20000, 2000, 1 * MS, 2 * MS);
	struct sl_fault ba = fault(seed * 31 + 7, loss, 10000, 20000, 2000, 1 * MS, 2 * MS);
	struct net n;
	net_up(&n, &ab, &ba, seed, 500 * MS);
	memset(&ch, 0, sizeof ch);
	memset(&srv, 0, sizeof srv);
	ch.srv = &srv;
	srv.send = 500;
	srv.expect = 1000;
	srv.close_when_done = true;
	assert_int_equal(sl_tcp_listen(n.b, 7000, NULL, server_accept, &srv), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	/* One new connection every 20 ms: they overlap. */
	for (unsigned i = 0; i < NCONN; i++) {
		struct end *e = &ch.cl[i];
		e->to_send = 1000;
		e->expect = 500;
		e->close_when_done = true;
		assert_int_equal(sl_tcp_connect(n.a, &dst, 7000, NULL, &end_cbs, e, &e->f), 0);
		pn_run_until(&n, &run, NULL, NULL, 20 * MS);
	}
	bool ok = pn_run_until(&n, &run, churn_done, &ch, 600 * SEC);
	unsigned bad = 0;
	for (unsigned i = 0; i < NCONN; i++) {
		struct end *e = &ch.cl[i];
		if (!e->closed || e->closed_reason || !e->eof || e->received != 500 ||
		    e->bad_byte) {
			if (bad++ < 5)
				print_message(
				    "client %u: connect %d closed %d reason %d eof %d recv %llu\n",
				    i, e->connect_err, e->closed, e->closed_reason, e->eof,
				    (unsigned long long)e->received);
		}
	}
	for (unsigned i = 0; i < srv.n; i++) {
		struct end *e = &srv.ends[i];
		if (!e->closed || e->closed_reason || !e->eof || e->received != 1000 ||
		    e->bad_byte) {
			if (bad++ < 10)
				print_message("server %u: closed %d reason %d eof %d recv %llu\n",
					      i, e->closed, e->closed_reason, e->eof,
					      (unsigned long long)e->received);
		}
	}
	if (!ok || bad || srv.n != NCONN)
		print_message("churn: %u accepted, %u bad; failing seed: %llu (replay with "
			      "SLUICE_SEED=%llu)\n",
			      srv.n, bad, (unsigned long long)seed, (unsigned long long)seed);
	print_stats("churn", seed, &n);
	assert_true(ok);
	assert_int_equal(bad, 0);
	assert_int_equal(srv.n, NCONN);
	assert_int_equal(sl_stack_stats(n.b)->c[SL_STAT_tcp_accepted], NCONN);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_connected], NCONN);
	/* Everything was closed by the application on on_closed: the tables are empty, so a
	 * last run leaves nothing behind. */
	pn_run_until(&n, &run, NULL, NULL, 5 * SEC);
	pn_down(&n);
}

static void test_setup_teardown_under_loss(void **state)
{
	uint64_t base = tu_seed(8000);
	churn(base, 50000);
	for (uint64_t seed = base + 1; seed < base + 5; seed++)
		churn(seed, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bulk_64mib_both_ways_all_faults),
	    cmocka_unit_test(test_bulk_64mib_both_ways_lossy),
	    cmocka_unit_test(test_transfer_10pct_loss),
	    cmocka_unit_test(test_transfer_loss_sweep),
	    cmocka_unit_test(test_transfer_reorder),
	    cmocka_unit_test(test_transfer_duplication),
	    cmocka_unit_test(test_transfer_corruption),
	    cmocka_unit_test(test_transfer_long_delay),
	    cmocka_unit_test(test_transfer_many_seeds),
	    cmocka_unit_test(test_setup_teardown_under_loss),
	};
	return cmocka_run_group_tests_name("sim_tcp_faults", tests, NULL, NULL);
}
