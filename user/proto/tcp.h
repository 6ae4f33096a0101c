/*
 * TCP internals (RFC 9293): the transmission control block, the connection table and
 * the listeners. Split by concern: tcp.c (table, API), tcp_input.c (segment arrival,
 * RFC 9293 §3.10.7), tcp_output.c (segments, retransmission), tcp_timer.c (RTO, persist,
 * delayed ACK, keepalive, TIME-WAIT), tcp_cc.c (congestion control ops: NewReno).
 */
#ifndef SL_PROTO_TCP_H
#define SL_PROTO_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include "sluice/tcp.h"
#include "util/timer.h"

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

#define SL_TCP_OOO_MAX 8 /* out-of-order ranges held at once */

struct sl_tcb;
struct sl_tcp_cc_ops {
	const char *name;
	void (*init)(struct sl_tcb *t);
	/* New data acknowledged outside recovery. */
	void (*on_ack)(struct sl_tcb *t, uint32_t acked);
	/* Third duplicate ACK: enter fast recovery (RFC 5681 §3.2, RFC 6582). */
	void (*on_fast_retransmit)(struct sl_tcb *t);
	/* ACK during recovery: partial (RFC 6582 §3.2 step 5) or full (step 3). */
	void (*on_recovery_ack)(struct sl_tcb *t, uint32_t acked, bool full);
	/* Further duplicate ACK during recovery (inflate). */
	void (*on_dupack)(struct sl_tcb *t);
	/* Retransmission timeout (RFC 5681 §3.1 eqn. 4). */
	void (*on_rto)(struct sl_tcb *t);
};
extern const struct sl_tcp_cc_ops sl_tcp_newreno;

struct sl_listener;
struct sl_stack;

/* An intrusive FIFO of connections: a listener's half-open ones (oldest first, recycled when
 * the backlog is full, RFC 4987 §3.4) or the stack's TIME-WAIT ones (oldest recycled when
 * the table is full). A connection is in at most one, given by its state. */
struct sl_tcbq {
	struct sl_tcb *head, *tail;
	uint32_t n;
};

struct sl_tcb {
	struct sl_stack *st;
	enum sl_tcp_state state;
	uint32_t laddr, raddr; /* host order */
	uint16_t lport, rport;
	struct sl_tcb *hnext; /* connection table chain */
	struct sl_tcb *pnext; /* pending-output list */
	bool on_pending;
	struct sl_listener *listener; /* SYN-RECEIVED from a listener: counts in its backlog */
	struct sl_tcbq *q;	      /* the FIFO it is in, if any */
	struct sl_tcb *qprev, *qnext;

	/* Send sequence space (RFC 9293 §3.3.1) */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
	uint32_t snd_wnd, max_snd_wnd;
	uint8_t snd_wscale; /* shift the peer asked for (applied to its windows) */
	uint16_t mss;	    /* send MSS */
	/* Receive sequence space */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge last advertised */
	uint8_t rcv_wscale;
	bool wscale_ok;

	struct sl_ring sndbuf; /* from snd_una: unacknowledged, then unsent */
	struct sl_ring rcvbuf; /* in-order bytes not yet read; out-of-order bytes sit beyond */
	struct {
		uint32_t seq, len;
	} ooo[SL_TCP_OOO_MAX];
	unsigned nooo;

	/* RTT and RTO (RFC 6298) */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	bool rtt_valid;
	bool rtt_timing;
	uint32_t rtt_seq;
	uint64_t rtt_start;
	unsigned backoff; /* consecutive RTOs */

	/* Congestion control */
	const struct sl_tcp_cc_ops *cc;
	uint32_t cwnd, ssthresh, recover;
	unsigned dupacks;
	bool in_recovery;
	uint32_t bytes_acked; /* congestion avoidance accumulator (RFC 5681 §3.1, ABC) */

	/* Flags */
	bool fin_queued; /* FIN follows the send buffer (shutdown write / close) */
	bool fin_sent;	 /* FIN occupies snd_max - 1 */
	bool fin_rcvd;
	bool rd_shut;
	bool app_closed;   /* the application let go: free at CLOSED */
	bool nodelay_push; /* a _nodelay write wants its bytes out now */
	bool ack_now;
	bool want_writable;
	unsigned delack_segs;
	int error; /* why it ended: 0, -ECONNRESET, -ETIMEDOUT, -ECONNREFUSED */
	bool closed_notified;
	bool connected_notified;
	bool active;   /* we sent the first SYN */
	bool dead;     /* unlinked; freed at the end of the poll (callbacks may still hold it) */
	bool unhashed; /* CLOSED, out of the table, waiting for the application's close */

