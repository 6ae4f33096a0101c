/*
 * Header prediction (tcp_input.c: predicted / rcv_predicted): the next in-order data segment
 * of a connection in ESTABLISHED, ACK (and PSH) only, acknowledging nothing new while nothing
 * is outstanding, with a timestamp that passes PAWS, into an open window with room for all
 * of it, takes a short path. Each test here sends a segment that looks like one of those but
 * differs in one thing the short path must not decide, and checks what RFC 9293 §3.10.7.4
 * (and RFC 7323, 2018, 5681, 5961) say must happen; the first checks that the short path
 * itself does what the general one does (delayed ACKs, RFC 7323 §4.3 TS.Recent).
 *
 * One sluice stack, the test as its peer (tests/unit/fakepeer.h), simulated time.
 */
#include "unit/tcphelp.h"

/* The stack's flow on c after a passive open with SACK and timestamps (MSS 1460, no window
 * scale), 10 ms later, the queue of collected segments empty. */
static void open_ts(struct pc *c)
{
	open_passive_with(c, 40000, true, true);
	tp_run(10 * MS);
	tp_clear();
}

/* RFC 9293 §3.8.6.3 / RFC 5681 §4.2: in-order data is acknowledged at least every second
 * full segment, else within the delayed-ACK bound; RFC 7323 §4.3: the ACK of several
 * segments echoes the TSval of the earliest (TS.Recent follows only a segment at or below
 * Last.ACK.sent). */
static void test_established_predicted_data_delack_and_ts_recent(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	uint64_t segs = info_of(c.f).segs_in;
	unsigned r = A.n_readable;
	uint32_t ts1 = pc_ts_val(&c);
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 1000), 1000);
	assert_int_equal(A.n_readable, r + 1);
	expect_none(); /* one segment: the ACK is delayed */
	tp_run(5 * MS);
	uint32_t ts2 = pc_ts_val(&c);
	assert_int_not_equal(ts1, ts2);
	pc_send(&c, F_ACK | F_PSH, pbytes(1000, 1000), 1000);
	assert_int_equal(A.n_readable, r + 2);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 2000);
	assert_int_equal(a->o.ts_ecr, ts1); /* the earliest unacknowledged segment's */
	expect_none();
	assert_int_equal(info_of(c.f).segs_in, segs + 2);
	assert_int_equal(info_of(c.f).bytes_received, 2000);
	/* The next one starts at Last.ACK.sent: its TSval is TS.Recent now; alone, it is
	 * acknowledged when the delayed-ACK timer fires (40 ms). */
	tp_run(5 * MS);
	uint32_t ts3 = pc_ts_val(&c);
	pc_send(&c, F_ACK, pbytes(2000, 1000), 1000);
	expect_none();
	tp_run(30 * MS);
	expect_none();
	tp_run(20 * MS);
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 3000);
	assert_int_equal(a->o.ts_ecr, ts3);
	assert_int_equal(app_read_check(c.f, 0), 3000);
	tp_down();
}

/* RFC 9293 §3.10.7.4 / RFC 5681 §4.2 / RFC 2018 §4: data beyond RCV.NXT (in the window) is
 * held, not made readable, and acknowledged at once with a SACK block; the segment that fills
 * the hole is acknowledged at once too, covering both. */
static void test_established_predicted_not_out_of_order(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	unsigned r = A.n_readable;
	pc_tx_seq(&c, F_ACK, b + 1000, pbytes(1000, 1000), 1000);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b);
	assert_int_equal(a->o.nsack, 1);
	assert_int_equal(a->o.sack[0].l, b + 1000);
	assert_int_equal(a->o.sack[0].r, b + 2000);
	assert_int_equal(A.n_readable, r);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), -EAGAIN);
	/* In order now, one segment, but it fills the hole: no delay. */
	pc_tx_seq(&c, F_ACK, b, pbytes(0, 1000), 1000);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 2000);
	assert_int_equal(a->o.nsack, 0);
	expect_none();
	assert_int_equal(app_read_check(c.f, 0), 2000);
	tp_down();
}

/* RFC 9293 §3.10.7.4: a segment beyond the right edge of the window, and an old one below
 * RCV.NXT, are not acceptable: each is answered with an ACK (the old one with a D-SACK block,
 * RFC 2883 §4) and its data is dropped. */
