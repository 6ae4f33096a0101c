/*
 * sluice-relay IF_A IF_B [options]: a transparent L2 bridge between two interfaces that adds
 * WAN impairments (delay, jitter, loss, Gilbert-Elliott bursts, reordering, duplication, a
 * rate limit with a bounded queue) per direction. Made for the tests and benchmarks, where
 * the kernel has no netem. docs/relay.md has the model, the options and the measurements.
 *
 * I/O: one AF_PACKET socket per interface with a TPACKET_V2 RX ring (a frame is visible the
 * moment the kernel writes it, unlike V3's block timeout, which would add up to its timeout
 * to every delay) and PACKET_IGNORE_OUTGOING (the relay never sees its own transmissions).
 * Frames are copied from the ring into a preallocated pool, held by the model (impair.c) and
 * sent with sendmmsg in batches. One thread; it sleeps in ppoll until the next departure.
 */
#include "relay.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROG "sluice-relay"
#define TX_BATCH 64
#define RX_BUDGET 256	    /* frames taken from one ring before looking at the other */
#define TX_ROUNDS 8	    /* sendmmsg batches per direction per loop iteration */
#define VLAN_ROOM 8	    /* two 802.1Q tags on top of the MTU */
#define RING_NETOFF_MAX 128 /* room before the frame in a TPACKET_V2 slot */

/* --- options --------------------------------------------------------------------------- */

enum kind { K_MS, K_PCT, K_GE, K_RATE, K_COUNT, K_BYTES };

/* The impairment options; each exists as --NAME (both directions), --NAME-ab, --NAME-ba. */
static const struct dopt {
	const char *name;
	enum kind kind;
	const char *arg;
	const char *help;
} dopts[] = {
    {"delay", K_MS, "MS", "one-way delay in milliseconds (fractions allowed)"},
    {"jitter", K_MS, "MS", "uniform jitter: each frame's delay is in [delay-MS, delay+MS]"},
    {"loss", K_PCT, "PCT", "random (Bernoulli) loss, percent of frames"},
    {"ge", K_GE, "P,R[,BAD[,GOOD]]",
     "Gilbert-Elliott burst loss, percents: P good->bad, R bad->good (default 100),\n"
     "                       BAD loss in the bad state (1-h, default 100), GOOD loss in the\n"
     "                       good state (1-k, default 0)"},
    {"reorder", K_PCT, "PCT", "percent of frames sent with --reorder-delay instead of --delay"},
    {"reorder-delay", K_MS, "MS",
     "delay of reordered frames (default 0: they overtake the frames in flight;\n"
     "                       above --delay they fall behind instead)"},
    {"dup", K_PCT, "PCT", "percent of frames duplicated (the copy gets its own jitter)"},
    {"rate", K_RATE, "RATE",
     "rate limit in bits/s, suffixes k m g (x1000): 1g, 500m, 2.5g; 0: none"},
    {"limit", K_COUNT, "FRAMES", "bottleneck queue bound in frames (with --rate; default 1000)"},
    {"limit-bytes", K_BYTES, "BYTES", "bottleneck queue bound in bytes, suffixes k m (x1024)"},
    {"overhead", K_COUNT, "BYTES",
     "bytes added to each frame for the rate (24: preamble, FCS and gap)"},
};
#define N_DOPTS (sizeof(dopts) / sizeof(dopts[0]))

/* An impairment option as given, per direction, before conversion. */
struct dir_opts {
	double v[N_DOPTS];   /* K_MS, K_PCT */
	uint64_t u[N_DOPTS]; /* K_RATE, K_COUNT, K_BYTES */
	double ge[4];	     /* P, R, BAD, GOOD percents */
	bool given[N_DOPTS];
	bool explicit[N_DOPTS]; /* given as --NAME-ab / --NAME-ba, not through --NAME */
};