	/* Timers */
	struct sl_timer rto_timer, persist_timer, delack_timer, ka_timer, tw_timer, conn_timer;
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
};

struct sl_listener {
	uint16_t port;
	bool used;
	sl_tcp_accept_cb on_accept;
	void *arg;
	struct sl_keepalive ka;
	bool ka_on;
	struct sl_tcbq synq; /* half-open connections in the backlog, oldest first */
};

struct sl_tcp {
	struct sl_tcb **table;
	uint32_t nbuckets;
	uint32_t nconns;
	struct sl_listener *listeners;
	uint32_t nlisteners;
	uint8_t isn_key[16];
	struct sl_tcb *pending; /* connections with output to send this poll */
	struct sl_tcb *dead;	/* released connections, freed at the end of the poll */
	struct sl_tcb *orphans; /* CLOSED ones out of the table that the application holds */
	struct sl_tcbq twq;	/* TIME-WAIT connections, oldest first */
	uint16_t next_port;
	uint64_t chal_tokens_ns, chal_last;
	unsigned tx_this_poll;
};

/* tcp.c */
int sl_tcp_init(struct sl_stack *st);
void sl_tcp_fini(struct sl_stack *st);
struct sl_tcb *sl_tcp_lookup(struct sl_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
			     uint16_t rport);
struct sl_listener *sl_tcp_find_listener(struct sl_stack *st, uint16_t port);
struct sl_tcb *sl_tcb_new(struct sl_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
			  uint16_t rport);
/* Unlink t and free it at the end of the poll: code that ran an application callback may
 * still look at it (t->dead). */
void sl_tcb_free(struct sl_tcb *t);
uint32_t sl_tcp_isn(struct sl_stack *st, uint32_t laddr, uint16_t lport, uint32_t raddr,
		    uint16_t rport);
void sl_tcp_set_state(struct sl_tcb *t, enum sl_tcp_state s);
/* The connection is over: record why, stop timers, tell the application once; frees it when
 * the application already let go. */
void sl_tcp_done(struct sl_tcb *t, int err);
const char *sl_tcp_state_name(enum sl_tcp_state s);
/* Run pending output of every connection (end of poll). */
void sl_tcp_flush(struct sl_stack *st);
void sl_tcp_want_output(struct sl_tcb *t);

/* rings */
uint32_t sl_ring_free(const struct sl_ring *r);

/* tcp_output.c */
void sl_tcp_output(struct sl_tcb *t);
/* A control segment for t (SYN, SYN-ACK, ACK, FIN handled by output). */
void sl_tcp_send_ack(struct sl_tcb *t);
void sl_tcp_send_syn(struct sl_tcb *t);
void sl_tcp_send_ka_probe(struct sl_tcb *t);
void sl_tcp_send_probe(struct sl_tcb *t);
/* RST in reply to a segment (RFC 9293 §3.10.7.1 rules). */
struct sl_ip4_pkt;
void sl_tcp_send_rst_for(struct sl_stack *st, const struct sl_ip4_pkt *pkt, const uint8_t *th,
			 uint32_t seglen);
void sl_tcp_send_rst(struct sl_tcb *t);
/* Our receive window to advertise now (unscaled), updating rcv_adv (RFC 9293 §3.8.6.2.2). */
uint32_t sl_tcp_rcv_window(struct sl_tcb *t);
void sl_tcp_retransmit_first(struct sl_tcb *t);

/* tcp_timer.c */
void sl_tcp_timers_init(struct sl_tcb *t);
void sl_tcp_timers_stop(struct sl_tcb *t);
void sl_tcp_arm_rto(struct sl_tcb *t);
void sl_tcp_rtt_sample(struct sl_tcb *t, uint64_t rtt_ns);
void sl_tcp_arm_persist(struct sl_tcb *t);
void sl_tcp_arm_delack(struct sl_tcb *t);
void sl_tcp_ka_reset(struct sl_tcb *t);
void sl_tcp_enter_time_wait(struct sl_tcb *t);
bool sl_tcp_challenge_ok(struct sl_stack *st);

#endif
