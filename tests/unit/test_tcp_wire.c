/*
 * TCP header and options (user/wire/tcp.h; RFC 9293 §3.1, options §3.2, window scale
 * RFC 7323 §2, SACK-permitted RFC 2018, timestamps RFC 7323 §3): parse of every field and
 * option, checksum verification, the malformed cases with their exact SL_STAT_ reason,
 * emit (golden and round trip), and sequence arithmetic across the 2^32 wrap
 * (RFC 9293 §3.4).
 *
 * Golden packets were captured from scapy 2.5 with /usr/bin/python3:
 *   from scapy.all import *; print(bytes(<expression>).hex())
 * The expression is given above each vector; each is a whole IPv4 datagram, the TCP part
 * starts at byte 20 and the pseudo-header comes from the IP addresses. Checks run on an
 * exact-size heap copy so the sanitizer build catches any read past the given length.
 */
#include "unit/wireutil.h"
#include "wire/tcp.h"
#include "wire/ipv4.h"
#include "wire/checksum.h"
#include "util/rng.h"
#include "sluice/stats.h"

/* IP(src='192.168.1.10',dst='192.168.1.20')/TCP(sport=40000,dport=80,flags='S',seq=1000,
 *   window=64240,options=[('MSS',1460),('NOP',None),('WScale',7),('SAckOK',b''),
 *   ('Timestamp',(1,0))]) */
static const char g_syn_full[] =
    "4500003c000100004006f74cc0a8010ac0a801149c400050000003e800000000a002faf029270000020405b4"
    "010303070402080a0000000100000000";
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=80,dport=40000,flags='SA',seq=0xfffffff0,
 *   ack=1001,window=65535,options=[('MSS',1460),('NOP',None),('WScale',3)]) */
static const char g_synack_emit[] =
    "4500003000010000400666c50a0000010a00000200509c40fffffff0000003e9"
    "7012ffffcf9f0000020405b401030303";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='PA',seq=0x80000000,
 *   ack=0x7fffffff,window=502)/b'hello'   (odd length: checksum pads the last byte) */
static const char g_psh_odd[] = "4500002d00010000400666c80a0000020a0000019c400050800000007fffffff"
				"501801f6b96c000068656c6c6f";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=1,dport=65535,flags='A',seq=1,ack=2,window=0,
 *   options=[('NOP',None),('NOP',None),('SAck',(100,200,300,400)),('EOL',None)]) */
static const char g_sack_eol[] =
    "4500004000010000400666b50a0000020a0000010001ffff0000000100000002b010000031bb0000010105120000"
    "0064000000c80000012c0000019000000000";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=5000,dport=6000,flags='A',seq=7,ack=9,
 *   window=1024,options=[(30,b'\x01\x02'),('NOP',None),('NOP',None),
 *   ('Timestamp',(0xdeadbeef,0x01020304))])/b'xyz' */
static const char g_unknown_opt[] =
    "4500003b00010000400666ba0a0000020a00000113881770000000070000000990100400708800001e040102010108"
    "0adeadbeef0102030478797a";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=0,window=8192,
 *   options=[('WScale',15),('NOP',None),('MSS',536)]) */
static const char g_ws15[] = "4500003000010000400666c50a0000020a0000019c40005000000000000000007002"
			     "2000a927000003030f0102040218";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='FA',seq=4294967295,
 *   ack=123456789,window=29200)/b'bye!' */
static const char g_finack[] = "4500002c00010000400666c90a0000020a0000019c400050ffffffff075bcd15"
			       "50117210f120000062796521";
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=80,dport=40000,flags='R',seq=0x12345678,ack=0,
 *   window=0) */
static const char g_rst[] =
    "4500002800010000400666cd0a0000010a00000200509c4012345678000000005004000096a10000";
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=443,dport=50123,flags='A',seq=0x01020304,
 *   ack=0xa0b0c0d0,window=4096) */
static const char g_ack_emit[] =
    "4500002800010000400666cd0a0000010a00000201bbc3cb01020304a0b0c0d05010100060c40000";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='A',seq=1,ack=1,dataofs=6)
 *   /b'\x00\xff\xff\xff'   (EOL, then bytes that must not be parsed) */
static const char g_eol_garbage[] =
    "4500002c00010000400666c90a0000020a0000019c4000500000000100000001"
    "60102000ce3c000000ffffff";

/* Malformed, also from scapy: */
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='A',seq=1,ack=1,dataofs=4) */
static const char g_off4[] =
    "4500002800010000400666cd0a0000020a0000019c400050000000010000000140102000ef3f0000";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='A',seq=1,ack=1,
 *   dataofs=15)/b'0123456789' */
static const char g_off15[] = "4500003200010000400666c30a0000020a0000019c4000500000000100000001"
			      "f01020003a2b000030313233343536373839";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,dataofs=6)
 *   /b'\x02\x00\x05\xb4'   (MSS kind with option length 0) */
static const char g_optlen0[] = "4500002c00010000400666c90a0000020a0000019c4000500000000100000000"
				"60022000c7960000020005b4";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,dataofs=6)
 *   /b'\x1e\x01\x00\x00'   (unknown kind with option length 1) */
