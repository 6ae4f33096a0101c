/*
 * Neighbor Discovery (RFC 4861 §7: NS/NA validation, answering, address resolution, the
 * neighbour cache rules of §7.2.5; §6.1.2 and §8.1 RA / redirect validation) and Duplicate
 * Address Detection (RFC 4862 §5.4), against the scripted peer of tests/unit/peer6.h. Written
 * from the RFCs, not from user/proto/nd.c.
 *
 * The stack is fd00::1/64 (MAC 02:00:5e:10:00:0a), the peer fd00::2 (02:00:5e:10:00:0b).
 */
#include "unit/peer6.h"

static const uint8_t MAC2[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x33};
static const uint8_t MAC3[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x44};

/* An NS message: target, then options opts[0..olen); code; returns its length. */
static size_t mk_ns(uint8_t *m, const sl_ip *target, uint8_t code, const uint8_t *opts, size_t olen)
{
	memset(m, 0, 24);
	m[0] = ND_NS;
	m[1] = code;
	memcpy(m + 8, target->b, 16);
	if (olen)
		memcpy(m + 24, opts, olen);
	return 24 + olen;
}

/* The NA the stack sent from index from on (any NA; target given: that target), or -1. */
static int find_na(unsigned from, const sl_ip *target)
{
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (!v6_parse(X.cap[i].b, X.cap[i].len, &v) || !is_icmp6(&v, ND_NA))
			continue;
		if (!target || (v.l4len >= 24 && ip_eqb(v.l4 + 8, target)))
			return (int)i;
	}
	return -1;
}

/* The NS the stack sent for target from index from on, or -1. */
static int find_ns(unsigned from, const sl_ip *target)
{
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (!v6_parse(X.cap[i].b, X.cap[i].len, &v) || !is_icmp6(&v, ND_NS))
			continue;
		if (v.l4len >= 24 && ip_eqb(v.l4 + 8, target))
			return (int)i;
	}
	return -1;
}

static unsigned count_ns(unsigned from, const sl_ip *target)
{
	unsigned n = 0;
	for (int i = find_ns(from, target); i >= 0; i = find_ns((unsigned)i + 1, target))
		n++;
	return n;
}

/* UDP datagrams the stack sent from index from on (their indices in idx, up to max). */
static unsigned find_udp(unsigned from, unsigned *idx, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (v6_parse(X.cap[i].b, X.cap[i].len, &v) && v.proto == NH_UDP) {
			if (n < max)
				idx[n] = i;
			n++;
		}
	}
	return n;
}

/* The stack's NA for its address ST6: checked field by field (RFC 4861 §4.4, §7.2.4). */
static struct v6 check_our_na(int i, bool solicited_flag)
{
	if (i < 0) {
		print_message("no NA; captured:\n");
		dump_caps(0);
	}
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.ip[7], 255); /* §7.1.2: hop limit 255 */
	assert_int_equal(v.l4[1], 0);
	assert_true(v.l4len >= 32);
	uint32_t flags = get32(v.l4 + 4);
	assert_int_equal(flags & NA_R, 0); /* a host */
	assert_int_equal(!!(flags & NA_S), solicited_flag);
	assert_true(flags & NA_O); /* §7.2.4: SHOULD for a non-anycast target */
	assert_int_equal(flags & 0x1fffffff, 0);
	assert_true(ip_eqb(v.l4 + 8, &ST6));
	assert_true(ip_eq(&v.src, &ST6));
	const uint8_t *tl = nd_opt(v.l4, v.l4len, 24, 2);
	assert_non_null(tl); /* §7.2.4: MUST when the solicitation's destination was multicast */
	assert_int_equal(tl[1], 1);
	assert_memory_equal(tl + 2, X.dev->mac, 6);
	assert_true(l4_csum6_ok(&v.src, &v.dst, NH_ICMP6, v.l4, v.l4len));
	assert_memory_equal(v.eth + 6, X.dev->mac, 6);
	return v;
}

/* --- answering NS (RFC 4861 §7.2.3, §7.2.4) ------------------------------------------------- */

/* An NS for our address to its solicited-node group with an SLLA is answered by a solicited
 * NA with S and O, target our address, TLLA our MAC, hop limit 255, unicast to the
 * solicitor's address and (from the SLLA just learned) link-layer address. No NS of ours is
 * needed first. */
static void test_nd_ns_answered(void **state)
{
	p6_up(NULL);
	X.auto_na = false;
	sl_ip sn = solicited(&ST6);
	send_ns(&PEER6, &sn, &ST6, X.peer->mac, 255);
	p6_run(3 * MS);
	struct v6 v = check_our_na(find_na(0, &ST6), true);
	assert_true(ip_eq(&v.dst, &PEER6));
	assert_memory_equal(v.eth, X.peer->mac, 6);
	assert_int_equal(count_ns(0, &PEER6), 0);
	assert_int_equal(D(nd_ns_rx), 1);
	assert_int_equal(D(nd_na_sent), 1);
	assert_int_equal(D(nd_bad), 0);
	p6_down();
}

/* RFC 4861 §4.4 / §2.3 RFC 4443: the NA's checksum over the pseudo-header, verified here by
 * hand (peer6.h also checks every frame). A unicast NS (to our address, §7.2.3 allows it) is
 * answered too. */
