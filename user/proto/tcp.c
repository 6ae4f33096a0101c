/*
 * TCP connection table, listeners, initial sequence numbers (RFC 6528), ephemeral ports
 * (RFC 6056 §3.3.4, algorithm 4), timestamp offsets (RFC 7323 §5.4, per connection), the
 * application API (include/sluice/tcp.h) and the end-of-poll output pass.
 */
#include "iface/stack.h"
#include "util/siphash.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
    "CLOSED",	  "LISTEN",	"SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
    "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK",	    "TIME-WAIT",
};

const char *sl_tcp_state_name(enum sl_tcp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

/* --- rings ------------------------------------------------------------------------------ */

static int ring_init(struct sl_ring *r, uint32_t cap)
{
	r->buf = malloc(cap);
	r->cap = cap;
	r->head = r->len = 0;
	return r->buf ? 0 : -ENOMEM;
}

/* --- FIFOs of connections --------------------------------------------------------------- */

static void tcbq_push(struct sl_tcbq *q, struct sl_tcb *t)
{
	t->q = q;
	t->qnext = NULL;
	t->qprev = q->tail;
	if (q->tail)
		q->tail->qnext = t;
	else
		q->head = t;
	q->tail = t;
	q->n++;
}

static void tcbq_remove(struct sl_tcb *t)
{
	struct sl_tcbq *q = t->q;
	if (!q)
		return;
	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		q->head = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		q->tail = t->qprev;
	q->n--;
	t->q = NULL;
	t->qprev = t->qnext = NULL;
}

/* A TIME-WAIT connection the application has let go of needs no buffers: give them back, so
 * thousands of them cost a few hundred bytes each. */
static void free_buffers(struct sl_tcb *t)
{
	/* tcp_buf_allocated - tcp_buf_freed is what the rings hold now: malloc'd address space,
	 * touched or not, which RSS alone cannot see. */
	STAT_ADD(t->st, tcp_buf_freed,
		 (uint64_t)(t->sndbuf.buf ? t->sndbuf.cap : 0) + (t->rcvbuf.buf ? t->rcvbuf.cap : 0));
	if (t->sm.acct)
		sl_tcp_mem(t->st, -(int64_t)t->sndbuf.cap - (int64_t)t->rcvbuf.cap);
	free(t->sndbuf.buf);
	free(t->rcvbuf.buf);
	memset(&t->sndbuf, 0, sizeof(t->sndbuf));
	memset(&t->rcvbuf, 0, sizeof(t->rcvbuf));
	sl_sendmap_free(&t->sm);
}

static void tw_shrink(struct sl_tcb *t)
{
	if (t->state != SL_TCP_TIME_WAIT || !t->app_closed || !t->sndbuf.buf)
		return;
	free_buffers(t);
}

int sl_tcb_alloc_buffers(struct sl_tcb *t)
{
	const struct sl_stack_config *c = &t->st->cfg;
	if (t->sndbuf.buf)
		return 0;
	/* Segments in flight are bounded by the send buffer: one record per 128 bytes of it
	 * is room for any sensible segment size. */
	if (ring_init(&t->sndbuf, c->tcp_sndbuf) || ring_init(&t->rcvbuf, c->tcp_rcvbuf) ||
	    sl_sendmap_init(&t->sm, c->tcp_sndbuf / 128 + 64)) {
		STAT_ADD(t->st, tcp_buf_allocated,
			 (uint64_t)(t->sndbuf.buf ? t->sndbuf.cap : 0) +
			     (t->rcvbuf.buf ? t->rcvbuf.cap : 0));
		free_buffers(t);
		return -ENOMEM;
	}
	STAT_ADD(t->st, tcp_buf_allocated, (uint64_t)t->sndbuf.cap + t->rcvbuf.cap);
	t->sm.acct = t->st;
	sl_tcp_mem(t->st, (int64_t)t->sndbuf.cap + t->rcvbuf.cap + (int64_t)sl_sendmap_bytes(&t->sm));
	return 0;
}

void sl_tcp_mem(struct sl_stack *st, int64_t delta)
{
	uint64_t *now = &st->stats->c[SL_STAT_tcp_mem_bytes];
	*now += (uint64_t)delta;
	if (*now > st->stats->c[SL_STAT_tcp_mem_peak])
		st->stats->c[SL_STAT_tcp_mem_peak] = *now;
}

uint32_t sl_tcp_base_mss(const struct sl_stack *st, bool v6)
{
	return st->mtu - 20 - sl_ip_hlen(v6);
}

void sl_tcp_mtu_shrunk(struct sl_stack *st)
{
	struct sl_tcp *tt = &st->tcp;
	for (uint32_t b = 0; tt->table && b < tt->nbuckets; b++) {
		for (struct sl_tcb *t = tt->table[b]; t; t = t->hnext) {
			/* The room tcp_input gives a smaller path MTU: the MTU less the headers and
			 * the timestamps every segment carries (RFC 6691). */
			uint32_t room = st->mtu - t->iphlen - 20 - (t->ts_ok ? 12 : 0);
			if (room >= 64 && room < t->mss)
				t->mss = (uint16_t)room;
		}
	}
}

/* --- table ------------------------------------------------------------------------------ */

static void free_dead(struct sl_tcp *tt);
static void readq_unlink(struct sl_tcp *tt, struct sl_tcb *t);

/* The connection's 4-tuple as bytes, for keyed hashes. */
static void tuple_bytes(uint8_t out[36], const sl_ip *laddr, uint16_t lport, const sl_ip *raddr,
			uint16_t rport)
{
	memcpy(out, laddr->b, 16);
	memcpy(out + 16, raddr->b, 16);
	memcpy(out + 32, &lport, 2);
	memcpy(out + 34, &rport, 2);
}

/* Keyed (SipHash-1-3 with a secret key, as Linux keys inet_ehashfn's hash): a peer that knows
 * the function still cannot choose tuples that share a bucket and make every lookup walk one
 * long chain. An IPv4 tuple is hashed as its 12 bytes (the v4-mapped prefixes carry nothing):
 * two blocks instead of five. */
static uint32_t bucket_of(const struct sl_tcp *t, const sl_ip *laddr, uint16_t lport,
			  const sl_ip *raddr, uint16_t rport)
{
	uint8_t tuple[36];
	size_t n;
	if (sl_ip_is_v4(laddr) && sl_ip_is_v4(raddr)) {
		memcpy(tuple, laddr->b + 12, 4);
		memcpy(tuple + 4, raddr->b + 12, 4);
		memcpy(tuple + 8, &lport, 2);
		memcpy(tuple + 10, &rport, 2);
		n = 12;
	} else {
		tuple_bytes(tuple, laddr, lport, raddr, rport);
		n = 36;
	}
	return (uint32_t)sl_siphash13(t->hash_key, tuple, n) & (t->nbuckets - 1);
}

int sl_tcp_init(struct sl_stack *st)
{
	struct sl_tcp *t = &st->tcp;
	/* Buffer sizes and tcp_max_conns were checked by sl_stack_config_check. */
	t->nbuckets = 64;
	while (t->nbuckets < st->cfg.tcp_max_conns)
		t->nbuckets <<= 1;
	t->table = calloc(t->nbuckets, sizeof(*t->table));
	t->listeners = calloc(64, sizeof(*t->listeners));
	if (!t->table || !t->listeners)
		return -ENOMEM;
	t->nlisteners = 64;
	t->readq_tail = &t->readq;
	/* RFC 6528 §3 (F()'s secret key), RFC 4987 §3.6 (cookies), RFC 6056 §3.3.4 (F(), G() and
	 * the table's starting points): secrets from getrandom(2), never from cfg.seed unless
	 * cfg.deterministic_secrets asks for a replayable simulation. */
	uint8_t *keys[] = {t->isn_key, t->port_key, t->ts_key, t->cookie_key, t->hash_key};
	int err = 0;
	for (unsigned k = 0; k < 5 && !err; k++)
		err = sl_iface_secret(st, keys[k], 16);
	if (!err)
		err = sl_iface_secret(st, t->port_table, sizeof(t->port_table));
	if (err)
		return err;
	t->cc = sl_tcp_cc_find(st->cfg.tcp_cc ? st->cfg.tcp_cc : "cubic");
	if (!t->cc)
		return -EINVAL;
	return 0;
}

void sl_tcp_fini(struct sl_stack *st)
{
	struct sl_tcp *t = &st->tcp;
	for (uint32_t b = 0; t->table && b < t->nbuckets; b++) {
		while (t->table[b])
			sl_tcb_free(t->table[b]);
	}
	while (t->orphans)
		sl_tcb_free(t->orphans);
	free_dead(t);
	free(t->table);
	free(t->listeners);
	t->table = NULL;
	t->listeners = NULL;
}

struct sl_tcb *sl_tcp_lookup(struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			     const sl_ip *raddr, uint16_t rport)
{
	struct sl_tcp *t = &st->tcp;
	/* Segments come in trains on one connection: the last hit is checked before the keyed
	 * hash is computed (a miss costs one comparison more). */
	struct sl_tcb *c = t->last;
	if (c && c->rport == rport && c->lport == lport && sl_ip_eq(&c->raddr, raddr) &&
	    sl_ip_eq(&c->laddr, laddr))
		return c;
	for (c = t->table[bucket_of(t, laddr, lport, raddr, rport)]; c; c = c->hnext)
		if (c->rport == rport && c->lport == lport && sl_ip_eq(&c->raddr, raddr) &&
		    sl_ip_eq(&c->laddr, laddr)) {
			t->last = c;
			return c;
		}
	return NULL;
}

struct sl_listener *sl_tcp_find_listener(struct sl_stack *st, uint16_t port)
{
	for (uint32_t i = 0; i < st->tcp.nlisteners; i++)
		if (st->tcp.listeners[i].used && st->tcp.listeners[i].port == port)
			return &st->tcp.listeners[i];
	return NULL;
}

struct sl_tcb *sl_tcb_new(struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			  const sl_ip *raddr, uint16_t rport)
{
	struct sl_tcp *tt = &st->tcp;
	if (tt->nconns >= st->cfg.tcp_max_conns && tt->twq.head) {
		/* Table full: the oldest TIME-WAIT connection makes room (as Linux does past
		 * tcp_max_tw_buckets); its 2·MSL protection is cut short, nothing else. */
		STAT_INC(st, tcp_tw_recycled);
		struct sl_tcb *old = tt->twq.head;
		sl_tcp_done(old, 0);
		if (!old->dead && old->app_closed)
			sl_tcb_free(old);
	}
	if (tt->nconns >= st->cfg.tcp_max_conns) {
		STAT_INC(st, tcp_conn_limit);
		return NULL;
	}
	struct sl_tcb *t = calloc(1, sizeof(*t));
	if (!t) {
		STAT_INC(st, tcp_no_mem);
		return NULL;
	}
	sl_tcp_mem(st, (int64_t)sizeof(*t));
	t->sm.free = t->sm.thead = t->sm.ttail = SL_SEG_NIL;
	t->st = st;
	t->laddr = *laddr;
	t->raddr = *raddr;
	t->v6 = !sl_ip_is_v4(raddr);
	t->iphlen = (uint8_t)sl_ip_hlen(t->v6);
	t->lport = lport;
	t->rport = rport;
	t->mss = 536; /* RFC 9293 §3.7.1: the default when the peer sends no MSS option */
	t->peer_mss = 536;
	t->rto_ns = st->cfg.tcp_rto_initial_ns;
	t->cc = tt->cc;
	t->ts_offset = sl_tcp_ts_offset(st, laddr, lport, raddr, rport);
	/* RFC 7323 §2.2: the smallest shift that lets the window cover the receive buffer. */
	while (t->rcv_wscale < 14 && (st->cfg.tcp_rcvbuf >> t->rcv_wscale) > 65535)
		t->rcv_wscale++;
	t->last_rx = st->now;
	sl_tcp_timers_init(t);
	uint32_t b = bucket_of(tt, laddr, lport, raddr, rport);
	t->hnext = tt->table[b];
	tt->table[b] = t;
	tt->nconns++;
	return t;
}

/* The application's on_gone, once, when an active open it was told about leaves the table. */
static void hook_gone(struct sl_tcb *t)
{
	const struct sl_tcp_open_hooks *h = &t->st->tcp.hooks;
	if (!t->hooked)
		return;
	t->hooked = false;
	if (h->on_gone)
		h->on_gone(h->arg, t->st, &t->laddr, t->lport, &t->raddr, t->rport);
}

void sl_tcp_set_open_hooks(struct sl_stack *st, const struct sl_tcp_open_hooks *h)
{
	if (h)
		st->tcp.hooks = *h;
	else
		memset(&st->tcp.hooks, 0, sizeof(st->tcp.hooks));
}

static void tcb_destroy(struct sl_tcb *t)
{
	free_buffers(t);
	sl_tcp_mem(t->st, -(int64_t)sizeof(*t));
	free(t);
}

void sl_tcb_free(struct sl_tcb *t)
{
	struct sl_stack *st = t->st;
	struct sl_tcp *tt = &st->tcp;
	if (t->dead)
		return;
	hook_gone(t);
	if (tt->last == t)
		tt->last = NULL;
	sl_tcp_timers_stop(t);
	/* Out of the table, or out of the list of CLOSED connections the application held. */
	struct sl_tcb **pp =
	    t->unhashed ? &tt->orphans
			: &tt->table[bucket_of(tt, &t->laddr, t->lport, &t->raddr, t->rport)];
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = t->hnext;
	if (t->on_pending) {
		struct sl_tcb **q = &tt->pending;
		while (*q && *q != t)
			q = &(*q)->pnext;
		if (*q)
			*q = t->pnext;
		t->on_pending = false;
	}
	if (t->on_readq)
		readq_unlink(tt, t);
	tcbq_remove(t);
	t->listener = NULL;
	if (!t->unhashed)
		tt->nconns--;
	t->dead = true;
	memset(&t->cb, 0, sizeof(t->cb));
	t->hnext = tt->dead;
	tt->dead = t;
}

static void free_dead(struct sl_tcp *tt)
{
	while (tt->dead) {
		struct sl_tcb *t = tt->dead;
		tt->dead = t->hnext;
		tcb_destroy(t);
	}
}

uint32_t sl_tcp_isn(struct sl_stack *st, const sl_ip *laddr, uint16_t lport, const sl_ip *raddr,
		    uint16_t rport)
{
	/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
	 * 4-microsecond timer. */
	uint8_t tuple[36];
	tuple_bytes(tuple, laddr, lport, raddr, rport);
	return (uint32_t)(st->now / 4000) + (uint32_t)sl_siphash(st->tcp.isn_key, tuple, 36);
}

uint32_t sl_tcp_ts_offset(struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			  const sl_ip *raddr, uint16_t rport)
{
	/* RFC 7323 §5.4 / RFC 6528 spirit: a keyed hash of the connection, so timestamps tell
	 * nothing about the host's clock or its other connections — and a SYN cookie's
	 * connection finds the same offset again. */
	uint8_t tuple[36];
	tuple_bytes(tuple, laddr, lport, raddr, rport);
	return (uint32_t)sl_siphash(st->tcp.ts_key, tuple, 36);
}

uint32_t sl_tcp_ts_now(const struct sl_tcb *t, uint64_t ns)
{
	return (uint32_t)(ns / 1000000ULL) + t->ts_offset;
}

/* RFC 6056 §3.3.4 (algorithm 4, double-hash): port = min + (F(addrs, rport) + table[G(...)])
 * mod range, table[G] counting up. Each destination walks its own sequence from its own
 * secret offset, so a port handed out for one destination tells nothing of another's. */
/* RFC 6056 §3.3: the whole ephemeral range is searched before giving up. */
#define CONNECT_PORT_TRIES 16384

static uint16_t ephemeral_port(struct sl_stack *st, const sl_ip *laddr, const sl_ip *raddr,
			       uint16_t rport)
{
	enum { MIN = 49152, NUM = 16384 };
	uint8_t in[35];
	memcpy(in, laddr->b, 16);
	memcpy(in + 16, raddr->b, 16);
	memcpy(in + 32, &rport, 2);
	in[34] = 'F';
	uint32_t offset = (uint32_t)sl_siphash(st->tcp.port_key, in, 35);
	in[34] = 'G';
	uint32_t index = (uint32_t)sl_siphash(st->tcp.port_key, in, 35) & 255;
	for (unsigned count = NUM; count > 0; count--) {
		uint16_t port = (uint16_t)(MIN + (offset + st->tcp.port_table[index]) % NUM);
		st->tcp.port_table[index]++;
		if (!sl_tcp_lookup(st, laddr, port, raddr, rport) &&
		    !sl_tcp_find_listener(st, port))
			return port;
	}
	return 0;
}

void sl_tcp_set_state(struct sl_tcb *t, enum sl_tcp_state s)
{
	if (s == t->state)
		return;
	tcbq_remove(t);
	if (t->state == SL_TCP_SYN_RECEIVED)
		t->listener = NULL; /* out of the backlog */
	t->state = s;
	if (s == SL_TCP_SYN_RECEIVED && t->listener)
		tcbq_push(&t->listener->synq, t);
	else if (s == SL_TCP_TIME_WAIT) {
		tcbq_push(&t->st->tcp.twq, t);
		tw_shrink(t);
	}
}

void sl_tcp_want_output(struct sl_tcb *t)
{
	if (t->on_pending || t->dead)
		return;
	t->on_pending = true;
	t->pnext = t->st->tcp.pending;
	t->st->tcp.pending = t;
}

static void readq_unlink(struct sl_tcp *tt, struct sl_tcb *t)
{
	struct sl_tcb **pp = &tt->readq, *prev = NULL;
	while (*pp && *pp != t) {
		prev = *pp;
		pp = &(*pp)->rnext;
	}
	if (*pp) {
		*pp = t->rnext;
		if (!t->rnext)
			tt->readq_tail = prev ? &prev->rnext : &tt->readq;
	}
	t->on_readq = false;
}

/* The on_readable owed to t now (it is leaving the queue some other way). */
static void readable_now(struct sl_tcb *t)
{
	readq_unlink(&t->st->tcp, t);
	if (t->cb.on_readable)
		t->cb.on_readable(t->arg, (struct sl_tcp_flow *)t);
}

void sl_tcp_done(struct sl_tcb *t, int err)
{
	/* What arrived before the end is announced before the end, as it was when on_readable
	 * ran per segment. */
	if (t->on_readq) {
		readable_now(t);
		if (t->dead)
			return;
	}
	if (t->state != SL_TCP_CLOSED)
		sl_tcp_set_state(t, SL_TCP_CLOSED);
	if (!t->error)
		t->error = err;
	sl_tcp_timers_stop(t);
	if (t->app_closed) {
		sl_tcb_free(t);
		return;
	}
	if (!t->unhashed) {
		/* Out of the table: later segments for this pair meet a listener or a reset, not
		 * a dead connection; it waits for the application's close on the orphan list. */
		struct sl_tcp *tt = &t->st->tcp;
		struct sl_tcb **pp =
		    &tt->table[bucket_of(tt, &t->laddr, t->lport, &t->raddr, t->rport)];
		while (*pp && *pp != t)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = t->hnext;
		if (tt->last == t)
			tt->last = NULL;
		t->unhashed = true;
		tt->nconns--;
		t->hnext = tt->orphans;
		tt->orphans = t;
		hook_gone(t); /* the pair is free again */
	}
	if (t->active && !t->connected_notified) {
		t->connected_notified = true;
		t->closed_notified = true;
		if (t->cb.on_connected)
			t->cb.on_connected(t->arg, (struct sl_tcp_flow *)t,
					   err ? err : -ECONNRESET);
		return;
	}
	if (!t->closed_notified) {
		t->closed_notified = true;
		if (t->cb.on_closed)
			t->cb.on_closed(t->arg, (struct sl_tcp_flow *)t, t->error);
	}
}

void sl_tcp_flush(struct sl_stack *st)
{
	/* Output of every connection touched this poll: one ACK for many segments, data up to
	 * the device's batch. What does not fit stays pending for the next poll. */
	/* on_readable first, once per connection for everything the poll brought: what the
	 * application reads and writes in it goes out below (window updates, answers). */
	struct sl_tcp *tt = &st->tcp;
	while (tt->readq) {
		struct sl_tcb *t = tt->readq;
		tt->readq = t->rnext;
		if (!tt->readq)
			tt->readq_tail = &tt->readq;
		t->on_readq = false;
		if (t->cb.on_readable)
			t->cb.on_readable(t->arg, (struct sl_tcp_flow *)t);
	}
	struct sl_tcb *list = st->tcp.pending;
	st->tcp.pending = NULL;
	while (list) {
		struct sl_tcb *t = list;
		list = t->pnext;
		t->on_pending = false;
		sl_tcp_output(t);
	}
	free_dead(&st->tcp);
}

/* --- API -------------------------------------------------------------------------------- */

/* The listener on port, NULL for none or a port out of 1..65535 (the setters' -ENOENT). */
static struct sl_listener *listener_at(struct sl_stack *st, int port)
{
	return port > 0 && port < 65536 ? sl_tcp_find_listener(st, (uint16_t)port) : NULL;
}

int sl_tcp_listen(struct sl_stack *st, int port, const struct sl_keepalive *ka,
		  sl_tcp_accept_cb on_accept, void *arg)
{
	if (port < 1 || port > 65535 || !on_accept)
		return -EINVAL;
	if (sl_tcp_find_listener(st, (uint16_t)port))
		return -EADDRINUSE;
	for (uint32_t i = 0; i < st->tcp.nlisteners; i++) {
		struct sl_listener *l = &st->tcp.listeners[i];
		if (l->used)
			continue;
		memset(l, 0, sizeof(*l));
		l->used = true;
		l->port = (uint16_t)port;
		l->on_accept = on_accept;
		l->arg = arg;
		if (ka) {
			l->ka = *ka;
			l->ka_on = true;
		}
		return 0;
	}
	return -ENOSPC;
}

int sl_tcp_listen_full(struct sl_stack *st, int port, bool full)
{
	struct sl_listener *l = listener_at(st, port);
	if (!l)
		return -ENOENT;
	l->full = full;
	return 0;
}

int sl_tcp_listen_room(struct sl_stack *st, int port, sl_tcp_room_cb room)
{
	struct sl_listener *l = listener_at(st, port);
	if (!l)
		return -ENOENT;
	l->room = room;
	return 0;
}

int sl_tcp_unlisten(struct sl_stack *st, int port)
{
	if (port < 1 || port > 65535)
		return -EINVAL;
	struct sl_listener *l = sl_tcp_find_listener(st, (uint16_t)port);
	if (!l)
		return -ENOENT;
	/* Its half-open connections have nobody to accept them: reset them. */
	while (l->synq.head)
		sl_tcp_abort((struct sl_tcp_flow *)l->synq.head);
	l->used = false;
	return 0;
}

int sl_tcp_connect(struct sl_stack *st, const sl_ip *dst, int port,
		   const struct sl_tcp_connect_opts *o, const struct sl_tcp_callbacks *cb,
		   void *arg, struct sl_tcp_flow **out)
{
	if (port < 1 || port > 65535)
		return -EINVAL;
	sl_ip nh, laddr;
	const sl_ip *raddr = dst;
	int err = sl_iface_route(st, raddr, &nh, &laddr);
	if (err)
		return err;
	if (o && o->src) {
		if (sl_ip_is_v4(o->src) != sl_ip_is_v4(dst) || !sl_iface_owns(st, o->src))
			return -EADDRNOTAVAIL;
		laddr = *o->src;
	}
	const struct sl_tcp_cc_ops *cc = st->tcp.cc;
	if (o && o->cc && !(cc = sl_tcp_cc_find(o->cc)))
		return -EINVAL;
	/* A hook that finds the port taken elsewhere (shared mode: by a kernel socket) gets the
	 * next one, each port of the range once. */
	struct sl_tcb *t = NULL;
	uint16_t lport = 0;
	for (int tries = 0;; tries++) {
		if (o && o->src_port) {
			lport = o->src_port;
			if (sl_tcp_lookup(st, &laddr, lport, raddr, (uint16_t)port) ||
			    sl_tcp_find_listener(st, lport))
				return -EADDRINUSE;
		} else {
			lport = ephemeral_port(st, &laddr, raddr, (uint16_t)port);
		}
		if (!lport)
			return -EADDRNOTAVAIL;
		if (!st->tcp.hooks.on_open)
			break;
		int herr = st->tcp.hooks.on_open(st->tcp.hooks.arg, st, &laddr, lport, raddr,
						 (uint16_t)port);
		if (!herr)
			break;
		if (herr != -EADDRINUSE || tries + 1 >= CONNECT_PORT_TRIES || (o && o->src_port))
			return herr < 0 ? herr : -EINVAL;
	}
	t = sl_tcb_new(st, &laddr, lport, raddr, (uint16_t)port);
	if (!t) {
		if (st->tcp.hooks.on_open && st->tcp.hooks.on_gone)
			st->tcp.hooks.on_gone(st->tcp.hooks.arg, st, &laddr, lport, raddr,
					      (uint16_t)port);
		return st->tcp.nconns >= st->cfg.tcp_max_conns ? -ENOSPC : -ENOMEM;
	}
	t->hooked = st->tcp.hooks.on_open != NULL;
	/* An active open may be written to at once: it gets its buffers now. */
	if (sl_tcb_alloc_buffers(t)) {
		sl_tcb_free(t);
		return -ENOMEM;
	}
	t->cc = cc;
	t->active = true;
	if (cb)
		t->cb = *cb;
	t->arg = arg;
	if (o && o->ka) {
		t->ka = *o->ka;
		t->ka_on = true;
	}
	if (o) {
		t->ttl = o->ttl;
		t->tos = o->tos & (uint8_t)~SL_ECN_MASK;
		t->user_mss = o->mss;
	}
	t->iss = sl_tcp_isn(st, &laddr, lport, raddr, (uint16_t)port);
	t->snd_una = t->snd_nxt = t->snd_max = t->iss;
	sl_tcp_set_state(t, SL_TCP_SYN_SENT);
	if (o && o->timeout_ns)
		sl_timer_arm(&st->timers, &t->conn_timer, st->now + o->timeout_ns);
	sl_tcp_send_syn(t);
	*out = (struct sl_tcp_flow *)t;
	return 0;
}

int sl_tcp_listen_families(struct sl_stack *st, int port, bool v4, bool v6)
{
	struct sl_listener *l = listener_at(st, port);
	if (!l)
		return -ENOENT;
	l->no_v4 = !v4;
	l->no_v6 = !v6;
	return 0;
}

bool sl_tcp_eof(const struct sl_tcp_flow *f)
{
	return ((const struct sl_tcb *)f)->fin_rcvd;
}

void sl_tcp_set_keepalive(struct sl_tcp_flow *f, const struct sl_keepalive *ka)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	if (!ka) {
		t->ka_on = false;
		sl_timer_cancel(&t->st->timers, &t->ka_timer);
		return;
	}
	t->ka = *ka;
	t->ka_on = true;
	sl_timer_cancel(&t->st->timers, &t->ka_timer);
	sl_tcp_ka_reset(t); /* counts from now, as if a segment had just come */
}