struct opts {
	const char *ifname[2];
	struct dir_opts dir[2]; /* 0: a->b, 1: b->a */
	bool impair_all;
	bool no_xdp;
	uint32_t max_frames;
	uint32_t ring_frames;
	uint64_t seed;
	const char *stats_file;
	double stats_interval;
	double duration;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " IF_A IF_B [options]\n"
	    "\n"
	    "Forward every Ethernet frame between IF_A and IF_B (a transparent bridge) and impair\n"
	    "them on the way: frames received on IF_A leave on IF_B (direction ab), frames\n"
	    "received on IF_B leave on IF_A (ba). Only IPv4 and IPv6 frames are impaired unless\n"
	    "--impair-all; ARP and other frames are forwarded at once. Runs until SIGINT or\n"
	    "SIGTERM (or --duration), then prints one JSON line of counters per direction on\n"
	    "stdout and exits 0. Needs TSO/GSO off on the senders and GRO off on IF_A/IF_B\n"
	    "(frames above the MTU are dropped and counted): see docs/relay.md.\n"
	    "\n"
	    "Impairments (each also as --NAME-ab and --NAME-ba for one direction; options\n"
	    "apply in the order given, so --delay 5 --delay-ba 20 sets ab 5 ms and ba 20 ms):\n");
	for (size_t i = 0; i < N_DOPTS; i++) {
		char head[64];
		snprintf(head, sizeof(head), "--%s %s", dopts[i].name, dopts[i].arg);
		if (strlen(head) > 21)
			fprintf(f, "  %s\n  %-21s%s\n", head, "", dopts[i].help);
		else
			fprintf(f, "  %-21s%s\n", head, dopts[i].help);
	}
	fprintf(
	    f,
	    "\n"
	    "General:\n"
	    "  --impair-all         impair every frame, ARP included (default: IPv4/IPv6 only)\n"
	    "  --no-xdp             do not attach the pass-through XDP program that keeps veth\n"
	    "                       ports delivering frames in order (see docs/relay.md)\n"
	    "  --max-frames N       frames the relay may hold in all, both directions (default\n"
	    "                       65536); a frame that finds the pool empty is dropped and\n"
	    "                       counted (dropped_pool)\n"
	    "  --ring-frames N      slots of each interface's RX ring (default 8192)\n"
	    "  --seed N             seed of the random decisions (default 1): same seed and same\n"
	    "                       frames, same decisions\n"
	    "  --stats-file PATH    rewrite PATH with the counters (the JSON lines) periodically\n"
	    "  --stats-interval S   seconds between rewrites (default 1)\n"
	    "  --duration S         stop after S seconds, as on SIGTERM\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Counters (per direction): received, forwarded, passed (forwarded unimpaired, "
	    "non-IP),\n"
	    "duplicated, reordered, dropped_loss, dropped_queue (bottleneck tail drop),\n"
	    "dropped_oversize (above the MTU), dropped_pool (pool empty), dropped_tx (the kernel\n"
	    "refused to send), dropped_exit (still held at exit), csum_partial (forwarded with\n"
	    "an unfinished checksum), rx_ring_drops (lost in the RX ring, never received),\n"
	    "max_queue_frames/bytes (bottleneck queue), max_held_frames/bytes (all held).\n"
	    "received + duplicated = forwarded + dropped_loss + dropped_queue + dropped_oversize\n"
	    "+ dropped_pool + dropped_tx + dropped_exit.\n");
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static double parse_num(const char *opt, const char *s, double lo, double hi, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		die("--%s: '%s' is not %s", opt, s, what);
	return v;
}

/* "1g", "500m", "2.5g", "100000": bits/s, SI multipliers. */
static uint64_t parse_scaled(const char *opt, const char *s, double unit_k, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	double mul = 1;
	if (end != s && *end) {
		switch (*end) {
		case 'k':
		case 'K':
			mul = unit_k;
			break;
		case 'm':
		case 'M':
			mul = unit_k * unit_k;
			break;
		case 'g':
		case 'G':
			mul = unit_k * unit_k * unit_k;
			break;
		default:
			mul = 0;
		}
		end++;
	}
	if (errno || end == s || *end || !isfinite(v) || v < 0 || mul == 0 || v * mul > 1e15)
		die("--%s: '%s' is not %s", opt, s, what);
	return (uint64_t)llround(v * mul);
}

static void parse_ge(const char *opt, const char *s, double ge[4])
{
	double def[4] = {0, 100, 100, 0};
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		die("--%s: '%s' is too long", opt, s);
	strcpy(buf, s);
	int n = 0;
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == 4)
			die("--%s: '%s' has more than 4 values (P,R,BAD,GOOD)", opt, s);
		def[n++] = parse_num(opt, t, 0, 100, "a list of percentages (0-100)");
	}
	if (n == 0)
		die("--%s: '%s' needs at least P", opt, s);
	memcpy(ge, def, sizeof(def));
}

static void apply_dopt(struct dir_opts *d, size_t i, const char *optname, const char *arg,
		       bool explicit)
{
	d->given[i] = true;
	d->explicit[i] = explicit;
	switch (dopts[i].kind) {
	case K_MS:
		d->v[i] = parse_num(optname, arg, 0, 1e6, "a delay in milliseconds (0-1000000)");
		break;
	case K_PCT:
		d->v[i] = parse_num(optname, arg, 0, 100, "a percentage (0-100)");
		break;
	case K_GE:
		parse_ge(optname, arg, d->ge);
		break;
	case K_RATE:
		d->u[i] = parse_scaled(optname, arg, 1000, "a rate in bits/s (e.g. 1g, 500m)");
		break;
	case K_COUNT:
		d->u[i] =
		    (uint64_t)parse_num(optname, arg, 0, 1 << 24, "a whole number (0-16777216)");
		if ((double)d->u[i] != strtod(arg, NULL))
			die("--%s: '%s' is not a whole number", optname, arg);
		break;
	case K_BYTES:
		d->u[i] = parse_scaled(optname, arg, 1024, "a size in bytes (e.g. 64k, 1m)");
		break;
	}
}

