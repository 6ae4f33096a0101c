/*
 * TCP rules the stack broke (the defects named in the loss-recovery issue), one test per
 * rule, written from the RFCs: RFC 9293 §3.8.6.1 (persist), §3.8.6.2.2 (receiver SWS
 * avoidance), §3.10.7.4 (segment arrival: zero window, FIN); RFC 6582 §3.2 steps 4 and 5
 * (NewReno after a timeout, partial ACKs); RFC 1337 (TIME-WAIT assassination); RFC 5927 §4.1
 * (ICMP sequence check); RFC 5961 §7 and CVE-2016-5696 (challenge ACK budget), the per-
 * connection limit on ACKs to out-of-window segments; RFC 6056 §3.3.3/§3.3.4 (ephemeral
 * ports). Names follow test_<state>_<event> (shared/DESIGN.md).
 *
 * One sluice stack, the test as its peer (tests/unit/fakepeer.h), simulated time.
 */
#include "unit/tcphelp.h"

/* ======================================================================================== */
/* 1. Zero windows (RFC 9293 §3.8.6.1, §3.10.7.4)                                           */
/* ======================================================================================== */

/* RFC 9293 §3.8.6.1 / §3.10.7.4: while the stack probes the peer's zero window, its probe
 * byte lies beyond that window and the peer drops it. A pure ACK the stack sends meanwhile
 * (here for data the peer sends) must carry a sequence number the peer finds acceptable for
 * a zero window: SEG.SEQ = RCV.NXT of the peer, i.e. the probe byte's own sequence number
 * (SND.UNA), not one past it. Linux and FreeBSD drop a zero-length segment whose SEQ is not
 * RCV.NXT when their window is zero, and with it the ACK and window information it carries;
 * FreeBSD itself sends its pure ACKs with SND.NXT rewound to the probe byte while persisting. */
static void test_established_persist_pure_ack_seq_is_probe_seq(void **state)
{
	tp_up(NULL);
	listen_on(80);
	struct pc c;
	pc_init(&c, 80, 40000);
	c.win = 0;
	pc_syn(&c, 1460, -1);
	struct seg *sa = expect(F_SYN | F_ACK);
	c.rcv_nxt = sa->seq + 1;
	pc_send(&c, F_ACK, NULL, 0);
	c.f = A.acc[0];
	assert_int_equal(info_of(c.f).snd_wnd, 0);
	uint32_t una = c.rcv_nxt;
	app_write(c.f, 0, 100, false);
	tp_run(250 * MS); /* the first probe goes at 200 ms; the peer drops it (window 0) */
	struct seg *p = expect(F_ACK);
	assert_int_equal(p->dlen, 1);
	assert_int_equal(p->seq, una);
	expect_none();
	/* The peer sends data (its window still 0); the stack acknowledges it. */
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 10), 10);
	tp_run(50 * MS);
	unsigned pure = 0;
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		if (s->dlen)
			continue;
		pure++;
		assert_int_equal(s->ack, c.snd_nxt);
		if (s->seq != una)
			print_message(
			    "pure ACK while persisting: seq = SND.UNA + %u (probe byte at "
			    "SND.UNA), outside the peer's zero window\n",
			    s->seq - una);
		assert_int_equal(s->seq, una);
	}
	assert_true(pure >= 1);
	tp_down();
}

/* RFC 9293 §3.10.7.4 first check: "If the RCV.WND is zero, no segments will be acceptable,
 * but special allowance should be made to accept valid ACKs, URGs, and RSTs." With its own
 * receive window zero, the stack must drop the data of a segment at RCV.NXT but still process
 * its ACK field: SND.UNA advances, the send buffer is freed and nothing is retransmitted. */
