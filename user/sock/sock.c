/*
 * The BSD socket layer (include/sluice/socket.h): socket(2) semantics as Linux has them, over
 * the stack's TCP and UDP APIs. Where Linux's behaviour is the rule, the comment names the
 * kernel function or man page it follows.
 *
 * A stream socket holds a connection (struct sl_tcp_flow) or a listener; a datagram socket
 * holds a UDP port and its own bounded receive queue. Every state change a callback reports
 * bumps the socket's edge count (edge-triggered epoll) after updating what sl_sock_events
 * computes from the connection itself, so readiness is never stored twice.
 */
#include "sluice/socket.h"
#include <errno.h>
#include <limits.h>
#include <linux/errqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sluice/ip.h"
#include "sluice/stack.h"
#include "sluice/tcp.h"
#include "sluice/udp.h"

#define EPH_LO 32768 /* bind(port 0): Linux's default ip_local_port_range */
#define EPH_HI 60999
#define RCVBUF_DEFAULT_TCP 131072 /* tcp_rmem[1] */
#define SNDBUF_DEFAULT_TCP 16384  /* tcp_wmem[1] */
#define BUF_DEFAULT_UDP 212992	  /* rmem_default, wmem_default */
#define BUF_MAX 425984		  /* 2 · rmem_max: what a set can reach */
#define BUF_MIN_RCV 2304	  /* SOCK_MIN_RCVBUF */
#define BUF_MIN_SND 4608	  /* SOCK_MIN_SNDBUF */
#define BACKLOG_MAX 4096	  /* somaxconn */
#define UDP_MAX 65507
#define RCVLOWAT_MAX 3145728	  /* tcp_set_rcvlowat: tcp_rmem[2] / 2, SO_RCVBUF not set */

enum sk_state { SK_FREE = 0, SK_OPEN, SK_LISTEN, SK_CONNECTING, SK_CONNECTED };

struct dgram {
	struct dgram *next;
	sl_ip src, dst; /* dst: the address it was sent to (IP_PKTINFO) */
	uint16_t sport;
	size_t len;
	uint8_t data[];
};

/* An ICMP error queued on a datagram socket with IP_RECVERR / IPV6_RECVERR (ip(7)): what
 * recvmsg(MSG_ERRQUEUE) returns, the quoted payload of the datagram it concerns first. */
struct errq {
	struct errq *next;
	int err;
	uint8_t type, code;
	uint32_t info;
	sl_ip offender, dst;
	uint16_t dport;
	size_t len;
	uint8_t data[];
};
#define ERRQ_MAX 64 /* queued errors per socket; more are dropped (Linux bounds by rcvbuf) */

struct sk {
	struct sl_sockets *ss;
	enum sk_state state;
	int family, type;
	bool nonblock, v6only;
	bool bound, any; /* any: a wildcard address */
	bool user_addr, user_port; /* bind named them (SOCK_BINDADDR_LOCK, SOCK_BINDPORT_LOCK) */
	sl_ip laddr;
	uint16_t lport;
	bool has_peer; /* connected (TCP) or a default destination (UDP) */
	sl_ip raddr;
	uint16_t rport;
	struct sl_tcp_flow *f;
	bool eof_seen, closed; /* on_closed came */
	bool rd_shut, wr_shut;
	bool was_connected;
	int err;       /* SO_ERROR: positive errno */
	bool err_read; /* the connection's error was returned by a read once */
	bool connect_pending; /* a non-blocking connect whose outcome connect() has not said */
	/* listener */
	struct sl_tcp_flow **aq;
	unsigned aq_head, aq_n, aq_cap;
	/* datagram */
	struct dgram *rx_head, *rx_tail;
	size_t rx_bytes;
	/* options */
	bool reuseaddr, reuseport, keepalive, nodelay, cork;
	bool broadcast, oobinline; /* kept and read back, not acted on */
	int priority;		   /* likewise */
	int ttl, hops; /* IP_TTL, IPV6_UNICAST_HOPS; -1: the stack's default (sl_stack_config.ttl) */
	uint8_t tos, tclass; /* IP_TOS, IPV6_TCLASS (a stream socket's ECN bits clear); 0 default */
	int rcvbuf, sndbuf;
	bool rcvbuf_set; /* SO_RCVBUF given (SOCK_RCVBUF_LOCK) */
	int rcvlowat;	 /* SO_RCVLOWAT, >= 1 */
	size_t peek_need; /* a blocking MSG_PEEK waits for this many readable bytes */
	struct linger linger;
	int ka_idle, ka_intvl, ka_cnt;
	int user_timeout_ms; /* TCP_USER_TIMEOUT, 0: none (RFC 5482) */
	bool pktinfo, pktinfo6; /* IP_PKTINFO, IPV6_RECVPKTINFO: recvmsg says where it came in */
	bool conn_failed; /* the last connect failed: Linux shuts such a socket both ways (tcp_done) */
	bool recverr, recverr6; /* IP_RECVERR, IPV6_RECVERR */
	struct errq *eq_head, *eq_tail;
	unsigned eq_n;
	/* UDP_CORK / MSG_MORE: the datagram being added to (uc_buf: UDP_MAX bytes once used) */
	bool udp_cork, uc_pending;
	uint8_t *uc_buf;
	size_t uc_len;
	sl_ip uc_dst;
	uint16_t uc_port;
	int maxseg;	     /* TCP_MAXSEG set, 0: none */
	int defer_accept;    /* TCP_DEFER_ACCEPT as Linux reads it back (seconds, rounded) */
	char cc[16]; /* TCP_CONGESTION set on the socket (the stack's name); "": the stack's */
	uint64_t rcvtimeo_ns, sndtimeo_ns;
	uint64_t edge;
	bool changed; /* on the layer's queue of changed sockets (kept across close and reuse) */
	int32_t port_next; /* the next socket on this port's list (listeners, bound UDP) */
	bool on_port;	   /* on that list */
};

struct sl_sockets {
	struct sl_stack *st;
	unsigned ifindex; /* the stack's interface in this namespace (IP_PKTINFO); 0: none */
	struct sk *sk;
	unsigned cap;
	/* The stack has one listener per TCP port and one receiver per UDP port; several
	 * sockets may share a port (another address, the other family, V6ONLY, SO_REUSEPORT):
	 * the stack's callback goes to the layer, which picks the socket (port_best). Heads of
	 * the per-port lists of listening TCP and bound UDP sockets, -1 when empty. */
	int32_t *tcp_port, *udp_port;
	uint16_t next_eph;
	uint64_t next_due;
	/* sl_sockets_set_lazy: non-blocking calls that can be answered from what a socket
	 * holds do not poll the stack. unflushed: one of them may have left output queued;
	 * cleared by every poll. Atomic (relaxed) because sl_sockets_unflushed may be asked from
	 * any thread, as a hint, without the caller's lock. */
	bool lazy;
	atomic_bool unflushed;
	/* Handles whose edge count moved since sl_sockets_changed last returned them, each once
	 * (room for every handle); no handle below free_lo is free (sl_sock_socket's search). */
	int32_t *chq;
	unsigned chn;
	unsigned free_lo;
};

static int udp_attach(struct sk *k);
static int udp_connect(struct sk *k, const struct sockaddr *a, socklen_t len);

/* The TTL or hop limit for a packet to dst: IP_TTL for IPv4 (an AF_INET6 socket's v4-mapped
 * peers included, as Linux does), IPV6_UNICAST_HOPS for IPv6; 0 lets the stack use its default.
 * A hop limit of 0 set with IPV6_UNICAST_HOPS is read back but sent as the default. */
static uint8_t ttl_for(const struct sk *k, const sl_ip *dst)
{
	int v = sl_ip_is_v4(dst) ? k->ttl : k->hops;
	return v > 0 ? (uint8_t)v : 0;
}

/* The TOS byte or traffic class for a packet to dst: IP_TOS for IPv4 (v4-mapped peers of an
 * AF_INET6 socket included), IPV6_TCLASS for IPv6, as for the TTL. */
static uint8_t tos_for(const struct sk *k, const sl_ip *dst)
{
	return sl_ip_is_v4(dst) ? k->tos : k->tclass;
}

/* A connection's segments follow the socket's IP_TTL / IPV6_UNICAST_HOPS and IP_TOS /
 * IPV6_TCLASS. */
static void apply_iphdr(const struct sk *k, struct sl_tcp_flow *f)
{
	if (!f)
		return;
	sl_ip l, r;
	uint16_t lp, rp;
	sl_tcp_endpoints(f, &l, &lp, &r, &rp);
	sl_tcp_set_ttl(f, ttl_for(k, &r));
	sl_tcp_set_tos(f, tos_for(k, &r));
}

/* A new connection (connected or accepted) takes the socket's TCP_CORK and TCP_USER_TIMEOUT
 * (its TTL and TOS: apply_iphdr, or the connect options of its SYN). */
static void apply_flow_opts(const struct sk *k, struct sl_tcp_flow *f)
{
	if (k->cork)
		sl_tcp_set_cork(f, true);
	if (k->user_timeout_ms)
		sl_tcp_set_user_timeout(f, (uint32_t)k->user_timeout_ms);
}

/* A listening socket's SYN-ACKs carry its IP_TTL / IPV6_UNICAST_HOPS and IP_TOS / IPV6_TCLASS
 * (Linux sends them from the listener: ip_build_and_send_pkt, ip6_xmit). Sockets sharing a port
 * (SO_REUSEPORT) share the stack's listener: the last one to listen or set an option decides. */
static void listener_iphdr(struct sl_sockets *ss, const struct sk *k)
{
	sl_tcp_listen_iptx(ss->st, k->lport, false, k->ttl > 0 ? (uint8_t)k->ttl : 0, k->tos);
	sl_tcp_listen_iptx(ss->st, k->lport, true, k->hops > 0 ? (uint8_t)k->hops : 0, k->tclass);
}

/* A socket's IP header options changed: its connection, or its listener's SYN-ACKs, follow. */
static void iphdr_changed(struct sl_sockets *ss, const struct sk *k)
{
	if (k->type != SOCK_STREAM)
		return;
	if (k->state == SK_LISTEN)
		listener_iphdr(ss, k);
	else
		apply_iphdr(k, k->f);
}

/* k may have become ready for something: its edge count moves, and it joins the queue of
 * sockets sl_sockets_changed returns. */
static void bump(struct sk *k)
{
	struct sl_sockets *ss = k->ss;
	k->edge++;
	if (!k->changed) {
		k->changed = true;
		ss->chq[ss->chn++] = (int32_t)(k - ss->sk);
	}
}

/* --- helpers -------------------------------------------------------------------------- */

static struct sk *get(struct sl_sockets *ss, int s)
{
	if (s < 0 || (unsigned)s >= ss->cap || ss->sk[s].state == SK_FREE)
		return NULL;
	return &ss->sk[s];
}

bool sl_sock_valid(struct sl_sockets *ss, int s)
{
	return get(ss, s) != NULL;
}

static bool is_any(const sl_ip *a)
{
	return sl_ip_is_zero(a) || (sl_ip_is_v4(a) && sl_ip_to_v4(a) == 0);
}

/* A socket address of k's family into an sl_ip and port. IPv4-mapped IPv6 addresses are IPv4
 * (sl_ip stores IPv4 that way: the bytes are the same). */
static int from_sockaddr(const struct sk *k, const struct sockaddr *a, socklen_t len, sl_ip *ip,
			 uint16_t *port)
{
	if (!a)
		return -EFAULT;
	if (k->family == AF_INET) {
		if (len < (socklen_t)sizeof(struct sockaddr_in))
			return -EINVAL;
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
		if (s4->sin_family != AF_INET)
			return -EAFNOSUPPORT;
		*ip = sl_ip_v4(ntohl(s4->sin_addr.s_addr));
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (len < (socklen_t)sizeof(struct sockaddr_in6))
		return -EINVAL;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
	if (s6->sin6_family != AF_INET6)
		return -EAFNOSUPPORT;
	memcpy(ip->b, &s6->sin6_addr, 16);
	*port = ntohs(s6->sin6_port);
	return 0;
}

/* A datagram socket of AF_INET6 also takes a plain sockaddr_in (udpv6_sendmsg,
 * __ip6_datagram_connect): its address, v4-mapped. */
static int udp_from_sockaddr(const struct sk *k, const struct sockaddr *a, socklen_t len,
			     sl_ip *ip, uint16_t *port)
{
	if (a && k->family == AF_INET6 && len >= (socklen_t)sizeof(sa_family_t) &&
	    a->sa_family == AF_INET) {
		if (len < (socklen_t)sizeof(struct sockaddr_in))
			return -EINVAL;
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
		*ip = sl_ip_v4(ntohl(s4->sin_addr.s_addr));
		*port = ntohs(s4->sin_port);
		return 0;
	}
	return from_sockaddr(k, a, len, ip, port);
}

static void to_sockaddr(const struct sk *k, const sl_ip *ip, uint16_t port, struct sockaddr *a,
			socklen_t *len)
{
	if (!a || !len)
		return;
	struct sockaddr_storage ss;
	socklen_t n;
	memset(&ss, 0, sizeof(ss));
	if (k->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(sl_ip_is_zero(ip) ? 0 : sl_ip_to_v4(ip));
		n = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, ip->b, 16);
		n = sizeof(*s6);
	}
	memcpy(a, &ss, *len < n ? *len : n);
	*len = n; /* the true size, as the kernel reports it */
}