static void test_nd_na_checksum_valid(void **state)
{
	p6_up(NULL);
	send_ns(&PEER6, &ST6, &ST6, X.peer->mac, 255);
	p6_run(3 * MS);
	int i = find_na(0, &ST6);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	uint8_t copy[64];
	assert_true(v.l4len <= sizeof copy);
	memcpy(copy, v.l4, v.l4len);
	uint16_t got = get16(copy + 2);
	put16(copy + 2, 0);
	assert_int_equal(got, l4_csum6(&ST6, &PEER6, NH_ICMP6, copy, v.l4len));
	p6_down();
}

/* §7.2.3: the SLLA goes into the neighbour cache, so the NA is sent to the SLLA's address
 * (here not the Ethernet source of the NS). */
static void test_nd_ns_slla_used_for_answer(void **state)
{
	p6_up(NULL);
	X.auto_na = false;
	sl_ip sn = solicited(&ST6);
	send_ns(&PEER6, &sn, &ST6, MAC2, 255);
	p6_run(3 * MS);
	struct v6 v = check_our_na(find_na(0, &ST6), true);
	assert_memory_equal(v.eth, MAC2, 6);
	p6_down();
}

/* An invalid NS (RFC 4861 §7.1.1) is silently discarded: no NA, counted in nd_bad. */
static void expect_ns_ignored(const sl_ip *src, const sl_ip *dst, uint8_t hlim, uint8_t *m,
			      size_t len)
{
	send_icmp6(src, dst, hlim, m, len);
	p6_run(3 * MS);
	int i = find_na(0, NULL);
	if (i >= 0) {
		print_message("invalid NS answered:\n");
		dump_caps(0);
	}
	assert_int_equal(i, -1);
	assert_int_equal(D(nd_bad), 1);
	assert_int_equal(D(nd_na_sent), 0);
}

static void test_nd_ns_hop_limit_not_255_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[8] = {1, 1};
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ST6, 0, o, 8);
	sl_ip sn = solicited(&ST6);
	expect_ns_ignored(&PEER6, &sn, 254, m, len);
	p6_down();
}

static void test_nd_ns_code_not_0_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[8] = {1, 1};
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ST6, 1, o, 8);
	sl_ip sn = solicited(&ST6);
	expect_ns_ignored(&PEER6, &sn, 255, m, len);
	p6_down();
}

/* §7.1.1: "All included options have a length that is greater than zero." */
static void test_nd_ns_option_len_0_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[16] = {1, 1, 0, 0, 0, 0, 0, 0, 14, 0};
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ST6, 0, o, 16);
	sl_ip sn = solicited(&ST6);
	expect_ns_ignored(&PEER6, &sn, 255, m, len);
	p6_down();
}

/* §7.1.1: ICMP length (derived from the IP length) is 24 or more octets. 20 bytes: the target
 * is cut short. */
static void test_nd_ns_short_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64];
	mk_ns(m, &ST6, 0, NULL, 0);
	sl_ip sn = solicited(&ST6);
	send_icmp6(&PEER6, &sn, 255, m, 20);
	p6_run(3 * MS);
	assert_int_equal(find_na(0, NULL), -1);
	assert_int_equal(D(nd_bad) + D(icmp6_short), 1);
	p6_down();
}

/* §7.1.1: "Target Address is not a multicast address." ff02::1 is a group we are in. */
static void test_nd_ns_multicast_target_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[8] = {1, 1};
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ALL_NODES, 0, o, 8);
	sl_ip sn = solicited(&ST6);
	expect_ns_ignored(&PEER6, &sn, 255, m, len);
	p6_down();
}

/* §7.1.1: "If the IP source address is the unspecified address, ... there is no source
 * link-layer address option in the message." */
static void test_nd_ns_unspecified_with_slla_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[8] = {1, 1};
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ST6, 0, o, 8);
	sl_ip sn = solicited(&ST6);
	expect_ns_ignored(&UNSPEC6, &sn, 255, m, len);
	p6_down();
}

/* §7.1.1: "If the IP source address is the unspecified address, the IP destination address is
 * a solicited-node multicast address." */
static void test_nd_ns_unspecified_to_unicast_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64];
	size_t len = mk_ns(m, &ST6, 0, NULL, 0);
	expect_ns_ignored(&UNSPEC6, &ST6, 255, m, len);
	p6_down();
}

/* §7.2.3: an NS whose target is not one of our addresses is silently discarded. */
static void test_nd_ns_other_target_ignored(void **state)
{
	p6_up(NULL);
	sl_ip t = ip6("fd00::77");
	sl_ip sn = solicited(&t);
	send_ns(&PEER6, &sn, &t, X.peer->mac, 255);
	/* Also to our own solicited-node group, naming an address that is not ours. */
	sl_ip t2 = ip6("fd00::1:0:0:1");
	sl_ip sn2 = solicited(&t2);
	send_ns(&PEER6, &sn2, &t2, X.peer->mac, 255);
	p6_run(3 * MS);
	assert_int_equal(find_na(0, NULL), -1);
	assert_int_equal(D(nd_not_for_us), 1);
	p6_down();
}

