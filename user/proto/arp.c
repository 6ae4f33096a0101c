/*
 * ARP (RFC 826) with the host rules of RFC 1122 §2.3.2: a bounded cache that
 * expires and refreshes entries, retried requests, a bounded queue of packets
 * waiting for a resolution, and replies only for addresses the stack owns.
 * Announcements on address add follow RFC 5227 §2.3 (gratuitous ARP request).
 * The cache is also the one Neighbor Discovery (nd.c) resolves IPv6 next hops into.
 *
 * A full cache replaces an entry rather than refuse a new one (neither RFC 826 nor RFC 1122
 * §2.3.2 says what a full cache does): a stale one first, then the least recently used; a
 * resolution with packets waiting only when nothing else can go, and one an sl_arp_query
 * waits for never. See victim() and docs/architecture.md.
 */
#include "iface/stack.h"
#include "proto/neigh_share.h"
#include "util/siphash.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_OF(t) ((struct sl_arp_entry *)((char *)(t)-offsetof(struct sl_arp_entry, timer)))

/* The bucket of ip: the top bits of SipHash-1-3 (util/siphash.h) of the address under a secret
 * key (from getrandom, sl_iface_secret). The old hash kept bits 7 and up of a 32-bit product of the words
 * XORed: every address of a /16 fell into one bucket, and a flood from one made each lookup
 * walk the whole cache; a keyed hash also leaves a sender who knows the function no way to
 * choose addresses that share a chain. */
static uint32_t hash_ip(const struct sl_arp *a, const sl_ip *ip)
{
	return (uint32_t)(sl_siphash13((const uint8_t *)a->key, ip->b, 16) >> a->hash_shift);
}

static struct sl_arp_entry *lookup(struct sl_arp *a, const sl_ip *ip)
{
	for (int32_t i = a->bucket[hash_ip(a, ip)]; i >= 0; i = a->e[i].next)
		if (!memcmp(a->e[i].ip.b, ip->b, 16))
			return &a->e[i];
	return NULL;
}

struct sl_arp_entry *sl_neigh_lookup(struct sl_stack *st, const sl_ip *ip)
{
	return lookup(&st->arp, ip);
}

static void entry_timer(struct sl_timer *t, void *ctx, uint64_t now);
static void remove_entry(struct sl_stack *st, struct sl_arp_entry *e);

/* --- the use order --------------------------------------------------------------------- */

static void lru_unlink(struct sl_arp *a, struct sl_arp_entry *e)
{
	if (e->prev_lru >= 0)
		a->e[e->prev_lru].next_lru = e->next_lru;
	else
		a->lru_head = e->next_lru;
	if (e->next_lru >= 0)
		a->e[e->next_lru].prev_lru = e->prev_lru;
	else
		a->lru_tail = e->prev_lru;
}

static void lru_append(struct sl_arp *a, struct sl_arp_entry *e)
{
	int32_t i = (int32_t)(e - a->e);
	e->prev_lru = a->lru_tail;
	e->next_lru = -1;
	if (a->lru_tail >= 0)
		a->e[a->lru_tail].next_lru = i;
	else
		a->lru_head = i;
	a->lru_tail = i;
}

/* Something is sent to e's neighbour (or an application asked for it): the most recent use. */
static void touch(struct sl_stack *st, struct sl_arp_entry *e)
{
	struct sl_arp *a = &st->arp;
	e->last_used = st->now;
	e->used = 1;
	if (a->lru_tail != (int32_t)(e - a->e)) {
		lru_unlink(a, e);
		lru_append(a, e);
	}
}

/* A resolution in progress that something waits for: packets queued, or a query. */
static bool waited_on(const struct sl_arp_entry *e)
{
	return e->state == SL_ARP_INCOMPLETE && (e->npending || e->cb);
}

/* An entry the cache can lose first: a resolution nothing waits for; an IPv6 neighbour whose
 * reachability is unconfirmed and that nothing was sent to since (STALE, RFC 4861 §7.3.2);
 * an IPv4 neighbour nothing was sent to for a reachable time, or ever: what a flood of
 * requests leaves behind, since every sender of a request for us is learned (RFC 826). */
