/*
 * A sluice stack: one per device queue, driven by one thread. All state hangs
 * off struct sl_stack; two stacks in one process share nothing.
 *
 * Time is passed in (nanoseconds on any monotonic clock); protocol code never
 * reads a clock, so a test can drive a stack with invented time.
 */
#ifndef SLUICE_STACK_H
#define SLUICE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sluice/dev.h"
#include "sluice/ip.h"
#include "sluice/stats.h"

#define SL_MAX_ADDRS 8

struct sl_stack;

/* A neighbour (ARP) table shared by the stacks serving the queues of one interface: ARP
 * replies arrive on one queue only, so what one stack learns, the others can use. Safe to
 * use from the stacks' threads; create it before and free it after the stacks. */
struct sl_neigh_share;
int sl_neigh_share_new(unsigned cap, struct sl_neigh_share **out);
void sl_neigh_share_free(struct sl_neigh_share *s);

struct sl_addr_cfg {
	sl_ip addr;
	uint8_t prefix_len;
};

/* Every field has a default (sl_stack_config_init) and an accepted range; sl_stack_open
 * refuses a value outside it with -EINVAL, and sl_stack_config_check says which and why.
 * Durations are in ns and at most 30 days. */
struct sl_stack_config {
	struct sl_addr_cfg addrs[SL_MAX_ADDRS];
	unsigned n_addrs; /* 0..SL_MAX_ADDRS */
	sl_ip gateway;	  /* default route next hop (either family, not multicast); all-zero =
			   * none */
	sl_ip gateway6;	  /* IPv6 unicast default router (may be link-local) when gateway is
			   * the IPv4 one; all-zero = none */
	/* IP MTU; 0 = the device's. Never above the device's; at least 68 (RFC 791 §3.2), and at
	 * least 1280 with an IPv6 address (RFC 8200 §5): the MTU in use, the device's when this
	 * is 0, is checked. sl_ip_add_addr refuses an IPv6 address below 1280 the same way. */
	uint32_t mtu;
	uint64_t seed; /* per-stack random generator: simulation draws only */
	/* false (default): the secrets an attacker must not guess (RFC 6528 ISN key, SYN-cookie
	 * key, timestamp offsets, RFC 6056 port keys, the connection-table and neighbour-cache
	 * hash keys) come from getrandom(2), never from seed. true: they derive from seed, so
	 * simulations and tests replay; never on a network with adversaries. */
	bool deterministic_secrets;
	uint8_t ttl;			    /* default 64; 0 = 64 */
	struct sl_neigh_share *neigh_share; /* NULL: this stack's ARP cache is its own */

	/* ARP (RFC 826) */
	uint32_t arp_cache_size;	/* entries, 1..65536, default 256 */
	uint32_t arp_pending_per_entry; /* packets waiting for one resolution, 1..48, default 48
					 * (48: a 64 KiB datagram in 1500-byte fragments) */
	uint32_t arp_pending_total; /* packets waiting over all entries, 1..65536, default 256 */
	uint64_t arp_reachable_ns;  /* > 0, default 60 s */
	uint64_t arp_retry_ns;	    /* > 0, default 1 s */
	uint32_t arp_retries;	    /* requests before giving up, 1..255, default 3 */

	/* IPv4 and IPv6 reassembly (RFC 791 §3.2, RFC 815, RFC 8200 §4.5) */
	uint32_t reasm_max_datagrams; /* in progress at once, 1..65536, default 64 */
	uint32_t reasm_mem;	      /* bytes buffered over all datagrams, 4 KiB..1 GiB (4 KiB:
				       * one 1500-byte datagram, the least RFC 8200 §5 allows),
				       * default 4 MiB */
	uint32_t reasm_mem_per_src;   /* bytes buffered for one source, 4 KiB..1 GiB, default
				       * 1 MiB */
	uint32_t reasm_max_per_src;   /* datagrams in progress from one source, 1..65536, default
				       * 16, so one source cannot take every slot */
	uint64_t reasm_timeout_ns;    /* > 0, default 30 s (RFC 791 suggests 15 s upward) */

	/* UDP */
	uint32_t udp_max_sockets; /* 1..65536, default 1024 */
	uint32_t udp_rcvbuf;	  /* bytes queued per callback-less socket, 1..1 GiB, default
				   * 256 KiB */