/* --- address resolution (§7.2.2, §7.2.5) ----------------------------------------------------- */

static uint8_t payload[3][64];

static void write_three(const sl_ip *dst)
{
	struct sl_udp_write_opts o = {.src_port = 3000};
	for (unsigned k = 0; k < 3; k++) {
		memset(payload[k], 0x10 + k, sizeof payload[k]);
		assert_int_equal(sl_udp_write(X.st, &o, dst, 3001, payload[k], sizeof payload[k]),
				 0);
	}
}

/* Sending to an unknown on-link neighbour: an NS to its solicited-node group (33:33:ff + its
 * low 24 bits), hop limit 255, from our address, target it, with our MAC in an SLLA; the
 * datagrams wait; an NA with a TLLA releases them, in order, to the TLLA's address. */
static void test_nd_resolution_queues_and_releases(void **state)
{
	p6_up(NULL);
	write_three(&PEER6_B);
	p6_run(5 * MS);
	assert_int_equal(count_ns(0, &PEER6_B), 1);
	unsigned idx[8];
	assert_int_equal(find_udp(0, idx, 8), 0);
	struct v6 v = cap6((unsigned)find_ns(0, &PEER6_B));
	uint8_t mac[6] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x03};
	assert_memory_equal(v.eth, mac, 6);
	assert_memory_equal(v.eth + 6, X.dev->mac, 6);
	sl_ip sn = solicited(&PEER6_B);
	assert_true(ip_eq(&v.dst, &sn));
	assert_true(ip_eq(&v.src, &ST6));
	assert_int_equal(v.ip[7], 255);
	assert_int_equal(v.l4[1], 0);
	assert_true(ip_eqb(v.l4 + 8, &PEER6_B));
	const uint8_t *sl = nd_opt(v.l4, v.l4len, 24, 1);
	assert_non_null(sl);
	assert_int_equal(sl[1], 1);
	assert_memory_equal(sl + 2, X.dev->mac, 6);
	assert_int_equal(D(nd_ns_sent), 1);

	unsigned from = X.ncap;
	send_na(&PEER6_B, &ST6, NA_S | NA_O, &PEER6_B, MAC2, 255);
	p6_run(3 * MS);
	assert_int_equal(find_udp(from, idx, 8), 3);
	for (unsigned k = 0; k < 3; k++) {
		struct v6 u = cap6(idx[k]);
		assert_memory_equal(u.eth, MAC2, 6);
		assert_true(ip_eq(&u.dst, &PEER6_B));
		assert_int_equal(u.l4len, 8 + 64);
		assert_memory_equal(u.l4 + 8, payload[k], 64);
	}
	/* The entry is used from now on: the next datagram goes at once. */
	from = X.ncap;
	write_three(&PEER6_B);
	p6_run(2 * MS);
	assert_int_equal(find_udp(from, idx, 8), 3);
	assert_int_equal(count_ns(from, &PEER6_B), 0);
	p6_down();
}

/* §7.2.2: without an answer the NS is retransmitted every RetransTimer (1 s), at most
 * MAX_MULTICAST_SOLICIT (3) times; then resolution has failed and the datagrams are dropped. */
static void test_nd_resolution_gives_up_after_3(void **state)
{
	p6_up(NULL);
	write_three(&PEER6_B);
	p6_run_fast(6 * SEC);
	assert_int_equal(count_ns(0, &PEER6_B), 3);
	int a = find_ns(0, &PEER6_B);
	int b = find_ns((unsigned)a + 1, &PEER6_B);
	uint64_t gap = X.cap[b].t - X.cap[a].t;
	assert_true(gap >= 900 * MS && gap <= 1100 * MS);
	unsigned idx[8];
	assert_int_equal(find_udp(0, idx, 8), 0);
	/* A late NA does not bring them back. */
	send_na(&PEER6_B, &ST6, NA_S | NA_O, &PEER6_B, MAC2, 255);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 0);
	p6_down();
}

/* §7.2.5: an NA for which there is no neighbour cache entry is silently discarded: it creates
 * none, and a datagram to that address afterwards still needs resolution. */
static void test_nd_na_without_entry_not_created(void **state)
{
	p6_up(NULL);
	send_na(&PEER6_B, &ALL_NODES, NA_O, &PEER6_B, MAC2, 255);
	p6_run(3 * MS);
	assert_int_equal(X.ncap, 0);
	write_three(&PEER6_B);
	p6_run(5 * MS);
	unsigned idx[8];
	assert_int_equal(find_udp(0, idx, 8), 0);
	assert_int_equal(count_ns(0, &PEER6_B), 1);
	p6_down();
}

/* §7.2.5: an NA with the Override flag replaces the cached link-layer address; without it, a
 * different address is not taken (the entry only goes STALE). */
static void test_nd_na_override_rules(void **state)
{
	p6_up(NULL);
	unsigned idx[8];
	write_three(&PEER6); /* resolved through the auto NA: the peer's MAC */
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, X.peer->mac, 6);

	X.auto_na = false;
	send_na(&PEER6, &ALL_NODES, 0, &PEER6, MAC3, 255); /* O = 0: not taken */
	p6_run(3 * MS);
	unsigned from = X.ncap;
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(from, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, X.peer->mac, 6);

	send_na(&PEER6, &ALL_NODES, NA_O, &PEER6, MAC2, 255); /* O = 1: replaces it */
	p6_run(3 * MS);
	from = X.ncap;
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(from, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, MAC2, 6);
	p6_down();
}