static bool stale(const struct sl_stack *st, const struct sl_arp_entry *e)
{
	if (e->state == SL_ARP_INCOMPLETE)
		return !waited_on(e);
	if (!sl_ip_is_v4(&e->ip))
		return e->state == SL_ARP_STALE;
	return !e->used || e->last_used + st->cfg.arp_reachable_ns <= st->now;
}

/* The entry a new one replaces in a full cache: the least recently used stale entry; else the
 * least recently used of the rest but resolutions waited on; else (for_output: a packet is
 * to be sent, not a sender merely learned) the resolution with packets queued that waited
 * longest. Never one an sl_arp_query waits for: its callback is due from the entry's timer.
 * NULL: nothing may go. Walks the use order from its old end, so the cost is the number of
 * entries used more recently than the first stale one (each real neighbour at most once). */
static struct sl_arp_entry *victim(struct sl_stack *st, bool for_output)
{
	struct sl_arp *a = &st->arp;
	struct sl_arp_entry *lru = NULL, *queued = NULL;
	for (int32_t i = a->lru_head; i >= 0; i = a->e[i].next_lru) {
		struct sl_arp_entry *e = &a->e[i];
		if (e == a->pinned)
			continue;
		if (stale(st, e))
			return e;
		if (!waited_on(e)) {
			if (!lru)
				lru = e;
		} else if (!e->cb && !queued) {
			queued = e;
		}
	}
	return lru ? lru : for_output ? queued : NULL;
}

/* A new entry for ip (the caller found none): from the free list, else in place of victim().
 * NULL when nothing may be replaced (counted). */
static struct sl_arp_entry *insert(struct sl_stack *st, const sl_ip *ip, bool for_output)
{
	struct sl_arp *a = &st->arp;
	if (a->free_head < 0) {
		struct sl_arp_entry *v = victim(st, for_output);
		if (!v) {
			STAT_INC(st, arp_cache_full);
			return NULL;
		}
		STAT_INC(st, arp_evicted);
		remove_entry(st, v); /* its queued packets, if any, count as arp_unresolved */
	}
	int32_t i = a->free_head;
	struct sl_arp_entry *e = &a->e[i];
	a->free_head = e->next;
	memset(e, 0, sizeof(*e));
	sl_timer_init(&e->timer, entry_timer);
	e->ip = *ip;
	uint32_t h = hash_ip(a, ip);
	e->next = a->bucket[h];
	a->bucket[h] = i;
	lru_append(a, e);
	a->used++;
	return e;
}

static void drop_pending(struct sl_stack *st, struct sl_arp_entry *e)
{
	for (unsigned k = 0; k < e->npending; k++) {
		sl_iface_release(st, &e->pending[k]);
		STAT_INC(st, arp_unresolved);
	}
	st->arp.pending_total -= e->npending;
	e->npending = 0;
}

static void remove_entry(struct sl_stack *st, struct sl_arp_entry *e)
{
	struct sl_arp *a = &st->arp;
	int32_t idx = (int32_t)(e - a->e);
	int32_t *pp = &a->bucket[hash_ip(a, &e->ip)];
	while (*pp != idx)
		pp = &a->e[*pp].next;
	*pp = e->next;
	lru_unlink(a, e);
	sl_timer_cancel(&st->timers, &e->timer);
	drop_pending(st, e);
	e->state = SL_ARP_FREE;
	e->next = a->free_head;
	a->free_head = idx;
	a->used--;
}

static void send_arp(struct sl_stack *st, uint16_t op, const uint8_t *eth_dst, const uint8_t *tha,
		     uint32_t spa, uint32_t tpa)
{
	struct sl_frame f;
	if (sl_iface_alloc(st, &f) < 0)
		return;
	sl_eth_emit(f.data, eth_dst, st->mac, SL_ETH_P_ARP);
	sl_arp_emit(f.data + SL_ETH_HLEN, op, st->mac, spa, tha, tpa);
	f.len = SL_ETH_HLEN + SL_ARP_LEN;
	if (op == SL_ARP_REQUEST)
		STAT_INC(st, arp_requests_sent);
	else
		STAT_INC(st, arp_replies_sent);
	sl_iface_tx(st, &f);
}

