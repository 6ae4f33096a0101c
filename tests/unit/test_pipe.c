/*
 * The in-memory pipe device and its seeded fault injector, through include/sluice/dev.h:
 * delivery, drop, duplication, delay and jitter, corruption, reordering, determinism per seed,
 * queue bounds, owner errors, and frame accounting at close (every frame SL_OWN_FREE).
 * Time is simulated; seeds come from tu_seed() (replay with SLUICE_SEED=N).
 */
#include <errno.h>
#include "unit/testutil.h"
#include "sluice/dev.h"
#include "sluice/stats.h"

#define US 1000ULL
#define MS 1000000ULL
#define PAYLOAD 64

struct rxlog {
	unsigned n;
	uint32_t seq[4096];
	uint32_t len[4096];
	uint64_t at[4096];
	uint64_t hash[4096];
	unsigned bitflips[4096]; /* bits that differ from what was sent */
};

static void fill(uint8_t *p, uint32_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7);
	p[0] = (uint8_t)(seq >> 24);
	p[1] = (uint8_t)(seq >> 16);
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
}

static uint32_t sl_seq_of(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Queue frames seq0..seq0+n-1 on d and flush them at now. */
static void send_n(struct sl_dev *d, uint32_t seq0, unsigned n, uint64_t now)
{
	for (unsigned k = 0; k < n; k++) {
		struct sl_frame f;
		assert_int_equal(d->ops->alloc(d, &f), 0);
		assert_true(f.cap >= PAYLOAD);
		fill(f.data, seq0 + k, PAYLOAD);
		f.len = PAYLOAD;
		assert_int_equal(d->ops->tx(d, &f), 0);
	}
	d->ops->flush(d, now);
}

/* Receive everything due at now, log it, release every frame. Returns frames received. */
static unsigned recv_all(struct sl_dev *d, uint64_t now, struct rxlog *log)
{
	unsigned got = 0;
	for (;;) {
		struct sl_frame f[SL_RX_BATCH];
		int n = d->ops->rx(d, f, SL_RX_BATCH, now);
		assert_true(n >= 0 && n <= SL_RX_BATCH);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++) {
			if (log && log->n < 4096) {
				unsigned k = log->n++;
				log->len[k] = f[i].len;
				log->at[k] = now;
				log->hash[k] = fnv(f[i].data, f[i].len);
				uint32_t seq = f[i].len >= 4 ? sl_seq_of(f[i].data) : 0;
				log->seq[k] = seq;
				uint8_t want[PAYLOAD];
				fill(want, seq, PAYLOAD);
				unsigned flips = 0;
				for (uint32_t b = 0; b < f[i].len && b < PAYLOAD; b++)
					flips +=
					    (unsigned)__builtin_popcount(want[b] ^ f[i].data[b]);
				log->bitflips[k] = flips;
			}
			d->ops->release(d, &f[i]);
		}
		got += (unsigned)n;
	}
	return got;
}

/* Every frame back on the free list, no owner errors. */
static void close_clean(struct sl_dev *d)
{
	struct sl_dev_counts c;
	sl_dev_close_counted(d, &c);
	assert_true(c.total > 0);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total);
	assert_int_equal(c.owner[SL_OWN_KERNEL], 0);
	assert_int_equal(c.owner[SL_OWN_STACK], 0);
	assert_int_equal(c.owner[SL_OWN_TX], 0);
	assert_int_equal(c.owner_errors, 0);
}

static struct rxlog *newlog(void)
{
	struct rxlog *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	return l;
}

/* --- clean link ---------------------------------------------------------------------- */

static void test_pipe_clean_in_order_both_ways(void **state)
{
	struct sl_dev *a, *b;
	struct rxlog *la = newlog(), *lb = newlog();
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	assert_string_equal(a->mode, "pipe");
	assert_memory_not_equal(a->mac, b->mac, 6);
	assert_int_equal(a->mac[0] & 1, 0); /* unicast */
	assert_int_equal(sl_dev_fd(a), -1);
	send_n(a, 0, 100, 1000);
	send_n(b, 500, 50, 1000);
	assert_true(b->ops->next_event(b) == 1000);
	assert_int_equal(recv_all(b, 1000, lb), 100);
	assert_int_equal(recv_all(a, 1000, la), 50);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(lb->seq[i], i);
		assert_int_equal(lb->len[i], PAYLOAD);
		assert_int_equal(lb->bitflips[i], 0);
	}
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(la->seq[i], 500 + i);
	struct sl_pipe_stats st;
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.sent, 100);
	assert_int_equal(st.delivered, 100);
	assert_int_equal(st.dropped + st.duplicated + st.reordered + st.corrupted + st.overflow, 0);
	assert_true(b->ops->next_event(b) == UINT64_MAX);
	close_clean(a);
	close_clean(b);
	free(la);
	free(lb);
}

