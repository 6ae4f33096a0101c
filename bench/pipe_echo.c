/*
 * pipe_echo: the cost of the stack alone, without the kernel. A sluice stack (10.9.0.2) runs a
 * UDP echo listener — sl_udp_listen with a callback that sl_udp_write()s the datagram back to
 * its sender — on one end of the in-memory pipe device. The generator on the other end crafts
 * Ethernet/IPv4/UDP frames itself (16 flows, distinct source ports, a sequence number in each
 * payload), hands them over in batches, calls sl_stack_poll() once per batch, and checks every
 * reply byte by byte (addresses, ports, both checksums, payload).
 *
 * The time is invented (+1 µs per batch) and nothing is random outside the stack's seeded
 * generator, so an instruction count is exactly reproducible. `make bench` runs this under
 * `valgrind --tool=callgrind --toggle-collect=sl_stack_poll` at two packet counts and divides
 * the difference in instructions by the difference in packets: the generator, setup and ARP
 * warm-up fall out. Natively it also reports the wall time spent inside sl_stack_poll.
 *
 *   pipe_echo [--packets N] [--batch B] [--payload BYTES] [--flows F] [--mode write|reply]
 *
 * --mode reply echoes through sl_udp_reply (the reply in place, in the received frame)
 * instead of sl_udp_write: an addition to the API, measured and reported apart from the
 * budget's figure, which is always the general path.
 */
#include "sluice/sluice.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ECHO_PORT 7
#define SPORT_BASE 20000
#define GEN_IP 0x0a090001u   /* 10.9.0.1 */
#define STACK_IP 0x0a090002u /* 10.9.0.2 */

struct gen {
	struct sl_dev *dev;
	uint8_t stack_mac[6];
	int payload, flows;
	bool reply_in_place; /* --mode reply: sl_udp_reply instead of sl_udp_write */
	uint64_t sent, echoed, bad, write_errors;
	uint16_t ip_id;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071 sum, not complemented. */
static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n)
{
	for (; n > 1; n -= 2, p += 2)
		acc += get16(p);
	if (n)
		acc += (uint32_t)p[0] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint32_t udp_pseudo(uint32_t src, uint32_t dst, uint16_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + len;
}

static void payload_fill(uint8_t *p, int len, uint64_t seq)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(seq >> (56 - 8 * i));
	for (int i = 8; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + (uint64_t)i);
}

static int build(struct gen *g, struct sl_frame *f, uint64_t seq)
{
	if (g->dev->ops->alloc(g->dev, f) < 0)
		return -1;
	uint8_t *p = f->data;
	uint16_t ulen = (uint16_t)(8 + g->payload);
	memcpy(p, g->stack_mac, 6);
	memcpy(p + 6, g->dev->mac, 6);
	put16(p + 12, 0x0800);
	uint8_t *ih = p + 14;
	memset(ih, 0, 20);
	ih[0] = 0x45;
	put16(ih + 2, (uint16_t)(20 + ulen));
	put16(ih + 4, g->ip_id++);
	ih[8] = 64;
	ih[9] = 17;
	put32(ih + 12, GEN_IP);
	put32(ih + 16, STACK_IP);
	put16(ih + 10, (uint16_t)~fold(sum16(0, ih, 20)));
	uint8_t *uh = ih + 20;
	put16(uh, (uint16_t)(SPORT_BASE + seq % (uint64_t)g->flows));
	put16(uh + 2, ECHO_PORT);
	put16(uh + 4, ulen);
	put16(uh + 6, 0);
	payload_fill(uh + 8, g->payload, seq);
	uint16_t c = (uint16_t)~fold(sum16(udp_pseudo(GEN_IP, STACK_IP, ulen), uh, ulen));
	put16(uh + 6, c ? c : 0xffff);
	f->len = 14 + 20 + ulen;
	return 0;
}

