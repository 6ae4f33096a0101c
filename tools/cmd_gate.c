// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gate commands: attach, detach, flow (add/del/list) and stats. Each parses its
 * arguments completely (usage errors, exit 2) before it looks at the system: device
 * first, then privileges, then the gate (runtime errors, exit 1).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "sluice/gate.h"
#include "sluice/stats.h"
#include "gate_shared.h"
#include "cli.h"

#define ADDR_STR_LEN 48

/* ---------------------------------------------------------------- usage texts */

void cmd_attach_usage(FILE *f)
{
	fputs("usage: sluice attach DEV [--mode native|generic]\n"
	      "\n"
	      "Load the gate (sluice's XDP program) and attach it to the network device DEV,\n"
	      "pinning its maps under <bpffs>/sluice/<netns-inode>/DEV/. Attaching to a device\n"
	      "where the gate is already attached does nothing. With no rule installed the gate\n"
	      "passes every frame to the kernel.\n"
	      "\n"
	      "Options:\n"
	      "  --mode native   driver-mode XDP; fail if the driver does not support it\n"
	      "  --mode generic  generic (SKB-mode) XDP, slower but available everywhere\n"
	      "  (default: try native, fall back to generic with a message)\n",
	      f);
}

void cmd_detach_usage(FILE *f)
{
	fputs("usage: sluice detach DEV\n"
	      "\n"
	      "Detach the gate from DEV and remove its pinned maps; every frame goes to the\n"
	      "kernel again. An XDP program that is not sluice's is left alone.\n",
	      f);
}

void cmd_flow_usage(FILE *f)
{
	fputs("usage: sluice flow add DEV [addr ADDR] [proto tcp|udp|icmp|icmp6] [port N]"
	      " [queue Q]\n"
	      "       sluice flow del DEV ID\n"
	      "       sluice flow list DEV [--json]\n"
	      "\n"
	      "Flows are the gate's steering rules: frames they match go to the sluice stack\n"
	      "bound to the queue they arrive on (or to the kernel when none is bound).\n"
	      "\n"
	      "  add   addr ADDR alone: sluice owns ADDR (IPv4 a.b.c.d or IPv6, e.g. fd00::9):\n"
	      "        every packet to ADDR, fragments included, and every ARP request (IPv4) or\n"
	      "        neighbor solicitation and advertisement (IPv6) for it go to sluice.\n"
	      "        proto P: packets of protocol P (tcp, udp; icmp for IPv4, icmp6 or icmpv6\n"
	      "        for IPv6) go to sluice; port N (1-65535) is required for tcp and udp and\n"
	      "        not allowed for icmp and icmp6; with addr ADDR only packets to ADDR match,\n"
	      "        otherwise any address of either family.\n"
	      "        queue Q: match only frames received on RX queue Q (default: any queue).\n"
	      "        Prints the id of the new flow.\n"
	      "  del   remove flow ID.\n"
	      "  list  show the flows with the packets and bytes each has matched.\n"
	      "\n"
	      "Options:\n"
	      "  --json  (list) print one JSON object\n",
	      f);
}

void cmd_stats_usage(FILE *f)
{
	fputs("usage: sluice stats DEV [--json]\n"
	      "\n"
	      "Show the gate's counters on DEV and the counters of every running sluice stack\n"
	      "on DEV (published in /run/sluice/<netns-inode>/DEV/q<queue>.stats), with how\n"
	      "each polls (q<queue>.poll: sleeping, busy polling, preferred NAPI busy polling\n"
	      "with its socket options and NAPI id, DEV's napi_defer_hard_irqs and\n"
	      "gro_flush_timeout). Counters that are zero are hidden, except the headline ones.\n"
	      "\n"
	      "Options:\n"
	      "  --json  print one JSON object with every counter\n",
	      f);
}

/* ---------------------------------------------------------------- common */

/* A runtime error: cli_err(...), then the exit status CLI_EXIT_FAIL. */
#define FAIL(...) (cli_err(__VA_ARGS__), CLI_EXIT_FAIL)

/* From parse_args: the command goes on. */
#define GO_ON (-1)

/*
 * cli_getopts for command cmd, then what every command does first: -h/--help prints its
 * usage (exit 0), and without a positional argument (the device) it fails with the usage
 * error `missing`. Returns GO_ON, or the exit status the command returns.
 */