void sl_tcp_set_ttl(struct sl_tcp_flow *f, uint8_t ttl)
{
	((struct sl_tcb *)f)->ttl = ttl;
}

void sl_tcp_set_cork(struct sl_tcp_flow *f, bool on)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	if (t->corked == on)
		return;
	t->corked = on;
	if (!on) {
		/* Uncorked: what was held goes at once, partial segment and all
		 * (tcp_push_pending_frames). */
		sl_timer_cancel(&t->st->timers, &t->cork_timer);
		t->nodelay_push = true;
		sl_tcp_want_output(t);
	}
}

void sl_tcp_set_user_timeout(struct sl_tcp_flow *f, uint32_t ms)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	t->user_timeout_ns = (uint64_t)ms * 1000000ULL;
	if (sl_timer_armed(&t->rtx_timer))
		sl_tcp_rearm_rtx(t, false); /* a shorter timeout may end sooner than the RTO */
}

void sl_tcp_set_tos(struct sl_tcp_flow *f, uint8_t tos)
{
	((struct sl_tcb *)f)->tos = tos & (uint8_t)~SL_ECN_MASK;
}

int sl_tcp_listen_mss(struct sl_stack *st, int port, uint16_t mss)
{
	struct sl_listener *l = listener_at(st, port);
	if (!l)
		return -ENOENT;
	l->user_mss = mss;
	return 0;
}

