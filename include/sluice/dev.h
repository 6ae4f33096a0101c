/*
 * The device seam. A stack runs over one struct sl_dev: an AF_XDP socket on a
 * (interface, queue), one end of an in-memory pipe (tests, no root), or a pcap
 * tap wrapping either. Frames are fixed-size buffers owned by the device's frame
 * pool; each frame has exactly one owner at a time and the pool counts them.
 */
#ifndef SLUICE_DEV_H
#define SLUICE_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_RX_BATCH 64 /* descriptors taken per poll */

/* A frame handed between the device and the stack. */
struct sl_frame {
	uint8_t *data; /* first byte of the packet */
	uint32_t len;  /* bytes of packet */
	uint32_t cap;  /* bytes available from data to the end of the buffer */
	uint64_t addr; /* device handle (UMEM address incl. offset) */
	/* Transmit checksum offload (only on a device with tx_csum): csum_off non-zero asks the
	 * device to put the Internet checksum of the bytes from csum_start to the end at
	 * csum_start + csum_off (the field holds the pseudo-header's sum, as Linux's
	 * CHECKSUM_PARTIAL). A device with tx_csum hands out every frame with csum_off 0. */
	uint16_t csum_start, csum_off;
};

/* Who holds a frame. */
enum sl_frame_owner {
	SL_OWN_FREE = 0, /* device free list */
	SL_OWN_KERNEL,	 /* fill ring, or inside the kernel waiting to be received */
	SL_OWN_STACK,	 /* received or allocated, held by the stack */
	SL_OWN_TX,	 /* queued for transmission until its completion */
	SL_OWN_N
};

struct sl_dev_counts {
	uint64_t total;
	uint64_t owner[SL_OWN_N];
	uint64_t owner_errors; /* a frame came back from a place it was not in */
};

struct sl_stats;
struct sl_dev;

struct sl_dev_ops {
	/* Take up to max received frames (ownership: stack). */
	int (*rx)(struct sl_dev *d, struct sl_frame *f, int max, uint64_t now_ns);
	/* A free frame for building output (ownership: stack); -ENOBUFS when none. */
	int (*alloc)(struct sl_dev *d, struct sl_frame *f);
	/* Return a frame the stack holds. */
	void (*release)(struct sl_dev *d, const struct sl_frame *f);
	/* Queue a frame the stack holds for transmission (ownership: device, even on error:
	 * a frame that cannot be queued is released and -ENOBUFS returned). */
	int (*tx)(struct sl_dev *d, const struct sl_frame *f);
	/* Submit queued output (one submit, at most one kick), recycle completions, refill. */
	void (*flush)(struct sl_dev *d, uint64_t now_ns);
	/* Earliest time the device has something to deliver (pipe delay), or UINT64_MAX. */
	uint64_t (*next_event)(struct sl_dev *d);
	/* Kernel-side counters into st (AF_XDP: XDP_STATISTICS). */
	void (*stats)(struct sl_dev *d, struct sl_stats *st);
	void (*counts)(struct sl_dev *d, struct sl_dev_counts *c);
	/* File descriptor to sleep on with poll(), or -1. */
	int (*fd)(struct sl_dev *d);
	/* May be NULL (always healthy). See sl_dev_health; may make a few syscalls, so callers
	 * ask every few hundred milliseconds, never per packet. */
	int (*health)(struct sl_dev *d);
	/* Free the device; final (may be NULL) receives the frame counts seen once the kernel
	 * has let go of every frame. */
	void (*close)(struct sl_dev *d, struct sl_dev_counts *final);
};

struct sl_dev {
	const struct sl_dev_ops *ops;
	uint8_t mac[6];
	uint32_t mtu; /* IP MTU (frame payload after the Ethernet header) */
	char name[32];
	char mode[16]; /* "native", "generic", "pipe" */
	bool zero_copy;
	/* The largest IP MTU its frames carry, should the interface's grow while it is open
	 * (sl_stack_set_mtu's bound); 0: mtu. */
	uint32_t max_mtu;
	bool tx_csum; /* finishes a frame's requested L4 checksum (struct sl_frame csum_off) */
};

