/*
 * The stack's private state. Protocol modules include this; applications see
 * only include/sluice/. One struct sl_stack per device queue, no globals.
 */
#ifndef SL_IFACE_STACK_H
#define SL_IFACE_STACK_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "sluice/stack.h"
#include "sluice/icmp.h"
#include "proto/arp.h"
#include "proto/reasm.h"
#include "proto/ipv6.h"
#include "proto/udp.h"
#include "proto/tcp.h"
#include "util/rng.h"
#include "util/timer.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include <string.h>

#define STAT_INC(st, name) ((st)->stats->c[SL_STAT_##name]++)
#define STAT_ADD(st, name, n) ((st)->stats->c[SL_STAT_##name] += (n))

/* Room reserved in front of an L4 header in frames we build: Ethernet + the fixed IPv4 header
 * (20 bytes) or IPv6 header (40 bytes). */
#define SL_L3_OFF 14
#define SL_L4_OFF (14 + 20)
#define SL_L4_OFF6 (14 + 40)
static inline unsigned sl_l4_off(bool v6)
{
	return v6 ? SL_L4_OFF6 : SL_L4_OFF;
}
/* Fixed IP header length of a family. */
static inline unsigned sl_ip_hlen(bool v6)
{
	return v6 ? 40u : 20u;
}

struct sl_addr4 {
	uint32_t addr;
	uint32_t mask;
	uint8_t plen;
	uint32_t bcast; /* the subnet's directed broadcast; for /31 and /32, which have none
			 * (RFC 3021), the limited broadcast, which is a broadcast anyway */
};

/* An IPv6 address of the stack. Usable once Duplicate Address Detection (RFC 4862 §5.4)
 * passed; tentative until then (received traffic for it is not accepted, except ND). */
struct sl_addr6 {
	sl_ip addr;
	uint8_t plen;
	bool tentative;
	uint8_t dad_sent; /* DAD probes sent */
	bool dad_failed;
	struct sl_timer dad_timer;
};

/* The path to one destination, cached: the route (source address and next hop), whether it
 * is a broadcast or multicast destination, a hint to the next hop's neighbour entry, and the
 * pseudo-header sum of its addresses — what every packet to dst would otherwise look up again.
 * Valid while gen equals the stack's path_gen, which every change of addresses or routes
 * bumps (sl_path_changed); the neighbour hint is checked on use (sl_neigh_output_hint). Path
 * MTUs are not cached: they age (RFC 8201), so output asks sl_pmtu_get. */
struct sl_path {
	sl_ip dst;
	uint32_t gen; /* 0: empty (path_gen starts at 1) */
	int32_t neigh;
	sl_ip src, nh;
	uint32_t src4, dst4; /* IPv4: host order */
	bool v6;
	bool bcast;	/* IPv4 limited or directed broadcast; IPv6 multicast */
	uint64_t psum;	/* sl_ip_pseudo_sum(src, dst, 0, 0) */
};
/* A route besides the on-link prefixes and the default (sl_ip_add_route). IPv4 ones keep
 * host-order copies for sl_iface_route4. */
struct sl_route {
	sl_ip dst; /* masked to plen */
	sl_ip gw;  /* unspecified: on-link */
	uint8_t plen;
	bool v4;
	uint32_t dst4, mask4, gw4;
};
#define SL_PATH_SLOTS 64
#define SL_LOOP_MAX 64 /* frames to ourselves waiting for the end of the poll */ /* direct-mapped by destination: a miss is one route lookup */

