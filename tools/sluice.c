// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sluice: one binary, one table of commands. Exit status 0 on success, 1 for runtime
 * errors, 2 for usage errors (tools/cli.h).
 */
#include <string.h>

#include "cli.h"

#ifndef SLUICE_VERSION /* the Makefile passes the one in the file VERSION */
#define SLUICE_VERSION "unknown"
#endif

struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
};

static const struct command commands[] = {
    {"attach", "load the gate and attach it to a device", cmd_attach, cmd_attach_usage},
    {"detach", "detach the gate and remove its pinned maps", cmd_detach, cmd_detach_usage},
    {"flow", "add, delete and list steering rules", cmd_flow, cmd_flow_usage},
    {"stats", "show gate and stack counters", cmd_stats, cmd_stats_usage},
    {"run", "run the stack on one queue of a device", cmd_run, cmd_run_usage},
    {"exec", "run a program with its sockets on a sluice stack", cmd_exec, cmd_exec_usage},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	unsigned i;

	fputs("usage: sluice COMMAND [ARGS...]\n"
	      "       sluice help [COMMAND]\n"
	      "       sluice --version\n"
	      "\n"
	      "A user-space TCP/IP stack on AF_XDP. An XDP program (the gate) steers the\n"
	      "frames of selected addresses and ports to sluice; the kernel keeps the rest.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("  help     show the help of a command\n"
	      "\n"
	      "Run 'sluice help COMMAND' or 'sluice COMMAND --help' for details; see sluice(8).\n"
	      "Exit status: 0 success, 1 runtime error, 2 usage error.\n",
	      f);
}

static const struct command *find(const char *name)
{
	unsigned i;

	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_err(NULL, "help takes one command name");
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	c = find(argv[1]);
	if (!c)
		return cli_usage_err(NULL, "unknown command '%s'", argv[1]);
	c->usage(stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return help(1, argv + 1);
	if (!strcmp(argv[1], "help"))
		return help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version")) {
		if (argc > 2)
			return cli_usage_err(NULL, "--version takes no arguments");
		printf("sluice %s\n", SLUICE_VERSION);
		return CLI_EXIT_OK;
	}
	c = find(argv[1]);
	if (!c) {
		if (argv[1][0] == '-')
			return cli_usage_err(NULL, "unknown option '%s'", argv[1]);
		return cli_usage_err(NULL, "unknown command '%s'", argv[1]);
	}
	return c->run(argc - 1, argv + 1);
}
