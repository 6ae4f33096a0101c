/*
 * The impairment model of sluice-relay (see relay.h and docs/relay.md). A frame's path:
 *
 *   arrival ─► bottleneck queue (rate, tail drop) ─► wire (loss) ─► delay line ─► departure
 *                                                       └─► duplicate (own jitter)
 *
 * Every random decision of a frame is drawn at its arrival from its own stream (loss,
 * Gilbert-Elliott, duplication, reordering, jitter), whatever happens to the frame later: the
 * loss pattern of a seed stays the same when jitter or a rate is added, and a run can be
 * replayed from its seed and its sequence of frames.
 */
#include "relay.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t v = 1;
	while (v < n && v < (1u << 31))
		v <<= 1;
	return v;
}

/* True with probability prob: 53 random bits against prob, so 0 never and 1 always. */
static bool chance(struct sl_rng *r, double prob)
{
	return (double)(sl_rng_next(r) >> 11) * 0x1p-53 < prob;
}

int imp_pool_init(struct imp_pool *p, uint32_t n, size_t frame_size)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->frame_size = frame_size;
	/* Mapped, not malloc'ed: pages are touched only when a frame is first used, so a
	 * large bound costs memory only when the queues really grow. */
	p->buf = mmap(NULL, (size_t)n * frame_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->buf == MAP_FAILED) {
		p->buf = NULL;
		return -ENOMEM;
	}
	p->free = calloc(n, sizeof(*p->free));
	p->depart = calloc(n, sizeof(*p->depart));
	p->len = calloc(n, sizeof(*p->len));
	if (!p->free || !p->depart || !p->len) {
		imp_pool_free(p);
		return -ENOMEM;
	}
	/* Lowest indices on top: a small working set stays in few pages. */
	for (uint32_t i = 0; i < n; i++)
		p->free[i] = n - 1 - i;
	p->nfree = n;
	return 0;
}

void imp_pool_free(struct imp_pool *p)
{
	if (p->buf)
		munmap(p->buf, (size_t)p->n * p->frame_size);
	free(p->free);
	free(p->depart);
	free(p->len);
	memset(p, 0, sizeof(*p));
}

int imp_dir_init(struct imp_dir *d, const struct imp_cfg *c, uint32_t pool_n, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->c = *c;
	/* Separate streams, so one impairment's draws never shift another's. */
	uint64_t s = seed;
	sl_rng_seed(&d->rng_loss, sl_splitmix64(&s));
	sl_rng_seed(&d->rng_ge, sl_splitmix64(&s));
	sl_rng_seed(&d->rng_dup, sl_splitmix64(&s));
	sl_rng_seed(&d->rng_reorder, sl_splitmix64(&s));
	sl_rng_seed(&d->rng_jitter, sl_splitmix64(&s));

	/* The FIFO and the heap hold pool indices: neither can hold more than the pool. */
	uint32_t fifo_n = pow2_at_least(pool_n);
	d->fifo = calloc(fifo_n, sizeof(*d->fifo));
	d->fifo_mask = fifo_n - 1;
	d->heap = calloc(pool_n, sizeof(*d->heap));
	if (!d->fifo || !d->heap)
		goto fail;
	if (c->rate_bps) {
		/* One entry per frame admitted to the bottleneck queue, at most limit_pkts. */
		uint32_t rq_n = pow2_at_least((uint64_t)c->limit_pkts + 1);
		d->rq_end = calloc(rq_n, sizeof(*d->rq_end));
		d->rq_len = calloc(rq_n, sizeof(*d->rq_len));
		d->rq_mask = rq_n - 1;
		if (!d->rq_end || !d->rq_len)
			goto fail;
	}
	return 0;
fail:
	imp_dir_free(d);
	return -ENOMEM;
}

void imp_dir_free(struct imp_dir *d)
{
	free(d->fifo);
	free(d->heap);
	free(d->rq_end);
	free(d->rq_len);
	d->fifo = d->heap = d->rq_len = NULL;
	d->rq_end = NULL;
}