/* §7.3.3 (and DESIGN.md: one neighbour cache, Linux's INCOMPLETE/REACHABLE/STALE/DELAY/PROBE):
 * an entry past its ReachableTime goes STALE; a packet sent on it goes at once to the
 * cached address (DELAY); with no confirmation within DELAY_FIRST_PROBE_TIME (5 s) the entry
 * goes to PROBE and the neighbour is probed with a unicast NS to the cached link-layer
 * address (not the solicited-node group). */
static void test_nd_nud_probe_is_unicast(void **state)
{
	p6_up(NULL);
	unsigned idx[8];
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	X.auto_na = false;
	/* Beyond ReachableTime: RFC 4861 §6.3.2 draws it from 15..45 s; the stack's ARP default
	 * is 60 s (stack.h). A STALE entry may be garbage-collected at some point, not the moment
	 * it goes STALE. */
	p6_run_fast(61 * SEC);
	unsigned from = X.ncap;
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(from, idx, 8), 3); /* STALE: sent at once */
	assert_memory_equal(cap6(idx[0]).eth, X.peer->mac, 6);
	p6_run_fast(7 * SEC);
	int i = find_ns(from, &PEER6);
	if (i < 0)
		dump_caps(from);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_memory_equal(v.eth, X.peer->mac, 6);
	assert_true(ip_eq(&v.dst, &PEER6));
	assert_int_equal(v.ip[7], 255);
	uint64_t dt = X.cap[i].t - X.cap[idx[0]].t;
	assert_true(dt >= 4900 * MS && dt <= 6 * SEC);
	p6_down();
}

/* §7.3.3 / Appendix C: a neighbour in use that stops confirming is probed in PROBE state with
 * unicast NS to the cached link-layer address, MAX_UNICAST_SOLICIT (3) of them RetransTimer
 * apart, and only then forgotten. Meanwhile datagrams keep going to the cached address. */
static void test_nd_nud_in_use_probes_unicast(void **state)
{
	p6_up(NULL);
	unsigned idx[8];
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	X.auto_na = false;
	unsigned from = X.ncap;
	for (unsigned s = 0; s < 80; s++) {
		uint8_t d[8] = {0};
		struct sl_udp_write_opts o = {.src_port = 3000};
		sl_udp_write(X.st, &o, &PEER6, 3001, d, sizeof d);
		p6_run_fast(1 * SEC);
	}
	unsigned n = 0, unicast = 0;
	for (int i = find_ns(from, &PEER6); i >= 0; i = find_ns((unsigned)i + 1, &PEER6)) {
		struct v6 v = cap6((unsigned)i);
		n++;
		if (ip_eq(&v.dst, &PEER6) && !memcmp(v.eth, X.peer->mac, 6))
			unicast++;
		else if (unicast < 3)
			print_message("probe %u at %.3f s went to the solicited-node group\n", n,
				      (double)X.cap[i].t / 1e9);
	}
	print_message("%u NS for the silent neighbour, %u of them unicast\n", n, unicast);
	assert_true(unicast >= 3);
	/* The first three probes are the unicast ones. */
	int i = find_ns(from, &PEER6);
	for (unsigned k = 0; k < 3 && i >= 0; k++, i = find_ns((unsigned)i + 1, &PEER6)) {
		struct v6 v = cap6((unsigned)i);
		assert_true(ip_eq(&v.dst, &PEER6));
	}
	p6_down();
}

/* §7.1.2: an NA to a multicast address with the Solicited flag set is invalid. */
static void test_nd_na_solicited_to_multicast_invalid(void **state)
{
	p6_up(NULL);
	write_three(&PEER6_B);
	p6_run(3 * MS);
	send_na(&PEER6_B, &ALL_NODES, NA_S | NA_O, &PEER6_B, MAC2, 255);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 1);
	unsigned idx[8];
	assert_int_equal(find_udp(0, idx, 8), 0);
	/* Hop limit not 255: invalid too. */
	send_na(&PEER6_B, &ST6, NA_S | NA_O, &PEER6_B, MAC2, 64);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 2);
	assert_int_equal(find_udp(0, idx, 8), 0);
	p6_down();
}

/* §7.2.3: an NS with an SLLA that differs from the cached address replaces it (the entry goes
 * STALE): the NA and what follows go to the new address. */
static void test_nd_ns_slla_updates_existing_entry(void **state)
{
	p6_up(NULL);
	unsigned idx[8];
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, X.peer->mac, 6);
	X.auto_na = false;
	unsigned from = X.ncap;
	sl_ip sn = solicited(&ST6);
	send_ns(&PEER6, &sn, &ST6, MAC2, 255);
	p6_run(3 * MS);
	struct v6 v = check_our_na(find_na(from, &ST6), true);
	assert_memory_equal(v.eth, MAC2, 6);
	from = X.ncap;
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(from, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, MAC2, 6);
	p6_down();
}

/* §7.2.5: for an INCOMPLETE entry the TLLA is recorded whatever the Override flag says: a
 * solicited NA with O = 0 completes resolution. */
