/*
 * UDP between two stacks in one process over the pipe device (simulated time, so runs are
 * deterministic): echo with exact payloads, datagrams larger than the MTU through
 * fragmentation and reassembly, port unreachable reported to the sender's error callback,
 * the bounded receive queue of a callback-less listener, API errors, checksums (frames
 * crafted by hand on the peer end), DF, and many datagrams under seeded loss, duplication,
 * reordering and corruption. Every test ends by checking that every frame came back.
 * A failing seed is printed; replay with SLUICE_SEED=N.
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"

#define MS 1000000ULL
#define SEC (1000 * MS)
#define MAX_DGRAM 65507 /* 65535 - IPv4 header - UDP header */

#define IP_A 0x0a090001u /* 10.9.0.1, stack A */
#define IP_B 0x0a090002u /* 10.9.0.2, stack B */

/* The counters once the gratuitous ARPs are through (net_up_cfg). */
static struct sl_stats base_a, base_b;

typedef void (*cfg_fn)(struct sl_stack_config *c);

static void net_up_cfg(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
		       cfg_fn tweak_a, cfg_fn tweak_b)
{
	struct sl_stack_config ca, cb;
	pn_config(&ca, IP_A, 1);
	pn_config(&cb, IP_B, 2);
	if (tweak_a)
		tweak_a(&ca);
	if (tweak_b)
		tweak_b(&cb);
	pn_open(n, ab, ba, &ca, &cb);
	/* Each stack announces itself; the other counts the announcement as arp_not_for_us. */
	pn_run_for(n, 2 * MS);
	base_a = *sl_stack_stats(n->a);
	base_b = *sl_stack_stats(n->b);
}

static void net_up(struct net *n)
{
	net_up_cfg(n, NULL, NULL, NULL, NULL);
}

static uint64_t stat(struct sl_stack *st, enum sl_stat s)
{
	return sl_stack_stats(st)->c[s];
}

/* Sum of every drop counter since net_up (bugs hide in drops nobody expected). */
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

/* --- payloads: every byte follows from (seq, index), so any damage is seen --------------- */

static uint8_t pat(uint32_t seq, size_t i)
{
	uint32_t x = seq * 2654435761u + (uint32_t)i * 40503u;
	return (uint8_t)(x ^ x >> 13 ^ i >> 8);
}

/* [seq:4][len:4] then the pattern; len ≥ 8. */
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

/* -1 when data is not what fill() made (for some seq), else the seq. */
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

/* --- receivers ----------------------------------------------------------------------------- */

struct rec {
	unsigned count;
	struct sl_udp_meta m;
	size_t len;
	uint8_t data[MAX_DGRAM];
	/* for the lossy test */
	unsigned corrupt;
	unsigned dups;
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

/* RFC 862 echo: the same bytes back to where they came from, from the port they went to. */
static void on_echo(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		    const uint8_t *data, size_t len)
{
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	int *fails = arg;
	if (sl_udp_write(st, &o, &m->src, m->src_port, data, len) != 0 && fails)
		(*fails)++;
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

static int write_from(struct sl_stack *st, int sport, uint32_t dst, int dport, const void *d,
		      size_t len, bool df)
{
	struct sl_udp_write_opts o = {.src_port = sport, .dont_fragment = df};
	sl_ip ip = sl_ip_v4(dst);
	return sl_udp_write(st, &o, &ip, dport, d, len);
}

static uint32_t ip4_of(const sl_ip *a)
{
	return sl_ip_to_v4(a);
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_echo_exact_payload(void **state)
{
	struct net n;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	net_up(&n);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40000, on_rec, &r), 0);

	const char *hello = "hello, sluice";
	assert_int_equal(write_from(n.a, 40000, IP_B, 7, hello, strlen(hello), false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.len, strlen(hello));
	assert_memory_equal(r.data, hello, strlen(hello));
	assert_true(sl_ip_is_v4(&r.m.src));
	assert_int_equal(ip4_of(&r.m.src), IP_B);
	assert_int_equal(ip4_of(&r.m.dst), IP_A);
	assert_int_equal(r.m.src_port, 7);
	assert_int_equal(r.m.dst_port, 40000);

	/* Sizes up to one full frame (1500 - 20 - 8 = 1472 bytes): never fragmented. */
	static const size_t sizes[] = {0, 1, 7, 8, 9, 100, 1000, 1471, 1472};
	static uint8_t buf[2048];
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill(buf, 100 + i, sizes[i]);
		unsigned before = r.count;
		assert_int_equal(write_from(n.a, 40000, IP_B, 7, buf, sizes[i], false), 0);
		pn_run_for(&n, 5 * MS);
		assert_int_equal(r.count, before + 1);
		assert_int_equal(r.len, sizes[i]);
		if (sizes[i])
			assert_memory_equal(r.data, buf, sizes[i]);
	}
	const unsigned total = 1 + sizeof(sizes) / sizeof(sizes[0]);
	assert_int_equal(fails, 0);
	assert_int_equal(stat(n.a, SL_STAT_udp_tx), total);
	assert_int_equal(stat(n.b, SL_STAT_udp_rx), total);
	assert_int_equal(stat(n.b, SL_STAT_udp_tx), total);
	assert_int_equal(stat(n.a, SL_STAT_udp_rx), total);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_frags_sent), 0);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_frags_sent), 0);
	assert_int_equal(drops(&n, n.a), 0);
	assert_int_equal(drops(&n, n.b), 0);
	pn_down(&n);
}

