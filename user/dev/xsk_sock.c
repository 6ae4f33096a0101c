/*
 * An AF_XDP socket and its UMEM, set up with the kernel's own interface (socket, the
 * XDP_UMEM_REG and ring-size options, XDP_MMAP_OFFSETS, four mmaps, bind: the kernel's
 * Documentation/networking/af_xdp.rst), into libxdp's ring structures so that its inline ring
 * accessors (xdp/xsk.h) work on them unchanged. libxdp's own xsk_umem__create cannot ask
 * for TX metadata (its UMEM registration has no tx_metadata_len), which the TX checksum
 * offload needs (Documentation/networking/xsk-tx-metadata.rst, Linux 6.8; with the
 * XDP_UMEM_TX_METADATA_LEN flag that makes the length count, 6.11).
 */
#include "dev/xsk_sock.h"
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_UMEM_TX_METADATA_LEN
#define XDP_UMEM_TX_METADATA_LEN (1 << 2)
#endif

/* struct xdp_umem_reg as of Linux 6.8 (the system's header may be older). */
struct umem_reg {
	uint64_t addr;
	uint64_t len;
	uint32_t chunk_size;
	uint32_t headroom;
	uint32_t flags;
	uint32_t tx_metadata_len;
};

static int setopt(int fd, int opt, uint32_t v)
{
	return setsockopt(fd, SOL_XDP, opt, &v, sizeof(v)) ? -errno : 0;
}

static void *map_ring(struct xsk_sock *s, int k, size_t len, off_t pgoff)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s->fd, pgoff);
	if (m == MAP_FAILED)
		return NULL;
	s->map[k] = m;
	s->map_len[k] = len;
	return m;
}

/* A ring's pointers into its mapping m (o: the kernel's offsets of it). */
#define RING_FROM(r, m, o, n)                                                                   \
	do {                                                                                    \
		(r)->mask = (n) - 1;                                                            \
		(r)->size = (n);                                                                \
		(r)->producer = (void *)((uint8_t *)(m) + (o).producer);                        \
		(r)->consumer = (void *)((uint8_t *)(m) + (o).consumer);                        \
		(r)->flags = (void *)((uint8_t *)(m) + (o).flags);                              \
		(r)->ring = (uint8_t *)(m) + (o).desc;                                          \
	} while (0)

int sl_xsk_sock_open(struct xsk_sock *s, const struct xsk_sock_cfg *c, struct xsk_ring_prod *fq,
		     struct xsk_ring_cons *cq, struct xsk_ring_cons *rx, struct xsk_ring_prod *tx)
{
	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	int err;
	struct umem_reg mr = {
	    .addr = (uint64_t)(uintptr_t)c->area,
	    .len = c->len,
	    .chunk_size = c->chunk_size,
	    .headroom = 0,
	    .flags = c->tx_metadata_len ? XDP_UMEM_TX_METADATA_LEN : 0,
	    .tx_metadata_len = c->tx_metadata_len,
	};
	if (setsockopt(s->fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)) == 0) {
		s->tx_metadata_len = c->tx_metadata_len;
	} else if (errno == EINVAL && c->tx_metadata_len) {
		/* A kernel without TX metadata (before 6.8, or without the flag that makes its
		 * length count) refuses the flag: register without it. */
		mr.flags = 0;
		mr.tx_metadata_len = 0;
		if (setsockopt(s->fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr))) {
			err = -errno;
			goto fail;
		}
	} else {
		err = -errno;
		goto fail;
	}
	if ((err = setopt(s->fd, XDP_UMEM_FILL_RING, c->ring)) ||
	    (err = setopt(s->fd, XDP_UMEM_COMPLETION_RING, c->ring)) ||
	    (err = setopt(s->fd, XDP_RX_RING, c->ring)) || (err = setopt(s->fd, XDP_TX_RING, c->ring)))
		goto fail;
	struct xdp_mmap_offsets off;
	socklen_t ol = sizeof(off);
	if (getsockopt(s->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol)) {
		err = -errno;
		goto fail;
	}
	if (ol != sizeof(off)) {
		err = -EOPNOTSUPP; /* a kernel before 5.4 (no ring flags): not supported */
		goto fail;
	}
	void *m;
	if (!(m = map_ring(s, 0, off.fr.desc + c->ring * sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING)))
		goto fail_errno;
	RING_FROM(fq, m, off.fr, c->ring);
	fq->cached_prod = *fq->producer;
	fq->cached_cons = *fq->consumer + c->ring;
	if (!(m = map_ring(s, 1, off.cr.desc + c->ring * sizeof(uint64_t),
			   XDP_UMEM_PGOFF_COMPLETION_RING)))
		goto fail_errno;
	RING_FROM(cq, m, off.cr, c->ring);
	cq->cached_prod = *cq->producer;
	cq->cached_cons = *cq->consumer;
	if (!(m = map_ring(s, 2, off.rx.desc + c->ring * sizeof(struct xdp_desc), XDP_PGOFF_RX_RING)))
		goto fail_errno;
	RING_FROM(rx, m, off.rx, c->ring);
	rx->cached_prod = *rx->producer;
	rx->cached_cons = *rx->consumer;
	if (!(m = map_ring(s, 3, off.tx.desc + c->ring * sizeof(struct xdp_desc), XDP_PGOFF_TX_RING)))
		goto fail_errno;
	RING_FROM(tx, m, off.tx, c->ring);
	tx->cached_prod = *tx->producer;
	tx->cached_cons = *tx->consumer + c->ring;
	struct sockaddr_xdp sxdp = {
	    .sxdp_family = AF_XDP,
	    .sxdp_flags = c->bind_flags,
	    .sxdp_ifindex = (uint32_t)c->ifindex,
	    .sxdp_queue_id = c->queue,
	};
	/* The kernel releases a closed socket's hold on the queue from a workqueue, so a bind
	 * right after a previous socket on the same queue closed can see EBUSY for a moment. */
	for (int tries = 0;; tries++) {
		if (bind(s->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) == 0)
			return 0;
		if (errno != EBUSY || tries == 40)
			break;
		usleep(50000);
	}
fail_errno:
	err = -errno;
fail:
	sl_xsk_sock_close(s);
	return err;
}

void sl_xsk_sock_close(struct xsk_sock *s)
{
	for (int k = 0; k < 4; k++)
		if (s->map[k])
			munmap(s->map[k], s->map_len[k]);
	if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
