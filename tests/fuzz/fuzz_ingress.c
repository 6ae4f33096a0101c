/*
 * libFuzzer target over the whole ingress path: each input is one Ethernet frame
 * delivered to a fresh stack through the pipe device (opened and closed per input, so a
 * crash replays from its input alone). Whatever the bytes, the stack must not crash, leak
 * memory or frames, or send anything malformed: every frame it sends is judged by
 * tests/fuzz/oracle.h, which shares no code with the stack.
 */
#include "sluice/sluice.h"
#include "fuzz/oracle.h"
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

static void drain(struct fixture *fx, bool judge)
{
	struct sl_frame out[SL_RX_BATCH];
	struct ora_pkt k;
	int n;
	while ((n = fx->peer->ops->rx(fx->peer, out, SL_RX_BATCH, UINT64_MAX)) > 0)
		for (int i = 0; i < n; i++) {
			if (judge)
				ora_frame(out[i].data, out[i].len, 1500, &k);
			fx->peer->ops->release(fx->peer, &out[i]);
		}
}

static void open_fixture(struct fixture *fx)
{
	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	cfg.deterministic_secrets = true; /* an input replays with the same ISNs and cookies */
	sl_ip_parse("10.1.0.2", &cfg.addrs[0].addr);
	cfg.addrs[0].prefix_len = 24;
	/* IPv6 too (seeds tests/fuzz/corpus/ingress/ipv6_*, tests/fuzz/gen_ipv6_seeds.py). */
	sl_ip_parse("fd01::2", &cfg.addrs[1].addr);
	cfg.addrs[1].prefix_len = 64;
	cfg.n_addrs = 2;
	sl_ip_parse("10.1.0.1", &cfg.gateway);
	cfg.icmp_rate = 1000000; /* exercise the error path on every input */
	cfg.icmp_burst = 1000000;
	/* Small tables: a fresh stack per input must be cheap to open. */
	cfg.tcp_max_conns = 64;
	cfg.tcp_backlog = 16;
	cfg.udp_max_sockets = 16;
	cfg.arp_cache_size = 16;
	cfg.reasm_max_datagrams = 8;
	/* The pipe pair outlives inputs (allocating its 8 MiB per input cost more than the rest
	 * of the run); it carries no state between them once every frame is back on its free
	 * list, which close_fixture checks. */
	static struct sl_dev *peer, *dev;
	if (!peer && sl_dev_pipe_pair(NULL, NULL, &peer, &dev))
		abort();
	fx->peer = peer;
	fx->dev = dev;
	if (sl_stack_open(fx->dev, &cfg, 1, &fx->st))
		abort();
	/* Transports to reach: UDP echo on 7, TCP echo on 7 and 80. */
	if (sl_udp_listen(fx->st, 7, fz_udp, NULL) ||
	    sl_tcp_listen(fx->st, 7, NULL, fz_accept, NULL) ||
	    sl_tcp_listen(fx->st, 80, NULL, fz_accept, NULL))
		abort();
	/* Duplicate Address Detection (RFC 4862 §5.4, about 1 s of simulated time) done before
	 * the input, so that it reaches a usable IPv6 address; what the stack sends meanwhile
	 * is judged too. */
	fx->now = 1;
	for (int i = 0; i < 30 && sl_ip_addr_state(fx->st, &cfg.addrs[1].addr); i++) {
		sl_stack_poll(fx->st, fx->now);
		drain(fx, true);
		fx->now += 250000000;
	}
	if (sl_ip_addr_state(fx->st, &cfg.addrs[1].addr))
		abort();
}

/* Close the stack: every frame of both pipe ends must be back on its free list, and nothing
 * left in flight between them. */
static void close_fixture(struct fixture *fx)
{
	struct sl_dev_counts c1, c2;
	struct sl_frame f;
	sl_stack_close(fx->st);
	drain(fx, false);
	if (fx->dev->ops->rx(fx->dev, &f, 1, UINT64_MAX) > 0)
		ORA_FAIL("a frame from the peer was never received");
	sl_dev_counts(fx->dev, &c1);
	sl_dev_counts(fx->peer, &c2);
	if (c1.owner_errors || c2.owner_errors || c1.owner[SL_OWN_FREE] != c1.total ||
	    c2.owner[SL_OWN_FREE] != c2.total)
		ORA_FAIL("frames not returned at close: stack end %llu of %llu free, peer %llu of %llu",
			 (unsigned long long)c1.owner[SL_OWN_FREE], (unsigned long long)c1.total,
			 (unsigned long long)c2.owner[SL_OWN_FREE], (unsigned long long)c2.total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1514)
		return 0;
	struct fixture fx;
	open_fixture(&fx);
	/* The peer end sends the raw bytes; the stack under test receives them. */
	struct sl_frame f;
	if (fx.peer->ops->alloc(fx.peer, &f))
		abort();
	memcpy(f.data, data, size);
	/* Make most inputs reach past the MAC filter: frame to our MAC unless the input asks
	 * for broadcast via its first bit. */
	if (size >= 6 && !(data[0] & 1))
		memcpy(f.data, fx.dev->mac, 6);
	f.len = (uint32_t)size;
	fx.peer->ops->tx(fx.peer, &f);
	fx.peer->ops->flush(fx.peer, fx.now);
	/* The poll that takes the frame, then a few more over a few seconds of simulated time
	 * so that timers it started (retransmission, ARP retry, reassembly) fire too. */
	for (int i = 0; i < 4; i++) {
		sl_stack_poll(fx.st, fx.now);
		drain(&fx, true);
		/* No frame may stay with the stack beyond the ARP pending bound. */
		struct sl_dev_counts c;
		sl_dev_counts(fx.dev, &c);
		if (c.owner_errors || c.owner[SL_OWN_STACK] > 256)
			ORA_FAIL("frame accounting: %llu errors, %llu with the stack",
				 (unsigned long long)c.owner_errors,
				 (unsigned long long)c.owner[SL_OWN_STACK]);
		fx.now += i ? 1500000000 : 1000000;
	}
	close_fixture(&fx);
	return 0;
}
