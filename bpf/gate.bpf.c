// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The gate: an XDP program that steers the frames sluice owns into its AF_XDP sockets
 * and passes every other frame to the kernel unchanged. Policy (docs/gate.md):
 *
 *   1. ARP whose target protocol address is an owned address          → stack
 *   2. IPv4/IPv6 whose destination is an owned address (any fragment) → stack
 *   3. IPv6 Neighbor Solicitations and Advertisements whose target is owned → stack
 *   4. ICMP and ICMPv6 errors (to any address) quoting a TCP or UDP packet of a flow that a
 *      tuple or port rule (step 5) claims, read the other way round            → stack
 *   5. IPv4 and IPv6 first fragments and unfragmented packets: exact 5-tuple rule, then
 *      proto+port rule for the destination address, then proto+port for any address
 *   6. everything else                                                → kernel
 *
 * A tuple rule may name a home: the queue whose stack owns the flow (an active open of a
 * stack serving several queues, whose peer's hash picks the queue its replies arrive on).
 * Such a flow's frames, to an owned address or not, still go to the socket of the queue they
 * arrived on, the only one that can take them, marked with struct sl_gate_meta so the device
 * there hands them to the home stack (user/dev/xsk.c). While no tuple has a home
 * (sl_conf[0].homes == 0) an owned frame costs no tuple lookup.
 *
 * A frame the stack cannot receive (no socket bound on that queue, redirect refused) goes
 * to the kernel: a stopped stack must never black-hole traffic. Every frame increments
 * SL_GATE_RX and exactly one verdict counter (redirected, passed, no_socket,
 * redirect_failed, parse_error, non_ip); SL_GATE_FRAGMENT counts fragments on top, and
 * SL_GATE_EXT_CHAIN_TOO_LONG the IPv6 packets passed because their header chain is longer
 * than the walk's bound; SL_GATE_HANDOFF the frames marked for another queue's stack, and
 * SL_GATE_META_FAILED those that could not be marked.
 *
 * Multi-buffer frames (jumbo MTUs, XDP multi-buffer): the program is built as "xdp.frags"
 * (BPF_F_XDP_HAS_FRAGS), so it attaches to a device whose MTU needs more than one buffer
 * per frame, and it works the same on one that does not. Only the first buffer is read:
 * data..data_end is the first buffer, not the packet, and every header access is checked
 * against data_end, so a header that does not fit the first buffer is a parse error (passed
 * to the kernel), never a read past it. The packet's whole length, for the per-rule byte
 * counts, is bpf_xdp_get_buff_len(). Drivers put at least the headers in the first buffer
 * (veth: up to a page).
 *
 * Formats: Ethernet and 802.1Q/802.1ad tags (IEEE 802.1Q), ARP (RFC 826), IPv4 (RFC 791
 * §3.1, fragments §3.2), IPv6 (RFC 8200 §3, extension headers §4, fragments §4.5),
 * AH (RFC 4302 §2.2: length in 4-byte units minus 2), Neighbor Discovery (RFC 4861 §4.3,
 * §4.4), IPv4-mapped addresses (RFC 4291 §2.5.5.2).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "gate_shared.h"

#define VLAN_MAX_DEPTH 2
#define ARP_MAX_HLEN 16
#define IPV4_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff
#define IPV6_OFFSET_MASK 0xfff8 /* fragment header: offset in 8-byte units, then res and M */
#define ICMPV6_NS 135		/* Neighbor Solicitation (RFC 4861 §4.3) */
#define ICMPV6_NA 136		/* Neighbor Advertisement (RFC 4861 §4.4) */
#define ICMPV6_ND_TARGET 8	/* type, code, checksum, reserved/flags, then the target */

/* An 802.1Q / 802.1ad tag as it follows the outer ethertype (not in the uapi headers). */
struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

/* ARP fixed header (RFC 826): hrd, pro, hln, pln, op; variable-size addresses follow. */
struct arp_fixed {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
};

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, SL_GATE_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} sl_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_GATE_MAX_OWNED);
	__type(key, struct sl_gate_owned_key);
	__type(value, struct sl_gate_rule);
} sl_owned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_GATE_MAX_RULES);
	__type(key, struct sl_gate_port_key);
	__type(value, struct sl_gate_rule);
} sl_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_GATE_MAX_RULES);
	__type(key, struct sl_gate_tuple_key);
	__type(value, struct sl_gate_tuple_rule);
} sl_tuples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_gate_conf);
} sl_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_GATE_N_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} sl_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_GATE_MAX_RULES);
	__type(key, __u32);
	__type(value, struct sl_gate_rule_stats);
} sl_rule_stats SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&sl_counters, &idx);

	/* Per-CPU slot: no other CPU writes it, so a plain increment is exact. */
	if (c)
		*c += 1;
}

