/*
 * The UDP output path over IPv4 and IPv6, judged from the RFCs and the public API
 * (include/sluice/ headers, docs/api.md) only: nothing here calls the stack's wire or checksum
 * code, so a rewrite of that path (route and neighbour caches per destination, header
 * templates, another checksum routine, copy and checksum fused) is checked against
 * references that share nothing with it.
 *
 * The test plays every other host of one Ethernet link, on the far end of an in-memory pipe
 * (sl_dev_pipe_pair) with invented time: on-link peers with MACs of their own, an IPv4
 * gateway and an IPv6 router. It answers the stack's ARP requests (RFC 826) and Neighbor
 * Solicitations (RFC 4861 §7.2.4) for the hosts told to answer, and checks every frame the
 * stack sends against references written here:
 *   Ethernet  the source is the stack's MAC;
 *   IPv4      (RFC 791) version 4, IHL ≥ 5, total length within the frame and the MTU, the
 *             header checksum equal to the RFC 1071 value computed here from the header,
 *             reserved flag clear, TTL above 0 (RFC 1122 §3.2.1.7), never DF with MF or an
 *             offset, a source that is not broadcast, multicast or zero (RFC 1122 §3.2.1.3);
 *   IPv6      (RFC 8200) version 6, payload length within the frame and the MTU, hop limit
 *             above 0, a source that is not multicast, a fragment header with its reserved
 *             bits clear and never an atomic fragment (RFC 8021);
 *   UDP       (RFC 768, RFC 8200 §8.1) the length field equal to the IP payload, the checksum
 *             over the pseudo-header equal to the value computed here, a computed 0 sent as
 *             0xffff (so never 0 over IPv6);
 *   ARP       (RFC 826) Ethernet/IPv4 sizes, the stack's MAC as sender.
 * Fragments are reassembled here (RFC 791 §3.2, RFC 8200 §4.5) with checks of their own:
 * every fragment but the last a multiple of 8 bytes, no overlap, no gap, the same
 * identification, addresses, protocol, TTL and Ethernet destination in each; then the UDP
 * checks run over the whole datagram.
 *
 * Run: make -j1 build/tests/test_udp_path build/san/tests/test_udp_path, then either binary;
 * SLUICE_SEED=n replays another seed of the random payloads.
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"
#include "unit/udpref.h"

#define US 1000ULL
#define MS 1000000ULL
#define SEC 1000000000ULL

/* --- references (RFC 1071, RFC 768, RFC 8200 §8.1) ----------------------------------------- */

/* --- addresses ------------------------------------------------------------------------------ */

#define ST4 0x0a000001u	 /* 10.0.0.1/24, the stack */
#define ST4B 0x0a000002u /* 10.0.0.2, a second address some tests add */
#define GW4 0x0a0000feu	 /* 10.0.0.254, the IPv4 gateway */
static const sl_ip ST6 = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};	   /* fd00::1/64 */
static const sl_ip ST6B = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};   /* fd00::2 */
static const sl_ip GW6 = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe}}; /* router */
#define V4MAPPED(a, b, c, d)                                                                       \
	{                                                                                          \
		{                                                                                  \
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d                       \
		}                                                                                  \
	}
static const sl_ip S4 = V4MAPPED(10, 0, 0, 1);
static const sl_ip S4B = V4MAPPED(10, 0, 0, 2);
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static sl_ip ip6s(const char *s)
{
	sl_ip a;
	assert_int_equal(sl_ip_parse(s, &a), 0);
	assert_false(sl_ip_is_v4(&a));
	return a;
}


/* --- the link ------------------------------------------------------------------------------- */

/* A host the test plays. */
struct host {
	sl_ip ip;
	uint8_t mac[6];
	bool answer;	      /* answers ARP requests / NS for ip with mac */
	uint64_t last_answer; /* when it last answered */
};

#define NHOST 256
#define CAPMAX 8192
#define FRAME 2048

struct cap {
	uint8_t b[FRAME];
	uint32_t len;
	uint64_t t;
};

struct harness {
	bool up;
	struct sl_dev *dev, *wire; /* the stack's end, the test's end */
	struct sl_stack *st;
	struct sl_stack_config cfg;
	uint64_t now;
	struct host host[NHOST];
	unsigned nhost;
	struct cap *cap;
	unsigned ncap;
	bool peer_sent;
	uint16_t peer_id;
	/* the echo service (port 7) */
	bool echo_src_from_dst; /* reply from the address the datagram was sent to */
	int echo_err;
	unsigned echo_calls;
	size_t echo_skip, echo_trim; /* reply with data + skip, len - skip - trim */
	unsigned echo_times;	     /* replies per datagram (0: one) */
	bool send_no_csum;	     /* send_udp over IPv4: checksum 0 (none computed) */
	struct sl_udp_meta echo_meta;
	/* identifications of IPv4 datagrams without DF, per destination (RFC 6864 §4.1) */
	struct {
		uint32_t dst;
		uint16_t id;
	} ids[4096];
	unsigned nids;
};
static struct harness H;

#define STAT(name) (sl_stack_stats(H.st)->c[SL_STAT_##name])

static struct host *find_host(const sl_ip *ip)
{
	for (unsigned i = 0; i < H.nhost; i++)
		if (ip_eq(&H.host[i].ip, ip))
			return &H.host[i];
	return NULL;
}

static struct host *add_host(const sl_ip *ip, uint8_t fam, unsigned idx)
{
	struct host *h = find_host(ip);
	if (h)
		return h;
	assert_true(H.nhost < NHOST);
	h = &H.host[H.nhost++];
	memset(h, 0, sizeof *h);
	h->ip = *ip;
	uint8_t mac[6] = {0x02, fam, 0x00, 0x00, (uint8_t)(idx >> 8), (uint8_t)idx};
	memcpy(h->mac, mac, 6);
	h->answer = true;
	return h;
}

/* On-link IPv4 peers 10.0.0.10 + i (i < 200, 10.0.0.0/24 minus the stack and the gateway). */
static struct host *peer4(unsigned i)
{
	assert_true(i < 200);
	sl_ip a = ip4(0x0a00000au + i);
	return add_host(&a, 0x44, i);
}

/* On-link IPv6 peers fd00::1:i. */
static struct host *peer6(unsigned i)
{
	sl_ip a = ST6;
	a.b[13] = 1;
	a.b[14] = (uint8_t)(i >> 8);
	a.b[15] = (uint8_t)i;
	return add_host(&a, 0x66, i);
}

static struct host *gw4(void)
{
	sl_ip a = ip4(GW4);
	return add_host(&a, 0x47, 0xfe);
}

static struct host *gw6(void)
{
	return add_host(&GW6, 0x67, 0xfe);
}

static void set_mac(struct host *h, uint8_t tag)
{
	h->mac[2] = tag; /* a new MAC, same host */
}

/* --- the test's frames ---------------------------------------------------------------------- */

static void wire_tx(const uint8_t *fr, size_t len)
{
	struct sl_frame f;
	assert_int_equal(H.wire->ops->alloc(H.wire, &f), 0);
	assert_true(len <= f.cap);
	memcpy(f.data, fr, len);
	f.len = (uint32_t)len;
	assert_int_equal(H.wire->ops->tx(H.wire, &f), 0);
	H.wire->ops->flush(H.wire, H.now);
	H.peer_sent = true;
}

static void eth(uint8_t *fr, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(fr, dst, 6);
	memcpy(fr + 6, src, 6);
	put16(fr + 12, type);
}

/* An ARP packet (RFC 826, Ethernet/IPv4). */
static void send_arp(const uint8_t *eth_dst, const uint8_t *eth_src, uint16_t op,
		     const uint8_t *sha, uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	uint8_t fr[60] = {0};
	eth(fr, eth_dst, eth_src, 0x0806);
	uint8_t *a = fr + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6, a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	wire_tx(fr, 60);
}

/* An IPv4 header with its checksum. */
static void ip4_hdr(uint8_t *ip, uint16_t tot, uint16_t id, uint16_t frag, uint8_t ttl,
		    uint8_t proto, const sl_ip *src, const sl_ip *dst)
{
	ip[0] = 0x45, ip[1] = 0;
	put16(ip + 2, tot);
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = ttl, ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, src->b + 12, 4);
	memcpy(ip + 16, dst->b + 12, 4);
	put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
}

/* An IPv6 header. */
static void ip6_hdr(uint8_t *ip, uint16_t plen, uint8_t nh, uint8_t hlim, const sl_ip *src,
		    const sl_ip *dst)
{
	put32(ip, 6u << 28);
	put16(ip + 4, plen);
	ip[6] = nh, ip[7] = hlim;
	memcpy(ip + 8, src->b, 16);
	memcpy(ip + 24, dst->b, 16);
}

/* A UDP datagram from host h (its MAC) to dst, fragmented at 1500 bytes when larger (RFC 791
 * §3.2 / RFC 8200 §4.5). eth_dst: the stack's MAC, or another (broadcast). */
static void send_udp(const struct host *h, const sl_ip *dst, const uint8_t *eth_dst, uint16_t sport,
		     uint16_t dport, const uint8_t *data, size_t len)
{
	static uint8_t udp[65536 + 8];
	static uint8_t fr[FRAME];
	bool v6 = !sl_ip_is_v4(dst);
	size_t ulen = 8 + len;
	assert_true(ulen <= 65535);
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)ulen);
	put16(udp + 6, 0);
	memcpy(udp + 8, data, len);
	put16(udp + 6, ref_udp_csum(&h->ip, dst, udp, ulen));
	if (H.send_no_csum && !v6)
		put16(udp + 6, 0); /* RFC 768: zero, the sender computed none */
	if (!eth_dst)
		eth_dst = H.dev->mac;
	size_t hl = v6 ? 40 : 20;
	uint16_t id = ++H.peer_id;
	if (hl + ulen <= 1500) {
		eth(fr, eth_dst, h->mac, v6 ? 0x86dd : 0x0800);
		if (v6)
			ip6_hdr(fr + 14, (uint16_t)ulen, 17, 64, &h->ip, dst);
		else
			ip4_hdr(fr + 14, (uint16_t)(20 + ulen), id, 0, 64, 17, &h->ip, dst);
		memcpy(fr + 14 + hl, udp, ulen);
		wire_tx(fr, 14 + hl + ulen);
		return;
	}
	size_t per = v6 ? (1500 - 48) & ~7u : (1500 - 20) & ~7u;
	for (size_t off = 0; off < ulen; off += per) {
		size_t n = ulen - off < per ? ulen - off : per;
		bool more = off + n < ulen;
		eth(fr, eth_dst, h->mac, v6 ? 0x86dd : 0x0800);
		if (v6) {
			ip6_hdr(fr + 14, (uint16_t)(8 + n), 44, 64, &h->ip, dst);
			uint8_t *f = fr + 54;
			f[0] = 17, f[1] = 0;
			put16(f + 2, (uint16_t)(off | more));
			put32(f + 4, 0x51ce0000u + id);
			memcpy(fr + 62, udp + off, n);
			wire_tx(fr, 62 + n);
		} else {
			ip4_hdr(fr + 14, (uint16_t)(20 + n), id,
				(uint16_t)((more ? 0x2000 : 0) | off / 8), 64, 17, &h->ip, dst);
			memcpy(fr + 34, udp + off, n);
			wire_tx(fr, 34 + n);
		}
	}
}

/* An ICMPv6 message (checksum computed here) from src with eth_src to dst / eth_dst. */
static void send_icmp6(const uint8_t *eth_dst, const uint8_t *eth_src, const sl_ip *src,
		       const sl_ip *dst, uint8_t hlim, uint8_t *m, size_t len)
{
	static uint8_t fr[FRAME];
	put16(m + 2, 0);
	put16(m + 2, (uint16_t)~ref_sum(m, len, ref_pseudo(src, dst, 58, (uint32_t)len)));
	eth(fr, eth_dst, eth_src, 0x86dd);
	ip6_hdr(fr + 14, (uint16_t)len, 58, hlim, src, dst);
	memcpy(fr + 54, m, len);
	wire_tx(fr, 54 + len);
}

#define NA_R 0x80000000u
#define NA_S 0x40000000u
#define NA_O 0x20000000u

static const sl_ip ALL_NODES = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
static const uint8_t ALL_NODES_MAC[6] = {0x33, 0x33, 0, 0, 0, 1};

/* A Neighbor Advertisement from h for its own address (RFC 4861 §4.4) with flags and a
 * target link-layer address option carrying tlla (NULL: none), to dst / eth_dst. */
static void send_na(const struct host *h, const sl_ip *dst, const uint8_t *eth_dst, uint32_t flags,
		    const uint8_t *tlla)
{
	uint8_t m[32] = {136, 0};
	put32(m + 4, flags);
	memcpy(m + 8, h->ip.b, 16);
	size_t len = 24;
	if (tlla) {
		m[24] = 2, m[25] = 1;
		memcpy(m + 26, tlla, 6);
		len = 32;
	}
	send_icmp6(eth_dst, tlla ? tlla : h->mac, &h->ip, dst, 255, m, len);
}

/* A Neighbor Solicitation from h for the stack's address target, with a source link-layer
 * address option carrying slla, to the target's solicited-node group. */
static void send_ns(const struct host *h, const sl_ip *target, const uint8_t *slla)
{
	uint8_t m[32] = {135, 0};
	memcpy(m + 8, target->b, 16);
	m[24] = 1, m[25] = 1;
	memcpy(m + 26, slla, 6);
	sl_ip g = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0}};
	g.b[13] = target->b[13], g.b[14] = target->b[14], g.b[15] = target->b[15];
	uint8_t gm[6] = {0x33, 0x33, 0xff, g.b[13], g.b[14], g.b[15]};
	send_icmp6(gm, slla, &h->ip, &g, 255, m, 32);
}

/* --- what the stack sends ------------------------------------------------------------------- */

/* One IPv4 or IPv6 frame the stack sent, parsed (and checked, see ipf_parse). */
struct ipf {
	bool v6;
	const uint8_t *fr;
	const uint8_t *ip;
	size_t iplen; /* IP header + payload, from the length field */
	sl_ip src, dst;
	uint8_t proto; /* after a fragment header: what the fragments carry */
	uint8_t ttl;
	uint8_t tos; /* IPv4 TOS byte, IPv6 traffic class */
	bool frag, mf, df;
	uint32_t off; /* fragment offset, bytes */
	uint32_t id;
	const uint8_t *data; /* the upper-layer bytes of this frame */
	size_t dlen;
};

static uint32_t link_mtu(void)
{
	return H.cfg.mtu ? H.cfg.mtu : H.dev->mtu;
}

/* Parse an IP frame and check what RFC 791 / RFC 8200 ask of every packet; false when the
 * frame is not IPv4 or IPv6. */