static const char g_optlen1[] = "4500002c00010000400666c90a0000020a0000019c4000500000000100000000"
				"60022000b14900001e010000";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,dataofs=7)
 *   /b'\x01\x01\x08\x0a\x00\x00\x00\x01'/b'data'   (timestamp of length 10 in 6 bytes left) */
static const char g_optpast[] = "4500003400010000400666c10a0000020a0000019c4000500000000100000000"
				"70022000dd7300000101080a0000000164617461";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,dataofs=6)
 *   /b'\x02\x03\x05\x00'   (MSS with length 3) */
static const char g_mss3[] = "4500002c00010000400666c90a0000020a0000019c4000500000000100000000"
			     "60022000c847000002030500";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,dataofs=6)
 *   /b'\x01\x01\x01\x02'   (a kind byte in the last position, no room for its length) */
static const char g_kind_last[] = "4500002c00010000400666c90a0000020a0000019c4000500000000100000000"
				  "60022000cd47000001010102";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,
 *   options=[(3,b'\x07\x00')])   (window scale with length 4) */
static const char g_ws4[] = "4500002c00010000400666c90a0000020a0000019c4000500000000100000000"
			    "60022000c546000003040700";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,
 *   options=[(8,b'\x00\x00\x00\x01\x00\x00')])   (timestamps with length 8) */
static const char g_ts8[] = "4500003000010000400666c50a0000020a0000019c4000500000000100000000"
			    "70022000b73d00000808000000010000";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='S',seq=1,
 *   options=[(4,b'\x00'),('NOP',None)])   (SACK-permitted with length 3) */
static const char g_sackok3[] = "4500002c00010000400666c90a0000020a0000019c4000500000000100000000"
				"60022000cb46000004030001";
/* IP(src='10.0.0.2',dst='10.0.0.1')/TCP(sport=40000,dport=80,flags='A',seq=1,ack=1,
 *   chksum=0x1234)/b'payload' */
static const char g_badcsum[] = "4500002f00010000400666c60a0000020a0000019c4000500000000100000001"
				"50102000123400007061796c6f6164";

/* What sluice sends when SACK and timestamps are on, laid out as Linux does: */
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=80,dport=40000,flags='S',seq=1000,window=65535,
 *   options=[('MSS',1460),('SAckOK',b''),('Timestamp',(0x11223344,0)),('NOP',None),
 *   ('WScale',7)]) */
static const char g_syn_ts_sack[] =
    "4500003c00010000400666b90a0000010a00000200509c40000003e800000000a002ffff4f1f0000020405b4"
    "0402080a112233440000000001030307";
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=80,dport=40000,flags='SA',seq=2000,ack=1001,
 *   window=65535,options=[('MSS',1460),('NOP',None),('NOP',None),('SAckOK',b''),('NOP',None),
 *   ('WScale',7)]) */
static const char g_synack_sack[] =
    "4500003400010000400666c10a0000010a00000200509c40000007d0000003e98012ffffb2b50000020405b4"
    "0101040201030307";
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=80,dport=40000,flags='A',seq=5000,
 *   ack=0xfffffff0,window=512,options=[('NOP',None),('NOP',None),
 *   ('Timestamp',(0xaabbccdd,0x01020304)),('NOP',None),('NOP',None),
 *   ('SAck',(0xfffffff8,0x00000010,0x100,0x200,0x300,0x400))]) */
static const char g_ack_ts_sack3[] =
    "4500005000010000400666a50a0000010a00000200509c4000001388fffffff0f0100200b4d100000101080a"
    "aabbccdd010203040101051afffffff8000000100000010000000200000003000000040"
    "0";
/* IP(src='10.0.0.1',dst='10.0.0.2')/TCP(sport=80,dport=40000,flags='A',seq=5000,ack=7000,
 *   window=512,options=[('NOP',None),('NOP',None),('SAck',(8000,9000,10000,11000,12000,13000,
 *   14000,15000))]) */
static const char g_ack_sack4[] =
    "4500004c00010000400666a90a0000010a00000200509c400000138800001b58e0100200d0b800000101052200"
    "001f40000023280000271000002af800002ee0000032c8000036b000003a98";

#define IP_10_0_0_1 0x0a000001u
#define IP_10_0_0_2 0x0a000002u

/* A golden datagram: its bytes, and where the TCP part is. */
struct gold {
	uint8_t b[256];
	size_t n;
	const uint8_t *th;
	size_t tlen;
	uint32_t src, dst;
};

static void load(struct gold *g, const char *hex)
{
	g->n = tu_hex(hex, g->b, sizeof g->b);
	assert_true(g->n <= sizeof g->b);
	assert_int_equal(sl_ipv4_check(g->b, g->n), 0);
	assert_int_equal(sl_ipv4_proto(g->b), SL_IPPROTO_TCP);
	g->th = g->b + sl_ipv4_hlen(g->b);
	g->tlen = g->n - sl_ipv4_hlen(g->b);
	g->src = sl_ipv4_src(g->b);
	g->dst = sl_ipv4_dst(g->b);
}

