/* Socket-semantics suite (issue 12): the same assertions run against the kernel's sockets and,
 * under `sluice exec`, against sluice's. The kernel is the reference: every expected value and
 * errno below is what Linux documents (socket(7), tcp(7), udp(7), ip(7), ipv6(7), epoll(7),
 * poll(2), select(2), accept(2), connect(2), recv(2), send(2), shutdown(2), getsockopt(2),
 * fcntl(2)) and does; the reference run (plain, on the kernel) proves it.
 *
 *   semantics [--list] [--after NAME] [--only NAME] LOCAL_IP PEER_IP [LOCAL_IP6 PEER_IP6]
 *
 * LOCAL_IP is the address this process's sockets own (the kernel's, or sluice's under exec);
 * PEER_IP is a kernel host running tests/sock/peer.py (its ports: see PORT_* below). Prints
 * "ok NAME" or "FAIL NAME: expected X got Y (errno E)" per check, then "N ok, N failed".
 * Exit status: 0 all passed, 1 some failed, 2 usage, 3 a check hung (its 20 s alarm fired; the
 * driver reruns with --after NAME to run the checks after it).
 *
 * Plain libc only. Every wait is bounded (poll with a timeout, bounded loops), and each check
 * has an alarm as the last resort. Nothing here asserts on timing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
	PORT_ECHO = 7000,    /* TCP echo, FIN answered with FIN */
	PORT_CLOSE = 7001,   /* TCP accept and close at once */
	PORT_SENDN = 7002,   /* TCP: reads "N\n", sends N bytes (byte i = i % 251), then FIN */
	PORT_RST = 7003,     /* TCP accept, then RST (SO_LINGER 0) */
	PORT_UDPECHO = 7004, /* UDP echo */
	PORT_NONE = 7005,    /* nothing listens (TCP or UDP) */
	PORT_BACK = 7006,    /* TCP connect-back control: "ADDR PORT\n" -> it connects there */
	PORT_OBSERVE = 7007, /* TCP: sends "hi\n", records how our stream ended (FIN or RST) */
	PORT_QUERY = 7008,   /* TCP: "ADDR PORT\n" -> the observer's record for that client */
	PORT_HOLE = 7009,    /* TCP: every SYN dropped (a full accept queue): stays SYN-SENT */
	PORT_REFLECT = 7010, /* UDP: answers from PORT_REFLECT2 first, then from itself */
	PORT_REFLECT2 = 7011,
	PORT_BACKLOG = 7012, /* TCP: "ADDR PORT N\n" -> N connections there at once, each sends a
				message, reads its echo, then the FIN (peer.py reports each) */
	PORT_TTL = 7013,     /* UDP: answers "ttl N tos M", the TTL / hop limit and TOS / traffic
				class the datagram arrived with */
	PORT_DRIP = 7014,    /* TCP: sends "ab", 0.3 s later "cdefg", then reads to the FIN */
	PORT_IPHDR = 7015,   /* TCP: "ADDR PORT KIND\n" -> "watching", then the TTL and TOS of
				the first segment of KIND (data, synack) from ADDR:PORT */
	PORT_DATARST = 7016, /* TCP: sends "data\n", 0.2 s later an RST (SO_LINGER 0) */
	PORT_HALF = 7017,    /* TCP: sends "hi\n" and its FIN (SHUT_WR), then records how our
				stream ended, as PORT_OBSERVE does (PORT_QUERY answers) */
};

#define WAIT_MS 5000 /* the longest any single wait for the network may take */
#define CHECK_ALARM 20

static struct sockaddr_storage local4, peer4, local6, peer6, peer4mapped, local4mapped;
static const char *local4_s, *peer4_s, *local6_s, *peer6_s;
static bool have6;

static const char *cur;
static bool cur_failed;
static int n_ok, n_fail;
static volatile sig_atomic_t sigpipes;

/* Descriptors a check opened, closed after it whatever the way it ended. */
static int tracked[128];
static int ntracked;

static void track(int fd)
{
	if (fd >= 0 && ntracked < (int)(sizeof tracked / sizeof tracked[0]))
		tracked[ntracked++] = fd;
}

static void untrack(int fd)
{
	for (int i = 0; i < ntracked; i++)
		if (tracked[i] == fd)
			tracked[i] = -1;
}

static void close_tracked(void)
{
	for (int i = 0; i < ntracked; i++)
		if (tracked[i] >= 0)
			close(tracked[i]);
	ntracked = 0;
}

static const char *en(int e)
{
	if (e == 0)
		return "0";
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

static void failf(const char *fmt, ...)
{
	if (cur_failed)
		return;
	cur_failed = true;
	printf("FAIL %s: ", cur);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* call must succeed (>= 0); its value is the expression's. */
#define OK(call)                                                                                   \
	({                                                                                         \
		errno = 0;                                                                         \
		long _r = (long)(call);                                                            \
		if (_r < 0) {                                                                      \
			failf("%s: expected success got %ld (errno %s)", #call, _r, en(errno));    \
			return;                                                                    \
		}                                                                                  \
		_r;                                                                                \
	})

/* call must fail with -1 and errno E. */
#define ERR(call, E)                                                                               \
	do {                                                                                       \
		errno = 0;                                                                         \
		long _r = (long)(call);                                                            \
		int _e = errno;                                                                    \
		if (_r != -1 || _e != (E)) {                                                       \
			failf("%s: expected -1 (errno %s) got %ld (errno %s)", #call, en(E), _r,   \
			      _r == -1 ? en(_e) : "0");                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define EQ(a, b)                                                                                   \
	do {                                                                                       \
		long _a = (long)(a), _b = (long)(b);                                               \
		if (_a != _b) {                                                                    \
			failf("%s: expected %ld got %ld (errno %s)", #a, _b, _a, en(errno));       \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* poll revents (or epoll events) equal to an exact mask, named in the message. */
#define EQ_EV(got, want)                                                                           \
	do {                                                                                       \
		unsigned _g = (unsigned)(got), _w = (unsigned)(want);                              \
		if (_g != _w) {                                                                    \
			char _gb[160], _wb[160];                                                   \
			failf("%s: expected %s got %s", #got, evname(_w, _wb), evname(_g, _gb));   \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define TRUE(cond, ...)                                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failf(__VA_ARGS__);                                                        \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static char *evname(unsigned ev, char *buf)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{POLLIN, "IN"},	     {POLLPRI, "PRI"},	     {POLLOUT, "OUT"},
		     {POLLERR, "ERR"},	     {POLLHUP, "HUP"},	     {POLLNVAL, "NVAL"},
		     {POLLRDNORM, "RDNORM"}, {POLLRDBAND, "RDBAND"}, {POLLWRNORM, "WRNORM"},
		     {POLLWRBAND, "WRBAND"}, {POLLRDHUP, "RDHUP"}};
	buf[0] = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (ev & names[i].bit) {
			strcat(buf, buf[0] ? "|" : "");
			strcat(buf, names[i].name);
			ev &= ~names[i].bit;
		}
	if (ev)
		sprintf(buf + strlen(buf), "%s0x%x", buf[0] ? "|" : "", ev);
	if (!buf[0])
		strcpy(buf, "0");
	return buf;
}

/* ---- addresses ---- */

static bool parse_addr(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *a = (void *)ss;
	struct sockaddr_in6 *b = (void *)ss;
	if (inet_pton(AF_INET, s, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &b->sin6_addr) == 1) {
		b->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static void mapped(const struct sockaddr_storage *v4, struct sockaddr_storage *out)
{
	const struct sockaddr_in *a = (const void *)v4;
	struct sockaddr_in6 *b = (void *)out;
	memset(out, 0, sizeof *out);
	b->sin6_family = AF_INET6;
	b->sin6_addr.s6_addr[10] = 0xff;
	b->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&b->sin6_addr.s6_addr[12], &a->sin_addr, 4);
}

static socklen_t alen(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

static struct sockaddr_storage with_port(const struct sockaddr_storage *base, int port)
{
	struct sockaddr_storage ss = *base;
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	return ss;
}

static struct sockaddr_storage any_addr(int fam, int port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_family = fam;
	return with_port(&ss, port);
}

/* Same family, address and port (the rest of sockaddr_in6 too: flowinfo, scope id). */
static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b,
		      bool cmp_port)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_addr.s_addr == y->sin_addr.s_addr &&
		       (!cmp_port || x->sin_port == y->sin_port);
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return !memcmp(&x->sin6_addr, &y->sin6_addr, 16) && x->sin6_scope_id == y->sin6_scope_id &&
	       (!cmp_port || x->sin6_port == y->sin6_port);
}

static const char *astr(const struct sockaddr_storage *ss)
{
	static char bufs[4][80];
	static int k;
	char *b = bufs[k++ % 4], ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof ip);
		snprintf(b, 80, "%s:%d", ip, port_of(ss));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof ip);
		snprintf(b, 80, "[%s]:%d", ip, port_of(ss));
	} else {
		snprintf(b, 80, "(family %d)", ss->ss_family);
	}
	return b;
}

#define SAME_ADDR(got, want, cmp_port)                                                             \
	TRUE(same_addr(got, want, cmp_port), "%s: expected %s%s got %s", #got, astr(want),         \
	     (cmp_port) ? "" : " (any port)", astr(got))

static const struct sockaddr_storage *L(int fam)
{
	return fam == AF_INET6 ? &local6 : &local4;
}
static const struct sockaddr_storage *P(int fam)
{
	return fam == AF_INET6 ? &peer6 : &peer4;
}

/* ---- helpers: each returns -1 (and has called failf) when it could not do its job ---- */

static int tsock(int fam, int type)
{
	int fd = socket(fam, type, 0);
	if (fd < 0)
		failf("socket(%d, %d): %s", fam, type, en(errno));
	track(fd);
	return fd;
}

/* A blocking connect to the peer's PORT (of family fam, or to a given address). */
static int connect_to(const struct sockaddr_storage *dst, int type)
{
	int fd = tsock(dst->ss_family, type);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)dst, alen(dst)) < 0) {
		failf("connect to %s: %s", astr(dst), en(errno));
		return -1;
	}
	return fd;
}

static int tconnect(int fam, int port)
{
	struct sockaddr_storage d = with_port(P(fam), port);
	return connect_to(&d, SOCK_STREAM);
}

/* poll one descriptor: its revents, 0 on timeout, -1 on error. */
static int wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r = poll(&p, 1, ms);
	if (r < 0)
		return -1;
	return r == 0 ? 0 : p.revents;
}

/* Reads exactly n bytes (a blocking or non-blocking fd; waits with poll). Returns the count
 * read: less than n on EOF, error or timeout (errno then says which; 0 on EOF/timeout). */
static ssize_t read_n(int fd, void *buf, size_t n)
{
	size_t got = 0;
	for (int i = 0; got < n && i < 10000; i++) {
		int ev = wait_fd(fd, POLLIN, WAIT_MS);
		if (ev <= 0) {
			errno = ev == 0 ? ETIMEDOUT : errno;
			break;
		}
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r == 0) {
			errno = 0;
			break;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		got += r;
	}
	return got;
}

/* Waits until FIONREAD says at least n bytes are queued (bounded). Returns the last count. */
static int wait_inq(int fd, int n)
{
	int q = -1;
	for (int i = 0; i < 100; i++) {
		if (ioctl(fd, FIONREAD, &q) < 0)
			return -1;
		if (q >= n)
			break;
		if (q == 0) { /* nothing yet: wait for the first bytes */
			struct pollfd p = {.fd = fd, .events = POLLIN};
			poll(&p, 1, 50);
		} else { /* some: readable already, so pause instead */
			poll(NULL, 0, 50);
		}
	}
	return q;
}

static void pattern(unsigned char *b, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = x;
	}
}

static uint64_t fnv1a(const unsigned char *b, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static struct sockaddr_storage sockname(int fd)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t l = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		ss.ss_family = 0xffff;
	return ss;
}

static struct sockaddr_storage peername(int fd)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t l = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &l) < 0)
		ss.ss_family = 0xffff;
	return ss;
}

static int geti(int fd, int level, int opt)
{
	int v = -12345;
	socklen_t l = sizeof v;
	if (getsockopt(fd, level, opt, &v, &l) < 0)
		return -100000 - errno;
	if (l != sizeof v)
		return -200000 - (int)l;
	return v;
}

static int seti(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof v);
}

/* A listening socket on LOCAL (family fam) port 0, optionally non-blocking. */
static int tlisten(int fam, int flags)
{
	int fd = tsock(fam, SOCK_STREAM | flags);
	if (fd < 0)
		return -1;
	struct sockaddr_storage a = with_port(L(fam), 0);
	if (bind(fd, (struct sockaddr *)&a, alen(&a)) < 0 || listen(fd, 8) < 0) {
		failf("bind/listen on %s: %s", astr(&a), en(errno));
		return -1;
	}
	return fd;
}

/* Asks the peer to connect to DST_IP:PORT; returns the control connection (keep it open: the
 * peer holds the connect-back connection as long). want_ok false: the peer's connect is
 * expected to fail; then *perr gets the peer's errno. */
static int connect_back_delay(const char *dst_ip, int port, int ctl_fam, int *perr, int delay_ms)
{
	int c = tconnect(ctl_fam, PORT_BACK);
	if (c < 0)
		return -1;
	char line[128];
	int n = delay_ms < 0 ? snprintf(line, sizeof line, "%s %d\n", dst_ip, port)
			     : snprintf(line, sizeof line, "%s %d %d\n", dst_ip, port, delay_ms);
	if (write(c, line, n) != n) {
		failf("write to the connect-back control: %s", en(errno));
		return -1;
	}
	char reply[64] = {0};
	size_t k = 0;
	while (k < sizeof reply - 1) {
		if (read_n(c, reply + k, 1) != 1)
			break;
		if (reply[k++] == '\n')
			break;
	}
	if (delay_ms >= 0) {
		if (strcmp(reply, "later\n")) {
			failf("the connect-back control answered '%s', not 'later'", reply);
			return -1;
		}
		return c;
	}
	if (perr) {
		*perr = -1;
		if (!strncmp(reply, "err ", 4))
			*perr = atoi(reply + 4);
		else if (!strcmp(reply, "ok\n"))
			*perr = 0;
		return c;
	}
	if (strcmp(reply, "ok\n")) {
		failf("the peer could not connect back to %s port %d: reply '%s'", dst_ip, port,
		      reply);
		return -1;
	}
	return c;
}

static int connect_back_ex(const char *dst_ip, int port, int ctl_fam, int *perr)
{
	return connect_back_delay(dst_ip, port, ctl_fam, perr, -1);
}

/* The peer connects to listener lfd: at once (the connection is pending when this returns),
 * or delay_ms later (>= 0; this returns before). */
static int connect_back_to(int lfd, int delay_ms)
{
	struct sockaddr_storage a = sockname(lfd);
	const char *ip = a.ss_family == AF_INET6 ? local6_s : local4_s;
	int c = connect_back_delay(ip, port_of(&a), a.ss_family, NULL, delay_ms);
	track(c);
	return c;
}

static int connect_back(int lfd)
{
	return connect_back_to(lfd, -1);
}

static int tepoll(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		failf("epoll_create1: %s", en(errno));
	track(ep);
	return ep;
}

/* ---- TCP: addresses, bind, listen ---- */

static void tcp_types(int fam)
{
	int s = tsock(fam, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	EQ(geti(s, SOL_SOCKET, SO_DOMAIN), fam);
	EQ(geti(s, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
	EQ(geti(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	/* optlen larger than an int: getsockopt writes an int and says so (getsockopt(2)). */
	long long big = -1;
	socklen_t l = sizeof big;
	OK(getsockopt(s, SOL_SOCKET, SO_TYPE, &big, &l));
	EQ(l, sizeof(int));
	struct sockaddr_storage a = with_port(L(fam), 0);
	OK(bind(s, (struct sockaddr *)&a, alen(&a)));
	OK(listen(s, 4));
	EQ(geti(s, SOL_SOCKET, SO_ACCEPTCONN), 1);
	EQ(geti(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
}

static void tcp_getsockname_unbound(int fam)
{
	int s = tsock(fam, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage ss;
	memset(&ss, 0xee, sizeof ss);
	socklen_t l = sizeof ss;
	OK(getsockname(s, (struct sockaddr *)&ss, &l));
	EQ(l, fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	struct sockaddr_storage any = any_addr(fam, 0);
	SAME_ADDR(&ss, &any, true);
}

static void tcp_bind_not_ours(int fam)
{
	int s = tsock(fam, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage a = with_port(P(fam), 0);
	ERR(bind(s, (struct sockaddr *)&a, alen(&a)), EADDRNOTAVAIL);
}

static void tcp_bind_twice(int fam)
{
	int s = tsock(fam, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage a = with_port(L(fam), 0);
	OK(bind(s, (struct sockaddr *)&a, alen(&a)));
	ERR(bind(s, (struct sockaddr *)&a, alen(&a)), EINVAL);
}

static void tcp_bind_inuse(int fam)
{
	int s1 = tsock(fam, SOCK_STREAM), s2 = tsock(fam, SOCK_STREAM);
	if (s1 < 0 || s2 < 0)
		return;
	struct sockaddr_storage a = with_port(L(fam), 0);
	OK(bind(s1, (struct sockaddr *)&a, alen(&a)));
	struct sockaddr_storage b = sockname(s1);
	TRUE(port_of(&b) != 0, "bind to port 0 left port 0 (%s)", astr(&b));
	ERR(bind(s2, (struct sockaddr *)&b, alen(&b)), EADDRINUSE);
}

/* SO_REUSEADDR on both, neither listening: the second bind succeeds (socket(7): "reuse of
 * local addresses"; Linux refuses only when the bound one is listening). */
static void tcp_bind_reuseaddr(void)
{
	int s1 = tsock(AF_INET, SOCK_STREAM), s2 = tsock(AF_INET, SOCK_STREAM);
	if (s1 < 0 || s2 < 0)
		return;
	EQ(geti(s1, SOL_SOCKET, SO_REUSEADDR), 0);
	OK(seti(s1, SOL_SOCKET, SO_REUSEADDR, 1));
	OK(seti(s2, SOL_SOCKET, SO_REUSEADDR, 1));
	EQ(geti(s1, SOL_SOCKET, SO_REUSEADDR), 1);
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(s1, (struct sockaddr *)&a, alen(&a)));
	struct sockaddr_storage b = sockname(s1);
	OK(bind(s2, (struct sockaddr *)&b, alen(&b)));
	OK(listen(s1, 4));
}

/* SO_REUSEADDR on both, but the bound one listens: in use. */
static void tcp_bind_reuseaddr_listening(void)
{
	int s1 = tsock(AF_INET, SOCK_STREAM), s3 = tsock(AF_INET, SOCK_STREAM);
	if (s1 < 0 || s3 < 0)
		return;
	OK(seti(s1, SOL_SOCKET, SO_REUSEADDR, 1));
	OK(seti(s3, SOL_SOCKET, SO_REUSEADDR, 1));
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(s1, (struct sockaddr *)&a, alen(&a)));
	OK(listen(s1, 4));
	struct sockaddr_storage b = sockname(s1);
	ERR(bind(s3, (struct sockaddr *)&b, alen(&b)), EADDRINUSE);
}

/* A listener on the wildcard holds the port for every local address. */
static void tcp_bind_wildcard_conflict(void)
{
	int s1 = tsock(AF_INET, SOCK_STREAM), s2 = tsock(AF_INET, SOCK_STREAM);
	if (s1 < 0 || s2 < 0)
		return;
	struct sockaddr_storage a = any_addr(AF_INET, 0);
	OK(bind(s1, (struct sockaddr *)&a, alen(&a)));
	OK(listen(s1, 4));
	struct sockaddr_storage b =
	    with_port(&local4, port_of((struct sockaddr_storage[]){sockname(s1)}));
	ERR(bind(s2, (struct sockaddr *)&b, alen(&b)), EADDRINUSE);
}

static void tcp_reuseport(void)
{
	int s1 = tsock(AF_INET, SOCK_STREAM), s2 = tsock(AF_INET, SOCK_STREAM);
	if (s1 < 0 || s2 < 0)
		return;
	EQ(geti(s1, SOL_SOCKET, SO_REUSEPORT), 0);
	OK(seti(s1, SOL_SOCKET, SO_REUSEPORT, 1));
	OK(seti(s2, SOL_SOCKET, SO_REUSEPORT, 1));
	EQ(geti(s1, SOL_SOCKET, SO_REUSEPORT), 1);
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(s1, (struct sockaddr *)&a, alen(&a)));
	OK(listen(s1, 4));
	struct sockaddr_storage b = sockname(s1);
	OK(bind(s2, (struct sockaddr *)&b, alen(&b)));
	OK(listen(s2, 4));
}

static void tcp_bind_bad_args(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage a = with_port(&local4, 0);
	ERR(bind(s, (struct sockaddr *)&a, sizeof(struct sockaddr_in) - 1), EINVAL);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6};
	ERR(bind(s, (struct sockaddr *)&six, sizeof six), EAFNOSUPPORT);
}

static void tcp_listen_getsockname(int fam)
{
	int s = tlisten(fam, 0);
	if (s < 0)
		return;
	struct sockaddr_storage a = sockname(s);
	SAME_ADDR(&a, L(fam), false);
	TRUE(port_of(&a) != 0, "getsockname of the listener has port 0");
}

/* listen(2) on an unbound socket binds it to an ephemeral port on the wildcard (ip(7)). */
static void tcp_listen_autobind(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	OK(listen(s, 4));
	struct sockaddr_storage a = sockname(s), any = any_addr(AF_INET, 0);
	SAME_ADDR(&a, &any, false);
	TRUE(port_of(&a) != 0, "listen without bind left port 0");
}

/* ---- TCP: connect ---- */

static unsigned char big_out[1 << 20], big_in[1 << 20];

/* 1 MiB through the echo, both directions at once (a non-blocking loop: a blocking write of
 * 1 MiB would deadlock against the echo's full buffers), compared by hash and byte. */
static void tcp_echo_1mib(int fam)
{
	int fd = tconnect(fam, PORT_ECHO);
	if (fd < 0)
		return;
	struct sockaddr_storage pn = peername(fd), want = with_port(P(fam), PORT_ECHO);
	SAME_ADDR(&pn, &want, true);
	struct sockaddr_storage sn = sockname(fd);
	SAME_ADDR(&sn, L(fam), false);
	int fl = OK(fcntl(fd, F_GETFL));
	OK(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	const size_t N = sizeof big_out;
	pattern(big_out, N, 1 + fam);
	memset(big_in, 0, N);
	size_t sent = 0, got = 0;
	for (int i = 0; got < N && i < 200000; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < N ? POLLOUT : 0)};
		int r = poll(&p, 1, WAIT_MS);
		TRUE(r == 1, "no progress for %d ms (sent %zu, echoed %zu)", WAIT_MS, sent, got);
		TRUE(!(p.revents & (POLLERR | POLLHUP | POLLNVAL)),
		     "poll revents %#x (sent %zu, got %zu)", p.revents, sent, got);
		if (p.revents & POLLOUT) {
			size_t n = N - sent < 65536 ? N - sent : 65536;
			ssize_t w = write(fd, big_out + sent, n);
			TRUE(w > 0 || errno == EAGAIN, "write: %zd (errno %s)", w, en(errno));
			if (w > 0)
				sent += w;
		}
		if (p.revents & POLLIN) {
			ssize_t w = read(fd, big_in + got, N - got);
			TRUE(w != 0, "EOF after %zu echoed bytes", got);
			TRUE(w > 0 || errno == EAGAIN, "read: %zd (errno %s)", w, en(errno));
			if (w > 0)
				got += w;
		}
	}
	EQ(got, N);
	TRUE(fnv1a(big_in, N) == fnv1a(big_out, N) && !memcmp(big_in, big_out, N),
	     "echoed 1 MiB differs (hash %016llx, sent %016llx)",
	     (unsigned long long)fnv1a(big_in, N), (unsigned long long)fnv1a(big_out, N));
	OK(shutdown(fd, SHUT_WR));
	char c;
	EQ(read_n(fd, &c, 1), 0);
	EQ(errno, 0); /* EOF, not a timeout */
}

/* Blocking write then blocking read of 32 KiB (small enough for the buffers in between). */
static void tcp_blocking_rw(void)
{
	int fd = tconnect(AF_INET, PORT_ECHO);
	if (fd < 0)
		return;
	static unsigned char o[32768], in[32768];
	pattern(o, sizeof o, 7);
	EQ(write(fd, o, sizeof o), sizeof o);
	size_t got = 0;
	for (int i = 0; got < sizeof in && i < 10000; i++) {
		ssize_t r = read(fd, in + got, sizeof in - got); /* blocking */
		TRUE(r > 0, "read after %zu bytes: %zd (errno %s)", got, r, en(errno));
		got += r;
	}
	TRUE(!memcmp(o, in, sizeof o), "32 KiB echoed differently");
}

static void tcp_connect_refused(int fam)
{
	int s = tsock(fam, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_NONE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), ECONNREFUSED);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0); /* connect returned it: nothing pending */
}

static void tcp_nb_connect(int fam)
{
	int s = tsock(fam, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	int ev = wait_fd(s, POLLOUT, WAIT_MS);
	EQ_EV(ev, POLLOUT);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	struct sockaddr_storage pn = peername(s);
	SAME_ADDR(&pn, &d, true);
	EQ(write(s, "ping", 4), 4);
	char b[4];
	EQ(read_n(s, b, 4), 4);
	TRUE(!memcmp(b, "ping", 4), "echo differs");
}

/* Linux: a connect after the non-blocking handshake completed reports that success once (0),
 * then EISCONN (the idiom "call connect again to learn the result"). */
static void tcp_nb_connect_recall(void)
{
	int s = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	EQ_EV(wait_fd(s, POLLOUT, WAIT_MS), POLLOUT);
	EQ(connect(s, (struct sockaddr *)&d, alen(&d)), 0);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EISCONN);
}

static void tcp_nb_connect_refused(int fam)
{
	int s = tsock(fam, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_NONE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	int ev = wait_fd(s, POLLOUT, WAIT_MS);
	/* tcp(7)/poll: the refused socket is closed both ways: writable, error, hang-up. */
	EQ_EV(ev, POLLOUT | POLLERR | POLLHUP);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0); /* reading SO_ERROR clears it (socket(7)) */
}

/* After a refused non-blocking connect, connect again: the error once, via connect. */
static void tcp_nb_connect_refused_recall(void)
{
	int s = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_NONE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	int ev = wait_fd(s, POLLOUT, WAIT_MS);
	TRUE(ev & POLLERR, "poll: no POLLERR (revents %#x)", ev);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), ECONNREFUSED);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
}

static void tcp_connect_isconn(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EISCONN);
	struct sockaddr_storage a = with_port(&local4, 0);
	ERR(bind(s, (struct sockaddr *)&a, alen(&a)), EINVAL); /* connect bound it */
	ERR(listen(s, 4), EINVAL);
}

static void tcp_connect_listener(void)
{
	int s = tlisten(AF_INET, 0);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EISCONN);
}

static void tcp_getpeername_unconnected(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(s, (struct sockaddr *)&ss, &l), ENOTCONN);
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	l = sizeof ss;
	ERR(getpeername(ls, (struct sockaddr *)&ss, &l), ENOTCONN);
}

/* recv on a never-connected socket: ENOTCONN; send: EPIPE (and SIGPIPE without MSG_NOSIGNAL). */
static void tcp_io_unconnected(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	char b[4];
	ERR(recv(s, b, sizeof b, 0), ENOTCONN);
	ERR(read(s, b, sizeof b), ENOTCONN);
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
}

/* ---- TCP: data ---- */

static void tcp_nb_read_eagain(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	int fl = OK(fcntl(s, F_GETFL));
	OK(fcntl(s, F_SETFL, fl | O_NONBLOCK));
	char b[16];
	ERR(read(s, b, sizeof b), EAGAIN);
	ERR(recv(s, b, sizeof b, 0), EAGAIN);
}

/* MSG_DONTWAIT on a blocking socket (recv(2)): EAGAIN without waiting. */
static void tcp_msg_dontwait(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	char b[16];
	ERR(recv(s, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, 0);
}

/* Asks the send-N service for n bytes (after delay_ms, if >= 0); returns the connection. */
static int sendn_after(int n, int delay_ms)
{
	int s = tconnect(AF_INET, PORT_SENDN);
	if (s < 0)
		return -1;
	char line[32];
	int k = delay_ms < 0 ? snprintf(line, sizeof line, "%d\n", n)
			     : snprintf(line, sizeof line, "%d %d\n", n, delay_ms);
	if (write(s, line, k) != k) {
		failf("write to the send-N service: %s", en(errno));
		return -1;
	}
	return s;
}

static int sendn(int n)
{
	return sendn_after(n, -1);
}

static bool is_sendn_pattern(const unsigned char *b, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != (off + i) % 251)
			return false;
	return true;
}

static void tcp_fionread(void)
{
	int s = sendn(1000);
	if (s < 0)
		return;
	EQ(wait_inq(s, 1000), 1000);
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 1000);
	static unsigned char b[1000];
	EQ(read_n(s, b, 1000), 1000);
	TRUE(is_sendn_pattern(b, 1000, 0), "bytes differ from the pattern");
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 0);
	EQ(read(s, b, 1), 0);
}

/* The peer's FIN behind unread data: POLLRDHUP / EPOLLRDHUP as soon as the FIN is in
 * (poll(2): "stream socket peer closed connection"), the data still unread; FIONREAD counts
 * the data only. */
static void tcp_rdhup_unread(void)
{
	int s = sendn(1000);
	if (s < 0)
		return;
	EQ(wait_inq(s, 1000), 1000);
	int ev = wait_fd(s, POLLIN | POLLRDHUP, 0);
	for (int i = 0; i < 100 && !(ev & POLLRDHUP); i++) { /* the FIN may trail the data */
		poll(NULL, 0, 50);
		ev = wait_fd(s, POLLIN | POLLRDHUP, 0);
	}
	EQ_EV(ev, POLLIN | POLLRDHUP);
	EQ_EV(wait_fd(s, POLLRDHUP, 0), POLLRDHUP); /* asked alone */
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 1000);
	int ep = tepoll();
	if (ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLRDHUP);
	static unsigned char b[1000];
	EQ(read_n(s, b, 1000), 1000);
	EQ(read(s, b, 1), 0);
}

/* FIONREAD (SIOCINQ) on a listening socket: EINVAL (tcp(7)). */
static void tcp_fionread_listener(void)
{
	int s = tlisten(AF_INET, 0);
	if (s < 0)
		return;
	int q;
	ERR(ioctl(s, FIONREAD, &q), EINVAL);
}

static void tcp_peek(void)
{
	int s = sendn(1000);
	if (s < 0)
		return;
	EQ(wait_inq(s, 1000), 1000);
	unsigned char a[100], b[100], c[900];
	EQ(recv(s, a, sizeof a, MSG_PEEK), 100);
	TRUE(is_sendn_pattern(a, 100, 0), "peeked bytes differ");
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 1000); /* peeking consumed nothing */
	memset(a, 0, sizeof a);
	EQ(recv(s, a, sizeof a, MSG_PEEK), 100);
	TRUE(is_sendn_pattern(a, 100, 0), "second peek differs");
	EQ(read(s, b, sizeof b), 100);
	TRUE(!memcmp(a, b, 100), "read after peek returned other bytes");
	EQ(recv(s, c, 10, MSG_PEEK), 10);
	TRUE(is_sendn_pattern(c, 10, 100), "peek after read differs");
	EQ(read_n(s, c, 900), 900);
	TRUE(is_sendn_pattern(c, 900, 100), "rest differs");
}

static void tcp_readv_writev(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	unsigned char o[4096], x1[3], x2[2000], x3[2093];
	pattern(o, sizeof o, 3);
	struct iovec w[4] = {{o, 1}, {o + 1, 0}, {o + 1, 4000}, {o + 4001, 95}};
	EQ(writev(s, w, 4), 4096);
	EQ(wait_inq(s, 4096), 4096);
	struct iovec r[3] = {{x1, 3}, {x2, 2000}, {x3, 2093}};
	EQ(readv(s, r, 3), 4096);
	TRUE(!memcmp(x1, o, 3) && !memcmp(x2, o + 3, 2000) && !memcmp(x3, o + 2003, 2093),
	     "readv scattered the echo wrongly");
}

