/*
 * TCP loss recovery and the options that carry it, written from the RFCs: SACK (RFC 2018),
 * D-SACK (RFC 2883), the RFC 6675 scoreboard, RACK-TLP (RFC 8985), PRR (RFC 6937),
 * timestamps and PAWS (RFC 7323), undo after spurious retransmission (RFC 2883 §5,
 * RFC 3522, RFC 5682), SYN cookies (RFC 4987 §3.6), and the negotiation of all of it in the
 * handshake. Names follow test_<state>_<event> (shared/DESIGN.md).
 *
 * One sluice stack, the test as its peer (tests/unit/fakepeer.h, tests/unit/tcphelp.h),
 * simulated time.
 */
#include "unit/tcphelp.h"

/* ======================================================================================== */
/* Helpers                                                                                  */
/* ======================================================================================== */

/* The stack connects to the peer's port (o may be NULL); returns its SYN. */
static struct seg *active_syn_opts(struct pc *c, uint16_t pport,
				   const struct sl_tcp_connect_opts *o)
{
	sl_ip dst = sl_ip_v4(PEER_IP);
	struct sl_tcp_flow *f;
	assert_int_equal(sl_tcp_connect(T.st, &dst, pport, o, &app_cbs, &A, &f), 0);
	tp_poll();
	struct seg *syn = expect(F_SYN);
	pc_init(c, syn->sport, pport);
	c->f = f;
	c->irs = syn->seq;
	c->rcv_nxt = syn->seq + 1;
	c->ts_off = 0x20000;
	return syn;
}

/* The peer answers the stack's SYN with a SYN-ACK offering SACK / timestamps as asked. */
static void active_synack(struct pc *c, int ws, bool sack, bool ts)
{
	c->sack_ok = sack;
	c->ts = ts;
	unsigned before = A.n_connected;
	synack(c, 1460, ws);
	assert_int_equal(A.n_connected, before + 1);
	assert_int_equal(A.connected_err, 0);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, c->iss + 1);
	assert_state(c->f, "ESTABLISHED");
}

/* Passive open where the peer's ACK of the SYN-ACK comes rtt later, then two round trips of
 * 1000 bytes from the stack, each acknowledged rtt after it was sent: SRTT and min RTT are
 * rtt. The queue of segments is empty afterwards. */
static void open_rtt(struct pc *c, uint16_t pport, uint64_t rtt, bool sack, bool ts, int ws)
{
	listen_on(80);
	pc_init(c, 80, pport);
	c->win = 65535;
	c->sack_ok = sack;
	c->ts = ts;
	c->ts_off = 0x10000;
	pc_syn(c, 1460, ws);
	struct seg *sa = expect(F_SYN | F_ACK);
	c->irs = sa->seq;
	c->rcv_nxt = sa->seq + 1;
	tp_run(rtt);
	unsigned before = A.nacc;
	pc_send(c, F_ACK, NULL, 0);
	assert_int_equal(A.nacc, before + 1);
	c->f = A.acc[before];
	for (int i = 0; i < 2; i++) {
		app_write(c->f, 1000u * (unsigned)i, 1000, true);
		tp_poll();
		assert_int_equal(expect(F_ACK)->dlen, 1000);
		tp_run(rtt);
		c->rcv_nxt += 1000;
		pc_send(c, F_ACK, NULL, 0);
	}
	tp_run(1 * MS);
	tp_clear();
	struct sl_tcp_info i = info_of(c->f);
	if (i.srtt_us < rtt / US - 2000 || i.srtt_us > rtt / US + 2000)
		print_message("setup: srtt %llu us, expected %llu\n", (unsigned long long)i.srtt_us,
			      (unsigned long long)(rtt / US));
	assert_true(i.srtt_us + 2000 >= rtt / US && i.srtt_us <= rtt / US + 2000);
}

static void expect_sack(const struct seg *s, unsigned k, uint32_t l, uint32_t r)
{
	if (s->o.nsack <= k || s->o.sack[k].l != l || s->o.sack[k].r != r) {
		print_seg("ACK", s);
		for (unsigned i = 0; i < s->o.nsack; i++)
			print_message("  block %u: [%u, %u)\n", i, s->o.sack[i].l, s->o.sack[i].r);
		print_message("expected block %u = [%u, %u)\n", k, l, r);
		fail();
	}
}

/* An ACK from the peer with these SACK blocks (ack = c->rcv_nxt). */
static void peer_sack(struct pc *c, unsigned n, const struct sl_tcp_sack *b)
{
	c->nsack = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		c->sack[i] = b[i];
	pc_tx(c, F_ACK, NULL, 0);
	c->nsack = 0;
}

/* The first segment with data in the queue from seq (NULL: none). */
static struct seg *find_data(uint32_t seq)
{
	for (unsigned i = T.qh; i < T.qt; i++)
		if (T.q[i].dlen && T.q[i].seq == seq)
			return &T.q[i];
	return NULL;
}

/* ======================================================================================== */
/* Negotiation (RFC 2018 §2, RFC 7323 §2–3)                                                 */
/* ======================================================================================== */

/* RFC 2018 §2 / RFC 7323 §3.2: the stack's SYN offers SACK-permitted and TSopt (TSecr 0
 * without ACK); a SYN-ACK with both makes them effective, and the completing ACK echoes the
 * peer's TSval. */
static void test_syn_sent_offers_sack_and_timestamps(void **state)
{
	tp_up(NULL);
	struct pc c;
	struct seg *syn = active_syn_opts(&c, 9000, NULL);
	assert_true(syn->o.sack_ok);
	assert_true(syn->o.has_ts);
	assert_int_equal(syn->o.ts_ecr, 0);
	active_synack(&c, 7, true, true);
	struct sl_tcp_info i = info_of(c.f);
	assert_true(i.sack_ok);
	assert_true(i.ts_ok);
	assert_true(i.wscale_ok);
	/* The stack's next segment echoes the peer's SYN-ACK TSval. */
	uint32_t peer_tsval = pc_ts_val(&c);
	app_write(c.f, 0, 100, true);
	tp_poll();
	struct seg *d = expect(F_ACK);
	assert_true(d->o.has_ts);
	assert_int_equal(d->o.ts_ecr, peer_tsval);
	tp_down();
}

/* RFC 7323 §3.2: timestamps are used only when both SYNs carried TSopt; RFC 2018 §2: SACK
 * only when both offered it. A SYN-ACK with neither: no TSopt on anything the stack sends
 * afterwards, and no SACK blocks for out-of-order data. */
static void test_syn_sent_synack_without_options(void **state)
{
	tp_up(NULL);
	struct pc c;
	active_syn_opts(&c, 9000, NULL);
	active_synack(&c, -1, false, false);
	struct sl_tcp_info i = info_of(c.f);
	assert_false(i.sack_ok);
	assert_false(i.ts_ok);
	assert_false(i.wscale_ok);
	pc_tx_seq(&c, F_ACK, c.snd_nxt + 1000, pbytes(1000, 500), 500);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->o.nsack, 0);
	assert_false(a->o.has_ts);
	app_write(c.f, 0, 100, true);
	tp_poll();
	assert_false(expect(F_ACK)->o.has_ts);
	tp_down();
}

/* Configured off (stack.h tcp_sack, tcp_timestamps): the SYN offers neither. */
static void test_syn_sent_nothing_offered_when_disabled(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_sack = false;
	cfg.tcp_timestamps = false;
	tp_up(&cfg);
	struct pc c;
	struct seg *syn = active_syn_opts(&c, 9000, NULL);
	assert_false(syn->o.sack_ok);
	assert_false(syn->o.has_ts);
	active_synack(&c, -1, true, true); /* the peer offers both anyway */
	assert_false(info_of(c.f).sack_ok);
	assert_false(info_of(c.f).ts_ok);
	tp_down();
}

/* RFC 2018 §2: SACK-permitted "may be sent in a SYN by a TCP that has been extended to
 * receive ... SACK" — in the SYN-ACK only when the SYN had it; RFC 7323 §3.2: a SYN-ACK
 * carries TSopt only when the SYN did, with TSecr = the SYN's TSval. */
static void test_listen_synack_mirrors_peer_offer(void **state)
{
	tp_up(NULL);
	listen_on(80);
	for (int k = 0; k < 4; k++) {
		bool sack = k & 1, ts = k & 2;
		struct pc c;
		pc_init(&c, 80, (uint16_t)(41000 + k));
		c.sack_ok = sack;
		c.ts = ts;
		c.ts_off = 0x30000;
		uint32_t tsval = pc_ts_val(&c);
		pc_syn(&c, 1460, 7);
		struct seg *sa = expect(F_SYN | F_ACK);
		if (sa->o.sack_ok != sack || sa->o.has_ts != ts)
			print_message("peer offered sack %d ts %d; SYN-ACK has sack %d ts %d\n",
				      sack, ts, sa->o.sack_ok, sa->o.has_ts);
		assert_int_equal(sa->o.sack_ok, sack);
		assert_int_equal(sa->o.has_ts, ts);
		if (ts)
			assert_int_equal(sa->o.ts_ecr, tsval);
		c.rcv_nxt = sa->seq + 1;
		pc_send(&c, F_ACK, NULL, 0);
		struct sl_tcp_flow *f = A.acc[A.nacc - 1];
		assert_int_equal(info_of(f).sack_ok, sack);
		assert_int_equal(info_of(f).ts_ok, ts);
	}
	tp_down();
}

static void test_listen_nothing_offered_when_disabled(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_sack = false;
	cfg.tcp_timestamps = false;
	tp_up(&cfg);
	struct pc c;
	c.win = 65535;
	open_passive_ext(&c, 80, 40000, 1460, 7, true, true);
	/* open_passive_ext checked the SYN-ACK's ACK; look at the options via the flow. */
	assert_false(info_of(c.f).sack_ok);
	assert_false(info_of(c.f).ts_ok);
	pc_tx_seq(&c, F_ACK, c.snd_nxt + 1000, pbytes(1000, 500), 500);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->o.nsack, 0);
	assert_false(a->o.has_ts);
	tp_down();
}