/* sl_tcp_check on an exact-size heap copy of len bytes of p. */
static int check_exact(const uint8_t *p, size_t len, uint32_t src, uint32_t dst,
		       struct sl_tcp_opts *o)
{
	uint8_t *c = tu_dup(p, len);
	int r = sl_tcp_check(c, len, src, dst, o);
	free(c);
	return r;
}

static int check_gold(const char *hex, struct sl_tcp_opts *o)
{
	struct gold g;
	load(&g, hex);
	return check_exact(g.th, g.tlen, g.src, g.dst, o);
}

/* --- deconstruct -------------------------------------------------------------------- */

static void test_tcp_parse_syn_all_options(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_syn_full);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_sport(g.th), 40000);
	assert_int_equal(sl_tcp_dport(g.th), 80);
	assert_int_equal(sl_tcp_seq(g.th), 1000);
	assert_int_equal(sl_tcp_ack(g.th), 0);
	assert_int_equal(sl_tcp_hlen(g.th), 40);
	assert_int_equal(sl_tcp_flags(g.th), SL_TCP_SYN);
	assert_int_equal(sl_tcp_win(g.th), 64240);
	assert_int_equal(g.tlen, 40); /* no payload */
	assert_int_equal(o.mss, 1460);
	assert_int_equal(o.wscale, 7);
	assert_true(o.sack_ok);
	assert_true(o.has_ts);
	assert_int_equal(o.ts_val, 1);
	assert_int_equal(o.ts_ecr, 0);
}

static void test_tcp_parse_synack_golden(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_synack_emit);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_sport(g.th), 80);
	assert_int_equal(sl_tcp_dport(g.th), 40000);
	assert_int_equal(sl_tcp_seq(g.th), 0xfffffff0u);
	assert_int_equal(sl_tcp_ack(g.th), 1001);
	assert_int_equal(sl_tcp_hlen(g.th), 28);
	assert_int_equal(sl_tcp_flags(g.th), SL_TCP_SYN | SL_TCP_ACK);
	assert_int_equal(sl_tcp_win(g.th), 65535);
	assert_int_equal(o.mss, 1460);
	assert_int_equal(o.wscale, 3);
	assert_false(o.sack_ok);
	assert_false(o.has_ts);
}

static void test_tcp_parse_data_odd_length(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_psh_odd);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_seq(g.th), 0x80000000u);
	assert_int_equal(sl_tcp_ack(g.th), 0x7fffffffu);
	assert_int_equal(sl_tcp_flags(g.th), SL_TCP_PSH | SL_TCP_ACK);
	assert_int_equal(sl_tcp_win(g.th), 502);
	assert_int_equal(sl_tcp_hlen(g.th), 20);
	assert_int_equal(g.tlen - sl_tcp_hlen(g.th), 5);
	assert_memory_equal(g.th + 20, "hello", 5);
	/* No options: the defaults. */
	assert_int_equal(o.mss, 0);
	assert_int_equal(o.wscale, -1);
	assert_false(o.sack_ok);
	assert_false(o.has_ts);
}

static void test_tcp_parse_sack_blocks_and_eol(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_sack_eol);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_sport(g.th), 1);
	assert_int_equal(sl_tcp_dport(g.th), 65535);
	assert_int_equal(sl_tcp_hlen(g.th), 44);
	assert_int_equal(sl_tcp_win(g.th), 0);
	assert_int_equal(sl_tcp_flags(g.th), SL_TCP_ACK);
	/* Two SACK blocks, in the order they were listed (RFC 2018 §3). */
	assert_int_equal(o.mss, 0);
	assert_int_equal(o.wscale, -1);
	assert_false(o.sack_ok);
	assert_false(o.has_ts);
	assert_int_equal(o.nsack, 2);
	assert_int_equal(o.sack[0].l, 100);
	assert_int_equal(o.sack[0].r, 200);
	assert_int_equal(o.sack[1].l, 300);
	assert_int_equal(o.sack[1].r, 400);
}

static void test_tcp_parse_sack_malformed_ignored(void **state)
{
	/* A SACK option whose length is not 2 + 8·n (n = 1..4) carries no usable blocks; the
	 * segment stays good (RFC 2018 §3 defines only those lengths). */
	static const uint8_t bad[][12] = {
	    {5, 2, 1, 1},		    /* no block */
	    {5, 6, 0, 0, 0, 1, 1, 1},	    /* half a block */
	    {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1}, /* one block and a stray byte */
	};
	static const unsigned len[] = {4, 8, 12};
	for (unsigned i = 0; i < 3; i++) {
		struct sl_tcp_opts o;
		assert_int_equal(sl_tcp_parse_opts(bad[i], len[i], &o), 0);
		assert_int_equal(o.nsack, 0);
	}
}

