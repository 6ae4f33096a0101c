/*
 * In-memory pipe device: two ends joined in one process, for tests that need no
 * root and must be deterministic. Each direction is a link with a seeded fault
 * injector (drop, duplicate, reorder, corrupt, delay with jitter). Frames are
 * copied across, as AF_XDP copy mode does, so each end owns its own pool.
 *
 * A full TX array is flushed onto the link there and then (dev_tx_batch_flush), as the
 * AF_XDP device does, so tx() never refuses a frame; the link's own bound (overflow) is the
 * only place output is lost. There is no fill ring here (rx() takes a frame from the pool
 * as it delivers), so no TX reserve is needed: a frame is taken only for a frame that is
 * handed to the stack at once.
 */
#include "sluice/dev.h"
#include "sluice/stats.h"
#include "dev/frames.h"
#include "util/rng.h"
#include "wire/checksum.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PIPE_FRAMES 1024
#define PIPE_FRAME_SIZE 2048
#define PIPE_LINK_CAP 1024
#define PIPE_TX_BATCH 256
#define PIPE_REORDER_HOLD_NS 1000000ULL /* a held-back frame goes out after 1 ms at most */

struct link_entry {
	uint64_t at;
	uint64_t seq;
	uint32_t len;
	uint32_t buf; /* index into the link's slab */
};

struct pipe_link {
	struct sl_fault fault;
	struct sl_rng rng;
	struct sl_pipe_stats st;
	struct link_entry q[PIPE_LINK_CAP]; /* sorted by (at, seq) */
	unsigned n;
	uint8_t *slab;
	uint32_t freebuf[PIPE_LINK_CAP];
	unsigned nfree;
	uint64_t seq;
	bool clean; /* fault_free(&fault): the short path in link_send */
	bool has_held;
	struct link_entry held;
	uint64_t held_since;
};

struct pipe_end {
	struct sl_dev dev;
	struct sl_frame_pool pool;
	uint8_t *mem;
	struct pipe_link *out, *in;
	struct sl_frame txq[PIPE_TX_BATCH];
	unsigned ntx;
	uint64_t now; /* of the last rx() or flush(): the poll a mid-poll flush belongs to */
	uint64_t rx_nobuf;
	uint64_t batch_flushes;
	uint64_t csum_done; /* checksums finished for the stack (sl_dev_pipe_set_tx_csum) */
	struct pipe_end *peer;
	bool closed;
};

static struct pipe_end *end_of(struct sl_dev *d)
{
	return (struct pipe_end *)d;
}

static bool chance(struct pipe_link *l, uint32_t ppm)
{
	return ppm && sl_rng_below(&l->rng, 1000000) < ppm;
}

static void link_insert(struct pipe_link *l, struct link_entry e)
{
	unsigned i = l->n;
	while (i > 0 &&
	       (l->q[i - 1].at > e.at || (l->q[i - 1].at == e.at && l->q[i - 1].seq > e.seq))) {
		l->q[i] = l->q[i - 1];
		i--;
	}
	l->q[i] = e;
	l->n++;
}

/* Copy a frame into the link, applying duplication and delay; false if the link is full. */
static bool link_put(struct pipe_link *l, const uint8_t *data, uint32_t len, uint64_t now,
		     struct link_entry *out)
{
	if (!l->nfree || l->n >= PIPE_LINK_CAP) {
		l->st.overflow++;
		return false;
	}
	struct link_entry e = {.len = len, .buf = l->freebuf[--l->nfree], .seq = l->seq++};
	memcpy(l->slab + (size_t)e.buf * PIPE_FRAME_SIZE, data, len);
	uint64_t d = l->fault.delay_ns;
	if (l->fault.jitter_ns)
		d += sl_rng_below(&l->rng, l->fault.jitter_ns);
	e.at = now > UINT64_MAX - d ? UINT64_MAX : now + d; /* saturate: flush at close uses MAX */
	*out = e;
	return true;
}

static bool fault_free(const struct sl_fault *f)
{
	return !f->drop_ppm && !f->dup_ppm && !f->reorder_ppm && !f->corrupt_ppm && !f->delay_ns &&
	       !f->jitter_ns;
}

