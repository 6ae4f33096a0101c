/*
 * The test plays a TCP peer on the far end of an in-memory pipe, with one sluice stack on the
 * other end (tests/unit/test_tcp_states.c, tests/sim/test_tcp_keepalive.c). Header-only,
 * like testutil.h.
 *
 * The peer crafts Ethernet/IPv4/TCP frames with the wire emit helpers (peer_tx, and pc_* on
 * a connection it tracks), answers the stack's ARP requests, and parses every frame the
 * stack sends: each must carry correct IPv4 and TCP checksums; its TCP segments are queued
 * (tp_pop, expect, expect_none) stamped with the simulated time of the poll that produced
 * them. The application side of the stack's flows is recorded in A.
 *
 *	tp_up(NULL);		the stack (test_cfg()) and a peer it knows the MAC of
 *	tp_run(ns); tp_poll();	run the simulated clock
 *	tp_down();		close, and assert that every frame is back in its pool
 * with cmocka_unit_test_teardown(test, tp_teardown) to clean up after a failed test.
 */
#ifndef SL_FAKEPEER_H
#define SL_FAKEPEER_H

#include <errno.h>
#include "unit/pipenet.h"
#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
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
	uint8_t ttl; /* the IPv4 header's */
	uint8_t tos; /* likewise */
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
	/* Options (all off after pc_init, which keeps the old behaviour of every helper). */
	bool sack_ok;	 /* the peer's SYN / SYN-ACK offers SACK-permitted (RFC 2018 §2) */
	bool ts;	 /* the peer's SYN / SYN-ACK and every segment carry TSopt (RFC 7323 §3) */
	uint32_t ts_off; /* the peer's TSval = T.now / 1 ms + ts_off */
	uint8_t nsack;	 /* SACK blocks put on every segment pc_tx_seq sends */
	struct sl_tcp_sack sack[SL_TCP_SACK_MAX];
	/* Out-of-order ranges the peer holds above rcv_nxt (pc_rx_data), and the order in
	 * which their blocks were last reported (RFC 2018 §4). */
	struct sl_tcp_sack ooo[64];
	unsigned nooo;
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
	/* The last TSval the stack sent on each connection (by the stack's and the peer's
	 * port): what a peer with timestamps echoes in TSecr. */
	struct {
		uint16_t sport, dport;
		uint32_t ts_val;
	} tsv[64];
	unsigned ntsv;
	unsigned icmp_frames; /* ICMP messages the stack sent */
	uint8_t icmp_tos, icmp_type; /* the last one's IPv4 TOS byte and ICMP type */
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

static inline void app_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	A.n_connected++;
	A.connected_err = err;
}
static inline void app_readable(void *arg, struct sl_tcp_flow *f)
{
	A.n_readable++;
}
static inline void app_writable(void *arg, struct sl_tcp_flow *f)
{
	A.n_writable++;
}
static inline void app_closed(void *arg, struct sl_tcp_flow *f, int reason)
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
static inline void app_accept(void *arg, struct sl_tcp_flow *f)
{
	if (A.nacc < MAXF)
		A.acc[A.nacc] = f;
	A.nacc++;
	sl_tcp_set_callbacks(f, &app_cbs, &A);
}

/* The reason the flow was closed with, or 1 when it was not. */
static inline int closed_reason(struct sl_tcp_flow *f)
{
	for (unsigned i = 0; i < A.nclosed && i < MAXF; i++)
		if (A.closed[i].f == f)
			return A.closed[i].reason;
	return 1;
}

#define STAT(name) (sl_stack_stats(T.st)->c[SL_STAT_##name])

static inline struct sl_stack_config test_cfg(void)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = sl_ip_v4(ST_IP);
	c.addrs[0].prefix_len = 24;
	c.n_addrs = 1;
	c.seed = tu_seed(7);
	c.deterministic_secrets = true; /* the ISNs and ports of a seed replay */
	/* Timing tests run for simulated minutes: keep the peer's ARP entry (the peer answers
	 * requests anyway). */
	c.arp_reachable_ns = 100000ULL * SEC;
	return c;
}

static inline void collect(void);

static inline void tp_run_to(uint64_t end)
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

static inline void tp_run(uint64_t ns)
{
	tp_run_to(T.now + ns);
}

static inline void tp_poll(void)
{
	tp_run_to(T.now);
}

static inline void peer_arp(uint16_t op, const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa)
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

/* Remember the stack's latest TSval on s's connection. */
static inline void note_ts(const struct seg *s)
{
	for (unsigned i = 0; i < T.ntsv; i++)
		if (T.tsv[i].sport == s->sport && T.tsv[i].dport == s->dport) {
			T.tsv[i].ts_val = s->o.ts_val;
			return;
		}
	if (T.ntsv < sizeof T.tsv / sizeof T.tsv[0]) {
		T.tsv[T.ntsv].sport = s->sport;
		T.tsv[T.ntsv].dport = s->dport;
		T.tsv[T.ntsv].ts_val = s->o.ts_val;
		T.ntsv++;
	}
}