int sl_tcp_listen_iptx(struct sl_stack *st, int port, bool v6, uint8_t ttl, uint8_t tos)
{
	struct sl_listener *l = listener_at(st, port);
	if (!l)
		return -ENOENT;
	l->ttl[v6] = ttl;
	l->tos[v6] = tos & (uint8_t)~SL_ECN_MASK;
	return 0;
}

void sl_tcp_set_callbacks(struct sl_tcp_flow *f, const struct sl_tcp_callbacks *cb, void *arg)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	if (cb)
		t->cb = *cb;
	else
		memset(&t->cb, 0, sizeof(t->cb));
	t->arg = arg;
}

static ssize_t read_status(struct sl_tcb *t)
{
	if (t->error)
		return t->error;
	if (t->fin_rcvd || t->rd_shut || t->state == SL_TCP_CLOSED)
		return 0;
	return -EAGAIN;
}

ssize_t sl_tcp_peek(struct sl_tcp_flow *f, struct sl_iov v[2])
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	struct sl_ring *r = &t->rcvbuf;
	if (!r->len || !r->buf) {
		v[0].len = v[1].len = 0;
		return read_status(t);
	}
	uint32_t first = r->cap - r->head < r->len ? r->cap - r->head : r->len;
	v[0].p = r->buf + r->head;
	v[0].len = first;
	v[1].p = r->buf;
	v[1].len = r->len - first;
	return r->len;
}