/* Ephemeral source ports: the reply comes back to the port the stack picked (49152..65535). */
static void test_ephemeral_source_port(void **state)
{
	struct net n;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	net_up(&n);
	assert_int_equal(sl_udp_listen(n.b, 9000, on_rec, &r), 0);
	sl_ip dst = sl_ip_v4(IP_B);
	assert_int_equal(sl_udp_write(n.a, NULL, &dst, 9000, "x", 1), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(r.count, 1);
	assert_true(r.m.src_port >= 49152);
	uint16_t first = r.m.src_port;
	assert_int_equal(sl_udp_write(n.a, NULL, &dst, 9000, "y", 1), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(r.count, 2);
	assert_true(r.m.src_port >= 49152);
	assert_int_not_equal(r.m.src_port, first);
	pn_down(&n);
}

/* 8000-byte datagrams: 8008 transport bytes in 6 fragments (5 × 1480 + 608) each way. */
static void test_fragmented_echo_8000(void **state)
{
	struct net n;
	static struct rec r;
	static uint8_t buf[8000];
	memset(&r, 0, sizeof(r));
	net_up(&n);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40000, on_rec, &r), 0);
	for (uint32_t k = 0; k < 3; k++) {
		fill(buf, 7000 + k, sizeof(buf));
		assert_int_equal(write_from(n.a, 40000, IP_B, 7, buf, sizeof(buf), false), 0);
		pn_run_for(&n, 10 * MS);
		assert_int_equal(r.count, k + 1);
		assert_int_equal(r.len, sizeof(buf));
		assert_memory_equal(r.data, buf, sizeof(buf));
		assert_int_equal(check(r.data, r.len), 7000 + k);
	}
	assert_int_equal(fails, 0);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_frags_sent), 3 * 6);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_frags_sent), 3 * 6);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_frags_rx), 3 * 6);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_frags_rx), 3 * 6);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_reasm_ok), 3);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_reasm_ok), 3);
	assert_int_equal(stat(n.b, SL_STAT_udp_rx), 3);
	assert_int_equal(drops(&n, n.a), 0);
	assert_int_equal(drops(&n, n.b), 0);

	/* The other direction on its own: B sends to a queueing listener on A. */
	assert_int_equal(sl_udp_listen(n.a, 5000, NULL, NULL), 0);
	fill(buf, 8123, sizeof(buf));
	assert_int_equal(write_from(n.b, 6000, IP_A, 5000, buf, sizeof(buf), false), 0);
	pn_run_for(&n, 10 * MS);
	static uint8_t got[9000];
	struct sl_udp_meta m;
	assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), &m), sizeof(buf));
	assert_memory_equal(got, buf, sizeof(buf));
	assert_int_equal(m.src_port, 6000);
	assert_int_equal(ip4_of(&m.src), IP_B);
	assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), NULL), -EAGAIN);
	pn_down(&n);
}

/* The largest datagram UDP over IPv4 can carry: 65507 bytes, 45 fragments. One more: refused. */
static void test_largest_datagram(void **state)
{
	struct net n;
	static struct rec r;
	static uint8_t buf[MAX_DGRAM + 1];
	memset(&r, 0, sizeof(r));
	net_up(&n);
	assert_int_equal(sl_udp_listen(n.b, 9, on_rec, &r), 0);
	fill(buf, 65507, MAX_DGRAM);
	assert_int_equal(write_from(n.a, 1234, IP_B, 9, buf, MAX_DGRAM, false), 0);
	pn_run_for(&n, 20 * MS);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.len, MAX_DGRAM);
	assert_memory_equal(r.data, buf, MAX_DGRAM);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_frags_sent), 45);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_reasm_ok), 1);
	uint64_t tx = stat(n.a, SL_STAT_udp_tx);
	assert_int_equal(write_from(n.a, 1234, IP_B, 9, buf, MAX_DGRAM + 1, false), -EMSGSIZE);
	assert_int_equal(stat(n.a, SL_STAT_udp_tx), tx);
	assert_int_equal(drops(&n, n.b), 0);
	pn_down(&n);
}

