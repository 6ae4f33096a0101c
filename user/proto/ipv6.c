/*
 * IPv6 (RFC 8200) for a host: header checks, the extension-header chain processed in order
 * (hop-by-hop only first, options by the two high bits of their type, routing headers as a
 * host that does not forward, fragments reassembled in proto/reasm.c), output with source
 * selection (RFC 6724), fragmentation with random identifiers (RFC 7739) and path MTUs
 * from Packet Too Big (RFC 8201).
 */
#include "iface/stack.h"
#include "wire/checksum.h"
#include "wire/bytes.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <string.h>

#define MAX_EXT_HDRS 16 /* a longer chain is dropped (ipv6_chain_too_long) */
#define ICMP6_PARAM_PROBLEM 4

/* --- path MTU (RFC 8201) ---------------------------------------------------------------- */

uint32_t sl_pmtu_get(struct sl_stack *st, const sl_ip *dst)
{
	for (unsigned i = 0; st->pmtu.used && i < SL_PMTU_SLOTS; i++) {
		struct sl_pmtu_entry *e = &st->pmtu.e[i];
		if (e->mtu && !memcmp(e->dst.b, dst->b, 16)) {
			if (st->now - e->at > SL_PMTU_AGE_NS) {
				e->mtu = 0; /* aged out: try the link MTU again */
				st->pmtu.used--;
				break;
			}
			return e->mtu < st->mtu ? e->mtu : st->mtu;
		}
	}
	return st->mtu;
}

void sl_pmtu_update(struct sl_stack *st, const sl_ip *dst, uint32_t mtu)
{
	if (mtu < SL_IPV6_MIN_MTU)
		mtu = SL_IPV6_MIN_MTU;
	struct sl_pmtu_entry *slot = NULL, *oldest = &st->pmtu.e[0];
	for (unsigned i = 0; i < SL_PMTU_SLOTS; i++) {
		struct sl_pmtu_entry *e = &st->pmtu.e[i];
		if (e->mtu && !memcmp(e->dst.b, dst->b, 16)) {
			slot = e;
			break;
		}
		if (!e->mtu && !slot)
			slot = e;
		if (e->at < oldest->at)
			oldest = e;
	}
	if (!slot)
		slot = oldest;
	/* RFC 8201 §4: a PTB never raises the estimate. */
	if (slot->mtu && !memcmp(slot->dst.b, dst->b, 16) && slot->mtu <= mtu)
		return;
	if (!slot->mtu)
		st->pmtu.used++;
	slot->dst = *dst;
	slot->mtu = mtu;
	slot->at = st->now;
}

/* --- addresses, routes, source selection ------------------------------------------------ */

struct sl_addr6 *sl_iface_find6(struct sl_stack *st, const sl_ip *a)
{
	for (unsigned i = 0; i < st->n_v6; i++)
		if (!memcmp(st->v6[i].addr.b, a->b, 16))
			return &st->v6[i];
	return NULL;
}

static bool prefix_match(const sl_ip *a, const sl_ip *b, unsigned plen)
{
	return sl_ip6_common_prefix(a, b) >= plen;
}

/* RFC 6724 §5, the rules that matter for a host with a few addresses and no preferences:
 * 1 the same address, 2 appropriate scope, 8 the longest matching prefix. Tentative
 * addresses are never candidates (RFC 4862 §5.4). */
static const struct sl_addr6 *select_src(const struct sl_stack *st, const sl_ip *dst)
{
	const struct sl_addr6 *best = NULL;
	unsigned dscope = sl_ip6_scope(dst);
	for (unsigned i = 0; i < st->n_v6; i++) {
		const struct sl_addr6 *c = &st->v6[i];
		if (c->tentative || c->dad_failed)
			continue;
		if (!memcmp(c->addr.b, dst->b, 16))
			return c; /* rule 1 */
		if (!best) {
			best = c;
			continue;
		}
		unsigned sa = sl_ip6_scope(&best->addr), sb = sl_ip6_scope(&c->addr);
		if (sa != sb) {
			/* Rule 2: the smallest scope not below the destination's, else the largest. */
			if (sa < sb ? sa < dscope : sb >= dscope)
				best = c;
			continue;
		}
		if (sl_ip6_common_prefix(&c->addr, dst) > sl_ip6_common_prefix(&best->addr, dst))
			best = c; /* rule 8 */
	}
	return best;
}

