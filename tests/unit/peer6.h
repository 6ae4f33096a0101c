/*
 * A scripted IPv6 peer on the far end of an in-memory pipe, one sluice stack on the other end
 * (tests/unit/test_ipv6.c, test_nd.c, test_ipv6_golden.c). Header-only, like testutil.h.
 *
 * Everything the peer sends is built here byte by byte (wireutil.h), independently of the
 * stack's wire code: Ethernet + IPv6 (RFC 8200 §3) + whatever the test puts behind it, with
 * ICMPv6 / UDP / TCP checksums over the IPv6 pseudo-header (RFC 8200 §8.1) computed here.
 * Everything the stack sends is captured (X.cap) and checked on the way in: a well-formed
 * IPv6 header whose payload length fits the frame, a hop limit above 0, and a correct
 * upper-layer checksum on every unfragmented ICMPv6, UDP and TCP packet.
 *
 * With X.auto_na the peer answers the stack's Neighbor Solicitations for the peer's
 * addresses (PEER6, PEER6_LL) with a solicited NA carrying its MAC (RFC 4861 §7.2.4).
 *
 *	p6_up(NULL);	      the stack with fd00::1/64, DAD waited out, captures cleared
 *	p6_run(ns);	      run the simulated clock in 1 ms steps (poll, collect)
 *	p6_down();	      close, and assert that every frame is back in its pool
 * with cmocka_unit_test_teardown(test, p6_teardown) to clean up after a failed test.
 */
#ifndef SL_PEER6_H
#define SL_PEER6_H

#include <errno.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"

#ifndef MS
#define MS 1000000ULL
#endif
#ifndef SEC
#define SEC (1000 * MS)
#endif

#define NH_HOP 0
#define NH_TCP 6
#define NH_UDP 17
#define NH_ROUTING 43
#define NH_FRAG 44
#define NH_ICMP6 58
#define NH_NONE 59
#define NH_DST 60

#define ICMP6_DST_UNREACH 1
#define ICMP6_PTB 2
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_PARAM_PROB 4
#define ICMP6_ECHO_REQ 128
#define ICMP6_ECHO_REPLY 129
#define ND_RS 133
#define ND_RA 134
#define ND_NS 135
#define ND_NA 136
#define ND_REDIRECT 137

#define NA_R 0x80000000u
#define NA_S 0x40000000u
#define NA_O 0x20000000u

#define P6_MAXCAP 2048
#define P6_FRAME 1600

static inline sl_ip ip6(const char *s)
{
	sl_ip a;
	int r = sl_ip_parse(s, &a);
	if (r)
		print_message("sl_ip_parse(%s) = %d\n", s, r);
	assert_int_equal(r, 0);
	return a;
}

static inline bool ip_eq(const sl_ip *a, const sl_ip *b)
{
	return !memcmp(a->b, b->b, 16);
}

static inline bool ip_eqb(const uint8_t *p, const sl_ip *a)
{
	return !memcmp(p, a->b, 16);
}

static inline sl_ip ip_at(const uint8_t *p)
{
	sl_ip a;
	memcpy(a.b, p, 16);
	return a;
}

/* The addresses of these tests. */
static const sl_ip ST6 = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};	  /* the stack */
static const sl_ip PEER6 = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}}; /* auto NA */
/* Another on-link neighbour nobody answers for. */
static const sl_ip PEER6_B = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}};
static const sl_ip ST6_LL = {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
static const sl_ip PEER6_LL = {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
static const sl_ip UNSPEC6 = {{0}};
static const sl_ip ALL_NODES = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

/* ff02::1:ffXX:XXXX (RFC 4291 §2.7.1), computed here. */
static inline sl_ip solicited(const sl_ip *a)
{
	sl_ip m = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0}};
	m.b[13] = a->b[13], m.b[14] = a->b[14], m.b[15] = a->b[15];
	return m;
}

/* 33:33 + the low 32 bits (RFC 2464 §7). */
static inline void mcast_mac(const sl_ip *g, uint8_t mac[6])
{
	mac[0] = 0x33, mac[1] = 0x33;
	memcpy(mac + 2, g->b + 12, 4);
}

/* --- checksums (RFC 8200 §8.1, RFC 1071) -------------------------------------------------- */

/* Folded sum of the IPv6 pseudo-header: src, dst, upper-layer length (32 bits), 3 zero bytes,
 * next header. */
