/*
 * Routes (include/sluice/ip.h: sl_ip_add_route, sl_ip_del_route, SL_MAX_ROUTES,
 * sl_ip_set_gateway, sl_ip_src), over the pipe with simulated time. Written from the header's
 * contract, RFC 1812 §5.2.4.3 (longest match) and RFC 4861 §5.2 (next-hop determination), not
 * from user/.
 *
 * One shared-mode stack (10.0.0.1/24, fd00::1/64) with a neigh_resolve hook on one end of a
 * pipe; the test on the other end captures every frame. The hook records the address it is
 * asked for (the next hop) and answers at once, in the hook, with a MAC derived from that
 * address (nh_mac): the destination MAC of a datagram then names the next hop the stack
 * chose, cached neighbour or not.
 *
 *  - a route via a gateway: the hook is asked for the gateway, never for the destination;
 *    the frame goes to the gateway's MAC with the final destination's IP; an on-link route
 *    (gw 0.0.0.0 / ::) makes the destination its own next hop. IPv4 and IPv6.
 *  - longest match among routes (both orders of insertion) and the on-link prefixes: a host
 *    route inside an on-link prefix beats it, a longer route inside it too; a route with the
 *    on-link prefix's length loses the tie; the default route only when nothing longer
 *    matches; the families stay apart.
 *  - replace, delete (unreachable after, or the default), masking, the errors, SL_MAX_ROUTES,
 *    plen 0 as sl_ip_set_gateway.
 *  - a route change takes effect for a destination already sent to (a cached path must not
 *    survive it), through sl_udp_write with and without options (its fast path over a cached
 *    path) and for a TCP SYN retransmitted after the change; an address added or removed
 *    moves the on-link prefixes against the routes in the same way.
 *
 * Checked against the implementation by breaking it on purpose (each one failed here): no
 * path-cache bump in add/del route, set_gateway, add/del address of either family; the UDP
 * fast path ignoring the generation; first match instead of longest (either family); a route
 * winning a tie with the on-link prefix (either family); no masking (add or lookup of the
 * prefix); no replace; del ignoring plen; del of a missing default returning 0; plen 0 kept as
 * a route; an on-link route's next hop taken as 0.0.0.0 / ::; IPv4 plen allowed to 128;
 * families mixed; broadcast / IPv6 loopback gateways allowed; -ENOSPC one early; a family's
 * lookup taking the other's routes.
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"

#define MS 1000000ULL
#define SEC (1000 * MS)

#define ST4 0x0a000001u	 /* 10.0.0.1/24: the stack */
#define NB4 0x0a000002u	 /* 10.0.0.2: on-link */
#define GW4 0x0a0000feu	 /* 10.0.0.254 */
#define GW4B 0x0a0000fdu /* 10.0.0.253 */
#define GW4C 0x0a0000fcu /* 10.0.0.252 */
#define FAR4 0xc0000207u /* 192.0.2.7 */

#define ET_IP4 0x0800
#define ET_IP6 0x86dd

/* --- the harness ------------------------------------------------------------------------ */

#define CAPMAX 4096
#define CAPLEN 128

struct cap {
	uint32_t len;
	uint8_t b[CAPLEN];
};

#define ASKMAX 1024

static struct {
	bool up;
	struct sl_dev *sd, *pd;
	struct sl_stack *st;
	uint64_t now;
	struct cap *cap;
	unsigned ncap;
	sl_ip ask[ASKMAX];
	unsigned nask;
	int set_rc; /* the last sl_neigh_set in the hook */
} H;

/* The MAC the test gives to ip: 02 then the 16 bytes folded into 5. */
static void nh_mac(const sl_ip *ip, uint8_t m[6])
{
	memset(m, 0, 6);
	m[0] = 0x02;
	for (unsigned i = 0; i < 16; i++)
		m[1 + i % 5] ^= ip->b[i];
}

static void hook(void *arg, struct sl_stack *st, const sl_ip *ip)
{
	assert_ptr_equal(arg, &H);
	if (H.nask < ASKMAX)
		H.ask[H.nask] = *ip;
	H.nask++;
	uint8_t m[6];
	nh_mac(ip, m);
	H.set_rc = sl_neigh_set(st, ip, m);
}

static sl_ip ipa(const char *s)
{
	sl_ip a;
	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

static struct sl_stack_config cfg(void)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = sl_ip_v4(ST4);
	c.addrs[0].prefix_len = 24;
	c.addrs[1].addr = ipa("fd00::1");
	c.addrs[1].prefix_len = 64;
	c.n_addrs = 2;
	c.seed = tu_seed(23);
	c.deterministic_secrets = true;
	c.arp_retries = 3;
	c.arp_retry_ns = 1 * SEC;
	c.arp_reachable_ns = 30 * SEC;
	c.shared_addrs = true;
	c.neigh_resolve = hook;
	c.neigh_resolve_arg = &H;
	return c;
}

static void collect(void)
{
	struct sl_frame fr[64];
	int n;
	while ((n = H.pd->ops->rx(H.pd, fr, 64, H.now)) > 0) {
		for (int i = 0; i < n; i++) {
			assert_true(H.ncap < CAPMAX);
			struct cap *c = &H.cap[H.ncap++];
			c->len = fr[i].len;
			memcpy(c->b, fr[i].data, fr[i].len < CAPLEN ? fr[i].len : CAPLEN);
			H.pd->ops->release(H.pd, &fr[i]);
		}
	}
	H.pd->ops->flush(H.pd, H.now);
}

static void h_poll(void)
{
	for (int k = 0; k < 3; k++) {
		sl_stack_poll(H.st, H.now);
		collect();
		H.now += MS;
	}
}

static void h_open_cfg(const struct sl_stack_config *c)
{
	memset(&H, 0, sizeof H);
	H.cap = calloc(CAPMAX, sizeof *H.cap);
	assert_non_null(H.cap);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &H.sd, &H.pd), 0);
	H.now = 1000 * MS;
	assert_int_equal(sl_stack_open(H.sd, c, H.now, &H.st), 0);
	H.up = true;
}

static void h_open(void)
{
	struct sl_stack_config c = cfg();
	h_open_cfg(&c);
}

