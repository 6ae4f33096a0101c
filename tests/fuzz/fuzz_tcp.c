/*
 * Stateful TCP: a fake peer on the far end of the pipe opens a connection to a fresh stack
 * (port 80) over IPv4 or IPv6, completes the handshake, and then the input drives it.
 *
 * Input: a 5-byte header, then 6-byte segment descriptions.
 *   header  h0 bit 0: IPv6; bit 1: SACK-permitted; bit 2: timestamps; bit 3: window scale
 *           (shift h1); bit 4: the application echoes what it reads
 *           h2 h3: MSS option (0: none)      h4: the peer's initial window / 256
 *   segment b0 & 7: 0 data, 1 ACK, 2 FIN (with data), 3 RST, 4 SYN, 5 raw flags b1,
 *           6 application action b1 (write b3·16 bytes, write nodelay, shut WR, close,
 *           abort, shut RD), 7 time passes ((b5 + 1)·10 ms, or b5 s when b1 is odd)
 *           b0 bit 3: PSH; bit 4: no timestamp option; bit 5: a SACK block (from b5)
 *           b1: sequence offset (int8 · 16) from the peer's next sequence number
 *           b2: ack offset (int8) below the highest sequence number the stack has sent
 *           b3: data length / 8      b4: window / 256 (before scaling)   b5: see above
 * Offsets are relative to the connection's current sequence numbers, so most inputs are in
 * window and reach deep states.
 *
 * Every frame the stack sends is judged by tests/fuzz/oracle.h, and its TCP segments by
 * invariants written here: data only within the right edge of a window the peer offered
 * (one byte beyond for a zero-window probe), no segment larger than the peer's MSS less the
 * options it carries (RFC 9293 §3.7.1, RFC 6691; the stack's floor of 64 bytes aside), no ACK
 * of a sequence number the peer never sent, timestamps on every segment when negotiated and
 * never otherwise (RFC 7323 §3.2), SACK blocks only when negotiated (RFC 2018 §2), the
 * bytes of the stream what the application wrote, and what the application reads exactly
 * the bytes the peer sent, in order. Every frame is back on its free list at close.
 *
 * The right edge is the larger of the highest one the peer offered (SEG.ACK + SEG.WND) and
 * SND.UNA + SND.WND as RFC 9293 §3.10.7.4 computes them (SND.WL1/WL2 rule), modelled from
 * the segments that fall in the receive window the stack last advertised and carry
 * timestamps when negotiated; old data resent past a window that shrank is not judged.
 * FUZZ_TRACE=1 prints every segment both ways, for replaying a crash.
 */
#include "sluice/sluice.h"
#include "fuzz/oracle.h"

#define SPORT 80
#define PPORT 40001
#define MTU 1500

/* The byte at sequence number s of each direction's stream: every (re)transmission of a
 * sequence number carries the same byte, so overlaps and reassembly can be checked. */
static inline uint8_t peer_byte(uint32_t s)
{
	return (uint8_t)((s * 2654435761u) >> 24);
}
static inline uint8_t stack_byte(uint32_t s)
{
	return (uint8_t)((s * 40503u) >> 8 ^ s);
}

