/*
 * pcap tap: wraps any device and writes every frame received or sent to a
 * classic pcap file (LINKTYPE_ETHERNET, microsecond timestamps from the
 * stack's clock). Writes are buffered through stdio; the file is flushed on
 * close. Received frames are written at rx time, sent ones when queued.
 */
#include "sluice/dev.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pcap_dev {
	struct sl_dev dev;
	struct sl_dev *inner;
	FILE *f;
	uint64_t now;
};

static struct pcap_dev *pd_of(struct sl_dev *d)
{
	return (struct pcap_dev *)d;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* pcap is written in host order; readers detect it by the magic */
}

static void record(struct pcap_dev *p, const uint8_t *data, uint32_t len)
{
	uint8_t h[16];
	put_u32(h, (uint32_t)(p->now / 1000000000ULL));
	put_u32(h + 4, (uint32_t)(p->now % 1000000000ULL / 1000));
	put_u32(h + 8, len);
	put_u32(h + 12, len);
	fwrite(h, 1, 16, p->f);
	fwrite(data, 1, len, p->f);
}

static int tap_rx(struct sl_dev *d, struct sl_frame *f, int max, uint64_t now)
{
	struct pcap_dev *p = pd_of(d);
	p->now = now;
	int n = p->inner->ops->rx(p->inner, f, max, now);
	for (int i = 0; i < n; i++)
		record(p, f[i].data, f[i].len);
	return n;
}

static int tap_alloc(struct sl_dev *d, struct sl_frame *f)
{
	return pd_of(d)->inner->ops->alloc(pd_of(d)->inner, f);
}

static void tap_release(struct sl_dev *d, const struct sl_frame *f)
{
	pd_of(d)->inner->ops->release(pd_of(d)->inner, f);
}

static int tap_tx(struct sl_dev *d, const struct sl_frame *f)
{
	struct pcap_dev *p = pd_of(d);
	record(p, f->data, f->len);
	return p->inner->ops->tx(p->inner, f);
}

static void tap_flush(struct sl_dev *d, uint64_t now)
{
	struct pcap_dev *p = pd_of(d);
	p->now = now;
	p->inner->ops->flush(p->inner, now);
}

static uint64_t tap_next_event(struct sl_dev *d)
{
	return pd_of(d)->inner->ops->next_event(pd_of(d)->inner);
}

static void tap_stats(struct sl_dev *d, struct sl_stats *st)
{
	pd_of(d)->inner->ops->stats(pd_of(d)->inner, st);
}

static void tap_counts(struct sl_dev *d, struct sl_dev_counts *c)
{
	pd_of(d)->inner->ops->counts(pd_of(d)->inner, c);
}

static int tap_fd(struct sl_dev *d)
{
	return sl_dev_fd(pd_of(d)->inner);
}

static int tap_health(struct sl_dev *d)
{
	return sl_dev_health(pd_of(d)->inner);
}

static void tap_close(struct sl_dev *d, struct sl_dev_counts *final)
{
	struct pcap_dev *p = pd_of(d);
	fclose(p->f);
	p->inner->ops->close(p->inner, final);
	free(p);
}

static const struct sl_dev_ops tap_ops = {
    .rx = tap_rx,
    .alloc = tap_alloc,
    .release = tap_release,
    .tx = tap_tx,
    .flush = tap_flush,
    .next_event = tap_next_event,
    .stats = tap_stats,
    .counts = tap_counts,
    .fd = tap_fd,
    .health = tap_health,
    .close = tap_close,
};

int sl_dev_pcap_open(struct sl_dev *inner, const char *path, struct sl_dev **out)
{
	struct pcap_dev *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->f = fopen(path, "wb");
	if (!p->f) {
		int err = -errno;
		free(p);
		return err;
	}
	/* Global header: magic, v2.4, thiszone 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET. */
	uint8_t gh[24];
	put_u32(gh, 0xa1b2c3d4);
	uint16_t maj = 2, min = 4;
	memcpy(gh + 4, &maj, 2);
	memcpy(gh + 6, &min, 2);
	put_u32(gh + 8, 0);
	put_u32(gh + 12, 0);
	put_u32(gh + 16, 65535);
	put_u32(gh + 20, 1);
	fwrite(gh, 1, sizeof(gh), p->f);
	p->inner = inner;
	p->dev = *inner;
	p->dev.ops = &tap_ops;
	*out = &p->dev;
	return 0;
}