/* sl_tcp_info reports what the handshake negotiated, and the congestion control: "cubic" by
 * default, "newreno" from the stack's config or the connect options (tcp.h). */
static void test_established_info_reports_negotiation(void **state)
{
	tp_up(NULL);
	struct pc c;
	c.win = 65535;
	open_passive_ext(&c, 80, 40000, 1460, 7, true, true);
	struct sl_tcp_info i = info_of(c.f);
	assert_true(i.sack_ok);
	assert_true(i.ts_ok);
	assert_true(i.wscale_ok);
	assert_non_null(i.cc);
	assert_string_equal(i.cc, "cubic");
	struct pc d;
	struct sl_tcp_connect_opts o = {.cc = "newreno"};
	active_syn_opts(&d, 9000, &o);
	active_synack(&d, -1, false, false);
	assert_string_equal(info_of(d.f).cc, "newreno");
	tp_down();
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_cc = "newreno";
	tp_up(&cfg);
	c.win = 65535;
	open_passive_ext(&c, 80, 40000, 1460, -1, false, false);
	i = info_of(c.f);
	assert_string_equal(i.cc, "newreno");
	assert_false(i.wscale_ok);
	tp_down();
}

/* ======================================================================================== */
/* Receiver SACK (RFC 2018 §4, RFC 5681 §4.2)                                               */
/* ======================================================================================== */

/* Send 100 bytes at base + off from the peer and return the stack's immediate answer. */
static struct seg *ooo_100(struct pc *c, uint32_t base, uint32_t off)
{
	tp_clear();
	pc_tx_seq(c, F_ACK, base + off, pbytes(off, 100), 100);
	tp_poll();
	struct seg *a = tp_pop();
	if (!a)
		print_message("no immediate ACK for the segment at +%u (RFC 5681 §4.2)\n", off);
	assert_non_null(a);
	assert_int_equal(a->flags & ~F_PSH, F_ACK);
	return a;
}

/* RFC 2018 §4: every ACK while out-of-order data is held carries SACK blocks; "the first SACK
 * block ... MUST specify the contiguous block of data containing the segment which triggered
 * this ACK", the others repeat the most recently reported blocks, as many as fit (4 without
 * timestamps). RFC 5681 §4.2: out-of-order data is acknowledged at once. */
static void test_established_sack_first_block_most_recent(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	struct seg *a = ooo_100(&c, b, 200);
	assert_int_equal(a->ack, b);
	assert_int_equal(a->o.nsack, 1);
	expect_sack(a, 0, b + 200, b + 300);
	a = ooo_100(&c, b, 400);
	assert_int_equal(a->o.nsack, 2);
	expect_sack(a, 0, b + 400, b + 500);
	expect_sack(a, 1, b + 200, b + 300);
	a = ooo_100(&c, b, 600);
	assert_int_equal(a->o.nsack, 3);
	expect_sack(a, 0, b + 600, b + 700);
	expect_sack(a, 1, b + 400, b + 500);
	expect_sack(a, 2, b + 200, b + 300);
	a = ooo_100(&c, b, 800);
	assert_int_equal(a->o.nsack, 4);
	expect_sack(a, 0, b + 800, b + 900);
	expect_sack(a, 3, b + 200, b + 300);
	a = ooo_100(&c, b, 1000);
	assert_int_equal(a->o.nsack, 4); /* the oldest report drops out */
	expect_sack(a, 0, b + 1000, b + 1100);
	expect_sack(a, 1, b + 800, b + 900);
	expect_sack(a, 2, b + 600, b + 700);
	expect_sack(a, 3, b + 400, b + 500);
	/* A segment joining two blocks: the merged block comes first. */
	a = ooo_100(&c, b, 300);
	assert_int_equal(a->ack, b);
	expect_sack(a, 0, b + 200, b + 500);
	expect_sack(a, 1, b + 1000, b + 1100);
	expect_sack(a, 2, b + 800, b + 900);
	expect_sack(a, 3, b + 600, b + 700);
	assert_true(STAT(tcp_sack_tx) >= 6);
	tp_down();
}

/* RFC 2018 §3: with timestamps (10 bytes) at most 3 blocks fit in the option space. */
static void test_established_sack_three_blocks_with_timestamps(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, true);
	uint32_t b = c.snd_nxt;
	struct seg *a = NULL;
	for (uint32_t off = 200; off <= 1000; off += 200)
		a = ooo_100(&c, b, off);
	assert_true(a->o.has_ts);
	assert_int_equal(a->o.nsack, 3);
	expect_sack(a, 0, b + 1000, b + 1100);
	expect_sack(a, 1, b + 800, b + 900);
	expect_sack(a, 2, b + 600, b + 700);
	tp_down();
}

/* RFC 5681 §4.2 / RFC 2018 §4: the segment that fills the hole is acknowledged at once; when
 * everything is in order the cumulative ACK covers it all and no SACK block remains. */
static void test_established_sack_gone_when_holes_filled(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	ooo_100(&c, b, 200);
	ooo_100(&c, b, 400);
	struct seg *a = ooo_100(&c, b, 0); /* advances to 100; 200 and 400 still held */
	a = ooo_100(&c, b, 100);
	assert_int_equal(a->ack, b + 300);
	assert_int_equal(a->o.nsack, 1);
	expect_sack(a, 0, b + 400, b + 500);
	a = ooo_100(&c, b, 300);
	assert_int_equal(a->ack, b + 500);
	assert_int_equal(a->o.nsack, 0);
	assert_int_equal(app_read_check(c.f, 0), 500);
	tp_down();
}

/* ======================================================================================== */
/* D-SACK (RFC 2883 §4)                                                                     */
/* ======================================================================================== */

/* RFC 2883 §4 (1), §4.1.1: a duplicate segment below RCV.NXT is answered at once by an ACK
 * whose first SACK block is exactly the duplicated range. */
static void test_established_dsack_below_rcv_nxt(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	pc_send(&c, F_ACK, pbytes(0, 1000), 1000);
	pc_send(&c, F_ACK, pbytes(1000, 1000), 1000);
	tp_run(50 * MS);
	tp_clear();
	pc_tx_seq(&c, F_ACK, b + 1000, pbytes(1000, 1000), 1000); /* again */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 2000);
	expect_sack(a, 0, b + 1000, b + 2000);
	assert_int_equal(STAT(tcp_dsack_tx), 1);
	assert_int_equal(app_read_check(c.f, 0), 2000);
	tp_down();
}

/* RFC 2883 §4 (2)–(3), §4.1.2: a duplicate inside an out-of-order block: the first block is
 * the duplicate, the second the block that contains it. */
static void test_established_dsack_inside_ooo_block(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	pc_tx_seq(&c, F_ACK, b + 2000, pbytes(2000, 1000), 1000);
	pc_tx_seq(&c, F_ACK, b + 3000, pbytes(3000, 1000), 1000);
	tp_poll();
	tp_clear();
	pc_tx_seq(&c, F_ACK, b + 2000, pbytes(2000, 1000), 1000); /* again */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b);
	expect_sack(a, 0, b + 2000, b + 3000);
	expect_sack(a, 1, b + 2000, b + 4000);
	assert_int_equal(STAT(tcp_dsack_tx), 1);
	tp_down();
}

/* RFC 2883 §4: a segment only partly over an out-of-order block (a retransmission cut
 * differently from the first transmission) duplicates the overlap: the first block names those
 * bytes, the second the block that now holds them; the new bytes are kept. */
static void test_established_dsack_partial_overlap_ooo_block(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	pc_tx_seq(&c, F_ACK, b + 2000, pbytes(2000, 1000), 1000);
	tp_poll();
	tp_clear();
	pc_tx_seq(&c, F_ACK, b + 1500, pbytes(1500, 1000), 1000); /* 2000..2500 again */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b);
	expect_sack(a, 0, b + 2000, b + 2500);
	expect_sack(a, 1, b + 1500, b + 3000);
	assert_int_equal(STAT(tcp_dsack_tx), 1);
	pc_tx_seq(&c, F_ACK, b, pbytes(0, 1500), 1500);
	tp_poll();
	assert_int_equal(app_read_check(c.f, 0), 3000);
	tp_down();
}

/* RFC 2883 §4: a segment that fills the hole and runs on into held data: the ACK covers it all
 * and its first block is the duplicated part, below the cumulative ACK (§4.1.1's form). */
static void test_established_dsack_hole_fill_runs_into_ooo_block(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	pc_tx_seq(&c, F_ACK, b + 1000, pbytes(1000, 1000), 1000);
	tp_poll();
	tp_clear();
	pc_tx_seq(&c, F_ACK, b, pbytes(0, 1500), 1500); /* 1000..1500 again */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 2000);
	assert_int_equal(a->o.nsack, 1);
	expect_sack(a, 0, b + 1000, b + 1500);
	assert_int_equal(STAT(tcp_dsack_tx), 1);
	assert_int_equal(app_read_check(c.f, 0), 2000);
	tp_down();
}

/* RFC 2883 §4 (1) with RFC 793's sequence space: a retransmitted FIN, the FIN already taken
 * (its ACK lost), is a duplicate of one sequence number: the ACK that answers it D-SACKs
 * [FIN, FIN + 1), as Linux does (the FIN counted in end_seq). */
static void test_established_dsack_duplicate_fin(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	pc_send(&c, F_ACK, pbytes(0, 1000), 1000);
	pc_send(&c, F_ACK | F_FIN, NULL, 0);
	tp_run(50 * MS);
	tp_clear();
	pc_tx_seq(&c, F_ACK | F_FIN, b + 1000, NULL, 0); /* the FIN again */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 1001);
	assert_true(a->o.nsack >= 1);
	expect_sack(a, 0, b + 1000, b + 1001);
	assert_int_equal(STAT(tcp_dsack_tx), 1);
	tp_down();
}

