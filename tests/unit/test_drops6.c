/*
 * Every drop is counted (shared/DESIGN.md), IPv6 side: discard paths of ICMPv6 and Neighbor
 * Discovery that used to lose a packet without a counter, driven by a scripted IPv6 peer
 * (tests/unit/peer6.h) and judged by the counter their RFC reason names. The IPv4, TCP and
 * socket-layer ones are in test_drops.c.
 *
 *   - an echo reply shorter than its 8-byte header (RFC 4443 §4.2): icmp6_short; a whole one
 *     with no application taking echo replies: icmp6_echo_reply_unclaimed.
 *
 * Run: make -j1 build/tests/test_drops6 build/san/tests/test_drops6, then either binary.
 */
#include "unit/peer6.h"

static unsigned echo_calls;
static void on_echo(void *arg, const sl_ip *src, uint16_t id, uint16_t seq, const uint8_t *data,
		    size_t len)
{
	echo_calls++;
}

/* An echo reply goes to the process that sent the request (RFC 4443 §4.2): with none taking
 * echo replies it is dropped and counted, icmp6_echo_reply_unclaimed; one shorter than the
 * 8-byte echo header is malformed, icmp6_short. With a receiver a whole one is delivered. */
static void test_icmp6_echo_reply_drops_counted(void **state)
{
	p6_up(NULL);
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REPLY, 7, 1, 4);
	send_icmp6(&PEER6, &ST6, 64, m, len);
	p6_run(2 * MS);
	assert_int_equal(D(icmp6_rx), 1);
	assert_int_equal(D(icmp6_echo_reply_unclaimed), 1);
	mk_echo(m, ICMP6_ECHO_REPLY, 7, 2, 0);
	send_icmp6(&PEER6, &ST6, 64, m, 6); /* type, code, checksum, id: no sequence number */
	p6_run(2 * MS);
	assert_int_equal(D(icmp6_short), 1);
	assert_int_equal(D(icmp6_echo_reply_unclaimed), 1);
	echo_calls = 0;
	sl_icmp_on_echo_reply(X.st, on_echo, NULL);
	len = mk_echo(m, ICMP6_ECHO_REPLY, 7, 3, 4);
	send_icmp6(&PEER6, &ST6, 64, m, len);
	send_icmp6(&PEER6, &ST6, 64, m, 6); /* still too short, callback or not */
	p6_run(2 * MS);
	assert_int_equal(echo_calls, 1);
	assert_int_equal(D(icmp6_echo_reply_unclaimed), 1);
	assert_int_equal(D(icmp6_short), 2);
	p6_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_icmp6_echo_reply_drops_counted, p6_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
