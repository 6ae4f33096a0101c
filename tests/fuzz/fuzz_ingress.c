/*
 * libFuzzer target over the whole ingress path: each input is one Ethernet frame
 * delivered to a stack through the pipe device. Whatever the bytes, the stack
 * must not crash, leak frames, or send anything malformed (every frame it sends
 * is re-parsed and must pass its own checks).
 */
#include "sluice/sluice.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/arp.h"
#include "wire/icmp.h"
#include "wire/tcp.h"
#include "wire/ipv6.h"
#include "wire/checksum.h"
#include <stdlib.h>
#include <string.h>

struct fixture {
	struct sl_dev *peer, *dev;
	struct sl_stack *st;
	uint64_t now;
};

static void fz_udp(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		   const uint8_t *data, size_t len)
{
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	sl_udp_write(st, &o, &m->src, m->src_port, data, len);
}

static void fz_readable(void *arg, struct sl_tcp_flow *f)
{
	uint8_t buf[2048];
	ssize_t n;
	while ((n = sl_tcp_read(f, buf, sizeof(buf))) > 0)
		sl_tcp_write(f, buf, (size_t)n);
	if (n == 0)
		sl_tcp_close(f);
}

static void fz_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	sl_tcp_close(f);
}

static const struct sl_tcp_callbacks fz_cbs = {.on_readable = fz_readable, .on_closed = fz_closed};

static void fz_accept(void *arg, struct sl_tcp_flow *f)
{
	sl_tcp_set_callbacks(f, &fz_cbs, NULL);
}

static struct fixture *setup(void)
{
	static struct fixture fx;
	if (fx.st)
		return &fx;
	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	cfg.deterministic_secrets = true; /* an input replays with the same ISNs and cookies */
	sl_ip_parse("10.1.0.2", &cfg.addrs[0].addr);
	cfg.addrs[0].prefix_len = 24;
	cfg.n_addrs = 1;
	/* IPv6 too (seeds tests/fuzz/corpus/ipv6_*, tests/fuzz/gen_ipv6_seeds.py). */
	sl_ip_parse("fd01::2", &cfg.addrs[1].addr);
	cfg.addrs[1].prefix_len = 64;
	cfg.n_addrs = 2;
	sl_ip_parse("10.1.0.1", &cfg.gateway);
	cfg.icmp_rate = 1000000; /* exercise the error path on every input */
	cfg.icmp_burst = 1000000;
	if (sl_dev_pipe_pair(NULL, NULL, &fx.peer, &fx.dev) ||
	    sl_stack_open(fx.dev, &cfg, 1, &fx.st))
		abort();
	/* Transports to reach: UDP echo on 7, TCP echo on 7 and 80. */
	if (sl_udp_listen(fx.st, 7, fz_udp, NULL) || sl_tcp_listen(fx.st, 7, NULL, fz_accept, NULL) ||
	    sl_tcp_listen(fx.st, 80, NULL, fz_accept, NULL))
		abort();
	/* Duplicate Address Detection (RFC 4862 §5.4, about 1 s) done before the first input, so
	 * that inputs reach a usable IPv6 address; what the stack sends meanwhile is checked and
	 * dropped. */
	fx.now = 1;
	for (int i = 0; i < 30; i++) {
		sl_stack_poll(fx.st, fx.now);
		struct sl_frame out[SL_RX_BATCH];
		int n;
		while ((n = fx.peer->ops->rx(fx.peer, out, SL_RX_BATCH, UINT64_MAX)) > 0)
			for (int k = 0; k < n; k++)
				fx.peer->ops->release(fx.peer, &out[k]);
		fx.now += 100000000;
	}
	if (sl_ip_addr_state(fx.st, &cfg.addrs[1].addr))
		abort();
	return &fx;
}

/* An IPv6 packet the stack sent: version 6, a payload length within the frame, an extension
 * chain that stays inside it, hop limit above 0 (255 for Neighbor Discovery, RFC 4861 §7.1),
 * a correct ICMPv6/UDP/TCP checksum over the pseudo-header (RFC 8200 §8.1) when it is not a
 * fragment, and for fragments the rules of RFC 8200 §4.5. */
