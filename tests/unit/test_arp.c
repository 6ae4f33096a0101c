/*
 * ARP for IPv4 over Ethernet (user/wire/arp.h, RFC 826): construct, deconstruct, round-trip,
 * malformed. Then the neighbour cache (user/proto/arp.c) behind it, driven through a pipe
 * by a test that plays every host of a /16: spoofed-request floods (issue 9).
 *
 * Golden packets were captured from scapy 2.5 with /usr/bin/python3:
 *   from scapy.all import *; print(bytes(<expression>).hex())
 * The expression is given above each vector. Checks run on an exact-size heap copy so the
 * sanitizer build catches any read past the length the check was given.
 */
#include <errno.h>
#include "unit/wireutil.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "sluice/stats.h"
#include "unit/pipenet.h"
#include "iface/stack.h"

/* Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:01')/ARP(op=1,hwsrc='02:00:00:00:00:01',
 *   psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_req[] = "ffffffffffff020000000001080600010800060400010200000000010a000001"
			    "0000000000000a000002";
/* Ether(dst='02:00:00:00:00:01',src='02:00:00:00:00:02')/ARP(op=2,hwsrc='02:00:00:00:00:02',
 *   psrc='10.0.0.2',hwdst='02:00:00:00:00:01',pdst='10.0.0.1') */
static const char g_rep[] = "020000000001020000000002080600010800060400020200000000020a000002"
			    "0200000000010a000001";
/* Ether(dst='ff:ff:ff:ff:ff:ff',src='02:00:00:00:00:01')/ARP(op=1,hwsrc='02:00:00:00:00:01',
 *   psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2')/Padding(load=b'\x00'*18) */
static const char g_req_padded[] =
    "ffffffffffff020000000001080600010800060400010200000000010a000001"
    "0000000000000a000002000000000000000000000000000000000000";
/* ARP(op=2,hwsrc='aa:bb:cc:dd:ee:ff',psrc='192.168.255.254',hwdst='01:23:45:67:89:ab',
 *   pdst='172.16.0.1') */
static const char g_rep_hi[] = "0001080006040002aabbccddeeffc0a8fffe0123456789abac100001";
/* ARP(op=1,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.1')
 * (gratuitous: sender and target protocol address equal) */
static const char g_garp[] = "00010800060400010200000000010a0000010000000000000a000001";

/* Malformed, also from scapy: */
/* ARP(op=1,hwlen=8,hwsrc=b'\x02\x00\x00\x00\x00\x01\x00\x00',psrc='10.0.0.1',hwdst=b'\x00'*8,
 *   pdst='10.0.0.2') */
static const char g_hlen8[] = "000108000804000102000000000100000a00000100000000000000000a000002";
/* ARP(op=1,hwtype=6,hwlen=6,hwsrc=b'\x02\x00\x00\x00\x00\x01',psrc='10.0.0.1',hwdst=b'\x00'*6,
 *   pdst='10.0.0.2') */
static const char g_htype6[] = "00060800060400010200000000010a0000010000000000000a000002";
/* ARP(op=1,ptype=0x86dd,hwsrc='02:00:00:00:00:01',psrc='fe80::1',pdst='fe80::2') */
static const char g_ptype6[] = "000186dd06100001020000000001fe800000000000000000000000000001000000"
			       "000000fe800000000000000000000000000002";
/* ARP(op=3,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_op3[] = "00010800060400030200000000010a0000010000000000000a000002";
/* ARP(op=0,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',pdst='10.0.0.2') */
static const char g_op0[] = "00010800060400000200000000010a0000010000000000000a000002";
/* ARP(op=0xffff,hwsrc='02:00:00:00:00:01',psrc='10.0.0.1',hwdst='00:00:00:00:00:00',
 *   pdst='10.0.0.2') */
static const char g_opffff[] = "000108000604ffff0200000000010a0000010000000000000a000002";

