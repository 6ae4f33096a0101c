/*
 * The application on the ends of TCP connections between two stacks (tests/unit/pipenet.h):
 * each end writes to_send bytes of the pattern (byte i of a stream is i mod 251), shuts down
 * writing once all are written, and checks every byte it receives. Header-only, like
 * testutil.h.
 *
 *	struct end client = {.to_send = up, .expect = down};
 *	sl_tcp_connect(a, &dst, port, NULL, &end_cbs, &client, &client.f);
 *	struct server srv = {.send = down, .expect = up};
 *	sl_tcp_listen(b, port, NULL, server_accept, &srv);    ends in srv.ends, accept order
 */
#ifndef SL_TCPAPP_H
#define SL_TCPAPP_H

#include "unit/testutil.h"
#include "sluice/sluice.h"

/* Byte i of every stream. */
static inline uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)(i % 251);
}

struct end {
	struct sl_tcp_flow *f;
	uint64_t to_send, sent;
	uint64_t received;
	uint64_t expect; /* bytes it should receive */
	bool bad_byte;
	uint64_t first_bad;
	bool eof;
	bool shut;
	bool closed;
	int closed_reason;
	bool connected;
	int connect_err;
	bool close_when_done; /* sl_tcp_close after on_closed */
};

/* Write what the send buffer takes; once everything is written, shut down writing. */
static inline void end_pump(struct end *e)
{
	uint8_t buf[16384];
	while (e->sent < e->to_send) {
		size_t n = e->to_send - e->sent < sizeof buf ? e->to_send - e->sent : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(e->sent + i);
		ssize_t w = sl_tcp_write(e->f, buf, n);
		if (w <= 0)
			return;
		e->sent += (uint64_t)w;
	}
	if (!e->shut) {
		e->shut = true;
		sl_tcp_shutdown(e->f, SL_SHUT_WR);
	}
}

static inline void end_readable(void *arg, struct sl_tcp_flow *f)
{
	struct end *e = arg;
	struct sl_iov v[2];
	ssize_t n;
	while ((n = sl_tcp_peek(f, v)) > 0) {
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < v[k].len; i++) {
				if (v[k].p[i] != stream_byte(e->received) && !e->bad_byte) {
					e->bad_byte = true;
					e->first_bad = e->received;
				}
				e->received++;
			}
		sl_tcp_consume(f, (size_t)n);
	}
	if (n == 0)
		e->eof = true;
}

static inline void end_writable(void *arg, struct sl_tcp_flow *f)
{
	end_pump(arg);
}

static inline void end_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	struct end *e = arg;
	e->closed = true;
	e->closed_reason = reason;
	if (e->close_when_done) {
		sl_tcp_close(f);
		e->f = NULL;
	}
}

static inline void end_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct end *e = arg;
	e->connect_err = err;
	e->connected = err == 0;
	if (!err)
		end_pump(e);
	else if (e->close_when_done) {
		e->closed = true;
		e->closed_reason = err;
		sl_tcp_close(f);
		e->f = NULL;
	}
}

static const struct sl_tcp_callbacks end_cbs = {
    .on_connected = end_connected,
    .on_readable = end_readable,
    .on_writable = end_writable,
    .on_closed = end_closed,
};

/* Server ends, handed out in accept order. */
#define MAX_ENDS 128
struct server {
	struct end ends[MAX_ENDS];
	unsigned n;
	uint64_t send, expect;
	bool close_when_done;
};

static inline void server_accept(void *arg, struct sl_tcp_flow *f)
{
	struct server *s = arg;
	if (s->n >= MAX_ENDS) {
		sl_tcp_abort(f);
		return;
	}
	struct end *e = &s->ends[s->n++];
	memset(e, 0, sizeof *e);
	e->f = f;
	e->to_send = s->send;
	e->expect = s->expect;
	e->connected = true;
	e->close_when_done = s->close_when_done;
	sl_tcp_set_callbacks(f, &end_cbs, e);
	end_pump(e);
}

/* One connection, client c to server s: done when both ends have written everything and
 * received everything they expect, up to the end of the stream. */
struct xfer {
	struct end *c;
	struct server *s;
};

static inline bool xfer_done(void *arg)
{
	struct xfer *x = arg;
	if (x->s->n != 1)
		return false;
	struct end *c = x->c, *s = &x->s->ends[0];
	return c->eof && s->eof && c->received == c->expect && s->received == s->expect &&
	       c->sent == c->to_send && s->sent == s->to_send;
}

#endif