static bool lt32(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static bool le32(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

struct fx {
	struct sl_dev *peer, *dev;
	struct sl_stack *st;
	uint64_t now;
	bool v6, echo;
	uint8_t pip[16], sip[16]; /* addresses: peer, stack (IPv4 in the first 4 bytes) */
	uint8_t pmac[6], smac[6];
	/* The peer's side. */
	uint32_t snd_nxt, snd_max; /* next new sequence number; highest sent + 1 */
	uint16_t mss;		   /* what the peer's SYN said (0: none) */
	int ws;			   /* the shift the peer announced, -1 none */
	bool sack, ts;		   /* offered */
	uint32_t tsval;
	/* What the peer's SYNs offered (the last 64) (a SYN sent with raw flags offers nothing), by
	 * sequence number: a SYN-ACK answers one of them. */
	struct offer {
		uint32_t seq;
		uint16_t mss;
		int ws;
		bool sack, ts;
	} offers[64];
	unsigned noffers;
	uint16_t cur_mss; /* the MSS option of the SYN the last SYN-ACK answered (0: none) */
	/* What the handshake agreed (from the SYN-ACK). */
	bool synack_seen, ws_ok, ts_ok, sack_ok;
	uint32_t irs;	     /* the stack's ISS */
	uint32_t smax;	     /* highest sequence number the stack has sent + 1 */
	uint32_t ts_recent;  /* the stack's last TSval */
	uint32_t edge;	     /* the highest right edge the peer has offered */
	bool edge_set;
	/* RFC 9293 §3.10.7.4's send window as the peer can predict it: SND.UNA (the highest
	 * acceptable ACK: an upper bound), SND.WND, SND.WL1, SND.WL2 from the segments that
	 * fall in the receive window the stack last advertised. */
	uint32_t una, wnd, wl1, wl2;
	uint32_t rcv_nxt, rcv_wnd; /* the stack's last ACK and window (scaled) */
	uint8_t ws_stack;	   /* the shift of the stack's SYN-ACK */
	uint8_t ws_peer;	   /* the shift of the peer's windows (RFC 7323 §2.3: at most 14) */
	uint32_t synack_ack; /* the ack of the last SYN-ACK: the peer's ISS + 1 */
	/* The application. */
	struct sl_tcp_flow *flow;
	bool accepted, closed;
	uint32_t rd_seq, wr_seq; /* next sequence number to read / to write */
};
static struct fx F;
static int trace = -1; /* FUZZ_TRACE=1 in the environment: print every segment */

static void tr(const char *dir, uint32_t seq, uint32_t ack, uint8_t fl, uint32_t win, size_t dlen)
{
	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;
	if (trace)
		fprintf(stderr, "%8.3f %s seq %u ack %u flags %02x win %u len %zu\n", F.now / 1e9,
			dir, seq, ack, fl, win, dlen);
}

/* --- the application ------------------------------------------------------------------- */

static void app_write(size_t n, bool nodelay)
{
	static uint8_t b[65536];
	if (!F.flow || n > sizeof b)
		return;
	for (size_t i = 0; i < n; i++)
		b[i] = stack_byte(F.wr_seq + (uint32_t)i);
	ssize_t w = nodelay ? sl_tcp_write_nodelay(F.flow, b, n) : sl_tcp_write(F.flow, b, n);
	if (w > 0)
		F.wr_seq += (uint32_t)w;
}

static void on_readable(void *arg, struct sl_tcp_flow *f)
{
	uint8_t buf[4096];
	ssize_t n;
	while ((n = sl_tcp_read(f, buf, sizeof buf)) > 0) {
		if (f != F.flow)
			continue; /* an older connection's: not followed */
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != peer_byte(F.rd_seq + (uint32_t)i))
				ORA_FAIL("application read %#x at sequence %u, the peer sent %#x",
					 buf[i], F.rd_seq + (uint32_t)i,
					 peer_byte(F.rd_seq + (uint32_t)i));
		F.rd_seq += (uint32_t)n;
		if (F.echo)
			app_write((size_t)n, false);
	}
}

static void on_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	if (f == F.flow)
		F.closed = true;
}

static const struct sl_tcp_callbacks cbs = {.on_readable = on_readable, .on_closed = on_closed};

static void on_accept(void *arg, struct sl_tcp_flow *f)
{
	sl_tcp_set_callbacks(f, &cbs, NULL);
	F.flow = f;
	F.accepted = true;
	F.closed = false;
	F.rd_seq = F.synack_ack;
	F.wr_seq = F.irs + 1;
}

/* --- frames from the peer -------------------------------------------------------------- */

