/*
 * IPv4 reassembly (RFC 791 §3.2) against hostile and awkward fragments. One stack over the
 * pipe device; the other end is driven by hand: every fragment is crafted here, written on
 * the peer end, and everything the stack sends back is read there (ARP requests for the
 * peer's addresses are answered, the rest is kept for inspection). Time is simulated.
 *
 * Reassembled datagrams are checked byte for byte through a UDP listener; ICMP echo is
 * used where the stack's answer matters (time exceeded, "still answers ping").
 */
#include <errno.h>
#include "unit/pipenet.h"
#include "unit/wireutil.h"

#define MS 1000000ULL
#define SEC (1000 * MS)

#define IP_PEER 0x0a090001u  /* 10.9.0.1: the hand-driven end */
#define IP_PEER2 0x0a090005u /* 10.9.0.5: a second source on the same end */
#define IP_ST 0x0a090002u    /* 10.9.0.2: the stack under test */
#define IP_BCAST 0x0a0900ffu
#define PORT 9999

#define MAX_CAP 256

struct captured {
	uint8_t b[1514];
	uint32_t len;
};

struct rec {
	unsigned count;
	struct sl_udp_meta m;
	size_t len;
	uint8_t data[65536];
};

struct fx {
	struct sl_dev *peer, *dev;
	struct sl_stack *st;
	uint64_t now;
	struct captured cap[MAX_CAP];
	unsigned ncap;	   /* frames kept (beyond MAX_CAP: counted only) */
	unsigned arp_reqs; /* ARP requests from the stack that were answered */
	struct rec rec;
};

typedef void (*cfg_fn)(struct sl_stack_config *c);

static uint64_t stat(struct fx *x, enum sl_stat s)
{
	return sl_stack_stats(x->st)->c[s];
}

/* --- bytes ---------------------------------------------------------------------------------- */

static uint8_t pat(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;
	return (uint8_t)(x ^ x >> 13 ^ i >> 8);
}

/* A UDP datagram (header + len payload bytes from pat(seed)) from src to the stack, with its
 * checksum; returns its transport length. */
static size_t make_udp(uint8_t *out, uint32_t src, uint16_t dport, uint32_t seed, size_t len)
{
	put16(out, 5555);
	put16(out + 2, dport);
	put16(out + 4, (uint16_t)(8 + len));
	put16(out + 6, 0);
	for (size_t i = 0; i < len; i++)
		out[8 + i] = pat(seed, i);
	uint8_t ph[12];
	put32(ph, src);
	put32(ph + 4, IP_ST);
	ph[8] = 0, ph[9] = 17;
	put16(ph + 10, (uint16_t)(8 + len));
	uint16_t c = (uint16_t)~csum16(out, 8 + len, csum16(ph, 12, 0));
	put16(out + 6, c ? c : 0xffff);
	return 8 + len;
}

/* An ICMP echo request with len payload bytes; returns its length. */
static size_t make_echo(uint8_t *out, uint16_t seq, uint32_t seed, size_t len)
{
	out[0] = 8, out[1] = 0;
	put16(out + 2, 0);
	put16(out + 4, 0x1234);
	put16(out + 6, seq);
	for (size_t i = 0; i < len; i++)
		out[8 + i] = pat(seed, i);
	put16(out + 2, (uint16_t)~csum16(out, 8 + len, 0));
	return 8 + len;
}

/* --- the hand-driven end ------------------------------------------------------------------- */

static void peer_send(struct fx *x, const uint8_t *fr, size_t len)
{
	struct sl_frame f;
	assert_true(len <= 1514);
	assert_int_equal(x->peer->ops->alloc(x->peer, &f), 0);
	memcpy(f.data, fr, len);
	f.len = (uint32_t)len;
	assert_int_equal(x->peer->ops->tx(x->peer, &f), 0);
	x->peer->ops->flush(x->peer, x->now);
}

static void answer_arp(struct fx *x, const uint8_t *req)
{
	const uint8_t *a = req + 14;
	uint8_t fr[42];
	memcpy(fr, req + 6, 6);
	memcpy(fr + 6, x->peer->mac, 6);
	put16(fr + 12, 0x0806);
	uint8_t *r = fr + 14;
	put16(r, 1);
	put16(r + 2, 0x0800);
	r[4] = 6, r[5] = 4;
	put16(r + 6, 2);
	memcpy(r + 8, x->peer->mac, 6);
	memcpy(r + 14, a + 24, 4); /* the address asked for */
	memcpy(r + 18, a + 8, 6);
	memcpy(r + 24, a + 14, 4);
	peer_send(x, fr, sizeof(fr));
	x->arp_reqs++;
}