static sl_ip wildcard(const struct sk *k)
{
	sl_ip z = {{0}};
	return k->family == AF_INET ? sl_ip_v4(0) : z;
}

/* Is ip one of the stack's usable addresses? */
static bool ours(struct sl_sockets *ss, const sl_ip *ip)
{
	return sl_ip_addr_state(ss->st, ip) == 0;
}

static bool overlaps(const struct sk *a, const struct sk *b)
{
	if (a->any || b->any) {
		/* An IPv4 wildcard does not cover IPv6 addresses, nor a V6ONLY one IPv4. */
		const struct sk *w = a->any ? a : b, *o = a->any ? b : a;
		if (o->any)
			return !(w->family == AF_INET && o->v6only) &&
			       !(o->family == AF_INET && w->v6only) &&
			       !(w->family == AF_INET6 && w->v6only && o->family == AF_INET) &&
			       !(o->family == AF_INET6 && o->v6only && w->family == AF_INET);
		bool v4 = sl_ip_is_v4(&o->laddr);
		return w->family == AF_INET ? v4 : !(v4 && w->v6only);
	}
	return sl_ip_eq(&a->laddr, &b->laddr);
}

/* Linux's bind conflict rule (inet_csk_bind_conflict, udp_lib_lport_inuse): two sockets of
 * one type share a port only with SO_REUSEPORT on both, or SO_REUSEADDR on both when neither
 * is a TCP listener (for UDP, SO_REUSEADDR on both). */
static bool port_taken(struct sl_sockets *ss, const struct sk *k, uint16_t port, bool listening)
{
	for (unsigned i = 0; i < ss->cap; i++) {
		const struct sk *o = &ss->sk[i];
		if (o == k || o->state == SK_FREE || !o->bound || o->type != k->type ||
		    o->lport != port || !overlaps(o, k))
			continue;
		if (k->reuseport && o->reuseport)
			continue;
		/* inet_csk_bind_conflict: with SO_REUSEADDR on both, only a listener conflicts. */
		if (k->reuseaddr && o->reuseaddr && (k->type == SOCK_DGRAM || o->state != SK_LISTEN))
			continue;
		return true;
	}
	/* A connection on the port (accepted, or one that outlives its socket in FIN-WAIT or
	 * TIME-WAIT) holds it against a bind without SO_REUSEADDR: Linux keeps it in the port's
	 * bind bucket. */
	if (k->type == SOCK_STREAM && !k->reuseaddr && !listening) {
		static struct sl_tcp_conn conns[1024];
		size_t n = sl_tcp_conns(ss->st, conns, 1024);
		for (size_t i = 0; i < n && i < 1024; i++) {
			if (conns[i].lport == port)
				return true;
		}
	}
	return false;
}

static int pick_port(struct sl_sockets *ss, struct sk *k)
{
	unsigned range = EPH_HI - EPH_LO + 1;
	for (unsigned n = 0; n < range; n++) {
		uint16_t p = (uint16_t)(EPH_LO + (ss->next_eph++ % range));
		if (!port_taken(ss, k, p, false))
			return p;
	}
	return -EADDRINUSE;
}

static uint64_t now_ns(void)
{
	return sl_now_ns();
}

/* --- driving the stack ------------------------------------------------------------------ */

void sl_sockets_poll(struct sl_sockets *ss)
{
	atomic_store_explicit(&ss->unflushed, false, memory_order_relaxed);
	ss->next_due = sl_stack_poll(ss->st, now_ns());
}

void sl_sockets_set_lazy(struct sl_sockets *ss, bool on)
{
	ss->lazy = on;
}

bool sl_sockets_unflushed(struct sl_sockets *ss)
{
	return atomic_load_explicit(&ss->unflushed, memory_order_relaxed);
}

void sl_sockets_flush(struct sl_sockets *ss)
{
	if (sl_sockets_unflushed(ss))
		sl_sockets_poll(ss);
}

/* A call on k with flags that may skip polling the stack (sl_sockets_set_lazy): a
 * non-blocking one, with lazy polling on. */
static bool lazy_call(const struct sl_sockets *ss, const struct sk *k, int flags)
{
	return ss->lazy && (k->nonblock || (flags & MSG_DONTWAIT));
}

static void defer(struct sl_sockets *ss)
{
	atomic_store_explicit(&ss->unflushed, true, memory_order_relaxed);
}

/* Poll now, unless the call is lazy: then note that output may wait for the next poll. */
static void poll_or_defer(struct sl_sockets *ss, bool lazy)
{
	if (lazy)
		defer(ss);
	else
		sl_sockets_poll(ss);
}

int sl_sockets_fd(struct sl_sockets *ss)
{
	return sl_dev_fd(sl_stack_dev(ss->st));
}

uint64_t sl_sockets_next(struct sl_sockets *ss)
{
	return ss->next_due;
}

int sl_sockets_wait(struct sl_sockets *ss, uint64_t timeout_ns)
{
	int ret = 0;
	sl_sockets_flush(ss); /* nothing a lazy call queued waits through the sleep */
	uint64_t now = now_ns();
	uint64_t wait = timeout_ns;
	if (ss->next_due != UINT64_MAX)
		wait = ss->next_due <= now ? 0 : (ss->next_due - now < wait ? ss->next_due - now : wait);
	if (wait) {
		struct pollfd p = {.fd = sl_sockets_fd(ss), .events = POLLIN};
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ULL),
				      .tv_nsec = (long)(wait % 1000000000ULL)};
		if (ppoll(p.fd >= 0 ? &p : NULL, p.fd >= 0 ? 1 : 0, &ts, NULL) < 0 && errno == EINTR)
			ret = -EINTR;
	}
	sl_sockets_poll(ss);
	return ret;
}

/* Block until ready(k) or the deadline (0: none): -EAGAIN when it passed. */
static int block(struct sl_sockets *ss, struct sk *k, bool (*ready)(struct sk *), uint64_t tmo)
{
	uint64_t deadline = tmo ? now_ns() + tmo : 0;
	sl_sockets_poll(ss);
	while (!ready(k)) {
		uint64_t left = 100000000ULL;
		if (deadline) {
			uint64_t now = now_ns();
			if (now >= deadline)
				return -EAGAIN;
			if (deadline - now < left)
				left = deadline - now;
		}
		/* A handler ran: the call fails EINTR, as Linux's does for a handler without
		 * SA_RESTART (sk_wait_event, sock_intr_errno). */
		if (sl_sockets_wait(ss, left) == -EINTR && !ready(k))
			return -EINTR;
	}
	return 0;
}

/* --- layer ------------------------------------------------------------------------------ */

int sl_sockets_new(struct sl_stack *st, unsigned max, struct sl_sockets **out)
{
	if (!st || max < 1 || max > 65536)
		return -EINVAL;
	struct sl_sockets *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->sk = calloc(max, sizeof(*ss->sk));
	if (!ss->sk) {
		free(ss);
		return -ENOMEM;
	}
	ss->tcp_port = malloc(65536 * sizeof(*ss->tcp_port));
	ss->udp_port = malloc(65536 * sizeof(*ss->udp_port));
	ss->chq = malloc(max * sizeof(*ss->chq));
	if (!ss->tcp_port || !ss->udp_port || !ss->chq) {
		free(ss->chq);
		free(ss->tcp_port);
		free(ss->udp_port);
		free(ss->sk);
		free(ss);
		return -ENOMEM;
	}
	for (unsigned p = 0; p < 65536; p++)
		ss->tcp_port[p] = ss->udp_port[p] = -1;
	ss->st = st;
	ss->ifindex = if_nametoindex(sl_stack_dev(st)->name); /* 0 for a device of no name */
	ss->cap = max;
	ss->next_eph = (uint16_t)(now_ns() % (EPH_HI - EPH_LO + 1));
	ss->next_due = 0;
	*out = ss;
	return 0;
}

void sl_sockets_free(struct sl_sockets *ss)
{
	if (!ss)
		return;
	ss->lazy = false; /* each close sends what it can at once, as before */
	for (unsigned i = 0; i < ss->cap; i++)
		if (ss->sk[i].state != SK_FREE)
			sl_sock_close(ss, (int)i);
	free(ss->sk);
	free(ss->tcp_port);
	free(ss->udp_port);
	free(ss->chq);
	free(ss);
}

struct sl_stack *sl_sockets_stack(struct sl_sockets *ss)
{
	return ss->st;
}

int sl_sock_socket(struct sl_sockets *ss, int domain, int type, int protocol)
{
	if (domain != AF_INET && domain != AF_INET6)
		return -EAFNOSUPPORT;
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (base != SOCK_STREAM && base != SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	if (protocol && !(base == SOCK_STREAM && protocol == IPPROTO_TCP) &&
	    !(base == SOCK_DGRAM && protocol == IPPROTO_UDP))
		return -EPROTONOSUPPORT;
	for (unsigned i = ss->free_lo; i < ss->cap; i++) {
		struct sk *k = &ss->sk[i];
		if (k->state != SK_FREE)
			continue;
		ss->free_lo = i + 1;
		bool changed = k->changed;
		memset(k, 0, sizeof(*k));
		k->changed = changed;
		k->ss = ss;
		k->state = SK_OPEN;
		k->family = domain;
		k->type = base;
		k->nonblock = (type & SOCK_NONBLOCK) != 0;
		k->rcvbuf = base == SOCK_STREAM ? RCVBUF_DEFAULT_TCP : BUF_DEFAULT_UDP;
		k->sndbuf = base == SOCK_STREAM ? SNDBUF_DEFAULT_TCP : BUF_DEFAULT_UDP;
		k->rcvlowat = 1;
		k->ka_idle = 7200; /* tcp_keepalive_time, _intvl, _probes */
		k->ka_intvl = 75;
		k->ka_cnt = 9;
		k->ttl = k->hops = -1;
		k->laddr = wildcard(k);
		k->raddr = wildcard(k);
		return (int)i;
	}
	ss->free_lo = ss->cap;
	return -EMFILE;
}

/* --- TCP callbacks ---------------------------------------------------------------------- */

static void apply_keepalive(struct sk *k);

static void keepalive_of(const struct sk *k, struct sl_keepalive *ka)
{
	/* Linux probes at idle, idle + intvl, ... (cnt probes) and resets at idle + cnt·intvl;
	 * sluice's Keepalive probes at after + k·interval (k = 1..probes). */
	uint64_t idle = (uint64_t)k->ka_idle * 1000000000ULL,
		 iv = (uint64_t)k->ka_intvl * 1000000000ULL;
	ka->after_ns = idle > iv ? idle - iv : 0;
	ka->interval_ns = iv;
	ka->probes = (uint32_t)k->ka_cnt;
}

static void t_connected(void *arg, struct sl_tcp_flow *f, int err)
{
	struct sk *k = arg;
	if (err) {
		k->err = -err;
		k->state = SK_OPEN; /* may connect again (Linux: back to CLOSE) */
		k->conn_failed = true;
	} else {
		k->state = SK_CONNECTED;
		k->was_connected = true;
		uint16_t lp, rp;
		sl_tcp_endpoints(f, &k->laddr, &lp, &k->raddr, &rp);
		k->lport = lp;
		k->rport = rp;
		k->bound = true;
		k->any = false;
		k->has_peer = true;
		if (k->keepalive)
			apply_keepalive(k); /* options set while it was connecting */
	}
	bump(k);
}

static void t_readable(void *arg, struct sl_tcp_flow *f)
{
	struct sk *k = arg;
	bump(k);
}

static void t_writable(void *arg, struct sl_tcp_flow *f)
{
	struct sk *k = arg;
	bump(k);
}

static void t_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	struct sk *k = arg;
	k->closed = true;
	/* tcp_reset: a reset after the peer's FIN (CLOSE-WAIT) is EPIPE, else ECONNRESET. */
	if (reason == -ECONNRESET && sl_tcp_eof(f))
		reason = -EPIPE;
	if (reason < 0 && !k->err)
		k->err = -reason;
	bump(k);
}