static void check_ipv6(const uint8_t *ip, size_t len)
{
	if (len < SL_IPV6_HLEN || sl_ipv6_version(ip) != 6 || ip[7] == 0)
		abort();
	size_t plen = sl_ipv6_plen(ip);
	if (SL_IPV6_HLEN + plen > len)
		abort();
	uint8_t nh = sl_ipv6_next(ip);
	size_t off = SL_IPV6_HLEN, end = SL_IPV6_HLEN + plen;
	for (;;) {
		if (nh == SL_IPPROTO_HOPOPTS || nh == SL_IPPROTO_DSTOPTS ||
		    nh == SL_IPPROTO_ROUTING) {
			if (off + 8 > end)
				abort();
			size_t hl = 8 + 8 * (size_t)ip[off + 1];
			nh = ip[off];
			off += hl;
			if (off > end)
				abort();
		} else if (nh == SL_IPPROTO_FRAGMENT) {
			if (off + 8 > end)
				abort();
			uint16_t fo = sl_get16(ip + off + 2);
			size_t flen = end - off - 8;
			if ((fo & 1) && (flen == 0 || flen % 8))
				abort();
			if ((size_t)(fo & 0xfff8) + flen > 65535)
				abort();
			if (!(fo & 1) && !(fo & 0xfff8))
				abort(); /* RFC 8021: no atomic fragments */
			return;
		} else {
			break;
		}
	}
	const uint8_t *l4 = ip + off;
	size_t l4len = end - off;
	if (nh == SL_IPPROTO_ICMPV6 || nh == SL_IPPROTO_UDP || nh == SL_IPPROTO_TCP) {
		if (l4len < (nh == SL_IPPROTO_ICMPV6 ? 4u : nh == SL_IPPROTO_UDP ? 8u : 20u))
			abort();
		uint64_t acc = sl_csum_pseudo6(ip + 8, ip + 24, nh, (uint32_t)l4len);
		if (sl_csum_fold(sl_csum_add(acc, l4, l4len)) != 0xffff)
			abort();
		if (nh == SL_IPPROTO_UDP && sl_get16(l4 + 6) == 0)
			abort(); /* RFC 8200 §8.1: never a zero UDP checksum */
		if (nh == SL_IPPROTO_ICMPV6 && l4[0] >= 133 && l4[0] <= 137 && ip[7] != 255)
			abort();
		if (nh == SL_IPPROTO_ICMPV6 && l4[0] < 128 && end > 1280)
			abort(); /* RFC 4443 §2.4 (c) */
	}
}

static void check_output(const uint8_t *p, size_t len)
{
	if (len < SL_ETH_HLEN)
		abort();
	if (sl_eth_type(p) == SL_ETH_P_ARP) {
		if (sl_arp_check(p + SL_ETH_HLEN, len - SL_ETH_HLEN))
			abort();
	} else if (sl_eth_type(p) == SL_ETH_P_IPV4) {
		const uint8_t *ip = p + SL_ETH_HLEN;
		if (sl_ipv4_check(ip, len - SL_ETH_HLEN))
			abort();
		const uint8_t *l4 = ip + sl_ipv4_hlen(ip);
		size_t l4len = sl_ipv4_tot_len(ip) - sl_ipv4_hlen(ip);
		struct sl_tcp_opts o;
		if (sl_ipv4_is_fragment(ip)) {
			/* A fragment of an answer too big for one frame (to a reassembled request):
			 * its L4 checksum covers the whole datagram, so only the fragment rules of
			 * RFC 791 §3.2 are checked: all but the last carry a non-zero multiple of
			 * 8 bytes, and none reaches beyond 65535. */
			if ((sl_ipv4_frag(ip) & SL_IPV4_MF) && (l4len == 0 || l4len % 8))
				abort();
			if (sl_ipv4_hlen(ip) + sl_ipv4_frag_off(ip) + l4len > 65535)
				abort();
		}
		if (sl_ipv4_proto(ip) == SL_IPPROTO_ICMP && !sl_ipv4_is_fragment(ip) &&
		    sl_icmp_check(l4, l4len))
			abort();
		if (sl_ipv4_proto(ip) == SL_IPPROTO_TCP && !sl_ipv4_is_fragment(ip) &&
		    sl_tcp_check(l4, l4len, sl_ipv4_src(ip), sl_ipv4_dst(ip), &o))
			abort();
	} else if (sl_eth_type(p) == SL_ETH_P_IPV6) {
		check_ipv6(p + SL_ETH_HLEN, len - SL_ETH_HLEN);
	} else {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fixture *fx = setup();
	if (size > 1514)
		return 0;
	/* The peer end sends the raw bytes; the stack under test receives them. */
	struct sl_frame f;
	if (fx->peer->ops->alloc(fx->peer, &f))
		abort();
	memcpy(f.data, data, size);
	/* Make most inputs reach past the MAC filter: frame to our MAC unless the input asks
	 * for broadcast via its first bit. */
	if (size >= 6 && !(data[0] & 1))
		memcpy(f.data, fx->dev->mac, 6);
	f.len = (uint32_t)size;
	fx->peer->ops->tx(fx->peer, &f);
	fx->peer->ops->flush(fx->peer, fx->now);
	sl_stack_poll(fx->st, fx->now);
	fx->now += 1000000;
	/* Everything the stack sent must be well-formed. */
	struct sl_frame out[SL_RX_BATCH];
	int n;
	while ((n = fx->peer->ops->rx(fx->peer, out, SL_RX_BATCH, UINT64_MAX)) > 0) {
		for (int i = 0; i < n; i++) {
			check_output(out[i].data, out[i].len);
			fx->peer->ops->release(fx->peer, &out[i]);
		}
	}
	/* No frame may stay with the stack beyond the ARP pending bound. */
	struct sl_dev_counts c;
	sl_dev_counts(fx->dev, &c);
	if (c.owner_errors || c.owner[SL_OWN_STACK] > 256)
		abort();
	return 0;
}
