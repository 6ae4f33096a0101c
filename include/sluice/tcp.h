/*
 * TCP (API.md: TCP and Keepalive; RFC 9293).
 *
 * A flow is a connection. Its callbacks run inside sl_stack_poll:
 *   on_connected(arg, flow, err)  an active open finished: 0, -ECONNREFUSED, -ETIMEDOUT
 *   on_readable(arg, flow)        data or end of file can be read (once per poll for all
 *                                 that poll brought, before the poll's output)
 *   on_writable(arg, flow)        send-buffer space came back after a short or refused
 *                                 write (or sl_tcp_sndbuf_free() returning 0)
 *   on_closed(arg, flow, reason)  the connection is over: 0 (orderly), -ECONNRESET,
 *                                 -ETIMEDOUT (retransmissions or keepalive gave up)
 * After on_closed the flow still exists (reads drain what is left) until the application
 * calls sl_tcp_close or sl_tcp_abort. After sl_tcp_close/abort the application must not
 * touch the flow again; the stack frees it when the protocol is done with it.
 */
#ifndef SLUICE_TCP_H
#define SLUICE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sluice/ip.h"

struct sl_stack;
struct sl_tcp_flow;

/* Mirage's Keepalive: probes at after + k·interval (k = 1..probes) after the last segment
 * received; the connection is reset at after + (probes + 1)·interval without an answer. */
struct sl_keepalive {
	uint64_t after_ns;
	uint64_t interval_ns;
	uint32_t probes;
};

struct sl_tcp_callbacks {
	void (*on_connected)(void *arg, struct sl_tcp_flow *f, int err);
	void (*on_readable)(void *arg, struct sl_tcp_flow *f);
	void (*on_writable)(void *arg, struct sl_tcp_flow *f);
	void (*on_closed)(void *arg, struct sl_tcp_flow *f, int reason);
};

typedef void (*sl_tcp_accept_cb)(void *arg, struct sl_tcp_flow *f);

/* Passive open on port (1..65535, else -EINVAL; taken: -EADDRINUSE). ka may be NULL.
 * on_accept runs once per established connection; it should set the flow's callbacks. */
int sl_tcp_listen(struct sl_stack *st, int port, const struct sl_keepalive *ka,
		  sl_tcp_accept_cb on_accept, void *arg);
int sl_tcp_unlisten(struct sl_stack *st, int port);
/* Which families the listener on port takes (both when it is made): a SYN of a refused one is
 * answered as for a closed port (RST). -ENOENT without a listener. */
int sl_tcp_listen_families(struct sl_stack *st, int port, bool v4, bool v6);
/* Whether the application can take connections on port now. While full, the last ACK of a
 * handshake is dropped (counted as tcp_listen_overflow): the connection stays half-open and
 * its SYN-ACK is retransmitted, and a SYN-cookie ACK is ignored, so that the client's next
 * segment completes it once there is room (Linux with tcp_abort_on_overflow 0; listen(2)).
 * -ENOENT without a listener. */
int sl_tcp_listen_full(struct sl_stack *st, int port, bool full);
/* The same decision asked per connection, for an application whose queues divide a port (by
 * local address or family): room(arg, local, port) is called with the listener's arg when a
 * handshake to local:port would complete; false drops it as a full port does, for that connection
 * only. NULL stops asking. -ENOENT without a listener. */
typedef bool (*sl_tcp_room_cb)(void *arg, const sl_ip *local, int port);
int sl_tcp_listen_room(struct sl_stack *st, int port, sl_tcp_room_cb room);
/* The TTL (v6 false) or hop limit (v6 true), 0 for the stack's default, and the TOS byte or
 * traffic class (its ECN bits are the stack's: sent as 0) of the SYN-ACKs the listener on port
 * sends to that family, cookie SYN-ACKs included, and of the connections it accepts, which
 * start with them (sl_tcp_set_ttl and sl_tcp_set_tos change them later). -ENOENT without a
 * listener. */
int sl_tcp_listen_iptx(struct sl_stack *st, int port, bool v6, uint8_t ttl, uint8_t tos);
/* The largest MSS the listener on port announces in its SYN-ACKs (cookie ones included) and
 * its connections send with, as sl_tcp_connect_opts.mss for an active open; 0: the link's.
 * -ENOENT without a listener. */
int sl_tcp_listen_mss(struct sl_stack *st, int port, uint16_t mss);