/* The same for a retransmission of the last data and the FIN together: the block covers both. */
static void test_established_dsack_duplicate_data_and_fin(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t b = c.snd_nxt;
	pc_send(&c, F_ACK, pbytes(0, 1000), 1000);
	pc_send(&c, F_ACK | F_FIN, pbytes(1000, 500), 500);
	tp_run(50 * MS);
	tp_clear();
	pc_tx_seq(&c, F_ACK | F_FIN, b + 1000, pbytes(1000, 500), 500); /* again */
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 1501);
	expect_sack(a, 0, b + 1000, b + 1501);
	assert_int_equal(STAT(tcp_dsack_tx), 1);
	assert_int_equal(app_read_check(c.f, 0), 1500);
	tp_down();
}

/* ======================================================================================== */
/* Sender: scoreboard, RACK, TLP, PRR (RFC 6675, RFC 8985, RFC 6937)                        */
/* ======================================================================================== */

struct lose_set {
	uint32_t s0;
	unsigned n;
	unsigned idx[8]; /* first transmissions of these segments (s0 + idx·1460) are lost */
};

static bool lose_set_first(struct path *p, const struct seg *s, unsigned nth)
{
	const struct lose_set *l = p->arg;
	if (nth)
		return false;
	for (unsigned i = 0; i < l->n; i++)
		if (s->seq == l->s0 + l->idx[i] * 1460)
			return true;
	return false;
}

/* RFC 6675 §5 / RFC 2018 §1: the sender retransmits the holes and never the segments the
 * peer has SACKed. Two of thirty segments are lost once: each is retransmitted once, every
 * other segment is sent exactly once, no RTO. */
static void test_established_sack_retransmits_only_holes(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, false);
	uint32_t s0 = c.rcv_nxt;
	struct path *p = path_new(&c, 10 * MS, 0);
	/* One segment through the path first, so that the RTT estimate knows its 10 ms: a tail
	 * loss probe timed by the handshake's instant RTT alone would resend the last segment
	 * before any ACK could return (the probe is a retransmission, docs/architecture.md). */
	app_write(c.f, 0, 1460, false);
	path_run(p, 100 * MS, 1 * MS);
	assert_int_equal(c.rcv_nxt, s0 + 1460);
	s0 += 1460;
	struct lose_set l = {s0, 2, {2, 5}};
	p->lose = lose_set_first;
	p->arg = &l;
	app_write(c.f, 1460, 30 * 1460, false);
	path_run(p, 3 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, s0 + 30 * 1460);
	for (unsigned k = 0; k < 30; k++) {
		unsigned n = path_tx_count(p, s0 + k * 1460);
		unsigned want = (k == 2 || k == 5) ? 2 : 1;
		if (n != want)
			print_message("segment %u sent %u times (want %u)\n", k, n, want);
		assert_int_equal(n, want);
	}
	assert_int_equal(STAT(tcp_rto_expired), 0);
	assert_true(STAT(tcp_sack_rx) >= 1);
	path_free(p);
	tp_down();
}

/* RFC 8985 §6.2: a segment is lost when one sent after it was delivered and RACK.rtt +
 * RACK.reo_wnd has passed since it was sent; with one SACKed segment above the hole and no
 * reordering seen yet, reo_wnd = min_RTT / 4 (§6.2 step 4), so the hole is retransmitted by
 * the reordering timer about min_RTT / 4 after the SACK arrives — well before the RTO and
 * before a TLP (2·SRTT). */
static void test_established_rack_one_sacked_waits_reo_wnd(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint32_t s = c.rcv_nxt;
	app_write(c.f, 10000, 2 * 1460, true);
	tp_poll();
	assert_int_equal(expect(F_ACK)->seq, s);
	assert_int_equal(expect(F_ACK)->seq, s + 1460);
	tp_run(40 * MS);
	expect_none();
	/* The first is lost, the second SACKed. */
	struct sl_tcp_sack blk = {s + 1460, s + 2920};
	peer_sack(&c, 1, &blk);
	uint64_t t_ack = T.now;
	tp_poll();
	struct seg *r = find_data(s);
	if (r)
		print_message("hole retransmitted on the first SACK (reo_wnd 0 with one SACKed "
			      "segment and no recovery)\n");
	assert_null(r);
	tp_run(60 * MS);
	r = find_data(s);
	assert_non_null(r);
	uint64_t d = r->t - t_ack;
	print_message("retransmitted %.1f ms after the SACK (min_rtt/4 = 10 ms)\n",
		      (double)d / 1e6);
	assert_true(d >= 5 * MS && d <= 20 * MS);
	assert_true(STAT(tcp_rack_lost) >= 1);
	assert_int_equal(STAT(tcp_recoveries), 1);
	assert_int_equal(STAT(tcp_rto_expired), 0);
	assert_int_equal(STAT(tcp_tlp_probes), 0);
	tp_down();
}

/* RFC 8985 §6.2 step 4: with no reordering seen and three or more segments SACKed above the
 * hole (DupThresh), reo_wnd = 0: the hole is lost on that ACK and retransmitted at once. */
static void test_established_rack_three_sacked_retransmits_at_once(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint32_t s = c.rcv_nxt;
	app_write(c.f, 10000, 4 * 1460, true);
	tp_poll();
	tp_run(40 * MS);
	tp_clear();
	struct sl_tcp_sack blk = {s + 1460, s + 4 * 1460};
	peer_sack(&c, 1, &blk);
	uint64_t t_ack = T.now;
	tp_run(1 * MS);
	struct seg *r = find_data(s);
	if (!r)
		print_message(
		    "three SACKed segments above the hole: no retransmission within 1 ms\n");
	assert_non_null(r);
	assert_true(r->t - t_ack <= 1 * MS);
	assert_true(STAT(tcp_rack_lost) >= 1);
	assert_int_equal(STAT(tcp_recoveries), 1);
	/* Only the hole. */
	for (unsigned i = T.qh; i < T.qt; i++)
		if (T.q[i].dlen)
			assert_int_equal(T.q[i].seq, s);
	tp_down();
}

/* With RTO far away (rto_min 1 s) to see the TLP alone. */
static struct sl_stack_config tlp_cfg(void)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_rto_min_ns = 1 * SEC;
	return cfg;
}

/* The probe timeout before WCDelAckT: 2·SRTT (RFC 8985 §7.2), or SRTT + 4·RTTVAR when that is
 * longer (sluice's probe is a retransmission, docs/architecture.md). */
static uint64_t pto_of(struct sl_tcp_flow *f)
{
	struct sl_tcp_info i = info_of(f);
	uint64_t a = 2 * i.srtt_us * US, b = (i.srtt_us + 4 * i.rttvar_us) * US;
	return a > b ? a : b;
}

/* The first segment with data sent at or after t (NULL: none). */
static struct seg *first_data_after(uint64_t t)
{
	for (unsigned i = T.qh; i < T.qt; i++)
		if (T.q[i].dlen && T.q[i].t >= t)
			return &T.q[i];
	return NULL;
}

/* RFC 8985 §7.2–7.3: data in flight and no ACK: a probe after PTO = 2·SRTT. sluice probes
 * with the last segment sent even when new data could go (a departure from §7.3, in
 * docs/architecture.md: a receiver must answer a duplicate at once, RFC 5681 §4.2, but may
 * delay its ACK for new data). A probe that draws no ACK at all is followed by one more
 * after twice the timeout (also a departure: one lost probe or its lost answer would
 * otherwise cost a whole RTO); if nothing comes back still, the RTO fires next. */
static void test_established_tlp_sends_last_segment_then_rto(void **state)
{
	struct sl_stack_config cfg = tlp_cfg();
	tp_up(&cfg);
	struct pc c;
	c.win = 65535;
	open_rtt(&c, 40000, 40 * MS, true, false, 7);
	uint64_t pto = pto_of(c.f);
	uint32_t s = c.rcv_nxt;
	app_write(c.f, 10000, 60 * 1460, false);
	tp_poll();
	uint64_t t0 = T.now;
	uint32_t high = s;
	unsigned n0 = 0;
	struct seg *x;
	while ((x = tp_pop()) != NULL) {
		assert_int_equal(x->seq, high);
		high += x->dlen;
		n0++;
	}
	assert_true(n0 >= 2);
	assert_true(seq_lt(high, s + 60 * 1460)); /* cwnd-limited: new data remains */
	tp_run(3 * SEC);
	struct seg *p = first_data_after(t0 + 1);
	assert_non_null(p);
	print_message("probe %.1f ms after the flight (PTO = %.1f ms): seq +%u\n",
		      (double)(p->t - t0) / 1e6, (double)pto / 1e6, p->seq - s);
	assert_true(p->t - t0 + 2 * MS >= pto && p->t - t0 <= pto + 2 * MS);
	assert_int_equal(p->seq + p->dlen, high); /* the last segment again */
	assert_true(p->dlen > 0);
	/* No ACK: the second probe, the same segment, twice the timeout later. */
	struct seg *p2 = first_data_after(p->t + 1);
	assert_non_null(p2);
	assert_int_equal(p2->seq, p->seq);
	assert_true(p2->t - p->t + 2 * MS >= 2 * pto && p2->t - p->t <= 2 * pto + 2 * MS);
	/* Nothing else until the RTO, which retransmits the first segment. */
	struct seg *q = first_data_after(p2->t + 1);
	assert_non_null(q);
	assert_int_equal(q->seq, s);
	assert_true(q->t - t0 + 1 * MS >= 1 * SEC);
	assert_int_equal(STAT(tcp_tlp_probes), 2);
	assert_true(STAT(tcp_rto_expired) >= 1);
	tp_down();
}

