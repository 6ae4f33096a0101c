/*
 * pipe_tcp: the cost of the TCP stack alone, without the kernel. Two sluice stacks, A
 * (10.9.0.1) and B (10.9.0.2), are joined by the in-memory pipe device (sl_dev_pipe_pair, MTU
 * 1500) and driven with invented time: every round adds --step-ns (default 10 µs) to the clock,
 * polls A once and then B once. Both stacks are seeded and derive their secrets from the seed
 * (deterministic_secrets), so a run, and with it an instruction count, is exactly reproducible.
 *
 *   --bulk: A connects to B's listener and writes --bytes of a seeded pattern over one
 *     connection, then shuts down writing; B's receive callback takes every byte through the
 *     zero-copy read (sl_tcp_peek/consume), checks it against the pattern and counts it, and
 *     closes after the end of the stream; A closes on B's FIN. The writes happen in the main
 *     loop, outside both polls. The figure is B's poll per received segment.
 *   --rr: A opens --conns connections to B; on each, A writes a --size byte request, B's
 *     receive callback reads it (sl_tcp_read), checks it and writes a --size byte response
 *     (sl_tcp_write_nodelay), A's callback reads and checks the response and writes the next
 *     request, --transactions in all (shared equally by the connections). Then A shuts down
 *     writing, B closes on the end of file, A closes on B's FIN. The figures are B's (server)
 *     and A's (client) poll per transaction. The first connection opens alone (A resolves B by
 *     ARP meanwhile, and ARP holds at most 48 waiting packets), the others at most 64 a round
 *     (one receive batch of SYNs); at most 512 connections, as every one has a request in
 *     flight and a link holds 1024 frames.
 *
 * Stack defaults otherwise (SACK, window scaling, timestamps, cubic, delayed ACKs): with
 * timestamps a full-size segment carries 1448 bytes (MSS 1460 less 12 bytes of option);
 * --no-ts turns timestamps off on both stacks (1460).
 *
 * Each stack is polled through a wrapper of its own that is never inlined (poll_sender and
 * poll_receiver for --bulk, poll_client and poll_server for --rr), so that `valgrind
 * --tool=callgrind --toggle-collect=poll_receiver` counts one stack's instructions and not the
 * other's; `make bench` runs that at two sizes and divides the difference in instructions by
 * the difference in segments (or transactions), so setup, ARP, the handshake, slow start and
 * the close fall out. The application's own work inside the callbacks (checking and making up
 * the bytes) is in functions named app_*, also never inlined, so it can be told apart and left
 * out. Natively the program reports the wall time spent inside each stack's poll.
 *
 * Every byte is checked; lost, corrupted, reordered or extra bytes, a reset, a connection that
 * fails or stalls, a frame lost on the link (pipe overflow) or not returned to its pool: one
 * line on stderr and exit status 1. On success one JSON line on stdout: the counts above, each
 * stack's segment counters, and the wall time inside each poll per segment or transaction,
 * whole (*_poll_ns_*) and without the application's part (*_stack_ns_*; the app_* functions
 * time themselves, so their two clock reads count as the application's).
 *
 *   pipe_tcp --bulk [--bytes N] [--seed S] [--step-ns NS] [--no-ts]
 *   pipe_tcp --rr [--transactions N] [--conns C] [--size BYTES] [--seed S] [--step-ns NS]
 *                 [--no-ts]
 */
#include "sluice/sluice.h"
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IP_A 0x0a090001u /* 10.9.0.1: sender / client */
#define IP_B 0x0a090002u /* 10.9.0.2: receiver / server */
#define PORT 5001
#define MAX_CONNS 512 /* one request in flight on each; a link holds 1024 frames */
#define MAX_SIZE 4096
#define STALL_NS 5000000000ull /* simulated time without progress before giving up */

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pipe_tcp: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The pollers: one symbol per stack for callgrind's --toggle-collect. The empty asm after the
 * call keeps the compiler from turning it into a tail jump, which would leave the wrapper's
 * frame before sl_stack_poll runs. */