/* --- each fault at 100% ------------------------------------------------------------- */

static void test_pipe_drop_all(void **state)
{
	struct sl_fault f = {.drop_ppm = 1000000, .seed = tu_seed(1)};
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	for (uint64_t t = 0; t < 10; t++)
		send_n(a, (uint32_t)t * 100, 100, t * MS);
	assert_true(b->ops->next_event(b) == UINT64_MAX);
	assert_int_equal(recv_all(b, UINT64_MAX - 1, NULL), 0);
	struct sl_pipe_stats st;
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.sent, 1000);
	assert_int_equal(st.dropped, 1000);
	assert_int_equal(st.delivered, 0);
	/* The other direction is unaffected. */
	send_n(b, 0, 10, 0);
	assert_int_equal(recv_all(a, 0, NULL), 10);
	close_clean(a);
	close_clean(b);
}

static void test_pipe_dup_all(void **state)
{
	struct sl_fault f = {.dup_ppm = 1000000, .seed = tu_seed(2)};
	struct sl_dev *a, *b;
	struct rxlog *l = newlog();
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 0, 200, 0);
	assert_int_equal(recv_all(b, 0, l), 400);
	unsigned count[200] = {0};
	for (unsigned i = 0; i < l->n; i++) {
		assert_true(l->seq[i] < 200);
		assert_int_equal(l->bitflips[i], 0);
		count[l->seq[i]]++;
	}
	for (unsigned s = 0; s < 200; s++)
		assert_int_equal(count[s], 2);
	struct sl_pipe_stats st;
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.sent, 200);
	assert_int_equal(st.duplicated, 200);
	assert_int_equal(st.delivered, 400);
	close_clean(a);
	close_clean(b);
	free(l);
}

static void test_pipe_delay(void **state)
{
	struct sl_fault f = {.delay_ns = 5 * US, .seed = tu_seed(3)};
	struct sl_dev *a, *b;
	struct rxlog *l = newlog();
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 0, 10, 1 * US);
	assert_true(b->ops->next_event(b) == 6 * US);
	assert_int_equal(recv_all(b, 1 * US, l), 0);
	assert_int_equal(recv_all(b, 6 * US - 1, l), 0);
	assert_int_equal(recv_all(b, 6 * US, l), 10);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(l->seq[i], i);
	close_clean(a);
	close_clean(b);
	free(l);
}

/* Arrival in [sent + delay, sent + delay + jitter). */
static void test_pipe_jitter_bounds(void **state)
{
	struct sl_fault f = {.delay_ns = 100 * US, .jitter_ns = 50 * US, .seed = tu_seed(4)};
	struct sl_dev *a, *b;
	struct rxlog *l = newlog();
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	uint64_t sent = 1 * MS;
	send_n(a, 0, 200, sent);
	uint64_t now = sent, lo = UINT64_MAX, hi = 0;
	while (b->ops->next_event(b) != UINT64_MAX) {
		uint64_t ev = b->ops->next_event(b);
		assert_true(ev >= now);
		now = ev;
		assert_int_equal(recv_all(b, now - 1, NULL), 0); /* nothing before its time */
		assert_true(recv_all(b, now, l) > 0);
	}
	assert_int_equal(l->n, 200);
	for (unsigned i = 0; i < l->n; i++) {
		assert_true(l->at[i] >= sent + 100 * US);
		assert_true(l->at[i] < sent + 150 * US);
		lo = l->at[i] < lo ? l->at[i] : lo;
		hi = l->at[i] > hi ? l->at[i] : hi;
	}
	assert_true(hi - lo > 25 * US); /* the jitter is actually applied */
	close_clean(a);
	close_clean(b);
	free(l);
}

