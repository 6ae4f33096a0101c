/*
 * tcpbulk: the kernel end of `make bench`'s TCP bulk transfers. The byte stream is the one
 * `sluice run --send` and `--http` (GET /bytes/N) generate: byte i is i mod 251.
 *
 *   tcpbulk send --dst ADDR --port P --bytes N [--seconds S] [--chunk B] [--timeout T]
 *                [--cc NAME] [--deadline D]
 *       connect, write the pattern in writes of B bytes (default 1 MiB) until N bytes are
 *       written or S seconds have passed, shutdown(SHUT_WR), read until the peer closes.
 *   tcpbulk sink --addr ADDR --port P [--timeout S] [--verify 0|1] [--cc NAME] [--deadline D]
 *       listen, print "tcpbulk: listening" on stderr, accept one connection, read it to EOF
 *       comparing every byte with the pattern (--verify 0: count only), close.
 *   tcpbulk get --dst ADDR --port P --bytes N [--timeout T] [--cc NAME] [--deadline D]
 *       connect, send "GET /bytes/N" (HTTP/1.1, Connection: close), read the response: the
 *       status must be 200, Content-Length N, and every body byte the pattern; close.
 *
 * Either prints one JSON line on stdout, with the socket's TCP_INFO at the end of the transfer
 * (retransmissions, RTOs where the kernel reports them, bytes acknowledged or received) and the
 * congestion control the socket really used. The rate of `send` runs from the end of the
 * handshake to the peer's close (the definition `sluice run --send` uses); the sink's from
 * accept to EOF; `get`'s from the end of the handshake to the last body byte. --cc sets
 * TCP_CONGESTION on the socket (root may choose any algorithm the kernel has, whatever the
 * namespace allows). A socket call blocked for T seconds (default 60) fails the run;
 * --deadline D bounds the whole transfer (from the start of connect, or accept): when it passes,
 * the JSON line says "timed_out":true with the bytes moved so far and the exit status is 3.
 * Exit status 0 on a clean transfer (for sink and get: every byte as expected). ADDR may be IPv6
 * (AF_INET6 sockets then), otherwise IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_addr.h"

#define PERIOD 251
#define EXIT_DEADLINE 3

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pattern, long enough that any chunk starting at any phase is a slice of it. */
static uint8_t *pattern(size_t chunk)
{
	uint8_t *p = malloc(chunk + PERIOD);
	if (!p) {
		perror("tcpbulk: malloc");
		exit(1);
	}
	for (size_t i = 0; i < chunk + PERIOD; i++)
		p[i] = (uint8_t)(i % PERIOD);
	return p;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: tcpbulk send --dst ADDR --port P --bytes N [--seconds S] "
		"[--chunk B] [--timeout T] [--cc NAME] [--deadline D]\n"
		"       tcpbulk sink --addr ADDR --port P [--timeout S] [--verify 0|1] "
		"[--cc NAME] [--deadline D]\n"
		"       tcpbulk get --dst ADDR --port P --bytes N [--timeout T] [--cc NAME] "
		"[--deadline D]\n");
	return 2;
}

struct opts {
	const char *cc;
	double timeout, deadline; /* seconds; 0: none */
};

/*
 * Blocking sockets with SO_SNDTIMEO/SO_RCVTIMEO: a stalled peer must not hang the bench. With a
 * deadline the socket calls time out every 0.25 s (EAGAIN), so the deadline is looked at while
 * the fast path stays one blocking call per chunk.
 */
static void set_timeouts(int fd, const struct opts *o)
{
	double t = o->timeout;
	if (o->deadline > 0 && (t <= 0 || t > 0.25))
		t = 0.25;
	if (t > 0) {
		struct timeval tv = {.tv_sec = (time_t)t,
				     .tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6)};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
}

