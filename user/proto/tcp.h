/*
 * TCP internals (RFC 9293): the transmission control block, the connection table and
 * the listeners. Split by concern, one file per question a reader asks:
 *   tcp.c           the table, listeners, ephemeral ports (RFC 6056), the application API
 *   tcp_input.c     segment arrival (RFC 9293 §3.10.7), timestamps and PAWS (RFC 7323)
 *   tcp_rcvq.c      the receive queue: out-of-order data, the SACK and D-SACK blocks we send
 *   tcp_output.c    building and sending segments: what to (re)transmit now
 *   tcp_sendmap.c   the segments in flight: the SACK scoreboard (RFC 6675) in time order
 *   tcp_recovery.c  loss detection and recovery: RACK-TLP (RFC 8985), PRR (RFC 6937),
 *                   NewReno without SACK (RFC 6582), spurious-retransmission undo
 *   tcp_timer.c     retransmission timer (RTO, probe, reordering), persist, delayed ACK,
 *                   keepalive, TIME-WAIT, connect timeout
 *   tcp_cc.c        congestion control registry; tcp_newreno.c, tcp_cubic.c (+ HyStart++)
 *   tcp_syncookie.c SYN cookies (RFC 4987 §3.6)
 */
#ifndef SL_PROTO_TCP_H
#define SL_PROTO_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include "sluice/ip.h"
#include "sluice/tcp.h"
#include "util/timer.h"
#include "wire/tcp.h"

enum sl_tcp_state {
	SL_TCP_CLOSED = 0,
	SL_TCP_LISTEN,
	SL_TCP_SYN_SENT,
	SL_TCP_SYN_RECEIVED,
	SL_TCP_ESTABLISHED,
	SL_TCP_FIN_WAIT_1,
	SL_TCP_FIN_WAIT_2,
	SL_TCP_CLOSE_WAIT,
	SL_TCP_CLOSING,
	SL_TCP_LAST_ACK,
	SL_TCP_TIME_WAIT,
};

/* A byte ring; capacity is a power of two. */
struct sl_ring {
	uint8_t *buf;
	uint32_t cap;
	uint32_t head; /* offset of the first byte */
	uint32_t len;
};

/* --- the send map ------------------------------------------------------------------------ */

#define SL_SEG_SACKED 0x01  /* a SACK block covered it: the peer holds it */
#define SL_SEG_LOST 0x02    /* marked lost, waiting to be retransmitted */
#define SL_SEG_RETRANS 0x04 /* retransmitted at least once */
#define SL_SEG_FIN 0x08	    /* its last sequence number is the FIN */
#define SL_SEG_INTIME 0x10  /* on the time-ordered list */
#define SL_SEG_NIL UINT32_MAX

/* One segment sent and not yet cumulatively acknowledged. */
struct sl_tcp_txseg {
	uint32_t start, end; /* sequence numbers [start, end) */
	uint64_t xmit_ns;    /* its last transmission (RFC 8985 Segment.xmit_ts) */
	uint32_t tprev, tnext;
	uint8_t flags;
	uint8_t xmits;
};

/* Every segment in [SND.UNA, SND.NXT), in sequence order, with a second, time-ordered list of
 * those still in flight (neither SACKed nor marked lost), oldest transmission first: the
 * order RACK walks (RFC 8985 §6.2 step 5). Records live in a pool with stable indices; the
 * sequence order is a ring of those indices. */
struct sl_tcp_sendmap {
	struct sl_tcp_txseg *seg;
	uint32_t *ord;
	uint32_t cap, max; /* pool size (a power of two), and how far it may grow */
	uint32_t head, n;  /* ord[head .. head + n) */
	uint32_t free;	   /* free records, chained through tnext */
	uint32_t thead, ttail;
	uint32_t sacked;    /* bytes (sequence numbers) in SACKED records */
	uint32_t lost;	    /* in LOST records */
	uint32_t lost_hint; /* no LOST record lies before this offset from head */
	struct sl_stack *acct; /* whose tcp_mem_bytes counts this map (NULL: none yet) */
};

