/*
 * Shared-address mode (include/sluice/stack.h: shared_addrs, neigh_resolve; arp.h:
 * sl_neigh_set, sl_neigh_forget; ip.h: sl_ip_set_gateway), over the pipe with simulated time.
 * Written from the headers' contracts and RFC 826 / RFC 1122 §2.3.2.1 / RFC 4861 §7.3.3, not
 * from user/.
 *
 * One stack (10.0.0.1/24, fd00::1/64) on one end of a pipe; the test on the other end
 * captures every frame the stack sends (byte copies, parsed here by hand) and plays the
 * application's side of neigh_resolve: each call is recorded with its address and the
 * simulated time, and answered (sl_neigh_set, sl_neigh_forget) or not, as each test says.
 *
 *  - shared_addrs: adding addresses (at open and with sl_ip_add_addr) puts no frame on the
 *    wire, no gratuitous ARP, no DAD; an IPv6 address is usable at once. The control without
 *    it: the gratuitous ARP and the DAD NS go, the IPv6 address is -EINPROGRESS.
 *  - neigh_resolve: no ARP request and no NS ever; the hook is asked once per resolution,
 *    again every arp_retry_ns up to arp_retries, then the waiting packets are dropped
 *    (arp_unresolved); sl_neigh_set delivers what waits, to the right MAC; the refresh of an
 *    IPv4 entry in use and the IPv6 STALE→DELAY→PROBE probes ask the hook too.
 *  - sl_neigh_set / sl_neigh_forget errors; sl_ip_set_gateway set, clear, errors; a TCP
 *    connect through the gateway resolves the gateway through the hook.
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"

#define MS 1000000ULL
#define SEC (1000 * MS)

#define ST4 0x0a000001u	  /* 10.0.0.1/24: the stack */
#define NB4 0x0a000002u	  /* 10.0.0.2: an on-link neighbour */
#define NB4B 0x0a000003u  /* 10.0.0.3: another */
#define GW4 0x0a0000feu	  /* 10.0.0.254: the gateway */
#define FAR4 0xc0000207u  /* 192.0.2.7: off-link */

#define ET_ARP 0x0806
#define ET_IP4 0x0800
#define ET_IP6 0x86dd

static const uint8_t NB_MAC[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static const uint8_t NB_MAC2[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x66};
static const uint8_t GW_MAC[6] = {0x02, 0x99, 0x88, 0x77, 0x66, 0x55};

/* --- the harness ------------------------------------------------------------------------ */

#define CAPMAX 4096
#define CAPLEN 256 /* headers and a short payload are all a check reads */

struct cap {
	uint64_t t;
	uint32_t len;
	uint8_t b[CAPLEN];
};

#define ASKMAX 256

static struct {
	bool up;
	struct sl_dev *sd, *pd;
	struct sl_stack *st;
	uint64_t now;
	struct cap *cap;
	unsigned ncap;
	/* neigh_resolve calls */
	struct {
		sl_ip ip;
		uint64_t t;
	} ask[ASKMAX];
	unsigned nask;
	struct sl_stack *ask_st; /* the stack the last call named */
	/* Answer in the hook itself: sl_neigh_set(answer_mac) */
	bool answer_in_hook;
	bool forget_in_hook; /* sl_neigh_forget instead */
	int answer_rc;
	uint8_t answer_mac[6];
} H;

#define STAT(name) (sl_stack_stats(H.st)->c[SL_STAT_##name])

static void hook(void *arg, struct sl_stack *st, const sl_ip *ip)
{
	assert_ptr_equal(arg, &H);
	H.ask_st = st;
	if (H.nask < ASKMAX) {
		H.ask[H.nask].ip = *ip;
		H.ask[H.nask].t = H.now;
	}
	H.nask++;
	if (H.answer_in_hook)
		H.answer_rc = sl_neigh_set(st, ip, H.answer_mac);
	else if (H.forget_in_hook)
		H.answer_rc = sl_neigh_forget(st, ip);
}

static sl_ip ip6(const char *s)
{
	sl_ip a;
	assert_int_equal(sl_ip_parse(s, &a), 0);
	return a;
}

/* 10.0.0.1/24 only, deterministic; neither mode is set. */
static struct sl_stack_config cfg4(void)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = sl_ip_v4(ST4);
	c.addrs[0].prefix_len = 24;
	c.n_addrs = 1;
	c.seed = tu_seed(11);
	c.deterministic_secrets = true;
	c.arp_retries = 3;
	c.arp_retry_ns = 1 * SEC;
	c.arp_reachable_ns = 10 * SEC;
	return c;
}

/* Both families: 10.0.0.1/24 and fd00::1/64. */
static struct sl_stack_config cfg46(void)
{
	struct sl_stack_config c = cfg4();
	c.addrs[1].addr = ip6("fd00::1");
	c.addrs[1].prefix_len = 64;
	c.n_addrs = 2;
	return c;
}

/* Shared mode with the hook. */
static struct sl_stack_config cfg_shared(struct sl_stack_config c)
{
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
			c->t = H.now;
			c->len = fr[i].len;
			memcpy(c->b, fr[i].data, fr[i].len < CAPLEN ? fr[i].len : CAPLEN);
			H.pd->ops->release(H.pd, &fr[i]);
		}
	}
	H.pd->ops->flush(H.pd, H.now);
}

static void h_poll(void)
{
	sl_stack_poll(H.st, H.now);
	collect();
	sl_stack_poll(H.st, H.now);
	collect();
}

/* Simulated time in 1 ms steps. */
static void h_run(uint64_t ns)
{
	uint64_t end = H.now + ns;
	do {
		h_poll();
		H.now += MS;
	} while (H.now < end);
	h_poll();
}

static void h_open(const struct sl_stack_config *c)
{
	memset(&H, 0, sizeof H);
	H.cap = calloc(CAPMAX, sizeof *H.cap);
	assert_non_null(H.cap);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &H.sd, &H.pd), 0);
	H.now = 1000 * MS;
	assert_int_equal(sl_stack_open(H.sd, c, H.now, &H.st), 0);
	H.up = true;
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