/* --- heap of reordered frames, keyed by departure -------------------------------------- */

static void heap_push(struct imp_dir *d, const struct imp_pool *p, uint32_t idx)
{
	uint32_t i = d->heap_n++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (p->depart[d->heap[parent]] <= p->depart[idx])
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = idx;
}

static uint32_t heap_pop(struct imp_dir *d, const struct imp_pool *p)
{
	uint32_t top = d->heap[0];
	uint32_t last = d->heap[--d->heap_n];
	uint32_t i = 0, n = d->heap_n;
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		if (l >= n)
			break;
		m = l;
		if (l + 1 < n && p->depart[d->heap[l + 1]] < p->depart[d->heap[l]])
			m = l + 1;
		if (p->depart[last] <= p->depart[d->heap[m]])
			break;
		d->heap[i] = d->heap[m];
		i = m;
	}
	if (n)
		d->heap[i] = last;
	return top;
}

/* --- arrival ------------------------------------------------------------------------------ */

static bool draw_loss(struct imp_dir *d)
{
	bool lost = chance(&d->rng_loss, d->c.loss);
	if (d->c.ge) {
		/* Gilbert-Elliott: the frame is lost with the loss probability of the state the
		 * channel is in, then the channel moves (good -> bad with p, bad -> good with r).
		 */
		if (chance(&d->rng_ge, d->ge_bad ? d->c.ge_bad_loss : d->c.ge_good_loss))
			lost = true;
		if (chance(&d->rng_ge, d->ge_bad ? d->c.ge_r : d->c.ge_p))
			d->ge_bad = !d->ge_bad;
	}
	return lost;
}

static uint64_t draw_jitter(struct imp_dir *d, uint64_t base)
{
	if (!d->c.jitter_ns)
		return base + d->c.delay_ns;
	uint64_t j = d->c.jitter_ns;
	uint64_t v = sl_rng_below(&d->rng_jitter, 2 * j + 1); /* delay - j .. delay + j */
	uint64_t off = d->c.delay_ns + v;
	/* delay - jitter below zero is cut at zero: a frame never leaves before it arrived. */
	return off >= j ? base + off - j : base;
}

/* Serialisation time of len bytes at the configured rate, rounded to the nearest ns. */
static uint64_t ser_ns(const struct imp_dir *d, uint32_t len)
{
	unsigned __int128 bits = (unsigned __int128)(len + d->c.overhead) * 8 * 1000000000u;
	return (uint64_t)((bits + d->c.rate_bps / 2) / d->c.rate_bps);
}

/* Forgets bottleneck-queue entries fully serialised by now. */
static void rq_expire(struct imp_dir *d, uint64_t now)
{
	while (d->rq_head != d->rq_tail && d->rq_end[d->rq_head & d->rq_mask] <= now) {
		d->rq_bytes -= d->rq_len[d->rq_head & d->rq_mask];
		d->rq_head++;
	}
}

static void hold(struct imp_dir *d, struct imp_pool *p, uint32_t idx, uint32_t len, uint64_t dep,
		 bool reordered)
{
	p->len[idx] = len;
	if (reordered) {
		p->depart[idx] = dep;
		heap_push(d, p, idx);
	} else {
		/* Jitter never reorders the FIFO: a frame leaves no earlier than the one before
		 * it (netem's behaviour with a rate). Reordering is what --reorder is for. */
		if (dep < d->last_depart)
			dep = d->last_depart;
		d->last_depart = dep;
		p->depart[idx] = dep;
		d->fifo[d->fifo_tail++ & d->fifo_mask] = idx;
	}
	d->held_frames++;
	d->held_bytes += len;
	if (d->held_frames > d->st.max_held_frames)
		d->st.max_held_frames = d->held_frames;
	if (d->held_bytes > d->st.max_held_bytes)
		d->st.max_held_bytes = d->held_bytes;
}

