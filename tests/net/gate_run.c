// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drives the gate attached to DEV through BPF_PROG_TEST_RUN, for tests/net/test_gate6.sh
 * (tests/net/gate6.py writes the commands). Rules go in through the library
 * (sl_gate_rule_add), so its key encoding is tested too; frames are run through the very
 * program attached to DEV (found by bpf_xdp_query), so what is tested is what the verifier
 * accepted. The result of a frame is read back from the gate's own counters and the
 * per-rule packet counters: without a socket in the XSKMAP a match counts no_socket and
 * passes, so the rule counter is what says which rule, if any, matched.
 *
 *   gate_run DEV < commands
 *
 * Commands, one a line:
 *   owned NAME ADDR                               an owned address
 *   port NAME PROTO PORT ADDR|any                 a port rule (PROTO: a number)
 *   tuple NAME PROTO DADDR DPORT RADDR RPORT      a tuple rule (as received: R = remote)
 *   del NAME                                      delete the rule made as NAME
 *   frame NAME HEX [QUEUE]                        run a frame (RX queue QUEUE, default 0)
 *
 * Output, one JSON object a line: {"rule":NAME,"id":N} or {"rule":NAME,"error":"..."} for a
 * rule, {"frame":NAME,"ret":XDP_*,"counters":{name:delta,...},"matched":[NAME,...]} for a
 * frame (counters that did not move are left out).
 *
 *   cc -Iinclude -Ibpf tests/net/gate_run.c build/libsluice.a -lbpf -lelf -lz
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice/gate.h"
#include "gate_shared.h"

#define MAX_NAMED 128
#define MAX_FRAME 4096

struct named {
	char name[64];
	uint32_t id;
};

static struct named named[MAX_NAMED];
static int n_named;

