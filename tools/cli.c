// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Helpers shared by the sluice CLI commands (see cli.h for the conventions). */
#include <ctype.h>
#include "sluice/gate.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "cli.h"

#ifndef CAP_BPF
#define CAP_BPF 39 /* Linux 5.8 */
#endif

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, " (see: sluice help %s)\n", cmd);
	else
		fputs(" (see: sluice --help)\n", stderr);
	return CLI_EXIT_USAGE;
}

static bool is_option(const char *a)
{
	return a[0] == '-' && a[1] != '\0' && !isdigit((unsigned char)a[1]);
}

int cli_getopts(const char *cmd, int argc, char **argv, const struct cli_opt *opts, char **pos,
		int maxpos, int *npos)
{
	return cli_getopts_multi(cmd, argc, argv, opts, NULL, pos, maxpos, npos);
}

int cli_getopts_multi(const char *cmd, int argc, char **argv, const struct cli_opt *opts,
		      const struct cli_multi *multi, char **pos, int maxpos, int *npos)
{
	bool only_pos = false;
	int i;

	*npos = 0;
	/* Help wins over every other problem on the line. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return CLI_HELP;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_opt *o;
		const char *eq;
		size_t n;

		if (only_pos || !is_option(a)) {
			if (*npos == maxpos) {
				cli_usage_err(cmd, "unexpected argument '%s'", a);
				return -EINVAL;
			}
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a) : strlen(a);
		const struct cli_multi *m;
		for (m = multi; m && m->name; m++)
			if (strlen(m->name) == n && !strncmp(m->name, a, n))
				break;
		if (m && m->name) {
			const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!v) {
				cli_usage_err(cmd, "option %s needs a value", m->name);
				return -EINVAL;
			}
			if (*m->count == m->max) {
				cli_usage_err(cmd, "option %s given more than %d times", m->name,
					      m->max);
				return -EINVAL;
			}
			m->values[(*m->count)++] = v;
			continue;
		}
		for (o = opts; o && o->name; o++)
			if (strlen(o->name) == n && !strncmp(o->name, a, n))
				break;
		if (!o || !o->name) {
			cli_usage_err(cmd, "unknown option '%.*s'", (int)n, a);
			return -EINVAL;
		}
		if (!o->value) {
			if (eq) {
				cli_usage_err(cmd, "option %s takes no value", o->name);
				return -EINVAL;
			}
			*o->flag = true;
			continue;
		}
		if (eq) {
			*o->value = eq + 1;
		} else if (i + 1 < argc) {
			*o->value = argv[++i];
		} else {
			cli_usage_err(cmd, "option %s needs a value", o->name);
			return -EINVAL;
		}
	}
	return 0;
}

int cli_parse_addr(const char *s, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		/* RFC 4291 §2.5.5.2 IPv4-mapped: the form the gate's maps use. */
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return 0;
	return -EINVAL;
}

bool cli_addr_is_v4(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return !memcmp(a, pfx, sizeof(pfx));
}

bool cli_unicast_gw(const uint8_t a[16])
{
	static const uint8_t zero[15];
	if (cli_addr_is_v4(a))
		return a[12] != 0 && a[12] != 127 && a[12] < 224;
	return a[0] != 0xff && (memcmp(a, zero, 15) || (a[15] != 0 && a[15] != 1));
}

int cli_parse_prefix(const char *s, uint8_t out[16], int *plen)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	uint32_t len;
	size_t n;

	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (cli_parse_addr(buf, out))
		return -EINVAL;
	if (cli_parse_u32(slash + 1, cli_addr_is_v4(out) ? 32 : 128, &len))
		return -EINVAL;
	*plen = (int)len;
	return 0;
}

int cli_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept leading spaces, a sign and hex; we want plain decimal. */
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

void cli_addr_str(const uint8_t a[16], char *buf, size_t len)
{
	const char *r;

	if (cli_addr_is_v4(a))
		r = inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		r = inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	if (!r && len)
		buf[0] = '\0';
}

int cli_rule_add_or_adopt(struct sl_gate *g, struct sl_rule *r)
{
	int err = sl_gate_rule_add(g, r);
	if (err != -EEXIST)
		return err;
	/* Every rule the gate can hold (ids 1..4095), not a first page of them: the leftover
	 * rule to adopt may be any of them. */
	enum { MAX_RULES = 4095 };
	struct sl_rule *rules = calloc(MAX_RULES, sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	int n = sl_gate_rule_list(g, rules, MAX_RULES);
	for (int i = 0; i < n; i++) {
		const struct sl_rule *o = &rules[i];
		bool same = o->kind == r->kind && !memcmp(o->addr, r->addr, 16) &&
			    (r->kind == SL_RULE_OWNED ||
			     (o->proto == r->proto && o->port == r->port && o->has_addr == r->has_addr));
		if (same) {
			r->id = o->id;
			free(rules);
			return 0;
		}
	}
	free(rules);
	return -EEXIST;
}

int cli_need_root(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	static const int need[] = {CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN};
	unsigned i;

	if (geteuid() == 0)
		return 0;
	/* Without root, the effective capabilities must cover XDP attach (NET_ADMIN), map and
	 * program access (BPF) and looking programs up by id (SYS_ADMIN). */
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &hdr, d) == 0) {
		for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (!(d[need[i] / 32].effective & (1u << (need[i] % 32))))
				break;
		if (i == sizeof(need) / sizeof(need[0]))
			return 0;
	}
	cli_err("must run as root (CAP_NET_ADMIN and CAP_BPF)");
	return -EPERM;
}

int cli_check_dev(const char *dev)
{
	if (!dev || !*dev || strlen(dev) >= IF_NAMESIZE || !if_nametoindex(dev)) {
		cli_err("no such device: %s", dev ? dev : "");
		return -ENODEV;
	}
	return 0;
}

void cli_json_str(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			/* RFC 8259 §7: control characters must be escaped. */
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

int cli_mkdir_parents(const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}