static bool ipf_parse(const uint8_t *fr, size_t flen, struct ipf *f)
{
	memset(f, 0, sizeof *f);
	assert_true(flen >= 14);
	uint16_t type = get16(fr + 12);
	if (type != 0x0800 && type != 0x86dd)
		return false;
	assert_memory_equal(fr + 6, H.dev->mac, 6);
	f->fr = fr;
	f->ip = fr + 14;
	const uint8_t *ip = f->ip;
	if (type == 0x0800) {
		assert_true(flen >= 14 + 20);
		assert_int_equal(ip[0] >> 4, 4);
		unsigned ihl = (ip[0] & 15) * 4u;
		assert_true(ihl >= 20);
		size_t tot = get16(ip + 2);
		assert_true(tot >= ihl);
		assert_true(14 + tot <= flen);
		if (14 + tot < flen)
			assert_true(flen <= 60); /* only Ethernet padding of a short frame */
		assert_true(tot <= link_mtu());
		/* RFC 791: the checksum field is the complement of the sum of the header's words
		 * with the field taken as zero. */
		uint8_t h[60];
		memcpy(h, ip, ihl);
		put16(h + 10, 0);
		uint16_t want = (uint16_t)~ref_sum(h, ihl, 0);
		if (get16(ip + 10) != want) {
			print_message("IPv4 header checksum %04x, want %04x\n", get16(ip + 10),
				      want);
			fail();
		}
		uint16_t fl = get16(ip + 6);
		assert_int_equal(fl & 0x8000, 0); /* reserved */
		f->df = fl & 0x4000;
		f->mf = fl & 0x2000;
		f->off = (uint32_t)(fl & 0x1fff) * 8;
		f->frag = f->mf || f->off;
		if (f->df)
			assert_false(f->frag);
		f->ttl = ip[8];
		assert_true(f->ttl > 0);
		f->tos = ip[1];
		f->proto = ip[9];
		f->id = get16(ip + 4);
		f->src = ip4(get32(ip + 12));
		f->dst = ip4(get32(ip + 16));
		uint32_t s = get32(ip + 12);
		assert_true(s != 0 && s != 0xffffffffu && (s >> 28) != 0xe);
		assert_true((s & 0xff) != 0xff); /* every prefix here is a /24: not its broadcast */
		f->iplen = tot;
		f->data = ip + ihl;
		f->dlen = tot - ihl;
		return true;
	}
	f->v6 = true;
	assert_true(flen >= 14 + 40);
	assert_int_equal(ip[0] >> 4, 6);
	size_t plen = get16(ip + 4);
	assert_true(14 + 40 + plen <= flen);
	if (14 + 40 + plen < flen)
		assert_true(flen <= 60);
	assert_true(40 + plen <= link_mtu());
	f->iplen = 40 + plen;
	f->ttl = ip[7];
	assert_true(f->ttl > 0);
	f->tos = (uint8_t)((ip[0] & 15) << 4 | ip[1] >> 4); /* RFC 8200 §3 */
	assert_int_equal(ip[1] & 15, 0); /* flow label 0 */
	assert_int_equal(get16(ip + 2), 0);
	memcpy(f->src.b, ip + 8, 16);
	memcpy(f->dst.b, ip + 24, 16);
	assert_true(ip[8] != 0xff); /* never a multicast source */
	f->proto = ip[6];
	f->data = ip + 40;
	f->dlen = plen;
	if (f->proto == 44) {
		assert_true(plen >= 8);
		const uint8_t *fh = ip + 40;
		assert_int_equal(fh[1], 0);		/* reserved */
		assert_int_equal(get16(fh + 2) & 6, 0); /* Res */
		f->proto = fh[0];
		f->off = get16(fh + 2) & 0xfff8;
		f->mf = get16(fh + 2) & 1;
		f->id = get32(fh + 4);
		f->frag = true;
		assert_true(f->off || f->mf); /* RFC 8021: no atomic fragments */
		f->data = fh + 8;
		f->dlen = plen - 8;
	}
	return true;
}

/* RFC 768: a whole UDP datagram from src to dst: the length field covers it, and the checksum
 * is the one computed here (0 sent as 0xffff). */
static void check_udp(const sl_ip *src, const sl_ip *dst, const uint8_t *u, size_t len)
{
	assert_true(len >= 8);
	if (get16(u + 4) != len) {
		print_message("UDP length field %u, datagram %zu bytes\n", get16(u + 4), len);
		fail();
	}
	uint16_t want = ref_udp_csum(src, dst, u, len);
	if (get16(u + 6) != want) {
		print_message("UDP checksum %04x, want %04x (%s -> %s, %zu bytes)\n", get16(u + 6),
			      want, ipstr(src), ipstr(dst), len);
		fail();
	}
}

/* Every frame, on the way in: the checks above; then the answers of the hosts. */
static void on_frame(const uint8_t *p, size_t len)
{
	assert_true(len >= 14);
	assert_memory_equal(p + 6, H.dev->mac, 6);
	uint16_t type = get16(p + 12);
	if (type == 0x0806) {
		assert_true(len >= 42);
		const uint8_t *a = p + 14;
		assert_int_equal(get16(a), 1);
		assert_int_equal(get16(a + 2), 0x0800);
		assert_int_equal(a[4], 6);
		assert_int_equal(a[5], 4);
		assert_memory_equal(a + 8, H.dev->mac, 6);
		if (get16(a + 6) != 1)
			return;
		sl_ip t = ip4(get32(a + 24));
		struct host *h = find_host(&t);
		if (h && h->answer) {
			send_arp(a + 8, h->mac, 2, h->mac, get32(a + 24), a + 8, get32(a + 14));
			h->last_answer = H.now;
		}
		return;
	}
	struct ipf f;
	if (!ipf_parse(p, len, &f))
		return;
	if (!f.frag && f.proto == 17)
		check_udp(&f.src, &f.dst, f.data, f.dlen);
	if (f.v6 && !f.frag && f.proto == 58) {
		assert_true(icmp6_ok(&f.src, &f.dst, f.data, f.dlen));
		if (f.dlen >= 24 && f.data[0] == 135) {
			assert_int_equal(f.ttl, 255); /* RFC 4861 §7.1.1 */
			sl_ip t;
			memcpy(t.b, f.data + 8, 16);
			struct host *h = find_host(&t);
			if (h && h->answer && !sl_ip_is_zero(&f.src)) {
				/* §7.2.4: solicited, override, to the solicitation's source */
				send_na(h, &f.src, p + 6, NA_S | NA_O, h->mac);
				h->last_answer = H.now;
			}
		}
	}
}

static void collect(void)
{
	struct sl_frame fr[SL_RX_BATCH];
	int n;
	while ((n = H.wire->ops->rx(H.wire, fr, SL_RX_BATCH, H.now)) > 0) {
		for (int i = 0; i < n; i++) {
			assert_true(H.ncap < CAPMAX);
			assert_true(fr[i].len <= FRAME);
			struct cap *c = &H.cap[H.ncap++];
			memcpy(c->b, fr[i].data, fr[i].len);
			c->len = fr[i].len;
			c->t = H.now;
			H.wire->ops->release(H.wire, &fr[i]);
			on_frame(c->b, c->len);
		}
	}
}

/* Poll at this instant until nothing moves (answers go back and forth at once). */
static void h_poll(void)
{
	for (int k = 0; k < 64; k++) {
		H.peer_sent = false;
		unsigned before = H.ncap;
		sl_stack_poll(H.st, H.now);
		collect();
		if (k >= 1 && !H.peer_sent && H.ncap == before)
			return;
	}
}

/* Run the clock for ns, from deadline to deadline (at most 50 ms at a step). */
static void h_run(uint64_t ns)
{
	uint64_t end = H.now + ns;
	h_poll();
	while (H.now < end) {
		uint64_t next = sl_stack_poll(H.st, H.now);
		collect();
		if (next <= H.now)
			next = H.now + 1 * US;
		if (next > H.now + 50 * MS)
			next = H.now + 50 * MS;
		if (next > end)
			next = end;
		H.now = next;
		h_poll();
	}
}

/* The stack's configuration: 10.0.0.1/24 and fd00::1/64, gateway 10.0.0.254, router
 * fd00::fe. */
static struct sl_stack_config h_cfg(void)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = ip4(ST4);
	c.addrs[0].prefix_len = 24;
	c.addrs[1].addr = ST6;
	c.addrs[1].prefix_len = 64;
	c.n_addrs = 2;
	c.gateway = ip4(GW4);
	c.gateway6 = GW6;
	c.seed = tu_seed(768);
	c.deterministic_secrets = true;
	return c;
}

static void echo_cb(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		    const uint8_t *data, size_t len);

/* Open the stack, wait out DAD (3 s), listen on the echo port 7; captures cleared. */
static void h_up(const struct sl_stack_config *cfg)
{
	memset(&H, 0, sizeof H);
	H.cap = calloc(CAPMAX, sizeof *H.cap);
	assert_non_null(H.cap);
	H.cfg = cfg ? *cfg : h_cfg();
	rs = tu_seed(768) * 0x9e3779b97f4a7c15ULL + 1;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &H.dev, &H.wire), 0);
	H.now = 1 * SEC;
	assert_int_equal(sl_stack_open(H.dev, &H.cfg, H.now, &H.st), 0);
	H.up = true;
	h_run(3 * SEC);
	for (unsigned i = 0; i < H.cfg.n_addrs; i++)
		assert_int_equal(sl_ip_addr_state(H.st, &H.cfg.addrs[i].addr), 0);
	assert_int_equal(sl_udp_listen(H.st, 7, echo_cb, NULL), 0);
	H.ncap = 0;
}

static void h_free(void)
{
	if (!H.up)
		return;
	sl_stack_close(H.st);
	sl_dev_close(H.dev);
	sl_dev_close(H.wire);
	free(H.cap);
	H.up = false;
}

/* Close, and check that every frame went back to its pool. */
static void h_down(void)
{
	sl_stack_close(H.st);
	collect();
	free(H.cap);
	H.up = false;
	pn_close_counted(H.dev, H.wire);
}

static int h_teardown(void **state)
{
	h_free();
	return 0;
}

/* Sends the data back from the port it came to (the docs/api.md example); with
 * echo_src_from_dst, also from the address it came to. */
static void echo_cb(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		    const uint8_t *data, size_t len)
{
	H.echo_calls++;
	H.echo_meta = *m;
	struct sl_udp_write_opts o = {.src = H.echo_src_from_dst ? &m->dst : NULL,
				      .src_port = m->dst_port};
	size_t cut = H.echo_skip + H.echo_trim;
	for (unsigned k = 0; k < (H.echo_times ? H.echo_times : 1); k++)
		H.echo_err = sl_udp_write(st, &o, &m->src, m->src_port, data + H.echo_skip,
					  len > cut ? len - cut : 0);
}

/* --- datagrams out of the captures ---------------------------------------------------------- */

/* A UDP datagram the stack sent, reassembled when it came in fragments. */
struct dg {
	bool v6;
	sl_ip src, dst;
	uint8_t dmac[6];
	uint8_t ttl, tos;
	bool df;
	uint32_t id;
	unsigned nfrags, first, last; /* capture indices of its first and last frame */
	uint64_t t;		      /* when its last frame left */
	size_t iplen0;		      /* IP length of its first frame */
	uint16_t sport, dport, csum;
	size_t len; /* payload bytes */
	const uint8_t *p;
};

#define DGMAX 4096
static struct dg D[DGMAX];
static uint8_t dgpool[16u << 20];
static size_t dgpool_used;

struct partial {
	bool used, v6, have_last;
	sl_ip src, dst;
	uint32_t id;
	uint8_t proto, ttl, tos, dmac[6];
	size_t total, got;
	unsigned nfr, first;
	size_t iplen0;
	uint8_t buf[65536 + 8];
	uint8_t have[65536 + 8];
};
static struct partial PART[4];

/* The protocol dgrams collects: UDP, or (sl_ip_write tests) another; for another, D[].p holds
 * the whole upper-layer message. */
static uint8_t dg_proto = 17;

static void dg_emit(unsigned *n, bool v6, const sl_ip *src, const sl_ip *dst, const uint8_t *dmac,
		    uint8_t ttl, uint8_t tos, bool df, uint32_t id, unsigned nfr, unsigned first,
		    unsigned last,
		    size_t iplen0, const uint8_t *u, size_t ulen)
{
	size_t hl = 0;
	if (dg_proto == 17) {
		check_udp(src, dst, u, ulen);
		hl = 8;
	}
	assert_true(*n < DGMAX);
	assert_true(dgpool_used + ulen <= sizeof dgpool);
	struct dg *d = &D[(*n)++];
	memset(d, 0, sizeof *d);
	d->v6 = v6;
	d->src = *src;
	d->dst = *dst;
	memcpy(d->dmac, dmac, 6);
	d->ttl = ttl;
	d->tos = tos;
	d->df = df;
	d->id = id;
	d->nfrags = nfr;
	d->first = first;
	d->last = last;
	d->t = H.cap[last].t;
	d->iplen0 = iplen0;
	if (hl) {
		d->sport = get16(u);
		d->dport = get16(u + 2);
		d->csum = get16(u + 6);
	}
	d->len = ulen - hl;
	memcpy(dgpool + dgpool_used, u + hl, ulen - hl);
	d->p = dgpool + dgpool_used;
	dgpool_used += ulen - hl;
}

/* The UDP datagrams in the captures from index from on, in D[] (in the order their last
 * frame left); returns how many. Fragments are reassembled with the checks of RFC 791 §3.2
 * and RFC 8200 §4.5; every fragmented datagram must be complete. */
static unsigned dgrams(unsigned from)
{
	unsigned n = 0;
	dgpool_used = 0;
	memset(PART, 0, sizeof PART);
	for (unsigned i = from; i < H.ncap; i++) {
		struct ipf f;
		if (!ipf_parse(H.cap[i].b, H.cap[i].len, &f) || f.proto != dg_proto)
			continue;
		if (!f.frag) {
			dg_emit(&n, f.v6, &f.src, &f.dst, f.fr, f.ttl, f.tos, f.df, f.id, 1, i, i,
				f.iplen,
				f.data, f.dlen);
			continue;
		}
		struct partial *p = NULL;
		for (unsigned k = 0; k < 4 && !p; k++)
			if (PART[k].used && PART[k].v6 == f.v6 && PART[k].id == f.id &&
			    ip_eq(&PART[k].src, &f.src) && ip_eq(&PART[k].dst, &f.dst))
				p = &PART[k];
		for (unsigned k = 0; k < 4 && !p; k++)
			if (!PART[k].used) {
				p = &PART[k];
				memset(p, 0, sizeof *p);
				p->used = true;
				p->v6 = f.v6;
				p->id = f.id;
				p->src = f.src;
				p->dst = f.dst;
				p->proto = f.proto;
				p->ttl = f.ttl;
				p->tos = f.tos;
				memcpy(p->dmac, f.fr, 6);
				p->first = i;
			}
		assert_non_null(p);
		/* The same header in every fragment but length, offset and flags. */
		assert_int_equal(f.proto, p->proto);
		assert_int_equal(f.ttl, p->ttl);
		assert_int_equal(f.tos, p->tos);
		assert_memory_equal(f.fr, p->dmac, 6);
		if (f.mf)
			assert_int_equal(f.dlen % 8, 0); /* all but the last: multiples of 8 */
		assert_true(f.dlen > 0);
		assert_true(f.off + f.dlen <= 65535);
		for (size_t k = 0; k < f.dlen; k++) {
			if (p->have[f.off + k]) {
				print_message("fragments overlap at byte %zu\n", f.off + k);
				fail();
			}
			p->have[f.off + k] = 1;
		}
		memcpy(p->buf + f.off, f.data, f.dlen);
		p->got += f.dlen;
		p->nfr++;
		if (f.off == 0)
			p->iplen0 = f.iplen;
		if (!f.mf) {
			assert_false(p->have_last);
			p->have_last = true;
			p->total = f.off + f.dlen;
		}
		if (p->have_last && p->got == p->total) {
			dg_emit(&n, p->v6, &p->src, &p->dst, p->dmac, p->ttl, p->tos, false, p->id,
				p->nfr,
				p->first, i, p->iplen0, p->buf, p->total);
			p->used = false;
		}
	}
	for (unsigned k = 0; k < 4; k++)
		if (PART[k].used) {
			print_message(
			    "an incomplete fragmented datagram (id %#x, %zu of %zu bytes)\n",
			    PART[k].id, PART[k].got, PART[k].have_last ? PART[k].total : 0);
			fail();
		}
	return n;
}