static void h_down(void)
{
	sl_stack_close(H.st);
	H.up = false;
	pn_close_counted(H.sd, H.pd);
	free(H.cap);
	H.cap = NULL;
}

static int h_teardown(void **state)
{
	if (H.up) {
		sl_stack_close(H.st);
		sl_dev_close(H.sd);
		sl_dev_close(H.pd);
		H.up = false;
	}
	free(H.cap);
	H.cap = NULL;
	return 0;
}

/* --- sending and checking ----------------------------------------------------------------- */

static const char *str(const sl_ip *a)
{
	static char b[4][64];
	static unsigned k;
	k = (k + 1) % 4;
	return sl_ip_str(a, b[k], sizeof b[k]);
}

static void dump(unsigned from, unsigned ask_from)
{
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *c = &H.cap[i];
		print_message("  [%u] len=%u type=%04x dst=%02x:%02x:%02x:%02x:%02x:%02x\n", i,
			      c->len, get16(c->b + 12), c->b[0], c->b[1], c->b[2], c->b[3], c->b[4],
			      c->b[5]);
	}
	for (unsigned k = ask_from; k < H.nask && k < ASKMAX; k++)
		print_message("  ask %u: %s\n", k, str(&H.ask[k]));
}

static int find_udp(unsigned from, uint32_t tag)
{
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *c = &H.cap[i];
		const uint8_t *u = NULL;
		if (get16(c->b + 12) == ET_IP4 && c->len >= 14 + 20 + 12 && c->b[14 + 9] == 17)
			u = c->b + 14 + (c->b[14] & 0xf) * 4;
		else if (get16(c->b + 12) == ET_IP6 && c->len >= 14 + 40 + 12 && c->b[14 + 6] == 17)
			u = c->b + 14 + 40;
		if (u && get16(u + 2) == 5555 && get32(u + 8) == tag)
			return (int)i;
	}
	return -1;
}

static bool asked(unsigned from, const sl_ip *ip)
{
	for (unsigned k = from; k < H.nask && k < ASKMAX; k++)
		if (sl_ip_eq(&H.ask[k], ip))
			return true;
	return false;
}

static bool asked_ever(const sl_ip *ip)
{
	return asked(0, ip);
}

/* fast: with a source port (sl_udp_write's cached-path fast path), else o NULL. */
static int udp_write_o(const sl_ip *dst, uint32_t tag, bool fast)
{
	uint8_t d[8];
	put32(d, tag);
	put32(d + 4, 0x5a5a5a5a);
	struct sl_udp_write_opts o = {.src_port = 4000};
	return sl_udp_write(H.st, fast ? &o : NULL, dst, 5555, d, sizeof d);
}

static uint32_t g_tag = 1;

/* A datagram to dst leaves once, to the MAC of next hop nh, with dst as its IP destination
 * and the source sl_ip_src names; the hook was asked for nh (now or before) and, when nh is
 * not dst, not for dst since this send. */
static void expect_via_o(const sl_ip *dst, const sl_ip *nh, bool fast)
{
	unsigned from = H.ncap, ask_from = H.nask;
	uint32_t tag = g_tag++;
	sl_ip src;
	int r = sl_ip_src(H.st, dst, &src);
	if (r != 0)
		print_message("sl_ip_src(%s) = %d, next hop %s expected\n", str(dst), r, str(nh));
	assert_int_equal(r, 0);
	r = udp_write_o(dst, tag, fast);
	if (r != 0)
		print_message("sl_udp_write(%s) = %d\n", str(dst), r);
	assert_int_equal(r, 0);
	h_poll();
	int i = find_udp(from, tag);
	uint8_t m[6];
	nh_mac(nh, m);
	if (i < 0 || memcmp(H.cap[i].b, m, 6) != 0 || !asked_ever(nh) ||
	    (!sl_ip_eq(nh, dst) && asked(ask_from, dst))) {
		print_message("to %s: expected next hop %s (%02x:%02x:%02x:%02x:%02x:%02x), "
			      "frame %d; captured and asked:\n",
			      str(dst), str(nh), m[0], m[1], m[2], m[3], m[4], m[5], i);
		dump(from, ask_from);
	}
	assert_true(i >= 0);
	const struct cap *c = &H.cap[i];
	assert_memory_equal(c->b, m, 6);
	assert_memory_equal(c->b + 6, H.sd->mac, 6);
	assert_true(asked_ever(nh));
	if (!sl_ip_eq(nh, dst))
		assert_false(asked(ask_from, dst));
	assert_int_equal(H.set_rc, 0);
	if (sl_ip_is_v4(dst)) {
		assert_int_equal(get16(c->b + 12), ET_IP4);
		assert_memory_equal(c->b + 14 + 16, dst->b + 12, 4);
		assert_memory_equal(c->b + 14 + 12, src.b + 12, 4);
	} else {
		assert_int_equal(get16(c->b + 12), ET_IP6);
		assert_memory_equal(c->b + 14 + 24, dst->b, 16);
		assert_memory_equal(c->b + 14 + 8, src.b, 16);
	}
	assert_int_equal(find_udp((unsigned)i + 1, tag), -1);
}

/* Both ways: sl_udp_write without options, then with a source port (its fast path over a
 * cached path). */
static void expect_via(const sl_ip *dst, const sl_ip *nh)
{
	expect_via_o(dst, nh, false);
	expect_via_o(dst, nh, true);
}

/* No route to dst: sl_ip_src and sl_udp_write both -ENETUNREACH, nothing sent. */
static void expect_unreach(const sl_ip *dst)
{
	unsigned from = H.ncap;
	sl_ip src;
	int r = sl_ip_src(H.st, dst, &src);
	if (r != -ENETUNREACH)
		print_message("sl_ip_src(%s) = %d, -ENETUNREACH expected\n", str(dst), r);
	assert_int_equal(r, -ENETUNREACH);
	for (int fast = 0; fast < 2; fast++) {
		uint32_t tag = g_tag++;
		r = udp_write_o(dst, tag, fast);
		if (r != -ENETUNREACH)
			print_message("sl_udp_write(%s) = %d, -ENETUNREACH expected\n", str(dst),
				      r);
		assert_int_equal(r, -ENETUNREACH);
		h_poll();
		assert_int_equal(find_udp(from, tag), -1);
	}
}

