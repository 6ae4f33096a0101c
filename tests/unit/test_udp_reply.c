/*
 * The reply in place (include/sluice/udp.h: sl_udp_reply_buf, sl_udp_reply), over IPv4 and
 * IPv6, judged from that contract and the RFCs only (RFC 768, RFC 791, RFC 8200 §8.1,
 * RFC 1122 §3.2.1.3 and §4.1.3): nothing here calls the stack's wire or checksum code.
 *
 * The harness is test_udp_path.c's (copied, that file is left alone): the test plays every
 * other host of one Ethernet link at the far end of an in-memory pipe with invented time,
 * answers the stack's ARP requests and Neighbor Solicitations for the hosts told to, checks
 * every frame the stack sends against references written here (Ethernet source, IPv4 header
 * checksum and lengths, IPv6 lengths, UDP length and checksum over the pseudo-header, a
 * computed 0 sent as 0xffff), and reassembles fragments. On top of it:
 *
 *   - the datagrams the test sends are built here with whatever the case needs: IPv4 TTL,
 *     TOS, DF, identification, options, no checksum; IPv6 hop limit, traffic class, flow
 *     label, extension headers, atomic fragments; Ethernet padding and trailing bytes;
 *   - the receive callback does what the test asks of each datagram (reply unchanged,
 *     rewrite and reply shorter or longer, expect a refusal, reply twice, ask above cap,
 *     ...) and records what every call returned; a callback never asserts (that would jump
 *     out of sl_stack_poll): it notes the first thing wrong, and h_poll fails with it;
 *   - check_all() then pairs every datagram delivered with what left for it: a reply in place
 *     is compared byte for byte with a frame built here (Ethernet destination from the
 *     neighbour the route says, source the stack's; IPv4 45 00, length, flags 0 (DF clear),
 *     the stack's TTL, protocol 17, header checksum, addresses swapped; IPv6 60 00 00 00,
 *     payload length, next header 17, the stack's hop limit, addresses swapped; UDP ports
 *     swapped, length, the reference checksum; the payload), the IPv4 identification only
 *     checked not to repeat towards a destination (RFC 6864 §4.1: the peers here send the
 *     same identification every time, so one copied from the request repeats); a reply by
 *     sl_udp_write is checked like test_udp_path's; udp_rx, udp_tx and tx_frames advance by
 *     what was delivered and what left; and every frame of both pipe ends is back in its pool
 *     whenever the link is quiet (sl_dev_counts), and at close (sl_dev_close_counted).
 *
 * Run: make -j1 build/tests/test_udp_reply build/san/tests/test_udp_reply, then either
 * binary; SLUICE_SEED=n replays another seed of the random payloads.
 */
#include <errno.h>
#include <stdarg.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"
#include "unit/udpref.h"

#define US 1000ULL
#define MS 1000000ULL
#define SEC 1000000000ULL

#define PIPE_FRAME 2048 /* the pipe device's buffers: a received frame has this much room */

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
static const sl_ip ALL_NODES = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
static const uint8_t ALL_NODES_MAC[6] = {0x33, 0x33, 0, 0, 0, 1};


/* --- the link ------------------------------------------------------------------------------- */

struct host {
	sl_ip ip;
	uint8_t mac[6];
	bool answer;   /* answers ARP requests / NS for ip with mac */
	bool resolved; /* it answered the stack once: a reply to it needs no frame for ARP / ND */
};

#define NHOST 256
#define CAPMAX 16384
#define FRAME 2048

struct cap {
	uint8_t b[FRAME];
	uint32_t len;
	uint64_t t;
};

/* What the receive callback does with a datagram (H.mode, or per destination port). */
enum mode {
	M_ECHO = 1, /* sl_udp_reply_buf, then sl_udp_reply(len, unchanged); above cap: -EMSGSIZE,
		     * then sl_udp_write */
	M_REWRITE,  /* the payload rewritten in place (rw_payload), H.rw_len bytes, unchanged
		     * false */
	M_REFUSE,   /* every reply call must be refused; then sl_udp_write */
	M_TWICE,    /* in place, then the second reply refused; then sl_udp_write of a copy */
	M_OVERSIZE, /* above cap (cap + 1, cap + 1000, SIZE_MAX ...): -EMSGSIZE; then sl_udp_write,
		     * or (H.oversize_then_reply) a reply in place of cap bytes */
	M_STALE,    /* the previous datagram's meta is refused, then this one replied to */
	M_WRITE,    /* only sl_udp_write */
	M_NONE,	    /* nothing */
	M_REFUSE_ONLY, /* every reply call must be refused; nothing else */
	M_TRY,	       /* sl_udp_reply_buf, sl_udp_reply(len, unchanged), sl_udp_write: recorded,
			* not judged */
};

/* A datagram delivered to the callback, and what was done with it. */
struct dlv {
	struct sl_udp_meta m;
	size_t len;
	size_t off; /* its bytes, copied into dpool */
	int mode;
	size_t cap;
	bool inplace;			 /* a reply in place left (sl_udp_reply returned 0) */
	size_t rlen;			 /* its length */
	bool rewrote;			 /* rw_payload(its bytes, rlen) */
	bool wrote;			 /* sl_udp_write returned 0 */
	int r, w;			 /* the last sl_udp_reply / sl_udp_write result */
	bool got_buf;			 /* M_TRY: sl_udp_reply_buf gave one */
	int64_t free_before, free_after; /* free frames around sl_udp_reply */
};

#define NDLV 8192

struct harness {
	bool up;
	struct sl_dev *dev, *wire;
	struct sl_stack *st;
	struct sl_stack_config cfg;
	uint64_t now;
	struct host host[NHOST];
	unsigned nhost;
	struct cap *cap;
	unsigned ncap;
	bool peer_sent;
	uint16_t peer_id;
	/* the callback */
	int mode;
	uint8_t pmode[65536]; /* per source port of the datagram: a mode (0: H.mode) */
	size_t rw_len;	      /* M_REWRITE: bytes of the reply; RW_CAP: cap; RW_FN: rw_fn */
	size_t (*rw_fn)(size_t len, size_t cap, uint16_t sport);
	bool oversize_then_reply;
	struct dlv dlv[NDLV];
	unsigned ndlv;
	struct sl_udp_meta prev_meta;
	bool have_prev;
	const struct sl_udp_meta *last_mp; /* the pointer the last callback was given */
	unsigned wire_sent;		   /* frames the test sent */
	char cb_fail[512];
	void (*extra)(struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		      size_t len); /* run first in every callback when set */
	/* path MTU the test told the stack of, per host (0: the link's) */
	uint32_t pmtu[NHOST];
	/* identifications of IPv4 datagrams without DF, per destination (RFC 6864 §4.1) */
	struct {
		uint32_t dst;
		uint16_t id;
	} ids[8192];
	unsigned nids;
	unsigned held; /* frames the stack may hold when the link is quiet (waiting for ARP) */
};
static struct harness H;

#define RW_CAP ((size_t)-1)
#define RW_FN ((size_t)-2)

static uint8_t dpool[32u << 20];
static size_t dpool_used;

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

static struct host *peer4(unsigned i)
{
	assert_true(i < 200);
	sl_ip a = ip4(0x0a00000au + i);
	return add_host(&a, 0x44, i);
}

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

/* A host off the link, reached through the gateway / router (its MAC: theirs). */
static struct host *offlink(const char *s)
{
	sl_ip a;
	assert_int_equal(sl_ip_parse(s, &a), 0);
	struct host *g = sl_ip_is_v4(&a) ? gw4() : gw6();
	struct host *h = add_host(&a, 0x0f, H.nhost);
	memcpy(h->mac, g->mac, 6);
	h->answer = false;
	return h;
}

static bool on_link(const sl_ip *a)
{
	if (sl_ip_is_v4(a))
		return (sl_ip_to_v4(a) & 0xffffff00u) == (ST4 & 0xffffff00u);
	static const uint8_t ll[8] = {0xfe, 0x80};
	return !memcmp(a->b, ST6.b, 8) || !memcmp(a->b, ll, 8);
}

/* The MAC a datagram to a must go to: the neighbour's own on the link, else the gateway's or
 * the router's (the route says). */
static const uint8_t *route_mac(const sl_ip *a)
{
	if (!on_link(a))
		return sl_ip_is_v4(a) ? gw4()->mac : gw6()->mac;
	struct host *h = find_host(a);
	assert_non_null(h);
	return h->mac;
}

/* The neighbour a datagram to a goes through. */
static struct host *route_host(const sl_ip *a)
{
	if (!on_link(a))
		return sl_ip_is_v4(a) ? gw4() : gw6();
	return find_host(a);
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
	H.wire_sent++;
}

static void eth(uint8_t *fr, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(fr, dst, 6);
	memcpy(fr + 6, src, 6);
	put16(fr + 12, type);
}

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

/* An IPv4 header with options (optlen a multiple of 4) and its checksum. */
static void ip4_hdr(uint8_t *ip, uint16_t tot, uint16_t id, uint16_t frag, uint8_t ttl, uint8_t tos,
		    uint8_t proto, const sl_ip *src, const sl_ip *dst, const uint8_t *opt,
		    size_t optlen)
{
	size_t ihl = 20 + optlen;
	ip[0] = (uint8_t)(0x40 | ihl / 4), ip[1] = tos;
	put16(ip + 2, tot);
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = ttl, ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, src->b + 12, 4);
	memcpy(ip + 16, dst->b + 12, 4);
	if (optlen)
		memcpy(ip + 20, opt, optlen);
	put16(ip + 10, (uint16_t)~ref_sum(ip, ihl, 0));
}

static void ip6_hdr(uint8_t *ip, uint16_t plen, uint8_t nh, uint8_t hlim, uint8_t tc, uint32_t flow,
		    const sl_ip *src, const sl_ip *dst)
{
	put32(ip, 6u << 28 | (uint32_t)tc << 20 | (flow & 0xfffff));
	put16(ip + 4, plen);
	ip[6] = nh, ip[7] = hlim;
	memcpy(ip + 8, src->b, 16);
	memcpy(ip + 24, dst->b, 16);
}

/* How the test sends a datagram. Zero: to the stack's MAC from the host's, TTL 64, a new
 * identification, checksum, no options, whole. */
struct sopt {
	const uint8_t *eth_dst, *eth_src;
	int id; /* IPv4 identification + 1 (0: a new one) */
	uint8_t ttl, tos;
	uint32_t flow; /* IPv6 flow label */
	bool df;
	bool no_csum; /* IPv4: checksum 0, none (RFC 768) */
	const uint8_t *opt;
	size_t optlen; /* IPv4 options */
	bool ext;      /* IPv6: one extension header of type ext_type, ext[0..extlen) (its
			* next-header byte is set here) */
	uint8_t ext_type;
	const uint8_t *extb;
	size_t extlen;
	size_t frag;	 /* fragments of this many bytes of the UDP datagram (a multiple of 8) */
	bool atomic;	 /* IPv6: a fragment header with offset 0 and M 0 (RFC 6946) */
	size_t trailer;	 /* bytes after the IP packet in the frame (or pad to 60 when smaller) */
	size_t ip_extra; /* bytes inside the IP packet after the UDP datagram (its length field
			  * short of the IP payload) */
};

/* A UDP datagram from host h to dst:dport from sport. */
static void send_dg(const struct host *h, const sl_ip *dst, uint16_t sport, uint16_t dport,
		    const uint8_t *data, size_t len, const struct sopt *o)
{
	static const struct sopt none;
	static uint8_t udp[65536 + 8];
	static uint8_t fr[FRAME + 64];
	if (!o)
		o = &none;
	bool v6 = !sl_ip_is_v4(dst);
	size_t ulen = 8 + len;
	assert_true(ulen + o->ip_extra <= 65535);
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)ulen);
	put16(udp + 6, 0);
	memcpy(udp + 8, data, len);
	if (!(o->no_csum && !v6))
		put16(udp + 6, ref_udp_csum(&h->ip, dst, udp, ulen));
	for (size_t k = 0; k < o->ip_extra; k++)
		udp[ulen + k] = (uint8_t)(0xc0 + k);
	ulen += o->ip_extra; /* the IP payload from here on */
	const uint8_t *ed = o->eth_dst ? o->eth_dst : H.dev->mac;
	const uint8_t *es = o->eth_src ? o->eth_src : h->mac;
	uint8_t ttl = o->ttl ? o->ttl : 64;
	uint16_t id = o->id ? (uint16_t)(o->id - 1) : ++H.peer_id;
	size_t per = o->frag ? o->frag : ulen;
	bool fragd = o->frag || o->atomic;
	for (size_t off = 0; off < ulen || (ulen == 0 && off == 0); off += per) {
		size_t n = ulen - off < per ? ulen - off : per;
		bool more = off + n < ulen;
		size_t at = 14;
		eth(fr, ed, es, v6 ? 0x86dd : 0x0800);
		if (!v6) {
			size_t optlen = off == 0 ? o->optlen : 0;
			uint16_t fl = (uint16_t)((o->df ? 0x4000 : 0) | (more ? 0x2000 : 0) |
						 (o->frag ? off / 8 : 0));
			ip4_hdr(fr + at, (uint16_t)(20 + optlen + n), id, fl, ttl, o->tos, 17,
				&h->ip, dst, o->opt, optlen);
			at += 20 + optlen;
		} else {
			size_t plen = (o->ext ? o->extlen : 0) + (fragd ? 8 : 0) + n;
			uint8_t first = o->ext ? o->ext_type : fragd ? 44 : 17;
			ip6_hdr(fr + at, (uint16_t)plen, first, ttl, o->tos, o->flow, &h->ip, dst);
			at += 40;
			if (o->ext) {
				memcpy(fr + at, o->extb, o->extlen);
				fr[at] = fragd ? 44 : 17;
				at += o->extlen;
			}
			if (fragd) {
				fr[at] = 17, fr[at + 1] = 0;
				put16(fr + at + 2, (uint16_t)(off | more));
				put32(fr + at + 4, 0x51ce0000u + id);
				at += 8;
			}
		}
		assert_true(at + n + o->trailer <= FRAME);
		memcpy(fr + at, udp + off, n);
		at += n;
		for (size_t k = 0; k < o->trailer; k++)
			fr[at++] = (uint8_t)(0xe0 + k);
		while (o->trailer && at < 60)
			fr[at++] = 0xee;
		wire_tx(fr, at);
		if (!more)
			break;
	}
}

