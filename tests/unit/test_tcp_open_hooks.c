/*
 * The active-open hooks (sl_tcp_set_open_hooks), over the pipe with simulated time: on_open
 * runs once per sl_tcp_connect with the chosen 4-tuple before any segment of it exists, and
 * can refuse the connection; on_gone runs once when the connection leaves the table (after
 * TIME-WAIT, after a reset, at sl_stack_close), and never for a refused one. -EADDRINUSE
 * from on_open refuses the local port only: sl_tcp_connect offers the next ephemeral port,
 * every port of the range once (RFC 6056 §3.3: the whole range is searched), then returns
 * -EADDRINUSE.
 */
#include <errno.h>
#include "unit/pipenet.h"

#define MS 1000000ULL
#define RANGE 16384 /* the ephemeral range, 49152..65535 (RFC 6056 §2.1) */

struct seen {
	int opens, gones;
	int refuse; /* what on_open returns */
	sl_ip local, remote;
	uint16_t lport, rport;
	uint64_t tcp_tx_at_open; /* SL_STAT_tcp_tx when on_open ran */
	int gone_same_tuple;	 /* on_gone calls that named the tuple on_open saw */
	/* The first inuse on_open calls return -EADDRINUSE (-1: every one), the rest refuse. */
	int inuse;
	struct {
		sl_ip local, remote;
		uint16_t lport, rport;
		uint64_t tcp_tx;
	} call[RANGE + 8]; /* every on_open call */
};

static int on_open(void *arg, struct sl_stack *st, const sl_ip *local, uint16_t lport,
		   const sl_ip *remote, uint16_t rport)
{
	struct seen *s = arg;
	int k = s->opens++;
	s->local = *local;
	s->remote = *remote;
	s->lport = lport;
	s->rport = rport;
	s->tcp_tx_at_open = sl_stack_stats(st)->c[SL_STAT_tcp_tx];
	if (k < RANGE + 8) {
		s->call[k].local = *local;
		s->call[k].remote = *remote;
		s->call[k].lport = lport;
		s->call[k].rport = rport;
		s->call[k].tcp_tx = s->tcp_tx_at_open;
	}
	if (s->inuse < 0 || k < s->inuse)
		return -EADDRINUSE;
	return s->refuse;
}

static void on_gone(void *arg, struct sl_stack *st, const sl_ip *local, uint16_t lport,
		    const sl_ip *remote, uint16_t rport)
{
	struct seen *s = arg;
	s->gones++;
	if (lport == s->lport && rport == s->rport && !memcmp(local->b, s->local.b, 16) &&
	    !memcmp(remote->b, s->remote.b, 16))
		s->gone_same_tuple++;
}

struct app {
	int connected, connect_err, closed;
	bool eof;
	struct sl_tcp_flow *f;
};

static void app_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct app *a = arg;
	a->connected++;
	a->connect_err = err;
}

static void app_readable(void *arg, struct sl_tcp_flow *f)
{
	struct app *a = arg;
	uint8_t buf[256];
	while (sl_tcp_read(f, buf, sizeof(buf)) > 0)
		;
	if (sl_tcp_read(f, buf, sizeof(buf)) == 0)
		a->eof = true;
}

static void app_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	((struct app *)arg)->closed++;
}

static const struct sl_tcp_callbacks app_cbs = {
    .on_connected = app_connected, .on_readable = app_readable, .on_closed = app_closed};

static struct sl_tcp_flow *accepted;
static void accept_cb(void *arg, struct sl_tcp_flow *f)
{
	accepted = f;
	sl_tcp_set_callbacks(f, &app_cbs, arg);
}

static const struct pn_run run = {.max_step_ns = 10 * MS};

static bool connected(void *arg)
{
	return ((struct app *)arg)->connected > 0;
}

static void up(struct net *n, struct seen *s)
{
	struct sl_stack_config ca, cb;
	pn_config(&ca, PN_IP_A, 7);
	pn_config(&cb, PN_IP_B, 8);
	ca.tcp_msl_ns = cb.tcp_msl_ns = 100 * MS; /* TIME-WAIT of 200 ms */
	pn_open(n, NULL, NULL, &ca, &cb);
	struct sl_tcp_open_hooks h = {.on_open = on_open, .on_gone = on_gone, .arg = s};
	sl_tcp_set_open_hooks(n->a, &h);
}

