/*
 * IPv6 input and output (RFC 8200), ICMPv6 (RFC 4443), Path MTU Discovery (RFC 8201), UDP and
 * TCP over IPv6, against a scripted peer (tests/unit/peer6.h) that crafts every frame by hand
 * and checks every frame the stack sends (IPv6 header, upper-layer checksum). Written from the
 * RFCs, not from user/proto/ipv6.c: each test cites the rule it checks.
 *
 * The stack is fd00::1/64 (DAD waited out), the peer fd00::2 (it answers the stack's
 * Neighbor Solicitations). Time is simulated.
 */
#include "unit/peer6.h"

#define PORT 9999

/* --- what a datagram the stack received looked like ---------------------------------------- */

struct urec {
	unsigned count;
	struct sl_udp_meta m;
	size_t len;
	uint8_t data[65536];
	unsigned errs;
	int err;
	struct sl_udp_meta em;
};
static struct urec U;

static void on_udp(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		   size_t len)
{
	struct urec *r = arg;
	r->count++;
	r->m = *m;
	r->len = len;
	memcpy(r->data, data, len);
}

static void on_udp_err(void *arg, struct sl_stack *st, int err, const struct sl_udp_meta *m)
{
	struct urec *r = arg;
	r->errs++;
	r->err = err;
	r->em = *m;
}

static void up(void)
{
	p6_up(NULL);
	memset(&U, 0, sizeof U);
}

/* --- echo helpers ---------------------------------------------------------------------------- */

/* The index of the stack's echo reply with this seq from index from on, or -1. */
static int find_reply(unsigned from, uint16_t seq)
{
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (!v6_parse(X.cap[i].b, X.cap[i].len, &v))
			continue;
		if (is_icmp6(&v, ICMP6_ECHO_REPLY) && v.l4len >= 8 && get16(v.l4 + 6) == seq)
			return (int)i;
	}
	return -1;
}

/* The echo reply to seq arrived, from our unicast address to the peer, with the request's id,
 * seq and n data bytes. */
static void expect_reply(unsigned from, uint16_t id, uint16_t seq, size_t n)
{
	int i = find_reply(from, seq);
	if (i < 0) {
		print_message("no echo reply to seq %u; captured:\n", seq);
		dump_caps(from);
	}
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.l4[1], 0);
	assert_int_equal(get16(v.l4 + 4), id);
	assert_int_equal(v.l4len, 8 + n);
	for (size_t k = 0; k < n; k++)
		if (v.l4[8 + k] != pat6(seq, k)) {
			print_message("echo reply data differs at byte %zu\n", k);
			fail();
		}
	assert_true(ip_eq(&v.src, &ST6));
	assert_true(ip_eq(&v.dst, &PEER6));
}

static void expect_no_reply(unsigned from, uint16_t seq)
{
	int i = find_reply(from, seq);
	if (i >= 0) {
		print_message("unexpected echo reply to seq %u\n", seq);
		dump_caps(from);
	}
	assert_int_equal(i, -1);
}

/* A Parameter Problem (RFC 4443 §3.4) from our address to the peer with this code and pointer,
 * quoting the start of the packet the peer sent last. */
static void expect_pp(unsigned from, uint8_t code, uint32_t pointer)
{
	int i = find_icmp6(from, ICMP6_PARAM_PROB, -1);
	if (i < 0) {
		print_message("no Parameter Problem (wanted code %u pointer %u); captured:\n", code,
			      pointer);
		dump_caps(from);
	}
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	if (v.l4[1] != code || get32(v.l4 + 4) != pointer)
		print_message("Parameter Problem code %u pointer %u, wanted code %u pointer %u\n",
			      v.l4[1], get32(v.l4 + 4), code, pointer);
	assert_int_equal(v.l4[1], code);
	assert_int_equal(get32(v.l4 + 4), pointer);
	assert_true(ip_eq(&v.src, &ST6));
	assert_true(ip_eq(&v.dst, &PEER6));
	/* §3.4: "As much of invoking packet as possible without the ICMPv6 packet exceeding the
	 * minimum IPv6 MTU". */
	size_t q = X.sent_len - 14;
	if (q > 1280 - 48)
		q = 1280 - 48;
	assert_int_equal(v.l4len, 8 + q);
	assert_memory_equal(v.l4 + 8, X.sent + 14, q);
}

static void expect_no_pp(unsigned from)
{
	int i = find_icmp6(from, ICMP6_PARAM_PROB, -1);
	if (i >= 0) {
		struct v6 v = cap6((unsigned)i);
		print_message("unexpected Parameter Problem code %u pointer %u\n", v.l4[1],
			      get32(v.l4 + 4));
	}
	assert_int_equal(i, -1);
}

/* An echo request behind extension headers ext (chain starting with first_nh; its last
 * header names ICMPv6) from the peer to dst. */
static void echo_ext(const sl_ip *dst, uint16_t seq, uint8_t first_nh, const uint8_t *ext,
		     size_t elen)
{
	uint8_t m[256];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 0x77, seq, 16);
	send_icmp6_ext(&PEER6, dst, 64, first_nh, ext, elen, m, len);
}

/* An 8-byte options header (hop-by-hop or destination options) naming nh, holding one option
 * of type t with 4 data bytes (2 + 2 + 4 = 8). */
static void opt_hdr(uint8_t *h, uint8_t nh, uint8_t t)
{
	memset(h, 0, 8);
	h[0] = nh;
	h[1] = 0;
	h[2] = t;
	h[3] = 4;
}

/* --- the fixed header (RFC 8200 §3) ----------------------------------------------------------- */

/* A well-formed echo is answered (the control for the drop tests below). */
static void test_ipv6_echo_control(void **state)
{
	up();
	send_echo(&PEER6, &ST6, 0x1234, 1, 32);
	p6_run(5 * MS);
	expect_reply(0, 0x1234, 1, 32);
	p6_down();
}

/* §3: version 6 only. An IPv6 EtherType frame with version 4 in it is dropped. */
static void test_ipv6_bad_version_dropped(void **state)
{
	up();
	uint8_t fr[P6_FRAME], m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 2, 16);
	put16(m + 2, l4_csum6(&PEER6, &ST6, NH_ICMP6, m, len));
	hdr6(fr, &PEER6, &ST6, NH_ICMP6, 64, len);
	fr[14] = 0x40;
	memcpy(fr + 54, m, len);
	peer_send_raw(fr, 54 + len);
	p6_run(5 * MS);
	expect_no_reply(0, 2);
	assert_int_equal(D(ipv6_bad_version), 1);
	assert_int_equal(D(ipv6_rx), 0);
	p6_down();
}

/* §3: Payload Length counts the bytes after the header; beyond the frame: dropped. */
static void test_ipv6_plen_beyond_frame_dropped(void **state)
{
	up();
	uint8_t fr[P6_FRAME], m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 3, 16);
	put16(m + 2, l4_csum6(&PEER6, &ST6, NH_ICMP6, m, len));
	hdr6(fr, &PEER6, &ST6, NH_ICMP6, 64, len + 8);
	memcpy(fr + 54, m, len);
	peer_send_raw(fr, 54 + len);
	p6_run(5 * MS);
	expect_no_reply(0, 3);
	assert_int_equal(D(ipv6_bad_len), 1);
	p6_down();
}

/* §3 and RFC 2675: Payload Length 0 means a jumbogram, valid only with a Jumbo Payload
 * hop-by-hop option; here an ICMPv6 header follows but the length says nothing does. */
static void test_ipv6_plen_zero_dropped(void **state)
{
	up();
	uint8_t fr[P6_FRAME], m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 4, 16);
	put16(m + 2, l4_csum6(&PEER6, &ST6, NH_ICMP6, m, len));
	hdr6(fr, &PEER6, &ST6, NH_ICMP6, 64, 0);
	memcpy(fr + 54, m, len);
	peer_send_raw(fr, 54 + len);
	p6_run(5 * MS);
	expect_no_reply(0, 4);
	assert_int_equal(D(icmp6_echo_replies), 0);
	uint64_t drops = 0;
	for (unsigned i = 0; i < SL_STAT_N; i++)
		if (sl_stat_is_drop(i))
			drops += sl_stack_stats(X.st)->c[i] - X.base.c[i];
	assert_true(drops >= 1);
	p6_down();
}

/* Bytes after the Payload Length (Ethernet padding, trailers) are not part of the packet: the
 * echo is answered with exactly its own data. */
static void test_ipv6_eth_padding_ignored(void **state)
{
	up();
	uint8_t fr[P6_FRAME], m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 9, 5, 4);
	put16(m + 2, l4_csum6(&PEER6, &ST6, NH_ICMP6, m, len));
	hdr6(fr, &PEER6, &ST6, NH_ICMP6, 64, len);
	memcpy(fr + 54, m, len);
	memset(fr + 54 + len, 0xa5, 24);
	peer_send_raw(fr, 54 + len + 24);
	p6_run(5 * MS);
	expect_reply(0, 9, 5, 4);
	assert_int_equal(D(icmp6_bad_csum), 0);
	p6_down();
}

/* A destination that is neither ours nor a group we are in: dropped (a host does not
 * forward, RFC 8200 §1 "node"/"host"). */
static void test_ipv6_dst_not_ours_dropped(void **state)
{
	up();
	sl_ip other = ip6("fd00::99");
	send_echo(&PEER6, &other, 1, 6, 8);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	assert_int_equal(D(ipv6_not_for_us), 1);
	/* A group we did not join (all-routers, ff02::2, RFC 4291 §2.7.1: hosts are not in it). */
	sl_ip routers = ip6("ff02::2");
	send_echo(&PEER6, &routers, 1, 7, 8);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	p6_down();
}

/* RFC 4291 §2.7: multicast addresses must not be used as source addresses. */
static void test_ipv6_src_multicast_dropped(void **state)
{
	up();
	sl_ip src = ip6("ff02::1");
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 8, 8);
	send_icmp6(&src, &ST6, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	assert_int_equal(D(ipv6_bad_src), 1);
	p6_down();
}

/* --- extension headers (RFC 8200 §4) -----------------------------------------------------------
 */