int imp_arrive(struct imp_dir *d, struct imp_pool *p, uint64_t now, uint32_t len, uint32_t idx[2])
{
	/* Every draw happens for every frame, in the same order (see the top of the file). */
	bool lost = draw_loss(d);
	bool dup = chance(&d->rng_dup, d->c.dup);
	bool reord = chance(&d->rng_reorder, d->c.reorder);
	uint64_t jit1 = draw_jitter(d, 0), jit2 = draw_jitter(d, 0);

	uint64_t on_wire = now; /* when the last bit has left the bottleneck */
	if (d->c.rate_bps) {
		rq_expire(d, now);
		uint32_t frames = d->rq_tail - d->rq_head;
		if (frames + 1 > d->c.limit_pkts ||
		    (d->c.limit_bytes && d->rq_bytes + len > d->c.limit_bytes)) {
			d->st.dropped_queue++;
			return 0;
		}
		uint64_t start = d->ser_end > now ? d->ser_end : now;
		d->ser_end = start + ser_ns(d, len);
		on_wire = d->ser_end;
		d->rq_end[d->rq_tail & d->rq_mask] = d->ser_end;
		d->rq_len[d->rq_tail & d->rq_mask] = len;
		d->rq_tail++;
		d->rq_bytes += len;
		frames++;
		if (frames > d->st.max_queue_frames)
			d->st.max_queue_frames = frames;
		if (d->rq_bytes > d->st.max_queue_bytes)
			d->st.max_queue_bytes = d->rq_bytes;
	}
	/* Lost on the wire: the frame used its share of the rate, like a real link. */
	if (lost) {
		d->st.dropped_loss++;
		return 0;
	}
	int n = 0;
	for (int copy = 0; copy < (dup ? 2 : 1); copy++) {
		if (copy)
			d->st.duplicated++;
		if (!p->nfree) {
			d->st.dropped_pool++;
			continue;
		}
		uint32_t i = p->free[--p->nfree];
		/* The duplicate is a copy made on the path: in order, with its own jitter. */
		bool r = reord && !copy;
		uint64_t dep = r ? on_wire + d->c.reorder_delay_ns : on_wire + (copy ? jit2 : jit1);
		if (r)
			d->st.reordered++;
		hold(d, p, i, len, dep, r);
		idx[n++] = i;
	}
	return n;
}

/* --- departure ------------------------------------------------------------------------------ */

uint64_t imp_next_departure(const struct imp_dir *d, const struct imp_pool *p)
{
	uint64_t t = UINT64_MAX;
	if (d->fifo_head != d->fifo_tail)
		t = p->depart[d->fifo[d->fifo_head & d->fifo_mask]];
	if (d->heap_n && p->depart[d->heap[0]] < t)
		t = p->depart[d->heap[0]];
	return t;
}

int64_t imp_pop_due(struct imp_dir *d, const struct imp_pool *p, uint64_t now)
{
	bool have_f = d->fifo_head != d->fifo_tail;
	uint64_t tf = have_f ? p->depart[d->fifo[d->fifo_head & d->fifo_mask]] : UINT64_MAX;
	uint64_t th = d->heap_n ? p->depart[d->heap[0]] : UINT64_MAX;
	if (th < tf) {
		if (th > now)
			return -1;
		return heap_pop(d, p);
	}
	if (!have_f || tf > now)
		return -1;
	return d->fifo[d->fifo_head++ & d->fifo_mask];
}

void imp_release(struct imp_dir *d, struct imp_pool *p, uint32_t idx)
{
	d->held_frames--;
	d->held_bytes -= p->len[idx];
	p->free[p->nfree++] = idx;
}

void imp_drain(struct imp_dir *d, struct imp_pool *p)
{
	int64_t i;
	while ((i = imp_pop_due(d, p, UINT64_MAX)) >= 0) {
		d->st.dropped_exit++;
		imp_release(d, p, (uint32_t)i);
	}
}