static const uint8_t mac0[6] = {0};
static const uint8_t mac1[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac2[6] = {0x02, 0, 0, 0, 0, 0x02};
#define IP_10_0_0_1 0x0a000001u
#define IP_10_0_0_2 0x0a000002u

static int check_exact(const uint8_t *b, size_t len)
{
	return tu_check_exact(sl_arp_check, b, len);
}

/* --- construct ---------------------------------------------------------------------- */

static void test_arp_emit_request_golden(void **state)
{
	uint8_t g[128], out[64];
	size_t n = tu_hex(g_req, g, sizeof g);
	assert_int_equal(n, SL_ETH_HLEN + SL_ARP_LEN);
	memset(out, 0xee, sizeof out);
	sl_eth_emit(out, sl_mac_broadcast, mac1, SL_ETH_P_ARP);
	sl_arp_emit(out + SL_ETH_HLEN, SL_ARP_REQUEST, mac1, IP_10_0_0_1, mac0, IP_10_0_0_2);
	assert_memory_equal(out, g, n);
	assert_int_equal(out[n], 0xee); /* exactly 28 bytes written */
}

static void test_arp_emit_reply_golden(void **state)
{
	uint8_t g[128], out[64];
	size_t n = tu_hex(g_rep, g, sizeof g);
	sl_eth_emit(out, mac1, mac2, SL_ETH_P_ARP);
	sl_arp_emit(out + SL_ETH_HLEN, SL_ARP_REPLY, mac2, IP_10_0_0_2, mac1, IP_10_0_0_1);
	assert_memory_equal(out, g, n);

	uint8_t sha[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	uint8_t tha[6] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
	n = tu_hex(g_rep_hi, g, sizeof g);
	sl_arp_emit(out, SL_ARP_REPLY, sha, 0xc0a8fffe, tha, 0xac100001);
	assert_memory_equal(out, g, n);
}

/* --- deconstruct -------------------------------------------------------------------- */

static void test_arp_parse_request_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_req, g, sizeof g);
	const uint8_t *a = g + SL_ETH_HLEN;
	assert_int_equal(check_exact(a, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_arp_op(a), SL_ARP_REQUEST);
	assert_memory_equal(sl_arp_sha(a), mac1, 6);
	assert_int_equal(sl_arp_spa(a), IP_10_0_0_1);
	assert_memory_equal(sl_arp_tha(a), mac0, 6);
	assert_int_equal(sl_arp_tpa(a), IP_10_0_0_2);
}

static void test_arp_parse_reply_golden(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_rep, g, sizeof g);
	const uint8_t *a = g + SL_ETH_HLEN;
	assert_int_equal(check_exact(a, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_arp_op(a), SL_ARP_REPLY);
	assert_memory_equal(sl_arp_sha(a), mac2, 6);
	assert_int_equal(sl_arp_spa(a), IP_10_0_0_2);
	assert_memory_equal(sl_arp_tha(a), mac1, 6);
	assert_int_equal(sl_arp_tpa(a), IP_10_0_0_1);

	n = tu_hex(g_rep_hi, g, sizeof g);
	uint8_t sha[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	uint8_t tha[6] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_arp_op(g), SL_ARP_REPLY);
	assert_memory_equal(sl_arp_sha(g), sha, 6);
	assert_int_equal(sl_arp_spa(g), 0xc0a8fffeu); /* high bit set: no sign trouble */
	assert_memory_equal(sl_arp_tha(g), tha, 6);
	assert_int_equal(sl_arp_tpa(g), 0xac100001u);
}

/* Minimum-size Ethernet frames carry 18 bytes of padding after the 28-byte ARP packet. */
static void test_arp_parse_padded(void **state)
{
	uint8_t g[128];
	size_t n = tu_hex(g_req_padded, g, sizeof g);
	assert_int_equal(n, 60);
	assert_int_equal(check_exact(g + SL_ETH_HLEN, n - SL_ETH_HLEN), 0);
	assert_int_equal(sl_arp_tpa(g + SL_ETH_HLEN), IP_10_0_0_2);
}

static void test_arp_parse_gratuitous(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_garp, g, sizeof g);
	assert_int_equal(check_exact(g, n), 0);
	assert_int_equal(sl_arp_spa(g), sl_arp_tpa(g));
}

/* --- round-trip --------------------------------------------------------------------- */

static void test_arp_round_trip(void **state)
{
	const char *vec[] = {g_req + 2 * SL_ETH_HLEN, g_rep + 2 * SL_ETH_HLEN, g_rep_hi, g_garp};
	for (unsigned k = 0; k < sizeof(vec) / sizeof(vec[0]); k++) {
		uint8_t g[64], out[64];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(n, SL_ARP_LEN);
		assert_int_equal(sl_arp_check(g, n), 0);
		uint8_t sha[6], tha[6];
		memcpy(sha, sl_arp_sha(g), 6);
		memcpy(tha, sl_arp_tha(g), 6);
		memset(out, 0, sizeof out);
		sl_arp_emit(out, sl_arp_op(g), sha, sl_arp_spa(g), tha, sl_arp_tpa(g));
		assert_memory_equal(out, g, n);
		assert_int_equal(sl_arp_check(out, n), 0);
	}
}

/* --- malformed ---------------------------------------------------------------------- */

/* Every truncation of a valid request is arp_short. */
static void test_arp_truncated(void **state)
{
	uint8_t g[128];
	tu_hex(g_req, g, sizeof g);
	const uint8_t *a = g + SL_ETH_HLEN;
	for (size_t len = 0; len < SL_ARP_LEN; len++)
		assert_int_equal(check_exact(a, len), SL_STAT_arp_short);
	assert_int_equal(check_exact(a, SL_ARP_LEN), 0);
}

static void test_arp_hlen8_unsupported(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_hlen8, g, sizeof g);
	assert_int_equal(n, 32);
	assert_int_equal(check_exact(g, n), SL_STAT_arp_unsupported);
}

static void test_arp_htype_unsupported(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_htype6, g, sizeof g);
	assert_int_equal(check_exact(g, n), SL_STAT_arp_unsupported);
}

static void test_arp_ptype_unsupported(void **state)
{
	uint8_t g[64];
	size_t n = tu_hex(g_ptype6, g, sizeof g);
	assert_int_equal(n, 52);
	assert_int_equal(check_exact(g, n), SL_STAT_arp_unsupported);
}

/* Derived from the golden request: every hlen other than 6 and plen other than 4. */
static void test_arp_lengths_unsupported(void **state)
{
	uint8_t g[128];
	tu_hex(g_req, g, sizeof g);
	uint8_t *a = g + SL_ETH_HLEN;
	for (unsigned v = 0; v < 256; v++) {
		a[4] = (uint8_t)v;
		assert_int_equal(check_exact(a, SL_ARP_LEN), v == 6 ? 0 : SL_STAT_arp_unsupported);
	}
	a[4] = 6;
	for (unsigned v = 0; v < 256; v++) {
		a[5] = (uint8_t)v;
		assert_int_equal(check_exact(a, SL_ARP_LEN), v == 4 ? 0 : SL_STAT_arp_unsupported);
	}
}

