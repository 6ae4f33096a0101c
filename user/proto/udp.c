/*
 * UDP (RFC 768) with the host rules of RFC 1122 §4.1.3: checksum verified when present
 * and always sent, port unreachable for ports nobody listens on (§4.1.3.1, through
 * ICMP's rate limit), ICMP errors passed to the socket they concern (§4.1.3.3).
 */
#include "iface/stack.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define UDP_HLEN 8

struct sl_udp_dgram {
	struct sl_udp_dgram *next;
	struct sl_udp_meta m;
	size_t len;
	uint8_t data[];
};

int sl_udp_init(struct sl_stack *st)
{
	struct sl_udp *u = &st->udp;
	u->cap = st->cfg.udp_max_sockets;
	u->by_port = calloc(65536, sizeof(*u->by_port));
	u->socks = calloc(u->cap, sizeof(*u->socks));
	if (!u->by_port || !u->socks)
		return -ENOMEM;
	/* RFC 6056 §3.3: an unpredictable starting point (a secret, like TCP's port keys). */
	uint16_t r;
	int err = sl_iface_secret(st, &r, sizeof(r));
	if (err)
		return err;
	u->next_ephemeral = (uint16_t)(49152 + r % 16384);
	return 0;
}

static void flush_queue(struct sl_udp_sock *s)
{
	while (s->head) {
		struct sl_udp_dgram *d = s->head;
		s->head = d->next;
		free(d);
	}
	s->tail = NULL;
	s->queued = 0;
}

void sl_udp_fini(struct sl_stack *st)
{
	struct sl_udp *u = &st->udp;
	for (uint32_t i = 0; u->socks && i < u->nsocks; i++)
		flush_queue(&u->socks[i]);
	free(u->by_port);
	free(u->socks);
	u->by_port = NULL;
	u->socks = NULL;
}

static struct sl_udp_sock *find(struct sl_stack *st, int port)
{
	if (port < 1 || port > 65535)
		return NULL;
	uint16_t i = st->udp.by_port[port];
	return i ? &st->udp.socks[i - 1] : NULL;
}

int sl_udp_listen(struct sl_stack *st, int port, sl_udp_recv_cb cb, void *arg)
{
	struct sl_udp *u = &st->udp;
	if (port < 1 || port > 65535)
		return -EINVAL;
	if (u->by_port[port])
		return -EADDRINUSE;
	if (u->nsocks == u->cap)
		return -ENOSPC;
	struct sl_udp_sock *s = &u->socks[u->nsocks++];
	memset(s, 0, sizeof(*s));
	s->port = (uint16_t)port;
	s->cb = cb;
	s->arg = arg;
	u->by_port[port] = (uint16_t)u->nsocks;
	return 0;
}

int sl_udp_unlisten(struct sl_stack *st, int port)
{
	struct sl_udp *u = &st->udp;
	struct sl_udp_sock *s = find(st, port);
	if (!s)
		return port < 1 || port > 65535 ? -EINVAL : -ENOENT;
	flush_queue(s);
	/* Keep the table dense: move the last socket into the hole. */
	uint32_t idx = (uint32_t)(s - u->socks);
	u->by_port[port] = 0;
	if (idx != u->nsocks - 1) {
		*s = u->socks[u->nsocks - 1];
		u->by_port[s->port] = (uint16_t)(idx + 1);
	}
	u->nsocks--;
	return 0;
}

int sl_udp_on_error(struct sl_stack *st, int port, sl_udp_err_cb cb, void *arg)
{
	struct sl_udp_sock *s = find(st, port);
	if (!s)
		return port < 1 || port > 65535 ? -EINVAL : -ENOENT;
	s->err_cb = cb;
	s->err_arg = arg;
	return 0;
}

int sl_udp_recv(struct sl_stack *st, int port, void *buf, size_t cap, struct sl_udp_meta *m)
{
	struct sl_udp_sock *s = find(st, port);
	if (!s)
		return port < 1 || port > 65535 ? -EINVAL : -ENOENT;
	struct sl_udp_dgram *d = s->head;
	if (!d)
		return -EAGAIN;
	s->head = d->next;
	if (!s->head)
		s->tail = NULL;
	s->queued -= sizeof(*d) + d->len;
	size_t n = d->len < cap ? d->len : cap;
	memcpy(buf, d->data, n);
	if (m)
		*m = d->m;
	free(d);
	return (int)n;
}