static void link_send(struct pipe_link *l, const uint8_t *data, uint32_t len, uint64_t now)
{
	struct link_entry e;
	l->st.sent++;
	if (l->clean && !l->has_held) {
		/* No faults, no delay: the frame joins the end of the queue (times never go back
		 * within a link, so it sorts last). */
		if (!l->nfree || l->n >= PIPE_LINK_CAP) {
			l->st.overflow++;
			return;
		}
		if (l->n == 0 || l->q[l->n - 1].at <= now) {
			struct link_entry *q = &l->q[l->n++];
			q->at = now;
			q->seq = l->seq++;
			q->len = len;
			q->buf = l->freebuf[--l->nfree];
			memcpy(l->slab + (size_t)q->buf * PIPE_FRAME_SIZE, data, len);
			return;
		}
	}
	if (chance(l, l->fault.drop_ppm)) {
		l->st.dropped++;
		return;
	}
	int copies = chance(l, l->fault.dup_ppm) ? 2 : 1;
	if (copies == 2)
		l->st.duplicated++;
	for (int c = 0; c < copies; c++) {
		if (!link_put(l, data, len, now, &e))
			return;
		if (chance(l, l->fault.corrupt_ppm) && len) {
			uint32_t bit = (uint32_t)sl_rng_below(&l->rng, (uint64_t)len * 8);
			l->slab[(size_t)e.buf * PIPE_FRAME_SIZE + bit / 8] ^=
			    (uint8_t)(1u << (bit % 8));
			l->st.corrupted++;
		}
		if (!l->has_held && chance(l, l->fault.reorder_ppm)) {
			/* Hold this one back; it goes out right after the next frame. */
			l->held = e;
			l->has_held = true;
			l->held_since = now;
			l->st.reordered++;
			continue;
		}
		link_insert(l, e);
		if (l->has_held) {
			l->held.at = e.at;
			l->held.seq = l->seq++;
			link_insert(l, l->held);
			l->has_held = false;
		}
	}
}

static void link_release_held(struct pipe_link *l, uint64_t now)
{
	if (l->has_held && now >= l->held_since + PIPE_REORDER_HOLD_NS) {
		if (l->held.at < now)
			l->held.at = now; /* never earlier than its own delay allows */
		l->held.seq = l->seq++;
		link_insert(l, l->held);
		l->has_held = false;
	}
}

static int pipe_rx(struct sl_dev *d, struct sl_frame *f, int max, uint64_t now)
{
	struct pipe_end *pe = end_of(d);
	struct pipe_link *l = pe->in;
	int got = 0;
	pe->now = now;
	link_release_held(l, now);
	unsigned taken = 0;
	while (taken < l->n && got < max && l->q[taken].at <= now) {
		struct link_entry *e = &l->q[taken++];
		int64_t i = sl_pool_take(&pe->pool, SL_OWN_STACK);
		if (i < 0) {
			pe->rx_nobuf++;
		} else {
			struct sl_frame *fr = &f[got++];
			fr->addr = (uint64_t)i * PIPE_FRAME_SIZE;
			fr->data = pe->mem + fr->addr;
			fr->len = e->len;
			fr->cap = PIPE_FRAME_SIZE;
			fr->csum_start = fr->csum_off = 0;
			memcpy(fr->data, l->slab + (size_t)e->buf * PIPE_FRAME_SIZE, e->len);
			l->st.delivered++;
		}
		l->freebuf[l->nfree++] = e->buf;
	}
	if (taken) {
		memmove(l->q, l->q + taken, (l->n - taken) * sizeof(l->q[0]));
		l->n -= taken;
	}
	return got;
}

static int pipe_alloc(struct sl_dev *d, struct sl_frame *f)
{
	struct pipe_end *pe = end_of(d);
	int64_t i = sl_pool_take(&pe->pool, SL_OWN_STACK);
	if (i < 0)
		return -ENOBUFS;
	f->addr = (uint64_t)i * PIPE_FRAME_SIZE;
	f->data = pe->mem + f->addr;
	f->len = 0;
	f->cap = PIPE_FRAME_SIZE;
	f->csum_start = f->csum_off = 0;
	return 0;
}

static void pipe_release(struct sl_dev *d, const struct sl_frame *f)
{
	struct pipe_end *pe = end_of(d);
	sl_pool_move(&pe->pool, sl_pool_index(&pe->pool, f->addr), SL_OWN_STACK, SL_OWN_FREE);
}

static void pipe_flush(struct sl_dev *d, uint64_t now);

static int pipe_tx(struct sl_dev *d, const struct sl_frame *f)
{
	struct pipe_end *pe = end_of(d);
	uint32_t i = sl_pool_index(&pe->pool, f->addr);
	if (pe->ntx == PIPE_TX_BATCH) {
		/* A full array: send the batch now rather than refuse the frame. */
		pe->batch_flushes++;
		pipe_flush(d, pe->now);
	}
	if (sl_pool_move(&pe->pool, i, SL_OWN_STACK, SL_OWN_TX) < 0)
		return -EINVAL;
	if (f->csum_off && pe->dev.tx_csum) {
		/* The offload, done here as Linux's skb_checksum_help does it. A request outside
		 * the frame is a stack bug: counted. */
		if (sl_csum_finish(f->data, f->len, f->csum_start, f->csum_off))
			pe->csum_done++;
		else
			pe->pool.errors++;
	}
	pe->txq[pe->ntx++] = *f;
	return 0;
}

static void pipe_flush(struct sl_dev *d, uint64_t now)
{
	struct pipe_end *pe = end_of(d);
	if (now != UINT64_MAX)
		pe->now = now;
	for (unsigned k = 0; k < pe->ntx; k++) {
		struct sl_frame *f = &pe->txq[k];
		if (!pe->peer->closed)
			link_send(pe->out, f->data, f->len, now);
		sl_pool_move(&pe->pool, sl_pool_index(&pe->pool, f->addr), SL_OWN_TX, SL_OWN_FREE);
	}
	pe->ntx = 0;
	link_release_held(pe->out, now);
}