static __always_inline int verdict(__u32 counter, int action)
{
	count(counter);
	return action;
}

/* ::ffff:a.b.c.d, the form every map stores IPv4 addresses in. */
static __always_inline void map_v4(__u8 out[16], __be32 a)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &a, 4);
}

/* ::ffff:0:0/96. An IPv6 packet must not carry one (RFC 4291 §2.5.5.2); were it looked up,
 * it would find the IPv4 rules stored in that form. */
static __always_inline int is_v4mapped(const __u8 a[16])
{
	__u32 w0, w1, w2;

	__builtin_memcpy(&w0, a, 4);
	__builtin_memcpy(&w1, a + 4, 4);
	__builtin_memcpy(&w2, a + 8, 4);
	return w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff);
}

/* A rule restricted to a queue only matches frames that arrived on that queue. */
static __always_inline const struct sl_gate_rule *usable(const struct sl_gate_rule *r,
							 const struct xdp_md *ctx)
{
	if (!r)
		return 0;
	if (r->queue >= 0 && (__u32)r->queue != ctx->rx_queue_index)
		return 0;
	return r;
}

static __always_inline const struct sl_gate_rule *owned(const __u8 addr[16],
							const struct xdp_md *ctx)
{
	struct sl_gate_owned_key k;

	__builtin_memcpy(k.addr, addr, 16);
	return usable(bpf_map_lookup_elem(&sl_owned, &k), ctx);
}

/* Hand a matched frame to the socket bound on its queue, or to the kernel if there is none. */
static __always_inline int steer(struct xdp_md *ctx, const struct sl_gate_rule *r)
{
	struct sl_gate_rule_stats *rs;
	__u32 id = r->id, q = ctx->rx_queue_index;
	long ret;

	rs = bpf_map_lookup_elem(&sl_rule_stats, &id);
	if (rs) {
		rs->packets += 1;
		rs->bytes += bpf_xdp_get_buff_len(ctx); /* all buffers, not only the first */
	}
	/* An empty slot means no stack is listening on this queue: let the kernel have it. */
	if (!bpf_map_lookup_elem(&sl_xsks, &q))
		return verdict(SL_GATE_NO_SOCKET, XDP_PASS);
	ret = bpf_redirect_map(&sl_xsks, q, XDP_PASS);
	if (ret == XDP_REDIRECT)
		return verdict(SL_GATE_REDIRECTED, XDP_REDIRECT);
	return verdict(SL_GATE_REDIRECT_FAILED, XDP_PASS);
}

/* Any tuple rule with a home? Then owned TCP and UDP frames look their tuple up. */
static __always_inline int homes_present(void)
{
	__u32 k = 0;
	const struct sl_gate_conf *c = bpf_map_lookup_elem(&sl_conf, &k);

	return c && c->homes;
}

static __always_inline const struct sl_gate_tuple_rule *tuple_rule(struct sl_gate_tuple_key *tk,
								   const struct xdp_md *ctx)
{
	const struct sl_gate_tuple_rule *t = bpf_map_lookup_elem(&sl_tuples, tk);

	return t && usable(&t->r, ctx) ? t : 0;
}