static int parse_args(const char *cmd, void (*usage)(FILE *f), int argc, char **argv,
		      const struct cli_opt *opts, char **pos, int maxpos, int *npos,
		      const char *missing)
{
	int r = cli_getopts(cmd, argc, argv, opts, pos, maxpos, npos);

	if (r == CLI_HELP) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (r < 0)
		return CLI_EXIT_USAGE;
	if (*npos < 1)
		return cli_usage_err(cmd, "%s", missing);
	return GO_ON;
}

/* The device must exist, then we must be privileged. */
static int need_dev_and_root(const char *dev)
{
	if (cli_check_dev(dev) || cli_need_root())
		return CLI_EXIT_FAIL;
	return CLI_EXIT_OK;
}

/* need_dev_and_root, then the gate attached to dev. */
static int open_gate(const char *dev, struct sl_gate **g)
{
	int err = need_dev_and_root(dev);

	if (err)
		return err;
	err = sl_gate_open(dev, g);
	if (!err)
		return CLI_EXIT_OK;
	if (err == -ENODEV)
		cli_err("no such device: %s", dev);
	else if (err == -ENOENT && !sl_gate_attached(dev))
		cli_err("gate not attached to %s (run: sluice attach %s)", dev, dev);
	else if (err != -ENOENT) /* for -ENOENT the library said why the pins are missing */
		cli_err("cannot open the gate on %s: %s", dev, strerror(-err));
	return CLI_EXIT_FAIL;
}

static const char *mode_name(enum sl_gate_mode m)
{
	return m == SL_GATE_MODE_NATIVE ? "native" : m == SL_GATE_MODE_GENERIC ? "generic" : "auto";
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return NULL;
}

/* ICMP and ICMPv6 rules match with port 0 and show no port. */
static bool proto_portless(uint8_t p)
{
	return p == IPPROTO_ICMP || p == IPPROTO_ICMPV6;
}

/* a.b.c.d:port, or [v6]:port (RFC 5952 §6). */
static void endpoint_str(const uint8_t ip[16], uint16_t port, char *buf, size_t len)
{
	char a[64];

	cli_addr_str(ip, a, sizeof(a));
	snprintf(buf, len, cli_addr_is_v4(ip) ? "%s:%u" : "[%s]:%u", a, port);
}

static const char *kind_name(enum sl_rule_kind k)
{
	return k == SL_RULE_OWNED ? "owned" : k == SL_RULE_PORT ? "port" : "tuple";
}

/* ---------------------------------------------------------------- attach / detach */

int cmd_attach(int argc, char **argv)
{
	const char *mode_s = NULL;
	const struct cli_opt opts[] = {{"--mode", &mode_s, NULL}, {NULL, NULL, NULL}};
	enum sl_gate_mode mode = SL_GATE_MODE_AUTO, used = SL_GATE_MODE_AUTO;
	char *pos[1];
	int npos, r;
	bool was;

	r = parse_args("attach", cmd_attach_usage, argc, argv, opts, pos, 1, &npos,
		       "missing device");
	if (r != GO_ON)
		return r;
	if (mode_s && !strcmp(mode_s, "native"))
		mode = SL_GATE_MODE_NATIVE;
	else if (mode_s && !strcmp(mode_s, "generic"))
		mode = SL_GATE_MODE_GENERIC;
	else if (mode_s)
		return cli_usage_err("attach", "mode must be native or generic, not '%s'", mode_s);
	r = need_dev_and_root(pos[0]);
	if (r)
		return r;

	was = sl_gate_attached(pos[0]);
	r = sl_gate_attach(pos[0], mode, &used);
	if (r == -EOPNOTSUPP && mode == SL_GATE_MODE_NATIVE)
		return FAIL("the driver of %s has no native XDP (try: --mode generic)", pos[0]);
	switch (r) {
	case 0:
		if (was)
			printf("gate already attached to %s (%s)\n", pos[0], mode_name(used));
		else
			printf("attached gate to %s (%s)\n", pos[0], mode_name(used));
		return CLI_EXIT_OK;
	case -EEXIST:
		cli_err("gate already attached to %s in %s mode (to change it: sluice detach %s)",
			pos[0], mode_name(used), pos[0]);
		break;
	case -EBUSY:
		cli_err("another XDP program is attached to %s (see: ip -d link show %s)", pos[0],
			pos[0]);
		break;
	case -ENODEV:
		cli_err("no such device: %s", pos[0]);
		break;
	case -EPERM:
		cli_err("cannot attach the gate to %s: %s (root with CAP_NET_ADMIN and CAP_BPF "
			"needed)",
			pos[0], strerror(-r));
		break;
	default:
		cli_err("cannot attach the gate to %s: %s", pos[0], strerror(-r));
	}
	return CLI_EXIT_FAIL;
}

