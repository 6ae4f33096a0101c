/*
 * udpgen: the UDP load generator of `make bench`. It talks to an echo server (the kernel's,
 * the raw AF_XDP reflector or a sluice stack) through ordinary kernel UDP sockets and checks
 * every reply.
 *
 *   pipelined  F flows (sockets bound to distinct source ports, connected to the target) share
 *              a window of W outstanding datagrams; sends go out in sendmmsg batches round-robin
 *              over the flows, replies come back through epoll + recvmmsg. A datagram with no
 *              reply after --timeout-ms is counted lost and its window slot reused. The rate is
 *              echoed replies per second between the end of the warm-up and the end of the run.
 *              Then it waits up to --drain-ms for the replies still in flight and reports how
 *              long the last one took (tail_ms); those never seen count as lost.
 *   closed     one datagram outstanding at a time on one flow; each round-trip time is recorded
 *              (CLOCK_MONOTONIC) and p50/p90/p99/p99.9 reported.
 *
 * --spin never sleeps (epoll_wait/poll with timeout 0): in a VM, waking a halted vCPU costs
 * tens of microseconds and would dominate what is measured.
 *
 * Every datagram carries a magic, its sequence number and a pattern derived from it; a reply is
 * accepted only if it is byte-for-byte the datagram sent, for an outstanding sequence number, on
 * the flow (socket) that sent it. Anything else is counted (mismatch, unexpected, wrong_flow).
 * The run is bounded by --duration seconds and --packets datagrams. Output: one JSON line, with
 * the busy share of each CPU over the measured interval (from /proc/stat).
 *
 * --dst takes either family: an address that parses as IPv6 makes every flow an AF_INET6
 * socket (payload up to 1452 bytes), otherwise IPv4 as always (up to 1472).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_addr.h"

#define MAGIC 0x534c4247u /* "SLBG" */
#define MAX_FLOWS 256
#define MAX_BATCH 64
#define MAX_PAYLOAD 1472  /* IPv4: 1500 - 20 - 8 */
#define MAX_PAYLOAD6 1452 /* IPv6: 1500 - 40 - 8 */
#define MIN_PAYLOAD 16
#define RING_BITS 20 /* outstanding-sequence table: 1 Mi entries */
#define RING_MASK ((1u << RING_BITS) - 1)
#define MAX_CPUS 64

struct opts {
	const char *label;
	struct bench_addr dst; /* either family; the port is set after parsing */
	int port;
	bool closed;
	int flows;
	int window;
	int batch;
	int payload;
	double duration;
	double warmup;
	uint64_t packets; /* 0: no budget */
	int sport_base;
	int timeout_ms;
	int drain_ms; /* after the run: how long to wait for the last replies */
	bool spin;    /* never sleep: poll the sockets instead of waiting in epoll */
};

/* One entry per sequence number modulo the ring; t != 0 while the datagram is outstanding. */
struct slot {
	uint64_t seq;
	uint64_t t;
	uint16_t flow;
};

struct counts {
	uint64_t sent, received, measured, lost, mismatch, unexpected, wrong_flow, send_err;
};

struct cpu_snap {
	int n;
	unsigned long long busy[MAX_CPUS], user[MAX_CPUS], sys[MAX_CPUS], soft[MAX_CPUS],
	    total[MAX_CPUS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cpu_read(struct cpu_snap *s)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	s->n = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned cpu;
		unsigned long long u, ni, sy, id, io, irq, si, st;
		if (sscanf(line, "cpu%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &u, &ni,
			   &sy, &id, &io, &irq, &si, &st) != 9 ||
		    cpu >= MAX_CPUS)
			continue;
		s->user[cpu] = u + ni;
		s->sys[cpu] = sy;
		s->soft[cpu] = irq + si;
		s->busy[cpu] = u + ni + sy + irq + si + st;
		s->total[cpu] = s->busy[cpu] + id + io;
		if ((int)cpu + 1 > s->n)
			s->n = (int)cpu + 1;
	}
	fclose(f);
}

