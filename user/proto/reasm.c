/*
 * IPv4 reassembly (RFC 791 §3.2; bookkeeping in 8-byte blocks, the unit fragment offsets
 * are counted in). Defences, each with its own counter:
 *  - a datagram may not grow beyond 65535 bytes (ping of death);
 *  - a fragment that overlaps data already held must carry the same bytes there, or the
 *    whole datagram is dropped (teardrop and overlap-based evasion, cf. RFC 5722 for IPv6);
 *  - memory is budgeted in total and per source, datagrams in progress are bounded, and
 *    an incomplete datagram is dropped after reasm_timeout (RFC 1122 §3.3.2), with an ICMP
 *    time exceeded when its first fragment arrived.
 */
#include "iface/stack.h"
#include "wire/bytes.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_OF(t) ((struct sl_reasm_entry *)((char *)(t)-offsetof(struct sl_reasm_entry, timer)))
#define BLOCKS ((SL_REASM_MAX_PAYLOAD + 7) / 8)
#define ALLOC_STEP 4096u
#define BITMAP_BYTES (BLOCKS / 8 + 1)

static void drop_entry(struct sl_stack *st, struct sl_reasm_entry *e)
{
	sl_timer_cancel(&st->timers, &e->timer);
	st->reasm.mem -= e->charged;
	free(e->buf);
	free(e->have);
	e->buf = NULL;
	e->have = NULL;
	e->used = false;
}

static void reasm_timeout(struct sl_timer *t, void *ctx, uint64_t now)
{
	struct sl_stack *st = ctx;
	struct sl_reasm_entry *e = ENTRY_OF(t);
	STAT_INC(st, ipv4_reasm_timeout);
	/* RFC 792 / RFC 1122 §3.3.2: time exceeded (code 1) when fragment zero is here. */
	if (e->have_first && e->received >= 8) {
		memcpy(e->buf, e->hdr, 20);
		struct sl_ip4_pkt pkt = {
		    .ip = e->buf,
		    .l4 = e->buf + 20,
		    .l4len = 8,
		    .src = e->src,
		    .dst = e->dst,
		    .proto = e->proto,
		    .bcast = e->bcast,
		};
		sl_icmp_send_error(st, &pkt, SL_ICMP_TIME_EXCEEDED, 1, 0);
	}
	drop_entry(st, e);
}

int sl_reasm_init(struct sl_stack *st)
{
	st->reasm.n = st->cfg.reasm_max_datagrams;
	st->reasm.e = calloc(st->reasm.n ? st->reasm.n : 1, sizeof(*st->reasm.e));
	return st->reasm.e ? 0 : -ENOMEM;
}

void sl_reasm_fini(struct sl_stack *st)
{
	for (uint32_t i = 0; st->reasm.e && i < st->reasm.n; i++)
		if (st->reasm.e[i].used)
			drop_entry(st, &st->reasm.e[i]);
	free(st->reasm.e);
	st->reasm.e = NULL;
}

static uint64_t mem_of_src(const struct sl_reasm *r, uint32_t src)
{
	uint64_t m = 0;
	for (uint32_t i = 0; i < r->n; i++)
		if (r->e[i].used && r->e[i].src == src)
			m += r->e[i].charged;
	return m;
}

static struct sl_reasm_entry *find_or_create(struct sl_stack *st, const uint8_t *ip)
{
	struct sl_reasm *r = &st->reasm;
	uint32_t src = sl_ipv4_src(ip), dst = sl_ipv4_dst(ip);
	uint16_t id = sl_ipv4_id(ip);
	uint8_t proto = sl_ipv4_proto(ip);
	struct sl_reasm_entry *free_e = NULL;
	uint32_t from_src = 0;
	for (uint32_t i = 0; i < r->n; i++) {
		struct sl_reasm_entry *e = &r->e[i];
		if (!e->used) {
			if (!free_e)
				free_e = e;
			continue;
		}
		if (e->src == src && e->dst == dst && e->id == id && e->proto == proto)
			return e;
		from_src += e->src == src;
	}
	if (!free_e || from_src >= st->cfg.reasm_max_per_src)
		return NULL; /* no slot, or this source already holds its share of them */
	memset(free_e, 0, sizeof(*free_e));
	free_e->used = true;
	free_e->src = src;
	free_e->dst = dst;
	free_e->id = id;
	free_e->proto = proto;
	sl_timer_init(&free_e->timer, reasm_timeout);
	if (sl_timer_arm(&st->timers, &free_e->timer, st->now + st->cfg.reasm_timeout_ns) < 0) {
		free_e->used = false; /* an entry that could never time out is not taken */
		return NULL;
	}
	return free_e;
}

