// SPDX-License-Identifier: GPL-2.0
/*
 * Random loss for the TCP loss test (tests/net/test_tcp_loss.sh) and the loss benchmark
 * (bench/loss.sh): drops DROP_PERMILLE (or the rate set at run time, below) of the IPv4 TCP
 * segments that pass, chosen by bpf_get_prandom_u32(). Everything else (ARP, ICMP) passes
 * untouched. One object, two programs:
 *   SEC("xdp") on the kernel peer's veth: drops segments arriving from sluice;
 *   SEC("tc")  as a clsact egress filter on the same veth: drops segments towards sluice.
 *              It answers TC_ACT_STOLEN, not TC_ACT_SHOT: SHOT makes dev_queue_xmit return
 *              NET_XMIT_DROP, which the kernel's TCP sees as local congestion (it keeps the
 *              segment queued, sends it again and enters CWR), so nothing would be lost on
 *              the wire. STOLEN reports success and the segment is gone, as on a lossy
 *              link. The filter sees one skb per GSO burst (the taps see the segments, cut
 *              after it): tests that want per-segment loss set `ip link set dev VETH
 *              gso_max_segs 1` (kernel TCP uses GSO even with `ethtool -K gso off`).
 * Each loaded copy has its own `counts` map: [0] TCP segments seen, [1] dropped, and its own
 * `config` map: while [0] is 0 the rate is DROP_PERMILLE; once user space sets [0] to 1, it
 * is [1] parts per million (bench/loss.sh sets it between runs with bpftool, so one attached
 * program serves every loss rate: `bpftool map update id M key 1 0 0 0 value <u32 LE>`).
 * [2] is kept for bench/loss.sh, which sets it: the tc drop is always silent (STOLEN).
 * IPv6: built with -DDROP_IPV6=1, or once user space sets config[3] to 1, the programs also
 * drop IPv6 TCP segments (Next Header 6 right after the fixed header; TCP behind extension
 * headers passes), counted in the same `counts`. Without either, IPv6 passes untouched and
 * IPv4 is treated exactly as before (tests/net/test_ipv6_loss.sh uses -DDROP_IPV6=1).
 *
 *   clang -O2 -g -target bpf -I/usr/include/$(gcc -dumpmachine) -c drop.bpf.c -o drop.bpf.o
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef DROP_PERMILLE
#define DROP_PERMILLE 20 /* 2 % */
#endif
#ifndef DROP_IPV6
#define DROP_IPV6 0
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

/* The drop probability in parts per million: config[1] once config[0] is set. */
static __always_inline __u32 drop_ppm(void)
{
	__u32 k = 0;
	__u32 *set = bpf_map_lookup_elem(&config, &k);
	if (!set || !*set)
		return DROP_PERMILLE * 1000;
	k = 1;
	__u32 *ppm = bpf_map_lookup_elem(&config, &k);
	return ppm ? *ppm : 0;
}

/* IPv6 TCP is dropped too: built with DROP_IPV6, or config[3] set. */
static __always_inline int drop_ipv6(void)
{
	if (DROP_IPV6)
		return 1;
	__u32 k = 3;
	__u32 *on = bpf_map_lookup_elem(&config, &k);
	return on && *on;
}

static __always_inline void count(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* 1: drop this frame, 0: let it pass. */
static __always_inline int should_drop(void *data, void *end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
			return 0;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6) && drop_ipv6()) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return 0;
	} else {
		return 0;
	}
	count(0);
	if (bpf_get_prandom_u32() % 1000000 >= drop_ppm())
		return 0;
	count(1);
	return 1;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return should_drop((void *)(long)ctx->data, (void *)(long)ctx->data_end) ? XDP_DROP
										   : XDP_PASS;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
	/* Make sure Ethernet + IPv4 headers sit in the linear part. */
	bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct iphdr));
	/* And the fixed IPv6 header, when IPv6 is dropped too. */
	if (skb->protocol == bpf_htons(ETH_P_IPV6) && drop_ipv6())
		bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct ipv6hdr));
	return should_drop((void *)(long)skb->data, (void *)(long)skb->data_end) ? TC_ACT_STOLEN
										  : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
