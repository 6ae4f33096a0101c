/*
 * UDP (API.md: UDP; RFC 768, host rules from RFC 1122 §4.1).
 *
 * A listener receives datagrams for a local port, either through a callback (called
 * from sl_stack_poll, data valid only during the call and read-only) or, with no callback, through a
 * bounded queue read with sl_udp_recv. ICMP errors about datagrams the port sent are
 * reported to its error callback as a negative errno (-ECONNREFUSED for port
 * unreachable, -EHOSTUNREACH, -ENETUNREACH, -EMSGSIZE for fragmentation needed).
 */
#ifndef SLUICE_UDP_H
#define SLUICE_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sluice/ip.h"

struct sl_stack;

/* Where a datagram came from and went to. */
struct sl_udp_meta {
	sl_ip src, dst;
	uint16_t src_port, dst_port;
};

typedef void (*sl_udp_recv_cb)(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
			       const uint8_t *data, size_t len);
typedef void (*sl_udp_err_cb)(void *arg, struct sl_stack *st, int err, const struct sl_udp_meta *m);

/* Listen on port (1..65535; anything else: -EINVAL; taken: -EADDRINUSE). cb NULL queues
 * datagrams for sl_udp_recv, up to the stack's udp_rcvbuf bytes (excess counted and
 * dropped). */
int sl_udp_listen(struct sl_stack *st, int port, sl_udp_recv_cb cb, void *arg);
int sl_udp_unlisten(struct sl_stack *st, int port); /* -ENOENT if not listening */
int sl_udp_on_error(struct sl_stack *st, int port, sl_udp_err_cb cb, void *arg);
/* The ICMP or ICMPv6 error being reported, inside an error callback (NULL elsewhere): its
 * type and code, who sent it, the path MTU a Packet Too Big gives (else 0), and the part of
 * our datagram's payload it quotes (after the UDP header; valid during the callback). */
struct sl_udp_icmp {
	uint8_t type, code;
	sl_ip from;
	uint32_t info;
	const uint8_t *payload;
	size_t payload_len;
};
const struct sl_udp_icmp *sl_udp_icmp_detail(struct sl_stack *st);

/* Take the oldest queued datagram of a callback-less listener: bytes copied (truncated to
 * cap), -EAGAIN when empty. m may be NULL. */
int sl_udp_recv(struct sl_stack *st, int port, void *buf, size_t cap, struct sl_udp_meta *m);

struct sl_udp_write_opts {
	const sl_ip *src; /* NULL: source selection */
	int src_port;	  /* 0: the stack picks an ephemeral port (49152..65535) */
	uint8_t ttl;	  /* 0: default */
	bool dont_fragment;
	uint8_t tos; /* the IPv4 TOS byte / IPv6 traffic class (DSCP and ECN bits); default 0 */
};

/* Send one datagram. Larger than the path MTU: fragmented, unless dont_fragment
 * (-EMSGSIZE). Up to 65507 bytes over IPv4, 65527 over IPv6 (the payload length field,
 * RFC 8200). o->src must be an address of ours (-EADDRNOTAVAIL otherwise: a reply to a
 * datagram sent to a broadcast or multicast address comes from source selection, src NULL,
 * RFC 1122 §3.2.1.3). -ENETUNREACH without a route. o may be NULL. */
int sl_udp_write(struct sl_stack *st, const struct sl_udp_write_opts *o, const sl_ip *dst,
		 int dst_port, const void *data, size_t len);

/* The reply in place: from inside a receive callback, the datagram being delivered becomes
 * the reply to its sender, in the frame it arrived in — no copy, no second frame. Its payload
 * is writable through sl_udp_reply_buf (cap: the bytes a reply may carry there, within the
 * path MTU); sl_udp_reply sends len bytes of it from the address and port the datagram was
 * sent to, with the stack's default TTL / hop limit. unchanged: the first len bytes are the
 * datagram's own and len is its length — its checksum is then still right and is not
 * computed again (the sum of the swapped addresses and ports is the same). NULL / -EINVAL
 * when m is not the datagram being delivered, it came from source port 0 (no reply
 * expected, RFC 768), it was sent to a broadcast or multicast
 * address, it was reassembled, its IP header carries options or extension headers, or it was
 * replied to already: sl_udp_write then. -EMSGSIZE above cap. After sl_udp_reply the
 * callback's data must not be touched. (A receive callback never polls its own stack.) */
uint8_t *sl_udp_reply_buf(struct sl_stack *st, const struct sl_udp_meta *m, size_t *cap);
int sl_udp_reply(struct sl_stack *st, const struct sl_udp_meta *m, size_t len, bool unchanged);

/* From inside a receive callback: the datagram being delivered (m) is for nobody after all
 * (a layer above found no socket for it): answered as a port nobody listens on is, with an
 * ICMP port unreachable (RFC 1122 §4.1.3.1; RFC 4443 §3.1), under ICMP's rate limit and
 * never for a broadcast. -EINVAL when m is not the datagram being delivered. */
int sl_udp_unreachable(struct sl_stack *st, const struct sl_udp_meta *m);

#endif