/* Steer a frame that matched tuple rule t. When t's flow belongs to another queue's stack,
 * put a struct sl_gate_meta in front of the frame first, naming that queue and repeating the
 * 8 transport bytes at l4 (checked to be inside the frame by the caller). */
static __always_inline int steer_tuple(struct xdp_md *ctx, const struct sl_gate_tuple_rule *t,
				       void *l4)
{
	struct sl_gate_meta m = {};
	struct sl_gate_meta *mp;
	void *data = (void *)(long)ctx->data;
	__u32 home = t->home;

	if (!home || home - 1 == ctx->rx_queue_index || home > SL_GATE_MAX_QUEUES)
		return steer(ctx, &t->r);
	m.magic = SL_GATE_META_MAGIC;
	m.l4off = (__u16)(l4 - data);
	m.home = (__u8)(home - 1);
	__builtin_memcpy(m.l4, l4, 8);
	/* Every packet pointer is invalid after this: only the metadata is touched. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(m))) {
		count(SL_GATE_META_FAILED);
		return steer(ctx, &t->r);
	}
	mp = (void *)(long)ctx->data_meta;
	if ((void *)(mp + 1) > (void *)(long)ctx->data) {
		count(SL_GATE_META_FAILED);
		return steer(ctx, &t->r);
	}
	*mp = m;
	count(SL_GATE_HANDOFF);
	return steer(ctx, &t->r);
}

/* An owned frame goes to the stack whatever it holds; with homes present, a TCP or UDP frame
 * (first fragment or whole) whose exact tuple has a rule is steered by that rule. */
static __always_inline int steer_owned(struct xdp_md *ctx, const struct sl_gate_rule *r,
				       struct sl_gate_tuple_key *tk, __u8 proto, void *l4,
				       void *data_end)
{
	const struct sl_gate_tuple_rule *t;
	__be16 *ports = l4;

	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || l4 + 8 > data_end)
		return steer(ctx, r);
	tk->proto = proto;
	tk->sport = ports[0];
	tk->dport = ports[1];
	t = tuple_rule(tk, ctx);
	if (!t)
		return steer(ctx, r);
	return steer_tuple(ctx, t, l4);
}

static __always_inline int gate_arp(struct xdp_md *ctx, void *l3, void *data_end)
{
	struct arp_fixed *arp = l3;
	const struct sl_gate_rule *r;
	__u8 addr[16] = {};
	__u8 *tpa;
	__u32 hln;

	if ((void *)(arp + 1) > data_end)
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	/* Only IPv4-over-anything ARP can name an address we own. The hardware type is not
	 * checked on purpose: odd ARP aimed at an owned address is the stack's to count. */
	if (arp->pro != bpf_htons(ETH_P_IP) || arp->pln != 4 || arp->hln > ARP_MAX_HLEN)
		return verdict(SL_GATE_PASSED, XDP_PASS);
	hln = arp->hln & 0x1f; /* ≤ 16 after the check; the mask tells the verifier */
	/* RFC 826: sha[hln] spa[pln] tha[hln] tpa[pln] follow the fixed header. */
	tpa = (__u8 *)(arp + 1) + 2 * hln + 4;
	if ((void *)(tpa + 4) > data_end)
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	addr[10] = 0xff;
	addr[11] = 0xff;
	addr[12] = tpa[0];
	addr[13] = tpa[1];
	addr[14] = tpa[2];
	addr[15] = tpa[3];
	r = owned(addr, ctx);
	if (r)
		return steer(ctx, r);
	return verdict(SL_GATE_PASSED, XDP_PASS);
}

static __always_inline const struct sl_gate_rule *
port_rule(__u8 proto, __be16 dport, const __u8 daddr[16], const struct xdp_md *ctx)
{
	struct sl_gate_port_key k = {};

	k.proto = proto;
	k.port = dport;
	__builtin_memcpy(k.addr, daddr, 16);
	return usable(bpf_map_lookup_elem(&sl_ports, &k), ctx);
}

