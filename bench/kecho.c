/*
 * kecho: the kernel baseline of `make bench`. One UDP socket bound to ADDR:PORT echoes every
 * datagram back to its sender, in batches: recvmmsg (MSG_WAITFORONE, up to 64 at once) and one
 * sendmmsg for the lot. Stops on SIGINT/SIGTERM or after --duration seconds and prints one JSON
 * line with its counts. ADDR may be IPv6 (an AF_INET6 socket then), otherwise IPv4.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_addr.h"

#define BATCH 64
#define BUF 2048

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	int port = 7777;
	double duration = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--addr"))
			addr = argv[i + 1];
		else if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--duration"))
			duration = atof(argv[i + 1]);
		else
			addr = NULL, i = argc;
	}
	struct bench_addr sa;
	if (!addr || bench_addr_parse(&sa, addr, port) < 0 || port < 1 || port > 65535) {
		fprintf(stderr, "usage: kecho --addr ADDR|ADDR6 [--port P] [--duration SEC]\n");
		return 2;
	}
	char hp[INET6_ADDRSTRLEN + 16];
	bench_hostport(addr, port, hp, sizeof(hp));
	int fd = socket(sa.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 4 << 20;
	/* FORCE (root) so net.core.rmem_max does not cap the buffer */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* Wake up now and then to notice the deadline and signals. */
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa.ss, sa.len) < 0) {
		fprintf(stderr, "kecho: cannot bind %s: %s\n", hp, strerror(errno));
		return 1;
	}
	struct sigaction act = {.sa_handler = on_signal}; /* no SA_RESTART: recvmmsg returns */
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	static uint8_t buf[BATCH][BUF];
	struct sockaddr_storage from[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr m[BATCH];
	uint64_t rx = 0, tx = 0, tx_err = 0, calls = 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double end = duration > 0 ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + duration : 0;
	fprintf(stderr, "kecho: serving %s\n", hp);
	while (!stop) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){buf[i], BUF};
			m[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
						       .msg_namelen = sizeof(from[i]),
						       .msg_iov = &iov[i],
						       .msg_iovlen = 1};
		}
		int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);
		if (end > 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 >= end)
				stop = 1;
		}
		if (n <= 0)
			continue;
		calls++;
		rx += (uint64_t)n;
		/* Echo: same buffers, same addresses, each datagram its received length. */
		for (int i = 0; i < n; i++)
			iov[i].iov_len = m[i].msg_len;
		int done = 0;
		while (done < n) {
			int r = sendmmsg(fd, m + done, (unsigned)(n - done), 0);
			if (r <= 0) {
				tx_err += (uint64_t)(n - done);
				break;
			}
			done += r;
		}
		tx += (uint64_t)done;
	}
	printf("{\"rx\":%llu,\"tx\":%llu,\"tx_errors\":%llu,\"recv_calls\":%llu}\n",
	       (unsigned long long)rx, (unsigned long long)tx, (unsigned long long)tx_err,
	       (unsigned long long)calls);
	close(fd);
	return 0;
}