/* In a burst without reordering, the i-th frame received is frame i with one bit flipped;
 * the flipped bit lands anywhere in the frame. */
static void test_pipe_corrupt_flips_one_bit(void **state)
{
	struct sl_fault f = {.corrupt_ppm = 1000000, .seed = tu_seed(5)};
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 0, 250, 0); /* at most 256 frames per flush */
	send_n(a, 250, 250, 0);
	unsigned i = 0, lo = PAYLOAD * 8, hi = 0;
	int n;
	struct sl_frame fr[SL_RX_BATCH];
	while ((n = b->ops->rx(b, fr, SL_RX_BATCH, 0)) > 0) {
		for (int k = 0; k < n; k++, i++) {
			uint8_t want[PAYLOAD];
			fill(want, i, PAYLOAD);
			assert_int_equal(fr[k].len, PAYLOAD);
			unsigned flips = 0;
			for (unsigned byte = 0; byte < PAYLOAD; byte++) {
				uint8_t x = want[byte] ^ fr[k].data[byte];
				flips += (unsigned)__builtin_popcount(x);
				if (x) {
					unsigned bit = byte * 8 + (unsigned)__builtin_ctz(x);
					lo = bit < lo ? bit : lo;
					hi = bit > hi ? bit : hi;
				}
			}
			if (flips != 1)
				fail_msg("frame %u: %u bits differ", i, flips);
			b->ops->release(b, &fr[k]);
		}
	}
	assert_int_equal(i, 500);
	assert_true(lo < 32 && hi >= PAYLOAD * 8 - 32);
	struct sl_pipe_stats st;
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.corrupted, 500);
	close_clean(a);
	close_clean(b);
}

/* Exactly one bit differs from what was sent, seen through a full comparison. */
static void test_pipe_corrupt_exact_diff(void **state)
{
	struct sl_fault f = {.corrupt_ppm = 1000000, .seed = tu_seed(6)};
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	for (uint32_t s = 0; s < 300; s++) {
		send_n(a, s, 1, s);
		struct sl_frame fr[SL_RX_BATCH];
		assert_int_equal(b->ops->rx(b, fr, SL_RX_BATCH, s), 1);
		uint8_t want[PAYLOAD];
		fill(want, s, PAYLOAD);
		assert_int_equal(fr[0].len, PAYLOAD);
		unsigned flips = 0;
		for (int k = 0; k < PAYLOAD; k++)
			flips += (unsigned)__builtin_popcount(want[k] ^ fr[0].data[k]);
		assert_int_equal(flips, 1);
		b->ops->release(b, &fr[0]);
	}
	close_clean(a);
	close_clean(b);
}

static void test_pipe_reorder_swaps_pairs(void **state)
{
	struct sl_fault f = {.reorder_ppm = 1000000, .seed = tu_seed(7)};
	struct sl_dev *a, *b;
	struct rxlog *l = newlog();
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 0, 6, 0);
	assert_int_equal(recv_all(b, 0, l), 6);
	static const uint32_t want[6] = {1, 0, 3, 2, 5, 4};
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(l->seq[i], want[i]);
	struct sl_pipe_stats st;
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.reordered, 3);
	close_clean(a);
	close_clean(b);
	free(l);
}

/* A held-back frame with nothing behind it goes out after the hold time (1 ms). */
static void test_pipe_reorder_hold_released(void **state)
{
	struct sl_fault f = {.reorder_ppm = 1000000, .seed = tu_seed(8)};
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 0, 1, 10 * MS);
	assert_int_equal(recv_all(b, 10 * MS, NULL), 0);
	assert_true(b->ops->next_event(b) == 11 * MS);
	assert_int_equal(recv_all(b, 11 * MS - 1, NULL), 0);
	assert_int_equal(recv_all(b, 11 * MS, NULL), 1);
	close_clean(a);
	close_clean(b);
}

/*
 * The one-way delay applies to held-back (reordered) frames too: a frame sent at t arrives no
 * earlier than t + delay_ns. link_release_held() in user/dev/pipe.c sets held.at = now, so with
 * a delay longer than the 1 ms hold the frame arrives ~delay - 1 ms early.
 */