static void test_established_predicted_not_out_of_window(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	pc_send(&c, F_ACK, pbytes(0, 500), 500);
	tp_run(50 * MS);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 500);
	uint64_t oow = STAT(tcp_out_of_window);
	pc_tx_seq(&c, F_ACK, b + 500 + 70000, pbytes(70500, 100), 100);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 500);
	assert_int_equal(STAT(tcp_out_of_window), oow + 1);
	pc_tx_seq(&c, F_ACK, b, pbytes(0, 500), 500); /* all of it held already */
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 500);
	assert_int_equal(a->o.nsack, 1);
	assert_int_equal(a->o.sack[0].l, b);
	assert_int_equal(a->o.sack[0].r, b + 500);
	expect_none();
	assert_int_equal(app_read_check(c.f, 0), 500);
	assert_int_equal(info_of(c.f).bytes_received, 500);
	tp_down();
}

/* RFC 9293 §3.10.7.4: with RCV.WND zero a segment at RCV.NXT is not acceptable (its ACK is
 * still processed; its text is not taken) and is answered with the closed window; a segment
 * at RCV.NXT larger than the room left is acceptable and trimmed to the window. */
static void test_established_predicted_not_beyond_window(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_rcvbuf = 4096;
	tp_up(&cfg);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	pc_tx_seq(&c, F_ACK, b, pbytes(0, 1460), 1460);
	pc_tx_seq(&c, F_ACK, b + 1460, pbytes(1460, 1460), 1460);
	pc_tx_seq(&c, F_ACK, b + 2920, pbytes(2920, 1460), 1460); /* 1176 fit */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 4096);
	assert_int_equal(a->win, 0);
	expect_none();
	uint64_t oow = STAT(tcp_out_of_window);
	pc_tx_seq(&c, F_ACK | F_PSH, b + 4096, pbytes(4096, 100), 100);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 4096);
	assert_int_equal(a->win, 0);
	assert_int_equal(STAT(tcp_out_of_window), oow + 1);
	/* The application reads 1000 bytes: room in the buffer, but less than a segment, so the
	 * window stays closed (§3.8.6.2.2) and data at RCV.NXT is still not acceptable. */
	uint8_t buf[1000];
	assert_int_equal(sl_tcp_read(c.f, buf, sizeof buf), 1000);
	for (unsigned i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], pat(i));
	tp_run(50 * MS);
	tp_clear();
	pc_tx_seq(&c, F_ACK | F_PSH, b + 4096, pbytes(4096, 100), 100);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 4096);
	assert_int_equal(a->win, 0);
	assert_int_equal(STAT(tcp_out_of_window), oow + 2);
	assert_int_equal(app_read_check(c.f, 1000), 3096);
	assert_int_equal(info_of(c.f).bytes_received, 4096);
	tp_down();
}

/* RFC 7323 §5.3 R1: a segment at RCV.NXT with SEG.TSval < TS.Recent is dropped and answered
 * with an ACK; §3.2: once timestamps are on, a non-RST segment without one is dropped
 * silently. */
static void test_established_predicted_not_paws_or_no_ts(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	tp_run(100 * MS);
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 100), 100);
	tp_run(50 * MS);
	tp_clear();
	uint64_t paws = STAT(tcp_paws_rejected), missing = STAT(tcp_ts_missing);
	struct pseg nots = pc_seg(&c, F_ACK | F_PSH, b + 100, pbytes(100, 100), 100);
	nots.ts = false;
	peer_tx(&nots);
	tp_poll();
	expect_none();
	assert_int_equal(STAT(tcp_ts_missing), missing + 1);
	struct pseg old = pc_seg(&c, F_ACK | F_PSH, b + 100, pbytes(100, 100), 100);
	old.ts_val -= 1000;
	peer_tx(&old);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 100);
	assert_int_equal(STAT(tcp_paws_rejected), paws + 1);
	assert_int_equal(app_read_check(c.f, 0), 100);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), -EAGAIN);
	/* The same data with a current timestamp is taken. */
	c.snd_nxt = b + 100;
	pc_send(&c, F_ACK | F_PSH, pbytes(100, 100), 100);
	assert_int_equal(app_read_check(c.f, 100), 100);
	tp_down();
}

/* RFC 9293 §3.10.7.4 fifth / RFC 6298 (5.2)-(5.3): data that acknowledges nothing while the
 * stack's own data is outstanding leaves the retransmission timer running (the data is
 * retransmitted when no ACK comes); data that acknowledges it advances SND.UNA, frees the
 * send buffer and stops the timer. */
