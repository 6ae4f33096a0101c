// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The gate's rules: an sl_rule encoded as the key of one of its three maps (owned, port,
 * tuple; docs/gate.md), ids allocated lowest-free under the rules lock, per-rule counters
 * reset on add, listing with counters; sl_conf's count of tuples with a home, recounted under
 * the lock whenever a tuple rule comes or goes.
 */
#include "gate_int.h"

static bool addr_zero(const uint8_t a[16])
{
	static const uint8_t z[16];

	return !memcmp(a, z, 16);
}

/* ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) */
static bool addr_v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pfx, 12);
}

union rule_key {
	struct sl_gate_owned_key owned;
	struct sl_gate_port_key port;
	struct sl_gate_tuple_key tuple;
};

/* A rule map's value: sl_tuples' is the longer one (8 bytes only in gates built before
 * homes, which the kernel then reads and writes; the rest stays zero: no home). */
union rule_val {
	struct sl_gate_rule r;
	struct sl_gate_tuple_rule t;
};

static bool proto_ports_ok(uint8_t proto, uint16_t port)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		return port != 0;
	/* ICMP and ICMPv6 have no ports: the gate matches them with port 0. */
	return (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && port == 0;
}

/* ICMP travels only in IPv4 and ICMPv6 only in IPv6: a rule mixing them could never match. */
static bool proto_family_ok(uint8_t proto, const uint8_t a[16])
{
	if (proto == IPPROTO_ICMP)
		return addr_v4mapped(a);
	if (proto == IPPROTO_ICMPV6)
		return !addr_v4mapped(a);
	return true;
}

/* Translate a rule into its map and key; -EINVAL for rules the gate could never match. */
static int rule_to_key(const struct sl_rule *r, enum gate_map *m, union rule_key *k)
{
	memset(k, 0, sizeof(*k));
	if (r->queue < -1 || r->queue >= SL_GATE_MAX_QUEUES)
		return -EINVAL;
	switch (r->kind) {
	case SL_RULE_OWNED:
		if (addr_zero(r->addr))
			return -EINVAL;
		memcpy(k->owned.addr, r->addr, 16);
		*m = M_OWNED;
		return 0;
	case SL_RULE_PORT:
		if (!proto_ports_ok(r->proto, r->port))
			return -EINVAL;
		/* An address-less port rule (all-zero key) matches IPv4 and IPv6 alike. */
		if (r->has_addr && (addr_zero(r->addr) || !proto_family_ok(r->proto, r->addr)))
			return -EINVAL;
		k->port.proto = r->proto;
		k->port.port = htons(r->port);
		if (r->has_addr)
			memcpy(k->port.addr, r->addr, 16);
		*m = M_PORTS;
		return 0;
	case SL_RULE_TUPLE:
		if (!proto_ports_ok(r->proto, r->port) || !proto_ports_ok(r->proto, r->rport))
			return -EINVAL;
		if (r->has_home && r->home >= SL_GATE_MAX_QUEUES)
			return -EINVAL;
		if (addr_zero(r->addr) || addr_zero(r->raddr) ||
		    !proto_family_ok(r->proto, r->addr))
			return -EINVAL;
		/* Both ends of a packet are of one family. */
		if (addr_v4mapped(r->addr) != addr_v4mapped(r->raddr))
			return -EAFNOSUPPORT;
		k->tuple.proto = r->proto;
		k->tuple.sport = htons(r->rport);
		k->tuple.dport = htons(r->port);
		memcpy(k->tuple.saddr, r->raddr, 16);
		memcpy(k->tuple.daddr, r->addr, 16);
		*m = M_TUPLES;
		return 0;
	}
	return -EINVAL;
}

