/*
 * `sluice run DEV --addr ADDR/LEN ...`: attach the gate if needed, claim ADDR with
 * an owned-address rule, open an AF_XDP socket on one queue and run the stack in
 * the foreground until SIGINT/SIGTERM or --duration. On the way out: one summary
 * line, the rule removed, the socket taken out of the XSKMAP, every frame counted.
 */
#include "cli.h"
#include "sluice/sluice.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cmd_run_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice run DEV --addr ADDR/LEN [--gw ADDR] [--queue Q | --queues N]\n"
		"                  [--mode native|generic] [--udp-echo PORT] [--duration SEC]\n"
		"                  [--pcap FILE] [--json]\n"
		"\n"
		"Run a sluice stack on queue Q (default 0) of DEV, owning ADDR: it answers ARP and\n"
		"ICMP echo for ADDR while the kernel keeps every other flow. Attaches the gate if it\n"
		"is not attached, installs an owned-address rule for ADDR, and publishes counters for\n"
		"`sluice stats DEV`. Stops on SIGINT/SIGTERM or after --duration seconds, prints a\n"
		"one-line summary (--json: a JSON object) and removes its rule.\n"
		"\n"
		"  --addr ADDR/LEN   the stack's IPv4 address and on-link prefix length (required)\n"
		"  --gw ADDR         default gateway for destinations off the prefix\n"
		"  --queue Q         RX queue to serve (default 0)\n"
		"  --queues N        serve queues 0..N-1, one stack and one thread per queue\n"
		"  --udp-echo PORT   answer every UDP datagram to PORT with the same bytes (RFC 862)\n"
		"  --mode M          XDP mode when attaching: native (default, falls back to generic)\n"
		"                    or generic\n"
		"  --duration SEC    stop after SEC seconds\n"
		"  --pcap FILE       write every frame received or sent to FILE (pcap; with\n"
		"                    --queues, FILE.qN per queue)\n"
		"  --json            print the summary as JSON\n");
}

#define MAX_QUEUES 64

/* One stack, its socket and its thread, per queue. */
struct worker {
	uint32_t queue;
	struct sl_dev *dev;
	struct sl_stack *st;
	pthread_t thread;
	bool started;
	int err;
	char stats_path[256];
	struct sl_dev_counts fc;
	struct sl_stats final;
	uint64_t duration_ns;
};

static struct worker *workers;
static unsigned nworkers;

static void on_signal(int sig)
{
	(void)sig;
	for (unsigned i = 0; i < nworkers; i++)
		if (workers[i].st)
			sl_stack_stop(workers[i].st);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sl_run_opts ro = {.duration_ns = w->duration_ns};
	w->err = sl_stack_run(w->st, &ro);
	return NULL;
}

/* --udp-echo: send every datagram back where it came from, from the address and port it
 * was sent to (RFC 862). */
static void udp_echo(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		     const uint8_t *data, size_t len)
{
	struct sl_udp_write_opts o = {.src = &m->dst, .src_port = m->dst_port};
	(void)arg;
	sl_udp_write(st, &o, &m->src, m->src_port, data, len);
}