static void test_established_zero_rcv_window_ack_still_processed(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_rcvbuf = 4096;
	tp_up(&cfg);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t una = c.rcv_nxt;
	app_write(c.f, 0, 1000, true);
	tp_poll();
	struct seg *d = expect(F_ACK);
	assert_int_equal(d->dlen, 1000);
	assert_int_equal(d->seq, una);
	expect_none();
	/* The peer fills the stack's receive buffer, acknowledging nothing yet. */
	uint32_t base = c.snd_nxt;
	pc_tx_seq(&c, F_ACK, base, pbytes(0, 1460), 1460);
	pc_tx_seq(&c, F_ACK, base + 1460, pbytes(1460, 1460), 1460);
	pc_tx_seq(&c, F_ACK, base + 2920, pbytes(2920, 1176), 1176);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, base + 4096);
	assert_int_equal(a->win, 0);
	/* Now data at RCV.NXT (not acceptable: window 0) carrying the ACK of the 1000 bytes. */
	c.rcv_nxt = una + 1000;
	pc_tx_seq(&c, F_ACK | F_PSH, base + 4096, pbytes(4096, 100), 100);
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, base + 4096); /* its data was not taken */
	assert_int_equal(a->win, 0);
	/* The ACK was: no retransmission of the 1000 bytes, the send buffer is empty again. */
	tp_run(3 * SEC);
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		if (s->dlen)
			print_seg("retransmitted although acknowledged", s);
		assert_int_equal(s->dlen, 0);
	}
	assert_int_equal(info_of(c.f).retransmits, 0);
	assert_int_equal(sl_tcp_sndbuf_free(c.f), cfg.tcp_sndbuf);
	assert_int_equal(app_read_check(c.f, 0), 4096);
	tp_down();
}

/* ======================================================================================== */
/* 2. NewReno (RFC 6582 §3.2)                                                               */
/* ======================================================================================== */

static struct sl_stack_config newreno_cfg(void)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_cc = "newreno";
	return cfg;
}

struct lose_first {
	uint32_t from, to; /* first transmissions of segments starting in [from, to) are lost */
	uint32_t every;	   /* 0: all of them; else only those at from + k·every·1460 */
};

static bool lose_first_tx(struct path *p, const struct seg *s, unsigned nth)
{
	const struct lose_first *l = p->arg;
	if (nth != 0 || !seq_in(s->seq, l->from, l->to))
		return false;
	if (!l->every)
		return true;
	return (s->seq - l->from) % (l->every * 1460) == 0;
}

/* RFC 6582 §3.2 step 4: "After a retransmit timeout, record the highest sequence number
 * transmitted in the variable recover"; step 1: duplicate ACKs that do not cover more than
 * recover do not start a fast retransmit. Here the peer lost segments 0–3 of a flight of
 * ten and its ACKs for 4–9 were lost too, so the RTO fires; the go-back-N retransmissions
 * then re-send 4–9, which the peer already holds, and each draws a duplicate ACK of the
 * cumulative point after segment 9 (= recover). Those duplicates must not trigger a fast
 * retransmit (a second, spurious congestion response): segment 10 is sent once. */
static void test_established_no_fast_retransmit_after_rto_dupacks(void **state)
{
	struct sl_stack_config cfg = newreno_cfg();
	tp_up(&cfg);
	struct pc c;
	open_passive_with(&c, 40000, false, false); /* no SACK-permitted: NewReno rules */
	uint32_t s0 = c.rcv_nxt;
	struct path *p = path_new(&c, 5 * MS, 1 * MS);
	struct lose_first l = {s0, s0 + 4 * 1460, 0};
	p->lose = lose_first_tx;
	p->arg = &l;
	p->mute = true;
	app_write(c.f, 0, 40 * 1460, false);
	/* The flight of ten goes out, 0–3 are lost, the peer's ACKs for 4–9 are lost. */
	path_run(p, 100 * MS, 1 * MS);
	assert_int_equal(path_tx_count(p, s0 + 9 * 1460), 1);
	assert_int_equal(path_tx_count(p, s0 + 10 * 1460), 0);
	assert_int_equal(STAT(tcp_rto_expired), 0);
	p->mute = false;
	path_run(p, 150 * MS, 1 * MS); /* the RTO (200 ms) fires; go-back-N */
	assert_int_equal(STAT(tcp_rto_expired), 1);
	path_run(p, 200 * MS, 1 * MS);
	uint32_t recover = s0 + 10 * 1460;
	if (p->max_same_ack < 3)
		print_message("scenario: only %u duplicate ACKs of recover after the RTO\n",
			      p->max_same_ack);
	assert_true(p->max_same_ack >= 3);
	if (STAT(tcp_fast_retransmits) || path_tx_count(p, recover) != 1)
		print_message("duplicate ACKs caused by go-back-N retransmissions started a fast "
			      "retransmit: fast %llu, segment at recover sent %u times\n",
			      (unsigned long long)STAT(tcp_fast_retransmits),
			      path_tx_count(p, recover));
	assert_int_equal(STAT(tcp_fast_retransmits), 0);
	assert_int_equal(path_tx_count(p, recover), 1);
	assert_int_equal(STAT(tcp_rto_expired), 1);
	/* And the transfer goes on to the end. */
	path_run(p, 5 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, s0 + 40 * 1460);
	path_free(p);
	tp_down();
}