/* --- reading what the stack sent ----------------------------------------------------------- */

static uint16_t etype(const struct cap *c)
{
	return get16(c->b + 12);
}

static bool is_arp(const struct cap *c)
{
	return etype(c) == ET_ARP;
}

static bool is_arp_request(const struct cap *c)
{
	return is_arp(c) && c->len >= 14 + 28 && get16(c->b + 14 + 6) == 1;
}

/* An ICMPv6 message of type type (no extension headers before it), or false. */
static bool is_icmp6(const struct cap *c, uint8_t type)
{
	return etype(c) == ET_IP6 && c->len >= 14 + 40 + 4 && c->b[14 + 6] == 58 &&
	       c->b[14 + 40] == type;
}

static bool is_ns(const struct cap *c)
{
	return is_icmp6(c, 135);
}

static bool is_na(const struct cap *c)
{
	return is_icmp6(c, 136);
}

/* Neighbour traffic of any kind: ARP, NS, NA (what shared mode must never need). */
static unsigned count(unsigned from, bool (*pred)(const struct cap *))
{
	unsigned n = 0;
	for (unsigned i = from; i < H.ncap; i++)
		n += pred(&H.cap[i]);
	return n;
}

static void dump_asks(void)
{
	for (unsigned k = 0; k < H.nask && k < ASKMAX; k++) {
		char b[64];
		print_message("  ask %u: %s at %.3f s\n", k, sl_ip_str(&H.ask[k].ip, b, sizeof b),
			      (double)H.ask[k].t / 1e9);
	}
}

static void dump(unsigned from)
{
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *c = &H.cap[i];
		print_message("  [%u] t=%.3f s len=%u type=%04x dst=%02x:%02x:%02x:%02x:%02x:%02x\n",
			      i, (double)c->t / 1e9, c->len, etype(c), c->b[0], c->b[1], c->b[2],
			      c->b[3], c->b[4], c->b[5]);
	}
}

/* A UDP datagram to dport whose first 4 payload bytes are tag: IPv4 or IPv6 (no extension
 * headers). Its index from from on, or -1. */
static int find_udp(unsigned from, uint16_t dport, uint32_t tag)
{
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *c = &H.cap[i];
		const uint8_t *u = NULL;
		if (etype(c) == ET_IP4 && c->len >= 14 + 20 + 12 && c->b[14 + 9] == 17)
			u = c->b + 14 + (c->b[14] & 0xf) * 4;
		else if (etype(c) == ET_IP6 && c->len >= 14 + 40 + 12 && c->b[14 + 6] == 17)
			u = c->b + 14 + 40;
		if (u && get16(u + 2) == dport && get32(u + 8) == tag)
			return (int)i;
	}
	return -1;
}

static unsigned count_udp(unsigned from)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *c = &H.cap[i];
		n += (etype(c) == ET_IP4 && c->len >= 14 + 20 && c->b[14 + 9] == 17) ||
		     (etype(c) == ET_IP6 && c->len >= 14 + 40 && c->b[14 + 6] == 17);
	}
	return n;
}

static void udp_to(const sl_ip *dst, uint32_t tag)
{
	uint8_t d[8];
	put32(d, tag);
	put32(d + 4, 0x5a5a5a5a);
	assert_int_equal(sl_udp_write(H.st, NULL, dst, 5555, d, sizeof d), 0);
}

/* The datagram tagged tag left, once, to mac, for IPv4 address dst. */
static const struct cap *expect_udp4(unsigned from, uint32_t tag, const uint8_t *mac, uint32_t dst)
{
	int i = find_udp(from, 5555, tag);
	if (i < 0) {
		print_message("datagram %u not sent; captured:\n", tag);
		dump(from);
	}
	assert_true(i >= 0);
	const struct cap *c = &H.cap[i];
	assert_memory_equal(c->b, mac, 6);
	assert_memory_equal(c->b + 6, H.sd->mac, 6);
	assert_int_equal(etype(c), ET_IP4);
	assert_int_equal(get32(c->b + 14 + 16), dst);
	assert_int_equal(get32(c->b + 14 + 12), ST4);
	assert_int_equal(find_udp((unsigned)i + 1, 5555, tag), -1);
	return c;
}

static const struct cap *expect_udp6(unsigned from, uint32_t tag, const uint8_t *mac,
				     const sl_ip *dst)
{
	int i = find_udp(from, 5555, tag);
	if (i < 0) {
		print_message("datagram %u not sent; captured:\n", tag);
		dump(from);
	}
	assert_true(i >= 0);
	const struct cap *c = &H.cap[i];
	assert_memory_equal(c->b, mac, 6);
	assert_int_equal(etype(c), ET_IP6);
	assert_memory_equal(c->b + 14 + 24, dst->b, 16);
	assert_int_equal(find_udp((unsigned)i + 1, 5555, tag), -1);
	return c;
}

static bool ask_is(unsigned k, const sl_ip *ip)
{
	return k < H.nask && k < ASKMAX && sl_ip_eq(&H.ask[k].ip, ip);
}

/* No ARP request, NS or NA left the stack since from, and the counters agree. */
static void expect_no_neigh_traffic(unsigned from)
{
	unsigned a = count(from, is_arp), s = count(from, is_ns), n = count(from, is_na);
	if (a || s || n) {
		print_message("%u ARP, %u NS, %u NA sent:\n", a, s, n);
		dump(from);
	}
	assert_int_equal(a, 0);
	assert_int_equal(s, 0);
	assert_int_equal(n, 0);
	assert_int_equal(STAT(arp_requests_sent), 0);
	assert_int_equal(STAT(nd_ns_sent), 0);
	assert_int_equal(STAT(nd_na_sent), 0);
}

/* --- shared_addrs: no announcement, no DAD ---------------------------------------------- */

/* The addresses of the configuration and those added later, both families: not one frame
 * leaves the stack, and the IPv6 addresses are usable at once (sl_ip_addr_state 0). */