static void key_to_rule(enum gate_map m, const union rule_key *k, const union rule_val *v,
			struct sl_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->id = v->r.id;
	r->queue = v->r.queue;
	switch (m) {
	case M_OWNED:
		r->kind = SL_RULE_OWNED;
		memcpy(r->addr, k->owned.addr, 16);
		break;
	case M_PORTS:
		r->kind = SL_RULE_PORT;
		r->proto = k->port.proto;
		r->port = ntohs(k->port.port);
		r->has_addr = !addr_zero(k->port.addr);
		memcpy(r->addr, k->port.addr, 16);
		break;
	default:
		r->kind = SL_RULE_TUPLE;
		r->proto = k->tuple.proto;
		r->has_addr = true;
		r->port = ntohs(k->tuple.dport);
		r->rport = ntohs(k->tuple.sport);
		memcpy(r->addr, k->tuple.daddr, 16);
		memcpy(r->raddr, k->tuple.saddr, 16);
		r->has_home = v->t.home != 0;
		r->home = v->t.home ? v->t.home - 1 : 0;
		break;
	}
}

typedef int (*rule_fn)(void *ctx, enum gate_map m, const union rule_key *k,
		       const union rule_val *v);

/* Call fn for every rule in the three rule maps; a non-zero return stops the walk. */
static int for_each_rule(struct sl_gate *g, rule_fn fn, void *ctx)
{
	static const enum gate_map maps[] = {M_OWNED, M_PORTS, M_TUPLES};
	union rule_key key, next;
	union rule_val v;
	unsigned i;
	int err;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		int fd = g->fd[maps[i]];
		const void *prev = NULL;

		for (;;) {
			err = bpf_map_get_next_key(fd, prev, &next);
			if (err == -ENOENT)
				break;
			if (err)
				return err;
			key = next;
			prev = &key;
			/* Deleted between the two calls: skip it. */
			memset(&v, 0, sizeof(v));
			if (bpf_map_lookup_elem(fd, &key, &v))
				continue;
			err = fn(ctx, maps[i], &key, &v);
			if (err)
				return err;
		}
	}
	return 0;
}

static int mark_id(void *ctx, enum gate_map m, const union rule_key *k, const union rule_val *v)
{
	uint8_t *used = ctx;

	if (v->r.id < SL_GATE_MAX_RULES)
		used[v->r.id / 8] |= 1u << (v->r.id % 8);
	return 0;
}

static int count_home(void *ctx, enum gate_map m, const union rule_key *k, const union rule_val *v)
{
	if (m == M_TUPLES && v->t.home)
		(*(uint32_t *)ctx)++;
	return 0;
}

int sl_gate_has_homes(struct sl_gate *g)
{
	return g->fd[M_CONF] >= 0 && g->tuple_vsize >= sizeof(struct sl_gate_tuple_rule);
}

/* sl_conf[0].homes = the tuple rules with a home, counted now (called under the rules lock
 * after a tuple rule changed, so a crash between two changes cannot leave it wrong for long). */
static int update_homes(struct sl_gate *g)
{
	struct sl_gate_conf c = {0};
	uint32_t k = 0;
	int err;

	if (g->fd[M_CONF] < 0)
		return 0;
	err = for_each_rule(g, count_home, &c.homes);
	if (!err)
		err = bpf_map_update_elem(g->fd[M_CONF], &k, &c, BPF_ANY);
	return err;
}

static int zero_rule_stats(struct sl_gate *g, uint32_t id)
{
	struct sl_gate_rule_stats *z;
	int err;

	z = calloc(g->ncpus, sizeof(*z));
	if (!z)
		return -ENOMEM;
	err = bpf_map_update_elem(g->fd[M_RULE_STATS], &id, z, BPF_ANY);
	free(z);
	return err;
}