#define POLLER(name)                                                                               \
	__attribute__((noinline)) static uint64_t name(struct sl_stack *st, uint64_t now)          \
	{                                                                                          \
		uint64_t r = sl_stack_poll(st, now);                                               \
		__asm__ volatile("" : "+r"(r));                                                    \
		return r;                                                                          \
	}
POLLER(poll_sender)
POLLER(poll_receiver)
POLLER(poll_client)
POLLER(poll_server)

/* --- the seeded pattern ----------------------------------------------------------------------
 * Byte i of a stream with key k is byte i % 8 of mix(k + i / 8): every byte depends on its
 * position, so a lost, repeated or misplaced range shows. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint8_t pat_byte(uint64_t key, uint64_t off)
{
	return (uint8_t)(mix(key + off / 8) >> (8 * (off & 7)));
}

static void pat_fill(uint64_t key, uint64_t off, uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i < n && ((off + i) & 7); i++)
		p[i] = pat_byte(key, off + i);
	for (; i + 8 <= n; i += 8) {
		uint64_t w = htole64(mix(key + (off + i) / 8));
		memcpy(p + i, &w, 8); /* a store, not a call */
	}
	for (; i < n; i++)
		p[i] = pat_byte(key, off + i);
}

/* Offset of the first wrong byte from p, or n when all are right. */
static size_t pat_check(uint64_t key, uint64_t off, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (!((off + i) & 7) && i + 8 <= n) {
			uint64_t w;
			memcpy(&w, p + i, 8); /* a load, not a call */
			if (le64toh(w) == mix(key + (off + i) / 8)) {
				i += 8;
				continue;
			}
		}
		if (p[i] != pat_byte(key, off + i))
			return i;
		i++;
	}
	return n;
}

/* --- the two stacks ------------------------------------------------------------------------- */
struct net {
	struct sl_dev *da, *db;
	struct sl_stack *a, *b;
	uint64_t now, step;
	uint64_t seed;
	bool ts;
	uint64_t rounds;
	uint64_t ns_a, ns_b; /* wall time inside A's and B's poll */
};

static void net_open(struct net *n)
{
	if (sl_dev_pipe_pair(NULL, NULL, &n->da, &n->db) < 0)
		fail("cannot make the pipe");
	struct sl_stack_config c;
	n->now = 1000000000ull;
	for (int side = 0; side < 2; side++) {
		sl_stack_config_init(&c);
		c.addrs[0].addr = sl_ip_v4(side ? IP_B : IP_A);
		c.addrs[0].prefix_len = 24;
		c.n_addrs = 1;
		c.seed = n->seed + (uint64_t)side;
		c.deterministic_secrets = true;
		c.tcp_timestamps = n->ts;
		int err = sl_stack_open(side ? n->db : n->da, &c, n->now, side ? &n->b : &n->a);
		if (err < 0)
			fail("stack %c: %s", side ? 'B' : 'A', sl_strerror(err));
	}
}

/* One round: the clock moves on, A polls, then B. */
static void net_round(struct net *n, uint64_t (*pa)(struct sl_stack *, uint64_t),
		      uint64_t (*pb)(struct sl_stack *, uint64_t))
{
	n->now += n->step;
	uint64_t t0 = mono_ns();
	pa(n->a, n->now);
	uint64_t t1 = mono_ns();
	pb(n->b, n->now);
	n->ns_b += mono_ns() - t1;
	n->ns_a += t1 - t0;
	n->rounds++;
}

/* After the last byte: the last ACKs of the close, until nothing is left on either link. */
static void net_drain(struct net *n, uint64_t (*pa)(struct sl_stack *, uint64_t),
		      uint64_t (*pb)(struct sl_stack *, uint64_t))
{
	for (int i = 0; i < 10 || n->da->ops->next_event(n->da) != UINT64_MAX ||
			n->db->ops->next_event(n->db) != UINT64_MAX;
	     i++) {
		if (i > 100000)
			fail("frames still on the link after %d rounds", i);
		net_round(n, pa, pb);
	}
}

static uint64_t stat(struct sl_stack *st, unsigned i)
{
	return sl_stack_stats(st)->c[i];
}

