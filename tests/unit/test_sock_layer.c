/*
 * The socket layer's own bookkeeping (include/sluice/socket.h), judged from that contract:
 * lazy polling (sl_sockets_set_lazy, sl_sockets_unflushed, sl_sockets_flush), the queue of
 * changed sockets (sl_sockets_changed) and the order handles are given out in. A socket layer over stack
 * A talks to a plain TCP application on stack B across an in-memory pipe (tests/unit/
 * pipenet.h), both on the real clock (the layer reads it). A frame leaves A only when A is
 * polled, so what B has received says whether a call polled.
 *
 *   - lazy off: a non-blocking send leaves at once (the layer polls after it);
 *   - lazy on: it waits, sl_sockets_unflushed says so, B sees nothing however often it is
 *     polled, until sl_sockets_flush (or sl_sockets_poll, or sl_sockets_wait) sends it;
 *   - lazy on, a blocking call (a send on a blocking socket) polls as before;
 *   - lazy on, a receive that finds nothing received yet polls and returns the data that was
 *     waiting in A's device rather than EAGAIN, and one that finds data does not poll;
 *   - lazy on, the FIN of a close waits like data;
 *   - an accept with a connection already queued does not poll; with none, it polls first;
 *   - sl_sockets_changed returns a socket once after its edge count moved (data came), then
 *     not again until it moves again, and a handle closed meanwhile at most once;
 *   - handles: the lowest free one first, whatever order sockets were closed in;
 *   - SO_RCVLOWAT: readable only from that many bytes on, and a receive returns them all;
 *   - connect with AF_UNSPEC resets the connection (B's flow is closed) and the socket
 *     connects again;
 *   - SIOCOUTQ / SIOCOUTQNSD (sl_sock_outq): what B has not acknowledged, and what A has not
 *     sent of it (beyond the initial window while B does not answer), both 0 once B read it
 *     all; a datagram socket has nothing queued and no SIOCOUTQNSD.
 *
 * Run: make -j1 build/tests/test_sock_layer build/san/tests/test_sock_layer, then either
 * binary.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include "unit/pipenet.h"
#include "sluice/socket.h"

#define PORT 8080

/* B's side: one connection, the bytes it received, whether the FIN came, whether the flow is
 * gone (on_closed). */
struct bend {
	struct sl_tcp_flow *f;
	size_t got;
	bool eof, closed;
};

static void b_readable(void *arg, struct sl_tcp_flow *f)
{
	struct bend *b = arg;
	uint8_t buf[4096];
	ssize_t n;
	while ((n = sl_tcp_read(f, buf, sizeof buf)) > 0)
		b->got += (size_t)n;
	if (n == 0)
		b->eof = true;
}

static void b_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	struct bend *b = arg;
	(void)reason;
	b->eof = b->closed = true;
	if (b->f == f)
		b->f = NULL;
}

static const struct sl_tcp_callbacks b_cbs = {.on_readable = b_readable, .on_closed = b_closed};

static void b_accept(void *arg, struct sl_tcp_flow *f)
{
	struct bend *b = arg;
	b->f = f;
	sl_tcp_set_callbacks(f, &b_cbs, b);
}

struct fix {
	struct net n;
	struct sl_sockets *ss;
	struct bend b;
	int s; /* A's connected socket */
};

static void poll_b(struct fix *x, int times)
{
	for (int i = 0; i < times; i++)
		sl_stack_poll(x->n.b, sl_now_ns());
}

static struct sockaddr_in addr_b(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	a.sin_addr.s_addr = htonl(PN_IP_B);
	return a;
}

