/*
 * The stack object and its poll loop: one RX burst, dispatch by EtherType (the one place that
 * calls up into the protocols), due timers, one flush. What the protocols call down into —
 * frames, addresses, routes, secrets — is iface/services.c; the published counters and
 * connection table are iface/publish.c.
 */
#include "iface/stack.h"
#include "wire/checksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

/* --- lifecycle ------------------------------------------------------------------------- */

int sl_stack_open(struct sl_dev *dev, const struct sl_stack_config *cfg, uint64_t now_ns,
		  struct sl_stack **out)
{
	int err = sl_stack_config_check(cfg, dev->mtu, NULL, 0);
	if (err)
		return err;
	struct sl_stack *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dev = dev;
	st->cfg = *cfg;
	if (!st->cfg.ttl)
		st->cfg.ttl = 64;
	memcpy(st->mac, dev->mac, 6);
	st->mtu = cfg->mtu ? cfg->mtu : dev->mtu; /* within the device's: checked above */
	st->stats = &st->own_stats;
	st->now = now_ns;
	st->icmp_last = now_ns;
	st->icmp_tokens_ns = (uint64_t)st->cfg.icmp_burst *
			     (st->cfg.icmp_rate ? 1000000000ULL / st->cfg.icmp_rate : 0);
	sl_rng_seed(&st->rng, cfg->seed);
	if (cfg->deterministic_secrets)
		sl_rng_seed(&st->secret_rng, cfg->seed ^ 0x5ec7e75ec7e75ec7ULL);
	st->ip_id = (uint16_t)sl_rng_next(&st->rng);
	st->path_gen = 1;

	err = sl_timers_init(&st->timers, cfg->arp_cache_size + cfg->reasm_max_datagrams +
					      6 * cfg->tcp_max_conns + 64);
	if (err)
		goto fail;
	err = sl_arp_init(st);
	if (!err)
		err = sl_reasm_init(st);
	if (!err)
		err = sl_udp_init(st);
	if (!err)
		err = sl_tcp_init(st);
	if (err)
		goto fail;
	if (!sl_ip_is_zero(&cfg->gateway)) {
		if (sl_ip_is_v4(&cfg->gateway))
			st->gw4 = sl_ip_to_v4(&cfg->gateway);
		else
			st->gw6 = cfg->gateway;
	}
	if (!sl_ip_is_zero(&cfg->gateway6)) {
		if (sl_ip_is_v4(&cfg->gateway6) || sl_ip6_is_multicast(&cfg->gateway6)) {
			err = -EINVAL;
			goto fail;
		}
		st->gw6 = cfg->gateway6;
	}
	for (unsigned i = 0; i < cfg->n_addrs; i++) {
		err = sl_ip_add_addr(st, &cfg->addrs[i].addr, cfg->addrs[i].prefix_len);
		if (err)
			goto fail;
	}
	dev->ops->flush(dev, now_ns); /* the announcements leave now */
	*out = st;
	return 0;
fail:
	sl_stack_close(st);
	return err;
}

void sl_stack_close(struct sl_stack *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->n_loop; i++)
		st->dev->ops->release(st->dev, &st->loop[i]);
	st->n_loop = 0;
	sl_tcp_fini(st);
	sl_udp_fini(st);
	sl_reasm_fini(st);
	sl_arp_fini(st);
	st->dev->ops->flush(st->dev, st->now);
	sl_timers_free(&st->timers);
	if (st->stats_map)
		munmap(st->stats_map, st->stats_map_len);
	if (st->conns_hdr)
		munmap(st->conns_hdr, st->conns_map_len);
	free(st->conns_tmp);
	free(st);
}

struct sl_dev *sl_stack_dev(struct sl_stack *st)
{
	return st->dev;
}

const struct sl_stack_config *sl_stack_get_config(const struct sl_stack *st)
{
	return &st->cfg;
}

int sl_stack_set_mtu(struct sl_stack *st, uint32_t mtu)
{
	uint32_t max = st->dev->max_mtu > st->dev->mtu ? st->dev->max_mtu : st->dev->mtu;
	/* The floors of sl_stack_config_check (iface/config.c). */
	if (mtu < 68 || mtu > max || (st->n_v6 && mtu < SL_IPV6_MIN_MTU))
		return -EINVAL;
	uint32_t old = st->mtu;
	st->mtu = mtu;
	if (mtu < old)
		sl_tcp_mtu_shrunk(st);
	return 0;
}

const struct sl_stats *sl_stack_stats(const struct sl_stack *st)
{
	return st->stats;
}

void sl_stack_sync_stats(struct sl_stack *st)
{
	st->dev->ops->stats(st->dev, st->stats);
}