static uint64_t pipe_next_event(struct sl_dev *d)
{
	struct pipe_link *l = end_of(d)->in;
	uint64_t t = l->n ? l->q[0].at : UINT64_MAX;
	if (l->has_held && l->held_since + PIPE_REORDER_HOLD_NS < t)
		t = l->held_since + PIPE_REORDER_HOLD_NS;
	return t;
}

static void pipe_stats(struct sl_dev *d, struct sl_stats *st)
{
	st->c[SL_STAT_dev_rx_dropped] = end_of(d)->rx_nobuf;
	st->c[SL_STAT_dev_tx_batch_flush] = end_of(d)->batch_flushes;
	st->c[SL_STAT_dev_tx_csum_offload] = end_of(d)->csum_done;
	st->c[SL_STAT_dev_frame_owner_error] = end_of(d)->pool.errors; /* as xsk.c reports it */
}

static void pipe_counts(struct sl_dev *d, struct sl_dev_counts *c)
{
	sl_pool_counts(&end_of(d)->pool, c);
}

static void link_free(struct pipe_link *l)
{
	if (l) {
		free(l->slab);
		free(l);
	}
}

static void pipe_close(struct sl_dev *d, struct sl_dev_counts *final)
{
	struct pipe_end *pe = end_of(d);
	pipe_flush(d, UINT64_MAX);
	if (final)
		sl_pool_counts(&pe->pool, final);
	pe->closed = true;
	sl_pool_free(&pe->pool);
	free(pe->mem);
	pe->mem = NULL;
	if (pe->peer->closed) {
		/* Last end out frees both links and both ends. */
		link_free(pe->out);
		link_free(pe->in);
		free(pe->peer);
		free(pe);
	}
}

static const struct sl_dev_ops pipe_ops = {
    .rx = pipe_rx,
    .alloc = pipe_alloc,
    .release = pipe_release,
    .tx = pipe_tx,
    .flush = pipe_flush,
    .next_event = pipe_next_event,
    .stats = pipe_stats,
    .counts = pipe_counts,
    .close = pipe_close,
};

static struct pipe_link *link_new(const struct sl_fault *f)
{
	struct pipe_link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->slab = malloc((size_t)PIPE_LINK_CAP * PIPE_FRAME_SIZE);
	if (!l->slab) {
		free(l);
		return NULL;
	}
	for (unsigned i = 0; i < PIPE_LINK_CAP; i++)
		l->freebuf[i] = i;
	l->nfree = PIPE_LINK_CAP;
	if (f)
		l->fault = *f;
	l->clean = fault_free(&l->fault);
	sl_rng_seed(&l->rng, l->fault.seed);
	return l;
}

static struct pipe_end *end_new(const char *name, uint8_t last_mac_byte)
{
	struct pipe_end *pe = calloc(1, sizeof(*pe));
	if (!pe)
		return NULL;
	pe->mem = aligned_alloc(4096, (size_t)PIPE_FRAMES * PIPE_FRAME_SIZE);
	if (!pe->mem || sl_pool_init(&pe->pool, pe->mem, PIPE_FRAMES, PIPE_FRAME_SIZE) < 0) {
		free(pe->mem);
		free(pe);
		return NULL;
	}
	pe->dev.ops = &pipe_ops;
	/* Locally administered unicast MACs (02:...) so tests never look like real hardware. */
	uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, last_mac_byte};
	memcpy(pe->dev.mac, mac, 6);
	pe->dev.mtu = 1500;
	strcpy(pe->dev.mode, "pipe");
	strncpy(pe->dev.name, name, sizeof(pe->dev.name) - 1);
	return pe;
}

int sl_dev_pipe_pair(const struct sl_fault *a_to_b, const struct sl_fault *b_to_a,
		     struct sl_dev **a, struct sl_dev **b)
{
	struct pipe_end *ea = end_new("pipe-a", 0x0a), *eb = end_new("pipe-b", 0x0b);
	struct pipe_link *ab = link_new(a_to_b), *ba = link_new(b_to_a);
	if (!ea || !eb || !ab || !ba) {
		if (ea) {
			sl_pool_free(&ea->pool);
			free(ea->mem);
		}
		if (eb) {
			sl_pool_free(&eb->pool);
			free(eb->mem);
		}
		free(ea);
		free(eb);
		link_free(ab);
		link_free(ba);
		return -ENOMEM;
	}
	ea->out = ab;
	ea->in = ba;
	eb->out = ba;
	eb->in = ab;
	ea->peer = eb;
	eb->peer = ea;
	*a = &ea->dev;
	*b = &eb->dev;
	return 0;
}

void sl_dev_pipe_stats(struct sl_dev *end, struct sl_pipe_stats *out)
{
	*out = end_of(end)->out->st;
}

void sl_dev_pipe_set_tx_csum(struct sl_dev *end, bool on)
{
	end->tx_csum = on;
}

void sl_dev_pipe_set_fault(struct sl_dev *end, const struct sl_fault *f)
{
	struct pipe_link *l = end_of(end)->out;
	l->fault = *f;
	l->clean = fault_free(f);
	sl_rng_seed(&l->rng, f->seed);
}