/* Take what the stack sent: answer ARP requests for the peer's addresses, keep the rest. */
static void peer_drain(struct fx *x)
{
	struct sl_frame f[SL_RX_BATCH];
	int n;
	while ((n = x->peer->ops->rx(x->peer, f, SL_RX_BATCH, x->now)) > 0) {
		for (int i = 0; i < n; i++) {
			const uint8_t *p = f[i].data;
			bool arp = f[i].len >= 42 && get16(p + 12) == 0x0806;
			if (arp && get16(p + 20) == 1 &&
			    (get32(p + 38) == IP_PEER || get32(p + 38) == IP_PEER2)) {
				answer_arp(x, p);
			} else if (!arp) {
				if (x->ncap < MAX_CAP) {
					memcpy(x->cap[x->ncap].b, p, f[i].len);
					x->cap[x->ncap].len = f[i].len;
				}
				x->ncap++;
			}
			x->peer->ops->release(x->peer, &f[i]);
		}
	}
}

/* Advance simulated time in 1 ms steps. */
static void run_for(struct fx *x, uint64_t ns)
{
	uint64_t end = x->now + ns;
	do {
		sl_stack_poll(x->st, x->now);
		peer_drain(x);
		x->now += MS;
	} while (x->now < end);
}

static void on_rec(void *arg, struct sl_stack *st, const struct sl_udp_meta *m, const uint8_t *data,
		   size_t len)
{
	struct rec *r = arg;
	r->count++;
	r->m = *m;
	r->len = len;
	memcpy(r->data, data, len);
}

static struct fx *fx_up(cfg_fn tweak)
{
	struct fx *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	struct sl_stack_config c;
	sl_stack_config_init(&c);
	c.addrs[0].addr = sl_ip_v4(IP_ST);
	c.addrs[0].prefix_len = 24;
	c.n_addrs = 1;
	c.seed = 3;
	c.deterministic_secrets = true;
	if (tweak)
		tweak(&c);
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &x->peer, &x->dev), 0);
	x->now = 1000 * MS;
	assert_int_equal(sl_stack_open(x->dev, &c, x->now, &x->st), 0);
	assert_int_equal(sl_udp_listen(x->st, PORT, on_rec, &x->rec), 0);
	run_for(x, 1 * MS);
	x->ncap = 0; /* the gratuitous ARP */
	return x;
}

static void fx_down(struct fx *x)
{
	sl_stack_close(x->st);
	peer_drain(x);
	pn_close_counted(x->dev, x->peer);
	free(x);
}

/* One fragment: bytes [off, off + len) of a datagram's transport bytes. ihl_words > 5 adds
 * (NOP) options. */
static void frag_opts(struct fx *x, uint32_t src, uint32_t dst, uint16_t id, uint8_t proto,
		      unsigned off, bool mf, const uint8_t *data, size_t len, unsigned ihl_words)
{
	uint8_t fr[1514];
	unsigned hl = ihl_words * 4;
	assert_true(14 + hl + len <= sizeof(fr));
	memcpy(fr, x->dev->mac, 6);
	memcpy(fr + 6, x->peer->mac, 6);
	put16(fr + 12, 0x0800);
	uint8_t *ip = fr + 14;
	memset(ip, 0, hl);
	ip[0] = (uint8_t)(0x40 | ihl_words);
	put16(ip + 2, (uint16_t)(hl + len));
	put16(ip + 4, id);
	assert_true(off % 8 == 0);
	put16(ip + 6, (uint16_t)((mf ? 0x2000 : 0) | off / 8));
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	for (unsigned i = 20; i < hl; i++)
		ip[i] = 1; /* NOP */
	put16(ip + 10, (uint16_t)~csum16(ip, hl, 0));
	memcpy(ip + hl, data, len);
	peer_send(x, fr, 14 + hl + len);
}

static void frag(struct fx *x, uint16_t id, unsigned off, bool mf, const uint8_t *data, size_t len)
{
	frag_opts(x, IP_PEER, IP_ST, id, 17, off, mf, data, len, 5);
}

/* Fragment of datagram d (total bytes): [off, off + len), MF unless it reaches the end. */
static void piece(struct fx *x, uint16_t id, const uint8_t *d, size_t total, unsigned off,
		  size_t len)
{
	if (off + len > total)
		len = total - off;
	frag(x, id, off, off + len < total, d + off, len);
}