static size_t dopt_index(const char *name)
{
	for (size_t i = 0; i < N_DOPTS; i++)
		if (!strcmp(dopts[i].name, name))
			return i;
	abort();
}

enum {
	O_IMPAIR_ALL = 256,
	O_NO_XDP,
	O_MAX_FRAMES,
	O_RING_FRAMES,
	O_SEED,
	O_STATS_FILE,
	O_STATS_INTERVAL,
	O_DURATION,
	O_DIR_BASE = 1024, /* + 3 * dopt index + variant (0 both, 1 ab, 2 ba) */
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static char names[N_DOPTS * 3][40];
	struct option lo[N_DOPTS * 3 + 16];
	size_t n = 0;
	for (size_t i = 0; i < N_DOPTS; i++) {
		static const char *sfx[3] = {"", "-ab", "-ba"};
		for (int v = 0; v < 3; v++) {
			snprintf(names[3 * i + v], sizeof(names[0]), "%s%s", dopts[i].name, sfx[v]);
			lo[n++] = (struct option){names[3 * i + v], required_argument, NULL,
						  O_DIR_BASE + (int)(3 * i) + v};
		}
	}
	lo[n++] = (struct option){"impair-all", no_argument, NULL, O_IMPAIR_ALL};
	lo[n++] = (struct option){"no-xdp", no_argument, NULL, O_NO_XDP};
	lo[n++] = (struct option){"max-frames", required_argument, NULL, O_MAX_FRAMES};
	lo[n++] = (struct option){"ring-frames", required_argument, NULL, O_RING_FRAMES};
	lo[n++] = (struct option){"seed", required_argument, NULL, O_SEED};
	lo[n++] = (struct option){"stats-file", required_argument, NULL, O_STATS_FILE};
	lo[n++] = (struct option){"stats-interval", required_argument, NULL, O_STATS_INTERVAL};
	lo[n++] = (struct option){"duration", required_argument, NULL, O_DURATION};
	lo[n++] = (struct option){"help", no_argument, NULL, 'h'};
	lo[n++] = (struct option){0};

	memset(o, 0, sizeof(*o));
	o->max_frames = 65536;
	o->ring_frames = 8192;
	o->seed = 1;
	o->stats_interval = 1;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(0);
		case O_IMPAIR_ALL:
			o->impair_all = true;
			break;
		case O_NO_XDP:
			o->no_xdp = true;
			break;
		case O_MAX_FRAMES:
			o->max_frames = (uint32_t)parse_num("max-frames", optarg, 1, 1 << 24,
							    "a frame count (1-16777216)");
			break;
		case O_RING_FRAMES:
			o->ring_frames = (uint32_t)parse_num("ring-frames", optarg, 64, 1 << 20,
							     "a slot count (64-1048576)");
			break;
		case O_SEED: {
			char *end;
			errno = 0;
			o->seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end)
				die("--seed: '%s' is not a number", optarg);
			break;
		}
		case O_STATS_FILE:
			o->stats_file = optarg;
			break;
		case O_STATS_INTERVAL:
			o->stats_interval = parse_num("stats-interval", optarg, 0.01, 3600,
						      "a number of seconds (0.01-3600)");
			break;
		case O_DURATION:
			o->duration =
			    parse_num("duration", optarg, 0.001, 1e7, "a number of seconds");
			break;
		case '?':
			if (optopt)
				die("unknown option or missing value near '%s' (see --help)",
				    argv[optind - 1]);
			die("unknown option '%s' (see --help)", argv[optind - 1]);
		default: {
			int k = c - O_DIR_BASE;
			size_t i = (size_t)k / 3;
			int v = k % 3;
			if (v == 0 || v == 1)
				apply_dopt(&o->dir[0], i, names[k], optarg, v != 0);
			if (v == 0 || v == 2)
				apply_dopt(&o->dir[1], i, names[k], optarg, v != 0);
		}
		}
	}
	if (argc - optind != 2)
		die("needs two interfaces: " PROG " IF_A IF_B [options] (see --help)");
	o->ifname[0] = argv[optind];
	o->ifname[1] = argv[optind + 1];
	if (!strcmp(o->ifname[0], o->ifname[1]))
		die("%s: IF_A and IF_B must be different interfaces", o->ifname[0]);
}

/* Converts one direction's options; `dir` names it in errors. A queue option given for both
 * directions (--limit) applies where there is a rate; given for this one (--limit-ab), it
 * needs a rate here. any_rate: some direction has a rate. */