static void tcp_sendmsg_recvmsg(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	unsigned char o[3000], x1[10], x2[1990], x3[1000];
	pattern(o, sizeof o, 4);
	struct iovec w[3] = {{o, 1000}, {o + 1000, 1500}, {o + 2500, 500}};
	struct msghdr m = {.msg_iov = w, .msg_iovlen = 3};
	EQ(sendmsg(s, &m, MSG_NOSIGNAL), 3000);
	EQ(wait_inq(s, 3000), 3000);
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	struct iovec r[3] = {{x1, 10}, {x2, 1990}, {x3, 1000}};
	struct msghdr n = {.msg_name = &from,
			   .msg_namelen = sizeof from,
			   .msg_iov = r,
			   .msg_iovlen = 3,
			   .msg_flags = -1};
	EQ(recvmsg(s, &n, 0), 3000);
	EQ(n.msg_flags, 0);
	EQ(n.msg_namelen, 0); /* TCP fills no source address */
	TRUE(!memcmp(x1, o, 10) && !memcmp(x2, o + 10, 1990) && !memcmp(x3, o + 2000, 1000),
	     "recvmsg scattered the echo wrongly");
}

static void tcp_shutdown_wr_eof(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	EQ(write(s, "abc", 3), 3);
	OK(shutdown(s, SHUT_WR));
	char b[4] = {0};
	EQ(read_n(s, b, 3), 3);
	TRUE(!memcmp(b, "abc", 3), "echo differs: '%s'", b);
	EQ(read_n(s, b, 1), 0);
	EQ(errno, 0); /* EOF, not a timeout */
	EQ(read(s, b, 1), 0);
	/* Both directions shut: readable (EOF), writable (would not block: EPIPE), hang-up. */
	int ev = wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, WAIT_MS);
	EQ_EV(ev, POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
}

static void on_sigpipe(int sig)
{
	sigpipes++;
}

static void tcp_write_after_shut_wr(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	OK(shutdown(s, SHUT_WR));
	int before = sigpipes;
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	EQ(sigpipes - before, 0);
	ERR(write(s, "x", 1), EPIPE); /* send(2): "also receives a SIGPIPE" */
	EQ(sigpipes - before, 1);
}

static void tcp_shutdown_rd(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	OK(shutdown(s, SHUT_RD));
	char b[4];
	EQ(read(s, b, sizeof b), 0);
	int ev = wait_fd(s, POLLIN | POLLRDHUP, 0);
	EQ_EV(ev, POLLIN | POLLRDHUP);
	EQ(write(s, "ok", 2), 2); /* the send side still works */
}

static void tcp_shutdown_errors(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	ERR(shutdown(s, SHUT_WR), ENOTCONN);
	ERR(shutdown(s, 7), EINVAL);
}

static void tcp_peer_rst_read(int fam)
{
	int s = tconnect(fam, PORT_RST);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN | POLLRDHUP, WAIT_MS);
	EQ_EV(ev, POLLIN | POLLRDHUP | POLLERR | POLLHUP);
	char b[4];
	ERR(recv(s, b, sizeof b, 0), ECONNRESET);
	EQ(recv(s, b, sizeof b, 0), 0); /* the error is reported once; then end of stream */
}

static void tcp_peer_rst_write(void)
{
	int s = tconnect(AF_INET, PORT_RST);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN, WAIT_MS);
	TRUE(ev & POLLERR, "no POLLERR after the peer's RST (revents %#x)", ev);
	int before = sigpipes;
	ERR(send(s, "x", 1, MSG_NOSIGNAL), ECONNRESET);
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	EQ(sigpipes - before, 0);
}

static void tcp_peer_rst_so_error(void)
{
	int s = tconnect(AF_INET, PORT_RST);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN, WAIT_MS);
	TRUE(ev & POLLERR, "no POLLERR after the peer's RST (revents %#x)", ev);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), ECONNRESET);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	char b[4];
	EQ(recv(s, b, sizeof b, 0), 0);
}

static void tcp_peer_close_poll(int fam)
{
	int s = tconnect(fam, PORT_CLOSE);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN | POLLRDHUP, WAIT_MS);
	EQ_EV(ev, POLLIN | POLLRDHUP);
	char b[4];
	EQ(read(s, b, sizeof b), 0);
	EQ(read(s, b, sizeof b), 0);
	/* POLLRDHUP only when asked for */
	ev = wait_fd(s, POLLIN, 0);
	EQ_EV(ev, POLLIN);
}

/* The peer closed (FIN) and is gone: our write still succeeds (half-close), the peer answers
 * with an RST, and in CLOSE-WAIT Linux reports that RST as EPIPE (tcp_reset). */
static void tcp_write_to_closed_peer(void)
{
	int s = tconnect(AF_INET, PORT_CLOSE);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN, WAIT_MS);
	EQ_EV(ev, POLLIN);
	EQ(send(s, "x", 1, MSG_NOSIGNAL), 1);
	ev = 0;
	for (int i = 0; i < 50 && !(ev & POLLERR); i++)
		ev = wait_fd(s, POLLOUT, 100);
	EQ_EV(ev, POLLOUT | POLLERR | POLLHUP);
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	char b[4];
	EQ(read(s, b, sizeof b), 0);
}

/* ---- TCP: accept ---- */

static void tcp_accept_nb_eagain(void)
{
	int s = tlisten(AF_INET, SOCK_NONBLOCK);
	if (s < 0)
		return;
	ERR(accept(s, NULL, NULL), EAGAIN);
	ERR(accept4(s, NULL, NULL, SOCK_NONBLOCK), EAGAIN);
	EQ(wait_fd(s, POLLIN, 0), 0);
}

static void tcp_accept_not_listening(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	ERR(accept(s, NULL, NULL), EINVAL);
	ERR(accept4(s, NULL, NULL, 0x4000 /* not a flag */), EINVAL);
}

static void tcp_accept_connect_back(int fam)
{
	int ls = tlisten(fam, 0);
	if (ls < 0)
		return;
	if (connect_back(ls) < 0)
		return;
	int ev = wait_fd(ls, POLLIN, WAIT_MS);
	EQ_EV(ev, POLLIN);
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	socklen_t fl = sizeof from;
	int a = accept4(ls, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK);
	track(a);
	TRUE(a >= 0, "accept4: %s", en(errno));
	EQ(fl, fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	SAME_ADDR(&from, P(fam), false);
	struct sockaddr_storage pn = peername(a);
	SAME_ADDR(&pn, &from, true);
	struct sockaddr_storage sn = sockname(a), lsn = sockname(ls);
	SAME_ADDR(&sn, &lsn, true);
	int f = OK(fcntl(a, F_GETFL));
	TRUE(f & O_NONBLOCK, "accept4(SOCK_NONBLOCK) gave a blocking socket (flags %#x)", f);
	EQ(geti(a, SOL_SOCKET, SO_ACCEPTCONN), 0);
	char b[8] = {0};
	EQ(read_n(a, b, 6), 6);
	TRUE(!memcmp(b, "hello\n", 6), "got '%s' from the connect-back", b);
	ERR(read(a, b, 1), EAGAIN);
	/* The listener's queue is empty again */
	EQ(wait_fd(ls, POLLIN, 0), 0);
}

/* accept(2): the new socket does not inherit O_NONBLOCK from the listener. */
static void tcp_accept_no_inherit(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0)
		return;
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	EQ(OK(fcntl(a, F_GETFL)) & O_NONBLOCK, 0);
	char b[8];
	EQ(read(a, b, 6), 6); /* blocking read */
}

static void tcp_listen_epoll(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0)
		return;
	int ep = OK(epoll_create1(0));
	track(ep);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 77};
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e));
	struct epoll_event out[4];
	EQ(epoll_wait(ep, out, 4, 0), 0);
	if (connect_back(ls) < 0)
		return;
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.u64, 77);
	EQ_EV(out[0].events, EPOLLIN);
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	EQ(epoll_wait(ep, out, 4, 0), 0);
}

static void tcp_listen_select(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	if (connect_back(ls) < 0)
		return;
	fd_set r;
	FD_ZERO(&r);
	FD_SET(ls, &r);
	struct timeval tv = {5, 0};
	EQ(select(ls + 1, &r, NULL, NULL, &tv), 1);
	TRUE(FD_ISSET(ls, &r), "listener not in the read set");
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
}

/* Blocking calls that must wait for the network (each drives the stack while it waits): the
 * peer connects 300 ms after being asked; accept, poll, epoll_wait and select wait forever
 * (the check's alarm is the bound). */
static void tcp_accept_blocks(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back_to(ls, 300) < 0)
		return;
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	int a = accept(ls, (struct sockaddr *)&from, &fl);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	SAME_ADDR(&from, &peer4, false);
	char b[8];
	EQ(read(a, b, 6), 6);
	TRUE(!memcmp(b, "hello\n", 6), "read '%.6s'", b);
}

static void poll_blocks(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0 || connect_back_to(ls, 300) < 0)
		return;
	struct pollfd p = {.fd = ls, .events = POLLIN};
	EQ(poll(&p, 1, -1), 1);
	EQ_EV(p.revents, POLLIN);
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	/* and a read-side wait: the peer's "hello" may or may not be in already */
	p = (struct pollfd){.fd = a, .events = POLLIN};
	EQ(poll(&p, 1, -1), 1);
	EQ_EV(p.revents, POLLIN);
}

static void epoll_blocks(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK), ep = tepoll();
	if (ls < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 3}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e));
	if (connect_back_to(ls, 300) < 0)
		return;
	EQ(epoll_wait(ep, out, 2, -1), 1);
	EQ(out[0].data.u64, 3);
	EQ_EV(out[0].events, EPOLLIN);
}

static void select_blocks(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0 || connect_back_to(ls, 300) < 0)
		return;
	fd_set r;
	FD_ZERO(&r);
	FD_SET(ls, &r);
	EQ(select(ls + 1, &r, NULL, NULL, NULL), 1);
	TRUE(FD_ISSET(ls, &r), "listener not in the read set");
}

static int echo_with_data(int n);
static int ubind(int fam);
static void tcp_self_connect(int fam);
static void tcp_self_connect_4(void)
{
	tcp_self_connect(AF_INET);
}
static void tcp_self_connect_6(void)
{
	tcp_self_connect(AF_INET6);
}

/* ---- close: what the peer sees (the observer service records it) ---- */

static uint32_t crc32(const unsigned char *b, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= b[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* A connection to the observer; with hi, its "hi\n" read first. */
static int observed(bool hi)
{
	int s = tconnect(AF_INET, PORT_OBSERVE);
	if (s < 0)
		return -1;
	char b[3];
	if (hi ? read_n(s, b, 3) != 3 : wait_inq(s, 3) != 3) {
		failf("no greeting from the observer");
		return -1;
	}
	return s;
}

/* The observer's record of the stream from local port `port`: "eof N CRC", "reset N CRC". */
static bool observer_says(int port, char *out, size_t outlen)
{
	int q = tconnect(AF_INET, PORT_QUERY);
	if (q < 0)
		return false;
	char line[80];
	int n = snprintf(line, sizeof line, "%s %d\n", local4_s, port);
	if (write(q, line, n) != n) {
		failf("write to the observer query: %s", en(errno));
		return false;
	}
	size_t k = 0;
	while (k < outlen - 1 && read_n(q, out + k, 1) == 1 && out[k] != '\n')
		k++;
	out[k] = 0;
	return true;
}

#define OBSERVED(port, fmt, ...)                                                                   \
	do {                                                                                       \
		char _want[80], _got[80];                                                          \
		snprintf(_want, sizeof _want, fmt, __VA_ARGS__);                                   \
		if (!observer_says(port, _got, sizeof _got))                                       \
			return;                                                                    \
		TRUE(!strcmp(_got, _want), "the peer saw '%s', expected '%s'", _got, _want);       \
	} while (0)

/* close(2) after writes: the bytes, then an orderly FIN. */
static void tcp_close_graceful(void)
{
	int s = observed(true);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	EQ(write(s, "abc", 3), 3);
	untrack(s);
	OK(close(s));
	OBSERVED(port, "eof 3 %u", crc32((const unsigned char *)"abc", 3));
}

/* close(2) right after a large write: everything queued is still delivered, then FIN. */
static void tcp_close_flushes(void)
{
	int s = observed(true);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	static unsigned char b[256 * 1024];
	pattern(b, sizeof b, 11);
	EQ(write(s, b, sizeof b), sizeof b);
	untrack(s);
	OK(close(s));
	OBSERVED(port, "eof %zu %u", sizeof b, crc32(b, sizeof b));
}

/* SO_LINGER {1, 0}: close aborts the connection with an RST (socket(7), RFC 793 ABORT). */
static void tcp_close_linger0(void)
{
	int s = observed(true);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	struct linger l = {1, 0};
	OK(setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l));
	untrack(s);
	OK(close(s));
	OBSERVED(port, "reset 0 %u", 0u);
}

/* Closing with received data unread resets the connection (RFC 2525 2.17; Linux tcp_close). */
static void tcp_close_unread(void)
{
	int s = observed(false);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	untrack(s);
	OK(close(s));
	OBSERVED(port, "reset 0 %u", 0u);
}

static void tcp_shutdown_rdwr(void)
{
	int s = observed(true);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	EQ(write(s, "xy", 2), 2);
	OK(shutdown(s, SHUT_RDWR));
	char b[4];
	EQ(read(s, b, sizeof b), 0);
	ERR(send(s, "z", 1, MSG_NOSIGNAL), EPIPE);
	OBSERVED(port, "eof 2 %u", crc32((const unsigned char *)"xy", 2));
}

/* ---- a connection that stays in SYN-SENT (the peer drops every SYN) ---- */

static void tcp_connecting(void)
{
	int s = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_HOLE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	EQ(wait_fd(s, POLLIN | POLLOUT, 200), 0); /* not connected: neither readable nor writable */
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EALREADY);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(s, (struct sockaddr *)&ss, &l), ENOTCONN);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	char b[4];
	ERR(read(s, b, sizeof b), EAGAIN);
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EAGAIN);
	int ep = tepoll();
	if (ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, 100), 0);
	struct sockaddr_storage sn = sockname(s);
	SAME_ADDR(&sn, &local4, false); /* connect chose the source address and port */
	TRUE(port_of(&sn) != 0, "a connecting socket has port 0");
}

/* ---- more TCP ---- */

/* accept(2) on Linux: the new socket takes the listener's options (TCP_NODELAY, SO_KEEPALIVE,
 * the keepalive timers, SO_RCVBUF). */
static void tcp_accept_inherits(void)
{
	int ls = tsock(AF_INET, SOCK_STREAM);
	if (ls < 0)
		return;
	OK(seti(ls, IPPROTO_TCP, TCP_NODELAY, 1));
	OK(seti(ls, SOL_SOCKET, SO_KEEPALIVE, 1));
	OK(seti(ls, IPPROTO_TCP, TCP_KEEPIDLE, 77));
	OK(seti(ls, IPPROTO_TCP, TCP_KEEPCNT, 3));
	OK(seti(ls, SOL_SOCKET, SO_RCVBUF, 65536));
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept(ls, NULL, NULL);
	track(s);
	TRUE(s >= 0, "accept: %s", en(errno));
	EQ(geti(s, IPPROTO_TCP, TCP_NODELAY), 1);
	EQ(geti(s, SOL_SOCKET, SO_KEEPALIVE), 1);
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPIDLE), 77);
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPCNT), 3);
	EQ(geti(s, SOL_SOCKET, SO_RCVBUF), 131072);
}

static void tcp_accept_two(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0 || connect_back(ls) < 0 || connect_back(ls) < 0)
		return;
	struct sockaddr_storage f1, f2;
	socklen_t l1 = sizeof f1, l2 = sizeof f2;
	int a = accept(ls, (struct sockaddr *)&f1, &l1);
	track(a);
	TRUE(a >= 0, "first accept: %s", en(errno));
	int b = accept(ls, (struct sockaddr *)&f2, &l2);
	track(b);
	TRUE(b >= 0, "second accept: %s", en(errno));
	TRUE(a != b && port_of(&f1) != port_of(&f2), "two accepts, one connection (%s, %s)",
	     astr(&f1), astr(&f2));
	ERR(accept(ls, NULL, NULL), EAGAIN);
}

static void tcp_io_listener(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	char b[4];
	ERR(read(ls, b, sizeof b), ENOTCONN);
	ERR(recv(ls, b, sizeof b, 0), ENOTCONN);
	ERR(send(ls, "x", 1, MSG_NOSIGNAL), EPIPE);
}

static void tcp_zero_length(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	char b[4];
	EQ(write(s, b, 0), 0);
	EQ(send(s, b, 0, 0), 0);
	EQ(read(s, b, 0), 0); /* read(2) of 0 bytes returns 0 (recv of 0 would wait for data) */
}

static void tcp_keepalive_limits(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	/* tcp(7) / Linux: TCP_KEEPIDLE and TCP_KEEPINTVL at most 32767 s, TCP_KEEPCNT at most 127
	 */
	OK(seti(s, IPPROTO_TCP, TCP_KEEPIDLE, 32767));
	ERR(seti(s, IPPROTO_TCP, TCP_KEEPIDLE, 32768), EINVAL);
	OK(seti(s, IPPROTO_TCP, TCP_KEEPINTVL, 32767));
	ERR(seti(s, IPPROTO_TCP, TCP_KEEPINTVL, 32768), EINVAL);
	OK(seti(s, IPPROTO_TCP, TCP_KEEPCNT, 127));
	ERR(seti(s, IPPROTO_TCP, TCP_KEEPCNT, 128), EINVAL);
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPIDLE), 32767);
}

/* getsockname(2): a short buffer gets the address truncated, addrlen the full size. */
static void sock_addrlen_truncation(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	struct sockaddr_storage full = sockname(s);
	unsigned char b[16];
	memset(b, 0xab, sizeof b);
	socklen_t l = 4;
	OK(getsockname(s, (struct sockaddr *)b, &l));
	EQ(l, sizeof(struct sockaddr_in));
	TRUE(!memcmp(b, &full, 4) && b[4] == 0xab, "truncated address written wrongly");
	l = 4;
	memset(b, 0xab, sizeof b);
	OK(getpeername(s, (struct sockaddr *)b, &l));
	EQ(l, sizeof(struct sockaddr_in));
	EQ(b[4], 0xab);
}

/* ---- more epoll / poll ---- */

/* Edge-triggered EPOLLOUT on a non-blocking connect: once when it completes; then a
 * data arrival reports every ready event (EPOLLIN|EPOLLOUT). */
static void epoll_edge_connect(void)
{
	int s = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLOUT);
	EQ(epoll_wait(ep, out, 2, 0), 0);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	EQ(write(s, "x", 1), 1);
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLOUT);
	EQ(epoll_wait(ep, out, 2, 0), 0);
}

/* More ready than maxevents: each call returns maxevents, and the rest come next (epoll(7)
 * "starvation": Linux rotates the ready list). */
/* A large set where few are ready, round after round: epoll_wait reports exactly the sockets
 * with unread data (level-triggered), an edge-triggered set each of them once, and nothing
 * once they are read. (Under sluice exec a wait looks only at the sockets that may have
 * changed: this is the check that none is missed and none reported that is not ready.) */
static void epoll_sparse(void)
{
	enum { N = 48, K = 3, ROUNDS = 20 };
	int fd[N], lt = tepoll(), et = tepoll();
	if (lt < 0 || et < 0)
		return;
	for (int i = 0; i < N; i++) {
		if ((fd[i] = tconnect(AF_INET, PORT_ECHO)) < 0)
			return;
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
		OK(epoll_ctl(lt, EPOLL_CTL_ADD, fd[i], &e));
		e.events = EPOLLIN | EPOLLET;
		OK(epoll_ctl(et, EPOLL_CTL_ADD, fd[i], &e));
	}
	struct epoll_event out[N];
	/* Fresh connections: nothing to read, nothing to report (the edge-triggered set reports
	 * nothing either: not readable). */
	EQ(epoll_wait(lt, out, N, 0), 0);
	EQ(epoll_wait(et, out, N, 0), 0);
	uint32_t x = 12345;
	for (int r = 0; r < ROUNDS && !cur_failed; r++) {
		bool pick[N] = {false};
		for (int k = 0; k < K;) {
			x = x * 1103515245u + 12345u;
			int i = (int)((x >> 16) % N);
			if (pick[i])
				continue;
			pick[i] = true;
			k++;
			EQ(write(fd[i], "s", 1), 1);
		}
		/* The first echo ends a wait; then every echo is let in (FIONREAD) and the
		 * level-triggered set reports exactly those K. */
		TRUE(epoll_wait(lt, out, N, WAIT_MS) >= 1, "round %d: no echo reported", r);
		for (int i = 0; i < N; i++)
			if (pick[i])
				TRUE(wait_inq(fd[i], 1) == 1, "round %d: echo on %d did not come", r, i);
		int n = epoll_wait(lt, out, N, 0);
		EQ(n, K);
		for (int j = 0; j < n; j++)
			TRUE(pick[out[j].data.u32], "round %d: socket %u reported, no data was sent to it",
			     r, out[j].data.u32);
		/* The edge-triggered set reports the K sockets once. */
		n = epoll_wait(et, out, N, 0);
		EQ(n, K);
		for (int j = 0; j < n; j++)
			TRUE(pick[out[j].data.u32], "round %d: edge-triggered set reported %u", r,
			     out[j].data.u32);
		EQ(epoll_wait(et, out, N, 0), 0);
		EQ(epoll_wait(lt, out, N, 0), K); /* unread: reported again */
		char c;
		for (int i = 0; i < N; i++)
			if (pick[i])
				EQ(read(fd[i], &c, 1), 1);
		EQ(epoll_wait(lt, out, N, 0), 0);
		EQ(epoll_wait(et, out, N, 0), 0);
	}
}

static void epoll_maxevents(void)
{
	int s[3], ep = tepoll();
	for (int i = 0; i < 3; i++) {
		s[i] = echo_with_data(1);
		if (s[i] < 0)
			return;
	}
	if (ep < 0)
		return;
	for (int i = 0; i < 3; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1u << i};
		OK(epoll_ctl(ep, EPOLL_CTL_ADD, s[i], &e));
	}
	struct epoll_event out[3];
	EQ(epoll_wait(ep, out, 2, 0), 2);
	unsigned seen = out[0].data.u64 | out[1].data.u64;
	EQ(epoll_wait(ep, out, 2, 0), 2);
	seen |= out[0].data.u64 | out[1].data.u64;
	EQ(seen, 7);
	EQ(epoll_wait(ep, out, 3, 0), 3);
}

/* poll on the number of a closed socket: POLLNVAL. */
static void poll_nval(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	untrack(s);
	OK(close(s));
	struct pollfd p = {.fd = s, .events = POLLIN};
	EQ(poll(&p, 1, 0), 1);
	EQ_EV(p.revents, POLLNVAL);
}

/* ---- more UDP ---- */

static void udp_large(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	static unsigned char o[65508], in[65508];
	pattern(o, sizeof o, 13);
	EQ(send(u, o, 8000, 0), 8000); /* fragmented both ways */
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(u, in, sizeof in, 0), 8000);
	TRUE(!memcmp(o, in, 8000), "8000-byte datagram came back different");
	/* udp(7): 65507 bytes is the largest IPv4 UDP payload */
	ERR(send(u, o, 65508, 0), EMSGSIZE);
	EQ(send(u, o, 65507, 0), 65507);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(u, in, sizeof in, 0), 65507);
	TRUE(!memcmp(o, in, 65507), "65507-byte datagram came back different");
}

/* ---- signals: blocking calls and EINTR (signal(7)) ---- */

static volatile sig_atomic_t sigusr1s;
static void on_sigusr1(int sig)
{
	sigusr1s++;
}

/* SIGUSR1 to this process ms from now (once), with the handler installed with or without
 * SA_RESTART. Returns the timer (to be deleted), or 0 after failf. */
static timer_t *usr1_in(int ms, bool restart)
{
	static timer_t t;
	struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = restart ? SA_RESTART : 0};
	sigemptyset(&sa.sa_mask);
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	struct itimerspec its = {.it_value = {ms / 1000, (long)(ms % 1000) * 1000000}};
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || timer_create(CLOCK_MONOTONIC, &ev, &t) < 0 ||
	    timer_settime(t, 0, &its, NULL) < 0) {
		failf("cannot arm a SIGUSR1 timer: %s", en(errno));
		return NULL;
	}
	sigusr1s = 0;
	return &t;
}

#define USR1_IN(ms, restart)                                                                       \
	({                                                                                         \
		timer_t *_t = usr1_in(ms, restart);                                                \
		if (!_t)                                                                           \
			return;                                                                    \
		_t;                                                                                \
	})

/* epoll_wait, poll and select are never restarted: EINTR, with or without SA_RESTART. */
static void eintr_waits(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	timer_t *t = USR1_IN(200, true);
	ERR(epoll_wait(ep, out, 2, -1), EINTR);
	timer_delete(*t);
	EQ(sigusr1s, 1);
	t = USR1_IN(200, true);
	struct pollfd p = {.fd = s, .events = POLLIN};
	ERR(poll(&p, 1, -1), EINTR);
	timer_delete(*t);
	t = USR1_IN(200, true);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(s, &r);
	ERR(select(s + 1, &r, NULL, NULL, NULL), EINTR);
	timer_delete(*t);
	EQ(sigusr1s, 1);
}

/* Without SA_RESTART a blocking read / accept / connect returns EINTR (signal(7)). */
static void eintr_blocking_calls(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	char b[4];
	timer_t *t = USR1_IN(200, false);
	ERR(read(s, b, sizeof b), EINTR);
	timer_delete(*t);
	EQ(sigusr1s, 1);
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	t = USR1_IN(200, false);
	ERR(accept(ls, NULL, NULL), EINTR);
	timer_delete(*t);
	/* connect: interrupted, the attempt goes on in the background (connect(2) EINTR): the
	 * socket is still connecting, so a non-blocking connect says EALREADY */
	int c = tsock(AF_INET, SOCK_STREAM);
	if (c < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_HOLE);
	t = USR1_IN(200, false);
	ERR(connect(c, (struct sockaddr *)&d, alen(&d)), EINTR);
	timer_delete(*t);
	EQ(wait_fd(c, POLLOUT, 0), 0);
	OK(fcntl(c, F_SETFL, O_NONBLOCK));
	ERR(connect(c, (struct sockaddr *)&d, alen(&d)), EALREADY);
}

/* With SA_RESTART a blocking accept or read is restarted after the handler (signal(7); glibc's
 * signal(3) installs handlers so). The signal comes 100 ms into the call, the connection or
 * the data 2 s after the request. */
static void sa_restart_accept(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back_to(ls, 2000) < 0)
		return;
	timer_t *t = USR1_IN(100, true);
	int a = accept(ls, NULL, NULL);
	timer_delete(*t);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	EQ(sigusr1s, 1);
}

static void sa_restart_read(void)
{
	int s = sendn_after(4, 2000); /* the peer sends 4 bytes 2 s from now */
	if (s < 0)
		return;
	timer_t *t = USR1_IN(100, true);
	unsigned char b[4];
	ssize_t r = read(s, b, sizeof b);
	timer_delete(*t);
	TRUE(r >= 1 && r <= 4, "read: %zd (errno %s)", r, en(errno));
	TRUE(is_sendn_pattern(b, r, 0), "read other bytes");
	EQ(sigusr1s, 1);
}

/* A blocking connect is restarted too (signal(7) lists connect(2) among the calls SA_RESTART
 * restarts when the socket has no timeout): the handshake to a port whose SYNs are dropped
 * goes on after the SIGUSR1 handler (SA_RESTART) at 100 ms and is ended by a SIGUSR2 one
 * without SA_RESTART at 600 ms, so connect fails EINTR with both handlers run. */
static volatile sig_atomic_t sigusr2s;
static void on_sigusr2(int sig)
{
	(void)sig;
	sigusr2s++;
}

static void sa_restart_connect(void)
{
	int c = tsock(AF_INET, SOCK_STREAM);
	if (c < 0)
		return;
	struct sigaction sa = {.sa_handler = on_sigusr2}, old;
	sigemptyset(&sa.sa_mask);
	timer_t t2;
	struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
	struct itimerspec its = {.it_value = {0, 600000000L}};
	if (sigaction(SIGUSR2, &sa, &old) < 0 || timer_create(CLOCK_MONOTONIC, &ev, &t2) < 0) {
		failf("cannot arm a SIGUSR2 timer: %s", en(errno));
		return;
	}
	sigusr2s = 0;
	timer_t *t = usr1_in(100, true);
	if (t && timer_settime(t2, 0, &its, NULL) == 0) {
		struct sockaddr_storage d = with_port(&peer4, PORT_HOLE);
		ERR(connect(c, (struct sockaddr *)&d, alen(&d)), EINTR);
		EQ(sigusr1s, 1);
		EQ(sigusr2s, 1);
	}
	if (t)
		timer_delete(*t);
	timer_delete(t2);
	sigaction(SIGUSR2, &old, NULL);
}

/* ---- sockets to ourselves, Unix sockets, kernel descriptors ---- */

/* A connection from this process to its own listener, on its own address. */
static void tcp_self_connect(int fam)
{
	int ls = tlisten(fam, 0);
	if (ls < 0)
		return;
	struct sockaddr_storage a = sockname(ls);
	int c = tsock(fam, SOCK_STREAM | SOCK_NONBLOCK);
	if (c < 0)
		return;
	int r = connect(c, (struct sockaddr *)&a, alen(&a));
	TRUE(r == 0 || errno == EINPROGRESS, "connect to ourselves: %s", en(errno));
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept(ls, NULL, NULL);
	track(s);
	TRUE(s >= 0, "accept: %s", en(errno));
	EQ_EV(wait_fd(c, POLLOUT, WAIT_MS), POLLOUT);
	EQ(geti(c, SOL_SOCKET, SO_ERROR), 0);
	EQ(write(c, "self", 4), 4);
	char b[4];
	EQ(read_n(s, b, 4), 4);
	TRUE(!memcmp(b, "self", 4), "got '%.4s'", b);
	struct sockaddr_storage cs = sockname(c), sp = peername(s);
	SAME_ADDR(&sp, &cs, true);
}

static void udp_self(void)
{
	int u1 = ubind(AF_INET), u2 = ubind(AF_INET);
	if (u1 < 0 || u2 < 0)
		return;
	struct sockaddr_storage a2 = sockname(u2);
	EQ(sendto(u1, "me", 2, 0, (struct sockaddr *)&a2, alen(&a2)), 2);
	EQ_EV(wait_fd(u2, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	char b[4];
	EQ(recvfrom(u2, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 2);
	struct sockaddr_storage a1 = sockname(u1);
	SAME_ADDR(&from, &a1, true);
}

/* AF_UNIX sockets stay the kernel's, and mix with IP sockets in poll and epoll. */
static void unix_untouched(void)
{
	int sv[2];
	OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	track(sv[0]);
	track(sv[1]);
	EQ(geti(sv[0], SOL_SOCKET, SO_DOMAIN), AF_UNIX);
	EQ(send(sv[0], "u", 1, 0), 1);
	int s = echo_with_data(2), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct pollfd p[2] = {{.fd = sv[1], .events = POLLIN}, {.fd = s, .events = POLLIN}};
	EQ(poll(p, 2, WAIT_MS), 2);
	struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = 1},
			   e2 = {.events = EPOLLIN, .data.u64 = 2};
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e1));
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e2));
	struct epoll_event out[4];
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 2);
	char b[2];
	EQ(recv(sv[1], b, 1, 0), 1);
	EQ(b[0], 'u');
}

/* Socket calls on a pipe: ENOTSOCK, as on the kernel. */
static void kernel_fd_enotsock(void)
{
	int p[2];
	OK(pipe(p));
	track(p[0]);
	track(p[1]);
	int v;
	socklen_t l = sizeof v;
	ERR(getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &l), ENOTSOCK);
	char b[2];
	ERR(recv(p[0], b, 1, MSG_DONTWAIT), ENOTSOCK);
	ERR(shutdown(p[0], SHUT_RD), ENOTSOCK);
	struct sockaddr_storage ss;
	l = sizeof ss;
	ERR(getsockname(p[0], (struct sockaddr *)&ss, &l), ENOTSOCK);
	ERR(accept(p[0], NULL, NULL), ENOTSOCK);
}