static int set_cc(int fd, const char *cc)
{
	if (cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) < 0) {
		fprintf(stderr, "tcpbulk: TCP_CONGESTION %s: %s\n", cc, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Wait until fd is ready for `events`, at most until `deadline` (absolute, 0: none) and at most
 * `timeout` seconds. 1: ready; 0: the deadline passed; -1: the timeout passed or poll failed
 * (errno set).
 */
static int wait_fd(int fd, short events, double deadline, double timeout)
{
	for (;;) {
		double t = now(), lim = timeout > 0 ? timeout : 3600;
		if (deadline > 0) {
			if (t >= deadline)
				return 0;
			if (deadline - t < lim)
				lim = deadline - t;
		}
		struct pollfd p = {.fd = fd, .events = events};
		int ms = (int)(lim * 1000) + 1;
		int r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (deadline > 0 && now() >= deadline)
			return 0;
		errno = ETIMEDOUT;
		return -1;
	}
}

/* The socket's TCP_INFO and congestion control as a JSON object (fields of kernels >= 6.7 when
 * the kernel returns them). */
static void print_tcp_info(int fd)
{
	union {
		struct tcp_info ti;
		uint8_t raw[512];
	} u;
	memset(&u, 0, sizeof(u));
	socklen_t len = sizeof(u);
	char cc[32] = "";
	socklen_t cl = sizeof(cc) - 1;
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &cl) < 0)
		strcpy(cc, "?");
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &u, &len) < 0) {
		printf(",\"cc\":\"%s\",\"tcp_info\":null", cc);
		return;
	}
	const struct tcp_info *t = &u.ti;
	printf(",\"cc\":\"%s\",\"tcp_info\":{\"total_retrans\":%u,\"retransmits\":%u,"
	       "\"backoff\":%u,\"rto_us\":%u,\"rtt_us\":%u,\"rttvar_us\":%u,\"min_rtt_us\":%u,"
	       "\"snd_cwnd\":%u,\"snd_ssthresh\":%u,\"reordering\":%u,\"segs_out\":%u,"
	       "\"segs_in\":%u,\"data_segs_out\":%u,\"data_segs_in\":%u,\"bytes_acked\":%llu,"
	       "\"bytes_received\":%llu,\"bytes_sent\":%llu,\"bytes_retrans\":%llu,"
	       "\"dsack_dups\":%u,\"reord_seen\":%u,\"rcv_ooopack\":%u,\"snd_wnd\":%u,"
	       "\"rcv_space\":%u,\"busy_time_us\":%llu,\"rwnd_limited_us\":%llu,"
	       "\"sndbuf_limited_us\":%llu,\"len\":%u",
	       cc, t->tcpi_total_retrans, t->tcpi_retransmits, t->tcpi_backoff, t->tcpi_rto,
	       t->tcpi_rtt, t->tcpi_rttvar, t->tcpi_min_rtt, t->tcpi_snd_cwnd, t->tcpi_snd_ssthresh,
	       t->tcpi_reordering, t->tcpi_segs_out, t->tcpi_segs_in, t->tcpi_data_segs_out,
	       t->tcpi_data_segs_in, (unsigned long long)t->tcpi_bytes_acked,
	       (unsigned long long)t->tcpi_bytes_received, (unsigned long long)t->tcpi_bytes_sent,
	       (unsigned long long)t->tcpi_bytes_retrans, t->tcpi_dsack_dups, t->tcpi_reord_seen,
	       t->tcpi_rcv_ooopack, t->tcpi_snd_wnd, t->tcpi_rcv_space,
	       (unsigned long long)t->tcpi_busy_time, (unsigned long long)t->tcpi_rwnd_limited,
	       (unsigned long long)t->tcpi_sndbuf_limited, (unsigned)len);
	/* Linux 6.7 appended, after tcpi_snd_wnd: u32 rcv_wnd, u32 rehash, u16 total_rto,
	 * u16 total_rto_recoveries, u32 total_rto_time (ms). The installed header may be older. */
	size_t ext = offsetof(struct tcp_info, tcpi_snd_wnd) + 4;
	if (len >= ext + 16) {
		uint16_t rto, rto_rec;
		uint32_t rto_time;
		memcpy(&rto, u.raw + ext + 8, 2);
		memcpy(&rto_rec, u.raw + ext + 10, 2);
		memcpy(&rto_time, u.raw + ext + 12, 4);
		printf(",\"total_rto\":%u,\"total_rto_recoveries\":%u,\"total_rto_time_ms\":%u",
		       rto, rto_rec, rto_time);
	}
	printf("}");
}

