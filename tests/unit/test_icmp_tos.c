/*
 * The IPv4 TOS byte of the ICMP messages the stack sends (through the fake peer of
 * tests/unit/fakepeer.h, which checks every header's checksum): an echo reply carries its
 * request's, as Linux's icmp_reply does (so ping -Q sees its DSCP come back); an error carries
 * the offending datagram's TOS bits under precedence 6, internetwork control (RFC 1812
 * §4.3.2.5: 0xc0 | tos & 0x1e, as Linux's icmp_send does); a message the application writes
 * carries sl_ip_opts.tos.
 */
#include "unit/fakepeer.h"
#include "wire/icmp.h"
#include "sluice/icmp.h"

/* An echo request from the peer with TOS byte tos; the stack's answer is polled for. */
static void echo_with_tos(uint8_t tos, uint16_t seq, size_t payload)
{
	uint8_t m[SL_ICMP_HLEN + 2000];
	assert_true(payload <= sizeof m - SL_ICMP_HLEN);
	for (size_t i = 0; i < payload; i++)
		m[SL_ICMP_HLEN + i] = (uint8_t)i;
	sl_icmp_emit(m, SL_ICMP_ECHO_REQUEST, 0, 0x1234u << 16 | seq, payload);
	peer_ip_raw(tos, SL_IPPROTO_ICMP, m, SL_ICMP_HLEN + payload);
	tp_poll();
}

static void test_echo_reply_carries_request_tos(void **state)
{
	tp_up(NULL);
	static const uint8_t toss[] = {0xb8, 0x00, 0x2b, 0xff, 0x04};
	for (unsigned k = 0; k < sizeof toss; k++) {
		unsigned before = T.icmp_frames;
		echo_with_tos(toss[k], (uint16_t)k, 56);
		assert_int_equal(T.icmp_frames, before + 1);
		assert_int_equal(T.icmp_type, SL_ICMP_ECHO_REPLY);
		assert_int_equal(T.icmp_tos, toss[k]);
	}
	tp_down();
}

/* A UDP datagram from the peer to a port nobody listens on: the port unreachable's TOS. */
static void test_error_tos_internetwork_control(void **state)
{
	tp_up(NULL);
	static const uint8_t toss[] = {0x00, 0xb8, 0x1e, 0xff, 0x03};
	for (unsigned k = 0; k < sizeof toss; k++) {
		uint8_t u[8 + 4] = {0x30, 0x39, 0x00, 0x09, 0x00, 12, 0, 0, 'a', 'b', 'c', 'd'};
		/* no checksum (0: none, RFC 768) */
		unsigned before = T.icmp_frames;
		tp_run(2 * SEC); /* a token for the ICMP rate limit each time */
		peer_ip_raw(toss[k], SL_IPPROTO_UDP, u, sizeof u);
		tp_poll();
		assert_int_equal(T.icmp_frames, before + 1);
		assert_int_equal(T.icmp_type, SL_ICMP_DEST_UNREACH);
		assert_int_equal(T.icmp_tos, 0xc0 | (toss[k] & 0x1e));
	}
	tp_down();
}

static void test_icmp_write_tos(void **state)
{
	tp_up(NULL);
	uint8_t m[SL_ICMP_HLEN + 8] = {0};
	sl_icmp_emit(m, SL_ICMP_ECHO_REQUEST, 0, 0x00010001, 8);
	sl_ip dst = sl_ip_v4(PEER_IP);
	struct sl_ip_opts o = {.tos = 0x88};
	unsigned before = T.icmp_frames;
	assert_int_equal(sl_icmp_write(T.st, &dst, &o, m, sizeof m), 0);
	tp_poll();
	assert_int_equal(T.icmp_frames, before + 1);
	assert_int_equal(T.icmp_tos, 0x88);
	assert_int_equal(sl_icmp_write(T.st, &dst, NULL, m, sizeof m), 0);
	tp_poll();
	assert_int_equal(T.icmp_tos, 0);
	tp_down();
}

int main(void)
{
#define T_(name) cmocka_unit_test_teardown(name, tp_teardown)
	const struct CMUnitTest tests[] = {
	    T_(test_echo_reply_carries_request_tos),
	    T_(test_error_tos_internetwork_control),
	    T_(test_icmp_write_tos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