static void to_cfg(const struct dir_opts *d, const char *dir, bool any_rate, struct imp_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->delay_ns = (uint64_t)llround(d->v[dopt_index("delay")] * 1e6);
	c->jitter_ns = (uint64_t)llround(d->v[dopt_index("jitter")] * 1e6);
	c->reorder_delay_ns = (uint64_t)llround(d->v[dopt_index("reorder-delay")] * 1e6);
	c->loss = d->v[dopt_index("loss")] / 100;
	c->dup = d->v[dopt_index("dup")] / 100;
	c->reorder = d->v[dopt_index("reorder")] / 100;
	if (d->given[dopt_index("ge")]) {
		c->ge = true;
		c->ge_p = d->ge[0] / 100;
		c->ge_r = d->ge[1] / 100;
		c->ge_bad_loss = d->ge[2] / 100;
		c->ge_good_loss = d->ge[3] / 100;
	}
	c->rate_bps = d->u[dopt_index("rate")];
	size_t li = dopt_index("limit"), lb = dopt_index("limit-bytes");
	c->limit_pkts = d->given[li] ? (uint32_t)d->u[li] : 1000;
	c->limit_bytes = d->u[lb];
	c->overhead = (uint32_t)d->u[dopt_index("overhead")];
	size_t oh = dopt_index("overhead");
	for (size_t q = 0; q < N_DOPTS && !c->rate_bps; q++)
		if ((q == li || q == lb || q == oh) && d->given[q] && (d->explicit[q] || !any_rate))
			die("direction %s: --%s needs --rate", dir, dopts[q].name);
	if (c->rate_bps && c->limit_pkts == 0)
		die("direction %s: --limit must be at least 1", dir);
	if (c->reorder == 0 && d->given[dopt_index("reorder-delay")] && c->reorder_delay_ns)
		die("direction %s: --reorder-delay needs --reorder", dir);
}

/* --- interfaces ------------------------------------------------------------------------- */

struct port {
	const char *name;
	int ifindex;
	int fd;
	unsigned mtu;
	uint8_t *ring;
	size_t ring_len;
	uint32_t frame_size, frames_per_block, block_size, frame_nr;
	uint32_t rx_head;
	bool tx_blocked; /* sendmmsg said EAGAIN: wait for POLLOUT */
	bool is_veth;
	int xdp_link; /* the pass-through XDP program's link, -1 when none */
};

static void port_probe(struct port *pt, const char *name)
{
	memset(pt, 0, sizeof(*pt));
	pt->name = name;
	pt->fd = -1;
	if (strlen(name) >= IFNAMSIZ)
		die("%s: interface name too long", name);
	pt->ifindex = (int)if_nametoindex(name);
	if (!pt->ifindex)
		die("%s: no such interface", name);
	/* Protocol 0: the socket receives nothing until it is bound with ETH_P_ALL, after its
	 * ring exists, so no frame of another interface slips in meanwhile. */
	pt->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (pt->fd < 0)
		die("%s: AF_PACKET socket: %s%s", name, strerror(errno),
		    errno == EPERM ? " (needs CAP_NET_RAW: run as root)" : "");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, name);
	if (ioctl(pt->fd, SIOCGIFHWADDR, &ifr) < 0)
		die("%s: SIOCGIFHWADDR: %s", name, strerror(errno));
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		die("%s: not an Ethernet interface", name);
	if (ioctl(pt->fd, SIOCGIFFLAGS, &ifr) < 0)
		die("%s: SIOCGIFFLAGS: %s", name, strerror(errno));
	if (!(ifr.ifr_flags & IFF_UP))
		die("%s: interface is down (ip link set %s up)", name, name);
	if (ioctl(pt->fd, SIOCGIFMTU, &ifr) < 0)
		die("%s: SIOCGIFMTU: %s", name, strerror(errno));
	pt->mtu = (unsigned)ifr.ifr_mtu;
	struct ethtool_drvinfo di = {.cmd = ETHTOOL_GDRVINFO};
	ifr.ifr_data = (void *)&di;
	pt->is_veth = ioctl(pt->fd, SIOCETHTOOL, &ifr) == 0 && !strcmp(di.driver, "veth");
	pt->xdp_link = -1;
}

/*
 * A veth hands each frame to the backlog of the CPU that sent it, and a kernel TCP sender
 * transmits from two CPUs (its process, and the softirq that takes ACKs): without help, the
 * frames of one flow reach the relay slightly reordered (the sender's TCPSACKReorder counts
 * it). With any XDP program attached, veth queues frames in one ring served by NAPI, in the
 * order they were sent. So the relay attaches "return XDP_PASS" through a BPF link, which the
 * kernel removes when the relay exits, however it exits. Returns 0 or a negative errno.
 */