static void send_icmp6(const uint8_t *eth_dst, const uint8_t *eth_src, const sl_ip *src,
		       const sl_ip *dst, uint8_t hlim, uint8_t *m, size_t len)
{
	static uint8_t fr[FRAME];
	put16(m + 2, 0);
	put16(m + 2, (uint16_t)~ref_sum(m, len, ref_pseudo(src, dst, 58, (uint32_t)len)));
	eth(fr, eth_dst, eth_src, 0x86dd);
	ip6_hdr(fr + 14, (uint16_t)len, 58, hlim, 0, 0, src, dst);
	memcpy(fr + 54, m, len);
	wire_tx(fr, 54 + len);
}

#define NA_R 0x80000000u
#define NA_S 0x40000000u
#define NA_O 0x20000000u

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

/* --- what the stack sends ------------------------------------------------------------------- */

struct ipf {
	bool v6;
	const uint8_t *fr;
	const uint8_t *ip;
	size_t iplen;
	sl_ip src, dst;
	uint8_t proto;
	uint8_t ttl;
	bool frag, mf, df;
	uint32_t off;
	uint32_t id;
	const uint8_t *data;
	size_t dlen;
};

static uint32_t link_mtu(void)
{
	return H.cfg.mtu ? H.cfg.mtu : H.dev->mtu;
}