void sl_tcp_consume(struct sl_tcp_flow *f, size_t n)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	struct sl_ring *r = &t->rcvbuf;
	if (n > r->len)
		n = r->len;
	if (!n)
		return;
	uint32_t maxw = t->wscale_ok ? r->cap : (r->cap < 65535 ? r->cap : 65535);
	/* The window the peer would be offered before this read: never less than what it holds
	 * (rcv_adv beyond rcv_nxt), so when that is half the largest already, nothing below
	 * changes and it is not worked out. */
	uint32_t cur = t->rcv_adv - t->rcv_nxt;
	bool small = !(seq_gt(t->rcv_adv, t->rcv_nxt) && cur >= maxw / 2) &&
		     sl_tcp_rcv_window_peek(t) < maxw / 2;
	r->head = (r->head + (uint32_t)n) & (r->cap - 1);
	r->len -= (uint32_t)n;
	/* Tell the peer about the room once it is worth a segment (RFC 9293 §3.8.6.2.2). */
	uint32_t fr = sl_ring_free(r) < maxw ? sl_ring_free(r) : maxw;
	uint32_t room = fr - cur;
	if (small && t->state >= SL_TCP_ESTABLISHED && !t->fin_rcvd && fr > cur &&
	    room >= (t->mss < r->cap / 2 ? t->mss : r->cap / 2)) {
		t->ack_now = true;
		sl_tcp_want_output(t);
	}
}

