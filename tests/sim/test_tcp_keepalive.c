/*
 * Keepalive exactly as shared/API.md (Keepalive) describes it, after mirage-tcpip:
 *   - the clock is the time since the last segment received; any received segment resets
 *     it and the probe count;
 *   - nothing is sent before `after`; probes go out at after + k·interval, k = 1..probes;
 *     probes missed through a late wake-up are skipped, not sent back to back;
 *   - a probe is an empty ACK with SEG.SEQ = SND.NXT − 1 (RFC 1122 §4.2.3.6);
 *   - with no answer the connection is reset at after + (probes + 1)·interval: reads see the
 *     end, writes fail, the application is told -ETIMEDOUT.
 * Mostly with the test playing the peer on the far end of the pipe (so every probe is
 * checked on the wire and to the nanosecond of simulated time), then between two stacks.
 */
#include "unit/fakepeer.h"

#define AFTER (10 * SEC)
#define IVL (2 * SEC)
static const struct sl_keepalive KA3 = {.after_ns = AFTER, .interval_ns = IVL, .probes = 3};
static const struct sl_keepalive KA5 = {.after_ns = AFTER, .interval_ns = IVL, .probes = 5};

/* A connection accepted by a listener with keepalive ka; returns the time of the last
 * segment the stack received (the handshake's ACK). */
static uint64_t ka_open(struct pc *c, const struct sl_keepalive *ka)
{
	listen_ka = ka;
	c->win = 65535;
	open_passive_opts(c, 80, 40000, 1460, -1);
	tp_clear();
	return T.now;
}

/* RFC 1122 §4.2.3.6: <SEQ=SND.NXT−1><ACK=RCV.NXT><CTL=ACK>, no data. */
static void check_probe(const struct seg *p, const struct pc *c)
{
	if ((p->flags & ~F_PSH) != F_ACK || p->dlen != 0 || p->seq != c->rcv_nxt - 1)
		print_seg("not a keepalive probe", p);
	assert_int_equal(p->flags, F_ACK);
	assert_int_equal(p->dlen, 0);
	assert_int_equal(p->seq, c->rcv_nxt - 1);
	assert_int_equal(p->ack, c->snd_nxt);
}

static bool is_probe(const struct seg *s, const struct pc *c)
{
	return s->dlen == 0 && s->seq == c->rcv_nxt - 1 && !(s->flags & (F_SYN | F_FIN | F_RST));
}

/* The peer answers what it gets: an ACK with its current state. */
static void answer(struct seg *s)
{
	struct pc *c = T.rc;
	if (c && s->sport == c->sport && !(s->flags & F_RST))
		pc_tx(c, F_ACK, NULL, 0);
}

static void test_keepalive_nothing_before_first_probe(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	tp_run_to(t0 + AFTER);
	expect_none(); /* nothing before `after` … */
	tp_run_to(t0 + AFTER + IVL - 1);
	expect_none(); /* … and the first probe is at after + 1·interval */
	tp_run_to(t0 + AFTER + IVL);
	struct seg *p = expect(F_ACK);
	check_probe(p, &c);
	assert_int_equal(p->t - t0, AFTER + IVL);
	tp_down();
}

static void test_keepalive_probes_then_reset(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	tp_run_to(t0 + AFTER + 10 * IVL);
	for (uint64_t k = 1; k <= 3; k++) {
		struct seg *p = expect(F_ACK);
		check_probe(p, &c);
		assert_int_equal(p->t - t0, AFTER + k * IVL);
	}
	struct seg *r = expect(F_RST | F_ACK); /* reset at after + (probes + 1)·interval */
	assert_int_equal(r->t - t0, AFTER + 4 * IVL);
	assert_int_equal(r->seq, c.rcv_nxt);
	expect_none();
	assert_int_equal(A.nclosed, 1);
	assert_int_equal(closed_reason(c.f), -ETIMEDOUT);
	assert_int_equal(A.closed[0].t - t0, AFTER + 4 * IVL);
	assert_string_equal(state_of(c.f), "CLOSED");
	uint8_t b[4];
	ssize_t rd = sl_tcp_read(c.f, b, sizeof b);
	assert_true(rd == 0 || rd == -ETIMEDOUT); /* the end (tcp.h: with its reason) */
	assert_int_equal(sl_tcp_write(c.f, "x", 1), -EPIPE);
	const struct sl_stats *st = sl_stack_stats(T.st);
	assert_int_equal(st->c[SL_STAT_tcp_keepalive_probes], 3);
	assert_int_equal(st->c[SL_STAT_tcp_timeouts], 1);
	sl_tcp_close(c.f);
	tp_down();
}