/* Parse an IP frame the stack sent and check what RFC 791 / RFC 8200 ask of every packet;
 * false when the frame is not IPv4 or IPv6. */
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
		assert_int_equal(fl & 0x8000, 0);
		f->df = fl & 0x4000;
		f->mf = fl & 0x2000;
		f->off = (uint32_t)(fl & 0x1fff) * 8;
		f->frag = f->mf || f->off;
		if (f->df)
			assert_false(f->frag);
		f->ttl = ip[8];
		assert_true(f->ttl > 0);
		f->proto = ip[9];
		f->id = get16(ip + 4);
		f->src = ip4(get32(ip + 12));
		f->dst = ip4(get32(ip + 16));
		uint32_t s = get32(ip + 12);
		/* RFC 1122 §3.2.1.3: never a broadcast, multicast or zero source */
		assert_true(s != 0 && s != 0xffffffffu && (s >> 28) != 0xe);
		assert_true((s & 0xff) != 0xff);
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
	memcpy(f->src.b, ip + 8, 16);
	memcpy(f->dst.b, ip + 24, 16);
	assert_true(ip[8] != 0xff); /* never a multicast source */
	f->proto = ip[6];
	f->data = ip + 40;
	f->dlen = plen;
	if (f->proto == 44) {
		assert_true(plen >= 8);
		const uint8_t *fh = ip + 40;
		assert_int_equal(fh[1], 0);
		assert_int_equal(get16(fh + 2) & 6, 0);
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

/* RFC 768: the length field covers the datagram, the checksum is the one computed here. */
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
			h->resolved = true;
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
			assert_int_equal(f.ttl, 255);
			sl_ip t;
			memcpy(t.b, f.data + 8, 16);
			struct host *h = find_host(&t);
			if (h && h->answer && !sl_ip_is_zero(&f.src)) {
				send_na(h, &f.src, p + 6, NA_S | NA_O, h->mac);
				h->resolved = true;
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

static void cb_check_failed(void)
{
	if (H.cb_fail[0]) {
		print_message("in the receive callback: %s\n", H.cb_fail);
		H.cb_fail[0] = 0;
		fail();
	}
}

/* Every frame of both ends is in its pool, but for at most H.held the stack may keep waiting
 * for a neighbour, and none came back from the wrong place. */
static void check_pool(void)
{
	struct sl_dev_counts c;
	sl_dev_counts(H.dev, &c);
	assert_int_equal(c.owner_errors, 0);
	if (H.held ? c.owner[SL_OWN_FREE] + H.held < c.total : c.owner[SL_OWN_FREE] != c.total) {
		print_message("stack end: %lu of %lu frames free (stack %lu, tx %lu, kernel %lu), "
			      "want all but %u\n",
			      (unsigned long)c.owner[SL_OWN_FREE], (unsigned long)c.total,
			      (unsigned long)c.owner[SL_OWN_STACK],
			      (unsigned long)c.owner[SL_OWN_TX],
			      (unsigned long)c.owner[SL_OWN_KERNEL], H.held);
		fail();
	}
	sl_dev_counts(H.wire, &c);
	assert_int_equal(c.owner_errors, 0);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total);
}

/* Poll at this instant until nothing moves. */
static void h_poll(void)
{
	for (int k = 0; k < 64; k++) {
		H.peer_sent = false;
		unsigned before = H.ncap;
		sl_stack_poll(H.st, H.now);
		cb_check_failed();
		collect();
		if (k >= 1 && !H.peer_sent && H.ncap == before)
			break;
	}
	check_pool();
}

/* Run the clock for ns, from deadline to deadline (at most 50 ms at a step). */
static void h_run(uint64_t ns)
{
	uint64_t end = H.now + ns;
	h_poll();
	while (H.now < end) {
		uint64_t next = sl_stack_poll(H.st, H.now);
		cb_check_failed();
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
	c.seed = tu_seed(8200);
	c.deterministic_secrets = true;
	return c;
}

static void on_udp(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		   size_t len);

#define PORT 7 /* the port the tests send to; others listen on PORT2 (queue) and PORT3 */
#define PORT2 8
#define PORT3 9

/* Open the stack, wait out DAD, listen on PORT (and PORT3) with the callback; captures
 * cleared. */
static uint32_t dev_mtu; /* the device's MTU the next h_up sets (0: the pipe's 1500) */

static void h_up(const struct sl_stack_config *cfg)
{
	memset(&H, 0, sizeof H);
	H.cap = calloc(CAPMAX, sizeof *H.cap);
	assert_non_null(H.cap);
	H.cfg = cfg ? *cfg : h_cfg();
	H.mode = M_ECHO;
	rs = tu_seed(8200) * 0x9e3779b97f4a7c15ULL + 1;
	dpool_used = 0;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &H.dev, &H.wire), 0);
	if (dev_mtu)
		H.dev->mtu = H.wire->mtu = dev_mtu;
	H.now = 1 * SEC;
	assert_int_equal(sl_stack_open(H.dev, &H.cfg, H.now, &H.st), 0);
	H.up = true;
	h_run(3 * SEC);
	for (unsigned i = 0; i < H.cfg.n_addrs; i++)
		assert_int_equal(sl_ip_addr_state(H.st, &H.cfg.addrs[i].addr), 0);
	assert_int_equal(sl_udp_listen(H.st, PORT, on_udp, NULL), 0);
	assert_int_equal(sl_udp_listen(H.st, PORT3, on_udp, NULL), 0);
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

/* Close, and check that every frame went back to its pool (sl_dev_close_counted). */
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

/* --- the receive callback --------------------------------------------------------------------- */

static void cb_fail(int line, const char *fmt, ...)
{
	if (H.cb_fail[0])
		return;
	int n = snprintf(H.cb_fail, sizeof H.cb_fail, "line %d: ", line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(H.cb_fail + n, sizeof H.cb_fail - (size_t)n, fmt, ap);
	va_end(ap);
}
#define CB_CHECK(c, ...)                                                                           \
	do {                                                                                       \
		if (!(c))                                                                          \
			cb_fail(__LINE__, __VA_ARGS__);                                            \
	} while (0)

/* The payload of a rewritten reply of rlen bytes to a datagram of len bytes orig from port
 * sport. */
static void rw_payload(const uint8_t *orig, size_t len, uint8_t *out, size_t rlen, uint16_t sport)
{
	for (size_t i = 0; i < rlen; i++)
		out[i] = (uint8_t)((i * 31 + sport) ^ (len ? orig[i % len] : 0x5a) ^ 0xa5);
}

/* The most a reply to m may carry: the path MTU (the link's, or what the test told the stack
 * about the sender) less the headers, and the frame's room. */
static size_t want_cap(const struct sl_udp_meta *m)
{
	bool v6 = !sl_ip_is_v4(&m->src);
	size_t hl = v6 ? 40 : 20;
	size_t mtu = link_mtu();
	struct host *h = find_host(&m->src);
	if (h && H.pmtu[h - H.host])
		mtu = H.pmtu[h - H.host];
	size_t c = mtu - hl - 8;
	size_t room = PIPE_FRAME - 14 - hl - 8;
	return c < room ? c : room;
}

static bool ours(struct sl_stack *st, const sl_ip *a)
{
	return sl_ip_addr_state(st, a) == 0;
}

static int64_t free_frames(void)
{
	struct sl_dev_counts c;
	sl_dev_counts(H.dev, &c);
	return (int64_t)c.owner[SL_OWN_FREE];
}

/* The fallback: sl_udp_write back to the sender from the port (and, when ours, the address)
 * it was sent to. */
static void write_back(struct sl_stack *st, struct dlv *d, const struct sl_udp_meta *m,
		       const uint8_t *p, size_t len)
{
	struct sl_udp_write_opts o = {.src = ours(st, &m->dst) ? &m->dst : NULL,
				      .src_port = m->dst_port};
	d->w = sl_udp_write(st, &o, &m->src, m->src_port, p, len);
	CB_CHECK(d->w == 0, "sl_udp_write back to %s:%u, %zu bytes: %d (%s)", ipstr(&m->src),
		 m->src_port, len, d->w, sl_strerror(d->w));
	d->wrote = d->w == 0;
}

/* Every way of asking for a reply to m must be refused: sl_udp_reply_buf NULL, sl_udp_reply
 * -EINVAL (unchanged or not, any length). */
static void must_refuse(struct sl_stack *st, const struct sl_udp_meta *m, size_t len,
			const char *why)
{
	size_t cap = 12345;
	uint8_t *b = sl_udp_reply_buf(st, m, &cap);
	CB_CHECK(b == NULL, "%s: sl_udp_reply_buf gave a buffer (cap %zu)", why, cap);
	int r = sl_udp_reply(st, m, len, true);
	CB_CHECK(r == -EINVAL, "%s: sl_udp_reply(%zu, unchanged) = %d, want -EINVAL", why, len, r);
	r = sl_udp_reply(st, m, 0, false);
	CB_CHECK(r == -EINVAL, "%s: sl_udp_reply(0) = %d, want -EINVAL", why, r);
	r = sl_udp_reply(st, m, len, false);
	CB_CHECK(r == -EINVAL, "%s: sl_udp_reply(%zu) = %d, want -EINVAL", why, len, r);
}

/* The buffer of the current datagram: the payload itself, in the frame (no copy), cap within
 * the path MTU and at least its own length when that fits. */
static uint8_t *get_buf(struct sl_stack *st, struct dlv *d, const struct sl_udp_meta *m,
			const uint8_t *data, size_t len)
{
	size_t cap = 0;
	uint8_t *b = sl_udp_reply_buf(st, m, &cap);
	CB_CHECK(b != NULL, "sl_udp_reply_buf NULL for a datagram from %s:%u to %s:%u (%zu bytes)",
		 ipstr(&m->src), m->src_port, ipstr(&m->dst), m->dst_port, len);
	if (!b)
		return NULL;
	CB_CHECK(b == data, "sl_udp_reply_buf %p is not the datagram's payload %p", (void *)b,
		 (const void *)data);
	size_t w = want_cap(m);
	CB_CHECK(cap <= w, "cap %zu above the path MTU's %zu (from %s)", cap, w, ipstr(&m->src));
	CB_CHECK(len > w || cap >= len, "cap %zu below the datagram's own length %zu", cap, len);
	d->cap = cap;
	return b;
}

/* No copy, no second frame: with the next hop resolved, sl_udp_reply takes no frame from the
 * pool (an unresolved one may: the ARP request / NS). */
static void no_frame_taken(const struct dlv *d)
{
	struct host *nh = route_host(&d->m.src);
	if (nh && nh->resolved)
		CB_CHECK(d->free_after >= d->free_before,
			 "sl_udp_reply took a frame (%ld -> %ld free) for a reply to %s",
			 (long)d->free_before, (long)d->free_after, ipstr(&d->m.src));
}

static void do_echo(struct sl_stack *st, struct dlv *d, const struct sl_udp_meta *m,
		    const uint8_t *data, size_t len)
{
	uint8_t *b = get_buf(st, d, m, data, len);
	if (!b)
		return;
	d->free_before = free_frames();
	d->r = sl_udp_reply(st, m, len, true);
	d->free_after = free_frames();
	if (len > d->cap) {
		CB_CHECK(d->r == -EMSGSIZE, "sl_udp_reply(%zu, unchanged) above cap %zu: %d", len,
			 d->cap, d->r);
		CB_CHECK(!memcmp(data, dpool + d->off, len), "data changed by a refused reply");
		write_back(st, d, m, data, len);
		return;
	}
	CB_CHECK(d->r == 0, "sl_udp_reply(%zu, unchanged) from %s:%u: %d (%s)", len, ipstr(&m->src),
		 m->src_port, d->r, sl_strerror(d->r));
	no_frame_taken(d);
	d->inplace = d->r == 0;
	d->rlen = len;
}

static void do_rewrite(struct sl_stack *st, struct dlv *d, const struct sl_udp_meta *m,
		       const uint8_t *data, size_t len)
{
	uint8_t *b = get_buf(st, d, m, data, len);
	if (!b)
		return;
	size_t rl = H.rw_len == RW_CAP	? d->cap
		    : H.rw_len == RW_FN ? H.rw_fn(len, d->cap, m->src_port)
					: H.rw_len;
	CB_CHECK(rl <= d->cap, "the test asks for %zu bytes above cap %zu", rl, d->cap);
	rw_payload(dpool + d->off, len, b, rl, m->src_port);
	d->free_before = free_frames();
	d->r = sl_udp_reply(st, m, rl, false);
	d->free_after = free_frames();
	CB_CHECK(d->r == 0, "sl_udp_reply(%zu) from %s:%u (cap %zu): %d (%s)", rl, ipstr(&m->src),
		 m->src_port, d->cap, d->r, sl_strerror(d->r));
	no_frame_taken(d);
	d->inplace = d->r == 0;
	d->rewrote = true;
	d->rlen = rl;
}

static int in_extra;	 /* extra_calls (below) is running */
static int nested_self; /* deliveries from our own address while it ran */

static void on_udp(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		   size_t len)
{
	if (in_extra && (ip_eq(&m->src, &S4) || ip_eq(&m->src, &ST6)))
		nested_self++;
	if (H.extra)
		H.extra(st, m, data, len);
	if (H.ndlv >= NDLV || dpool_used + len > sizeof dpool) {
		cb_fail(__LINE__, "too many deliveries for the test's records");
		return;
	}
	struct dlv *d = &H.dlv[H.ndlv++];
	memset(d, 0, sizeof *d);
	d->m = *m;
	d->len = len;
	d->off = dpool_used;
	d->w = 1;
	d->r = 1;
	memcpy(dpool + dpool_used, data, len);
	dpool_used += len;
	int mode = H.pmode[m->src_port] ? H.pmode[m->src_port] : H.mode;
	d->mode = mode;
	switch (mode) {
	case M_ECHO:
		do_echo(st, d, m, data, len);
		break;
	case M_REWRITE:
		do_rewrite(st, d, m, data, len);
		break;
	case M_REFUSE:
		must_refuse(st, m, len, "a datagram the contract refuses");
		CB_CHECK(!memcmp(data, dpool + d->off, len), "data changed by a refused reply");
		write_back(st, d, m, data, len);
		break;
	case M_TWICE: {
		do_echo(st, d, m, data, len);
		must_refuse(st, m, len, "a datagram replied to already");
		write_back(st, d, m, dpool + d->off, len); /* data must not be touched now */
		break;
	}
	case M_OVERSIZE: {
		uint8_t *b = get_buf(st, d, m, data, len);
		if (!b)
			break;
		static const size_t over[] = {1, 2, 7, 1000, 65536, 1u << 20};
		for (size_t k = 0; k < sizeof over / sizeof over[0]; k++) {
			int r = sl_udp_reply(st, m, d->cap + over[k], false);
			CB_CHECK(r == -EMSGSIZE, "sl_udp_reply(cap %zu + %zu): %d, want -EMSGSIZE",
				 d->cap, over[k], r);
		}
		int r = sl_udp_reply(st, m, SIZE_MAX, false);
		CB_CHECK(r == -EMSGSIZE, "sl_udp_reply(SIZE_MAX): %d, want -EMSGSIZE", r);
		r = sl_udp_reply(st, m, SIZE_MAX - 7, false);
		CB_CHECK(r == -EMSGSIZE, "sl_udp_reply(SIZE_MAX - 7): %d, want -EMSGSIZE", r);
		r = sl_udp_reply(st, m, (size_t)65536 + 65535 - 8, false);
		CB_CHECK(r == -EMSGSIZE, "sl_udp_reply(131063): %d, want -EMSGSIZE", r);
		CB_CHECK(!memcmp(data, dpool + d->off, len), "data changed by a refused reply");
		if (H.oversize_then_reply) {
			H.rw_len = RW_CAP;
			do_rewrite(st, d, m, data, len);
		} else {
			write_back(st, d, m, data, len);
		}
		break;
	}
	case M_STALE:
		if (H.have_prev) {
			must_refuse(st, &H.prev_meta, len, "the previous datagram's meta (a copy)");
			struct sl_udp_meta x = *m;
			x.src_port ^= 0x100;
			must_refuse(st, &x, len, "a meta with another source port");
			x = *m;
			x.src.b[15] ^= 1;
			must_refuse(st, &x, len, "a meta with another source address");
		}
		do_echo(st, d, m, data, len);
		break;
	case M_WRITE:
		write_back(st, d, m, data, len);
		break;
	case M_NONE:
		break;
	case M_REFUSE_ONLY:
		must_refuse(st, m, len, "a datagram the contract refuses");
		break;
	case M_TRY: {
		size_t cap = 0;
		d->got_buf = sl_udp_reply_buf(st, m, &cap) != NULL;
		d->cap = cap;
		d->r = sl_udp_reply(st, m, len, true);
		d->inplace = d->r == 0;
		d->rlen = len;
		struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
		d->w = sl_udp_write(st, &o, &m->src, m->src_port, data, len);
		break;
	}
	}
	H.prev_meta = *m;
	H.have_prev = true;
	H.last_mp = m;
}

/* --- datagrams out of the captures ---------------------------------------------------------- */

struct dg {
	bool v6;
	sl_ip src, dst;
	uint8_t dmac[6];
	uint8_t ttl;
	bool df;
	uint32_t id;
	unsigned nfrags, first, last;
	size_t iplen0;
	uint16_t sport, dport, csum;
	size_t len;
	const uint8_t *p;
	bool used; /* paired with a delivery by check_all */
};

#define DGMAX 8192
static struct dg D[DGMAX];
static uint8_t dgpool[32u << 20];
static size_t dgpool_used;

struct partial {
	bool used, v6, have_last;
	sl_ip src, dst;
	uint32_t id;
	uint8_t proto, ttl, dmac[6];
	size_t total, got;
	unsigned nfr, first;
	size_t iplen0;
	uint8_t buf[65536 + 8];
	uint8_t have[65536 + 8];
};
static struct partial PART[4];

static void dg_emit(unsigned *n, bool v6, const sl_ip *src, const sl_ip *dst, const uint8_t *dmac,
		    uint8_t ttl, bool df, uint32_t id, unsigned nfr, unsigned first, unsigned last,
		    size_t iplen0, const uint8_t *u, size_t ulen)
{
	check_udp(src, dst, u, ulen);
	assert_true(*n < DGMAX);
	assert_true(dgpool_used + ulen <= sizeof dgpool);
	struct dg *d = &D[(*n)++];
	memset(d, 0, sizeof *d);
	d->v6 = v6;
	d->src = *src;
	d->dst = *dst;
	memcpy(d->dmac, dmac, 6);
	d->ttl = ttl;
	d->df = df;
	d->id = id;
	d->nfrags = nfr;
	d->first = first;
	d->last = last;
	d->iplen0 = iplen0;
	d->sport = get16(u);
	d->dport = get16(u + 2);
	d->csum = get16(u + 6);
	d->len = ulen - 8;
	memcpy(dgpool + dgpool_used, u + 8, ulen - 8);
	d->p = dgpool + dgpool_used;
	dgpool_used += ulen - 8;
}

/* The UDP datagrams in the captures from index from on, in D[]; fragments reassembled (RFC
 * 791 §3.2, RFC 8200 §4.5), every fragmented datagram complete. */
static unsigned dgrams(unsigned from)
{
	unsigned n = 0;
	dgpool_used = 0;
	memset(PART, 0, sizeof PART);
	for (unsigned i = from; i < H.ncap; i++) {
		struct ipf f;
		if (!ipf_parse(H.cap[i].b, H.cap[i].len, &f) || f.proto != 17)
			continue;
		if (!f.frag) {
			dg_emit(&n, f.v6, &f.src, &f.dst, f.fr, f.ttl, f.df, f.id, 1, i, i, f.iplen,
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
				memcpy(p->dmac, f.fr, 6);
				p->first = i;
			}
		assert_non_null(p);
		assert_int_equal(f.proto, p->proto);
		assert_int_equal(f.ttl, p->ttl);
		assert_memory_equal(f.fr, p->dmac, 6);
		if (f.mf)
			assert_int_equal(f.dlen % 8, 0);
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
			dg_emit(&n, p->v6, &p->src, &p->dst, p->dmac, p->ttl, false, p->id, p->nfr,
				p->first, i, p->iplen0, p->buf, p->total);
			p->used = false;
		}
	}
	for (unsigned k = 0; k < 4; k++)
		if (PART[k].used) {
			print_message("an incomplete fragmented datagram (id %#x)\n", PART[k].id);
			fail();
		}
	return n;
}

/* RFC 791 / RFC 6864 §4.1: an IPv4 datagram that may be fragmented (DF clear) carries an
 * identification not used before towards the same destination. */
static void note_id(bool v6, bool df, const sl_ip *dst, uint32_t id)
{
	if (v6 || df)
		return;
	uint32_t a = sl_ip_to_v4(dst);
	for (unsigned i = 0; i < H.nids; i++)
		if (H.ids[i].dst == a && H.ids[i].id == id) {
			print_message("IPv4 identification %u used twice towards %s\n", id,
				      ipstr(dst));
			fail();
		}
	if (H.nids < sizeof H.ids / sizeof H.ids[0]) {
		H.ids[H.nids].dst = a;
		H.ids[H.nids].id = (uint16_t)id;
		H.nids++;
	}
}

static uint8_t want_ttl(void)
{
	return H.cfg.ttl ? H.cfg.ttl : 64;
}

static void print_mac(const char *what, const uint8_t *m)
{
	print_message("%s %02x:%02x:%02x:%02x:%02x:%02x\n", what, m[0], m[1], m[2], m[3], m[4],
		      m[5]);
}

/* The reply in place, byte for byte: the frame c must be the datagram from src:sport to
 * to:dport carrying p[0..len), built here as RFC 768 / 791 / 8200 say with the stack's
 * defaults, to Ethernet mac. The IPv4 identification is taken from the frame (note_id checks
 * it is fresh). */
static void check_reply_frame(const struct cap *c, const sl_ip *to, const uint8_t *mac,
			      const sl_ip *src, uint16_t sport, uint16_t dport, const uint8_t *p,
			      size_t len)
{
	static uint8_t want[FRAME + 64];
	bool v6 = !sl_ip_is_v4(to);
	size_t hl = v6 ? 40 : 20;
	size_t iplen = hl + 8 + len;
	assert_true(14 + iplen <= FRAME);
	eth(want, mac, H.dev->mac, v6 ? 0x86dd : 0x0800);
	uint8_t *ip = want + 14;
	if (!v6) {
		uint16_t id = c->len >= 20 ? get16(c->b + 18) : 0;
		ip4_hdr(ip, (uint16_t)iplen, id, 0, want_ttl(), 0, 17, src, to, NULL, 0);
	} else {
		ip6_hdr(ip, (uint16_t)(8 + len), 17, want_ttl(), 0, 0, src, to);
	}
	uint8_t *u = ip + hl;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + len));
	put16(u + 6, 0);
	memcpy(u + 8, p, len);
	put16(u + 6, ref_udp_csum(src, to, u, 8 + len));
	size_t n = 14 + iplen;
	bool len_ok = c->len == n || (n < 60 && c->len <= 60 && c->len > n);
	if (!len_ok || memcmp(c->b, want, n)) {
		size_t at = 0;
		while (at < n && at < c->len && c->b[at] == want[at])
			at++;
		const char *where = at < 14	       ? "Ethernet header"
				    : at < 14 + hl     ? "IP header"
				    : at < 14 + hl + 8 ? "UDP header"
						       : "payload";
		print_message("reply to %s:%u (%zu bytes): frame of %u bytes, want %zu; first "
			      "difference at byte %zu (%s, %zu into it): %02x, want %02x\n",
			      ipstr(to), dport, len, c->len, n, at, where,
			      at < 14	     ? at
			      : at < 14 + hl ? at - 14
					     : at - 14 - hl,
			      at < c->len ? c->b[at] : 0, at < n ? want[at] : 0);
		if (at < 14)
			print_mac("Ethernet destination", c->b), print_mac("want", mac);
		fail();
	}
	if (!v6)
		note_id(false, false, to, get16(c->b + 18));
}