static void test_tcp_parse_unknown_option_skipped(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_unknown_opt);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_sport(g.th), 5000);
	assert_int_equal(sl_tcp_dport(g.th), 6000);
	assert_int_equal(sl_tcp_seq(g.th), 7);
	assert_int_equal(sl_tcp_ack(g.th), 9);
	assert_int_equal(sl_tcp_win(g.th), 1024);
	assert_int_equal(sl_tcp_hlen(g.th), 36);
	assert_true(o.has_ts);
	assert_int_equal(o.ts_val, 0xdeadbeefu);
	assert_int_equal(o.ts_ecr, 0x01020304u);
	assert_memory_equal(g.th + 36, "xyz", 3);
}

static void test_tcp_parse_wscale_clamped_to_14(void **state)
{
	struct sl_tcp_opts o;
	/* RFC 7323 §2.3: a shift above 14 is used as 14. */
	assert_int_equal(check_gold(g_ws15, &o), 0);
	assert_int_equal(o.wscale, 14);
	assert_int_equal(o.mss, 536);
}

static void test_tcp_parse_fin_at_wrap(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_finack);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_seq(g.th), 0xffffffffu);
	assert_int_equal(sl_tcp_ack(g.th), 123456789);
	assert_int_equal(sl_tcp_flags(g.th), SL_TCP_FIN | SL_TCP_ACK);
	assert_int_equal(sl_tcp_win(g.th), 29200);
	assert_memory_equal(g.th + 20, "bye!", 4);
}

static void test_tcp_parse_rst(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_rst);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_int_equal(sl_tcp_flags(g.th), SL_TCP_RST);
	assert_int_equal(sl_tcp_seq(g.th), 0x12345678u);
	assert_int_equal(sl_tcp_win(g.th), 0);
}

static void test_tcp_parse_stops_at_eol(void **state)
{
	struct sl_tcp_opts o;
	/* Bytes after End of Option List are padding: never parsed (RFC 9293 §3.2). */
	assert_int_equal(check_gold(g_eol_garbage, &o), 0);
	assert_int_equal(o.mss, 0);
	assert_int_equal(o.wscale, -1);
}

/* Every golden vector passes its checksum; the pseudo-header matters (RFC 9293 §3.1). */
static void test_tcp_checksum_verify(void **state)
{
	const char *all[] = {g_syn_full, g_synack_emit, g_psh_odd, g_sack_eol, g_unknown_opt,
			     g_ws15,	 g_finack,	g_rst,	   g_ack_emit, g_eol_garbage};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		struct gold g;
		struct sl_tcp_opts o;
		load(&g, all[i]);
		assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
		/* Same bytes, another destination in the pseudo-header. */
		assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst ^ 0x100, &o),
				 SL_STAT_tcp_bad_csum);
		/* Source and destination swapped: the sum is symmetric, so it still verifies. */
		assert_int_equal(check_exact(g.th, g.tlen, g.dst, g.src, &o), 0);
		/* One flipped bit anywhere is caught. */
		for (size_t bit = 0; bit < g.tlen * 8; bit += 13) {
			uint8_t c[256];
			memcpy(c, g.th, g.tlen);
			c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int r = check_exact(c, g.tlen, g.src, g.dst, &o);
			/* Flipping the data offset may make it invalid first. */
			if (bit / 8 == 12)
				assert_true(r == SL_STAT_tcp_bad_csum || r == SL_STAT_tcp_bad_off);
			else
				assert_int_equal(r, SL_STAT_tcp_bad_csum);
		}
	}
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_badcsum, &o), SL_STAT_tcp_bad_csum);
}

/* --- malformed ---------------------------------------------------------------------- */

static void test_tcp_malformed_data_offset_below_5(void **state)
{
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_off4, &o), SL_STAT_tcp_bad_off);
}

static void test_tcp_malformed_data_offset_beyond_segment(void **state)
{
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_off15, &o), SL_STAT_tcp_bad_off);
	/* A header with options cut short: offset 40, only 30 bytes given. */
	struct gold g;
	load(&g, g_syn_full);
	assert_int_equal(check_exact(g.th, 30, g.src, g.dst, &o), SL_STAT_tcp_bad_off);
	assert_int_equal(check_exact(g.th, 39, g.src, g.dst, &o), SL_STAT_tcp_bad_off);
}

static void test_tcp_malformed_option_length_0(void **state)
{
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_optlen0, &o), SL_STAT_tcp_bad_opts);
}

static void test_tcp_malformed_option_length_1(void **state)
{
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_optlen1, &o), SL_STAT_tcp_bad_opts);
}

static void test_tcp_malformed_option_past_header(void **state)
{
	struct sl_tcp_opts o;
	/* The timestamp would run into the payload ("data"): still malformed. */
	assert_int_equal(check_gold(g_optpast, &o), SL_STAT_tcp_bad_opts);
	/* A kind byte with no length byte before the header ends. */
	assert_int_equal(check_gold(g_kind_last, &o), SL_STAT_tcp_bad_opts);
}

static void test_tcp_malformed_mss_length_3(void **state)
{
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_mss3, &o), SL_STAT_tcp_bad_opts);
}

