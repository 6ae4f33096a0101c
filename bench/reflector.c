/*
 * reflector: the ceiling of `make bench` — a raw AF_XDP UDP reflector with no stack. It uses
 * the same gate (an owned-address rule) and the same AF_XDP device code as sluice, and the same
 * batching: one RX burst of up to SL_RX_BATCH frames, each reply queued in the frame it arrived
 * in, one flush (submit, at most one kick, completions, fill ring) per burst, poll(2) only when
 * the RX ring was empty.
 *
 * One difference, on purpose: in copy mode the kernel transmits at most 32 descriptors per
 * sendto() kick (the generic-xmit batch in net/xdp/xsk.c), so after the device's flush the
 * reflector flushes again — each flush reaps completions and kicks only if frames are still
 * waiting — until the TX ring is empty (at most --kicks flushes per burst, default 8). With
 * --kicks 1 it behaves like the device flush alone, which leaves replies in the TX ring when
 * traffic stops (see docs/benchmarks.md).
 *
 * For an IPv4/UDP frame to ADDR it swaps the MAC, IP and UDP addresses in place. Neither the
 * IPv4 header checksum nor the UDP checksum changes: both are one's-complement sums in which a
 * swap of two 16-bit-aligned fields cancels out (RFC 1071). It answers ARP requests for ADDR,
 * and hands every other frame back (counted).
 *
 *   reflector DEV --addr ADDR [--queue Q] [--mode native|generic] [--duration SEC] [--busy]
 *             [--kicks N]
 *
 * Stops on SIGINT/SIGTERM or after --duration; removes its rule and prints one JSON line.
 */
#include "sluice/sluice.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct counts {
	uint64_t rx, udp, arp, other, tx_err, polls, sleeps, extra_flushes, tx_pending_max;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void swap(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[6];
	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/* Turn f into its reply in place; false when it is not for us (the caller releases it). */
static bool reflect(struct sl_frame *f, const uint8_t mac[6], const uint8_t ip[4], struct counts *c)
{
	uint8_t *p = f->data;
	if (f->len < 14)
		return false;
	uint16_t type = get16(p + 12);
	if (type == 0x0800 && f->len >= 14 + 20 + 8) {
		uint8_t *ih = p + 14;
		unsigned ihl = (ih[0] & 0xf) * 4u;
		if ((ih[0] >> 4) != 4 || ihl < 20 || f->len < 14 + ihl + 8 || ih[9] != 17 ||
		    memcmp(ih + 16, ip, 4) != 0 || (get16(ih + 6) & 0x3fff) != 0)
			return false;
		uint8_t *uh = ih + ihl;
		memcpy(p, p + 6, 6); /* destination: whoever sent it */
		memcpy(p + 6, mac, 6);
		swap(ih + 12, ih + 16, 4);
		swap(uh, uh + 2, 2);
		c->udp++;
		return true;
	}
	/* ARP request (RFC 826) for our address: becomes the reply in the same frame. */
	if (type == 0x0806 && f->len >= 14 + 28) {
		uint8_t *a = p + 14;
		if (get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 ||
		    get16(a + 6) != 1 || memcmp(a + 24, ip, 4) != 0)
			return false;
		a[7] = 2;
		memcpy(a + 18, a + 8, 10); /* target := sender (MAC and IP) */
		memcpy(a + 8, mac, 6);
		memcpy(a + 14, ip, 4);
		memcpy(p, a + 18, 6);
		memcpy(p + 6, mac, 6);
		c->arp++;
		return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *dev_name = NULL, *addr_s = NULL;
	uint32_t queue = 0;
	double duration = 0;
	bool busy = false;
	int kicks = 8;
	enum sl_gate_mode mode = SL_GATE_MODE_AUTO;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--busy"))
			busy = true;
		else if (!strcmp(argv[i], "--addr") && v)
			addr_s = argv[++i];
		else if (!strcmp(argv[i], "--queue") && v)
			queue = (uint32_t)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--kicks") && v)
			kicks = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--duration") && v)
			duration = atof(argv[++i]);
		else if (!strcmp(argv[i], "--mode") && v)
			mode = !strcmp(argv[++i], "generic") ? SL_GATE_MODE_GENERIC
							     : SL_GATE_MODE_AUTO;
		else if (argv[i][0] != '-' && !dev_name)
			dev_name = argv[i];
		else
			dev_name = NULL, i = argc;
	}
	sl_ip addr;
	if (!dev_name || !addr_s || kicks < 1 || sl_ip_parse(addr_s, &addr) < 0 ||
	    !sl_ip_is_v4(&addr)) {
		fprintf(stderr,
			"usage: reflector DEV --addr IPV4 [--queue Q] [--mode native|generic]"
			" [--duration SEC] [--busy] [--kicks N]\n");
		return 2;
	}
	uint8_t ip[4];
	memcpy(ip, addr.b + 12, 4);

	int err, status = 1;
	struct sl_gate *g = NULL;
	struct sl_dev *d = NULL;
	struct sl_rule rule = {.kind = SL_RULE_OWNED, .queue = -1};
	bool rule_added = false, sock_set = false;
	struct counts c = {0};
	struct sl_dev_counts fc = {0};
	enum sl_gate_mode used = SL_GATE_MODE_NATIVE;

	if ((err = sl_gate_attach(dev_name, mode, &used)) < 0) {
		fprintf(stderr, "reflector: attach %s: %s\n", dev_name, sl_strerror(err));
		goto out;
	}
	if ((err = sl_gate_open(dev_name, &g)) < 0) {
		fprintf(stderr, "reflector: open gate: %s\n", sl_strerror(err));
		goto out;
	}
	struct sl_xsk_config xc = {
	    .ifname = dev_name, .queue = queue, .generic = used == SL_GATE_MODE_GENERIC};
	if ((err = sl_dev_xsk_open(&xc, &d)) < 0) {
		fprintf(stderr, "reflector: AF_XDP socket: %s\n", sl_strerror(err));
		goto out;
	}
	if ((err = sl_gate_set_socket(g, queue, sl_dev_fd(d))) < 0) {
		fprintf(stderr, "reflector: XSKMAP: %s\n", sl_strerror(err));
		goto out;
	}
	sock_set = true;
	memcpy(rule.addr, addr.b, 16);
	if ((err = sl_gate_rule_add(g, &rule)) < 0) {
		fprintf(stderr, "reflector: owned-address rule: %s\n", sl_strerror(err));
		goto out;
	}
	rule_added = true;

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "reflector: serving %s on %s queue %u (%s XDP, %s mode)\n", addr_s,
		dev_name, queue, d->mode, d->zero_copy ? "zero-copy" : "copy");

	const struct sl_dev_ops *ops = d->ops;
	int fd = sl_dev_fd(d);
	uint64_t end = duration > 0 ? sl_now_ns() + (uint64_t)(duration * 1e9) : UINT64_MAX;
	struct sl_frame f[SL_RX_BATCH];
	while (!stop) {
		uint64_t now = sl_now_ns();
		if (now >= end)
			break;
		int n = ops->rx(d, f, SL_RX_BATCH, now);
		c.polls++;
		for (int i = 0; i < n; i++) {
			if (!reflect(&f[i], d->mac, ip, &c)) {
				c.other++;
				ops->release(d, &f[i]);
			} else if (ops->tx(d, &f[i]) < 0) {
				c.tx_err++; /* the device took the frame back */
			}
		}
		c.rx += (uint64_t)(n > 0 ? n : 0);
		ops->flush(d, now);
		struct sl_dev_counts dc;
		sl_dev_counts(d, &dc);
		/* Flush again (completions reaped first, then a kick only if frames are still
		 * queued) until the TX ring is empty. */
		for (int k = 1; k < kicks && dc.owner[SL_OWN_TX]; k++) {
			ops->flush(d, now);
			c.extra_flushes++;
			sl_dev_counts(d, &dc);
		}
		if (dc.owner[SL_OWN_TX] > c.tx_pending_max)
			c.tx_pending_max = dc.owner[SL_OWN_TX];
		if (n == 0 && !busy) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			c.sleeps++;
			poll(&p, 1, 100);
		}
	}
	status = 0;
