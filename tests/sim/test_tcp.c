/*
 * TCP between two sluice stacks over the pipe device, with simulated time: handshakes,
 * transfers compared by hash in both directions, half-close, refusal, and transfers under
 * seeded loss, reordering, duplication, corruption and delay. A failing seed is printed
 * (replay with SLUICE_SEED=N).
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/tcpapp.h"

#define MS 1000000ULL

/* The event loop these tests were written against: one poll per instant, the stacks'
 * deadlines only, jumps of at most 10 ms. */
static const struct pn_run run = {.max_step_ns = 10 * MS};

/* Client sends up, server sends down, both half-close; returns true when both got all. */
static bool transfer(struct net *n, uint64_t up, uint64_t down, uint64_t max_ns)
{
	static struct end client;
	static struct server srv;
	memset(&client, 0, sizeof(client));
	memset(&srv, 0, sizeof(srv));
	srv.send = down;
	srv.expect = up;
	sl_tcp_unlisten(n->b, 5000);
	assert_int_equal(sl_tcp_listen(n->b, 5000, NULL, server_accept, &srv), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	client.to_send = up;
	client.expect = down;
	assert_int_equal(sl_tcp_connect(n->a, &dst, 5000, NULL, &end_cbs, &client, &client.f), 0);
	struct xfer x = {&client, &srv};
	bool ok = pn_run_until(n, &run, xfer_done, &x, max_ns);
	struct end *s = &srv.ends[0];
	if (!ok)
		print_message("client: sent %llu recv %llu eof %d err %d closed %d | server: sent "
			      "%llu recv %llu eof %d\n",
			      (unsigned long long)client.sent, (unsigned long long)client.received,
			      client.eof, client.connect_err, client.closed,
			      (unsigned long long)s->sent, (unsigned long long)s->received, s->eof);
	assert_false(client.bad_byte);
	assert_false(s->bad_byte);
	if (client.f)
		sl_tcp_close(client.f);
	if (s->f)
		sl_tcp_close(s->f);
	pn_run_until(n, &run, NULL, NULL, 100 * MS);
	return ok;
}

static void test_handshake_and_small_transfer(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, 1);
	assert_true(transfer(&n, 1000, 2000, 5000 * MS));
	assert_int_equal(sl_stack_stats(n.b)->c[SL_STAT_tcp_accepted], 1);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_connected], 1);
	pn_down(&n);
}

static void test_bulk_both_directions(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, 2);
	assert_true(transfer(&n, 8u << 20, 8u << 20, 60000 * MS));
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_retransmits], 0);
	pn_down(&n);
}

static void test_refused(void **state)
{
	struct net n;
	struct end c = {0};
	pn_up(&n, NULL, NULL, 3);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5999, NULL, &end_cbs, &c, &c.f), 0);
	pn_run_until(&n, &run, NULL, NULL, 50 * MS);
	assert_int_equal(c.connect_err, -ECONNREFUSED);
	sl_tcp_close(c.f);
	pn_down(&n);
}

static void lossy_transfer(uint64_t seed, uint64_t bytes)
{
	struct sl_fault f = {.drop_ppm = 20000,
			     .dup_ppm = 10000,
			     .reorder_ppm = 20000,
			     .corrupt_ppm = 5000,
			     .delay_ns = 2 * MS,
			     .jitter_ns = 1 * MS,
			     .seed = seed};
	struct sl_fault g = f;
	g.seed = seed * 7 + 3;
	struct net n;
	pn_up(&n, &f, &g, seed);
	bool ok = transfer(&n, bytes, bytes, 600000 * MS);
	if (!ok)
		print_message("failing seed: %llu (replay with SLUICE_SEED=%llu)\n",
			      (unsigned long long)seed, (unsigned long long)seed);
	assert_true(ok);
	const struct sl_stats *sa = sl_stack_stats(n.a), *sb = sl_stack_stats(n.b);
	struct sl_pipe_stats pa, pb;
	sl_dev_pipe_stats(n.da, &pa);
	sl_dev_pipe_stats(n.db, &pb);
	print_message("seed %llu: dropped %llu+%llu corrupted %llu+%llu; retransmits %llu+%llu "
		      "(fast %llu+%llu, rto %llu+%llu), bad csum %llu+%llu\n",
		      (unsigned long long)seed, (unsigned long long)pa.dropped,
		      (unsigned long long)pb.dropped, (unsigned long long)pa.corrupted,
		      (unsigned long long)pb.corrupted,
		      (unsigned long long)sa->c[SL_STAT_tcp_retransmits],
		      (unsigned long long)sb->c[SL_STAT_tcp_retransmits],
		      (unsigned long long)sa->c[SL_STAT_tcp_fast_retransmits],
		      (unsigned long long)sb->c[SL_STAT_tcp_fast_retransmits],
		      (unsigned long long)sa->c[SL_STAT_tcp_rto_expired],
		      (unsigned long long)sb->c[SL_STAT_tcp_rto_expired],
		      (unsigned long long)(sa->c[SL_STAT_tcp_bad_csum] + sa->c[SL_STAT_ipv4_bad_csum]),
		      (unsigned long long)(sb->c[SL_STAT_tcp_bad_csum] + sb->c[SL_STAT_ipv4_bad_csum]));
	/* The faults happened and were repaired, not avoided. */
	assert_true(pa.dropped + pb.dropped > 0);
	assert_true(sa->c[SL_STAT_tcp_retransmits] + sb->c[SL_STAT_tcp_retransmits] > 0);
	pn_down(&n);
}

static void test_transfer_under_faults(void **state)
{
	uint64_t base = tu_seed(100);
	for (uint64_t s = base; s < base + 4; s++)
		lossy_transfer(s, 1u << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_small_transfer),
		cmocka_unit_test(test_bulk_both_directions),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_transfer_under_faults),
	};
	return cmocka_run_group_tests_name("sim_tcp", tests, NULL, NULL);
}