/* The checks every mode ends with: no resets either way, nothing lost on the link. */
static void net_check(struct net *n)
{
	for (int side = 0; side < 2; side++) {
		struct sl_stack *st = side ? n->b : n->a;
		char c = side ? 'B' : 'A';
		if (stat(st, SL_STAT_tcp_resets_rx) || stat(st, SL_STAT_tcp_resets_tx))
			fail("stack %c: %llu resets received, %llu sent", c,
			     (unsigned long long)stat(st, SL_STAT_tcp_resets_rx),
			     (unsigned long long)stat(st, SL_STAT_tcp_resets_tx));
		struct sl_pipe_stats ps;
		sl_dev_pipe_stats(side ? n->db : n->da, &ps);
		struct sl_stack *peer = side ? n->a : n->b;
		sl_stack_sync_stats(peer);
		if (ps.overflow || ps.dropped || ps.delivered != ps.sent)
			fail(
			    "link from %c: %llu frames sent, %llu delivered, %llu overflowed, %llu "
			    "dropped by %c for want of a free frame",
			    c, (unsigned long long)ps.sent, (unsigned long long)ps.delivered,
			    (unsigned long long)ps.overflow,
			    (unsigned long long)stat(peer, SL_STAT_dev_rx_dropped),
			    side ? 'A' : 'B');
	}
}

/* Drop counters of one stack as a JSON object member (nothing when all are zero). */
static void print_drops(const char *key, struct sl_stack *st)
{
	const struct sl_stats *s = sl_stack_stats(st);
	bool any = false;
	for (unsigned i = 0; i < SL_STAT_N; i++) {
		if (sl_stat_is_drop(i) && s->c[i]) {
			if (!any)
				printf(",\"%s\":{", key);
			printf("%s\"%s\":%llu", any ? "," : "", sl_stat_name(i),
			       (unsigned long long)s->c[i]);
			any = true;
		}
	}
	if (any)
		printf("}");
}

static void net_close(struct net *n)
{
	struct sl_dev_counts ca, cb;
	sl_stack_close(n->a);
	sl_stack_close(n->b);
	sl_dev_close_counted(n->da, &ca);
	sl_dev_close_counted(n->db, &cb);
	if (ca.owner[SL_OWN_FREE] != ca.total || ca.owner_errors ||
	    cb.owner[SL_OWN_FREE] != cb.total || cb.owner_errors)
		fail("frames not returned: A %llu/%llu (%llu errors), B %llu/%llu (%llu errors)",
		     (unsigned long long)ca.owner[SL_OWN_FREE], (unsigned long long)ca.total,
		     (unsigned long long)ca.owner_errors, (unsigned long long)cb.owner[SL_OWN_FREE],
		     (unsigned long long)cb.total, (unsigned long long)cb.owner_errors);
}

static void closed_cb(void *arg, struct sl_tcp_flow *f, int reason)
{
	if (reason)
		fail("a connection ended with %s", sl_strerror(reason));
}

/* --- bulk ----------------------------------------------------------------------------------- */
struct bulk {
	uint64_t key, bytes;
	/* A, the sender */
	struct sl_tcp_flow *snd;
	bool connected, shut, snd_eof;
	uint64_t written;
	/* B, the receiver */
	struct sl_tcp_flow *rcv;
	uint64_t received, readable_calls;
	bool rcv_eof;
	uint64_t app_ns;	 /* wall time in app_bulk_check (inside B's poll) */
	struct sl_tcp_info info; /* A's, once connected */
};

/* The application's work on received bytes: check them, count them. */
__attribute__((noinline)) static void app_bulk_check(struct bulk *b, const struct sl_iov *v)
{
	uint64_t t0 = mono_ns();
	for (int k = 0; k < 2; k++) {
		size_t ok = pat_check(b->key, b->received, v[k].p, v[k].len);
		if (ok != v[k].len)
			fail("bulk: wrong byte at stream offset %llu",
			     (unsigned long long)(b->received + ok));
		b->received += v[k].len;
	}
	if (b->received > b->bytes)
		fail("bulk: %llu bytes received, only %llu sent", (unsigned long long)b->received,
		     (unsigned long long)b->bytes);
	b->app_ns += mono_ns() - t0;
}