static void test_arp_bad_op(void **state)
{
	const char *vec[] = {g_op3, g_op0, g_opffff};
	for (unsigned k = 0; k < 3; k++) {
		uint8_t g[64];
		size_t n = tu_hex(vec[k], g, sizeof g);
		assert_int_equal(check_exact(g, n), SL_STAT_arp_bad_op);
	}
	/* Truncated and bad op: short is reported (the op is not there to judge). */
	uint8_t g[64];
	tu_hex(g_op3, g, sizeof g);
	assert_int_equal(check_exact(g, SL_ARP_LEN - 1), SL_STAT_arp_short);
}

/* --- the neighbour cache (user/proto/arp.c) under a flood ----------------------------- */

/* A stack on a /16 at one end of a pipe; the test plays every host of the link at the other
 * end. Hosts it knows (lan_host) answer the stack's ARP requests; what the stack sends to a
 * host is counted per host. */
#define MS 1000000ULL
#define SEC 1000000000ULL
#define LAN_ST 0x0a010003u /* 10.1.0.3/16: the stack */
#define LAN_HOSTS 8

struct lan_host {
	uint32_t ip;
	uint8_t mac[6];
	unsigned udp_rx; /* echoes the stack sent it (right MAC and address) */
	unsigned arp_rx; /* the stack's requests for its address */
	bool mute;	 /* answers none of them */
};

static struct {
	struct sl_dev *sd, *pd;
	struct sl_stack *st;
	uint64_t now;
	struct lan_host h[LAN_HOSTS];
	unsigned nh;
	unsigned arp_replies; /* the stack's replies to anyone */
	unsigned other;
	bool up;
} L;

#define LSTAT(name) (sl_stack_stats(L.st)->c[SL_STAT_##name])

static void lan_echo(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		     const uint8_t *data, size_t len)
{
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	sl_udp_write(st, &o, &m->src, m->src_port, data, len);
}

/* The stack's configuration: LAN_ST/16, a cache of cache_size entries. */
static struct sl_stack_config lan_cfg(uint32_t cache_size)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = sl_ip_v4(LAN_ST);
	c.addrs[0].prefix_len = 16;
	c.n_addrs = 1;
	c.arp_cache_size = cache_size;
	c.deterministic_secrets = true; /* the same buckets every run */
	return c;
}

static void lan_open(const struct sl_stack_config *cfg)
{
	memset(&L, 0, sizeof L);
	struct sl_stack_config c = cfg ? *cfg : lan_cfg(256);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &L.sd, &L.pd), 0);
	L.now = 1000 * MS;
	assert_int_equal(sl_stack_open(L.sd, &c, L.now, &L.st), 0);
	assert_int_equal(sl_udp_listen(L.st, 7, lan_echo, NULL), 0);
	L.up = true;
}

static struct lan_host *lan_host(uint32_t ip, uint8_t last_mac_byte)
{
	assert_true(L.nh < LAN_HOSTS);
	struct lan_host *h = &L.h[L.nh++];
	h->ip = ip;
	const uint8_t mac[6] = {0x02, 0x4c, 0, 0, 0, last_mac_byte};
	memcpy(h->mac, mac, 6);
	return h;
}

static void lan_tx(struct sl_frame *f)
{
	assert_int_equal(L.pd->ops->tx(L.pd, f), 0);
}

static void lan_arp(uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *eth_dst,
		    const uint8_t *tha, uint32_t tpa)
{
	struct sl_frame f;
	assert_int_equal(L.pd->ops->alloc(L.pd, &f), 0);
	sl_eth_emit(f.data, eth_dst, sha, SL_ETH_P_ARP);
	sl_arp_emit(f.data + SL_ETH_HLEN, op, sha, spa, tha, tpa);
	f.len = SL_ETH_HLEN + SL_ARP_LEN;
	lan_tx(&f);
}

/* A request for the stack's address from (sha, spa), broadcast. */
static void lan_request(const uint8_t *sha, uint32_t spa)
{
	lan_arp(SL_ARP_REQUEST, sha, spa, sl_mac_broadcast, mac0, LAN_ST);
}

/* A UDP datagram from host h to the stack's echo port (checksum computed here). */
static void lan_udp(const struct lan_host *h, uint16_t sport)
{
	struct sl_frame f;
	assert_int_equal(L.pd->ops->alloc(L.pd, &f), 0);
	uint8_t *ip = f.data + SL_ETH_HLEN, *u = ip + 20;
	const size_t dlen = 8;
	memset(ip, 0, 20 + 8 + dlen);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + dlen));
	ip[8] = 64;
	ip[9] = 17;
	put32(ip + 12, h->ip);
	put32(ip + 16, LAN_ST);
	put16(ip + 10, (uint16_t)~csum16(ip, 20, 0));
	put16(u, sport);
	put16(u + 2, 7);
	put16(u + 4, (uint16_t)(8 + dlen));
	memcpy(u + 8, "echo me!", dlen);
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0, ph[9] = 17;
	put16(ph + 10, (uint16_t)(8 + dlen));
	uint16_t c = (uint16_t)~csum16(u, 8 + dlen, csum16(ph, 12, 0));
	put16(u + 6, c ? c : 0xffff);
	sl_eth_emit(f.data, L.sd->mac, h->mac, SL_ETH_P_IPV4);
	f.len = (uint32_t)(SL_ETH_HLEN + 20 + 8 + dlen);
	lan_tx(&f);
}