/* An ARP request from the generator: the stack, as the target, learns our MAC (RFC 826). */
static int build_arp(struct gen *g, struct sl_frame *f)
{
	if (g->dev->ops->alloc(g->dev, f) < 0)
		return -1;
	uint8_t *p = f->data, *a = p + 14;
	memset(p, 0xff, 6);
	memcpy(p + 6, g->dev->mac, 6);
	put16(p + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, g->dev->mac, 6);
	put32(a + 14, GEN_IP);
	memset(a + 18, 0, 6);
	put32(a + 24, STACK_IP);
	f->len = 42;
	return 0;
}

static bool reply_ok(const struct gen *g, const uint8_t *p, uint32_t len)
{
	uint16_t ulen = (uint16_t)(8 + g->payload);
	if (len < 14u + 20 + ulen || memcmp(p, g->dev->mac, 6) || memcmp(p + 6, g->stack_mac, 6) ||
	    get16(p + 12) != 0x0800)
		return false;
	const uint8_t *ih = p + 14, *uh = ih + 20;
	if (ih[0] != 0x45 || get16(ih + 2) != 20 + ulen || ih[9] != 17 ||
	    get32(ih + 12) != STACK_IP || get32(ih + 16) != GEN_IP ||
	    fold(sum16(0, ih, 20)) != 0xffff)
		return false;
	uint16_t dport = get16(uh + 2);
	if (get16(uh) != ECHO_PORT || dport < SPORT_BASE || dport >= SPORT_BASE + g->flows ||
	    get16(uh + 4) != ulen ||
	    fold(sum16(udp_pseudo(STACK_IP, GEN_IP, ulen), uh, ulen)) != 0xffff)
		return false;
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | uh[8 + i];
	if (dport != SPORT_BASE + seq % (uint64_t)g->flows)
		return false;
	for (int i = 8; i < g->payload; i++)
		if (uh[8 + i] != (uint8_t)(seq * 31 + (uint64_t)i))
			return false;
	return true;
}

/* Take whatever the stack sent; returns the number of UDP replies. */
static void gen_rx(struct gen *g, uint64_t now)
{
	struct sl_frame f[SL_RX_BATCH];
	int n;
	while ((n = g->dev->ops->rx(g->dev, f, SL_RX_BATCH, now)) > 0) {
		for (int i = 0; i < n; i++) {
			if (f[i].len >= 14 && get16(f[i].data + 12) == 0x0806) {
				/* ARP reply or announcement: the stack's MAC. */
				memcpy(g->stack_mac, f[i].data + 6, 6);
			} else if (reply_ok(g, f[i].data, f[i].len)) {
				g->echoed++;
			} else {
				g->bad++;
			}
			g->dev->ops->release(g->dev, &f[i]);
		}
	}
}