static void rcv_readable(void *arg, struct sl_tcp_flow *f)
{
	struct bulk *b = arg;
	struct sl_iov v[2];
	ssize_t n;
	b->readable_calls++;
	while ((n = sl_tcp_peek(f, v)) > 0) {
		app_bulk_check(b, v);
		sl_tcp_consume(f, (size_t)n);
	}
	if (n == 0 && !b->rcv_eof) {
		if (b->received != b->bytes)
			fail("bulk: end of stream after %llu of %llu bytes",
			     (unsigned long long)b->received, (unsigned long long)b->bytes);
		b->rcv_eof = true;
		sl_tcp_close(f);
		b->rcv = NULL;
	} else if (n < 0 && n != -EAGAIN) {
		fail("bulk: receiver read: %s", sl_strerror((int)n));
	}
}

static const struct sl_tcp_callbacks rcv_cbs = {
    .on_readable = rcv_readable,
    .on_closed = closed_cb,
};

static void rcv_accept(void *arg, struct sl_tcp_flow *f)
{
	struct bulk *b = arg;
	if (b->rcv || b->rcv_eof)
		fail("bulk: a second connection");
	b->rcv = f;
	sl_tcp_set_callbacks(f, &rcv_cbs, b);
}

static void snd_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct bulk *b = arg;
	if (err)
		fail("bulk: connect: %s", sl_strerror(err));
	b->connected = true;
	sl_tcp_info(f, &b->info); /* what the handshake negotiated */
}

static void snd_readable(void *arg, struct sl_tcp_flow *f)
{
	struct bulk *b = arg;
	uint8_t buf[64];
	ssize_t n = sl_tcp_read(f, buf, sizeof buf);
	if (n > 0)
		fail("bulk: the sender received data");
	if (n == 0 && !b->snd_eof) {
		b->snd_eof = true;
		sl_tcp_close(f);
		b->snd = NULL;
	} else if (n < 0 && n != -EAGAIN) {
		fail("bulk: sender read: %s", sl_strerror((int)n));
	}
}

static const struct sl_tcp_callbacks snd_cbs = {
    .on_connected = snd_connected,
    .on_readable = snd_readable,
    .on_closed = closed_cb,
};

/* Fill A's send buffer (outside both polls); shut down writing after the last byte. */
static void bulk_pump(struct bulk *b)
{
	static uint8_t buf[65536];
	while (b->snd && b->written < b->bytes) {
		size_t room = sl_tcp_sndbuf_free(b->snd);
		uint64_t left = b->bytes - b->written;
		size_t n = room < sizeof buf ? room : sizeof buf;
		if (n > left)
			n = (size_t)left;
		if (!n)
			return;
		pat_fill(b->key, b->written, buf, n);
		ssize_t w = sl_tcp_write(b->snd, buf, n);
		if (w < 0)
			fail("bulk: write: %s", sl_strerror((int)w));
		b->written += (uint64_t)w;
		if ((size_t)w < n)
			return;
	}
	if (b->snd && !b->shut && b->written == b->bytes) {
		b->shut = true;
		sl_tcp_shutdown(b->snd, SL_SHUT_WR);
	}
}