static struct lan_host *host_by_ip(uint32_t ip)
{
	for (unsigned i = 0; i < L.nh; i++)
		if (L.h[i].ip == ip)
			return &L.h[i];
	return NULL;
}

/* What the stack sent: known hosts answer its requests; echoes are counted per host. */
static void lan_collect(void)
{
	struct sl_frame fr[64];
	int n;
	while ((n = L.pd->ops->rx(L.pd, fr, 64, L.now)) > 0) {
		for (int i = 0; i < n; i++) {
			const uint8_t *p = fr[i].data;
			size_t len = fr[i].len;
			assert_int_equal(sl_eth_check(p, len), 0);
			struct lan_host *h = NULL;
			if (sl_eth_type(p) == SL_ETH_P_ARP) {
				const uint8_t *a = p + SL_ETH_HLEN;
				assert_int_equal(sl_arp_check(a, len - SL_ETH_HLEN), 0);
				if (sl_arp_op(a) == SL_ARP_REPLY) {
					L.arp_replies++;
				} else if ((h = host_by_ip(sl_arp_tpa(a)))) {
					h->arp_rx++;
					if (!h->mute)
						lan_arp(SL_ARP_REPLY, h->mac, h->ip, sl_arp_sha(a),
							sl_arp_sha(a), sl_arp_spa(a));
				}
			} else if (sl_eth_type(p) == SL_ETH_P_IPV4 && len >= SL_ETH_HLEN + 28 &&
				   p[SL_ETH_HLEN + 9] == 17 &&
				   (h = host_by_ip(get32(p + SL_ETH_HLEN + 16))) &&
				   !memcmp(sl_eth_dst(p), h->mac, 6)) {
				h->udp_rx++;
			} else {
				L.other++;
			}
			L.pd->ops->release(L.pd, &fr[i]);
		}
	}
	L.pd->ops->flush(L.pd, L.now);
}

/* Poll for ns of simulated time in 1 ms steps, the test's hosts answering as they go. */
static void lan_run(uint64_t ns)
{
	uint64_t end = L.now + ns;
	do {
		L.pd->ops->flush(L.pd, L.now);
		sl_stack_poll(L.st, L.now);
		lan_collect();
		sl_stack_poll(L.st, L.now);
		lan_collect();
		L.now += MS;
	} while (L.now < end);
}

/* Close, and check that every frame is back in its pool. */
static void lan_close(void)
{
	sl_stack_close(L.st);
	L.up = false;
	pn_close_counted(L.sd, L.pd);
}

/* cmocka teardown: frees what a failed test left behind. */
static int lan_teardown(void **state)
{
	if (L.up) {
		sl_stack_close(L.st);
		sl_dev_close(L.sd);
		sl_dev_close(L.pd);
		L.up = false;
	}
	return 0;
}

/* A host's echo comes back within a second. */
static void expect_echo(struct lan_host *h, uint16_t sport)
{
	unsigned before = h->udp_rx;
	lan_udp(h, sport);
	lan_run(1000 * MS);
	if (h->udp_rx != before + 1)
		print_message("no echo to %08x (port %u): arp_cache_full %llu, its requests %u\n",
			      h->ip, sport, (unsigned long long)LSTAT(arp_cache_full), h->arp_rx);
	assert_int_equal(h->udp_rx, before + 1);
}

/* The spoofed sender number i: a distinct on-link address (10.1.x.y, never .0.3 or a test
 * host) with a MAC of its own. */
static uint32_t spoof_ip(unsigned i)
{
	return 0x0a010000u | (uint32_t)(0x1000 + i);
}

static void spoof_mac(unsigned i, uint8_t mac[6])
{
	const uint8_t m[6] = {0x02, 0x5f, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	memcpy(mac, m, 6);
}

/* Flood n spoofed requests for the stack's address, 32 per millisecond. */
static void flood(unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		uint8_t mac[6];
		spoof_mac(i, mac);
		lan_request(mac, spoof_ip(i));
		if ((i - first) % 32 == 31)
			lan_run(MS);
	}
	lan_run(MS);
}

/* A cache of 256 (the default) full of the flood's entries, each good for arp_reachable_ns. */
static void flood_fills_cache(void)
{
	unsigned before = L.arp_replies;
	flood(0, 1000);
	assert_int_equal(L.arp_replies, before + 1000); /* every request answered */
}

/* The report of issue 9: a neighbour cached before a flood of spoofed requests from distinct
 * on-link senders, idle for a while, comes back (as a kernel with the stack still in its
 * cache does: straight with a datagram, no request) while the flood goes on. Its entry left
 * the cache the normal way (unused for a reachable time); while the flood's entries held
 * every slot, it could not be made again, neither for the stack's reply nor from the
 * neighbour's own request: arp_cache_full, the reply dropped. */