/* What a delivery's reply carries: its own bytes, or the rewrite of them. */
static const uint8_t *want_payload(const struct dlv *d, size_t *len)
{
	static uint8_t buf[65536];
	if (d->rewrote) {
		rw_payload(dpool + d->off, d->len, buf, d->rlen, d->m.src_port);
		*len = d->rlen;
		return buf;
	}
	*len = d->len;
	return dpool + d->off;
}

/* The datagram in D[0..n) that answers d (to its source and source port, from its
 * destination port), not paired yet, whose payload is p[0..len) when p; -1 if none. */
static int find_answer(unsigned n, const struct dlv *d, const uint8_t *p, size_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (!D[i].used && ip_eq(&D[i].dst, &d->m.src) && D[i].dport == d->m.src_port &&
		    D[i].sport == d->m.dst_port &&
		    (!p || (D[i].len == len && (!len || !memcmp(D[i].p, p, len)))))
			return (int)i;
	return -1;
}

/* A reply sent by sl_udp_write: to the sender and its MAC (the route's), from the address
 * it was sent to when ours (else source selection: the stack's first of the family), the
 * port it was sent to, the stack's TTL, DF clear. */
static void check_written(const struct dg *g, const struct dlv *d, const uint8_t *p, size_t len)
{
	const sl_ip *src = ours(H.st, &d->m.dst) ? &d->m.dst : sl_ip_is_v4(&d->m.src) ? &S4 : &ST6;
	assert_ip_equal(&g->src, src);
	assert_ip_equal(&g->dst, &d->m.src);
	assert_memory_equal(g->dmac, route_mac(&d->m.src), 6);
	assert_int_equal(g->len, len);
	assert_int_equal(g->ttl, want_ttl());
	assert_false(g->df);
	if (g->nfrags == 1)
		assert_int_equal(g->iplen0, (g->v6 ? 40 : 20) + 8 + len);
	note_id(g->v6, g->df, &g->dst, g->id);
}

struct mark {
	unsigned cap, dlv;
	uint64_t udp_rx, udp_tx, tx_frames;
};

static struct mark mark(void)
{
	struct mark k = {H.ncap, H.ndlv, STAT(udp_rx), STAT(udp_tx), STAT(tx_frames)};
	return k;
}

/* Everything since k: each delivery's reply (in place: the exact frame; written: checked as
 * such; both for M_TWICE), nothing else UDP on the wire, and the counters: udp_rx by the
 * deliveries, udp_tx by the datagrams that left, tx_frames by the frames captured. Returns the
 * datagrams that left. */
static unsigned check_all(struct mark k)
{
	unsigned n = dgrams(k.cap);
	unsigned want = 0;
	for (unsigned i = k.dlv; i < H.ndlv; i++) {
		const struct dlv *d = &H.dlv[i];
		size_t len;
		const uint8_t *p = want_payload(d, &len);
		if (d->inplace) {
			int at = find_answer(n, d, p, len);
			if (at < 0) {
				print_message(
				    "no reply in place to %s:%u (%zu bytes), delivery %u\n",
				    ipstr(&d->m.src), d->m.src_port, len, i - k.dlv);
				fail();
			}
			D[at].used = true;
			assert_int_equal(D[at].nfrags, 1);
			check_reply_frame(&H.cap[D[at].first], &d->m.src, route_mac(&d->m.src),
					  &d->m.dst, d->m.dst_port, d->m.src_port, p, len);
			want++;
		}
		if (d->wrote) {
			const uint8_t *wp = dpool + d->off;
			int at = find_answer(n, d, wp, d->len);
			if (at < 0) {
				print_message(
				    "no written reply to %s:%u (%zu bytes), delivery %u\n",
				    ipstr(&d->m.src), d->m.src_port, d->len, i - k.dlv);
				fail();
			}
			D[at].used = true;
			check_written(&D[at], d, wp, d->len);
			want++;
		}
	}
	if (n != want) {
		for (unsigned i = 0; i < n; i++)
			if (!D[i].used)
				print_message("unexpected UDP %s:%u -> %s:%u, %zu bytes\n",
					      ipstr(&D[i].src), D[i].sport, ipstr(&D[i].dst),
					      D[i].dport, D[i].len);
		print_message("%u UDP datagrams left, want %u\n", n, want);
		fail();
	}
	assert_int_equal(STAT(udp_rx) - k.udp_rx, H.ndlv - k.dlv);
	assert_int_equal(STAT(udp_tx) - k.udp_tx, want);
	assert_int_equal(STAT(tx_frames) - k.tx_frames, H.ncap - k.cap);
	return n;
}

/* One datagram from h to `to`, delivered once, handled in mode, the link settled; then
 * check_all. Returns its delivery. */
static const struct dlv *one(const struct host *h, const sl_ip *to, uint16_t sport,
			     const uint8_t *data, size_t len, const struct sopt *o, int mode)
{
	struct mark k = mark();
	H.pmode[sport] = (uint8_t)mode;
	send_dg(h, to, sport, PORT, data, len, o);
	h_poll();
	H.pmode[sport] = 0;
	if (H.ndlv != k.dlv + 1) {
		print_message("%u deliveries of one datagram from %s:%u to %s (%zu bytes)\n",
			      H.ndlv - k.dlv, ipstr(&h->ip), sport, ipstr(to), len);
		fail();
	}
	const struct dlv *d = &H.dlv[k.dlv];
	assert_ip_equal(&d->m.src, &h->ip);
	assert_ip_equal(&d->m.dst, to);
	assert_int_equal(d->m.src_port, sport);
	assert_int_equal(d->m.dst_port, PORT);
	assert_int_equal(d->len, len);
	if (len)
		assert_memory_equal(dpool + d->off, data, len);
	check_all(k);
	return d;
}

/* The same, and the reply must have gone in place (not by sl_udp_write). */
static const struct dlv *inplace(const struct host *h, const sl_ip *to, uint16_t sport,
				 const uint8_t *data, size_t len, const struct sopt *o, int mode)
{
	const struct dlv *d = one(h, to, sport, data, len, o, mode);
	if (!d->inplace) {
		print_message("no reply in place to %s:%u (%zu bytes, cap %zu): r %d (%s)\n",
			      ipstr(&h->ip), sport, len, d->cap, d->r,
			      d->r == 1 ? "not called" : sl_strerror(d->r));
		fail();
	}
	return d;
}

/* The same, and the reply must have been refused and written instead. */
static const struct dlv *refused(const struct host *h, const sl_ip *to, uint16_t sport,
				 const uint8_t *data, size_t len, const struct sopt *o)
{
	const struct dlv *d = one(h, to, sport, data, len, o, M_REFUSE);
	assert_false(d->inplace);
	assert_true(d->wrote);
	return d;
}

/* --- ARP / ND requests in the captures -------------------------------------------------------- */

static unsigned requests_for(unsigned from, const sl_ip *a)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		const uint8_t *p = H.cap[i].b;
		if (get16(p + 12) == 0x0806) {
			const uint8_t *a4 = p + 14;
			if (get16(a4 + 6) == 1 && sl_ip_is_v4(a) &&
			    get32(a4 + 24) == sl_ip_to_v4(a))
				n++;
			continue;
		}
		struct ipf f;
		if (ipf_parse(p, H.cap[i].len, &f) && f.v6 && !f.frag && f.proto == 58 &&
		    f.dlen >= 24 && f.data[0] == 135 && !memcmp(f.data + 8, a->b, 16))
			n++;
	}
	return n;
}

static unsigned udp_in(unsigned from)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		struct ipf f;
		if (ipf_parse(H.cap[i].b, H.cap[i].len, &f) && f.proto == 17)
			n++;
	}
	return n;
}

/* A Packet Too Big from the router (RFC 4443 §3) reporting mtu, quoting the packet in capture
 * idx; the test remembers the path MTU for want_cap. */
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
	struct host *h = find_host(&f.dst);
	if (h)
		H.pmtu[h - H.host] = mtu;
}

/* --- payloads --------------------------------------------------------------------------------- */

static uint8_t *payload(size_t len)
{
	static uint8_t b[4][70000];
	static int k;
	k = (k + 1) % 4;
	fill_random(b[k], len);
	return b[k];
}

static const size_t LENS4[] = {0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 255, 511, 1000, 1471, 1472};
static const size_t LENS6[] = {0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 255, 511, 1000, 1451, 1452};
#define NLENS (sizeof LENS4 / sizeof LENS4[0])

/* --- tests: echo unchanged -------------------------------------------------------------------- */

/* IPv4, unchanged: every length from 0 to 1472 (the largest that leaves whole at MTU 1500),
 * odd and even, from datagrams with TTL 1, 17 or 255, TOS bits (DSCP, ECN CE), DF set or not,
 * and the same identification every time: each reply is the frame built here (TTL 64, TOS 0,
 * DF clear, a fresh identification, addresses and ports swapped, checksum), to the peer's
 * MAC, from the stack's. */
static void test_v4_echo_exact(void **state)
{
	h_up(NULL);
	struct host *p = peer4(0);
	static const uint8_t ttls[] = {1, 17, 255, 64};
	static const uint8_t toss[] = {0, 0xb8, 0x03, 0x01};
	for (int round = 0; round < 4; round++)
		for (size_t li = 0; li < NLENS; li++) {
			struct sopt o = {.ttl = ttls[round],
					 .tos = toss[(round + li) % 4],
					 .df = (li + round) & 1,
					 .id = 0x4242 + 1};
			size_t len = LENS4[li];
			inplace(p, &S4, (uint16_t)(20000 + round * 100 + li), payload(len), len, &o,
				M_ECHO);
		}
	h_down();
}

/* IPv6, unchanged: every length to 1452, hop limits 1, 17, 255, traffic class and flow label
 * set: the reply has version 6, traffic class and flow label 0, the stack's hop limit. */
static void test_v6_echo_exact(void **state)
{
	h_up(NULL);
	struct host *p = peer6(0);
	static const uint8_t ttls[] = {1, 17, 255, 64};
	for (int round = 0; round < 4; round++)
		for (size_t li = 0; li < NLENS; li++) {
			struct sopt o = {.ttl = ttls[round],
					 .tos = (uint8_t)(round ? 0xb9 : 0),
					 .flow = round & 1 ? 0xabcde : 0};
			size_t len = LENS6[li];
			inplace(p, &ST6, (uint16_t)(20000 + round * 100 + li), payload(len), len,
				&o, M_ECHO);
		}
	h_down();
}

/* Frames longer than the IP packet: Ethernet padding of a short frame (to 60 bytes) and bytes
 * after a longer one. The reply is the IP packet only (its length from the IP header, not the
 * frame), unchanged or rewritten. */
static void test_echo_frame_trailer(void **state)
{
	h_up(NULL);
	struct host *p4 = peer4(1), *p6 = peer6(1);
	static const size_t lens[] = {0, 1, 5, 17, 18, 100, 1000};
	static const size_t trail[] = {1, 4, 30, 200};
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t t = 0; t < 4; t++) {
			struct sopt o = {.trailer = trail[t]};
			uint16_t sp = (uint16_t)(30000 + li * 10 + t);
			inplace(p4, &S4, sp, payload(lens[li]), lens[li], &o, M_ECHO);
			inplace(p6, &ST6, sp, payload(lens[li]), lens[li], &o, M_ECHO);
			H.rw_len = lens[li] / 2;
			inplace(p4, &S4, sp, payload(lens[li]), lens[li], &o, M_REWRITE);
			inplace(p6, &ST6, sp, payload(lens[li]), lens[li], &o, M_REWRITE);
		}
	/* An IP payload longer than the UDP length says (RFC 768: the length is the datagram's;
	 * the stack may accept such a datagram or drop it): when delivered, the reply carries the
	 * UDP datagram only, its lengths from it. */
	static const size_t extra[] = {1, 3, 64};
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t e = 0; e < 3; e++)
			for (int fam = 0; fam < 2; fam++)
				for (int mode = M_ECHO; mode <= M_REWRITE; mode++) {
					struct sopt o = {.ip_extra = extra[e], .trailer = e};
					uint16_t sp = (uint16_t)(31000 + li * 100 + e * 10 +
								 fam * 2 + (mode == M_REWRITE));
					struct mark k = mark();
					H.pmode[sp] = (uint8_t)mode;
					H.rw_len = lens[li] + 1;
					send_dg(fam ? p6 : p4, fam ? &ST6 : &S4, sp, PORT,
						payload(lens[li]), lens[li], &o);
					h_poll();
					if (H.ndlv == k.dlv)
						continue;
					assert_int_equal(H.dlv[k.dlv].len, lens[li]);
					check_all(k);
					assert_true(H.dlv[k.dlv].inplace);
				}
	h_down();
}