/* The last TSval the stack sent from port sport to the peer's port dport (0: none yet). */
static inline uint32_t stack_ts_val(uint16_t sport, uint16_t dport)
{
	for (unsigned i = 0; i < T.ntsv; i++)
		if (T.tsv[i].sport == sport && T.tsv[i].dport == dport)
			return T.tsv[i].ts_val;
	return 0;
}

static inline void collect(void)
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
				if (sl_ipv4_proto(ip) == SL_IPPROTO_ICMP) {
					T.icmp_frames++;
					T.icmp_tos = sl_ipv4_tos(ip);
					T.icmp_type = ip[sl_ipv4_hlen(ip)];
				}
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
					s->ttl = ip[8];
					s->tos = ip[1];
					s->dlen = (uint32_t)(tl - sl_tcp_hlen(th));
					assert_true(s->dlen <= sizeof s->data);
					memcpy(s->data, th + sl_tcp_hlen(th), s->dlen);
					if (s->o.has_ts)
						note_ts(s);
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

static inline void tp_up(const struct sl_stack_config *cfg)
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

static inline void tp_free(void)
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
static inline void tp_down(void)
{
	sl_stack_close(T.st);
	free(T.q);
	T.up = false;
	pn_close_counted(T.sd, T.pd);
}

/* cmocka teardown of every test that calls tp_up: frees what a failed test left behind. */
static inline int tp_teardown(void **state)
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
	bool sack_ok; /* SYN: SACK-permitted */
	bool ts;      /* timestamps option ts_val / ts_ecr */
	uint32_t ts_val, ts_ecr;
	uint8_t nsack; /* SACK blocks */
	struct sl_tcp_sack sack[SL_TCP_SACK_MAX];
	const void *data;
	uint32_t dlen;
};

static inline void peer_tx(const struct pseg *s)
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
			       .wscale = s->has_ws ? (int8_t)s->ws : -1,
			       .sack_ok = s->sack_ok,
			       .ts = s->ts,
			       .ts_val = s->ts_val,
			       .ts_ecr = s->ts_ecr,
			       .nsack = s->nsack};
	memcpy(h.sack, s->sack, sizeof h.sack);
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

static inline struct seg *tp_pop(void)
{
	return T.qh < T.qt ? &T.q[T.qh++] : NULL;
}

static inline void tp_clear(void)
{
	T.qh = T.qt = 0;
}

static inline void print_seg(const char *what, const struct seg *s)
{
	print_message("%s: t=%.3f ms %u->%u seq=%u ack=%u flags=%02x win=%u len=%u\n", what,
		      (double)s->t / 1e6, s->sport, s->dport, s->seq, s->ack, s->flags, s->win,
		      s->dlen);
}

/* The next segment, which must have exactly these flags (PSH ignored). */
static inline struct seg *expect(uint8_t flags)
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

static inline void expect_none(void)
{
	struct seg *s = tp_pop();
	if (s) {
		print_seg("expected nothing, got", s);
		fail();
	}
}

static inline const char *state_of(struct sl_tcp_flow *f)
{
	struct sl_tcp_info i;
	sl_tcp_info(f, &i);
	return i.state;
}
#define assert_state(f, s) assert_string_equal(state_of(f), s)

/* --- the peer's side of a connection ------------------------------------------------------- */

/* The peer's timestamp clock on c: 1 ms ticks. */
static inline uint32_t pc_ts_val(const struct pc *c)
{
	return (uint32_t)(T.now / MS) + c->ts_off;
}

/* The segment pc_tx_seq would send (c's ports, ack, window, and its TSopt / SACK blocks
 * when c has them on), for a test to adjust before peer_tx. */
static inline struct pseg pc_seg(const struct pc *c, uint8_t flags, uint32_t seq, const void *d,
				 uint32_t n)
{
	struct pseg s = {.sport = c->pport,
			 .dport = c->sport,
			 .seq = seq,
			 .ack = (flags & F_ACK) ? c->rcv_nxt : 0,
			 .flags = flags,
			 .win = c->win,
			 .data = d,
			 .dlen = n};
	if (c->ts && !(flags & F_RST)) {
		s.ts = true;
		s.ts_val = pc_ts_val(c);
		s.ts_ecr = stack_ts_val(c->sport, c->pport);
	}
	if (c->nsack && (flags & F_ACK)) {
		s.nsack = c->nsack;
		memcpy(s.sack, c->sack, sizeof s.sack);
	}
	return s;
}