struct sl_tcp_connect_opts {
	const sl_ip *src;	       /* NULL: source selection */
	const struct sl_keepalive *ka; /* NULL: none */
	uint64_t timeout_ns;	       /* 0: the SYN retransmission limit decides (~ 60 s) */
	const char *cc;		       /* congestion control ("cubic", "newreno"); NULL: the
					* stack's (sl_stack_config.tcp_cc) */
	uint16_t src_port;	       /* 0: an ephemeral port (RFC 6056); else this one (bind
					* before connect): -EADDRINUSE when the 4-tuple is taken
					* or the port is a listener's */
	uint8_t ttl;		       /* TTL / hop limit of every segment, the SYN included;
					* 0: the stack's (sl_stack_config.ttl) */
	uint8_t tos;		       /* TOS / traffic class of every segment (DSCP, RFC 2474);
					* its ECN bits are the stack's, sent as 0 */
	uint16_t mss;		       /* at most this MSS, announced in the SYN and sent with
					* (Linux's TCP_MAXSEG); 0: the link's */
};
/* Active open. The flow exists at once; on_connected reports the outcome. */
int sl_tcp_connect(struct sl_stack *st, const sl_ip *dst, int port,
		   const struct sl_tcp_connect_opts *o, const struct sl_tcp_callbacks *cb,
		   void *arg, struct sl_tcp_flow **out);

void sl_tcp_set_callbacks(struct sl_tcp_flow *f, const struct sl_tcp_callbacks *cb, void *arg);

/* Told about a stack's active opens, on its thread. on_open runs in sl_tcp_connect once the
 * connection's addresses and ports are chosen and before its SYN is built, so the application
 * can make sure the replies reach this stack (sluice run --queues steers the 4-tuple to its
 * queue in the gate; --shared also holds the local port with a kernel socket); a negative
 * errno refuses the connection (sl_tcp_connect returns it), except -EADDRINUSE, which refuses
 * the local port only: sl_tcp_connect then tries the next ephemeral port, each of the range
 * (49152..65535) once, RFC 6056 §3.3, and returns -EADDRINUSE after the last. on_gone is not
 * called for a refused port.
 * on_gone runs when that connection leaves the connection table for good (closed, reset, timed
 * out, aborted, TIME-WAIT over, or sl_stack_close), once per on_open that returned 0; the tuple
 * may be used again after it. Either may be NULL. */
struct sl_tcp_open_hooks {
	int (*on_open)(void *arg, struct sl_stack *st, const sl_ip *local, uint16_t lport,
		       const sl_ip *remote, uint16_t rport);
	void (*on_gone)(void *arg, struct sl_stack *st, const sl_ip *local, uint16_t lport,
			const sl_ip *remote, uint16_t rport);
	void *arg;
};
/* Copies h; NULL removes the hooks. */
void sl_tcp_set_open_hooks(struct sl_stack *st, const struct sl_tcp_open_hooks *h);

/* Bytes read (≤ cap), 0 at end of file, -EAGAIN when nothing yet, or the error that ended
 * the connection (-ECONNRESET, -ETIMEDOUT) once everything received has been read. */
ssize_t sl_tcp_read(struct sl_tcp_flow *f, void *buf, size_t cap);

/* Zero-copy read: up to two views into the flow's receive buffer (it is a ring) holding
 * everything readable now; returns the byte count (0 and EOF/-errors as sl_tcp_read).
 * The views stay valid until sl_tcp_consume, which releases n bytes. */
struct sl_iov {
	const uint8_t *p;
	size_t len;
};
ssize_t sl_tcp_peek(struct sl_tcp_flow *f, struct sl_iov v[2]);
void sl_tcp_consume(struct sl_tcp_flow *f, size_t n);

/* Queue data: bytes accepted (maybe fewer than len; 0 < … ≤ len), -EAGAIN when the send
 * buffer is full (on_writable will be called), -EPIPE after shutdown/close/reset. The plain
 * forms apply Nagle (RFC 896); the _nodelay forms push what they queue at once. */
ssize_t sl_tcp_write(struct sl_tcp_flow *f, const void *data, size_t len);
ssize_t sl_tcp_writev(struct sl_tcp_flow *f, const struct sl_iov *v, int n);
ssize_t sl_tcp_write_nodelay(struct sl_tcp_flow *f, const void *data, size_t len);
ssize_t sl_tcp_writev_nodelay(struct sl_tcp_flow *f, const struct sl_iov *v, int n);

#define SL_SHUT_RD 1
#define SL_SHUT_WR 2
#define SL_SHUT_RDWR 3
int sl_tcp_shutdown(struct sl_tcp_flow *f, int how);
/* Send what is queued, then FIN; the flow is freed when the protocol is done with it. */
void sl_tcp_close(struct sl_tcp_flow *f);
/* Reset the connection (RST) and free the flow. */
void sl_tcp_abort(struct sl_tcp_flow *f);

void sl_tcp_endpoints(const struct sl_tcp_flow *f, sl_ip *local, uint16_t *lport, sl_ip *remote,
		      uint16_t *rport);

