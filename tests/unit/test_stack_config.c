/*
 * Bounds on configuration (issue 9, item 6): sl_stack_open refuses, with -EINVAL, every
 * value of struct sl_stack_config outside the range include/sluice/stack.h documents, and
 * accepts the values at the edges of those ranges. The MTU rules come from the RFCs:
 *
 *   RFC 791 §3.2 (and RFC 1122 §3.3.3)  every IPv4 host can take 68-byte datagrams: an
 *                 IPv4 interface has an MTU of at least 68 (fragments carry 8 bytes at least);
 *   RFC 8200 §5   IPv6 needs a link MTU of at least 1280;
 *   and no MTU above the device's (a frame the device cannot send).
 *
 * Before these checks an MTU under 28 left IPv4 fragmentation with 0 payload bytes per
 * fragment, looping for ever: the first test shows that, bounded by an alarm in a child.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit/pipenet.h"

#define MS 1000000ULL
#define SEC 1000000000ULL

static void base_cfg(struct sl_stack_config *c)
{
	sl_stack_config_init(c);
	c->addrs[0].addr = sl_ip_v4(PN_IP_A);
	c->addrs[0].prefix_len = 24;
	c->n_addrs = 1;
	c->deterministic_secrets = true;
}

/* sl_stack_open's answer for cfg on a fresh pipe (of device MTU dev_mtu); the stack, if one
 * opened, is closed again and every frame is back. */
static int try_open_mtu(const struct sl_stack_config *cfg, uint32_t dev_mtu)
{
	struct sl_dev *da, *db;
	struct sl_stack *st = NULL;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &da, &db), 0);
	da->mtu = dev_mtu;
	int err = sl_stack_open(da, cfg, 1000 * MS, &st);
	if (!err)
		sl_stack_close(st);
	pn_close_counted(da, db);
	return err;
}

static int try_open(const struct sl_stack_config *cfg)
{
	return try_open_mtu(cfg, 1500);
}

/* try_open in a child with 10 seconds to answer: a configuration that makes sl_stack_open
 * spin (a bucket count that never reaches tcp_max_conns) or crash fails its case only.
 * Returns the error, or 1 when the child did not exit. */
static int try_open_bounded(const struct sl_stack_config *cfg)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(10);
		_exit(-try_open(cfg) & 0xff);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status)) {
		print_message("  (killed by signal %d)\n", WTERMSIG(status));
		return 1;
	}
	return -WEXITSTATUS(status);
}

/* An MTU of 24 with an IPv4 address, and a datagram of 100 bytes to send: the stack must
 * either refuse the MTU at open or send the datagram and return. A child does it, with 5
 * seconds to finish. */
