/*
 * The stack object and its poll loop: one RX burst, dispatch by EtherType, due
 * timers, one flush. Also addresses, on-link routing with a default gateway,
 * and source selection (RFC 1122 §3.3.1).
 */
#include "iface/stack.h"
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

static void write_conns(struct sl_stack *st);

/* --- frames ---------------------------------------------------------------------------- */

int sl_iface_alloc(struct sl_stack *st, struct sl_frame *f)
{
	if (st->dev->ops->alloc(st->dev, f) < 0) {
		STAT_INC(st, tx_no_frame);
		return -ENOBUFS;
	}
	return 0;
}

void sl_iface_release(struct sl_stack *st, const struct sl_frame *f)
{
	st->dev->ops->release(st->dev, f);
}

void sl_iface_tx(struct sl_stack *st, struct sl_frame *f)
{
	if (st->dev->ops->tx(st->dev, f) == 0)
		STAT_INC(st, tx_frames);
	else
		STAT_INC(st, tx_ring_full);
}

/* --- secrets ---------------------------------------------------------------------------- */

int sl_iface_secret(struct sl_stack *st, void *buf, size_t len)
{
	uint8_t *p = buf;
	if (st->cfg.deterministic_secrets) {
		while (len) {
			uint64_t r = sl_rng_next(&st->secret_rng);
			size_t n = len < 8 ? len : 8;
			memcpy(p, &r, n);
			p += n;
			len -= n;
		}
		return 0;
	}
	/* Flags 0: the urandom source, blocking only until the kernel's pool is initialised
	 * once after boot. No fallback to anything guessable. */
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --- addresses and routes -------------------------------------------------------------- */

bool sl_iface_owns4(const struct sl_stack *st, uint32_t a)
{
	for (unsigned i = 0; i < st->n_v4; i++)
		if (st->v4[i].addr == a)
			return true;
	return false;
}

bool sl_iface_is_bcast4(const struct sl_stack *st, uint32_t a)
{
	if (a == 0xffffffffu)
		return true;
	for (unsigned i = 0; i < st->n_v4; i++) {
		const struct sl_addr4 *s = &st->v4[i];
		/* Directed broadcast of an on-link subnet (not for /31, /32: RFC 3021). */
		if (s->plen < 31 && (a & s->mask) == (s->addr & s->mask) &&
		    (a | s->mask) == 0xffffffffu)
			return true;
	}
	return false;
}

bool sl_iface_onlink4(const struct sl_stack *st, uint32_t a)
{
	for (unsigned i = 0; i < st->n_v4; i++) {
		const struct sl_addr4 *s = &st->v4[i];
		if (s->plen > 0 && (a & s->mask) == (s->addr & s->mask))
			return true;
	}
	return false;
}

int sl_iface_route4(const struct sl_stack *st, uint32_t dst, uint32_t *nexthop, uint32_t *src)
{
	/* Longest on-link prefix first; otherwise the default gateway. */
	int best = -1;
	for (unsigned i = 0; i < st->n_v4; i++) {
		const struct sl_addr4 *s = &st->v4[i];
		if ((dst & s->mask) == (s->addr & s->mask) &&
		    (best < 0 || s->plen > st->v4[best].plen))
			best = (int)i;
	}
	if (best >= 0 && st->v4[best].plen > 0) {
		*nexthop = dst;
		*src = st->v4[best].addr;
		return 0;
	}
	if (st->gw4 && st->n_v4) {
		*nexthop = st->gw4;
		*src = st->v4[0].addr;
		for (unsigned i = 0; i < st->n_v4; i++)
			if ((st->gw4 & st->v4[i].mask) == (st->v4[i].addr & st->v4[i].mask))
				*src = st->v4[i].addr;
		return 0;
	}
	return -ENETUNREACH;
}

bool sl_iface_owns(const struct sl_stack *st, const sl_ip *a)
{
	if (sl_ip_is_v4(a))
		return sl_iface_owns4(st, sl_ip_to_v4(a));
	for (unsigned i = 0; i < st->n_v6; i++)
		if (!memcmp(st->v6[i].addr.b, a->b, 16))
			return !st->v6[i].tentative && !st->v6[i].dad_failed;
	return false;
}

int sl_iface_route(const struct sl_stack *st, const sl_ip *dst, sl_ip *nexthop, sl_ip *src)
{
	if (!sl_ip_is_v4(dst))
		return sl_iface_route6(st, dst, nexthop, src);
	uint32_t nh, s;
	int err = sl_iface_route4(st, sl_ip_to_v4(dst), &nh, &s);
	if (err)
		return err;
	*nexthop = sl_ip_v4(nh);
	*src = sl_ip_v4(s);
	return 0;
}

/* An IPv6 address: unicast, not one of the reserved forms a host may not take. */
static int add_addr6(struct sl_stack *st, const sl_ip *a, uint8_t plen)
{
	if (plen > 128 || sl_ip_is_zero(a) || sl_ip6_is_multicast(a) || sl_ip6_is_loopback(a))
		return -EINVAL;
	if (st->mtu < SL_IPV6_MIN_MTU) /* RFC 8200 §5: no IPv6 on a link below 1280 */
		return -EINVAL;
	if (sl_iface_find6(st, a))
		return -EEXIST;
	if (st->n_v6 == SL_MAX_ADDRS)
		return -ENOSPC;
	struct sl_addr6 *n = &st->v6[st->n_v6++];
	memset(n, 0, sizeof(*n));
	n->addr = *a;
	n->plen = plen;
	sl_nd_start_dad(st, n);
	return 0;
}

static int del_addr6(struct sl_stack *st, const sl_ip *a)
{
	struct sl_addr6 *x = sl_iface_find6(st, a);
	if (!x)
		return -ENOENT;
	sl_timer_cancel(&st->timers, &x->dad_timer);
	struct sl_addr6 *last = &st->v6[st->n_v6 - 1];
	if (x != last) {
		/* The timer is linked by address: move the last entry without it, re-arm. */
		bool armed = last->tentative;
		sl_timer_cancel(&st->timers, &last->dad_timer);
		*x = *last;
		sl_timer_init(&x->dad_timer, last->dad_timer.fn);
		if (armed)
			sl_timer_arm(&st->timers, &x->dad_timer, st->now + 1000000000ULL);
	}
	st->n_v6--;
	return 0;
}

int sl_ip_addr_state(struct sl_stack *st, const sl_ip *a)
{
	if (sl_ip_is_v4(a))
		return sl_iface_owns4(st, sl_ip_to_v4(a)) ? 0 : -ENOENT;
	struct sl_addr6 *x = sl_iface_find6(st, a);
	if (!x)
		return -ENOENT;
	return x->dad_failed ? -EADDRINUSE : x->tentative ? -EINPROGRESS : 0;
}

static uint32_t mask_of(uint8_t plen)
{
	return plen ? ~0u << (32 - plen) : 0;
}

int sl_ip_add_addr(struct sl_stack *st, const sl_ip *a, uint8_t prefix_len)
{
	if (!sl_ip_is_v4(a))
		return add_addr6(st, a, prefix_len);
	uint32_t v = sl_ip_to_v4(a);
	if (prefix_len > 32 || sl_ipv4_is_bad_src(v))
		return -EINVAL;
	if (sl_iface_owns4(st, v))
		return -EEXIST;
	if (st->n_v4 == SL_MAX_ADDRS)
		return -ENOSPC;
	st->v4[st->n_v4++] = (struct sl_addr4){v, mask_of(prefix_len), prefix_len};
	sl_arp_announce(st, v);
	return 0;
}

int sl_ip_del_addr(struct sl_stack *st, const sl_ip *a)
{
	if (!sl_ip_is_v4(a))
		return del_addr6(st, a);
	uint32_t v = sl_ip_to_v4(a);
	for (unsigned i = 0; i < st->n_v4; i++) {
		if (st->v4[i].addr == v) {
			st->v4[i] = st->v4[--st->n_v4];
			return 0;
		}
	}
	return -ENOENT;
}

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

const struct sl_stats *sl_stack_stats(const struct sl_stack *st)
{
	return st->stats;
}

void sl_stack_sync_stats(struct sl_stack *st)
{
	st->dev->ops->stats(st->dev, st->stats);
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
			write_conns(st);
	}
	/* A full batch means more may be waiting, and deferred TCP output wants the next batch:
	 * come back at once. */
	if (n == SL_RX_BATCH || st->tcp.pending)
		return now_ns;
	uint64_t dn = dev->ops->next_event(dev);
	return dn < next ? dn : next;
}

