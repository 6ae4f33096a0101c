/*
 * `sluice run --shared` (see shared.h). Each stack keeps its own copy of the kernel's state
 * (addresses, default routes, neighbours) from its own rtnetlink socket, read on the stack's
 * thread; queue 0's thread also keeps the gate's port rules in step with the addresses.
 */
#include "shared.h"
#include "cli.h"
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sluice/arp.h"
#include "sluice/errors.h"

#define SL_GATE_MAX_RULES_LIST 4096 /* every rule the gate can hold */
#define IPV6_MIN_MTU 1280	    /* RFC 8200 §5 */

static int bind_any(int family, int type, uint16_t port)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r;
	if (family == AF_INET6) {
		int one = 1;
		/* [::] without V6ONLY would cover IPv4 too and clash with the IPv4 socket. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
		r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (r < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (type == SOCK_DGRAM) {
		/* Datagrams reaching the port by another interface queue here unread: keep that
		 * small (the kernel drops beyond it and counts it in the socket's drops). */
		int small = 4096;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	return fd;
}

/* No SO_REUSEADDR: a kernel socket with it could otherwise share the port with ours, and
 * the kernel's connect() skips a port whose bind bucket is not reusable (Linux
 * __inet_hash_connect), so it never picks one of these for its own connections. */
int port_hold(int proto, uint16_t port, struct port_hold *h)
{
	int type = proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	h->fd4 = h->fd6 = -1;
	int fd = bind_any(AF_INET, type, port);
	if (fd < 0)
		return fd;
	h->fd4 = fd;
	fd = bind_any(AF_INET6, type, port);
	if (fd == -EAFNOSUPPORT) /* a kernel without IPv6: nothing to hold there */
		return 0;
	if (fd < 0) {
		port_release(h);
		return fd;
	}
	h->fd6 = fd;
	return 0;
}

void port_release(struct port_hold *h)
{
	if (h->fd4 >= 0)
		close(h->fd4);
	if (h->fd6 >= 0)
		close(h->fd6);
	h->fd4 = h->fd6 = -1;
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

int shared_hold_ports(struct shared_run *r, char *why, size_t whylen)
{
	for (unsigned i = 0; i < r->n_ports; i++) {
		int err = port_hold(r->ports[i].proto, r->ports[i].port, &r->ports[i].hold);
		if (err) {
			if (err == -EADDRINUSE)
				snprintf(why, whylen,
					 "%s port %u is in use by a kernel socket on this host: in "
					 "shared mode the kernel and sluice cannot both have it",
					 proto_name(r->ports[i].proto), r->ports[i].port);
			else
				snprintf(why, whylen, "cannot hold %s port %u against the kernel: %s",
					 proto_name(r->ports[i].proto), r->ports[i].port,
					 strerror(-err));
			for (unsigned k = 0; k < i; k++)
				port_release(&r->ports[k].hold);
			return err;
		}
	}
	return 0;
}

void shared_ports_text(const struct shared_run *r, char *buf, size_t len)
{
	buf[0] = 0;
	for (unsigned i = 0; i < r->n_ports; i++) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "%s%s/%u", i ? ", " : "", proto_name(r->ports[i].proto),
			 r->ports[i].port);
	}
}

/* --- gate rules, following the addresses ------------------------------------------------ */

static void rules_add(struct shared_run *r, const sl_ip *a)
{
	for (unsigned p = 0; p < r->n_ports; p++) {
		bool have = false;
		for (unsigned i = 0; i < r->n_rules && !have; i++)
			have = sl_ip_eq(&r->rules[i].addr, a) && r->rules[i].port == r->ports[p].port &&
			       r->rules[i].proto == r->ports[p].proto;
		if (have || r->n_rules == SHARED_MAX_RULES)
			continue;
		struct sl_rule rule = {.kind = SL_RULE_PORT,
				       .proto = r->ports[p].proto,
				       .has_addr = true,
				       .port = r->ports[p].port,
				       .queue = -1};
		memcpy(rule.addr, a->b, 16);
		pthread_mutex_lock(r->rules_mutex);
		int err = cli_rule_add_or_adopt(r->gate, &rule); /* a killed run's: ours now */
		pthread_mutex_unlock(r->rules_mutex);
		if (err) {
			char t[64];
			fprintf(stderr, "sluice: warning: cannot steer %s/%u of %s: %s\n",
				proto_name(rule.proto), rule.port, sl_ip_str(a, t, sizeof(t)),
				sl_strerror(err));
			continue;
		}
		r->rules[r->n_rules].addr = *a;
		r->rules[r->n_rules].proto = rule.proto;
		r->rules[r->n_rules].port = rule.port;
		r->rules[r->n_rules].id = rule.id;
		r->n_rules++;
	}
}