static void test_open_mtu_24_does_not_loop(void **state)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(5);
		struct sl_stack_config c;
		base_cfg(&c);
		c.mtu = 24;
		struct sl_dev *da, *db;
		struct sl_stack *st;
		if (sl_dev_pipe_pair(NULL, NULL, &da, &db))
			_exit(3);
		int err = sl_stack_open(da, &c, 1000 * MS, &st);
		if (err)
			_exit(err == -EINVAL ? 0 : 4);
		sl_ip dst = sl_ip_v4(PN_IP_B);
		uint8_t data[100] = {0};
		sl_udp_write(st, NULL, &dst, 9, data, sizeof data);
		sl_stack_poll(st, 1001 * MS);
		_exit(5); /* opened with MTU 24: not refused */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		print_message("child killed by signal %d (SIGALRM: IPv4 fragmentation looped)\n",
			      WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_open_mtu_ipv4_minimum_68(void **state)
{
	struct sl_stack_config c;
	base_cfg(&c);
	for (uint32_t m = 1; m < 68; m++) {
		c.mtu = m;
		assert_int_equal(try_open(&c), -EINVAL);
	}
	c.mtu = 68;
	assert_int_equal(try_open(&c), 0);
	/* The device's MTU counts the same when the configuration leaves it (0). */
	c.mtu = 0;
	assert_int_equal(try_open_mtu(&c, 67), -EINVAL);
	assert_int_equal(try_open_mtu(&c, 68), 0);
}

static void ipv6_cfg(struct sl_stack_config *c)
{
	base_cfg(c);
	assert_int_equal(sl_ip_parse("fd00::1", &c->addrs[0].addr), 0);
	c->addrs[0].prefix_len = 64;
}

static void test_open_mtu_ipv6_minimum_1280(void **state)
{
	struct sl_stack_config c;
	ipv6_cfg(&c);
	c.mtu = 1279;
	assert_int_equal(try_open(&c), -EINVAL);
	c.mtu = 576;
	assert_int_equal(try_open(&c), -EINVAL);
	c.mtu = 1280;
	assert_int_equal(try_open(&c), 0);
	c.mtu = 0;
	assert_int_equal(try_open_mtu(&c, 1279), -EINVAL);
	assert_int_equal(try_open_mtu(&c, 1280), 0);
	/* Both families: the IPv6 minimum. */
	base_cfg(&c);
	assert_int_equal(sl_ip_parse("fd00::1", &c.addrs[1].addr), 0);
	c.addrs[1].prefix_len = 64;
	c.n_addrs = 2;
	c.mtu = 1000;
	assert_int_equal(try_open(&c), -EINVAL);
	/* IPv4 only: 576 is fine. */
	base_cfg(&c);
	c.mtu = 576;
	assert_int_equal(try_open(&c), 0);
}

/* An IPv6 address added later to a stack whose MTU is below 1280 is refused the same way,
 * and so is an IPv4 address on a stack opened without addresses and an MTU below 68. */
static void test_add_addr_checks_mtu(void **state)
{
	struct sl_stack_config c;
	base_cfg(&c);
	c.mtu = 1000;
	struct sl_dev *da, *db;
	struct sl_stack *st;
	assert_int_equal(sl_dev_pipe_pair(NULL, NULL, &da, &db), 0);
	assert_int_equal(sl_stack_open(da, &c, 1000 * MS, &st), 0);
	sl_ip a6;
	assert_int_equal(sl_ip_parse("fd00::1", &a6), 0);
	assert_int_equal(sl_ip_add_addr(st, &a6, 64), -EINVAL);
	sl_ip a4 = sl_ip_v4(PN_IP_A + 10);
	assert_int_equal(sl_ip_add_addr(st, &a4, 24), 0);
	sl_stack_close(st);
	pn_close_counted(da, db);
}

/* The reasons for the MTU say which rule, for `sluice run` to print. */
static void test_config_check_mtu_reasons(void **state)
{
	struct sl_stack_config c;
	char why[200];
	base_cfg(&c);
	c.mtu = 24;
	assert_int_equal(sl_stack_config_check(&c, 1500, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "below 68"));
	c.mtu = 0;
	assert_int_equal(sl_stack_config_check(&c, 60, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "the device's mtu 60"));
	c.mtu = 1600;
	assert_int_equal(sl_stack_config_check(&c, 1500, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "above the device's (1500)"));
	assert_int_equal(sl_stack_config_check(&c, 0, why, sizeof why), 0); /* no device */
	ipv6_cfg(&c);
	c.mtu = 0;
	assert_int_equal(sl_stack_config_check(&c, 1000, why, sizeof why), -EINVAL);
	assert_non_null(strstr(why, "below 1280"));
}

static void test_open_mtu_above_device(void **state)
{
	struct sl_stack_config c;
	base_cfg(&c);
	c.mtu = 1501;
	assert_int_equal(try_open(&c), -EINVAL);
	c.mtu = 9000;
	assert_int_equal(try_open(&c), -EINVAL);
	c.mtu = 1500;
	assert_int_equal(try_open(&c), 0);
	c.mtu = 0;
	assert_int_equal(try_open(&c), 0);
}

/* Every other limit: one refused value per line, and the edge that is accepted. */
#define SET(id, stmt)                                                                              \
	static void set_##id(struct sl_stack_config *c)                                            \
	{                                                                                          \
		stmt;                                                                              \
	}
SET(arp_cache_0, c->arp_cache_size = 0)
SET(arp_cache_huge, c->arp_cache_size = (1u << 16) + 1)
SET(arp_pending_entry_0, c->arp_pending_per_entry = 0)
SET(arp_pending_entry_49, c->arp_pending_per_entry = 49)
SET(arp_pending_total_0, c->arp_pending_total = 0)
SET(arp_pending_total_huge, c->arp_pending_total = (1u << 16) + 1)
SET(arp_reachable_0, c->arp_reachable_ns = 0)
SET(arp_reachable_huge, c->arp_reachable_ns = 31 * 86400 * SEC)
SET(arp_retry_0, c->arp_retry_ns = 0)
SET(arp_retry_huge, c->arp_retry_ns = UINT64_MAX)
SET(arp_retries_0, c->arp_retries = 0)
SET(arp_retries_256, c->arp_retries = 256) /* the entry counts in 8 bits: it never gave up */
SET(reasm_max_0, c->reasm_max_datagrams = 0)
SET(reasm_max_huge, c->reasm_max_datagrams = (1u << 16) + 1)
SET(reasm_mem_small, c->reasm_mem = 4095)
SET(reasm_mem_huge, c->reasm_mem = (1u << 30) + 1)
SET(reasm_src_small, c->reasm_mem_per_src = 4095)
SET(reasm_src_huge, c->reasm_mem_per_src = (1u << 30) + 1)
SET(reasm_per_src_0, c->reasm_max_per_src = 0)
SET(reasm_per_src_huge, c->reasm_max_per_src = (1u << 16) + 1)
SET(reasm_timeout_0, c->reasm_timeout_ns = 0)
SET(reasm_timeout_huge, c->reasm_timeout_ns = 31 * 86400 * SEC)
SET(udp_socks_0, c->udp_max_sockets = 0)
SET(udp_socks_huge, c->udp_max_sockets = 65537)
SET(udp_rcvbuf_0, c->udp_rcvbuf = 0)
SET(udp_rcvbuf_huge, c->udp_rcvbuf = (1u << 30) + 1)
SET(tcp_conns_0, c->tcp_max_conns = 0)
SET(tcp_conns_huge, c->tcp_max_conns = 0x80000001u) /* the bucket count loop never ended */
SET(tcp_sndbuf_odd, c->tcp_sndbuf = 100000)
SET(tcp_sndbuf_small, c->tcp_sndbuf = 2048)
SET(tcp_sndbuf_huge, c->tcp_sndbuf = 1u << 31)
SET(tcp_rcvbuf_odd, c->tcp_rcvbuf = 100000)
SET(tcp_rcvbuf_small, c->tcp_rcvbuf = 2048)
SET(tcp_rcvbuf_huge, c->tcp_rcvbuf = 1u << 31) /* beyond what a window scale of 14 covers */
SET(tcp_backlog_0, c->tcp_backlog = 0)
SET(tcp_backlog_huge, c->tcp_backlog = (1u << 24) + 1)
SET(tcp_msl_0, c->tcp_msl_ns = 0)
SET(tcp_msl_huge, c->tcp_msl_ns = 31 * 86400 * SEC)
SET(tcp_rto_min_0, c->tcp_rto_min_ns = 0)
SET(tcp_rto_min_gt_max,
    (c->tcp_rto_min_ns = 2 * SEC, c->tcp_rto_max_ns = 1 * SEC, c->tcp_rto_initial_ns = 1 * SEC))
SET(tcp_rto_max_huge, c->tcp_rto_max_ns = 31 * 86400 * SEC)
SET(tcp_rto_initial_0, c->tcp_rto_initial_ns = 0)
SET(tcp_rto_initial_lt_min, c->tcp_rto_initial_ns = 100 * MS)
SET(tcp_rto_initial_gt_max, c->tcp_rto_initial_ns = 61 * SEC)
SET(tcp_max_retries_0, c->tcp_max_retries = 0)
SET(tcp_max_retries_huge, c->tcp_max_retries = 256)
SET(tcp_syn_retries_0, c->tcp_syn_retries = 0)
SET(tcp_syn_retries_huge, c->tcp_syn_retries = 256)
SET(tcp_delack_500ms, c->tcp_delack_ns = 500 * MS) /* RFC 1122 §4.2.3.2: less than 0.5 s */
SET(tcp_iw_0, c->tcp_initial_window = 0)
SET(tcp_iw_huge, c->tcp_initial_window = 1001)
SET(tcp_challenge_huge, c->tcp_challenge_rate = 1000001)
SET(tcp_oow_huge, c->tcp_oow_ack_ns = 31 * 86400 * SEC)
SET(tcp_cc_unknown, c->tcp_cc = "vegas")
SET(tcp_syncookies_3, c->tcp_syncookies = 3)
SET(icmp_burst_0, c->icmp_burst = 0) /* with a rate: no error could ever be sent */
SET(icmp_burst_huge, c->icmp_burst = 1000001)
SET(icmp_rate_huge, c->icmp_rate = 1000000001)
SET(n_addrs_9, c->n_addrs = 9)
SET(gateway_multicast, sl_ip_parse("ff02::1", &c->gateway))
SET(gateway6_v4, c->gateway6 = sl_ip_v4(PN_IP_B))
/* An IPv4 next hop must be a unicast host (RFC 1122 §3.3.1.1), as sl_ip_set_gateway says. */
SET(gateway4_multicast, c->gateway = sl_ip_v4(0xe0000001u))
SET(gateway4_limited_bcast, c->gateway = sl_ip_v4(0xffffffffu))
SET(gateway4_loopback, c->gateway = sl_ip_v4(0x7f000001u))
SET(gateway4_this_net, c->gateway = sl_ip_v4(0x00000001u))

/* Accepted edges. */
SET(ok_arp_cache_max, c->arp_cache_size = 1u << 16)
SET(ok_arp_pending, (c->arp_pending_per_entry = 1, c->arp_pending_total = 1))
SET(ok_arp_pending_max, c->arp_pending_total = 1u << 16)
SET(ok_arp_retries, c->arp_retries = 255)
SET(ok_arp_retries_1, c->arp_retries = 1)
SET(ok_reasm_small, (c->reasm_max_datagrams = 1, c->reasm_mem = 4096, c->reasm_mem_per_src = 4096,
		     c->reasm_max_per_src = 1))
SET(ok_reasm_large, (c->reasm_max_datagrams = 1u << 16, c->reasm_mem = 1u << 30,
		     c->reasm_mem_per_src = 1u << 30, c->reasm_max_per_src = 1u << 16))
SET(ok_durations_max, (c->arp_reachable_ns = 30 * 86400 * SEC, c->arp_retry_ns = 1,
		       c->reasm_timeout_ns = 30 * 86400 * SEC, c->tcp_msl_ns = 1,
		       c->tcp_rto_max_ns = 30 * 86400 * SEC, c->tcp_oow_ack_ns = 0))
SET(ok_udp, (c->udp_max_sockets = 65536, c->udp_rcvbuf = 1))
SET(ok_tcp_small, (c->tcp_max_conns = 1, c->tcp_backlog = 1, c->tcp_sndbuf = 4096,
		   c->tcp_rcvbuf = 4096, c->tcp_max_retries = 1, c->tcp_syn_retries = 1))
SET(ok_tcp_bufs_max, (c->tcp_sndbuf = 1u << 30, c->tcp_rcvbuf = 1u << 30))
SET(ok_tcp_rto_equal,
    (c->tcp_rto_min_ns = 1 * SEC, c->tcp_rto_max_ns = 1 * SEC, c->tcp_rto_initial_ns = 1 * SEC))
SET(ok_tcp_misc, (c->tcp_delack_ns = 0, c->tcp_initial_window = 1, c->tcp_challenge_rate = 0,
		  c->tcp_syncookies = 2, c->tcp_cc = NULL))
SET(ok_tcp_delack_max, c->tcp_delack_ns = 500 * MS - 1)
SET(ok_icmp_off, (c->icmp_rate = 0, c->icmp_burst = 0))
SET(ok_icmp_max, (c->icmp_rate = 1000000000, c->icmp_burst = 1000000))
SET(ok_ttl_default, c->ttl = 0)

struct cfg_case {
	const char *what;
	void (*set)(struct sl_stack_config *);
	const char *field; /* the reason names it */
};
/* clang-format off */
#define C(id) {#id, set_##id, NULL}
#define F(id, field) {#id, set_##id, field}
/* clang-format on */

static const struct cfg_case refused[] = {
    F(arp_cache_0, "arp_cache_size"),
    F(arp_cache_huge, "arp_cache_size"),
    F(arp_pending_entry_0, "arp_pending_per_entry"),
    F(arp_pending_entry_49, "arp_pending_per_entry"),
    F(arp_pending_total_0, "arp_pending_total"),
    F(arp_pending_total_huge, "arp_pending_total"),
    F(arp_reachable_0, "arp_reachable_ns"),
    F(arp_reachable_huge, "arp_reachable_ns"),
    F(arp_retry_0, "arp_retry_ns"),
    F(arp_retry_huge, "arp_retry_ns"),
    F(arp_retries_0, "arp_retries"),
    F(arp_retries_256, "arp_retries"),
    F(reasm_max_0, "reasm_max_datagrams"),
    F(reasm_max_huge, "reasm_max_datagrams"),
    F(reasm_mem_small, "reasm_mem"),
    F(reasm_mem_huge, "reasm_mem"),
    F(reasm_src_small, "reasm_mem_per_src"),
    F(reasm_src_huge, "reasm_mem_per_src"),
    F(reasm_per_src_0, "reasm_max_per_src"),
    F(reasm_per_src_huge, "reasm_max_per_src"),
    F(reasm_timeout_0, "reasm_timeout_ns"),
    F(reasm_timeout_huge, "reasm_timeout_ns"),
    F(udp_socks_0, "udp_max_sockets"),
    F(udp_socks_huge, "udp_max_sockets"),
    F(udp_rcvbuf_0, "udp_rcvbuf"),
    F(udp_rcvbuf_huge, "udp_rcvbuf"),
    F(tcp_conns_0, "tcp_max_conns"),
    F(tcp_conns_huge, "tcp_max_conns"),
    F(tcp_sndbuf_odd, "tcp_sndbuf"),
    F(tcp_sndbuf_small, "tcp_sndbuf"),
    F(tcp_sndbuf_huge, "tcp_sndbuf"),
    F(tcp_rcvbuf_odd, "tcp_rcvbuf"),
    F(tcp_rcvbuf_small, "tcp_rcvbuf"),
    F(tcp_rcvbuf_huge, "tcp_rcvbuf"),
    F(tcp_backlog_0, "tcp_backlog"),
    F(tcp_backlog_huge, "tcp_backlog"),
    F(tcp_msl_0, "tcp_msl_ns"),
    F(tcp_msl_huge, "tcp_msl_ns"),
    F(tcp_rto_min_0, "tcp_rto_min_ns"),
    F(tcp_rto_min_gt_max, "tcp_rto_max_ns"),
    F(tcp_rto_max_huge, "tcp_rto_max_ns"),
    F(tcp_rto_initial_0, "tcp_rto_initial_ns"),
    F(tcp_rto_initial_lt_min, "tcp_rto_initial_ns"),
    F(tcp_rto_initial_gt_max, "tcp_rto_initial_ns"),
    F(tcp_max_retries_0, "tcp_max_retries"),
    F(tcp_max_retries_huge, "tcp_max_retries"),
    F(tcp_syn_retries_0, "tcp_syn_retries"),
    F(tcp_syn_retries_huge, "tcp_syn_retries"),
    F(tcp_delack_500ms, "tcp_delack_ns"),
    F(tcp_iw_0, "tcp_initial_window"),
    F(tcp_iw_huge, "tcp_initial_window"),
    F(tcp_challenge_huge, "tcp_challenge_rate"),
    F(tcp_oow_huge, "tcp_oow_ack_ns"),
    F(tcp_cc_unknown, "tcp_cc"),
    F(tcp_syncookies_3, "tcp_syncookies"),
    F(icmp_burst_0, "icmp_burst"),
    F(icmp_burst_huge, "icmp_burst"),
    F(icmp_rate_huge, "icmp_rate"),
    F(n_addrs_9, "n_addrs"),
    F(gateway_multicast, "gateway"),
    F(gateway6_v4, "gateway6"),
    F(gateway4_multicast, "gateway"),
    F(gateway4_limited_bcast, "gateway"),
    F(gateway4_loopback, "gateway"),
    F(gateway4_this_net, "gateway"),
};

static const struct cfg_case accepted[] = {
    C(ok_arp_cache_max), C(ok_arp_pending),    C(ok_arp_pending_max), C(ok_arp_retries),
    C(ok_arp_retries_1), C(ok_reasm_small),    C(ok_reasm_large),     C(ok_durations_max),
    C(ok_udp),		 C(ok_tcp_small),      C(ok_tcp_bufs_max),    C(ok_tcp_rto_equal),
    C(ok_tcp_misc),	 C(ok_tcp_delack_max), C(ok_icmp_off),	      C(ok_icmp_max),
    C(ok_ttl_default),
};

static void test_open_refuses_out_of_range(void **state)
{
	unsigned bad = 0;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct sl_stack_config c;
		base_cfg(&c);
		refused[i].set(&c);
		int err = try_open_bounded(&c);
		if (err != -EINVAL) {
			print_message("%s: sl_stack_open returned %d, not -EINVAL\n",
				      refused[i].what, err);
			bad++;
		}
		/* The reason is one line that names the field. */
		char why[200] = "";
		assert_int_equal(sl_stack_config_check(&c, 1500, why, sizeof why), -EINVAL);
		if (!strstr(why, refused[i].field) || strchr(why, '\n')) {
			print_message("%s: reason \"%s\" does not name %s\n", refused[i].what, why,
				      refused[i].field);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_open_accepts_range_edges(void **state)
{
	unsigned bad = 0;
	for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		struct sl_stack_config c;
		base_cfg(&c);
		accepted[i].set(&c);
		int err = try_open_bounded(&c);
		if (err) {
			print_message("%s: sl_stack_open returned %d\n", accepted[i].what, err);
			bad++;
		}
		assert_int_equal(sl_stack_config_check(&c, 1500, NULL, 0), 0);
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_mtu_24_does_not_loop),
	    cmocka_unit_test(test_open_mtu_ipv4_minimum_68),
	    cmocka_unit_test(test_open_mtu_ipv6_minimum_1280),
	    cmocka_unit_test(test_add_addr_checks_mtu),
	    cmocka_unit_test(test_open_mtu_above_device),
	    cmocka_unit_test(test_config_check_mtu_reasons),
	    cmocka_unit_test(test_open_refuses_out_of_range),
	    cmocka_unit_test(test_open_accepts_range_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