/* Data queued when keepalive gives up is not sent later: writes fail. */
static void test_keepalive_reset_fails_pending_writes(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	tp_run_to(t0 + AFTER + 4 * IVL);
	assert_int_equal(closed_reason(c.f), -ETIMEDOUT);
	assert_int_equal(sl_tcp_write(c.f, "abc", 3), -EPIPE);
	assert_int_equal(sl_tcp_write_nodelay(c.f, "abc", 3), -EPIPE);
	tp_clear();
	tp_run(60 * SEC);
	expect_none();
	sl_tcp_close(c.f);
	tp_down();
}

/* An answer resets the clock and the count: three more probes, then the reset, all counted
 * from the answer. */
static void test_keepalive_answer_resets_clock_and_count(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	tp_run_to(t0 + AFTER + 2 * IVL); /* probes 1 and 2 */
	check_probe(expect(F_ACK), &c);
	check_probe(expect(F_ACK), &c);
	tp_run(1 * MS);
	uint64_t t1 = T.now;
	pc_send(&c, F_ACK, NULL, 0); /* the answer */
	expect_none();
	tp_run_to(t1 + AFTER + 10 * IVL);
	for (uint64_t k = 1; k <= 3; k++) {
		struct seg *p = expect(F_ACK);
		check_probe(p, &c);
		assert_int_equal(p->t - t1, AFTER + k * IVL);
	}
	struct seg *r = expect(F_RST | F_ACK);
	assert_int_equal(r->t - t1, AFTER + 4 * IVL);
	assert_int_equal(closed_reason(c.f), -ETIMEDOUT);
	sl_tcp_close(c.f);
	tp_down();
}

/* Data from the peer is a received segment too. */
static void test_keepalive_data_resets_clock(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	tp_run_to(t0 + 5 * SEC);
	uint64_t t1 = T.now;
	pc_send(&c, F_ACK | F_PSH, "hello", 5);
	tp_run_to(t1 + AFTER + IVL - 1);
	struct seg *s;
	while ((s = tp_pop()) != NULL) /* the (delayed) ACK of the data only */
		assert_false(is_probe(s, &c));
	tp_run_to(t1 + AFTER + IVL);
	struct seg *p = expect(F_ACK);
	check_probe(p, &c);
	assert_int_equal(p->t - t1, AFTER + IVL);
	tp_down();
}

/* Any received segment resets the clock (shared/API.md) — also one that is not acceptable,
 * such as the peer's own keepalive probe <SEQ=its SND.NXT−1>: the peer is plainly alive. */
static void test_keepalive_peer_probe_resets_clock(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	unsigned probes = 0;
	for (uint64_t t = t0 + 6 * SEC; t < t0 + 120 * SEC; t += 6 * SEC) {
		tp_run_to(t);
		pc_tx_seq(&c, F_ACK, c.snd_nxt - 1, NULL, 0); /* the peer's probe */
		tp_poll();
		struct seg *s;
		while ((s = tp_pop()) != NULL) {
			if (is_probe(s, &c)) {
				if (!probes)
					print_seg("probed a peer heard from 6 s ago", s);
				probes++;
			}
		}
	}
	assert_int_equal(probes, 0);
	assert_int_equal(A.nclosed, 0);
	tp_down();
}

/* A late wake-up skips the probes it missed: one probe, not a burst. */
static void test_keepalive_late_poll_skips_missed_probes(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA5);
	tp_run_to(t0 + AFTER + IVL);
	struct seg *p = expect(F_ACK);
	check_probe(p, &c);
	/* Asleep through probes 2 and 3. */
	T.now = t0 + AFTER + 3 * IVL + IVL / 2;
	tp_poll();
	p = expect(F_ACK);
	check_probe(p, &c);
	expect_none();
	tp_run_to(t0 + AFTER + 5 * IVL);
	p = expect(F_ACK);
	assert_int_equal(p->t - t0, AFTER + 4 * IVL);
	p = expect(F_ACK);
	assert_int_equal(p->t - t0, AFTER + 5 * IVL);
	expect_none();
	tp_run_to(t0 + AFTER + 6 * IVL);
	p = expect(F_RST | F_ACK);
	assert_int_equal(p->t - t0, AFTER + 6 * IVL);
	assert_int_equal(sl_stack_stats(T.st)->c[SL_STAT_tcp_keepalive_probes], 4);
	assert_int_equal(closed_reason(c.f), -ETIMEDOUT);
	sl_tcp_close(c.f);
	tp_down();
}