/* RFC 6582 §3.2 step 5: "For the first partial ACK that arrives during fast recovery, also
 * reset the retransmit timer" — only the first (§4, the Impatient variant: with many losses
 * in one window the RTO then repairs them instead of one per round trip). Every second
 * segment of the first twenty is lost once: after the fast retransmit one partial ACK comes
 * per round trip (60 ms), five or more in a row. The retransmission timer must fire one RTO
 * after the first partial ACK, in the middle of the recovery; re-armed at every partial ACK
 * it fires only after the last. */
static void test_established_partial_ack_resets_timer_only_first(void **state)
{
	struct sl_stack_config cfg = newreno_cfg();
	tp_up(&cfg);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t s0 = c.rcv_nxt;
	struct path *p = path_new(&c, 60 * MS, 1 * MS);
	struct lose_first l = {s0, s0 + 20 * 1460, 2};
	p->lose = lose_first_tx;
	p->arg = &l;
	app_write(c.f, 0, 60 * 1460, false);
	/* Run until the first partial ACK: an ACK above s0 but below the recovery point. */
	uint64_t t_first = 0;
	uint64_t rto_first = 0;
	unsigned rto_before = 0;
	uint64_t end = T.now + 3 * SEC;
	while (T.now < end) {
		uint32_t before = c.rcv_nxt;
		path_run(p, 1 * MS, 1 * MS);
		if (!t_first && before == s0 && seq_gt(c.rcv_nxt, s0)) {
			/* The peer sent its first partial ACK in that step; let the stack take it.
			 */
			tp_poll();
			t_first = T.now;
			rto_first = info_of(c.f).rto_us * US;
			rto_before = (unsigned)STAT(tcp_rto_expired);
			assert_int_equal(STAT(tcp_fast_retransmits), 1);
			assert_true(seq_lt(c.rcv_nxt, s0 + 20 * 1460));
			break;
		}
	}
	assert_true(t_first != 0);
	assert_int_equal(rto_before, 0);
	/* Watch for the timeout, in 1 ms steps, while further partial ACKs arrive. */
	uint64_t t_rto = 0;
	while (T.now < t_first + 2 * SEC) {
		path_run(p, 1 * MS, 1 * MS);
		if (STAT(tcp_rto_expired) > rto_before) {
			t_rto = T.now;
			break;
		}
	}
	if (!t_rto)
		print_message("no RTO during the recovery: the timer was reset by every partial "
			      "ACK (first partial ACK at +%.0f ms, RTO %.0f ms)\n",
			      (double)(t_first) / 1e6, (double)rto_first / 1e6);
	assert_true(t_rto != 0);
	if (t_rto > t_first + rto_first + 2 * MS)
		print_message("RTO fired %.1f ms after the first partial ACK, RTO was %.1f ms\n",
			      (double)(t_rto - t_first) / 1e6, (double)rto_first / 1e6);
	assert_true(t_rto <= t_first + rto_first + 2 * MS);
	assert_true(t_rto + 2 * MS >= t_first + rto_first);
	path_run(p, 20 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, s0 + 60 * 1460);
	path_free(p);
	tp_down();
}

/* ======================================================================================== */
/* 3. Receiver silly window syndrome avoidance (RFC 9293 §3.8.6.2.2)                       */
/* ======================================================================================== */

/* Fill the stack's 4096-byte receive buffer from the peer: the window closes. */
static uint32_t fill_rcvbuf_4096(struct pc *c)
{
	uint32_t base = c->snd_nxt;
	pc_tx(c, F_ACK, pbytes(0, 1460), 1460);
	pc_tx(c, F_ACK, pbytes(1460, 1460), 1460);
	pc_tx(c, F_ACK, pbytes(2920, 1176), 1176);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, base + 4096);
	assert_int_equal(a->win, 0);
	expect_none();
	return base;
}

/* The window the stack advertises now, as its answer to a one-byte zero-window probe at
 * RCV.NXT shows it (a segment it must answer with an ACK, RFC 9293 §3.8.6.1; once the
 * window is open the byte is taken and the ACK may be delayed, hence the 50 ms). */