static int do_connect(const struct bench_addr *sa, const struct opts *o, double *t0)
{
	int fd = socket(sa->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "tcpbulk: socket: %s\n", strerror(errno));
		return -1;
	}
	struct opts plain = {.timeout = o->timeout}; /* connect waits out lost SYNs: no tick */
	set_timeouts(fd, &plain);
	if (set_cc(fd, o->cc) < 0)
		return -1;
	*t0 = now();
	if (connect(fd, (const struct sockaddr *)&sa->ss, sa->len) < 0) {
		fprintf(stderr, "tcpbulk: connect: %s\n", strerror(errno));
		return -1;
	}
	set_timeouts(fd, o);
	return fd;
}

static int do_send(const struct bench_addr *sa, unsigned long long bytes, double seconds,
		   size_t chunk, const struct opts *o)
{
	uint8_t *pat = pattern(chunk);
	double t0;
	int fd = do_connect(sa, o, &t0);
	if (fd < 0)
		return 1;
	double t1 = now(), stop_at = seconds > 0 ? t1 + seconds : 0;
	double dl = o->deadline > 0 ? t0 + o->deadline : 0;
	unsigned long long sent = 0;
	uint64_t writes = 0;
	bool timed_out = false, deadline_hit = false;
	while (sent < bytes) {
		size_t n = bytes - sent < chunk ? (size_t)(bytes - sent) : chunk;
		ssize_t w = write(fd, pat + sent % PERIOD, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			int r = wait_fd(fd, POLLOUT, dl, o->timeout);
			if (r == 0) {
				deadline_hit = true;
				break;
			}
			if (r > 0)
				continue;
		}
		if (w <= 0) {
			fprintf(stderr, "tcpbulk: write after %llu bytes: %s\n", sent,
				w < 0 ? strerror(errno) : "returned 0");
			return 1;
		}
		sent += (unsigned long long)w;
		writes++;
		if (dl > 0 && now() >= dl) {
			deadline_hit = sent < bytes;
			break;
		}
		if (stop_at && (writes & 7) == 0 && now() >= stop_at) {
			timed_out = sent < bytes;
			break;
		}
	}
	double t2 = now();
	if (!deadline_hit && shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "tcpbulk: shutdown: %s\n", strerror(errno));
		return 1;
	}
	/* The peer closes once it has read everything up to our FIN. */
	char buf[4096];
	unsigned long long back = 0;
	bool peer_closed = false;
	while (!deadline_hit) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			int w = wait_fd(fd, POLLIN, dl, o->timeout);
			if (w == 0)
				deadline_hit = true;
			if (w >= 0)
				continue;
		}
		if (r < 0) {
			fprintf(stderr, "tcpbulk: waiting for the peer's close: %s\n",
				strerror(errno));
			return 1;
		}
		if (r == 0) {
			peer_closed = true;
			break;
		}
		back += (unsigned long long)r;
	}
	double t3 = now();
	double secs = t3 - t1;
	printf("{\"mode\":\"send\",\"bytes\":%llu,\"seconds\":%.6f,\"bits_per_s\":%.0f,"
	       "\"connect_s\":%.6f,\"write_s\":%.6f,\"drain_s\":%.6f,\"writes\":%llu,"
	       "\"chunk\":%zu,\"stopped_by_time\":%s,\"bytes_back\":%llu,\"timed_out\":%s,"
	       "\"peer_closed\":%s",
	       sent, secs, secs > 0 ? (double)sent * 8 / secs : 0.0, t1 - t0, t2 - t1, t3 - t2,
	       (unsigned long long)writes, chunk, timed_out ? "true" : "false", back,
	       deadline_hit ? "true" : "false", peer_closed ? "true" : "false");
	print_tcp_info(fd);
	printf("}\n");
	close(fd);
	return deadline_hit ? EXIT_DEADLINE : 0;
}

/* Read until EOF (want == 0) or `want` bytes, comparing with the pattern from stream offset
 * `*got`. 1: done, 0: deadline passed, -1: error (message printed). */
struct rx {
	unsigned long long got, bad, first_bad, reads;
};