static void send_frame(const uint8_t *b, size_t len)
{
	struct sl_frame f;
	if (F.peer->ops->alloc(F.peer, &f))
		abort();
	memcpy(f.data, b, len);
	f.len = (uint32_t)len;
	F.peer->ops->tx(F.peer, &f);
	F.peer->ops->flush(F.peer, F.now);
}

/* Ethernet + IP header for an L4 payload of l4len bytes; returns the L4 offset. */
static size_t ip_hdr(uint8_t *b, uint8_t proto, size_t l4len, const uint8_t *dst, uint8_t hlim)
{
	memcpy(b, F.smac, 6);
	memcpy(b + 6, F.pmac, 6);
	uint8_t *ip = b + 14;
	if (!F.v6) {
		ora_p16(b + 12, 0x0800);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ora_p16(ip + 2, (uint16_t)(20 + l4len));
		ora_p16(ip + 4, (uint16_t)F.now);
		ora_p16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, F.pip, 4);
		memcpy(ip + 16, dst, 4);
		ora_p16(ip + 10, ora_csum(ip, 20));
		return 34;
	}
	ora_p16(b + 12, 0x86dd);
	ora_p32(ip, 6u << 28);
	ora_p16(ip + 4, (uint16_t)l4len);
	ip[6] = proto;
	ip[7] = hlim;
	memcpy(ip + 8, F.pip, 16);
	memcpy(ip + 24, dst, 16);
	return 54;
}

static uint16_t l4_pseudo(uint8_t proto, size_t l4len, const uint8_t *dst)
{
	return F.v6 ? ora_pseudo6(F.pip, dst, proto, (uint32_t)l4len)
		    : ora_pseudo4(F.pip, dst, proto, (uint32_t)l4len);
}

struct peer_seg {
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win; /* the field, before scaling */
	size_t dlen;
	bool no_ts, syn_opts;
	int nsack;
	uint32_t sack[2];
};

