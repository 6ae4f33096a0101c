/*
 * A complete sluice application: a UDP echo server on an interface queue.
 *
 *   build:  make all   (builds build/examples/udp_echo), or against an installed sluice:
 *           cc udp_echo.c $(pkg-config --cflags --libs sluice)
 *   run:    udp_echo DEV ADDR/LEN PORT      e.g. udp_echo eth1 192.0.2.10/24 7
 *
 * It attaches the gate if needed, claims ADDR, answers ARP/ping for it and echoes every
 * datagram sent to PORT — with no system call per packet. Ctrl-C stops it cleanly.
 */
#include <sluice/sluice.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sl_stack *stack;

static void stop(int sig)
{
	(void)sig;
	sl_stack_stop(stack); /* async-signal-safe */
}

static void echo(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		 const uint8_t *data, size_t len)
{
	/* From the address it was sent to, unless that was a broadcast or multicast address
	 * (not ours to send from: source selection then, RFC 1122 §3.2.1.3). */
	const sl_ip *src = sl_ip_addr_state(st, &m->dst) == 0 ? &m->dst : NULL;
	struct sl_udp_write_opts o = {.src = src, .src_port = m->dst_port};
	(void)arg;
	sl_udp_write(st, &o, &m->src, m->src_port, data, len);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DEV ADDR/LEN PORT\n", argv[0]);
		return 2;
	}
	const char *dev = argv[1];
	char addr[64];
	snprintf(addr, sizeof(addr), "%s", argv[2]);
	char *slash = strchr(addr, '/');
	int port = atoi(argv[3]);
	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	if (!slash || sl_ip_parse((*slash = 0, addr), &cfg.addrs[0].addr) < 0) {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	cfg.addrs[0].prefix_len = (uint8_t)atoi(slash + 1);
	cfg.n_addrs = 1;

	/* 1. The gate: attach (no-op if attached) and open its maps. */
	struct sl_gate *gate;
	int err = sl_gate_attach(dev, SL_GATE_MODE_AUTO, NULL);
	if (!err)
		err = sl_gate_open(dev, &gate);
	if (err) {
		fprintf(stderr, "gate: %s\n", sl_strerror(err));
		return 1;
	}
	/* 2. An AF_XDP socket on queue 0, and the stack on it. */
	struct sl_dev *d;
	struct sl_xsk_config xc = {.ifname = dev, .queue = 0};
	err = sl_dev_xsk_open(&xc, &d);
	if (!err)
		err = sl_stack_open(d, &cfg, sl_now_ns(), &stack);
	if (!err)
		err = sl_udp_listen(stack, port, echo, NULL);
	/* 3. Steer: the socket into the XSKMAP, then the rule that claims the address. */
	struct sl_rule rule = {.kind = SL_RULE_OWNED, .queue = -1};
	memcpy(rule.addr, cfg.addrs[0].addr.b, 16);
	if (!err)
		err = sl_gate_set_socket(gate, 0, sl_dev_fd(d));
	if (!err)
		err = sl_gate_rule_add(gate, &rule);
	if (err) {
		fprintf(stderr, "setup: %s\n", sl_strerror(err));
		return 1;
	}
	signal(SIGINT, stop);
	signal(SIGTERM, stop);
	/* 4. Run until a signal: polls in batches, sleeps in poll(2) when idle. It also returns
	 * when the interface disappears (-ENODEV): deleted or moved to another namespace. */
	int run_err = sl_stack_run(stack, NULL);
	if (run_err)
		fprintf(stderr, "run: %s\n", sl_strerror(run_err));

	sl_gate_rule_del(gate, rule.id);
	sl_gate_set_socket(gate, 0, -1);
	printf("echoed %llu datagrams\n",
	       (unsigned long long)sl_stack_stats(stack)->c[SL_STAT_udp_tx]);
	sl_stack_close(stack);
	sl_dev_close(d);
	sl_gate_close(gate);
	return 0;
}
