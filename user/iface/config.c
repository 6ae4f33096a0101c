/*
 * The stack's configuration: its defaults and the ranges sl_stack_open accepts (documented
 * field by field in include/sluice/stack.h). The MTU floors are the RFCs': 68 for IPv4
 * (RFC 791 §3.2, RFC 1122 §3.3.3: every host takes 68-byte datagrams unfragmented; below 28
 * a fragment could carry no payload), 1280 with an IPv6 address (RFC 8200 §5).
 */
#include "iface/stack.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000000ULL
#define MAX_NS (30ULL * 86400 * SEC) /* every duration: at most 30 days */

void sl_stack_config_init(struct sl_stack_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ttl = 64;
	cfg->seed = 0x5eed;
	cfg->arp_cache_size = 256;
	cfg->arp_pending_per_entry = 48;
	cfg->arp_pending_total = 256;
	cfg->reasm_max_datagrams = 64;
	cfg->reasm_mem = 4u << 20;
	cfg->reasm_mem_per_src = 1u << 20;
	cfg->reasm_max_per_src = 16;
	cfg->reasm_timeout_ns = 30ULL * SEC;
	cfg->udp_max_sockets = 1024;
	cfg->udp_rcvbuf = 256u << 10;
	cfg->tcp_max_conns = 8192;
	cfg->tcp_sndbuf = 256u << 10;
	cfg->tcp_rcvbuf = 256u << 10;
	cfg->tcp_backlog = 256;
	cfg->tcp_msl_ns = 30ULL * SEC;
	cfg->tcp_rto_min_ns = 200ULL * 1000000ULL;
	cfg->tcp_rto_max_ns = 60ULL * SEC;
	cfg->tcp_rto_initial_ns = SEC;
	cfg->tcp_max_retries = 15;
	cfg->tcp_syn_retries = 6;
	cfg->tcp_delack_ns = 40ULL * 1000000ULL;
	cfg->tcp_initial_window = 10;
	cfg->tcp_challenge_rate = 100;
	cfg->tcp_oow_ack_ns = 500ULL * 1000000ULL;
	cfg->tcp_cc = "cubic";
	cfg->tcp_sack = true;
	cfg->tcp_timestamps = true;
	cfg->tcp_syncookies = 1;
	cfg->arp_reachable_ns = 60ULL * SEC;
	cfg->arp_retry_ns = SEC;
	cfg->arp_retries = 3;
	cfg->icmp_rate = 100;
	cfg->icmp_burst = 50;
}

