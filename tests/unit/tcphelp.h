/*
 * Helpers for the TCP tests that play a peer (tests/unit/fakepeer.h): the stream pattern,
 * application reads and writes, and a path model between the stack and the peer.
 * Header-only, like testutil.h.
 *
 * The path (struct path) carries the stack's segments to the peer after a one-way delay and
 * no faster than one segment per gap (a bottleneck), so the peer's ACKs come back spaced the
 * way a real receiver's would; a loss rule drops chosen transmissions. The peer takes what
 * arrives into its sequence space (pc_rx_data: cumulative ACK, and SACK blocks when it
 * negotiated SACK) and answers every data segment with an ACK at once. Every segment the
 * stack sent is logged with its send time, for the assertions.
 */
#ifndef SL_TCPHELP_H
#define SL_TCPHELP_H

#include "unit/fakepeer.h"

static inline uint8_t pat(uint64_t i)
{
	return (uint8_t)(i % 251);
}

/* Pattern bytes of a stream at stream offset off. */
static inline const uint8_t *pbytes(uint64_t off, uint32_t n)
{
	static uint8_t b[65536];
	assert_true(n <= sizeof b);
	for (uint32_t i = 0; i < n; i++)
		b[i] = pat(off + i);
	return b;
}

static inline struct sl_tcp_info info_of(struct sl_tcp_flow *f)
{
	struct sl_tcp_info i;
	sl_tcp_info(f, &i);
	return i;
}

/* Sum of every drop counter (shared/DESIGN.md: every drop is counted). */
static inline uint64_t drops(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < SL_STAT_N; i++)
		if (sl_stat_is_drop(i))
			n += sl_stack_stats(T.st)->c[i];
	return n;
}

/* The counter called name, or -1 when stats.h has none of that name. */
static inline int stat_index(const char *name)
{
	for (unsigned i = 0; i < SL_STAT_N; i++)
		if (strcmp(sl_stat_name(i), name) == 0)
			return (int)i;
	return -1;
}

/* Write n pattern bytes (stream offset off) from the stack's side; all must be taken. */
static inline void app_write(struct sl_tcp_flow *f, uint64_t off, uint32_t n, bool nodelay)
{
	uint8_t *b = malloc(n);
	assert_non_null(b);
	for (uint32_t i = 0; i < n; i++)
		b[i] = pat(off + i);
	ssize_t w = nodelay ? sl_tcp_write_nodelay(f, b, n) : sl_tcp_write(f, b, n);
	free(b);
	assert_int_equal(w, n);
}

/* Read everything readable and check it is the pattern from stream offset off. */
static inline size_t app_read_check(struct sl_tcp_flow *f, uint64_t off)
{
	uint8_t buf[8192];
	size_t total = 0;
	ssize_t r;
	while ((r = sl_tcp_read(f, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pat(off + total + (size_t)i)) {
				print_message("byte %zu: %u != %u\n", (size_t)(off + total + i),
					      buf[i], pat(off + total + (size_t)i));
				fail();
			}
		total += (size_t)r;
	}
	return total;
}

/* Passive open on port 80 from the peer's port pport: MSS 1460, no window scale, SACK and
 * timestamps as asked. The queue of collected segments is cleared. */
static inline void open_passive_with(struct pc *c, uint16_t pport, bool sack, bool ts)
{
	c->win = 65535;
	open_passive_ext(c, 80, pport, 1460, -1, sack, ts);
	tp_clear();
}

/* --- the path ------------------------------------------------------------------------------ */

#define PATH_LOG 8192
#define PATH_Q 1024

struct path;
/* Whether the nth transmission (0: the first) of the segment s never reaches the peer. */
typedef bool (*path_lose_fn)(struct path *p, const struct seg *s, unsigned nth);

struct path {
	struct pc *c;
	uint64_t delay; /* one way, stack → peer; the ACKs come back at once */
	uint64_t gap;	/* deliveries to the peer at least this far apart */
	bool mute;	/* the peer's ACKs are lost (it still takes the data) */
	path_lose_fn lose;
	void *arg;
	/* In flight towards the peer. */
	struct path_slot {
		struct seg s;
		uint64_t at;
		bool lost;
	} * q;
	unsigned qh, qt;
	uint64_t last_at;
	/* Everything the stack sent, in order. */
	struct seg *log;
	unsigned nlog;
	/* The peer's ACKs. */
	unsigned acks;
	uint32_t last_ack;
	unsigned same_ack; /* ACKs in a row with the same ack field, after the first */
	unsigned max_same_ack;
	uint64_t first_dup_ack_at;
};

/* Paths not yet freed, so that a failed test's teardown can free them. */
static struct path *live_paths[4];

static inline void path_free(struct path *p)
{
	free(p->log);
	free(p->q);
	for (unsigned i = 0; i < 4; i++)
		if (live_paths[i] == p)
			live_paths[i] = NULL;
	free(p);
}

static inline struct path *path_new(struct pc *c, uint64_t delay, uint64_t gap)
{
	struct path *p = calloc(1, sizeof *p);
	assert_non_null(p);
	p->c = c;
	p->delay = delay;
	p->gap = gap;
	p->log = calloc(PATH_LOG, sizeof *p->log);
	p->q = calloc(PATH_Q, sizeof *p->q);
	assert_non_null(p->log);
	assert_non_null(p->q);
	p->last_ack = c->rcv_nxt;
	for (unsigned i = 0; i < 4; i++)
		if (!live_paths[i]) {
			live_paths[i] = p;
			break;
		}
	return p;
}

/* cmocka teardown for tests that use paths: frees them, then what tp_teardown frees. */
static inline int path_teardown(void **state)
{
	for (unsigned i = 0; i < 4; i++)
		if (live_paths[i])
			path_free(live_paths[i]);
	return tp_teardown(state);
}

/* Transmissions logged so far of the segment starting at seq (with data). */
static inline unsigned path_tx_count(const struct path *p, uint32_t seq)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->nlog; i++)
		n += p->log[i].seq == seq && p->log[i].dlen > 0;
	return n;
}

