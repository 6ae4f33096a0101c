/*
 * Secrets and keyed hashes (issue 9, item 5), white-box on real stacks over the pipe device:
 *
 *   RFC 6528 §3   the ISN's F() needs a secret key an attacker cannot guess: it comes from
 *                 getrandom(2), not from the seeded simulation generator (cfg.seed is for
 *                 replaying simulations, and `sluice run` users may leave it alone);
 *   RFC 4987 §3.6 the same for the SYN-cookie secret; RFC 7323 §5.4 for the timestamp offsets;
 *   RFC 6056 §3.3.4 for the ephemeral-port keys and table;
 *   the connection table and the neighbour cache hash with a random key, so a peer that knows
 *   the hash function cannot pick tuples (or addresses) that all land in one bucket.
 *
 * sl_stack_config.deterministic_secrets derives every one of them from cfg.seed instead, for
 * the simulations and tests that must replay.
 */
#include "unit/pipenet.h"
#include "iface/stack.h"
#include "proto/tcp.h"
#include "wire/arp.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define MS 1000000ULL

struct two {
	struct sl_dev *da, *db, *dc, *dd;
	struct sl_stack *a, *b;
};

static void open_two(struct two *t, const struct sl_stack_config *ca,
		     const struct sl_stack_config *cb)
{
	memset(t, 0, sizeof *t);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &t->da, &t->db), 0);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &t->dc, &t->dd), 0);
	assert_int_equal(sl_stack_open(t->da, ca, 1000 * MS, &t->a), 0);
	assert_int_equal(sl_stack_open(t->dc, cb, 1000 * MS, &t->b), 0);
}

static void close_two(struct two *t)
{
	sl_stack_close(t->a);
	sl_stack_close(t->b);
	pn_close_counted(t->da, t->db);
	pn_close_counted(t->dc, t->dd);
}

/* The stack's configuration as `sluice run` or an application gets it: the defaults, one
 * address, and a seed (the same for both stacks). */
static void default_cfg(struct sl_stack_config *c, uint64_t seed)
{
	sl_stack_config_init(c);
	c->addrs[0].addr = sl_ip_v4(PN_IP_A);
	c->addrs[0].prefix_len = 24;
	c->n_addrs = 1;
	c->seed = seed;
}

static uint32_t isn_of(struct sl_stack *st)
{
	sl_ip l = sl_ip_v4(PN_IP_A), r = sl_ip_v4(PN_IP_B);
	return sl_tcp_isn(st, &l, 80, &r, 40000);
}

/* The ISN of the SYN a stack sends when it connects: what a peer sees. The peer end answers
 * the stack's ARP request so the SYN leaves. */
static uint32_t syn_isn(struct sl_stack *st, struct sl_dev *peer)
{
	static const struct sl_tcp_callbacks no_cb;
	sl_ip r = sl_ip_v4(PN_IP_B);
	struct sl_tcp_flow *f = NULL;
	assert_int_equal(sl_tcp_connect(st, &r, 80, NULL, &no_cb, NULL, &f), 0);
	uint32_t isn = 0;
	bool seen = false;
	for (uint64_t now = 1000 * MS; now < 1010 * MS && !seen; now += MS) {
		sl_stack_poll(st, now);
		struct sl_frame fr[SL_RX_BATCH];
		int n = peer->ops->rx(peer, fr, SL_RX_BATCH, now);
		for (int i = 0; i < n; i++) {
			const uint8_t *p = fr[i].data;
			const uint8_t *l3 = p + SL_ETH_HLEN;
			size_t len = fr[i].len - SL_ETH_HLEN;
			if (sl_eth_type(p) == SL_ETH_P_ARP && sl_arp_check(l3, len) == 0 &&
			    sl_arp_op(l3) == 1 && sl_arp_tpa(l3) == PN_IP_B) {
				struct sl_frame rep;
				assert_int_equal(peer->ops->alloc(peer, &rep), 0);
				sl_eth_emit(rep.data, sl_arp_sha(l3), peer->mac, SL_ETH_P_ARP);
				sl_arp_emit(rep.data + SL_ETH_HLEN, 2, peer->mac, PN_IP_B,
					    sl_arp_sha(l3), sl_arp_spa(l3));
				rep.len = SL_ETH_HLEN + SL_ARP_LEN;
				assert_int_equal(peer->ops->tx(peer, &rep), 0);
				peer->ops->flush(peer, now);
			} else if (sl_eth_type(p) == SL_ETH_P_IPV4 && sl_ipv4_check(l3, len) == 0 &&
				   sl_ipv4_proto(l3) == 6) {
				const uint8_t *tcp = l3 + sl_ipv4_hlen(l3);
				if (sl_tcp_flags(tcp) & SL_TCP_SYN) {
					isn = sl_tcp_seq(tcp);
					seen = true;
				}
			}
			peer->ops->release(peer, &fr[i]);
		}
	}
	assert_true(seen);
	sl_tcp_abort(f);
	return isn;
}