static void test_closed_port_error_callback(void **state)
{
	struct net n;
	struct errlog e = {0};
	net_up(&n);
	/* The error callback belongs to the port the datagram was sent from. */
	assert_int_equal(sl_udp_listen(n.a, 40001, NULL, NULL), 0);
	assert_int_equal(sl_udp_on_error(n.a, 40001, on_err, &e), 0);
	assert_int_equal(write_from(n.a, 40001, IP_B, 9, "anyone?", 7, false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(stat(n.b, SL_STAT_udp_no_port), 1);
	assert_int_equal(stat(n.b, SL_STAT_icmp_errors_sent), 1);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.err, -ECONNREFUSED);
	assert_int_equal(ip4_of(&e.m.src), IP_A);
	assert_int_equal(ip4_of(&e.m.dst), IP_B);
	assert_int_equal(e.m.src_port, 40001);
	assert_int_equal(e.m.dst_port, 9);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_rx), 1);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_delivered), 1);
	/* The error is not a datagram: nothing was queued on A's port. */
	uint8_t tmp[64];
	assert_int_equal(sl_udp_recv(n.a, 40001, tmp, sizeof(tmp), NULL), -EAGAIN);

	/* A reassembled datagram to a closed port is refused the same way (the quote is built
	 * from the reassembled datagram). */
	static uint8_t big[8000];
	fill(big, 1, sizeof(big));
	assert_int_equal(write_from(n.a, 40001, IP_B, 10, big, sizeof(big), false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_reasm_ok), 1);
	assert_int_equal(stat(n.b, SL_STAT_udp_no_port), 2);
	assert_int_equal(e.calls, 2);
	assert_int_equal(e.err, -ECONNREFUSED);
	assert_int_equal(e.m.dst_port, 10);

	/* From a port with no error callback: counted as unclaimed, nobody called. */
	assert_int_equal(write_from(n.a, 40002, IP_B, 9, "x", 1, false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(stat(n.b, SL_STAT_udp_no_port), 3);
	assert_int_equal(e.calls, 2);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_unclaimed), 1);

	/* Once someone listens, the same datagram is delivered and nothing is refused. */
	struct rec *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(sl_udp_listen(n.b, 9, on_rec, r), 0);
	assert_int_equal(write_from(n.a, 40001, IP_B, 9, "anyone?", 7, false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(r->count, 1);
	assert_int_equal(e.calls, 2);
	assert_int_equal(stat(n.b, SL_STAT_udp_no_port), 3);
	free(r);
	pn_down(&n);
}

/* RFC 1812 §4.3.2.8 rate limit, randomised (CVE-2020-25705): the number of port unreachables
 * a burst of datagrams to closed ports draws at one instant is about icmp_burst, bounded by
 * the bucket, and not the same for every seed. */
static unsigned burst_errors(uint64_t seed)
{
	struct net n;
	struct sl_stack_config ca, cb;
	pn_config(&ca, IP_A, seed);
	pn_config(&cb, IP_B, seed + 1);
	cb.icmp_burst = 20;
	cb.icmp_rate = 10;
	pn_open(&n, NULL, NULL, &ca, &cb);
	pn_run_for(&n, 2 * MS);
	/* Neighbours first (one datagram and its error), then 200 datagrams in 10 ms: the
	 * bucket refills one token per 100 ms, so this is the burst. */
	assert_int_equal(write_from(n.a, 39999, IP_B, 9, "x", 1, false), 0);
	pn_run_for(&n, 10 * MS);
	uint64_t s0 = stat(n.b, SL_STAT_icmp_errors_sent),
		 l0 = stat(n.b, SL_STAT_icmp_rate_limited);
	assert_int_equal(s0, 1);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(write_from(n.a, 40000 + i, IP_B, 9, "x", 1, false), 0);
		if (i % 32 == 31)
			pn_run_for(&n, 1 * MS);
	}
	pn_run_for(&n, 3 * MS);
	unsigned sent = (unsigned)(stat(n.b, SL_STAT_icmp_errors_sent) - s0);
	assert_int_equal(sent + stat(n.b, SL_STAT_icmp_rate_limited) - l0, 200);
	pn_down(&n);
	return sent;
}

static void test_icmp_error_rate_randomised(void **state)
{
	unsigned first = burst_errors(100), differ = 0;
	for (uint64_t s = 101; s < 110; s++) {
		unsigned k = burst_errors(s);
		/* An error needs a token and takes at most two: from the 18–20 left, at least 9;
		 * and no more than the 200 datagrams. */
		assert_true(k >= 9 && k <= 200);
		differ += k != first;
	}
	assert_true(first >= 9);
	assert_true(differ > 0);
}

static void small_rcvbuf(struct sl_stack_config *c)
{
	c->udp_rcvbuf = 1000;
}