static int add(const char *prefix, uint8_t plen, const char *gw)
{
	sl_ip p = ipa(prefix), g = ipa(gw);
	return sl_ip_add_route(H.st, &p, plen, &g);
}

static int del(const char *prefix, uint8_t plen)
{
	sl_ip p = ipa(prefix);
	return sl_ip_del_route(H.st, &p, plen);
}

static int set_gw(const char *gw)
{
	sl_ip g = ipa(gw);
	return sl_ip_set_gateway(H.st, &g);
}

#define VIA(dst, nh)                                                                               \
	do {                                                                                       \
		sl_ip d_ = ipa(dst), n_ = ipa(nh);                                                 \
		expect_via(&d_, &n_);                                                              \
	} while (0)
#define UNREACH(dst)                                                                               \
	do {                                                                                       \
		sl_ip d_ = ipa(dst);                                                               \
		expect_unreach(&d_);                                                               \
	} while (0)

/* --- via a gateway, on the link ---------------------------------------------------------- */

/* IPv4: 192.0.2.0/24 via 10.0.0.254. A destination inside: the hook is asked for the
 * gateway (not the destination), the frame goes to its MAC with 192.0.2.7 as destination.
 * Outside: still unreachable (no default). */
static void test_v4_via_gateway(void **state)
{
	h_open();
	UNREACH("192.0.2.7");
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	assert_int_equal(H.nask, 1); /* the gateway, once */
	VIA("192.0.2.255", "10.0.0.254");
	VIA("192.0.2.0", "10.0.0.254");
	UNREACH("192.0.3.1");
	UNREACH("198.51.100.1");
	VIA("10.0.0.2", "10.0.0.2"); /* on-link stays */
	h_down();
}

/* IPv6: 2001:db8::/32 via the link-local router fe80::1, and a second one through a global
 * router address inside the on-link prefix. */
static void test_v6_via_gateway(void **state)
{
	h_open();
	UNREACH("2001:db8::7");
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
	assert_int_equal(add("2001:db9::", 32, "fd00::fe"), 0);
	VIA("2001:db8::7", "fe80::1");
	VIA("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1");
	VIA("2001:db9:1::7", "fd00::fe");
	UNREACH("2001:dba::1");
	UNREACH("2001:db7:ffff::1");
	VIA("fd00::2", "fd00::2");
	/* The IPv4 side has no route from it. */
	UNREACH("192.0.2.7");
	h_down();
}

/* A route with the unspecified gateway is on the link: the destination is its own next hop,
 * for either family. */
static void test_onlink_route(void **state)
{
	h_open();
	assert_int_equal(add("192.0.2.0", 24, "0.0.0.0"), 0);
	assert_int_equal(add("2001:db8:1::", 48, "::"), 0);
	VIA("192.0.2.7", "192.0.2.7");
	VIA("192.0.2.200", "192.0.2.200");
	VIA("2001:db8:1::7", "2001:db8:1::7");
	VIA("2001:db8:1:ff::9", "2001:db8:1:ff::9");
	UNREACH("192.0.3.7");
	UNREACH("2001:db8:2::7");
	h_down();
}

/* The families stay apart: an IPv6 route whose prefix covers ::ffff:0:0/96 (where IPv4 is
 * stored, ::ffff:0:0/96) gives no IPv4 destination a route, and an IPv4 route none to IPv6. */
static void test_families_apart(void **state)
{
	h_open();
	assert_int_equal(add("::", 8, "fe80::1"), 0);
	UNREACH("192.0.2.7");
	UNREACH("10.1.0.1");
	VIA("10.0.0.2", "10.0.0.2");
	assert_int_equal(del("::", 8), 0);
	assert_int_equal(add("192.0.0.0", 8, "10.0.0.254"), 0);
	assert_int_equal(add("0.0.0.0", 1, "10.0.0.253"), 0);
	UNREACH("2001:db8::7");
	VIA("192.0.2.7", "10.0.0.254");
	VIA("11.0.0.1", "10.0.0.253");
	h_down();
}

/* --- longest match --------------------------------------------------------------------------- */

/* Two overlapping routes, added in both orders: the longer one wins inside it, the shorter
 * elsewhere in it (RFC 1812 §5.2.4.3). */
static void test_longest_match_v4(void **state)
{
	for (int order = 0; order < 2; order++) {
		h_open();
		if (order == 0) {
			assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
			assert_int_equal(add("192.0.2.128", 25, "10.0.0.253"), 0);
			assert_int_equal(add("192.0.0.0", 16, "10.0.0.252"), 0);
		} else {
			assert_int_equal(add("192.0.0.0", 16, "10.0.0.252"), 0);
			assert_int_equal(add("192.0.2.128", 25, "10.0.0.253"), 0);
			assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
		}
		VIA("192.0.2.7", "10.0.0.254");
		VIA("192.0.2.127", "10.0.0.254");
		VIA("192.0.2.128", "10.0.0.253");
		VIA("192.0.2.200", "10.0.0.253");
		VIA("192.0.3.1", "10.0.0.252");
		VIA("192.0.255.1", "10.0.0.252");
		UNREACH("192.1.0.1");
		h_down();
	}
}

static void test_longest_match_v6(void **state)
{
	for (int order = 0; order < 2; order++) {
		h_open();
		if (order == 0) {
			assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
			assert_int_equal(add("2001:db8:1::", 48, "fe80::2"), 0);
			assert_int_equal(add("2001:db8:1:2::", 64, "fe80::3"), 0);
			assert_int_equal(add("2001:db8:1:2::80", 121, "fe80::4"), 0);
		} else {
			assert_int_equal(add("2001:db8:1:2::80", 121, "fe80::4"), 0);
			assert_int_equal(add("2001:db8:1:2::", 64, "fe80::3"), 0);
			assert_int_equal(add("2001:db8:1::", 48, "fe80::2"), 0);
			assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
		}
		VIA("2001:db8::7", "fe80::1");
		VIA("2001:db8:2::7", "fe80::1");
		VIA("2001:db8:1::7", "fe80::2");
		VIA("2001:db8:1:3::7", "fe80::2");
		VIA("2001:db8:1:2::7", "fe80::3");
		VIA("2001:db8:1:2::ff", "fe80::4");
		VIA("2001:db8:1:2::80", "fe80::4");
		VIA("2001:db8:1:2::100", "fe80::3");
		UNREACH("2001:db9::1");
		h_down();
	}
}