static const struct sl_tcp_callbacks tcp_cbs = {
    .on_connected = t_connected,
    .on_readable = t_readable,
    .on_writable = t_writable,
    .on_closed = t_closed,
};

/* A connection waiting in a listener's queue: its events only make the listener readable. */
static void q_any(void *arg, struct sl_tcp_flow *f)
{
}
static void q_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
}
static const struct sl_tcp_callbacks queued_cbs = {
    .on_readable = q_any,
    .on_writable = q_any,
    .on_closed = q_closed,
};

/* The socket of a port's list that takes a packet from (src, sport) to dst: one whose bind
 * covers dst's family and address, preferring a connected one that matches the source, then
 * one bound to dst itself, over a wildcard (Linux's compute_score). NULL: none. */
static struct sk *port_best(struct sl_sockets *ss, int32_t head, const sl_ip *dst,
			    const sl_ip *src, uint16_t sport)
{
	struct sk *best = NULL;
	int best_score = -1;
	bool v4 = sl_ip_is_v4(dst);
	for (int32_t i = head; i >= 0; i = ss->sk[i].port_next) {
		struct sk *k = &ss->sk[i];
		if ((k->family == AF_INET && !v4) || (k->family == AF_INET6 && v4 && k->v6only))
			continue;
		int score = k->family == AF_INET6 ? 0 : 1; /* IPv4 sockets first for IPv4 */
		if (!k->any) {
			if (!sl_ip_eq(dst, &k->laddr))
				continue;
			score += 4;
		}
		if (k->has_peer && k->type == SOCK_DGRAM) {
			if (!src || !sl_ip_eq(src, &k->raddr) || sport != k->rport)
				continue;
			score += 8;
		}
		if (score > best_score) {
			best = k;
			best_score = score;
		}
	}
	return best;
}

static void port_link(struct sl_sockets *ss, int32_t *heads, struct sk *k)
{
	k->port_next = heads[k->lport];
	heads[k->lport] = (int32_t)(k - ss->sk);
	k->on_port = true;
}

/* Unlink k; true when the port's list is now empty. */
static bool port_unlink(struct sl_sockets *ss, int32_t *heads, struct sk *k)
{
	int32_t idx = (int32_t)(k - ss->sk);
	for (int32_t *pp = &heads[k->lport]; *pp >= 0; pp = &ss->sk[*pp].port_next)
		if (*pp == idx) {
			*pp = k->port_next;
			break;
		}
	k->on_port = false;
	return heads[k->lport] < 0;
}

/* The families the listeners of port take, told to the stack so a SYN of another one is reset
 * at once (Linux: no listener for it) rather than accepted and then reset. */
static void listen_families(struct sl_sockets *ss, uint16_t port)
{
	bool v4 = false, v6 = false;
	for (int32_t i = ss->tcp_port[port]; i >= 0; i = ss->sk[i].port_next) {
		const struct sk *k = &ss->sk[i];
		if (k->family == AF_INET || (!k->v6only && (k->any || sl_ip_is_v4(&k->laddr))))
			v4 = true;
		if (k->family == AF_INET6 && (k->any || !sl_ip_is_v4(&k->laddr)))
			v6 = true;
	}
	sl_tcp_listen_families(ss->st, port, v4, v6);
}

/* Asked by the stack as a handshake to local:port completes: does the socket whose bind
 * covers it (port_best) have room in its queue? While it is full the handshake's last ACK is
 * dropped and the client's retransmission tries again later (Linux, tcp_abort_on_overflow 0;
 * listen(2): "the request may be ignored so that a later reattempt at connection succeeds"),
 * whatever room another socket of the port has (an IPv6 listener beside an IPv4 one, or
 * sockets bound to different addresses). No socket for it: on_accept resets it. */
static bool room_for(void *arg, const sl_ip *local, int port)
{
	struct sl_sockets *ss = arg;
	const struct sk *l = port_best(ss, ss->tcp_port[port], local, NULL, 0);
	return !l || l->aq_n < l->aq_cap;
}

static void on_accept(void *arg, struct sl_tcp_flow *f)
{
	struct sl_sockets *ss = arg;
	sl_ip la, ra;
	uint16_t lp, rp;
	sl_tcp_endpoints(f, &la, &lp, &ra, &rp);
	/* One stack listener serves the port for every address: the socket whose bind covers
	 * this connection takes it; none: reset. Its queue has room (room_for). */
	struct sk *l = port_best(ss, ss->tcp_port[lp], &la, NULL, 0);
	if (!l || l->aq_n == l->aq_cap) {
		sl_tcp_abort(f);
		return;
	}
	sl_tcp_set_callbacks(f, &queued_cbs, l);
	l->aq[(l->aq_head + l->aq_n++) % l->aq_cap] = f;
	bump(l);
}

/* --- bind, listen, accept, connect ------------------------------------------------------- */

int sl_sock_bind(struct sl_sockets *ss, int s, const struct sockaddr *a, socklen_t len)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	sl_ip ip;
	uint16_t port;
	int err = from_sockaddr(k, a, len, &ip, &port);
	if (err)
		return err;
	if (k->bound)
		return -EINVAL;
	bool any = is_any(&ip);
	if (k->family == AF_INET6 && sl_ip_is_v4(&ip) && k->v6only)
		return -EINVAL; /* inet6_bind: a v4-mapped address on a v6-only socket */
	if (!any && !ours(ss, &ip))
		return -EADDRNOTAVAIL;
	k->any = any;
	k->laddr = any ? wildcard(k) : ip;
	if (port && port_taken(ss, k, port, false))
		return -EADDRINUSE;
	k->user_addr = !any;
	k->user_port = port != 0;
	if (!port) {
		int p = pick_port(ss, k);
		if (p < 0)
			return p;
		port = (uint16_t)p;
	}
	k->lport = port;
	k->bound = true;
	if (k->type == SOCK_DGRAM) {
		/* The stack delivers a port's datagrams to one listener: a second socket on it
		 * (SO_REUSEADDR/PORT) is refused rather than silently given nothing. */
		err = udp_attach(k);
		if (err) {
			k->bound = false;
			return err;
		}
	}
	return 0;
}

int sl_sock_listen(struct sl_sockets *ss, int s, int backlog)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (k->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	if (k->state == SK_CONNECTED || k->state == SK_CONNECTING)
		return -EINVAL;
	if (backlog < 1)
		backlog = 1; /* Linux: a backlog of 0 still lets one connection wait */
	if (backlog > BACKLOG_MAX)
		backlog = BACKLOG_MAX;
	if (k->state == SK_LISTEN) {
		/* A new backlog; the queue keeps what it holds. */
		if ((unsigned)backlog > k->aq_cap) {
			struct sl_tcp_flow **q = calloc((size_t)backlog + 1, sizeof(*q));
			if (!q)
				return -ENOMEM;
			for (unsigned i = 0; i < k->aq_n; i++)
				q[i] = k->aq[(k->aq_head + i) % k->aq_cap];
			free(k->aq);
			k->aq = q;
			k->aq_head = 0;
			k->aq_cap = (unsigned)backlog + 1;
		}
		return 0;
	}
	if (!k->bound) {
		int p = pick_port(ss, k);
		if (p < 0)
			return p;
		k->lport = (uint16_t)p;
		k->any = true;
		k->laddr = wildcard(k);
		k->bound = true;
	} else if (port_taken(ss, k, k->lport, true)) {
		return -EADDRINUSE;
	}
	/* Linux lets backlog + 1 connections wait (sk_acceptq_is_full). */
	k->aq_cap = (unsigned)backlog + 1;
	k->aq = calloc(k->aq_cap, sizeof(*k->aq));
	if (!k->aq)
		return -ENOMEM;
	/* Keepalive is set on each connection as it is accepted (the listener's options then). */
	if (ss->tcp_port[k->lport] < 0) {
		int err = sl_tcp_listen(ss->st, k->lport, NULL, on_accept, ss);
		if (!err)
			err = sl_tcp_listen_room(ss->st, k->lport, room_for);
		if (err) {
			sl_tcp_unlisten(ss->st, k->lport);
			free(k->aq);
			k->aq = NULL;
			return err;
		}
	}
	port_link(ss, ss->tcp_port, k);
	listen_families(ss, k->lport);
	k->state = SK_LISTEN;
	listener_iphdr(ss, k);
	sl_tcp_listen_mss(ss->st, k->lport, (uint16_t)k->maxseg);
	return 0;
}

/* A listener stops: its queue is reset, the stack's listener goes with the port's last. */
static void unlisten(struct sl_sockets *ss, struct sk *k)
{
	if (k->on_port && port_unlink(ss, ss->tcp_port, k)) {
		sl_tcp_unlisten(ss->st, k->lport);
	} else {
		listen_families(ss, k->lport);
	}
	for (unsigned i = 0; i < k->aq_n; i++)
		sl_tcp_abort(k->aq[(k->aq_head + i) % k->aq_cap]);
	k->aq_n = 0;
	free(k->aq);
	k->aq = NULL;
	k->aq_cap = 0;
	k->aq_head = 0;
}

static bool acceptable(struct sk *k)
{
	return k->aq_n > 0 || k->state != SK_LISTEN;
}

int sl_sock_accept(struct sl_sockets *ss, int s, struct sockaddr *a, socklen_t *len, int flags)
{
	struct sk *l = get(ss, s);
	if (!l)
		return -EBADF;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (l->type != SOCK_STREAM)
		return -EOPNOTSUPP;
	if (l->state != SK_LISTEN)
		return -EINVAL;
	if (!lazy_call(ss, l, 0) || !l->aq_n)
		sl_sockets_poll(ss);
	if (!l->aq_n) {
		if (l->nonblock)
			return -EAGAIN;
		int err = block(ss, l, acceptable, l->rcvtimeo_ns);
		if (err)
			return err;
		if (l->state != SK_LISTEN)
			return -EINVAL;
	}
	int ns = sl_sock_socket(ss, l->family, SOCK_STREAM | (flags & SOCK_NONBLOCK), 0);
	if (ns < 0)
		return ns;
	l = &ss->sk[s]; /* (the array does not move; for clarity) */
	struct sk *k = &ss->sk[ns];
	struct sl_tcp_flow *f = l->aq[l->aq_head];
	l->aq_head = (l->aq_head + 1) % l->aq_cap;
	l->aq_n--;
	k->f = f;
	k->state = SK_CONNECTED;
	k->was_connected = true;
	k->v6only = l->v6only;
	k->nodelay = l->nodelay;
	k->cork = l->cork;
	k->keepalive = l->keepalive;
	k->ka_idle = l->ka_idle;
	k->ka_intvl = l->ka_intvl;
	k->ka_cnt = l->ka_cnt;
	k->user_timeout_ms = l->user_timeout_ms; /* icsk_user_timeout is cloned */
	k->maxseg = l->maxseg;
	apply_flow_opts(k, f);
	k->rcvbuf = l->rcvbuf;
	k->sndbuf = l->sndbuf;
	k->rcvbuf_set = l->rcvbuf_set;
	k->rcvlowat = l->rcvlowat;
	k->broadcast = l->broadcast; /* sk_clone_lock copies the flags and the priority */
	k->oobinline = l->oobinline;
	k->priority = l->priority;
	k->ttl = l->ttl; /* inet_sk's uc_ttl and tos, ipv6_pinfo's hop_limit and tclass, are */
	k->hops = l->hops; /* cloned too */
	k->tos = l->tos;
	k->tclass = l->tclass;
	apply_iphdr(k, f);
	memcpy(k->cc, l->cc, sizeof(k->cc));
	if (k->cc[0])
		sl_tcp_set_cc(f, k->cc); /* a child has its listener's algorithm (tcp_init_congestion_control) */
	uint16_t lp, rp;
	sl_tcp_endpoints(f, &k->laddr, &lp, &k->raddr, &rp);
	k->lport = lp;
	k->rport = rp;
	k->bound = true;
	k->has_peer = true;
	sl_tcp_set_callbacks(f, &tcp_cbs, k);
	if (k->keepalive)
		apply_keepalive(k);
	to_sockaddr(k, &k->raddr, k->rport, a, len);
	return ns;
}

static bool connect_done(struct sk *k)
{
	return k->state != SK_CONNECTING;
}

/* __inet_stream_connect with AF_UNSPEC, tcp_disconnect: a listener stops, a connection or a
 * handshake is aborted (an RST where one is due, ECONNRESET pending), and the socket is
 * unconnected, free to connect or listen again; what bind named stays bound. */