/* The datagram arrived, complete and intact, exactly n times so far. */
static void expect_udp(struct fx *x, unsigned n, const uint8_t *dgram, size_t total)
{
	assert_int_equal(x->rec.count, n);
	assert_int_equal(x->rec.len, total - 8);
	assert_memory_equal(x->rec.data, dgram + 8, total - 8);
}

/* Index of the first kept frame that is ICMP type/code from the stack, or -1. */
static int find_icmp(struct fx *x, uint8_t type, uint8_t code, unsigned from)
{
	for (unsigned i = from; i < x->ncap && i < MAX_CAP; i++) {
		const uint8_t *p = x->cap[i].b;
		if (x->cap[i].len < 14 + 20 + 8 || get16(p + 12) != 0x0800)
			continue;
		const uint8_t *ip = p + 14;
		unsigned hl = (ip[0] & 15) * 4u;
		if (ip[9] == 1 && ip[hl] == type && ip[hl + 1] == code)
			return (int)i;
	}
	return -1;
}

/* A plain (unfragmented) ping from the peer is answered: the stack still works. */
static void expect_ping_answered(struct fx *x, uint16_t seq)
{
	uint8_t msg[8 + 56];
	size_t len = make_echo(msg, seq, seq, 56);
	unsigned from = x->ncap;
	frag_opts(x, IP_PEER, IP_ST, (uint16_t)(0x7000 + seq), 1, 0, false, msg, len, 5);
	run_for(x, 5 * MS);
	int i = find_icmp(x, 0, 0, from);
	assert_true(i >= 0);
	const uint8_t *ip = x->cap[i].b + 14;
	assert_int_equal(get16(ip + 20 + 6), seq);
	assert_memory_equal(ip + 20 + 8, msg + 8, 56);
}

/* --- tests ----------------------------------------------------------------------------------- */

static uint8_t dg[70000];

/* Every order of 4 fragments (24 permutations) reassembles to the same bytes. */
static void test_every_order(void **state)
{
	struct fx *x = fx_up(NULL);
	size_t total = make_udp(dg, IP_PEER, PORT, 1, 4000 - 8); /* 4000: 3 × 1024 + 928 */
	static const unsigned offs[4] = {0, 1024, 2048, 3072};
	unsigned perm[4] = {0, 1, 2, 3}, n = 0;
	/* Heap's algorithm, iterative. */
	unsigned c[4] = {0};
	for (unsigned i = 0;;) {
		for (unsigned k = 0; k < 4; k++)
			piece(x, (uint16_t)(100 + n), dg, total, offs[perm[k]], 1024);
		run_for(x, 2 * MS);
		n++;
		expect_udp(x, n, dg, total);
		while (i < 4 && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= 4)
			break;
		unsigned j = i % 2 ? c[i] : 0, t = perm[j];
		perm[j] = perm[i];
		perm[i] = t;
		c[i]++;
		i = 1;
	}
	assert_int_equal(n, 24);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 24);
	assert_int_equal(stat(x, SL_STAT_ipv4_frags_rx), 96);
	assert_int_equal(stat(x, SL_STAT_udp_rx), 24);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_dup) + stat(x, SL_STAT_ipv4_reasm_overlap), 0);
	fx_down(x);
}

/* Seeded shuffles of a 20-fragment datagram, with duplicates mixed in. */
static void test_shuffled_with_duplicates(void **state)
{
	struct fx *x = fx_up(NULL);
	uint64_t seed = tu_seed(11);
	size_t total = make_udp(dg, IP_PEER, PORT, 2, 20 * 400 - 8);
	for (unsigned round = 0; round < 20; round++) {
		unsigned order[40], n = 0;
		for (unsigned k = 0; k < 20; k++)
			order[n++] = k;
		uint64_t r = seed * 6364136223846793005ULL + round;
		for (unsigned k = 0; k < 10; k++) { /* ten duplicates */
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			order[n++] = (unsigned)(r >> 33) % 20;
		}
		for (unsigned k = n - 1; k > 0; k--) {
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			unsigned j = (unsigned)(r >> 33) % (k + 1), t = order[k];
			order[k] = order[j];
			order[j] = t;
		}
		/* Only fragments before completion count as duplicates: stop at completion, and
		 * count what was a repeat until then. */
		uint8_t seen[20] = {0};
		unsigned have = 0, dups = 0;
		uint64_t dup0 = stat(x, SL_STAT_ipv4_reasm_dup);
		for (unsigned k = 0; k < n && have < 20; k++) {
			piece(x, (uint16_t)(200 + round), dg, total, order[k] * 400, 400);
			if (seen[order[k]])
				dups++;
			else
				have++;
			seen[order[k]] = 1;
		}
		run_for(x, 2 * MS);
		if (x->rec.count != round + 1)
			print_message("failing seed: %llu round %u\n", (unsigned long long)seed,
				      round);
		expect_udp(x, round + 1, dg, total);
		assert_int_equal(stat(x, SL_STAT_ipv4_reasm_dup) - dup0, dups);
	}
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 0);
	fx_down(x);
}