static int run_bulk(struct net *n, uint64_t bytes)
{
	struct bulk b = {.key = mix(n->seed ^ 0xb01cull), .bytes = bytes};
	net_open(n);
	int err = sl_tcp_listen(n->b, PORT, NULL, rcv_accept, &b);
	sl_ip dst = sl_ip_v4(IP_B);
	if (err < 0 || (err = sl_tcp_connect(n->a, &dst, PORT, NULL, &snd_cbs, &b, &b.snd)) < 0)
		fail("bulk: %s", sl_strerror(err));
	uint64_t wall0 = mono_ns(), last = 0, progress_at = n->now;
	while (!(b.rcv_eof && b.snd_eof)) {
		if (b.connected && !b.shut)
			bulk_pump(&b);
		net_round(n, poll_sender, poll_receiver);
		uint64_t p = b.received + b.rcv_eof + b.snd_eof + b.connected;
		if (p != last) {
			last = p;
			progress_at = n->now;
		} else if (n->now - progress_at > STALL_NS) {
			fail("bulk: stalled after %llu of %llu bytes",
			     (unsigned long long)b.received, (unsigned long long)bytes);
		}
	}
	net_drain(n, poll_sender, poll_receiver);
	uint64_t wall = mono_ns() - wall0;
	net_check(n);
	uint64_t segs = stat(n->b, SL_STAT_tcp_rx), frames = stat(n->b, SL_STAT_rx_frames);
	printf("{\"mode\":\"bulk\",\"seed\":%llu,\"bytes\":%llu,\"received\":%llu,\"mss\":%u,"
	       "\"timestamps\":%s,\"sack\":%s,\"wscale\":%s,\"step_ns\":%llu,\"rounds\":%llu,"
	       "\"sim_ns\":%llu,\"rcv_segments\":%llu,\"rcv_frames\":%llu,\"rcv_tcp_tx\":%llu,"
	       "\"rcv_readable_calls\":%llu,\"snd_tcp_tx\":%llu,\"snd_tcp_rx\":%llu,"
	       "\"snd_retransmits\":%llu,\"snd_tx_deferred\":%llu,"
	       "\"rcv_poll_ns_per_segment\":%.1f,\"rcv_app_ns_per_segment\":%.1f,"
	       "\"rcv_stack_ns_per_segment\":%.1f,\"snd_poll_ns_per_segment\":%.1f,"
	       "\"wall_ns_per_segment\":%.1f,\"verified\":true",
	       (unsigned long long)n->seed, (unsigned long long)bytes,
	       (unsigned long long)b.received, b.info.mss, b.info.ts_ok ? "true" : "false",
	       b.info.sack_ok ? "true" : "false", b.info.wscale_ok ? "true" : "false",
	       (unsigned long long)n->step, (unsigned long long)n->rounds,
	       (unsigned long long)(n->now - 1000000000ull), (unsigned long long)segs,
	       (unsigned long long)frames, (unsigned long long)stat(n->b, SL_STAT_tcp_tx),
	       (unsigned long long)b.readable_calls, (unsigned long long)stat(n->a, SL_STAT_tcp_tx),
	       (unsigned long long)stat(n->a, SL_STAT_tcp_rx),
	       (unsigned long long)stat(n->a, SL_STAT_tcp_retransmits),
	       (unsigned long long)stat(n->a, SL_STAT_tcp_tx_deferred),
	       (double)n->ns_b / (double)segs, (double)b.app_ns / (double)segs,
	       (double)(n->ns_b - b.app_ns) / (double)segs, (double)n->ns_a / (double)segs,
	       (double)wall / (double)segs);
	print_drops("rcv_drops", n->b);
	print_drops("snd_drops", n->a);
	printf("}\n");
	net_close(n);
	return 0;
}

/* --- request/response ----------------------------------------------------------------------- */
/* A message: the connection's number (4 bytes), the transaction's (4), then the pattern keyed
 * by both and by its direction. */
struct rr;
struct rr_conn { /* A's end of one connection */
	struct rr *rr;
	struct sl_tcp_flow *f;
	uint32_t id, done, target;
	size_t have;
	bool connected, shut, eof;
	uint8_t buf[MAX_SIZE];
};
struct rr_srv { /* B's end */
	struct rr *rr;
	struct sl_tcp_flow *f;
	uint32_t id, next;
	size_t have;
	bool eof;
	uint8_t buf[MAX_SIZE];
};
struct rr {
	uint64_t key;
	size_t size;
	unsigned nconns;
	struct rr_conn *c;
	struct rr_srv *s;
	unsigned nsrv, eofs;
	uint64_t transactions;
	uint8_t *seen;			 /* connection numbers B has been sent */
	uint64_t app_srv_ns, app_cli_ns; /* wall time in app_rr_serve, app_rr_client */
};

