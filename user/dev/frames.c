#include "dev/frames.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sl_pool_init(struct sl_frame_pool *p, uint8_t *base, uint32_t n, uint32_t frame_size)
{
	memset(p, 0, sizeof(*p));
	p->base = base;
	p->n = n;
	if (!frame_size || (frame_size & (frame_size - 1)))
		return -EINVAL;
	p->frame_size = frame_size;
	p->frame_shift = (uint32_t)__builtin_ctz(frame_size);
	p->owner = calloc(n, 1);
	p->free = calloc(n, sizeof(*p->free));
	if (!p->owner || !p->free) {
		sl_pool_free(p);
		return -ENOMEM;
	}
	/* Lowest indices on top of the stack: handed out first. */
	for (uint32_t i = 0; i < n; i++)
		p->free[i] = n - 1 - i;
	p->nfree = n;
	p->count[SL_OWN_FREE] = n;
	return 0;
}

void sl_pool_free(struct sl_frame_pool *p)
{
	free(p->owner);
	free(p->free);
	p->owner = NULL;
	p->free = NULL;
}

void sl_pool_counts(const struct sl_frame_pool *p, struct sl_dev_counts *c)
{
	c->total = p->n;
	for (int i = 0; i < SL_OWN_N; i++)
		c->owner[i] = p->count[i];
	c->owner_errors = p->errors;
}