/* Two datagrams in flight at once with the same ID but different sources or protocols are
 * different datagrams (RFC 791: source, destination, protocol, identification). */
static void test_interleaved_same_id(void **state)
{
	struct fx *x = fx_up(NULL);
	static uint8_t d1[3000], d2[3000], e[3000];
	size_t t1 = make_udp(d1, IP_PEER, PORT, 3, 2000);
	size_t t2 = make_udp(d2, IP_PEER2, PORT, 4, 2000);
	size_t te = make_echo(e, 1, 5, 1400); /* one reply frame */
	for (unsigned off = 0; off < 2008; off += 1000) {
		frag_opts(x, IP_PEER, IP_ST, 77, 17, off, off + 1000 < t1, d1 + off,
			  off + 1000 < t1 ? 1000 : t1 - off, 5);
		frag_opts(x, IP_PEER2, IP_ST, 77, 17, off, off + 1000 < t2, d2 + off,
			  off + 1000 < t2 ? 1000 : t2 - off, 5);
		if (off < te)
			frag_opts(x, IP_PEER, IP_ST, 77, 1, off, off + 1000 < te, e + off,
				  off + 1000 < te ? 1000 : te - off, 5);
	}
	run_for(x, 5 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 3);
	assert_int_equal(x->rec.count, 2);
	/* The last datagram delivered was the second source's. */
	assert_int_equal(sl_ip_to_v4(&x->rec.m.src), IP_PEER2);
	assert_memory_equal(x->rec.data, d2 + 8, 2000);
	int i = find_icmp(x, 0, 0, 0);
	assert_true(i >= 0);
	assert_int_equal(x->cap[i].len, 14 + 20 + te);
	assert_memory_equal(x->cap[i].b + 14 + 20 + 8, e + 8, te - 8);
	fx_down(x);
}

/* The first fragment carries IP options: its payload still starts after them. */
static void test_first_fragment_with_options(void **state)
{
	struct fx *x = fx_up(NULL);
	size_t total = make_udp(dg, IP_PEER, PORT, 6, 1600);
	frag_opts(x, IP_PEER, IP_ST, 5, 17, 0, true, dg, 1024, 10);
	frag_opts(x, IP_PEER, IP_ST, 5, 17, 1024, false, dg + 1024, total - 1024, 6);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	fx_down(x);
}

/* Tiny fragments: 8 bytes each, the smallest a non-last fragment can be. */
static void test_tiny_fragments(void **state)
{
	struct fx *x = fx_up(NULL);
	size_t total = make_udp(dg, IP_PEER, PORT, 7, 300); /* 308 bytes: 38 × 8 + 4 */
	for (unsigned off = 0; off < total; off += 8)
		piece(x, 6, dg, total, off, 8);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	assert_int_equal(stat(x, SL_STAT_ipv4_frags_rx), 39);
	/* Backwards, too. */
	for (int off = (int)(total - 1) / 8 * 8; off >= 0; off -= 8)
		piece(x, 7, dg, total, (unsigned)off, 8);
	run_for(x, 2 * MS);
	expect_udp(x, 2, dg, total);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 2);
	fx_down(x);
}

/* Overlap carrying the same bytes (a retransmission cut differently) is fine. */
static void test_overlap_identical_bytes(void **state)
{
	struct fx *x = fx_up(NULL);
	size_t total = make_udp(dg, IP_PEER, PORT, 8, 3000); /* 3008 */
	frag(x, 9, 0, true, dg, 1000);
	frag(x, 9, 496, true, dg + 496, 1000); /* [496, 1496): half old, half new */
	frag(x, 9, 1496, true, dg + 1496, 8);
	frag(x, 9, 488, true, dg + 488, 1480); /* [488, 1968): all of the above and more */
	frag(x, 9, 1968, false, dg + 1968, total - 1968);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 0);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 1);
	/* The same with the last fragment first and the rest backwards. */
	frag(x, 10, 1968, false, dg + 1968, total - 1968);
	frag(x, 10, 488, true, dg + 488, 1480);
	frag(x, 10, 1496, true, dg + 1496, 8);
	frag(x, 10, 496, true, dg + 496, 1000);
	frag(x, 10, 0, true, dg, 1000);
	run_for(x, 2 * MS);
	expect_udp(x, 2, dg, total);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 0);
	fx_down(x);
}