ssize_t sl_tcp_read(struct sl_tcp_flow *f, void *buf, size_t cap)
{
	struct sl_iov v[2];
	ssize_t n = sl_tcp_peek(f, v);
	if (n <= 0)
		return n;
	size_t a = v[0].len < cap ? v[0].len : cap;
	memcpy(buf, v[0].p, a);
	size_t b = v[1].len < cap - a ? v[1].len : cap - a;
	memcpy((uint8_t *)buf + a, v[1].p, b);
	sl_tcp_consume(f, a + b);
	return (ssize_t)(a + b);
}

static ssize_t do_writev(struct sl_tcb *t, const struct sl_iov *v, int n, bool nodelay)
{
	if (t->error || t->fin_queued || t->app_closed ||
	    (t->state != SL_TCP_ESTABLISHED && t->state != SL_TCP_CLOSE_WAIT &&
	     t->state != SL_TCP_SYN_SENT && t->state != SL_TCP_SYN_RECEIVED))
		return -EPIPE;
	struct sl_ring *r = &t->sndbuf;
	if (!r->buf)
		return -EPIPE;
	size_t total = 0, want = 0;
	for (int i = 0; i < n; i++)
		want += v[i].len;
	for (int i = 0; i < n; i++) {
		size_t len = v[i].len, room = sl_ring_free(r);
		if (len > room)
			len = room;
		uint32_t tail = (r->head + r->len) & (r->cap - 1);
		size_t first = r->cap - tail < len ? r->cap - tail : len;
		memcpy(r->buf + tail, v[i].p, first);
		memcpy(r->buf, v[i].p + first, len - first);
		r->len += (uint32_t)len;
		total += len;
		if (len < v[i].len)
			break;
	}
	if (total < want || !sl_ring_free(r))
		t->want_writable = true; /* short, refused or now full: on_writable when room
					  * comes back */
	if (!total)
		return -EAGAIN;
	if (nodelay)
		t->nodelay_push = true;
	sl_tcp_want_output(t);
	return (ssize_t)total;
}