static void check(struct rx *x, const uint8_t *buf, size_t n, const uint8_t *pat, bool verify)
{
	const uint8_t *want = pat + x->got % PERIOD;
	if (verify && memcmp(buf, want, n) != 0) {
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != want[i]) {
				if (!x->bad)
					x->first_bad = x->got + i;
				x->bad++;
			}
		}
	}
	x->got += n;
}

static int receive(int fd, struct rx *x, unsigned long long want, uint8_t *buf, size_t chunk,
		   const uint8_t *pat, bool verify, double dl, double timeout)
{
	for (;;) {
		size_t n = chunk;
		if (want && want - x->got < n)
			n = (size_t)(want - x->got);
		if (want && n == 0)
			return 1;
		ssize_t r = read(fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			int w = wait_fd(fd, POLLIN, dl, timeout);
			if (w == 0)
				return 0;
			if (w > 0)
				continue;
		}
		if (r < 0) {
			fprintf(stderr, "tcpbulk: read after %llu bytes: %s\n", x->got,
				strerror(errno));
			return -1;
		}
		if (r == 0) {
			if (!want)
				return 1;
			fprintf(stderr, "tcpbulk: EOF after %llu of %llu bytes\n", x->got, want);
			return -1;
		}
		x->reads++;
		check(x, buf, (size_t)r, pat, verify);
		if (dl > 0 && (!want || x->got < want) && now() >= dl)
			return 0;
	}
}