/* Bytes a segment map holds (its records and order ring). */
size_t sl_sendmap_bytes(const struct sl_tcp_sendmap *m);
/* Account delta bytes allocated (> 0) or freed (< 0) for TCP: the stats tcp_mem_bytes and
 * tcp_mem_peak, so that what a load makes the stack allocate can be read, touched or not. */
void sl_tcp_mem(struct sl_stack *st, int64_t delta);

/* --- congestion control ------------------------------------------------------------------ */

struct sl_tcb;
/* The stack keeps cwnd during recovery (PRR) and after a timeout (the loss window); an
 * algorithm decides growth outside recovery and the threshold at a congestion event. */
struct sl_tcp_cc_ops {
	const char *name;
	/* Connection established: cwnd is the initial window; start the algorithm's state. */
	void (*init)(struct sl_tcb *t);
	/* acked bytes newly acknowledged outside recovery while cwnd limited the sender;
	 * rtt_ns is this ACK's RTT sample or 0. */
	void (*on_ack)(struct sl_tcb *t, uint32_t acked, uint64_t rtt_ns);
	/* A congestion event (fast recovery, a tail loss probe that repaired a loss, a
	 * timeout): return the new ssthresh. */
	uint32_t (*ssthresh)(struct sl_tcb *t);
	/* A retransmission timeout: the algorithm restarts its growth (cwnd is set by the
	 * stack to the loss window after this). */
	void (*on_rto)(struct sl_tcb *t);
	/* The last congestion response was spurious: restore what the algorithm saved when it
	 * happened (cwnd and ssthresh are restored by the stack). */
	void (*undo)(struct sl_tcb *t);
};
extern const struct sl_tcp_cc_ops sl_tcp_newreno;
extern const struct sl_tcp_cc_ops sl_tcp_cubic;
/* By name; NULL when unknown. */
const struct sl_tcp_cc_ops *sl_tcp_cc_find(const char *name);

/* CUBIC (RFC 9438) with HyStart++ (RFC 9406): the algorithm's state. */
struct sl_tcp_cubic {
	double w_max;	   /* segments: the window before the last reduction */
	double w_last_max; /* for fast convergence (§4.7) */
	double k;	   /* seconds */
	double origin;	   /* segments: W_cubic's plateau for this epoch */
	double w_est;	   /* segments: the Reno-friendly estimate (§4.3) */
	double cwnd_prior; /* segments: cwnd at the congestion event */
	uint64_t epoch_ns; /* start of this congestion-avoidance epoch; 0: not started */
	double acc;	   /* bytes of growth not yet added to cwnd */
	/* saved at a congestion event, for undo (§4.9) */
	double s_w_max, s_w_last_max, s_k, s_origin, s_w_est, s_cwnd_prior;
	uint64_t s_epoch_ns;
	bool s_hs_done, s_after_rto;
	bool after_rto; /* the next epoch is the first after a timeout (§4.8) */
	/* HyStart++ (RFC 9406 §4) */
	uint32_t hs_window_end;
	uint64_t hs_last_min, hs_cur_min, hs_css_base; /* ns; UINT64_MAX: none yet */
	uint32_t hs_samples;
	uint8_t hs_css_rounds;
	bool hs_in_css, hs_done;
};

/* --- connections -------------------------------------------------------------------------- */

#define SL_TCP_OOO_MAX 32 /* out-of-order ranges held at once */

struct sl_listener;
struct sl_stack;

/* An intrusive FIFO of connections: a listener's half-open ones (oldest first, recycled when
 * the backlog is full, RFC 4987 §3.4) or the stack's TIME-WAIT ones (oldest recycled when
 * the table is full). A connection is in at most one, given by its state. */
struct sl_tcbq {
	struct sl_tcb *head, *tail;
	uint32_t n;
};

/* The retransmission timer serves three purposes (only one is armed at a time). */
enum sl_rtx_kind { SL_RTX_RTO, SL_RTX_TLP, SL_RTX_REO };

/* RFC 3168 §5: the ECN field, the low two bits of the TOS byte / traffic class. sluice does not
 * negotiate ECN, so its segments carry Not-ECT there (00) whatever the application asks for, as
 * Linux keeps them under the stack's control on a TCP socket. */