	/* TCP (RFC 9293) */
	uint32_t tcp_max_conns;	     /* connections in the table (all states), 1..2^24, default
				      * 8192 */
	uint32_t tcp_sndbuf;	     /* bytes per connection, a power of two from 4 KiB to 1 GiB
				      * (RFC 7323 §2.3: what a window scale of 14 covers),
				      * default 256 KiB */
	uint32_t tcp_rcvbuf;	     /* the same range, default 256 KiB */
	uint32_t tcp_backlog;	     /* half-open connections per listener, 1..2^24, default 256 */
	uint64_t tcp_msl_ns;	     /* TIME-WAIT lasts 2·MSL; > 0, default MSL 30 s */
	uint64_t tcp_rto_min_ns;     /* RFC 6298 (2.4) minimum, > 0, default 200 ms */
	uint64_t tcp_rto_max_ns;     /* tcp_rto_min_ns.., default 60 s */
	uint64_t tcp_rto_initial_ns; /* before any RTT sample, tcp_rto_min_ns..tcp_rto_max_ns,
				      * default 1 s (RFC 6298 (2.1)) */
	uint32_t tcp_max_retries;    /* retransmissions of one segment before ETIMEDOUT, 1..255,
				      * default 15 */
	uint32_t tcp_syn_retries;    /* SYN retransmissions before ETIMEDOUT, 1..255, default 6 */
	uint64_t tcp_delack_ns;	     /* delayed-ACK bound, 0 (ACK at once) up to but not including
				      * 500 ms (RFC 1122 §4.2.3.2), default 40 ms */
	uint32_t tcp_initial_window; /* segments (RFC 6928), 1..1000, default 10; from 10 up,
				      * capped at RFC 6928's max(2·MSS, 14600) bytes */
	uint32_t tcp_challenge_rate; /* challenge ACKs per second (RFC 5961 §7), 0 (none)..10^6,
				      * default 100; the budget of each second is drawn at
				      * random from [rate/2, 3·rate/2) so it cannot be counted
				      * from outside */
	uint64_t tcp_oow_ack_ns;     /* a connection answers out-of-window segments without data
				      * (and challenge ACKs) at most once per this interval,
				      * 0 (no limit)..30 days, default 500 ms; segments with
				      * data are always answered */
	const char *tcp_cc;	     /* congestion control: "cubic" (default; also NULL) or
				      * "newreno" */
	bool tcp_sack;		     /* offer and use SACK (RFC 2018, 2883), default on */
	bool tcp_timestamps;	     /* offer and use timestamps (RFC 7323), default on */
	uint8_t tcp_syncookies;	     /* RFC 4987 SYN cookies: 0 never, 1 when a listener's
				      * backlog is full (default), 2 always */

	/* Shared-address mode (sluice run --shared, docs/architecture.md "Shared addresses"):
	 * the stack's addresses are the kernel's own, which already defends them. Adding one then
	 * sends no gratuitous ARP and runs no Duplicate Address Detection (the kernel did; an IPv6
	 * address is usable at once), and the stack never announces them. */
	bool shared_addrs;
	/* Set: the stack sends no ARP request and no Neighbor Solicitation. Where it would (a
	 * next hop to resolve, a retry, a reachability probe) it calls neigh_resolve instead, on
	 * its thread, and waits for the answer as for one from the wire: the application tells
	 * it with sl_neigh_set (in shared mode, from the kernel's neighbour table, which does the
	 * asking). NULL (default): ARP and NDP as usual. */
	void (*neigh_resolve)(void *arg, struct sl_stack *st, const sl_ip *ip);
	void *neigh_resolve_arg;

	/* ICMP errors: token bucket (RFC 1812 §4.3.2.8) */
	uint32_t icmp_rate;  /* per second, 0 (no errors)..10^9, default 100 */
	uint32_t icmp_burst; /* 1..10^6 when icmp_rate is not 0, default 50 */
};

void sl_stack_config_init(struct sl_stack_config *cfg);

/* Check cfg against the ranges above, and its MTU against a device's (dev_mtu; 0: none):
 * 0, or -EINVAL with a one-line reason in why (when why is not NULL). sl_stack_open runs it
 * and refuses what it refuses. */
int sl_stack_config_check(const struct sl_stack_config *cfg, uint32_t dev_mtu, char *why,
			  size_t whylen);

/* Open a stack on dev (which it does not own). Sends a gratuitous ARP per IPv4 address. */
int sl_stack_open(struct sl_dev *dev, const struct sl_stack_config *cfg, uint64_t now_ns,
		  struct sl_stack **out);
/* Free the stack; every frame it held goes back to the device. */
void sl_stack_close(struct sl_stack *st);

/* Process one batch (≤ SL_RX_BATCH frames), run due timers, flush output once.
 * Returns the next time something is due (UINT64_MAX: nothing). */
uint64_t sl_stack_poll(struct sl_stack *st, uint64_t now_ns);