int cmd_detach(int argc, char **argv)
{
	char *pos[1];
	int npos, r;

	r = parse_args("detach", cmd_detach_usage, argc, argv, NULL, pos, 1, &npos,
		       "missing device");
	if (r != GO_ON)
		return r;
	r = need_dev_and_root(pos[0]);
	if (r)
		return r;
	r = sl_gate_detach(pos[0]);
	switch (r) {
	case 0:
		printf("detached gate from %s\n", pos[0]);
		return CLI_EXIT_OK;
	case -ENOENT:
		cli_err("gate not attached to %s", pos[0]);
		break;
	case -EBUSY:
		cli_err("the XDP program on %s is not sluice's; leaving it alone", pos[0]);
		break;
	case -ENODEV:
		cli_err("no such device: %s", pos[0]);
		break;
	default:
		cli_err("cannot detach the gate from %s: %s", pos[0], strerror(-r));
	}
	return CLI_EXIT_FAIL;
}

/* ---------------------------------------------------------------- flow */

/* flow add DEV [addr ADDR] [proto P] [port N] [queue Q]: keywords in any order, once each. */
static int flow_add(int argc, char **argv)
{
	const char *addr_s = NULL, *proto_s = NULL, *port_s = NULL, *queue_s = NULL;
	struct sl_rule r = {.queue = -1};
	struct sl_gate *g;
	char *pos[9];
	uint32_t v;
	int npos, i, err;

	err = parse_args("flow", cmd_flow_usage, argc, argv, NULL, pos, 9, &npos,
			 "flow add: missing device");
	if (err != GO_ON)
		return err;
	for (i = 1; i < npos; i += 2) {
		const char **slot = !strcmp(pos[i], "addr")    ? &addr_s
				    : !strcmp(pos[i], "proto") ? &proto_s
				    : !strcmp(pos[i], "port")  ? &port_s
				    : !strcmp(pos[i], "queue") ? &queue_s
							       : NULL;

		if (!slot)
			return cli_usage_err("flow", "flow add: unknown keyword '%s'", pos[i]);
		if (*slot)
			return cli_usage_err("flow", "flow add: %s given twice", pos[i]);
		if (i + 1 >= npos)
			return cli_usage_err("flow", "flow add: %s needs a value", pos[i]);
		*slot = pos[i + 1];
	}

	if (addr_s) {
		static const uint8_t unspec[16];

		if (cli_parse_addr(addr_s, r.addr))
			return cli_usage_err("flow",
					     "malformed address '%s' (want IPv4 like 10.0.0.3 or "
					     "IPv6 like fd00::3, without a zone or prefix length)",
					     addr_s);
		if (!memcmp(r.addr + 12, "\0\0\0\0", 4) && cli_addr_is_v4(r.addr))
			return cli_usage_err("flow", "address 0.0.0.0 cannot be owned or matched");
		if (!memcmp(r.addr, unspec, 16))
			return cli_usage_err("flow", "address :: cannot be owned or matched");
	}
	if (proto_s) {
		if (!strcmp(proto_s, "tcp"))
			r.proto = IPPROTO_TCP;
		else if (!strcmp(proto_s, "udp"))
			r.proto = IPPROTO_UDP;
		else if (!strcmp(proto_s, "icmp"))
			r.proto = IPPROTO_ICMP;
		else if (!strcmp(proto_s, "icmp6") || !strcmp(proto_s, "icmpv6"))
			r.proto = IPPROTO_ICMPV6;
		else
			return cli_usage_err(
			    "flow", "proto must be tcp, udp, icmp or icmp6, not '%s'", proto_s);
	}
	if (port_s) {
		if (!proto_s)
			return cli_usage_err("flow", "port needs proto tcp or udp");
		if (r.proto == IPPROTO_ICMP || r.proto == IPPROTO_ICMPV6)
			return cli_usage_err("flow", "%s has no ports: drop 'port %s'", proto_s,
					     port_s);
		if (cli_parse_u32(port_s, 65535, &v) || v == 0)
			return cli_usage_err("flow", "port must be 1..65535, not '%s'", port_s);
		r.port = (uint16_t)v;
	} else if (r.proto == IPPROTO_TCP || r.proto == IPPROTO_UDP) {
		return cli_usage_err("flow", "proto %s needs a port", proto_s);
	}
	if (queue_s) {
		if (cli_parse_u32(queue_s, SL_GATE_MAX_QUEUES - 1, &v))
			return cli_usage_err("flow", "queue must be 0..%d, not '%s'",
					     SL_GATE_MAX_QUEUES - 1, queue_s);
		r.queue = (int32_t)v;
	}
	if (proto_s) {
		r.kind = SL_RULE_PORT;
		r.has_addr = addr_s != NULL;
		/* ICMP rides on IPv4 only, ICMPv6 on IPv6 only. */
		if (r.has_addr && r.proto == IPPROTO_ICMP && !cli_addr_is_v4(r.addr))
			return cli_usage_err("flow",
					     "proto icmp is ICMP for IPv4; for the IPv6 "
					     "address %s use proto icmp6",
					     addr_s);
		if (r.has_addr && r.proto == IPPROTO_ICMPV6 && cli_addr_is_v4(r.addr))
			return cli_usage_err("flow",
					     "proto icmp6 is ICMP for IPv6; for the IPv4 "
					     "address %s use proto icmp",
					     addr_s);
	} else if (addr_s) {
		r.kind = SL_RULE_OWNED;
	} else {
		return cli_usage_err("flow", "flow add needs addr ADDR, proto P, or both");
	}

	err = open_gate(pos[0], &g);
	if (err)
		return err;
	err = sl_gate_rule_add(g, &r);
	sl_gate_close(g);
	switch (err) {
	case 0:
		printf("added flow %" PRIu32 "\n", r.id);
		return CLI_EXIT_OK;
	case -EEXIST:
		cli_err("flow already exists");
		break;
	case -ENOSPC:
		cli_err("no room for another flow on %s", pos[0]);
		break;
	default:
		cli_err("cannot add flow on %s: %s", pos[0], strerror(-err));
	}
	return CLI_EXIT_FAIL;
}