static int tcp_disconnect(struct sl_sockets *ss, struct sk *k)
{
	if (k->state == SK_LISTEN) {
		unlisten(ss, k);
	} else if (k->f) {
		if (k->state == SK_CONNECTING || !k->closed)
			k->err = ECONNRESET;
		sl_tcp_abort(k->f);
		k->f = NULL;
	}
	k->state = SK_OPEN;
	k->closed = k->eof_seen = k->rd_shut = k->wr_shut = false;
	k->was_connected = k->has_peer = k->connect_pending = k->err_read = false;
	k->conn_failed = false;
	k->raddr = wildcard(k);
	k->rport = 0;
	if (!k->user_port) {
		k->bound = false;
		k->lport = 0;
	}
	if (!k->user_addr) {
		k->laddr = wildcard(k);
		k->any = k->bound;
	}
	bump(k);
	poll_or_defer(ss, lazy_call(ss, k, 0)); /* the reset */
	return 0;
}

int sl_sock_connect(struct sl_sockets *ss, int s, const struct sockaddr *a, socklen_t len)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (k->type == SOCK_DGRAM)
		return udp_connect(k, a, len);
	if (a && len < (socklen_t)sizeof(a->sa_family))
		return -EINVAL;
	if (a && a->sa_family == AF_UNSPEC)
		return tcp_disconnect(ss, k);
	/* __inet_stream_connect after a non-blocking start: the outcome once (0, or the error
	 * that ended it), then EISCONN, or a new attempt. */
	if (k->state == SK_CONNECTED) {
		if (k->connect_pending) {
			k->connect_pending = false;
			return 0;
		}
		return -EISCONN;
	}
	if (k->state == SK_CONNECTING) {
		if (k->nonblock)
			return -EALREADY;
		/* Blocking, after an interrupted one: wait for the same handshake again. */
		int err = block(ss, k, connect_done, k->sndtimeo_ns);
		if (err)
			return err == -EINTR ? -EINTR : -EALREADY;
		k->connect_pending = false;
		if (k->state == SK_CONNECTED)
			return 0;
		int e = k->err ? k->err : ECONNREFUSED;
		k->err = 0;
		return -e;
	}
	if (k->state == SK_LISTEN)
		return -EISCONN;
	if (k->connect_pending && k->err) {
		int e = k->err;
		k->err = 0;
		k->connect_pending = false;
		return -e;
	}
	sl_ip dst;
	uint16_t port;
	int err = from_sockaddr(k, a, len, &dst, &port);
	if (err)
		return err;
	if (k->family == AF_INET6 && sl_ip_is_v4(&dst) && k->v6only)
		return -ENETUNREACH;
	if (!port || is_any(&dst))
		return -ECONNREFUSED; /* Linux: port 0 or the unspecified address is refused */
	if (k->f) {
		/* What is left of a failed attempt. */
		sl_tcp_close(k->f);
		k->f = NULL;
	}
	struct sl_keepalive ka;
	struct sl_tcp_connect_opts o = {0};
	if (k->bound && !k->any)
		o.src = &k->laddr;
	if (k->bound)
		o.src_port = k->lport;
	if (k->keepalive) {
		keepalive_of(k, &ka);
		o.ka = &ka;
	}
	if (k->cc[0])
		o.cc = k->cc;
	o.ttl = ttl_for(k, &dst);
	o.tos = tos_for(k, &dst);
	o.mss = (uint16_t)k->maxseg;
	k->err = 0;
	k->conn_failed = false;
	err = sl_tcp_connect(ss->st, &dst, port, &o, &tcp_cbs, k, &k->f);
	if (err) {
		k->f = NULL;
		return err;
	}
	apply_flow_opts(k, k->f); /* the SYN's retransmissions keep the user timeout too */
	k->state = SK_CONNECTING;
	k->raddr = dst;
	k->rport = port;
	{
		/* The source is chosen now (getsockname in SYN-SENT names it). */
		sl_ip ra;
		uint16_t lp, rp;
		sl_tcp_endpoints(k->f, &k->laddr, &lp, &ra, &rp);
		k->lport = lp;
		k->bound = true;
		k->any = false;
	}
	sl_sockets_poll(ss);
	if (k->state == SK_CONNECTING) {
		if (k->nonblock) {
			k->connect_pending = true;
			return -EINPROGRESS;
		}
		err = block(ss, k, connect_done, k->sndtimeo_ns);
		if (err) {
			/* A handler ran (EINTR), or SO_SNDTIMEO passed (Linux: EINPROGRESS): the
			 * handshake goes on, a second connect says EALREADY. */
			return err == -EINTR ? -EINTR : -EINPROGRESS;
		}
	}
	if (k->state != SK_CONNECTED) {
		int e = k->err ? k->err : ECONNREFUSED;
		k->err = 0;
		return -e;
	}
	return 0;
}

/* --- data ------------------------------------------------------------------------------- */

static size_t iov_total(const struct msghdr *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->msg_iovlen; i++)
		n += m->msg_iov[i].iov_len;
	return n;
}

/* Copy len bytes from two views into the message's iovecs, starting at byte off of the data. */
static size_t copy_out(const struct msghdr *m, const struct sl_iov v[2], size_t avail)
{
	size_t done = 0;
	int vi = 0;
	size_t voff = 0;
	for (size_t i = 0; i < m->msg_iovlen && done < avail; i++) {
		uint8_t *dst = m->msg_iov[i].iov_base;
		size_t room = m->msg_iov[i].iov_len;
		while (room && done < avail && vi < 2) {
			size_t take = v[vi].len - voff;
			if (take > room)
				take = room;
			if (take > avail - done)
				take = avail - done;
			memcpy(dst, v[vi].p + voff, take);
			dst += take;
			room -= take;
			done += take;
			voff += take;
			if (voff == v[vi].len) {
				vi++;
				voff = 0;
			}
		}
	}
	return done;
}

/* tcp_epollin_ready: n bytes unread are enough to report the socket readable when they reach
 * SO_RCVLOWAT, or when the peer cannot send more (the receive window is down to a segment). */
static bool lowat_met(const struct sk *k, ssize_t n)
{
	if (n >= k->rcvlowat)
		return true;
	if (n <= 0)
		return false;
	struct sl_tcp_info ti;
	sl_tcp_info(k->f, &ti);
	return ti.rcv_wnd <= ti.mss;
}

static bool tcp_readable(struct sk *k)
{
	if (k->state != SK_CONNECTED || k->rd_shut)
		return true;
	struct sl_iov v[2];
	ssize_t n = sl_tcp_peek(k->f, v);
	return n != -EAGAIN;
}

/* A peek that has seen peek_need - 1 bytes may go on: more arrived, or the stream ended or
 * failed. */
static bool tcp_peek_more(struct sk *k)
{
	if (k->state != SK_CONNECTED || k->rd_shut || k->closed || sl_tcp_eof(k->f))
		return true;
	struct sl_iov v[2];
	ssize_t n = sl_tcp_peek(k->f, v);
	return n != -EAGAIN && (n <= 0 || (size_t)n >= k->peek_need);
}

/* For a call that needs the connection: a handshake in progress is waited out (-EAGAIN when
 * non-blocking). 0 when connected; a pending error, returned once; else 1 (not connected:
 * the caller's own answer). */
static int need_connected(struct sl_sockets *ss, struct sk *k, bool nb, uint64_t tmo)
{
	if (k->state == SK_CONNECTING) {
		if (nb)
			return -EAGAIN;
		int err = block(ss, k, connect_done, tmo);
		if (err)
			return err;
	}
	if (k->state == SK_CONNECTED)
		return 0;
	if (k->err) {
		int e = k->err;
		k->err = 0;
		return -e;
	}
	return 1;
}

/* lazy: do not poll first (sl_sockets_set_lazy); the caller polls and calls again when the
 * answer is -EAGAIN. */
static ssize_t tcp_recv(struct sl_sockets *ss, struct sk *k, struct msghdr *m, int flags,
			bool lazy)
{
	/* tcp_recvmsg waits for the handshake (sk_wait_data); non-blocking: EAGAIN. */
	int c = need_connected(ss, k, k->nonblock || (flags & MSG_DONTWAIT), k->rcvtimeo_ns);
	if (c < 0)
		return c;
	if (c > 0) /* once its error is read, a refused socket reads end of file (tcp_done) */
		return k->was_connected || k->conn_failed ? 0 : -ENOTCONN;
	size_t want = iov_total(m), got = 0;
	if (!want)
		return 0; /* tcp_recvmsg's loop runs while len > 0: nothing asked, nothing waited for */
	/* sock_rcvlowat: a receive waits for SO_RCVLOWAT bytes, or what was asked if less (all
	 * of it with MSG_WAITALL); a non-blocking one returns what is there. */
	size_t target = (size_t)k->rcvlowat < want ? (size_t)k->rcvlowat : want;
	if (flags & MSG_WAITALL)
		target = want;
	bool nb = k->nonblock || (flags & MSG_DONTWAIT);
	if (!lazy)
		sl_sockets_poll(ss);
	for (;;) {
		if (k->rd_shut)
			return (ssize_t)got;
		struct sl_iov v[2];
		ssize_t n = sl_tcp_peek(k->f, v);
		if (n > 0) {
			struct msghdr part = *m;
			struct iovec iov[64];
			/* Skip what a MSG_WAITALL pass already filled (a peek starts over). */
			size_t skip = flags & MSG_PEEK ? 0 : got, ni = 0;
			for (size_t i = 0; i < m->msg_iovlen && ni < 64; i++) {
				size_t l = m->msg_iov[i].iov_len;
				if (skip >= l) {
					skip -= l;
					continue;
				}
				iov[ni].iov_base = (uint8_t *)m->msg_iov[i].iov_base + skip;
				iov[ni].iov_len = l - skip;
				skip = 0;
				ni++;
			}
			part.msg_iov = iov;
			part.msg_iovlen = ni;
			size_t c;
			if (flags & MSG_TRUNC) /* tcp(7): the bytes are discarded, not copied */
				c = (size_t)n < want - got ? (size_t)n : want - got;
			else
				c = copy_out(&part, v, (size_t)n);
			if (flags & MSG_PEEK) {
				/* tcp_recvmsg: a peek waits for its target too, and then returns
				 * everything it saw; it ends early, as a read does, at the end of
				 * the stream, an error or the timeout. */
				got = c;
				if (got >= target || nb || sl_tcp_eof(k->f) || k->closed)
					return (ssize_t)got;
				k->peek_need = got + 1;
				int err = block(ss, k, tcp_peek_more, k->rcvtimeo_ns);
				if (err)
					return (ssize_t)got;
				continue;
			}
			sl_tcp_consume(k->f, c);
			if (lazy)
				defer(ss); /* the window update it may owe */
			got += c;
			if (got >= target)
				return (ssize_t)got;
			continue;
		}
		if (n == 0)
			return (ssize_t)got; /* end of stream */
		if (n != -EAGAIN) {
			if (got || sl_tcp_eof(k->f))
				return (ssize_t)got; /* tcp_recvmsg: after the FIN, end of file first */
			/* tcp_recvmsg: the error once (sock_error clears it), then end of file. */
			if (k->err_read)
				return 0;
			k->err_read = true;
			k->err = 0;
			return n;
		}
		if (nb)
			return got ? (ssize_t)got : -EAGAIN;
		int err = block(ss, k, tcp_readable, k->rcvtimeo_ns);
		if (err)
			return got ? (ssize_t)got : err;
	}
}

static bool tcp_writable(struct sk *k)
{
	return k->state != SK_CONNECTED || k->wr_shut || k->closed || sl_tcp_sndbuf_free(k->f) > 0;
}

static ssize_t epipe(int flags)
{
	if (!(flags & MSG_NOSIGNAL))
		raise(SIGPIPE);
	return -EPIPE;
}