static uint16_t probe_window(struct pc *c, uint32_t rcv_nxt)
{
	tp_run(600 * MS);
	tp_clear();
	pc_tx_seq(c, F_ACK, rcv_nxt, pbytes(4096, 1), 1);
	tp_run(50 * MS);
	struct seg *a = expect(F_ACK);
	uint16_t w = a->win;
	struct seg *s;
	while ((s = tp_pop()) != NULL)
		w = s->win;
	return w;
}

static void read_n(struct sl_tcp_flow *f, size_t n)
{
	uint8_t buf[4096];
	assert_true(n <= sizeof buf);
	assert_int_equal(sl_tcp_read(f, buf, n), (ssize_t)n);
}

/* RFC 9293 §3.8.6.2.2: once the receive window has closed it stays closed until the free
 * space is at least min(Fr·RCV.BUFF, Eff.snd.MSS) = min(4096 / 2, 1460) = 1460 bytes here.
 * Reading a few bytes must not announce a tiny window (no window update, and what any ACK
 * carries is 0); at 1460 free bytes the window opens. */
static void test_established_rcv_sws_window_stays_closed_until_mss(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_rcvbuf = 4096;
	tp_up(&cfg);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t base = fill_rcvbuf_4096(&c);
	read_n(c.f, 100);
	tp_poll();
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		if (s->win)
			print_seg("window update for a tiny window", s);
		assert_int_equal(s->win, 0);
	}
	assert_int_equal(probe_window(&c, base + 4096), 0);
	read_n(c.f, 1359); /* 1459 free */
	tp_poll();
	while ((s = tp_pop()) != NULL)
		assert_int_equal(s->win, 0);
	assert_int_equal(probe_window(&c, base + 4096), 0);
	read_n(c.f, 1); /* 1460 free: at least one MSS */
	tp_poll();
	while ((s = tp_pop()) != NULL)
		assert_true(s->win >= 1460);
	/* The probe byte was taken (the window was open): the right edge stays, one byte less. */
	assert_true(probe_window(&c, base + 4096) >= 1460 - 1);
	tp_down();
}

/* Asking for information must not change what is advertised: sl_tcp_info between small reads
 * leaves the window at 0 (RFC 9293 §3.8.6.2.2 as above). */
static void test_established_rcv_sws_info_does_not_open_window(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_rcvbuf = 4096;
	tp_up(&cfg);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t base = fill_rcvbuf_4096(&c);
	for (int i = 0; i < 5; i++) {
		read_n(c.f, 100);
		struct sl_tcp_info in = info_of(c.f);
		(void)in;
		info_of(c.f);
		tp_poll();
		struct seg *s;
		while ((s = tp_pop()) != NULL) {
			if (s->win)
				print_seg("window opened after sl_tcp_info", s);
			assert_int_equal(s->win, 0);
		}
		assert_int_equal(probe_window(&c, base + 4096), 0);
		info_of(c.f);
	}
	tp_down();
}

/* ======================================================================================== */
/* 4. A FIN on an out-of-order segment (RFC 9293 §3.10.7.4 eighth, RFC 9293 §3.9 RECEIVE)  */
/* ======================================================================================== */

/* The peer's last segment (data + FIN) overtakes the one before it. The FIN must be kept
 * with the out-of-order data: once the hole is filled, the stack acknowledges everything
 * including the FIN (ACK = FIN + 1), reports end of file and is in CLOSE-WAIT. */
static void test_established_fin_out_of_order_remembered(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t base = c.snd_nxt;
	pc_tx_seq(&c, F_ACK | F_FIN, base + 1000, pbytes(1000, 1000), 1000);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, base); /* out of order: duplicate ACK at once */
	assert_state(c.f, "ESTABLISHED");
	pc_tx_seq(&c, F_ACK, base, pbytes(0, 1000), 1000);
	tp_run(100 * MS);
	uint32_t last = 0;
	struct seg *s;
	while ((s = tp_pop()) != NULL)
		if (s->flags & F_ACK)
			last = s->ack;
	if (last != base + 2001)
		print_message("after the hole was filled the stack acknowledged %d bytes past the "
			      "data (the FIN is 1)\n",
			      (int)(last - (base + 2000)));
	assert_int_equal(last, base + 2001);
	assert_state(c.f, "CLOSE-WAIT");
	assert_int_equal(app_read_check(c.f, 0), 2000);
	uint8_t b[4];
	assert_int_equal(sl_tcp_read(c.f, b, sizeof b), 0);
	tp_down();
}