/* Send a segment on c with an explicit sequence number (c's ports, ack, window). */
static inline void pc_tx_seq(struct pc *c, uint8_t flags, uint32_t seq, const void *d, uint32_t n)
{
	struct pseg s = pc_seg(c, flags, seq, d, n);
	peer_tx(&s);
}

/* Send the next segment of c's stream (no poll). */
static inline void pc_tx(struct pc *c, uint8_t flags, const void *d, uint32_t n)
{
	pc_tx_seq(c, flags, c->snd_nxt, d, n);
	c->snd_nxt += n + !!(flags & F_SYN) + !!(flags & F_FIN);
}

/* Send the next segment of c's stream and let the stack process it. */
static inline void pc_send(struct pc *c, uint8_t flags, const void *d, uint32_t n)
{
	pc_tx(c, flags, d, n);
	tp_poll();
}

static inline void pc_init(struct pc *c, uint16_t sport, uint16_t pport)
{
	memset(c, 0, sizeof *c);
	c->sport = sport;
	c->pport = pport;
	c->iss = PEER_ISS;
	c->snd_nxt = c->iss;
	c->win = 65535;
}

/* Send the peer's SYN (flags F_SYN) or SYN-ACK (F_SYN | F_ACK, acknowledging c->rcv_nxt) from
 * c->iss with these options (ws < 0: no window scale), and let the stack process it. */
static inline void pc_tx_syn(struct pc *c, uint8_t flags, uint16_t mss, int ws)
{
	struct pseg s = {.sport = c->pport,
			 .dport = c->sport,
			 .seq = c->iss,
			 .ack = (flags & F_ACK) ? c->rcv_nxt : 0,
			 .flags = flags,
			 .win = c->win,
			 .mss = mss,
			 .has_ws = ws >= 0,
			 .ws = (uint8_t)(ws >= 0 ? ws : 0),
			 .sack_ok = c->sack_ok,
			 .ts = c->ts,
			 .ts_val = c->ts ? pc_ts_val(c) : 0,
			 .ts_ecr = c->ts && (flags & F_ACK) ? stack_ts_val(c->sport, c->pport) : 0};
	peer_tx(&s);
	c->snd_nxt = c->iss + 1;
	tp_poll();
}

/* Send the peer's SYN to the stack's port. */
static inline void pc_syn(struct pc *c, uint16_t mss, int ws)
{
	pc_tx_syn(c, F_SYN, mss, ws);
}

/* The peer's SYN-ACK to the stack's SYN. */
static inline void synack(struct pc *c, uint16_t mss, int ws)
{
	pc_tx_syn(c, F_SYN | F_ACK, mss, ws);
}

static inline void listen_on(uint16_t port)
{
	int r = sl_tcp_listen(T.st, port, listen_ka, app_accept, &A);
	assert_true(r == 0 || r == -EADDRINUSE);
}

/* SYN from the peer (offering SACK-permitted / timestamps when sack / ts), the stack's
 * SYN-ACK (checked), the peer's ACK: returns the accepted flow in c->f. */
