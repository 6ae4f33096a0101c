/*
 * The kernel's addresses, default routes, neighbours and MTU of one interface, over rtnetlink
 * (RFC 3549 §2.3.3; rtnetlink(7), netlink(7)). See kmirror.h.
 *
 * One socket does everything: it is subscribed to the link, address, route and neighbour
 * groups, dumps go out on it one at a time (the kernel allows one dump per socket), and the
 * requests of km_resolve are sent on it without an acknowledgement being waited for. Every
 * message it receives, dump part, event or reply alike, is turned into the same events, so
 * applying them twice is harmless and the order of dump and event does not matter.
 */
#include "kmirror.h"
#include <errno.h>
#include <net/if.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The uapi macros (NLMSG_OK, RTA_OK) compare the kernel's unsigned lengths with int ones. */
#pragma GCC diagnostic ignored "-Wsign-compare"

#define KM_BUF 65536
#define KM_DUMP_MS 3000 /* a dump that does not finish in this time fails */

struct kmirror {
	int fd;
	int ifindex;
	uint32_t seq;
	uint32_t mtu;
	bool warned; /* a refused resolution request was reported */
	bool lost;   /* the socket overflowed during a dump: events are missing */
	uint8_t buf[KM_BUF];
};

int km_fd(const struct kmirror *km)
{
	return km->fd;
}

int km_open(const char *ifname, struct kmirror **out, char *why, size_t whylen)
{
	struct kmirror *km = calloc(1, sizeof(*km));
	if (!km) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	km->ifindex = (int)if_nametoindex(ifname);
	if (!km->ifindex) {
		int e = errno;
		snprintf(why, whylen, "no interface %s: %s", ifname, strerror(e));
		free(km);
		return -e;
	}
	km->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (km->fd < 0) {
		int e = errno;
		snprintf(why, whylen, "netlink socket: %s", strerror(e));
		free(km);
		return -e;
	}
	int rcv = 1 << 20;
	setsockopt(km->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
				 .nl_groups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR |
					      RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
					      RTMGRP_IPV6_ROUTE};
	if (bind(km->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		snprintf(why, whylen, "netlink bind: %s", strerror(e));
		close(km->fd);
		free(km);
		return -e;
	}
	km->seq = (uint32_t)time(NULL);
	*out = km;
	return 0;
}

void km_close(struct kmirror *km)
{
	if (!km)
		return;
	close(km->fd);
	free(km);
}

static int send_msg(struct kmirror *km, struct nlmsghdr *h)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK};
	h->nlmsg_seq = ++km->seq;
	if (sendto(km->fd, h, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static void add_attr(struct nlmsghdr *h, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* The address in an attribute of family fam, as an sl_ip; false when it is not one. */
static bool attr_ip(const struct rtattr *a, int fam, sl_ip *out)
{
	if (fam == AF_INET && RTA_PAYLOAD(a) == 4) {
		uint32_t v;
		memcpy(&v, RTA_DATA(a), 4);
		*out = sl_ip_v4(__builtin_bswap32(v));
		return true;
	}
	if (fam == AF_INET6 && RTA_PAYLOAD(a) == 16) {
		memcpy(out->b, RTA_DATA(a), 16);
		return true;
	}
	return false;
}

static void on_addr(struct kmirror *km, const struct nlmsghdr *h, km_cb cb, void *arg)
{
	const struct ifaddrmsg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || (int)m->ifa_index != km->ifindex ||
	    (m->ifa_family != AF_INET && m->ifa_family != AF_INET6))
		return;
	struct km_event ev = {.plen = m->ifa_prefixlen};
	uint32_t flags = m->ifa_flags;
	bool have = false, local = false;
	int len = (int)IFA_PAYLOAD(h);
	for (struct rtattr *a = IFA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		/* IPv4: IFA_LOCAL is the interface's address (IFA_ADDRESS the peer's on a
		 * point-to-point link); IPv6 has IFA_ADDRESS only. */
		if (a->rta_type == IFA_LOCAL && attr_ip(a, m->ifa_family, &ev.ip))
			have = local = true;
		else if (a->rta_type == IFA_ADDRESS && !local && attr_ip(a, m->ifa_family, &ev.ip))
			have = true;
		else if (a->rta_type == IFA_FLAGS && RTA_PAYLOAD(a) == 4)
			memcpy(&flags, RTA_DATA(a), 4);
	}
	if (!have)
		return;
	/* RFC 4862 §5.4: a tentative address is not the kernel's yet, a DAD-failed one never. */
	bool usable = !(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
	ev.kind = h->nlmsg_type == RTM_NEWADDR && usable ? KM_ADDR_ADD : KM_ADDR_DEL;
	cb(arg, &ev);
}

static void on_route(struct kmirror *km, const struct nlmsghdr *h, km_cb cb, void *arg)
{
	const struct rtmsg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->rtm_type != RTN_UNICAST ||
	    (m->rtm_flags & RTM_F_CLONED) ||
	    (m->rtm_family != AF_INET && m->rtm_family != AF_INET6))
		return;
	bool v4 = m->rtm_family == AF_INET;
	uint32_t table = m->rtm_table, oif = 0;
	struct km_event ev = {0};
	bool gw = false, dst = false;
	int len = (int)RTM_PAYLOAD(h);
	for (struct rtattr *a = RTM_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
			memcpy(&table, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_GATEWAY)
			gw = attr_ip(a, m->rtm_family, m->rtm_dst_len ? &ev.gw : &ev.ip);
		else if (a->rta_type == RTA_DST)
			dst = attr_ip(a, m->rtm_family, &ev.ip);
	}
	/* The main table's unicast routes through this interface; policy routing, other tables,
	 * multipath and blackhole/unreachable routes are not followed (docs/architecture.md). */
	if (table != RT_TABLE_MAIN || (int)oif != km->ifindex)
		return;
	if (m->rtm_dst_len) {
		if (!dst || m->rtm_dst_len > (v4 ? 32 : 128))
			return;
		if (!gw) {
			memset(&ev.gw, 0, sizeof(ev.gw));
			if (v4)
				ev.gw = sl_ip_v4(0);
		}
		ev.plen = m->rtm_dst_len;
		ev.kind = h->nlmsg_type == RTM_NEWROUTE ? KM_ROUTE_ADD : KM_ROUTE_DEL;
		cb(arg, &ev);
		return;
	}
	if (!gw)
		return;
	if (h->nlmsg_type == RTM_NEWROUTE) {
		ev.kind = KM_GW_SET;
	} else {
		ev.kind = KM_GW_DEL;
		memset(&ev.ip, 0, sizeof(ev.ip));
		if (v4)
			ev.ip = sl_ip_v4(0);
	}
	cb(arg, &ev);
}

static void on_neigh(struct kmirror *km, const struct nlmsghdr *h, km_cb cb, void *arg)
{
	const struct ndmsg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->ndm_ifindex != km->ifindex ||
	    (m->ndm_family != AF_INET && m->ndm_family != AF_INET6) ||
	    h->nlmsg_type != RTM_NEWNEIGH)
		return;
	struct km_event ev = {0};
	bool dst = false, ll = false;
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (struct rtattr *a = (struct rtattr *)((uint8_t *)m + NLMSG_ALIGN(sizeof(*m)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_DST)
			dst = attr_ip(a, m->ndm_family, &ev.ip);
		else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
			memcpy(ev.mac, RTA_DATA(a), 6);
			ll = true;
		}
	}
	if (!dst)
		return;
	if (m->ndm_state & NUD_FAILED) {
		ev.kind = KM_NEIGH_FAILED;
		cb(arg, &ev);
		return;
	}
	if (ll && (m->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
				   NUD_PERMANENT))) {
		ev.kind = KM_NEIGH;
		cb(arg, &ev);
	}
}