static void cpu_json(FILE *o, const struct cpu_snap *a, const struct cpu_snap *b)
{
	fprintf(o, "\"cpu\":[");
	for (int i = 0; i < b->n && i < a->n; i++) {
		double t = (double)(b->total[i] - a->total[i]);
		if (t <= 0)
			t = 1;
		fprintf(o,
			"%s{\"cpu\":%d,\"busy\":%.3f,\"user\":%.3f,\"sys\":%.3f,\"softirq\":%.3f}",
			i ? "," : "", i, (double)(b->busy[i] - a->busy[i]) / t,
			(double)(b->user[i] - a->user[i]) / t, (double)(b->sys[i] - a->sys[i]) / t,
			(double)(b->soft[i] - a->soft[i]) / t);
	}
	fprintf(o, "]");
}

static void fill(uint8_t *p, int len, uint64_t seq)
{
	uint32_t m = htonl(MAGIC);
	memcpy(p, &m, 4);
	for (int i = 0; i < 8; i++)
		p[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
	for (int i = 12; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + (uint64_t)i);
}

/* The sequence number of a well-formed reply, or -1 when the bytes are not ours. */
static int64_t check(const uint8_t *p, size_t len, int want_len)
{
	uint32_t m;
	if (len != (size_t)want_len)
		return -1;
	memcpy(&m, p, 4);
	if (ntohl(m) != MAGIC)
		return -1;
	uint64_t seq = 0;
	for (int i = 0; i < 8; i++)
		seq = seq << 8 | p[4 + i];
	for (int i = 12; i < want_len; i++)
		if (p[i] != (uint8_t)(seq * 31 + (uint64_t)i))
			return -1;
	return (int64_t)(seq & INT64_MAX);
}

static int open_flow(const struct opts *o, int i)
{
	int fd = socket(o->dst.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int sz = 4 << 20, one = 1;
	/* FORCE (root) so net.core.rmem_max does not cap the buffer */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct bench_addr a = bench_addr_any(&o->dst, o->sport_base + i);
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 ||
	    connect(fd, (const struct sockaddr *)&o->dst.ss, o->dst.len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: udpgen --dst ADDR --port P [--closed] [--flows F] [--window W] [--batch B]\n"
	    "              [--payload BYTES] [--duration SEC] [--warmup SEC] [--packets N]\n"
	    "              [--sport-base PORT] [--timeout-ms MS] [--drain-ms MS] [--spin]\n"
	    "              [--label TEXT]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.label = "",
			   .port = 7777,
			   .flows = 16,
			   .window = 256,
			   .batch = 32,
			   .payload = 64,
			   .duration = 5,
			   .warmup = 0.5,
			   .sport_base = 20000,
			   .timeout_ms = 100,
			   .drain_ms = 1000};
	const char *dst = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--closed")) {
			o->closed = true;
			continue;
		}
		if (!strcmp(a, "--spin")) {
			o->spin = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--dst")) {
			dst = v;
		} else if (!strcmp(a, "--port")) {
			o->port = atoi(v);
		} else if (!strcmp(a, "--flows")) {
			o->flows = atoi(v);
		} else if (!strcmp(a, "--window")) {
			o->window = atoi(v);
		} else if (!strcmp(a, "--batch")) {
			o->batch = atoi(v);
		} else if (!strcmp(a, "--payload")) {
			o->payload = atoi(v);
		} else if (!strcmp(a, "--duration")) {
			o->duration = atof(v);
		} else if (!strcmp(a, "--warmup")) {
			o->warmup = atof(v);
		} else if (!strcmp(a, "--packets")) {
			o->packets = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--sport-base")) {
			o->sport_base = atoi(v);
		} else if (!strcmp(a, "--timeout-ms")) {
			o->timeout_ms = atoi(v);
		} else if (!strcmp(a, "--drain-ms")) {
			o->drain_ms = atoi(v);
		} else if (!strcmp(a, "--label")) {
			o->label = v;
		} else {
			usage();
		}
	}
	if (!dst || bench_addr_parse(&o->dst, dst, o->port) < 0)
		usage();
	int max_payload = o->dst.family == AF_INET6 ? MAX_PAYLOAD6 : MAX_PAYLOAD;
	if (o->port < 1 || o->port > 65535 || o->flows < 1 || o->flows > MAX_FLOWS ||
	    o->window < 1 || o->window > (1 << 16) || o->batch < 1 || o->batch > MAX_BATCH ||
	    o->payload < MIN_PAYLOAD || o->payload > max_payload || o->duration <= 0 ||
	    o->warmup < 0 || o->timeout_ms < 1 || o->drain_ms < 0 || o->sport_base < 1 ||
	    o->sport_base + o->flows > 65535)
		usage();
	if (o->closed)
		o->flows = 1;
}

