/*
 * ICMPv4 (RFC 792) with the host requirements of RFC 1122 §3.2.2: echo replies
 * built in place in the request's frame, error messages about datagrams we
 * cannot deliver (never about ICMP errors, broadcasts, multicasts or non-first
 * fragments, §3.2.2), rate-limited by a token bucket (RFC 1812 §4.3.2.8).
 */
#include "iface/stack.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include <errno.h>
#include <string.h>

#define ICMP_ERR_MAX_IP 576 /* RFC 1812 §4.3.2.3: the error datagram stays within 576 bytes */

static enum sl_rx_result echo_reply(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	/* The reply carries the request's TOS byte, as Linux's icmp_reply does. */
	uint8_t tos = sl_ipv4_tos(pkt->ip);
	if (!pkt->frame) {
		/* A reassembled request: the reply is built anew (and fragmented) from it. */
		uint8_t h[SL_ICMP_HLEN];
		memcpy(h, pkt->l4, SL_ICMP_HLEN);
		h[0] = SL_ICMP_ECHO_REPLY;
		sl_put16(h + 2, sl_csum_update16(sl_get16(h + 2), SL_ICMP_ECHO_REQUEST << 8,
						 SL_ICMP_ECHO_REPLY << 8));
		struct sl_piece pieces[2] = {{h, SL_ICMP_HLEN},
					     {pkt->l4 + SL_ICMP_HLEN, pkt->l4len - SL_ICMP_HLEN}};
		struct sl_iptx tx = {.tos = tos};
		if (sl_ipv4_send(st, pkt->dst4, pkt->src4, SL_IPPROTO_ICMP, tx, pieces, 2) == 0)
			STAT_INC(st, icmp_echo_replies);
		return SL_RX_RELEASE;
	}
	struct sl_frame *f = pkt->frame;
	const unsigned ip_off = SL_ETH_HLEN;
	uint8_t *ip = f->data + ip_off;
	unsigned hlen = sl_ipv4_hlen(ip);
	uint32_t src = pkt->src4, dst = pkt->dst4;
	uint16_t tot = sl_ipv4_tot_len(ip);
	uint8_t peer_mac[6];
	memcpy(peer_mac, sl_eth_src(f->data), 6);

	/* Options are not echoed: the reply's header is 20 bytes, moved up against the ICMP
	 * message so nothing is copied but the headers (RFC 1122 §3.2.2.6 allows this for
	 * options we do not implement). */
	unsigned shift = hlen - SL_IPV4_HLEN;
	uint8_t *icmp = ip + hlen;
	f->data += shift;
	f->addr += shift;
	f->len -= shift;
	f->cap -= shift;
	ip = f->data + ip_off;
	struct sl_ipv4_hdr h = {
	    .tos = tos,
	    .tot_len = (uint16_t)(tot - shift),
	    .id = st->ip_id++,
	    .frag = 0,
	    .ttl = st->cfg.ttl,
	    .proto = SL_IPPROTO_ICMP,
	    .src = dst,
	    .dst = src,
	};
	sl_ipv4_emit(ip, &h);
	sl_eth_emit(f->data, peer_mac, st->mac, SL_ETH_P_IPV4);
	/* Type 8 → 0: RFC 1624 incremental update of the ICMP checksum. */
	icmp[0] = SL_ICMP_ECHO_REPLY;
	sl_put16(icmp + 2, sl_csum_update16(sl_get16(icmp + 2), SL_ICMP_ECHO_REQUEST << 8,
					    SL_ICMP_ECHO_REPLY << 8));
	STAT_INC(st, icmp_echo_replies);
	sl_iface_tx(st, f);
	return SL_RX_KEPT;
}

/* The errno an ICMP error means to the transport (RFC 1122 §4.1.3.3, §4.2.3.9). */
static int icmp_errno(uint8_t type, uint8_t code)
{
	if (type == SL_ICMP_DEST_UNREACH) {
		switch (code) {
		case 0: /* net unreachable */
		case 6: /* destination network unknown */
			return -ENETUNREACH;
		case SL_ICMP_PROTO_UNREACH:
		case SL_ICMP_PORT_UNREACH:
			return -ECONNREFUSED;
		case SL_ICMP_FRAG_NEEDED:
			return -EMSGSIZE;
		default:
			return -EHOSTUNREACH;
		}
	}
	if (type == SL_ICMP_PARAM_PROBLEM)
		return -EPROTO;
	return -EHOSTUNREACH; /* time exceeded */
}

