/* UDP socket table (RFC 768). */
#ifndef SL_PROTO_UDP_H
#define SL_PROTO_UDP_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/udp.h"

struct sl_udp_dgram; /* a queued datagram (callback-less sockets) */

struct sl_udp_sock {
	uint16_t port;
	sl_udp_recv_cb cb;
	void *arg;
	sl_udp_err_cb err_cb;
	void *err_arg;
	struct sl_udp_dgram *head, *tail;
	size_t queued; /* bytes charged to the queue: payload plus per-datagram bookkeeping */
};

struct sl_ip_pkt;
struct sl_udp {
	uint16_t *by_port; /* 65536 entries: index+1 into socks, 0 = none */
	struct sl_udp_sock *socks;
	uint32_t nsocks, cap;
	uint16_t next_ephemeral;
	/* The datagram a receive callback is being given (sl_udp_reply turns it into the
	 * reply): NULL outside a callback. */
	const struct sl_udp_meta *cur_meta;
	const struct sl_udp_icmp *cur_icmp; /* the error being reported (sl_udp_icmp_detail) */
	struct sl_ip_pkt *cur_pkt;
	bool cur_taken; /* its frame became the reply */
	/* Its payload and the payload's verified sum (RFC 1071, folded): a reply that sends
	 * the same bytes back (sl_udp_write of data, len from the callback) copies them without
	 * summing them again. cur_data is NULL when there is no verified sum. */
	const uint8_t *cur_data;
	size_t cur_dlen;
	uint64_t cur_dsum;
};

struct sl_stack;
int sl_udp_init(struct sl_stack *st);
void sl_udp_fini(struct sl_stack *st);

#endif