int sl_iface_route6(const struct sl_stack *st, const sl_ip *dst, sl_ip *nexthop, sl_ip *src)
{
	const struct sl_addr6 *s = select_src(st, dst);
	if (!s)
		return -ENETUNREACH;
	/* On-link: a link-local or multicast destination, or one inside a prefix of ours
	 * (RFC 4861 §5.2; no "everything is on-link" guess, RFC 4943). */
	bool onlink = sl_ip6_is_linklocal(dst) || sl_ip6_is_multicast(dst);
	int onlink_plen = onlink ? 128 : -1;
	for (unsigned i = 0; i < st->n_v6 && !onlink; i++)
		if (st->v6[i].plen && prefix_match(&st->v6[i].addr, dst, st->v6[i].plen) &&
		    st->v6[i].plen > onlink_plen)
			onlink_plen = st->v6[i].plen;
	/* A route longer than every on-link prefix holding dst wins (sl_ip_add_route). */
	if (sl_iface_route6_lookup(st, dst, onlink_plen, nexthop)) {
		*src = s->addr;
		return 0;
	}
	if (onlink_plen > 0) {
		*nexthop = *dst;
		*src = s->addr;
		return 0;
	}
	if (sl_ip_is_zero(&st->gw6))
		return -ENETUNREACH;
	*nexthop = st->gw6;
	*src = s->addr;
	return 0;
}

/* --- output ----------------------------------------------------------------------------- */

/* Ethernet header and hand-off: multicast maps to its MAC, unicast waits for ND. */
static void finish6(struct sl_stack *st, struct sl_frame *f, const sl_ip *dst,
		    const sl_ip *nexthop)
{
	STAT_INC(st, ipv6_tx);
	if (sl_ip6_is_multicast(dst)) {
		uint8_t mac[6];
		sl_ip6_mcast_mac(dst, mac);
		sl_eth_emit(f->data, mac, st->mac, SL_ETH_P_IPV6);
		sl_iface_tx(st, f);
		return;
	}
	sl_eth_emit(f->data, sl_mac_broadcast, st->mac, SL_ETH_P_IPV6);
	sl_neigh_output(st, f, nexthop);
}

int sl_ipv6_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, const sl_ip *src,
		   const sl_ip *dst, uint8_t proto, struct sl_iptx tx)
{
	int err;
	struct sl_path *p = sl_path_get(st, dst, &err);
	if (!p) {
		STAT_INC(st, ipv6_no_route);
		sl_iface_release(st, f);
		return err;
	}
	const sl_ip *s = src && !sl_ip_is_zero(src) ? src : &p->src;
	if (SL_IPV6_HLEN + l4len > sl_pmtu_get(st, dst)) {
		/* The fragmenting path copies it out of this frame: its checksum is finished here. */
		if (f->csum_off)
			sl_csum_finish(f->data, SL_L4_OFF6 + l4len, f->csum_start, f->csum_off);
		struct sl_piece piece = {f->data + SL_L4_OFF6, l4len};
		sl_ip nh = p->nh, sv = *s;
		err = sl_ipv6_send_via(st, &sv, dst, &nh, proto, tx, &piece, 1);
		sl_iface_release(st, f);
		return err;
	}
	sl_ipv6_xmit(st, p, f, l4len, s, proto, tx);
	return 0;
}