/* --- published counters ---------------------------------------------------------------- */

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

/* Rewrite the published connection table (every 50 ms, from sl_stack_poll). */
static void write_conns(struct sl_stack *st)
{
	struct sl_conns_file *h = st->conns_hdr;
	size_t total = sl_tcp_conns(st, st->conns_tmp, h->cap);
	size_t n = total < h->cap ? total : h->cap;
	struct sl_conn_record *r = (struct sl_conn_record *)(h + 1);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE); /* odd: writing */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (size_t i = 0; i < n; i++) {
		const struct sl_tcp_conn *c = &st->conns_tmp[i];
		const struct sl_tcp_info *in = &c->info;
		struct sl_conn_record *x = &r[i];
		memset(x, 0, sizeof(*x));
		memcpy(x->local, c->local.b, 16);
		memcpy(x->remote, c->remote.b, 16);
		x->lport = c->lport;
		x->rport = c->rport;
		copy_str(x->state, sizeof(x->state), in->state);
		copy_str(x->cc, sizeof(x->cc), in->cc);
		x->wscale_ok = in->wscale_ok;
		x->sack_ok = in->sack_ok;
		x->ts_ok = in->ts_ok;
		x->snd_wscale = in->snd_wscale;
		x->rcv_wscale = in->rcv_wscale;
		x->mss = in->mss;
		x->cwnd = in->cwnd;
		x->ssthresh = in->ssthresh;
		x->snd_wnd = in->snd_wnd;
		x->rcv_wnd = in->rcv_wnd;
		x->pipe = in->pipe;
		x->sacked = in->sacked;
		x->lost = in->lost;
		x->srtt_us = in->srtt_us;
		x->rttvar_us = in->rttvar_us;
		x->rto_us = in->rto_us;
		x->min_rtt_us = in->min_rtt_us;
		x->retransmits = in->retransmits;
		x->bytes_sent = in->bytes_sent;
		x->bytes_received = in->bytes_received;
		x->segs_in = in->segs_in;
		x->segs_out = in->segs_out;
		x->recoveries = in->recoveries;
		x->rto_count = in->rto_count;
		x->tlp_probes = in->tlp_probes;
		x->spurious_undone = in->spurious_undone;
		x->dsacks_rx = in->dsacks_rx;
		x->dsacks_tx = in->dsacks_tx;
	}
	h->n = (uint32_t)n;
	h->total = (uint32_t)total;
	h->updated_ns = st->now;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE); /* even: done */
}

