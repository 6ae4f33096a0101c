/*
 * Neighbor Discovery (RFC 4861) for a host: Neighbor Solicitations answered for our own
 * addresses, Advertisements merged into the neighbour cache (the one ARP uses: proto/arp.c
 * resolves both families and calls sl_nd_send_ns for IPv6), every validity check of
 * §7.1.1/§7.1.2 and §6.1.2/§8.1 for the messages we read, Duplicate Address Detection
 * (RFC 4862 §5.4) before an address is used. Router advertisements and redirects are
 * validated and ignored (addresses and the gateway are configured).
 */
#include "iface/stack.h"
#include "proto/neigh_share.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define T_RS 133
#define T_RA 134
#define T_NS 135
#define T_NA 136
#define T_REDIRECT 137
#define OPT_SLLA 1
#define OPT_TLLA 2
#define NA_ROUTER 0x80
#define NA_SOLICITED 0x40
#define NA_OVERRIDE 0x20
#define DAD_TRANSMITS 1		      /* RFC 4862 §5.1 DupAddrDetectTransmits */
#define RETRANS_TIMER_NS 1000000000ULL /* RFC 4861 §10 RETRANS_TIMER */

/* Options after the fixed part (§4.6): every length non-zero and inside the message; the
 * link-layer address option of the given type returned through mac (NULL when absent).
 * Returns false when an option is malformed. */
static bool parse_opts(const uint8_t *o, size_t len, uint8_t want, const uint8_t **mac)
{
	*mac = NULL;
	while (len) {
		if (len < 2 || o[1] == 0 || 8u * o[1] > len)
			return false;
		size_t l = 8u * o[1];
		if (o[0] == want && l >= 8)
			*mac = o + 2;
		o += l;
		len -= l;
	}
	return true;
}

static void send_nd(struct sl_stack *st, const sl_ip *src, const sl_ip *dst, const uint8_t *mac,
		    uint8_t *m, size_t len)
{
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return;
	uint8_t *ip = f.data + SL_L3_OFF;
	memcpy(ip + SL_IPV6_HLEN, m, len);
	uint8_t *mm = ip + SL_IPV6_HLEN;
	sl_put16(mm + 2, 0);
	uint64_t acc = sl_csum_pseudo6(src->b, dst->b, SL_IPPROTO_ICMPV6, (uint32_t)len);
	sl_put16(mm + 2, (uint16_t)~sl_csum_fold(sl_csum_add(acc, mm, len)));
	/* §7.1: ND is sent with hop limit 255 so a receiver knows it was not forwarded. */
	sl_ipv6_emit(ip, (uint16_t)len, SL_IPPROTO_ICMPV6, 255, 0, src, dst);
	STAT_INC(st, ipv6_tx);
	f.len = (uint32_t)(SL_ETH_HLEN + SL_IPV6_HLEN + len);
	uint8_t dmac[6];
	if (sl_ip6_is_multicast(dst)) {
		sl_ip6_mcast_mac(dst, dmac);
		mac = dmac;
	}
	if (mac) {
		sl_eth_emit(f.data, mac, st->mac, SL_ETH_P_IPV6);
		sl_iface_tx(st, &f);
		return;
	}
	sl_eth_emit(f.data, sl_mac_broadcast, st->mac, SL_ETH_P_IPV6);
	sl_neigh_output(st, &f, dst);
}

void sl_nd_send_ns(struct sl_stack *st, const sl_ip *target, const uint8_t *mac, bool dad)
{
	uint8_t m[32] = {T_NS, 0};
	memcpy(m + 8, target->b, 16);
	size_t len = 24;
	sl_ip src = {{0}}, nh;
	if (!dad) {
		if (sl_iface_route6(st, target, &nh, &src) < 0) {
			STAT_INC(st, ipv6_no_route); /* no address to solicit from (any more) */
			return;
		}
		/* §4.3: the source link-layer address, except from the unspecified address. */
		m[24] = OPT_SLLA;
		m[25] = 1;
		memcpy(m + 26, st->mac, 6);
		len = 32;
	}
	sl_ip dst = mac ? *target : sl_ip6_solicited(target);
	STAT_INC(st, nd_ns_sent);
	send_nd(st, &src, &dst, mac, m, len);
}

static void send_na(struct sl_stack *st, const sl_ip *target, const sl_ip *dst,
		    const uint8_t *mac, bool solicited)
{
	uint8_t m[32] = {T_NA, 0};
	m[4] = (uint8_t)((solicited ? NA_SOLICITED : 0) | NA_OVERRIDE);
	memcpy(m + 8, target->b, 16);
	m[24] = OPT_TLLA;
	m[25] = 1;
	memcpy(m + 26, st->mac, 6);
	STAT_INC(st, nd_na_sent);
	send_nd(st, target, dst, mac, m, sizeof(m));
}