/* lazy: the data waits for the next poll (sl_sockets_set_lazy). */
static ssize_t tcp_send(struct sl_sockets *ss, struct sk *k, const struct msghdr *m, int flags,
			bool lazy)
{
	bool nb = k->nonblock || (flags & MSG_DONTWAIT);
	int c = need_connected(ss, k, nb, k->sndtimeo_ns);
	if (c < 0)
		return c;
	if (c > 0)
		return epipe(flags); /* sk_stream_wait_connect: not connected is EPIPE */
	size_t total = iov_total(m), done = 0;
	if (!total)
		return 0;
	for (;;) {
		if (k->err && k->closed) {
			int e = k->err;
			k->err = 0;
			return done ? (ssize_t)done : -e;
		}
		if (k->wr_shut || k->closed)
			return done ? (ssize_t)done : epipe(flags);
		struct sl_iov v[64];
		int nv = 0;
		size_t skip = done;
		for (size_t i = 0; i < m->msg_iovlen && nv < 64; i++) {
			size_t l = m->msg_iov[i].iov_len;
			if (skip >= l) {
				skip -= l;
				continue;
			}
			v[nv].p = (const uint8_t *)m->msg_iov[i].iov_base + skip;
			v[nv].len = l - skip;
			skip = 0;
			nv++;
		}
		ssize_t n = k->nodelay ? sl_tcp_writev_nodelay(k->f, v, nv)
				       : sl_tcp_writev(k->f, v, nv);
		if (n == -EPIPE)
			return done ? (ssize_t)done : epipe(flags);
		if (n > 0)
			done += (size_t)n;
		else if (n != -EAGAIN && n < 0)
			return done ? (ssize_t)done : n;
		if (done == total)
			break;
		if (nb)
			return done ? (ssize_t)done : -EAGAIN;
		int err = block(ss, k, tcp_writable, k->sndtimeo_ns);
		if (err)
			return done ? (ssize_t)done : err;
	}
	poll_or_defer(ss, lazy); /* let it leave now, or with the rest of the round */
	return (ssize_t)done;
}

/* --- UDP -------------------------------------------------------------------------------- */

static void u_recv(void *arg, struct sl_stack *st, const struct sl_udp_meta *m,
		   const uint8_t *data, size_t len)
{
	struct sl_sockets *ss = arg;
	struct sk *k = port_best(ss, ss->udp_port[m->dst_port], &m->dst, &m->src, m->src_port);
	/* Every datagram dropped here is counted in the stack's counters (shared/DESIGN.md). */
	if (!k) {
		/* Sockets of the port, none of them for this one (bound to another address or
		 * family, connected to another peer): Linux's __udp4_lib_rcv finds no socket. */
		sl_stack_count_drop(st, SL_STAT_udp_no_socket);
		sl_udp_unreachable(st, m); /* as Linux answers it: port unreachable */
		return;
	}
	if (k->rd_shut) {
		sl_stack_count_drop(st, SL_STAT_udp_rcv_after_shutdown);
		return;
	}
	if (k->rx_bytes && k->rx_bytes + len > (size_t)k->rcvbuf) {
		/* The receive buffer is full: dropped, as Linux drops (UDP RcvbufErrors). An
		 * empty queue takes one datagram whatever its size, as Linux's test of the memory
		 * already queued lets it (__udp_enqueue_schedule_skb). */
		sl_stack_count_drop(st, SL_STAT_udp_rcvbuf_full);
		return;
	}
	struct dgram *d = malloc(sizeof(*d) + len);
	if (!d) {
		sl_stack_count_drop(st, SL_STAT_udp_rcvbuf_full); /* as udp.c counts its own */
		return;
	}
	d->next = NULL;
	d->src = m->src;
	d->dst = m->dst;
	d->sport = m->src_port;
	d->len = len;
	memcpy(d->data, data, len);
	if (k->rx_tail)
		k->rx_tail->next = d;
	else
		k->rx_head = d;
	k->rx_tail = d;
	k->rx_bytes += len;
	bump(k);
}

static void u_err(void *arg, struct sl_stack *st, int err, const struct sl_udp_meta *m)
{
	struct sl_sockets *ss = arg;
	/* m is the datagram we sent. Linux reports ICMP errors on connected UDP sockets only
	 * (IP_RECVERR off). */
	struct sk *k = port_best(ss, ss->udp_port[m->src_port], &m->src, &m->dst, m->dst_port);
	if (!k)
		return;
	bool v4 = sl_ip_is_v4(&m->dst);
	const struct sl_udp_icmp *d = sl_udp_icmp_detail(st);
	if (d && (v4 ? k->recverr : k->recverr6) && k->eq_n < ERRQ_MAX) {
		/* __udp4_lib_err with recverr: queued (ip_icmp_error), and the socket's error set
		 * whether it is connected or not. */
		struct errq *e = malloc(sizeof(*e) + d->payload_len);
		if (e) {
			e->next = NULL;
			e->err = -err;
			e->type = d->type;
			e->code = d->code;
			e->info = d->info;
			e->offender = d->from;
			e->dst = m->dst;
			e->dport = m->dst_port;
			e->len = d->payload_len;
			memcpy(e->data, d->payload, d->payload_len);
			if (k->eq_tail)
				k->eq_tail->next = e;
			else
				k->eq_head = e;
			k->eq_tail = e;
			k->eq_n++;
			k->err = -err;
			bump(k);
		}
		return;
	}
	if (k->has_peer && sl_ip_eq(&m->dst, &k->raddr) && m->dst_port == k->rport) {
		k->err = -err;
		bump(k);
	}
}

static void put_cmsg(struct msghdr *m, size_t *used, int level, int type, const void *data,
		     size_t len);

/* recvmsg(MSG_ERRQUEUE) (ip_recv_error, ipv6_recv_error): the oldest queued error's quoted
 * payload, the address it was sent to, and an IP_RECVERR / IPV6_RECVERR control message (a
 * struct sock_extended_err, the offender's address after it); the socket's error becomes the
 * next one's, or none. EAGAIN when nothing is queued, at once. */
static ssize_t recv_errqueue(struct sk *k, struct msghdr *m)
{
	struct errq *e = k->eq_head;
	if (!e)
		return -EAGAIN;
	struct sl_iov v[2] = {{e->data, e->len}, {NULL, 0}};
	size_t c = copy_out(m, v, e->len);
	m->msg_flags = MSG_ERRQUEUE | (c < e->len ? MSG_TRUNC : 0);
	if (m->msg_name) {
		socklen_t l = m->msg_namelen;
		to_sockaddr(k, &e->dst, e->dport, m->msg_name, &l);
		m->msg_namelen = l;
	}
	bool v4 = sl_ip_is_v4(&e->dst);
	struct {
		struct sock_extended_err ee;
		struct sockaddr_in6 off; /* room for either family's sockaddr */
	} x;
	memset(&x, 0, sizeof x);
	x.ee.ee_errno = (uint32_t)e->err;
	x.ee.ee_origin = v4 ? SO_EE_ORIGIN_ICMP : SO_EE_ORIGIN_ICMP6;
	x.ee.ee_type = e->type;
	x.ee.ee_code = e->code;
	x.ee.ee_info = e->info;
	size_t olen;
	if (v4) {
		struct sockaddr_in o = {.sin_family = AF_INET};
		o.sin_addr.s_addr = htonl(sl_ip_to_v4(&e->offender));
		memcpy(&x.off, &o, sizeof o);
		olen = sizeof o;
	} else {
		x.off.sin6_family = AF_INET6;
		memcpy(&x.off.sin6_addr, e->offender.b, 16);
		olen = sizeof x.off;
	}
	size_t used = 0;
	put_cmsg(m, &used, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_RECVERR : IPV6_RECVERR, &x,
		 sizeof x.ee + olen);
	m->msg_controllen = used;
	k->eq_head = e->next;
	if (!k->eq_head)
		k->eq_tail = NULL;
	k->eq_n--;
	k->err = k->eq_head ? k->eq_head->err : 0;
	free(e);
	return (ssize_t)c;
}

static int udp_attach(struct sk *k)
{
	struct sl_sockets *ss = k->ss;
	if (ss->udp_port[k->lport] < 0) {
		int err = sl_udp_listen(ss->st, k->lport, u_recv, ss);
		if (err)
			return err;
		sl_udp_on_error(ss->st, k->lport, u_err, ss);
	}
	port_link(ss, ss->udp_port, k);
	return 0;
}

static int udp_autobind(struct sk *k)
{
	if (k->bound)
		return 0;
	int p = pick_port(k->ss, k);
	if (p < 0)
		return p;
	k->lport = (uint16_t)p;
	k->any = true;
	k->laddr = wildcard(k);
	k->bound = true;
	int err = udp_attach(k);
	if (err)
		k->bound = false;
	return err;
}

static int udp_connect(struct sk *k, const struct sockaddr *a, socklen_t len)
{
	if (a && len >= (socklen_t)sizeof(sa_family_t) && a->sa_family == AF_UNSPEC) {
		/* Dissolve the association (connect(2)); as Linux's __udp_disconnect, a port or
		 * address that bind did not name goes with it (getsockname 0.0.0.0:0 again). */
		k->has_peer = false;
		if (k->bound && !k->user_port) {
			if (k->on_port && port_unlink(k->ss, k->ss->udp_port, k))
				sl_udp_unlisten(k->ss->st, k->lport);
			k->bound = false;
			k->lport = 0;
		}
		if (!k->user_addr) {
			k->laddr = wildcard(k);
			k->any = k->bound;
		}
		return 0;
	}
	sl_ip dst;
	uint16_t port;
	if (a && k->family == AF_INET6 && k->v6only && len >= (socklen_t)sizeof(sa_family_t) &&
	    a->sa_family == AF_INET)
		return -EAFNOSUPPORT; /* __ip6_datagram_connect */
	int err = udp_from_sockaddr(k, a, len, &dst, &port);
	if (err)
		return err;
	if (k->family == AF_INET6 && sl_ip_is_v4(&dst) && k->v6only)
		return -ENETUNREACH;
	sl_ip src;
	if ((err = sl_ip_src(k->ss->st, &dst, &src)) < 0)
		return err;
	if ((err = udp_autobind(k)) < 0)
		return err;
	k->raddr = dst;
	k->rport = port;
	k->has_peer = true;
	return 0;
}