/* Ask for e's link-layer address: ARP for IPv4, a Neighbor Solicitation for IPv6. */
static void send_request(struct sl_stack *st, struct sl_arp_entry *e, bool unicast)
{
	static const uint8_t zero[6];
	if (st->cfg.neigh_resolve) {
		/* Someone else resolves (shared mode: the kernel, which owns the address the
		 * request would come from); the answer comes back through sl_neigh_set. */
		STAT_INC(st, neigh_resolve_asked);
		sl_ip ip = e->ip;
		st->cfg.neigh_resolve(st->cfg.neigh_resolve_arg, st, &ip);
		return;
	}
	if (!sl_ip_is_v4(&e->ip)) {
		sl_nd_send_ns(st, &e->ip, unicast ? e->mac : NULL, false); /* counts nd_ns_sent */
		return;
	}
	uint32_t nexthop, src, ip = sl_ip_to_v4(&e->ip);
	if (sl_iface_route4(st, ip, &nexthop, &src) < 0)
		src = st->n_v4 ? st->v4[0].addr : 0;
	send_arp(st, SL_ARP_REQUEST, unicast ? e->mac : sl_mac_broadcast, zero, src, ip);
}

/* Tell the query waiting on e that it resolved. The callback may send (and so make entries):
 * e is not replaced meanwhile, since its callers go on using it. */
static void notify(struct sl_stack *st, struct sl_arp_entry *e)
{
	if (e->cb) {
		sl_arp_cb cb = e->cb;
		e->cb = NULL;
		sl_ip ip = e->ip;
		struct sl_arp_entry *pinned = st->arp.pinned;
		st->arp.pinned = e;
		cb(e->cb_arg, 0, &ip, e->mac);
		st->arp.pinned = pinned;
	}
}

/* The entry learned a MAC: mark it reachable, flush what waited for it. */
static void resolved(struct sl_stack *st, struct sl_arp_entry *e, const uint8_t *mac)
{
	memcpy(e->mac, mac, 6);
	e->state = SL_ARP_REACHABLE;
	e->retries = 0;
	e->expires = st->now + st->cfg.arp_reachable_ns;
	sl_timer_arm(&st->timers, &e->timer, e->expires);
	for (unsigned k = 0; k < e->npending; k++) {
		memcpy(e->pending[k].data, mac, 6);
		sl_iface_tx(st, &e->pending[k]);
	}
	st->arp.pending_total -= e->npending;
	e->npending = 0;
	notify(st, e);
}

static void entry_timer(struct sl_timer *t, void *ctx, uint64_t now)
{
	struct sl_stack *st = ctx;
	struct sl_arp_entry *e = ENTRY_OF(t);
	switch (e->state) {
	case SL_ARP_INCOMPLETE:
	case SL_ARP_REFRESHING:
		if (e->retries >= st->cfg.arp_retries) {
			/* Gone before the query hears of it: its callback may make entries. */
			sl_arp_cb cb = e->cb;
			void *arg = e->cb_arg;
			sl_ip ip = e->ip;
			remove_entry(st, e);
			if (cb)
				cb(arg, -ETIMEDOUT, &ip, NULL);
			return;
		}
		e->retries++;
		/* Armed before asking: an answer given inside a neigh_resolve hook re-arms it. */
		sl_timer_arm(&st->timers, &e->timer, now + st->cfg.arp_retry_ns);
		/* A refresh asks the known MAC first (RFC 1122 §2.3.2.1 unicast poll); IPv6 probes
		 * are all unicast (RFC 4861 §7.3.3, MAX_UNICAST_SOLICIT). */
		send_request(st, e,
			     e->state == SL_ARP_REFRESHING &&
				 (e->retries == 1 || !sl_ip_is_v4(&e->ip)));
		return;
	case SL_ARP_DELAY:
		/* RFC 4861 §7.3.3: no confirmation within DELAY_FIRST_PROBE_TIME: probe. */
		e->state = SL_ARP_REFRESHING;
		e->retries = 1;
		sl_timer_arm(&st->timers, &e->timer, now + st->cfg.arp_retry_ns);
		send_request(st, e, true);
		return;
	case SL_ARP_STALE:
		/* Kept while in use; an unused stale entry is forgotten (bounded cache). */
		if (e->last_used + st->cfg.arp_reachable_ns > now)
			sl_timer_arm(&st->timers, &e->timer, e->last_used + st->cfg.arp_reachable_ns);
		else
			remove_entry(st, e);
		return;
	case SL_ARP_REACHABLE:
		if (!sl_ip_is_v4(&e->ip)) {
			/* RFC 4861 §7.3.3: ReachableTime passed without confirmation: STALE. */
			e->state = SL_ARP_STALE;
			sl_timer_arm(&st->timers, &e->timer, now + st->cfg.arp_reachable_ns);
			return;
		}
		/* Expired: refresh entries in use, forget the rest. */
		if (e->last_used + st->cfg.arp_reachable_ns > now) {
			e->state = SL_ARP_REFRESHING;
			e->retries = 1;
			sl_timer_arm(&st->timers, &e->timer, now + st->cfg.arp_retry_ns);
			send_request(st, e, true);
		} else {
			remove_entry(st, e);
		}
		return;
	}
}