#define SL_ECN_MASK 0x03

struct sl_tcb {
	struct sl_stack *st;
	enum sl_tcp_state state;
	sl_ip laddr, raddr; /* IPv4-mapped for IPv4 */
	bool v6;
	uint8_t iphlen; /* 20 or 40: the IP header in front of each segment */
	uint8_t ttl;	/* TTL / hop limit of its segments; 0: sl_stack_config.ttl */
	uint8_t tos;	/* TOS / traffic class of its segments, the ECN bits clear */
	uint64_t user_timeout_ns; /* RFC 5482 (TCP_USER_TIMEOUT): 0, none: the retry counts */
	uint16_t user_mss;	  /* TCP_MAXSEG: at most this MSS, announced and sent; 0 none */
	uint64_t una_since_ns;	  /* since when SND.UNA's data (or SYN) has waited for an ACK */
	uint16_t lport, rport;
	struct sl_tcb *hnext; /* connection table chain */
	struct sl_tcb *pnext; /* pending-output list */
	bool on_pending;
	struct sl_tcb *rnext; /* readable list: on_readable is owed at the end of the poll */
	bool on_readq;
	struct sl_listener *listener; /* SYN-RECEIVED from a listener: counts in its backlog */
	struct sl_tcbq *q;	      /* the FIFO it is in, if any */
	struct sl_tcb *qprev, *qnext;

	/* Send sequence space (RFC 9293 §3.3.1). SND.NXT is the next new sequence number;
	 * SND.MAX is above it only by a zero-window probe byte. */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
	uint32_t snd_wnd, max_snd_wnd;
	uint8_t snd_wscale; /* shift the peer asked for (applied to its windows) */
	uint16_t mss;	    /* send MSS (data bytes per segment, options excluded) */
	uint16_t peer_mss;  /* what the peer announced (or 536) */
	/* Receive sequence space */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge last advertised */
	uint8_t rcv_wscale;
	bool wscale_ok;
	bool sack_ok; /* both SYNs carried SACK-permitted (RFC 2018 §2) */

	/* Timestamps (RFC 7323 §3–5) */
	bool ts_ok;
	uint32_t ts_offset;	/* added to our 1 ms clock: per connection */
	uint32_t ts_recent;	/* TS.Recent */
	uint64_t ts_recent_ns;	/* when TS.Recent was set (PAWS: valid for 24 days) */
	uint32_t last_ack_sent; /* Last.ACK.sent */

	struct sl_ring sndbuf; /* from snd_una: unacknowledged, then unsent */
	struct sl_ring rcvbuf; /* in-order bytes not yet read; out-of-order bytes sit beyond */
	struct sl_tcp_sendmap sm;

	/* Out-of-order data held beyond rcv_nxt (tcp_rcvq.c), most recently changed first:
	 * the order SACK blocks are reported in (RFC 2018 §4). */
	struct sl_tcp_sack ooo[SL_TCP_OOO_MAX];
	unsigned nooo;
	bool fin_pending; /* a FIN arrived beyond a hole: it counts once rcv_nxt reaches it */
	uint32_t fin_seq;
	bool dsack_pending; /* report this duplicate first in the next ACK (RFC 2883) */
	bool sack_owed;	    /* the last segment had no room for all the blocks we hold */
	struct sl_tcp_sack dsack;

	/* RTT and RTO (RFC 6298) */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	bool rtt_valid;
	uint64_t min_rtt_ns, min_rtt_at; /* windowed minimum (RFC 8985 RACK.min_RTT) */
	bool syn_timing; /* the SYN (or SYN-ACK) was sent once: its ACK is an RTT sample */
	uint64_t syn_sent_ns;
	unsigned backoff; /* consecutive RTOs */
	uint64_t rto_at;  /* when the RTO is due (the timer may be armed earlier, for TLP/RACK) */
	enum sl_rtx_kind rtx_kind;

