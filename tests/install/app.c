/*
 * A program built against an installed sluice (tests/install/test_install.sh), through
 * pkg-config only: it must find <sluice/sluice.h> and link with what the .pc file names, shared
 * and static. It parses and prints addresses, checks a configuration, then runs two stacks over
 * an in-memory pipe (no root, no device): 10.9.0.1 sends a datagram to 10.9.0.2 port 7 (ARP
 * resolves first), which echoes it back. The script compares the output with what it expects.
 */
#include <sluice/sluice.h>
#include <stdio.h>
#include <string.h>

static int echoed;

static void on_b(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		 size_t len)
{
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	(void)arg;
	sl_udp_write(st, &o, &m->src, m->src_port, data, len);
}

static void on_a(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		 size_t len)
{
	char ip[46];
	(void)arg;
	(void)st;
	printf("echo from %s:%u: %.*s\n", sl_ip_str(&m->src, ip, sizeof(ip)), m->src_port, (int)len,
	       (const char *)data);
	echoed = 1;
}

static int open_stack(struct sl_dev *d, const char *addr, uint64_t now, struct sl_stack **st)
{
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.deterministic_secrets = true;
	c.seed = 1;
	c.n_addrs = 1;
	c.addrs[0].prefix_len = 24;
	if (sl_ip_parse(addr, &c.addrs[0].addr) < 0)
		return -1;
	return sl_stack_open(d, &c, now, st);
}

int main(void)
{
	char buf[46], why[128];
	sl_ip a, b;
	struct sl_stack_config c;
	struct sl_dev *da, *db;
	struct sl_stack *sa, *sb;
	struct sl_dev_counts ca, cb;
	uint64_t now = 1000000000ull;
	int err, i;

	if (sl_ip_parse("10.9.0.1", &a) || sl_ip_parse("2001:db8::1", &b))
		return 1;
	printf("ip %s %s v4=%d\n", sl_ip_str(&a, buf, sizeof(buf)), sl_ip_str(&b, why, sizeof(why)),
	       sl_ip_is_v4(&a));
	printf("parse bad: %s\n", sl_strerror(sl_ip_parse("10.9.0.300", &a)));

	sl_stack_config_init(&c);
	printf("config default: %d\n", sl_stack_config_check(&c, 1500, why, sizeof(why)));
	c.tcp_max_conns = 0;
	err = sl_stack_config_check(&c, 1500, why, sizeof(why));
	printf("config bad: %s\n", sl_strerror(err));

	if (sl_dev_pipe_pair(NULL, NULL, &da, &db) || open_stack(da, "10.9.0.1", now, &sa) ||
	    open_stack(db, "10.9.0.2", now, &sb))
		return 1;
	if (sl_udp_listen(sa, 5000, on_a, NULL) || sl_udp_listen(sb, 7, on_b, NULL))
		return 1;
	struct sl_udp_write_opts o = {.src_port = 5000};
	sl_ip_parse("10.9.0.2", &b);
	err = sl_udp_write(sa, &o, &b, 7, "hello", 5);
	printf("udp write: %d\n", err);
	for (i = 0; i < 100 && !echoed; i++) {
		now += 1000000;
		sl_stack_poll(sa, now);
		sl_stack_poll(sb, now);
	}
	printf("arp requests sent by a: %llu\n",
	       (unsigned long long)sl_stack_stats(sa)->c[SL_STAT_arp_requests_sent]);
	sl_stack_close(sa);
	sl_stack_close(sb);
	sl_dev_close_counted(da, &ca);
	sl_dev_close_counted(db, &cb);
	printf("frames back: %s\n", ca.owner[SL_OWN_FREE] == ca.total &&
					    cb.owner[SL_OWN_FREE] == cb.total ? "all" : "NOT ALL");
	return echoed ? 0 : 1;
}