static void on_udp(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		   size_t len)
{
	struct gen *g = arg;
	if (g->reply_in_place) { /* --mode reply: the addition, reported apart from the budget */
		if (sl_udp_reply(st, m, len, true) < 0)
			g->write_errors++;
		return;
	}
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	if (sl_udp_write(st, &o, &m->src, m->src_port, data, len) < 0)
		g->write_errors++;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t packets = 100000;
	int batch = SL_RX_BATCH;
	struct gen g = {.payload = 64, .flows = 16};
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--packets"))
			packets = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--batch"))
			batch = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--payload"))
			g.payload = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--flows"))
			g.flows = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mode") && !strcmp(argv[i + 1], "reply"))
			g.reply_in_place = true;
		else if (!strcmp(argv[i], "--mode") && !strcmp(argv[i + 1], "write"))
			g.reply_in_place = false;
		else
			batch = 0;
	}
	if (batch < 1 || batch > SL_RX_BATCH || g.payload < 8 || g.payload > 1472 || g.flows < 1 ||
	    g.flows > 1000) {
		fprintf(stderr,
			"usage: pipe_echo [--packets N] [--batch 1..64] [--payload 8..1472] "
			"[--flows F] [--mode write|reply]\n");
		return 2;
	}

	struct sl_dev *sdev;
	if (sl_dev_pipe_pair(NULL, NULL, &g.dev, &sdev) < 0)
		return 1;
	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	cfg.addrs[0].addr = sl_ip_v4(STACK_IP);
	cfg.addrs[0].prefix_len = 24;
	cfg.n_addrs = 1;
	cfg.seed = 42;
	cfg.deterministic_secrets = true;
	uint64_t now = 1000000000ull;
	struct sl_stack *st;
	int err = sl_stack_open(sdev, &cfg, now, &st);
	if (err < 0 || (err = sl_udp_listen(st, ECHO_PORT, on_udp, &g)) < 0) {
		fprintf(stderr, "pipe_echo: %s\n", sl_strerror(err));
		return 1;
	}

	/* ARP both ways before the measured part. */
	struct sl_frame f;
	if (build_arp(&g, &f) < 0 || g.dev->ops->tx(g.dev, &f) < 0)
		return 1;
	g.dev->ops->flush(g.dev, now);
	sl_stack_poll(st, now);
	gen_rx(&g, now);

	uint64_t poll_ns = 0, polls = 0;
	uint64_t wall0 = mono_ns();
	while (g.sent < packets) {
		now += 1000;
		int k = 0;
		for (; k < batch && g.sent < packets; k++) {
			if (build(&g, &f, g.sent) < 0 || g.dev->ops->tx(g.dev, &f) < 0)
				break;
			g.sent++;
		}
		g.dev->ops->flush(g.dev, now);
		uint64_t t0 = mono_ns();
		sl_stack_poll(st, now);
		poll_ns += mono_ns() - t0;
		polls++;
		gen_rx(&g, now);
		if (!k)
			break;
	}
	uint64_t wall = mono_ns() - wall0;

	const struct sl_stats *s = sl_stack_stats(st);
	uint64_t drops = 0;
	for (unsigned i = 0; i < SL_STAT_N; i++)
		if (sl_stat_is_drop(i))
			drops += s->c[i];
	printf("{\"packets\":%llu,\"batch\":%d,\"payload\":%d,\"flows\":%d,\"sent\":%llu,"
	       "\"echoed\":%llu,\"bad_replies\":%llu,\"write_errors\":%llu,\"stack_udp_rx\":%llu,"
	       "\"stack_udp_tx\":%llu,\"stack_drops\":%llu,\"polls\":%llu,"
	       "\"poll_ns_per_packet\":%.1f,\"wall_ns_per_packet\":%.1f",
	       (unsigned long long)packets, batch, g.payload, g.flows, (unsigned long long)g.sent,
	       (unsigned long long)g.echoed, (unsigned long long)g.bad,
	       (unsigned long long)g.write_errors, (unsigned long long)s->c[SL_STAT_udp_rx],
	       (unsigned long long)s->c[SL_STAT_udp_tx], (unsigned long long)drops,
	       (unsigned long long)polls, g.sent ? (double)poll_ns / (double)g.sent : 0.0,
	       g.sent ? (double)wall / (double)g.sent : 0.0);
	bool any = false;
	for (unsigned i = 0; i < SL_STAT_N; i++) {
		if (sl_stat_is_drop(i) && s->c[i]) {
			printf("%s\"%s\":%llu", any ? "," : ",\"drop_counters\":{", sl_stat_name(i),
			       (unsigned long long)s->c[i]);
			any = true;
		}
	}
	printf("%s}\n", any ? "}" : "");

	struct sl_dev_counts ca, cb;
	sl_stack_close(st);
	sl_dev_close_counted(sdev, &cb);
	sl_dev_close_counted(g.dev, &ca);
	bool frames_ok = cb.owner[SL_OWN_FREE] == cb.total && !cb.owner_errors;
	bool ok = g.echoed == g.sent && !g.bad && !g.write_errors && frames_ok;
	if (!ok)
		fprintf(stderr,
			"pipe_echo: FAILED: %llu sent, %llu echoed, %llu bad, %llu write errors, "
			"stack frames %llu/%llu returned\n",
			(unsigned long long)g.sent, (unsigned long long)g.echoed,
			(unsigned long long)g.bad, (unsigned long long)g.write_errors,
			(unsigned long long)cb.owner[SL_OWN_FREE], (unsigned long long)cb.total);
	return ok ? 0 : 1;
}
