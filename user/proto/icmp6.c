/*
 * ICMPv6 (RFC 4443): echo (replies built in place when the request allows it), errors about
 * datagrams we cannot deliver under the rules of §2.4 (never about an error, never to a
 * multicast destination or from a non-unicast source but for the two exceptions), rate-
 * limited by the stack's ICMP token bucket with random costs; errors received passed to the
 * transport they quote; Packet Too Big lowering the path MTU (RFC 8201); Neighbor Discovery
 * handed to proto/nd.c.
 */
#include "iface/stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <string.h>

#define T_DEST_UNREACH 1
#define T_PACKET_TOO_BIG 2
#define T_TIME_EXCEEDED 3
#define T_PARAM_PROBLEM 4
#define T_ECHO_REQUEST 128
#define T_ECHO_REPLY 129
#define ICMP6_HLEN 8
/* §2.4(c): an error message fits in the minimum MTU. */
#define ERR_MAX_QUOTE (SL_IPV6_MIN_MTU - SL_IPV6_HLEN - ICMP6_HLEN)

static uint16_t csum6(const sl_ip *src, const sl_ip *dst, const uint8_t *m, size_t len)
{
	uint64_t acc = sl_csum_pseudo6(src->b, dst->b, SL_IPPROTO_ICMPV6, (uint32_t)len);
	return (uint16_t)~sl_csum_fold(sl_csum_add(acc, m, len));
}

static enum sl_rx_result echo_reply(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	/* The reply carries the request's traffic class, as Linux's icmpv6_echo_reply does. */
	uint8_t tclass = sl_ipv6_tclass(pkt->ip);
	struct sl_frame *f = pkt->frame;
	if (f && !pkt->bcast && pkt->l4 == pkt->ip + SL_IPV6_HLEN &&
	    pkt->iplen <= sl_pmtu_get(st, &pkt->src)) {
		/* In place: swap the addresses (the pseudo-header sum does not change), type
		 * 128 → 129 by RFC 1624. */
		uint8_t *ip = f->data + SL_ETH_HLEN;
		uint8_t *m = ip + SL_IPV6_HLEN;
		uint8_t peer_mac[6];
		memcpy(peer_mac, sl_eth_src(f->data), 6);
		sl_ipv6_emit(ip, sl_ipv6_plen(ip), SL_IPPROTO_ICMPV6, st->cfg.ttl, tclass,
			     &pkt->dst, &pkt->src);
		m[0] = T_ECHO_REPLY;
		sl_put16(m + 2, sl_csum_update16(sl_get16(m + 2), T_ECHO_REQUEST << 8,
						 T_ECHO_REPLY << 8));
		sl_eth_emit(f->data, peer_mac, st->mac, SL_ETH_P_IPV6);
		STAT_INC(st, icmp6_echo_replies);
		STAT_INC(st, ipv6_tx);
		sl_iface_tx(st, f);
		return SL_RX_KEPT;
	}
	/* Reassembled, behind extension headers, larger than the path MTU back (a Packet Too Big
	 * lowered it: RFC 8201), or to a group (§4.2: answered from a unicast address of ours):
	 * built anew, fragmented as needed. */
	uint8_t h[ICMP6_HLEN];
	memcpy(h, pkt->l4, ICMP6_HLEN);
	h[0] = T_ECHO_REPLY;
	sl_put16(h + 2, 0);
	sl_ip src, nh;
	if (sl_iface_route6(st, &pkt->src, &nh, &src) < 0) {
		STAT_INC(st, ipv6_no_route); /* the request goes unanswered */
		return SL_RX_RELEASE;
	}
	if (!pkt->bcast)
		src = pkt->dst;
	uint64_t acc = sl_csum_pseudo6(src.b, pkt->src.b, SL_IPPROTO_ICMPV6, (uint32_t)pkt->l4len);
	acc = sl_csum_add(sl_csum_add(acc, h, ICMP6_HLEN), pkt->l4 + ICMP6_HLEN,
			  pkt->l4len - ICMP6_HLEN);
	sl_put16(h + 2, (uint16_t)~sl_csum_fold(acc));
	struct sl_piece pieces[2] = {{h, ICMP6_HLEN},
				     {pkt->l4 + ICMP6_HLEN, pkt->l4len - ICMP6_HLEN}};
	struct sl_iptx tx = {.tos = tclass};
	if (sl_ipv6_send_via(st, &src, &pkt->src, &nh, SL_IPPROTO_ICMPV6, tx, pieces, 2) == 0)
		STAT_INC(st, icmp6_echo_replies);
	return SL_RX_RELEASE;
}

static int icmp6_errno(uint8_t type, uint8_t code)
{
	switch (type) {
	case T_DEST_UNREACH:
		switch (code) {
		case 0:
			return -ENETUNREACH; /* no route */
		case 1:
			return -EACCES; /* administratively prohibited */
		case 4:
			return -ECONNREFUSED; /* port unreachable */
		default:
			return -EHOSTUNREACH;
		}
	case T_PACKET_TOO_BIG:
		return -EMSGSIZE;
	case T_PARAM_PROBLEM:
		return -EPROTO;
	default:
		return -EHOSTUNREACH; /* time exceeded */
	}
}