/* RFC 8985 §7.3: no new data to send: the probe retransmits the last segment sent. */
static void test_established_tlp_retransmits_last_segment(void **state)
{
	struct sl_stack_config cfg = tlp_cfg();
	tp_up(&cfg);
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint64_t pto = pto_of(c.f);
	uint32_t s = c.rcv_nxt;
	app_write(c.f, 10000, 3 * 1460, true);
	tp_poll();
	uint64_t t0 = T.now;
	tp_clear();
	tp_run(500 * MS);
	struct seg *p = first_data_after(t0 + 1);
	assert_non_null(p);
	assert_true(p->t - t0 + 2 * MS >= pto && p->t - t0 <= pto + 2 * MS);
	assert_int_equal(p->seq, s + 2 * 1460);
	assert_int_equal(p->dlen, 1460);
	assert_int_equal(STAT(tcp_tlp_probes), 2); /* the second, unanswered as well */
	struct seg *p2 = first_data_after(p->t + 1);
	assert_non_null(p2);
	assert_int_equal(p2->seq, p->seq);
	tp_down();
}

/* RFC 8985 §7.3: new data waits but the peer's window does not allow it: the probe is the
 * last segment again. */
static void test_established_tlp_window_closed_retransmits_last(void **state)
{
	struct sl_stack_config cfg = tlp_cfg();
	tp_up(&cfg);
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint32_t s = c.rcv_nxt;
	c.win = 3 * 1460;
	pc_send(&c, F_ACK, NULL, 0); /* the window shrinks to three segments (at SND.UNA) */
	tp_clear();
	app_write(c.f, 10000, 20 * 1460, false);
	tp_poll();
	uint64_t t0 = T.now;
	unsigned n = 0;
	struct seg *x;
	while ((x = tp_pop()) != NULL)
		n += x->dlen > 0;
	assert_int_equal(n, 3);
	tp_run(500 * MS);
	struct seg *p = first_data_after(t0 + 1);
	assert_non_null(p);
	assert_int_equal(p->seq, s + 2 * 1460);
	assert_int_equal(STAT(tcp_tlp_probes), 2); /* the second, unanswered as well */
	tp_down();
}

/* RFC 8985 §7.2: with one segment in flight PTO = 2·SRTT + WCDelAckT (200 ms), for the
 * peer's delayed ACK. */
static void test_established_tlp_single_segment_adds_delack(void **state)
{
	struct sl_stack_config cfg = tlp_cfg();
	tp_up(&cfg);
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint64_t pto = pto_of(c.f);
	uint32_t s = c.rcv_nxt;
	app_write(c.f, 10000, 1000, true);
	tp_poll();
	uint64_t t0 = T.now;
	tp_clear();
	tp_run(900 * MS);
	struct seg *p = first_data_after(t0 + 1);
	assert_non_null(p);
	uint64_t want = pto + 200 * MS;
	print_message("single-segment probe after %.1f ms (want %.1f)\n", (double)(p->t - t0) / 1e6,
		      (double)want / 1e6);
	assert_true(p->t - t0 + 2 * MS >= want && p->t - t0 <= want + 2 * MS);
	assert_int_equal(p->seq, s);
	assert_int_equal(STAT(tcp_tlp_probes), 2); /* the second, 2·(PTO + WCDelAckT) later */
	struct seg *p2 = first_data_after(p->t + 1);
	assert_non_null(p2);
	assert_true(p2->t - p->t + 2 * MS >= 2 * want && p2->t - p->t <= 2 * want + 2 * MS);
	tp_down();
}

/* RFC 8985 §7.2: "If the RTO is earlier than the computed PTO, the TLP is scheduled at the
 * RTO time instead": the probe never comes later than the RTO would have fired. */
static void test_established_tlp_never_after_rto(void **state)
{
	tp_up(NULL); /* rto_min 200 ms: RTO 200 ms < 2·SRTT + 200 ms */
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint64_t rto = info_of(c.f).rto_us * US;
	app_write(c.f, 10000, 1000, true);
	tp_poll();
	uint64_t t0 = T.now;
	tp_clear();
	tp_run(900 * MS);
	struct seg *p = first_data_after(t0 + 1);
	assert_non_null(p);
	if (p->t - t0 > rto + 1 * MS)
		print_message("first retransmission %.1f ms after sending; RTO %.1f ms\n",
			      (double)(p->t - t0) / 1e6, (double)rto / 1e6);
	assert_true(p->t - t0 <= rto + 1 * MS);
	tp_down();
}

/* --- the tail loss probe in fast recovery, and the second probe (docs/architecture.md,
 * "Departures from the RFCs, measured") ------------------------------------------------- */

/* A SACK connection over a path of 20 ms one way with a 1 ms bottleneck (the peer's ACKs
 * come back spaced the way a real receiver's would), with one segment through it first so
 * that SRTT knows the path (a probe timed by the handshake's instant RTT alone would fire
 * before any ACK could return). Returns the path; the next segment the stack sends starts
 * at c->rcv_nxt. */
static struct path *tlp_path(struct pc *c)
{
	c->win = 65535;
	open_passive_ext(c, 80, 40000, 1460, 7, true, false);
	tp_clear();
	struct path *p = path_new(c, 20 * MS, 1 * MS);
	app_write(c->f, 0, 1460, false);
	path_run(p, 100 * MS, 1 * MS);
	assert_int_equal(c->rcv_nxt, p->log[0].seq + 1460);
	return p;
}

/* Sequence number of segment k of a flight of 1460-byte segments from s0. */
static uint32_t seg_at(uint32_t s0, unsigned k)
{
	return s0 + k * 1460;
}

/* The end of the highest segment the stack has sent on the path. */
static uint32_t path_high(const struct path *p)
{
	uint32_t hi = p->log[0].seq;
	for (unsigned i = 0; i < p->nlog; i++)
		if (seq_gt(p->log[i].seq + p->log[i].dlen, hi))
			hi = p->log[i].seq + p->log[i].dlen;
	return hi;
}

/* The first segment with data the stack sent after time t (NULL: none). */
static const struct seg *path_first_after(const struct path *p, uint64_t t)
{
	for (unsigned i = 0; i < p->nlog; i++)
		if (p->log[i].t > t && p->log[i].dlen > 0)
			return &p->log[i];
	return NULL;
}

/* Transmissions lost: of segment seq[j], every one while nth < upto[j]. */
struct lose_tx {
	unsigned n;
	uint32_t seq[4];
	unsigned upto[4];
};

static bool lose_tx_first_n(struct path *p, const struct seg *s, unsigned nth)
{
	const struct lose_tx *l = p->arg;
	for (unsigned j = 0; j < l->n; j++)
		if (s->seq == l->seq[j] && nth < l->upto[j])
			return true;
	return false;
}

/* RFC 8985 §7.2 arms the loss probe only outside fast recovery; sluice arms it in recovery
 * too, and there, when a segment is marked lost but PRR (RFC 6937 §3) left no room to send
 * it, the probe is that segment — the first one lost — rather than the last segment sent
 * (docs/architecture.md, departures: "A probe may also go during fast recovery").
 *
 * The setup, from the RFCs: NewReno halves the window (RFC 5681 §3.1, ssthresh =
 * FlightSize / 2), so while pipe > ssthresh PRR allows sndcnt = ceil(prr_delivered ·
 * ssthresh / RecoverFS) − prr_out, about one segment per two delivered (RFC 6937 §3). Of a
 * flight of 60 segments the first transmissions of 12, 24 and 25 are lost. Three SACKed
 * segments above 12 start recovery (RFC 8985 §6.2 step 4: reo_wnd = 0) and 12 goes at once.
 * When 26 is SACKed, RACK marks 24 and 25 lost together (in recovery reo_wnd = 0, both were
 * sent before 26), and that ACK allows at most one segment: at least 25 is left marked lost
 * and not sent. The peer falls silent right after that ACK (its ACKs are lost; it still
 * takes the data), so the ACK clock stops with a known hole.
 *
 * Then the probe: one probe timeout after that last ACK, a retransmission of the first
 * segment still marked lost (not the last segment), counted in tcp_tlp_probes; and with the
 * peer answering again the transfer completes without any RTO.
 *
 * It fails without the behaviour: without a probe in recovery nothing at all is sent until
 * the RTO, 200 ms after the last cumulative ACK (185 ms after the last ACK here, where the
 * probe timeout is 48 ms), and that resends segment 12, the first unacknowledged one; with a
 * probe in recovery that always resends the last segment, the probe is segment 38, not the
 * lost 25. (Both seen by disabling each in tcp_recovery.c / tcp_output.c.) */