static void test_shared_addrs_silent(void **state)
{
	struct sl_stack_config c = cfg46();
	c.shared_addrs = true;
	h_open(&c);
	sl_ip a6 = ip6("fd00::1");
	assert_int_equal(sl_ip_addr_state(H.st, &a6), 0);
	h_poll();
	sl_ip b4 = sl_ip_v4(0x0a000101u), b6 = ip6("fd00:1::5"), b6ll = ip6("fe80::5");
	assert_int_equal(sl_ip_add_addr(H.st, &b4, 24), 0);
	assert_int_equal(sl_ip_add_addr(H.st, &b6, 64), 0);
	assert_int_equal(sl_ip_add_addr(H.st, &b6ll, 64), 0);
	assert_int_equal(sl_ip_addr_state(H.st, &b6), 0);
	assert_int_equal(sl_ip_addr_state(H.st, &b6ll), 0);
	assert_int_equal(sl_ip_addr_state(H.st, &b4), 0);
	h_run(5 * SEC); /* DAD would be over; a gratuitous ARP repeated */
	if (H.ncap) {
		print_message("frames from a shared-address stack:\n");
		dump(0);
	}
	assert_int_equal(H.ncap, 0);
	assert_int_equal(STAT(tx_frames), 0);
	expect_no_neigh_traffic(0);
	assert_int_equal(sl_ip_addr_state(H.st, &b6), 0);
	h_down();
}

/* The control: the same without shared_addrs announces the IPv4 addresses (gratuitous ARP:
 * sender and target protocol address ours, RFC 5227 §3) and runs DAD for the IPv6 ones (an
 * NS from :: for the address, RFC 4862 §5.4.2), which are not usable meanwhile. */
static void test_unshared_addrs_announced(void **state)
{
	struct sl_stack_config c = cfg46();
	h_open(&c);
	sl_ip a6 = ip6("fd00::1");
	assert_int_equal(sl_ip_addr_state(H.st, &a6), -EINPROGRESS);
	h_poll();
	unsigned garp = 0;
	for (unsigned i = 0; i < H.ncap; i++)
		if (is_arp_request(&H.cap[i]) && get32(H.cap[i].b + 14 + 14) == ST4 &&
		    get32(H.cap[i].b + 14 + 24) == ST4)
			garp++;
	assert_true(garp >= 1);
	unsigned from = H.ncap;
	sl_ip b4 = sl_ip_v4(0x0a000101u), b6 = ip6("fd00:1::5");
	assert_int_equal(sl_ip_add_addr(H.st, &b4, 24), 0);
	assert_int_equal(sl_ip_add_addr(H.st, &b6, 64), 0);
	assert_int_equal(sl_ip_addr_state(H.st, &b6), -EINPROGRESS);
	h_run(3 * SEC);
	garp = 0;
	unsigned dad = 0;
	for (unsigned i = from; i < H.ncap; i++) {
		const struct cap *p = &H.cap[i];
		if (is_arp_request(p) && get32(p->b + 14 + 14) == 0x0a000101u &&
		    get32(p->b + 14 + 24) == 0x0a000101u)
			garp++;
		static const uint8_t unspec[16];
		if (is_ns(p) && !memcmp(p->b + 14 + 8, unspec, 16) &&
		    !memcmp(p->b + 14 + 40 + 8, b6.b, 16))
			dad++;
	}
	assert_true(garp >= 1);
	assert_true(dad >= 1);
	assert_true(STAT(arp_requests_sent) >= 2);
	assert_true(STAT(nd_ns_sent) >= 2);
	assert_int_equal(sl_ip_addr_state(H.st, &b6), 0); /* DAD passed */
	h_down();
}

/* A shared-address IPv6 address sends at once: a datagram from it (to a neighbour the
 * application set) leaves in the same poll as it was written, with that source. */