enum sl_rx_result sl_icmp_input(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	const uint8_t *m = pkt->l4;
	size_t len = pkt->l4len;
	int bad = sl_icmp_check(m, len);
	if (bad) {
		st->stats->c[bad]++;
		return SL_RX_RELEASE;
	}
	STAT_INC(st, icmp_rx);
	uint8_t type = sl_icmp_type(m);
	if (type == SL_ICMP_ECHO_REQUEST) {
		/* RFC 1122 §3.2.2.6 lets a host ignore echo to broadcast/multicast; we do
		 * (smurf amplification). */
		if (pkt->bcast) {
			STAT_INC(st, icmp_bcast_request);
			return SL_RX_RELEASE;
		}
		return echo_reply(st, pkt);
	}
	if (type == SL_ICMP_ECHO_REPLY) {
		/* RFC 1122 §3.2.2.6: echo replies go to the ICMP user; without one, dropped. */
		if (st->echo_cb)
			st->echo_cb(st->echo_arg, &pkt->src, sl_icmp_echo_id(m), sl_icmp_echo_seq(m),
				    m + SL_ICMP_HLEN, len - SL_ICMP_HLEN);
		else
			STAT_INC(st, icmp_echo_reply_unclaimed);
		return SL_RX_RELEASE;
	}
	/* Source quench is deprecated (RFC 6633) and a host ignores redirects it cannot act
	 * on; the other errors go to the transport named in the quoted header (§3.2.2). */
	if (sl_icmp_is_error(type) && type != SL_ICMP_SOURCE_QUENCH && type != SL_ICMP_REDIRECT) {
		STAT_INC(st, icmp_errors_rx);
		int err = icmp_errno(type, sl_icmp_code(m));
		/* The quote holds the IPv4 header we sent and at least 8 bytes after it. */
		const uint8_t *q = m + SL_ICMP_HLEN;
		size_t qlen = len - SL_ICMP_HLEN;
		unsigned qh = qlen >= SL_IPV4_HLEN ? sl_ipv4_hlen(q) : 0;
		struct sl_ip_quote quote = {0};
		bool ok = qlen >= SL_IPV4_HLEN && (q[0] >> 4) == 4 && qh >= SL_IPV4_HLEN &&
			  qlen >= qh + 8;
		if (ok) {
			quote.src = sl_ip_v4(sl_ipv4_src(q));
			quote.dst = sl_ip_v4(sl_ipv4_dst(q));
			quote.proto = sl_ipv4_proto(q);
			quote.l4 = q + qh;
			quote.l4len = qlen - qh;
			quote.type = type;
			quote.code = sl_icmp_code(m);
			quote.from = pkt->src;
		}
		if (ok && (sl_udp_icmp_error(st, err, &quote) || sl_tcp_icmp_error(st, err, &quote)))
			STAT_INC(st, icmp_errors_delivered);
		else
			STAT_INC(st, icmp_errors_unclaimed);
		return SL_RX_RELEASE;
	}
	STAT_INC(st, icmp_unhandled_type);
	return SL_RX_RELEASE;
}

/* Token bucket: icmp_rate per second, up to icmp_burst in a row. Credit is kept in ns. An
 * error needs one token and takes 0, 1 or 2 of them at random (one on average): with exact
 * costs, the number of errors a prober draws tells it how many others the stack sent — the
 * side channel of CVE-2020-25705, which Linux closed the same way. */
bool sl_icmp_rate_ok(struct sl_stack *st)
{
	if (!st->cfg.icmp_rate)
		return false;
	uint64_t cost = 1000000000ULL / st->cfg.icmp_rate;
	uint64_t cap = cost * st->cfg.icmp_burst;
	st->icmp_tokens_ns += st->now - st->icmp_last;
	st->icmp_last = st->now;
	if (st->icmp_tokens_ns > cap)
		st->icmp_tokens_ns = cap;
	if (st->icmp_tokens_ns < cost)
		return false;
	uint64_t take = cost * sl_rng_below(&st->rng, 3);
	st->icmp_tokens_ns = take < st->icmp_tokens_ns ? st->icmp_tokens_ns - take : 0;
	return true;
}