	/* Congestion control */
	const struct sl_tcp_cc_ops *cc;
	uint32_t cwnd, ssthresh;
	bool cwnd_limited;    /* the last output stopped because of cwnd */
	uint32_t bytes_acked; /* NewReno's congestion-avoidance accumulator (RFC 3465) */
	struct sl_tcp_cubic cubic;

	/* Loss recovery */
	bool in_recovery; /* fast recovery, with PRR (RFC 6937) */
	bool in_loss;	  /* after a timeout, until recover is acknowledged */
	uint32_t recover; /* RFC 6582 / RFC 6675 RecoveryPoint */
	uint32_t prr_delivered, prr_out, recover_fs;
	bool prr_first;	      /* the retransmission that starts recovery goes out regardless */
	unsigned dupacks;     /* without SACK: duplicate ACKs (RFC 5681 §2) */
	uint32_t reno_sacked; /* without SACK: bytes the duplicate ACKs say arrived */
	bool partial_seen;    /* without SACK: a partial ACK reset the timer (RFC 6582 step 5) */
	struct {
		uint64_t xmit_ns; /* RACK.xmit_ts */
		uint32_t end_seq; /* RACK.end_seq */
		uint64_t rtt_ns;  /* RACK.rtt */
		uint32_t fack;	  /* highest sequence delivered */
		bool valid;
		bool reord_seen;
		uint8_t reo_wnd_mult, reo_wnd_persist;
		bool dsack_round_on;
		uint32_t dsack_round;
		uint64_t reo_at; /* the reordering timer's deadline, 0: none */
	} rack;
	struct {
		bool out; /* a probe is outstanding (TLP.end_seq set) */
		uint32_t end_seq;
		bool is_retrans;
		bool dsacked;
		bool rtt_seen;	    /* an RTT sample since the last probe (RFC 8985 §7.3) */
		uint8_t unanswered; /* probes sent since the last ACK */
	} tlp;
	/* Undo of a spurious congestion response (RFC 2883 §5, RFC 3522, RFC 4015) */
	bool undo_on;
	uint32_t undo_marker; /* SND.UNA when the response began */
	int undo_retrans;     /* retransmissions of the episode not yet shown spurious */
	uint32_t undo_rtx;    /* retransmissions of the episode */
	uint32_t prior_cwnd, prior_ssthresh;
	bool eifel_on; /* after a timeout: the first ACK tells by its TSecr (RFC 3522) */
	uint32_t eifel_tsval;

	/* Flags */
	bool fin_queued; /* FIN follows the send buffer (shutdown write / close) */
	bool fin_sent;	 /* FIN occupies snd_nxt - 1 */
	bool fin_rcvd;
	bool rd_shut;
	bool app_closed;   /* the application let go: free at CLOSED */
	bool nodelay_push; /* a _nodelay write wants its bytes out now */
	bool corked;	   /* sl_tcp_set_cork: no partial segment goes (but at the ceiling) */
	bool cork_push;	   /* the ceiling passed: what is held goes (until the queue empties) */
	bool ack_now;
	bool want_writable;
	unsigned delack_segs;
	int error; /* why it ended: 0, -ECONNRESET, -ETIMEDOUT, -ECONNREFUSED */
	bool closed_notified;
	bool connected_notified;
	bool active;	 /* we sent the first SYN */
	bool hooked;	 /* its on_open hook ran: on_gone is owed when it leaves the table */
	bool dead;	 /* unlinked; freed at the end of the poll (callbacks may still hold it) */
	bool unhashed;	 /* CLOSED, out of the table, waiting for the application's close */
	bool persisting; /* zero-window probing: SND.NXT is SND.UNA, SND.MAX past the probe */
	uint64_t last_oow_ack; /* last ACK sent for an out-of-window segment (rate limit) */

	/* Timers */
	struct sl_timer rtx_timer, persist_timer, delack_timer, ka_timer, tw_timer, conn_timer;
	struct sl_timer cork_timer; /* sl_tcp_set_cork: the 200 ms ceiling on held data */
	unsigned persist_backoff;
	unsigned persist_unanswered; /* probes sent since the last segment received */
	struct sl_keepalive ka;
	bool ka_on;
	uint32_t ka_sent;
	uint64_t last_rx;