static void test_established_predicted_not_new_ack(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt, una = c.rcv_nxt;
	app_write(c.f, 0, 1000, true);
	tp_poll();
	struct seg *d = expect(F_ACK);
	assert_int_equal(d->seq, una);
	assert_int_equal(d->dlen, 1000);
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 500), 500); /* ack = una: nothing new */
	assert_int_equal(app_read_check(c.f, 0), 500);
	tp_run(3 * SEC);
	bool again = false;
	struct seg *s;
	while ((s = tp_pop()) != NULL)
		if (s->dlen && s->seq == una)
			again = true;
	assert_true(again);
	/* Now the peer's data acknowledges it. */
	c.rcv_nxt = una + 1000;
	pc_send(&c, F_ACK | F_PSH, pbytes(500, 500), 500);
	assert_int_equal(app_read_check(c.f, 500), 500);
	assert_int_equal(sl_tcp_sndbuf_free(c.f), test_cfg().tcp_sndbuf);
	uint64_t rtx = info_of(c.f).retransmits;
	tp_run(10 * SEC);
	while ((s = tp_pop()) != NULL)
		assert_int_equal(s->dlen, 0);
	assert_int_equal(info_of(c.f).retransmits, rtx);
	(void)b;
	tp_down();
}

/* RFC 9293 §3.10.7.4 fifth: SND.WND follows the window of every acceptable segment whose
 * SEG.SEQ/SEG.ACK are not older than the last update, also one carrying data in order. */
static void test_established_predicted_window_update(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	c.win = 2896;
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 100), 100);
	assert_int_equal(info_of(c.f).snd_wnd, 2896);
	tp_run(50 * MS);
	tp_clear();
	app_write(c.f, 0, 5000, true);
	tp_poll();
	struct seg *d = expect(F_ACK);
	assert_int_equal(d->dlen, 1448);
	d = expect(F_ACK);
	assert_int_equal(d->dlen, 1448);
	expect_none();
	/* Data in order with the ACK of both and a larger window: the rest goes. */
	c.win = 30000;
	c.rcv_nxt += 2896;
	pc_send(&c, F_ACK | F_PSH, pbytes(100, 100), 100);
	assert_int_equal(info_of(c.f).snd_wnd, 30000);
	d = expect(F_ACK);
	assert_int_equal(d->dlen, 1448);
	d = expect(F_ACK);
	assert_int_equal(d->dlen, 656);
	assert_int_equal(app_read_check(c.f, 0), 200);
	tp_down();
}

/* RFC 9293 §3.10.7.4 eighth: a FIN on in-order data is processed after the text: CLOSE-WAIT,
 * end of file after the data, and the FIN acknowledged at once. */
static void test_established_predicted_not_fin(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	pc_send(&c, F_ACK | F_PSH | F_FIN, pbytes(0, 500), 500);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 501);
	assert_state(c.f, "CLOSE-WAIT");
	assert_int_equal(app_read_check(c.f, 0), 500);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), 0);
	tp_down();
}

/* RFC 9293 §3.10.7.4 eighth: a FIN that arrived beyond a hole counts once the data before it
 * has come, in order: the in-order segment that fills the hole ends the stream. */
static void test_established_predicted_not_fin_waiting(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	pc_tx_seq(&c, F_ACK | F_FIN, b + 500, NULL, 0);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b);
	assert_state(c.f, "ESTABLISHED");
	pc_tx_seq(&c, F_ACK | F_PSH, b, pbytes(0, 500), 500);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 501);
	assert_state(c.f, "CLOSE-WAIT");
	assert_int_equal(app_read_check(c.f, 0), 500);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), 0);
	tp_down();
}

/* RFC 5961 §4.2: a SYN in a synchronized state draws a challenge ACK and nothing else (its
 * data is not taken); §3.2: an RST at exactly RCV.NXT resets the connection; §5.2: an ACK
 * beyond SND.MAX draws a challenge ACK and the segment is dropped. */
static void test_established_predicted_not_syn_rst_bad_ack(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	uint64_t bad = STAT(tcp_bad_ack);
	struct pseg s = pc_seg(&c, F_ACK, b, pbytes(0, 100), 100);
	s.ack += 5000;
	peer_tx(&s);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b);
	assert_int_equal(STAT(tcp_bad_ack), bad + 1);
	tp_run(600 * MS); /* past the per-connection limit on such ACKs (tcp_oow_ack_ns) */
	tp_clear();
	s = pc_seg(&c, F_SYN | F_ACK, b, pbytes(0, 100), 100);
	peer_tx(&s);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), -EAGAIN);
	assert_int_equal(info_of(c.f).bytes_received, 0);
	assert_state(c.f, "ESTABLISHED");
	s = pc_seg(&c, F_RST | F_ACK, b, pbytes(0, 100), 100);
	peer_tx(&s);
	tp_poll();
	assert_int_equal(closed_reason(c.f), -ECONNRESET);
	tp_down();
}