static void send_seg(const struct peer_seg *s)
{
	static uint8_t b[1600];
	uint8_t opt[40];
	size_t ol = 0;
	if (s->syn_opts) {
		if (F.mss) {
			opt[ol++] = 2, opt[ol++] = 4;
			ora_p16(opt + ol, F.mss);
			ol += 2;
		}
		if (F.ws >= 0)
			opt[ol++] = 1, opt[ol++] = 3, opt[ol++] = 3, opt[ol++] = (uint8_t)F.ws;
		if (F.sack)
			opt[ol++] = 1, opt[ol++] = 1, opt[ol++] = 4, opt[ol++] = 2;
	}
	bool put_ts = (s->syn_opts ? F.ts : F.ts_ok) && !s->no_ts;
	if (put_ts) {
		opt[ol++] = 1, opt[ol++] = 1, opt[ol++] = 8, opt[ol++] = 10;
		ora_p32(opt + ol, ++F.tsval);
		ora_p32(opt + ol + 4, (s->flags & 0x10) ? F.ts_recent : 0);
		ol += 8;
	}
	if (s->nsack) {
		opt[ol++] = 1, opt[ol++] = 1, opt[ol++] = 5, opt[ol++] = 10;
		ora_p32(opt + ol, s->sack[0]);
		ora_p32(opt + ol + 4, s->sack[1]);
		ol += 8;
	}
	if (s->flags & 0x02) {
		/* A SYN at a sequence number already offered adds to that offer. */
		struct offer *o = NULL;
		for (unsigned i = 0; i < 64 && i < F.noffers; i++)
			if (F.offers[i].seq == s->seq)
				o = &F.offers[i];
		unsigned mss = s->syn_opts && F.mss ? F.mss : 536;
		if (o) {
			o->mss = o->mss > mss ? o->mss : (uint16_t)mss;
			if (s->syn_opts && F.ws > o->ws)
				o->ws = F.ws;
			o->sack |= s->syn_opts && F.sack;
			o->ts |= put_ts;
		} else {
			o = &F.offers[F.noffers++ % 64];
			o->seq = s->seq;
			o->mss = (uint16_t)mss;
			o->ws = s->syn_opts ? F.ws : -1;
			o->sack = s->syn_opts && F.sack;
			o->ts = put_ts;
		}
	}
	size_t hdr = (F.v6 ? 54 : 34) + 20 + ol;
	size_t dlen = s->dlen;
	if (hdr + dlen > 1514)
		dlen = 1514 - hdr;
	size_t l4len = 20 + ol + dlen;
	size_t off = ip_hdr(b, 6, l4len, F.sip, 64);
	uint8_t *t = b + off;
	ora_p16(t, PPORT);
	ora_p16(t + 2, SPORT);
	ora_p32(t + 4, s->seq);
	ora_p32(t + 8, (s->flags & 0x10) ? s->ack : 0);
	t[12] = (uint8_t)(((20 + ol) / 4) << 4);
	t[13] = s->flags;
	ora_p16(t + 14, s->win);
	ora_p32(t + 16, 0);
	memcpy(t + 20, opt, ol);
	uint32_t dseq = s->seq + !!(s->flags & 0x02);
	for (size_t i = 0; i < dlen; i++)
		t[20 + ol + i] = peer_byte(dseq + (uint32_t)i);
	ora_p16(t + 16, (uint16_t)~ora_sum(l4_pseudo(6, l4len, F.sip), t, l4len));
	send_frame(b, off + l4len);
	tr("peer ->", s->seq, s->ack, s->flags, s->win, dlen);
	uint32_t end = dseq + (uint32_t)dlen + !!(s->flags & 0x01);
	if (lt32(F.snd_max, end) || !F.snd_max)
		F.snd_max = end;
	if (lt32(F.snd_nxt, end) && !(s->flags & 0x04))
		F.snd_nxt = end;
	/* A right edge the stack may use: from an ACK of something it sent, not on a RST or SYN
	 * (RFC 9293 §3.10.7.4: the window is taken from acceptable ACKs). */
	if ((s->flags & 0x16) == 0x10 && F.synack_seen && le32(s->ack, F.smax) &&
	    le32(F.irs + 1, s->ack)) {
		uint32_t w = (uint32_t)s->win << F.ws_peer;
		uint32_t e = s->ack + w;
		if (!F.edge_set || lt32(F.edge, e))
			F.edge = e;
		/* In the receive window (RFC 9293 §3.10.7.4 first check), by the stack's last
		 * word on it: then the window update rule applies. */
		uint32_t slen = (uint32_t)dlen + !!(s->flags & 0x01);
		uint32_t last = s->seq + (slen ? slen - 1 : 0);
		bool in_win = F.rcv_wnd ? ((le32(F.rcv_nxt, s->seq) &&
					    lt32(s->seq, F.rcv_nxt + F.rcv_wnd)) ||
					   (slen && le32(F.rcv_nxt, last) &&
					    lt32(last, F.rcv_nxt + F.rcv_wnd)))
					: s->seq == F.rcv_nxt;
		if (F.ts_ok && !put_ts)
			in_win = false; /* RFC 7323 §3.2: dropped without its timestamps */
		if (!F.edge_set) {
			F.una = s->ack, F.wnd = w, F.wl1 = s->seq, F.wl2 = s->ack;
		} else if (in_win && le32(F.una, s->ack)) {
			F.una = s->ack;
			if (lt32(F.wl1, s->seq) || (F.wl1 == s->seq && le32(F.wl2, s->ack)))
				F.wnd = w, F.wl1 = s->seq, F.wl2 = s->ack;
		}
		F.edge_set = true;
	}
}

