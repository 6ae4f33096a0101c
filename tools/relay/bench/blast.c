/*
 * relay-blast IF DST_MAC SIZE SECONDS: sends SIZE-byte IPv4/UDP frames (Ethernet header
 * included) to DST_MAC on IF as fast as sendmmsg allows, for SECONDS, then prints one JSON
 * line (frames, seconds, pps, Gbit/s of frame bytes). The load generator of
 * tools/relay/bench/throughput.sh: a kernel UDP socket tops out below the relay's rate.
 * Every frame is the same valid datagram from 10.255.0.1 to 10.255.0.2 port 9 (discard).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: relay-blast IF DST_MAC SIZE SECONDS\n");
		return 2;
	}
	const char *ifname = argv[1];
	unsigned m[6];
	size_t size = strtoul(argv[3], NULL, 0);
	double secs = strtod(argv[4], NULL);
	if (sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
	    size < 60 || size > 9014 || secs <= 0) {
		fprintf(stderr, "relay-blast: bad arguments\n");
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "relay-blast: socket: %s\n", strerror(errno));
		return 1;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "relay-blast: %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex(ifname)};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "relay-blast: bind: %s\n", strerror(errno));
		return 1;
	}

	static uint8_t f[9014];
	for (int i = 0; i < 6; i++)
		f[i] = (uint8_t)m[i];
	memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *udp = ip + 20;
	size_t iplen = size - 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){10, 255, 0, 1, 10, 255, 0, 2}, 8);
	uint16_t c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = 0x30;
	udp[1] = 0x39;
	udp[3] = 9;
	udp[4] = (uint8_t)((iplen - 20) >> 8);
	udp[5] = (uint8_t)(iplen - 20);
	for (size_t i = 8; i < iplen - 20; i++)
		udp[i] = (uint8_t)i;
	/* UDP checksum 0: none (RFC 768), valid for IPv4. */

	struct iovec iov = {.iov_base = f, .iov_len = size};
	struct mmsghdr msg[BATCH];
	memset(msg, 0, sizeof(msg));
	for (int i = 0; i < BATCH; i++) {
		msg[i].msg_hdr.msg_iov = &iov;
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	uint64_t sent = 0, errors = 0;
	double t0 = now_s(), t = t0;
	while (t - t0 < secs) {
		int r = sendmmsg(fd, msg, BATCH, 0);
		if (r > 0)
			sent += (uint64_t)r;
		else
			errors++;
		t = now_s();
	}
	double el = t - t0;
	printf(
	    "{\"frames\":%llu,\"send_errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"gbps\":%.3f}\n",
	    (unsigned long long)sent, (unsigned long long)errors, el, (double)sent / el,
	    (double)sent * (double)size * 8 / el / 1e9);
	return 0;
}