static void on_link(struct kmirror *km, const struct nlmsghdr *h, km_cb cb, void *arg)
{
	const struct ifinfomsg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->ifi_index != km->ifindex ||
	    h->nlmsg_type != RTM_NEWLINK)
		return;
	int len = (int)IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) == 4) {
			uint32_t mtu;
			memcpy(&mtu, RTA_DATA(a), 4);
			if (mtu != km->mtu) {
				km->mtu = mtu;
				struct km_event ev = {.kind = KM_MTU, .mtu = mtu};
				cb(arg, &ev);
			}
		}
	}
}

/* Handle what one recv brought. Returns the number of messages, and sets *done when the dump
 * with sequence number seq (0: none) ended (or failed: *err). */
static int dispatch(struct kmirror *km, size_t n, km_cb cb, void *arg, uint32_t seq, bool *done,
		    int *err)
{
	int count = 0;
	int len = (int)n;
	for (struct nlmsghdr *h = (struct nlmsghdr *)km->buf; NLMSG_OK(h, len);
	     h = NLMSG_NEXT(h, len)) {
		count++;
		switch (h->nlmsg_type) {
		case NLMSG_DONE:
			if (seq && h->nlmsg_seq == seq)
				*done = true;
			break;
		case NLMSG_ERROR: {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			if (seq && h->nlmsg_seq == seq) {
				*done = true;
				*err = e->error;
			} else if (e->error && e->error != -ENOENT && !km->warned) {
				/* A resolution request the kernel refused (the get of an unknown
				 * entry, ENOENT, is expected). */
				km->warned = true;
				fprintf(stderr,
					"sluice: warning: the kernel refused a neighbour resolution "
					"request: %s\n",
					strerror(-e->error));
			}
			break;
		}
		case RTM_NEWADDR:
		case RTM_DELADDR:
			on_addr(km, h, cb, arg);
			break;
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			on_route(km, h, cb, arg);
			break;
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH:
			on_neigh(km, h, cb, arg);
			break;
		case RTM_NEWLINK:
		case RTM_DELLINK:
			on_link(km, h, cb, arg);
			break;
		default:
			break;
		}
		/* The answer to a get is one message (a dump's parts are NLM_F_MULTI, to DONE). */
		if (seq && h->nlmsg_seq == seq && !(h->nlmsg_flags & NLM_F_MULTI))
			*done = true;
	}
	return count;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Send h (a dump or a get) and deliver everything until its answer is complete. */
static int request(struct kmirror *km, struct nlmsghdr *h, km_cb cb, void *arg)
{
	int err = send_msg(km, h);
	if (err)
		return err;
	uint32_t seq = km->seq;
	bool done = false;
	uint64_t until = now_ms() + KM_DUMP_MS;
	while (!done) {
		ssize_t n = recv(km->fd, km->buf, sizeof(km->buf), 0);
		if (n < 0 && errno == EAGAIN) {
			uint64_t now = now_ms();
			if (now >= until)
				return -ETIMEDOUT;
			struct pollfd p = {.fd = km->fd, .events = POLLIN};
			poll(&p, 1, (int)(until - now));
			continue;
		}
		if (n < 0 && errno == ENOBUFS) {
			km->lost = true; /* events lost meanwhile: km_dump starts again */
			continue;
		}
		if (n < 0)
			return -errno;
		dispatch(km, (size_t)n, cb, arg, seq, &done, &err);
	}
	return err;
}

static int dump(struct kmirror *km, uint16_t type, uint8_t family, km_cb cb, void *arg)
{
	struct {
		struct nlmsghdr h;
		union {
			struct ifaddrmsg a;
			struct rtmsg r;
			struct ndmsg n;
		} u;
	} req;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_type = type;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	size_t body = type == RTM_GETADDR	 ? sizeof(struct ifaddrmsg)
		      : type == RTM_GETROUTE ? sizeof(struct rtmsg)
					     : sizeof(struct ndmsg);
	req.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
	/* The family is the first byte of each of the three headers. */
	req.u.a.ifa_family = family;
	return request(km, &req.h, cb, arg);
}

int km_dump(struct kmirror *km, km_cb cb, void *arg)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} link;
	memset(&link, 0, sizeof(link));
	link.h.nlmsg_type = RTM_GETLINK;
	link.h.nlmsg_flags = NLM_F_REQUEST;
	link.h.nlmsg_len = NLMSG_LENGTH(sizeof(link.i));
	link.i.ifi_index = km->ifindex;
	int err = 0;
	for (int round = 0; round < 3; round++) {
		km->lost = false;
		km->mtu = 0;
		err = request(km, &link.h, cb, arg);
		if (!err)
			err = dump(km, RTM_GETADDR, AF_UNSPEC, cb, arg);
		if (!err)
			err = dump(km, RTM_GETROUTE, AF_UNSPEC, cb, arg);
		if (!err)
			err = dump(km, RTM_GETNEIGH, AF_UNSPEC, cb, arg);
		if (err || !km->lost)
			break;
	}
	return err;
}