/* RFC 791 (and RFC 6864 §4.1): the identification of a datagram that may be fragmented
 * (DF clear) is not reused for the same source, destination and protocol while it may still
 * be in the network; the datagrams of one test all are. */
static void note_id(const struct dg *d)
{
	if (d->v6 || d->df)
		return;
	uint32_t dst = sl_ip_to_v4(&d->dst);
	for (unsigned i = 0; i < H.nids; i++)
		if (H.ids[i].dst == dst && H.ids[i].id == d->id) {
			print_message("IPv4 identification %u used twice towards %s\n", d->id,
				      ipstr(&d->dst));
			fail();
		}
	if (H.nids < sizeof H.ids / sizeof H.ids[0]) {
		H.ids[H.nids].dst = dst;
		H.ids[H.nids].id = (uint16_t)d->id;
		H.nids++;
	}
}

/* The TTL / hop limit a datagram written with options o must carry. */
static uint8_t want_ttl(const struct sl_udp_write_opts *o)
{
	if (o && o->ttl)
		return o->ttl;
	return H.cfg.ttl ? H.cfg.ttl : 64;
}

/* Check d against what was written. src: the source it must have (NULL: o->src, else any of
 * ours); mac: the Ethernet destination (NULL: not checked). */
static void check_dg(const struct dg *d, const sl_ip *dst, const uint8_t *mac,
		     const struct sl_udp_write_opts *o, const sl_ip *src, int dport,
		     const uint8_t *data, size_t len)
{
	assert_ip_equal(&d->dst, dst);
	assert_int_equal(d->v6, !sl_ip_is_v4(dst));
	if (!src && o && o->src)
		src = o->src;
	if (src)
		assert_ip_equal(&d->src, src);
	if (mac && memcmp(d->dmac, mac, 6)) {
		print_message("to %s: Ethernet destination %02x:%02x:%02x:%02x:%02x:%02x, want "
			      "%02x:%02x:%02x:%02x:%02x:%02x\n",
			      ipstr(dst), d->dmac[0], d->dmac[1], d->dmac[2], d->dmac[3],
			      d->dmac[4], d->dmac[5], mac[0], mac[1], mac[2], mac[3], mac[4],
			      mac[5]);
		fail();
	}
	if (o && o->src_port)
		assert_int_equal(d->sport, o->src_port);
	else
		assert_true(d->sport >= 49152); /* API: ephemeral 49152..65535 */
	assert_int_equal(d->dport, dport);
	assert_int_equal(d->len, len);
	if (len)
		assert_memory_equal(d->p, data, len);
	assert_int_equal(d->ttl, want_ttl(o));
	assert_int_equal(d->tos, o ? o->tos : 0);
	if (!d->v6)
		assert_int_equal(d->df, o && o->dont_fragment);
	if (d->nfrags == 1) /* IP total / payload length: header, UDP header, data */
		assert_int_equal(d->iplen0, (d->v6 ? 40 : 20) + 8 + len);
	note_id(d);
}

/* Write one datagram, let the link settle, and return it (checked: check_dg; the frame checks
 * ran on the way in). Also: udp_tx advanced by one, tx_frames by the frames that left. */
static const struct dg *xfer_src(const sl_ip *dst, const uint8_t *mac,
				 const struct sl_udp_write_opts *o, const sl_ip *src, int dport,
				 const uint8_t *data, size_t len)
{
	unsigned from = H.ncap;
	uint64_t udp0 = STAT(udp_tx), tx0 = STAT(tx_frames);
	int r = sl_udp_write(H.st, o, dst, dport, data, len);
	if (r) {
		print_message("sl_udp_write to %s, %zu bytes: %d (%s)\n", ipstr(dst), len, r,
			      sl_strerror(r));
		fail();
	}
	h_poll();
	assert_int_equal(STAT(udp_tx) - udp0, 1);
	assert_int_equal(STAT(tx_frames) - tx0, H.ncap - from);
	unsigned n = dgrams(from);
	if (n != 1) {
		print_message("%u datagrams left for one sl_udp_write to %s\n", n, ipstr(dst));
		fail();
	}
	check_dg(&D[0], dst, mac, o, src, dport, data, len);
	return &D[0];
}

static const struct dg *xfer(const sl_ip *dst, const uint8_t *mac,
			     const struct sl_udp_write_opts *o, int dport, const uint8_t *data,
			     size_t len)
{
	return xfer_src(dst, mac, o, NULL, dport, data, len);
}

/* A datagram that must not leave: the write fails with err, no UDP leaves, udp_tx stays (other
 * frames may: DAD, ARP, ND; every one counted in tx_frames). */
static void refused(const sl_ip *dst, const struct sl_udp_write_opts *o, int dport, size_t len,
		    int err)
{
	static uint8_t buf[65536];
	unsigned from = H.ncap;
	uint64_t udp0 = STAT(udp_tx), tx0 = STAT(tx_frames);
	int r = sl_udp_write(H.st, o, dst, dport, buf, len);
	if (r != err) {
		print_message("sl_udp_write to %s, %zu bytes: %d (%s), want %d (%s)\n", ipstr(dst),
			      len, r, sl_strerror(r), err, sl_strerror(err));
		fail();
	}
	h_poll();
	assert_int_equal(STAT(udp_tx), udp0);
	assert_int_equal(STAT(tx_frames) - tx0, H.ncap - from);
	assert_int_equal(dgrams(from), 0);
	for (unsigned i = from; i < H.ncap; i++) {
		struct ipf f;
		assert_false(ipf_parse(H.cap[i].b, H.cap[i].len, &f) && f.proto == 17);
	}
}

/* --- ARP and ND in the captures ------------------------------------------------------------- */

struct req {
	unsigned idx;
	uint64_t t;
	bool unicast; /* sent to the host's unicast address / MAC (a refresh or NUD probe) */
	uint8_t dmac[6];
};

/* ARP requests (IPv4) or NS (IPv6) for h's address from capture index from on. */
static unsigned requests(unsigned from, const struct host *h, struct req *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		const uint8_t *p = H.cap[i].b;
		struct req r = {.idx = i, .t = H.cap[i].t};
		memcpy(r.dmac, p, 6);
		if (get16(p + 12) == 0x0806) {
			const uint8_t *a = p + 14;
			if (get16(a + 6) != 1 || !sl_ip_is_v4(&h->ip) ||
			    get32(a + 24) != sl_ip_to_v4(&h->ip))
				continue;
			r.unicast = memcmp(p, BCAST, 6) != 0;
		} else {
			struct ipf f;
			if (!ipf_parse(p, H.cap[i].len, &f) || !f.v6 || f.frag || f.proto != 58 ||
			    f.dlen < 24 || f.data[0] != 135 || memcmp(f.data + 8, h->ip.b, 16))
				continue;
			r.unicast = f.dst.b[0] != 0xff;
			if (r.unicast)
				assert_ip_equal(&f.dst, &h->ip);
			else /* RFC 4861 §7.2.2: the solicited-node group, on its 33:33 MAC */
				assert_true(f.dst.b[11] == 1 && f.dst.b[12] == 0xff &&
					    p[0] == 0x33);
		}
		if (n < max)
			out[n] = r;
		n++;
	}
	return n;
}

/* Any ARP request or NS for an address in the captures from index from on. */
static unsigned requests_for(unsigned from, const sl_ip *a)
{
	struct host h = {.ip = *a};
	struct req r[1];
	return requests(from, &h, r, 0);
}

/* --- payload lengths, checksums, lengths, TTL --------------------------------------------------
 */

static const size_t LENS[] = {0, 1, 2, 3, 7, 8, 15, 63, 64, 65, 255, 1000, 1471, 1472};
#define NLENS (sizeof LENS / sizeof LENS[0])
static const size_t ALIGNS[] = {0, 1, 2, 3, 5, 7, 13, 15};
#define NALIGNS (sizeof ALIGNS / sizeof ALIGNS[0])

/* RFC 768 / RFC 791 over IPv4: every payload length of the list (1472: the largest that
 * leaves whole at MTU 1500), each from source memory at odd and even addresses; the frame
 * checks (header checksum, total length, UDP length and checksum) run on every one, and each
 * datagram carries the bytes written, from 10.0.0.1, TTL 64, no DF, a fresh identification. */
static void test_v4_payload_lengths(void **state)
{
	h_up(NULL);
	struct host *p = peer4(0);
	static uint8_t buf[2048 + 32];
	for (size_t li = 0; li < NLENS; li++)
		for (size_t ai = 0; ai < NALIGNS; ai++) {
			size_t len = LENS[li];
			uint8_t *d = buf + ALIGNS[ai];
			fill_random(d, len);
			struct sl_udp_write_opts o = {.src_port = (int)(20000 + li * 16 + ai)};
			const struct dg *g =
			    xfer_src(&p->ip, p->mac, &o, &S4, 9000 + (int)len, d, len);
			assert_int_equal(g->nfrags, 1);
		}
	/* The ephemeral port (src_port 0) and source selection (src NULL) too. */
	for (size_t li = 0; li < NLENS; li++) {
		fill_random(buf + 1, LENS[li]);
		const struct dg *g = xfer_src(&p->ip, p->mac, NULL, &S4, 53, buf + 1, LENS[li]);
		assert_int_equal(g->nfrags, 1);
	}
	h_down();
}

/* The same over IPv6 (RFC 8200 §8.1 pseudo-header; payload length; hop limit 64): 1452 is the
 * largest payload that leaves whole at MTU 1500. */
static void test_v6_payload_lengths(void **state)
{
	h_up(NULL);
	struct host *p = peer6(0);
	static uint8_t buf[2048 + 32];
	static const size_t more[] = {1452};
	for (size_t li = 0; li < NLENS + 1; li++)
		for (size_t ai = 0; ai < NALIGNS; ai++) {
			size_t len = li < NLENS ? LENS[li] : more[li - NLENS];
			uint8_t *d = buf + ALIGNS[ai];
			fill_random(d, len);
			struct sl_udp_write_opts o = {.src_port = (int)(20000 + li * 16 + ai)};
			const struct dg *g =
			    xfer_src(&p->ip, p->mac, &o, &ST6, 9000 + (int)len, d, len);
			assert_int_equal(g->nfrags, len <= 1452 ? 1 : 2); /* 1471, 1472: 2 */
		}
	for (size_t li = 0; li < NLENS; li++) {
		fill_random(buf + 3, LENS[li]);
		const struct dg *g = xfer_src(&p->ip, p->mac, NULL, &ST6, 53, buf + 3, LENS[li]);
		assert_int_equal(g->nfrags, LENS[li] <= 1452 ? 1 : 2);
	}
	h_down();
}

/* A peer's datagram to the echo port and the reply to it: the reply goes back to the peer's
 * address, MAC and port, from the port it was sent to and the stack's address, with the bytes
 * received. Returns the reply. */
static const struct dg *echo_from(const struct host *h, const sl_ip *to, const uint8_t *eth_dst,
				  uint16_t sport, const uint8_t *data, size_t len,
				  const sl_ip *want_src)
{
	unsigned from = H.ncap;
	unsigned calls = H.echo_calls;
	uint64_t udp0 = STAT(udp_tx);
	send_udp(h, to, eth_dst, sport, 7, data, len);
	h_poll();
	assert_int_equal(H.echo_calls, calls + 1);
	assert_int_equal(H.echo_err, 0);
	assert_int_equal(STAT(udp_tx) - udp0, 1);
	assert_int_equal(dgrams(from), 1);
	struct sl_udp_write_opts o = {.src_port = 7};
	check_dg(&D[0], &h->ip, h->mac, &o, want_src, sport, data, len);
	return &D[0];
}

/* Replies over both families, every length of the list, and a datagram that came (and goes
 * back) in fragments: 1473 bytes over IPv4, 1453 over IPv6. */
static void test_replies_lengths(void **state)
{
	h_up(NULL);
	static uint8_t buf[4096];
	struct host *p4 = peer4(3), *p6 = peer6(3);
	for (size_t li = 0; li < NLENS + 3; li++) {
		size_t len = li < NLENS	       ? LENS[li]
			     : li == NLENS     ? 1473
			     : li == NLENS + 1 ? 1453
					       : 3000;
		fill_random(buf, len);
		if (len != 1453) {
			const struct dg *g =
			    echo_from(p4, &S4, NULL, (uint16_t)(33000 + li), buf, len, &S4);
			assert_int_equal(g->nfrags, (8 + len + 1479) / 1480);
		}
		if (len != 1473) {
			fill_random(buf, len);
			const struct dg *g =
			    echo_from(p6, &ST6, NULL, (uint16_t)(34001 + li), buf, len, &ST6);
			assert_int_equal(g->nfrags, len <= 1452 ? 1 : (8 + len + 1447) / 1448);
		}
	}
	h_down();
}

/* A reply made of part of the datagram being delivered (its first bytes, its last bytes, the
 * middle), the whole of it twice, and the whole of a datagram sent without a checksum (IPv4,
 * RFC 768: zero means none was computed): each reply's checksum must be the RFC 1071 sum of
 * what it carries, whatever the stack knew of the bytes it was given. */
static void test_replies_of_parts(void **state)
{
	h_up(NULL);
	static uint8_t buf[4096];
	static const size_t lens[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 200, 1001, 1472, 1473, 3000};
	static const struct {
		size_t skip, trim;
		unsigned times;
		bool no_csum;
	} modes[] = {{0, 1, 1, false}, {1, 0, 1, false}, {2, 3, 1, false}, {0, 0, 2, false},
		     {0, 0, 1, true},  {1, 1, 1, true}};
	struct host *p4 = peer4(2), *p6 = peer6(2);
	for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++)
		for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
			for (int fam = 0; fam < 2; fam++) {
				size_t len = lens[li];
				if (fam && (modes[mi].no_csum || len == 1473))
					continue; /* IPv6 has no checksum-less datagrams */
				H.echo_skip = modes[mi].skip;
				H.echo_trim = modes[mi].trim;
				H.echo_times = modes[mi].times;
				H.send_no_csum = modes[mi].no_csum;
				size_t cut = H.echo_skip + H.echo_trim;
				size_t rlen = len > cut ? len - cut : 0;
				struct host *p = fam ? p6 : p4;
				const sl_ip *to = fam ? &ST6 : &S4;
				uint16_t sport = (uint16_t)(40000 + mi * 100 + li * 2 + (unsigned)fam);
				fill_random(buf, len);
				unsigned from = H.ncap, calls = H.echo_calls;
				send_udp(p, to, NULL, sport, 7, buf, len);
				h_poll();
				assert_int_equal(H.echo_calls, calls + 1);
				assert_int_equal(H.echo_err, 0);
				unsigned want = modes[mi].times;
				assert_int_equal(dgrams(from), want);
				struct sl_udp_write_opts o = {.src_port = 7};
				for (unsigned k = 0; k < want; k++)
					check_dg(&D[k], &p->ip, p->mac, &o, to, sport,
						 buf + H.echo_skip, rlen);
			}
	H.echo_skip = H.echo_trim = 0;
	H.echo_times = 0;
	H.send_no_csum = false;
	h_down();
}

