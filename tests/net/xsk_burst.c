// SPDX-License-Identifier: GPL-2.0
/*
 * One poll's worth of output larger than the AF_XDP device's TX array, for
 * tests/net/test_livelock.sh: opens the device on IFACE queue 0 through the library
 * (sl_dev_xsk_open, default config), queues COUNT frames with tx() without a flush in
 * between (as a stack does while it processes one batch), then flushes once and waits for
 * the completions. Each frame is a broadcast of EtherType 0x88b5 (IEEE 802 local
 * experimental) carrying its number, so the far end of the veth can count them.
 *
 *   xsk_burst IFACE COUNT
 *
 * Prints "queued Q refused R batch_flushes B tx_ring_full D frames F/T returned" and exits 0
 * when every frame was queued and every frame came back.
 *
 *   cc -Iinclude tests/net/xsk_burst.c build/libsluice.a -lxdp -lbpf -lelf -lz
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sluice/dev.h"
#include "sluice/stats.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xsk_burst IFACE COUNT\n");
		return 2;
	}
	long count = atol(argv[2]);
	if (count <= 0 || count > 2048) {
		fprintf(stderr, "xsk_burst: COUNT 1..2048 (the TX ring)\n");
		return 2;
	}
	struct sl_xsk_config cfg = {.ifname = argv[1], .queue = 0};
	struct sl_dev *d;
	int err = sl_dev_xsk_open(&cfg, &d);
	if (err) {
		fprintf(stderr, "xsk_burst: sl_dev_xsk_open(%s): %d\n", argv[1], err);
		return 1;
	}
	long queued = 0, refused = 0;
	for (long k = 0; k < count; k++) {
		struct sl_frame f;
		if (d->ops->alloc(d, &f) < 0) {
			fprintf(stderr, "xsk_burst: no free frame for frame %ld\n", k);
			break;
		}
		memset(f.data, 0xff, 6); /* broadcast */
		memcpy(f.data + 6, d->mac, 6);
		f.data[12] = 0x88, f.data[13] = 0xb5;
		memset(f.data + 14, 0, 46);
		f.data[14] = (uint8_t)(k >> 8), f.data[15] = (uint8_t)k;
		f.len = 60;
		if (d->ops->tx(d, &f) == 0)
			queued++;
		else
			refused++;
	}
	d->ops->flush(d, 0);
	for (int i = 0; i < 200; i++) { /* completions: up to 1 s */
		usleep(5000);
		d->ops->flush(d, 0);
		struct sl_dev_counts c;
		sl_dev_counts(d, &c);
		if (!c.owner[SL_OWN_TX])
			break;
	}
	struct sl_stats st;
	memset(&st, 0, sizeof(st));
	d->ops->stats(d, &st);
	struct sl_dev_counts fin;
	sl_dev_close_counted(d, &fin);
	printf("queued %ld refused %ld batch_flushes %llu tx_ring_full %llu frames %llu/%llu "
	       "returned\n",
	       queued, refused, (unsigned long long)st.c[SL_STAT_dev_tx_batch_flush],
	       (unsigned long long)(st.c[SL_STAT_dev_tx_ring_full] + st.c[SL_STAT_tx_ring_full]),
	       (unsigned long long)fin.owner[SL_OWN_FREE], (unsigned long long)fin.total);
	return queued == count && fin.owner[SL_OWN_FREE] == fin.total ? 0 : 1;
}
