/*
 * A thread sleeping in poll(2), select(2) or epoll_wait(2) on a socket must wake when its
 * socket becomes readable, whichever thread of the process looked at the network first.
 *
 *   xthread_wake poll|select|epoll ADDR PORT ROUNDS
 *
 * Listens on ADDR:PORT (TCP), accepts one connection, then a second thread serves it: it
 * sleeps in the named call (10 s at most) until the connection is readable, reads what came
 * and writes it back. Meanwhile the main thread sleeps in poll(2) on a UDP socket of its own
 * (100 ms at a time): every frame that arrives wakes both threads, and whichever polls the
 * stack first takes it off the AF_XDP ring.
 * The peer sends ROUNDS messages, each after the echo of the last. Prints "rounds N" and
 * exits 0 when the peer closed after ROUNDS echoes; 1 on any failure (with why). Bounded: 10 s
 * per sleep, and the main thread stops after 60 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *mode;
static int conn;
static atomic_int done;
static int rounds;

static int wait_readable(int fd)
{
	if (!strcmp(mode, "poll")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		return poll(&p, 1, 10000);
	}
	if (!strcmp(mode, "select")) {
		fd_set r;
		FD_ZERO(&r);
		FD_SET(fd, &r);
		struct timeval tv = {.tv_sec = 10};
		return select(fd + 1, &r, NULL, NULL, &tv);
	}
	static int ep = -1;
	if (ep < 0) {
		ep = epoll_create1(0);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -1;
	}
	struct epoll_event out;
	return epoll_wait(ep, &out, 1, 10000);
}

static void *serve(void *arg)
{
	(void)arg;
	char buf[4096];
	for (;;) {
		int r = wait_readable(conn);
		if (r < 0) {
			perror("wait");
			exit(1);
		}
		if (r == 0) {
			fprintf(stderr, "%s: not woken in 10 s after %d rounds\n", mode, rounds);
			exit(1);
		}
		ssize_t n = recv(conn, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			perror("recv");
			exit(1);
		}
		if (send(conn, buf, (size_t)n, 0) != n) {
			perror("send");
			exit(1);
		}
		rounds++;
	}
	atomic_store(&done, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: xthread_wake poll|select|epoll ADDR PORT ROUNDS\n");
		return 2;
	}
	mode = argv[1];
	int want = atoi(argv[4]);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
	if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1)
		return 2;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0) {
		perror("listen");
		return 1;
	}
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = a;
	ua.sin_port = 0;
	if (u < 0 || bind(u, (struct sockaddr *)&ua, sizeof(ua)) < 0) {
		perror("udp");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	conn = accept(l, NULL, NULL);
	if (conn < 0) {
		perror("accept");
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, serve, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd p = {.fd = u, .events = POLLIN}; /* nothing ever comes to it */
		if (poll(&p, 1, 100) < 0) {
			perror("poll");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!atomic_load(&done) && now.tv_sec - t0.tv_sec < 60);
	if (!atomic_load(&done)) {
		fprintf(stderr, "%s: the peer did not finish in 60 s (%d rounds)\n", mode, rounds);
		return 1;
	}
	pthread_join(t, NULL);
	printf("rounds %d\n", rounds);
	return rounds == want ? 0 : 1;
}
