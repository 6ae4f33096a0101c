/*
 * Timers (user/util/timer.h): a bounded binary min-heap of intrusive timers.
 * Ordering, cancel, re-arm (also from inside a callback), run-expired, the -ENOSPC bound,
 * and random operations checked against a plain array model. Seeded; the seed is printed
 * on failure (replay with SLUICE_SEED=N).
 */
#include <errno.h>
#include <stddef.h>
#include "unit/testutil.h"
#include "util/timer.h"
#include "util/rng.h"

#define MAXT 512

struct tt {
	struct sl_timer t;
	int id;
	int fired;
	uint64_t fired_at;
	uint64_t rearm_after; /* re-arm itself at now + rearm_after when nonzero */
	struct sl_timer *cancel_other;
	struct tt *arm_other;
	uint64_t arm_other_at;
};

struct log {
	int ids[MAXT * 4];
	uint64_t deadlines[MAXT * 4];
	int n;
	struct sl_timers *ts;
};

static struct tt *tt_of(struct sl_timer *t)
{
	return (struct tt *)((char *)t - offsetof(struct tt, t));
}

static void on_fire(struct sl_timer *t, void *ctx, uint64_t now)
{
	struct log *l = ctx;
	struct tt *x = tt_of(t);
	assert_false(sl_timer_armed(t)); /* disarmed before its callback runs */
	assert_true(t->deadline <= now);
	x->fired++;
	x->fired_at = now;
	l->ids[l->n] = x->id;
	l->deadlines[l->n] = t->deadline;
	l->n++;
	if (x->cancel_other)
		sl_timer_cancel(l->ts, x->cancel_other);
	if (x->arm_other)
		assert_int_equal(sl_timer_arm(l->ts, &x->arm_other->t, x->arm_other_at), 0);
	if (x->rearm_after)
		assert_int_equal(sl_timer_arm(l->ts, t, now + x->rearm_after), 0);
}

static void init_tts(struct tt *v, int n)
{
	memset(v, 0, sizeof(*v) * (size_t)n);
	for (int i = 0; i < n; i++) {
		sl_timer_init(&v[i].t, on_fire);
		v[i].id = i;
	}
}

/* Heap shape: every entry knows its index and no child is earlier than its parent. */
static void check_heap(const struct sl_timers *ts)
{
	for (unsigned i = 0; i < ts->n; i++) {
		assert_int_equal(ts->heap[i]->idx, (int)i);
		if (i > 0)
			assert_true(ts->heap[(i - 1) / 2]->deadline <= ts->heap[i]->deadline);
	}
}

static void test_timer_init_empty(void **state)
{
	struct sl_timers ts;
	assert_int_equal(sl_timers_init(&ts, 16), 0);
	assert_int_equal(ts.n, 0);
	assert_true(sl_timers_next(&ts) == UINT64_MAX);
	struct log l = {.ts = &ts};
	assert_true(sl_timers_run(&ts, &l, UINT64_MAX) == UINT64_MAX);
	assert_int_equal(l.n, 0);
	struct sl_timer t;
	sl_timer_init(&t, on_fire);
	assert_false(sl_timer_armed(&t));
	sl_timer_cancel(&ts, &t); /* cancelling an unarmed timer is a no-op */
	assert_int_equal(ts.n, 0);
	sl_timers_free(&ts);
}

static void test_timer_fire_in_deadline_order(void **state)
{
	struct sl_timers ts;
	struct tt v[5];
	struct log l = {.ts = &ts};
	static const uint64_t dl[5] = {50, 10, 30, 20, 40};
	assert_int_equal(sl_timers_init(&ts, 16), 0);
	init_tts(v, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sl_timer_arm(&ts, &v[i].t, dl[i]), 0);
		assert_true(sl_timer_armed(&v[i].t));
		check_heap(&ts);
	}
	assert_true(sl_timers_next(&ts) == 10);
	assert_true(sl_timers_run(&ts, &l, 100) == UINT64_MAX);
	assert_int_equal(l.n, 5);
	static const int want[5] = {1, 3, 2, 4, 0};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(l.ids[i], want[i]);
		assert_false(sl_timer_armed(&v[i].t));
		assert_int_equal(v[i].fired, 1);
		assert_true(v[i].fired_at == 100);
	}
	sl_timers_free(&ts);
}