/* Overlap that changes bytes already held: the whole datagram is dropped, whatever order. */
static void test_overlap_different_bytes(void **state)
{
	struct fx *x = fx_up(NULL);
	size_t total = make_udp(dg, IP_PEER, PORT, 9, 3000); /* 3008 */
	static uint8_t evil[3100];
	memcpy(evil, dg, total);
	evil[1100] ^= 0xff; /* inside [1000, 1200), where H1 and E2 overlap */
	/* H1 [0,1200)  E2 [1000,2000) with the changed byte  H3 [1200,2000)  H4 [2000,3008) */

	/* 1: a new fragment rewrites the tail of an old one. */
	frag(x, 10, 0, true, dg, 1200);
	frag(x, 10, 1000, true, evil + 1000, 1000);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 1);
	/* The rest arrives: H1 was not kept, so nothing completes. */
	frag(x, 10, 2000, false, dg + 2000, total - 2000);
	frag(x, 10, 1200, true, dg + 1200, 800);
	run_for(x, 2 * MS);
	assert_int_equal(x->rec.count, 0);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 0);

	/* 2: the changed bytes first, the honest fragment second. */
	frag(x, 11, 1000, true, evil + 1000, 1000);
	frag(x, 11, 0, true, dg, 1200);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 2);
	frag(x, 11, 1200, true, dg + 1200, 800);
	frag(x, 11, 2000, false, dg + 2000, total - 2000);
	run_for(x, 2 * MS);
	assert_int_equal(x->rec.count, 0);

	/* 3: an exact duplicate with one byte changed. */
	frag(x, 12, 0, true, dg, 1200);
	frag(x, 12, 0, true, evil, 1200);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 3);

	/* 4: two last fragments with different ends. */
	frag(x, 13, 2000, false, dg + 2000, total - 2000);
	frag(x, 13, 2000, false, dg + 2000, total - 2000 - 8);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 4);
	/* 5: a last fragment ending before data already held. */
	frag(x, 14, 1000, true, dg + 1000, 1000);
	frag(x, 14, 800, false, dg + 800, 100);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 5);
	/* 6: a middle fragment reaching beyond the known end. */
	frag(x, 15, 2000, false, dg + 2000, total - 2000);
	frag(x, 15, 2000, true, dg + 2000, 1024);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_overlap), 6);

	assert_int_equal(x->rec.count, 0);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 0);
	/* Afterwards the same IDs reassemble correctly (for 10 and 11 the honest leftovers are
	 * completed by honest fragments; the others start from nothing). */
	for (uint16_t id = 10; id <= 15; id++) {
		for (unsigned off = 0; off < total; off += 1000)
			piece(x, id, dg, total, off, off + 1000 < 3000 ? 1000 : 1008);
		run_for(x, 2 * MS);
		expect_udp(x, (unsigned)(id - 9), dg, total);
	}
	fx_down(x);
}

static void short_timeout(struct sl_stack_config *c)
{
	c->reasm_timeout_ns = 2 * SEC;
}

/* A datagram that never completes is dropped after reasm_timeout; when its first fragment
 * was there, the sender hears ICMP time exceeded, code 1 (RFC 792, RFC 1122 §3.3.2). */