/* RFC 9293 §3.1 / RFC 1071: a segment with a wrong checksum is dropped before anything of it
 * is used: no text, no ACK, no state. */
static void test_established_predicted_not_bad_checksum(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	uint64_t bad = STAT(tcp_bad_csum);
	struct pseg s = pc_seg(&c, F_ACK | F_PSH, b, pbytes(0, 1000), 1000);
	uint8_t d[1000];
	memcpy(d, pbytes(0, 1000), sizeof d);
	d[700] ^= 0x01;
	/* The checksum of the right bytes over the wrong ones: sent with the right ones, the
	 * frame is changed on the way (the pipe device's memory, before the stack polls). */
	s.data = d;
	struct sl_frame f;
	assert_int_equal(T.pd->ops->alloc(T.pd, &f), 0);
	uint8_t *th = f.data + SL_ETH_HLEN + SL_IPV4_HLEN;
	struct sl_tcp_hdr h = {.sport = s.sport,
			       .dport = s.dport,
			       .seq = s.seq,
			       .ack = s.ack,
			       .flags = s.flags,
			       .win = s.win,
			       .wscale = -1,
			       .ts = s.ts,
			       .ts_val = s.ts_val,
			       .ts_ecr = s.ts_ecr};
	unsigned hlen = sl_tcp_emit(th, &h);
	memcpy(th + hlen, pbytes(0, 1000), 1000);
	sl_tcp_set_csum(th, hlen + 1000, PEER_IP, ST_IP);
	memcpy(th + hlen, d, 1000);
	struct sl_ipv4_hdr ih = {.tot_len = (uint16_t)(SL_IPV4_HLEN + hlen + 1000),
				 .id = ++T.ip_id,
				 .frag = SL_IPV4_DF,
				 .ttl = 64,
				 .proto = SL_IPPROTO_TCP,
				 .src = PEER_IP,
				 .dst = ST_IP};
	sl_ipv4_emit(f.data + SL_ETH_HLEN, &ih);
	sl_eth_emit(f.data, T.sd->mac, T.pd->mac, SL_ETH_P_IPV4);
	f.len = SL_ETH_HLEN + SL_IPV4_HLEN + hlen + 1000;
	assert_int_equal(T.pd->ops->tx(T.pd, &f), 0);
	T.pd->ops->flush(T.pd, T.now);
	unsigned r = A.n_readable;
	tp_poll();
	assert_int_equal(STAT(tcp_bad_csum), bad + 1);
	assert_int_equal(A.n_readable, r);
	assert_int_equal(info_of(c.f).bytes_received, 0);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), -EAGAIN);
	tp_run(100 * MS);
	expect_none();
	/* The segment as sent is taken. */
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 1000), 1000);
	assert_int_equal(app_read_check(c.f, 0), 1000);
	tp_down();
}

/* After sl_tcp_shutdown(SHUT_RD) in-order data is taken into the sequence space (so that it
 * is acknowledged and the sender is not stuck) but not queued for reading (counted
 * tcp_rcv_after_shutdown). */
static void test_established_predicted_not_after_shut_rd(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ts(&c);
	uint32_t b = c.snd_nxt;
	assert_int_equal(sl_tcp_shutdown(c.f, SL_SHUT_RD), 0);
	uint64_t n = STAT(tcp_rcv_after_shutdown);
	unsigned r = A.n_readable;
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 1000), 1000);
	pc_send(&c, F_ACK | F_PSH, pbytes(1000, 1000), 1000);
	assert_int_equal(STAT(tcp_rcv_after_shutdown), n + 2);
	assert_int_equal(A.n_readable, r);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), 0);
	tp_clear();
	app_write(c.f, 0, 10, true);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->dlen, 10);
	assert_int_equal(a->ack, b + 2000);
	tp_down();
}

/* --- on_readable: once per poll ------------------------------------------------------------ */

/* What the application saw, in order: 'r' on_readable (with the bytes readable then), 'c'
 * on_closed. */
static struct {
	char ev[16];
	size_t avail[16];
	unsigned n;
	bool close_in_readable;
} E;