static void test_tcp_malformed_fixed_length_options(void **state)
{
	struct sl_tcp_opts o;
	assert_int_equal(check_gold(g_ws4, &o), SL_STAT_tcp_bad_opts);
	assert_int_equal(check_gold(g_ts8, &o), SL_STAT_tcp_bad_opts);
	assert_int_equal(check_gold(g_sackok3, &o), SL_STAT_tcp_bad_opts);
}

static void test_tcp_malformed_truncated_header(void **state)
{
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_ack_emit);
	for (size_t len = 0; len < SL_TCP_HLEN; len++)
		assert_int_equal(check_exact(g.th, len, g.src, g.dst, &o), SL_STAT_tcp_short);
	assert_int_equal(check_exact(g.th, SL_TCP_HLEN, g.src, g.dst, &o), 0);
}

/* parse_opts alone, on exact-size buffers. */
static int opts_exact(const uint8_t *p, size_t len, struct sl_tcp_opts *o)
{
	uint8_t *c = tu_dup(p, len);
	int r = sl_tcp_parse_opts(c, len, o);
	free(c);
	return r;
}

static void test_tcp_parse_opts_edges(void **state)
{
	struct sl_tcp_opts o;
	const uint8_t none[1] = {0xff}; /* zero bytes of it are given */
	assert_int_equal(opts_exact(none, 0, &o), 0);
	assert_int_equal(o.mss, 0);
	assert_int_equal(o.wscale, -1);
	const uint8_t nops[] = {1, 1, 1, 1};
	assert_int_equal(opts_exact(nops, 4, &o), 0);
	const uint8_t lone_kind[] = {2};
	assert_int_equal(opts_exact(lone_kind, 1, &o), SL_STAT_tcp_bad_opts);
	const uint8_t mss_cut[] = {2, 4, 5};
	assert_int_equal(opts_exact(mss_cut, 3, &o), SL_STAT_tcp_bad_opts);
	const uint8_t mss_ok[] = {2, 4, 0x05, 0xb4};
	assert_int_equal(opts_exact(mss_ok, 4, &o), 0);
	assert_int_equal(o.mss, 1460);
	const uint8_t unk_255[] = {0xfe, 0xff};
	assert_int_equal(opts_exact(unk_255, 2, &o), SL_STAT_tcp_bad_opts);
	const uint8_t unk_min[] = {0xfe, 2, 0};
	assert_int_equal(opts_exact(unk_min, 3, &o), 0);
	/* A second MSS overrides the first; both well-formed. */
	const uint8_t two_mss[] = {2, 4, 0x01, 0x00, 2, 4, 0x02, 0x00};
	assert_int_equal(opts_exact(two_mss, 8, &o), 0);
	assert_int_equal(o.mss, 512);
	/* Fields are reset on every call. */
	assert_int_equal(opts_exact(nops, 4, &o), 0);
	assert_int_equal(o.mss, 0);
}

/* A SACK option longer than 4 blocks (RFC 2018 §3: at most 4 fit in 40 bytes) is a malformed
 * list, ignored like the others; it must not be read into more blocks than the struct holds.
 * Found by tests/fuzz/fuzz_tcpopts.c (parse_opts given more than 40 bytes of options). */
static void test_tcp_parse_opts_sack_too_long(void **state)
{
	struct {
		struct sl_tcp_opts o;
		uint8_t canary[256];
	} w;
	memset(w.canary, 0xa5, sizeof w.canary);
	for (unsigned blocks = 5; blocks <= 31; blocks++) {
		uint8_t opt[2 + 8 * 31];
		memset(opt, 0x11, sizeof opt);
		opt[0] = 5;
		opt[1] = (uint8_t)(2 + 8 * blocks);
		assert_int_equal(opts_exact(opt, 2 + 8 * blocks, &w.o), 0);
		assert_int_equal(w.o.nsack, 0);
		for (size_t i = 0; i < sizeof w.canary; i++)
			assert_int_equal(w.canary[i], 0xa5);
	}
	/* Four blocks, the most there are, still read. */
	uint8_t four[34] = {5, 34};
	assert_int_equal(opts_exact(four, 34, &w.o), 0);
	assert_int_equal(w.o.nsack, 4);
}

/* --- construct ---------------------------------------------------------------------- */

static void emit_and_compare(const char *hex, const struct sl_tcp_hdr *h)
{
	struct gold g;
	load(&g, hex);
	uint8_t out[128];
	memset(out, 0xee, sizeof out);
	unsigned hlen = sl_tcp_emit(out, h);
	assert_int_equal(hlen, sl_tcp_hlen(g.th));
	assert_int_equal(out[hlen], 0xee); /* exactly hlen bytes written */
	memcpy(out + hlen, g.th + hlen, g.tlen - hlen);
	sl_tcp_set_csum(out, g.tlen, g.src, g.dst);
	assert_memory_equal(out, g.th, g.tlen);
}