/* Many in a row: 40 peers of each family whose datagrams arrive together (one receive batch
 * and more), rounds with the modes mixed by source port (unchanged, rewritten shorter or
 * longer, sl_udp_write, refused second reply): every reply goes to its own sender's address,
 * MAC and port, exactly; the counters advance once per datagram. */
#define NPEERS 40
static size_t rw_mix(size_t len, size_t cap, uint16_t sport)
{
	size_t r = (len * 3 + sport) % (cap + 1);
	return r;
}

static void test_many_interleaved(void **state)
{
	h_up(NULL);
	H.rw_len = RW_FN;
	H.rw_fn = rw_mix;
	for (unsigned r = 0; r < 6; r++) {
		struct mark k = mark();
		for (unsigned i = 0; i < 2 * NPEERS; i++) {
			struct host *h = i & 1 ? peer6(i / 2) : peer4(i / 2);
			uint16_t sp = (uint16_t)(40000 + r * 200 + i);
			static const int modes[] = {M_ECHO,  M_REWRITE, M_ECHO, M_WRITE,
						    M_TWICE, M_ECHO,	M_STALE};
			H.pmode[sp] = (uint8_t)modes[(i + r) % 7];
			size_t len = (r * 37 + i * 11) % (r == 5 ? 1453 : 200);
			struct sopt o = {.id = 0x77 + 1, .df = true};
			send_dg(h, i & 1 ? &ST6 : &S4, sp, PORT, payload(len), len, &o);
		}
		h_poll();
		assert_int_equal(H.ndlv - k.dlv, 2 * NPEERS);
		check_all(k);
		for (unsigned i = k.dlv; i < H.ndlv; i++)
			if (H.dlv[i].mode != M_WRITE)
				assert_true(H.dlv[i].inplace);
	}
	h_down();
}

/* --- tests: rewritten in place ---------------------------------------------------------------- */

/* unchanged false: the payload rewritten through sl_udp_reply_buf, replies shorter and longer
 * than the datagram, 0 bytes, the same length, up to cap exactly; the checksum is computed
 * again (the reference's), the lengths follow. */
static void test_rewrite_lengths(void **state)
{
	h_up(NULL);
	struct host *p[2] = {peer4(2), peer6(2)};
	const sl_ip *to[2] = {&S4, &ST6};
	static const size_t lens[] = {0, 1, 2, 9, 100, 1000, 1452};
	for (int fam = 0; fam < 2; fam++)
		for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
			size_t len = lens[li];
			size_t cap = fam ? 1452 : 1472;
			size_t rls[] = {0,   1,	      2,	   3,	    len ? len - 1 : 0,
					len, len + 1, len * 2 + 3, cap - 1, cap};
			for (size_t k = 0; k < sizeof rls / sizeof rls[0]; k++) {
				if (rls[k] > cap)
					continue;
				H.rw_len = rls[k];
				const struct dlv *d =
				    inplace(p[fam], to[fam], (uint16_t)(5000 + li * 20 + k),
					    payload(len), len, NULL, M_REWRITE);
				assert_int_equal(d->rlen, rls[k]);
			}
			H.rw_len = RW_CAP;
			const struct dlv *d = inplace(p[fam], to[fam], (uint16_t)(5900 + li),
						      payload(len), len, NULL, M_REWRITE);
			assert_int_equal(d->rlen, d->cap);
		}
	h_down();
}

/* cap is the room a reply has: the path MTU less the IP and UDP headers (1472 over IPv4, 1452
 * over IPv6 at MTU 1500; the pipe's 2 KiB frames have more), whatever the datagram's own
 * length. */
static void test_cap_is_the_path_room(void **state)
{
	h_up(NULL);
	static const size_t lens[] = {0, 1, 100, 1452};
	for (size_t li = 0; li < 4; li++) {
		const struct dlv *d = inplace(peer4(3), &S4, (uint16_t)(6000 + li),
					      payload(lens[li]), lens[li], NULL, M_ECHO);
		assert_int_equal(d->cap, 1472);
		d = inplace(peer6(3), &ST6, (uint16_t)(6000 + li), payload(lens[li]), lens[li],
			    NULL, M_ECHO);
		assert_int_equal(d->cap, 1452);
	}
	h_down();
}

/* A smaller MTU configured (1280): cap follows it (1252 / 1232); a datagram larger than that
 * (it arrived within the device's 1500) cannot go back unchanged: -EMSGSIZE, and sl_udp_write
 * sends it in fragments of 1280. */
static void test_cap_configured_mtu(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.mtu = 1280;
	h_up(&c);
	H.rw_len = RW_CAP;
	const struct dlv *d = inplace(peer4(3), &S4, 6100, payload(10), 10, NULL, M_REWRITE);
	assert_int_equal(d->cap, 1252);
	d = inplace(peer6(3), &ST6, 6100, payload(10), 10, NULL, M_REWRITE);
	assert_int_equal(d->cap, 1232);
	d = inplace(peer4(3), &S4, 6101, payload(1252), 1252, NULL, M_ECHO);
	d = inplace(peer6(3), &ST6, 6101, payload(1232), 1232, NULL, M_ECHO);
	/* arrived whole at 1500, one byte over */
	struct mark k = mark();
	d = one(peer4(3), &S4, 6102, payload(1253), 1253, NULL, M_ECHO);
	assert_false(d->inplace);
	assert_int_equal(d->r, -EMSGSIZE);
	assert_true(d->wrote);
	assert_int_equal(H.ncap - k.cap, 2); /* two fragments */
	k = mark();
	d = one(peer6(3), &ST6, 6102, payload(1452), 1452, NULL, M_ECHO);
	assert_false(d->inplace);
	assert_int_equal(d->r, -EMSGSIZE);
	assert_true(d->wrote);
	assert_int_equal(H.ncap - k.cap, 2);
	h_down();
}

/* cap is also the frame's room: on a device whose MTU (3000) is more than its 2 KiB buffers
 * hold, cap is what is left of the frame the datagram arrived in (2048 − 14 − 20 − 8 = 2006
 * over IPv4, 1986 over IPv6), and a reply of cap bytes fills the frame exactly. */
static void test_cap_within_the_frame(void **state)
{
	dev_mtu = 3000;
	h_up(NULL);
	dev_mtu = 0;
	H.rw_len = RW_CAP;
	for (int i = 0; i < 3; i++) {
		const struct dlv *d =
		    inplace(peer4(3), &S4, (uint16_t)(6200 + i), payload(10), 10, NULL, M_REWRITE);
		assert_int_equal(d->cap, 2006);
		assert_int_equal(H.cap[D[0].first].len, 2048);
		d = inplace(peer6(3), &ST6, (uint16_t)(6200 + i), payload(10), 10, NULL, M_REWRITE);
		assert_int_equal(d->cap, 1986);
		assert_int_equal(H.cap[D[0].first].len, 2048);
		inplace(peer4(3), &S4, (uint16_t)(6300 + i), payload(2006), 2006, NULL, M_ECHO);
		inplace(peer6(3), &ST6, (uint16_t)(6300 + i), payload(1986), 1986, NULL, M_ECHO);
	}
	h_down();
}

/* RFC 8201: after a Packet Too Big of 1280 for a peer, cap for a reply to it is 1232; a
 * datagram of 1452 (arrived whole over the 1500 link) goes back unchanged only through
 * sl_udp_write, in fragments that fit; another peer keeps 1452; an off-link sender whose path
 * through the router was lowered to 1400 gets 1352. */
static void test_cap_v6_path_mtu(void **state)
{
	h_up(NULL);
	struct host *a = peer6(4), *b = peer6(5), *off = offlink("2001:db8::77");
	inplace(a, &ST6, 7000, payload(1400), 1400, NULL, M_ECHO);
	unsigned ia = D[0].first; /* the reply, which the Packet Too Big quotes */
	inplace(off, &ST6, 7000, payload(1400), 1400, NULL, M_ECHO);
	unsigned io = D[0].first;
	send_ptb(ia, 1280);
	send_ptb(io, 1400);
	assert_int_equal(sl_ip_mtu(H.st, &a->ip), 1240);
	assert_int_equal(sl_ip_mtu(H.st, &off->ip), 1360);
	for (int round = 0; round < 3; round++) {
		H.rw_len = RW_CAP;
		const struct dlv *d =
		    inplace(a, &ST6, (uint16_t)(7100 + round), payload(20), 20, NULL, M_REWRITE);
		assert_int_equal(d->cap, 1232);
		d = inplace(b, &ST6, (uint16_t)(7100 + round), payload(20), 20, NULL, M_REWRITE);
		assert_int_equal(d->cap, 1452);
		d = inplace(off, &ST6, (uint16_t)(7100 + round), payload(20), 20, NULL, M_REWRITE);
		assert_int_equal(d->cap, 1352);
		d = inplace(a, &ST6, (uint16_t)(7200 + round), payload(1232), 1232, NULL, M_ECHO);
		struct mark k = mark();
		d = one(a, &ST6, (uint16_t)(7300 + round), payload(1452), 1452, NULL, M_ECHO);
		assert_false(d->inplace);
		assert_int_equal(d->r, -EMSGSIZE);
		assert_true(d->wrote);
		assert_int_equal(H.ncap - k.cap, 2);
		d = one(off, &ST6, (uint16_t)(7300 + round), payload(1353), 1353, NULL, M_ECHO);
		assert_false(d->inplace);
		assert_int_equal(d->r, -EMSGSIZE);
		d = inplace(b, &ST6, (uint16_t)(7300 + round), payload(1452), 1452, NULL, M_ECHO);
		/* above cap asked for explicitly */
		d = one(a, &ST6, (uint16_t)(7400 + round), payload(100), 100, NULL, M_OVERSIZE);
		assert_int_equal(d->cap, 1232);
		assert_true(d->wrote);
	}
	h_down();
}

/* -EMSGSIZE above cap (cap + 1 on up to SIZE_MAX, no overflow), nothing sent and the data
 * untouched; then sl_udp_write works from the callback; or (a refused size is not a reply)
 * a reply in place of cap bytes still goes. */
static void test_above_cap(void **state)
{
	h_up(NULL);
	static const size_t lens[] = {0, 1, 100, 1452};
	for (size_t li = 0; li < 4; li++) {
		H.oversize_then_reply = false;
		const struct dlv *d = one(peer4(6), &S4, (uint16_t)(8000 + li), payload(lens[li]),
					  lens[li], NULL, M_OVERSIZE);
		assert_true(d->wrote);
		assert_false(d->inplace);
		d = one(peer6(6), &ST6, (uint16_t)(8000 + li), payload(lens[li]), lens[li], NULL,
			M_OVERSIZE);
		assert_true(d->wrote);
		assert_false(d->inplace);
	}
	h_down();
}

static void test_above_cap_then_reply(void **state)
{
	h_up(NULL);
	H.oversize_then_reply = true;
	const struct dlv *d = one(peer4(6), &S4, 8100, payload(50), 50, NULL, M_OVERSIZE);
	assert_true(d->inplace);
	assert_int_equal(d->rlen, 1472);
	d = one(peer6(6), &ST6, 8100, payload(50), 50, NULL, M_OVERSIZE);
	assert_true(d->inplace);
	assert_int_equal(d->rlen, 1452);
	h_down();
}

/* --- checksums -------------------------------------------------------------------------------- */

/* A payload making the checksum from src:sport to dst:dport compute to 0 (data[0..1]). */
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
}

/* RFC 768 allows an IPv4 datagram without checksum (0); RFC 1122 §4.1.3.4: a host sends
 * checksums (by default, always here: api.md). A reply, unchanged, to a datagram that came
 * with checksum 0 must carry the right one, not 0; rewritten too; one that sums to zero
 * carries 0xffff. */
static void test_v4_no_checksum_echo(void **state)
{
	h_up(NULL);
	struct host *p = peer4(7);
	struct sopt o = {.no_csum = true};
	for (size_t li = 0; li < NLENS; li++) {
		size_t len = LENS4[li];
		const struct dlv *d =
		    inplace(p, &S4, (uint16_t)(9000 + li), payload(len), len, &o, M_ECHO);
		(void)d;
		H.rw_len = len / 3;
		inplace(p, &S4, (uint16_t)(9100 + li), payload(len), len, &o, M_REWRITE);
	}
	/* whose reply's checksum computes to zero: 0xffff, with or without one received */
	for (int k = 0; k < 4; k++) {
		size_t len = 2 + (size_t)k * 333;
		uint8_t *d = payload(len);
		uint16_t sp = (uint16_t)(9200 + k);
		make_zero_sum(&S4, &p->ip, PORT, sp, d, len);
		struct mark m = mark();
		struct sopt oo = {.no_csum = k & 1};
		inplace(p, &S4, sp, d, len, &oo, M_ECHO);
		unsigned n = dgrams(m.cap);
		assert_int_equal(n, 1);
		assert_int_equal(D[0].csum, 0xffff);
	}
	/* IPv6: the same payloads, sum zero: 0xffff (RFC 8200 §8.1) */
	struct host *p6 = peer6(7);
	for (int k = 0; k < 4; k++) {
		size_t len = 2 + (size_t)k * 333;
		uint8_t *d = payload(len);
		uint16_t sp = (uint16_t)(9300 + k);
		make_zero_sum(&ST6, &p6->ip, PORT, sp, d, len);
		struct mark m = mark();
		inplace(p6, &ST6, sp, d, len, NULL, M_ECHO);
		assert_int_equal(dgrams(m.cap), 1);
		assert_int_equal(D[0].csum, 0xffff);
	}
	h_down();
}