static void ev_readable(void *arg, struct sl_tcp_flow *f)
{
	struct sl_iov v[2];
	ssize_t n = sl_tcp_peek(f, v);
	if (E.n < 16) {
		E.avail[E.n] = n > 0 ? (size_t)n : 0;
		E.ev[E.n++] = 'r';
	}
	if (E.close_in_readable)
		sl_tcp_abort(f);
}

static void ev_closed(void *arg, struct sl_tcp_flow *f, int reason)
{
	if (E.n < 16)
		E.ev[E.n++] = 'c';
}

static const struct sl_tcp_callbacks ev_cbs = {.on_readable = ev_readable, .on_closed = ev_closed};

static void open_ev(struct pc *c)
{
	memset(&E, 0, sizeof E);
	open_ts(c);
	sl_tcp_set_callbacks(c->f, &ev_cbs, NULL);
}

/* Several segments in one poll: one on_readable, after all of them, with all their bytes; the
 * ACK that follows already offers the window the application's read left. */
static void test_established_readable_once_per_poll(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ev(&c);
	uint32_t b = c.snd_nxt;
	pc_tx(&c, F_ACK, pbytes(0, 1000), 1000);
	pc_tx(&c, F_ACK, pbytes(1000, 1000), 1000);
	pc_tx(&c, F_ACK | F_PSH, pbytes(2000, 1000), 1000);
	tp_poll();
	assert_int_equal(E.n, 1);
	assert_int_equal(E.ev[0], 'r');
	assert_int_equal(E.avail[0], 3000);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 3000);
	expect_none();
	assert_int_equal(app_read_check(c.f, 0), 3000);
	/* Data and FIN together: one on_readable; the bytes, then the end. */
	pc_tx(&c, F_ACK, pbytes(3000, 500), 500);
	pc_tx(&c, F_ACK | F_FIN, pbytes(3500, 500), 500);
	tp_poll();
	assert_int_equal(E.n, 2);
	assert_int_equal(E.ev[1], 'r');
	assert_int_equal(app_read_check(c.f, 3000), 1000);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), 0);
	tp_down();
}

/* Data, then a reset, in one poll: on_readable comes first (the bytes can be read), then
 * on_closed, as when each segment had its own callback. */
static void test_established_readable_before_closed(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ev(&c);
	pc_tx(&c, F_ACK | F_PSH, pbytes(0, 700), 700);
	struct pseg r = pc_seg(&c, F_RST | F_ACK, c.snd_nxt, NULL, 0);
	peer_tx(&r);
	tp_poll();
	assert_int_equal(E.n, 2);
	assert_int_equal(E.ev[0], 'r');
	assert_int_equal(E.avail[0], 700);
	assert_int_equal(E.ev[1], 'c');
	assert_int_equal(app_read_check(c.f, 0), 700);
	sl_tcp_close(c.f);
	tp_down();
}

/* An application that aborts its flow in on_readable: no on_closed after it, nothing used
 * after it is freed (the sanitizer run), and the reset goes out. */
static void test_established_readable_abort_inside(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_ev(&c);
	E.close_in_readable = true;
	pc_tx(&c, F_ACK | F_PSH, pbytes(0, 700), 700);
	pc_tx(&c, F_ACK | F_PSH, pbytes(700, 700), 700);
	tp_poll();
	assert_int_equal(E.n, 1);
	assert_int_equal(E.ev[0], 'r');
	expect(F_RST | F_ACK);
	tp_run(100 * MS);
	assert_int_equal(E.n, 1);
	tp_down();
}

int main(void)
{
#define T_(name) cmocka_unit_test_teardown(name, tp_teardown)
	const struct CMUnitTest tests[] = {
	    T_(test_established_predicted_data_delack_and_ts_recent),
	    T_(test_established_predicted_not_out_of_order),
	    T_(test_established_predicted_not_out_of_window),
	    T_(test_established_predicted_not_beyond_window),
	    T_(test_established_predicted_not_paws_or_no_ts),
	    T_(test_established_predicted_not_new_ack),
	    T_(test_established_predicted_window_update),
	    T_(test_established_predicted_not_fin),
	    T_(test_established_predicted_not_fin_waiting),
	    T_(test_established_predicted_not_syn_rst_bad_ack),
	    T_(test_established_predicted_not_bad_checksum),
	    T_(test_established_predicted_not_after_shut_rd),
	    T_(test_established_readable_once_per_poll),
	    T_(test_established_readable_before_closed),
	    T_(test_established_readable_abort_inside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
