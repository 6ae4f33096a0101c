/* ICMPv4 (API.md: ICMP; RFC 792). */
#ifndef SLUICE_ICMP_H
#define SLUICE_ICMP_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/ip.h"

struct sl_stack;

/* Send an ICMP message: msg[0..len) starts with the ICMP header; the checksum is computed here. */
int sl_icmp_write(struct sl_stack *st, const sl_ip *dst, const struct sl_ip_opts *o,
		  const uint8_t *msg, size_t len);

/* Called for every echo reply the stack receives (e.g. for a ping client). */
typedef void (*sl_icmp_echo_cb)(void *arg, const sl_ip *src, uint16_t id, uint16_t seq,
				const uint8_t *data, size_t len);
void sl_icmp_on_echo_reply(struct sl_stack *st, sl_icmp_echo_cb cb, void *arg);

#endif
