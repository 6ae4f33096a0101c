/*
 * IPv4 (RFC 791) for a host: input validation per RFC 1122 §3.2.1, demultiplexing
 * by protocol, reassembly of fragments (proto/reasm.c), output with source selection,
 * fragmentation (RFC 791 §3.2) and a correct header checksum.
 */
#include "iface/stack.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include <errno.h>
#include <string.h>

enum sl_rx_result sl_ipv4_input(struct sl_stack *st, struct sl_frame *f, bool l2_bcast)
{
	uint8_t *p = f->data + SL_ETH_HLEN;
	int bad = sl_ipv4_check(p, f->len - SL_ETH_HLEN);
	if (bad) {
		st->stats->c[bad]++;
		return SL_RX_RELEASE;
	}
	uint32_t src = sl_ipv4_src(p), dst = sl_ipv4_dst(p);
	/* Both addresses classified in one pass over ours. RFC 1122 §3.2.1.3: a host silently
	 * discards datagrams from a broadcast, multicast or class E source; one from our own
	 * address arriving on the wire is a loop or a spoof. The destination must be ours, the
	 * limited broadcast or the directed broadcast of one of our subnets (not for /31 and /32,
	 * RFC 3021). */
	bool src_bad = sl_ipv4_is_bad_src(src), dst_ours = false, dst_bcast = dst == 0xffffffffu;
	for (unsigned i = 0; i < st->n_v4; i++) {
		const struct sl_addr4 *a = &st->v4[i];
		dst_ours |= dst == a->addr;
		dst_bcast |= dst == a->bcast;
		src_bad |= (src == a->addr && !st->looping) || src == a->bcast;
	}
	if (src_bad) {
		STAT_INC(st, ipv4_bad_src);
		return SL_RX_RELEASE;
	}
	if (!dst_ours && !dst_bcast) {
		STAT_INC(st, ipv4_not_for_us);
		return SL_RX_RELEASE;
	}
	bool bcast = l2_bcast || dst_bcast;
	/* RFC 1122 §3.2.1.7: a host does not discard a datagram for its TTL on receipt. */
	STAT_INC(st, ipv4_rx);
	if (sl_ipv4_is_fragment(p)) {
		sl_reasm_input(st, f, bcast);
		return SL_RX_RELEASE;
	}
	/* Drop Ethernet padding so upper layers see exactly the datagram. */
	f->len = SL_ETH_HLEN + sl_ipv4_tot_len(p);
	unsigned hlen = sl_ipv4_hlen(p);
	/* Every field set here, none left to a zeroing initializer (this runs per packet). */
	struct sl_ip_pkt pkt;
	pkt.ip = p;
	pkt.l4 = p + hlen;
	pkt.l4len = sl_ipv4_tot_len(p) - hlen;
	pkt.src = sl_ip_v4(src);
	pkt.dst = sl_ip_v4(dst);
	pkt.src4 = src;
	pkt.dst4 = dst;
	pkt.proto = sl_ipv4_proto(p);
	pkt.v6 = false;
	pkt.bcast = bcast;
	pkt.hlim = 0;
	pkt.iplen = sl_ipv4_tot_len(p);
	pkt.frame = f;
	return sl_ipv4_deliver(st, &pkt);
}

enum sl_rx_result sl_ipv4_deliver(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	switch (pkt->proto) {
	case SL_IPPROTO_ICMP:
		return sl_icmp_input(st, pkt);
	case SL_IPPROTO_UDP:
		return sl_udp_input(st, pkt);
	case SL_IPPROTO_TCP:
		return sl_tcp_input(st, pkt);
	default:
		STAT_INC(st, ipv4_unknown_proto);
		/* RFC 1122 §3.2.2.1: protocol unreachable (never for broadcasts: §3.2.2). */
		if (!pkt->bcast)
			sl_icmp_send_error(st, pkt, SL_ICMP_DEST_UNREACH, SL_ICMP_PROTO_UNREACH, 0);
		return SL_RX_RELEASE;
	}
}