/* Asleep past the whole budget: the reset, with no burst of stale probes. */
static void test_keepalive_very_late_poll_resets_without_probes(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA5);
	T.now = t0 + AFTER + 20 * IVL;
	tp_poll();
	expect(F_RST | F_ACK);
	expect_none();
	assert_int_equal(sl_stack_stats(T.st)->c[SL_STAT_tcp_keepalive_probes], 0);
	assert_int_equal(closed_reason(c.f), -ETIMEDOUT);
	sl_tcp_close(c.f);
	tp_down();
}

/* A peer that answers keeps the connection forever. */
static void test_keepalive_answering_peer_stays_alive(void **state)
{
	tp_up(NULL);
	struct pc c;
	uint64_t t0 = ka_open(&c, &KA3);
	T.rc = &c;
	T.responder = answer;
	tp_run_to(t0 + 20 * (AFTER + IVL));
	unsigned probes = 0;
	uint64_t prev = t0;
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		check_probe(s, &c);
		assert_int_equal(s->t - prev, AFTER + IVL); /* answered at once: never a second */
		prev = s->t;
		probes++;
	}
	assert_int_equal(probes, 20);
	assert_int_equal(A.nclosed, 0);
	assert_string_equal(state_of(c.f), "ESTABLISHED");
	/* Still usable. */
	pc_send(&c, F_ACK | F_PSH, "ping", 4);
	uint8_t b[8];
	assert_int_equal(sl_tcp_read(c.f, b, sizeof b), 4);
	tp_down();
}

/* sl_tcp_connect_opts.ka: the same on an active open, the clock starting at the SYN-ACK. */
static void test_keepalive_connect_opts(void **state)
{
	tp_up(NULL);
	sl_ip dst = sl_ip_v4(PEER_IP);
	struct sl_tcp_connect_opts o = {.ka = &KA3};
	struct pc c;
	struct sl_tcp_flow *f;
	assert_int_equal(sl_tcp_connect(T.st, &dst, 9000, &o, &app_cbs, &A, &f), 0);
	tp_poll();
	struct seg *syn = expect(F_SYN);
	pc_init(&c, syn->sport, 9000);
	c.f = f;
	c.rcv_nxt = syn->seq + 1;
	tp_run(5 * SEC); /* no keepalive while connecting */
	expect(F_SYN);	 /* the retransmitted SYN at 1 s … */
	expect(F_SYN);	 /* … and at 3 s */
	expect_none();
	synack(&c, 1460, -1);
	uint64_t t0 = T.now;
	assert_int_equal(A.connected_err, 0);
	assert_int_equal(A.n_connected, 1);
	expect(F_ACK);
	tp_run_to(t0 + AFTER + 4 * IVL);
	for (uint64_t k = 1; k <= 3; k++) {
		struct seg *p = expect(F_ACK);
		check_probe(p, &c);
		assert_int_equal(p->t - t0, AFTER + k * IVL);
	}
	expect(F_RST | F_ACK);
	assert_int_equal(closed_reason(f), -ETIMEDOUT);
	sl_tcp_close(f);
	tp_down();
}

/* Without keepalive an idle connection sends nothing, ever. */
static void test_keepalive_off_by_default(void **state)
{
	tp_up(NULL);
	struct pc c;
	ka_open(&c, NULL);
	tp_run(3600 * SEC);
	expect_none();
	assert_int_equal(A.nclosed, 0);
	assert_string_equal(state_of(c.f), "ESTABLISHED");
	tp_down();
}

/* --- two stacks ------------------------------------------------------------------------------ */

/* Time jumps to the next event of either stack or device, and stops at the deadline. */
static const struct pn_run run = {
    .poll_twice = true, .ask_devices = true, .same_max = 1000, .to_end = true};

static void net_run(struct net *n, uint64_t ns)
{
	pn_run_until(n, &run, NULL, NULL, ns);
}

struct kend {
	struct sl_tcp_flow *f;
	int connect_err;
	uint64_t t_connected;
	bool closed;
	int reason;
	uint64_t t_closed;
	struct net *n;
};