/* A connects a non-blocking socket to B (lazy off while it does). */
static int setup(void **state)
{
	struct fix *x = calloc(1, sizeof *x);
	assert_non_null(x);
	pn_up(&x->n, NULL, NULL, 41);
	assert_int_equal(sl_sockets_new(x->n.a, 16, &x->ss), 0);
	assert_int_equal(sl_tcp_listen(x->n.b, PORT, NULL, b_accept, &x->b), 0);
	x->s = sl_sock_socket(x->ss, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(x->s >= 0);
	/* Without Nagle: a small write must leave whether the one before was acknowledged. */
	int one = 1;
	assert_int_equal(sl_sock_setsockopt(x->ss, x->s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
			 0);
	struct sockaddr_in a = addr_b();
	assert_int_equal(sl_sock_connect(x->ss, x->s, (struct sockaddr *)&a, sizeof a),
			 -EINPROGRESS);
	for (int i = 0; i < 1000 && !(sl_sock_events(x->ss, x->s) & POLLOUT); i++) {
		poll_b(x, 1);
		sl_sockets_poll(x->ss);
	}
	assert_true(sl_sock_events(x->ss, x->s) & POLLOUT);
	assert_int_equal(sl_sock_connect(x->ss, x->s, (struct sockaddr *)&a, sizeof a), 0);
	for (int i = 0; i < 100 && !x->b.f; i++) {
		poll_b(x, 1);
		sl_sockets_poll(x->ss);
	}
	assert_non_null(x->b.f);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fix *x = *state;
	sl_sockets_free(x->ss);
	for (int i = 0; i < 20; i++) {
		sl_stack_poll(x->n.a, sl_now_ns());
		poll_b(x, 1);
	}
	pn_down(&x->n);
	free(x);
	return 0;
}

static ssize_t send_n(struct fix *x, size_t n, int flags)
{
	static uint8_t buf[4096];
	struct iovec v = {buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return sl_sock_sendmsg(x->ss, x->s, &m, flags);
}

static ssize_t recv_n(struct fix *x, size_t n, int flags)
{
	static uint8_t buf[4096];
	struct iovec v = {buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	return sl_sock_recvmsg(x->ss, x->s, &m, flags);
}

static void test_send_not_lazy_leaves_at_once(void **state)
{
	struct fix *x = *state;
	assert_int_equal(send_n(x, 100, MSG_DONTWAIT), 100);
	assert_false(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 100);
}

static void test_send_lazy_waits_for_flush(void **state)
{
	struct fix *x = *state;
	sl_sockets_set_lazy(x->ss, true);
	assert_int_equal(send_n(x, 100, 0), 100); /* the socket is non-blocking */
	assert_int_equal(send_n(x, 50, MSG_DONTWAIT), 50);
	assert_true(sl_sockets_unflushed(x->ss));
	poll_b(x, 5);
	assert_int_equal(x->b.got, 0);
	sl_sockets_flush(x->ss);
	assert_false(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 150);
	/* Nothing left: another flush does not poll (and there is nothing to send). */
	sl_sockets_flush(x->ss);
	assert_false(sl_sockets_unflushed(x->ss));
}

static void test_send_lazy_sent_by_poll_and_wait(void **state)
{
	struct fix *x = *state;
	sl_sockets_set_lazy(x->ss, true);
	assert_int_equal(send_n(x, 10, 0), 10);
	sl_sockets_poll(x->ss);
	assert_false(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 10);
	assert_int_equal(send_n(x, 20, 0), 20);
	assert_true(sl_sockets_unflushed(x->ss));
	assert_int_equal(sl_sockets_wait(x->ss, 0), 0);
	assert_false(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 30);
}

static void test_send_lazy_blocking_socket_polls(void **state)
{
	struct fix *x = *state;
	sl_sockets_set_lazy(x->ss, true);
	assert_int_equal(sl_sock_set_nonblock(x->ss, x->s, false), 0);
	assert_int_equal(send_n(x, 100, 0), 100);
	assert_false(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 100);
	/* MSG_DONTWAIT makes that one call non-blocking, and lazy. */
	assert_int_equal(send_n(x, 7, MSG_DONTWAIT), 7);
	assert_true(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 100);
	sl_sockets_flush(x->ss);
	poll_b(x, 3);
	assert_int_equal(x->b.got, 107);
}

static void test_recv_lazy_polls_before_eagain(void **state)
{
	struct fix *x = *state;
	sl_sockets_set_lazy(x->ss, true);
	assert_int_equal(recv_n(x, 100, 0), -EAGAIN);
	/* B writes without Nagle: its second write must not wait for A's delayed ACK. */
	assert_int_equal(sl_tcp_write_nodelay(x->b.f, "0123456789", 10), 10);
	poll_b(x, 2); /* on the pipe now; A has not polled */
	assert_int_equal(recv_n(x, 4, 0), 4); /* polled, found it */
	/* Data there: no poll, and the read may owe a window update (unflushed). */
	assert_int_equal(sl_tcp_write_nodelay(x->b.f, "abcdef", 6), 6);
	poll_b(x, 2);
	assert_int_equal(recv_n(x, 100, 0), 6); /* the rest of the first write only */
	assert_true(sl_sockets_unflushed(x->ss));
	assert_int_equal(recv_n(x, 100, 0), 6); /* none left: polled, the second write */
	assert_int_equal(recv_n(x, 100, 0), -EAGAIN);
}

static void test_close_lazy_fin_waits(void **state)
{
	struct fix *x = *state;
	sl_sockets_set_lazy(x->ss, true);
	assert_int_equal(send_n(x, 10, 0), 10);
	assert_int_equal(sl_sock_close(x->ss, x->s), 0);
	assert_true(sl_sockets_unflushed(x->ss));
	poll_b(x, 3);
	assert_int_equal(x->b.got, 0);
	assert_false(x->b.eof);
	sl_sockets_flush(x->ss);
	poll_b(x, 3);
	assert_int_equal(x->b.got, 10);
	assert_true(x->b.eof);
}

static void test_accept_lazy(void **state)
{
	struct fix *x = *state;
	sl_sockets_set_lazy(x->ss, true);
	int l = sl_sock_socket(x->ss, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9090)};
	assert_int_equal(sl_sock_bind(x->ss, l, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(sl_sock_listen(x->ss, l, 8), 0);
	assert_int_equal(sl_sock_accept(x->ss, l, NULL, NULL, 0), -EAGAIN);
	/* B connects; its SYN waits on the pipe, and the handshake needs A polled. */
	struct bend c = {0};
	sl_ip dst = sl_ip_v4(PN_IP_A);
	struct sl_tcp_flow *f;
	assert_int_equal(sl_tcp_connect(x->n.b, &dst, 9090, NULL, &b_cbs, &c, &f), 0);
	int got = -EAGAIN;
	for (int i = 0; i < 50 && got == -EAGAIN; i++) {
		poll_b(x, 1);
		got = sl_sock_accept(x->ss, l, NULL, NULL, 0); /* polls while nothing is queued */
	}
	assert_true(got >= 0);
	assert_int_equal(sl_sock_close(x->ss, got), 0);
	assert_int_equal(sl_sock_close(x->ss, l), 0);
	sl_sockets_flush(x->ss);
	poll_b(x, 3);
	if (!c.closed)
		sl_tcp_close(f);
}

static int listener(struct fix *x, int port)
{
	int l = sl_sock_socket(x->ss, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	assert_true(l >= 0);
	assert_int_equal(sl_sock_bind(x->ss, l, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(sl_sock_listen(x->ss, l, 8), 0);
	return l;
}

/* Every handle the queue holds now (at most 64), in a bitmap of handles below 64. */
static uint64_t changed_set(struct fix *x, unsigned *count)
{
	int hs[64];
	unsigned n = sl_sockets_changed(x->ss, hs, 64);
	uint64_t m = 0;
	for (unsigned i = 0; i < n; i++) {
		assert_true(hs[i] >= 0 && hs[i] < 64);
		assert_false(m & (1ull << hs[i])); /* each once */
		m |= 1ull << hs[i];
	}
	*count = n;
	return m;
}

static void test_changed_queue(void **state)
{
	struct fix *x = *state;
	unsigned n;
	changed_set(x, &n); /* whatever the handshake left */
	assert_int_equal(changed_set(x, &n), 0);
	assert_int_equal(n, 0);
	uint64_t e0 = sl_sock_edge(x->ss, x->s);
	assert_int_equal(sl_tcp_write_nodelay(x->b.f, "abc", 3), 3);
	poll_b(x, 2);
	for (int i = 0; i < 5; i++)
		sl_sockets_poll(x->ss); /* the data came: one edge or more, one entry */
	assert_true(sl_sock_edge(x->ss, x->s) > e0);
	assert_int_equal(changed_set(x, &n), 1ull << x->s);
	assert_int_equal(n, 1);
	sl_sockets_poll(x->ss);
	assert_int_equal(changed_set(x, &n), 0);
	/* Two changes (a listener shut down for reading is one), a drain of one: the other
	 * stays for the next. */
	int u1 = listener(x, 9091), u2 = listener(x, 9092);
	assert_int_equal(sl_sock_shutdown(x->ss, u1, SHUT_RD), 0);
	assert_int_equal(sl_sock_shutdown(x->ss, u2, SHUT_RD), 0);
	int hs[1];
	assert_int_equal(sl_sockets_changed(x->ss, hs, 1), 1);
	assert_true(hs[0] == u1 || hs[0] == u2);
	assert_int_equal(changed_set(x, &n), 1ull << (hs[0] == u1 ? u2 : u1));
	assert_int_equal(n, 1);
	/* A change, then the socket is closed and its handle made again before anyone looked:
	 * the handle comes once. */
	int u3 = listener(x, 9093);
	assert_int_equal(sl_sock_shutdown(x->ss, u3, SHUT_RD), 0);
	assert_int_equal(sl_sock_close(x->ss, u3), 0);
	int u4 = listener(x, 9094);
	assert_int_equal(u4, u3);
	assert_int_equal(sl_sock_shutdown(x->ss, u4, SHUT_RD), 0);
	assert_int_equal(changed_set(x, &n), 1ull << u3);
	assert_int_equal(n, 1);
	sl_sock_close(x->ss, u1);
	sl_sock_close(x->ss, u2);
	sl_sock_close(x->ss, u4);
}

static void test_handles_lowest_first(void **state)
{
	struct fix *x = *state;
	int h[4];
	for (int i = 0; i < 4; i++) {
		h[i] = sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0);
		assert_int_equal(h[i], x->s + 1 + i);
	}
	assert_int_equal(sl_sock_close(x->ss, h[1]), 0);
	assert_int_equal(sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0), h[1]);
	assert_int_equal(sl_sock_close(x->ss, h[3]), 0);
	assert_int_equal(sl_sock_close(x->ss, h[2]), 0);
	assert_int_equal(sl_sock_close(x->ss, h[0]), 0);
	assert_int_equal(sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0), h[0]);
	assert_int_equal(sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0), h[2]);
	assert_int_equal(sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0), h[3]);
	/* The layer's sixteen: full, then one back. */
	int more[16], m = 0;
	for (int r; (r = sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0)) >= 0;)
		more[m++] = r;
	assert_int_equal(m, 16 - 5);
	assert_int_equal(sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0), -EMFILE);
	assert_int_equal(sl_sock_close(x->ss, more[3]), 0);
	assert_int_equal(sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0), more[3]);
}

