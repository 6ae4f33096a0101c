/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by the XDP gate (bpf/gate.bpf.c) and user space (user/dev/gate.c).
 *
 * Addresses are stored as 16 bytes in network order; an IPv4 address is stored
 * IPv4-mapped (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) so IPv6 needs no new map layout.
 * Ports are stored in network byte order, as they appear on the wire.
 */
#ifndef SLUICE_GATE_SHARED_H
#define SLUICE_GATE_SHARED_H

#ifdef __BPF__
#include <linux/types.h>
#else
#include <linux/types.h>
#endif

#define SL_GATE_MAX_QUEUES 64  /* XSKMAP slots: one per RX queue */
#define SL_GATE_MAX_OWNED 256  /* owned addresses */
#define SL_GATE_MAX_RULES 4096 /* rule ids are 1 .. SL_GATE_MAX_RULES-1, shared by all kinds */
#define SL_GATE_V6_EXT_MAX 6   /* IPv6 extension headers the gate walks past (docs/gate.md) */

/* Any packet to addr belongs to sluice; so do ARP (IPv4) and Neighbor Solicitations and
 * Advertisements (IPv6) whose target address is addr. */
struct sl_gate_owned_key {
	__u8 addr[16];
};

/* proto + destination port, optionally + destination address (all-zero addr = any address
 * of either family: such a rule matches IPv4 and IPv6 packets alike). */
struct sl_gate_port_key {
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u8 pad;
	__u16 port; /* network order; 0 for ICMP and ICMPv6 (they have no port) */
	__u8 addr[16];
};

/* Exact 5-tuple as seen on an arriving frame: saddr/sport are the remote end. */
struct sl_gate_tuple_key {
	__u8 proto;
	__u8 pad[3];
	__u16 sport; /* network order */
	__u16 dport; /* network order */
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Value of every rule map (sl_tuples' value begins with it). */
struct sl_gate_rule {
	__u32 id;    /* index into sl_rule_stats */
	__s32 queue; /* only frames arriving on this RX queue match; -1 = any queue */
};

/* Value of sl_tuples. A tuple with a home belongs to the stack serving queue home - 1: frames
 * of it that arrive on another queue are still redirected to the socket of the queue they
 * arrived on (an AF_XDP socket receives only from the queue it is bound to), with a struct
 * sl_gate_meta in front of them, so that socket's device hands them to the home stack. Gates
 * built before homes existed have 8-byte values (no home). */
struct sl_gate_tuple_rule {
	struct sl_gate_rule r;
	__u32 home; /* queue + 1 of the stack that owns the flow; 0: none */
	__u32 pad;
};

/* sl_conf[0]. homes counts the tuple rules with a home, kept by user space under the rules
 * lock: while it is 0 a frame to an owned address costs no tuple lookup. */
struct sl_gate_conf {
	__u32 homes;
	__u32 pad;
};

/* XDP metadata (in front of the frame's data, bpf_xdp_adjust_meta) on a frame of a tuple
 * whose home is another queue. l4 holds the frame's first 8 transport bytes (ports, and the
 * TCP sequence number or the UDP length and checksum) at l4off from the frame's start: a
 * reader accepts the mark only when they match, so a mark left in a recycled buffer's
 * headroom is never taken for the next frame's. */
#define SL_GATE_META_MAGIC 0x534c4831 /* "SLH1" */
struct sl_gate_meta {
	__u32 magic;
	__u16 l4off;
	__u8 home; /* the queue (not + 1) of the stack the frame belongs to */
	__u8 pad;
	__u8 l4[8];
};

/* Per-verdict counters (per-CPU array, index = enum value). */
enum sl_gate_counter {
	SL_GATE_RX = 0,		 /* frames seen by the gate */
	SL_GATE_REDIRECTED,	 /* handed to an AF_XDP socket */
	SL_GATE_PASSED,		 /* no rule matched: kernel */
	SL_GATE_NO_SOCKET,	 /* a rule matched but no socket on that queue: kernel */
	SL_GATE_REDIRECT_FAILED, /* bpf_redirect_map refused: kernel */
	SL_GATE_PARSE_ERROR,	 /* truncated/malformed headers: kernel decides */
	SL_GATE_FRAGMENT,	 /* IPv4 and IPv6 fragments seen (in addition to their verdict) */
	SL_GATE_NON_IP,		 /* neither ARP nor IPv4/IPv6: kernel */
	SL_GATE_EXT_CHAIN_TOO_LONG, /* IPv6 header chain beyond SL_GATE_V6_EXT_MAX: passed */
	SL_GATE_HANDOFF,	    /* marked for the stack of another queue (a tuple's home) */
	SL_GATE_META_FAILED,	    /* could not be marked (no metadata room): delivered as is */
	SL_GATE_ICMP_ERROR, /* ICMP errors quoting a flow of a rule (in addition to the verdict) */
	SL_GATE_N_COUNTERS
};

struct sl_gate_rule_stats {
	__u64 packets;
	__u64 bytes;
};

#define SL_GATE_COUNTER_NAMES                                                                      \
	{                                                                                          \
		"rx", "redirected", "passed", "no_socket", "redirect_failed", "parse_error",       \
		    "fragment", "non_ip", "ext_chain_too_long", "handoff", "meta_failed", "icmp_error"     \
	}

#endif