static void test_nd_na_o_clear_completes_incomplete(void **state)
{
	p6_up(NULL);
	write_three(&PEER6_B);
	p6_run(3 * MS);
	send_na(&PEER6_B, &ST6, NA_S, &PEER6_B, MAC2, 255);
	p6_run(3 * MS);
	unsigned idx[8];
	assert_int_equal(find_udp(0, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, MAC2, 6);
	p6_down();
}

/* §7.2.5: an NA without a TLLA for an INCOMPLETE entry (on a link with addresses) is
 * discarded: the datagrams keep waiting, and a later NA with it releases them. */
static void test_nd_na_without_tlla_ignored_for_incomplete(void **state)
{
	p6_up(NULL);
	write_three(&PEER6_B);
	p6_run(3 * MS);
	send_na(&PEER6_B, &ST6, NA_S | NA_O, &PEER6_B, NULL, 255);
	p6_run(3 * MS);
	unsigned idx[8];
	assert_int_equal(find_udp(0, idx, 8), 0);
	send_na(&PEER6_B, &ST6, NA_S | NA_O, &PEER6_B, MAC2, 255);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	assert_memory_equal(cap6(idx[0]).eth, MAC2, 6);
	p6_down();
}

/* §7.2.5 II: an NA without a TLLA for a known entry "MUST update" it: with the Solicited flag
 * the entry is REACHABLE again, at the address it had (§7.2.4: the answer to a unicast NS may
 * omit the option). A neighbour in PROBE that answers the unicast probe so stays confirmed:
 * no further probes for the next 20 s (ReachableTime is 60 s), datagrams to its address. */
static void test_nd_na_without_tlla_confirms_known(void **state)
{
	p6_up(NULL);
	unsigned idx[64];
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	X.auto_na = false;
	p6_run_fast(61 * SEC); /* STALE */
	unsigned from = X.ncap;
	struct sl_udp_write_opts o = {.src_port = 3000};
	uint8_t d[8] = {0};
	int ns = -1;
	for (unsigned s = 0; s < 20 && ns < 0; s++) { /* DELAY, then PROBE: a unicast NS */
		sl_udp_write(X.st, &o, &PEER6, 3001, d, sizeof d);
		p6_run_fast(1 * SEC);
		ns = find_ns(from, &PEER6);
	}
	assert_true(ns >= 0);
	struct v6 probe = cap6((unsigned)ns);
	assert_true(ip_eq(&probe.dst, &PEER6));
	send_na(&PEER6, &ST6, NA_S, &PEER6, NULL, 255); /* solicited, no TLLA */
	p6_run(3 * MS);
	unsigned after = X.ncap;
	for (unsigned s = 0; s < 20; s++) {
		sl_udp_write(X.st, &o, &PEER6, 3001, d, sizeof d);
		p6_run_fast(1 * SEC);
	}
	if (find_ns(after, &PEER6) >= 0)
		dump_caps(after);
	assert_true(find_ns(after, &PEER6) < 0);
	unsigned n = find_udp(after, idx, 64);
	assert_int_equal(n, 20);
	for (unsigned k = 0; k < n; k++)
		assert_memory_equal(cap6(idx[k]).eth, X.peer->mac, 6);
	p6_down();
}

/* §7.1.1: an option whose length runs past the end of the message makes the NS invalid. */
static void test_nd_ns_option_overrun_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[8] = {1, 2}; /* says 16 bytes, 8 present */
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ST6, 0, o, 8);
	sl_ip sn = solicited(&ST6);
	expect_ns_ignored(&PEER6, &sn, 255, m, len);
	p6_down();
}

/* RFC 4861 §7.2.4 / §7.2.3: an NS for our address with a nonce-like unknown option (RFC 4861
 * §9: unknown options are ignored) is still answered. */
static void test_nd_ns_unknown_option_ignored(void **state)
{
	p6_up(NULL);
	uint8_t m[64], o[16] = {1, 1, 0, 0, 0, 0, 0, 0, 14, 1, 1, 2, 3, 4, 5, 6};
	memcpy(o + 2, X.peer->mac, 6);
	size_t len = mk_ns(m, &ST6, 0, o, 16);
	sl_ip sn = solicited(&ST6);
	send_icmp6(&PEER6, &sn, 255, m, len);
	p6_run(3 * MS);
	check_our_na(find_na(0, &ST6), true);
	p6_down();
}

/* --- Duplicate Address Detection (RFC 4862 §5.4) --------------------------------------------- */

/* A stack without addresses; the test adds ST6 at the current time. */
static void open_bare(void)
{
	struct sl_stack_config c;
	p6_config(&c);
	c.n_addrs = 0;
	p6_open(&c);
	p6_run(10 * MS);
	p6_clear();
	p6_snap();
	assert_int_equal(sl_ip_add_addr(X.st, &ST6, 64), 0);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EINPROGRESS);
}

/* §5.4.2: the DAD probe is an NS from the unspecified address to the tentative address's
 * solicited-node group (33:33:ff:00:00:01), hop limit 255, target the tentative address, and
 * (RFC 4861 §7.2.2, source unspecified) no SLLA option. */