/* A host route (/32, /128) inside an on-link prefix beats it: that one address goes through
 * the gateway, its neighbours stay direct. A longer route inside the on-link prefix beats it
 * too. */
static void test_host_route_beats_onlink(void **state)
{
	h_open();
	assert_int_equal(add("10.0.0.9", 32, "10.0.0.254"), 0);
	assert_int_equal(add("fd00::9", 128, "fe80::1"), 0);
	VIA("10.0.0.9", "10.0.0.254");
	VIA("10.0.0.8", "10.0.0.8");
	VIA("10.0.0.10", "10.0.0.10");
	VIA("fd00::9", "fe80::1");
	VIA("fd00::8", "fd00::8");
	VIA("fd00::a", "fd00::a");
	assert_int_equal(add("10.0.0.128", 25, "10.0.0.253"), 0);
	assert_int_equal(add("fd00::8000:0:0:0", 65, "fe80::2"), 0);
	VIA("10.0.0.200", "10.0.0.253");
	VIA("10.0.0.100", "10.0.0.100");
	VIA("fd00::8000:0:0:7", "fe80::2");
	VIA("fd00::7fff:0:0:7", "fd00::7fff:0:0:7");
	h_down();
}

/* A route with the same prefix length as an on-link prefix loses the tie: 10.0.0.0/24 and
 * fd00::/64 via a gateway leave their destinations on the link. A shorter route covering the
 * on-link prefix loses too, and carries only what lies outside it. */
static void test_onlink_wins_tie(void **state)
{
	h_open();
	assert_int_equal(add("10.0.0.0", 24, "10.0.0.254"), 0);
	assert_int_equal(add("fd00::", 64, "fe80::1"), 0);
	VIA("10.0.0.2", "10.0.0.2");
	VIA("10.0.0.77", "10.0.0.77");
	VIA("fd00::2", "fd00::2");
	VIA("fd00::1:2:3:4", "fd00::1:2:3:4");
	assert_int_equal(add("10.0.0.0", 23, "10.0.0.253"), 0);
	assert_int_equal(add("fd00::", 63, "fe80::2"), 0);
	VIA("10.0.0.3", "10.0.0.3");
	VIA("10.0.1.3", "10.0.0.253");
	VIA("fd00::3", "fd00::3");
	VIA("fd00:0:0:1::3", "fe80::2");
	h_down();
}

/* The default route only when nothing longer matches: on-link first, then the routes, then
 * the default; for either family, set either way. */
static void test_default_last(void **state)
{
	h_open();
	assert_int_equal(set_gw("10.0.0.254"), 0);
	assert_int_equal(add("::", 0, "fe80::1"), 0);
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.253"), 0);
	assert_int_equal(add("2001:db8::", 32, "fe80::2"), 0);
	VIA("192.0.2.7", "10.0.0.253");
	VIA("198.51.100.1", "10.0.0.254");
	VIA("10.0.0.2", "10.0.0.2");
	VIA("2001:db8::7", "fe80::2");
	VIA("2001:db9::7", "fe80::1");
	VIA("fd00::2", "fd00::2");
	/* And a more specific default-like route, 0.0.0.0/1, beats the default. */
	assert_int_equal(add("0.0.0.0", 1, "10.0.0.252"), 0);
	VIA("11.0.0.1", "10.0.0.252");
	VIA("198.51.100.1", "10.0.0.254");
	h_down();
}

/* --- replace, delete, masking ---------------------------------------------------------------- */

/* Adding a route to a prefix that has one replaces it: the new gateway is used, one delete
 * removes it, and it takes no second slot (SL_MAX_ROUTES routes, each replaced, all fit). */
static void test_replace(void **state)
{
	h_open();
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("2001:db8::7", "fe80::1");
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.253"), 0);
	assert_int_equal(add("2001:db8::", 32, "fe80::2"), 0);
	VIA("192.0.2.7", "10.0.0.253");
	VIA("2001:db8::7", "fe80::2");
	/* Replaced by an on-link route, and back. */
	assert_int_equal(add("192.0.2.0", 24, "0.0.0.0"), 0);
	assert_int_equal(add("2001:db8::", 32, "::"), 0);
	VIA("192.0.2.8", "192.0.2.8");
	VIA("2001:db8::8", "2001:db8::8");
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.252"), 0);
	VIA("192.0.2.9", "10.0.0.252");
	/* One delete and it is gone: nothing left behind of the earlier ones. */
	assert_int_equal(del("192.0.2.0", 24), 0);
	assert_int_equal(del("2001:db8::", 32), 0);
	UNREACH("192.0.2.7");
	UNREACH("2001:db8::7");
	assert_int_equal(del("192.0.2.0", 24), -ENOENT);
	assert_int_equal(del("2001:db8::", 32), -ENOENT);
	h_down();
}

static void test_replace_takes_no_slot(void **state)
{
	h_open();
	char p[32];
	for (unsigned k = 0; k < SL_MAX_ROUTES; k++) {
		snprintf(p, sizeof p, "172.16.%u.0", k);
		assert_int_equal(add(p, 24, "10.0.0.254"), 0);
	}
	for (unsigned k = 0; k < SL_MAX_ROUTES; k++) {
		snprintf(p, sizeof p, "172.16.%u.0", k);
		int r = add(p, 24, "10.0.0.253");
		if (r != 0)
			print_message("replacing route %u of a full table: %d\n", k, r);
		assert_int_equal(r, 0);
	}
	VIA("172.16.0.1", "10.0.0.253");
	VIA("172.16.31.1", "10.0.0.253");
	h_down();
}

/* Deleted, a route is no longer used: the destination is unreachable without a default,
 * through the default with one, on the link inside an on-link prefix. Only the exact
 * prefix/plen is deleted. */
