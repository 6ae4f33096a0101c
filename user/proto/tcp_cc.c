/*
 * Congestion control: the algorithms behind struct sl_tcp_cc_ops, found by name. The stack
 * owns the parts every algorithm shares — the initial window (RFC 6928), cwnd during fast
 * recovery (PRR, RFC 6937, in tcp_recovery.c) and the loss window after a timeout (RFC 5681
 * §3.1) — and asks the algorithm how to grow and where to set ssthresh.
 */
#include "iface/stack.h"
#include <string.h>

static const struct sl_tcp_cc_ops *const algorithms[] = {&sl_tcp_cubic, &sl_tcp_newreno};

const struct sl_tcp_cc_ops *sl_tcp_cc_find(const char *name)
{
	if (!name)
		return NULL;
	for (unsigned i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (!strcmp(algorithms[i]->name, name))
			return algorithms[i];
	return NULL;
}

uint32_t sl_tcp_initial_window(const struct sl_tcb *t)
{
	/* RFC 6928: IW = min(10·MSS, max(2·MSS, 14600)), as configured. */
	uint32_t iw = t->st->cfg.tcp_initial_window * t->mss;
	uint32_t cap = 2 * t->mss > 14600 ? 2 * t->mss : 14600;
	if (t->st->cfg.tcp_initial_window >= 10 && iw > cap)
		iw = cap;
	return iw ? iw : t->mss;
}
