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
#include <errno.h>
#include "unit/testutil.h"
#include "sluice/sluice.h"
#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define US 1000ULL
#define MS 1000000ULL
#define SEC 1000000000ULL
#define ST_IP 0x0a000001u    /* 10.0.0.1: the stack */
#define PEER_IP 0x0a000002u  /* 10.0.0.2: the test */
#define PEER_ISS 0xffffff00u /* close to the wrap: data crosses it */

#define F_SYN SL_TCP_SYN
#define F_ACK SL_TCP_ACK
#define F_FIN SL_TCP_FIN
#define F_RST SL_TCP_RST
#define F_PSH SL_TCP_PSH

/* --- the peer ----------------------------------------------------------------------------- */

/* A segment the stack sent, as the peer saw it. */
struct seg {
	uint64_t t;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	struct sl_tcp_opts o;
	uint32_t dlen;
	uint8_t data[1500];
};

#define QMAX 4096

/* The peer's view of one connection. */
struct pc {
	uint16_t pport, sport; /* peer's port, stack's port */
	uint32_t iss, snd_nxt; /* peer's sequence space */
	uint32_t irs, rcv_nxt; /* stack's sequence space, as far as the peer has it */
	uint16_t win;	       /* window field the peer sends */
	struct sl_tcp_flow *f; /* the stack's flow */
	uint8_t *rx;	       /* bytes received in order (absorb) */
	size_t rxlen, rxcap;
};

struct tp {
	bool up;
	struct sl_dev *sd, *pd;
	struct sl_stack *st;
	uint64_t now;
	struct seg *q;
	unsigned qh, qt;
	unsigned arp_requests;
	unsigned other_frames;
	uint16_t ip_id;
	bool peer_sent;
	/* Auto-responder: called for every TCP segment collected. */
	void (*responder)(struct seg *s);
	struct pc *rc;
};
static struct tp T;

/* What the application saw. */
#define MAXF 1100
struct app {
	struct sl_tcp_flow *acc[MAXF];
	unsigned nacc;
	unsigned n_connected;
	int connected_err;
	struct {
		struct sl_tcp_flow *f;
		int reason;
		uint64_t t;
	} closed[MAXF];
	unsigned nclosed;
	unsigned n_readable, n_writable;
};
static struct app A;
static const struct sl_keepalive *listen_ka; /* keepalive for listen_on's listeners */

static void app_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	A.n_connected++;
	A.connected_err = err;
}
static void app_readable(void *arg, struct sl_tcp_flow *f)
{
	A.n_readable++;
}
static void app_writable(void *arg, struct sl_tcp_flow *f)
{
	A.n_writable++;
}
static void app_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	if (A.nclosed < MAXF) {
		A.closed[A.nclosed].f = f;
		A.closed[A.nclosed].reason = reason;
		A.closed[A.nclosed].t = T.now;
	}
	A.nclosed++;
}
static const struct sl_tcp_callbacks app_cbs = {
    .on_connected = app_connected,
    .on_readable = app_readable,
    .on_writable = app_writable,
    .on_closed = app_closed,
};
static void app_accept(void *arg, struct sl_tcp_flow *f)
{
	if (A.nacc < MAXF)
		A.acc[A.nacc] = f;
	A.nacc++;
	sl_tcp_set_callbacks(f, &app_cbs, &A);
}

/* The reason the flow was closed with, or 1 when it was not. */
static int closed_reason(struct sl_tcp_flow *f)
{
	for (unsigned i = 0; i < A.nclosed && i < MAXF; i++)
		if (A.closed[i].f == f)
			return A.closed[i].reason;
	return 1;
}

#define STAT(name) (sl_stack_stats(T.st)->c[SL_STAT_##name])