int km_poll(struct kmirror *km, km_cb cb, void *arg)
{
	int total = 0;
	for (;;) {
		ssize_t n = recv(km->fd, km->buf, sizeof(km->buf), 0);
		if (n < 0 && errno == EAGAIN)
			return total;
		if (n < 0 && errno == ENOBUFS) {
			/* The kernel dropped events for us: start again from its state. */
			struct km_event ev = {.kind = KM_RESYNC};
			cb(arg, &ev);
			int err = km_dump(km, cb, arg);
			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return -errno;
		bool done = false;
		int err = 0;
		total += dispatch(km, (size_t)n, cb, arg, 0, &done, &err);
	}
}

int km_resolve(struct kmirror *km, const sl_ip *ip)
{
	struct {
		struct nlmsghdr h;
		struct ndmsg n;
		uint8_t attrs[64];
	} req;
	bool v4 = sl_ip_is_v4(ip);
	const void *a = v4 ? (const void *)(ip->b + 12) : (const void *)ip->b;
	size_t alen = v4 ? 4 : 16;

	/* neigh_add() in the kernel: with NTF_USE the entry is made (NLM_F_CREATE) and
	 * neigh_event_send() starts a resolution the kernel's way (its retries, its source). */
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_type = RTM_NEWNEIGH;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.n));
	req.n.ndm_family = v4 ? AF_INET : AF_INET6;
	req.n.ndm_ifindex = km->ifindex;
	req.n.ndm_state = NUD_NONE;
	req.n.ndm_flags = NTF_USE;
	add_attr(&req.h, NDA_DST, a, alen);
	int err = send_msg(km, &req.h);
	if (err)
		return err;

	/* An entry the kernel already has (reachable: no event follows the request) arrives as
	 * the reply to this get. */
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_type = RTM_GETNEIGH;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.n));
	req.n.ndm_family = v4 ? AF_INET : AF_INET6;
	req.n.ndm_ifindex = km->ifindex;
	add_attr(&req.h, NDA_DST, a, alen);
	return send_msg(km, &req.h);
}
