/*
 * Neighbour sharing between the stacks of one interface (one stack per RX queue).
 *
 * ARP replies arrive on whichever queue the NIC hashes them to, so the stack that asked
 * may never see the answer. Each stack keeps its own cache (no locks on the packet path);
 * what one stack learns from the wire it also publishes here, and a stack consults this
 * table before sending a request and whenever the generation counter moves while it has
 * resolutions outstanding. The lock is taken only on ARP traffic and cache misses.
 *
 * A stack makes an entry only from a request for our address (RFC 826 merge rules, arp.c),
 * so the answer to another stack's request makes none where it lands: the asking stack
 * marks the address wanted here, and whatever ARP arrives for a wanted or known address is
 * merged into this table (sl_neigh_share_merge) as it would be into the asker's cache.
 */
#include "sluice/stack.h"
#include "proto/neigh_share.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct share_entry {
	sl_ip ip;
	uint8_t mac[6];
	bool known; /* mac valid; else only wanted */
	uint64_t at;
};

struct sl_neigh_share {
	pthread_mutex_t mu;
	uint64_t gen;
	unsigned cap, n;
	struct share_entry e[];
};

int sl_neigh_share_new(unsigned cap, struct sl_neigh_share **out)
{
	if (!cap)
		return -EINVAL;
	struct sl_neigh_share *s = calloc(1, sizeof(*s) + cap * sizeof(s->e[0]));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s->cap = cap;
	*out = s;
	return 0;
}

void sl_neigh_share_free(struct sl_neigh_share *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s);
}

uint64_t sl_neigh_share_gen(struct sl_neigh_share *s)
{
	return __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
}

/* ip's slot; with make, a new one when there is none (the least recently learned entry goes:
 * bounded), else -1. Under the lock. */
static int slot_of(struct sl_neigh_share *s, const sl_ip *ip, bool make)
{
	unsigned oldest = 0;
	for (unsigned i = 0; i < s->n; i++) {
		if (!memcmp(s->e[i].ip.b, ip->b, 16))
			return (int)i;
		if (s->e[i].at < s->e[oldest].at)
			oldest = i;
	}
	if (!make)
		return -1;
	unsigned slot = s->n < s->cap ? s->n++ : oldest;
	memset(&s->e[slot], 0, sizeof(s->e[slot]));
	s->e[slot].ip = *ip;
	return (int)slot;
}

static void learn(struct sl_neigh_share *s, int slot, const uint8_t mac[6], uint64_t now)
{
	struct share_entry *e = &s->e[slot];
	bool changed = !e->known || memcmp(e->mac, mac, 6) != 0;
	memcpy(e->mac, mac, 6);
	e->known = true;
	e->at = now;
	if (changed)
		__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELEASE);
}

void sl_neigh_share_publish(struct sl_neigh_share *s, const sl_ip *ip, const uint8_t mac[6],
			    uint64_t now)
{
	pthread_mutex_lock(&s->mu);
	learn(s, slot_of(s, ip, true), mac, now);
	pthread_mutex_unlock(&s->mu);
}

bool sl_neigh_share_merge(struct sl_neigh_share *s, const sl_ip *ip, const uint8_t mac[6],
			  uint64_t now)
{
	pthread_mutex_lock(&s->mu);
	int slot = slot_of(s, ip, false);
	if (slot >= 0)
		learn(s, slot, mac, now);
	pthread_mutex_unlock(&s->mu);
	return slot >= 0;
}

void sl_neigh_share_want(struct sl_neigh_share *s, const sl_ip *ip, uint64_t now)
{
	pthread_mutex_lock(&s->mu);
	int slot = slot_of(s, ip, false);
	if (slot < 0) {
		slot = slot_of(s, ip, true);
		s->e[slot].at = now;
	}
	pthread_mutex_unlock(&s->mu);
}

bool sl_neigh_share_lookup(struct sl_neigh_share *s, const sl_ip *ip, uint8_t mac[6],
			   uint64_t not_before)
{
	bool found = false;
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->n; i++) {
		if (!memcmp(s->e[i].ip.b, ip->b, 16) && s->e[i].known && s->e[i].at >= not_before) {
			memcpy(mac, s->e[i].mac, 6);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}