/* Resolve e from the neighbour share when another queue's stack knows the address. */
static bool from_share(struct sl_stack *st, struct sl_arp_entry *e)
{
	uint8_t mac[6];
	uint64_t nb = st->now > st->cfg.arp_reachable_ns ? st->now - st->cfg.arp_reachable_ns : 0;
	if (!st->cfg.neigh_share || !sl_neigh_share_lookup(st->cfg.neigh_share, &e->ip, mac, nb))
		return false;
	resolved(st, e, mac);
	return true;
}

void sl_arp_poll_share(struct sl_stack *st)
{
	struct sl_arp *a = &st->arp;
	uint64_t gen = sl_neigh_share_gen(st->cfg.neigh_share);
	if (gen == a->share_gen)
		return;
	a->share_gen = gen;
	for (uint32_t i = 0; i < a->cap; i++)
		if (a->e[i].state == SL_ARP_INCOMPLETE)
			from_share(st, &a->e[i]);
}

/* Start resolving ip; returns the entry (INCOMPLETE, or resolved at once from the share) or
 * NULL when no entry could be made. */
static struct sl_arp_entry *start_resolution(struct sl_stack *st, const sl_ip *ip, bool *gone)
{
	*gone = false;
	struct sl_arp_entry *e = insert(st, ip, true);
	if (!e)
		return NULL;
	if (from_share(st, e))
		return e;
	if (st->cfg.neigh_share) /* the answer may reach another queue's stack */
		sl_neigh_share_want(st->cfg.neigh_share, ip, st->now);
	e->state = SL_ARP_INCOMPLETE;
	e->retries = 1;
	sl_timer_arm(&st->timers, &e->timer, st->now + st->cfg.arp_retry_ns);
	send_request(st, e, false);
	/* A neigh_resolve hook may have answered (REACHABLE now) or forgotten the entry (FREE,
	 * and maybe made again for another address): the caller must not use a freed one. */
	if (e->state == SL_ARP_FREE || !sl_ip_eq(&e->ip, ip)) {
		*gone = true;
		return NULL;
	}
	return e;
}

void sl_neigh_output(struct sl_stack *st, struct sl_frame *f, const sl_ip *ip)
{
	int32_t hint = -1;
	sl_neigh_output_hint(st, f, ip, &hint);
}