static inline uint16_t pseudo6(const sl_ip *src, const sl_ip *dst, uint8_t proto, uint32_t len)
{
	uint8_t ph[40];
	memcpy(ph, src->b, 16);
	memcpy(ph + 16, dst->b, 16);
	put32(ph + 32, len);
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return csum16(ph, sizeof ph, 0);
}

/* The checksum field value for an upper-layer message whose checksum field is zero. */
static inline uint16_t l4_csum6(const sl_ip *src, const sl_ip *dst, uint8_t proto,
				const uint8_t *l4, size_t len)
{
	return (uint16_t)~csum16(l4, len, pseudo6(src, dst, proto, (uint32_t)len));
}

/* True when an upper-layer message holding its checksum verifies (sums to 0xffff). */
static inline bool l4_csum6_ok(const sl_ip *src, const sl_ip *dst, uint8_t proto, const uint8_t *l4,
			       size_t len)
{
	return csum16(l4, len, pseudo6(src, dst, proto, (uint32_t)len)) == 0xffff;
}

/* --- the peer ----------------------------------------------------------------------------- */

struct p6frame {
	uint8_t b[P6_FRAME];
	uint32_t len;
	uint64_t t;
};

struct p6 {
	bool up;
	struct sl_dev *peer, *dev;
	struct sl_stack *st;
	uint64_t now;
	struct p6frame *cap;
	unsigned ncap;
	bool auto_na;
	unsigned ns_seen, na_sent;
	uint8_t sent[P6_FRAME]; /* the last frame the peer sent */
	size_t sent_len;
	struct sl_stats base;
	bool no_check; /* skip the checks on captured frames (a test that wants raw output) */
};
static struct p6 X;

#define STAT6(name) (sl_stack_stats(X.st)->c[SL_STAT_##name])
#define D(name) (STAT6(name) - X.base.c[SL_STAT_##name])

/* A parsed IPv6 packet the stack sent. */
struct v6 {
	const uint8_t *eth, *ip;
	size_t iplen;  /* 40 + payload length */
	uint8_t proto; /* upper layer (after any fragment header: what the fragment carries) */
	const uint8_t *l4;
	size_t l4len;
	bool frag;
	uint16_t frag_off; /* bytes */
	bool mf;
	uint32_t frag_id;
	size_t unfrag_len; /* bytes before the fragment header's data (40 + ext + 8) */
	sl_ip src, dst;
};

/* Walk the fixed header and the extension headers the stack may send. false: not IPv6 or
 * malformed. */
static inline bool v6_parse(const uint8_t *fr, size_t len, struct v6 *v)
{
	memset(v, 0, sizeof *v);
	if (len < 14 + 40 || get16(fr + 12) != 0x86dd)
		return false;
	v->eth = fr;
	v->ip = fr + 14;
	if (v->ip[0] >> 4 != 6)
		return false;
	size_t plen = get16(v->ip + 4);
	if (14 + 40 + plen > len)
		return false;
	v->iplen = 40 + plen;
	v->src = ip_at(v->ip + 8);
	v->dst = ip_at(v->ip + 24);
	uint8_t nh = v->ip[6];
	size_t off = 40;
	for (;;) {
		if (nh == NH_HOP || nh == NH_DST || nh == NH_ROUTING) {
			if (off + 8 > v->iplen)
				return false;
			size_t hl = 8 + 8 * (size_t)v->ip[off + 1];
			nh = v->ip[off];
			off += hl;
			if (off > v->iplen)
				return false;
		} else if (nh == NH_FRAG) {
			if (off + 8 > v->iplen)
				return false;
			v->frag = true;
			uint16_t fo = get16(v->ip + off + 2);
			v->frag_off = fo & 0xfff8;
			v->mf = fo & 1;
			v->frag_id = get32(v->ip + off + 4);
			nh = v->ip[off];
			off += 8;
			v->unfrag_len = off;
			break;
		} else {
			break;
		}
	}
	v->proto = nh;
	v->l4 = v->ip + off;
	v->l4len = v->iplen - off;
	return true;
}

static inline struct v6 cap6(unsigned i)
{
	struct v6 v;
	assert_true(i < X.ncap && i < P6_MAXCAP);
	assert_true(v6_parse(X.cap[i].b, X.cap[i].len, &v));
	return v;
}