/* §4.3: a hop-by-hop header right after the IPv6 header is processed (PadN), then the echo. */
static void test_ipv6_hbh_first_accepted(void **state)
{
	up();
	uint8_t h[8] = {NH_ICMP6, 0, 1, 4, 0, 0, 0, 0}; /* PadN of 4 */
	echo_ext(&ST6, 10, NH_HOP, h, 8);
	p6_run(5 * MS);
	int i = find_reply(0, 10);
	assert_true(i >= 0);
	p6_down();
}

/* §4.1: the hop-by-hop header is restricted to appear immediately after the IPv6 header; a
 * hop-by-hop header elsewhere (here behind a destination options header) is answered with
 * Parameter Problem code 1 (unrecognized Next Header) pointing at the Next Header field that
 * named it: the destination options header's first byte, offset 40 (§4, the pointer is
 * relative to the start of the invoking packet). */
static void test_ipv6_hbh_not_first_param_problem(void **state)
{
	up();
	uint8_t h[16] = {NH_HOP, 0, 1, 4, 0, 0, 0, 0, NH_ICMP6, 0, 1, 4, 0, 0, 0, 0};
	echo_ext(&ST6, 11, NH_DST, h, 16);
	p6_run(5 * MS);
	expect_no_reply(0, 11);
	expect_pp(0, 1, 40);
	p6_down();
}

/* §4.2: unknown option types, action by the two high-order bits. 00: skip over the option and
 * continue processing the header: the echo behind it is answered. RFC 4727 reserves 0x1e,
 * 0x5e, 0x9e, 0xde for experiments: nobody implements them. Both option headers. */
static void test_ipv6_opt_unknown_00_skipped(void **state)
{
	up();
	uint8_t h[8];
	opt_hdr(h, NH_ICMP6, 0x1e);
	echo_ext(&ST6, 12, NH_DST, h, 8);
	opt_hdr(h, NH_ICMP6, 0x1e);
	echo_ext(&ST6, 13, NH_HOP, h, 8);
	p6_run(5 * MS);
	expect_reply(0, 0x77, 12, 16);
	expect_reply(0, 0x77, 13, 16);
	expect_no_pp(0);
	p6_down();
}

/* §4.2 01: discard the packet, send nothing. */
static void test_ipv6_opt_unknown_01_discarded(void **state)
{
	up();
	uint8_t h[8];
	opt_hdr(h, NH_ICMP6, 0x5e);
	echo_ext(&ST6, 14, NH_DST, h, 8);
	opt_hdr(h, NH_ICMP6, 0x5e);
	echo_ext(&ST6, 15, NH_HOP, h, 8);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	assert_int_equal(D(ipv6_unknown_opt), 2);
	p6_down();
}

/* §4.2 10: discard, and send Parameter Problem code 2 pointing at the option type, whether or
 * not the destination was multicast. The option sits at offset 40 + 2. */
static void test_ipv6_opt_unknown_10_param_problem(void **state)
{
	up();
	uint8_t h[8];
	opt_hdr(h, NH_ICMP6, 0x9e);
	echo_ext(&ST6, 16, NH_DST, h, 8);
	p6_run(5 * MS);
	expect_no_reply(0, 16);
	expect_pp(0, 2, 42);
	/* To the all-nodes group: still answered (RFC 4443 §2.4 (e.3) exception), from our
	 * unicast address (expect_pp checks the source). */
	unsigned from = X.ncap;
	opt_hdr(h, NH_ICMP6, 0x9e);
	echo_ext(&ALL_NODES, 17, NH_DST, h, 8);
	p6_run(5 * MS);
	expect_no_reply(from, 17);
	expect_pp(from, 2, 42);
	/* In a hop-by-hop header too. */
	from = X.ncap;
	opt_hdr(h, NH_ICMP6, 0x9e);
	echo_ext(&ST6, 18, NH_HOP, h, 8);
	p6_run(5 * MS);
	expect_pp(from, 2, 42);
	p6_down();
}

/* §4.2 11: discard; Parameter Problem code 2 only if the destination was not multicast. */
static void test_ipv6_opt_unknown_11_unicast_only(void **state)
{
	up();
	uint8_t h[8];
	opt_hdr(h, NH_ICMP6, 0xde);
	echo_ext(&ST6, 19, NH_DST, h, 8);
	p6_run(5 * MS);
	expect_no_reply(0, 19);
	expect_pp(0, 2, 42);
	unsigned from = X.ncap;
	opt_hdr(h, NH_ICMP6, 0xde);
	echo_ext(&ALL_NODES, 20, NH_DST, h, 8);
	p6_run(5 * MS);
	expect_no_reply(from, 20);
	expect_no_pp(from);
	assert_int_equal(X.ncap, from);
	p6_down();
}

/* The pointer names the unknown option even when it is not the first one: PadN (4 bytes)
 * first, then the 10-type option at offset 40 + 2 + 4. */
static void test_ipv6_opt_unknown_pointer_second_option(void **state)
{
	up();
	uint8_t h[16] = {NH_ICMP6, 1, 1, 2, 0, 0, 0x9e, 6, 0, 0, 0, 0, 0, 0, 0, 0};
	echo_ext(&ST6, 21, NH_DST, h, 16);
	p6_run(5 * MS);
	expect_no_reply(0, 21);
	expect_pp(0, 2, 46);
	p6_down();
}

/* §4.2: Pad1 (a single zero byte) and PadN are padding; a header of them is accepted. */
static void test_ipv6_pad1_padn_accepted(void **state)
{
	up();
	uint8_t h1[8] = {NH_ICMP6, 0, 0, 0, 1, 2, 0, 0}; /* Pad1 Pad1 PadN(2) */
	uint8_t h2[16] = {NH_ICMP6, 1, 0, 1, 11, 0};	 /* Pad1 PadN(11): 2 + 1 + 13 = 16 */
	uint8_t h3[8] = {NH_ICMP6, 0, 0, 0, 0, 0, 0, 0}; /* six Pad1 */
	echo_ext(&ST6, 22, NH_DST, h1, 8);
	echo_ext(&ST6, 23, NH_DST, h2, 16);
	echo_ext(&ST6, 24, NH_HOP, h3, 8);
	p6_run(5 * MS);
	expect_reply(0, 0x77, 22, 16);
	expect_reply(0, 0x77, 23, 16);
	expect_reply(0, 0x77, 24, 16);
	p6_down();
}

/* An option whose length runs past the end of its header: the header is malformed, and the
 * packet is not processed (no echo reply). */
static void test_ipv6_opt_overrun_dropped(void **state)
{
	up();
	uint8_t h[8] = {NH_ICMP6, 0, 1, 7, 0, 0, 0, 0}; /* PadN claiming 7 of 6 bytes */
	echo_ext(&ST6, 25, NH_DST, h, 8);
	p6_run(5 * MS);
	expect_no_reply(0, 25);
	p6_down();
}

/* An extension header whose length runs past the packet: dropped, no crash. */
static void test_ipv6_ext_len_past_packet_dropped(void **state)
{
	up();
	uint8_t h[8] = {NH_ICMP6, 5, 1, 4, 0, 0, 0, 0}; /* says 48 bytes */
	echo_ext(&ST6, 26, NH_DST, h, 8);
	p6_run(5 * MS);
	expect_no_reply(0, 26);
	assert_true(D(ipv6_bad_hdr) >= 1 || D(ipv6_bad_len) >= 1);
	p6_down();
}

/* A routing header: Next Header, Hdr Ext Len, Routing Type, Segments Left, 4 reserved, then
 * (type 0) addresses. */
static size_t routing_hdr(uint8_t *h, uint8_t type, uint8_t segs_left, unsigned naddr)
{
	memset(h, 0, 8 + 16 * naddr);
	h[0] = NH_ICMP6;
	h[1] = (uint8_t)(2 * naddr);
	h[2] = type;
	h[3] = segs_left;
	for (unsigned k = 0; k < naddr; k++) {
		sl_ip a = ip6("fd00::77");
		memcpy(h + 8 + 16 * k, a.b, 16);
	}
	return 8 + 16 * naddr;
}

/* RFC 5095 §3 (deprecating RH0) with RFC 8200 §4.4: type 0 is an unrecognized routing type;
 * with Segments Left non-zero the packet is discarded and Parameter Problem code 0 points at
 * the Routing Type field (the routing header's offset + 2). */
static void test_ipv6_rh0_segments_left_param_problem(void **state)
{
	up();
	uint8_t h[64];
	size_t n = routing_hdr(h, 0, 1, 1);
	echo_ext(&ST6, 27, NH_ROUTING, h, n);
	p6_run(5 * MS);
	expect_no_reply(0, 27);
	expect_pp(0, 0, 42);
	p6_down();
}

/* §4.4: Segments Left 0 with an unrecognized type: ignore the header and go on. */
static void test_ipv6_rh0_segments_left_zero_ignored(void **state)
{
	up();
	uint8_t h[64];
	size_t n = routing_hdr(h, 0, 0, 1);
	echo_ext(&ST6, 28, NH_ROUTING, h, n);
	p6_run(5 * MS);
	expect_reply(0, 0x77, 28, 16);
	expect_no_pp(0);
	p6_down();
}

/* The same for another unrecognized type (253, RFC 4727 experimental), behind a
 * destination options header: the pointer is the routing header's offset (48) + 2. */
static void test_ipv6_routing_unknown_type_param_problem(void **state)
{
	up();
	uint8_t h[80];
	memset(h, 0, 8);
	h[0] = NH_ROUTING, h[2] = 1, h[3] = 4; /* destination options: PadN(4) */
	size_t n = routing_hdr(h + 8, 253, 1, 1);
	echo_ext(&ST6, 29, NH_DST, h, 8 + n);
	p6_run(5 * MS);
	expect_no_reply(0, 29);
	expect_pp(0, 0, 50);
	unsigned from = X.ncap;
	n = routing_hdr(h + 8, 253, 0, 1);
	echo_ext(&ST6, 30, NH_DST, h, 8 + n);
	p6_run(5 * MS);
	expect_reply(from, 0x77, 30, 16);
	p6_down();
}

/* §4: an unrecognized Next Header value: discard, Parameter Problem code 1 pointing at the
 * field that holds the value (byte 6 of the IPv6 header, or the naming extension header's
 * first byte). 253 is RFC 3692 experimental. */