void sl_neigh_output_hint(struct sl_stack *st, struct sl_frame *f, const sl_ip *ip, int32_t *hint)
{
	struct sl_arp *a = &st->arp;
	uint32_t h = (uint32_t)*hint;
	if (h < a->cap) {
		/* The entry this path used last time: still the same neighbour, and in a state that
		 * sends at once without a transition (STALE must start DELAY: the full path). */
		struct sl_arp_entry *e = &a->e[h];
		if ((e->state == SL_ARP_REACHABLE || e->state == SL_ARP_REFRESHING ||
		     e->state == SL_ARP_DELAY) &&
		    sl_ip_eq(&e->ip, ip)) {
			touch(st, e);
			memcpy(f->data, e->mac, 6);
			sl_iface_tx(st, f);
			return;
		}
	}
	/* Resolution may send (a solicitation goes out through the path cache, which may reuse
	 * the slot ip points into): hold the address here. */
	sl_ip nh = *ip;
	ip = &nh;
	if (sl_iface_owns(st, ip)) {
		/* To ourselves (a program talking to itself): no neighbour, no wire. */
		sl_iface_loop(st, f);
		return;
	}
	struct sl_arp_entry *e = lookup(a, ip);
	bool gone = false;
	if (!e)
		e = start_resolution(st, ip, &gone); /* may resolve at once (neighbour share, hook) */
	if (!e) {
		if (gone)
			STAT_INC(st, arp_unresolved); /* forgotten by the hook while asked */
		else
			STAT_INC(st, arp_pending_full); /* and arp_cache_full: nowhere to wait */
		sl_iface_release(st, f);
		return;
	}
	if (e->state != SL_ARP_INCOMPLETE) {
		if (e->state == SL_ARP_STALE) {
			/* RFC 4861 §7.3.3: sending to a stale neighbour starts the DELAY wait. */
			e->state = SL_ARP_DELAY;
			sl_timer_arm(&st->timers, &e->timer, st->now + SL_ND_DELAY_NS);
		}
		touch(st, e);
		*hint = (int32_t)(e - a->e);
		memcpy(f->data, e->mac, 6);
		sl_iface_tx(st, f);
		return;
	}
	if (e->npending >= st->cfg.arp_pending_per_entry ||
	    st->arp.pending_total >= st->cfg.arp_pending_total) {
		STAT_INC(st, arp_pending_full);
		sl_iface_release(st, f);
		return;
	}
	e->pending[e->npending++] = *f;
	st->arp.pending_total++;
	touch(st, e);
}

void sl_neigh_learn(struct sl_stack *st, const sl_ip *ip, const uint8_t mac[6], bool create,
		    bool confirmed)
{
	struct sl_arp_entry *e = lookup(&st->arp, ip);
	bool fresh = !e;
	if (!e && create)
		e = insert(st, ip, false);
	if (!e)
		return;
	if (confirmed || sl_ip_is_v4(ip)) {
		resolved(st, e, mac);
	} else if (fresh || e->state == SL_ARP_INCOMPLETE || memcmp(e->mac, mac, 6)) {
		/* Unconfirmed: STALE with this address; what waited for it leaves now. */
		resolved(st, e, mac);
		e->state = SL_ARP_STALE;
		sl_timer_arm(&st->timers, &e->timer, st->now + st->cfg.arp_reachable_ns);
	} else {
		return; /* the same address, no confirmation: nothing changes */
	}
	if (st->cfg.neigh_share)
		sl_neigh_share_publish(st->cfg.neigh_share, ip, mac, st->now);
}

void sl_neigh_mark_stale(struct sl_stack *st, struct sl_arp_entry *e)
{
	/* As an unconfirmed address leaves an entry (sl_neigh_learn): STALE until used or until
	 * the reachable time passes again. */
	e->state = SL_ARP_STALE;
	sl_timer_arm(&st->timers, &e->timer, st->now + st->cfg.arp_reachable_ns);
}

int sl_neigh_set(struct sl_stack *st, const sl_ip *ip, const uint8_t mac[6])
{
	static const uint8_t zero[6];
	if (!memcmp(mac, zero, 6) || (mac[0] & 1) || sl_ip_is_zero(ip) || sl_iface_owns(st, ip))
		return -EINVAL;
	if (sl_ip_is_v4(ip) ? sl_ipv4_is_bad_src(sl_ip_to_v4(ip)) : sl_ip6_is_multicast(ip))
		return -EINVAL;
	STAT_INC(st, neigh_set);
	sl_neigh_learn(st, ip, mac, true, true);
	return 0;
}

