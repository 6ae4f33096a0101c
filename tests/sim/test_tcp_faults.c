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
#include "unit/testutil.h"
#include "sluice/sluice.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define MIB (1u << 20)

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i % 251);
}

struct end {
	struct sl_tcp_flow *f;
	uint64_t to_send, sent;
	uint64_t received;
	uint64_t expect; /* bytes it should receive */
	bool bad_byte;
	uint64_t first_bad;
	bool eof;
	bool shut;
	bool closed;
	int closed_reason;
	bool connected;
	int connect_err;
	bool close_when_done; /* sl_tcp_close after on_closed */
};

static void pump(struct end *e)
{
	uint8_t buf[16384];
	while (e->sent < e->to_send) {
		size_t n = e->to_send - e->sent < sizeof buf ? e->to_send - e->sent : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(e->sent + i);
		ssize_t w = sl_tcp_write(e->f, buf, n);
		if (w <= 0)
			return;
		e->sent += (uint64_t)w;
	}
	if (!e->shut) {
		e->shut = true;
		sl_tcp_shutdown(e->f, SL_SHUT_WR);
	}
}

static void on_readable(void *arg, struct sl_tcp_flow *f)
{
	struct end *e = arg;
	struct sl_iov v[2];
	ssize_t n;
	while ((n = sl_tcp_peek(f, v)) > 0) {
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < v[k].len; i++) {
				if (v[k].p[i] != pat(e->received) && !e->bad_byte) {
					e->bad_byte = true;
					e->first_bad = e->received;
				}
				e->received++;
			}
		sl_tcp_consume(f, (size_t)n);
	}
	if (n == 0)
		e->eof = true;
}

static void on_writable(void *arg, struct sl_tcp_flow *f)
{
	pump(arg);
}

static void on_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	struct end *e = arg;
	e->closed = true;
	e->closed_reason = reason;
	if (e->close_when_done) {
		sl_tcp_close(f);
		e->f = NULL;
	}
}

static void on_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct end *e = arg;
	e->connect_err = err;
	e->connected = err == 0;
	if (!err)
		pump(e);
	else if (e->close_when_done) {
		e->closed = true;
		e->closed_reason = err;
		sl_tcp_close(f);
		e->f = NULL;
	}
}

static const struct sl_tcp_callbacks cbs = {
    .on_connected = on_connected,
    .on_readable = on_readable,
    .on_writable = on_writable,
    .on_closed = on_closed,
};

/* Server ends, handed out in accept order. */
#define MAX_ENDS 128
struct server {
	struct end ends[MAX_ENDS];
	unsigned n;
	uint64_t send, expect;
	bool close_when_done;
};

static void on_accept(void *arg, struct sl_tcp_flow *f)
{
	struct server *s = arg;
	if (s->n >= MAX_ENDS) {
		sl_tcp_abort(f);
		return;
	}
	struct end *e = &s->ends[s->n++];
	memset(e, 0, sizeof *e);
	e->f = f;
	e->to_send = s->send;
	e->expect = s->expect;
	e->connected = true;
	e->close_when_done = s->close_when_done;
	sl_tcp_set_callbacks(f, &cbs, e);
	pump(e);
}

struct net {
	struct sl_dev *da, *db;
	struct sl_stack *a, *b;
	uint64_t now;
	uint64_t polls;
};

static void net_up(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
		   uint64_t seed, uint64_t msl_ns)
{
	struct sl_stack_config ca, cb;
	memset(n, 0, sizeof *n);
	assert_int_equal(sl_dev_pipe_pair(ab, ba, &n->da, &n->db), 0);
	sl_stack_config_init(&ca);
	sl_stack_config_init(&cb);
	sl_ip_parse("10.9.0.1", &ca.addrs[0].addr);
	ca.addrs[0].prefix_len = 24;
	ca.n_addrs = 1;
	ca.seed = seed;
	sl_ip_parse("10.9.0.2", &cb.addrs[0].addr);
	cb.addrs[0].prefix_len = 24;
	cb.n_addrs = 1;
	cb.seed = seed + 1;
	if (msl_ns) {
		ca.tcp_msl_ns = msl_ns;
		cb.tcp_msl_ns = msl_ns;
	}
	n->now = 1000 * MS;
	assert_int_equal(sl_stack_open(n->da, &ca, n->now, &n->a), 0);
	assert_int_equal(sl_stack_open(n->db, &cb, n->now, &n->b), 0);
}

