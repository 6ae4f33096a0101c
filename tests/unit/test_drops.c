/*
 * Every drop is counted (shared/DESIGN.md): discard paths that used to lose a packet, a
 * segment or a datagram without a counter, each driven through the public API and the wire
 * and judged by the counter its RFC reason names. IPv6 and Neighbor Discovery ones are in
 * test_drops6.c.
 *
 *   socket layer (include/sluice/socket.h), stack A's datagram sockets fed by stack B over
 *   an in-memory pipe (tests/unit/pipenet.h):
 *     - a datagram beyond SO_RCVBUF is dropped, as Linux drops it: udp_rcvbuf_full;
 *     - one that no socket of its port takes (a connected socket, another source port):
 *       udp_no_socket;
 *     - one for a socket shut down for reading: udp_rcv_after_shutdown;
 *   ICMP: an echo reply with no application taking echo replies: icmp_echo_reply_unclaimed.
 *   TCP (RFC 9293 §3.10.7), against a scripted peer (tests/unit/fakepeer.h):
 *     - SYN-SENT: a RST without an ACK (tcp_rst_out_of_window), a segment with neither SYN
 *       nor RST (tcp_bad_flags);
 *     - SYN-RECEIVED: an ACK that does not acknowledge our SYN, answered with a reset
 *       (tcp_bad_ack);
 *     - text after the peer's FIN, in CLOSE-WAIT and TIME-WAIT (tcp_data_after_fin);
 *     - a FIN into a zero receive window, not taken (tcp_out_of_window).
 *
 * Run: make -j1 build/tests/test_drops build/san/tests/test_drops, then either binary.
 */
#include <errno.h>
#include <netinet/in.h>
#include "unit/fakepeer.h"
#include "sluice/socket.h"

#define SA(n, name) (sl_stack_stats((n)->a)->c[SL_STAT_##name])

/* --- the socket layer's datagram queues ------------------------------------------------------ */

/* B sends len bytes from its port sport to A's port dport, and both stacks run 2 ms (the
 * first datagram waits for ARP). */
static void b_send(struct net *n, uint16_t sport, uint16_t dport, size_t len)
{
	static uint8_t buf[1400];
	assert_true(len <= sizeof buf);
	memset(buf, 0x5a, len);
	struct sl_udp_write_opts o = {.src_port = sport};
	sl_ip dst = sl_ip_v4(PN_IP_A);
	assert_int_equal(sl_udp_write(n->b, &o, &dst, dport, buf, len), 0);
	pn_run_for(n, 2 * PN_MS);
}

static struct sockaddr_in sin4(uint32_t addr, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(addr);
	return a;
}

/* A non-blocking datagram socket of A's layer bound to port (any address). */
static int udp_socket(struct sl_sockets *ss, uint16_t port)
{
	int s = sl_sock_socket(ss, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(s >= 0);
	struct sockaddr_in a = sin4(0, port);
	assert_int_equal(sl_sock_bind(ss, s, (struct sockaddr *)&a, sizeof a), 0);
	return s;
}

/* Datagrams waiting on s (read and discarded); the last read's source port in *sport. */
static unsigned drain(struct sl_sockets *ss, int s, uint16_t *sport)
{
	unsigned got = 0;
	for (;;) {
		uint8_t buf[2048];
		struct sockaddr_in from;
		struct iovec v = {buf, sizeof buf};
		struct msghdr m = {
		    .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &v, .msg_iovlen = 1};
		ssize_t r = sl_sock_recvmsg(ss, s, &m, MSG_DONTWAIT);
		if (r < 0) {
			assert_int_equal(r, -EAGAIN);
			return got;
		}
		if (sport)
			*sport = ntohs(from.sin_port);
		got++;
	}
}

/* SO_RCVBUF bounds the bytes of datagrams a socket queues; what does not fit is dropped, as
 * Linux drops it (UDP RcvbufErrors), and counted: udp_rcvbuf_full. */
static void test_sock_udp_rcvbuf_full_counted(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, tu_seed(61));
	struct sl_sockets *ss;
	assert_int_equal(sl_sockets_new(n.a, 8, &ss), 0);
	int s = udp_socket(ss, 9000);
	int want = 2048; /* doubled by the layer, as Linux does */
	assert_int_equal(sl_sock_setsockopt(ss, s, SOL_SOCKET, SO_RCVBUF, &want, sizeof want), 0);
	int rcvbuf = 0;
	socklen_t l = sizeof rcvbuf;
	assert_int_equal(sl_sock_getsockopt(ss, s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &l), 0);
	const unsigned sent = 12, size = 1000;
	unsigned fit = (unsigned)rcvbuf / size;
	assert_true(fit >= 1 && fit < sent);
	for (unsigned i = 0; i < sent; i++)
		b_send(&n, 7000, 9000, size);
	assert_int_equal(SA(&n, udp_rx), sent); /* all of them reached the layer */
	assert_int_equal(drain(ss, s, NULL), fit);
	assert_int_equal(SA(&n, udp_rcvbuf_full), sent - fit);
	sl_sockets_free(ss);
	pn_down(&n);
}