static void test_established_tlp_in_recovery_repairs_lost_segment(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_cc = "newreno";
	cfg.tcp_sndbuf = 1u << 20;
	tp_up(&cfg);
	struct pc c;
	struct path *p = tlp_path(&c);
	uint32_t s0 = c.rcv_nxt;
	struct lose_set l = {s0, 3, {12, 24, 25}};
	p->lose = lose_set_first;
	p->arg = &l;
	app_write(c.f, 1460, 60 * 1460, false);
	/* In steps shorter than the 1 ms bottleneck: at most one ACK per step. Until an ACK in
	 * recovery leaves a segment marked lost and not sent. */
	uint64_t end = T.now + 2 * SEC;
	struct sl_tcp_info i = info_of(c.f);
	while (!(STAT(tcp_recoveries) == 1 && path_tx_count(p, seg_at(s0, 12)) == 2 && i.lost)) {
		if (T.now >= end || c.rcv_nxt == seg_at(s0, 60)) {
			print_message("setup: no ACK in recovery left a lost segment unsent\n");
			fail();
		}
		path_run(p, 100 * US, 100 * US);
		i = info_of(c.f);
	}
	/* The first segment marked lost and not yet sent again: 24, or 25 if that ACK's room
	 * took 24. */
	unsigned k = path_tx_count(p, seg_at(s0, 24)) == 1 ? 24 : 25;
	assert_int_equal(path_tx_count(p, seg_at(s0, 25)), 1);
	assert_int_equal(i.lost, (26 - k) * 1460);
	assert_true(i.cwnd <= i.pipe); /* PRR: no room */
	uint32_t high = path_high(p);
	assert_true(seq_lt(seg_at(s0, k + 1), high)); /* the first lost is not the last segment */
	assert_int_equal(STAT(tcp_tlp_probes), 0);
	assert_int_equal(STAT(tcp_rto_expired), 0);
	/* The peer falls silent. */
	p->mute = true;
	uint64_t t_last = T.now;
	uint64_t pto = pto_of(c.f);
	uint64_t rto = info_of(c.f).rto_us * US;
	while (!path_data_after(p, t_last) && T.now < t_last + 2 * SEC)
		path_run(p, 100 * US, 100 * US);
	const struct seg *pr = path_first_after(p, t_last);
	assert_non_null(pr);
	print_message("probe %.1f ms after the last ACK (PTO %.1f ms, RTO %.1f ms): segment %d "
		      "(first lost %u, last %u)\n",
		      (double)(pr->t - t_last) / 1e6, (double)pto / 1e6, (double)rto / 1e6,
		      (int)(pr->seq - s0) / 1460, k, (high - s0) / 1460 - 1);
	assert_true(pr->t - t_last + 2 * MS >= pto && pr->t - t_last <= pto + 2 * MS);
	assert_int_equal(pr->seq, seg_at(s0, k));
	assert_int_equal(pr->dlen, 1460);
	assert_int_equal(STAT(tcp_tlp_probes), 1);
	assert_int_equal(STAT(tcp_rto_expired), 0);
	assert_int_equal(STAT(tcp_recoveries), 1); /* still the same recovery */
	/* The peer answers again (the probe is still on its way): the transfer completes. */
	p->mute = false;
	path_run(p, 3 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, seg_at(s0, 60));
	assert_int_equal(STAT(tcp_rto_expired), 0);
	assert_int_equal(STAT(tcp_recoveries), 1);
	path_free(p);
	tp_down();
}

/* docs/architecture.md, departures ("A probe may also go during fast recovery"; RFC 8985
 * §7.2 arms it only outside): in fast recovery with nothing left marked lost, the probe is
 * the last segment sent (RFC 8985 §7.3, as outside recovery). Of 60 segments the first
 * transmission of 12 is lost; recovery starts when three segments above it are SACKed, 12
 * is retransmitted at once, and right after that ACK the peer falls silent: its ACKs are
 * lost, so the stack learns nothing more, neither of the retransmission nor of the segments
 * still in flight, and stays in recovery with the hole open. One probe timeout after that
 * ACK: the last segment again; with the peer answering again, no RTO.
 *
 * It fails without the behaviour: with the probe armed only outside recovery nothing is
 * sent after the last ACK until the RTO, 200 ms after the last cumulative ACK (196 ms after
 * the last ACK here, where the probe timeout is 48 ms), and that resends segment 12, not the
 * last one (seen by disabling the probe in recovery in tcp_recovery.c). */
static void test_established_tlp_in_recovery_last_segment(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_cc = "newreno";
	cfg.tcp_sndbuf = 1u << 20;
	tp_up(&cfg);
	struct pc c;
	struct path *p = tlp_path(&c);
	uint32_t s0 = c.rcv_nxt;
	struct lose_set l = {s0, 1, {12}};
	p->lose = lose_set_first;
	p->arg = &l;
	app_write(c.f, 1460, 60 * 1460, false);
	uint64_t end = T.now + 2 * SEC;
	while (!(STAT(tcp_recoveries) == 1 && path_tx_count(p, seg_at(s0, 12)) == 2)) {
		if (T.now >= end || c.rcv_nxt == seg_at(s0, 60)) {
			print_message("setup: no fast retransmission of segment 12\n");
			fail();
		}
		path_run(p, 100 * US, 100 * US);
	}
	struct sl_tcp_info i = info_of(c.f);
	/* Nothing left marked lost; the hole is open (in recovery) and the retransmission has
	 * not arrived yet. */
	assert_int_equal(i.lost, 0);
	assert_true(i.sacked > 0);
	assert_int_equal(c.rcv_nxt, seg_at(s0, 12));
	uint32_t high = path_high(p);
	assert_true(seq_gt(high, seg_at(s0, 13)));
	assert_int_equal(STAT(tcp_tlp_probes), 0);
	p->mute = true;
	uint64_t t_last = T.now;
	uint64_t pto = pto_of(c.f);
	while (!path_data_after(p, t_last) && T.now < t_last + 2 * SEC)
		path_run(p, 100 * US, 100 * US);
	const struct seg *pr = path_first_after(p, t_last);
	assert_non_null(pr);
	print_message("probe %.1f ms after the last ACK (PTO %.1f ms): segment %d (last %u)\n",
		      (double)(pr->t - t_last) / 1e6, (double)pto / 1e6, (int)(pr->seq - s0) / 1460,
		      (high - s0) / 1460 - 1);
	assert_true(pr->t - t_last + 2 * MS >= pto && pr->t - t_last <= pto + 2 * MS);
	assert_int_equal(pr->seq + pr->dlen, high); /* the last segment */
	assert_int_equal(pr->dlen, 1460);
	assert_int_equal(STAT(tcp_tlp_probes), 1);
	assert_int_equal(STAT(tcp_rto_expired), 0);
	p->mute = false;
	path_run(p, 3 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, seg_at(s0, 60));
	assert_int_equal(STAT(tcp_rto_expired), 0);
	assert_int_equal(STAT(tcp_recoveries), 1);
	path_free(p);
	tp_down();
}

/* docs/architecture.md, departures ("A second probe, twice the probe timeout after the
 * first, when the first drew no ACK at all; only then the RTO"; RFC 8985 §7 sends one probe,
 * then the RTO). A flight of 20 segments whose last two are lost (a tail loss: nothing after
 * them can be SACKed; two, so that the probe timeout is not lengthened by WCDelAckT, RFC 8985
 * §7.2, past the RTO), and so is the first probe, a retransmission of the last segment: no
 * ACK comes back at all. The second probe, twice the probe timeout after the first, reaches
 * the peer; its SACK shows the other hole, which RACK repairs (RFC 8985 §6.2), and no RTO
 * fires. With the default RTO minimum (200 ms), twice the probe timeout (2 × 43 ms here) is
 * shorter than the RTO, so the second probe is due before the RTO would be.
 *
 * It fails without the behaviour: with one probe only, the RTO (restarted by the probe,
 * RFC 8985 §7.3) fires 200 ms after the first probe and resends 18, the first unacknowledged
 * segment; 19 goes again only 20 ms later, when 18's ACK returns — 220 ms after the first
 * probe, not 86 — and tcp_rto_expired is 1. A second probe that did not back off would come
 * one probe timeout after the first, not two. (Both seen by changing TLP_MAX_UNANSWERED to 1
 * and dropping the back-off in tcp_recovery.c.) */
static void test_established_tlp_second_probe_answered(void **state)
{
	tp_up(NULL);
	struct pc c;
	struct path *p = tlp_path(&c);
	uint32_t s0 = c.rcv_nxt;
	/* 18 once; 19 twice: the original and the first probe. */
	struct lose_tx l = {2, {seg_at(s0, 18), seg_at(s0, 19)}, {1, 2}};
	p->lose = lose_tx_first_n;
	p->arg = &l;
	app_write(c.f, 1460, 20 * 1460, false);
	/* Until the last ACK, the one for segment 17. */
	uint64_t end = T.now + 2 * SEC;
	while (p->last_ack != seg_at(s0, 18)) {
		assert_true(T.now < end);
		path_run(p, 100 * US, 100 * US);
	}
	uint64_t t_last = T.now;
	uint64_t pto = pto_of(c.f);
	uint64_t rto = info_of(c.f).rto_us * US;
	assert_true(2 * pto + 2 * MS < rto);
	assert_int_equal(STAT(tcp_tlp_probes), 0);
	path_run(p, 3 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, seg_at(s0, 20));
	const struct seg *tx[3];
	unsigned n = 0;
	for (unsigned j = 0; j < p->nlog; j++)
		if (p->log[j].dlen && p->log[j].seq == seg_at(s0, 19) && n < 3)
			tx[n++] = &p->log[j];
	assert_int_equal(path_tx_count(p, seg_at(s0, 19)), 3);
	print_message("PTO %.1f ms, RTO %.1f ms: first probe %.1f ms after the last ACK, second "
		      "%.1f ms after the first\n",
		      (double)pto / 1e6, (double)rto / 1e6, (double)(tx[1]->t - t_last) / 1e6,
		      (double)(tx[2]->t - tx[1]->t) / 1e6);
	assert_true(tx[1]->t - t_last + 2 * MS >= pto && tx[1]->t - t_last <= pto + 2 * MS);
	assert_true(tx[2]->t - tx[1]->t + 2 * MS >= 2 * pto &&
		    tx[2]->t - tx[1]->t <= 2 * pto + 2 * MS);
	/* The two probes, and 18 once the second probe's SACK showed it lost. */
	assert_int_equal(path_tx_count(p, seg_at(s0, 18)), 2);
	const struct seg *r18 = NULL;
	for (unsigned j = 0; j < p->nlog; j++)
		if (p->log[j].dlen && p->log[j].seq == seg_at(s0, 18) && p->log[j].t > t_last)
			r18 = &p->log[j];
	assert_non_null(r18);
	assert_true(r18->t > tx[2]->t);
	assert_int_equal(path_data_after(p, t_last), 3);
	assert_int_equal(STAT(tcp_tlp_probes), 2);
	assert_int_equal(STAT(tcp_rto_expired), 0);
	path_free(p);
	tp_down();
}