/* --- refusals --------------------------------------------------------------------------------- */

/* RFC 1122 §3.2.1.3 / §4.1.3.5: a datagram to a broadcast address (directed 10.0.0.255 or
 * limited 255.255.255.255, on the Ethernet broadcast or unicast to the stack's MAC) or to an
 * IPv6 multicast group (all-nodes, the stack's solicited-node group) is not ours to answer
 * from: every reply call refused, and sl_udp_write then answers from a unicast address of
 * ours. */
static void test_refuse_broadcast_multicast(void **state)
{
	h_up(NULL);
	struct host *p = peer4(8), *p6 = peer6(8);
	sl_ip b4[2] = {ip4(0x0a0000ffu), ip4(0xffffffffu)};
	for (int b = 0; b < 2; b++) {
		struct sopt o = {.eth_dst = BCAST};
		refused(p, &b4[b], (uint16_t)(10000 + b), payload(64), 64, &o);
		refused(p, &b4[b], (uint16_t)(10010 + b), payload(0), 0, &o);
		/* the IP broadcast to the stack's own MAC */
		struct sopt u = {0};
		struct mark k = mark();
		send_dg(p, &b4[b], (uint16_t)(10020 + b), PORT, payload(5), 5, &u);
		H.pmode[10020 + b] = M_REFUSE;
		h_poll();
		if (H.ndlv > k.dlv)
			check_all(k); /* delivered: refused; or dropped (RFC 1122 §3.3.6) */
	}
	struct sopt o6 = {.eth_dst = ALL_NODES_MAC};
	refused(p6, &ALL_NODES, 10100, payload(64), 64, &o6);
	refused(p6, &ALL_NODES, 10101, payload(1), 1, &o6);
	sl_ip sn = {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1}};
	uint8_t snm[6] = {0x33, 0x33, 0xff, 0, 0, 1};
	struct sopt os = {.eth_dst = snm};
	struct mark k = mark();
	H.pmode[10102] = M_REFUSE;
	send_dg(p6, &sn, 10102, PORT, payload(9), 9, &os);
	h_poll();
	if (H.ndlv > k.dlv)
		check_all(k);
	/* IPv4 all-hosts, if delivered at all */
	sl_ip ah = ip4(0xe0000001u);
	uint8_t ahm[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
	struct sopt oa = {.eth_dst = ahm};
	k = mark();
	H.pmode[10103] = M_REFUSE;
	send_dg(p, &ah, 10103, PORT, payload(9), 9, &oa);
	h_poll();
	if (H.ndlv > k.dlv)
		check_all(k);
	/* and unicast still replies in place, after all that */
	inplace(p, &S4, 10200, payload(64), 64, NULL, M_ECHO);
	inplace(p6, &ST6, 10200, payload(64), 64, NULL, M_ECHO);
	h_down();
}

/* A reassembled datagram (it arrived in fragments, however small) is refused; sl_udp_write
 * answers it (in fragments when large). Both families. */
static void test_refuse_reassembled(void **state)
{
	h_up(NULL);
	struct host *p = peer4(9), *p6 = peer6(9);
	static const size_t lens[] = {8, 100, 1000, 3000};
	static const size_t per[] = {8, 64, 512, 1480};
	for (size_t i = 0; i < 4; i++) {
		struct sopt o = {.frag = per[i]};
		uint64_t r4 = STAT(ipv4_reasm_ok), r6 = STAT(ipv6_reasm_ok);
		refused(p, &S4, (uint16_t)(11000 + i), payload(lens[i]), lens[i], &o);
		struct sopt o6 = {.frag = per[i] < 1448 ? per[i] : 1448};
		refused(p6, &ST6, (uint16_t)(11000 + i), payload(lens[i]), lens[i], &o6);
		assert_int_equal(STAT(ipv4_reasm_ok) - r4, 1);
		assert_int_equal(STAT(ipv6_reasm_ok) - r6, 1);
	}
	inplace(p, &S4, 11100, payload(64), 64, NULL, M_ECHO);
	inplace(p6, &ST6, 11100, payload(64), 64, NULL, M_ECHO);
	h_down();
}

/* IPv4 with options (IHL > 5: NOPs, an end-of-list, a 40-byte area): refused; sl_udp_write
 * answers without them. */
static void test_refuse_v4_options(void **state)
{
	h_up(NULL);
	struct host *p = peer4(10);
	static const uint8_t nop4[4] = {1, 1, 1, 1};
	static const uint8_t eol4[4] = {0, 0, 0, 0};
	static uint8_t nop40[40];
	memset(nop40, 1, 40);
	nop40[39] = 0;
	const uint8_t *opts[] = {nop4, eol4, nop40};
	size_t optl[] = {4, 4, 40};
	for (int i = 0; i < 3; i++) {
		struct sopt o = {.opt = opts[i], .optlen = optl[i]};
		refused(p, &S4, (uint16_t)(12000 + i), payload(33), 33, &o);
		refused(p, &S4, (uint16_t)(12010 + i), payload(1400), 1400, &o);
	}
	inplace(p, &S4, 12100, payload(64), 64, NULL, M_ECHO);
	h_down();
}

/* IPv6 with an extension header before UDP (a destination options or hop-by-hop header with
 * padding, or an atomic fragment: a fragment header with offset 0 and M 0, RFC 6946): refused;
 * sl_udp_write answers without it. */
static void test_refuse_v6_ext(void **state)
{
	h_up(NULL);
	struct host *p = peer6(10);
	static const uint8_t padn8[8] = {0, 0, 1, 4, 0, 0, 0, 0};
	static const uint8_t padn16[16] = {0, 1, 1, 12};
	struct sopt os[4] = {
	    {.ext = true, .ext_type = 60, .extb = padn8, .extlen = 8},
	    {.ext = true, .ext_type = 60, .extb = padn16, .extlen = 16},
	    {.ext = true, .ext_type = 0, .extb = padn8, .extlen = 8},
	    {.atomic = true},
	};
	for (int i = 0; i < 4; i++) {
		refused(p, &ST6, (uint16_t)(13000 + i), payload(33), 33, &os[i]);
		refused(p, &ST6, (uint16_t)(13010 + i), payload(0), 0, &os[i]);
		refused(p, &ST6, (uint16_t)(13020 + i), payload(1400), 1400, &os[i]);
	}
	inplace(p, &ST6, 13100, payload(64), 64, NULL, M_ECHO);
	h_down();
}

/* A second sl_udp_reply (or sl_udp_reply_buf) for the same datagram is refused; sl_udp_write
 * of a copy still goes; the reply in place went once. */
static void test_refuse_second_reply(void **state)
{
	h_up(NULL);
	static const size_t lens[] = {0, 1, 100, 1452};
	for (size_t li = 0; li < 4; li++) {
		const struct dlv *d = one(peer4(11), &S4, (uint16_t)(14000 + li), payload(lens[li]),
					  lens[li], NULL, M_TWICE);
		assert_true(d->inplace && d->wrote);
		d = one(peer6(11), &ST6, (uint16_t)(14000 + li), payload(lens[li]), lens[li], NULL,
			M_TWICE);
		assert_true(d->inplace && d->wrote);
	}
	h_down();
}

/* A meta that is not the datagram being delivered: the previous one's (a copy, and the
 * previous callback's pointer), the current one with another port or address: refused;
 * the current one's reply then goes. Datagrams in one batch and one by one. */
static void test_refuse_other_meta(void **state)
{
	h_up(NULL);
	H.mode = M_STALE;
	for (int r = 0; r < 3; r++) {
		struct mark k = mark();
		for (unsigned i = 0; i < 16; i++) {
			struct host *h = i & 1 ? peer6(i) : peer4(i);
			send_dg(h, i & 1 ? &ST6 : &S4, (uint16_t)(15000 + r * 100 + i), PORT,
				payload(i * 7), i * 7, NULL);
		}
		h_poll();
		assert_int_equal(H.ndlv - k.dlv, 16);
		check_all(k);
		for (unsigned i = k.dlv; i < H.ndlv; i++)
			assert_true(H.dlv[i].inplace);
	}
	inplace(peer4(0), &S4, 15900, payload(10), 10, NULL, M_STALE);
	inplace(peer6(0), &ST6, 15900, payload(10), 10, NULL, M_STALE);
	h_down();
}

/* Outside any callback: before any datagram, and after some (their metas copied, and the
 * pointer the callback had: api.md says it is valid only during the call, but it is only
 * compared, never read, by a stack that refuses it): NULL / -EINVAL, nothing sent. */
static void test_refuse_outside_callback(void **state)
{
	h_up(NULL);
	struct sl_udp_meta z = {0};
	size_t cap = 7;
	assert_null(sl_udp_reply_buf(H.st, &z, &cap));
	assert_int_equal(sl_udp_reply(H.st, &z, 0, true), -EINVAL);
	assert_int_equal(sl_udp_reply(H.st, &z, 0, false), -EINVAL);
	H.mode = M_NONE;
	for (int fam = 0; fam < 2; fam++) {
		struct mark k = mark();
		send_dg(fam ? peer6(12) : peer4(12), fam ? &ST6 : &S4, 16000, PORT, payload(20), 20,
			NULL);
		h_poll();
		assert_int_equal(H.ndlv - k.dlv, 1);
		struct sl_udp_meta copy = H.prev_meta;
		unsigned c0 = H.ncap;
		uint64_t tx0 = STAT(udp_tx);
		assert_null(sl_udp_reply_buf(H.st, &copy, &cap));
		assert_int_equal(sl_udp_reply(H.st, &copy, 20, true), -EINVAL);
		assert_int_equal(sl_udp_reply(H.st, &copy, 0, false), -EINVAL);
		assert_null(sl_udp_reply_buf(H.st, H.last_mp, &cap));
		assert_int_equal(sl_udp_reply(H.st, H.last_mp, 20, true), -EINVAL);
		assert_int_equal(sl_udp_reply(H.st, H.last_mp, 0, false), -EINVAL);
		h_poll();
		assert_int_equal(udp_in(c0), 0);
		assert_int_equal(STAT(udp_tx), tx0);
	}
	H.mode = M_ECHO;
	inplace(peer4(12), &S4, 16100, payload(10), 10, NULL, M_ECHO);
	h_down();
}

/* The error callback (sl_udp_on_error) gets a meta of a datagram the port sent, from an ICMP
 * error's frame: not a datagram being delivered, so no reply in place there. */
static struct {
	unsigned calls;
	int err;
	bool bad;
} E;
static void err_cb(void *arg, struct sl_stack *st, int err, const struct sl_udp_meta *m)
{
	E.calls++;
	E.err = err;
	size_t cap = 5;
	if (sl_udp_reply_buf(st, m, &cap) != NULL)
		E.bad = true;
	if (sl_udp_reply(st, m, 8, true) != -EINVAL || sl_udp_reply(st, m, 8, false) != -EINVAL)
		E.bad = true;
}

static void test_refuse_in_error_callback(void **state)
{
	h_up(NULL);
	memset(&E, 0, sizeof E);
	assert_int_equal(sl_udp_on_error(H.st, PORT, err_cb, NULL), 0);
	struct host *p = peer4(13), *p6 = peer6(13);
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? p6 : p;
		/* a datagram from PORT, and the port unreachable it draws */
		unsigned c0 = H.ncap;
		struct sl_udp_write_opts wo = {.src_port = PORT};
		assert_int_equal(sl_udp_write(H.st, &wo, &h->ip, 999, payload(30), 30), 0);
		h_poll();
		assert_int_equal(dgrams(c0), 1);
		struct ipf f;
		assert_true(ipf_parse(H.cap[D[0].first].b, H.cap[D[0].first].len, &f));
		static uint8_t m[8 + 1280];
		size_t q = f.iplen < 256 ? f.iplen : 256;
		memset(m, 0, 8);
		memcpy(m + 8, f.ip, q);
		unsigned calls = E.calls;
		if (!fam) {
			static uint8_t fr[FRAME];
			m[0] = 3, m[1] = 3;
			put16(m + 2, (uint16_t)~ref_sum(m, 8 + q, 0));
			eth(fr, H.dev->mac, h->mac, 0x0800);
			ip4_hdr(fr + 14, (uint16_t)(20 + 8 + q), 1, 0, 64, 0, 1, &h->ip, &S4, NULL,
				0);
			memcpy(fr + 34, m, 8 + q);
			wire_tx(fr, 34 + 8 + q);
		} else {
			m[0] = 1, m[1] = 4;
			send_icmp6(H.dev->mac, h->mac, &h->ip, &ST6, 64, m, 8 + q);
		}
		/* and in the same batch, a datagram to reply to */
		H.pmode[16500] = M_ECHO;
		struct mark k = mark();
		send_dg(h, fam ? &ST6 : &S4, 16500, PORT, payload(40), 40, NULL);
		h_poll();
		assert_int_equal(E.calls, calls + 1);
		assert_int_equal(E.err, -ECONNREFUSED);
		assert_false(E.bad);
		check_all(k);
		assert_true(H.dlv[H.ndlv - 1].inplace);
	}
	h_down();
}