static struct sl_stack_config test_cfg(void)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = sl_ip_v4(ST_IP);
	c.addrs[0].prefix_len = 24;
	c.n_addrs = 1;
	c.seed = tu_seed(7);
	/* Timing tests run for simulated minutes: keep the peer's ARP entry (the peer answers
	 * requests anyway). */
	c.arp_reachable_ns = 100000ULL * SEC;
	return c;
}

static void collect(void);

static void tp_run_to(uint64_t end)
{
	unsigned same = 0;
	for (;;) {
		T.peer_sent = false;
		sl_stack_poll(T.st, T.now);
		collect();
		/* Poll again at the same instant: the first poll's deadline misses timers armed
		 * by its own output flush (tests/unit/test_tcp_states.c:
		 * test_established_poll_deadline_includes_rto). */
		uint64_t next = sl_stack_poll(T.st, T.now);
		collect();
		if (T.peer_sent || next <= T.now) {
			if (++same < 10000)
				continue; /* more work at this instant */
			next = T.now + 1 * US;
		}
		same = 0;
		if (T.now >= end)
			break;
		T.now = next < end ? next : end;
	}
}

static void tp_run(uint64_t ns)
{
	tp_run_to(T.now + ns);
}

static void tp_poll(void)
{
	tp_run_to(T.now);
}

static void peer_arp(uint16_t op, const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa)
{
	struct sl_frame f;
	assert_int_equal(T.pd->ops->alloc(T.pd, &f), 0);
	sl_eth_emit(f.data, eth_dst, T.pd->mac, SL_ETH_P_ARP);
	sl_arp_emit(f.data + SL_ETH_HLEN, op, T.pd->mac, PEER_IP, tha, tpa);
	f.len = SL_ETH_HLEN + SL_ARP_LEN;
	assert_int_equal(T.pd->ops->tx(T.pd, &f), 0);
	T.pd->ops->flush(T.pd, T.now);
	T.peer_sent = true;
}

static void collect(void)
{
	struct sl_frame fr[64];
	int n;
	while ((n = T.pd->ops->rx(T.pd, fr, 64, T.now)) > 0) {
		for (int i = 0; i < n; i++) {
			const uint8_t *p = fr[i].data;
			size_t len = fr[i].len;
			assert_int_equal(sl_eth_check(p, len), 0);
			uint16_t type = sl_eth_type(p);
			if (type == SL_ETH_P_ARP) {
				const uint8_t *a = p + SL_ETH_HLEN;
				assert_int_equal(sl_arp_check(a, len - SL_ETH_HLEN), 0);
				if (sl_arp_op(a) == SL_ARP_REQUEST && sl_arp_tpa(a) == PEER_IP) {
					T.arp_requests++;
					uint8_t sha[6];
					memcpy(sha, sl_arp_sha(a), 6);
					T.pd->ops->release(T.pd, &fr[i]);
					peer_arp(SL_ARP_REPLY, sha, sha, ST_IP);
					continue;
				}
			} else if (type == SL_ETH_P_IPV4) {
				const uint8_t *ip = p + SL_ETH_HLEN;
				assert_int_equal(sl_ipv4_check(ip, len - SL_ETH_HLEN), 0);
				assert_memory_equal(sl_eth_dst(p), T.pd->mac, 6);
				assert_int_equal(sl_ipv4_src(ip), ST_IP);
				assert_int_equal(sl_ipv4_dst(ip), PEER_IP);
				if (sl_ipv4_proto(ip) == SL_IPPROTO_TCP) {
					const uint8_t *th = ip + sl_ipv4_hlen(ip);
					size_t tl = sl_ipv4_tot_len(ip) - sl_ipv4_hlen(ip);
					assert_true(T.qt < QMAX);
					struct seg *s = &T.q[T.qt++];
					/* Every segment the stack sends has a right checksum. */
					assert_int_equal(
					    sl_tcp_check(th, tl, ST_IP, PEER_IP, &s->o), 0);
					s->t = T.now;
					s->sport = sl_tcp_sport(th);
					s->dport = sl_tcp_dport(th);
					s->seq = sl_tcp_seq(th);
					s->ack = sl_tcp_ack(th);
					s->flags = sl_tcp_flags(th);
					s->win = sl_tcp_win(th);
					s->dlen = (uint32_t)(tl - sl_tcp_hlen(th));
					assert_true(s->dlen <= sizeof s->data);
					memcpy(s->data, th + sl_tcp_hlen(th), s->dlen);
					T.pd->ops->release(T.pd, &fr[i]);
					if (T.responder)
						T.responder(s);
					continue;
				}
			}
			T.other_frames++;
			T.pd->ops->release(T.pd, &fr[i]);
		}
	}
}