static void test_shared_ipv6_usable_at_once(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip a6 = ip6("fd00::1"), nb = ip6("fd00::2");
	assert_int_equal(sl_ip_add_addr(H.st, &a6, 64), 0);
	assert_int_equal(sl_ip_addr_state(H.st, &a6), 0);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	sl_ip src;
	assert_int_equal(sl_ip_src(H.st, &nb, &src), 0);
	assert_true(sl_ip_eq(&src, &a6));
	udp_to(&nb, 1);
	h_poll();
	const struct cap *p = expect_udp6(0, 1, NB_MAC, &nb);
	assert_memory_equal(p->b + 14 + 8, a6.b, 16);
	assert_int_equal(H.nask, 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* --- neigh_resolve: IPv4 -------------------------------------------------------------- */

/* The control: without the hook, the same datagram draws an ARP request on the wire. */
static void test_no_hook_sends_arp(void **state)
{
	struct sl_stack_config c = cfg4();
	c.shared_addrs = true;
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	udp_to(&nb, 1);
	h_poll();
	unsigned n = 0;
	for (unsigned i = 0; i < H.ncap; i++)
		if (is_arp_request(&H.cap[i]) && get32(H.cap[i].b + 14 + 24) == NB4)
			n++;
	assert_int_equal(n, 1);
	assert_int_equal(STAT(arp_requests_sent), 1);
	assert_int_equal(STAT(neigh_resolve_asked), 0);
	assert_int_equal(count_udp(0), 0);
	h_down();
}

/* A datagram to an unknown on-link neighbour: no ARP, the hook once with that address (from
 * the stack's own thread, naming the stack), the datagram waits; sl_neigh_set sends it to
 * the MAC given. Later datagrams go at once, with no further question. */
static void test_hook_asked_set_delivers(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	udp_to(&nb, 1);
	udp_to(&nb, 2); /* waits behind the same resolution: no second question */
	h_run(100 * MS);
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &nb));
	assert_ptr_equal(H.ask_st, H.st);
	assert_int_equal(STAT(neigh_resolve_asked), 1);
	assert_int_equal(count_udp(0), 0);
	expect_no_neigh_traffic(0);

	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	assert_int_equal(STAT(neigh_set), 1);
	h_poll();
	expect_udp4(0, 1, NB_MAC, NB4);
	expect_udp4(0, 2, NB_MAC, NB4);
	assert_true(find_udp(0, 5555, 1) < find_udp(0, 5555, 2)); /* in order */
	unsigned from = H.ncap;
	udp_to(&nb, 3);
	h_poll();
	expect_udp4(from, 3, NB_MAC, NB4);
	h_run(2 * SEC);
	assert_int_equal(H.nask, 1);
	assert_int_equal(STAT(arp_unresolved), 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* Unanswered: the hook again every arp_retry_ns, arp_retries times in all (3, 1 s apart),
 * never an ARP request; then the datagram is dropped (arp_unresolved) and nothing more is
 * asked. */
static void test_hook_retries_then_drop(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	uint64_t t0 = H.now;
	udp_to(&nb, 1);
	h_run(c.arp_retries * c.arp_retry_ns - 100 * MS);
	if (H.nask != c.arp_retries)
		print_message("hook called %u times in %.1f s\n", H.nask,
			      (double)(H.now - t0) / 1e9);
	assert_int_equal(H.nask, c.arp_retries);
	for (unsigned k = 0; k < c.arp_retries; k++) {
		assert_true(ask_is(k, &nb));
		uint64_t due = t0 + k * c.arp_retry_ns;
		if (H.ask[k].t < due || H.ask[k].t > due + 20 * MS)
			print_message("call %u at %.3f s, due at %.3f s\n", k,
				      (double)H.ask[k].t / 1e9, (double)due / 1e9);
		assert_true(H.ask[k].t >= due && H.ask[k].t <= due + 20 * MS);
	}
	assert_int_equal(STAT(arp_unresolved), 0); /* still waiting */
	h_run(200 * MS);
	assert_int_equal(STAT(arp_unresolved), 1);
	h_run(5 * SEC);
	assert_int_equal(H.nask, c.arp_retries);
	assert_int_equal(STAT(neigh_resolve_asked), c.arp_retries);
	assert_int_equal(count_udp(0), 0);
	expect_no_neigh_traffic(0);
	/* An answer after the entry was given up makes a new one: the next datagram goes at
	 * once. */
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	h_poll();
	assert_int_equal(count_udp(0), 0); /* the dropped one stays dropped */
	udp_to(&nb, 2);
	h_poll();
	expect_udp4(0, 2, NB_MAC, NB4);
	assert_int_equal(H.nask, c.arp_retries);
	h_down();
}

/* An answer to the second question: the datagram leaves then, to that MAC; no more asked. */
static void test_hook_answer_on_retry(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	udp_to(&nb, 1);
	h_run(c.arp_retry_ns + 100 * MS);
	assert_int_equal(H.nask, 2);
	assert_int_equal(count_udp(0), 0);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC2), 0);
	h_poll();
	expect_udp4(0, 1, NB_MAC2, NB4);
	h_run(5 * SEC);
	assert_int_equal(H.nask, 2);
	assert_int_equal(STAT(arp_unresolved), 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* The application knows the answer when asked (shared mode: the kernel's table has it), and
 * gives it from inside the hook: what waits leaves, and the entry is then reachable like one
 * answered later: no further question within the reachable time. (Fails at ac46c7f: the
 * caller of the hook re-arms the retry timer after it, so the answered entry is asked about
 * again every arp_retry_ns, for as long as it is in use.) */
static void test_hook_answers_in_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	H.answer_in_hook = true;
	memcpy(H.answer_mac, NB_MAC, 6);
	sl_ip nb = sl_ip_v4(NB4);
	udp_to(&nb, 1);
	h_run(10 * MS);
	assert_int_equal(H.nask, 1);
	assert_int_equal(H.answer_rc, 0);
	expect_udp4(0, 1, NB_MAC, NB4);
	h_run(4 * SEC);
	if (H.nask != 1) {
		dump_asks();
		dump(0);
	}
	assert_int_equal(H.nask, 1);
	assert_int_equal(STAT(arp_unresolved), 0);
	expect_no_neigh_traffic(0);
	h_down();
}

static int query_cb_calls;
static void query_cb(void *arg, int err, const sl_ip *ip, const uint8_t mac[6])
{
	query_cb_calls++;
}

/* A query the hook answers from inside the call is answered at once: 0 and the MAC, as for a
 * cached entry (a callback armed after the answer would never run). */
static void test_query_answered_in_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	H.answer_in_hook = true;
	memcpy(H.answer_mac, NB_MAC, 6);
	sl_ip nb = sl_ip_v4(NB4);
	uint8_t mac[6] = {0};
	query_cb_calls = 0;
	assert_int_equal(sl_arp_query(H.st, &nb, mac, query_cb, NULL), 0);
	assert_memory_equal(mac, NB_MAC, 6);
	assert_int_equal(H.nask, 1);
	h_run(100 * MS);
	assert_int_equal(query_cb_calls, 0);
	/* and the forgetting hook: the query fails at once */
	H.answer_in_hook = false;
	H.forget_in_hook = true;
	sl_ip nb2 = sl_ip_v4(NB4B);
	assert_int_equal(sl_arp_query(H.st, &nb2, mac, query_cb, NULL), -EHOSTUNREACH);
	h_run(100 * MS);
	assert_int_equal(query_cb_calls, 0);
	h_down();
}

/* The application knows the neighbour is unreachable when asked, and says so from inside the
 * hook: nothing leaves (certainly not to a MAC nobody gave), the datagram is dropped and
 * counted, and nothing more is asked for it. (Fails at ac46c7f: the datagram leaves to
 * 00:00:00:00:00:00 through the freed entry.) */
static void test_hook_forgets_in_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	H.forget_in_hook = true;
	sl_ip nb = sl_ip_v4(NB4);
	udp_to(&nb, 1);
	h_run(10 * MS);
	assert_int_equal(H.nask, 1);
	assert_int_equal(H.answer_rc, 0);
	h_run(5 * SEC);
	if (H.ncap || H.nask != 1) {
		dump_asks();
		dump(0);
	}
	assert_int_equal(H.ncap, 0);
	assert_int_equal(H.nask, 1);
	assert_int_equal(STAT(arp_unresolved), 1);
	h_down();
}

/* sl_neigh_set before anything was sent: an entry is made, the first datagram goes at once
 * and the hook is never asked. */