static void test_rcvbuf_bounded_and_ordered(void **state)
{
	struct net n;
	net_up_cfg(&n, NULL, NULL, small_rcvbuf, NULL);
	assert_int_equal(sl_udp_listen(n.a, 5000, NULL, NULL), 0);
	uint8_t buf[400], got[500];
	/* 400-byte datagrams: two fit in 1000 bytes, a third would not (also if the queue
	 * charges up to 100 bytes of bookkeeping per datagram). */
	for (uint32_t s = 0; s < 10; s++) {
		fill(buf, s, sizeof(buf));
		assert_int_equal(
		    write_from(n.b, 6000 + (int)s, IP_A, 5000, buf, sizeof(buf), false), 0);
		pn_run_for(&n, 2 * MS);
	}
	assert_int_equal(stat(n.a, SL_STAT_udp_rx), 2);
	assert_int_equal(stat(n.a, SL_STAT_udp_rcvbuf_full), 8);
	struct sl_udp_meta m;
	for (uint32_t s = 0; s < 2; s++) {
		memset(&m, 0, sizeof(m));
		assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), &m), sizeof(buf));
		assert_int_equal(check(got, sizeof(buf)), s); /* oldest first */
		assert_int_equal(m.src_port, 6000 + s);
		assert_int_equal(m.dst_port, 5000);
		assert_int_equal(ip4_of(&m.src), IP_B);
		assert_int_equal(ip4_of(&m.dst), IP_A);
	}
	assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), &m), -EAGAIN);

	/* Drained: room again. A short read truncates to cap and still consumes the datagram. */
	fill(buf, 77, sizeof(buf));
	assert_int_equal(write_from(n.b, 6000, IP_A, 5000, buf, sizeof(buf), false), 0);
	fill(buf, 78, sizeof(buf));
	assert_int_equal(write_from(n.b, 6000, IP_A, 5000, buf, sizeof(buf), false), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(stat(n.a, SL_STAT_udp_rx), 4);
	assert_int_equal(sl_udp_recv(n.a, 5000, got, 10, NULL), 10);
	assert_int_equal(got[3], 77);
	assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), NULL), sizeof(buf));
	assert_int_equal(check(got, sizeof(buf)), 78);
	assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), NULL), -EAGAIN);

	/* Unlisten with datagrams queued frees them (ASan's leak check sees it otherwise). */
	assert_int_equal(write_from(n.b, 6000, IP_A, 5000, buf, sizeof(buf), false), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(sl_udp_unlisten(n.a, 5000), 0);
	assert_int_equal(sl_udp_recv(n.a, 5000, got, sizeof(got), NULL), -ENOENT);
	/* And a queue left at close is freed by sl_stack_close. */
	assert_int_equal(sl_udp_listen(n.a, 5001, NULL, NULL), 0);
	assert_int_equal(write_from(n.b, 6000, IP_A, 5001, buf, sizeof(buf), false), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(stat(n.a, SL_STAT_udp_rx), 6);
	assert_int_equal(stat(n.a, SL_STAT_udp_rcvbuf_full), 8);
	pn_down(&n);
}

/* "Bounded memory": empty datagrams cost memory too (a queue entry each), so a flood of them
 * must meet the same udp_rcvbuf bound as datagrams with data. */
static void test_rcvbuf_bounds_empty_datagrams(void **state)
{
	struct net n;
	net_up_cfg(&n, NULL, NULL, small_rcvbuf, NULL);
	assert_int_equal(sl_udp_listen(n.a, 5000, NULL, NULL), 0);
	/* One first, so ARP is resolved and nothing waits in its (bounded) pending queue. */
	assert_int_equal(write_from(n.b, 6000, IP_A, 5000, "", 0, false), 0);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(stat(n.a, SL_STAT_udp_rx), 1);
	const unsigned count = 2000;
	for (unsigned i = 1; i < count; i++) {
		assert_int_equal(write_from(n.b, 6000, IP_A, 5000, "", 0, false), 0);
		if (i % 50 == 49)
			pn_run_for(&n, 1 * MS);
	}
	pn_run_for(&n, 10 * MS);
	/* Every datagram arrived and was either queued or counted as refused. */
	assert_int_equal(stat(n.a, SL_STAT_udp_rx) + stat(n.a, SL_STAT_udp_rcvbuf_full), count);
	unsigned queued = 0;
	uint8_t got[8];
	while (sl_udp_recv(n.a, 5000, got, sizeof(got), NULL) == 0 && queued <= count)
		queued++;
	uint64_t refused = stat(n.a, SL_STAT_udp_rcvbuf_full);
	pn_down(&n);
	/* 2000 entries in a queue bounded at 1000 bytes would mean the bound does not hold. */
	if (queued == count)
		print_message("all %u empty datagrams were queued under udp_rcvbuf = 1000\n",
			      count);
	assert_true(refused > 0);
	assert_true(queued < count);
}

static void few_sockets(struct sl_stack_config *c)
{
	c->udp_max_sockets = 4;
}

static void test_listen_api_errors(void **state)
{
	struct net n;
	struct rec *r = calloc(4, sizeof(*r));
	assert_non_null(r);
	net_up_cfg(&n, NULL, NULL, NULL, few_sockets);
	assert_int_equal(sl_udp_listen(n.b, 0, NULL, NULL), -EINVAL);
	assert_int_equal(sl_udp_listen(n.b, -1, NULL, NULL), -EINVAL);
	assert_int_equal(sl_udp_listen(n.b, 65536, NULL, NULL), -EINVAL);
	assert_int_equal(sl_udp_listen(n.b, 65535, on_rec, &r[3]), 0);
	assert_int_equal(sl_udp_listen(n.b, 65535, NULL, NULL), -EADDRINUSE);
	assert_int_equal(sl_udp_unlisten(n.b, 4242), -ENOENT);
	assert_int_equal(sl_udp_unlisten(n.b, 0), -EINVAL);
	assert_int_equal(sl_udp_unlisten(n.b, 65536), -EINVAL);
	assert_int_equal(sl_udp_on_error(n.b, 4242, on_err, NULL), -ENOENT);
	uint8_t tmp[16];
	assert_int_equal(sl_udp_recv(n.b, 4242, tmp, sizeof(tmp), NULL), -ENOENT);
	/* A callback listener has no queue: recv finds nothing there. */
	assert_int_equal(sl_udp_recv(n.b, 65535, tmp, sizeof(tmp), NULL), -EAGAIN);

	/* Bounded by udp_max_sockets. */
	assert_int_equal(sl_udp_listen(n.b, 1, on_rec, &r[0]), 0);
	assert_int_equal(sl_udp_listen(n.b, 2, on_rec, &r[1]), 0);
	assert_int_equal(sl_udp_listen(n.b, 3, on_rec, &r[2]), 0);
	assert_int_equal(sl_udp_listen(n.b, 4, NULL, NULL), -ENOSPC);

	/* Unlisten in the middle, then every remaining port still reaches its own callback. */
	assert_int_equal(sl_udp_unlisten(n.b, 1), 0);
	assert_int_equal(sl_udp_unlisten(n.b, 1), -ENOENT);
	assert_int_equal(sl_udp_listen(n.b, 4, on_rec, &r[0]), 0);
	for (int p = 2; p <= 4; p++)
		assert_int_equal(write_from(n.a, 100 + p, IP_B, p, "p", 1, false), 0);
	assert_int_equal(write_from(n.a, 165, IP_B, 65535, "q", 1, false), 0);
	assert_int_equal(write_from(n.a, 101, IP_B, 1, "z", 1, false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(r[1].count, 1);
	assert_int_equal(r[1].m.dst_port, 2);
	assert_int_equal(r[2].count, 1);
	assert_int_equal(r[2].m.dst_port, 3);
	assert_int_equal(r[0].count, 1);
	assert_int_equal(r[0].m.dst_port, 4);
	assert_int_equal(r[3].count, 1);
	assert_int_equal(r[3].m.dst_port, 65535);
	assert_int_equal(stat(n.b, SL_STAT_udp_no_port), 1); /* port 1, gone */

	/* Write argument checks. */
	sl_ip dst = sl_ip_v4(IP_B), other = sl_ip_v4(0x0a090063);
	assert_int_equal(sl_udp_write(n.a, NULL, &dst, 0, "x", 1), -EINVAL);
	assert_int_equal(sl_udp_write(n.a, NULL, &dst, 65536, "x", 1), -EINVAL);
	struct sl_udp_write_opts bad_src = {.src = &other};
	assert_int_equal(sl_udp_write(n.a, &bad_src, &dst, 9, "x", 1), -EADDRNOTAVAIL);
	sl_ip offlink = sl_ip_v4(0x08080808);
	assert_int_equal(sl_udp_write(n.a, NULL, &offlink, 9, "x", 1), -ENETUNREACH);
	free(r);
	pn_down(&n);
}

/* --- frames crafted on the peer end, for checksum and length cases ------------------------- */

enum csum_mode { CSUM_GOOD, CSUM_BAD, CSUM_ZERO };

/* An Ethernet + IPv4 + UDP frame from B's end to A: ulen is the UDP length field (normally
 * 8 + len), ip_payload the bytes IP carries. */
static size_t craft_udp(struct net *n, uint8_t *fr, uint32_t dst, uint16_t sport, uint16_t dport,
			const uint8_t *data, size_t len, enum csum_mode cm, uint16_t ulen,
			size_t ip_payload)
{
	memset(fr, 0, 14 + 20 + 8 + len);
	memcpy(fr, n->da->mac, 6);
	memcpy(fr + 6, n->db->mac, 6);
	put16(fr + 12, 0x0800);
	uint8_t *ip = fr + 14, *u = ip + 20;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + ip_payload));
	put16(ip + 4, 0x4242);
	ip[8] = 64;
	ip[9] = 17;
	put32(ip + 12, IP_B);
	put32(ip + 16, dst);
	put16(ip + 10, (uint16_t)~csum16(ip, 20, 0));
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, ulen);
	memcpy(u + 8, data, len);
	uint8_t ph[12];
	put32(ph, IP_B);
	put32(ph + 4, dst);
	ph[8] = 0, ph[9] = 17;
	put16(ph + 10, (uint16_t)(8 + len));
	uint16_t c = (uint16_t)~csum16(u, 8 + len, csum16(ph, 12, 0));
	if (c == 0)
		c = 0xffff;
	if (cm == CSUM_BAD)
		c ^= 0x0100;
	if (cm == CSUM_ZERO)
		c = 0;
	put16(u + 6, c);
	return 14 + 20 + ip_payload;
}