struct sl_stack {
	struct sl_dev *dev;
	struct sl_stack_config cfg;
	uint8_t mac[6];
	uint32_t mtu;
	struct sl_addr4 v4[SL_MAX_ADDRS];
	unsigned n_v4;
	uint32_t gw4; /* 0: none */
	struct sl_addr6 v6[SL_MAX_ADDRS];
	unsigned n_v6;
	sl_ip gw6; /* all-zero: none; may be link-local */
	struct sl_route routes[SL_MAX_ROUTES]; /* sl_ip_add_route: longest prefix first */
	unsigned n_routes;
	struct sl_pmtu pmtu; /* IPv6 path MTUs learned from Packet Too Big (RFC 8201) */
	uint32_t ip6_id;     /* fragment identification, RFC 7739: from the random generator */
	uint32_t path_gen;   /* bumped when addresses or routes change: paths[] then refill */
	struct sl_path paths[SL_PATH_SLOTS];
	/* Frames to our own addresses (a program talking to itself): delivered to our own input
	 * at the end of the poll instead of the wire (sl_iface_loop), with looping set while they
	 * are, so the input's "source is ours: a spoof" rule lets them through. */
	struct sl_frame loop[SL_LOOP_MAX];
	unsigned n_loop;
	bool looping;

	struct sl_stats own_stats;
	struct sl_stats *stats; /* &own_stats, or the published mapping */
	void *stats_map;
	size_t stats_map_len;
	struct sl_stats_file *stats_hdr;
	struct sl_conns_file *conns_hdr; /* published connection table, or NULL */
	size_t conns_map_len;
	struct sl_tcp_conn *conns_tmp;
	uint64_t dev_stats_at; /* when the device's kernel counters were last read */

	struct sl_timers timers;
	struct sl_rng rng;
	struct sl_rng secret_rng; /* only with cfg.deterministic_secrets (sl_iface_secret) */
	uint64_t now;

	struct sl_arp arp;
	struct sl_reasm reasm;
	struct sl_udp udp;
	struct sl_tcp tcp;

	uint64_t icmp_tokens_ns; /* token bucket, kept in "ns of credit" */
	uint64_t icmp_last;
	uint16_t ip_id;
	sl_icmp_echo_cb echo_cb;
	void *echo_arg;

	volatile sig_atomic_t stop;
};

/* Ownership result of an input handler: the handler either keeps the frame (queued for output,
 * waiting for ARP …) or hands it back for release. */
enum sl_rx_result { SL_RX_RELEASE = 0, SL_RX_KEPT = 1 };

/* Deliver f (a finished frame to one of our own addresses) to ourselves (takes the frame). */
void sl_iface_loop(struct sl_stack *st, struct sl_frame *f);

/* iface/publish.c: rewrite the published connection table (from the poll loop, every 50 ms). */
void sl_stack_write_conns(struct sl_stack *st);

/* iface: output (inline: once or twice per packet) */
static inline int sl_iface_alloc(struct sl_stack *st, struct sl_frame *f)
{
	if (st->dev->ops->alloc(st->dev, f) < 0) {
		STAT_INC(st, tx_no_frame);
		return -ENOBUFS;
	}
	return 0;
}
static inline void sl_iface_release(struct sl_stack *st, const struct sl_frame *f)
{
	st->dev->ops->release(st->dev, f);
}
/* Queue a complete Ethernet frame for transmission (takes the frame). */
static inline void sl_iface_tx(struct sl_stack *st, struct sl_frame *f)
{
	if (st->dev->ops->tx(st->dev, f) == 0)
		STAT_INC(st, tx_frames);
	else
		STAT_INC(st, tx_ring_full);
}

/* Fill buf with secret bytes (keys of keyed hashes): getrandom(2), or, with
 * cfg.deterministic_secrets, a generator of their own seeded from cfg.seed (not the
 * simulation generator: drawing secrets does not move its sequence). 0 or a negative errno. */
int sl_iface_secret(struct sl_stack *st, void *buf, size_t len);

