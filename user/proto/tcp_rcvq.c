/*
 * The receive queue and what we tell the sender about it.
 *
 * Data is copied once, from the arriving frame to its place in the receive ring; bytes
 * beyond RCV.NXT are tracked as up to SL_TCP_OOO_MAX ranges, most recently changed first —
 * exactly the order SACK blocks are reported in (RFC 2018 §4: the first block holds the
 * segment that triggered the ACK, the others repeat the most recent ones). A segment we hold
 * already is reported as a D-SACK block (RFC 2883 §4): first, followed by the out-of-order
 * block containing it when there is one. A FIN that arrives beyond a hole is remembered and
 * counts once the hole is filled (RFC 9293 §3.10.7.4, eighth: a FIN is processed in order).
 *
 * The receive window (RFC 9293 §3.8.6.2.2, receiver silly-window avoidance): the right
 * edge moves only by at least min(MSS, buffer / 2), also when a closed window reopens, and
 * never back. Asking what the window is (peek) changes nothing; only a segment that carries
 * the value moves rcv_adv (advertise).
 */
#include "iface/stack.h"
#include "wire/tcp.h"
#include <string.h>

/* Move range i to the front (most recent). */
static void ooo_front(struct sl_tcb *t, unsigned i)
{
	if (!i)
		return;
	struct sl_tcp_sack r = t->ooo[i];
	memmove(&t->ooo[1], &t->ooo[0], i * sizeof(t->ooo[0]));
	t->ooo[0] = r;
}

static void ooo_remove(struct sl_tcb *t, unsigned i)
{
	memmove(&t->ooo[i], &t->ooo[i + 1], (t->nooo - i - 1) * sizeof(t->ooo[0]));
	t->nooo--;
}

/* Add [seq, end) beyond rcv_nxt, merging with every range it touches; the result is first. */
static bool ooo_add(struct sl_tcb *t, uint32_t seq, uint32_t end)
{
	for (unsigned i = 0; i < t->nooo;) {
		uint32_t a = t->ooo[i].l, b = t->ooo[i].r;
		if (seq_leq(seq, b) && seq_leq(a, end)) {
			if (seq_lt(a, seq))
				seq = a;
			if (seq_gt(b, end))
				end = b;
			ooo_remove(t, i);
			continue;
		}
		i++;
	}
	if (t->nooo == SL_TCP_OOO_MAX) {
		STAT_INC(t->st, tcp_ooo_dropped);
		return false;
	}
	memmove(&t->ooo[1], &t->ooo[0], t->nooo * sizeof(t->ooo[0]));
	t->ooo[0].l = seq;
	t->ooo[0].r = end;
	t->nooo++;
	return true;
}

/* Pull out-of-order ranges that now touch rcv_nxt into the in-order part. */
static bool ooo_merge(struct sl_tcb *t)
{
	bool any = false, again = true;
	while (again) {
		again = false;
		for (unsigned i = 0; i < t->nooo; i++) {
			uint32_t a = t->ooo[i].l, b = t->ooo[i].r;
			if (seq_gt(a, t->rcv_nxt))
				continue;
			if (seq_gt(b, t->rcv_nxt)) {
				t->rcvbuf.len += b - t->rcv_nxt;
				t->rcv_nxt = b;
			}
			ooo_remove(t, i);
			any = again = true;
			break;
		}
	}
	return any;
}

void sl_tcp_rcv_duplicate(struct sl_tcb *t, uint32_t seq, uint32_t len)
{
	t->ack_now = true; /* RFC 5681 §4.2 / RFC 2883: tell the sender at once */
	if (!t->sack_ok || !len)
		return;
	t->dsack_pending = true;
	t->dsack.l = seq;
	t->dsack.r = seq + len;
}