static void down(struct sl_stack *st, struct sl_dev *da, struct sl_dev *db)
{
	sl_stack_close(st);
	pn_close_counted(da, db);
}

/* RFC 6528 §3: two stacks given the same seed (the default one, or any an operator or a test
 * picks) by the default configuration share no secret: not one key is equal, and the SYNs they
 * send for the same connection carry unrelated ISNs. */
static void test_secrets_default_not_from_seed(void **state)
{
	struct sl_stack_config c;
	default_cfg(&c, 0x5eed);
	struct two t;
	open_two(&t, &c, &c);
	const struct sl_tcp *x = &t.a->tcp, *y = &t.b->tcp;
	assert_memory_not_equal(x->isn_key, y->isn_key, 16);
	assert_memory_not_equal(x->cookie_key, y->cookie_key, 16);
	assert_memory_not_equal(x->ts_key, y->ts_key, 16);
	assert_memory_not_equal(x->port_key, y->port_key, 16);
	assert_memory_not_equal(x->port_table, y->port_table, sizeof x->port_table);
	assert_memory_not_equal(x->hash_key, y->hash_key, 16);
	assert_memory_not_equal(t.a->arp.key, t.b->arp.key, 16);
	assert_int_not_equal(isn_of(t.a), isn_of(t.b));
	assert_int_not_equal(syn_isn(t.a, t.db), syn_isn(t.b, t.dd));
	close_two(&t);
}

/* Nor do the secrets follow from the seed in any other way: a stack whose secrets were drawn
 * from cfg.seed would give equal keys for equal seeds; here many stacks with one seed give
 * as many different ISN keys. */
static void test_secrets_default_all_differ(void **state)
{
	enum { N = 8 };
	struct sl_stack_config c;
	default_cfg(&c, 1);
	uint8_t keys[N][16];
	for (int i = 0; i < N; i++) {
		struct sl_dev *da, *db;
		struct sl_stack *st;
		assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &da, &db), 0);
		assert_int_equal(sl_stack_open(da, &c, 1000 * MS, &st), 0);
		memcpy(keys[i], st->tcp.isn_key, 16);
		down(st, da, db);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_memory_not_equal(keys[i], keys[j], 16);
}

/* cfg.deterministic_secrets: the same seed gives the same secrets (the simulations replay,
 * SYN for SYN), another seed other ones; and drawing them leaves the simulation generator
 * where it was, so turning the knob changes no other random decision. */
static void test_secrets_deterministic_replay(void **state)
{
	struct sl_stack_config c;
	default_cfg(&c, 0x5eed);
	c.deterministic_secrets = true;
	struct two t;
	open_two(&t, &c, &c);
	const struct sl_tcp *x = &t.a->tcp, *y = &t.b->tcp;
	assert_memory_equal(x->isn_key, y->isn_key, 16);
	assert_memory_equal(x->cookie_key, y->cookie_key, 16);
	assert_memory_equal(x->ts_key, y->ts_key, 16);
	assert_memory_equal(x->port_key, y->port_key, 16);
	assert_memory_equal(x->hash_key, y->hash_key, 16);
	assert_memory_equal(x->port_table, y->port_table, sizeof x->port_table);
	assert_memory_equal(t.a->arp.key, t.b->arp.key, 16);
	assert_int_equal(t.a->udp.next_ephemeral, t.b->udp.next_ephemeral);
	assert_int_equal(isn_of(t.a), isn_of(t.b));
	assert_int_equal(syn_isn(t.a, t.db), syn_isn(t.b, t.dd));
	close_two(&t);

	struct sl_stack_config d = c;
	d.seed = 0x5eee;
	open_two(&t, &c, &d);
	assert_memory_not_equal(t.a->tcp.isn_key, t.b->tcp.isn_key, 16);
	assert_memory_not_equal(t.a->tcp.cookie_key, t.b->tcp.cookie_key, 16);
	assert_int_not_equal(isn_of(t.a), isn_of(t.b));
	close_two(&t);

	d = c;
	d.deterministic_secrets = false;
	open_two(&t, &c, &d);
	assert_memory_equal(&t.a->rng, &t.b->rng, sizeof t.a->rng);
	assert_memory_not_equal(t.a->tcp.isn_key, t.b->tcp.isn_key, 16);
	close_two(&t);
}

/* Old unkeyed hash of the connection table (user/proto/tcp.c before issue 9), for crafting
 * tuples that collide under it. */