static void test_timeout_time_exceeded(void **state)
{
	struct fx *x = fx_up(short_timeout);
	uint8_t e[1600];
	size_t te = make_echo(e, 3, 10, 1500);
	frag_opts(x, IP_PEER, IP_ST, 0x4321, 1, 0, true, e, 1000, 5); /* the rest never comes */
	run_for(x, 1990 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_timeout), 0);
	assert_int_equal(find_icmp(x, 11, 1, 0), -1);
	run_for(x, 20 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_timeout), 1);
	int i = find_icmp(x, 11, 1, 0);
	assert_true(i >= 0);
	const uint8_t *ip = x->cap[i].b + 14;
	assert_int_equal(get32(ip + 12), IP_ST);
	assert_int_equal(get32(ip + 16), IP_PEER);
	/* RFC 792: the quote is the original IP header and the first 8 bytes of its data. */
	const uint8_t *q = ip + 20 + 8;
	assert_true(x->cap[i].len >= 14 + 20 + 8 + 28);
	assert_int_equal(get16(q + 4), 0x4321);
	assert_int_equal(q[9], 1);
	assert_int_equal(get32(q + 12), IP_PEER);
	assert_int_equal(get32(q + 16), IP_ST);
	assert_memory_equal(q + 20, e, 8);
	/* The ICMP checksum of what the stack sent is right. */
	size_t icmp_len = get16(ip + 2) - 20u;
	assert_int_equal(csum16(ip + 20, icmp_len, 0), 0xffff);
	/* The late remainder does not complete anything: it starts over (and times out). */
	frag_opts(x, IP_PEER, IP_ST, 0x4321, 1, 1000, false, e + 1000, te - 1000, 5);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 0);
	assert_int_equal(find_icmp(x, 0, 0, 0), -1);

	/* Without the first fragment: dropped the same way, but no ICMP (nothing to quote). */
	unsigned from = x->ncap;
	run_for(x, 2100 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_timeout), 2);
	assert_int_equal(find_icmp(x, 11, 1, from), -1);

	/* To the broadcast address: dropped, never answered (RFC 1122 §3.2.2). */
	frag_opts(x, IP_PEER, IP_BCAST, 0x4322, 17, 0, true, dg, 64, 5);
	run_for(x, 2100 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_timeout), 3);
	assert_int_equal(find_icmp(x, 11, 1, from), -1);
	assert_int_equal(stat(x, SL_STAT_icmp_errors_sent), 1);
	expect_ping_answered(x, 1);
	fx_down(x);
}

/* Ping of death: offset 65528 + 16 bytes would make a 65564-byte datagram. */
static void test_beyond_65535(void **state)
{
	struct fx *x = fx_up(NULL);
	uint8_t d[32];
	memset(d, 0xab, sizeof(d));
	frag(x, 20, 65528, false, d, 16);
	frag(x, 20, 65528, true, d, 16);
	/* Header 20 + offset 65512 + 8 = 65540: one byte too many is too many. */
	frag(x, 21, 65512, true, d, 8);
	frag(x, 22, 65496, false, d, 20); /* ends at 65516 */
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_too_big), 4);
	/* The largest legal end, 65515 (65535 - 20): accepted (it waits for the rest). */
	frag(x, 23, 65496, false, d, 19);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_too_big), 4);
	/* ... and the largest datagram reassembles: 65507 bytes of UDP payload. */
	size_t total = make_udp(dg, IP_PEER, PORT, 12, 65507);
	assert_int_equal(total, 65515);
	for (unsigned off = 0; off < total; off += 1480) {
		piece(x, 24, dg, total, off, 1480);
		if ((off / 1480) % 32 == 31)
			run_for(x, 1 * MS);
	}
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_too_big), 4);
	assert_int_equal(stat(x, SL_STAT_icmp_errors_sent), 0);
	expect_ping_answered(x, 2);
	fx_down(x);
}

/* RFC 791: every fragment but the last carries a multiple of 8 bytes, and none is empty. */
static void test_bad_fragment_lengths(void **state)
{
	struct fx *x = fx_up(NULL);
	size_t total = make_udp(dg, IP_PEER, PORT, 13, 100);
	frag(x, 30, 0, true, dg, 12);	 /* not a multiple of 8 */
	frag(x, 30, 0, true, dg, 1);	 /* nor this */
	frag(x, 31, 8, true, dg + 8, 0); /* empty middle */
	frag(x, 32, 104, false, dg, 0);	 /* empty last */
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_bad_frag), 4);
	assert_int_equal(stat(x, SL_STAT_ipv4_frags_rx), 4);
	/* A last fragment of any length is fine, and the datagram still completes around the
	 * refused pieces. */
	frag(x, 30, 0, true, dg, 16);
	frag(x, 30, 16, false, dg + 16, total - 16);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	fx_down(x);
}

static void few_datagrams(struct sl_stack_config *c)
{
	c->reasm_max_datagrams = 8;
	c->reasm_max_per_src = 8;
	c->reasm_timeout_ns = 2 * SEC;
}

/* More datagrams in progress than reasm_max_datagrams: refused and counted; the stack keeps
 * answering, and the slots come back when the incomplete ones time out. */