static void test_tcp_emit_synack_golden(void **state)
{
	struct sl_tcp_hdr h = {.sport = 80,
			       .dport = 40000,
			       .seq = 0xfffffff0u,
			       .ack = 1001,
			       .flags = SL_TCP_SYN | SL_TCP_ACK,
			       .win = 65535,
			       .mss = 1460,
			       .wscale = 3};
	emit_and_compare(g_synack_emit, &h);
}

static void test_tcp_emit_ack_golden(void **state)
{
	struct sl_tcp_hdr h = {.sport = 443,
			       .dport = 50123,
			       .seq = 0x01020304u,
			       .ack = 0xa0b0c0d0u,
			       .flags = SL_TCP_ACK,
			       .win = 4096,
			       .mss = 0,
			       .wscale = -1};
	emit_and_compare(g_ack_emit, &h);
}

static void test_tcp_emit_rst_golden(void **state)
{
	struct sl_tcp_hdr h = {
	    .sport = 80, .dport = 40000, .seq = 0x12345678u, .flags = SL_TCP_RST, .wscale = -1};
	emit_and_compare(g_rst, &h);
}

static void test_tcp_emit_data_golden(void **state)
{
	/* Header emitted, payload appended, checksum over both. */
	struct sl_tcp_hdr h = {.sport = 40000,
			       .dport = 80,
			       .seq = 0x80000000u,
			       .ack = 0x7fffffffu,
			       .flags = SL_TCP_PSH | SL_TCP_ACK,
			       .win = 502,
			       .wscale = -1};
	emit_and_compare(g_psh_odd, &h);
	struct sl_tcp_hdr f = {.sport = 40000,
			       .dport = 80,
			       .seq = 0xffffffffu,
			       .ack = 123456789,
			       .flags = SL_TCP_FIN | SL_TCP_ACK,
			       .win = 29200,
			       .wscale = -1};
	emit_and_compare(g_finack, &f);
}

static void test_tcp_emit_syn_ts_sack_golden(void **state)
{
	struct sl_tcp_hdr h = {.sport = 80,
			       .dport = 40000,
			       .seq = 1000,
			       .flags = SL_TCP_SYN,
			       .win = 65535,
			       .mss = 1460,
			       .wscale = 7,
			       .sack_ok = true,
			       .ts = true,
			       .ts_val = 0x11223344u};
	assert_int_equal(sl_tcp_opts_len(&h), 20);
	emit_and_compare(g_syn_ts_sack, &h);
}

static void test_tcp_emit_synack_sack_golden(void **state)
{
	struct sl_tcp_hdr h = {.sport = 80,
			       .dport = 40000,
			       .seq = 2000,
			       .ack = 1001,
			       .flags = SL_TCP_SYN | SL_TCP_ACK,
			       .win = 65535,
			       .mss = 1460,
			       .wscale = 7,
			       .sack_ok = true};
	assert_int_equal(sl_tcp_opts_len(&h), 12);
	emit_and_compare(g_synack_sack, &h);
}

static void test_tcp_emit_ack_ts_sack_golden(void **state)
{
	/* Four blocks asked for, three fit beside the timestamps (RFC 2018 §3). */
	struct sl_tcp_hdr h = {.sport = 80,
			       .dport = 40000,
			       .seq = 5000,
			       .ack = 0xfffffff0u,
			       .flags = SL_TCP_ACK,
			       .win = 512,
			       .wscale = -1,
			       .ts = true,
			       .ts_val = 0xaabbccddu,
			       .ts_ecr = 0x01020304u,
			       .nsack = 4,
			       .sack = {{0xfffffff8u, 0x10}, {0x100, 0x200}, {0x300, 0x400}, {1, 2}}};
	assert_int_equal(sl_tcp_opts_len(&h), 40);
	emit_and_compare(g_ack_ts_sack3, &h);
	struct gold g;
	struct sl_tcp_opts o;
	load(&g, g_ack_ts_sack3);
	assert_int_equal(check_exact(g.th, g.tlen, g.src, g.dst, &o), 0);
	assert_true(o.has_ts);
	assert_int_equal(o.ts_val, 0xaabbccddu);
	assert_int_equal(o.ts_ecr, 0x01020304u);
	assert_int_equal(o.nsack, 3);
	assert_int_equal(o.sack[0].l, 0xfffffff8u);
	assert_int_equal(o.sack[0].r, 0x10);
	assert_int_equal(o.sack[2].r, 0x400);
}

static void test_tcp_emit_ack_sack4_golden(void **state)
{
	struct sl_tcp_hdr h = {.sport = 80,
			       .dport = 40000,
			       .seq = 5000,
			       .ack = 7000,
			       .flags = SL_TCP_ACK,
			       .win = 512,
			       .wscale = -1,
			       .nsack = 4,
			       .sack = {{8000, 9000}, {10000, 11000}, {12000, 13000}, {14000, 15000}}};
	assert_int_equal(sl_tcp_opts_len(&h), 36);
	emit_and_compare(g_ack_sack4, &h);
}