static void test_neigh_flood_old_neighbour_comes_back(void **state)
{
	lan_open(NULL);
	struct lan_host *old = lan_host(0x0a010002u, 2); /* 10.1.0.2 */
	lan_request(old->mac, old->ip);
	lan_run(MS);
	expect_echo(old, 1000);
	assert_int_equal(old->arp_rx, 0); /* learned from its request */

	flood_fills_cache();
	expect_echo(old, 1001); /* still cached */
	/* The flood goes on (50 new senders a second, enough to keep 256 entries of 60 s
	 * taken) while the neighbour is idle: its entry, used at the start, is refreshed once
	 * (RFC 1122 §2.3.2.1) and expires, unused, after two reachable times. */
	for (unsigned k = 0; k < 125; k++) {
		flood(1000 + 50 * k, 50);
		lan_run(1000 * MS);
	}
	expect_echo(old, 1002);
	assert_true(old->arp_rx >= 1); /* resolved again */
	expect_echo(old, 1003);
	lan_close();
}

/* During and after a flood, a host the stack never met is reached: one that asks for the
 * stack's address first (learned from its request), one that does not (the stack asks). */
static void test_neigh_flood_new_neighbours(void **state)
{
	lan_open(NULL);
	struct lan_host *asks = lan_host(0x0a01c801u, 9);    /* 10.1.200.1 */
	struct lan_host *silent = lan_host(0x0a01c802u, 10); /* 10.1.200.2 */
	flood_fills_cache();
	lan_request(asks->mac, asks->ip);
	expect_echo(asks, 2000);
	assert_int_equal(asks->arp_rx, 0);
	expect_echo(silent, 3000);
	assert_int_equal(silent->arp_rx, 1);
	flood(1000, 1000);
	expect_echo(asks, 2001);
	expect_echo(silent, 3001);
	lan_close();
}

/* A neighbour in use throughout a flood that lasts past the reachable time (its entry is
 * refreshed by a unicast request, RFC 1122 §2.3.2.1) keeps getting its replies. */
static void test_neigh_flood_busy_neighbour(void **state)
{
	lan_open(NULL);
	struct lan_host *old = lan_host(0x0a010002u, 2);
	lan_request(old->mac, old->ip);
	lan_run(MS);
	flood_fills_cache();
	for (unsigned k = 0; k < 70; k++) {
		flood(1000 + 20 * k, 20);
		expect_echo(old, (uint16_t)(1100 + k));
	}
	assert_true(old->arp_rx >= 1); /* refreshed */
	lan_close();
}

/* --- which entry a full cache gives up --------------------------------------------------- */

/* h asks for the stack's address (the stack learns it, RFC 826). */
static void lan_learn(struct lan_host *h)
{
	lan_request(h->mac, h->ip);
	lan_run(MS);
}

static bool cached(uint32_t ip)
{
	sl_ip a = sl_ip_v4(ip);
	return sl_neigh_lookup(L.st, &a) != NULL;
}

/* Entries nothing was sent to go first, the oldest first; a neighbour in use stays. */
static void test_neigh_full_replaces_unused_first(void **state)
{
	struct sl_stack_config c = lan_cfg(4);
	lan_open(&c);
	struct lan_host *busy = lan_host(0x0a010002u, 2);
	lan_learn(busy);
	expect_echo(busy, 1);
	flood(0, 3); /* the cache is full: busy and three unused */
	assert_int_equal(LSTAT(arp_evicted), 0);
	flood(3, 1);
	assert_int_equal(LSTAT(arp_evicted), 1);
	assert_false(cached(spoof_ip(0))); /* the oldest unused one went */
	assert_true(cached(spoof_ip(1)) && cached(spoof_ip(3)));
	flood(4, 100);
	assert_int_equal(LSTAT(arp_evicted), 101);
	assert_int_equal(LSTAT(arp_cache_full), 0);
	expect_echo(busy, 2);
	assert_int_equal(busy->arp_rx, 0); /* never asked again: it stayed */
	lan_close();
}

/* Neighbours all in use: the least recently used one goes. */
static void test_neigh_full_replaces_least_recently_used(void **state)
{
	struct sl_stack_config c = lan_cfg(4);
	lan_open(&c);
	struct lan_host *h[5];
	for (unsigned i = 0; i < 5; i++)
		h[i] = lan_host(0x0a010010u + i, (uint8_t)(0x10 + i));
	for (unsigned i = 0; i < 4; i++) {
		lan_learn(h[i]);
		expect_echo(h[i], 1);
	}
	expect_echo(h[0], 2); /* the use order is now 1 2 3 0 */
	lan_learn(h[4]);
	expect_echo(h[4], 1);
	assert_int_equal(LSTAT(arp_evicted), 1);
	assert_false(cached(h[1]->ip));
	assert_true(cached(h[0]->ip));
	expect_echo(h[1], 2); /* asked for again, in place of h[2] */
	assert_int_equal(h[1]->arp_rx, 1);
	assert_false(cached(h[2]->ip));
	for (unsigned i = 0; i < 5; i++)
		if (i != 1 && i != 2)
			assert_int_equal(h[i]->arp_rx, 0);
	lan_close();
}

/* A resolution with a packet waiting outlives a flood of requests; it is answered late and
 * the packet leaves. */