/* An epoll descriptor holding a sluice socket, itself polled: readable once the socket is. */
static void epoll_fd_polled(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(wait_fd(ep, POLLIN, 0), 0);
	EQ(write(s, "n", 1), 1); /* the echo arrives while poll waits */
	EQ_EV(wait_fd(ep, POLLIN, WAIT_MS), POLLIN);
	EQ(epoll_wait(ep, out, 2, 0), 1);
}

/* One socket in two epoll sets: both report it. */
static void epoll_two_sets(void)
{
	int s = echo_with_data(1), e1 = tepoll(), e2 = tepoll();
	if (s < 0 || e1 < 0 || e2 < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	OK(epoll_ctl(e1, EPOLL_CTL_ADD, s, &e));
	OK(epoll_ctl(e2, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(e1, out, 2, WAIT_MS), 1);
	EQ(epoll_wait(e2, out, 2, WAIT_MS), 1);
	OK(epoll_ctl(e1, EPOLL_CTL_DEL, s, &e));
	EQ(epoll_wait(e1, out, 2, 0), 0);
	EQ(epoll_wait(e2, out, 2, 0), 1);
}

static void epoll_create_errors(void)
{
	ERR(epoll_create(0), EINVAL);
	int ep = OK(epoll_create(1));
	track(ep);
	struct epoll_event e = {.events = EPOLLIN};
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &e), EINVAL);
	int f = open("/etc/hostname", O_RDONLY);
	track(f);
	TRUE(f >= 0, "open /etc/hostname: %s", en(errno));
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, f, &e), EPERM); /* a regular file cannot be polled */
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	untrack(s);
	OK(close(s));
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e), EBADF);
}

/* SOCK_CLOEXEC (socket(2), accept4(2)): close-on-exec set on the descriptor. */
static void sock_cloexec(void)
{
	int a = tsock(AF_INET, SOCK_STREAM), b = tsock(AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
	int u =
	    tsock(AF_INET6 * have6 + AF_INET * !have6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (a < 0 || b < 0 || u < 0)
		return;
	EQ(OK(fcntl(a, F_GETFD)) & FD_CLOEXEC, 0);
	EQ(OK(fcntl(b, F_GETFD)) & FD_CLOEXEC, FD_CLOEXEC);
	EQ(OK(fcntl(u, F_GETFD)) & FD_CLOEXEC, FD_CLOEXEC);
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back(ls) < 0)
		return;
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	track(c);
	TRUE(c >= 0, "accept4: %s", en(errno));
	EQ(OK(fcntl(c, F_GETFD)) & FD_CLOEXEC, FD_CLOEXEC);
	EQ(OK(fcntl(c, F_GETFL)) & O_NONBLOCK, 0);
}

/* ---- servers: the patterns of redis and nginx ---- */

/* A listener on :: with IPV6_V6ONLY and one on 0.0.0.0, same port (redis "bind * -::*"): both
 * bind; each family's connections go to its own listener. */
static void v6_v6only_beside_v4(void)
{
	int l6 = tsock(AF_INET6, SOCK_STREAM), l4 = tsock(AF_INET, SOCK_STREAM);
	if (l6 < 0 || l4 < 0)
		return;
	OK(seti(l6, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	OK(seti(l6, SOL_SOCKET, SO_REUSEADDR, 1));
	OK(seti(l4, SOL_SOCKET, SO_REUSEADDR, 1));
	struct sockaddr_storage a6 = any_addr(AF_INET6, 0);
	OK(bind(l6, (struct sockaddr *)&a6, alen(&a6)));
	OK(listen(l6, 4));
	int port = port_of((struct sockaddr_storage[]){sockname(l6)});
	struct sockaddr_storage a4 = any_addr(AF_INET, port);
	OK(bind(l4, (struct sockaddr *)&a4, alen(&a4)));
	OK(listen(l4, 4));
	int c4 = connect_back_ex(local4_s, port, AF_INET, NULL);
	track(c4);
	if (c4 < 0)
		return;
	EQ_EV(wait_fd(l4, POLLIN, WAIT_MS), POLLIN);
	EQ(wait_fd(l6, POLLIN, 0), 0);
	int c6 = connect_back_ex(local6_s, port, AF_INET6, NULL);
	track(c6);
	if (c6 < 0)
		return;
	EQ_EV(wait_fd(l6, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage f;
	socklen_t fl = sizeof f;
	int a = accept(l6, (struct sockaddr *)&f, &fl);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	SAME_ADDR(&f, &peer6, false);
}

/* Without IPV6_V6ONLY, a listener on :: holds the IPv4 port too: 0.0.0.0 is in use. */
static void v6_dual_holds_v4_port(void)
{
	int l6 = tsock(AF_INET6, SOCK_STREAM), l4 = tsock(AF_INET, SOCK_STREAM);
	if (l6 < 0 || l4 < 0)
		return;
	struct sockaddr_storage a6 = any_addr(AF_INET6, 0);
	OK(bind(l6, (struct sockaddr *)&a6, alen(&a6)));
	OK(listen(l6, 4));
	int port = port_of((struct sockaddr_storage[]){sockname(l6)});
	struct sockaddr_storage a4 = any_addr(AF_INET, port);
	ERR(bind(l4, (struct sockaddr *)&a4, alen(&a4)), EADDRINUSE);
}

/* A connection accepted on a wildcard listener has the concrete local address. */
static void tcp_accept_wildcard_sockname(void)
{
	int ls = tsock(AF_INET, SOCK_STREAM);
	if (ls < 0)
		return;
	struct sockaddr_storage a = any_addr(AF_INET, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	int port = port_of((struct sockaddr_storage[]){sockname(ls)});
	int c = connect_back_ex(local4_s, port, AF_INET, NULL);
	track(c);
	if (c < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept(ls, NULL, NULL);
	track(s);
	TRUE(s >= 0, "accept: %s", en(errno));
	struct sockaddr_storage sn = sockname(s), want = with_port(&local4, port);
	SAME_ADDR(&sn, &want, true);
}

/* listen(2) again on a listening socket: allowed (a new backlog). */
static void tcp_listen_twice(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	OK(listen(ls, 16));
	EQ(geti(ls, SOL_SOCKET, SO_ACCEPTCONN), 1);
}

/* A server restart: the old listener closed, its connection closed by us first (so this side
 * is in FIN-WAIT-2 or TIME-WAIT, and holds the port). With SO_REUSEADDR on the old listener
 * (its connections inherit it) and on the new one, the new one binds and listens at once
 * (socket(7) SO_REUSEADDR); without, the port is in use. */
static void tcp_rebind_after_close(bool reuse)
{
	int ls = tsock(AF_INET, SOCK_STREAM);
	if (ls < 0)
		return;
	if (reuse)
		OK(seti(ls, SOL_SOCKET, SO_REUSEADDR, 1));
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	a = sockname(ls);
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept(ls, NULL, NULL);
	TRUE(s >= 0, "accept: %s", en(errno));
	char b[8];
	EQ(read_n(s, b, 6), 6);
	OK(shutdown(s, SHUT_WR)); /* our FIN first */
	OK(close(s));
	untrack(ls);
	OK(close(ls));
	int n = tsock(AF_INET, SOCK_STREAM);
	if (n < 0)
		return;
	if (reuse) {
		OK(seti(n, SOL_SOCKET, SO_REUSEADDR, 1));
		OK(bind(n, (struct sockaddr *)&a, alen(&a)));
		OK(listen(n, 4));
	} else {
		ERR(bind(n, (struct sockaddr *)&a, alen(&a)), EADDRINUSE);
	}
}
static void tcp_rebind_reuseaddr(void)
{
	tcp_rebind_after_close(true);
}
static void tcp_rebind_time_wait(void)
{
	tcp_rebind_after_close(false);
}

/* Backpressure: a peer that never reads. Non-blocking writes are partial, then EAGAIN, and the
 * socket is not writable any more (send(2), poll(2)). The connect-back connection's peer end
 * is never read. */
static void tcp_nb_write_backpressure(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	track(s);
	TRUE(s >= 0, "accept4: %s", en(errno));
	static unsigned char b[1 << 20];
	memset(b, 'w', sizeof b);
	size_t total = 0;
	ssize_t w = 0;
	int partial = 0, i;
	for (i = 0; i < 64; i++) {
		w = write(s, b, sizeof b);
		if (w < 0)
			break;
		total += w;
		if ((size_t)w < sizeof b)
			partial++;
	}
	TRUE(w < 0 && errno == EAGAIN, "after %zu bytes, write gave %zd (errno %s), not EAGAIN",
	     total, w, en(w < 0 ? errno : 0));
	TRUE(total > 0, "nothing written before EAGAIN");
	TRUE(partial >= 1, "no partial write before EAGAIN (%zu bytes in %d writes)", total, i);
	EQ_EV(wait_fd(s, POLLOUT, 0), 0);
	ERR(send(s, b, 1, MSG_NOSIGNAL), EAGAIN);
}

/* ---- more UDP ---- */

/* connect(2) with AF_UNSPEC dissolves a UDP socket's association. */
static void udp_disconnect(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	OK(connect(u, &un, sizeof un));
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(u, (struct sockaddr *)&ss, &l), ENOTCONN);
	ERR(send(u, "x", 1, 0), EDESTADDRREQ);
	EQ(sendto(u, "y", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
}

/* A connected UDP socket receives only from its peer (udp(7), connect(2)); an unconnected one
 * from anyone. The reflector answers each datagram from another port first, then from its own. */
static void udp_connected_filters(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM), v = ubind(AF_INET);
	if (u < 0 || v < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_REFLECT),
				d2 = with_port(&peer4, PORT_REFLECT2);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "f", 1, 0), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	char b[4];
	EQ(recvfrom(u, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 1);
	SAME_ADDR(&from, &d, true);
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN); /* the other port's copy was dropped */
	EQ(sendto(v, "g", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	for (int i = 0; i < 2; i++) {
		EQ_EV(wait_fd(v, POLLIN, WAIT_MS), POLLIN);
		fl = sizeof from;
		EQ(recvfrom(v, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 1);
		SAME_ADDR(&from, i == 0 ? &d2 : &d, true);
	}
}

/* writev(2) / sendmsg(2): more than IOV_MAX (1024) iovecs is EINVAL; 1024 is fine. */
static void tcp_iov_max(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	static struct iovec v[1025];
	static char one[1025];
	for (int i = 0; i < 1025; i++)
		v[i] = (struct iovec){one + i, 1};
	ERR(writev(s, v, 1025), EINVAL);
	EQ(writev(s, v, 1024), 1024);
	EQ(wait_inq(s, 1024), 1024);
	static char in[1024];
	EQ(read(s, in, sizeof in), 1024);
}

/* A TCP socket never connected: poll says POLLOUT|POLLHUP (tcp_poll on a closed socket),
 * epoll likewise, so an event loop that adds it before connecting sees a hang-up. */
static void tcp_fresh_socket_poll(void)
{
	int s = tsock(AF_INET, SOCK_STREAM), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	EQ_EV(wait_fd(s, POLLIN | POLLOUT, 0), POLLOUT | POLLHUP);
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLOUT | EPOLLHUP);
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	EQ_EV(wait_fd(u, POLLIN | POLLOUT, 0), POLLOUT); /* a fresh UDP socket: writable */
}

/* shutdown(2) on UDP: ENOTCONN unconnected; connected, SHUT_WR makes send EPIPE and SHUT_RD
 * makes recv return 0 at once (Linux's inet_shutdown / udp_recvmsg). */
static void udp_shutdown(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	ERR(shutdown(u, SHUT_RDWR), ENOTCONN);
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	OK(shutdown(u, SHUT_WR));
	int before = sigpipes;
	ERR(send(u, "x", 1, MSG_NOSIGNAL), EPIPE);
	EQ(sigpipes - before, 0);
	OK(shutdown(u, SHUT_RD));
	char b[4];
	EQ(recv(u, b, sizeof b, 0), 0);
	EQ_EV(wait_fd(u, POLLIN | POLLOUT, 0), POLLIN | POLLOUT | POLLHUP); /* both ways shut */
}

/* ---- event loops ---- */

/* A client event loop: 32 non-blocking connections to the echo at once, edge-triggered, each
 * sending 48 KiB and reading it back; every byte checked. */
static void epoll_many_clients(void)
{
	enum { N = 32, LEN = 48 * 1024 };
	static unsigned char out[LEN], in[N][LEN];
	static size_t sent[N], got[N];
	int fd[N], ep = tepoll();
	if (ep < 0)
		return;
	pattern(out, LEN, 21);
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	for (int i = 0; i < N; i++) {
		fd[i] = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
		if (fd[i] < 0)
			return;
		sent[i] = got[i] = 0;
		int r = connect(fd[i], (struct sockaddr *)&d, alen(&d));
		TRUE(r == 0 || errno == EINPROGRESS, "connect %d: %s", i, en(errno));
		struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					.data.u32 = i};
		OK(epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &e));
	}
	int done = 0;
	for (int iter = 0; done < N && iter < 100000; iter++) {
		struct epoll_event ev[16];
		int n = epoll_wait(ep, ev, 16, WAIT_MS);
		TRUE(n > 0, "epoll_wait: %d (errno %s) with %d of %d done", n, en(errno), done, N);
		for (int k = 0; k < n; k++) {
			int i = ev[k].data.u32;
			TRUE(!(ev[k].events & (EPOLLERR | EPOLLHUP)), "connection %d: events %#x",
			     i, ev[k].events);
			/* edge-triggered: write and read until EAGAIN */
			while (sent[i] < LEN) {
				ssize_t w = write(fd[i], out + sent[i], LEN - sent[i]);
				if (w < 0 && errno == EAGAIN)
					break;
				TRUE(w > 0, "write %d: %s", i, en(errno));
				sent[i] += w;
			}
			while (got[i] < LEN) {
				ssize_t r = read(fd[i], in[i] + got[i], LEN - got[i]);
				if (r < 0 && errno == EAGAIN)
					break;
				TRUE(r > 0, "read %d after %zu: %zd (errno %s)", i, got[i], r,
				     en(errno));
				got[i] += r;
				if (got[i] == LEN)
					done++;
			}
		}
	}
	EQ(done, N);
	for (int i = 0; i < N; i++)
		TRUE(!memcmp(in[i], out, LEN), "connection %d echoed other bytes", i);
}

/* A server event loop: 16 connections queued on an edge-triggered listener: one event, and
 * accept until EAGAIN takes them all (epoll(7): drain on EPOLLET). */
static void epoll_accept_burst(void)
{
	enum { N = 16 };
	int ls = tlisten(AF_INET, SOCK_NONBLOCK), ep = tepoll();
	if (ls < 0 || ep < 0)
		return;
	OK(listen(ls, 64));
	struct epoll_event e = {.events = EPOLLIN | EPOLLET}, ev[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e));
	for (int i = 0; i < N; i++)
		if (connect_back(ls) < 0)
			return;
	EQ(epoll_wait(ep, ev, 4, WAIT_MS), 1);
	int n = 0;
	for (int i = 0; i < N + 1; i++) {
		int a = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
		if (a < 0) {
			TRUE(errno == EAGAIN, "accept: %s", en(errno));
			break;
		}
		track(a);
		n++;
	}
	EQ(n, N);
	EQ(epoll_wait(ep, ev, 4, 0), 0);
}

/* ---- a full accept queue ---- */

enum { BL_N = 6, BL_MSG = 64, BL_PACE_MS = 200 };
#define BL_LIMIT 14.0 /* s: every connection accepted by then (peer.py gives up at 13 s) */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The message the peer sends on its connection k (peer.py's backlog_msg): "conn K ", letters,
 * a newline, BL_MSG bytes. */
static void backlog_msg(unsigned char *m, int k)
{
	int h = snprintf((char *)m, BL_MSG, "conn %d ", k);
	for (int i = h; i < BL_MSG - 1; i++)
		m[i] = 'a' + (i + 7 * k) % 26;
	m[BL_MSG - 1] = '\n';
}

/* One line (without its newline) into buf; each byte waited for ms at most. Returns its
 * length, -1 when the line did not come whole. */
static int read_line(int fd, char *buf, int size, int ms)
{
	int k = 0;
	while (k < size - 1) {
		if (wait_fd(fd, POLLIN, ms) <= 0 || read(fd, buf + k, 1) != 1)
			break;
		if (buf[k] == '\n') {
			buf[k] = 0;
			return k;
		}
		k++;
	}
	buf[k] = 0;
	return -1;
}

/* One connection of tcp_backlog_overflow, just accepted: reads the peer's message, echoes it,
 * then reads to the peer's FIN. Returns the message's number, -1 on failure (failf). */
static int backlog_serve(int a)
{
	unsigned char m[BL_MSG], want[BL_MSG], b[1];
	ssize_t r = read_n(a, m, BL_MSG);
	if (r != BL_MSG) {
		failf("an accepted connection: read %zd of the %d bytes of the peer's message "
		      "(errno %s)",
		      r, BL_MSG, en(errno));
		return -1;
	}
	int k = m[5] - '0';
	if (k >= 0 && k < BL_N)
		backlog_msg(want, k);
	if (k < 0 || k >= BL_N || memcmp(m, want, BL_MSG)) {
		failf("an accepted connection: the peer's message differs: '%.*s'", BL_MSG - 1, m);
		return -1;
	}
	errno = 0;
	if (send(a, m, BL_MSG, MSG_NOSIGNAL) != BL_MSG) {
		failf("connection %d: the echo: %s", k, en(errno));
		return -1;
	}
	int ev = wait_fd(a, POLLIN, WAIT_MS);
	errno = 0;
	r = ev > 0 ? read(a, b, 1) : -1;
	if (r != 0) {
		failf("connection %d after the echo: expected the peer's FIN (read 0) got %zd "
		      "(poll %d, errno %s)",
		      k, r, ev, en(ev > 0 ? errno : 0));
		return -1;
	}
	return k;
}

/* listen(2): "If a connection request arrives when the queue is full, the client may receive
 * an error with an indication of ECONNREFUSED or, if the underlying protocol supports
 * retransmission, the request may be ignored so that a later reattempt at connection
 * succeeds." Linux TCP ignores it (tcp_abort_on_overflow 0, the default): with the accept
 * queue full (backlog + 1 connections wait) a SYN, or the handshake's last ACK, is dropped;
 * the server keeps the connection half-open and retransmits its SYN-ACK (and the client its
 * SYN, or its data), and once an accept makes room the connection completes: no RST, no
 * ECONNRESET. Here backlog 1 (2 may wait); the peer (PORT_BACKLOG) opens 6 connections at once
 * and sends a 64-byte message on each as soon as it is connected, while the program does not
 * accept; then it accepts one every 200 ms (waiting in between on the control connection, as
 * an event loop busy with other sockets would), reads each message and echoes it. All 6 are
 * accepted within 14 s (the retransmissions back off 1 s, 2 s, 4 s...), every message
 * intact, and the peer sees every echo and then the orderly end of its stream. */
static void backlog_overflow(bool beside_v6);

static void tcp_backlog_overflow(void)
{
	backlog_overflow(false);
}

/* The same with an idle IPv6 listener (IPV6_V6ONLY, [::]) on the port as well, as redis
 * binds by default: its empty queue is no room for IPv4 connections, which must wait for
 * the full IPv4 listener as before, not be reset. */
static void tcp_backlog_overflow_beside_v6(void)
{
	backlog_overflow(true);
}

static void backlog_overflow(bool beside_v6)
{
	int ls = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (ls < 0)
		return;
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 1));
	a = sockname(ls);
	if (beside_v6) {
		int l6 = tsock(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK);
		if (l6 < 0)
			return;
		OK(seti(l6, IPPROTO_IPV6, IPV6_V6ONLY, 1));
		struct sockaddr_storage a6 = any_addr(AF_INET6, port_of(&a));
		OK(bind(l6, (struct sockaddr *)&a6, alen(&a6)));
		OK(listen(l6, 8));
	}
	int c = tconnect(AF_INET, PORT_BACKLOG);
	if (c < 0)
		return;
	char line[128];
	int len = snprintf(line, sizeof line, "%s %d %d\n", local4_s, port_of(&a), BL_N);
	EQ(write(c, line, len), len);
	TRUE(read_line(c, line, sizeof line, WAIT_MS) >= 0 && !strcmp(line, "started"),
	     "the backlog clients' control answered '%s', not 'started'", line);
	double t0 = now_s(), last = 0;
	bool seen[BL_N] = {false}, peer_done = false;
	int n = 0;
	for (;;) {
		int s = -1;
		if (n < BL_N && !peer_done) {
			double left = t0 + BL_LIMIT - now_s();
			if (left <= 0)
				break;
			/* Not accepting: the control stays silent until the peer is done. */
			int ms = left * 1000 < BL_PACE_MS ? (int)(left * 1000) : BL_PACE_MS;
			if (wait_fd(c, POLLIN, ms) != 0) {
				peer_done = true;
				continue;
			}
			left = t0 + BL_LIMIT - now_s();
			struct pollfd p[2] = {{ls, POLLIN, 0}, {c, POLLIN, 0}};
			int r = poll(p, 2, left > 0 ? (int)(left * 1000) + 1 : 0);
			TRUE(r >= 0, "poll: %s", en(errno));
			if (!(p[0].revents & POLLIN)) {
				if (p[1].revents)
					peer_done = true;
				continue;
			}
			s = accept(ls, NULL, NULL);
			if (s < 0 && errno == EAGAIN)
				continue;
			TRUE(s >= 0, "accept: %s", en(errno));
		} else {
			/* Done, or out of time: take what is queued still. */
			s = accept(ls, NULL, NULL);
			if (s < 0 && errno == EAGAIN)
				break;
			TRUE(s >= 0, "accept: %s", en(errno));
		}
		track(s);
		int k = backlog_serve(s);
		if (k < 0)
			return;
		TRUE(!seen[k], "connection %d accepted twice", k);
		seen[k] = true;
		n++;
		last = now_s() - t0;
		close(s);
		untrack(s);
	}
	/* The peer's report: one line per connection, then "done". */
	char rep[512] = "";
	int nok = 0;
	bool done = false;
	for (int i = 0; i < BL_N + 1; i++) {
		if (read_line(c, line, sizeof line, 3000) < 0)
			break;
		if (!strcmp(line, "done")) {
			done = true;
			break;
		}
		char res[64];
		int k;
		if (sscanf(line, "%d %63s", &k, res) == 2 && !strcmp(res, "ok"))
			nok++;
		size_t l = strlen(rep);
		snprintf(rep + l, sizeof rep - l, "%s%s", l ? ", " : "", line);
	}
	double t = now_s() - t0;
	TRUE(n == BL_N && nok == BL_N && done,
	     "accepted %d of %d connections (backlog 1, the last at %.2f s, %.2f s in all); the "
	     "peer saw: %s%s",
	     n, BL_N, last, t, rep[0] ? rep : "(nothing)", done ? "" : " (its report ended early)");
	printf("# %s: %d of %d accepted, the last at %.2f s; %.2f s in all\n", cur, n, BL_N, last,
	       t);
}

/* bind before connect: the connection keeps the bound port; bound to the wildcard, it gets the
 * concrete source address (ip(7)). */
static void tcp_bind_before_connect(int fam)
{
	int s = tsock(fam, SOCK_STREAM), w = tsock(fam, SOCK_STREAM);
	if (s < 0 || w < 0)
		return;
	struct sockaddr_storage a = with_port(L(fam), 0);
	OK(bind(s, (struct sockaddr *)&a, alen(&a)));
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	struct sockaddr_storage d = with_port(P(fam), PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	struct sockaddr_storage sn = sockname(s), want = with_port(L(fam), port);
	SAME_ADDR(&sn, &want, true);
	struct sockaddr_storage any = any_addr(fam, 0);
	OK(bind(w, (struct sockaddr *)&any, alen(&any)));
	port = port_of((struct sockaddr_storage[]){sockname(w)});
	OK(connect(w, (struct sockaddr *)&d, alen(&d)));
	sn = sockname(w);
	want = with_port(L(fam), port);
	SAME_ADDR(&sn, &want, true);
	EQ(write(w, "bb", 2), 2);
	char b[2];
	EQ(read_n(w, b, 2), 2);
}

/* Data that arrives while the program is busy outside any socket call (here nanosleep) is
 * all there afterwards, in order: 512 KiB from the peer during a 500 ms sleep. */
static void tcp_data_while_busy(void)
{
	enum { N = 512 * 1024 };
	int s = sendn(N);
	if (s < 0)
		return;
	struct timespec ts = {0, 500 * 1000 * 1000};
	nanosleep(&ts, NULL);
	static unsigned char b[N];
	EQ(read_n(s, b, N), N);
	TRUE(is_sendn_pattern(b, N, 0), "the bytes differ from what the peer sent");
	EQ(read(s, b, 1), 0);
}

/* An AF_INET listener on 0.0.0.0 does not take IPv6 connections to its port (refused). */
static void v6_to_v4_listener(void)
{
	int ls = tsock(AF_INET, SOCK_STREAM);
	if (ls < 0)
		return;
	struct sockaddr_storage a = any_addr(AF_INET, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	int port = port_of((struct sockaddr_storage[]){sockname(ls)});
	int err = -1;
	int c = connect_back_ex(local6_s, port, AF_INET6, &err);
	if (c < 0)
		return;
	track(c);
	EQ(err, ECONNREFUSED);
	EQ(wait_fd(ls, POLLIN, 0), 0);
}

/* EPOLL_CTL_MOD changes the events asked for; EPOLL_CTL_DEL takes a NULL event (epoll_ctl(2)
 * BUGS: since 2.6.9). */
static void epoll_mod_del(void)
{
	int s = echo_with_data(1), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = 1}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLIN);
	e = (struct epoll_event){.events = EPOLLOUT, .data.u64 = 2};
	OK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLOUT);
	EQ(out[0].data.u64, 2);
	e.events = 0; /* nothing asked: nothing reported (no error, no hang-up here) */
	OK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 0);
	OK(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL));
	ERR(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), ENOENT);
}

/* ---- socket options ---- */

static void tcp_nodelay(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, IPPROTO_TCP, TCP_NODELAY), 0);
	OK(seti(s, IPPROTO_TCP, TCP_NODELAY, 1));
	EQ(geti(s, IPPROTO_TCP, TCP_NODELAY), 1);
	OK(seti(s, IPPROTO_TCP, TCP_NODELAY, 5)); /* any non-zero is on; get says 1 */
	EQ(geti(s, IPPROTO_TCP, TCP_NODELAY), 1);
	OK(seti(s, IPPROTO_TCP, TCP_NODELAY, 0));
	EQ(geti(s, IPPROTO_TCP, TCP_NODELAY), 0);
	/* on a connected socket too */
	int c = tconnect(AF_INET, PORT_ECHO);
	if (c < 0)
		return;
	OK(seti(c, IPPROTO_TCP, TCP_NODELAY, 1));
	EQ(geti(c, IPPROTO_TCP, TCP_NODELAY), 1);
}

static void tcp_keepalive(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, SOL_SOCKET, SO_KEEPALIVE), 0);
	OK(seti(s, SOL_SOCKET, SO_KEEPALIVE, 1));
	EQ(geti(s, SOL_SOCKET, SO_KEEPALIVE), 1);
	OK(seti(s, IPPROTO_TCP, TCP_KEEPIDLE, 30));
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPIDLE), 30);
	OK(seti(s, IPPROTO_TCP, TCP_KEEPINTVL, 5));
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPINTVL), 5);
	OK(seti(s, IPPROTO_TCP, TCP_KEEPCNT, 4));
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPCNT), 4);
	/* tcp(7): the values must be at least 1 */
	ERR(seti(s, IPPROTO_TCP, TCP_KEEPIDLE, 0), EINVAL);
	ERR(seti(s, IPPROTO_TCP, TCP_KEEPINTVL, 0), EINVAL);
	ERR(seti(s, IPPROTO_TCP, TCP_KEEPCNT, 0), EINVAL);
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPIDLE), 30);
	OK(seti(s, SOL_SOCKET, SO_KEEPALIVE, 0));
	EQ(geti(s, SOL_SOCKET, SO_KEEPALIVE), 0);
}

/* socket(7): the kernel doubles the SO_RCVBUF / SO_SNDBUF value set (bookkeeping overhead),
 * and getsockopt returns the doubled value. */
static void sock_bufsizes(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	OK(seti(s, SOL_SOCKET, SO_RCVBUF, 65536));
	EQ(geti(s, SOL_SOCKET, SO_RCVBUF), 131072);
	OK(seti(s, SOL_SOCKET, SO_SNDBUF, 65536));
	EQ(geti(s, SOL_SOCKET, SO_SNDBUF), 131072);
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	OK(seti(u, SOL_SOCKET, SO_RCVBUF, 50000));
	EQ(geti(u, SOL_SOCKET, SO_RCVBUF), 100000);
	TRUE(geti(s, SOL_SOCKET, SO_RCVBUF) > 0, "SO_RCVBUF default not positive");
}

static void sock_linger(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	struct linger l = {-1, -1};
	socklen_t n = sizeof l;
	OK(getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &n));
	EQ(n, sizeof l);
	EQ(l.l_onoff, 0);
	EQ(l.l_linger, 0);
	struct linger set = {1, 5};
	OK(setsockopt(s, SOL_SOCKET, SO_LINGER, &set, sizeof set));
	memset(&l, 0xff, sizeof l);
	n = sizeof l;
	OK(getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &n));
	EQ(l.l_onoff, 1);
	EQ(l.l_linger, 5);
	ERR(setsockopt(s, SOL_SOCKET, SO_LINGER, &set, sizeof set - 1), EINVAL);
}

static void sock_opt_errors(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	short one = 1;
	ERR(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), EINVAL);
	int v = 1;
	ERR(setsockopt(s, SOL_SOCKET, 12345, &v, sizeof v), ENOPROTOOPT);
	socklen_t l = sizeof v;
	ERR(getsockopt(s, SOL_SOCKET, 12345, &v, &l), ENOPROTOOPT);
	ERR(setsockopt(s, IPPROTO_TCP, 12345, &v, sizeof v), ENOPROTOOPT);
}

/* ---- TCP_INFO and TCP_CONGESTION (tcp(7)): what ss, iperf3 and friends read ---- */

/* getsockopt(2) fills at most *optlen bytes and says how many: TCP_INFO copies
 * min(optlen, the kernel's sizeof(struct tcp_info)) bytes (tcp(7), "TCP_INFO"). Each call
 * below passes a buffer with a sentinel past the length it announces, so a write beyond it
 * shows. */
#define TI_SENTINEL 0xa5
#define TI_OPT_END (offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(uint32_t))

static union {
	struct tcp_info ti;
	unsigned char b[1024];
} tibuf;

/* getsockopt TCP_INFO with optlen `len` into tibuf (the rest of it left at the sentinel).
 * Returns the optlen that came back, or -1 (errno set) when getsockopt failed. */
static long tcp_info_call(int fd, socklen_t len)
{
	memset(&tibuf, TI_SENTINEL, sizeof tibuf);
	socklen_t l = len;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &tibuf, &l) < 0)
		return -1;
	return l;
}

/* The first byte of tibuf past the n written: the sentinel still everywhere after them? */
static bool ti_untouched_after(size_t n)
{
	for (size_t i = n; i < sizeof tibuf.b; i++)
		if (tibuf.b[i] != TI_SENTINEL)
			return false;
	return true;
}

/* A full glibc struct tcp_info: getsockopt succeeds, writes the whole struct (the kernel's is
 * larger), and no byte past it. Leaves the answer in tibuf.ti. */
#define TCP_INFO_FULL(fd)                                                                          \
	do {                                                                                       \
		long _l = tcp_info_call(fd, sizeof(struct tcp_info));                              \
		TRUE(_l >= 0,                                                                      \
		     "getsockopt(TCP_INFO, %zu bytes): expected success got -1 (errno %s)",        \
		     sizeof(struct tcp_info), en(errno));                                          \
		TRUE(_l <= (long)sizeof(struct tcp_info) && _l >= (long)TI_OPT_END,                \
		     "getsockopt(TCP_INFO): optlen came back %ld, want %zu..%zu (passed %zu)", _l, \
		     TI_OPT_END, sizeof(struct tcp_info), sizeof(struct tcp_info));                \
		TRUE(ti_untouched_after(_l), "getsockopt(TCP_INFO) wrote past the optlen (%ld)",   \
		     _l);                                                                          \
	} while (0)

