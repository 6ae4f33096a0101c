/*
 * The send map: every segment of [SND.UNA, SND.NXT) as it was sent, with what the peer's
 * SACK blocks said of it and when it last went out. It is the scoreboard of RFC 6675 §3
 * (kept per segment rather than per byte: a SACK block that ends inside a segment splits it,
 * so SACKed bytes are never retransmitted) and the per-segment transmit times RACK needs
 * (RFC 8985 §5.2). Records in flight — neither SACKed nor marked lost — are also chained in
 * the order they were (re)transmitted, so RACK's loss detection walks only the oldest ones.
 *
 * Memory is bounded: the pool starts small and doubles up to a maximum set from the send
 * buffer; when it is full the sender waits for ACKs (tcp_sendmap_full).
 */
#include "proto/tcp.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP 64

static void free_push(struct sl_tcp_sendmap *m, uint32_t idx)
{
	m->seg[idx].flags = 0;
	m->seg[idx].tnext = m->free;
	m->free = idx;
}

int sl_sendmap_init(struct sl_tcp_sendmap *m, uint32_t max)
{
	memset(m, 0, sizeof(*m));
	uint32_t cap = INITIAL_CAP;
	while (cap > max && cap > 4)
		cap >>= 1;
	m->max = max < cap ? cap : max;
	m->seg = malloc(cap * sizeof(*m->seg));
	m->ord = malloc(cap * sizeof(*m->ord));
	if (!m->seg || !m->ord) {
		free(m->seg);
		free(m->ord);
		m->seg = NULL;
		m->ord = NULL;
		return -ENOMEM;
	}
	m->cap = cap;
	m->free = SL_SEG_NIL;
	for (uint32_t i = cap; i-- > 0;)
		free_push(m, i);
	m->thead = m->ttail = SL_SEG_NIL;
	return 0;
}

size_t sl_sendmap_bytes(const struct sl_tcp_sendmap *m)
{
	return (size_t)m->cap * (sizeof(*m->seg) + sizeof(*m->ord));
}

void sl_sendmap_free(struct sl_tcp_sendmap *m)
{
	if (m->acct && m->seg)
		sl_tcp_mem(m->acct, -(int64_t)sl_sendmap_bytes(m));
	free(m->seg);
	free(m->ord);
	memset(m, 0, sizeof(*m));
	m->free = m->thead = m->ttail = SL_SEG_NIL;
}

/* Double the pool (indices stay valid) and lay the order ring out from 0. */
static bool grow(struct sl_tcp_sendmap *m)
{
	if (m->cap >= m->max)
		return false;
	uint32_t ncap = m->cap * 2;
	struct sl_tcp_txseg *ns = realloc(m->seg, ncap * sizeof(*ns));
	if (!ns)
		return false;
	m->seg = ns;
	uint32_t *no = malloc(ncap * sizeof(*no));
	if (!no)
		return false;
	for (uint32_t i = 0; i < m->n; i++)
		no[i] = m->ord[(m->head + i) & (m->cap - 1)];
	free(m->ord);
	m->ord = no;
	m->head = 0;
	for (uint32_t i = ncap; i-- > m->cap;)
		free_push(m, i);
	size_t before = sl_sendmap_bytes(m);
	m->cap = ncap;
	if (m->acct)
		sl_tcp_mem(m->acct, (int64_t)(sl_sendmap_bytes(m) - before));
	return true;
}

static uint32_t alloc_rec(struct sl_tcp_sendmap *m)
{
	if (m->free == SL_SEG_NIL && !grow(m))
		return SL_SEG_NIL;
	uint32_t idx = m->free;
	m->free = m->seg[idx].tnext;
	return idx;
}

static void time_append(struct sl_tcp_sendmap *m, uint32_t idx)
{
	struct sl_tcp_txseg *s = &m->seg[idx];
	s->tnext = SL_SEG_NIL;
	s->tprev = m->ttail;
	if (m->ttail != SL_SEG_NIL)
		m->seg[m->ttail].tnext = idx;
	else
		m->thead = idx;
	m->ttail = idx;
	s->flags |= SL_SEG_INTIME;
}

void sl_sendmap_time_unlink(struct sl_tcp_sendmap *m, struct sl_tcp_txseg *s)
{
	if (!(s->flags & SL_SEG_INTIME))
		return;
	if (s->tprev != SL_SEG_NIL)
		m->seg[s->tprev].tnext = s->tnext;
	else
		m->thead = s->tnext;
	if (s->tnext != SL_SEG_NIL)
		m->seg[s->tnext].tprev = s->tprev;
	else
		m->ttail = s->tprev;
	s->flags &= (uint8_t)~SL_SEG_INTIME;
	s->tprev = s->tnext = SL_SEG_NIL;
}