static uint64_t msg_key(const struct rr *r, uint32_t id, uint32_t txn, bool response)
{
	return mix(r->key ^ ((uint64_t)id << 33) ^ ((uint64_t)txn << 1) ^ response);
}

static void msg_make(const struct rr *r, uint8_t *m, uint32_t id, uint32_t txn, bool response)
{
	for (int i = 0; i < 4; i++) {
		m[i] = (uint8_t)(id >> (24 - 8 * i));
		m[4 + i] = (uint8_t)(txn >> (24 - 8 * i));
	}
	pat_fill(msg_key(r, id, txn, response), 0, m + 8, r->size - 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The server application: check the request, make the response up. */
__attribute__((noinline)) static void app_rr_serve(struct rr_srv *s, uint8_t *resp)
{
	uint64_t t0 = mono_ns();
	struct rr *r = s->rr;
	uint32_t id = get32(s->buf), txn = get32(s->buf + 4);
	if (!s->next) {
		if (id >= r->nconns || r->seen[id])
			fail("rr: first request names connection %u", id);
		r->seen[id] = 1;
		s->id = id;
	}
	if (id != s->id || txn != s->next)
		fail("rr: request %u of connection %u where %u of %u was due", txn, id, s->next,
		     s->id);
	if (pat_check(msg_key(r, id, txn, false), 0, s->buf + 8, r->size - 8) != r->size - 8)
		fail("rr: request %u of connection %u corrupted", txn, id);
	s->next++;
	msg_make(r, resp, id, txn, true);
	r->app_srv_ns += mono_ns() - t0;
}

/* The client application: check the response; make the next request up (false: none). */
__attribute__((noinline)) static bool app_rr_client(struct rr_conn *c, uint8_t *req)
{
	uint64_t t0 = mono_ns();
	struct rr *r = c->rr;
	uint32_t id = get32(c->buf), txn = get32(c->buf + 4);
	if (id != c->id || txn != c->done ||
	    pat_check(msg_key(r, id, txn, true), 0, c->buf + 8, r->size - 8) != r->size - 8)
		fail("rr: response %u on connection %u wrong (header %u/%u)", c->done, c->id, id,
		     txn);
	c->done++;
	r->transactions++;
	bool more = c->done < c->target;
	if (more)
		msg_make(r, req, c->id, c->done, false);
	r->app_cli_ns += mono_ns() - t0;
	return more;
}

static void rr_send(struct sl_tcp_flow *f, const uint8_t *m, size_t size)
{
	ssize_t w = sl_tcp_write_nodelay(f, m, size);
	if (w != (ssize_t)size)
		fail("rr: write of %zu bytes returned %zd", size, w);
}

/* Read into buf until it holds size bytes: true when it does. n: sl_tcp_read's last result. */
static bool rr_fill(struct sl_tcp_flow *f, uint8_t *buf, size_t *have, size_t size, ssize_t *n)
{
	while (*have < size) {
		*n = sl_tcp_read(f, buf + *have, size - *have);
		if (*n <= 0)
			return false;
		*have += (size_t)*n;
	}
	return true;
}

static void srv_readable(void *arg, struct sl_tcp_flow *f)
{
	struct rr_srv *s = arg;
	uint8_t resp[MAX_SIZE];
	ssize_t n = -EAGAIN;
	while (rr_fill(f, s->buf, &s->have, s->rr->size, &n)) {
		app_rr_serve(s, resp);
		s->have = 0;
		rr_send(f, resp, s->rr->size);
	}
	if (n == 0 && !s->eof) {
		if (s->have)
			fail("rr: end of file inside a request");
		s->eof = true;
		sl_tcp_close(f);
		s->f = NULL;
	} else if (n < 0 && n != -EAGAIN) {
		fail("rr: server read: %s", sl_strerror((int)n));
	}
}

static const struct sl_tcp_callbacks srv_cbs = {
    .on_readable = srv_readable,
    .on_closed = closed_cb,
};

static void srv_accept(void *arg, struct sl_tcp_flow *f)
{
	struct rr *r = arg;
	if (r->nsrv >= r->nconns)
		fail("rr: more connections than were opened");
	struct rr_srv *s = &r->s[r->nsrv++];
	s->rr = r;
	s->f = f;
	sl_tcp_set_callbacks(f, &srv_cbs, s);
}

static void cli_readable(void *arg, struct sl_tcp_flow *f)
{
	struct rr_conn *c = arg;
	uint8_t req[MAX_SIZE];
	ssize_t n = -EAGAIN;
	while (rr_fill(f, c->buf, &c->have, c->rr->size, &n)) {
		if (c->done >= c->target)
			fail("rr: a response nobody asked for on connection %u", c->id);
		bool more = app_rr_client(c, req);
		c->have = 0;
		if (more) {
			rr_send(f, req, c->rr->size);
		} else {
			c->shut = true;
			sl_tcp_shutdown(f, SL_SHUT_WR);
		}
	}
	if (n == 0 && !c->eof) {
		if (c->have || c->done != c->target)
			fail("rr: connection %u closed after %u of %u transactions", c->id, c->done,
			     c->target);
		c->eof = true;
		c->rr->eofs++;
		sl_tcp_close(f);
		c->f = NULL;
	} else if (n < 0 && n != -EAGAIN) {
		fail("rr: client read: %s", sl_strerror((int)n));
	}
}

static void cli_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct rr_conn *c = arg;
	if (err)
		fail("rr: connect %u: %s", c->id, sl_strerror(err));
	c->connected = true;
	uint8_t req[MAX_SIZE];
	msg_make(c->rr, req, c->id, 0, false);
	rr_send(f, req, c->rr->size);
}

static const struct sl_tcp_callbacks cli_cbs = {
    .on_connected = cli_connected,
    .on_readable = cli_readable,
    .on_closed = closed_cb,
};

static int run_rr(struct net *n, uint64_t transactions, unsigned conns, size_t size)
{
	struct rr r = {.key = mix(n->seed ^ 0x7272ull), .size = size, .nconns = conns};
	r.c = calloc(conns, sizeof *r.c);
	r.s = calloc(conns, sizeof *r.s);
	r.seen = calloc(conns, 1);
	if (!r.c || !r.s || !r.seen)
		fail("out of memory");
	net_open(n);
	int err = sl_tcp_listen(n->b, PORT, NULL, srv_accept, &r);
	if (err < 0)
		fail("rr: listen: %s", sl_strerror(err));
	uint64_t per = (transactions + conns - 1) / conns;
	sl_ip dst = sl_ip_v4(IP_B);
	unsigned opened = 0;
	uint64_t wall0 = mono_ns(), last = 0, progress_at = n->now;
	while (r.eofs < conns) {
		/* The first connection alone (it waits for ARP, whose queue holds 48 packets),
		 * then up to 64 a round (one receive batch of SYNs) */
		for (unsigned k = 0; opened < conns && k < 64 && (opened < 1 || r.c[0].connected);
		     k++) {
			struct rr_conn *c = &r.c[opened];
			c->rr = &r;
			c->id = opened++;
			c->target = (uint32_t)per;
			if ((err = sl_tcp_connect(n->a, &dst, PORT, NULL, &cli_cbs, c, &c->f)) < 0)
				fail("rr: connect: %s", sl_strerror(err));
		}
		net_round(n, poll_client, poll_server);
		uint64_t p = r.transactions + r.eofs + r.nsrv;
		if (p != last) {
			last = p;
			progress_at = n->now;
		} else if (n->now - progress_at > STALL_NS) {
			fail("rr: stalled after %llu of %llu transactions",
			     (unsigned long long)r.transactions, (unsigned long long)(per * conns));
		}
	}
	net_drain(n, poll_client, poll_server);
	uint64_t wall = mono_ns() - wall0;
	for (unsigned i = 0; i < r.nsrv; i++)
		if (!r.s[i].eof)
			fail("rr: server end %u saw no end of file", i);
	if (r.nsrv != conns || r.transactions != per * conns)
		fail("rr: %u connections accepted of %u, %llu transactions of %llu", r.nsrv, conns,
		     (unsigned long long)r.transactions, (unsigned long long)(per * conns));
	net_check(n);
	double t = (double)r.transactions;
	printf("{\"mode\":\"rr\",\"seed\":%llu,\"conns\":%u,\"size\":%zu,\"transactions\":%llu,"
	       "\"timestamps\":%s,\"step_ns\":%llu,\"rounds\":%llu,\"sim_ns\":%llu,"
	       "\"srv_tcp_rx\":%llu,\"srv_tcp_tx\":%llu,\"cli_tcp_rx\":%llu,\"cli_tcp_tx\":%llu,"
	       "\"retransmits\":%llu,\"srv_poll_ns_per_transaction\":%.1f,"
	       "\"srv_stack_ns_per_transaction\":%.1f,\"cli_poll_ns_per_transaction\":%.1f,"
	       "\"cli_stack_ns_per_transaction\":%.1f,\"wall_ns_per_transaction\":%.1f,"
	       "\"verified\":true",
	       (unsigned long long)n->seed, conns, size, (unsigned long long)r.transactions,
	       n->ts ? "true" : "false", (unsigned long long)n->step, (unsigned long long)n->rounds,
	       (unsigned long long)(n->now - 1000000000ull),
	       (unsigned long long)stat(n->b, SL_STAT_tcp_rx),
	       (unsigned long long)stat(n->b, SL_STAT_tcp_tx),
	       (unsigned long long)stat(n->a, SL_STAT_tcp_rx),
	       (unsigned long long)stat(n->a, SL_STAT_tcp_tx),
	       (unsigned long long)(stat(n->a, SL_STAT_tcp_retransmits) +
				    stat(n->b, SL_STAT_tcp_retransmits)),
	       (double)n->ns_b / t, (double)(n->ns_b - r.app_srv_ns) / t, (double)n->ns_a / t,
	       (double)(n->ns_a - r.app_cli_ns) / t, (double)wall / t);
	print_drops("srv_drops", n->b);
	print_drops("cli_drops", n->a);
	printf("}\n");
	net_close(n);
	free(r.c);
	free(r.s);
	free(r.seen);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pipe_tcp --bulk [--bytes N] [--seed S] [--step-ns NS] [--no-ts]\n"
		"       pipe_tcp --rr [--transactions N] [--conns 1..%d] [--size 16..%d] "
		"[--seed S] [--step-ns NS] [--no-ts]\n",
		MAX_CONNS, MAX_SIZE);
	exit(2);
}