static inline bool is_icmp6(const struct v6 *v, int type)
{
	return !v->frag && v->proto == NH_ICMP6 && v->l4len >= 4 && (type < 0 || v->l4[0] == type);
}

static inline void peer_tx(const uint8_t *fr, size_t len)
{
	struct sl_frame f;
	assert_true(len <= P6_FRAME);
	assert_int_equal(X.peer->ops->alloc(X.peer, &f), 0);
	assert_true(len <= f.cap);
	memcpy(f.data, fr, len);
	f.len = (uint32_t)len;
	assert_int_equal(X.peer->ops->tx(X.peer, &f), 0);
	X.peer->ops->flush(X.peer, X.now);
}

/* Send a frame the test made (remembered in X.sent; the peer's automatic NAs are not). */
static inline void peer_send_raw(const uint8_t *fr, size_t len)
{
	assert_true(len <= P6_FRAME);
	memcpy(X.sent, fr, len);
	X.sent_len = len;
	peer_tx(fr, len);
}

/* Ethernet + IPv6 header in fr (54 bytes) for a payload of plen bytes. The Ethernet
 * destination: the stack's MAC, or the group's 33:33 MAC for a multicast destination. */
static inline size_t hdr6(uint8_t *fr, const sl_ip *src, const sl_ip *dst, uint8_t nh, uint8_t hlim,
			  size_t plen)
{
	if (dst->b[0] == 0xff)
		mcast_mac(dst, fr);
	else
		memcpy(fr, X.dev->mac, 6);
	memcpy(fr + 6, X.peer->mac, 6);
	put16(fr + 12, 0x86dd);
	uint8_t *ip = fr + 14;
	put32(ip, 6u << 28);
	put16(ip + 4, (uint16_t)plen);
	ip[6] = nh;
	ip[7] = hlim;
	memcpy(ip + 8, src->b, 16);
	memcpy(ip + 24, dst->b, 16);
	return 54;
}

/* An IPv6 packet: body is everything behind the fixed header (extension headers and the
 * upper layer, checksums already in place). */
static inline void send6(const sl_ip *src, const sl_ip *dst, uint8_t nh, uint8_t hlim,
			 const uint8_t *body, size_t blen)
{
	uint8_t fr[P6_FRAME];
	assert_true(54 + blen <= sizeof fr);
	hdr6(fr, src, dst, nh, hlim, blen);
	memcpy(fr + 54, body, blen);
	peer_send_raw(fr, 54 + blen);
}

/* An ICMPv6 message (its checksum computed here over msg, whose bytes 2..3 are overwritten),
 * behind ext[0..elen) extension headers whose chain starts with first_nh (elen 0: first_nh
 * ignored, the packet carries ICMPv6 directly). */
static inline void send_icmp6_ext(const sl_ip *src, const sl_ip *dst, uint8_t hlim,
				  uint8_t first_nh, const uint8_t *ext, size_t elen, uint8_t *msg,
				  size_t mlen)
{
	uint8_t body[P6_FRAME];
	put16(msg + 2, 0);
	put16(msg + 2, l4_csum6(src, dst, NH_ICMP6, msg, mlen));
	assert_true(elen + mlen <= sizeof body);
	if (elen)
		memcpy(body, ext, elen);
	memcpy(body + elen, msg, mlen);
	send6(src, dst, elen ? first_nh : NH_ICMP6, hlim, body, elen + mlen);
}

static inline void send_icmp6(const sl_ip *src, const sl_ip *dst, uint8_t hlim, uint8_t *msg,
			      size_t mlen)
{
	send_icmp6_ext(src, dst, hlim, 0, NULL, 0, msg, mlen);
}

/* Echo request/reply message: type, id, seq, then n bytes of pattern; returns its length. */
static inline uint8_t pat6(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;
	return (uint8_t)(x ^ x >> 13 ^ i >> 8);
}

static inline size_t mk_echo(uint8_t *out, uint8_t type, uint16_t id, uint16_t seq, size_t n)
{
	out[0] = type, out[1] = 0;
	put16(out + 2, 0);
	put16(out + 4, id);
	put16(out + 6, seq);
	for (size_t i = 0; i < n; i++)
		out[8 + i] = pat6(seq, i);
	return 8 + n;
}