/* The rule of the flow an ICMP error quotes, or none. The quoted packet was sent by us: its
 * source is our end, so the flow's arriving frames have the quoted destination as their
 * source. ik holds the quoted packet's proto and addresses already, in the order of an arriving
 * frame (saddr = the quoted destination); qports points at its first 4 transport bytes. */
static __always_inline const struct sl_gate_tuple_rule *
icmp_quoted(struct xdp_md *ctx, struct sl_gate_tuple_key *ik, __be16 *qports,
	    const struct sl_gate_rule **pr)
{
	const struct sl_gate_tuple_rule *t;
	__u8 zero[16] = {};

	ik->sport = qports[1]; /* the quoted destination port is the remote end's */
	ik->dport = qports[0];
	t = tuple_rule(ik, ctx);
	if (t)
		return t;
	*pr = port_rule(ik->proto, ik->dport, ik->daddr, ctx);
	if (!*pr)
		*pr = port_rule(ik->proto, ik->dport, zero, ctx);
	return 0;
}

/* RFC 792 destination unreachable (3), time exceeded (11), parameter problem (12), which quote
 * the IP header and at least 64 bits of what we sent (RFC 1812 §4.3.2.3: as much as fits): a
 * TCP or UDP packet (whole or first fragment, no options beyond the header length) of one of
 * sluice's flows steers the error to sluice. Anything else: 0. */
static __always_inline int icmp4_error(struct xdp_md *ctx, void *l4, void *data_end,
				       const struct sl_gate_rule **r,
				       const struct sl_gate_tuple_rule **t)
{
	__u8 *icmp = l4;
	struct iphdr *q;
	struct sl_gate_tuple_key ik = {};
	__be16 *qports;

	if ((void *)(icmp + 8) > data_end)
		return 0;
	if (icmp[0] != 3 && icmp[0] != 11 && icmp[0] != 12)
		return 0;
	q = (void *)(icmp + 8);
	if ((void *)(q + 1) > data_end || q->version != 4 || q->ihl < 5)
		return 0;
	if (bpf_ntohs(q->frag_off) & IPV4_OFFSET_MASK)
		return 0;
	if (q->protocol != IPPROTO_TCP && q->protocol != IPPROTO_UDP)
		return 0;
	qports = (void *)q + ((q->ihl & 0xf) * 4);
	if ((void *)(qports + 2) > data_end)
		return 0;
	ik.proto = q->protocol;
	map_v4(ik.saddr, q->daddr);
	map_v4(ik.daddr, q->saddr);
	*t = icmp_quoted(ctx, &ik, qports, r);
	return *t || *r;
}

/* RFC 4443 §3.1-3.4: destination unreachable (1), packet too big (2), time exceeded (3),
 * parameter problem (4) quote as much of the offending packet as fits; one whose quoted
 * IPv6 header is followed directly by TCP or UDP (no extension headers: the gate does not walk
 * a quoted chain) from one of sluice's flows steers the error to sluice. */
static __always_inline int icmp6_error(struct xdp_md *ctx, void *l4, void *data_end,
				       const struct sl_gate_rule **r,
				       const struct sl_gate_tuple_rule **t)
{
	__u8 *icmp = l4;
	struct ipv6hdr *q;
	struct sl_gate_tuple_key ik = {};
	__be16 *qports;

	if ((void *)(icmp + 8) > data_end)
		return 0;
	if (icmp[0] < 1 || icmp[0] > 4)
		return 0;
	q = (void *)(icmp + 8);
	if ((void *)(q + 1) > data_end || q->version != 6)
		return 0;
	if (q->nexthdr != IPPROTO_TCP && q->nexthdr != IPPROTO_UDP)
		return 0;
	qports = (void *)(q + 1);
	if ((void *)(qports + 2) > data_end)
		return 0;
	ik.proto = q->nexthdr;
	__builtin_memcpy(ik.saddr, q->daddr.in6_u.u6_addr8, 16);
	__builtin_memcpy(ik.daddr, q->saddr.in6_u.u6_addr8, 16);
	if (is_v4mapped(ik.saddr) || is_v4mapped(ik.daddr))
		return 0;
	*t = icmp_quoted(ctx, &ik, qports, r);
	return *t || *r;
}