/* A connected socket, after 1000 bytes went to the echo and came back (so they were
 * acknowledged): ESTABLISHED, an MSS no larger than a 1500-byte MTU allows (1460 for IPv4,
 * 1440 for IPv6: the veth link here), an RTT measured, a congestion window. */
static void tcp_info_connected(int fam)
{
	int s = tconnect(fam, PORT_ECHO);
	if (s < 0)
		return;
	unsigned char o[1000], in[1000];
	pattern(o, sizeof o, 11);
	EQ(write(s, o, sizeof o), sizeof o);
	EQ(read_n(s, in, sizeof in), sizeof in);
	TRUE(!memcmp(o, in, sizeof o), "echo differs");
	TCP_INFO_FULL(s);
	struct tcp_info *ti = &tibuf.ti;
	unsigned mss_max = fam == AF_INET6 ? 1440 : 1460;
	EQ(ti->tcpi_state, 1 /* TCP_ESTABLISHED */);
	TRUE(ti->tcpi_snd_mss > 0 && ti->tcpi_snd_mss <= mss_max,
	     "tcpi_snd_mss %u, want 1..%u (a 1500-byte MTU)", ti->tcpi_snd_mss, mss_max);
	TRUE(ti->tcpi_rtt > 0, "tcpi_rtt 0 after an echoed exchange (the data was acknowledged)");
	TRUE(ti->tcpi_snd_cwnd > 0, "tcpi_snd_cwnd 0 on an established connection");
	/* A buffer larger than glibc's struct: at most that much back, never less than glibc's. */
	long l = tcp_info_call(s, sizeof tibuf);
	TRUE(l >= (long)TI_OPT_END && l <= (long)sizeof tibuf,
	     "getsockopt(TCP_INFO, %zu bytes): optlen %ld (errno %s)", sizeof tibuf, l,
	     l < 0 ? en(errno) : "0");
	TRUE(ti_untouched_after(l), "getsockopt(TCP_INFO) wrote past the optlen (%ld)", l);
	EQ(tibuf.ti.tcpi_state, 1);
}

/* A socket never connected is CLOSED (7); listening, LISTEN (10). */
static void tcp_info_closed(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	TCP_INFO_FULL(s);
	EQ(tibuf.ti.tcpi_state, 7 /* TCP_CLOSE */);
}

static void tcp_info_listen(void)
{
	int s = tlisten(AF_INET, 0);
	if (s < 0)
		return;
	TCP_INFO_FULL(s);
	EQ(tibuf.ti.tcpi_state, 10 /* TCP_LISTEN */);
}

/* A short buffer is no error: 8 bytes asked, 8 bytes written (the first is tcpi_state), the
 * optlen says 8; 0 bytes asked, nothing written, optlen 0. */
static void tcp_info_short(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	long l = tcp_info_call(s, 8);
	TRUE(l >= 0, "getsockopt(TCP_INFO, 8 bytes): expected success got -1 (errno %s)",
	     en(errno));
	EQ(l, 8);
	EQ(tibuf.b[0], 1 /* tcpi_state: TCP_ESTABLISHED */);
	TRUE(ti_untouched_after(8), "getsockopt(TCP_INFO, 8 bytes) wrote past 8 bytes");
	l = tcp_info_call(s, 0);
	TRUE(l >= 0, "getsockopt(TCP_INFO, 0 bytes): expected success got -1 (errno %s)",
	     en(errno));
	EQ(l, 0);
	TRUE(ti_untouched_after(0), "getsockopt(TCP_INFO, 0 bytes) wrote something");
}

/* The peer closed (FIN) and we read the end of the stream: CLOSE-WAIT (8). */
static void tcp_info_close_wait(void)
{
	int s = tconnect(AF_INET, PORT_CLOSE);
	if (s < 0)
		return;
	EQ_EV(wait_fd(s, POLLIN, WAIT_MS), POLLIN);
	char b[4];
	EQ(read(s, b, sizeof b), 0);
	TCP_INFO_FULL(s);
	EQ(tibuf.ti.tcpi_state, 8 /* TCP_CLOSE_WAIT */);
}

/* TCP-level options on a UDP socket: Linux's UDP passes a level other than SOL_UDP to the IP
 * layer, which refuses it: getsockopt EOPNOTSUPP from IPv4 (ip_getsockopt) but ENOPROTOOPT
 * from IPv6 (ipv6_getsockopt); setsockopt ENOPROTOOPT from both. The reference run proves
 * each. */
static void udp_tcp_level_opts(int fam)
{
	int u = tsock(fam, SOCK_DGRAM);
	if (u < 0)
		return;
	int want = fam == AF_INET6 ? ENOPROTOOPT : EOPNOTSUPP;
	socklen_t l = sizeof(struct tcp_info);
	ERR(getsockopt(u, IPPROTO_TCP, TCP_INFO, &tibuf, &l), want);
	char name[16];
	l = sizeof name;
	ERR(getsockopt(u, IPPROTO_TCP, TCP_CONGESTION, name, &l), want);
	ERR(setsockopt(u, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), ENOPROTOOPT);
}

#define CA_NAME_MAX 16 /* TCP_CA_NAME_MAX, the kernel's */

/* getsockopt TCP_CONGESTION into name (CA_NAME_MAX bytes): a non-empty name, NUL-terminated
 * within the optlen that came back (at most CA_NAME_MAX). */
#define GET_CC(fd, name)                                                                           \
	do {                                                                                       \
		memset(name, TI_SENTINEL, sizeof name);                                            \
		socklen_t _l = CA_NAME_MAX;                                                        \
		OK(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &_l));                        \
		TRUE(_l > 0 && _l <= CA_NAME_MAX, "TCP_CONGESTION: optlen %u, want 1..%d",         \
		     (unsigned)_l, CA_NAME_MAX);                                                   \
		TRUE(memchr(name, 0, _l) != NULL, "TCP_CONGESTION: no NUL in the %u bytes back",   \
		     (unsigned)_l);                                                                \
		TRUE(name[0] != 0, "TCP_CONGESTION: an empty name");                               \
	} while (0)

#define EQ_CC(fd, want)                                                                            \
	do {                                                                                       \
		char _n[CA_NAME_MAX + 8];                                                          \
		GET_CC(fd, _n);                                                                    \
		TRUE(!strcmp(_n, want), "TCP_CONGESTION: got '%s', want '%s'", _n, want);          \
	} while (0)

/* setsockopt with the name's length, without its NUL (as iperf3 -C does). */
static int set_cc(int fd, const char *name)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, strlen(name));
}

/* The algorithms named here: reno (always built in) and cubic (the kernel's default one,
 * built in wherever this suite runs: the reference run proves it). An unknown name: ENOENT,
 * the algorithm unchanged. With its NUL counted in the optlen, a name is the same name. */
static void tcp_congestion(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	char n[CA_NAME_MAX + 8];
	GET_CC(s, n);
	OK(set_cc(s, "reno"));
	EQ_CC(s, "reno");
	ERR(set_cc(s, "nosuchcc"), ENOENT);
	EQ_CC(s, "reno");
	OK(setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "cubic", sizeof "cubic"));
	EQ_CC(s, "cubic");
	ERR(set_cc(s, "nosuchcc"), ENOENT);
	EQ_CC(s, "cubic");
	/* The connection still carries data. */
	EQ(write(s, "abc", 3), 3);
	char b[4] = {0};
	EQ(read_n(s, b, 3), 3);
	TRUE(!memcmp(b, "abc", 3), "echo differs: '%s'", b);
}

/* Set before connect(), the algorithm is the connection's after it. */
static void tcp_congestion_before_connect(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	char n[CA_NAME_MAX + 8];
	GET_CC(s, n);
	OK(set_cc(s, "reno"));
	EQ_CC(s, "reno");
	ERR(set_cc(s, "nosuchcc"), ENOENT);
	EQ_CC(s, "reno");
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	EQ_CC(s, "reno");
	EQ(write(s, "abc", 3), 3);
	char b[4] = {0};
	EQ(read_n(s, b, 3), 3);
	EQ_CC(s, "reno");
	OK(set_cc(s, "cubic"));
	EQ_CC(s, "cubic");
}

/* Set on a listener, the algorithm is the accepted connection's (Linux: a child keeps the
 * listener's setsockopt choice). */
static void tcp_congestion_accept(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	OK(set_cc(ls, "reno"));
	EQ_CC(ls, "reno");
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	EQ_CC(a, "reno");
	char b[8];
	EQ(read_n(a, b, 6), 6);
	EQ_CC(ls, "reno");
}

static void sock_fcntl_nonblock(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	int f = OK(fcntl(s, F_GETFL));
	EQ(f & O_ACCMODE, O_RDWR);
	EQ(f & O_NONBLOCK, 0);
	OK(fcntl(s, F_SETFL, f | O_NONBLOCK));
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, O_NONBLOCK);
	OK(fcntl(s, F_SETFL, f & ~O_NONBLOCK));
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, 0);
	int t = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (t < 0)
		return;
	EQ(OK(fcntl(t, F_GETFL)) & O_NONBLOCK, O_NONBLOCK);
	int u = tsock(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK);
	if (u < 0)
		return;
	EQ(OK(fcntl(u, F_GETFL)) & O_NONBLOCK, O_NONBLOCK);
}

static void sock_fionbio(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	int on = 1;
	OK(ioctl(s, FIONBIO, &on));
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, O_NONBLOCK);
	char b[4];
	ERR(read(s, b, sizeof b), EAGAIN);
	on = 0;
	OK(ioctl(s, FIONBIO, &on));
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, 0);
}

static void sock_close_ebadf(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	untrack(s);
	OK(close(s));
	char b[1];
	ERR(read(s, b, 1), EBADF);
	ERR(close(s), EBADF);
	int v;
	socklen_t l = sizeof v;
	ERR(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l), EBADF);
}

/* Sluice sockets are real descriptor numbers: never the number of a kernel descriptor. */
static void sock_fd_numbers(void)
{
	int s1 = tsock(AF_INET, SOCK_STREAM);
	int p[2];
	OK(pipe(p));
	track(p[0]);
	track(p[1]);
	int s2 = tsock(AF_INET6 * have6 + AF_INET * !have6, SOCK_DGRAM);
	int nul = open("/dev/null", O_RDONLY);
	track(nul);
	int fds[] = {s1, p[0], p[1], s2, nul};
	for (int i = 0; i < 5; i++) {
		TRUE(fds[i] >= 0, "descriptor %d not created: %s", i, en(errno));
		for (int j = 0; j < i; j++)
			TRUE(fds[i] != fds[j], "two descriptors share number %d", fds[i]);
	}
	/* and the kernel descriptors still work */
	EQ(write(p[1], "z", 1), 1);
	char c;
	EQ(read(p[0], &c, 1), 1);
	EQ(read(nul, &c, 1), 0);
}

/* ---- epoll ---- */

/* A connected echo socket with `n` bytes echoed back and waiting unread. */
static int echo_with_data(int n)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return -1;
	char b[64];
	memset(b, 'e', sizeof b);
	if (write(s, b, n) != n || wait_inq(s, n) != n) {
		failf("echo of %d bytes did not come back", n);
		return -1;
	}
	return s;
}

static void epoll_level(void)
{
	int s = echo_with_data(10), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN, .data.fd = s}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.fd, s);
	EQ_EV(out[0].events, EPOLLIN);
	EQ(epoll_wait(ep, out, 4, 0), 1); /* still unread: reported again */
	EQ(epoll_wait(ep, out, 4, 0), 1);
	char b[16];
	EQ(read(s, b, 5), 5);
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ(read(s, b, 5), 5);
	EQ(epoll_wait(ep, out, 4, 0), 0);
}

static void epoll_edge(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.fd = s}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, 0), 0);
	EQ(write(s, "0123456789", 10), 10);
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN);
	EQ(wait_inq(s, 10), 10);
	EQ(epoll_wait(ep, out, 4, 0), 0); /* no new arrival: not reported again */
	EQ(epoll_wait(ep, out, 4, 0), 0);
	EQ(write(s, "abcdefghij", 10), 10); /* a new arrival, the old bytes still unread */
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN);
	EQ(wait_inq(s, 20), 20);
	EQ(epoll_wait(ep, out, 4, 0), 0);
	/* EPOLL_CTL_MOD re-arms: the pending data is reported once more */
	OK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e));
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ(epoll_wait(ep, out, 4, 0), 0);
}

static void epoll_oneshot(void)
{
	int s = echo_with_data(10), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 5}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.u64, 5);
	EQ(epoll_wait(ep, out, 4, 0), 0); /* disarmed, data still there */
	EQ(write(s, "more", 4), 4);
	EQ(wait_inq(s, 14), 14);
	EQ(epoll_wait(ep, out, 4, 0), 0); /* new data does not re-arm it either */
	e.data.u64 = 6;
	OK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.u64, 6);
	EQ(epoll_wait(ep, out, 4, 0), 0);
	/* still a member: ADD again is EEXIST */
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e), EEXIST);
}

static void epoll_ctl_errors(void)
{
	int s = tsock(AF_INET, SOCK_STREAM), t = tsock(AF_INET, SOCK_DGRAM), ep = tepoll();
	if (s < 0 || t < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN};
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e), EEXIST);
	ERR(epoll_ctl(ep, EPOLL_CTL_DEL, t, &e), ENOENT);
	ERR(epoll_ctl(ep, EPOLL_CTL_MOD, t, &e), ENOENT);
	OK(epoll_ctl(ep, EPOLL_CTL_DEL, s, &e));
	ERR(epoll_ctl(ep, EPOLL_CTL_DEL, s, &e), ENOENT);
	ERR(epoll_ctl(ep, 99, s, &e), EINVAL);
	struct epoll_event out[1];
	ERR(epoll_wait(ep, out, 0, 0), EINVAL);
}

/* An epoll set with a pipe (a kernel descriptor) and a sluice socket reports both. */
static void epoll_mixed(void)
{
	int s = echo_with_data(3), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	int p[2];
	OK(pipe(p));
	track(p[0]);
	track(p[1]);
	struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = 1};
	struct epoll_event e2 = {.events = EPOLLIN, .data.u64 = 2}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e1));
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e2));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.u64, 2);
	EQ(write(p[1], "p", 1), 1);
	int n = epoll_wait(ep, out, 4, WAIT_MS);
	EQ(n, 2);
	TRUE((out[0].data.u64 | out[1].data.u64) == 3, "events for %llu and %llu",
	     (unsigned long long)out[0].data.u64, (unsigned long long)out[1].data.u64);
	char b[4];
	EQ(read(s, b, 3), 3);
	n = epoll_wait(ep, out, 4, 0);
	EQ(n, 1);
	EQ(out[0].data.u64, 1);
	/* A pipe alone wakes a wait that started with nothing ready */
	EQ(read(p[0], b, 1), 1);
	EQ(epoll_wait(ep, out, 4, 0), 0);
	EQ(write(s, "x", 1), 1); /* the socket's echo wakes it */
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.u64, 2);
}

static void epoll_timeout(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, 100), 0);
	EQ(epoll_wait(ep, out, 4, 0), 0);
	sigset_t none;
	sigemptyset(&none);
	EQ(epoll_pwait(ep, out, 4, 50, &none), 0);
}

static void epoll_out_and_pwait(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.u64 = 9}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	sigset_t none;
	sigemptyset(&none);
	EQ(epoll_pwait(ep, out, 4, WAIT_MS, &none), 1);
	EQ_EV(out[0].events, EPOLLOUT);
	EQ(write(s, "x", 1), 1);
	EQ(wait_inq(s, 1), 1);
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLOUT);
}

static void epoll_rdhup(void)
{
	int s = tconnect(AF_INET, PORT_CLOSE), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLRDHUP);
}

static void epoll_rst(void)
{
	int s = tconnect(AF_INET, PORT_RST), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	/* EPOLLERR and EPOLLHUP are always reported, asked for or not (epoll_ctl(2)). */
	struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP);
	e.events = 0;
	OK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e));
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ_EV(out[0].events, EPOLLERR | EPOLLHUP);
}

/* Closing a socket's only descriptor removes it from every epoll set (epoll(7)). */
static void epoll_close_removes(void)
{
	int s = echo_with_data(2), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, 0), 1);
	untrack(s);
	OK(close(s));
	EQ(epoll_wait(ep, out, 4, 0), 0);
	/* and a new socket with the same number is not a member */
	int t = tsock(AF_INET, SOCK_STREAM);
	if (t < 0)
		return;
	if (t == s)
		ERR(epoll_ctl(ep, EPOLL_CTL_DEL, t, &e), ENOENT);
}

/* ---- poll / select ---- */

static void poll_mixed(void)
{
	int s = echo_with_data(3);
	if (s < 0)
		return;
	int p[2];
	OK(pipe(p));
	track(p[0]);
	track(p[1]);
	struct pollfd f[3] = {{.fd = p[0], .events = POLLIN},
			      {.fd = -1, .events = POLLIN},
			      {.fd = s, .events = POLLIN}};
	EQ(poll(f, 3, WAIT_MS), 1);
	EQ_EV(f[0].revents, 0);
	EQ_EV(f[1].revents, 0); /* negative fd: ignored */
	EQ_EV(f[2].revents, POLLIN);
	EQ(write(p[1], "p", 1), 1);
	EQ(poll(f, 3, WAIT_MS), 2);
	EQ_EV(f[0].revents, POLLIN);
	EQ_EV(f[2].revents, POLLIN);
	char b[4];
	EQ(read(s, b, 3), 3);
	EQ(poll(f, 3, 0), 1);
	EQ_EV(f[2].revents, 0);
	EQ(read(p[0], b, 1), 1);
	EQ(poll(f, 3, 100), 0); /* timeout: nothing ready */
	struct timespec ts = {0, 50 * 1000 * 1000};
	sigset_t none;
	sigemptyset(&none);
	EQ(ppoll(f, 3, &ts, &none), 0);
	EQ(write(s, "x", 1), 1);
	ts.tv_sec = 5;
	EQ(ppoll(f, 3, &ts, &none), 1);
	EQ_EV(f[2].revents, POLLIN);
}

static void poll_out(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	EQ_EV(wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, WAIT_MS), POLLOUT);
}

/* POLLRDNORM and POLLWRNORM (poll(2)): reported alongside POLLIN and POLLOUT when asked for. */
static void poll_rdnorm(void)
{
	int s = echo_with_data(4);
	if (s < 0)
		return;
	EQ_EV(wait_fd(s, POLLIN | POLLRDNORM, WAIT_MS), POLLIN | POLLRDNORM);
	EQ_EV(wait_fd(s, POLLRDNORM, WAIT_MS), POLLRDNORM);
}

static void poll_wrnorm(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	EQ_EV(wait_fd(s, POLLOUT | POLLWRNORM, WAIT_MS), POLLOUT | POLLWRNORM);
	EQ_EV(wait_fd(s, POLLWRNORM, WAIT_MS), POLLWRNORM);
}

static void select_mixed(void)
{
	int s = echo_with_data(3);
	if (s < 0)
		return;
	int p[2];
	OK(pipe(p));
	track(p[0]);
	track(p[1]);
	EQ(write(p[1], "p", 1), 1);
	int nfds = (s > p[0] ? s : p[0]) + 1;
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(s, &r);
	FD_SET(p[0], &r);
	FD_SET(s, &w);
	struct timeval tv = {5, 0};
	EQ(select(nfds, &r, &w, NULL, &tv), 3); /* the socket counts once per set */
	TRUE(FD_ISSET(s, &r) && FD_ISSET(p[0], &r) && FD_ISSET(s, &w), "sets: %d %d %d",
	     FD_ISSET(s, &r), FD_ISSET(p[0], &r), FD_ISSET(s, &w));
	char b[4];
	EQ(read(s, b, 3), 3);
	EQ(read(p[0], b, 1), 1);
	FD_ZERO(&r);
	FD_SET(s, &r);
	FD_SET(p[0], &r);
	tv = (struct timeval){0, 100000};
	EQ(select(nfds, &r, NULL, NULL, &tv), 0);
	TRUE(!FD_ISSET(s, &r) && !FD_ISSET(p[0], &r), "a timed-out select left bits set");
	FD_ZERO(&r);
	FD_SET(s, &r);
	struct timespec ts = {5, 0};
	sigset_t none;
	sigemptyset(&none);
	EQ(write(s, "y", 1), 1);
	EQ(pselect(s + 1, &r, NULL, NULL, &ts, &none), 1);
	TRUE(FD_ISSET(s, &r), "pselect: socket not readable");
}

/* ---- UDP ---- */