/* --- AF_XDP ------------------------------------------------------------ */
#define SL_XSK_NO_TX_RESERVE UINT32_MAX

/* The AF_XDP devices of the queues of one interface that one process serves, one stack per
 * queue (sluice run --queues). A flow belongs to one stack, but the queue its frames arrive on
 * is the peer's or the NIC's choice: for an active open, the peer's hash picks the queue of
 * the replies. The gate marks the frames of a tuple whose rule names a home queue (struct
 * sl_rule has_home/home, docs/gate.md); a member device that receives a frame marked for
 * another member copies it into that member's mailbox (bounded: dev_handoff_full counts what
 * does not fit) and that member delivers it to its stack as received on its own queue
 * (dev_handoff_out, dev_handoff_in). A member's sl_dev_fd is then an epoll descriptor
 * (its socket and its mailbox's eventfd) that wakes its run loop for either; the socket for
 * the XSKMAP is sl_dev_xsk_socket. Members may run on different threads; open them before
 * and close them after those threads run, and free the group after its last member. */
struct sl_xsk_group;
int sl_xsk_group_new(struct sl_xsk_group **out);
void sl_xsk_group_free(struct sl_xsk_group *g);
/* Flows with a home that may send marked frames: +1 when such a tuple rule is added, -1 when
 * it is removed. While it is 0 no member looks for marks (a cache line per frame saved). Safe
 * from any thread. */
void sl_xsk_group_expect(struct sl_xsk_group *g, int delta);
struct sl_xsk_config {
	const char *ifname;
	uint32_t queue;
	uint32_t frames;    /* UMEM frames (power of two), default 4096 */
	uint32_t ring_size; /* each ring (power of two), default 2048 */
	/* Frames the fill ring never gets, kept free for output so that a receive flood cannot
	 * leave the stack without a frame to reply in (receive livelock). 0: the default,
	 * frames / 16 (256 of 4096); SL_XSK_NO_TX_RESERVE: none (the fill ring may take every
	 * free frame). At most frames / 2. */
	uint32_t tx_reserve;
	bool force_copy;	    /* XDP_COPY */
	bool generic;		    /* the gate runs in generic (SKB) mode */
	/* No transmit checksum offload: the stack computes every checksum itself. Otherwise
	 * the socket asks for TX metadata (Linux 6.8) and, in copy mode, the kernel finishes the
	 * TCP and UDP checksums the stack asks it to (sl_dev tx_csum). */
	bool no_tx_csum;
	struct sl_xsk_group *group; /* NULL: none; else one member per queue (-EEXIST twice) */
};
/* Open an AF_XDP socket; the caller puts sl_xsk_fd() into the gate's XSKMAP. */
int sl_dev_xsk_open(const struct sl_xsk_config *cfg, struct sl_dev **out);

/* The AF_XDP socket of an AF_XDP device (for the gate's XSKMAP), or -EINVAL for another kind
 * of device. sl_dev_fd is the same descriptor unless the device is in a group. */
int sl_dev_xsk_socket(struct sl_dev *d);

/* Preferred busy polling (kernel Documentation/networking/napi.rst, "IRQ mitigation"), on an
 * open AF_XDP device (not a tap wrapping one): sets SO_PREFER_BUSY_POLL 1, SO_BUSY_POLL usec
 * (1..INT_MAX) and SO_BUSY_POLL_BUDGET budget (1..65535; 0: SL_XSK_BUSY_POLL_BUDGET) on the
 * socket, each read back, and from then on every rx call makes one non-blocking recvfrom(2)
 * first, which runs the queue's NAPI poll in the caller's thread. The pledge this makes to the
 * kernel: poll without sleeping (sl_run_opts.busy_poll), or the device's gro_flush_timeout
 * passes and the kernel takes NAPI back (interrupts again). 0, or the -errno of the first option
 * the kernel refused, with a one-line reason in why (may be NULL). */