/* ======================================================================================== */
/* 5. TIME-WAIT assassination (RFC 1337)                                                    */
/* ======================================================================================== */

static void enter_time_wait(struct pc *c)
{
	assert_int_equal(sl_tcp_shutdown(c->f, SL_SHUT_WR), 0);
	tp_poll();
	struct seg *fin = expect(F_FIN | F_ACK);
	assert_int_equal(fin->seq, c->rcv_nxt);
	c->rcv_nxt++;
	pc_send(c, F_FIN | F_ACK, NULL, 0);
	expect(F_ACK);
	assert_state(c->f, "TIME-WAIT");
}

/* RFC 1337 §3 fix (TWA hazard H1): a RST arriving in TIME-WAIT is ignored, so an old
 * duplicate cannot cut TIME-WAIT short; the connection stays there for the full 2·MSL and
 * then closes in order. */
static void test_time_wait_rst_ignored(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_msl_ns = 100 * MS;
	tp_up(&cfg);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	enter_time_wait(&c);
	uint64_t t0 = T.now;
	tp_run(50 * MS);
	pc_send(&c, F_RST, NULL, 0);			  /* exactly RCV.NXT */
	pc_tx_seq(&c, F_RST | F_ACK, c.snd_nxt, NULL, 0); /* and with an ACK */
	tp_poll();
	assert_state(c.f, "TIME-WAIT");
	assert_int_equal(A.nclosed, 0);
	expect_none();
	tp_run(t0 + 199 * MS - T.now);
	assert_state(c.f, "TIME-WAIT");
	tp_run(1 * MS);
	assert_state(c.f, "CLOSED");
	assert_int_equal(closed_reason(c.f), 0);
	assert_int_equal(A.closed[0].t - t0, 200 * MS);
	sl_tcp_close(c.f);
	tp_down();
}

/* ======================================================================================== */
/* 6. ICMP errors (RFC 5927 §4.1, RFC 1122 §4.2.3.9)                                        */
/* ======================================================================================== */

/* RFC 5927 §4.1: "TCP SHOULD check that the TCP sequence number contained in the payload of
 * the ICMP error message is within the range SND.UNA =< SEG.SEQ < SND.NXT"; an error whose
 * quoted sequence number is outside it is ignored (and counted, shared/DESIGN.md). */
static void test_established_icmp_port_unreach_bad_seq_ignored(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t una = c.rcv_nxt;
	app_write(c.f, 0, 1000, true);
	tp_poll();
	assert_int_equal(expect(F_ACK)->dlen, 1000);
	peer_icmp_quote(SL_ICMP_DEST_UNREACH, SL_ICMP_PORT_UNREACH, 80, 40000, una - 5000);
	tp_poll();
	peer_icmp_quote(SL_ICMP_DEST_UNREACH, SL_ICMP_PORT_UNREACH, 80, 40000, una + 1000 + 5000);
	tp_poll();
	assert_int_equal(STAT(icmp_errors_rx), 2); /* they did reach the stack */
	assert_int_equal(STAT(tcp_icmp_bad_seq), 2);
	assert_state(c.f, "ESTABLISHED");
	assert_int_equal(A.nclosed, 0);
	/* The connection works on. */
	c.rcv_nxt = una + 1000;
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 10), 10);
	assert_int_equal(app_read_check(c.f, 0), 10);
	assert_int_equal(sl_tcp_sndbuf_free(c.f), test_cfg().tcp_sndbuf);
	tp_down();
}

/* RFC 1122 §4.2.3.9 / RFC 5461 §4: port unreachable is a hard error; in SYN-SENT it aborts the
 * connection attempt (ECONNREFUSED) — but only when the quoted sequence number is that of the
 * SYN (ISS, RFC 5927 §4.1); with another sequence number it is ignored and counted. */
