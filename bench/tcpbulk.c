/*
 * tcpbulk: the kernel end of `make bench`'s TCP bulk transfers. The byte stream is the one
 * `sluice run --send` generates: byte i is i mod 251.
 *
 *   tcpbulk send --dst ADDR --port P --bytes N [--seconds S] [--chunk B] [--timeout T]
 *       connect, write the pattern in writes of B bytes (default 1 MiB) until N bytes are
 *       written or S seconds have passed, shutdown(SHUT_WR), read until the peer closes.
 *   tcpbulk sink --addr ADDR --port P [--timeout S] [--verify 0|1]
 *       listen, print "tcpbulk: listening" on stderr, accept one connection, read it to EOF
 *       comparing every byte with the pattern (--verify 0: count only), close.
 *
 * Either prints one JSON line on stdout. The rate of `send` runs from the end of the
 * handshake to the peer's close (the definition `sluice run --send` uses); the sink's from
 * accept to EOF. A socket call blocked for T seconds (default 60) fails the run. Exit status 0
 * on a clean transfer (for the sink: every byte as expected).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PERIOD 251

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
	fprintf(stderr, "usage: tcpbulk send --dst ADDR --port P --bytes N [--seconds S] "
			"[--chunk B] [--timeout T]\n"
			"       tcpbulk sink --addr ADDR --port P [--timeout S] [--verify 0|1]\n");
	return 2;
}

static int do_send(const struct sockaddr_in *sa, unsigned long long bytes, double seconds,
		   size_t chunk, double timeout)
{
	uint8_t *pat = pattern(chunk);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && timeout > 0) { /* a stalled receiver must not hang the bench */
		struct timeval tv = {.tv_sec = (time_t)timeout};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	double t0 = now();
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		fprintf(stderr, "tcpbulk: connect: %s\n", strerror(errno));
		return 1;
	}
	double t1 = now(), stop_at = seconds > 0 ? t1 + seconds : 0;
	unsigned long long sent = 0;
	uint64_t writes = 0;
	bool timed_out = false;
	while (sent < bytes) {
		size_t n = bytes - sent < chunk ? (size_t)(bytes - sent) : chunk;
		ssize_t w = write(fd, pat + sent % PERIOD, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "tcpbulk: write after %llu bytes: %s\n", sent,
				w < 0 ? strerror(errno) : "returned 0");
			return 1;
		}
		sent += (unsigned long long)w;
		writes++;
		if (stop_at && (writes & 7) == 0 && now() >= stop_at) {
			timed_out = sent < bytes;
			break;
		}
	}
	double t2 = now();
	if (shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "tcpbulk: shutdown: %s\n", strerror(errno));
		return 1;
	}
	/* The peer closes once it has read everything up to our FIN. */
	char buf[4096];
	unsigned long long back = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "tcpbulk: waiting for the peer's close: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		back += (unsigned long long)r;
	}
	double t3 = now();
	close(fd);
	double secs = t3 - t1;
	printf("{\"mode\":\"send\",\"bytes\":%llu,\"seconds\":%.6f,\"bits_per_s\":%.0f,"
	       "\"connect_s\":%.6f,\"write_s\":%.6f,\"drain_s\":%.6f,\"writes\":%llu,"
	       "\"chunk\":%zu,\"stopped_by_time\":%s,\"bytes_back\":%llu}\n",
	       sent, secs, secs > 0 ? (double)sent * 8 / secs : 0.0, t1 - t0, t2 - t1, t3 - t2,
	       (unsigned long long)writes, chunk, timed_out ? "true" : "false", back);
	return 0;
}

static int do_sink(const struct sockaddr_in *sa, double timeout, bool verify)
{
	const size_t chunk = 1 << 20;
	uint8_t *pat = pattern(chunk), *buf = malloc(chunk);
	int one = 1;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || !buf || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(lfd, 4) < 0) {
		fprintf(stderr, "tcpbulk: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "tcpbulk: listening\n");
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int pr = poll(&p, 1, timeout > 0 ? (int)(timeout * 1000) : -1);
	if (pr <= 0) {
		fprintf(stderr, "tcpbulk: no connection within %.1f s\n", timeout);
		return 1;
	}
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		fprintf(stderr, "tcpbulk: accept: %s\n", strerror(errno));
		return 1;
	}
	close(lfd);
	if (timeout > 0) { /* a stalled sender must not hang the bench */
		struct timeval tv = {.tv_sec = (time_t)timeout};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	double t0 = now();
	unsigned long long got = 0, bad = 0, first_bad = 0, reads = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf, chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "tcpbulk: read after %llu bytes: %s\n", got, strerror(errno));
			rc = 1;
			break;
		}
		if (r == 0)
			break;
		reads++;
		const uint8_t *want = pat + got % PERIOD;
		if (verify && memcmp(buf, want, (size_t)r) != 0) {
			for (ssize_t i = 0; i < r; i++) {
				if (buf[i] != want[i]) {
					if (!bad)
						first_bad = got + (unsigned long long)i;
					bad++;
				}
			}
		}
		got += (unsigned long long)r;
	}
	double t1 = now();
	close(fd);
	double secs = t1 - t0;
	printf("{\"mode\":\"sink\",\"bytes\":%llu,\"seconds\":%.6f,\"bits_per_s\":%.0f,"
	       "\"reads\":%llu,\"verified\":%s,\"bad_bytes\":%llu,\"first_bad\":%lld,"
	       "\"clean_eof\":%s}\n",
	       got, secs, secs > 0 ? (double)got * 8 / secs : 0.0, reads, verify ? "true" : "false", bad,
	       bad ? (long long)first_bad : -1LL, rc == 0 ? "true" : "false");
	return rc || bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *mode = argv[1], *addr = NULL;
	int port = 0;
	unsigned long long bytes = 0;
	double seconds = 0, timeout = 60;
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
			timeout = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--verify"))
			verify = atoi(argv[i + 1]) != 0;
		else if (!strcmp(argv[i], "--chunk"))
			chunk = (size_t)strtoull(argv[i + 1], NULL, 10);
		else
			return usage();
	}
	if (argc % 2)
		return usage();
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!addr || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || port < 1 || port > 65535 ||
	    chunk < 1 || chunk > (64u << 20))
		return usage();
	if (!strcmp(mode, "send") && bytes)
		return do_send(&sa, bytes, seconds, chunk, timeout);
	if (!strcmp(mode, "sink"))
		return do_sink(&sa, timeout, verify);
	return usage();
}