static void rules_del(struct shared_run *r, const sl_ip *a)
{
	for (unsigned i = 0; i < r->n_rules;) {
		if (a && !sl_ip_eq(&r->rules[i].addr, a)) {
			i++;
			continue;
		}
		pthread_mutex_lock(r->rules_mutex);
		int err = sl_gate_rule_del(r->gate, r->rules[i].id);
		pthread_mutex_unlock(r->rules_mutex);
		if (err && err != -ENOENT)
			fprintf(stderr, "sluice: warning: could not remove flow %u: %s\n",
				r->rules[i].id, sl_strerror(err));
		r->rules[i] = r->rules[--r->n_rules];
	}
}

static void sweep(struct shared_worker *w);

/* The kernel's MTU of DEV, taken from the dump at start and followed at every change, up to
 * what the AF_XDP frames carry (sl_dev.max_mtu: a larger MTU is clamped, with a line). Below
 * 1280 the kernel takes IPv6 off the link (Linux addrconf_notify on NETDEV_CHANGEMTU), and
 * the stack cannot keep an IPv6 address there either (RFC 8200 §5): the stack's IPv6
 * addresses and their rules go first, without waiting for the kernel's deletions, which come
 * after the link's new MTU. */
static void follow_mtu(struct shared_worker *w, uint32_t kmtu)
{
	struct shared_run *r = w->run;
	uint32_t was = w->mtu;
	if (kmtu == was)
		return;
	w->mtu = kmtu;
	const struct sl_dev *d = sl_stack_dev(w->st);
	uint32_t max = d->max_mtu > d->mtu ? d->max_mtu : d->mtu;
	uint32_t mtu = kmtu < max ? kmtu : max;
	if (mtu < IPV6_MIN_MTU) {
		sl_ip ips[SL_MAX_ADDRS];
		int n = sl_ip_get_ips(w->st, ips, SL_MAX_ADDRS);
		for (int i = 0; i < n; i++) {
			if (sl_ip_is_v4(&ips[i]))
				continue;
			if (w->rules)
				rules_del(r, &ips[i]);
			sl_ip_del_addr(w->st, &ips[i]);
		}
	}
	int err = sl_stack_set_mtu(w->st, mtu);
	if (!w->rules)
		return; /* queue 0's thread speaks for all */
	if (err)
		fprintf(stderr, "sluice: warning: cannot follow the MTU of %s (%u): %s\n",
			r->ifname, kmtu, sl_strerror(err));
	else if (mtu < kmtu)
		fprintf(stderr,
			"sluice: the MTU of %s is %u, more than sluice's AF_XDP frames carry: sluice "
			"uses %u\n",
			r->ifname, kmtu, mtu);
	else if (was)
		fprintf(stderr, "sluice: the MTU of %s is now %u (was %u): sluice follows\n",
			r->ifname, kmtu, was);
}

/* --- the kernel's events, applied to one stack ------------------------------------------ */

