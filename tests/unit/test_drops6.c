/*
 * Every drop is counted (shared/DESIGN.md), IPv6 side: discard paths of ICMPv6 and Neighbor
 * Discovery that used to lose a packet without a counter, driven by a scripted IPv6 peer
 * (tests/unit/peer6.h) and judged by the counter their RFC reason names. The IPv4, TCP and
 * socket-layer ones are in test_drops.c.
 *
 *   - an echo reply shorter than its 8-byte header (RFC 4443 §4.2): icmp6_short; a whole one
 *     with no application taking echo replies: icmp6_echo_reply_unclaimed;
 *   - output the stack makes itself and cannot route: an echo reply built anew, an ICMPv6
 *     error, a Neighbor Solicitation with no address left to send it from: ipv6_no_route;
 *   - Neighbor Discovery input ignored by rule: an NS for an address still in DAD
 *     (nd_not_for_us), an NA that changes nothing (nd_na_ignored), a router solicitation
 *     (icmp6_unhandled_type).
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

/* --- output the stack refuses: no route back (RFC 4861 §5.2, no default router) ------------- */

static const sl_ip OFFLINK6 = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}};

/* An echo request behind a destination options header (answered by a reply built anew, not
 * in place) from a source off our prefixes, with no router configured: the reply has no
 * route, the request goes unanswered, and that is counted: ipv6_no_route. */
static void test_icmp6_echo_reply_no_route_counted(void **state)
{
	p6_up(NULL);
	uint8_t ext[8] = {NH_ICMP6, 0, 1 /* PadN */, 4, 0, 0, 0, 0};
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 9, 1, 8);
	send_icmp6_ext(&OFFLINK6, &ST6, 64, NH_DST, ext, sizeof ext, m, len);
	p6_run(5 * MS);
	assert_int_equal(D(icmp6_rx), 1);
	assert_int_equal(find_icmp6(0, ICMP6_ECHO_REPLY, -1), -1);
	assert_int_equal(D(icmp6_echo_replies), 0);
	assert_int_equal(D(ipv6_no_route), 1);
	p6_down();
}

/* A datagram to a closed port from a source we have no route to: port unreachable cannot be
 * sent (RFC 4443 §3.1), and the error that was not sent is counted: ipv6_no_route (as an
 * IPv4 one is in ipv4_no_route). */
static void test_icmp6_error_no_route_counted(void **state)
{
	p6_up(NULL);
	uint8_t u[64];
	size_t len = mk_udp6(u, &OFFLINK6, &ST6, 4000, 9, 1, 16);
	send6(&OFFLINK6, &ST6, NH_UDP, 64, u, len);
	p6_run(5 * MS);
	assert_int_equal(D(udp_no_port), 1);
	assert_int_equal(count_icmp6_errors(0), 0);
	assert_int_equal(D(icmp6_errors_sent), 0);
	assert_int_equal(D(ipv6_no_route), 1);
	p6_down();
}

/* A neighbour being resolved when the only address is removed: the retries have no source
 * to solicit from (RFC 4861 §7.2.2) and are not sent; each is counted, ipv6_no_route, and
 * the datagram that waited is dropped in the end, arp_unresolved. */
static void test_nd_ns_no_source_counted(void **state)
{
	struct sl_stack_config c;
	p6_config(&c);
	p6_up(&c);
	X.auto_na = false;
	unsigned ns0 = X.ns_seen; /* DAD's probe */
	struct sl_udp_write_opts o = {.src_port = 4000};
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 9, "x", 1), 0);
	p6_run(5 * MS);
	assert_int_equal(X.ns_seen - ns0, 1);
	assert_int_equal(D(nd_ns_sent), 1);
	assert_int_equal(sl_ip_del_addr(X.st, &ST6), 0);
	p6_run_fast(c.arp_retries * c.arp_retry_ns + SEC);
	assert_int_equal(X.ns_seen - ns0, 1);
	assert_int_equal(D(nd_ns_sent), 1); /* none sent after the first */
	assert_int_equal(D(ipv6_no_route), c.arp_retries - 1);
	assert_int_equal(D(arp_unresolved), 1);
	p6_down();
}

/* --- Neighbor Discovery input (RFC 4861, RFC 4862) ------------------------------------------ */

static const sl_ip TENT6 = {{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}};

/* An NS from a unicast source for an address still in DAD is someone resolving it: RFC 4862
 * §5.4.3 ignores it (the address is not ours yet), no NA, no conflict; counted:
 * nd_not_for_us. */