static void dad_failed(struct sl_stack *st, struct sl_addr6 *a)
{
	STAT_INC(st, nd_dad_conflict);
	if (a->tentative) {
		/* RFC 4862 §5.4.5: the address is not used. */
		a->tentative = false;
		a->dad_failed = true;
		sl_timer_cancel(&st->timers, &a->dad_timer);
		sl_path_changed(st);
	}
}

static void ns_input(struct sl_stack *st, struct sl_ip_pkt *pkt, const uint8_t *m, size_t len)
{
	sl_ip target;
	memcpy(target.b, m + 8, 16);
	bool from_unspec = sl_ip_is_zero(&pkt->src);
	const uint8_t *slla;
	/* §7.1.1: target not multicast; options well formed; from the unspecified address only
	 * to a solicited-node group and without a source link-layer address. */
	if (sl_ip6_is_multicast(&target) || !parse_opts(m + 24, len - 24, OPT_SLLA, &slla) ||
	    (from_unspec && (slla || !pkt->bcast ||
			     memcmp(sl_ip6_solicited(&target).b, pkt->dst.b, 16)))) {
		STAT_INC(st, nd_bad);
		return;
	}
	struct sl_addr6 *a = sl_iface_find6(st, &target);
	if (!a || a->dad_failed) {
		STAT_INC(st, nd_not_for_us);
		return;
	}
	STAT_INC(st, nd_ns_rx);
	if (a->tentative) {
		/* RFC 4862 §5.4.3: another node's DAD probe for the same address is a conflict;
		 * any other solicitation of a tentative address is ignored (it is not ours yet). */
		if (from_unspec)
			dad_failed(st, a);
		else
			STAT_INC(st, nd_not_for_us);
		return;
	}
	if (from_unspec) {
		/* §7.2.4: answer a DAD probe to all-nodes, not solicited. */
		sl_ip all = sl_ip6_all_nodes();
		send_na(st, &target, &all, NULL, false);
		return;
	}
	/* §7.2.3: the solicitation's source link-layer address creates or updates the entry. */
	if (slla)
		sl_neigh_learn(st, &pkt->src, slla, true, false);
	send_na(st, &target, &pkt->src, slla, true);
}

static void na_input(struct sl_stack *st, struct sl_ip_pkt *pkt, const uint8_t *m, size_t len)
{
	sl_ip target;
	memcpy(target.b, m + 8, 16);
	const uint8_t *tlla;
	/* §7.1.2: target not multicast; to a group, the Solicited flag is clear; options well
	 * formed. */
	if (sl_ip6_is_multicast(&target) || (pkt->bcast && (m[4] & NA_SOLICITED)) ||
	    !parse_opts(m + 24, len - 24, OPT_TLLA, &tlla)) {
		STAT_INC(st, nd_bad);
		return;
	}
	STAT_INC(st, nd_na_rx);
	struct sl_addr6 *a = sl_iface_find6(st, &target);
	if (a) {
		/* Someone advertises our address: during DAD it wins (RFC 4862 §5.4.4); after,
		 * we keep it and count the conflict (§5.4.5 leaves the action to the node). */
		dad_failed(st, a);
		return;
	}
	/* §7.2.5: an advertisement updates an entry we have; it creates none. An entry being
	 * resolved takes the address given; a known one changes only when Override is set. With
	 * Override clear and another address, a REACHABLE entry becomes STALE and nothing else
	 * changes (I.a: its reachability is now in doubt); in any other state it is ignored. */
	struct sl_arp_entry *e = sl_neigh_lookup(st, &target);
	/* The answer to another queue's stack (NAs arrive on whichever queue the NIC hashes them
	 * to): merged into the shared table if that stack wants it. */
	if (!e && tlla && st->cfg.neigh_share &&
	    sl_neigh_share_merge(st->cfg.neigh_share, &target, tlla, st->now))
		return;
	/* No entry: "silently discarded" (§7.2.5), counted as the ARP side counts
	 * arp_unsolicited; nor does an entry being resolved take an NA without a target
	 * link-layer address (§7.2.5: SHOULD be discarded on a link with addresses). */
	if (!e || (!tlla && e->state == SL_ARP_INCOMPLETE)) {
		STAT_INC(st, nd_na_ignored);
		return;
	}
	/* §7.2.5 II: for a known entry, no option means the address it has. A solicited one
	 * confirms it (REACHABLE: the answer to a unicast NUD probe, which may omit the option,
	 * §7.2.4); an unsolicited one changes nothing. */
	if (!tlla) {
		if (m[4] & NA_SOLICITED)
			sl_neigh_learn(st, &target, e->mac, false, true);
		return;
	}
	if (e->state == SL_ARP_INCOMPLETE || (m[4] & NA_OVERRIDE) || !memcmp(e->mac, tlla, 6))
		sl_neigh_learn(st, &target, tlla, false, (m[4] & NA_SOLICITED) != 0);
	else if (e->state == SL_ARP_REACHABLE)
		sl_neigh_mark_stale(st, e);
	else
		STAT_INC(st, nd_na_ignored); /* "ignored and MUST NOT update the cache" */
}