static void test_timer_run_only_expired(void **state)
{
	struct sl_timers ts;
	struct tt v[5];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 16), 0);
	init_tts(v, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sl_timer_arm(&ts, &v[i].t, 10 * (uint64_t)(i + 1)), 0);
	assert_true(sl_timers_run(&ts, &l, 9) == 10);
	assert_int_equal(l.n, 0);
	/* Deadline equal to now is due. */
	assert_true(sl_timers_run(&ts, &l, 20) == 30);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], 0);
	assert_int_equal(l.ids[1], 1);
	assert_true(sl_timer_armed(&v[2].t));
	assert_int_equal(ts.n, 3);
	/* Running again at the same time fires nothing more. */
	assert_true(sl_timers_run(&ts, &l, 20) == 30);
	assert_int_equal(l.n, 2);
	assert_true(sl_timers_run(&ts, &l, 45) == 50);
	assert_int_equal(l.n, 4);
	check_heap(&ts);
	sl_timers_free(&ts);
}

static void test_timer_cancel(void **state)
{
	struct sl_timers ts;
	struct tt v[8];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 16), 0);
	init_tts(v, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(sl_timer_arm(&ts, &v[i].t, 100 + 10 * (uint64_t)i), 0);
	sl_timer_cancel(&ts, &v[0].t); /* the head */
	check_heap(&ts);
	assert_true(sl_timers_next(&ts) == 110);
	sl_timer_cancel(&ts, &v[4].t); /* the middle */
	check_heap(&ts);
	struct tt *leaf = tt_of(ts.heap[ts.n - 1]); /* the last leaf */
	sl_timer_cancel(&ts, &leaf->t);
	check_heap(&ts);
	assert_false(sl_timer_armed(&leaf->t));
	sl_timer_cancel(&ts, &v[4].t); /* twice: no-op */
	assert_int_equal(ts.n, 5);
	assert_false(sl_timer_armed(&v[0].t));
	assert_false(sl_timer_armed(&v[4].t));
	sl_timers_run(&ts, &l, 1000);
	assert_int_equal(l.n, 5);
	assert_int_equal(v[0].fired + v[4].fired + leaf->fired, 0);
	for (int i = 1; i < l.n; i++)
		assert_true(l.deadlines[i - 1] <= l.deadlines[i]);
	sl_timers_free(&ts);
}

static void test_timer_rearm_moves(void **state)
{
	struct sl_timers ts;
	struct tt v[6];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 16), 0);
	init_tts(v, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(sl_timer_arm(&ts, &v[i].t, 100 + 10 * (uint64_t)i), 0);
	/* Later: the head moves down. */
	assert_int_equal(sl_timer_arm(&ts, &v[0].t, 1000), 0);
	check_heap(&ts);
	assert_int_equal(ts.n, 6); /* re-arming does not add an entry */
	assert_true(sl_timers_next(&ts) == 110);
	/* Earlier: the last moves to the top. */
	assert_int_equal(sl_timer_arm(&ts, &v[5].t, 5), 0);
	check_heap(&ts);
	assert_true(sl_timers_next(&ts) == 5);
	/* Same deadline: still armed, no change in count. */
	assert_int_equal(sl_timer_arm(&ts, &v[3].t, 130), 0);
	assert_int_equal(ts.n, 6);
	sl_timers_run(&ts, &l, 2000);
	static const int want[6] = {5, 1, 2, 3, 4, 0};
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(l.ids[i], want[i]);
	for (int i = 0; i < 6; i++)
		assert_int_equal(v[i].fired, 1); /* each once, at its last deadline */
	sl_timers_free(&ts);
}

/* A periodic timer re-arms itself from its callback: one firing per run. */
static void test_timer_rearm_from_callback(void **state)
{
	struct sl_timers ts;
	struct tt v[1];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 4), 0);
	init_tts(v, 1);
	v[0].rearm_after = 10;
	assert_int_equal(sl_timer_arm(&ts, &v[0].t, 10), 0);
	uint64_t now = 10;
	for (int k = 1; k <= 5; k++) {
		uint64_t next = sl_timers_run(&ts, &l, now);
		assert_int_equal(v[0].fired, k);
		assert_true(next == now + 10);
		assert_true(sl_timer_armed(&v[0].t));
		now = next;
	}
	sl_timers_free(&ts);
	assert_false(sl_timer_armed(&v[0].t)); /* free disarms what was left */
}