static void test_neigh_full_keeps_waiting_resolution(void **state)
{
	struct sl_stack_config c = lan_cfg(4);
	lan_open(&c);
	struct lan_host *slow = lan_host(0x0a010002u, 2);
	slow->mute = true;
	lan_udp(slow, 1); /* straight with a datagram: the echo waits for ARP */
	lan_run(MS);
	assert_int_equal(slow->arp_rx, 1);
	flood(0, 100);
	assert_int_equal(LSTAT(arp_evicted), 100 - 3);
	slow->mute = false;
	lan_run(1500 * MS); /* the next retry is answered */
	assert_int_equal(slow->udp_rx, 1);
	assert_int_equal(LSTAT(arp_unresolved), 0);
	lan_close();
}

/* Every entry a resolution with packets waiting: a request's sender is not learned (the
 * request is still answered), but a packet to send takes the place of the one that waited
 * longest (its packet dropped: arp_unresolved). */
static void test_neigh_full_of_waiting_resolutions(void **state)
{
	struct sl_stack_config c = lan_cfg(2);
	lan_open(&c);
	struct lan_host *m1 = lan_host(0x0a010002u, 2), *m2 = lan_host(0x0a010004u, 4);
	struct lan_host *h = lan_host(0x0a010005u, 5);
	m1->mute = m2->mute = true;
	lan_udp(m1, 1);
	lan_run(MS);
	lan_udp(m2, 1);
	lan_run(MS);
	unsigned replies = L.arp_replies;
	flood(0, 10);
	assert_int_equal(L.arp_replies, replies + 10);
	assert_int_equal(LSTAT(arp_cache_full), 10);
	assert_int_equal(LSTAT(arp_evicted), 0);
	expect_echo(h, 1); /* resolved in m1's place */
	assert_int_equal(LSTAT(arp_evicted), 1);
	assert_int_equal(LSTAT(arp_unresolved), 1);
	assert_false(cached(m1->ip));
	assert_true(cached(m2->ip));
	lan_close();
}

static void on_query(void *arg, int err, const sl_ip *ip, const uint8_t *mac)
{
	*(int *)arg = err;
}

/* An entry an sl_arp_query waits for is never given up: with every entry one, a packet to a
 * new neighbour finds no room (arp_cache_full, dropped as arp_pending_full) and a query says
 * -ENOSPC; the queries time out as ever. */
static void test_neigh_full_of_queries(void **state)
{
	struct sl_stack_config c = lan_cfg(2);
	lan_open(&c);
	struct lan_host *h = lan_host(0x0a010005u, 5);
	int r1 = 1, r2 = 1;
	uint8_t mac[6];
	sl_ip q1 = sl_ip_v4(0x0a010101u), q2 = sl_ip_v4(0x0a010102u), q3 = sl_ip_v4(0x0a010103u);
	assert_int_equal(sl_arp_query(L.st, &q1, mac, on_query, &r1), 1);
	assert_int_equal(sl_arp_query(L.st, &q2, mac, on_query, &r2), 1);
	assert_int_equal(sl_arp_query(L.st, &q3, mac, NULL, NULL), -ENOSPC);
	lan_udp(h, 1);
	lan_run(MS);
	assert_int_equal(LSTAT(arp_pending_full), 1);
	assert_int_equal(LSTAT(arp_cache_full), 2);
	assert_int_equal(LSTAT(arp_evicted), 0);
	lan_run(4000 * MS);
	assert_int_equal(r1, -ETIMEDOUT);
	assert_int_equal(r2, -ETIMEDOUT);
	expect_echo(h, 2); /* room again */
	lan_close();
}

/* IPv6 neighbours share the cache: a STALE one (RFC 4861 §7.3.2: unconfirmed, nothing sent
 * to it since) goes before a REACHABLE one, and before an IPv4 one in use. */
static void test_neigh_full_replaces_stale_ipv6(void **state)
{
	struct sl_stack_config c = lan_cfg(3);
	lan_open(&c);
	struct lan_host *v4 = lan_host(0x0a010002u, 2);
	sl_ip r, s6;
	assert_int_equal(sl_ip_parse("fe80::1", &r), 0);
	assert_int_equal(sl_ip_parse("fe80::2", &s6), 0);
	const uint8_t mr[6] = {0x02, 0x66, 0, 0, 0, 1}, ms[6] = {0x02, 0x66, 0, 0, 0, 2};
	sl_neigh_learn(L.st, &r, mr, true, true);   /* a solicited advertisement: REACHABLE */
	sl_neigh_learn(L.st, &s6, ms, true, false); /* a solicitation's source: STALE */
	assert_int_equal(sl_neigh_lookup(L.st, &r)->state, SL_ARP_REACHABLE);
	assert_int_equal(sl_neigh_lookup(L.st, &s6)->state, SL_ARP_STALE);
	lan_learn(v4);
	expect_echo(v4, 1);
	flood(0, 1);
	assert_int_equal(LSTAT(arp_evicted), 1);
	assert_null(sl_neigh_lookup(L.st, &s6));
	assert_non_null(sl_neigh_lookup(L.st, &r));
	assert_true(cached(v4->ip));
	lan_close();
}

/* The longest hash chain of the cache. */
static unsigned longest_chain(void)
{
	const struct sl_arp *a = &L.st->arp;
	unsigned longest = 0;
	for (uint32_t b = 0; b < a->nbuckets; b++) {
		unsigned n = 0;
		for (int32_t i = a->bucket[b]; i >= 0; i = a->e[i].next)
			n++;
		longest = n > longest ? n : longest;
	}
	return longest;
}

