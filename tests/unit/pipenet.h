/*
 * Two sluice stacks in one process over the in-memory pipe device (sl_dev_pipe_pair), with
 * simulated time. Header-only, like testutil.h:
 *
 *	struct net n;
 *	pn_up(&n, ab, ba, seed);   A = 10.9.0.1/24 (seed), B = 10.9.0.2/24 (seed + 1); the
 *				   faults ab (A → B) and ba (B → A) may be NULL
 *	pn_run_for(&n, ns);        poll both stacks in 1 ms steps
 *	pn_run_until(&n, &run, cond, arg, max_ns)   time jumps from event to event
 *	pn_down(&n);               close, and assert that every frame is back in its pool
 *
 * Both stacks derive their secrets from their seeds (deterministic_secrets), so a seed
 * replays a run exactly.
 *
 * pn_close_counted() is that last check on its own, for any two pipe ends.
 */
#ifndef SL_PIPENET_H
#define SL_PIPENET_H

#include "unit/testutil.h"
#include "sluice/sluice.h"

#define PN_MS 1000000ULL
#define PN_IP_A 0x0a090001u /* 10.9.0.1: stack A */
#define PN_IP_B 0x0a090002u /* 10.9.0.2: stack B */

struct net {
	struct sl_dev *da, *db;
	struct sl_stack *a, *b;
	uint64_t now;
	uint64_t polls; /* rounds of pn_run_until */
};

/* A stack's configuration: one address, addr/24, and the seed of its randomness. */
static inline void pn_config(struct sl_stack_config *c, uint32_t addr, uint64_t seed)
{
	sl_stack_config_init(c);
	c->addrs[0].addr = sl_ip_v4(addr);
	c->addrs[0].prefix_len = 24;
	c->n_addrs = 1;
	c->seed = seed;
	c->deterministic_secrets = true; /* ISNs, ports and keys replay with the seed */
}

/* A on the first end of a new pipe, B on the other; the clock starts at 1 s. */
static inline void pn_open(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
			   const struct sl_stack_config *ca, const struct sl_stack_config *cb)
{
	memset(n, 0, sizeof *n);
	assert_int_equal(sl_dev_pipe_pair(ab, ba, &n->da, &n->db), 0);
	n->now = 1000 * PN_MS;
	assert_int_equal(sl_stack_open(n->da, ca, n->now, &n->a), 0);
	assert_int_equal(sl_stack_open(n->db, cb, n->now, &n->b), 0);
}

static inline void pn_up(struct net *n, const struct sl_fault *ab, const struct sl_fault *ba,
			 uint64_t seed)
{
	struct sl_stack_config ca, cb;
	pn_config(&ca, PN_IP_A, seed);
	pn_config(&cb, PN_IP_B, seed + 1);
	pn_open(n, ab, ba, &ca, &cb);
}

/* Advance simulated time in 1 ms steps, polling both stacks. */
static inline void pn_run_for(struct net *n, uint64_t ns)
{
	uint64_t end = n->now + ns;
	while (n->now < end) {
		sl_stack_poll(n->a, n->now);
		sl_stack_poll(n->b, n->now);
		n->now += PN_MS;
	}
}

/* How pn_run_until moves time on. */
struct pn_run {
	/* Poll twice at each instant: a poll's deadline misses timers its own output flush
	 * armed (tests/unit/test_tcp_states.c: test_established_poll_deadline_includes_rto). */
	bool poll_twice;
	/* Ask the devices for their next event too: what B just sent is not in A's answer. */
	bool ask_devices;
	/* Rounds at one instant while there is work before time is moved on by 1 µs anyway
	 * (0 or 1: at once). */
	unsigned same_max;
	/* The longest jump (0: none). */
	uint64_t max_step_ns;
	/* Poll at the deadline too, and never step past it. */
	bool to_end;
};

/* Poll both stacks until cond(arg) or the simulated deadline, now + max_ns; time jumps to the
 * next event. cond may be NULL. Returns whether cond holds (true without one). */
static inline bool pn_run_until(struct net *n, const struct pn_run *r, bool (*cond)(void *),
				void *arg, uint64_t max_ns)
{
	uint64_t end = n->now + max_ns;
	unsigned same = 0;
	while (r->to_end || n->now < end) {
		if (r->poll_twice) {
			sl_stack_poll(n->a, n->now);
			sl_stack_poll(n->b, n->now);
		}
		uint64_t na = sl_stack_poll(n->a, n->now);
		uint64_t nb = sl_stack_poll(n->b, n->now);
		n->polls++;
		if (cond && cond(arg))
			return true;
		if (r->to_end && n->now >= end)
			break;
		uint64_t next = na < nb ? na : nb;
		if (r->ask_devices) {
			uint64_t da = n->da->ops->next_event(n->da);
			uint64_t db = n->db->ops->next_event(n->db);
			next = da < next ? da : next;
			next = db < next ? db : next;
		}
		if (next <= n->now) {
			if (++same < r->same_max)
				continue; /* more work at this instant */
			next = n->now + 1000;
		}
		same = 0;
		if (r->max_step_ns && next > n->now + r->max_step_ns)
			next = n->now + r->max_step_ns;
		n->now = r->to_end && next > end ? end : next;
	}
	return cond ? cond(arg) : true;
}

/* Close both ends of a pipe (after the stacks on them): every frame is back in its free
 * list, and none came back from the wrong place. */
static inline void pn_close_counted(struct sl_dev *d1, struct sl_dev *d2)
{
	struct sl_dev_counts c1, c2;
	sl_dev_close_counted(d1, &c1);
	sl_dev_close_counted(d2, &c2);
	assert_int_equal(c1.owner[SL_OWN_FREE], c1.total);
	assert_int_equal(c2.owner[SL_OWN_FREE], c2.total);
	assert_int_equal(c1.owner_errors, 0);
	assert_int_equal(c2.owner_errors, 0);
}

static inline void pn_down(struct net *n)
{
	sl_stack_close(n->a);
	sl_stack_close(n->b);
	pn_close_counted(n->da, n->db);
}

#endif