void sl_icmp_send_error(struct sl_stack *st, const struct sl_ip_pkt *pkt, uint8_t type,
			uint8_t code, uint32_t rest)
{
	const uint8_t *ip = pkt->ip;
	/* RFC 1122 §3.2.2: no error about an ICMP error, a non-first fragment, or a datagram
	 * sent to or from a broadcast/multicast address or the link-layer broadcast. */
	if (pkt->proto == SL_IPPROTO_ICMP && pkt->l4len > 0 && sl_icmp_is_error(pkt->l4[0]))
		return;
	if (sl_ipv4_frag_off(ip) != 0 || pkt->bcast || sl_ipv4_is_bad_src(pkt->src4) ||
	    sl_iface_is_bcast4(st, pkt->src4))
		return;
	if (!sl_icmp_rate_ok(st)) {
		STAT_INC(st, icmp_rate_limited);
		return;
	}
	struct sl_frame out;
	if (sl_iface_alloc(st, &out) < 0)
		return;
	size_t quote = (size_t)(pkt->l4 - ip) + pkt->l4len;
	if (quote > ICMP_ERR_MAX_IP - SL_IPV4_HLEN - SL_ICMP_HLEN)
		quote = ICMP_ERR_MAX_IP - SL_IPV4_HLEN - SL_ICMP_HLEN;
	uint8_t *m = out.data + SL_L4_OFF;
	memcpy(m + SL_ICMP_HLEN, ip, quote);
	sl_icmp_emit(m, type, code, rest, quote);
	STAT_INC(st, icmp_errors_sent);
	/* Reply from the address the offending datagram was sent to (RFC 1122 §3.2.2), with its
	 * TOS bits under precedence 6, internetwork control (RFC 1812 §4.3.2.5, as Linux's
	 * icmp_send does). */
	struct sl_iptx tx = {.tos = (uint8_t)((sl_ipv4_tos(ip) & 0x1e) | 0xc0)};
	sl_ipv4_output(st, &out, SL_ICMP_HLEN + quote, sl_iface_owns4(st, pkt->dst4) ? pkt->dst4 : 0,
		       pkt->src4, SL_IPPROTO_ICMP, tx);
}

int sl_icmp_write(struct sl_stack *st, const sl_ip *dst, const struct sl_ip_opts *o,
		  const uint8_t *msg, size_t len)
{
	if (len < SL_ICMP_HLEN)
		return -EINVAL;
	if (!sl_ip_is_v4(dst))
		return sl_icmp6_write(st, dst, o, msg, len);
	uint32_t src = 0, nh, rsrc;
	if (o && o->src) {
		if (!sl_ip_is_v4(o->src) || !sl_iface_owns4(st, sl_ip_to_v4(o->src)))
			return -EADDRNOTAVAIL;
		src = sl_ip_to_v4(o->src);
	}
	if (sl_iface_route4(st, sl_ip_to_v4(dst), &nh, &rsrc) < 0)
		return -ENETUNREACH;
	uint8_t h[SL_ICMP_HLEN];
	memcpy(h, msg, SL_ICMP_HLEN);
	sl_put16(h + 2, 0);
	uint64_t acc =
	    sl_csum_add(sl_csum_add(0, h, SL_ICMP_HLEN), msg + SL_ICMP_HLEN, len - SL_ICMP_HLEN);
	sl_put16(h + 2, (uint16_t)~sl_csum_fold(acc));
	struct sl_piece pieces[2] = {{h, SL_ICMP_HLEN}, {msg + SL_ICMP_HLEN, len - SL_ICMP_HLEN}};
	return sl_ipv4_send(st, src, sl_ip_to_v4(dst), SL_IPPROTO_ICMP, sl_iptx_of(o), pieces,
			    2);
}

void sl_icmp_on_echo_reply(struct sl_stack *st, sl_icmp_echo_cb cb, void *arg)
{
	st->echo_cb = cb;
	st->echo_arg = arg;
}
