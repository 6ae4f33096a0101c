/*
 * AF_XDP device (kernel Documentation/networking/af_xdp.rst).
 *
 * One socket on one (interface, queue) with its own UMEM. The rings are used in
 * batches: one RX peek per poll (≤ SL_RX_BATCH), one TX submit and at most one
 * kick per flush, completions recycled and the fill ring topped up in the same
 * flush. XDP_USE_NEED_WAKEUP keeps the kick off the fast path when the driver
 * does not need it. The bind does not force a copy mode: the kernel picks
 * zero-copy where the driver supports it, and we read back what it chose.
 *
 * No receive livelock: the fill ring is never given the last tx_reserve free frames, so
 * under a receive flood (the kernel holding a full RX ring and a full fill ring) the stack
 * still has frames to build its replies in. And a TX array that fills in the middle of a
 * poll is submitted and kicked there and then (a second submit in that poll, counted as
 * dev_tx_batch_flush) instead of dropping; output is dropped only when the kernel's TX ring
 * itself has no room after the completions have been reclaimed (dev_tx_ring_full at the
 * end-of-poll flush, tx_ring_full for a frame refused by tx()).
 *
 * Jumbo frames (multi-buffer AF_XDP, XDP_USE_SG; docs/architecture.md "Jumbo frames"). When
 * the MTU does not fit one UMEM frame (MTU + 14 > 4096 − XDP_PACKET_HEADROOM), the UMEM
 * gets a second area after the frames: large buffers of XSK_LARGE_SIZE bytes, never given to
 * the fill ring, counted by a pool of their own. RX: a packet the kernel split over several
 * descriptors (XDP_PKT_CONTD on all but the last) is copied into one large buffer, so the
 * stack sees one contiguous frame; its UMEM frames go back to the free list at once (the fill
 * ring gets them in the same poll's refill). A packet in one descriptor stays where it is, as
 * before. TX: alloc() hands out large buffers, and tx() posts one with no copy, as
 * descriptors cut at the 4 KiB chunk boundaries inside it, XDP_PKT_CONTD on all but the
 * last; the buffer is free again when every one of them has completed. A frame address names
 * its pool: below large_off a UMEM frame, above it a large buffer.
 *
 * Preferred busy polling (Documentation/networking/napi.rst, "Busy polling" and "IRQ
 * mitigation"; sl_dev_xsk_busy_poll): with SO_PREFER_BUSY_POLL, SO_BUSY_POLL and
 * SO_BUSY_POLL_BUDGET on the socket, every rx call starts with one non-blocking recvfrom(2),
 * which runs the queue's NAPI poll in this thread (sk_busy_loop: up to the budget of packets,
 * and a zero-copy driver's TX completions). The device's napi_defer_hard_irqs and
 * gro_flush_timeout keep its interrupts masked while that goes on; if the caller stops polling
 * for longer than gro_flush_timeout the kernel takes NAPI back.
 *
 * Handoff between the queues of one process (struct sl_xsk_group): an AF_XDP socket only
 * receives from the queue it is bound to, so a frame of a flow owned by another queue's stack
 * (the gate marked it: struct sl_gate_meta in front of its data, docs/gate.md) is copied into
 * that device's mailbox, and its own frame goes back to the free list. The home device takes
 * it in its next rx call, copied into a frame of its own UMEM, as if received on its queue. An
 * eventfd, polled with the socket through an epoll descriptor (sl_dev_fd), wakes a home that
 * sleeps. Two copies of a frame that took the wrong queue, none for every other frame; the
 * marks are only looked for while the group expects some (sl_xsk_group_expect).
 */
#include "sluice/dev.h"
#include "sluice/stats.h"
#include "dev/frames.h"
#include "dev/xsk_sock.h"
#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

/* TX metadata (Linux 6.8, Documentation/networking/xsk-tx-metadata.rst; the system's
 * linux/if_xdp.h may predate it): XSK_TX_MD_LEN bytes before a TX frame's first byte, read
 * by the kernel when the descriptor carries XDP_TX_METADATA. */
#ifndef XDP_TX_METADATA
#define XDP_TX_METADATA (1 << 1)
#endif
#define SL_TXMD_FLAGS_CHECKSUM (1 << 1) /* XDP_TXMD_FLAGS_CHECKSUM */
struct sl_xsk_tx_metadata {
	uint64_t flags;
	uint16_t csum_start; /* from the frame's first byte */
	uint16_t csum_offset; /* from csum_start */
	uint32_t pad;
	uint64_t launch_time;
};
#define XSK_TX_MD_LEN 24
_Static_assert(sizeof(struct sl_xsk_tx_metadata) == XSK_TX_MD_LEN, "struct xsk_tx_metadata");
/* Where an output frame starts in its chunk while TX metadata is on (it needs the room
 * before it); the same as a received frame's. */
#define XSK_TX_HEADROOM XDP_PACKET_HEADROOM
#include "gate_shared.h"

/* Multi-buffer AF_XDP (Linux 6.6) is newer than Debian 12's uapi headers. */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

#define XSK_TX_BATCH 256 /* frames in the TX array before it is submitted */
/* Descriptors in the TX array: a large buffer takes one per 4 KiB chunk it spans. */
#define XSK_TX_DESCS (XSK_TX_BATCH * 4)
/* A large buffer (jumbo MTU): a frame of up to 16 KiB, so an MTU up to 16370. */
#define XSK_LARGE_SHIFT 14
#define XSK_LARGE_SIZE (1u << XSK_LARGE_SHIFT)
/* With multi-buffer on, one poll's RX peek takes up to this many descriptors per frame the
 * stack asked for (a 9000-byte MTU packet arrives in three). */
#define XSK_RX_DESCS_PER_FRAME 4
/* While the link is down a kick fails with ENETDOWN and leaves the descriptors in the ring:
 * try again this much later, not at once (that was a busy loop on sendto). */
#define XSK_DOWN_RETRY_NS 20000000ULL

/* Frames on their way to a device from the other members of its group. */
#define XSK_MBOX_SLOTS 256
struct xsk_mailbox {
	pthread_mutex_t lock;
	uint32_t head, n;	  /* under lock */
	_Atomic uint32_t pending; /* n, read without the lock */
	uint32_t slot_size;
	uint8_t *buf; /* XSK_MBOX_SLOTS slots of slot_size bytes */
	uint32_t len[XSK_MBOX_SLOTS];
	int efd; /* eventfd: written when the mailbox stops being empty */
};

struct xsk_dev;
struct sl_xsk_group {
	pthread_rwlock_t lock; /* members join and leave under the write lock */
	struct xsk_dev *member[SL_GATE_MAX_QUEUES];
	_Atomic int expect;
};

