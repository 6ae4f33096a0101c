// SPDX-License-Identifier: GPL-2.0
/*
 * A UDP flood for tests/net/test_livelock.sh: up to COUNT UDP datagrams of LEN payload bytes
 * from SRC_IP:SRC_PORT to DST_IP:DST_PORT, written as raw Ethernet frames to an AF_PACKET
 * socket on IFACE (the kernel peer's veth: the frames can only reach the other end of that
 * veth) with PACKET_QDISC_BYPASS, as fast as the socket takes them, no pacing. The point is
 * to arrive faster than the stack can echo. IPv4 and UDP checksums are complete; the IPv4
 * identification and the first payload bytes count up so no two frames are alike.
 *
 * Bounded in packets and seconds: stops after COUNT frames or MAX_SECONDS, whichever comes
 * first, or at SIGTERM/SIGINT (the test stops it by its PID once it has measured). A send the kernel refuses (ENOBUFS, EAGAIN: the veth's queue towards the far end
 * is full) is counted and retried after a short pause.
 *
 *   flood IFACE DST_MAC SRC_IP SRC_PORT DST_IP DST_PORT LEN COUNT MAX_SECONDS
 *
 * Prints "sent N frames in T s (R pps), E send errors" and exits 0.
 *
 *   cc -O2 -Wall -Wextra -o flood flood.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 1472

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* Datagram number seq into f (the Ethernet header is in place); returns the frame length. */
static size_t build_udp(uint8_t *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
			size_t len, uint32_t seq)
{
	uint8_t *ip = f + 14, *udp = ip + 20, *pl = udp + 8;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + len));
	put16(ip + 4, (uint16_t)seq);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + len));
	for (size_t i = 0; i < len; i++)
		pl[i] = (uint8_t)(i < 4 ? seq >> (24 - 8 * i) : i);
	uint8_t pseudo[12];
	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	put16(pseudo + 10, (uint16_t)(8 + len));
	uint16_t c = csum_fold(csum_add(csum_add(0, pseudo, 12), udp, 8 + len));
	put16(udp + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
	return 14 + 28 + len;
}

int main(int argc, char **argv)
{
	if (argc != 10) {
		fprintf(stderr, "usage: flood IFACE DST_MAC SRC_IP SRC_PORT DST_IP DST_PORT LEN "
				"COUNT MAX_SECONDS\n");
		return 2;
	}
	const char *ifname = argv[1];
	uint8_t dmac[6], smac[6];
	struct in_addr src, dst;
	if (parse_mac(argv[2], dmac) < 0 || inet_pton(AF_INET, argv[3], &src) != 1 ||
	    inet_pton(AF_INET, argv[5], &dst) != 1) {
		fprintf(stderr, "flood: bad MAC or address\n");
		return 2;
	}
	uint16_t sport = (uint16_t)atoi(argv[4]), dport = (uint16_t)atoi(argv[6]);
	long len = atol(argv[7]), count = atol(argv[8]);
	double max_s = atof(argv[9]);
	if (len < 4 || len > MAX_PAYLOAD || count <= 0 || max_s <= 0) {
		fprintf(stderr, "flood: LEN 4..%d, COUNT and MAX_SECONDS positive\n", MAX_PAYLOAD);
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, receive nothing */
	if (fd < 0) {
		perror("flood: socket(AF_PACKET)");
		return 1;
	}
	int one = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		perror("flood: PACKET_QDISC_BYPASS (going through the qdisc)");
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("flood: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	struct sockaddr_ll sll = {0};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dmac, 6);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "flood: no interface %s\n", ifname);
		return 1;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("flood: bind");
		return 1;
	}

	uint8_t f[14 + 28 + MAX_PAYLOAD];
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, ETH_P_IP);

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	long sent = 0, errors = 0;
	double t0 = now_s(), t = t0;
	while (sent < count && !stop) {
		/* the clock is read every 256 frames: cheap, and bounds the run within ~1 ms */
		if ((sent & 255) == 0 && (t = now_s()) - t0 >= max_s)
			break;
		size_t n = build_udp(f, ntohl(src.s_addr), sport, ntohl(dst.s_addr), dport,
				     (size_t)len, (uint32_t)sent);
		if (send(fd, f, n, 0) == (ssize_t)n) {
			sent++;
			continue;
		}
		errors++;
		if (errno != ENOBUFS && errno != EAGAIN) {
			perror("flood: send");
			return 1;
		}
		if ((t = now_s()) - t0 >= max_s)
			break;
		struct timespec ts = {0, 20000};
		nanosleep(&ts, NULL);
	}
	t = now_s() - t0;
	printf("sent %ld frames in %.2f s (%.0f pps), %ld send errors\n", sent, t,
	       t > 0 ? sent / t : 0.0, errors);
	close(fd);
	return 0;
}