static void test_ipv6_unknown_next_header_param_problem(void **state)
{
	up();
	uint8_t body[32] = {0};
	send6(&PEER6, &ST6, 253, 64, body, 16);
	p6_run(5 * MS);
	expect_pp(0, 1, 6);
	assert_int_equal(D(ipv6_unknown_proto), 1);
	unsigned from = X.ncap;
	uint8_t h[24] = {253, 0, 1, 4, 0, 0, 0, 0};
	send6(&PEER6, &ST6, NH_DST, 64, h, 24);
	p6_run(5 * MS);
	expect_pp(from, 1, 40);
	p6_down();
}

/* §4.7: Next Header 59 (No Next Header): nothing follows; nothing is sent back. */
static void test_ipv6_no_next_header_silent(void **state)
{
	up();
	uint8_t body[16] = {0};
	send6(&PEER6, &ST6, NH_NONE, 64, body, 16);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	p6_down();
}

/* --- fragments (RFC 8200 §4.5) --------------------------------------------------------------- */

/* One fragment from src to dst: the fragment header (next header nh, offset off bytes, M,
 * id), then data[0..len) of the fragmentable part; ext[0..elen) unfragmentable headers
 * before it (their chain starting at first_nh ending in 44). */
static void send_frag(const sl_ip *src, const sl_ip *dst, uint8_t nh, uint32_t id, unsigned off,
		      bool mf, const uint8_t *data, size_t len)
{
	uint8_t body[P6_FRAME];
	assert_true(8 + len <= sizeof body);
	body[0] = nh;
	body[1] = 0;
	put16(body + 2, (uint16_t)((off & 0xfff8) | (mf ? 1 : 0)));
	put32(body + 4, id);
	memcpy(body + 8, data, len);
	send6(src, dst, NH_FRAG, 64, body, 8 + len);
}

/* An echo request of n data bytes with its checksum, for fragmenting. */
static size_t echo_for_frags(uint8_t *m, uint16_t seq, size_t n, const sl_ip *dst)
{
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 0x55, seq, n);
	put16(m + 2, l4_csum6(&PEER6, dst, NH_ICMP6, m, len));
	return len;
}

static uint8_t big[70000];

/* Three fragments, in the order 3, 1, 2: reassembled, the echo is answered with every byte. */
static void test_ipv6_frag_reasm_out_of_order(void **state)
{
	up();
	size_t len = echo_for_frags(big, 40, 1200, &ST6); /* 1208 = 400 + 400 + 408 */
	send_frag(&PEER6, &ST6, NH_ICMP6, 0xabc1, 800, false, big + 800, len - 800);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0xabc1, 0, true, big, 400);
	p6_run(2 * MS);
	expect_no_reply(0, 40);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0xabc1, 400, true, big + 400, 400);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 40, 1200);
	assert_int_equal(D(ipv6_reasm_ok), 1);
	assert_int_equal(D(ipv6_frags_rx), 3);
	p6_down();
}

/* Two fragments, second first; and a datagram whose reply itself needs fragments (a 3000-byte
 * echo): the reply leaves in fragments that reassemble to the right reply. */
static void test_ipv6_frag_reasm_two_and_big_reply(void **state)
{
	up();
	size_t len = echo_for_frags(big, 41, 100, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 7, 56, false, big + 56, len - 56);
	send_frag(&PEER6, &ST6, NH_ICMP6, 7, 0, true, big, 56);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 41, 100);

	unsigned from = X.ncap;
	len = echo_for_frags(big, 42, 3000, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 8, 2896, false, big + 2896, len - 2896);
	send_frag(&PEER6, &ST6, NH_ICMP6, 8, 0, true, big, 1448);
	send_frag(&PEER6, &ST6, NH_ICMP6, 8, 1448, true, big + 1448, 1448);
	p6_run(5 * MS);
	uint32_t id = 0;
	bool found = false;
	for (unsigned i = from; i < X.ncap; i++) {
		struct v6 v = cap6(i);
		if (v.frag) {
			id = v.frag_id;
			found = true;
			assert_true(X.cap[i].len <= 1514);
		}
	}
	assert_true(found);
	static uint8_t r[70000];
	uint8_t proto = 0;
	size_t rl = reasm6(from, id, r, sizeof r, &proto);
	assert_int_equal(rl, 8 + 3000);
	assert_int_equal(proto, NH_ICMP6);
	assert_int_equal(r[0], ICMP6_ECHO_REPLY);
	assert_int_equal(get16(r + 6), 42);
	assert_true(l4_csum6_ok(&ST6, &PEER6, NH_ICMP6, r, rl));
	for (size_t k = 0; k < 3000; k++)
		assert_int_equal(r[8 + k], pat6(42, k));
	p6_down();
}

/* RFC 5722 §4: overlapping fragments: the whole datagram (and its fragments still to come) is
 * silently discarded. The overlapping bytes are even the same ones. */
static void test_ipv6_frag_overlap_drops_datagram(void **state)
{
	up();
	size_t len = echo_for_frags(big, 43, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x99, 0, true, big, 800);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x99, 400, true, big + 400, 600); /* 400..1000 */
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x99, 800, false, big + 800, len - 800);
	p6_run(5 * MS);
	expect_no_reply(0, 43);
	assert_true(D(ipv6_reasm_overlap) >= 1);
	assert_int_equal(D(ipv6_reasm_ok), 0);
	/* The stack still reassembles other datagrams. */
	len = echo_for_frags(big, 44, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x9a, 0, true, big, 800);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x9a, 800, false, big + 800, len - 800);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 44, 1200);
	p6_down();
}

/* RFC 5722: the overlap may come last, in front of the first fragment. */
static void test_ipv6_frag_overlap_first_bytes(void **state)
{
	up();
	size_t len = echo_for_frags(big, 45, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x98, 400, false, big + 400, len - 400);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x98, 0, true, big, 408); /* 0..408 over 400.. */
	p6_run(5 * MS);
	expect_no_reply(0, 45);
	assert_true(D(ipv6_reasm_overlap) >= 1);
	p6_down();
}

/* RFC 5722 §4 and RFC 8200 §4.5: only an *exact* duplicate fragment may be dropped on its own
 * while the rest is kept; a fragment that lies inside held data without being the same
 * fragment (here bytes 400..600 of a held 0..800, the same bytes even) is an overlap, and the
 * datagram is abandoned. */
static void test_ipv6_frag_subset_overlap_drops_datagram(void **state)
{
	up();
	size_t len = echo_for_frags(big, 52, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x97, 0, true, big, 800);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x97, 400, true, big + 400, 200);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x97, 800, false, big + 800, len - 800);
	p6_run(5 * MS);
	expect_no_reply(0, 52);
	assert_true(D(ipv6_reasm_overlap) >= 1);
	p6_down();
}

/* RFC 8200 §4.5: an exact duplicate of a fragment may be dropped alone: the datagram still
 * completes. */
static void test_ipv6_frag_exact_duplicate_tolerated(void **state)
{
	up();
	size_t len = echo_for_frags(big, 53, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x96, 0, true, big, 800);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x96, 0, true, big, 800);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x96, 800, false, big + 800, len - 800);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 53, 1200);
	p6_down();
}

/* RFC 6946 §4: an atomic fragment (offset 0, M 0) is processed at once as a whole packet,
 * not through reassembly, and does not disturb a reassembly with the same id. */
static void test_ipv6_atomic_fragment_processed(void **state)
{
	up();
	size_t len = echo_for_frags(big, 46, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x77, 0, true, big, 800); /* a reassembly, id 0x77 */
	uint8_t m[64];
	size_t ml = echo_for_frags(m, 47, 16, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x77, 0, false, m, ml);
	p6_poll();
	expect_reply(0, 0x55, 47, 16);
	assert_int_equal(D(ipv6_atomic_frags), 1);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x77, 800, false, big + 800, len - 800);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 46, 1200);
	p6_down();
}

/* RFC 7112 §5: a first fragment that does not hold the whole header chain up to the upper
 * layer header is dropped (here the fragment carries only a destination options header and
 * the ICMPv6 header is in the second fragment). It may be answered with Parameter Problem
 * code 3; if it is, the pointer is 0. */
static void test_ipv6_frag_first_without_upper_header_dropped(void **state)
{
	up();
	uint8_t d[256];
	uint8_t opt[8] = {NH_ICMP6, 0, 1, 4, 0, 0, 0, 0};
	memcpy(d, opt, 8);
	size_t ml = echo_for_frags(d + 8, 48, 32, &ST6);
	send_frag(&PEER6, &ST6, NH_DST, 0x55, 0, true, d, 8);
	send_frag(&PEER6, &ST6, NH_DST, 0x55, 8, false, d + 8, ml);
	p6_run(5 * MS);
	expect_no_reply(0, 48);
	assert_int_equal(D(ipv6_frag_no_upper), 1);
	int i = find_icmp6(0, ICMP6_PARAM_PROB, -1);
	if (i >= 0) {
		struct v6 v = cap6((unsigned)i);
		assert_int_equal(v.l4[1], 3);
		assert_int_equal(get32(v.l4 + 4), 0);
	}
	p6_down();
}

/* §4.5: a fragment with M = 1 whose length is not a multiple of 8 is discarded. */
static void test_ipv6_frag_len_not_multiple_of_8_dropped(void **state)
{
	up();
	size_t len = echo_for_frags(big, 49, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x44, 0, true, big, 403);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x44, 400, false, big + 400, len - 400);
	p6_run(5 * MS);
	expect_no_reply(0, 49);
	assert_int_equal(D(ipv6_reasm_bad_frag), 1);
	p6_down();
}

/* §4.5: ... "and an ICMP Parameter Problem, Code 0, message should be sent to the source of
 * the fragment, pointing to the Payload Length field of the fragment packet" (offset 4). */
static void test_ipv6_frag_len_not_multiple_of_8_param_problem(void **state)
{
	up();
	echo_for_frags(big, 50, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x45, 0, true, big, 403);
	p6_run(5 * MS);
	expect_pp(0, 0, 4);
	p6_down();
}

/* §4.5: a fragment that would make the reassembled payload exceed 65,535 bytes is discarded
 * and "should" be answered with Parameter Problem code 0 pointing at the Fragment Offset
 * field (40 + 2 here). */
static void test_ipv6_frag_beyond_65535_param_problem(void **state)
{
	up();
	uint8_t d[1024] = {0};
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x46, 65000, false, d, 600);
	p6_run(5 * MS);
	assert_int_equal(D(ipv6_reasm_too_big), 1);
	expect_pp(0, 0, 42);
	p6_down();
}