/* Emit random headers with a payload, then check parses every field back. */
static void test_tcp_emit_round_trip(void **state)
{
	struct sl_rng r;
	sl_rng_seed(&r, tu_seed(0x7c9));
	for (int i = 0; i < 2000; i++) {
		struct sl_tcp_hdr h = {
		    .sport = (uint16_t)sl_rng_next(&r),
		    .dport = (uint16_t)sl_rng_next(&r),
		    .seq = (uint32_t)sl_rng_next(&r),
		    .ack = (uint32_t)sl_rng_next(&r),
		    .flags = (uint8_t)(sl_rng_next(&r) & 0x3f),
		    .win = (uint16_t)sl_rng_next(&r),
		    .mss = (i & 1) ? (uint16_t)sl_rng_next(&r) : 0,
		    .wscale = (i & 2) ? (int8_t)sl_rng_below(&r, 15) : -1,
		    .sack_ok = (i & 4) != 0,
		    .ts = (i & 8) != 0,
		    .ts_val = (uint32_t)sl_rng_next(&r),
		    .ts_ecr = (uint32_t)sl_rng_next(&r),
		    .nsack = (uint8_t)sl_rng_below(&r, 5),
		};
		for (unsigned b = 0; b < SL_TCP_SACK_MAX; b++) {
			h.sack[b].l = (uint32_t)sl_rng_next(&r);
			h.sack[b].r = (uint32_t)sl_rng_next(&r);
		}
		uint8_t buf[128];
		unsigned plen = (unsigned)sl_rng_below(&r, 64);
		unsigned hlen = sl_tcp_emit(buf, &h);
		assert_int_equal(hlen, 20 + sl_tcp_opts_len(&h));
		assert_true(hlen <= 60 && hlen % 4 == 0);
		for (unsigned k = 0; k < plen; k++)
			buf[hlen + k] = (uint8_t)sl_rng_next(&r);
		uint32_t src = (uint32_t)sl_rng_next(&r), dst = (uint32_t)sl_rng_next(&r);
		sl_tcp_set_csum(buf, hlen + plen, src, dst);
		struct sl_tcp_opts o;
		assert_int_equal(check_exact(buf, hlen + plen, src, dst, &o), 0);
		assert_int_equal(sl_tcp_sport(buf), h.sport);
		assert_int_equal(sl_tcp_dport(buf), h.dport);
		assert_int_equal(sl_tcp_seq(buf), h.seq);
		assert_int_equal(sl_tcp_ack(buf), h.ack);
		assert_int_equal(sl_tcp_flags(buf), h.flags);
		assert_int_equal(sl_tcp_win(buf), h.win);
		assert_int_equal(sl_tcp_hlen(buf), hlen);
		assert_int_equal(o.mss, h.mss);
		assert_int_equal(o.wscale, h.wscale);
		assert_int_equal(o.sack_ok, h.sack_ok);
		assert_int_equal(o.has_ts, h.ts);
		if (h.ts) {
			assert_int_equal(o.ts_val, h.ts_val);
			assert_int_equal(o.ts_ecr, h.ts_ecr);
		}
		/* As many blocks as fit, in order. */
		assert_true(o.nsack <= h.nsack);
		if (h.nsack && !h.mss && h.wscale < 0 && !h.sack_ok)
			assert_int_equal(o.nsack, h.nsack < (h.ts ? 3 : 4) ? h.nsack : (h.ts ? 3 : 4));
		for (unsigned b = 0; b < o.nsack; b++) {
			assert_int_equal(o.sack[b].l, h.sack[b].l);
			assert_int_equal(o.sack[b].r, h.sack[b].r);
		}
		/* The checksum in the header verifies as the Internet checksum of the whole. */
		uint64_t acc = sl_csum_pseudo4(src, dst, 6, (uint16_t)(hlen + plen));
		assert_int_equal(sl_csum_fold(sl_csum_add(acc, buf, hlen + plen)), 0xffff);
	}
}

/* --- sequence arithmetic (RFC 9293 §3.4) -------------------------------------------- */

static void test_tcp_seq_compare_across_wrap(void **state)
{
	const uint32_t top = 0xffffffffu;
	/* Plain order. */
	assert_true(seq_lt(1, 2));
	assert_false(seq_lt(2, 1));
	assert_false(seq_lt(5, 5));
	assert_true(seq_leq(5, 5));
	assert_true(seq_gt(2, 1));
	assert_true(seq_geq(2, 2));
	/* Across the wrap: 0xffffffff precedes 0, 0xfffffff0 precedes 0x10. */
	assert_true(seq_lt(top, 0));
	assert_true(seq_lt(0xfffffff0u, 0x10));
	assert_false(seq_lt(0x10, 0xfffffff0u));
	assert_true(seq_gt(0, top));
	assert_true(seq_gt(0x10, 0xfffffff0u));
	assert_true(seq_leq(top, 0));
	assert_true(seq_leq(top, top));
	assert_false(seq_leq(0, top));
	assert_true(seq_geq(0, top));
	assert_false(seq_geq(top, 0));
	/* Up to 2^31 − 1 apart the order holds both ways. */
	assert_true(seq_lt(0, 0x7fffffffu));
	assert_true(seq_gt(0x7fffffffu, 0));
	assert_true(seq_lt(0x80000001u, 0));
	assert_true(seq_lt(0xc0000000u, 0x3fffffffu));
	assert_true(seq_gt(0x3fffffffu, 0xc0000000u));
	/* Every distance from 1 to 2^31 − 1, at bases around the wrap. */
	const uint32_t bases[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffff0u, top};
	for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++)
		for (uint32_t d = 1; d < 0x80000000u && d != 0; d = d * 3 + 1) {
			uint32_t a = bases[b], c = a + d;
			assert_true(seq_lt(a, c));
			assert_true(seq_leq(a, c));
			assert_false(seq_gt(a, c));
			assert_false(seq_geq(a, c));
			assert_true(seq_gt(c, a));
			assert_true(seq_geq(c, a));
		}
	assert_int_equal(seq_max(top, 3), 3);
	assert_int_equal(seq_max(3, top), 3);
	assert_int_equal(seq_max(0x7ffffff0u, 0x80000010u), 0x80000010u);
}