struct xsk_dev {
	struct sl_dev dev;
	struct sl_frame_pool pool;
	uint8_t *umem_area;
	size_t umem_len;
	struct xsk_sock sock; /* the AF_XDP socket and its UMEM registration */
	bool tx_md;	      /* TX metadata on: every TX frame starts XSK_TX_HEADROOM into its chunk */
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	uint32_t ring_size;
	uint32_t tx_reserve; /* free frames the fill ring may not take */
	/* Queued output, in order: a frame is one descriptor, or several (XDP_PKT_CONTD on all
	 * but its last) for a large buffer. ntx counts frames, ntxd descriptors. */
	struct xdp_desc txd[XSK_TX_DESCS];
	unsigned ntx, ntxd;
	/* Large buffers (jumbo MTU only; large.n == 0 otherwise): UMEM addresses from large_off,
	 * XSK_LARGE_SIZE each. large_pending[b]: TX descriptors of buffer b not yet completed. */
	struct sl_frame_pool large;
	uint64_t large_off;
	uint8_t *large_pending;
	bool sg; /* bound with XDP_USE_SG */
	/* A multi-buffer packet being received (its descriptors may straddle two polls):
	 * rx_large the large buffer it is copied into (-1: none), rx_len its bytes so far;
	 * rx_skip: the packet is dropped, ignore descriptors up to its last. */
	int64_t rx_large;
	uint32_t rx_len;
	bool rx_skip;
	int rx_home; /* the packet was marked for this member's stack (-1: not) */
	uint64_t rx_multibuf, rx_chain_dropped, rx_no_large, tx_multibuf;
	uint64_t tx_csum_offloaded; /* frames sent with a checksum request */
	uint64_t tx_dropped; /* TX ring full at submit */
	uint64_t batch_flushes;
	uint64_t fill_reserved;
	uint64_t kicks;
	uint32_t queue;
	bool busy_poll;		   /* sl_dev_xsk_busy_poll: one recvfrom per rx call */
	uint32_t busy_poll_us;	   /* SO_BUSY_POLL */
	uint32_t busy_poll_budget; /* SO_BUSY_POLL_BUDGET */
	uint64_t busy_polls;	   /* recvfrom calls made to drive NAPI */
	struct sl_xsk_group *group;
	struct xsk_mailbox mbox;       /* when in a group */
	int ep_fd;		       /* epoll over the socket and mbox.efd, when in a group */
	_Atomic uint64_t handoff_full; /* bumped by the senders' threads */
	uint64_t handoff_out, handoff_in, handoff_no_home;
	int ifindex;	     /* of the interface at open, in this network namespace */
	int ctl_fd;	     /* AF_INET datagram socket for the interface ioctls of health */
	int gone;	     /* -ENODEV once the interface is gone (sticky), else 0 */
	uint64_t kick_after; /* link down: no kick before this time */
	uint64_t last_now;   /* time of the last flush (kicks from a full TX array use it) */
};

static struct xsk_dev *xd_of(struct sl_dev *d)
{
	return (struct xsk_dev *)d;
}

/* Give free frames to the kernel through the fill ring (one reserve/submit), all but the
 * TX reserve. */
static void refill(struct xsk_dev *x)
{
	unsigned room = xsk_prod_nb_free(&x->fq, x->pool.nfree);
	if (room > x->pool.nfree)
		room = x->pool.nfree;
	unsigned spare = x->pool.nfree > x->tx_reserve ? x->pool.nfree - x->tx_reserve : 0;
	unsigned want = room < spare ? room : spare;
	if (want < room)
		x->fill_reserved++; /* the fill ring had room the reserve kept back */
	if (!want)
		return;
	uint32_t idx;
	unsigned got = xsk_ring_prod__reserve(&x->fq, want, &idx);
	for (unsigned k = 0; k < got; k++) {
		int64_t i = sl_pool_take(&x->pool, SL_OWN_KERNEL);
		*xsk_ring_prod__fill_addr(&x->fq, idx + k) = (uint64_t)i * x->pool.frame_size;
	}
	xsk_ring_prod__submit(&x->fq, got);
}

static bool is_large(const struct xsk_dev *x, uint64_t addr)
{
	return addr >= x->large_off && x->large.n;
}

static uint32_t large_index(const struct xsk_dev *x, uint64_t addr)
{
	return (uint32_t)((addr - x->large_off) >> XSK_LARGE_SHIFT);
}

static uint64_t large_addr(const struct xsk_dev *x, uint32_t b)
{
	return x->large_off + ((uint64_t)b << XSK_LARGE_SHIFT);
}

/* One TX descriptor of large buffer b completed (or will never be): the buffer is free when
 * the last one has. */
static void large_tx_done(struct xsk_dev *x, uint32_t b)
{
	if (b >= x->large.n || x->large.owner[b] != SL_OWN_TX || !x->large_pending[b]) {
		x->large.errors++;
		return;
	}
	if (--x->large_pending[b] == 0)
		sl_pool_move(&x->large, b, SL_OWN_TX, SL_OWN_FREE);
}

static void reap_completions(struct xsk_dev *x)
{
	uint32_t idx;
	unsigned n = xsk_ring_cons__peek(&x->cq, x->ring_size, &idx);
	for (unsigned k = 0; k < n; k++) {
		uint64_t addr = *xsk_ring_cons__comp_addr(&x->cq, idx + k);
		if (is_large(x, addr))
			large_tx_done(x, large_index(x, addr));
		else
			sl_pool_move(&x->pool, sl_pool_index(&x->pool, addr), SL_OWN_TX,
				     SL_OWN_FREE);
	}
	if (n)
		xsk_ring_cons__release(&x->cq, n);
}

/* A frame the gate marked for another member's stack: copy it into that member's mailbox.
 * false when no member serves that queue (the frame is then delivered here). */