int sl_neigh_forget(struct sl_stack *st, const sl_ip *ip)
{
	struct sl_arp_entry *e = lookup(&st->arp, ip);
	if (!e)
		return -ENOENT;
	if (e == st->arp.pinned)
		return -EBUSY;
	sl_arp_cb cb = e->cb;
	void *arg = e->cb_arg;
	sl_ip addr = e->ip;
	remove_entry(st, e); /* counts what waited as arp_unresolved */
	if (cb)
		cb(arg, -EHOSTUNREACH, &addr, NULL);
	sl_path_changed(st);
	return 0;
}

void sl_arp_announce(struct sl_stack *st, uint32_t ip)
{
	static const uint8_t zero[6];
	if (st->cfg.shared_addrs)
		return; /* the kernel's address: the kernel announced it */
	send_arp(st, SL_ARP_REQUEST, sl_mac_broadcast, zero, ip, ip);
}

enum sl_rx_result sl_arp_input(struct sl_stack *st, struct sl_frame *f)
{
	uint8_t *p = f->data + SL_ETH_HLEN;
	size_t len = f->len - SL_ETH_HLEN;
	int bad = sl_arp_check(p, len);
	if (bad) {
		st->stats->c[bad]++;
		return SL_RX_RELEASE;
	}
	uint32_t spa = sl_arp_spa(p), tpa = sl_arp_tpa(p);
	const uint8_t *sha = sl_arp_sha(p);
	bool request = sl_arp_op(p) == SL_ARP_REQUEST;
	/* Never learn a broadcast/multicast/zero MAC, a broadcast or multicast sender, or one
	 * claiming one of our addresses (a conflict: RFC 5227 — we keep our address and do not
	 * poison our cache). */
	if (sl_mac_is_multicast(sha) || sl_mac_is_zero(sha) || sl_iface_owns4(st, spa) ||
	    sl_ipv4_is_multicast(spa) || sl_iface_is_bcast4(st, spa)) {
		STAT_INC(st, arp_bad_sender);
		return SL_RX_RELEASE;
	}
	bool for_us = sl_iface_owns4(st, tpa);
	STAT_INC(st, arp_rx);

	/* RFC 826 "Packet Reception": a sender we have an entry for is merged, whatever the
	 * opcode and target (spa 0 is an RFC 5227 probe: nothing to learn) … */
	sl_ip sip = sl_ip_v4(spa);
	struct sl_arp_entry *e = spa ? lookup(&st->arp, &sip) : NULL;
	if (e) {
		resolved(st, e, sha);
	} else if (spa && for_us && request) {
		/* … and only a request for one of our addresses adds one, from a sender on one of
		 * our prefixes (or our gateway). RFC 826 adds the sender of any packet that
		 * targets us; like Linux (arp_accept 0) we take no reply we did not ask for as a
		 * new neighbour, so that forged replies cannot fill the cache, and a sender off
		 * our prefixes is not one we would send to directly. */
		if (!sl_iface_onlink4(st, spa) && spa != st->gw4)
			STAT_INC(st, arp_off_link); /* answered below, not learned */
		else if ((e = insert(st, &sip, false)))
			resolved(st, e, sha);
	}
	/* With several queues: what this stack learned is published; anything else may be the
	 * answer to another stack's request (the share takes it only then). */
	bool shared = false;
	if (st->cfg.neigh_share && spa) {
		if (e)
			sl_neigh_share_publish(st->cfg.neigh_share, &sip, sha, st->now);
		else
			shared = sl_neigh_share_merge(st->cfg.neigh_share, &sip, sha, st->now);
	}

	if (!request) {
		if (!e && !shared)
			STAT_INC(st, arp_unsolicited);
		return SL_RX_RELEASE;
	}
	if (!for_us) {
		STAT_INC(st, arp_not_for_us);
		return SL_RX_RELEASE;
	}
	/* Reply in place: the request frame becomes the reply (RFC 826: swap, fill in our MAC). */
	uint8_t sender_mac[6];
	memcpy(sender_mac, sha, 6);
	sl_eth_emit(f->data, sender_mac, st->mac, SL_ETH_P_ARP);
	sl_arp_emit(p, SL_ARP_REPLY, st->mac, tpa, sender_mac, spa);
	f->len = SL_ETH_HLEN + SL_ARP_LEN;
	STAT_INC(st, arp_replies_sent);
	sl_iface_tx(st, f);
	return SL_RX_KEPT;
}