/* A payload that makes the UDP checksum compute to 0 from src:sport to dst:dport: two bytes
 * at data[0..1] chosen so that the sum over pseudo-header, header and data is 0xffff. */
static void make_zero_sum(const sl_ip *src, const sl_ip *dst, uint16_t sport, uint16_t dport,
			  uint8_t *data, size_t len)
{
	assert_true(len >= 2);
	data[0] = data[1] = 0;
	uint8_t h[8];
	put16(h, sport);
	put16(h + 2, dport);
	put16(h + 4, (uint16_t)(8 + len));
	put16(h + 6, 0);
	uint16_t s = ref_pseudo(src, dst, 17, (uint32_t)(8 + len));
	s = ref_sum(h, 8, s);
	s = ref_sum(data, len, s);
	put16(data, (uint16_t)(0xffff - s));
	assert_int_equal(
	    ref_sum(data, len, ref_sum(h, 8, ref_pseudo(src, dst, 17, (uint32_t)(8 + len)))),
	    0xffff);
}

/* RFC 768: "If the computed checksum is zero, it is transmitted as all ones"; RFC 8200 §8.1:
 * the same for IPv6, where 0 would mean no checksum and is refused. Payloads made to sum to
 * zero, whole and in fragments (the checksum then sits in the first fragment), at odd and
 * even source addresses. */
static void test_zero_checksum_sent_as_ffff(void **state)
{
	h_up(NULL);
	static uint8_t buf[4096 + 16];
	static const size_t lens[] = {2, 3, 9, 100, 1001, 1452, 1453, 1472, 1473, 3000};
	struct host *p4 = peer4(1), *p6 = peer6(1);
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t a = 0; a < 4; a++) {
			size_t len = lens[li];
			uint8_t *d = buf + a;
			struct sl_udp_write_opts o = {.src = &S4, .src_port = 4242};
			fill_random(d, len);
			make_zero_sum(&S4, &p4->ip, 4242, 4343, d, len);
			const struct dg *g = xfer(&p4->ip, p4->mac, &o, 4343, d, len);
			assert_int_equal(g->csum, 0xffff);
			o.src = &ST6;
			fill_random(d, len);
			make_zero_sum(&ST6, &p6->ip, 4242, 4343, d, len);
			g = xfer(&p6->ip, p6->mac, &o, 4343, d, len);
			assert_int_equal(g->csum, 0xffff);
			/* and a reply whose checksum computes to zero */
			fill_random(d, len);
			make_zero_sum(&S4, &p4->ip, 7, 5151, d, len);
			g = echo_from(p4, &S4, NULL, 5151, d, len, &S4);
			assert_int_equal(g->csum, 0xffff);
		}
	h_down();
}

/* Transmit checksum offload (the pipe end offers it, as an AF_XDP socket with TX metadata
 * does): every single-frame datagram, written or echoed, over both families, leaves its
 * checksum to the device, and what arrives carries the reference sum (RFC 768, RFC 8200
 * §8.1), a computed zero as all ones; fragmented datagrams are summed by the stack. */
static void test_tx_csum_offload(void **state)
{
	h_up(NULL);
	sl_dev_pipe_set_tx_csum(H.dev, true);
	static uint8_t buf[4096];
	static const size_t lens[] = {0, 1, 2, 3, 63, 64, 65, 1001, 1452, 1453, 1472, 1473, 3000};
	struct host *p4 = peer4(1), *p6 = peer6(1);
	unsigned whole = 0;
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		size_t len = lens[li];
		struct sl_udp_write_opts o = {.src = &S4, .src_port = 4242};
		fill_random(buf, len);
		xfer(&p4->ip, p4->mac, &o, 4343, buf, len);
		whole += len <= 1472;
		o.src = &ST6;
		fill_random(buf, len);
		xfer(&p6->ip, p6->mac, &o, 4343, buf, len);
		whole += len <= 1452;
		fill_random(buf, len);
		echo_from(p4, &S4, NULL, (uint16_t)(36000 + li), buf, len, &S4);
		whole += len <= 1472;
		fill_random(buf, len);
		echo_from(p6, &ST6, NULL, (uint16_t)(37000 + li), buf, len, &ST6);
		whole += len <= 1452;
		if (len >= 2) { /* a payload whose checksum computes to zero */
			o.src = &S4;
			fill_random(buf, len);
			make_zero_sum(&S4, &p4->ip, 4242, 4343, buf, len);
			assert_int_equal(xfer(&p4->ip, p4->mac, &o, 4343, buf, len)->csum, 0xffff);
			whole += len <= 1472;
		}
	}
	h_run(100 * MS); /* the device's counters reach the stack's every 50 ms */
	assert_int_equal(STAT(dev_tx_csum_offload), whole);
	/* To an address of our own: looped inside the stack, where no device finishes the
	 * checksum, so the stack does; the echo service takes it (its checksum verified). */
	for (size_t len = 1; len < 200; len += 37) {
		unsigned calls = H.echo_calls;
		struct sl_udp_write_opts o = {.src = &S4, .src_port = 4242};
		fill_random(buf, len);
		assert_int_equal(sl_udp_write(H.st, &o, &S4, 7, buf, len), 0);
		h_poll();
		assert_int_equal(H.echo_calls, calls + 1);
	}
	assert_int_equal(STAT(udp_bad_csum), 0);
	h_down();
}

/* The TTL (RFC 791) / hop limit (RFC 8200): the stack's default (64) unless a write asks for
 * another, write by write to the same destination (a header kept from one write must not
 * carry its TTL into the next). */
static void test_ttl_default_and_per_write(void **state)
{
	h_up(NULL);
	static const uint8_t ttls[] = {0, 1, 0, 2, 63, 0, 128, 255, 0, 64, 1, 0, 0, 200};
	uint8_t d[100];
	fill_random(d, sizeof d);
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < sizeof ttls; k++) {
			struct sl_udp_write_opts o = {.ttl = ttls[k], .src_port = 1000 + (int)k};
			xfer(&peer4(0)->ip, peer4(0)->mac, &o, 2000, d, k * 7);
			xfer(&peer6(0)->ip, peer6(0)->mac, &o, 2000, d, k * 7);
			/* fragments carry it too */
			static uint8_t big[3000];
			xfer(&peer4(0)->ip, peer4(0)->mac, &o, 2000, big, sizeof big);
			xfer(&peer6(0)->ip, peer6(0)->mac, &o, 2000, big, sizeof big);
		}
	h_down();
}

/* sl_udp_write_opts.tos: the TOS byte (IPv4) or traffic class (IPv6) of the datagram, every bit
 * as given (ECN bits too: a UDP application may mark ECT, RFC 3168 §5), in every fragment;
 * 0 by default (check_dg compares every datagram of every test with its write's). */
static void test_tos_per_write(void **state)
{
	h_up(NULL);
	static const uint8_t toss[] = {0, 0x2b, 0, 0xb8, 0xff, 0x01, 0, 0xe0};
	uint8_t d[100];
	fill_random(d, sizeof d);
	static uint8_t big[3000];
	for (size_t k = 0; k < sizeof toss; k++) {
		struct sl_udp_write_opts o = {.tos = toss[k], .src_port = 1000 + (int)k};
		xfer(&peer4(0)->ip, peer4(0)->mac, &o, 2000, d, k * 7);
		xfer(&peer6(0)->ip, peer6(0)->mac, &o, 2000, d, k * 7);
		xfer(&peer4(0)->ip, peer4(0)->mac, &o, 2000, big, sizeof big);
		xfer(&peer6(0)->ip, peer6(0)->mac, &o, 2000, big, sizeof big);
		o.src_port = 0; /* the general path: an ephemeral port */
		xfer(&peer4(1)->ip, peer4(1)->mac, &o, 2000, d, 10);
		xfer(&peer6(1)->ip, peer6(1)->mac, &o, 2000, d, 10);
	}
	h_down();
}

/* sl_stack_config.ttl sets the default (for both families); a write's ttl still wins. */
static void test_ttl_configured_default(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.ttl = 200;
	h_up(&c);
	uint8_t d[10] = {1, 2, 3};
	for (int k = 0; k < 4; k++) {
		struct sl_udp_write_opts o = {.ttl = (uint8_t)(k & 1 ? 7 : 0)};
		const struct dg *g = xfer(&peer4(0)->ip, peer4(0)->mac, &o, 2000, d, sizeof d);
		assert_int_equal(g->ttl, k & 1 ? 7 : 200);
		g = xfer(&peer6(0)->ip, peer6(0)->mac, &o, 2000, d, sizeof d);
		assert_int_equal(g->ttl, k & 1 ? 7 : 200);
	}
	h_down();
}

/* dont_fragment (ip.h: "set DF"): DF on exactly the datagrams that asked, alternating to one
 * destination; too big with it: -EMSGSIZE and nothing sent (RFC 791: a DF datagram is not
 * fragmented). IPv6 has no DF bit; the option refuses what would need fragments. */
static void test_dont_fragment(void **state)
{
	h_up(NULL);
	struct host *p4 = peer4(2), *p6 = peer6(2);
	static uint8_t d[1500];
	fill_random(d, sizeof d);
	for (int k = 0; k < 12; k++) {
		struct sl_udp_write_opts o = {.dont_fragment = k % 3 != 1, .src_port = 777};
		size_t len = k % 4 == 0 ? 0 : k % 4 == 1 ? 100 : k % 4 == 2 ? 1472 : 1;
		const struct dg *g = xfer(&p4->ip, p4->mac, &o, 778, d, len);
		assert_int_equal(g->df, o.dont_fragment);
		g = xfer(&p6->ip, p6->mac, &o, 778, d, len < 1452 ? len : 1452);
		assert_int_equal(g->nfrags, 1);
	}
	struct sl_udp_write_opts df = {.dont_fragment = true};
	uint64_t tb4 = STAT(ipv4_too_big), tb6 = STAT(ipv6_too_big);
	refused(&p4->ip, &df, 9, 1473, -EMSGSIZE);
	refused(&p4->ip, &df, 9, 4000, -EMSGSIZE);
	refused(&p6->ip, &df, 9, 1453, -EMSGSIZE);
	refused(&p6->ip, &df, 9, 4000, -EMSGSIZE);
	assert_int_equal(STAT(ipv4_too_big) - tb4, 2);
	assert_int_equal(STAT(ipv6_too_big) - tb6, 2);
	/* without it the same sizes go, in fragments without DF */
	static uint8_t big[4000];
	const struct dg *g = xfer(&p4->ip, p4->mac, NULL, 9, big, 1473);
	assert_int_equal(g->nfrags, 2);
	g = xfer(&p6->ip, p6->mac, NULL, 9, big, 1453);
	assert_int_equal(g->nfrags, 2);
	/* and DF again right after */
	g = xfer(&p4->ip, p4->mac, &df, 9, big, 1472);
	assert_true(g->df);
	h_down();
}

/* RFC 791 / RFC 6864 §4.1: consecutive datagrams that may be fragmented carry identifications
 * not used before towards the same destination (note_id checks every datagram of every test;
 * here many, to three destinations at once, on-link and through the gateway). */
static void test_v4_identification_changes(void **state)
{
	h_up(NULL);
	sl_ip off = ip4(0xc0000201u); /* 192.0.2.1: through the gateway */
	uint8_t d[64] = {0};
	for (int k = 0; k < 300; k++) {
		put16(d, (uint16_t)k);
		xfer(&peer4(0)->ip, peer4(0)->mac, NULL, 1, d, sizeof d);
		xfer(&peer4(1)->ip, peer4(1)->mac, NULL, 1, d, sizeof d);
		const struct dg *g = xfer(&off, gw4()->mac, NULL, 1, d, sizeof d);
		assert_ip_equal(&g->src, &S4);
	}
	assert_true(H.nids >= 900);
	h_down();
}

/* The frames of datagram d, sorted by fragment offset. */
static unsigned frames_of(const struct dg *d, struct ipf *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = d->first; i <= d->last; i++) {
		struct ipf f;
		if (!ipf_parse(H.cap[i].b, H.cap[i].len, &f) || f.proto != 17 || f.v6 != d->v6 ||
		    !ip_eq(&f.src, &d->src) || !ip_eq(&f.dst, &d->dst))
			continue;
		if (d->nfrags > 1 && (!f.frag || f.id != d->id))
			continue;
		assert_true(n < max);
		out[n++] = f;
	}
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && out[j - 1].off > out[j].off; j--) {
			struct ipf t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* Fragmentation (RFC 791 §3.2 over IPv4, RFC 8200 §4.5 over IPv6) of a datagram of len bytes
 * to p at MTU mtu: the fragments follow one another from offset 0 with MF/M set on all but
 * the last, each fills the MTU (the RFC 791 procedure: (MTU − header) / 8 blocks a fragment;
 * for IPv6, less the fragment header), the first holds the UDP header, and the reassembled
 * datagram (checked in dgrams) is what was written. Counters: udp_tx +1, one tx_frames and one
 * ipv4_frags_sent / ipv6_frags_sent per fragment. */
static void check_fragmented(const struct host *p, size_t len, size_t align, uint32_t mtu,
			     const struct sl_udp_write_opts *o)
{
	static uint8_t buf[65536 + 32];
	static struct ipf fr[64];
	uint8_t *d = buf + align;
	fill_random(d, len);
	bool v6 = !sl_ip_is_v4(&p->ip);
	uint64_t fs0 = v6 ? STAT(ipv6_frags_sent) : STAT(ipv4_frags_sent);
	const struct dg *g = xfer(&p->ip, p->mac, o, 6000, d, len);
	size_t total = 8 + len;
	size_t per = v6 ? (mtu - 48) & ~7u : (mtu - 20) & ~7u;
	unsigned want = (unsigned)((total + per - 1) / per);
	assert_int_equal(g->nfrags, want);
	unsigned n = frames_of(g, fr, 64);
	assert_int_equal(n, want);
	assert_int_equal((v6 ? STAT(ipv6_frags_sent) : STAT(ipv4_frags_sent)) - fs0, want);
	size_t off = 0;
	for (unsigned k = 0; k < n; k++) {
		assert_true(fr[k].frag);
		assert_int_equal(fr[k].off, off);
		assert_int_equal(fr[k].mf, k + 1 < n);
		assert_int_equal(fr[k].dlen, k + 1 < n ? per : total - off);
		assert_true(fr[k].iplen <= mtu);
		assert_int_equal(fr[k].iplen, (v6 ? 48 : 20) + fr[k].dlen);
		assert_false(fr[k].df);
		assert_int_equal(fr[k].id, g->id);
		off += fr[k].dlen;
	}
	assert_int_equal(off, total);
	assert_int_equal(get16(fr[0].data + 4), total); /* the UDP header, in the first */
}

/* IPv4: 1473 bytes (one more than fits) and on up to 65507 (the most a UDP datagram over IPv4
 * holds, api.md), at several source alignments; 65508 is refused (-EMSGSIZE) with nothing
 * sent. A TTL asked for is in every fragment. */
static void test_v4_fragments(void **state)
{
	h_up(NULL);
	static const size_t lens[] = {1473, 1474, 1479, 1480, 1481, 2000, 2952, 2953, 4000, 8972};
	struct host *p = peer4(4);
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t a = 0; a < 3; a++)
			check_fragmented(p, lens[li], a * 3, 1500, NULL);
	struct sl_udp_write_opts o = {.ttl = 9, .src = &S4, .src_port = 999};
	check_fragmented(p, 5000, 1, 1500, &o);
	check_fragmented(p, 65507, 3, 1500, NULL);
	refused(&p->ip, NULL, 6000, 65508, -EMSGSIZE);
	refused(&p->ip, NULL, 6000, 65535, -EMSGSIZE);
	h_down();
}