static int refuse(char *why, size_t n, const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

#define RANGE(field, lo, hi)                                                                       \
	do {                                                                                       \
		if ((uint64_t)c->field < (uint64_t)(lo) || (uint64_t)c->field > (uint64_t)(hi))    \
			return refuse(why, n, #field " %llu is out of range (%llu..%llu)",         \
				      (unsigned long long)c->field, (unsigned long long)(lo),      \
				      (unsigned long long)(hi));                                   \
	} while (0)

static int check_mtu(const struct sl_stack_config *c, uint32_t dev_mtu, char *why, size_t n)
{
	if (c->mtu && dev_mtu && c->mtu > dev_mtu)
		return refuse(why, n, "mtu %u is above the device's (%u)", c->mtu, dev_mtu);
	uint32_t mtu = c->mtu ? c->mtu : dev_mtu;
	const char *whose = c->mtu ? "mtu" : "the device's mtu";
	if (!mtu)
		return 0; /* no device to compare with: checked again at open */
	if (mtu < 68)
		return refuse(why, n, "%s %u is below 68, the IPv4 minimum (RFC 791)", whose, mtu);
	for (unsigned i = 0; i < c->n_addrs && i < SL_MAX_ADDRS; i++)
		if (!sl_ip_is_v4(&c->addrs[i].addr) && mtu < SL_IPV6_MIN_MTU)
			return refuse(why, n,
				      "%s %u is below 1280, the minimum with an IPv6 address "
				      "(RFC 8200 §5)",
				      whose, mtu);
	return 0;
}

int sl_stack_config_check(const struct sl_stack_config *c, uint32_t dev_mtu, char *why, size_t n)
{
	if (c->n_addrs > SL_MAX_ADDRS)
		return refuse(why, n, "n_addrs %u is above %d", c->n_addrs, SL_MAX_ADDRS);
	int err = check_mtu(c, dev_mtu, why, n);
	if (err)
		return err;
	if (!sl_ip_is_zero(&c->gateway) && !sl_ip_is_v4(&c->gateway) &&
	    sl_ip6_is_multicast(&c->gateway))
		return refuse(why, n, "gateway is a multicast address");
	/* A next hop is a unicast host (RFC 1122 §3.3.1.1): not in 0.0.0.0/8 (0.0.0.0 itself
	 * means none, as for sl_ip_set_gateway), loopback, multicast or class E (the limited
	 * broadcast among them). */
	uint32_t g4 = sl_ip_is_v4(&c->gateway) ? sl_ip_to_v4(&c->gateway) : 0;
	if (g4 && (g4 >> 24 == 0 || g4 >> 24 == 127 || g4 >= 0xe0000000u))
		return refuse(why, n, "gateway is not a unicast IPv4 address");
	if (!sl_ip_is_zero(&c->gateway6) &&
	    (sl_ip_is_v4(&c->gateway6) || sl_ip6_is_multicast(&c->gateway6)))
		return refuse(why, n, "gateway6 is not a unicast IPv6 address");

	RANGE(arp_cache_size, 1, 1u << 16);
	RANGE(arp_pending_per_entry, 1, SL_ARP_PENDING_MAX);
	RANGE(arp_pending_total, 1, 1u << 16);
	RANGE(arp_reachable_ns, 1, MAX_NS);
	RANGE(arp_retry_ns, 1, MAX_NS);
	RANGE(arp_retries, 1, 255); /* an entry counts them in 8 bits */

	RANGE(reasm_max_datagrams, 1, 1u << 16);
	/* One 4 KiB buffer step holds a 1500-byte datagram, the least RFC 8200 §5 lets a host
	 * reassemble (RFC 1122 §3.3.2: 576 for IPv4). */
	RANGE(reasm_mem, 4096, 1u << 30);
	RANGE(reasm_mem_per_src, 4096, 1u << 30);
	RANGE(reasm_max_per_src, 1, 1u << 16);
	RANGE(reasm_timeout_ns, 1, MAX_NS);

	RANGE(udp_max_sockets, 1, 1u << 16);
	RANGE(udp_rcvbuf, 1, 1u << 30);

	RANGE(tcp_max_conns, 1, 1u << 24);
	/* RFC 7323 §2.3: a window scale of 14 covers 1 GiB at most. */
	RANGE(tcp_sndbuf, 4096, 1u << 30);
	RANGE(tcp_rcvbuf, 4096, 1u << 30);
	if (!is_pow2(c->tcp_sndbuf) || !is_pow2(c->tcp_rcvbuf))
		return refuse(why, n, "tcp_sndbuf and tcp_rcvbuf must be powers of two (%u, %u)",
			      c->tcp_sndbuf, c->tcp_rcvbuf);
	RANGE(tcp_backlog, 1, 1u << 24);
	RANGE(tcp_msl_ns, 1, MAX_NS);
	RANGE(tcp_rto_min_ns, 1, MAX_NS);
	RANGE(tcp_rto_max_ns, c->tcp_rto_min_ns, MAX_NS);
	RANGE(tcp_rto_initial_ns, c->tcp_rto_min_ns, c->tcp_rto_max_ns);
	RANGE(tcp_max_retries, 1, 255);
	RANGE(tcp_syn_retries, 1, 255);
	/* RFC 1122 §4.2.3.2: the delay of an ACK MUST be less than 0.5 s. */
	RANGE(tcp_delack_ns, 0, SEC / 2 - 1);
	RANGE(tcp_initial_window, 1, 1000);
	RANGE(tcp_challenge_rate, 0, 1000000);
	RANGE(tcp_oow_ack_ns, 0, MAX_NS);
	if (c->tcp_cc && !sl_tcp_cc_find(c->tcp_cc))
		return refuse(why, n, "tcp_cc \"%s\" is not a known congestion control", c->tcp_cc);
	RANGE(tcp_syncookies, 0, 2);

	RANGE(icmp_rate, 0, 1000000000);
	if (c->icmp_rate) /* a rate with no burst would let no error through */
		RANGE(icmp_burst, 1, 1000000);
	return 0;
}