int sl_arp_init(struct sl_stack *st)
{
	struct sl_arp *a = &st->arp;
	a->cap = st->cfg.arp_cache_size;
	a->nbuckets = 16;
	a->hash_shift = 64 - 4;
	while (a->nbuckets < a->cap) {
		a->nbuckets <<= 1;
		a->hash_shift--;
	}
	int err = sl_iface_secret(st, a->key, sizeof(a->key));
	if (err)
		return err;
	a->e = calloc(a->cap, sizeof(*a->e));
	a->bucket = malloc(a->nbuckets * sizeof(*a->bucket));
	if (!a->e || !a->bucket) {
		free(a->e);
		free(a->bucket);
		a->e = NULL;
		a->bucket = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < a->nbuckets; i++)
		a->bucket[i] = -1;
	for (uint32_t i = 0; i < a->cap; i++)
		a->e[i].next = i + 1 < a->cap ? (int32_t)i + 1 : -1;
	a->free_head = 0;
	a->lru_head = a->lru_tail = -1;
	return 0;
}

void sl_arp_fini(struct sl_stack *st)
{
	struct sl_arp *a = &st->arp;
	if (!a->e)
		return;
	for (uint32_t i = 0; i < a->cap; i++) {
		struct sl_arp_entry *e = &a->e[i];
		if (e->state != SL_ARP_FREE) {
			for (unsigned k = 0; k < e->npending; k++)
				sl_iface_release(st, &e->pending[k]);
			e->npending = 0;
			sl_timer_cancel(&st->timers, &e->timer);
		}
	}
	free(a->e);
	free(a->bucket);
	a->e = NULL;
}

/* --- public API (include/sluice/arp.h) -------------------------------------------------- */

int sl_arp_query(struct sl_stack *st, const sl_ip *ip, uint8_t mac[6], sl_arp_cb cb, void *arg)
{
	struct sl_arp_entry *e = lookup(&st->arp, ip);
	if (e && e->state != SL_ARP_INCOMPLETE) {
		memcpy(mac, e->mac, 6);
		touch(st, e);
		return 0;
	}
	if (e && e->cb)
		return -EBUSY;
	bool gone = false;
	if (!e)
		e = start_resolution(st, ip, &gone);
	if (!e)
		return gone ? -EHOSTUNREACH : -ENOSPC;
	if (e->state != SL_ARP_INCOMPLETE) { /* answered at once (neighbour share, hook) */
		memcpy(mac, e->mac, 6);
		touch(st, e);
		return 0;
	}
	e->cb = cb;
	e->cb_arg = arg;
	return 1;
}

int sl_arp_get_ips(struct sl_stack *st, sl_ip *out, int max)
{
	int n = 0;
	for (unsigned i = 0; i < st->n_v4 && n < max; i++)
		out[n++] = sl_ip_v4(st->v4[i].addr);
	return n;
}

int sl_arp_add_ip(struct sl_stack *st, const sl_ip *ip)
{
	return sl_ip_add_addr(st, ip, 32);
}

int sl_arp_remove_ip(struct sl_stack *st, const sl_ip *ip)
{
	return sl_ip_del_addr(st, ip);
}

int sl_arp_set_ips(struct sl_stack *st, const sl_ip *ips, int n)
{
	if (n < 0 || n > SL_MAX_ADDRS)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!sl_ip_is_v4(&ips[i]))
			return -EAFNOSUPPORT;
	while (st->n_v4) {
		sl_ip cur = sl_ip_v4(st->v4[0].addr);
		sl_ip_del_addr(st, &cur);
	}
	for (int i = 0; i < n; i++) {
		int err = sl_ip_add_addr(st, &ips[i], 32);
		if (err && err != -EEXIST)
			return err;
	}
	return 0;
}
