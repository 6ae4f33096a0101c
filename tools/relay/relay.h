/*
 * sluice-relay: the impairment model shared by the I/O loop (relay.c) and the model itself
 * (impair.c). The model never reads a clock or touches a socket: `now` is passed in, so its
 * decisions depend only on the seed and on the sequence of frames and arrival times.
 */
#ifndef SL_RELAY_H
#define SL_RELAY_H

#include "util/rng.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Impairments of one direction, converted to nanoseconds, probabilities and bits/s. */
struct imp_cfg {
	uint64_t delay_ns;	   /* one-way propagation delay */
	uint64_t jitter_ns;	   /* uniform in [-jitter, +jitter] around delay_ns */
	uint64_t reorder_delay_ns; /* delay of a frame picked by `reorder` instead of delay_ns */
	double loss;		   /* Bernoulli loss probability */
	double dup;		   /* duplication probability */
	double reorder;		   /* probability a frame takes reorder_delay_ns */
	bool ge;		   /* Gilbert-Elliott loss on */
	double ge_p;		   /* good -> bad transition probability per frame */
	double ge_r;		   /* bad -> good transition probability per frame */
	double ge_bad_loss;	   /* loss probability in the bad state (1-h) */
	double ge_good_loss;	   /* loss probability in the good state (1-k) */
	uint64_t rate_bps;	   /* 0: no rate limit */
	uint32_t limit_pkts;	   /* bottleneck queue bound in frames (with rate_bps) */
	uint64_t limit_bytes;	   /* bottleneck queue bound in bytes, 0: none */
	uint32_t overhead;	   /* bytes added to each frame's length for the rate */
};

/* Counters of one direction; printed as one JSON object. Every frame read from the
 * receiving interface ends in exactly one of forwarded or dropped_*; duplicates add one
 * frame each: received + duplicated = forwarded + sum(dropped_*). */
#define RELAY_COUNTERS(X)                                                                          \
	X(received)                                                                                \
	X(forwarded)                                                                               \
	X(passed)                                                                                  \
	X(duplicated)                                                                              \
	X(reordered)                                                                               \
	X(dropped_loss)                                                                            \
	X(dropped_queue)                                                                           \
	X(dropped_oversize)                                                                        \
	X(dropped_pool)                                                                            \
	X(dropped_tx)                                                                              \
	X(dropped_exit)                                                                            \
	X(csum_partial)                                                                            \
	X(rx_ring_drops)                                                                           \
	X(max_queue_frames)                                                                        \
	X(max_queue_bytes)                                                                         \
	X(max_held_frames)                                                                         \
	X(max_held_bytes)

struct relay_counters {
#define X(n) uint64_t n;
	RELAY_COUNTERS(X)
#undef X
};

/* The frame pool: every frame the relay holds, both directions together. Fixed at start;
 * nothing on the per-frame path allocates. */
struct imp_pool {
	uint8_t *buf;
	size_t frame_size;
	uint32_t n;
	uint32_t nfree;
	uint32_t *free;	  /* stack of free indices */
	uint64_t *depart; /* per frame: departure time, CLOCK_MONOTONIC ns */
	uint32_t *len;	  /* per frame: bytes */
};

/* One direction: bottleneck queue (rate, tail drop), then the wire (loss), then the delay
 * line (a FIFO with monotonic departures, plus a heap for the frames picked by reorder). */
struct imp_dir {
	struct imp_cfg c;
	struct relay_counters st;
	struct sl_rng rng_loss, rng_ge, rng_dup, rng_reorder, rng_jitter;
	bool ge_bad;

	/* Bottleneck queue: serialisation end time and length of each frame not yet fully
	 * "on the wire"; entries whose end time has passed are forgotten. */
	uint64_t *rq_end;
	uint32_t *rq_len;
	uint32_t rq_mask, rq_head, rq_tail;
	uint64_t rq_bytes;
	uint64_t ser_end; /* when the serialiser is next free */

	/* Delay line. */
	uint32_t *fifo;
	uint32_t fifo_mask, fifo_head, fifo_tail;
	uint64_t last_depart; /* FIFO departures never go backwards */
	uint32_t *heap;
	uint32_t heap_n;
	uint64_t held_frames, held_bytes;
};

int imp_pool_init(struct imp_pool *p, uint32_t n, size_t frame_size);
void imp_pool_free(struct imp_pool *p);
static inline uint8_t *imp_frame(const struct imp_pool *p, uint32_t idx)
{
	return p->buf + (size_t)idx * p->frame_size;
}

int imp_dir_init(struct imp_dir *d, const struct imp_cfg *c, uint32_t pool_n, uint64_t seed);
void imp_dir_free(struct imp_dir *d);

/* A frame of len bytes arrives at now. Returns how many pool frames (0, 1 or 2 with a
 * duplicate) the caller must fill with the frame's bytes at once; their indices are in
 * idx[]. Drops are counted here. */
int imp_arrive(struct imp_dir *d, struct imp_pool *p, uint64_t now, uint32_t len, uint32_t idx[2]);

/* Departure time of the earliest held frame, UINT64_MAX when none. */
uint64_t imp_next_departure(const struct imp_dir *d, const struct imp_pool *p);

/* Removes and returns the earliest held frame if it is due at now, else -1. The caller
 * sends it and then gives it back with imp_release(). */
int64_t imp_pop_due(struct imp_dir *d, const struct imp_pool *p, uint64_t now);

/* Gives a frame taken by imp_pop_due() back to the pool. */
void imp_release(struct imp_dir *d, struct imp_pool *p, uint32_t idx);

/* Drops every held frame (counted as dropped_exit). */
void imp_drain(struct imp_dir *d, struct imp_pool *p);

#endif