/* A callback cancels another timer that is also due: it must not fire. */
static void test_timer_cancel_from_callback(void **state)
{
	struct sl_timers ts;
	struct tt v[3];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 4), 0);
	init_tts(v, 3);
	v[0].cancel_other = &v[1].t;
	assert_int_equal(sl_timer_arm(&ts, &v[0].t, 10), 0);
	assert_int_equal(sl_timer_arm(&ts, &v[1].t, 20), 0);
	assert_int_equal(sl_timer_arm(&ts, &v[2].t, 30), 0);
	assert_true(sl_timers_run(&ts, &l, 100) == UINT64_MAX);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], 0);
	assert_int_equal(l.ids[1], 2);
	assert_int_equal(v[1].fired, 0);
	sl_timers_free(&ts);
}

/* A callback arms another timer already due: it is deferred to just after now and runs in the
 * next call, so a timer that keeps re-arming itself as due cannot livelock the poll loop. */
static void test_timer_arm_due_from_callback(void **state)
{
	struct sl_timers ts;
	struct tt v[2];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 4), 0);
	init_tts(v, 2);
	v[0].arm_other = &v[1];
	v[0].arm_other_at = 50;
	assert_int_equal(sl_timer_arm(&ts, &v[0].t, 50), 0);
	assert_true(sl_timers_run(&ts, &l, 60) == 61);
	assert_int_equal(l.n, 1);
	assert_int_equal(v[1].fired, 0);
	assert_true(sl_timers_run(&ts, &l, 61) == UINT64_MAX);
	assert_int_equal(l.n, 2);
	assert_int_equal(v[1].fired, 1);
	/* Armed for later than now: waits. */
	v[0].arm_other_at = 100;
	assert_int_equal(sl_timer_arm(&ts, &v[0].t, 70), 0);
	assert_true(sl_timers_run(&ts, &l, 80) == 100);
	assert_int_equal(v[1].fired, 1);
	sl_timers_free(&ts);
}

static void test_timer_bound_enospc(void **state)
{
	struct sl_timers ts;
	struct tt v[4];
	assert_int_equal(sl_timers_init(&ts, 3), 0);
	init_tts(v, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sl_timer_arm(&ts, &v[i].t, 10 + (uint64_t)i), 0);
	assert_int_equal(sl_timer_arm(&ts, &v[3].t, 5), -ENOSPC);
	assert_false(sl_timer_armed(&v[3].t));
	assert_int_equal(ts.n, 3);
	assert_true(sl_timers_next(&ts) == 10); /* the refused deadline is nowhere */
	/* Re-arming an armed timer needs no room. */
	assert_int_equal(sl_timer_arm(&ts, &v[0].t, 1), 0);
	sl_timer_cancel(&ts, &v[1].t);
	assert_int_equal(sl_timer_arm(&ts, &v[3].t, 5), 0);
	check_heap(&ts);
	assert_int_equal(ts.n, 3);
	sl_timers_free(&ts);
}

/* The heap grows past its initial allocation up to the bound, then refuses. */
static void test_timer_bound_after_growth(void **state)
{
	struct sl_timers ts;
	static struct tt v[301];
	struct log l = {.ts = &ts};
	assert_int_equal(sl_timers_init(&ts, 300), 0);
	init_tts(v, 301);
	for (int i = 0; i < 300; i++)
		assert_int_equal(sl_timer_arm(&ts, &v[i].t, (uint64_t)(i * 7919 % 300)), 0);
	check_heap(&ts);
	assert_int_equal(sl_timer_arm(&ts, &v[300].t, 0), -ENOSPC);
	assert_int_equal(ts.n, 300);
	sl_timers_run(&ts, &l, 1000);
	assert_int_equal(l.n, 300);
	for (int i = 1; i < l.n; i++)
		assert_true(l.deadlines[i - 1] <= l.deadlines[i]);
	/* Emptied heap takes timers again. */
	assert_int_equal(sl_timer_arm(&ts, &v[300].t, 0), 0);
	sl_timers_free(&ts);
}

/* --- random operations against a model ------------------------------------------------ */

struct model {
	bool armed[MAXT];
	uint64_t deadline[MAXT];
};

static unsigned model_count(const struct model *m, int n)
{
	unsigned c = 0;
	for (int i = 0; i < n; i++)
		c += m->armed[i];
	return c;
}

static uint64_t model_next(const struct model *m, int n)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < n; i++)
		if (m->armed[i] && m->deadline[i] < best)
			best = m->deadline[i];
	return best;
}