static void inject(struct net *n, const uint8_t *fr, size_t len)
{
	struct sl_frame f;
	assert_int_equal(n->db->ops->alloc(n->db, &f), 0);
	memcpy(f.data, fr, len);
	f.len = (uint32_t)len;
	assert_int_equal(n->db->ops->tx(n->db, &f), 0);
	n->db->ops->flush(n->db, n->now);
	pn_run_for(n, 2 * MS);
}

static void test_checksums_and_lengths(void **state)
{
	struct net n;
	static struct rec r;
	memset(&r, 0, sizeof(r));
	net_up(&n);
	assert_int_equal(sl_udp_listen(n.a, 5000, on_rec, &r), 0);
	uint8_t fr[256], data[33];
	fill(data, 5, sizeof(data));
	/* First a correct frame, so the crafting itself is known good. */
	size_t len = craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_GOOD,
			       8 + sizeof(data), 8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(r.count, 1);
	assert_memory_equal(r.data, data, sizeof(data));

	/* One bit wrong in the checksum: dropped and counted, not delivered. */
	len = craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_BAD, 8 + sizeof(data),
			8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(r.count, 1);
	assert_int_equal(stat(n.a, SL_STAT_udp_bad_csum), 1);
	/* One payload bit flipped under a checksum that was right for the original bytes. */
	len = craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_GOOD, 8 + sizeof(data),
			8 + sizeof(data));
	fr[14 + 20 + 8 + 17] ^= 0x20;
	inject(&n, fr, len);
	assert_int_equal(r.count, 1);
	assert_int_equal(stat(n.a, SL_STAT_udp_bad_csum), 2);
	/* A bad checksum to a closed port is a bad checksum, not a port unreachable. */
	len = craft_udp(&n, fr, IP_A, 6000, 5999, data, sizeof(data), CSUM_BAD, 8 + sizeof(data),
			8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(stat(n.a, SL_STAT_udp_bad_csum), 3);
	assert_int_equal(stat(n.a, SL_STAT_udp_no_port), 0);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_sent), 0);

	/* RFC 768: a zero checksum means "not computed" and is accepted. */
	len = craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_ZERO, 8 + sizeof(data),
			8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(r.count, 2);
	assert_memory_equal(r.data, data, sizeof(data));
	assert_int_equal(stat(n.a, SL_STAT_udp_bad_csum), 3);

	/* Lengths: UDP length beyond what IP carried; below the header; IP carrying < 8 bytes. */
	len = craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_ZERO,
			8 + sizeof(data) + 1, 8 + sizeof(data));
	inject(&n, fr, len);
	len =
	    craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_ZERO, 7, 8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(stat(n.a, SL_STAT_udp_bad_len), 2);
	len = craft_udp(&n, fr, IP_A, 6000, 5000, data, 0, CSUM_ZERO, 8, 6);
	inject(&n, fr, len);
	assert_int_equal(stat(n.a, SL_STAT_udp_short), 1);
	/* IP carrying more than the UDP length says (trailing bytes): the datagram is the UDP
	 * length, checksummed over it. */
	uint8_t pad[sizeof(data) + 4];
	memcpy(pad, data, sizeof(data));
	memset(pad + sizeof(data), 0xee, 4);
	len = craft_udp(&n, fr, IP_A, 6000, 5000, data, sizeof(data), CSUM_GOOD, 8 + sizeof(data),
			8 + sizeof(data));
	memset(fr + len, 0xee, 4);
	uint8_t *ip = fr + 14;
	put16(ip + 2, (uint16_t)(20 + 8 + sizeof(data) + 4));
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~csum16(ip, 20, 0));
	inject(&n, fr, len + 4);
	assert_int_equal(r.count, 3);
	assert_int_equal(r.len, sizeof(data));
	assert_memory_equal(r.data, data, sizeof(data));
	assert_int_equal(r.count, stat(n.a, SL_STAT_udp_rx));

	/* To the subnet broadcast address on a closed port: counted, never answered (RFC 1122
	 * §4.1.3.1 / §3.2.2). */
	len = craft_udp(&n, fr, 0x0a0900ff, 6000, 5999, data, sizeof(data), CSUM_GOOD,
			8 + sizeof(data), 8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(stat(n.a, SL_STAT_udp_no_port), 1);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_sent), 0);
	/* To a unicast address on a closed port: answered with port unreachable. */
	len = craft_udp(&n, fr, IP_A, 6000, 5999, data, sizeof(data), CSUM_GOOD, 8 + sizeof(data),
			8 + sizeof(data));
	inject(&n, fr, len);
	assert_int_equal(stat(n.a, SL_STAT_udp_no_port), 2);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_sent), 1);
	pn_run_for(&n, 5 * MS);
	assert_int_equal(stat(n.b, SL_STAT_icmp_errors_rx), 1);
	pn_down(&n);
}

