/*
 * Reassembly of IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) datagrams; bookkeeping in 8-byte
 * blocks, the unit fragment offsets are counted in. The budgets are shared by both families;
 * the counters are per family. Defences, each with its own counter:
 *  - a datagram may not grow beyond 65535 bytes of payload (ping of death);
 *  - IPv4: a fragment that overlaps data already held must carry the same bytes there, or
 *    the whole datagram is dropped (teardrop and overlap-based evasion). IPv6 (RFC 5722):
 *    any overlap drops the whole datagram; only an exact duplicate of a fragment held is
 *    ignored;
 *  - memory is budgeted in total and per source, datagrams in progress are bounded, and
 *    an incomplete datagram is dropped after reasm_timeout (RFC 1122 §3.3.2, RFC 8200 §4.5),
 *    with an ICMP time exceeded when its first fragment arrived.
 */
#include "iface/stack.h"
#include "wire/bytes.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_OF(t) ((struct sl_reasm_entry *)((char *)(t)-offsetof(struct sl_reasm_entry, timer)))
#define BLOCKS ((SL_REASM_MAX_PAYLOAD + 40 + 7) / 8)
#define ALLOC_STEP 4096u
#define BITMAP_BYTES (BLOCKS / 8 + 1)
#define HROOM 40 /* header room in front of the payload */
#define MAX_PAYLOAD(v6) ((v6) ? 65535u : (uint32_t)SL_REASM_MAX_PAYLOAD)

/* The counters of one family. */
struct reasm_stats {
	unsigned frags_rx, ok, timeout, overlap, too_big, bad_frag, no_mem, dup;
};
static const struct reasm_stats stats4 = {
    SL_STAT_ipv4_frags_rx,     SL_STAT_ipv4_reasm_ok,	    SL_STAT_ipv4_reasm_timeout,
    SL_STAT_ipv4_reasm_overlap, SL_STAT_ipv4_reasm_too_big, SL_STAT_ipv4_reasm_bad_frag,
    SL_STAT_ipv4_reasm_no_mem,	SL_STAT_ipv4_reasm_dup,
};
static const struct reasm_stats stats6 = {
    SL_STAT_ipv6_frags_rx,     SL_STAT_ipv6_reasm_ok,	    SL_STAT_ipv6_reasm_timeout,
    SL_STAT_ipv6_reasm_overlap, SL_STAT_ipv6_reasm_too_big, SL_STAT_ipv6_reasm_bad_frag,
    SL_STAT_ipv6_reasm_no_mem,	SL_STAT_ipv6_reasm_dup,
};
#define CNT(st, v6, field) ((st)->stats->c[((v6) ? &stats6 : &stats4)->field]++)

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

/* The datagram as the transport (or an ICMP error) sees it: header in front of the first
 * l4len payload bytes. */
static struct sl_ip_pkt entry_pkt(struct sl_reasm_entry *e, uint32_t l4len)
{
	struct sl_ip_pkt pkt = {
	    .l4 = e->buf + HROOM,
	    .l4len = l4len,
	    .src = e->src,
	    .dst = e->dst,
	    .proto = e->proto,
	    .v6 = e->v6,
	    .bcast = e->bcast,
	    .frame = NULL,
	};
	if (e->v6) {
		memcpy(e->buf, e->hdr, 40);
		sl_put16(e->buf + 4, (uint16_t)l4len);
		e->buf[6] = e->proto;
		pkt.ip = e->buf;
		pkt.hlim = e->hdr[7];
	} else {
		memcpy(e->buf + 20, e->hdr, 20);
		sl_put16(e->buf + 22, (uint16_t)(20 + l4len));
		sl_put16(e->buf + 26, 0);
		pkt.ip = e->buf + 20;
		pkt.src4 = sl_ip_to_v4(&e->src);
		pkt.dst4 = sl_ip_to_v4(&e->dst);
	}
	pkt.iplen = (size_t)(pkt.l4 - pkt.ip) + l4len;
	return pkt;
}