/* The addresses of one /16 spread over the hash buckets: a flood from them must not make
 * every lookup walk a chain as long as the cache (256 in 256 buckets: a longest chain of 4
 * or 5 is usual, 10 would be one in millions). */
static void test_neigh_hash_spreads_a_prefix(void **state)
{
	lan_open(NULL);
	flood(0, 256); /* 10.1.16.0 to 10.1.16.255 */
	assert_int_equal(L.st->arp.used, 256);
	unsigned consecutive = longest_chain();
	/* Then 256 more from all over the /16 (an LCG: distinct, none of the first). */
	uint32_t x = 1;
	for (unsigned i = 0; i < 256; i++) {
		uint8_t mac[6];
		spoof_mac(1000 + i, mac);
		x = x * 75u + 74u; /* full period mod 65537 */
		x %= 65537u;
		uint32_t ip = 0x0a010000u | (x & 0xffffu);
		if ((ip & 0xff00u) == 0x1000u || (ip & 0xffffu) == 0xffffu || (ip & 0xffffu) == 0 ||
		    ip == LAN_ST)
			continue;
		lan_request(mac, ip);
		if (i % 32 == 31)
			lan_run(MS);
	}
	lan_run(MS);
	unsigned spread = longest_chain();
	print_message("longest chain: %u (consecutive), %u (spread)\n", consecutive, spread);
	assert_true(consecutive <= 10);
	assert_true(spread <= 10);
	lan_close();
}

/* --- RFC 826 merge rules: what makes an entry ---------------------------------------------- */

/* A reply nobody asked for makes no entry (arp_unsolicited): the stack asks itself when it
 * has something to send. */
static void test_arp_unsolicited_reply_makes_no_entry(void **state)
{
	lan_open(NULL);
	struct lan_host *h = lan_host(0x0a010002u, 2);
	lan_arp(SL_ARP_REPLY, h->mac, h->ip, L.sd->mac, L.sd->mac, LAN_ST);
	lan_run(MS);
	assert_int_equal(LSTAT(arp_unsolicited), 1);
	assert_false(cached(h->ip));
	expect_echo(h, 1);
	assert_int_equal(h->arp_rx, 1);
	/* Once there is an entry, a reply (even unasked) merges into it: a new MAC is used at
	 * once. */
	h->mac[5] = 0x22;
	lan_arp(SL_ARP_REPLY, h->mac, h->ip, L.sd->mac, L.sd->mac, LAN_ST);
	expect_echo(h, 2);
	assert_int_equal(h->arp_rx, 1);
	assert_int_equal(LSTAT(arp_unsolicited), 1);
	lan_close();
}

/* Announcements (gratuitous ARP, RFC 5227 §2.3: sender and target the same), request or reply,
 * update a neighbour we have and make none. */
static void test_arp_announcement_updates_only(void **state)
{
	lan_open(NULL);
	struct lan_host *known = lan_host(0x0a010002u, 2), *other = lan_host(0x0a010004u, 4);
	lan_learn(known);
	lan_arp(SL_ARP_REQUEST, other->mac, other->ip, sl_mac_broadcast, mac0, other->ip);
	lan_arp(SL_ARP_REPLY, other->mac, other->ip, sl_mac_broadcast, other->mac, other->ip);
	lan_run(MS);
	assert_false(cached(other->ip));
	assert_int_equal(LSTAT(arp_not_for_us), 1);
	assert_int_equal(LSTAT(arp_unsolicited), 1);
	known->mac[5] = 0x22; /* it moved to another card */
	lan_arp(SL_ARP_REQUEST, known->mac, known->ip, sl_mac_broadcast, mac0, known->ip);
	expect_echo(known, 1); /* at the new MAC, without asking */
	assert_int_equal(known->arp_rx, 0);
	lan_close();
}

/* A request for us from a sender off every prefix of ours is answered and not learned; our
 * gateway is learned even off the prefixes. A directed broadcast is no sender. */
static void test_arp_off_link_sender_not_learned(void **state)
{
	struct sl_stack_config c = lan_cfg(256);
	c.gateway = sl_ip_v4(0xc0a80701u); /* 192.168.7.1, off 10.1/16 */
	lan_open(&c);
	const uint8_t m[6] = {0x02, 0x77, 0, 0, 0, 7}, g[6] = {0x02, 0x77, 0, 0, 0, 1};
	unsigned replies = L.arp_replies;
	lan_request(m, 0xc0a80707u); /* 192.168.7.7 */
	lan_request(g, 0xc0a80701u);
	lan_run(MS);
	assert_int_equal(L.arp_replies, replies + 2);
	assert_int_equal(LSTAT(arp_off_link), 1);
	assert_false(cached(0xc0a80707u));
	assert_true(cached(0xc0a80701u));
	lan_request(m, 0x0a01ffffu); /* 10.1.255.255 */
	lan_run(MS);
	assert_int_equal(LSTAT(arp_bad_sender), 1);
	assert_false(cached(0x0a01ffffu));
	assert_int_equal(L.arp_replies, replies + 2);
	lan_close();
}

/* Two stacks on two queues of one interface, sharing neighbours: the answer to the request
 * one of them sent arrives on the other queue, which keeps no entry for it (it did not ask)
 * but hands it to the asker through the share. A reply nobody asked for is taken by neither. */
