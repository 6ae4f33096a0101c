/*
 * sl_stack_set_mtu (include/sluice/stack.h): the MTU of a running stack, as `sluice run
 * --shared` changes it when the kernel's MTU of DEV changes. Written from the header's
 * contract, RFC 791 §3.2 (68), RFC 8200 §5 (1280 with IPv6), RFC 9293 §3.7.1 / RFC 6691 (the
 * MSS offered: the MTU less 40) and RFC 1191 §6.3 (a connection shrinks its segments to a
 * smaller MTU), over the pipe with a test peer (tests/unit/fakepeer.h), simulated time.
 *
 *  - bounds: 68 up to the device's MTU (the pipe's max_mtu is 0) or max_mtu when it is set;
 *    1280 while an IPv6 address is there; a refused value changes nothing.
 *  - the SYN-ACK of a connection opened after the change offers MTU − 40 (1360 at 1400),
 *    again 1460 once the MTU is back at 1500; a UDP datagram too large for the new MTU is
 *    fragmented to it.
 *  - an established connection (MSS 1460) sends segments of at most 1160 bytes once the MTU
 *    is 1200, none fragmented, every byte in order; it keeps 1160 when the MTU grows again.
 */
#include "unit/tcphelp.h"

#define V6_ADDR "fd00::1"

static sl_ip ip6(const char *s)
{
	sl_ip a;
	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

/* The MSS option of the stack's SYN-ACK to a new connection from pport. */
static uint16_t synack_mss(uint16_t pport)
{
	struct pc c;
	listen_on(80);
	pc_init(&c, 80, pport);
	pc_syn(&c, 1460, -1);
	struct seg *sa = expect(F_SYN | F_ACK);
	return sa->o.mss;
}

static void test_set_mtu_bounds(void **state)
{
	tp_up(NULL);
	assert_int_equal(T.sd->max_mtu, 0); /* the pipe: its mtu is the bound */
	assert_int_equal(sl_stack_set_mtu(T.st, 67), -EINVAL);
	assert_int_equal(sl_stack_set_mtu(T.st, 0), -EINVAL);
	assert_int_equal(sl_stack_set_mtu(T.st, 1501), -EINVAL);
	assert_int_equal(sl_stack_set_mtu(T.st, 68), 0);
	assert_int_equal(sl_stack_set_mtu(T.st, 1500), 0);
	/* A device whose frames carry more than its MTU at open. */
	T.sd->max_mtu = 1800;
	assert_int_equal(sl_stack_set_mtu(T.st, 1801), -EINVAL);
	assert_int_equal(sl_stack_set_mtu(T.st, 1800), 0);
	assert_int_equal(sl_stack_set_mtu(T.st, 1500), 0);
	T.sd->max_mtu = 0;

	/* IPv6 needs 1280 (RFC 8200 §5): refused below it while an address is there. */
	sl_ip a6 = ip6(V6_ADDR);
	assert_int_equal(sl_ip_add_addr(T.st, &a6, 64), 0);
	assert_int_equal(sl_stack_set_mtu(T.st, 1279), -EINVAL);
	assert_int_equal(sl_stack_set_mtu(T.st, 1280), 0);
	assert_int_equal(sl_ip_del_addr(T.st, &a6), 0);
	assert_int_equal(sl_stack_set_mtu(T.st, 1000), 0);
	assert_int_equal(sl_ip_add_addr(T.st, &a6, 64), -EINVAL); /* and the other way round */
	/* A refused value left the MTU as it was: the SYN-ACK offers 1000 − 40. */
	assert_int_equal(sl_stack_set_mtu(T.st, 20), -EINVAL);
	assert_int_equal(synack_mss(40000), 960);
	tp_down();
}

static void test_set_mtu_new_connections(void **state)
{
	tp_up(NULL);
	assert_int_equal(synack_mss(40000), 1460);
	assert_int_equal(sl_stack_set_mtu(T.st, 1400), 0);
	assert_int_equal(synack_mss(40001), 1360);
	assert_int_equal(sl_stack_set_mtu(T.st, 1500), 0);
	assert_int_equal(synack_mss(40002), 1460);

	/* IPv4 output in general follows: 1300 bytes of UDP at MTU 1200 leave in two fragments. */
	assert_int_equal(sl_stack_set_mtu(T.st, 1200), 0);
	uint64_t frags = STAT(ipv4_frags_sent);
	static uint8_t d[1300];
	sl_ip peer = sl_ip_v4(PEER_IP);
	assert_int_equal(sl_udp_write(T.st, NULL, &peer, 9, d, sizeof d), 0);
	tp_poll();
	assert_int_equal(STAT(ipv4_frags_sent) - frags, 2);
	tp_down();
}

static void test_set_mtu_shrinks_established(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	assert_int_equal(info_of(c.f).mss, 1460);
	assert_int_equal(sl_stack_set_mtu(T.st, 1200), 0);
	assert_int_equal(info_of(c.f).mss, 1160);

	/* 8000 bytes fit the initial window (10 segments): all leave at once. */
	uint64_t frags = STAT(ipv4_frags_sent);
	app_write(c.f, 0, 8000, true);
	tp_poll();
	uint32_t total = 0, largest = 0;
	unsigned n = 0;
	for (struct seg *s; (s = tp_pop());) {
		if (!s->dlen)
			continue;
		assert_int_equal(s->seq, c.rcv_nxt);
		assert_memory_equal(s->data, pbytes(total, s->dlen), s->dlen);
		c.rcv_nxt += s->dlen;
		total += s->dlen;
		largest = s->dlen > largest ? s->dlen : largest;
		n++;
	}
	assert_int_equal(total, 8000);
	assert_int_equal(largest, 1160);
	assert_int_equal(n, 7); /* ceil(8000 / 1160) */
	assert_int_equal(STAT(ipv4_frags_sent), frags);
	pc_send(&c, F_ACK, NULL, 0);

	/* A larger MTU leaves the connection's segment size alone (no probing here). */
	assert_int_equal(sl_stack_set_mtu(T.st, 1500), 0);
	assert_int_equal(info_of(c.f).mss, 1160);
	tp_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_set_mtu_bounds, tp_teardown),
	    cmocka_unit_test_teardown(test_set_mtu_new_connections, tp_teardown),
	    cmocka_unit_test_teardown(test_set_mtu_shrinks_established, tp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