/* Step over the extension headers from the one named *nh at *off (at most 15 of them): on
 * true, *nh is the upper-layer protocol and *off where its header starts. false: a header
 * runs past end, the chain is longer, or a non-first fragment (it holds no upper-layer
 * header). */
static bool skip_ext(const uint8_t *ip, size_t end, uint8_t *nh, size_t *off)
{
	for (int n = 0; n < 15; n++) {
		if (*nh == SL_IPPROTO_HOPOPTS || *nh == SL_IPPROTO_DSTOPTS ||
		    *nh == SL_IPPROTO_ROUTING) {
			if (*off + 8 > end)
				return false;
			*nh = ip[*off];
			*off += 8u * (ip[*off + 1] + 1u);
		} else if (*nh == SL_IPPROTO_FRAGMENT) {
			if (*off + 8 > end || (sl_get16(ip + *off + 2) & 0xfff8))
				return false;
			*nh = ip[*off];
			*off += 8;
		} else {
			return true;
		}
	}
	return false;
}

/* The datagram an error quotes: its IPv6 header and, past its extension headers, the
 * transport bytes. false when the quote cannot be one of ours. */
static bool parse_quote(const uint8_t *q, size_t qlen, struct sl_ip_quote *out)
{
	if (qlen < SL_IPV6_HLEN || sl_ipv6_version(q) != 6)
		return false;
	out->src = sl_ipv6_src(q);
	out->dst = sl_ipv6_dst(q);
	uint8_t nh = sl_ipv6_next(q);
	size_t off = SL_IPV6_HLEN;
	if (!skip_ext(q, qlen, &nh, &off) || off + 8 > qlen)
		return false;
	out->proto = nh;
	out->l4 = q + off;
	out->l4len = qlen - off;
	return true;
}

enum sl_rx_result sl_icmp6_input(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	const uint8_t *m = pkt->l4;
	size_t len = pkt->l4len;
	if (len < 4) {
		STAT_INC(st, icmp6_short);
		return SL_RX_RELEASE;
	}
	/* RFC 4443 §2.3: the checksum covers the pseudo-header and is always present. */
	uint64_t acc = sl_csum_pseudo6(pkt->src.b, pkt->dst.b, SL_IPPROTO_ICMPV6, (uint32_t)len);
	if (sl_csum_fold(sl_csum_add(acc, m, len)) != 0xffff) {
		STAT_INC(st, icmp6_bad_csum);
		return SL_RX_RELEASE;
	}
	STAT_INC(st, icmp6_rx);
	uint8_t type = m[0];
	if (type >= 133 && type <= 137) {
		sl_nd_input(st, pkt, type);
		return SL_RX_RELEASE;
	}
	/* Only ND may come from the unspecified address (DAD). */
	if (sl_ip_is_zero(&pkt->src)) {
		STAT_INC(st, ipv6_bad_src);
		return SL_RX_RELEASE;
	}
	if (type == T_ECHO_REQUEST) {
		if (len < ICMP6_HLEN) {
			STAT_INC(st, icmp6_short);
			return SL_RX_RELEASE;
		}
		if (pkt->bcast) {
			/* §4.2: a reply SHOULD be sent to a multicast echo; it goes through the
			 * error rate limit, so the stack is no amplifier. */
			STAT_INC(st, icmp6_mcast_request);
			if (!sl_icmp_rate_ok(st)) {
				STAT_INC(st, icmp6_rate_limited);
				return SL_RX_RELEASE;
			}
		}
		return echo_reply(st, pkt);
	}
	if (type == T_ECHO_REPLY) {
		/* RFC 4443 §4.2: an echo reply (8 bytes at least) goes to the process that sent
		 * the request; without one, dropped. */
		if (len < ICMP6_HLEN)
			STAT_INC(st, icmp6_short);
		else if (st->echo_cb)
			st->echo_cb(st->echo_arg, &pkt->src, sl_get16(m + 4), sl_get16(m + 6),
				    m + ICMP6_HLEN, len - ICMP6_HLEN);
		else
			STAT_INC(st, icmp6_echo_reply_unclaimed);
		return SL_RX_RELEASE;
	}
	if (type < 128) {
		STAT_INC(st, icmp6_errors_rx);
		struct sl_ip_quote q = {0};
		if (len < ICMP6_HLEN || !parse_quote(m + ICMP6_HLEN, len - ICMP6_HLEN, &q) ||
		    !sl_iface_find6(st, &q.src)) {
			STAT_INC(st, icmp6_errors_unclaimed);
			return SL_RX_RELEASE;
		}
		if (type == T_PACKET_TOO_BIG) {
			uint32_t mtu = sl_get32(m + 4);
			/* RFC 8201 §4: below the IPv6 minimum is ignored (RFC 8021 withdrew the
			 * atomic-fragment answer). */
			if (mtu < SL_IPV6_MIN_MTU) {
				STAT_INC(st, icmp6_ptb_ignored);
				return SL_RX_RELEASE;
			}
			STAT_INC(st, icmp6_ptb_rx);
			sl_pmtu_update(st, &q.dst, mtu);
			q.mtu = mtu;
		}
		int err = icmp6_errno(type, m[1]);
		q.type = type;
		q.code = m[1];
		q.from = pkt->src;
		if (sl_udp_icmp_error(st, err, &q) || sl_tcp_icmp_error(st, err, &q))
			STAT_INC(st, icmp6_errors_delivered);
		else if (type != T_PACKET_TOO_BIG)
			STAT_INC(st, icmp6_errors_unclaimed);
		return SL_RX_RELEASE;
	}
	STAT_INC(st, icmp6_unhandled_type); /* MLD, node information, ... */
	return SL_RX_RELEASE;
}

