/* Counter names, error strings, address text and the clock: small things everyone uses. */
#include "sluice/errors.h"
#include "sluice/ip.h"
#include "sluice/stats.h"
#include "sluice/stack.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const stat_names[] = {
#define X(name, drop, desc) #name,
    SL_STATS(X)
#undef X
};
static const char *const stat_descs[] = {
#define X(name, drop, desc) desc,
    SL_STATS(X)
#undef X
};
static const unsigned char stat_drop[] = {
#define X(name, drop, desc) drop,
    SL_STATS(X)
#undef X
};

const char *sl_stat_name(unsigned i)
{
	return i < SL_STAT_N ? stat_names[i] : "?";
}

const char *sl_stat_desc(unsigned i)
{
	return i < SL_STAT_N ? stat_descs[i] : "?";
}

int sl_stat_is_drop(unsigned i)
{
	return i < SL_STAT_N ? stat_drop[i] : 0;
}

int sl_stats_path(const char *ifname, unsigned queue, char *buf, unsigned long len)
{
	struct stat sb;
	if (stat("/proc/self/ns/net", &sb) < 0)
		return -errno;
	int n = snprintf(buf, len, "/run/sluice/%lu/%s/q%u.stats", (unsigned long)sb.st_ino, ifname,
			 queue);
	return n < 0 || (unsigned long)n >= len ? -ENAMETOOLONG : 0;
}

int sl_conns_path(const char *ifname, unsigned queue, char *buf, unsigned long len)
{
	int err = sl_stats_path(ifname, queue, buf, len);
	if (err)
		return err;
	size_t n = strlen(buf);
	if (n < 6 || strcmp(buf + n - 6, ".stats"))
		return -EINVAL;
	if (n + 1 > len)
		return -ENAMETOOLONG;
	memcpy(buf + n - 6, ".conns", 7);
	return 0;
}

const char *sl_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case EMSGSIZE:
		return "message exceeds the MTU";
	case ENETUNREACH:
		return "no route to destination";
	case ETIMEDOUT:
		return "timed out";
	case ENOBUFS:
		return "no free frame or queue space";
	case ENOSPC:
		return "table full";
	default:
		return strerror(err);
	}
}

int sl_ip_parse(const char *s, sl_ip *out)
{
	struct in_addr a4;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		*out = sl_ip_v4(ntohl(a4.s_addr));
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->b) == 1)
		return 0;
	return -EINVAL;
}

const char *sl_ip_str(const sl_ip *a, char *buf, size_t len)
{
	if (sl_ip_is_v4(a)) {
		uint32_t v = sl_ip_to_v4(a);
		snprintf(buf, len, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255,
			 v & 255);
	} else if (!inet_ntop(AF_INET6, a->b, buf, (socklen_t)len)) {
		snprintf(buf, len, "?");
	}
	return buf;
}

uint64_t sl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