/* RFC 6937 §3: during recovery, while pipe > ssthresh, PRR sends
 * sndcnt = ceil(prr_delivered · ssthresh / RecoverFS) − prr_out: with NewReno's ssthresh of
 * FlightSize / 2, about one segment per two delivered, spread over the recovery (not in a
 * burst at either end); at the end of recovery cwnd = ssthresh (§3, "On any ACK ... if
 * recovery ends, cwnd = ssthresh"). */
static void test_established_prr_paces_recovery(void **state)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_cc = "newreno";
	cfg.tcp_sndbuf = 1u << 20;
	tp_up(&cfg);
	struct pc c;
	c.win = 65535;
	open_passive_ext(&c, 80, 40000, 1460, 7, true, false);
	tp_clear();
	uint32_t s0 = c.rcv_nxt;
	struct path *p = path_new(&c, 20 * MS, 1 * MS);
	struct lose_set l = {s0, 1, {150}};
	p->lose = lose_set_first;
	p->arg = &l;
	app_write(c.f, 0, 600 * 1460, false);
	/* Until recovery starts. */
	uint64_t end = T.now + 10 * SEC;
	while (T.now < end && STAT(tcp_recoveries) == 0)
		path_run(p, 1 * MS, 1 * MS);
	assert_int_equal(STAT(tcp_recoveries), 1);
	uint64_t tr = T.now;
	unsigned acks0 = p->acks;
	uint32_t rp = s0; /* recovery point: the highest byte sent when recovery began */
	for (unsigned i = 0; i < p->nlog; i++)
		if (seq_gt(p->log[i].seq + p->log[i].dlen, rp))
			rp = p->log[i].seq + p->log[i].dlen;
	struct sl_tcp_info i0 = info_of(c.f);
	/* Until the cumulative ACK passes the recovery point, noting (ACKs, segments sent) as
	 * the recovery goes on. */
	static unsigned prog_acks[20000], prog_sent[20000];
	unsigned np = 0;
	while (T.now < end && seq_lt(c.rcv_nxt, rp) && np < 20000) {
		path_run(p, 1 * MS, 1 * MS);
		prog_acks[np] = p->acks - acks0;
		prog_sent[np] = path_data_after(p, tr);
		np++;
	}
	assert_true(seq_geq(c.rcv_nxt, rp));
	tp_poll();
	struct sl_tcp_info i1 = info_of(c.f);
	unsigned delivered = p->acks - acks0;
	unsigned sent = path_data_after(p, tr);
	unsigned half_acks = 0, half_sent = 0;
	for (unsigned k = 0; k < np; k++)
		if (2 * prog_acks[k] >= delivered) {
			half_acks = prog_acks[k];
			half_sent = prog_sent[k];
			break;
		}
	print_message("recovery: flight %u segs, ssthresh %u, delivered %u, sent %u (first half: "
		      "%u of %u); cwnd at end %u, ssthresh %u\n",
		      (rp - s0) / 1460 - 150, i0.ssthresh / 1460, delivered, sent, half_sent,
		      half_acks, i1.cwnd, i1.ssthresh);
	assert_true(delivered >= 20);
	assert_true(10 * sent >= 3 * delivered && 10 * sent <= 7 * delivered);
	assert_true(half_acks > 0);
	assert_true(10 * half_sent >= 3 * half_acks); /* not held back to the end */
	assert_true(i1.cwnd + 1460 >= i1.ssthresh && i1.cwnd <= i1.ssthresh + 1460);
	path_run(p, 10 * SEC, 1 * MS);
	assert_int_equal(c.rcv_nxt, s0 + 600 * 1460);
	path_free(p);
	tp_down();
}

/* ======================================================================================== */
/* Timestamps and PAWS (RFC 7323 §3–5)                                                      */
/* ======================================================================================== */

/* RFC 7323 §3.2: "Once TSopt has been successfully negotiated ... the TSopt MUST be sent in
 * every non-<RST> segment"; §5.4: TSval from a clock of 1 ms .. 1 s per tick (here ~1 ms) that
 * never goes backwards. */
static void test_established_ts_on_every_segment_monotonic(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, true);
	struct path *p = path_new(&c, 5 * MS, 0);
	app_write(c.f, 0, 40000, false);
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 3000), 1000);
	path_run(p, 2 * SEC, 1 * MS);
	sl_tcp_shutdown(c.f, SL_SHUT_WR);
	path_run(p, 1 * SEC, 1 * MS);
	assert_true(p->nlog >= 20);
	for (unsigned i = 0; i < p->nlog; i++) {
		const struct seg *s = &p->log[i];
		if (s->flags & F_RST)
			continue;
		if (!s->o.has_ts)
			print_seg("without TSopt", s);
		assert_true(s->o.has_ts);
		if (i)
			assert_true(seq_geq(s->o.ts_val, p->log[i - 1].o.ts_val));
	}
	/* About one tick per millisecond. */
	const struct seg *a = &p->log[0], *z = &p->log[p->nlog - 1];
	uint64_t ms = (z->t - a->t) / MS;
	uint32_t ticks = z->o.ts_val - a->o.ts_val;
	print_message("%u ticks in %llu ms\n", ticks, (unsigned long long)ms);
	assert_true(ms >= 100);
	assert_true(ticks + 2 >= ms && ticks <= ms + 2);
	path_free(p);
	tp_down();
}

/* RFC 7323 §5.4 / RFC 9293 §3.4.1 spirit: a random offset per connection, so TSvals do not
 * reveal the stack's uptime and two connections opened at once start at different values. */
static void test_listen_ts_random_offset_per_connection(void **state)
{
	tp_up(NULL);
	struct pc c, d;
	open_passive_with(&c, 40000, false, true);
	open_passive_with(&d, 40001, false, true);
	uint32_t a = stack_ts_val(80, 40000), b = stack_ts_val(80, 40001);
	print_message("first TSvals %u and %u\n", a, b);
	assert_int_not_equal(a, b);
	tp_down();
}

/* RFC 7323 §4.3 (1), case (A): with delayed ACKs, TS.Recent is updated only when SEG.SEQ ≤
 * Last.ACK.sent, so the ACK of two segments echoes the TSval of the first. */
static void test_established_ts_recent_delayed_ack_echoes_first(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, false, true);
	tp_run(10 * MS);
	uint32_t t1 = pc_ts_val(&c);
	pc_send(&c, F_ACK, pbytes(0, 1460), 1460);
	expect_none(); /* delayed */
	tp_run(5 * MS);
	uint32_t t2 = pc_ts_val(&c);
	assert_int_not_equal(t1, t2);
	pc_send(&c, F_ACK, pbytes(1460, 1460), 1460);
	tp_run(50 * MS);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, c.snd_nxt);
	assert_true(a->o.has_ts);
	if (a->o.ts_ecr != t1)
		print_message("TSecr %u; first segment's TSval %u, second's %u\n", a->o.ts_ecr, t1,
			      t2);
	assert_int_equal(a->o.ts_ecr, t1);
	tp_down();
}

/* RFC 7323 §4.3 case (C): an out-of-order segment (SEG.SEQ > Last.ACK.sent) does not update
 * TS.Recent — its duplicate ACK echoes the last in-order TSval — while the segment that fills
 * the hole does, and its ACK echoes that segment's TSval. */
static void test_established_ts_recent_out_of_order(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, true);
	uint32_t b = c.snd_nxt;
	tp_run(10 * MS);
	uint32_t t1 = pc_ts_val(&c);
	pc_tx_seq(&c, F_ACK | F_PSH, b, pbytes(0, 100), 100);
	tp_run(50 * MS);
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->o.ts_ecr, t1);
	tp_run(10 * MS);
	tp_clear();
	uint32_t t2 = pc_ts_val(&c);
	pc_tx_seq(&c, F_ACK, b + 1100, pbytes(1100, 1000), 1000); /* beyond a hole */
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 100);
	if (a->o.ts_ecr != t1)
		print_message("dup ACK echoes %u (out-of-order TSval %u, TS.Recent %u)\n",
			      a->o.ts_ecr, t2, t1);
	assert_int_equal(a->o.ts_ecr, t1);
	tp_run(10 * MS);
	tp_clear();
	uint32_t t3 = pc_ts_val(&c);
	pc_tx_seq(&c, F_ACK, b + 100, pbytes(100, 1000), 1000); /* fills it */
	tp_poll();
	a = expect(F_ACK);
	assert_int_equal(a->ack, b + 2100);
	assert_int_equal(a->o.ts_ecr, t3);
	tp_down();
}

/* RFC 7323 §5.3 R1: a non-RST segment with SEG.TSval < TS.Recent is not acceptable: it is
 * dropped and an ACK is sent (counted tcp_paws_rejected). */
static void test_established_paws_drops_old_timestamp(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, true);
	uint32_t b = c.snd_nxt;
	tp_run(100 * MS);
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 100), 100);
	tp_run(50 * MS);
	tp_clear();
	struct pseg old = pc_seg(&c, F_ACK | F_PSH, b + 100, pbytes(100, 100), 100);
	old.ts_val -= 1000; /* an old duplicate from a previous wrap of the sequence space */
	peer_tx(&old);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->ack, b + 100);
	assert_int_equal(STAT(tcp_paws_rejected), 1);
	assert_int_equal(app_read_check(c.f, 0), 100);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), -EAGAIN);
	/* The same data with a current timestamp is taken. */
	c.snd_nxt = b + 100;
	pc_send(&c, F_ACK | F_PSH, pbytes(100, 100), 100);
	assert_int_equal(app_read_check(c.f, 100), 100);
	tp_down();
}

/* RFC 7323 §5.3 / Appendix: an RST is not subject to PAWS (RSTs should not carry timestamps,
 * and are acceptable regardless of one). */