static int flow_del(int argc, char **argv)
{
	struct sl_gate *g;
	char *pos[2];
	uint32_t id;
	int npos, err;

	err = parse_args("flow", cmd_flow_usage, argc, argv, NULL, pos, 2, &npos,
			 "flow del: missing device");
	if (err != GO_ON)
		return err;
	if (npos < 2)
		return cli_usage_err("flow", "flow del: missing flow id");
	if (cli_parse_u32(pos[1], SL_GATE_MAX_RULES - 1, &id) || id == 0)
		return cli_usage_err("flow", "flow id must be 1..%d, not '%s'",
				     SL_GATE_MAX_RULES - 1, pos[1]);
	err = open_gate(pos[0], &g);
	if (err)
		return err;
	err = sl_gate_rule_del(g, id);
	sl_gate_close(g);
	if (!err) {
		printf("deleted flow %" PRIu32 "\n", id);
		return CLI_EXIT_OK;
	}
	if (err == -ENOENT)
		return FAIL("no flow %" PRIu32 " on %s", id, pos[0]);
	return FAIL("cannot delete flow %" PRIu32 " on %s: %s", id, pos[0], strerror(-err));
}

static void json_opt_str(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":", key);
	if (s)
		cli_json_str(f, s);
	else
		fputs("null", f);
}

