/*
 * TCP over IPv6 between two sluice stacks over the pipe device, with simulated time: fd00::1/64
 * (A) and fd00::2/64 (B), Duplicate Address Detection waited out first (RFC 4862 §5.4). Bulk
 * transfers in both directions with every byte checked (tests/unit/tcpapp.h), clean and under
 * seeded loss, reordering, duplication and corruption; the MSS over IPv6 (RFC 8200 §8.3:
 * MTU − 60); a dual-stack pair serving IPv4 and IPv6 on one port at once; source address
 * selection (RFC 6724 rules 2 and 8). A failing seed is printed (replay with SLUICE_SEED=N).
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/tcpapp.h"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define MIB (1024ULL * 1024)

static const struct pn_run run = {.max_step_ns = 10 * MS};

static sl_ip ip(const char *s)
{
	sl_ip a;
	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

static void add_addr(struct sl_stack_config *c, const char *a, uint8_t plen)
{
	c->addrs[c->n_addrs].addr = ip(a);
	c->addrs[c->n_addrs].prefix_len = plen;
	c->n_addrs++;
}

/* A: fd00::1/64, B: fd00::2/64 (plus what extra adds), then DAD: both addresses usable. */
static void net6_up(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
		    uint64_t seed,
		    void (*extra)(struct sl_stack_config *a, struct sl_stack_config *b))
{
	struct sl_stack_config ca, cb;
	sl_stack_config_init(&ca);
	sl_stack_config_init(&cb);
	ca.seed = seed;
	cb.seed = seed + 1;
	ca.deterministic_secrets = cb.deterministic_secrets = true; /* a seed replays */
	add_addr(&ca, "fd00::1", 64);
	add_addr(&cb, "fd00::2", 64);
	if (extra)
		extra(&ca, &cb);
	pn_open(n, ab, ba, &ca, &cb);
	pn_run_for(n, 2500 * MS);
	for (unsigned i = 0; i < ca.n_addrs; i++)
		assert_int_equal(sl_ip_addr_state(n->a, &ca.addrs[i].addr), 0);
	for (unsigned i = 0; i < cb.n_addrs; i++)
		assert_int_equal(sl_ip_addr_state(n->b, &cb.addrs[i].addr), 0);
}

/* Client on A to B's port 5000 at dst: up bytes up, down bytes down, both half-close; true
 * when both got everything. Every byte is checked (tcpapp.h). */
static bool transfer_to(struct net *n, const char *dst_s, uint64_t up, uint64_t down,
			uint64_t max_ns, struct sl_tcp_info *info)
{
	static struct end client;
	static struct server srv;
	memset(&client, 0, sizeof(client));
	memset(&srv, 0, sizeof(srv));
	srv.send = down;
	srv.expect = up;
	sl_tcp_unlisten(n->b, 5000);
	assert_int_equal(sl_tcp_listen(n->b, 5000, NULL, server_accept, &srv), 0);
	sl_ip dst = ip(dst_s);
	client.to_send = up;
	client.expect = down;
	assert_int_equal(sl_tcp_connect(n->a, &dst, 5000, NULL, &end_cbs, &client, &client.f), 0);
	struct xfer x = {&client, &srv};
	uint64_t t0 = n->now;
	bool ok = pn_run_until(n, &run, xfer_done, &x, max_ns);
	struct end *s = &srv.ends[0];
	print_message("%s: %llu up / %llu down in %.3f s simulated\n", dst_s,
		      (unsigned long long)up, (unsigned long long)down,
		      (double)(n->now - t0) / 1e9);
	if (!ok)
		print_message("client: sent %llu recv %llu eof %d err %d closed %d | server: sent "
			      "%llu recv %llu eof %d\n",
			      (unsigned long long)client.sent, (unsigned long long)client.received,
			      client.eof, client.connect_err, client.closed,
			      (unsigned long long)s->sent, (unsigned long long)s->received, s->eof);
	assert_false(client.bad_byte);
	assert_false(s->bad_byte);
	if (info && client.f)
		sl_tcp_info(client.f, info);
	if (client.f) {
		sl_ip l, r;
		uint16_t lp, rp;
		sl_tcp_endpoints(client.f, &l, &lp, &r, &rp);
		assert_memory_equal(r.b, dst.b, 16);
		assert_int_equal(rp, 5000);
		sl_tcp_close(client.f);
	}
	if (s->f)
		sl_tcp_close(s->f);
	pn_run_until(n, &run, NULL, NULL, 100 * MS);
	return ok;
}