out:
	if (rule_added && sl_gate_rule_del(g, rule.id) < 0)
		fprintf(stderr, "reflector: could not remove rule %u\n", rule.id);
	if (sock_set)
		sl_gate_set_socket(g, queue, -1);
	struct sl_stats ks = {0};
	bool zc = d && d->zero_copy;
	if (d) {
		d->ops->stats(d, &ks);
		sl_dev_close_counted(d, &fc);
	}
	if (g)
		sl_gate_close(g);
	if (status == 0) {
		printf(
		    "{\"rx\":%llu,\"udp\":%llu,\"arp\":%llu,\"other\":%llu,\"tx_errors\":%llu,"
		    "\"polls\":%llu,\"sleeps\":%llu,\"extra_flushes\":%llu,\"tx_pending_max\":%llu,"
		    "\"dev_rx_dropped\":%llu,"
		    "\"dev_rx_ring_full\":%llu,\"tx_ring_full\":%llu,\"frames_total\":%llu,"
		    "\"frames_returned\":%llu,\"mode\":\"%s\",\"zero_copy\":%s}\n",
		    (unsigned long long)c.rx, (unsigned long long)c.udp, (unsigned long long)c.arp,
		    (unsigned long long)c.other, (unsigned long long)c.tx_err,
		    (unsigned long long)c.polls, (unsigned long long)c.sleeps,
		    (unsigned long long)c.extra_flushes, (unsigned long long)c.tx_pending_max,
		    (unsigned long long)ks.c[SL_STAT_dev_rx_dropped],
		    (unsigned long long)ks.c[SL_STAT_dev_rx_ring_full],
		    (unsigned long long)ks.c[SL_STAT_dev_tx_ring_full], (unsigned long long)fc.total,
		    (unsigned long long)fc.owner[SL_OWN_FREE],
		    used == SL_GATE_MODE_GENERIC ? "generic" : "native", zc ? "true" : "false");
		if (fc.owner[SL_OWN_FREE] != fc.total || fc.owner_errors) {
			fprintf(stderr, "reflector: frame accounting: %llu of %llu returned\n",
				(unsigned long long)fc.owner[SL_OWN_FREE],
				(unsigned long long)fc.total);
			status = 1;
		}
	}
	return status;
}