/* Answer the stack's ARP request or Neighbor Solicitation for the peer's address. */
static void answer_neighbour(const uint8_t *p, size_t len, const struct ora_pkt *k)
{
	static uint8_t b[128];
	if (k->ethertype == 0x0806 && ora_g16(p + 20) == 1 && !memcmp(p + 38, F.pip, 4)) {
		memcpy(b, p + 6, 6);
		memcpy(b + 6, F.pmac, 6);
		ora_p16(b + 12, 0x0806);
		uint8_t *a = b + 14;
		ora_p16(a, 1), ora_p16(a + 2, 0x0800), a[4] = 6, a[5] = 4, ora_p16(a + 6, 2);
		memcpy(a + 8, F.pmac, 6);
		memcpy(a + 14, F.pip, 4);
		memcpy(a + 18, p + 22, 6);
		memcpy(a + 24, p + 28, 4);
		send_frame(b, 42);
		return;
	}
	if (k->family == 6 && k->proto == 58 && k->l4len >= 24 && k->l4[0] == 135 &&
	    !memcmp(k->l4 + 8, F.pip, 16)) {
		static const uint8_t zero[16];
		if (!memcmp(k->src, zero, 16))
			return; /* a DAD probe: not for us to answer */
		size_t off = ip_hdr(b, 58, 32, k->src, 255);
		memcpy(b, p + 6, 6);
		uint8_t *m = b + off;
		memset(m, 0, 32);
		m[0] = 136;
		ora_p32(m + 4, 0x60000000u); /* solicited, override */
		memcpy(m + 8, F.pip, 16);
		m[24] = 2, m[25] = 1;
		memcpy(m + 26, F.pmac, 6);
		ora_p16(m + 2, (uint16_t)~ora_sum(l4_pseudo(58, 32, k->src), m, 32));
		send_frame(b, off + 32);
	}
}

/* --- judging the stack's segments -------------------------------------------------------- */