/* An ICMP error from B's end quoting a datagram A sent from src -> dst:sport->dport. */
static size_t craft_icmp_error(struct net *n, uint8_t *fr, uint8_t type, uint8_t code,
			       uint32_t qsrc, uint16_t sport, uint16_t dport, size_t quote_l4)
{
	uint8_t q[28];
	memset(q, 0, sizeof(q));
	q[0] = 0x45;
	put16(q + 2, 20 + 8 + 100);
	q[8] = 64;
	q[9] = 17;
	put32(q + 12, qsrc);
	put32(q + 16, IP_B);
	put16(q + 10, (uint16_t)~csum16(q, 20, 0));
	put16(q + 20, sport);
	put16(q + 22, dport);
	put16(q + 24, 108);
	size_t qlen = 20 + quote_l4;
	memset(fr, 0, 14 + 20 + 8 + qlen);
	memcpy(fr, n->da->mac, 6);
	memcpy(fr + 6, n->db->mac, 6);
	put16(fr + 12, 0x0800);
	uint8_t *ip = fr + 14, *m = ip + 20;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + qlen));
	ip[8] = 64;
	ip[9] = 1;
	put32(ip + 12, IP_B);
	put32(ip + 16, IP_A);
	put16(ip + 10, (uint16_t)~csum16(ip, 20, 0));
	m[0] = type;
	m[1] = code;
	memcpy(m + 8, q, qlen);
	put16(m + 2, (uint16_t)~csum16(m, 8 + qlen, 0));
	return 14 + 20 + 8 + qlen;
}