static bool hand_off(struct xsk_dev *x, unsigned home, const uint8_t *data, uint32_t len)
{
	struct sl_xsk_group *g = x->group;
	bool sent = false;
	pthread_rwlock_rdlock(&g->lock);
	struct xsk_dev *to = home < SL_GATE_MAX_QUEUES ? g->member[home] : NULL;
	if (to && len <= to->mbox.slot_size) {
		struct xsk_mailbox *mb = &to->mbox;
		bool was_empty = false;
		pthread_mutex_lock(&mb->lock);
		if (mb->n < XSK_MBOX_SLOTS) {
			uint32_t k = (mb->head + mb->n) % XSK_MBOX_SLOTS;
			memcpy(mb->buf + (size_t)k * mb->slot_size, data, len);
			mb->len[k] = len;
			was_empty = mb->n++ == 0;
			atomic_store_explicit(&mb->pending, mb->n, memory_order_release);
			x->handoff_out++;
		} else {
			atomic_fetch_add_explicit(&x->handoff_full, 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&mb->lock);
		if (was_empty) {
			uint64_t one = 1;
			(void)!write(mb->efd, &one, sizeof(one));
		}
		sent = true;
	}
	pthread_rwlock_unlock(&g->lock);
	return sent;
}

/* The home stack's half: frames other members put into our mailbox, copied into our own
 * frames (data at the offset the kernel uses, as if received here). */
static int take_mail(struct xsk_dev *x, struct sl_frame *f, int max)
{
	struct xsk_mailbox *mb = &x->mbox;
	int got = 0;
	if (max <= 0 || !atomic_load_explicit(&mb->pending, memory_order_acquire))
		return 0;
	uint64_t v;
	(void)!read(mb->efd, &v, sizeof(v)); /* reset before taking: a later write is seen */
	pthread_mutex_lock(&mb->lock);
	while (mb->n && got < max) {
		uint32_t len = mb->len[mb->head];
		struct sl_frame *fr = &f[got];
		if (len > x->pool.frame_size - XDP_PACKET_HEADROOM) {
			/* A jumbo frame, gathered by the sender: into a large buffer of ours. */
			int64_t b = sl_pool_take(&x->large, SL_OWN_STACK);
			if (b < 0) {
				reap_completions(x);
				b = sl_pool_take(&x->large, SL_OWN_STACK);
			}
			if (b < 0)
				break; /* none free now: the rest waits for the next poll */
			fr->addr = large_addr(x, (uint32_t)b);
			fr->cap = XSK_LARGE_SIZE;
		} else {
			int64_t i = sl_pool_take(&x->pool, SL_OWN_STACK);
			if (i < 0)
				break;
			fr->addr = (uint64_t)i * x->pool.frame_size + XDP_PACKET_HEADROOM;
			fr->cap = x->pool.frame_size - XDP_PACKET_HEADROOM;
		}
		got++;
		fr->data = x->umem_area + fr->addr;
		fr->len = len;
		fr->csum_start = fr->csum_off = 0;
		memcpy(fr->data, mb->buf + (size_t)mb->head * mb->slot_size, len);
		mb->head = (mb->head + 1) % XSK_MBOX_SLOTS;
		mb->n--;
		x->handoff_in++;
	}
	atomic_store_explicit(&mb->pending, mb->n, memory_order_release);
	pthread_mutex_unlock(&mb->lock);
	return got;
}

/* The home queue of a frame the gate marked for another queue, or -1. The mark sits in the
 * headroom in front of the data; it is wiped once read, and only believed when the transport
 * bytes it repeats are the frame's (a mark left in a buffer the kernel recycled belongs to an
 * earlier frame). */
static int marked_home(const struct xsk_dev *x, uint8_t *data, uint64_t addr, uint32_t len)
{
	struct sl_gate_meta m;
	if ((addr & (x->pool.frame_size - 1)) < sizeof(m))
		return -1;
	memcpy(&m, data - sizeof(m), sizeof(m));
	if (m.magic != SL_GATE_META_MAGIC)
		return -1;
	memset(data - sizeof(m), 0, sizeof(m.magic));
	if ((uint32_t)m.l4off + sizeof(m.l4) > len || memcmp(data + m.l4off, m.l4, sizeof(m.l4)) ||
	    m.home == x->queue)
		return -1;
	return m.home;
}

/* Give up the multi-buffer packet being gathered: its large buffer goes back, and the rest
 * of its descriptors are skipped. */
static void rx_chain_drop(struct xsk_dev *x, uint64_t *counter)
{
	if (x->rx_large >= 0)
		sl_pool_move(&x->large, (uint32_t)x->rx_large, SL_OWN_KERNEL, SL_OWN_FREE);
	x->rx_large = -1;
	if (!x->rx_skip)
		(*counter)++;
	x->rx_skip = true;
}

/* One descriptor of a packet in several buffers (or the last of one): copy it into the
 * packet's large buffer and give its UMEM frame back at once. The large buffer is held as
 * SL_OWN_KERNEL while the packet is incomplete (it may be finished in the next poll), and
 * handed to the stack with the last descriptor. Returns 1 when a frame was completed in *out.
 * With marks, a packet the gate marked for another member's stack (the mark is in front of
 * its first descriptor) goes to that member whole, from the large buffer. */
static int rx_piece(struct xsk_dev *x, const struct xdp_desc *desc, struct sl_frame *out,
		    bool marks)
{
	uint32_t i = sl_pool_index(&x->pool, desc->addr);
	bool last = !(desc->options & XDP_PKT_CONTD);
	int done = 0;

	if (!x->rx_skip && x->rx_large < 0) {
		/* The first descriptor of a packet. Without a large pool the kernel never sets
		 * XDP_PKT_CONTD (no XDP_USE_SG): such a chain is broken. */
		int64_t b = x->large.n ? sl_pool_take(&x->large, SL_OWN_KERNEL) : -1;
		if (b < 0 && x->large.n) {
			reap_completions(x); /* buffers the kernel has sent since the last submit */
			b = sl_pool_take(&x->large, SL_OWN_KERNEL);
		}
		if (b < 0)
			rx_chain_drop(x, x->large.n ? &x->rx_no_large : &x->rx_chain_dropped);
		x->rx_large = b;
		x->rx_len = 0;
		x->rx_home = -1;
		if (marks && i < x->pool.n && x->pool.owner[i] == SL_OWN_KERNEL)
			x->rx_home =
			    marked_home(x, x->umem_area + desc->addr, desc->addr, desc->len);
	}
	if (i >= x->pool.n || x->pool.owner[i] != SL_OWN_KERNEL) {
		/* Not a frame the kernel had from us: never read it, and the packet is broken. */
		x->pool.errors++;
		rx_chain_drop(x, &x->rx_chain_dropped);
	} else {
		if (!x->rx_skip) {
			if (x->rx_len + desc->len > XSK_LARGE_SIZE) {
				rx_chain_drop(x, &x->rx_chain_dropped);
			} else {
				memcpy(x->umem_area + large_addr(x, (uint32_t)x->rx_large) +
					   x->rx_len,
				       x->umem_area + desc->addr, desc->len);
				x->rx_len += desc->len;
			}
		}
		sl_pool_move(&x->pool, i, SL_OWN_KERNEL, SL_OWN_FREE);
	}
	if (last) {
		uint32_t b = (uint32_t)x->rx_large;
		if (!x->rx_skip && x->rx_large >= 0 && x->rx_home >= 0) {
			if (hand_off(x, (unsigned)x->rx_home, x->umem_area + large_addr(x, b),
				     x->rx_len)) {
				sl_pool_move(&x->large, b, SL_OWN_KERNEL, SL_OWN_FREE);
				x->rx_multibuf++;
				x->rx_large = -1; /* gone to its home: nothing for the stack here */
			} else {
				x->handoff_no_home++;
			}
		}
		if (!x->rx_skip && x->rx_large >= 0) {
			sl_pool_move(&x->large, b, SL_OWN_KERNEL, SL_OWN_STACK);
			out->addr = large_addr(x, b);
			out->data = x->umem_area + out->addr;
			out->len = x->rx_len;
			out->cap = XSK_LARGE_SIZE;
			out->csum_start = out->csum_off = 0;
			x->rx_multibuf++;
			done = 1;
		}
		x->rx_large = -1;
		x->rx_len = 0;
		x->rx_skip = false;
	}
	return done;
}

static int xsk_rx(struct sl_dev *d, struct sl_frame *f, int max, uint64_t now)
{
	struct xsk_dev *x = xd_of(d);
	uint32_t idx;
	if (x->busy_poll && !x->gone) {
		/* The pledge of SO_PREFER_BUSY_POLL: this call is what runs the queue's NAPI. */
		x->busy_polls++;
		if (recvfrom(x->sock.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL) < 0 &&
		    errno == ENXIO)
			x->gone = -ENODEV; /* unbound: the interface was unregistered */
	}
	/* With multi-buffer a frame may take several descriptors: peek more than max, stop at
	 * max frames and hand the rest back to the ring (cancel). */
	unsigned want = x->sg ? (unsigned)max * XSK_RX_DESCS_PER_FRAME : (unsigned)max;
	unsigned n = xsk_ring_cons__peek(&x->rx, want, &idx);
	unsigned k;
	int got = 0;
	bool marks = x->group && atomic_load_explicit(&x->group->expect, memory_order_relaxed) > 0;
	for (k = 0; k < n && got < max; k++) {
		const struct xdp_desc *desc = xsk_ring_cons__rx_desc(&x->rx, idx + k);
		if ((desc->options & XDP_PKT_CONTD) || x->rx_large >= 0 || x->rx_skip) {
			got += rx_piece(x, desc, &f[got], marks);
			continue;
		}
		uint32_t i = sl_pool_index(&x->pool, desc->addr);
		if (sl_pool_move(&x->pool, i, SL_OWN_KERNEL, SL_OWN_STACK) < 0)
			continue; /* counted as an owner error; never touch a frame we do not own */
		if (marks) {
			uint8_t *data = x->umem_area + desc->addr;
			int home = marked_home(x, data, desc->addr, desc->len);
			if (home >= 0) {
				if (hand_off(x, (unsigned)home, data, desc->len)) {
					sl_pool_move(&x->pool, i, SL_OWN_STACK, SL_OWN_FREE);
					continue;
				}
				x->handoff_no_home++; /* nobody here serves it: ours to answer */
			}
		}
		struct sl_frame *fr = &f[got++];
		fr->addr = desc->addr;
		fr->data = x->umem_area + desc->addr;
		fr->len = desc->len;
		fr->cap = x->pool.frame_size - (uint32_t)(desc->addr & (x->pool.frame_size - 1));
		fr->csum_start = fr->csum_off = 0;
	}
	if (k < n)
		xsk_ring_cons__cancel(&x->rx, n - k);
	if (k)
		xsk_ring_cons__release(&x->rx, k);
	if (x->group)
		got += take_mail(x, f + got, max - got);
	return got;
}

/* With a jumbo MTU every frame for output is a large buffer: the stack builds frames up to
 * MTU + 14 bytes without asking how large the one it got is. */
static int xsk_alloc(struct sl_dev *d, struct sl_frame *f)
{
	struct xsk_dev *x = xd_of(d);
	if (x->large.n) {
		int64_t b = sl_pool_take(&x->large, SL_OWN_STACK);
		if (b < 0) {
			/* Fewer of these than frames: before giving up, take back what the kernel
			 * has sent since the last submit (a burst larger than the pool, in one
			 * poll). */
			reap_completions(x);
			b = sl_pool_take(&x->large, SL_OWN_STACK);
		}
		if (b < 0)
			return -ENOBUFS;
		f->addr = large_addr(x, (uint32_t)b);
		f->data = x->umem_area + f->addr;
		f->len = 0;
		f->cap = XSK_LARGE_SIZE;
		f->csum_start = f->csum_off = 0;
		return 0;
	}
	int64_t i = sl_pool_take(&x->pool, SL_OWN_STACK);
	if (i < 0)
		return -ENOBUFS;
	uint32_t off = x->tx_md ? XSK_TX_HEADROOM : 0;
	f->addr = (uint64_t)i * x->pool.frame_size + off;
	f->data = x->umem_area + f->addr;
	f->len = 0;
	f->cap = x->pool.frame_size - off;
	f->csum_start = f->csum_off = 0;
	return 0;
}

static void xsk_release(struct sl_dev *d, const struct sl_frame *f)
{
	struct xsk_dev *x = xd_of(d);
	if (is_large(x, f->addr))
		sl_pool_move(&x->large, large_index(x, f->addr), SL_OWN_STACK, SL_OWN_FREE);
	else
		sl_pool_move(&x->pool, sl_pool_index(&x->pool, f->addr), SL_OWN_STACK, SL_OWN_FREE);
}

static void tx_submit(struct xsk_dev *x);
static void tx_kick(struct xsk_dev *x, uint64_t now);

/* Descriptors a frame at addr of len bytes takes: one per 4 KiB chunk it touches (aligned
 * UMEM: a descriptor may not cross a chunk boundary). */
static unsigned tx_descs(const struct xsk_dev *x, uint64_t addr, uint32_t len)
{
	uint32_t cs = x->pool.frame_size;
	uint32_t first = cs - (uint32_t)(addr & (cs - 1));
	return len <= first ? 1 : 1 + (len - first + cs - 1) / cs;
}

static int xsk_tx(struct sl_dev *d, const struct sl_frame *f)
{
	struct xsk_dev *x = xd_of(d);
	bool large = is_large(x, f->addr);
	unsigned need = large ? tx_descs(x, f->addr, f->len) : 1;
	if (large && (f->len == 0 || ((f->addr - x->large_off) & (XSK_LARGE_SIZE - 1)) + f->len >
					 XSK_LARGE_SIZE)) {
		/* Beyond its buffer (or empty): a stack bug, never a descriptor. */
		sl_pool_move(&x->large, large_index(x, f->addr), SL_OWN_STACK, SL_OWN_FREE);
		x->large.errors++;
		return -EINVAL;
	}
	if (x->ntx == XSK_TX_BATCH || x->ntxd + need > XSK_TX_DESCS) {
		/* A full array is not a full ring: hand the batch to the kernel now. */
		x->batch_flushes++;
		tx_submit(x);
		tx_kick(x, x->last_now);
	}
	if (x->ntx == XSK_TX_BATCH || x->ntxd + need > XSK_TX_DESCS) {
		/* Still full: the TX ring had no room for any of it (the caller counts this one
		 * as tx_ring_full). */
		xsk_release(d, f);
		return -ENOBUFS;
	}
	if (!large) {
		if (sl_pool_move(&x->pool, sl_pool_index(&x->pool, f->addr), SL_OWN_STACK,
				 SL_OWN_TX) < 0)
			return -EINVAL;
		uint32_t opts = 0;
		if (f->csum_off && x->tx_md) {
			/* The checksum request goes in the metadata before the frame (its chunk
			 * has the room: every TX frame starts XSK_TX_HEADROOM into it). */
			struct sl_xsk_tx_metadata md = {.flags = SL_TXMD_FLAGS_CHECKSUM,
							.csum_start = f->csum_start,
							.csum_offset = f->csum_off};
			memcpy(f->data - XSK_TX_MD_LEN, &md, sizeof(md));
			opts = XDP_TX_METADATA;
			x->tx_csum_offloaded++;
		}
		x->txd[x->ntxd++] = (struct xdp_desc){.addr = f->addr, .len = f->len, .options = opts};
		x->ntx++;
		return 0;
	}
	uint32_t b = large_index(x, f->addr);
	if (sl_pool_move(&x->large, b, SL_OWN_STACK, SL_OWN_TX) < 0)
		return -EINVAL;
	x->large_pending[b] = (uint8_t)need;
	uint64_t addr = f->addr;
	uint32_t left = f->len, cs = x->pool.frame_size;
	for (unsigned k = 0; k < need; k++) {
		uint32_t room = cs - (uint32_t)(addr & (cs - 1));
		uint32_t len = left < room ? left : room;
		left -= len;
		x->txd[x->ntxd++] = (struct xdp_desc){
		    .addr = addr, .len = len, .options = left ? XDP_PKT_CONTD : 0};
		addr += len;
	}
	if (need > 1)
		x->tx_multibuf++;
	x->ntx++;
	return 0;
}

/* Descriptors in the TX ring the kernel has not taken yet. */
static bool tx_waiting(struct xsk_dev *x)
{
	return xsk_prod_nb_free(&x->tx, x->ring_size) < x->ring_size;
}

/* Move the TX array into the TX ring (one reserve/submit), after reclaiming completions, as
 * many whole frames as the ring has room for: never part of a multi-descriptor frame (the
 * kernel would take the next frame's first descriptor as its continuation). What the ring
 * has no room for stays in the array. */
static void tx_submit(struct xsk_dev *x)
{
	reap_completions(x);
	if (!x->ntxd)
		return;
	unsigned take = xsk_prod_nb_free(&x->tx, x->ntxd);
	if (take >= x->ntxd)
		take = x->ntxd;
	else
		while (take && (x->txd[take - 1].options & XDP_PKT_CONTD))
			take--;
	uint32_t idx;
	if (!take || xsk_ring_prod__reserve(&x->tx, take, &idx) != take)
		return;
	unsigned frames = 0;
	for (unsigned k = 0; k < take; k++) {
		*xsk_ring_prod__tx_desc(&x->tx, idx + k) = x->txd[k];
		frames += !(x->txd[k].options & XDP_PKT_CONTD);
	}
	xsk_ring_prod__submit(&x->tx, take);
	memmove(x->txd, x->txd + take, (x->ntxd - take) * sizeof(x->txd[0]));
	x->ntxd -= take;
	x->ntx -= frames;
}

static void tx_kick(struct xsk_dev *x, uint64_t now)
{
	/* TX moves on sendto() when the ring asks for a wakeup. A zero-copy driver drains the
	 * ring from one kick; copy mode sends at most 32 frames per call (the kernel's
	 * TX_BATCH_SIZE), so keep kicking while descriptors wait, a bounded number of times.
	 * Failures (EAGAIN, EBUSY, ENOBUFS) are transient: what is left goes next poll.
	 * ENETDOWN (link down) leaves the ring as it is: wait XSK_DOWN_RETRY_NS before the next
	 * kick. ENXIO: the kernel unbound the socket because its interface was unregistered
	 * (deleted, or moved to another namespace); nothing will ever leave, so stop kicking. */
	for (unsigned k = 0; !x->gone && now >= x->kick_after && k < x->ring_size / 32 + 1 &&
			     xsk_ring_prod__needs_wakeup(&x->tx) && tx_waiting(x);
	     k++) {
		x->kicks++;
		if (sendto(x->sock.fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0) {
			if (errno == ENXIO)
				x->gone = -ENODEV;
			else if (errno == ENETDOWN)
				x->kick_after = now + XSK_DOWN_RETRY_NS;
			break;
		}
		x->kick_after = 0;
		if (x->dev.zero_copy)
			break;
	}
}

static void xsk_flush(struct sl_dev *d, uint64_t now)
{
	struct xsk_dev *x = xd_of(d);
	tx_submit(x);
	for (unsigned k = 0; k < x->ntxd; k++) {
		/* TX ring full even after reclaiming completions: the frame goes back to the free
		 * list and is counted (a large buffer once, at its first descriptor). */
		uint64_t addr = x->txd[k].addr;
		if (k && (x->txd[k - 1].options & XDP_PKT_CONTD))
			continue;
		if (is_large(x, addr)) {
			uint32_t b = large_index(x, addr);
			x->large_pending[b] = 0;
			sl_pool_move(&x->large, b, SL_OWN_TX, SL_OWN_FREE);
		} else {
			sl_pool_move(&x->pool, sl_pool_index(&x->pool, addr), SL_OWN_TX,
				     SL_OWN_FREE);
		}
		x->tx_dropped++;
	}
	x->ntx = 0;
	x->ntxd = 0;
	x->last_now = now;
	tx_kick(x, now);
	refill(x);
	/* A zero-copy driver that ran out of fill descriptors waits for a wakeup (busy polling:
	 * the next rx call's recvfrom is that wakeup). */
	if (!x->gone && !x->busy_poll && xsk_ring_prod__needs_wakeup(&x->fq))
		(void)recvfrom(x->sock.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static uint64_t xsk_next_event(struct sl_dev *d)
{
	struct xsk_dev *x = xd_of(d);
	/* Mail left because the batch was full or no frame was free: at once. */
	if (x->group && atomic_load_explicit(&x->mbox.pending, memory_order_acquire))
		return 0;
	/* Frames still waiting in the TX ring: come back at once rather than sleep on them,
	 * unless the link is down (then at the next retry) or the interface is gone (never:
	 * they will not leave, and sl_stack_run learns it from sl_dev_health). */
	if (x->gone || !tx_waiting(x))
		return UINT64_MAX;
	return x->kick_after;
}

/* The kernel's netdevice notifier unbinds every AF_XDP socket of an interface that is
 * unregistered (deleted, or moved to another namespace, which unregisters it here) and sets
 * the socket's error to ENETDOWN. An unbound socket reports nothing to poll(2) and a kick
 * fails with ENXIO, so ask: the pending socket error, then whether the index still names an
 * interface here, then the interface's flags. */
static int xsk_health(struct sl_dev *d)
{
	struct xsk_dev *x = xd_of(d);
	int so_err = 0;
	socklen_t len = sizeof(so_err);
	struct ifreq ifr;

	if (x->gone)
		return x->gone;
	if (getsockopt(x->sock.fd, SOL_SOCKET, SO_ERROR, &so_err, &len) == 0 &&
	    so_err) {
		x->gone = -ENODEV;
		return x->gone;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_ifindex = x->ifindex;
	if (ioctl(x->ctl_fd, SIOCGIFNAME, &ifr) < 0) {
		if (errno == ENODEV || errno == ENXIO)
			x->gone = -ENODEV;
		return x->gone;
	}
	if (ioctl(x->ctl_fd, SIOCGIFFLAGS, &ifr) < 0)
		return errno == ENODEV ? (x->gone = -ENODEV) : 0;
	if (!(ifr.ifr_flags & IFF_UP) || !(ifr.ifr_flags & IFF_RUNNING))
		return -ENETDOWN;
	return 0;
}

static void xsk_stats(struct sl_dev *d, struct sl_stats *st)
{
	struct xsk_dev *x = xd_of(d);
	struct xdp_statistics s;
	socklen_t len = sizeof(s);
	if (getsockopt(x->sock.fd, SOL_XDP, XDP_STATISTICS, &s, &len) == 0) {
		st->c[SL_STAT_dev_rx_dropped] = s.rx_dropped;
		st->c[SL_STAT_dev_rx_invalid] = s.rx_invalid_descs;
		st->c[SL_STAT_dev_tx_invalid] = s.tx_invalid_descs;
		st->c[SL_STAT_dev_rx_ring_full] = s.rx_ring_full;
		st->c[SL_STAT_dev_fill_empty] = s.rx_fill_ring_empty_descs;
	}
	st->c[SL_STAT_dev_tx_ring_full] = x->tx_dropped;
	st->c[SL_STAT_dev_tx_batch_flush] = x->batch_flushes;
	st->c[SL_STAT_dev_fill_reserved] = x->fill_reserved;
	st->c[SL_STAT_dev_frame_owner_error] = x->pool.errors + x->large.errors;
	st->c[SL_STAT_dev_rx_multibuf] = x->rx_multibuf;
	st->c[SL_STAT_dev_rx_chain_dropped] = x->rx_chain_dropped;
	st->c[SL_STAT_dev_rx_no_large] = x->rx_no_large;
	st->c[SL_STAT_dev_tx_multibuf] = x->tx_multibuf;
	st->c[SL_STAT_dev_tx_csum_offload] = x->tx_csum_offloaded;
	st->c[SL_STAT_dev_busy_polls] = x->busy_polls;
	st->c[SL_STAT_dev_handoff_out] = x->handoff_out;
	st->c[SL_STAT_dev_handoff_in] = x->handoff_in;
	st->c[SL_STAT_dev_handoff_full] =
	    atomic_load_explicit(&x->handoff_full, memory_order_relaxed);
	st->c[SL_STAT_dev_handoff_no_home] = x->handoff_no_home;
	st->c[SL_STAT_dev_handoff_waiting] =
	    atomic_load_explicit(&x->mbox.pending, memory_order_acquire);
}

/* Both pools in one count: total is UMEM frames plus large buffers (none below a jumbo MTU). */
static void both_counts(const struct xsk_dev *x, struct sl_dev_counts *c)
{
	sl_pool_counts(&x->pool, c);
	if (!x->large.n)
		return;
	c->total += x->large.n;
	for (int k = 0; k < SL_OWN_N; k++)
		c->owner[k] += x->large.count[k];
	c->owner_errors += x->large.errors;
}

static void xsk_counts(struct sl_dev *d, struct sl_dev_counts *c)
{
	both_counts(xd_of(d), c);
}

static int xsk_fd(struct sl_dev *d)
{
	struct xsk_dev *x = xd_of(d);
	return x->group ? x->ep_fd : x->sock.fd;
}

/* Leave the group (no member can reach the mailbox after this) and free the mailbox. */
static void leave_group(struct xsk_dev *x)
{
	if (!x->group)
		return;
	pthread_rwlock_wrlock(&x->group->lock);
	if (x->group->member[x->queue] == x)
		x->group->member[x->queue] = NULL;
	pthread_rwlock_unlock(&x->group->lock);
	x->group = NULL;
	if (x->ep_fd >= 0)
		close(x->ep_fd);
	if (x->mbox.efd >= 0)
		close(x->mbox.efd);
	free(x->mbox.buf);
	pthread_mutex_destroy(&x->mbox.lock);
	x->ep_fd = x->mbox.efd = -1;
	x->sock.fd = -1;
	x->mbox.buf = NULL;
}

static int join_group(struct xsk_dev *x, struct sl_xsk_group *g)
{
	int err;
	if (x->queue >= SL_GATE_MAX_QUEUES)
		return -EINVAL;
	pthread_mutex_init(&x->mbox.lock, NULL);
	/* A slot holds a whole frame: one UMEM frame's data, or a large buffer (jumbo MTU). */
	x->mbox.slot_size = x->large.n ? XSK_LARGE_SIZE : x->pool.frame_size - XDP_PACKET_HEADROOM;
	x->mbox.buf = malloc((size_t)XSK_MBOX_SLOTS * x->mbox.slot_size);
	x->mbox.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	x->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	x->group = g;
	if (!x->mbox.buf) {
		err = -ENOMEM;
		goto fail;
	}
	if (x->mbox.efd < 0 || x->ep_fd < 0) {
		err = -errno;
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.fd = x->sock.fd;
	if (epoll_ctl(x->ep_fd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	ev.data.fd = x->mbox.efd;
	if (epoll_ctl(x->ep_fd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0) {
		err = -errno;
		goto fail;
	}
	pthread_rwlock_wrlock(&g->lock);
	err = g->member[x->queue] ? -EEXIST : 0;
	if (!err)
		g->member[x->queue] = x;
	pthread_rwlock_unlock(&g->lock);
	if (err)
		goto fail;
	return 0;
fail:
	leave_group(x);
	return err;
}

static void xsk_close(struct sl_dev *d, struct sl_dev_counts *final)
{
	struct xsk_dev *x = xd_of(d);
	/* Let in-flight transmissions complete so their frames are accounted for. */
	for (int tries = 0; tries < 100 && (x->pool.count[SL_OWN_TX] || x->large.count[SL_OWN_TX]);
	     tries++) {
		xsk_flush(d, 0);
		reap_completions(x);
		if (x->pool.count[SL_OWN_TX] || x->large.count[SL_OWN_TX])
			usleep(1000);
	}
	leave_group(x);
	sl_xsk_sock_close(&x->sock);
	/* With the socket and the UMEM gone the kernel holds nothing: fill-ring frames are ours
	 * again, and so are descriptors left in the TX ring that no completion will ever return
	 * (a link that stayed down, or an interface that disappeared under the socket). */
	for (uint32_t i = 0; i < x->pool.n; i++)
		if (x->pool.owner[i] == SL_OWN_KERNEL || x->pool.owner[i] == SL_OWN_TX)
			sl_pool_move(&x->pool, i, x->pool.owner[i], SL_OWN_FREE);
	/* Large buffers: a packet half gathered (KERNEL), or sent and never completed (TX). */
	for (uint32_t b = 0; b < x->large.n; b++)
		if (x->large.owner[b] == SL_OWN_KERNEL || x->large.owner[b] == SL_OWN_TX)
			sl_pool_move(&x->large, b, x->large.owner[b], SL_OWN_FREE);
	if (final)
		both_counts(x, final);
	if (x->ctl_fd >= 0)
		close(x->ctl_fd);
	if (x->umem_area)
		munmap(x->umem_area, x->umem_len);
	sl_pool_free(&x->pool);
	sl_pool_free(&x->large);
	free(x->large_pending);
	free(x);
}

static const struct sl_dev_ops xsk_ops = {
    .rx = xsk_rx,
    .alloc = xsk_alloc,
    .release = xsk_release,
    .tx = xsk_tx,
    .flush = xsk_flush,
    .next_event = xsk_next_event,
    .stats = xsk_stats,
    .counts = xsk_counts,
    .fd = xsk_fd,
    .health = xsk_health,
    .close = xsk_close,
};

static int read_mac_mtu(const char *ifname, uint8_t mac[6], uint32_t *mtu)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	int err = 0;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (!err && ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		err = -errno;
	else if (!err)
		*mtu = (uint32_t)ifr.ifr_mtu;
	close(fd);
	return err;
}

/* Does the MTU need multi-buffer AF_XDP? A received frame must fit a UMEM frame less the
 * kernel's headroom (MTU + 14 ≤ 3840 with 4 KiB frames); above that the socket binds with
 * XDP_USE_SG and the UMEM gets large buffers after its frames. Only then: XDP_USE_SG is not
 * harmless everywhere — a kernel before 6.6 refuses the bind, and a zero-copy driver without
 * multi-buffer zero-copy would fall back to copy mode. Returns how many large buffers (0 for
 * none), or -EMSGSIZE for an MTU a large buffer cannot hold. */
static int64_t jumbo_plan(struct xsk_dev *x, uint32_t frames, uint32_t frame_size)
{
	x->rx_large = -1;
	if (x->dev.mtu + 14 <= frame_size - XDP_PACKET_HEADROOM)
		return 0;
	if (x->dev.mtu + 14 > XSK_LARGE_SIZE)
		return -EMSGSIZE;
	x->sg = true;
	/* Every output frame is one of them, and so is every multi-buffer packet of an RX
	 * batch: an eighth of the frames (512 of 4096: 8 MiB), at least 128. */
	return frames / 8 > 128 ? frames / 8 : 128;
}

/* The large buffers' pool, over the UMEM from byte off (after the frames). */
static int jumbo_init(struct xsk_dev *x, uint64_t off, uint32_t n)
{
	if (!n)
		return 0;
	x->large_off = off;
	x->large_pending = calloc(n, 1);
	if (!x->large_pending)
		return -ENOMEM;
	return sl_pool_init(&x->large, x->umem_area + off, n, XSK_LARGE_SIZE);
}

int sl_dev_xsk_open(const struct sl_xsk_config *cfg, struct sl_dev **out)
{
	uint32_t frames = cfg->frames ? cfg->frames : 4096;
	uint32_t ring = cfg->ring_size ? cfg->ring_size : 2048;
	const uint32_t frame_size = XSK_UMEM__DEFAULT_FRAME_SIZE;
	int err;

	int ifindex = (int)if_nametoindex(cfg->ifname);
	if (!ifindex)
		return -ENODEV;
	uint32_t reserve = cfg->tx_reserve == SL_XSK_NO_TX_RESERVE ? 0
			   : cfg->tx_reserve			   ? cfg->tx_reserve
								   : frames / 16;
	if ((frames & (frames - 1)) || (ring & (ring - 1)) || ring > frames || reserve > frames / 2)
		return -EINVAL;

	struct xsk_dev *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->dev.ops = &xsk_ops;
	x->ring_size = ring;
	x->tx_reserve = reserve;
	x->ifindex = ifindex;
	x->queue = cfg->queue;
	x->ep_fd = x->mbox.efd = -1;
	x->ctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (x->ctl_fd < 0) {
		err = -errno;
		goto fail;
	}
	snprintf(x->dev.name, sizeof(x->dev.name), "%s:%u", cfg->ifname, cfg->queue);
	err = read_mac_mtu(cfg->ifname, x->dev.mac, &x->dev.mtu);
	if (err)
		goto fail;
	int64_t nlarge = jumbo_plan(x, frames, frame_size);
	if (nlarge < 0) {
		err = (int)nlarge;
		goto fail;
	}
	/* What a received frame can hold (jumbo_plan's bound), should DEV's MTU grow later. */
	x->dev.max_mtu = (x->sg ? XSK_LARGE_SIZE : frame_size - XDP_PACKET_HEADROOM) - 14;

	x->umem_len = (size_t)frames * frame_size + (size_t)nlarge * XSK_LARGE_SIZE;
	x->umem_area =
	    mmap(NULL, x->umem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->umem_area == MAP_FAILED) {
		x->umem_area = NULL;
		err = -errno;
		goto fail;
	}
	err = sl_pool_init(&x->pool, x->umem_area, frames, frame_size);
	if (!err)
		err = jumbo_init(x, (uint64_t)frames * frame_size, (uint32_t)nlarge);
	if (err)
		goto fail;

	struct xsk_sock_cfg sc = {
	    .area = x->umem_area,
	    .len = x->umem_len,
	    .chunk_size = frame_size,
	    .ring = ring,
	    /* TX metadata (the checksum offload) for frames of one chunk only: a multi-buffer
	     * frame's every descriptor would need the room. */
	    .tx_metadata_len = x->sg || cfg->no_tx_csum ? 0 : XSK_TX_MD_LEN,
	    .ifindex = ifindex,
	    .queue = cfg->queue,
	    .bind_flags = (uint16_t)(XDP_USE_NEED_WAKEUP | (cfg->force_copy ? XDP_COPY : 0) |
				     (x->sg ? XDP_USE_SG : 0)),
	};
	err = sl_xsk_sock_open(&x->sock, &sc, &x->fq, &x->cq, &x->rx, &x->tx);
	if (err)
		goto fail;
	x->tx_md = x->sock.tx_metadata_len != 0;

	struct xdp_options opts;
	socklen_t optlen = sizeof(opts);
	if (getsockopt(x->sock.fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0)
		x->dev.zero_copy = opts.flags & XDP_OPTIONS_ZEROCOPY;
	/* In copy mode the kernel makes an skb of each frame and finishes a requested checksum
	 * as for any CHECKSUM_PARTIAL packet (in the device, or in software before it when the
	 * device cannot). A zero-copy driver may ignore the request: never asked there. */
	x->dev.tx_csum = x->tx_md && !x->dev.zero_copy;
	snprintf(x->dev.mode, sizeof(x->dev.mode), "%s", cfg->generic ? "generic" : "native");

	/* A ring's worth of frames (at most all but the TX reserve) start in the fill ring; the
	 * rest stay free for output. */
	uint32_t idx;
	uint32_t n =
	    xsk_ring_prod__reserve(&x->fq, ring < frames - reserve ? ring : frames - reserve, &idx);
	for (uint32_t k = 0; k < n; k++) {
		int64_t i = sl_pool_take(&x->pool, SL_OWN_KERNEL);
		*xsk_ring_prod__fill_addr(&x->fq, idx + k) = (uint64_t)i * frame_size;
	}
	xsk_ring_prod__submit(&x->fq, n);
	if (cfg->group) {
		err = join_group(x, cfg->group);
		if (err)
			goto fail;
	}
	*out = &x->dev;
	return 0;

fail:
	leave_group(x);
	sl_xsk_sock_close(&x->sock);
	if (x->umem_area)
		munmap(x->umem_area, x->umem_len);
	sl_pool_free(&x->pool);
	sl_pool_free(&x->large);
	free(x->large_pending);
	if (x->ctl_fd >= 0)
		close(x->ctl_fd);
	free(x);
	return err < 0 ? err : -err;
}

int sl_dev_xsk_busy_poll(struct sl_dev *d, uint32_t usec, uint32_t budget, char *why, size_t whylen)
{
	if (!d || d->ops != &xsk_ops)
		return -EINVAL;
	struct xsk_dev *x = xd_of(d);
	if (!budget)
		budget = SL_XSK_BUSY_POLL_BUDGET;
	if (!usec || usec > INT_MAX || budget > 65535) {
		if (why)
			snprintf(why, whylen, "busy poll wants 1..%d us and a budget of 1..65535",
				 INT_MAX);
		return -EINVAL;
	}
	/* In the order of the kernel's own users (xdpsock, the DPDK AF_XDP driver): the preference
	 * first, then the time that turns busy polling on, then the budget. */
	const struct {
		int opt;
		const char *name;
		int val;
	} o[] = {
	    {SO_PREFER_BUSY_POLL, "SO_PREFER_BUSY_POLL", 1},
	    {SO_BUSY_POLL, "SO_BUSY_POLL", (int)usec},
	    {SO_BUSY_POLL_BUDGET, "SO_BUSY_POLL_BUDGET", (int)budget},
	};
	int fd = x->sock.fd;
	for (unsigned k = 0; k < sizeof(o) / sizeof(o[0]); k++) {
		int v = o[k].val, got = 0;
		socklen_t len = sizeof(got);
		int err = 0;
		if (setsockopt(fd, SOL_SOCKET, o[k].opt, &v, sizeof(v)) < 0)
			err = -errno;
		else if (getsockopt(fd, SOL_SOCKET, o[k].opt, &got, &len) == 0 && got != v)
			err = -EINVAL; /* accepted but not kept: say so rather than run without */
		if (err) {
			if (why)
				snprintf(why, whylen, "%s %d on the AF_XDP socket: %s%s", o[k].name,
					 v, strerror(-err),
					 err == -ENOPROTOOPT
					     ? " (kernel without CONFIG_NET_RX_BUSY_POLL, or "
					       "before 5.11)"
					     : "");
			return err;
		}
	}
	x->busy_poll = true;
	x->busy_poll_us = usec;
	x->busy_poll_budget = budget;
	return 0;
}

int sl_dev_xsk_info(struct sl_dev *d, struct sl_xsk_info *out)
{
	if (!d || d->ops != &xsk_ops)
		return -EINVAL;
	struct xsk_dev *x = xd_of(d);
	memset(out, 0, sizeof(*out));
	out->queue = x->queue;
	out->busy_poll = x->busy_poll;
	out->busy_poll_us = x->busy_poll_us;
	out->busy_poll_budget = x->busy_poll_budget;
	out->busy_polls = x->busy_polls;
	unsigned id = 0;
	socklen_t len = sizeof(id);
	if (getsockopt(x->sock.fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, &id, &len) == 0)
		out->napi_id = id;
	return 0;
}

int sl_dev_xsk_socket(struct sl_dev *d)
{
	if (!d || d->ops != &xsk_ops)
		return -EINVAL;
	return xd_of(d)->sock.fd;
}

int sl_xsk_group_new(struct sl_xsk_group **out)
{
	struct sl_xsk_group *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	pthread_rwlock_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void sl_xsk_group_free(struct sl_xsk_group *g)
{
	if (!g)
		return;
	pthread_rwlock_destroy(&g->lock);
	free(g);
}

void sl_xsk_group_expect(struct sl_xsk_group *g, int delta)
{
	if (g)
		atomic_fetch_add_explicit(&g->expect, delta, memory_order_relaxed);
}