static void test_tcp_seq_in_across_wrap(void **state)
{
	/* seq_in(x, a, b): a ≤ x < b, modulo 2^32. A window that straddles the wrap. */
	const uint32_t a = 0xfffffff0u, b = 0x10;
	assert_true(seq_in(a, a, b));
	assert_true(seq_in(0xffffffffu, a, b));
	assert_true(seq_in(0, a, b));
	assert_true(seq_in(0xf, a, b));
	assert_false(seq_in(b, a, b));
	assert_false(seq_in(a - 1, a, b));
	assert_false(seq_in(0x11, a, b));
	assert_false(seq_in(0x80000000u, a, b));
	/* Empty window: nothing is in it. */
	assert_false(seq_in(5, 5, 5));
	assert_false(seq_in(0, 0xffffffffu, 0xffffffffu));
	/* Window of one at the top. */
	assert_true(seq_in(0xffffffffu, 0xffffffffu, 0));
	assert_false(seq_in(0, 0xffffffffu, 0));
	/* The RFC 9293 §3.10.7.4 acceptability test with RCV.NXT just below the wrap. */
	uint32_t rcv_nxt = 0xffffff00u, wnd = 0x1000;
	assert_true(seq_in(0x00000100u, rcv_nxt, rcv_nxt + wnd));
	assert_false(seq_in(rcv_nxt + wnd, rcv_nxt, rcv_nxt + wnd));
	assert_false(seq_in(rcv_nxt - 1, rcv_nxt, rcv_nxt + wnd));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp_parse_syn_all_options),
	    cmocka_unit_test(test_tcp_parse_synack_golden),
	    cmocka_unit_test(test_tcp_parse_data_odd_length),
	    cmocka_unit_test(test_tcp_parse_sack_blocks_and_eol),
	    cmocka_unit_test(test_tcp_parse_sack_malformed_ignored),
	    cmocka_unit_test(test_tcp_parse_unknown_option_skipped),
	    cmocka_unit_test(test_tcp_parse_wscale_clamped_to_14),
	    cmocka_unit_test(test_tcp_parse_fin_at_wrap),
	    cmocka_unit_test(test_tcp_parse_rst),
	    cmocka_unit_test(test_tcp_parse_stops_at_eol),
	    cmocka_unit_test(test_tcp_checksum_verify),
	    cmocka_unit_test(test_tcp_malformed_data_offset_below_5),
	    cmocka_unit_test(test_tcp_malformed_data_offset_beyond_segment),
	    cmocka_unit_test(test_tcp_malformed_option_length_0),
	    cmocka_unit_test(test_tcp_malformed_option_length_1),
	    cmocka_unit_test(test_tcp_malformed_option_past_header),
	    cmocka_unit_test(test_tcp_malformed_mss_length_3),
	    cmocka_unit_test(test_tcp_malformed_fixed_length_options),
	    cmocka_unit_test(test_tcp_malformed_truncated_header),
	    cmocka_unit_test(test_tcp_parse_opts_edges),
	    cmocka_unit_test(test_tcp_parse_opts_sack_too_long),
	    cmocka_unit_test(test_tcp_emit_synack_golden),
	    cmocka_unit_test(test_tcp_emit_ack_golden),
	    cmocka_unit_test(test_tcp_emit_rst_golden),
	    cmocka_unit_test(test_tcp_emit_data_golden),
	    cmocka_unit_test(test_tcp_emit_syn_ts_sack_golden),
	    cmocka_unit_test(test_tcp_emit_synack_sack_golden),
	    cmocka_unit_test(test_tcp_emit_ack_ts_sack_golden),
	    cmocka_unit_test(test_tcp_emit_ack_sack4_golden),
	    cmocka_unit_test(test_tcp_emit_round_trip),
	    cmocka_unit_test(test_tcp_seq_compare_across_wrap),
	    cmocka_unit_test(test_tcp_seq_in_across_wrap),
	};
	return cmocka_run_group_tests_name("tcp_wire", tests, NULL, NULL);
}
