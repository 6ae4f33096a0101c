/*
 * An oracle for what the stack sends, independent of the code under test: it includes none of
 * user/wire and calls nothing of the stack. Checksums are summed here the slow, obvious way
 * (RFC 1071 §1: 16-bit big-endian words, odd byte padded with zero, end-around carry after
 * every add) and every length field is checked against the frame by this file's own reading
 * of the formats (RFC 826, RFC 791, RFC 8200 §3–4, RFC 792/4443, RFC 768, RFC 9293 §3.1,
 * RFC 7323, RFC 2018). Header-only; used by every harness in tests/fuzz/.
 *
 * ora_frame() checks one Ethernet frame the stack transmitted and aborts, saying why, when it
 * is malformed; on success it fills struct ora_pkt with what a TCP-level oracle needs.
 */
#ifndef SL_FUZZ_ORACLE_H
#define SL_FUZZ_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORA_FAIL(...)                                                                            \
	do {                                                                                     \
		fprintf(stderr, "oracle: " __VA_ARGS__);                                         \
		fputc('\n', stderr);                                                             \
		abort();                                                                         \
	} while (0)

static inline uint16_t ora_g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t ora_g32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void ora_p16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void ora_p32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One's-complement sum (not complemented) of len bytes continued from sum (16 bits). */
static inline uint16_t ora_sum(uint16_t sum, const uint8_t *p, size_t len)
{
	uint32_t s = sum;
	for (size_t i = 0; i < len; i += 2) {
		uint32_t w = (uint32_t)p[i] << 8;
		if (i + 1 < len)
			w |= p[i + 1];
		s += w;
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

static inline uint16_t ora_add16(uint16_t sum, uint16_t w)
{
	uint32_t s = (uint32_t)sum + w;
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/* Value for a checksum field over data whose field is zero: ~sum. */
static inline uint16_t ora_csum(const uint8_t *p, size_t len)
{
	return (uint16_t)~ora_sum(0, p, len);
}

/* Pseudo-header sums: IPv4 (RFC 768) from the 4-byte addresses at s and d; IPv6 (RFC 8200
 * §8.1) from 16-byte ones. */
static inline uint16_t ora_pseudo4(const uint8_t *s, const uint8_t *d, uint8_t proto, uint32_t len)
{
	uint16_t sum = ora_sum(0, s, 4);
	sum = ora_sum(sum, d, 4);
	sum = ora_add16(sum, proto);
	return ora_add16(sum, (uint16_t)len);
}
static inline uint16_t ora_pseudo6(const uint8_t *s, const uint8_t *d, uint8_t proto, uint32_t len)
{
	uint16_t sum = ora_sum(0, s, 16);
	sum = ora_sum(sum, d, 16);
	sum = ora_add16(sum, (uint16_t)(len >> 16));
	sum = ora_add16(sum, (uint16_t)len);
	return ora_add16(sum, proto);
}

/* --- TCP options ------------------------------------------------------------------------- */

struct ora_tcpopt {
	bool bad;	/* malformed: a length that runs off the end, below 2, wrong for its kind */
	int mss;	/* -1 absent */
	int wscale;	/* -1 absent, else the raw shift */
	bool sack_ok;
	bool ts;
	uint32_t tsval, tsecr;
	int nsack;	/* -1 absent (or malformed list, which the stack ignores), 0..4 blocks */
	uint32_t sack[4][2];
};

/* Parse TCP options (the bytes between the fixed header and the data offset). */
static inline struct ora_tcpopt ora_tcp_opts(const uint8_t *o, size_t len)
{
	struct ora_tcpopt r = {.mss = -1, .wscale = -1, .nsack = -1};
	size_t i = 0;
	while (i < len) {
		uint8_t k = o[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (len - i < 2) {
			r.bad = true;
			return r;
		}
		size_t l = o[i + 1];
		if (l < 2 || l > len - i) {
			r.bad = true;
			return r;
		}
		const uint8_t *v = o + i + 2;
		switch (k) {
		case 2:
			if (l != 4)
				r.bad = true;
			else
				r.mss = ora_g16(v);
			break;
		case 3:
			if (l != 3)
				r.bad = true;
			else
				r.wscale = v[0];
			break;
		case 4:
			if (l != 2)
				r.bad = true;
			else
				r.sack_ok = true;
			break;
		case 8:
			if (l != 10) {
				r.bad = true;
			} else {
				r.ts = true;
				r.tsval = ora_g32(v);
				r.tsecr = ora_g32(v + 4);
			}
			break;
		case 5:
			if (l >= 10 && l <= 34 && (l - 2) % 8 == 0) {
				r.nsack = (int)((l - 2) / 8);
				for (int b = 0; b < r.nsack; b++) {
					r.sack[b][0] = ora_g32(v + 8 * b);
					r.sack[b][1] = ora_g32(v + 8 * b + 4);
				}
			}
			break;
		default:
			break;
		}
		if (r.bad)
			return r;
		i += l;
	}
	return r;
}

/* --- a transmitted frame ----------------------------------------------------------------- */

struct ora_pkt {
	uint16_t ethertype;
	int family; /* 4 or 6 for IP, else 0 */
	uint8_t proto;
	bool fragment;
	const uint8_t *src, *dst; /* IP addresses in the frame */
	const uint8_t *l4;
	size_t l4len;
	/* TCP (proto 6, not a fragment) */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	size_t dlen;
	struct ora_tcpopt opt;
};

static inline void ora_l4(struct ora_pkt *k, uint16_t pseudo)
{
	const uint8_t *l4 = k->l4;
	size_t n = k->l4len;
	switch (k->proto) {
	case 1:	 /* ICMP (RFC 792): no pseudo-header */
	case 58: /* ICMPv6 (RFC 4443 §2.3): with one */
		if (n < 8)
			ORA_FAIL("ICMP message of %zu bytes", n);
		if (ora_sum(k->proto == 1 ? 0 : pseudo, l4, n) != 0xffff)
			ORA_FAIL("ICMP checksum wrong (type %u code %u, %zu bytes)", l4[0], l4[1], n);
		return;
	case 17:
		if (n < 8)
			ORA_FAIL("UDP datagram of %zu bytes", n);
		if (ora_g16(l4 + 4) != n)
			ORA_FAIL("UDP length field %u, datagram %zu", ora_g16(l4 + 4), n);
		if (ora_g16(l4 + 6) == 0)
			ORA_FAIL("UDP without a checksum"); /* the stack always computes one */
		if (ora_sum(pseudo, l4, n) != 0xffff)
			ORA_FAIL("UDP checksum wrong");
		return;
	case 6: {
		if (n < 20)
			ORA_FAIL("TCP segment of %zu bytes", n);
		size_t off = (size_t)(l4[12] >> 4) * 4;
		if (off < 20 || off > n)
			ORA_FAIL("TCP data offset %zu in a segment of %zu", off, n);
		if (ora_sum(pseudo, l4, n) != 0xffff)
			ORA_FAIL("TCP checksum wrong");
		k->sport = ora_g16(l4);
		k->dport = ora_g16(l4 + 2);
		k->seq = ora_g32(l4 + 4);
		k->ack = ora_g32(l4 + 8);
		k->flags = l4[13];
		k->win = ora_g16(l4 + 14);
		k->dlen = n - off;
		k->opt = ora_tcp_opts(l4 + 20, off - 20);
		if (k->opt.bad)
			ORA_FAIL("TCP options malformed");
		bool syn = k->flags & 0x02;
		if (!syn && (k->opt.mss >= 0 || k->opt.wscale >= 0 || k->opt.sack_ok))
			ORA_FAIL("SYN-only option on a segment without SYN");
		if (k->opt.wscale > 14)
			ORA_FAIL("window scale %d above 14 (RFC 7323 §2.3)", k->opt.wscale);
		if ((k->flags & 0x04) && k->dlen)
			ORA_FAIL("RST with data"); /* allowed by RFC 9293, never sent by us */
		if (!(k->flags & 0x10) && !(k->flags & 0x04) && !syn)
			ORA_FAIL("segment without ACK, SYN or RST (flags %#x)", k->flags);
		return;
	}
	default:
		return;
	}
}

/* Check one transmitted frame of len bytes, at most mtu bytes of IP; fill *k. */
static inline void ora_frame(const uint8_t *p, size_t len, unsigned mtu, struct ora_pkt *k)
{
	memset(k, 0, sizeof *k);
	if (len < 14)
		ORA_FAIL("frame of %zu bytes", len);
	if (p[6] & 1)
		ORA_FAIL("multicast source MAC");
	if (len - 14 > mtu)
		ORA_FAIL("frame of %zu bytes beyond the MTU %u", len, mtu);
	k->ethertype = ora_g16(p + 12);
	const uint8_t *ip = p + 14;
	size_t n = len - 14;
	if (k->ethertype == 0x0806) {
		if (n < 28)
			ORA_FAIL("ARP of %zu bytes", n);
		if (ora_g16(ip) != 1 || ora_g16(ip + 2) != 0x0800 || ip[4] != 6 || ip[5] != 4)
			ORA_FAIL("ARP not Ethernet/IPv4");
		if (ora_g16(ip + 6) != 1 && ora_g16(ip + 6) != 2)
			ORA_FAIL("ARP op %u", ora_g16(ip + 6));
		if (memcmp(ip + 8, p + 6, 6))
			ORA_FAIL("ARP sender MAC is not the frame's source");
		return;
	}
	if (k->ethertype == 0x0800) {
		k->family = 4;
		if (n < 20 || ip[0] >> 4 != 4)
			ORA_FAIL("IPv4 header short or version %u", n ? ip[0] >> 4 : 0);
		size_t hl = (size_t)(ip[0] & 15) * 4, tot = ora_g16(ip + 2);
		if (hl < 20 || tot < hl || tot > n)
			ORA_FAIL("IPv4 IHL %zu total length %zu in %zu bytes", hl, tot, n);
		if (ora_sum(0, ip, hl) != 0xffff)
			ORA_FAIL("IPv4 header checksum wrong");
		if (ip[8] == 0)
			ORA_FAIL("IPv4 TTL 0");
		uint16_t fr = ora_g16(ip + 6);
		if (fr & 0x8000)
			ORA_FAIL("IPv4 reserved flag set");
		k->proto = ip[9];
		k->src = ip + 12;
		k->dst = ip + 16;
		k->l4 = ip + hl;
		k->l4len = tot - hl;
		k->fragment = (fr & 0x3fff) != 0;
		if (k->fragment) {
			/* RFC 791 §3.2: all but the last fragment carry a non-zero multiple of 8. */
			if ((fr & 0x2000) && (k->l4len == 0 || k->l4len % 8))
				ORA_FAIL("IPv4 fragment of %zu bytes with MF", k->l4len);
			if (hl + (size_t)(fr & 0x1fff) * 8 + k->l4len > 65535)
				ORA_FAIL("IPv4 fragment beyond 65535");
			return;
		}
		ora_l4(k, ora_pseudo4(k->src, k->dst, k->proto, (uint32_t)k->l4len));
		return;
	}
	if (k->ethertype == 0x86dd) {
		k->family = 6;
		if (n < 40 || ip[0] >> 4 != 6)
			ORA_FAIL("IPv6 header short or version wrong");
		size_t end = 40 + (size_t)ora_g16(ip + 4);
		if (end > n)
			ORA_FAIL("IPv6 payload length %zu in %zu bytes", end - 40, n - 40);
		if (ip[7] == 0)
			ORA_FAIL("IPv6 hop limit 0");
		if (ip[8] == 0xff)
			ORA_FAIL("IPv6 multicast source");
		k->src = ip + 8;
		k->dst = ip + 24;
		uint8_t nh = ip[6];
		size_t off = 40;
		while (nh == 0 || nh == 43 || nh == 60 || nh == 44) {
			if (off + 8 > end)
				ORA_FAIL("IPv6 extension header past the payload");
			if (nh == 44) {
				uint16_t fo = ora_g16(ip + off + 2);
				size_t flen = end - off - 8;
				if ((fo & 1) && (flen == 0 || flen % 8))
					ORA_FAIL("IPv6 fragment of %zu bytes with M", flen);
				if ((size_t)(fo & 0xfff8) + flen > 65535)
					ORA_FAIL("IPv6 fragment beyond 65535");
				if (!(fo & 1) && !(fo & 0xfff8))
					ORA_FAIL("IPv6 atomic fragment (RFC 8021)");
				k->fragment = true;
				k->proto = ip[off];
				return;
			}
			size_t hl = 8 + 8 * (size_t)ip[off + 1];
			nh = ip[off];
			off += hl;
			if (off > end)
				ORA_FAIL("IPv6 extension header past the payload");
		}
		k->proto = nh;
		k->l4 = ip + off;
		k->l4len = end - off;
		if (nh == 58 && k->l4len >= 1) {
			uint8_t t = k->l4[0];
			if (t >= 133 && t <= 137 && ip[7] != 255)
				ORA_FAIL("Neighbor Discovery with hop limit %u (RFC 4861)", ip[7]);
			if (t < 128 && end > 1280)
				ORA_FAIL("ICMPv6 error of %zu bytes beyond 1280 (RFC 4443 §2.4)", end);
		}
		ora_l4(k, ora_pseudo6(k->src, k->dst, nh, (uint32_t)k->l4len));
		return;
	}
	ORA_FAIL("EtherType %#06x", k->ethertype);
}

#endif