static void test_delete(void **state)
{
	h_open();
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	assert_int_equal(add("192.0.2.0", 25, "10.0.0.253"), 0);
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
	assert_int_equal(del("192.0.2.0", 23), -ENOENT);
	assert_int_equal(del("192.0.2.0", 26), -ENOENT);
	assert_int_equal(del("192.0.3.0", 24), -ENOENT);
	assert_int_equal(del("2001:db8::", 48), -ENOENT);
	assert_int_equal(del("2001:db8::", 31), -ENOENT);
	VIA("192.0.2.7", "10.0.0.253");
	VIA("192.0.2.200", "10.0.0.254");
	assert_int_equal(del("192.0.2.0", 25), 0);
	VIA("192.0.2.7", "10.0.0.254");
	assert_int_equal(del("192.0.2.0", 24), 0);
	UNREACH("192.0.2.7");
	UNREACH("192.0.2.200");
	assert_int_equal(del("192.0.2.0", 24), -ENOENT);
	assert_int_equal(del("2001:db8::", 32), 0);
	UNREACH("2001:db8::7");
	/* With a default: back to it. */
	assert_int_equal(set_gw("10.0.0.252"), 0);
	assert_int_equal(set_gw("fe80::3"), 0);
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("2001:db8::7", "fe80::1");
	assert_int_equal(del("192.0.2.0", 24), 0);
	assert_int_equal(del("2001:db8::", 32), 0);
	VIA("192.0.2.7", "10.0.0.252");
	VIA("2001:db8::7", "fe80::3");
	/* A host route inside the on-link prefix, deleted: on the link again. */
	assert_int_equal(add("10.0.0.9", 32, "10.0.0.254"), 0);
	VIA("10.0.0.9", "10.0.0.254");
	assert_int_equal(del("10.0.0.9", 32), 0);
	VIA("10.0.0.9", "10.0.0.9");
	h_down();
}

/* The prefix is masked to plen: 10.1.2.3/16 is 10.1.0.0/16 (all of it, not only what lies
 * near 10.1.2.3), found again as 10.1.0.0/16 or 10.1.255.255/16 to replace and delete. */
static void test_masking(void **state)
{
	h_open();
	assert_int_equal(add("10.1.2.3", 16, "10.0.0.254"), 0);
	VIA("10.1.2.3", "10.0.0.254");
	VIA("10.1.200.1", "10.0.0.254");
	VIA("10.1.0.0", "10.0.0.254");
	UNREACH("10.2.2.3");
	UNREACH("10.0.2.3");
	/* The same prefix: replaced, not added. */
	assert_int_equal(add("10.1.0.0", 16, "10.0.0.253"), 0);
	VIA("10.1.2.3", "10.0.0.253");
	assert_int_equal(del("10.1.255.255", 16), 0);
	UNREACH("10.1.2.3");
	assert_int_equal(del("10.1.0.0", 16), -ENOENT);
	/* IPv6, at a boundary inside a byte. */
	assert_int_equal(add("2001:db8:1234:5678::9", 36, "fe80::1"), 0);
	VIA("2001:db8:1000::1", "fe80::1");
	VIA("2001:db8:1fff:ffff::1", "fe80::1");
	UNREACH("2001:db8:2000::1");
	UNREACH("2001:db8:0fff::1");
	assert_int_equal(del("2001:db8:1000::", 36), 0);
	UNREACH("2001:db8:1234:5678::9");
	/* An IPv4 /n at a boundary inside a byte. */
	assert_int_equal(add("192.0.2.77", 27, "10.0.0.254"), 0);
	VIA("192.0.2.64", "10.0.0.254");
	VIA("192.0.2.95", "10.0.0.254");
	UNREACH("192.0.2.63");
	UNREACH("192.0.2.96");
	assert_int_equal(del("192.0.2.64", 27), 0);
	h_down();
}

/* --- errors and limits -------------------------------------------------------------------- */

/* -EINVAL: families mixed, plen too long (IPv4 counts 0..32 bits), a multicast, loopback or
 * broadcast gateway; nothing is added. The limits themselves, /32 and /128, are fine. */