/* Headers of one outgoing packet; the caller has placed its payload at SL_L4_OFF. */
static void finish(struct sl_stack *st, struct sl_frame *f, const struct sl_ipv4_hdr *h,
		   uint32_t nexthop)
{
	sl_ipv4_emit(f->data + SL_L3_OFF, h);
	sl_eth_emit(f->data, sl_mac_broadcast, st->mac, SL_ETH_P_IPV4);
	f->len = SL_ETH_HLEN + h->tot_len;
	if (sl_iface_is_bcast4(st, h->dst)) {
		sl_iface_tx(st, f);
	} else {
		sl_ip nh = sl_ip_v4(nexthop);
		sl_neigh_output(st, f, &nh);
	}
}

int sl_ipv4_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, uint32_t src,
		   uint32_t dst, uint8_t proto, struct sl_iptx tx)
{
	if (SL_IPV4_HLEN + l4len > st->mtu) {
		/* Too big for one packet: the fragmenting path copies it out of this frame (with
		 * its checksum finished here: no device sees this frame). */
		if (f->csum_off)
			sl_csum_finish(f->data, SL_L4_OFF + l4len, f->csum_start, f->csum_off);
		struct sl_piece piece = {f->data + SL_L4_OFF, l4len};
		int err = sl_ipv4_send(st, src, dst, proto, tx, &piece, 1);
		sl_iface_release(st, f);
		return err;
	}
	int err;
	sl_ip d = sl_ip_v4(dst);
	struct sl_path *p = sl_path_get(st, &d, &err);
	if (!p) {
		STAT_INC(st, ipv4_no_route);
		sl_iface_release(st, f);
		return err;
	}
	sl_ipv4_xmit(st, p, f, l4len, src ? src : p->src4, proto, tx);
	return 0;
}

int sl_ipv4_send(struct sl_stack *st, uint32_t src, uint32_t dst, uint8_t proto,
		 struct sl_iptx tx, const struct sl_piece *pieces, int n)
{
	uint32_t nexthop, rsrc;
	int err = sl_iface_route4(st, dst, &nexthop, &rsrc);
	if (err) {
		STAT_INC(st, ipv4_no_route);
		return err;
	}
	return sl_ipv4_send_via(st, src ? src : rsrc, dst, nexthop, proto, tx, pieces, n);
}

int sl_ipv4_send_via(struct sl_stack *st, uint32_t src, uint32_t dst, uint32_t nexthop,
		     uint8_t proto, struct sl_iptx tx, const struct sl_piece *pieces, int n)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += pieces[i].len;
	if (SL_IPV4_HLEN + total > 65535)
		return -EMSGSIZE;
	if (SL_IPV4_HLEN + total > st->mtu && tx.df) {
		STAT_INC(st, ipv4_too_big);
		return -EMSGSIZE;
	}
	struct sl_ipv4_hdr h = {
	    .tos = tx.tos,
	    .id = st->ip_id++,
	    .ttl = tx.ttl ? tx.ttl : st->cfg.ttl,
	    .proto = proto,
	    .src = src,
	    .dst = dst,
	};
	/* RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes. */
	size_t per = SL_IPV4_HLEN + total <= st->mtu ? total : (st->mtu - SL_IPV4_HLEN) & ~7u;
	size_t off = 0;
	do {
		size_t len = total - off < per ? total - off : per;
		struct sl_frame f;
		if (sl_iface_alloc(st, &f) < 0)
			return -ENOBUFS;
		sl_pieces_gather(pieces, n, off, f.data + SL_L4_OFF, len);
		bool more = off + len < total;
		h.tot_len = (uint16_t)(SL_IPV4_HLEN + len);
		h.frag = (uint16_t)((tx.df ? SL_IPV4_DF : 0) | (more ? SL_IPV4_MF : 0) | (off / 8));
		if (per < total)
			STAT_INC(st, ipv4_frags_sent);
		finish(st, &f, &h, nexthop);
		off += len;
	} while (off < total);
	return 0;
}

/* --- either family --------------------------------------------------------------------- */