/* IPv6: 1453 bytes and on up to 65527 (the payload length field's limit: 65535 bytes of UDP,
 * RFC 8200 §3); 65528 is refused. Fragment identifications differ between datagrams. */
static void test_v6_fragments(void **state)
{
	h_up(NULL);
	static const size_t lens[] = {1453, 1454, 1460, 2000, 2888, 2889, 2897, 4000, 8952};
	struct host *p = peer6(4);
	uint32_t ids[64];
	unsigned nids = 0;
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t a = 0; a < 3; a++) {
			check_fragmented(p, lens[li], a * 5, 1500, NULL);
			ids[nids++] = D[0].id;
		}
	struct sl_udp_write_opts o = {.ttl = 3, .src = &ST6, .src_port = 999};
	check_fragmented(p, 5000, 1, 1500, &o);
	ids[nids++] = D[0].id;
	for (unsigned i = 0; i < nids; i++)
		for (unsigned j = i + 1; j < nids; j++)
			assert_true(ids[i] != ids[j]);
	check_fragmented(p, 65507, 3, 1500, NULL);
	check_fragmented(p, 65527, 0, 1500, NULL);
	refused(&p->ip, NULL, 6000, 65528, -EMSGSIZE);
	h_down();
}

/* Copy and checksum from source memory at every alignment 0..15, the datagram whole and
 * split across fragment boundaries at odd offsets into the caller's buffer. */
static void test_unaligned_sources_across_fragments(void **state)
{
	h_up(NULL);
	static const size_t lens[] = {1, 17, 1471, 1472, 1473, 2961, 3001};
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t a = 0; a < 16; a++) {
			size_t len = lens[li];
			static uint8_t b[3001 + 16];
			if (len > 1472) {
				check_fragmented(peer4(5), len, a, 1500, NULL);
			} else {
				fill_random(b + a, len);
				xfer(&peer4(5)->ip, peer4(5)->mac, NULL, 1, b + a, len);
			}
			if (len > 1452) {
				check_fragmented(peer6(5), len, a, 1500, NULL);
			} else {
				fill_random(b + a, len);
				xfer(&peer6(5)->ip, peer6(5)->mac, NULL, 1, b + a, len);
			}
		}
	/* random data at every alignment, whole */
	static uint8_t buf[1500 + 16];
	for (size_t a = 0; a < 16; a++)
		for (size_t len = 0; len < 40; len++) {
			fill_random(buf + a, len);
			xfer(&peer4(5)->ip, peer4(5)->mac, NULL, 1, buf + a, len);
			xfer(&peer6(5)->ip, peer6(5)->mac, NULL, 1, buf + a, len);
		}
	h_down();
}

/* A smaller MTU (sl_stack_config.mtu 1280, the IPv6 minimum): fragments fill that, not the
 * device's 1500. */
static void test_fragments_at_configured_mtu(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.mtu = 1280;
	h_up(&c);
	assert_int_equal(sl_ip_mtu(H.st, &peer4(0)->ip), 1260);
	assert_int_equal(sl_ip_mtu(H.st, &peer6(0)->ip), 1240);
	static uint8_t d[1300];
	const struct dg *g = xfer(&peer4(0)->ip, peer4(0)->mac, NULL, 1, d, 1252);
	assert_int_equal(g->nfrags, 1);
	g = xfer(&peer6(0)->ip, peer6(0)->mac, NULL, 1, d, 1232);
	assert_int_equal(g->nfrags, 1);
	check_fragmented(peer4(0), 1253, 1, 1280, NULL);
	check_fragmented(peer6(0), 1233, 1, 1280, NULL);
	check_fragmented(peer4(0), 9000, 2, 1280, NULL);
	check_fragmented(peer6(0), 9000, 2, 1280, NULL);
	h_down();
}

/* --- many destinations ------------------------------------------------------------------------ */

#define NPEERS 40

/* Find the datagram in D[0..n) whose payload starts with tag (32 bits); -1 if none, and it
 * must be the only one. */
static int find_tag(unsigned n, uint32_t tag)
{
	int at = -1;
	for (unsigned i = 0; i < n; i++)
		if (D[i].len >= 4 && get32(D[i].p) == tag) {
			assert_int_equal(at, -1);
			at = (int)i;
		}
	return at;
}

/* A burst: one datagram to each of hosts hs[0..n) (tag = base + i) before the stack polls;
 * then every one must have left once, to its host's address and MAC. */
static void burst(struct host **hs, unsigned n, uint32_t base, size_t len)
{
	static uint8_t d[2000];
	unsigned from = H.ncap;
	uint64_t udp0 = STAT(udp_tx), tx0 = STAT(tx_frames);
	for (unsigned i = 0; i < n; i++) {
		fill_random(d, len);
		put32(d, base + i);
		struct sl_udp_write_opts o = {.src_port = 1024 + (int)i};
		assert_int_equal(sl_udp_write(H.st, &o, &hs[i]->ip, 4000 + (int)i, d, len), 0);
	}
	h_poll();
	assert_int_equal(STAT(udp_tx) - udp0, n);
	assert_int_equal(STAT(tx_frames) - tx0, H.ncap - from);
	unsigned got = dgrams(from);
	assert_int_equal(got, n);
	for (unsigned i = 0; i < n; i++) {
		int k = find_tag(got, base + i);
		if (k < 0) {
			print_message("the datagram to %s (tag %u) never left\n", ipstr(&hs[i]->ip),
				      base + i);
			fail();
		}
		assert_ip_equal(&D[k].dst, &hs[i]->ip);
		assert_memory_equal(D[k].dmac, hs[i]->mac, 6);
		assert_int_equal(D[k].sport, 1024 + i);
		assert_int_equal(D[k].dport, 4000 + i);
		assert_int_equal(D[k].len, len);
		assert_ip_equal(&D[k].src, sl_ip_is_v4(&hs[i]->ip) ? &S4 : &ST6);
		note_id(&D[k]);
	}
}

/* 40 on-link peers of each family, more than any small direct-mapped cache holds: bursts to
 * all of them (the first resolves 40 neighbours at once, each queued datagram released to its
 * own MAC), then round robin, one at a time and in bursts, IPv4 and IPv6 interleaved. Every
 * datagram carries its own peer's address and MAC. */
static void test_many_peers_round_robin(void **state)
{
	h_up(NULL);
	struct host *v4[NPEERS], *v6[NPEERS], *mix[2 * NPEERS];
	for (unsigned i = 0; i < NPEERS; i++) {
		v4[i] = peer4(i);
		v6[i] = peer6(i);
		mix[2 * i] = v4[i];
		mix[2 * i + 1] = v6[i];
	}
	burst(v4, NPEERS, 1000, 64);
	burst(v6, NPEERS, 2000, 64);
	for (unsigned r = 0; r < 5; r++) {
		burst(v4, NPEERS, 10000 + 100 * r, 4 + r * 300);
		burst(v6, NPEERS, 20000 + 100 * r, 4 + r * 290);
		burst(mix, 2 * NPEERS, 30000 + 100 * r, 13 + r);
	}
	uint8_t d[32] = {0};
	for (unsigned r = 0; r < 3; r++)
		for (unsigned i = 0; i < 2 * NPEERS; i++) {
			unsigned k =
			    (i * 7 + r) % (2 * NPEERS); /* not in the order they were learned */
			put32(d, k);
			xfer(&mix[k]->ip, mix[k]->mac, NULL, 5, d, sizeof d);
		}
	h_down();
}

/* Replies to 40 peers of each family whose datagrams arrive together: each reply goes back to
 * its sender's address, MAC and port. */
static void test_many_peers_replies(void **state)
{
	h_up(NULL);
	for (unsigned r = 0; r < 4; r++) {
		unsigned from = H.ncap;
		uint64_t udp0 = STAT(udp_tx);
		for (unsigned i = 0; i < 2 * NPEERS; i++) {
			struct host *h = i & 1 ? peer6(i / 2) : peer4(i / 2);
			uint8_t d[40];
			fill_random(d, sizeof d);
			put32(d, r * 1000 + i);
			send_udp(h, i & 1 ? &ST6 : &S4, NULL, (uint16_t)(40000 + i), 7, d,
				 8 + (r * 5 + i) % 32);
		}
		h_poll();
		assert_int_equal(STAT(udp_tx) - udp0, 2 * NPEERS);
		unsigned n = dgrams(from);
		assert_int_equal(n, 2 * NPEERS);
		for (unsigned i = 0; i < 2 * NPEERS; i++) {
			struct host *h = i & 1 ? peer6(i / 2) : peer4(i / 2);
			int k = find_tag(n, r * 1000 + i);
			assert_true(k >= 0);
			assert_ip_equal(&D[k].dst, &h->ip);
			assert_ip_equal(&D[k].src, i & 1 ? &ST6 : &S4);
			assert_memory_equal(D[k].dmac, h->mac, 6);
			assert_int_equal(D[k].sport, 7);
			assert_int_equal(D[k].dport, 40000 + i);
			assert_int_equal(D[k].len, 8 + (r * 5 + i) % 32);
		}
	}
	h_down();
}

/* A neighbour cache of 8 entries (sl_stack_config.arp_cache_size, shared by both families)
 * and 40 peers of each family in turn: entries are given up (arp_evicted) and asked for again,
 * and every datagram still leaves once, to its own peer's MAC, none lost. A peer whose MAC
 * changed while it was out of the cache gets the new one (nothing may remember the old).
 * Then a burst to 8 new peers at once: the cache holds them all while they resolve. */
static void test_neigh_eviction_many_destinations(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.arp_cache_size = 8;
	h_up(&c);
	uint8_t d[16] = {0};
	for (unsigned r = 0; r < 3; r++)
		for (unsigned i = 0; i < NPEERS; i++) {
			put32(d, i);
			xfer(&peer4(i)->ip, peer4(i)->mac, NULL, 5, d, sizeof d);
		}
	assert_true(STAT(arp_evicted) >= 3 * NPEERS - 8);
	assert_int_equal(STAT(arp_unresolved), 0);
	for (unsigned r = 0; r < 3; r++)
		for (unsigned i = 0; i < 2 * NPEERS; i++) {
			struct host *h = i & 1 ? peer6(i / 2) : peer4(i / 2);
			put32(d, i);
			xfer(&h->ip, h->mac, NULL, 5, d, sizeof d);
		}
	assert_int_equal(STAT(arp_unresolved), 0);
	/* peer4(0) and peer6(0) were used least recently: not in the cache any more. New MACs,
	 * told to nobody: the stack must ask again and use them. */
	set_mac(peer4(0), 0x99);
	set_mac(peer6(0), 0x99);
	unsigned from = H.ncap;
	xfer(&peer4(0)->ip, peer4(0)->mac, NULL, 5, d, sizeof d);
	xfer(&peer6(0)->ip, peer6(0)->mac, NULL, 5, d, sizeof d);
	assert_true(requests_for(from, &peer4(0)->ip) >= 1);
	assert_true(requests_for(from, &peer6(0)->ip) >= 1);
	struct host *fresh[8];
	for (unsigned i = 0; i < 8; i++)
		fresh[i] = i & 1 ? peer6(100 + i) : peer4(100 + i);
	burst(fresh, 8, 5000, 100);
	assert_int_equal(STAT(arp_unresolved), 0);
	h_down();
}

/* --- a neighbour's MAC changes ------------------------------------------------------------------
 */

/* RFC 826 merge: any ARP packet from a sender the cache has (request or reply, gratuitous or
 * for us or for another host: docs/architecture.md) updates its MAC, and the next datagram to
 * it, and the next reply, go to the new MAC; another peer keeps its own. */
static void test_arp_mac_change_merged(void **state)
{
	h_up(NULL);
	struct host *p = peer4(0), *q = peer4(1);
	uint8_t d[20] = {9};
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	xfer(&q->ip, q->mac, NULL, 5, d, sizeof d);
	static const uint8_t zero[6];
	uint32_t pip = sl_ip_to_v4(&p->ip);
	for (int k = 0; k < 5; k++) {
		set_mac(p, (uint8_t)(0x10 + k));
		switch (k) {
		case 0: /* gratuitous request (RFC 5227 announcement) */
			send_arp(BCAST, p->mac, 1, p->mac, pip, zero, pip);
			break;
		case 1: /* gratuitous reply */
			send_arp(BCAST, p->mac, 2, p->mac, pip, p->mac, pip);
			break;
		case 2: /* a request for our address */
			send_arp(BCAST, p->mac, 1, p->mac, pip, zero, ST4);
			break;
		case 3: /* a request for another host */
			send_arp(BCAST, p->mac, 1, p->mac, pip, zero, sl_ip_to_v4(&q->ip));
			break;
		case 4: /* a reply to us nobody asked for: still from a sender we have */
			send_arp(H.dev->mac, p->mac, 2, p->mac, pip, H.dev->mac, ST4);
			break;
		}
		h_poll();
		unsigned from = H.ncap;
		xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
		xfer(&q->ip, q->mac, NULL, 5, d, sizeof d);
		echo_from(p, &S4, NULL, 3333, d, sizeof d, &S4);
		static uint8_t big[3000];
		xfer(&p->ip, p->mac, NULL, 5, big, sizeof big);	 /* fragments: all to the new MAC */
		assert_int_equal(requests_for(from, &p->ip), 0); /* learned, not asked */
	}
	h_down();
}

/* RFC 4861 §7.2.5: an unsolicited NA with Override and another link-layer address replaces
 * the cached one (entry STALE): the next datagram goes there. Without Override, on an entry
 * that is not REACHABLE, it is ignored (§7.2.5 I.b). An NS with a different source
 * link-layer address replaces it too (§7.2.3). Another peer keeps its own throughout. */
static void test_nd_mac_change(void **state)
{
	h_up(NULL);
	struct host *p = peer6(0), *q = peer6(1);
	uint8_t d[20] = {9};
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	xfer(&q->ip, q->mac, NULL, 5, d, sizeof d);
	p->answer = false; /* no confirmations from here on */
	uint8_t mac1[6];

	set_mac(p, 0x21);
	send_na(p, &ALL_NODES, ALL_NODES_MAC, NA_O, p->mac); /* unsolicited, override */
	h_poll();
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d); /* STALE → DELAY: sent at once, new MAC */
	xfer(&q->ip, q->mac, NULL, 5, d, sizeof d);
	echo_from(p, &ST6, NULL, 3333, d, sizeof d, &ST6);
	memcpy(mac1, p->mac, 6);

	uint8_t other[6];
	memcpy(other, p->mac, 6);
	other[2] = 0x22;
	send_na(p, &ALL_NODES, ALL_NODES_MAC, 0, other); /* no override, entry not REACHABLE */
	h_poll();
	xfer(&p->ip, mac1, NULL, 5, d, sizeof d);

	set_mac(p, 0x23);
	send_ns(p, &ST6, p->mac); /* §7.2.3: a different SLLA replaces it */
	h_poll();
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	xfer(&q->ip, q->mac, NULL, 5, d, sizeof d);
	static uint8_t big[3000];
	xfer(&p->ip, p->mac, NULL, 5, big, sizeof big);

	/* Override and Solicited (a late answer): replaced, REACHABLE */
	set_mac(p, 0x24);
	send_na(p, &ST6, H.dev->mac, NA_S | NA_O, p->mac);
	h_poll();
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	h_down();
}