static int parse_addr(const char *s, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (s[0] && s[1]) {
		int hi = hexval(s[0]), lo = hexval(s[1]);

		if (hi < 0 || lo < 0 || n == max)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return s[0] ? -EINVAL : (int)n;
}

static void rule_result(const char *name, int err, uint32_t id)
{
	if (err) {
		printf("{\"rule\":\"%s\",\"error\":\"%s\"}\n", name, strerror(-err));
		return;
	}
	if (n_named < MAX_NAMED) {
		snprintf(named[n_named].name, sizeof(named[n_named].name), "%s", name);
		named[n_named++].id = id;
	}
	printf("{\"rule\":\"%s\",\"id\":%" PRIu32 "}\n", name, id);
}

static int rule_cmd(struct sl_gate *g, char **tok, int ntok)
{
	struct sl_rule r = {.queue = -1};
	const char *kind = tok[0], *name = tok[1];
	int err = -EINVAL;

	if (!strcmp(kind, "owned") && ntok == 3) {
		r.kind = SL_RULE_OWNED;
		err = parse_addr(tok[2], r.addr);
	} else if (!strcmp(kind, "port") && ntok == 5) {
		r.kind = SL_RULE_PORT;
		r.proto = (uint8_t)atoi(tok[2]);
		r.port = (uint16_t)atoi(tok[3]);
		r.has_addr = strcmp(tok[4], "any") != 0;
		err = r.has_addr ? parse_addr(tok[4], r.addr) : 0;
	} else if (!strcmp(kind, "tuple") && ntok == 7) {
		r.kind = SL_RULE_TUPLE;
		r.proto = (uint8_t)atoi(tok[2]);
		r.has_addr = true;
		r.port = (uint16_t)atoi(tok[4]);
		r.rport = (uint16_t)atoi(tok[6]);
		err = parse_addr(tok[3], r.addr);
		if (!err)
			err = parse_addr(tok[5], r.raddr);
	}
	if (!err)
		err = sl_gate_rule_add(g, &r);
	rule_result(name, err, r.id);
	return 0;
}

static int del_cmd(struct sl_gate *g, const char *name)
{
	for (int i = 0; i < n_named; i++) {
		if (strcmp(named[i].name, name))
			continue;
		int err = sl_gate_rule_del(g, named[i].id);
		printf("{\"del\":\"%s\",\"result\":%d}\n", name, err);
		return 0;
	}
	printf("{\"del\":\"%s\",\"error\":\"unknown rule\"}\n", name);
	return 0;
}

/* Packets counted per rule id right now. */
static int rule_packets(struct sl_gate *g, uint64_t *pk)
{
	static struct sl_rule rules[SL_GATE_MAX_RULES];
	int n = sl_gate_rule_list(g, rules, SL_GATE_MAX_RULES);

	if (n < 0)
		return n;
	memset(pk, 0, sizeof(uint64_t) * SL_GATE_MAX_RULES);
	for (int i = 0; i < n; i++)
		if (rules[i].id < SL_GATE_MAX_RULES)
			pk[rules[i].id] = rules[i].packets;
	return 0;
}

static const char *xdp_name(uint32_t ret)
{
	switch (ret) {
	case XDP_ABORTED:
		return "XDP_ABORTED";
	case XDP_DROP:
		return "XDP_DROP";
	case XDP_PASS:
		return "XDP_PASS";
	case XDP_TX:
		return "XDP_TX";
	case XDP_REDIRECT:
		return "XDP_REDIRECT";
	}
	return "?";
}

static int frame_cmd(struct sl_gate *g, int prog_fd, int ifindex, char **tok, int ntok)
{
	static uint8_t frame[MAX_FRAME], out[MAX_FRAME + 256];
	static uint64_t pk0[SL_GATE_MAX_RULES], pk1[SL_GATE_MAX_RULES];
	uint64_t c0[SL_GATE_N_COUNTERS], c1[SL_GATE_N_COUNTERS];
	struct xdp_md ctx = {0};
	int len, err, first = 1;

	if (ntok < 3 || (len = parse_hex(tok[2], frame, sizeof(frame))) < 14) {
		printf("{\"frame\":\"%s\",\"error\":\"bad frame\"}\n", tok[1]);
		return 0;
	}
	ctx.data_end = (uint32_t)len;
	ctx.ingress_ifindex = (uint32_t)ifindex;
	ctx.rx_queue_index = ntok > 3 ? (uint32_t)atoi(tok[3]) : 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	err = sl_gate_counters(g, c0, SL_GATE_N_COUNTERS);
	if (!err)
		err = rule_packets(g, pk0);
	if (!err)
		err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (!err)
		err = sl_gate_counters(g, c1, SL_GATE_N_COUNTERS);
	if (!err)
		err = rule_packets(g, pk1);
	if (err) {
		printf("{\"frame\":\"%s\",\"error\":\"%s\"}\n", tok[1], strerror(-err));
		return 0;
	}
	printf("{\"frame\":\"%s\",\"ret\":\"%s\",\"counters\":{", tok[1], xdp_name(opts.retval));
	for (unsigned i = 0; i < SL_GATE_N_COUNTERS; i++) {
		if (c1[i] == c0[i])
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",", sl_gate_counter_name(i),
		       c1[i] - c0[i]);
		first = 0;
	}
	printf("},\"matched\":[");
	first = 1;
	for (int id = 1; id < SL_GATE_MAX_RULES; id++) {
		if (pk1[id] == pk0[id])
			continue;
		const char *nm = "?";
		for (int i = n_named - 1; i >= 0; i--)
			if (named[i].id == (uint32_t)id) {
				nm = named[i].name;
				break;
			}
		printf("%s\"%s\"", first ? "" : ",", nm);
		first = 0;
	}
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct sl_gate *g;
	char line[3 * MAX_FRAME];
	int ifindex, prog_fd, err;
	uint32_t prog_id;

	if (argc != 2) {
		fprintf(stderr, "usage: gate_run DEV < commands\n");
		return 2;
	}
	ifindex = (int)if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "gate_run: no device %s\n", argv[1]);
		return 1;
	}
	err = sl_gate_open(argv[1], &g);
	if (err) {
		fprintf(stderr, "gate_run: cannot open the gate on %s: %s\n", argv[1],
			strerror(-err));
		return 1;
	}
	err = bpf_xdp_query(ifindex, 0, &q);
	prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (err || !prog_id) {
		fprintf(stderr, "gate_run: no XDP program on %s\n", argv[1]);
		return 1;
	}
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0) {
		fprintf(stderr, "gate_run: program %u: %s\n", prog_id, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *tok[8], *save = NULL, *t;
		int ntok = 0;

		for (t = strtok_r(line, " \t\n", &save); t && ntok < 8;
		     t = strtok_r(NULL, " \t\n", &save))
			tok[ntok++] = t;
		if (ntok == 0 || tok[0][0] == '#')
			continue;
		if (!strcmp(tok[0], "frame"))
			frame_cmd(g, prog_fd, ifindex, tok, ntok);
		else if (!strcmp(tok[0], "del") && ntok == 2)
			del_cmd(g, tok[1]);
		else if (ntok >= 2)
			rule_cmd(g, tok, ntok);
		else
			printf("{\"error\":\"bad command %s\"}\n", tok[0]);
		fflush(stdout);
	}
	close(prog_fd);
	sl_gate_close(g);
	return 0;
}