/* B sends n bytes; A polls until they are in (FIONREAD). */
static void b_sends(struct fix *x, size_t n, int total)
{
	static const uint8_t buf[64];
	assert_int_equal(sl_tcp_write_nodelay(x->b.f, buf, n), (ssize_t)n);
	for (int i = 0; i < 100 && sl_sock_nread(x->ss, x->s) < total; i++)
		poll_b(x, 1);
	assert_int_equal(sl_sock_nread(x->ss, x->s), total);
}

static void test_rcvlowat(void **state)
{
	struct fix *x = *state;
	int ten = 10;
	assert_int_equal(sl_sock_setsockopt(x->ss, x->s, SOL_SOCKET, SO_RCVLOWAT, &ten, sizeof ten),
			 0);
	b_sends(x, 5, 5);
	assert_false(sl_sock_events(x->ss, x->s) & POLLIN);
	b_sends(x, 5, 10);
	assert_true(sl_sock_events(x->ss, x->s) & POLLIN);
	assert_int_equal(recv_n(x, 64, 0), 10);
	assert_false(sl_sock_events(x->ss, x->s) & POLLIN);
}

static void test_disconnect_unspec(void **state)
{
	struct fix *x = *state;
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	assert_int_equal(sl_sock_connect(x->ss, x->s, &un, sizeof un), 0);
	for (int i = 0; i < 100 && !x->b.closed; i++)
		poll_b(x, 1);
	assert_true(x->b.closed); /* the RST */
	struct sockaddr_in p;
	socklen_t l = sizeof p;
	assert_int_equal(sl_sock_getpeername(x->ss, x->s, (struct sockaddr *)&p, &l), -ENOTCONN);
	x->b = (struct bend){0};
	struct sockaddr_in a = addr_b();
	assert_int_equal(sl_sock_connect(x->ss, x->s, (struct sockaddr *)&a, sizeof a),
			 -EINPROGRESS);
	for (int i = 0; i < 1000 && !(sl_sock_events(x->ss, x->s) & POLLOUT); i++) {
		poll_b(x, 1);
		sl_sockets_poll(x->ss);
	}
	assert_int_equal(sl_sock_connect(x->ss, x->s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(send_n(x, 7, 0), 7);
	for (int i = 0; i < 100 && x->b.got < 7; i++)
		poll_b(x, 1);
	assert_int_equal(x->b.got, 7);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

static void test_outq(void **state)
{
	struct fix *x = *state;
	assert_int_equal(sl_sock_outq(x->ss, x->s, false), 0);
	assert_int_equal(sl_sock_outq(x->ss, x->s, true), 0);
	/* 40000 bytes with B silent: the initial window (RFC 6928: 10 segments) leaves, the
	 * rest waits. */
	size_t total = 0;
	while (total < 40000) {
		ssize_t n = send_n(x, 4000, MSG_DONTWAIT);
		assert_int_equal(n, 4000);
		total += (size_t)n;
	}
	int queued = sl_sock_outq(x->ss, x->s, false), unsent = sl_sock_outq(x->ss, x->s, true);
	assert_int_equal(queued, 40000);
	assert_true(unsent > 0 && unsent <= 40000 - 10 * 1000);
	/* Until B has it all and its last (delayed, real-clock) ACK is in: at most ~2 s. */
	for (int i = 0; i < 2000 && (x->b.got < 40000 || sl_sock_outq(x->ss, x->s, false)); i++) {
		poll_b(x, 1);
		sl_sockets_poll(x->ss);
		if (x->b.got == 40000)
			poll(NULL, 0, 1);
	}
	assert_int_equal(x->b.got, 40000);
	assert_int_equal(sl_sock_outq(x->ss, x->s, false), 0);
	assert_int_equal(sl_sock_outq(x->ss, x->s, true), 0);
	int u = sl_sock_socket(x->ss, AF_INET, SOCK_DGRAM, 0);
	assert_true(u >= 0);
	assert_int_equal(sl_sock_outq(x->ss, u, false), 0);
	assert_int_equal(sl_sock_outq(x->ss, u, true), -EOPNOTSUPP);
	assert_int_equal(sl_sock_outq(x->ss, 12345, false), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_send_not_lazy_leaves_at_once),
	    T(test_send_lazy_waits_for_flush),
	    T(test_send_lazy_sent_by_poll_and_wait),
	    T(test_send_lazy_blocking_socket_polls),
	    T(test_recv_lazy_polls_before_eagain),
	    T(test_close_lazy_fin_waits),
	    T(test_accept_lazy),
	    T(test_changed_queue),
	    T(test_handles_lowest_first),
	    T(test_rcvlowat),
	    T(test_disconnect_unspec),
	    T(test_outq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
