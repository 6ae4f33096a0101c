/* ARP state (RFC 826): a bounded cache with expiry/refresh and per-entry pending queues. */
#ifndef SL_PROTO_ARP_H
#define SL_PROTO_ARP_H

#include <stdint.h>
#include "sluice/arp.h"
#include "sluice/dev.h"
#include "util/timer.h"

#define SL_ARP_PENDING_MAX 48

/* INCOMPLETE, REACHABLE and REFRESHING (RFC 4861's PROBE: unicast requests to the address
 * known) serve both families; IPv6 entries also go through STALE (reachability unconfirmed,
 * still used) and DELAY (used while stale: a probe follows unless confirmed), RFC 4861 §7.3.2. */
enum sl_arp_state {
	SL_ARP_FREE = 0,
	SL_ARP_INCOMPLETE,
	SL_ARP_REACHABLE,
	SL_ARP_REFRESHING,
	SL_ARP_STALE,
	SL_ARP_DELAY,
};
#define SL_ND_DELAY_NS 5000000000ULL /* RFC 4861 §10 DELAY_FIRST_PROBE_TIME */

/* One neighbour cache for both families (ARP and Neighbor Discovery are its two resolvers),
 * keyed by the 16-byte address. */
struct sl_arp_entry {
	sl_ip ip;
	uint8_t mac[6];
	uint8_t state;
	uint8_t retries;
	uint8_t npending;
	uint8_t used;		    /* sent to (or queried) since it was made */
	int32_t next;		    /* hash chain / free list */
	int32_t prev_lru, next_lru; /* the use order (below) */
	uint64_t expires;
	uint64_t last_used;
	struct sl_timer timer;
	struct sl_frame pending[SL_ARP_PENDING_MAX];
	sl_arp_cb cb;
	void *cb_arg;
};

/* Entries in use are also on a list in the order of their last use (or of their making, for
 * one never used), least recent first: the cache, when full, replaces the first stale entry
 * on it, else the first one nobody waits for (docs/architecture.md: the neighbour cache). */
struct sl_arp {
	struct sl_arp_entry *e;
	uint32_t cap;
	int32_t *bucket;
	uint32_t nbuckets;   /* power of two */
	uint64_t key[2];     /* of the bucket hash (SipHash), a secret */
	unsigned hash_shift; /* 64 - log2(nbuckets) */
	int32_t free_head;
	int32_t lru_head, lru_tail;
	struct sl_arp_entry *pinned; /* not to be replaced: its query's callback is running */
	uint32_t used;
	uint32_t pending_total;
	uint64_t share_gen; /* neighbour-share generation last looked at */
};

struct sl_stack;
int sl_arp_init(struct sl_stack *st);
void sl_arp_fini(struct sl_stack *st);
/* Send f (complete but for the Ethernet destination) to next hop ip (either family): at once
 * when its link-layer address is known, else after resolution. Takes the frame. */
void sl_neigh_output(struct sl_stack *st, struct sl_frame *f, const sl_ip *ip);
/* The same, with *hint the index of the entry this caller's path used last time (-1: none):
 * checked, not trusted, and updated — the lookup is skipped while the entry still holds ip
 * in a state that sends at once. */
void sl_neigh_output_hint(struct sl_stack *st, struct sl_frame *f, const sl_ip *ip, int32_t *hint);
/* Learn ip's link-layer address: updates an entry, or creates one when create. confirmed:
 * reachability is confirmed (a solicited advertisement: REACHABLE); otherwise (a
 * solicitation's source address, an unsolicited advertisement) a new or changed address is
 * STALE (RFC 4861 §7.2.3, §7.2.5) and an unchanged one keeps its state. */
void sl_neigh_learn(struct sl_stack *st, const sl_ip *ip, const uint8_t mac[6], bool create,
		    bool confirmed);
struct sl_arp_entry *sl_neigh_lookup(struct sl_stack *st, const sl_ip *ip);
/* Reachability in doubt (RFC 4861 §7.2.5 I.a): the entry becomes STALE, address unchanged. */
void sl_neigh_mark_stale(struct sl_stack *st, struct sl_arp_entry *e);
/* Resolve outstanding entries from the neighbour share when it changed (once per poll). */
void sl_arp_poll_share(struct sl_stack *st);
/* Gratuitous ARP announcing ip (RFC 5227 §2.3). */
void sl_arp_announce(struct sl_stack *st, uint32_t ip);

#endif