static void test_pipe_reorder_hold_respects_delay(void **state)
{
	struct sl_fault f = {.reorder_ppm = 1000000, .delay_ns = 10 * MS, .seed = tu_seed(9)};
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 0, 1, 0);
	unsigned early = 0;
	uint64_t first = 0;
	for (uint64_t t = 0; t < 10 * MS; t += 100 * US) {
		unsigned got = recv_all(b, t, NULL);
		if (got && !early)
			first = t;
		early += got;
	}
	unsigned later = recv_all(b, 20 * MS, NULL);
	close_clean(a);
	close_clean(b);
	if (early)
		fail_msg("frame sent at 0 with a 10 ms delay arrived at %llu ns",
			 (unsigned long long)first);
	assert_int_equal(later, 1);
}

/* --- determinism ------------------------------------------------------------------ */

static void run_faulty(uint64_t seed, struct rxlog *l, struct sl_pipe_stats *st)
{
	struct sl_fault f = {.drop_ppm = 150000,
			     .dup_ppm = 100000,
			     .reorder_ppm = 100000,
			     .corrupt_ppm = 50000,
			     .delay_ns = 20 * US,
			     .jitter_ns = 30 * US,
			     .seed = seed};
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	uint64_t now = 1 * MS;
	for (uint32_t k = 0; k < 60; k++) {
		send_n(a, k * 8, 8, now);
		recv_all(b, now, l);
		now += 7 * US;
	}
	while (b->ops->next_event(b) != UINT64_MAX) {
		uint64_t ev = b->ops->next_event(b);
		now = ev > now ? ev : now;
		recv_all(b, now, l);
	}
	sl_dev_pipe_stats(a, st);
	close_clean(a);
	close_clean(b);
}

static void test_pipe_same_seed_same_outcomes(void **state)
{
	uint64_t seed = tu_seed(0x5eed);
	struct rxlog *l1 = newlog(), *l2 = newlog(), *l3 = newlog();
	struct sl_pipe_stats s1, s2, s3;
	run_faulty(seed, l1, &s1);
	run_faulty(seed, l2, &s2);
	run_faulty(seed + 1, l3, &s3);
	if (l1->n != l2->n || memcmp(l1->seq, l2->seq, sizeof l1->seq) ||
	    memcmp(l1->at, l2->at, sizeof l1->at) || memcmp(l1->hash, l2->hash, sizeof l1->hash) ||
	    memcmp(&s1, &s2, sizeof s1))
		fail_msg("seed %llu: two runs differ", (unsigned long long)seed);
	/* Every fault happened, and the books balance. */
	assert_int_equal(s1.sent, 480);
	assert_true(s1.dropped > 0 && s1.duplicated > 0 && s1.reordered > 0 && s1.corrupted > 0);
	assert_int_equal(s1.delivered, s1.sent - s1.dropped + s1.duplicated);
	assert_int_equal(l1->n, s1.delivered);
	/* Another seed, another history. */
	assert_true(l3->n != l1->n || memcmp(l1->seq, l3->seq, sizeof l1->seq) ||
		    memcmp(l1->at, l3->at, sizeof l1->at));
	free(l1);
	free(l2);
	free(l3);
}

/* Changing the fault on a live end applies to what it sends next. */
static void test_pipe_set_fault(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	send_n(a, 0, 10, 0);
	assert_int_equal(recv_all(b, 0, NULL), 10);
	struct sl_fault drop = {.drop_ppm = 1000000, .seed = 1};
	sl_dev_pipe_set_fault(a, &drop);
	send_n(a, 10, 10, 0);
	assert_int_equal(recv_all(b, 0, NULL), 0);
	struct sl_fault none = {.seed = 1};
	sl_dev_pipe_set_fault(a, &none);
	send_n(a, 20, 10, 0);
	assert_int_equal(recv_all(b, 0, NULL), 10);
	close_clean(a);
	close_clean(b);
}

/* --- bounds and accounting -------------------------------------------------------- */

/* The TX array holds 256 frames; a frame beyond that sends the batch at once instead of being
 * refused (issue 9 item 3): 1000 frames queued without a flush all arrive, in order, each
 * full array counted as dev_tx_batch_flush. */