static void test_open_before_syn_gone_after_time_wait(void **state)
{
	struct net n;
	struct seen s = {0};
	struct app a = {0}, b = {0};
	up(&n, &s);
	accepted = NULL;
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, accept_cb, &b), 0);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	uint64_t tx0 = sl_stack_stats(n.a)->c[SL_STAT_tcp_tx];
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), 0);
	assert_int_equal(s.opens, 1);
	assert_int_equal(s.tcp_tx_at_open, tx0); /* no segment of it yet */
	sl_ip local, remote;
	uint16_t lport, rport;
	sl_tcp_endpoints(a.f, &local, &lport, &remote, &rport);
	assert_memory_equal(s.local.b, local.b, 16);
	assert_memory_equal(s.remote.b, dst.b, 16);
	assert_int_equal(s.lport, lport);
	assert_int_equal(s.rport, 5000);
	assert_true(pn_run_until(&n, &run, connected, &a, 2000 * MS));
	assert_int_equal(a.connect_err, 0);
	assert_int_equal(s.gones, 0);
	/* A closes first, so A holds TIME-WAIT: still in the table, still hooked. */
	sl_tcp_close(a.f);
	pn_run_until(&n, &run, NULL, NULL, 20 * MS);
	assert_non_null(accepted);
	sl_tcp_close(accepted);
	pn_run_until(&n, &run, NULL, NULL, 50 * MS);
	assert_int_equal(s.gones, 0);
	pn_run_until(&n, &run, NULL, NULL, 400 * MS); /* past 2·MSL */
	assert_int_equal(s.gones, 1);
	assert_int_equal(s.gone_same_tuple, 1);
	assert_int_equal(s.opens, 1);
	pn_down(&n);
	assert_int_equal(s.gones, 1);
}

static void test_refused_open_never_gone(void **state)
{
	struct net n;
	struct seen s = {.refuse = -EPERM};
	struct app a = {0};
	up(&n, &s);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), -EPERM);
	assert_int_equal(s.opens, 1);
	pn_run_until(&n, &run, NULL, NULL, 100 * MS);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_tx], 0);
	assert_int_equal(sl_tcp_conns(n.a, NULL, 0), 0);
	assert_int_equal(a.connected, 0);
	pn_down(&n);
	assert_int_equal(s.gones, 0);
}

static void test_gone_after_reset(void **state)
{
	struct net n;
	struct seen s = {0};
	struct app a = {0};
	up(&n, &s);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	/* Nobody listens on B: the SYN draws a reset, and the connection leaves the table while
	 * the application still holds the flow. */
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5001, NULL, &app_cbs, &a, &a.f), 0);
	assert_true(pn_run_until(&n, &run, connected, &a, 2000 * MS));
	assert_int_equal(a.connect_err, -ECONNREFUSED);
	assert_int_equal(s.gones, 1);
	assert_int_equal(s.gone_same_tuple, 1);
	sl_tcp_close(a.f);
	pn_run_until(&n, &run, NULL, NULL, 10 * MS);
	assert_int_equal(s.gones, 1);
	pn_down(&n);
	assert_int_equal(s.gones, 1);
}

static void test_gone_at_stack_close(void **state)
{
	struct net n;
	struct seen s = {0};
	struct app a = {0}, b = {0};
	up(&n, &s);
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, accept_cb, &b), 0);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), 0);
	assert_true(pn_run_until(&n, &run, connected, &a, 2000 * MS));
	assert_int_equal(s.gones, 0);
	pn_down(&n);
	assert_int_equal(s.gones, 1);
	assert_int_equal(s.gone_same_tuple, 1);
}

/* The ports of on_open calls 0..n-1 are distinct and ephemeral (RFC 6335 §6: 49152..65535),
 * and every call named the same local address, remote address and port. */
static void expect_distinct_ports(const struct seen *s, int n, const sl_ip *dst, uint16_t rport)
{
	static int offered_by[65536];
	assert_true(n <= RANGE + 8);
	for (int p = 0; p < 65536; p++)
		offered_by[p] = -1;
	for (int i = 0; i < n; i++) {
		uint16_t p = s->call[i].lport;
		assert_true(p >= 49152);
		assert_memory_equal(s->call[i].remote.b, dst->b, 16);
		assert_int_equal(s->call[i].rport, rport);
		assert_memory_equal(s->call[i].local.b, s->call[0].local.b, 16);
		if (offered_by[p] >= 0) {
			print_message("calls %d and %d both offered port %u\n", offered_by[p], i, p);
			fail();
		}
		offered_by[p] = i;
	}
}

/* -EADDRINUSE refuses the port only: sl_tcp_connect offers the next one. Three refused, the
 * fourth taken: four on_open calls with four distinct ports, no segment before the fourth,
 * the connection (as the flow and the peer see it) on the fourth port; on_gone once, for
 * that tuple, when it leaves the table, and never for a refused port. */