static void test_set_before_use(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	udp_to(&nb, 1);
	h_poll();
	expect_udp4(0, 1, NB_MAC, NB4);
	assert_int_equal(H.nask, 0);
	/* A new MAC replaces the old one. */
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC2), 0);
	unsigned from = H.ncap;
	udp_to(&nb, 2);
	h_poll();
	expect_udp4(from, 2, NB_MAC2, NB4);
	assert_int_equal(STAT(neigh_set), 2);
	assert_int_equal(H.nask, 0);
	h_down();
}

/* A zero, multicast (I/G bit: 01:00:5e, 33:33, any odd first octet) or broadcast MAC is
 * refused, counts nothing and makes no entry: the next datagram still asks. */
static void test_set_bad_mac(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	h_open(&c);
	static const uint8_t bad[][6] = {
	    {0, 0, 0, 0, 0, 0},
	    {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
	    {0x33, 0x33, 0x00, 0x00, 0x00, 0x01},
	    {0x03, 0x11, 0x22, 0x33, 0x44, 0x55},
	    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	};
	sl_ip nb = sl_ip_v4(NB4), nb6 = ip6("fd00::2");
	for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		assert_int_equal(sl_neigh_set(H.st, &nb, bad[k]), -EINVAL);
		assert_int_equal(sl_neigh_set(H.st, &nb6, bad[k]), -EINVAL);
	}
	/* The stack's own addresses are no neighbours. */
	sl_ip own[2];
	assert_int_equal(sl_ip_get_ips(H.st, own, 2), 2);
	for (unsigned k = 0; k < 2; k++)
		assert_int_equal(sl_neigh_set(H.st, &own[k], NB_MAC), -EINVAL);
	assert_int_equal(STAT(neigh_set), 0);
	assert_int_equal(sl_neigh_forget(H.st, &nb), -ENOENT);
	udp_to(&nb, 1);
	h_poll();
	assert_int_equal(H.nask, 1);
	assert_int_equal(count_udp(0), 0);
	/* Waiting: a bad answer does not complete it either. */
	assert_int_equal(sl_neigh_set(H.st, &nb, bad[4]), -EINVAL);
	h_poll();
	assert_int_equal(count_udp(0), 0);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0); /* a unicast one does */
	h_poll();
	expect_udp4(0, 1, NB_MAC, NB4);
	h_down();
}

/* sl_neigh_forget on a waiting resolution: the datagrams waiting are dropped and counted
 * (arp_unresolved), the entry is gone (a second forget: -ENOENT), and the next datagram asks
 * again. Forgetting a known neighbour makes the next datagram ask too. */
static void test_forget(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4), other = sl_ip_v4(NB4B);
	assert_int_equal(sl_neigh_forget(H.st, &other), -ENOENT);
	udp_to(&nb, 1);
	udp_to(&nb, 2);
	h_poll();
	assert_int_equal(H.nask, 1);
	assert_int_equal(sl_neigh_forget(H.st, &nb), 0);
	assert_int_equal(STAT(arp_unresolved), 2);
	assert_int_equal(sl_neigh_forget(H.st, &nb), -ENOENT);
	h_run(5 * SEC); /* no retries for a forgotten entry */
	assert_int_equal(H.nask, 1);
	assert_int_equal(count_udp(0), 0);
	/* An answer now does not bring the dropped ones back. */
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	h_poll();
	assert_int_equal(count_udp(0), 0);
	udp_to(&nb, 3);
	h_poll();
	expect_udp4(0, 3, NB_MAC, NB4);
	/* Known, then forgotten: asked again, and waits. */
	assert_int_equal(sl_neigh_forget(H.st, &nb), 0);
	assert_int_equal(STAT(arp_unresolved), 2); /* nothing was waiting */
	unsigned from = H.ncap;
	udp_to(&nb, 4);
	h_poll();
	assert_int_equal(H.nask, 2);
	assert_true(ask_is(1, &nb));
	assert_int_equal(find_udp(from, 5555, 4), -1);
	expect_no_neigh_traffic(0);
	h_down();
}

struct qres {
	int calls, err;
	uint8_t mac[6];
};

static void qcb(void *arg, int err, const sl_ip *ip, const uint8_t mac[6])
{
	struct qres *q = arg;
	q->calls++;
	q->err = err;
	if (!err && mac)
		memcpy(q->mac, mac, 6);
}

/* sl_arp_query through the hook: the query waits (1), asks the hook, and completes with the
 * MAC sl_neigh_set gives; a query waiting on an entry that is forgotten gets -EHOSTUNREACH. */
static void test_query_through_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4), nb2 = sl_ip_v4(NB4B);
	struct qres q1 = {0}, q2 = {0};
	uint8_t mac[6];
	assert_int_equal(sl_arp_query(H.st, &nb, mac, qcb, &q1), 1);
	h_poll();
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &nb));
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	h_poll();
	assert_int_equal(q1.calls, 1);
	assert_int_equal(q1.err, 0);
	assert_memory_equal(q1.mac, NB_MAC, 6);
	assert_int_equal(sl_arp_query(H.st, &nb, mac, qcb, &q1), 0); /* cached now */
	assert_memory_equal(mac, NB_MAC, 6);

	assert_int_equal(sl_arp_query(H.st, &nb2, mac, qcb, &q2), 1);
	h_poll();
	assert_int_equal(H.nask, 2);
	assert_true(ask_is(1, &nb2));
	assert_int_equal(sl_neigh_forget(H.st, &nb2), 0);
	h_poll();
	assert_int_equal(q2.calls, 1);
	assert_int_equal(q2.err, -EHOSTUNREACH);
	h_run(4 * SEC);
	assert_int_equal(q2.calls, 1);
	assert_int_equal(H.nask, 2);
	expect_no_neigh_traffic(0);
	h_down();
}

/* An entry in use past its reachable time (10 s) is refreshed (RFC 1122 §2.3.2.1): the hook
 * is asked in place of the unicast request, datagrams keep going to the known MAC meanwhile;
 * answered, no more questions for another reachable time. */