static void tp_up(const struct sl_stack_config *cfg)
{
	memset(&T, 0, sizeof T);
	memset(&A, 0, sizeof A);
	listen_ka = NULL;
	T.q = calloc(QMAX, sizeof *T.q);
	assert_non_null(T.q);
	struct sl_stack_config c = cfg ? *cfg : test_cfg();
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &T.sd, &T.pd), 0);
	T.now = 1000 * MS;
	assert_int_equal(sl_stack_open(T.sd, &c, T.now, &T.st), 0);
	T.up = true;
	/* The stack learns the peer's MAC from the peer's request for the stack's address. */
	static const uint8_t zero[6];
	peer_arp(SL_ARP_REQUEST, sl_mac_broadcast, zero, ST_IP);
	tp_poll();
	T.qh = T.qt = 0;
}

static void tp_free(void)
{
	if (!T.up)
		return;
	sl_stack_close(T.st);
	sl_dev_close(T.sd);
	sl_dev_close(T.pd);
	free(T.q);
	T.up = false;
}

/* Shut down and check that every frame went back to its pool. */
static void tp_down(void)
{
	struct sl_dev_counts cs, cp;
	sl_stack_close(T.st);
	sl_dev_close_counted(T.sd, &cs);
	sl_dev_close_counted(T.pd, &cp);
	free(T.q);
	T.up = false;
	assert_int_equal(cs.owner[SL_OWN_FREE], cs.total);
	assert_int_equal(cp.owner[SL_OWN_FREE], cp.total);
	assert_int_equal(cs.owner_errors + cp.owner_errors, 0);
}

static int teardown(void **state)
{
	tp_free();
	return 0;
}

/* A segment from the peer. */
struct pseg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t mss; /* 0: no option */
	bool has_ws;
	uint8_t ws;
	const void *data;
	uint32_t dlen;
};

static void peer_tx(const struct pseg *s)
{
	struct sl_frame f;
	assert_int_equal(T.pd->ops->alloc(T.pd, &f), 0);
	uint8_t *th = f.data + SL_ETH_HLEN + SL_IPV4_HLEN;
	struct sl_tcp_hdr h = {.sport = s->sport,
			       .dport = s->dport,
			       .seq = s->seq,
			       .ack = s->ack,
			       .flags = s->flags,
			       .win = s->win,
			       .mss = s->mss,
			       .wscale = s->has_ws ? (int8_t)s->ws : -1};
	unsigned hlen = sl_tcp_emit(th, &h);
	if (s->dlen)
		memcpy(th + hlen, s->data, s->dlen);
	sl_tcp_set_csum(th, hlen + s->dlen, PEER_IP, ST_IP);
	struct sl_ipv4_hdr ih = {.tot_len = (uint16_t)(SL_IPV4_HLEN + hlen + s->dlen),
				 .id = ++T.ip_id,
				 .frag = SL_IPV4_DF,
				 .ttl = 64,
				 .proto = SL_IPPROTO_TCP,
				 .src = PEER_IP,
				 .dst = ST_IP};
	sl_ipv4_emit(f.data + SL_ETH_HLEN, &ih);
	sl_eth_emit(f.data, T.sd->mac, T.pd->mac, SL_ETH_P_IPV4);
	f.len = SL_ETH_HLEN + SL_IPV4_HLEN + hlen + s->dlen;
	assert_int_equal(T.pd->ops->tx(T.pd, &f), 0);
	T.pd->ops->flush(T.pd, T.now);
	T.peer_sent = true;
}