/* addresses */
bool sl_iface_owns4(const struct sl_stack *st, uint32_t a);
/* Either family; an IPv6 address only once DAD passed (tentative ones are not owned). */
bool sl_iface_owns(const struct sl_stack *st, const sl_ip *a);
/* An IPv6 address of ours, tentative or not (ND answers DAD probes for neither). */
struct sl_addr6 *sl_iface_find6(struct sl_stack *st, const sl_ip *a);
/* Route to dst (either family): next hop and source address (RFC 6724 for IPv6). */
int sl_iface_route(const struct sl_stack *st, const sl_ip *dst, sl_ip *nexthop, sl_ip *src);
int sl_iface_route6(const struct sl_stack *st, const sl_ip *dst, sl_ip *nexthop, sl_ip *src);
/* The next hop of the longest IPv6 route (sl_ip_add_route) to dst longer than longer_than
 * bits: true and *nexthop (dst itself for an on-link route), or false. */
bool sl_iface_route6_lookup(const struct sl_stack *st, const sl_ip *dst, int longer_than,
			    sl_ip *nexthop);
bool sl_iface_is_bcast4(const struct sl_stack *st, uint32_t a);
/* a is inside one of our IPv4 prefixes (a /0 counts for none: it is the default route). */
bool sl_iface_onlink4(const struct sl_stack *st, uint32_t a);
/* Route to dst: next hop and source address. -ENETUNREACH without one. */
int sl_iface_route4(const struct sl_stack *st, uint32_t dst, uint32_t *nexthop, uint32_t *src);

static inline unsigned sl_path_slot(const sl_ip *dst)
{
	uint32_t a, b;
	__builtin_memcpy(&a, dst->b + 12, 4);
	__builtin_memcpy(&b, dst->b + 4, 4);
	return ((a ^ b) * 0x9e3779b1u) >> (32 - 6);
}
_Static_assert(SL_PATH_SLOTS == 64, "sl_path_slot keeps 6 bits");
/* Route dst now into its slot (iface/services.c). */
struct sl_path *sl_path_fill(struct sl_stack *st, const sl_ip *dst, int *err);
/* The path to dst (either family), from the cache or routed now; NULL with *err set
 * (-ENETUNREACH) without a route. The pointer is valid until the next call. */
static inline struct sl_path *sl_path_get(struct sl_stack *st, const sl_ip *dst, int *err)
{
	struct sl_path *p = &st->paths[sl_path_slot(dst)];
	if (p->gen == st->path_gen && sl_ip_eq(&p->dst, dst))
		return p;
	return sl_path_fill(st, dst, err);
}
/* Addresses or routes changed: every cached path is refilled on its next use. */
static inline void sl_path_changed(struct sl_stack *st)
{
	if (++st->path_gen == 0)
		st->path_gen = 1;
	for (unsigned i = 0; st->path_gen == 1 && i < SL_PATH_SLOTS; i++)
		st->paths[i].gen = 0; /* wrapped: no stale slot may match the new generation */
}

/* A received, validated IP datagram (either family) as the transport layers see it. */
struct sl_ip_pkt {
	const uint8_t *ip; /* IP header; the transport bytes follow it (IPv6: after the
			    * extension headers) in the same buffer */
	const uint8_t *l4; /* transport header */
	size_t l4len;	   /* transport bytes (header + payload) */
	sl_ip src, dst;	   /* both families (IPv4-mapped for IPv4) */
	uint32_t src4, dst4; /* IPv4 only: host order */
	uint8_t proto;	     /* transport protocol (IPv6: the last Next Header) */
	bool v6;
	bool bcast;		/* to a broadcast/multicast address, IP or link layer */
	uint8_t hlim;		/* IPv6 hop limit as received (ND needs 255) */
	size_t iplen;		/* bytes from ip to the end of the datagram (ICMP quotes) */
	struct sl_frame *frame; /* the frame holding it; NULL for a reassembled datagram */
};