static void test_ipv6_tcp_small_transfer(void **state)
{
	struct net n;
	net6_up(&n, NULL, NULL, 1, NULL);
	assert_true(transfer_to(&n, "fd00::2", 1000, 2000, 5 * SEC, NULL));
	assert_int_equal(sl_stack_stats(n.b)->c[SL_STAT_tcp_accepted], 1);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_connected], 1);
	assert_true(sl_stack_stats(n.a)->c[SL_STAT_ipv6_rx] > 0);
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_ipv4_rx], 0);
	pn_down(&n);
}

static void test_ipv6_tcp_64mib_both_ways(void **state)
{
	struct net n;
	net6_up(&n, NULL, NULL, 2, NULL);
	assert_true(transfer_to(&n, "fd00::2", 64 * MIB, 64 * MIB, 600 * SEC, NULL));
	assert_int_equal(sl_stack_stats(n.a)->c[SL_STAT_tcp_retransmits], 0);
	pn_down(&n);
}

static void faulty_transfer(uint64_t seed, const struct sl_fault *tmpl, uint64_t bytes)
{
	struct sl_fault f = *tmpl, g = *tmpl;
	f.seed = seed;
	g.seed = seed * 7 + 3;
	struct net n;
	net6_up(&n, &f, &g, seed, NULL);
	bool ok = transfer_to(&n, "fd00::2", bytes, bytes, 1200 * SEC, NULL);
	if (!ok)
		print_message("failing seed: %llu (replay with SLUICE_SEED=%llu)\n",
			      (unsigned long long)seed, (unsigned long long)seed);
	const struct sl_stats *sa = sl_stack_stats(n.a), *sb = sl_stack_stats(n.b);
	struct sl_pipe_stats pa, pb;
	sl_dev_pipe_stats(n.da, &pa);
	sl_dev_pipe_stats(n.db, &pb);
	print_message("seed %llu: dropped %llu+%llu dup %llu+%llu reordered %llu+%llu corrupted "
		      "%llu+%llu; retransmits %llu+%llu; bad csum %llu+%llu\n",
		      (unsigned long long)seed, (unsigned long long)pa.dropped,
		      (unsigned long long)pb.dropped, (unsigned long long)pa.duplicated,
		      (unsigned long long)pb.duplicated, (unsigned long long)pa.reordered,
		      (unsigned long long)pb.reordered, (unsigned long long)pa.corrupted,
		      (unsigned long long)pb.corrupted,
		      (unsigned long long)sa->c[SL_STAT_tcp_retransmits],
		      (unsigned long long)sb->c[SL_STAT_tcp_retransmits],
		      (unsigned long long)sa->c[SL_STAT_tcp_bad_csum],
		      (unsigned long long)sb->c[SL_STAT_tcp_bad_csum]);
	assert_true(ok);
	/* The faults happened and were repaired. */
	if (tmpl->drop_ppm)
		assert_true(pa.dropped + pb.dropped > 0);
	if (tmpl->corrupt_ppm)
		assert_true(pa.corrupted + pb.corrupted > 0);
	assert_true(sa->c[SL_STAT_tcp_retransmits] + sb->c[SL_STAT_tcp_retransmits] > 0);
	pn_down(&n);
}

/* 64 MiB each way under 2 % loss, 1 % duplication, 2 % reordering, 0.5 % corruption, 2 ms
 * delay with 1 ms jitter; several seeds. */
static void test_ipv6_tcp_64mib_under_faults(void **state)
{
	const struct sl_fault f = {.drop_ppm = 20000,
				   .dup_ppm = 10000,
				   .reorder_ppm = 20000,
				   .corrupt_ppm = 5000,
				   .delay_ns = 2 * MS,
				   .jitter_ns = 1 * MS};
	uint64_t base = tu_seed(600);
	for (uint64_t s = base; s < base + 3; s++)
		faulty_transfer(s, &f, 64 * MIB);
}

/* Random loss alone, from 0.1 % to 5 %. */
static void test_ipv6_tcp_64mib_loss_levels(void **state)
{
	static const uint32_t ppm[] = {1000, 10000, 50000};
	uint64_t base = tu_seed(700);
	for (unsigned k = 0; k < 3; k++) {
		const struct sl_fault f = {.drop_ppm = ppm[k], .delay_ns = 1 * MS};
		print_message("loss %.1f %%\n", ppm[k] / 1e4);
		faulty_transfer(base + k, &f, 64 * MIB);
	}
}