static void test_syn_sent_icmp_port_unreach(void **state)
{
	tp_up(NULL);
	sl_ip dst = sl_ip_v4(PEER_IP);
	struct sl_tcp_flow *f;
	assert_int_equal(sl_tcp_connect(T.st, &dst, 9000, NULL, &app_cbs, &A, &f), 0);
	tp_poll();
	struct seg *syn = expect(F_SYN);
	uint32_t iss = syn->seq;
	uint16_t sport = syn->sport;
	peer_icmp_quote(SL_ICMP_DEST_UNREACH, SL_ICMP_PORT_UNREACH, sport, 9000, iss + 77777);
	tp_poll();
	assert_int_equal(STAT(icmp_errors_rx), 1);
	assert_int_equal(A.n_connected, 0);
	assert_state(f, "SYN-SENT");
	assert_int_equal(STAT(tcp_icmp_bad_seq), 1);
	peer_icmp_quote(SL_ICMP_DEST_UNREACH, SL_ICMP_PORT_UNREACH, sport, 9000, iss);
	tp_poll();
	assert_int_equal(A.n_connected, 1);
	assert_int_equal(A.connected_err, -ECONNREFUSED);
	assert_int_equal(STAT(tcp_icmp_bad_seq), 1);
	/* No more SYNs. */
	tp_run(10 * SEC);
	struct seg *s;
	while ((s = tp_pop()) != NULL)
		assert_false(s->flags & F_SYN);
	sl_tcp_close(f);
	tp_down();
}

/* ======================================================================================== */
/* 7. Rate limits (RFC 5961 §7, CVE-2016-5696)                                              */
/* ======================================================================================== */

#define NFLOOD 100

/* Challenge ACKs the stack sends for one in-window RST (SEG.SEQ = RCV.NXT + 1, RFC 5961
 * §3.2) or SYN (§4.2) on each of n connections, all arriving at one instant. */
static unsigned flood_round(struct pc *c, unsigned n, bool syn)
{
	tp_clear();
	uint64_t before = STAT(tcp_challenge_acks);
	for (unsigned i = 0; i < n; i++)
		pc_tx_seq(&c[i], syn ? F_SYN : F_RST, c[i].snd_nxt + 1, NULL, 0);
	tp_poll();
	unsigned acks = 0;
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		assert_int_equal(s->flags & ~F_PSH, F_ACK);
		assert_int_equal(s->dlen, 0);
		acks++;
	}
	assert_int_equal(STAT(tcp_challenge_acks) - before, acks);
	return acks;
}

/* RFC 5961 §7 with the CVE-2016-5696 fix: the number of challenge ACKs a stack sends in one
 * second must not be a fixed, globally shared constant (an off-path attacker counts them to
 * learn whether its guess hit a connection). Here the budget of each second is drawn from
 * [rate/2, 3·rate/2) (stack.h, tcp_challenge_rate); a flood spread over many connections
 * (one segment each, so no per-connection limit applies) gets that many answers, and the
 * counts vary from second to second and from seed to seed. */
static void test_established_challenge_ack_budget_random(void **state)
{
	static struct pc c[NFLOOD];
	const uint32_t rate = 20;
	unsigned counts[12], n = 0;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct sl_stack_config cfg = test_cfg();
		cfg.seed = seed;
		cfg.tcp_challenge_rate = rate;
		tp_up(&cfg);
		for (unsigned i = 0; i < NFLOOD; i++)
			open_passive_with(&c[i], (uint16_t)(20000 + i), false, false);
		for (int round = 0; round < 4; round++) {
			tp_run(1100 * MS);
			unsigned k = flood_round(c, NFLOOD, round % 2);
			print_message("seed %llu second %d: %u challenge ACKs\n",
				      (unsigned long long)seed, round, k);
			assert_true(k >= rate / 2);
			assert_true(k < 3 * rate / 2);
			counts[n++] = k;
		}
		for (unsigned i = 0; i < NFLOOD; i++)
			assert_state(c[i].f, "ESTABLISHED");
		tp_down();
	}
	unsigned same = 0;
	for (unsigned i = 1; i < n; i++)
		same += counts[i] == counts[0];
	if (same == n - 1)
		print_message("every second allowed exactly %u challenge ACKs: a fixed global "
			      "budget\n",
			      counts[0]);
	assert_true(same < n - 1);
}

/* Per connection (the Linux tcp_oow_rate_limited rule, stack.h tcp_oow_ack_ns): ACKs in answer
 * to out-of-window segments without data go out at most once per 500 ms; the rest are counted
 * (tcp_oow_ack_limited). A peer cannot make the stack answer every bogus segment (an ACK
 * loop between two confused ends, or a reflection), yet one answer per interval still lets a
 * desynchronised peer recover (RFC 9293 §3.10.7.4: an unacceptable segment gets an ACK). */