static void udp_types(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	EQ(geti(u, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	EQ(geti(u, SOL_SOCKET, SO_DOMAIN), AF_INET);
	EQ(geti(u, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
	EQ(geti(u, SOL_SOCKET, SO_ACCEPTCONN), 0);
	ERR(listen(u, 4), EOPNOTSUPP);
	ERR(accept(u, NULL, NULL), EOPNOTSUPP);
}

static int ubind(int fam)
{
	int u = tsock(fam, SOCK_DGRAM);
	if (u < 0)
		return -1;
	struct sockaddr_storage a = with_port(L(fam), 0);
	if (bind(u, (struct sockaddr *)&a, alen(&a)) < 0) {
		failf("bind %s: %s", astr(&a), en(errno));
		return -1;
	}
	return u;
}

static void udp_sendto_recvfrom(int fam)
{
	int u = ubind(fam);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_UDPECHO);
	EQ(sendto(u, "datagram", 8, 0, (struct sockaddr *)&d, alen(&d)), 8);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[64] = {0};
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	socklen_t fl = sizeof from;
	EQ(recvfrom(u, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 8);
	TRUE(!memcmp(b, "datagram", 8), "got '%s'", b);
	EQ(fl, alen(&d));
	SAME_ADDR(&from, &d, true);
}

static void udp_connected(int fam)
{
	int u = tsock(fam, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	struct sockaddr_storage pn = peername(u), sn = sockname(u);
	SAME_ADDR(&pn, &d, true);
	SAME_ADDR(&sn, L(fam), false); /* connect picked the source address and a port */
	TRUE(port_of(&sn) != 0, "connected UDP socket has port 0");
	EQ(send(u, "one", 3, 0), 3);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[8] = {0};
	EQ(recv(u, b, sizeof b, 0), 3);
	TRUE(!memcmp(b, "one", 3), "got '%s'", b);
	EQ(write(u, "two", 3), 3);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	EQ(recvfrom(u, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 3);
	SAME_ADDR(&from, &d, true);
}

static int udp_echo_pending(int n)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return -1;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	if (connect(u, (struct sockaddr *)&d, alen(&d)) < 0) {
		failf("connect: %s", en(errno));
		return -1;
	}
	static unsigned char b[2000];
	pattern(b, sizeof b, 9);
	if (send(u, b, n, 0) != n || wait_fd(u, POLLIN, WAIT_MS) != POLLIN) {
		failf("no echo of a %d-byte datagram", n);
		return -1;
	}
	return u;
}

static void udp_msg_trunc_flag(void)
{
	int u = udp_echo_pending(1000);
	if (u < 0)
		return;
	unsigned char b[10], o[1000];
	pattern(o, sizeof o, 9);
	/* udp(7): MSG_TRUNC returns the real length of the datagram, even when longer */
	EQ(recv(u, b, sizeof b, MSG_TRUNC), 1000);
	TRUE(!memcmp(b, o, 10), "truncated bytes differ");
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN); /* the rest was discarded */
}

static void udp_recvmsg_trunc(void)
{
	int u = udp_echo_pending(1000);
	if (u < 0)
		return;
	unsigned char b1[4], b2[6], o[1000];
	pattern(o, sizeof o, 9);
	struct sockaddr_storage from;
	struct iovec v[2] = {{b1, 4}, {b2, 6}};
	struct msghdr m = {
	    .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = v, .msg_iovlen = 2};
	EQ(recvmsg(u, &m, 0), 10);
	TRUE(m.msg_flags & MSG_TRUNC, "msg_flags %#x lacks MSG_TRUNC", m.msg_flags);
	EQ(m.msg_namelen, sizeof(struct sockaddr_in));
	struct sockaddr_storage want = with_port(&peer4, PORT_UDPECHO);
	SAME_ADDR(&from, &want, true);
	TRUE(!memcmp(b1, o, 4) && !memcmp(b2, o + 4, 6), "scattered bytes differ");
}

static void udp_sendmsg_iov(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	struct iovec v[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
	struct msghdr m = {.msg_name = &d, .msg_namelen = alen(&d), .msg_iov = v, .msg_iovlen = 3};
	EQ(sendmsg(u, &m, 0), 6); /* one datagram */
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[16] = {0};
	struct msghdr n = {.msg_iov = (struct iovec[]){{b, sizeof b}}, .msg_iovlen = 1};
	EQ(recvmsg(u, &n, 0), 6);
	EQ(n.msg_flags, 0);
	TRUE(!memcmp(b, "abcdef", 6), "got '%s'", b);
}

static void udp_boundaries(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "aaaaa", 5, 0), 5);
	EQ(send(u, "bbbbbb", 6, 0), 6);
	EQ(send(u, "", 0, 0), 0); /* a zero-length datagram is a datagram */
	EQ(send(u, "ccccccc", 7, 0), 7);
	int want[] = {5, 6, 0, 7};
	char b[64];
	for (int i = 0; i < 4; i++) {
		EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
		EQ(recv(u, b, sizeof b, 0), want[i]);
	}
}

static void udp_peek_fionread(void)
{
	int u = udp_echo_pending(700);
	if (u < 0)
		return;
	int q = -1;
	OK(ioctl(u, FIONREAD, &q));
	EQ(q, 700); /* udp(7): the size of the next datagram */
	unsigned char a[700], b[700];
	EQ(recv(u, a, sizeof a, MSG_PEEK), 700);
	OK(ioctl(u, FIONREAD, &q));
	EQ(q, 700);
	EQ(recv(u, b, sizeof b, 0), 700);
	TRUE(!memcmp(a, b, 700), "peek and read differ");
	OK(ioctl(u, FIONREAD, &q));
	EQ(q, 0);
}

static void udp_autobind(int fam)
{
	int u = tsock(fam, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage sn = sockname(u), any = any_addr(fam, 0);
	SAME_ADDR(&sn, &any, true);
	struct sockaddr_storage d = with_port(P(fam), PORT_UDPECHO);
	EQ(sendto(u, "x", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	sn = sockname(u);
	SAME_ADDR(&sn, &any, false); /* bound to the wildcard, an ephemeral port */
	TRUE(port_of(&sn) != 0, "getsockname after sendto has port 0");
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
}

static void udp_nb_eagain(void)
{
	int u = ubind(AF_INET);
	if (u < 0)
		return;
	char b[4];
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	int on = 1;
	OK(ioctl(u, FIONBIO, &on));
	ERR(recvfrom(u, b, sizeof b, 0, NULL, NULL), EAGAIN);
}

static void udp_bind_errors(void)
{
	int u1 = ubind(AF_INET), u2 = tsock(AF_INET, SOCK_DGRAM), u3 = tsock(AF_INET, SOCK_DGRAM);
	if (u1 < 0 || u2 < 0 || u3 < 0)
		return;
	struct sockaddr_storage a = sockname(u1);
	ERR(bind(u2, (struct sockaddr *)&a, alen(&a)), EADDRINUSE);
	ERR(bind(u1, (struct sockaddr *)&a, alen(&a)), EINVAL);
	struct sockaddr_storage n = with_port(&peer4, 0);
	ERR(bind(u3, (struct sockaddr *)&n, alen(&n)), EADDRNOTAVAIL);
}

/* SO_REUSEADDR on both: UDP sockets share the port (socket(7)). */
static void udp_bind_reuseaddr(void)
{
	int r1 = tsock(AF_INET, SOCK_DGRAM), r2 = tsock(AF_INET, SOCK_DGRAM);
	if (r1 < 0 || r2 < 0)
		return;
	OK(seti(r1, SOL_SOCKET, SO_REUSEADDR, 1));
	OK(seti(r2, SOL_SOCKET, SO_REUSEADDR, 1));
	struct sockaddr_storage z = with_port(&local4, 0);
	OK(bind(r1, (struct sockaddr *)&z, alen(&z)));
	z = sockname(r1);
	OK(bind(r2, (struct sockaddr *)&z, alen(&z)));
}

static void udp_unconnected_errors(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	ERR(send(u, "x", 1, 0), EDESTADDRREQ);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(u, (struct sockaddr *)&ss, &l), ENOTCONN);
}

/* A connected UDP socket gets the ICMP port unreachable as ECONNREFUSED (udp(7), ip(7)). */
static void udp_refused(int fam)
{
	int u = tsock(fam, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_NONE);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "x", 1, 0), 1);
	int ev = wait_fd(u, POLLIN, WAIT_MS);
	EQ_EV(ev, POLLERR);
	char b[4];
	ERR(recv(u, b, sizeof b, 0), ECONNREFUSED);
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
}

/* ---- IPv6 specifics ---- */

/* An AF_INET6 socket reaches an IPv4 peer through ::ffff:a.b.c.d (ipv6(7)). */
static void v6_mapped_tcp(void)
{
	int s = tsock(AF_INET6, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	struct sockaddr_storage d = with_port(&peer4mapped, PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	struct sockaddr_storage pn = peername(s), sn = sockname(s);
	SAME_ADDR(&pn, &d, true);
	SAME_ADDR(&sn, &local4mapped, false);
	EQ(write(s, "mapped", 6), 6);
	char b[8] = {0};
	EQ(read_n(s, b, 6), 6);
	TRUE(!memcmp(b, "mapped", 6), "got '%s'", b);
}

static void v6_mapped_udp(void)
{
	int u = tsock(AF_INET6, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4mapped, PORT_UDPECHO);
	EQ(sendto(u, "m", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	socklen_t fl = sizeof from;
	char b[4];
	EQ(recvfrom(u, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 1);
	EQ(fl, sizeof(struct sockaddr_in6));
	SAME_ADDR(&from, &d, true);
}

/* IPV6_V6ONLY set: no mapped addresses; a connect to one is ENETUNREACH (Linux). */
static void v6_v6only(void)
{
	int s = tsock(AF_INET6, SOCK_STREAM);
	if (s < 0)
		return;
	OK(seti(s, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	EQ(geti(s, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	struct sockaddr_storage d = with_port(&peer4mapped, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), ENETUNREACH);
}

/* IPV6_V6ONLY on an AF_INET socket: EOPNOTSUPP (Linux). */
static void v6_v6only_on_inet(void)
{
	int t = tsock(AF_INET, SOCK_STREAM);
	if (t < 0)
		return;
	int v;
	socklen_t l = sizeof v;
	ERR(getsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l), EOPNOTSUPP);
}

/* A listener on :: takes IPv4 connections, their peers shown as ::ffff:a.b.c.d. */
static void v6_dual_listener(void)
{
	int ls = tsock(AF_INET6, SOCK_STREAM);
	if (ls < 0)
		return;
	struct sockaddr_storage a = any_addr(AF_INET6, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	int port = port_of((struct sockaddr_storage[]){sockname(ls)});
	int c = connect_back_ex(local4_s, port, AF_INET, NULL);
	if (c < 0)
		return;
	track(c);
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	int s = accept(ls, (struct sockaddr *)&from, &fl);
	track(s);
	TRUE(s >= 0, "accept: %s", en(errno));
	EQ(fl, sizeof(struct sockaddr_in6));
	SAME_ADDR(&from, &peer4mapped, false);
	struct sockaddr_storage sn = sockname(s), want = with_port(&local4mapped, port);
	SAME_ADDR(&sn, &want, true);
	char b[8];
	EQ(read_n(s, b, 6), 6);
	/* and an IPv6 connection on the same listener */
	int c6 = connect_back_ex(local6_s, port, AF_INET6, NULL);
	if (c6 < 0)
		return;
	track(c6);
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	fl = sizeof from;
	int s6 = accept(ls, (struct sockaddr *)&from, &fl);
	track(s6);
	TRUE(s6 >= 0, "accept: %s", en(errno));
	SAME_ADDR(&from, &peer6, false);
}

/* An IPV6_V6ONLY listener on :: does not take IPv4 connections (refused). */
static void v6_v6only_listener(void)
{
	int ls = tsock(AF_INET6, SOCK_STREAM);
	if (ls < 0)
		return;
	OK(seti(ls, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	struct sockaddr_storage a = any_addr(AF_INET6, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	int port = port_of((struct sockaddr_storage[]){sockname(ls)});
	int err = -1;
	int c = connect_back_ex(local4_s, port, AF_INET, &err);
	if (c < 0)
		return;
	track(c);
	EQ(err, ECONNREFUSED);
	EQ(wait_fd(ls, POLLIN, 0), 0);
}

/* ---- descriptors: dup(2), dup2, dup3, fcntl F_DUPFD_CLOEXEC ---- */

/* dup(2): the new descriptor refers to the same open socket: either may be used, the file
 * status flags (O_NONBLOCK) are shared, the close-on-exec flag is the descriptor's own (off
 * after dup and dup2, as asked by dup3 and F_DUPFD_CLOEXEC), and closing one leaves the
 * socket to the others. */
static void sock_dup(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	OK(fcntl(s, F_SETFD, FD_CLOEXEC));
	int d = dup(s);
	track(d);
	TRUE(d >= 0 && d != s, "dup: %d (errno %s)", d, en(errno));
	EQ(OK(fcntl(d, F_GETFD)) & FD_CLOEXEC, 0);
	EQ(geti(d, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	struct sockaddr_storage a = sockname(s), b = sockname(d);
	SAME_ADDR(&b, &a, true);
	EQ(write(d, "ab", 2), 2);
	char buf[8] = {0};
	EQ(read_n(s, buf, 2), 2);
	TRUE(!memcmp(buf, "ab", 2), "echo differs: '%s'", buf);
	OK(fcntl(s, F_SETFL, O_NONBLOCK)); /* one open file: its flags seen through both */
	EQ(OK(fcntl(d, F_GETFL)) & O_NONBLOCK, O_NONBLOCK);
	ERR(read(d, buf, 1), EAGAIN);
	OK(fcntl(d, F_SETFL, 0));
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, 0);
	int c = fcntl(s, F_DUPFD_CLOEXEC, 200);
	track(c);
	TRUE(c >= 200, "fcntl(F_DUPFD_CLOEXEC, 200): %d (errno %s)", c, en(errno));
	EQ(OK(fcntl(c, F_GETFD)) & FD_CLOEXEC, FD_CLOEXEC);
	int e = fcntl(s, F_DUPFD, 0);
	track(e);
	TRUE(e >= 0, "fcntl(F_DUPFD): %d (errno %s)", e, en(errno));
	EQ(OK(fcntl(e, F_GETFD)) & FD_CLOEXEC, 0);
	untrack(s);
	OK(close(s)); /* the others keep the connection */
	EQ(write(c, "cd", 2), 2);
	EQ(read_n(e, buf, 2), 2);
	TRUE(!memcmp(buf, "cd", 2), "echo differs: '%s'", buf);
	untrack(e);
	OK(close(e));
	untrack(c);
	OK(close(c));
	EQ(write(d, "ef", 2), 2);
	EQ(read_n(d, buf, 2), 2);
	TRUE(!memcmp(buf, "ef", 2), "echo differs: '%s'", buf);
}

/* dup2 and dup3 onto a descriptor in use close it first (silently); onto the same number,
 * dup2 does nothing and dup3 fails with EINVAL. */
static void sock_dup2(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	int p[2];
	OK(pipe(p));
	track(p[0]);
	track(p[1]);
	EQ(dup2(s, p[0]), p[0]); /* the pipe's read end is closed, the number is the socket's */
	EQ(OK(fcntl(p[0], F_GETFD)) & FD_CLOEXEC, 0);
	EQ(geti(p[0], SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	EQ(dup3(s, p[1], O_CLOEXEC), p[1]);
	EQ(OK(fcntl(p[1], F_GETFD)) & FD_CLOEXEC, FD_CLOEXEC);
	EQ(dup2(s, s), s);
	ERR(dup3(s, s, 0), EINVAL);
	ERR(dup3(s, p[1], 0x4000 /* not O_CLOEXEC */), EINVAL);
	EQ(write(p[0], "x", 1), 1);
	char b[2];
	EQ(read_n(p[1], b, 1), 1);
	EQ(b[0], 'x');
	/* A socket's number taken over by another descriptor: the socket is closed (when that
	 * was its last descriptor), the number now the other's. */
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	int nul = open("/dev/null", O_RDONLY);
	track(nul);
	TRUE(nul >= 0, "open /dev/null: %s", en(errno));
	EQ(dup2(nul, u), u);
	int v;
	socklen_t l = sizeof v;
	ERR(getsockopt(u, SOL_SOCKET, SO_TYPE, &v, &l), ENOTSOCK);
	EQ(read(u, b, 1), 0); /* /dev/null */
}

/* The peer sees the end of the stream only when the last descriptor is closed: data written
 * through a duplicate after the original's close still arrives, then the FIN. */
static void sock_dup_close_last(void)
{
	int s = observed(true);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	int d = dup(s);
	track(d);
	TRUE(d >= 0, "dup: %s", en(errno));
	EQ(write(s, "ab", 2), 2);
	untrack(s);
	OK(close(s));
	EQ(write(d, "cd", 2), 2);
	untrack(d);
	OK(close(d));
	OBSERVED(port, "eof 4 %u", crc32((const unsigned char *)"abcd", 4));
}

/* epoll(7), Q1 and Q6: a socket and its duplicate are two entries of one set (two
 * descriptors), and an entry stays while any descriptor of the socket is open, so closing
 * the registered descriptor does not remove it when a duplicate remains. */
static void epoll_dup(void)
{
	int s = echo_with_data(1), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	int d = dup(s);
	track(d);
	TRUE(d >= 0, "dup: %s", en(errno));
	struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = 1},
			   e2 = {.events = EPOLLIN, .data.u64 = 2}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e1));
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, d, &e2));
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, d, &e2), EEXIST);
	EQ(epoll_wait(ep, out, 4, 0), 2);
	TRUE((out[0].data.u64 | out[1].data.u64) == 3, "events for %llu and %llu",
	     (unsigned long long)out[0].data.u64, (unsigned long long)out[1].data.u64);
	OK(epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL));
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ(out[0].data.u64, 1);
	untrack(s);
	OK(close(s)); /* d still refers to the socket: s's entry stays, and reports */
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ(out[0].data.u64, 1);
	ERR(epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL), ENOENT); /* d was never the one registered */
	char c;
	EQ(read(d, &c, 1), 1);
	EQ(epoll_wait(ep, out, 4, 0), 0);
	untrack(d);
	OK(close(d)); /* the last descriptor: the entry goes with the socket */
	EQ(epoll_wait(ep, out, 4, 0), 0);
}

/* ---- receive flags ---- */

/* MSG_WAITALL (recv(2)): the call waits for the full amount; the end of the stream ends the
 * wait early, with what came. On a non-blocking call it returns what is there. */
static void tcp_waitall(void)
{
	enum { N = 200000 };
	static unsigned char b[N + 100];
	int s = sendn_after(N, 200);
	if (s < 0)
		return;
	EQ(recv(s, b, N / 2, MSG_WAITALL), N / 2);
	TRUE(is_sendn_pattern(b, N / 2, 0), "the first half differs");
	EQ(recv(s, b, N, MSG_WAITALL), N / 2); /* the FIN follows the last byte */
	TRUE(is_sendn_pattern(b, N / 2, N / 2), "the second half differs");
	EQ(recv(s, b, 10, MSG_WAITALL), 0);
	int t = echo_with_data(10);
	if (t < 0)
		return;
	EQ(recv(t, b, 100, MSG_WAITALL | MSG_DONTWAIT), 10);
}

/* MSG_PEEK | MSG_DONTWAIT on a blocking socket: EAGAIN when empty, else the bytes stay. */
static void tcp_peek_dontwait(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	char b[16];
	ERR(recv(s, b, sizeof b, MSG_PEEK | MSG_DONTWAIT), EAGAIN);
	EQ(write(s, "peekaboo", 8), 8);
	EQ(wait_inq(s, 8), 8);
	EQ(recv(s, b, sizeof b, MSG_PEEK | MSG_DONTWAIT), 8);
	EQ(recv(s, b, 4, MSG_PEEK | MSG_DONTWAIT), 4);
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 8);
	EQ(recv(s, b, sizeof b, MSG_DONTWAIT), 8);
	TRUE(!memcmp(b, "peekaboo", 8), "read '%.8s'", b);
	ERR(recv(s, b, sizeof b, MSG_PEEK | MSG_DONTWAIT), EAGAIN);
}

/* tcp(7): MSG_TRUNC on a stream socket discards the bytes instead of copying them. */
static void tcp_recv_trunc(void)
{
	int s = sendn(1000);
	if (s < 0)
		return;
	EQ(wait_inq(s, 1000), 1000);
	unsigned char b[900];
	memset(b, 0xee, sizeof b);
	EQ(recv(s, b, 100, MSG_TRUNC), 100);
	TRUE(b[0] == 0xee && b[99] == 0xee, "MSG_TRUNC copied bytes into the buffer");
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 900);
	EQ(read_n(s, b, 900), 900);
	TRUE(is_sendn_pattern(b, 900, 100), "the bytes after the discarded ones differ");
}

/* MSG_PEEK | MSG_TRUNC on UDP: the datagram's real length, and it stays queued. */
static void udp_peek_trunc(void)
{
	int u = udp_echo_pending(1000);
	if (u < 0)
		return;
	unsigned char b[1000], o[1000];
	pattern(o, sizeof o, 9);
	EQ(recv(u, b, 10, MSG_PEEK | MSG_TRUNC), 1000);
	TRUE(!memcmp(b, o, 10), "peeked bytes differ");
	struct msghdr m = {.msg_iov = (struct iovec[]){{b, 10}}, .msg_iovlen = 1};
	EQ(recvmsg(u, &m, MSG_PEEK), 10);
	TRUE(m.msg_flags & MSG_TRUNC, "msg_flags %#x lacks MSG_TRUNC", m.msg_flags);
	EQ(recv(u, b, sizeof b, 0), 1000);
	TRUE(!memcmp(b, o, 1000), "datagram differs");
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
}

/* recv(2) MSG_OOB with no urgent data pending: EINVAL (tcp(7), Linux tcp_recv_urg). */
static void tcp_oob_none(void)
{
	int s = echo_with_data(3);
	if (s < 0)
		return;
	char b[4];
	ERR(recv(s, b, 1, MSG_OOB), EINVAL);
	EQ(read(s, b, 3), 3); /* the in-band data is untouched */
}

/* ---- UDP errors ---- */

/* The ICMP port unreachable on a connected UDP socket is a pending error (udp(7), ip(7)):
 * the next send reports it (once), or SO_ERROR does (and clears it). */
static void udp_refused_send(void)
{
	struct sockaddr_storage d = with_port(&peer4, PORT_NONE);
	int u = tsock(AF_INET, SOCK_DGRAM), v = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0 || v < 0)
		return;
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	OK(connect(v, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "x", 1, 0), 1);
	EQ(send(v, "x", 1, 0), 1);
	EQ_EV(wait_fd(u, POLLOUT, WAIT_MS), POLLOUT | POLLERR);
	ERR(send(u, "y", 1, 0), ECONNREFUSED);
	EQ(geti(u, SOL_SOCKET, SO_ERROR), 0);
	int ep = tepoll();
	if (ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, v, &e));
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLERR);
	EQ(geti(v, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
	EQ(geti(v, SOL_SOCKET, SO_ERROR), 0);
	char b[4];
	ERR(recv(v, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	EQ(epoll_wait(ep, out, 2, 0), 0);
}

/* A datagram to a port whose only socket is connected to another peer finds no socket
 * (Linux's __udp4_lib_rcv): it is answered with a port unreachable (RFC 1122 §4.1.3.1), as
 * for a port nobody has, and a connected sender learns ECONNREFUSED. Here both ends are this
 * process: u bound to our address and connected to the peer's echo, v connected to u. */
static void udp_no_socket_refused(void)
{
	int u = ubind(AF_INET), v = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0 || v < 0)
		return;
	struct sockaddr_storage echo = with_port(&peer4, PORT_UDPECHO), au = sockname(u);
	OK(connect(u, (struct sockaddr *)&echo, alen(&echo)));
	OK(connect(v, (struct sockaddr *)&au, alen(&au)));
	EQ(send(v, "x", 1, 0), 1);
	EQ_EV(wait_fd(v, POLLOUT, WAIT_MS), POLLOUT | POLLERR);
	ERR(send(v, "y", 1, 0), ECONNREFUSED);
	char b[4];
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN); /* u took nothing */
	EQ(send(u, "z", 1, 0), 1); /* and still talks to its own peer */
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(u, b, sizeof b, 0), 1);
}

/* An unconnected UDP socket is not told of ICMP errors (ip(7) IP_RECVERR off: only connected
 * sockets get them): a datagram to a closed port, then one to the echo; the echo comes, no
 * error. */
static void udp_unconnected_no_error(void)
{
	int u = ubind(AF_INET);
	if (u < 0)
		return;
	struct sockaddr_storage none = with_port(&peer4, PORT_NONE),
				echo = with_port(&peer4, PORT_UDPECHO);
	EQ(sendto(u, "x", 1, 0, (struct sockaddr *)&none, alen(&none)), 1);
	EQ(sendto(u, "y", 1, 0, (struct sockaddr *)&echo, alen(&echo)), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(geti(u, SOL_SOCKET, SO_ERROR), 0);
	char b[4];
	EQ(recv(u, b, sizeof b, 0), 1);
	EQ(b[0], 'y');
	EQ(sendto(u, "z", 1, 0, (struct sockaddr *)&none, alen(&none)), 1);
}

/* sendto(2) on UDP: port 0 is EINVAL, a short address EINVAL, another family EAFNOSUPPORT
 * (Linux udp_sendmsg). */
static void udp_sendto_errors(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, 0);
	ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&d, alen(&d)), EINVAL);
	d = with_port(&peer4, PORT_UDPECHO);
	ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&d, sizeof(struct sockaddr_in) - 1), EINVAL);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(PORT_UDPECHO)};
	ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&six, sizeof six), EAFNOSUPPORT);
	EQ(sendto(u, "x", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
}

/* A connected UDP socket may still send to another address with sendto (udp(7)); the
 * datagram comes from the connected socket's address. */
static void udp_connected_sendto(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM), v = ubind(AF_INET);
	if (u < 0 || v < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO), va = sockname(v);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(sendto(u, "o", 1, 0, (struct sockaddr *)&va, alen(&va)), 1);
	EQ_EV(wait_fd(v, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from, ua = sockname(u);
	socklen_t fl = sizeof from;
	char b[4];
	EQ(recvfrom(v, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 1);
	SAME_ADDR(&from, &ua, true);
	EQ(send(u, "p", 1, 0), 1); /* still connected to the echo */
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(u, b, sizeof b, 0), 1);
	EQ(b[0], 'p');
}

/* ---- poll after shutdown and reset ---- */

/* shutdown(SHUT_WR) here, the peer still open and silent: writable (a write would not block:
 * it fails with EPIPE), not readable, no hang-up (tcp_poll); the peer's FIN later makes it
 * readable and hung up. */
static void tcp_shut_wr_poll(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	int c = connect_back(ls);
	if (c < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	char b[8];
	EQ(read_n(a, b, 6), 6);
	OK(shutdown(a, SHUT_WR));
	EQ_EV(wait_fd(a, POLLIN | POLLOUT | POLLRDHUP, 0), POLLOUT);
	EQ(wait_fd(a, POLLIN | POLLRDHUP, 200), 0);
	int ep = tepoll();
	if (ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLOUT);
	ERR(send(a, "x", 1, MSG_NOSIGNAL), EPIPE);
	untrack(c);
	OK(close(c)); /* the peer closes the connect-back connection: its FIN */
	EQ_EV(wait_fd(a, POLLIN | POLLRDHUP, WAIT_MS), POLLIN | POLLRDHUP | POLLHUP);
	EQ_EV(wait_fd(a, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
	EQ(read(a, b, 1), 0);
}

/* After the peer's RST: POLLERR and POLLHUP whatever was asked (events 0 included); once the
 * error is read, both directions are shut: readable, writable (each fails at once), hung up. */
static void tcp_rst_poll_after_error(void)
{
	int s = tconnect(AF_INET, PORT_RST);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN, WAIT_MS);
	TRUE(ev & POLLERR, "no POLLERR after the peer's RST (revents %#x)", ev);
	struct pollfd p = {.fd = s, .events = 0};
	EQ(poll(&p, 1, 0), 1);
	EQ_EV(p.revents, POLLERR | POLLHUP);
	char b[4];
	ERR(recv(s, b, sizeof b, 0), ECONNRESET);
	EQ_EV(wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
	p.revents = 0;
	EQ(poll(&p, 1, 0), 1);
	EQ_EV(p.revents, POLLHUP);
}

/* ---- epoll flags ---- */

/* EPOLLEXCLUSIVE (epoll_ctl(2)): accepted by EPOLL_CTL_ADD with EPOLLIN, EPOLLOUT, EPOLLET,
 * EPOLLERR, EPOLLHUP, EPOLLWAKEUP only (else EINVAL); EPOLL_CTL_MOD with it is EINVAL, and
 * so is any EPOLL_CTL_MOD of an entry added with it. */
static void epoll_exclusive(void)
{
	int s = echo_with_data(1), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = 4}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ(out[0].data.u64, 4);
	EQ_EV(out[0].events, EPOLLIN);
	e.events = EPOLLIN;
	ERR(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e), EINVAL);
	OK(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL));
	e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e), EINVAL);
	e.events = EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE;
	ERR(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e), EINVAL);
	EQ(epoll_wait(ep, out, 2, 0), 0); /* neither was added */
	e.events = EPOLLIN;
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	e.events = EPOLLIN | EPOLLEXCLUSIVE;
	ERR(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e), EINVAL);
	EQ(epoll_wait(ep, out, 2, 0), 1);
	e.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLEXCLUSIVE;
	int t = tconnect(AF_INET, PORT_ECHO);
	if (t < 0)
		return;
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, t, &e));
	EQ(epoll_wait(ep, out, 2, 0), 2);
}

/* ---- socket options ---- */

/* SO_RCVLOWAT (socket(7)): select, poll and epoll report a stream socket readable only when
 * that many bytes are there; a blocking receive waits for that many (or the full request if
 * smaller). 0 means 1. SO_SNDLOWAT is always 1 and cannot be changed (ENOPROTOOPT). */
static void sock_rcvlowat(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	EQ(geti(s, SOL_SOCKET, SO_RCVLOWAT), 1);
	EQ(geti(s, SOL_SOCKET, SO_SNDLOWAT), 1);
	ERR(seti(s, SOL_SOCKET, SO_SNDLOWAT, 10), ENOPROTOOPT);
	OK(seti(s, SOL_SOCKET, SO_RCVLOWAT, 0));
	EQ(geti(s, SOL_SOCKET, SO_RCVLOWAT), 1);
	OK(seti(s, SOL_SOCKET, SO_RCVLOWAT, 10));
	EQ(geti(s, SOL_SOCKET, SO_RCVLOWAT), 10);
	struct epoll_event e = {.events = EPOLLIN}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(write(s, "12345", 5), 5);
	EQ(wait_inq(s, 5), 5);
	EQ(wait_fd(s, POLLIN, 0), 0);
	EQ(epoll_wait(ep, out, 2, 0), 0);
	fd_set r;
	FD_ZERO(&r);
	FD_SET(s, &r);
	struct timeval tv = {0, 0};
	EQ(select(s + 1, &r, NULL, NULL, &tv), 0);
	EQ(write(s, "67890", 5), 5);
	EQ(wait_inq(s, 10), 10);
	EQ_EV(wait_fd(s, POLLIN, 0), POLLIN);
	EQ(epoll_wait(ep, out, 2, 0), 1);
	char b[16];
	EQ(read(s, b, sizeof b), 10);
	/* A blocking read with 2 bytes there waits for more. (Linux wakes the reader when
	 * SO_RCVLOWAT bytes arrived beyond those it already took, hence 4 more here.) */
	OK(seti(s, SOL_SOCKET, SO_RCVLOWAT, 4));
	EQ(write(s, "ab", 2), 2);
	EQ(wait_inq(s, 2), 2);
	EQ(write(s, "cdef", 4), 4);
	EQ(recv(s, b, sizeof b, 0), 6);
	TRUE(!memcmp(b, "abcdef", 6), "read '%.6s'", b);
}

/* SO_RCVTIMEO (socket(7)): a blocking receive or accept that times out fails with EAGAIN;
 * the value reads back as set; a bad one is EINVAL (short) or EDOM (tv_usec out of range). */
static void sock_rcvtimeo(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ls = tlisten(AF_INET, 0);
	if (s < 0 || ls < 0)
		return;
	struct timeval tv = {1, 0}, got = {-1, -1};
	socklen_t l = sizeof got;
	OK(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &l));
	EQ(l, sizeof got);
	TRUE(got.tv_sec == 0 && got.tv_usec == 0, "default SO_RCVTIMEO {%ld, %ld}",
	     (long)got.tv_sec, (long)got.tv_usec);
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	l = sizeof got;
	OK(getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &l));
	TRUE(got.tv_sec == 1 && got.tv_usec == 0, "SO_RCVTIMEO read back {%ld, %ld}",
	     (long)got.tv_sec, (long)got.tv_usec);
	ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv - 1), EINVAL);
	struct timeval bad = {0, 1000000};
	ERR(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad), EDOM);
	tv = (struct timeval){0, 200000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	OK(setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[4];
	ERR(recv(s, b, sizeof b, 0), EAGAIN);
	ERR(read(s, b, sizeof b), EAGAIN);
	ERR(accept(ls, NULL, NULL), EAGAIN);
	EQ(write(s, "t", 1), 1); /* data within the timeout: returned as usual */
	EQ(recv(s, b, sizeof b, 0), 1);
}

/* SO_SNDTIMEO (socket(7)): a blocking connect that times out fails with EINPROGRESS, the
 * attempt going on (a second connect: EALREADY). */
static void sock_sndtimeo_connect(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	struct timeval tv = {0, 200000};
	OK(setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
	struct sockaddr_storage d = with_port(&peer4, PORT_HOLE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EALREADY);
	EQ(wait_fd(s, POLLOUT, 0), 0);
}

/* socket(7) options that sluice does not act on still read back what was set: SO_BROADCAST,
 * SO_OOBINLINE (as 1 for any non-zero), SO_PRIORITY. */
static void sock_opt_roundtrip(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM), s = tsock(AF_INET, SOCK_STREAM);
	if (u < 0 || s < 0)
		return;
	EQ(geti(u, SOL_SOCKET, SO_BROADCAST), 0);
	OK(seti(u, SOL_SOCKET, SO_BROADCAST, 1));
	EQ(geti(u, SOL_SOCKET, SO_BROADCAST), 1);
	OK(seti(u, SOL_SOCKET, SO_BROADCAST, 0));
	EQ(geti(u, SOL_SOCKET, SO_BROADCAST), 0);
	EQ(geti(s, SOL_SOCKET, SO_OOBINLINE), 0);
	OK(seti(s, SOL_SOCKET, SO_OOBINLINE, 7));
	EQ(geti(s, SOL_SOCKET, SO_OOBINLINE), 1);
	EQ(geti(s, SOL_SOCKET, SO_PRIORITY), 0);
	OK(seti(s, SOL_SOCKET, SO_PRIORITY, 6));
	EQ(geti(s, SOL_SOCKET, SO_PRIORITY), 6);
}

/* ---- addresses ---- */

/* socket(7) SO_RCVLOWAT, recv(2) MSG_PEEK: a blocking peek waits, as a read does, for
 * SO_RCVLOWAT bytes (tcp_recvmsg keeps its target with MSG_PEEK). The peer sends 2 bytes and 5
 * more 0.3 s later: the peek returns all 7, and all 7 are still there to read. */
static void tcp_peek_rcvlowat(void)
{
	int s = tconnect(AF_INET, PORT_DRIP);
	if (s < 0)
		return;
	OK(seti(s, SOL_SOCKET, SO_RCVLOWAT, 5));
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[16] = {0};
	EQ(recv(s, b, sizeof b, MSG_PEEK), 7);
	TRUE(!memcmp(b, "abcdefg", 7), "peeked '%s'", b);
	memset(b, 0, sizeof b);
	EQ(recv(s, b, sizeof b, 0), 7);
	TRUE(!memcmp(b, "abcdefg", 7), "read '%s'", b);
}

/* ip(7) IP_TTL, ipv6(7) IPV6_UNICAST_HOPS: unset they read the default the packets get (64:
 * ip_default_ttl, the hop limit of the interface); a value set reads back; -1 is the default
 * again; IP_TTL takes 1..255 (0 and 256 EINVAL), IPV6_UNICAST_HOPS -1..255. */
static void ip_ttl_option(void)
{
	int s = tsock(AF_INET, SOCK_STREAM), u = tsock(AF_INET, SOCK_DGRAM);
	if (s < 0 || u < 0)
		return;
	EQ(geti(s, IPPROTO_IP, IP_TTL), 64);
	OK(seti(s, IPPROTO_IP, IP_TTL, 17));
	EQ(geti(s, IPPROTO_IP, IP_TTL), 17);
	OK(seti(s, IPPROTO_IP, IP_TTL, -1));
	EQ(geti(s, IPPROTO_IP, IP_TTL), 64);
	ERR(seti(s, IPPROTO_IP, IP_TTL, 0), EINVAL);
	ERR(seti(s, IPPROTO_IP, IP_TTL, 256), EINVAL);
	ERR(seti(u, IPPROTO_IP, IP_TTL, -2), EINVAL);
	EQ(geti(u, IPPROTO_IP, IP_TTL), 64);
	OK(seti(u, IPPROTO_IP, IP_TTL, 255));
	EQ(geti(u, IPPROTO_IP, IP_TTL), 255);
	if (!have6)
		return;
	int s6 = tsock(AF_INET6, SOCK_STREAM);
	if (s6 < 0)
		return;
	EQ(geti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 64);
	OK(seti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 5));
	EQ(geti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 5);
	OK(seti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1));
	EQ(geti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 64);
	ERR(seti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -2), EINVAL);
	ERR(seti(s6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256), EINVAL);
}

/* A datagram socket's IP option (level, name) set to want[1], then want[2] (want[0]: unset) is
 * what its datagrams arrive with: the peer's PORT_TTL service answers "ttl N tos M" (IP_RECVTTL,
 * IPV6_RECVHOPLIMIT, IP_RECVTOS, IPV6_RECVTCLASS), compared with fmt printed with the value. */
static void udp_option_arrives(int fam, int level, int name, const int want[3], const char *fmt)
{
	int u = ubind(fam);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(P(fam), PORT_TTL);
	for (int i = 0; i < 3; i++) {
		if (i)
			OK(seti(u, level, name, want[i]));
		EQ(sendto(u, "t", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
		EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
		char b[32] = {0}, w[32];
		EQ(recv(u, b, sizeof b - 1, 0) > 0, 1);
		snprintf(w, sizeof w, fmt, want[i]);
		TRUE(!strcmp(b, w), "the peer saw '%s', expected '%s'", b, w);
	}
}

/* The TTL (IPv4) or hop limit (IPv6) set on a datagram socket is the one its datagrams arrive
 * with; unset, the default 64. */
static void udp_ttl_sent(int fam)
{
	const int want[] = {64, 7, 200};
	udp_option_arrives(fam, fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			   fam == AF_INET ? IP_TTL : IPV6_UNICAST_HOPS, want, "ttl %d tos 0");
}

/* ip(7) IP_TOS, ipv6(7) IPV6_TCLASS: 0 unset; a value set reads back, but on a stream socket
 * without its ECN bits (the low two: TCP keeps them, RFC 3168 §6.1.1); IP_TOS takes an int or
 * a single byte; IPV6_TCLASS takes -1 (the default, 0) to 255. */
static void ip_tos_option(void)
{
	int s = tsock(AF_INET, SOCK_STREAM), u = tsock(AF_INET, SOCK_DGRAM);
	if (s < 0 || u < 0)
		return;
	EQ(geti(s, IPPROTO_IP, IP_TOS), 0);
	EQ(geti(u, IPPROTO_IP, IP_TOS), 0);
	OK(seti(s, IPPROTO_IP, IP_TOS, 0x2b));
	EQ(geti(s, IPPROTO_IP, IP_TOS), 0x28);
	OK(seti(u, IPPROTO_IP, IP_TOS, 0x2b));
	EQ(geti(u, IPPROTO_IP, IP_TOS), 0x2b);
	unsigned char one = 0xb8;
	OK(setsockopt(u, IPPROTO_IP, IP_TOS, &one, 1));
	EQ(geti(u, IPPROTO_IP, IP_TOS), 0xb8);
	OK(seti(s, IPPROTO_IP, IP_TOS, 0));
	EQ(geti(s, IPPROTO_IP, IP_TOS), 0);
	if (!have6)
		return;
	int s6 = tsock(AF_INET6, SOCK_STREAM), u6 = tsock(AF_INET6, SOCK_DGRAM);
	if (s6 < 0 || u6 < 0)
		return;
	EQ(geti(s6, IPPROTO_IPV6, IPV6_TCLASS), 0);
	OK(seti(s6, IPPROTO_IPV6, IPV6_TCLASS, 0x2b));
	EQ(geti(s6, IPPROTO_IPV6, IPV6_TCLASS), 0x28);
	OK(seti(u6, IPPROTO_IPV6, IPV6_TCLASS, 0x2b));
	EQ(geti(u6, IPPROTO_IPV6, IPV6_TCLASS), 0x2b);
	OK(seti(u6, IPPROTO_IPV6, IPV6_TCLASS, -1));
	EQ(geti(u6, IPPROTO_IPV6, IPV6_TCLASS), 0);
	ERR(seti(u6, IPPROTO_IPV6, IPV6_TCLASS, -2), EINVAL);
	ERR(seti(u6, IPPROTO_IPV6, IPV6_TCLASS, 256), EINVAL);
	/* An AF_INET6 socket keeps IP_TOS (for its v4-mapped peers) apart from IPV6_TCLASS. */
	OK(seti(u6, IPPROTO_IP, IP_TOS, 0x10));
	EQ(geti(u6, IPPROTO_IP, IP_TOS), 0x10);
	EQ(geti(u6, IPPROTO_IPV6, IPV6_TCLASS), 0);
}

/* The IP_TOS (IPv4) or IPV6_TCLASS (IPv6) of a datagram socket is the byte its datagrams
 * arrive with, ECN bits included; unset, 0. */
static void udp_tos_sent(int fam)
{
	const int want[] = {0, 0x2b, 0xb8};
	udp_option_arrives(fam, fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
			   fam == AF_INET ? IP_TOS : IPV6_TCLASS, want, "ttl 64 tos %d");
}

/* Asks peer.py's IP-header watch for the first TCP segment of kind ("data", "synack") from
 * fd's local address and port. Returns the watch's connection once it says "watching" (the
 * segment may be sent then), -1 (failf) otherwise. */
static int iphdr_watch(int fd, const char *kind)
{
	struct sockaddr_storage a = sockname(fd);
	char ip[INET6_ADDRSTRLEN] = "?", line[128], r[64];
	const void *in = a.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&a)->sin6_addr
						 : (const void *)&((struct sockaddr_in *)&a)->sin_addr;
	inet_ntop(a.ss_family, in, ip, sizeof ip);
	int w = tconnect(a.ss_family == AF_INET6 ? AF_INET6 : AF_INET, PORT_IPHDR);
	if (w < 0)
		return -1;
	int n = snprintf(line, sizeof line, "%s %d %s\n", ip, port_of(&a), kind);
	if (write(w, line, n) != n || read_line(w, r, sizeof r, WAIT_MS) < 0 ||
	    strcmp(r, "watching")) {
		failf("the IP-header watch for %s %s: '%s'", astr(&a), kind, r);
		return -1;
	}
	return w;
}

/* What the watch saw: "ttl N tos M" (or "none" when no such segment came in 5 s). */
static void iphdr_expect(int w, int ttl, int tos)
{
	char r[64], want[64];
	if (read_line(w, r, sizeof r, 2 * WAIT_MS) < 0)
		snprintf(r, sizeof r, "(no answer)");
	snprintf(want, sizeof want, "ttl %d tos %d", ttl, tos);
	TRUE(!strcmp(r, want), "the peer saw '%s' on the wire, expected '%s'", r, want);
}

/* A stream socket's segments carry its IP_TOS / IPV6_TCLASS (without the ECN bits) and
 * IP_TTL / IPV6_UNICAST_HOPS, set before connect and changed after it; read off the wire in
 * the peer's namespace. */
static void tcp_tos_sent(int fam)
{
	int level = fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	int tos = fam == AF_INET ? IP_TOS : IPV6_TCLASS;
	int ttl = fam == AF_INET ? IP_TTL : IPV6_UNICAST_HOPS;
	int s = tsock(fam, SOCK_STREAM);
	if (s < 0)
		return;
	OK(seti(s, level, tos, 0x4a));
	OK(seti(s, level, ttl, 33));
	struct sockaddr_storage d = with_port(P(fam), PORT_ECHO);
	if (connect(s, (struct sockaddr *)&d, alen(&d)) < 0) {
		failf("connect to %s: %s", astr(&d), en(errno));
		return;
	}
	const int tos2[] = {0x48, 0x20};
	char b[2];
	for (int i = 0; i < 2; i++) {
		if (i)
			OK(seti(s, level, tos, tos2[i]));
		int w = iphdr_watch(s, "data");
		if (w < 0)
			return;
		EQ(write(s, "x", 1), 1);
		EQ(read_n(s, b, 1), 1);
		iphdr_expect(w, 33, tos2[i]);
	}
}

/* A listener's SYN-ACKs carry its IP_TOS / IPV6_TCLASS and IP_TTL / IPV6_UNICAST_HOPS (Linux
 * sends them from the listening socket), and the connection it accepts starts with them. */
static void tcp_synack_tos(int fam)
{
	int level = fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	int tos = fam == AF_INET ? IP_TOS : IPV6_TCLASS;
	int ttl = fam == AF_INET ? IP_TTL : IPV6_UNICAST_HOPS;
	int l = tlisten(fam, 0);
	if (l < 0)
		return;
	OK(seti(l, level, tos, 0x60));
	OK(seti(l, level, ttl, 44));
	int w = iphdr_watch(l, "synack");
	if (w < 0 || connect_back(l) < 0)
		return;
	iphdr_expect(w, 44, 0x60);
	int a = accept(l, NULL, NULL);
	if (a < 0) {
		failf("accept: %s", en(errno));
		return;
	}
	track(a);
	EQ(geti(a, level, tos), 0x60);
	EQ(geti(a, level, ttl), 44);
}

/* send(2): on a connected stream socket the address given to sendto is ignored; on an
 * unconnected one sendto is EPIPE (no implicit connect without MSG_FASTOPEN). */
static void tcp_sendto_connected(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	struct sockaddr_storage other = with_port(&peer4, PORT_NONE);
	EQ(sendto(s, "to", 2, 0, (struct sockaddr *)&other, alen(&other)), 2);
	char b[4] = {0};
	EQ(read_n(s, b, 2), 2);
	TRUE(!memcmp(b, "to", 2), "echo differs: '%s'", b);
	int u = tsock(AF_INET, SOCK_STREAM);
	if (u < 0)
		return;
	struct sockaddr_storage echo = with_port(&peer4, PORT_ECHO);
	ERR(sendto(u, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&echo, alen(&echo)), EPIPE);
}

/* connect(2) argument errors: a short address EINVAL, another family EAFNOSUPPORT; the socket
 * is still usable after them. Port 0 on the peer: nothing listens there (refused). */
static void tcp_connect_bad_args(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&d, sizeof(struct sockaddr_in) - 1), EINVAL);
	ERR(connect(s, (struct sockaddr *)&d, 1), EINVAL);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(PORT_ECHO)};
	ERR(connect(s, (struct sockaddr *)&six, sizeof six), EAFNOSUPPORT);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	EQ(write(s, "ok", 2), 2);
	char b[2];
	EQ(read_n(s, b, 2), 2);
	int z = tsock(AF_INET, SOCK_STREAM);
	if (z < 0)
		return;
	struct sockaddr_storage zero = with_port(&peer4, 0);
	ERR(connect(z, (struct sockaddr *)&zero, alen(&zero)), ECONNREFUSED);
}