static struct seg *tp_pop(void)
{
	return T.qh < T.qt ? &T.q[T.qh++] : NULL;
}

static void tp_clear(void)
{
	T.qh = T.qt = 0;
}

static void print_seg(const char *what, const struct seg *s)
{
	print_message("%s: t=%.3f ms %u->%u seq=%u ack=%u flags=%02x win=%u len=%u\n", what,
		      (double)s->t / 1e6, s->sport, s->dport, s->seq, s->ack, s->flags, s->win,
		      s->dlen);
}

/* The next segment, which must have exactly these flags (PSH ignored). */
static struct seg *expect(uint8_t flags)
{
	struct seg *s = tp_pop();
	if (!s) {
		print_message("expected a segment with flags %02x, got none\n", flags);
		fail();
	}
	if ((s->flags & ~F_PSH) != flags) {
		print_seg("unexpected", s);
		print_message("expected flags %02x\n", flags);
		fail();
	}
	return s;
}

static void expect_none(void)
{
	struct seg *s = tp_pop();
	if (s) {
		print_seg("expected nothing, got", s);
		fail();
	}
}

static const char *state_of(struct sl_tcp_flow *f)
{
	struct sl_tcp_info i;
	sl_tcp_info(f, &i);
	return i.state;
}
#define assert_state(f, s) assert_string_equal(state_of(f), s)

/* --- the peer's side of a connection ------------------------------------------------------- */

/* Send a segment on c with an explicit sequence number (c's ports, ack, window). */
static void pc_tx_seq(struct pc *c, uint8_t flags, uint32_t seq, const void *d, uint32_t n)
{
	struct pseg s = {.sport = c->pport,
			 .dport = c->sport,
			 .seq = seq,
			 .ack = (flags & F_ACK) ? c->rcv_nxt : 0,
			 .flags = flags,
			 .win = c->win,
			 .data = d,
			 .dlen = n};
	peer_tx(&s);
}

/* Send the next segment of c's stream (no poll). */
static void pc_tx(struct pc *c, uint8_t flags, const void *d, uint32_t n)
{
	pc_tx_seq(c, flags, c->snd_nxt, d, n);
	c->snd_nxt += n + !!(flags & F_SYN) + !!(flags & F_FIN);
}

/* Send the next segment of c's stream and let the stack process it. */
static void pc_send(struct pc *c, uint8_t flags, const void *d, uint32_t n)
{
	pc_tx(c, flags, d, n);
	tp_poll();
}

static void pc_init(struct pc *c, uint16_t sport, uint16_t pport)
{
	memset(c, 0, sizeof *c);
	c->sport = sport;
	c->pport = pport;
	c->iss = PEER_ISS;
	c->snd_nxt = c->iss;
	c->win = 65535;
}

/* Send the peer's SYN to the stack's port. */
static void pc_syn(struct pc *c, uint16_t mss, int ws)
{
	struct pseg s = {.sport = c->pport,
			 .dport = c->sport,
			 .seq = c->iss,
			 .flags = F_SYN,
			 .win = c->win,
			 .mss = mss,
			 .has_ws = ws >= 0,
			 .ws = (uint8_t)(ws >= 0 ? ws : 0)};
	peer_tx(&s);
	c->snd_nxt = c->iss + 1;
	tp_poll();
}

static void listen_on(uint16_t port)
{
	int r = sl_tcp_listen(T.st, port, listen_ka, app_accept, &A);
	assert_true(r == 0 || r == -EADDRINUSE);
}

/* SYN from the peer, the stack's SYN-ACK (checked), the peer's ACK: returns the accepted
 * flow in c->f. */