struct sl_tcp_info {
	const char *state; /* RFC 9293 name: "ESTABLISHED", ... */
	uint32_t mss;	   /* send MSS */
	uint64_t srtt_us, rttvar_us, rto_us, min_rtt_us;
	uint32_t cwnd, ssthresh, snd_wnd, rcv_wnd;
	uint64_t retransmits, bytes_sent, bytes_received, segs_in, segs_out;
	uint8_t snd_wscale, rcv_wscale;
	/* What the handshake negotiated. */
	bool wscale_ok, sack_ok, ts_ok;
	const char *cc; /* "cubic", "newreno" */
	/* Loss recovery (RFC 6675, RFC 8985). */
	uint32_t pipe;	 /* bytes estimated in flight */
	uint32_t sacked; /* bytes above SND.UNA the peer has SACKed */
	uint32_t lost;	 /* bytes marked lost, not yet retransmitted */
	uint64_t recoveries, rto_count, tlp_probes, spurious_undone, dsacks_rx, dsacks_tx;
	/* The send buffer: bytes written and not yet acknowledged (SND.UNA up to what the
	 * application wrote: Linux's SIOCOUTQ), and those of them not sent yet (SIOCOUTQNSD). */
	uint32_t snd_queued, snd_unsent;
};
void sl_tcp_info(const struct sl_tcp_flow *f, struct sl_tcp_info *out);

/* Has the peer's FIN arrived (whatever is still unread before it)? */
bool sl_tcp_eof(const struct sl_tcp_flow *f);

/* Turn keepalive on (ka) or off (NULL) for a connection: the probes count from the last
 * segment received (Keepalive above). */
void sl_tcp_set_keepalive(struct sl_tcp_flow *f, const struct sl_keepalive *ka);

/* The TTL (IPv4) or hop limit (IPv6) of a connection's segments from now on; 0: the stack's
 * default (sl_stack_config.ttl). An active open sets it for its SYN with
 * sl_tcp_connect_opts.ttl; an accepted connection's SYN-ACK carries its listener's
 * (sl_tcp_listen_iptx). */
void sl_tcp_set_ttl(struct sl_tcp_flow *f, uint8_t ttl);
/* The TOS byte (IPv4) or traffic class (IPv6) of a connection's segments from now on: the DSCP
 * bits as given (RFC 2474), the ECN bits 0 (RFC 3168 §6.1.1: sluice does not negotiate ECN).
 * sl_tcp_connect_opts.tos sets it for an active open's SYN; sl_tcp_listen_iptx for accepted
 * connections. */
void sl_tcp_set_tos(struct sl_tcp_flow *f, uint8_t tos);
/* RFC 5482's user timeout (Linux's TCP_USER_TIMEOUT), in milliseconds; 0 (the default) for
 * none. With one, a connection whose sent data (or SYN) has waited that long for an ACK is
 * reset and ends with -ETIMEDOUT at the retransmission timeout that reaches it (the timeout
 * is cut short to end there), whatever the retry count; with keepalive on, so is one silent
 * that long once a probe has gone unanswered. A zero-window probe still counts its retries. */
void sl_tcp_set_user_timeout(struct sl_tcp_flow *f, uint32_t ms);
/* Cork (Linux's TCP_CORK): while on, no partial segment is sent, even by the _nodelay writes,
 * until the data fills one, the cork is taken off (what is held then goes at once) or 200 ms
 * have passed since the first byte was held (tcp(7)'s ceiling). A FIN still goes. */
void sl_tcp_set_cork(struct sl_tcp_flow *f, bool on);

/* Change a connection's congestion control ("cubic", "newreno"): -EINVAL for another name.
 * The window and threshold carry over; the algorithm's own state starts afresh. */
int sl_tcp_set_cc(struct sl_tcp_flow *f, const char *name);

/* The stack's own name of a congestion control algorithm it has ("cubic", "newreno"), or
 * NULL for a name it does not have; for name NULL, the algorithm new connections get
 * (sl_stack_config.tcp_cc). */
const char *sl_tcp_cc_name(const struct sl_stack *st, const char *name);

/* A snapshot of one connection, for listings (`sluice stats`). */
struct sl_tcp_conn {
	sl_ip local, remote;
	uint16_t lport, rport;
	struct sl_tcp_info info; /* its strings are static: valid while the program runs */
};
/* Fill up to max entries with the stack's connections (every state but LISTEN); returns how
 * many there are in all. */
size_t sl_tcp_conns(struct sl_stack *st, struct sl_tcp_conn *out, size_t max);
/* Bytes that can be written now without -EAGAIN. Finding none arms on_writable, as a short
 * write does. */
size_t sl_tcp_sndbuf_free(struct sl_tcp_flow *f);

#endif