/* Poll both stacks until cond or the simulated deadline; time jumps to the next event. */
static bool run_until(struct net *n, bool (*cond)(void *), void *arg, uint64_t max_ns)
{
	uint64_t end = n->now + max_ns;
	unsigned same = 0;
	while (n->now < end) {
		sl_stack_poll(n->a, n->now);
		sl_stack_poll(n->b, n->now);
		/* Twice: a poll's deadline misses timers its own output flush armed
		 * (tests/unit/test_tcp_states.c: test_established_poll_deadline_includes_rto). */
		uint64_t na = sl_stack_poll(n->a, n->now);
		uint64_t nb = sl_stack_poll(n->b, n->now);
		n->polls++;
		if (cond && cond(arg))
			return true;
		/* What B just sent is not in A's answer: ask the devices too. */
		uint64_t da = n->da->ops->next_event(n->da), db = n->db->ops->next_event(n->db);
		uint64_t next = na < nb ? na : nb;
		next = da < next ? da : next;
		next = db < next ? db : next;
		if (next <= n->now) {
			if (++same < 1000)
				continue; /* more work at this instant */
			next = n->now + 1000;
		}
		same = 0;
		if (next > n->now + 100 * MS)
			next = n->now + 100 * MS;
		n->now = next;
	}
	return cond ? cond(arg) : true;
}

static void net_down(struct net *n)
{
	struct sl_dev_counts ca, cb;
	sl_stack_close(n->a);
	sl_stack_close(n->b);
	sl_dev_close_counted(n->da, &ca);
	sl_dev_close_counted(n->db, &cb);
	/* Every frame is back in its pool, none came back from the wrong place. */
	assert_int_equal(ca.owner[SL_OWN_FREE], ca.total);
	assert_int_equal(cb.owner[SL_OWN_FREE], cb.total);
	assert_int_equal(ca.owner_errors + cb.owner_errors, 0);
}

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

struct xfer {
	struct end *c;
	struct server *s;
};

static bool xfer_done(void *arg)
{
	struct xfer *x = arg;
	if (x->s->n != 1)
		return false;
	struct end *c = x->c, *s = &x->s->ends[0];
	return c->eof && s->eof && c->received == c->expect && s->received == s->expect &&
	       c->sent == c->to_send && s->sent == s->to_send;
}

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
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, on_accept, &srv), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	client.to_send = up;
	client.expect = down;
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &cbs, &client, &client.f), 0);
	struct xfer x = {&client, &srv};
	bool ok = run_until(&n, xfer_done, &x, max_ns);
	struct end *s = srv.n ? &srv.ends[0] : NULL;
	if (ok) {
		/* Both sides shut down writing: an orderly close follows on both (TIME-WAIT is
		 * 2 · 200 ms here). */
		ok = run_until(&n, NULL, NULL, 5 * SEC) && client.closed && s->closed &&
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
	run_until(&n, NULL, NULL, 100 * MS);
	net_down(&n);
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
	assert_int_equal(sl_tcp_listen(n.b, 7000, NULL, on_accept, &srv), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	/* One new connection every 20 ms: they overlap. */
	for (unsigned i = 0; i < NCONN; i++) {
		struct end *e = &ch.cl[i];
		e->to_send = 1000;
		e->expect = 500;
		e->close_when_done = true;
		assert_int_equal(sl_tcp_connect(n.a, &dst, 7000, NULL, &cbs, e, &e->f), 0);
		run_until(&n, NULL, NULL, 20 * MS);
	}
	bool ok = run_until(&n, churn_done, &ch, 600 * SEC);
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
	run_until(&n, NULL, NULL, 5 * SEC);
	net_down(&n);
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