/* ,"key":v, or ,"key":null when there is no v. */
static void json_opt_num(FILE *f, const char *key, bool has, int64_t v)
{
	if (has)
		fprintf(f, ",\"%s\":%" PRId64, key, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

static void flow_json(FILE *f, const char *dev, const struct sl_rule *rules, int n)
{
	char a[ADDR_STR_LEN];
	int i;

	fputs("{\"device\":", f);
	cli_json_str(f, dev);
	fputs(",\"flows\":[", f);
	for (i = 0; i < n; i++) {
		const struct sl_rule *r = &rules[i];
		bool has_port = r->kind != SL_RULE_OWNED && !proto_portless(r->proto);

		fprintf(f, "%s{\"id\":%" PRIu32, i ? "," : "", r->id);
		json_opt_str(f, "kind", kind_name(r->kind));
		json_opt_str(f, "proto", r->kind == SL_RULE_OWNED ? NULL : proto_name(r->proto));
		cli_addr_str(r->addr, a, sizeof(a));
		json_opt_str(f, "addr", r->kind == SL_RULE_PORT && !r->has_addr ? NULL : a);
		json_opt_num(f, "port", has_port, r->port);
		if (r->kind == SL_RULE_TUPLE) {
			cli_addr_str(r->raddr, a, sizeof(a));
			json_opt_str(f, "raddr", a);
			json_opt_num(f, "rport", has_port, r->rport);
			json_opt_num(f, "home", r->has_home, r->home);
		}
		json_opt_num(f, "queue", r->queue >= 0, r->queue);
		fprintf(f, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", r->packets, r->bytes);
	}
	fputs("]}\n", f);
}

/* One table row's text cells. */
struct flow_row {
	char addr[ADDR_STR_LEN], port[8], queue[8], remote[ADDR_STR_LEN + 10], home[8];
};

static void flow_row(const struct sl_rule *r, struct flow_row *w)
{
	if (r->kind == SL_RULE_PORT && !r->has_addr)
		snprintf(w->addr, sizeof(w->addr), "*");
	else
		cli_addr_str(r->addr, w->addr, sizeof(w->addr));
	if (r->kind == SL_RULE_OWNED || proto_portless(r->proto))
		snprintf(w->port, sizeof(w->port), "-");
	else
		snprintf(w->port, sizeof(w->port), "%u", r->port);
	if (r->queue >= 0)
		snprintf(w->queue, sizeof(w->queue), "%" PRId32, r->queue);
	else
		snprintf(w->queue, sizeof(w->queue), "any");
	if (r->kind == SL_RULE_TUPLE && r->has_home)
		snprintf(w->home, sizeof(w->home), "%" PRIu32, r->home);
	else
		snprintf(w->home, sizeof(w->home), "-");
	if (r->kind != SL_RULE_TUPLE) {
		snprintf(w->remote, sizeof(w->remote), "-");
		return;
	}
	if (proto_portless(r->proto))
		cli_addr_str(r->raddr, w->remote, sizeof(w->remote));
	else
		endpoint_str(r->raddr, r->rport, w->remote, sizeof(w->remote));
}

static void flow_table(FILE *f, const struct sl_rule *rules, int n)
{
	struct flow_row w;
	int i, aw = 4, tuples = 0, homes = 0;

	/* Size the address column to its longest entry; REMOTE only when a tuple exists. */
	for (i = 0; i < n; i++) {
		flow_row(&rules[i], &w);
		if ((int)strlen(w.addr) > aw)
			aw = (int)strlen(w.addr);
		tuples += rules[i].kind == SL_RULE_TUPLE;
		homes += rules[i].kind == SL_RULE_TUPLE && rules[i].has_home;
	}
	/* HOME (the queue whose stack owns a tuple's flow) only when a tuple has one. */
	fprintf(f, "%-5s %-6s %-6s %-*s %-5s %-5s %12s %14s%s%s\n", "ID", "KIND", "PROTO", aw,
		"ADDR", "PORT", "QUEUE", "PACKETS", "BYTES", homes ? " HOME " : "",
		tuples ? "  REMOTE" : "");
	for (i = 0; i < n; i++) {
		const struct sl_rule *r = &rules[i];
		const char *pn = r->kind == SL_RULE_OWNED ? "-" : proto_name(r->proto);

		flow_row(r, &w);
		char home[12] = "";
		if (homes)
			snprintf(home, sizeof(home), " %-5s", w.home);
		fprintf(
		    f, "%-5" PRIu32 " %-6s %-6s %-*s %-5s %-5s %12" PRIu64 " %14" PRIu64 "%s%s%s\n",
		    r->id, kind_name(r->kind), pn ? pn : "?", aw, w.addr, w.port, w.queue,
		    r->packets, r->bytes, home, tuples ? "  " : "", tuples ? w.remote : "");
	}
}

static int flow_list(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	struct sl_rule *rules;
	struct sl_gate *g;
	char *pos[1];
	int npos, n, err;

	err = parse_args("flow", cmd_flow_usage, argc, argv, opts, pos, 1, &npos,
			 "flow list: missing device");
	if (err != GO_ON)
		return err;
	err = open_gate(pos[0], &g);
	if (err)
		return err;
	rules = calloc(SL_GATE_MAX_RULES, sizeof(*rules));
	if (!rules) {
		sl_gate_close(g);
		return FAIL("out of memory");
	}
	n = sl_gate_rule_list(g, rules, SL_GATE_MAX_RULES);
	sl_gate_close(g);
	if (n < 0) {
		free(rules);
		return FAIL("cannot list flows on %s: %s", pos[0], strerror(-n));
	}
	if (json)
		flow_json(stdout, pos[0], rules, n);
	else
		flow_table(stdout, rules, n);
	free(rules);
	return CLI_EXIT_OK;
}

int cmd_flow(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_err("flow", "flow needs a subcommand: add, del or list");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		cmd_flow_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "add"))
		return flow_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return flow_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return flow_list(argc - 1, argv + 1);
	return cli_usage_err("flow", "unknown flow subcommand '%s'", argv[1]);
}

/* ---------------------------------------------------------------- stats */

/* Member i of a JSON object of counters: "name":v. */
static void json_counter(FILE *f, unsigned i, const char *name, uint64_t v)
{
	fputs(i ? "," : "", f);
	cli_json_str(f, name);
	fprintf(f, ":%" PRIu64, v);
}

static void conn_json(FILE *f, unsigned i, const struct sl_conn_record *c)
{
	char l[80], r[80];
	endpoint_str(c->local, c->lport, l, sizeof(l));
	endpoint_str(c->remote, c->rport, r, sizeof(r));
	fputs(i ? ",{\"local\":" : "{\"local\":", f);
	cli_json_str(f, l);
	fputs(",\"remote\":", f);
	cli_json_str(f, r);
	fputs(",\"state\":", f);
	cli_json_str(f, c->state);
	fputs(",\"cc\":", f);
	cli_json_str(f, c->cc);
	fprintf(f,
		",\"sack\":%s,\"timestamps\":%s,\"wscale\":%s,\"snd_wscale\":%u,"
		"\"rcv_wscale\":%u,\"mss\":%" PRIu32 ",\"cwnd\":%" PRIu32 ",\"ssthresh\":%" PRIu32
		",\"snd_wnd\":%" PRIu32 ",\"rcv_wnd\":%" PRIu32 ",\"pipe\":%" PRIu32
		",\"sacked\":%" PRIu32 ",\"lost\":%" PRIu32 ",\"srtt_us\":%" PRIu64
		",\"rttvar_us\":%" PRIu64 ",\"rto_us\":%" PRIu64 ",\"min_rtt_us\":%" PRIu64
		",\"retransmits\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
		",\"bytes_received\":%" PRIu64 ",\"segs_in\":%" PRIu64 ",\"segs_out\":%" PRIu64
		",\"recoveries\":%" PRIu64 ",\"rto_count\":%" PRIu64 ",\"tlp_probes\":%" PRIu64
		",\"spurious_undone\":%" PRIu64 ",\"dsacks_rx\":%" PRIu64 ",\"dsacks_tx\":%" PRIu64
		"}",
		c->sack_ok ? "true" : "false", c->ts_ok ? "true" : "false",
		c->wscale_ok ? "true" : "false", c->snd_wscale, c->rcv_wscale, c->mss, c->cwnd,
		c->ssthresh, c->snd_wnd, c->rcv_wnd, c->pipe, c->sacked, c->lost, c->srtt_us,
		c->rttvar_us, c->rto_us, c->min_rtt_us, c->retransmits, c->bytes_sent,
		c->bytes_received, c->segs_in, c->segs_out, c->recoveries, c->rto_count,
		c->tlp_probes, c->spurious_undone, c->dsacks_rx, c->dsacks_tx);
}

static void conns_text(FILE *f, const struct sl_stack_snapshot *s)
{
	if (!s->conns)
		return;
	fprintf(f, "  connections: %" PRIu32 "%s\n", s->ch.total,
		s->ch.total > s->ch.n ? " (first ones listed)" : "");
	for (uint32_t i = 0; i < s->ch.n; i++) {
		const struct sl_conn_record *c = &s->conns[i];
		char l[80], r[80];
		endpoint_str(c->local, c->lport, l, sizeof(l));
		endpoint_str(c->remote, c->rport, r, sizeof(r));
		fprintf(f,
			"    %s %s %s %s%s%s%s mss %" PRIu32 " cwnd %" PRIu32 " srtt %" PRIu64
			" us rto %" PRIu64 " us retrans %" PRIu64 " recoveries %" PRIu64
			" rtos %" PRIu64 " tlp %" PRIu64 " sent %" PRIu64 " recv %" PRIu64 "\n",
			l, r, c->state, c->cc, c->sack_ok ? " sack" : "", c->ts_ok ? " ts" : "",
			c->wscale_ok ? " wscale" : "", c->mss, c->cwnd, c->srtt_us, c->rto_us,
			c->retransmits, c->recoveries, c->rto_count, c->tlp_probes, c->bytes_sent,
			c->bytes_received);
	}
}

/* What `sluice run` published about a stack's polling (q<queue>.poll, "key value" lines),
 * if the file is that stack's (same pid). */
#define POLL_KEYS 16
struct poll_info {
	int n;
	char key[POLL_KEYS][32];
	char val[POLL_KEYS][32];
};

static void read_poll(const char *dev, const struct sl_stack_snapshot *s, struct poll_info *pi)
{
	char path[300], key[32], val[32];
	pi->n = 0;
	if (sl_stats_path(dev, s->h.queue, path, sizeof(path)) < 0)
		return;
	char *dot = strrchr(path, '.');
	if (!dot)
		return;
	strcpy(dot, ".poll");
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (pi->n < POLL_KEYS && fscanf(f, "%31s %31s", key, val) == 2) {
		if (!strcmp(key, "pid")) {
			if (strtoul(val, NULL, 10) != s->h.pid)
				break; /* another run's leftover */
			continue;
		}
		snprintf(pi->key[pi->n], sizeof(pi->key[0]), "%s", key);
		snprintf(pi->val[pi->n], sizeof(pi->val[0]), "%s", val);
		pi->n++;
	}
	fclose(f);
}

static const char *poll_get(const struct poll_info *pi, const char *key)
{
	for (int i = 0; i < pi->n; i++)
		if (!strcmp(pi->key[i], key))
			return pi->val[i];
	return NULL;
}

static bool all_digits(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++)
		if (*v < '0' || *v > '9')
			return false;
	return true;
}