static void judge_tcp(const struct ora_pkt *k)
{
	if (k->sport != SPORT || k->dport != PPORT)
		ORA_FAIL("segment from port %u to %u", k->sport, k->dport);
	if (memcmp(k->dst, F.pip, F.v6 ? 16 : 4) || memcmp(k->src, F.sip, F.v6 ? 16 : 4))
		ORA_FAIL("segment between the wrong addresses");
	bool syn = k->flags & 0x02, rst = k->flags & 0x04, ack = k->flags & 0x10;
	tr("<- stack", k->seq, k->ack, k->flags, k->win, k->dlen);
	if (syn) {
		if (!ack || rst || (k->flags & 0x01))
			ORA_FAIL("stack sent flags %#x", k->flags);
		/* A SYN-ACK (of a new connection when the ISS differs). */
		if (!F.synack_seen || k->seq != F.irs) {
			F.irs = k->seq;
			F.smax = k->seq + 1;
			F.edge_set = false;
		}
		F.synack_seen = true;
		F.synack_ack = k->ack;
		/* The SYNs it may answer: every recent one at SEG.ACK - 1 (a retransmitted SYN
		 * may differ from the one that made the connection). Options are judged against
		 * their union; what was agreed is what the SYN-ACK says. */
		bool found = false, any_ts = false, any_sack = false;
		int any_ws = -1;
		unsigned max_mss = 0;
		for (unsigned i = 0; i < 64 && i < F.noffers; i++) {
			const struct offer *c = &F.offers[(F.noffers - 1 - i) % 64];
			if (c->seq + 1 != k->ack)
				continue;
			found = true;
			any_ts |= c->ts;
			any_sack |= c->sack;
			if (c->ws > any_ws)
				any_ws = c->ws;
			if (c->mss > max_mss)
				max_mss = c->mss;
		}
		if (!found && F.noffers <= 64)
			ORA_FAIL("SYN-ACK acknowledging %u, no SYN the peer sent", k->ack);
		if (!found) /* beyond what the harness remembers: judge less */
			any_ts = any_sack = true, any_ws = 14, max_mss = 65535;
		if (k->opt.ts && !any_ts)
			ORA_FAIL("SYN-ACK with timestamps the SYN did not offer (RFC 7323 §3.2)");
		if (k->opt.wscale >= 0 && any_ws < 0)
			ORA_FAIL("SYN-ACK with window scale the SYN did not offer (RFC 7323 §2.2)");
		if (k->opt.sack_ok && !any_sack)
			ORA_FAIL("SYN-ACK with SACK-permitted the SYN did not offer");
		F.ws_ok = k->opt.wscale >= 0;
		F.ws_stack = F.ws_ok ? (uint8_t)k->opt.wscale : 0;
		F.ts_ok = k->opt.ts;
		F.sack_ok = k->opt.sack_ok;
		F.cur_mss = (uint16_t)max_mss;
		F.ws_peer = F.ws_ok ? (any_ws > 14 ? 14 : (uint8_t)any_ws) : 0;
	}
	if (ack && lt32(F.snd_max, k->ack))
		ORA_FAIL("ACK %u beyond anything the peer sent (%u)", k->ack, F.snd_max);
	if (!F.synack_seen)
		return; /* a RST to a segment of no connection */
	if (!syn && !rst && F.ts_ok != k->opt.ts)
		ORA_FAIL("timestamps %s on a segment (negotiated: %d, RFC 7323 §3.2)",
			 k->opt.ts ? "present" : "absent", F.ts_ok);
	if (k->opt.ts)
		F.ts_recent = k->opt.tsval;
	if (ack && !rst) {
		F.rcv_nxt = k->ack;
		F.rcv_wnd = (uint32_t)k->win << (F.ws_ok && !syn ? F.ws_stack : 0);
	}
	if (!F.sack_ok && k->opt.nsack > 0)
		ORA_FAIL("SACK blocks without SACK-permitted (RFC 2018 §2)");
	if (rst)
		return;
	uint32_t dseq = k->seq + syn;
	if (k->dlen) {
		if (lt32(dseq, F.irs + 1))
			ORA_FAIL("data at %u before the ISS %u", dseq, F.irs);
		const uint8_t *d = k->l4 + (k->l4len - k->dlen);
		for (size_t i = 0; i < k->dlen; i++)
			if (d[i] != stack_byte(dseq + (uint32_t)i))
				ORA_FAIL("byte %zu of a segment at %u is not what the application wrote",
					 i, dseq);
		uint32_t end = dseq + (uint32_t)k->dlen;
		if (!F.edge_set)
			ORA_FAIL("data before the peer offered any window");
		/* The right edge: the highest the peer offered, or SND.UNA + SND.WND by RFC 9293
		 * §3.10.7.4 (which moves with SND.UNA when a segment's window is not taken). */
		uint32_t edge = lt32(F.edge, F.una + F.wnd) ? F.una + F.wnd : F.edge;
		/* New data only: old data may go again past a window that shrank under it
		 * (RFC 1122 §4.2.2.16 asks only that it SHOULD not; Linux resends the head). */
		if (lt32(edge, end) && lt32(F.smax, end) && !(k->dlen == 1 && le32(end, edge + 1)))
			ORA_FAIL("data to %u beyond the right edge %u the peer offered", end, edge);
		size_t optlen = (k->l4len - k->dlen) - 20;
		uint32_t mss = F.cur_mss ? F.cur_mss : 536;
		uint32_t room = MTU - (F.v6 ? 40 : 20) - 20;
		if (mss > room)
			mss = room;
		if (k->dlen + optlen > mss && k->dlen > 64)
			ORA_FAIL("segment of %zu data + %zu option bytes, MSS %u", k->dlen, optlen,
				 mss);
	}
	uint32_t end = dseq + (uint32_t)k->dlen + !!(k->flags & 0x01);
	if (lt32(F.smax, end))
		F.smax = end;
}