/* accept(2) and recvfrom(2) with a short address buffer: the address is truncated to it and
 * the length says the full size. */
static void sock_addrlen_truncation_accept(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	unsigned char b[sizeof(struct sockaddr_in)];
	memset(b, 0xab, sizeof b);
	socklen_t l = 4;
	int a = accept(ls, (struct sockaddr *)b, &l);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	EQ(l, sizeof(struct sockaddr_in));
	struct sockaddr_storage pn = peername(a);
	TRUE(!memcmp(b, &pn, 4) && b[4] == 0xab, "truncated address written wrongly");
	int u = udp_echo_pending(3);
	if (u < 0)
		return;
	memset(b, 0xab, sizeof b);
	l = 4;
	char d[8];
	EQ(recvfrom(u, d, sizeof d, 0, (struct sockaddr *)b, &l), 3);
	EQ(l, sizeof(struct sockaddr_in));
	struct sockaddr_storage want = with_port(&peer4, PORT_UDPECHO);
	TRUE(!memcmp(b, &want, 4) && b[4] == 0xab, "truncated source address written wrongly");
}

/* socket(2) with a protocol that does not match the type: EPROTONOSUPPORT; an accepted
 * socket's SO_TYPE, SO_DOMAIN, SO_PROTOCOL are its listener's, SO_ACCEPTCONN 0. */
static void sock_types_accepted(void)
{
	ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
	int t = tsock(AF_INET, SOCK_STREAM), u = tsock(AF_INET, SOCK_DGRAM);
	if (t < 0 || u < 0)
		return;
	int ls = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	track(ls);
	TRUE(ls >= 0, "socket(IPPROTO_TCP): %s", en(errno));
	EQ(geti(ls, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
	struct sockaddr_storage a = with_port(&local4, 0);
	OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
	OK(listen(ls, 4));
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept(ls, NULL, NULL);
	track(s);
	TRUE(s >= 0, "accept: %s", en(errno));
	EQ(geti(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	EQ(geti(s, SOL_SOCKET, SO_DOMAIN), AF_INET);
	EQ(geti(s, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
	EQ(geti(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
}

/* shutdown(2) on a listening socket (Linux inet_shutdown): SHUT_WR does nothing, it still
 * listens; SHUT_RD stops it listening: accept fails with EINVAL, SO_ACCEPTCONN is 0, and
 * connections to its port are refused. */
static void tcp_shutdown_listener(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(ls)});
	OK(shutdown(ls, SHUT_WR));
	EQ(geti(ls, SOL_SOCKET, SO_ACCEPTCONN), 1);
	ERR(accept(ls, NULL, NULL), EAGAIN);
	OK(shutdown(ls, SHUT_RD));
	EQ(geti(ls, SOL_SOCKET, SO_ACCEPTCONN), 0);
	ERR(accept(ls, NULL, NULL), EINVAL);
	int err = -1;
	int c = connect_back_ex(local4_s, port, AF_INET, &err);
	if (c < 0)
		return;
	track(c);
	EQ(err, ECONNREFUSED);
}

/* getpeername(2) is ENOTCONN once the connection is over (Linux inet_getname: a socket in
 * CLOSE has no peer), after an RST or after both FINs; while only the peer's FIN came
 * (CLOSE-WAIT) it still names the peer. getsockname keeps the local address. */
static void tcp_getpeername_after_close(void)
{
	int s = tconnect(AF_INET, PORT_RST);
	if (s < 0)
		return;
	struct sockaddr_storage before = sockname(s);
	int ev = wait_fd(s, POLLIN, WAIT_MS);
	TRUE(ev & POLLERR, "no POLLERR after the peer's RST (revents %#x)", ev);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(s, (struct sockaddr *)&ss, &l), ENOTCONN);
	struct sockaddr_storage after = sockname(s);
	SAME_ADDR(&after, &before, true);
	int c = tconnect(AF_INET, PORT_CLOSE);
	if (c < 0)
		return;
	EQ_EV(wait_fd(c, POLLIN, WAIT_MS), POLLIN);
	char b[4];
	EQ(read(c, b, sizeof b), 0);
	struct sockaddr_storage pn = peername(c), want = with_port(&peer4, PORT_CLOSE);
	SAME_ADDR(&pn, &want, true);
	OK(shutdown(c, SHUT_WR)); /* LAST-ACK, then CLOSED when the peer acknowledges */
	for (int i = 0; i < 100; i++) {
		l = sizeof ss;
		if (getpeername(c, (struct sockaddr *)&ss, &l) < 0)
			break;
		wait_fd(c, POLLIN, 0); /* (a wait on the socket: under sluice exec it drives the
					* stack, which a sleep elsewhere does not) */
		poll(NULL, 0, 20);
	}
	l = sizeof ss;
	ERR(getpeername(c, (struct sockaddr *)&ss, &l), ENOTCONN);
	/* Our FIN first, then the echo's: TIME-WAIT, the socket's connection is over. */
	int e = tconnect(AF_INET, PORT_ECHO);
	if (e < 0)
		return;
	OK(shutdown(e, SHUT_WR));
	EQ(read_n(e, b, 1), 0);
	EQ(errno, 0);
	for (int i = 0; i < 100; i++) {
		l = sizeof ss;
		if (getpeername(e, (struct sockaddr *)&ss, &l) < 0)
			break;
		wait_fd(e, POLLIN, 0);
		poll(NULL, 0, 20);
	}
	l = sizeof ss;
	ERR(getpeername(e, (struct sockaddr *)&ss, &l), ENOTCONN);
}

/* connect(2) on UDP: a short address EINVAL, another family EAFNOSUPPORT (ip4_datagram_connect);
 * the socket is still unconnected and usable. */
static void udp_connect_errors(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	ERR(connect(u, (struct sockaddr *)&d, sizeof(struct sockaddr_in) - 1), EINVAL);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(PORT_UDPECHO)};
	ERR(connect(u, (struct sockaddr *)&six, sizeof six), EAFNOSUPPORT);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(u, (struct sockaddr *)&ss, &l), ENOTCONN);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "c", 1, 0), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
}

/* tcp(7) SIOCOUTQ (TIOCOUTQ) and SIOCOUTQNSD: bytes written and not yet acknowledged, and
 * of those not yet sent; SIOCINQ the bytes unread; EINVAL on a listening socket; 0 on a fresh
 * one. UDP: SIOCOUTQ is what waits in the send queue (0 here), SIOCOUTQNSD is not a UDP
 * request (ENOTTY). */
static void tcp_ioctl_queues(void)
{
	int q = -1;
	int f = tsock(AF_INET, SOCK_STREAM);
	if (f < 0)
		return;
	OK(ioctl(f, SIOCOUTQ, &q));
	EQ(q, 0);
	OK(ioctl(f, SIOCOUTQNSD, &q));
	EQ(q, 0);
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	OK(ioctl(s, SIOCOUTQ, &q));
	EQ(q, 0);
	unsigned char o[1000], in[1000];
	pattern(o, sizeof o, 5);
	EQ(write(s, o, sizeof o), sizeof o);
	EQ(wait_inq(s, 1000), 1000);
	OK(ioctl(s, SIOCINQ, &q));
	EQ(q, 1000);
	for (int i = 0; i < 100; i++) { /* the acknowledgment may trail the echo */
		OK(ioctl(s, SIOCOUTQ, &q));
		if (q == 0)
			break;
		poll(NULL, 0, 20);
	}
	EQ(q, 0);
	OK(ioctl(s, SIOCOUTQNSD, &q));
	EQ(q, 0);
	EQ(read_n(s, in, sizeof in), sizeof in);
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	ERR(ioctl(ls, SIOCOUTQ, &q), EINVAL);
	ERR(ioctl(ls, SIOCOUTQNSD, &q), EINVAL);
	ERR(ioctl(ls, SIOCINQ, &q), EINVAL);
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	q = -1;
	OK(ioctl(u, SIOCOUTQ, &q));
	EQ(q, 0);
	ERR(ioctl(u, SIOCOUTQNSD, &q), ENOTTY);
}

/* connect(2) with AF_UNSPEC on a connected TCP socket (Linux tcp_disconnect): the connection
 * is aborted (the peer sees an RST), the socket is unconnected again and may connect anew. */
static void tcp_connect_unspec(void)
{
	int s = observed(true);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	OK(connect(s, &un, sizeof un));
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(s, (struct sockaddr *)&ss, &l), ENOTCONN);
	OBSERVED(port, "reset 0 %u", 0u);
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	EQ(write(s, "re", 2), 2);
	char b[2];
	EQ(read_n(s, b, 2), 2);
}

/* ---- more checks from the man pages (socket(7), tcp(7), udp(7), ip(7), ipv6(7), epoll(7),
 * poll(2), accept(2), connect(2), send(2), recv(2), readv(2), getsockopt(2), listen(2)) ---- */

/* socket(7) SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN on an AF_INET6 datagram socket
 * (udp_types covers AF_INET), bound or not; listen(2) and accept(2) on it: EOPNOTSUPP. */
static void udp6_types(void)
{
	int u = tsock(AF_INET6, SOCK_DGRAM), b = ubind(AF_INET6);
	if (u < 0 || b < 0)
		return;
	EQ(geti(u, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	EQ(geti(u, SOL_SOCKET, SO_DOMAIN), AF_INET6);
	EQ(geti(u, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
	EQ(geti(u, SOL_SOCKET, SO_ACCEPTCONN), 0);
	EQ(geti(b, SOL_SOCKET, SO_ACCEPTCONN), 0);
	EQ(geti(b, SOL_SOCKET, SO_DOMAIN), AF_INET6);
	ERR(listen(b, 4), EOPNOTSUPP);
	ERR(accept(b, NULL, NULL), EOPNOTSUPP);
}

/* accept4(2): flags other than SOCK_NONBLOCK and SOCK_CLOEXEC are EINVAL, and the pending
 * connection stays queued for the next accept; both flags at once set both O_NONBLOCK and
 * FD_CLOEXEC on the new descriptor. */
static void tcp_accept4_flags(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	ERR(accept4(ls, NULL, NULL, SOCK_NONBLOCK | 1), EINVAL);
	EQ_EV(wait_fd(ls, POLLIN, 0), POLLIN); /* still queued */
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	int a = accept4(ls, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	track(a);
	TRUE(a >= 0, "accept4(SOCK_NONBLOCK | SOCK_CLOEXEC): %s", en(errno));
	SAME_ADDR(&from, &peer4, false);
	EQ(OK(fcntl(a, F_GETFL)) & O_NONBLOCK, O_NONBLOCK);
	EQ(OK(fcntl(a, F_GETFD)) & FD_CLOEXEC, FD_CLOEXEC);
	char b[8];
	EQ(read_n(a, b, 6), 6);
	ERR(read(a, b, 1), EAGAIN);
}

/* sendmmsg(2) / recvmmsg(2) on UDP: several datagrams in one call, each message's msg_len its
 * datagram's length, msg_name the sender; none pending: EAGAIN; sendmmsg of an unconnected
 * socket without addresses fails as send would (EDESTADDRREQ). */
static void udp_sendmmsg_recvmmsg(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM), n = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0 || n < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	static const char *msg[3] = {"a", "bb", "ccc"};
	struct iovec sv[3];
	struct mmsghdr sm[3];
	memset(sm, 0, sizeof sm);
	for (int i = 0; i < 3; i++) {
		sv[i] = (struct iovec){(void *)msg[i], strlen(msg[i])};
		sm[i].msg_hdr.msg_iov = &sv[i];
		sm[i].msg_hdr.msg_iovlen = 1;
	}
	EQ(sendmmsg(u, sm, 3, 0), 3);
	for (int i = 0; i < 3; i++)
		EQ(sm[i].msg_len, strlen(msg[i]));
	char rb[4][16];
	struct iovec rv[4];
	struct mmsghdr rm[4];
	struct sockaddr_storage from[4];
	int got = 0;
	for (int iter = 0; got < 3 && iter < 50; iter++) {
		if (wait_fd(u, POLLIN, WAIT_MS) <= 0)
			break;
		memset(rm, 0, sizeof rm);
		for (int i = 0; i < 4; i++) {
			rv[i] = (struct iovec){rb[i], sizeof rb[i]};
			rm[i].msg_hdr.msg_iov = &rv[i];
			rm[i].msg_hdr.msg_iovlen = 1;
			rm[i].msg_hdr.msg_name = &from[i];
			rm[i].msg_hdr.msg_namelen = sizeof from[i];
		}
		int r = recvmmsg(u, rm, 4, MSG_DONTWAIT, NULL);
		TRUE(r > 0, "recvmmsg: %d (errno %s) after %d datagrams", r, en(errno), got);
		TRUE(got + r <= 3, "recvmmsg: %d datagrams after %d, 3 were sent", r, got);
		for (int i = 0; i < r; i++, got++) {
			EQ(rm[i].msg_len, strlen(msg[got]));
			TRUE(!memcmp(rb[i], msg[got], rm[i].msg_len), "datagram %d differs", got);
			EQ(rm[i].msg_hdr.msg_flags, 0);
			EQ(rm[i].msg_hdr.msg_namelen, sizeof(struct sockaddr_in));
			SAME_ADDR(&from[i], &d, true);
		}
	}
	EQ(got, 3);
	ERR(recvmmsg(u, rm, 4, MSG_DONTWAIT, NULL), EAGAIN);
	ERR(sendmmsg(n, sm, 3, 0), EDESTADDRREQ);
}

/* send(2) MSG_MORE on TCP: the data is held for more, and the next send without the flag
 * sends it all: the echo brings back both, in order. */
static void tcp_msg_more(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	EQ(send(s, "ab", 2, MSG_MORE), 2);
	EQ(send(s, "cd", 2, 0), 2);
	char b[8] = {0};
	EQ(read_n(s, b, 4), 4);
	TRUE(!memcmp(b, "abcd", 4), "echo '%s'", b);
}

/* tcp(7) TCP_CORK: reads back what was set (0 or 1); clearing it sends what was held. */
static void tcp_cork(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	EQ(geti(s, IPPROTO_TCP, TCP_CORK), 0);
	OK(seti(s, IPPROTO_TCP, TCP_CORK, 1));
	EQ(geti(s, IPPROTO_TCP, TCP_CORK), 1);
	EQ(write(s, "xy", 2), 2);
	EQ(write(s, "z", 1), 1);
	OK(seti(s, IPPROTO_TCP, TCP_CORK, 0));
	EQ(geti(s, IPPROTO_TCP, TCP_CORK), 0);
	char b[4] = {0};
	EQ(read_n(s, b, 3), 3);
	TRUE(!memcmp(b, "xyz", 3), "echo '%s'", b);
}

/* udp(7) MSG_MORE: "the data ... will be appended to a single datagram" until a send without
 * it: three sends, one datagram of 6 bytes. */
static void udp_msg_more(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "ab", 2, MSG_MORE), 2);
	EQ(send(u, "cd", 2, MSG_MORE), 2);
	EQ(send(u, "ef", 2, 0), 2);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[16] = {0};
	EQ(recv(u, b, sizeof b, 0), 6);
	TRUE(!memcmp(b, "abcdef", 6), "datagram '%s'", b);
}

/* udp(7) UDP_CORK: while set, the output is accumulated into one datagram, sent when it is
 * cleared; it reads back as set. */
static void udp_cork(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(geti(u, IPPROTO_UDP, UDP_CORK), 0);
	OK(seti(u, IPPROTO_UDP, UDP_CORK, 1));
	EQ(geti(u, IPPROTO_UDP, UDP_CORK), 1);
	EQ(send(u, "gh", 2, 0), 2);
	EQ(send(u, "ij", 2, 0), 2);
	EQ(wait_fd(u, POLLIN, 200), 0); /* nothing sent yet */
	OK(seti(u, IPPROTO_UDP, UDP_CORK, 0));
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[16] = {0};
	EQ(recv(u, b, sizeof b, 0), 4);
	TRUE(!memcmp(b, "ghij", 4), "datagram '%s'", b);
}

/* tcp(7) TCP_USER_TIMEOUT: 0 by default (the system's), the milliseconds set read back, a
 * negative value EINVAL (and the old value kept); on a connected socket as well. */
static void tcp_user_timeout(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	OK(seti(s, IPPROTO_TCP, TCP_USER_TIMEOUT, 30000));
	EQ(geti(s, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000);
	ERR(seti(s, IPPROTO_TCP, TCP_USER_TIMEOUT, -1), EINVAL);
	EQ(geti(s, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000);
	OK(seti(s, IPPROTO_TCP, TCP_USER_TIMEOUT, 0));
	EQ(geti(s, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	int c = tconnect(AF_INET, PORT_ECHO);
	if (c < 0)
		return;
	OK(seti(c, IPPROTO_TCP, TCP_USER_TIMEOUT, 5000));
	EQ(geti(c, IPPROTO_TCP, TCP_USER_TIMEOUT), 5000);
}

/* tcp(7): unset, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT read the system defaults
 * (tcp_keepalive_time 7200 s, tcp_keepalive_intvl 75 s, tcp_keepalive_probes 9). */
static void tcp_keepalive_defaults(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPINTVL), 75);
	EQ(geti(s, IPPROTO_TCP, TCP_KEEPCNT), 9);
	int c = tconnect(AF_INET, PORT_ECHO);
	if (c < 0)
		return;
	EQ(geti(c, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
}

/* tcp(7) TCP_DEFER_ACCEPT (nginx "deferred"): the seconds are kept as a count of SYN-ACK
 * retransmissions, so getsockopt reads the value rounded up to the next total of the backoff
 * series (1, 3, 7, 15, 31...: 1 -> 1, 30 -> 31); 0 or negative is off. A connection that
 * sends data at once is accepted as usual. */
static void tcp_defer_accept(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	EQ(geti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT), 0);
	OK(seti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1));
	EQ(geti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT), 1);
	OK(seti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, -5));
	EQ(geti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT), 0);
	OK(seti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, 30));
	EQ(geti(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT), 31);
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	char b[8];
	EQ(read_n(a, b, 6), 6);
	TRUE(!memcmp(b, "hello\n", 6), "read '%.6s'", b);
}

/* tcp(7) TCP_MAXSEG: unconnected it reads 536 (the default MSS) or the value set; the value
 * must be 88..32767 (else EINVAL); connected, it reads the MSS in use, at most the one set. */
static void tcp_maxseg(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	EQ(geti(s, IPPROTO_TCP, TCP_MAXSEG), 536);
	OK(seti(s, IPPROTO_TCP, TCP_MAXSEG, 1000));
	EQ(geti(s, IPPROTO_TCP, TCP_MAXSEG), 1000);
	ERR(seti(s, IPPROTO_TCP, TCP_MAXSEG, 87), EINVAL);
	ERR(seti(s, IPPROTO_TCP, TCP_MAXSEG, 32768), EINVAL);
	EQ(geti(s, IPPROTO_TCP, TCP_MAXSEG), 1000);
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	int m = geti(s, IPPROTO_TCP, TCP_MAXSEG);
	TRUE(m >= 88 && m <= 1000, "TCP_MAXSEG connected with 1000 set: %d", m);
	static char b[3000], in[3000];
	memset(b, 'm', sizeof b);
	EQ(write(s, b, sizeof b), sizeof b);
	EQ(read_n(s, in, sizeof in), sizeof in);
}

/* SO_RCVLOWAT (socket(7)) is a stream-socket watermark: a UDP socket takes it (it reads back)
 * but poll and recv ignore it (Linux datagram_poll, udp_recvmsg): a 5-byte datagram is
 * readable and returned with SO_RCVLOWAT 100. */
static void udp_rcvlowat_ignored(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	OK(seti(u, SOL_SOCKET, SO_RCVLOWAT, 100));
	EQ(geti(u, SOL_SOCKET, SO_RCVLOWAT), 100);
	EQ(send(u, "lowat", 5, 0), 5);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[16];
	EQ(recv(u, b, sizeof b, 0), 5);
}

/* poll(2) / tcp_poll: shutdown(SHUT_RD) alone makes the socket readable (EOF) and RDHUP, still
 * writable, no hang-up; shutdown(SHUT_WR) after it closes both directions: POLLHUP as well,
 * with the peer still open. epoll reports the same; poll with events 0 POLLHUP alone. */
static void tcp_shut_rdwr_poll(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	OK(shutdown(s, SHUT_RD));
	EQ_EV(wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLRDHUP);
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	OK(shutdown(s, SHUT_WR));
	EQ_EV(wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP);
	struct pollfd p = {.fd = s, .events = 0};
	EQ(poll(&p, 1, 0), 1);
	EQ_EV(p.revents, POLLHUP);
}

/* The peer's FIN alone (CLOSE-WAIT): readable, RDHUP, and still writable (our direction is
 * open); no POLLHUP, which needs both directions closed (poll(2), tcp_poll); epoll alike. */
static void tcp_peer_fin_poll_out(void)
{
	int s = tconnect(AF_INET, PORT_CLOSE), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	EQ_EV(wait_fd(s, POLLIN, WAIT_MS), POLLIN);
	EQ_EV(wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLRDHUP);
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 2, 0), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	char b[4];
	EQ(read(s, b, sizeof b), 0);
	EQ_EV(wait_fd(s, POLLIN | POLLOUT | POLLRDHUP, 0), POLLIN | POLLOUT | POLLRDHUP);
}

/* epoll(7) edge-triggered: a partial read does not re-arm (no event while the rest waits
 * unread); the peer's FIN is a new edge, reported as EPOLLIN | EPOLLRDHUP, once. (The peer
 * connects to us, sends "hello\n" and closes when the control connection ends; our side does
 * nothing in between, so no state change of ours makes an edge.) */
static void epoll_edge_fin(void)
{
	int ls = tlisten(AF_INET, 0), ep = tepoll();
	if (ls < 0 || ep < 0)
		return;
	int c = connect_back(ls);
	if (c < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int a = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	track(a);
	TRUE(a >= 0, "accept4: %s", en(errno));
	EQ(wait_inq(a, 6), 6);
	struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &e));
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN);
	char b[16];
	EQ(read(a, b, 3), 3);
	EQ(epoll_wait(ep, out, 2, 0), 0);
	EQ(epoll_wait(ep, out, 2, 100), 0);
	untrack(c);
	OK(close(c)); /* the peer closes the connect-back connection: its FIN */
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLIN | EPOLLRDHUP);
	EQ(epoll_wait(ep, out, 2, 0), 0);
	EQ(read(a, b, sizeof b), 3);
	EQ(read(a, b, sizeof b), 0);
}

/* epoll(7) edge-triggered EPOLLOUT: a socket whose send buffer is full is not reported; once
 * the receiver drains it, EPOLLOUT comes, once. Both ends are this process (a connection to
 * our own listener), the receiving end read only when the check says so. */
static void epoll_edge_out_drain(void)
{
	int ls = tlisten(AF_INET, 0), ep = tepoll();
	int c = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (ls < 0 || ep < 0 || c < 0)
		return;
	OK(seti(c, SOL_SOCKET, SO_SNDBUF, 16384));
	OK(seti(ls, SOL_SOCKET, SO_RCVBUF, 16384));
	struct sockaddr_storage la = sockname(ls);
	int r = connect(c, (struct sockaddr *)&la, alen(&la));
	TRUE(r == 0 || errno == EINPROGRESS, "connect to ourselves: %s", en(errno));
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int a = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	track(a);
	TRUE(a >= 0, "accept4: %s", en(errno));
	EQ_EV(wait_fd(c, POLLOUT, WAIT_MS), POLLOUT);
	static unsigned char b[65536];
	memset(b, 'd', sizeof b);
	size_t sent = 0;
	/* Fill until it stays unwritable for 200 ms (acknowledgments may trail a write). */
	int i;
	for (i = 0; i < 2000; i++) {
		ssize_t w = write(c, b, sizeof b);
		if (w > 0) {
			sent += w;
			continue;
		}
		TRUE(errno == EAGAIN, "write after %zu bytes: %s", sent, en(errno));
		if (wait_fd(c, POLLOUT, 200) == 0)
			break;
	}
	TRUE(i < 2000, "the send buffer never filled (%zu bytes written)", sent);
	struct epoll_event e = {.events = EPOLLOUT | EPOLLET}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &e));
	EQ(epoll_wait(ep, out, 2, 0), 0);
	size_t got = 0;
	for (i = 0; got < sent && i < 20000; i++) {
		ssize_t n = read(a, b, sizeof b);
		if (n > 0) {
			got += n;
			continue;
		}
		TRUE(n < 0 && errno == EAGAIN, "read after %zu of %zu bytes: %zd (errno %s)", got,
		     sent, n, en(n < 0 ? errno : 0));
		TRUE(wait_fd(a, POLLIN, WAIT_MS) > 0, "no more data after %zu of %zu bytes", got,
		     sent);
	}
	EQ(got, sent);
	int q = -1;
	for (i = 0; i < 100; i++) { /* the last acknowledgment */
		OK(ioctl(c, SIOCOUTQ, &q));
		if (q == 0)
			break;
		wait_fd(c, POLLIN, 20);
	}
	EQ(q, 0);
	EQ(epoll_wait(ep, out, 2, WAIT_MS), 1);
	EQ_EV(out[0].events, EPOLLOUT);
	EQ(epoll_wait(ep, out, 2, 0), 0);
}

/* connect(2) AF_UNSPEC on UDP (Linux udp_disconnect): the association goes, and with it the
 * local address and port that connect chose for an unbound socket (getsockname 0.0.0.0:0
 * again); a socket bound to an address and port before keeps both. */
static void udp_disconnect_sockname(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM), t = ubind(AF_INET), w = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0 || t < 0 || w < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO), any = any_addr(AF_INET, 0);
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	struct sockaddr_storage sn = sockname(u);
	TRUE(port_of(&sn) != 0, "connected UDP socket has port 0");
	OK(connect(u, &un, sizeof un));
	sn = sockname(u);
	SAME_ADDR(&sn, &any, true);
	/* w bound to a port of its own (t's, taken over once t is closed) */
	struct sockaddr_storage ta = sockname(t);
	untrack(t);
	OK(close(t));
	OK(bind(w, (struct sockaddr *)&ta, alen(&ta)));
	OK(connect(w, (struct sockaddr *)&d, alen(&d)));
	OK(connect(w, &un, sizeof un));
	sn = sockname(w);
	SAME_ADDR(&sn, &ta, true);
	EQ(sendto(w, "k", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	EQ_EV(wait_fd(w, POLLIN, WAIT_MS), POLLIN);
}

/* connect(2) AF_UNSPEC: an address of just the family (sizeof(sa_family_t)) is enough; a
 * shorter one is EINVAL. On a TCP socket never connected it succeeds and changes nothing: the
 * socket connects afterwards as usual. */
static void sock_connect_unspec_short(void)
{
	int s = tsock(AF_INET, SOCK_STREAM), u = tsock(AF_INET, SOCK_DGRAM);
	if (s < 0 || u < 0)
		return;
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	ERR(connect(s, &un, 1), EINVAL);
	OK(connect(s, &un, sizeof(sa_family_t)));
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	EQ(write(s, "un", 2), 2);
	char b[2];
	EQ(read_n(s, b, 2), 2);
	struct sockaddr_storage e = with_port(&peer4, PORT_UDPECHO), ss;
	OK(connect(u, (struct sockaddr *)&e, alen(&e)));
	ERR(connect(u, &un, 1), EINVAL);
	OK(connect(u, &un, sizeof(sa_family_t)));
	socklen_t l = sizeof ss;
	ERR(getpeername(u, (struct sockaddr *)&ss, &l), ENOTCONN);
}

/* A zero-length UDP datagram (udp(7), recvmsg(2)): readable, FIONREAD 0 (the next datagram's
 * size), recvmsg returns 0 with no MSG_TRUNC and the sender's address, and it is consumed. A
 * non-empty datagram into a zero-length buffer: 0 returned, MSG_TRUNC set, consumed; recv
 * with MSG_TRUNC and no buffer returns its real length. */
static void udp_zero_length_recvmsg(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO), from;
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "", 0, 0), 0);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	int q = -1;
	OK(ioctl(u, FIONREAD, &q));
	EQ(q, 0);
	char b[16];
	struct iovec v = {b, sizeof b};
	memset(&from, 0, sizeof from);
	struct msghdr m = {.msg_name = &from,
			   .msg_namelen = sizeof from,
			   .msg_iov = &v,
			   .msg_iovlen = 1,
			   .msg_flags = -1};
	EQ(recvmsg(u, &m, 0), 0);
	EQ(m.msg_flags, 0);
	EQ(m.msg_namelen, sizeof(struct sockaddr_in));
	SAME_ADDR(&from, &d, true);
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	EQ(send(u, "fives", 5, 0), 5);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	v.iov_len = 0;
	m = (struct msghdr){.msg_iov = &v, .msg_iovlen = 1};
	EQ(recvmsg(u, &m, 0), 0);
	TRUE(m.msg_flags & MSG_TRUNC, "msg_flags %#x lacks MSG_TRUNC", m.msg_flags);
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	EQ(send(u, "fives", 5, 0), 5);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(u, NULL, 0, MSG_TRUNC), 5);
	ERR(recv(u, b, sizeof b, MSG_DONTWAIT), EAGAIN);
}