static void test_errors(void **state)
{
	h_open();
	static const struct {
		const char *prefix;
		uint8_t plen;
		const char *gw;
	} bad[] = {
	    {"192.0.2.0", 24, "fe80::1"},     {"192.0.2.0", 24, "::"},
	    {"2001:db8::", 32, "10.0.0.254"}, {"2001:db8::", 32, "0.0.0.0"},
	    {"192.0.2.0", 33, "10.0.0.254"},  {"192.0.2.0", 64, "10.0.0.254"},
	    {"192.0.2.0", 120, "10.0.0.254"}, {"192.0.2.0", 128, "10.0.0.254"},
	    {"192.0.2.0", 255, "10.0.0.254"}, {"2001:db8::", 129, "fe80::1"},
	    {"2001:db8::", 255, "fe80::1"},   {"192.0.2.0", 24, "224.0.0.1"},
	    {"192.0.2.0", 24, "239.1.2.3"},   {"192.0.2.0", 24, "127.0.0.1"},
	    {"192.0.2.0", 24, "127.1.2.3"},   {"192.0.2.0", 24, "255.255.255.255"},
	    {"192.0.2.0", 24, "10.0.0.255"},  {"2001:db8::", 32, "ff02::1"},
	    {"2001:db8::", 32, "ff05::2"},    {"2001:db8::", 32, "::1"},
	    {"0.0.0.0", 0, "224.0.0.1"},      {"::", 0, "ff02::2"},
	    {"0.0.0.0", 0, "fe80::1"},	      {"::", 0, "10.0.0.254"},
	};
	for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		int r = add(bad[k].prefix, bad[k].plen, bad[k].gw);
		if (r != -EINVAL)
			print_message("sl_ip_add_route(%s/%u via %s) = %d, -EINVAL expected\n",
				      bad[k].prefix, bad[k].plen, bad[k].gw, r);
		assert_int_equal(r, -EINVAL);
	}
	UNREACH("192.0.2.7");
	UNREACH("2001:db8::7");
	UNREACH("198.51.100.1");
	UNREACH("2001:db9::7");
	/* Nothing half-added: there is nothing to delete. */
	assert_int_equal(del("192.0.2.0", 24), -ENOENT);
	assert_int_equal(del("2001:db8::", 32), -ENOENT);
	/* The longest prefixes are allowed. */
	assert_int_equal(add("192.0.2.7", 32, "10.0.0.254"), 0);
	assert_int_equal(add("2001:db8::7", 128, "fe80::1"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("2001:db8::7", "fe80::1");
	UNREACH("192.0.2.6");
	UNREACH("2001:db8::6");
	/* A failed replace leaves the route in place. */
	assert_int_equal(add("192.0.2.7", 32, "224.0.0.1"), -EINVAL);
	assert_int_equal(add("2001:db8::7", 128, "ff02::1"), -EINVAL);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("2001:db8::7", "fe80::1");
	h_down();
}

/* SL_MAX_ROUTES routes fit and each is used; one more is -ENOSPC and changes nothing;
 * deleting one makes room. */
static void test_max_routes(void **state)
{
	h_open();
	char p[32], d[32];
	for (unsigned k = 0; k < SL_MAX_ROUTES; k++) {
		snprintf(p, sizeof p, "172.16.%u.0", k);
		int r = add(p, 24, k % 2 ? "10.0.0.254" : "10.0.0.253");
		if (r != 0)
			print_message("route %u: %d\n", k, r);
		assert_int_equal(r, 0);
	}
	for (unsigned k = 0; k < SL_MAX_ROUTES; k++) {
		snprintf(d, sizeof d, "172.16.%u.9", k);
		VIA(d, k % 2 ? "10.0.0.254" : "10.0.0.253");
	}
	assert_int_equal(add("172.17.0.0", 24, "10.0.0.254"), -ENOSPC);
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), -ENOSPC);
	UNREACH("172.17.0.9");
	UNREACH("2001:db8::9");
	assert_int_equal(del("172.17.0.0", 24), -ENOENT);
	assert_int_equal(del("172.16.5.0", 24), 0);
	UNREACH("172.16.5.9");
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
	VIA("2001:db8::9", "fe80::1");
	assert_int_equal(add("172.17.0.0", 24, "10.0.0.254"), -ENOSPC);
	for (unsigned k = 0; k < SL_MAX_ROUTES; k++) {
		if (k == 5)
			continue;
		snprintf(d, sizeof d, "172.16.%u.9", k);
		VIA(d, k % 2 ? "10.0.0.254" : "10.0.0.253");
	}
	h_down();
}

/* The default gateway is not one of the SL_MAX_ROUTES routes: with the table full,
 * sl_ip_set_gateway (whose contract has no -ENOSPC) still sets and clears it. */
static void test_max_routes_default_apart(void **state)
{
	h_open();
	char p[32];
	for (unsigned k = 0; k < SL_MAX_ROUTES; k++) {
		snprintf(p, sizeof p, "172.16.%u.0", k);
		assert_int_equal(add(p, 24, "10.0.0.253"), 0);
	}
	assert_int_equal(add("172.17.0.0", 24, "10.0.0.254"), -ENOSPC);
	assert_int_equal(set_gw("10.0.0.254"), 0);
	assert_int_equal(set_gw("fe80::1"), 0);
	VIA("198.51.100.1", "10.0.0.254");
	VIA("2001:db8::1", "fe80::1");
	VIA("172.16.3.1", "10.0.0.253");
	assert_int_equal(set_gw("0.0.0.0"), 0);
	UNREACH("198.51.100.1");
	h_down();
}

/* --- plen 0: the default route ------------------------------------------------------------- */

/* sl_ip_add_route(0.0.0.0/0, gw) is sl_ip_set_gateway(gw), sl_ip_del_route(0.0.0.0/0) is
 * sl_ip_set_gateway(0.0.0.0), each seeing what the other did; del of a missing default is
 * -ENOENT. Per family. */
static void test_default_is_gateway_v4(void **state)
{
	h_open();
	assert_int_equal(del("0.0.0.0", 0), -ENOENT);
	UNREACH("198.51.100.1");
	assert_int_equal(add("0.0.0.0", 0, "10.0.0.254"), 0);
	VIA("198.51.100.1", "10.0.0.254");
	assert_int_equal(del("0.0.0.0", 0), 0);
	UNREACH("198.51.100.1");
	assert_int_equal(del("0.0.0.0", 0), -ENOENT);
	/* Set with sl_ip_set_gateway, deleted as a route. */
	assert_int_equal(set_gw("10.0.0.253"), 0);
	VIA("198.51.100.2", "10.0.0.253");
	assert_int_equal(del("0.0.0.0", 0), 0);
	UNREACH("198.51.100.2");
	assert_int_equal(del("0.0.0.0", 0), -ENOENT);
	/* Added as a route, replaced by sl_ip_set_gateway, replaced as a route, cleared by
	 * sl_ip_set_gateway. */
	assert_int_equal(add("0.0.0.0", 0, "10.0.0.254"), 0);
	assert_int_equal(set_gw("10.0.0.253"), 0);
	VIA("198.51.100.3", "10.0.0.253");
	assert_int_equal(add("0.0.0.0", 0, "10.0.0.252"), 0);
	VIA("198.51.100.3", "10.0.0.252");
	assert_int_equal(set_gw("0.0.0.0"), 0);
	UNREACH("198.51.100.3");
	assert_int_equal(del("0.0.0.0", 0), -ENOENT);
	/* The IPv6 default is another one. */
	assert_int_equal(add("0.0.0.0", 0, "10.0.0.254"), 0);
	assert_int_equal(del("::", 0), -ENOENT);
	UNREACH("2001:db8::1");
	VIA("198.51.100.4", "10.0.0.254");
	h_down();
}