static void test_datagram_slots_bounded(void **state)
{
	struct fx *x = fx_up(few_datagrams);
	uint8_t d[64];
	memset(d, 0x5a, sizeof(d));
	for (uint16_t id = 0; id < 20; id++)
		frag(x, (uint16_t)(1000 + id), 8, true, d, 64); /* never completes */
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), 12);
	expect_ping_answered(x, 3);
	/* A full table refuses a new datagram... */
	size_t total = make_udp(dg, IP_PEER, PORT, 14, 2000);
	for (unsigned off = 0; off < total; off += 1000)
		piece(x, 2000, dg, total, off, 1000);
	run_for(x, 2 * MS);
	assert_int_equal(x->rec.count, 0);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), 15);
	/* ... until the incomplete ones time out. */
	run_for(x, 2100 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_timeout), 8);
	for (unsigned off = 0; off < total; off += 1000)
		piece(x, 2000, dg, total, off, 1000);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	fx_down(x);
}

static void four_per_src(struct sl_stack_config *c)
{
	c->reasm_max_datagrams = 16;
	c->reasm_max_per_src = 4;
	c->reasm_timeout_ns = 2 * SEC;
}

/* One source may hold at most reasm_max_per_src datagrams in progress, so it cannot take
 * every slot: another source still gets its fragmented datagram through. */
static void test_slots_per_source_bounded(void **state)
{
	struct fx *x = fx_up(four_per_src);
	uint8_t d[64];
	memset(d, 0x5a, sizeof(d));
	for (uint16_t id = 0; id < 16; id++)
		frag(x, (uint16_t)(1000 + id), 8, true, d, 64); /* never completes */
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), 12);
	size_t total = make_udp(dg, IP_PEER2, PORT, 17, 3000);
	for (unsigned off = 0; off < total; off += 1024)
		frag_opts(x, IP_PEER2, IP_ST, 3000, 17, off, off + 1024 < total, dg + off,
			  off + 1024 < total ? 1024 : total - off, 5);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	fx_down(x);
}

static void small_per_src(struct sl_stack_config *c)
{
	c->reasm_mem_per_src = 16 * 1024;
	c->reasm_mem = 40 * 1024;
	c->reasm_max_per_src = 64; /* the byte budgets are under test here */
	c->reasm_timeout_ns = 2 * SEC;
}

/* One source cannot take more than reasm_mem_per_src, so another source still gets its
 * datagrams through; the total budget holds over all sources. */
static void test_memory_budget_per_source(void **state)
{
	struct fx *x = fx_up(small_per_src);
	uint8_t d[1024];
	memset(d, 0x33, sizeof(d));
	/* Each incomplete datagram below holds ≥ 1 KiB, at least one allocation unit. */
	for (uint16_t id = 0; id < 40; id++)
		frag(x, (uint16_t)(3000 + id), 0, true, d, 1024);
	run_for(x, 2 * MS);
	uint64_t refused = stat(x, SL_STAT_ipv4_reasm_no_mem);
	assert_true(refused > 0);
	assert_true(refused < 40);
	/* A big datagram from the same source cannot grow past the budget either. */
	for (unsigned off = 0; off < 30000; off += 1024)
		frag(x, 3100, off, true, d, 1024);
	run_for(x, 2 * MS);
	assert_true(stat(x, SL_STAT_ipv4_reasm_no_mem) >= refused + 29);

	/* The other source is untouched by the first one's exhaustion. */
	size_t total = make_udp(dg, IP_PEER2, PORT, 15, 4000);
	for (unsigned off = 0; off < total; off += 1024)
		frag_opts(x, IP_PEER2, IP_ST, 3000, 17, off, off + 1024 < total, dg + off,
			  off + 1024 < total ? 1024 : total - off, 5);
	run_for(x, 2 * MS);
	expect_udp(x, 1, dg, total);
	assert_int_equal(sl_ip_to_v4(&x->rec.m.src), IP_PEER2);
	expect_ping_answered(x, 4);

	/* The total budget (40 KiB, 16 KiB held by the first source): a third source gets its
	 * 16 KiB, a fourth only the 8 KiB left. Allocation is in 4 KiB units. */
	uint64_t before = stat(x, SL_STAT_ipv4_reasm_no_mem);
	for (uint16_t id = 0; id < 4; id++)
		frag_opts(x, 0x0a090006, IP_ST, (uint16_t)(4000 + id), 17, 0, true, d, 1024, 5);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), before);
	for (uint16_t id = 0; id < 4; id++)
		frag_opts(x, 0x0a090007, IP_ST, (uint16_t)(4000 + id), 17, 0, true, d, 1024, 5);
	run_for(x, 2 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), before + 2);

	/* Everything the first source left times out, and then it is welcome again. */
	run_for(x, 2100 * MS);
	assert_true(stat(x, SL_STAT_ipv4_reasm_timeout) > 0);
	total = make_udp(dg, IP_PEER, PORT, 16, 12000);
	for (unsigned off = 0; off < total; off += 1480)
		piece(x, 3200, dg, total, off, 1480);
	run_for(x, 2 * MS);
	expect_udp(x, 2, dg, total);
	fx_down(x);
}