static void test_refresh_asks_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	uint64_t t0 = H.now;
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	uint32_t tag = 100;
	unsigned lost = 0;
	while (H.now < t0 + 12 * SEC && !H.nask) {
		unsigned from = H.ncap;
		udp_to(&nb, tag);
		h_poll();
		if (find_udp(from, 5555, tag) < 0 || find_udp(from, 5555, tag) !=
		    (int)(expect_udp4(from, tag, NB_MAC, NB4) - H.cap))
			lost++;
		tag++;
		h_run(250 * MS);
	}
	assert_int_equal(lost, 0); /* every datagram at once, to the known MAC */
	if (H.nask != 1) {
		print_message("hook asked %u times in 12 s of use\n", H.nask);
		dump_asks();
	}
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &nb));
	assert_true(H.ask[0].t >= t0 + c.arp_reachable_ns - 10 * MS &&
		    H.ask[0].t <= t0 + c.arp_reachable_ns + 1 * SEC);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	uint64_t t1 = H.now;
	while (H.now < t1 + c.arp_reachable_ns - 500 * MS) {
		udp_to(&nb, tag++);
		h_run(250 * MS);
	}
	assert_int_equal(H.nask, 1);
	expect_no_neigh_traffic(0);
	assert_int_equal(STAT(arp_unresolved), 0);
	h_down();
}

/* The refresh unanswered: arp_retries questions arp_retry_ns apart, then the entry is gone;
 * the next datagram starts a new resolution (asks again) and waits. */
static void test_refresh_unanswered(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip nb = sl_ip_v4(NB4);
	uint64_t t0 = H.now;
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	uint32_t tag = 100;
	while (H.now < t0 + c.arp_reachable_ns + c.arp_retries * c.arp_retry_ns + 2 * SEC) {
		udp_to(&nb, tag++);
		h_run(250 * MS);
	}
	if (H.nask < c.arp_retries + 1)
		print_message("hook asked %u times\n", H.nask);
	assert_true(H.nask >= c.arp_retries + 1);
	for (unsigned k = 0; k < H.nask && k < ASKMAX; k++)
		assert_true(ask_is(k, &nb));
	for (unsigned k = 1; k < c.arp_retries; k++)
		assert_true(H.ask[k].t >= H.ask[k - 1].t + c.arp_retry_ns - 10 * MS &&
			    H.ask[k].t <= H.ask[k - 1].t + c.arp_retry_ns + 20 * MS);
	uint64_t gone = H.ask[c.arp_retries - 1].t + c.arp_retry_ns;
	/* The new resolution is asked for once the entry is gone. */
	assert_true(H.ask[c.arp_retries].t >= gone - 10 * MS);
	/* Datagrams written after it are not sent to the old MAC. */
	unsigned late = 0;
	for (unsigned k = 0; k < H.ncap; k++)
		if (H.cap[k].t > gone + 10 * MS && etype(&H.cap[k]) == ET_IP4)
			late++;
	assert_int_equal(late, 0);
	/* What waits for the new resolution is given up with it. */
	h_run(c.arp_retries * c.arp_retry_ns);
	if (!STAT(arp_unresolved)) {
		dump_asks();
		print_message("gone at %.3f s, pending_full %llu\n", (double)gone / 1e9,
			      (unsigned long long)STAT(arp_pending_full));
	}
	assert_true(STAT(arp_unresolved) > 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* --- neigh_resolve: IPv6 -------------------------------------------------------------- */

/* The same through NDP: no NS for the neighbour (nor DAD), the hook once with the IPv6
 * address, the datagram waits; sl_neigh_set sends it. */
static void test_hook_ipv6_set_delivers(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	h_open(&c);
	sl_ip nb = ip6("fd00::2");
	udp_to(&nb, 1);
	h_run(100 * MS);
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &nb));
	assert_int_equal(count_udp(0), 0);
	expect_no_neigh_traffic(0);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	h_poll();
	expect_udp6(0, 1, NB_MAC, &nb);
	h_run(4 * SEC);
	assert_int_equal(H.nask, 1);
	expect_no_neigh_traffic(0);
	h_down();
}

static void test_hook_ipv6_retries_then_drop(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	h_open(&c);
	sl_ip nb = ip6("fd00::2");
	uint64_t t0 = H.now;
	udp_to(&nb, 1);
	h_run(c.arp_retries * c.arp_retry_ns - 100 * MS);
	assert_int_equal(H.nask, c.arp_retries);
	for (unsigned k = 0; k < c.arp_retries; k++) {
		assert_true(ask_is(k, &nb));
		uint64_t due = t0 + k * c.arp_retry_ns;
		assert_true(H.ask[k].t >= due && H.ask[k].t <= due + 20 * MS);
	}
	assert_int_equal(STAT(arp_unresolved), 0);
	h_run(200 * MS);
	assert_int_equal(STAT(arp_unresolved), 1);
	h_run(4 * SEC);
	assert_int_equal(H.nask, c.arp_retries);
	assert_int_equal(count_udp(0), 0);
	expect_no_neigh_traffic(0);
	/* sl_neigh_forget after it gave up: nothing left to forget. */
	assert_int_equal(sl_neigh_forget(H.st, &nb), -ENOENT);
	h_down();
}

static void test_forget_ipv6(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	h_open(&c);
	sl_ip nb = ip6("fd00::2");
	assert_int_equal(sl_neigh_forget(H.st, &nb), -ENOENT);
	udp_to(&nb, 1);
	h_poll();
	assert_int_equal(H.nask, 1);
	assert_int_equal(sl_neigh_forget(H.st, &nb), 0);
	assert_int_equal(STAT(arp_unresolved), 1);
	assert_int_equal(sl_neigh_forget(H.st, &nb), -ENOENT);
	h_run(4 * SEC);
	assert_int_equal(H.nask, 1);
	assert_int_equal(count_udp(0), 0);
	h_down();
}

/* RFC 4861 §7.3.3 with the hook: REACHABLE for arp_reachable_ns, then STALE; a datagram then
 * goes at once and the entry enters DELAY; 5 s later PROBE asks the hook (not a unicast NS);
 * answered, REACHABLE again: no more questions. */