int sl_ipv6_send_via(struct sl_stack *st, const sl_ip *src, const sl_ip *dst,
		     const sl_ip *nexthop, uint8_t proto, struct sl_iptx tx,
		     const struct sl_piece *pieces, int n)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += pieces[i].len;
	if (total > 65535)
		return -EMSGSIZE;
	uint32_t mtu = sl_pmtu_get(st, dst);
	bool frag = SL_IPV6_HLEN + total > mtu;
	if (frag && tx.df) {
		STAT_INC(st, ipv6_too_big);
		return -EMSGSIZE;
	}
	uint8_t h = tx.ttl ? tx.ttl : st->cfg.ttl;
	/* RFC 8200 §4.5: fragments carry multiples of 8 bytes but the last; RFC 7739: the
	 * identification is unpredictable (the stack's random generator, per datagram). */
	size_t per = frag ? (mtu - SL_IPV6_HLEN - SL_IPV6_FRAG_HLEN) & ~7u : total;
	uint32_t id = frag ? (uint32_t)sl_rng_next(&st->rng) : 0;
	size_t off = 0;
	do {
		size_t len = total - off < per ? total - off : per;
		struct sl_frame f;
		if (sl_iface_alloc(st, &f) < 0)
			return -ENOBUFS;
		uint8_t *ip = f.data + SL_L3_OFF;
		uint8_t *p = ip + SL_IPV6_HLEN;
		if (frag) {
			bool more = off + len < total;
			sl_ipv6_emit(ip, (uint16_t)(SL_IPV6_FRAG_HLEN + len), SL_IPPROTO_FRAGMENT, h,
				     tx.tos, src, dst);
			p[0] = proto;
			p[1] = 0;
			sl_put16(p + 2, (uint16_t)(off | (more ? 1 : 0)));
			sl_put32(p + 4, id);
			p += SL_IPV6_FRAG_HLEN;
			STAT_INC(st, ipv6_frags_sent);
		} else {
			sl_ipv6_emit(ip, (uint16_t)len, proto, h, tx.tos, src, dst);
		}
		sl_pieces_gather(pieces, n, off, p, len);
		f.len = (uint32_t)(p + len - f.data);
		finish6(st, &f, dst, nexthop);
		off += len;
	} while (off < total);
	return 0;
}

/* --- input ------------------------------------------------------------------------------ */

/* A group we listen to: all-nodes, or the solicited-node group of one of our addresses
 * (tentative ones too: DAD needs it). */
static bool in_group(const struct sl_stack *st, const sl_ip *g)
{
	if (sl_ip6_is_all_nodes(g))
		return true;
	for (unsigned i = 0; i < st->n_v6; i++) {
		sl_ip s = sl_ip6_solicited(&st->v6[i].addr);
		if (!memcmp(s.b, g->b, 16))
			return true;
	}
	return false;
}

/* Options of a hop-by-hop or destination options header (RFC 8200 §4.2). opt points at the
 * header, len its length; off is its offset from the IPv6 header (for the pointer of a
 * Parameter Problem). Returns 0 to go on, -1 to drop (after answering as the type says). */
static int do_options(struct sl_stack *st, struct sl_ip_pkt *pkt, const uint8_t *h, size_t len,
		      size_t off)
{
	size_t i = 2;
	while (i < len) {
		uint8_t type = h[i];
		if (type == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > len || i + 2 + h[i + 1] > len) {
			STAT_INC(st, ipv6_bad_hdr);
			return -1;
		}
		if (type != 1) { /* anything but PadN is unknown to us */
			switch (type >> 6) {
			case 0:
				break; /* skip over it */
			case 1:
				STAT_INC(st, ipv6_unknown_opt);
				return -1;
			case 2:
				STAT_INC(st, ipv6_unknown_opt);
				sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 2, (uint32_t)(off + i));
				return -1;
			default:
				STAT_INC(st, ipv6_unknown_opt);
				if (!sl_ip6_is_multicast(&pkt->dst))
					sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 2,
							    (uint32_t)(off + i));
				return -1;
			}
		}
		i += 2u + h[i + 1];
	}
	return 0;
}

/* Walk the extension headers from p (the header named nh, nh_off the offset of the field that
 * named it) to the transport, then deliver. frag6 false for a reassembled datagram, which
 * cannot hold another fragment header. */