/* A UDP datagram src:sport → dst:dport with n bytes of pattern (seed) and its checksum (0 is
 * sent as 0xffff, RFC 768); returns its length. */
static inline size_t mk_udp6(uint8_t *out, const sl_ip *src, const sl_ip *dst, uint16_t sport,
			     uint16_t dport, uint32_t seed, size_t n)
{
	put16(out, sport);
	put16(out + 2, dport);
	put16(out + 4, (uint16_t)(8 + n));
	put16(out + 6, 0);
	for (size_t i = 0; i < n; i++)
		out[8 + i] = pat6(seed, i);
	uint16_t c = l4_csum6(src, dst, NH_UDP, out, 8 + n);
	put16(out + 6, c ? c : 0xffff);
	return 8 + n;
}

/* A plain echo request from the peer (n data bytes). */
static inline void send_echo(const sl_ip *src, const sl_ip *dst, uint16_t id, uint16_t seq,
			     size_t n)
{
	uint8_t m[P6_FRAME];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, id, seq, n);
	send_icmp6(src, dst, 64, m, len);
}

/* An NA from addr (the peer's) to dst: flags, target, and a TLLA option with mac (NULL:
 * none); hop limit 255 unless hlim. */
static inline void send_na(const sl_ip *src, const sl_ip *dst, uint32_t flags, const sl_ip *target,
			   const uint8_t *mac, uint8_t hlim)
{
	uint8_t m[32];
	memset(m, 0, sizeof m);
	m[0] = ND_NA;
	put32(m + 4, flags);
	memcpy(m + 8, target->b, 16);
	size_t len = 24;
	if (mac) {
		m[24] = 2, m[25] = 1;
		memcpy(m + 26, mac, 6);
		len = 32;
	}
	send_icmp6(src, dst, hlim, m, len);
}

/* An NS for target from src to dst with an SLLA option holding mac (NULL: none). */
static inline void send_ns(const sl_ip *src, const sl_ip *dst, const sl_ip *target,
			   const uint8_t *mac, uint8_t hlim)
{
	uint8_t m[32];
	memset(m, 0, sizeof m);
	m[0] = ND_NS;
	memcpy(m + 8, target->b, 16);
	size_t len = 24;
	if (mac) {
		m[24] = 1, m[25] = 1;
		memcpy(m + 26, mac, 6);
		len = 32;
	}
	send_icmp6(src, dst, hlim, m, len);
}

/* The ND option of type t in an NS/NA/RS/RA message starting at off, or NULL. */
static inline const uint8_t *nd_opt(const uint8_t *m, size_t len, size_t off, uint8_t t)
{
	while (off + 2 <= len) {
		size_t ol = 8 * (size_t)m[off + 1];
		if (!ol || off + ol > len)
			return NULL;
		if (m[off] == t)
			return m + off;
		off += ol;
	}
	return NULL;
}

static inline bool peer_owns(const sl_ip *a)
{
	return ip_eq(a, &PEER6) || ip_eq(a, &PEER6_LL);
}

/* Checks on every frame the stack sends, and the peer's answers to its NS. */
static inline void check_and_answer(const uint8_t *p, size_t len)
{
	if (len < 14 || get16(p + 12) != 0x86dd)
		return;
	struct v6 v;
	if (!X.no_check) {
		assert_true(v6_parse(p, len, &v));
		assert_true(v.ip[7] > 0);
		if (!v.frag && (v.proto == NH_ICMP6 || v.proto == NH_UDP || v.proto == NH_TCP)) {
			if (!l4_csum6_ok(&v.src, &v.dst, v.proto, v.l4, v.l4len)) {
				print_message("stack sent a bad checksum (proto %u)\n", v.proto);
				fail();
			}
		}
	} else if (!v6_parse(p, len, &v)) {
		return;
	}
	if (is_icmp6(&v, ND_NS) && v.l4len >= 24) {
		X.ns_seen++;
		sl_ip target = ip_at(v.l4 + 8);
		if (X.auto_na && peer_owns(&target)) {
			bool from_unspec = sl_ip_is_zero(&v.src);
			const uint8_t *sl = nd_opt(v.l4, v.l4len, 24, 1);
			uint8_t fr[P6_FRAME];
			uint8_t m[32] = {ND_NA};
			put32(m + 4, (from_unspec ? 0 : NA_S) | NA_O);
			memcpy(m + 8, target.b, 16);
			m[24] = 2, m[25] = 1;
			memcpy(m + 26, X.peer->mac, 6);
			const sl_ip *dst = from_unspec ? &ALL_NODES : &v.src;
			put16(m + 2, l4_csum6(&target, dst, NH_ICMP6, m, 32));
			hdr6(fr, &target, dst, NH_ICMP6, 255, 32);
			if (!from_unspec)
				memcpy(fr, sl ? sl + 2 : p + 6, 6);
			memcpy(fr + 54, m, 32);
			peer_tx(fr, 54 + 32);
			X.na_sent++;
		}
	}
}