static void apply(void *arg, const struct km_event *ev)
{
	struct shared_worker *w = arg;
	struct shared_run *r = w->run;
	char t[64];
	int err;
	switch (ev->kind) {
	case KM_ADDR_ADD:
		err = sl_ip_add_addr(w->st, &ev->ip, ev->plen);
		if (err == -ENOSPC && !r->addr_full_warned) {
			r->addr_full_warned = true;
			fprintf(stderr,
				"sluice: warning: %s has more than %d addresses: %s not served\n",
				r->ifname, SL_MAX_ADDRS, sl_ip_str(&ev->ip, t, sizeof(t)));
		}
		if ((!err || err == -EEXIST) && w->rules)
			rules_add(r, &ev->ip);
		break;
	case KM_ADDR_DEL:
		if (w->rules)
			rules_del(r, &ev->ip); /* first: no frame for it reaches a stack without it */
		sl_ip_del_addr(w->st, &ev->ip);
		break;
	case KM_GW_SET:
	case KM_GW_DEL:
		sl_ip_set_gateway(w->st, &ev->ip);
		break;
	case KM_ROUTE_ADD:
		err = sl_ip_add_route(w->st, &ev->ip, ev->plen, &ev->gw);
		if (err == -ENOSPC && w->rules && !r->route_full_warned) {
			r->route_full_warned = true;
			fprintf(stderr,
				"sluice: warning: %s has more than %d routes: %s/%u not followed\n",
				r->ifname, SL_MAX_ROUTES, sl_ip_str(&ev->ip, t, sizeof(t)), ev->plen);
		}
		break;
	case KM_ROUTE_DEL:
		sl_ip_del_route(w->st, &ev->ip, ev->plen);
		break;
	case KM_NEIGH:
		sl_neigh_set(w->st, &ev->ip, ev->mac);
		break;
	case KM_NEIGH_FAILED:
		sl_neigh_forget(w->st, &ev->ip);
		break;
	case KM_MTU:
		follow_mtu(w, ev->mtu);
		break;
	case KM_RESYNC:
		break;
	}
}

int shared_attach(struct shared_worker *w, char *why, size_t whylen)
{
	int err = km_open(w->run->ifname, &w->km, why, whylen);
	if (err)
		return err;
	err = km_dump(w->km, apply, w);
	if (err) {
		snprintf(why, whylen, "cannot read the kernel's addresses and routes of %s: %s",
			 w->run->ifname, strerror(-err));
		km_close(w->km);
		w->km = NULL;
		return err;
	}
	if (w->rules)
		sweep(w);
	return 0;
}

/* Tuple rules on the kernel's addresses whose local port nobody holds were left by a shared
 * run that was killed (a live one holds each of its ports with a bound socket): they would
 * steer a later kernel connection that happens to reuse the tuple, so they go. */
static void sweep(struct shared_worker *w)
{
	struct shared_run *r = w->run;
	static struct sl_rule all[SL_GATE_MAX_RULES_LIST];
	sl_ip ips[SL_MAX_ADDRS];
	int nip = sl_ip_get_ips(w->st, ips, SL_MAX_ADDRS);
	unsigned swept = 0;
	pthread_mutex_lock(r->rules_mutex);
	int n = sl_gate_rule_list(r->gate, all, SL_GATE_MAX_RULES_LIST);
	for (int i = 0; i < n; i++) {
		if (all[i].kind != SL_RULE_TUPLE || all[i].proto != IPPROTO_TCP)
			continue;
		bool ours = false;
		for (int k = 0; k < nip && !ours; k++)
			ours = !memcmp(ips[k].b, all[i].addr, 16);
		struct port_hold h;
		if (!ours || port_hold(IPPROTO_TCP, all[i].port, &h) < 0)
			continue;
		port_release(&h);
		if (sl_gate_rule_del(r->gate, all[i].id) == 0)
			swept++;
	}
	pthread_mutex_unlock(r->rules_mutex);
	if (swept)
		fprintf(stderr,
			"sluice: removed %u connection rule%s of %s left by a shared run that was "
			"killed\n",
			swept, swept == 1 ? "" : "s", r->ifname);
}

void shared_resolve(void *arg, struct sl_stack *st, const sl_ip *ip)
{
	struct shared_worker *w = arg;
	if (w->km)
		km_resolve(w->km, ip);
}

int shared_aux(void *arg, struct sl_stack *st)
{
	struct shared_worker *w = arg;
	/* A failed read (the socket's error is reported once by recv) is retried at the next
	 * check; it never stops the stack. */
	(void)km_poll(w->km, apply, w);
	return 0;
}

void shared_detach(struct shared_worker *w)
{
	km_close(w->km);
	w->km = NULL;
}

void shared_end(struct shared_run *r)
{
	rules_del(r, NULL);
	for (unsigned i = 0; i < r->n_ports; i++)
		port_release(&r->ports[i].hold);
}