static void test_default_is_gateway_v6(void **state)
{
	h_open();
	assert_int_equal(del("::", 0), -ENOENT);
	UNREACH("2001:db8::1");
	assert_int_equal(add("::", 0, "fe80::1"), 0);
	VIA("2001:db8::1", "fe80::1");
	assert_int_equal(del("::", 0), 0);
	UNREACH("2001:db8::1");
	assert_int_equal(del("::", 0), -ENOENT);
	assert_int_equal(set_gw("fe80::2"), 0);
	VIA("2001:db8::2", "fe80::2");
	assert_int_equal(del("::", 0), 0);
	UNREACH("2001:db8::2");
	assert_int_equal(add("::", 0, "fe80::1"), 0);
	assert_int_equal(set_gw("fe80::3"), 0);
	VIA("2001:db8::3", "fe80::3");
	assert_int_equal(set_gw("::"), 0);
	UNREACH("2001:db8::3");
	assert_int_equal(del("::", 0), -ENOENT);
	assert_int_equal(add("::", 0, "fe80::1"), 0);
	assert_int_equal(del("0.0.0.0", 0), -ENOENT);
	UNREACH("198.51.100.1");
	h_down();
}

/* The gateway of the configuration is the default route too: deleted as one. And plen 0
 * masks the prefix: 192.0.2.1/0 is 0.0.0.0/0. */
static void test_default_config_and_masked(void **state)
{
	struct sl_stack_config c = cfg();
	c.gateway = sl_ip_v4(GW4);
	h_open_cfg(&c);
	VIA("198.51.100.1", "10.0.0.254");
	assert_int_equal(del("0.0.0.0", 0), 0);
	UNREACH("198.51.100.1");
	assert_int_equal(add("192.0.2.1", 0, "10.0.0.253"), 0);
	VIA("198.51.100.1", "10.0.0.253");
	assert_int_equal(del("203.0.113.5", 0), 0);
	UNREACH("198.51.100.1");
	assert_int_equal(add("2001:db8::1", 0, "fe80::1"), 0);
	VIA("2001:db9::1", "fe80::1");
	assert_int_equal(set_gw("::"), 0);
	UNREACH("2001:db9::1");
	h_down();
}

/* --- cached paths ------------------------------------------------------------------------------
 */

/* A destination already sent to: every route change (a longer route added, replaced, made
 * on-link, deleted; the default changed or deleted) takes effect for its next datagram. */