static void test_eaddrinuse_tries_next_port(void **state)
{
	struct net n;
	struct seen s = {.inuse = 3};
	struct app a = {0}, b = {0};
	up(&n, &s);
	accepted = NULL;
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, accept_cb, &b), 0);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), 0);
	assert_int_equal(s.opens, 4);
	expect_distinct_ports(&s, 4, &dst, 5000);
	for (int i = 0; i < 4; i++)
		assert_int_equal(s.call[i].tcp_tx, 0); /* nothing sent for a refused port */
	sl_ip local, remote;
	uint16_t lport, rport;
	sl_tcp_endpoints(a.f, &local, &lport, &remote, &rport);
	assert_int_equal(lport, s.call[3].lport);
	assert_memory_equal(local.b, s.call[3].local.b, 16);
	assert_int_equal(sl_tcp_conns(n.a, NULL, 0), 1);
	assert_true(pn_run_until(&n, &run, connected, &a, 2000 * MS));
	assert_int_equal(a.connect_err, 0);
	assert_int_equal(s.opens, 4);
	assert_non_null(accepted);
	sl_ip pl, pr;
	uint16_t plport, prport;
	sl_tcp_endpoints(accepted, &pl, &plport, &pr, &prport);
	assert_int_equal(prport, s.call[3].lport); /* B sees the fourth port */
	assert_int_equal(s.gones, 0);
	sl_tcp_close(a.f);
	pn_run_until(&n, &run, NULL, NULL, 20 * MS);
	sl_tcp_close(accepted);
	pn_run_until(&n, &run, NULL, NULL, 400 * MS); /* past TIME-WAIT */
	assert_int_equal(s.gones, 1);
	assert_int_equal(s.gone_same_tuple, 1); /* the fourth call's tuple */
	assert_int_equal(s.lport, s.call[3].lport);
	pn_down(&n);
	assert_int_equal(s.gones, 1);
	assert_int_equal(s.opens, 4);
}

/* Every port refused: sl_tcp_connect gives up after RANGE on_open calls (every port once)
 * with -EADDRINUSE; nothing was sent, nothing is in the table, on_gone is never called. The
 * stack is none the worse for it: the next connect, accepted, works. */
static void test_eaddrinuse_every_port(void **state)
{
	struct net n;
	struct seen s = {.inuse = -1};
	struct app a = {0}, b = {0};
	up(&n, &s);
	accepted = NULL;
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, accept_cb, &b), 0);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), -EADDRINUSE);
	if (s.opens != RANGE)
		print_message("on_open called %d times\n", s.opens);
	assert_int_equal(s.opens, RANGE);
	expect_distinct_ports(&s, RANGE, &dst, 5000);
	pn_run_until(&n, &run, NULL, NULL, 100 * MS);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_tx], 0);
	assert_int_equal(sl_stack_stats(n.b)->c[SL_STAT_tcp_rx], 0);
	assert_int_equal(sl_tcp_conns(n.a, NULL, 0), 0);
	assert_int_equal(a.connected, 0);
	assert_int_equal(s.gones, 0);

	s.inuse = 0; /* now accepted */
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), 0);
	assert_int_equal(s.opens, RANGE + 1);
	assert_true(pn_run_until(&n, &run, connected, &a, 2000 * MS));
	assert_int_equal(a.connect_err, 0);
	pn_down(&n);
	assert_int_equal(s.gones, 1); /* the accepted one only */
	assert_int_equal(s.gone_same_tuple, 1);
}

/* The last port of the range is offered: refused RANGE - 1 times, the connection takes it. */
static void test_eaddrinuse_last_port_taken(void **state)
{
	struct net n;
	static struct seen s;
	memset(&s, 0, sizeof(s));
	s.inuse = RANGE - 1;
	struct app a = {0}, b = {0};
	up(&n, &s);
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, accept_cb, &b), 0);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), 0);
	assert_int_equal(s.opens, RANGE);
	expect_distinct_ports(&s, RANGE, &dst, 5000);
	sl_ip local, remote;
	uint16_t lport, rport;
	sl_tcp_endpoints(a.f, &local, &lport, &remote, &rport);
	assert_int_equal(lport, s.call[RANGE - 1].lport);
	assert_true(pn_run_until(&n, &run, connected, &a, 2000 * MS));
	assert_int_equal(a.connect_err, 0);
	pn_down(&n);
	assert_int_equal(s.gones, 1);
	assert_int_equal(s.gone_same_tuple, 1);
}

/* Any other error after a refused port refuses the connection: sl_tcp_connect returns it at
 * once, tries no further port, sends nothing. */
static void test_eaddrinuse_then_other_error(void **state)
{
	struct net n;
	struct seen s = {.inuse = 2, .refuse = -EPERM};
	struct app a = {0};
	up(&n, &s);
	sl_ip dst = sl_ip_v4(PN_IP_B);
	assert_int_equal(sl_tcp_connect(n.a, &dst, 5000, NULL, &app_cbs, &a, &a.f), -EPERM);
	assert_int_equal(s.opens, 3);
	expect_distinct_ports(&s, 3, &dst, 5000);
	pn_run_until(&n, &run, NULL, NULL, 100 * MS);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_tx], 0);
	assert_int_equal(sl_tcp_conns(n.a, NULL, 0), 0);
	pn_down(&n);
	assert_int_equal(s.gones, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_before_syn_gone_after_time_wait),
	    cmocka_unit_test(test_refused_open_never_gone),
	    cmocka_unit_test(test_gone_after_reset),
	    cmocka_unit_test(test_gone_at_stack_close),
	    cmocka_unit_test(test_eaddrinuse_tries_next_port),
	    cmocka_unit_test(test_eaddrinuse_every_port),
	    cmocka_unit_test(test_eaddrinuse_last_port_taken),
	    cmocka_unit_test(test_eaddrinuse_then_other_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