static __always_inline int gate_ipv4(struct xdp_md *ctx, void *l3, void *data_end)
{
	struct iphdr *ip = l3;
	struct sl_gate_tuple_key tk = {};
	const struct sl_gate_tuple_rule *t;
	const struct sl_gate_rule *r;
	__u8 zero[16] = {};
	__be16 sport = 0, dport = 0;
	__u16 frag;
	__u32 hlen;
	void *l4;

	if ((void *)(ip + 1) > data_end)
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	frag = bpf_ntohs(ip->frag_off);
	if (frag & (IPV4_MF | IPV4_OFFSET_MASK))
		count(SL_GATE_FRAGMENT);

	map_v4(tk.daddr, ip->daddr);
	/* Every packet (and every fragment) to an owned address belongs to the stack, which
	 * does its own reassembly and validation: a malformed header (bad version, IHL or
	 * length) to an owned address is the stack's to count and drop, not the kernel's. */
	r = owned(tk.daddr, ctx);
	if (r && !homes_present())
		return steer(ctx, r);

	if (ip->version != 4 || ip->ihl < 5)
		return r ? steer(ctx, r) : verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	hlen = (ip->ihl & 0xf) * 4; /* options are skipped, not parsed */
	l4 = l3 + hlen;
	if (l4 > data_end)
		return r ? steer(ctx, r) : verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	if (r) {
		if (frag & IPV4_OFFSET_MASK)
			return steer(ctx, r);
		map_v4(tk.saddr, ip->saddr);
		return steer_owned(ctx, r, &tk, ip->protocol, l4, data_end);
	}

	/* RFC 791 §3.2: a non-first fragment carries no transport header, so no port or
	 * tuple rule can claim it; the kernel reassembles it (docs/gate.md). */
	if (frag & IPV4_OFFSET_MASK)
		return verdict(SL_GATE_PASSED, XDP_PASS);

	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
		sport = ports[0];
		dport = ports[1];
	}
	/* An error about one of sluice's flows, sent to an address sluice does not own (shared
	 * mode: the kernel's), is the flow's; every other ICMP message is the kernel's. */
	if (ip->protocol == IPPROTO_ICMP) {
		const struct sl_gate_tuple_rule *qt = 0;
		const struct sl_gate_rule *qr = 0;

		if (icmp4_error(ctx, l4, data_end, &qr, &qt)) {
			count(SL_GATE_ICMP_ERROR);
			/* A connection's error goes to its home stack, as its segments do. */
			if (qt && l4 + 8 <= data_end)
				return steer_tuple(ctx, qt, l4);
			return steer(ctx, qt ? &qt->r : qr);
		}
	}
	/* ICMP and every other protocol match with ports 0. */

	tk.proto = ip->protocol;
	tk.sport = sport;
	tk.dport = dport;
	map_v4(tk.saddr, ip->saddr);
	t = tuple_rule(&tk, ctx);
	if (t && l4 + 8 <= data_end)
		return steer_tuple(ctx, t, l4);
	r = t ? &t->r : 0;
	if (!r)
		r = port_rule(tk.proto, dport, tk.daddr, ctx);
	if (!r)
		r = port_rule(tk.proto, dport, zero, ctx);
	if (r)
		return steer(ctx, r);
	return verdict(SL_GATE_PASSED, XDP_PASS);
}