/* proto entry points used by the poll loop */
enum sl_rx_result sl_arp_input(struct sl_stack *st, struct sl_frame *f);
enum sl_rx_result sl_ipv4_input(struct sl_stack *st, struct sl_frame *f, bool l2_bcast);
/* Hand a complete datagram to its transport (input, and reassembly when a datagram completes). */
enum sl_rx_result sl_ipv4_deliver(struct sl_stack *st, struct sl_ip_pkt *pkt);
enum sl_rx_result sl_icmp_input(struct sl_stack *st, struct sl_ip_pkt *pkt);
enum sl_rx_result sl_udp_input(struct sl_stack *st, struct sl_ip_pkt *pkt);
enum sl_rx_result sl_tcp_input(struct sl_stack *st, struct sl_ip_pkt *pkt);
/* The datagram an ICMP or ICMPv6 error quotes (one we sent), parsed by the ICMP layer of its
 * family: addresses as we sent them, the transport protocol and its quoted bytes. */
struct sl_ip_quote {
	sl_ip src, dst;
	uint8_t proto;
	const uint8_t *l4;
	size_t l4len;
	uint32_t mtu; /* Packet Too Big (IPv6): the path MTU it reports; else 0 */
	uint8_t type, code; /* the ICMP or ICMPv6 message's */
	sl_ip from;	    /* who sent the message */
};
/* An ICMP error about a datagram we sent, delivered to the transport it concerns. Returns
 * true when someone took it. */
bool sl_tcp_icmp_error(struct sl_stack *st, int err, const struct sl_ip_quote *q);
bool sl_udp_icmp_error(struct sl_stack *st, int err, const struct sl_ip_quote *q);

/* What a sender sets in the IP header of each packet it sends: ttl, the TTL (IPv4) or hop limit
 * (IPv6), 0 for the stack's default (sl_stack_config.ttl); tos, the IPv4 TOS byte or the IPv6
 * traffic class, DSCP and ECN bits as given (RFC 2474 §3, RFC 3168 §5); df, IPv4's Don't
 * Fragment bit, and for either family: fail with -EMSGSIZE rather than fragment. {0}: the
 * defaults. Passed by value (three bytes). */
struct sl_iptx {
	uint8_t ttl;
	uint8_t tos;
	bool df;
};
/* The header choices of a public sl_ip_opts (NULL: the defaults). */
static inline struct sl_iptx sl_iptx_of(const struct sl_ip_opts *o)
{
	return o ? (struct sl_iptx){o->ttl, o->tos, o->dont_fragment} : (struct sl_iptx){0};
}

/* Send an IPv4 packet whose L4 bytes (l4len of them) already sit at f->data + SL_L4_OFF. Takes
 * the frame in every case. src 0 = source selection. Fragments when larger than the MTU
 * (unless tx.df: -EMSGSIZE). */
int sl_ipv4_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, uint32_t src,
		   uint32_t dst, uint8_t proto, struct sl_iptx tx);
/* Send f to next hop ip: while the entry *hint names still holds ip in a state that sends at
 * once and is the most recently used one, straight here; otherwise sl_neigh_output_hint
 * (lookup, resolution, the use order). */
static inline void sl_neigh_tx(struct sl_stack *st, struct sl_frame *f, const sl_ip *ip,
			       int32_t *hint)
{
	struct sl_arp *a = &st->arp;
	uint32_t h = (uint32_t)*hint;
	if (h < a->cap && a->lru_tail == (int32_t)h) {
		struct sl_arp_entry *e = &a->e[h];
		if ((e->state == SL_ARP_REACHABLE || e->state == SL_ARP_REFRESHING ||
		     e->state == SL_ARP_DELAY) &&
		    sl_ip_eq(&e->ip, ip)) {
			e->last_used = st->now;
			e->used = 1;
			memcpy(f->data, e->mac, 6);
			sl_iface_tx(st, f);
			return;
		}
	}
	sl_neigh_output_hint(st, f, ip, hint);
}

/* Send one unfragmented IPv4 packet (20 + l4len within the MTU: the caller checked) whose
 * transport bytes, checksum included, sit at f->data + SL_L4_OFF, over path p from src (host
 * order). Takes the frame. Always inlined: it is the tail of every fast output path. */
