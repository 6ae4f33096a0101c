/*
 * The gate: the XDP program that steers selected frames into sluice's AF_XDP
 * sockets and passes everything else to the kernel.
 *
 * State lives in the kernel (the attached program and its maps), pinned under
 * <bpffs>/sluice/<netns-inode>/<ifname>/ so separate processes (the CLI, a
 * running stack) can share it. <bpffs> is $SLUICE_BPFFS or /sys/fs/bpf.
 */
#ifndef SLUICE_GATE_H
#define SLUICE_GATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

enum sl_gate_mode { SL_GATE_MODE_AUTO = 0, SL_GATE_MODE_NATIVE, SL_GATE_MODE_GENERIC };

enum sl_rule_kind { SL_RULE_OWNED = 1, SL_RULE_PORT, SL_RULE_TUPLE };

/* A steering rule in user-space form. Addresses are 16 bytes: IPv6 as they are, IPv4
 * IPv4-mapped (::ffff:a.b.c.d). A port rule without an address matches both families; ICMP
 * (proto 1) rules are IPv4 only, ICMPv6 (proto 58) rules IPv6 only; a tuple's two addresses
 * are of one family. docs/gate.md has the matching order. */
struct sl_rule {
	uint32_t id; /* assigned by sl_gate_rule_add */
	enum sl_rule_kind kind;
	uint8_t proto;	   /* 0 for owned; IPPROTO_TCP, _UDP, _ICMP or _ICMPV6 otherwise */
	bool has_addr;	   /* port rule restricted to a destination address */
	uint8_t addr[16];  /* owned address, or port rule's destination, or tuple daddr */
	uint16_t port;	   /* host order; port rules and tuple dport */
	uint8_t raddr[16]; /* tuple only: remote (source) address */
	uint16_t rport;	   /* tuple only: remote (source) port, host order */
	int32_t queue;	   /* -1 any */
	/* Tuple only: the flow belongs to the stack serving queue home (0..63), whichever queue
	 * its frames arrive on. They are still delivered to the socket of the queue they arrive
	 * on (the only one that can take them), marked for home; an AF_XDP device in a handoff
	 * group (sl_xsk_group) passes them on. docs/gate.md. */
	bool has_home;
	uint32_t home;
	uint64_t packets; /* filled by sl_gate_rule_list */
	uint64_t bytes;
};

struct sl_gate; /* an open handle on an attached gate */

/* Load and attach the gate to ifname (no-op returning 0 when already attached by sluice).
 * mode AUTO tries native XDP and falls back to generic with a message on stderr.
 * *mode_out (may be NULL) receives the mode in use. */
int sl_gate_attach(const char *ifname, enum sl_gate_mode mode, enum sl_gate_mode *mode_out);
/* Detach the program and remove every pin of this interface. -ENOENT if not attached. */
int sl_gate_detach(const char *ifname);
/* Open the maps of the gate attached to ifname (found through the interface, not the pins).
 * -ENOENT: no gate attached. */
int sl_gate_open(const char *ifname, struct sl_gate **out);
void sl_gate_close(struct sl_gate *g);
/* Is the program this handle was opened on still the one attached to its interface? 0: yes.
 * -ENODEV: the interface is gone (deleted or moved out of this namespace); -ENOENT: no XDP
 * program is attached any more (`sluice detach`, `ip link set DEV xdp off`); -ESTALE: another
 * program replaced it (its maps are not ours). One netlink query by interface index (a new
 * interface that took the name is not this one); for a periodic check, not per packet. */
int sl_gate_check(struct sl_gate *g);
/* true when sluice's program is attached to ifname. */
bool sl_gate_attached(const char *ifname);

/* Rules. add assigns r->id; -EEXIST for a duplicate, -ENOSPC when full, -EINVAL for a rule
 * the gate could never match, -EAFNOSUPPORT for a tuple mixing IPv4 and IPv6, -EOPNOTSUPP for a
 * home on a gate attached by a build that predates homes (detach and attach it again). */
int sl_gate_rule_add(struct sl_gate *g, struct sl_rule *r);
int sl_gate_rule_del(struct sl_gate *g, uint32_t id); /* -ENOENT if no such rule */
/* Fill up to max rules (with counters); returns the number of rules or -errno. */
int sl_gate_rule_list(struct sl_gate *g, struct sl_rule *rules, int max);

/* Whether the attached gate can mark frames for a tuple's home (1) or predates homes (0). */
int sl_gate_has_homes(struct sl_gate *g);

/* Put an AF_XDP socket fd into the XSKMAP slot for queue (fd < 0 removes it). */
int sl_gate_set_socket(struct sl_gate *g, uint32_t queue, int xsk_fd);

/* Verdict counters summed over CPUs; n = SL_GATE_N_COUNTERS entries. */
int sl_gate_counters(struct sl_gate *g, uint64_t *vals, size_t n);
const char *sl_gate_counter_name(unsigned i);
unsigned sl_gate_n_counters(void);

/* The directory holding this interface's pins (for messages and for the stats files). */
int sl_gate_pin_dir(const char *ifname, char *buf, size_t len);

#endif