static void poll_json(FILE *f, const struct poll_info *pi)
{
	if (!pi->n)
		return;
	fputs(",\"poll\":{", f);
	for (int i = 0; i < pi->n; i++) {
		const char *k = pi->key[i], *v = pi->val[i];
		size_t kl = strlen(k);
		bool flag =
		    (kl > 4 && !strcmp(k + kl - 4, "_set")) || !strcmp(k, "prefer_busy_poll");
		fprintf(f, "%s\"%s\":", i ? "," : "", k);
		if (flag)
			fputs(strcmp(v, "0") ? "true" : "false", f);
		else if (all_digits(v))
			fputs(v, f);
		else
			cli_json_str(f, v);
	}
	fputs("}", f);
}

static void poll_line(FILE *f, const struct poll_info *pi)
{
	const char *mode = poll_get(pi, "mode"), *v;
	if (!mode)
		return;
	fprintf(f, "  poll: %s", mode);
	if (!strcmp(mode, "sleep") && (v = poll_get(pi, "spin_us")))
		fprintf(f, " after %s us idle", v);
	if ((v = poll_get(pi, "busy_poll_us")))
		fprintf(f, ", SO_BUSY_POLL %s us, SO_BUSY_POLL_BUDGET %s, SO_PREFER_BUSY_POLL", v,
			poll_get(pi, "busy_poll_budget") ? poll_get(pi, "busy_poll_budget") : "?");
	if ((v = poll_get(pi, "napi_id")))
		fprintf(f, ", NAPI id %s", strcmp(v, "0") ? v : "none");
	static const char *const napi[] = {"napi_defer_hard_irqs", "gro_flush_timeout"};
	for (unsigned k = 0; k < 2; k++) {
		char set[48];
		snprintf(set, sizeof(set), "%s_set", napi[k]);
		if ((v = poll_get(pi, napi[k])))
			fprintf(f, ", %s %s%s", napi[k], v,
				poll_get(pi, set) && strcmp(poll_get(pi, set), "0")
				    ? " (set by this run)"
				    : "");
	}
	fputs("\n", f);
}