/* Make room for payload bytes [0, end) within the memory budgets. (The block bitmap, 1 KiB
 * per datagram in progress, is bounded by reasm_max_datagrams rather than charged.) */
static bool grow(struct sl_stack *st, struct sl_reasm_entry *e, uint32_t end)
{
	uint32_t need = 20 + end;
	if (need <= e->alloc)
		return true;
	need = (need + ALLOC_STEP - 1) / ALLOC_STEP * ALLOC_STEP;
	uint32_t extra = need - e->alloc;
	if (st->reasm.mem + extra > st->cfg.reasm_mem ||
	    mem_of_src(&st->reasm, e->src) + extra > st->cfg.reasm_mem_per_src)
		return false;
	uint8_t *b = realloc(e->buf, need);
	if (!b)
		return false;
	e->buf = b;
	if (!e->have && !(e->have = calloc(BITMAP_BYTES, 1)))
		return false;
	st->reasm.mem += extra;
	e->charged += extra;
	e->alloc = need;
	return true;
}

static bool block_held(const struct sl_reasm_entry *e, uint32_t b)
{
	return e->have[b / 8] & (1u << (b % 8));
}

void sl_reasm_input(struct sl_stack *st, struct sl_frame *f, bool bcast)
{
	const uint8_t *ip = f->data + SL_ETH_HLEN;
	unsigned hlen = sl_ipv4_hlen(ip);
	uint32_t off = sl_ipv4_frag_off(ip);
	uint32_t len = sl_ipv4_tot_len(ip) - hlen;
	bool more = sl_ipv4_frag(ip) & SL_IPV4_MF;
	const uint8_t *data = ip + hlen;

	STAT_INC(st, ipv4_frags_rx);
	/* RFC 791: every fragment but the last carries a multiple of 8 bytes. */
	if (len == 0 || (more && (len & 7))) {
		STAT_INC(st, ipv4_reasm_bad_frag);
		return;
	}
	if (off + len > SL_REASM_MAX_PAYLOAD) {
		STAT_INC(st, ipv4_reasm_too_big);
		return;
	}
	struct sl_reasm_entry *e = find_or_create(st, ip);
	if (!e) {
		STAT_INC(st, ipv4_reasm_no_mem);
		return;
	}
	e->bcast |= bcast;
	if (!more) {
		if ((e->total && e->total != off + len) || e->max_end > off + len) {
			/* Two different ends, or an end before data we hold: inconsistent. */
			STAT_INC(st, ipv4_reasm_overlap);
			drop_entry(st, e);
			return;
		}
		e->total = off + len;
	} else if (e->total && off + len > e->total) {
		STAT_INC(st, ipv4_reasm_overlap);
		drop_entry(st, e);
		return;
	}
	if (!grow(st, e, off + len)) {
		STAT_INC(st, ipv4_reasm_no_mem);
		if (!e->received)
			drop_entry(st, e);
		return;
	}
	if (off + len > e->max_end)
		e->max_end = off + len;
	uint8_t *payload = e->buf + 20;
	bool news = false;
	for (uint32_t b = off / 8; b * 8 < off + len; b++) {
		uint32_t bo = b * 8, bl = off + len - bo < 8 ? off + len - bo : 8;
		if (block_held(e, b)) {
			if (memcmp(payload + bo, data + (bo - off), bl) != 0) {
				STAT_INC(st, ipv4_reasm_overlap);
				drop_entry(st, e);
				return;
			}
			continue;
		}
		memcpy(payload + bo, data + (bo - off), bl);
		e->have[b / 8] |= (uint8_t)(1u << (b % 8));
		e->received += bl;
		news = true;
	}
	if (!news) {
		STAT_INC(st, ipv4_reasm_dup);
		return;
	}
	if (off == 0) {
		memcpy(e->hdr, ip, 20);
		e->hdr[0] = 0x45; /* options of the first fragment are not kept */
		e->have_first = true;
	}
	if (!e->total || e->received != e->total)
		return;

	/* Complete: a 20-byte header in front of the payload, then up to the transport. */
	memcpy(e->buf, e->hdr, 20);
	sl_put16(e->buf + 2, (uint16_t)(20 + e->total));
	sl_put16(e->buf + 6, 0);
	struct sl_ip4_pkt pkt = {
	    .ip = e->buf,
	    .l4 = e->buf + 20,
	    .l4len = e->total,
	    .src = e->src,
	    .dst = e->dst,
	    .proto = e->proto,
	    .bcast = e->bcast,
	    .frame = NULL,
	};
	STAT_INC(st, ipv4_reasm_ok);
	sl_ipv4_deliver(st, &pkt);
	drop_entry(st, e);
}