/* RFC 8200 §8.3 / RFC 9293 §3.7.1: the MSS over IPv6 is the MTU less 60 (40 IPv6 + 20 TCP):
 * 1440 for MTU 1500; sl_tcp_info.mss less the 12 bytes of timestamps when they are on
 * (1428). Over IPv4 on the same pair it is 20 bytes more. */
static void dual(struct sl_stack_config *a, struct sl_stack_config *b)
{
	add_addr(a, "10.9.0.1", 24);
	add_addr(b, "10.9.0.2", 24);
}

static void test_ipv6_tcp_mss(void **state)
{
	struct net n;
	net6_up(&n, NULL, NULL, 3, dual);
	struct sl_tcp_info i6, i4;
	assert_true(transfer_to(&n, "fd00::2", 100000, 100000, 5 * SEC, &i6));
	assert_true(transfer_to(&n, "10.9.0.2", 100000, 100000, 5 * SEC, &i4));
	print_message("mss: IPv6 %u (ts %d), IPv4 %u (ts %d)\n", i6.mss, i6.ts_ok, i4.mss,
		      i4.ts_ok);
	assert_int_equal(i6.mss, i6.ts_ok ? 1428 : 1440);
	assert_int_equal(i6.ts_ok, i4.ts_ok);
	assert_int_equal(i4.mss, i6.mss + 20);
	pn_down(&n);
}

/* A dual-stack server: one listener on port 5000 takes an IPv4 and an IPv6 connection at once;
 * each moves its bytes intact and sees its own family's addresses. */
static void test_dual_stack_tcp_one_port(void **state)
{
	struct net n;
	net6_up(&n, NULL, NULL, 4, dual);
	static struct end c4, c6;
	static struct server srv;
	memset(&c4, 0, sizeof c4);
	memset(&c6, 0, sizeof c6);
	memset(&srv, 0, sizeof srv);
	srv.send = 3 * MIB;
	srv.expect = 2 * MIB;
	assert_int_equal(sl_tcp_listen(n.b, 5000, NULL, server_accept, &srv), 0);
	c4.to_send = c6.to_send = 2 * MIB;
	c4.expect = c6.expect = 3 * MIB;
	sl_ip d4 = ip("10.9.0.2"), d6 = ip("fd00::2");
	assert_int_equal(sl_tcp_connect(n.a, &d4, 5000, NULL, &end_cbs, &c4, &c4.f), 0);
	assert_int_equal(sl_tcp_connect(n.a, &d6, 5000, NULL, &end_cbs, &c6, &c6.f), 0);
	uint64_t end = n.now + 60 * SEC;
	for (;;) {
		bool done = srv.n == 2;
		for (unsigned k = 0; k < srv.n; k++)
			done = done && srv.ends[k].eof && srv.ends[k].received == 2 * MIB &&
			       srv.ends[k].sent == 3 * MIB;
		done = done && c4.eof && c6.eof && c4.received == 3 * MIB && c6.received == 3 * MIB;
		if (done || n.now > end)
			break;
		pn_run_until(&n, &run, NULL, NULL, 10 * MS);
	}
	assert_int_equal(srv.n, 2);
	assert_false(c4.bad_byte || c6.bad_byte || srv.ends[0].bad_byte || srv.ends[1].bad_byte);
	assert_int_equal(c4.received, 3 * MIB);
	assert_int_equal(c6.received, 3 * MIB);
	unsigned v4 = 0, v6 = 0;
	for (unsigned k = 0; k < 2; k++) {
		sl_ip l, r;
		uint16_t lp, rp;
		sl_tcp_endpoints(srv.ends[k].f, &l, &lp, &r, &rp);
		assert_int_equal(lp, 5000);
		assert_int_equal(sl_ip_is_v4(&l), sl_ip_is_v4(&r));
		if (sl_ip_is_v4(&l)) {
			v4++;
			assert_memory_equal(l.b, d4.b, 16);
		} else {
			v6++;
			assert_memory_equal(l.b, d6.b, 16);
			sl_ip a6 = ip("fd00::1");
			assert_memory_equal(r.b, a6.b, 16);
		}
		assert_int_equal(srv.ends[k].received, 2 * MIB);
	}
	assert_int_equal(v4, 1);
	assert_int_equal(v6, 1);
	sl_tcp_close(c4.f);
	sl_tcp_close(c6.f);
	sl_tcp_close(srv.ends[0].f);
	sl_tcp_close(srv.ends[1].f);
	pn_run_until(&n, &run, NULL, NULL, 100 * MS);
	pn_down(&n);
}