/* §4.5: reassembly not done 60 s after the first-arriving fragment: abandoned, and since the
 * first fragment (offset 0) was received, ICMPv6 Time Exceeded code 1 goes to its source,
 * quoting it. Without the first fragment no error is sent. */
static void test_ipv6_reasm_timeout_time_exceeded(void **state)
{
	up();
	echo_for_frags(big, 51, 1200, &ST6);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x33, 0, true, big, 800);
	uint8_t first[P6_FRAME];
	size_t first_len = X.sent_len;
	memcpy(first, X.sent, first_len);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x34, 800, false, big + 800, 408); /* no first */
	p6_run_fast(61 * SEC);
	assert_int_equal(D(ipv6_reasm_timeout), 2);
	assert_int_equal(count_icmp6(0, ICMP6_TIME_EXCEEDED), 1);
	int i = find_icmp6(0, ICMP6_TIME_EXCEEDED, -1);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.l4[1], 1);
	assert_true(ip_eq(&v.src, &ST6));
	assert_true(ip_eq(&v.dst, &PEER6));
	/* The quote is the first fragment as it was received (header, fragment header, data),
	 * as much as fits in 1280 bytes. */
	size_t q = first_len - 14;
	if (q > 1280 - 48)
		q = 1280 - 48;
	assert_true(v.l4len >= 8 + 48);
	assert_true(v.l4len <= 8 + q);
	assert_memory_equal(v.l4 + 8, first + 14, v.l4len - 8);
	assert_true(v.iplen <= 1280);
	p6_down();
}

/* --- output fragmentation (RFC 8200 §4.5, RFC 7739) ---------------------------------------- */

/* The fragments of one datagram among the captures from index from on: their id. */
static uint32_t frag_id_of(unsigned from, unsigned nth)
{
	unsigned k = 0;
	for (unsigned i = from; i < X.ncap; i++) {
		struct v6 v = cap6(i);
		if (v.frag && v.frag_off == 0 && k++ == nth)
			return v.frag_id;
	}
	print_message("no first fragment #%u\n", nth);
	fail();
	return 0;
}

/* A UDP datagram larger than the MTU leaves in fragments: a Fragment header in each,
 * fragments within the MTU, every fragment but the last a multiple of 8 bytes, one id per
 * datagram and another for the next; reassembled it is the datagram that was written. A
 * datagram that fits carries no fragment header (RFC 8021: no atomic fragments). */
static void test_ipv6_udp_output_fragmented(void **state)
{
	up();
	static uint8_t d[8000];
	for (size_t k = 0; k < sizeof d; k++)
		d[k] = pat6(77, k);
	struct sl_udp_write_opts o = {.src_port = 4444};
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, 4000), 0);
	p6_run(5 * MS);
	unsigned from2 = X.ncap;
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, 8000), 0);
	p6_run(5 * MS);
	unsigned nfrags = 0;
	for (unsigned i = 0; i < X.ncap; i++) {
		struct v6 v = cap6(i);
		if (v.proto == NH_ICMP6)
			continue; /* neighbour discovery */
		assert_true(v.frag);
		assert_int_equal(v.ip[6], NH_FRAG);
		assert_true(X.cap[i].len <= 14 + 1500);
		nfrags++;
	}
	assert_true(nfrags >= 3 + 6);
	uint32_t id1 = frag_id_of(0, 0), id2 = frag_id_of(from2, 0);
	assert_int_not_equal(id1, id2);
	static uint8_t r[70000];
	uint8_t proto = 0;
	size_t rl = reasm6(0, id1, r, sizeof r, &proto);
	assert_int_equal(rl, 8 + 4000);
	assert_int_equal(proto, NH_UDP);
	assert_int_equal(get16(r), 4444);
	assert_int_equal(get16(r + 2), 5555);
	assert_int_equal(get16(r + 4), 8 + 4000);
	assert_true(l4_csum6_ok(&ST6, &PEER6, NH_UDP, r, rl));
	assert_memory_equal(r + 8, d, 4000);
	rl = reasm6(from2, id2, r, sizeof r, &proto);
	assert_int_equal(rl, 8 + 8000);
	assert_true(l4_csum6_ok(&ST6, &PEER6, NH_UDP, r, rl));
	assert_memory_equal(r + 8, d, 8000);
	assert_true(D(ipv6_frags_sent) >= 9);

	/* One that fits: no fragment header. */
	unsigned from3 = X.ncap;
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, 1000), 0);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, from3 + 1);
	struct v6 v = cap6(from3);
	assert_false(v.frag);
	assert_int_equal(v.proto, NH_UDP);
	p6_down();
}

/* Identification values of successive datagrams differ (RFC 7739 asks for unpredictable
 * ones; here only: no two of 20 datagrams in a row share one). */
static void test_ipv6_frag_ids_differ(void **state)
{
	up();
	static uint8_t d[3000];
	uint32_t ids[20];
	for (unsigned k = 0; k < 20; k++) {
		unsigned from = X.ncap;
		assert_int_equal(sl_udp_write(X.st, NULL, &PEER6, 5555, d, sizeof d), 0);
		p6_run(2 * MS);
		ids[k] = frag_id_of(from, 0);
		for (unsigned j = 0; j < k; j++)
			assert_int_not_equal(ids[j], ids[k]);
	}
	p6_down();
}

/* DF / dont_fragment over IPv6: an oversize datagram is refused with -EMSGSIZE (udp.h). */
static void test_ipv6_udp_dont_fragment(void **state)
{
	up();
	static uint8_t d[3000];
	struct sl_udp_write_opts o = {.dont_fragment = true};
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, sizeof d), -EMSGSIZE);
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, 1500 - 48), 0);
	p6_run(5 * MS);
	p6_down();
}

/* --- ICMPv6 (RFC 4443) ---------------------------------------------------------------------- */

/* §4.2: the reply carries the request's identifier, sequence and data; its checksum covers the
 * pseudo-header (§2.3, verified here independently); it goes to the peer's MAC. */
static void test_icmp6_echo_reply(void **state)
{
	up();
	send_echo(&PEER6, &ST6, 0xbeef, 0x0102, 100);
	p6_run(5 * MS);
	expect_reply(0, 0xbeef, 0x0102, 100);
	int i = find_reply(0, 0x0102);
	struct v6 v = cap6((unsigned)i);
	assert_true(l4_csum6_ok(&ST6, &PEER6, NH_ICMP6, v.l4, v.l4len));
	assert_memory_equal(v.eth, X.peer->mac, 6);
	assert_memory_equal(v.eth + 6, X.dev->mac, 6);
	assert_int_equal(v.ip[6], NH_ICMP6);
	assert_true(v.ip[7] > 1);
	assert_int_equal(D(icmp6_echo_replies), 1);
	p6_down();
}

/* The reply carries the request's traffic class (Linux's icmpv6_echo_reply does: ping -Q
 * measures a DSCP's path both ways), in place and when the reply is built anew (a request to
 * a group); other replies' classes stay 0. */
static void test_icmp6_echo_reply_traffic_class(void **state)
{
	up();
	static const sl_ip *dsts[2] = {&ST6, &ALL_NODES};
	for (int k = 0; k < 2; k++) {
		unsigned from = X.ncap;
		uint8_t m[64], fr[P6_FRAME];
		size_t len = mk_echo(m, ICMP6_ECHO_REQ, 7, (uint16_t)(70 + k), 16);
		put16(m + 2, 0);
		put16(m + 2, l4_csum6(&PEER6, dsts[k], NH_ICMP6, m, len));
		hdr6(fr, &PEER6, dsts[k], NH_ICMP6, 64, len);
		fr[14] = (uint8_t)(0x60 | 0xb8 >> 4); /* traffic class 0xb8 (EF) */
		fr[15] = (uint8_t)(0xb8 << 4);
		memcpy(fr + 54, m, len);
		peer_send_raw(fr, 54 + len);
		p6_run(5 * MS);
		int i = find_reply(from, (uint16_t)(70 + k));
		assert_true(i >= 0);
		struct v6 v = cap6((unsigned)i);
		assert_int_equal(v.ip[0], 0x6b);
		assert_int_equal(v.ip[1], 0x80);
		assert_int_equal(v.ip[2] | v.ip[3], 0);
	}
	unsigned from = X.ncap;
	send_echo(&PEER6, &ST6, 7, 72, 16);
	p6_run(5 * MS);
	int i = find_reply(from, 72);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.ip[0], 0x60);
	assert_int_equal(v.ip[1], 0);
	p6_down();
}

/* §4.2: an echo request to a multicast address is answered from a unicast address of the
 * node. */
static void test_icmp6_echo_all_nodes_answered_from_unicast(void **state)
{
	up();
	send_echo(&PEER6, &ALL_NODES, 3, 60, 24);
	p6_run(5 * MS);
	expect_reply(0, 3, 60, 24); /* checks src fd00::1, dst fd00::2 */
	/* The solicited-node group of our address too (we are in it). */
	unsigned from = X.ncap;
	sl_ip sn = solicited(&ST6);
	send_echo(&PEER6, &sn, 3, 61, 24);
	p6_run(5 * MS);
	int i = find_reply(from, 61);
	if (i >= 0) {
		struct v6 v = cap6((unsigned)i);
		assert_false(v.src.b[0] == 0xff);
	}
	p6_down();
}

/* §2.3: a message with a wrong checksum is dropped and counted. */
static void test_icmp6_bad_csum_dropped(void **state)
{
	up();
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 62, 16);
	put16(m + 2, (uint16_t)(l4_csum6(&PEER6, &ST6, NH_ICMP6, m, len) ^ 0x0100));
	send6(&PEER6, &ST6, NH_ICMP6, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	assert_int_equal(D(icmp6_bad_csum), 1);
	/* A checksum computed without the pseudo-header (as for ICMPv4) is wrong too. */
	put16(m + 2, 0);
	put16(m + 2, (uint16_t)~csum16(m, len, 0));
	send6(&PEER6, &ST6, NH_ICMP6, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	assert_int_equal(D(icmp6_bad_csum), 2);
	p6_down();
}

/* §3.1: a UDP datagram to a port nobody listens on: Destination Unreachable code 4 (port
 * unreachable) quoting the invoking packet from its IPv6 header on. */
static void test_icmp6_port_unreachable(void **state)
{
	up();
	uint8_t u[256];
	size_t ul = mk_udp6(u, &PEER6, &ST6, 40000, 7777, 1, 50);
	send6(&PEER6, &ST6, NH_UDP, 64, u, ul);
	p6_run(5 * MS);
	int i = find_icmp6(0, ICMP6_DST_UNREACH, -1);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.l4[1], 4);
	assert_int_equal(get32(v.l4 + 4), 0); /* unused */
	assert_true(ip_eq(&v.src, &ST6));
	assert_true(ip_eq(&v.dst, &PEER6));
	assert_int_equal(v.l4len, 8 + 40 + ul);
	assert_memory_equal(v.l4 + 8, X.sent + 14, 40 + ul);
	assert_int_equal(D(udp_no_port), 1);
	assert_int_equal(D(icmp6_errors_sent), 1);
	p6_down();
}