/* A connected datagram socket takes only what its peer sends (connect(2)); a datagram from
 * anywhere else that no other socket of the port takes is dropped and counted:
 * udp_no_socket. */
static void test_sock_udp_no_socket_counted(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, tu_seed(62));
	struct sl_sockets *ss;
	assert_int_equal(sl_sockets_new(n.a, 8, &ss), 0);
	int s = udp_socket(ss, 9001);
	struct sockaddr_in peer = sin4(PN_IP_B, 7000);
	assert_int_equal(sl_sock_connect(ss, s, (struct sockaddr *)&peer, sizeof peer), 0);
	b_send(&n, 7000, 9001, 100); /* from the peer: taken */
	b_send(&n, 7001, 9001, 100); /* from another port of the peer's host: no socket */
	b_send(&n, 7001, 9001, 100);
	assert_int_equal(SA(&n, udp_no_port), 0); /* the stack had a receiver for the port */
	uint16_t from = 0;
	assert_int_equal(drain(ss, s, &from), 1);
	assert_int_equal(from, 7000);
	assert_int_equal(SA(&n, udp_no_socket), 2);
	sl_sockets_free(ss);
	pn_down(&n);
}

/* After shutdown(SHUT_RD) a datagram socket reads end of file; a datagram arriving then is
 * discarded, and counted: udp_rcv_after_shutdown. */
static void test_sock_udp_after_shut_rd_counted(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, tu_seed(63));
	struct sl_sockets *ss;
	assert_int_equal(sl_sockets_new(n.a, 8, &ss), 0);
	int s = udp_socket(ss, 9002);
	struct sockaddr_in peer = sin4(PN_IP_B, 7000);
	assert_int_equal(sl_sock_connect(ss, s, (struct sockaddr *)&peer, sizeof peer), 0);
	b_send(&n, 7000, 9002, 100); /* resolves ARP; read below */
	assert_int_equal(drain(ss, s, NULL), 1);
	assert_int_equal(sl_sock_shutdown(ss, s, SHUT_RD), 0);
	b_send(&n, 7000, 9002, 100);
	uint8_t buf[256];
	struct iovec v = {buf, sizeof buf};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	assert_int_equal(sl_sock_recvmsg(ss, s, &m, MSG_DONTWAIT), 0); /* end of file */
	assert_int_equal(SA(&n, udp_rcv_after_shutdown), 1);
	sl_sockets_free(ss);
	pn_down(&n);
}

/* sl_stack_count_drop counts in drop counters only. */
static void test_count_drop_only_drop_counters(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, tu_seed(64));
	assert_int_equal(sl_stack_count_drop(n.a, SL_STAT_udp_rcvbuf_full), 0);
	assert_int_equal(SA(&n, udp_rcvbuf_full), 1);
	assert_int_equal(sl_stack_count_drop(n.a, SL_STAT_udp_rx), -EINVAL);
	assert_int_equal(sl_stack_count_drop(n.a, SL_STAT_N), -EINVAL);
	assert_int_equal(SA(&n, udp_rx), 0);
	pn_down(&n);
}

/* --- ICMP (RFC 792, RFC 1122 §3.2.2.6) -------------------------------------------------------- */

static unsigned echo_calls;
static void on_echo(void *arg, const sl_ip *src, uint16_t id, uint16_t seq, const uint8_t *data,
		    size_t len)
{
	echo_calls++;
}

/* B sends A an echo reply (id, seq, 4 data bytes) and both run 5 ms (ARP first). */
static void b_echo_reply(struct net *n, uint16_t seq)
{
	uint8_t m[12] = {0 /* echo reply */, 0, 0, 0, 0x12, 0x34, (uint8_t)(seq >> 8), (uint8_t)seq,
			 'p', 'i', 'n', 'g'};
	sl_ip dst = sl_ip_v4(PN_IP_A);
	assert_int_equal(sl_icmp_write(n->b, &dst, NULL, m, sizeof m), 0);
	pn_run_for(n, 5 * PN_MS);
}