/* ICMP errors reach the error callback of the port the quoted datagram came from, as the
 * errno udp.h promises; errors that quote someone else's datagram, or too little of it, do
 * not (RFC 1122 §4.1.3.3). */
static void test_icmp_errors_mapped_to_errno(void **state)
{
	struct net n;
	struct errlog e = {0};
	net_up(&n);
	assert_int_equal(sl_udp_listen(n.a, 40003, NULL, NULL), 0);
	assert_int_equal(sl_udp_on_error(n.a, 40003, on_err, &e), 0);
	static const struct {
		uint8_t type, code;
		int err;
	} cases[] = {
	    {3, 3, -ECONNREFUSED},  /* port unreachable */
	    {3, 2, -ECONNREFUSED},  /* protocol unreachable */
	    {3, 0, -ENETUNREACH},   /* net unreachable */
	    {3, 1, -EHOSTUNREACH},  /* host unreachable */
	    {3, 4, -EMSGSIZE},	    /* fragmentation needed */
	    {11, 0, -EHOSTUNREACH}, /* time exceeded in transit */
	};
	uint8_t fr[128];
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len =
		    craft_icmp_error(&n, fr, cases[i].type, cases[i].code, IP_A, 40003, 53, 8);
		inject(&n, fr, len);
		assert_int_equal(e.calls, i + 1);
		assert_int_equal(e.err, cases[i].err);
		assert_int_equal(e.m.src_port, 40003);
		assert_int_equal(e.m.dst_port, 53);
		assert_int_equal(ip4_of(&e.m.dst), IP_B);
	}
	unsigned calls = e.calls;
	uint64_t unclaimed = stat(n.a, SL_STAT_icmp_errors_unclaimed);
	/* Quoting a datagram from an address that is not A's. */
	size_t len = craft_icmp_error(&n, fr, 3, 3, 0x0a090063, 40003, 53, 8);
	inject(&n, fr, len);
	/* Quoting fewer than the 8 bytes of the UDP header. */
	len = craft_icmp_error(&n, fr, 3, 3, IP_A, 40003, 53, 4);
	inject(&n, fr, len);
	/* Quoting a port nobody listens on. */
	len = craft_icmp_error(&n, fr, 3, 3, IP_A, 40004, 53, 8);
	inject(&n, fr, len);
	assert_int_equal(e.calls, calls);
	assert_int_equal(stat(n.a, SL_STAT_icmp_errors_unclaimed), unclaimed + 3);
	pn_down(&n);
}

static void test_dont_fragment(void **state)
{
	struct net n;
	static struct rec r;
	static uint8_t buf[8000];
	memset(&r, 0, sizeof(r));
	net_up(&n);
	assert_int_equal(sl_udp_listen(n.b, 9, on_rec, &r), 0);
	fill(buf, 3, sizeof(buf));
	assert_int_equal(write_from(n.a, 1000, IP_B, 9, buf, 1473, true), -EMSGSIZE);
	assert_int_equal(write_from(n.a, 1000, IP_B, 9, buf, 8000, true), -EMSGSIZE);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_too_big), 2);
	assert_int_equal(stat(n.a, SL_STAT_udp_tx), 0);
	assert_int_equal(write_from(n.a, 1000, IP_B, 9, buf, 1472, true), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.len, 1472);
	assert_memory_equal(r.data, buf, 1472);
	assert_int_equal(stat(n.a, SL_STAT_ipv4_frags_sent), 0);
	assert_int_equal(stat(n.b, SL_STAT_ipv4_frags_rx), 0);
	pn_down(&n);
}

/* With a smaller configured MTU, datagrams are cut to it. */
static void mtu_576(struct sl_stack_config *c)
{
	c->mtu = 576;
}

