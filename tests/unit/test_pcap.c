/*
 * The pcap tap: every frame received or sent through the wrapped device lands in a classic
 * pcap file (LINKTYPE_ETHERNET) with its bytes and length intact, in order.
 */
#include "unit/testutil.h"
#include "sluice/dev.h"
#include <unistd.h>

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void send_frame(struct sl_dev *d, uint8_t fill, uint32_t len, uint64_t now)
{
	struct sl_frame f;
	assert_int_equal(d->ops->alloc(d, &f), 0);
	memset(f.data, fill, len);
	f.len = len;
	assert_int_equal(d->ops->tx(d, &f), 0);
	d->ops->flush(d, now);
}

static void test_pcap_records_rx_and_tx(void **state)
{
	char path[] = "/tmp/sluice-pcap-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct sl_dev *a, *b, *tap;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &a, &b), 0);
	assert_int_equal(sl_dev_pcap_open(b, path, &tap), 0);

	send_frame(a, 0x11, 60, 1000000000ULL);		 /* arrives at the tap: recorded on rx */
	struct sl_frame f[4];
	assert_int_equal(tap->ops->rx(tap, f, 4, 2000000000ULL), 1);
	tap->ops->release(tap, &f[0]);
	send_frame(tap, 0x22, 1514, 3000500000ULL);	 /* sent through the tap: recorded on tx */
	struct sl_dev_counts c;
	sl_dev_close_counted(tap, &c);
	assert_int_equal(c.owner[SL_OWN_FREE], c.total);
	sl_dev_close(a);

	FILE *in = fopen(path, "rb");
	assert_non_null(in);
	uint8_t buf[4096];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	unlink(path);
	assert_int_equal(n, 24 + 16 + 60 + 16 + 1514);
	assert_int_equal(rd32(buf), 0xa1b2c3d4);
	assert_int_equal(rd32(buf + 20), 1); /* LINKTYPE_ETHERNET */
	const uint8_t *r = buf + 24;
	assert_int_equal(rd32(r), 2);	    /* seconds of the rx time */
	assert_int_equal(rd32(r + 8), 60);  /* captured length */
	assert_int_equal(rd32(r + 12), 60); /* original length */
	assert_int_equal(r[16], 0x11);
	r += 16 + 60;
	assert_int_equal(rd32(r + 8), 1514);
	assert_int_equal(r[16 + 1513], 0x22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcap_records_rx_and_tx),
	};
	return cmocka_run_group_tests_name("pcap", tests, NULL, NULL);
}
