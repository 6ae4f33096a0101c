/*
 * The kernel's view of one interface, over rtnetlink (RFC 3549; rtnetlink(7)): its addresses,
 * its default routes, its neighbours and its MTU, dumped once and then followed, for
 * `sluice run --shared` (docs/architecture.md "Shared addresses"). One mirror per stack thread:
 * each has its own socket subscribed to the groups, so no stack waits for another.
 */
#ifndef SLUICE_TOOLS_KMIRROR_H
#define SLUICE_TOOLS_KMIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sluice/ip.h"

enum km_kind {
	KM_ADDR_ADD,  /* ip/plen is an address of the interface (not tentative, not DAD-failed) */
	KM_ADDR_DEL,  /* ip is no longer one (removed, or tentative / DAD-failed again) */
	KM_GW_SET,    /* ip: the default route of its family through the interface */
	KM_GW_DEL,    /* the default route of ip's family (ip is 0.0.0.0 or ::) is gone */
	KM_ROUTE_ADD, /* a route to ip/plen (plen > 0) through the interface, via gw (the
		       * family's unspecified address: on the link) */
	KM_ROUTE_DEL, /* the route to ip/plen is gone */
	KM_NEIGH,     /* ip is at mac (a usable kernel state: reachable, stale, delay, probe,
		       * permanent, noarp) */
	KM_NEIGH_FAILED, /* the kernel could not resolve ip */
	KM_MTU,       /* the interface's MTU is now mtu */
	KM_RESYNC,    /* events were lost (the socket overflowed): a dump follows */
};

struct km_event {
	enum km_kind kind;
	sl_ip ip;
	uint8_t plen;
	uint8_t mac[6];
	uint32_t mtu;
	sl_ip gw;
};

typedef void (*km_cb)(void *arg, const struct km_event *ev);

struct kmirror;

/* Open a mirror of ifname (in the calling thread's network namespace), subscribed to address,
 * route, neighbour and link changes. -errno, with a one-line reason in why. */
int km_open(const char *ifname, struct kmirror **out, char *why, size_t whylen);
void km_close(struct kmirror *km);
/* The descriptor to poll for events (readable: call km_poll). */
int km_fd(const struct kmirror *km);
/* Dump the current state: every address, default route, neighbour and the MTU, each as an
 * event to cb, before it returns (events that arrive meanwhile are delivered too). */
int km_dump(struct kmirror *km, km_cb cb, void *arg);
/* Deliver the events waiting, without blocking; on an overflow, KM_RESYNC then a dump. Returns
 * the number of events, or -errno. */
int km_poll(struct kmirror *km, km_cb cb, void *arg);
/* Ask the kernel to resolve ip on the interface (RTM_NEWNEIGH with NTF_USE: its ARP or NS
 * goes out from the kernel's own address), and ask for the entry, so one the kernel already
 * knows arrives as a KM_NEIGH from the next km_poll. Sends two messages; waits for nothing. */
int km_resolve(struct kmirror *km, const sl_ip *ip);

#endif