__attribute__((always_inline)) static inline void
sl_ipv4_xmit(struct sl_stack *st, struct sl_path *p, struct sl_frame *f, size_t l4len,
	     uint32_t src, uint8_t proto, struct sl_iptx tx)
{
	uint8_t *ip = f->data + SL_L3_OFF;
	uint16_t tot = (uint16_t)(SL_IPV4_HLEN + l4len);
	uint16_t id = st->ip_id++;
	uint16_t frag = tx.df ? SL_IPV4_DF : 0;
	uint8_t t = tx.ttl ? tx.ttl : st->cfg.ttl; /* RFC 1122 §3.2.1.7: never send TTL 0 */
	/* The header's checksum from its fields' values (RFC 1071): no pass over the bytes. */
	uint64_t sum = 0x4500u + tx.tos + (uint64_t)tot + id + frag +
		       ((uint32_t)t << 8 | proto) + src + p->dst4;
	ip[0] = 0x45;
	ip[1] = tx.tos;
	sl_put16(ip + 2, tot);
	sl_put16(ip + 4, id);
	sl_put16(ip + 6, frag);
	ip[8] = t;
	ip[9] = proto;
	sl_put16(ip + 10, (uint16_t)~sl_csum_fold(sum));
	sl_put32(ip + 12, src);
	sl_put32(ip + 16, p->dst4);
	memcpy(f->data + 6, st->mac, 6);
	sl_put16(f->data + 12, SL_ETH_P_IPV4);
	f->len = (uint32_t)(SL_ETH_HLEN + tot);
	if (p->bcast) {
		memset(f->data, 0xff, 6);
		sl_iface_tx(st, f);
	} else {
		sl_neigh_tx(st, f, &p->nh, &p->neigh);
	}
}
/* IPv6: the same at SL_L4_OFF6 (40 + l4len within the path MTU). */
__attribute__((always_inline)) static inline void
sl_ipv6_xmit(struct sl_stack *st, struct sl_path *p, struct sl_frame *f, size_t l4len,
	     const sl_ip *src, uint8_t proto, struct sl_iptx tx)
{
	sl_ipv6_emit(f->data + SL_L3_OFF, (uint16_t)l4len, proto, tx.ttl ? tx.ttl : st->cfg.ttl,
		     tx.tos, src, &p->dst);
	f->len = (uint32_t)(SL_ETH_HLEN + SL_IPV6_HLEN + l4len);
	STAT_INC(st, ipv6_tx);
	memcpy(f->data + 6, st->mac, 6);
	sl_put16(f->data + 12, SL_ETH_P_IPV6);
	if (p->bcast) { /* multicast: its MAC (RFC 2464 §7), no resolution */
		sl_ip6_mcast_mac(&p->dst, f->data);
		sl_iface_tx(st, f);
		return;
	}
	sl_neigh_tx(st, f, &p->nh, &p->neigh);
}
/* Send an IPv4 datagram whose transport bytes are the concatenation of n pieces (header,
 * payload …), fragmenting as needed (RFC 791 §3.2). */
struct sl_piece {
	const void *p;
	size_t len;
};
/* Copy len bytes starting at byte off of the concatenated pieces into out (fragmentation of
 * either family). */
void sl_pieces_gather(const struct sl_piece *pc, int n, size_t off, uint8_t *out, size_t len);
int sl_ipv4_send(struct sl_stack *st, uint32_t src, uint32_t dst, uint8_t proto,
		 struct sl_iptx tx, const struct sl_piece *pieces, int n);
/* The same, for a caller that already routed (src and nexthop from sl_iface_route4): one
 * route lookup per packet, not two. */
int sl_ipv4_send_via(struct sl_stack *st, uint32_t src, uint32_t dst, uint32_t nexthop,
		     uint8_t proto, struct sl_iptx tx, const struct sl_piece *pieces, int n);