static void test_established_paws_rst_not_subject(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, true);
	tp_run(100 * MS);
	pc_send(&c, F_ACK | F_PSH, pbytes(0, 100), 100);
	tp_run(50 * MS);
	struct pseg rst = pc_seg(&c, F_RST, c.snd_nxt, NULL, 0);
	rst.ts = true;
	rst.ts_val = pc_ts_val(&c) - 1000;
	peer_tx(&rst);
	tp_poll();
	assert_int_equal(closed_reason(c.f), -ECONNRESET);
	assert_int_equal(STAT(tcp_paws_rejected), 0);
	tp_down();
}

/* RFC 7323 §3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently
 * drop the segment" once timestamps were negotiated (counted tcp_ts_missing if stats.h has
 * it); an RST without TSopt is still processed. */
static void test_established_ts_missing_dropped(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_passive_with(&c, 40000, true, true);
	uint64_t d0 = drops();
	int ix = stat_index("tcp_ts_missing");
	uint64_t m0 = ix >= 0 ? sl_stack_stats(T.st)->c[ix] : 0;
	struct pseg s = pc_seg(&c, F_ACK | F_PSH, c.snd_nxt, pbytes(0, 100), 100);
	s.ts = false;
	peer_tx(&s);
	tp_run(50 * MS);
	uint8_t x[4];
	assert_int_equal(sl_tcp_read(c.f, x, sizeof x), -EAGAIN);
	assert_true(drops() > d0); /* shared/DESIGN.md: every drop is counted */
	if (ix >= 0)
		assert_int_equal(sl_stack_stats(T.st)->c[ix], m0 + 1);
	pc_send(&c, F_RST, NULL, 0); /* no TSopt on the RST (pc_seg) */
	assert_int_equal(closed_reason(c.f), -ECONNRESET);
	tp_down();
}

/* ======================================================================================== */
/* Spurious retransmission and undo (RFC 2883 §5, RFC 3708, RFC 5682 / RFC 3522 spirit)      */
/* ======================================================================================== */

/* The first segment of a flight is only late (reordered), not lost: three SACKs start a
 * recovery that retransmits it; the original then arrives, and the retransmission reaches
 * the peer as a duplicate, which it reports with a D-SACK (RFC 2883 §4). Every retransmission
 * of the episode was unnecessary: the congestion response is undone (cwnd and ssthresh
 * back), counted tcp_spurious_rtx and tcp_undo. */
static void test_established_dsack_undoes_spurious_recovery(void **state)
{
	tp_up(NULL);
	struct pc c;
	open_rtt(&c, 40000, 40 * MS, true, false, -1);
	uint32_t s = c.rcv_nxt;
	struct sl_tcp_info before = info_of(c.f);
	app_write(c.f, 10000, 8 * 1460, true);
	tp_poll();
	tp_run(40 * MS);
	tp_clear();
	/* Segments 1..7 arrive before segment 0. */
	for (unsigned k = 1; k <= 3; k++) {
		struct sl_tcp_sack blk = {s + 1460, s + (k + 1) * 1460};
		peer_sack(&c, 1, &blk);
		tp_poll();
	}
	struct seg *r = find_data(s);
	assert_non_null(r); /* the (spurious) fast retransmission */
	struct sl_tcp_info during = info_of(c.f);
	assert_true(during.ssthresh < before.ssthresh || during.cwnd < before.cwnd);
	/* The original 0 arrives: everything is acknowledged. */
	tp_run(1 * MS);
	c.rcv_nxt = s + 8 * 1460;
	pc_send(&c, F_ACK, NULL, 0);
	/* Then the retransmission: a duplicate, reported by D-SACK. */
	tp_run(20 * MS);
	struct sl_tcp_sack dsack = {s, s + 1460};
	peer_sack(&c, 1, &dsack);
	tp_poll();
	struct sl_tcp_info after = info_of(c.f);
	print_message("cwnd %u → %u → %u, ssthresh %u → %u → %u\n", before.cwnd, during.cwnd,
		      after.cwnd, before.ssthresh, during.ssthresh, after.ssthresh);
	assert_true(STAT(tcp_dsack_rx) >= 1);
	assert_true(STAT(tcp_spurious_rtx) >= 1);
	assert_int_equal(STAT(tcp_undo), 1);
	assert_true(after.ssthresh >= before.ssthresh);
	assert_true(after.cwnd >= before.cwnd);
	assert_true(after.spurious_undone >= 1);
	assert_true(after.dsacks_rx >= 1);
	tp_down();
}

/* ======================================================================================== */
/* SYN cookies (RFC 4987 §3.6)                                                              */
/* ======================================================================================== */

static struct sl_stack_config cookie_cfg(uint8_t mode, uint32_t backlog)
{
	struct sl_stack_config cfg = test_cfg();
	cfg.tcp_syncookies = mode;
	cfg.tcp_backlog = backlog;
	return cfg;
}

/* RFC 4987 §3.6: with the backlog full, a SYN is answered with a SYN-ACK whose ISN is a
 * cookie, and no state is kept (nothing is ever retransmitted for it); the ACK of the cookie
 * (ack = cookie + 1) creates the connection and the listener accepts it. The half-open
 * connections already in the backlog are left alone. */
static void test_listen_syncookie_when_backlog_full(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(1, 2);
	tp_up(&cfg);
	listen_on(80);
	struct pc c[3];
	for (int i = 0; i < 3; i++) {
		pc_init(&c[i], 80, (uint16_t)(1001 + i));
		pc_syn(&c[i], 1460, -1);
		struct seg *sa = expect(F_SYN | F_ACK);
		assert_int_equal(sa->ack, PEER_ISS + 1);
		c[i].rcv_nxt = sa->seq + 1;
	}
	assert_int_equal(STAT(tcp_syncookies_sent), 1);
	assert_int_equal(STAT(tcp_backlog_full), 0);
	tp_run(3500 * MS); /* SYN-ACK retransmissions at 1 s and 3 s: only for the backlog */
	struct seg *s;
	unsigned rtx = 0;
	while ((s = tp_pop()) != NULL) {
		assert_true(s->flags & F_SYN);
		if (s->dport == 1003)
			print_seg("SYN-ACK retransmitted for a cookie", s);
		assert_int_not_equal(s->dport, 1003);
		rtx++;
	}
	assert_int_equal(rtx, 4);
	pc_send(&c[2], F_ACK, NULL, 0);
	assert_int_equal(A.nacc, 1);
	assert_state(A.acc[0], "ESTABLISHED");
	assert_int_equal(STAT(tcp_syncookies_ok), 1);
	uint16_t rp;
	sl_tcp_endpoints(A.acc[0], NULL, NULL, NULL, &rp);
	assert_int_equal(rp, 1003);
	pc_send(&c[0], F_ACK, NULL, 0);
	pc_send(&c[1], F_ACK, NULL, 0);
	assert_int_equal(A.nacc, 3);
	/* The cookie connection carries data. */
	pc_send(&c[2], F_ACK | F_PSH, pbytes(0, 100), 100);
	assert_int_equal(app_read_check(A.acc[0], 0), 100);
	expect_none();
	tp_down();
}

/* Open a connection through a cookie (tcp_syncookies 2) with the peer's options; returns the
 * SYN-ACK's options in *sa_o and the flow in c->f. */
static void cookie_open(struct pc *c, uint16_t pport, uint16_t mss, int ws, bool sack, bool ts,
			struct sl_tcp_opts *sa_o)
{
	listen_on(80);
	pc_init(c, 80, pport);
	c->sack_ok = sack;
	c->ts = ts;
	c->ts_off = 0x40000;
	pc_syn(c, mss, ws);
	struct seg *sa = expect(F_SYN | F_ACK);
	*sa_o = sa->o;
	c->rcv_nxt = sa->seq + 1;
	unsigned n = A.nacc;
	pc_send(c, F_ACK, NULL, 0);
	assert_int_equal(A.nacc, n + 1);
	c->f = A.acc[n];
	assert_state(c->f, "ESTABLISHED");
}

/* RFC 4987 §3.6: the cookie encodes the MSS as an index into a small table: the connection's
 * MSS is the largest entry not above the peer's (and never above the peer's MSS). */
static void test_listen_syncookie_mss_from_table(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	tp_up(&cfg);
	const uint16_t peer[] = {1460, 536, 1000, 1400, 9000};
	for (int k = 0; k < 5; k++) {
		struct pc c;
		struct sl_tcp_opts o;
		cookie_open(&c, (uint16_t)(42000 + k), peer[k], -1, false, false, &o);
		uint32_t mss = info_of(c.f).mss;
		print_message("peer MSS %u → %u\n", peer[k], mss);
		assert_true(mss <= peer[k] && mss <= 1460);
		assert_true(mss >= 536 || mss == peer[k]);
		if (peer[k] == 1460 || peer[k] == 536 || peer[k] == 9000)
			assert_int_equal(mss, peer[k] == 9000 ? 1460 : peer[k]);
		/* And what it sends honours it. */
		tp_clear();
		app_write(c.f, 0, 3000, true);
		tp_poll();
		struct seg *s;
		while ((s = tp_pop()) != NULL)
			assert_true(s->dlen <= mss);
	}
	assert_int_equal(STAT(tcp_syncookies_ok), 5);
	tp_down();
}

/* RFC 4987 §3.6 (as Linux does it): when the peer's SYN carried timestamps, the window scale
 * and SACK-permitted it offered are kept in the cookie (in the SYN-ACK's TSval) and are in
 * effect on the connection. */