/* RFC 6724 §5 rule 2 (prefer appropriate scope) and rule 8 (longest matching prefix): with a
 * link-local fe80::1/64 and a global-scope fd00::1/64, the stack uses the link-local address
 * towards fe80::2 and the other towards fd00::2 — for TCP (sl_tcp_endpoints) and as
 * sl_ip_src says. */
static void lladdrs(struct sl_stack_config *a, struct sl_stack_config *b)
{
	/* Link-local first in A's list, so "the first address" is wrong for fd00::2, and global
	 * first in B's. */
	a->addrs[1] = a->addrs[0];
	a->addrs[0].addr = ip("fe80::1");
	a->addrs[0].prefix_len = 64;
	a->n_addrs = 2;
	add_addr(b, "fe80::2", 64);
}

static void src_of_connection(struct net *n, const char *dst_s, const char *want_s)
{
	sl_ip dst = ip(dst_s), want = ip(want_s), src;
	assert_int_equal(sl_ip_src(n->a, &dst, &src), 0);
	char buf[64];
	print_message("sl_ip_src(%s) = %s\n", dst_s, sl_ip_str(&src, buf, sizeof buf));
	assert_memory_equal(src.b, want.b, 16);
	struct sl_tcp_info info;
	assert_true(transfer_to(n, dst_s, 5000, 5000, 5 * SEC, &info));
	/* transfer_to checked the remote end; the local one is the server's view. */
}

static struct {
	sl_ip remote;
	unsigned n;
} seen;

static void seen_accept(void *arg, struct sl_tcp_flow *f)
{
	sl_ip l;
	uint16_t lp, rp;
	sl_tcp_endpoints(f, &l, &lp, &seen.remote, &rp);
	seen.n++;
	sl_tcp_abort(f);
}

static void test_ipv6_source_selection(void **state)
{
	struct net n;
	net6_up(&n, NULL, NULL, 5, lladdrs);
	src_of_connection(&n, "fe80::2", "fe80::1");
	src_of_connection(&n, "fd00::2", "fd00::1");
	/* What B sees as the client's address. */
	static const char *dsts[2] = {"fe80::2", "fd00::2"}, *want[2] = {"fe80::1", "fd00::1"};
	for (unsigned k = 0; k < 2; k++) {
		memset(&seen, 0, sizeof seen);
		assert_int_equal(sl_tcp_listen(n.b, 6000 + k, NULL, seen_accept, NULL), 0);
		static struct end c;
		memset(&c, 0, sizeof c);
		c.close_when_done = true;
		sl_ip dst = ip(dsts[k]);
		assert_int_equal(sl_tcp_connect(n.a, &dst, 6000 + (int)k, NULL, &end_cbs, &c, &c.f),
				 0);
		sl_ip l, r;
		uint16_t lp, rp;
		sl_tcp_endpoints(c.f, &l, &lp, &r, &rp);
		sl_ip w = ip(want[k]);
		assert_memory_equal(l.b, w.b, 16);
		pn_run_until(&n, &run, NULL, NULL, 50 * MS);
		assert_int_equal(seen.n, 1);
		assert_memory_equal(seen.remote.b, w.b, 16);
		if (c.f)
			sl_tcp_close(c.f);
		pn_run_until(&n, &run, NULL, NULL, 50 * MS);
	}
	pn_down(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv6_tcp_small_transfer),
	    cmocka_unit_test(test_ipv6_tcp_64mib_both_ways),
	    cmocka_unit_test(test_ipv6_tcp_64mib_under_faults),
	    cmocka_unit_test(test_ipv6_tcp_64mib_loss_levels),
	    cmocka_unit_test(test_ipv6_tcp_mss),
	    cmocka_unit_test(test_dual_stack_tcp_one_port),
	    cmocka_unit_test(test_ipv6_source_selection),
	};
	return cmocka_run_group_tests_name("sim_ipv6_tcp", tests, NULL, NULL);
}