static int port_xdp_pass(struct port *pt)
{
	struct bpf_insn prog[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
	    {.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)prog;
	a.insn_cnt = 2;
	a.license = (uintptr_t) "GPL";
	memcpy(a.prog_name, "relay_pass", sizeof("relay_pass"));
	/* Multi-buffer aware, so veth accepts it above a page-sized MTU (jumbo frames). */
	a.prog_flags = BPF_F_XDP_HAS_FRAGS;
	int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (pfd < 0 && errno == EINVAL) {
		a.prog_flags = 0; /* kernels before 5.18 */
		pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	}
	if (pfd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)pfd;
	a.link_create.target_ifindex = (uint32_t)pt->ifindex;
	a.link_create.attach_type = BPF_XDP;
	pt->xdp_link = (int)syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	int err = pt->xdp_link < 0 ? -errno : 0;
	close(pfd); /* the link keeps the program */
	return err;
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

static void port_open(struct port *pt, uint32_t frame_cap, uint32_t ring_frames)
{
	const char *name = pt->name;
	int v = TPACKET_V2;
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0)
		die("%s: PACKET_VERSION: %s", name, strerror(errno));
	/* A slot holds its tpacket2_hdr, the sockaddr_ll and the frame from tp_mac on. */
	pt->frame_size = align_up(RING_NETOFF_MAX + frame_cap, TPACKET_ALIGNMENT);
	pt->block_size = (uint32_t)sysconf(_SC_PAGESIZE);
	while (pt->block_size < 16 * pt->frame_size && pt->block_size < (1u << 22))
		pt->block_size <<= 1;
	while (pt->block_size < pt->frame_size)
		pt->block_size <<= 1;
	pt->frames_per_block = pt->block_size / pt->frame_size;
	uint32_t blocks = (ring_frames + pt->frames_per_block - 1) / pt->frames_per_block;
	pt->frame_nr = blocks * pt->frames_per_block;
	struct tpacket_req req = {.tp_block_size = pt->block_size,
				  .tp_block_nr = blocks,
				  .tp_frame_size = pt->frame_size,
				  .tp_frame_nr = pt->frame_nr};
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		die("%s: PACKET_RX_RING (%u slots of %u bytes): %s", name, pt->frame_nr,
		    pt->frame_size, strerror(errno));
	pt->ring_len = (size_t)blocks * pt->block_size;
	pt->ring = mmap(NULL, pt->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, pt->fd, 0);
	if (pt->ring == MAP_FAILED)
		die("%s: mmap of the RX ring: %s", name, strerror(errno));
	int one = 1;
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		die("%s: PACKET_IGNORE_OUTGOING: %s", name, strerror(errno));
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = pt->ifindex};
	if (bind(pt->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("%s: bind: %s", name, strerror(errno));
	/* A bridge port: frames for every MAC address. Undone by the kernel on close. */
	struct packet_mreq mr = {.mr_ifindex = pt->ifindex, .mr_type = PACKET_MR_PROMISC};
	if (setsockopt(pt->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		die("%s: promiscuous mode: %s", name, strerror(errno));
}

static struct tpacket2_hdr *slot(const struct port *pt, uint32_t i)
{
	uint32_t b = i / pt->frames_per_block, k = i % pt->frames_per_block;
	return (struct tpacket2_hdr *)(pt->ring + (size_t)b * pt->block_size +
				       (size_t)k * pt->frame_size);
}

/* Frames the kernel could not put in the ring since the last call. */
static uint64_t port_ring_drops(const struct port *pt)
{
	struct tpacket_stats s;
	socklen_t l = sizeof(s);
	if (getsockopt(pt->fd, SOL_PACKET, PACKET_STATISTICS, &s, &l) < 0)
		return 0;
	return s.tp_drops;
}

/* --- the relay ---------------------------------------------------------------------------- */

struct dir {
	const char *label; /* "ab" or "ba" */
	struct port *in, *out;
	struct imp_dir m;
	uint32_t pending[TX_BATCH]; /* popped, due, not yet accepted by the kernel */
	uint32_t npending;
	bool warned_oversize, warned_csum, warned_tx;
};

struct relay {
	struct opts o;
	struct port port[2];
	struct dir dir[2];
	struct imp_pool pool;
	uint8_t *scratch; /* one frame, for the unimpaired path */
	int stop_fd;	  /* eventfd written by the signal handler */
	uint64_t t0;
};

static volatile sig_atomic_t stop_flag;
static int stop_efd = -1;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
	uint64_t one = 1;
	ssize_t r = write(stop_efd, &one, sizeof(one));
	(void)r;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* IPv4 or IPv6, behind up to two VLAN tags (an accelerated tag is not in the bytes). */
static bool is_ip(const uint8_t *f, uint32_t len)
{
	uint32_t off = 12;
	if (len < 14)
		return false;
	uint16_t et = be16(f + off);
	for (int t = 0; t < 2 && (et == 0x8100 || et == 0x88a8) && off + 6 <= len; t++) {
		off += 4;
		et = be16(f + off);
	}
	return et == 0x0800 || et == 0x86dd;
}

/* Copies a received frame to dst, putting back the VLAN tag the kernel moved into the
 * slot's header (hardware-accelerated tags are not in the frame bytes AF_PACKET sees). */
static void copy_frame(uint8_t *dst, const uint8_t *src, uint32_t len, const struct tpacket2_hdr *h)
{
	if (!(h->tp_status & TP_STATUS_VLAN_VALID) || len < 12) {
		memcpy(dst, src, len);
		return;
	}
	uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->tp_vlan_tpid : 0x8100;
	memcpy(dst, src, 12);
	dst[12] = (uint8_t)(tpid >> 8);
	dst[13] = (uint8_t)tpid;
	dst[14] = (uint8_t)(h->tp_vlan_tci >> 8);
	dst[15] = (uint8_t)h->tp_vlan_tci;
	memcpy(dst + 16, src + 12, len - 12);
}

static void warn_once(bool *done, const char *fmt, ...)
{
	if (*done)
		return;
	*done = true;
	va_list ap;
	va_start(ap, fmt);
	fputs(PROG ": warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void rx_frame(struct relay *R, struct dir *d, const struct tpacket2_hdr *h, uint64_t now)
{
	const uint8_t *f = (const uint8_t *)h + h->tp_mac;
	uint32_t len = h->tp_len;
	bool vlan = h->tp_status & TP_STATUS_VLAN_VALID;
	uint32_t flen = len + (vlan ? 4 : 0);
	d->m.st.received++;

	/* What the kernel lets us send on the other side: its MTU plus one tag if tagged
	 * (packet_snd's rule); GSO/GRO super-frames end here, counted. */
	bool tagged = vlan || (len >= 14 && (be16(f + 12) == 0x8100 || be16(f + 12) == 0x88a8));
	if (h->tp_snaplen < len || flen > d->out->mtu + 14 + (tagged ? 4 : 0)) {
		d->m.st.dropped_oversize++;
		warn_once(&d->warned_oversize,
			  "%s: dropped a %u-byte frame, more than %s's MTU %u allows: turn off "
			  "TSO/GSO on the sender and GRO here (ethtool -K DEV tso off gso off gro "
			  "off); counted as dropped_oversize",
			  d->in->name, flen, d->out->name, d->out->mtu);
		return;
	}
	if (h->tp_status & TP_STATUS_CSUMNOTREADY) {
		/* Forwarded as it is; the receiver will find the checksum wrong. */
		d->m.st.csum_partial++;
		warn_once(&d->warned_csum,
			  "%s: frames arrive with unfinished checksums (CHECKSUM_PARTIAL): run "
			  "ethtool -K DEV tx off on the sender; counted as csum_partial",
			  d->in->name);
	}
	if (!R->o.impair_all && !is_ip(f, len)) {
		/* Unimpaired (ARP and the like): sent at once, ahead of the delayed frames. */
		const uint8_t *out = f;
		if (vlan) {
			copy_frame(R->scratch, f, len, h);
			out = R->scratch;
		}
		if (send(d->out->fd, out, flen, MSG_DONTWAIT) == (ssize_t)flen) {
			d->m.st.forwarded++;
			d->m.st.passed++;
		} else {
			warn_once(&d->warned_tx, "%s: send: %s; counted as dropped_tx",
				  d->out->name, strerror(errno));
			d->m.st.dropped_tx++;
		}
		return;
	}
	uint32_t idx[2];
	int n = imp_arrive(&d->m, &R->pool, now, flen, idx);
	for (int i = 0; i < n; i++)
		copy_frame(imp_frame(&R->pool, idx[i]), f, len, h);
}

/* Takes up to RX_BUDGET frames from d's receiving ring. Returns how many. */
static int rx_burst(struct relay *R, struct dir *d, uint64_t now)
{
	struct port *pt = d->in;
	int n = 0;
	while (n < RX_BUDGET) {
		struct tpacket2_hdr *h = slot(pt, pt->rx_head);
		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		rx_frame(R, d, h, now);
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		if (++pt->rx_head == pt->frame_nr)
			pt->rx_head = 0;
		n++;
	}
	return n;
}

/* Sends d's due frames in sendmmsg batches. Returns how many frames left the relay. */
static int tx_due(struct relay *R, struct dir *d, uint64_t now)
{
	struct mmsghdr msg[TX_BATCH];
	struct iovec iov[TX_BATCH];
	int done = 0;
	if (d->out->tx_blocked)
		return 0;
	for (int round = 0; round < TX_ROUNDS; round++) {
		int64_t i;
		while (d->npending < TX_BATCH && (i = imp_pop_due(&d->m, &R->pool, now)) >= 0)
			d->pending[d->npending++] = (uint32_t)i;
		if (!d->npending)
			break;
		memset(msg, 0, sizeof(msg[0]) * d->npending);
		for (uint32_t k = 0; k < d->npending; k++) {
			iov[k].iov_base = imp_frame(&R->pool, d->pending[k]);
			iov[k].iov_len = R->pool.len[d->pending[k]];
			msg[k].msg_hdr.msg_iov = &iov[k];
			msg[k].msg_hdr.msg_iovlen = 1;
		}
		uint32_t off = 0;
		while (off < d->npending) {
			int r = sendmmsg(d->out->fd, msg + off, d->npending - off, MSG_DONTWAIT);
			if (r > 0) {
				for (int k = 0; k < r; k++)
					imp_release(&d->m, &R->pool, d->pending[off + k]);
				d->m.st.forwarded += (uint64_t)r;
				off += (uint32_t)r;
				done += r;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				d->out->tx_blocked = true;
				break;
			} else if (errno != EINTR) {
				/* ENOBUFS: the receiving side's backlog is full, as a NIC's
				 * ring would be; anything else (link down) likewise drops. */
				warn_once(&d->warned_tx, "%s: send: %s; counted as dropped_tx",
					  d->out->name, strerror(errno));
				d->m.st.dropped_tx++;
				imp_release(&d->m, &R->pool, d->pending[off]);
				off++;
				done++;
			}
		}
		memmove(d->pending, d->pending + off, (d->npending - off) * sizeof(d->pending[0]));
		d->npending -= off;
		if (d->out->tx_blocked)
			break;
	}
	return done;
}

/* One direction's counters as a JSON line; elapsed_s (seconds since start) turns two
 * snapshots into rates. */
static int format_stats(const struct relay *R, const struct dir *d, char *buf, size_t cap)
{
	int n =
	    snprintf(buf, cap, "{\"dir\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"elapsed_s\":%.3f",
		     d->label, d->in->name, d->out->name, (double)(now_ns() - R->t0) * 1e-9);
#define X(name) n += snprintf(buf + n, cap - (size_t)n, ",\"" #name "\":%" PRIu64, d->m.st.name);
	RELAY_COUNTERS(X)
#undef X
	n += snprintf(buf + n, cap - (size_t)n, "}\n");
	return n;
}

static void collect_ring_drops(struct relay *R)
{
	for (int k = 0; k < 2; k++)
		R->dir[k].m.st.rx_ring_drops += port_ring_drops(R->dir[k].in);
}

static void write_stats_file(struct relay *R)
{
	char buf[4096], tmp[4096];
	int n = format_stats(R, &R->dir[0], buf, sizeof(buf));
	n += format_stats(R, &R->dir[1], buf + n, sizeof(buf) - (size_t)n);
	snprintf(tmp, sizeof(tmp), "%s.tmp", R->o.stats_file);
	FILE *f = fopen(tmp, "w");
	if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0 ||
	    rename(tmp, R->o.stats_file) != 0) {
		static bool warned;
		warn_once(&warned, "%s: cannot write the stats file: %s", R->o.stats_file,
			  strerror(errno));
	}
}

static void run(struct relay *R)
{
	struct pollfd pfd[3];
	uint64_t t0 = R->t0 = now_ns();
	uint64_t stats_every = (uint64_t)(R->o.stats_interval * 1e9);
	uint64_t next_stats = t0 + stats_every;
	uint64_t end = R->o.duration ? t0 + (uint64_t)(R->o.duration * 1e9) : UINT64_MAX;

	while (!stop_flag) {
		uint64_t now = now_ns();
		int work = 0;
		for (int k = 0; k < 2; k++)
			work += rx_burst(R, &R->dir[k], now);
		if (work)
			now = now_ns();
		for (int k = 0; k < 2; k++)
			work += tx_due(R, &R->dir[k], now);
		if (now >= next_stats) {
			collect_ring_drops(R);
			if (R->o.stats_file)
				write_stats_file(R);
			next_stats = now + stats_every;
		}
		if (now >= end)
			break;
		if (work)
			continue;

		uint64_t deadline = end;
		if (R->o.stats_file && next_stats < deadline)
			deadline = next_stats;
		for (int k = 0; k < 2; k++) {
			struct dir *d = &R->dir[k];
			if (d->out->tx_blocked)
				continue;
			uint64_t t = d->npending ? now : imp_next_departure(&d->m, &R->pool);
			if (t < deadline)
				deadline = t;
		}
		for (int k = 0; k < 2; k++) {
			pfd[k].fd = R->port[k].fd;
			pfd[k].events = POLLIN | (R->port[k].tx_blocked ? POLLOUT : 0);
			pfd[k].revents = 0;
		}
		pfd[2] = (struct pollfd){.fd = R->stop_fd, .events = POLLIN};
		struct timespec ts, *tsp = NULL;
		if (deadline != UINT64_MAX) {
			uint64_t w = deadline > now ? deadline - now : 0;
			ts.tv_sec = (time_t)(w / 1000000000u);
			ts.tv_nsec = (long)(w % 1000000000u);
			tsp = &ts;
		}
		if (ppoll(pfd, 3, tsp, NULL) < 0 && errno != EINTR)
			die("ppoll: %s", strerror(errno));
		for (int k = 0; k < 2; k++)
			if (pfd[k].revents & (POLLOUT | POLLERR))
				R->port[k].tx_blocked = false;
	}
}

int main(int argc, char **argv)
{
	static struct relay R;
	parse_opts(argc, argv, &R.o);
	struct imp_cfg cfg[2];
	size_t ri = dopt_index("rate");
	bool any_rate = R.o.dir[0].u[ri] || R.o.dir[1].u[ri];
	to_cfg(&R.o.dir[0], "ab", any_rate, &cfg[0]);
	to_cfg(&R.o.dir[1], "ba", any_rate, &cfg[1]);

	for (int k = 0; k < 2; k++)
		port_probe(&R.port[k], R.o.ifname[k]);
	unsigned mtu = R.port[0].mtu > R.port[1].mtu ? R.port[0].mtu : R.port[1].mtu;
	uint32_t frame_cap = mtu + 14 + VLAN_ROOM;
	for (int k = 0; k < 2; k++) {
		if (cfg[k].limit_bytes && cfg[k].limit_bytes < frame_cap)
			die("direction %s: --limit-bytes %" PRIu64
			    " is below one frame (%u bytes at MTU %u)",
			    k ? "ba" : "ab", cfg[k].limit_bytes, frame_cap, mtu);
		port_open(&R.port[k], frame_cap, R.o.ring_frames);
		if (R.port[k].is_veth && !R.o.no_xdp) {
			int err = port_xdp_pass(&R.port[k]);
			if (err)
				fprintf(stderr,
					PROG
					": warning: %s: cannot attach the pass-through XDP "
					"program (%s): frames sent from several CPUs may arrive "
					"reordered\n",
					R.port[k].name, strerror(-err));
		}
	}
	if (imp_pool_init(&R.pool, R.o.max_frames, align_up(frame_cap, 64)) < 0)
		die("cannot allocate a pool of %u frames of %u bytes", R.o.max_frames,
		    align_up(frame_cap, 64));
	R.scratch = malloc(frame_cap);
	if (!R.scratch)
		die("out of memory");
	for (int k = 0; k < 2; k++) {
		struct dir *d = &R.dir[k];
		d->label = k ? "ba" : "ab";
		d->in = &R.port[k];
		d->out = &R.port[1 - k];
		/* Each direction its own streams: a->b's decisions never depend on b->a. */
		if (imp_dir_init(&d->m, &cfg[k], R.o.max_frames, R.o.seed * 2 + (uint64_t)k) < 0)
			die("out of memory for the queues");
	}

	/* The handler only raises a flag and wakes ppoll through the eventfd. */
	stop_efd = R.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (R.stop_fd < 0)
		die("eventfd: %s", strerror(errno));
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Wake-ups to the nanosecond asked, not 50 us later (the default timer slack). */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	fprintf(stderr,
		PROG ": relaying %s <-> %s (MTU %u, pool %u frames of %zu bytes, seed %" PRIu64
		     ")\n",
		R.port[0].name, R.port[1].name, mtu, R.pool.n, R.pool.frame_size, R.o.seed);
	run(&R);

	collect_ring_drops(&R);
	for (int k = 0; k < 2; k++) {
		struct dir *d = &R.dir[k];
		for (uint32_t i = 0; i < d->npending; i++) {
			d->m.st.dropped_exit++;
			imp_release(&d->m, &R.pool, d->pending[i]);
		}
		d->npending = 0;
		imp_drain(&d->m, &R.pool);
	}
	if (R.o.stats_file)
		write_stats_file(&R);
	char buf[2048];
	for (int k = 0; k < 2; k++) {
		format_stats(&R, &R.dir[k], buf, sizeof(buf));
		fputs(buf, stdout);
	}
	fflush(stdout);
	for (int k = 0; k < 2; k++) {
		imp_dir_free(&R.dir[k].m);
		munmap(R.port[k].ring, R.port[k].ring_len);
		close(R.port[k].fd);
		if (R.port[k].xdp_link >= 0)
			close(R.port[k].xdp_link);
	}
	imp_pool_free(&R.pool);
	free(R.scratch);
	return 0;
}