static void test_established_oow_ack_per_connection_limit(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, false); /* window 65535, not scaled */
	uint32_t far = c.snd_nxt + 200000;	    /* beyond the window */
	for (int i = 0; i < 5; i++) {
		pc_tx_seq(&c, F_ACK, far, NULL, 0);
		tp_poll();
	}
	unsigned acks = 0;
	struct seg *s;
	while ((s = tp_pop()) != NULL) {
		assert_int_equal(s->flags & ~F_PSH, F_ACK);
		assert_int_equal(s->ack, c.snd_nxt);
		acks++;
	}
	if (acks != 1)
		print_message("%u ACKs for 5 out-of-window segments within one interval\n", acks);
	assert_int_equal(acks, 1);
	assert_int_equal(STAT(tcp_oow_ack_limited), 4);
	tp_run(300 * MS); /* 300 ms later: still limited */
	pc_tx_seq(&c, F_ACK, far, NULL, 0);
	tp_poll();
	expect_none();
	assert_int_equal(STAT(tcp_oow_ack_limited), 5);
	tp_run(300 * MS); /* 600 ms after the first answer */
	pc_tx_seq(&c, F_ACK, far, NULL, 0);
	tp_poll();
	expect(F_ACK);
	expect_none();
	assert_int_equal(STAT(tcp_oow_ack_limited), 5);
	assert_state(c.f, "ESTABLISHED");
	tp_down();
}

/* Out-of-window segments WITH data are the sender's retransmissions of data whose ACK was
 * lost: each is answered at once, never limited (the sender needs the ACK, and RFC 2883's
 * D-SACK rides on it). */
static void test_established_oow_data_always_acked(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	uint32_t base = c.snd_nxt;
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 1000), 1000);
	tp_run(100 * MS);
	tp_clear();
	uint64_t limited = STAT(tcp_oow_ack_limited);
	for (int i = 0; i < 5; i++) {
		pc_tx_seq(&c, F_ACK | F_PSH, base, pbytes(0, 1000), 1000); /* all old */
		tp_poll();
		struct seg *a = expect(F_ACK);
		assert_int_equal(a->ack, base + 1000);
		expect_none();
		tp_run(10 * MS);
	}
	assert_int_equal(STAT(tcp_oow_ack_limited), limited);
	assert_int_equal(app_read_check(c.f, 0), 1000);
	tp_down();
}

/* Challenge ACKs share the per-connection interval (Linux: tcp_send_challenge_ack checks
 * tcp_oow_rate_limited first): an in-window RST draws one, an in-window SYN 100 ms later on
 * the same connection none (counted), and after the interval the next one is answered. */
static void test_established_challenge_ack_per_connection_limit(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, false);
	pc_tx_seq(&c, F_RST, c.snd_nxt + 1, NULL, 0);
	tp_poll();
	expect(F_ACK);
	expect_none();
	tp_run(100 * MS);
	uint64_t limited = STAT(tcp_oow_ack_limited);
	pc_tx_seq(&c, F_SYN, c.snd_nxt + 5, NULL, 0);
	tp_poll();
	expect_none();
	assert_int_equal(STAT(tcp_oow_ack_limited), limited + 1);
	tp_run(500 * MS);
	pc_tx_seq(&c, F_SYN, c.snd_nxt + 5, NULL, 0);
	tp_poll();
	expect(F_ACK);
	assert_state(c.f, "ESTABLISHED");
	tp_down();
}

/* ======================================================================================== */
/* 8. Ephemeral ports (RFC 6056 §3.3.3, §3.3.4)                                            */
/* ======================================================================================== */

static uint16_t connect_port(uint32_t dst_ip, uint16_t dport)
{
	sl_ip dst = sl_ip_v4(dst_ip);
	struct sl_tcp_flow *f;
	assert_int_equal(sl_tcp_connect(T.st, &dst, dport, NULL, &app_cbs, &A, &f), 0);
	uint16_t lp;
	sl_tcp_endpoints(f, NULL, &lp, NULL, NULL);
	assert_true(lp >= 49152); /* RFC 6056 §3.2: the IANA range 49152–65535 */
	return lp;
}

static uint16_t next_port(uint16_t p)
{
	return p == 65535 ? 49152 : (uint16_t)(p + 1);
}

/* RFC 6056 §3.3.3 (Algorithm 3) / §3.3.4 (Algorithm 4): port = min + (F(local, remote,
 * remote port, secret) + counter) mod range. Successive connections to one destination take
 * successive ports (the counter steps by one); a different destination has its own offset,
 * so its port does not continue the sequence ("last port + 1" is not predictable from the
 * ports seen towards another destination). */
