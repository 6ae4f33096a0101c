/*
 * `sluice exec DEV --addr ADDR/LEN [--addr ...] [--gw ADDR] [--queue Q] [--mode M] -- PROGRAM
 * ARGS...`: run an unmodified program on a sluice stack. This process attaches the gate,
 * claims the addresses (owned-address rules), and runs PROGRAM with the LD_PRELOAD shim
 * (tools/preload/preload.c), which opens the AF_XDP socket and the stack inside PROGRAM. It
 * forwards SIGINT, SIGTERM and SIGHUP, waits, removes the rules, and exits with PROGRAM's
 * status (128 + N when signal N ended it).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli.h"
#include "sluice/sluice.h"

#ifndef SLUICE_PRELOAD_INSTALLED
#define SLUICE_PRELOAD_INSTALLED "/usr/local/lib/sluice/libsluice-preload.so"
#endif

void cmd_exec_usage(FILE *f)
{
	fprintf(f,
		"usage: sluice exec DEV --addr ADDR/LEN [--addr ...] [--gw ADDR] [--gw ADDR6]\n"
		"                   [--queue Q] [--mode native|generic] [--eager] -- PROGRAM [ARGS...]\n"
		"\n"
		"Run PROGRAM unmodified with its IPv4/IPv6 TCP and UDP sockets on a sluice stack\n"
		"owning each ADDR on queue Q (default 0) of DEV; every other descriptor stays the\n"
		"kernel's. Attaches the gate if needed and installs an owned-address rule per ADDR\n"
		"for as long as PROGRAM runs; SIGINT, SIGTERM and SIGHUP are passed on to it. Exit\n"
		"status: PROGRAM's (128+N when signal N ended it), 127 when it cannot be run, 1\n"
		"when the stack cannot start, 2 for a usage error. Single-process, single-threaded\n"
		"event loops are supported (fork() with sluice sockets open is refused); see\n"
		"sluice(8), EXEC.\n"
		"\n"
		"  --addr ADDR/LEN   an address of the stack and its on-link prefix length\n"
		"  --gw ADDR         default gateway (once per family)\n"
		"  --queue Q         RX queue to serve (default 0)\n"
		"  --mode M          XDP mode when attaching: native (default) or generic\n"
		"  --eager           every socket call polls the stack and a send leaves at once,\n"
		"                    as the kernel's do (default: an event loop's output leaves\n"
		"                    at its next wait, one TX kick per round)\n");
}

/* The shim: beside this binary (a build tree), else where `make install` put it. */
static int find_preload(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(out, len, "%s/libsluice-preload.so", self);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
	snprintf(out, len, "%s", SLUICE_PRELOAD_INSTALLED);
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

static volatile sig_atomic_t child_pid;

/* Pass on a signal sent to this process. One the terminal sends (Ctrl-C: si_code
 * SI_KERNEL) reaches PROGRAM too, being in the same process group: passing it on would
 * deliver it twice (a second SIGINT makes some servers, redis, quit at once). */
static void forward(int sig, siginfo_t *si, void *ctx)
{
	if (child_pid > 0 && (!si || si->si_code == SI_USER || si->si_code == SI_QUEUE ||
			      si->si_code == SI_TKILL))
		kill((pid_t)child_pid, sig);
}

int cmd_exec(int argc, char **argv)
{
	int dash = -1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	const char *addr_v[2 * SL_MAX_ADDRS], *gw_v[2];
	int n_addr = 0, n_gw = 0;
	const char *queue_s = NULL, *mode_s = NULL;
	bool eager = false;
	const struct cli_opt opts[] = {
	    {"--queue", &queue_s, NULL},
	    {"--mode", &mode_s, NULL},
	    {"--eager", NULL, &eager},
	    {NULL, NULL, NULL},
	};
	const struct cli_multi multi[] = {
	    {"--addr", addr_v, 2 * SL_MAX_ADDRS, &n_addr},
	    {"--gw", gw_v, 2, &n_gw},
	    {NULL, NULL, 0, NULL},
	};
	char *pos[1];
	int npos = 0;
	int r = cli_getopts_multi("exec", dash < 0 ? argc : dash, argv, opts, multi, pos, 1, &npos);
	if (r == CLI_HELP) {
		cmd_exec_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (r < 0)
		return CLI_EXIT_USAGE;
	if (npos != 1)
		return cli_usage_err("exec", "missing DEV");
	if (dash < 0 || dash + 1 >= argc)
		return cli_usage_err("exec", "missing -- PROGRAM [ARGS...]");
	if (!n_addr)
		return cli_usage_err("exec", "missing --addr ADDR/LEN");
	const char *dev = pos[0];
	uint32_t queue = 0;
	if (queue_s && cli_parse_u32(queue_s, 63, &queue) < 0)
		return cli_usage_err("exec", "queue must be 0..63: %s", queue_s);
	enum sl_gate_mode mode = SL_GATE_MODE_AUTO;
	if (mode_s && !strcmp(mode_s, "generic"))
		mode = SL_GATE_MODE_GENERIC;
	else if (mode_s && strcmp(mode_s, "native"))
		return cli_usage_err("exec", "mode must be native or generic: %s", mode_s);

	char addrs[1024] = "", gws[256] = "";
	uint8_t a[SL_MAX_ADDRS * 2][16];
	for (int i = 0; i < n_addr; i++) {
		int plen;
		if (cli_parse_prefix(addr_v[i], a[i], &plen) < 0)
			return cli_usage_err("exec", "malformed address/prefix: %s", addr_v[i]);
		if (i >= SL_MAX_ADDRS)
			return cli_usage_err("exec", "at most %d addresses", SL_MAX_ADDRS);
		snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s", i ? "," : "",
			 addr_v[i]);
	}
	for (int i = 0; i < n_gw; i++) {
		uint8_t g[16];
		if (cli_parse_addr(gw_v[i], g) < 0)
			return cli_usage_err("exec", "malformed gateway address: %s", gw_v[i]);
		if (!cli_unicast_gw(g))
			return cli_usage_err("exec", "not a unicast gateway address: %s", gw_v[i]);
		snprintf(gws + strlen(gws), sizeof(gws) - strlen(gws), "%s%s", i ? "," : "", gw_v[i]);
	}
	char preload[PATH_MAX];
	if (find_preload(preload, sizeof(preload)) < 0) {
		cli_err("cannot find libsluice-preload.so (beside the sluice binary or at %s)",
			SLUICE_PRELOAD_INSTALLED);
		return CLI_EXIT_FAIL;
	}
	if (cli_check_dev(dev) < 0 || cli_need_root() < 0)
		return CLI_EXIT_FAIL;

	enum sl_gate_mode used = SL_GATE_MODE_NATIVE;
	int err = sl_gate_attach(dev, mode, &used);
	if (err) {
		cli_err("cannot attach the gate to %s: %s", dev, sl_strerror(err));
		return CLI_EXIT_FAIL;
	}
	struct sl_gate *g;
	if ((err = sl_gate_open(dev, &g)) < 0) {
		cli_err("cannot open the gate's maps for %s: %s", dev, sl_strerror(err));
		return CLI_EXIT_FAIL;
	}
	uint32_t ids[SL_MAX_ADDRS];
	int n_rules = 0, status = CLI_EXIT_FAIL;
	for (int i = 0; i < n_addr; i++) {
		struct sl_rule rule = {.kind = SL_RULE_OWNED, .queue = -1};
		memcpy(rule.addr, a[i], 16);
		err = cli_rule_add_or_adopt(g, &rule); /* a killed run's: ours to remove */
		if (err) {
			cli_err("cannot add the owned-address rule for %s: %s", addr_v[i],
				sl_strerror(err));
			goto out;
		}
		ids[n_rules++] = rule.id;
	}

	/* A NIC filters multicast: the Neighbor Solicitations for our IPv6 addresses reach the
	 * gate only when the interface has joined their solicited-node groups (held until the
	 * program ends). */
	struct sl_stack_config jc;
	sl_stack_config_init(&jc);
	for (int i = 0; i < n_addr && jc.n_addrs < SL_MAX_ADDRS; i++)
		if (!cli_addr_is_v4(a[i]))
			memcpy(jc.addrs[jc.n_addrs++].addr.b, a[i], 16);
	int mcast_fd = jc.n_addrs ? join_solicited(dev, &jc) : -1;
	char qbuf[16], ldp[PATH_MAX + 256];
	snprintf(qbuf, sizeof(qbuf), "%u", queue);
	const char *old = getenv("LD_PRELOAD");
	snprintf(ldp, sizeof(ldp), "%s%s%s", preload, old && *old ? ":" : "", old ? old : "");
	struct sigaction sa = {.sa_sigaction = forward, .sa_flags = SA_SIGINFO};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_err("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (mcast_fd >= 0)
			close(mcast_fd);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setenv("SLUICE_EXEC_DEV", dev, 1);
		setenv("SLUICE_EXEC_ADDRS", addrs, 1);
		setenv("SLUICE_EXEC_QUEUE", qbuf, 1);
		if (gws[0])
			setenv("SLUICE_EXEC_GW", gws, 1);
		if (used == SL_GATE_MODE_GENERIC)
			setenv("SLUICE_EXEC_GENERIC", "1", 1);
		if (eager)
			setenv("SLUICE_EXEC_EAGER", "1", 1);
		setenv("LD_PRELOAD", ldp, 1);
		execvp(argv[dash + 1], argv + dash + 1);
		fprintf(stderr, "sluice: cannot run %s: %s\n", argv[dash + 1], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	int ws;
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			cli_err("waitpid: %s", strerror(errno));
			goto out;
		}
	}
	status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (mcast_fd >= 0)
		close(mcast_fd);
out:
	for (int i = 0; i < n_rules; i++)
		if (sl_gate_rule_del(g, ids[i]) < 0)
			cli_err("could not remove flow %u", ids[i]);
	sl_gate_close(g);
	return status;
}