/* The peer sends data, then an RST: the data received before the RST is still read first
 * (FIONREAD counts it), then recv fails ECONNRESET once, then end of stream. poll: readable,
 * error, hang-up. */
static void tcp_peer_rst_after_data(void)
{
	int s = tconnect(AF_INET, PORT_DATARST);
	if (s < 0)
		return;
	int ev = 0;
	for (int i = 0; i < 100 && !(ev & POLLERR); i++) { /* the RST comes 0.2 s after the data */
		ev = wait_fd(s, POLLIN, WAIT_MS);
		if (!(ev & POLLERR))
			poll(NULL, 0, 20);
	}
	EQ_EV(ev, POLLIN | POLLERR | POLLHUP);
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 5);
	char b[16] = {0};
	EQ(recv(s, b, sizeof b, 0), 5);
	TRUE(!memcmp(b, "data\n", 5), "read '%.5s'", b);
	ERR(recv(s, b, sizeof b, 0), ECONNRESET);
	EQ(recv(s, b, sizeof b, 0), 0);
}

/* send(2) EPIPE: "the local end has been shut down ... the process also receives a SIGPIPE
 * unless MSG_NOSIGNAL is set". After the peer's RST the first write reports the reset
 * (ECONNRESET, no signal); the next is EPIPE with SIGPIPE; with MSG_NOSIGNAL EPIPE alone. */
static void tcp_peer_rst_sigpipe(void)
{
	int s = tconnect(AF_INET, PORT_RST);
	if (s < 0)
		return;
	int ev = wait_fd(s, POLLIN, WAIT_MS);
	TRUE(ev & POLLERR, "no POLLERR after the peer's RST (revents %#x)", ev);
	int before = sigpipes;
	ERR(write(s, "x", 1), ECONNRESET);
	EQ(sigpipes - before, 0);
	ERR(write(s, "x", 1), EPIPE);
	EQ(sigpipes - before, 1);
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	EQ(sigpipes - before, 1);
}

/* listen(2): backlog 0 still lets a connection wait to be accepted (Linux queues backlog + 1);
 * a negative backlog is no error (the argument is taken as unsigned, capped at somaxconn). */
static void tcp_listen_backlog_zero(void)
{
	const int backlogs[] = {0, -1};
	for (int k = 0; k < 2; k++) {
		int ls = tsock(AF_INET, SOCK_STREAM);
		if (ls < 0)
			return;
		struct sockaddr_storage a = with_port(&local4, 0);
		OK(bind(ls, (struct sockaddr *)&a, alen(&a)));
		OK(listen(ls, backlogs[k]));
		EQ(geti(ls, SOL_SOCKET, SO_ACCEPTCONN), 1);
		if (connect_back(ls) < 0)
			return;
		EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
		int s = accept(ls, NULL, NULL);
		track(s);
		TRUE(s >= 0, "accept (backlog %d): %s", backlogs[k], en(errno));
		char b[8];
		EQ(read_n(s, b, 6), 6);
	}
}

/* readv(2) / writev(2): zero-length iovecs are skipped; a vector of only those, or none
 * (iovcnt 0), transfers nothing and returns 0 at once; a negative iovcnt is EINVAL. */
static void tcp_iov_zero(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	/* a bound on each call: a read that waits fails EAGAIN within 1 s instead of hanging */
	struct timeval tv = {1, 0};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char x[4], y[8] = {0};
	struct iovec z[2] = {{x, 0}, {NULL, 0}};
	EQ(writev(s, z, 2), 0);
	EQ(writev(s, z, 0), 0);
	ERR(writev(s, z, -1), EINVAL);
	EQ(readv(s, z, 2), 0); /* nothing there: still 0 at once */
	EQ(readv(s, z, 0), 0);
	ERR(readv(s, z, -1), EINVAL);
	struct msghdr m = {.msg_iov = z, .msg_iovlen = 0};
	EQ(sendmsg(s, &m, MSG_NOSIGNAL), 0);
	EQ(write(s, "abc", 3), 3);
	EQ(wait_inq(s, 3), 3);
	struct iovec r[3] = {{x, 0}, {y, 3}, {x, 4}};
	EQ(readv(s, r, 3), 3);
	TRUE(!memcmp(y, "abc", 3), "readv put '%.3s' in the second iovec", y);
}

/* udp(7) FIONREAD: "the size of the next pending datagram", not the sum of those queued:
 * with 100-, 200- and 300-byte datagrams waiting it says 100, then 200, then 300. */
static void udp_fionread_several(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	static char b[300];
	memset(b, 'f', sizeof b);
	const int len[3] = {100, 200, 300};
	for (int i = 0; i < 3; i++)
		EQ(send(u, b, len[i], 0), len[i]);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	poll(NULL, 0, 300); /* the other two echoes come in meanwhile */
	for (int i = 0; i < 3; i++) {
		EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
		int q = -1;
		OK(ioctl(u, FIONREAD, &q));
		EQ(q, len[i]);
		EQ(recv(u, b, sizeof b, 0), len[i]);
	}
}

/* getsockopt(2): optlen is value-result. Linux copies min(optlen, sizeof(int)) bytes of an
 * int option and sets optlen to that (sock_getsockopt, do_tcp_getsockopt); an IP-level one
 * asked with a shorter buffer comes as one byte, optlen 1 (do_ip_getsockopt); optlen 0
 * copies nothing. */
static void sock_getsockopt_short(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	unsigned char b[4];
	socklen_t l;
#define SHORT_GET(level, opt, len, wantlen, want)                                                  \
	do {                                                                                       \
		memset(b, 0xee, sizeof b);                                                         \
		l = len;                                                                           \
		OK(getsockopt(s, level, opt, b, &l));                                              \
		TRUE(l == wantlen, "getsockopt(%s, optlen %d): optlen %u back, expected %d", #opt, \
		     len, (unsigned)l, wantlen);                                                   \
		TRUE(!wantlen || b[0] == want,                                                     \
		     "getsockopt(%s, optlen %d): first byte %d, "                                  \
		     "expected %d",                                                                \
		     #opt, len, b[0], want);                                                       \
		TRUE(b[wantlen] == 0xee, "getsockopt(%s, optlen %d) wrote past %d bytes", #opt,    \
		     len, wantlen);                                                                \
	} while (0)
	SHORT_GET(SOL_SOCKET, SO_TYPE, 1, 1, SOCK_STREAM);
	SHORT_GET(SOL_SOCKET, SO_TYPE, 0, 0, 0);
	SHORT_GET(SOL_SOCKET, SO_TYPE, 2, 2, SOCK_STREAM);
	OK(seti(s, IPPROTO_TCP, TCP_NODELAY, 1));
	SHORT_GET(IPPROTO_TCP, TCP_NODELAY, 1, 1, 1);
	SHORT_GET(IPPROTO_IP, IP_TTL, 1, 1, 64);
	SHORT_GET(IPPROTO_IP, IP_TTL, 2, 1, 64);
#undef SHORT_GET
}

/* getsockopt(2) EINVAL "optlen invalid": an optlen that is negative as an int (Linux reads
 * it as int and refuses len < 0) at the socket and IP levels. */
static void sock_getsockopt_negative_len(void)
{
	int s = tsock(AF_INET, SOCK_STREAM);
	if (s < 0)
		return;
	int v;
	socklen_t l = (socklen_t)-1;
	ERR(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l), EINVAL);
	l = (socklen_t)-1;
	ERR(getsockopt(s, IPPROTO_IP, IP_TTL, &v, &l), EINVAL);
}

/* ip(7) IP_PKTINFO, ipv6(7) IPV6_RECVPKTINFO: set on a UDP socket bound to the wildcard,
 * recvmsg gets an IP_PKTINFO (IPV6_PKTINFO) control message whose address is the datagram's
 * destination (our address) and whose index is its interface (what a DNS server answers
 * from); the option reads back. */
static void pktinfo_arrives(int fam)
{
	bool v4 = fam == AF_INET;
	int level = v4 ? IPPROTO_IP : IPPROTO_IPV6, opt = v4 ? IP_PKTINFO : IPV6_RECVPKTINFO;
	int type = v4 ? IP_PKTINFO : IPV6_PKTINFO;
	int u = tsock(fam, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage a = any_addr(fam, 0), d = with_port(P(fam), PORT_UDPECHO);
	OK(bind(u, (struct sockaddr *)&a, alen(&a)));
	EQ(geti(u, level, opt), 0);
	OK(seti(u, level, opt, 1));
	EQ(geti(u, level, opt), 1);
	EQ(sendto(u, "pk", 2, 0, (struct sockaddr *)&d, alen(&d)), 2);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[8];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
		struct cmsghdr align;
	} cm;
	struct iovec v = {b, sizeof b};
	struct msghdr m = {
	    .msg_iov = &v, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
	EQ(recvmsg(u, &m, 0), 2);
	EQ(m.msg_flags & MSG_CTRUNC, 0);
	const unsigned char *pi = NULL;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == level && c->cmsg_type == type)
			pi = CMSG_DATA(c);
	TRUE(pi, "no PKTINFO control message (msg_controllen %zu)", (size_t)m.msg_controllen);
	struct sockaddr_storage got = any_addr(fam, 0);
	int ifindex;
	if (v4) {
		struct in_pktinfo p4;
		memcpy(&p4, pi, sizeof p4);
		((struct sockaddr_in *)&got)->sin_addr = p4.ipi_addr;
		ifindex = p4.ipi_ifindex;
	} else {
		struct in6_pktinfo p6;
		memcpy(&p6, pi, sizeof p6);
		((struct sockaddr_in6 *)&got)->sin6_addr = p6.ipi6_addr;
		ifindex = (int)p6.ipi6_ifindex;
	}
	SAME_ADDR(&got, L(fam), false);
	TRUE(ifindex > 0, "interface index %d", ifindex);
}

static void udp_pktinfo(void)
{
	pktinfo_arrives(AF_INET);
}

static void udp6_recvpktinfo(void)
{
	pktinfo_arrives(AF_INET6);
}

/* ipv6(7) IPV6_V6ONLY: a v6-only UDP socket cannot send to a v4-mapped address (ENETUNREACH,
 * udpv6_sendmsg) nor bind to one (EINVAL, inet6_bind); the option cannot change once the
 * socket is bound (EINVAL). */
static void v6_v6only_errors(void)
{
	int u = tsock(AF_INET6, SOCK_DGRAM), t = tsock(AF_INET6, SOCK_STREAM);
	int b = tsock(AF_INET6, SOCK_STREAM);
	if (u < 0 || t < 0 || b < 0)
		return;
	OK(seti(u, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	struct sockaddr_storage d = with_port(&peer4mapped, PORT_UDPECHO);
	ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&d, alen(&d)), ENETUNREACH);
	OK(seti(t, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	struct sockaddr_storage m = with_port(&local4mapped, 0);
	ERR(bind(t, (struct sockaddr *)&m, alen(&m)), EINVAL);
	struct sockaddr_storage any = any_addr(AF_INET6, 0);
	OK(bind(b, (struct sockaddr *)&any, alen(&any)));
	ERR(seti(b, IPPROTO_IPV6, IPV6_V6ONLY, 1), EINVAL);
	EQ(geti(b, IPPROTO_IPV6, IPV6_V6ONLY), 0);
}

/* connect(2): after a failed attempt (ECONNREFUSED) the socket is unconnected and may connect
 * again, blocking or not. */
static void tcp_connect_after_refused(void)
{
	int s = tsock(AF_INET, SOCK_STREAM), n = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0 || n < 0)
		return;
	struct sockaddr_storage none = with_port(&peer4, PORT_NONE),
				echo = with_port(&peer4, PORT_ECHO);
	ERR(connect(s, (struct sockaddr *)&none, alen(&none)), ECONNREFUSED);
	OK(connect(s, (struct sockaddr *)&echo, alen(&echo)));
	EQ(write(s, "again", 5), 5);
	char b[8];
	EQ(read_n(s, b, 5), 5);
	ERR(connect(n, (struct sockaddr *)&none, alen(&none)), EINPROGRESS);
	int ev = wait_fd(n, POLLOUT, WAIT_MS);
	TRUE(ev & POLLERR, "poll: no POLLERR (revents %#x)", ev);
	ERR(connect(n, (struct sockaddr *)&none, alen(&none)), ECONNREFUSED);
	ERR(connect(n, (struct sockaddr *)&echo, alen(&echo)), EINPROGRESS);
	EQ_EV(wait_fd(n, POLLOUT, WAIT_MS), POLLOUT);
	EQ(geti(n, SOL_SOCKET, SO_ERROR), 0);
	EQ(write(n, "again", 5), 5);
	EQ(read_n(n, b, 5), 5);
}

/* socket(7) SO_REUSEPORT on UDP: sockets that all set it bind the same address and port; one
 * without it is refused (EADDRINUSE). */
static void udp_reuseport(void)
{
	int a = tsock(AF_INET, SOCK_DGRAM), b = tsock(AF_INET, SOCK_DGRAM);
	int c = tsock(AF_INET, SOCK_DGRAM);
	if (a < 0 || b < 0 || c < 0)
		return;
	OK(seti(a, SOL_SOCKET, SO_REUSEPORT, 1));
	OK(seti(b, SOL_SOCKET, SO_REUSEPORT, 1));
	struct sockaddr_storage z = with_port(&local4, 0);
	OK(bind(a, (struct sockaddr *)&z, alen(&z)));
	z = sockname(a);
	OK(bind(b, (struct sockaddr *)&z, alen(&z)));
	ERR(bind(c, (struct sockaddr *)&z, alen(&z)), EADDRINUSE);
}

/* recvfrom(2) with an address buffer on a connected TCP socket: the data, and *addrlen set to
 * 0 (a stream socket gives no source address). */
static void tcp_recvfrom_addr(void)
{
	int s = echo_with_data(3);
	if (s < 0)
		return;
	struct sockaddr_storage from;
	memset(&from, 0xee, sizeof from);
	socklen_t fl = sizeof from;
	char b[8];
	EQ(recvfrom(s, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 3);
	EQ(fl, 0);
}

/* ---- half-close, linger, waits that end early, queues, datagram corners ---- */

/* RFC 9293 3.6 (a half-open direction), shutdown(2): the peer shut down its sending side (its
 * FIN): we read the end of the stream, and our direction stays open: all we write afterwards
 * reaches the peer, then our FIN ends its stream in order. (PORT_HALF: "hi\n", then its
 * FIN, then it reads and records what came.) */
static void tcp_peer_half_close(void)
{
	int s = tconnect(AF_INET, PORT_HALF);
	if (s < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(s)});
	char h[4] = {0};
	EQ(read_n(s, h, 3), 3);
	TRUE(!memcmp(h, "hi\n", 3), "greeting '%s'", h);
	EQ(read_n(s, h, 1), 0);
	EQ(errno, 0); /* EOF, not a timeout */
	EQ(read(s, h, 1), 0);
	static unsigned char b[300000];
	pattern(b, sizeof b, 31);
	EQ(write(s, b, 1000), 1000);
	EQ(write(s, b + 1000, sizeof b - 1000), sizeof b - 1000);
	OK(shutdown(s, SHUT_WR));
	OBSERVED(port, "eof %zu %u", sizeof b, crc32(b, sizeof b));
}

/* shutdown(2) SHUT_WR: "further transmissions will be disallowed", receptions go on: the
 * request, then our FIN at once, then 3 MB from the peer, every byte in order, then its FIN. */
static void tcp_shut_wr_then_read(void)
{
	enum { N = 3000000 };
	static unsigned char b[N + 16];
	int s = tconnect(AF_INET, PORT_SENDN);
	if (s < 0)
		return;
	EQ(write(s, "3000000\n", 8), 8);
	OK(shutdown(s, SHUT_WR));
	EQ(read_n(s, b, N + 16), N);
	EQ(errno, 0); /* the peer's FIN after the last byte, not a timeout */
	TRUE(is_sendn_pattern(b, N, 0), "the 3 MB differ from what the peer sent");
	EQ(read(s, b, 1), 0);
}

/* socket(7) SO_LINGER: "a close(2) or shutdown(2) will not return until all queued messages
 * for the socket have been successfully sent or the linger timeout has been reached". A peer
 * that never reads (the connect-back connection): close with {1, 1} and megabytes unsent waits
 * the second out (a lower bound only), then returns 0 (Linux leaves the rest to the
 * background). A peer that reads (the observer): close with {1, 5} returns before the timeout,
 * everything delivered, then the FIN (no RST). */
static void tcp_linger_close(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	track(s);
	TRUE(s >= 0, "accept4: %s", en(errno));
	char h[8];
	EQ(read_n(s, h, 6), 6); /* "hello\n": unread, the close would be an RST (RFC 2525 2.17) */
	static unsigned char b[1 << 20];
	memset(b, 'l', sizeof b);
	ssize_t w = 0;
	for (int i = 0; i < 64 && (w = write(s, b, sizeof b)) > 0; i++)
		;
	TRUE(w < 0 && errno == EAGAIN, "the send buffer did not fill (write %zd, errno %s)", w,
	     en(errno));
	OK(fcntl(s, F_SETFL, 0));
	struct linger l = {1, 1};
	OK(setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l));
	double t0 = now_s();
	untrack(s);
	OK(close(s));
	double dt = now_s() - t0;
	TRUE(dt >= 0.8, "close with SO_LINGER {1, 1} and data unsent returned after %.3f s", dt);
	int o = observed(true);
	if (o < 0)
		return;
	int port = port_of((struct sockaddr_storage[]){sockname(o)});
	static unsigned char d[256 * 1024];
	pattern(d, sizeof d, 41);
	EQ(write(o, d, sizeof d), sizeof d);
	l = (struct linger){1, 5};
	OK(setsockopt(o, SOL_SOCKET, SO_LINGER, &l, sizeof l));
	t0 = now_s();
	untrack(o);
	OK(close(o));
	dt = now_s() - t0;
	TRUE(dt < 4.5, "close with SO_LINGER {1, 5}, the peer reading, took %.3f s", dt);
	OBSERVED(port, "eof %zu %u", sizeof d, crc32(d, sizeof d));
}

/* socket(7) SO_SNDBUF / SO_RCVBUF set small before connect (4 KiB asked, 8 KiB as the kernel
 * doubles it): 4 MiB through the echo both ways, a window of a few KiB, with a non-blocking socket
 * and a level-triggered epoll loop; every byte comes back in order, then the echo's FIN. */
static void tcp_echo_small_bufs(void)
{
	enum { N = 4 << 20 };
	static unsigned char o[N], in[N];
	int s = tsock(AF_INET, SOCK_STREAM), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	OK(seti(s, SOL_SOCKET, SO_SNDBUF, 4096));
	OK(seti(s, SOL_SOCKET, SO_RCVBUF, 4096));
	struct sockaddr_storage d = with_port(&peer4, PORT_ECHO);
	OK(connect(s, (struct sockaddr *)&d, alen(&d)));
	OK(fcntl(s, F_SETFL, O_NONBLOCK));
	pattern(o, N, 51);
	memset(in, 0, N);
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT}, out[2];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	size_t sent = 0, got = 0;
	bool eof = false;
	for (int i = 0; !eof && i < 1000000; i++) {
		int n = epoll_wait(ep, out, 2, WAIT_MS);
		TRUE(n == 1, "epoll_wait: %d after %zu sent, %zu echoed (errno %s)", n, sent, got,
		     en(errno));
		/* EPOLLHUP only once both directions are shut: ours, and the echo's FIN */
		TRUE(!(out[0].events & EPOLLERR) && (sent == N || !(out[0].events & EPOLLHUP)),
		     "events %#x (sent %zu, got %zu)", out[0].events, sent, got);
		if ((out[0].events & EPOLLOUT) && sent < N) {
			size_t k = N - sent < 65536 ? N - sent : 65536;
			ssize_t w = write(s, o + sent, k);
			TRUE(w > 0 || errno == EAGAIN, "write: %zd (errno %s)", w, en(errno));
			if (w > 0)
				sent += w;
			if (sent == N) {
				OK(shutdown(s, SHUT_WR));
				e.events = EPOLLIN;
				OK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &e));
			}
		}
		if (out[0].events & EPOLLIN) {
			unsigned char extra[16];
			size_t k = N - got < 65536 ? N - got : 65536;
			ssize_t r = k ? read(s, in + got, k) : read(s, extra, sizeof extra);
			TRUE(r >= 0 || errno == EAGAIN, "read: %zd (errno %s)", r, en(errno));
			TRUE(k || r <= 0, "%zd bytes more than were sent", r);
			if (r == 0)
				eof = true;
			else if (r > 0)
				got += r;
		}
	}
	TRUE(eof, "no end of stream (sent %zu, echoed %zu)", sent, got);
	EQ(got, N);
	TRUE(!memcmp(o, in, N), "the echoed 4 MiB differ (hash %016llx, sent %016llx)",
	     (unsigned long long)fnv1a(in, N), (unsigned long long)fnv1a(o, N));
}

/* recv(2) MSG_PEEK | MSG_WAITALL: the peek waits, as a read would, for the whole amount (Linux
 * tcp_recvmsg keeps its target with MSG_PEEK), and consumes nothing; the bytes peeked before
 * count, and a read then returns them all. The drip peer: "ab", 0.3 s later "cdefg". */