static void test_ipv6_probe_asks_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	h_open(&c);
	sl_ip nb = ip6("fd00::2");
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	udp_to(&nb, 1);
	h_poll();
	expect_udp6(0, 1, NB_MAC, &nb);
	h_run(c.arp_reachable_ns + 2 * SEC); /* idle: STALE */
	assert_int_equal(H.nask, 0);
	uint64_t t1 = H.now;
	uint32_t tag = 100;
	unsigned lost = 0;
	while (H.now < t1 + 7 * SEC) {
		unsigned from = H.ncap;
		udp_to(&nb, tag);
		h_poll();
		if (find_udp(from, 5555, tag) < 0)
			lost++;
		tag++;
		if (H.nask)
			break;
		h_run(250 * MS);
	}
	assert_int_equal(lost, 0); /* STALE and DELAY: at once, to the cached MAC */
	if (H.nask != 1)
		print_message("hook asked %u times within 7 s of STALE use\n", H.nask);
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &nb));
	/* DELAY_FIRST_PROBE_TIME: not before 5 s */
	assert_true(H.ask[0].t >= t1 + 5 * SEC - 10 * MS);
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	uint64_t t2 = H.now;
	while (H.now < t2 + c.arp_reachable_ns - 500 * MS) {
		udp_to(&nb, tag++);
		h_run(250 * MS);
	}
	assert_int_equal(H.nask, 1);
	expect_no_neigh_traffic(0);
	assert_int_equal(STAT(arp_unresolved), 0);
	h_down();
}

/* The probes unanswered: MAX_UNICAST_SOLICIT (arp_retries) questions RetransTimer apart,
 * datagrams still going to the cached MAC meanwhile; then the entry is deleted and the next
 * datagram asks from scratch. No NS ever. */