static enum sl_rx_result walk(struct sl_stack *st, struct sl_ip_pkt *pkt, uint8_t nh,
			      size_t off, size_t nh_off, bool reassembled)
{
	const uint8_t *ip = pkt->ip;
	size_t end = pkt->iplen;
	for (int n = 0;; n++) {
		if (n == MAX_EXT_HDRS) {
			STAT_INC(st, ipv6_chain_too_long);
			return SL_RX_RELEASE;
		}
		const uint8_t *h = ip + off;
		switch (nh) {
		case SL_IPPROTO_HOPOPTS:
		case SL_IPPROTO_DSTOPTS:
		case SL_IPPROTO_ROUTING: {
			if (nh == SL_IPPROTO_HOPOPTS && (off != SL_IPV6_HLEN || reassembled)) {
				/* §4.1: only immediately after the IPv6 header. */
				STAT_INC(st, ipv6_hbh_not_first);
				sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 1, (uint32_t)nh_off);
				return SL_RX_RELEASE;
			}
			if (off + 8 > end || off + 8u * (h[1] + 1u) > end) {
				STAT_INC(st, ipv6_bad_hdr);
				return SL_RX_RELEASE;
			}
			size_t hlen = 8u * (h[1] + 1u);
			if (nh == SL_IPPROTO_ROUTING) {
				if (h[2] == 0)
					STAT_INC(st, ipv6_rh0);
				/* §4.4 for a host: with segments left we would have to forward it;
				 * RH0 is deprecated outright (RFC 5095). Segments left 0: ignore. */
				if (h[3] != 0) {
					STAT_INC(st, ipv6_routing);
					sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 0,
							    (uint32_t)(off + 2));
					return SL_RX_RELEASE;
				}
			} else if (do_options(st, pkt, h, hlen, off) < 0) {
				return SL_RX_RELEASE;
			}
			nh_off = off;
			nh = h[0];
			off += hlen;
			continue;
		}
		case SL_IPPROTO_FRAGMENT: {
			if (off + SL_IPV6_FRAG_HLEN > end || reassembled) {
				STAT_INC(st, ipv6_bad_hdr);
				return SL_RX_RELEASE;
			}
			uint16_t fo = sl_get16(h + 2);
			uint32_t foff = fo & 0xfff8u;
			bool more = fo & 1;
			if (!foff && !more) {
				/* RFC 6946: an atomic fragment is the whole packet; go on with it. */
				STAT_INC(st, ipv6_atomic_frags);
				nh_off = off;
				nh = h[0];
				off += SL_IPV6_FRAG_HLEN;
				continue;
			}
			if (foff == 0) {
				/* RFC 7112: the first fragment holds the whole header chain up to and
				 * including the upper-layer header's first bytes. */
				uint8_t x = h[0];
				size_t o = off + SL_IPV6_FRAG_HLEN;
				int k = 0;
				while ((x == SL_IPPROTO_DSTOPTS || x == SL_IPPROTO_ROUTING) &&
				       o + 8 <= end && k++ < MAX_EXT_HDRS) {
					size_t l = 8u * (ip[o + 1] + 1u);
					x = ip[o];
					o += l;
				}
				size_t need = x == SL_IPPROTO_TCP ? 20 : x == SL_IPPROTO_NONE ? 0 : 8;
				if (x == SL_IPPROTO_DSTOPTS || x == SL_IPPROTO_ROUTING ||
				    x == SL_IPPROTO_HOPOPTS || x == SL_IPPROTO_FRAGMENT ||
				    o + need > end) {
					STAT_INC(st, ipv6_frag_no_upper);
					sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 3, 0);
					return SL_RX_RELEASE;
				}
			}
			uint32_t flen = (uint32_t)(end - off - SL_IPV6_FRAG_HLEN);
			/* §4.5: a fragment with M set whose length is not a multiple of 8, or one
			 * reaching past 65535 bytes, is discarded with a Parameter Problem code 0
			 * pointing at the Payload Length or the Fragment Offset. */
			if (more && (flen & 7)) {
				STAT_INC(st, ipv6_frags_rx);
				STAT_INC(st, ipv6_reasm_bad_frag);
				sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 0, 4);
				return SL_RX_RELEASE;
			}
			if (foff + flen > 65535) {
				STAT_INC(st, ipv6_frags_rx);
				STAT_INC(st, ipv6_reasm_too_big);
				sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 0, (uint32_t)(off + 2));
				return SL_RX_RELEASE;
			}
			uint8_t fixed[SL_IPV6_HLEN];
			memcpy(fixed, ip, SL_IPV6_HLEN);
			struct sl_frag6 fr = {
			    .hdr = fixed,
			    .src = pkt->src,
			    .dst = pkt->dst,
			    .id = sl_get32(h + 4),
			    .off = foff,
			    .len = flen,
			    .more = more,
			    .bcast = pkt->bcast,
			    .proto = h[0],
			    .data = h + SL_IPV6_FRAG_HLEN,
			};
			sl_reasm_input6(st, &fr);
			return SL_RX_RELEASE;
		}
		case SL_IPPROTO_NONE:
			return SL_RX_RELEASE;
		case SL_IPPROTO_TCP:
		case SL_IPPROTO_UDP:
		case SL_IPPROTO_ICMPV6:
			pkt->proto = nh;
			pkt->l4 = h;
			pkt->l4len = end - off;
			if (nh == SL_IPPROTO_ICMPV6)
				return sl_icmp6_input(st, pkt);
			/* The unspecified source is for DAD probes only (RFC 4291 §2.5.2). */
			if (sl_ip_is_zero(&pkt->src)) {
				STAT_INC(st, ipv6_bad_src);
				return SL_RX_RELEASE;
			}
			if (nh == SL_IPPROTO_UDP)
				return sl_udp_input(st, pkt);
			return sl_tcp_input(st, pkt);
		default:
			/* §4: an unrecognised Next Header: Parameter Problem code 1 at its field. */
			STAT_INC(st, ipv6_unknown_proto);
			sl_icmp6_send_error(st, pkt, ICMP6_PARAM_PROBLEM, 1, (uint32_t)nh_off);
			return SL_RX_RELEASE;
		}
	}
}

