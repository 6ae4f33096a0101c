// SPDX-License-Identifier: GPL-2.0
/*
 * A SYN flood for tests/net/test_tcp_synflood.sh: COUNT TCP SYNs to DST_IP:DST_PORT, written
 * as raw Ethernet frames to an AF_PACKET socket on IFACE (the kernel peer's veth; the frames
 * can only reach the other end of that veth). Each SYN has a random source address in
 * 198.18.0.0/15 (RFC 2544's benchmarking range: never a real host, never the test subnet),
 * a random source port and ISN, and the options a Linux client sends (MSS, SACK-permitted,
 * timestamps, window scale). IPv4 and TCP checksums are complete.
 *
 * Bounded in packets and seconds: stops after COUNT frames or MAX_SECONDS, whichever comes
 * first, and paces itself to RATE frames per second (a veth with XDP on the far end queues
 * at most 256 frames; beyond that the kernel drops them, which the test accounts for).
 *
 *   synflood IFACE DST_MAC DST_IP DST_PORT COUNT RATE MAX_SECONDS [SEED]
 *
 * Prints "sent N frames in T s, E send errors" and exits 0 when all COUNT were sent.
 *
 *   cc -O2 -Wall -Wextra -o synflood synflood.c
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
#include <time.h>
#include <unistd.h>

#define FRAME_LEN (14 + 20 + 40) /* Ethernet, IPv4, TCP with 20 bytes of options */
#define BATCH 16

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: plenty for addresses, ports and ISNs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
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

/* One SYN from a random source into f (FRAME_LEN bytes; the Ethernet header is in place). */
static void build_syn(uint8_t *f, uint32_t dst_ip, uint16_t dport)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint64_t r = rnd();
	uint32_t src = (198u << 24 | 18u << 16) | (uint32_t)(r & 0x1ffff); /* 198.18.0.0/15 */
	if ((src & 0xffff) == 0 || (src & 0xffff) == 0xffff)
		src ^= 1; /* no .0.0 / .255.255 */
	uint16_t sport = (uint16_t)(1024 + (r >> 17) % 64512);
	uint32_t isn = (uint32_t)rnd();
	uint32_t tsval = (uint32_t)rnd();

	memset(ip, 0, 20 + 40);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 40);
	put16(ip + 4, (uint16_t)(r >> 40));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	put32(ip + 12, src);
	put32(ip + 16, dst_ip);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, isn);
	tcp[12] = 10 << 4; /* 40 bytes */
	tcp[13] = 0x02;	   /* SYN */
	put16(tcp + 14, 64240);
	uint8_t *o = tcp + 20; /* Linux's layout: MSS, SACK-permitted, TS, NOP, WS */
	o[0] = 2, o[1] = 4, put16(o + 2, 1460);
	o[4] = 4, o[5] = 2;
	o[6] = 8, o[7] = 10, put32(o + 8, tsval), put32(o + 12, 0);
	o[16] = 1;
	o[17] = 3, o[18] = 3, o[19] = 7;

	uint8_t pseudo[12];
	put32(pseudo, src);
	put32(pseudo + 4, dst_ip);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put16(pseudo + 10, 40);
	put16(tcp + 16, csum_fold(csum_add(csum_add(0, pseudo, 12), tcp, 40)));
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: synflood IFACE DST_MAC DST_IP DST_PORT COUNT RATE "
				"MAX_SECONDS [SEED]\n");
		return 2;
	}
	const char *ifname = argv[1];
	uint8_t dmac[6], smac[6];
	struct in_addr dst;
	if (parse_mac(argv[2], dmac) < 0 || inet_pton(AF_INET, argv[3], &dst) != 1) {
		fprintf(stderr, "synflood: bad MAC or address\n");
		return 2;
	}
	uint16_t dport = (uint16_t)atoi(argv[4]);
	long count = atol(argv[5]);
	double rate = atof(argv[6]), max_s = atof(argv[7]);
	rng_state = argc > 8 ? strtoull(argv[8], NULL, 0) : (uint64_t)time(NULL) ^ getpid();
	if (!rng_state)
		rng_state = 1;
	if (count <= 0 || rate <= 0 || max_s <= 0) {
		fprintf(stderr, "synflood: COUNT, RATE and MAX_SECONDS must be positive\n");
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, receive nothing */
	if (fd < 0) {
		perror("synflood: socket(AF_PACKET)");
		return 1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("synflood: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	struct sockaddr_ll sll = {0};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dmac, 6);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "synflood: no interface %s\n", ifname);
		return 1;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("synflood: bind");
		return 1;
	}

	uint8_t f[FRAME_LEN];
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, ETH_P_IP);

	long sent = 0, errors = 0;
	double t0 = now_s(), t = t0;
	while (sent < count && (t = now_s()) - t0 < max_s) {
		/* pace: the batch that starts frame `sent` is due at t0 + sent / rate */
		double due = t0 + sent / rate;
		if (due > t) {
			double d = due - t;
			struct timespec ts = {(time_t)d, (long)((d - (time_t)d) * 1e9)};
			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < BATCH && sent < count; i++) {
			build_syn(f, ntohl(dst.s_addr), dport);
			if (send(fd, f, sizeof(f), 0) == (ssize_t)sizeof(f)) {
				sent++;
			} else {
				errors++;
				if (errno != ENOBUFS && errno != EAGAIN) {
					perror("synflood: send");
					return 1;
				}
				struct timespec ts = {0, 100000};
				nanosleep(&ts, NULL);
				break;
			}
		}
	}
	printf("sent %ld frames in %.2f s, %ld send errors\n", sent, now_s() - t0, errors);
	close(fd);
	return sent == count ? 0 : 1;
}