/* The ICMP error rate limit (one token bucket for ICMPv4 and ICMPv6): true when one may go. */
bool sl_icmp_rate_ok(struct sl_stack *st);
/* ICMPv6 message (header first) to dst: checksum with the pseudo-header computed here. */
int sl_icmp6_write(struct sl_stack *st, const sl_ip *dst, const struct sl_ip_opts *o,
		   const uint8_t *msg, size_t len);
/* ICMP error about a received datagram (RFC 1122 §3.2.2 rules applied here). */
void sl_icmp_send_error(struct sl_stack *st, const struct sl_ip_pkt *pkt, uint8_t type,
			uint8_t code, uint32_t rest);

/* --- either family ------------------------------------------------------------------------ */

/* Send a packet whose L4 bytes (l4len) sit at f->data + sl_l4_off(v6 of dst). Takes the frame.
 * src NULL or all-zero: source selection. */
int sl_ip_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, const sl_ip *src,
		 const sl_ip *dst, uint8_t proto, struct sl_iptx tx);
/* Send a datagram made of n pieces, already routed (src and nexthop from sl_iface_route). */
int sl_ip_send_via(struct sl_stack *st, const sl_ip *src, const sl_ip *dst, const sl_ip *nexthop,
		   uint8_t proto, struct sl_iptx tx, const struct sl_piece *pieces, int n);
/* The same, routing first. src NULL: source selection. */
int sl_ip_send(struct sl_stack *st, const sl_ip *src, const sl_ip *dst, uint8_t proto,
	       struct sl_iptx tx, const struct sl_piece *pieces, int n);
/* Pseudo-header sum for a transport checksum, either family (RFC 768 / RFC 8200 §8.1). */
uint64_t sl_ip_pseudo_sum(const sl_ip *src, const sl_ip *dst, uint8_t proto, uint32_t len);
/* Largest transport payload (header included) of one unfragmented packet to dst: the path
 * MTU less the IP header. */
uint32_t sl_ip_path_mtu(struct sl_stack *st, const sl_ip *dst);

/* --- IPv6 (proto/ipv6.c, proto/icmp6.c, proto/nd.c) ----------------------------------------- */

enum sl_rx_result sl_ipv6_input(struct sl_stack *st, struct sl_frame *f, bool l2_mcast);
enum sl_rx_result sl_ipv6_deliver(struct sl_stack *st, struct sl_ip_pkt *pkt);
int sl_ipv6_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, const sl_ip *src,
		   const sl_ip *dst, uint8_t proto, struct sl_iptx tx);
int sl_ipv6_send_via(struct sl_stack *st, const sl_ip *src, const sl_ip *dst,
		     const sl_ip *nexthop, uint8_t proto, struct sl_iptx tx,
		     const struct sl_piece *pieces, int n);
enum sl_rx_result sl_icmp6_input(struct sl_stack *st, struct sl_ip_pkt *pkt);
/* ICMPv6 error about a received datagram (RFC 4443 §2.4 rules applied here). param is the
 * 32-bit field after the header: the pointer of a Parameter Problem, the MTU of a PTB. */
void sl_icmp6_send_error(struct sl_stack *st, const struct sl_ip_pkt *pkt, uint8_t type,
			 uint8_t code, uint32_t param);
/* Neighbor Discovery (RFC 4861) messages; the frame is the caller's. */
void sl_nd_input(struct sl_stack *st, struct sl_ip_pkt *pkt, uint8_t type);
/* Send a Neighbor Solicitation for target (unicast to mac when given, else to the
 * solicited-node group). DAD probes (RFC 4862 §5.4.2) come from the unspecified address. */
void sl_nd_send_ns(struct sl_stack *st, const sl_ip *target, const uint8_t *mac, bool dad);
/* Start DAD for a new address (RFC 4862 §5.4); it is tentative until DAD passed. */
void sl_nd_start_dad(struct sl_stack *st, struct sl_addr6 *a);

#endif
