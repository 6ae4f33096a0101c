/*
 * Frame pool with owner tracking. Each fixed-size frame of a device's buffer
 * area (the UMEM for AF_XDP) has exactly one owner; every hand-over names the
 * owner it expects, and a mismatch (a frame coming back from a place it was not
 * in) is counted instead of corrupting the free list.
 */
#ifndef SL_DEV_FRAMES_H
#define SL_DEV_FRAMES_H

#include <stdint.h>
#include "sluice/dev.h"

struct sl_frame_pool {
	uint8_t *base;
	uint32_t frame_size; /* power of two */
	uint32_t frame_shift; /* log2(frame_size): an address's frame is a shift, not a divide */
	uint32_t n;
	uint8_t *owner;
	uint32_t *free; /* stack of frame indices owned by SL_OWN_FREE */
	uint32_t nfree;
	uint64_t count[SL_OWN_N];
	uint64_t errors;
};

int sl_pool_init(struct sl_frame_pool *p, uint8_t *base, uint32_t n, uint32_t frame_size);
void sl_pool_free(struct sl_frame_pool *p);

static inline uint32_t sl_pool_index(const struct sl_frame_pool *p, uint64_t addr)
{
	return (uint32_t)(addr >> p->frame_shift);
}

/* Take a frame from the free list for new_owner (not SL_OWN_FREE); returns its index or
 * -ENOBUFS. */
static inline int64_t sl_pool_take(struct sl_frame_pool *p, enum sl_frame_owner new_owner)
{
	if (!p->nfree || new_owner == SL_OWN_FREE)
		return -105; /* -ENOBUFS */
	uint32_t i = p->free[--p->nfree];
	p->owner[i] = (uint8_t)new_owner;
	p->count[SL_OWN_FREE]--;
	p->count[new_owner]++;
	return i;
}

/* Hand frame i from `from` to `to`; returns 0, or -1 (and counts an error) if i was not
 * owned by `from` or is out of range — the frame is then left where it is. */
static inline int sl_pool_move(struct sl_frame_pool *p, uint32_t i, enum sl_frame_owner from,
			       enum sl_frame_owner to)
{
	/* A free frame sits on the free stack: it leaves only through sl_pool_take. */
	if (i >= p->n || p->owner[i] != from || from == SL_OWN_FREE) {
		p->errors++;
		return -1;
	}
	p->owner[i] = (uint8_t)to;
	p->count[from]--;
	p->count[to]++;
	if (to == SL_OWN_FREE)
		p->free[p->nfree++] = i;
	return 0;
}

void sl_pool_counts(const struct sl_frame_pool *p, struct sl_dev_counts *c);

#endif