/* Counters; the pointer stays valid while the stack lives. The device's kernel-side counters
 * (dev_*) are refreshed by sl_stack_poll every 50 ms, or now by sl_stack_sync_stats. */
const struct sl_stats *sl_stack_stats(const struct sl_stack *st);
void sl_stack_sync_stats(struct sl_stack *st);
/* A layer above the stack that discards what the stack delivered to it (the socket layer's
 * datagram queues, an application's own) counts it in drop counter c of sluice/stats.h
 * (SL_STAT_udp_rcvbuf_full, ...), so that the loss shows beside the stack's own. 0, or
 * -EINVAL when c is not a drop counter. From the stack's thread only. */
int sl_stack_count_drop(struct sl_stack *st, unsigned c);
/* Publish counters to a file `sluice stats` can read (struct sl_stats_file); the counters then
 * live in that mapping. */
int sl_stack_publish_stats(struct sl_stack *st, const char *path, const char *ifname,
			   unsigned queue);

/* Publish a table of up to max TCP connections (struct sl_conns_file) that the stack
 * rewrites every 50 ms inside sl_stack_poll, for `sluice stats`. */
int sl_stack_publish_conns(struct sl_stack *st, const char *path, unsigned max);

struct sl_dev *sl_stack_dev(struct sl_stack *st);
/* The configuration the stack runs with: what sl_stack_open was given, with its zero defaults
 * filled in (ttl 0 reads 64). The pointer stays valid while the stack lives. */
const struct sl_stack_config *sl_stack_get_config(const struct sl_stack *st);

/* Change the stack's IP MTU while it runs (its interface's MTU changed: `sluice run --shared`
 * follows the kernel's). Accepted: 68 (RFC 791 §3.2) up to what the device's frames carry
 * (sl_dev.max_mtu, or its mtu when that is 0), and at least 1280 while the stack has an IPv6
 * address (RFC 8200 §5: delete those first); -EINVAL otherwise, and nothing changes. From the
 * next packet on, output fits the new MTU (IPv4 fragments to it, IPv6 path MTUs are capped by
 * it) and new connections announce its MSS; an established connection whose segments no
 * longer fit sends smaller ones, as for a smaller path MTU (RFC 1191 §6.3), and one keeps its
 * segment size when the MTU grows. Call it from the stack's thread. */
int sl_stack_set_mtu(struct sl_stack *st, uint32_t mtu);

/* The run loop: poll until sl_stack_stop(), the duration passes, or the device is gone. */
struct sl_run_opts {
	bool busy_poll;	       /* never sleep */
	uint64_t max_sleep_ns; /* cap on one sleep (default 100 ms) */
	uint64_t duration_ns;  /* 0 = until stopped */
	uint64_t spin_ns;      /* keep polling this long after a batch that received frames
				* before sleeping (0: sleep at once) */
	uint64_t check_ns;     /* how often to ask sl_dev_health and check (default 250 ms) */
	/* Optional, called every check_ns from the loop's thread: a negative errno stops the
	 * loop and sl_stack_run returns it (the CLI checks that its gate is still attached). */
	int (*check)(void *arg, struct sl_stack *st);
	void *check_arg;
	/* Optional: a descriptor of the application's (sluice run --shared: its rtnetlink
	 * socket) that the loop's sleep also waits on; aux runs on the loop's thread when it is
	 * readable after a sleep, and at every check (so a loop that never sleeps runs it too).
	 * A negative errno from aux stops the loop as check's does. aux_fd < 0 or aux NULL: none
	 * (a zeroed struct has aux NULL). */
	int aux_fd;
	int (*aux)(void *arg, struct sl_stack *st);
	void *aux_arg;
};
/* Returns 0 when stopped or the duration passed; -ENODEV when the device's interface is gone
 * (sl_dev_health: deleted, moved to another namespace, socket unbound), noticed within
 * check_ns; check's error; -EIO when poll(2) reports an error on the device's descriptor that
 * sl_dev_health cannot name, -EBADF when the descriptor is closed; or poll's -errno. A link
 * that goes down (-ENETDOWN from sl_dev_health) does not stop the loop: it keeps running,
 * without spinning, and traffic resumes when the link is up. After an error the stack is
 * still open: close it (and its device) as usual; every frame is accounted for. */
int sl_stack_run(struct sl_stack *st, const struct sl_run_opts *opts);
/* Async-signal-safe: ask sl_stack_run to return after the current batch. */
void sl_stack_stop(struct sl_stack *st);

/* Monotonic clock in ns, for applications driving sl_stack_poll themselves. */
uint64_t sl_now_ns(void);

#endif