/* Poll once, then judge and answer everything the stack sent. */
static void poll(void)
{
	sl_stack_poll(F.st, F.now);
	struct sl_frame out[SL_RX_BATCH];
	int n;
	while ((n = F.peer->ops->rx(F.peer, out, SL_RX_BATCH, UINT64_MAX)) > 0) {
		for (int i = 0; i < n; i++) {
			struct ora_pkt k;
			ora_frame(out[i].data, out[i].len, MTU, &k);
			if (k.family && k.proto == 6 && !k.fragment)
				judge_tcp(&k);
			else
				answer_neighbour(out[i].data, out[i].len, &k);
			F.peer->ops->release(F.peer, &out[i]);
		}
		sl_stack_poll(F.st, F.now); /* what the answers cause */
	}
	struct sl_dev_counts c;
	sl_dev_counts(F.dev, &c);
	if (c.owner_errors || c.owner[SL_OWN_STACK] > 256)
		ORA_FAIL("frame accounting: %llu errors, %llu with the stack",
			 (unsigned long long)c.owner_errors, (unsigned long long)c.owner[SL_OWN_STACK]);
}

static void open_stack(void)
{
	static struct sl_dev *peer, *dev;
	if (!peer && sl_dev_pipe_pair(NULL, NULL, &peer, &dev))
		abort();
	F.peer = peer;
	F.dev = dev;
	memcpy(F.pmac, peer->mac, 6);
	memcpy(F.smac, dev->mac, 6);
	struct sl_stack_config cfg;
	sl_stack_config_init(&cfg);
	cfg.deterministic_secrets = true;
	sl_ip_parse("10.1.0.2", &cfg.addrs[0].addr);
	cfg.addrs[0].prefix_len = 24;
	sl_ip_parse("fd01::2", &cfg.addrs[1].addr);
	cfg.addrs[1].prefix_len = 64;
	cfg.n_addrs = 2;
	cfg.tcp_max_conns = 16;
	cfg.tcp_backlog = 8;
	cfg.udp_max_sockets = 4;
	cfg.arp_cache_size = 8;
	cfg.reasm_max_datagrams = 4;
	cfg.tcp_sndbuf = 16384;
	cfg.tcp_rcvbuf = 16384; /* small: a zero window is easy to reach */
	cfg.tcp_challenge_rate = 1000000;
	if (sl_stack_open(dev, &cfg, 1, &F.st) || sl_tcp_listen(F.st, SPORT, NULL, on_accept, NULL))
		abort();
	F.now = 1;
	for (int i = 0; i < 30 && sl_ip_addr_state(F.st, &cfg.addrs[1].addr); i++) {
		poll();
		F.now += 250000000;
	}
	if (sl_ip_addr_state(F.st, &cfg.addrs[1].addr))
		abort();
	if (F.v6) {
		memcpy(F.sip, cfg.addrs[1].addr.b, 16);
		sl_ip p;
		sl_ip_parse("fd01::9", &p);
		memcpy(F.pip, p.b, 16);
	} else {
		static const uint8_t s4[4] = {10, 1, 0, 2}, p4[4] = {10, 1, 0, 9};
		memcpy(F.sip, s4, 4);
		memcpy(F.pip, p4, 4);
	}
}