static void test_syn_sent_ephemeral_ports_rfc6056(void **state)
{
	tp_up(NULL);
	uint16_t p[6];
	for (int i = 0; i < 6; i++) {
		p[i] = connect_port(PEER_IP, 443);
		if (i && p[i] != next_port(p[i - 1]))
			print_message("connect %d to the same destination: port %u after %u\n", i,
				      p[i], p[i - 1]);
		if (i)
			assert_int_equal(p[i], next_port(p[i - 1]));
	}
	/* Other destinations: other addresses, or the same address on other ports. */
	const uint32_t ips[] = {PEER_IP,     PEER_IP,	  PEER_IP,     0x0a000003u,
				0x0a000004u, 0x0a000005u, 0x0a000006u, 0x0a000007u};
	const uint16_t ports[] = {8443, 25, 22, 443, 443, 443, 80, 80};
	uint16_t last = p[5];
	unsigned sequential = 0;
	for (int i = 0; i < 8; i++) {
		uint16_t q = connect_port(ips[i], ports[i]);
		if (q == next_port(last))
			sequential++;
		last = q;
	}
	if (sequential > 1)
		print_message("%u of 8 connections to new destinations took the previous port + 1: "
			      "one global sequence\n",
			      sequential);
	assert_true(sequential <= 1);
	tp_poll();
	tp_clear();
	tp_down();
}

/* The offset comes from the stack's secret (derived from its seed in these tests): two stacks start at different ports
 * for the same destination (RFC 6056 §3.3.3: F must be unpredictable from outside). */
static void test_syn_sent_ephemeral_port_depends_on_secret(void **state)
{
	uint16_t first[4];
	for (int k = 0; k < 4; k++) {
		struct sl_stack_config cfg = test_cfg();
		cfg.seed = 1000 + (uint64_t)k * 7919;
		tp_up(&cfg);
		first[k] = connect_port(PEER_IP, 443);
		tp_down();
	}
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++) {
			if (first[i] == first[j])
				print_message("seeds %d and %d both start at port %u\n", i, j,
					      first[i]);
			assert_int_not_equal(first[i], first[j]);
		}
}

/* RFC 6056 §2.2: the connection-id (the 4-tuple) of live connections is unique, across
 * destinations and the wrap of the range. (A local port may serve two destinations at once:
 * the 4-tuples differ.) */
static void test_syn_sent_ephemeral_ports_unique_across_destinations(void **state)
{
	tp_up(NULL);
	static uint8_t used[4][65536]; /* [destination][local port] */
	memset(used, 0, sizeof used);
	for (int i = 0; i < 600; i++) {
		unsigned d = (i % 3 ? 0u : 2u) + (i % 2 ? 1u : 0u);
		uint16_t lp = connect_port(i % 3 ? PEER_IP : 0x0a000003u, i % 2 ? 443 : 80);
		assert_true(lp >= 49152);
		assert_int_equal(used[d][lp], 0);
		used[d][lp] = 1;
		if (i % 50 == 49) {
			tp_poll();
			tp_clear();
		}
	}
	tp_down();
}

int main(void)
{
#define T_(name) cmocka_unit_test_teardown(name, path_teardown)
	const struct CMUnitTest tests[] = {
	    T_(test_established_persist_pure_ack_seq_is_probe_seq),
	    T_(test_established_zero_rcv_window_ack_still_processed),
	    T_(test_established_no_fast_retransmit_after_rto_dupacks),
	    T_(test_established_partial_ack_resets_timer_only_first),
	    T_(test_established_rcv_sws_window_stays_closed_until_mss),
	    T_(test_established_rcv_sws_info_does_not_open_window),
	    T_(test_established_fin_out_of_order_remembered),
	    T_(test_time_wait_rst_ignored),
	    T_(test_established_icmp_port_unreach_bad_seq_ignored),
	    T_(test_syn_sent_icmp_port_unreach),
	    T_(test_established_challenge_ack_budget_random),
	    T_(test_established_oow_ack_per_connection_limit),
	    T_(test_established_oow_data_always_acked),
	    T_(test_established_challenge_ack_per_connection_limit),
	    T_(test_syn_sent_ephemeral_ports_rfc6056),
	    T_(test_syn_sent_ephemeral_port_depends_on_secret),
	    T_(test_syn_sent_ephemeral_ports_unique_across_destinations),
	};
	return cmocka_run_group_tests_name("tcp_rules", tests, NULL, NULL);
}