int sl_stack_publish_conns(struct sl_stack *st, const char *path, unsigned max)
{
	if (!max || max > 65536)
		return -EINVAL;
	size_t len = sizeof(struct sl_conns_file) + (size_t)max * sizeof(struct sl_conn_record);
	struct sl_tcp_conn *tmp = calloc(max, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(tmp);
		return -errno;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = -errno;
		close(fd);
		free(tmp);
		return err;
	}
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		free(tmp);
		return -errno;
	}
	struct sl_conns_file *h = m;
	h->pid = (uint32_t)getpid();
	h->cap = max;
	h->record_size = sizeof(struct sl_conn_record);
	if (st->conns_hdr)
		munmap(st->conns_hdr, st->conns_map_len);
	free(st->conns_tmp);
	st->conns_hdr = h;
	st->conns_map_len = len;
	st->conns_tmp = tmp;
	write_conns(st);
	__atomic_store_n(&h->magic, SL_CONNS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int sl_stack_publish_stats(struct sl_stack *st, const char *path, const char *ifname,
			   unsigned queue)
{
	size_t names = (size_t)SL_STAT_N * SL_STATS_NAME_LEN;
	size_t len = sizeof(struct sl_stats_file) + names + sizeof(struct sl_stats);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	struct sl_stats_file *h = m;
	h->n = SL_STAT_N;
	h->pid = (uint32_t)getpid();
	h->queue = queue;
	h->zero_copy = st->dev->zero_copy;
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	snprintf(h->mode, sizeof(h->mode), "%s", st->dev->mode);
	if (st->n_v4) {
		sl_ip a = sl_ip_v4(st->v4[0].addr);
		sl_ip_str(&a, h->addr, sizeof(h->addr));
	} else if (st->n_v6) {
		sl_ip_str(&st->v6[0].addr, h->addr, sizeof(h->addr));
	}
	struct sl_dev_counts c;
	sl_dev_counts(st->dev, &c);
	h->frames_total = c.total;
	char *nm = (char *)(h + 1);
	for (unsigned i = 0; i < SL_STAT_N; i++)
		snprintf(nm + (size_t)i * SL_STATS_NAME_LEN, SL_STATS_NAME_LEN, "%s",
			 sl_stat_name(i));
	struct sl_stats *vals = (struct sl_stats *)(nm + names);
	*vals = *st->stats;
	st->stats = vals;
	if (st->stats_map)
		munmap(st->stats_map, st->stats_map_len);
	st->stats_map = m;
	st->stats_map_len = len;
	st->stats_hdr = h;
	__atomic_store_n(&h->magic, SL_STATS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}