/* §2.4 (e.1): no ICMPv6 error in answer to an ICMPv6 error. An error message (Destination
 * Unreachable) behind a destination option whose type asks for Parameter Problem (10), or
 * behind an unknown routing type with Segments Left, gets none: the packet is an ICMPv6 error
 * message whichever header made it unacceptable. */
static void test_icmp6_no_error_for_error_behind_ext(void **state)
{
	up();
	uint8_t m[128];
	memset(m, 0, sizeof m);
	m[0] = ICMP6_DST_UNREACH;
	m[1] = 4;
	uint8_t q[64];
	hdr6(q, &ST6, &PEER6, NH_UDP, 64, 8); /* the quoted IPv6 header: q + 14 */
	memcpy(m + 8, q + 14, 40);
	uint8_t h[8];
	opt_hdr(h, NH_ICMP6, 0x9e);
	send_icmp6_ext(&PEER6, &ST6, 64, NH_DST, h, 8, m, 56);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6_errors(0), 0);
	uint8_t r[64];
	size_t rl = routing_hdr(r, 253, 1, 1);
	send_icmp6_ext(&PEER6, &ST6, 64, NH_ROUTING, r, rl, m, 56);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6_errors(0), 0);
	p6_down();
}

/* §2.4 (e.1) with RFC 8200 §4.5: the first fragment of an ICMPv6 error that is never completed
 * gets no Time Exceeded. */
static void test_icmp6_no_error_for_error_fragment_timeout(void **state)
{
	up();
	uint8_t big_err[1200];
	memset(big_err, 0, sizeof big_err);
	big_err[0] = ICMP6_DST_UNREACH;
	put16(big_err + 2, l4_csum6(&PEER6, &ST6, NH_ICMP6, big_err, sizeof big_err));
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x1111, 0, true, big_err, 800);
	p6_run_fast(61 * SEC);
	assert_int_equal(D(ipv6_reasm_timeout), 1);
	assert_int_equal(count_icmp6_errors(0), 0);
	p6_down();
}

/* §2.4 (e.3): no error to a packet sent to a multicast address (except Packet Too Big and
 * Parameter Problem code 2): a UDP datagram to a closed port and an unknown Next Header, both
 * to ff02::1, get nothing. §2.4 (e.6): nor to a packet whose source is the unspecified
 * address. */
static void test_icmp6_no_error_to_multicast_dst(void **state)
{
	up();
	uint8_t u[256];
	size_t ul = mk_udp6(u, &PEER6, &ALL_NODES, 40000, 7777, 1, 20);
	send6(&PEER6, &ALL_NODES, NH_UDP, 64, u, ul);
	uint8_t body[16] = {0};
	send6(&PEER6, &ALL_NODES, 253, 64, body, 16);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6_errors(0), 0);
	ul = mk_udp6(u, &UNSPEC6, &ST6, 40000, 7777, 1, 20);
	send6(&UNSPEC6, &ST6, NH_UDP, 64, u, ul);
	p6_run(5 * MS);
	assert_int_equal(count_icmp6_errors(0), 0);
	p6_down();
}

/* §2.4 (c): an error message carries as much of the invoking packet as fits without the
 * ICMPv6 packet exceeding the minimum IPv6 MTU (1280 bytes). */
static void test_icmp6_error_fits_1280(void **state)
{
	up();
	static uint8_t u[1500];
	size_t ul = mk_udp6(u, &PEER6, &ST6, 40000, 7777, 2, 1400);
	send6(&PEER6, &ST6, NH_UDP, 64, u, ul);
	p6_run(5 * MS);
	int i = find_icmp6(0, ICMP6_DST_UNREACH, 4);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.iplen, 1280);
	assert_memory_equal(v.l4 + 8, X.sent + 14, 1280 - 48);
	p6_down();
}

/* The stack's UDP datagram from port sport to the peer: sent, captured, returned. */
static struct v6 stack_udp(int sport, size_t n, unsigned *idx)
{
	static uint8_t d[2000];
	for (size_t k = 0; k < n; k++)
		d[k] = pat6(9, k);
	struct sl_udp_write_opts o = {.src_port = sport};
	unsigned from = X.ncap;
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, n), 0);
	p6_run(3 * MS);
	for (unsigned i = from; i < X.ncap; i++) {
		struct v6 v = cap6(i);
		if (v.proto == NH_UDP) {
			*idx = i;
			return v;
		}
	}
	fail();
	struct v6 z = {0};
	return z;
}

/* An ICMPv6 error of type/code with 32-bit field rest from the peer, quoting q[0..qlen),
 * truncated so the error fits in 1280 bytes. */
static void send_error(uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q, size_t qlen)
{
	uint8_t m[1280];
	if (qlen > 1280 - 48)
		qlen = 1280 - 48;
	m[0] = type, m[1] = code;
	put16(m + 2, 0);
	put32(m + 4, rest);
	memcpy(m + 8, q, qlen);
	send_icmp6(&PEER6, &ST6, 64, m, 8 + qlen);
}

/* RFC 8201 §4: Packet Too Big with an MTU ≥ 1280 lowers the path MTU to that destination: the
 * next datagram too large for it leaves in fragments that fit, and reassembles. */
static void test_icmp6_ptb_lowers_pmtu(void **state)
{
	up();
	unsigned idx;
	struct v6 v = stack_udp(4001, 1400, &idx); /* 1448 bytes: fits 1500 */
	assert_false(v.frag);
	send_error(ICMP6_PTB, 0, 1300, v.ip, v.iplen);
	p6_run(3 * MS);
	assert_int_equal(D(icmp6_ptb_rx), 1);
	unsigned from = X.ncap;
	stack_udp(4001, 1400, &idx);
	struct v6 f = cap6(idx);
	assert_true(f.frag);
	for (unsigned i = from; i < X.ncap; i++) {
		struct v6 w = cap6(i);
		if (w.proto == NH_ICMP6)
			continue;
		assert_true(w.frag);
		assert_true(w.iplen <= 1300);
	}
	static uint8_t r[4000];
	uint8_t proto;
	size_t rl = reasm6(from, f.frag_id, r, sizeof r, &proto);
	assert_int_equal(rl, 8 + 1400);
	assert_true(l4_csum6_ok(&ST6, &PEER6, NH_UDP, r, rl));
	/* Another destination keeps its own path MTU. */
	p6_down();
}

/* RFC 8201 §4: a node must not reduce its Path MTU estimate below 1280: a Packet Too Big
 * reporting less is ignored, and the 1448-byte packet still leaves whole. */
static void test_icmp6_ptb_below_1280_ignored(void **state)
{
	up();
	unsigned idx;
	struct v6 v = stack_udp(4002, 1400, &idx);
	send_error(ICMP6_PTB, 0, 1000, v.ip, v.iplen);
	p6_run(3 * MS);
	assert_int_equal(D(icmp6_ptb_ignored), 1);
	assert_int_equal(D(icmp6_ptb_rx), 0);
	v = stack_udp(4002, 1400, &idx);
	assert_false(v.frag);
	assert_int_equal(v.iplen, 1448);
	p6_down();
}

/* RFC 8201 §4 with RFC 4443 §2.4 (e.3) exception: a Packet Too Big lowering the MTU to 1280:
 * a datagram of exactly 1280 bytes then leaves whole, one byte more is fragmented. */
static void test_icmp6_ptb_1280_exact(void **state)
{
	up();
	unsigned idx;
	struct v6 v = stack_udp(4003, 1400, &idx);
	send_error(ICMP6_PTB, 0, 1280, v.ip, v.iplen);
	p6_run(3 * MS);
	v = stack_udp(4003, 1280 - 48, &idx);
	assert_false(v.frag);
	v = stack_udp(4003, 1280 - 47, &idx);
	assert_true(v.frag);
	p6_down();
}

/* udp.h: an ICMPv6 error about a datagram a port sent reaches that port's error callback;
 * port unreachable (RFC 4443 §3.1 code 4) is -ECONNREFUSED. */
static void test_icmp6_error_reaches_udp_callback(void **state)
{
	up();
	assert_int_equal(sl_udp_listen(X.st, 4004, on_udp, &U), 0);
	assert_int_equal(sl_udp_on_error(X.st, 4004, on_udp_err, &U), 0);
	unsigned idx;
	struct v6 v = stack_udp(4004, 40, &idx);
	send_error(ICMP6_DST_UNREACH, 4, 0, v.ip, v.iplen);
	p6_run(3 * MS);
	assert_int_equal(U.errs, 1);
	assert_int_equal(U.err, -ECONNREFUSED);
	assert_int_equal(U.em.src_port, 4004);
	assert_int_equal(U.em.dst_port, 5555);
	assert_true(ip_eq(&U.em.dst, &PEER6));
	assert_int_equal(D(icmp6_errors_delivered), 1);
	/* A quote of a datagram from another port reaches nobody. */
	uint8_t q[P6_FRAME];
	memcpy(q, v.ip, v.iplen);
	put16(q + 40, 4005);
	send_error(ICMP6_DST_UNREACH, 4, 0, q, v.iplen);
	p6_run(3 * MS);
	assert_int_equal(U.errs, 1);
	p6_down();
}

/* --- UDP and TCP over IPv6 ------------------------------------------------------------------ */

/* RFC 8200 §8.1: a UDP checksum of zero is not allowed over IPv6; the datagram is discarded.
 * The same datagram with its checksum is delivered, with the addresses in the metadata. */
