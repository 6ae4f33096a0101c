/*
 * What the protocol modules call down into (they never call up): frames (allocation, release,
 * transmit), the stack's secrets, its addresses, on-link routing with a default gateway and
 * IPv4 source selection (RFC 1122 §3.3.1; IPv6 routes and RFC 6724 are in proto/ipv6.c).
 */
#include "iface/stack.h"
#include "wire/eth.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include <errno.h>
#include <string.h>
#include <sys/random.h>

/* --- frames ---------------------------------------------------------------------------- */

/* --- datagrams in pieces ---------------------------------------------------------------- */

/* Copy len bytes starting at byte off of the concatenated pieces into out. */
void sl_pieces_gather(const struct sl_piece *pc, int n, size_t off, uint8_t *out, size_t len)
{
	for (int i = 0; i < n && len; i++) {
		if (off >= pc[i].len) {
			off -= pc[i].len;
			continue;
		}
		size_t k = pc[i].len - off < len ? pc[i].len - off : len;
		memcpy(out, (const uint8_t *)pc[i].p + off, k);
		out += k;
		len -= k;
		off = 0;
	}
}

/* --- secrets ---------------------------------------------------------------------------- */

int sl_iface_secret(struct sl_stack *st, void *buf, size_t len)
{
	uint8_t *p = buf;
	if (st->cfg.deterministic_secrets) {
		while (len) {
			uint64_t r = sl_rng_next(&st->secret_rng);
			size_t n = len < 8 ? len : 8;
			memcpy(p, &r, n);
			p += n;
			len -= n;
		}
		return 0;
	}
	/* Flags 0: the urandom source, blocking only until the kernel's pool is initialised
	 * once after boot. No fallback to anything guessable. */
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --- addresses and routes -------------------------------------------------------------- */

bool sl_iface_owns4(const struct sl_stack *st, uint32_t a)
{
	for (unsigned i = 0; i < st->n_v4; i++)
		if (st->v4[i].addr == a)
			return true;
	return false;
}

bool sl_iface_is_bcast4(const struct sl_stack *st, uint32_t a)
{
	if (a == 0xffffffffu)
		return true;
	for (unsigned i = 0; i < st->n_v4; i++)
		if (a == st->v4[i].bcast) /* directed broadcast of an on-link subnet */
			return true;
	return false;
}

bool sl_iface_onlink4(const struct sl_stack *st, uint32_t a)
{
	for (unsigned i = 0; i < st->n_v4; i++) {
		const struct sl_addr4 *s = &st->v4[i];
		if (s->plen > 0 && (a & s->mask) == (s->addr & s->mask))
			return true;
	}
	return false;
}

/* The source for a packet that leaves through next hop nh: the address whose prefix holds
 * nh, else the first. */
static uint32_t src_for4(const struct sl_stack *st, uint32_t nh)
{
	uint32_t src = st->v4[0].addr;
	for (unsigned i = 0; i < st->n_v4; i++)
		if ((nh & st->v4[i].mask) == (st->v4[i].addr & st->v4[i].mask))
			src = st->v4[i].addr;
	return src;
}

int sl_iface_route4(const struct sl_stack *st, uint32_t dst, uint32_t *nexthop, uint32_t *src)
{
	/* The longest prefix of the on-link ones and the routes (on-link wins a tie); otherwise
	 * the default gateway. */
	int best = -1;
	for (unsigned i = 0; i < st->n_v4; i++) {
		const struct sl_addr4 *s = &st->v4[i];
		if ((dst & s->mask) == (s->addr & s->mask) &&
		    (best < 0 || s->plen > st->v4[best].plen))
			best = (int)i;
	}
	int onlink_plen = best >= 0 && st->v4[best].plen > 0 ? st->v4[best].plen : -1;
	const struct sl_route *rt = NULL;
	for (unsigned i = 0; i < st->n_routes; i++) {
		const struct sl_route *r = &st->routes[i];
		if (r->v4 && (dst & r->mask4) == r->dst4 && r->plen > onlink_plen &&
		    (!rt || r->plen > rt->plen))
			rt = r;
	}
	if (rt && st->n_v4) {
		*nexthop = rt->gw4 ? rt->gw4 : dst;
		*src = src_for4(st, *nexthop);
		return 0;
	}
	if (onlink_plen > 0) {
		*nexthop = dst;
		*src = st->v4[best].addr;
		return 0;
	}
	if (st->gw4 && st->n_v4) {
		*nexthop = st->gw4;
		*src = src_for4(st, st->gw4);
		return 0;
	}
	return -ENETUNREACH;
}

bool sl_iface_owns(const struct sl_stack *st, const sl_ip *a)
{
	if (sl_ip_is_v4(a))
		return sl_iface_owns4(st, sl_ip_to_v4(a));
	for (unsigned i = 0; i < st->n_v6; i++)
		if (!memcmp(st->v6[i].addr.b, a->b, 16))
			return !st->v6[i].tentative && !st->v6[i].dad_failed;
	return false;
}

int sl_iface_route(const struct sl_stack *st, const sl_ip *dst, sl_ip *nexthop, sl_ip *src)
{
	if (!sl_ip_is_v4(dst))
		return sl_iface_route6(st, dst, nexthop, src);
	uint32_t nh, s;
	int err = sl_iface_route4(st, sl_ip_to_v4(dst), &nh, &s);
	if (err)
		return err;
	*nexthop = sl_ip_v4(nh);
	*src = sl_ip_v4(s);
	return 0;
}

/* --- the path cache ------------------------------------------------------------------ */

struct sl_path *sl_path_fill(struct sl_stack *st, const sl_ip *dst, int *err)
{
	struct sl_path *p = &st->paths[sl_path_slot(dst)];
	sl_ip nh, src;
	int e = sl_iface_route(st, dst, &nh, &src);
	if (e) {
		*err = e;
		return NULL;
	}
	p->dst = *dst;
	p->src = src;
	p->nh = nh;
	p->neigh = -1;
	p->v6 = !sl_ip_is_v4(dst);
	if (p->v6) {
		p->src4 = p->dst4 = 0;
		p->bcast = sl_ip6_is_multicast(dst);
	} else {
		p->src4 = sl_ip_to_v4(&src);
		p->dst4 = sl_ip_to_v4(dst);
		p->bcast = sl_iface_is_bcast4(st, p->dst4);
	}
	p->psum = sl_ip_pseudo_sum(&src, dst, 0, 0);
	p->gen = st->path_gen;
	return p;
}

/* An IPv6 address: unicast, not one of the reserved forms a host may not take. */
static int add_addr6(struct sl_stack *st, const sl_ip *a, uint8_t plen)
{
	if (plen > 128 || sl_ip_is_zero(a) || sl_ip6_is_multicast(a) || sl_ip6_is_loopback(a))
		return -EINVAL;
	if (st->mtu < SL_IPV6_MIN_MTU) /* RFC 8200 §5: no IPv6 on a link below 1280 */
		return -EINVAL;
	if (sl_iface_find6(st, a))
		return -EEXIST;
	if (st->n_v6 == SL_MAX_ADDRS)
		return -ENOSPC;
	struct sl_addr6 *n = &st->v6[st->n_v6++];
	memset(n, 0, sizeof(*n));
	n->addr = *a;
	n->plen = plen;
	sl_path_changed(st);
	sl_nd_start_dad(st, n);
	return 0;
}

static int del_addr6(struct sl_stack *st, const sl_ip *a)
{
	struct sl_addr6 *x = sl_iface_find6(st, a);
	if (!x)
		return -ENOENT;
	sl_timer_cancel(&st->timers, &x->dad_timer);
	struct sl_addr6 *last = &st->v6[st->n_v6 - 1];
	if (x != last) {
		/* The timer is linked by address: move the last entry without it, re-arm. */
		bool armed = last->tentative;
		sl_timer_cancel(&st->timers, &last->dad_timer);
		*x = *last;
		sl_timer_init(&x->dad_timer, last->dad_timer.fn);
		if (armed)
			sl_timer_arm(&st->timers, &x->dad_timer, st->now + 1000000000ULL);
	}
	st->n_v6--;
	sl_path_changed(st);
	return 0;
}

int sl_ip_addr_state(struct sl_stack *st, const sl_ip *a)
{
	if (sl_ip_is_v4(a))
		return sl_iface_owns4(st, sl_ip_to_v4(a)) ? 0 : -ENOENT;
	struct sl_addr6 *x = sl_iface_find6(st, a);
	if (!x)
		return -ENOENT;
	return x->dad_failed ? -EADDRINUSE : x->tentative ? -EINPROGRESS : 0;
}

static uint32_t mask_of(uint8_t plen)
{
	return plen ? ~0u << (32 - plen) : 0;
}

int sl_ip_add_addr(struct sl_stack *st, const sl_ip *a, uint8_t prefix_len)
{
	if (!sl_ip_is_v4(a))
		return add_addr6(st, a, prefix_len);
	uint32_t v = sl_ip_to_v4(a);
	if (prefix_len > 32 || sl_ipv4_is_bad_src(v))
		return -EINVAL;
	if (sl_iface_owns4(st, v))
		return -EEXIST;
	if (st->n_v4 == SL_MAX_ADDRS)
		return -ENOSPC;
	uint32_t m = mask_of(prefix_len);
	st->v4[st->n_v4++] = (struct sl_addr4){v, m, prefix_len, prefix_len < 31 ? v | ~m : 0xffffffffu};
	sl_path_changed(st);
	sl_arp_announce(st, v);
	return 0;
}

int sl_ip_set_gateway(struct sl_stack *st, const sl_ip *gw)
{
	if (sl_ip_is_v4(gw)) {
		uint32_t v = sl_ip_to_v4(gw);
		if (v && (sl_ipv4_is_bad_src(v) || sl_iface_is_bcast4(st, v)))
			return -EINVAL;
		st->gw4 = v;
	} else {
		if (sl_ip6_is_multicast(gw) || sl_ip6_is_loopback(gw))
			return -EINVAL;
		st->gw6 = *gw;
	}
	sl_path_changed(st);
	return 0;
}

static bool prefix_eq(const sl_ip *a, const sl_ip *b, unsigned bits)
{
	for (unsigned i = 0; i < 16 && bits; i++) {
		unsigned n = bits < 8 ? bits : 8;
		uint8_t m = (uint8_t)(0xff00u >> n);
		if ((a->b[i] ^ b->b[i]) & m)
			return false;
		bits -= n;
	}
	return true;
}

/* prefix masked to bits (of the 128-bit form). */
static sl_ip masked(const sl_ip *a, unsigned bits)
{
	sl_ip m = {{0}};
	for (unsigned i = 0; i < 16 && bits; i++) {
		unsigned n = bits < 8 ? bits : 8;
		m.b[i] = a->b[i] & (uint8_t)(0xff00u >> n);
		bits -= n;
	}
	return m;
}

bool sl_iface_route6_lookup(const struct sl_stack *st, const sl_ip *dst, int longer_than,
			    sl_ip *gw)
{
	const struct sl_route *rt = NULL;
	for (unsigned i = 0; i < st->n_routes; i++) {
		const struct sl_route *r = &st->routes[i];
		if (!r->v4 && r->plen > longer_than && prefix_eq(&r->dst, dst, r->plen) &&
		    (!rt || r->plen > rt->plen))
			rt = r;
	}
	if (!rt)
		return false;
	*gw = sl_ip_is_zero(&rt->gw) ? *dst : rt->gw;
	return true;
}

static int find_route(const struct sl_stack *st, const sl_ip *prefix, uint8_t plen, bool v4)
{
	unsigned bits = v4 ? 96u + plen : plen;
	sl_ip m = masked(prefix, bits);
	for (unsigned i = 0; i < st->n_routes; i++)
		if (st->routes[i].v4 == v4 && st->routes[i].plen == plen &&
		    sl_ip_eq(&st->routes[i].dst, &m))
			return (int)i;
	return -1;
}

int sl_ip_add_route(struct sl_stack *st, const sl_ip *prefix, uint8_t plen, const sl_ip *gw)
{
	bool v4 = sl_ip_is_v4(prefix);
	if (v4 != sl_ip_is_v4(gw) || plen > (v4 ? 32 : 128))
		return -EINVAL;
	if (v4) {
		uint32_t g = sl_ip_to_v4(gw);
		if (g && (sl_ipv4_is_bad_src(g) || sl_iface_is_bcast4(st, g)))
			return -EINVAL;
	} else if (sl_ip6_is_multicast(gw) || sl_ip6_is_loopback(gw)) {
		return -EINVAL;
	}
	if (!plen)
		return sl_ip_set_gateway(st, gw);
	int i = find_route(st, prefix, plen, v4);
	if (i < 0) {
		if (st->n_routes == SL_MAX_ROUTES)
			return -ENOSPC;
		i = (int)st->n_routes++;
	}
	struct sl_route *r = &st->routes[i];
	memset(r, 0, sizeof(*r));
	r->v4 = v4;
	r->plen = plen;
	r->dst = masked(prefix, v4 ? 96u + plen : plen);
	r->gw = *gw;
	if (v4) {
		r->mask4 = mask_of(plen);
		r->dst4 = sl_ip_to_v4(&r->dst);
		r->gw4 = sl_ip_to_v4(gw);
	} else if (sl_ip_is_zero(gw)) {
		memset(&r->gw, 0, sizeof(r->gw));
	}
	sl_path_changed(st);
	return 0;
}

int sl_ip_del_route(struct sl_stack *st, const sl_ip *prefix, uint8_t plen)
{
	bool v4 = sl_ip_is_v4(prefix);
	if (plen > (v4 ? 32 : 128))
		return -EINVAL;
	if (!plen) {
		bool have = v4 ? st->gw4 != 0 : !sl_ip_is_zero(&st->gw6);
		if (!have)
			return -ENOENT;
		sl_ip none = v4 ? sl_ip_v4(0) : (sl_ip){{0}};
		return sl_ip_set_gateway(st, &none);
	}
	int i = find_route(st, prefix, plen, v4);
	if (i < 0)
		return -ENOENT;
	st->routes[i] = st->routes[--st->n_routes];
	sl_path_changed(st);
	return 0;
}

int sl_ip_del_addr(struct sl_stack *st, const sl_ip *a)
{
	if (!sl_ip_is_v4(a))
		return del_addr6(st, a);
	uint32_t v = sl_ip_to_v4(a);
	for (unsigned i = 0; i < st->n_v4; i++) {
		if (st->v4[i].addr == v) {
			st->v4[i] = st->v4[--st->n_v4];
			sl_path_changed(st);
			return 0;
		}
	}
	return -ENOENT;
}