/* RFC 4861 §7.2.5 I.a: an advertisement without Override whose link-layer address differs
 * from a REACHABLE entry's sets the entry to STALE ("but do not update the entry in any other
 * way"): the next datagram still goes to the cached MAC and starts the DELAY wait, and with no
 * confirmation the neighbour is probed with a unicast NS DELAY_FIRST_PROBE_TIME (5 s) later
 * (§7.3.3). */
static void test_nd_na_no_override_marks_reachable_stale(void **state)
{
	h_up(NULL);
	struct host *p = peer6(0);
	uint8_t d[20] = {9};
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d); /* resolved: REACHABLE */
	p->answer = false;
	uint8_t other[6];
	memcpy(other, p->mac, 6);
	other[2] = 0x77;
	send_na(p, &ALL_NODES, ALL_NODES_MAC, 0, other);
	h_run(100 * MS);
	unsigned from = H.ncap;
	uint64_t t0 = H.now;
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d); /* the cached MAC, not the advertised one */
	h_run(7 * SEC);
	struct req r[8];
	unsigned n = requests(from, p, r, 8);
	if (n == 0) {
		print_message(
		    "no Neighbor Solicitation for %s within 7 s of sending on an entry an "
		    "NA without Override should have made STALE\n",
		    ipstr(&p->ip));
		fail();
	}
	assert_true(r[0].unicast);
	assert_memory_equal(r[0].dmac, p->mac, 6);
	assert_true(r[0].t >= t0 + 5 * SEC - 10 * MS && r[0].t <= t0 + 5 * SEC + 100 * MS);
	h_down();
}

/* --- a neighbour that stops answering
 * ------------------------------------------------------------- */

/* What became of one written datagram: whether it left, when, to which MAC. */
struct sent {
	bool out;
	uint64_t t;
	uint8_t mac[6];
};

/* Write a small datagram (tag base + k) to h every `every` ns for `dur` ns, running the clock
 * in between; wt[k] gets the write times. Returns how many were written. */
static unsigned write_every(const struct host *h, uint64_t every, uint64_t dur, uint32_t base,
			    uint64_t *wt, unsigned max)
{
	uint64_t end = H.now + dur;
	unsigned k = 0;
	while (H.now < end) {
		uint8_t d[8];
		put32(d, base + k);
		put32(d + 4, 0x5a5a5a5a);
		struct sl_udp_write_opts o = {.src_port = 4444};
		int r = sl_udp_write(H.st, &o, &h->ip, 5555, d, sizeof d);
		assert_int_equal(r, 0);
		assert_true(k < max);
		wt[k++] = H.now;
		h_run(every);
	}
	return k;
}

static void sent_of(unsigned from, uint32_t base, unsigned n, struct sent *s)
{
	unsigned m = dgrams(from);
	for (unsigned k = 0; k < n; k++) {
		int i = find_tag(m, base + k);
		s[k].out = i >= 0;
		if (i >= 0) {
			s[k].t = D[i].t;
			memcpy(s[k].mac, D[i].dmac, 6);
		}
	}
}

/* IPv4 entries (docs/architecture.md; stack.h): an entry lives arp_reachable_ns; one in use
 * is then refreshed with a unicast request to the known MAC first (RFC 1122 §2.3.2.1), while
 * datagrams keep going; with no answer after arp_retries requests arp_retry_ns apart it is
 * gone. From then on nothing goes to the old MAC: datagrams wait for a new resolution
 * (broadcast), and leave to the MAC that answers it. Reachable time 10 s here, retries 3, 1 s
 * apart. */
static void test_arp_neighbour_stops_answering(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.arp_reachable_ns = 10 * SEC;
	c.arp_retry_ns = 1 * SEC;
	c.arp_retries = 3;
	h_up(&c);
	struct host *p = peer4(0);
	uint8_t mac1[6];
	memcpy(mac1, p->mac, 6);
	static uint64_t wt[200];
	static struct sent s[200];
	static struct req r[64];

	/* Phase 1: answering. Every datagram leaves at once, to its MAC; the refresh is unicast. */
	unsigned from = H.ncap;
	uint64_t t0 = H.now;
	unsigned n = write_every(p, 500 * MS, 15 * SEC, 0, wt, 200);
	sent_of(from, 0, n, s);
	for (unsigned k = 0; k < n; k++) {
		assert_true(s[k].out);
		assert_int_equal(s[k].t, wt[k]);
		assert_memory_equal(s[k].mac, mac1, 6);
	}
	unsigned nr = requests(from, p, r, 64);
	assert_true(nr >= 2);	    /* the resolution, then the refresh */
	assert_false(r[0].unicast); /* nothing known yet: broadcast */
	assert_true(r[1].unicast);  /* the refresh asks the known MAC */
	assert_memory_equal(r[1].dmac, mac1, 6);
	assert_true(r[1].t >= t0 + 10 * SEC - 10 * MS && r[1].t <= t0 + 11 * SEC);

	/* Phase 2: silent. */
	p->answer = false;
	uint64_t confirmed = p->last_answer;
	from = H.ncap;
	n = write_every(p, 500 * MS, 20 * SEC, 100, wt, 200);
	sent_of(from, 100, n, s);
	uint64_t gone = confirmed + c.arp_reachable_ns + c.arp_retries * c.arp_retry_ns;
	unsigned late = 0;
	for (unsigned k = 0; k < n; k++) {
		if (!s[k].out)
			continue;
		assert_memory_equal(s[k].mac, mac1, 6); /* nobody else answered */
		if (s[k].t > gone + 10 * MS) {
			print_message(
			    "datagram %u written at %.3f s left at %.3f s to the old MAC, "
			    "after the entry should be gone (%.3f s)\n",
			    k, (double)wt[k] / 1e9, (double)s[k].t / 1e9, (double)gone / 1e9);
			late++;
		} else {
			assert_int_equal(s[k].t, wt[k]); /* while the entry lasts: at once */
		}
	}
	assert_int_equal(late, 0);
	assert_true(STAT(arp_unresolved) > 0); /* the later ones waited, and were given up */
	nr = requests(from, p, r, 64);
	unsigned before_gone = 0;
	for (unsigned k = 0; k < nr && k < 64; k++)
		if (r[k].t <= gone - 10 * MS)
			before_gone++;
	assert_int_equal(before_gone, c.arp_retries); /* then it gave up */
	assert_true(r[0].unicast);
	for (unsigned k = before_gone; k < nr && k < 64; k++)
		assert_false(r[k].unicast); /* a new resolution asks everybody */

	/* Phase 3: whatever resolution was in progress gives up (no writes meanwhile). A new
	 * datagram starts one and waits; the peer answers its retry with another MAC; the
	 * datagram leaves there, then, and so does everything after. */
	h_run(c.arp_retries * c.arp_retry_ns + 100 * MS);
	set_mac(p, 0x55);
	from = H.ncap;
	uint64_t w = H.now;
	uint8_t d[8];
	put32(d, 999);
	assert_int_equal(sl_udp_write(H.st, NULL, &p->ip, 5555, d, sizeof d), 0);
	h_poll();
	assert_int_equal(dgrams(from), 0); /* waits */
	p->answer = true;
	h_run(c.arp_retry_ns + 100 * MS);
	unsigned m = dgrams(from);
	int k = find_tag(m, 999);
	assert_true(k >= 0);
	assert_memory_equal(D[k].dmac, p->mac, 6);
	assert_true(D[k].t >= w + c.arp_retry_ns - 10 * MS);
	for (int i = 0; i < 5; i++)
		xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	h_down();
}

/* RFC 4861 §7.3.3 for a neighbour that stops answering: REACHABLE until ReachableTime
 * (arp_reachable_ns, 10 s here) passes, then STALE; the first datagram then goes at once to
 * the cached MAC and the entry enters DELAY; DELAY_FIRST_PROBE_TIME (5 s) later, PROBE: a
 * unicast NS to the cached MAC, MAX_UNICAST_SOLICIT (3) of them RetransTimer (1 s) apart,
 * datagrams still going to the cached MAC; RetransTimer after the last the entry is deleted.
 * From then on nothing goes to the old MAC: datagrams queue behind a new resolution
 * (multicast NS to the solicited-node group) and leave to the MAC that answers it. */
static void test_nd_neighbour_stops_answering(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.arp_reachable_ns = 10 * SEC;
	c.arp_retry_ns = 1 * SEC;
	c.arp_retries = 3;
	h_up(&c);
	struct host *p = peer6(0);
	uint8_t mac1[6];
	memcpy(mac1, p->mac, 6);
	static uint64_t wt[200];
	static struct sent s[200];
	static struct req r[64];
	uint8_t d[8] = {0};
	xfer(&p->ip, mac1, NULL, 5, d, sizeof d);
	p->answer = false;
	h_run(12 * SEC); /* no traffic: REACHABLE → STALE */
	unsigned from = H.ncap;
	uint64_t t1 = H.now;
	unsigned n = write_every(p, 250 * MS, 14 * SEC, 0, wt, 200);
	sent_of(from, 0, n, s);
	unsigned nr = requests(from, p, r, 64);
	assert_true(nr >= 4);
	/* DELAY: no solicitation before 5 s */
	assert_true(r[0].t >= t1 + 5 * SEC - 10 * MS);
	assert_true(r[0].t <= t1 + 5 * SEC + 100 * MS);
	for (unsigned k = 0; k < 3; k++) {
		assert_true(r[k].unicast);
		assert_memory_equal(r[k].dmac, mac1, 6);
		if (k)
			assert_true(r[k].t >= r[k - 1].t + 1 * SEC - 10 * MS &&
				    r[k].t <= r[k - 1].t + 1 * SEC + 100 * MS);
	}
	assert_false(r[3].unicast); /* deleted: address resolution from scratch */
	uint64_t gone = r[2].t + 1 * SEC;
	assert_true(r[3].t >= gone - 10 * MS);
	for (unsigned k = 0; k < n; k++) {
		if (wt[k] < gone - 10 * MS) {
			/* STALE, DELAY, PROBE: sent at once with the cached address */
			assert_true(s[k].out);
			assert_int_equal(s[k].t, wt[k]);
			assert_memory_equal(s[k].mac, mac1, 6);
		} else if (s[k].out) {
			print_message("datagram %u written at %.3f s left at %.3f s to a neighbour "
				      "whose entry was deleted at %.3f s\n",
				      k, (double)wt[k] / 1e9, (double)s[k].t / 1e9,
				      (double)gone / 1e9);
			fail();
		}
	}
	/* It comes back with another MAC: what waits for a new resolution leaves there. */
	h_run(c.arp_retries * c.arp_retry_ns + 100 * MS);
	set_mac(p, 0x56);
	from = H.ncap;
	uint64_t w = H.now;
	put32(d, 999);
	assert_int_equal(sl_udp_write(H.st, NULL, &p->ip, 5555, d, sizeof d), 0);
	h_poll();
	assert_int_equal(dgrams(from), 0); /* waits */
	p->answer = true;
	h_run(c.arp_retry_ns + 100 * MS);
	unsigned m = dgrams(from);
	int k = find_tag(m, 999);
	assert_true(k >= 0);
	assert_memory_equal(D[k].dmac, p->mac, 6);
	assert_true(D[k].t >= w + c.arp_retry_ns - 10 * MS);
	for (int i = 0; i < 5; i++)
		xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	h_down();
}

/* §7.3.3: a neighbour that answers the first unicast probe is REACHABLE again: no more
 * solicitations for a ReachableTime, and datagrams keep going to its MAC without a pause. */
static void test_nd_probe_answered(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.arp_reachable_ns = 10 * SEC;
	h_up(&c);
	struct host *p = peer6(0);
	static uint64_t wt[200];
	static struct sent s[200];
	static struct req r[64];
	uint8_t d[8] = {0};
	xfer(&p->ip, p->mac, NULL, 5, d, sizeof d);
	h_run(11 * SEC); /* STALE */
	unsigned from = H.ncap;
	uint64_t t1 = H.now;
	unsigned n = write_every(p, 250 * MS, 12 * SEC, 0, wt, 200);
	sent_of(from, 0, n, s);
	for (unsigned k = 0; k < n; k++) {
		assert_true(s[k].out);
		assert_int_equal(s[k].t, wt[k]);
		assert_memory_equal(s[k].mac, p->mac, 6);
	}
	unsigned nr = requests(from, p, r, 64);
	assert_int_equal(nr, 1); /* the probe, answered; the next would be 10 s later at least */
	assert_true(r[0].unicast);
	assert_true(r[0].t >= t1 + 5 * SEC - 10 * MS && r[0].t <= t1 + 5 * SEC + 100 * MS);
	h_down();
}

/* --- per-write options, interleaved ------------------------------------------------------------
 */

/* Two addresses of each family. */
static struct sl_stack_config cfg_two_addrs(void)
{
	struct sl_stack_config c = h_cfg();
	c.addrs[2].addr = ip4(ST4B);
	c.addrs[2].prefix_len = 24;
	c.addrs[3].addr = ST6B;
	c.addrs[3].prefix_len = 64;
	c.n_addrs = 4;
	return c;
}

/* Everything a write may choose, changing from write to write to the same few destinations
 * (on-link and through the gateway, both families): source address, source port (ephemeral
 * or not), TTL, DF, length (whole and fragmented), source alignment. Each datagram carries
 * exactly what its own write asked for, with the checksum over its own pseudo-header: nothing
 * kept per destination may leak from one write into the next. */
static void test_per_write_options_interleaved(void **state)
{
	struct sl_stack_config c = cfg_two_addrs();
	h_up(&c);
	struct host off4 = {.ip = ip4(0xc6336407u)}; /* 198.51.100.7, via the gateway */
	struct host off6 = {.ip = ip6s("2001:db8::7")};
	memcpy(off4.mac, gw4()->mac, 6);
	memcpy(off6.mac, gw6()->mac, 6);
	struct host *dsts[4] = {peer4(0), &off4, peer6(0), &off6};
	const sl_ip *srcs4[3] = {NULL, &S4, &S4B}, *srcs6[3] = {NULL, &ST6, &ST6B};
	static const int sports[] = {0, 1111, 2222, 65535};
	static const uint8_t ttls[] = {0, 1, 200, 255, 64};
	static const size_t lens[] = {0,  1,   2,    3,	   7,	 8,    15,   63,  64,
				      65, 255, 1000, 1452, 1453, 1472, 1473, 3000};
	static uint8_t buf[3000 + 16];
	for (unsigned k = 0; k < 480; k++) {
		struct host *h = dsts[k % 4];
		bool v6 = !sl_ip_is_v4(&h->ip);
		size_t len = lens[(k / 7) % (sizeof lens / sizeof lens[0])];
		struct sl_udp_write_opts o = {
		    .src = (v6 ? srcs6 : srcs4)[(k / 4) % 3],
		    .src_port = sports[(k / 3) % 4],
		    .ttl = ttls[(k / 5) % 5],
		    .dont_fragment = (k / 2) % 2 && len <= (v6 ? 1452u : 1472u),
		};
		sl_ip want;
		if (o.src)
			want = *o.src;
		else
			assert_int_equal(sl_ip_src(H.st, &h->ip, &want), 0);
		uint8_t *d = buf + k % 16;
		fill_random(d, len);
		xfer_src(&h->ip, h->mac, &o, &want, 7000 + (int)(k % 13), d, len);
	}
	h_down();
}