static void open_passive_opts(struct pc *c, uint16_t sport, uint16_t pport, uint16_t mss, int ws)
{
	listen_on(sport);
	uint16_t win = c->win ? c->win : 65535;
	pc_init(c, sport, pport);
	c->win = win;
	pc_syn(c, mss, ws);
	struct seg *sa = expect(F_SYN | F_ACK);
	assert_int_equal(sa->ack, c->iss + 1);
	assert_int_equal(sa->sport, sport);
	assert_int_equal(sa->dport, pport);
	c->irs = sa->seq;
	c->rcv_nxt = sa->seq + 1;
	unsigned before = A.nacc;
	pc_send(c, F_ACK, NULL, 0);
	assert_int_equal(A.nacc, before + 1);
	c->f = A.acc[before];
	assert_state(c->f, "ESTABLISHED");
}

/* ======================================================================================== */

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
	struct pseg sa = {.sport = 9000,
			  .dport = c.sport,
			  .seq = c.iss,
			  .ack = c.rcv_nxt,
			  .flags = F_SYN | F_ACK,
			  .win = 65535,
			  .mss = 1460};
	peer_tx(&sa);
	c.snd_nxt = c.iss + 1;
	tp_poll();
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

struct net {
	struct sl_dev *da, *db;
	struct sl_stack *a, *b;
	uint64_t now;
};

static void net_up(struct net *n)
{
	struct sl_stack_config ca, cb;
	memset(n, 0, sizeof *n);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &n->da, &n->db), 0);
	sl_stack_config_init(&ca);
	sl_stack_config_init(&cb);
	sl_ip_parse("10.9.0.1", &ca.addrs[0].addr);
	ca.addrs[0].prefix_len = 24;
	ca.n_addrs = 1;
	ca.seed = tu_seed(11);
	sl_ip_parse("10.9.0.2", &cb.addrs[0].addr);
	cb.addrs[0].prefix_len = 24;
	cb.n_addrs = 1;
	cb.seed = ca.seed + 1;
	n->now = 1000 * MS;
	assert_int_equal(sl_stack_open(n->da, &ca, n->now, &n->a), 0);
	assert_int_equal(sl_stack_open(n->db, &cb, n->now, &n->b), 0);
}

static void net_run(struct net *n, uint64_t ns)
{
	uint64_t end = n->now + ns;
	unsigned same = 0;
	for (;;) {
		sl_stack_poll(n->a, n->now);
		sl_stack_poll(n->b, n->now);
		/* Twice: a poll's deadline misses timers its own output flush armed. */
		uint64_t na = sl_stack_poll(n->a, n->now);
		uint64_t nb = sl_stack_poll(n->b, n->now);
		if (n->now >= end)
			break;
		/* What B just sent is not in A's answer: ask the devices too. */
		uint64_t da = n->da->ops->next_event(n->da), db = n->db->ops->next_event(n->db);
		uint64_t next = na < nb ? na : nb;
		next = da < next ? da : next;
		next = db < next ? db : next;
		if (next <= n->now) {
			if (++same < 1000)
				continue;
			next = n->now + 1000;
		}
		same = 0;
		n->now = next < end ? next : end;
	}
}

static void net_down(struct net *n)
{
	struct sl_dev_counts ca, cb;
	sl_stack_close(n->a);
	sl_stack_close(n->b);
	sl_dev_close_counted(n->da, &ca);
	sl_dev_close_counted(n->db, &cb);
	assert_int_equal(ca.owner[SL_OWN_FREE], ca.total);
	assert_int_equal(cb.owner[SL_OWN_FREE], cb.total);
	assert_int_equal(ca.owner_errors + cb.owner_errors, 0);
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
	net_up(n);
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
	net_down(&n);
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
	net_down(&n);
}

int main(void)
{
#define T_(name) cmocka_unit_test_teardown(name, teardown)
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