/* Segments with data the stack sent after time t. */
static inline unsigned path_data_after(const struct path *p, uint64_t t)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->nlog; i++)
		n += p->log[i].t > t && p->log[i].dlen > 0;
	return n;
}

/* Move what the stack sent into the path. */
static inline void path_take(struct path *p)
{
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		if (s->sport != p->c->sport || s->dport != p->c->pport)
			continue;
		unsigned nth = s->dlen ? path_tx_count(p, s->seq) : 0;
		assert_true(p->nlog < PATH_LOG);
		p->log[p->nlog++] = *s;
		assert_true(p->qt - p->qh < PATH_Q);
		unsigned k = p->qt++ % PATH_Q;
		p->q[k].s = *s;
		uint64_t at = s->t + p->delay;
		if (p->last_at && at < p->last_at + p->gap)
			at = p->last_at + p->gap;
		p->last_at = at;
		p->q[k].at = at;
		p->q[k].lost = p->lose && (s->dlen || (s->flags & F_FIN)) && p->lose(p, s, nth);
	}
	tp_clear();
}

/* The peer acknowledges what it holds (with SACK blocks when negotiated). */
static inline void path_ack(struct path *p)
{
	if (p->mute)
		return;
	struct pc *c = p->c;
	if (p->acks && c->rcv_nxt == p->last_ack) {
		if (!p->same_ack++)
			p->first_dup_ack_at = T.now;
		if (p->same_ack > p->max_same_ack)
			p->max_same_ack = p->same_ack;
	} else {
		p->same_ack = 0;
	}
	p->last_ack = c->rcv_nxt;
	p->acks++;
	pc_tx(c, F_ACK, NULL, 0);
}

/* Deliver what has arrived by now; returns how many segments reached the peer. */
static inline unsigned path_deliver(struct path *p)
{
	unsigned n = 0;
	while (p->qh != p->qt && p->q[p->qh % PATH_Q].at <= T.now) {
		unsigned k = p->qh++ % PATH_Q;
		const struct seg *s = &p->q[k].s;
		if (p->q[k].lost)
			continue;
		uint32_t len = s->dlen + !!(s->flags & F_FIN);
		if (!len)
			continue; /* a pure ACK: nothing to answer */
		pc_rx_data(p->c, s->seq, len);
		path_ack(p);
		n++;
	}
	return n;
}

static inline uint64_t path_next(const struct path *p)
{
	return p->qh != p->qt ? p->q[p->qh % PATH_Q].at : UINT64_MAX;
}

/* Run the stack and the path until the simulated time until, in steps of at most step. */
static inline void path_run_to(struct path *p, uint64_t until, uint64_t step)
{
	for (;;) {
		tp_poll();
		path_take(p);
		if (path_deliver(p))
			continue;
		if (T.now >= until)
			break;
		uint64_t next = path_next(p);
		uint64_t to = T.now + step;
		if (next < to)
			to = next;
		if (to > until)
			to = until;
		tp_run_to(to);
		path_take(p);
	}
}

static inline void path_run(struct path *p, uint64_t ns, uint64_t step)
{
	path_run_to(p, T.now + ns, step);
}

#endif