static void many_slots(struct sl_stack_config *c)
{
	c->arp_cache_size = 16;
	c->reasm_max_datagrams = 1500;
	c->reasm_mem = 64u << 20;
	c->reasm_mem_per_src = 64u << 20;
	c->reasm_max_per_src = 1500;
	c->reasm_timeout_ns = 2 * SEC;
}

/* Every incomplete datagram times out, however many are allowed in progress: an entry that
 * never times out keeps its slot and memory for ever. */
static void test_every_incomplete_datagram_times_out(void **state)
{
	struct fx *x = fx_up(many_slots);
	uint8_t d[8];
	memset(d, 0x44, sizeof(d));
	const unsigned n = 1500;
	for (unsigned id = 0; id < n; id++) {
		frag(x, (uint16_t)id, 8, true, d, 8);
		if (id % 50 == 49)
			run_for(x, 1 * MS);
	}
	run_for(x, 5 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_frags_rx), n);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), 0);
	run_for(x, 2100 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_timeout), n);
	/* All slots free again: n new datagrams are all taken. */
	for (unsigned id = 0; id < n; id++) {
		frag(x, (uint16_t)(id + 20000), 8, true, d, 8);
		if (id % 50 == 49)
			run_for(x, 1 * MS);
	}
	run_for(x, 5 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_no_mem), 0);
	fx_down(x);
}

/* Fragments of an ICMP echo request: reassembled, answered, and the reply (too big for one
 * frame) fragmented by the stack. */
static void test_fragmented_ping(void **state)
{
	struct fx *x = fx_up(NULL);
	static uint8_t e[4100], back[4100];
	size_t te = make_echo(e, 9, 17, 4000);
	for (unsigned off = 0; off < te; off += 1480)
		frag_opts(x, IP_PEER, IP_ST, 0x999, 1, off, off + 1480 < te, e + off,
			  off + 1480 < te ? 1480 : te - off, 5);
	run_for(x, 5 * MS);
	assert_int_equal(stat(x, SL_STAT_ipv4_reasm_ok), 1);
	assert_int_equal(stat(x, SL_STAT_icmp_echo_replies), 1);
	/* Put the reply together here from the frames the stack sent. */
	size_t got = 0, end = 0;
	uint16_t id = 0;
	for (unsigned i = 0; i < x->ncap && i < MAX_CAP; i++) {
		const uint8_t *ip = x->cap[i].b + 14;
		if (get16(x->cap[i].b + 12) != 0x0800 || ip[9] != 1)
			continue;
		assert_int_equal(csum16(ip, 20, 0), 0xffff);
		if (!got)
			id = get16(ip + 4);
		assert_int_equal(get16(ip + 4), id);
		unsigned off = (get16(ip + 6) & 0x1fff) * 8u, len = get16(ip + 2) - 20u;
		assert_true(off + len <= sizeof(back));
		memcpy(back + off, ip + 20, len);
		got += len;
		if (!(get16(ip + 6) & 0x2000))
			end = off + len;
	}
	assert_int_equal(got, te);
	assert_int_equal(end, te);
	assert_int_equal(back[0], 0);		       /* echo reply */
	assert_int_equal(csum16(back, te, 0), 0xffff); /* its checksum is right */
	assert_memory_equal(back + 4, e + 4, te - 4);  /* id, seq, every payload byte */
	fx_down(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_order),
	    cmocka_unit_test(test_shuffled_with_duplicates),
	    cmocka_unit_test(test_interleaved_same_id),
	    cmocka_unit_test(test_first_fragment_with_options),
	    cmocka_unit_test(test_tiny_fragments),
	    cmocka_unit_test(test_overlap_identical_bytes),
	    cmocka_unit_test(test_overlap_different_bytes),
	    cmocka_unit_test(test_timeout_time_exceeded),
	    cmocka_unit_test(test_beyond_65535),
	    cmocka_unit_test(test_bad_fragment_lengths),
	    cmocka_unit_test(test_datagram_slots_bounded),
	    cmocka_unit_test(test_slots_per_source_bounded),
	    cmocka_unit_test(test_memory_budget_per_source),
	    cmocka_unit_test(test_every_incomplete_datagram_times_out),
	    cmocka_unit_test(test_fragmented_ping),
	};
	return cmocka_run_group_tests_name("sim_frag", tests, NULL, NULL);
}