int sl_ip_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, const sl_ip *src,
		 const sl_ip *dst, uint8_t proto, struct sl_iptx tx)
{
	if (sl_ip_is_v4(dst))
		return sl_ipv4_output(st, f, l4len, src ? sl_ip_to_v4(src) : 0, sl_ip_to_v4(dst),
				      proto, tx);
	return sl_ipv6_output(st, f, l4len, src, dst, proto, tx);
}

int sl_ip_send_via(struct sl_stack *st, const sl_ip *src, const sl_ip *dst, const sl_ip *nexthop,
		   uint8_t proto, struct sl_iptx tx, const struct sl_piece *pieces, int n)
{
	if (sl_ip_is_v4(dst))
		return sl_ipv4_send_via(st, sl_ip_to_v4(src), sl_ip_to_v4(dst),
					sl_ip_to_v4(nexthop), proto, tx, pieces, n);
	return sl_ipv6_send_via(st, src, dst, nexthop, proto, tx, pieces, n);
}

int sl_ip_send(struct sl_stack *st, const sl_ip *src, const sl_ip *dst, uint8_t proto,
	       struct sl_iptx tx, const struct sl_piece *pieces, int n)
{
	sl_ip nh, rsrc;
	int err = sl_iface_route(st, dst, &nh, &rsrc);
	if (err) {
		if (sl_ip_is_v4(dst))
			STAT_INC(st, ipv4_no_route);
		else
			STAT_INC(st, ipv6_no_route);
		return err;
	}
	return sl_ip_send_via(st, src && !sl_ip_is_zero(src) ? src : &rsrc, dst, &nh, proto, tx,
			      pieces, n);
}

uint64_t sl_ip_pseudo_sum(const sl_ip *src, const sl_ip *dst, uint8_t proto, uint32_t len)
{
	if (sl_ip_is_v4(dst))
		return sl_csum_pseudo4(sl_ip_to_v4(src), sl_ip_to_v4(dst), proto, (uint16_t)len);
	return sl_csum_pseudo6(src->b, dst->b, proto, len);
}

uint32_t sl_ip_path_mtu(struct sl_stack *st, const sl_ip *dst)
{
	if (sl_ip_is_v4(dst))
		return st->mtu - SL_IPV4_HLEN;
	return sl_pmtu_get(st, dst) - 40;
}

/* --- public API (include/sluice/ip.h) -------------------------------------------------- */

int sl_ip_write(struct sl_stack *st, const sl_ip *dst, uint8_t proto, const struct sl_ip_opts *o,
		size_t hdr_size, sl_ip_fill_fn fill, void *arg, const void *payload, size_t len)
{
	const sl_ip *src = NULL;
	if (o && o->src) {
		if (sl_ip_is_v4(o->src) != sl_ip_is_v4(dst) || !sl_iface_owns(st, o->src))
			return -EADDRNOTAVAIL;
		src = o->src;
	}
	uint8_t hdr[128];
	if (hdr_size > sizeof(hdr))
		return -EINVAL;
	int w = 0;
	if (hdr_size) {
		w = fill ? fill(arg, hdr, hdr_size) : -EINVAL;
		if (w < 0 || (size_t)w > hdr_size)
			return w < 0 ? w : -EINVAL;
	}
	struct sl_piece pieces[2] = {{hdr, (size_t)w}, {payload, len}};
	return sl_ip_send(st, src, dst, proto, sl_iptx_of(o), pieces, 2);
}

int sl_ip_src(struct sl_stack *st, const sl_ip *dst, sl_ip *src)
{
	sl_ip nh;
	return sl_iface_route(st, dst, &nh, src);
}

int sl_ip_mtu(struct sl_stack *st, const sl_ip *dst)
{
	return (int)sl_ip_path_mtu(st, dst);
}

uint64_t sl_ip_pseudoheader(const sl_ip *src, const sl_ip *dst, uint8_t proto, uint16_t len)
{
	return sl_ip_pseudo_sum(src, dst, proto, len);
}

int sl_ip_get_ips(struct sl_stack *st, sl_ip *out, int max)
{
	int n = sl_arp_get_ips(st, out, max);
	for (unsigned i = 0; i < st->n_v6 && n < max; i++)
		out[n++] = st->v6[i].addr;
	return n;
}