static void close_stack(void)
{
	sl_stack_close(F.st);
	struct sl_frame out[SL_RX_BATCH];
	int n;
	while ((n = F.peer->ops->rx(F.peer, out, SL_RX_BATCH, UINT64_MAX)) > 0)
		for (int i = 0; i < n; i++)
			F.peer->ops->release(F.peer, &out[i]);
	if (F.dev->ops->rx(F.dev, out, 1, UINT64_MAX) > 0)
		ORA_FAIL("a frame from the peer was never received");
	struct sl_dev_counts c1, c2;
	sl_dev_counts(F.dev, &c1);
	sl_dev_counts(F.peer, &c2);
	if (c1.owner_errors || c2.owner_errors || c1.owner[SL_OWN_FREE] != c1.total ||
	    c2.owner[SL_OWN_FREE] != c2.total)
		ORA_FAIL("frames not returned at close: %llu of %llu free",
			 (unsigned long long)c1.owner[SL_OWN_FREE], (unsigned long long)c1.total);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	if (size < 5 || size > 5 + 6 * 512)
		return 0;
	memset(&F, 0, sizeof F);
	F.v6 = in[0] & 1;
	F.sack = in[0] & 2;
	F.ts = in[0] & 4;
	F.ws = (in[0] & 8) ? in[1] : -1;
	F.echo = in[0] & 16;
	F.mss = ora_g16(in + 2);
	F.tsval = 1000;
	open_stack();
	/* The handshake. */
	uint32_t iss = 0x80000000u - 100; /* data crosses the sign boundary of the space */
	F.snd_nxt = F.snd_max = iss;
	struct peer_seg s = {.seq = iss, .flags = 0x02, .win = (uint16_t)(in[4] << 8 | 0xff),
			     .syn_opts = true};
	send_seg(&s);
	poll();
	if (!F.synack_seen)
		ORA_FAIL("no SYN-ACK to a SYN");
	if (F.synack_ack != iss + 1)
		ORA_FAIL("SYN-ACK acknowledges %u, not the SYN's %u", F.synack_ack, iss + 1);
	struct peer_seg a = {.seq = iss + 1, .ack = F.irs + 1, .flags = 0x10, .win = s.win};
	send_seg(&a);
	F.now += 1000000;
	poll();
	if (!F.accepted)
		ORA_FAIL("handshake did not reach ESTABLISHED");
	/* The segments. */
	for (size_t i = 5; i + 6 <= size; i += 6) {
		const uint8_t *b = in + i;
		struct peer_seg g = {
		    .seq = F.snd_nxt + (uint32_t)((int32_t)(int8_t)b[1] * 16),
		    .ack = F.smax - (uint32_t)(int32_t)(int8_t)b[2],
		    .flags = (uint8_t)(0x10 | ((b[0] & 8) ? 0x08 : 0)),
		    .win = (uint16_t)(b[4] << 8 | (b[4] ? 0xff : 0)),
		    .dlen = (size_t)b[3] * 8,
		    .no_ts = b[0] & 16,
		};
		if (b[0] & 32) {
			g.nsack = 1;
			g.sack[0] = g.ack + (uint32_t)(b[5] & 15) * 100;
			g.sack[1] = g.sack[0] + ((uint32_t)(b[5] >> 4) + 1) * 100;
		}
		switch (b[0] & 7) {
		case 0:
			break;
		case 1:
			g.dlen = 0;
			break;
		case 2:
			g.flags |= 0x01;
			break;
		case 3:
			g.flags = 0x04 | (b[3] & 1 ? 0x10 : 0);
			g.dlen = 0;
			break;
		case 4:
			g.flags = 0x02 | (b[3] & 1 ? 0x10 : 0);
			g.dlen = 0;
			g.syn_opts = true;
			break;
		case 5:
			g.flags = b[1];
			g.seq = F.snd_nxt;
			break;
		case 6:
			switch (b[1] & 7) {
			case 0:
			case 1:
				app_write((size_t)b[3] * 16 + 1, b[1] & 1);
				break;
			case 2:
				if (F.flow)
					sl_tcp_shutdown(F.flow, SL_SHUT_WR);
				break;
			case 3:
			case 4:
				if (F.flow) {
					if ((b[1] & 7) == 3)
						sl_tcp_close(F.flow);
					else
						sl_tcp_abort(F.flow);
					F.flow = NULL;
				}
				break;
			case 5:
				if (F.flow)
					sl_tcp_shutdown(F.flow, SL_SHUT_RD);
				break;
			default:
				if (F.flow)
					on_readable(NULL, F.flow);
				break;
			}
			F.now += 1000000;
			poll();
			continue;
		case 7:
			F.now += (b[1] & 1) ? (uint64_t)b[5] * 1000000000 : ((uint64_t)b[5] + 1) * 10000000;
			poll();
			continue;
		}
		send_seg(&g);
		F.now += 1000000;
		poll();
	}
	/* Let the timers run out: retransmissions, delayed ACKs, FIN-WAIT, TIME-WAIT. */
	for (int i = 0; i < 4; i++) {
		F.now += 2000000000;
		poll();
	}
	close_stack();
	return 0;
}
