/*
 * `sluice run --shared`: serving ports of the kernel's own addresses (docs/architecture.md
 * "Shared addresses"). The kernel keeps its addresses, ARP, NDP, ICMP and every other port;
 * sluice takes the ports of its services (gate port rules on each kernel address of DEV, kept
 * as the addresses change) and the exact 5-tuples of its active opens, and holds each of those
 * ports with a bound kernel socket so no kernel program can take it meanwhile.
 */
#ifndef SLUICE_TOOLS_SHARED_H
#define SLUICE_TOOLS_SHARED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "kmirror.h"
#include "sluice/gate.h"
#include "sluice/stack.h"

/* A port held against the kernel: sockets bound to it on 0.0.0.0 and [::] (IPV6_V6ONLY),
 * bound, never listening, so a kernel SYN to it is answered with RST. -1: none. */
struct port_hold {
	int fd4, fd6;
};
/* Bind proto's (IPPROTO_TCP or IPPROTO_UDP) port on both wildcards; -EADDRINUSE when a kernel
 * socket holds it, or -errno. h is left empty on failure. */
int port_hold(int proto, uint16_t port, struct port_hold *h);
void port_release(struct port_hold *h);

#define SHARED_MAX_PORTS 8
#define SHARED_MAX_RULES (SHARED_MAX_PORTS * SL_MAX_ADDRS)

/* What the whole run shares (one per process). */
struct shared_run {
	const char *ifname;
	struct sl_gate *gate;
	pthread_mutex_t *rules_mutex;
	struct {
		uint8_t proto;
		uint16_t port;
		struct port_hold hold;
	} ports[SHARED_MAX_PORTS];
	unsigned n_ports;
	/* Gate port rules, one per (address, service port); touched by queue 0's thread while
	 * the stacks run, by the main thread before and after. */
	struct {
		sl_ip addr;
		uint8_t proto;
		uint16_t port;
		uint32_t id;
	} rules[SHARED_MAX_RULES];
	unsigned n_rules;
	bool addr_full_warned, route_full_warned;
};

/* One per stack: the stack's own mirror of the kernel's state. */
struct shared_worker {
	struct shared_run *run;
	struct sl_stack *st;
	struct kmirror *km;
	bool rules;   /* this worker keeps the gate's port rules (queue 0) */
	uint32_t mtu; /* the kernel's MTU of DEV, as last told (0: not yet) */
};

/* Hold every service port (before anything is attached): a one-line reason in why. */
int shared_hold_ports(struct shared_run *r, char *why, size_t whylen);
/* Open w's mirror (on the thread that will run the stack is not needed: the socket is only
 * read by that thread afterwards) and load the kernel's state into w->st: its MTU, addresses,
 * routes, neighbours; with w->rules, the gate's port rules. */
int shared_attach(struct shared_worker *w, char *why, size_t whylen);
/* sl_stack_config.neigh_resolve for a shared stack (arg: its struct shared_worker). */
void shared_resolve(void *arg, struct sl_stack *st, const sl_ip *ip);
/* sl_run_opts.aux: apply the kernel's changes (arg: the struct shared_worker). */
int shared_aux(void *arg, struct sl_stack *st);
/* Remove the port rules and release the ports (after the stacks stopped). */
void shared_end(struct shared_run *r);
void shared_detach(struct shared_worker *w);
/* The service ports as text, "tcp/8080, udp/7". */
void shared_ports_text(const struct shared_run *r, char *buf, size_t len);

#endif
