/*
 * UDP over IPv6 between two sluice stacks over the pipe device (simulated time): fd00::1/64 (A)
 * and fd00::2/64 (B), DAD waited out. Echo with exact payloads up to one frame, 8000-byte
 * datagrams through IPv6 fragmentation and reassembly (RFC 8200 §4.5), the largest datagram
 * the API takes, port unreachable reported to the sender's error callback (RFC 4443 §3.1), a
 * dual-stack stack answering both families on one port, and many datagrams under seeded
 * loss, duplication, reordering and corruption: the checksum is mandatory over IPv6 (RFC 8200
 * §8.1), so no damaged datagram may be delivered.
 */
#include <errno.h>
#include "unit/pipenet.h"

#define MS 1000000ULL
#define SEC (1000 * MS)

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

static struct sl_stats base_a, base_b;

static void net6_up(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
		    uint64_t seed, bool dual, void (*tweak)(struct sl_stack_config *c))
{
	struct sl_stack_config ca, cb;
	sl_stack_config_init(&ca);
	sl_stack_config_init(&cb);
	ca.seed = seed;
	cb.seed = seed + 1;
	ca.deterministic_secrets = cb.deterministic_secrets = true; /* a seed replays */
	add_addr(&ca, "fd00::1", 64);
	add_addr(&cb, "fd00::2", 64);
	if (dual) {
		add_addr(&ca, "10.9.0.1", 24);
		add_addr(&cb, "10.9.0.2", 24);
	}
	if (tweak) {
		tweak(&ca);
		tweak(&cb);
	}
	pn_open(n, ab, ba, &ca, &cb);
	pn_run_for(n, 2500 * MS);
	assert_int_equal(sl_ip_addr_state(n->a, &ca.addrs[0].addr), 0);
	assert_int_equal(sl_ip_addr_state(n->b, &cb.addrs[0].addr), 0);
	base_a = *sl_stack_stats(n->a);
	base_b = *sl_stack_stats(n->b);
}

static uint64_t stat(struct sl_stack *st, enum sl_stat s)
{
	return sl_stack_stats(st)->c[s];
}

/* Every drop counter since net6_up, printed. */
static uint64_t drops(struct net *n, struct sl_stack *st)
{
	const struct sl_stats *base = st == n->a ? &base_a : &base_b;
	uint64_t d = 0;
	for (unsigned i = 0; i < SL_STAT_N; i++) {
		uint64_t v = sl_stack_stats(st)->c[i] - base->c[i];
		if (sl_stat_is_drop(i) && v) {
			print_message("drop counter %s = %llu\n", sl_stat_name(i),
				      (unsigned long long)v);
			d += v;
		}
	}
	return d;
}

static uint8_t pat(uint32_t seq, size_t i)
{
	uint32_t x = seq * 2654435761u + (uint32_t)i * 40503u;
	return (uint8_t)(x ^ x >> 13 ^ i >> 8);
}

/* [seq:4][len:4] then the pattern. */
static void fill(uint8_t *buf, uint32_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(seq, i);
	if (len >= 8) {
		buf[0] = seq >> 24, buf[1] = seq >> 16, buf[2] = seq >> 8, buf[3] = (uint8_t)seq;
		buf[4] = (uint8_t)(len >> 24), buf[5] = (uint8_t)(len >> 16);
		buf[6] = (uint8_t)(len >> 8), buf[7] = (uint8_t)len;
	}
}

static int64_t check(const uint8_t *d, size_t len)
{
	if (len < 8)
		return -1;
	uint32_t seq = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	uint32_t l = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
	if (l != len)
		return -1;
	for (size_t i = 8; i < len; i++)
		if (d[i] != pat(seq, i))
			return -1;
	return seq;
}

struct rec {
	unsigned count;
	struct sl_udp_meta m;
	size_t len;
	uint8_t data[65536];
	unsigned corrupt, dups;
	uint8_t seen[4096];
};

static void on_rec(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		   size_t len)
{
	struct rec *r = arg;
	r->count++;
	r->m = *m;
	r->len = len;
	memcpy(r->data, data, len);
	int64_t seq = check(data, len);
	if (len >= 8 && seq < 0)
		r->corrupt++;
	if (seq >= 0 && seq < (int64_t)sizeof(r->seen)) {
		if (r->seen[seq])
			r->dups++;
		r->seen[seq] = 1;
	}
}