/* A datagram for nobody: ICMP port unreachable (RFC 1122 §4.1.3.1, RFC 4443 §3.1), never for
 * an IPv4 broadcast (the ICMP senders apply the other rules and the rate limit). */
static void port_unreachable(struct sl_stack *st, const struct sl_ip_pkt *pkt)
{
	if (pkt->v6)
		sl_icmp6_send_error(st, pkt, 1, 4, 0);
	else if (!pkt->bcast)
		sl_icmp_send_error(st, pkt, SL_ICMP_DEST_UNREACH, SL_ICMP_PORT_UNREACH, 0);
}

enum sl_rx_result sl_udp_input(struct sl_stack *st, struct sl_ip_pkt *pkt)
{
	const uint8_t *h = pkt->l4;
	if (pkt->l4len < UDP_HLEN) {
		STAT_INC(st, udp_short);
		return SL_RX_RELEASE;
	}
	uint16_t ulen = sl_get16(h + 4);
	/* RFC 768: the length covers header and data; it may not exceed what IP carried. */
	if (ulen < UDP_HLEN || ulen > pkt->l4len) {
		STAT_INC(st, udp_bad_len);
		return SL_RX_RELEASE;
	}
	/* RFC 1122 §4.1.3.4: verify the checksum when the sender computed one (non-zero). Over
	 * IPv6 the checksum is mandatory: a zero one is discarded (RFC 8200 §8.1). */
	if (sl_get16(h + 6) == 0 && pkt->v6) {
		STAT_INC(st, udp_bad_csum);
		return SL_RX_RELEASE;
	}
	/* The payload is summed apart from the header, so a reply of the same bytes reuses
	 * its sum (the one's-complement sum is associative: RFC 1071 §2(A)). */
	uint64_t dsum = 0;
	bool dsum_ok = sl_get16(h + 6) != 0;
	if (dsum_ok) {
		uint64_t acc = pkt->v6 ? sl_ip_pseudo_sum(&pkt->src, &pkt->dst, SL_IPPROTO_UDP, ulen)
				       : sl_csum_pseudo4(pkt->src4, pkt->dst4, SL_IPPROTO_UDP, ulen);
		dsum = sl_csum_add(0, h + UDP_HLEN, ulen - UDP_HLEN);
		acc += dsum + sl_get16(h) + sl_get16(h + 2) + ulen + sl_get16(h + 6);
		if (sl_csum_fold(acc) != 0xffff) {
			STAT_INC(st, udp_bad_csum);
			return SL_RX_RELEASE;
		}
	}
	uint16_t dport = sl_get16(h + 2);
	struct sl_udp_sock *s = find(st, dport);
	if (!s) {
		STAT_INC(st, udp_no_port);
		port_unreachable(st, pkt);
		return SL_RX_RELEASE;
	}
	struct sl_udp_meta m = {
	    .src = pkt->src,
	    .dst = pkt->dst,
	    .src_port = sl_get16(h),
	    .dst_port = dport,
	};
	const uint8_t *data = h + UDP_HLEN;
	size_t len = ulen - UDP_HLEN;
	if (s->cb) {
		STAT_INC(st, udp_rx);
		/* Deliveries never nest: input runs from the poll loop only (what a callback
		 * sends, even to an address of ours, leaves through the device). */
		struct sl_udp *u = &st->udp;
		u->cur_meta = &m;
		u->cur_pkt = pkt;
		u->cur_taken = false;
		u->cur_data = dsum_ok ? data : NULL;
		u->cur_dlen = len;
		u->cur_dsum = dsum;
		s->cb(s->arg, st, &m, data, len);
		u->cur_meta = NULL;
		u->cur_data = NULL;
		return u->cur_taken ? SL_RX_KEPT : SL_RX_RELEASE;
	}
	/* Each queued datagram is charged its bookkeeping too, so empty ones are bounded. */
	if (s->queued + sizeof(struct sl_udp_dgram) + len > st->cfg.udp_rcvbuf) {
		STAT_INC(st, udp_rcvbuf_full);
		return SL_RX_RELEASE;
	}
	struct sl_udp_dgram *d = malloc(sizeof(*d) + len);
	if (!d) {
		STAT_INC(st, udp_rcvbuf_full);
		return SL_RX_RELEASE;
	}
	d->next = NULL;
	d->m = m;
	d->len = len;
	memcpy(d->data, data, len);
	if (s->tail)
		s->tail->next = d;
	else
		s->head = d;
	s->tail = d;
	s->queued += sizeof(*d) + len;
	STAT_INC(st, udp_rx);
	return SL_RX_RELEASE;
}

