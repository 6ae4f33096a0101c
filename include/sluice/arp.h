/* ARP (API.md: ARP; RFC 826). */
#ifndef SLUICE_ARP_H
#define SLUICE_ARP_H

#include <stdint.h>
#include "sluice/ip.h"

struct sl_stack;

/* IPv4 addresses the stack answers ARP for. */
int sl_arp_get_ips(struct sl_stack *st, sl_ip *out, int max);
/* Replace the list (each added address is announced with a gratuitous ARP). */
int sl_arp_set_ips(struct sl_stack *st, const sl_ip *ips, int n);
/* Add one address as a host address (/32) and announce it. */
int sl_arp_add_ip(struct sl_stack *st, const sl_ip *ip);
int sl_arp_remove_ip(struct sl_stack *st, const sl_ip *ip);

/* Resolution result: err 0 and mac, or -ETIMEDOUT after the retries. */
typedef void (*sl_arp_cb)(void *arg, int err, const sl_ip *ip, const uint8_t mac[6]);
/* Resolve ip. Returns 0 and fills mac when cached or answered at once (from the neighbour
 * share, or by a neigh_resolve hook calling sl_neigh_set; cb not called); 1 when a request is in
 * flight and cb will be called from sl_stack_poll (it may send and query); -EBUSY if another
 * query waits on the same address; -ENOSPC when every entry of the cache is a resolution an
 * earlier query waits for (a full cache otherwise gives up a stale or the least recently
 * used entry). */
int sl_arp_query(struct sl_stack *st, const sl_ip *ip, uint8_t mac[6], sl_arp_cb cb, void *arg);

/* A neighbour learnt outside the stack (the kernel's table in shared mode, a static entry):
 * ip is at mac, confirmed. A resolution waiting for ip completes (what waited is sent); an
 * entry is made when there is room. -EINVAL for a zero, multicast or broadcast mac, or ip one
 * of the stack's addresses. May be called from inside a neigh_resolve hook. */
int sl_neigh_set(struct sl_stack *st, const sl_ip *ip, const uint8_t mac[6]);
/* Forget ip (its owner is unreachable): the frames waiting for it are dropped and counted
 * (arp_unresolved), a query waiting on it gets -EHOSTUNREACH. -ENOENT when there is no entry,
 * -EBUSY for the entry whose query callback is running. May be called from inside a
 * neigh_resolve hook (the frame that started the resolution is then dropped and counted). */
int sl_neigh_forget(struct sl_stack *st, const sl_ip *ip);

#endif