	/* Application */
	struct sl_tcp_callbacks cb;
	void *arg;

	/* Counters (sl_tcp_info) */
	uint64_t retransmits, bytes_sent, bytes_received, segs_in, segs_out;
	uint64_t recoveries, rto_count, tlp_probes, spurious_undone, dsacks_rx, dsacks_tx;
};

struct sl_listener {
	uint16_t port;
	bool used;
	sl_tcp_accept_cb on_accept;
	void *arg;
	struct sl_keepalive ka;
	bool ka_on;
	struct sl_tcbq synq; /* half-open connections in the backlog, oldest first */
	bool no_v4, no_v6;   /* sl_tcp_listen_families: SYNs of that family are reset */
	bool full;	     /* sl_tcp_listen_full: the application has no room to accept */
	sl_tcp_room_cb room; /* sl_tcp_listen_room: asked per connection (NULL: not asked) */
	uint8_t ttl[2], tos[2]; /* sl_tcp_listen_iptx, [0] IPv4, [1] IPv6: the SYN-ACKs' and
				 * the accepted connections' (0: the defaults) */
	uint16_t user_mss;	/* sl_tcp_listen_mss: its connections' user_mss */
};

/* A connection from listener l takes its TTL / hop limit and TOS / traffic class (Linux clones
 * them from the listening socket). */
static inline void sl_listener_iptx_to(const struct sl_listener *l, struct sl_tcb *t)
{
	t->ttl = l->ttl[t->v6];
	t->tos = l->tos[t->v6];
	t->user_mss = l->user_mss;
}

/* No room to accept a connection to local on l: the port's flag, or the application's answer. */
static inline bool sl_listener_no_room(const struct sl_listener *l, const sl_ip *local)
{
	return l->full || (l->room && !l->room(l->arg, local, l->port));
}

struct sl_tcp {
	struct sl_tcb **table;
	uint32_t nbuckets;
	uint32_t nconns;
	struct sl_listener *listeners;
	uint32_t nlisteners;
	uint8_t isn_key[16];	  /* RFC 6528 F() */
	uint8_t port_key[16];	  /* RFC 6056 F() and G() */
	uint8_t ts_key[16];	  /* per-connection timestamp offsets */
	uint8_t cookie_key[16];	  /* SYN cookies */
	uint64_t cookie_sent_ns;  /* when the last cookie SYN-ACK went out (valid if cookie_sent) */
	bool cookie_sent;
	uint8_t hash_key[16];	  /* the table's bucket hash */
	uint16_t port_table[256]; /* RFC 6056 algorithm 4: table[G(...)] */
	struct sl_tcb *last;	  /* the last lookup's hit (in the table), tried first */
	struct sl_tcb *pending;	  /* connections with output to send this poll */
	struct sl_tcb *readq;	  /* connections owed on_readable, first readable first */
	struct sl_tcb **readq_tail;
	struct sl_tcb *dead;	  /* released connections, freed at the end of the poll */
	struct sl_tcb *orphans;	  /* CLOSED ones out of the table that the application holds */
	struct sl_tcbq twq;	  /* TIME-WAIT connections, oldest first */
	const struct sl_tcp_cc_ops *cc; /* the stack's default */
	uint64_t chal_second;		/* the second the challenge-ACK budget belongs to */
	uint32_t chal_left;		/* challenge ACKs left in it */
	unsigned tx_this_poll;
	struct sl_tcp_open_hooks hooks; /* sl_tcp_set_open_hooks */
};

/* RFC 9293 §3.7.1 / RFC 6691 (RFC 8200 §8.3 for IPv6): the MSS we offer and the largest segment
 * we send: the MTU less the IP and TCP headers without options. */
uint32_t sl_tcp_base_mss(const struct sl_stack *st, bool v6);
/* The MSS we announce and send with: the base, or a smaller one the application set
 * (TCP_MAXSEG: sl_tcp_connect_opts.mss, sl_tcp_listen_mss; 0 none). */