ssize_t sl_tcp_writev(struct sl_tcp_flow *f, const struct sl_iov *v, int n)
{
	return do_writev((struct sl_tcb *)f, v, n, false);
}

ssize_t sl_tcp_writev_nodelay(struct sl_tcp_flow *f, const struct sl_iov *v, int n)
{
	return do_writev((struct sl_tcb *)f, v, n, true);
}

ssize_t sl_tcp_write(struct sl_tcp_flow *f, const void *data, size_t len)
{
	struct sl_iov v = {data, len};
	return do_writev((struct sl_tcb *)f, &v, 1, false);
}

ssize_t sl_tcp_write_nodelay(struct sl_tcp_flow *f, const void *data, size_t len)
{
	struct sl_iov v = {data, len};
	return do_writev((struct sl_tcb *)f, &v, 1, true);
}

size_t sl_tcp_sndbuf_free(struct sl_tcp_flow *f)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	uint32_t room = t->sndbuf.buf ? sl_ring_free(&t->sndbuf) : 0;
	if (!room)
		t->want_writable = true; /* asked and found none: on_writable when it returns */
	return room;
}

int sl_tcp_shutdown(struct sl_tcp_flow *f, int how)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	if (how < SL_SHUT_RD || how > SL_SHUT_RDWR)
		return -EINVAL;
	if (how & SL_SHUT_RD) {
		t->rd_shut = true;
		t->rcvbuf.head = 0;
		t->rcvbuf.len = 0; /* unread data is discarded */
	}
	if ((how & SL_SHUT_WR) && !t->fin_queued) {
		if (t->state == SL_TCP_SYN_SENT || t->state == SL_TCP_CLOSED) {
			sl_tcp_done(t, t->error);
			return 0;
		}
		t->fin_queued = true;
		sl_tcp_want_output(t);
	}
	return 0;
}