static int mkdir_p(const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static void print_summary(FILE *out, bool json, const char *dev, const char *addr,
			  const struct sl_stats *s, const struct sl_dev_counts *fc, unsigned nq)
{
	uint64_t drops = 0;
	for (unsigned i = 0; i < SL_STAT_N; i++)
		if (sl_stat_is_drop(i))
			drops += s->c[i];
	uint64_t returned = fc->owner[SL_OWN_FREE];
	if (json) {
		fprintf(out, "{\"device\":");
		cli_json_str(out, dev);
		fprintf(out, ",\"addr\":");
		cli_json_str(out, addr);
		fprintf(out,
			",\"queues\":%u,\"frames_total\":%llu,\"frames_returned\":%llu,"
			"\"frame_owner_errors\":%llu,\"drops\":%llu,\"counters\":{",
			nq, (unsigned long long)fc->total, (unsigned long long)returned,
			(unsigned long long)fc->owner_errors, (unsigned long long)drops);
		for (unsigned i = 0; i < SL_STAT_N; i++)
			fprintf(out, "%s\"%s\":%llu", i ? "," : "", sl_stat_name(i),
				(unsigned long long)s->c[i]);
		fprintf(out, "}}\n");
		return;
	}
	fprintf(out,
		"sluice: stopped %s on %s (%u queue%s): rx %llu tx %llu arp-replies %llu "
		"echo-replies %llu udp-rx %llu drops %llu",
		addr, dev, nq, nq == 1 ? "" : "s", (unsigned long long)s->c[SL_STAT_rx_frames],
		(unsigned long long)s->c[SL_STAT_tx_frames],
		(unsigned long long)s->c[SL_STAT_arp_replies_sent],
		(unsigned long long)s->c[SL_STAT_icmp_echo_replies],
		(unsigned long long)s->c[SL_STAT_udp_rx], (unsigned long long)drops);
	const char *sep = " (";
	for (unsigned i = 0; i < SL_STAT_N; i++) {
		if (sl_stat_is_drop(i) && s->c[i]) {
			fprintf(out, "%s%s %llu", sep, sl_stat_name(i), (unsigned long long)s->c[i]);
			sep = ", ";
		}
	}
	fprintf(out, "%s; frames %llu/%llu returned\n", drops ? ")" : "",
		(unsigned long long)returned, (unsigned long long)fc->total);
}

int cmd_run(int argc, char **argv)
{
	const char *addr_s = NULL, *gw_s = NULL, *queue_s = NULL, *queues_s = NULL, *mode_s = NULL,
		   *dur_s = NULL, *pcap_s = NULL, *echo_s = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
		{"--addr", &addr_s, NULL},	{"--gw", &gw_s, NULL},
		{"--queue", &queue_s, NULL},	{"--queues", &queues_s, NULL},
		{"--mode", &mode_s, NULL},	{"--duration", &dur_s, NULL},
		{"--pcap", &pcap_s, NULL},	{"--udp-echo", &echo_s, NULL},
		{"--json", NULL, &json},	{NULL, NULL, NULL},
	};
	char *pos[1];
	int npos = 0;
	int r = cli_getopts("run", argc, argv, opts, pos, 1, &npos);
	if (r == CLI_HELP) {
		cmd_run_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (r < 0)
		return CLI_EXIT_USAGE;
	if (npos != 1)
		return cli_usage_err("run", "missing DEV");
	const char *dev = pos[0];
	if (!addr_s)
		return cli_usage_err("run", "missing --addr ADDR/LEN");

	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	int plen;
	if (cli_parse_prefix(addr_s, cfg.addrs[0].addr.b, &plen) < 0 ||
	    !cli_addr_is_v4(cfg.addrs[0].addr.b))
		return cli_usage_err("run", "malformed IPv4 address/prefix: %s", addr_s);
	cfg.addrs[0].prefix_len = (uint8_t)plen;
	cfg.n_addrs = 1;
	if (gw_s && (cli_parse_addr(gw_s, cfg.gateway.b) < 0 || !cli_addr_is_v4(cfg.gateway.b)))
		return cli_usage_err("run", "malformed gateway address: %s", gw_s);
	uint32_t queue = 0, nq = 1, duration = 0, echo_port = 0;
	if (queue_s && queues_s)
		return cli_usage_err("run", "--queue and --queues exclude each other");
	if (queue_s && cli_parse_u32(queue_s, MAX_QUEUES - 1, &queue) < 0)
		return cli_usage_err("run", "queue must be 0..%d: %s", MAX_QUEUES - 1, queue_s);
	if (queues_s && (cli_parse_u32(queues_s, MAX_QUEUES, &nq) < 0 || nq == 0))
		return cli_usage_err("run", "queues must be 1..%d: %s", MAX_QUEUES, queues_s);
	if (dur_s && cli_parse_u32(dur_s, 86400 * 365, &duration) < 0)
		return cli_usage_err("run", "malformed duration: %s", dur_s);
	if (echo_s && (cli_parse_u32(echo_s, 65535, &echo_port) < 0 || echo_port == 0))
		return cli_usage_err("run", "--udp-echo port must be 1..65535: %s", echo_s);
	enum sl_gate_mode mode = SL_GATE_MODE_AUTO;
	if (mode_s && !strcmp(mode_s, "native"))
		mode = SL_GATE_MODE_AUTO; /* native first, generic only if native is refused */
	else if (mode_s && !strcmp(mode_s, "generic"))
		mode = SL_GATE_MODE_GENERIC;
	else if (mode_s)
		return cli_usage_err("run", "mode must be native or generic: %s", mode_s);

	if (cli_check_dev(dev) < 0 || cli_need_root() < 0)
		return CLI_EXIT_FAIL;

	char addr_txt[64];
	cli_addr_str(cfg.addrs[0].addr.b, addr_txt, sizeof(addr_txt));
	int err, status = CLI_EXIT_FAIL;
	struct sl_gate *g = NULL;
	struct sl_neigh_share *share = NULL;
	struct sl_rule rule = {.kind = SL_RULE_OWNED, .queue = -1};
	bool rule_added = false;
	struct worker ws[MAX_QUEUES];
	memset(ws, 0, sizeof(ws));
	workers = ws;
	nworkers = nq;

	enum sl_gate_mode used = SL_GATE_MODE_NATIVE;
	err = sl_gate_attach(dev, mode, &used);
	if (err) {
		cli_err("cannot attach the gate to %s: %s", dev, sl_strerror(err));
		goto out;
	}
	err = sl_gate_open(dev, &g);
	if (err) {
		cli_err("cannot open the gate's maps for %s: %s", dev, sl_strerror(err));
		goto out;
	}
	if (nq > 1) {
		err = sl_neigh_share_new(cfg.arp_cache_size, &share);
		if (err)
			goto out;
		cfg.neigh_share = share;
	}
	for (unsigned i = 0; i < nq; i++) {
		struct worker *w = &ws[i];
		w->queue = queues_s ? i : queue;
		w->duration_ns = (uint64_t)duration * 1000000000ULL;
		struct sl_xsk_config xc = {.ifname = dev, .queue = w->queue,
					   .generic = used == SL_GATE_MODE_GENERIC};
		err = sl_dev_xsk_open(&xc, &w->dev);
		if (err) {
			cli_err("cannot open an AF_XDP socket on %s queue %u: %s", dev, w->queue,
				sl_strerror(err));
			goto out;
		}
		int xsk_fd = sl_dev_fd(w->dev);
		if (pcap_s) {
			char path[512];
			struct sl_dev *tap;
			if (nq > 1)
				snprintf(path, sizeof(path), "%s.q%u", pcap_s, w->queue);
			else
				snprintf(path, sizeof(path), "%s", pcap_s);
			err = sl_dev_pcap_open(w->dev, path, &tap);
			if (err) {
				cli_err("cannot write %s: %s", path, sl_strerror(err));
				goto out;
			}
			w->dev = tap;
		}
		cfg.seed = 0x5eed + w->queue;
		err = sl_stack_open(w->dev, &cfg, sl_now_ns(), &w->st);
		if (err) {
			cli_err("cannot start the stack: %s", sl_strerror(err));
			goto out;
		}
		if (echo_port && (err = sl_udp_listen(w->st, (int)echo_port, udp_echo, NULL)) < 0) {
			cli_err("cannot listen on UDP port %u: %s", echo_port, sl_strerror(err));
			goto out;
		}
		err = sl_gate_set_socket(g, w->queue, xsk_fd);
		if (err) {
			cli_err("cannot put the socket into the gate's XSKMAP: %s", sl_strerror(err));
			goto out;
		}
		if (sl_stats_path(dev, w->queue, w->stats_path, sizeof(w->stats_path)) == 0 &&
		    (mkdir_p(w->stats_path) < 0 ||
		     sl_stack_publish_stats(w->st, w->stats_path, dev, w->queue) < 0)) {
			fprintf(stderr, "sluice: warning: cannot publish counters at %s\n",
				w->stats_path);
			w->stats_path[0] = 0;
		}
	}
	memcpy(rule.addr, cfg.addrs[0].addr.b, 16);
	err = sl_gate_rule_add(g, &rule);
	if (err == -EEXIST) {
		/* Left behind by a run that was killed: adopt it, and remove it on exit. */
		struct sl_rule rules[256];
		int n = sl_gate_rule_list(g, rules, 256);
		for (int i = 0; i < n; i++)
			if (rules[i].kind == SL_RULE_OWNED && !memcmp(rules[i].addr, rule.addr, 16))
				rule.id = rules[i].id;
		err = rule.id ? 0 : -EEXIST;
	}
	if (err) {
		cli_err("cannot add the owned-address rule for %s: %s", addr_txt, sl_strerror(err));
		goto out;
	}
	rule_added = true;

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "sluice: serving %s on %s %s%u (%s XDP, %s mode)%s%s; %s\n", addr_s, dev,
		nq > 1 ? "queues 0.." : "queue ", nq > 1 ? nq - 1 : queue, ws[0].dev->mode,
		ws[0].dev->zero_copy ? "zero-copy" : "copy", echo_s ? ", UDP echo on port " : "",
		echo_s ? echo_s : "", duration ? "stops after --duration" : "Ctrl-C to stop");

	status = CLI_EXIT_OK;
	for (unsigned i = 0; i < nq; i++) {
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
			cli_err("cannot start the thread for queue %u", ws[i].queue);
			on_signal(0);
			status = CLI_EXIT_FAIL;
			break;
		}
		ws[i].started = true;
	}
	for (unsigned i = 0; i < nq; i++) {
		if (ws[i].started)
			pthread_join(ws[i].thread, NULL);
		if (ws[i].err) {
			cli_err("run loop on queue %u failed: %s", ws[i].queue,
				sl_strerror(ws[i].err));
			status = CLI_EXIT_FAIL;
		}
	}

