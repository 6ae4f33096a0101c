/*
 * Shared pieces of the `sluice` command-line tool: the command entry points, argument
 * parsing, address parsing/printing, privilege and device checks, JSON and error output.
 *
 * Conventions every command follows:
 *  - cmd_X(argc, argv) gets argv[0] == "X" and returns the process exit status:
 *    CLI_EXIT_OK, CLI_EXIT_FAIL (runtime error) or CLI_EXIT_USAGE (bad arguments);
 *  - cmd_X_usage(f) prints the command's full help ("sluice help X", "sluice X --help");
 *  - errors are one line on stderr starting with "sluice: " (cli_err);
 *  - results go to stdout; --json makes that exactly one JSON object.
 */
#ifndef SLUICE_TOOLS_CLI_H
#define SLUICE_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1	 /* runtime error: no device, not root, kernel refused ... */
#define CLI_EXIT_USAGE 2 /* unknown command/option, malformed or missing argument */

/* Commands (tools/cmd_gate.c, tools/cmd_run.c). */
int cmd_attach(int argc, char **argv);
void cmd_attach_usage(FILE *f);
int cmd_detach(int argc, char **argv);
void cmd_detach_usage(FILE *f);
int cmd_flow(int argc, char **argv);
void cmd_flow_usage(FILE *f);
int cmd_stats(int argc, char **argv);
void cmd_stats_usage(FILE *f);
int cmd_run(int argc, char **argv);
struct sl_stack_config;
/* Join the solicited-node group (RFC 4291 §2.7.1) of every IPv6 address of cfg on dev, so a
 * NIC that filters multicast delivers the Neighbor Solicitations for them; the returned socket
 * holds the memberships (close it to leave). -1 when there is nothing to join. */
int join_solicited(const char *dev, const struct sl_stack_config *cfg);
int cmd_exec(int argc, char **argv);
void cmd_exec_usage(FILE *f);
void cmd_run_usage(FILE *f);

/* "sluice: <message>\n" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of command cmd: "sluice: <message> (see: sluice help <cmd>)"; returns
 * CLI_EXIT_USAGE so callers can `return cli_usage_err(...)`. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Options of the form --name or --name VALUE / --name=VALUE, mixed freely with positional
 * arguments. value == NULL makes it a flag (sets *flag). "--" ends the options; "-h" and
 * "--help" anywhere ask for help. A word starting with '-' and a digit is positional
 * (so "port -1" reports a bad port rather than an unknown option).
 */
struct cli_opt {
	const char *name; /* including the dashes: "--json" */
	const char **value;
	bool *flag;
};
/* A repeatable option: each value goes to values[(*count)++], at most max of them. */
struct cli_multi {
	const char *name;
	const char **values;
	int max;
	int *count;
};
#define CLI_HELP 1
/* Returns 0, CLI_HELP, or -EINVAL after printing a usage error. pos receives at most
 * maxpos positional arguments (more is a usage error), *npos their count. */
int cli_getopts(const char *cmd, int argc, char **argv, const struct cli_opt *opts, char **pos,
		int maxpos, int *npos);
/* The same with repeatable options (multi ends with a NULL name; may be NULL). */
int cli_getopts_multi(const char *cmd, int argc, char **argv, const struct cli_opt *opts,
		      const struct cli_multi *multi, char **pos, int maxpos, int *npos);

/* Dotted-quad IPv4 (stored IPv4-mapped, ::ffff:a.b.c.d) or IPv6 text. -EINVAL otherwise. */
int cli_parse_addr(const char *s, uint8_t out[16]);
/* "ADDR/LEN": LEN is 0..32 for IPv4 (IPv4 terms, not mapped) and 0..128 for IPv6; the
 * length is required. -EINVAL otherwise. */
int cli_parse_prefix(const char *s, uint8_t out[16], int *plen);
/* Decimal 0..max without sign, spaces or junk. -EINVAL if malformed, -ERANGE if > max. */
int cli_parse_u32(const char *s, uint32_t max, uint32_t *out);
/* IPv4-mapped addresses print as a dotted quad, others as IPv6 text. */
void cli_addr_str(const uint8_t a[16], char *buf, size_t len);
bool cli_addr_is_v4(const uint8_t a[16]);
/* A gateway must be a unicast host (RFC 1122 §3.3.1.1, RFC 4291 §2.7): not 0/8, 127/8,
 * multicast or class E (the limited broadcast among them); not ::, ::1 or ff00::/8. */
bool cli_unicast_gw(const uint8_t a[16]);

/* 0 when we may use XDP and BPF (euid 0, or CAP_NET_ADMIN + CAP_BPF + CAP_SYS_ADMIN);
 * otherwise prints "must run as root ..." and returns -EPERM. */
int cli_need_root(void);

struct sl_gate;
struct sl_rule;
/* sl_gate_rule_add, and when an equal rule exists (-EEXIST: left by a run that was killed)
 * adopt it: r->id becomes its id, so the caller removes it at the end. 0 or -errno. */
int cli_rule_add_or_adopt(struct sl_gate *g, struct sl_rule *r);
/* 0 when dev names an interface in this network namespace; otherwise prints
 * "no such device: DEV" and returns -ENODEV. */
int cli_check_dev(const char *dev);

/* s as a JSON string literal, quotes included. */
/* mkdir -p of the directories leading to the file path (not the file). 0 or -errno. */
int cli_mkdir_parents(const char *path);

void cli_json_str(FILE *f, const char *s);

#endif