/* RFC 862 echo: back to where it came from, from the address and port it went to. */
static void on_echo(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		    const uint8_t *data, size_t len)
{
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	int *fails = arg;
	if (sl_udp_write(st, &o, &m->src, m->src_port, data, len) != 0 && fails)
		(*fails)++;
}

static int write6(struct sl_stack *st, int sport, const char *dst, int dport, const void *d,
		  size_t len)
{
	struct sl_udp_write_opts o = {.src_port = sport};
	sl_ip a = ip(dst);
	return sl_udp_write(st, &o, &a, dport, d, len);
}

/* Echo with exact payloads, sizes up to one full frame (1500 − 40 − 8 = 1452 bytes): never
 * fragmented; the metadata carries the IPv6 addresses. */
static void test_udp6_echo_exact(void **state)
{
	struct net n;
	static struct rec r;
	memset(&r, 0, sizeof r);
	net6_up(&n, NULL, NULL, 1, false, NULL);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40000, on_rec, &r), 0);
	static const size_t sizes[] = {0, 1, 7, 8, 9, 100, 1000, 1451, 1452};
	static uint8_t buf[2048];
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		fill(buf, 100 + i, sizes[i]);
		unsigned before = r.count;
		assert_int_equal(write6(n.a, 40000, "fd00::2", 7, buf, sizes[i]), 0);
		pn_run_for(&n, 5 * MS);
		assert_int_equal(r.count, before + 1);
		assert_int_equal(r.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(r.data, buf, sizes[i]);
	}
	sl_ip a6 = ip("fd00::1"), b6 = ip("fd00::2");
	assert_memory_equal(r.m.src.b, b6.b, 16);
	assert_memory_equal(r.m.dst.b, a6.b, 16);
	assert_int_equal(r.m.src_port, 7);
	assert_int_equal(r.m.dst_port, 40000);
	assert_int_equal(fails, 0);
	assert_int_equal(stat(n.a, SL_STAT_ipv6_frags_sent), 0);
	assert_int_equal(stat(n.b, SL_STAT_ipv6_frags_sent), 0);
	assert_int_equal(drops(&n, n.a), 0);
	assert_int_equal(drops(&n, n.b), 0);
	pn_down(&n);
}

/* 8000-byte datagrams: 8008 bytes in 6 fragments of up to 1448 (1500 − 40 − 8, a multiple of
 * 8) each way, reassembled byte for byte. */
static void test_udp6_fragmented_echo_8000(void **state)
{
	struct net n;
	static struct rec r;
	static uint8_t buf[8000];
	memset(&r, 0, sizeof r);
	net6_up(&n, NULL, NULL, 2, false, NULL);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40000, on_rec, &r), 0);
	for (uint32_t k = 0; k < 3; k++) {
		fill(buf, 7000 + k, sizeof buf);
		assert_int_equal(write6(n.a, 40000, "fd00::2", 7, buf, sizeof buf), 0);
		pn_run_for(&n, 10 * MS);
		assert_int_equal(r.count, k + 1);
		assert_int_equal(r.len, sizeof buf);
		assert_memory_equal(r.data, buf, sizeof buf);
	}
	assert_int_equal(fails, 0);
	assert_int_equal(stat(n.a, SL_STAT_ipv6_frags_sent), 3 * 6);
	assert_int_equal(stat(n.b, SL_STAT_ipv6_frags_sent), 3 * 6);
	assert_int_equal(stat(n.b, SL_STAT_ipv6_reasm_ok), 3);
	assert_int_equal(stat(n.a, SL_STAT_ipv6_reasm_ok), 3);
	assert_int_equal(drops(&n, n.a), 0);
	assert_int_equal(drops(&n, n.b), 0);
	pn_down(&n);
}