bool sl_tcp_rcv_data(struct sl_tcb *t, uint32_t seq, const uint8_t *d, uint32_t n, bool fin)
{
	struct sl_stack *st = t->st;
	if (seq_lt(seq, t->rcv_nxt)) { /* already have the front: a partial duplicate */
		uint32_t skip = t->rcv_nxt - seq;
		if (skip >= n) {
			sl_tcp_rcv_duplicate(t, seq, n);
			if (fin && skip == n && !t->fin_rcvd) {
				t->fin_pending = true;
				t->fin_seq = t->rcv_nxt;
			}
			return false;
		}
		sl_tcp_rcv_duplicate(t, seq, skip);
		d += skip;
		n -= skip;
		seq = t->rcv_nxt;
	}
	if (t->rd_shut) {
		/* Nobody will read it: count it, acknowledge it so the sender is not stuck (at
		 * once: there is no reader whose reply could carry the ACK). */
		STAT_INC(st, tcp_rcv_after_shutdown);
		t->ack_now = true;
		if (seq == t->rcv_nxt) {
			t->rcv_nxt += n;
			if (fin) {
				t->fin_pending = true;
				t->fin_seq = t->rcv_nxt;
			}
		}
		return false;
	}
	/* Keep within the ring: room after the unread bytes. */
	uint32_t off = seq - t->rcv_nxt;
	uint32_t room = sl_ring_free(&t->rcvbuf);
	if (off >= room) {
		STAT_INC(st, tcp_out_of_window);
		t->ack_now = true;
		return false;
	}
	if (n > room - off) {
		n = room - off;
		fin = false; /* the FIN lies beyond what we keep */
	}
	/* Entirely inside a range we hold: a duplicate (RFC 2883 §4.1.2). */
	for (unsigned i = 0; i < t->nooo; i++) {
		if (seq_geq(seq, t->ooo[i].l) && seq_leq(seq + n, t->ooo[i].r)) {
			ooo_front(t, i);
			sl_tcp_rcv_duplicate(t, seq, n);
			return false;
		}
	}
	/* Partly over a range we hold (a retransmission cut differently from the first
	 * transmission, one that fills a hole and runs on into held data): the overlap is
	 * duplicated, and reported as such (RFC 2883 §4: the first block names the duplicate
	 * bytes of the segment that triggered the ACK), the rest is kept as new. */
	for (unsigned i = 0; i < t->nooo; i++) {
		uint32_t l = seq_gt(t->ooo[i].l, seq) ? t->ooo[i].l : seq;
		uint32_t r = seq_lt(t->ooo[i].r, seq + n) ? t->ooo[i].r : seq + n;
		if (seq_lt(l, r)) {
			sl_tcp_rcv_duplicate(t, l, r - l);
			break;
		}
	}
	sl_ring_put(&t->rcvbuf, t->rcvbuf.len + off, d, n);
	t->bytes_received += n;
	if (fin && !t->fin_rcvd) {
		t->fin_pending = true;
		t->fin_seq = seq + n;
	}
	if (off == 0) {
		t->rcv_nxt += n;
		t->rcvbuf.len += n;
		/* RFC 5681 §4.2: ACK at once when a segment fills all or part of a hole. */
		if (t->nooo)
			t->ack_now = true;
		ooo_merge(t);
		return true;
	}
	ooo_add(t, seq, seq + n);
	t->ack_now = true; /* RFC 5681 §4.2: out-of-order data is acknowledged at once */
	return false;
}

unsigned sl_tcp_sack_blocks(struct sl_tcb *t, struct sl_tcp_sack *out, unsigned max)
{
	if (!t->sack_ok || !max)
		return 0;
	unsigned n = 0;
	int skip = -1;
	if (t->dsack_pending) {
		out[n++] = t->dsack;
		/* RFC 2883 §4 (2): a duplicate inside a block we hold is followed by that block. */
		for (unsigned i = 0; i < t->nooo && n < max; i++) {
			if (seq_geq(t->dsack.l, t->ooo[i].l) && seq_leq(t->dsack.r, t->ooo[i].r)) {
				out[n++] = t->ooo[i];
				skip = (int)i;
				break;
			}
		}
	}
	for (unsigned i = 0; i < t->nooo && n < max; i++)
		if ((int)i != skip)
			out[n++] = t->ooo[i];
	return n;
}

/* The free receive space, as large as the window field can say. */
static uint32_t rcv_space(const struct sl_tcb *t)
{
	uint32_t free_ = sl_ring_free(&t->rcvbuf);
	uint32_t max = t->wscale_ok ? 65535u << t->rcv_wscale : 65535u;
	return free_ < max ? free_ : max;
}

/* Where the right edge would go now: it moves by a useful amount or not at all. */
static uint32_t next_edge(const struct sl_tcb *t)
{
	uint32_t cap = t->rcvbuf.cap;
	uint32_t free_ = rcv_space(t);
	uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t step = t->mss < cap / 2 ? t->mss : cap / 2;
	if (free_ > cur && free_ - cur >= step) {
		uint32_t w = t->wscale_ok ? (free_ >> t->rcv_wscale) << t->rcv_wscale : free_;
		if (w > cur)
			return t->rcv_nxt + w;
	}
	return seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv : t->rcv_nxt;
}

/* Before the buffers exist (a passive open's SYN-ACK): the window of the buffer it will get,
 * as an unscaled SYN can say it. */
static uint32_t syn_window(const struct sl_tcb *t)
{
	uint32_t w = t->st->cfg.tcp_rcvbuf;
	return w < 65535 ? w : 65535;
}

uint32_t sl_tcp_rcv_window_peek(const struct sl_tcb *t)
{
	if (!t->rcvbuf.buf)
		return syn_window(t);
	return next_edge(t) - t->rcv_nxt;
}

uint32_t sl_tcp_rcv_window_advertise(struct sl_tcb *t)
{
	if (!t->rcvbuf.buf) {
		uint32_t w = syn_window(t);
		if (seq_lt(t->rcv_adv, t->rcv_nxt + w))
			t->rcv_adv = t->rcv_nxt + w;
		return w;
	}
	t->rcv_adv = next_edge(t);
	return t->rcv_adv - t->rcv_nxt;
}