int main(int argc, char **argv)
{
	struct net n = {.seed = 1, .step = 10000, .ts = true};
	int mode = 0; /* 1 bulk, 2 rr */
	uint64_t bytes = 100ull << 20, transactions = 100000;
	unsigned long conns = 1, size = 64;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (!strcmp(a, "--bulk")) {
			mode = 1;
			continue;
		}
		if (!strcmp(a, "--rr")) {
			mode = 2;
			continue;
		}
		if (!strcmp(a, "--no-ts")) {
			n.ts = false;
			continue;
		}
		if (!v)
			usage();
		unsigned long long x = strtoull(v, &end, 0);
		if (!*v || *end)
			usage();
		if (!strcmp(a, "--bytes"))
			bytes = x;
		else if (!strcmp(a, "--transactions"))
			transactions = x;
		else if (!strcmp(a, "--conns"))
			conns = (unsigned long)x;
		else if (!strcmp(a, "--size"))
			size = (unsigned long)x;
		else if (!strcmp(a, "--seed"))
			n.seed = x;
		else if (!strcmp(a, "--step-ns"))
			n.step = x;
		else
			usage();
		i++;
	}
	if (!mode || !bytes || !transactions || conns < 1 || conns > MAX_CONNS || size < 16 ||
	    size > MAX_SIZE || !n.step || n.step > 1000000000ull)
		usage();
	return mode == 1 ? run_bulk(&n, bytes) : run_rr(&n, transactions, (unsigned)conns, size);
}