static inline void p6_collect(void)
{
	struct sl_frame f[SL_RX_BATCH];
	int n;
	while ((n = X.peer->ops->rx(X.peer, f, SL_RX_BATCH, X.now)) > 0) {
		for (int i = 0; i < n; i++) {
			if (X.ncap < P6_MAXCAP) {
				struct p6frame *c = &X.cap[X.ncap];
				uint32_t l = f[i].len < P6_FRAME ? f[i].len : P6_FRAME;
				memcpy(c->b, f[i].data, l);
				c->len = l;
				c->t = X.now;
			}
			X.ncap++;
			uint8_t tmp[P6_FRAME];
			uint32_t l = f[i].len < P6_FRAME ? f[i].len : P6_FRAME;
			memcpy(tmp, f[i].data, l);
			X.peer->ops->release(X.peer, &f[i]);
			check_and_answer(tmp, l);
		}
	}
}

/* Poll the stack at the current instant (twice: the first poll's flush may arm timers) and
 * collect what it sent. */
static inline void p6_poll(void)
{
	for (int k = 0; k < 3; k++) {
		sl_stack_poll(X.st, X.now);
		p6_collect();
	}
}

/* Advance simulated time in 1 ms steps. */
static inline void p6_run(uint64_t ns)
{
	uint64_t end = X.now + ns;
	p6_poll();
	while (X.now < end) {
		X.now += MS;
		p6_poll();
	}
}

/* Advance simulated time from event to event (the stack's deadlines), up to ns. */
static inline void p6_run_fast(uint64_t ns)
{
	uint64_t end = X.now + ns;
	for (;;) {
		uint64_t next = sl_stack_poll(X.st, X.now);
		p6_collect();
		uint64_t n2 = sl_stack_poll(X.st, X.now);
		p6_collect();
		if (n2 < next)
			next = n2;
		if (X.now >= end)
			break;
		if (next <= X.now)
			next = X.now + MS;
		X.now = next < end ? next : end;
	}
}

static inline void p6_clear(void)
{
	X.ncap = 0;
}

static inline void p6_config(struct sl_stack_config *c)
{
	sl_stack_config_init(c);
	c->addrs[0].addr = ST6;
	c->addrs[0].prefix_len = 64;
	c->n_addrs = 1;
	c->seed = tu_seed(5);
	c->deterministic_secrets = true; /* a seed replays, ISNs and keys included */
}

/* The stack on one end of a new pipe, the peer on the other; the clock at 1 s. Nothing
 * run yet (DAD in progress for IPv6 addresses of cfg). */
static inline void p6_open(const struct sl_stack_config *cfg)
{
	memset(&X, 0, sizeof X);
	X.cap = calloc(P6_MAXCAP, sizeof *X.cap);
	assert_non_null(X.cap);
	struct sl_stack_config c;
	if (cfg)
		c = *cfg;
	else
		p6_config(&c);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &X.dev, &X.peer), 0);
	X.now = 1000 * MS;
	assert_int_equal(sl_stack_open(X.dev, &c, X.now, &X.st), 0);
	X.up = true;
	X.auto_na = true;
}

static inline void p6_snap(void)
{
	X.base = *sl_stack_stats(X.st);
}

/* p6_open, then 3 s of silence: DAD (RFC 4862 §5.4, one NS and RetransTimer 1 s, plus any
 * initial random delay) is over and every configured address must be usable. */
static inline void p6_up(const struct sl_stack_config *cfg)
{
	p6_open(cfg);
	struct sl_stack_config c;
	if (cfg)
		c = *cfg;
	else
		p6_config(&c);
	p6_run_fast(3 * SEC);
	for (unsigned i = 0; i < c.n_addrs; i++)
		assert_int_equal(sl_ip_addr_state(X.st, &c.addrs[i].addr), 0);
	p6_clear();
	p6_snap();
}