/* m's iovecs one after another into out (room for iov_total(m) bytes); returns the count. */
static size_t gather(const struct msghdr *m, uint8_t *out)
{
	size_t off = 0;
	for (size_t i = 0; i < m->msg_iovlen; i++) {
		memcpy(out + off, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		off += m->msg_iov[i].iov_len;
	}
	return off;
}

/* The datagram a socket has been adding to (UDP_CORK, MSG_MORE) goes out as one, to the address
 * its first part named (udp_push_pending_frames); the socket has nothing pending after. */
static int udp_cork_flush(struct sl_sockets *ss, struct sk *k)
{
	if (!k->uc_pending)
		return 0;
	k->uc_pending = false;
	struct sl_udp_write_opts o = {
	    .src = k->any ? NULL : &k->laddr,
	    .src_port = k->lport,
	    .ttl = ttl_for(k, &k->uc_dst),
	    .tos = tos_for(k, &k->uc_dst),
	};
	return sl_udp_write(ss->st, &o, &k->uc_dst, k->uc_port, k->uc_buf, k->uc_len);
}

static ssize_t udp_send(struct sl_sockets *ss, struct sk *k, const struct msghdr *m, int flags,
			bool lazy)
{
	if (k->wr_shut)
		return epipe(flags);
	size_t total = iov_total(m);
	/* udp(7): with UDP_CORK or MSG_MORE the data is added to one datagram, sent by the first
	 * send without either (or when UDP_CORK is cleared); while one is pending, the address
	 * of a later send is not looked at (udp_sendmsg). */
	bool corkreq = k->udp_cork || (flags & MSG_MORE);
	sl_ip dst;
	uint16_t port;
	if (k->uc_pending) {
		dst = k->uc_dst;
		port = k->uc_port;
	} else if (m->msg_name && m->msg_namelen) {
		int err = udp_from_sockaddr(k, m->msg_name, m->msg_namelen, &dst, &port);
		if (err)
			return err;
		if (k->family == AF_INET6 && sl_ip_is_v4(&dst) && k->v6only)
			return -ENETUNREACH;
		if (!port)
			return -EINVAL;
	} else if (k->has_peer) {
		dst = k->raddr;
		port = k->rport;
	} else {
		return -EDESTADDRREQ;
	}
	if (!k->uc_pending && k->err) { /* a pending ICMP error is reported first (sock_error) */
		int e = k->err;
		k->err = 0;
		return -e;
	}
	if (total > UDP_MAX || (k->uc_pending && k->uc_len + total > UDP_MAX)) {
		k->uc_pending = false; /* ip_append_data failed: the pending datagram is dropped */
		return -EMSGSIZE;
	}
	int err = udp_autobind(k);
	if (err)
		return err;
	if (corkreq || k->uc_pending) {
		if (!k->uc_buf && !(k->uc_buf = malloc(UDP_MAX)))
			return -ENOBUFS;
		if (!k->uc_pending) {
			k->uc_pending = true;
			k->uc_dst = dst;
			k->uc_port = port;
			k->uc_len = 0;
		}
		k->uc_len += gather(m, k->uc_buf + k->uc_len);
		if (!corkreq) {
			err = udp_cork_flush(ss, k);
			if (err < 0)
				return err;
			poll_or_defer(ss, lazy);
		}
		return (ssize_t)total;
	}
	/* sl_udp_write takes one buffer: one iovec goes as it is, several are gathered. */
	const void *data = m->msg_iovlen ? m->msg_iov[0].iov_base : "";
	if (m->msg_iovlen > 1) {
		static uint8_t buf[UDP_MAX];
		gather(m, buf);
		data = buf;
	}
	struct sl_udp_write_opts o = {
	    .src = k->any ? NULL : &k->laddr,
	    .src_port = k->lport,
	    .ttl = ttl_for(k, &dst),
	    .tos = tos_for(k, &dst),
	};
	err = sl_udp_write(ss->st, &o, &dst, port, data, total);
	if (err < 0)
		return err;
	poll_or_defer(ss, lazy);
	return (ssize_t)total;
}

static bool udp_readable(struct sk *k)
{
	return k->rx_head != NULL || k->err || k->rd_shut;
}

/* One control message into m's buffer (after used bytes); MSG_CTRUNC when it does not fit
 * (put_cmsg). */
static void put_cmsg(struct msghdr *m, size_t *used, int level, int type, const void *data,
		     size_t len)
{
	if (!m->msg_control || *used + CMSG_SPACE(len) > m->msg_controllen) {
		m->msg_flags |= MSG_CTRUNC;
		return;
	}
	struct cmsghdr *c = (struct cmsghdr *)((uint8_t *)m->msg_control + *used);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	*used += CMSG_SPACE(len);
}

/* The control messages a datagram socket asked for (ip_cmsg_recv, ip6_datagram_recv_ctl):
 * IP_PKTINFO for an IPv4 datagram (its destination, the interface), IPV6_PKTINFO on an AF_INET6
 * socket (an IPv4 destination v4-mapped). */
static void udp_cmsgs(struct sl_sockets *ss, const struct sk *k, const struct dgram *d,
		      struct msghdr *m)
{
	size_t used = 0;
	if (k->pktinfo && sl_ip_is_v4(&d->dst)) {
		struct in_pktinfo pi = {.ipi_ifindex = (int)ss->ifindex};
		memcpy(&pi.ipi_addr, d->dst.b + 12, 4);
		pi.ipi_spec_dst = pi.ipi_addr; /* a unicast one: the address it came to */
		if (d->dst.b[12] == 0xff || !ours(ss, &d->dst)) {
			/* a broadcast: the interface's address answers it */
			sl_ip src;
			if (sl_ip_src(ss->st, &d->src, &src) == 0)
				memcpy(&pi.ipi_spec_dst, src.b + 12, 4);
		}
		put_cmsg(m, &used, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
	}
	if (k->pktinfo6 && k->family == AF_INET6) {
		struct in6_pktinfo pi = {.ipi6_ifindex = ss->ifindex};
		memcpy(&pi.ipi6_addr, d->dst.b, 16);
		put_cmsg(m, &used, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
	}
	m->msg_controllen = used;
}

static ssize_t udp_recv(struct sl_sockets *ss, struct sk *k, struct msghdr *m, int flags)
{
	if (!lazy_call(ss, k, flags) || !k->rx_head)
		sl_sockets_poll(ss);
	if (!k->rx_head && k->rd_shut)
		return 0; /* __skb_recv_udp: after SHUT_RD, end of file */
	if (!k->rx_head) {
		if (k->err) {
			int e = k->err;
			k->err = 0;
			return -e;
		}
		if (k->nonblock || (flags & MSG_DONTWAIT))
			return -EAGAIN;
		int err = block(ss, k, udp_readable, k->rcvtimeo_ns);
		if (err)
			return err;
		if (!k->rx_head) {
			int e = k->err;
			k->err = 0;
			return e ? -e : 0;
		}
	}
	struct dgram *d = k->rx_head;
	struct sl_iov v[2] = {{d->data, d->len}, {NULL, 0}};
	size_t c = copy_out(m, v, d->len);
	m->msg_flags = c < d->len ? MSG_TRUNC : 0;
	if (m->msg_name) {
		socklen_t l = m->msg_namelen;
		to_sockaddr(k, &d->src, d->sport, m->msg_name, &l);
		m->msg_namelen = l;
	}
	udp_cmsgs(ss, k, d, m);
	size_t full = d->len;
	if (!(flags & MSG_PEEK)) {
		k->rx_head = d->next;
		if (!k->rx_head)
			k->rx_tail = NULL;
		k->rx_bytes -= d->len;
		free(d);
	}
	return (ssize_t)((flags & MSG_TRUNC) ? full : c);
}

/* --- the entry points ----------------------------------------------------------------- */

ssize_t sl_sock_sendmsg(struct sl_sockets *ss, int s, const struct msghdr *m, int flags)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (!m || (m->msg_iovlen && !m->msg_iov))
		return -EFAULT;
	bool lazy = lazy_call(ss, k, flags);
	if (k->type == SOCK_DGRAM) {
		ssize_t r = udp_send(ss, k, m, flags, lazy);
		if (lazy && r == -ENOBUFS) {
			/* Frames may wait for completions a poll reaps. */
			sl_sockets_poll(ss);
			r = udp_send(ss, k, m, flags, lazy);
		}
		return r;
	}
	if (k->state == SK_LISTEN)
		return epipe(flags);
	/* tcp_sendmsg ignores the address (send(2): "dest_addr and addrlen are ignored"), so an
	 * unconnected socket's sendto is EPIPE as its send is; only MSG_FASTOPEN would use it. */
	if ((flags & MSG_FASTOPEN) && k->state != SK_CONNECTED)
		return -EOPNOTSUPP; /* no TCP Fast Open */
	return tcp_send(ss, k, m, flags, lazy);
}

ssize_t sl_sock_recvmsg(struct sl_sockets *ss, int s, struct msghdr *m, int flags)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (!m || (m->msg_iovlen && !m->msg_iov))
		return -EFAULT;
	/* ip(7): reading the error queue never waits: EAGAIN at once when it is empty, whatever
	 * the socket, its data untouched. */
	if (flags & MSG_ERRQUEUE)
		return k->type == SOCK_DGRAM ? recv_errqueue(k, m) : -EAGAIN;
	if (k->type == SOCK_DGRAM)
		return udp_recv(ss, k, m, flags);
	if (k->state == SK_LISTEN)
		return -ENOTCONN;
	/* tcp_recv_urg: no urgent data is ever held out of band here, and with none to read
	 * MSG_OOB is EINVAL ("Yes this is right !"). */
	if (flags & MSG_OOB)
		return -EINVAL;
	m->msg_flags = 0;
	m->msg_controllen = 0;
	m->msg_namelen = 0; /* tcp_recvmsg names no source */
	bool lazy = lazy_call(ss, k, flags);
	ssize_t r = tcp_recv(ss, k, m, flags, lazy);
	if (lazy && r == -EAGAIN)
		r = tcp_recv(ss, k, m, flags, false); /* polls first */
	return r;
}

int sl_sock_shutdown(struct sl_sockets *ss, int s, int how)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (k->type == SOCK_DGRAM) {
		/* inet_shutdown: the flags are set either way; unconnected is ENOTCONN. */
		if (how != SHUT_WR)
			k->rd_shut = true;
		if (how != SHUT_RD)
			k->wr_shut = true;
		bump(k);
		return k->has_peer ? 0 : -ENOTCONN;
	}
	/* inet_shutdown: a listener ignores SHUT_WR and stops for SHUT_RD (accept then fails
	 * EINVAL); a connect in progress is abandoned; a closed socket is ENOTCONN. */
	if (k->state == SK_LISTEN) {
		if (how == SHUT_WR)
			return 0;
		unlisten(ss, k);
		k->state = SK_OPEN;
		bump(k);
		return 0;
	}
	if (k->state == SK_CONNECTING) {
		sl_tcp_abort(k->f);
		k->f = NULL;
		k->state = SK_OPEN;
		bump(k);
		return 0;
	}
	if (k->state != SK_CONNECTED)
		return -ENOTCONN;
	int sh = (how == SHUT_RD ? SL_SHUT_RD : how == SHUT_WR ? SL_SHUT_WR : SL_SHUT_RDWR);
	if (how != SHUT_WR)
		k->rd_shut = true;
	if (how != SHUT_RD)
		k->wr_shut = true;
	sl_tcp_shutdown(k->f, sh);
	bump(k);
	poll_or_defer(ss, lazy_call(ss, k, 0)); /* the FIN */
	return 0;
}

/* Everything written has been acknowledged, or the connection is over: a lingering close may
 * return. */
static bool all_acked(struct sk *k)
{
	if (!k->f || k->closed || k->state != SK_CONNECTED)
		return true;
	struct sl_tcp_info ti;
	sl_tcp_info(k->f, &ti);
	return ti.snd_queued == 0;
}

int sl_sock_close(struct sl_sockets *ss, int s)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	bool lazy = lazy_call(ss, k, 0);
	if (k->type == SOCK_STREAM) {
		if (k->state == SK_LISTEN)
			unlisten(ss, k);
		/* socket(7) SO_LINGER with a timeout: a blocking close waits, at most that long, for
		 * what was written to be sent and acknowledged (sk_stream_wait_close), then closes
		 * as usual: the rest still goes after it, nothing is reset. Unread data resets
		 * at once instead (below), so it does not wait for that. */
		struct sl_iov unread[2];
		if (k->f && k->linger.l_onoff && k->linger.l_linger > 0 && !k->nonblock &&
		    k->state == SK_CONNECTED && sl_tcp_peek(k->f, unread) <= 0)
			(void)block(ss, k, all_acked, (uint64_t)k->linger.l_linger * 1000000000ULL);
		if (k->f) {
			if (k->linger.l_onoff && !k->linger.l_linger)
				sl_tcp_abort(k->f); /* SO_LINGER 0: reset (tcp_close) */
			else
				sl_tcp_close(k->f); /* unread data: a reset, as Linux sends */
		}
		free(k->aq);
	} else {
		if (k->on_port && port_unlink(ss, ss->udp_port, k))
			sl_udp_unlisten(ss->st, k->lport);
		free(k->uc_buf); /* a pending corked datagram is dropped (udp_destroy_sock) */
		for (struct errq *e = k->eq_head, *n; e; e = n) {
			n = e->next;
			free(e);
		}
		for (struct dgram *d = k->rx_head, *n; d; d = n) {
			n = d->next;
			free(d);
		}
	}
	bool changed = k->changed;
	memset(k, 0, sizeof(*k));
	k->changed = changed;
	k->state = SK_FREE;
	if ((unsigned)s < ss->free_lo)
		ss->free_lo = (unsigned)s;
	poll_or_defer(ss, lazy); /* the FIN or the reset */
	return 0;
}

int sl_sock_getsockname(struct sl_sockets *ss, int s, struct sockaddr *a, socklen_t *len)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (!a || !len)
		return -EFAULT;
	if ((int)*len < 0)
		return -EINVAL; /* move_addr_to_user */
	sl_ip ip = k->laddr;
	if (k->type == SOCK_DGRAM && k->has_peer && k->any)
		sl_ip_src(ss->st, &k->raddr, &ip); /* a connected UDP socket names its source */
	to_sockaddr(k, &ip, k->bound ? k->lport : 0, a, len);
	return 0;
}

/* Is the connection over, as Linux's socket would be in CLOSE: reset, timed out, or done
 * with both FINs (TIME-WAIT belongs to the protocol, not to the socket)? */
static bool tcp_over(struct sk *k)
{
	if (k->closed)
		return true;
	struct sl_tcp_info ti;
	sl_tcp_info(k->f, &ti);
	return !strcmp(ti.state, "TIME-WAIT") || !strcmp(ti.state, "CLOSED");
}

int sl_sock_getpeername(struct sl_sockets *ss, int s, struct sockaddr *a, socklen_t *len)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (!a || !len)
		return -EFAULT;
	if ((int)*len < 0)
		return -EINVAL; /* move_addr_to_user */
	if (k->type == SOCK_STREAM ? k->state != SK_CONNECTED || tcp_over(k) : !k->has_peer)
		return -ENOTCONN;
	to_sockaddr(k, &k->raddr, k->rport, a, len);
	return 0;
}

/* --- options ---------------------------------------------------------------------------- */