static void test_neigh_share_answer_on_other_queue(void **state)
{
	struct sl_neigh_share *share;
	assert_int_equal(sl_neigh_share_new(16, &share), 0);
	struct sl_stack_config c = lan_cfg(16);
	c.neigh_share = share;
	struct sl_dev *sd[2], *pd[2];
	struct sl_stack *st[2];
	uint64_t now = 1000 * MS;
	for (int q = 0; q < 2; q++) {
		assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &sd[q], &pd[q]), 0);
		assert_int_equal(sl_stack_open(sd[q], &c, now, &st[q]), 0);
		assert_int_equal(sl_udp_listen(st[q], 7, lan_echo, NULL), 0);
	}
	struct sl_frame f[8];
	int n;
	for (int q = 0; q < 2; q++) { /* the announcements */
		while ((n = pd[q]->ops->rx(pd[q], f, 8, now)) > 0)
			for (int i = 0; i < n; i++)
				pd[q]->ops->release(pd[q], &f[i]);
	}
	/* lan_udp and lan_arp send through L.pd, to L.sd's MAC: point them at queue 1. */
	memset(&L, 0, sizeof L);
	L.sd = sd[1], L.pd = pd[1];
	struct lan_host *h = lan_host(0x0a010002u, 2);
	lan_udp(h, 1);
	pd[1]->ops->flush(pd[1], now);
	for (int k = 0; k < 2; k++)
		sl_stack_poll(st[1], now);
	/* Queue 1 asked; what it sent: the request (no echo yet). */
	n = pd[1]->ops->rx(pd[1], f, 8, now);
	assert_int_equal(n, 1);
	assert_int_equal(sl_eth_type(f[0].data), SL_ETH_P_ARP);
	assert_int_equal(sl_arp_tpa(f[0].data + SL_ETH_HLEN), h->ip);
	pd[1]->ops->release(pd[1], &f[0]);
	/* The answer lands on queue 0, and so does a reply from a host nobody asked for. */
	L.sd = sd[0], L.pd = pd[0];
	lan_arp(SL_ARP_REPLY, h->mac, h->ip, sd[0]->mac, sd[0]->mac, LAN_ST);
	const uint8_t u[6] = {0x02, 0x55, 0, 0, 0, 5};
	lan_arp(SL_ARP_REPLY, u, 0x0a010005u, sd[0]->mac, sd[0]->mac, LAN_ST);
	pd[0]->ops->flush(pd[0], now);
	now += MS;
	for (int k = 0; k < 2; k++)
		for (int q = 0; q < 2; q++)
			sl_stack_poll(st[q], now);
	sl_ip hip = sl_ip_v4(h->ip), uip = sl_ip_v4(0x0a010005u);
	assert_null(sl_neigh_lookup(st[0], &hip));
	assert_int_equal(sl_stack_stats(st[0])->c[SL_STAT_arp_unsolicited], 1);
	n = pd[1]->ops->rx(pd[1], f, 8, now);
	assert_int_equal(n, 1); /* the echo, resolved through the share */
	assert_int_equal(sl_eth_type(f[0].data), SL_ETH_P_IPV4);
	assert_memory_equal(sl_eth_dst(f[0].data), h->mac, 6);
	pd[1]->ops->release(pd[1], &f[0]);
	/* The unasked host: queue 1 has to ask for it. */
	uint8_t mac[6];
	assert_int_equal(sl_arp_query(st[1], &uip, mac, NULL, NULL), 1);
	for (int q = 0; q < 2; q++) {
		sl_stack_close(st[q]);
		pn_close_counted(sd[q], pd[q]);
	}
	sl_neigh_share_free(share);
	memset(&L, 0, sizeof L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arp_emit_request_golden),
	    cmocka_unit_test(test_arp_emit_reply_golden),
	    cmocka_unit_test(test_arp_parse_request_golden),
	    cmocka_unit_test(test_arp_parse_reply_golden),
	    cmocka_unit_test(test_arp_parse_padded),
	    cmocka_unit_test(test_arp_parse_gratuitous),
	    cmocka_unit_test(test_arp_round_trip),
	    cmocka_unit_test(test_arp_truncated),
	    cmocka_unit_test(test_arp_hlen8_unsupported),
	    cmocka_unit_test(test_arp_htype_unsupported),
	    cmocka_unit_test(test_arp_ptype_unsupported),
	    cmocka_unit_test(test_arp_lengths_unsupported),
	    cmocka_unit_test(test_arp_bad_op),
	    cmocka_unit_test_teardown(test_neigh_flood_old_neighbour_comes_back, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_flood_new_neighbours, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_flood_busy_neighbour, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_full_replaces_unused_first, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_full_replaces_least_recently_used, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_full_keeps_waiting_resolution, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_full_of_waiting_resolutions, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_full_of_queries, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_full_replaces_stale_ipv6, lan_teardown),
	    cmocka_unit_test_teardown(test_neigh_hash_spreads_a_prefix, lan_teardown),
	    cmocka_unit_test_teardown(test_arp_unsolicited_reply_makes_no_entry, lan_teardown),
	    cmocka_unit_test_teardown(test_arp_announcement_updates_only, lan_teardown),
	    cmocka_unit_test_teardown(test_arp_off_link_sender_not_learned, lan_teardown),
	    cmocka_unit_test(test_neigh_share_answer_on_other_queue),
	};
	return cmocka_run_group_tests_name("arp", tests, NULL, NULL);
}