static inline void p6_free(void)
{
	if (!X.up)
		return;
	sl_stack_close(X.st);
	sl_dev_close(X.dev);
	sl_dev_close(X.peer);
	free(X.cap);
	X.up = false;
}

static inline void p6_down(void)
{
	sl_stack_close(X.st);
	p6_collect();
	free(X.cap);
	X.up = false;
	pn_close_counted(X.dev, X.peer);
}

static inline int p6_teardown(void **state)
{
	p6_free();
	return 0;
}

/* --- looking at what the stack sent ------------------------------------------------------- */

/* Index of the first captured unfragmented ICMPv6 message of this type (code < 0: any) from
 * index from on, or -1. */
static inline int find_icmp6(unsigned from, int type, int code)
{
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (!v6_parse(X.cap[i].b, X.cap[i].len, &v))
			continue;
		if (is_icmp6(&v, type) && (code < 0 || v.l4[1] == code))
			return (int)i;
	}
	return -1;
}

static inline unsigned count_icmp6(unsigned from, int type)
{
	unsigned n = 0;
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (v6_parse(X.cap[i].b, X.cap[i].len, &v) && is_icmp6(&v, type))
			n++;
	}
	return n;
}

/* ICMPv6 errors (types 0..127) the stack sent from index from on. */
static inline unsigned count_icmp6_errors(unsigned from)
{
	unsigned n = 0;
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (v6_parse(X.cap[i].b, X.cap[i].len, &v) && is_icmp6(&v, -1) && v.l4[0] < 128)
			n++;
	}
	return n;
}

/* Frames of any kind but ND the stack sent from index from on. */
static inline unsigned count_non_nd(unsigned from)
{
	unsigned n = 0;
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (v6_parse(X.cap[i].b, X.cap[i].len, &v) && is_icmp6(&v, -1) &&
		    v.l4[0] >= ND_RS && v.l4[0] <= ND_REDIRECT)
			continue;
		n++;
	}
	return n;
}

/* Reassemble the fragments with identification id among the captures from index from on into
 * out (the fragmentable part: what followed the fragment header); returns its length, or 0
 * when incomplete. Checks RFC 8200 §4.5 on the way: every fragment but the last carries a
 * multiple of 8 bytes, fragments do not overlap. *proto: the Next Header of the first
 * fragment's fragment header. */
static inline size_t reasm6(unsigned from, uint32_t id, uint8_t *out, size_t cap, uint8_t *proto)
{
	static uint8_t have[65536];
	memset(have, 0, sizeof have);
	size_t total = 0, got = 0;
	bool last = false;
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (!v6_parse(X.cap[i].b, X.cap[i].len, &v) || !v.frag || v.frag_id != id)
			continue;
		if (v.mf)
			assert_int_equal(v.l4len % 8, 0);
		else {
			last = true;
			total = v.frag_off + v.l4len;
		}
		if (v.frag_off == 0 && proto)
			*proto = v.proto;
		assert_true(v.frag_off + v.l4len <= cap);
		for (size_t k = 0; k < v.l4len; k++) {
			assert_false(have[v.frag_off + k]);
			have[v.frag_off + k] = 1;
		}
		memcpy(out + v.frag_off, v.l4, v.l4len);
		got += v.l4len;
	}
	if (!last || got != total)
		return 0;
	return total;
}

/* Print what was captured (for diagnosing a failure). */
static inline void dump_caps(unsigned from)
{
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (!v6_parse(X.cap[i].b, X.cap[i].len, &v)) {
			print_message("  [%u] t=%.3f non-IPv6 type %04x len %u\n", i,
				      (double)X.cap[i].t / 1e9, get16(X.cap[i].b + 12),
				      X.cap[i].len);
			continue;
		}
		char s[64], d[64];
		sl_ip_str(&v.src, s, sizeof s);
		sl_ip_str(&v.dst, d, sizeof d);
		print_message("  [%u] t=%.3f %s -> %s proto %u len %zu%s type %d code %d\n", i,
			      (double)X.cap[i].t / 1e9, s, d, v.proto, v.iplen,
			      v.frag ? " frag" : "", v.l4len ? v.l4[0] : -1,
			      v.l4len > 1 ? v.l4[1] : -1);
	}
}

#endif