static uint32_t fold_ip(const sl_ip *a)
{
	uint32_t w[4];
	memcpy(w, a->b, 16);
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

static uint32_t old_bucket(uint32_t nbuckets, const sl_ip *laddr, uint16_t lport,
			   const sl_ip *raddr, uint16_t rport)
{
	uint32_t h = fold_ip(raddr) * 2654435761u ^ ((uint32_t)rport << 16 | lport) * 2246822519u ^
		     fold_ip(laddr) * 3266489917u;
	h ^= h >> 15;
	return h & (nbuckets - 1);
}

static unsigned longest_chain(const struct sl_tcp *t)
{
	unsigned best = 0;
	for (uint32_t b = 0; b < t->nbuckets; b++) {
		unsigned n = 0;
		for (const struct sl_tcb *c = t->table[b]; c; c = c->hnext)
			n++;
		if (n > best)
			best = n;
	}
	return best;
}

/* A peer that knows the table's hash picks source ports (one source address, one listener)
 * that all fall into one bucket, and every lookup walks the whole chain. With a keyed hash,
 * the 100 tuples that collide under the old function spread like any others (a chain of 16
 * among 1024 buckets has a probability below 10^-26). */
static void test_conn_table_hash_keyed(void **state)
{
	enum { N = 100 };
	struct sl_stack_config c;
	default_cfg(&c, 0x5eed);
	c.tcp_max_conns = 1024;
	struct sl_dev *da, *db;
	struct sl_stack *st;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &da, &db), 0);
	assert_int_equal(sl_stack_open(da, &c, 1000 * MS, &st), 0);
	assert_int_equal(st->tcp.nbuckets, 1024);
	sl_ip l = sl_ip_v4(PN_IP_A), r = sl_ip_v4(PN_IP_B);
	unsigned made = 0;
	uint32_t target = old_bucket(1024, &l, 80, &r, 1024);
	for (uint32_t port = 1024; port < 65536 && made < N; port++) {
		if (old_bucket(1024, &l, 80, &r, (uint16_t)port) != target)
			continue;
		assert_non_null(sl_tcb_new(st, &l, 80, &r, (uint16_t)port));
		made++;
	}
	assert_int_equal(made, N);
	unsigned chain = longest_chain(&st->tcp);
	print_message("longest chain: %u of %u crafted connections\n", chain, N);
	assert_true(chain < 16);
	/* Every one is still found. */
	unsigned found = 0;
	for (uint32_t port = 1024; port < 65536; port++)
		if (old_bucket(1024, &l, 80, &r, (uint16_t)port) == target)
			found += sl_tcp_lookup(st, &l, 80, &r, (uint16_t)port) != NULL;
	assert_int_equal(found, N);
	down(st, da, db);
}

/* Old unkeyed hash of the neighbour cache (user/proto/arp.c before issue 9). */
static uint32_t old_hash_ip(const sl_ip *ip, uint32_t nbuckets)
{
	uint32_t w[4];
	memcpy(w, ip->b, 16);
	return ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 2654435761u) >> 7 & (nbuckets - 1);
}

static unsigned longest_arp_chain(const struct sl_arp *a)
{
	unsigned best = 0;
	for (uint32_t b = 0; b < a->nbuckets; b++) {
		unsigned n = 0;
		for (int32_t i = a->bucket[b]; i >= 0; i = a->e[i].next)
			n++;
		if (n > best)
			best = n;
	}
	return best;
}

/* The same for the neighbour cache: on-link addresses (a /16 gives an attacker 65 534 to
 * choose from) that collide under the old hash spread once the hash is keyed (a chain of 16
 * among 256 buckets: probability below 10^-16). */
static void test_neigh_cache_hash_keyed(void **state)
{
	enum { N = 128 };
	struct sl_stack_config c;
	default_cfg(&c, 0x5eed);
	c.addrs[0].prefix_len = 16;
	c.arp_cache_size = 256;
	struct sl_dev *da, *db;
	struct sl_stack *st;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &da, &db), 0);
	assert_int_equal(sl_stack_open(da, &c, 1000 * MS, &st), 0);
	uint32_t nb = st->arp.nbuckets;
	sl_ip first = sl_ip_v4((PN_IP_A & 0xffff0000u) | 2);
	uint32_t target = old_hash_ip(&first, nb);
	unsigned made = 0;
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 9};
	for (uint32_t h = 2; h < 0xffff && made < N; h++) {
		sl_ip ip = sl_ip_v4((PN_IP_A & 0xffff0000u) | h);
		if (ip.b[15] == 1 || old_hash_ip(&ip, nb) != target)
			continue;
		sl_neigh_learn(st, &ip, mac, true, true);
		assert_non_null(sl_neigh_lookup(st, &ip));
		made++;
	}
	assert_int_equal(made, N);
	unsigned chain = longest_arp_chain(&st->arp);
	print_message("longest chain: %u of %u crafted neighbours in %u buckets\n", chain, N, nb);
	assert_true(chain < 16);
	down(st, da, db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secrets_default_not_from_seed),
	    cmocka_unit_test(test_secrets_default_all_differ),
	    cmocka_unit_test(test_secrets_deterministic_replay),
	    cmocka_unit_test(test_conn_table_hash_keyed),
	    cmocka_unit_test(test_neigh_cache_hash_keyed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