void sl_tcp_close(struct sl_tcp_flow *f)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	t->app_closed = true;
	memset(&t->cb, 0, sizeof(t->cb));
	/* RFC 9293 §3.10.4 CLOSE; RFC 1122 §4.2.2.13: unread data at close means the
	 * application did not want it — tell the peer with a reset. */
	if (t->state == SL_TCP_CLOSED || t->state == SL_TCP_SYN_SENT) {
		sl_tcb_free(t);
		return;
	}
	if (t->rcvbuf.len && !t->rd_shut) {
		sl_tcp_abort(f);
		return;
	}
	t->rd_shut = true;
	if (!t->fin_queued) {
		t->fin_queued = true;
		sl_tcp_want_output(t);
	}
	tw_shrink(t);
}

void sl_tcp_abort(struct sl_tcp_flow *f)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	if (t->state != SL_TCP_CLOSED && t->state != SL_TCP_SYN_SENT &&
	    t->state != SL_TCP_TIME_WAIT)
		sl_tcp_send_rst(t);
	sl_tcb_free(t);
}

void sl_tcp_endpoints(const struct sl_tcp_flow *f, sl_ip *local, uint16_t *lport, sl_ip *remote,
		      uint16_t *rport)
{
	const struct sl_tcb *t = (const struct sl_tcb *)f;
	if (local)
		*local = t->laddr;
	if (lport)
		*lport = t->lport;
	if (remote)
		*remote = t->raddr;
	if (rport)
		*rport = t->rport;
}

