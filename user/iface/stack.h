/*
 * The stack's private state. Protocol modules include this; applications see
 * only include/sluice/. One struct sl_stack per device queue, no globals.
 */
#ifndef SL_IFACE_STACK_H
#define SL_IFACE_STACK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "sluice/stack.h"
#include "sluice/icmp.h"
#include "proto/arp.h"
#include "proto/reasm.h"
#include "proto/udp.h"
#include "proto/tcp.h"
#include "util/rng.h"
#include "util/timer.h"

#define STAT_INC(st, name) ((st)->stats->c[SL_STAT_##name]++)
#define STAT_ADD(st, name, n) ((st)->stats->c[SL_STAT_##name] += (n))

/* Room reserved in front of an L4 header in frames we build: Ethernet + IPv4 without options. */
#define SL_L3_OFF 14
#define SL_L4_OFF (14 + 20)

struct sl_addr4 {
	uint32_t addr;
	uint32_t mask;
	uint8_t plen;
};

struct sl_stack {
	struct sl_dev *dev;
	struct sl_stack_config cfg;
	uint8_t mac[6];
	uint32_t mtu;
	struct sl_addr4 v4[SL_MAX_ADDRS];
	unsigned n_v4;
	uint32_t gw4; /* 0: none */

	struct sl_stats own_stats;
	struct sl_stats *stats; /* &own_stats, or the published mapping */
	void *stats_map;
	size_t stats_map_len;
	struct sl_stats_file *stats_hdr;
	struct sl_conns_file *conns_hdr; /* published connection table, or NULL */
	size_t conns_map_len;
	struct sl_tcp_conn *conns_tmp;
	uint64_t dev_stats_at; /* when the device's kernel counters were last read */

	struct sl_timers timers;
	struct sl_rng rng;
	uint64_t now;

	struct sl_arp arp;
	struct sl_reasm reasm;
	struct sl_udp udp;
	struct sl_tcp tcp;

	uint64_t icmp_tokens_ns; /* token bucket, kept in "ns of credit" */
	uint64_t icmp_last;
	uint16_t ip_id;
	sl_icmp_echo_cb echo_cb;
	void *echo_arg;

	volatile sig_atomic_t stop;
};

/* Ownership result of an input handler: the handler either keeps the frame (queued for output,
 * waiting for ARP …) or hands it back for release. */
enum sl_rx_result { SL_RX_RELEASE = 0, SL_RX_KEPT = 1 };

/* iface: output */
int sl_iface_alloc(struct sl_stack *st, struct sl_frame *f);
void sl_iface_release(struct sl_stack *st, const struct sl_frame *f);
/* Queue a complete Ethernet frame for transmission (takes the frame). */
void sl_iface_tx(struct sl_stack *st, struct sl_frame *f);

/* addresses */
bool sl_iface_owns4(const struct sl_stack *st, uint32_t a);
bool sl_iface_is_bcast4(const struct sl_stack *st, uint32_t a);
/* Route to dst: next hop and source address. -ENETUNREACH without one. */
int sl_iface_route4(const struct sl_stack *st, uint32_t dst, uint32_t *nexthop, uint32_t *src);

/* A received, validated IPv4 datagram as the transport layers see it. */
struct sl_ip4_pkt {
	const uint8_t *ip; /* IPv4 header; the transport bytes follow it contiguously */
	const uint8_t *l4; /* transport header */
	size_t l4len;	   /* transport bytes (header + payload) */
	uint32_t src, dst; /* host order */
	uint8_t proto;
	bool bcast;		/* to a broadcast/multicast address, IP or link layer */
	struct sl_frame *frame; /* the frame holding it; NULL for a reassembled datagram */
};

/* proto entry points used by the poll loop */
enum sl_rx_result sl_arp_input(struct sl_stack *st, struct sl_frame *f);
enum sl_rx_result sl_ipv4_input(struct sl_stack *st, struct sl_frame *f, bool l2_bcast);
/* Hand a complete datagram to its transport (input, and reassembly when a datagram completes). */
enum sl_rx_result sl_ipv4_deliver(struct sl_stack *st, struct sl_ip4_pkt *pkt);
enum sl_rx_result sl_icmp_input(struct sl_stack *st, struct sl_ip4_pkt *pkt);
enum sl_rx_result sl_udp_input(struct sl_stack *st, struct sl_ip4_pkt *pkt);
enum sl_rx_result sl_tcp_input(struct sl_stack *st, struct sl_ip4_pkt *pkt);
bool sl_tcp_icmp_error(struct sl_stack *st, int err, const uint8_t *quoted, size_t qlen);
/* An ICMP error about a datagram we sent, delivered to the transport it concerns: quoted
 * points at the quoted IPv4 header, qlen bytes of it. Returns true when someone took it. */
bool sl_udp_icmp_error(struct sl_stack *st, int err, const uint8_t *quoted, size_t qlen);

/* Send an IPv4 packet whose L4 bytes (l4len of them) already sit at f->data + SL_L4_OFF. Takes
 * the frame in every case. src 0 = source selection. Fragments when larger than the MTU
 * (unless df: -EMSGSIZE). */
int sl_ipv4_output(struct sl_stack *st, struct sl_frame *f, size_t l4len, uint32_t src,
		   uint32_t dst, uint8_t proto, uint8_t ttl, bool df);
/* Send an IPv4 datagram whose transport bytes are the concatenation of n pieces (header,
 * payload …), fragmenting as needed (RFC 791 §3.2). */
struct sl_piece {
	const void *p;
	size_t len;
};
int sl_ipv4_send(struct sl_stack *st, uint32_t src, uint32_t dst, uint8_t proto, uint8_t ttl,
		 bool df, const struct sl_piece *pieces, int n);
/* The same, for a caller that already routed (src and nexthop from sl_iface_route4): one
 * route lookup per packet, not two. */
int sl_ipv4_send_via(struct sl_stack *st, uint32_t src, uint32_t dst, uint32_t nexthop,
		     uint8_t proto, uint8_t ttl, bool df, const struct sl_piece *pieces, int n);

/* ICMP error about a received datagram (RFC 1122 §3.2.2 rules applied here). */
void sl_icmp_send_error(struct sl_stack *st, const struct sl_ip4_pkt *pkt, uint8_t type,
			uint8_t code, uint32_t rest);

#endif