static inline uint32_t sl_tcp_our_mss(const struct sl_stack *st, bool v6, uint16_t user_mss)
{
	uint32_t b = sl_tcp_base_mss(st, v6);
	return user_mss && user_mss < b ? user_mss : b;
}
/* The stack's MTU went down (sl_stack_set_mtu): connections whose segments no longer fit send
 * smaller ones from now on, as for a smaller path MTU (RFC 1191 §6.3); what is in flight is
 * fragmented by IP if it must be sent again (TCP segments leave without DF). */
void sl_tcp_mtu_shrunk(struct sl_stack *st);

/* tcp.c */
int sl_tcp_init(struct sl_stack *st);
void sl_tcp_fini(struct sl_stack *st);
struct sl_tcb *sl_tcp_lookup(struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			     const sl_ip *raddr, uint16_t rport);
struct sl_listener *sl_tcp_find_listener(struct sl_stack *st, uint16_t port);
/* A connection in the table, without buffers (sl_tcb_alloc_buffers gives them). */
struct sl_tcb *sl_tcb_new(struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			  const sl_ip *raddr, uint16_t rport);
/* Send and receive rings and the send map: a connection gets them when it can carry data
 * (connect, or ESTABLISHED for a passive open), so a half-open one costs no buffers. */
int sl_tcb_alloc_buffers(struct sl_tcb *t);
/* Unlink t and free it at the end of the poll: code that ran an application callback may
 * still look at it (t->dead). */
void sl_tcb_free(struct sl_tcb *t);
uint32_t sl_tcp_isn(struct sl_stack *st, const sl_ip *laddr, uint16_t lport, const sl_ip *raddr,
		    uint16_t rport);
/* Our timestamp clock for t (RFC 7323 §5.4: 1 ms ticks) at time ns. */
uint32_t sl_tcp_ts_now(const struct sl_tcb *t, uint64_t ns);
uint32_t sl_tcp_ts_offset(struct sl_stack *st, const sl_ip *laddr, uint16_t lport,
			  const sl_ip *raddr, uint16_t rport);
void sl_tcp_set_state(struct sl_tcb *t, enum sl_tcp_state s);
/* The connection is over: record why, stop timers, tell the application once; frees it when
 * the application already let go. */
void sl_tcp_done(struct sl_tcb *t, int err);
const char *sl_tcp_state_name(enum sl_tcp_state s);
/* Run pending output of every connection (end of poll). */
void sl_tcp_flush(struct sl_stack *st);
void sl_tcp_want_output(struct sl_tcb *t);
/* Data or the end of the stream can be read: on_readable is owed (tcp_input.c queues the
 * connection on tcp.readq). It runs once in sl_tcp_flush for all the segments of the poll, or
 * at once when the connection ends before that (sl_tcp_done). */
/* Initial congestion window (RFC 6928) for t's MSS. */
uint32_t sl_tcp_initial_window(const struct sl_tcb *t);

/* rings */
static inline uint32_t sl_ring_free(const struct sl_ring *r)
{
	return r->cap - r->len;
}
/* Copy n bytes to offset off from the head (off + n within the capacity), wrapping. */
static inline void sl_ring_put(struct sl_ring *r, uint32_t off, const uint8_t *p, uint32_t n)
{
	uint32_t pos = (r->head + off) & (r->cap - 1);
	uint32_t first = r->cap - pos < n ? r->cap - pos : n;
	__builtin_memcpy(r->buf + pos, p, first);
	if (n > first)
		__builtin_memcpy(r->buf, p + first, n - first);
}

/* tcp_rcvq.c: the receive side */
struct seg_in;
/* Segment text (RFC 9293 §3.10.7.4, seventh): in order, out of order, or duplicate. Returns
 * true when new in-order data arrived. */
bool sl_tcp_rcv_data(struct sl_tcb *t, uint32_t seq, const uint8_t *d, uint32_t n, bool fin);
/* A segment entirely old (below RCV.NXT or held already): a D-SACK to report. */
void sl_tcp_rcv_duplicate(struct sl_tcb *t, uint32_t seq, uint32_t len);
/* The SACK blocks to send now (D-SACK first), at most max; returns how many. */
unsigned sl_tcp_sack_blocks(struct sl_tcb *t, struct sl_tcp_sack *out, unsigned max);
/* Our receive window: the value to advertise now (unscaled) without changing anything, and
 * the one that moves rcv_adv when a segment carries it (RFC 9293 §3.8.6.2.2). */