static void test_configured_mtu(void **state)
{
	struct net n;
	static struct rec r;
	static uint8_t buf[3000];
	memset(&r, 0, sizeof(r));
	net_up_cfg(&n, NULL, NULL, mtu_576, NULL);
	assert_int_equal(sl_udp_listen(n.b, 9, on_rec, &r), 0);
	fill(buf, 9, sizeof(buf));
	assert_int_equal(write_from(n.a, 1000, IP_B, 9, buf, 549, true), -EMSGSIZE);
	assert_int_equal(write_from(n.a, 1000, IP_B, 9, buf, 548, true), 0);
	/* 3008 transport bytes in (576 - 20) & ~7 = 552-byte pieces: 6 fragments. */
	assert_int_equal(write_from(n.a, 1000, IP_B, 9, buf, sizeof(buf), false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.len, sizeof(buf));
	assert_memory_equal(r.data, buf, sizeof(buf));
	assert_int_equal(stat(n.a, SL_STAT_ipv4_frags_sent), 6);
	pn_down(&n);
}

/* Many datagrams both ways under loss, duplication, reordering, corruption and jitter. */
static void lossy(uint64_t seed)
{
	struct sl_fault f = {.drop_ppm = 30000,
			     .dup_ppm = 20000,
			     .reorder_ppm = 50000,
			     .corrupt_ppm = 10000,
			     .delay_ns = 1 * MS,
			     .jitter_ns = 3 * MS,
			     .seed = seed};
	struct sl_fault g = f;
	g.seed = seed ^ 0x5a5a5a5a;
	struct net n;
	struct rec *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	net_up(&n);
	int fails = 0;
	assert_int_equal(sl_udp_listen(n.b, 7, on_echo, &fails), 0);
	assert_int_equal(sl_udp_listen(n.a, 40000, on_rec, r), 0);
	static uint8_t buf[8000];
	/* Resolve ARP on a clean link first: a lost ARP request would hold datagrams in the
	 * bounded pending queue for a retry, a loss the links did not cause. */
	fill(buf, 4000, 64);
	assert_int_equal(write_from(n.a, 40000, IP_B, 7, buf, 64, false), 0);
	pn_run_for(&n, 10 * MS);
	assert_int_equal(r->count, 1);
	sl_dev_pipe_set_fault(n.da, &f);
	sl_dev_pipe_set_fault(n.db, &g);
	const uint32_t count = 600;
	for (uint32_t s = 0; s < count; s++) {
		/* Every 20th datagram is 8000 bytes (6 fragments), the rest 8..1472. */
		size_t len = s % 20 == 0 ? 8000 : 8 + (s * 37) % 1465;
		fill(buf, s, len);
		assert_int_equal(write_from(n.a, 40000, IP_B, 7, buf, len, false), 0);
		pn_run_for(&n, 3 * MS);
	}
	pn_run_for(&n, 5000 * MS); /* ARP retries and the tail; less than reasm_timeout */
	unsigned distinct = 0;
	for (uint32_t s = 0; s < count; s++)
		distinct += r->seen[s];
	struct sl_pipe_stats pa, pb;
	sl_dev_pipe_stats(n.da, &pa);
	sl_dev_pipe_stats(n.db, &pb);
	uint64_t damaged = pa.dropped + pb.dropped + pa.corrupted + pb.corrupted;
	bool ok = r->corrupt == 0 && count - distinct <= damaged && distinct >= count * 7 / 10 &&
		  pa.overflow == 0 && pb.overflow == 0 && stat(n.b, SL_STAT_ipv4_reasm_ok) > 0 &&
		  pa.corrupted + pb.corrupted > 0 && stat(n.a, SL_STAT_udp_rx) == r->count &&
		  fails == 0;
	if (!ok)
		print_message("failing seed: %llu (replay with SLUICE_SEED=%llu): received %u "
			      "distinct of %u, %u corrupt, %u dups, pipe dropped %llu+%llu "
			      "corrupted %llu+%llu overflow %llu+%llu, echo write failures %d\n",
			      (unsigned long long)seed, (unsigned long long)seed, distinct,
			      (unsigned)count, r->corrupt, r->dups, (unsigned long long)pa.dropped,
			      (unsigned long long)pb.dropped, (unsigned long long)pa.corrupted,
			      (unsigned long long)pb.corrupted, (unsigned long long)pa.overflow,
			      (unsigned long long)pb.overflow, fails);
	/* Never a damaged payload: the checksums catch every flipped bit. */
	assert_int_equal(r->corrupt, 0);
	/* Loss only as the links caused it: each lost round trip needs a dropped or damaged
	 * frame (a damaged one is dropped by a checksum). */
	assert_true(count - distinct <= damaged);
	assert_true(distinct >= count * 7 / 10);
	assert_int_equal(pa.overflow + pb.overflow, 0);
	assert_true(stat(n.b, SL_STAT_ipv4_reasm_ok) > 0);
	assert_true(pa.corrupted + pb.corrupted > 0);
	assert_int_equal(fails, 0);
	/* Frames the links delivered all reached the stacks (none dropped for want of a frame). */
	assert_int_equal(stat(n.b, SL_STAT_rx_frames), pa.delivered);
	assert_int_equal(stat(n.a, SL_STAT_rx_frames), pb.delivered);
	assert_int_equal(stat(n.a, SL_STAT_dev_rx_dropped) + stat(n.b, SL_STAT_dev_rx_dropped), 0);
	free(r);
	pn_down(&n);
}

static void test_many_datagrams_lossy(void **state)
{
	uint64_t base = tu_seed(7);
	for (uint64_t s = base; s < base + 4; s++)
		lossy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_echo_exact_payload),
	    cmocka_unit_test(test_ephemeral_source_port),
	    cmocka_unit_test(test_fragmented_echo_8000),
	    cmocka_unit_test(test_largest_datagram),
	    cmocka_unit_test(test_closed_port_error_callback),
	    cmocka_unit_test(test_icmp_error_rate_randomised),
	    cmocka_unit_test(test_rcvbuf_bounded_and_ordered),
	    cmocka_unit_test(test_rcvbuf_bounds_empty_datagrams),
	    cmocka_unit_test(test_listen_api_errors),
	    cmocka_unit_test(test_checksums_and_lengths),
	    cmocka_unit_test(test_icmp_errors_mapped_to_errno),
	    cmocka_unit_test(test_dont_fragment),
	    cmocka_unit_test(test_configured_mtu),
	    cmocka_unit_test(test_many_datagrams_lossy),
	};
	return cmocka_run_group_tests_name("sim_udp", tests, NULL, NULL);
}
