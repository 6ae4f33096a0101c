/*
 * bench_addr.h: the address parsing the bench programs share (udpgen, kecho, tcpbulk, khttp).
 * An address that parses as IPv6 is IPv6 (AF_INET6), anything else must be dotted IPv4
 * (AF_INET): the same option takes either family, and IPv4 behaves as before.
 */
#ifndef SLUICE_BENCH_ADDR_H
#define SLUICE_BENCH_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct bench_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family; /* AF_INET or AF_INET6 */
};

/* ADDR (either family, no brackets) and PORT into *a; 0 on success, -1 when ADDR is neither. */
static inline int bench_addr_parse(struct bench_addr *a, const char *s, int port)
{
	memset(a, 0, sizeof(*a));
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	if (s && inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*s6);
		a->family = AF_INET6;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	if (s && inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*s4);
		a->family = AF_INET;
		return 0;
	}
	return -1;
}

/* The wildcard address of a's family with PORT (a local bind). */
static inline struct bench_addr bench_addr_any(const struct bench_addr *a, int port)
{
	struct bench_addr r;
	bench_addr_parse(&r, a->family == AF_INET6 ? "::" : "0.0.0.0", port);
	return r;
}

/* "a.b.c.d" for IPv4, "x:y::z" for IPv6 (no brackets, no port). */
static inline const char *bench_addr_str(const struct bench_addr *a, char *buf, size_t n)
{
	const void *p = a->family == AF_INET6
			    ? (const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr
			    : (const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	if (!inet_ntop(a->family, p, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

/* "a.b.c.d:P" for IPv4, "[x:y::z]:P" for IPv6, from the address as given. */
static inline const char *bench_hostport(const char *addr, int port, char *buf, size_t n)
{
	snprintf(buf, n, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
	return buf;
}

#endif