/* An echo reply is for the ICMP user that sent the request (RFC 1122 §3.2.2.6); with no
 * application taking echo replies it is dropped, and counted: icmp_echo_reply_unclaimed.
 * With one, it is delivered and nothing is dropped. */
static void test_icmp_echo_reply_unclaimed_counted(void **state)
{
	struct net n;
	pn_up(&n, NULL, NULL, tu_seed(65));
	b_echo_reply(&n, 1);
	assert_int_equal(SA(&n, icmp_rx), 1);
	assert_int_equal(SA(&n, icmp_echo_reply_unclaimed), 1);
	echo_calls = 0;
	sl_icmp_on_echo_reply(n.a, on_echo, NULL);
	b_echo_reply(&n, 2);
	assert_int_equal(echo_calls, 1);
	assert_int_equal(SA(&n, icmp_rx), 2);
	assert_int_equal(SA(&n, icmp_echo_reply_unclaimed), 1);
	pn_down(&n);
}

/* --- TCP (RFC 9293 §3.10.7) ------------------------------------------------------------------- */

/* The stack connects to the peer's port pport; its SYN is checked and c set up from it. */
static void active_syn(struct pc *c, uint16_t pport)
{
	sl_ip dst = sl_ip_v4(PEER_IP);
	struct sl_tcp_flow *f;
	assert_int_equal(sl_tcp_connect(T.st, &dst, pport, NULL, &app_cbs, &A, &f), 0);
	tp_poll();
	struct seg *syn = expect(F_SYN);
	pc_init(c, syn->sport, pport);
	c->f = f;
	c->irs = syn->seq;
	c->rcv_nxt = syn->seq + 1;
	assert_state(f, "SYN-SENT");
}

/* SYN-SENT, second: "If the RST bit is set ... Otherwise (no ACK), drop the segment and
 * return" (RFC 9293 §3.10.7.3; RFC 5961 §3.2: only a RST acknowledging our SYN is
 * acceptable). Dropped, counted tcp_rst_out_of_window, and the open goes on. */
static void test_tcp_syn_sent_rst_without_ack_counted(void **state)
{
	tp_up(NULL);
	struct pc c;
	active_syn(&c, 5000);
	pc_tx_seq(&c, F_RST, c.iss, NULL, 0);
	tp_poll();
	expect_none();
	assert_state(c.f, "SYN-SENT");
	assert_int_equal(STAT(tcp_resets_rx), 0);
	assert_int_equal(STAT(tcp_rst_out_of_window), 1);
	synack(&c, 1460, -1);
	assert_state(c.f, "ESTABLISHED");
	tp_down();
}

/* SYN-SENT, fifth: "If neither of the SYN or RST bits is set, then drop the segment and
 * return" — even with an acceptable ACK (RFC 9293 §3.10.7.3). Counted tcp_bad_flags. */
static void test_tcp_syn_sent_no_syn_counted(void **state)
{
	tp_up(NULL);
	struct pc c;
	active_syn(&c, 5001);
	pc_tx_seq(&c, F_ACK, c.iss, NULL, 0); /* acknowledges our SYN, is no SYN-ACK */
	pc_tx_seq(&c, F_ACK | F_FIN, c.iss, NULL, 0);
	tp_poll();
	expect_none();
	assert_state(c.f, "SYN-SENT");
	assert_int_equal(STAT(tcp_bad_flags), 2);
	synack(&c, 1460, -1);
	assert_state(c.f, "ESTABLISHED");
	tp_down();
}

/* SYN-RECEIVED, fifth: unless SND.UNA < SEG.ACK =< SND.NXT "the segment acknowledgment is not
 * acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST> and send it" (RFC 9293 §3.10.7.4).
 * The segment is dropped: counted tcp_bad_ack. The handshake still completes. */
static void test_tcp_syn_received_bad_ack_counted(void **state)
{
	tp_up(NULL);
	listen_on(80);
	struct pc c;
	pc_init(&c, 80, 40000);
	pc_syn(&c, 1460, -1);
	struct seg *sa = expect(F_SYN | F_ACK);
	uint32_t iss = sa->seq;
	c.rcv_nxt = iss; /* acknowledges nothing of ours: not our SYN */
	pc_send(&c, F_ACK, NULL, 0);
	struct seg *r = expect(F_RST);
	assert_int_equal(r->seq, iss);
	assert_int_equal(A.nacc, 0);
	assert_int_equal(STAT(tcp_bad_ack), 1);
	c.rcv_nxt = iss + 1;
	pc_send(&c, F_ACK, NULL, 0);
	assert_int_equal(A.nacc, 1);
	tp_down();
}