static void tcp_peek_waitall(void)
{
	int s = tconnect(AF_INET, PORT_DRIP);
	if (s < 0)
		return;
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[16] = {0};
	EQ_EV(wait_fd(s, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(s, b, sizeof b, MSG_PEEK), 2);
	EQ(recv(s, b, 7, MSG_PEEK | MSG_WAITALL), 7);
	TRUE(!memcmp(b, "abcdefg", 7), "peeked '%s'", b);
	int q = -1;
	OK(ioctl(s, FIONREAD, &q));
	EQ(q, 7);
	memset(b, 0, sizeof b);
	EQ(recv(s, b, sizeof b, 0), 7);
	TRUE(!memcmp(b, "abcdefg", 7), "read '%s'", b);
}

/* recv(2) MSG_DONTWAIT on a blocking socket while the peer drips: what has come, at once; then
 * EAGAIN without waiting for the rest; the socket stays blocking, and a plain recv waits for
 * the rest. The drip peer: "ab", 0.3 s later "cdefg". */
static void tcp_dontwait_drip(void)
{
	int s = tconnect(AF_INET, PORT_DRIP);
	if (s < 0)
		return;
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[16] = {0};
	EQ_EV(wait_fd(s, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(s, b, sizeof b, MSG_DONTWAIT), 2);
	ERR(recv(s, b, sizeof b, MSG_DONTWAIT), EAGAIN);
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, 0);
	EQ(recv(s, b + 2, sizeof b - 2, 0), 5);
	TRUE(!memcmp(b, "abcdefg", 7), "read '%s'", b);
	ERR(recv(s, b, sizeof b, MSG_DONTWAIT), EAGAIN);
}

/* recv(2) MSG_WAITALL "may still return less data than requested if ... an error or
 * disconnect occurs": the peer's RST ends the wait with the bytes that came before it; the next
 * recv reports the reset (ECONNRESET), then the end of the stream. (PORT_DATARST: "data\n",
 * 0.2 s later the RST.) */
static void tcp_waitall_rst(void)
{
	int s = tconnect(AF_INET, PORT_DATARST);
	if (s < 0)
		return;
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[128] = {0};
	EQ(recv(s, b, 100, MSG_WAITALL), 5);
	TRUE(!memcmp(b, "data\n", 5), "read '%s'", b);
	ERR(recv(s, b, 100, 0), ECONNRESET);
	EQ(recv(s, b, 100, 0), 0);
}

/* socket(7) SO_RCVTIMEO: "If the timeout expires ... the partial count is returned" when some
 * data was transferred: a MSG_WAITALL recv of 7 bytes with a 150 ms timeout returns the 2 that
 * came, after the timeout; a later one gets the rest. The drip peer: "ab", 0.3 s later "cdefg". */
static void tcp_waitall_rcvtimeo(void)
{
	int s = tconnect(AF_INET, PORT_DRIP);
	if (s < 0)
		return;
	struct timeval tv = {.tv_usec = 150000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[16] = {0};
	EQ(recv(s, b, 7, MSG_WAITALL), 2);
	tv = (struct timeval){.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	EQ(recv(s, b + 2, 5, MSG_WAITALL), 5);
	TRUE(!memcmp(b, "abcdefg", 7), "read '%s'", b);
}

/* accept(2) "extracts the first connection request on the queue of pending connections": three
 * connections completed one after the other are accepted in that order (each accepted socket's
 * peer is the next client, and carries that client's byte), then EAGAIN on the non-blocking
 * listener. Both ends are this process. */
static void tcp_accept_order(void)
{
	int ls = tlisten(AF_INET, SOCK_NONBLOCK);
	if (ls < 0)
		return;
	struct sockaddr_storage la = sockname(ls), cn[3];
	for (int i = 0; i < 3; i++) {
		int c = connect_to(&la, SOCK_STREAM);
		if (c < 0)
			return;
		cn[i] = sockname(c);
		char x = 'A' + i;
		EQ(write(c, &x, 1), 1);
	}
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	for (int i = 0; i < 3; i++) {
		struct sockaddr_storage from;
		memset(&from, 0, sizeof from);
		socklen_t fl = sizeof from;
		int a = accept(ls, (struct sockaddr *)&from, &fl);
		track(a);
		TRUE(a >= 0, "accept %d: %s", i, en(errno));
		SAME_ADDR(&from, &cn[i], true);
		char x = 0;
		EQ(read_n(a, &x, 1), 1);
		EQ(x, 'A' + i);
	}
	ERR(accept(ls, NULL, NULL), EAGAIN);
}

/* After a connect refused (tcp(7), connect(2)): the first call on the socket reports the error
 * (a send or a recv, once: it is the pending SO_ERROR); then the socket is closed both ways: recv
 * returns 0 (end of stream), send is EPIPE (SIGPIPE without MSG_NOSIGNAL), getpeername ENOTCONN. */
static void tcp_io_after_refused(void)
{
	int s = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK),
	    t = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0 || t < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_NONE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	ERR(connect(t, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	TRUE(wait_fd(s, POLLOUT, WAIT_MS) & POLLERR, "no POLLERR on the refused connect");
	TRUE(wait_fd(t, POLLOUT, WAIT_MS) & POLLERR, "no POLLERR on the refused connect");
	ERR(send(s, "x", 1, MSG_NOSIGNAL), ECONNREFUSED);
	EQ(geti(s, SOL_SOCKET, SO_ERROR), 0);
	ERR(send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
	char b[4];
	EQ(recv(s, b, sizeof b, 0), 0);
	int before = sigpipes;
	ERR(write(s, "x", 1), EPIPE);
	EQ(sigpipes - before, 1);
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	ERR(getpeername(s, (struct sockaddr *)&ss, &l), ENOTCONN);
	ERR(recv(t, b, sizeof b, 0), ECONNREFUSED);
	EQ(geti(t, SOL_SOCKET, SO_ERROR), 0);
	EQ(recv(t, b, sizeof b, 0), 0);
	ERR(send(t, "x", 1, MSG_NOSIGNAL), EPIPE);
}

/* epoll_ctl(2): EPOLLERR and EPOLLHUP are always reported, "it is not necessary to set [them]
 * in events": an entry with events 0 reports nothing for a socket with data to read and room to
 * write, and EPOLLERR | EPOLLHUP once the peer's RST has come (level-triggered: again). poll(2)
 * with events 0 on the ready socket: nothing either. */
static void epoll_events_zero(void)
{
	int s = echo_with_data(4), ep = tepoll();
	if (s < 0 || ep < 0)
		return;
	struct epoll_event e = {.events = 0, .data.u64 = 8}, out[4];
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &e));
	EQ(epoll_wait(ep, out, 4, 100), 0);
	struct pollfd p = {.fd = s, .events = 0};
	EQ(poll(&p, 1, 0), 0);
	EQ_EV(p.revents, 0);
	int r = tconnect(AF_INET, PORT_RST);
	if (r < 0)
		return;
	TRUE(wait_fd(r, POLLIN, WAIT_MS) & POLLERR, "no POLLERR after the peer's RST");
	e.data.u64 = 9;
	OK(epoll_ctl(ep, EPOLL_CTL_ADD, r, &e));
	EQ(epoll_wait(ep, out, 4, WAIT_MS), 1);
	EQ(out[0].data.u64, 9);
	EQ_EV(out[0].events, EPOLLERR | EPOLLHUP);
	EQ(epoll_wait(ep, out, 4, 0), 1);
	EQ_EV(out[0].events, EPOLLERR | EPOLLHUP);
}

/* select(2): a non-blocking connect that is refused makes the socket readable and writable (an
 * error is ready for both: Linux's POLLIN_SET and POLLOUT_SET hold POLLERR), not exceptional
 * (exceptfds is for urgent data); SO_ERROR then says why. */
static void select_refused_connect(void)
{
	int s = tsock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (s < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_NONE);
	ERR(connect(s, (struct sockaddr *)&d, alen(&d)), EINPROGRESS);
	fd_set r, w, x;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	FD_SET(s, &w);
	FD_SET(s, &x);
	struct timeval tv = {WAIT_MS / 1000, 0};
	EQ(select(s + 1, NULL, &w, &x, &tv), 1);
	TRUE(FD_ISSET(s, &w) && !FD_ISSET(s, &x), "write set %d, except set %d", FD_ISSET(s, &w),
	     FD_ISSET(s, &x));
	FD_ZERO(&w);
	FD_SET(s, &r);
	FD_SET(s, &w);
	FD_SET(s, &x);
	tv = (struct timeval){0, 0};
	EQ(select(s + 1, &r, &w, &x, &tv), 2);
	TRUE(FD_ISSET(s, &r) && FD_ISSET(s, &w) && !FD_ISSET(s, &x),
	     "sets: read %d write %d except %d", FD_ISSET(s, &r), FD_ISSET(s, &w), FD_ISSET(s, &x));
	EQ(geti(s, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
}

/* select(2) over a listener and connected sockets together: the listener is in the read set
 * when a connection is pending, a socket when it has data; a listener is never writable (poll:
 * POLLIN alone even with POLLOUT asked, nothing when idle: Linux inet_csk_listen_poll). */
static void select_listener_and_conn(void)
{
	int ls = tlisten(AF_INET, 0), s = echo_with_data(3);
	if (ls < 0 || s < 0)
		return;
	EQ(wait_fd(ls, POLLIN | POLLOUT, 0), 0);
	if (connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN | POLLOUT, WAIT_MS), POLLIN);
	int nfds = (ls > s ? ls : s) + 1;
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(ls, &r);
	FD_SET(s, &r);
	FD_SET(ls, &w);
	FD_SET(s, &w);
	struct timeval tv = {WAIT_MS / 1000, 0};
	EQ(select(nfds, &r, &w, NULL, &tv), 3);
	TRUE(FD_ISSET(ls, &r) && FD_ISSET(s, &r) && FD_ISSET(s, &w) && !FD_ISSET(ls, &w),
	     "read set: listener %d socket %d; write set: listener %d socket %d", FD_ISSET(ls, &r),
	     FD_ISSET(s, &r), FD_ISSET(ls, &w), FD_ISSET(s, &w));
	int a = accept(ls, NULL, NULL);
	track(a);
	TRUE(a >= 0, "accept: %s", en(errno));
	char b[4];
	EQ(read(s, b, 3), 3);
	EQ_EV(wait_fd(a, POLLIN, WAIT_MS), POLLIN); /* "hello\n" */
	nfds = (nfds > a ? nfds : a + 1);
	FD_ZERO(&r);
	FD_SET(ls, &r);
	FD_SET(s, &r);
	FD_SET(a, &r);
	tv = (struct timeval){0, 100000};
	EQ(select(nfds, &r, NULL, NULL, &tv), 1);
	TRUE(FD_ISSET(a, &r) && !FD_ISSET(ls, &r) && !FD_ISSET(s, &r),
	     "read set: listener %d socket %d accepted %d", FD_ISSET(ls, &r), FD_ISSET(s, &r),
	     FD_ISSET(a, &r));
}

/* socket(7) SO_RCVBUF bounds the datagrams queued (RFC 768: no delivery guarantee; a datagram
 * that does not fit is dropped). With the smallest buffer, of two 8000-byte datagrams the echo
 * sends back at once the first is queued (Linux takes a datagram into an empty queue whatever
 * its size: __udp_enqueue_schedule_skb) and the second is dropped; once the queue is read, the
 * next datagram is queued again. */
static void udp_rcvbuf_drop(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	OK(seti(u, SOL_SOCKET, SO_RCVBUF, 1));
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	static unsigned char a[8000], b[8000], in[9000];
	pattern(a, sizeof a, 61);
	pattern(b, sizeof b, 62);
	EQ(send(u, a, sizeof a, 0), sizeof a);
	EQ(send(u, b, sizeof b, 0), sizeof b);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	/* The second datagram's time to come while the first is queued: 300 ms of polls of the
	 * socket, so that a stack the program's calls drive (sluice exec's) takes its fragments
	 * in then too, as the kernel does in the background. */
	for (int i = 0; i < 30; i++) {
		wait_fd(u, POLLIN, 0);
		poll(NULL, 0, 10);
	}
	EQ(recv(u, in, sizeof in, MSG_DONTWAIT), sizeof a);
	TRUE(!memcmp(in, a, sizeof a), "the datagram queued is not the first");
	ERR(recv(u, in, sizeof in, MSG_DONTWAIT), EAGAIN);
	EQ(send(u, "c", 1, 0), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(u, in, sizeof in, MSG_DONTWAIT), 1);
}

/* recvfrom(2) with src_addr NULL: no address is written and the kernel leaves a non-NULL
 * addrlen untouched (Linux __sys_recvfrom writes it only with a buffer); recvmsg with msg_name
 * NULL leaves msg_namelen alone likewise. */
static void udp_recv_null_addr(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	EQ(sendto(u, "one", 3, 0, (struct sockaddr *)&d, alen(&d)), 3);
	EQ(sendto(u, "two", 3, 0, (struct sockaddr *)&d, alen(&d)), 3);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[8] = {0};
	socklen_t l = 77;
	EQ(recvfrom(u, b, sizeof b, 0, NULL, &l), 3);
	EQ(l, 77);
	TRUE(!memcmp(b, "one", 3), "got '%s'", b);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	struct iovec v = {b, sizeof b};
	struct msghdr m = {.msg_name = NULL, .msg_namelen = 55, .msg_iov = &v, .msg_iovlen = 1};
	EQ(recvmsg(u, &m, 0), 3);
	EQ(m.msg_namelen, 55);
	TRUE(!memcmp(b, "two", 3), "got '%s'", b);
}

/* ipv6(7): an AF_INET6 datagram socket takes an AF_INET address too (Linux udpv6_sendmsg and
 * __ip6_datagram_connect hand it to IPv4): sendto a sockaddr_in reaches the IPv4 peer, whose
 * answer comes from ::ffff:a.b.c.d, and connect to one connects (getpeername: the mapped
 * address). With IPV6_V6ONLY: ENETUNREACH and EAFNOSUPPORT. A stream socket refuses one
 * (tcp_v6_connect: EINVAL, shorter than a sockaddr_in6; EAFNOSUPPORT at that length). */
static void v6_inet_addr(void)
{
	int u = tsock(AF_INET6, SOCK_DGRAM), c = tsock(AF_INET6, SOCK_DGRAM),
	    v = tsock(AF_INET6, SOCK_DGRAM), t = tsock(AF_INET6, SOCK_STREAM);
	if (u < 0 || c < 0 || v < 0 || t < 0)
		return;
	struct sockaddr_storage d4 = with_port(&peer4, PORT_UDPECHO),
				m4 = with_port(&peer4mapped, PORT_UDPECHO);
	EQ(sendto(u, "4", 1, 0, (struct sockaddr *)&d4, sizeof(struct sockaddr_in)), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	socklen_t fl = sizeof from;
	char b[4];
	EQ(recvfrom(u, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 1);
	EQ(fl, sizeof(struct sockaddr_in6));
	SAME_ADDR(&from, &m4, true);
	OK(connect(c, (struct sockaddr *)&d4, sizeof(struct sockaddr_in)));
	struct sockaddr_storage pn = peername(c);
	SAME_ADDR(&pn, &m4, true);
	EQ(send(c, "c", 1, 0), 1);
	EQ_EV(wait_fd(c, POLLIN, WAIT_MS), POLLIN);
	EQ(recv(c, b, sizeof b, 0), 1);
	OK(seti(v, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	ERR(sendto(v, "v", 1, 0, (struct sockaddr *)&d4, sizeof(struct sockaddr_in)), ENETUNREACH);
	ERR(connect(v, (struct sockaddr *)&d4, sizeof(struct sockaddr_in)), EAFNOSUPPORT);
	struct sockaddr_storage e4 = with_port(&peer4, PORT_ECHO);
	ERR(connect(t, (struct sockaddr *)&e4, sizeof(struct sockaddr_in)), EINVAL);
	ERR(connect(t, (struct sockaddr *)&e4, sizeof(struct sockaddr_in6)), EAFNOSUPPORT);
}

/* ip(7), connect(2) on UDP: a socket bound to 0.0.0.0 gets the concrete source address when it
 * connects (getsockname: our address, the bound port), and its datagrams come from there; the
 * association dissolved (AF_UNSPEC), the address is the wildcard again and, the port having
 * been left to bind (port 0), so is the port (Linux udp_disconnect: SOCK_BINDPORT_LOCK unset). */
static void udp_wildcard_connect_sockname(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage any = any_addr(AF_INET, 0);
	OK(bind(u, (struct sockaddr *)&any, alen(&any)));
	int port = port_of((struct sockaddr_storage[]){sockname(u)});
	TRUE(port != 0, "bind to port 0 left port 0");
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	struct sockaddr_storage sn = sockname(u), want = with_port(&local4, port);
	SAME_ADDR(&sn, &want, true);
	EQ(send(u, "w", 1, 0), 1);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLIN);
	char b[4];
	EQ(recv(u, b, sizeof b, 0), 1);
	struct sockaddr un = {.sa_family = AF_UNSPEC};
	OK(connect(u, &un, sizeof un));
	sn = sockname(u);
	SAME_ADDR(&sn, &any, true);
}

/* socket(7) SO_REUSEADDR on UDP: two sockets share one port, and a unicast datagram to it goes
 * to one of them, never to both; one connected to the sender is the one that gets it (Linux's
 * best match, compute_score, prefers the connected socket). The echo answers to the port. */
static void udp_reuseaddr_unicast(void)
{
	int a = tsock(AF_INET, SOCK_DGRAM), b = tsock(AF_INET, SOCK_DGRAM);
	if (a < 0 || b < 0)
		return;
	OK(seti(a, SOL_SOCKET, SO_REUSEADDR, 1));
	OK(seti(b, SOL_SOCKET, SO_REUSEADDR, 1));
	struct sockaddr_storage z = with_port(&local4, 0);
	OK(bind(a, (struct sockaddr *)&z, alen(&z)));
	z = sockname(a);
	OK(bind(b, (struct sockaddr *)&z, alen(&z)));
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	EQ(sendto(a, "1", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	TRUE(poll(p, 2, WAIT_MS) >= 1, "the echo did not come to either socket");
	poll(NULL, 0, 200);
	char x[4];
	int got = 0;
	while (recv(a, x, sizeof x, MSG_DONTWAIT) == 1)
		got++;
	while (recv(b, x, sizeof x, MSG_DONTWAIT) == 1)
		got++;
	EQ(got, 1);
	OK(connect(b, (struct sockaddr *)&d, alen(&d)));
	for (int i = 0; i < 3; i++)
		EQ(sendto(a, "x", 1, 0, (struct sockaddr *)&d, alen(&d)), 1);
	int to_b = 0;
	for (int i = 0; i < 50 && to_b < 3; i++) {
		if (wait_fd(b, POLLIN, 100) & POLLIN)
			while (recv(b, x, sizeof x, MSG_DONTWAIT) == 1)
				to_b++;
	}
	poll(NULL, 0, 100);
	int to_a = 0;
	while (recv(a, x, sizeof x, MSG_DONTWAIT) == 1)
		to_a++;
	TRUE(to_b == 3 && to_a == 0,
	     "of 3 echoes, %d came to the connected socket, %d to the other", to_b, to_a);
}

/* close(2) of a listener: connections still waiting in its queue are aborted (Linux
 * inet_csk_listen_stop; RFC 9293 3.10.5 ABORT: no process holds them): the client, connected
 * and having sent data, gets the RST as ECONNRESET. Both ends are this process. */
static void tcp_close_listener_pending(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0)
		return;
	struct sockaddr_storage la = sockname(ls);
	int c = connect_to(&la, SOCK_STREAM);
	if (c < 0)
		return;
	EQ(write(c, "q", 1), 1);
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	untrack(ls);
	OK(close(ls));
	TRUE(wait_fd(c, POLLIN, WAIT_MS) & POLLERR, "no POLLERR on the client after the close");
	char b[4];
	ERR(recv(c, b, sizeof b, 0), ECONNRESET);
	EQ(recv(c, b, sizeof b, 0), 0);
}

/* recvmsg(2) MSG_ERRQUEUE with nothing queued: EAGAIN at once, also on a blocking socket (ip(7):
 * the error queue is read without waiting; Linux ip_recv_error), on TCP and UDP alike. */
static void sock_errqueue_empty(void)
{
	int s = tconnect(AF_INET, PORT_ECHO), u = ubind(AF_INET);
	if (s < 0 || u < 0)
		return;
	/* a bound on a call that would wait: its EAGAIN must come at once, not after this */
	struct timeval tv = {.tv_sec = 1};
	OK(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	OK(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[64], ctl[256];
	struct iovec v = {b, sizeof b};
	struct msghdr m = {
	    .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	double t0 = now_s();
	ERR(recvmsg(s, &m, MSG_ERRQUEUE), EAGAIN);
	double dt = now_s() - t0;
	TRUE(dt < 0.5, "TCP: recvmsg(MSG_ERRQUEUE) waited %.3f s for its EAGAIN", dt);
	m.msg_controllen = sizeof ctl;
	t0 = now_s();
	ERR(recvmsg(u, &m, MSG_ERRQUEUE), EAGAIN);
	dt = now_s() - t0;
	TRUE(dt < 0.5, "UDP: recvmsg(MSG_ERRQUEUE) waited %.3f s for its EAGAIN", dt);
	EQ(wait_fd(u, POLLIN, 0), 0);
}

/* ip(7) IP_RECVERR: on an unconnected UDP socket the ICMP port unreachable is queued: poll
 * reports POLLERR; recvmsg(MSG_ERRQUEUE) returns the datagram that caused it (its payload, its
 * destination in msg_name, MSG_ERRQUEUE in msg_flags) with an IP_RECVERR message: a
 * sock_extended_err with ee_errno ECONNREFUSED, ee_origin SO_EE_ORIGIN_ICMP, type 3 code 3, the
 * peer as the offender; then the queue is empty and SO_ERROR 0. The option reads back. */
static void udp_recverr(void)
{
	int u = ubind(AF_INET);
	if (u < 0)
		return;
	EQ(geti(u, IPPROTO_IP, IP_RECVERR), 0);
	OK(seti(u, IPPROTO_IP, IP_RECVERR, 1));
	EQ(geti(u, IPPROTO_IP, IP_RECVERR), 1);
	struct sockaddr_storage d = with_port(&peer4, PORT_NONE);
	EQ(sendto(u, "oops", 4, 0, (struct sockaddr *)&d, alen(&d)), 4);
	EQ_EV(wait_fd(u, POLLIN, WAIT_MS), POLLERR);
	char b[16] = {0};
	union {
		char buf[512];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	struct iovec v = {b, sizeof b};
	struct msghdr m = {.msg_name = &from,
			   .msg_namelen = sizeof from,
			   .msg_iov = &v,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof ctl.buf};
	EQ(recvmsg(u, &m, MSG_ERRQUEUE), 4);
	TRUE(!memcmp(b, "oops", 4), "the queued datagram is '%s'", b);
	TRUE(m.msg_flags & MSG_ERRQUEUE, "msg_flags %#x without MSG_ERRQUEUE", m.msg_flags);
	SAME_ADDR(&from, &d, true);
	struct sock_extended_err *ee = NULL;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR)
			ee = (struct sock_extended_err *)CMSG_DATA(c);
	TRUE(ee, "no IP_RECVERR control message (msg_controllen %zu)", (size_t)m.msg_controllen);
	EQ(ee->ee_errno, ECONNREFUSED);
	EQ(ee->ee_origin, SO_EE_ORIGIN_ICMP);
	EQ(ee->ee_type, 3);
	EQ(ee->ee_code, 3);
	struct sockaddr_storage off;
	memset(&off, 0, sizeof off);
	memcpy(&off, SO_EE_OFFENDER(ee), sizeof(struct sockaddr_in));
	SAME_ADDR(&off, &peer4, false);
	EQ(geti(u, SOL_SOCKET, SO_ERROR), 0);
	EQ(wait_fd(u, POLLIN, 0), 0);
	m.msg_controllen = sizeof ctl.buf;
	ERR(recvmsg(u, &m, MSG_ERRQUEUE), EAGAIN);
}

/* ip(7) IP_MTU: "the current known path MTU of the current socket. Valid only when the socket
 * has been connected" (ENOTCONN before); not settable (ENOPROTOOPT). Here the link's 1500 for
 * a connected UDP and TCP socket; ipv6(7) IPV6_MTU reads the same on AF_INET6. */
static void ip_mtu_option(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM), s = tconnect(AF_INET, PORT_ECHO);
	if (u < 0 || s < 0)
		return;
	EQ(geti(u, IPPROTO_IP, IP_MTU), -100000 - ENOTCONN);
	ERR(seti(u, IPPROTO_IP, IP_MTU, 1400), ENOPROTOOPT);
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(geti(u, IPPROTO_IP, IP_MTU), 1500);
	EQ(geti(s, IPPROTO_IP, IP_MTU), 1500);
	if (!have6)
		return;
	int v = tsock(AF_INET6, SOCK_DGRAM);
	if (v < 0)
		return;
	EQ(geti(v, IPPROTO_IPV6, IPV6_MTU), -100000 - ENOTCONN);
	struct sockaddr_storage d6 = with_port(&peer6, PORT_UDPECHO);
	OK(connect(v, (struct sockaddr *)&d6, alen(&d6)));
	EQ(geti(v, IPPROTO_IPV6, IPV6_MTU), 1500);
}

/* recv(2) on a datagram socket returns one message per call: MSG_WAITALL waits for a full
 * request on stream sockets only (Linux udp_recvmsg ignores it): with two 3-byte datagrams
 * queued, a 100-byte recv with it returns the first alone, at once. */
static void udp_waitall_ignored(void)
{
	int u = tsock(AF_INET, SOCK_DGRAM);
	if (u < 0)
		return;
	struct sockaddr_storage d = with_port(&peer4, PORT_UDPECHO);
	OK(connect(u, (struct sockaddr *)&d, alen(&d)));
	EQ(send(u, "abc", 3, 0), 3);
	EQ(send(u, "def", 3, 0), 3);
	EQ(wait_inq(u, 3), 3);
	poll(NULL, 0, 100);
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	OK(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	char b[100] = {0};
	EQ(recv(u, b, sizeof b, MSG_WAITALL), 3);
	TRUE(!memcmp(b, "abc", 3), "got '%s'", b);
	EQ(recv(u, b, sizeof b, MSG_WAITALL), 3);
	TRUE(!memcmp(b, "def", 3), "got '%s'", b);
}

/* getsockname(2) / getpeername(2): an addrlen that is negative as an int is EINVAL (Linux
 * move_addr_to_user), nothing written. */
static void sock_getname_negative_len(void)
{
	int s = tconnect(AF_INET, PORT_ECHO);
	if (s < 0)
		return;
	struct sockaddr_storage ss;
	memset(&ss, 0xee, sizeof ss);
	socklen_t l = (socklen_t)-1;
	ERR(getsockname(s, (struct sockaddr *)&ss, &l), EINVAL);
	l = (socklen_t)-1;
	ERR(getpeername(s, (struct sockaddr *)&ss, &l), EINVAL);
	EQ(ss.ss_family, 0xeeee);
	l = sizeof ss;
	OK(getpeername(s, (struct sockaddr *)&ss, &l));
	EQ(l, sizeof(struct sockaddr_in));
}

/* send(2) MSG_DONTWAIT on a blocking socket whose send buffer is full: "the call fails with
 * EAGAIN" instead of blocking (after a partial count for what fit); the socket stays blocking
 * and not writable. The peer never reads (the connect-back connection). */
static void tcp_send_dontwait_full(void)
{
	int ls = tlisten(AF_INET, 0);
	if (ls < 0 || connect_back(ls) < 0)
		return;
	EQ_EV(wait_fd(ls, POLLIN, WAIT_MS), POLLIN);
	int s = accept(ls, NULL, NULL);
	track(s);
	TRUE(s >= 0, "accept: %s", en(errno));
	static unsigned char b[1 << 20];
	memset(b, 'd', sizeof b);
	ssize_t w = 0;
	size_t total = 0;
	int partial = 0;
	for (int i = 0; i < 64; i++) {
		w = send(s, b, sizeof b, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0)
			break;
		total += w;
		partial += (size_t)w < sizeof b;
	}
	TRUE(w < 0 && errno == EAGAIN, "after %zu bytes, send gave %zd (errno %s), not EAGAIN",
	     total, w, en(w < 0 ? errno : 0));
	TRUE(partial >= 1, "no partial send before EAGAIN (%zu bytes)", total);
	EQ(OK(fcntl(s, F_GETFL)) & O_NONBLOCK, 0);
	EQ_EV(wait_fd(s, POLLOUT, 0), 0);
}

/* ---- the table ---- */

/* clang-format off */
/* The checks run for IPv4 (NAME_4) and, given IPv6 addresses, IPv6 (NAME_6). */
#define FAM_CHECKS(X) \
	X(tcp_types) X(tcp_getsockname_unbound) X(tcp_bind_not_ours) X(tcp_bind_twice) \
	X(tcp_bind_inuse) X(tcp_listen_getsockname) X(tcp_echo_1mib) X(tcp_connect_refused) \
	X(tcp_nb_connect) X(tcp_nb_connect_refused) X(tcp_accept_connect_back) \
	X(udp_sendto_recvfrom) X(udp_connected) X(udp_autobind) X(tcp_peer_rst_read) \
	X(tcp_peer_close_poll) X(udp_refused) X(tcp_bind_before_connect) X(tcp_info_connected) \
	X(udp_tcp_level_opts) X(udp_ttl_sent) X(udp_tos_sent) X(tcp_tos_sent) X(tcp_synack_tos)

#define BOTH(f) \
	static void f##_4(void) { f(AF_INET); } \
	static void f##_6(void) { f(AF_INET6); }
FAM_CHECKS(BOTH)
/* clang-format on */

struct check {
	const char *name;
	void (*fn)(void);
	bool v6;
};

#define ENTRY4(f) {#f "_4", f##_4, false},
#define ENTRY6(f) {#f "_6", f##_6, true},
#define ONE(f) {#f, f, false},
#define ONE6(f) {#f, f, true},

/* clang-format off */
static const struct check checks[] = {
	FAM_CHECKS(ENTRY4)
	ONE(tcp_bind_reuseaddr)
	ONE(tcp_bind_reuseaddr_listening)
	ONE(tcp_bind_wildcard_conflict)
	ONE(tcp_reuseport)
	ONE(tcp_bind_bad_args)
	ONE(tcp_listen_autobind)
	ONE(tcp_blocking_rw)
	ONE(tcp_nb_connect_recall)
	ONE(tcp_nb_connect_refused_recall)
	ONE(tcp_connect_isconn)
	ONE(tcp_connect_listener)
	ONE(tcp_getpeername_unconnected)
	ONE(tcp_io_unconnected)
	ONE(tcp_nb_read_eagain)
	ONE(tcp_msg_dontwait)
	ONE(tcp_fionread)
	ONE(tcp_rdhup_unread)
	ONE(tcp_fionread_listener)
	ONE(tcp_peek)
	ONE(tcp_readv_writev)
	ONE(tcp_sendmsg_recvmsg)
	ONE(tcp_shutdown_wr_eof)
	ONE(tcp_write_after_shut_wr)
	ONE(tcp_shutdown_rd)
	ONE(tcp_shutdown_errors)
	ONE(tcp_peer_rst_write)
	ONE(tcp_peer_rst_so_error)
	ONE(tcp_write_to_closed_peer)
	ONE(tcp_accept_nb_eagain)
	ONE(tcp_accept_not_listening)
	ONE(tcp_accept_no_inherit)
	ONE(tcp_listen_epoll)
	ONE(tcp_listen_select)
	ONE(tcp_accept_blocks)
	ONE(poll_blocks)
	ONE(epoll_blocks)
	ONE(select_blocks)
	ONE(tcp_close_graceful)
	ONE(tcp_close_flushes)
	ONE(tcp_close_linger0)
	ONE(tcp_close_unread)
	ONE(tcp_shutdown_rdwr)
	ONE(tcp_connecting)
	ONE(tcp_accept_inherits)
	ONE(tcp_accept_two)
	ONE(tcp_io_listener)
	ONE(tcp_zero_length)
	ONE(tcp_keepalive_limits)
	ONE(sock_addrlen_truncation)
	ONE(eintr_waits)
	ONE(eintr_blocking_calls)
	ONE(sa_restart_accept)
	ONE(sa_restart_read)
	ONE(sa_restart_connect)
	ONE(tcp_self_connect_4)
	ONE(udp_self)
	ONE(unix_untouched)
	ONE(kernel_fd_enotsock)
	ONE(epoll_fd_polled)
	ONE(epoll_two_sets)
	ONE(epoll_create_errors)
	ONE(sock_cloexec)
	ONE(tcp_accept_wildcard_sockname)
	ONE(tcp_listen_twice)
	ONE(tcp_rebind_reuseaddr)
	ONE(tcp_rebind_time_wait)
	ONE(tcp_nb_write_backpressure)
	ONE(udp_disconnect)
	ONE(tcp_data_while_busy)
	ONE(epoll_many_clients)
	ONE(epoll_accept_burst)
	ONE(tcp_backlog_overflow)
	ONE(tcp_backlog_overflow_beside_v6)
	ONE(udp_connected_filters)
	ONE(udp_shutdown)
	ONE(tcp_iov_max)
	ONE(tcp_fresh_socket_poll)
	ONE(tcp_nodelay)
	ONE(tcp_keepalive)
	ONE(sock_bufsizes)
	ONE(sock_linger)
	ONE(sock_opt_errors)
	ONE(tcp_info_closed)
	ONE(tcp_info_listen)
	ONE(tcp_info_short)
	ONE(tcp_info_close_wait)
	ONE(tcp_congestion)
	ONE(tcp_congestion_before_connect)
	ONE(tcp_congestion_accept)
	ONE(sock_fcntl_nonblock)
	ONE(sock_fionbio)
	ONE(sock_close_ebadf)
	ONE(sock_fd_numbers)
	ONE(epoll_level)
	ONE(epoll_edge)
	ONE(epoll_oneshot)
	ONE(epoll_ctl_errors)
	ONE(epoll_mixed)
	ONE(epoll_timeout)
	ONE(epoll_out_and_pwait)
	ONE(epoll_rdhup)
	ONE(epoll_rst)
	ONE(epoll_close_removes)
	ONE(epoll_mod_del)
	ONE(epoll_edge_connect)
	ONE(epoll_maxevents)
	ONE(epoll_sparse)
	ONE(poll_nval)
	ONE(poll_mixed)
	ONE(poll_out)
	ONE(poll_rdnorm)
	ONE(poll_wrnorm)
	ONE(select_mixed)
	ONE(udp_types)
	ONE(udp_msg_trunc_flag)
	ONE(udp_recvmsg_trunc)
	ONE(udp_sendmsg_iov)
	ONE(udp_boundaries)
	ONE(udp_peek_fionread)
	ONE(udp_nb_eagain)
	ONE(udp_bind_errors)
	ONE(udp_bind_reuseaddr)
	ONE(udp_unconnected_errors)
	ONE(udp_large)
	ONE(sock_dup)
	ONE(sock_dup2)
	ONE(sock_dup_close_last)
	ONE(epoll_dup)
	ONE(tcp_waitall)
	ONE(tcp_peek_dontwait)
	ONE(tcp_recv_trunc)
	ONE(udp_peek_trunc)
	ONE(tcp_oob_none)
	ONE(udp_refused_send)
	ONE(udp_unconnected_no_error)
	ONE(udp_no_socket_refused)
	ONE(udp_sendto_errors)
	ONE(udp_connected_sendto)
	ONE(tcp_shut_wr_poll)
	ONE(tcp_rst_poll_after_error)
	ONE(epoll_exclusive)
	ONE(sock_rcvlowat)
	ONE(sock_rcvtimeo)
	ONE(sock_sndtimeo_connect)
	ONE(tcp_sendto_connected)
	ONE(tcp_connect_bad_args)
	ONE(sock_addrlen_truncation_accept)
	ONE(sock_types_accepted)
	ONE(tcp_shutdown_listener)
	ONE(sock_opt_roundtrip)
	ONE(ip_ttl_option)
	ONE(ip_tos_option)
	ONE(tcp_peek_rcvlowat)
	ONE(tcp_getpeername_after_close)
	ONE(udp_connect_errors)
	ONE(tcp_connect_unspec)
	ONE(tcp_ioctl_queues)
	ONE(udp_sendmmsg_recvmmsg)
	ONE(tcp_accept4_flags)
	ONE(tcp_msg_more)
	ONE(tcp_cork)
	ONE(udp_msg_more)
	ONE(udp_cork)
	ONE(tcp_user_timeout)
	ONE(tcp_keepalive_defaults)
	ONE(tcp_defer_accept)
	ONE(tcp_maxseg)
	ONE(udp_rcvlowat_ignored)
	ONE(tcp_shut_rdwr_poll)
	ONE(tcp_peer_fin_poll_out)
	ONE(epoll_edge_fin)
	ONE(epoll_edge_out_drain)
	ONE(udp_disconnect_sockname)
	ONE(sock_connect_unspec_short)
	ONE(udp_zero_length_recvmsg)
	ONE(tcp_peer_rst_after_data)
	ONE(tcp_peer_rst_sigpipe)
	ONE(tcp_listen_backlog_zero)
	ONE(tcp_iov_zero)
	ONE(udp_fionread_several)
	ONE(sock_getsockopt_short)
	ONE(sock_getsockopt_negative_len)
	ONE(udp_pktinfo)
	ONE(tcp_connect_after_refused)
	ONE(udp_reuseport)
	ONE(tcp_recvfrom_addr)
	ONE(tcp_peer_half_close)
	ONE(tcp_shut_wr_then_read)
	ONE(tcp_linger_close)
	ONE(tcp_echo_small_bufs)
	ONE(tcp_peek_waitall)
	ONE(tcp_dontwait_drip)
	ONE(tcp_waitall_rst)
	ONE(tcp_waitall_rcvtimeo)
	ONE(tcp_accept_order)
	ONE(tcp_io_after_refused)
	ONE(epoll_events_zero)
	ONE(select_refused_connect)
	ONE(select_listener_and_conn)
	ONE(udp_rcvbuf_drop)
	ONE(udp_recv_null_addr)
	ONE(udp_wildcard_connect_sockname)
	ONE(udp_reuseaddr_unicast)
	ONE(tcp_close_listener_pending)
	ONE(sock_errqueue_empty)
	ONE(udp_recverr)
	ONE(ip_mtu_option)
	ONE(udp_waitall_ignored)
	ONE(sock_getname_negative_len)
	ONE(tcp_send_dontwait_full)
	FAM_CHECKS(ENTRY6)
	ONE6(tcp_self_connect_6)
	ONE6(v6_mapped_tcp)
	ONE6(v6_mapped_udp)
	ONE6(v6_v6only)
	ONE6(v6_v6only_on_inet)
	ONE6(v6_dual_listener)
	ONE6(v6_v6only_listener)
	ONE6(v6_v6only_beside_v4)
	ONE6(v6_to_v4_listener)
	ONE6(v6_dual_holds_v4_port)
	ONE6(udp6_types)
	ONE6(udp6_recvpktinfo)
	ONE6(v6_v6only_errors)
	ONE6(v6_inet_addr)
};
/* clang-format on */

static void on_alarm(int sig)
{
	static const char a[] = "FAIL ", b[] = ": timed out (the check hung; alarm after 20 s)\n";
	if (write(1, a, sizeof a - 1) < 0 || write(1, cur, strlen(cur)) < 0 ||
	    write(1, b, sizeof b - 1) < 0)
		_exit(3);
	_exit(3);
}

static void usage(void)
{
	fprintf(stderr, "usage: semantics [--list] [--after NAME] [--only NAME] LOCAL_IP PEER_IP "
			"[LOCAL_IP6 PEER_IP6]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *after = NULL, *only = NULL;
	bool list = false;
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--list"))
			list = true;
		else if (!strcmp(argv[i], "--after") && i + 1 < argc)
			after = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else
			usage();
	}
	int nargs = argc - i;
	if (list) {
		for (size_t k = 0; k < sizeof checks / sizeof checks[0]; k++)
			printf("%s\n", checks[k].name);
		return 0;
	}
	if (nargs != 2 && nargs != 4)
		usage();
	local4_s = argv[i];
	peer4_s = argv[i + 1];
	if (!parse_addr(local4_s, &local4) || !parse_addr(peer4_s, &peer4) ||
	    local4.ss_family != AF_INET || peer4.ss_family != AF_INET)
		usage();
	mapped(&peer4, &peer4mapped);
	mapped(&local4, &local4mapped);
	if (nargs == 4) {
		local6_s = argv[i + 2];
		peer6_s = argv[i + 3];
		if (!parse_addr(local6_s, &local6) || !parse_addr(peer6_s, &peer6) ||
		    local6.ss_family != AF_INET6 || peer6.ss_family != AF_INET6)
			usage();
		have6 = true;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa = {.sa_handler = on_sigpipe};
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	bool skipping = after != NULL, found = after == NULL && only == NULL;
	for (size_t k = 0; k < sizeof checks / sizeof checks[0]; k++) {
		const struct check *c = &checks[k];
		if (skipping) {
			if (!strcmp(c->name, after)) {
				skipping = false;
				found = true;
			}
			continue;
		}
		if (only && strcmp(c->name, only))
			continue;
		if (only)
			found = true;
		if (c->v6 && !have6)
			continue;
		cur = c->name;
		cur_failed = false;
		alarm(CHECK_ALARM);
		c->fn();
		alarm(0);
		close_tracked();
		if (cur_failed) {
			n_fail++;
		} else {
			n_ok++;
			printf("ok %s\n", cur);
		}
	}
	if (!found) {
		fprintf(stderr, "semantics: no check named '%s'\n", after ? after : only);
		return 2;
	}
	printf("%d ok, %d failed\n", n_ok, n_fail);
	return n_fail ? 1 : 0;
}