static void test_dad_ns_from_unspecified(void **state)
{
	open_bare();
	uint64_t t_add = X.now;
	int i = -1;
	while (i < 0 && X.now < t_add + 1100 * MS) {
		p6_run(1 * MS);
		i = find_ns(0, &ST6);
	}
	if (i < 0)
		dump_caps(0);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_true(sl_ip_is_zero(&v.src));
	sl_ip sn = solicited(&ST6);
	assert_true(ip_eq(&v.dst, &sn));
	uint8_t mac[6] = {0x33, 0x33, 0xff, 0x00, 0x00, 0x01};
	assert_memory_equal(v.eth, mac, 6);
	assert_int_equal(v.ip[7], 255);
	assert_int_equal(v.l4[1], 0);
	assert_int_equal(get32(v.l4 + 4), 0);
	assert_true(ip_eqb(v.l4 + 8, &ST6));
	assert_null(nd_opt(v.l4, v.l4len, 24, 1));
	/* Tentative for RetransTimer (1 s) after its probe. */
	uint64_t t_ns = X.cap[i].t;
	if (X.now < t_ns + 900 * MS)
		p6_run(t_ns + 900 * MS - X.now);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EINPROGRESS);
	p6_run(600 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0);
	p6_down();
}

/* The addresses of the configuration go through DAD too: tentative right after open. */
static void test_dad_config_address_tentative(void **state)
{
	p6_open(NULL);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EINPROGRESS);
	p6_run(1100 * MS);
	assert_true(find_ns(0, &ST6) >= 0);
	p6_run_fast(2 * SEC);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0);
	p6_down();
}

/* §5.4 / RFC 4862 §2 "tentative address": packets to it are discarded (only ND for DAD is
 * accepted): no echo reply, no UDP delivery. */
static unsigned udp_got;
static void count_udp(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		      const uint8_t *data, size_t len)
{
	udp_got++;
}

static void test_dad_tentative_answers_nothing(void **state)
{
	open_bare();
	udp_got = 0;
	assert_int_equal(sl_udp_listen(X.st, 7000, count_udp, NULL), 0);
	p6_run(100 * MS);
	send_echo(&PEER6, &ST6, 1, 1, 8);
	uint8_t u[64];
	size_t ul = mk_udp6(u, &PEER6, &ST6, 4000, 7000, 1, 8);
	send6(&PEER6, &ST6, NH_UDP, 64, u, ul);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6(0, ICMP6_ECHO_REPLY), 0);
	assert_int_equal(udp_got, 0);
	assert_true(D(ipv6_tentative) >= 2);
	assert_int_equal(count_non_nd(0), 0);
	p6_down();
}

/* §5.4.3: an NS for the tentative address from a unicast source is address resolution by
 * another node: silently discarded (no NA), and not a conflict. */
static void test_dad_tentative_ignores_address_resolution_ns(void **state)
{
	open_bare();
	p6_run(100 * MS);
	sl_ip sn = solicited(&ST6);
	send_ns(&PEER6, &sn, &ST6, X.peer->mac, 255);
	p6_run(5 * MS);
	assert_int_equal(find_na(0, NULL), -1);
	p6_run_fast(2500 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0);
	p6_down();
}

/* §5.4.4: a valid NA for the tentative address: it is a duplicate and is not used. The NA
 * comes the way a node defending the address sends it (RFC 4861 §7.2.4, answer to our DAD
 * probe from ::): from the target address itself, to all-nodes. */
static void test_dad_na_conflict(void **state)
{
	open_bare();
	p6_run(200 * MS);
	send_na(&ST6, &ALL_NODES, NA_O, &ST6, MAC2, 255);
	p6_run(5 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EADDRINUSE);
	assert_true(D(nd_dad_conflict) >= 1);
	p6_run_fast(3 * SEC);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EADDRINUSE);
	/* Never usable: no echo answered, no NA for it. */
	unsigned from = X.ncap;
	send_echo(&PEER6, &ST6, 1, 2, 8);
	sl_ip sn = solicited(&ST6);
	send_ns(&PEER6, &sn, &ST6, X.peer->mac, 255);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6(from, ICMP6_ECHO_REPLY), 0);
	assert_int_equal(find_na(from, NULL), -1);
	p6_down();
}

/* The same NA from another source address (not how a defender answers, RFC 4861 §7.2.4 has it
 * send from the target address, but an NA all the same): a duplicate. */
static void test_dad_na_conflict_other_source(void **state)
{
	open_bare();
	p6_run(200 * MS);
	sl_ip other = ip6("fe80::99");
	send_na(&other, &ALL_NODES, NA_O, &ST6, MAC2, 255);
	p6_run(5 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EADDRINUSE);
	p6_down();
}

/* §5.4.3: an NS from the unspecified address for the tentative address: another node is doing
 * DAD for it at the same time: a duplicate. */
static void test_dad_ns_conflict(void **state)
{
	open_bare();
	p6_run(200 * MS);
	sl_ip sn = solicited(&ST6);
	send_ns(&UNSPEC6, &sn, &ST6, NULL, 255);
	p6_run(5 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EADDRINUSE);
	p6_run_fast(3 * SEC);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EADDRINUSE);
	p6_down();
}