bool sl_udp_icmp_error(struct sl_stack *st, int err, const struct sl_ip_quote *q)
{
	/* The quote holds at least the 8-byte header of the datagram we sent (RFC 792, 4443). */
	if (q->proto != SL_IPPROTO_UDP || q->l4len < UDP_HLEN || !sl_iface_owns(st, &q->src))
		return false;
	const uint8_t *u = q->l4;
	struct sl_udp_sock *s = find(st, sl_get16(u));
	if (!s || !s->err_cb)
		return false;
	struct sl_udp_meta m = {
	    .src = q->src,
	    .dst = q->dst,
	    .src_port = sl_get16(u),
	    .dst_port = sl_get16(u + 2),
	};
	struct sl_udp_icmp d = {
	    .type = q->type,
	    .code = q->code,
	    .from = q->from,
	    .info = q->mtu,
	    .payload = u + UDP_HLEN,
	    .payload_len = q->l4len - UDP_HLEN,
	};
	st->udp.cur_icmp = &d;
	s->err_cb(s->err_arg, st, err, &m);
	st->udp.cur_icmp = NULL;
	return true;
}

const struct sl_udp_icmp *sl_udp_icmp_detail(struct sl_stack *st)
{
	return st->udp.cur_icmp;
}

/* The header, its checksum from acc (pseudo-header, header fields and payload summed). */
static inline void put_header(uint8_t *h, uint16_t sport, uint16_t dport, uint16_t ulen,
			      uint64_t acc)
{
	uint16_t c = (uint16_t)~sl_csum_fold(acc);
	sl_put16(h, sport);
	sl_put16(h + 2, dport);
	sl_put16(h + 4, ulen);
	sl_put16(h + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
}

/* The header and payload of one packet written at h with their checksum computed here. */
static inline void send_sum(struct sl_stack *st, uint8_t *h, uint64_t acc, uint16_t sport,
			    uint16_t dport, uint16_t ulen, const void *data, size_t len)
{
	/* The length counts twice: in the pseudo-header and in the header (RFC 768). */
	acc += SL_IPPROTO_UDP + 2u * ulen + sport + dport;
	if (data == st->udp.cur_data && len == st->udp.cur_dlen) {
		memcpy(h + UDP_HLEN, data, len); /* the datagram being delivered: summed already */
		acc += st->udp.cur_dsum;
	} else {
		acc = sl_csum_copy(acc, h + UDP_HLEN, data, len);
	}
	put_header(h, sport, dport, ulen, acc);
}

/* One packet over path p from src (acc: the pseudo-header sum of the two addresses): header
 * and payload written straight into the frame, the payload summed as it is copied. Always
 * inlined: once per family in the short path, so each copy knows its header sizes. */
__attribute__((always_inline)) static inline int
send_one(struct sl_stack *st, struct sl_path *p, bool v6, const sl_ip *src, uint64_t acc,
	 uint16_t sport, uint16_t dport, struct sl_iptx tx, const void *data, size_t len)
{
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return -ENOBUFS;
	uint16_t ulen = (uint16_t)(UDP_HLEN + len);
	uint8_t *h = f.data + sl_l4_off(v6);
	if (st->dev->tx_csum) {
		/* The device sums header and payload; the field holds the pseudo-header's. */
		memcpy(h + UDP_HLEN, data, len);
		sl_put16(h, sport);
		sl_put16(h + 2, dport);
		sl_put16(h + 4, ulen);
		sl_put16(h + 6, sl_csum_fold(acc + SL_IPPROTO_UDP + ulen));
		f.csum_start = (uint16_t)sl_l4_off(v6);
		f.csum_off = 6;
	} else {
		send_sum(st, h, acc, sport, dport, ulen, data, len);
	}
	if (v6)
		sl_ipv6_xmit(st, p, &f, ulen, src, SL_IPPROTO_UDP, tx);
	else
		sl_ipv4_xmit(st, p, &f, ulen, sl_ip_to_v4(src), SL_IPPROTO_UDP, tx);
	STAT_INC(st, udp_tx);
	return 0;
}

/* The IP header choices of a write's options (NULL: the defaults; IPv6 ignores df's bit and
 * refuses to fragment with it). */
static inline struct sl_iptx udp_iptx(const struct sl_udp_write_opts *o)
{
	return o ? (struct sl_iptx){o->ttl, o->tos, o->dont_fragment} : (struct sl_iptx){0};
}

/* Every case: either family, any source, fragmentation, routing on a cache miss. */
static __attribute__((noinline)) int udp_write(struct sl_stack *st,
					       const struct sl_udp_write_opts *o, const sl_ip *dst,
					       int dst_port, const void *data, size_t len)
{
	if (dst_port < 1 || dst_port > 65535 || (o && (o->src_port < 0 || o->src_port > 65535)))
		return -EINVAL;
	bool v6 = !sl_ip_is_v4(dst);
	/* IPv4's total length is 16 bits; IPv6's payload length excludes its own header. */
	if (len > (v6 ? 65535 - UDP_HLEN : 65535 - SL_IPV4_HLEN - UDP_HLEN))
		return -EMSGSIZE;
	int err;
	struct sl_path *p = sl_path_get(st, dst, &err);
	if (!p)
		return err;
	const sl_ip *src = &p->src;
	uint64_t acc = p->psum;
	if (o && o->src && !sl_ip_eq(o->src, &p->src)) {
		if (sl_ip_is_v4(o->src) == v6 || !sl_iface_owns(st, o->src))
			return -EADDRNOTAVAIL;
		src = o->src;
		acc = sl_ip_pseudo_sum(src, dst, 0, 0);
	}
	uint16_t sport;
	if (o && o->src_port) {
		sport = (uint16_t)o->src_port;
	} else {
		sport = st->udp.next_ephemeral;
		st->udp.next_ephemeral = sport == 65535 ? 49152 : sport + 1;
	}
	uint16_t ulen = (uint16_t)(UDP_HLEN + len);
	struct sl_iptx tx = udp_iptx(o);
	size_t mtu = v6 ? sl_pmtu_get(st, dst) : st->mtu;
	if (sl_ip_hlen(v6) + ulen <= mtu)
		return send_one(st, p, v6, src, acc, sport, (uint16_t)dst_port, tx, data, len);
	/* Fragmented (or refused with DF): from pieces. */
	acc += SL_IPPROTO_UDP + 2u * ulen + sport + (uint32_t)dst_port;
	acc = sl_csum_add(acc, data, len);
	uint8_t h[UDP_HLEN];
	put_header(h, sport, (uint16_t)dst_port, ulen, acc);
	struct sl_piece pieces[2] = {{h, UDP_HLEN}, {data, len}};
	sl_ip s = *src, d = *dst, nh = p->nh;
	err = sl_ip_send_via(st, &s, &d, &nh, SL_IPPROTO_UDP, tx, pieces, 2);
	if (err == 0)
		STAT_INC(st, udp_tx);
	return err;
}

static __attribute__((noinline)) int send_one6(struct sl_stack *st,
					       const struct sl_udp_write_opts *o,
					       struct sl_path *p, int dst_port, const void *data,
					       size_t len)
{
	return send_one(st, p, true, &p->src, p->psum, (uint16_t)o->src_port, (uint16_t)dst_port,
			udp_iptx(o), data, len);
}

int sl_udp_write(struct sl_stack *st, const struct sl_udp_write_opts *o, const sl_ip *dst,
		 int dst_port, const void *data, size_t len)
{
	/* The common case in few instructions: a cached path, the path's source (or none asked
	 * for), a source port given, one packet. Anything else is udp_write's. */
	struct sl_path *p = &st->paths[sl_path_slot(dst)];
	if (!o || p->gen != st->path_gen || !sl_ip_eq(&p->dst, dst) ||
	    (o->src && !sl_ip_eq(o->src, &p->src)) || o->src_port <= 0 || o->src_port > 65535 ||
	    dst_port < 1 || dst_port > 65535)
		return udp_write(st, o, dst, dst_port, data, len);
	if (p->v6) {
		if (SL_IPV6_HLEN + UDP_HLEN + len > sl_pmtu_get(st, dst))
			return udp_write(st, o, dst, dst_port, data, len);
		return send_one6(st, o, p, dst_port, data, len);
	}
	if (SL_IPV4_HLEN + UDP_HLEN + len > st->mtu)
		return udp_write(st, o, dst, dst_port, data, len);
	return send_one(st, p, false, &p->src, p->psum, (uint16_t)o->src_port, (uint16_t)dst_port,
			udp_iptx(o), data, len);
}

/* --- the reply in place --------------------------------------------------------------------- */

/* The datagram being delivered, if m is its meta and its frame can carry the reply: a unicast
 * datagram to an address of ours, in one frame, its UDP header right after a fixed IP header
 * (no IPv4 options, no IPv6 extension headers). */
static struct sl_ip_pkt *reply_pkt(struct sl_stack *st, const struct sl_udp_meta *m)
{
	struct sl_udp *u = &st->udp;
	struct sl_ip_pkt *pkt = u->cur_pkt;
	/* Source port 0: the sender expects no reply (RFC 768). */
	if (!m || m != u->cur_meta || u->cur_taken || !pkt->frame || pkt->bcast || !m->src_port)
		return NULL;
	if (pkt->l4 != pkt->frame->data + sl_l4_off(pkt->v6))
		return NULL;
	return pkt;
}

/* Payload bytes a reply in pkt's frame may carry: the frame's room, within the path MTU. */
static size_t reply_cap(struct sl_stack *st, const struct sl_ip_pkt *pkt)
{
	size_t off = sl_l4_off(pkt->v6) + UDP_HLEN;
	size_t room = pkt->frame->cap - off;
	size_t mtu = (pkt->v6 ? sl_pmtu_get(st, &pkt->src) - SL_IPV6_HLEN : st->mtu - SL_IPV4_HLEN) -
		     UDP_HLEN;
	return room < mtu ? room : mtu;
}

uint8_t *sl_udp_reply_buf(struct sl_stack *st, const struct sl_udp_meta *m, size_t *cap)
{
	struct sl_ip_pkt *pkt = reply_pkt(st, m);
	if (!pkt)
		return NULL;
	if (cap)
		*cap = reply_cap(st, pkt);
	return pkt->frame->data + sl_l4_off(pkt->v6) + UDP_HLEN;
}

int sl_udp_reply(struct sl_stack *st, const struct sl_udp_meta *m, size_t len, bool unchanged)
{
	struct sl_ip_pkt *pkt = reply_pkt(st, m);
	if (!pkt)
		return -EINVAL;
	if (len > reply_cap(st, pkt))
		return -EMSGSIZE;
	int err;
	struct sl_path *p = sl_path_get(st, &m->src, &err);
	if (!p)
		return err;
	struct sl_frame *f = pkt->frame;
	uint8_t *h = f->data + sl_l4_off(pkt->v6);
	uint16_t ulen = (uint16_t)(UDP_HLEN + len);
	/* Sender and receiver swap: the pseudo-header's sum, the ports' and the length's stay
	 * what they were, so an unchanged payload keeps its checksum (RFC 1071's sum commutes;
	 * RFC 1624 has nothing to update). A zero checksum (IPv4: none sent) gets one. */
	bool keep = unchanged && ulen == sl_get16(h + 4) && sl_get16(h + 6) != 0;
	uint16_t sport = m->dst_port, dport = m->src_port;
	if (!keep) {
		uint64_t acc = sl_ip_pseudo_sum(&m->dst, &m->src, 0, 0) + SL_IPPROTO_UDP +
			       2u * ulen + sport + dport;
		put_header(h, sport, dport, ulen, sl_csum_add(acc, h + UDP_HLEN, len));
	} else {
		sl_put16(h, sport);
		sl_put16(h + 2, dport);
	}
	st->udp.cur_taken = true;
	if (pkt->v6)
		sl_ipv6_xmit(st, p, f, ulen, &m->dst, SL_IPPROTO_UDP, (struct sl_iptx){0});
	else
		sl_ipv4_xmit(st, p, f, ulen, sl_ip_to_v4(&m->dst), SL_IPPROTO_UDP,
			     (struct sl_iptx){0});
	STAT_INC(st, udp_tx);
	return 0;
}

int sl_udp_unreachable(struct sl_stack *st, const struct sl_udp_meta *m)
{
	struct sl_udp *u = &st->udp;
	if (!m || m != u->cur_meta || !u->cur_pkt)
		return -EINVAL;
	port_unreachable(st, u->cur_pkt); /* as sl_udp_input answers a port without a socket */
	return 0;
}