static void stats_json(FILE *f, const char *dev, const uint64_t *gate, unsigned ng,
		       const struct sl_stack_snapshot *s, int ns)
{
	unsigned i;
	int k;

	fputs("{\"device\":", f);
	cli_json_str(f, dev);
	fputs(",\"gate\":{", f);
	for (i = 0; i < ng; i++)
		json_counter(f, i, sl_gate_counter_name(i), gate[i]);
	fputs("},\"stacks\":[", f);
	for (k = 0; k < ns; k++) {
		fprintf(f, "%s{\"queue\":%" PRIu32 ",\"pid\":%" PRIu32 ",\"mode\":", k ? "," : "",
			s[k].h.queue, s[k].h.pid);
		cli_json_str(f, s[k].h.mode);
		fprintf(f, ",\"zero_copy\":%s,\"addr\":", s[k].h.zero_copy ? "true" : "false");
		cli_json_str(f, s[k].h.addr);
		struct poll_info pi;
		read_poll(dev, &s[k], &pi);
		poll_json(f, &pi);
		fprintf(f,
			",\"frames_total\":%" PRIu64 ",\"frames_free\":%" PRIu64 ",\"counters\":{",
			s[k].h.frames_total, s[k].h.frames_free);
		for (i = 0; i < s[k].h.n; i++)
			json_counter(f, i, s[k].names[i], s[k].vals[i]);
		fputs("}", f);
		if (s[k].conns) {
			fprintf(f, ",\"connections_total\":%" PRIu32 ",\"connections\":[",
				s[k].ch.total);
			for (i = 0; i < s[k].ch.n; i++)
				conn_json(f, i, &s[k].conns[i]);
			fputs("]", f);
		}
		fputs("}", f);
	}
	fputs("]}\n", f);
}