static void test_timer_random_vs_model(void **state)
{
	enum { N = 400, BOUND = 300 };
	uint64_t seed = tu_seed(0x71);
	struct sl_rng r;
	sl_rng_seed(&r, seed);
	struct sl_timers ts;
	static struct tt v[N];
	static struct model m;
	static struct log l;
	memset(&m, 0, sizeof m);
	memset(&l, 0, sizeof l);
	l.ts = &ts;
	assert_int_equal(sl_timers_init(&ts, BOUND), 0);
	init_tts(v, N);
	for (int i = 0; i < N; i++)
		v[i].rearm_after = (i % 7 == 0) ? 1 + (uint64_t)i : 0; /* some are periodic */
	uint64_t now = 1000;
	for (int step = 0; step < 50000; step++) {
		uint64_t op = sl_rng_below(&r, 100);
		int i = (int)sl_rng_below(&r, N);
		if (op < 55) {
			/* Deadlines from a little in the past to well ahead, with many ties. */
			uint64_t d = now - 20 + sl_rng_below(&r, 300);
			int rc = sl_timer_arm(&ts, &v[i].t, d);
			if (!m.armed[i] && model_count(&m, N) == BOUND) {
				if (rc != -ENOSPC)
					fail_msg("seed %llu step %d: arm past bound gave %d",
						 (unsigned long long)seed, step, rc);
			} else {
				if (rc != 0)
					fail_msg("seed %llu step %d: arm gave %d",
						 (unsigned long long)seed, step, rc);
				m.armed[i] = true;
				m.deadline[i] = d;
			}
		} else if (op < 80) {
			sl_timer_cancel(&ts, &v[i].t);
			m.armed[i] = false;
		} else {
			now += sl_rng_below(&r, 40);
			bool due[N];
			unsigned ndue = 0;
			for (int k = 0; k < N; k++) {
				due[k] = m.armed[k] && m.deadline[k] <= now;
				ndue += due[k];
				v[k].fired = 0;
			}
			l.n = 0;
			uint64_t next = sl_timers_run(&ts, &l, now);
			if ((unsigned)l.n != ndue)
				fail_msg("seed %llu step %d: fired %d, model says %u",
					 (unsigned long long)seed, step, l.n, ndue);
			for (int k = 0; k < l.n; k++) {
				int id = l.ids[k];
				if (!due[id] || v[id].fired != 1)
					fail_msg("seed %llu step %d: timer %d fired wrongly",
						 (unsigned long long)seed, step, id);
				if (k && l.deadlines[k - 1] > l.deadlines[k])
					fail_msg("seed %llu step %d: out of order",
						 (unsigned long long)seed, step);
			}
			for (int k = 0; k < N; k++) {
				if (!due[k])
					continue;
				m.armed[k] = v[k].rearm_after != 0;
				m.deadline[k] = now + v[k].rearm_after;
			}
			if (next != model_next(&m, N))
				fail_msg("seed %llu step %d: next %llu, model %llu",
					 (unsigned long long)seed, step, (unsigned long long)next,
					 (unsigned long long)model_next(&m, N));
		}
		for (int k = 0; k < N; k++)
			if (sl_timer_armed(&v[k].t) != m.armed[k] ||
			    (m.armed[k] && v[k].t.deadline != m.deadline[k]))
				fail_msg("seed %llu step %d: timer %d state differs",
					 (unsigned long long)seed, step, k);
		if (ts.n != model_count(&m, N) || sl_timers_next(&ts) != model_next(&m, N))
			fail_msg("seed %llu step %d: heap differs from model",
				 (unsigned long long)seed, step);
		if (step % 64 == 0)
			check_heap(&ts);
	}
	sl_timers_free(&ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timer_init_empty),
	    cmocka_unit_test(test_timer_fire_in_deadline_order),
	    cmocka_unit_test(test_timer_run_only_expired),
	    cmocka_unit_test(test_timer_cancel),
	    cmocka_unit_test(test_timer_rearm_moves),
	    cmocka_unit_test(test_timer_rearm_from_callback),
	    cmocka_unit_test(test_timer_cancel_from_callback),
	    cmocka_unit_test(test_timer_arm_due_from_callback),
	    cmocka_unit_test(test_timer_bound_enospc),
	    cmocka_unit_test(test_timer_bound_after_growth),
	    cmocka_unit_test(test_timer_random_vs_model),
	};
	return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