/* RFC 4861 §7.1.2 applies during DAD: an NA for the tentative address with hop limit 64 is
 * invalid and is no conflict. */
static void test_dad_invalid_na_no_conflict(void **state)
{
	open_bare();
	p6_run(200 * MS);
	send_na(&ST6, &ALL_NODES, NA_O, &ST6, MAC2, 64);
	p6_run(5 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EINPROGRESS);
	p6_run_fast(2500 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0);
	p6_down();
}

/* §5.4: silence through DAD: usable, and it answers echo. Not before RetransTimer (1 s). */
static void test_dad_success_then_echo(void **state)
{
	open_bare();
	p6_run(900 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EINPROGRESS);
	p6_run_fast(1600 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0);
	unsigned from = X.ncap;
	send_echo(&PEER6, &ST6, 5, 6, 8);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6(from, ICMP6_ECHO_REPLY), 1);
	p6_down();
}

/* RFC 4862 §2 / RFC 6724 §4: a tentative address is not assigned: the stack does not send
 * from it while DAD runs. */
static void test_dad_tentative_not_used_as_source(void **state)
{
	open_bare();
	p6_run(50 * MS);
	uint8_t d[16] = {0};
	struct sl_udp_write_opts o = {.src_port = 3000};
	int r = sl_udp_write(X.st, &o, &PEER6, 3001, d, sizeof d);
	(void)r;
	p6_run(500 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -EINPROGRESS);
	unsigned idx[4];
	unsigned n = find_udp(0, idx, 4);
	for (unsigned k = 0; k < n && k < 4; k++) {
		struct v6 v = cap6(idx[k]);
		assert_false(ip_eq(&v.src, &ST6));
	}
	/* Nor as the source of an NS for address resolution (§7.2.2 allows another of ours, or
	 * none: a tentative one is not ours yet). */
	for (int i = find_ns(0, &PEER6); i >= 0; i = find_ns((unsigned)i + 1, &PEER6)) {
		struct v6 v = cap6((unsigned)i);
		assert_false(ip_eq(&v.src, &ST6));
	}
	p6_down();
}

/* RFC 4861 §7.2.6: if the stack announces a new address once DAD is over, the unsolicited NA
 * goes to all-nodes with S = 0, hop limit 255, and our MAC. */
static void test_dad_completion_na_valid(void **state)
{
	open_bare();
	p6_run_fast(2500 * MS);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0);
	int i = find_na(0, &ST6);
	if (i >= 0) {
		struct v6 v = check_our_na(i, false);
		assert_true(ip_eq(&v.dst, &ALL_NODES));
	}
	p6_down();
}

/* ip.h: what sl_ip_add_addr refuses, and what sl_ip_addr_state says of strangers. */
static void test_nd_add_addr_api(void **state)
{
	open_bare();
	assert_int_equal(sl_ip_add_addr(X.st, &ST6, 64), -EEXIST);
	sl_ip mc = ip6("ff02::1"), lo = ip6("::1");
	assert_int_equal(sl_ip_add_addr(X.st, &mc, 64), -EINVAL);
	assert_int_equal(sl_ip_add_addr(X.st, &lo, 128), -EINVAL);
	assert_int_equal(sl_ip_add_addr(X.st, &UNSPEC6, 64), -EINVAL);
	assert_int_equal(sl_ip_addr_state(X.st, &PEER6), -ENOENT);
	/* Removing a tentative address ends its DAD: no state, nothing answered for it. */
	assert_int_equal(sl_ip_del_addr(X.st, &ST6), 0);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -ENOENT);
	p6_run_fast(2 * SEC);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), -ENOENT);
	unsigned from = X.ncap;
	send_echo(&PEER6, &ST6, 1, 1, 8);
	sl_ip sn = solicited(&ST6);
	send_ns(&PEER6, &sn, &ST6, X.peer->mac, 255);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, from);
	p6_down();
}

/* RFC 4861 §7.2.4: after DAD, an NS from the unspecified address (another node's DAD probe)
 * for our address is answered with an NA to all-nodes (ff02::1, 33:33:00:00:00:01) with
 * S = 0. */
static void test_nd_dad_probe_answered_to_all_nodes(void **state)
{
	p6_up(NULL);
	sl_ip sn = solicited(&ST6);
	send_ns(&UNSPEC6, &sn, &ST6, NULL, 255);
	p6_run(3 * MS);
	struct v6 v = check_our_na(find_na(0, &ST6), false);
	assert_true(ip_eq(&v.dst, &ALL_NODES));
	uint8_t mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	assert_memory_equal(v.eth, mac, 6);
	assert_int_equal(sl_ip_addr_state(X.st, &ST6), 0); /* we keep it */
	p6_down();
}

/* --- router advertisements and redirects (§6.1.2, §8.1) ------------------------------------- */

static size_t mk_ra(uint8_t *m, uint8_t cur_hlim)
{
	memset(m, 0, 16);
	m[0] = ND_RA;
	m[4] = cur_hlim;
	put16(m + 6, 1800); /* router lifetime */
	put32(m + 8, 30000);
	put32(m + 12, 1000);
	return 16;
}

/* An RA with hop limit ≠ 255 fails validation (nd_bad); a valid one is ignored (the stack's
 * addresses and routes are configured), counted in nd_ra_ignored, answered with nothing, and
 * its Cur Hop Limit is not taken. */