static int int_opt(const void *v, socklen_t len, int *out)
{
	if (!v)
		return -EFAULT;
	if (len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(out, v, sizeof(int));
	return 0;
}

/* The IPPROTO_IP options' argument: an int, or one unsigned byte when shorter
 * (do_ip_setsockopt). */
static int ip_int_opt(const void *v, socklen_t len, int *out)
{
	if (len >= (socklen_t)sizeof(int) || len < 1)
		return int_opt(v, len, out);
	if (!v)
		return -EFAULT;
	*out = *(const unsigned char *)v;
	return 0;
}

/* The TOS byte as Linux keeps it (__ip_sock_set_tos, IPV6_TCLASS): on a stream socket the
 * ECN bits are the stack's, and stay as they were (0: sluice does not negotiate ECN). */
static uint8_t tos_value(const struct sk *k, int x)
{
	return k->type == SOCK_STREAM ? (uint8_t)(x & ~3) : (uint8_t)x;
}

static void apply_keepalive(struct sk *k)
{
	if (!k->f || k->state != SK_CONNECTED)
		return;
	struct sl_keepalive ka;
	keepalive_of(k, &ka);
	sl_tcp_set_keepalive(k->f, k->keepalive ? &ka : NULL);
}

/* TCP_CONGESTION names: Linux calls NewReno "reno" (tcp_cong.c), the stack "newreno". */
static const char *cc_linux_name(const char *stack_name)
{
	return strcmp(stack_name, "newreno") == 0 ? "reno" : stack_name;
}

/* do_tcp_setsockopt: at most TCP_CA_NAME_MAX - 1 bytes of name; an unknown one is ENOENT and
 * changes nothing. */
static int set_cc(struct sl_sockets *ss, struct sk *k, const void *v, socklen_t len)
{
	char name[16];
	if (!v)
		return -EFAULT;
	if (len < 1)
		return -EINVAL;
	size_t n = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
	memcpy(name, v, n);
	name[n] = 0;
	const char *canon = sl_tcp_cc_name(ss->st, strcmp(name, "reno") == 0 ? "newreno" : name);
	if (!canon)
		return -ENOENT;
	if (k->f && sl_tcp_set_cc(k->f, canon) < 0)
		return -ENOENT;
	snprintf(k->cc, sizeof(k->cc), "%s", canon);
	return 0;
}

/* struct tcp_info as Linux lays it out (include/uapi/linux/tcp.h), up to tcpi_snd_wnd: the
 * ABI only grows at the end, and a caller learns from the returned length what was filled. */
struct linux_tcp_info {
	uint8_t state, ca_state, retransmits, probes, backoff, options;
	uint8_t wscales; /* snd_wscale : 4, rcv_wscale : 4 */
	uint8_t delivery_rate_app_limited;
	uint32_t rto, ato, snd_mss, rcv_mss;
	uint32_t unacked, sacked, lost, retrans, fackets;
	uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
	uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
	uint32_t rcv_rtt, rcv_space;
	uint32_t total_retrans;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
	uint32_t notsent_bytes, min_rtt, data_segs_in, data_segs_out;
	uint64_t delivery_rate;
	uint64_t busy_time, rwnd_limited, sndbuf_limited;
	uint32_t delivered, delivered_ce;
	uint64_t bytes_sent, bytes_retrans;
	uint32_t dsack_dups, reord_seen;
	uint32_t rcv_ooopack;
	uint32_t snd_wnd;
};

/* Linux's TCP_* state numbers (include/net/tcp_states.h) by RFC 9293 name. */
static uint8_t linux_tcp_state(const char *name)
{
	static const struct {
		const char *name;
		uint8_t n;
	} map[] = {{"ESTABLISHED", 1}, {"SYN-SENT", 2},	  {"SYN-RECEIVED", 3}, {"FIN-WAIT-1", 4},
		   {"FIN-WAIT-2", 5},  {"TIME-WAIT", 6},  {"CLOSED", 7},	   {"CLOSE-WAIT", 8},
		   {"LAST-ACK", 9},    {"LISTEN", 10},	  {"CLOSING", 11}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].name, name))
			return map[i].n;
	return 7;
}

/* tcp_get_info for what the stack knows; packet counts from bytes by the MSS. */
static void fill_tcp_info(const struct sk *k, struct linux_tcp_info *o)
{
	memset(o, 0, sizeof(*o));
	if (!k->f) {
		o->state = k->state == SK_LISTEN ? 10 : 7;
		return;
	}
	struct sl_tcp_info ti;
	sl_tcp_info(k->f, &ti);
	uint32_t mss = ti.mss ? ti.mss : 536;
	o->state = linux_tcp_state(ti.state);
	o->options = (uint8_t)((ti.ts_ok ? 1 : 0) | (ti.sack_ok ? 2 : 0) | (ti.wscale_ok ? 4 : 0));
	o->wscales = (uint8_t)((ti.snd_wscale & 15) | (ti.rcv_wscale & 15) << 4);
	o->rto = (uint32_t)ti.rto_us;
	o->snd_mss = o->rcv_mss = o->advmss = mss;
	o->unacked = (ti.pipe + mss - 1) / mss;
	o->sacked = ti.sacked / mss;
	o->lost = ti.lost / mss;
	o->pmtu = mss + (k->family == AF_INET6 ? 60 : 40);
	o->rcv_ssthresh = o->rcv_space = ti.rcv_wnd;
	o->rtt = (uint32_t)ti.srtt_us;
	o->rttvar = (uint32_t)ti.rttvar_us;
	o->snd_ssthresh = ti.ssthresh >= 0x7fffffffu / 2 ? 0x7fffffffu : ti.ssthresh / mss;
	o->snd_cwnd = (ti.cwnd + mss - 1) / mss;
	o->reordering = 3;
	o->total_retrans = (uint32_t)ti.retransmits;
	o->bytes_acked = ti.bytes_sent > ti.pipe ? ti.bytes_sent - ti.pipe : 0;
	o->bytes_received = ti.bytes_received;
	o->segs_out = (uint32_t)ti.segs_out;
	o->segs_in = (uint32_t)ti.segs_in;
	o->min_rtt = (uint32_t)ti.min_rtt_us;
	o->bytes_sent = ti.bytes_sent;
	o->dsack_dups = (uint32_t)ti.dsacks_rx;
	o->snd_wnd = ti.snd_wnd;
}

int sl_sock_setsockopt(struct sl_sockets *ss, int s, int level, int name, const void *v,
		       socklen_t len)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	int x = 0, err;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_LINGER:
			if (!v)
				return -EFAULT;
			if (len < (socklen_t)sizeof(struct linger))
				return -EINVAL;
			memcpy(&k->linger, v, sizeof(k->linger));
			k->linger.l_onoff = k->linger.l_onoff != 0;
			return 0;
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: {
			struct timeval tv;
			if (!v)
				return -EFAULT;
			if (len < (socklen_t)sizeof(tv))
				return -EINVAL;
			memcpy(&tv, v, sizeof(tv));
			if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
				return -EDOM;
			/* sock_set_timeout: a negative time is an immediate timeout; 0 is none. */
			uint64_t ns = tv.tv_sec < 0 ? 1
						    : (uint64_t)tv.tv_sec * 1000000000ULL +
							  (uint64_t)tv.tv_usec * 1000;
			if (name == SO_RCVTIMEO)
				k->rcvtimeo_ns = ns;
			else
				k->sndtimeo_ns = ns;
			return 0;
		}
		}
		if ((err = int_opt(v, len, &x)))
			return err;
		switch (name) {
		case SO_REUSEADDR:
			k->reuseaddr = x != 0;
			return 0;
		case SO_REUSEPORT:
			k->reuseport = x != 0;
			return 0;
		case SO_KEEPALIVE:
			k->keepalive = x != 0;
			apply_keepalive(k);
			return 0;
		case SO_RCVBUF:
		case SO_SNDBUF: {
			/* sock_setsockopt: the value is doubled (bookkeeping room) and bounded. */
			long d = (long)(x < 0 ? 0 : x) * 2;
			int min = name == SO_RCVBUF ? BUF_MIN_RCV : BUF_MIN_SND;
			if (d > BUF_MAX)
				d = BUF_MAX;
			if (d < min)
				d = min;
			*(name == SO_RCVBUF ? &k->rcvbuf : &k->sndbuf) = (int)d;
			if (name == SO_RCVBUF)
				k->rcvbuf_set = true;
			return 0;
		}
		case SO_RCVLOWAT:
			/* sock_setsockopt, tcp_set_rcvlowat: negative is INT_MAX, 0 is 1, and TCP's is
			 * at most half the receive buffer it may grow to; a lower mark may make the
			 * socket readable now (tcp_data_ready). */
			if (x < 0)
				x = INT_MAX;
			if (k->type == SOCK_STREAM) {
				int cap = k->rcvbuf_set ? k->rcvbuf / 2 : RCVLOWAT_MAX;
				x = x < cap ? x : cap;
			}
			k->rcvlowat = x ? x : 1;
			bump(k);
			return 0;
		case SO_BROADCAST:
			k->broadcast = x != 0; /* kept; they change nothing sluice does */
			return 0;
		case SO_OOBINLINE:
			k->oobinline = x != 0;
			return 0;
		case SO_PRIORITY:
			k->priority = x;
			return 0;
		case SO_TYPE:
		case SO_DOMAIN:
		case SO_PROTOCOL:
		case SO_ACCEPTCONN:
		case SO_ERROR:
			return -ENOPROTOOPT;
		}
		return -ENOPROTOOPT;
	}
	if (level == IPPROTO_UDP && k->type == SOCK_DGRAM) {
		if (name != UDP_CORK)
			return -ENOPROTOOPT;
		if ((err = int_opt(v, len, &x)))
			return err;
		k->udp_cork = x != 0;
		if (!k->udp_cork) { /* udp_lib_setsockopt: uncorking sends what is pending */
			err = udp_cork_flush(ss, k);
			poll_or_defer(ss, lazy_call(ss, k, 0));
			return err < 0 ? err : 0;
		}
		return 0;
	}
	if (level == IPPROTO_TCP) {
		if (k->type != SOCK_STREAM)
			return -ENOPROTOOPT;
		if (name == TCP_CONGESTION)
			return set_cc(ss, k, v, len);
		if ((err = int_opt(v, len, &x)))
			return err;
		switch (name) {
		case TCP_NODELAY:
			k->nodelay = x != 0;
			return 0;
		case TCP_CORK:
			k->cork = x != 0;
			if (k->f)
				sl_tcp_set_cork(k->f, k->cork);
			return 0;
		case TCP_KEEPIDLE:
		case TCP_KEEPINTVL:
			if (x < 1 || x > 32767)
				return -EINVAL;
			*(name == TCP_KEEPIDLE ? &k->ka_idle : &k->ka_intvl) = x;
			apply_keepalive(k);
			return 0;
		case TCP_KEEPCNT:
			if (x < 1 || x > 127)
				return -EINVAL;
			k->ka_cnt = x;
			apply_keepalive(k);
			return 0;
		case TCP_MAXSEG:
			/* do_tcp_setsockopt: 0, or TCP_MIN_MSS (88) to MAX_TCP_WINDOW; it takes effect
			 * at the next SYN or SYN-ACK (Linux also lowers a connected socket's MSS). */
			if (x && (x < 88 || x > 32767))
				return -EINVAL;
			k->maxseg = x;
			if (k->state == SK_LISTEN)
				sl_tcp_listen_mss(ss->st, k->lport, (uint16_t)x);
			return 0;
		case TCP_DEFER_ACCEPT: {
			/* Linux keeps a count of SYN-ACK retransmissions (secs_to_retrans: 1 s doubling
			 * up to 120 s, at most 255) and reads back their total (retrans_to_secs): the
			 * total is what is kept here. Not acted on. */
			int r = 0, timeout = 1, period = 0;
			while (x > period && r < 255) {
				if (r++)
					timeout = timeout * 2 > 120 ? 120 : timeout * 2;
				period += timeout;
			}
			k->defer_accept = period;
			return 0;
		}
		case TCP_USER_TIMEOUT:
			if (x < 0)
				return -EINVAL; /* do_tcp_setsockopt */
			k->user_timeout_ms = x;
			if (k->f)
				sl_tcp_set_user_timeout(k->f, (uint32_t)x);
			return 0;
		case TCP_QUICKACK:
			return 0; /* accepted, not acted on (documented) */
		}
		return -ENOPROTOOPT;
	}
	if (level == IPPROTO_IPV6) {
		if (k->family != AF_INET6)
			return -EOPNOTSUPP;
		if ((err = int_opt(v, len, &x)))
			return err;
		if (name == IPV6_V6ONLY) {
			if (k->bound)
				return -EINVAL;
			k->v6only = x != 0;
			return 0;
		}
		if (name == IPV6_UNICAST_HOPS) {
			/* do_ipv6_setsockopt: -1 (the default) to 255. */
			if (x < -1 || x > 255)
				return -EINVAL;
			k->hops = x;
			iphdr_changed(ss, k);
			return 0;
		}
		if (name == IPV6_RECVPKTINFO) {
			k->pktinfo6 = x != 0;
			return 0;
		}
		if (name == IPV6_RECVERR) {
			k->recverr6 = x != 0;
			return 0;
		}
		if (name == IPV6_TCLASS) {
			/* do_ipv6_setsockopt: -1 (the default, 0) to 255. */
			if (x < -1 || x > 255)
				return -EINVAL;
			k->tclass = tos_value(k, x < 0 ? 0 : x);
			iphdr_changed(ss, k);
			return 0;
		}
		return -ENOPROTOOPT;
	}
	if (level == IPPROTO_IP) {
		if (name == IP_TTL || name == IP_TOS || name == IP_PKTINFO || name == IP_RECVERR) {
			if ((err = ip_int_opt(v, len, &x)))
				return err;
		}
		if (name == IP_PKTINFO) {
			k->pktinfo = x != 0;
			return 0;
		}
		if (name == IP_RECVERR) {
			k->recverr = x != 0; /* turned off, the queue stays until read (Linux drops it) */
			return 0;
		}
		if (name == IP_TTL) {
			/* do_ip_setsockopt: 1 to 255, or -1 for the default. */
			if (x != -1 && (x < 1 || x > 255))
				return -EINVAL;
			k->ttl = x;
			iphdr_changed(ss, k);
			return 0;
		}
		if (name == IP_TOS) {
			k->tos = tos_value(k, x); /* any value: the low byte is kept */
			iphdr_changed(ss, k);
			return 0;
		}
		return -ENOPROTOOPT;
	}
	return -ENOPROTOOPT;
}