/* What the walk of the IPv6 header chain found. */
enum v6_chain {
	V6_TRANSPORT, /* proto is the transport protocol, l4 its header */
	V6_NONFIRST,  /* a fragment header with offset ≠ 0: no transport header here */
	V6_TOO_LONG,  /* still an extension header after SL_GATE_V6_EXT_MAX of them */
	V6_TRUNCATED, /* an extension header runs past the end of the frame */
};

struct v6_walk {
	void *l4;
	__u8 proto;
	__u8 fragment; /* a fragment header was seen */
};

/* RFC 8200 §4: the extension headers the gate steps over. ESP (50) ends the walk: what
 * follows it is encrypted. Every other value, No Next Header (59) included, is taken as the
 * transport protocol (headers such as Mobility, 135, are not skipped: no rule can match
 * them, so those packets go to the kernel). */
static __always_inline int v6_ext(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
	       nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH;
}

/* Walk at most SL_GATE_V6_EXT_MAX extension headers from p (the first has type nh). */
static __always_inline int v6_walk(void *p, void *data_end, __u8 nh, struct v6_walk *w)
{
	int i;

	w->fragment = 0;
#pragma unroll
	for (i = 0; i < SL_GATE_V6_EXT_MAX; i++) {
		__u8 *h = p;
		__u32 len;

		if (!v6_ext(nh))
			break;
		/* Every extension header is at least 8 bytes; the first two are next header and
		 * (except for the fragment header) the length. */
		if ((void *)(h + 8) > data_end)
			return V6_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT) {
			w->fragment = 1;
			/* §4.5: only the first fragment (offset 0) holds the transport header. */
			if ((((__u16)h[2] << 8) | h[3]) & IPV6_OFFSET_MASK)
				return V6_NONFIRST;
			len = 8;
		} else if (nh == IPPROTO_AH) {
			len = ((__u32)h[1] + 2) * 4; /* RFC 4302 §2.2 */
		} else {
			len = ((__u32)h[1] + 1) * 8; /* §4.3, §4.4, §4.6: 8-byte units, minus 1 */
		}
		nh = h[0];
		p += len;
	}
	if (v6_ext(nh))
		return V6_TOO_LONG;
	w->proto = nh;
	w->l4 = p;
	return V6_TRANSPORT;
}