static bool is_headline(const char *name, const char *const *headline)
{
	for (; *headline; headline++)
		if (!strcmp(name, *headline))
			return true;
	return false;
}

static void print_counters(FILE *f, const char *const *names, const uint64_t *vals, unsigned n,
			   const char *const *headline)
{
	unsigned i, hidden = 0;

	for (i = 0; i < n; i++) {
		if (vals[i] == 0 && !is_headline(names[i], headline)) {
			hidden++;
			continue;
		}
		fprintf(f, "  %-24s %16" PRIu64 "\n", names[i], vals[i]);
	}
	if (hidden)
		fprintf(f, "  (%u zero counters hidden)\n", hidden);
}

static void stats_text(FILE *f, const char *dev, const uint64_t *gate, unsigned ng,
		       const struct sl_stack_snapshot *s, int ns)
{
	static const char *const gate_head[] = {"rx", "redirected", "passed", NULL};
	static const char *const stack_head[] = {"rx_frames", "tx_frames", NULL};
	const char *gnames[SL_GATE_N_COUNTERS];
	const char **snames;
	unsigned i;
	int k;

	for (i = 0; i < ng; i++)
		gnames[i] = sl_gate_counter_name(i);
	fprintf(f, "gate on %s:\n", dev);
	print_counters(f, gnames, gate, ng, gate_head);
	if (ns == 0)
		fprintf(f, "no sluice stack running on %s\n", dev);
	for (k = 0; k < ns; k++) {
		fprintf(f,
			"stack on queue %" PRIu32 ": pid %" PRIu32 ", %s, %s, %s, %" PRIu64
			" frames (%" PRIu64 " free)\n",
			s[k].h.queue, s[k].h.pid, s[k].h.mode[0] ? s[k].h.mode : "?",
			s[k].h.zero_copy ? "zero-copy" : "copy mode",
			s[k].h.addr[0] ? s[k].h.addr : "no address", s[k].h.frames_total,
			s[k].h.frames_free);
		struct poll_info pi;
		read_poll(dev, &s[k], &pi);
		poll_line(f, &pi);
		snames = calloc(s[k].h.n ? s[k].h.n : 1, sizeof(*snames));
		if (!snames)
			continue;
		for (i = 0; i < s[k].h.n; i++)
			snames[i] = s[k].names[i];
		print_counters(f, snames, s[k].vals, s[k].h.n, stack_head);
		free(snames);
		conns_text(f, &s[k]);
	}
}

int cmd_stats(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	uint64_t gate[SL_GATE_N_COUNTERS];
	struct sl_stack_snapshot *stacks;
	struct sl_gate *g;
	char *pos[1];
	int npos, ns, err;

	err =
	    parse_args("stats", cmd_stats_usage, argc, argv, opts, pos, 1, &npos, "missing device");
	if (err != GO_ON)
		return err;
	err = open_gate(pos[0], &g);
	if (err)
		return err;
	err = sl_gate_counters(g, gate, SL_GATE_N_COUNTERS);
	sl_gate_close(g);
	if (err)
		return FAIL("cannot read the gate's counters on %s: %s", pos[0], strerror(-err));
	ns = sl_stack_snapshots(pos[0], &stacks);
	if (ns < 0)
		return FAIL("cannot read stack counters of %s: %s", pos[0], strerror(-ns));
	if (json)
		stats_json(stdout, pos[0], gate, SL_GATE_N_COUNTERS, stacks, ns);
	else
		stats_text(stdout, pos[0], gate, SL_GATE_N_COUNTERS, stacks, ns);
	sl_stack_snapshots_free(stacks, ns);
	return CLI_EXIT_OK;
}