static void test_pipe_tx_array_full_flushes(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	struct sl_dev_counts c;
	for (uint32_t k = 0; k < 1000; k++) {
		struct sl_frame f;
		assert_int_equal(a->ops->alloc(a, &f), 0);
		f.len = PAYLOAD;
		fill(f.data, k, PAYLOAD);
		assert_int_equal(a->ops->tx(a, &f), 0);
	}
	sl_dev_counts(a, &c);
	assert_int_equal(c.owner[SL_OWN_TX], 1000 - 3 * 256); /* three full arrays went out */
	assert_int_equal(c.owner[SL_OWN_STACK], 0);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total - (1000 - 3 * 256));
	struct sl_stats st = {0};
	a->ops->stats(a, &st);
	assert_int_equal(st.c[SL_STAT_dev_tx_batch_flush], 3);
	a->ops->flush(a, 0);
	struct rxlog *l = newlog();
	assert_int_equal(recv_all(b, 0, l), 1000);
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(l->seq[i], i);
	struct sl_pipe_stats ps;
	sl_dev_pipe_stats(a, &ps);
	assert_int_equal(ps.overflow, 0);
	close_clean(a);
	close_clean(b);
	free(l);
}

/* The link holds at most 1024 frames in flight; the rest are counted as overflow. */
static void test_pipe_link_overflow_counted(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	for (uint32_t k = 0; k < 5; k++)
		send_n(a, k * 256, 256, 0);
	struct sl_pipe_stats st;
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.sent, 1280);
	assert_int_equal(st.overflow, 256);
	struct rxlog *l = newlog();
	assert_int_equal(recv_all(b, 0, l), 1024);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(l->seq[i], i); /* the oldest are kept */
	sl_dev_pipe_stats(a, &st);
	assert_int_equal(st.delivered, 1024);
	close_clean(a);
	close_clean(b);
	free(l);
}

/* The receiver has no free frame: the arriving frame is dropped and counted (dev_rx_dropped). */
static void test_pipe_rx_no_frame_counted(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	struct sl_dev_counts c;
	sl_dev_counts(b, &c);
	struct sl_frame *held = calloc(c.total, sizeof(*held));
	assert_non_null(held);
	for (uint64_t i = 0; i < c.total; i++)
		assert_int_equal(b->ops->alloc(b, &held[i]), 0);
	struct sl_frame extra;
	assert_int_equal(b->ops->alloc(b, &extra), -ENOBUFS);
	send_n(a, 0, 3, 0);
	struct sl_frame f[SL_RX_BATCH];
	assert_int_equal(b->ops->rx(b, f, SL_RX_BATCH, 0), 0);
	struct sl_stats st;
	memset(&st, 0, sizeof st);
	b->ops->stats(b, &st);
	assert_int_equal(st.c[SL_STAT_dev_rx_dropped], 3);
	for (uint64_t i = 0; i < c.total; i++)
		b->ops->release(b, &held[i]);
	free(held);
	close_clean(a);
	close_clean(b);
}

/* Handing back a frame the stack does not hold is refused and counted, not corrupting. */
static void test_pipe_owner_errors_counted(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	struct sl_frame f;
	assert_int_equal(a->ops->alloc(a, &f), 0);
	a->ops->release(a, &f);
	a->ops->release(a, &f);			      /* double release */
	assert_int_equal(a->ops->tx(a, &f), -EINVAL); /* transmit a frame we gave back */
	struct sl_dev_counts c;
	sl_dev_counts(a, &c);
	assert_int_equal(c.owner_errors, 2);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total);
	/* And in the device's counters, as an AF_XDP device reports them. */
	struct sl_stats *stv = calloc(1, sizeof(*stv));
	assert_non_null(stv);
	a->ops->stats(a, stv);
	assert_int_equal(stv->c[SL_STAT_dev_frame_owner_error], 2);
	free(stv);
	a->ops->flush(a, 0);
	assert_int_equal(recv_all(b, 0, NULL), 0);
	sl_dev_close_counted(a, &c);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total);
	assert_int_equal(c.owner_errors, 2);
	close_clean(b);
}