static __always_inline int gate_ipv6(struct xdp_md *ctx, void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	struct sl_gate_tuple_key tk = {};
	const struct sl_gate_tuple_rule *t;
	const struct sl_gate_rule *r;
	struct v6_walk w = {};
	__u8 zero[16] = {};
	__be16 sport = 0, dport = 0;
	int chain;

	if ((void *)(ip6 + 1) > data_end)
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	__builtin_memcpy(tk.daddr, ip6->daddr.in6_u.u6_addr8, 16);
	/* An IPv4-mapped destination would match the IPv4 rules: not ours to take. */
	if (is_v4mapped(tk.daddr))
		return verdict(SL_GATE_PASSED, XDP_PASS);
	/* As for IPv4, a malformed header (here a wrong version) aimed at an owned address is
	 * the stack's to count and drop (ipv6_bad_version), not the kernel's. */
	if (ip6->version != 6) {
		r = owned(tk.daddr, ctx);
		if (r)
			return steer(ctx, r);
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	}

	chain = v6_walk(ip6 + 1, data_end, ip6->nexthdr, &w);
	if (w.fragment)
		count(SL_GATE_FRAGMENT);
	/* As for IPv4: every packet to an owned address, every fragment and every odd header
	 * chain included, is the stack's to reassemble, validate and count. */
	r = owned(tk.daddr, ctx);
	if (r) {
		if (chain != V6_TRANSPORT || !homes_present())
			return steer(ctx, r);
		__builtin_memcpy(tk.saddr, ip6->saddr.in6_u.u6_addr8, 16);
		return steer_owned(ctx, r, &tk, w.proto, w.l4, data_end);
	}
	if (chain == V6_TRUNCATED)
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	if (chain == V6_TOO_LONG) {
		count(SL_GATE_EXT_CHAIN_TOO_LONG);
		return verdict(SL_GATE_PASSED, XDP_PASS);
	}
	/* No ports in a non-first fragment: no port or tuple rule can claim it (docs/gate.md). */
	if (chain != V6_TRANSPORT)
		return verdict(SL_GATE_PASSED, XDP_PASS);

	if (w.proto == IPPROTO_TCP || w.proto == IPPROTO_UDP) {
		__be16 *ports = w.l4;

		if ((void *)(ports + 2) > data_end)
			return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
		sport = ports[0];
		dport = ports[1];
	} else if (w.proto == IPPROTO_ICMPV6) {
		__u8 *icmp = w.l4;

		if ((void *)(icmp + 1) > data_end)
			return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
		/* Neighbour discovery for an owned address goes to the stack whatever the
		 * destination: an NS is sent to the target's solicited-node group
		 * (ff02::1:ffXX:XXXX) or unicast, or from :: as another host's DAD probe; an
		 * NA answering our DAD probe goes to ff02::1. The hop limit, code and
		 * checksum are the stack's to check (RFC 4861 §7.1). */
		if (icmp[0] < 128) {
			const struct sl_gate_tuple_rule *qt = 0;
			const struct sl_gate_rule *qr = 0;

			/* As for IPv4: an error quoting one of sluice's flows is the flow's. */
			if (icmp6_error(ctx, w.l4, data_end, &qr, &qt)) {
				count(SL_GATE_ICMP_ERROR);
				if (qt && w.l4 + 8 <= data_end)
					return steer_tuple(ctx, qt, w.l4);
				return steer(ctx, qt ? &qt->r : qr);
			}
		}
		if (icmp[0] == ICMPV6_NS || icmp[0] == ICMPV6_NA) {
			__u8 *target = icmp + ICMPV6_ND_TARGET;

			if ((void *)(target + 16) > data_end)
				return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
			if (!is_v4mapped(target)) {
				r = owned(target, ctx);
				if (r)
					return steer(ctx, r);
			}
		}
	}
	/* ICMPv6 and every other protocol match with ports 0. */

	tk.proto = w.proto;
	tk.sport = sport;
	tk.dport = dport;
	__builtin_memcpy(tk.saddr, ip6->saddr.in6_u.u6_addr8, 16);
	t = tuple_rule(&tk, ctx);
	if (t && w.l4 + 8 <= data_end)
		return steer_tuple(ctx, t, w.l4);
	r = t ? &t->r : 0;
	if (!r)
		r = port_rule(tk.proto, dport, tk.daddr, ctx);
	/* The all-zero "any address" key is shared by both families. */
	if (!r)
		r = port_rule(tk.proto, dport, zero, ctx);
	if (r)
		return steer(ctx, r);
	return verdict(SL_GATE_PASSED, XDP_PASS);
}

SEC("xdp.frags")
int sl_gate(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;
	int i;

	count(SL_GATE_RX);
	if ((void *)(eth + 1) > data_end)
		return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
	proto = eth->h_proto;
	l3 = eth + 1;

	/* Skip up to two tags (802.1ad outer + 802.1Q inner). The stack itself drops tagged
	 * frames (eth_vlan): to run sluice on a VLAN, attach to the VLAN device. */
#pragma unroll
	for (i = 0; i < VLAN_MAX_DEPTH; i++) {
		struct vlan_tag *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > data_end)
			return verdict(SL_GATE_PARSE_ERROR, XDP_PASS);
		proto = tag->encap_proto;
		l3 = tag + 1;
	}

	if (proto == bpf_htons(ETH_P_ARP))
		return gate_arp(ctx, l3, data_end);
	if (proto == bpf_htons(ETH_P_IP))
		return gate_ipv4(ctx, l3, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return gate_ipv6(ctx, l3, data_end);
	return verdict(SL_GATE_NON_IP, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