static void json_head(FILE *out, const struct opts *o)
{
	char dst[INET6_ADDRSTRLEN];
	bench_addr_str(&o->dst, dst, sizeof(dst));
	fprintf(out, "{\"label\":\"%s\",\"mode\":\"%s\",\"dst\":\"%s\",\"port\":%d,\"flows\":%d,",
		o->label, o->closed ? "closed" : "pipelined", dst, o->port, o->flows);
	if (!o->closed)
		fprintf(out, "\"window\":%d,\"batch\":%d,", o->window, o->batch);
	fprintf(out, "\"payload\":%d,\"spin\":%s,\"timeout_ms\":%d,\"drain_ms\":%d,", o->payload,
		o->spin ? "true" : "false", o->timeout_ms, o->drain_ms);
}

static void json_counts(FILE *out, const struct counts *c)
{
	fprintf(out,
		"\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"mismatch\":%llu,"
		"\"unexpected\":%llu,\"wrong_flow\":%llu,\"send_errors\":%llu,",
		(unsigned long long)c->sent, (unsigned long long)c->received,
		(unsigned long long)c->lost, (unsigned long long)c->mismatch,
		(unsigned long long)c->unexpected, (unsigned long long)c->wrong_flow,
		(unsigned long long)c->send_err);
}

/* --- pipelined ------------------------------------------------------------------------------ */

struct pipe_state {
	const struct opts *o;
	int fd[MAX_FLOWS];
	struct slot *ring;
	uint64_t next_seq, oldest;
	int inflight;
	struct counts c;
	uint64_t measure_from;
};

static void take_reply(struct pipe_state *s, int flow, const uint8_t *p, size_t len, uint64_t now)
{
	int64_t seq = check(p, len, s->o->payload);
	if (seq < 0) {
		s->c.mismatch++;
		return;
	}
	struct slot *e = &s->ring[(uint64_t)seq & RING_MASK];
	if (e->seq != (uint64_t)seq || !e->t) {
		s->c.unexpected++; /* duplicate, or late after being counted lost */
		return;
	}
	if (e->flow != flow) {
		s->c.wrong_flow++;
		return;
	}
	e->t = 0;
	s->inflight--;
	s->c.received++;
	if (now >= s->measure_from)
		s->c.measured++;
}