static void k_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct kend *e = arg;
	e->connect_err = err;
	e->t_connected = e->n->now;
}
static void k_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	struct kend *e = arg;
	e->closed = true;
	e->reason = reason;
	e->t_closed = e->n->now;
}
static const struct sl_tcp_callbacks k_cbs = {.on_connected = k_connected, .on_closed = k_closed};
static struct kend k_server;
static void k_accept(void *arg, struct sl_tcp_flow *f)
{
	k_server.f = f;
	k_server.t_connected = k_server.n->now;
	sl_tcp_set_callbacks(f, &k_cbs, &k_server);
}

static void two_stacks_open(struct net *n, struct kend *c, const struct sl_keepalive *cka,
			    const struct sl_keepalive *ska)
{
	pn_up(n, NULL, NULL, tu_seed(11));
	memset(c, 0, sizeof *c);
	memset(&k_server, 0, sizeof k_server);
	c->n = n;
	k_server.n = n;
	assert_int_equal(sl_tcp_listen(n->b, 6000, ska, k_accept, NULL), 0);
	sl_ip dst;
	sl_ip_parse("10.9.0.2", &dst);
	struct sl_tcp_connect_opts o = {.ka = cka};
	assert_int_equal(sl_tcp_connect(n->a, &dst, 6000, &o, &k_cbs, c, &c->f), 0);
	net_run(n, 100 * MS);
	assert_int_equal(c->connect_err, 0);
	assert_non_null(k_server.f);
}

/* Two sluice stacks, keepalive on both ends, idle for 10 × (after + interval) and more: the
 * probes are answered and neither side gives up. */
static void test_keepalive_two_stacks_idle_connection_lives(void **state)
{
	struct net n;
	struct kend c;
	two_stacks_open(&n, &c, &KA3, &KA3);
	net_run(&n, 10 * (AFTER + 4 * IVL));
	assert_false(c.closed);
	assert_false(k_server.closed);
	uint64_t pa = sl_stack_stats(n.a)->c[SL_STAT_tcp_keepalive_probes];
	uint64_t pb = sl_stack_stats(n.b)->c[SL_STAT_tcp_keepalive_probes];
	print_message("probes sent: %llu + %llu\n", (unsigned long long)pa, (unsigned long long)pb);
	assert_true(pa + pb >= 10);
	struct sl_tcp_info i;
	sl_tcp_info(c.f, &i);
	assert_string_equal(i.state, "ESTABLISHED");
	sl_tcp_close(c.f);
	sl_tcp_close(k_server.f);
	net_run(&n, 100 * MS);
	pn_down(&n);
}

/* The peer vanishes (the link drops everything): reset at after + (probes + 1)·interval
 * after the last segment received, -ETIMEDOUT. */
static void test_keepalive_two_stacks_peer_vanishes(void **state)
{
	struct net n;
	struct kend c;
	two_stacks_open(&n, &c, &KA3, NULL);
	struct sl_fault cut = {.drop_ppm = 1000000, .seed = 1};
	sl_dev_pipe_set_fault(n.da, &cut);
	sl_dev_pipe_set_fault(n.db, &cut);
	net_run(&n, AFTER + 10 * IVL);
	assert_true(c.closed);
	assert_int_equal(c.reason, -ETIMEDOUT);
	/* The client's last segment received was the SYN-ACK, at on_connected. */
	assert_int_equal(c.t_closed - c.t_connected, AFTER + 4 * IVL);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_keepalive_probes], 3);
	assert_false(k_server.closed); /* no keepalive there */
	sl_tcp_close(c.f);
	sl_tcp_abort(k_server.f);
	net_run(&n, 100 * MS);
	pn_down(&n);
}

int main(void)
{
#define T_(name) cmocka_unit_test_teardown(name, tp_teardown)
	const struct CMUnitTest tests[] = {
	    T_(test_keepalive_nothing_before_first_probe),
	    T_(test_keepalive_probes_then_reset),
	    T_(test_keepalive_reset_fails_pending_writes),
	    T_(test_keepalive_answer_resets_clock_and_count),
	    T_(test_keepalive_data_resets_clock),
	    T_(test_keepalive_peer_probe_resets_clock),
	    T_(test_keepalive_late_poll_skips_missed_probes),
	    T_(test_keepalive_very_late_poll_resets_without_probes),
	    T_(test_keepalive_answering_peer_stays_alive),
	    T_(test_keepalive_connect_opts),
	    T_(test_keepalive_off_by_default),
	    cmocka_unit_test(test_keepalive_two_stacks_idle_connection_lives),
	    cmocka_unit_test(test_keepalive_two_stacks_peer_vanishes),
	};
	return cmocka_run_group_tests_name("sim_tcp_keepalive", tests, NULL, NULL);
}