int sl_gate_rule_add(struct sl_gate *g, struct sl_rule *r)
{
	uint8_t used[SL_GATE_MAX_RULES / 8] = {0};
	union rule_val v;
	union rule_key key;
	enum gate_map m;
	uint32_t id;
	int err;

	err = rule_to_key(r, &m, &key);
	if (err)
		return err;
	if (r->kind == SL_RULE_TUPLE && r->has_home && !sl_gate_has_homes(g))
		return -EOPNOTSUPP;
	if (g->lock_fd >= 0 && flock(g->lock_fd, LOCK_EX))
		return -errno;
	err = for_each_rule(g, mark_id, used);
	if (err)
		goto out;
	/* Lowest free id; 0 is never used so that "id 0" can mean "none". */
	for (id = 1; id < SL_GATE_MAX_RULES; id++)
		if (!(used[id / 8] & (1u << (id % 8))))
			break;
	if (id == SL_GATE_MAX_RULES) {
		err = -ENOSPC;
		goto out;
	}
	err = zero_rule_stats(g, id);
	if (err)
		goto out;
	memset(&v, 0, sizeof(v));
	v.r.id = id;
	v.r.queue = r->queue;
	if (m == M_TUPLES && r->has_home)
		v.t.home = r->home + 1;
	err = bpf_map_update_elem(g->fd[m], &key, &v, BPF_NOEXIST);
	if (err == -E2BIG)
		err = -ENOSPC; /* the hash map is full */
	if (!err)
		r->id = id;
	if (!err && m == M_TUPLES && r->has_home) {
		err = update_homes(g);
		if (err)
			bpf_map_delete_elem(g->fd[m], &key);
	}
out:
	if (g->lock_fd >= 0)
		flock(g->lock_fd, LOCK_UN);
	return err;
}

struct find_ctx {
	uint32_t id;
	enum gate_map m;
	union rule_key key;
};

static int find_id(void *ctx, enum gate_map m, const union rule_key *k, const union rule_val *v)
{
	struct find_ctx *f = ctx;

	if (v->r.id != f->id)
		return 0;
	f->m = m;
	f->key = *k;
	return 1;
}

int sl_gate_rule_del(struct sl_gate *g, uint32_t id)
{
	struct find_ctx f = {.id = id};
	int err;

	if (id == 0 || id >= SL_GATE_MAX_RULES)
		return -ENOENT;
	if (g->lock_fd >= 0 && flock(g->lock_fd, LOCK_EX))
		return -errno;
	err = for_each_rule(g, find_id, &f);
	if (err == 1)
		err = bpf_map_delete_elem(g->fd[f.m], &f.key);
	else if (err == 0)
		err = -ENOENT;
	if (!err && f.m == M_TUPLES)
		err = update_homes(g);
	if (g->lock_fd >= 0)
		flock(g->lock_fd, LOCK_UN);
	return err;
}

struct list_ctx {
	struct sl_rule *rules;
	int n, cap;
};

static int collect(void *ctx, enum gate_map m, const union rule_key *k, const union rule_val *v)
{
	struct list_ctx *l = ctx;

	if (l->n == l->cap)
		return -E2BIG; /* more rules than ids: the maps were edited by someone else */
	key_to_rule(m, k, v, &l->rules[l->n++]);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct sl_rule *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int rule_counters(struct sl_gate *g, struct sl_rule *r)
{
	struct sl_gate_rule_stats *s;
	int err, c;

	s = calloc(g->ncpus, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = bpf_map_lookup_elem(g->fd[M_RULE_STATS], &r->id, s);
	for (c = 0; !err && c < g->ncpus; c++) {
		r->packets += s[c].packets;
		r->bytes += s[c].bytes;
	}
	free(s);
	return err;
}

int sl_gate_rule_list(struct sl_gate *g, struct sl_rule *rules, int max)
{
	struct list_ctx l = {.cap = SL_GATE_MAX_OWNED + 2 * SL_GATE_MAX_RULES};
	int err, i, n;

	if (max < 0)
		return -EINVAL;
	l.rules = calloc(l.cap, sizeof(*l.rules));
	if (!l.rules)
		return -ENOMEM;
	if (g->lock_fd >= 0 && flock(g->lock_fd, LOCK_SH)) {
		err = -errno;
		goto out;
	}
	err = for_each_rule(g, collect, &l);
	if (g->lock_fd >= 0)
		flock(g->lock_fd, LOCK_UN);
	if (err)
		goto out;
	qsort(l.rules, l.n, sizeof(*l.rules), by_id);
	n = l.n < max ? l.n : max;
	for (i = 0; i < n; i++) {
		err = rule_counters(g, &l.rules[i]);
		if (err)
			goto out;
		rules[i] = l.rules[i];
	}
	err = n;
out:
	free(l.rules);
	return err;
}