/* RFC 768: source port 0 means the sender expects no reply; sl_udp_write refuses port 0
 * (-EINVAL), and a reply in place to port 0 must be refused the same way. */
static void test_refuse_source_port_zero(void **state)
{
	h_up(NULL);
	H.pmode[0] = M_REFUSE_ONLY;
	for (int fam = 0; fam < 2; fam++) {
		struct mark k = mark();
		send_dg(fam ? peer6(14) : peer4(14), fam ? &ST6 : &S4, 0, PORT, payload(12), 12,
			NULL);
		h_poll();
		if (H.ndlv == k.dlv)
			continue; /* not delivered at all: nothing to reply to */
		assert_int_equal(H.ndlv - k.dlv, 1);
		check_all(k); /* and nothing left */
	}
	h_down();
}

/* --- frames and counters ---------------------------------------------------------------------- */

/* A long mixed run over both families: unchanged, rewritten, above cap, refused (broadcast,
 * all-nodes, fragments, options, extension headers, second reply, other meta), written;
 * batches of many. Every delivery's replies are checked, udp_rx / udp_tx / tx_frames follow
 * exactly, the pools are whole whenever the link is quiet and at close. */
static void test_frames_and_counters(void **state)
{
	h_up(NULL);
	H.rw_len = RW_FN;
	H.rw_fn = rw_mix;
	static const uint8_t padn8[8] = {0, 0, 1, 4, 0, 0, 0, 0};
	static const uint8_t nop4[4] = {1, 1, 1, 1};
	sl_ip b4 = ip4(0x0a0000ffu);
	uint64_t rx0 = STAT(rx_frames);
	unsigned ws0 = H.wire_sent;
	struct mark k0 = mark();
	unsigned out = 0;
	for (unsigned r = 0; r < 40; r++) {
		struct mark k = mark();
		unsigned n = 1 + (unsigned)(rnd() % 70);
		for (unsigned i = 0; i < n; i++) {
			bool v6 = rnd() & 1;
			struct host *h =
			    v6 ? peer6((unsigned)(rnd() % 30)) : peer4((unsigned)(rnd() % 30));
			uint16_t sp = (uint16_t)(1024 + r * 100 + i);
			size_t len = (size_t)(rnd() % 8 == 0 ? rnd() % 3000 : rnd() % 1452);
			struct sopt o = {.id = v6 ? 0 : 0x99 + 1, .df = !v6};
			const sl_ip *to = v6 ? &ST6 : &S4;
			int mode;
			switch (rnd() % 12) {
			case 0:
				mode = M_REWRITE;
				break;
			case 1:
				mode = M_OVERSIZE;
				break;
			case 2:
				mode = M_TWICE;
				break;
			case 3:
				mode = M_WRITE;
				break;
			case 4:
				mode = M_NONE;
				break;
			case 5:
				mode = M_REFUSE;
				if (v6) {
					to = &ALL_NODES;
					o.eth_dst = ALL_NODES_MAC;
				} else {
					to = &b4;
					o.eth_dst = BCAST;
				}
				break;
			case 6:
				mode = M_REFUSE;
				if (v6) {
					o.ext = true, o.ext_type = 60, o.extb = padn8, o.extlen = 8;
				} else {
					o.opt = nop4, o.optlen = 4;
				}
				break;
			case 7:
				mode = M_STALE;
				break;
			default:
				mode = M_ECHO;
			}
			if (len > (v6 ? 1452u : 1472u) || (mode == M_REFUSE && len > 1400))
				len = len % 1400;
			if (rnd() % 10 == 0) { /* in fragments: refused */
				mode = M_REFUSE;
				o.frag = 512;
				if (8 + len <= 512)
					len += 600; /* two fragments at least */
				o.opt = NULL, o.optlen = 0, o.ext = false;
			}
			H.pmode[sp] = (uint8_t)mode;
			send_dg(h, to, sp, PORT, payload(len), len, &o);
		}
		h_poll();
		assert_int_equal(H.ndlv - k.dlv, n);
		out += check_all(k);
		for (unsigned i = k.dlv; i < H.ndlv; i++) {
			const struct dlv *d = &H.dlv[i];
			if (d->mode == M_ECHO || d->mode == M_REWRITE || d->mode == M_TWICE ||
			    d->mode == M_STALE)
				assert_true(d->inplace);
			H.pmode[d->m.src_port] = 0;
		}
	}
	assert_int_equal(STAT(udp_rx) - k0.udp_rx, H.ndlv - k0.dlv);
	assert_int_equal(STAT(udp_tx) - k0.udp_tx, out);
	assert_int_equal(STAT(tx_frames) - k0.tx_frames, H.ncap - k0.cap);
	assert_int_equal(STAT(rx_frames) - rx0, H.wire_sent - ws0);
	h_down();
}

/* --- next hops -------------------------------------------------------------------------------- */

/* The sender's MAC not known yet (it sent without being asked: the stack learns nothing from
 * IP): sl_udp_reply returns 0 and the reply waits for ARP / ND; it leaves after the answer,
 * to the MAC the answer gave (not the frame's source), exactly. Two replies wait together.
 * A neighbour that never answers: nothing leaves, and the frames come back. */
static void test_unresolved_next_hop(void **state)
{
	h_up(NULL);
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? peer6(20) : peer4(20);
		const sl_ip *to = fam ? &ST6 : &S4;
		h->answer = false;
		uint8_t frame_mac[6];
		memcpy(frame_mac, h->mac, 6);
		struct mark k = mark();
		uint8_t *d1 = payload(100), *d2 = payload(3);
		send_dg(h, to, 17001, PORT, d1, 100, NULL);
		H.pmode[17002] = M_REWRITE;
		H.rw_len = 77;
		send_dg(h, to, 17002, PORT, d2, 3, NULL);
		H.held = 2;
		h_poll();
		assert_int_equal(H.ndlv - k.dlv, 2);
		assert_int_equal(H.dlv[k.dlv].r, 0);
		assert_int_equal(H.dlv[k.dlv + 1].r, 0);
		assert_true(requests_for(k.cap, &h->ip) >= 1);
		assert_int_equal(udp_in(k.cap), 0);
		H.now += 200 * MS;
		h_poll();
		assert_int_equal(udp_in(k.cap), 0);
		/* the answer: another MAC than the frames came from */
		h->mac[2] = 0x5a;
		assert_memory_not_equal(h->mac, frame_mac, 6);
		if (!fam) {
			send_arp(H.dev->mac, h->mac, 2, h->mac, sl_ip_to_v4(&h->ip), H.dev->mac,
				 ST4);
		} else {
			send_na(h, &ST6, H.dev->mac, NA_S | NA_O, h->mac);
		}
		H.held = 0;
		h_poll();
		check_all(k);
		assert_true(H.dlv[k.dlv].inplace && H.dlv[k.dlv + 1].inplace);
		/* and the next one to it goes at once */
		inplace(h, to, 17003, payload(10), 10, NULL, M_ECHO);
		h->answer = true;
	}
	/* never answered */
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? peer6(21) : peer4(21);
		h->answer = false;
		struct mark k = mark();
		send_dg(h, fam ? &ST6 : &S4, 17100, PORT, payload(50), 50, NULL);
		H.held = 1;
		h_poll();
		assert_int_equal(H.dlv[k.dlv].r, 0);
		h_run(10 * SEC);
		H.held = 0;
		check_pool(); /* given up: the frame is back */
		assert_int_equal(udp_in(k.cap), 0);
		assert_true(requests_for(k.cap, &h->ip) >= 1);
	}
	/* an off-link sender while the gateway's MAC is unknown: the reply waits for it */
	h_free();
	h_up(NULL);
	struct host *o4 = offlink("192.0.2.33"), *o6 = offlink("2001:db8::33");
	gw4()->answer = false;
	gw6()->answer = false;
	struct mark k = mark();
	send_dg(o4, &S4, 17200, PORT, payload(60), 60, NULL);
	send_dg(o6, &ST6, 17200, PORT, payload(60), 60, NULL);
	H.held = 2;
	h_poll();
	assert_int_equal(udp_in(k.cap), 0);
	assert_true(requests_for(k.cap, &gw4()->ip) >= 1);
	assert_true(requests_for(k.cap, &gw6()->ip) >= 1);
	send_arp(H.dev->mac, gw4()->mac, 2, gw4()->mac, GW4, H.dev->mac, ST4);
	send_na(gw6(), &ST6, H.dev->mac, NA_S | NA_O | NA_R, gw6()->mac);
	H.held = 0;
	h_poll();
	check_all(k);
	assert_true(H.dlv[k.dlv].inplace && H.dlv[k.dlv + 1].inplace);
	h_down();
}

/* Replies in place waiting for one neighbour beyond what may wait (arp_pending_per_entry 1):
 * the extra ones are dropped (arp_pending_full) and their frames come back to the pool; the
 * one that waited leaves after the answer, exactly. */
static void test_unresolved_queue_full(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.arp_pending_per_entry = 1;
	h_up(&c);
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? peer6(25) : peer4(25);
		const sl_ip *to = fam ? &ST6 : &S4;
		h->answer = false;
		struct mark k = mark();
		uint64_t full0 = STAT(arp_pending_full);
		for (unsigned i = 0; i < 5; i++)
			send_dg(h, to, (uint16_t)(17500 + i), PORT, payload(20 + i), 20 + i, NULL);
		H.held = 1;
		h_poll();
		assert_int_equal(H.ndlv - k.dlv, 5);
		assert_int_equal(STAT(arp_pending_full) - full0, 4);
		assert_int_equal(udp_in(k.cap), 0);
		if (!fam)
			send_arp(H.dev->mac, h->mac, 2, h->mac, sl_ip_to_v4(&h->ip), H.dev->mac,
				 ST4);
		else
			send_na(h, &ST6, H.dev->mac, NA_S | NA_O, h->mac);
		H.held = 0;
		h_poll();
		unsigned n = dgrams(k.cap);
		assert_int_equal(n, 1);
		int found = -1;
		for (unsigned i = k.dlv; i < H.ndlv; i++)
			if (find_answer(n, &H.dlv[i], dpool + H.dlv[i].off, H.dlv[i].len) == 0)
				found = (int)i;
		assert_true(found >= 0);
		const struct dlv *d = &H.dlv[found];
		check_reply_frame(&H.cap[D[0].first], &d->m.src, h->mac, &d->m.dst, d->m.dst_port,
				  d->m.src_port, dpool + d->off, d->len);
		h->answer = true;
	}
	h_down();
}

/* Two stacks in one thread (they share nothing, stack.h): a callback of one polls the other,
 * whose callback runs inside it; there each stack refuses the other's meta, and the inner
 * datagram is replied to in place on its own stack; back in the outer callback, its own
 * datagram is still the current one and goes back in place. */
static struct {
	struct sl_dev *dev, *wire;
	struct sl_stack *st;
	const struct sl_udp_meta *outer;
	unsigned calls, refused, replied;
	int r;
} B;

static void b_cb(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		 size_t len)
{
	B.calls++;
	size_t cap;
	unsigned ok = 0;
	ok += sl_udp_reply_buf(H.st, m, &cap) == NULL;
	ok += sl_udp_reply(H.st, m, len, true) == -EINVAL;
	ok += sl_udp_reply_buf(st, B.outer, &cap) == NULL;
	ok += sl_udp_reply(st, B.outer, 0, false) == -EINVAL;
	B.refused += ok == 4;
	uint8_t *b = sl_udp_reply_buf(st, m, &cap);
	B.r = b == data ? sl_udp_reply(st, m, len, true) : -1000;
	B.replied += B.r == 0;
}

static void extra_nested(struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
			 size_t len)
{
	if (m->src_port != 21000)
		return;
	B.outer = m;
	/* a datagram for the other stack, from its peer 10.1.0.10, on its own link */
	static uint8_t fr[128];
	sl_ip bsrc = ip4(0x0a01000au), bdst = ip4(0x0a010001u);
	uint8_t bmac[6] = {0x02, 0xb0, 0, 0, 0, 0x0a};
	eth(fr, B.dev->mac, bmac, 0x0800);
	ip4_hdr(fr + 14, 20 + 8 + 4, 1, 0, 64, 0, 17, &bsrc, &bdst, NULL, 0);
	uint8_t *u = fr + 34;
	put16(u, 3333), put16(u + 2, PORT), put16(u + 4, 12), put16(u + 6, 0);
	memcpy(u + 8, "ping", 4);
	put16(u + 6, ref_udp_csum(&bsrc, &bdst, u, 12));
	struct sl_frame f;
	if (B.wire->ops->alloc(B.wire, &f) != 0)
		return;
	memcpy(f.data, fr, 46);
	f.len = 46;
	B.wire->ops->tx(B.wire, &f);
	B.wire->ops->flush(B.wire, H.now);
	sl_stack_poll(B.st, H.now);
}