uint32_t sl_tcp_rcv_window_peek(const struct sl_tcb *t);
uint32_t sl_tcp_rcv_window_advertise(struct sl_tcb *t);

/* tcp_output.c */
void sl_tcp_output(struct sl_tcb *t);
void sl_tcp_send_ack(struct sl_tcb *t);
void sl_tcp_send_syn(struct sl_tcb *t);
void sl_tcp_send_ka_probe(struct sl_tcb *t);
void sl_tcp_send_probe(struct sl_tcb *t);
/* The sender's SWS override timeout (RFC 9293 §3.8.6.2.1, RFC 1122 §4.2.3.4): data waits,
 * nothing is in flight, the window is open but too small for a segment that silly-window
 * avoidance lets go: send what it takes. Without it, one window update that never arrives
 * stops the connection for good: no retransmission timer (nothing in flight), no persist
 * probe (the window is not zero). */
void sl_tcp_send_override(struct sl_tcb *t);
/* A tail loss probe (RFC 8985 §7.3): new data if it may go, else the last segment again. */
void sl_tcp_send_tlp(struct sl_tcb *t);
/* RST in reply to a segment (RFC 9293 §3.10.7.1 rules). */
struct sl_ip_pkt;
void sl_tcp_send_rst_for(struct sl_stack *st, const struct sl_ip_pkt *pkt, const uint8_t *th,
			 uint32_t seglen);
void sl_tcp_send_rst(struct sl_tcb *t);
/* A SYN-ACK without a connection (SYN cookie): everything comes from the arguments. */
struct sl_tcp_hdr;
struct sl_iptx; /* iface/stack.h */
void sl_tcp_send_raw(struct sl_stack *st, const sl_ip *src, const sl_ip *dst,
		     const struct sl_tcp_hdr *h, struct sl_iptx tx);

/* tcp_sendmap.c */
int sl_sendmap_init(struct sl_tcp_sendmap *m, uint32_t max);
void sl_sendmap_free(struct sl_tcp_sendmap *m);
static inline struct sl_tcp_txseg *sl_sendmap_at(const struct sl_tcp_sendmap *m, uint32_t i)
{
	return &m->seg[m->ord[(m->head + i) & (m->cap - 1)]];
}
/* A new record [start, end) sent at now; false when the map is full and cannot grow. */
bool sl_sendmap_push(struct sl_tcp_sendmap *m, uint32_t start, uint32_t end, uint8_t flags,
		     uint64_t now);
/* Record i (offset from the head) was (re)transmitted at now. */
void sl_sendmap_sent(struct sl_tcp_sendmap *m, uint32_t i, uint64_t now);
void sl_sendmap_time_unlink(struct sl_tcp_sendmap *m, struct sl_tcp_txseg *s);
void sl_sendmap_mark_lost(struct sl_tcp_sendmap *m, uint32_t i);
/* Split record i at sequence at (start < at < end): the second half follows it. */
bool sl_sendmap_split(struct sl_tcp_sendmap *m, uint32_t i, uint32_t at);
/* Offset of the record holding seq, or n when none does. */
uint32_t sl_sendmap_find(const struct sl_tcp_sendmap *m, uint32_t seq);
/* The first LOST record at or after the hint, or n. */
uint32_t sl_sendmap_first_lost(struct sl_tcp_sendmap *m);
/* Remove record i = 0 (it was cumulatively acknowledged). */
void sl_sendmap_pop(struct sl_tcp_sendmap *m);

/* tcp_recovery.c */
struct sl_ack_info {
	uint32_t acked;	    /* SND.UNA advanced by this much */
	uint32_t delivered; /* RFC 6937 DeliveredData */
	uint64_t rtt_ns;    /* RTT sample for RFC 6298 (0: none) */
	bool dsack;	    /* the ACK carried a D-SACK */
	bool sack_new;	    /* it SACKed data not SACKed before */
	bool dupack;	    /* a duplicate ACK (RFC 5681 §2) */
	bool has_ecr;
	uint32_t ts_ecr;
	bool restart_rto; /* RFC 6298 (5.3), except RFC 6582 step 5's later partial ACKs */
};
/* Everything loss recovery does with an acceptable ACK: scoreboard, RACK, recovery entry and
 * exit, PRR, TLP outcome, undo, window growth. Returns true when SND.UNA advanced. */