static void test_nd_ra_validation_and_ignored(void **state)
{
	p6_up(NULL);
	sl_ip router = ip6("fe80::9");
	uint8_t m[64];
	size_t len = mk_ra(m, 7);
	send_icmp6(&router, &ALL_NODES, 64, m, len);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 1);
	assert_int_equal(D(nd_ra_ignored), 0);
	len = mk_ra(m, 7);
	send_icmp6(&router, &ALL_NODES, 255, m, len);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 1);
	assert_int_equal(D(nd_ra_ignored), 1);
	assert_int_equal(count_non_nd(0), 0);
	/* §6.1.2: the source of an RA must be link-local. */
	sl_ip global = ip6("fd00::9");
	len = mk_ra(m, 7);
	send_icmp6(&global, &ALL_NODES, 255, m, len);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 2);
	send_echo(&PEER6, &ST6, 1, 9, 8);
	p6_run(3 * MS);
	int i = find_icmp6(0, ICMP6_ECHO_REPLY, 0);
	assert_true(i >= 0);
	assert_int_not_equal(cap6((unsigned)i).ip[7], 7);
	p6_down();
}

static size_t mk_redirect(uint8_t *m, const sl_ip *target, const sl_ip *dest)
{
	memset(m, 0, 40);
	m[0] = ND_REDIRECT;
	memcpy(m + 8, target->b, 16);
	memcpy(m + 24, dest->b, 16);
	return 40;
}

/* §8.1: a redirect with hop limit ≠ 255 is invalid (nd_bad); a valid one is ignored
 * (nd_redirect_ignored): traffic to its destination keeps its path. */
static void test_nd_redirect_validation_and_ignored(void **state)
{
	p6_up(NULL);
	sl_ip router = ip6("fe80::9"), target = ip6("fe80::aa"), dest = ip6("fd00::2");
	uint8_t m[64];
	size_t len = mk_redirect(m, &target, &dest);
	send_icmp6(&router, &ST6, 64, m, len);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 1);
	assert_int_equal(D(nd_redirect_ignored), 0);
	len = mk_redirect(m, &target, &dest);
	send_icmp6(&router, &ST6, 255, m, len);
	p6_run(3 * MS);
	assert_int_equal(D(nd_bad), 1);
	assert_int_equal(D(nd_redirect_ignored), 1);
	assert_int_equal(X.ncap, 0);
	unsigned idx[8];
	write_three(&PEER6);
	p6_run(3 * MS);
	assert_int_equal(find_udp(0, idx, 8), 3);
	struct v6 v = cap6(idx[0]);
	assert_true(ip_eq(&v.dst, &PEER6));
	assert_int_equal(count_ns(0, &target), 0);
	p6_down();
}

#define T6(t) cmocka_unit_test_teardown(t, p6_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T6(test_nd_ns_answered),
	    T6(test_nd_na_checksum_valid),
	    T6(test_nd_ns_slla_used_for_answer),
	    T6(test_nd_ns_hop_limit_not_255_ignored),
	    T6(test_nd_ns_code_not_0_ignored),
	    T6(test_nd_ns_option_len_0_ignored),
	    T6(test_nd_ns_short_ignored),
	    T6(test_nd_ns_multicast_target_ignored),
	    T6(test_nd_ns_unspecified_with_slla_ignored),
	    T6(test_nd_ns_unspecified_to_unicast_ignored),
	    T6(test_nd_ns_other_target_ignored),
	    T6(test_nd_resolution_queues_and_releases),
	    T6(test_nd_resolution_gives_up_after_3),
	    T6(test_nd_na_without_entry_not_created),
	    T6(test_nd_na_override_rules),
	    T6(test_nd_nud_probe_is_unicast),
	    T6(test_nd_nud_in_use_probes_unicast),
	    T6(test_nd_na_solicited_to_multicast_invalid),
	    T6(test_nd_ns_slla_updates_existing_entry),
	    T6(test_nd_na_o_clear_completes_incomplete),
	    T6(test_nd_na_without_tlla_ignored_for_incomplete),
	    T6(test_nd_na_without_tlla_confirms_known),
	    T6(test_nd_ns_option_overrun_ignored),
	    T6(test_nd_ns_unknown_option_ignored),
	    T6(test_dad_ns_from_unspecified),
	    T6(test_dad_config_address_tentative),
	    T6(test_dad_tentative_answers_nothing),
	    T6(test_dad_tentative_ignores_address_resolution_ns),
	    T6(test_dad_na_conflict),
	    T6(test_dad_na_conflict_other_source),
	    T6(test_dad_ns_conflict),
	    T6(test_dad_invalid_na_no_conflict),
	    T6(test_dad_success_then_echo),
	    T6(test_dad_tentative_not_used_as_source),
	    T6(test_dad_completion_na_valid),
	    T6(test_nd_add_addr_api),
	    T6(test_nd_dad_probe_answered_to_all_nodes),
	    T6(test_nd_ra_validation_and_ignored),
	    T6(test_nd_redirect_validation_and_ignored),
	};
	return cmocka_run_group_tests_name("nd", tests, NULL, NULL);
}