static inline void open_passive_ext(struct pc *c, uint16_t sport, uint16_t pport, uint16_t mss,
				    int ws, bool sack, bool ts)
{
	listen_on(sport);
	uint16_t win = c->win ? c->win : 65535;
	pc_init(c, sport, pport);
	c->win = win;
	c->sack_ok = sack;
	c->ts = ts;
	c->ts_off = 0x10000;
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

/* SYN from the peer, the stack's SYN-ACK (checked), the peer's ACK: returns the accepted
 * flow in c->f. */
static inline void open_passive_opts(struct pc *c, uint16_t sport, uint16_t pport, uint16_t mss,
				     int ws)
{
	open_passive_ext(c, sport, pport, mss, ws, false, false);
}

/* --- the peer as a receiver with SACK (RFC 2018) --------------------------------------------- */

/* The peer takes n bytes at seq into its sequence space (in order or out of order): rcv_nxt
 * advances over everything contiguous; the rest is held as out-of-order ranges, and c->sack
 * is refilled the way RFC 2018 §4 asks (first the block holding this segment, then the
 * blocks reported most recently). Returns whether anything in it was new. */
static inline bool pc_rx_data(struct pc *c, uint32_t seq, uint32_t n)
{
	uint32_t l = seq, r = seq + n;
	if (!n)
		return false;
	if (seq_leq(r, c->rcv_nxt))
		return false; /* all old */
	if (seq_lt(l, c->rcv_nxt))
		l = c->rcv_nxt;
	bool fresh = true;
	for (unsigned i = 0; i < c->nooo; i++)
		if (seq_leq(c->ooo[i].l, l) && seq_geq(c->ooo[i].r, r))
			fresh = false;
	/* Merge [l, r) with every range it touches; the merged range goes first (most recent). */
	struct sl_tcp_sack m = {l, r};
	struct sl_tcp_sack keep[64];
	unsigned nk = 0;
	for (unsigned i = 0; i < c->nooo; i++) {
		struct sl_tcp_sack o = c->ooo[i];
		if (seq_leq(o.l, m.r) && seq_geq(o.r, m.l)) {
			if (seq_lt(o.l, m.l))
				m.l = o.l;
			if (seq_gt(o.r, m.r))
				m.r = o.r;
		} else if (nk < 63) {
			keep[nk++] = o;
		}
	}
	c->ooo[0] = m;
	memcpy(c->ooo + 1, keep, nk * sizeof keep[0]);
	c->nooo = nk + 1;
	/* In order now? */
	if (seq_leq(c->ooo[0].l, c->rcv_nxt)) {
		c->rcv_nxt = c->ooo[0].r;
		memmove(c->ooo, c->ooo + 1, (c->nooo - 1) * sizeof c->ooo[0]);
		c->nooo--;
	}
	c->nsack = 0;
	if (c->sack_ok)
		for (unsigned i = 0; i < c->nooo && c->nsack < 3; i++)
			c->sack[c->nsack++] = c->ooo[i];
	return fresh;
}

/* An IPv4 packet from the peer to the stack: TOS byte tos, protocol proto, l4 as given. */
static inline void peer_ip_raw(uint8_t tos, uint8_t proto, const uint8_t *l4, size_t len)
{
	struct sl_frame f;
	assert_int_equal(T.pd->ops->alloc(T.pd, &f), 0);
	struct sl_ipv4_hdr ih = {.tos = tos,
				 .tot_len = (uint16_t)(SL_IPV4_HLEN + len),
				 .id = ++T.ip_id,
				 .ttl = 64,
				 .proto = proto,
				 .src = PEER_IP,
				 .dst = ST_IP};
	sl_ipv4_emit(f.data + SL_ETH_HLEN, &ih);
	memcpy(f.data + SL_ETH_HLEN + SL_IPV4_HLEN, l4, len);
	sl_eth_emit(f.data, T.sd->mac, T.pd->mac, SL_ETH_P_IPV4);
	f.len = (uint32_t)(SL_ETH_HLEN + ih.tot_len);
	assert_int_equal(T.pd->ops->tx(T.pd, &f), 0);
	T.pd->ops->flush(T.pd, T.now);
	T.peer_sent = true;
}

/* --- ICMP errors from the peer (RFC 792) -------------------------------------------------- */

/* An ICMP error (type, code) from the peer quoting the IPv4 header and the first 20 bytes of
 * a TCP segment the stack sent (its port sport → the peer's port dport, sequence seq). */
static inline void peer_icmp_quote(uint8_t type, uint8_t code, uint16_t sport, uint16_t dport,
				   uint32_t seq)
{
	struct sl_frame f;
	assert_int_equal(T.pd->ops->alloc(T.pd, &f), 0);
	uint8_t *ip = f.data + SL_ETH_HLEN;
	uint8_t *icmp = ip + SL_IPV4_HLEN;
	uint8_t *q = icmp + SL_ICMP_HLEN;
	struct sl_ipv4_hdr qh = {.tot_len = SL_IPV4_HLEN + SL_TCP_HLEN,
				 .id = 1,
				 .frag = SL_IPV4_DF,
				 .ttl = 64,
				 .proto = SL_IPPROTO_TCP,
				 .src = ST_IP,
				 .dst = PEER_IP};
	sl_ipv4_emit(q, &qh);
	struct sl_tcp_hdr th = {
	    .sport = sport, .dport = dport, .seq = seq, .flags = F_ACK, .win = 1000, .wscale = -1};
	unsigned thl = sl_tcp_emit(q + SL_IPV4_HLEN, &th);
	size_t body = SL_IPV4_HLEN + thl;
	sl_icmp_emit(icmp, type, code, 0, body);
	struct sl_ipv4_hdr ih = {.tot_len = (uint16_t)(SL_IPV4_HLEN + SL_ICMP_HLEN + body),
				 .id = ++T.ip_id,
				 .ttl = 64,
				 .proto = SL_IPPROTO_ICMP,
				 .src = PEER_IP,
				 .dst = ST_IP};
	sl_ipv4_emit(ip, &ih);
	sl_eth_emit(f.data, T.sd->mac, T.pd->mac, SL_ETH_P_IPV4);
	f.len = (uint32_t)(SL_ETH_HLEN + ih.tot_len);
	assert_int_equal(T.pd->ops->tx(T.pd, &f), 0);
	T.pd->ops->flush(T.pd, T.now);
	T.peer_sent = true;
}

#endif