/* Seventh, CLOSE-WAIT (and CLOSING, LAST-ACK, TIME-WAIT): "This should not occur since a FIN
 * has been received from the remote side. Ignore the segment text." (RFC 9293 §3.10.7.4).
 * Ignored, counted tcp_data_after_fin; the reader still sees end of file. */
static void test_tcp_data_after_fin_close_wait_counted(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_opts(&c, 80, 40000, 1460, -1);
	tp_clear();
	pc_send(&c, F_FIN | F_ACK, NULL, 0);
	expect(F_ACK);
	assert_state(c.f, "CLOSE-WAIT");
	pc_send(&c, F_ACK, "late", 4); /* beyond the FIN: in the window, but after the end */
	assert_state(c.f, "CLOSE-WAIT");
	assert_int_equal(STAT(tcp_data_after_fin), 1);
	uint8_t b[16];
	assert_int_equal(sl_tcp_read(c.f, b, sizeof b), 0);
	tp_down();
}

/* The same in TIME-WAIT, after the stack's active close. */
static void test_tcp_data_after_fin_time_wait_counted(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_opts(&c, 80, 40001, 1460, -1);
	tp_clear();
	sl_tcp_shutdown(c.f, SL_SHUT_WR);
	tp_poll();
	struct seg *fin = expect(F_FIN | F_ACK);
	c.rcv_nxt = fin->seq + 1;
	pc_send(&c, F_FIN | F_ACK, NULL, 0);
	expect(F_ACK);
	assert_state(c.f, "TIME-WAIT");
	pc_send(&c, F_ACK, "late", 4);
	assert_state(c.f, "TIME-WAIT");
	assert_int_equal(STAT(tcp_data_after_fin), 1);
	tp_down();
}

/* A zero receive window takes no segment text and no FIN, only the ACK (RFC 9293 §3.10.7.4:
 * "special allowance should be made to accept valid ACKs, URGs, and RSTs"). A bare FIN at
 * RCV.NXT is answered with the zero window and not taken: counted tcp_out_of_window, as data
 * there is. */
static void test_tcp_fin_into_zero_window_counted(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_rcvbuf = 4096;
	tp_up(&cfg);
	struct pc c;
	open_passive_opts(&c, 80, 40002, 1460, -1);
	tp_clear();
	static uint8_t d[4096];
	uint32_t base = c.snd_nxt;
	pc_tx_seq(&c, F_ACK, base, d, 1460);
	pc_tx_seq(&c, F_ACK, base + 1460, d, 1460);
	pc_tx_seq(&c, F_ACK, base + 2920, d, 1176);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, base + 4096);
	assert_int_equal(a->win, 0);
	assert_int_equal(STAT(tcp_out_of_window), 0);
	pc_tx_seq(&c, F_FIN | F_ACK, base + 4096, NULL, 0);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, base + 4096); /* the FIN not acknowledged */
	assert_int_equal(a->win, 0);
	assert_state(c.f, "ESTABLISHED");
	assert_int_equal(STAT(tcp_out_of_window), 1);
	tp_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sock_udp_rcvbuf_full_counted),
	    cmocka_unit_test(test_sock_udp_no_socket_counted),
	    cmocka_unit_test(test_sock_udp_after_shut_rd_counted),
	    cmocka_unit_test(test_count_drop_only_drop_counters),
	    cmocka_unit_test(test_icmp_echo_reply_unclaimed_counted),
	    cmocka_unit_test_teardown(test_tcp_syn_sent_rst_without_ack_counted, tp_teardown),
	    cmocka_unit_test_teardown(test_tcp_syn_sent_no_syn_counted, tp_teardown),
	    cmocka_unit_test_teardown(test_tcp_syn_received_bad_ack_counted, tp_teardown),
	    cmocka_unit_test_teardown(test_tcp_data_after_fin_close_wait_counted, tp_teardown),
	    cmocka_unit_test_teardown(test_tcp_data_after_fin_time_wait_counted, tp_teardown),
	    cmocka_unit_test_teardown(test_tcp_fin_into_zero_window_counted, tp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
