/* IPv4 and IPv6 reassembly state (RFC 791 §3.2, RFC 815, RFC 8200 §4.5), bounded in datagrams,
 * bytes and time; the budgets are shared by both families. */
#ifndef SL_PROTO_REASM_H
#define SL_PROTO_REASM_H

#include <stdbool.h>
#include <stdint.h>
#include "sluice/ip.h"
#include "util/timer.h"

#define SL_REASM_MAX_PAYLOAD (65535 - 20) /* RFC 791: total length is 16 bits */

struct sl_reasm_entry {
	bool used;
	bool v6;
	bool have_first; /* fragment offset 0 arrived: hdr is valid */
	bool bcast;
	sl_ip src, dst;
	uint32_t id; /* IPv4: 16 bits; IPv6: 32 */
	uint8_t proto;
	uint32_t
	    total; /* payload length, known once the last fragment (MF=0) arrived; 0 = unknown */
	uint32_t received; /* payload bytes held */
	uint32_t max_end;  /* highest payload offset + 1 seen */
	uint32_t first_len; /* payload bytes the fragment at offset 0 carried */
	uint32_t alloc;	   /* bytes allocated for buf */
	uint32_t charged;  /* bytes charged to the budgets: buf and the block bitmap */
	uint8_t hdr[40];   /* first fragment's IP header: IPv4 without options, or IPv6's fixed
			    * header (the extension headers before the fragment header dropped) */
	uint8_t *buf;	   /* 40 bytes of room for the header, then the payload */
	uint8_t *have;	   /* bitmap of 8-byte blocks held */
	struct sl_timer timer;
};

struct sl_reasm {
	struct sl_reasm_entry *e;
	uint32_t n;
	uint64_t mem; /* bytes allocated over all entries */
};

struct sl_stack;
struct sl_frame;
int sl_reasm_init(struct sl_stack *st);
void sl_reasm_fini(struct sl_stack *st);
/* Take one fragment (validated IPv4 in f at SL_ETH_HLEN). Delivers the datagram when it
 * completes. The frame is always left to the caller to release. */
void sl_reasm_input(struct sl_stack *st, struct sl_frame *f, bool bcast);
/* One IPv6 fragment: hdr is the packet's fixed header, proto the Next Header after the
 * fragment header, data/len the fragmentable part, off in bytes. */
struct sl_frag6 {
	const uint8_t *hdr;
	sl_ip src, dst;
	uint32_t id, off, len;
	bool more, bcast;
	uint8_t proto;
	const uint8_t *data;
};
void sl_reasm_input6(struct sl_stack *st, const struct sl_frag6 *fr);

#endif