static void test_udp6_zero_checksum_discarded(void **state)
{
	up();
	assert_int_equal(sl_udp_listen(X.st, PORT, on_udp, &U), 0);
	uint8_t u[256];
	size_t ul = mk_udp6(u, &PEER6, &ST6, 40000, PORT, 3, 64);
	uint8_t z[256];
	memcpy(z, u, ul);
	put16(z + 6, 0);
	send6(&PEER6, &ST6, NH_UDP, 64, z, ul);
	p6_run(3 * MS);
	assert_int_equal(U.count, 0);
	assert_true(D(udp_bad_csum) >= 1);
	assert_int_equal(count_icmp6_errors(0), 0);
	send6(&PEER6, &ST6, NH_UDP, 64, u, ul);
	p6_run(3 * MS);
	assert_int_equal(U.count, 1);
	assert_int_equal(U.len, 64);
	assert_memory_equal(U.data, u + 8, 64);
	assert_true(ip_eq(&U.m.src, &PEER6));
	assert_true(ip_eq(&U.m.dst, &ST6));
	assert_int_equal(U.m.src_port, 40000);
	assert_int_equal(U.m.dst_port, PORT);
	/* A wrong checksum: dropped. */
	put16(u + 6, (uint16_t)(get16(u + 6) + 1));
	send6(&PEER6, &ST6, NH_UDP, 64, u, ul);
	p6_run(3 * MS);
	assert_int_equal(U.count, 1);
	p6_down();
}

/* RFC 768 / RFC 8200 §8.1: a computed checksum of zero is sent as 0xffff. The last two bytes of
 * the payload are chosen so that the datagram sums to 0xffff. */
static void test_udp6_tx_zero_checksum_sent_as_ffff(void **state)
{
	up();
	uint8_t d[32];
	for (unsigned k = 0; k < sizeof d; k++)
		d[k] = (uint8_t)k;
	uint8_t u[8 + 32];
	put16(u, 4100);
	put16(u + 2, 5555);
	put16(u + 4, 8 + 32);
	put16(u + 6, 0);
	d[30] = d[31] = 0;
	memcpy(u + 8, d, 32);
	uint16_t s = csum16(u, sizeof u, pseudo6(&ST6, &PEER6, NH_UDP, sizeof u));
	uint16_t x = (uint16_t)(0xffff - s); /* s + x = 0xffff, no carry */
	d[30] = (uint8_t)(x >> 8), d[31] = (uint8_t)x;
	struct sl_udp_write_opts o = {.src_port = 4100};
	assert_int_equal(sl_udp_write(X.st, &o, &PEER6, 5555, d, 32), 0);
	p6_run(3 * MS);
	unsigned idx = 0;
	bool found = false;
	for (unsigned i = 0; i < X.ncap; i++)
		if (cap6(i).proto == NH_UDP)
			idx = i, found = true;
	assert_true(found);
	struct v6 v = cap6(idx);
	assert_int_equal(get16(v.l4 + 6), 0xffff);
	p6_down();
}

static void t_accept(void *arg, struct sl_tcp_flow *f)
{
	(*(struct sl_tcp_flow **)arg) = f;
}

/* A TCP SYN from the peer (MSS option 1440, window 65535) to port. */
static void send_syn(uint16_t sport, uint16_t dport, uint32_t seq)
{
	uint8_t t[24] = {0};
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	t[12] = 6 << 4;
	t[13] = 0x02;
	put16(t + 14, 65535);
	t[20] = 2, t[21] = 4;
	put16(t + 22, 1440);
	put16(t + 16, l4_csum6(&PEER6, &ST6, NH_TCP, t, 24));
	send6(&PEER6, &ST6, NH_TCP, 64, t, 24);
}

static int find_tcp(unsigned from)
{
	for (unsigned i = from; i < X.ncap; i++)
		if (cap6(i).proto == NH_TCP)
			return (int)i;
	return -1;
}

/* RFC 9293 §3.7.1 with RFC 8200 §8.3: the MSS the stack offers over IPv6 is the MTU less the
 * 40-byte IPv6 header and the 20-byte TCP header: 1440 for MTU 1500. */
static void test_tcp6_synack_mss_1440(void **state)
{
	up();
	struct sl_tcp_flow *f = NULL;
	assert_int_equal(sl_tcp_listen(X.st, 80, NULL, t_accept, &f), 0);
	send_syn(40001, 80, 1000);
	p6_run(3 * MS);
	int i = find_tcp(0);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_true(ip_eq(&v.src, &ST6));
	assert_int_equal(v.l4[13] & 0x12, 0x12);
	assert_int_equal(get32(v.l4 + 8), 1001);
	unsigned hl = (v.l4[12] >> 4) * 4u;
	unsigned mss = 0;
	for (unsigned o = 20; o < hl;) {
		if (v.l4[o] == 0)
			break;
		if (v.l4[o] == 1) {
			o++;
			continue;
		}
		if (v.l4[o] == 2)
			mss = get16(v.l4 + o + 2);
		o += v.l4[o + 1] ? v.l4[o + 1] : 1;
	}
	assert_int_equal(mss, 1440);
	p6_down();
}

/* RFC 9293 §3.10.7.1: a SYN to a closed port is answered with RST,ACK (checksum over the IPv6
 * pseudo-header, checked on capture). */
static void test_tcp6_closed_port_rst(void **state)
{
	up();
	send_syn(40002, 81, 5000);
	p6_run(3 * MS);
	int i = find_tcp(0);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_int_equal(v.l4[13] & 0x14, 0x14);
	assert_int_equal(get32(v.l4 + 8), 5001);
	assert_true(ip_eq(&v.dst, &PEER6));
	p6_down();
}

/* A TCP segment with a checksum computed over the IPv4-style pseudo-header (or none) is
 * dropped: only the IPv6 pseudo-header counts (RFC 8200 §8.1). */
static void test_tcp6_bad_checksum_dropped(void **state)
{
	up();
	uint8_t t[20] = {0};
	put16(t, 40003);
	put16(t + 2, 82);
	put32(t + 4, 1);
	t[12] = 5 << 4;
	t[13] = 0x02;
	put16(t + 14, 1000);
	put16(t + 16, (uint16_t)~csum16(t, 20, 0));
	send6(&PEER6, &ST6, NH_TCP, 64, t, 20);
	p6_run(3 * MS);
	assert_int_equal(find_tcp(0), -1);
	assert_int_equal(D(tcp_bad_csum), 1);
	p6_down();
}

/* --- more source/destination rules --------------------------------------------------------- */

/* RFC 4443 §2.4 (e.6) and RFC 4291 §2.5.2: the unspecified address never identifies a node to
 * answer: an echo from :: is not answered. */
static void test_ipv6_src_unspecified_dropped(void **state)
{
	up();
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 70, 8);
	send_icmp6(&UNSPEC6, &ST6, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	p6_down();
}

/* RFC 4291 §2.5.3: a packet received from a link with the loopback address as its source (or
 * destination) must be dropped. */
static void test_ipv6_src_loopback_dropped(void **state)
{
	up();
	sl_ip lo = ip6("::1");
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 71, 8);
	send_icmp6(&lo, &ST6, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	len = mk_echo(m, ICMP6_ECHO_REQ, 1, 72, 8);
	send_icmp6(&PEER6, &lo, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	p6_down();
}

/* RFC 4291 §2.5.5.2 / RFC 6890: IPv4-mapped addresses (::ffff:a.b.c.d) represent IPv4 nodes
 * inside a host's API; they never appear as the source of an IPv6 packet on the wire. The
 * stack keeps IPv4 addresses in that very form (ip.h), so such a packet must not reach a
 * socket as if it came from IPv4, nor draw an answer (over either family). */
static void test_ipv6_src_v4mapped_dropped(void **state)
{
	struct sl_stack_config c;
	p6_config(&c);
	c.addrs[1].addr = sl_ip_v4(0x0a000001u);
	c.addrs[1].prefix_len = 24;
	c.n_addrs = 2;
	p6_up(&c);
	memset(&U, 0, sizeof U);
	assert_int_equal(sl_udp_listen(X.st, PORT, on_udp, &U), 0);
	sl_ip mapped = sl_ip_v4(0x0a000002u); /* ::ffff:10.0.0.2, on the IPv4 subnet */
	uint8_t u[128];
	size_t ul = mk_udp6(u, &mapped, &ST6, 40000, PORT, 1, 16);
	send6(&mapped, &ST6, NH_UDP, 64, u, ul);
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 73, 8);
	send_icmp6(&mapped, &ST6, 64, m, len);
	ul = mk_udp6(u, &mapped, &ST6, 40000, 7777, 1, 16); /* closed port */
	send6(&mapped, &ST6, NH_UDP, 64, u, ul);
	p6_run(5 * MS);
	if (U.count)
		print_message("delivered to the socket with src %s\n",
			      sl_ip_is_v4(&U.m.src) ? "IPv4 (mapped)" : "IPv6");
	assert_int_equal(U.count, 0);
	if (X.ncap)
		dump_caps(0);
	assert_int_equal(X.ncap, 0); /* not even ARP for 10.0.0.2 */
	assert_true(D(ipv6_bad_src) >= 3);
	p6_down();
}

/* The same for the destination: ::ffff:10.0.0.1 is not an IPv6 address of a stack that holds
 * 10.0.0.1 (RFC 4291 §2.5.5.2). */
static void test_ipv6_dst_v4mapped_not_ours(void **state)
{
	struct sl_stack_config c;
	p6_config(&c);
	c.addrs[1].addr = sl_ip_v4(0x0a000001u);
	c.addrs[1].prefix_len = 24;
	c.n_addrs = 2;
	p6_up(&c);
	memset(&U, 0, sizeof U);
	assert_int_equal(sl_udp_listen(X.st, PORT, on_udp, &U), 0);
	sl_ip mine4 = sl_ip_v4(0x0a000001u);
	uint8_t u[128];
	size_t ul = mk_udp6(u, &PEER6, &mine4, 40000, PORT, 1, 16);
	send6(&PEER6, &mine4, NH_UDP, 64, u, ul);
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 1, 74, 8);
	send_icmp6(&PEER6, &mine4, 64, m, len);
	p6_run(5 * MS);
	assert_int_equal(U.count, 0);
	expect_no_reply(0, 74);
	p6_down();
}

