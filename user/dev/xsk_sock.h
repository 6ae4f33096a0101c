/* An AF_XDP socket with its own UMEM, on libxdp's ring structures (dev/xsk_sock.c). */
#ifndef SL_DEV_XSK_SOCK_H
#define SL_DEV_XSK_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <xdp/xsk.h>

struct xsk_sock_cfg {
	void *area;		  /* the UMEM */
	uint64_t len;
	uint32_t chunk_size;	  /* frame size, a power of two */
	uint32_t ring;		  /* entries of each of the four rings, a power of two */
	uint32_t tx_metadata_len; /* bytes of TX metadata before each TX frame; 0: none */
	int ifindex;
	uint32_t queue;
	uint16_t bind_flags;	  /* XDP_COPY, XDP_ZEROCOPY, XDP_USE_NEED_WAKEUP, XDP_USE_SG */
};

struct xsk_sock {
	int fd;			  /* -1: closed */
	uint32_t tx_metadata_len; /* what the kernel took: 0 when it has no TX metadata */
	void *map[4];
	size_t map_len[4];
};

/* 0 or -errno; on failure nothing is left open. */
int sl_xsk_sock_open(struct xsk_sock *s, const struct xsk_sock_cfg *c, struct xsk_ring_prod *fq,
		     struct xsk_ring_cons *cq, struct xsk_ring_cons *rx, struct xsk_ring_prod *tx);
void sl_xsk_sock_close(struct xsk_sock *s);

#endif