int sl_sock_getsockopt(struct sl_sockets *ss, int s, int level, int name, void *v,
		       socklen_t *len)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	if (!v || !len)
		return -EFAULT;
	if ((int)*len < 0)
		return -EINVAL; /* every level reads optlen as an int and refuses a negative one */
	int x;
	if (level == SOL_SOCKET && name == SO_LINGER) {
		socklen_t n = *len < (socklen_t)sizeof(k->linger) ? *len : sizeof(k->linger);
		memcpy(v, &k->linger, n);
		*len = n;
		return 0;
	}
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		uint64_t ns = name == SO_RCVTIMEO ? k->rcvtimeo_ns : k->sndtimeo_ns;
		struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000ULL),
				     .tv_usec = (suseconds_t)(ns % 1000000000ULL / 1000)};
		socklen_t n = *len < (socklen_t)sizeof(tv) ? *len : sizeof(tv);
		memcpy(v, &tv, n);
		*len = n;
		return 0;
	}
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR: x = k->reuseaddr; break;
		case SO_REUSEPORT: x = k->reuseport; break;
		case SO_KEEPALIVE: x = k->keepalive; break;
		case SO_RCVBUF: x = k->rcvbuf; break;
		case SO_SNDBUF: x = k->sndbuf; break;
		case SO_TYPE: x = k->type; break;
		case SO_DOMAIN: x = k->family; break;
		case SO_PROTOCOL: x = k->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP; break;
		case SO_ACCEPTCONN: x = k->state == SK_LISTEN; break;
		case SO_ERROR:
			x = k->err;
			k->err = 0;
			if (x)
				k->err_read = true; /* sock_error: read once, wherever */
			break;
		case SO_BROADCAST: x = k->broadcast; break;
		case SO_OOBINLINE: x = k->oobinline; break;
		case SO_PRIORITY: x = k->priority; break;
		case SO_RCVLOWAT: x = k->rcvlowat; break;
		case SO_SNDLOWAT: x = 1; break; /* socket(7): fixed at 1 (set: ENOPROTOOPT) */
		default: return -ENOPROTOOPT;
		}
	} else if (level == IPPROTO_UDP && k->type == SOCK_DGRAM) {
		if (name != UDP_CORK)
			return -ENOPROTOOPT;
		x = k->udp_cork;
	} else if (level == IPPROTO_TCP && k->type != SOCK_STREAM) {
		/* udp_getsockopt hands other levels to ip_getsockopt (EOPNOTSUPP) or, for
		 * AF_INET6, to ipv6_getsockopt (ENOPROTOOPT). */
		return k->family == AF_INET6 ? -ENOPROTOOPT : -EOPNOTSUPP;
	} else if (level == IPPROTO_TCP && (name == TCP_INFO || name == TCP_CONGESTION)) {
		if (name == TCP_INFO) {
			struct linux_tcp_info ti;
			fill_tcp_info(k, &ti);
			socklen_t n = *len < (socklen_t)sizeof(ti) ? *len : sizeof(ti);
			memcpy(v, &ti, n);
			*len = n;
			return 0;
		}
		struct sl_tcp_info ti;
		const char *cc = k->f ? (sl_tcp_info(k->f, &ti), ti.cc)
				      : k->cc[0] ? k->cc : sl_tcp_cc_name(ss->st, NULL);
		char name16[16] = {0}; /* TCP_CA_NAME_MAX, zero-padded as the kernel keeps it */
		snprintf(name16, sizeof(name16), "%s", cc_linux_name(cc));
		socklen_t n = *len < (socklen_t)sizeof(name16) ? *len : sizeof(name16);
		memcpy(v, name16, n);
		*len = n;
		return 0;
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY: x = k->nodelay; break;
		case TCP_CORK: x = k->cork; break;
		case TCP_KEEPIDLE: x = k->ka_idle; break;
		case TCP_KEEPINTVL: x = k->ka_intvl; break;
		case TCP_KEEPCNT: x = k->ka_cnt; break;
		case TCP_USER_TIMEOUT: x = k->user_timeout_ms; break;
		case TCP_DEFER_ACCEPT: x = k->defer_accept; break;
		case TCP_MAXSEG: {
			struct sl_tcp_info ti;
			if (k->f && k->state == SK_CONNECTED) {
				sl_tcp_info(k->f, &ti);
				x = (int)ti.mss;
			} else {
				x = k->maxseg ? k->maxseg : 536; /* RFC 9293 §3.7.1 default */
			}
			break;
		}
		default: return -ENOPROTOOPT;
		}
	} else if (level == IPPROTO_IPV6 && k->family != AF_INET6) {
		return -EOPNOTSUPP;
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		x = k->v6only;
	} else if ((level == IPPROTO_IP && name == IP_TTL) ||
		   (level == IPPROTO_IPV6 && name == IPV6_UNICAST_HOPS)) {
		/* The value set, or the default the packets get (Linux: ip_default_ttl, or the
		 * route's hop limit, 64 unless configured). */
		int v = level == IPPROTO_IP ? k->ttl : k->hops;
		x = v >= 0 ? v : sl_stack_get_config(ss->st)->ttl;
	} else if (level == IPPROTO_IP && name == IP_TOS) {
		x = k->tos;
	} else if ((level == IPPROTO_IP && name == IP_MTU) ||
		   (level == IPPROTO_IPV6 && name == IPV6_MTU)) {
		/* ip(7), ipv6(7): the path MTU of a connected socket's route, else ENOTCONN. */
		bool peer = k->type == SOCK_STREAM ? k->state == SK_CONNECTED && !tcp_over(k)
						   : k->has_peer;
		int p = peer ? sl_ip_mtu(ss->st, &k->raddr) : -1;
		if (p <= 0)
			return -ENOTCONN;
		x = p + (sl_ip_is_v4(&k->raddr) ? 20 : 40);
	} else if (level == IPPROTO_IP && name == IP_PKTINFO) {
		x = k->pktinfo;
	} else if (level == IPPROTO_IP && name == IP_RECVERR) {
		x = k->recverr;
	} else if (level == IPPROTO_IPV6 && name == IPV6_RECVERR) {
		x = k->recverr6;
	} else if (level == IPPROTO_IPV6 && name == IPV6_RECVPKTINFO) {
		x = k->pktinfo6;
	} else if (level == IPPROTO_IPV6 && name == IPV6_TCLASS) {
		x = k->tclass;
	} else {
		return -ENOPROTOOPT;
	}
	if (level == IPPROTO_IP && *len > 0 && *len < (socklen_t)sizeof(x) && x >= 0 && x <= 255) {
		*(unsigned char *)v = (unsigned char)x; /* do_ip_getsockopt: one byte, optlen 1 */
		*len = 1;
		return 0;
	}
	socklen_t n = *len < (socklen_t)sizeof(x) ? *len : sizeof(x);
	memcpy(v, &x, n);
	*len = n;
	return 0;
}

int sl_sock_set_nonblock(struct sl_sockets *ss, int s, bool on)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	k->nonblock = on;
	return 0;
}

int sl_sock_get_nonblock(struct sl_sockets *ss, int s)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	return k->nonblock;
}

int sl_sock_nread(struct sl_sockets *ss, int s)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	sl_sockets_poll(ss);
	if (k->type == SOCK_DGRAM)
		return k->rx_head ? (int)k->rx_head->len : 0;
	if (k->state == SK_LISTEN)
		return -EINVAL; /* tcp_ioctl SIOCINQ on a listener */
	if (k->state != SK_CONNECTED)
		return 0;
	struct sl_iov v[2];
	ssize_t n = sl_tcp_peek(k->f, v);
	return n > 0 ? (int)n : 0;
}

int sl_sock_outq(struct sl_sockets *ss, int s, bool unsent)
{
	struct sk *k = get(ss, s);
	if (!k)
		return -EBADF;
	sl_sockets_poll(ss);
	if (k->type == SOCK_DGRAM)
		return unsent ? -EOPNOTSUPP : 0; /* datagrams leave at once: nothing queued */
	if (k->state == SK_LISTEN)
		return -EINVAL; /* tcp_ioctl */
	if (k->state != SK_CONNECTED || !k->f)
		return 0; /* connecting (SYN-SENT, SYN-RECEIVED), or never connected */
	struct sl_tcp_info ti;
	sl_tcp_info(k->f, &ti);
	return (int)(unsent ? ti.snd_unsent : ti.snd_queued);
}

/* --- readiness -------------------------------------------------------------------------- */

short sl_sock_events(struct sl_sockets *ss, int s)
{
	struct sk *k = get(ss, s);
	if (!k)
		return POLLNVAL;
	short ev = 0;
	if (k->type == SOCK_DGRAM) {
		/* datagram_poll */
		if (k->rx_head)
			ev |= POLLIN | POLLRDNORM;
		if (k->rd_shut)
			ev |= POLLIN | POLLRDNORM | POLLRDHUP;
		if (k->rd_shut && k->wr_shut)
			ev |= POLLHUP;
		ev |= POLLOUT | POLLWRNORM;
		if (k->err)
			ev |= POLLERR;
		return ev;
	}
	switch (k->state) {
	case SK_LISTEN:
		return k->aq_n ? POLLIN | POLLRDNORM : 0;
	case SK_CONNECTING:
		return 0;
	case SK_OPEN:
		/* tcp_poll on a socket in CLOSE: POLLHUP, and POLLOUT (a fresh socket and a failed
		 * connect alike: Linux reports POLLOUT|POLLHUP). */
		ev = POLLOUT | POLLWRNORM | POLLHUP;
		if (k->err)
			ev |= POLLERR;
		if (k->was_connected)
			ev |= POLLIN | POLLRDNORM | POLLRDHUP;
		return ev;
	default:
		break;
	}
	/* tcp_poll: RCV_SHUTDOWN (the FIN, or shutdown SHUT_RD) makes IN|RDHUP whatever is
	 * unread; HUP when both directions are shut or the connection is gone; OUT when it has
	 * room or the sending side is shut (a write then fails at once). */
	struct sl_iov v[2];
	ssize_t n = sl_tcp_peek(k->f, v);
	bool rcv_shut = sl_tcp_eof(k->f) || k->rd_shut || k->closed;
	bool snd_shut = k->wr_shut || k->closed;
	if (lowat_met(k, n) || rcv_shut || (n < 0 && n != -EAGAIN))
		ev |= POLLIN | POLLRDNORM;
	if (rcv_shut)
		ev |= POLLRDHUP;
	if ((rcv_shut && snd_shut) || k->closed)
		ev |= POLLHUP;
	if (snd_shut || sl_tcp_sndbuf_free(k->f) > 0)
		ev |= POLLOUT | POLLWRNORM;
	if (k->err)
		ev |= POLLERR;
	return ev;
}

uint64_t sl_sock_edge(struct sl_sockets *ss, int s)
{
	struct sk *k = get(ss, s);
	return k ? k->edge : 0;
}

unsigned sl_sockets_changed(struct sl_sockets *ss, int *out, unsigned max)
{
	unsigned n = 0;
	while (n < max && ss->chn) {
		int32_t h = ss->chq[--ss->chn];
		ss->sk[h].changed = false;
		out[n++] = h;
	}
	return n;
}