static void drain_flow(struct pipe_state *s, int flow, uint64_t now)
{
	static uint8_t buf[MAX_BATCH][MAX_PAYLOAD + 1];
	struct mmsghdr m[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	for (;;) {
		for (int i = 0; i < MAX_BATCH; i++) {
			iov[i] = (struct iovec){buf[i], sizeof(buf[i])};
			m[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
		}
		int n = recvmmsg(s->fd[flow], m, MAX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			if (m[i].msg_hdr.msg_flags & MSG_TRUNC)
				s->c.mismatch++;
			else
				take_reply(s, flow, buf[i], m[i].msg_len, now);
		}
		if (n < MAX_BATCH)
			return;
	}
}

/* Datagrams older than the timeout are counted lost and leave the window. */
static void reclaim(struct pipe_state *s, uint64_t now)
{
	uint64_t tmo = (uint64_t)s->o->timeout_ms * 1000000ull;
	while (s->oldest < s->next_seq) {
		struct slot *e = &s->ring[s->oldest & RING_MASK];
		if (e->seq == s->oldest && e->t) {
			if (now - e->t < tmo)
				return;
			e->t = 0;
			s->inflight--;
			s->c.lost++;
		}
		s->oldest++;
	}
}

static int send_batch(struct pipe_state *s, int flow, int n, uint64_t now)
{
	static uint8_t buf[MAX_BATCH][MAX_PAYLOAD];
	struct mmsghdr m[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	for (int i = 0; i < n; i++) {
		fill(buf[i], s->o->payload, s->next_seq + (uint64_t)i);
		iov[i] = (struct iovec){buf[i], (size_t)s->o->payload};
		m[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
	}
	int r = sendmmsg(s->fd[flow], m, (unsigned)n, 0);
	if (r <= 0) {
		s->c.send_err++;
		return 0;
	}
	for (int i = 0; i < r; i++) {
		uint64_t seq = s->next_seq++;
		struct slot *e = &s->ring[seq & RING_MASK];
		if (e->t) { /* still outstanding a full ring ago: certainly lost */
			s->inflight--;
			s->c.lost++;
		}
		*e = (struct slot){.seq = seq, .t = now, .flow = (uint16_t)flow};
		s->inflight++;
	}
	s->c.sent += (uint64_t)r;
	return r;
}

static int run_pipelined(const struct opts *o)
{
	struct pipe_state s = {.o = o};
	s.ring = calloc(1u << RING_BITS, sizeof(*s.ring));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!s.ring || ep < 0) {
		perror("udpgen: setup");
		return 1;
	}
	for (int i = 0; i < o->flows; i++) {
		s.fd[i] = open_flow(o, i);
		if (s.fd[i] < 0) {
			perror("udpgen: socket");
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, s.fd[i], &ev);
	}
	struct cpu_snap c0 = {0}, c1;
	uint64_t start = now_ns();
	s.measure_from = start + (uint64_t)(o->warmup * 1e9);
	uint64_t end = s.measure_from + (uint64_t)(o->duration * 1e9);
	uint64_t last_reclaim = start, measure_start = start;
	bool in_measure = false;
	int flow = 0;
	uint64_t now = start;
	while (now < end && (!o->packets || s.c.sent < o->packets)) {
		if (!in_measure && now >= s.measure_from) {
			in_measure = true;
			cpu_read(&c0);
			measure_start = now;
		}
		while (s.inflight < o->window && (!o->packets || s.c.sent < o->packets)) {
			int n = o->window - s.inflight;
			if (n > o->batch)
				n = o->batch;
			if (o->packets && (uint64_t)n > o->packets - s.c.sent)
				n = (int)(o->packets - s.c.sent);
			int r = send_batch(&s, flow, n, now);
			flow = (flow + 1) % o->flows;
			if (r < n)
				break;
		}
		struct epoll_event ev[MAX_FLOWS];
		int ne = epoll_wait(ep, ev, MAX_FLOWS, s.inflight >= o->window && !o->spin ? 1 : 0);
		now = now_ns();
		for (int i = 0; i < ne; i++)
			drain_flow(&s, (int)ev[i].data.u32, now);
		if (now - last_reclaim > 1000000ull) {
			reclaim(&s, now);
			last_reclaim = now;
		}
	}
	uint64_t stop = now_ns();
	cpu_read(&c1);
	if (!in_measure)
		c0 = c1;
	/* Let the last replies arrive (verified, not counted in the rate). */
	uint64_t drain_end =
	    stop +
	    (uint64_t)(o->drain_ms > o->timeout_ms ? o->drain_ms : o->timeout_ms) * 1000000ull;
	uint64_t last_reply = stop;
	int tail = s.inflight; /* in flight when sending stopped */
	s.measure_from = UINT64_MAX;
	while (s.inflight > 0 && (now = now_ns()) < drain_end) {
		struct epoll_event ev[MAX_FLOWS];
		int ne = epoll_wait(ep, ev, MAX_FLOWS, 1);
		uint64_t before = s.c.received;
		for (int i = 0; i < ne; i++)
			drain_flow(&s, (int)ev[i].data.u32, now);
		if (s.c.received != before)
			last_reply = now;
	}
	s.c.lost += (uint64_t)(s.inflight > 0 ? s.inflight : 0);
	double secs = in_measure ? (double)(stop - measure_start) / 1e9 : 0.0;
	json_head(stdout, o);
	json_counts(stdout, &s.c);
	printf("\"measured\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"tail\":%d,\"tail_ms\":%.2f,",
	       (unsigned long long)s.c.measured, secs, secs > 0 ? (double)s.c.measured / secs : 0.0,
	       tail, (double)(last_reply - stop) / 1e6);
	cpu_json(stdout, &c0, &c1);
	printf("}\n");
	for (int i = 0; i < o->flows; i++)
		close(s.fd[i]);
	close(ep);
	free(s.ring);
	return 0;
}

/* --- closed loop ---------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1] / 1000.0;
}

static int run_closed(const struct opts *o)
{
	int fd = open_flow(o, 0);
	if (fd < 0) {
		perror("udpgen: socket");
		return 1;
	}
	size_t cap = 1 << 16, n = 0;
	uint64_t *rtt = malloc(cap * sizeof(*rtt));
	if (!rtt)
		return 1;
	struct counts c = {0};
	uint8_t out[MAX_PAYLOAD], in[MAX_PAYLOAD + 1];
	struct cpu_snap c0 = {0}, c1;
	uint64_t start = now_ns();
	uint64_t measure_from = start + (uint64_t)(o->warmup * 1e9);
	uint64_t end = measure_from + (uint64_t)(o->duration * 1e9);
	uint64_t tmo = (uint64_t)o->timeout_ms * 1000000ull;
	bool in_measure = false;
	uint64_t seq = 0, t0 = start;
	while (t0 < end && (!o->packets || c.sent < o->packets)) {
		if (!in_measure && t0 >= measure_from) {
			in_measure = true;
			cpu_read(&c0);
		}
		fill(out, o->payload, seq);
		t0 = now_ns();
		if (send(fd, out, (size_t)o->payload, 0) != o->payload) {
			c.send_err++;
			usleep(1000);
			t0 = now_ns();
			continue;
		}
		c.sent++;
		for (;;) {
			uint64_t t = now_ns();
			if (t - t0 >= tmo) {
				c.lost++;
				break;
			}
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int to = (int)((tmo - (t - t0) + 999999) / 1000000);
			/* recv first: poll() only when nothing has arrived yet */
			ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (r < 0) {
				if (errno == EAGAIN && (o->spin || poll(&p, 1, to) >= 0))
					continue;
				c.lost++;
				break;
			}
			uint64_t t1 = now_ns();
			int64_t got = check(in, (size_t)r, o->payload);
			if (got < 0) {
				c.mismatch++;
				continue;
			}
			if ((uint64_t)got != seq) {
				c.unexpected++; /* a late reply to an earlier, timed-out datagram */
				continue;
			}
			c.received++;
			if (t0 >= measure_from) {
				c.measured++;
				if (n == cap) {
					uint64_t *nr = realloc(rtt, 2 * cap * sizeof(*rtt));
					if (!nr)
						break;
					rtt = nr;
					cap *= 2;
				}
				rtt[n++] = t1 - t0;
			}
			break;
		}
		seq++;
		t0 = now_ns();
	}
	cpu_read(&c1);
	if (!in_measure)
		c0 = c1;
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)rtt[i];
	json_head(stdout, o);
	json_counts(stdout, &c);
	printf("\"samples\":%zu,\"min_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
	       "\"p999_us\":%.2f,\"max_us\":%.2f,\"mean_us\":%.2f,",
	       n, n ? (double)rtt[0] / 1000.0 : 0.0, pct(rtt, n, 50), pct(rtt, n, 90),
	       pct(rtt, n, 99), pct(rtt, n, 99.9), n ? (double)rtt[n - 1] / 1000.0 : 0.0,
	       n ? sum / (double)n / 1000.0 : 0.0);
	cpu_json(stdout, &c0, &c1);
	printf("}\n");
	free(rtt);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse(argc, argv, &o);
	return o.closed ? run_closed(&o) : run_pipelined(&o);
}