static void test_change_after_send_v4(void **state)
{
	h_open();
	assert_int_equal(set_gw("10.0.0.254"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("192.0.2.7", "10.0.0.254");
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.253"), 0);
	VIA("192.0.2.7", "10.0.0.253");
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.252"), 0); /* replaced */
	VIA("192.0.2.7", "10.0.0.252");
	assert_int_equal(add("192.0.2.7", 32, "10.0.0.253"), 0); /* longer */
	VIA("192.0.2.7", "10.0.0.253");
	assert_int_equal(del("192.0.2.7", 32), 0);
	VIA("192.0.2.7", "10.0.0.252");
	assert_int_equal(add("192.0.2.0", 24, "0.0.0.0"), 0); /* on the link */
	VIA("192.0.2.7", "192.0.2.7");
	assert_int_equal(del("192.0.2.0", 24), 0);
	VIA("192.0.2.7", "10.0.0.254");
	assert_int_equal(add("0.0.0.0", 0, "10.0.0.253"), 0); /* the default replaced */
	VIA("192.0.2.7", "10.0.0.253");
	assert_int_equal(del("0.0.0.0", 0), 0);
	UNREACH("192.0.2.7");
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	h_down();
}

/* On the link, sent to directly; a host route through a gateway then captures it, and its
 * deletion gives it back to the link. IPv4 and IPv6. */
static void test_change_after_send_onlink(void **state)
{
	h_open();
	VIA("10.0.0.9", "10.0.0.9");
	VIA("fd00::9", "fd00::9");
	assert_int_equal(add("10.0.0.9", 32, "10.0.0.254"), 0);
	assert_int_equal(add("fd00::9", 128, "fe80::1"), 0);
	VIA("10.0.0.9", "10.0.0.254");
	VIA("fd00::9", "fe80::1");
	assert_int_equal(add("10.0.0.9", 32, "10.0.0.253"), 0);
	assert_int_equal(add("fd00::9", 128, "fe80::2"), 0);
	VIA("10.0.0.9", "10.0.0.253");
	VIA("fd00::9", "fe80::2");
	assert_int_equal(del("10.0.0.9", 32), 0);
	assert_int_equal(del("fd00::9", 128), 0);
	VIA("10.0.0.9", "10.0.0.9");
	VIA("fd00::9", "fd00::9");
	h_down();
}

static void test_change_after_send_v6(void **state)
{
	h_open();
	assert_int_equal(set_gw("fe80::1"), 0);
	VIA("2001:db8::7", "fe80::1");
	assert_int_equal(add("2001:db8::", 32, "fe80::2"), 0);
	VIA("2001:db8::7", "fe80::2");
	assert_int_equal(add("2001:db8::", 32, "fe80::3"), 0);
	VIA("2001:db8::7", "fe80::3");
	assert_int_equal(add("2001:db8::", 48, "fd00::fe"), 0);
	VIA("2001:db8::7", "fd00::fe");
	assert_int_equal(add("2001:db8::", 48, "::"), 0);
	VIA("2001:db8::7", "2001:db8::7");
	assert_int_equal(del("2001:db8::", 48), 0);
	VIA("2001:db8::7", "fe80::3");
	assert_int_equal(del("2001:db8::", 32), 0);
	VIA("2001:db8::7", "fe80::1");
	assert_int_equal(del("::", 0), 0);
	UNREACH("2001:db8::7");
	h_down();
}

/* A change to one family's routes or to an unrelated prefix leaves the other paths as they
 * were. */
static void test_unrelated_change_keeps_paths(void **state)
{
	h_open();
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	assert_int_equal(add("2001:db8::", 32, "fe80::1"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("2001:db8::7", "fe80::1");
	assert_int_equal(add("198.51.100.0", 24, "10.0.0.253"), 0);
	assert_int_equal(add("2001:db9::", 32, "fe80::2"), 0);
	assert_int_equal(set_gw("10.0.0.252"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("2001:db8::7", "fe80::1");
	VIA("198.51.100.1", "10.0.0.253");
	VIA("2001:db9::1", "fe80::2");
	assert_int_equal(del("198.51.100.0", 24), 0);
	VIA("198.51.100.1", "10.0.0.252");
	VIA("192.0.2.7", "10.0.0.254");
	h_down();
}

/* The on-link prefixes are those of the addresses as they are now: an address added inside a
 * route's prefix takes its destinations onto the link (it wins the tie), and removed, gives
 * them back to the route; the route itself stays. */
static void test_addr_change_vs_route(void **state)
{
	h_open();
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	assert_int_equal(add("fd01::", 64, "fe80::1"), 0);
	VIA("192.0.2.7", "10.0.0.254");
	VIA("fd01::7", "fe80::1");
	sl_ip a4 = ipa("192.0.2.1"), a6 = ipa("fd01::1");
	/* Each family on its own: a change of one must not hide behind the other's. */
	assert_int_equal(sl_ip_add_addr(H.st, &a6, 64), 0);
	assert_int_equal(sl_ip_addr_state(H.st, &a6), 0); /* shared_addrs: no DAD */
	VIA("fd01::7", "fd01::7");
	VIA("192.0.2.7", "10.0.0.254"); /* cached again, after the IPv6 change */
	assert_int_equal(sl_ip_add_addr(H.st, &a4, 24), 0);
	VIA("192.0.2.7", "192.0.2.7");
	sl_ip d4 = ipa("192.0.2.7"), src;
	assert_int_equal(sl_ip_src(H.st, &d4, &src), 0);
	assert_true(sl_ip_eq(&src, &a4)); /* the address of the on-link prefix */
	VIA("fd01::7", "fd01::7");	  /* cached again, after the IPv4 change */
	assert_int_equal(sl_ip_del_addr(H.st, &a6), 0);
	VIA("fd01::7", "fe80::1");
	VIA("192.0.2.7", "192.0.2.7"); /* cached again, after the IPv6 change */
	assert_int_equal(sl_ip_del_addr(H.st, &a4), 0);
	VIA("192.0.2.7", "10.0.0.254");
	h_down();
}

static void tcp_connected(void *arg, struct sl_tcp_flow *f, int err)
{
}
static const struct sl_tcp_callbacks tcp_cbs = {.on_connected = tcp_connected};

/* The SYNs of a connection, from frame from on: count, and the MAC of the last one. */
static unsigned syns(unsigned from, uint32_t dst4, const uint8_t **mac)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *c = &H.cap[i];
		if (get16(c->b + 12) != ET_IP4 || c->b[14 + 9] != 6 ||
		    get32(c->b + 14 + 16) != dst4)
			continue;
		const uint8_t *th = c->b + 14 + (c->b[14] & 0xf) * 4;
		if ((th[13] & 0x3f) == 0x02) {
			n++;
			*mac = c->b;
		}
	}
	return n;
}

/* A connection in progress: the route to its peer changes, and the retransmitted SYN goes
 * to the new next hop (a flow does not keep the old one). */
static void test_tcp_retransmit_follows_route(void **state)
{
	h_open();
	assert_int_equal(add("192.0.2.0", 24, "10.0.0.254"), 0);
	sl_ip far = sl_ip_v4(FAR4), gw1 = sl_ip_v4(GW4), gw2 = sl_ip_v4(GW4B);
	struct sl_tcp_flow *f = NULL;
	assert_int_equal(sl_tcp_connect(H.st, &far, 80, NULL, &tcp_cbs, NULL, &f), 0);
	h_poll();
	const uint8_t *mac = NULL;
	uint8_t m1[6], m2[6];
	nh_mac(&gw1, m1);
	nh_mac(&gw2, m2);
	assert_int_equal(syns(0, FAR4, &mac), 1);
	assert_memory_equal(mac, m1, 6);
	unsigned from = H.ncap;
	assert_int_equal(add("192.0.2.0", 25, "10.0.0.253"), 0);
	uint64_t end = H.now + 5 * SEC;
	while (H.now < end && syns(from, FAR4, &mac) == 0)
		h_poll();
	if (syns(from, FAR4, &mac) == 0) {
		print_message("no SYN retransmitted in 5 s\n");
		dump(from, 0);
	}
	assert_true(syns(from, FAR4, &mac) >= 1);
	if (memcmp(mac, m2, 6))
		dump(from, 0);
	assert_memory_equal(mac, m2, 6);
	assert_true(asked_ever(&gw2));
	sl_tcp_abort(f);
	h_poll();
	h_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_v4_via_gateway, h_teardown),
	    cmocka_unit_test_teardown(test_v6_via_gateway, h_teardown),
	    cmocka_unit_test_teardown(test_onlink_route, h_teardown),
	    cmocka_unit_test_teardown(test_families_apart, h_teardown),
	    cmocka_unit_test_teardown(test_longest_match_v4, h_teardown),
	    cmocka_unit_test_teardown(test_longest_match_v6, h_teardown),
	    cmocka_unit_test_teardown(test_host_route_beats_onlink, h_teardown),
	    cmocka_unit_test_teardown(test_onlink_wins_tie, h_teardown),
	    cmocka_unit_test_teardown(test_default_last, h_teardown),
	    cmocka_unit_test_teardown(test_replace, h_teardown),
	    cmocka_unit_test_teardown(test_replace_takes_no_slot, h_teardown),
	    cmocka_unit_test_teardown(test_delete, h_teardown),
	    cmocka_unit_test_teardown(test_masking, h_teardown),
	    cmocka_unit_test_teardown(test_errors, h_teardown),
	    cmocka_unit_test_teardown(test_max_routes, h_teardown),
	    cmocka_unit_test_teardown(test_max_routes_default_apart, h_teardown),
	    cmocka_unit_test_teardown(test_default_is_gateway_v4, h_teardown),
	    cmocka_unit_test_teardown(test_default_is_gateway_v6, h_teardown),
	    cmocka_unit_test_teardown(test_default_config_and_masked, h_teardown),
	    cmocka_unit_test_teardown(test_change_after_send_v4, h_teardown),
	    cmocka_unit_test_teardown(test_change_after_send_onlink, h_teardown),
	    cmocka_unit_test_teardown(test_change_after_send_v6, h_teardown),
	    cmocka_unit_test_teardown(test_unrelated_change_keeps_paths, h_teardown),
	    cmocka_unit_test_teardown(test_addr_change_vs_route, h_teardown),
	    cmocka_unit_test_teardown(test_tcp_retransmit_follows_route, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