/* --- more ICMPv6 ----------------------------------------------------------------------------- */

/* RFC 4443 §2.4 (b): an unknown informational message (type ≥ 128) is silently discarded; an
 * unknown error message (type < 128) goes to the upper layer, and draws no answer either. */
static void test_icmp6_unknown_types_silent(void **state)
{
	up();
	uint8_t m[64] = {200, 0};
	send_icmp6(&PEER6, &ST6, 64, m, 16);
	uint8_t e[64] = {100, 0};
	send_icmp6(&PEER6, &ST6, 64, e, 56);
	p6_run(5 * MS);
	assert_int_equal(X.ncap, 0);
	p6_down();
}

/* RFC 4443 §2.4 (f): the rate of ICMPv6 error messages is limited (the stack's icmp_rate /
 * icmp_burst: 100 per second, a burst of 50); the rest is counted. */
static void test_icmp6_errors_rate_limited(void **state)
{
	up();
	for (unsigned k = 0; k < 300; k++) {
		uint8_t u[64];
		size_t ul = mk_udp6(u, &PEER6, &ST6, 40000, (uint16_t)(7000 + k), k, 8);
		send6(&PEER6, &ST6, NH_UDP, 64, u, ul);
		if (k % 32 == 31)
			p6_poll();
	}
	p6_run(2 * MS);
	unsigned n = count_icmp6(0, ICMP6_DST_UNREACH);
	print_message("%u port unreachables for 300 datagrams in 2 ms\n", n);
	assert_true(n >= 1);
	assert_true(n <= 60);
	assert_true(D(icmp6_rate_limited) >= 300 - 60);
	p6_down();
}

/* RFC 8201 §4: "A node MUST NOT increase its estimate of the Path MTU in response to the
 * contents of a Packet Too Big message." After 1300, a PTB saying 1400 changes nothing. */
static void test_icmp6_ptb_does_not_raise_pmtu(void **state)
{
	up();
	unsigned idx;
	struct v6 v = stack_udp(4010, 1400, &idx);
	uint8_t q[P6_FRAME];
	size_t ql = v.iplen;
	memcpy(q, v.ip, ql);
	send_error(ICMP6_PTB, 0, 1300, q, ql);
	p6_run(3 * MS);
	send_error(ICMP6_PTB, 0, 1400, q, ql);
	p6_run(3 * MS);
	unsigned from = X.ncap;
	stack_udp(4010, 1300, &idx); /* 1348 bytes: over 1300, under 1400 */
	for (unsigned i = from; i < X.ncap; i++) {
		struct v6 w = cap6(i);
		if (w.proto != NH_ICMP6)
			assert_true(w.iplen <= 1300);
	}
	p6_down();
}

/* RFC 8201 §4: after a PTB the node must not try a larger Path MTU for at least 5 minutes
 * (10 recommended): 4 minutes later a 1400-byte datagram still leaves in pieces that fit. */
static void test_icmp6_pmtu_kept_5_minutes(void **state)
{
	up();
	unsigned idx;
	struct v6 v = stack_udp(4011, 1400, &idx);
	send_error(ICMP6_PTB, 0, 1300, v.ip, v.iplen);
	p6_run(3 * MS);
	p6_run_fast(240 * SEC);
	unsigned from = X.ncap;
	stack_udp(4011, 1400, &idx);
	for (unsigned i = from; i < X.ncap; i++) {
		struct v6 w = cap6(i);
		if (w.proto != NH_ICMP6)
			assert_true(w.iplen <= 1300);
	}
	p6_down();
}

/* A TCP segment from the peer on a connection it tracks by hand. */
static void send_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t t[20] = {0};
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 65535);
	put16(t + 16, l4_csum6(&PEER6, &ST6, NH_TCP, t, 20));
	send6(&PEER6, &ST6, NH_TCP, 64, t, 20);
}

/* RFC 8201 §4 for TCP: after Packet Too Big (1280) about one of its segments, the connection
 * sends nothing larger than 1280 bytes (smaller segments, RFC 8201 §5.4 / RFC 9293 §3.7.1). */
static void test_tcp6_ptb_lowers_segments(void **state)
{
	up();
	struct sl_tcp_flow *f = NULL;
	assert_int_equal(sl_tcp_listen(X.st, 80, NULL, t_accept, &f), 0);
	send_syn(40005, 80, 1000);
	p6_run(3 * MS);
	int i = find_tcp(0);
	assert_true(i >= 0);
	struct v6 sa = cap6((unsigned)i);
	uint32_t iss = get32(sa.l4 + 4);
	send_tcp(40005, 80, 1001, iss + 1, 0x10);
	p6_run(3 * MS);
	assert_non_null(f);
	static uint8_t d[6000];
	memset(d, 'd', sizeof d);
	assert_true(sl_tcp_write_nodelay(f, d, sizeof d) > 0);
	unsigned from = X.ncap;
	p6_run(3 * MS);
	int j = -1;
	for (unsigned k = from; k < X.ncap; k++) {
		struct v6 w = cap6(k);
		if (w.proto == NH_TCP && w.iplen > 1280) {
			j = (int)k;
			break;
		}
	}
	assert_true(j >= 0); /* a full-size segment went out */
	struct v6 big1 = cap6((unsigned)j);
	uint8_t q[P6_FRAME];
	memcpy(q, big1.ip, big1.iplen);
	send_error(ICMP6_PTB, 0, 1280, q, big1.iplen);
	from = X.ncap;
	p6_run_fast(5 * SEC); /* no ACK from the peer: retransmissions */
	unsigned tcp_after = 0;
	for (unsigned k = from; k < X.ncap; k++) {
		struct v6 w = cap6(k);
		if (w.proto != NH_TCP && !(w.frag && w.proto == NH_TCP))
			continue;
		tcp_after++;
		if (w.iplen > 1280) {
			print_message("after PTB 1280: a %zu-byte TCP packet\n", w.iplen);
			fail();
		}
	}
	assert_true(tcp_after >= 1);
	sl_tcp_abort(f);
	p6_down();
}

/* --- more fragments --------------------------------------------------------------------------- */

/* RFC 8200 §4.5: the fragmentable part may begin with extension headers (a destination options
 * header here) as long as the first fragment holds the chain up to the upper-layer header
 * (RFC 7112): reassembled and answered. */
static void test_ipv6_frag_with_dstopt_in_fragmentable_part(void **state)
{
	up();
	uint8_t d[1400];
	uint8_t opt[8] = {NH_ICMP6, 0, 1, 4, 0, 0, 0, 0};
	memcpy(d, opt, 8);
	size_t ml = echo_for_frags(d + 8, 80, 600, &ST6);
	send_frag(&PEER6, &ST6, NH_DST, 0x4242, 304, false, d + 304, 8 + ml - 304);
	send_frag(&PEER6, &ST6, NH_DST, 0x4242, 0, true, d, 304);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 80, 600);
	p6_down();
}

/* RFC 8200 §4.5: a datagram is identified by source, destination and Identification: two
 * sources with the same id, interleaved, are two datagrams. */
static void test_ipv6_frag_same_id_different_src(void **state)
{
	up();
	static uint8_t a[2000], b[2000];
	size_t la = echo_for_frags(a, 81, 1000, &ST6);
	size_t lb = mk_echo(b, ICMP6_ECHO_REQ, 0x55, 82, 1000);
	put16(b + 2, l4_csum6(&PEER6_LL, &ST6, NH_ICMP6, b, lb));
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x5151, 0, true, a, 504);
	send_frag(&PEER6_LL, &ST6, NH_ICMP6, 0x5151, 0, true, b, 504);
	send_frag(&PEER6_LL, &ST6, NH_ICMP6, 0x5151, 504, false, b + 504, lb - 504);
	send_frag(&PEER6, &ST6, NH_ICMP6, 0x5151, 504, false, a + 504, la - 504);
	p6_run(5 * MS);
	expect_reply(0, 0x55, 81, 1000);
	assert_true(find_reply(0, 82) >= 0);
	assert_int_equal(D(ipv6_reasm_ok), 2);
	p6_down();
}

/* --- routes ------------------------------------------------------------------------------- */

/* The first UDP datagram the stack sent from index from on, or -1. */
static int find_udp6(unsigned from)
{
	for (unsigned i = from; i < X.ncap && i < P6_MAXCAP; i++) {
		struct v6 v;
		if (v6_parse(X.cap[i].b, X.cap[i].len, &v) && v.proto == NH_UDP)
			return (int)i;
	}
	return -1;
}

/* An off-link destination goes to the default router (gateway6, a link-local address as
 * routers have, RFC 4861 §8): the NS asks for the router, the datagram leaves to the router's
 * MAC with the final destination in its header. Without a router: -ENETUNREACH. */
static void test_ipv6_offlink_via_gateway6(void **state)
{
	struct sl_stack_config c;
	p6_config(&c);
	c.gateway6 = PEER6_LL;
	p6_up(&c);
	sl_ip far = ip6("2001:db8::5");
	assert_int_equal(sl_udp_write(X.st, NULL, &far, 9, "far", 3), 0);
	p6_run(5 * MS);
	int i = find_udp6(0);
	if (i < 0)
		dump_caps(0);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_true(ip_eq(&v.dst, &far));
	assert_true(ip_eq(&v.src, &ST6));
	assert_memory_equal(v.eth, X.peer->mac, 6);
	int ns = find_icmp6(0, ND_NS, 0);
	assert_true(ns >= 0);
	struct v6 n = cap6((unsigned)ns);
	assert_true(ip_eqb(n.l4 + 8, &PEER6_LL));
	p6_down();

	p6_up(NULL);
	assert_int_equal(sl_udp_write(X.st, NULL, &far, 9, "far", 3), -ENETUNREACH);
	/* Another /64 of fd00::/16 is off-link too. */
	sl_ip other = ip6("fd00:0:0:1::5");
	assert_int_equal(sl_udp_write(X.st, NULL, &other, 9, "x", 1), -ENETUNREACH);
	p6_down();
}

/* RFC 4861 §5.2 / RFC 4291 §2.5.6: fe80::/64 is on-link on every interface, even for a stack
 * that holds only a global address: fe80::2 is resolved and reached directly. */