out:
	if (rule_added && sl_gate_rule_del(g, rule.id) < 0)
		cli_err("could not remove flow %u", rule.id);
	struct sl_stats total = {0};
	struct sl_dev_counts fc = {0};
	bool all_open = true;
	for (unsigned i = 0; i < nq; i++) {
		struct worker *w = &ws[i];
		if (w->dev && g)
			sl_gate_set_socket(g, w->queue, -1);
		if (w->st) {
			w->final = *sl_stack_stats(w->st);
			sl_stack_close(w->st);
			for (unsigned k = 0; k < SL_STAT_N; k++)
				total.c[k] += w->final.c[k];
		} else {
			all_open = false;
		}
		if (w->stats_path[0])
			unlink(w->stats_path);
		if (w->dev) {
			sl_dev_close_counted(w->dev, &w->fc);
			fc.total += w->fc.total;
			fc.owner_errors += w->fc.owner_errors;
			for (int k = 0; k < SL_OWN_N; k++)
				fc.owner[k] += w->fc.owner[k];
		}
	}
	workers = NULL;
	nworkers = 0;
	if (g)
		sl_gate_close(g);
	sl_neigh_share_free(share);
	if (all_open && status == CLI_EXIT_OK) {
		print_summary(json ? stdout : stderr, json, dev, addr_txt, &total, &fc, nq);
		if (fc.owner[SL_OWN_FREE] != fc.total || fc.owner_errors) {
			cli_err("frame accounting failed: %llu of %llu frames returned, %llu owner "
				"errors",
				(unsigned long long)fc.owner[SL_OWN_FREE],
				(unsigned long long)fc.total, (unsigned long long)fc.owner_errors);
			status = CLI_EXIT_FAIL;
		}
	}
	return status;
}