static void test_nested_delivery_two_stacks(void **state)
{
	h_up(NULL);
	memset(&B, 0, sizeof B);
	struct sl_stack_config bc;
	pn_config(&bc, 0x0a010001u, 99);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &B.dev, &B.wire), 0);
	assert_int_equal(sl_stack_open(B.dev, &bc, H.now, &B.st), 0);
	assert_int_equal(sl_udp_listen(B.st, PORT, b_cb, NULL), 0);
	H.extra = extra_nested;
	for (int fam = 0; fam < 2; fam++) {
		unsigned calls = B.calls;
		inplace(fam ? peer6(26) : peer4(26), fam ? &ST6 : &S4, 21000, payload(30), 30, NULL,
			M_ECHO);
		assert_int_equal(B.calls, calls + 1);
		assert_int_equal(B.refused, calls + 1);
		if (B.r != 0) {
			print_message("inner stack's reply in place: %d\n", B.r);
			fail();
		}
		assert_int_equal(B.replied, calls + 1);
	}
	H.extra = NULL;
	sl_stack_poll(B.st, H.now);
	sl_stack_close(B.st);
	pn_close_counted(B.dev, B.wire);
	B.st = NULL;
	h_down();
}

/* The Ethernet destination is the route's: an on-link neighbour known by its ARP / ND answer
 * at MAC A whose datagram comes from MAC B gets its reply at A; an off-link sender whose
 * datagram came through another router of the link gets its reply through the gateway. */
static void test_reply_mac_from_route(void **state)
{
	h_up(NULL);
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? peer6(22) : peer4(22);
		const sl_ip *to = fam ? &ST6 : &S4;
		inplace(h, to, 18000, payload(10), 10, NULL, M_ECHO); /* learnt */
		uint8_t other[6] = {0x02, 0xbb, 0xbb, 0xbb, 0xbb, (uint8_t)fam};
		struct sopt o = {.eth_src = other};
		for (int i = 0; i < 3; i++) {
			inplace(h, to, (uint16_t)(18001 + i), payload(30), 30, &o, M_ECHO);
			H.rw_len = 5;
			inplace(h, to, (uint16_t)(18011 + i), payload(30), 30, &o, M_REWRITE);
		}
		struct host *off = offlink(fam ? "2001:db8::99" : "198.51.100.99");
		uint8_t router2[6] = {0x02, 0xcc, 0xcc, 0xcc, 0xcc, (uint8_t)fam};
		struct sopt o2 = {.eth_src = router2};
		inplace(off, to, 18100, payload(30), 30, &o2, M_ECHO);
		inplace(off, to, 18101, payload(30), 30, NULL, M_ECHO);
	}
	h_down();
}

/* No route back (no gateway configured, the sender off-link): the reply in place fails (as
 * sl_udp_write does, -ENETUNREACH), nothing leaves, the frame comes back. */
static void test_no_route_back(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.gateway = (sl_ip){{0}};
	c.gateway6 = (sl_ip){{0}};
	h_up(&c);
	struct host *o4 = offlink("192.0.2.44"), *o6 = offlink("2001:db8::44");
	H.mode = M_TRY;
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? o6 : o4;
		struct mark k = mark();
		send_dg(h, fam ? &ST6 : &S4, 19000, PORT, payload(20), 20, NULL);
		h_poll();
		if (H.ndlv == k.dlv)
			continue; /* not delivered: nothing to reply to */
		const struct dlv *d = &H.dlv[k.dlv];
		if (d->r != -ENETUNREACH) {
			print_message("sl_udp_reply without a route to %s: %d (%s), want "
				      "-ENETUNREACH (sl_udp_write: %d)\n",
				      ipstr(&h->ip), d->r, sl_strerror(d->r), d->w);
			fail();
		}
		assert_int_equal(d->w, -ENETUNREACH);
		assert_int_equal(udp_in(k.cap), 0);
		assert_int_equal(STAT(udp_tx), k.udp_tx);
	}
	h_down();
}

/* From the address and port the datagram was sent to: a second address of each family, an
 * IPv6 link-local one. */
static void test_reply_from_second_address(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.addrs[2].addr = ip4(ST4B);
	c.addrs[2].prefix_len = 24;
	c.addrs[3].addr = ST6B;
	c.addrs[3].prefix_len = 64;
	c.n_addrs = 4;
	h_up(&c);
	for (int i = 0; i < 4; i++) {
		inplace(peer4(23), &S4B, (uint16_t)(19100 + i), payload(40 + i), 40 + i, NULL,
			M_ECHO);
		inplace(peer6(23), &ST6B, (uint16_t)(19100 + i), payload(40 + i), 40 + i, NULL,
			M_ECHO);
		inplace(peer4(23), &S4, (uint16_t)(19200 + i), payload(40 + i), 40 + i, NULL,
			M_ECHO);
		inplace(peer6(23), &ST6, (uint16_t)(19200 + i), payload(40 + i), 40 + i, NULL,
			M_ECHO);
	}
	/* a datagram to PORT3: the reply comes from PORT3 */
	struct mark k = mark();
	send_dg(peer4(23), &S4B, 19300, PORT3, payload(9), 9, NULL);
	send_dg(peer6(23), &ST6B, 19300, PORT3, payload(9), 9, NULL);
	h_poll();
	assert_int_equal(H.ndlv - k.dlv, 2);
	check_all(k);
	/* a link-local address (fe80::1/64, added, after its DAD) from a link-local peer */
	sl_ip ll = {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
	assert_int_equal(sl_ip_add_addr(H.st, &ll, 64), 0);
	h_run(3 * SEC);
	assert_int_equal(sl_ip_addr_state(H.st, &ll), 0);
	sl_ip llp = {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34}};
	struct host *h = add_host(&llp, 0x6c, 1);
	for (int i = 0; i < 3; i++)
		inplace(h, &ll, (uint16_t)(19400 + i), payload(30), 30, NULL, M_ECHO);
	h_down();
}

/* sl_stack_config.ttl sets the TTL / hop limit of a reply in place too. */
static void test_reply_configured_ttl(void **state)
{
	struct sl_stack_config c = h_cfg();
	c.ttl = 200;
	h_up(&c);
	struct sopt o = {.ttl = 3};
	for (int i = 0; i < 3; i++) {
		inplace(peer4(24), &S4, (uint16_t)(19500 + i), payload(20), 20, &o, M_ECHO);
		inplace(peer6(24), &ST6, (uint16_t)(19500 + i), payload(20), 20, &o, M_ECHO);
	}
	h_down();
}

/* --- which datagram is current ------------------------------------------------------------------
 */

/* In a callback, the stack is used: sl_udp_recv takes a queued datagram of another port (its
 * meta is not the current datagram's: refused), sl_udp_write sends elsewhere (to a peer, to
 * a peer not resolved yet, to the stack's own address); the current datagram's reply then
 * still goes, to its own sender. The API delivers nothing inside a callback: a datagram to
 * the stack's own address is delivered at the end of the poll (the loopback), after the
 * callback returned, so nested deliveries cannot be made from here; these are the calls that
 * could move "current". */
static struct {
	int recv, refused_q, wr_peer, wr_unres, wr_self;
	bool bad;
} X;
static void extra_calls(struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
			size_t len)
{
	if (m->src_port < 20000 || m->src_port >= 20100)
		return;
	in_extra++;
	uint8_t buf[2048];
	struct sl_udp_meta qm;
	int r = sl_udp_recv(st, PORT2, buf, sizeof buf, &qm);
	if (r >= 0) {
		X.recv++;
		size_t cap = 1;
		if (sl_udp_reply_buf(st, &qm, &cap) ||
		    sl_udp_reply(st, &qm, (size_t)r, true) != -EINVAL)
			X.bad = true;
		else
			X.refused_q++;
	}
	static const uint8_t msg[5] = "side";
	bool v6 = !sl_ip_is_v4(&m->src);
	struct host *other = v6 ? peer6(31) : peer4(31);
	if (sl_udp_write(st, NULL, &other->ip, 4444, msg, sizeof msg) == 0)
		X.wr_peer++;
	struct host *unres = v6 ? peer6(32) : peer4(32);
	if (sl_udp_write(st, NULL, &unres->ip, 4445, msg, sizeof msg) == 0)
		X.wr_unres++;
	if (sl_udp_write(st, NULL, v6 ? &ST6 : &S4, PORT3, msg, sizeof msg) == 0)
		X.wr_self++;
	in_extra--;
}

static void test_current_datagram_across_calls(void **state)
{
	h_up(NULL);
	memset(&X, 0, sizeof X);
	nested_self = 0;
	assert_int_equal(sl_udp_listen(H.st, PORT2, NULL, NULL), 0);
	peer4(31), peer6(31);
	peer4(32)->answer = false;
	peer6(32)->answer = false;
	H.extra = extra_calls;
	unsigned self_before = H.ndlv;
	for (int fam = 0; fam < 2; fam++) {
		struct host *h = fam ? peer6(30) : peer4(30);
		const sl_ip *to = fam ? &ST6 : &S4;
		unsigned c0 = H.ncap, d0 = H.ndlv;
		/* queued first, then the one the callback gets, in one batch */
		send_dg(h, to, 20050, PORT2, payload(11), 11, NULL);
		H.pmode[20000 + fam] = M_ECHO;
		send_dg(h, to, (uint16_t)(20000 + fam), PORT, payload(33), 33, NULL);
		H.pmode[20010 + fam] = M_REWRITE;
		H.rw_len = 99;
		send_dg(h, to, (uint16_t)(20010 + fam), PORT, payload(44), 44, NULL);
		H.held = 4; /* per callback: the datagrams to the stack's own address and to the
			     * unresolved peer wait */
		h_poll();
		assert_false(X.bad);
		assert_int_equal(X.recv, fam + 1);
		assert_int_equal(X.refused_q, fam + 1);
		unsigned n = dgrams(c0);
		/* the two replies in place, to h, exactly */
		unsigned got = 0;
		for (unsigned i = d0; i < H.ndlv; i++) {
			const struct dlv *d = &H.dlv[i];
			if (d->m.dst_port != PORT)
				continue;
			assert_true(d->inplace);
			size_t len;
			const uint8_t *p = want_payload(d, &len);
			int at = find_answer(n, d, p, len);
			assert_true(at >= 0);
			D[at].used = true;
			check_reply_frame(&H.cap[D[at].first], &d->m.src, route_mac(&d->m.src),
					  &d->m.dst, d->m.dst_port, d->m.src_port, p, len);
			got++;
		}
		assert_int_equal(got, 2);
		h_run(5 * SEC); /* the waits for ARP / ND give up */
		H.held = 0;
		check_pool();
	}
	H.extra = NULL;
	/* the datagrams to ourselves were delivered, but never inside a callback */
	unsigned self = 0;
	for (unsigned i = self_before; i < H.ndlv; i++)
		if ((ip_eq(&H.dlv[i].m.src, &S4) || ip_eq(&H.dlv[i].m.src, &ST6)) &&
		    H.dlv[i].m.dst_port == PORT3)
			self++;
	assert_int_equal(nested_self, 0);
	assert_int_equal((int)self, X.wr_self);
	/* outside, the queued meta: refused */
	send_dg(peer4(30), &S4, 20060, PORT2, payload(11), 11, NULL);
	h_poll();
	uint8_t buf[64];
	struct sl_udp_meta qm;
	assert_int_equal(sl_udp_recv(H.st, PORT2, buf, sizeof buf, &qm), 11);
	size_t cap;
	assert_null(sl_udp_reply_buf(H.st, &qm, &cap));
	assert_int_equal(sl_udp_reply(H.st, &qm, 11, true), -EINVAL);
	h_down();
}

static int reply_teardown(void **state)
{
	dev_mtu = 0;
	H.extra = NULL;
	if (B.st) {
		sl_stack_close(B.st);
		sl_dev_close(B.dev);
		sl_dev_close(B.wire);
		B.st = NULL;
	}
	return h_teardown(state);
}

#define T(t) cmocka_unit_test_teardown(t, reply_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_v4_echo_exact),
	    T(test_v6_echo_exact),
	    T(test_echo_frame_trailer),
	    T(test_many_interleaved),
	    T(test_rewrite_lengths),
	    T(test_cap_is_the_path_room),
	    T(test_cap_configured_mtu),
	    T(test_cap_within_the_frame),
	    T(test_cap_v6_path_mtu),
	    T(test_above_cap),
	    T(test_above_cap_then_reply),
	    T(test_v4_no_checksum_echo),
	    T(test_refuse_broadcast_multicast),
	    T(test_refuse_reassembled),
	    T(test_refuse_v4_options),
	    T(test_refuse_v6_ext),
	    T(test_refuse_second_reply),
	    T(test_refuse_other_meta),
	    T(test_refuse_outside_callback),
	    T(test_refuse_in_error_callback),
	    T(test_refuse_source_port_zero),
	    T(test_frames_and_counters),
	    T(test_unresolved_next_hop),
	    T(test_unresolved_queue_full),
	    T(test_reply_mac_from_route),
	    T(test_no_route_back),
	    T(test_reply_from_second_address),
	    T(test_reply_configured_ttl),
	    T(test_current_datagram_across_calls),
	    T(test_nested_delivery_two_stacks),
	};
	return cmocka_run_group_tests_name("udp_reply", tests, NULL, NULL);
}
