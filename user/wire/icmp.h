/* ICMPv4 messages (RFC 792), error rules from RFC 1122 §3.2.2 and RFC 1812 §4.3.2. */
#ifndef SL_WIRE_ICMP_H
#define SL_WIRE_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wire/bytes.h"

#define SL_ICMP_HLEN 8
#define SL_ICMP_ECHO_REPLY 0
#define SL_ICMP_DEST_UNREACH 3
#define SL_ICMP_SOURCE_QUENCH 4
#define SL_ICMP_REDIRECT 5
#define SL_ICMP_ECHO_REQUEST 8
#define SL_ICMP_TIME_EXCEEDED 11
#define SL_ICMP_PARAM_PROBLEM 12

#define SL_ICMP_PROTO_UNREACH 2
#define SL_ICMP_PORT_UNREACH 3
#define SL_ICMP_FRAG_NEEDED 4

/* 0 when p holds an ICMP message of len bytes with a correct checksum; else SL_STAT_ reason. */
int sl_icmp_check(const uint8_t *p, size_t len);

static inline uint8_t sl_icmp_type(const uint8_t *p)
{
	return p[0];
}
static inline uint8_t sl_icmp_code(const uint8_t *p)
{
	return p[1];
}
static inline uint16_t sl_icmp_csum(const uint8_t *p)
{
	return sl_get16(p + 2);
}
/* Echo identifier / sequence (RFC 792 echo). */
static inline uint16_t sl_icmp_echo_id(const uint8_t *p)
{
	return sl_get16(p + 4);
}
static inline uint16_t sl_icmp_echo_seq(const uint8_t *p)
{
	return sl_get16(p + 6);
}

/* True for the types RFC 1122 §3.2.2 calls error messages (never answered with an error). */
static inline bool sl_icmp_is_error(uint8_t type)
{
	return type == SL_ICMP_DEST_UNREACH || type == SL_ICMP_SOURCE_QUENCH ||
	       type == SL_ICMP_REDIRECT || type == SL_ICMP_TIME_EXCEEDED ||
	       type == SL_ICMP_PARAM_PROBLEM;
}

/* Write an 8-byte ICMP header followed by body[0..body_len) (body may already be in place at
 * p+8) and set the checksum over the whole message. rest is the 4-byte "rest of header". */
void sl_icmp_emit(uint8_t *p, uint8_t type, uint8_t code, uint32_t rest, size_t body_len);

#endif