/* Whether the datagram carries an ICMPv6 error or a redirect, behind whatever extension
 * headers (an error may be generated while the chain is being walked, before the transport is
 * known). */
static bool carries_icmp6_error(const struct sl_ip_pkt *pkt)
{
	const uint8_t *ip = pkt->ip;
	size_t end = pkt->iplen, off = SL_IPV6_HLEN;
	uint8_t nh = sl_ipv6_next(ip);
	if (pkt->l4) {
		nh = pkt->proto;
		off = (size_t)(pkt->l4 - ip);
	}
	return skip_ext(ip, end, &nh, &off) && off < end && nh == SL_IPPROTO_ICMPV6 &&
	       (ip[off] < 128 || ip[off] == 137);
}

void sl_icmp6_send_error(struct sl_stack *st, const struct sl_ip_pkt *pkt, uint8_t type,
			 uint8_t code, uint32_t param)
{
	/* §2.4(e): never about an ICMPv6 error or a redirect … */
	if (carries_icmp6_error(pkt))
		return;
	/* … never to a group or a link-layer multicast, but for Packet Too Big and an unknown
	 * option whose type asks for it (code 2) … */
	bool excepted = type == T_PACKET_TOO_BIG || (type == T_PARAM_PROBLEM && code == 2);
	if (pkt->bcast && !excepted)
		return;
	/* … and never to a source that is not a unicast address. */
	if (sl_ip_is_zero(&pkt->src) || sl_ip6_is_multicast(&pkt->src))
		return;
	if (!sl_icmp_rate_ok(st)) {
		STAT_INC(st, icmp6_rate_limited);
		return;
	}
	sl_ip src, nh;
	if (sl_iface_route6(st, &pkt->src, &nh, &src) < 0) {
		STAT_INC(st, ipv6_no_route); /* as sl_ipv6_output counts it */
		return;
	}
	/* From the address the datagram was sent to when it is ours (§2.2). */
	struct sl_addr6 *mine = sl_iface_find6(st, &pkt->dst);
	if (mine && !mine->tentative)
		src = pkt->dst;
	struct sl_frame out;
	if (sl_iface_alloc(st, &out) < 0)
		return;
	size_t quote = pkt->iplen < ERR_MAX_QUOTE ? pkt->iplen : ERR_MAX_QUOTE;
	uint8_t *m = out.data + SL_L4_OFF6;
	m[0] = type;
	m[1] = code;
	sl_put16(m + 2, 0);
	sl_put32(m + 4, param);
	memcpy(m + ICMP6_HLEN, pkt->ip, quote);
	sl_put16(m + 2, csum6(&src, &pkt->src, m, ICMP6_HLEN + quote));
	STAT_INC(st, icmp6_errors_sent);
	sl_ipv6_output(st, &out, ICMP6_HLEN + quote, &src, &pkt->src, SL_IPPROTO_ICMPV6,
		       (struct sl_iptx){0});
}

int sl_icmp6_write(struct sl_stack *st, const sl_ip *dst, const struct sl_ip_opts *o,
		   const uint8_t *msg, size_t len)
{
	if (len < 4)
		return -EINVAL;
	sl_ip src, nh;
	if (sl_iface_route6(st, dst, &nh, &src) < 0)
		return -ENETUNREACH;
	if (o && o->src) {
		if (sl_ip_is_v4(o->src) || !sl_iface_owns(st, o->src))
			return -EADDRNOTAVAIL;
		src = *o->src;
	}
	uint8_t h[4];
	memcpy(h, msg, 4);
	sl_put16(h + 2, 0);
	uint64_t acc = sl_csum_pseudo6(src.b, dst->b, SL_IPPROTO_ICMPV6, (uint32_t)len);
	acc = sl_csum_add(sl_csum_add(acc, h, 4), msg + 4, len - 4);
	sl_put16(h + 2, (uint16_t)~sl_csum_fold(acc));
	struct sl_piece pieces[2] = {{h, 4}, {msg + 4, len - 4}};
	return sl_ipv6_send_via(st, &src, dst, &nh, SL_IPPROTO_ICMPV6, sl_iptx_of(o), pieces, 2);
}