static int do_sink(const struct bench_addr *sa, bool verify, const struct opts *o)
{
	const size_t chunk = 1 << 20;
	uint8_t *pat = pattern(chunk), *buf = malloc(chunk);
	int one = 1;
	int lfd = socket(sa->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || !buf || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    set_cc(lfd, o->cc) < 0 || bind(lfd, (const struct sockaddr *)&sa->ss, sa->len) < 0 ||
	    listen(lfd, 4) < 0) {
		fprintf(stderr, "tcpbulk: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "tcpbulk: listening\n");
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int pr = poll(&p, 1, o->timeout > 0 ? (int)(o->timeout * 1000) : -1);
	if (pr <= 0) {
		fprintf(stderr, "tcpbulk: no connection within %.1f s\n", o->timeout);
		return 1;
	}
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		fprintf(stderr, "tcpbulk: accept: %s\n", strerror(errno));
		return 1;
	}
	close(lfd);
	set_timeouts(fd, o);
	if (set_cc(fd, o->cc) < 0)
		return 1;
	double t0 = now();
	struct rx x = {0};
	int r = receive(fd, &x, 0, buf, chunk, pat, verify, o->deadline > 0 ? t0 + o->deadline : 0,
			o->timeout);
	double t1 = now();
	double secs = t1 - t0;
	printf("{\"mode\":\"sink\",\"bytes\":%llu,\"seconds\":%.6f,\"bits_per_s\":%.0f,"
	       "\"reads\":%llu,\"verified\":%s,\"bad_bytes\":%llu,\"first_bad\":%lld,"
	       "\"clean_eof\":%s,\"timed_out\":%s",
	       x.got, secs, secs > 0 ? (double)x.got * 8 / secs : 0.0, x.reads,
	       verify ? "true" : "false", x.bad, x.bad ? (long long)x.first_bad : -1LL,
	       r == 1 ? "true" : "false", r == 0 ? "true" : "false");
	print_tcp_info(fd);
	printf("}\n");
	close(fd);
	if (r == 0)
		return EXIT_DEADLINE;
	return r < 0 || x.bad ? 1 : 0;
}

static int do_get(const struct bench_addr *sa, unsigned long long bytes, const struct opts *o)
{
	const size_t chunk = 1 << 20;
	uint8_t *pat = pattern(chunk), *buf = malloc(chunk);
	if (!buf)
		return 1;
	double t0;
	int fd = do_connect(sa, o, &t0);
	if (fd < 0)
		return 1;
	double t1 = now(), dl = o->deadline > 0 ? t0 + o->deadline : 0;
	char req[128];
	int rl =
	    snprintf(req, sizeof(req),
		     "GET /bytes/%llu HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n", bytes);
	if (write(fd, req, (size_t)rl) != rl) {
		fprintf(stderr, "tcpbulk: cannot send the request: %s\n", strerror(errno));
		return 1;
	}
	/* The header: read until the blank line; whatever follows it is the body's start. */
	char hdr[8192];
	size_t hl = 0;
	char *end = NULL;
	int r = 1;
	while (!end) {
		if (hl == sizeof(hdr) - 1) {
			fprintf(stderr, "tcpbulk: response header longer than %zu bytes\n", hl);
			return 1;
		}
		ssize_t n = read(fd, hdr + hl, sizeof(hdr) - 1 - hl);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int w = wait_fd(fd, POLLIN, dl, o->timeout);
			if (w == 0) {
				r = 0;
				break;
			}
			if (w > 0)
				continue;
		}
		if (n <= 0) {
			fprintf(stderr, "tcpbulk: reading the response header: %s\n",
				n < 0 ? strerror(errno) : "EOF");
			return 1;
		}
		hl += (size_t)n;
		hdr[hl] = 0;
		end = strstr(hdr, "\r\n\r\n");
	}
	double t_hdr = now();
	int status = 0;
	long long clen = -1;
	struct rx x = {0};
	if (end) {
		if (sscanf(hdr, "HTTP/1.%*d %d", &status) != 1)
			status = 0;
		for (char *l = strstr(hdr, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
			if (!strncasecmp(l + 2, "Content-Length:", 15))
				clen = strtoll(l + 17, NULL, 10);
		size_t body0 = (size_t)(end + 4 - hdr);
		if (hl > body0)
			check(&x, (const uint8_t *)hdr + body0, hl - body0, pat, true);
		if (status == 200 && clen == (long long)bytes && x.got <= bytes)
			r = receive(fd, &x, bytes, buf, chunk, pat, true, dl, o->timeout);
		else
			r = -1;
	}
	double t2 = now(), secs = t2 - t1;
	printf("{\"mode\":\"get\",\"bytes\":%llu,\"seconds\":%.6f,\"bits_per_s\":%.0f,"
	       "\"connect_s\":%.6f,\"header_s\":%.6f,\"status\":%d,\"content_length\":%lld,"
	       "\"reads\":%llu,\"bad_bytes\":%llu,\"first_bad\":%lld,\"timed_out\":%s",
	       x.got, secs, secs > 0 ? (double)x.got * 8 / secs : 0.0, t1 - t0, t_hdr - t1, status,
	       clen, x.reads, x.bad, x.bad ? (long long)x.first_bad : -1LL,
	       r == 0 ? "true" : "false");
	print_tcp_info(fd);
	printf("}\n");
	close(fd);
	if (r == 0)
		return EXIT_DEADLINE;
	if (r < 0 && end)
		fprintf(stderr,
			"tcpbulk: GET /bytes/%llu: status %d, Content-Length %lld, %llu body "
			"bytes\n",
			bytes, status, clen, x.got);
	return r < 0 || x.bad || x.got != bytes ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *mode = argv[1], *addr = NULL;
	int port = 0;
	unsigned long long bytes = 0;
	double seconds = 0;
	struct opts o = {.timeout = 60};
	bool verify = true;
	size_t chunk = 1 << 20;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dst") || !strcmp(argv[i], "--addr"))
			addr = argv[i + 1];
		else if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--bytes"))
			bytes = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--timeout"))
			o.timeout = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--deadline"))
			o.deadline = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--cc"))
			o.cc = argv[i + 1];
		else if (!strcmp(argv[i], "--verify"))
			verify = atoi(argv[i + 1]) != 0;
		else if (!strcmp(argv[i], "--chunk"))
			chunk = (size_t)strtoull(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (argc % 2)
		return usage();
	struct bench_addr sa;
	if (!addr || bench_addr_parse(&sa, addr, port) < 0 || port < 1 || port > 65535 ||
	    chunk < 1 || chunk > (64u << 20))
		return usage();
	if (!strcmp(mode, "send") && bytes)
		return do_send(&sa, bytes, seconds, chunk, &o);
	if (!strcmp(mode, "sink"))
		return do_sink(&sa, verify, &o);
	if (!strcmp(mode, "get") && bytes)
		return do_get(&sa, bytes, &o);
	return usage();
}