static void test_nd_ns_for_tentative_counted(void **state)
{
	p6_up(NULL);
	assert_int_equal(sl_ip_add_addr(X.st, &TENT6, 64), 0);
	assert_int_equal(sl_ip_addr_state(X.st, &TENT6), -EINPROGRESS); /* in DAD */
	sl_ip group = solicited(&TENT6);
	send_ns(&PEER6, &group, &TENT6, X.peer->mac, 255);
	p6_poll();
	assert_int_equal(D(nd_rx), 1);
	assert_int_equal(count_icmp6(0, ND_NA), 0);
	assert_int_equal(D(nd_dad_conflict), 0);
	assert_int_equal(D(nd_not_for_us), 1);
	p6_run_fast(3 * SEC);
	assert_int_equal(sl_ip_addr_state(X.st, &TENT6), 0); /* DAD passed all the same */
	p6_down();
}

/* RFC 4861 §7.2.5: an NA for a target with no cache entry is silently discarded (it creates
 * none), and one without a target link-layer address for an entry being resolved too;
 * counted: nd_na_ignored. The resolution goes on: the solicited NA with an address, when it
 * comes, completes it. */
static void test_nd_na_no_entry_or_no_tlla_counted(void **state)
{
	p6_up(NULL);
	X.auto_na = false;
	static const uint8_t mac_b[6] = {0x02, 0xbb, 0, 0, 0, 3};
	send_na(&PEER6_B, &ST6, NA_S | NA_O, &PEER6_B, mac_b, 255); /* nobody asked */
	p6_poll();
	assert_int_equal(D(nd_na_rx), 1);
	assert_int_equal(D(nd_na_ignored), 1);
	struct sl_udp_write_opts o = {.src_port = 4000};
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 9, "x", 1), 0); /* PEER6 INCOMPLETE */
	p6_poll();
	send_na(&PEER6, &ST6, NA_S | NA_O, &PEER6, NULL, 255); /* no TLLA */
	p6_poll();
	assert_int_equal(D(nd_na_ignored), 2);
	assert_int_equal(count_non_nd(0), 0); /* the datagram still waits */
	send_na(&PEER6, &ST6, NA_S | NA_O, &PEER6, X.peer->mac, 255);
	p6_poll();
	assert_int_equal(count_non_nd(0), 1);
	assert_int_equal(D(nd_na_ignored), 2);
	p6_down();
}

/* RFC 4861 §7.2.5: an NA with Override clear and another link-layer address turns a
 * REACHABLE entry STALE (processed, not a drop); for an entry in any other state it is
 * ignored and must not update the cache: counted, nd_na_ignored. */
static void test_nd_na_no_override_ignored_counted(void **state)
{
	p6_up(NULL);
	struct sl_udp_write_opts o = {.src_port = 4000};
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 9, "x", 1), 0);
	p6_run(5 * MS); /* resolved by the peer's solicited NA: REACHABLE */
	assert_int_equal(count_non_nd(0), 1);
	static const uint8_t other[6] = {0x02, 0xcc, 0, 0, 0, 2};
	send_na(&PEER6, &ST6, 0, &PEER6, other, 255); /* REACHABLE → STALE */
	p6_poll();
	assert_int_equal(D(nd_na_ignored), 0);
	send_na(&PEER6, &ST6, 0, &PEER6, other, 255); /* STALE: ignored */
	p6_poll();
	assert_int_equal(D(nd_na_rx), 3);
	assert_int_equal(D(nd_na_ignored), 1);
	/* The cache kept the peer's address: the next datagram goes to it. */
	p6_clear();
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 9, "y", 1), 0);
	p6_run(5 * MS);
	int i = -1;
	for (unsigned k = 0; k < X.ncap; k++)
		if (cap6(k).proto == NH_UDP)
			i = (int)k;
	assert_true(i >= 0);
	assert_memory_equal(X.cap[i].b, X.peer->mac, 6);
	p6_down();
}

/* RFC 4861 §6.2.6: a host silently discards router solicitations; counted:
 * icmp6_unhandled_type. */
static void test_nd_rs_counted(void **state)
{
	p6_up(NULL);
	uint8_t m[8] = {ND_RS, 0};
	send_icmp6(&PEER6_LL, &ALL_NODES, 255, m, sizeof m);
	p6_poll();
	assert_int_equal(D(nd_rx), 1);
	assert_int_equal(D(nd_bad), 0);
	assert_int_equal(D(icmp6_unhandled_type), 1);
	assert_int_equal(X.ncap, 0);
	p6_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_icmp6_echo_reply_drops_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_icmp6_echo_reply_no_route_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_icmp6_error_no_route_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_nd_ns_no_source_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_nd_ns_for_tentative_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_nd_na_no_entry_or_no_tlla_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_nd_na_no_override_ignored_counted, p6_teardown),
	    cmocka_unit_test_teardown(test_nd_rs_counted, p6_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