/* --- addresses and routes changing ---------------------------------------------------------------
 */

static struct host *host_at(const char *a, unsigned idx)
{
	sl_ip ip;
	assert_int_equal(sl_ip_parse(a, &ip), 0);
	return add_host(&ip, sl_ip_is_v4(&ip) ? 0x48 : 0x68, idx);
}

/* Wait out DAD for an address added at run time. */
static void wait_dad(const sl_ip *a)
{
	assert_int_equal(sl_ip_addr_state(H.st, a), -EINPROGRESS);
	h_run(2 * SEC);
	assert_int_equal(sl_ip_addr_state(H.st, a), 0);
}

/* A source address the write names must be the stack's (api.md, sl_ip_write: -EADDRNOTAVAIL):
 * once it is deleted, writes naming it fail — whole or to be fragmented, to a destination it
 * was used for moments before or to another — and nothing is sent. An IPv6 address is not
 * usable while DAD runs (RFC 4862 §5.4). */
static void test_src_option_after_del_addr(void **state)
{
	h_up(NULL);
	static uint8_t d[3000];
	sl_ip a1 = ip4(0x0a000101u); /* 10.0.1.1/24 */
	assert_int_equal(sl_ip_add_addr(H.st, &a1, 24), 0);
	h_poll();
	struct host *r = host_at("10.0.1.7", 7);
	struct sl_udp_write_opts o = {.src = &a1, .src_port = 100};
	for (int k = 0; k < 3; k++) {
		xfer(&r->ip, r->mac, &o, 200, d, 50);
		xfer(&peer4(0)->ip, peer4(0)->mac, &o, 200, d, 50);
		xfer(&r->ip, r->mac, &o, 200, d, 3000);
		xfer_src(&r->ip, r->mac, NULL, &a1, 200, d, 50);
	}
	assert_int_equal(sl_ip_del_addr(H.st, &a1), 0);
	refused(&r->ip, &o, 200, 50, -EADDRNOTAVAIL);
	refused(&r->ip, &o, 200, 3000, -EADDRNOTAVAIL);
	refused(&peer4(0)->ip, &o, 200, 50, -EADDRNOTAVAIL);
	assert_int_equal(sl_ip_del_addr(H.st, &a1), -ENOENT);
	assert_int_equal(sl_ip_addr_state(H.st, &a1), -ENOENT);
	sl_ip ips[16];
	int n = sl_ip_get_ips(H.st, ips, 16);
	for (int i = 0; i < n; i++)
		assert_false(ip_eq(&ips[i], &a1));

	sl_ip a6 = ip6s("fd01::1");
	assert_int_equal(sl_ip_add_addr(H.st, &a6, 64), 0);
	struct host *r6 = host_at("fd01::7", 7);
	struct sl_udp_write_opts o6 = {.src = &a6, .src_port = 100};
	refused(&r6->ip, &o6, 200, 50, -EADDRNOTAVAIL); /* tentative */
	wait_dad(&a6);
	for (int k = 0; k < 3; k++) {
		xfer(&r6->ip, r6->mac, &o6, 200, d, 50);
		xfer(&peer6(0)->ip, peer6(0)->mac, &o6, 200, d, 50);
		xfer(&r6->ip, r6->mac, &o6, 200, d, 3000);
	}
	assert_int_equal(sl_ip_del_addr(H.st, &a6), 0);
	refused(&r6->ip, &o6, 200, 50, -EADDRNOTAVAIL);
	refused(&r6->ip, &o6, 200, 3000, -EADDRNOTAVAIL);
	refused(&peer6(0)->ip, &o6, 200, 50, -EADDRNOTAVAIL);
	/* the other family's address is never a source */
	struct sl_udp_write_opts x = {.src = &ST6};
	refused(&peer4(0)->ip, &x, 200, 50, -EADDRNOTAVAIL);
	x.src = &S4;
	refused(&peer6(0)->ip, &x, 200, 50, -EADDRNOTAVAIL);
	h_down();
}

/* Source selection after the address it chose is deleted: the next datagram (to the same
 * destination, moments later) comes from the remaining address; with none of its family left,
 * -ENETUNREACH (api.md) and nothing sent, even through the gateway. */
static void test_source_selection_after_del_addr(void **state)
{
	struct sl_stack_config c = cfg_two_addrs();
	h_up(&c);
	static uint8_t d[3000];
	struct host *p[2] = {peer4(0), peer6(0)};
	struct host off4 = {.ip = ip4(0xc0000201u)}, off6 = {.ip = ip6s("2001:db8::1")};
	memcpy(off4.mac, gw4()->mac, 6);
	memcpy(off6.mac, gw6()->mac, 6);
	struct host *off[2] = {&off4, &off6};
	for (int fam = 0; fam < 2; fam++) {
		sl_ip s1, s2;
		assert_int_equal(sl_ip_src(H.st, &p[fam]->ip, &s1), 0);
		for (int k = 0; k < 3; k++) {
			xfer_src(&p[fam]->ip, p[fam]->mac, NULL, &s1, 9, d, 100);
			xfer_src(&p[fam]->ip, p[fam]->mac, NULL, &s1, 9, d, 3000);
			xfer(&off[fam]->ip, off[fam]->mac, NULL, 9, d, 100);
		}
		assert_int_equal(sl_ip_del_addr(H.st, &s1), 0);
		assert_int_equal(sl_ip_src(H.st, &p[fam]->ip, &s2), 0);
		assert_false(ip_eq(&s1, &s2));
		assert_ip_equal(&s2, fam ? (ip_eq(&s1, &ST6) ? &ST6B : &ST6)
					 : (ip_eq(&s1, &S4) ? &S4B : &S4));
		for (int k = 0; k < 3; k++) {
			xfer_src(&p[fam]->ip, p[fam]->mac, NULL, &s2, 9, d, 100);
			xfer_src(&p[fam]->ip, p[fam]->mac, NULL, &s2, 9, d, 3000);
			xfer_src(&off[fam]->ip, off[fam]->mac, NULL, &s2, 9, d, 100);
		}
		assert_int_equal(sl_ip_del_addr(H.st, &s2), 0);
		sl_ip s3;
		assert_int_equal(sl_ip_src(H.st, &p[fam]->ip, &s3), -ENETUNREACH);
		refused(&p[fam]->ip, NULL, 9, 100, -ENETUNREACH);
		refused(&p[fam]->ip, NULL, 9, 3000, -ENETUNREACH);
		refused(&off[fam]->ip, NULL, 9, 100, -ENETUNREACH);
	}
	h_down();
}

/* Routes follow the addresses (api.md, sl_ip_src: the address on the destination's prefix,
 * else the gateway's): a prefix added at run time makes its hosts on-link (their own MAC, the
 * new address as source); deleting it sends them to the gateway's MAC from the address on
 * the gateway's prefix; adding it back makes them on-link again. Both families. */
static void test_route_follows_prefix_changes(void **state)
{
	h_up(NULL);
	static uint8_t d[3000];
	struct host *r4 = host_at("10.0.2.5", 5), *r6 = host_at("fd02::5", 5);
	sl_ip a4 = ip4(0x0a000201u), a6 = ip6s("fd02::1");
	struct host *r[2] = {r4, r6};
	const sl_ip *a[2] = {&a4, &a6};
	const sl_ip *home[2] = {&S4, &ST6};
	struct host *gw[2] = {gw4(), gw6()};
	for (int fam = 0; fam < 2; fam++) {
		for (int round = 0; round < 2; round++) {
			unsigned from = H.ncap;
			for (int k = 0; k < 3; k++) { /* off-link: through the gateway */
				xfer_src(&r[fam]->ip, gw[fam]->mac, NULL, home[fam], 9, d, 100);
				xfer_src(&r[fam]->ip, gw[fam]->mac, NULL, home[fam], 9, d, 3000);
			}
			assert_int_equal(requests_for(from, &r[fam]->ip), 0);
			assert_int_equal(sl_ip_add_addr(H.st, a[fam], 24 + 40 * fam), 0);
			if (fam)
				wait_dad(a[fam]);
			else
				h_poll();
			for (int k = 0; k < 3; k++) { /* on-link now */
				xfer_src(&r[fam]->ip, r[fam]->mac, NULL, a[fam], 9, d, 100);
				xfer_src(&r[fam]->ip, r[fam]->mac, NULL, a[fam], 9, d, 3000);
				xfer_src(&peer4(0)->ip, peer4(0)->mac, NULL, &S4, 9, d, 10);
			}
			assert_int_equal(sl_ip_del_addr(H.st, a[fam]), 0);
		}
		unsigned from = H.ncap;
		for (int k = 0; k < 3; k++)
			xfer_src(&r[fam]->ip, gw[fam]->mac, NULL, home[fam], 9, d, 100);
		assert_int_equal(requests_for(from, &r[fam]->ip), 0);
	}
	h_down();
}

/* Without a gateway, a destination off every prefix has no route: -ENETUNREACH, nothing sent
 * (api.md); the prefix that made it reachable, deleted, takes the route with it. */
static void test_no_route_without_gateway(void **state)
{
	struct sl_stack_config c = h_cfg();
	memset(&c.gateway, 0, sizeof c.gateway);
	memset(&c.gateway6, 0, sizeof c.gateway6);
	h_up(&c);
	static uint8_t d[100];
	sl_ip off4 = ip4(0xc0000201u), off6 = ip6s("2001:db8::1");
	refused(&off4, NULL, 9, 10, -ENETUNREACH);
	refused(&off6, NULL, 9, 10, -ENETUNREACH);
	struct host *r4 = host_at("10.0.1.7", 7), *r6 = host_at("fd01::7", 7);
	sl_ip a4 = ip4(0x0a000101u), a6 = ip6s("fd01::1");
	assert_int_equal(sl_ip_add_addr(H.st, &a4, 24), 0);
	assert_int_equal(sl_ip_add_addr(H.st, &a6, 64), 0);
	wait_dad(&a6);
	for (int k = 0; k < 3; k++) {
		xfer_src(&r4->ip, r4->mac, NULL, &a4, 9, d, sizeof d);
		xfer_src(&r6->ip, r6->mac, NULL, &a6, 9, d, sizeof d);
	}
	assert_int_equal(sl_ip_del_addr(H.st, &a4), 0);
	assert_int_equal(sl_ip_del_addr(H.st, &a6), 0);
	refused(&r4->ip, NULL, 9, 10, -ENETUNREACH);
	refused(&r6->ip, NULL, 9, 10, -ENETUNREACH);
	refused(&r4->ip, NULL, 9, 3000, -ENETUNREACH);
	refused(&r6->ip, NULL, 9, 3000, -ENETUNREACH);
	sl_ip s;
	assert_int_equal(sl_ip_src(H.st, &r4->ip, &s), -ENETUNREACH);
	assert_int_equal(sl_ip_src(H.st, &r6->ip, &s), -ENETUNREACH);
	xfer(&peer4(0)->ip, peer4(0)->mac, NULL, 9, d, sizeof d); /* the rest still works */
	xfer(&peer6(0)->ip, peer6(0)->mac, NULL, 9, d, sizeof d);
	h_down();
}

/* Off-link destinations go to the gateway's MAC (RFC 1122 §3.3.1.1: the first hop), with the
 * final destination in the IP header; the stack never asks for an off-link address. Many of
 * them, interleaved with on-link peers; then the gateway's MAC changes (a gratuitous ARP, an
 * unsolicited NA with Override) and every off-link datagram follows it, on-link ones not.
 * Replies to a sender behind the gateway go back through it. */
static void test_offlink_via_gateway(void **state)
{
	h_up(NULL);
	static const char *offs[] = {
	    "192.0.2.1", "198.51.100.7", "203.0.113.9",	  "8.8.8.8",	     "10.0.1.5",
	    "10.1.0.1",	 "2001:db8::1",	 "2001:db8:1::2", "2606:4700::1111", "fd01::5"};
	enum { NOFF = sizeof offs / sizeof offs[0] };
	struct host off[NOFF];
	struct host *g4 = gw4(), *g6 = gw6();
	static uint8_t d[3000];
	for (int round = 0; round < 3; round++) {
		if (round == 2) {
			/* the gateway and the router change MACs, and say so */
			set_mac(g4, 0x31);
			static const uint8_t zero[6];
			send_arp(BCAST, g4->mac, 1, g4->mac, GW4, zero, GW4);
			set_mac(g6, 0x31);
			send_na(g6, &ALL_NODES, ALL_NODES_MAC, NA_R | NA_O, g6->mac);
			h_poll();
		}
		unsigned from = H.ncap;
		for (unsigned i = 0; i < NOFF; i++) {
			assert_int_equal(sl_ip_parse(offs[i], &off[i].ip), 0);
			bool v6 = !sl_ip_is_v4(&off[i].ip);
			memcpy(off[i].mac, v6 ? g6->mac : g4->mac, 6);
			xfer_src(&off[i].ip, off[i].mac, NULL, v6 ? &ST6 : &S4, 53, d, 100 + i);
			xfer(&peer4(i)->ip, peer4(i)->mac, NULL, 53, d, 100 + i);
			xfer(&peer6(i)->ip, peer6(i)->mac, NULL, 53, d, 100 + i);
			xfer_src(&off[i].ip, off[i].mac, NULL, v6 ? &ST6 : &S4, 53, d, 3000);
			/* a reply to a datagram that came through the gateway */
			echo_from(&off[i], v6 ? &ST6 : &S4, NULL, (uint16_t)(1000 + i), d, 64,
				  v6 ? &ST6 : &S4);
		}
		for (unsigned i = 0; i < NOFF; i++)
			assert_int_equal(requests_for(from, &off[i].ip), 0);
		assert_true(requests_for(from, &g4->ip) <= (round == 0));
		assert_true(requests_for(from, &g6->ip) <= (round == 0));
	}
	h_down();
}

/* RFC 1122 §3.2.1.3 and §4.1.3.5: a datagram to a broadcast address (the subnet's, or
 * 255.255.255.255) reaches the listener with that destination in its meta; a reply from the
 * stack's own address goes unicast to the sender; a reply "from" the broadcast address is
 * refused (-EADDRNOTAVAIL: not an address of ours) and nothing is sent. Datagrams to a
 * broadcast address go to the Ethernet broadcast address without ARP; a prefix deleted stops
 * having a broadcast address. IPv6: the same for a datagram to all-nodes. */