int sl_stack_count_drop(struct sl_stack *st, unsigned c)
{
	if (!sl_stat_is_drop(c))
		return -EINVAL;
	st->stats->c[c]++;
	return 0;
}

/* --- the poll loop --------------------------------------------------------------------- */

static enum sl_rx_result eth_input(struct sl_stack *st, struct sl_frame *f)
{
	int bad = sl_eth_check(f->data, f->len);
	if (bad) {
		st->stats->c[bad]++;
		return SL_RX_RELEASE;
	}
	const uint8_t *dst = sl_eth_dst(f->data);
	bool l2_bcast = sl_mac_is_multicast(dst);
	if (!l2_bcast && memcmp(dst, st->mac, 6) != 0) {
		STAT_INC(st, eth_not_for_us);
		return SL_RX_RELEASE;
	}
	switch (sl_eth_type(f->data)) {
	case SL_ETH_P_ARP:
		return sl_arp_input(st, f);
	case SL_ETH_P_IPV4:
		return sl_ipv4_input(st, f, l2_bcast);
	case SL_ETH_P_IPV6:
		return sl_ipv6_input(st, f, l2_bcast);
	case SL_ETH_P_VLAN:
	case SL_ETH_P_QINQ:
		STAT_INC(st, eth_vlan);
		return SL_RX_RELEASE;
	default:
		STAT_INC(st, eth_unknown_type);
		return SL_RX_RELEASE;
	}
}

void sl_iface_loop(struct sl_stack *st, struct sl_frame *f)
{
	if (st->n_loop == SL_LOOP_MAX) {
		STAT_INC(st, loopback_full);
		sl_iface_release(st, f);
		return;
	}
	memcpy(f->data, st->mac, 6);
	if (f->csum_off) { /* no device on this path to finish the checksum */
		sl_csum_finish(f->data, f->len, f->csum_start, f->csum_off);
		f->csum_off = 0;
	}
	st->loop[st->n_loop++] = *f;
	STAT_INC(st, loopback);
}

/* What was sent to ourselves comes in now, as if from the wire (its answers may loop again:
 * a bounded number of rounds per poll, the rest at the next). */
static void loop_input(struct sl_stack *st)
{
	for (int round = 0; st->n_loop && round < 4; round++) {
		struct sl_frame lf[SL_LOOP_MAX];
		unsigned m = st->n_loop;
		memcpy(lf, st->loop, m * sizeof(lf[0]));
		st->n_loop = 0;
		st->looping = true;
		for (unsigned i = 0; i < m; i++)
			if (eth_input(st, &lf[i]) == SL_RX_RELEASE)
				st->dev->ops->release(st->dev, &lf[i]);
		st->looping = false;
		sl_tcp_flush(st);
	}
}

uint64_t sl_stack_poll(struct sl_stack *st, uint64_t now_ns)
{
	struct sl_frame f[SL_RX_BATCH];
	struct sl_dev *dev = st->dev;
	st->now = now_ns;
	st->tcp.tx_this_poll = 0;
	int n = dev->ops->rx(dev, f, SL_RX_BATCH, now_ns);
	STAT_ADD(st, rx_frames, n > 0 ? n : 0);
	for (int i = 0; i < n; i++)
		if (eth_input(st, &f[i]) == SL_RX_RELEASE)
			dev->ops->release(dev, &f[i]);
	if (st->cfg.neigh_share)
		sl_arp_poll_share(st);
	uint64_t next = sl_timers_run(&st->timers, st, now_ns);
	sl_tcp_flush(st);
	if (st->n_loop)
		loop_input(st);
	if (sl_timers_next(&st->timers) < next)
		next = sl_timers_next(&st->timers);
	dev->ops->flush(dev, now_ns);
	/* Kernel-side counters cost a system call: refresh them every 50 ms, not every poll. */
	if (now_ns - st->dev_stats_at >= 50000000ULL || now_ns < st->dev_stats_at) {
		st->dev_stats_at = now_ns;
		dev->ops->stats(dev, st->stats);
		if (st->stats_hdr) {
			struct sl_dev_counts c;
			sl_dev_counts(dev, &c);
			st->stats_hdr->frames_free = c.owner[SL_OWN_FREE] + c.owner[SL_OWN_KERNEL];
		}
		if (st->conns_hdr)
			sl_stack_write_conns(st);
	}
	/* A full batch means more may be waiting, and deferred TCP output wants the next batch:
	 * come back at once. */
	if (n == SL_RX_BATCH || st->tcp.pending || st->n_loop)
		return now_ns;
	uint64_t dn = dev->ops->next_event(dev);
	return dn < next ? dn : next;
}