bool sl_tcp_ack_recovery(struct sl_tcb *t, uint32_t ack, const struct sl_tcp_opts *o, bool dupack,
			 struct sl_ack_info *ai);
/* RACK's loss detection at now (also run by the reordering timer). */
void sl_tcp_rack_detect(struct sl_tcb *t);
/* After detection outside an ACK (the reordering timer): start recovery if something is
 * lost now. */
void sl_tcp_loss_timer_check(struct sl_tcb *t);
/* Retransmission timeout: every outstanding segment not SACKed is lost (RFC 8985 §6.3). */
void sl_tcp_rto_recovery(struct sl_tcb *t);
/* Bytes in flight (RFC 6675 pipe). */
uint32_t sl_tcp_pipe(const struct sl_tcb *t);
/* Sending len new or retransmitted bytes counts against PRR. */
void sl_tcp_prr_sent(struct sl_tcb *t, uint32_t len);
/* A retransmission of len sequence numbers went out: counters, undo and PRR accounting. */
void sl_tcp_retransmitted(struct sl_tcb *t, uint32_t len);
/* The retransmission timer for what is outstanding now: the reordering timer, a tail loss
 * probe, or the RTO (RFC 8985 §7.2, RFC 6298 §5). restart: RFC 6298 (5.3) restarts the RTO. */
void sl_tcp_rearm_rtx(struct sl_tcb *t, bool restart);

/* tcp_timer.c */
void sl_tcp_timers_init(struct sl_tcb *t);
void sl_tcp_timers_stop(struct sl_tcb *t);
void sl_tcp_rtt_sample(struct sl_tcb *t, uint64_t rtt_ns);
void sl_tcp_arm_persist(struct sl_tcb *t);
void sl_tcp_arm_delack(struct sl_tcb *t);
void sl_tcp_ka_reset(struct sl_tcb *t);
void sl_tcp_enter_time_wait(struct sl_tcb *t);
/* A challenge ACK (RFC 5961 §7) may go: within the per-connection and randomised per-stack
 * limits. */
bool sl_tcp_challenge_ok(struct sl_tcb *t);
/* An ACK in answer to an out-of-window segment without data may go (one per
 * tcp_oow_ack_ns per connection). */
bool sl_tcp_oow_ok(struct sl_tcb *t);

/* tcp_syncookie.c */
struct seg_view {
	const uint8_t *th;
	uint32_t seq, ack;
	uint16_t win;
	uint8_t flags;
	const struct sl_tcp_opts *o;
};
/* Answer a SYN for listener l with a cookie SYN-ACK (no state kept). */
void sl_tcp_cookie_synack(struct sl_stack *st, const struct sl_listener *l, const sl_ip *laddr,
			  const sl_ip *raddr, const struct seg_view *s);
/* An ACK for a listener with no connection. 0 and *out a connection in SYN-RECEIVED when it
 * carries a valid cookie (the ACK that carried it then completes the handshake); -EINVAL when
 * it carries none (counted: tcp_syncookies_bad); -ENOBUFS when no control block could be had
 * (counted by sl_tcb_new: tcp_conn_limit or tcp_no_mem). *out is NULL on error. */
int sl_tcp_cookie_check(struct sl_stack *st, struct sl_listener *l, const sl_ip *laddr,
			const sl_ip *raddr, const struct seg_view *s, struct sl_tcb **out);
/* Whether a cookie sent earlier could still be answered: one went out less than its validity
 * (two 64 s counter steps) ago. Otherwise an ACK for a listener is simply for no connection and
 * no cookie is looked for, as Linux does when its SYN queue has not overflowed lately. */
bool sl_tcp_cookies_outstanding(const struct sl_stack *st);

#endif
