#include "util/timer.h"
#include <errno.h>
#include <stdlib.h>

int sl_timers_init(struct sl_timers *ts, unsigned max)
{
	ts->n = 0;
	ts->running = false;
	ts->cap = 64 < max ? 64 : max;
	ts->max = max;
	ts->heap = calloc(ts->cap, sizeof(*ts->heap));
	return ts->heap ? 0 : -ENOMEM;
}

void sl_timers_free(struct sl_timers *ts)
{
	for (unsigned i = 0; i < ts->n; i++)
		ts->heap[i]->idx = -1;
	free(ts->heap);
	ts->heap = NULL;
	ts->n = ts->cap = 0;
}

void sl_timer_init(struct sl_timer *t, sl_timer_fn fn)
{
	t->deadline = 0;
	t->idx = -1;
	t->fn = fn;
}

static void place(struct sl_timers *ts, unsigned i, struct sl_timer *t)
{
	ts->heap[i] = t;
	t->idx = (int)i;
}

static void sift_up(struct sl_timers *ts, unsigned i)
{
	struct sl_timer *t = ts->heap[i];
	while (i > 0) {
		unsigned parent = (i - 1) / 2;
		if (ts->heap[parent]->deadline <= t->deadline)
			break;
		place(ts, i, ts->heap[parent]);
		i = parent;
	}
	place(ts, i, t);
}

static void sift_down(struct sl_timers *ts, unsigned i)
{
	struct sl_timer *t = ts->heap[i];
	for (;;) {
		unsigned c = 2 * i + 1;
		if (c >= ts->n)
			break;
		if (c + 1 < ts->n && ts->heap[c + 1]->deadline < ts->heap[c]->deadline)
			c++;
		if (t->deadline <= ts->heap[c]->deadline)
			break;
		place(ts, i, ts->heap[c]);
		i = c;
	}
	place(ts, i, t);
}

int sl_timer_arm(struct sl_timers *ts, struct sl_timer *t, uint64_t deadline)
{
	if (ts->running && deadline <= ts->run_now)
		deadline = ts->run_now + 1; /* no livelock on a timer that re-arms itself as due */
	if (t->idx >= 0) {
		uint64_t old = t->deadline;
		t->deadline = deadline;
		if (deadline < old)
			sift_up(ts, (unsigned)t->idx);
		else
			sift_down(ts, (unsigned)t->idx);
		return 0;
	}
	if (ts->n == ts->cap) {
		if (ts->cap >= ts->max)
			return -ENOSPC;
		unsigned ncap = ts->cap * 2 < ts->max ? ts->cap * 2 : ts->max;
		struct sl_timer **h = realloc(ts->heap, ncap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		ts->heap = h;
		ts->cap = ncap;
	}
	t->deadline = deadline;
	ts->heap[ts->n] = t;
	t->idx = (int)ts->n++;
	sift_up(ts, ts->n - 1);
	return 0;
}

void sl_timer_cancel(struct sl_timers *ts, struct sl_timer *t)
{
	if (t->idx < 0)
		return;
	unsigned i = (unsigned)t->idx;
	t->idx = -1;
	if (--ts->n == i)
		return;
	struct sl_timer *last = ts->heap[ts->n];
	place(ts, i, last);
	if (i > 0 && ts->heap[(i - 1) / 2]->deadline > last->deadline)
		sift_up(ts, i);
	else
		sift_down(ts, i);
}

uint64_t sl_timers_run(struct sl_timers *ts, void *ctx, uint64_t now)
{
	ts->running = true;
	ts->run_now = now;
	while (ts->n && ts->heap[0]->deadline <= now) {
		struct sl_timer *t = ts->heap[0];
		sl_timer_cancel(ts, t);
		t->fn(t, ctx, now);
	}
	ts->running = false;
	return sl_timers_next(ts);
}