enum sl_rx_result sl_ipv6_input(struct sl_stack *st, struct sl_frame *f, bool l2_mcast)
{
	uint8_t *p = f->data + SL_ETH_HLEN;
	size_t len = f->len - SL_ETH_HLEN;
	if (len < SL_IPV6_HLEN) {
		STAT_INC(st, ipv6_short);
		return SL_RX_RELEASE;
	}
	if (sl_ipv6_version(p) != 6) {
		STAT_INC(st, ipv6_bad_version);
		return SL_RX_RELEASE;
	}
	size_t plen = sl_ipv6_plen(p);
	/* A payload length of 0 would announce a jumbogram (RFC 2675): not on Ethernet. */
	if (plen == 0 || SL_IPV6_HLEN + plen > len) {
		STAT_INC(st, ipv6_bad_len);
		return SL_RX_RELEASE;
	}
	sl_ip src = sl_ipv6_src(p), dst = sl_ipv6_dst(p);
	/* RFC 4291 §2.7: never from a multicast address; from an address of ours in use is a
	 * loop or a spoof. From a tentative one it is how a defender answers our DAD probe
	 * (its NA comes from the address itself, RFC 4862 §5.4.4): that goes on to ND. */
	const struct sl_addr6 *own = sl_iface_find6(st, &src);
	if (sl_ip6_is_multicast(&src) ||
	    (own && !own->tentative && !own->dad_failed && !st->looping) ||
	    sl_ip6_is_loopback(&src) ||
	    sl_ip_is_v4(&src)) {
		STAT_INC(st, ipv6_bad_src);
		return SL_RX_RELEASE;
	}
	bool mcast = sl_ip6_is_multicast(&dst);
	bool tentative = false;
	if (mcast) {
		if (!in_group(st, &dst)) {
			STAT_INC(st, ipv6_not_for_us);
			return SL_RX_RELEASE;
		}
	} else {
		struct sl_addr6 *a = sl_iface_find6(st, &dst);
		/* An address that failed DAD belongs to another node (RFC 4862 §5.4.5). */
		if (!a || a->dad_failed) {
			STAT_INC(st, ipv6_not_for_us);
			return SL_RX_RELEASE;
		}
		tentative = a->tentative;
	}
	STAT_INC(st, ipv6_rx);
	f->len = (uint32_t)(SL_ETH_HLEN + SL_IPV6_HLEN + plen); /* Ethernet padding dropped */
	struct sl_ip_pkt pkt = {
	    .ip = p,
	    .src = src,
	    .dst = dst,
	    .v6 = true,
	    .bcast = mcast || l2_mcast,
	    .hlim = sl_ipv6_hlim(p),
	    .iplen = SL_IPV6_HLEN + plen,
	    .frame = f,
	};
	if (tentative) {
		/* RFC 4862 §5.4.3: a tentative address receives nothing but ND. */
		if (sl_ipv6_next(p) != SL_IPPROTO_ICMPV6 || plen < 1 ||
		    (p[SL_IPV6_HLEN] != 135 && p[SL_IPV6_HLEN] != 136)) {
			STAT_INC(st, ipv6_tentative);
			return SL_RX_RELEASE;
		}
	}
	return walk(st, &pkt, sl_ipv6_next(p), SL_IPV6_HLEN, 6, false);
}

enum sl_rx_result sl_ipv6_deliver(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	/* A reassembled datagram: the fragmentable part may still start with destination
	 * options; the walk goes on from there. */
	return walk(st, pkt, pkt->proto, (size_t)(pkt->l4 - pkt->ip), 6, true);
}
