/*
 * The run loop: poll the stack; when nothing is due, sleep in poll(2) on the
 * device's file descriptor until the next deadline (or spin with busy_poll).
 * One clock read per iteration, not per packet. Every check_ns the loop asks whether the
 * device is still there (sl_dev_health) and runs the caller's check: those are syscalls, so
 * they never run per batch.
 */
#include "iface/stack.h"
#include <errno.h>
#include <poll.h>
#include <time.h>

void sl_stack_stop(struct sl_stack *st)
{
	st->stop = 1;
}

int sl_stack_run(struct sl_stack *st, const struct sl_run_opts *opts)
{
	struct sl_run_opts o = {.max_sleep_ns = 100000000ULL};
	if (opts)
		o = *opts;
	if (!o.max_sleep_ns)
		o.max_sleep_ns = 100000000ULL;
	if (!o.check_ns)
		o.check_ns = 250000000ULL;
	uint64_t start = sl_now_ns();
	uint64_t end = o.duration_ns ? start + o.duration_ns : UINT64_MAX;
	uint64_t next_check = start + o.check_ns;
	int fd = sl_dev_fd(st->dev);
	bool aux = o.aux && o.aux_fd >= 0;
	st->stop = 0;
	uint64_t last_work = 0;
	while (!st->stop) {
		uint64_t now = sl_now_ns();
		if (now >= end)
			break;
		if (now >= next_check) {
			/* A link that is down is waited out (the device backs off its kicks); an
			 * interface that is gone ends the loop: nothing will arrive or leave. */
			int h = sl_dev_health(st->dev);
			if (h == -ENETDOWN)
				h = 0;
			if (!h && o.check)
				h = o.check(o.check_arg, st);
			if (!h && aux)
				h = o.aux(o.aux_arg, st);
			if (h < 0)
				return h;
			next_check = now + o.check_ns;
		}
		uint64_t rx_before = st->stats->c[SL_STAT_rx_frames];
		uint64_t next = sl_stack_poll(st, now);
		if (st->stats->c[SL_STAT_rx_frames] != rx_before)
			last_work = now;
		/* Spin a little after traffic: a request/response peer usually answers within
		 * tens of microseconds, and catching that without a sleep and a wake-up halves
		 * the round trip on a virtual machine. Idle stacks still sleep. */
		if (o.busy_poll || next <= now || now - last_work < o.spin_ns)
			continue;
		uint64_t wait = next - now;
		if (wait > o.max_sleep_ns)
			wait = o.max_sleep_ns;
		if (end - now < wait)
			wait = end - now;
		if (next_check - now < wait)
			wait = next_check - now;
		/* ppoll: the deadline to the microsecond (a tail loss probe on a LAN is due
		 * within a fraction of a millisecond; poll(2) would round it up to 1 ms). */
		struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
				       {.fd = aux ? o.aux_fd : -1, .events = POLLIN}};
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ULL),
				      .tv_nsec = (long)(wait % 1000000000ULL)};
		int n = ppoll(pf, 2, &ts, NULL);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0 && (pf[1].revents & POLLIN)) {
			int h = o.aux(o.aux_arg, st);
			if (h < 0)
				return h;
		}
		struct pollfd p = pf[0];
		if (n > 0 && fd >= 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) {
			/* An AF_XDP socket does not say this today (an unbound one reports
			 * nothing); if a device does, name it now rather than poll an error in a
			 * loop. */
			if (p.revents & POLLNVAL)
				return -EBADF;
			int h = sl_dev_health(st->dev);
			return h && h != -ENETDOWN ? h : -EIO;
		}
	}
	return 0;
}