static void reasm_timeout(struct sl_timer *t, void *ctx, uint64_t now)
{
	struct sl_stack *st = ctx;
	struct sl_reasm_entry *e = ENTRY_OF(t);
	CNT(st, e->v6, timeout);
	/* RFC 792 / RFC 1122 §3.3.2, RFC 8200 §4.5: time exceeded (code 1) when fragment zero is
	 * here. */
	if (e->have_first && e->received >= 8 && e->v6) {
		/* RFC 4443 §3.3: quote the first fragment as it came (fixed header, fragment
		 * header, data; the extension headers before the fragment header are not kept), as
		 * much as fits in the error. */
		uint8_t q[SL_IPV6_MIN_MTU];
		uint32_t data = e->first_len < sizeof(q) - 48 ? e->first_len : sizeof(q) - 48;
		memcpy(q, e->hdr, 40);
		q[6] = 44;
		sl_put16(q + 4, (uint16_t)(8 + e->first_len));
		q[40] = e->proto;
		q[41] = 0;
		sl_put16(q + 42, 1); /* offset 0, M */
		sl_put32(q + 44, e->id);
		memcpy(q + 48, e->buf + HROOM, data);
		struct sl_ip_pkt pkt = {
		    .ip = q,
		    .l4 = q + 48,
		    .l4len = data,
		    .src = e->src,
		    .dst = e->dst,
		    .proto = e->proto,
		    .v6 = true,
		    .bcast = e->bcast,
		    .iplen = 48 + data,
		};
		sl_icmp6_send_error(st, &pkt, 3, 1, 0);
	} else if (e->have_first && e->received >= 8) {
		struct sl_ip_pkt pkt = entry_pkt(e, 8);
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

static bool same_ip(const sl_ip *a, const sl_ip *b)
{
	return !memcmp(a->b, b->b, 16);
}

static uint64_t mem_of_src(const struct sl_reasm *r, const sl_ip *src)
{
	uint64_t m = 0;
	for (uint32_t i = 0; i < r->n; i++)
		if (r->e[i].used && same_ip(&r->e[i].src, src))
			m += r->e[i].charged;
	return m;
}

/* RFC 791: (src, dst, id, proto) names an IPv4 datagram; RFC 8200 §4.5: (src, dst, id) an
 * IPv6 one. */
static struct sl_reasm_entry *find_or_create(struct sl_stack *st, bool v6, const sl_ip *src,
					     const sl_ip *dst, uint32_t id, uint8_t proto)
{
	struct sl_reasm *r = &st->reasm;
	struct sl_reasm_entry *free_e = NULL;
	uint32_t from_src = 0;
	for (uint32_t i = 0; i < r->n; i++) {
		struct sl_reasm_entry *e = &r->e[i];
		if (!e->used) {
			if (!free_e)
				free_e = e;
			continue;
		}
		if (e->v6 == v6 && same_ip(&e->src, src) && same_ip(&e->dst, dst) && e->id == id &&
		    (v6 || e->proto == proto))
			return e;
		from_src += same_ip(&e->src, src);
	}
	if (!free_e || from_src >= st->cfg.reasm_max_per_src)
		return NULL; /* no slot, or this source already holds its share of them */
	memset(free_e, 0, sizeof(*free_e));
	free_e->used = true;
	free_e->v6 = v6;
	free_e->src = *src;
	free_e->dst = *dst;
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
	uint32_t need = HROOM + end;
	if (need <= e->alloc)
		return true;
	need = (need + ALLOC_STEP - 1) / ALLOC_STEP * ALLOC_STEP;
	uint32_t extra = need - e->alloc;
	if (st->reasm.mem + extra > st->cfg.reasm_mem ||
	    mem_of_src(&st->reasm, &e->src) + extra > st->cfg.reasm_mem_per_src)
		return false;
	uint8_t *b = realloc(e->buf, need);
	if (!b)
		return false;
	e->buf = b;
	/* Three bitmaps: blocks held, and (IPv6) where fragments started and ended. */
	if (!e->have && !(e->have = calloc(3 * BITMAP_BYTES, 1)))
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

static bool bit(const uint8_t *map, uint32_t b)
{
	return map[b / 8] & (1u << (b % 8));
}

static void set_bit(uint8_t *map, uint32_t b)
{
	map[b / 8] |= (uint8_t)(1u << (b % 8));
}

/* IPv6: is [first_b, end_b) exactly a fragment held? Fragments held never overlap (an
 * overlap drops the datagram), so it is when one started at first_b, one ended at end_b and
 * none started in between. */
static bool same_fragment(const struct sl_reasm_entry *e, uint32_t first_b, uint32_t end_b)
{
	const uint8_t *starts = e->have + BITMAP_BYTES, *ends = e->have + 2 * BITMAP_BYTES;
	if (!bit(starts, first_b) || !bit(ends, end_b))
		return false;
	for (uint32_t b = first_b + 1; b < end_b; b++)
		if (bit(starts, b))
			return false;
	return true;
}

/* One fragment of either family. hdr: the header to keep when off is 0. */
static void add_fragment(struct sl_stack *st, bool v6, const sl_ip *src, const sl_ip *dst,
			 uint32_t id, uint8_t proto, uint32_t off, uint32_t len, bool more,
			 bool bcast, const uint8_t *data, const uint8_t *hdr)
{
	CNT(st, v6, frags_rx);
	/* RFC 791, RFC 8200 §4.5: every fragment but the last carries a multiple of 8 bytes. */
	if (len == 0 || (more && (len & 7))) {
		CNT(st, v6, bad_frag);
		return;
	}
	if (off + len > MAX_PAYLOAD(v6)) {
		CNT(st, v6, too_big);
		return;
	}
	struct sl_reasm_entry *e = find_or_create(st, v6, src, dst, id, proto);
	if (!e) {
		CNT(st, v6, no_mem);
		return;
	}
	e->bcast |= bcast;
	if (!more) {
		if ((e->total && e->total != off + len) || e->max_end > off + len) {
			/* Two different ends, or an end before data we hold: inconsistent. */
			CNT(st, v6, overlap);
			drop_entry(st, e);
			return;
		}
		e->total = off + len;
	} else if (e->total && off + len > e->total) {
		CNT(st, v6, overlap);
		drop_entry(st, e);
		return;
	}
	if (!grow(st, e, off + len)) {
		CNT(st, v6, no_mem);
		if (!e->received)
			drop_entry(st, e);
		return;
	}
	uint8_t *payload = e->buf + HROOM;
	/* IPv6, RFC 5722 and RFC 8200 §4.5: any overlap abandons the datagram; only an exact
	 * duplicate of a fragment held (same offset, length and bytes) is ignored. */
	uint32_t first_b = off / 8, end_b = (off + len + 7) / 8, held = 0;
	for (uint32_t b = first_b; b < end_b; b++)
		held += block_held(e, b);
	if (v6 && held &&
	    (!same_fragment(e, first_b, end_b) || memcmp(payload + off, data, len) != 0)) {
		CNT(st, v6, overlap);
		drop_entry(st, e);
		return;
	}
	if (v6) {
		set_bit(e->have + BITMAP_BYTES, first_b);
		set_bit(e->have + 2 * BITMAP_BYTES, end_b);
	}
	if (off + len > e->max_end)
		e->max_end = off + len;
	bool news = false;
	for (uint32_t b = first_b; b < end_b; b++) {
		uint32_t bo = b * 8, bl = off + len - bo < 8 ? off + len - bo : 8;
		if (block_held(e, b)) {
			if (memcmp(payload + bo, data + (bo - off), bl) != 0) {
				CNT(st, v6, overlap);
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
		CNT(st, v6, dup);
		return;
	}
	if (off == 0) {
		e->first_len = len;
		memcpy(e->hdr, hdr, v6 ? 40 : 20);
		if (v6)
			e->proto = proto; /* the Next Header of the fragment with offset 0 counts */
		else
			e->hdr[0] = 0x45; /* options of the first fragment are not kept */
		e->have_first = true;
	}
	if (!e->total || e->received != e->total)
		return;

	/* Complete: a header in front of the payload, then up to the transport. */
	struct sl_ip_pkt pkt = entry_pkt(e, e->total);
	CNT(st, v6, ok);
	if (v6)
		sl_ipv6_deliver(st, &pkt);
	else
		sl_ipv4_deliver(st, &pkt);
	drop_entry(st, e);
}

void sl_reasm_input(struct sl_stack *st, struct sl_frame *f, bool bcast)
{
	const uint8_t *ip = f->data + SL_ETH_HLEN;
	unsigned hlen = sl_ipv4_hlen(ip);
	sl_ip src = sl_ip_v4(sl_ipv4_src(ip)), dst = sl_ip_v4(sl_ipv4_dst(ip));
	add_fragment(st, false, &src, &dst, sl_ipv4_id(ip), sl_ipv4_proto(ip), sl_ipv4_frag_off(ip),
		     sl_ipv4_tot_len(ip) - hlen, sl_ipv4_frag(ip) & SL_IPV4_MF, bcast, ip + hlen,
		     ip);
}

void sl_reasm_input6(struct sl_stack *st, const struct sl_frag6 *fr)
{
	add_fragment(st, true, &fr->src, &fr->dst, fr->id, fr->proto, fr->off, fr->len, fr->more,
		     fr->bcast, fr->data, fr->hdr);
}