void sl_nd_input(struct sl_stack *st, struct sl_ip_pkt *pkt, uint8_t type)
{
	const uint8_t *m = pkt->l4;
	size_t len = pkt->l4len;
	STAT_INC(st, nd_rx);
	/* §6.1, §7.1, §8.1: hop limit 255 (never forwarded), code 0, and the minimum length of
	 * the message type. */
	size_t min = type == T_RS ? 8 : type == T_RA ? 16 : type == T_REDIRECT ? 40 : 24;
	if (pkt->hlim != 255 || m[1] != 0 || len < min || !pkt->frame ||
	    pkt->l4 != pkt->ip + SL_IPV6_HLEN) {
		STAT_INC(st, nd_bad);
		return;
	}
	switch (type) {
	case T_NS:
		ns_input(st, pkt, m, len);
		return;
	case T_NA:
		na_input(st, pkt, m, len);
		return;
	case T_RA: {
		const uint8_t *x;
		/* §6.1.2: from a link-local source, options well formed. */
		if (!sl_ip6_is_linklocal(&pkt->src) || !parse_opts(m + 16, len - 16, 0, &x))
			STAT_INC(st, nd_bad);
		else
			STAT_INC(st, nd_ra_ignored);
		return;
	}
	case T_REDIRECT: {
		const uint8_t *x;
		/* §8.1: from a link-local source, options well formed. Valid or not, a host
		 * with a configured gateway does not act on it. */
		if (!sl_ip6_is_linklocal(&pkt->src) || !parse_opts(m + 40, len - 40, 0, &x))
			STAT_INC(st, nd_bad);
		else
			STAT_INC(st, nd_redirect_ignored);
		return;
	}
	default:
		/* RFC 4861 §6.2.6: a host silently discards router solicitations (counted). */
		STAT_INC(st, icmp6_unhandled_type);
		return;
	}
}

/* --- DAD (RFC 4862 §5.4) ----------------------------------------------------------------- */

void sl_nd_announce(struct sl_stack *st, const sl_ip *a);

static void dad_timer(struct sl_timer *t, void *ctx, uint64_t now)
{
	struct sl_stack *st = ctx;
	struct sl_addr6 *a = (struct sl_addr6 *)((char *)t - offsetof(struct sl_addr6, dad_timer));
	if (!a->tentative)
		return;
	if (a->dad_sent < DAD_TRANSMITS) {
		a->dad_sent++;
		sl_nd_send_ns(st, &a->addr, NULL, true);
		sl_timer_arm(&st->timers, &a->dad_timer, now + RETRANS_TIMER_NS);
		return;
	}
	a->tentative = false; /* no answer in RetransTimer after the last probe: ours */
	sl_path_changed(st); /* a source candidate now (RFC 6724) */
	sl_nd_announce(st, &a->addr);
}

void sl_nd_start_dad(struct sl_stack *st, struct sl_addr6 *a)
{
	sl_timer_init(&a->dad_timer, dad_timer);
	if (st->cfg.shared_addrs) {
		/* The kernel's address: it ran DAD before handing it over (only addresses it no
		 * longer marks tentative are shared). */
		a->tentative = false;
		return;
	}
	a->tentative = true;
	a->dad_sent = 0;
	/* The first probe leaves from the next poll, not from here: an application (sluice run)
	 * puts the steering in place between opening the stack and polling it, and a defender's
	 * answer, which comes within microseconds, must find it. */
	sl_timer_arm(&st->timers, &a->dad_timer, st->now);
}

/* Announce a new address (§7.2.6: an unsolicited NA to all-nodes), once DAD passed. */
void sl_nd_announce(struct sl_stack *st, const sl_ip *a)
{
	sl_ip all = sl_ip6_all_nodes();
	send_na(st, a, &all, NULL, false);
}