/* The largest datagram udp.h promises (65507 bytes) crosses over IPv6 in fragments. */
static void test_udp6_largest_datagram(void **state)
{
	struct net n;
	static struct rec r;
	static uint8_t buf[65507];
	memset(&r, 0, sizeof r);
	net6_up(&n, NULL, NULL, 3, false, NULL);
	assert_int_equal(sl_udp_listen(n.b, 9, on_rec, &r), 0);
	fill(buf, 65507, sizeof buf);
	assert_int_equal(write6(n.a, 1234, "fd00::2", 9, buf, sizeof buf), 0);
	pn_run_for(&n, 20 * MS);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.len, sizeof buf);
	assert_memory_equal(r.data, buf, sizeof buf);
	assert_int_equal(stat(n.b, SL_STAT_ipv6_reasm_ok), 1);
	assert_int_equal(drops(&n, n.b), 0);
	pn_down(&n);
}

struct errlog {
	unsigned calls;
	int err;
	struct sl_udp_meta m;
};

static void on_err(void *arg, struct sl_stack *st, int err, const struct sl_udp_meta *m)
{
	struct errlog *e = arg;
	e->calls++;
	e->err = err;
	e->m = *m;
}

/* RFC 4443 §3.1 code 4 from B for a closed port reaches A's error callback as -ECONNREFUSED. */
static void test_udp6_closed_port_error_callback(void **state)
{
	struct net n;
	struct errlog e = {0};
	net6_up(&n, NULL, NULL, 4, false, NULL);
	assert_int_equal(sl_udp_listen(n.a, 40001, NULL, NULL), 0);
	assert_int_equal(sl_udp_on_error(n.a, 40001, on_err, &e), 0);
	assert_int_equal(write6(n.a, 40001, "fd00::2", 9, "anyone?", 7), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(stat(n.b, SL_STAT_udp_no_port), 1);
	assert_int_equal(stat(n.b, SL_STAT_icmp6_errors_sent), 1);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.err, -ECONNREFUSED);
	sl_ip a6 = ip("fd00::1"), b6 = ip("fd00::2");
	assert_memory_equal(e.m.src.b, a6.b, 16);
	assert_memory_equal(e.m.dst.b, b6.b, 16);
	assert_int_equal(e.m.src_port, 40001);
	assert_int_equal(e.m.dst_port, 9);
	pn_down(&n);
}

/* A dual-stack B answers IPv4 and IPv6 datagrams on one port, each from the address of its
 * own family it was sent to. */
static void test_udp_dual_stack_one_port(void **state)
{
	struct net n;
	static struct rec r4, r6;
	memset(&r4, 0, sizeof r4);
	memset(&r6, 0, sizeof r6);
	net6_up(&n, NULL, NULL, 5, true, NULL);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40004, on_rec, &r4), 0);
	assert_int_equal(sl_udp_listen(n.a, 40006, on_rec, &r6), 0);
	static uint8_t b4[3000], b6[3000];
	for (uint32_t k = 0; k < 10; k++) {
		fill(b4, 400 + k, 100 + 290 * k);
		fill(b6, 600 + k, 100 + 290 * k);
		assert_int_equal(write6(n.a, 40004, "10.9.0.2", 7, b4, 100 + 290 * k), 0);
		assert_int_equal(write6(n.a, 40006, "fd00::2", 7, b6, 100 + 290 * k), 0);
		pn_run_for(&n, 5 * MS);
		assert_int_equal(r4.count, k + 1);
		assert_int_equal(r6.count, k + 1);
		assert_memory_equal(r4.data, b4, r4.len);
		assert_memory_equal(r6.data, b6, r6.len);
		assert_int_equal(r4.len, 100 + 290 * k);
		assert_int_equal(r6.len, 100 + 290 * k);
	}
	sl_ip v4 = ip("10.9.0.2"), v6 = ip("fd00::2");
	assert_true(sl_ip_is_v4(&r4.m.src));
	assert_memory_equal(r4.m.src.b, v4.b, 16);
	assert_memory_equal(r6.m.src.b, v6.b, 16);
	assert_int_equal(fails, 0);
	pn_down(&n);
}

/* Room for every datagram a lossy second leaves incomplete: the default budget (16 datagrams in
 * progress per source, stack.h) is a defence that would refuse most fragmented datagrams
 * here until the incomplete ones time out. */
