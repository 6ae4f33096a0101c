/*
 * Timers: a binary min-heap of intrusive timers, one heap per stack.
 * Arm/cancel are O(log n); the heap array grows up to a bound set at init.
 */
#ifndef SL_UTIL_TIMER_H
#define SL_UTIL_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct sl_timer;
typedef void (*sl_timer_fn)(struct sl_timer *t, void *ctx, uint64_t now);

struct sl_timer {
	uint64_t deadline;
	int idx; /* position in the heap, -1 when not armed */
	sl_timer_fn fn;
};

struct sl_timers {
	struct sl_timer **heap;
	unsigned n, cap, max;
	bool running;	  /* inside sl_timers_run */
	uint64_t run_now; /* its now */
};

int sl_timers_init(struct sl_timers *ts, unsigned max);
void sl_timers_free(struct sl_timers *ts);
void sl_timer_init(struct sl_timer *t, sl_timer_fn fn);
/* (Re)arm t for deadline. -ENOSPC when the heap is at its bound. A timer armed from a callback
 * for a deadline already due runs on the next sl_timers_run, never in the same one. */
int sl_timer_arm(struct sl_timers *ts, struct sl_timer *t, uint64_t deadline);
void sl_timer_cancel(struct sl_timers *ts, struct sl_timer *t);
static inline bool sl_timer_armed(const struct sl_timer *t)
{
	return t->idx >= 0;
}
/* Run every timer due at now (a timer may re-arm itself); return the next deadline. */
uint64_t sl_timers_run(struct sl_timers *ts, void *ctx, uint64_t now);
static inline uint64_t sl_timers_next(const struct sl_timers *ts)
{
	return ts->n ? ts->heap[0]->deadline : UINT64_MAX;
}

#endif