static void test_ipv6_probe_unanswered(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	h_open(&c);
	sl_ip nb = ip6("fd00::2");
	assert_int_equal(sl_neigh_set(H.st, &nb, NB_MAC), 0);
	h_run(c.arp_reachable_ns + 2 * SEC);
	uint64_t t1 = H.now;
	uint32_t tag = 100;
	while (H.now < t1 + 5 * SEC + c.arp_retries * c.arp_retry_ns + 2 * SEC) {
		udp_to(&nb, tag++);
		h_run(250 * MS);
	}
	if (H.nask < c.arp_retries + 1)
		print_message("hook asked %u times\n", H.nask);
	assert_true(H.nask >= c.arp_retries + 1);
	for (unsigned k = 0; k < H.nask && k < ASKMAX; k++)
		assert_true(ask_is(k, &nb));
	for (unsigned k = 1; k < c.arp_retries; k++)
		assert_true(H.ask[k].t >= H.ask[k - 1].t + c.arp_retry_ns - 10 * MS &&
			    H.ask[k].t <= H.ask[k - 1].t + c.arp_retry_ns + 20 * MS);
	uint64_t gone = H.ask[c.arp_retries - 1].t + c.arp_retry_ns;
	assert_true(H.ask[c.arp_retries].t >= gone - 10 * MS);
	unsigned early = 0, late = 0;
	for (unsigned k = 0; k < H.ncap; k++) {
		if (etype(&H.cap[k]) != ET_IP6 || H.cap[k].b[14 + 6] != 17)
			continue;
		if (H.cap[k].t < gone - 10 * MS)
			early++;
		else if (H.cap[k].t > gone + 10 * MS)
			late++;
	}
	assert_true(early > 0);
	assert_int_equal(late, 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* --- the gateway -------------------------------------------------------------------------- */

static void tcp_connected(void *arg, struct sl_tcp_flow *f, int err)
{
}
static const struct sl_tcp_callbacks tcp_cbs = {.on_connected = tcp_connected};

/* Set with sl_ip_set_gateway: a TCP connect to an off-link address resolves the gateway
 * through the hook (not the destination), the SYN waits, then leaves to the gateway's MAC
 * with the destination's IP address. Cleared, off-link is unreachable again. */
static void test_gateway_resolved_through_hook(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	h_open(&c);
	sl_ip far = sl_ip_v4(FAR4), gw = sl_ip_v4(GW4), any = sl_ip_v4(0);
	struct sl_tcp_flow *f = NULL;
	assert_int_equal(sl_tcp_connect(H.st, &far, 80, NULL, &tcp_cbs, NULL, &f), -ENETUNREACH);
	sl_ip src;
	assert_int_equal(sl_ip_src(H.st, &far, &src), -ENETUNREACH);
	assert_int_equal(sl_ip_set_gateway(H.st, &gw), 0);
	assert_int_equal(sl_ip_src(H.st, &far, &src), 0);
	assert_int_equal(sl_tcp_connect(H.st, &far, 80, NULL, &tcp_cbs, NULL, &f), 0);
	h_run(50 * MS);
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &gw));
	assert_int_equal(H.ncap, 0); /* the SYN waits */
	assert_int_equal(sl_neigh_set(H.st, &gw, GW_MAC), 0);
	h_poll();
	int syn = -1;
	for (unsigned i = 0; i < H.ncap; i++)
		if (etype(&H.cap[i]) == ET_IP4 && H.cap[i].b[14 + 9] == 6)
			syn = (int)i;
	assert_true(syn >= 0);
	const struct cap *p = &H.cap[syn];
	assert_memory_equal(p->b, GW_MAC, 6);
	assert_int_equal(get32(p->b + 14 + 16), FAR4);
	assert_int_equal(get32(p->b + 14 + 12), ST4);
	const uint8_t *th = p->b + 14 + (p->b[14] & 0xf) * 4;
	assert_int_equal(get16(th + 2), 80);
	assert_int_equal(th[13] & 0x3f, 0x02); /* SYN */
	sl_tcp_abort(f);
	h_poll();

	/* Cleared: no route off-link (the on-link one stays). */
	assert_int_equal(sl_ip_set_gateway(H.st, &any), 0);
	assert_int_equal(sl_ip_src(H.st, &far, &src), -ENETUNREACH);
	assert_int_equal(sl_tcp_connect(H.st, &far, 80, NULL, &tcp_cbs, NULL, &f), -ENETUNREACH);
	assert_int_equal(sl_udp_write(H.st, NULL, &far, 5555, "x", 1), -ENETUNREACH);
	sl_ip nb = sl_ip_v4(NB4);
	assert_int_equal(sl_ip_src(H.st, &nb, &src), 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* A gateway of the configuration is replaced by sl_ip_set_gateway: datagrams off-link go to
 * the new one. */
static void test_gateway_replaced(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg4());
	c.gateway = sl_ip_v4(GW4);
	h_open(&c);
	sl_ip far = sl_ip_v4(FAR4), gw = sl_ip_v4(GW4), gw2 = sl_ip_v4(0x0a0000fdu);
	assert_int_equal(sl_neigh_set(H.st, &gw, GW_MAC), 0);
	assert_int_equal(sl_neigh_set(H.st, &gw2, NB_MAC), 0);
	udp_to(&far, 1);
	h_poll();
	expect_udp4(0, 1, GW_MAC, FAR4);
	assert_int_equal(sl_ip_set_gateway(H.st, &gw2), 0);
	udp_to(&far, 2);
	h_poll();
	expect_udp4(0, 2, NB_MAC, FAR4);
	assert_int_equal(H.nask, 0);
	h_down();
}

/* IPv6: a link-local router set with sl_ip_set_gateway; the IPv4 gateway is untouched. */
static void test_gateway_ipv6(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	c.gateway = sl_ip_v4(GW4);
	h_open(&c);
	sl_ip far6 = ip6("2001:db8::7"), gw6 = ip6("fe80::1"), far4 = sl_ip_v4(FAR4),
	      any6 = ip6("::");
	sl_ip src;
	assert_int_equal(sl_ip_src(H.st, &far6, &src), -ENETUNREACH);
	assert_int_equal(sl_ip_set_gateway(H.st, &gw6), 0);
	assert_int_equal(sl_ip_src(H.st, &far4, &src), 0); /* the IPv4 one stays */
	udp_to(&far6, 1);
	h_poll();
	assert_int_equal(H.nask, 1);
	assert_true(ask_is(0, &gw6));
	assert_int_equal(sl_neigh_set(H.st, &gw6, GW_MAC), 0);
	h_poll();
	expect_udp6(0, 1, GW_MAC, &far6);
	/* Cleared with ::, only IPv6 loses its default route. */
	assert_int_equal(sl_ip_set_gateway(H.st, &any6), 0);
	assert_int_equal(sl_ip_src(H.st, &far6, &src), -ENETUNREACH);
	assert_int_equal(sl_ip_src(H.st, &far4, &src), 0);
	expect_no_neigh_traffic(0);
	h_down();
}

/* Multicast, loopback and broadcast gateways are refused, and the gateway in place stays. */
static void test_gateway_errors(void **state)
{
	struct sl_stack_config c = cfg_shared(cfg46());
	c.gateway = sl_ip_v4(GW4);
	h_open(&c);
	/* 10.0.0.255: the directed broadcast of the stack's 10.0.0.0/24. */
	const char *bad[] = {"224.0.0.1", "239.1.2.3", "127.0.0.1", "127.1.2.3",
			     "255.255.255.255", "10.0.0.255", "ff02::1", "ff05::2", "::1"};
	for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		sl_ip g = ip6(bad[k]);
		int r = sl_ip_set_gateway(H.st, &g);
		if (r != -EINVAL)
			print_message("sl_ip_set_gateway(%s) = %d\n", bad[k], r);
		assert_int_equal(r, -EINVAL);
	}
	sl_ip far = sl_ip_v4(FAR4), gw = sl_ip_v4(GW4);
	assert_int_equal(sl_neigh_set(H.st, &gw, GW_MAC), 0);
	udp_to(&far, 1);
	h_poll();
	expect_udp4(0, 1, GW_MAC, FAR4);
	h_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_shared_addrs_silent, h_teardown),
	    cmocka_unit_test_teardown(test_unshared_addrs_announced, h_teardown),
	    cmocka_unit_test_teardown(test_shared_ipv6_usable_at_once, h_teardown),
	    cmocka_unit_test_teardown(test_no_hook_sends_arp, h_teardown),
	    cmocka_unit_test_teardown(test_hook_asked_set_delivers, h_teardown),
	    cmocka_unit_test_teardown(test_hook_retries_then_drop, h_teardown),
	    cmocka_unit_test_teardown(test_hook_answer_on_retry, h_teardown),
	    cmocka_unit_test_teardown(test_hook_answers_in_hook, h_teardown),
	    cmocka_unit_test_teardown(test_hook_forgets_in_hook, h_teardown),
	    cmocka_unit_test_teardown(test_query_answered_in_hook, h_teardown),
	    cmocka_unit_test_teardown(test_set_before_use, h_teardown),
	    cmocka_unit_test_teardown(test_set_bad_mac, h_teardown),
	    cmocka_unit_test_teardown(test_forget, h_teardown),
	    cmocka_unit_test_teardown(test_query_through_hook, h_teardown),
	    cmocka_unit_test_teardown(test_refresh_asks_hook, h_teardown),
	    cmocka_unit_test_teardown(test_refresh_unanswered, h_teardown),
	    cmocka_unit_test_teardown(test_hook_ipv6_set_delivers, h_teardown),
	    cmocka_unit_test_teardown(test_hook_ipv6_retries_then_drop, h_teardown),
	    cmocka_unit_test_teardown(test_forget_ipv6, h_teardown),
	    cmocka_unit_test_teardown(test_ipv6_probe_asks_hook, h_teardown),
	    cmocka_unit_test_teardown(test_ipv6_probe_unanswered, h_teardown),
	    cmocka_unit_test_teardown(test_gateway_resolved_through_hook, h_teardown),
	    cmocka_unit_test_teardown(test_gateway_replaced, h_teardown),
	    cmocka_unit_test_teardown(test_gateway_ipv6, h_teardown),
	    cmocka_unit_test_teardown(test_gateway_errors, h_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
