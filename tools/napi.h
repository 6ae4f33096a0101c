/*
 * The per-device NAPI settings `sluice run` may change for the length of a run and must put
 * back: napi_defer_hard_irqs and gro_flush_timeout (kernel Documentation/networking/napi.rst,
 * "Software IRQ coalescing", "IRQ mitigation"; the sysfs files of
 * Documentation/ABI/testing/sysfs-class-net).
 *
 * The files are reached through a sysfs instance of the caller's network namespace, mounted
 * detached (fsopen/fsmount: no mount appears anywhere), because `nsenter --net` keeps the
 * host's /sys, whose class/net lists the host's interfaces: a same-named interface there is
 * another device. Only when that is refused is /sys used, and then only if its class/net lists
 * exactly this namespace's interfaces.
 *
 * What a run changed is also written down (napi.saved beside the stats files), so a run killed
 * with SIGKILL, which cannot restore anything, leaves the next run the values to restore.
 */
#ifndef SLUICE_TOOLS_NAPI_H
#define SLUICE_TOOLS_NAPI_H

#include <stdbool.h>
#include <stddef.h>

enum { NAPI_DEFER_HARD_IRQS, NAPI_GRO_FLUSH_TIMEOUT, NAPI_N };

struct napi_settings {
	bool open; /* napi_open succeeded (or is under way) */
	char dev[32];
	int mnt_fd;		   /* the detached sysfs, or -1 when /sys is used */
	int dir_fd;		   /* class/net/DEV */
	long long want[NAPI_N];	   /* -1: leave as it is */
	long long old[NAPI_N];	   /* the value before the run (restored at the end) */
	long long now[NAPI_N];	   /* the value during the run (read back) */
	bool changed[NAPI_N];	   /* written by this run: to restore */
	long long now_run[NAPI_N]; /* for reports after napi_restore: now[] during the run */
	bool set_run[NAPI_N];	   /* and changed[] */
	char saved_path[256];	   /* the record of old[]; empty when none was written */
};

/* The file names, "napi_defer_hard_irqs" and "gro_flush_timeout". */
const char *napi_name(int which);

/* Open DEV's sysfs directory and read both values into now[] (nothing is changed). 0, or
 * -errno with a one-line reason in why. */
int napi_open(struct napi_settings *ns, const char *dev, char *why, size_t whylen);
/* Put back what a run that died left changed (its record), then write want[] (those not -1),
 * remembering the previous values; on failure nothing stays changed. -EBUSY when want[] asks
 * for a change while another live run holds the settings. 0, or -errno with a one-line reason
 * in why. */
int napi_apply(struct napi_settings *ns, char *why, size_t whylen);
/* Put back what napi_apply changed (a warning on stderr for what cannot be), and close. Safe to
 * call on a zeroed or closed struct, and twice. */
void napi_restore(struct napi_settings *ns);

#endif