/* A frame the stack still holds at close shows up in the final counts (a leak is visible). */
static void test_pipe_close_reports_held_frame(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	send_n(a, 0, 2, 0);
	struct sl_frame f[SL_RX_BATCH];
	assert_int_equal(b->ops->rx(b, f, SL_RX_BATCH, 0), 2);
	b->ops->release(b, &f[0]);
	struct sl_dev_counts c;
	sl_dev_close_counted(b, &c);
	assert_int_equal(c.owner[SL_OWN_STACK], 1);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total - 1);
	close_clean(a);
}

/* Queued but unflushed output, frames in flight, a held-back frame: all counted free at close,
 * in either close order, with no leak (sanitizer build). */
static void test_pipe_close_with_traffic_no_leak(void **state)
{
	for (int order = 0; order < 2; order++) {
		struct sl_fault f = {.reorder_ppm = 1000000, .delay_ns = 1 * MS, .seed = 3};
		struct sl_dev *a, *b;
		assert_int_equal(sl_dev_pipe_pair(&f, &f, &a, &b), 0);
		send_n(a, 0, 7, 0); /* in flight, one held back */
		send_n(b, 0, 5, 0);
		struct sl_frame q;
		assert_int_equal(a->ops->alloc(a, &q), 0);
		q.len = PAYLOAD;
		assert_int_equal(a->ops->tx(a, &q), 0); /* queued, never flushed */
		close_clean(order ? b : a);
		/* The survivor keeps working: its output goes nowhere, its frames come back. */
		struct sl_dev *s = order ? a : b;
		send_n(s, 100, 4, 0);
		recv_all(s, 5 * MS, NULL);
		close_clean(s);
	}
}

/*
 * Frames queued but not flushed when an end is closed are flushed by pipe_close() with
 * now = UINT64_MAX; link_put() computes at = now + delay_ns, which wraps to delay_ns - 1, so the
 * peer receives them immediately — ahead of frames sent earlier and before any delay elapsed.
 */
static void test_pipe_close_flush_keeps_delay_and_order(void **state)
{
	struct sl_fault f = {.delay_ns = 5 * US, .seed = tu_seed(10)};
	struct sl_dev *a, *b;
	struct rxlog *l = newlog();
	assert_int_equal(sl_dev_pipe_pair(&f, NULL, &a, &b), 0);
	send_n(a, 1, 1, 1 * US); /* due at 6 us */
	struct sl_frame q;
	assert_int_equal(a->ops->alloc(a, &q), 0);
	fill(q.data, 2, PAYLOAD);
	q.len = PAYLOAD;
	assert_int_equal(a->ops->tx(a, &q), 0);
	close_clean(a);
	unsigned early = recv_all(b, 6 * US - 1, l);
	recv_all(b, 6 * US, l);
	unsigned n = l->n;
	uint32_t first_seq = l->seq[0];
	close_clean(b);
	free(l);
	if (early)
		fail_msg("%u frame(s) arrived before the 5 us delay elapsed (first: seq %u)", early,
			 first_seq);
	assert_true(n >= 1);
	assert_int_equal(first_seq, 1); /* the first frame sent arrives first */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipe_clean_in_order_both_ways),
	    cmocka_unit_test(test_pipe_drop_all),
	    cmocka_unit_test(test_pipe_dup_all),
	    cmocka_unit_test(test_pipe_delay),
	    cmocka_unit_test(test_pipe_jitter_bounds),
	    cmocka_unit_test(test_pipe_corrupt_flips_one_bit),
	    cmocka_unit_test(test_pipe_corrupt_exact_diff),
	    cmocka_unit_test(test_pipe_reorder_swaps_pairs),
	    cmocka_unit_test(test_pipe_reorder_hold_released),
	    cmocka_unit_test(test_pipe_reorder_hold_respects_delay),
	    cmocka_unit_test(test_pipe_same_seed_same_outcomes),
	    cmocka_unit_test(test_pipe_set_fault),
	    cmocka_unit_test(test_pipe_tx_array_full_flushes),
	    cmocka_unit_test(test_pipe_link_overflow_counted),
	    cmocka_unit_test(test_pipe_rx_no_frame_counted),
	    cmocka_unit_test(test_pipe_owner_errors_counted),
	    cmocka_unit_test(test_pipe_close_reports_held_frame),
	    cmocka_unit_test(test_pipe_close_with_traffic_no_leak),
	    cmocka_unit_test(test_pipe_close_flush_keeps_delay_and_order),
	};
	return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
