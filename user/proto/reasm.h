/* IPv4 reassembly state (RFC 791 §3.2, RFC 815), bounded in datagrams, bytes and time. */
#ifndef SL_PROTO_REASM_H
#define SL_PROTO_REASM_H

#include <stdbool.h>
#include <stdint.h>
#include "util/timer.h"

#define SL_REASM_MAX_PAYLOAD (65535 - 20) /* RFC 791: total length is 16 bits */

struct sl_reasm_entry {
	bool used;
	bool have_first; /* fragment offset 0 arrived: hdr is valid */
	bool bcast;
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint32_t
	    total; /* payload length, known once the last fragment (MF=0) arrived; 0 = unknown */
	uint32_t received; /* payload bytes held */
	uint32_t max_end;  /* highest payload offset + 1 seen */
	uint32_t alloc;	   /* bytes allocated for buf */
	uint32_t charged;  /* bytes charged to the budgets: buf and the block bitmap */
	uint8_t hdr[20];   /* first fragment's header (options dropped) */
	uint8_t *buf;	   /* 20 bytes for the header, then the payload */
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

#endif