#define SL_XSK_BUSY_POLL_BUDGET 64
int sl_dev_xsk_busy_poll(struct sl_dev *d, uint32_t usec, uint32_t budget, char *why,
			 size_t whylen);

/* What an AF_XDP device does about polling, for reports. -EINVAL for another kind of device. */
struct sl_xsk_info {
	uint32_t queue;
	bool busy_poll;		   /* sl_dev_xsk_busy_poll succeeded */
	uint32_t busy_poll_us;	   /* SO_BUSY_POLL */
	uint32_t busy_poll_budget; /* SO_BUSY_POLL_BUDGET */
	uint32_t napi_id;	   /* SO_INCOMING_NAPI_ID: the NAPI instance frames came from, 0
				    * until one was received (or the driver has no NAPI ids) */
	uint64_t busy_polls;	   /* recvfrom calls made to drive NAPI */
};
int sl_dev_xsk_info(struct sl_dev *d, struct sl_xsk_info *out);

/* --- in-memory pipe with a seeded fault injector ------------------------ */
struct sl_fault {
	uint32_t drop_ppm; /* probability per frame, parts per million */
	uint32_t dup_ppm;
	uint32_t reorder_ppm; /* hold a frame back behind the next one */
	uint32_t corrupt_ppm; /* flip one random bit */
	uint64_t delay_ns;    /* fixed one-way delay */
	uint64_t jitter_ns;   /* extra uniform delay in [0, jitter) */
	uint64_t seed;
};
struct sl_pipe_stats {
	uint64_t sent, delivered, dropped, duplicated, reordered, corrupted, overflow;
};
/* Two joined ends; frames sent on one arrive at the other. fault may be NULL. */
int sl_dev_pipe_pair(const struct sl_fault *a_to_b, const struct sl_fault *b_to_a,
		     struct sl_dev **a, struct sl_dev **b);
void sl_dev_pipe_stats(struct sl_dev *end, struct sl_pipe_stats *out);	  /* of frames it sent */
void sl_dev_pipe_set_fault(struct sl_dev *end, const struct sl_fault *f); /* for its output */
/* Offer transmit checksum offload (sl_dev tx_csum) on end: the pipe finishes each requested
 * checksum as it takes the frame, as Linux does for a CHECKSUM_PARTIAL packet in software. */
void sl_dev_pipe_set_tx_csum(struct sl_dev *end, bool on);

/* --- pcap tap ------------------------------------------------------------ */
/* Wrap inner: every frame received or sent is also written to path (pcap, LINKTYPE_ETHERNET).
 * The tap owns inner and closes it. */
int sl_dev_pcap_open(struct sl_dev *inner, const char *path, struct sl_dev **out);

/* Frame accounting, for tests and shutdown checks. */
void sl_dev_counts(struct sl_dev *d, struct sl_dev_counts *c);
void sl_dev_close(struct sl_dev *d);
/* Close and report where every frame ended up: after a clean stop all are SL_OWN_FREE. */
void sl_dev_close_counted(struct sl_dev *d, struct sl_dev_counts *final);
int sl_dev_fd(struct sl_dev *d);
/* Is the device still there? 0: yes and its link is up. -ENETDOWN: the link is down (no
 * carrier or administratively down); nothing is lost, output waits and goes when it is up
 * again. -ENODEV: the interface is gone for good (deleted, moved to another network
 * namespace, or its socket was unbound by the kernel); nothing will arrive or leave again,
 * and the only thing left to do is close. Makes a few syscalls (AF_XDP: SO_ERROR, and the
 * interface's index and flags), so ask every few hundred milliseconds, not per packet;
 * sl_stack_run does. Devices without the notion (pipe) always say 0. */
int sl_dev_health(struct sl_dev *d);

#endif