static void test_ipv6_linklocal_is_onlink(void **state)
{
	up();
	assert_int_equal(sl_udp_write(X.st, NULL, &PEER6_LL, 9, "ll", 2), 0);
	p6_run(5 * MS);
	int i = find_udp6(0);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_true(ip_eq(&v.dst, &PEER6_LL));
	assert_memory_equal(v.eth, X.peer->mac, 6);
	p6_down();
}

/* --- the API over IPv6 --------------------------------------------------------------------- */

static struct {
	unsigned n;
	sl_ip src;
	uint16_t id, seq;
	size_t len;
} echo_rx;

static void on_echo_reply(void *arg, const sl_ip *src, uint16_t id, uint16_t seq,
			  const uint8_t *data, size_t len)
{
	echo_rx.n++;
	echo_rx.src = *src;
	echo_rx.id = id;
	echo_rx.seq = seq;
	echo_rx.len = len;
}

/* icmp.h: sl_icmp_write to an IPv6 destination sends ICMPv6 (checksum over the pseudo-header,
 * checked on capture); the peer's echo reply reaches sl_icmp_on_echo_reply. */
static void test_icmp6_write_echo_and_reply_callback(void **state)
{
	up();
	memset(&echo_rx, 0, sizeof echo_rx);
	sl_icmp_on_echo_reply(X.st, on_echo_reply, NULL);
	uint8_t m[64];
	size_t len = mk_echo(m, ICMP6_ECHO_REQ, 0x4321, 9, 20);
	assert_int_equal(sl_icmp_write(X.st, &PEER6, NULL, m, len), 0);
	p6_run(3 * MS);
	int i = find_icmp6(0, ICMP6_ECHO_REQ, 0);
	assert_true(i >= 0);
	struct v6 v = cap6((unsigned)i);
	assert_true(ip_eq(&v.src, &ST6));
	assert_true(ip_eq(&v.dst, &PEER6));
	assert_int_equal(v.l4len, len);
	assert_int_equal(get16(v.l4 + 4), 0x4321);
	uint8_t r[64];
	size_t rl = mk_echo(r, ICMP6_ECHO_REPLY, 0x4321, 9, 20);
	send_icmp6(&PEER6, &ST6, 64, r, rl);
	p6_run(3 * MS);
	assert_int_equal(echo_rx.n, 1);
	assert_true(ip_eq(&echo_rx.src, &PEER6));
	assert_int_equal(echo_rx.id, 0x4321);
	assert_int_equal(echo_rx.seq, 9);
	assert_int_equal(echo_rx.len, 20);
	p6_down();
}

/* RFC 4291 §2.7 / RFC 8200: the stack never sends from a multicast (or foreign) address, even
 * when the application asks for it (an echo server answering from m->dst of a datagram sent to
 * ff02::1 would). */
static void test_udp6_write_bad_source_refused(void **state)
{
	up();
	struct sl_udp_write_opts o = {.src = &ALL_NODES, .src_port = 7};
	assert_true(sl_udp_write(X.st, &o, &PEER6, 9, "x", 1) < 0);
	sl_ip other = ip6("fd00::99");
	o.src = &other;
	assert_true(sl_udp_write(X.st, &o, &PEER6, 9, "x", 1) < 0);
	o.src = &UNSPEC6;
	int r = sl_udp_write(X.st, &o, &PEER6, 9, "x", 1);
	p6_run(3 * MS);
	for (unsigned i = 0; i < X.ncap; i++) {
		struct v6 v = cap6(i);
		assert_false(v.src.b[0] == 0xff);
		if (v.proto == NH_UDP)
			assert_true(ip_eq(&v.src, &ST6)); /* :: meant "choose" if it was taken */
	}
	(void)r;
	p6_down();
}

/* RFC 9293 §3.10.7.1 / RFC 1122 §4.2.3.10: a SYN to a multicast address is ignored (no SYN-ACK,
 * no RST). */
static void test_tcp6_syn_to_multicast_ignored(void **state)
{
	up();
	struct sl_tcp_flow *f = NULL;
	assert_int_equal(sl_tcp_listen(X.st, 80, NULL, t_accept, &f), 0);
	uint8_t t[20] = {0};
	put16(t, 40009);
	put16(t + 2, 80);
	put32(t + 4, 77);
	t[12] = 5 << 4;
	t[13] = 0x02;
	put16(t + 14, 1000);
	put16(t + 16, l4_csum6(&PEER6, &ALL_NODES, NH_TCP, t, 20));
	send6(&PEER6, &ALL_NODES, NH_TCP, 64, t, 20);
	t[13] = 0x10; /* and an ACK for no connection: no RST either */
	put16(t + 16, 0);
	put16(t + 16, l4_csum6(&PEER6, &ALL_NODES, NH_TCP, t, 20));
	send6(&PEER6, &ALL_NODES, NH_TCP, 64, t, 20);
	p6_run(3 * MS);
	assert_int_equal(find_tcp(0), -1);
	assert_null(f);
	p6_down();
}

/* ip.h: sl_ip_mtu is the payload that fits in one packet: 1500 − 40 over IPv6, and what a
 * Packet Too Big left (1300 − 40). sl_ip_src picks our address. */
static void test_ipv6_ip_mtu_and_src(void **state)
{
	up();
	assert_int_equal(sl_ip_mtu(X.st, &PEER6), 1460);
	sl_ip src;
	assert_int_equal(sl_ip_src(X.st, &PEER6, &src), 0);
	assert_true(ip_eq(&src, &ST6));
	unsigned idx;
	struct v6 v = stack_udp(4020, 1400, &idx);
	send_error(ICMP6_PTB, 0, 1300, v.ip, v.iplen);
	p6_run(3 * MS);
	assert_int_equal(sl_ip_mtu(X.st, &PEER6), 1260);
	p6_down();
}

#define T6(t) cmocka_unit_test_teardown(t, p6_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T6(test_ipv6_echo_control),
	    T6(test_ipv6_bad_version_dropped),
	    T6(test_ipv6_plen_beyond_frame_dropped),
	    T6(test_ipv6_plen_zero_dropped),
	    T6(test_ipv6_eth_padding_ignored),
	    T6(test_ipv6_dst_not_ours_dropped),
	    T6(test_ipv6_src_multicast_dropped),
	    T6(test_ipv6_hbh_first_accepted),
	    T6(test_ipv6_hbh_not_first_param_problem),
	    T6(test_ipv6_opt_unknown_00_skipped),
	    T6(test_ipv6_opt_unknown_01_discarded),
	    T6(test_ipv6_opt_unknown_10_param_problem),
	    T6(test_ipv6_opt_unknown_11_unicast_only),
	    T6(test_ipv6_opt_unknown_pointer_second_option),
	    T6(test_ipv6_pad1_padn_accepted),
	    T6(test_ipv6_opt_overrun_dropped),
	    T6(test_ipv6_ext_len_past_packet_dropped),
	    T6(test_ipv6_rh0_segments_left_param_problem),
	    T6(test_ipv6_rh0_segments_left_zero_ignored),
	    T6(test_ipv6_routing_unknown_type_param_problem),
	    T6(test_ipv6_unknown_next_header_param_problem),
	    T6(test_ipv6_no_next_header_silent),
	    T6(test_ipv6_frag_reasm_out_of_order),
	    T6(test_ipv6_frag_reasm_two_and_big_reply),
	    T6(test_ipv6_frag_overlap_drops_datagram),
	    T6(test_ipv6_frag_overlap_first_bytes),
	    T6(test_ipv6_frag_subset_overlap_drops_datagram),
	    T6(test_ipv6_frag_exact_duplicate_tolerated),
	    T6(test_ipv6_atomic_fragment_processed),
	    T6(test_ipv6_frag_first_without_upper_header_dropped),
	    T6(test_ipv6_frag_len_not_multiple_of_8_dropped),
	    T6(test_ipv6_frag_len_not_multiple_of_8_param_problem),
	    T6(test_ipv6_frag_beyond_65535_param_problem),
	    T6(test_ipv6_reasm_timeout_time_exceeded),
	    T6(test_ipv6_udp_output_fragmented),
	    T6(test_ipv6_frag_ids_differ),
	    T6(test_ipv6_udp_dont_fragment),
	    T6(test_icmp6_echo_reply),
	    T6(test_icmp6_echo_reply_traffic_class),
	    T6(test_icmp6_echo_all_nodes_answered_from_unicast),
	    T6(test_icmp6_bad_csum_dropped),
	    T6(test_icmp6_port_unreachable),
	    T6(test_icmp6_no_error_for_error_behind_ext),
	    T6(test_icmp6_no_error_for_error_fragment_timeout),
	    T6(test_icmp6_no_error_to_multicast_dst),
	    T6(test_icmp6_error_fits_1280),
	    T6(test_icmp6_ptb_lowers_pmtu),
	    T6(test_icmp6_ptb_below_1280_ignored),
	    T6(test_icmp6_ptb_1280_exact),
	    T6(test_icmp6_error_reaches_udp_callback),
	    T6(test_udp6_zero_checksum_discarded),
	    T6(test_udp6_tx_zero_checksum_sent_as_ffff),
	    T6(test_tcp6_synack_mss_1440),
	    T6(test_tcp6_closed_port_rst),
	    T6(test_tcp6_bad_checksum_dropped),
	    T6(test_ipv6_src_unspecified_dropped),
	    T6(test_ipv6_src_loopback_dropped),
	    T6(test_ipv6_src_v4mapped_dropped),
	    T6(test_ipv6_dst_v4mapped_not_ours),
	    T6(test_icmp6_unknown_types_silent),
	    T6(test_icmp6_errors_rate_limited),
	    T6(test_icmp6_ptb_does_not_raise_pmtu),
	    T6(test_icmp6_pmtu_kept_5_minutes),
	    T6(test_tcp6_ptb_lowers_segments),
	    T6(test_ipv6_frag_with_dstopt_in_fragmentable_part),
	    T6(test_ipv6_frag_same_id_different_src),
	    T6(test_ipv6_offlink_via_gateway6),
	    T6(test_ipv6_linklocal_is_onlink),
	    T6(test_icmp6_write_echo_and_reply_callback),
	    T6(test_udp6_write_bad_source_refused),
	    T6(test_tcp6_syn_to_multicast_ignored),
	    T6(test_ipv6_ip_mtu_and_src),
	};
	return cmocka_run_group_tests_name("ipv6", tests, NULL, NULL);
}