static void test_broadcast(void **state)
{
	h_up(NULL);
	struct host *p = peer4(0), *p6 = peer6(0);
	uint8_t d[64];
	fill_random(d, sizeof d);
	sl_ip bcasts[2] = {ip4(0x0a0000ffu), ip4(0xffffffffu)};
	for (int b = 0; b < 2; b++) {
		H.echo_src_from_dst = false;
		echo_from(p, &bcasts[b], BCAST, 2000, d, sizeof d, &S4);
		assert_ip_equal(&H.echo_meta.dst, &bcasts[b]);
		assert_ip_equal(&H.echo_meta.src, &p->ip);
		/* from the broadcast address: refused */
		H.echo_src_from_dst = true;
		unsigned from = H.ncap;
		unsigned calls = H.echo_calls;
		send_udp(p, &bcasts[b], BCAST, 2001, 7, d, sizeof d);
		h_poll();
		assert_int_equal(H.echo_calls, calls + 1);
		assert_int_equal(H.echo_err, -EADDRNOTAVAIL);
		assert_int_equal(dgrams(from), 0);
		/* and to it, from us */
		from = H.ncap;
		xfer_src(&bcasts[b], BCAST, NULL, &S4, 2002, d, sizeof d);
		static uint8_t big[3000];
		xfer_src(&bcasts[b], BCAST, NULL, &S4, 2002, big, sizeof big);
		assert_int_equal(requests_for(from, &bcasts[b]), 0);
		struct sl_udp_write_opts o = {.src = &bcasts[b]};
		refused(&p->ip, &o, 2003, 10, -EADDRNOTAVAIL);
	}
	H.echo_src_from_dst = false;
	/* a prefix of its own, added and deleted */
	sl_ip a1 = ip4(0x0a000101u), b1 = ip4(0x0a0001ffu);
	assert_int_equal(sl_ip_add_addr(H.st, &a1, 24), 0);
	h_poll();
	unsigned from = H.ncap;
	xfer_src(&b1, BCAST, NULL, &a1, 2002, d, sizeof d);
	assert_int_equal(sl_ip_del_addr(H.st, &a1), 0);
	xfer_src(&b1, gw4()->mac, NULL, &S4, 2002, d, sizeof d); /* an off-link address now */
	assert_int_equal(requests_for(from, &b1), 0);
	/* IPv6: all-nodes */
	echo_from(p6, &ALL_NODES, ALL_NODES_MAC, 2004, d, sizeof d, &ST6);
	assert_ip_equal(&H.echo_meta.dst, &ALL_NODES);
	H.echo_src_from_dst = true;
	from = H.ncap;
	send_udp(p6, &ALL_NODES, ALL_NODES_MAC, 2005, 7, d, sizeof d);
	h_poll();
	assert_int_equal(H.echo_err, -EADDRNOTAVAIL);
	assert_int_equal(dgrams(from), 0);
	h_down();
}

/* --- IPv6 path MTU (RFC 8201) -------------------------------------------------------------- */

/* A Packet Too Big from the router (RFC 4443 §3) reporting mtu, quoting as much of the packet
 * in capture idx as fits in 1280 bytes. */
static void send_ptb(unsigned idx, uint32_t mtu)
{
	static uint8_t m[1280];
	struct ipf f;
	assert_true(ipf_parse(H.cap[idx].b, H.cap[idx].len, &f) && f.v6);
	size_t q = f.iplen < 1280 - 48 ? f.iplen : 1280 - 48;
	m[0] = 2, m[1] = 0;
	put32(m + 4, mtu);
	memcpy(m + 8, f.ip, q);
	send_icmp6(H.dev->mac, gw6()->mac, &GW6, &ST6, 64, m, 8 + q);
	h_poll();
}

/* RFC 8201 §4: after a Packet Too Big of 1280 or more for a destination, datagrams to it
 * that no longer fit leave in fragments that fit the new path MTU (and one that fits exactly
 * leaves whole); other destinations, on-link or behind the same router, keep the link MTU.
 * sl_ip_mtu says the same (path MTU − 40). dont_fragment refuses what needs fragments. */
static void test_v6_path_mtu(void **state)
{
	h_up(NULL);
	static uint8_t d[3000];
	struct host *d1 = peer6(0), *d2 = peer6(1), *d3 = peer6(2);
	struct host off1 = {.ip = ip6s("2001:db8::1")}, off2 = {.ip = ip6s("2001:db8::2")};
	memcpy(off1.mac, gw6()->mac, 6);
	memcpy(off2.mac, gw6()->mac, 6);
	struct host *all[5] = {d1, d2, d3, &off1, &off2};
	const struct dg *g[5];
	unsigned first[5];
	for (int i = 0; i < 5; i++) {
		g[i] = xfer(&all[i]->ip, all[i]->mac, NULL, 9, d, 1400);
		assert_int_equal(g[i]->nfrags, 1);
		assert_int_equal(g[i]->iplen0, 1448);
		first[i] = g[i]->first;
		assert_int_equal(sl_ip_mtu(H.st, &all[i]->ip), 1460);
	}
	uint64_t rx0 = STAT(icmp6_ptb_rx);
	send_ptb(first[0], 1280);
	send_ptb(first[2], 1400);
	send_ptb(first[3], 1300);
	assert_int_equal(STAT(icmp6_ptb_rx) - rx0, 3);
	assert_int_equal(sl_ip_mtu(H.st, &d1->ip), 1240);
	assert_int_equal(sl_ip_mtu(H.st, &d2->ip), 1460);
	assert_int_equal(sl_ip_mtu(H.st, &d3->ip), 1360);
	assert_int_equal(sl_ip_mtu(H.st, &off1.ip), 1260);
	assert_int_equal(sl_ip_mtu(H.st, &off2.ip), 1460);
	for (int round = 0; round < 3; round++) {
		check_fragmented(d1, 1400, round, 1280, NULL);
		const struct dg *x = xfer(&d2->ip, d2->mac, NULL, 9, d, 1400);
		assert_int_equal(x->nfrags, 1);
		x = xfer(&d1->ip, d1->mac, NULL, 9, d, 1232); /* 1280 exactly */
		assert_int_equal(x->nfrags, 1);
		check_fragmented(d1, 1233, round, 1280, NULL);
		x = xfer(&d3->ip, d3->mac, NULL, 9, d, 1352); /* 1400 exactly */
		assert_int_equal(x->nfrags, 1);
		check_fragmented(d3, 1353, round, 1400, NULL);
		check_fragmented(&off1, 1400, round, 1300, NULL);
		x = xfer(&off2.ip, off2.mac, NULL, 9, d, 1452);
		assert_int_equal(x->nfrags, 1);
		check_fragmented(d2, 3000, round, 1500, NULL);
		/* a reply to d1 follows its path MTU too */
		const struct dg *e = echo_from(d1, &ST6, NULL, 4000, d, 1400, &ST6);
		assert_int_equal(e->nfrags, 2);
	}
	struct sl_udp_write_opts df = {.dont_fragment = true};
	refused(&d1->ip, &df, 9, 1233, -EMSGSIZE);
	refused(&off1.ip, &df, 9, 1253, -EMSGSIZE);
	const struct dg *x = xfer(&d2->ip, d2->mac, &df, 9, d, 1233);
	assert_int_equal(x->nfrags, 1);
	x = xfer(&d1->ip, d1->mac, &df, 9, d, 1232);
	assert_int_equal(x->nfrags, 1);
	h_down();
}

/* --- counters ------------------------------------------------------------------------------------
 */

/* stats.h: udp_tx counts datagrams sent (once per sl_udp_write that returned 0, at the call,
 * fragments or not; never a refused one), tx_frames every frame handed to the device (each
 * fragment, each ARP/ND message), ipv4_frags_sent / ipv6_frags_sent each fragment, ipv6_tx
 * each IPv6 packet. A mixed run of both families, whole, fragmented, refused. */
static void test_counters_per_datagram(void **state)
{
	h_up(NULL);
	const struct sl_stats *s = sl_stack_stats(H.st);
	struct sl_stats b = *s;
	unsigned from = H.ncap;
	struct host off4 = {.ip = ip4(0xc0000201u)}, off6 = {.ip = ip6s("2001:db8::1")};
	gw4(), gw6();
	struct host *dsts[6] = {peer4(0), peer4(1), &off4, peer6(0), peer6(1), &off6};
	static uint8_t d[5000];
	unsigned ok = 0;
	for (unsigned k = 0; k < 300; k++) {
		struct host *h = dsts[rnd() % 6];
		bool v6 = !sl_ip_is_v4(&h->ip);
		size_t len = (size_t)(rnd() % 8 == 0 ? rnd() % 5000 : rnd() % 1500);
		struct sl_udp_write_opts o = {.dont_fragment = rnd() % 4 == 0};
		bool fits = len <= (v6 ? 1452u : 1472u);
		int dport = rnd() % 50 == 0 ? 0 : 1 + (int)(rnd() % 65535);
		if (rnd() % 40 == 0)
			o.src = v6 ? &S4 : &ST6; /* the wrong family */
		uint64_t u0 = s->c[SL_STAT_udp_tx];
		int r = sl_udp_write(H.st, &o, &h->ip, dport, d, len);
		int want = dport == 0			? -EINVAL
			   : o.src			? -EADDRNOTAVAIL
			   : (o.dont_fragment && !fits) ? -EMSGSIZE
							: 0;
		if (r != want) {
			print_message("write %u (%zu bytes to %s, df %d, port %d): %d, want %d\n",
				      k, len, ipstr(&h->ip), o.dont_fragment, dport, r, want);
			fail();
		}
		assert_int_equal(s->c[SL_STAT_udp_tx] - u0, r == 0);
		ok += r == 0;
		if (k % 3 == 0)
			h_poll();
	}
	h_poll();
	unsigned n = dgrams(from);
	assert_int_equal(n, ok);
	assert_int_equal(s->c[SL_STAT_udp_tx] - b.c[SL_STAT_udp_tx], ok);
	assert_int_equal(s->c[SL_STAT_tx_frames] - b.c[SL_STAT_tx_frames], H.ncap - from);
	uint64_t f4 = 0, f6 = 0, all6 = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		struct ipf f;
		if (!ipf_parse(H.cap[i].b, H.cap[i].len, &f))
			continue;
		all6 += f.v6;
		if (f.frag)
			f.v6 ? f6++ : f4++;
	}
	assert_int_equal(s->c[SL_STAT_ipv4_frags_sent] - b.c[SL_STAT_ipv4_frags_sent], f4);
	assert_int_equal(s->c[SL_STAT_ipv6_frags_sent] - b.c[SL_STAT_ipv6_frags_sent], f6);
	assert_int_equal(s->c[SL_STAT_ipv6_tx] - b.c[SL_STAT_ipv6_tx], all6);
	assert_true(f4 > 0 && f6 > 0);
	h_down();
}

/* --- sl_ip_write: the same output path, another protocol
 * ------------------------------------------ */

struct fill_arg {
	size_t n;
	int ret;
};

static int fill_hdr(void *arg, uint8_t *buf, size_t hdr_size)
{
	struct fill_arg *a = arg;
	for (size_t i = 0; i < a->n && i < hdr_size; i++)
		buf[i] = (uint8_t)(0xa0 + i);
	return a->ret ? a->ret : (int)a->n;
}

/* sl_ip_write (ip.h): the header fill writes (up to hdr_size bytes, returning how many), then
 * the payload; over both families with an experimental protocol number (253, RFC 3692), whole
 * and fragmented at the MTU, TTL and DF as asked; a fill error is returned and nothing sent. */
static void test_ip_write_other_protocol(void **state)
{
	h_up(NULL);
	static uint8_t buf[4000 + 16];
	static uint8_t want[4100];
	struct host *p[2] = {peer4(0), peer6(0)};
	dg_proto = 253;
	for (int fam = 0; fam < 2; fam++) {
		size_t whole = fam ? 1500 - 40 - 12 : 1500 - 20 - 12;
		size_t lens[] = {0, 1, 7, whole, whole + 1, 4000};
		for (size_t li = 0; li < 6; li++)
			for (size_t a = 0; a < 3; a++) {
				size_t len = lens[li];
				uint8_t *d = buf + a;
				fill_random(d, len);
				struct fill_arg fa = {.n = 12};
				struct sl_ip_opts o = {.ttl = (uint8_t)(li ? 0 : 33),
						       .dont_fragment = len <= whole && a == 1};
				unsigned from = H.ncap;
				assert_int_equal(sl_ip_write(H.st, &p[fam]->ip, 253, &o, 16,
							     fill_hdr, &fa, d, len),
						 0);
				h_poll();
				assert_int_equal(dgrams(from), 1);
				const struct dg *g = &D[0];
				assert_ip_equal(&g->dst, &p[fam]->ip);
				assert_ip_equal(&g->src, fam ? &ST6 : &S4);
				assert_memory_equal(g->dmac, p[fam]->mac, 6);
				assert_int_equal(g->ttl, li ? 64 : 33);
				assert_int_equal(g->nfrags, len <= whole
								? 1
								: (12 + len + (fam ? 1447 : 1479)) /
								      (fam ? 1448 : 1480));
				if (!fam)
					assert_int_equal(g->df, o.dont_fragment);
				assert_int_equal(g->len, 12 + len);
				for (size_t i = 0; i < 12; i++)
					want[i] = (uint8_t)(0xa0 + i);
				memcpy(want + 12, d, len);
				assert_memory_equal(g->p, want, 12 + len);
				if (g->nfrags == 1)
					assert_int_equal(g->iplen0, (fam ? 40 : 20) + 12 + len);
			}
		/* a fill that fails, or claims more than it was given room for */
		struct fill_arg bad = {.n = 12, .ret = -EPERM};
		unsigned from = H.ncap;
		uint64_t tx0 = STAT(tx_frames);
		assert_int_equal(
		    sl_ip_write(H.st, &p[fam]->ip, 253, NULL, 16, fill_hdr, &bad, buf, 10), -EPERM);
		struct fill_arg over = {.n = 12, .ret = 17};
		assert_int_equal(
		    sl_ip_write(H.st, &p[fam]->ip, 253, NULL, 16, fill_hdr, &over, buf, 10),
		    -EINVAL);
		h_poll();
		assert_int_equal(H.ncap, from);
		assert_int_equal(STAT(tx_frames), tx0);
		/* no header at all */
		assert_int_equal(sl_ip_write(H.st, &p[fam]->ip, 253, NULL, 0, NULL, NULL, buf, 10),
				 0);
		h_poll();
		assert_int_equal(dgrams(from), 1);
		assert_int_equal(D[0].len, 10);
		assert_memory_equal(D[0].p, buf, 10);
	}
	dg_proto = 17;
	h_down();
}

static int udp_teardown(void **state)
{
	dg_proto = 17;
	return h_teardown(state);
}

#define T(t) cmocka_unit_test_teardown(t, udp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_v4_payload_lengths),
	    T(test_v6_payload_lengths),
	    T(test_replies_lengths),
	    T(test_replies_of_parts),
	    T(test_tx_csum_offload),
	    T(test_zero_checksum_sent_as_ffff),
	    T(test_ttl_default_and_per_write),
	    T(test_tos_per_write),
	    T(test_ttl_configured_default),
	    T(test_dont_fragment),
	    T(test_v4_identification_changes),
	    T(test_v4_fragments),
	    T(test_v6_fragments),
	    T(test_unaligned_sources_across_fragments),
	    T(test_fragments_at_configured_mtu),
	    T(test_many_peers_round_robin),
	    T(test_many_peers_replies),
	    T(test_neigh_eviction_many_destinations),
	    T(test_arp_mac_change_merged),
	    T(test_nd_mac_change),
	    T(test_nd_na_no_override_marks_reachable_stale),
	    T(test_arp_neighbour_stops_answering),
	    T(test_nd_neighbour_stops_answering),
	    T(test_nd_probe_answered),
	    T(test_per_write_options_interleaved),
	    T(test_src_option_after_del_addr),
	    T(test_source_selection_after_del_addr),
	    T(test_route_follows_prefix_changes),
	    T(test_no_route_without_gateway),
	    T(test_offlink_via_gateway),
	    T(test_broadcast),
	    T(test_v6_path_mtu),
	    T(test_counters_per_datagram),
	    T(test_ip_write_other_protocol),
	};
	return cmocka_run_group_tests_name("udp_path", tests, NULL, NULL);
}