static void roomy_reasm(struct sl_stack_config *c)
{
	c->reasm_max_datagrams = 1024;
	c->reasm_max_per_src = 1024;
}

/* 1000 datagrams of 20..3019 bytes (many fragmented) under loss, duplication, reordering and
 * corruption, both ways: what arrives is intact (the mandatory UDP checksum and reassembly
 * catch every damaged one); a fair share arrives. */
static void udp6_faults(uint64_t seed)
{
	struct sl_fault f = {.drop_ppm = 20000,
			     .dup_ppm = 20000,
			     .reorder_ppm = 50000,
			     .corrupt_ppm = 20000,
			     .delay_ns = 1 * MS,
			     .jitter_ns = 2 * MS,
			     .seed = seed};
	struct sl_fault g = f;
	g.seed = seed * 3 + 1;
	struct net n;
	static struct rec r;
	memset(&r, 0, sizeof r);
	net6_up(&n, NULL, NULL, seed, false, roomy_reasm);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40000, on_rec, &r), 0);
	static uint8_t buf[4000];
	/* Neighbours resolved before the faults start: a lost NS would hold everything for a
	 * RetransTimer and overflow the pending queue (not what this test is about). */
	fill(buf, 9999, 100);
	assert_int_equal(write6(n.a, 40000, "fd00::2", 7, buf, 100), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(r.count, 1);
	memset(&r, 0, sizeof r);
	sl_dev_pipe_set_fault(n.da, &f);
	sl_dev_pipe_set_fault(n.db, &g);
	for (uint32_t k = 0; k < 1000; k++) {
		size_t len = 20 + (k * 7919) % 3000;
		fill(buf, k, len);
		write6(n.a, 40000, "fd00::2", 7, buf, len);
		pn_run_for(&n, 2 * MS);
	}
	pn_run_for(&n, 200 * MS);
	struct sl_pipe_stats pa, pb;
	sl_dev_pipe_stats(n.da, &pa);
	sl_dev_pipe_stats(n.db, &pb);
	unsigned distinct = 0;
	for (unsigned k = 0; k < 1000; k++)
		distinct += r.seen[k];
	print_message("seed %llu: %u delivered (%u distinct), corrupted frames %llu+%llu, bad "
		      "csum %llu+%llu, corrupt delivered %u\n",
		      (unsigned long long)seed, r.count, distinct, (unsigned long long)pa.corrupted,
		      (unsigned long long)pb.corrupted,
		      (unsigned long long)stat(n.b, SL_STAT_udp_bad_csum),
		      (unsigned long long)stat(n.a, SL_STAT_udp_bad_csum), r.corrupt);
	print_message("pipe: dropped %llu+%llu duplicated %llu+%llu reordered %llu+%llu\n",
		      (unsigned long long)pa.dropped, (unsigned long long)pb.dropped,
		      (unsigned long long)pa.duplicated, (unsigned long long)pb.duplicated,
		      (unsigned long long)pa.reordered, (unsigned long long)pb.reordered);
	print_message("B:\n");
	drops(&n, n.b);
	print_message("A:\n");
	drops(&n, n.a);
	assert_true(pa.corrupted + pb.corrupted > 0);
	assert_int_equal(r.corrupt, 0);
	assert_int_equal(
	    stat(n.a, SL_STAT_ipv6_reasm_no_mem) + stat(n.b, SL_STAT_ipv6_reasm_no_mem), 0);
	assert_true(distinct > 700);
	pn_down(&n);
}

static void test_udp6_under_faults(void **state)
{
	uint64_t base = tu_seed(900);
	for (uint64_t s = base; s < base + 3; s++)
		udp6_faults(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_udp6_echo_exact),
	    cmocka_unit_test(test_udp6_fragmented_echo_8000),
	    cmocka_unit_test(test_udp6_largest_datagram),
	    cmocka_unit_test(test_udp6_closed_port_error_callback),
	    cmocka_unit_test(test_udp_dual_stack_one_port),
	    cmocka_unit_test(test_udp6_under_faults),
	};
	return cmocka_run_group_tests_name("sim_ipv6_udp", tests, NULL, NULL);
}
