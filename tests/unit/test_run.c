/*
 * The run loop's checks (user/iface/run.c, include/sluice/stack.h): sl_stack_run asks the
 * device's health and the caller's check every check_ns and returns the check's error, so an
 * application learns that its gate or device went away instead of polling a dead socket.
 * Runs on the real clock for a few tens of milliseconds; no timing is asserted beyond "it
 * returned".
 */
#include <errno.h>
#include "unit/testutil.h"
#include "sluice/dev.h"
#include "sluice/stack.h"

struct checker {
	int calls;
	int fail_at; /* call number that fails, 0: never */
	int err;
};

static int count_check(void *arg, struct sl_stack *st)
{
	struct checker *c = arg;
	assert_non_null(st);
	c->calls++;
	return c->fail_at && c->calls >= c->fail_at ? c->err : 0;
}

static struct sl_stack *open_on_pipe(struct sl_dev **a, struct sl_dev **b)
{
	struct sl_stack_config cfg;
	struct sl_stack *st;
	sl_stack_config_init(&cfg);
	sl_ip_parse("10.0.0.3", &cfg.addrs[0].addr);
	cfg.addrs[0].prefix_len = 24;
	cfg.n_addrs = 1;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, a, b), 0);
	assert_int_equal(sl_stack_open(*a, &cfg, sl_now_ns(), &st), 0);
	return st;
}

static void close_all(struct sl_stack *st, struct sl_dev *a, struct sl_dev *b)
{
	struct sl_dev_counts fc;
	sl_stack_close(st);
	sl_dev_close_counted(a, &fc);
	assert_int_equal(fc.owner[SL_OWN_FREE], fc.total);
	sl_dev_close(b);
}

/* A check that fails ends the loop with its error, on the call that failed. */
static void test_run_returns_check_error(void **state)
{
	struct sl_dev *a, *b;
	struct sl_stack *st = open_on_pipe(&a, &b);
	struct checker c = {.fail_at = 3, .err = -ENOENT};
	struct sl_run_opts o = {.check_ns = 10000000ULL, /* 10 ms */
				.duration_ns = 10000000000ULL, /* a bound, never reached */
				.check = count_check,
				.check_arg = &c};
	assert_int_equal(sl_stack_run(st, &o), -ENOENT);
	assert_int_equal(c.calls, 3);
	close_all(st, a, b);
}

/* A check that never fails is still called, and the loop ends at its duration with 0. */
static void test_run_check_ok_until_duration(void **state)
{
	struct sl_dev *a, *b;
	struct sl_stack *st = open_on_pipe(&a, &b);
	struct checker c = {0};
	struct sl_run_opts o = {.check_ns = 5000000ULL,
				.duration_ns = 50000000ULL,
				.check = count_check,
				.check_arg = &c};
	assert_int_equal(sl_stack_run(st, &o), 0);
	assert_true(c.calls >= 1);
	close_all(st, a, b);
}

/* A pipe has no interface to lose: always healthy. */
static void test_pipe_always_healthy(void **state)
{
	struct sl_dev *a, *b;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	assert_int_equal(sl_dev_health(a), 0);
	assert_int_equal(sl_dev_health(b), 0);
	sl_dev_close(a);
	sl_dev_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run_returns_check_error),
	    cmocka_unit_test(test_run_check_ok_until_duration),
	    cmocka_unit_test(test_pipe_always_healthy),
	};
	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