void sl_tcp_info(const struct sl_tcp_flow *f, struct sl_tcp_info *o)
{
	const struct sl_tcb *t = (const struct sl_tcb *)f;
	memset(o, 0, sizeof(*o));
	o->state = sl_tcp_state_name(t->state);
	o->mss = t->mss;
	o->srtt_us = t->srtt_ns / 1000;
	o->rttvar_us = t->rttvar_ns / 1000;
	o->rto_us = t->rto_ns / 1000;
	o->min_rtt_us = t->min_rtt_ns / 1000;
	o->cwnd = t->cwnd;
	o->ssthresh = t->ssthresh;
	o->snd_wnd = t->snd_wnd;
	o->rcv_wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	o->retransmits = t->retransmits;
	o->bytes_sent = t->bytes_sent;
	o->bytes_received = t->bytes_received;
	o->segs_in = t->segs_in;
	o->segs_out = t->segs_out;
	o->snd_wscale = t->snd_wscale;
	o->rcv_wscale = t->rcv_wscale;
	o->wscale_ok = t->wscale_ok;
	o->sack_ok = t->sack_ok;
	o->ts_ok = t->ts_ok;
	o->cc = t->cc->name;
	o->pipe = sl_tcp_pipe(t);
	o->sacked = t->sm.sacked;
	o->lost = t->sm.lost;
	o->recoveries = t->recoveries;
	o->rto_count = t->rto_count;
	o->tlp_probes = t->tlp_probes;
	o->spurious_undone = t->spurious_undone;
	o->dsacks_rx = t->dsacks_rx;
	o->dsacks_tx = t->dsacks_tx;
	o->snd_queued = t->sndbuf.len;
	/* Sent: SND.NXT − SND.UNA, of which a SYN or FIN is no byte of the buffer (the buffer
	 * begins at SND.UNA and a FIN follows its last byte). */
	uint32_t sent = t->snd_nxt - t->snd_una;
	o->snd_unsent = sent < t->sndbuf.len ? t->sndbuf.len - sent : 0;
}

int sl_tcp_set_cc(struct sl_tcp_flow *f, const char *name)
{
	struct sl_tcb *t = (struct sl_tcb *)f;
	const struct sl_tcp_cc_ops *cc = sl_tcp_cc_find(name);
	if (!cc)
		return -EINVAL;
	if (cc == t->cc)
		return 0;
	t->cc = cc;
	/* cwnd and ssthresh carry over; the new algorithm starts its own state from them. */
	t->cc->init(t);
	t->undo_on = false;
	return 0;
}

const char *sl_tcp_cc_name(const struct sl_stack *st, const char *name)
{
	if (!name)
		return st->tcp.cc->name;
	const struct sl_tcp_cc_ops *cc = sl_tcp_cc_find(name);
	return cc ? cc->name : NULL;
}

size_t sl_tcp_conns(struct sl_stack *st, struct sl_tcp_conn *out, size_t max)
{
	struct sl_tcp *tt = &st->tcp;
	size_t n = 0;
	for (uint32_t b = 0; b < tt->nbuckets; b++) {
		for (struct sl_tcb *t = tt->table[b]; t; t = t->hnext, n++) {
			if (n >= max)
				continue;
			struct sl_tcp_conn *c = &out[n];
			c->local = t->laddr;
			c->remote = t->raddr;
			c->lport = t->lport;
			c->rport = t->rport;
			sl_tcp_info((const struct sl_tcp_flow *)t, &c->info);
		}
	}
	return n;
}