bool sl_sendmap_push(struct sl_tcp_sendmap *m, uint32_t start, uint32_t end, uint8_t flags,
		     uint64_t now)
{
	if (m->n == m->cap && !grow(m))
		return false;
	uint32_t idx = alloc_rec(m);
	if (idx == SL_SEG_NIL)
		return false;
	struct sl_tcp_txseg *s = &m->seg[idx];
	s->start = start;
	s->end = end;
	s->xmit_ns = now;
	s->flags = flags;
	s->xmits = 1;
	m->ord[(m->head + m->n) & (m->cap - 1)] = idx;
	m->n++;
	time_append(m, idx);
	return true;
}

void sl_sendmap_sent(struct sl_tcp_sendmap *m, uint32_t i, uint64_t now)
{
	uint32_t idx = m->ord[(m->head + i) & (m->cap - 1)];
	struct sl_tcp_txseg *s = &m->seg[idx];
	if (s->flags & SL_SEG_LOST) {
		m->lost -= s->end - s->start;
		s->flags &= (uint8_t)~SL_SEG_LOST;
	}
	sl_sendmap_time_unlink(m, s);
	s->xmit_ns = now;
	if (s->xmits < UINT8_MAX)
		s->xmits++;
	s->flags |= SL_SEG_RETRANS;
	time_append(m, idx);
}

void sl_sendmap_mark_lost(struct sl_tcp_sendmap *m, uint32_t i)
{
	struct sl_tcp_txseg *s = sl_sendmap_at(m, i);
	if (s->flags & (SL_SEG_LOST | SL_SEG_SACKED))
		return;
	s->flags |= SL_SEG_LOST;
	m->lost += s->end - s->start;
	sl_sendmap_time_unlink(m, s);
	if (i < m->lost_hint)
		m->lost_hint = i;
}

bool sl_sendmap_split(struct sl_tcp_sendmap *m, uint32_t i, uint32_t at)
{
	if (m->n == m->cap && !grow(m))
		return false;
	uint32_t nidx = alloc_rec(m);
	if (nidx == SL_SEG_NIL)
		return false;
	uint32_t mask = m->cap - 1;
	uint32_t idx = m->ord[(m->head + i) & mask];
	struct sl_tcp_txseg *s = &m->seg[idx], *t = &m->seg[nidx];
	*t = *s;
	t->start = at;
	s->end = at;
	s->flags &= (uint8_t)~SL_SEG_FIN; /* the FIN is the last sequence number: right half */
	t->flags &= (uint8_t)~SL_SEG_INTIME;
	/* The halves went out together: the second follows the first in time order too. */
	if (s->flags & SL_SEG_INTIME) {
		t->tprev = idx;
		t->tnext = s->tnext;
		if (s->tnext != SL_SEG_NIL)
			m->seg[s->tnext].tprev = nidx;
		else
			m->ttail = nidx;
		s->tnext = nidx;
		t->flags |= SL_SEG_INTIME;
	}
	/* Open a slot at i + 1 in the order ring. */
	for (uint32_t k = m->n; k > i + 1; k--)
		m->ord[(m->head + k) & mask] = m->ord[(m->head + k - 1) & mask];
	m->ord[(m->head + i + 1) & mask] = nidx;
	m->n++;
	if (m->lost_hint > i)
		m->lost_hint++;
	return true;
}

uint32_t sl_sendmap_find(const struct sl_tcp_sendmap *m, uint32_t seq)
{
	uint32_t lo = 0, hi = m->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct sl_tcp_txseg *s = sl_sendmap_at(m, mid);
		if (seq_lt(seq, s->start))
			hi = mid;
		else if (seq_geq(seq, s->end))
			lo = mid + 1;
		else
			return mid;
	}
	return m->n;
}

uint32_t sl_sendmap_first_lost(struct sl_tcp_sendmap *m)
{
	if (!m->lost) {
		m->lost_hint = m->n;
		return m->n;
	}
	for (uint32_t i = m->lost_hint; i < m->n; i++) {
		if (sl_sendmap_at(m, i)->flags & SL_SEG_LOST) {
			m->lost_hint = i;
			return i;
		}
	}
	/* The hint ran past a lost record (it only moves back when one is marked): rescan. */
	for (uint32_t i = 0; i < m->n; i++) {
		if (sl_sendmap_at(m, i)->flags & SL_SEG_LOST) {
			m->lost_hint = i;
			return i;
		}
	}
	m->lost_hint = m->n;
	return m->n;
}

void sl_sendmap_pop(struct sl_tcp_sendmap *m)
{
	uint32_t idx = m->ord[m->head];
	struct sl_tcp_txseg *s = &m->seg[idx];
	uint32_t len = s->end - s->start;
	if (s->flags & SL_SEG_SACKED)
		m->sacked -= len;
	if (s->flags & SL_SEG_LOST)
		m->lost -= len;
	sl_sendmap_time_unlink(m, s);
	free_push(m, idx);
	m->head = (m->head + 1) & (m->cap - 1);
	m->n--;
	if (m->lost_hint)
		m->lost_hint--;
}