static void test_listen_syncookie_keeps_ws_sack_with_ts(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	tp_up(&cfg);
	struct pc c;
	struct sl_tcp_opts o;
	cookie_open(&c, 40000, 1460, 7, true, true, &o);
	assert_true(o.has_ts);
	assert_true(o.sack_ok);
	assert_true(o.wscale >= 0);
	struct sl_tcp_info i = info_of(c.f);
	assert_true(i.ts_ok);
	assert_true(i.sack_ok);
	assert_true(i.wscale_ok);
	assert_int_equal(i.snd_wscale, 7);
	assert_int_equal(i.rcv_wscale, o.wscale);
	c.win = 512;
	pc_send(&c, F_ACK, NULL, 0);
	assert_int_equal(info_of(c.f).snd_wnd, 512u << 7);
	/* SACK works: out-of-order data draws a SACK block. */
	tp_clear();
	pc_tx_seq(&c, F_ACK, c.snd_nxt + 1000, pbytes(1000, 100), 100);
	tp_poll();
	struct seg *a = expect(F_ACK);
	assert_int_equal(a->o.nsack, 1);
	assert_true(a->o.has_ts);
	assert_int_equal(STAT(tcp_syncookies_ok), 1);
	tp_down();
}

/* Without timestamps the cookie has no room for them: no window scale and no SACK — and the
 * SYN-ACK must not offer what the connection will not use. */
static void test_listen_syncookie_without_ts_no_ws_no_sack(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	tp_up(&cfg);
	struct pc c;
	struct sl_tcp_opts o;
	cookie_open(&c, 40000, 1460, 7, true, false, &o);
	assert_false(o.has_ts);
	assert_false(o.sack_ok);
	assert_int_equal(o.wscale, -1);
	struct sl_tcp_info i = info_of(c.f);
	assert_false(i.wscale_ok);
	assert_false(i.sack_ok);
	assert_false(i.ts_ok);
	c.win = 512;
	pc_send(&c, F_ACK, NULL, 0);
	assert_int_equal(info_of(c.f).snd_wnd, 512);
	tp_down();
}

/* RFC 4987 §3.6 / RFC 9293 §3.10.7.2: an ACK to the listener that matches no half-open
 * connection and carries a wrong cookie is not accepted (tcp_syncookies_bad) and is answered
 * <SEQ=SEG.ACK><CTL=RST>. */
static void test_listen_syncookie_bad_ack_reset(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	tp_up(&cfg);
	listen_on(80);
	struct pc c;
	pc_init(&c, 80, 40000);
	pc_syn(&c, 1460, -1);
	struct seg *sa = expect(F_SYN | F_ACK);
	c.rcv_nxt = sa->seq + 1 + 12345; /* not the cookie */
	pc_send(&c, F_ACK, NULL, 0);
	struct seg *r = expect(F_RST);
	assert_int_equal(r->seq, c.rcv_nxt);
	assert_int_equal(A.nacc, 0);
	assert_int_equal(STAT(tcp_syncookies_bad), 1);
	assert_int_equal(STAT(tcp_syncookies_ok), 0);
	/* One dropped segment, one counter (include/sluice/stats.h): not tcp_no_conn as well. */
	assert_int_equal(STAT(tcp_no_conn), 0);
	/* The right one still works. */
	c.rcv_nxt = sa->seq + 1;
	pc_send(&c, F_ACK, NULL, 0);
	assert_int_equal(A.nacc, 1);
	tp_down();
}

/* A valid cookie's ACK when the connection table is full (tcp_max_conns): no control block, so
 * the segment is dropped and counted once (tcp_conn_limit), as a SYN is at a full table; it is
 * not reset, since the cookie was good and the client's next segment can still open it. */
static void test_listen_syncookie_table_full(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	cfg.tcp_max_conns = 1;
	tp_up(&cfg);
	listen_on(80);
	struct pc a, b;
	pc_init(&a, 80, 40001);
	pc_syn(&a, 1460, -1);
	a.rcv_nxt = expect(F_SYN | F_ACK)->seq + 1;
	pc_send(&a, F_ACK, NULL, 0);
	assert_int_equal(A.nacc, 1);
	pc_init(&b, 80, 40002);
	pc_syn(&b, 1460, -1);
	b.rcv_nxt = expect(F_SYN | F_ACK)->seq + 1; /* a cookie keeps no state: always answered */
	pc_send(&b, F_ACK, NULL, 0);
	expect_none();
	assert_int_equal(A.nacc, 1);
	assert_int_equal(STAT(tcp_syncookies_ok), 1);
	assert_int_equal(STAT(tcp_syncookies_bad), 0);
	assert_int_equal(STAT(tcp_conn_limit), 1);
	assert_int_equal(STAT(tcp_no_conn), 0);
	tp_down();
}

/* tcp_syncookies = 2: every SYN is answered with a cookie, the backlog stays empty. */
static void test_listen_syncookies_always(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	tp_up(&cfg);
	listen_on(80);
	for (int i = 0; i < 3; i++) {
		struct pc c;
		pc_init(&c, 80, (uint16_t)(2000 + i));
		pc_syn(&c, 1460, -1);
		expect(F_SYN | F_ACK);
	}
	assert_int_equal(STAT(tcp_syncookies_sent), 3);
	tp_run(5 * SEC);
	expect_none(); /* no state: no SYN-ACK retransmission */
	tp_down();
}

/* A cookie SYN-ACK is the listener's too (sl_tcp_listen_iptx): its TTL and TOS byte, and the
 * connection the cookie brings back starts with them. */
static void test_listen_syncookie_iptx(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(2, 256);
	tp_up(&cfg);
	listen_on(80);
	assert_int_equal(sl_tcp_listen_iptx(T.st, 80, false, 21, 0x88), 0);
	struct pc c;
	pc_init(&c, 80, 2000);
	pc_syn(&c, 1460, -1);
	struct seg *sa = expect(F_SYN | F_ACK);
	assert_int_equal(STAT(tcp_syncookies_sent), 1);
	assert_int_equal(sa->ttl, 21);
	assert_int_equal(sa->tos, 0x88);
	c.irs = sa->seq;
	c.rcv_nxt = sa->seq + 1;
	unsigned before = A.nacc;
	pc_send(&c, F_ACK, NULL, 0);
	assert_int_equal(STAT(tcp_syncookies_ok), 1);
	assert_int_equal(A.nacc, before + 1);
	app_write(A.acc[before], 0, 100, true);
	tp_poll();
	struct seg *d = expect(F_ACK);
	assert_int_equal(d->ttl, 21);
	assert_int_equal(d->tos, 0x88);
	tp_down();
}

/* tcp_syncookies = 0: the old behaviour, the oldest half-open connection is dropped
 * (RFC 4987 §3.4), no cookie is ever sent. */
static void test_listen_syncookies_off(void **state)
{
	struct sl_stack_config cfg = cookie_cfg(0, 2);
	tp_up(&cfg);
	listen_on(80);
	struct pc c[3];
	for (int i = 0; i < 3; i++) {
		pc_init(&c[i], 80, (uint16_t)(1001 + i));
		pc_syn(&c[i], 1460, -1);
		c[i].rcv_nxt = expect(F_SYN | F_ACK)->seq + 1;
	}
	assert_int_equal(STAT(tcp_backlog_full), 1);
	assert_int_equal(STAT(tcp_syncookies_sent), 0);
	pc_send(&c[0], F_ACK, NULL, 0);
	expect(F_RST);
	assert_int_equal(A.nacc, 0);
	assert_int_equal(STAT(tcp_syncookies_bad), 0);
	tp_down();
}

int main(void)
{
#define T_(name) cmocka_unit_test_teardown(name, path_teardown)
	const struct CMUnitTest tests[] = {
	    T_(test_syn_sent_offers_sack_and_timestamps),
	    T_(test_syn_sent_synack_without_options),
	    T_(test_syn_sent_nothing_offered_when_disabled),
	    T_(test_listen_synack_mirrors_peer_offer),
	    T_(test_listen_nothing_offered_when_disabled),
	    T_(test_established_info_reports_negotiation),
	    T_(test_established_sack_first_block_most_recent),
	    T_(test_established_sack_three_blocks_with_timestamps),
	    T_(test_established_sack_gone_when_holes_filled),
	    T_(test_established_dsack_below_rcv_nxt),
	    T_(test_established_dsack_inside_ooo_block),
	    T_(test_established_dsack_partial_overlap_ooo_block),
	    T_(test_established_dsack_hole_fill_runs_into_ooo_block),
	    T_(test_established_dsack_duplicate_fin),
	    T_(test_established_dsack_duplicate_data_and_fin),
	    T_(test_established_sack_retransmits_only_holes),
	    T_(test_established_rack_one_sacked_waits_reo_wnd),
	    T_(test_established_rack_three_sacked_retransmits_at_once),
	    T_(test_established_tlp_sends_last_segment_then_rto),
	    T_(test_established_tlp_retransmits_last_segment),
	    T_(test_established_tlp_window_closed_retransmits_last),
	    T_(test_established_tlp_single_segment_adds_delack),
	    T_(test_established_tlp_never_after_rto),
	    T_(test_established_tlp_in_recovery_repairs_lost_segment),
	    T_(test_established_tlp_in_recovery_last_segment),
	    T_(test_established_tlp_second_probe_answered),
	    T_(test_established_prr_paces_recovery),
	    T_(test_established_ts_on_every_segment_monotonic),
	    T_(test_listen_ts_random_offset_per_connection),
	    T_(test_established_ts_recent_delayed_ack_echoes_first),
	    T_(test_established_ts_recent_out_of_order),
	    T_(test_established_paws_drops_old_timestamp),
	    T_(test_established_paws_rst_not_subject),
	    T_(test_established_ts_missing_dropped),
	    T_(test_established_dsack_undoes_spurious_recovery),
	    T_(test_listen_syncookie_when_backlog_full),
	    T_(test_listen_syncookie_mss_from_table),
	    T_(test_listen_syncookie_keeps_ws_sack_with_ts),
	    T_(test_listen_syncookie_without_ts_no_ws_no_sack),
	    T_(test_listen_syncookie_bad_ack_reset),
	    T_(test_listen_syncookie_table_full),
	    T_(test_listen_syncookies_always),
	    T_(test_listen_syncookie_iptx),
	    T_(test_listen_syncookies_off),
	};
	return cmocka_run_group_tests_name("tcp_sack", tests, NULL, NULL);
}
